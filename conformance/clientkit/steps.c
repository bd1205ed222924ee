/* steps.c - the client-side step primitives of steps.h: connections with their byte
 * history, write plans (chunks, bytewise, seeded random, MSG_MORE/TCP_CORK
 * coalescing, gaps, TCP_NODELAY), fill, bounded receives and the event timeline.
 * Socket calls go through lib's shim (ec_sock.h); only connect() of a socket that got
 * its buffer sizes first, and poll() over several descriptors, are made here.
 */
#include "steps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ec_sock.h"

#ifndef EC_DEFAULT_TIMEOUT_MULTIPLIER
#define EC_DEFAULT_TIMEOUT_MULTIPLIER 1.0
#endif

/* ---- time ------------------------------------------------------------------------ */

static double g_multiplier_flag;     /* 0: not set by a flag */
static double g_family_factor = 1.0; /* ec_set_timeout_family_factor */

int64_t ec_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ec_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t clock_us(void)
{
    return ec_clock_us();
}

void ec_set_timeout_multiplier(double m)
{
    if (m > 0)
        g_multiplier_flag = m;
}

double ec_timeout_multiplier(void)
{
    if (g_multiplier_flag > 0)
        return g_multiplier_flag;
    const char *env = getenv("ECHOCONF_TIMEOUT_MULTIPLIER");
    if (env && *env) {
        char *end;
        double m = strtod(env, &end);
        if (end != env && m > 0)
            return m;
    }
    return EC_DEFAULT_TIMEOUT_MULTIPLIER;
}

void ec_set_timeout_family_factor(double f)
{
    if (f > 0)
        g_family_factor = f;
}

int ec_scale_ms(int ms)
{
    if (ms <= 0)
        return ms;
    double v = (double)ms * ec_timeout_multiplier() * g_family_factor;
    if (v > 2.0e9)
        v = 2.0e9;
    return v < 1 ? 1 : (int)v;
}

/* ---- timeline -------------------------------------------------------------------- */

int ec_timeline_init(struct ec_timeline *tl, size_t cap)
{
    memset(tl, 0, sizeof *tl);
    pthread_mutex_init(&tl->mu, NULL);
    tl->t0_ns = clock_us() * 1000;
    tl->cap = cap;
    tl->ev = calloc(cap ? cap : 1, sizeof *tl->ev);
    return tl->ev ? 0 : -1;
}

void ec_timeline_free(struct ec_timeline *tl)
{
    free(tl->ev);
    tl->ev = NULL;
    pthread_mutex_destroy(&tl->mu);
}

int64_t ec_timeline_now_us(const struct ec_timeline *tl)
{
    return clock_us() - tl->t0_ns / 1000;
}

void ec_timeline_add(struct ec_timeline *tl, const char *who, const char *what, long long size,
                     int err, const char *note)
{
    if (!tl)
        return;
    int64_t t = ec_timeline_now_us(tl);
    pthread_mutex_lock(&tl->mu);
    if (tl->n < tl->cap) {
        struct ec_event *e = &tl->ev[tl->n++];
        e->t_us = t;
        snprintf(e->who, sizeof e->who, "%s", who ? who : "");
        snprintf(e->what, sizeof e->what, "%s", what ? what : "");
        e->size = size;
        e->err = err;
        snprintf(e->note, sizeof e->note, "%s", note ? note : "");
    } else {
        tl->dropped++;
    }
    pthread_mutex_unlock(&tl->mu);
}

/* ---- payloads -------------------------------------------------------------------- */

uint64_t ec_default_seed(void)
{
    return (uint64_t)(ec_clock_ms() ^ ((int64_t)getpid() << 16)) % 1000000007u;
}

uint64_t ec_rand_next(uint64_t *state)
{
    /* xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift
     * generators"): small, fast and good enough for chunk sizes and patterns. */
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void ec_pattern_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t off)
{
    /* Each 8-byte block of the stream is a hash of (seed, block number), so any slice
     * can be produced without generating what comes before it. */
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = off + i;
        uint64_t block = pos / 8;
        uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (block + 0x632BE59BD9B4E019ull);
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 29;
        x *= 0x94D049BB133111EBull;
        x ^= x >> 32;
        buf[i] = (unsigned char)(x >> (8 * (pos % 8)));
    }
}

const char *ec_plan_name(const struct ec_write_plan *p, char *buf, size_t len)
{
    switch (p->kind) {
    case EC_PLAN_ASIS:
        snprintf(buf, len, "as-is");
        break;
    case EC_PLAN_BYTEWISE:
        snprintf(buf, len, "bytewise");
        break;
    case EC_PLAN_RANDOM:
        snprintf(buf, len, "random seed=%llu", (unsigned long long)p->seed);
        break;
    case EC_PLAN_SPLIT:
        snprintf(buf, len, "split@%zu", p->split_at);
        break;
    case EC_PLAN_COALESCE:
        snprintf(buf, len, "coalesce");
        break;
    case EC_PLAN_CHUNKS: {
        size_t o = (size_t)snprintf(buf, len, "chunks[");
        for (size_t i = 0; i < p->nchunks && o < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%zu", i ? "," : "", p->chunks[i]);
        if (o < len)
            snprintf(buf + o, len - o, "]");
        break;
    }
    }
    return buf;
}

static const char *const plan_kinds[] = {"as-is",  "chunks", "bytewise",
                                         "random", "split",  "coalesce"};

int ec_plan_kind_parse(const char *name, enum ec_plan_kind *k)
{
    for (size_t i = 0; i < sizeof plan_kinds / sizeof plan_kinds[0]; i++)
        if (strcmp(name, plan_kinds[i]) == 0) {
            *k = (enum ec_plan_kind)i;
            return 0;
        }
    return -1;
}

void ec_plan_finish(struct ec_write_plan *p)
{
    if (p->kind == EC_PLAN_BYTEWISE && p->nodelay < 0)
        p->nodelay = 1; /* bytewise means one segment per byte: Nagle must not merge them */
}

/* The --plan names of the overrides (split@K aside). */
static const struct {
    const char *name;
    enum ec_plan_override ov;
} override_names[] = {{"fixture", EC_OV_FIXTURE},
                      {"as-is", EC_OV_ASIS},
                      {"bytewise", EC_OV_BYTEWISE},
                      {"random", EC_OV_RANDOM},
                      {"coalesce", EC_OV_COALESCE}};

int ec_plan_override_parse(const char *spec, enum ec_plan_override *ov, size_t *split_at)
{
    *split_at = 0;
    for (size_t i = 0; i < sizeof override_names / sizeof override_names[0]; i++)
        if (strcmp(spec, override_names[i].name) == 0) {
            *ov = override_names[i].ov;
            return 0;
        }
    if (strncmp(spec, "split@", 6) == 0 && atoi(spec + 6) > 0) {
        *ov = EC_OV_SPLIT;
        *split_at = (size_t)atoi(spec + 6);
        return 0;
    }
    return -1;
}

const char *ec_plan_override_spec(enum ec_plan_override ov, size_t split_at, char *buf, size_t len)
{
    snprintf(buf, len, "split@%zu", split_at);
    for (size_t i = 0; i < sizeof override_names / sizeof override_names[0]; i++)
        if (override_names[i].ov == ov)
            snprintf(buf, len, "%s", override_names[i].name);
    return buf;
}

struct ec_write_plan ec_plan_override(const struct ec_write_plan *own, int fixed,
                                      enum ec_plan_override ov, size_t split_at, uint64_t seed,
                                      size_t total)
{
    struct ec_write_plan p;
    if (fixed || ov == EC_OV_FIXTURE)
        return *own;
    memset(&p, 0, sizeof p);
    p.nodelay = own->nodelay;
    switch (ov) {
    case EC_OV_ASIS:
        p.kind = EC_PLAN_ASIS;
        break;
    case EC_OV_BYTEWISE:
        if (total > EC_SWEEP_BYTEWISE_MAX)
            return *own; /* bytewise megabytes would take minutes: keep the plan */
        p.kind = EC_PLAN_BYTEWISE;
        p.nodelay = 1;
        break;
    case EC_OV_RANDOM:
        p.kind = EC_PLAN_RANDOM;
        p.seed = seed;
        p.max_chunk = total / 128 > 64 ? total / 128 : 64;
        p.nodelay = 1;
        break;
    case EC_OV_SPLIT:
        if (total > EC_SWEEP_SPLIT_MAX || total <= split_at)
            return *own;
        p.kind = EC_PLAN_SPLIT;
        p.split_at = split_at;
        p.nodelay = 1;
        break;
    case EC_OV_COALESCE:
        p.kind = EC_PLAN_COALESCE;
        break;
    case EC_OV_FIXTURE:
        break;
    }
    return p;
}

int ec_plan_separates(const struct ec_write_plan *p)
{
    return p->kind == EC_PLAN_CHUNKS || p->kind == EC_PLAN_BYTEWISE || p->kind == EC_PLAN_RANDOM ||
           p->kind == EC_PLAN_SPLIT;
}

const char *ec_delivery_name(enum ec_delivery d)
{
    static const char *const n[] = {"server-synchronised", "timed", "none"};
    return (unsigned)d < sizeof n / sizeof n[0] ? n[d] : "?";
}

/* ---- connections ------------------------------------------------------------------ */

const char *ec_rx_name(enum ec_rx rx)
{
    static const char *const names[] = {"ok", "eof", "reset", "error", "timeout", "data"};
    return (unsigned)rx < sizeof names / sizeof names[0] ? names[rx] : "?";
}

void ec_conn_init(struct ec_conn *c, const char *label, struct ec_timeline *tl)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->tl = tl;
    c->reading = 1;
    snprintf(c->label, sizeof c->label, "%s", label);
}

void ec_conn_free(struct ec_conn *c)
{
    if (c->fd >= 0)
        ec_sock_close(c->fd);
    c->fd = -1;
    free(c->sent);
    free(c->recvd);
    c->sent = c->recvd = NULL;
}

static void note(struct ec_conn *c, const char *what, long long size, int err, const char *txt)
{
    ec_timeline_add(c->tl, c->label, what, size, err, txt);
}

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    unsigned char *nb = realloc(*buf, ncap);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

static int oserr(int e)
{
    return ec_err_from_os(e);
}

/* One nonblocking send through the shim, EINTR retried. Returns the count or a
 * negative class (-EC_EWOULDBLOCK when the kernel takes nothing now). */
static ptrdiff_t send_now(int fd, const void *p, size_t n, int more)
{
    for (;;) {
        ptrdiff_t k = ec_send(fd, p, n, EC_MSG_DONTWAIT | (more ? EC_MSG_MORE : 0));
        if (k != -EC_EINTR)
            return k;
    }
}

int ec_conn_set_bufsizes(struct ec_conn *c, int rcvbuf, int sndbuf)
{
    if (rcvbuf > 0)
        c->rcvbuf = rcvbuf;
    if (sndbuf > 0)
        c->sndbuf = sndbuf;
    if (c->fd < 0)
        return 0;
    return ec_sock_set_bufsizes(c->fd, rcvbuf > 0 ? rcvbuf : 0, sndbuf > 0 ? sndbuf : 0);
}

int ec_conn_set_nodelay(struct ec_conn *c, int on)
{
    if (c->fd < 0)
        return -EC_ECLOSED;
    return ec_sock_set_nodelay(c->fd, on);
}

int ec_conn_connect(struct ec_conn *c, const char *host, unsigned port, int timeout_ms)
{
    /* A script may connect again after a close: that is a new stream, so its echo
     * bookkeeping starts over. */
    if (c->fd >= 0)
        ec_sock_close(c->fd);
    c->fd = -1;
    c->sent_len = c->recvd_len = c->recv_pos = 0;
    c->eof = c->err = c->wr_shut = c->closed = 0;
    c->pace_failed = 0;
    c->fin_before_send = c->reset_sent = 0;
    c->nmarks = 0;
    memset(&c->end, 0, sizeof c->end);
    c->connect_us = c->last_recv_us = clock_us();
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        note(c, "connect", -1, -EC_EINVAL, "bad address");
        return -EC_EINVAL;
    }
    ec_sock_t fd;
    int e = ec_sock_open(ss.ss_family, &fd);
    if (e == 0) {
        c->fd = fd;
        e = ec_sock_set_nonblocking(fd, 1);
    }
    if (e < 0) {
        note(c, "connect", -1, e, "socket()");
        return e;
    }
    int rc = ec_conn_set_bufsizes(c, c->rcvbuf, c->sndbuf);
    if (rc < 0) {
        note(c, "connect", -1, rc, "buffer sizes");
        return rc;
    }
    /* connect() itself: lib's ec_connect makes its own socket, and SO_RCVBUF must be
     * set before the handshake to size the window (tcp(7)). */
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        if (errno != EINPROGRESS) {
            e = oserr(errno);
            note(c, "connect", -1, e, NULL);
            return e;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int64_t deadline = ec_clock_ms() + timeout_ms;
        for (;;) {
            int64_t left = deadline - ec_clock_ms();
            if (left < 0)
                left = 0;
            int n = poll(&p, 1, (int)left);
            if (n > 0)
                break;
            if (n == 0) {
                note(c, "connect", -1, -EC_ETIMEDOUT, NULL);
                return -EC_ETIMEDOUT;
            }
            if (errno != EINTR) {
                e = oserr(errno);
                note(c, "connect", -1, e, "poll");
                return e;
            }
        }
        e = ec_sock_pending_error(fd);
        if (e < 0) {
            note(c, "connect", -1, e, NULL);
            return e;
        }
    }
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    char txt[40] = "";
    if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
        snprintf(txt, sizeof txt, "local port %u",
                 (unsigned)ntohs(me.ss_family == AF_INET
                                     ? ((struct sockaddr_in *)&me)->sin_port
                                     : ((struct sockaddr_in6 *)&me)->sin6_port));
    note(c, "connect", -1, 0, txt);
    c->connect_us = c->last_recv_us = clock_us();
    return 0;
}

/* How far the received history may run ahead of what was sent. An echo never sends
 * more than it got, so past this the peer is flooding: reading stops and the
 * connection ends as "unexpected data" instead of holding whatever a hostile server
 * sends (found by tests/clients' flood server: ec-echo reached 186 MiB). */
#define RECV_AHEAD_MAX ((size_t)1 << 20)

/* The most one drain() reads before it lets its caller look at the bytes (a peer
 * that always has more must not keep a caller from deciding). */
#define DRAIN_MAX ((size_t)256 << 10)

/* Records how the server ended the stream (once): when it arrived, the client's last
 * send and the last data before it, and how many bytes the client had sent by then
 * (from the ring of recent sends: a send made after the end arrived, before the
 * client noticed it, does not count). */
static void note_end(struct ec_conn *c, enum ec_rx kind)
{
    struct ec_conn_end *e = &c->end;
    if (e->kind)
        return;
    int64_t now = clock_us();
    e->kind = kind;
    e->seen_us = e->arrived_us = now;
    e->last_in_us = c->last_recv_us;
    e->recvd = c->recvd_len;
    e->wr_shut = c->wr_shut;
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    int64_t ksent = -1; /* the kernel's time of our last data segment, or -1 */
    /* A FIN carries an ACK, and tcp_ack() stamps every acceptable ACK (rcv_tstamp,
     * reported as tcpi_last_ack_recv); data stamps lrcvtime (tcpi_last_data_recv).
     * Both are "ms ago" at the time of the call, at jiffy resolution. A reset stamps
     * neither (tcp_validate_incoming() handles it before tcp_ack()). */
    if (kind == EC_RX_EOF && c->fd >= 0 &&
        getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
        tl >= offsetof(struct tcp_info, tcpi_last_ack_recv) + sizeof ti.tcpi_last_ack_recv) {
        e->kernel_times = 1;
        e->arrived_us = now - (int64_t)ti.tcpi_last_ack_recv * 1000;
        int64_t in = now - (int64_t)ti.tcpi_last_data_recv * 1000;
        e->last_in_us = in > c->connect_us ? in : c->connect_us;
        if (e->last_in_us > e->arrived_us)
            e->last_in_us = e->arrived_us;
        ksent = now - (int64_t)ti.tcpi_last_data_sent * 1000;
    }
    e->sent_before = (long long)c->sent_len;
    e->last_out_us = c->connect_us;
    size_t have = c->nmarks < EC_SEND_MARKS ? c->nmarks : EC_SEND_MARKS;
    size_t k = 0;
    for (; k < have; k++) {
        const struct ec_send_mark *m = &c->marks[(c->nmarks - 1 - k) % EC_SEND_MARKS];
        if (m->t_us > e->arrived_us) {
            e->sent_before = (long long)m->before;
            continue;
        }
        e->last_out_us = m->t_us;
        /* The mark is stamped once send() returned, and on a loaded machine the
         * client thread may wait for a CPU before it does (1,100 clients on two
         * cores: a mark 100 ms late made a 200 ms silence read 100). The kernel
         * stamped the segment when it went out (lsndtime, tcpi_last_data_sent), which
         * on loopback is inside that send(): the earlier of the two is the send. */
        if (ksent >= c->connect_us && ksent < e->last_out_us)
            e->last_out_us = ksent;
        break;
    }
    if (k == have && c->nmarks > EC_SEND_MARKS) {
        e->sent_before = -1; /* every remembered send came after it: unknown */
        e->last_out_us = -1;
    }
}

/* One nonblocking recv into the history. Returns >0 bytes, 0 at EOF (sets c->eof),
 * -EC_EWOULDBLOCK when nothing is there, or another negative class (sets c->err;
 * -EC_ETOOLONG when the peer sent RECV_AHEAD_MAX bytes more than it was sent). */
static long long recv_once(struct ec_conn *c)
{
    if (c->fd < 0)
        return -EC_ECLOSED;
    if (c->eof)
        return 0;
    if (c->err)
        return c->err;
    if (c->recvd_len >= c->sent_len + RECV_AHEAD_MAX) {
        c->err = -EC_ETOOLONG;
        note(c, "recv", -1, c->err, "the peer sent 1 MiB more than it was sent: reading stops");
        return c->err;
    }
    if (grow(&c->recvd, &c->recvd_cap, c->recvd_len + 65536) < 0)
        return -EC_ENOMEM;
    for (;;) {
        ptrdiff_t n = ec_recv(c->fd, c->recvd + c->recvd_len, 65536, EC_MSG_DONTWAIT);
        if (n > 0) {
            c->recvd_len += (size_t)n;
            c->last_recv_us = clock_us();
            note(c, "recv", n, 0, NULL);
            return n;
        }
        if (n == 0) {
            c->eof = 1;
            note(c, "eof", -1, 0, NULL);
            note_end(c, EC_RX_EOF);
            return 0;
        }
        if (n == -EC_EINTR)
            continue;
        if (n == -EC_EWOULDBLOCK)
            return n;
        c->err = (int)n;
        note(c, "recv", -1, c->err, NULL);
        note_end(c, n == -EC_ECONNRESET ? EC_RX_RESET : EC_RX_ERROR);
        return c->err;
    }
}

static enum ec_rx rx_of(const struct ec_conn *c)
{
    if (c->err == -EC_ECONNRESET)
        return EC_RX_RESET;
    if (c->err == -EC_ETOOLONG)
        return EC_RX_DATA;
    if (c->err)
        return EC_RX_ERROR;
    if (c->eof)
        return EC_RX_EOF;
    return EC_RX_OK;
}

/* Reads everything available now. Returns EC_RX_OK or the end met. */
static enum ec_rx drain(struct ec_conn *c)
{
    size_t before = c->recvd_len;
    while (c->recvd_len - before < DRAIN_MAX) {
        long long n = recv_once(c);
        if (n == -EC_EWOULDBLOCK)
            return EC_RX_OK;
        if (n <= 0)
            return rx_of(c);
    }
    return EC_RX_OK;
}

static int ms_left(int64_t deadline_ms)
{
    int64_t left = deadline_ms - ec_clock_ms();
    if (left < 0)
        return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

/* Waits until c is readable or the deadline passes. Returns EC_RX_OK to read again,
 * EC_RX_TIMEOUT, or EC_RX_ERROR (no socket, or poll failed). */
static enum ec_rx wait_readable(struct ec_conn *c, int64_t deadline_ms)
{
    if (c->fd < 0)
        return EC_RX_ERROR;
    int left = ms_left(deadline_ms);
    if (left == 0)
        return EC_RX_TIMEOUT;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, left) < 0 && errno != EINTR) {
        c->err = oserr(errno);
        return EC_RX_ERROR;
    }
    return EC_RX_OK;
}

/* One wait of a receive that got nothing. With c->stalled, first asks it (when ask is
 * set) whether the stall since `blocked` is proven (then EC_RX_TIMEOUT), and cuts the
 * wait to 20 ms so that it is asked again soon; a cut wait that times out is EC_RX_OK
 * (look again), the deadline's own is EC_RX_TIMEOUT. */
static enum ec_rx wait_or_stall(struct ec_conn *c, int ask, int64_t blocked, int64_t deadline_ms)
{
    int64_t until = deadline_ms;
    if (c->stalled) {
        if (ask && c->stalled(c, c->stalled_arg, blocked))
            return EC_RX_TIMEOUT;
        if (until > ec_clock_ms() + 20)
            until = ec_clock_ms() + 20;
    }
    enum ec_rx r = wait_readable(c, until);
    return r == EC_RX_TIMEOUT && until < deadline_ms ? EC_RX_OK : r;
}

enum ec_rx ec_conn_recv_until(struct ec_conn *c, size_t want, int64_t deadline_ms)
{
    int64_t blocked = -1; /* since when nothing came (ec_clock_ms), with c->stalled */
    size_t seen = c->recvd_len;
    for (;;) {
        if (c->recvd_len >= want)
            return EC_RX_OK;
        enum ec_rx r = drain(c);
        if (c->recvd_len >= want)
            return EC_RX_OK;
        if (r != EC_RX_OK)
            return r;
        int ask = c->stalled && c->recvd_len == seen && blocked >= 0;
        if (c->stalled && !ask) {
            seen = c->recvd_len;
            blocked = ec_clock_ms();
        }
        r = wait_or_stall(c, ask, blocked, deadline_ms);
        if (r != EC_RX_OK)
            return r;
    }
}

enum ec_rx ec_conn_recv_some(struct ec_conn *c, int64_t deadline_ms)
{
    return ec_conn_recv_until(c, c->recvd_len + 1, deadline_ms);
}

enum ec_rx ec_conn_wait_end(struct ec_conn *c, int64_t deadline_ms)
{
    size_t before = c->recvd_len;
    int64_t blocked = ec_clock_ms(); /* nothing came since (for c->stalled) */
    for (;;) {
        enum ec_rx r = drain(c);
        if (c->recvd_len > before)
            return EC_RX_DATA;
        if (r != EC_RX_OK)
            return r;
        r = wait_or_stall(c, c->stalled != NULL, blocked, deadline_ms);
        if (r != EC_RX_OK)
            return r;
    }
}

enum ec_rx ec_conn_pump(struct ec_conn *c, int ms)
{
    if (!c->reading || c->fd < 0)
        return EC_RX_OK;
    enum ec_rx r = drain(c);
    if (r != EC_RX_OK || ms <= 0)
        return r;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, ms) > 0)
        r = drain(c);
    return r;
}

static int record_sent(struct ec_conn *c, const unsigned char *p, size_t n)
{
    if (grow(&c->sent, &c->sent_cap, c->sent_len + n) < 0)
        return -EC_ENOMEM;
    memcpy(c->sent + c->sent_len, p, n);
    c->marks[c->nmarks++ % EC_SEND_MARKS] =
        (struct ec_send_mark){.t_us = clock_us(), .before = c->sent_len, .after = c->sent_len + n};
    c->sent_len += n;
    return 0;
}

/* Sends all of p[0..n) as one logical write (possibly several send() calls when the
 * kernel takes less), draining echo while waiting; more: MSG_MORE on each call. */
static long long send_all(struct ec_conn *c, const unsigned char *p, size_t n, int more,
                          int64_t deadline_ms, const char *plan)
{
    size_t off = 0;
    int64_t blocked = -1; /* since when the kernel has taken nothing (ec_clock_ms) */
    while (off < n) {
        ptrdiff_t k = send_now(c->fd, p + off, n - off, more);
        if (k > 0) {
            note(c, "send", k, 0, more ? "MSG_MORE" : plan);
            if (record_sent(c, p + off, (size_t)k) < 0)
                return -EC_ENOMEM;
            off += (size_t)k;
            blocked = -1;
            continue;
        }
        if (k < 0 && k != -EC_EWOULDBLOCK) {
            note(c, "send", -1, (int)k, NULL);
            return k;
        }
        /* The kernel refuses more for now: wait for room, and keep reading the echo
         * meanwhile, or the peer may block on its own send and never read ours. */
        int left = ms_left(deadline_ms);
        if (left == 0) {
            note(c, "send", -1, -EC_ETIMEDOUT, "kernel took no more");
            return -EC_ETIMEDOUT;
        }
        if (blocked < 0)
            blocked = ec_clock_ms();
        if (c->stalled) {
            if (c->stalled(c, c->stalled_arg, blocked)) {
                note(c, "send", -1, -EC_ETIMEDOUT, "kernel took no more: stall proven");
                return -EC_ETIMEDOUT;
            }
            if (left > 20)
                left = 20;
        }
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        if (c->reading && !c->eof && !c->err)
            pf.events |= POLLIN;
        if (poll(&pf, 1, left) < 0 && errno != EINTR)
            return oserr(errno);
        if (pf.revents & POLLIN)
            drain(c);
    }
    return (long long)off;
}

/* A gap between two pieces of a plan (it makes segments leave apart), us
 * microseconds; while it passes, the echo is still drained. */
static void gap_wait(struct ec_conn *c, int64_t us)
{
    int64_t until = clock_us() + us;
    for (;;) {
        int64_t left = until - clock_us();
        if (left <= 0)
            return;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000),
                              .tv_nsec = (long)(left % 1000000) * 1000};
        int reading = c->reading && c->fd >= 0 && !c->eof && !c->err;
        struct pollfd p = {.fd = reading ? c->fd : -1, .events = POLLIN};
        if (ppoll(&p, 1, &ts, NULL) > 0 && reading)
            drain(c);
    }
}

/* Notes whether the peer's FIN arrived before we send (POLLRDHUP, Linux 2.6.17+): a
 * reset after such a send comes from the peer's kernel answering data sent to a
 * closed socket, and what the server did was close first. */
static void note_peer_fin(struct ec_conn *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
    if (c->fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLRDHUP))
        c->fin_before_send = 1;
}

static int set_cork(struct ec_conn *c, int on)
{
    return ec_sock_set_cork(c->fd, on);
}

long long ec_conn_send(struct ec_conn *c, const unsigned char *const *pieces, const size_t *lens,
                       size_t n, const struct ec_write_plan *plan, int timeout_ms)
{
    if (c->fd < 0) {
        note(c, "send", -1, -EC_ECLOSED, "not connected");
        return -EC_ECLOSED;
    }
    char pname[64];
    ec_plan_name(plan, pname, sizeof pname);
    note_peer_fin(c);
    /* A separating plan is synchronised by the server's log when we can read it;
     * otherwise its pieces leave apart by TCP_NODELAY and a gap, which only makes
     * separate recvs likely. */
    int separate = ec_plan_separates(plan);
    int sync = separate && c->pace && !c->pace_failed;
    int64_t gap_us = (int64_t)plan->gap_ms * 1000;
    if (separate && !sync && gap_us < EC_TIMED_GAP_US)
        gap_us = EC_TIMED_GAP_US;
    int nodelay = separate && !sync ? 1 : plan->nodelay;
    if (nodelay >= 0) {
        int rc = ec_conn_set_nodelay(c, nodelay);
        if (rc < 0)
            return rc;
    }
    int pieces_after = 0; /* pieces sent after an earlier one (delivery is then said) */
    int64_t deadline = ec_clock_ms() + timeout_ms;
    long long total = 0;
    uint64_t rs = plan->seed;
    size_t chunk_i = 0;
    int first = 1;

    if (plan->kind == EC_PLAN_COALESCE) {
        /* MSG_MORE on every piece and TCP_CORK around them: Linux holds partial
         * segments until the cork is released (tcp(7)), so the pieces leave together. */
        int rc = set_cork(c, 1);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            long long k = send_all(c, pieces[i], lens[i], 1, deadline, pname);
            if (k < 0) {
                set_cork(c, 0);
                return k;
            }
            total += k;
        }
        rc = set_cork(c, 0);
        note(c, "uncork", -1, rc, NULL);
        return rc < 0 ? rc : total;
    }

    for (size_t i = 0; i < n; i++) {
        size_t off = 0, len = lens[i];
        size_t piece_chunk = 0; /* chunks sent of this piece (SPLIT) */
        if (len == 0) {
            /* A zero-length send is a real call (it puts nothing on the wire, but a
             * server must not take it for anything): make it and record it. */
            ptrdiff_t k = send_now(c->fd, "", 0, 0);
            note(c, "send", 0, k < 0 ? (int)k : 0, "zero-length");
            continue;
        }
        while (off < len) {
            size_t want = len - off;
            switch (plan->kind) {
            case EC_PLAN_BYTEWISE:
                want = 1;
                break;
            case EC_PLAN_CHUNKS:
                if (chunk_i < plan->nchunks)
                    want = plan->chunks[chunk_i++];
                break;
            case EC_PLAN_RANDOM: {
                size_t maxc = plan->max_chunk ? plan->max_chunk : 64;
                want = 1 + (size_t)(ec_rand_next(&rs) % maxc);
                break;
            }
            case EC_PLAN_SPLIT:
                if (piece_chunk == 0 && plan->split_at > 0)
                    want = plan->split_at;
                break;
            case EC_PLAN_ASIS:
            case EC_PLAN_COALESCE:
                break;
            }
            if (want > len - off)
                want = len - off;
            if (sync && c->sent_len > 0) {
                /* Server-synchronised: the piece goes once the server took all
                 * before it, so it meets the server in a recv of its own. */
                pieces_after += !first;
                if (c->pace(c, c->pace_arg, deadline) < 0) {
                    /* The server took nothing until the step's deadline (it stopped
                     * reading, closed, or died): the rest goes without waiting, and
                     * without a gap, since bytes the server does not read pile up
                     * in its queue however they are sent. */
                    sync = 0;
                    c->pace_failed = 1;
                    ec_conn_set_nodelay(c, 1);
                    note(c, "pace", -1, -EC_ETIMEDOUT, "no server recv: rest unpaced");
                } else {
                    /* Measured: a 4,096-byte bytewise send to a Wine server takes about
                     * 1 ms a byte, more than the send's 2 s, and its last half went
                     * unpaced. A server still taking pieces has not stopped. */
                    int64_t d = ec_clock_ms() + timeout_ms;
                    if (d > c->pace_until)
                        d = c->pace_until;
                    if (d > deadline)
                        deadline = d;
                }
            } else if (!first) {
                pieces_after++;
            }
            if (!first && (plan->gap_ms > 0 || (gap_us > 0 && pieces_after < EC_TIMED_GAP_PIECES)))
                gap_wait(c, gap_us);
            first = 0;
            long long k = send_all(c, pieces[i] + off, want, 0, deadline, pname);
            if (k < 0)
                return k;
            total += k;
            off += want;
            piece_chunk++;
        }
    }
    if (separate && pieces_after)
        c->delivered = sync ? EC_DELIVERY_SYNC : EC_DELIVERY_TIMED;
    if (c->reading)
        ec_conn_pump(c, 0);
    return total;
}

long long ec_conn_fill(struct ec_conn *c, size_t max, uint64_t seed, int settle_ms, int timeout_ms)
{
    if (c->fd < 0)
        return -EC_ECLOSED;
    unsigned char buf[16384];
    long long total = 0;
    note_peer_fin(c);
    int64_t deadline = ec_clock_ms() + timeout_ms;
    int64_t blocked = -1; /* since when the kernel has taken nothing (ec_clock_ms) */
    int proven = 0;
    while ((size_t)total < max) {
        size_t want = max - (size_t)total;
        if (want > sizeof buf)
            want = sizeof buf;
        ec_pattern_fill(buf, want, seed, c->sent_len);
        ptrdiff_t k = send_now(c->fd, buf, want, 0);
        if (k > 0) {
            if (record_sent(c, buf, (size_t)k) < 0)
                return -EC_ENOMEM;
            total += k;
            blocked = -1;
            continue;
        }
        if (k < 0 && k != -EC_EWOULDBLOCK) {
            note(c, "fill", total, (int)k, NULL);
            return k;
        }
        int left = ms_left(deadline);
        if (left == 0)
            break;
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        if (!c->stalled) {
            int w = poll(&pf, 1, settle_ms < left ? settle_ms : left);
            if (w == 0)
                break; /* the kernel refused more for settle_ms: the pipe is full */
            continue;
        }
        /* A refusal for settle_ms also comes from a server that only waited that long
         * for a CPU (a loaded machine) and reads on later: then the pipe is not full
         * yet, and the server's send side may never fill. Full is a refusal while the
         * server sleeps (it stopped reading); looked at every 20 ms. */
        if (blocked < 0)
            blocked = ec_clock_ms();
        if (poll(&pf, 1, left < 20 ? left : 20) > 0)
            continue;
        if (ec_clock_ms() - blocked >= settle_ms && c->stalled(c, c->stalled_arg, blocked)) {
            proven = 1;
            break;
        }
    }
    /* Say why it stopped: a full connection is the point; reaching max or the
     * deadline means the connection could take more. */
    note(c, "fill", total, 0,
         (size_t)total >= max        ? "stopped at max, not full"
         : proven                    ? "full: the kernel refused more while the server slept"
         : ec_clock_ms() >= deadline ? "stopped at the deadline"
                                     : "full: the kernel refused more");
    return total;
}

int ec_conn_shutdown_wr(struct ec_conn *c)
{
    if (c->fd < 0)
        return -EC_ECLOSED;
    int rc = ec_sock_shutdown_wr(c->fd);
    c->wr_shut = 1;
    note(c, "shutdown", -1, rc, "SHUT_WR");
    return rc;
}

int ec_conn_close(struct ec_conn *c)
{
    if (c->fd < 0)
        return 0;
    /* Unread bytes in the kernel's receive queue turn the close into RST. */
    int unread = 0;
    if (ioctl(c->fd, FIONREAD, &unread) < 0)
        unread = 0;
    c->reset_sent = unread > 0;
    int rc = ec_sock_close(c->fd);
    c->fd = -1;
    c->closed = 1;
    note(c, "close", -1, rc, unread > 0 ? "RST: unread data" : NULL);
    return rc;
}

int ec_conn_abort(struct ec_conn *c)
{
    if (c->fd < 0)
        return 0;
    /* SO_LINGER {1, 0}: close() discards unsent data and sends RST (socket(7)). */
    int rc = ec_sock_abort(c->fd);
    c->fd = -1;
    c->closed = 1;
    c->reset_sent = 1;
    note(c, "abort", -1, rc, "RST");
    return rc;
}
