/* exit-on-reset.c - faulty-exit-on-reset: a poll() server that treats a reset like a
 * fatal error and exits.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its close hook:
 *   Bug: close_or_exit() ends the whole process when a connection ends with an error
 *     (the line marked BUG), as the textbook's err_quit does for a failed socket call:
 *     a reset from one client (recv or send failing with ECONNRESET) takes every other
 *     client down with the server.
 *   A correct server: closes that one connection, logs reason=reset, and goes on
 *     serving the others (err_display, not err_quit).
 *   Diagnosis: died-after-reset in the cases where a client resets (rst-before-accept,
 *     rst-before-echo, survives-rst-serves-next, close-with-unread-data, ...; see the
 *     profile).
 */
#include <stdlib.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-exit-on-reset",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that exits\n"
               "(the textbook's err_quit) when a client connection fails or resets.",
    .default_workers = 0,
};

/* Closes c; reason 0 is the peer's orderly end, else a negative class. */
static void close_or_exit(struct ec_fconn *c, int reason)
{
    if (reason < 0) {
        ec_warn("%s: %s", c->echo.peer, ec_err_name(reason));
        exit(1); /* BUG: one client's reset ends the server (err_quit) */
    }
    ec_sock_close(c->sock);
}

static const struct ec_bug bug = {.close = close_or_exit};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
