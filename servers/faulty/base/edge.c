/* edge.c - the edge-triggered epoll base loop of the faulty gallery.
 *
 * An array of SOCKETINFO-like records scanned in rounds, in the shape of the
 * textbook's select server, one recv or one send per record per round (so no client
 * can monopolise the loop). Edge-triggered epoll reports a change once, so each record
 * remembers "may read" and "may write" until a call says would-block; while some
 * record still has work the wait does not block. A closed record is swap-removed (the
 * textbook's RemoveSocketInfo) and the scan looks at the moved record in slot i.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "floop.h"

#define MAX_EVENTS 256

/* Something to do for c now: read (nothing pending) or send (echo pending). */
static int has_work(const struct ec_fconn *c)
{
    return ec_echo_idle(&c->echo) ? c->readable && !c->eof : c->writable;
}

/* One step for c: one send if echo is pending, else one recv. */
static void step(struct ec_floop *l, struct ec_fconn *c)
{
    const struct ec_bug *bug = l->bug;
    if (!ec_echo_idle(&c->echo)) {
        ptrdiff_t r = bug->send ? bug->send(c) : ec_echo_flush(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK)
            c->writable = 0;
        else if (r < 0 && r != -EC_EINTR)
            ec_floop_close(l, c, (int)r);
        else if (ec_echo_idle(&c->echo) && bug->on_sent && bug->on_sent(c))
            ec_floop_close(l, c, 0);
        return;
    }
    ptrdiff_t n = bug->recv ? bug->recv(c) : ec_echo_recv(&c->echo, c->sock);
    if (n == -EC_EWOULDBLOCK)
        c->readable = 0;
    else if (n == 0)
        ec__floop_eof(l, c);
    else if (n < 0 && n != -EC_EINTR)
        ec_floop_close(l, c, (int)n);
}

/* Frees the closed record in slot i and moves the last one into its place. */
static void remove_at(struct ec_floop *l, size_t i)
{
    ec__floop_free(l->conns[i]); /* closing the socket took it out of the epoll set */
    l->conns[i] = l->conns[--l->n];
}

/* Registers a new client: edge-triggered, both directions, and the peer's FIN. */
static int watch(struct ec_floop *l, struct ec_fconn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    return epoll_ctl(l->ep, EPOLL_CTL_ADD, c->sock, &ev);
}

/* The listener stays level-triggered (a backlog longer than one burst is reported
 * again); out of descriptors it asks for nothing until a descriptor comes free. */
static void pause_listener(struct ec_floop *l, int paused)
{
    struct epoll_event ev = {.events = paused ? 0 : EPOLLIN, .data.ptr = NULL};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, l->listener, &ev);
}

/* Takes what one wait reported into the records' flags. Returns 1 when the listener
 * (data.ptr NULL) has clients waiting. */
static int take_events(struct ec_floop *l, const struct epoll_event *evs, int k)
{
    int want_accept = 0;
    for (int e = 0; e < k; e++) {
        struct ec_fconn *c = evs[e].data.ptr;
        if (!c) {
            want_accept = 1;
            continue;
        }
        if ((evs[e].events & EPOLLRDHUP) && l->bug->on_rdhup && l->bug->on_rdhup(c)) {
            c->hangup = 1;
            continue;
        }
        /* An error or hang-up makes the next call fail or return 0: both flags. */
        if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            c->readable = 1;
        if (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            c->writable = 1;
    }
    return want_accept;
}

/* One round over the records. Returns 1 when some record still has work. */
static int scan(struct ec_floop *l)
{
    int more = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct ec_fconn *c = l->conns[i];
        if (!c->closed && c->hangup) /* c->closed here: on_wake ended it */
            ec_floop_close(l, c, 0);
        else if (!c->closed && has_work(c))
            step(l, c);
        if (c->closed) {
            remove_at(l, i);
            /* Look at the record moved into slot i next (i - 1 + 1). */
            i = (l->bug->next_after_remove ? l->bug->next_after_remove(i) : i) - 1;
            continue;
        }
        if (has_work(c))
            more = 1;
    }
    return more;
}

int ec_epoll_et_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug)
{
    struct ec_floop l = {.watch = watch, .pause = pause_listener};
    struct epoll_event evs[MAX_EVENTS];
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    int more = 0, rc = 0;

    ec__floop_init(&l, listener, o, bug);
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.ep < 0 || epoll_ctl(l.ep, EPOLL_CTL_ADD, listener, &lev) != 0) {
        ec_warn("epoll for the listener: %s", ec_err_name(ec_sock_error()));
        if (l.ep >= 0)
            close(l.ep);
        ec_acceptor_close(&l.acc);
        return 1;
    }
    while (!ec_server_stopping()) {
        int timeout = more ? 0 : bug->timeout_ms ? bug->timeout_ms(&l) : -1;
        if (l.listen_resume) {
            int64_t left = l.listen_resume - ec_now_ms();
            if (left <= 0) {
                l.listen_resume = 0;
                pause_listener(&l, 0);
            } else if (!more) {
                timeout = (int)left;
            }
        }
        int k = epoll_wait(l.ep, evs, MAX_EVENTS, timeout);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            ec_warn("epoll_wait: %s", ec_err_name(ec_sock_error()));
            rc = 1;
            break;
        }
        int want_accept = take_events(&l, evs, k);
        if (bug->on_wake)
            bug->on_wake(&l);
        more = scan(&l);
        if (want_accept && ec__floop_accept(&l))
            break;
    }
    ec__floop_close_all(&l);
    close(l.ep);
    return rc;
}
