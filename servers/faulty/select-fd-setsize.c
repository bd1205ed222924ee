/* select-fd-setsize.c - faulty model: a select() server whose FD_SETSIZE check is off
 * by one.
 *
 * A small select() echo server after textbook 04-02: nonblocking sockets, a read set
 * and a write set rebuilt every round (a client is in the read set while it owes
 * nothing, else in the write set), one pending-echo record per client. On Linux an
 * fd_set is a bitmap of FD_SETSIZE (1024) bits indexed by descriptor number, so a
 * client whose descriptor is FD_SETSIZE or more must be refused (select(2): FD_SET of
 * such a descriptor is undefined behaviour). It is correct except for ONE bug:
 *   Bug: accept_clients() refuses a client whose descriptor is greater than FD_SETSIZE
 *     (the line marked BUG) instead of greater or equal, so descriptor 1024 is passed
 *     to FD_SET, one bit past the 1024-bit set. This file defines _FORTIFY_SOURCE=2
 *     (and servers/faulty/CMakeLists.txt adds -O2), so glibc checks every FD_SET and
 *     aborts with "bit out of range 0 - FD_SETSIZE on fd_set" (notes 4, L9); without it
 *     the write would land past the set on the stack.
 *   A correct server: refuses every descriptor >= FD_SETSIZE (logged refuse
 *     reason=fd-setsize), as posix-select does, or uses poll/epoll.
 *   Diagnosis: crash:SIGABRT in many-clients-1100, when the 1021st or so client gets
 *     descriptor 1024 (a correct select server shows capacity-limit there instead).
 */
/* glibc checks FD_SET/FD_ISSET against FD_SETSIZE only in fortified builds (it also
 * needs optimisation, which servers/faulty/CMakeLists.txt adds for this file). */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include <fcntl.h>
#include <sys/select.h>
#include <stdlib.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "faulty-select-fd-setsize",
    .summary =
        "FAULTY on purpose (gallery of known bugs): select() loop that refuses\n"
        "descriptors > FD_SETSIZE instead of >=: descriptor 1024 overflows the fd_set.",
    .default_workers = 0,
};

/* Out of descriptors, the listener stays readable but accept fails: the waiting
 * client is accepted on a spare descriptor and refused, and if even that fails the
 * listener is left alone this long so the loop does not spin. */
#define ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so a connect storm cannot starve the clients. */
#define ACCEPT_BURST 64

/* One client. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* pending echo: the textbook's buf, recvbytes, sendbytes */
    int closed;          /* closed during this round; removed at its end */
};

/* The loop's state. */
struct loop {
    const struct ec_server_opts *o;
    ec_sock_t listener;
    struct conn **conns; /* live clients, in accept order */
    size_t n, cap;
    int spare;              /* a spare descriptor, given up to refuse a client on EMFILE */
    int accept_paused;      /* out of descriptors: listener not polled */
    int64_t accept_resume;  /* when to poll it again (ms) */
};

/* Closes c and logs why (0 = eof, else a negative class). */
static void conn_close(struct loop *l, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    c->closed = 1;
    l->accept_paused = 0; /* a descriptor came free */
}

/* Sends what is pending until done or the socket is full (then POLLOUT waits). */
static void conn_flush(struct loop *l, struct conn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t r = ec_echo_flush(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK)
            return;
        if (r < 0) {
            conn_close(l, c, (int)r);
            return;
        }
    }
}

/* One recv (the socket was reported readable and nothing is pending). */
static void conn_on_readable(struct loop *l, struct conn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return;
    if (n <= 0) {
        conn_close(l, c, (int)n);
        return;
    }
    int r = ec_echo_received(&c->echo, NULL, (size_t)n);
    if (r < 0) {
        conn_close(l, c, r);
        return;
    }
    conn_flush(l, c);
}

/* Accepts the waiting connections (at most ACCEPT_BURST). Returns 1 when the server
 * was asked to stop, else 0. */
static int accept_clients(struct loop *l)
{
    for (int k = 0; k < ACCEPT_BURST; k++) {
        ec_sock_t s;
        char peer[EC_ADDRSTRLEN];
        int r = ec_accept(l->listener, &s, peer);
        if (r == -EC_EWOULDBLOCK || r == -EC_EINTR || r == -EC_ECONNABORTED)
            return 0;
        if (r == -EC_EMFILE && l->spare >= 0) {
            close(l->spare);
            if (ec_accept(l->listener, &s, peer) == 0) {
                ec_log_refuse(peer, "no-descriptors");
                ec_sock_close(s);
            }
            l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (l->spare >= 0)
                continue;
        }
        if (r == -EC_EMFILE) {
            l->accept_paused = 1;
            l->accept_resume = ec_now_ms() + ACCEPT_PAUSE_MS;
            return 0;
        }
        if (r < 0)
            return ec_server_stopping() ? 1 : 0;
        if (s > FD_SETSIZE) { /* BUG: >, not >=: descriptor 1024 gets into the fd_set */
            ec_log_refuse(peer, "fd-setsize");
            ec_sock_close(s);
            continue;
        }
        if (l->o->max_clients > 0 && l->n >= (size_t)l->o->max_clients) {
            ec_log_refuse(peer, "max-clients");
            ec_sock_close(s);
            continue;
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 64;
            struct conn **nc = realloc(l->conns, cap * sizeof *nc);
            if (!nc) {
                ec_log_refuse(peer, "no-memory");
                ec_sock_close(s);
                continue;
            }
            l->conns = nc;
            l->cap = cap;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c || ec_echo_init(&c->echo, peer, &l->o->framing, l->o->bufsize) != 0) {
            free(c);
            ec_log_refuse(peer, "no-memory");
            ec_sock_close(s);
            continue;
        }
        c->sock = s;
        ec_sock_set_nonblocking(s, 1);
        ec_log_accept(peer);
        l->conns[l->n++] = c;
    }
    return 0;
}

/* Drops the connections closed during the round, keeping accept order. */
static void reap_closed(struct loop *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct conn *c = l->conns[i];
        if (c->closed) {
            ec_echo_free(&c->echo);
            free(c);
        } else {
            l->conns[j++] = c;
        }
    }
    l->n = j;
}

/* Closes every client (server stop). */
static void close_all(struct loop *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->conns[i]->closed)
            conn_close(l, l->conns[i], 0);
    }
    reap_closed(l);
    free(l->conns);
    if (l->spare >= 0)
        close(l->spare);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct loop l = {0};
    l.o = o;
    l.listener = listener;
    l.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ec_sock_set_nonblocking(listener, 1);
    while (!ec_server_stopping()) {
        struct timeval tv, *tvp = NULL;
        if (l.accept_paused) {
            int64_t left = l.accept_resume - ec_now_ms();
            if (left <= 0) {
                l.accept_paused = 0;
            } else {
                tv.tv_sec = (time_t)(left / 1000);
                tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
                tvp = &tv;
            }
        }
        fd_set rset, wset;
        FD_ZERO(&rset);
        FD_ZERO(&wset);
        int maxfd = listener;
        if (!l.accept_paused)
            FD_SET(listener, &rset);
        for (size_t i = 0; i < l.n; i++) {
            struct conn *c = l.conns[i];
            FD_SET(c->sock, ec_echo_idle(&c->echo) ? &rset : &wset);
            if (c->sock > maxfd)
                maxfd = c->sock;
        }
        int ready = select(maxfd + 1, &rset, &wset, NULL, tvp);
        if (ready < 0) {
            if (ec_sock_error() == -EC_EINTR)
                continue;
            ec_warn("select failed (os error %d)", ec_sock_oserror());
            close_all(&l);
            return 1;
        }
        int listener_ready = FD_ISSET(listener, &rset);
        size_t n = l.n; /* clients accepted below are watched from the next round on */
        for (size_t i = 0; i < n; i++) {
            struct conn *c = l.conns[i];
            if (c->closed)
                continue;
            if (ec_echo_idle(&c->echo)) {
                if (FD_ISSET(c->sock, &rset))
                    conn_on_readable(&l, c);
            } else if (FD_ISSET(c->sock, &wset)) {
                conn_flush(&l, c);
            }
        }
        reap_closed(&l);
        if (listener_ready && accept_clients(&l))
            break;
    }
    close_all(&l);
    return 0;
}
