/* abortive-close.c - faulty-abortive-close: a poll() server that ends every connection
 * with an RST.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its close hook:
 *   Bug: close_abortively() sets SO_LINGER {1, 0} before closing (ec_sock_abort, the
 *     line marked BUG), an abortive close: the client gets an RST instead of an orderly
 *     FIN (notes T3), so a client that half-closed and reads to end-of-file sees a
 *     reset.
 *   A correct server: closes gracefully (close() with the default linger: FIN after the
 *     pending data).
 *   Diagnosis: unexpected-reset in half-close-pending-echo (the echo arrives, then a
 *     reset instead of end-of-file) and in every other case that reads to end-of-file
 *     (see the profile).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-abortive-close",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that closes\n"
               "with SO_LINGER {1, 0}: every connection ends with an RST instead of a FIN.",
    .default_workers = 0,
};

/* Closes c, whatever the reason. */
static void close_abortively(struct ec_fconn *c, int reason)
{
    (void)reason;
    ec_sock_abort(c->sock); /* BUG: an abortive close (RST) instead of a graceful one */
}

static const struct ec_bug bug = {.close = close_abortively};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
