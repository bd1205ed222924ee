/* slowreader.c - ec-slowreader: a small receive buffer, sends without reading until
 * the kernel refuses more, holds, then drains and verifies every byte; with --probe a
 * second connection pings throughout. A server must not lose the rest of a short send
 * (truncated-echo) nor block its one thread on it (head-of-line-blocking: the pinger
 * gets no answer while the slow reader is stuck). */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --rcvbuf N           receive buffer of the slow connection (default 4096)\n"
    "  --max N              send at most N bytes (default 16M); k, M allowed\n"
    "  --settle MS          the kernel refused more for MS: the pipe is full (default 200)\n"
    "  --hold MS            keep not reading this long after the pipe is full (default:\n"
    "                       twice the scaled --max-rtt, so a blocked probe shows)\n"
    "  --probe              a second connection pings throughout (isolation)\n"
    "  --interval MS        pause between two pings (default 10)\n"
    "  --max-rtt MS         a ping round trip above MS is head-of-line-blocking\n"
    "                       (default 250, scaled by ECHOCONF_TIMEOUT_MULTIPLIER)\n";

#define PING_SIZE 32
#define MAX_PINGS 100000

/* The pinger's state, shared with main under mu. */
struct probe {
    struct ec_cli *cli;
    struct ec_conn c;
    int interval_ms;
    int max_rtt_ms; /* scaled */
    pthread_mutex_t mu;
    int stop;
    double *rtt; /* ms of each completed ping */
    size_t n;
    double worst_at;  /* run time of the first ping over the bound, or -1 */
    double worst_rtt; /* its round trip (or how long it went unanswered) */
    enum ec_rx end;   /* how the probe ended if not by stop */
    int failed;
};

static int probe_stopped(struct probe *p)
{
    pthread_mutex_lock(&p->mu);
    int s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* The pinger: a ping of PING_SIZE bytes, its echo within the client timeout, a
 * pause, again, until main says stop. */
static void *probe_main(void *arg)
{
    struct probe *p = arg;
    struct ec_cli *cli = p->cli;
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
    unsigned char ping[PING_SIZE];
    for (uint64_t k = 0; !probe_stopped(p) && p->n < MAX_PINGS; k++) {
        ec_pattern_fill(ping, sizeof ping, cli->seed + 1, k * sizeof ping);
        const unsigned char *piece = ping;
        size_t len = sizeof ping, from = p->c.sent_len;
        double t0 = ec_cli_now_ms(cli);
        long long s = ec_conn_send(&p->c, &piece, &len, 1, &plan, ec_cli_timeout(cli));
        enum ec_rx rx =
            s < 0 ? EC_RX_ERROR
                  : ec_conn_recv_until(&p->c, from + len, ec_cli_deadline(cli, cli->timeout_ms));
        double rtt = ec_cli_now_ms(cli) - t0;
        pthread_mutex_lock(&p->mu);
        if (rx == EC_RX_OK)
            p->rtt[p->n++] = rtt;
        if ((rtt > p->max_rtt_ms || rx != EC_RX_OK) && p->worst_at < 0) {
            p->worst_at = t0;
            p->worst_rtt = rtt;
        }
        if (rx != EC_RX_OK) {
            p->end = rx;
            p->failed = 1;
        }
        pthread_mutex_unlock(&p->mu);
        if (rx != EC_RX_OK)
            break;
        /* Pacing between pings, not a synchronisation: the pings are the measure. */
        int64_t until = ec_clock_ms() + p->interval_ms;
        while (ec_clock_ms() < until && !probe_stopped(p))
            ec_conn_pump(&p->c, (int)(until - ec_clock_ms()));
    }
    return NULL;
}

/* Judges the probe's round trips; prints the percentiles. */
static void judge_probe(struct ec_cli *cli, struct probe *p)
{
    ec_cli_sort(p->rtt, p->n);
    double p50 = ec_cli_percentile(p->rtt, p->n, 50), p90 = ec_cli_percentile(p->rtt, p->n, 90),
           p99 = ec_cli_percentile(p->rtt, p->n, 99), mx = p->n ? p->rtt[p->n - 1] : 0;
    ec_cli_say(cli,
               "probe: %zu pings answered, round trip p50 %.3f ms, p90 %.3f, p99 %.3f, "
               "max %.3f (bound %d ms)%s%s",
               p->n, p50, p90, p99, mx, p->max_rtt_ms, p->failed ? "; the probe ended: " : "",
               p->failed ? ec_rx_name(p->end) : "");
    ec_cli_metric(cli, "probe_pings", (double)p->n);
    ec_cli_metric(cli, "probe_rtt_p50_ms", p50);
    ec_cli_metric(cli, "probe_rtt_p90_ms", p90);
    ec_cli_metric(cli, "probe_rtt_p99_ms", p99);
    ec_cli_metric(cli, "probe_rtt_max_ms", mx);
    if (p->worst_at >= 0) {
        char e[96];
        snprintf(e, sizeof e, "every ping of the probe answered within %d ms", p->max_rtt_ms);
        if (p->failed && p->end != EC_RX_TIMEOUT)
            ec_cli_fail(
                cli, p->end == EC_RX_EOF ? EC_DIAG_PREMATURE_CLOSE : EC_DIAG_UNEXPECTED_RESET, e,
                "the probe's connection ended (%s) at %.1f ms", ec_rx_name(p->end), p->worst_at);
        else
            ec_cli_fail(cli, EC_DIAG_HOL, e,
                        "a ping sent at %.1f ms, while the slow reader did not read, %s %.1f ms",
                        p->worst_at, p->failed ? "got no answer within" : "came back after",
                        p->worst_rtt);
    }
}

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-slowreader");
    cli.summary = "A slow reader: a small receive buffer, sends without reading until the kernel\n"
                  "refuses more, reports how much the server accepted, then drains and verifies\n"
                  "every byte. With --probe, a second connection pings throughout and reports\n"
                  "its round-trip percentiles (head-of-line-blocking above --max-rtt).";
    cli.options = options;
    cli.example = "ec-slowreader --server \"echo-posix-select\" --probe --max 4M";
    long long rcvbuf = 4096, max = 16 * 1024 * 1024, settle = 200, hold = -1, interval = 10,
              max_rtt = 250;
    int probe_on = 0;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--rcvbuf"))
            rcvbuf = ec_cli_number(&cli, argc, argv, &i, 1, 64 * 1024 * 1024);
        else if (ec_cli_is(argv[i], "--max"))
            max = ec_cli_number(&cli, argc, argv, &i, 1, 256 * 1024 * 1024);
        else if (ec_cli_is(argv[i], "--settle"))
            settle = ec_cli_number(&cli, argc, argv, &i, 1, 60000);
        else if (ec_cli_is(argv[i], "--hold"))
            hold = ec_cli_number(&cli, argc, argv, &i, 0, 60000);
        else if (strcmp(argv[i], "--probe") == 0)
            probe_on = 1;
        else if (ec_cli_is(argv[i], "--interval"))
            interval = ec_cli_number(&cli, argc, argv, &i, 0, 10000);
        else if (ec_cli_is(argv[i], "--max-rtt"))
            max_rtt = ec_cli_number(&cli, argc, argv, &i, 1, 600000);
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    ec_cli_start(&cli);

    struct probe p;
    memset(&p, 0, sizeof p);
    p.cli = &cli;
    p.interval_ms = (int)interval;
    p.max_rtt_ms = ec_scale_ms((int)max_rtt);
    if (hold < 0)
        hold = 2LL * p.max_rtt_ms;
    p.worst_at = -1;
    pthread_mutex_init(&p.mu, NULL);
    p.rtt = calloc(MAX_PINGS, sizeof *p.rtt);
    ec_conn_init(&p.c, "probe", &cli.tl);
    pthread_t th;
    int probe_running = 0;
    if (!p.rtt) {
        fprintf(stderr, "ec-slowreader: out of memory\n");
        return EC_CLI_CANNOT_RUN;
    }

    struct ec_conn c;
    ec_conn_init(&c, "slow", &cli.tl);
    ec_conn_set_bufsizes(&c, (int)rcvbuf, 0);
    long long filled = 0;
    if (probe_on && ec_cli_connect(&cli, &p.c) == 0) {
        if (pthread_create(&th, NULL, probe_main, &p) != 0) {
            fprintf(stderr, "ec-slowreader: cannot start the probe thread\n");
            return EC_CLI_CANNOT_RUN;
        }
        probe_running = 1;
        ec_cli_say(&cli, "probe: pinging %d bytes every %lld ms on a second connection", PING_SIZE,
                   interval);
    }
    if (!ec_cli_failed(&cli) && ec_cli_connect(&cli, &c) == 0) {
        /* Phase 1: send, never read, until the kernel takes nothing for settle ms. */
        c.reading = 0;
        double t0 = ec_cli_now_ms(&cli);
        filled =
            ec_conn_fill(&c, (size_t)max, cli.seed, ec_scale_ms((int)settle), ec_cli_timeout(&cli));
        double t1 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli,
                   "slow: receive buffer %lld, sent %zu bytes without reading in %.1f ms: "
                   "%s",
                   rcvbuf, c.sent_len, t1 - t0,
                   filled < 0                  ? ec_err_name((int)filled)
                   : c.sent_len >= (size_t)max ? "all of --max (the kernel never refused)"
                                               : "then the kernel refused more");
        /* Phase 2: stay stuck a while, so the probe measures the server meanwhile. */
        if (hold > 0 && filled >= 0) {
            ec_cli_say(&cli, "slow: holding %lld ms without reading", hold);
            poll(NULL, 0, (int)hold);
        }
        /* Phase 3: drain and verify every byte. */
        c.reading = 1;
        enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
        double t2 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli, "slow: drained %zu of %zu bytes in %.1f ms%s%s", c.recvd_len, c.sent_len,
                   t2 - t1 - (double)hold, rx == EC_RX_OK ? "" : ", then ",
                   rx == EC_RX_OK ? "" : ec_rx_name(rx));
        if (rx == EC_RX_TIMEOUT) {
            /* Silence while bytes are owed: lost, or only late? A marker tells. If its
             * echo comes back, the server is alive on this connection and the bytes
             * before the marker were dropped (the check then finds the hole). */
            unsigned char mark[64];
            ec_pattern_fill(mark, sizeof mark, cli.seed ^ 0x5EEDu, 0);
            const unsigned char *piece = mark;
            size_t mlen = sizeof mark, before = c.recvd_len;
            struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
            if (ec_conn_send(&c, &piece, &mlen, 1, &plan, ec_cli_timeout(&cli)) >= 0) {
                rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
                ec_cli_say(&cli,
                           "slow: after the silence, sent a %zu-byte marker; %zu more "
                           "bytes came back",
                           mlen, c.recvd_len - before);
            }
        }
        if (probe_running) {
            pthread_mutex_lock(&p.mu);
            p.stop = 1;
            pthread_mutex_unlock(&p.mu);
            pthread_join(th, NULL);
            probe_running = 0;
            judge_probe(&cli, &p);
            size_t pn = p.c.recvd_len < p.c.sent_len ? p.c.recvd_len : p.c.sent_len;
            ec_cli_check_echo(&cli, &p.c, 0, pn, EC_RX_OK, "the probe's pings");
        }
        ec_cli_check_echo(&cli, &c, 0, c.sent_len, rx, "the slow reader's echo");
        if (!ec_cli_failed(&cli) && filled < 0)
            ec_cli_fail(
                &cli, filled == -EC_ECONNRESET ? EC_DIAG_UNEXPECTED_RESET : EC_DIAG_PREMATURE_CLOSE,
                "the server accepts bytes until its buffers are full",
                "send failed (%s) after %zu bytes", ec_err_name((int)filled), c.sent_len);
        ec_conn_close(&c);
    }
    if (probe_running) {
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_mutex_unlock(&p.mu);
        pthread_join(th, NULL);
    }
    ec_cli_metric(&cli, "rcvbuf", (double)rcvbuf);
    ec_cli_metric(&cli, "accepted_bytes", (double)c.sent_len);
    ec_cli_metric(&cli, "bytes_received", (double)c.recvd_len);
    ec_conn_close(&p.c);
    ec_conn_free(&p.c);
    ec_conn_free(&c);
    free(p.rtt);
    pthread_mutex_destroy(&p.mu);
    return ec_cli_finish(&cli);
}
