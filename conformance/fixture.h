/* fixture.h - the in-memory form of a fixture file (fixtures/<case>.json) and its
 * strict loader. The format is documented in fixtures/README.md; anything the loader
 * does not know (a step, a field, a regex PCRE2 rejects) is an error naming the file,
 * the JSON path and the reason.
 */
#ifndef EC_FIXTURE_H
#define EC_FIXTURE_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "diagnoses.h"
#include "ec_framing.h"
#include "steps.h"

#define EC_PATH_MAX 96

/* A payload as written in the fixture; bytes are produced per connection instance
 * (seeded patterns may differ per instance) by ec_payload_build(). */
struct ec_payload {
    enum { EC_PL_BYTES, EC_PL_REPEAT, EC_PL_PATTERN } kind;
    unsigned char *bytes; /* BYTES: the bytes; REPEAT: the unit */
    size_t len;           /* length of bytes */
    size_t size;          /* REPEAT, PATTERN: total size */
    uint64_t seed;        /* PATTERN */
    int per_instance;     /* PATTERN: mix the instance number into the seed */
    int frame;            /* encode the bytes as one frame of the fixture's framing */
};

/* The one table of step kinds, a row each: the kind (EC_ST_<KIND>), its JSON name,
 * the verdict path it belongs to (below), the fields it takes besides the common ones
 * (step, comment, deadline_ms, diagnosis, alternatives, after_server), the loader's function that
 * reads them (fixture.c) and the engine's function that runs the step (engine.c).
 * Adding a step kind is one row here and those two functions (fixtures/README.md);
 * each file expands the table with the columns it needs. */
#define EC_STEP_KINDS(X)                                                                           \
    X(CONNECT, "connect", DATA, "", parse_nothing, exec_connect)                                   \
    X(SEND, "send", DATA, "data payloads plan for_ms quiet_ms", parse_send, exec_send)             \
    X(FILL, "fill", DATA, "max settle_ms seed quiet_ms", parse_fill, exec_fill)                    \
    X(EXPECT, "expect", DATA, "echo data regex frames quiet_ms", parse_expect, exec_expect)        \
    X(RECVN, "recvn", DATA, "n echo", parse_recvn, exec_recvn)                                     \
    X(EXPECT_EOF, "expect_eof", CLOSE, "quiet_ms", parse_quiet, exec_end)                          \
    X(EXPECT_RESET, "expect_reset", CLOSE, "", parse_nothing, exec_end)                            \
    X(EXPECT_SILENCE, "expect_silence", DATA, "ms", parse_ms, exec_end)                            \
    X(SHUTDOWN_WR, "shutdown_wr", CLOSE, "", parse_nothing, exec_shutdown_wr)                      \
    X(CLOSE, "close", CLOSE, "", parse_nothing, exec_close)                                        \
    X(ABORT, "abort", CLOSE, "", parse_nothing, exec_abort)                                        \
    X(PAUSE, "pause", DATA, "ms quiet_ms", parse_ms, exec_pause)                                            \
    X(RCVBUF, "rcvbuf", DATA, "bytes", parse_bytes, exec_bufsize)                                  \
    X(SNDBUF, "sndbuf", DATA, "bytes", parse_bytes, exec_bufsize)                                  \
    X(STOP_READING, "stop_reading", DATA, "", parse_nothing, exec_reading)                         \
    X(RESUME_READING, "resume_reading", DATA, "", parse_nothing, exec_reading)                     \
    X(BARRIER, "barrier", DATA, "name wait_only", parse_barrier, exec_barrier)                     \
    X(HANDOFF, "handoff", DATA, "", parse_nothing, exec_handoff)                                   \
    X(OBSERVE, "observe", SERVER,                                                                  \
      "name fds_since max_fd_growth cpu_window_ms max_cpu_percent rss_since max_rss_growth_kib "   \
      "rss_per_thread_kib quiet_ms",                                                               \
      parse_observe, exec_observe)                                                                 \
    X(ROUND_TRIPS, "round_trips", DATA, "data count max_ms percentile", parse_round_trips,         \
      exec_round_trips)                                                                            \
    X(AWAIT_ACK, "await_ack", DATA, "", parse_nothing, exec_await_ack)                             \
    X(FREEZE_SERVER, "freeze_server", SERVER, "", parse_nothing, exec_freeze)                      \
    X(THAW_SERVER, "thaw_server", SERVER, "", parse_nothing, exec_freeze)

enum ec_step_kind {
#define EC_STEP_ENUM(kind, name, path, fields, parse, run) EC_ST_##kind,
    EC_STEP_KINDS(EC_STEP_ENUM)
#undef EC_STEP_ENUM
        EC_ST_COUNT
};

/* The JSON name of a step kind ("expect_eof"). */
const char *ec_step_name(enum ec_step_kind k);

/* Which verdict a step belongs to: the data path, the close path, or the server. */
enum ec_path { EC_PATH_DATA, EC_PATH_CLOSE, EC_PATH_SERVER };
enum ec_path ec_step_path(enum ec_step_kind k);

/* Outcome classes an alternative can name. */
enum ec_outcome {
    EC_OC_EOF,
    EC_OC_RESET,
    EC_OC_TIMEOUT,
    EC_OC_DATA,
    EC_OC_REFUSED,
    EC_OC_MISMATCH
};

/* One acceptable outcome besides the step's own expectation. */
struct ec_alt {
    enum ec_outcome outcome;
    int nonstrict; /* graded PASS-NONSTRICT instead of PASS */
    int end;       /* the connection's script ends there (it was closed) */
};

#define EC_MAX_ALTS 4

enum ec_expect_kind { EC_EX_ECHO, EC_EX_DATA, EC_EX_REGEX, EC_EX_FRAMES };

/* "after_server": the server log event a step waits for, on its own connection,
 * before it acts (fixtures/README.md). */
enum ec_after {
    EC_AFTER_NONE,   /* act at once */
    EC_AFTER_ACCEPT, /* the server accepted this connection */
    EC_AFTER_RECV,   /* it received every byte sent so far (or after_bytes in total) */
    EC_AFTER_SEND,   /* it sent at least one byte back (or after_bytes in total) */
    EC_AFTER_ECHO,   /* it sent back as many bytes as were sent so far */
    EC_AFTER_CLOSE   /* it closed this connection */
};

/* "accept", "recv", "send", "echo", "close" ("" for EC_AFTER_NONE). */
const char *ec_after_name(enum ec_after a);

struct ec_step {
    enum ec_step_kind kind;
    char path[EC_PATH_MAX]; /* "$.connections[0].steps[3]" */
    int deadline_ms;        /* 0: the default for the kind */
    char diagnosis[32];     /* what a timeout of this step means ("" = stall) */
    struct ec_alt alts[EC_MAX_ALTS];
    size_t nalts;
    enum ec_after after;   /* after_server: wait for this server event first */
    long long after_bytes; /* its "bytes" (recv, send), -1 = the default of the event */
    /* send */
    struct ec_payload *payloads;
    size_t npayloads;
    struct ec_write_plan plan;
    int plan_fixed; /* the boundary sweep leaves this plan alone */
    int for_ms;     /* repeat the payloads for this long */
    int quiet_ms; /* send, expect, expect_eof, observe: a stall is proven once the server was quiet
                   * this long while nothing moved (engine.c, "a quiet server"); fill: a refusal
                   * ends it only once the server was quiet this long; 0: no */
    /* expect */
    enum ec_expect_kind ex;
    long long echo_n;       /* EC_EX_ECHO: bytes, -1 = everything sent so far */
    struct ec_payload data; /* EC_EX_DATA */
    pcre2_code *re;         /* EC_EX_REGEX */
    char *re_src;
    size_t nframes; /* EC_EX_FRAMES: whole frames of echo */
    /* recvn */
    size_t n;
    int compare; /* recvn: compare with the echo */
    /* expect_silence, pause */
    int ms;
    /* fill */
    size_t max;
    int settle_ms;
    uint64_t seed;
    /* rcvbuf, sndbuf */
    int bytes;
    /* barrier, observe */
    char name[32];
    int wait_only; /* barrier: waits for the participants without being one */
    /* observe */
    char fd_since[32];
    int max_fd_growth; /* -1: no fd assertion */
    int cpu_window_ms;
    int max_cpu_percent;    /* -1: no cpu assertion */
    char rss_since[32];     /* observe: the observation resident memory is compared with */
    int max_rss_growth_kib; /* -1: no memory assertion */
    int rss_per_thread_kib; /* the bound grows by this per thread the server gained */
    /* round_trips: count messages (payloads[0]), each sent once its echo is back */
    int count;
    int max_ms;     /* the bound on the round trip at percentile (scaled) */
    int percentile; /* 1..100, default 99 */
};

/* A connection script, run by spawn instances at once (or one after another when
 * serial). */
struct ec_group {
    char name[24];
    char path[EC_PATH_MAX];
    int spawn;
    int serial;             /* instance i starts when instance i-1 reached handoff or ended */
    int stop_after_failure; /* instances after a failed one do not run */
    char on_fail[32];       /* "capacity-limit": a failure means the model's capacity */
    struct ec_step *steps;
    size_t nsteps;
};

struct ec_logexp {
    char *src;
    pcre2_code *re;
    char path[EC_PATH_MAX];
};

struct ec_fixture {
    char *file;
    char name[64];
    char *requirement;
    int should;              /* the requirement starts with "SHOULD" (RFC 2119) */
    char **should_diagnoses; /* SHOULD-level: the failures that only miss the SHOULD */
    size_t nshould_diagnoses;
    char **tags;
    size_t ntags;
    char framing_spec[40];
    struct ec_framing framing;
    char **server_args;
    size_t nserver_args;
    int budget_ms;
    int sweep;
    int rlimit_nofile; /* 0: leave the server's limit alone */
    int needs_server;  /* requires: "server" (cannot run against --target) */
    int needs_fds;     /* requires: "fds" (descriptor counts are the point) */
    int needs_cpu;     /* requires: "cpu" (CPU time is the point) */
    struct ec_group *groups;
    size_t ngroups;
    struct ec_logexp *log;
    size_t nlog;
};

/* Loads and validates a fixture. Returns 0 and fills fx, or -1 with a message
 * "file: $.path: reason" in err. */
int ec_fixture_load(const char *file, struct ec_fixture *fx, char *err, size_t errlen);

/* The same for text[0..len) (NUL-terminated at text[len]) read from file, which only
 * names it: in messages and for the rule that $.name is the file's base name. A NUL
 * byte inside the text is refused. */
int ec_fixture_parse(const char *file, const char *text, size_t len, struct ec_fixture *fx,
                     char *err, size_t errlen);

/* Releases everything ec_fixture_load allocated. */
void ec_fixture_free(struct ec_fixture *fx);

/* Produces the bytes of pl for connection instance inst: a malloc'ed buffer in *out
 * and its length in *len. Returns 0 or -1 (out of memory, or a frame the framing
 * cannot encode). */
int ec_payload_build(const struct ec_payload *pl, const struct ec_framing *f, int inst,
                     unsigned char **out, size_t *len);

#endif
