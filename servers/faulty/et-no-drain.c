/* et-no-drain.c - faulty-et-no-drain: an edge-triggered epoll server that does not
 * read to EAGAIN.
 *
 * Loop: ec_epoll_et_loop (base/edge.c: records keep "may read" and "may write" until a
 * call says would-block, one step per record per round), correct but for ONE bug, in
 * its recv hook:
 *   Bug: recv_then_forget() clears the record's "readable" flag after every recv (the
 *     line marked BUG), not only when recv says would-block. Edge-triggered epoll
 *     reports a change once (notes 4, L6: no new event after a partial read), so bytes
 *     still queued after one recv of bufsize are never read until the client sends
 *     again. The same mistake as a WSAAsyncSelect server that skips a recv without
 *     re-posting FD_READ (notes 1.5 rule 7).
 *   A correct server: keeps reading (one recv per round, for fairness) until recv says
 *     would-block, and only then waits for the next edge.
 *   Diagnosis: stall in the cases where more than bufsize bytes arrive before the
 *     server reads (bufsize-plus-one, large-64k, large-1m, large-unread-burst, ...):
 *     the echo stops short and the client waits; lost-after-half-close in
 *     half-close-pending-echo.
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-et-no-drain",
    .summary = "FAULTY on purpose (gallery of known bugs): edge-triggered epoll loop that\n"
               "forgets readability after one recv: bytes left in the socket wait for a new "
               "edge.",
    .default_workers = 0,
};

/* One recv, as the loop's own, then the edge is taken as used up. */
static ptrdiff_t recv_then_forget(struct ec_fconn *c)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);
    if (n > 0)
        c->readable = 0; /* BUG: forgotten after one recv, though bytes may remain */
    return n;
}

static const struct ec_bug bug = {.recv = recv_then_forget};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_epoll_et_loop(listener, o, &bug);
}
