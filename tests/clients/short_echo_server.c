/* short_echo_server.c - a test server for the clients' tests that closes mid-echo:
 * iterative, it reads what a client sent first (one recv), sends back only half of it
 * and closes in order. Having read everything, its close is a FIN, not an RST (RFC 9293
 * 3.6.1), so the client sees a short echo then end-of-file: what the textbook's recvn
 * accepts silently and ec-echo reports as truncated-echo. */
#include <stdlib.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "test-short-echo",
    .summary =
        "TEST SERVER: echoes only the first half of what each client sends first, then\n"
        "closes in order (FIN).",
    .default_workers = 0,
};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    unsigned char *buf = malloc(o->bufsize);
    if (!buf)
        return 1;
    while (!ec_server_stopping()) {
        ec_sock_t s;
        char peer[EC_ADDRSTRLEN];
        if (ec_accept(listener, &s, peer) < 0)
            continue;
        ec_log_accept(peer);
        ptrdiff_t n = ec_recv(s, buf, o->bufsize, 0);
        if (n > 0) {
            ec_log_recv(peer, (size_t)n, 0);
            size_t half = (size_t)n / 2 ? (size_t)n / 2 : 1;
            if (ec_sendn(s, buf, half, 5000, NULL) > 0)
                ec_log_send(peer, half);
        }
        ec_log_close(peer, n < 0 ? (int)n : 0);
        ec_sock_close(s);
    }
    free(buf);
    return 0;
}
