/* overlapped-event.c - win32-overlapped-event: the textbook's overlapped echo server
 * with event completion (example 07-01).
 *
 * API: WSARecv/WSASend with a WSAOVERLAPPED whose hEvent is the client's event; a worker
 * thread waits on all events with WSAWaitForMultipleEvents and collects each result with
 * WSAGetOverlappedResult. Completion semantics (notes 1.7): an operation that completes
 * at once still signals its event, so results are taken only from the event; 0 bytes
 * received is the peer's FIN; a reset fails the pending operation with WSAECONNRESET.
 * Each client has one operation outstanding (a recv, or the send of its echo), so one
 * WSAOVERLAPPED per client is enough.
 * Limit: WSA_MAXIMUM_WAIT_EVENTS (64) events per wait; slot 0 is the "new client" event
 * that makes the worker wait again on the grown array, so 63 clients; the 64th is
 * accepted and refused (refuse reason=wait-events-limit).
 * Textbook bugs fixed: AddSocketInfo returned FALSE while holding the critical section,
 * deadlocking the worker after the 64th client (B7); the arrays were read outside the
 * lock, by the worker's wait and by main after AddSocketInfo (B8): here both threads touch
 * them only under the lock, and the worker waits on a copy of the events taken under it;
 * accept errors never end the server (B3); a short send completion sends the rest.
 */
#include <process.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

#ifndef _WIN32
#error "win32-overlapped-event is a Winsock program: build it with MinGW-w64 or MSVC"
#endif

/* How long the stopping worker waits for an aborted operation to land before it frees
 * the record that operation writes into. */
#define ABORT_WAIT_MS 2000
/* How long ec_serve waits for the worker to end after telling it to stop. */
#define JOIN_WAIT_MS 10000
/* How long ec_serve waits for the worker to begin running before it accepts. */
#define START_WAIT_MS 10000

const struct ec_model ec_model = {
    .id = "win32-overlapped-event",
    .summary =
        "Overlapped WSARecv/WSASend completed through events: a worker thread waits on them\n"
        "with WSAWaitForMultipleEvents, slot 0 being the new-client event (textbook 07-01).\n"
        "Limit: WSA_MAXIMUM_WAIT_EVENTS = 64 events, new-client event included: 63 clients.",
    .default_workers = 0,
};

/* What the one outstanding operation of a client is. */
enum conn_op {
    OP_RECV, /* a WSARecv into echo.rbuf: the echo is idle */
    OP_SEND  /* a WSASend of the pending echo */
};

/* The textbook's SOCKETINFO. */
struct conn {
    WSAOVERLAPPED overlapped; /* hEvent is this client's slot in events[] */
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes, plus framing */
    WSABUF wsabuf;
    enum conn_op op;
};

/* The textbook's globals, gathered. info[] and events[] are its parallel SocketInfoArray
 * and EventArray; both, and total, are touched only with cs held. */
struct server {
    CRITICAL_SECTION cs;
    const struct ec_server_opts *o;
    struct conn *info[WSA_MAXIMUM_WAIT_EVENTS]; /* info[0] is NULL: the new-client slot */
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    DWORD total;              /* nTotalSockets: used slots, slot 0 included */
    DWORD max_clients;        /* 63, or --max-clients if lower */
    const char *limit_reason; /* the refuse reason once max_clients are served */
    volatile LONG stop;       /* set by ec_serve before it signals events[0] */
    volatile LONG failed;     /* set by the worker when it had to give up */
    HANDLE started;           /* set by the worker as it begins to run */
};

/* Starts the client's next operation: the send of the pending echo if there is one,
 * else a recv. Returns 0 (pending or already complete: either way the event will be
 * signalled), or the negative class of a synchronous failure. */
static int conn_submit(struct conn *c)
{
    const unsigned char *p;
    size_t n = ec_echo_pending(&c->echo, &p);
    WSAEVENT ev = c->overlapped.hEvent;
    int rc;

    memset(&c->overlapped, 0, sizeof c->overlapped);
    c->overlapped.hEvent = ev;
    if (n > 0) {
        c->op = OP_SEND;
        c->wsabuf.buf = (char *)p; /* WSABUF serves both ways; WSASend only reads it */
        c->wsabuf.len = (ULONG)n;
        rc = WSASend(c->sock, &c->wsabuf, 1, NULL, 0, &c->overlapped, NULL);
    } else {
        DWORD flags = 0;
        c->op = OP_RECV;
        c->wsabuf.buf = (char *)c->echo.rbuf;
        c->wsabuf.len = (ULONG)c->echo.bufsize;
        rc = WSARecv(c->sock, &c->wsabuf, 1, NULL, &flags, &c->overlapped, NULL);
    }
    if (rc == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING)
        return ec_sock_error();
    return 0;
}

/* Closes the client in slot i and closes the gap (RemoveSocketInfo); cs is held.
 * reason: 0 = eof, or a negative class. stopping: the server stops, so no close line,
 * and the client's operation is still pending: the record is freed only once its abort
 * has landed (closesocket fails pending operations [DOC closesocket]). */
static void remove_socket_info(struct server *sv, DWORD i, int reason, int stopping)
{
    struct conn *c = sv->info[i];
    DWORD j;

    if (!stopping)
        ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    if (stopping)
        WaitForSingleObject(sv->events[i], ABORT_WAIT_MS);
    ec_echo_free(&c->echo);
    free(c);
    WSACloseEvent(sv->events[i]);
    for (j = i; j + 1 < sv->total; j++) {
        sv->info[j] = sv->info[j + 1];
        sv->events[j] = sv->events[j + 1];
    }
    sv->total--;
}

/* Adds an accepted client and posts its first WSARecv (AddSocketInfo plus main's first
 * WSARecv), all under cs and through the new record itself: the textbook released cs
 * first and then used SocketInfoArray[nTotalSockets-1], which the worker may have moved
 * meanwhile (B8). Returns 0 when the client is served (its accept line, and a close line
 * if the first recv failed, are logged), 1 when the limit is reached, or a negative class
 * when it could not be set up; in those two cases s is left open. */
static int add_socket_info(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c;
    WSAEVENT ev;
    int rc;

    EnterCriticalSection(&sv->cs);
    if (sv->total - 1 >= sv->max_clients) {
        LeaveCriticalSection(&sv->cs); /* B7: the textbook returned with cs held */
        return 1;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        LeaveCriticalSection(&sv->cs);
        return -EC_ENOMEM;
    }
    rc = ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize);
    ev = rc < 0 ? WSA_INVALID_EVENT : WSACreateEvent();
    if (ev == WSA_INVALID_EVENT) {
        if (rc == 0) {
            rc = ec_sock_error();
            ec_echo_free(&c->echo);
        }
        free(c);
        LeaveCriticalSection(&sv->cs);
        return rc;
    }
    c->sock = s;
    c->overlapped.hEvent = ev;
    sv->info[sv->total] = c;
    sv->events[sv->total] = ev;
    sv->total++;
    ec_log_accept(peer);
    rc = conn_submit(c);
    if (rc < 0)
        remove_socket_info(sv, sv->total - 1, rc, 0);
    LeaveCriticalSection(&sv->cs);
    return 0;
}

/* Takes the result of the operation that signalled slot i and starts the next one; cs is
 * held. Returns 1 when the slot was removed (the next client now sits in slot i), else 0. */
static int on_completion(struct server *sv, DWORD i)
{
    struct conn *c = sv->info[i];
    DWORD bytes, flags;
    int rc;

    WSAResetEvent(sv->events[i]);
    if (!WSAGetOverlappedResult(c->sock, &c->overlapped, &bytes, FALSE, &flags)) {
        int err = WSAGetLastError();
        if (err == WSA_IO_INCOMPLETE)
            return 0; /* not done after all: its completion will signal again */
        remove_socket_info(sv, i, ec_err_from_os(err), 0);
        return 1;
    }
    if (c->op == OP_RECV) {
        /* 0 bytes: the peer's FIN. Nothing is pending (a recv is posted only when the
         * echo is idle), so every byte has been echoed and the close is clean. */
        if (bytes == 0) {
            remove_socket_info(sv, i, 0, 0);
            return 1;
        }
        rc = ec_echo_received(&c->echo, NULL, bytes);
        if (rc < 0) {
            remove_socket_info(sv, i, rc, 0);
            return 1;
        }
    } else {
        ec_echo_sent(&c->echo, bytes); /* short: conn_submit sends the rest */
    }
    rc = conn_submit(c);
    if (rc < 0) {
        remove_socket_info(sv, i, rc, 0);
        return 1;
    }
    return 0;
}

/* The worker thread (WorkerThread): waits on a copy of the events taken under cs (the
 * handles it holds are closed only by this thread, so the copy stays valid), serves the
 * signalled slot, then gives every later signalled slot one turn too, so that a busy low
 * slot cannot starve the others (the textbook serves one slot per wait, lowest first). */
static unsigned int WINAPI worker_thread(void *arg)
{
    struct server *sv = arg;
    WSAEVENT snapshot[WSA_MAXIMUM_WAIT_EVENTS];

    SetEvent(sv->started);
    for (;;) {
        DWORD n, r, i;

        EnterCriticalSection(&sv->cs);
        n = sv->total;
        memcpy(snapshot, sv->events, n * sizeof snapshot[0]);
        LeaveCriticalSection(&sv->cs);

        r = WSAWaitForMultipleEvents(n, snapshot, FALSE, WSA_INFINITE, FALSE);
        if (r == WSA_WAIT_FAILED || r - WSA_WAIT_EVENT_0 >= n) {
            ec_warn("WSAWaitForMultipleEvents failed: %s", ec_err_name(ec_sock_error()));
            InterlockedExchange(&sv->failed, 1);
            break;
        }
        i = r - WSA_WAIT_EVENT_0;
        if (i == 0) {
            /* The new-client event: wait again on the grown array, or stop. */
            WSAResetEvent(snapshot[0]);
            if (sv->stop)
                break;
            continue;
        }
        EnterCriticalSection(&sv->cs);
        if (!on_completion(sv, i))
            i++;
        while (i < sv->total) {
            if (WSAWaitForMultipleEvents(1, &sv->events[i], FALSE, 0, FALSE) != WSA_WAIT_EVENT_0 ||
                !on_completion(sv, i))
                i++;
        }
        LeaveCriticalSection(&sv->cs);
    }

    EnterCriticalSection(&sv->cs);
    while (sv->total > 1)
        remove_socket_info(sv, sv->total - 1, 0, 1);
    LeaveCriticalSection(&sv->cs);
    return 0;
}

/* Serves echo with event-completed overlapped I/O until ec_server_stopping(): the
 * calling thread is the textbook's ListenThread (blocking accept, then AddSocketInfo and
 * a signal on slot 0), and one worker thread does all the I/O completion. Returns 0
 * after a stop, 1 on a fatal error. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    static struct server sv; /* 64 slots of two arrays: not for the stack */
    HANDLE worker;
    int status = 0;

    sv.o = o;
    sv.max_clients = WSA_MAXIMUM_WAIT_EVENTS - 1;
    sv.limit_reason = "wait-events-limit";
    if (o->max_clients > 0 && (DWORD)o->max_clients < sv.max_clients) {
        sv.max_clients = (DWORD)o->max_clients;
        sv.limit_reason = "max-clients";
    }
    sv.events[0] = WSACreateEvent();
    if (sv.events[0] == WSA_INVALID_EVENT) {
        ec_warn("WSACreateEvent failed: %s", ec_err_name(ec_sock_error()));
        return 1;
    }
    sv.info[0] = NULL;
    sv.total = 1;
    InitializeCriticalSection(&sv.cs);
    sv.started = CreateEvent(NULL, TRUE, FALSE, NULL);
    worker = sv.started == NULL ? NULL
                                : (HANDLE)_beginthreadex(NULL, 0, worker_thread, &sv, 0, NULL);
    if (worker == NULL) {
        ec_warn("cannot start the worker thread");
        if (sv.started != NULL)
            CloseHandle(sv.started);
        DeleteCriticalSection(&sv.cs);
        WSACloseEvent(sv.events[0]);
        return 1;
    }
    /* Accept once the worker runs: under Wine a thread's first run commits about a
     * MiB of the process (its stack, its TEB; see iocp.c), which a client served
     * before it, like a memory case's warm-up, would see counted as growth. */
    if (WaitForSingleObject(sv.started, START_WAIT_MS) != WAIT_OBJECT_0)
        ec_warn("the worker thread did not begin within %d ms", START_WAIT_MS);

    for (;;) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        int rc = ec_accept(listener, &s, peer);

        if (rc < 0) {
            if (ec_server_stopping())
                break;
            /* B3: one failed accept (a client that reset first, no handles) ends only
             * itself; the textbook's ListenThread also goes on. */
            ec_warn("accept failed: %s (%d)", ec_err_name(rc), ec_sock_oserror());
            continue;
        }
        /* A worker that gave up (its wait failed: a broken invariant, not a client's
         * doing) is noticed here, at the next connection, which is refused. */
        if (sv.failed) {
            ec_log_refuse(peer, "worker-failed");
            ec_sock_close(s);
            status = 1;
            break;
        }
        rc = add_socket_info(&sv, s, peer);
        if (rc != 0) {
            ec_log_refuse(peer, rc > 0 ? sv.limit_reason : ec_err_name(rc));
            ec_sock_close(s);
            continue;
        }
        WSASetEvent(sv.events[0]); /* tell the worker that nTotalSockets changed */
    }

    InterlockedExchange(&sv.stop, 1);
    WSASetEvent(sv.events[0]);
    if (WaitForSingleObject(worker, JOIN_WAIT_MS) != WAIT_OBJECT_0) {
        ec_warn("the worker thread did not stop within %d ms", JOIN_WAIT_MS);
        return 1; /* it may still use sv: leave everything to the process exit */
    }
    CloseHandle(worker);
    CloseHandle(sv.started);
    DeleteCriticalSection(&sv.cs);
    WSACloseEvent(sv.events[0]);
    return status;
}
