/* drop-idle-clients.c - faulty-drop-idle-clients: a poll() server that closes clients
 * that have been quiet for 200 ms between requests.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its on_wake hook:
 *   Bug: drop_idle() closes every client that has been quiet for IDLE_MS between two
 *     requests, though it owes nothing and is owed nothing (the line marked BUG), as a
 *     server does that reclaims "dead" clients with a short keep-alive timer (nginx's
 *     keepalive_timeout). Its tick wakes the loop every TICK_MS.
 *   Between requests: the client has sent something, has had all of its echo, and is
 *     not inside a frame (the decoder holds no partial frame). Before its first byte
 *     and inside a request such servers use other, longer timeouts (nginx's
 *     client_header_timeout and client_body_timeout, 60 s), not this one.
 *   Quiet: by the loop's clock, which does not count the loop's own pauses. A wait that
 *     ended more than TICK_MS after it began (the machine did not run the server) is
 *     time in which the server saw no client, and up to PAUSE_GRACE_MS of it is taken
 *     off each silence, as a failure detector does not hold its own pauses against
 *     its peers (Apache Cassandra's FailureDetector: "Not marking nodes down due to
 *     local pause"). On a loaded machine that is time in which the clients did not run
 *     either: measured at load averages of about 270 (a CPU hog and other engineers'
 *     matrices beside), a client of a case not about idleness went quiet between two
 *     requests for up to 102 ms by the wall clock, and never more than 63 ms beyond the
 *     server's own pauses meanwhile (2 runs of the 46 cells, 2026-12-07). Without the
 *     discount, silences of 230 to 578 ms at load averages of 100 to 470 ended such
 *     clients (bufsize-plus-one, fairness, pipelined-requests, ...). What no server
 *     rule sees: a client thread the machine does not run while the server runs on
 *     time (cross-talk's 64 client threads: one went quiet ~215 ms, 1 of 21 runs).
 *   A correct server: keeps a quiet connection as long as the client keeps it (RFC
 *     862: the echo goes on until the user ends it; RFC 1122 4.2.3.6: TCP itself keeps
 *     an idle connection, keep-alives default to two hours).
 *   Diagnosis: idle-timeout:200 (the FIN came 200 ms or more after the last byte either
 *     way, nothing owed; PAUSE_GRACE_MS keeps it below 455 ms, where echoconf's scale
 *     would read idle-timeout:500) in idle-connection-held, where it is PASS-NONSTRICT
 *     (a SHOULD), and in the cases whose clients wait quiet on purpose after an echo
 *     (the profile's deviations).
 */
#include <stdlib.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-drop-idle-clients",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that closes a client\n"
               "quiet for 200 ms between requests, though nothing is owed either way.",
    .default_workers = 0,
};

#define IDLE_MS 200
#define TICK_MS 20
/* At most this much of the loop's pauses is taken off one silence: the FIN still
 * comes within IDLE_MS + PAUSE_GRACE_MS (+ the closing round's own lateness) of the
 * last byte, so echoconf reads the timer as idle-timeout:200 (its scale reads any
 * silence from 182 to 454 ms so, conformance/README.md) on a loaded machine too.
 * Without a bound, slow-reader-memory's observer, whose server is busy with 104
 * senders, was closed 504 ms after its last byte at a load average of 250
 * (idle-timeout:500); with this one, at 350 its closing round alone came that late
 * once (522 ms). */
#define PAUSE_GRACE_MS 150

/* The loop's own pauses (one loop per process): when its current wait began, and the
 * sum of what every wait overran its TICK_MS (ms). A wait the loop itself made longer
 * (a listener resting after EMFILE, at most 100 ms) counts as a pause too: the timer
 * is then only later. */
static int64_t wait_from;
static int64_t paused_ms;

/* Per client: when it last sent or was sent something, the loop's pauses until then
 * (ms), and whether it has sent anything yet (the timer runs only from then). */
struct quiet {
    int64_t last;
    int64_t paused;
    int served;
};

static void start(struct ec_fconn *c)
{
    struct quiet *q = malloc(sizeof *q);
    if (q) {
        q->last = ec_now_ms();
        q->paused = paused_ms;
        q->served = 0;
    }
    c->bug = q;
}

static void touch(struct ec_fconn *c, ptrdiff_t n)
{
    struct quiet *q = c->bug;
    if (n > 0 && q) {
        q->last = ec_now_ms();
        q->paused = paused_ms;
    }
}

static ptrdiff_t recv_timed(struct ec_fconn *c)
{
    ptrdiff_t n = ec_echo_recv(&c->echo, c->sock);
    touch(c, n);
    if (n > 0 && c->bug)
        ((struct quiet *)c->bug)->served = 1;
    return n;
}

static ptrdiff_t send_timed(struct ec_fconn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);
    touch(c, n);
    return n;
}

/* Called right before each wait (base/level.c): the wait begins now. */
static int tick(const struct ec_floop *l)
{
    (void)l;
    wait_from = ec_now_ms();
    return TICK_MS;
}

static void drop_idle(struct ec_floop *l)
{
    int64_t now = ec_now_ms();
    if (wait_from && now - wait_from > TICK_MS)
        paused_ms += now - wait_from - TICK_MS; /* the machine did not run the loop */
    for (size_t i = 0; i < ec_floop_count(l); i++) {
        struct ec_fconn *c = ec_floop_client(l, i);
        const struct quiet *q = c->bug;
        if (c->closed || !q || !q->served || !ec_echo_idle(&c->echo) ||
            ec_decoder_pending(&c->echo.dec) > 0)
            continue; /* not served yet, owed an echo, or inside a frame: not idle */
        int64_t paused = paused_ms - q->paused;
        if (paused > PAUSE_GRACE_MS)
            paused = PAUSE_GRACE_MS;
        if (now - q->last - paused >= IDLE_MS)
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
