/* iterative.c - posix-iterative: the blocking iterative echo server (textbook 02-03).
 *
 * API: blocking accept(), then blocking recv()/send() on that one client until it
 * leaves; only then is the next client accepted. Readiness is never asked for: every
 * call simply blocks until it can complete.
 * Limit it exposes: one client at a time. A second client completes its handshake into
 * the listen backlog (the kernel does that) and may even send, but it gets no echo
 * until the first client closes (notes 1.1); --max-clients can never be exceeded.
 * Textbook bugs fixed: 02-03 only printed what it received (buf[retval] = '\0' one past
 * the end of a BUFFERSIZE buffer, notes B1); here every byte is echoed with partial
 * sends finished, through struct ec_echo. An accept error no longer ends the process
 * (B3): a transient one is retried, and running out of descriptors refuses the waiting
 * client with the reserve-descriptor trick instead of spinning.
 * Stop: SIGTERM shuts the listener down, which ends the accept loop between clients;
 * a client being served holds the only thread in recv(), so then the process ends
 * after server_main's grace period, which closes every socket.
 */

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-iterative",
    .summary =
        "Blocking accept(), then blocking recv()/send() with one client until it leaves\n"
        "(textbook 02-03). One client at a time: the next one waits in the listen backlog\n"
        "and gets no echo until the current one closes.",
    .default_workers = 0,
};

/* How long to wait before retrying accept after an error that the reserve descriptor
 * cannot cure (ENOBUFS, a descriptor shortage that outlived the trick...). */
#define ACCEPT_BACKOFF_MS 100

/* Serves one client from accept to close: the textbook's inner while(1), a blocking
 * recv() and then send() of everything it gave, until recv() returns 0 (the peer's
 * FIN: all before it was echoed, so a half-close is honoured) or fails. That loop is
 * ec_echo_serve_blocking (ec_echo.h), shared with posix-thread: the two models differ
 * only in where it runs, here in the one thread that also accepts (02-03 vs 03-01). */
static void conn_serve(ec_sock_t s, const char *peer, const struct ec_server_opts *o)
{
    struct ec_echo echo; /* the pending echo: the textbook's buf, recvbytes, sendbytes */
    int reason;

    if (ec_echo_init(&echo, peer, &o->framing, o->bufsize) != 0) {
        ec_refuse(s, peer, "no-memory");
        return;
    }
    ec_log_accept(peer);
    reason = ec_echo_serve_blocking(&echo, s); /* blocks until the client leaves */
    ec_log_close(peer, reason);
    ec_sock_close(s);
    ec_echo_free(&echo);
}

/* The model (contract: ec_server.h): the textbook's outer while(1), accepting one
 * client and serving it to the end before accepting the next. Returns 0 once stopping. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    struct ec_acceptor acc; /* the reserve-descriptor answer to EMFILE */

    ec_acceptor_init(&acc, listener);
    while (!ec_server_stopping()) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        /* Out of descriptors, a waiting client is refused (reserve descriptor); any
         * failure is waited out, bounded, so that the loop never spins. */
        if (ec_acceptor_accept_or_wait(&acc, &s, peer, ACCEPT_BACKOFF_MS) == 0)
            conn_serve(s, peer, o);
    }
    ec_acceptor_close(&acc);
    return 0;
}
