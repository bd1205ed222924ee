/* thread.c - win32-thread: one Win32 thread per client (textbook 03-01 TCPThreadServer).
 *
 * API: the accept loop (03-01's ListenThread; here the thread that calls ec_serve)
 * starts a ComThread with _beginthreadex for each client, and that thread runs blocking
 * recv()/send() until its client leaves. _beginthreadex, as in the textbook, rather
 * than CreateThread: the thread uses the C runtime (the log lines).
 * Limits it exposes: a thread (1 MiB of reserved stack) per client, so thousands of
 * clients cost thousands of threads; --max-clients refuses beyond N live clients.
 * Textbook bugs fixed: buf[recvByte] = '\0' wrote one past the end of the stack buffer
 * (notes B1), here nothing is terminated and every byte is echoed; the send() count was
 * ignored (a short send lost the rest), here partial sends are finished; the server
 * now refuses a client it cannot start a thread for instead of leaking its socket; an
 * accept() failure caused by a client is skipped as 03-01 does (the copies in notes B3
 * `break` instead, ending the process and every connection), and a shortage pauses
 * instead of spinning.
 * Stopping: server_main closes the listener, the accept loop wakes, closes every live
 * client's socket (a blocked recv() then fails) and waits, bounded, for the threads.
 * Wine 8.0: a recv() issued after a reset arrived returns 0, so a reset is logged as
 * reason=eof there (notes 2.2 W-RST); a recv() already blocked sees WSAECONNRESET.
 */
#include <errno.h>
#include <process.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "win32-thread",
    .summary =
        "One Win32 thread per client (_beginthreadex), blocking recv()/send() (textbook\n"
        "03-01). Clients are served concurrently; each costs a thread and its stack.",
    .default_workers = 0,
};

/* How long the stopping server waits for the client threads to finish; below
 * server_main's grace period (2 s), after which the process ends anyway. */
#define STOP_WAIT_MS 1500

/* Pause before retrying accept() after a shortage (WSAEMFILE, WSAENOBUFS) or a
 * listener error. */
#define ACCEPT_BACKOFF_MS 100

/* One client, owned by its ComThread. The textbook keeps these on that thread's stack;
 * here they are on the heap so that the accept loop can reach the socket at stop. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo;      /* the pending echo (buf, recvbytes, sendbytes) */
    struct conn *prev, *next; /* in the live list, under the server's lock */
    struct server *sv;
    int closed_at_stop; /* under the lock: stop_clients closed the socket */
};

/* What the accept loop and the client threads share. */
struct server {
    const struct ec_server_opts *o;
    CRITICAL_SECTION lock; /* guards live, nlive and every socket in live */
    struct conn *live;     /* clients whose thread runs; their sockets are open */
    int nlive;
    HANDLE all_gone; /* manual-reset event, set while nlive == 0 */
};

/* Takes c out of the live list and closes its socket, unless stop_clients already did
 * (both happen under the lock, so the socket is closed exactly once). */
static void conn_unlink_close(struct conn *c)
{
    struct server *sv = c->sv;

    EnterCriticalSection(&sv->lock);
    if (!c->closed_at_stop)
        ec_sock_close(c->sock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        sv->live = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (--sv->nlive == 0)
        SetEvent(sv->all_gone);
    LeaveCriticalSection(&sv->lock);
}

/* The textbook's ComThread: blocking recv(), echo everything with blocking send()s,
 * until the peer's FIN (graceful: nothing is owed when we read, so a half-closed peer
 * has its whole echo), a reset or an error. */
static unsigned WINAPI ComThread(void *arg)
{
    struct conn *c = arg;
    int reason = 0;

    for (;;) {
        ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);

        if (n == -EC_EINTR)
            continue; /* a cancelled blocking call (Winsock 1.1 relic): retry */
        if (n <= 0) {
            reason = (int)n;
            break;
        }
        reason = ec_echo_received(&c->echo, NULL, (size_t)n);
        if (reason == 0)
            reason = ec_echo_flush_all(&c->echo, c->sock);
        if (reason < 0)
            break;
    }
    /* stop_clients closes the socket under a blocked call, which then fails: say why. */
    if (ec_server_stopping())
        reason = -EC_ECONNABORTED;
    ec_log_close(c->echo.peer, reason);
    conn_unlink_close(c);
    ec_echo_free(&c->echo);
    free(c);
    return 0;
}

/* Starts a ComThread for a freshly accepted client, or refuses it. */
static void conn_start(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c;
    uintptr_t th;
    int full;

    EnterCriticalSection(&sv->lock);
    full = sv->o->max_clients > 0 && sv->nlive >= sv->o->max_clients;
    LeaveCriticalSection(&sv->lock);
    if (full) {
        ec_log_refuse(peer, "max-clients");
        ec_sock_close(s);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0) {
        free(c);
        ec_log_refuse(peer, "no-memory");
        ec_sock_close(s);
        return;
    }
    c->sock = s;
    c->sv = sv;
    /* Linked before the thread starts, so that it can unlink itself at any time. */
    EnterCriticalSection(&sv->lock);
    c->next = sv->live;
    if (sv->live != NULL)
        sv->live->prev = c;
    sv->live = c;
    if (sv->nlive++ == 0)
        ResetEvent(sv->all_gone);
    LeaveCriticalSection(&sv->lock);
    ec_log_accept(peer);

    th = _beginthreadex(NULL, 0, ComThread, c, 0, NULL);
    if (th == 0) {
        ec_warn("cannot start a thread for %s: %s", peer, strerror(errno));
        ec_log_close(peer, -EC_ENOMEM);
        conn_unlink_close(c);
        ec_echo_free(&c->echo);
        free(c);
        return;
    }
    /* The thread runs on its own; as in the textbook, its handle is not needed. */
    CloseHandle((HANDLE)th);
}

/* At stop: closes every live client's socket, which makes a recv() or send() blocked
 * on it fail and so ends its thread ("any pending blocking, asynchronous calls issued
 * by any thread in this process are canceled", closesocket docs; shutdown() did not
 * wake a blocked recv() under Wine 8.0), then waits for the threads, bounded. */
static void stop_clients(struct server *sv)
{
    struct conn *c;

    EnterCriticalSection(&sv->lock);
    for (c = sv->live; c != NULL; c = c->next) {
        ec_sock_close(c->sock);
        c->closed_at_stop = 1;
    }
    LeaveCriticalSection(&sv->lock);
    if (WaitForSingleObject(sv->all_gone, STOP_WAIT_MS) != WAIT_OBJECT_0)
        ec_warn("client threads still running %d ms after the stop", STOP_WAIT_MS);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    /* Static: a client thread that outlives the bounded wait at stop still reaches it
     * while the process ends. */
    static struct server sv;

    sv.o = o;
    sv.live = NULL;
    sv.nlive = 0;
    sv.all_gone = CreateEvent(NULL, TRUE, TRUE, NULL);
    if (sv.all_gone == NULL) {
        ec_warn("CreateEvent failed (%lu)", (unsigned long)GetLastError());
        return 1;
    }
    InitializeCriticalSection(&sv.lock);

    /* The textbook's ListenThread loop. */
    while (!ec_server_stopping()) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        int r = ec_accept(listener, &s, peer);

        if (r == 0) {
            conn_start(&sv, s, peer);
        } else if (ec_server_stopping()) {
            break; /* the listener was closed under accept() by the stop request */
        } else if (r == -EC_ECONNRESET || r == -EC_ECONNABORTED || r == -EC_ECLOSED ||
                   r == -EC_EINTR || r == -EC_EWOULDBLOCK) {
            /* That client is gone before we took it: on Windows a reset before accept
             * gives WSAECONNRESET (notes B3), on Wine 8.0 WSAENOTCONN. 03-01 went on
             * with the next one (`continue`), and so do we. */
            continue;
        } else {
            /* A shortage (WSAEMFILE, WSAENOBUFS) or a listener error: nothing signals
             * the end of it, so retry after a short pause; the clients go on. */
            ec_warn("accept: %s (Winsock error %d); retrying in %d ms", ec_err_name(r),
                    ec_sock_oserror(), ACCEPT_BACKOFF_MS);
            ec_sleep_ms(ACCEPT_BACKOFF_MS);
        }
    }
    stop_clients(&sv);
    /* A thread that outlived the wait still uses the lock: leave both to process
     * exit in that case. */
    if (WaitForSingleObject(sv.all_gone, 0) == WAIT_OBJECT_0) {
        DeleteCriticalSection(&sv.lock);
        CloseHandle(sv.all_gone);
    }
    return 0;
}
