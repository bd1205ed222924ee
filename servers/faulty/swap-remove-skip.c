/* swap-remove-skip.c - faulty-swap-remove-skip: an edge-triggered server whose
 * RemoveSocketInfo skips the moved record.
 *
 * Loop: ec_epoll_et_loop (base/edge.c: records keep "may read" and "may write" until a
 * call says would-block, one step per record per round, a closed record swap-removed),
 * correct but for ONE bug, in its next_after_remove hook:
 *   Bug: when a client leaves, the loop moves the last record into the freed slot (the
 *     textbook's RemoveSocketInfo) and skip_moved() has the scan go on with the next
 *     index, so the moved record is skipped in this round (the line marked BUG, notes
 *     B2). Under level-triggered select that costs one round; here readiness is
 *     edge-triggered and kept in the record, and the skipped record does not count as
 *     "more work", so the loop blocks in epoll_wait while that client still has unread
 *     bytes: it stalls until some other event wakes the loop.
 *   A correct server: looks at slot i again after a removal (i-- before continue), as
 *     the textbook should have.
 *   Diagnosis: stall for the client whose record was moved. It fires only when a
 *     client leaves in the round in which the last record has work, so a case shows
 *     it every run only when it makes the two meet: leave-and-send-together freezes
 *     the server while the leaver's FIN and the last client's bytes arrive. Other
 *     multi-client cases show it when their clients happen to line up (the profile).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-swap-remove-skip",
    .summary = "FAULTY on purpose (gallery of known bugs): edge-triggered epoll loop\n"
               "whose swap-remove skips the record moved into the freed slot: its client can "
               "stall.",
    .default_workers = 0,
};

/* The record in slot i was removed and the last one moved there: where to go on. */
static size_t skip_moved(size_t i)
{
    return i + 1; /* BUG: the last record moved into slot i is skipped */
}

static const struct ec_bug bug = {.next_after_remove = skip_moved};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_epoll_et_loop(listener, o, &bug);
}
