/* fd-keyed-state.c - faulty-fd-keyed-state: a poll() server that reuses a descriptor's
 * record without resetting it.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its close and
 * on_accept hooks:
 *   Bug: records are kept in a table indexed by descriptor number (keep_record) and
 *     reused when the kernel hands the same number to a new connection (it always
 *     gives the lowest free one, and Winsock reuses handle values as fast: notes 1.2,
 *     W8 A5). On reuse reuse_record() renews only the peer name (the line marked BUG):
 *     echo still pending from the previous client, which reset before it was sent, is
 *     sent to the new client first, ahead of its own bytes.
 *   A correct server: starts every connection with a fresh record (ec_echo_free then
 *     ec_echo_init on reuse, or a reset when the old connection closes).
 *   Diagnosis: cross-talk in rst-during-large-echo: the client after the reset receives
 *     the echo owed to the reset one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-fd-keyed-state",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that keeps one\n"
               "record per descriptor number and reuses it without a reset: old echo reaches "
               "new clients.",
    .default_workers = 0,
};

/* The records of closed connections, by descriptor number (rbuf NULL: none). */
static struct ec_echo *byfd;
static size_t nbyfd;

/* Closes c and keeps its record under its descriptor number. */
static void keep_record(struct ec_fconn *c, int reason)
{
    size_t fd = (size_t)c->sock;
    (void)reason;
    ec_sock_close(c->sock);
    if (fd >= nbyfd) {
        size_t nn = 2 * fd + 16;
        struct ec_echo *nb = realloc(byfd, nn * sizeof *nb);
        if (!nb)
            return; /* the loop frees the record */
        memset(nb + nbyfd, 0, (nn - nbyfd) * sizeof *nb);
        byfd = nb;
        nbyfd = nn;
    }
    byfd[fd] = c->echo;
    memset(&c->echo, 0, sizeof c->echo); /* the loop frees an empty record */
}

/* A client was accepted: takes the record its descriptor number had before. */
static void reuse_record(struct ec_fconn *c)
{
    size_t fd = (size_t)c->sock;
    char peer[EC_ADDRSTRLEN];
    if (fd >= nbyfd || byfd[fd].rbuf == NULL)
        return;
    snprintf(peer, sizeof peer, "%s", c->echo.peer);
    ec_echo_free(&c->echo);
    c->echo = byfd[fd];
    memset(&byfd[fd], 0, sizeof byfd[fd]);
    snprintf(c->echo.peer, sizeof c->echo.peer, "%s", peer); /* BUG: no reset */
}

static const struct ec_bug bug = {.close = keep_record, .on_accept = reuse_record};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    int rc = ec_poll_loop(listener, o, &bug);
    for (size_t fd = 0; fd < nbyfd; fd++)
        ec_echo_free(&byfd[fd]);
    free(byfd);
    return rc;
}
