/* never-close-after-eof.c - faulty-never-close-after-eof: a poll() server that never
 * closes its side after the client's FIN.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its on_eof hook:
 *   Bug: keep_open() keeps the connection when recv() returns 0 (the line marked BUG),
 *     as a loop does that closes only on an error, or takes 0 for "nothing yet": it
 *     still sends everything it owes, then reads no more and never closes. The client
 *     has its whole echo, and its read of end-of-file waits forever.
 *   A correct server: on recv() == 0 sends what it still owes, then closes, so the
 *     client reads end-of-file after the last byte (RFC 9293 3.6: the FIN follows the
 *     data; RFC 862: the echo ends when the user ends it).
 *   Diagnosis: no-close-after-eof (the whole echo after the half-close, then no FIN and
 *     no reset) in every case that half-closes and reads to end-of-file.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-never-close-after-eof",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that sends what it\n"
               "owes after the client's FIN, then never closes the connection.",
    .default_workers = 0,
};

/* recv() returned 0: the peer ended its side. */
static int keep_open(struct ec_fconn *c)
{
    (void)c;
    return 0; /* BUG: the connection is kept; nothing ever closes it */
}

static const struct ec_bug bug = {.on_eof = keep_open};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
