/* overlapped-routine.c - win32-overlapped-routine: the textbook's overlapped echo
 * server with completion routines (example 07-02).
 *
 * API: WSARecv/WSASend name a completion routine; Windows queues it as an APC to the
 * thread that started the operation and runs it only while that thread sits in an
 * alertable wait (WaitForSingleObjectEx with bAlertable TRUE), which then returns
 * WAIT_IO_COMPLETION and must be repeated (notes 1.8). An operation that completes at
 * once still queues its routine. The routine gets the WSAOVERLAPPED address, which is the
 * first member of SOCKETINFO, hence the record. One operation per client is outstanding.
 * Limit: none of the API's own (no 64-handle array); --max-clients refuses beyond N.
 * Textbook bugs fixed: a WSARecv that fails at once (a client that reset before its first
 * recv, on Windows) made the worker `return`, and with the only alertable thread gone
 * all I/O stopped (B10): now it closes that client only; the hand-off of the accepted
 * socket through one global and one auto-reset event lost a client when two connected
 * before the worker woke: a second event (hReadEvent) now says the slot is free again;
 * a routine that starts the next operation itself chains a flooding client's routines
 * inside one alertable wait, which then does not return while the client sends, so no
 * new client is picked up: the chain is now bounded (ROUTINE_BATCH routines per wait,
 * the worker starts the rest) and the worker looks at hWriteEvent after every batch; accept errors
 * never end the server (B3); a short send completion sends the rest.
 */
#include <process.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

#ifndef _WIN32
#error "win32-overlapped-routine is a Winsock program: build it with MinGW-w64 or MSVC"
#endif

/* How long the stopping worker stays alertable for the aborted operations' routines,
 * which free the records those operations write into. */
#define ABORT_WAIT_MS 2000
/* How many routines of one alertable wait start their client's next operation
 * themselves; the rest wait for the worker (see completion_routine). */
#define ROUTINE_BATCH 64
/* How long ec_serve waits for the worker to end after telling it to stop. */
#define JOIN_WAIT_MS 10000
/* How long ec_serve waits for the worker to begin running before it accepts. */
#define START_WAIT_MS 10000

const struct ec_model ec_model = {
    .id = "win32-overlapped-routine",
    .summary =
        "Overlapped WSARecv/WSASend with completion routines, run as APCs while the worker\n"
        "thread waits alertably (WaitForSingleObjectEx) (textbook 07-02).\n"
        "Limit: none of its own; one alertable thread does all the I/O.",
    .default_workers = 0,
};

/* What the one outstanding operation of a client is. */
enum conn_op {
    OP_RECV, /* a WSARecv into echo.rbuf: the echo is idle */
    OP_SEND  /* a WSASend of the pending echo */
};

/* The textbook's SOCKETINFO. */
struct conn {
    WSAOVERLAPPED overlapped; /* first: the routine casts its address back to the record */
    ec_sock_t sock;           /* EC_INVALID_SOCK once closed by a stop */
    struct ec_echo echo;      /* buf, recvbytes, sendbytes, plus framing */
    WSABUF wsabuf;
    enum conn_op op;
    int pending;              /* an operation is outstanding: its routine will run */
    struct conn *prev, *next; /* the live clients, so that a stop can close them */
    struct conn *ready_next;  /* on the ready list: its routine ran, next op to start */
};

/* The textbook's globals, gathered. The routines get no context but the WSAOVERLAPPED,
 * so this is file-static. conns is touched only by the worker thread, where every
 * routine runs. */
static struct server {
    const struct ec_server_opts *o;
    HANDLE read_event;               /* hReadEvent (auto-reset): the hand-off slot is free */
    HANDLE write_event;              /* hWriteEvent (auto-reset): the slot holds a new client */
    ec_sock_t client_sock;           /* the hand-off slot (clientSock) ... */
    char client_peer[EC_ADDRSTRLEN]; /* ... and its peer text */
    volatile LONG live;              /* clients handed to the worker and not closed yet */
    volatile LONG stop;              /* set by ec_serve before the last hand-off */
    struct conn *conns;
    struct conn *ready, **ready_tail; /* FIFO of clients whose next operation is due */
    int batch;                        /* routines run since the last wait returned */
    HANDLE started;                   /* set by the worker as it begins to run */
} sv;

static void CALLBACK completion_routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);

/* Starts the client's next operation: the send of the pending echo if there is one,
 * else a recv. Returns 0 (the routine will run), or the negative class of a synchronous
 * failure (no routine will run). */
static int conn_submit(struct conn *c)
{
    const unsigned char *p;
    size_t n = ec_echo_pending(&c->echo, &p);
    int rc;

    memset(&c->overlapped, 0, sizeof c->overlapped);
    if (n > 0) {
        c->op = OP_SEND;
        c->wsabuf.buf = (char *)p; /* WSABUF serves both ways; WSASend only reads it */
        c->wsabuf.len = (ULONG)n;
        rc = WSASend(c->sock, &c->wsabuf, 1, NULL, 0, &c->overlapped, completion_routine);
    } else {
        DWORD flags = 0;
        c->op = OP_RECV;
        c->wsabuf.buf = (char *)c->echo.rbuf;
        c->wsabuf.len = (ULONG)c->echo.bufsize;
        rc = WSARecv(c->sock, &c->wsabuf, 1, NULL, &flags, &c->overlapped, completion_routine);
    }
    if (rc == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING)
        return ec_sock_error();
    c->pending = 1;
    return 0;
}

/* Unlinks and frees c (its socket is closed already). */
static void conn_free(struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        sv.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ec_echo_free(&c->echo);
    free(c);
    InterlockedDecrement(&sv.live);
}

/* Closes a client whose operation has completed or failed to start. reason: 0 = eof,
 * or a negative class. */
static void conn_close(struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    conn_free(c);
}

/* The completion routine (CompletionRoutine): runs in the worker thread during its
 * alertable wait, takes the result and starts the next operation, as the textbook's
 * does, for the first ROUTINE_BATCH routines of a wait; later ones queue the client on
 * the ready list, which the worker drains after the wait. Why: an operation that
 * completes at once queues its routine at once, and an alertable wait runs queued
 * routines back to back until none is left (the APC dispatcher tests for the next APC
 * before it returns), so with the textbook's unbounded chain a flooding client kept
 * the worker inside one wait for as long as it sent, and no new client was picked up
 * (measured under Wine 8.0: the fairness and slow-reader cases got no echo until the
 * flood ended). Deferring every routine instead cost about a quarter of the echo
 * throughput (4 MiB echo under Wine 8.0, medians of 6 runs: 1.4 against 1.9 MB/s). */
static void CALLBACK completion_routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    struct conn *c = (struct conn *)ov;
    int rc;

    (void)flags;
    c->pending = 0;
    if (c->sock == EC_INVALID_SOCK) {
        conn_free(c); /* aborted by the stop: the record is no longer written to */
        return;
    }
    if (error != 0) {
        conn_close(c, ec_err_from_os((int)error)); /* 10054 for a reset (W8 C1) */
        return;
    }
    if (c->op == OP_RECV) {
        /* 0 bytes: the peer's FIN. Nothing is pending (a recv is posted only when the
         * echo is idle), so every byte has been echoed and the close is clean. */
        if (bytes == 0) {
            conn_close(c, 0);
            return;
        }
        rc = ec_echo_received(&c->echo, NULL, bytes);
        if (rc < 0) {
            conn_close(c, rc);
            return;
        }
    } else {
        ec_echo_sent(&c->echo, bytes); /* short: conn_submit sends the rest */
    }
    if (++sv.batch <= ROUTINE_BATCH) {
        rc = conn_submit(c);
        if (rc < 0)
            conn_close(c, rc); /* B10: that client only */
        return;
    }
    c->ready_next = NULL;
    *sv.ready_tail = c;
    sv.ready_tail = &c->ready_next;
}

/* Starts the next operation of every client on the ready list, in the order their
 * routines ran. A submission that fails at once closes that client only (B10). */
static void submit_ready(void)
{
    struct conn *c = sv.ready;

    sv.ready = NULL;
    sv.ready_tail = &sv.ready;
    while (c != NULL) {
        struct conn *next = c->ready_next;
        int rc = conn_submit(c);
        if (rc < 0)
            conn_close(c, rc);
        c = next;
    }
}

/* Sets up a client taken from the hand-off slot and posts its first WSARecv from this
 * thread, whose alertable waits will run the routines. A failure closes that client
 * only (B10). */
static void conn_start(ec_sock_t s, const char *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    int rc = c == NULL ? -EC_ENOMEM : ec_echo_init(&c->echo, peer, &sv.o->framing, sv.o->bufsize);

    if (rc < 0) {
        free(c);
        ec_log_refuse(peer, ec_err_name(rc));
        ec_sock_close(s);
        InterlockedDecrement(&sv.live);
        return;
    }
    c->sock = s;
    c->next = sv.conns;
    if (sv.conns != NULL)
        sv.conns->prev = c;
    sv.conns = c;
    ec_log_accept(peer);
    rc = conn_submit(c);
    if (rc < 0)
        conn_close(c, rc);
}

/* The worker thread (WorkerThread): waits alertably for the next client, running the
 * completion routines meanwhile, and starts the operations they made due. On a stop
 * it closes every client and stays alertable until the routines of the aborted
 * operations have freed their records. */
static unsigned int WINAPI worker_thread(void *arg)
{
    int64_t deadline;
    struct conn *c, *next;

    (void)arg;
    SetEvent(sv.started);
    for (;;) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        DWORD r = WaitForSingleObjectEx(sv.write_event, INFINITE, TRUE);

        /* The wait is never a blocking Winsock call, so the routines it runs may call
         * closesocket and WSARecv themselves (a Winsock call inside an APC that
         * interrupted another blocking Winsock call is undefined [DOC]).
         * WAIT_IO_COMPLETION means routines ran, and says nothing of the event: an
         * alertable wait runs queued APCs before it looks at the object. So after each
         * batch of routines a non-alertable look at the event gives the hand-off its
         * turn. */
        sv.batch = 0;
        submit_ready();
        if (r == WAIT_IO_COMPLETION)
            r = WaitForSingleObject(sv.write_event, 0);
        if (r == WAIT_TIMEOUT)
            continue;
        if (r != WAIT_OBJECT_0) {
            ec_warn("WaitForSingleObjectEx failed (%lu)", (unsigned long)GetLastError());
            break;
        }
        s = sv.client_sock;
        memcpy(peer, sv.client_peer, sizeof peer);
        SetEvent(sv.read_event);
        if (sv.stop)
            break;
        conn_start(s, peer);
    }

    /* A client on the ready list has no operation outstanding: free it now. */
    sv.ready = NULL;
    sv.ready_tail = &sv.ready;
    for (c = sv.conns; c != NULL; c = next) {
        next = c->next;
        ec_sock_close(c->sock);
        c->sock = EC_INVALID_SOCK;
        if (!c->pending)
            conn_free(c);
    }
    deadline = ec_now_ms() + ABORT_WAIT_MS;
    while (sv.conns != NULL) {
        int64_t left = deadline - ec_now_ms();
        if (left <= 0)
            break;
        SleepEx((DWORD)left, TRUE);
    }
    return 0;
}

/* Serves echo with completion routines until ec_server_stopping(): the calling thread is
 * the textbook's main loop (blocking accept, then the hand-off to the worker). Returns 0
 * after a stop, 1 on a fatal error. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    HANDLE worker, handoff[2];
    int status = 0;

    sv.o = o;
    sv.ready_tail = &sv.ready;
    sv.read_event = CreateEvent(NULL, FALSE, TRUE, NULL);
    sv.write_event = CreateEvent(NULL, FALSE, FALSE, NULL);
    sv.started = CreateEvent(NULL, TRUE, FALSE, NULL);
    worker = sv.read_event == NULL || sv.write_event == NULL || sv.started == NULL
                 ? NULL
                 : (HANDLE)_beginthreadex(NULL, 0, worker_thread, NULL, 0, NULL);
    if (worker == NULL) {
        ec_warn("cannot start the worker thread (%lu)", (unsigned long)GetLastError());
        if (sv.read_event != NULL)
            CloseHandle(sv.read_event);
        if (sv.write_event != NULL)
            CloseHandle(sv.write_event);
        if (sv.started != NULL)
            CloseHandle(sv.started);
        return 1;
    }
    /* Accept once the worker runs: under Wine a thread's first run commits about a
     * MiB of the process (its stack, its TEB; see iocp.c), which a client served
     * before it, like a memory case's warm-up, would see counted as growth. */
    if (WaitForSingleObject(sv.started, START_WAIT_MS) != WAIT_OBJECT_0)
        ec_warn("the worker thread did not begin within %d ms", START_WAIT_MS);
    /* Waiting for the free slot also watches the worker, so a worker that had to give up
     * ends the server instead of leaving main waiting forever. */
    handoff[0] = sv.read_event;
    handoff[1] = worker;

    for (;;) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        int rc = ec_accept(listener, &s, peer);

        if (rc < 0) {
            if (ec_server_stopping())
                break;
            /* B3: one failed accept ends only itself. */
            ec_warn("accept failed: %s (%d)", ec_err_name(rc), ec_sock_oserror());
            continue;
        }
        if (o->max_clients > 0 && sv.live >= o->max_clients) {
            ec_log_refuse(peer, "max-clients");
            ec_sock_close(s);
            continue;
        }
        if (WaitForMultipleObjects(2, handoff, FALSE, INFINITE) != WAIT_OBJECT_0) {
            ec_sock_close(s);
            status = 1;
            break;
        }
        sv.client_sock = s;
        memcpy(sv.client_peer, peer, sizeof peer);
        InterlockedIncrement(&sv.live);
        SetEvent(sv.write_event);
    }

    if (status == 0 && WaitForMultipleObjects(2, handoff, FALSE, INFINITE) == WAIT_OBJECT_0) {
        sv.client_sock = EC_INVALID_SOCK;
        InterlockedExchange(&sv.stop, 1);
        SetEvent(sv.write_event);
    }
    if (WaitForSingleObject(worker, JOIN_WAIT_MS) != WAIT_OBJECT_0) {
        ec_warn("the worker thread did not stop within %d ms", JOIN_WAIT_MS);
        return 1; /* it may still use sv: leave everything to the process exit */
    }
    CloseHandle(worker);
    CloseHandle(sv.started);
    CloseHandle(sv.read_event);
    CloseHandle(sv.write_event);
    return status;
}
