/* nonblocking.c - win32-nonblocking: nonblocking sockets retried in a busy loop (textbook 04-01).
 *
 * API: ioctlsocket(FIONBIO) makes the listener nonblocking, and the sockets accept()
 * returns inherit that mode (a Winsock rule the textbook relies on; notes T9, measured
 * under Wine 8.0 as W8 N1). A call that cannot complete fails with WSAEWOULDBLOCK and
 * is simply tried again: the ListenThread loop (here the thread that calls ec_serve)
 * retries accept(), and one ComThread per client retries recv() and send().
 * Nothing ever says when a retry could succeed, so THIS SERVER BURNS CPU EVEN WHEN IDLE,
 * ON PURPOSE: one spinning thread for the listener plus one per client. That is the
 * textbook's point ("CPU use near 100%"), and the idle-cost fixtures measure it. Each
 * failed try yields the processor (SwitchToThread) so that on a small machine the
 * clients and other servers still get to run; the loop stays a busy loop.
 * Limits: a core per busy thread; --max-clients refuses beyond N live clients.
 * Textbook bugs fixed: 04-01 dropped the client when send() failed with WSAEWOULDBLOCK
 * (the book says it leaves that case out) and ignored send()'s count (a short send
 * lost the rest, notes B12: nonblocking sends complete short under Wine and Linux,
 * W-SHORT); here both are retried until every byte has gone.
 * buf[recvByte] = '\0' wrote past the stack buffer (B1); nothing is terminated here.
 * Stopping: every loop checks the stop flag on each turn.
 */
#include <errno.h>
#include <process.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "win32-nonblocking",
    .summary =
        "FIONBIO sockets retried on WSAEWOULDBLOCK in endless loops (textbook 04-01): a\n"
        "spinning accept thread plus a spinning thread per client, so it burns CPU even\n"
        "when idle, on purpose.",
    .default_workers = 0,
};

/* How long the stopping server waits for the client threads to notice the flag;
 * below server_main's grace period (2 s), after which the process ends anyway. */
#define STOP_WAIT_MS 1500

/* One client, owned by its ComThread (the textbook keeps it on that thread's stack). */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* the pending echo (buf, recvbytes, sendbytes) */
    struct server *sv;
    enum {
        CONN_RECEIVING, /* nothing owed: try recv() on every turn */
        CONN_SENDING,   /* echo pending: try send() on every turn until it has all gone */
        CONN_CLOSED     /* EOF, reset, error or stop: log and close */
    } state;
    int reason; /* why it closed: 0 = eof, else a negative class */
};

/* What the accept loop and the client threads share: the count of live clients (for
 * --max-clients and for the wait at stop). */
struct server {
    const struct ec_server_opts *o;
    volatile LONG nlive; /* changed with Interlocked* only */
    HANDLE all_gone;     /* manual-reset event, set while nlive == 0 */
};

/* One try at receiving. What arrives is owed back; 0 is the peer's FIN, and since we
 * read only when nothing is owed, a half-closed peer already has its whole echo. */
static void conn_try_recv(struct conn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR) {
        SwitchToThread();
    } else if (n <= 0) {
        c->reason = (int)n;
        c->state = CONN_CLOSED;
    } else {
        c->reason = ec_echo_received(&c->echo, NULL, (size_t)n);
        if (c->reason < 0)
            c->state = CONN_CLOSED;
        else if (!ec_echo_idle(&c->echo))
            c->state = CONN_SENDING; /* a framed mode may owe nothing yet */
    }
}

/* One try at sending what is owed; a short count keeps the rest for the next turn. */
static void conn_try_send(struct conn *c)
{
    ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR) {
        SwitchToThread();
    } else if (n < 0) {
        c->reason = (int)n;
        c->state = CONN_CLOSED;
    } else if (ec_echo_idle(&c->echo)) {
        c->state = CONN_RECEIVING;
    }
}

/* The textbook's ComThread: spins on recv() and send() until the client leaves or the
 * server stops. */
static unsigned WINAPI ComThread(void *arg)
{
    struct conn *c = arg;
    struct server *sv = c->sv;

    while (c->state != CONN_CLOSED) {
        if (ec_server_stopping()) {
            c->reason = -EC_ECONNABORTED;
            break;
        }
        if (c->state == CONN_RECEIVING)
            conn_try_recv(c);
        else
            conn_try_send(c);
    }
    ec_log_close(c->echo.peer, c->reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
    if (InterlockedDecrement(&sv->nlive) == 0)
        SetEvent(sv->all_gone);
    return 0;
}

/* Starts a ComThread for a freshly accepted client, or refuses it. */
static void conn_start(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c;
    uintptr_t th;

    /* Only this thread adds clients, so the count cannot grow between the test and
     * the increment below. */
    if (sv->o->max_clients > 0 && sv->nlive >= sv->o->max_clients) {
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
    c->state = CONN_RECEIVING;
    if (InterlockedIncrement(&sv->nlive) == 1)
        ResetEvent(sv->all_gone);
    ec_log_accept(peer);
    th = _beginthreadex(NULL, 0, ComThread, c, 0, NULL);
    if (th == 0) {
        ec_warn("cannot start a thread for %s: %s", peer, strerror(errno));
        ec_log_close(peer, -EC_ENOMEM);
        ec_sock_close(s);
        ec_echo_free(&c->echo);
        free(c);
        if (InterlockedDecrement(&sv->nlive) == 0)
            SetEvent(sv->all_gone);
        return;
    }
    CloseHandle((HANDLE)th);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    /* Static: a client thread that outlives the bounded wait at stop still reaches it
     * while the process ends. */
    static struct server sv;
    int r = ec_sock_set_nonblocking(listener, 1);

    if (r != 0) {
        if (ec_server_stopping())
            return 0; /* stopped before we began: the listener is closed already */
        ec_warn("ioctlsocket(FIONBIO) on the listener: %s", ec_err_name(r));
        return 1;
    }
    sv.o = o;
    sv.nlive = 0;
    sv.all_gone = CreateEvent(NULL, TRUE, TRUE, NULL);
    if (sv.all_gone == NULL) {
        ec_warn("CreateEvent failed (%lu)", (unsigned long)GetLastError());
        return 1;
    }

    /* The textbook's ListenThread: accept() again and again. */
    while (!ec_server_stopping()) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;

        r = ec_accept(listener, &s, peer);
        if (r == 0)
            conn_start(&sv, s, peer); /* s is nonblocking already: inherited (T9) */
        else
            SwitchToThread(); /* WSAEWOULDBLOCK, or a client gone before accept */
    }
    if (WaitForSingleObject(sv.all_gone, STOP_WAIT_MS) != WAIT_OBJECT_0) {
        ec_warn("client threads still running %d ms after the stop", STOP_WAIT_MS);
        return 0; /* they still use the event: leave it to process exit */
    }
    CloseHandle(sv.all_gone);
    return 0;
}
