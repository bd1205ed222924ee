/* asyncselect.c - win32-asyncselect: socket events as window messages (textbook 05-01).
 *
 * API: WSAAsyncSelect(s, hwnd, msg, FD_READ|FD_WRITE|FD_CLOSE) makes s nonblocking and
 * posts msg to a window, wParam = the socket and lParam = the event and its error,
 * once per event until the call that re-enables it (recv for FD_READ, accept for
 * FD_ACCEPT; FD_WRITE only after a send failed with WSAEWOULDBLOCK). The window is a
 * message-only one (HWND_MESSAGE: never shown, no display needed) and one thread runs
 * the message loop. SOCKETINFO holds the pending echo plus `recvdelayed`: an FD_READ
 * that came while an echo was pending is not followed by another (rule 1 of notes
 * 1.5), so the server posts FD_READ to itself once the echo has gone (PostMessage
 * re-arming).
 * Limits: none of its own (05-01's SocketInfoArray[FD_SETSIZE] was a copy of the select
 * server's; messages have no such limit); --max-clients refuses beyond N clients.
 * Textbook bugs fixed (notes section 3):
 *  - stale messages (B9): messages stay queued after closesocket, and Windows reuses
 *    handle values at once (W8 A5), so 05-01 indexed SocketInfoArray[-1] (GetSocketInfo's
 *    "not found") or acted on the wrong client. Here every connection gets its own
 *    message number, and a message whose (socket, number) pair is not a live
 *    connection is dropped;
 *  - WSAEWOULDBLOCK from recv (a spurious or duplicate FD_READ) or send is never an
 *    error (B6); a short send is retried until WSAEWOULDBLOCK, the only case that
 *    brings FD_WRITE (B12);
 *  - FD_CLOSE no longer closes at once (B4): Windows posts it while unread data is
 *    still queued, so the server goes on reading and echoing until recv() returns 0,
 *    then closes (RFC 862, half-close). An FD_CLOSE error (a reset) closes at once;
 *  - buf[retval] = '\0' wrote past the buffer (B1).
 * Stopping: the loop waits with MsgWaitForMultipleObjectsEx, at most STOP_POLL_MS at a
 * time, and checks ec_server_stopping() after every message and every wait. A plain
 * GetMessage would never return: server_main's console handler closes the listener,
 * which posts no message, and a handler of our own posting WM_CLOSE would run before
 * server_main's (handlers are called last registered first), so the loop could end
 * before the stop flag is set and main() would close the listener a second time.
 * (An event set by server_main at stop, waited on here, would make it immediate.)
 * Wine 8.0: FD_CLOSE comes only after all data was read (W-CLOSE), a reset gives
 * FD_CLOSE with error 0 and recv() 0 (W-RSTERR, W-RST), so a reset is often logged
 * as reason=eof there; on Windows it is logged as reason=aborted or reset.
 */
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "win32-asyncselect",
    .summary =
        "WSAAsyncSelect: FD_ACCEPT/READ/WRITE/CLOSE as messages to a message-only window,\n"
        "one message loop, recvdelayed + PostMessage re-arming FD_READ (textbook 05-01).\n"
        "No limit of its own; stale messages for closed or reused handles are dropped.",
    .default_workers = 0,
};

/* The listener's message (05-01's WM_SOCKET). Clients get numbers from the WM_APP
 * range, a new one per connection, so a message left in the queue by a closed socket
 * cannot be taken for the socket that reuses its handle value. */
#define WM_LISTENER     (WM_USER + 1)
#define WM_CLIENT_FIRST WM_APP
#define WM_CLIENT_COUNT 0x3FFFu /* WM_APP..0xBFFE: numbers free for applications */

/* After a shortage (WSAEMFILE, WSAENOBUFS) in accept(), FD_ACCEPT is switched off for
 * this long (a timer turns it on again): the pending connection would otherwise post
 * FD_ACCEPT again at once, a message storm. */
#define ACCEPT_TIMER_ID   1
#define ACCEPT_BACKOFF_MS 100

/* Longest wait of the message loop before it looks at the stop flag again. */
#define STOP_POLL_MS 100

/* The textbook's SOCKETINFO. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes: the pending echo */
    UINT msg;            /* this connection's message number */
    int recvdelayed;     /* an FD_READ came while an echo was pending: re-post it */
    int eof_seen;        /* FD_CLOSE came: read on until recv() returns 0 */
};

/* The loop's state, reached from the window (GWLP_USERDATA). */
struct server {
    HWND hwnd;
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct conn **conns; /* SocketInfoArray, dense: slots 0..n-1 */
    size_t n, cap;
    UINT next_msg; /* offset of the next client's message number */
};

/* The textbook's GetSocketInfo, plus the stale-message check: the connection that owns
 * both this socket and this message number, or NULL. */
static struct conn *conn_find(struct server *sv, ec_sock_t s, UINT msg)
{
    size_t i;

    for (i = 0; i < sv->n; i++)
        if (sv->conns[i]->sock == s)
            return sv->conns[i]->msg == msg ? sv->conns[i] : NULL;
    return NULL;
}

/* The textbook's RemoveSocketInfo: logs, cancels the notifications, closes, frees.
 * Messages already queued for the socket stay queued; conn_find drops them. */
static void conn_close(struct server *sv, struct conn *c, int reason)
{
    size_t i;

    ec_log_close(c->echo.peer, reason);
    WSAAsyncSelect(c->sock, sv->hwnd, 0, 0);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    for (i = 0; i < sv->n; i++) {
        if (sv->conns[i] == c) {
            sv->conns[i] = sv->conns[--sv->n];
            break;
        }
    }
    free(c);
}

/* Sends what is owed until it has all gone or send() fails with WSAEWOULDBLOCK, the
 * one case after which FD_WRITE comes (a short count alone brings no FD_WRITE: B12).
 * Once nothing is owed, re-posts the FD_READ that was held back (recvdelayed), or one
 * to go on reading after FD_CLOSE. */
static void conn_flush(struct server *sv, struct conn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);

        if (n == -EC_EWOULDBLOCK)
            return; /* FD_WRITE will follow */
        if (n < 0 && n != -EC_EINTR) {
            conn_close(sv, c, (int)n);
            return;
        }
    }
    if (c->recvdelayed || c->eof_seen) {
        c->recvdelayed = 0;
        PostMessageA(sv->hwnd, c->msg, (WPARAM)c->sock, (LPARAM)WSAMAKESELECTREPLY(FD_READ, 0));
    }
}

/* FD_READ (or FD_CLOSE): one recv() per message, as the WSAAsyncSelect docs advise;
 * if data remains, recv() re-enables FD_READ and Winsock posts it again. While an
 * echo is pending nothing is read: the message is remembered in recvdelayed. */
static void conn_on_read(struct server *sv, struct conn *c)
{
    ptrdiff_t n;
    int r;

    if (!ec_echo_idle(&c->echo)) {
        c->recvdelayed = 1;
        return;
    }
    n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return; /* a duplicate or self-posted FD_READ found nothing: normal (B6) */
    if (n <= 0) {
        /* 0: the peer's FIN after everything was echoed (nothing was owed when we
         * read): a graceful close, a half-closed peer has its whole echo. */
        conn_close(sv, c, (int)n);
        return;
    }
    r = ec_echo_received(&c->echo, NULL, (size_t)n);
    if (r < 0) {
        conn_close(sv, c, r);
        return;
    }
    conn_flush(sv, c); /* 05-01 falls through from FD_READ into FD_WRITE */
}

/* Turns FD_ACCEPT notifications on (again). Returns 0 or SOCKET_ERROR. */
static int listen_events(struct server *sv)
{
    return WSAAsyncSelect(sv->listener, sv->hwnd, WM_LISTENER, FD_ACCEPT);
}

/* FD_ACCEPT: accepts one client (accept re-enables FD_ACCEPT, which is posted again if
 * more are waiting) and registers it, or refuses it. */
static void on_accept(struct server *sv)
{
    char peer[EC_ADDRSTRLEN];
    struct conn *c = NULL;
    ec_sock_t s;
    int r = ec_accept(sv->listener, &s, peer);

    if (r == -EC_EMFILE || r == -EC_ENOMEM) {
        ec_warn("accept: %s; not accepting for %d ms", ec_err_name(r), ACCEPT_BACKOFF_MS);
        WSAAsyncSelect(sv->listener, sv->hwnd, 0, 0);
        SetTimer(sv->hwnd, ACCEPT_TIMER_ID, ACCEPT_BACKOFF_MS, NULL);
        return;
    }
    if (r < 0)
        return; /* WSAEWOULDBLOCK (a stale FD_ACCEPT) or a client gone before accept */
    if (sv->o->max_clients > 0 && sv->n >= (size_t)sv->o->max_clients) {
        ec_log_refuse(peer, "max-clients");
        ec_sock_close(s);
        return;
    }
    if (sv->n == sv->cap) {
        size_t cap = sv->cap != 0 ? 2 * sv->cap : 16;
        struct conn **grown = realloc(sv->conns, cap * sizeof *grown);
        if (grown != NULL) {
            sv->conns = grown;
            sv->cap = cap;
        }
    }
    if (sv->n < sv->cap)
        c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0) {
        free(c);
        ec_log_refuse(peer, "no-memory");
        ec_sock_close(s);
        return;
    }
    c->sock = s;
    c->msg = WM_CLIENT_FIRST + sv->next_msg;
    sv->next_msg = (sv->next_msg + 1) % WM_CLIENT_COUNT;
    sv->conns[sv->n++] = c;
    ec_log_accept(peer);
    /* This replaces the registration s inherited from the listener (notes T9). */
    if (WSAAsyncSelect(s, sv->hwnd, c->msg, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR)
        conn_close(sv, c, ec_sock_error());
}

/* A client's message: the event in lParam, for the socket in wParam. */
static void on_client_event(struct server *sv, UINT msg, ec_sock_t s, LPARAM lParam)
{
    struct conn *c = conn_find(sv, s, msg);
    int err = WSAGETSELECTERROR(lParam);

    if (c == NULL)
        return; /* stale: the socket was closed, its handle maybe reused (B9) */
    if (err != 0) {
        /* FD_CLOSE after a reset: WSAECONNABORTED on Windows (notes 1.5 rule 4). */
        conn_close(sv, c, ec_err_from_os(err));
        return;
    }
    switch (WSAGETSELECTEVENT(lParam)) {
    case FD_READ:
        conn_on_read(sv, c);
        break;
    case FD_WRITE:
        conn_flush(sv, c);
        break;
    case FD_CLOSE:
        /* Data may still be queued (Windows posts FD_CLOSE before it is read): read
         * and echo it all, recv() returning 0 closes (B4). */
        c->eof_seen = 1;
        conn_on_read(sv, c);
        break;
    default:
        break;
    }
}

/* The window procedure: socket messages and the accept timer. */
static LRESULT CALLBACK WndProc(HWND hwnd, UINT msg, WPARAM wParam, LPARAM lParam)
{
    struct server *sv = (struct server *)GetWindowLongPtrA(hwnd, GWLP_USERDATA);

    if (sv != NULL) {
        if (msg == WM_LISTENER) {
            /* A socket accepted just now may still post with the listener's message
             * (inherited registration, T9): only the listener's own count. */
            if ((ec_sock_t)wParam == sv->listener && WSAGETSELECTEVENT(lParam) == FD_ACCEPT)
                on_accept(sv);
            return 0;
        }
        if (msg >= WM_CLIENT_FIRST && msg - WM_CLIENT_FIRST < WM_CLIENT_COUNT) {
            on_client_event(sv, msg, (ec_sock_t)wParam, lParam);
            return 0;
        }
        if (msg == WM_TIMER && wParam == ACCEPT_TIMER_ID) {
            KillTimer(hwnd, ACCEPT_TIMER_ID);
            listen_events(sv); /* posts FD_ACCEPT at once if a client is waiting */
            return 0;
        }
    }
    return DefWindowProcA(hwnd, msg, wParam, lParam);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    static const char class_name[] = "echoconf-win32-asyncselect";
    struct server sv;
    WNDCLASSEXA wc;
    int rc = 0;

    memset(&sv, 0, sizeof sv);
    sv.listener = listener;
    sv.o = o;
    memset(&wc, 0, sizeof wc);
    wc.cbSize = sizeof wc;
    wc.lpfnWndProc = WndProc;
    wc.hInstance = GetModuleHandleA(NULL);
    wc.lpszClassName = class_name;
    if (RegisterClassExA(&wc) == 0) {
        ec_warn("RegisterClassEx failed (%lu)", (unsigned long)GetLastError());
        return 1;
    }
    /* HWND_MESSAGE: a message-only window, never shown, not even enumerated. */
    sv.hwnd = CreateWindowExA(0, class_name, "echoconf", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL,
                              wc.hInstance, NULL);
    if (sv.hwnd == NULL) {
        ec_warn("CreateWindowEx(HWND_MESSAGE) failed (%lu)", (unsigned long)GetLastError());
        UnregisterClassA(class_name, wc.hInstance);
        return 1;
    }
    SetWindowLongPtrA(sv.hwnd, GWLP_USERDATA, (LONG_PTR)&sv);
    if (listen_events(&sv) == SOCKET_ERROR && !ec_server_stopping()) {
        /* (A stop right after the readiness line closes the listener first: then
         * WSAAsyncSelect fails with WSAENOTSOCK and the loop below just ends.) */
        ec_warn("WSAAsyncSelect on the listener failed: %s", ec_err_name(ec_sock_error()));
        rc = 1;
    }

    /* The message loop (05-01's GetMessage loop, made to notice the stop flag). */
    while (rc == 0 && !ec_server_stopping()) {
        MSG m;

        while (!ec_server_stopping() && PeekMessageA(&m, NULL, 0, 0, PM_REMOVE))
            DispatchMessageA(&m);
        if (MsgWaitForMultipleObjectsEx(0, NULL, STOP_POLL_MS, QS_ALLINPUT, MWMO_INPUTAVAILABLE) ==
            WAIT_FAILED) {
            ec_warn("MsgWaitForMultipleObjectsEx failed (%lu)", (unsigned long)GetLastError());
            rc = 1;
        }
    }

    while (sv.n > 0)
        conn_close(&sv, sv.conns[sv.n - 1], -EC_ECONNABORTED);
    free(sv.conns);
    if (!ec_server_stopping())
        WSAAsyncSelect(listener, sv.hwnd, 0, 0); /* the caller will close it */
    DestroyWindow(sv.hwnd);
    UnregisterClassA(class_name, wc.hInstance);
    return rc;
}
