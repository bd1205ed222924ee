/* ignore-send-count.c - faulty-ignore-send-count: a poll() server that ignores the
 * count send() returns.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its send hook:
 *   Bug: send_all_counted() hands the whole pending echo to one send() and then records
 *     all of it as sent, whatever send() returned (the line marked BUG). A nonblocking
 *     send to a peer that does not read returns a short count or would-block (notes
 *     T7, B12: Linux and Wine short-write), and the bytes not taken are silently
 *     dropped.
 *   A correct server: records only the count send() returned and waits for POLLOUT to
 *     send the rest (ec_echo_flush does exactly that).
 *   Diagnosis: echo-mismatch in large-unread-burst, large-1m, slow-reader-isolation,
 *     slow-reader-no-loss and fairness: the echo jumps ahead where a short send dropped
 *     bytes, or, when no byte follows the hole, it ends short while this server's log
 *     counts the dropped bytes as sent (the engine reads that as the same mismatch). Each client socket gets a 16 KiB SO_SNDBUF (CLIENT_SNDBUF,
 *     not a bug) so that short sends are frequent.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-ignore-send-count",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop whose flush\n"
               "ignores the count send() returns, so a short send loses the rest of the echo.",
    .default_workers = 0,
};

/* SO_SNDBUF of each client socket (not a bug: it only makes short sends frequent). */
#define CLIENT_SNDBUF 16384

static void small_sndbuf(struct ec_fconn *c)
{
    ec_sock_set_bufsizes(c->sock, 0, CLIENT_SNDBUF);
}

/* One send of everything pending. */
static ptrdiff_t send_all_counted(struct ec_fconn *c)
{
    const unsigned char *p;
    size_t len = ec_echo_pending(&c->echo, &p);
    ptrdiff_t r = ec_send(c->sock, p, len, 0);
    if (r < 0 && r != -EC_EWOULDBLOCK && r != -EC_EINTR)
        return r;
    ec_echo_sent(&c->echo, len); /* BUG: all len bytes counted as sent, not r */
    return (ptrdiff_t)len;
}

static const struct ec_bug bug = {.on_accept = small_sndbuf, .send = send_all_counted};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
