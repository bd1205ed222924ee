/* select.c - posix-select: one thread, select() over a read set and a write set
 * (textbook 04-02 SelectTCPServer).
 *
 * API: select() blocks until a socket in the read set is readable (data, FIN, reset,
 * or a pending connection on the listener) or one in the write set is writable; it is
 * level-triggered, so a socket still ready is reported again. As in the textbook's
 * SocketInfoArray, a client is in the read set XOR the write set: it is read only when
 * everything read before has been echoed (recvbytes == sendbytes), so a slow reader
 * simply sits in the write set while the others are served.
 * Limit it exposes: on Linux an fd_set is a bitmap of FD_SETSIZE (1024) bits indexed by
 * descriptor number, and FD_SET of a larger descriptor is undefined (select(2); notes
 * L9: a fortified build aborts). A client whose descriptor is >= FD_SETSIZE is refused
 * (reason=fd-setsize) and never put in a set.
 * Textbook bugs fixed: accepted sockets are made nonblocking (Linux does not inherit
 * O_NONBLOCK, notes T9, so a full socket would block every client: B5); nothing is
 * written past buf (buf[retval] = '\0', B1); RemoveSocketInfo's shift no longer skips
 * the moved client (B2); nfds is recomputed every round; EMFILE no longer spins (B3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-select",
    .summary =
        "select() over a read set and a write set in one thread (textbook 04-02): a client\n"
        "is read only when its echo has all been sent. Limit: descriptors >= FD_SETSIZE\n"
        "(1024) cannot enter an fd_set and are refused (reason=fd-setsize).",
    .default_workers = 0,
};

#define ACCEPT_BATCH      64  /* accepts per readable listener, so a burst drains fast */
#define ACCEPT_BACKOFF_MS 100 /* stop watching the listener this long after EMFILE */

/* The textbook's SOCKETINFO: the socket and its pending echo. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes (+ framing) */
    enum {
        CONN_READING, /* in the read set: everything received was echoed */
        CONN_WRITING  /* in the write set: echo pending, not read until it has gone */
    } state;
};

/* The loop's state: the textbook's SocketInfoArray and nTotalSockets. */
struct server {
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct conn *conns[FD_SETSIZE - 1]; /* one slot fewer: the listener is in rset too */
    int n;
    struct ec_acceptor acc; /* accept with a reserve descriptor for EMFILE */
    int64_t listen_resume;  /* ec_now_ms() before which the listener is left out */
};

/* The textbook's AddSocketInfo, with the refusals it lacked. Returns 0, or -1 if the
 * client was refused (and closed). */
static int conn_add(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c;

    if (s >= FD_SETSIZE || sv->n >= FD_SETSIZE - 1) {
        ec_refuse(s, peer, "fd-setsize");
        return -1;
    }
    if (sv->o->max_clients > 0 && sv->n >= sv->o->max_clients) {
        ec_refuse(s, peer, "max-clients");
        return -1;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0 ||
        ec_sock_set_nonblocking(s, 1) != 0) {
        if (c != NULL)
            ec_echo_free(&c->echo);
        free(c);
        ec_refuse(s, peer, "no-memory");
        return -1;
    }
    c->sock = s;
    c->state = CONN_READING;
    sv->conns[sv->n++] = c;
    ec_log_accept(peer);
    return 0;
}

/* The textbook's RemoveSocketInfo: logs, closes, frees, shifts the rest down. The
 * caller must look at slot i again (the textbook's loop went on with i + 1 and so
 * skipped the client that moved into slot i). */
static void conn_remove(struct server *sv, int i, int reason)
{
    struct conn *c = sv->conns[i];

    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
    sv->n--;
    memmove(&sv->conns[i], &sv->conns[i + 1], (size_t)(sv->n - i) * sizeof sv->conns[0]);
}

/* The listener is readable: accepts the waiting clients. Out of descriptors, the
 * acceptor refuses a waiting client with its reserve descriptor; if that cannot help,
 * the listener is left out of the read set for a while, so select does not spin on it. */
static void listener_on_readable(struct server *sv)
{
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        int r = ec_acceptor_accept(&sv->acc, &s, peer);

        if (r == 0) {
            conn_add(sv, s, peer);
            continue;
        }
        if (r == -EC_ECONNABORTED) /* refused for want of descriptors, or aborted */
            continue;
        if (r != -EC_EWOULDBLOCK && r != -EC_EINTR && r != -EC_ECONNRESET)
            sv->listen_resume = ec_now_ms() + ACCEPT_BACKOFF_MS;
        return;
    }
}

/* Sends what is pending (one send; a short count stays pending). Returns 1 while the
 * connection lives, or a close reason (<= 0). */
static int conn_flush(struct conn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

    if (n < 0 && n != -EC_EWOULDBLOCK && n != -EC_EINTR)
        return (int)n;
    if (ec_echo_idle(&c->echo))
        c->state = CONN_READING;
    return 1;
}

/* Receives once. 0 is the peer's FIN; as we read only when idle, every byte before it
 * has been echoed already, so the half-closed peer is done and the close is graceful.
 * Returns 1 while the connection lives, or a close reason (<= 0). */
static int conn_on_readable(struct conn *c)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return 1;
    if (n <= 0)
        return (int)n;
    if (!ec_echo_idle(&c->echo))
        c->state = CONN_WRITING;
    return 1;
}

/* The model (contract: ec_server.h): the textbook's WorkerThread loop: rebuild both
 * sets, select(), accept, then serve every ready client. Returns 0 once stopping, 1 if
 * select() itself fails or the listener cannot be watched; every client is closed. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server sv = {.listener = listener, .o = o}; /* 8 KiB: fine on the stack */
    int rc = 0;

    if (listener >= FD_SETSIZE || ec_sock_set_nonblocking(listener, 1) != 0) {
        ec_warn("the listener (fd %d) cannot be watched by select()", listener);
        return 1;
    }
    ec_acceptor_init(&sv.acc, listener);
    while (!ec_server_stopping()) {
        fd_set rset, wset;
        struct timeval tv, *timeout = NULL;
        int maxfd = -1, ready;
        int64_t now = ec_now_ms();

        FD_ZERO(&rset);
        FD_ZERO(&wset);
        if (now >= sv.listen_resume) {
            FD_SET(listener, &rset);
            maxfd = listener;
        } else {
            tv.tv_sec = 0;
            tv.tv_usec = (suseconds_t)(sv.listen_resume - now) * 1000;
            timeout = &tv;
        }
        for (int i = 0; i < sv.n; i++) {
            ec_sock_t s = sv.conns[i]->sock;
            FD_SET(s, sv.conns[i]->state == CONN_READING ? &rset : &wset);
            if (s > maxfd)
                maxfd = s;
        }
        ready = select(maxfd + 1, &rset, &wset, NULL, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            ec_warn("select: %s", ec_err_name(ec_sock_error()));
            rc = 1;
            break;
        }
        if (FD_ISSET(listener, &rset))
            listener_on_readable(&sv);
        for (int i = 0; i < sv.n;) {
            struct conn *c = sv.conns[i];
            int r = 1;
            if (c->state == CONN_READING && FD_ISSET(c->sock, &rset))
                r = conn_on_readable(c);
            else if (c->state == CONN_WRITING && FD_ISSET(c->sock, &wset))
                r = conn_flush(c);
            if (r <= 0)
                conn_remove(&sv, i, r);
            else
                i++;
        }
    }
    while (sv.n > 0)
        conn_remove(&sv, sv.n - 1, -EC_ECONNABORTED);
    ec_acceptor_close(&sv.acc);
    return rc;
}
