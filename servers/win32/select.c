/* select.c - win32-select: one thread, select() over read and write sets (textbook 04-02).
 *
 * API: Winsock select() on fd_sets, which on Windows are arrays of SOCKET handles,
 * {u_int fd_count; SOCKET fd_array[FD_SETSIZE]}, with FD_SETSIZE 64 unless a program
 * defines it before including winsock2.h (nfds is ignored). Level-triggered: a socket
 * that stays ready is reported again on the next call. As in 04-02, a client is in the
 * read set while nothing is owed to it, and in the write set while an echo is pending
 * (read XOR write: SOCKETINFO's recvbytes > sendbytes picks the set), so it is read
 * only after everything read before went back.
 * Limit it exposes: FD_SETSIZE. The listener and the clients share one read set, so at
 * most 63 clients: the 64th is accepted and refused (reason=fd-setsize), as 04-02's
 * AddSocketInfo refuses past FD_SETSIZE - 1. Letting it in would lose it silently:
 * FD_SET ignores a socket once the set holds 64 (MinGW _fd_types.h: `if (fd_count <
 * FD_SETSIZE)`), and that client would never be served (notes B7).
 * Textbook bugs fixed: RemoveSocketInfo shifted the array down and the loop went on
 * with i + 1, skipping the client moved into slot i for a round (B2); here the last
 * client moves into slot i and slot i is visited again. WSAEWOULDBLOCK from send() or
 * recv() stays a non-error as in 04-02 (B6), short sends keep the rest in SOCKETINFO
 * (W-SHORT under Wine), and buf[retval] = '\0' no longer writes past the buffer (B1).
 * Stopping: server_main closes the listener; select() then reports it (a closed socket
 * is readable, Wine's test_select) or fails, and the loop sees the stop flag.
 * Wine 8.0: a reset peer reads as a graceful EOF (notes 2.2 W-RST), logged reason=eof.
 */
#include <stdlib.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "win32-select",
    .summary =
        "One thread, Winsock select() over a read set and a write set (textbook 04-02).\n"
        "FD_SETSIZE is 64 on Windows: the listener plus 63 clients; the 64th is refused.",
    .default_workers = 0,
};

/* Clients the sets can hold: FD_SETSIZE entries, one of them the listener's. */
#define MAX_CLIENTS (FD_SETSIZE - 1)

/* Pause after a shortage (WSAEMFILE, WSAENOBUFS) in accept(): the listener stays
 * readable, so without it select() would return at once, again and again. */
#define ACCEPT_BACKOFF_MS 100

/* The textbook's SOCKETINFO. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes: the pending echo */
};

/* The loop's state: the textbook's globals listenSock, nTotalSockets, SocketInfoArray. */
struct server {
    ec_sock_t listener;
    const struct ec_server_opts *o;
    int n;                           /* nTotalSockets */
    struct conn *conns[MAX_CLIENTS]; /* SocketInfoArray, dense: slots 0..n-1 */
};

/* Accepts one client (select said the listener is readable) and adds it, or refuses
 * it: past FD_SETSIZE, past --max-clients, or without memory. */
static void accept_one(struct server *sv)
{
    char peer[EC_ADDRSTRLEN];
    const char *why = NULL;
    struct conn *c = NULL;
    ec_sock_t s;
    int r = ec_accept(sv->listener, &s, peer);

    if (r < 0) {
        /* WSAEWOULDBLOCK (the client left between select and accept: the listener is
         * nonblocking for that reason) or a client reset before accept: nothing to do. */
        if (r == -EC_EMFILE || r == -EC_ENOMEM) {
            ec_warn("accept: %s; pausing %d ms", ec_err_name(r), ACCEPT_BACKOFF_MS);
            ec_sleep_ms(ACCEPT_BACKOFF_MS);
        }
        return;
    }
    if (sv->n >= MAX_CLIENTS)
        why = "fd-setsize";
    else if (sv->o->max_clients > 0 && sv->n >= sv->o->max_clients)
        why = "max-clients";
    else if ((c = malloc(sizeof *c)) == NULL ||
             ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0)
        why = "no-memory";
    if (why != NULL) {
        free(c);
        ec_log_refuse(peer, why);
        ec_sock_close(s);
        return;
    }
    /* Accepted sockets inherit the listener's nonblocking mode on Windows (notes T9);
     * setting it again costs nothing and states what the loop relies on. */
    ec_sock_set_nonblocking(s, 1);
    c->sock = s;
    sv->conns[sv->n++] = c;
    ec_log_accept(peer);
}

/* The read set said c is readable. One recv(); what arrives is owed back, and c moves
 * to the write set. Returns 1 while the connection lives, else the close reason
 * (0 = the peer's FIN: nothing was owed when we read, so a half-closed peer already
 * has its whole echo). */
static int conn_on_readable(struct conn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    int r;

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return 1; /* nothing after all: stay in the read set (B6) */
    if (n <= 0)
        return (int)n;
    r = ec_echo_received(&c->echo, NULL, (size_t)n);
    return r < 0 ? r : 1;
}

/* The write set said c is writable. One send() of what is owed; a short count keeps
 * the rest (sendbytes), WSAEWOULDBLOCK keeps it all (B6). Returns 1 or the close
 * reason. */
static int conn_on_writable(struct conn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

    if (n < 0 && n != -EC_EWOULDBLOCK && n != -EC_EINTR)
        return (int)n;
    return 1;
}

/* The textbook's RemoveSocketInfo: logs, closes, frees. */
static void conn_close(struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server sv;
    int rc = 0, i;

    sv.listener = listener;
    sv.o = o;
    sv.n = 0;
    /* Nonblocking, as in 04-02: a client that resets between select() and accept()
     * must not block the loop in accept(). */
    if (ec_sock_set_nonblocking(listener, 1) != 0) {
        if (ec_server_stopping())
            return 0; /* stopped before we began: the listener is closed already */
        ec_warn("ioctlsocket(FIONBIO) on the listener failed: %s", ec_err_name(ec_sock_error()));
        return 1;
    }
    while (!ec_server_stopping()) {
        fd_set rset, wset;

        FD_ZERO(&rset);
        FD_ZERO(&wset);
        FD_SET(listener, &rset);
        for (i = 0; i < sv.n; i++) {
            if (ec_echo_idle(&sv.conns[i]->echo))
                FD_SET(sv.conns[i]->sock, &rset);
            else
                FD_SET(sv.conns[i]->sock, &wset);
        }
        if (select(0, &rset, &wset, NULL, NULL) == SOCKET_ERROR) {
            if (ec_server_stopping())
                break; /* the listener was closed by the stop request */
            ec_warn("select failed (Winsock error %d)", WSAGetLastError());
            rc = 1;
            break;
        }
        if (ec_server_stopping())
            break;
        if (FD_ISSET(listener, &rset))
            accept_one(&sv);
        /* Clients accepted just now are not in this round's sets: FD_ISSET is false
         * for them. */
        for (i = 0; i < sv.n;) {
            struct conn *c = sv.conns[i];
            int r = 1;

            if (FD_ISSET(c->sock, &rset))
                r = conn_on_readable(c);
            else if (FD_ISSET(c->sock, &wset))
                r = conn_on_writable(c);
            if (r <= 0) {
                /* Move the last client into slot i and look at slot i again: its
                 * readiness from this round still holds (fix of B2). */
                conn_close(c, r);
                sv.conns[i] = sv.conns[--sv.n];
            } else {
                i++;
            }
        }
    }
    for (i = 0; i < sv.n; i++)
        conn_close(sv.conns[i], -EC_ECONNABORTED);
    return rc;
}
