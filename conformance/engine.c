/* engine.c - replays a fixture: one thread per connection instance runs its steps
 * (barriers, serial hand-offs and spawn groups coordinate them), every pass of the
 * boundary sweep runs the whole script again against the same server, and the
 * results become verdicts per path with one named diagnosis (DESIGN.md section 5).
 * The report itself is written by report.c.
 */
#include "engine_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ec_net.h"
#include "ec_sock.h"
#include "server_launch.h"

#define DEFAULT_STEP_MS 2000
/* A repeated send's in-flight bound: this long of the echo rate measured so far, and
 * never less than this many bytes (exec_send). */
#define FLOOD_BACKLOG_MS   500
#define FLOOD_MIN_INFLIGHT 65536.0
#define READY_MS        10000
#define STOP_GRACE_MS   2000
#define THREAD_STACK    (256 * 1024)
#define TIMELINE_CAP    20000

/* ---- failures ---------------------------------------------------------------------- */

static void set_failure(struct inst *in, const struct ec_step *st, enum ec_verdict v,
                        enum ec_outcome oc, const char *diag, const char *expected,
                        const char *actual)
{
    struct failure *f = &in->f;
    if (f->set)
        return;
    f->set = 1;
    f->t_us = ec_timeline_now_us(&in->ps->tl);
    f->st = st;
    f->path = st ? ec_step_path(st->kind) : EC_PATH_DATA;
    f->v = v;
    f->oc = oc;
    f->diff_off = -1;
    snprintf(f->diagnosis, sizeof f->diagnosis, "%s", diag);
    snprintf(f->expected, sizeof f->expected, "%s", expected);
    snprintf(f->actual, sizeof f->actual, "%s", actual);
    snprintf(f->who, sizeof f->who, "%s", in->c.label);
}

/* How long a reset's diagnosis waits for the server's "close" line of the connection
 * (scaled): the RST can reach us before the engine has read the line logged with it. */
#define CLOSE_LOG_MS 1000
/* How long a server must have been quiet with our bytes unread before a pace wait
 * (one client in the pass) gives up before its deadline (scaled). */
#define PACE_QUIET_MS 300
/* The same for an expect_eof with one client in the pass ("a quiet server"). */
#define EOF_QUIET_MS 300

static int srv_wait(struct inst *in, enum ec_after ev, long long bytes, int64_t deadline);
static int is_loopback(const char *host);
static int closed_with_unread(struct inst *in);
struct quiet;
static int srv_wait_quiet(struct inst *in, enum ec_after ev, long long bytes, int64_t deadline,
                          struct quiet *q);

/* What a reset (or another receive error) means: unexpected-reset, unless the server
 * closed the connection of its own accord while bytes we had sent were still unread
 * by it (its log shows the close, and fewer bytes received than we sent; we had
 * neither half-closed nor reset it). Then the reset is its kernel's answer to data it
 * never read, and whether its close went out as FIN or as RST (unread data, RFC 9293
 * 3.6.1), or our recv met the FIN or the RST first, is the scheduler's call; the
 * server's doing is the early close, so the diagnosis names that, the same on every
 * run. A server that read everything and then reset (SO_LINGER {1, 0}) stays
 * unexpected-reset. Without a server log, a send made after the server's FIN had
 * arrived (or a reset met after that FIN: EPIPE) tells the same. */
static const char *reset_diag(struct inst *in)
{
    struct ec_conn *c = &in->c;
    if (c->fin_before_send || c->err == -EC_ECLOSED || closed_with_unread(in))
        return EC_DIAG_PREMATURE_CLOSE;
    return EC_DIAG_UNEXPECTED_RESET;
}

/* Did the server close this connection of its own accord while bytes we had sent
 * were still unread by it? Its log shows the close (waited for, bounded) and fewer
 * bytes received than we sent; we had neither half-closed nor reset it. 0 without a
 * log. */
static long long logged_not_arrived(struct inst *in, int ended);

/* closed_with_unread(), and the server had sent back every byte it read. */
static int hung_up_owing_nothing(struct inst *in)
{
    if (!closed_with_unread(in))
        return 0;
    struct ec_server_proc *s = &in->ps->run->srv;
    pthread_mutex_lock(&s->mu);
    int owes = in->trk.sent < in->trk.recv;
    pthread_mutex_unlock(&s->mu);
    return !owes;
}

static int closed_with_unread(struct inst *in)
{
    struct ec_conn *c = &in->c;
    if (!in->ps->run->can_pace || !in->trk.port || c->wr_shut || c->reset_sent ||
        srv_wait(in, EC_AFTER_CLOSE, 0, ec_clock_ms() + ec_scale_ms(CLOSE_LOG_MS)) != 0)
        return 0;
    struct ec_server_proc *s = &in->ps->run->srv;
    pthread_mutex_lock(&s->mu);
    int unread = in->trk.recv < (long long)c->sent_len;
    pthread_mutex_unlock(&s->mu);
    return unread;
}

/* Is outcome oc accepted by one of the step's alternatives? Returns the alternative or
 * NULL. */
static const struct ec_alt *alternative(const struct ec_step *st, enum ec_outcome oc)
{
    for (size_t i = 0; i < st->nalts; i++)
        if (st->alts[i].outcome == oc)
            return &st->alts[i];
    return NULL;
}

/* ---- timing ------------------------------------------------------------------------ */

/* The absolute deadline of a step: its own (scaled), cut by the pass budget. Sets
 * *cut when the budget is the nearer one. */
static int64_t step_deadline(struct inst *in, const struct ec_step *st, int def_ms, int *cut)
{
    int ms = ec_scale_ms(st->deadline_ms ? st->deadline_ms : def_ms);
    int64_t d = ec_clock_ms() + ms;
    *cut = 0;
    if (d > in->ps->deadline_ms) {
        d = in->ps->deadline_ms;
        *cut = 1;
    }
    return d;
}

static enum ec_verdict timeout_verdict(int cut)
{
    return cut ? EC_V_TIMEOUT : EC_V_FAIL;
}

/* ---- barriers, serial groups --------------------------------------------------------- */

static struct barrier *find_barrier(struct pass *ps, const char *name)
{
    for (size_t i = 0; i < ps->nbarriers; i++)
        if (strcmp(ps->barriers[i].name, name) == 0)
            return &ps->barriers[i];
    return NULL;
}

/* Marks b complete once every live participant arrived (call with ps->mu held): its
 * eventfd becomes readable for good, which wakes every waiter's poll at once. */
static void barrier_check(struct barrier *b)
{
    if (!b->done && b->arrived >= b->participants) {
        b->done = 1;
        uint64_t one = 1;
        if (write(b->efd, &one, sizeof one) < 0)
            b->done = 1; /* an eventfd write of 1 cannot fail short of overflow */
    }
}

/* Waits at a barrier until every live participant arrived. While waiting it keeps
 * draining the echo (when reading), so a peer never blocks on a send to us because we
 * sit at a barrier. A wait_only step waits the same way without being a participant
 * (it neither arrives nor holds anyone up): a group starts after another group's
 * step. Returns 0, or -1 when the deadline passed. */
static int barrier_wait(struct inst *in, const struct ec_step *st, int *cut)
{
    struct pass *ps = in->ps;
    struct barrier *b = find_barrier(ps, st->name);
    int64_t deadline = step_deadline(in, st, ec__budget_ms(ps), cut);
    pthread_mutex_lock(&ps->mu);
    if (!st->wait_only) {
        b->arrived++;
        in->arrived[b - ps->barriers] = 1;
        barrier_check(b);
    }
    int done = b->done;
    pthread_mutex_unlock(&ps->mu);
    while (!done) {
        int left = (int)(deadline - ec_clock_ms());
        if (left <= 0)
            return -1;
        struct pollfd p[2] = {{.fd = b->efd, .events = POLLIN}, {.fd = -1}};
        int reading = in->c.reading && in->c.fd >= 0 && !in->c.eof && !in->c.err;
        if (reading)
            p[1] = (struct pollfd){.fd = in->c.fd, .events = POLLIN};
        poll(p, 2, left);
        if (reading && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            ec_conn_pump(&in->c, 0);
        done = (p[0].revents & POLLIN) != 0;
    }
    return 0;
}

/* Lets the next instance of a serial group start (once). */
static void release_next(struct inst *in)
{
    if (in->handed)
        return;
    in->handed = 1;
    struct pass *ps = in->ps;
    size_t k = (size_t)(in - ps->insts);
    if (k + 1 < ps->ninst && ps->insts[k + 1].g == in->g)
        sem_post(&ps->insts[k + 1].go);
}

/* On the way out, an instance stops counting as a participant of the barriers it
 * will never reach, and lets the next instance of a serial group start. */
static void leave(struct inst *in)
{
    struct pass *ps = in->ps;
    pthread_mutex_lock(&ps->mu);
    for (size_t i = 0; i < ps->nbarriers; i++)
        if (in->member[i] && !in->arrived[i]) {
            ps->barriers[i].participants--;
            in->arrived[i] = 1;
            barrier_check(&ps->barriers[i]);
        }
    if (in->f.set)
        ps->group_failed[in->gi] = 1;
    pthread_mutex_unlock(&ps->mu);
    release_next(in);
}

static void handoff(struct inst *in)
{
    release_next(in);
}

/* ---- the server's log, per connection ------------------------------------------------ */

/* Starts tracking a connection about to be made: only lines from here on may be its. */
static void srv_track_start(struct inst *in)
{
    memset(&in->trk, 0, sizeof in->trk);
    if (in->ps->run->have_srv)
        in->trk.from = in->trk.scan = ec_server_line_count(&in->ps->run->srv);
}

/* Learns the connection's local port once it is connected. */
static void srv_track_port(struct inst *in)
{
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    if (in->c.fd >= 0 && getsockname(in->c.fd, (struct sockaddr *)&me, &ml) == 0) {
        in->trk.port = ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
                                                     : ((struct sockaddr_in6 *)&me)->sin6_port);
        in->trk.me = me;
        ml = sizeof in->trk.peer;
        if (getpeername(in->c.fd, (struct sockaddr *)&in->trk.peer, &ml) != 0)
            in->trk.peer.ss_family = AF_UNSPEC;
    }
}

/* Takes in the server's new lines about this connection (srv.mu held). */
static void srv_scan(struct inst *in)
{
    struct ec_server_proc *s = &in->ps->run->srv;
    struct srv_track *t = &in->trk;
    for (; t->scan < s->nlines; t->scan++) {
        const struct ec_srv_line *l = &s->lines[t->scan];
        if (l->ev == EC_SRV_NONE || l->peer_port != t->port || !t->port)
            continue;
        switch (l->ev) {
        case EC_SRV_ACCEPT:
            /* A new connection of this port: whatever came before was another's. */
            t->recv = t->sent = 0;
            t->closed = t->refused = 0;
            t->accepted = 1;
            break;
        case EC_SRV_RECV:
            t->recv += l->bytes > 0 ? l->bytes : 0;
            break;
        case EC_SRV_SEND:
            t->sent += l->bytes > 0 ? l->bytes : 0;
            break;
        case EC_SRV_CLOSE:
            t->closed = 1;
            break;
        case EC_SRV_REFUSE:
            t->closed = t->refused = 1;
            break;
        default:
            break;
        }
    }
}

/* Is the event (ev, bytes) in the track? */
static int srv_met(const struct srv_track *t, enum ec_after ev, long long bytes)
{
    switch (ev) {
    case EC_AFTER_ACCEPT:
        return t->accepted;
    case EC_AFTER_RECV:
        return t->recv >= bytes;
    case EC_AFTER_SEND:
    case EC_AFTER_ECHO:
        return t->sent >= bytes;
    case EC_AFTER_CLOSE:
        return t->closed;
    case EC_AFTER_NONE:
        break;
    }
    return 1;
}

/* ---- a quiet server ----------------------------------------------------------------- */

/* A server process that neither ran nor waited to run (its CPU demand, schedstat:
 * ec_proc_demand_ns; below, a timer's few wake-ups allowed) did nothing: it took no
 * byte from a socket, sent none and touched no page, and will not until a client or a
 * timer wakes it. A step that declares
 * quiet_ms ends early once that lasted quiet_ms (scaled) while nothing moved on its
 * connection, where the rest of its deadline could only wait for what a sleeping server
 * will not do: a send the kernel refuses (the server stopped reading it), an echo that
 * stopped short, a memory window once the clients went quiet. The fixture declares it
 * only where no other client of the pass acts meanwhile. A server that is runnable
 * but not given a CPU demands time, so a loaded machine does not make a busy server
 * look quiet; a server that polls busily is never quiet and meets the full deadline.
 *
 * Under Wine a Winsock server learns of its sockets' events from the wineserver,
 * another process (shared by every Wine test of the build): a wineserver that has not
 * run yet could make a server look quiet that is about to be woken. A receive (an
 * echo) therefore ends early only when the wineserver was quiet too, and is not cut at
 * all when the wineserver cannot be found. A send or a memory window that ends early
 * can only shorten the evidence (fewer bytes sent, fewer samples), never fail a server
 * the full deadline passes, so they look at the server alone. */
struct quiet {
    pid_t pid, pid2;     /* the server; the wineserver too when pid2 > 0 */
    int ms;              /* how long it must last (scaled) */
    int acked;           /* also wait until the peer's kernel acknowledged all we sent */
    long long demand_ns; /* the last reading; -1 before the first */
    int64_t since_ms;    /* when that reading was first seen (ec_clock_ms) */
    struct inst *in;     /* where to say it (the timeline), or NULL */
};

/* Quiet is a demand of at most QUIET_ALLOW_NS plus QUIET_PER_MS_NS per millisecond
 * since the last activity (1 ms + 2%): a server whose loop wakes on a timer to look at a
 * stop flag (the Winsock message and event loops: every 100-200 ms, a few tens of
 * microseconds each) is quiet, one that runs or waits to run is not. */
#define QUIET_ALLOW_NS 1000000LL
#define QUIET_PER_MS_NS 20000LL

/* ec_proc_demand_ns, read at most once per DEMAND_TTL_MS for each process: a storm's
 * thousand clients that each wait for a quiet server (a pause with quiet_ms) share one
 * reading instead of each walking /proc/<pid>/task every 20 ms. A reading that old
 * is nothing against quiet windows of 100 ms and more. */
#define DEMAND_TTL_MS 5
static long long demand_ns(pid_t pid)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        pid_t pid;
        long long ns;
        int64_t at;
    } cache[4];
    static unsigned next;
    int64_t now = ec_clock_ms();
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++)
        if (cache[i].pid == pid && now - cache[i].at < DEMAND_TTL_MS) {
            long long ns = cache[i].ns;
            pthread_mutex_unlock(&mu);
            return ns;
        }
    long long ns = ec_proc_demand_ns(pid);
    unsigned k = next++ % (sizeof cache / sizeof cache[0]);
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++)
        if (cache[i].pid == pid)
            k = (unsigned)i;
    cache[k].pid = pid;
    cache[k].ns = ns;
    cache[k].at = now;
    pthread_mutex_unlock(&mu);
    return ns;
}

/* 1 when the server (and pid2) has been quiet for q->ms and since from (ec_clock_ms),
 * else 0 (also when a demand cannot be read). */
static int quiet_for(struct quiet *q, int64_t from)
{
    long long d = demand_ns(q->pid);
    if (d >= 0 && q->pid2 > 0) {
        long long d2 = demand_ns(q->pid2);
        d = d2 < 0 ? -1 : d + d2;
    }
    int64_t now = ec_clock_ms();
    if (d < 0)
        return 0;
    if (q->demand_ns < 0 || d < q->demand_ns ||
        d - q->demand_ns > QUIET_ALLOW_NS + QUIET_PER_MS_NS * (now - q->since_ms)) {
        q->demand_ns = d; /* activity (or a thread gone with its share): start again */
        q->since_ms = now;
        return 0;
    }
    int64_t since = q->since_ms > from ? q->since_ms : from;
    return now - since >= q->ms;
}

/* The stalled hook of a step with quiet_ms (struct ec_conn, steps.h). */
static int conn_stalled(struct ec_conn *c, void *arg, int64_t blocked_since_ms)
{
    struct quiet *q = arg;
    /* A receive: no segment of ours (data or FIN) on its way to the server, sent and
     * not yet acknowledged (TCP_INFO tcpi_unacked; bytes that its full window holds
     * back in our send queue are not on their way: the server stopped reading them). */
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    if (q->acked && c->fd >= 0 &&
        (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 || ti.tcpi_unacked > 0)) {
        q->demand_ns = -1; /* start again once there is none */
        return 0;
    }
    if (!quiet_for(q, blocked_since_ms))
        return 0;
    char txt[120];
    snprintf(txt, sizeof txt, "stall proven: nothing moved for %lld ms, the server%s quiet for %d",
             (long long)(ec_clock_ms() - blocked_since_ms), q->pid2 > 0 ? " and wineserver" : "",
             q->ms);
    ec_timeline_add(&q->in->ps->tl, c->label, "quiet", -1, 0, txt);
    return 1;
}

/* Arms the stalled hook for step st if it declares quiet_ms (or quiet_ms is given: the
 * engine's own). may_fail: an early end could fail the step (a receive; a send whose
 * timeout is no alternative), which under Wine needs the wineserver quiet too; a
 * receive (acked) also needs every byte we sent acknowledged. */
static void stall_arm_ms(struct inst *in, const struct ec_step *st, struct quiet *q, int may_fail,
                         int acked, int quiet_ms)
{
    struct run *r = in->ps->run;
    if (!quiet_ms)
        quiet_ms = st->quiet_ms;
    *q = (struct quiet){.pid = r->have_srv ? r->srv.pid : -1,
                        .ms = ec_scale_ms(quiet_ms),
                        .acked = acked,
                        .demand_ns = -1,
                        .in = in};
    if (!quiet_ms || q->pid <= 0)
        return;
    if (may_fail && r->under_wine && (q->pid2 = ec_wineserver_pid(NULL)) <= 0)
        return;
    in->c.stalled = conn_stalled;
    in->c.stalled_arg = q;
}

static void stall_arm(struct inst *in, const struct ec_step *st, struct quiet *q, int may_fail)
{
    stall_arm_ms(in, st, q, may_fail, 0, 0);
}

static void stall_disarm(struct inst *in)
{
    in->c.stalled = NULL;
    in->c.stalled_arg = NULL;
}

/* Waits until the server logged the event on this connection: (ev, bytes) as in
 * srv_met. Meanwhile the echo is drained (when reading), so a server never blocks on
 * a send to us while we wait for it. Returns 0 when the event came, 1 when it cannot
 * come any more (the server closed or refused this connection, or exited), -1 at the
 * deadline (absolute, ec_clock_ms). Needs a started server (run->have_srv). */
static int srv_wait(struct inst *in, enum ec_after ev, long long bytes, int64_t deadline)
{
    return srv_wait_quiet(in, ev, bytes, deadline, NULL);
}

/* srv_wait, and with q, -1 before the deadline too once the server has been quiet
 * (q->ms, "a quiet server") since the wait began: the event will not come. */
static int srv_wait_quiet(struct inst *in, enum ec_after ev, long long bytes, int64_t deadline,
                          struct quiet *q)
{
    struct ec_server_proc *s = &in->ps->run->srv;
    int64_t t0 = ec_clock_ms();
    struct ec_conn *c = &in->c;
    if (in->efd < 0)
        in->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (in->efd < 0)
        return 1;
    int rc;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        srv_scan(in);
        if (srv_met(&in->trk, ev, bytes))
            rc = 0;
        else if ((in->trk.closed && ev != EC_AFTER_CLOSE) || s->exited)
            rc = 1;
        else
            rc = ec_server_watch(s, in->efd, 1) < 0 ? 1 : 2;
        pthread_mutex_unlock(&s->mu);
        if (rc != 2)
            break;
        int left = (int)(deadline - ec_clock_ms());
        if (left <= 0 || (q && quiet_for(q, t0))) {
            rc = -1;
            break;
        }
        if (q && left > 20)
            left = 20;
        struct pollfd p[2] = {{.fd = in->efd, .events = POLLIN}, {.fd = -1}};
        int reading = c->reading && c->fd >= 0 && !c->eof && !c->err;
        if (reading)
            p[1] = (struct pollfd){.fd = c->fd, .events = POLLIN};
        poll(p, 2, left);
        uint64_t v;
        if ((p[0].revents & POLLIN) && read(in->efd, &v, sizeof v) < 0)
            v = 0; /* nonblocking: nothing to take is fine, the lines are looked at again */
        if (reading && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            ec_conn_pump(c, 0);
    }
    pthread_mutex_lock(&s->mu);
    ec_server_watch(s, in->efd, 0);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* How many bytes more the server logged sending on this connection than reached us
 * (0 without a log). TCP loses nothing, so a server whose "send" lines count bytes
 * that never came counted as sent what send() did not take (its count ignored). Call
 * it once the stream ended (ended: waits, bounded, for the server's close line, which
 * follows its last send line) or a deadline passed while we read. */
static long long logged_not_arrived(struct inst *in, int ended)
{
    struct ec_conn *c = &in->c;
    if (!in->ps->run->can_pace || !in->trk.port)
        return 0;
    if (ended)
        srv_wait(in, EC_AFTER_CLOSE, 0, ec_clock_ms() + ec_scale_ms(CLOSE_LOG_MS));
    struct ec_server_proc *s = &in->ps->run->srv;
    pthread_mutex_lock(&s->mu);
    srv_scan(in);
    long long d = in->trk.sent - (long long)c->recvd_len;
    pthread_mutex_unlock(&s->mu);
    return d > 0 ? d : 0;
}

/* The time a paced piece waited for the server's recv line is the engine's own
 * synchronisation, not the case's: the pass budget moves on by it, up to
 * PACE_BUDGET_FACTOR budgets in all. Measured: a 1,025-byte bytewise pass against the
 * busy-polling posix-nonblocking, with two matrices running at once (load average
 * 40-100), waited about 4 ms a byte and ran out of bufsize-plus-one's 4 s budget
 * (TIMEOUT, 1 of 5 runs); a server that stops taking pieces still meets the step's
 * deadline, and one that never ends meets the hard bound. */
#define PACE_BUDGET_FACTOR 4
static void pace_credit(struct inst *in, int64_t waited_ms)
{
    struct pass *ps = in->ps;
    if (waited_ms <= 0)
        return;
    int64_t d = ps->deadline_ms, nd;
    do {
        nd = d + waited_ms;
        if (nd > ps->hard_deadline_ms)
            nd = ps->hard_deadline_ms;
        if (nd <= d)
            return;
    } while (!atomic_compare_exchange_weak(&ps->deadline_ms, &d, nd));
    if (in->c.pace_until < nd)
        in->c.pace_until = nd;
}

/* The pace function of server-synchronised delivery (struct ec_conn, steps.h): the
 * next piece goes once the server logged receiving every byte sent so far. The wait
 * has the send step's own deadline, and no shorter timeout: on a loaded machine a
 * correct server may not run for a second or more, and giving up early would let the
 * scheduler cut the pieces again. A server that takes nothing until the deadline has
 * stopped reading (the step after the send will say so); with one client, one that
 * is quiet ("a quiet server": not even waiting for a CPU) has stopped too. */
static int pace(struct ec_conn *c, void *arg, int64_t deadline)
{
    struct inst *in = arg;
    struct run *r = in->ps->run;
    /* With one client in the pass nothing but that client wakes the server: once it
     * has been quiet for PACE_QUIET_MS with our bytes unread, it stopped reading and
     * the deadline would only wait that out ("a quiet server"; under Wine only with
     * the wineserver quiet too). */
    struct quiet q = {.pid = r->srv.pid, .ms = ec_scale_ms(PACE_QUIET_MS), .demand_ns = -1};
    int use_q = in->ps->ninst == 1 && r->have_srv &&
                (!r->under_wine || (q.pid2 = ec_wineserver_pid(NULL)) > 0);
    int64_t t0 = ec_clock_ms();
    if (srv_wait_quiet(in, EC_AFTER_RECV, (long long)c->sent_len, deadline, use_q ? &q : NULL) ==
        0) {
        pace_credit(in, ec_clock_ms() - t0);
        return 0;
    }
    pthread_mutex_lock(&in->ps->mu);
    in->ps->pace_fails++;
    pthread_mutex_unlock(&in->ps->mu);
    return -1;
}

/* after_server: waits for the step's server event before the step acts. Returns 0 to
 * act, 1 to end the script quietly (a "timeout" alternative with "then": "end"), -1 on
 * failure (recorded: the event did not come within the step's deadline, and the step
 * has no "timeout" alternative). */
static int wait_after_server(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    struct pass *ps = in->ps;
    const char *evn = ec_after_name(st->after);
    char txt[64];
    if (!ps->run->can_pace) {
        /* --target or --quiet: no log to wait on. The step acts at once, and the
         * report says the pass was not synchronised. */
        snprintf(txt, sizeof txt, "after %s: no server log, not waited", evn);
        ec_timeline_add(&ps->tl, c->label, "server-wait", -1, 0, txt);
        pthread_mutex_lock(&ps->mu);
        ps->unsynced_waits++;
        pthread_mutex_unlock(&ps->mu);
        return 0;
    }
    if (!in->trk.port) {
        set_failure(in, st, EC_V_ERROR, EC_OC_DATA, EC_DIAG_FIXTURE_ERROR,
                    "a connection to wait on (after_server)", "the step's script is not connected");
        return -1;
    }
    long long bytes = st->after_bytes;
    if (st->after == EC_AFTER_RECV && bytes < 0)
        bytes = (long long)c->sent_len;
    else if (st->after == EC_AFTER_SEND && bytes < 0)
        bytes = 1;
    else if (st->after == EC_AFTER_ECHO)
        bytes = (long long)c->sent_len;
    int cut;
    int64_t t0 = ec_clock_ms();
    int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    /* quiet_ms (only with a "timeout" alternative, fixture.c): a server that neither
     * ran nor waited to run for that long logs nothing more until something wakes it,
     * so the event will not come ("a quiet server"). The server alone is looked at,
     * also under Wine: ending early only lets the steps after this one judge sooner. */
    struct quiet q = {.pid = ps->run->have_srv ? ps->run->srv.pid : -1,
                      .ms = ec_scale_ms(st->quiet_ms),
                      .demand_ns = -1,
                      .in = in};
    int use_q = st->quiet_ms && q.pid > 0 && !cut;
    int rc = srv_wait_quiet(in, st->after, bytes, deadline, use_q ? &q : NULL);
    if (rc >= 0) {
        snprintf(txt, sizeof txt, "after %s: %s in %lld ms", evn,
                 rc == 0 ? "seen" : "server closed first", (long long)(ec_clock_ms() - t0));
        ec_timeline_add(&ps->tl, c->label, "server-wait", bytes > 0 ? bytes : -1, 0, txt);
        return 0;
    }
    /* A "timeout" alternative: the event may never come (a connection the server never
     * saw: Wine drops one reset in the backlog), and the steps after this one judge. */
    const struct ec_alt *alt = cut ? NULL : alternative(st, EC_OC_TIMEOUT);
    if (alt) {
        int64_t now = ec_clock_ms();
        snprintf(txt, sizeof txt, "after %s: %s, %lld ms (alt.)", evn,
                 use_q && now < deadline ? "quiet" : "not seen", (long long)(now - t0));
        ec_timeline_add(&ps->tl, c->label, "server-wait", bytes > 0 ? bytes : -1, 0, txt);
        in->nonstrict[ec_step_path(st->kind)] |= alt->nonstrict;
        return alt->end ? 1 : 0;
    }
    char e[200], a[200];
    snprintf(e, sizeof e, "the server to log \"%s\" for this connection%s within the deadline", evn,
             st->after == EC_AFTER_RECV || st->after == EC_AFTER_ECHO ? " (every byte)" : "");
    pthread_mutex_lock(&ps->run->srv.mu);
    snprintf(a, sizeof a, "its log shows %s, %lld bytes received, %lld sent back",
             in->trk.accepted ? "the accept" : "no accept", in->trk.recv, in->trk.sent);
    pthread_mutex_unlock(&ps->run->srv.mu);
    set_failure(in, st, timeout_verdict(cut), EC_OC_TIMEOUT,
                st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL, e, a);
    return -1;
}

/* ---- plans of a pass ------------------------------------------------------------------ */

static size_t step_bytes(const struct ec_step *st, const struct ec_framing *f)
{
    size_t t = 0;
    for (size_t i = 0; i < st->npayloads; i++) {
        const struct ec_payload *p = &st->payloads[i];
        size_t n = p->kind == EC_PL_BYTES ? p->len : p->size;
        t += p->frame ? ec_frame_wire_len(f, n) : n;
    }
    return t;
}

static struct ec_write_plan plan_for(const struct pass *ps, const struct ec_step *st)
{
    return ec_plan_override(&st->plan, st->plan_fixed, ps->ov, ps->split_at, ps->seed,
                            step_bytes(st, &ps->run->fx.framing));
}

/* ---- step execution -------------------------------------------------------------------- */

static void hexctx(struct failure *f, const unsigned char *exp, size_t exp_len,
                   const unsigned char *act, size_t act_len, size_t diff, long long base)
{
    size_t start = diff > 16 ? diff - 16 : 0;
    f->diff_off = base + (long long)diff;
    f->ctx_off = base + (long long)start;
    f->exp_n = exp_len > start ? exp_len - start : 0;
    if (f->exp_n > sizeof f->exp)
        f->exp_n = sizeof f->exp;
    f->act_n = act_len > start ? act_len - start : 0;
    if (f->act_n > sizeof f->act)
        f->act_n = sizeof f->act;
    memcpy(f->exp, exp + start, f->exp_n);
    memcpy(f->act, act + start, f->act_n);
}

/* Receives want bytes and compares them with exp. kind_diag names what a mismatch or
 * a short stream means ("" = the default rules). Returns 0 on success, 1 when the step
 * ended by an alternative with "then": "end", -1 on failure. */
static int expect_bytes(struct inst *in, const struct ec_step *st, const unsigned char *exp,
                        size_t want, int framed)
{
    struct ec_conn *c = &in->c;
    int cut;
    int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    size_t base = c->recv_pos;
    /* Compare as bytes arrive, so a wrong byte fails the step at once instead of at
     * the deadline. */
    enum ec_rx rx = EC_RX_OK;
    size_t diff = 0, got;
    for (;;) {
        got = c->recvd_len - base;
        if (got > want)
            got = want;
        while (diff < got && c->recvd[base + diff] == exp[diff])
            diff++;
        if (diff < got || got >= want)
            break;
        rx = ec_conn_recv_some(c, deadline);
        if (rx != EC_RX_OK) {
            got = c->recvd_len - base < want ? c->recvd_len - base : want;
            while (diff < got && c->recvd[base + diff] == exp[diff])
                diff++;
            break;
        }
    }
    const unsigned char *act = c->recvd ? c->recvd + base : exp;
    char e[200], a[200];
    if (diff < got) {
        snprintf(e, sizeof e, "%zu bytes of echo, byte %zu = 0x%02x", want, base + diff, exp[diff]);
        snprintf(a, sizeof a, "byte %zu = 0x%02x (%zu of %zu bytes received so far)", base + diff,
                 act[diff], got, want);
        const struct ec_alt *alt = alternative(st, EC_OC_MISMATCH);
        if (alt) {
            in->nonstrict[EC_PATH_DATA] |= alt->nonstrict;
            return alt->end ? 1 : 0;
        }
        /* The failure is now; whether the bytes were reordered or repeated shows in the
         * rest of the window, so an echo of our own bytes waits for it (bounded by the
         * step's deadline) before causes.c looks (ec__refine_diagnosis). */
        int64_t t_seen = ec_timeline_now_us(&in->ps->tl);
        int own = !framed && exp == c->sent + base;
        while (own && c->recvd_len < base + want && ec_conn_recv_some(c, deadline) == EC_RX_OK)
            ;
        set_failure(in, st, EC_V_FAIL, EC_OC_MISMATCH,
                    framed ? EC_DIAG_FRAME_ERROR : EC_DIAG_ECHO_MISMATCH, e, a);
        in->f.t_us = t_seen;
        in->f.echo_own = own;
        in->f.echo_base = base;
        in->f.echo_want = want;
        hexctx(&in->f, exp, want, c->recvd + base, c->recvd_len - base, diff, (long long)base);
        return -1;
    }
    if (got >= want) {
        c->recv_pos = base + want;
        return 0;
    }
    /* The stream ended or stalled before all bytes came. */
    enum ec_outcome oc = rx == EC_RX_EOF       ? EC_OC_EOF
                         : rx == EC_RX_RESET   ? EC_OC_RESET
                         : rx == EC_RX_TIMEOUT ? EC_OC_TIMEOUT
                                               : EC_OC_RESET;
    const struct ec_alt *alt = alternative(st, oc);
    if (alt) {
        in->nonstrict[EC_PATH_DATA] |= alt->nonstrict;
        c->recv_pos = c->recvd_len;
        return alt->end ? 1 : 0;
    }
    snprintf(e, sizeof e, "%zu bytes of echo%s", want,
             rx == EC_RX_TIMEOUT ? " within the deadline" : "");
    const char *diag;
    enum ec_verdict v = EC_V_FAIL;
    /* Our own echo, short: when the server's log counts bytes sent that never came,
     * the echo it sent is not the one it logged (a send() count ignored), whether the
     * stream then ended or stalled, and whether more bytes came after the hole (an
     * echo-mismatch above) or none did is the scheduler's call. */
    long long lost = !framed && exp == c->sent + base && !c->wr_shut &&
                             (rx == EC_RX_EOF || rx == EC_RX_TIMEOUT)
                         ? logged_not_arrived(in, rx == EC_RX_EOF)
                         : 0;
    if (lost > 0) {
        snprintf(a, sizeof a,
                 "%zu bytes, then %s; the server's log counts %lld bytes more sent on this "
                 "connection than arrived",
                 got, rx == EC_RX_EOF ? "an orderly close (FIN)" : "nothing", lost);
        v = rx == EC_RX_TIMEOUT ? timeout_verdict(cut) : EC_V_FAIL;
        diag = EC_DIAG_ECHO_MISMATCH;
    } else if (rx == EC_RX_EOF) {
        snprintf(a, sizeof a, "%zu bytes, then an orderly close (FIN)", got);
        /* Every byte that came was right. When the server closed with bytes of ours
         * still unread, having sent back all it read, how many whole frames or bytes
         * its last recv had taken before its close is the scheduler's call: the early
         * close is the server's, so that is the name, as for a reset (reset_diag). A
         * server that closed owing bytes it had read dropped them: truncated. */
        diag = c->wr_shut                ? EC_DIAG_LOST_AFTER_HALF_CLOSE
               : hung_up_owing_nothing(in) ? EC_DIAG_PREMATURE_CLOSE
               : framed && got          ? EC_DIAG_FRAME_ERROR
               : got                    ? EC_DIAG_TRUNCATED
                                        : EC_DIAG_PREMATURE_CLOSE;
    } else if (rx == EC_RX_RESET || rx == EC_RX_ERROR) {
        snprintf(a, sizeof a, "%zu bytes, then %s%s", got,
                 rx == EC_RX_RESET ? "a reset (RST)" : "an error: ",
                 rx == EC_RX_RESET ? "" : ec_err_name(c->err));
        diag = c->wr_shut ? EC_DIAG_LOST_AFTER_HALF_CLOSE : reset_diag(in);
    } else {
        snprintf(
            a, sizeof a, "%zu bytes after %d ms, then nothing", got,
            (int)(ec_clock_ms() -
                  (deadline - ec_scale_ms(st->deadline_ms ? st->deadline_ms : DEFAULT_STEP_MS))));
        v = timeout_verdict(cut);
        diag = st->diagnosis[0] ? st->diagnosis
               : framed && got  ? EC_DIAG_FRAME_ERROR
               : c->wr_shut     ? EC_DIAG_LOST_AFTER_HALF_CLOSE
                                : EC_DIAG_STALL;
    }
    set_failure(in, st, v, oc, diag, e, a);
    if (got < want)
        hexctx(&in->f, exp, want, act, got, got, (long long)base);
    return -1;
}

static int expect_step(struct inst *in, const struct ec_step *st);

/* expect: its echo, data, regex or frames (expect_step), with the stall proof armed
 * when the step declares quiet_ms. */
static int exec_expect(struct inst *in, const struct ec_step *st)
{
    struct quiet q;
    stall_arm_ms(in, st, &q, 1, 1, 0);
    int rc = expect_step(in, st);
    stall_disarm(in);
    return rc;
}

static int expect_step(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    const struct ec_framing *fr = &in->ps->run->fx.framing;
    char e[200], a[200];
    switch (st->ex) {
    case EC_EX_ECHO: {
        size_t avail = c->sent_len - c->recv_pos;
        size_t want = st->echo_n < 0 ? avail : (size_t)st->echo_n;
        if (want > avail) {
            snprintf(e, sizeof e, "echo of %zu bytes", want);
            snprintf(a, sizeof a, "only %zu bytes were sent and not yet echoed", avail);
            set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR, e, a);
            return -1;
        }
        return expect_bytes(in, st, c->sent + c->recv_pos, want, 0);
    }
    case EC_EX_DATA: {
        unsigned char *b;
        size_t n;
        if (ec_payload_build(&st->data, fr, in->idx, &b, &n) < 0) {
            set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR, "a payload",
                        "cannot build it (memory, or a frame the framing cannot encode)");
            return -1;
        }
        int rc = expect_bytes(in, st, b, n, st->data.frame);
        free(b);
        return rc;
    }
    case EC_EX_FRAMES: {
        /* The wire length of the next nframes frames of what we sent: the echo of
         * whole frames, decoded with the fixture's framing. */
        if (fr->kind == EC_FRAMING_RAW) {
            set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR,
                        "a framed fixture", "\"frames\" with framing raw");
            return -1;
        }
        struct ec_decoder d;
        if (ec_decoder_init(&d, fr) < 0) {
            set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR, "a decoder",
                        "cannot create one");
            return -1;
        }
        size_t off = c->recv_pos, frames = 0;
        while (frames < st->nframes && off < c->sent_len) {
            struct ec_frame fm;
            int got = 0;
            ptrdiff_t k = ec_decoder_feed(&d, c->sent + off, c->sent_len - off, &fm, &got);
            if (k < 0)
                break;
            off += (size_t)k;
            frames += (size_t)got;
        }
        ec_decoder_free(&d);
        if (frames < st->nframes) {
            snprintf(e, sizeof e, "%zu whole frames sent to be echoed", st->nframes);
            snprintf(a, sizeof a, "only %zu whole frames were sent", frames);
            set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR, e, a);
            return -1;
        }
        return expect_bytes(in, st, c->sent + c->recv_pos, off - c->recv_pos, 1);
    }
    case EC_EX_REGEX: {
        int cut;
        int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
        enum ec_rx rx = EC_RX_OK;
        int rc = -1;
        for (;;) {
            int m = pcre2_match(
                st->re, (PCRE2_SPTR)(c->recvd ? c->recvd + c->recv_pos : (unsigned char *)""),
                c->recvd_len - c->recv_pos, 0, 0, md, NULL);
            if (m >= 0) {
                c->recv_pos += (size_t)pcre2_get_ovector_pointer(md)[1];
                rc = 0;
                break;
            }
            if (rx != EC_RX_OK)
                break;
            rx = ec_conn_recv_some(c, deadline);
        }
        pcre2_match_data_free(md);
        if (rc == 0)
            return 0;
        enum ec_outcome oc = rx == EC_RX_EOF       ? EC_OC_EOF
                             : rx == EC_RX_TIMEOUT ? EC_OC_TIMEOUT
                                                   : EC_OC_RESET;
        const struct ec_alt *alt = alternative(st, oc);
        if (alt) {
            in->nonstrict[EC_PATH_DATA] |= alt->nonstrict;
            return alt->end ? 1 : 0;
        }
        snprintf(e, sizeof e, "received bytes matching /%.120s/", st->re_src);
        snprintf(a, sizeof a, "%zu bytes without a match, then %s", c->recvd_len - c->recv_pos,
                 ec_rx_name(rx));
        set_failure(in, st, rx == EC_RX_TIMEOUT ? timeout_verdict(cut) : EC_V_FAIL, oc,
                    rx == EC_RX_TIMEOUT ? (st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL)
                    : rx == EC_RX_EOF   ? EC_DIAG_PREMATURE_CLOSE
                                        : reset_diag(in),
                    e, a);
        return -1;
    }
    }
    return -1;
}

/* expect_eof, expect_reset, expect_silence: what comes next on the stream. */
static int exec_end(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    int cut = 0;
    int64_t t0 = ec_clock_ms();
    int64_t deadline = st->kind == EC_ST_EXPECT_SILENCE
                           ? ec_clock_ms() + st->ms
                           : step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    enum ec_rx rx;
    if (c->recv_pos < c->recvd_len) {
        rx = EC_RX_DATA; /* bytes already here that no expectation consumed */
    } else {
        /* An end that does not come from a quiet server with one client in the pass
         * (nothing else can wake it) will not come: the stall is proven. */
        struct quiet q;
        stall_arm_ms(in, st, &q, 1, 1,
                     st->kind == EC_ST_EXPECT_EOF && !st->quiet_ms && in->ps->ninst == 1
                         ? EOF_QUIET_MS
                         : 0);
        rx = ec_conn_wait_end(c, deadline);
        stall_disarm(in);
    }
    enum ec_rx want = st->kind == EC_ST_EXPECT_EOF     ? EC_RX_EOF
                      : st->kind == EC_ST_EXPECT_RESET ? EC_RX_RESET
                                                       : EC_RX_TIMEOUT;
    if (rx == want)
        return 0;
    enum ec_outcome oc = rx == EC_RX_EOF       ? EC_OC_EOF
                         : rx == EC_RX_RESET   ? EC_OC_RESET
                         : rx == EC_RX_DATA    ? EC_OC_DATA
                         : rx == EC_RX_TIMEOUT ? EC_OC_TIMEOUT
                                               : EC_OC_RESET;
    const struct ec_alt *alt = alternative(st, oc);
    if (alt) {
        in->nonstrict[ec_step_path(st->kind)] |= alt->nonstrict;
        return alt->end ? 1 : 0;
    }
    static const char *const wanted[] = {
        [EC_ST_EXPECT_EOF] = "an orderly close (FIN)",
        [EC_ST_EXPECT_RESET] = "a reset (RST)",
        [EC_ST_EXPECT_SILENCE] = "nothing",
    };
    char e[200], a[200];
    snprintf(e, sizeof e, "%s%s", wanted[st->kind],
             st->kind == EC_ST_EXPECT_SILENCE ? " during the quiet period"
                                              : " within the deadline");
    const char *diag;
    enum ec_verdict v = EC_V_FAIL;
    switch (rx) {
    case EC_RX_DATA: {
        size_t extra = c->recvd_len - c->recv_pos;
        snprintf(a, sizeof a, "%zu unexpected bytes (stream offset %zu)", extra, c->recv_pos);
        diag = EC_DIAG_UNEXPECTED_DATA;
        break;
    }
    case EC_RX_EOF:
        snprintf(a, sizeof a, "an orderly close (FIN)");
        diag = st->diagnosis[0] ? st->diagnosis : EC_DIAG_PREMATURE_CLOSE;
        break;
    case EC_RX_RESET:
    case EC_RX_ERROR:
        snprintf(a, sizeof a, "%s", rx == EC_RX_RESET ? "a reset (RST)" : "an error: ");
        if (rx != EC_RX_RESET)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s", ec_err_name(c->err));
        diag = reset_diag(in);
        break;
    default:
        snprintf(a, sizeof a, "the connection stayed open");
        diag = st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL;
        if (st->kind == EC_ST_EXPECT_EOF && !st->diagnosis[0] &&
            ec__no_close_after_eof(c, (int)(ec_clock_ms() - t0), a, sizeof a))
            diag = EC_DIAG_NO_CLOSE_AFTER_EOF;
        v = timeout_verdict(cut);
        break;
    }
    set_failure(in, st, v, oc, diag, e, a);
    return -1;
}

/* observe with max_rss_growth_kib: the server's resident memory (VmRSS) must stay
 * within the bound of the named earlier observation for the whole of the step's
 * deadline (it is sampled every 20 ms; memory a server takes on behalf of a client
 * that does not read keeps growing while the client sends, so the window is where it
 * shows). Above it: unbounded-buffering, with the growth as evidence. Returns 0 or -1
 * (failure recorded). */
static int check_rss_growth(struct inst *in, const struct ec_step *st)
{
    struct pass *ps = in->ps;
    struct run *r = ps->run;
    char e[200], a[200], txt[320];
    if (!r->obs_rss) {
        in->not_checked = 1;
        return 0;
    }
    long long base = -1;
    int base_threads = -1;
    pthread_mutex_lock(&ps->mu);
    for (size_t i = 0; i < ps->nobs; i++)
        if (strcmp(ps->obs[i].name, st->rss_since) == 0) {
            base = ps->obs[i].rss_kib;
            base_threads = ps->obs[i].threads;
        }
    pthread_mutex_unlock(&ps->mu);
    if (base < 0) {
        set_failure(in, st, EC_V_ERROR, EC_OC_DATA, EC_DIAG_FIXTURE_ERROR,
                    "an earlier observation of resident memory to compare with",
                    "none in this pass");
        return -1;
    }
    /* A thread of its own is what a thread model pays per client (its stack pages,
     * the allocator's per-thread cache), not buffering: the fixture may allow for it. */
    long long limit = st->max_rss_growth_kib;
    int threads = ec_proc_threads(r->srv.pid);
    if (st->rss_per_thread_kib > 0 && base_threads > 0 && threads > base_threads)
        limit += (long long)st->rss_per_thread_kib * (threads - base_threads);
    int cut;
    int64_t t0 = ec_clock_ms(), deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    long long now = ec_proc_rss_kib(r->srv.pid), peak = now;
    struct quiet q = {.pid = r->srv.pid, .ms = ec_scale_ms(st->quiet_ms), .demand_ns = -1};
    int quiet = 0;
    while (now >= 0 && now - base <= limit && ec_clock_ms() < deadline) {
        if (st->quiet_ms && quiet_for(&q, t0)) {
            quiet = 1; /* it sleeps: its memory cannot move until a client wakes it */
            break;
        }
        if (in->c.reading && in->c.fd >= 0)
            ec_conn_pump(&in->c, 20);
        else
            poll(NULL, 0, 20);
        now = ec_proc_rss_kib(r->srv.pid);
        if (now > peak)
            peak = now;
    }
    snprintf(txt, sizeof txt,
             "%s: rss %lld KiB, %+lld KiB since \"%s\" (peak %lld, bound %lld)%s", st->name, now,
             now - base, st->rss_since, peak, limit,
             quiet ? ", window ended: server quiet" : "");
    ec_timeline_add(&ps->tl, in->c.label, "observe", -1, 0, txt);
    if (now >= 0 && now - base > limit) {
        snprintf(e, sizeof e,
                 "resident memory at most %lld KiB above \"%s\" (%lld KiB, %d threads)", limit,
                 st->rss_since, base, base_threads);
        snprintf(a, sizeof a, "%lld KiB (%+lld KiB) %lld ms into the window", now, now - base,
                 (long long)(ec_clock_ms() - t0));
        set_failure(in, st, EC_V_FAIL, EC_OC_DATA, EC_DIAG_UNBOUNDED_BUFFERING, e, a);
        return -1;
    }
    return 0;
}

/* ---- busy-poll on a loaded machine ------------------------------------------------ */

#define MAX_SCHED_THREADS 256
#define STARVED_SAMPLE_MS 20

/* What starved_spinner found: the spinning thread and its CPU time, tid 0 if none;
 * under Wine (wine_samples > 0) the threads that were runnable nearly all the time,
 * their CPU time together, and in how many of how many samples they were runnable. */
struct starved {
    pid_t tid;
    long long run_ns;
    int wine_threads, wine_runnable, wine_samples;
};

/* Is some thread of pid running or waiting for a CPU ('R')? */
static int any_runnable(pid_t pid)
{
    struct ec_thread_sched th[MAX_SCHED_THREADS];
    int n = ec_proc_thread_sched(pid, th, MAX_SCHED_THREADS);
    for (int i = 0; i < n; i++)
        if (th[i].state == 'R')
            return 1;
    return 0;
}

/* Under Wine a spinning thread sleeps: every Winsock call it makes is a request to
 * the wineserver, and the thread blocks until the reply comes (measured 2026-12-07,
 * win32-nonblocking idle for 500 ms: 12,907 voluntary switches unloaded, 135-175 with
 * 4 CPU hogs, 0-49 with 16 or 64). So "never slept" cannot name it. What does name
 * it is that its sleeps are short: with 4 to 64 hogs its two spinning threads were
 * runnable (running or waiting for a CPU) for 98-100% of the window, while an idle
 * server that woke on a timer (win32-asyncselect, 32 times a second) was runnable
 * for 6% with 4 hogs and 40% with 64 (load average 22). The rule: a thread seen
 * runnable in at least 90% of at least WINE_MIN_SAMPLES samples is spinning-like, and
 * the process spins once such threads together ran wine_spin_ns on a CPU: the share
 * rule's own amount over the fixture's window as written, not as scaled for Wine
 * (15 ms for idle-cpu: with 16 hogs the spinner ran 7.7 ms a second, and 45 ms, the
 * scaled amount, took 5.8 s of a 6 s deadline, or more). An idle thread that is
 * runnable nearly all the time on a very loaded machine only waits there, and runs
 * 10-30 us a wake-up (win32-asyncselect: under 1 ms of CPU a second): it would need
 * 15 s or more to run 15 ms. The sampling stops early, as not spinning, once
 * WINE_CLEAR_SAMPLES samples show every thread runnable in less than 75% of them
 * (a spinner runnable 98% of the time does that with a probability below 1e-8). */
#define WINE_MIN_SAMPLES   10
#define WINE_CLEAR_SAMPLES 25

struct wine_seen {
    pid_t tid;
    int samples, runnable;
    long long run0;
};

/* Counts this reading of th[i] in seen (a thread not seen before gets a slot, its
 * CPU time counted from run0 of the first reading th0, else from now). */
static struct wine_seen *wine_count(struct wine_seen *seen, int *nseen, const struct ec_thread_sched *t,
                                    const struct ec_thread_sched *th0, int n0)
{
    int k = 0;
    while (k < *nseen && seen[k].tid != t->tid)
        k++;
    if (k == *nseen) {
        if (k >= MAX_SCHED_THREADS)
            return NULL;
        seen[k] = (struct wine_seen){.tid = t->tid, .run0 = 0};
        for (int j = 0; j < n0; j++)
            if (th0[j].tid == t->tid)
                seen[k].run0 = th0[j].run_ns;
        (*nseen)++;
    }
    seen[k].samples++;
    if (t->state == 'R')
        seen[k].runnable++;
    return &seen[k];
}

/* The busy-poll judgement when the CPU share cannot give it. On a machine with a load
 * average of 100 or more a spinning server gets 1-2% of a CPU: its share is below any
 * bound, and its demand (schedstat's waiting time is counted only when it next gets a
 * CPU) can be read as 0% or 150% in a 300 ms window. What does not depend on the load
 * is the spinner's conduct: it never sleeps. An idle server that woke once (a timer, a
 * late event) runs a moment and sleeps again, a voluntary context switch; a spinning
 * thread only ever loses the CPU to preemption. So the window goes on, sampled every
 * 20 ms, from the first reading (th0, n0) until either some thread has run spin_ns
 * (the CPU time the share rule asks for: a fifth of the bound over the window) without
 * a single voluntary switch: spinning, 1, with sv set; or no thread is left that has
 * neither slept nor stayed asleep: 0. At the deadline a thread still undecided (it ran
 * less than spin_ns, never slept) gives 0: the evidence did not come. Under Wine
 * (wine_spin_ns > 0) the threads that slept are judged by how short their sleeps were
 * instead (the rule above wine_seen). */
static int starved_spinner(struct inst *in, pid_t pid, const struct ec_thread_sched *th0, int n0,
                           long long spin_ns, int64_t deadline, long long wine_spin_ns,
                           struct starved *sv)
{
    int64_t t0 = ec_clock_ms();
    char txt[200];
    struct wine_seen seen[MAX_SCHED_THREADS];
    int nseen = 0, rounds = 0, wine = wine_spin_ns > 0;
    for (;;) {
        struct ec_thread_sched th[MAX_SCHED_THREADS];
        int n = ec_proc_thread_sched(pid, th, MAX_SCHED_THREADS);
        if (n < 0)
            return 0; /* gone: the steps after this one say so */
        int undecided = 0;
        long long wine_ran = 0;
        int wine_threads = 0, wine_runnable = 100, wine_unclear = 0;
        rounds++;
        for (int i = 0; i < n; i++) {
            long long run0 = 0, v0 = 0; /* a thread born since: from nothing */
            for (int j = 0; j < n0; j++)
                if (th0[j].tid == th[i].tid) {
                    run0 = th0[j].run_ns;
                    v0 = th0[j].vcsw;
                }
            if (th[i].run_ns < 0 || th[i].vcsw < 0 || run0 < 0 || v0 < 0)
                continue; /* not readable: the share rule stands */
            if (wine) {
                struct wine_seen *w = wine_count(seen, &nseen, &th[i], th0, n0);
                if (w && w->runnable * 4 >= w->samples * 3)
                    wine_unclear = 1; /* runnable 75% or more so far: not cleared */
                if (w && w->samples >= WINE_MIN_SAMPLES && w->runnable * 10 >= w->samples * 9) {
                    wine_ran += th[i].run_ns - w->run0;
                    wine_threads++;
                    if (w->runnable * 100 / w->samples < wine_runnable)
                        wine_runnable = w->runnable * 100 / w->samples; /* the least */
                }
            }
            if (th[i].vcsw > v0)
                continue; /* it slept: it waits for events */
            long long ran = th[i].run_ns - run0;
            if (ran >= spin_ns) {
                sv->tid = th[i].tid;
                sv->run_ns = ran;
                snprintf(txt, sizeof txt,
                         "starved: thread %d ran %lld ms without sleeping once, in %lld ms",
                         (int)th[i].tid, ran / 1000000, (long long)(ec_clock_ms() - t0));
                ec_timeline_add(&in->ps->tl, in->c.label, "observe", -1, 0, txt);
                return 1;
            }
            if (ran > 0 || th[i].state == 'R')
                undecided++;
        }
        if (wine && wine_threads && wine_ran >= wine_spin_ns) {
            sv->run_ns = wine_ran;
            sv->wine_threads = wine_threads;
            sv->wine_runnable = wine_runnable;
            sv->wine_samples = rounds;
            snprintf(txt, sizeof txt, "Wine spinner: %d thr, R %d%% of %d, %lld ms",
                     wine_threads, wine_runnable, rounds, wine_ran / 1000000);
            ec_timeline_add(&in->ps->tl, in->c.label, "observe", -1, 0, txt);
            return 1;
        }
        if (wine && (rounds < WINE_CLEAR_SAMPLES || wine_unclear))
            undecided++;
        int64_t now = ec_clock_ms();
        if (!undecided || now >= deadline) {
            snprintf(txt, sizeof txt, "starved: %s after %lld ms more (%d samples)",
                     undecided ? "undecided at the deadline (not busy-poll)"
                     : wine    ? "every thread slept or stayed asleep, or slept long"
                               : "every thread slept or stayed asleep",
                     (long long)(now - t0), rounds);
            ec_timeline_add(&in->ps->tl, in->c.label, "observe", -1, 0, txt);
            return 0;
        }
        int left = (int)(deadline - now);
        if (left > STARVED_SAMPLE_MS)
            left = STARVED_SAMPLE_MS;
        if (in->c.reading && in->c.fd >= 0)
            ec_conn_pump(&in->c, left);
        else
            poll(NULL, 0, left);
    }
}

static int exec_observe(struct inst *in, const struct ec_step *st)
{
    struct pass *ps = in->ps;
    struct run *r = ps->run;
    char e[200], a[200], txt[160];
    if (!r->have_srv) {
        ec_timeline_add(&ps->tl, in->c.label, "observe", -1, 0, "not checked: no server process");
        in->not_checked = 1;
        return 0;
    }
    pid_t pid = r->srv.pid;
    int fds = r->obs_fds ? ec_proc_fd_count(pid) : -1;
    long long cpu = r->obs_cpu ? ec_proc_cpu_ms(pid) : -1;
    long long rss = r->obs_rss ? ec_proc_rss_kib(pid) : -1;
    pthread_mutex_lock(&ps->mu);
    if (ps->nobs < sizeof ps->obs / sizeof ps->obs[0]) {
        struct obs *o = &ps->obs[ps->nobs++];
        snprintf(o->name, sizeof o->name, "%s", st->name);
        o->fds = fds;
        o->cpu_ms = cpu;
        o->rss_kib = rss;
        o->threads = r->obs_rss ? ec_proc_threads(pid) : -1;
    }
    pthread_mutex_unlock(&ps->mu);
    snprintf(txt, sizeof txt, "%s: fds=%d cpu=%lldms rss=%lldKiB", st->name, fds, cpu, rss);
    ec_timeline_add(&ps->tl, in->c.label, "observe", -1, 0, txt);

    if (st->max_cpu_percent >= 0) {
        if (!r->obs_cpu) {
            in->not_checked = 1;
        } else {
            int window = ec_scale_ms(st->cpu_window_ms), cut;
            int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
            struct ec_thread_sched th0[MAX_SCHED_THREADS];
            int n0 = ec_proc_thread_sched(pid, th0, MAX_SCHED_THREADS);
            long long c0 = ec_proc_cpu_ms(pid), d0 = ec_proc_demand_ms(pid);
            int64_t t0 = ec_clock_ms(), until = t0 + window;
            while (ec_clock_ms() < until) {
                int left = (int)(until - ec_clock_ms());
                if (in->c.reading && in->c.fd >= 0)
                    ec_conn_pump(&in->c, left);
                else
                    poll(NULL, 0, left);
            }
            long long c1 = ec_proc_cpu_ms(pid), d1 = ec_proc_demand_ms(pid);
            int64_t dt = ec_clock_ms() - t0;
            int cpu_pct = dt > 0 && c0 >= 0 && c1 >= 0 ? (int)((c1 - c0) * 100 / dt) : -1;
            /* Judge by demand (ran + waited to run) where the kernel gives it: on a
             * loaded machine a spinning server gets a small share of CPU time but still
             * wants all of it, while an idle server wants none. */
            int pct = d0 >= 0 && d1 >= 0 && dt > 0 ? (int)((d1 - d0) * 100 / dt) : cpu_pct;
            in->cpu_pct = pct;
            snprintf(txt, sizeof txt, "%s: demand %d%%, cpu %d%% over %lld ms", st->name, pct,
                     cpu_pct, (long long)dt);
            ec_timeline_add(&ps->tl, in->c.label, "observe", -1, 0, txt);
            /* A spinning server always gets some CPU even on a loaded machine; an idle
             * one that woke once may only have waited for a CPU, and runs for nothing. */
            int spinning =
                pct > st->max_cpu_percent && (cpu_pct < 0 || cpu_pct * 5 >= st->max_cpu_percent);
            struct starved sv = {0};
            /* Wanted the CPU but hardly got it (a loaded machine), or still runnable at the
             * end of the window (its demand not yet counted): the share cannot tell, so
             * a thread's own conduct decides (starved_spinner). */
            if (!spinning && n0 > 0 &&
                (pct > st->max_cpu_percent || any_runnable(pid) || pct < 0))
                spinning = starved_spinner(in, pid, th0, n0,
                                           (long long)st->max_cpu_percent * window * 2000,
                                           deadline,
                                           r->under_wine ? (long long)st->max_cpu_percent *
                                                               st->cpu_window_ms * 2000
                                                         : 0,
                                           &sv);
            if (spinning && sv.wine_samples) {
                snprintf(e, sizeof e, "server CPU demand at most %d%% while it has nothing to do",
                         st->max_cpu_percent);
                snprintf(a, sizeof a,
                         "%d thread(s) runnable in %d%%+ of %d samples ran %lld ms in %lld ms, "
                         "its sleeps short (Wine: a Winsock call waits for the wineserver; "
                         "demand %d%%, cpu %d%% at first)",
                         sv.wine_threads, sv.wine_runnable, sv.wine_samples, sv.run_ns / 1000000,
                         (long long)(ec_clock_ms() - t0), pct, cpu_pct);
                set_failure(in, st, EC_V_FAIL, EC_OC_DATA, EC_DIAG_BUSY_POLL, e, a);
                return -1;
            }
            if (spinning && sv.tid) {
                snprintf(e, sizeof e, "server CPU demand at most %d%% while it has nothing to do",
                         st->max_cpu_percent);
                snprintf(a, sizeof a,
                         "thread %d ran %lld ms on a CPU in %lld ms without sleeping once "
                         "(demand %d%% in the first %lld ms, a loaded machine's share)",
                         (int)sv.tid, sv.run_ns / 1000000, (long long)(ec_clock_ms() - t0), pct,
                         (long long)dt);
                set_failure(in, st, EC_V_FAIL, EC_OC_DATA, EC_DIAG_BUSY_POLL, e, a);
                return -1;
            }
            if (spinning) {
                snprintf(e, sizeof e, "server CPU demand at most %d%% while it has nothing to do",
                         st->max_cpu_percent);
                snprintf(a, sizeof a,
                         "%d%% (ran or waited to run %lld ms, of which %lld ms on a CPU, in "
                         "%lld ms)",
                         pct, d1 - d0, c1 - c0, (long long)dt);
                set_failure(in, st, EC_V_FAIL, EC_OC_DATA, EC_DIAG_BUSY_POLL, e, a);
                return -1;
            }
        }
    }
    if (st->max_rss_growth_kib >= 0 && check_rss_growth(in, st) < 0)
        return -1;
    if (st->max_fd_growth >= 0) {
        if (!r->obs_fds) {
            in->not_checked = 1;
            return 0;
        }
        int base = -1;
        pthread_mutex_lock(&ps->mu);
        for (size_t i = 0; i < ps->nobs; i++)
            if (strcmp(ps->obs[i].name, st->fd_since) == 0)
                base = ps->obs[i].fds;
        pthread_mutex_unlock(&ps->mu);
        if (base < 0) {
            set_failure(in, st, EC_V_ERROR, EC_OC_DATA, EC_DIAG_FIXTURE_ERROR,
                        "an earlier observation to compare with", "none in this pass");
            return -1;
        }
        /* The server closes its sockets when it notices our closes; give it until the
         * deadline, looking every 20 ms (no event tells us when it is done). */
        int cut;
        int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
        int now = fds;
        while (now - base > st->max_fd_growth && ec_clock_ms() < deadline) {
            poll(NULL, 0, 20);
            now = ec_proc_fd_count(pid);
        }
        in->fd_growth = now - base;
        if (now - base > st->max_fd_growth) {
            char d[32];
            snprintf(d, sizeof d, EC_DIAG_FD_LEAK ":%d", now - base);
            snprintf(e, sizeof e, "at most %d more descriptors than at \"%s\" (%d)",
                     st->max_fd_growth, st->fd_since, base);
            char kinds[120];
            snprintf(a, sizeof a, "%d descriptors (%+d) after %d ms: %s", now, now - base,
                     ec_scale_ms(st->deadline_ms ? st->deadline_ms : DEFAULT_STEP_MS),
                     ec_proc_fd_kinds(pid, kinds, sizeof kinds));
            set_failure(in, st, EC_V_FAIL, EC_OC_DATA, d, e, a);
            return -1;
        }
    }
    return 0;
}

static int exec_send(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    const struct ec_framing *fr = &in->ps->run->fx.framing;
    size_t n = st->npayloads;
    unsigned char **bufs = calloc(n, sizeof *bufs);
    size_t *lens = calloc(n, sizeof *lens);
    int rc = 0;
    for (size_t i = 0; bufs && lens && i < n; i++)
        if (ec_payload_build(&st->payloads[i], fr, in->idx, &bufs[i], &lens[i]) < 0)
            rc = -1;
    if (!bufs || !lens || rc < 0) {
        set_failure(in, st, EC_V_ERROR, EC_OC_DATA, EC_DIAG_FIXTURE_ERROR, "a payload",
                    "cannot build it (memory, or a frame the framing cannot encode)");
        rc = -1;
        goto out;
    }
    struct ec_write_plan plan = plan_for(in->ps, st);
    int cut;
    int64_t deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    int64_t until = st->for_ms ? ec_clock_ms() + ec_scale_ms(st->for_ms) : 0;
    int64_t flood_t0 = ec_clock_ms();
    size_t flood_rx0 = c->recvd_len;
    do {
        /* A reading flood keeps at most FLOOD_BACKLOG_MS of the server's own echo rate
         * in flight (sent, not yet echoed; at least FLOOD_MIN_INFLIGHT): enough to keep
         * the server's read side from running empty while this thread waits for a CPU,
         * yet bounded in time, so the last echo drains fast on a slow server (Wine). */
        while (until && c->reading && ec_clock_ms() < until) {
            int64_t el = ec_clock_ms() - flood_t0;
            double rate = el > 0 ? (double)(c->recvd_len - flood_rx0) / (double)el : 0.0;
            double cap = rate * FLOOD_BACKLOG_MS;
            if (cap < FLOOD_MIN_INFLIGHT)
                cap = FLOOD_MIN_INFLIGHT;
            if (c->sent_len < c->recvd_len || (double)(c->sent_len - c->recvd_len) <= cap)
                break;
            if (ec_conn_pump(c, 10) != EC_RX_OK)
                break;
        }
        int left = (int)(deadline - ec_clock_ms());
        c->delivered = EC_DELIVERY_NONE;
        struct quiet q;
        stall_arm(in, st, &q, !alternative(st, EC_OC_TIMEOUT));
        long long k = ec_conn_send(c, (const unsigned char *const *)bufs, lens, n, &plan,
                                   left > 0 ? left : 0);
        stall_disarm(in);
        if (c->delivered != EC_DELIVERY_NONE) {
            pthread_mutex_lock(&in->ps->mu);
            if (c->delivered == EC_DELIVERY_SYNC)
                in->ps->n_sync++;
            else
                in->ps->n_timed++;
            pthread_mutex_unlock(&in->ps->mu);
        }
        if (k < 0) {
            enum ec_outcome oc = k == -EC_ETIMEDOUT    ? EC_OC_TIMEOUT
                                 : k == -EC_ECONNRESET ? EC_OC_RESET
                                                       : EC_OC_EOF;
            const struct ec_alt *alt = alternative(st, oc);
            if (alt) {
                in->nonstrict[EC_PATH_DATA] |= alt->nonstrict;
                rc = alt->end ? 1 : 0;
                goto out;
            }
            char a[200];
            snprintf(a, sizeof a, "send failed: %s after %zu bytes in total", ec_err_name((int)k),
                     c->sent_len);
            if (k == -EC_ETIMEDOUT)
                set_failure(in, st, timeout_verdict(cut), oc,
                            st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL,
                            "the kernel to accept every byte within the deadline "
                            "(the server reads)",
                            a);
            else
                set_failure(in, st, EC_V_FAIL, oc,
                            k == -EC_ECONNRESET ? reset_diag(in) : EC_DIAG_PREMATURE_CLOSE,
                            "the connection to accept data", a);
            rc = -1;
            goto out;
        }
        /* A repeated send (a flood) takes its echo as it comes, not only when the
         * kernel refuses more: then the server never finds its send side full and,
         * with the flood's send side kept full, never finds its read side empty, so a
         * server that serves only its busiest client never gets back to the others.
         * An end met here is left for the next receiving step to report. */
        if (until && c->reading)
            ec_conn_pump(c, 0);
    } while (until && ec_clock_ms() < until && ec_clock_ms() < deadline);
out:
    for (size_t i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return rc;
}

/* A host of this machine's loopback, whose listening sockets /proc/net shows. */
static int is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/* ---- round trips ---------------------------------------------------------------- */

/* Linux acknowledges a delayed segment after at least TCP_DELACK_MIN = HZ/25 = 40 ms
 * (include/net/tcp.h): a round trip that waited for a delayed ACK takes that long. */
#define DELAYED_ACK_MIN_MS 36.0

static int cmp_ms(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The sizes of the server's "send" log lines from line index from on (one connection
 * in the case): the smallest and largest, and how many. 0 when there is no log. */
static size_t server_send_pieces(struct run *r, size_t from, size_t *min, size_t *max)
{
    size_t n = 0;
    *min = (size_t)-1, *max = 0;
    if (!r->have_srv)
        return 0;
    pthread_mutex_lock(&r->srv.mu);
    for (size_t i = from; i < r->srv.nlines; i++) {
        const char *t = r->srv.lines[i].text, *b;
        if (r->srv.lines[i].is_err || strncmp(t, "send ", 5) != 0 || !(b = strstr(t, " bytes=")))
            continue;
        size_t v = (size_t)strtoull(b + 7, NULL, 10);
        *min = v < *min ? v : *min;
        *max = v > *max ? v : *max;
        n++;
    }
    pthread_mutex_unlock(&r->srv.mu);
    return n;
}

/* round_trips: sends the message, waits for its whole echo (checked byte by byte, each
 * within deadline_ms), count times, and bounds the round trip at the step's percentile
 * (nearest rank). It stops as soon as that percentile can no longer be under the
 * bound. Over the bound, a server whose log shows the echo sent in pieces smaller than
 * the message, with slow round trips (their median) of a delayed ACK or more, is
 * nagle-delayed-ack-stall; otherwise the step's own diagnosis, or stall. */
static int exec_round_trips(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    struct run *r = in->ps->run;
    unsigned char *msg = NULL;
    size_t len = 0;
    double *rtt = calloc((size_t)st->count, sizeof *rtt);
    if (!rtt || ec_payload_build(&st->payloads[0], &r->fx.framing, in->idx, &msg, &len) < 0) {
        free(rtt);
        set_failure(in, st, EC_V_ERROR, EC_OC_DATA, EC_DIAG_FIXTURE_ERROR, "a payload",
                    "cannot build it (memory, or a frame the framing cannot encode)");
        return -1;
    }
    /* Our own sends go out at once: only the server's side may wait on Nagle. */
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
    /* Scaled by the multiplier only: the Wine factor would lift the bound over the
     * delayed ACK it is there to catch. */
    double bound = (double)st->max_ms * ec_timeout_multiplier();
    /* Round trips allowed over the bound: those ranked above the percentile. */
    int allowed_over = st->count - (st->count * st->percentile + 99) / 100;
    int n = 0, over = 0, rc = 0;
    size_t log0 = r->have_srv ? ec_server_line_count(&r->srv) : 0;
    while (n < st->count && over <= allowed_over) {
        int64_t t0 = ec_timeline_now_us(&in->ps->tl);
        const unsigned char *piece = msg;
        int cut;
        int64_t d = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
        long long k = ec_conn_send(c, &piece, &len, 1, &plan, (int)(d - ec_clock_ms()));
        if (k < 0) {
            char a[200];
            snprintf(a, sizeof a, "round trip %d: send failed: %s", n + 1, ec_err_name((int)k));
            int reset = k == -EC_ECONNRESET;
            set_failure(in, st, EC_V_FAIL, reset ? EC_OC_RESET : EC_OC_EOF,
                        reset ? EC_DIAG_UNEXPECTED_RESET : EC_DIAG_PREMATURE_CLOSE,
                        "the connection to accept every message", a);
            rc = -1;
            goto out;
        }
        rc = expect_bytes(in, st, msg, len, 0);
        if (rc != 0)
            goto out;
        rtt[n] = (double)(ec_timeline_now_us(&in->ps->tl) - t0) / 1000.0;
        over += rtt[n++] > bound;
    }
    qsort(rtt, (size_t)n, sizeof *rtt, cmp_ms);
    if (over <= allowed_over)
        goto out;
    /* Over the bound: the slowest round trips and the server's pieces as evidence. */
    size_t pmin, pmax;
    size_t pieces = server_send_pieces(r, log0, &pmin, &pmax);
    char e[200], a[200], pc[96];
    snprintf(e, sizeof e, "p%d round trip of a %zu-byte message under %.0f ms (%d round trips)",
             st->percentile, len, bound, st->count);
    if (pieces)
        snprintf(pc, sizeof pc, "; the server's log: %zu sends of %zu..%zu bytes", pieces, pmin,
                 pmax);
    else
        snprintf(pc, sizeof pc, "; no server log to show its send sizes");
    snprintf(a, sizeof a,
             "%d of %d round trips over %.0f ms (median %.1f ms, slowest %.1f, fastest %.2f)%s",
             over, n, bound, rtt[n / 2], rtt[n - 1], rtt[0], pc);
    /* The median of the round trips over the bound: one of them may be slow for a
     * busy machine's sake, most of them at a delayed ACK's length are the mechanism. */
    int nagle = pieces && pmin < len && rtt[n - over + over / 2] >= DELAYED_ACK_MIN_MS;
    set_failure(in, st, EC_V_FAIL, EC_OC_TIMEOUT,
                nagle              ? EC_DIAG_NAGLE
                : st->diagnosis[0] ? st->diagnosis
                                   : EC_DIAG_STALL,
                e, a);
    rc = -1;
out:
    free(msg);
    free(rtt);
    return rc;
}

/* ---- the engine's column of the step table (EC_STEP_KINDS in fixture.h): each
 * exec_<kind> runs one step and returns 0 to go on, 1 to end the script quietly (an
 * alternative said so), -1 on failure (recorded in in->f). ---------------------------- */

static int exec_connect(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    struct pass *ps = in->ps;
    int cut;
    int64_t d = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    srv_track_start(in);
    int rc = ec_conn_connect(c, ps->run->host, ps->run->port, (int)(d - ec_clock_ms()));
    if (rc == 0) {
        srv_track_port(in);
        return 0;
    }
    enum ec_outcome oc = rc == -EC_ETIMEDOUT ? EC_OC_TIMEOUT : EC_OC_REFUSED;
    const struct ec_alt *alt = alternative(st, oc);
    if (alt) {
        in->nonstrict[EC_PATH_DATA] |= alt->nonstrict;
        return alt->end ? 1 : 0;
    }
    char a[200];
    snprintf(a, sizeof a, "connect failed: %s", ec_err_name(rc));
    set_failure(in, st, rc == -EC_ETIMEDOUT ? timeout_verdict(cut) : EC_V_FAIL, oc,
                rc == -EC_ETIMEDOUT && st->diagnosis[0] ? st->diagnosis : EC_DIAG_CONNECT_FAILED,
                "a connection accepted by the kernel", a);
    /* Refused: was anything listening? (Only knowable for a server on this host.) */
    if (rc == -EC_ECONNREFUSED && (ps->run->have_srv || is_loopback(ps->run->host)))
        in->f.not_listening = ec_port_listening(ps->run->port) == 0;
    return -1;
}

static int exec_fill(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    int cut;
    int64_t d = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    /* With quiet_ms, a refusal ends the fill only while the server sleeps: ending it
     * early could leave a server that only waited for a CPU short of a full send side,
     * so under Wine the wineserver must be quiet as well (may_fail). */
    struct quiet q;
    stall_arm(in, st, &q, 1);
    long long k = ec_conn_fill(c, st->max, st->seed + (uint64_t)in->idx, ec_scale_ms(st->settle_ms),
                               (int)(d - ec_clock_ms()));
    stall_disarm(in);
    if (k >= 0) {
        in->filled = k;
        return 0;
    }
    char a[200];
    snprintf(a, sizeof a, "send failed: %s after %zu bytes", ec_err_name((int)k), c->sent_len);
    set_failure(in, st, EC_V_FAIL, k == -EC_ECONNRESET ? EC_OC_RESET : EC_OC_EOF,
                k == -EC_ECONNRESET ? reset_diag(in) : EC_DIAG_PREMATURE_CLOSE,
                "the connection to accept data until the kernel refuses more", a);
    return -1;
}

static int exec_recvn(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    int cut;
    size_t avail = c->sent_len - c->recv_pos;
    if (st->compare && st->n > avail) {
        char a[120];
        snprintf(a, sizeof a, "only %zu bytes were sent and not yet echoed", avail);
        set_failure(in, st, EC_V_ERROR, EC_OC_MISMATCH, EC_DIAG_FIXTURE_ERROR, "recvn of echo", a);
        return -1;
    }
    if (st->compare)
        return expect_bytes(in, st, c->sent + c->recv_pos, st->n, 0);
    /* Any n bytes: compare with themselves. */
    int64_t d = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    enum ec_rx rx = ec_conn_recv_until(c, c->recv_pos + st->n, d);
    if (rx == EC_RX_OK) {
        c->recv_pos += st->n;
        return 0;
    }
    char e[64], a[120];
    snprintf(e, sizeof e, "%zu bytes", st->n);
    snprintf(a, sizeof a, "%zu bytes, then %s", c->recvd_len - c->recv_pos, ec_rx_name(rx));
    set_failure(in, st, rx == EC_RX_TIMEOUT ? timeout_verdict(cut) : EC_V_FAIL,
                rx == EC_RX_EOF       ? EC_OC_EOF
                : rx == EC_RX_TIMEOUT ? EC_OC_TIMEOUT
                                      : EC_OC_RESET,
                rx == EC_RX_TIMEOUT ? (st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL)
                : rx == EC_RX_EOF   ? EC_DIAG_TRUNCATED
                                    : reset_diag(in),
                e, a);
    return -1;
}

static int exec_shutdown_wr(struct inst *in, const struct ec_step *st)
{
    (void)st;
    ec_conn_shutdown_wr(&in->c);
    return 0;
}

static int exec_close(struct inst *in, const struct ec_step *st)
{
    struct pass *ps = in->ps;
    (void)st;
    ec_conn_close(&in->c);
    if (in->c.reset_sent) {
        /* close() with unread data sent RST: a server that dies now died of a client's
         * reset, as after abort. */
        pthread_mutex_lock(&ps->mu);
        ps->run->abort_seen = 1;
        pthread_mutex_unlock(&ps->mu);
    }
    return 0;
}

static int exec_abort(struct inst *in, const struct ec_step *st)
{
    struct pass *ps = in->ps;
    (void)st;
    ec_conn_abort(&in->c);
    pthread_mutex_lock(&ps->mu);
    ps->run->abort_seen = 1;
    pthread_mutex_unlock(&ps->mu);
    return 0;
}

static int exec_pause(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    int64_t until = ec_clock_ms() + ec_scale_ms(st->ms);
    if (until > in->ps->deadline_ms)
        until = in->ps->deadline_ms;
    while (ec_clock_ms() < until) {
        int left = (int)(until - ec_clock_ms());
        if (c->reading && c->fd >= 0)
            ec_conn_pump(c, left);
        else
            poll(NULL, 0, left);
    }
    return 0;
}

/* rcvbuf, sndbuf. */
static int exec_bufsize(struct inst *in, const struct ec_step *st)
{
    if (st->kind == EC_ST_RCVBUF)
        ec_conn_set_bufsizes(&in->c, st->bytes, 0);
    else
        ec_conn_set_bufsizes(&in->c, 0, st->bytes);
    return 0;
}

/* stop_reading, resume_reading. */
static int exec_reading(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    c->reading = st->kind == EC_ST_RESUME_READING;
    ec_timeline_add(c->tl, c->label, c->reading ? "resume-reading" : "stop-reading", -1, 0, NULL);
    return 0;
}

static int exec_barrier(struct inst *in, const struct ec_step *st)
{
    int cut;
    if (barrier_wait(in, st, &cut) == 0)
        return 0;
    char e[100];
    snprintf(e, sizeof e, "every connection at barrier \"%s\"", st->name);
    set_failure(in, st, timeout_verdict(cut), EC_OC_TIMEOUT,
                st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL, e,
                "some connections never arrived (they wait on the server)");
    return -1;
}

static int exec_handoff(struct inst *in, const struct ec_step *st)
{
    (void)st;
    handoff(in);
    return 0;
}

/* await_ack: waits until the server's kernel has acknowledged every byte we sent,
 * and our FIN after shutdown_wr: nothing of ours is left in our send queue
 * (SIOCOUTQ counts what is unsent or unacknowledged, tcp(7)). Then it sits in the
 * server's socket whether or not the server runs (after freeze_server). An ACK of a
 * FIN can wait for the delayed-ACK timer (tens of ms). A connection that is already
 * closed or reset has nothing more to wait for: the steps after it say what happened. */
static int exec_await_ack(struct inst *in, const struct ec_step *st)
{
    struct ec_conn *c = &in->c;
    int cut;
    int64_t t0 = ec_clock_ms(), deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    char txt[96];
    int nap = 1;
    for (;;) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        int q = 0;
        if (c->fd < 0 && c->reset_sent && in->trk.port && is_loopback(in->ps->run->host)) {
            /* Our RST is not acknowledged: it has arrived when the server's side of
             * the connection has left this host's connection table (sock_diag). */
            int present = ec_tcp_conn_present((const struct sockaddr *)&in->trk.peer,
                                              (const struct sockaddr *)&in->trk.me);
            if (present <= 0) {
                ec_timeline_add(c->tl, c->label, "await-ack", -1, 0,
                                present == 0 ? "reset seen by the server host"
                                             : "reset not checked (no sock_diag)");
                return 0;
            }
            q = 1;
        } else if (c->fd < 0 || getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0 ||
                   ti.tcpi_state == TCP_CLOSE || ioctl(c->fd, SIOCOUTQ, &q) != 0) {
            ec_timeline_add(c->tl, c->label, "await-ack", -1, 0, "connection already ended");
            return 0;
        }
        if (q == 0) {
            snprintf(txt, sizeof txt, "all acknowledged in %lld ms",
                     (long long)(ec_clock_ms() - t0));
            ec_timeline_add(c->tl, c->label, "await-ack", -1, 0, txt);
            return 0;
        }
        if (ec_clock_ms() >= deadline) {
            if (c->fd < 0)
                snprintf(txt, sizeof txt, "the server's socket has not seen our reset");
            else
                snprintf(txt, sizeof txt, "%d bytes (a FIN counts 1) still unacknowledged", q);
            set_failure(in, st, timeout_verdict(cut), EC_OC_TIMEOUT,
                        st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL,
                        "the server's host acknowledges every byte sent", txt);
            return -1;
        }
        /* The kernel offers no event for "acknowledged": polled (draining the echo),
         * 1 ms at first, then less often: a storm has a thousand of these at once. */
        if (c->reading && c->fd >= 0)
            ec_conn_pump(c, nap);
        else
            poll(NULL, 0, nap);
        if (nap < 16)
            nap *= 2;
    }
}

/* freeze_server, thaw_server: stop the server process (SIGSTOP, every thread seen
 * stopped) and let it go on (SIGCONT). Bytes, FINs and resets sent while it is frozen
 * (and made sure of with await_ack) are all there when it resumes: one wake-up, one
 * round of its loop, whatever the scheduler does. The pass thaws a server left frozen
 * (run_pass). */
static int exec_freeze(struct inst *in, const struct ec_step *st)
{
    struct pass *ps = in->ps;
    struct run *r = ps->run;
    int freeze = st->kind == EC_ST_FREEZE_SERVER;
    const char *what = freeze ? "freeze-server" : "thaw-server";
    char txt[96];
    if (!r->have_srv) {
        ec_timeline_add(&ps->tl, in->c.label, what, -1, 0, "not done: no server process");
        in->not_checked = 1;
        return 0;
    }
    pthread_mutex_lock(&ps->mu);
    r->frozen = freeze;
    pthread_mutex_unlock(&ps->mu);
    if (!freeze) {
        ec_proc_thaw(r->srv.pid);
        ec_timeline_add(&ps->tl, in->c.label, what, -1, 0, "SIGCONT");
        return 0;
    }
    int cut;
    int64_t t0 = ec_clock_ms(), deadline = step_deadline(in, st, DEFAULT_STEP_MS, &cut);
    if (ec_proc_freeze(r->srv.pid, deadline) == 0) {
        snprintf(txt, sizeof txt, "SIGSTOP: every thread stopped in %lld ms",
                 (long long)(ec_clock_ms() - t0));
        ec_timeline_add(&ps->tl, in->c.label, what, -1, 0, txt);
        return 0;
    }
    ec_proc_thaw(r->srv.pid);
    pthread_mutex_lock(&ps->mu);
    r->frozen = 0;
    pthread_mutex_unlock(&ps->mu);
    set_failure(in, st, EC_V_ERROR, EC_OC_TIMEOUT, EC_DIAG_HARNESS_ERROR,
                "the server process stopped (SIGSTOP)",
                "it is gone, or a thread was not seen stopped in time");
    return -1;
}

/* Runs one step through the table's engine column. */
static int exec_step(struct inst *in, const struct ec_step *st)
{
    static int (*const exec[EC_ST_COUNT])(struct inst *, const struct ec_step *) = {
#define EC_STEP_EXEC(kind, name, path, fields, parse, run) [EC_ST_##kind] = run,
        EC_STEP_KINDS(EC_STEP_EXEC)
#undef EC_STEP_EXEC
    };
    return (unsigned)st->kind < EC_ST_COUNT ? exec[st->kind](in, st) : -1;
}

static void *inst_main(void *arg)
{
    struct inst *in = arg;
    struct pass *ps = in->ps;
    const struct ec_group *g = in->g;
    if (g->serial && in->idx > 0) {
        /* A serial group: start when the previous instance handed off or ended. */
        int64_t left = ps->deadline_ms - ec_clock_ms();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (left < 0)
            left = 0;
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        while (sem_timedwait(&in->go, &ts) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_lock(&ps->mu);
    int skip = g->stop_after_failure && ps->group_failed[in->gi];
    pthread_mutex_unlock(&ps->mu);
    if (skip) {
        in->skipped = 1;
        leave(in);
        return NULL;
    }
    in->ran = 1;
    for (in->pos = 0; in->pos < g->nsteps; in->pos++) {
        const struct ec_step *st = &g->steps[in->pos];
        if (ec_clock_ms() >= ps->deadline_ms) {
            set_failure(in, st, EC_V_TIMEOUT, EC_OC_TIMEOUT,
                        st->diagnosis[0] ? st->diagnosis : EC_DIAG_STALL,
                        "the case to finish within its time budget", "the budget ran out");
            break;
        }
        in->ran_path[ec_step_path(st->kind)] = 1;
        if (st->after != EC_AFTER_NONE && wait_after_server(in, st) != 0)
            break;
        int rc = exec_step(in, st);
        if (rc != 0)
            break;
    }
    if (in->pos >= g->nsteps)
        in->completed = 1;
    /* Whatever the script left open is closed now (orderly), so the server sees an
     * end for every connection. */
    if (in->c.fd >= 0) {
        close(in->c.fd);
        in->c.fd = -1;
    }
    leave(in);
    return NULL;
}

/* ---- one pass ------------------------------------------------------------------------ */

int ec__budget_ms(const struct pass *ps)
{
    return ec_scale_ms(ps->run->fx.budget_ms);
}

static int run_pass(struct run *r, struct pass *ps)
{
    const struct ec_fixture *fx = &r->fx;
    ps->run = r;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    if (ec_timeline_init(&ps->tl, TIMELINE_CAP) < 0)
        return -1;
    ps->group_failed = calloc(fx->ngroups, sizeof *ps->group_failed);
    size_t total = 0, nb = 0;
    for (size_t g = 0; g < fx->ngroups; g++) {
        total += (size_t)fx->groups[g].spawn;
        for (size_t s = 0; s < fx->groups[g].nsteps; s++)
            nb += fx->groups[g].steps[s].kind == EC_ST_BARRIER;
    }
    ps->barriers = calloc(nb + 1, sizeof *ps->barriers);
    ps->insts = calloc(total, sizeof *ps->insts);
    if (!ps->group_failed || !ps->barriers || !ps->insts)
        return -1;
    for (size_t g = 0; g < fx->ngroups; g++)
        for (size_t s = 0; s < fx->groups[g].nsteps; s++) {
            const struct ec_step *st = &fx->groups[g].steps[s];
            if (st->kind != EC_ST_BARRIER)
                continue;
            struct barrier *b = find_barrier(ps, st->name);
            if (!b) {
                b = &ps->barriers[ps->nbarriers++];
                snprintf(b->name, sizeof b->name, "%s", st->name);
                b->efd = eventfd(0, EFD_CLOEXEC);
                if (b->efd < 0)
                    return -1;
            }
            if (!st->wait_only)
                b->participants += fx->groups[g].spawn;
        }
    /* A barrier that only wait_only steps name has no one to wait for. */
    for (size_t i = 0; i < ps->nbarriers; i++)
        barrier_check(&ps->barriers[i]);
    size_t k = 0;
    for (size_t g = 0; g < fx->ngroups; g++)
        for (int i = 0; i < fx->groups[g].spawn; i++, k++) {
            struct inst *in = &ps->insts[k];
            in->ps = ps;
            in->g = &fx->groups[g];
            in->gi = g;
            in->idx = i;
            char label[24];
            if (fx->groups[g].spawn > 1)
                snprintf(label, sizeof label, "%.10s[%d]", fx->groups[g].name, i);
            else
                snprintf(label, sizeof label, "%.20s", fx->groups[g].name);
            ec_conn_init(&in->c, label, &ps->tl);
            in->efd = -1;
            if (r->can_pace) {
                in->c.pace = pace;
                in->c.pace_arg = in;
            }
            sem_init(&in->go, 0, 0);
            in->member = calloc(ps->nbarriers + 1, sizeof *in->member);
            in->arrived = calloc(ps->nbarriers + 1, sizeof *in->arrived);
            if (!in->member || !in->arrived)
                return -1;
            for (size_t s = 0; s < fx->groups[g].nsteps; s++)
                if (fx->groups[g].steps[s].kind == EC_ST_BARRIER && !fx->groups[g].steps[s].wait_only)
                    in->member[find_barrier(ps, fx->groups[g].steps[s].name) - ps->barriers] = 1;
        }
    ps->ninst = total;

    ps->start_ms = ec_clock_ms();
    ps->deadline_ms = ps->start_ms + ec__budget_ms(ps);
    ps->hard_deadline_ms = ps->start_ms + (int64_t)PACE_BUDGET_FACTOR * ec__budget_ms(ps);
    for (size_t j = 0; j < ps->ninst; j++)
        ps->insts[j].c.pace_until = ps->deadline_ms;
    ec_timeline_add(&ps->tl, "engine", "pass", -1, 0, ps->plan_name);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, THREAD_STACK);
    size_t started = 0;
    for (size_t i = 0; i < total; i++) {
        if (pthread_create(&ps->insts[i].th, &at, inst_main, &ps->insts[i]) != 0) {
            /* Out of threads: the rest cannot run; say so as a harness error. */
            for (size_t j = i; j < total; j++) {
                ps->insts[j].skipped = 1;
                set_failure(&ps->insts[j], NULL, EC_V_ERROR, EC_OC_DATA, EC_DIAG_HARNESS_ERROR,
                            "a thread per connection", "pthread_create failed");
                leave(&ps->insts[j]);
            }
            break;
        }
        started++;
    }
    pthread_attr_destroy(&at);
    for (size_t i = 0; i < started; i++)
        pthread_join(ps->insts[i].th, NULL);
    if (r->frozen) { /* a script ended between its freeze_server and thaw_server */
        ec_proc_thaw(r->srv.pid);
        r->frozen = 0;
        ec_timeline_add(&ps->tl, "engine", "thaw-server", -1, 0, "SIGCONT at the end of the pass");
    }
    ps->end_ms = ec_clock_ms();
    return 0;
}

void ec__pass_free(struct pass *ps)
{
    for (size_t i = 0; i < ps->ninst; i++) {
        ec_conn_free(&ps->insts[i].c);
        if (ps->insts[i].efd >= 0)
            close(ps->insts[i].efd);
        free(ps->insts[i].member);
        free(ps->insts[i].arrived);
    }
    for (size_t i = 0; i < ps->ninst; i++)
        sem_destroy(&ps->insts[i].go);
    free(ps->insts);
    for (size_t i = 0; i < ps->nbarriers; i++)
        close(ps->barriers[i].efd);
    free(ps->barriers);
    free(ps->group_failed);
    if (ps->tl.ev)
        ec_timeline_free(&ps->tl);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
}

/* ---- grading a pass -------------------------------------------------------------------- */

/* Did another connection send these bytes? Then our stream carries its data. */
static int cross_talk(const struct pass *ps, const struct inst *me)
{
    const struct failure *f = &me->f;
    if (f->diff_off < 0)
        return 0;
    size_t off = (size_t)f->diff_off;
    const struct ec_conn *c = &me->c;
    if (off + 8 > c->recvd_len)
        return 0;
    size_t n = c->recvd_len - off < 16 ? c->recvd_len - off : 16;
    for (size_t i = 0; i < ps->ninst; i++) {
        const struct inst *o = &ps->insts[i];
        if (o == me || !o->c.sent_len)
            continue;
        if (memmem(o->c.sent, o->c.sent_len, c->recvd + off, n))
            return 1;
    }
    return 0;
}

/* Did the instance fail before reaching its group's first handoff step? */
static int before_handoff(const struct inst *in)
{
    for (size_t s = 0; s < in->g->nsteps && s < in->pos; s++)
        if (in->g->steps[s].kind == EC_ST_HANDOFF)
            return 0;
    return 1;
}

static void grade_pass(struct pass *ps)
{
    for (int p = 0; p < 3; p++)
        ps->v[p] = EC_V_NOT_RUN;
    ps->first = NULL;
    for (size_t i = 0; i < ps->ninst; i++) {
        struct inst *in = &ps->insts[i];
        for (int p = 0; p < 3; p++) {
            if (in->ran_path[p] && ps->v[p] == EC_V_NOT_RUN)
                ps->v[p] = EC_V_PASS;
            if (in->nonstrict[p])
                ps->v[p] = ec__worst(ps->v[p], EC_V_PASS_NONSTRICT);
            if (in->not_checked && p == EC_PATH_SERVER && ps->v[p] == EC_V_PASS)
                ps->v[p] = EC_V_NOT_CHECKED;
        }
        if (in->f.set) {
            ps->v[in->f.path] = ec__worst(ps->v[in->f.path], in->f.v);
            if (!ps->first || in->f.t_us < ps->first->t_us)
                ps->first = &in->f;
        }
    }
    ps->diagnosis[0] = 0;
    if (!ps->first)
        return;
    struct inst *fi = NULL;
    for (size_t i = 0; i < ps->ninst; i++)
        if (&ps->insts[i].f == ps->first)
            fi = &ps->insts[i];
    snprintf(ps->diagnosis, sizeof ps->diagnosis, "%s", ps->first->diagnosis);
    /* A mismatch that carries another connection's bytes is cross-talk. */
    if (strcmp(ps->diagnosis, EC_DIAG_ECHO_MISMATCH) == 0 && fi && cross_talk(ps, fi))
        snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_CROSS_TALK);
    /* A capacity group whose instance failed before its hand-off (while it was being
     * admitted): N is the number of clients the server held at that moment, that is
     * the instances of the group admitted before it plus the connections of the other
     * groups that were connected without failing. */
    if (fi && strcmp(fi->g->on_fail, EC_DIAG_CAPACITY) == 0 && ps->first->v == EC_V_FAIL &&
        strcmp(ps->first->diagnosis, EC_DIAG_FIXTURE_ERROR) != 0 && before_handoff(fi)) {
        int served = 0;
        for (size_t i = 0; i < ps->ninst; i++) {
            struct inst *in = &ps->insts[i];
            if (in->g == fi->g) {
                /* Admitted: it got past its hand-off (what failed later is another
                 * story, told by the first failure). In a serial group only the
                 * instances before the failing one count: they were held at the time;
                 * in a concurrent group every admitted instance does. */
                if ((!fi->g->serial || in->idx < fi->idx) && in->ran && !in->skipped &&
                    (!in->f.set || !before_handoff(in)))
                    served++;
            } else if (in->ran && !in->f.set && in->c.sent_len + in->c.recvd_len > 0) {
                served++;
            }
        }
        snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_CAPACITY ":%d", served);
    }
    ec__refine_diagnosis(ps, fi);
}

/* ---- the sweep ----------------------------------------------------------------------- */

static void add_pass(struct run *r, enum ec_plan_override ov, size_t split_at, const char *name)
{
    if (r->npasses >= sizeof r->passes / sizeof r->passes[0])
        return;
    struct pass *ps = &r->passes[r->npasses++];
    memset(ps, 0, sizeof *ps);
    ps->ov = ov;
    ps->split_at = split_at;
    ps->seed = r->seed;
    snprintf(ps->plan_name, sizeof ps->plan_name, "%s", name);
}

static int plan_passes(struct run *r)
{
    const struct ec_fixture *fx = &r->fx;
    size_t shortest_long = 0, any_send = 0, non_asis = 0, any_bytewise = 0;
    for (size_t g = 0; g < fx->ngroups; g++)
        for (size_t s = 0; s < fx->groups[g].nsteps; s++) {
            const struct ec_step *st = &fx->groups[g].steps[s];
            if (st->kind != EC_ST_SEND || st->plan_fixed)
                continue;
            any_send = 1;
            non_asis |= st->plan.kind != EC_PLAN_ASIS;
            size_t b = step_bytes(st, &fx->framing);
            any_bytewise |= b <= EC_SWEEP_BYTEWISE_MAX;
            if (b <= EC_SWEEP_SPLIT_MAX && b > shortest_long)
                shortest_long = b;
        }
    char name[48];
    if (r->o->plan) {
        enum ec_plan_override ov;
        size_t at;
        if (ec_plan_override_parse(r->o->plan, &ov, &at) < 0)
            return -1;
        if (ov == EC_OV_RANDOM)
            snprintf(name, sizeof name, "random seed=%llu", (unsigned long long)r->seed);
        else
            ec_plan_override_spec(ov, at, name, sizeof name);
        add_pass(r, ov, at, name);
        return 0;
    }
    add_pass(r, EC_OV_FIXTURE, 0, "fixture");
    if (!fx->sweep || !any_send)
        return 0;
    if (non_asis)
        add_pass(r, EC_OV_ASIS, 0, "as-is");
    if (any_bytewise)
        add_pass(r, EC_OV_BYTEWISE, 0, "bytewise");
    snprintf(name, sizeof name, "random seed=%llu", (unsigned long long)r->seed);
    add_pass(r, EC_OV_RANDOM, 0, name);
    for (size_t k = 1; k < shortest_long; k++) {
        snprintf(name, sizeof name, "split@%zu", k);
        add_pass(r, EC_OV_SPLIT, k, name);
    }
    add_pass(r, EC_OV_COALESCE, 0, "coalesce");
    return 0;
}

/* ---- the replay ----------------------------------------------------------------------- */

/* Does the server command (or the fixture's server_args) ask for --quiet? Then its log
 * has no events, and delivery is timed. */
static int quiet_server(const char *cmd, const struct ec_fixture *fx)
{
    for (size_t i = 0; i < fx->nserver_args; i++)
        if (strcmp(fx->server_args[i], "--quiet") == 0)
            return 1;
    char *argv[256], err[64];
    int n = ec_split_command(cmd, argv, 200, err, sizeof err);
    int quiet = 0;
    for (int i = 0; i < n; i++)
        quiet |= strcmp(argv[i], "--quiet") == 0;
    if (n > 0)
        ec_split_free(argv, n);
    return quiet;
}

int ec_replay_under_wine(const struct ec_replay_opts *o)
{
    return (o->family && strcmp(o->family, "win32") == 0) ||
           (o->model && strncmp(o->model, "faulty-win32-", 13) == 0);
}

static int check_log(struct run *r)
{
    const struct ec_fixture *fx = &r->fx;
    if (!fx->nlog)
        return 0;
    size_t line = 0;
    pcre2_match_data *md = NULL;
    for (size_t i = 0; i < fx->nlog; i++) {
        md = pcre2_match_data_create_from_pattern(fx->log[i].re, NULL);
        int found = 0;
        for (; line < r->srv.nlines; line++) {
            const struct ec_srv_line *l = &r->srv.lines[line];
            if (l->is_err)
                continue;
            if (pcre2_match(fx->log[i].re, (PCRE2_SPTR)l->text, strlen(l->text), 0, 0, md, NULL) >=
                0) {
                found = 1;
                line++;
                break;
            }
        }
        pcre2_match_data_free(md);
        if (!found) {
            r->log_failed = (int)i + 1;
            return -1;
        }
    }
    return 0;
}

static void server_fate(struct run *r)
{
    if (!r->have_srv)
        return;
    /* A failure may come from the server having died: give the exit a moment to be
     * seen, then name it (it is the root cause of whatever the clients saw). A server
     * caught in the middle of its exit gets as long as it takes, bounded: one that
     * closes a hundred sockets full of unread data was seen to need more than 300 ms
     * under load, and was then taken for stopped (premature-close, not
     * died-after-reset, in a fresh-clone ci run). */
    if (!ec_server_exited(&r->srv, r->any_failure ? ec_scale_ms(300) : 0) &&
        !(r->any_failure && ec_proc_exiting(r->srv.pid) &&
          ec_server_exited(&r->srv, ec_scale_ms(STOP_GRACE_MS))))
        return;
    if (r->srv.stop_requested)
        return;
    int st = r->srv.status;
    if (WIFSIGNALED(st)) {
        const char *n = sigabbrev_np(WTERMSIG(st));
        snprintf(r->server_diag, sizeof r->server_diag, EC_DIAG_CRASH ":SIG%s", n ? n : "?");
    } else if (r->abort_seen) {
        snprintf(r->server_diag, sizeof r->server_diag, EC_DIAG_DIED_AFTER_RESET);
    } else {
        snprintf(r->server_diag, sizeof r->server_diag, EC_DIAG_SERVER_EXITED ":%d", WEXITSTATUS(st));
    }
}

/* ---- the replay, in stages; ec_replay frees the run in one place ---------------------- */

/* Loads the fixture and the profile, picks the seed and lays out the passes. Returns
 * 0, or 2 after a message on stderr (and, for a broken fixture or profile, the JSON
 * result that says so). */
static int replay_load(struct run *r)
{
    const struct ec_replay_opts *o = r->o;
    char err[1024];
    r->under_wine = ec_replay_under_wine(o);
    if (ec_fixture_load(o->fixture, &r->fx, err, sizeof err) < 0 ||
        ec__profile_load(r, err, sizeof err) < 0) {
        fprintf(stderr, "echoconf: %s\n", err);
        ec__report_error(o, err);
        return 2;
    }
    r->seed = o->seed_set ? o->seed : ec_default_seed();
    if (plan_passes(r) < 0) {
        fprintf(stderr,
                "echoconf: --plan %s: unknown plan (fixture, as-is, bytewise, random, "
                "split@K, coalesce)\n",
                o->plan);
        return 2;
    }
    r->start_ms = ec_clock_ms();
    return 0;
}

/* Whether the case cannot be judged against this server (the profile says so, or the
 * case needs what this server cannot show); then r->unsupported_reason says why. */
static int replay_unsupported(struct run *r)
{
    const struct ec_replay_opts *o = r->o;
    if (r->fx.rlimit_nofile && r->under_wine && !r->unsupported_reason[0])
        snprintf(r->unsupported_reason, sizeof r->unsupported_reason,
                 "the case lowers RLIMIT_NOFILE of the server process, which under Wine is "
                 "the Wine loader with descriptors of its own: it would test Wine, not the "
                 "server");
    if (!r->unsupported_reason[0] && !(o->target && r->fx.needs_server) &&
        !(r->fx.needs_fds && !r->obs_fds) && !(r->fx.needs_cpu && !r->obs_cpu))
        return 0;
    if (!r->unsupported_reason[0])
        snprintf(r->unsupported_reason, sizeof r->unsupported_reason, "%s",
                 o->target ? "the case needs a server started by echoconf (--server)"
                 : r->fx.needs_fds && !r->obs_fds
                     ? "the case is about the server's descriptor count, which is not "
                       "observable for this model (under Wine /proc shows the Wine "
                       "loader's descriptors)"
                     : "the case is about the server's CPU time, which is not observable "
                       "for this model");
    return 1;
}

/* A Wine start-up failure (replay_start): the attempts, and how soon the exit. */
#define START_ATTEMPTS 3
#define WINE_START_FAIL_MS 1000

/* Reaches the server: the --target address, or the server started from --server
 * (ec_launch_server). Returns 0, or 2: a bad --target (message on stderr), or a
 * server that did not start (r->harness_error, verdict ERROR, to be reported). */
static int replay_start(struct run *r)
{
    const struct ec_replay_opts *o = r->o;
    if (o->target) {
        unsigned port;
        if (ec_parse_hostport(o->target, r->host, sizeof r->host, &port, 0) < 0) {
            fprintf(stderr, "echoconf: --target %s: expected HOST:PORT\n", o->target);
            return 2;
        }
        r->port = port;
        return 0;
    }
    /* A "{port}" command is a server that is not ours: it gets no --framing nor the
     * case's arguments, and its output is not echoconf's log. */
    char err[1024];
    r->foreign = ec_command_has_port(o->server);
    r->have_srv = 1; /* from here on: stopped and freed with the run; its lines may
                      * explain a failed start */
    for (int attempt = 1;; attempt++) {
        int64_t t0 = ec_clock_ms();
        if (ec_launch_server(&r->srv, o->server, r->fx.framing_spec, r->fx.server_args,
                             r->fx.nserver_args, r->fx.rlimit_nofile, ec_scale_ms(READY_MS),
                             r->server_cmd, sizeof r->server_cmd, err, sizeof err) == 0)
            break;
        /* Under Wine, wine64 now and then exits with status 1 within milliseconds and
         * prints nothing (WINEDEBUG=-all), before the model's main ran: 3 times in about
         * 8,000 Wine server starts of the hunts, in three different cells.
         * That is Wine failing to start, not the model failing, so it is started again,
         * up to START_ATTEMPTS times, and the report says so; a model that fails to
         * start (it prints why, or takes its time) fails every attempt. */
        int64_t took = ec_clock_ms() - t0;
        int silent = r->srv.exited && WIFEXITED(r->srv.status) && WEXITSTATUS(r->srv.status) != 0 &&
                     r->srv.nlines == 0 && took < WINE_START_FAIL_MS;
        if (r->under_wine && silent && attempt < START_ATTEMPTS) {
            printf("server start: %s after %lld ms, printing nothing (Wine failing to start, "
                   "not the model); started again (attempt %d of %d)\n",
                   err, (long long)took, attempt + 1, START_ATTEMPTS);
            ec_server_free(&r->srv);
            r->start_retries++;
            continue;
        }
        snprintf(r->harness_error, sizeof r->harness_error, "cannot start the server: %s", err);
        r->final = EC_V_ERROR;
        return 2;
    }
    /* The server's log paces the clients, unless it is not echoconf's log (a foreign
     * server) or the server was told to keep quiet. */
    r->can_pace = !r->foreign && !quiet_server(o->server, &r->fx);
    ec_launch_reach(r->srv.host, r->host, sizeof r->host);
    r->port = r->srv.port;
    return 0;
}

/* Runs the passes until one fails or the server is gone, then names the server's
 * fate and stops it. Returns the verdict so far (ERROR when a pass could not be set
 * up). */
static enum ec_verdict replay_passes(struct run *r)
{
    enum ec_verdict final = EC_V_PASS;
    for (size_t i = 0; i < r->npasses; i++) {
        struct pass *ps = &r->passes[i];
        if (run_pass(r, ps) < 0) {
            snprintf(r->harness_error, sizeof r->harness_error, "out of memory setting up a pass");
            final = EC_V_ERROR;
            break;
        }
        r->passes_run = i + 1;
        grade_pass(ps);
        enum ec_verdict pv = EC_V_PASS;
        for (int p = 0; p < 3; p++)
            pv = ec__worst(pv, ps->v[p]);
        ps->verdict = pv;
        if (ec__verdict_failed(pv)) {
            r->any_failure = 1;
            r->failed_pass = (int)i;
            break;
        }
        if (r->have_srv && ec_server_exited(&r->srv, 0))
            break;
    }
    server_fate(r);
    if (r->have_srv && !r->srv.exited)
        ec_server_stop(&r->srv, ec_scale_ms(STOP_GRACE_MS));
    else if (r->have_srv)
        ec_server_stop(&r->srv, 0);
    if (!r->server_diag[0] && r->have_srv && r->srv.killed)
        snprintf(r->server_note, sizeof r->server_note,
                 "the server did not stop on SIGINT within %d ms and was killed",
                 ec_scale_ms(STOP_GRACE_MS));
    return final;
}

/* Grades the run from the verdict of the passes: the worst pass, the server's fate,
 * the log; names the one diagnosis; applies the profile. */
static void replay_grade(struct run *r, enum ec_verdict final)
{
    for (size_t i = 0; i < r->passes_run; i++)
        final = ec__worst(final, r->passes[i].verdict);
    r->server_v = EC_V_PASS;
    if (r->server_diag[0]) {
        final = ec__worst(final, EC_V_FAIL);
        r->server_v = EC_V_FAIL;
    }
    if (!r->have_srv || r->foreign) {
        r->log_v = r->fx.nlog ? EC_V_NOT_CHECKED : EC_V_NOT_RUN;
    } else if (r->fx.nlog) {
        r->log_v = check_log(r) < 0 ? EC_V_FAIL : EC_V_PASS;
        if (r->log_v == EC_V_FAIL)
            final = ec__worst(final, EC_V_FAIL);
    } else {
        r->log_v = EC_V_NOT_RUN;
    }
    if (r->harness_error[0])
        final = EC_V_ERROR;

    /* The one diagnosis: the server's fate explains everything after it; else the
     * earliest failure of the failing pass; else the log. */
    if (r->server_diag[0])
        snprintf(r->diagnosis, sizeof r->diagnosis, "%s", r->server_diag);
    else if (r->any_failure && r->passes[r->failed_pass].diagnosis[0])
        snprintf(r->diagnosis, sizeof r->diagnosis, "%s", r->passes[r->failed_pass].diagnosis);
    else if (r->log_v == EC_V_FAIL)
        snprintf(r->diagnosis, sizeof r->diagnosis, EC_DIAG_LOG_MISMATCH);
    if (!r->server_diag[0] && r->any_failure)
        snprintf(r->evidence, sizeof r->evidence, "%s", r->passes[r->failed_pass].evidence);
    if (ec_diagnosis_is_harness(r->diagnosis))
        final = EC_V_ERROR;
    final = ec__grade_requirement(r, final);
    r->raw = final;
    r->final = ec__profile_apply(r, final);
}

int ec_replay(const struct ec_replay_opts *o)
{
    struct run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "echoconf: out of memory\n");
        return 2;
    }
    r->o = o;
    int rc = replay_load(r);
    if (rc == 0) {
        if (replay_unsupported(r))
            r->final = EC_V_UNSUPPORTED;
        else if ((rc = replay_start(r)) == 0)
            replay_grade(r, replay_passes(r));
        /* Reported: every judged run, and a server that would not start. */
        if (rc == 0 || r->harness_error[0])
            ec__report(r);
        if (rc == 0)
            rc = ec_verdict_exit(r->final);
    }
    ec__run_free(r);
    return rc;
}

void ec__run_free(struct run *r)
{
    for (size_t i = 0; i < r->npasses; i++)
        if (r->passes[i].run)
            ec__pass_free(&r->passes[i]);
    if (r->have_srv) {
        ec_server_stop(&r->srv, 0);
        ec_server_free(&r->srv);
    }
    ec__profile_free(r);
    ec_fixture_free(&r->fx);
    free(r);
}
