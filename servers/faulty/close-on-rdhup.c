/* close-on-rdhup.c - faulty-close-on-rdhup: an epoll server that closes on the peer's
 * half-close notice.
 *
 * Loop: ec_epoll_et_loop (base/edge.c: records keep "may read" and "may write" until a
 * call says would-block, one step per record per round; it asks for EPOLLRDHUP and
 * reads the FIN like any byte), correct but for ONE bug, in its on_rdhup hook:
 *   Bug: when EPOLLRDHUP comes, drop_at_once() has the client removed at once (the line
 *     marked BUG), the way the textbook's WSAAsyncSelect and WSAEventSelect servers
 *     call RemoveSocketInfo on FD_CLOSE (notes B4). Linux reports EPOLLRDHUP as soon as
 *     the FIN arrives, together with EPOLLIN, not after the data is drained (notes 4,
 *     L6), so the bytes received before the FIN, and their pending echo, are thrown
 *     away: RFC 862 says every byte received is sent back.
 *   A correct server: treats the half-close as one more readable event: it reads and
 *     echoes until recv() returns 0, sends what is still owed, and only then closes.
 *   Diagnosis: lost-after-half-close in half-close-pending-echo (4 x bufsize, then
 *     shutdown: the echo stops short).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-close-on-rdhup",
    .summary = "FAULTY on purpose (gallery of known bugs): edge-triggered epoll loop\n"
               "that closes on EPOLLRDHUP at once, dropping echo still owed after a "
               "half-close.",
    .default_workers = 0,
};

/* The peer's FIN was reported. Returns 1: drop the client now. */
static int drop_at_once(struct ec_fconn *c)
{
    (void)c;
    return 1; /* BUG: treated as the end, as FD_CLOSE was (notes B4) */
}

static const struct ec_bug bug = {.on_rdhup = drop_at_once};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_epoll_et_loop(listener, o, &bug);
}
