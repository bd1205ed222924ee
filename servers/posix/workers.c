/* workers.c - posix-workers: N threads on one epoll with EPOLLONESHOT, the IOCP idea.
 *
 * API: epoll_ctl(EPOLLONESHOT) and epoll_wait shared by --workers threads (default two
 * per CPU, the textbook's rule). As in textbook 08-01 (IOCP TCPServer), any worker
 * takes the next ready socket and serves it; EPOLLONESHOT disarms a socket once one
 * event is handed out, so one worker at a time owns a client, and it re-arms the
 * socket (EPOLLIN while idle, EPOLLOUT while echo is pending) as its last act, as a
 * worker posts the next WSARecv/WSASend. Readiness, not completion: the worker does
 * the recv/send itself. The listener is one more ONESHOT socket served by whichever
 * worker gets it, unlike 08-01's accept loop in main: only its holder opens
 * descriptors, so the EMFILE reserve-descriptor trick is race-free under one lock,
 * and pausing accepts is re-arming it for nothing but the stop's EPOLLHUP. A client
 * is freed only by the worker holding it, after EPOLL_CTL_DEL, so no other worker
 * can see it again (notes B11).
 * Limits exposed: RLIMIT_NOFILE; fairness comes from epoll's FIFO ready list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-workers",
    .summary =
        "Worker threads on one epoll with EPOLLONESHOT (the IOCP analogue): any worker serves\n"
        "any socket, one at a time per socket; --workers N (default two per CPU).\n"
        "Bounded by RLIMIT_NOFILE.",
    .default_workers = -1,
};

#define ACCEPT_BUDGET 64 /* accepts per listener event */

enum conn_state {
    CONN_READING, /* nothing owed: armed for EPOLLIN (or held by the worker serving it) */
    CONN_WRITING  /* echo pending: armed for EPOLLOUT; no recv until all is sent */
};

/* One client: the textbook's SOCKETINFO. Owned by at most one worker at a time. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo;
    enum conn_state state;
    struct conn *prev, *next; /* every live client, under server.lock */
};

struct server {
    const struct ec_server_opts *o;
    int ep;                 /* the shared epoll instance: the completion port */
    int stop;               /* eventfd, level-triggered and never read: wakes every worker */
    ec_sock_t listener;     /* registered with data.ptr == NULL */
    pthread_mutex_t lock;   /* guards the fields below */
    struct ec_acceptor acc; /* its reserve descriptor, given up to refuse on EMFILE */
    int paused;             /* the listener is left disarmed until a client leaves */
    struct conn *conns;
    int nconns;
};

/* Re-arms a ONESHOT socket. After this call another worker may own it; what this one
 * wrote before is visible to that worker, as epoll_ctl and epoll_wait both take the
 * epoll instance's lock (fs/eventpoll.c). */
static void arm(struct server *s, int fd, void *ptr, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = ptr};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev);
}

static void conn_close(struct server *s, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->sock, NULL);
    ec_sock_close(c->sock);
    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (ec_acceptor_release(&s->acc) && s->paused) {
        s->paused = 0;
        arm(s, s->listener, NULL, EPOLLIN);
    }
    pthread_mutex_unlock(&s->lock);
    ec_echo_free(&c->echo);
    free(c);
}

/* Serves one event of a client this worker now owns: one recv if idle, then send
 * until all is out or would-block, then re-arm for what comes next. */
static void conn_serve(struct server *s, struct conn *c)
{
    if (c->state == CONN_READING) {
        ptrdiff_t r = ec_echo_recv(&c->echo, c->sock);
        if (r == 0 || (r < 0 && r != -EC_EWOULDBLOCK && r != -EC_EINTR)) {
            conn_close(s, c, (int)r); /* 0: orderly close, nothing is owed */
            return;
        }
    }
    int rc = ec_echo_flush_until_blocked(&c->echo, c->sock);
    if (rc < 0 && rc != -EC_EWOULDBLOCK) {
        conn_close(s, c, rc);
        return;
    }
    c->state = ec_echo_idle(&c->echo) ? CONN_READING : CONN_WRITING;
    arm(s, c->sock, c, c->state == CONN_READING ? EPOLLIN : EPOLLOUT); /* last touch */
}

/* Takes a new client and arms it, or refuses it. Called by the listener's holder. */
static void conn_admit(struct server *s, ec_sock_t sock, const char *peer)
{
    pthread_mutex_lock(&s->lock);
    int full = s->o->max_clients > 0 && s->nconns >= s->o->max_clients;
    pthread_mutex_unlock(&s->lock);
    if (full) {
        ec_refuse(sock, peer, "max-clients");
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c || ec_sock_set_nonblocking(sock, 1) < 0 ||
        ec_echo_init(&c->echo, peer, &s->o->framing, s->o->bufsize) < 0) {
        ec_refuse(sock, peer, "no-memory");
        free(c);
        return;
    }
    c->sock = sock;
    c->state = CONN_READING;
    ec_log_accept(peer); /* before the ADD: a worker may log its first recv at once */
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    pthread_mutex_unlock(&s->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, sock, &ev) < 0)
        conn_close(s, c, -EC_ENOMEM); /* ENOMEM or ENOSPC (max_user_watches) */
}

/* Accepts until would-block (at most ACCEPT_BUDGET), then re-arms the listener.
 * Each accept runs under the lock: out of descriptors, the acceptor gives its spare up
 * to refuse a waiting client, and a closing worker must not grab the freed slot (nor
 * retake the spare) meanwhile. Without a spare the listener is armed for nothing but
 * EPOLLHUP, so a stop still wakes a worker, until a client leaves. Returns 0 to go on,
 * or 1 when the listener failed. */
static int on_listener(struct server *s)
{
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        ec_sock_t sock;
        char peer[EC_ADDRSTRLEN];
        pthread_mutex_lock(&s->lock);
        int r = ec_acceptor_accept(&s->acc, &sock, peer);
        if (r == -EC_EMFILE) {
            s->paused = 1;
            arm(s, s->listener, NULL, 0);
        }
        pthread_mutex_unlock(&s->lock);
        if (r == 0)
            conn_admit(s, sock, peer);
        else if (r == -EC_EINVAL) /* not listening any more: the stop shut it down */
            return 1;
        else if (r == -EC_EMFILE)
            return 0; /* paused: conn_close re-arms it for EPOLLIN */
        else if (r == -EC_EWOULDBLOCK || r == -EC_ENOMEM)
            break;
        /* Else a client refused for want of descriptors, aborted, or a network error
         * that accept(2) says to treat like EAGAIN. */
    }
    arm(s, s->listener, NULL, EPOLLIN);
    return 0;
}

/* One worker: the textbook's WorkerThread around GetQueuedCompletionStatus. One event
 * per wait, so that no ready socket sits disarmed behind a busy worker. */
static void *worker(void *arg)
{
    struct server *s = arg;
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(s->ep, &ev, 1, -1);
        if (n < 0 && errno != EINTR) {
            ec_warn("epoll_wait failed: %s", ec_err_name(ec_sock_error()));
            break;
        }
        if (n <= 0)
            continue;
        if (ev.data.ptr == &s->stop)
            break;
        if (ev.data.ptr != NULL) {
            conn_serve(s, ev.data.ptr);
        } else if (on_listener(s)) {
            if (!ec_server_stopping())
                ec_warn("accept failed on the listener: %s", ec_err_name(ec_sock_error()));
            break;
        }
    }
    uint64_t one = 1; /* every worker leaves: the stop eventfd stays readable for all */
    if (write(s->stop, &one, sizeof one) < 0)
        ec_warn("cannot wake the other workers: %s", ec_err_name(ec_sock_error()));
    return NULL;
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server s = {.o = o, .listener = listener};
    int n = o->workers > 0 ? o->workers : 2 * ec_cpu_count();
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    int started = 0;

    pthread_mutex_init(&s.lock, NULL);
    ec_acceptor_init(&s.acc, listener);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.stop = eventfd(0, EFD_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = NULL};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &s.stop};
    if (tids != NULL && s.ep >= 0 && s.stop >= 0 && ec_sock_set_nonblocking(listener, 1) == 0 &&
        epoll_ctl(s.ep, EPOLL_CTL_ADD, s.stop, &sev) == 0 &&
        epoll_ctl(s.ep, EPOLL_CTL_ADD, listener, &lev) == 0) {
        while (started < n && pthread_create(&tids[started], NULL, worker, &s) == 0)
            started++;
    }
    if (started == 0)
        ec_warn("worker setup failed: %s", ec_err_name(ec_sock_error()));
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    /* Every worker is gone: what is left is owned by nobody. */
    while (s.conns) {
        struct conn *c = s.conns;
        s.conns = c->next;
        ec_sock_close(c->sock);
        ec_echo_free(&c->echo);
        free(c);
    }
    if (s.ep >= 0)
        close(s.ep);
    if (s.stop >= 0)
        close(s.stop);
    ec_acceptor_close(&s.acc);
    pthread_mutex_destroy(&s.lock);
    return started > 0 && ec_server_stopping() ? 0 : 1;
}
