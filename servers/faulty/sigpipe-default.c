/* sigpipe-default.c - faulty-sigpipe-default: a poll() server that lets SIGPIPE kill
 * it.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in ec_serve and its send
 * hook:
 *   Bug: ec_serve() puts SIGPIPE back to its default action (the line marked BUG; a
 *     server that never ignored it), and send_plain() sends with a plain send() without
 *     MSG_NOSIGNAL, as most POSIX code does. Linux raises SIGPIPE on a send to a
 *     connection that can no longer carry data: a second send after an RST, or the
 *     first one when the RST came after the peer's FIN (tcp_reset() in CLOSE_WAIT sets
 *     EPIPE, notes LX L4). The default action ends the whole process, and every client
 *     with it.
 *   A correct server: ignores SIGPIPE (signal(SIGPIPE, SIG_IGN), as ec_net_init does)
 *     or sends with MSG_NOSIGNAL, and handles EPIPE like any send error.
 *   Diagnosis: crash:SIGPIPE (died-after-reset) in rst-after-half-close, a case
 *     proposed to the catalogue in conformance/GALLERY.md: Linux raises SIGPIPE only
 *     for a reset that follows the FIN, or on a second send after a reset, which no
 *     current case does.
 */
#include <signal.h>
#include <sys/socket.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-sigpipe-default",
    .summary =
        "FAULTY on purpose (gallery of known bugs): poll() loop that restores the\n"
        "default SIGPIPE action and sends with plain send(): a send to a reset peer kills it.",
    .default_workers = 0,
};

/* One send of what is pending, as most POSIX code writes it. */
static ptrdiff_t send_plain(struct ec_fconn *c)
{
    const unsigned char *p;
    size_t len = ec_echo_pending(&c->echo, &p);
    ssize_t r = send(c->sock, p, len, 0); /* no MSG_NOSIGNAL: SIGPIPE decides */
    if (r < 0)
        return ec_sock_error();
    ec_echo_sent(&c->echo, (size_t)r);
    return r;
}

static const struct ec_bug bug = {.send = send_plain};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    signal(SIGPIPE, SIG_DFL); /* BUG: SIGPIPE not ignored: a send to a dead peer kills us */
    return ec_poll_loop(listener, o, &bug);
}
