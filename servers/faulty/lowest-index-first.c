/* lowest-index-first.c - faulty-lowest-index-first: a poll() server that serves only
 * the lowest ready index per wake-up.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its serve hook:
 *   Bug: each wake-up serves the lowest-index ready client, until it would block, and
 *     then the scan stops (the line marked BUG), the way WSAWaitForMultipleEvents
 *     reports only the smallest signalled index (notes 1.6). While an early connection
 *     stays busy, every wake-up serves it again and later connections are starved.
 *   A correct server: serves every ready entry of the poll array on each wake-up (the
 *     textbook's fix for WSAWaitForMultipleEvents: after index i, test i+1..n-1 too).
 *   Diagnosis: unfair-starvation in fairness (a flood on an early connection that
 *     keeps the server's read side from ever running empty, a probe on a late one);
 *     caught in 20 of 20 measured runs (conformance/GALLERY.md).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-lowest-index-first",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that serves only\n"
               "the first ready client per wake-up: an early busy client starves later ones.",
    .default_workers = 0,
};

/* Serves the first ready client of the scan. Returns 0: the scan ends. */
static int serve_first_only(struct ec_floop *l, struct ec_fconn *c, int ready)
{
    (void)ready;
    /* The chosen client is served until it has nothing more to give or take. */
    while (!c->closed) {
        if (ec_echo_idle(&c->echo)) {
            if (!ec_floop_read(l, c))
                break;
        } else {
            ec_floop_flush(l, c);
            if (!ec_echo_idle(&c->echo))
                break;
        }
    }
    return 0; /* BUG: only the lowest ready index is served per wake-up */
}

static const struct ec_bug bug = {.serve = serve_first_only};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
