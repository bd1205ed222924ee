/* flood.c - ec-flood: many connections. It opens N at a bounded rate, holds them all,
 * pings each, and reports the first refused or not served (capacity-limit:K, K the
 * clients served before it). With --churn it closes and reconnects at once, many times:
 * each client must get its own bytes (cross-talk) and an answer (stall), and with
 * --server the server's descriptors must come back (fd-leak:N). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client_common.h"

static const char options[] =
    "  --connections N      connections held at once (default 100; churn: default 4)\n"
    "  --rate R             connections opened per second at most (default 1000)\n"
    "  --duration MS        stop opening connections after MS (default 10000)\n"
    "  --size N             bytes of each ping (default 16)\n"
    "  --churn M            M rounds of: connect all, ping each, close all, at once\n"
    "  --reset              with --churn: close by reset (RST) instead of FIN\n";

#define MAX_CONNS 20000

struct flood {
    struct ec_cli *cli;
    struct ec_conn *c;
    size_t n;                /* connections */
    size_t size;             /* ping size */
    unsigned char *payloads; /* n x size: this round's ping of each connection */
};

/* The ping of connection i in round r: seeded bytes unique to (r, i). */
static void make_ping(struct flood *f, size_t i, size_t r)
{
    ec_pattern_fill(f->payloads + i * f->size, f->size, f->cli->seed,
                    ((uint64_t)r * MAX_CONNS + i) * f->size);
}

/* Index of another connection whose ping the echo of connection i carries, or -1. */
static long other_owner(struct flood *f, size_t i)
{
    const struct ec_conn *c = &f->c[i];
    size_t from = c->sent_len - f->size;
    if (c->recvd_len < from + f->size)
        return -1;
    for (size_t j = 0; j < f->n; j++)
        if (j != i && memcmp(c->recvd + from, f->payloads + j * f->size, f->size) == 0)
            return (long)j;
    return -1;
}

/* Sends connection i its ping. Returns 0 or a negative class. */
static long long send_ping(struct flood *f, size_t i)
{
    const unsigned char *piece = f->payloads + i * f->size;
    size_t len = f->size;
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
    return ec_conn_send(&f->c[i], &piece, &len, 1, &plan, ec_cli_timeout(f->cli));
}

/* Waits for connection i's echo and checks it. Returns the outcome (EC_RX_DATA for
 * bytes that are not its own). */
static enum ec_rx recv_ping(struct flood *f, size_t i)
{
    struct ec_conn *c = &f->c[i];
    size_t from = c->sent_len - f->size;
    enum ec_rx rx = ec_conn_recv_until(c, c->sent_len, ec_cli_deadline(f->cli, f->cli->timeout_ms));
    if (rx == EC_RX_OK && memcmp(c->recvd + from, c->sent + from, f->size) != 0)
        return EC_RX_DATA;
    return rx;
}

/* Records the diagnosis of a wrong echo on connection i. */
static void fail_data(struct flood *f, size_t i)
{
    long j = other_owner(f, i);
    char e[96];
    snprintf(e, sizeof e, "connection %zu gets back its own %zu bytes", i + 1, f->size);
    if (j >= 0)
        ec_cli_fail(f->cli, EC_DIAG_CROSS_TALK, e, "it got the bytes of connection %ld", j + 1);
    else
        ec_cli_check_echo(f->cli, &f->c[i], f->c[i].sent_len - f->size, f->size, EC_RX_OK, e);
}

/* The capacity ramp. Returns the number of connections served. */
static size_t ramp(struct flood *f, long long rate, long long duration_ms)
{
    struct ec_cli *cli = f->cli;
    int64_t t0 = ec_clock_ms();
    size_t served = 0;
    for (size_t i = 0; i < f->n; i++) {
        /* Pacing: connection i opens no earlier than i / rate seconds after the start. */
        int64_t due = t0 + (int64_t)((double)i * 1000.0 / (double)rate);
        int64_t now = ec_clock_ms();
        if (now - t0 > duration_ms) {
            ec_cli_say(cli, "--duration %lld ms reached after %zu connections", duration_ms, i);
            break;
        }
        if (due > now)
            poll(NULL, 0, (int)(due - now));
        char label[24];
        snprintf(label, sizeof label, "c%zu", i + 1);
        ec_conn_init(&f->c[i], label, &cli->tl);
        make_ping(f, i, 0);
        char e[96];
        snprintf(e, sizeof e, "connection %zu is accepted and served", i + 1);
        int rc = ec_conn_connect(&f->c[i], cli->host, cli->port, ec_cli_timeout(cli));
        char diag[48];
        snprintf(diag, sizeof diag, "%s:%zu", EC_DIAG_CAPACITY, served);
        if (rc < 0) {
            /* Refused while nothing listens is no capacity limit (conformance/README.md,
             * Precedence): the listener is gone, or never was. */
            int here = cli->have_srv || strncmp(cli->host, "127.", 4) == 0 ||
                       strcmp(cli->host, "::1") == 0; /* listeners this host can see */
            if (rc == -EC_ECONNREFUSED && here && ec_port_listening(cli->port) == 0)
                ec_cli_fail(cli, EC_DIAG_CONNECT_FAILED, e,
                            "refused at connect with %zu clients served: nothing listens "
                            "on port %u",
                            served, cli->port);
            else
                ec_cli_fail(cli, diag, e, "refused at connect (%s) with %zu clients served",
                            ec_err_name(rc), served);
            return served;
        }
        long long k = send_ping(f, i);
        enum ec_rx rx = k < 0 ? (k == -EC_ECONNRESET ? EC_RX_RESET : EC_RX_ERROR) : recv_ping(f, i);
        if (rx == EC_RX_DATA) {
            fail_data(f, i);
            return served;
        }
        if (rx != EC_RX_OK && served == 0) {
            /* Not one client served: no capacity to speak of, the first echo failed. */
            ec_cli_check_echo(cli, &f->c[i], f->c[i].sent_len - f->size, f->size, rx, e);
            return served;
        }
        if (rx != EC_RX_OK) {
            ec_cli_fail(cli, diag, e, "%s with %zu clients served",
                        rx == EC_RX_TIMEOUT ? "connected but no echo within the timeout"
                        : rx == EC_RX_EOF   ? "connected, then closed without an echo"
                                            : "connected, then reset without an echo",
                        served);
            return served;
        }
        served++;
        if ((i + 1) % 100 == 0 || i + 1 == f->n)
            ec_cli_say(cli, "%zu connections open and served", i + 1);
    }
    /* Every connection still open must still be served. */
    for (size_t i = 0; i < served; i++)
        make_ping(f, i, 1);
    for (size_t i = 0; i < served && !ec_cli_failed(cli); i++) {
        long long k = send_ping(f, i);
        enum ec_rx rx = k < 0 ? EC_RX_ERROR : recv_ping(f, i);
        char e[96];
        snprintf(e, sizeof e, "connection %zu still served with %zu open", i + 1, served);
        if (rx == EC_RX_DATA)
            fail_data(f, i);
        else if (rx != EC_RX_OK)
            ec_cli_check_echo(cli, &f->c[i], f->c[i].sent_len - f->size, f->size, rx, e);
    }
    if (!ec_cli_failed(cli))
        ec_cli_say(cli, "all %zu connections answered a second ping", served);
    return served;
}

/* Closes every connection (by reset when asked). */
static void close_all(struct flood *f, size_t n, int reset)
{
    for (size_t i = 0; i < n; i++) {
        if (reset)
            ec_conn_abort(&f->c[i]);
        else
            ec_conn_close(&f->c[i]);
        ec_conn_free(&f->c[i]);
    }
}

/* The server's open descriptors, once they stop changing back to at most want,
 * within the timeout; -1 with --target. */
static int settled_fds(struct ec_cli *cli, int want)
{
    if (!cli->have_srv)
        return -1;
    int64_t deadline = ec_cli_deadline(cli, cli->timeout_ms);
    int n = ec_proc_fd_count(cli->srv.pid);
    /* No event says "the server closed its descriptors": look again every 2 ms. */
    while (n > want && ec_clock_ms() < deadline) {
        poll(NULL, 0, 2);
        n = ec_proc_fd_count(cli->srv.pid);
    }
    return n;
}

/* One more client (connect, ping, close), then the server's descriptors once they
 * settle back to at most want. A server that closed the connections of clients that
 * left only now, woken by this client, had stalled on them: an edge-triggered event
 * it skipped, a record it did not look at again. */
static int wake_and_count(struct ec_cli *cli, int want)
{
    struct ec_conn w;
    ec_conn_init(&w, "wake", &cli->tl);
    if (ec_conn_connect(&w, cli->host, cli->port, ec_cli_timeout(cli)) == 0) {
        static const unsigned char ping[] = "wake up";
        const unsigned char *piece = ping;
        size_t len = sizeof ping - 1;
        struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
        ec_conn_send(&w, &piece, &len, 1, &plan, ec_cli_timeout(cli));
        ec_conn_recv_until(&w, len, ec_cli_deadline(cli, cli->timeout_ms));
        ec_conn_close(&w);
    }
    ec_conn_free(&w);
    int n = settled_fds(cli, want);
    ec_cli_say(cli, "server descriptors after one more client: %d", n);
    return n;
}

/* The churn: rounds of connect all, ping each, close all at once. Returns the
 * rounds completed. */
static long long churn(struct flood *f, long long rounds, int reset, int before)
{
    struct ec_cli *cli = f->cli;
    long long r;
    for (r = 0; r < rounds && !ec_cli_failed(cli); r++) {
        size_t opened = 0;
        for (size_t i = 0; i < f->n; i++) {
            char label[24];
            snprintf(label, sizeof label, "r%u.c%u", (unsigned)((r + 1) % 10000000),
                     (unsigned)((i + 1) % 100000));
            ec_conn_init(&f->c[i], label, &cli->tl);
            opened++;
            make_ping(f, i, (size_t)r);
            if (ec_cli_connect(cli, &f->c[i]) < 0)
                break;
        }
        for (size_t i = 0; i < opened && !ec_cli_failed(cli); i++)
            send_ping(f, i);
        for (size_t i = 0; i < opened && !ec_cli_failed(cli); i++) {
            enum ec_rx rx = recv_ping(f, i);
            char e[96];
            snprintf(e, sizeof e, "round %lld, connection %zu: its own %zu bytes back", r + 1,
                     i + 1, f->size);
            if (rx == EC_RX_DATA)
                fail_data(f, i);
            else if (rx != EC_RX_OK)
                ec_cli_check_echo(cli, &f->c[i], f->c[i].sent_len - f->size, f->size, rx, e);
        }
        close_all(f, opened, reset);
        if (before < 0 || ec_cli_failed(cli))
            continue;
        /* After each round the server's descriptors must come back to where they were.
         * If they do not within the timeout, one more client tells a stall (they close
         * once it wakes the server) from a leak (they never do); a leak is counted at
         * the end, so rounds are not checked one by one any more. */
        int now = settled_fds(cli, before);
        if (now > before) {
            int woken = wake_and_count(cli, before);
            if (woken < now) {
                char e[120];
                snprintf(e, sizeof e,
                         "round %lld: the server closes every connection when its "
                         "client leaves",
                         r + 1);
                ec_cli_fail(cli, EC_DIAG_STALL, e,
                            "%d connections stayed open in the server after their clients left, "
                            "until another client woke it",
                            now - before);
            }
            before = -1;
        }
    }
    return r;
}

/* Raises the soft descriptor limit to fit n connections. Returns 0, or -1 when the
 * hard limit is too low. */
static int fit_descriptors(size_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rlim_t need = (rlim_t)n + 64;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return -1;
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-flood");
    cli.summary = "Opens many connections at a bounded rate, pings each, and reports the first\n"
                  "one refused or not served (capacity-limit:K); with --churn, closes and\n"
                  "reconnects at once many times (cross-talk, stall, fd-leak:N).";
    cli.options = options;
    cli.example = "ec-flood --server \"echo-posix-select\" --connections 1100 --rate 2000";
    long long nconn = -1, rate = 1000, duration = 10000, size = 16, rounds = 0;
    int reset = 0;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--connections"))
            nconn = ec_cli_number(&cli, argc, argv, &i, 1, MAX_CONNS);
        else if (ec_cli_is(argv[i], "--rate"))
            rate = ec_cli_number(&cli, argc, argv, &i, 1, 1000000);
        else if (ec_cli_is(argv[i], "--duration"))
            duration = ec_cli_number(&cli, argc, argv, &i, 1, 3600 * 1000);
        else if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 8, 65536);
        else if (ec_cli_is(argv[i], "--churn"))
            rounds = ec_cli_number(&cli, argc, argv, &i, 1, 1000000);
        else if (strcmp(argv[i], "--reset") == 0)
            reset = 1;
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    if (reset && !rounds)
        ec_cli_usage_error(&cli, "--reset: only with --churn");
    if (nconn < 0)
        nconn = rounds ? 4 : 100;
    if (fit_descriptors((size_t)nconn) < 0) {
        fprintf(stderr,
                "ec-flood: cannot run here: %lld connections need more descriptors "
                "than RLIMIT_NOFILE allows (ulimit -Hn)\n",
                nconn);
        return EC_CLI_CANNOT_RUN;
    }
    ec_cli_start(&cli);

    struct flood f = {.cli = &cli, .n = (size_t)nconn, .size = (size_t)size};
    f.c = calloc(f.n, sizeof *f.c);
    f.payloads = malloc(f.n * f.size);
    if (!f.c || !f.payloads) {
        fprintf(stderr, "ec-flood: out of memory\n");
        return EC_CLI_CANNOT_RUN;
    }
    if (rounds) {
        /* A warm-up client first: a server may open descriptors of its own once it
         * serves (its epoll instance, after the readiness line), and those are no
         * leak. Its end-of-file comes when the server has closed its socket. */
        struct ec_conn wu;
        ec_conn_init(&wu, "warm-up", &cli.tl);
        if (cli.have_srv && ec_cli_connect(&cli, &wu) == 0) {
            static const unsigned char hi[] = "warm-up";
            const unsigned char *piece = hi;
            size_t len = sizeof hi - 1;
            struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
            ec_conn_send(&wu, &piece, &len, 1, &plan, ec_cli_timeout(&cli));
            ec_conn_shutdown_wr(&wu);
            enum ec_rx rx = ec_conn_recv_until(&wu, len, ec_cli_deadline(&cli, cli.timeout_ms));
            if (ec_cli_check_echo(&cli, &wu, 0, len, rx, "the warm-up client") == 0)
                ec_conn_wait_end(&wu, ec_cli_deadline(&cli, cli.timeout_ms));
            ec_conn_close(&wu);
        }
        ec_conn_free(&wu);
        int before = settled_fds(&cli, 1 << 30);
        ec_cli_say(&cli, "churn: %lld rounds of %zu connections (connect, ping %zu bytes, %s)",
                   rounds, f.n, f.size, reset ? "reset" : "close");
        double t0 = ec_cli_now_ms(&cli);
        long long done = ec_cli_failed(&cli) ? 0 : churn(&f, rounds, reset, before);
        double t1 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli, "churn: %lld rounds, %lld connections in %.1f ms", done,
                   done * (long long)f.n, t1 - t0);
        ec_cli_metric(&cli, "rounds", (double)done);
        ec_cli_metric(&cli, "connections", (double)(done * (long long)f.n));
        if (before >= 0 && !ec_cli_failed(&cli)) {
            int after = settled_fds(&cli, before);
            ec_cli_say(&cli, "server descriptors: %d before the churn, %d after", before, after);
            ec_cli_metric(&cli, "server_fds_before", before);
            ec_cli_metric(&cli, "server_fds_after", after);
            if (after > before) {
                int woken = wake_and_count(&cli, before);
                if (woken < after)
                    ec_cli_fail(&cli, EC_DIAG_STALL,
                                "the server closes every connection when its client leaves",
                                "%d connections stayed open in the server after their clients "
                                "left, until another client woke it (%d descriptors after)",
                                after - before, woken);
            }
            if (after > before) {
                char d[48];
                snprintf(d, sizeof d, "fd-leak:%d", after - before);
                ec_cli_fail(&cli, d, "the server closes every connection it accepted",
                            "%d descriptors more after %lld connections (%d before, %d after)",
                            after - before, done * (long long)f.n, before, after);
            }
        }
    } else {
        ec_cli_say(&cli,
                   "ramp: up to %zu connections at %lld/s within %lld ms, a %zu-byte ping "
                   "each",
                   f.n, rate, duration, f.size);
        double t0 = ec_cli_now_ms(&cli);
        size_t served = ramp(&f, rate, duration);
        ec_cli_say(&cli, "%zu connections served at once (%.1f ms)", served,
                   ec_cli_now_ms(&cli) - t0);
        ec_cli_metric(&cli, "served", (double)served);
        size_t opened = 0;
        while (opened < f.n && f.c[opened].label[0])
            opened++;
        close_all(&f, opened, 0);
    }
    free(f.c);
    free(f.payloads);
    return ec_cli_finish(&cli);
}
