/* echoconf_record.c - `echoconf record`: a transparent TCP relay that records a live
 * session and writes it as a fixture.
 *
 * Real clients connect to --listen; every connection is relayed to --target by one
 * poll() loop. Per connection the relay records each client write as it arrived (its
 * size and time: sizes and gaps become a write plan), the half-closes of either side
 * (relayed as a half-close: shutdown(SHUT_WR) once the buffered bytes went out), the
 * resets (relayed as a reset: SO_LINGER {1, 0} then close, RFC 9293 3.6.1) and the
 * server's bytes. Reads are paced by writes (at most RELAY_BUF bytes buffered each
 * way), so a client that stops reading stalls the server as it would without us.
 *
 * On SIGINT/SIGTERM, --duration, or when every connection ended (after the command
 * given after "--" exited, or after --idle ms without connections), it writes
 * FILE.json (through FILE.json.tmp and rename, so never half a file): the client side
 * as steps, the server's bytes as expectations (echo where they were the echo, exact
 * bytes otherwise, in a file beside the fixture when large), connection order kept by
 * barriers. The format is fixtures/README.md's; the result passes `echoconf validate`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "echoconf_cli.h"
#include "fixture.h"
#include "steps.h"

#define RELAY_BUF      (64 * 1024) /* bytes buffered per direction */
#define MAX_CONNS      256
#define BURST_GAP_MS   50   /* a client pause this long ends a send step */
#define INLINE_TEXT    256  /* up to this many printable bytes go inline as text */
#define INLINE_HEX     1024 /* up to this many other bytes go inline as hex */
#define PIECES_PER_SEND 33  /* a chunks plan holds 32 sizes, the rest is one more */

/* What happened on a connection, in the order the relay saw it. */
enum ev_kind {
    EV_C_DATA, /* the client wrote bytes (one recv of ours) */
    EV_C_FIN,  /* the client half-closed */
    EV_C_RST,  /* the client reset (or a send to it was refused with a reset) */
    EV_S_DATA, /* the server sent bytes */
    EV_S_FIN,  /* the server half-closed */
    EV_S_RST   /* the server reset */
};

struct ev {
    enum ev_kind kind;
    int64_t t_us; /* since the recording started */
    size_t off, len;
};

struct buf {
    unsigned char *b;
    size_t len, cap;
};

/* One relayed connection. */
struct rconn {
    int cfd, sfd;        /* client side (accepted), server side (ours); -1 once closed */
    int connecting;      /* the connect to the target is in progress */
    int64_t t_accept_us;
    struct buf cbytes, sbytes; /* everything recorded from each side */
    struct ev *evs;
    size_t nevs, capevs;
    unsigned char c2s[RELAY_BUF], s2c[RELAY_BUF]; /* relay buffers */
    size_t c2s_len, s2c_len;
    int c_eof, s_eof;           /* the side sent FIN */
    int c_fin_sent, s_fin_sent; /* we passed the FIN on */
    int ended;
    int cut; /* --max-bytes reached: recording stopped here, relaying goes on */
    int idx; /* c<idx> in the fixture */
};

struct rec {
    const char *listen, *target, *out, *name, *requirement, *framing;
    long long max_bytes;
    double duration_s;
    int idle_ms;
    char **cmd; /* client command after "--", "{}" replaced by the listen address */
    int ncmd;
    int argc;
    char **argv;
    char thost[64];
    unsigned tport;
    char laddr[80];
    struct rconn *conns[MAX_CONNS];
    int nconns;
    int64_t t0_us;
    char started_utc[32];
    pid_t child;
    int child_status, child_done;
    char stop_reason[120];
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *nb = realloc(b->b, cap);
        if (!nb)
            return -1;
        b->b = nb;
        b->cap = cap;
    }
    memcpy(b->b + b->len, p, n);
    b->len += n;
    return 0;
}

static void add_ev(struct rec *r, struct rconn *c, enum ev_kind k, size_t off, size_t len)
{
    if (c->cut)
        return;
    if (c->nevs == c->capevs) {
        size_t cap = c->capevs ? c->capevs * 2 : 64;
        struct ev *ne = realloc(c->evs, cap * sizeof *ne);
        if (!ne) {
            c->cut = 1;
            return;
        }
        c->evs = ne;
        c->capevs = cap;
    }
    c->evs[c->nevs++] = (struct ev){k, now_us() - r->t0_us, off, len};
}

/* Records n bytes from one side. When --max-bytes (client plus server bytes of this
 * connection) is reached, records what fits, says so, and records nothing more of this
 * connection (its bytes are still relayed). */
static void record_bytes(struct rec *r, struct rconn *c, int from_client, const unsigned char *p,
                         size_t n)
{
    if (c->cut)
        return;
    struct buf *b = from_client ? &c->cbytes : &c->sbytes;
    long long room = r->max_bytes - (long long)(c->cbytes.len + c->sbytes.len);
    int cut = (long long)n > room;
    if (cut)
        n = room > 0 ? (size_t)room : 0;
    size_t off = b->len;
    if (n && buf_add(b, p, n) < 0) {
        fprintf(stderr, "echoconf record: out of memory; the recording of c%d stops\n", c->idx);
        c->cut = 1;
        return;
    }
    if (n)
        add_ev(r, c, from_client ? EV_C_DATA : EV_S_DATA, off, n);
    if (cut) {
        fprintf(stderr,
                "echoconf record: c%d: --max-bytes %lld reached (%zu client + %zu server bytes "
                "recorded); the recording of this connection stops here, relaying goes on\n",
                c->idx, r->max_bytes, c->cbytes.len, c->sbytes.len);
        c->cut = 1;
    }
}

static void hard_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Ends a connection by resets: the side that reset is gone, the other gets one. */
static void conn_reset(struct rconn *c, int client_reset)
{
    if (client_reset) {
        if (c->sfd >= 0)
            hard_reset(c->sfd);
        if (c->cfd >= 0)
            close(c->cfd);
    } else {
        if (c->cfd >= 0)
            hard_reset(c->cfd);
        if (c->sfd >= 0)
            close(c->sfd);
    }
    c->cfd = c->sfd = -1;
    c->ended = 1;
}

/* ---- the relay ------------------------------------------------------------------- */

/* Reads from one side into its relay buffer until it would block, the buffer is full,
 * or the side half-closed or reset: a FIN that came with the data is seen at once. */
static void pump_in(struct rec *r, struct rconn *c, int from_client)
{
    int fd = from_client ? c->cfd : c->sfd;
    unsigned char *b = from_client ? c->c2s : c->s2c;
    size_t *len = from_client ? &c->c2s_len : &c->s2c_len;
    int *eof = from_client ? &c->c_eof : &c->s_eof;
    while (!c->ended && *len < RELAY_BUF) {
        ssize_t n = recv(fd, b + *len, RELAY_BUF - *len, 0);
        if (n >= 0 && *eof)
            return; /* a hang-up after the FIN we know of: nothing new */
        if (n > 0) {
            record_bytes(r, c, from_client, b + *len, (size_t)n);
            *len += (size_t)n;
        } else if (n == 0) {
            *eof = 1;
            add_ev(r, c, from_client ? EV_C_FIN : EV_S_FIN, 0, 0);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            add_ev(r, c, from_client ? EV_C_RST : EV_S_RST, 0, 0);
            conn_reset(c, from_client);
            return;
        }
    }
}

/* Writes one relay buffer to its destination; passes a FIN on once it is empty. */
static void pump_out(struct rec *r, struct rconn *c, int to_server)
{
    int fd = to_server ? c->sfd : c->cfd;
    unsigned char *b = to_server ? c->c2s : c->s2c;
    size_t *len = to_server ? &c->c2s_len : &c->s2c_len;
    if (*len) {
        ssize_t n = send(fd, b, *len, MSG_NOSIGNAL);
        if (n > 0) {
            memmove(b, b + n, *len - (size_t)n);
            *len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            /* The destination refused our bytes: it reset (a client that closed with
             * the echo still coming does that). */
            add_ev(r, c, to_server ? EV_S_RST : EV_C_RST, 0, 0);
            conn_reset(c, !to_server);
            return;
        }
    }
    int eof = to_server ? c->c_eof : c->s_eof;
    int *sent = to_server ? &c->c_fin_sent : &c->s_fin_sent;
    if (eof && !*len && !*sent) {
        shutdown(fd, SHUT_WR);
        *sent = 1;
    }
}

static int parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= hostlen)
        return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    if (hl >= 2 && host[0] == '[') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

static int make_addr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

/* Starts the connection to the target for a new client. */
static int connect_target(struct rec *r, struct rconn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    make_addr(r->thost, r->tport, &ss, &sl);
    c->sfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->sfd < 0)
        return -1;
    int one = 1;
    setsockopt(c->sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->sfd, (struct sockaddr *)&ss, sl) == 0)
        return 0;
    if (errno == EINPROGRESS) {
        c->connecting = 1;
        return 0;
    }
    return -1;
}

/* ---- writing the fixture ----------------------------------------------------------- */

struct step_out {
    cJSON *j;
    int64_t t_us;
};

struct steps_out {
    struct step_out *v;
    size_t n, cap;
};

static void so_add(struct steps_out *s, cJSON *j, int64_t t_us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            fprintf(stderr, "echoconf record: out of memory\n");
            exit(2);
        }
    }
    s->v[s->n++] = (struct step_out){j, t_us};
}

static cJSON *step(const char *kind)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "step", kind);
    return j;
}

static int printable(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((b[i] < 0x20 && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') || b[i] >= 0x7f)
            return 0;
    return 1;
}

/* The payload for bytes [off, off+n) of one side of connection ci: inline text or hex
 * when short, else a slice of the side file (written later). */
static cJSON *payload(const struct buf *b, size_t off, size_t n, const char *side_file)
{
    if (n <= INLINE_TEXT && printable(b->b + off, n)) {
        cJSON *o = cJSON_CreateObject();
        char *t = malloc(n + 1);
        memcpy(t, b->b + off, n);
        t[n] = 0;
        cJSON_AddStringToObject(o, "text", t);
        free(t);
        return o;
    }
    if (n <= INLINE_HEX) {
        char *h = malloc(n * 2 + 1);
        for (size_t i = 0; i < n; i++)
            snprintf(h + 2 * i, 3, "%02x", b->b[off + i]);
        h[2 * n] = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "hex", h);
        free(h);
        return o;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", side_file);
    cJSON_AddNumberToObject(o, "offset", (double)off);
    cJSON_AddNumberToObject(o, "size", (double)n);
    return o;
}

/* Per-connection conversion state. */
struct conv {
    const struct rconn *c;
    struct steps_out *so;
    const char *cfile, *sfile; /* side files (names relative to the fixture) */
    int need_cfile, need_sfile;
    size_t *burst; /* pending client data events: indices into evs */
    size_t burst_n;
    size_t sent;                 /* client bytes emitted as sends */
    size_t s_pending_from;       /* server bytes not yet expected start here */
    size_t s_seen;               /* server bytes seen so far */
    size_t echo_ok;              /* server bytes [0, echo_ok) equal the client's */
    int64_t last_t;
};

static void flush_burst(struct conv *v)
{
    const struct rconn *c = v->c;
    size_t i = 0, end = v->burst_n;
#define BEV(j) (c->evs[v->burst[j]])
    while (i < end) {
        size_t k = end - i < PIECES_PER_SEND ? end - i : PIECES_PER_SEND;
        size_t off = BEV(i).off, total = 0, ones = 0;
        for (size_t j = i; j < i + k; j++) {
            total += BEV(j).len;
            ones += BEV(j).len == 1;
        }
        int64_t gap_sum = 0;
        for (size_t j = i + 1; j < i + k; j++)
            gap_sum += BEV(j).t_us - BEV(j - 1).t_us;
        int gap_ms = k > 1 ? (int)(gap_sum / (int64_t)(k - 1) / 1000) : 0;
        cJSON *s = step("send");
        cJSON *pl = payload(&c->cbytes, off, total, v->cfile);
        if (cJSON_GetObjectItem(pl, "file"))
            v->need_cfile = 1;
        cJSON_AddItemToObject(s, "data", pl);
        cJSON *plan = cJSON_CreateObject();
        if (k == 1) {
            cJSON_AddStringToObject(plan, "kind", "as-is");
        } else if (ones == k) {
            cJSON_AddStringToObject(plan, "kind", "bytewise");
        } else {
            cJSON_AddStringToObject(plan, "kind", "chunks");
            cJSON *ch = cJSON_AddArrayToObject(plan, "chunks");
            for (size_t j = i; j < i + k - 1; j++)
                cJSON_AddItemToArray(ch, cJSON_CreateNumber((double)BEV(j).len));
        }
        if (gap_ms > 0)
            cJSON_AddNumberToObject(plan, "gap_ms", gap_ms > 10000 ? 10000 : gap_ms);
        cJSON_AddBoolToObject(plan, "nodelay", 1);
        cJSON_AddBoolToObject(plan, "fixed", 1);
        cJSON_AddItemToObject(s, "plan", plan);
        so_add(v->so, s, BEV(i).t_us);
        v->sent += total;
        i += k;
    }
#undef BEV
    v->burst_n = 0;
}

/* Expects the server bytes seen so far and not yet expected. */
static void flush_expect(struct conv *v, int64_t t_us)
{
    const struct rconn *c = v->c;
    size_t from = v->s_pending_from, n = v->s_seen - from;
    if (!n)
        return;
    cJSON *s = step("expect");
    if (from + n <= v->echo_ok) {
        if (from + n == v->sent)
            cJSON_AddBoolToObject(s, "echo", 1);
        else
            cJSON_AddNumberToObject(s, "echo", (double)n);
    } else {
        /* Not the echo (or not from here on): exactly the bytes the server sent. */
        cJSON *pl = payload(&c->sbytes, from, n, v->sfile);
        if (cJSON_GetObjectItem(pl, "file"))
            v->need_sfile = 1;
        cJSON_AddItemToObject(s, "data", pl);
    }
    so_add(v->so, s, t_us);
    v->s_pending_from = v->s_seen;
}

/* The steps of one connection. */
static void convert(struct conv *v)
{
    const struct rconn *c = v->c;
    struct steps_out *so = v->so;
    so_add(so, step("connect"), c->t_accept_us);
    size_t m = c->sbytes.len < c->cbytes.len ? c->sbytes.len : c->cbytes.len;
    size_t eq = 0;
    while (eq < m && c->sbytes.b[eq] == c->cbytes.b[eq])
        eq++;
    v->echo_ok = eq;
    v->last_t = c->t_accept_us;
    v->burst = calloc(c->nevs + 1, sizeof *v->burst);
    if (!v->burst) {
        fprintf(stderr, "echoconf record: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < c->nevs; i++) {
        const struct ev *e = &c->evs[i];
        switch (e->kind) {
        case EV_C_DATA:
            if (e->t_us - v->last_t >= BURST_GAP_MS * 1000) {
                flush_burst(v);
                flush_expect(v, e->t_us);
                int ms = (int)((e->t_us - v->last_t) / 1000);
                cJSON *p = step("pause");
                cJSON_AddNumberToObject(p, "ms", ms > 10000 ? 10000 : ms);
                so_add(so, p, v->last_t);
            }
            /* Server bytes between two writes of one burst do not end it: they are
             * expected after the burst. */
            v->burst[v->burst_n++] = i;
            v->last_t = e->t_us;
            break;
        case EV_S_DATA:
            v->s_seen += e->len;
            break;
        case EV_C_FIN:
        case EV_C_RST:
        case EV_S_FIN:
        case EV_S_RST:
            flush_burst(v);
            flush_expect(v, e->t_us);
            so_add(so,
                   step(e->kind == EV_C_FIN   ? "shutdown_wr"
                        : e->kind == EV_C_RST ? "abort"
                        : e->kind == EV_S_FIN ? "expect_eof"
                                              : "expect_reset"),
                   e->t_us);
            v->last_t = e->t_us;
            break;
        }
    }
    flush_burst(v);
    flush_expect(v, v->last_t);
    free(v->burst);
}

static int write_file_atomic(const char *path, const void *b, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    if (fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int write_fixture(struct rec *r)
{
    char stem[4096];
    snprintf(stem, sizeof stem, "%s", r->out);
    size_t sl = strlen(stem);
    if (sl > 5 && strcmp(stem + sl - 5, ".json") == 0)
        stem[sl - 5] = 0;
    char name[64];
    snprintf(name, sizeof name, "%s", r->name ? r->name : base_name(stem));

    cJSON *fx = cJSON_CreateObject();
    cJSON_AddStringToObject(fx, "name", name);
    cJSON_AddStringToObject(fx, "requirement",
                            r->requirement
                                ? r->requirement
                                : "MUST answer the recorded client session as the recorded "
                                  "server did: the echo of every byte in order, closes and "
                                  "resets where they came (RFC 862)");
    cJSON *tags = cJSON_AddArrayToObject(fx, "tags");
    cJSON_AddItemToArray(tags, cJSON_CreateString("recorded"));
    if (r->framing)
        cJSON_AddStringToObject(fx, "framing", r->framing);
    /* The recording is one faithful pass; the sweep would replay it under other plans. */
    cJSON_AddBoolToObject(fx, "sweep", 0);

    char comment[2048];
    int cl = snprintf(comment, sizeof comment,
                      "Recorded %s by echoconf record (clients of %s relayed to %s); stopped: %s."
                      " Command:",
                      r->started_utc, r->laddr, r->target, r->stop_reason);
    for (int i = 0; i < r->argc && cl < (int)sizeof comment - 2; i++)
        cl += snprintf(comment + cl, sizeof comment - (size_t)cl, " %s", r->argv[i]);
    cJSON *conns = cJSON_CreateArray();
    long long total_bytes = 0;
    int64_t last_t = 0;
    struct steps_out *sos = calloc((size_t)r->nconns + 1, sizeof *sos);
    char (*cfiles)[4096] = calloc((size_t)r->nconns + 1, sizeof *cfiles);
    char (*sfiles)[4096] = calloc((size_t)r->nconns + 1, sizeof *sfiles);
    int *needc = calloc((size_t)r->nconns + 1, sizeof *needc);
    int *needs = calloc((size_t)r->nconns + 1, sizeof *needs);
    for (int i = 0; i < r->nconns; i++) {
        struct rconn *c = r->conns[i];
        snprintf(cfiles[i], sizeof cfiles[i], "%s.c%d.client.bin", base_name(stem), i);
        snprintf(sfiles[i], sizeof sfiles[i], "%s.c%d.server.bin", base_name(stem), i);
        struct conv v = {.c = c, .so = &sos[i], .cfile = cfiles[i], .sfile = sfiles[i]};
        convert(&v);
        needc[i] = v.need_cfile;
        needs[i] = v.need_sfile;
        total_bytes += (long long)(c->cbytes.len + c->sbytes.len);
        if (c->nevs && c->evs[c->nevs - 1].t_us > last_t)
            last_t = c->evs[c->nevs - 1].t_us;
        if (c->cut)
            cl += snprintf(comment + cl, sizeof comment - (size_t)cl,
                           ". c%d: cut by --max-bytes %lld", i, r->max_bytes);
        else if (!c->ended)
            cl += snprintf(comment + cl, sizeof comment - (size_t)cl,
                           ". c%d: still open when the recording stopped", i);
    }
    /* Connection order: c(i) connects only after c(i-1) did everything it did before
     * c(i) was accepted (a barrier "order-i" at that point of c(i-1)'s steps). */
    for (int i = 1; i < r->nconns; i++) {
        struct steps_out *prev = &sos[i - 1];
        int64_t t = r->conns[i]->t_accept_us;
        size_t pos = 0;
        while (pos < prev->n && prev->v[pos].t_us <= t)
            pos++;
        if (pos == 0)
            pos = 1;
        char bn[32];
        snprintf(bn, sizeof bn, "order-%d", i);
        cJSON *b = step("barrier");
        cJSON_AddStringToObject(b, "name", bn);
        so_add(prev, b, 0);
        memmove(&prev->v[pos + 1], &prev->v[pos], (prev->n - 1 - pos) * sizeof prev->v[0]);
        prev->v[pos] = (struct step_out){b, t};
        cJSON *b2 = step("barrier");
        cJSON_AddStringToObject(b2, "name", bn);
        so_add(&sos[i], b2, 0);
        memmove(&sos[i].v[1], &sos[i].v[0], (sos[i].n - 1) * sizeof sos[i].v[0]);
        sos[i].v[0] = (struct step_out){b2, INT64_MIN};
    }
    for (int i = 0; i < r->nconns; i++) {
        cJSON *cj = cJSON_CreateObject();
        char cn[16];
        snprintf(cn, sizeof cn, "c%d", i);
        cJSON_AddStringToObject(cj, "name", cn);
        cJSON *steps = cJSON_AddArrayToObject(cj, "steps");
        for (size_t k = 0; k < sos[i].n; k++)
            cJSON_AddItemToArray(steps, sos[i].v[k].j);
        free(sos[i].v);
        cJSON_AddItemToArray(conns, cj);
    }
    /* The recorded session's length thrice, plus time to move the bytes, plus 5 s. */
    long long budget = 5000 + 3 * last_t / 1000 + total_bytes / 1000;
    cJSON_AddNumberToObject(fx, "budget_ms", (double)(budget > 600000 ? 600000 : budget));
    cJSON_AddStringToObject(fx, "comment", comment);
    cJSON_AddItemToObject(fx, "connections", conns);

    int rc = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", stem);
    char *sl2 = strrchr(dir, '/');
    if (sl2)
        *sl2 = 0;
    else
        strcpy(dir, ".");
    for (int i = 0; i < r->nconns && rc == 0; i++) {
        char p[8300];
        if (needc[i]) {
            snprintf(p, sizeof p, "%s/%s", dir, cfiles[i]);
            rc = write_file_atomic(p, r->conns[i]->cbytes.b, r->conns[i]->cbytes.len);
        }
        if (rc == 0 && needs[i]) {
            snprintf(p, sizeof p, "%s/%s", dir, sfiles[i]);
            rc = write_file_atomic(p, r->conns[i]->sbytes.b, r->conns[i]->sbytes.len);
        }
    }
    char *txt = cJSON_Print(fx);
    if (rc == 0) {
        size_t tl = strlen(txt);
        txt[tl] = '\n';
        rc = write_file_atomic(r->out, txt, tl + 1);
    }
    if (rc < 0)
        fprintf(stderr, "echoconf record: cannot write %s (or a file beside it): %s\n", r->out,
                strerror(errno));
    free(txt);
    cJSON_Delete(fx);
    free(sos);
    free(cfiles);
    free(sfiles);
    free(needc);
    free(needs);
    return rc;
}

/* ---- main loop --------------------------------------------------------------------- */

static void rec_usage(FILE *f)
{
    fprintf(f,
            "usage: echoconf record --listen [ADDR:]PORT --target HOST:PORT --out FILE.json\n"
            "                       [--name N] [--requirement \"MUST ...\"] [--framing F]\n"
            "                       [--max-bytes N] [--duration S] [--idle MS] [-- CMD ARGS]\n"
            "\n"
            "Relays every connection to --listen on to --target and records it. Stops on\n"
            "Ctrl-C, after --duration seconds, or when every connection ended: after CMD\n"
            "exited (CMD is run with \"{}\" in its arguments replaced by the listen address),\n"
            "or, without CMD, when no connection was open for --idle ms (default 1000).\n"
            "Then writes FILE.json (files FILE.c<i>.{client,server}.bin beside it for large\n"
            "payloads). Prints \"listening A:P\" once it listens.\n"
            "Exit: 0 written, 2 bad usage or unwritable, 3 the target refused (nothing written),\n"
            "4 no connection was recorded (nothing written).\n");
}

int ec_cli_record(int argc, char **argv)
{
    struct rec r;
    memset(&r, 0, sizeof r);
    r.max_bytes = 16ll << 20;
    r.idle_ms = 1000;
    r.argc = argc;
    r.argv = argv;
    r.child = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            r.cmd = argv + i + 1;
            r.ncmd = argc - i - 1;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            rec_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "echoconf record: %s needs a value\n", a);
            return 2;
        }
        const char *val = argv[++i];
        char *end = NULL;
        if (strcmp(a, "--listen") == 0)
            r.listen = val;
        else if (strcmp(a, "--target") == 0)
            r.target = val;
        else if (strcmp(a, "--out") == 0)
            r.out = val;
        else if (strcmp(a, "--name") == 0)
            r.name = val;
        else if (strcmp(a, "--requirement") == 0)
            r.requirement = val;
        else if (strcmp(a, "--framing") == 0)
            r.framing = val;
        else if (strcmp(a, "--max-bytes") == 0) {
            r.max_bytes = strtoll(val, &end, 10);
            if (*end == 'k' || *end == 'K')
                r.max_bytes <<= 10, end++;
            else if (*end == 'M')
                r.max_bytes <<= 20, end++;
            if (*end || r.max_bytes <= 0) {
                fprintf(stderr, "echoconf record: --max-bytes %s: a positive count (k, M allowed)\n",
                        val);
                return 2;
            }
        } else if (strcmp(a, "--duration") == 0) {
            r.duration_s = strtod(val, &end);
            if (*end || r.duration_s <= 0) {
                fprintf(stderr, "echoconf record: --duration %s: positive seconds\n", val);
                return 2;
            }
        } else if (strcmp(a, "--idle") == 0) {
            r.idle_ms = (int)strtol(val, &end, 10);
            if (*end || r.idle_ms <= 0) {
                fprintf(stderr, "echoconf record: --idle %s: positive milliseconds\n", val);
                return 2;
            }
        } else {
            fprintf(stderr, "echoconf record: unknown option %s\n", a);
            rec_usage(stderr);
            return 2;
        }
    }
    if (!r.listen || !r.target || !r.out) {
        fprintf(stderr, "echoconf record: needs --listen, --target and --out\n");
        rec_usage(stderr);
        return 2;
    }
    char lhost[64] = "127.0.0.1";
    unsigned lport;
    if (strchr(r.listen, ':')) {
        if (parse_hostport(r.listen, lhost, sizeof lhost, &lport) < 0) {
            fprintf(stderr, "echoconf record: --listen %s: expected [ADDR:]PORT\n", r.listen);
            return 2;
        }
    } else {
        char *end;
        lport = (unsigned)strtoul(r.listen, &end, 10);
        if (*end || lport > 65535) {
            fprintf(stderr, "echoconf record: --listen %s: expected [ADDR:]PORT\n", r.listen);
            return 2;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_hostport(r.target, r.thost, sizeof r.thost, &r.tport) < 0 ||
        make_addr(r.thost, r.tport, &ss, &sl) < 0 || r.tport == 0) {
        fprintf(stderr, "echoconf record: --target %s: expected HOST:PORT (numeric address)\n",
                r.target);
        return 2;
    }
    if (make_addr(lhost, lport, &ss, &sl) < 0) {
        fprintf(stderr, "echoconf record: --listen %s: not a numeric address\n", r.listen);
        return 2;
    }
    /* The fixture's name must be the file's name (the loader insists). */
    {
        char stem[256];
        snprintf(stem, sizeof stem, "%s", base_name(r.out));
        size_t n = strlen(stem);
        if (n <= 5 || strcmp(stem + n - 5, ".json") != 0) {
            fprintf(stderr, "echoconf record: --out %s: must end in .json\n", r.out);
            return 2;
        }
        stem[n - 5] = 0;
        if (r.name && strcmp(r.name, stem) != 0) {
            fprintf(stderr,
                    "echoconf record: --name %s: a fixture's name is its file name (here "
                    "\"%s\"); name the --out file instead\n",
                    r.name, stem);
            return 2;
        }
        if (n - 5 >= 64) {
            fprintf(stderr, "echoconf record: --out %s: the name is longer than 63 characters\n",
                    r.out);
            return 2;
        }
    }
    int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "echoconf record: cannot listen on %s: %s\n", r.listen, strerror(errno));
        return 2;
    }
    struct sockaddr_storage la;
    socklen_t lal = sizeof la;
    getsockname(lfd, (struct sockaddr *)&la, &lal);
    char abuf[64];
    if (la.ss_family == AF_INET)
        snprintf(r.laddr, sizeof r.laddr, "%s:%u",
                 inet_ntop(AF_INET, &((struct sockaddr_in *)&la)->sin_addr, abuf, sizeof abuf),
                 ntohs(((struct sockaddr_in *)&la)->sin_port));
    else
        snprintf(r.laddr, sizeof r.laddr, "[%s]:%u",
                 inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&la)->sin6_addr, abuf, sizeof abuf),
                 ntohs(((struct sockaddr_in6 *)&la)->sin6_port));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    time_t wall = time(NULL);
    strftime(r.started_utc, sizeof r.started_utc, "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
    r.t0_us = now_us();
    printf("listening %s\n", r.laddr);
    fflush(stdout);

    int pidfd = -1;
    if (r.ncmd > 0) {
        r.child = fork();
        if (r.child == 0) {
            char **args = calloc((size_t)r.ncmd + 1, sizeof *args);
            for (int i = 0; i < r.ncmd; i++)
                args[i] = strcmp(r.cmd[i], "{}") == 0 ? r.laddr : r.cmd[i];
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            execvp(args[0], args);
            fprintf(stderr, "echoconf record: cannot run %s: %s\n", args[0], strerror(errno));
            _exit(127);
        }
        if (r.child < 0) {
            fprintf(stderr, "echoconf record: fork: %s\n", strerror(errno));
            return 2;
        }
        pidfd = (int)syscall(SYS_pidfd_open, r.child, 0);
    }

    int64_t deadline_us = r.duration_s > 0 ? r.t0_us + (int64_t)(r.duration_s * 1e6) : 0;
    int64_t idle_since = now_us();
    int refused = 0;
    char refused_msg[300] = "";
    struct pollfd *pf = calloc(2 * MAX_CONNS + 2, sizeof *pf);
    for (;;) {
        if (g_stop) {
            snprintf(r.stop_reason, sizeof r.stop_reason, "%s", g_stop == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM");
            break;
        }
        int64_t now = now_us();
        if (deadline_us && now >= deadline_us) {
            snprintf(r.stop_reason, sizeof r.stop_reason, "--duration %g s", r.duration_s);
            break;
        }
        int active = 0;
        for (int i = 0; i < r.nconns; i++)
            active += !r.conns[i]->ended;
        if (active)
            idle_since = now;
        if (refused && !active)
            break;
        if (r.child > 0 && r.child_done && !active) {
            snprintf(r.stop_reason, sizeof r.stop_reason,
                     "the client command exited and every connection ended");
            break;
        }
        if (r.child <= 0 && r.nconns > 0 && !active &&
            now - idle_since >= (int64_t)ec_scale_ms(r.idle_ms) * 1000) {
            snprintf(r.stop_reason, sizeof r.stop_reason,
                     "every connection ended (no connection for %d ms)", r.idle_ms);
            break;
        }
        if (r.nconns == MAX_CONNS && !active) {
            snprintf(r.stop_reason, sizeof r.stop_reason, "%d connections recorded (the most)",
                     MAX_CONNS);
            break;
        }
        int np = 0;
        int lidx = -1, pidx = -1;
        if (r.nconns < MAX_CONNS && !refused) {
            pf[np] = (struct pollfd){lfd, POLLIN, 0};
            lidx = np++;
        }
        if (pidfd >= 0 && !r.child_done) {
            pf[np] = (struct pollfd){pidfd, POLLIN, 0};
            pidx = np++;
        }
        int base = np;
        for (int i = 0; i < r.nconns; i++) {
            struct rconn *c = r.conns[i];
            short ce = 0, se = 0;
            if (!c->ended) {
                if (c->connecting) {
                    se = POLLOUT;
                } else {
                    if (!c->c_eof && c->c2s_len < RELAY_BUF)
                        ce |= POLLIN;
                    if (!c->s_eof && c->s2c_len < RELAY_BUF)
                        se |= POLLIN;
                    if (c->s2c_len || (c->s_eof && !c->s_fin_sent))
                        ce |= POLLOUT;
                    if (c->c2s_len || (c->c_eof && !c->c_fin_sent))
                        se |= POLLOUT;
                }
            }
            pf[base + 2 * i] = (struct pollfd){c->ended ? -1 : c->cfd, ce, 0};
            pf[base + 2 * i + 1] = (struct pollfd){c->ended ? -1 : c->sfd, se, 0};
            np += 2;
        }
        int timeout = 200;
        if (deadline_us) {
            int64_t left = (deadline_us - now) / 1000 + 1;
            if (left < timeout)
                timeout = (int)left;
        }
        int n = poll(pf, (nfds_t)np, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "echoconf record: poll: %s\n", strerror(errno));
            break;
        }
        if (pidx >= 0 && (pf[pidx].revents & POLLIN)) {
            if (waitpid(r.child, &r.child_status, 0) == r.child)
                r.child_done = 1;
        }
        if (pidfd < 0 && r.child > 0 && !r.child_done &&
            waitpid(r.child, &r.child_status, WNOHANG) == r.child)
            r.child_done = 1;
        for (int i = 0; i < r.nconns; i++) {
            struct rconn *c = r.conns[i];
            short cr = pf[base + 2 * i].revents, sr = pf[base + 2 * i + 1].revents;
            if (c->ended)
                continue;
            if (c->connecting) {
                if (!sr)
                    continue;
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    snprintf(refused_msg, sizeof refused_msg,
                             "echoconf record: the target %s refused connection c%d: %s; "
                             "nothing was written",
                             r.target, i, strerror(err));
                    refused = 1;
                    close(c->sfd);
                    c->sfd = -1;
                    conn_reset(c, 0);
                    continue;
                }
                c->connecting = 0;
                continue;
            }
            if ((sr & (POLLIN | POLLERR)) || ((sr & POLLHUP) && !c->s_eof))
                pump_in(&r, c, 0);
            if (!c->ended && ((cr & (POLLIN | POLLERR)) || ((cr & POLLHUP) && !c->c_eof)))
                pump_in(&r, c, 1);
            if (!c->ended && (c->c2s_len || (c->c_eof && !c->c_fin_sent)))
                pump_out(&r, c, 1);
            if (!c->ended && (c->s2c_len || (c->s_eof && !c->s_fin_sent)))
                pump_out(&r, c, 0);
            if (!c->ended && c->c_fin_sent && c->s_fin_sent) {
                close(c->cfd);
                close(c->sfd);
                c->cfd = c->sfd = -1;
                c->ended = 1;
            }
        }
        if (lidx >= 0 && (pf[lidx].revents & POLLIN)) {
            for (;;) {
                int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0)
                    break;
                if (r.nconns == MAX_CONNS) {
                    fprintf(stderr, "echoconf record: more than %d connections; this one is "
                                    "refused with a reset\n",
                            MAX_CONNS);
                    hard_reset(cfd);
                    continue;
                }
                struct rconn *c = calloc(1, sizeof *c);
                if (!c) {
                    hard_reset(cfd);
                    continue;
                }
                c->cfd = cfd;
                c->idx = r.nconns;
                c->t_accept_us = now_us() - r.t0_us;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                r.conns[r.nconns++] = c;
                if (connect_target(&r, c) < 0) {
                    snprintf(refused_msg, sizeof refused_msg,
                             "echoconf record: cannot connect to the target %s for c%d: %s; "
                             "nothing was written",
                             r.target, r.nconns - 1, strerror(errno));
                    refused = 1;
                    conn_reset(c, 0);
                }
            }
        }
    }
    free(pf);
    close(lfd);
    for (int i = 0; i < r.nconns; i++) {
        struct rconn *c = r.conns[i];
        if (c->cfd >= 0)
            close(c->cfd);
        if (c->sfd >= 0)
            close(c->sfd);
    }
    if (r.child > 0 && !r.child_done) {
        kill(r.child, SIGTERM);
        waitpid(r.child, &r.child_status, 0);
    }
    int rc;
    if (refused) {
        fprintf(stderr, "%s\n", refused_msg);
        rc = 3;
    } else if (r.nconns == 0) {
        fprintf(stderr, "echoconf record: no connection was made to %s (stopped: %s); nothing "
                        "was written\n",
                r.laddr, r.stop_reason);
        rc = 4;
    } else if (write_fixture(&r) < 0) {
        rc = 2;
    } else {
        size_t cb = 0, sb = 0;
        for (int i = 0; i < r.nconns; i++)
            cb += r.conns[i]->cbytes.len, sb += r.conns[i]->sbytes.len;
        printf("recorded %d connection%s (%zu client bytes, %zu server bytes) into %s "
               "(stopped: %s)\n",
               r.nconns, r.nconns == 1 ? "" : "s", cb, sb, r.out, r.stop_reason);
        rc = 0;
    }
    if (r.child > 0 && r.child_done && WIFEXITED(r.child_status) &&
        WEXITSTATUS(r.child_status) != 0)
        printf("the client command exited with status %d\n", WEXITSTATUS(r.child_status));
    for (int i = 0; i < r.nconns; i++) {
        free(r.conns[i]->cbytes.b);
        free(r.conns[i]->sbytes.b);
        free(r.conns[i]->evs);
        free(r.conns[i]);
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}
