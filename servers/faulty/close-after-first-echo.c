/* close-after-first-echo.c - faulty-close-after-first-echo: a poll() server that hangs
 * up after its first echo.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its on_sent hook:
 *   Bug: hang_up() asks the loop to close the connection as soon as the first pending
 *     echo has gone out (the line marked BUG), as a one-request-per-connection server
 *     would: whatever the client sends after its first recv is never echoed.
 *   A correct server: keeps the connection open, reading and echoing, until the client
 *     closes.
 *   Diagnosis: premature-close (end-of-file before the whole echo) or unexpected-reset
 *     (when bytes were still unread at the close, RFC 9293 3.6.1) in every case whose
 *     data takes more than one recv; lost-after-half-close in half-close-pending-echo.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-close-after-first-echo",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that closes the\n"
               "connection once its first echo has gone out (one request per connection).",
    .default_workers = 0,
};

/* Everything owed to c has gone out (or nothing was owed after a recv). */
static int hang_up(struct ec_fconn *c)
{
    (void)c;
    return 1; /* BUG: hangs up once the first echo is out */
}

static const struct ec_bug bug = {.on_sent = hang_up};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
