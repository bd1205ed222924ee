/* sigio.c - posix-sigio: signal-driven I/O, the analogue of WSAAsyncSelect's messages.
 *
 * API: fcntl(F_SETOWN_EX, F_SETSIG, O_ASYNC) on every socket, the listener included;
 * the real-time signal is blocked and read from a signalfd, so each notice is a queued
 * message {fd, band}, as WM_SOCKET carries {wParam = socket, lParam = event} in textbook
 * 05-01 (WSAAsyncSelectTCPServer). Semantics (notes 4, probe sigio2): one signal per
 * arrival, POLL_OUT only after EAGAIN, no initial signal for data already queued when
 * O_ASYNC is set, and a signal still queued for a closed descriptor, possibly reused
 * by the next accept (the stale messages of notes 1.5 rule 5). So notices are hints:
 * the fd is looked up (GetSocketInfo), the I/O is tried, and would-block is fine.
 * Limit exposed: RLIMIT_SIGPENDING. When the queue is full the kernel drops the
 * notice and raises plain SIGIO instead (fcntl(2)); SIGIO carries no fd, so the server
 * rescans every socket. Reads delayed by a pending echo are resumed by the server once
 * the echo is out (recvdelayed); work cut short by the per-notice budget goes on our
 * own queue of notices, the textbook's PostMessage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-sigio",
    .summary =
        "Signal-driven I/O (the WSAAsyncSelect analogue): O_ASYNC + F_SETSIG real-time signals\n"
        "read from a signalfd as queued messages; stale ones are mere hints. Bounded by\n"
        "RLIMIT_SIGPENDING: on overflow plain SIGIO comes and every socket is rescanned.",
    .default_workers = 0,
};

#define SIG_NOTICE    (SIGRTMIN + 1)
#define READ_BUDGET   16                 /* reads per notice before the socket is re-posted */
#define ACCEPT_BUDGET 64                 /* accepts per listener notice */
#define POST_MAX      1024               /* our own message queue; when full, rescan everything */
#define ANY_BAND      (POLLIN | POLLOUT) /* a notice of our own: try both directions */

enum conn_state {
    CONN_READING, /* nothing owed, the last recv would block: the next POLL_IN resumes */
    CONN_WRITING  /* echo pending, the last send would block: the next POLL_OUT resumes;
                     reads are delayed (recvdelayed) until the echo is out */
};

/* One client: SOCKETINFO{sock, buf, recvbytes, sendbytes, recvdelayed}. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo;
    enum conn_state state;
};

struct server {
    const struct ec_server_opts *o;
    ec_sock_t listener;
    int sfd;                /* signalfd: the message queue */
    struct ec_acceptor acc; /* accept with a reserve descriptor for EMFILE */
    int paused;             /* out of descriptors: accepting waits until a client leaves */
    struct conn **by_fd;    /* GetSocketInfo(wParam): the record of each descriptor */
    int cap, nconns;
    int posted[POST_MAX]; /* PostMessage: descriptors to serve again without a signal */
    int post_head, post_count;
    int rescan; /* SIGIO (queue overflow) or our queue full: serve every socket */
};

static void post(struct server *s, int fd)
{
    if (s->post_count == POST_MAX) {
        s->rescan = 1;
        return;
    }
    s->posted[(s->post_head + s->post_count++) % POST_MAX] = fd;
}

/* Routes the signal of fd to this thread (blocked, so it waits in the queue). */
static int arm_async(int fd)
{
    struct f_owner_ex owner = {F_OWNER_TID, gettid()};
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETOWN_EX, &owner) < 0 || fcntl(fd, F_SETSIG, SIG_NOTICE) < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_ASYNC | O_NONBLOCK);
}

static void conn_close(struct server *s, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    s->by_fd[c->sock] = NULL; /* signals still queued for this fd become stale */
    ec_sock_close(c->sock);
    s->nconns--;
    ec_echo_free(&c->echo);
    free(c);
    if (ec_acceptor_release(&s->acc) && s->paused) {
        s->paused = 0;
        post(s, s->listener); /* the waiting clients raised their signals long ago */
    }
}

/* Serves one notice of band (POLLIN, POLLOUT, ...; ANY_BAND when unknown): send until
 * all is out or would-block, then read until would-block or a short read, echoing as
 * it goes. A read notice while the echo waits for room is 05-01's FD_READ with
 * recvbytes > 0: reads stay delayed, and POLL_OUT will bring us back. */
static void conn_serve(struct server *s, struct conn *c, unsigned band)
{
    int budget = READ_BUDGET;
    int drained = 0; /* the last recv was short: the receive queue is empty */
    if (c->state == CONN_WRITING && !(band & (POLLOUT | POLLERR | POLLHUP)))
        return;
    /* Coming back from delayed reads, the notices spent meanwhile may include the
     * FIN's; a rescan or a notice of our own (ANY_BAND) may stand for signals the
     * full queue dropped. Then only a recv that says would-block or 0 ends the reading. */
    int trust_short = c->state == CONN_READING && band != ANY_BAND;
    for (;;) {
        int rc = ec_echo_flush_until_blocked(&c->echo, c->sock);
        if (rc == -EC_EWOULDBLOCK) {
            c->state = CONN_WRITING; /* POLL_OUT will come once room frees up */
            return;
        }
        if (rc < 0) {
            conn_close(s, c, rc);
            return;
        }
        /* Echo done. Bytes that arrived while reads were delayed raised their signal
         * already, maybe consumed as a no-op: read now (recvdelayed, PostMessage). */
        c->state = CONN_READING;
        /* A recv shorter than asked emptied the queue (epoll(7) Q&A 9 says so of any
         * stream socket); every later arrival, the FIN too (tcp_fin), queues a signal
         * of its own, so the recv that would only say EAGAIN is spared. Not after
         * delayed reads (trust_short): a FIN's signal spent while the echo waited for
         * room will not come again (a valgrind run caught that: echo complete, no EOF). */
        if (drained)
            return;
        if (budget-- == 0) {
            post(s, c->sock);
            return;
        }
        ptrdiff_t r = ec_echo_recv(&c->echo, c->sock);
        if (r == -EC_EWOULDBLOCK)
            return;
        if (r == -EC_EINTR)
            continue;
        if (r <= 0) {
            conn_close(s, c, (int)r); /* FIN (POLL_IN, read 0) or RST (POLL_ERR) */
            return;
        }
        drained = trust_short && (size_t)r < c->echo.bufsize;
    }
}

/* Makes room in the fd-indexed table for descriptor fd. Returns 0 or -1. */
static int table_grow(struct server *s, int fd)
{
    int cap = s->cap ? s->cap : 64;
    while (cap <= fd)
        cap *= 2;
    struct conn **t = realloc(s->by_fd, (size_t)cap * sizeof *t);
    if (t == NULL)
        return -1;
    for (int i = s->cap; i < cap; i++)
        t[i] = NULL;
    s->by_fd = t;
    s->cap = cap;
    return 0;
}

/* Takes a new client, arms its signal and reads at once: Linux sends no signal for
 * bytes that came before O_ASYNC was set (probe sigio2). */
static void conn_admit(struct server *s, ec_sock_t sock, const char *peer)
{
    const char *why = "max-clients";
    struct conn *c = NULL;
    if (s->o->max_clients > 0 && s->nconns >= s->o->max_clients)
        goto refuse;
    why = "no-memory";
    if ((sock >= s->cap && table_grow(s, sock) < 0) || (c = calloc(1, sizeof *c)) == NULL ||
        ec_echo_init(&c->echo, peer, &s->o->framing, s->o->bufsize) < 0)
        goto refuse;
    why = "async-setup";
    if (arm_async(sock) < 0)
        goto refuse;
    c->sock = sock;
    c->state = CONN_READING;
    s->by_fd[sock] = c;
    s->nconns++;
    ec_log_accept(peer);
    conn_serve(s, c, ANY_BAND);
    return;
refuse:
    ec_refuse(sock, peer, why);
    if (c != NULL)
        ec_echo_free(&c->echo);
    free(c);
}

/* Accepts until would-block, at most ACCEPT_BUDGET. Out of descriptors the backlog
 * must still drain, as no new signal comes for clients already waiting: the acceptor
 * refuses them with its reserve descriptor, and without one accepting waits until a
 * client leaves. Returns 1 when the listener failed. */
static int on_listener(struct server *s)
{
    if (s->paused)
        return 0;
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        ec_sock_t sock;
        char peer[EC_ADDRSTRLEN];
        int r = ec_acceptor_accept(&s->acc, &sock, peer);
        if (r == 0) {
            conn_admit(s, sock, peer);
        } else if (r == -EC_EWOULDBLOCK || r == -EC_ENOMEM) {
            return 0;
        } else if (r == -EC_EMFILE) {
            s->paused = 1; /* conn_close posts the listener again */
            return 0;
        } else if (r == -EC_EINVAL) { /* not listening any more: the stop shut it down */
            return 1;
        }
        /* Else a client refused for want of descriptors, aborted, or a network error
         * that accept(2) says to treat like EAGAIN. */
    }
    post(s, s->listener);
    return 0;
}

/* One message: the listener, a live client, or a stale fd (ignored). */
static int dispatch(struct server *s, int fd, unsigned band)
{
    if (fd == s->listener)
        return on_listener(s);
    if (fd >= 0 && fd < s->cap && s->by_fd[fd] != NULL)
        conn_serve(s, s->by_fd[fd], band); /* maybe a reused fd: harmless, a hint */
    return 0;
}

/* Drains the signalfd and our own queue. Returns 1 when the listener failed. */
static int pump_messages(struct server *s)
{
    struct signalfd_siginfo si[32];
    ssize_t n;
    while ((n = read(s->sfd, si, sizeof si)) > 0) {
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
            if ((int)si[i].ssi_signo == SIGIO)
                s->rescan = 1; /* the queue overflowed: some notices were lost */
            else if (dispatch(s, (int)si[i].ssi_fd, (unsigned)si[i].ssi_band))
                return 1;
        }
    }
    for (int k = s->post_count; k > 0 && s->post_count > 0; k--) {
        int fd = s->posted[s->post_head];
        s->post_head = (s->post_head + 1) % POST_MAX;
        s->post_count--;
        if (dispatch(s, fd, ANY_BAND))
            return 1;
    }
    if (s->rescan) {
        s->rescan = 0;
        if (dispatch(s, s->listener, ANY_BAND))
            return 1;
        for (int fd = 0; fd < s->cap; fd++)
            if (fd != s->listener)
                dispatch(s, fd, ANY_BAND);
    }
    return 0;
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server s = {.o = o, .listener = listener, .sfd = -1};
    sigset_t set;
    int rc = 1;

    ec_acceptor_init(&s.acc, listener);
    sigemptyset(&set);
    sigaddset(&set, SIG_NOTICE);
    sigaddset(&set, SIGIO);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (s.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 || arm_async(listener) < 0) {
        ec_warn("signal-driven I/O setup failed: %s", ec_err_name(ec_sock_error()));
        goto out;
    }
    post(&s, listener); /* clients that connected before O_ASYNC raised no signal */
    for (;;) {
        /* The listener is polled for nothing but its hang-up: the stop request shuts
         * it down, and a shutdown raises no signal. Idle means blocked here. */
        struct pollfd p[2] = {{s.sfd, POLLIN, 0}, {listener, 0, 0}};
        int n = poll(p, 2, s.post_count > 0 || s.rescan ? 0 : -1);
        if (n < 0 && errno != EINTR) {
            ec_warn("poll on the signalfd failed: %s", ec_err_name(ec_sock_error()));
            goto out;
        }
        if (ec_server_stopping()) {
            rc = 0;
            goto out;
        }
        if (pump_messages(&s) || (n > 0 && (p[1].revents & (POLLHUP | POLLERR)))) {
            rc = ec_server_stopping() ? 0 : 1;
            if (rc)
                ec_warn("the listener failed: %s", ec_err_name(ec_sock_error()));
            goto out;
        }
    }
out:
    for (int fd = 0; fd < s.cap; fd++) {
        if (s.by_fd[fd]) {
            ec_sock_close(fd);
            ec_echo_free(&s.by_fd[fd]->echo);
            free(s.by_fd[fd]);
        }
    }
    free(s.by_fd);
    if (s.sfd >= 0)
        close(s.sfd);
    ec_acceptor_close(&s.acc);
    return rc;
}
