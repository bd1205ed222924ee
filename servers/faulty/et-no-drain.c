/* et-no-drain.c - faulty model: an edge-triggered epoll server that does not read to
 * EAGAIN.
 *
 * A small edge-triggered epoll echo server in the shape of the textbook's select
 * server: an array of SOCKETINFO-like records scanned in rounds, one recv or one send
 * per record per round (so no client can monopolise the loop). Edge-triggered epoll
 * reports a change once, so each record remembers "may read" and "may write" until a
 * call says would-block. It is correct except for ONE bug:
 *   Bug: conn_step() clears the record's "readable" flag after every recv (the line
 *     marked BUG), not only when recv says would-block. Edge-triggered epoll reports a
 *     change once (notes 4, L6: no new event after a partial read), so bytes still
 *     queued after one recv of bufsize are never read until the client sends again. The
 *     same mistake as a WSAAsyncSelect server that skips a recv without re-posting
 *     FD_READ (notes 1.5 rule 7).
 *   A correct server: keeps reading (one recv per round, for fairness) until recv says
 *     would-block, and only then waits for the next edge.
 *   Diagnosis: stall in the cases where more than bufsize bytes arrive before the
 *     server reads (bufsize-plus-one, large-64k, large-1m, large-unread-burst, ...):
 *     the echo stops short and the client waits; lost-after-half-close in
 *     half-close-pending-echo.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "faulty-et-no-drain",
    .summary =
        "FAULTY on purpose (gallery of known bugs): edge-triggered epoll loop that\n"
        "forgets readability after one recv: bytes left in the socket wait for a new edge.",
    .default_workers = 0,
};

/* Out of descriptors, the listener stays readable but accept fails: the waiting
 * client is accepted on a spare descriptor and refused, and if even that fails the
 * listener is left alone this long so the loop does not spin. */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_BURST 64     /* connections accepted per wake-up */
#define MAX_EVENTS 256

/* One client: the textbook's SOCKETINFO plus the two edge-triggered flags. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes */
    int readable;        /* an EPOLLIN edge came and recv has not said would-block */
    int writable;        /* space to send: no would-block since the last EPOLLOUT edge */
};

struct loop {
    const struct ec_server_opts *o;
    ec_sock_t listener;
    int ep;
    struct conn **conns; /* SocketInfoArray */
    size_t n, cap;
    int spare;              /* a spare descriptor, given up to refuse a client on EMFILE */
    int accept_paused;
    int64_t accept_resume;
};

/* Something to do for c now: read (nothing pending) or send (echo pending). */
static int conn_has_work(const struct conn *c)
{
    return ec_echo_idle(&c->echo) ? c->readable : c->writable;
}

/* RemoveSocketInfo: closes conns[i], logs why, and moves the last record into slot i. */
static void remove_at(struct loop *l, size_t i, int reason)
{
    struct conn *c = l->conns[i];
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock); /* closing also removes it from the epoll set */
    ec_echo_free(&c->echo);
    free(c);
    l->conns[i] = l->conns[--l->n];
    if (l->accept_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(l->ep, EPOLL_CTL_MOD, l->listener, &ev);
        l->accept_paused = 0;
    }
}

/* One step for c: one send if echo is pending, else one recv. Returns 0, or a close
 * reason (0 is eof, so the close flag is separate): sets *closed. */
static int conn_step(struct conn *c, int *closed)
{
    *closed = 0;
    if (!ec_echo_idle(&c->echo)) {
        ptrdiff_t r = ec_echo_flush(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK) {
            c->writable = 0;
            return 0;
        }
        if (r < 0) {
            *closed = 1;
            return (int)r;
        }
        return 0;
    }
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    if (n == -EC_EWOULDBLOCK) {
        c->readable = 0;
        return 0;
    }
    if (n == -EC_EINTR)
        return 0;
    if (n <= 0) {
        *closed = 1;
        return (int)n;
    }
    c->readable = 0; /* BUG: forgotten after one recv, though bytes may remain */
    int r = ec_echo_received(&c->echo, NULL, (size_t)n);
    if (r < 0) {
        *closed = 1;
        return r;
    }
    return 0;
}

/* Accepts waiting connections. Returns 1 when the server was asked to stop. */
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
            struct epoll_event ev = {.events = 0, .data.ptr = NULL};
            epoll_ctl(l->ep, EPOLL_CTL_MOD, l->listener, &ev);
            l->accept_paused = 1;
            l->accept_resume = ec_now_ms() + ACCEPT_PAUSE_MS;
            return 0;
        }
        if (r < 0)
            return ec_server_stopping() ? 1 : 0;
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
        c->writable = 1; /* a new socket has room; EPOLLOUT edges come after a full one */
        ec_sock_set_nonblocking(s, 1);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, s, &ev) != 0) {
            ec_log_refuse(peer, "epoll");
            ec_echo_free(&c->echo);
            free(c);
            ec_sock_close(s);
            continue;
        }
        ec_log_accept(peer);
        l->conns[l->n++] = c;
    }
    return 0;
}

static void close_all(struct loop *l)
{
    while (l->n > 0)
        remove_at(l, l->n - 1, 0);
    free(l->conns);
    close(l->ep);
    if (l->spare >= 0)
        close(l->spare);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct loop l = {0};
    l.o = o;
    l.listener = listener;
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.ep < 0) {
        ec_warn("epoll_create1 failed (os error %d)", ec_sock_oserror());
        return 1;
    }
    ec_sock_set_nonblocking(listener, 1);
    /* The listener stays level-triggered: a backlog longer than ACCEPT_BURST is
     * reported again on the next wait. data.ptr NULL marks it. */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l.ep, EPOLL_CTL_ADD, listener, &lev) != 0) {
        ec_warn("epoll_ctl on the listener failed (os error %d)", ec_sock_oserror());
        close(l.ep);
        return 1;
    }
    l.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct epoll_event evs[MAX_EVENTS];
    int more = 0; /* some record still had work after the last round */
    while (!ec_server_stopping()) {
        int timeout = more ? 0 : -1;
        if (l.accept_paused) {
            int64_t left = l.accept_resume - ec_now_ms();
            if (left <= 0) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
                epoll_ctl(l.ep, EPOLL_CTL_MOD, listener, &ev);
                l.accept_paused = 0;
            } else if (!more) {
                timeout = (int)left;
            }
        }
        int k = epoll_wait(l.ep, evs, MAX_EVENTS, timeout);
        if (k < 0) {
            if (ec_sock_error() == -EC_EINTR)
                continue;
            ec_warn("epoll_wait failed (os error %d)", ec_sock_oserror());
            close_all(&l);
            return 1;
        }
        int want_accept = 0;
        for (int e = 0; e < k; e++) {
            struct conn *c = evs[e].data.ptr;
            if (!c) {
                want_accept = 1;
                continue;
            }
            /* An error or hang-up makes the next call fail or return 0: both flags. */
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
                c->readable = 1;
            if (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                c->writable = 1;
        }
        more = 0;
        for (size_t i = 0; i < l.n; i++) {
            struct conn *c = l.conns[i];
            if (!conn_has_work(c))
                continue;
            int closed;
            int reason = conn_step(c, &closed);
            if (closed) {
                remove_at(&l, i, reason);
                i--; /* the last record moved into slot i: look at it in this round */
                continue;
            }
            if (conn_has_work(c))
                more = 1;
        }
        if (want_accept && accept_clients(&l))
            break;
    }
    close_all(&l);
    return 0;
}
