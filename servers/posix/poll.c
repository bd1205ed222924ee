/* poll.c - posix-poll: one thread, poll() over an array of struct pollfd.
 *
 * API: poll() takes an array of {fd, events, revents} and blocks until one entry is
 * ready; level-triggered like select(), but the array is indexed by position, not by
 * descriptor number, so there is no FD_SETSIZE ceiling. Each client asks for POLLIN
 * when it owes nothing and POLLOUT while echo is pending (the select model's read-XOR-
 * write rule); POLLHUP and POLLERR come whatever was asked, and the next recv or send
 * tells which. No textbook example: this is select() without the bitmap.
 * Limits it exposes: the kernel scans the whole array on every call, so the cost of a
 * wake-up grows with the number of clients; only RLIMIT_NOFILE and --max-clients bound
 * the count. Running out of descriptors refuses the waiting client (reserve trick).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-poll",
    .summary =
        "poll() over a growing pollfd array in one thread: POLLIN while nothing is owed,\n"
        "POLLOUT while echo is pending. No FD_SETSIZE ceiling; each call scans the whole\n"
        "array, so a wake-up costs O(clients). Limits: RLIMIT_NOFILE, --max-clients.",
    .default_workers = 0,
};

#define ACCEPT_BATCH      64  /* accepts per readable listener, so a burst drains fast */
#define ACCEPT_BACKOFF_MS 100 /* stop watching the listener this long after EMFILE */

/* One client: its socket (also in the pollfd array) and its pending echo. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes (+ framing) */
    enum {
        CONN_READING, /* events = POLLIN: everything received was echoed */
        CONN_WRITING  /* events = POLLOUT: echo pending, not read until it has gone */
    } state;
};

/* The loop's state: pfds[0] is the listener; pfds[i] and conns[i] (i >= 1) go
 * together, and removing one moves the last pair into its place. */
struct server {
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct pollfd *pfds;
    struct conn **conns;
    size_t n, cap;          /* entries in use (listener included) and allocated */
    struct ec_acceptor acc; /* accept with a reserve descriptor for EMFILE */
    int64_t listen_resume;  /* ec_now_ms() before which the listener is left out */
};

/* Makes room for one more entry. Returns 0 or -1 (out of memory). */
static int server_grow(struct server *sv)
{
    size_t cap = sv->cap ? 2 * sv->cap : 64;
    struct pollfd *p;
    struct conn **c;

    if (sv->n < sv->cap)
        return 0;
    p = realloc(sv->pfds, cap * sizeof *p);
    if (p == NULL)
        return -1;
    sv->pfds = p;
    c = realloc(sv->conns, cap * sizeof *c);
    if (c == NULL)
        return -1;
    sv->conns = c;
    sv->cap = cap;
    return 0;
}

/* Adds a freshly accepted client as the last entry, or refuses it. */
static void conn_add(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c = NULL;

    if (sv->o->max_clients > 0 && sv->n - 1 >= (size_t)sv->o->max_clients) {
        ec_refuse(s, peer, "max-clients");
        return;
    }
    if (server_grow(sv) == 0)
        c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0 ||
        ec_sock_set_nonblocking(s, 1) != 0) {
        if (c != NULL)
            ec_echo_free(&c->echo);
        free(c);
        ec_refuse(s, peer, "no-memory");
        return;
    }
    c->sock = s;
    c->state = CONN_READING;
    sv->conns[sv->n] = c;
    sv->pfds[sv->n] = (struct pollfd){.fd = s, .events = POLLIN};
    sv->n++;
    ec_log_accept(peer);
}

/* Logs, closes and frees entry i, and moves the last entry (with its revents of this
 * round) into slot i; the caller looks at slot i again. */
static void conn_remove(struct server *sv, size_t i, int reason)
{
    struct conn *c = sv->conns[i];

    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
    sv->n--;
    sv->conns[i] = sv->conns[sv->n];
    sv->pfds[i] = sv->pfds[sv->n];
}

/* The listener is readable: accepts the waiting clients. Out of descriptors, the
 * acceptor refuses a waiting client with its reserve descriptor; if that cannot help,
 * the listener is left out for a while, so poll does not spin on it. */
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

/* Sends what is pending (one send; a short count stays pending, POLLOUT stays
 * asked). Returns 1 while the connection lives, or a close reason (<= 0). */
static int conn_flush(struct conn *c, struct pollfd *p)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

    if (n < 0 && n != -EC_EWOULDBLOCK && n != -EC_EINTR)
        return (int)n;
    if (ec_echo_idle(&c->echo)) {
        c->state = CONN_READING;
        p->events = POLLIN;
    }
    return 1;
}

/* Receives once. 0 is the peer's FIN; as we read only when idle, every byte before it
 * has been echoed already, so the close is graceful. Returns 1 while the connection
 * lives, or a close reason (<= 0). */
static int conn_on_readable(struct conn *c, struct pollfd *p)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return 1;
    if (n <= 0)
        return (int)n;
    if (!ec_echo_idle(&c->echo)) {
        c->state = CONN_WRITING;
        p->events = POLLOUT;
    }
    return 1;
}

/* The model (contract: ec_server.h): poll() over the array, accept, then serve every
 * entry with revents. Returns 0 once stopping, 1 if poll() itself fails; every client
 * is closed. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server sv = {.listener = listener, .o = o};
    int rc = 0;

    if (ec_sock_set_nonblocking(listener, 1) != 0 || server_grow(&sv) != 0) {
        ec_warn("cannot set up the listener for poll()");
        free(sv.pfds);
        free(sv.conns);
        return 1;
    }
    sv.pfds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
    sv.conns[0] = NULL;
    sv.n = 1;
    ec_acceptor_init(&sv.acc, listener);
    while (!ec_server_stopping()) {
        int64_t now = ec_now_ms();
        int timeout = -1, ready;

        /* During an EMFILE backoff the listener asks for nothing (POLLHUP still comes,
         * and with it the stop), and the wait is bounded by the backoff's end. */
        sv.pfds[0].events = now >= sv.listen_resume ? POLLIN : 0;
        if (now < sv.listen_resume)
            timeout = (int)(sv.listen_resume - now);
        ready = poll(sv.pfds, (nfds_t)sv.n, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            ec_warn("poll: %s", ec_err_name(ec_sock_error()));
            rc = 1;
            break;
        }
        if (sv.pfds[0].revents & (POLLIN | POLLERR | POLLHUP))
            listener_on_readable(&sv);
        for (size_t i = 1; i < sv.n;) {
            struct conn *c = sv.conns[i];
            short rev = sv.pfds[i].revents;
            int r = 1;
            sv.pfds[i].revents = 0;
            /* An error or hang-up is reported to whichever call the state allows. */
            if (rev & (POLLIN | POLLOUT | POLLERR | POLLHUP))
                r = c->state == CONN_READING ? conn_on_readable(c, &sv.pfds[i])
                                             : conn_flush(c, &sv.pfds[i]);
            if (r <= 0)
                conn_remove(&sv, i, r);
            else
                i++;
        }
    }
    while (sv.n > 1)
        conn_remove(&sv, sv.n - 1, -EC_ECONNABORTED);
    free(sv.pfds);
    free(sv.conns);
    ec_acceptor_close(&sv.acc);
    return rc;
}
