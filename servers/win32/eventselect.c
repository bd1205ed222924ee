/* eventselect.c - win32-eventselect: the textbook's WSAEventSelect echo server (example
 * 06-01).
 *
 * API: WSAEventSelect ties each socket to a manual-reset event; one thread waits on all of
 * them with WSAWaitForMultipleEvents, then WSAEnumNetworkEvents says which of FD_ACCEPT,
 * FD_READ, FD_WRITE, FD_CLOSE happened and resets the event. Readiness semantics (notes
 * 1.5-1.6): FD_READ is re-enabled only by a recv, FD_WRITE comes only after a send failed
 * with WSAEWOULDBLOCK, FD_CLOSE may come with data still unread (Windows) or only after
 * the drain (Wine 8.0).
 * Limit: one wait takes at most WSA_MAXIMUM_WAIT_EVENTS (64) events and the listener holds
 * slot 0, so 63 clients; the 64th is accepted and refused (refuse reason=wait-events-limit).
 * Textbook bugs fixed: FD_CLOSE drains unread data and flushes the pending echo before
 * closing (B4); WSAEWOULDBLOCK is never fatal (B6); a short send is followed by more sends
 * until the echo is out or WSAEWOULDBLOCK arms FD_WRITE (B12); accept errors never end
 * the server (B3); a deferred FD_READ is made good by a recv right after the flush (the
 * `recvdelayed` idea of 05-01).
 * Fairness: the wait names the lowest signalled index only; after serving it we also poll
 * every later index once, so each ready client gets one turn per round (the textbook
 * serves one index per wait, which lets a busy low index starve high ones), and the
 * listener's turn comes after the clients' in its round.
 */
#include <stdlib.h>

#include "ec_server.h"

#ifndef _WIN32
#error "win32-eventselect is a Winsock program: build it with MinGW-w64 or MSVC"
#endif

/* The stop request comes from server_main's console handler, which closes the listener;
 * a local closesocket signals no network event (closesocket [DOC]), and all 64 slots may
 * be taken by sockets, so the wait wakes this often to look at ec_server_stopping(). */
#define STOP_POLL_MS 200

const struct ec_model ec_model = {
    .id = "win32-eventselect",
    .summary =
        "WSAEventSelect: one thread waits on one event per socket (WSAWaitForMultipleEvents)\n"
        "and reads FD_ACCEPT/READ/WRITE/CLOSE with WSAEnumNetworkEvents (textbook 06-01).\n"
        "Limit: WSA_MAXIMUM_WAIT_EVENTS = 64 events, listener included: 63 clients.",
    .default_workers = 0,
};

/* The textbook's SOCKETINFO: one per client. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* buf, recvbytes, sendbytes, plus framing */
    int peer_closed;     /* a graceful FD_CLOSE came: drain and echo the rest, then close */
};

/* The textbook's globals, gathered. info[] and events[] are its parallel SocketInfoArray
 * and EventArray: slot i of one belongs to slot i of the other. Slot 0 is the listener. */
struct server {
    ec_sock_t listener;
    const struct ec_server_opts *o;
    struct conn *info[WSA_MAXIMUM_WAIT_EVENTS]; /* info[0] is NULL: the listener */
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    DWORD total;              /* nTotalSockets: used slots, listener included */
    DWORD max_clients;        /* 63, or --max-clients if lower */
    const char *limit_reason; /* the refuse reason once max_clients are served */
};

/* Adds a client in the next free slot with its own event (AddSocketInfo). The accepted
 * socket inherited the listener's registration (notes T9), so WSAEventSelect replaces
 * it at once. Returns 0 or a negative class; on failure s is left open. */
static int add_socket_info(struct server *sv, ec_sock_t s, const char *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    WSAEVENT ev;
    int rc;

    if (c == NULL)
        return -EC_ENOMEM;
    rc = ec_echo_init(&c->echo, peer, &sv->o->framing, sv->o->bufsize);
    if (rc < 0) {
        free(c);
        return rc;
    }
    ev = WSACreateEvent();
    if (ev == WSA_INVALID_EVENT) {
        rc = ec_sock_error();
        ec_echo_free(&c->echo);
        free(c);
        return rc;
    }
    if (WSAEventSelect(s, ev, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR) {
        rc = ec_sock_error();
        WSACloseEvent(ev);
        ec_echo_free(&c->echo);
        free(c);
        return rc;
    }
    c->sock = s;
    sv->info[sv->total] = c;
    sv->events[sv->total] = ev;
    sv->total++;
    return 0;
}

/* Closes the client in slot i and closes the gap (RemoveSocketInfo). The textbook shifts
 * the later slots down rather than swapping the last one in, which keeps the slots in
 * order of arrival; so does this. reason: 0 = eof, or a negative class. stopping: the
 * server stops, and no close line is wanted. */
static void remove_socket_info(struct server *sv, DWORD i, int reason, int stopping)
{
    struct conn *c = sv->info[i];
    DWORD j;

    if (!stopping)
        ec_log_close(c->echo.peer, reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);
    WSACloseEvent(sv->events[i]);
    for (j = i; j + 1 < sv->total; j++) {
        sv->info[j] = sv->info[j + 1];
        sv->events[j] = sv->events[j + 1];
    }
    sv->total--;
}

/* Sends the pending echo until it is all out (returns 0), the socket is full (returns 1:
 * that send armed FD_WRITE), or a send fails (a negative class). A short count is
 * followed by another send (B12): under Wine and Linux a nonblocking send completes
 * short (notes W-SHORT), and no FD_WRITE would come for the rest. */
static int conn_flush(struct conn *c)
{
    while (!ec_echo_idle(&c->echo)) {
        ptrdiff_t n = ec_echo_flush(&c->echo, c->sock);
        if (n == -EC_EWOULDBLOCK)
            return 1;
        if (n < 0)
            return (int)n;
    }
    return 0;
}

/* Serves one network event of a client: flush what is pending, then one recv (a single
 * recv per FD_READ, WSAAsyncSelect rule 2) and its echo. The recv comes after every
 * completed flush even when no FD_READ was reported this time: an FD_READ seen while the
 * echo was still pending was left unanswered, and only a recv re-enables it (rule 1; any
 * call, even one that fails with WSAEWOULDBLOCK, re-enables). After a graceful FD_CLOSE
 * the loop keeps reading until recv returns 0, so every byte that came before the FIN is
 * echoed before the close (B4, RFC 862). Returns 1 to keep the connection, or the close
 * reason: 0 for eof, a negative class for an error. */
static int conn_service(struct conn *c)
{
    for (;;) {
        ptrdiff_t n;
        int rc = conn_flush(c);

        if (rc != 0)
            return rc > 0 ? 1 : rc;
        n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);
        if (n == -EC_EWOULDBLOCK)
            return c->peer_closed ? 0 : 1; /* after FD_CLOSE nothing more can come */
        if (n <= 0)
            return (int)n; /* 0: the peer's FIN, all echoed; or an error */
        rc = ec_echo_received(&c->echo, NULL, (size_t)n);
        if (rc < 0)
            return rc;
        if (!c->peer_closed) {
            rc = conn_flush(c);
            return rc < 0 ? rc : 1;
        }
    }
}

/* The close reason for an iErrorCode of WSAEnumNetworkEvents. Real Windows reports a
 * peer's RST in FD_CLOSE as WSAECONNABORTED [WT sock.c:6885], the docs say WSAECONNRESET;
 * both are the peer's reset. (Wine 8.0 reports 0 there: notes W-RSTERR.) */
static int event_error(int code)
{
    if (code == WSAECONNABORTED || code == WSAECONNRESET)
        return -EC_ECONNRESET;
    return ec_err_from_os(code);
}

/* Handles the events of the client in slot i. Returns 1 when the slot was removed (the
 * next client now sits in slot i), else 0. */
static int on_client_event(struct server *sv, DWORD i)
{
    struct conn *c = sv->info[i];
    WSANETWORKEVENTS ne;
    int rc;

    if (WSAEnumNetworkEvents(c->sock, sv->events[i], &ne) == SOCKET_ERROR) {
        remove_socket_info(sv, i, ec_sock_error(), 0);
        return 1;
    }
    if ((ne.lNetworkEvents & FD_CLOSE) && ne.iErrorCode[FD_CLOSE_BIT] != 0) {
        remove_socket_info(sv, i, event_error(ne.iErrorCode[FD_CLOSE_BIT]), 0);
        return 1;
    }
    if ((ne.lNetworkEvents & FD_READ) && ne.iErrorCode[FD_READ_BIT] != 0) {
        remove_socket_info(sv, i, event_error(ne.iErrorCode[FD_READ_BIT]), 0);
        return 1;
    }
    if ((ne.lNetworkEvents & FD_WRITE) && ne.iErrorCode[FD_WRITE_BIT] != 0) {
        remove_socket_info(sv, i, event_error(ne.iErrorCode[FD_WRITE_BIT]), 0);
        return 1;
    }
    if (ne.lNetworkEvents & FD_CLOSE)
        c->peer_closed = 1; /* drain first: Windows posts it with data still unread */
    if (ne.lNetworkEvents == 0)
        return 0;
    rc = conn_service(c);
    if (rc == 1)
        return 0;
    remove_socket_info(sv, i, rc, 0);
    return 1;
}

/* FD_ACCEPT on slot 0: accepts one connection and serves or refuses it. A failed accept
 * ends nothing but itself (B3): on Windows a client that resets before accept makes it
 * fail with WSAECONNRESET [DOC accept]. */
static void on_accept(struct server *sv)
{
    WSANETWORKEVENTS ne;
    char peer[EC_ADDRSTRLEN];
    ec_sock_t s;
    int rc;

    if (WSAEnumNetworkEvents(sv->listener, sv->events[0], &ne) == SOCKET_ERROR) {
        if (!ec_server_stopping())
            ec_warn("WSAEnumNetworkEvents on the listener failed: %s",
                    ec_err_name(ec_sock_error()));
        return;
    }
    if (!(ne.lNetworkEvents & FD_ACCEPT))
        return;
    if (ne.iErrorCode[FD_ACCEPT_BIT] != 0) {
        ec_warn("FD_ACCEPT reported error %d", ne.iErrorCode[FD_ACCEPT_BIT]);
        return;
    }
    rc = ec_accept(sv->listener, &s, peer);
    if (rc < 0) {
        /* A would-block is a connection that went away between FD_ACCEPT and accept. */
        if (rc != -EC_EWOULDBLOCK && !ec_server_stopping())
            ec_warn("accept failed: %s (%d)", ec_err_name(rc), ec_sock_oserror());
        return;
    }
    if (sv->total - 1 >= sv->max_clients) {
        ec_log_refuse(peer, sv->limit_reason);
        ec_sock_close(s);
        return;
    }
    rc = add_socket_info(sv, s, peer);
    if (rc < 0) {
        ec_log_refuse(peer, ec_err_name(rc));
        ec_sock_close(s);
        return;
    }
    ec_log_accept(peer);
}

/* Serves echo with WSAEventSelect until ec_server_stopping(); see the header comment.
 * The textbook runs this loop in a worker thread that main only waits for; here the
 * calling thread runs it. Returns 0 after a stop, 1 on a fatal error. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    static struct server sv; /* 64 slots of two arrays: not for the stack */
    int status = 0;

    sv.listener = listener;
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
    if (WSAEventSelect(listener, sv.events[0], FD_ACCEPT | FD_CLOSE) == SOCKET_ERROR) {
        ec_warn("WSAEventSelect on the listener failed: %s", ec_err_name(ec_sock_error()));
        WSACloseEvent(sv.events[0]);
        return 1;
    }
    sv.info[0] = NULL;
    sv.total = 1;

    while (!ec_server_stopping()) {
        DWORD i, j;
        DWORD r = WSAWaitForMultipleEvents(sv.total, sv.events, FALSE, STOP_POLL_MS, FALSE);

        if (r == WSA_WAIT_TIMEOUT)
            continue;
        if (r == WSA_WAIT_FAILED || r - WSA_WAIT_EVENT_0 >= sv.total) {
            ec_warn("WSAWaitForMultipleEvents failed: %s", ec_err_name(ec_sock_error()));
            status = 1;
            break;
        }
        /* Every client from the signalled slot on whose event is signalled gets one turn
         * (a zero-timeout wait tells); a turn that closes slot j moves the next client
         * into it. The listener, slot 0, comes last in its round: clients that left in
         * the same round free their slots before a newcomer is counted against the
         * limit. */
        i = r - WSA_WAIT_EVENT_0;
        for (j = i == 0 ? 1 : i; j < sv.total;) {
            if (WSAWaitForMultipleEvents(1, &sv.events[j], FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 &&
                on_client_event(&sv, j))
                continue;
            j++;
        }
        if (i == 0)
            on_accept(&sv);
    }

    while (sv.total > 1)
        remove_socket_info(&sv, sv.total - 1, 0, 1);
    /* The listener belongs to server_main: give it back without our event. It may already
     * be closed by the stop request, so the result does not matter. */
    WSAEventSelect(listener, NULL, 0);
    WSACloseEvent(sv.events[0]);
    return status;
}
