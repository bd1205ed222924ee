/* rest-after-next-chunk.c - faulty-rest-after-next-chunk: a poll() server that, when a
 * send comes back short, sends the next chunk before the rest.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its serve hook. A
 *   short send's rest waits aside while one more chunk is read (double buffering and
 *   a 16 KiB SO_SNDBUF that makes short sends frequent: neither is the bug).
 *   Bug: serve() sends that next chunk before the rest (the line marked BUG), as a
 *     server does whose "current buffer" follows the last read.
 *   A correct server: sends pending chunks in the order it read them (the rest first).
 *   Diagnosis: reordered-bytes (the echo holds exactly the bytes sent, two spans
 *     swapped) in the cases whose client stops reading while it sends.
 */
#include <stdlib.h>
#include <string.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-rest-after-next-chunk",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that sends the next\n"
               "chunk before the rest of a short send, swapping the two.",
    .default_workers = 0,
};

/* The rest of a short send (n bytes, sent up to off); next: a chunk was read after it. */
struct aside {
    unsigned char *p;
    size_t n, off;
    int next;
};

static void start(struct ec_fconn *c)
{
    ec_sock_set_bufsizes(c->sock, 0, 16384);
    c->bug = calloc(1, sizeof(struct aside));
}

/* One send of what is pending; after a short count the rest is set aside. */
static ptrdiff_t send_or_set_aside(struct ec_fconn *c)
{
    struct aside *a = c->bug;
    const unsigned char *p;
    size_t len = ec_echo_pending(&c->echo, &p), k;
    ptrdiff_t r = ec_send(c->sock, p, len, 0);
    k = r > 0 ? (size_t)r : 0;
    if (r > 0 && k < len && a && !a->n && (a->p = malloc(len - k)) != NULL) {
        memcpy(a->p, p + k, a->n = len - k);
        k = len; /* the pending record is free to read the next chunk */
    }
    if (k)
        ec_echo_sent(&c->echo, k);
    return r;
}

static int interest(const struct ec_fconn *c)
{
    const struct aside *a = c->bug;
    int more = c->eof || (a && a->next) ? 0 : EC_READABLE;
    return !ec_echo_idle(&c->echo) ? EC_WRITABLE : a && a->n ? EC_WRITABLE | more : more;
}

static int serve(struct ec_floop *l, struct ec_fconn *c, int ready)
{
    struct aside *a = c->bug;
    if (!ec_echo_idle(&c->echo)) {
        ec_floop_flush(l, c);
    } else if (!a || !a->n) {
        ec_floop_read(l, c);
    } else if ((ready & EC_READABLE) && !c->eof && !a->next) {
        a->next = ec_floop_read(l, c); /* BUG: this chunk goes out before the rest aside */
    } else {
        ptrdiff_t r = ec_send(c->sock, a->p + a->off, a->n - a->off, 0);
        if (r > 0 && (a->off += (size_t)r) == a->n) {
            free(a->p);
            memset(a, 0, sizeof *a);
        }
        if (r < 0 && r != -EC_EWOULDBLOCK && r != -EC_EINTR)
            ec_floop_close(l, c, (int)r);
        else if (c->eof && !a->n)
            ec_floop_close(l, c, 0);
    }
    return 1;
}

/* recv() returned 0: close, unless a rest is still aside (serve closes after it). */
static int eof(struct ec_fconn *c)
{
    return !c->bug || !((struct aside *)c->bug)->n;
}

static void close_aside(struct ec_fconn *c, int reason)
{
    (void)reason;
    free(c->bug ? ((struct aside *)c->bug)->p : NULL);
    free(c->bug);
    ec_sock_close(c->sock);
}

static const struct ec_bug bug = {.on_accept = start,
                                  .interest = interest,
                                  .serve = serve,
                                  .send = send_or_set_aside,
                                  .on_eof = eof,
                                  .close = close_aside};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
