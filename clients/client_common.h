/* client_common.h - the front shared by every boundary-case client (ec-echo, ec-flood,
 * ...): the common options (--target or --server, --timeout, --seed, --json,
 * --verbose, --help), the server started on port 0 through the engine's launcher, the
 * human and JSON result, the diagnosis, and the exit status (0 pass, 1 the server
 * misbehaved, 2 usage, 77 cannot run here). The I/O itself is the engine's steps.h.
 */
#ifndef EC_CLIENT_COMMON_H
#define EC_CLIENT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ec_framing.h"
#include "ec_log.h"
#include "ec_sock.h"
#include "diagnoses.h"
#include "server_launch.h"
#include "server_proc.h"
#include "steps.h"

/* Exit statuses of every client. */
#define EC_CLI_PASS       0
#define EC_CLI_MISBEHAVED 1
#define EC_CLI_USAGE      2
#define EC_CLI_CANNOT_RUN 77

#define EC_CLI_MAX_METRICS 48

/* One named figure of the result (JSON "metrics" object, and --verbose). */
struct ec_cli_metric {
    char key[32];
    int is_str;
    double num;
    char str[160];
};

/* A client run: what the user asked for, the server reached, and the result. */
struct ec_cli {
    /* Set by the client before parsing. */
    const char *prog;    /* "ec-echo" */
    const char *summary; /* one line: what the client shows */
    const char *options; /* help text of the client's own options */
    const char *example; /* one command line */
    int wants_framing;   /* the client accepts --framing (passed on to --server) */
    int default_timeout_ms;

    /* Common options. */
    const char *target;
    const char *server;
    int timeout_ms; /* as given (unscaled); see ec_cli_timeout() */
    uint64_t seed;
    int seed_set;
    int json;
    int verbose;
    const char *framing_spec; /* --framing as given, or "raw" */
    struct ec_framing framing;
    int framed;

    /* The server reached. */
    char host[64];
    unsigned port;
    char addr[80]; /* "A:P", or "[A]:P" for IPv6, for messages */
    struct ec_server_proc srv;
    int have_srv;
    char server_cmd[1024];

    /* The run. */
    struct ec_timeline tl;
    FILE *out; /* human output: stdout, or stderr under --json */
    char diagnosis[64];
    char expected[240];
    char actual[240];
    struct ec_cli_metric metrics[EC_CLI_MAX_METRICS];
    size_t nmetrics;
};

/* Prepares cli for a client named prog; the other descriptive fields are filled by
 * the caller before ec_cli_parse_common. */
void ec_cli_init(struct ec_cli *cli, const char *prog);

/* If argv[*i] is a common option (--target, --server, --timeout, --seed, --json,
 * --verbose, --help, and --framing when cli->wants_framing), consumes it (and its
 * value, advancing *i) and returns 1; returns 0 for any other argument. --help prints
 * the usage and exits 0; a bad value exits 2 with a message naming the option. */
int ec_cli_parse_common(struct ec_cli *cli, int argc, char **argv, int *i);

/* True when argument a is option name, alone or as "name=value". */
int ec_cli_is(const char *a, const char *name);

/* The value of option argv[*i] ("--x v" or "--x=v"), advancing *i past it. Exits 2
 * with "prog: --x: a value is required" when there is none. */
const char *ec_cli_value(struct ec_cli *cli, int argc, char **argv, int *i);

/* The value of option argv[*i] as an integer in [min, max] (decimal, with an optional
 * k/K or m/M suffix for 1024 and 1048576). Exits 2 naming the option otherwise. */
long long ec_cli_number(struct ec_cli *cli, int argc, char **argv, int *i, long long min,
                        long long max);

/* Prints "prog: <message>" and "try prog --help" on stderr and exits 2. */
_Noreturn void ec_cli_usage_error(struct ec_cli *cli, const char *fmt, ...) EC_PRINTF_LIKE(2, 3);

/* Checks the common options, starts the socket layer and the timeline, and reaches
 * the server: parses --target, or starts --server on port 0 (with --framing when
 * given) and reads its readiness line. Returns only on success; exits 2 on a usage
 * error or a server command that cannot start, 77 when the server says it cannot run
 * here (exit status 77 before its readiness line). */
void ec_cli_start(struct ec_cli *cli);

/* The client's timeout in ms, scaled by ECHOCONF_TIMEOUT_MULTIPLIER. */
int ec_cli_timeout(const struct ec_cli *cli);

/* An absolute deadline (ec_clock_ms clock) ms_unscaled from now, scaled. */
int64_t ec_cli_deadline(const struct ec_cli *cli, int ms_unscaled);

/* Milliseconds since the run started (the timeline's clock). */
double ec_cli_now_ms(const struct ec_cli *cli);

/* A human line on cli->out, prefixed with the time since the start. */
void ec_cli_say(struct ec_cli *cli, const char *fmt, ...) EC_PRINTF_LIKE(2, 3);

/* Records a figure for the JSON result (and prints it under --verbose). Metrics past
 * EC_CLI_MAX_METRICS are dropped. */
void ec_cli_metric(struct ec_cli *cli, const char *key, double value);
void ec_cli_metric_str(struct ec_cli *cli, const char *key, const char *value);

/* Records the diagnosis with its Expected / Actual evidence. Only the first call of a
 * run counts (the first fault is the cause; later ones are its consequences). */
void ec_cli_fail(struct ec_cli *cli, const char *diagnosis, const char *expected,
                 const char *actual_fmt, ...) EC_PRINTF_LIKE(4, 5);

/* True once a diagnosis was recorded. */
int ec_cli_failed(const struct ec_cli *cli);

/* Checks the echo of one stretch of connection c: the bytes c->recvd[from..from+len)
 * against c->sent[from..from+len), given rx, the outcome of the wait for them.
 * Returns 0 when all came back equal, else records the diagnosis and returns -1:
 * bytes that differ are echo-mismatch (frame-reassembly-error when framed), unless
 * the echo only lacks a stretch of bytes and goes on with later ones (bytes dropped,
 * truncated-echo); an orderly end before all bytes is truncated-echo
 * (lost-after-half-close once c half-closed); a reset is unexpected-reset (idem); a
 * deadline is stall. what names the stretch in the evidence ("message 2"). */
int ec_cli_check_echo(struct ec_cli *cli, const struct ec_conn *c, size_t from, size_t len,
                      enum ec_rx rx, const char *what);

/* Connects c to the server within the client's timeout. Returns 0, or the negative
 * class after recording connect-failed (refused, timed out, ...). */
int ec_cli_connect(struct ec_cli *cli, struct ec_conn *c);

/* Whether the server started by --server has died (waiting up to wait_ms for it);
 * writes "was killed by SIGPIPE" / "exited with status 3" into why. 0 with --target. */
int ec_cli_server_died(struct ec_cli *cli, int wait_ms, char *why, size_t whylen);

/* Encodes payload as one frame of cli->framing into a new buffer (*out, *outlen;
 * the caller frees it). Returns 0, or exits 2 naming --framing when the payload
 * cannot be framed (too long, contains the delimiter, wrong fixed length). */
void ec_cli_frame(struct ec_cli *cli, const unsigned char *payload, size_t len, unsigned char **out,
                  size_t *outlen);

/* Percentile p (0..100) of n sorted values (nearest rank). 0 when n is 0. */
double ec_cli_percentile(const double *sorted, size_t n, double p);

/* Sorts n doubles in place, ascending. */
void ec_cli_sort(double *v, size_t n);

/* Ends the run: notes a server that died on its own, prints the verdict (and the
 * timeline under --verbose, the server's log tail on failure), writes the JSON result
 * under --json, stops the server, and returns the exit status (0 or 1). */
int ec_cli_finish(struct ec_cli *cli);

/* Escapes bytes for a one-line human preview ("hello\n" -> "hello\\n"), at most max
 * input bytes ("..." after). Returns buf. */
const char *ec_cli_preview(const unsigned char *p, size_t n, size_t max, char *buf, size_t len);

#endif
