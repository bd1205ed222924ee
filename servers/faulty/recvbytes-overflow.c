/* recvbytes-overflow.c - faulty model: the textbook's buf[retval] = '\0' one byte past
 * a 1000-byte record buffer.
 *
 * A small poll() echo server: nonblocking sockets, one pending-echo record per
 * client, read only when everything read before has been sent back (the textbook's
 * recvbytes == sendbytes rule). It is correct except for ONE bug:
 *   Bug: conn_on_readable() receives into the record's buf[RECORD_BUFSIZE] (1000 bytes,
 *     at most --bufsize), sets recvbytes, then writes the textbook's string terminator
 *     buf[retval] = '\\0' (the line marked BUG). After a full recv of 1000 bytes that
 *     byte lands one past the array, in the low byte of recvbytes, which follows buf
 *     directly: 1000 = 0x3E8 becomes 0x300 = 768, and only 768 of the 1000 bytes are
 *     echoed (notes B1, measured with the same layout under MinGW). With a buffer of
 *     1024 the low byte is already 0 and the bug hides, which is why this record uses
 *     1000.
 *   A correct server: declares buf[BUFSIZE + 1] (room for the terminator), or does not
 *     terminate at all since it never prints the data.
 *   Diagnosis: echo-mismatch (the echo jumps 232 bytes ahead at offset 768) in every
 *     case where one recv returns 1000 bytes (large-64k, large-1m, bufsize-exact, see
 *     the profile). The record buffer caps --bufsize at 1000.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "faulty-recvbytes-overflow",
    .summary =
        "FAULTY on purpose (gallery of known bugs): poll() loop with the textbook\n"
        "SOCKETINFO{buf[1000], recvbytes}: buf[retval] = 0 after a full recv truncates its echo.",
    .default_workers = 0,
};

/* Out of descriptors, the listener stays readable but accept fails: the waiting
 * client is accepted on a spare descriptor and refused, and if even that fails the
 * listener is left alone this long so the loop does not spin. */
#define ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so a connect storm cannot starve the clients. */
#define ACCEPT_BURST 64
/* The record's buffer: a multiple of 4 (so recvbytes follows it with no padding) but
 * not of 256 (so the stray terminator changes recvbytes: notes B1). */
#define RECORD_BUFSIZE 1000

/* One client: the textbook's SOCKETINFO{sock, buf, recvbytes}, plus the pending echo. */
struct conn {
    ec_sock_t sock;
    char buf[RECORD_BUFSIZE];
    int recvbytes;
    struct ec_echo echo; /* pending echo (sendbytes): what recvbytes said was received */
    int closed;          /* closed during this round; removed at its end */
};

/* The loop's state. */
struct loop {
    const struct ec_server_opts *o;
    ec_sock_t listener;
    struct conn **conns; /* live clients, in accept order */
    size_t n, cap;
    struct pollfd *pfd;     /* [0] listener, [1 + i] conns[i] */
    int spare;              /* a spare descriptor, given up to refuse a client on EMFILE */
    int accept_paused;      /* out of descriptors: listener not polled */
    int64_t accept_resume;  /* when to poll it again (ms) */
};

/* Closes c and logs why (0 = eof, else a negative class). */
static void conn_close(struct loop *l, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    c->closed = 1;
    l->accept_paused = 0; /* a descriptor came free */
}

/* Sends what is pending until done or the socket is full (then POLLOUT waits). */
static void conn_flush(struct loop *l, struct conn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t r = ec_echo_flush(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK)
            return;
        if (r < 0) {
            conn_close(l, c, (int)r);
            return;
        }
    }
}

/* One recv (the socket was reported readable and nothing is pending). */
static void conn_on_readable(struct loop *l, struct conn *c)
{
    size_t want = c->echo.bufsize < RECORD_BUFSIZE ? c->echo.bufsize : RECORD_BUFSIZE;
    ptrdiff_t n = ec_recv(c->sock, c->buf, want, 0);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return;
    if (n <= 0) {
        conn_close(l, c, (int)n);
        return;
    }
    c->recvbytes = (int)n;
    c->buf[n] = '\0'; /* BUG: the textbook's terminator; one past buf when n == 1000 */
    ec_log_recv(c->echo.peer, (size_t)n, 0); /* what the recv returned, as every model logs */
    int r = ec_echo_take(&c->echo, c->buf, (size_t)c->recvbytes);
    if (r < 0) {
        conn_close(l, c, r);
        return;
    }
    conn_flush(l, c);
}

/* Accepts the waiting connections (at most ACCEPT_BURST). Returns 1 when the server
 * was asked to stop, else 0. */
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
            struct pollfd *np = nc ? realloc(l->pfd, (cap + 1) * sizeof *np) : NULL;
            if (nc)
                l->conns = nc;
            if (!np) {
                ec_log_refuse(peer, "no-memory");
                ec_sock_close(s);
                continue;
            }
            l->pfd = np;
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
        ec_sock_set_nonblocking(s, 1);
        ec_log_accept(peer);
        l->conns[l->n++] = c;
    }
    return 0;
}

/* Drops the connections closed during the round, keeping accept order. */
static void reap_closed(struct loop *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct conn *c = l->conns[i];
        if (c->closed) {
            ec_echo_free(&c->echo);
            free(c);
        } else {
            l->conns[j++] = c;
        }
    }
    l->n = j;
}

/* Closes every client (server stop). */
static void close_all(struct loop *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->conns[i]->closed)
            conn_close(l, l->conns[i], 0);
    }
    reap_closed(l);
    free(l->conns);
    free(l->pfd);
    if (l->spare >= 0)
        close(l->spare);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct loop l = {0};
    l.o = o;
    l.listener = listener;
    l.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l.pfd = malloc(sizeof *l.pfd);
    if (!l.pfd) {
        ec_warn("out of memory");
        return 1;
    }
    ec_sock_set_nonblocking(listener, 1);
    while (!ec_server_stopping()) {
        int timeout = -1;
        if (l.accept_paused) {
            int64_t left = l.accept_resume - ec_now_ms();
            if (left <= 0)
                l.accept_paused = 0;
            else
                timeout = (int)left;
        }
        l.pfd[0].fd = listener;
        l.pfd[0].events = l.accept_paused ? 0 : POLLIN;
        l.pfd[0].revents = 0;
        for (size_t i = 0; i < l.n; i++) {
            struct conn *c = l.conns[i];
            l.pfd[1 + i].fd = c->sock;
            l.pfd[1 + i].events = ec_echo_idle(&c->echo) ? POLLIN : POLLOUT;
            l.pfd[1 + i].revents = 0;
        }
        int ready = poll(l.pfd, (nfds_t)(l.n + 1), timeout);
        if (ready < 0) {
            if (ec_sock_error() == -EC_EINTR)
                continue;
            ec_warn("poll failed (os error %d)", ec_sock_oserror());
            close_all(&l);
            return 1;
        }
        size_t n = l.n; /* clients accepted below are polled from the next round on */
        for (size_t i = 0; i < n; i++) {
            struct conn *c = l.conns[i];
            short re = l.pfd[1 + i].revents;
            if (re == 0 || c->closed)
                continue;
            if (ec_echo_idle(&c->echo))
                conn_on_readable(&l, c);
            else
                conn_flush(&l, c);
        }
        reap_closed(&l);
        if (l.pfd[0].revents && accept_clients(&l))
            break;
    }
    close_all(&l);
    return 0;
}
