/* pingpong.c - ec-pingpong: a latency client. One connection, one message at a time,
 * each echo waited for and checked; it reports round trips per second and p50, p90,
 * p99 and max. A message longer than the server's buffer takes several recvs there: an
 * edge-triggered server that does not read to EAGAIN answers part of it and waits
 * (stall). The benchmark work builds on these figures. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --count N            round trips (default 1000)\n"
    "  --size N             bytes per message (default 32); k, M allowed\n"
    "  --duration MS        stop after MS even if --count is not reached\n"
    "  --max-p99 MS         fail (stall) when the p99 round trip exceeds MS (scaled)\n";

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-pingpong");
    cli.summary = "A latency client: one message at a time, each echo waited for and checked;\n"
                  "reports round trips per second and p50/p90/p99/max round trips.";
    cli.options = options;
    cli.example = "ec-pingpong --server \"echo-posix-epoll\" --count 10000 --size 64";
    long long count = 1000, size = 32, duration = 0, max_p99 = 0;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--count"))
            count = ec_cli_number(&cli, argc, argv, &i, 1, 100000000);
        else if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 1, 16 * 1024 * 1024);
        else if (ec_cli_is(argv[i], "--duration"))
            duration = ec_cli_number(&cli, argc, argv, &i, 1, 3600 * 1000);
        else if (ec_cli_is(argv[i], "--max-p99"))
            max_p99 = ec_cli_number(&cli, argc, argv, &i, 1, 600000);
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    ec_cli_start(&cli);

    /* One preallocated message buffer, refilled per round (no allocation per round
     * trip: a page fault costs about 20 us on these machines, STYLE.md). The
     * connection's history grows by doubling, so its cost is amortised. */
    size_t n = (size_t)size;
    unsigned char *msg = malloc(n);
    double *rtt = calloc((size_t)count, sizeof *rtt);
    if (!msg || !rtt) {
        fprintf(stderr, "ec-pingpong: out of memory\n");
        return EC_CLI_CANNOT_RUN;
    }
    struct ec_conn c;
    /* Without a timeline: a million round trips would only fill it. */
    ec_conn_init(&c, "c0", NULL);
    size_t done = 0;
    double t_total = 0;
    if (ec_cli_connect(&cli, &c) == 0) {
        struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
        int64_t stop_at = duration ? ec_clock_ms() + duration : 0;
        double t0 = ec_cli_now_ms(&cli);
        for (size_t r = 0; r < (size_t)count; r++) {
            if (stop_at && ec_clock_ms() >= stop_at)
                break;
            ec_pattern_fill(msg, n, cli.seed, (uint64_t)r * n);
            const unsigned char *piece = msg;
            size_t from = c.sent_len;
            double a = ec_cli_now_ms(&cli);
            long long k = ec_conn_send(&c, &piece, &n, 1, &plan, ec_cli_timeout(&cli));
            enum ec_rx rx =
                ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
            double b = ec_cli_now_ms(&cli);
            char what[48];
            snprintf(what, sizeof what, "round trip %zu", r + 1);
            if (ec_cli_check_echo(&cli, &c, from, c.sent_len - from, rx, what) < 0)
                break;
            if (k < 0) {
                ec_cli_fail(
                    &cli, k == -EC_ECONNRESET ? EC_DIAG_UNEXPECTED_RESET : EC_DIAG_PREMATURE_CLOSE,
                    "every message sent", "%s: send failed (%s)", what, ec_err_name((int)k));
                break;
            }
            if (c.recvd_len > c.sent_len) {
                ec_cli_fail(&cli, EC_DIAG_ECHO_MISMATCH, "exactly the bytes sent, no more",
                            "%s: %zu bytes more than sent", what, c.recvd_len - c.sent_len);
                break;
            }
            rtt[done++] = b - a;
            /* The histories are not needed once checked: keep memory flat. */
            c.sent_len = c.recvd_len = 0;
        }
        t_total = ec_cli_now_ms(&cli) - t0;
        ec_conn_close(&c);
    }
    ec_cli_sort(rtt, done);
    double p50 = ec_cli_percentile(rtt, done, 50), p90 = ec_cli_percentile(rtt, done, 90),
           p99 = ec_cli_percentile(rtt, done, 99), mx = done ? rtt[done - 1] : 0;
    double rate = t_total > 0 ? (double)done * 1000.0 / t_total : 0;
    ec_cli_say(&cli, "%zu round trips of %zu bytes in %.1f ms: %.0f round trips/s", done, n,
               t_total, rate);
    ec_cli_say(&cli, "round trip p50 %.3f ms, p90 %.3f, p99 %.3f, max %.3f", p50, p90, p99, mx);
    if (max_p99 && done && p99 > ec_scale_ms((int)max_p99)) {
        char e[80];
        snprintf(e, sizeof e, "p99 round trip within %d ms", ec_scale_ms((int)max_p99));
        ec_cli_fail(&cli, EC_DIAG_STALL, e, "p99 %.3f ms over %zu round trips", p99, done);
    }
    ec_cli_metric(&cli, "round_trips", (double)done);
    ec_cli_metric(&cli, "size", (double)n);
    ec_cli_metric(&cli, "round_trips_per_s", rate);
    ec_cli_metric(&cli, "rtt_p50_ms", p50);
    ec_cli_metric(&cli, "rtt_p90_ms", p90);
    ec_cli_metric(&cli, "rtt_p99_ms", p99);
    ec_cli_metric(&cli, "rtt_max_ms", mx);
    ec_conn_free(&c);
    free(msg);
    free(rtt);
    return ec_cli_finish(&cli);
}
