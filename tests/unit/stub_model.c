/* stub_model.c - the smallest echo model, linked with server_main.c to test the server
 * front (options, readiness line, stop signals) without depending on a real model.
 * Blocking and iterative, as textbook example 02-03. With STUB_WORKERS it claims worker
 * threads (two per CPU by default) and reports the count it was given; with
 * STUB_UNAVAILABLE its probe fails, so it must never listen.
 */
#include <stdio.h>

#include "ec_server.h"

#if defined(STUB_WORKERS)
const struct ec_model ec_model = {
    .id = "unit-stub-workers",
    .summary = "Test stub with a --workers option; serves one client at a time.",
    .default_workers = -1,
};
#elif defined(STUB_UNAVAILABLE)
/* A probe that always fails, as posix-uring's does on a kernel without io_uring. */
static int probe_never(char *why, size_t len)
{
    snprintf(why, len, "the stub's probe always fails");
    return 1;
}

const struct ec_model ec_model = {
    .id = "unit-stub-unavailable",
    .summary = "Test stub whose probe says it cannot run here.",
    .default_workers = 0,
    .probe = probe_never,
};
#else
const struct ec_model ec_model = {
    .id = "unit-stub",
    .summary = "Test stub: blocking, one client at a time.",
    .default_workers = 0,
};
#endif

/* Serves one client: echo until EOF or an error. */
static void serve_client(ec_sock_t c, const char *peer, const struct ec_server_opts *o)
{
    struct ec_echo e;
    if (ec_echo_init(&e, peer, &o->framing, o->bufsize) < 0) {
        ec_sock_close(c);
        return;
    }
    ec_log_close(peer, ec_echo_serve_blocking(&e, c));
    ec_echo_free(&e);
    ec_sock_close(c);
}

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    ec_log_line("options bufsize=%zu workers=%d max-clients=%d", o->bufsize, o->workers,
                o->max_clients);
    for (;;) {
        ec_sock_t c;
        char peer[EC_ADDRSTRLEN];
        int rc = ec_accept(listener, &c, peer);
        if (rc < 0) {
            if (ec_server_stopping())
                return 0;
            if (rc == -EC_EINTR || rc == -EC_ECONNABORTED)
                continue;
            ec_warn("accept failed: %s", ec_err_name(rc));
            return 1;
        }
        ec_log_accept(peer);
        if (o->sndbuf) {
            /* What --sndbuf left on the accepted socket, for the unit test. */
            int v = 0;
            socklen_t vl = sizeof v;
            getsockopt(c, SOL_SOCKET, SO_SNDBUF, (void *)&v, &vl);
            ec_log_line("sndbuf peer=%s bytes=%d", peer, v);
        }
        serve_client(c, peer, o);
    }
}
