/* fd-leak-on-reset.c - faulty-fd-leak-on-reset: a poll() server that leaks the
 * descriptor of a reset connection.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its close hook:
 *   Bug: close_if_orderly() closes the socket only on an orderly end (the line marked
 *     BUG): after a reset or another error the loop logs the close and frees the record
 *     but close() is never called, so every aborted client leaks one descriptor (and
 *     the kernel socket behind it).
 *   A correct server: closes the socket on every path that ends a connection.
 *   Diagnosis: fd-leak:N in no-fd-leak-after-storm (+40, one per resetting client) and
 *     rst-during-large-echo (+1).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-fd-leak-on-reset",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that does not\n"
               "close the socket of a client that reset or failed: one descriptor leaks per reset.",
    .default_workers = 0,
};

/* Closes c; reason 0 is the peer's orderly end, else a negative class. */
static void close_if_orderly(struct ec_fconn *c, int reason)
{
    if (reason == 0)
        ec_sock_close(c->sock); /* BUG: an error or reset path never closes the socket */
}

static const struct ec_bug bug = {.close = close_if_orderly};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
