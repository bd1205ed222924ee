/* level.c - the level-triggered base loop of the faulty gallery, over poll() or select().
 *
 * One thread, nonblocking sockets, rounds: wait, serve every client with events in
 * accept order (one recv when nothing is pending, then a flush; or a flush while echo
 * is pending: the textbook's recvbytes == sendbytes rule), free the clients that
 * closed, then accept. poll() takes an array; select() takes two bitmaps, so the
 * select loop refuses every descriptor >= FD_SETSIZE (logged reason=fd-setsize).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/select.h>

#include "floop.h"

/* What c waits for this round: the interest hook, or the read-XOR-write rule. */
static int interest(const struct ec_floop *l, const struct ec_fconn *c)
{
    if (l->bug->interest)
        return l->bug->interest(c);
    if (!ec_echo_idle(&c->echo))
        return EC_WRITABLE;
    return c->eof ? 0 : EC_READABLE;
}

int ec_floop_read(struct ec_floop *l, struct ec_fconn *c)
{
    ptrdiff_t n = l->bug->recv ? l->bug->recv(c) : ec_echo_recv(&c->echo, c->sock);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return 0;
    if (n == 0) {
        ec__floop_eof(l, c);
        return 0;
    }
    if (n < 0) {
        ec_floop_close(l, c, (int)n);
        return 0;
    }
    ec_floop_flush(l, c);
    return 1;
}

void ec_floop_flush(struct ec_floop *l, struct ec_fconn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t r = l->bug->send ? l->bug->send(c) : ec_echo_flush(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK)
            return; /* the socket is full: the next round waits for it */
        if (r == -EC_EINTR)
            continue;
        if (r < 0) {
            ec_floop_close(l, c, (int)r);
            return;
        }
    }
    if (l->bug->on_sent && l->bug->on_sent(c))
        ec_floop_close(l, c, 0);
}

/* The default serve: one step as the client's state allows. */
static int serve_one(struct ec_floop *l, struct ec_fconn *c)
{
    if (ec_echo_idle(&c->echo))
        ec_floop_read(l, c);
    else
        ec_floop_flush(l, c);
    return 1;
}

/* poll() over [listener, clients...]; sets every c->ready. Returns poll's count, or
 * -1 with errno; *lready tells whether the listener has news. */
static int wait_poll(struct ec_floop *l, int listen, int timeout, int *lready)
{
    if (l->pfd_cap < l->n + 1) {
        struct pollfd *p = realloc(l->pfd, (l->cap + 1) * sizeof *p);
        if (!p) {
            errno = ENOMEM;
            return -1;
        }
        l->pfd = p;
        l->pfd_cap = l->cap + 1;
    }
    l->pfd[0] = (struct pollfd){.fd = l->listener, .events = listen ? POLLIN : 0};
    for (size_t i = 0; i < l->n; i++) {
        int want = interest(l, l->conns[i]);
        short ev = (short)((want & EC_READABLE ? POLLIN : 0) | (want & EC_WRITABLE ? POLLOUT : 0));
        l->pfd[1 + i] = (struct pollfd){.fd = want ? l->conns[i]->sock : -1, .events = ev};
    }
    int k = poll(l->pfd, (nfds_t)(l->n + 1), timeout);
    for (size_t i = 0; k > 0 && i < l->n; i++) {
        short re = l->pfd[1 + i].revents;
        /* An error or hang-up is news for whichever call the state allows. */
        l->conns[i]->ready = (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL) ? EC_READABLE : 0) |
                             (re & (POLLOUT | POLLERR | POLLHUP) ? EC_WRITABLE : 0);
    }
    *lready = k > 0 && l->pfd[0].revents != 0;
    return k;
}

/* select() over the listener and the clients; as wait_poll. */
static int wait_select(struct ec_floop *l, int listen, int timeout, int *lready)
{
    fd_set rset, wset;
    struct timeval tv = {.tv_sec = timeout / 1000, .tv_usec = timeout % 1000 * 1000};
    int maxfd = l->listener;
    FD_ZERO(&rset);
    FD_ZERO(&wset);
    if (listen)
        FD_SET(l->listener, &rset);
    for (size_t i = 0; i < l->n; i++) {
        struct ec_fconn *c = l->conns[i];
        int want = interest(l, c);
        if (want & EC_READABLE)
            FD_SET(c->sock, &rset);
        if (want & EC_WRITABLE)
            FD_SET(c->sock, &wset);
        if (want && c->sock > maxfd)
            maxfd = c->sock;
    }
    int k = select(maxfd + 1, &rset, &wset, NULL, timeout < 0 ? NULL : &tv);
    for (size_t i = 0; k > 0 && i < l->n; i++) {
        ec_sock_t s = l->conns[i]->sock;
        l->conns[i]->ready =
            (FD_ISSET(s, &rset) ? EC_READABLE : 0) | (FD_ISSET(s, &wset) ? EC_WRITABLE : 0);
    }
    *lready = k > 0 && FD_ISSET(l->listener, &rset);
    return k;
}

/* select's limit: a descriptor of FD_SETSIZE or more does not fit in an fd_set. */
static const char *admit_fd_setsize(struct ec_floop *l, ec_sock_t s)
{
    (void)l;
    return s >= FD_SETSIZE ? "fd-setsize" : NULL;
}

/* The rounds, with the wait given. */
static int run(struct ec_floop *l, int (*wait)(struct ec_floop *, int, int, int *))
{
    const struct ec_bug *bug = l->bug;
    int rc = 0;
    while (!ec_server_stopping()) {
        int64_t now = ec_now_ms();
        int timeout = bug->timeout_ms ? bug->timeout_ms(l) : -1;
        int listen = !bug->watch_listener || bug->watch_listener(l);
        if (now < l->listen_resume) {
            timeout = (int)(l->listen_resume - now); /* out of descriptors: rest */
            listen = 0;
        }
        for (size_t i = 0; i < l->n; i++)
            l->conns[i]->ready = 0;
        int lready = 0;
        if (wait(l, listen, timeout, &lready) < 0) {
            if (errno == EINTR)
                continue;
            ec_warn("%s: %s", wait == wait_poll ? "poll" : "select", ec_err_name(ec_sock_error()));
            rc = 1;
            break;
        }
        if (bug->on_wake)
            bug->on_wake(l);
        size_t n = l->n; /* clients accepted below are served from the next round on */
        for (size_t i = 0; i < n; i++) {
            struct ec_fconn *c = l->conns[i];
            if (c->ready == 0 || c->closed)
                continue;
            if (!(bug->serve ? bug->serve(l, c, c->ready) : serve_one(l, c)))
                break;
        }
        ec__floop_reap(l);
        if (lready && ec__floop_accept(l))
            break;
    }
    ec__floop_close_all(l);
    free(l->pfd);
    return rc;
}

int ec_poll_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug)
{
    struct ec_floop l = {0};
    ec__floop_init(&l, listener, o, bug);
    return run(&l, wait_poll);
}

int ec_select_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug)
{
    struct ec_floop l = {.admit = admit_fd_setsize};
    ec__floop_init(&l, listener, o, bug);
    return run(&l, wait_select);
}
