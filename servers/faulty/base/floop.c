/* floop.c - the client table every base loop of the faulty gallery shares: accepting
 * (the kit's reserve-descriptor acceptor), admitting, closing through the bug's hooks,
 * and freeing. Correct as written: a bug changes it only through a hook.
 */
#include <stdlib.h>

#include "floop.h"

#define ACCEPT_BURST      64  /* connections accepted per wake-up */
#define ACCEPT_BACKOFF_MS 100 /* out of descriptors with no spare: the listener rests */

void ec__floop_init(struct ec_floop *l, ec_sock_t listener, const struct ec_server_opts *o,
                    const struct ec_bug *bug)
{
    l->o = o;
    l->bug = bug;
    l->listener = listener;
    ec_sock_set_nonblocking(listener, 1);
    ec_acceptor_init(&l->acc, listener);
}

/* Makes room for one more client. Returns 0 or -1 (out of memory). */
static int grow(struct ec_floop *l)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? 2 * l->cap : 64;
    struct ec_fconn **nc = realloc(l->conns, cap * sizeof *nc);
    if (!nc)
        return -1;
    l->conns = nc;
    l->cap = cap;
    return 0;
}

/* Serves a freshly accepted socket, or refuses it. */
static void conn_add(struct ec_floop *l, ec_sock_t s, const char *peer)
{
    const char *(*admit)(struct ec_floop *, ec_sock_t) = l->bug->admit ? l->bug->admit : l->admit;
    const char *why = admit ? admit(l, s) : NULL;
    if (why) {
        ec_refuse(s, peer, why);
        return;
    }
    if (l->o->max_clients > 0 && l->n >= (size_t)l->o->max_clients) {
        ec_refuse(s, peer, "max-clients");
        return;
    }
    struct ec_fconn *c = grow(l) == 0 ? calloc(1, sizeof *c) : NULL;
    if (!c || ec_echo_init(&c->echo, peer, &l->o->framing, l->o->bufsize) != 0) {
        if (c)
            ec_echo_free(&c->echo);
        free(c);
        ec_refuse(s, peer, "no-memory");
        return;
    }
    c->sock = s;
    c->writable = 1; /* a new socket has room; EPOLLOUT edges come after a full one */
    ec_sock_set_nonblocking(s, 1);
    if (l->watch && l->watch(l, c) != 0) {
        ec__floop_free(c);
        ec_refuse(s, peer, "epoll");
        return;
    }
    if (l->bug->on_accept)
        l->bug->on_accept(c);
    ec_log_accept(peer);
    l->conns[l->n++] = c;
}

int ec__floop_accept(struct ec_floop *l)
{
    for (int k = 0; k < ACCEPT_BURST; k++) {
        /* The listener hook holds within a burst too: a loop that does not watch the
         * listener while it has clients takes no second one from the backlog. */
        if (k > 0 && l->bug->watch_listener && !l->bug->watch_listener(l))
            return 0;
        ec_sock_t s;
        char peer[EC_ADDRSTRLEN];
        int r = ec_acceptor_accept(&l->acc, &s, peer);
        if (r == 0) {
            conn_add(l, s, peer);
            continue;
        }
        if (r == -EC_ECONNABORTED) /* refused for want of descriptors, or aborted */
            continue;
        if (r == -EC_EWOULDBLOCK || r == -EC_EINTR || r == -EC_ECONNRESET)
            return 0;
        if (ec_server_stopping())
            return 1; /* the stop shut the listener down */
        /* No spare to refuse with, or a cause we cannot cure: rest, do not spin. */
        l->listen_resume = ec_now_ms() + ACCEPT_BACKOFF_MS;
        if (l->pause)
            l->pause(l, 1);
        return 0;
    }
    return 0;
}

void ec_floop_close(struct ec_floop *l, struct ec_fconn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    if (l->bug->close)
        l->bug->close(c, reason);
    else
        ec_sock_close(c->sock);
    c->closed = 1;
    ec_acceptor_release(&l->acc); /* a descriptor came free: the spare first */
    if (l->listen_resume) {
        l->listen_resume = 0;
        if (l->pause)
            l->pause(l, 0);
    }
}

void ec__floop_eof(struct ec_floop *l, struct ec_fconn *c)
{
    if (!l->bug->on_eof || l->bug->on_eof(c))
        ec_floop_close(l, c, 0);
    else
        c->eof = 1;
}

void ec__floop_free(struct ec_fconn *c)
{
    ec_echo_free(&c->echo);
    free(c);
}

void ec__floop_reap(struct ec_floop *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->conns[i]->closed)
            ec__floop_free(l->conns[i]);
        else
            l->conns[j++] = l->conns[i];
    }
    l->n = j;
}

void ec__floop_close_all(struct ec_floop *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->conns[i]->closed)
            ec_floop_close(l, l->conns[i], 0);
    }
    ec__floop_reap(l);
    free(l->conns);
    ec_acceptor_close(&l->acc);
}

size_t ec_floop_count(const struct ec_floop *l)
{
    return l->n;
}

struct ec_fconn *ec_floop_client(const struct ec_floop *l, size_t i)
{
    return l->conns[i];
}

const struct ec_server_opts *ec_floop_opts(const struct ec_floop *l)
{
    return l->o;
}
