/* zero-timeout-poll.c - faulty-zero-timeout-poll: a poll() loop that polls with a zero
 * timeout.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its timeout_ms hook:
 *   Bug: the loop calls poll() with a timeout of 0 (the line marked BUG), so poll()
 *     returns at once when nothing is ready and the loop spins: a full core while no
 *     client does anything (the select() version passes a zeroed struct timeval).
 *   A correct server: blocks in poll() with a timeout of -1 (or until the next deadline
 *     it has).
 *   Diagnosis: busy-poll in idle-cpu (the server's CPU time while its clients are
 *     idle).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-zero-timeout-poll",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop called with a\n"
               "zero timeout: it never sleeps, so it burns a core while idle (busy-poll).",
    .default_workers = 0,
};

/* How long poll() may block when nothing is due. */
static int no_wait(const struct ec_floop *l)
{
    (void)l;
    return 0; /* BUG: returns at once when idle: the loop spins */
}

static const struct ec_bug bug = {.timeout_ms = no_wait};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
