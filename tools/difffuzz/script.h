/* script.h - the client scripts of `echoconf fuzz`: a small intermediate form that is
 * valid by construction, its seeded generator, the fixture it renders to, and the
 * reductions the shrinker tries.
 *
 * Only steps whose outcome RFC 862 defines for an echo server are generated: every
 * byte sent comes back in order; after the client's half-close the owed echo, then
 * the server's close; a client that closes or resets ends its connection and the
 * server must go on serving the others. Rendering keeps scripts well-formed whatever
 * the shrinker removed: an expectation takes only what is owed, a client that stopped
 * reading resumes before it would have more than EC_FZ_UNREAD_MAX bytes unread (so no
 * script deadlocks itself against flow control), and every connection ends explicitly
 * (so a server that serves one client at a time moves on).
 */
#ifndef EC_DIFFFUZZ_SCRIPT_H
#define EC_DIFFFUZZ_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#define EC_FZ_MAX_CONNS   8
#define EC_FZ_MAX_ACTS    12
#define EC_FZ_MAX_PAYLOAD (256 * 1024)
#define EC_FZ_UNREAD_MAX  (32 * 1024) /* bytes left unread while not reading */

/* One action of a connection, between its connect and its end. */
enum ec_fz_act_kind {
    FZ_SEND,         /* size bytes of seeded pattern by a write plan */
    FZ_EXPECT,       /* the echo owed so far (n = -1) or the next n bytes of it */
    FZ_PAUSE,        /* ms, still draining if reading */
    FZ_STOP_READING, /* a slow reader from here */
    FZ_RESUME_READING,
    FZ_SYNC, /* a barrier with the other connections at once (the k-th of this
              * connection is "sync-k", so every connection meets them in one order) */
    FZ_FILL  /* stop reading and send until the kernel refuses more (a slow reader
              * whose buffers are full); the next send resumes reading first */
};

enum ec_fz_plan { FZP_ASIS, FZP_CHUNKS, FZP_BYTEWISE, FZP_RANDOM, FZP_SPLIT, FZP_COALESCE };

struct ec_fz_act {
    enum ec_fz_act_kind kind;
    size_t size;         /* SEND */
    enum ec_fz_plan plan; /* SEND */
    uint32_t pseed;      /* SEND: pattern seed; plan seed and chunk sizes derive from it */
    int gap_ms;          /* SEND: pause between send() calls */
    long long n;         /* EXPECT */
    int ms;              /* PAUSE */
};

/* How a connection ends. */
enum ec_fz_end {
    FZE_HALF_CLOSE, /* shutdown_wr, the owed echo, the server's FIN, close */
    FZE_CLOSE,      /* the owed echo, then close */
    FZE_CLOSE_NOW,  /* close with the echo perhaps still coming (a reset may follow) */
    FZE_ABORT,      /* reset (SO_LINGER {1, 0}) at this point */
    FZE_HALF_ABORT  /* half-close, then reset at once while the echo may still be coming
                     * (the server, in CLOSE_WAIT, may still be sending: RFC 9293 3.10.7.4
                     * has the reset end the connection; the server must serve the next) */
};

/* The shape of a script: what the generator builds it around. FZS_FREE draws every
 * connection, action and end independently; each other shape is one behaviour an echo
 * server meets at its edges, with its sizes, plans, ends and extra actions drawn from
 * the seed (a stratified sample: --seed S script n has shape n % EC_FZ_NSHAPES, so
 * every behaviour comes up within the first EC_FZ_NSHAPES scripts). */
enum ec_fz_shape {
    FZS_HALF_CLOSE,  /* bytes, then the half-close with the echo still owed */
    FZS_ROUNDS,      /* several request/echo rounds on one connection */
    FZS_RESET_NEXT,  /* a client resets (perhaps with echo pending), the next is served */
    FZS_HALF_ABORT,  /* half-close then reset mid-echo, the next is served */
    FZS_SLOW_READER, /* a client that does not read while it sends (short writes) */
    FZS_HOL,         /* a full slow reader and a fast client at once */
    FZS_CONCURRENT,  /* a client arrives while another is held open */
    FZS_FRAMED,      /* len32 frames split over sends, by plans */
    FZS_IDLE,        /* a quiet pause between rounds (no deadline is owed either way) */
    FZS_CHURN,       /* several clients at once, some leaving while others send */
    FZS_FREE,        /* last: its scripts are the largest, the slowest to run and shrink */
    EC_FZ_NSHAPES
};

struct ec_fz_conn {
    struct ec_fz_act acts[EC_FZ_MAX_ACTS];
    int nacts;
    enum ec_fz_end end;
    int late; /* connects only after the first sync ("sync-0"): it arrives while the
               * others are served */
};

struct ec_fz_script {
    uint64_t seed;   /* the script's own seed */
    int shape;       /* enum ec_fz_shape it was generated as */
    int sequential;  /* connection i connects after connection i-1 ended */
    int framed;      /* the server runs --framing len32 and every send is one frame
                      * (no fill then: its bytes are no frames) */
    int nconns;
    struct ec_fz_conn conns[EC_FZ_MAX_CONNS];
};

/* A script from a seed and a shape (deterministic); shape < 0 lets the seed choose. */
void ec_fz_generate(uint64_t seed, int shape, struct ec_fz_script *s);

/* The shape's name ("half-close", ...). */
const char *ec_fz_shape_name(int shape);

/* Two or more connections open at once: a server that serves one client at a time
 * (its profile declares serialized-clients) cannot be held to it. */
int ec_fz_needs_concurrency(const struct ec_fz_script *s);

/* The fixture of s named name (also its file name without .json), with requirement and
 * comment, as a malloc'ed JSON text. *nsteps gets the number of steps in all. */
char *ec_fz_render(const struct ec_fz_script *s, const char *name, const char *requirement,
                   const char *comment, int *nsteps);

/* A short one-line summary ("2 conns concurrent: c0 send 4096/as-is, expect; ...")
 * into buf. */
const char *ec_fz_describe(const struct ec_fz_script *s, char *buf, size_t len);

/* The i-th reduction of s into *out (connections removed, actions removed, payloads
 * made smaller, plans made plain, pauses dropped, ends made plain). Returns 1 when
 * candidate i exists (even if it equals s), 0 when i is past the last one. Candidates
 * come largest reduction first. */
int ec_fz_reduce(const struct ec_fz_script *s, int i, struct ec_fz_script *out);

/* A 64-bit FNV-1a hash of a text (the fixture's name takes 8 hex digits of it). */
uint64_t ec_fz_hash(const char *text);

#endif
