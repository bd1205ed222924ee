/* iterative.c - win32-iterative: the blocking iterative Winsock echo server (textbook 02-03).
 *
 * API: a blocking accept(), then blocking recv()/send() on that one client until it
 * leaves; only then is the next client accepted. Nothing asks for readiness: every call
 * blocks until it can complete.
 * Limit it exposes: one client at a time. A second client completes its handshake into
 * the listen backlog (the stack does that) and may even send, but it gets no echo until
 * the first one closes (notes 1.1). --max-clients can never be exceeded.
 * Textbook bugs fixed: 02-03 printed what it received after buf[retval] = '\0', one past
 * the end of a BUFFERSIZE buffer (notes B1); here every byte is echoed back, partial
 * sends finished, through struct ec_echo. An accept() failure caused by a client (on
 * Windows a reset before accept gives WSAECONNRESET) is skipped as 02-03 does; the
 * copies in notes B3 `break` instead and end the process. A shortage pauses instead of
 * spinning.
 * Stopping: Ctrl-C / Ctrl-Break closes the listener (server_main), which ends a waiting
 * accept(); a client being served keeps it until it leaves or the grace period of
 * server_main ends the process. Wine 8.0: a recv() issued after a reset arrived returns
 * 0, so a reset client is logged as reason=eof there (notes 2.2 W-RST).
 */
#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "win32-iterative",
    .summary =
        "Blocking accept(), then blocking recv()/send() with one client until it leaves\n"
        "(textbook 02-03, Winsock). One client at a time: the next one waits in the listen\n"
        "backlog and gets no echo until the current one closes.",
    .default_workers = 0,
};

/* How long to wait before retrying accept() after a shortage (WSAEMFILE, WSAENOBUFS)
 * or a listener error: nothing signals that handles or buffers came back, and with no
 * client being served there is nothing else to do meanwhile. */
#define ACCEPT_BACKOFF_MS 100

/* The one client: what the textbook keeps in main()'s local variables. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* the pending echo (buf, recvbytes, sendbytes) */
    enum {
        CONN_RECEIVING, /* blocked in recv(): everything received so far was echoed */
        CONN_ECHOING,   /* blocked in send(): what the last recv() gave goes back */
        CONN_CLOSED     /* the peer left (EOF, reset or error): log and close */
    } state;
    int reason; /* why it closed: 0 = eof, else a negative class for ec_log_close() */
};

/* One blocking recv(): data becomes pending echo; 0 is the peer's FIN, and since every
 * byte before it was already echoed (we read only when nothing is owed), the close is
 * graceful and a half-closed peer has its whole echo; an error ends the connection. */
static void conn_on_readable(struct conn *c)
{
    ptrdiff_t n = ec_recv(c->sock, c->echo.rbuf, c->echo.bufsize, 0);

    if (n > 0) {
        c->reason = ec_echo_received(&c->echo, NULL, (size_t)n);
        c->state = c->reason == 0 ? CONN_ECHOING : CONN_CLOSED;
    } else if (n != -EC_EINTR) {
        /* WSAEINTR only comes from a cancelled blocking call (WSACancelBlockingCall, a
         * Winsock 1.1 relic): retrying is right. */
        c->reason = (int)n;
        c->state = CONN_CLOSED;
    }
}

/* Sends everything pending with blocking send()s; each successful call is one "send"
 * line. */
static void conn_flush(struct conn *c)
{
    int r = ec_echo_flush_all(&c->echo, c->sock);

    if (r < 0) {
        c->reason = r;
        c->state = CONN_CLOSED;
    } else {
        c->state = CONN_RECEIVING;
    }
}

/* Serves one client from accept to close: the textbook's inner while(1). */
static void conn_serve(ec_sock_t s, const char *peer, const struct ec_server_opts *o)
{
    struct conn c;

    c.sock = s;
    c.state = CONN_RECEIVING;
    c.reason = 0;
    if (ec_echo_init(&c.echo, peer, &o->framing, o->bufsize) != 0) {
        ec_log_refuse(peer, "no-memory");
        ec_sock_close(s);
        return;
    }
    ec_log_accept(peer);
    while (c.state != CONN_CLOSED) {
        if (c.state == CONN_RECEIVING)
            conn_on_readable(&c);
        else
            conn_flush(&c);
    }
    ec_log_close(peer, c.reason);
    ec_sock_close(s);
    ec_echo_free(&c.echo);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    while (!ec_server_stopping()) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        int r = ec_accept(listener, &s, peer);

        if (r == 0) {
            conn_serve(s, peer, o);
        } else if (ec_server_stopping()) {
            break; /* the listener was closed under accept() by the stop request */
        } else if (r == -EC_ECONNRESET || r == -EC_ECONNABORTED || r == -EC_ECLOSED ||
                   r == -EC_EINTR || r == -EC_EWOULDBLOCK) {
            /* That client is gone before we took it: on Windows a reset before accept
             * gives WSAECONNRESET (notes B3), on Wine 8.0 WSAENOTCONN. 02-03 went on
             * with the next one (`continue`), and so do we. */
            continue;
        } else {
            /* A shortage (WSAEMFILE, WSAENOBUFS) or a listener error: the process must
             * not end (B3), and the listener must not spin either. */
            ec_warn("accept: %s (Winsock error %d); retrying in %d ms", ec_err_name(r),
                    ec_sock_oserror(), ACCEPT_BACKOFF_MS);
            ec_sleep_ms(ACCEPT_BACKOFF_MS);
        }
    }
    return 0;
}
