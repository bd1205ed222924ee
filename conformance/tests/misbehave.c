/* misbehave.c - ec-misbehave: a small echo server that breaks the server contract in
 * one chosen way (--mode), so the engine's tests can show that each diagnosis fires
 * on the behaviour it names. Not a model: one poll() loop, raw echo, minimal log.
 * It takes the server options the engine appends (--port, --framing, --bufsize).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    M_NO_LISTEN     /* closes its listener right after the readiness line */
};

static const char *const names[] = {"good",      "mismatch",     "truncate", "halfclose", "silent",
                                    "crash",     "die-on-reset", "exit",     "leak",      "spin",
                                    "close-now", "reset",        "reframe",  "nolog",     "extra",
                                    "crossfeed", "no-listen"};

#define MAXC 256

struct client {
    int fd;
    int port;
    long long echoed;
    int gone;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void logline(const char *kind, int port, long long n)
{
    if (n < 0)
        printf("%s peer=127.0.0.1:%d\n", kind, port);
    else
        printf("%s peer=127.0.0.1:%d bytes=%lld\n", kind, port, n);
    fflush(stdout);
}

static void drop(struct client *c, const char *why, enum mode m)
{
    printf("close peer=127.0.0.1:%d reason=%s\n", c->port, why);
    fflush(stdout);
    if (m == M_LEAK)
        shutdown(c->fd, SHUT_RDWR); /* the peer sees its end, the descriptor stays */
    else
        close(c->fd);
    c->gone = 1;
}

static void send_all(int fd, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        b += k;
        n -= (size_t)k;
    }
}

int main(int argc, char **argv)
{
    enum mode m = M_GOOD;
    int framed = 0;
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
        } else if ((strcmp(argv[i], "--port") == 0 || strcmp(argv[i], "--bufsize") == 0) &&
                   i + 1 < argc) {
            i++; /* always an ephemeral port on 127.0.0.1; reads of 1024 bytes */
        } else {
            fprintf(stderr, "ec-misbehave: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 128) < 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        perror("ec-misbehave: listen");
        return 1;
    }
    printf("listening 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    if (m == M_NO_LISTEN) {
        close(ls); /* alive, but nobody listens: every connect is refused */
        ls = -1;
    }

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
            if (!cl[i].gone) {
                p[n] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
                map[n++] = i;
            }
        int r = poll(p, (nfds_t)n, m == M_SPIN ? 0 : 1000);
        if (r < 0 && errno == EINTR)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                struct sockaddr_in pa;
                socklen_t pl = sizeof pa;
                int fd = accept4(ls, (struct sockaddr *)&pa, &pl, SOCK_CLOEXEC);
                if (fd < 0 || nc >= MAXC) {
                    if (fd >= 0)
                        close(fd);
                    continue;
                }
                cl[nc] = (struct client){.fd = fd, .port = ntohs(pa.sin_port)};
                logline("accept", cl[nc].port, -1);
                if (m == M_CLOSE_NOW)
                    drop(&cl[nc], "eof", m);
                nc++;
                continue;
            }
            struct client *c = &cl[map[k]];
            unsigned char buf[1024];
            ssize_t got = recv(c->fd, buf, sizeof buf, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                int reset = got < 0;
                if (reset && m == M_DIE_ON_RESET)
                    return 3;
                if (!reset && m == M_EXTRA)
                    send_all(c->fd, (const unsigned char *)"!", 1);
                drop(c, reset ? "reset" : "eof", m);
                if (++served == 1 && m == M_EXIT)
                    return 4;
                continue;
            }
            if (m == M_CRASH)
                raise(SIGSEGV);
            logline(framed && m != M_NOLOG ? "frame" : "recv", c->port, got);
            switch (m) {
            case M_SILENT:
                break;
            case M_RESET: {
                struct linger lg = {1, 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                drop(c, "reset", m);
                break;
            }
            case M_TRUNCATE:
                send_all(c->fd, buf, (size_t)got / 2);
                shutdown(c->fd, SHUT_RDWR);
                drop(c, "eof", m);
                break;
            case M_HALFCLOSE:
                /* Keeps what it read and answers nothing until the FIN, then closes:
                 * everything sent before the half-close is lost. */
                break;
            case M_MISMATCH:
                if (c->echoed <= 99 && c->echoed + got > 99)
                    buf[99 - c->echoed] ^= 0x20;
                send_all(c->fd, buf, (size_t)got);
                break;
            case M_REFRAME: {
                unsigned char h[4] = {0, 0, (unsigned char)(got >> 8), (unsigned char)got};
                send_all(c->fd, h, 4);
                send_all(c->fd, buf, (size_t)got);
                break;
            }
            case M_CROSSFEED: {
                int to = map[k];
                for (int j = 1; j <= nc; j++) {
                    int cand = (map[k] + j) % nc;
                    if (!cl[cand].gone) {
                        to = cand;
                        break;
                    }
                }
                send_all(cl[to].fd, buf, (size_t)got);
                break;
            }
            default:
                send_all(c->fd, buf, (size_t)got);
                break;
            }
            c->echoed += got;
        }
    }
    return 0;
}
