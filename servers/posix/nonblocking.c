/* nonblocking.c - posix-nonblocking: the busy-polling nonblocking server (textbook 04-01).
 *
 * API: every socket is O_NONBLOCK, so accept(), recv() and send() return at once; a
 * call that cannot complete fails with EAGAIN (would-block) and the loop simply tries
 * again on its next turn. Nothing ever says when a retry could succeed, so the loop
 * never sleeps: THIS SERVER BURNS A FULL CORE EVEN WHEN IDLE, on purpose. That is the
 * textbook's point ("CPU use near 100%"), and the idle-cost fixtures measure it.
 * Structure: 04-01 spins in a ListenThread plus one ComThread per client; here the
 * same retry loop runs in one thread over an array of connections, so the cost is one
 * core instead of one per client on a shared machine, and the busy loop stays visible.
 * Limits: a turn visits every client, so latency grows with their number; --max-clients.
 * Textbook bugs fixed: Linux accept() does not inherit O_NONBLOCK (accept(2), notes T9)
 * so each client is made nonblocking itself; send's short count is kept (B12) and its
 * would-block no longer drops the client (04-01 broke out on any send error, B6);
 * nothing is written past buf (buf[recvByte] = '\0', B1).
 */
#include <stdlib.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-nonblocking",
    .summary =
        "O_NONBLOCK sockets retried on would-block in an endless loop (textbook 04-01):\n"
        "a busy loop that burns a full CPU core even when idle, on purpose. One thread\n"
        "polls every client per turn, so latency grows with the client count.",
    .default_workers = 0,
};

/* One client. The textbook keeps these in each ComThread's stack. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* the pending echo (buf, recvbytes, sendbytes) */
    enum {
        CONN_RECEIVING, /* nothing owed: try recv() every turn */
        CONN_SENDING    /* echo pending: try send() every turn until it has all gone */
    } state;
};

/* The loop's state: every live client, visited in order on each turn. */
struct server {
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct conn **conns;
    size_t n, cap;
    struct ec_acceptor acc; /* accept with a reserve descriptor for EMFILE */
};

/* Adds a freshly accepted client, or refuses it. */
static void conn_add(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c = NULL;

    if (sv->o->max_clients > 0 && sv->n >= (size_t)sv->o->max_clients) {
        ec_refuse(s, peer, "max-clients");
        return;
    }
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? 2 * sv->cap : 16;
        struct conn **grown = realloc(sv->conns, cap * sizeof *grown);
        if (grown != NULL) {
            sv->conns = grown;
            sv->cap = cap;
        }
    }
    if (sv->n < sv->cap)
        c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0) {
        free(c);
        ec_refuse(s, peer, "no-memory");
        return;
    }
    c->sock = s;
    c->state = CONN_RECEIVING;
    sv->conns[sv->n++] = c;
    ec_log_accept(peer);
}

/* Logs the close, closes the socket and frees the client; reason as ec_log_close. */
static void conn_close(struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
}

/* One try at sending what is pending; would-block means "next turn". Returns 1 while
 * the connection lives, or a close reason (<= 0). */
static int conn_flush(struct conn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

    if (n < 0 && n != -EC_EWOULDBLOCK && n != -EC_EINTR)
        return (int)n;
    c->state = ec_echo_idle(&c->echo) ? CONN_RECEIVING : CONN_SENDING;
    return 1;
}

/* One try at receiving; as the textbook's ComThread, what arrives is sent back in the
 * same turn. 0 is the peer's FIN: nothing is pending when we read (we read only when
 * idle), so the half-closed peer already has every byte and the close is graceful.
 * Returns 1 while the connection lives, or a close reason (<= 0). */
static int conn_on_readable(struct conn *c)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return 1;
    if (n <= 0)
        return (int)n;
    return conn_flush(c);
}

/* One turn of the busy loop: try accept once, then try every client once. Out of
 * descriptors, the acceptor refuses the waiting client with its reserve descriptor
 * rather than leave it in the backlog; a busy loop cannot spin any harder, so no
 * backoff is needed either way. */
static void serve_turn(struct server *sv)
{
    char peer[EC_ADDRSTRLEN];
    ec_sock_t s;
    int r = ec_acceptor_accept(&sv->acc, &s, peer);

    if (r == 0) {
        /* Linux accept() does not pass O_NONBLOCK on (accept(2) NOTES, notes T9). */
        if (ec_sock_set_nonblocking(s, 1) == 0)
            conn_add(sv, s, peer);
        else
            ec_sock_close(s);
    }
    for (size_t i = 0; i < sv->n;) {
        struct conn *c = sv->conns[i];
        r = c->state == CONN_RECEIVING ? conn_on_readable(c) : conn_flush(c);
        if (r <= 0) {
            /* Swap the last client into slot i and visit slot i again (the textbook's
             * RemoveSocketInfo shifted the array and skipped the moved client). */
            conn_close(c, r);
            sv->conns[i] = sv->conns[--sv->n];
        } else {
            i++;
        }
    }
}

/* The model (contract: ec_server.h): turns of the busy loop until stopping, then
 * closes every client and returns 0 (1 if the listener cannot be made nonblocking). */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server sv = {.listener = listener, .o = o};
    int r = ec_sock_set_nonblocking(listener, 1);

    if (r != 0) {
        ec_warn("cannot make the listener nonblocking: %s", ec_err_name(r));
        return 1;
    }
    ec_acceptor_init(&sv.acc, listener);
    while (!ec_server_stopping())
        serve_turn(&sv);
    for (size_t i = 0; i < sv.n; i++)
        conn_close(sv.conns[i], -EC_ECONNABORTED);
    free(sv.conns);
    ec_acceptor_close(&sv.acc);
    return 0;
}
