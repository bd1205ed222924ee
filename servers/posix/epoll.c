/* epoll.c - posix-epoll: level-triggered epoll, the analogue of WSAEventSelect.
 *
 * API: epoll_create1, epoll_ctl, epoll_wait. Readiness, level-triggered: a socket that
 * is still readable (or writable) is reported again on every wait, as WSAEventSelect
 * re-records FD_READ after a recv that leaves data (notes 1.6 and 4). As in textbook
 * example 06-01 (WSAEventSelectTCPServer) each wake-up names the socket, the record
 * is reached from it (here epoll_data.ptr instead of an index into SocketInfoArray),
 * and the handler reads, then tries to send at once. Like the select server, a socket
 * waits for reading XOR writing: EPOLLIN while idle, EPOLLOUT while echo is pending.
 * Limits exposed: none of the 64-event limit of WSAWaitForMultipleEvents and no
 * lowest-index-first starvation (epoll hands out ready sockets in arrival order); the
 * only ceiling is RLIMIT_NOFILE, and EMFILE is met with a reserve descriptor so the
 * ever-readable listener cannot spin the loop (notes B3).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-epoll",
    .summary =
        "Level-triggered epoll (the WSAEventSelect analogue): one thread, EPOLLIN while\n"
        "idle, EPOLLOUT while echo is pending. No 64-socket limit; bounded by RLIMIT_NOFILE.",
    .default_workers = 0,
};

#define MAX_EVENTS 64

enum conn_state {
    CONN_READING, /* nothing owed: interest EPOLLIN, waiting for the client's bytes */
    CONN_WRITING  /* echo pending: interest EPOLLOUT only; no recv until all is sent */
};

/* One client: the textbook's SOCKETINFO{sock, buf, recvbytes, sendbytes}. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo;
    enum conn_state state;
    struct conn *prev, *next; /* every live client, for --max-clients and the final sweep */
};

struct server {
    const struct ec_server_opts *o;
    int ep;                 /* the epoll instance */
    ec_sock_t listener;     /* registered with data.ptr == NULL */
    struct ec_acceptor acc; /* accept with a reserve descriptor for EMFILE */
    int paused;             /* listener interest removed until a descriptor frees up */
    struct conn *conns;
    int nconns;
};

/* Sets the interest of one registered socket (ptr NULL: the listener). */
static int watch(struct server *s, int fd, void *ptr, uint32_t events)
{
    struct epoll_event ev;
    ev.events = events;
    ev.data.ptr = ptr;
    return epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Stops asking for new clients; EPOLLHUP still arrives, so a stop is still seen. */
static void listener_pause(struct server *s)
{
    s->paused = 1;
    watch(s, s->listener, NULL, 0);
}

static void conn_close(struct server *s, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->sock, NULL);
    ec_sock_close(c->sock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    ec_echo_free(&c->echo);
    free(c);
    if (ec_acceptor_release(&s->acc) && s->paused) {
        s->paused = 0;
        watch(s, s->listener, NULL, EPOLLIN);
    }
}

/* Sends what is pending (one send per notice) and switches the interest to match:
 * EPOLLOUT while bytes remain, EPOLLIN once all went out. Returns -1 if c closed. */
static int conn_flush(struct server *s, struct conn *c)
{
    ptrdiff_t r = ec_echo_flush(&c->echo, c->sock);
    if (r < 0 && r != -EC_EWOULDBLOCK && r != -EC_EINTR) {
        conn_close(s, c, (int)r);
        return -1;
    }
    if (ec_echo_idle(&c->echo) && c->state == CONN_WRITING) {
        c->state = CONN_READING;
        watch(s, c->sock, c, EPOLLIN);
    } else if (!ec_echo_idle(&c->echo) && c->state == CONN_READING) {
        c->state = CONN_WRITING;
        watch(s, c->sock, c, EPOLLOUT);
    }
    return 0;
}

/* One recv per notice (level-triggered: the rest is reported again), then the echo
 * is tried at once, as 06-01 falls through from FD_READ to sending. */
static void conn_on_readable(struct server *s, struct conn *c)
{
    ptrdiff_t r = ec_echo_recv(&c->echo, c->sock);
    if (r == -EC_EWOULDBLOCK || r == -EC_EINTR)
        return;
    if (r <= 0) {
        conn_close(s, c, (int)r); /* 0: orderly close, nothing is owed in this state */
        return;
    }
    conn_flush(s, c);
}

/* Takes a new client into the set, or refuses it (--max-clients, no memory). */
static void conn_admit(struct server *s, ec_sock_t sock, const char *peer)
{
    const char *why = "max-clients";
    struct conn *c = NULL;
    struct epoll_event ev = {.events = EPOLLIN};
    if (s->o->max_clients > 0 && s->nconns >= s->o->max_clients)
        goto refuse;
    why = "no-memory"; /* also ENOSPC from epoll_ctl: fs.epoll.max_user_watches */
    if ((c = calloc(1, sizeof *c)) == NULL || ec_sock_set_nonblocking(sock, 1) < 0 ||
        ec_echo_init(&c->echo, peer, &s->o->framing, s->o->bufsize) < 0)
        goto refuse;
    c->sock = sock;
    c->state = CONN_READING;
    ev.data.ptr = c;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, sock, &ev) < 0)
        goto refuse;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    ec_log_accept(peer);
    return;
refuse:
    ec_refuse(sock, peer, why);
    if (c != NULL)
        ec_echo_free(&c->echo);
    free(c);
}

/* One accept per notice. Out of descriptors, the waiting client keeps the listener
 * readable, so a level-triggered loop would spin: the acceptor refuses it with its
 * reserve descriptor, and without one the listener is paused until a client leaves.
 * Returns 0 to go on, or 1 when the listener failed. */
static int on_listener(struct server *s)
{
    ec_sock_t sock;
    char peer[EC_ADDRSTRLEN];
    int r = ec_acceptor_accept(&s->acc, &sock, peer);
    if (r == 0)
        conn_admit(s, sock, peer);
    else if (r == -EC_EMFILE)
        listener_pause(s);
    else if (r == -EC_EINVAL) /* not listening any more: the stop shut it down */
        return 1;
    /* Anything else (a client refused for want of descriptors, aborted, the network
     * errors that accept(2) says to treat like EAGAIN) cost only that one client. */
    return 0;
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server s = {.o = o, .listener = listener};
    struct epoll_event evs[MAX_EVENTS];
    int rc = 1;

    ec_acceptor_init(&s.acc, listener);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (s.ep < 0 || ec_sock_set_nonblocking(listener, 1) < 0 ||
        epoll_ctl(s.ep, EPOLL_CTL_ADD, listener, &lev) < 0) {
        ec_warn("epoll setup failed: %s", ec_err_name(ec_sock_error()));
        goto out;
    }
    for (;;) {
        int n = epoll_wait(s.ep, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            ec_warn("epoll_wait failed: %s", ec_err_name(ec_sock_error()));
            goto out;
        }
        if (ec_server_stopping()) {
            rc = 0;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                if (on_listener(&s)) {
                    rc = ec_server_stopping() ? 0 : 1;
                    if (rc)
                        ec_warn("accept failed on the listener: %s", ec_err_name(ec_sock_error()));
                    goto out;
                }
            } else if (c->state == CONN_READING) {
                conn_on_readable(&s, c); /* EPOLLERR/EPOLLHUP too: recv reports why */
            } else {
                conn_flush(&s, c);
            }
        }
    }
out:
    while (s.conns) {
        struct conn *c = s.conns;
        s.conns = c->next;
        ec_sock_close(c->sock);
        ec_echo_free(&c->echo);
        free(c);
    }
    if (s.ep >= 0)
        close(s.ep);
    ec_acceptor_close(&s.acc);
    return rc;
}
