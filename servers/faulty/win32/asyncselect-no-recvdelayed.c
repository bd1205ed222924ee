/* asyncselect-no-recvdelayed.c - faulty-win32-asyncselect-no-recvdelayed: WSAAsyncSelect
 * without `recvdelayed`.
 *
 * A small WSAAsyncSelect echo server after textbook 05-01: socket events arrive as
 * messages to a message-only window, one recv per FD_READ, the echo falls through to a
 * send, FD_WRITE finishes an echo that met WSAEWOULDBLOCK. Winsock only (built by the
 * MinGW sub-build, run under Wine). It is correct except for ONE bug:
 *   Bug: an FD_READ that arrives while an echo is still pending is dropped without a
 *     note (the line marked BUG in conn_on_read; 05-01 sets recvdelayed there), and
 *     conn_flush() therefore never re-posts it. Winsock posts FD_READ once and not
 *     again until the next recv (WSAAsyncSelect docs; notes 1.5 rules 1 and 7, W8 A3),
 *     so bytes that came while the echo waited are never read unless the client sends
 *     more: the connection stalls. The same lost re-arm as edge-triggered epoll that
 *     does not read to EAGAIN (faulty-et-no-drain).
 *   A correct server: remembers the dropped FD_READ (recvdelayed = TRUE) and, once the
 *     echo has all gone, posts FD_READ to itself (PostMessage), as 05-01 does.
 *   Diagnosis: stall in the cases where the echo meets WSAEWOULDBLOCK while more data
 *     waits: a client that stops reading while it goes on sending until the connection
 *     is full (slow-reader-no-loss, slow-reader-isolation). Client sockets keep the
 *     buffers Wine gives them (Linux autotunes the send buffer to several MiB on
 *     loopback, 2.8 MB measured), as in the correct win32-asyncselect: an echo of 1 MiB
 *     to a client that reads (large-1m) or that reads only after sending it
 *     (large-unread-burst) never meets WSAEWOULDBLOCK, so those pass every run. With a
 *     16 KiB SO_SNDBUF, as this server once had, large-1m stalled only when the
 *     scheduler let the client's reads fall 16 KiB behind: a verdict of the machine's
 *     load, not of the case.
 */
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "faulty-win32-asyncselect-no-recvdelayed",
    .summary =
        "FAULTY on purpose (gallery of known bugs): WSAAsyncSelect loop that drops an\n"
        "FD_READ met while an echo is pending and never re-posts it (no recvdelayed): stall.",
    .default_workers = 0,
};

/* The listener's message; clients get one number each from the WM_APP range, so a
 * message still queued for a closed socket is never taken for the socket that reuses
 * its handle value (notes B9, W8 A5). */
#define WM_LISTENER (WM_USER + 1)
#define WM_CLIENT_FIRST WM_APP
#define WM_CLIENT_COUNT 0x3FFFu
#define ACCEPT_TIMER_ID 1
#define ACCEPT_BACKOFF_MS 100 /* out of handles: FD_ACCEPT off this long */
#define STOP_POLL_MS      100 /* the loop looks at the stop flag at least this often */

/* The textbook's SOCKETINFO, without recvdelayed. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes */
    UINT msg;            /* this connection's message number */
    int eof_seen;        /* FD_CLOSE came: read on until recv() returns 0 */
};

struct server {
    HWND hwnd;
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct conn **conns; /* SocketInfoArray */
    size_t n, cap;
    UINT next_msg;
};

/* GetSocketInfo: the live connection owning this socket and message number, or NULL
 * for a stale message. */
static struct conn *conn_find(struct server *sv, ec_sock_t s, UINT msg)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->conns[i]->sock == s)
            return sv->conns[i]->msg == msg ? sv->conns[i] : NULL;
    return NULL;
}

/* RemoveSocketInfo: logs, stops the notifications, closes and frees. */
static void conn_close(struct server *sv, struct conn *c, int reason)
{
    ec_log_close(c->echo.peer, reason);
    WSAAsyncSelect(c->sock, sv->hwnd, 0, 0);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    for (size_t i = 0; i < sv->n; i++) {
        if (sv->conns[i] == c) {
            sv->conns[i] = sv->conns[--sv->n];
            break;
        }
    }
    free(c);
}

/* Sends what is owed until done or WSAEWOULDBLOCK (after which FD_WRITE comes). After
 * FD_CLOSE, posts FD_READ to go on reading what is still queued. */
static void conn_flush(struct server *sv, struct conn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);
        if (n == -EC_EWOULDBLOCK)
            return;
        if (n < 0 && n != -EC_EINTR) {
            conn_close(sv, c, (int)n);
            return;
        }
    }
    if (c->eof_seen)
        PostMessageA(sv->hwnd, c->msg, (WPARAM)c->sock, (LPARAM)WSAMAKESELECTREPLY(FD_READ, 0));
}

/* FD_READ: one recv per message (the docs' advice), then the echo. */
static void conn_on_read(struct server *sv, struct conn *c)
{
    if (!ec_echo_idle(&c->echo))
        return; /* BUG: this FD_READ is lost; 05-01 sets recvdelayed and re-posts it */
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
    if (n == -EC_EWOULDBLOCK || n == -EC_EINTR)
        return; /* a duplicate or self-posted FD_READ that found nothing (notes B6) */
    if (n <= 0) {
        conn_close(sv, c, (int)n); /* 0: FIN, and nothing was owed: a graceful close */
        return;
    }
    int r = ec_echo_received(&c->echo, NULL, (size_t)n);
    if (r < 0) {
        conn_close(sv, c, r);
        return;
    }
    conn_flush(sv, c);
}

static int listen_events(struct server *sv)
{
    return WSAAsyncSelect(sv->listener, sv->hwnd, WM_LISTENER, FD_ACCEPT);
}

/* FD_ACCEPT: one accept (which re-enables FD_ACCEPT), then the client's registration. */
static void on_accept(struct server *sv)
{
    char peer[EC_ADDRSTRLEN];
    ec_sock_t s;
    int r = ec_accept(sv->listener, &s, peer);
    if (r == -EC_EMFILE || r == -EC_ENOMEM) {
        WSAAsyncSelect(sv->listener, sv->hwnd, 0, 0);
        SetTimer(sv->hwnd, ACCEPT_TIMER_ID, ACCEPT_BACKOFF_MS, NULL);
        return;
    }
    if (r < 0)
        return;
    if (sv->o->max_clients > 0 && sv->n >= (size_t)sv->o->max_clients) {
        ec_log_refuse(peer, "max-clients");
        ec_sock_close(s);
        return;
    }
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? 2 * sv->cap : 16;
        struct conn **grown = realloc(sv->conns, cap * sizeof *grown);
        if (grown) {
            sv->conns = grown;
            sv->cap = cap;
        }
    }
    struct conn *c = sv->n < sv->cap ? calloc(1, sizeof *c) : NULL;
    if (!c || ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize) != 0) {
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
    /* Replaces the FD_ACCEPT registration the socket inherited (notes T9). */
    if (WSAAsyncSelect(s, sv->hwnd, c->msg, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR)
        conn_close(sv, c, ec_sock_error());
}

static void on_client_event(struct server *sv, UINT msg, ec_sock_t s, LPARAM lParam)
{
    struct conn *c = conn_find(sv, s, msg);
    int err = WSAGETSELECTERROR(lParam);
    if (!c)
        return; /* stale message */
    if (err != 0) {
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
        /* Windows posts FD_CLOSE while data may still be queued (notes 1.5 rule 4):
         * read on until recv() returns 0. */
        c->eof_seen = 1;
        conn_on_read(sv, c);
        break;
    default:
        break;
    }
}

static LRESULT CALLBACK WndProc(HWND hwnd, UINT msg, WPARAM wParam, LPARAM lParam)
{
    struct server *sv = (struct server *)GetWindowLongPtrA(hwnd, GWLP_USERDATA);
    if (sv) {
        if (msg == WM_LISTENER) {
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
            listen_events(sv);
            return 0;
        }
    }
    return DefWindowProcA(hwnd, msg, wParam, lParam);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    static const char class_name[] = "echoconf-faulty-asyncselect";
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
    /* HWND_MESSAGE: a message-only window, so no desktop is needed. */
    sv.hwnd = CreateWindowExA(0, class_name, "echoconf", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL,
                              wc.hInstance, NULL);
    if (!sv.hwnd) {
        ec_warn("CreateWindowEx(HWND_MESSAGE) failed (%lu)", (unsigned long)GetLastError());
        UnregisterClassA(class_name, wc.hInstance);
        return 1;
    }
    SetWindowLongPtrA(sv.hwnd, GWLP_USERDATA, (LONG_PTR)&sv);
    if (listen_events(&sv) == SOCKET_ERROR) {
        ec_warn("WSAAsyncSelect on the listener failed: %s", ec_err_name(ec_sock_error()));
        rc = 1;
    }
    /* The message loop. The stop comes from a console handler that closes the
     * listener and posts nothing, so the wait is bounded and the flag checked. */
    while (rc == 0 && !ec_server_stopping()) {
        MSG m;
        while (!ec_server_stopping() && PeekMessageA(&m, NULL, 0, 0, PM_REMOVE))
            DispatchMessageA(&m);
        if (MsgWaitForMultipleObjectsEx(0, NULL, STOP_POLL_MS, QS_ALLINPUT,
                                        MWMO_INPUTAVAILABLE) == WAIT_FAILED) {
            ec_warn("MsgWaitForMultipleObjectsEx failed (%lu)", (unsigned long)GetLastError());
            rc = 1;
        }
    }
    while (sv.n > 0)
        conn_close(&sv, sv.conns[sv.n - 1], -EC_ECONNABORTED);
    free(sv.conns);
    if (!ec_server_stopping())
        WSAAsyncSelect(listener, sv.hwnd, 0, 0);
    DestroyWindow(sv.hwnd);
    UnregisterClassA(class_name, wc.hInstance);
    return rc;
}
