/* serial-accept.c - faulty-serial-accept: a "concurrent" poll() server that accepts
 * only when no client is left.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its watch_listener
 * hook:
 *   Bug: the listener is put in the poll set only while no client is connected (the
 *     line marked BUG), so a second client waits in the backlog (its connect succeeds,
 *     its data gets no echo) until the first one leaves: an iterative server that
 *     claims to be concurrent. The base loop asks the same hook before each accept of
 *     a burst, so it takes one client from its backlog, never the several that
 *     happened to be queued at once (which made the bug show only when the scheduler
 *     spread the clients' connects over two rounds).
 *   A correct server: polls the listener on every round, whatever the number of
 *     clients.
 *   Diagnosis: serialized-clients in two-clients-concurrent (the second client is
 *     answered only after the first left); the other multi-client cases fail by the
 *     same cause.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-serial-accept",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that watches\n"
               "the listener only while it has no client: it serves one client at a time.",
    .default_workers = 0,
};

/* Whether this round's poll set holds the listener. */
static int only_when_empty(const struct ec_floop *l)
{
    return ec_floop_count(l) == 0; /* BUG: one client at a time */
}

static const struct ec_bug bug = {.watch_listener = only_when_empty};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
