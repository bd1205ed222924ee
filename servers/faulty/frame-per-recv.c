/* frame-per-recv.c - faulty-frame-per-recv: a framed poll() server that assumes every
 * recv ends on a frame boundary.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its recv hook:
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
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-frame-per-recv",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop whose frame\n"
               "decoder lives for one recv: a frame split across recvs is lost (framed modes "
               "only).",
    .default_workers = 0,
};

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

/* One recv; only its whole frames are echoed. */
static ptrdiff_t recv_whole_frames(struct ec_fconn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    size_t take = (size_t)n;
    if (n <= 0)
        return n;
    ec_log_recv(c->echo.peer, (size_t)n, 0); /* the recv happened, whatever is kept */
    if (c->echo.f->kind != EC_FRAMING_RAW) {
        int fr = whole_frames(c->echo.f, c->echo.rbuf, (size_t)n, &take);
        if (fr < 0)
            return fr;
        if (take == 0)
            return n;
    }
    int r = ec_echo_take(&c->echo, NULL, take);
    return r < 0 ? r : n;
}

static const struct ec_bug bug = {.recv = recv_whole_frames};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
