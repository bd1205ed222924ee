/* misbehave.c - ec-misbehave: a small echo server that breaks the server contract in
 * one chosen way (--mode), so the engine's tests can show that each diagnosis fires
 * on the behaviour it names. Not a model: one poll() loop, raw echo, lib's listener
 * and log lines. It takes the server options the engine appends (--port, --framing,
 * --bufsize, --sndbuf, --quiet).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ec_log.h"
#include "ec_net.h"
#include "ec_sock.h"

enum mode {
    M_GOOD,         /* a correct echo server (control) */
    M_MISMATCH,     /* flips one bit of the 100th byte it echoes */
    M_TRUNCATE,     /* echoes half of the first read, then closes */
    M_HALFCLOSE,    /* on the client's FIN, closes without sending what is pending */
    M_SILENT,       /* reads and never answers */
    M_CRASH,        /* dies by SIGSEGV on the first data */
    M_DIE_ON_RESET, /* exits (status 3) when a client resets its connection */
    M_EXIT,         /* exits (status 4) after its first client leaves */
    M_LEAK,         /* shuts a client's socket down but never closes it */
    M_SPIN,         /* never sleeps: polls with a zero timeout */
    M_CLOSE_NOW,    /* accepts and closes at once */
    M_RESET,        /* answers the first data with an RST */
    M_REFRAME,      /* treats each read as a len32 frame and re-encodes it */
    M_NOLOG,        /* a correct echo, but logs no frame lines */
    M_EXTRA,        /* after the client's FIN, sends one byte more than it got */
    M_CROSSFEED,    /* echoes each client's bytes to the next client */
    M_NO_LISTEN,    /* closes its listener right after the readiness line */
    M_GARBAGE,      /* greets with 4 KiB of noise, then answers every byte inverted */
    M_FLOOD,        /* sends without end from the accept on, and never reads */
    M_NEVER_CLOSE,  /* echoes, but after the client's FIN never closes nor sends FIN */
    M_RESET_MID,    /* echoes half of the first read (mid-frame), then resets */
    M_HOARD,        /* echoes the first 64 bytes of a client, keeps all else it reads */
    M_HOLD,         /* reads and discards everything, never answers nor closes */
    M_IDLE,         /* closes a client that sent nothing for IDLE_MS (all echoed) */
    M_DUP,          /* echoes the chunk that crosses byte 1000 of a stream twice */
    M_REORDER,      /* holds the chunk that crosses byte 1000, echoes the next one first */
    M_LIE,          /* echoes each read but its last byte, and logs the whole read as sent */
    M_SLOW          /* a correct echo that sleeps SLOW_MS before each read */
};

static const char *const names[] = {
    "good",  "mismatch",  "truncate",  "halfclose", "silent", "crash",       "die-on-reset",
    "exit",  "leak",      "spin",      "close-now", "reset",  "reframe",     "nolog",
    "extra", "crossfeed", "no-listen", "garbage",   "flood",  "never-close", "reset-mid-frame",
    "hoard", "hold",      "idle",      "dup",       "reorder",     "lie",
    "slow"};

#define MAXC    256
#define IDLE_MS 200
#define SLOW_MS 10
#define MARK    1000

struct client {
    int fd;
    char peer[EC_ADDRSTRLEN];
    long long echoed;
    int gone;
    int ended;            /* never-close: the client's FIN came; the socket is left as it is */
    long long last_ms;    /* idle: when it last sent */
    unsigned char *later; /* reorder: the held chunk */
    size_t later_n;
    int swapped;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* hoard: every byte read and not echoed, never freed (the memory the engine's
 * unbounded-buffering check must see grow). */
static unsigned char *hoard;
static size_t hoard_len, hoard_cap;

static void keep(const unsigned char *b, size_t n)
{
    if (n == 0)
        return; /* nothing to hoard (and memcpy to a NULL hoard is undefined) */
    if (hoard_len + n > hoard_cap) {
        size_t cap = hoard_cap ? 2 * hoard_cap : 1 << 20;
        while (cap < hoard_len + n)
            cap *= 2;
        unsigned char *nb = realloc(hoard, cap);
        if (!nb)
            return;
        hoard = nb;
        hoard_cap = cap;
    }
    memcpy(hoard + hoard_len, b, n); /* touched: resident */
    hoard_len += n;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(struct client *c, int reason, enum mode m)
{
    ec_log_close(c->peer, reason);
    if (m == M_LEAK)
        shutdown(c->fd, SHUT_RDWR); /* the peer sees its end, the descriptor stays */
    else
        close(c->fd);
    c->gone = 1;
}

/* Sends all of b to client c, logging each send as every server does (the engine
 * sequences its clients by these lines). */
static void send_all(const struct client *c, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t k = send(c->fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        ec_log_send(c->peer, (size_t)k);
        b += k;
        n -= (size_t)k;
    }
}

int main(int argc, char **argv)
{
    enum mode m = M_GOOD;
    int framed = 0;
    int sndbuf = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            int found = 0;
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
                if (strcmp(names[k], v) == 0) {
                    m = (enum mode)k;
                    found = 1;
                }
            if (!found) {
                fprintf(stderr, "ec-misbehave: unknown --mode %s\n", v);
                return 2;
            }
        } else if (strcmp(argv[i], "--framing") == 0 && i + 1 < argc) {
            framed = strcmp(argv[++i], "raw") != 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            ec_log_set_quiet(1);
        } else if ((strcmp(argv[i], "--port") == 0 || strcmp(argv[i], "--bufsize") == 0) &&
                   i + 1 < argc) {
            i++; /* always an ephemeral port on 127.0.0.1; reads of 1024 bytes */
        } else if (strcmp(argv[i], "--sndbuf") == 0 && i + 1 < argc) {
            sndbuf = atoi(argv[++i]); /* on the listener: accepted sockets inherit it */
        } else {
            fprintf(stderr, "ec-misbehave: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    ec_net_init(); /* SIGPIPE ignored: a send to a reset peer is an error, not death */
    signal(SIGTERM, on_term);
    int ls;
    char err[200], name[EC_ADDRSTRLEN];
    if (ec_listen("127.0.0.1", 0, 128, &ls, err, sizeof err) < 0) {
        fprintf(stderr, "ec-misbehave: %s\n", err);
        return 1;
    }
    if (sndbuf > 0)
        ec_sock_set_bufsizes(ls, 0, sndbuf);
    ec_sock_local_name(ls, name, sizeof name);
    if (m == M_NO_LISTEN) {
        /* Alive, but nobody listens: every connect is refused. Closed before the
         * readiness line, so no client can reach the backlog first (it would be reset
         * when the listener closed, not refused). */
        close(ls);
        ls = -1;
    }
    ec_log_ready(name);

    static struct client cl[MAXC];
    int nc = 0, served = 0;
    while (!stop) {
        struct pollfd p[MAXC + 1];
        int map[MAXC + 1], n = 0;
        if (ls >= 0) {
            p[n] = (struct pollfd){.fd = ls, .events = POLLIN};
            map[n++] = -1;
        }
        for (int i = 0; i < nc; i++)
            if (!cl[i].gone && !cl[i].ended) {
                p[n] = (struct pollfd){.fd = cl[i].fd, .events = m == M_FLOOD ? POLLOUT : POLLIN};
                map[n++] = i;
            }
        int r = poll(p, (nfds_t)n, m == M_SPIN ? 0 : m == M_IDLE ? IDLE_MS / 10 : 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (m == M_IDLE) {
            /* Whoever sent nothing for IDLE_MS is closed: every byte was echoed at once,
             * so nothing is owed either way. */
            long long t = now_ms();
            for (int i = 0; i < nc; i++)
                if (!cl[i].gone && t - cl[i].last_ms >= IDLE_MS)
                    drop(&cl[i], 0, m);
        }
        for (int k = 0; k < n; k++) {
            if (m == M_FLOOD && map[k] >= 0 && p[k].revents) {
                /* Writable (or broken): another 64 KiB nobody asked for. */
                static unsigned char junk[65536];
                memset(junk, 'F', sizeof junk);
                struct client *c = &cl[map[k]];
                ssize_t w = send(c->fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                    drop(c, -EC_ECONNRESET, m);
                continue;
            }
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                int fd;
                char peer[EC_ADDRSTRLEN];
                if (ec_accept(ls, &fd, peer) < 0)
                    continue;
                if (nc >= MAXC) {
                    close(fd);
                    continue;
                }
                cl[nc] = (struct client){.fd = fd, .last_ms = now_ms()};
                snprintf(cl[nc].peer, sizeof cl[nc].peer, "%s", peer);
                ec_log_accept(peer);
                if (m == M_CLOSE_NOW)
                    drop(&cl[nc], 0, m);
                if (m == M_GARBAGE) {
                    unsigned char noise[4096];
                    for (size_t b = 0; b < sizeof noise; b++)
                        noise[b] = (unsigned char)(b * 131u + 17u);
                    send_all(&cl[nc], noise, sizeof noise);
                }
                nc++;
                continue;
            }
            struct client *c = &cl[map[k]];
            unsigned char buf[1024];
            if (m == M_SLOW)
                usleep(SLOW_MS * 1000);
            ssize_t got = recv(c->fd, buf, sizeof buf, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                int reset = got < 0;
                if (reset && m == M_DIE_ON_RESET)
                    return 3;
                if (!reset && m == M_EXTRA)
                    send_all(c, (const unsigned char *)"!", 1);
                if (!reset && (m == M_NEVER_CLOSE || m == M_HOLD)) {
                    c->ended = 1; /* no close, no FIN: the client must give up by itself */
                    continue;
                }
                drop(c, reset ? -EC_ECONNRESET : 0, m);
                if (++served == 1 && m == M_EXIT)
                    return 4;
                continue;
            }
            if (m == M_CRASH)
                raise(SIGSEGV);
            ec_log_recv(c->peer, (size_t)got, framed && m != M_NOLOG);
            switch (m) {
            case M_SILENT:
            case M_HOLD:
                break;
            case M_GARBAGE:
                for (ssize_t b = 0; b < got; b++)
                    buf[b] = (unsigned char)~buf[b];
                send_all(c, buf, (size_t)got);
                break;
            case M_RESET_MID: {
                send_all(c, buf, (size_t)(got + 1) / 2);
                struct linger lg = {1, 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                drop(c, -EC_ECONNRESET, m);
                break;
            }
            case M_HOARD: {
                size_t echo = c->echoed >= 64 ? 0 : (size_t)(64 - c->echoed);
                if (echo > (size_t)got)
                    echo = (size_t)got;
                send_all(c, buf, echo);
                keep(buf + echo, (size_t)got - echo);
                break;
            }
            case M_RESET: {
                struct linger lg = {1, 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                drop(c, -EC_ECONNRESET, m);
                break;
            }
            case M_TRUNCATE:
                send_all(c, buf, (size_t)got / 2);
                shutdown(c->fd, SHUT_RDWR);
                drop(c, 0, m);
                break;
            case M_HALFCLOSE:
                /* Keeps what it read and answers nothing until the FIN, then closes:
                 * everything sent before the half-close is lost. */
                break;
            case M_LIE:
                /* The count ignored: one byte short on the wire, all of it logged. */
                if (send(c->fd, buf, (size_t)got - 1, MSG_NOSIGNAL) >= 0)
                    ec_log_send(c->peer, (size_t)got);
                break;
            case M_MISMATCH:
                if (c->echoed <= 99 && c->echoed + got > 99)
                    buf[99 - c->echoed] ^= 0x20;
                send_all(c, buf, (size_t)got);
                break;
            case M_REFRAME: {
                unsigned char h[4] = {0, 0, (unsigned char)(got >> 8), (unsigned char)got};
                send_all(c, h, 4);
                send_all(c, buf, (size_t)got);
                break;
            }
            case M_DUP:
                send_all(c, buf, (size_t)got);
                if (c->echoed < MARK && c->echoed + got >= MARK)
                    send_all(c, buf, (size_t)got);
                break;
            case M_REORDER:
                if (c->later) {
                    send_all(c, buf, (size_t)got);
                    send_all(c, c->later, c->later_n);
                    free(c->later);
                    c->later = NULL;
                } else if (!c->swapped && c->echoed < MARK && c->echoed + got >= MARK &&
                           (c->later = malloc((size_t)got)) != NULL) {
                    memcpy(c->later, buf, (size_t)got);
                    c->later_n = (size_t)got;
                    c->swapped = 1;
                } else {
                    send_all(c, buf, (size_t)got);
                }
                break;
            case M_CROSSFEED: {
                int to = map[k];
                for (int j = 1; j <= nc; j++) {
                    int cand = (map[k] + j) % nc;
                    if (!cl[cand].gone) {
                        to = cand;
                        break;
                    }
                }
                send_all(&cl[to], buf, (size_t)got);
                break;
            }
            default:
                send_all(c, buf, (size_t)got);
                break;
            }
            c->echoed += got;
            c->last_ms = now_ms();
        }
    }
    return 0;
}
