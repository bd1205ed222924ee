/* resend-on-short-send.c - faulty-resend-on-short-send: a poll() server that sends a
 * chunk again from its start when send() came back short.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its send hook:
 *   Bug: send_from_start() records a send only when it took the whole chunk (the line
 *     marked BUG): after a short count the next send starts from the beginning of the
 *     chunk again, as `send(s, buf, len, 0)` retried without advancing buf does, so the
 *     bytes the short send took reach the client twice. Short sends come when the
 *     client reads slower than it sends (notes T7, B12); each client socket gets a 16
 *     KiB SO_SNDBUF (CLIENT_SNDBUF, not a bug) so that they are frequent.
 *   A correct server: records the count send() returned and sends the rest from there
 *     (ec_echo_flush does exactly that).
 *   Diagnosis: duplicated-bytes (the echo repeats the span the short send took, then
 *     goes on in order) in the cases whose client stops reading while it sends.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-resend-on-short-send",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that, after a short\n"
               "send(), sends the whole chunk again from its start.",
    .default_workers = 0,
};

/* SO_SNDBUF of each client socket (not a bug: it only makes short sends frequent). */
#define CLIENT_SNDBUF 16384

static void small_sndbuf(struct ec_fconn *c)
{
    ec_sock_set_bufsizes(c->sock, 0, CLIENT_SNDBUF);
}

/* One send of everything pending. */
static ptrdiff_t send_from_start(struct ec_fconn *c)
{
    const unsigned char *p;
    size_t len = ec_echo_pending(&c->echo, &p);
    ptrdiff_t r = ec_send(c->sock, p, len, 0);
    if (r < 0)
        return r;
    if ((size_t)r == len)
        ec_echo_sent(&c->echo, len);
    /* BUG: a short count is not recorded: the next send starts at p again */
    return r;
}

static const struct ec_bug bug = {.on_accept = small_sndbuf, .send = send_from_start};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
