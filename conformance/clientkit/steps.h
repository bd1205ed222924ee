/* steps.h - client-side step primitives shared by the conformance engine and the
 * boundary-case clients: a connection with its byte history, send with a write plan,
 * fill, stop/resume reading, half-close, close, abort (RST), bounded receives, and a
 * timeline of every I/O call with relative times. Independent of JSON and fixtures.
 * Linux only (MSG_MORE, TCP_CORK, /proc); every wait is bounded by a deadline.
 */
#ifndef EC_STEPS_H
#define EC_STEPS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- timeline ------------------------------------------------------------------ */

/* One recorded event: who, what, how many bytes, which error class, when. */
struct ec_event {
    int64_t t_us;   /* microseconds since the timeline started */
    char who[24];   /* connection label ("c0", "hogs[12]") or "engine" / "server" */
    char what[16];  /* "connect", "send", "recv", "eof", "shutdown", "abort", ... */
    long long size; /* bytes, or -1 when not a transfer */
    int err;        /* 0, or a negative error class of ec_sock.h */
    char note[40];  /* a short free text ("plan bytewise", "wanted 3") */
};

/* A thread-safe, bounded event list. Events past the capacity are counted, not
 * stored, so a 1 MiB bytewise transfer cannot exhaust memory. */
struct ec_timeline {
    pthread_mutex_t mu;
    int64_t t0_ns;
    struct ec_event *ev;
    size_t n, cap, dropped;
};

/* Starts an empty timeline holding at most cap events, time zero now. Returns 0 or
 * -1 when out of memory. */
int ec_timeline_init(struct ec_timeline *tl, size_t cap);

/* Releases the events. */
void ec_timeline_free(struct ec_timeline *tl);

/* Microseconds since tl started. */
int64_t ec_timeline_now_us(const struct ec_timeline *tl);

/* Appends one event (thread-safe). note may be NULL; text is truncated to fit. */
void ec_timeline_add(struct ec_timeline *tl, const char *who, const char *what, long long size,
                     int err, const char *note);

/* ---- deterministic payloads ------------------------------------------------------ */

/* Fills buf with len bytes of the seeded pattern, starting at stream offset off: the
 * same (seed, offset) always gives the same byte, so any slice can be regenerated. */
void ec_pattern_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t off);

/* A small seeded generator (xorshift64*) for random write plans. Never returns the
 * same sequence for different seeds; seed 0 is mapped to a fixed non-zero state. */
uint64_t ec_rand_next(uint64_t *state);

/* The seed of a run that was given none (the engine, `echoconf diagnose`, the
 * clients): the clock and the process id, below 10^9 + 7 so it is short to retype
 * with --seed. */
uint64_t ec_default_seed(void);

/* ---- write plans ----------------------------------------------------------------- */

enum ec_plan_kind {
    EC_PLAN_ASIS,     /* each payload in one send() call */
    EC_PLAN_CHUNKS,   /* fixed chunk sizes in order, the rest as one last chunk */
    EC_PLAN_BYTEWISE, /* one byte per send() */
    EC_PLAN_RANDOM,   /* chunk sizes drawn from a seeded generator, 1..max_chunk */
    EC_PLAN_SPLIT,    /* two chunks: the first split_at bytes, then the rest */
    EC_PLAN_COALESCE  /* every payload with MSG_MORE under TCP_CORK, released at the end */
};

#define EC_PLAN_MAX_CHUNKS 32

/* How one send step cuts its payloads into send() calls. */
struct ec_write_plan {
    enum ec_plan_kind kind;
    size_t chunks[EC_PLAN_MAX_CHUNKS]; /* CHUNKS: sizes, each >= 1 */
    size_t nchunks;
    uint64_t seed;    /* RANDOM */
    size_t max_chunk; /* RANDOM: largest chunk (default 64 when 0) */
    size_t split_at;  /* SPLIT */
    int gap_ms;       /* pause between two send() calls (0: none) */
    int nodelay;      /* -1 leave TCP_NODELAY alone, 0 off, 1 on */
};

/* True for the plans whose pieces are meant to reach the server apart (chunks,
 * bytewise, random, split): ec_conn_send delivers them one server recv each when the
 * connection has a pace function, else timed (see ec_conn_send). */
int ec_plan_separates(const struct ec_write_plan *p);

/* How a send delivered the pieces of a separating plan. */
enum ec_delivery {
    EC_DELIVERY_SYNC,  /* "server-synchronised": each piece once the server took the last */
    EC_DELIVERY_TIMED, /* "timed": TCP_NODELAY and a gap of at least EC_TIMED_GAP_US */
    EC_DELIVERY_NONE   /* no piece followed another (one piece, as-is, coalesce) */
};

/* "server-synchronised", "timed", "none". */
const char *ec_delivery_name(enum ec_delivery d);

/* The smallest gap between two pieces of a timed delivery, in microseconds (not
 * scaled: it is a property of the plan, not a deadline): long enough for a waiting
 * server on loopback to take a segment before the next one. Only the first
 * EC_TIMED_GAP_PIECES pieces of a send get it, so that a bytewise send of kilobytes
 * (thousands of pieces) stays within a pass budget on a loaded machine. */
#define EC_TIMED_GAP_US     250
#define EC_TIMED_GAP_PIECES 64

/* Writes a short name of the plan ("bytewise", "chunks[1,1,3]", "random seed=7",
 * "split@3", "coalesce") into buf; returns buf. */
const char *ec_plan_name(const struct ec_write_plan *p, char *buf, size_t len);

/* The kind named name ("as-is", "chunks", "bytewise", "random", "split", "coalesce")
 * into *k. Returns 0, or -1 for another name. */
int ec_plan_kind_parse(const char *name, enum ec_plan_kind *k);

/* Completes a plan read from a fixture with the defaults of its kind: bytewise means
 * one segment per byte, so TCP_NODELAY unless the plan said otherwise. */
void ec_plan_finish(struct ec_write_plan *p);

/* The boundary sweep: each pass replays the fixture with every send's plan replaced
 * by one override (fixtures/README.md, "The boundary sweep"). */
enum ec_plan_override {
    EC_OV_FIXTURE, /* the fixture's own plans */
    EC_OV_ASIS,
    EC_OV_BYTEWISE,
    EC_OV_RANDOM,
    EC_OV_SPLIT, /* at split_at */
    EC_OV_COALESCE
};

/* Sends longer than this keep their plan in the bytewise pass (a fixture with no
 * shorter send has none), and only sends up to EC_SWEEP_SPLIT_MAX bytes are split at
 * every point. 2048 is twice the default --bufsize: a bufsize-sized message and the
 * one after it, byte by byte. Each byte waits for the server's recv, which costs 1-3
 * ms under Wine (measured): 4,096 bytes outlasted a 12 s budget on a loaded machine. */
#define EC_SWEEP_BYTEWISE_MAX 2048
#define EC_SWEEP_SPLIT_MAX    32

/* The override named spec (--plan: "fixture", "as-is", "bytewise", "random",
 * "split@K", "coalesce") into *ov and, for split@K, *split_at. Returns 0, or -1. */
int ec_plan_override_parse(const char *spec, enum ec_plan_override *ov, size_t *split_at);

/* The --plan spec of an override, the inverse of ec_plan_override_parse ("split@3"),
 * into buf; returns buf. */
const char *ec_plan_override_spec(enum ec_plan_override ov, size_t split_at, char *buf, size_t len);

/* The plan a send of total bytes uses in a pass with override ov: its own plan p for
 * EC_OV_FIXTURE, a fixed plan (fixed), or where the override does not apply (bytewise
 * above EC_SWEEP_BYTEWISE_MAX, a split point outside the send); else the override,
 * keeping p's TCP_NODELAY choice where the override has none. seed is the random
 * pass's. */
struct ec_write_plan ec_plan_override(const struct ec_write_plan *p, int fixed,
                                      enum ec_plan_override ov, size_t split_at, uint64_t seed,
                                      size_t total);

/* ---- connections ----------------------------------------------------------------- */

/* Outcome classes of a receive-side wait. */
enum ec_rx {
    EC_RX_OK = 0,  /* the wanted bytes (or event) arrived */
    EC_RX_EOF,     /* the peer closed in order (FIN) first */
    EC_RX_RESET,   /* the connection was reset (ECONNRESET) */
    EC_RX_ERROR,   /* another socket error; see conn->err */
    EC_RX_TIMEOUT, /* the deadline passed first */
    EC_RX_DATA     /* unexpected bytes arrived (silence and EOF waits) */
};

/* Name of an outcome class: "ok", "eof", "reset", "error", "timeout", "data". */
const char *ec_rx_name(enum ec_rx rx);

/* How the server ended a connection, recorded once, when the client first sees the
 * end (a FIN, a reset or another receive error). Times are CLOCK_MONOTONIC
 * microseconds (ec_clock_us). For a FIN, when it arrived comes from the kernel
 * (TCP_INFO: tcpi_last_ack_recv, the FIN carries an ACK; tcpi_last_data_recv for the
 * last data), so a client thread that noticed it late does not stretch the figures;
 * for a reset it is when the client saw it (an upper bound). */
struct ec_conn_end {
    int kind;              /* 0: not seen; EC_RX_EOF, EC_RX_RESET or EC_RX_ERROR */
    int kernel_times;      /* 1: arrived_us and last_in_us come from TCP_INFO */
    int64_t seen_us;       /* when the client saw it */
    int64_t arrived_us;    /* when it arrived */
    int64_t last_out_us;   /* the client's last send before it (or connect), -1 unknown */
    int64_t last_in_us;    /* the last data received before it (or connect) */
    long long sent_before; /* bytes the client had sent when it arrived, -1 unknown */
    size_t recvd;          /* bytes received before the end (all data precedes it) */
    int wr_shut;           /* the client had half-closed */
};

/* One send() the client made: when it returned and the stream length after it. */
struct ec_send_mark {
    int64_t t_us;
    size_t before, after;
};

#define EC_SEND_MARKS 8

/* One client connection and everything that crossed it. The socket is nonblocking
 * after connect; every call below waits with poll() up to its deadline. */
struct ec_conn {
    int fd;
    char label[24];
    struct ec_timeline *tl; /* may be NULL: nothing is recorded */
    int rcvbuf, sndbuf;     /* requested before connect (0: kernel default) */
    unsigned char *sent;    /* every byte sent, in order */
    size_t sent_len, sent_cap;
    unsigned char *recvd; /* every byte received, in order */
    size_t recvd_len, recvd_cap;
    size_t recv_pos; /* bytes of recvd already consumed by expectations */
    int reading;     /* drain incoming bytes while sending and waiting */
    int eof;         /* the peer's FIN was seen */
    int err;         /* negative class of a receive or send error, 0 if none */
    int wr_shut;     /* we half-closed */
    int closed;      /* we closed or aborted; fd is -1 */
    int fin_before_send; /* a send or fill began after the peer's FIN had arrived: a reset
                          * that follows is the kernel's answer to our data, not the
                          * server's doing */
    int reset_sent;      /* our close() sent RST (unread data), or abort() did */
    /* Server-synchronised delivery (optional). When set, ec_conn_send calls it before
     * each piece of a separating plan that follows bytes already sent, and sends the
     * piece only after it returned 0: the server took every byte of c->sent so far.
     * It waits at most until deadline_ms (absolute, ec_clock_ms: the send's own
     * deadline), draining the echo if c->reading, and returns -1 when the server did
     * not take them (it stopped reading, closed or died): the rest of that send then
     * goes at once, and the send counts as timed. Each piece the server took earns
     * the send its whole time again (a deadline bounds a wait for the server's
     * progress, not a long paced send), up to pace_until. */
    int (*pace)(struct ec_conn *c, void *arg, int64_t deadline_ms);
    void *pace_arg;
    int64_t pace_until;         /* ec_clock_ms; a paced send's deadline never passes it */
    int pace_failed;            /* a pace call returned -1 on this stream */
    /* Proof of a stall (optional). When set, a send that the kernel refuses to take
     * more of, or a receive (ec_conn_recv_until, recv_some, wait_end) that gets nothing,
     * asks it every 20 ms (or less) whether the stall is proven, with the time (ec_clock_ms)
     * since which nothing moved; on 1 the call ends as if its deadline had passed
     * (-EC_ETIMEDOUT, EC_RX_TIMEOUT). The engine sets it only for a step that declares
     * it (quiet_ms, fixtures/README.md). */
    int (*stalled)(struct ec_conn *c, void *arg, int64_t blocked_since_ms);
    void *stalled_arg;
    enum ec_delivery delivered; /* the delivery of the last separating send */

    /* Timing evidence (evidence.h): when things happened, client clock. */
    int64_t connect_us;                       /* when the connection was made */
    int64_t last_recv_us;                     /* when data last arrived */
    struct ec_send_mark marks[EC_SEND_MARKS]; /* the last sends, a ring */
    size_t nmarks;                            /* sends made (marks[nmarks % N] is next) */
    struct ec_conn_end end;                   /* how the server ended the stream */
};

/* Prepares c (no socket yet). label names it in the timeline; tl may be NULL. */
void ec_conn_init(struct ec_conn *c, const char *label, struct ec_timeline *tl);

/* Closes the socket if still open and frees the histories. */
void ec_conn_free(struct ec_conn *c);

/* Connects to host:port (numeric IPv4 or IPv6) within timeout_ms, applying any
 * rcvbuf/sndbuf set before. A connection used before starts a new stream: its byte
 * histories and end flags are reset. Returns 0, or a negative class (-EC_ECONNREFUSED,
 * -EC_ETIMEDOUT, -EC_EMFILE, ...). */
int ec_conn_connect(struct ec_conn *c, const char *host, unsigned port, int timeout_ms);

/* SO_RCVBUF / SO_SNDBUF now (after connect) or at connect (before). 0 leaves a size
 * alone. Returns 0 or a negative class. */
int ec_conn_set_bufsizes(struct ec_conn *c, int rcvbuf, int sndbuf);

/* Sends the payloads (n of them, pieces[i] of lens[i] bytes) cut by plan, within
 * timeout_ms for the whole step. When c->reading is set, echoed bytes are drained
 * into c->recvd while the sends wait, so a large send never deadlocks against an echo.
 * Every byte that went out is appended to c->sent.
 * A separating plan (ec_plan_separates) is delivered piece by piece: with c->pace set,
 * each piece after the first byte of the stream goes only once c->pace said the
 * server took everything before it ("server-synchronised"), so every piece meets the
 * server in a recv of its own whatever the scheduler does; without c->pace, with
 * TCP_NODELAY and at least EC_TIMED_GAP_US between its first EC_TIMED_GAP_PIECES pieces
 * ("timed"); after a pace
 * call failed, the rest at once (also counted "timed"). c->delivered says which.
 * as-is and coalesce are sent as written.
 * Returns the bytes sent (all of them on success) or a negative class (-EC_ETIMEDOUT
 * when the kernel did not take them in time, -EC_ECONNRESET, -EC_ECLOSED, ...). */
long long ec_conn_send(struct ec_conn *c, const unsigned char *const *pieces, const size_t *lens,
                       size_t n, const struct ec_write_plan *plan, int timeout_ms);

/* Sends seeded pattern bytes until the kernel refuses more for settle_ms, or max
 * bytes went, or timeout_ms passed; never reads. With c->stalled set, refusal alone
 * does not end it: the kernel must have refused more for settle_ms and c->stalled must
 * say the server is asleep (it stopped reading, not merely waited for a CPU), else the
 * fill goes on until max or timeout_ms. Returns the bytes sent (>= 0) or a negative
 * class on a socket error. */
long long ec_conn_fill(struct ec_conn *c, size_t max, uint64_t seed, int settle_ms, int timeout_ms);

/* Receives until c->recvd_len >= want or the deadline (absolute, ec_now_ms clock).
 * Returns EC_RX_OK, EC_RX_EOF, EC_RX_RESET, EC_RX_ERROR or EC_RX_TIMEOUT. */
enum ec_rx ec_conn_recv_until(struct ec_conn *c, size_t want, int64_t deadline_ms);

/* Receives whatever is there, then waits up to the deadline for one more event.
 * Returns EC_RX_OK if bytes arrived, else as ec_conn_recv_until. */
enum ec_rx ec_conn_recv_some(struct ec_conn *c, int64_t deadline_ms);

/* Waits for the stream's end: returns EC_RX_EOF or EC_RX_RESET when it comes,
 * EC_RX_DATA if bytes arrive first (they are kept in c->recvd), EC_RX_TIMEOUT. */
enum ec_rx ec_conn_wait_end(struct ec_conn *c, int64_t deadline_ms);

/* Drains incoming bytes if c->reading, waiting up to ms (0: only what is there).
 * Returns 0 or the outcome class of an EOF or error met. */
enum ec_rx ec_conn_pump(struct ec_conn *c, int ms);

/* shutdown(SHUT_WR). Returns 0 or a negative class. */
int ec_conn_shutdown_wr(struct ec_conn *c);

/* close(): an orderly close (the kernel sends RST instead if unread data remains,
 * RFC 9293 3.6.1; then c->reset_sent is set). Returns 0 or a negative class. */
int ec_conn_close(struct ec_conn *c);

/* An abortive close: SO_LINGER {1, 0} then close(), so the peer gets RST. */
int ec_conn_abort(struct ec_conn *c);

/* TCP_NODELAY on (1) or off (0). Returns 0 or a negative class. */
int ec_conn_set_nodelay(struct ec_conn *c, int on);

/* ---- time ------------------------------------------------------------------------ */

/* The timeout multiplier: the flag's value if set by ec_set_timeout_multiplier(),
 * else ECHOCONF_TIMEOUT_MULTIPLIER from the environment, else the build default. */
double ec_timeout_multiplier(void);

/* Overrides the multiplier (the --timeout-multiplier flag); values <= 0 are ignored. */
void ec_set_timeout_multiplier(double m);

/* A factor on top of the multiplier for a whole family of servers (1 by default): the
 * engine uses 3 for win32 models, whose every socket call goes through the wineserver
 * and which run several times slower than native servers on a loaded machine. */
void ec_set_timeout_family_factor(double f);

/* ms scaled by the multiplier and the family factor (at least 1 when ms > 0). */
int ec_scale_ms(int ms);

/* Monotonic milliseconds (same clock as the deadlines above). */
int64_t ec_clock_ms(void);

/* The same clock in microseconds. */
int64_t ec_clock_us(void);

#endif
