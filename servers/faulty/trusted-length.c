/* trusted-length.c - faulty-trusted-length: a poll() server that believes a frame's
 * length prefix: it allocates what the header announces and waits for all of it.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its recv hook:
 *   Bug: in len16/len32 framing, recv_announced() reads the 2- or 4-byte header, then
 *     mallocs header + the announced length (the line marked BUG) and receives the
 *     payload into it, however large the announcement: 0xFFFFFFFF asks for 4 GiB (which
 *     Linux's overcommit grants untouched), and the connection waits for a payload no
 *     honest client sends. Only a whole frame meets the maximum (ec_echo_received);
 *     smaller frames, and the other framings, are echoed correctly.
 *   A correct server: refuses the frame as soon as the header is complete and exceeds
 *     the maximum (ec_decoder_feed returns -EC_ETOOLONG), closes that connection and
 *     logs why; its decoder buffer is allocated once, at the maximum, per connection.
 *   Diagnosis: unbounded-frame in oversize-length-prefix and oversize-length-prefix-len16
 *     (the close never comes).
 */
#include <stdlib.h>
#include <string.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-trusted-length",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that allocates\n"
               "what a length prefix announces and waits for it (len16/len32 only).",
    .default_workers = 0,
};

/* The frame being received: the header, then the announced payload. */
struct frame_in {
    unsigned char *buf; /* header + payload, as announced */
    size_t need, have;  /* need is 0 until the header is complete */
    unsigned char hdr[4];
};

static void start_frame(struct ec_fconn *c)
{
    c->bug = calloc(1, sizeof(struct frame_in));
}

static void close_frame(struct ec_fconn *c, int reason)
{
    struct frame_in *fi = c->bug;
    (void)reason;
    free(fi != NULL ? fi->buf : NULL);
    free(fi);
    ec_sock_close(c->sock);
}

/* One recv of at most what the frame in progress still lacks. */
static ptrdiff_t recv_announced(struct ec_fconn *c)
{
    struct frame_in *fi = c->bug;
    size_t hl = ec_framing_header_len(c->echo.f);
    if (hl == 0)
        return ec_echo_recv(&c->echo, c->sock);
    if (fi == NULL)
        return -EC_ENOMEM;
    if (fi->need == 0) {
        ptrdiff_t n = ec_recv(c->sock, fi->hdr + fi->have, hl - fi->have, 0);
        if (n <= 0)
            return n;
        fi->have += (size_t)n;
        if (fi->have < hl)
            return n;
        size_t len = 0;
        for (size_t i = 0; i < hl; i++)
            len = len << 8 | fi->hdr[i];
        fi->buf = malloc(hl + len); /* BUG: the announced size, however large */
        if (fi->buf == NULL)
            return -EC_ENOMEM;
        memcpy(fi->buf, fi->hdr, hl);
        fi->need = hl + len;
        if (fi->need > fi->have)
            return n;
    } else {
        size_t want = fi->need - fi->have;
        ptrdiff_t n = ec_recv(c->sock, fi->buf + fi->have,
                              want < c->echo.bufsize ? want : c->echo.bufsize, 0);
        if (n <= 0)
            return n;
        fi->have += (size_t)n;
        if (fi->have < fi->need)
            return n;
    }
    /* The frame is whole: echo it, and start the next one. */
    int r = ec_echo_received(&c->echo, fi->buf, fi->need);
    free(fi->buf);
    fi->buf = NULL;
    fi->have = fi->need = 0;
    return r < 0 ? r : 1;
}

static const struct ec_bug bug = {
    .on_accept = start_frame, .recv = recv_announced, .close = close_frame};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
