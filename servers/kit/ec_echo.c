/* ec_echo.c - the pending-echo record every model keeps per connection.
 *
 * The textbook's SOCKETINFO{buf, recvbytes, sendbytes}: bytes read are owed back
 * before the next read. Every recv is logged as one "recv" line. In framed modes the
 * bytes pass through a decoder first and only whole frames become owed, each logged
 * as one "frame" line.
 */
#include "ec_echo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_log.h"
#include "ec_wire.h"

int ec_echo_init(struct ec_echo *e, const char *peer, const struct ec_framing *f, size_t bufsize)
{
    memset(e, 0, sizeof *e);
    if (bufsize == 0 || f == NULL)
        return -EC_EINVAL;
    snprintf(e->peer, sizeof e->peer, "%s", peer != NULL ? peer : "?");
    e->f = f;
    e->bufsize = bufsize;
    e->cap = bufsize;
    if (f->kind != EC_FRAMING_RAW) {
        int rc = ec_decoder_init(&e->dec, f);
        if (rc < 0)
            return rc;
        /* One read can complete the frame held so far plus frames inside the read. */
        e->cap = bufsize + ec_framing_max_wire(f);
    }
    /* Raw mode receives straight into the pending buffer: a recv happens only when
     * nothing is owed (ec_echo_idle), so what arrives is already where it goes out
     * from, as in the floor of `echoconf bench`. The copy this saves was 11-18% of
     * posix-epoll's and posix-uring's profiles at 64 KiB messages (notes/performance.md).
     * Framed modes decode from rbuf into out and need both. */
    e->out = malloc(e->cap);
    e->rbuf = f->kind == EC_FRAMING_RAW ? e->out : malloc(bufsize);
    if (e->rbuf == NULL || e->out == NULL) {
        ec_echo_free(e);
        return -EC_ENOMEM;
    }
    return 0;
}

void ec_echo_free(struct ec_echo *e)
{
    if (e->f != NULL && e->f->kind != EC_FRAMING_RAW)
        ec_decoder_free(&e->dec);
    if (e->rbuf != e->out)
        free(e->rbuf);
    free(e->out);
    e->rbuf = NULL;
    e->out = NULL;
    e->cap = e->len = e->sent = 0;
}

int ec_echo_idle(const struct ec_echo *e)
{
    return e->sent == e->len;
}

/* Makes room for extra more pending bytes (only when a caller passes more than
 * bufsize bytes of its own; the model loops never do). */
static int reserve(struct ec_echo *e, size_t extra)
{
    if (e->cap - e->len >= extra)
        return 0;
    size_t want = e->len + extra;
    unsigned char *p = realloc(e->out, want);
    if (p == NULL)
        return -EC_ENOMEM;
    if (e->rbuf == e->out) /* raw mode: one buffer */
        e->rbuf = p;
    e->out = p;
    e->cap = want;
    return 0;
}

int ec_echo_received(struct ec_echo *e, const void *data, size_t n)
{
    ec_log_recv(e->peer, n, 0);
    return ec_echo_take(e, data, n);
}

int ec_echo_take(struct ec_echo *e, const void *data, size_t n)
{
    const unsigned char *in = data != NULL ? data : e->rbuf;
    if (e->f->kind == EC_FRAMING_RAW) {
        if (in == e->out + e->len) { /* received in place (see ec_echo_init) */
            e->len += n;
            return 0;
        }
        /* in may be rbuf, which is out in raw mode: keep its offset across a realloc. */
        uintptr_t at = (uintptr_t)in - (uintptr_t)e->out;
        int inside = (uintptr_t)in >= (uintptr_t)e->out && at < e->cap;
        if (reserve(e, n) < 0)
            return -EC_ENOMEM;
        if (inside)
            in = e->out + at;
        memmove(e->out + e->len, in, n);
        e->len += n;
        return 0;
    }
    size_t used = 0;
    while (used < n) {
        struct ec_frame fr;
        int got = 0;
        ptrdiff_t r = ec_decoder_feed(&e->dec, in + used, n - used, &fr, &got);
        if (r < 0)
            return (int)r;
        used += (size_t)r;
        if (got) {
            ec_log_recv(e->peer, fr.wire_len, 1);
            if (reserve(e, fr.wire_len) < 0)
                return -EC_ENOMEM;
            memcpy(e->out + e->len, fr.wire, fr.wire_len);
            e->len += fr.wire_len;
        }
    }
    return 0;
}

ptrdiff_t ec_echo_recv(struct ec_echo *e, ec_sock_t s)
{
    unsigned char *into = e->rbuf;
    /* Raw mode with echo still owed (a caller outside the contract): receive after
     * what is owed, never over it, as a separate rbuf did. */
    if (e->rbuf == e->out && e->len > 0) {
        if (reserve(e, e->bufsize) < 0)
            return -EC_ENOMEM;
        into = e->out + e->len;
    }
    ptrdiff_t n = ec_recv(s, into, e->bufsize, 0);
    if (n <= 0)
        return n;
    int r = ec_echo_received(e, into, (size_t)n);
    return r < 0 ? r : n;
}

size_t ec_echo_pending(const struct ec_echo *e, const unsigned char **p)
{
    *p = e->out + e->sent;
    return e->len - e->sent;
}

void ec_echo_sent(struct ec_echo *e, size_t n)
{
    if (n == 0)
        return;
    ec_log_send(e->peer, n);
    e->sent += n;
    if (e->sent >= e->len)
        e->sent = e->len = 0;
}

ptrdiff_t ec_echo_flush(struct ec_echo *e, ec_sock_t s)
{
    const unsigned char *p;
    size_t n = ec_echo_pending(e, &p);
    if (n == 0)
        return 0;
    for (;;) {
        ptrdiff_t r = ec_send(s, p, n, 0);
        if (r == -EC_EINTR)
            continue;
        if (r > 0)
            ec_echo_sent(e, (size_t)r);
        return r;
    }
}

int ec_echo_flush_until_blocked(struct ec_echo *e, ec_sock_t s)
{
    while (!ec_echo_idle(e)) {
        ptrdiff_t r = ec_echo_flush(e, s); /* retries EINTR itself */
        if (r == 0)
            return -EC_EWOULDBLOCK; /* a send of 0 bytes: no room, never seen on TCP */
        if (r < 0)
            return (int)r;
    }
    return 0;
}

int ec_echo_flush_all(struct ec_echo *e, ec_sock_t s)
{
    const unsigned char *p;
    size_t n;
    /* One ec_send per step, so that each successful send call is one "send" line, as
     * in the nonblocking models; a would-block (a nonblocking socket) is waited out. */
    while ((n = ec_echo_pending(e, &p)) > 0) {
        ptrdiff_t r = ec_send(s, p, n, 0);
        if (r > 0) {
            ec_echo_sent(e, (size_t)r);
        } else if (r == -EC_EINTR) {
            continue;
        } else if (r == -EC_EWOULDBLOCK || r == 0) {
            int w = ec_wait(s, EC_WRITABLE, -1);
            if (w < 0)
                return w;
        } else {
            return (int)r;
        }
    }
    return 0;
}

int ec_echo_serve_blocking(struct ec_echo *e, ec_sock_t s)
{
    for (;;) {
        ptrdiff_t n = ec_echo_recv(e, s);
        if (n == -EC_EINTR)
            continue;
        if (n <= 0)
            return (int)n; /* 0: the peer's FIN, and nothing is owed */
        int r = ec_echo_flush_all(e, s);
        if (r < 0)
            return r;
    }
}
