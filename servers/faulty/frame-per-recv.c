/* frame-per-recv.c - faulty model: a framed poll() server that assumes every recv ends
 * on a frame boundary.
 *
 * A small poll() echo server: nonblocking sockets, one pending-echo record per
 * client, read only when everything read before has been sent back (the textbook's
 * recvbytes == sendbytes rule). It is correct except for ONE bug:
 *   Bug: in a framed mode, whole_frames() decodes each recv with a fresh decoder and
 *     echoes the whole frames found in it; the partial frame left at the end of a recv
 *     dies with that decoder (the line marked BUG), and the next recv is decoded from
 *     its first byte as if a frame started there. TCP has no message boundaries
 *     (textbook chapter 3): a frame split across two recvs (trickled bytes, a length
 *     prefix split inside its header) is lost or misread. Raw mode is unaffected.
 *   A correct server: keeps one decoder per connection for its whole life, so a partial
 *     frame waits for its next bytes (ec_echo_received does exactly that).
 *   Diagnosis: frame-reassembly-error in the framed cases whose frames cross recv
 *     boundaries (split-at-every-point, pipelined-requests, coalesced-frames-* under a
 *     bytewise or random write plan), or stall / premature-close when a misread length
 *     prefix waits for bytes or exceeds the maximum (len-prefix-header-split).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "faulty-frame-per-recv",
    .summary =
        "FAULTY on purpose (gallery of known bugs): poll() loop whose frame\n"
        "decoder lives for one recv: a frame split across recvs is lost (framed modes only).",
    .default_workers = 0,
};

/* Out of descriptors, the listener stays readable but accept fails: the waiting
 * client is accepted on a spare descriptor and refused, and if even that fails the
 * listener is left alone this long so the loop does not spin. */
#define ACCEPT_PAUSE_MS 100
/* Connections accepted per wake-up, so a connect storm cannot starve the clients. */
#define ACCEPT_BURST 64

/* One client. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* pending echo: the textbook's buf, recvbytes, sendbytes */
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

/* How many bytes at the start of buf[0..len) are whole frames: *whole. Returns 0,
 * or a negative class when the bytes cannot be framed (a frame above the maximum). */
static int whole_frames(const struct ec_framing *f, const unsigned char *buf, size_t len,
                        size_t *whole)
{
    struct ec_decoder d;
    int rc = ec_decoder_init(&d, f);
    *whole = 0;
    if (rc < 0)
        return rc;
    size_t off = 0;
    while (off < len) {
        struct ec_frame fr;
        int got = 0;
        ptrdiff_t used = ec_decoder_feed(&d, buf + off, len - off, &fr, &got);
        if (used < 0) {
            rc = (int)used;
            break;
        }
        off += (size_t)used;
        if (got)
            *whole = off;
        else if (used == 0)
            break;
    }
    ec_decoder_free(&d); /* BUG: the partial frame at the end of this recv is dropped */
    return rc;
}

/* One recv (the socket was reported readable and nothing is pending). */
static void conn_on_readable(struct loop *l, struct conn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return;
    if (n <= 0) {
        conn_close(l, c, (int)n);
        return;
    }
    ec_log_recv(c->echo.peer, (size_t)n, 0); /* the recv happened, whatever is kept */
    size_t take = (size_t)n;
    if (l->o->framing.kind != EC_FRAMING_RAW) {
        int fr = whole_frames(&l->o->framing, c->echo.rbuf, (size_t)n, &take);
        if (fr < 0) {
            conn_close(l, c, fr);
            return;
        }
        if (take == 0)
            return;
    }
    int r = ec_echo_take(&c->echo, NULL, take);
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
