/* bench_load.c - the load generator of `echoconf bench` (see bench_load.h).
 *
 * Every connection sends message after message of `size` bytes taken from one shared,
 * read-only pattern at an offset that depends on the connection and the message, so
 * that an echo sent to the wrong client or a stale message is a wrong byte too. Each
 * client thread runs a level-triggered epoll loop over its share of the connections:
 * one recv per readiness into a per-thread scratch buffer, compared with memcmp
 * against the pattern, then as many sends as the depth allows. Latency is the time
 * from the first byte of a message going out to its last byte coming back, kept in a
 * log-linear histogram (1/32 relative resolution) so nothing is allocated per message.
 * The client sockets set TCP_NODELAY: the client must not add Nagle's delay of its own.
 */
#include "bench_load.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_SPREAD 251 /* message offsets into the pattern: a prime, so they vary */
#define SCRATCH_MAX    (256u * 1024u)
#define HIST_LINEAR    64 /* 0.1 us units below this are exact */
#define HIST_SUB       32 /* sub-buckets per power of two above */
#define HIST_BUCKETS   (HIST_LINEAR + 58 * HIST_SUB)

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

struct lconn {
    int fd, id;
    int want_out;      /* EPOLLOUT is in the interest set */
    uint64_t tx_msg;   /* the message being sent */
    size_t tx_pos;     /* its bytes sent */
    uint64_t rx_msg;   /* the message being received */
    size_t rx_pos;     /* its bytes received */
    int64_t last_ns;   /* the last byte received (or the start) */
    uint64_t measured; /* round trips completed in the window */
    int64_t *sent_ns;  /* [depth]: when message k's first byte went out, at k % depth */
};

struct lthread {
    struct load *L;
    pthread_t th;
    int started;
    int cpu;
    int ep;
    struct lconn *conns;
    int nconns;
    unsigned char *scratch;
    size_t scratch_len;
    uint64_t hist[HIST_BUCKETS];
    uint64_t count; /* round trips completed in the window */
    int64_t max_ns;
    int64_t cpu_start; /* this thread's CPU time at the window's start (ns) */
    int64_t cpu_end;   /* and when it left its loop (the CPU clock of a thread that has
                        * ended cannot be read) */
};

struct load {
    const struct ec_bench_load_cfg *cfg;
    const unsigned char *pattern;
    atomic_int phase;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed; /* under mu */
    char error[512];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records the first error (later ones are consequences) and ends the run. */
static void load_fail(struct load *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void load_fail(struct load *L, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&L->mu);
    if (!L->failed) {
        L->failed = 1;
        va_start(ap, fmt);
        vsnprintf(L->error, sizeof L->error, fmt, ap);
        va_end(ap);
    }
    atomic_store(&L->phase, PHASE_STOP);
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

static size_t msg_offset(int conn, uint64_t msg)
{
    return (size_t)(((uint64_t)conn * 37u + msg * 11u) % PATTERN_SPREAD);
}

static int hist_index(int64_t ns)
{
    uint64_t u = (uint64_t)(ns < 0 ? 0 : ns) / 100u;
    if (u < HIST_LINEAR)
        return (int)u;
    int e = 63 - __builtin_clzll(u); /* >= 6 */
    int idx = HIST_LINEAR + (e - 6) * HIST_SUB + (int)((u >> (e - 5)) & (HIST_SUB - 1));
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of bucket idx, in microseconds. */
static double hist_value_us(int idx)
{
    if (idx < HIST_LINEAR)
        return idx / 10.0;
    int e = (idx - HIST_LINEAR) / HIST_SUB + 6, sub = (idx - HIST_LINEAR) % HIST_SUB;
    double lo = (double)((uint64_t)(HIST_SUB + sub) << (e - 5));
    double width = (double)(1ull << (e - 5));
    return (lo + width / 2) / 10.0;
}

static double hist_percentile(const uint64_t *h, uint64_t count, double p)
{
    uint64_t rank = (uint64_t)(p * (double)count + 0.999999), seen = 0;
    if (rank == 0)
        rank = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank)
            return hist_value_us(i);
    }
    return 0;
}

static void set_interest(struct lthread *t, struct lconn *c, int want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

/* Sends until depth messages are in flight or the socket is full. 0, or -1 on error. */
static int conn_send(struct lthread *t, struct lconn *c)
{
    const struct ec_bench_load_cfg *cfg = t->L->cfg;
    while (c->tx_msg - c->rx_msg < (uint64_t)cfg->depth) {
        const unsigned char *p = t->L->pattern + msg_offset(c->id, c->tx_msg) + c->tx_pos;
        if (c->tx_pos == 0)
            c->sent_ns[c->tx_msg % (uint64_t)cfg->depth] = now_ns();
        ssize_t w = send(c->fd, p, cfg->size - c->tx_pos, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                set_interest(t, c, 1);
                return 0;
            }
            load_fail(t->L, "connection %d: send failed after %llu messages: %s", c->id,
                      (unsigned long long)c->tx_msg, strerror(errno));
            return -1;
        }
        c->tx_pos += (size_t)w;
        if (c->tx_pos == cfg->size) {
            c->tx_pos = 0;
            c->tx_msg++;
        }
    }
    set_interest(t, c, 0);
    return 0;
}

/* Checks n received bytes against the stream and completes messages. 0, or -1. */
static int conn_take(struct lthread *t, struct lconn *c, const unsigned char *in, size_t n,
                     int64_t now, int measuring)
{
    const struct ec_bench_load_cfg *cfg = t->L->cfg;
    while (n > 0) {
        if (c->rx_msg == c->tx_msg && c->rx_pos >= c->tx_pos) {
            load_fail(t->L,
                      "connection %d: %zu byte(s) more than were sent came back (message %llu, "
                      "offset %zu): a wrong echo",
                      c->id, n, (unsigned long long)c->rx_msg, c->rx_pos);
            return -1;
        }
        size_t piece = cfg->size - c->rx_pos;
        if (piece > n)
            piece = n;
        const unsigned char *want = t->L->pattern + msg_offset(c->id, c->rx_msg) + c->rx_pos;
        if (memcmp(want, in, piece) != 0) {
            size_t k = 0;
            while (want[k] == in[k])
                k++;
            load_fail(t->L,
                      "connection %d: wrong byte in the echo of message %llu at offset %zu "
                      "(stream offset %llu): expected 0x%02x, got 0x%02x",
                      c->id, (unsigned long long)c->rx_msg, c->rx_pos + k,
                      (unsigned long long)(c->rx_msg * cfg->size + c->rx_pos + k), want[k], in[k]);
            return -1;
        }
        c->rx_pos += piece;
        in += piece;
        n -= piece;
        if (c->rx_pos == cfg->size) {
            if (measuring) {
                int64_t rtt = now - c->sent_ns[c->rx_msg % (uint64_t)cfg->depth];
                t->hist[hist_index(rtt)]++;
                t->count++;
                c->measured++;
                if (rtt > t->max_ns)
                    t->max_ns = rtt;
            }
            c->rx_pos = 0;
            c->rx_msg++;
        }
    }
    c->last_ns = now;
    return 0;
}

static int conn_on_readable(struct lthread *t, struct lconn *c, int measuring)
{
    ssize_t r = recv(c->fd, t->scratch, t->scratch_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0) {
        load_fail(t->L, "connection %d: the server %s after %llu whole echoes", c->id,
                  r == 0 ? "closed the connection" : strerror(errno),
                  (unsigned long long)c->rx_msg);
        return -1;
    }
    if (conn_take(t, c, t->scratch, (size_t)r, now_ns(), measuring) < 0)
        return -1;
    return conn_send(t, c);
}

/* A connection owed bytes that has received none for stall_ms. */
static int check_stalls(struct lthread *t, int64_t now)
{
    int64_t bound = (int64_t)t->L->cfg->stall_ms * 1000000;
    for (int i = 0; i < t->nconns; i++) {
        struct lconn *c = &t->conns[i];
        int owed = c->tx_msg != c->rx_msg || c->tx_pos > c->rx_pos;
        if (owed && now - c->last_ns > bound) {
            load_fail(t->L,
                      "connection %d: stall: %llu message(s) owed, no byte back for %lld ms "
                      "(after %llu whole echoes)",
                      c->id, (unsigned long long)(c->tx_msg - c->rx_msg + (c->tx_pos > 0)),
                      (long long)((now - c->last_ns) / 1000000), (unsigned long long)c->rx_msg);
            return -1;
        }
    }
    return 0;
}

static void *thread_main(void *arg)
{
    struct lthread *t = arg;
    struct load *L = t->L;
    struct epoll_event evs[256];
    int64_t next_check = now_ns() + 100000000;
    if (t->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((size_t)t->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    for (int i = 0; i < t->nconns; i++) {
        struct lconn *c = &t->conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        c->last_ns = now_ns();
        if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            load_fail(L, "epoll_ctl: %s", strerror(errno));
            return NULL;
        }
        if (conn_send(t, c) < 0)
            return NULL;
    }
    for (;;) {
        int ph = atomic_load_explicit(&L->phase, memory_order_relaxed);
        if (ph == PHASE_STOP) {
            t->cpu_end = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
            break;
        }
        int n = epoll_wait(t->ep, evs, 256, 20);
        if (n < 0 && errno != EINTR) {
            load_fail(L, "epoll_wait: %s", strerror(errno));
            break;
        }
        int measuring = ph == PHASE_MEASURE;
        for (int i = 0; i < n; i++) {
            struct lconn *c = evs[i].data.ptr;
            int r = 0;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                r = conn_on_readable(t, c, measuring);
            if (r == 0 && (evs[i].events & EPOLLOUT))
                r = conn_send(t, c);
            if (r < 0)
                return NULL;
        }
        int64_t now = now_ns();
        if (now >= next_check) {
            next_check = now + 100000000;
            if (check_stalls(t, now) < 0)
                break;
        }
    }
    return NULL;
}

/* Connects one socket within the deadline (nonblocking connect, poll). fd or -1. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, char *err, size_t len)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, len, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        snprintf(err, len, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t left = (deadline - now_ns()) / 1000000;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (left <= 0 || poll(&p, 1, (int)left) != 1) {
        snprintf(err, len, "connect: not connected within the bound");
        close(fd);
        return -1;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
        snprintf(err, len, "connect: %s", strerror(soerr));
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits until the clock reaches at, or the run failed. 1 when it failed. */
static int wait_until(struct load *L, int64_t at)
{
    struct timespec ts = {.tv_sec = (time_t)(at / 1000000000), .tv_nsec = (long)(at % 1000000000)};
    pthread_mutex_lock(&L->mu);
    while (!L->failed) {
        if (pthread_cond_timedwait(&L->cv, &L->mu, &ts) == ETIMEDOUT)
            break;
    }
    int failed = L->failed;
    pthread_mutex_unlock(&L->mu);
    return failed;
}

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

int ec_bench_load_run(const struct ec_bench_load_cfg *cfg, struct ec_bench_load_result *res,
                      void (*on_window)(void *arg, int end), void *arg)
{
    struct load L = {.cfg = cfg};
    struct lthread *ts = calloc((size_t)cfg->nthreads, sizeof *ts);
    struct lconn *conns = calloc((size_t)cfg->conns, sizeof *conns);
    int64_t *sent = calloc((size_t)cfg->conns * (size_t)cfg->depth, sizeof *sent);
    unsigned char *pattern = malloc(cfg->size + PATTERN_SPREAD);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    int rc = -1, nthreads = cfg->nthreads;
    memset(res, 0, sizeof *res);
    pthread_mutex_init(&L.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&L.cv, &ca);
    atomic_init(&L.phase, PHASE_WARMUP);
    if (!ts || !conns || !sent || !pattern) {
        snprintf(res->error, sizeof res->error, "out of memory");
        goto out;
    }
    fill_pattern(pattern, cfg->size + PATTERN_SPREAD, cfg->seed);
    L.pattern = pattern;
    for (int i = 0; i < cfg->conns; i++)
        conns[i].fd = -1;
    snprintf(port, sizeof port, "%u", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(res->error, sizeof res->error, "%s: %s", cfg->host, gai_strerror(gai));
        rc = 0;
        goto out;
    }
    int64_t deadline = now_ns() + (int64_t)cfg->connect_ms * 1000000;
    for (int i = 0; i < cfg->conns; i++) {
        char err[200];
        conns[i].id = i;
        conns[i].sent_ns = sent + (size_t)i * (size_t)cfg->depth;
        conns[i].fd = connect_one(ai, deadline, err, sizeof err);
        if (conns[i].fd < 0) {
            snprintf(res->error, sizeof res->error, "connection %d of %d to %s:%u: %s", i,
                     cfg->conns, cfg->host, cfg->port, err);
            rc = 0;
            goto out;
        }
    }
    /* Connections are dealt out in turn, so each thread has its share. */
    size_t scratch = cfg->size * (size_t)cfg->depth;
    if (scratch < 65536)
        scratch = 65536;
    if (scratch > SCRATCH_MAX)
        scratch = SCRATCH_MAX;
    for (int k = 0; k < nthreads; k++) {
        struct lthread *t = &ts[k];
        t->L = &L;
        t->cpu = cfg->cpus[k];
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->conns = calloc((size_t)(cfg->conns / nthreads + 1), sizeof *t->conns);
        t->scratch = malloc(scratch);
        t->scratch_len = scratch;
        if (t->ep < 0 || !t->conns || !t->scratch) {
            snprintf(res->error, sizeof res->error, "out of memory or descriptors");
            goto out;
        }
    }
    for (int i = 0; i < cfg->conns; i++) {
        struct lthread *t = &ts[i % nthreads];
        t->conns[t->nconns++] = conns[i];
        conns[i].fd = -1; /* now owned by the thread */
    }
    for (int k = 0; k < nthreads; k++) {
        if (pthread_create(&ts[k].th, NULL, thread_main, &ts[k]) != 0) {
            load_fail(&L, "cannot start client thread %d", k);
            break;
        }
        ts[k].started = 1;
    }
    rc = 0;
    int64_t t0 = now_ns();
    if (!wait_until(&L, t0 + (int64_t)cfg->warmup_ms * 1000000)) {
        if (on_window)
            on_window(arg, 0);
        for (int k = 0; k < nthreads; k++) {
            clockid_t cid;
            ts[k].cpu_start = pthread_getcpuclockid(ts[k].th, &cid) == 0 ? cpu_ns(cid) : 0;
        }
        res->window_start_ns = (uint64_t)now_ns();
        atomic_store(&L.phase, PHASE_MEASURE);
        wait_until(&L, (int64_t)res->window_start_ns + (int64_t)cfg->duration_ms * 1000000);
        atomic_store(&L.phase, PHASE_STOP);
        res->window_end_ns = (uint64_t)now_ns();
        if (on_window)
            on_window(arg, 1);
    }
    atomic_store(&L.phase, PHASE_STOP);
    for (int k = 0; k < nthreads; k++)
        if (ts[k].started)
            pthread_join(ts[k].th, NULL);
    if (res->window_end_ns > res->window_start_ns) {
        double wall = (double)(res->window_end_ns - res->window_start_ns);
        for (int k = 0; k < nthreads; k++) {
            double use = (double)(ts[k].cpu_end - ts[k].cpu_start) / wall;
            if (ts[k].started && ts[k].cpu_end > 0 && use > res->client_cpu)
                res->client_cpu = use;
        }
    }
    if (L.failed) {
        snprintf(res->error, sizeof res->error, "%s", L.error);
        goto out;
    }
    static uint64_t hist[HIST_BUCKETS];
    memset(hist, 0, sizeof hist);
    int64_t max_ns = 0;
    for (int k = 0; k < nthreads; k++) {
        for (int i = 0; i < HIST_BUCKETS; i++)
            hist[i] += ts[k].hist[i];
        res->round_trips += ts[k].count;
        if (ts[k].max_ns > max_ns)
            max_ns = ts[k].max_ns;
    }
    res->seconds = (double)(res->window_end_ns - res->window_start_ns) / 1e9;
    /* A connection the server never answered in the whole window makes the others'
     * figure a lie about "N connections": an iterative or unfair server. */
    int idle = 0, first_idle = -1;
    for (int k = 0; k < nthreads; k++)
        for (int i = 0; i < ts[k].nconns; i++)
            if (ts[k].conns[i].measured == 0) {
                if (first_idle < 0 || ts[k].conns[i].id < first_idle)
                    first_idle = ts[k].conns[i].id;
                idle++;
            }
    if (idle > 0 && res->round_trips > 0) {
        snprintf(res->error, sizeof res->error,
                 "%d of %d connections (connection %d first) completed no round trip in the "
                 "%.1f s window while the others completed %llu: the server does not serve "
                 "them all at once (serialized or starved clients)",
                 idle, cfg->conns, first_idle, res->seconds, (unsigned long long)res->round_trips);
        goto out;
    }
    if (res->round_trips == 0) {
        snprintf(res->error, sizeof res->error,
                 "no round trip completed in the %.1f s window: the server stalls", res->seconds);
        goto out;
    }
    res->rt_per_s = (double)res->round_trips / res->seconds;
    res->mb_per_s = res->rt_per_s * (double)cfg->size / 1e6;
    res->p50_us = hist_percentile(hist, res->round_trips, 0.50);
    res->p99_us = hist_percentile(hist, res->round_trips, 0.99);
    res->p999_us = hist_percentile(hist, res->round_trips, 0.999);
    res->max_us = (double)max_ns / 1000.0;
    res->ok = 1;
out:
    if (ai)
        freeaddrinfo(ai);
    for (int k = 0; ts && k < nthreads; k++) {
        for (int i = 0; i < ts[k].nconns; i++)
            close(ts[k].conns[i].fd);
        if (ts[k].ep > 0)
            close(ts[k].ep);
        free(ts[k].conns);
        free(ts[k].scratch);
    }
    for (int i = 0; conns && i < cfg->conns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(ts);
    free(conns);
    free(sent);
    free(pattern);
    pthread_cond_destroy(&L.cv);
    pthread_mutex_destroy(&L.mu);
    return rc;
}
