/* blocking-send.c - faulty-blocking-send: a single-threaded poll() loop that sends on
 * blocking sockets.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its on_accept hook:
 *   Bug: keep_blocking() leaves each accepted socket blocking (the line marked BUG):
 *     Linux accept() does not inherit O_NONBLOCK from the listener (notes T9), unlike
 *     Winsock, so a port of the textbook select server that relied on inheritance sends
 *     with blocking calls. poll() said "writable" only for a little room; the send of
 *     the rest blocks the one thread until the slow client reads (notes B5).
 *   A correct server: makes every accepted socket nonblocking
 *     (ec_sock_set_nonblocking(s, 1)) and leaves the rest of the echo pending until
 *     POLLOUT.
 *   Diagnosis: head-of-line-blocking in slow-reader-isolation: while one client does
 *     not read, a fast pinger on another connection gets no answer. Each client socket
 *     gets a 16 KiB SO_SNDBUF (CLIENT_SNDBUF, not a bug) so that the send blocks after
 *     kilobytes.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-blocking-send",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop whose client\n"
               "sockets stay blocking, so one slow reader blocks every client (head-of-line).",
    .default_workers = 0,
};

/* SO_SNDBUF of each client socket. Not a bug: a small send buffer (some servers set one
 * to bound the memory per client) only makes a blocking send block after kilobytes
 * instead of the megabytes Linux's autotuned default (up to 4 MiB) absorbs. */
#define CLIENT_SNDBUF 16384

/* A client was accepted (the loop made its socket nonblocking). */
static void keep_blocking(struct ec_fconn *c)
{
    ec_sock_set_nonblocking(c->sock, 0); /* BUG: blocking, as accept() returned it */
    ec_sock_set_bufsizes(c->sock, 0, CLIENT_SNDBUF);
}

static const struct ec_bug bug = {.on_accept = keep_blocking};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
