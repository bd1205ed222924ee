/* uring.c - posix-uring: io_uring completions, the analogue of Overlapped I/O and IOCP.
 *
 * API: liburing; IORING_OP_ACCEPT, IORING_OP_RECV and IORING_OP_SEND are submitted,
 * and io_uring_submit_and_wait blocks until one completes. Completion semantics: the CQE
 * brings the result (res = bytes, 0 on recv = EOF, -errno) and the user_data of the
 * request. As textbook 08-01 (IOCP TCPServer) puts the WSAOVERLAPPED first in
 * SOCKETINFO and casts the completed OVERLAPPED back, struct op is the first member
 * of struct conn and user_data points to it. One operation is outstanding per client,
 * recv XOR send, so a record is freed only when nothing of it is in flight. Unlike an
 * overlapped WSASend, a SEND to a peer that does not read completes short (notes 4,
 * L11): the remainder is submitted again. Limits exposed: RLIMIT_NOFILE (EMFILE from
 * the accept is met with a reserve descriptor or a pause, never a resubmit loop) and
 * the kernel's support: when io_uring is missing or forbidden, the server exits 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "ec_server.h"

/* Whether io_uring can run here (defined with the ring set-up it tries). */
static int probe_io_uring(char *why, size_t len);

const struct ec_model ec_model = {
    .id = "posix-uring",
    .summary =
        "io_uring completions (the Overlapped/IOCP analogue): accept, recv and send are\n"
        "submitted and their CQEs lead back to the client through user_data. Short sends are\n"
        "resubmitted. Bounded by RLIMIT_NOFILE; exits 77 where io_uring is unavailable.",
    .default_workers = 0,
    .probe = probe_io_uring,
};

#define RING_ENTRIES 256

enum op_kind {
    OP_ACCEPT, /* the listener's accept; struct acceptor */
    OP_CONN,   /* a client's recv or send; struct conn, its state says which */
    OP_HANGUP, /* a poll for the listener's hang-up while accepting is paused */
    OP_CANCEL  /* a cancel request at shutdown */
};

/* The per-operation context: the textbook's WSAOVERLAPPED. */
struct op {
    enum op_kind kind;
};

enum conn_state {
    CONN_RECEIVING, /* a recv into echo.rbuf is outstanding; nothing is owed */
    CONN_SENDING    /* a send of the pending echo is outstanding; no recv until all is sent */
};

/* One client: SOCKETINFO{overlapped, sock, buf, recvbytes, sendbytes}. */
struct conn {
    struct op op; /* first member: user_data -> struct op -> struct conn */
    ec_sock_t sock;
    struct ec_echo echo;
    enum conn_state state;
    struct conn *prev, *next; /* every live client, for --max-clients and shutdown */
};

/* The listener's one outstanding accept and the address it fills in. */
struct acceptor {
    struct op op;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int refusing; /* the spare was given up: close whoever this accept brings */
    int paused;   /* out of descriptors and no spare: resubmit when a client leaves */
    struct op hup_op;
    int watching; /* a hang-up poll is in flight: the stop is seen even while paused */
};

struct server {
    const struct ec_server_opts *o;
    struct io_uring ring;
    ec_sock_t listener;
    struct acceptor acc;
    struct op cancel_op;
    int spare; /* reserve descriptor, given up to refuse a client on EMFILE */
    int inflight;
    struct conn *conns;
    int nconns;
};

static struct io_uring_sqe *get_sqe(struct server *s, struct op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL) { /* the submission queue is full: hand it to the kernel */
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    if (sqe != NULL) {
        io_uring_sqe_set_data(sqe, op);
        s->inflight++;
    }
    return sqe;
}

static void submit_accept(struct server *s)
{
    struct io_uring_sqe *sqe = get_sqe(s, &s->acc.op);
    if (sqe == NULL)
        return;
    s->acc.addrlen = sizeof s->acc.addr;
    io_uring_prep_accept(sqe, s->listener, (struct sockaddr *)&s->acc.addr, &s->acc.addrlen, 0);
}

/* Posts the next operation of c: a send of what is pending, else a recv. */
static int conn_submit(struct server *s, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(s, &c->op);
    if (sqe == NULL)
        return -EC_ENOMEM;
    const unsigned char *p;
    size_t n = ec_echo_pending(&c->echo, &p);
    if (n > 0) {
        c->state = CONN_SENDING;
        io_uring_prep_send(sqe, c->sock, p, n, MSG_NOSIGNAL);
    } else {
        c->state = CONN_RECEIVING;
        io_uring_prep_recv(sqe, c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    }
    return 0;
}

/* Frees c; only called from c's own completion, so nothing of it is in flight. */
static void conn_close(struct server *s, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    ec_echo_free(&c->echo);
    free(c);
    if (s->spare < 0)
        s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->acc.paused && s->spare >= 0) {
        s->acc.paused = 0;
        submit_accept(s);
    }
}

/* A recv or send of c completed with res (bytes, or -errno), as GetQueuedCompletionStatus
 * hands 08-01 the byte count; the state says which of the two it was. */
static void conn_on_complete(struct server *s, struct conn *c, int res)
{
    if (res < 0) {
        conn_close(s, c, ec_err_from_os(-res)); /* -ECONNRESET: reset; -ECANCELED too */
        return;
    }
    if (res == 0) {
        /* recv: the 0-byte completion is an orderly close, and nothing is owed. */
        conn_close(s, c, c->state == CONN_RECEIVING ? 0 : -EC_ECLOSED);
        return;
    }
    if (c->state == CONN_RECEIVING) {
        int rc = ec_echo_received(&c->echo, NULL, (size_t)res);
        if (rc < 0) {
            conn_close(s, c, rc);
            return;
        }
    } else {
        ec_echo_sent(&c->echo, (size_t)res); /* maybe short: the rest goes out next */
    }
    if (conn_submit(s, c) < 0)
        conn_close(s, c, -EC_ENOMEM);
}

static void conn_admit(struct server *s, ec_sock_t sock, const char *peer)
{
    struct conn *c = NULL;
    if (s->o->max_clients > 0 && s->nconns >= s->o->max_clients) {
        ec_refuse(sock, peer, "max-clients");
        return;
    }
    if ((c = calloc(1, sizeof *c)) == NULL ||
        ec_echo_init(&c->echo, peer, &s->o->framing, s->o->bufsize) < 0) {
        ec_refuse(sock, peer, "no-memory");
        if (c != NULL)
            ec_echo_free(&c->echo);
        free(c);
        return;
    }
    c->op.kind = OP_CONN;
    c->sock = sock;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    ec_log_accept(peer);
    if (conn_submit(s, c) < 0)
        conn_close(s, c, -EC_ENOMEM);
}

/* The accept completed. Returns 0 to go on, or 1 when the listener failed. */
static int on_accept(struct server *s, int res)
{
    char peer[EC_ADDRSTRLEN];
    if (res >= 0) {
        ec_addr_format((const struct sockaddr *)&s->acc.addr, peer, sizeof peer);
        if (s->acc.refusing) {
            /* This accept was armed with the spare given up. accept(2) takes its
             * descriptor before a client comes, so clients may have left since: refuse
             * only if the spare cannot be taken back next to the new client. */
            s->acc.refusing = 0;
            s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (s->spare < 0) {
                ec_refuse(res, peer, "no-descriptors");
                s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
            } else {
                conn_admit(s, res, peer);
            }
        } else {
            conn_admit(s, res, peer);
        }
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        /* Resubmitting at once would fail again and again: free the spare so the
         * next accept succeeds and can be closed, or wait for a client to leave. */
        if (s->spare >= 0 && !s->acc.refusing) {
            close(s->spare);
            s->spare = -1;
            s->acc.refusing = 1;
        } else {
            s->acc.refusing = 0;
            s->acc.paused = 1;
            struct io_uring_sqe *sqe = s->acc.watching ? NULL : get_sqe(s, &s->acc.hup_op);
            if (sqe != NULL) { /* no events asked: POLLHUP and POLLERR always count */
                io_uring_prep_poll_add(sqe, s->listener, 0);
                s->acc.watching = 1;
            }
            return 0;
        }
    } else if (ec_server_stopping() || res == -EINVAL || res == -EBADF || res == -ENOTSOCK) {
        return 1; /* not listening any more */
    } /* else aborted, canceled, or a network error accept(2) says to treat like EAGAIN */
    submit_accept(s);
    return 0;
}

/* Cancels what is in flight and waits (bounded) for every completion, so that no
 * buffer is freed while the kernel may still write into it. */
static void drain_and_free(struct server *s)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {1, 0};
    struct io_uring_sqe *sqe = get_sqe(s, &s->cancel_op);
    if (sqe != NULL) /* IORING_ASYNC_CANCEL_ANY: every request of the ring (Linux 5.19) */
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_submit(&s->ring);
    while (s->inflight > 0 && io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts) == 0) {
        io_uring_cqe_seen(&s->ring, cqe);
        s->inflight--;
    }
    while (s->conns) {
        struct conn *c = s->conns;
        s->conns = c->next;
        ec_sock_close(c->sock);
        if (s->inflight == 0) { /* else the kernel may still hold the buffers: leak them */
            ec_echo_free(&c->echo);
            free(c);
        }
    }
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct server s = {.o = o, .listener = listener};
    struct io_uring_cqe *cqe;
    int rc = 1;

    int r = io_uring_queue_init(RING_ENTRIES, &s.ring, 0);
    if (r < 0) { /* the probe passed, so this is a lack of memory (RLIMIT_MEMLOCK...) */
        ec_warn("io_uring_queue_init failed: %s", ec_err_name(ec_err_from_os(-r)));
        return 1;
    }
    /* A nonblocking listener would make IORING_OP_ACCEPT fail with -EAGAIN instead of
     * waiting (io_uring honours O_NONBLOCK), and resubmitting that would spin. */
    ec_sock_set_nonblocking(listener, 0);
    s.acc.op.kind = OP_ACCEPT;
    s.acc.hup_op.kind = OP_HANGUP;
    s.cancel_op.kind = OP_CANCEL;
    s.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    submit_accept(&s);
    for (;;) {
        /* Submits what the handlers queued and waits for a completion in one
         * io_uring_enter (a submit, then a wait, took two per round trip); it blocks,
         * so idle costs nothing. */
        r = io_uring_submit_and_wait(&s.ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            ec_warn("io_uring_submit_and_wait failed: %s", ec_err_name(ec_err_from_os(-r)));
            break;
        }
        if (ec_server_stopping()) {
            rc = 0;
            break;
        }
        /* Every completion ready now; handlers queue new requests, sent next round. */
        while (io_uring_peek_cqe(&s.ring, &cqe) == 0) {
            struct op *op = io_uring_cqe_get_data(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&s.ring, cqe);
            s.inflight--;
            if (op->kind == OP_CONN) {
                conn_on_complete(&s, (struct conn *)op, res);
            } else if (op->kind == OP_HANGUP) {
                s.acc.watching = 0; /* the stop shut the listener down: seen above */
            } else if (op->kind == OP_ACCEPT && on_accept(&s, res)) {
                rc = ec_server_stopping() ? 0 : 1;
                goto out;
            }
        }
    }
out:
    drain_and_free(&s);
    io_uring_queue_exit(&s.ring);
    if (s.spare >= 0)
        close(s.spare);
    return rc;
}

/* The model's probe (contract: ec_server.h): sets up and tears down a tiny ring, so
 * that a kernel without io_uring (ENOSYS) or one that forbids it (EPERM, EACCES:
 * kernel.io_uring_disabled, seccomp in containers) is reported before the server
 * listens, and the run is skipped (exit 77) rather than failed. */
static int probe_io_uring(char *why, size_t len)
{
    struct io_uring ring;
    int r = io_uring_queue_init(2, &ring, 0);
    if (r == 0) {
        io_uring_queue_exit(&ring);
        return 0;
    }
    snprintf(why, len, "io_uring is unavailable (io_uring_setup: %s)",
             r == -ENOSYS                  ? "not implemented by this kernel"
             : r == -EPERM || r == -EACCES ? "not permitted: kernel.io_uring_disabled or seccomp"
                                           : strerror(-r));
    return 1;
}
