/* drop-idle-clients.c - faulty-drop-idle-clients: a poll() server that closes clients
 * that have been quiet for 200 ms.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its on_wake hook:
 *   Bug: drop_idle() closes every client that has sent nothing and been sent nothing
 *     for IDLE_MS, though it owes nothing and is owed nothing (the line marked BUG), as
 *     a server does that reclaims "dead" clients with a short timer. Its tick wakes the
 *     loop every TICK_MS.
 *   A correct server: keeps a quiet connection as long as the client keeps it (RFC
 *     862: the echo goes on until the user ends it; RFC 1122 4.2.3.6: TCP itself keeps
 *     an idle connection, keep-alives default to two hours).
 *   Diagnosis: idle-timeout:200 (the FIN came ~200 ms after the last byte either way,
 *     nothing owed) in idle-connection-held, where it is PASS-NONSTRICT (a SHOULD).
 *     A client that waits longer than IDLE_MS elsewhere sees it too, but how long
 *     clients wait there depends on the machine's speed (the profile's unsupported
 *     entries).
 */
#include <stdlib.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-drop-idle-clients",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that closes a client\n"
               "quiet for 200 ms, though nothing is owed either way.",
    .default_workers = 0,
};

#define IDLE_MS 200
#define TICK_MS 20

/* Per client: when it last sent or was sent something (ms). */
struct quiet {
    int64_t last;
};

static void start(struct ec_fconn *c)
{
    struct quiet *q = malloc(sizeof *q);
    if (q)
        q->last = ec_now_ms();
    c->bug = q;
}

static void touch(struct ec_fconn *c, ptrdiff_t n)
{
    if (n > 0 && c->bug)
        ((struct quiet *)c->bug)->last = ec_now_ms();
}

static ptrdiff_t recv_timed(struct ec_fconn *c)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);
    touch(c, n);
    return n;
}

static ptrdiff_t send_timed(struct ec_fconn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);
    touch(c, n);
    return n;
}

static int tick(const struct ec_floop *l)
{
    (void)l;
    return TICK_MS;
}

static void drop_idle(struct ec_floop *l)
{
    int64_t now = ec_now_ms();
    for (size_t i = 0; i < ec_floop_count(l); i++) {
        struct ec_fconn *c = ec_floop_client(l, i);
        const struct quiet *q = c->bug;
        if (!c->closed && q && ec_echo_idle(&c->echo) && now - q->last >= IDLE_MS)
            ec_floop_close(l, c, -EC_ETIMEDOUT); /* BUG: a quiet client is not a dead one */
    }
}

static void close_timed(struct ec_fconn *c, int reason)
{
    (void)reason;
    free(c->bug);
    c->bug = NULL;
    ec_sock_close(c->sock);
}

static const struct ec_bug bug = {.on_accept = start,
                                  .recv = recv_timed,
                                  .send = send_timed,
                                  .timeout_ms = tick,
                                  .on_wake = drop_idle,
                                  .close = close_timed};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
