/* bench_floor.c - ec-bench-floor: the floor `echoconf bench` measures every model
 * against. A minimal level-triggered epoll echo: no logging, no framing, no pending-echo
 * record; it reads into one preallocated per-connection buffer and writes straight back
 * from it, and reads again only when all of it went out. Not a model of the matrix:
 * it takes only --port N, --bind ADDR (IPv4), --bufsize N (default 65536), --nodelay
 * and --quiet (it logs nothing anyway), prints "listening A:P" like every server, and
 * ends on SIGINT/SIGTERM (their default action).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t len, off; /* buf[off..len) is still to be written back */
    int writing;     /* interest is EPOLLOUT (a write was short) */
    unsigned char buf[];
};

/* One send of what is owed, then the interest that matches: EPOLLOUT while bytes
 * remain, EPOLLIN once all went out. Returns -1 when the connection must close. */
static int conn_write(int ep, struct conn *c)
{
    ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    c->off += w > 0 ? (size_t)w : 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (c->off == c->len) {
        c->off = c->len = 0;
        if (c->writing)
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->writing = 0;
    } else if (!c->writing) {
        ev.events = EPOLLOUT;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->writing = 1;
    }
    return 0;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int usage(const char *why)
{
    fprintf(stderr,
            "ec-bench-floor: %s\nusage: ec-bench-floor [--port N] [--bind IPV4] "
            "[--bufsize N] [--nodelay] [--quiet]\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long port = 0, bufsize = 65536;
    const char *bind_addr = "127.0.0.1";
    int nodelay = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--nodelay") == 0 || strcmp(argv[i], "--quiet") == 0) {
            nodelay |= argv[i][2] == 'n';
            continue;
        }
        if (i + 1 >= argc)
            return usage("an option without its value");
        if (strcmp(argv[i], "--port") == 0)
            port = strtoul(argv[++i], &end, 10);
        else if (strcmp(argv[i], "--bufsize") == 0)
            bufsize = strtoul(argv[++i], &end, 10);
        else if (strcmp(argv[i], "--bind") == 0)
            bind_addr = argv[++i];
        else
            return usage("unknown option");
        if (end && (*end || port > 65535 || bufsize == 0 || bufsize > (16ul << 20)))
            return usage("a bad number");
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
        return usage("--bind takes an IPv4 address");
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t sl = sizeof sa;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (lfd < 0 || ep < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        fprintf(stderr, "ec-bench-floor: cannot listen on %s:%lu: %s\n", bind_addr, port,
                strerror(errno));
        return 1;
    }
    printf("listening %s:%u\n", bind_addr, ntohs(sa.sin_port));
    fflush(stdout);

    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                c = malloc(sizeof *c + bufsize);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (c == NULL ||
                    (nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) ||
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                    close(fd);
                    free(c);
                    continue;
                }
                c->fd = fd;
                c->len = c->off = 0;
                c->writing = 0;
                continue;
            }
            if (c->len == 0) {
                ssize_t r = recv(c->fd, c->buf, bufsize, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0) {
                    conn_close(ep, c);
                    continue;
                }
                c->len = (size_t)r;
            }
            if (conn_write(ep, c) < 0)
                conn_close(ep, c);
        }
    }
}
