/* abort.c - ec-abort: resets connections (SO_LINGER {1, 0}: RST, not FIN) before,
 * during or after an echo, then checks that a new, normal connection is served. A
 * server that treats ECONNRESET/EPIPE as fatal, or dies of SIGPIPE (Linux raises it on
 * a send after a reset, notes L4), serves nobody after: died-after-reset; one that
 * wedges: stall. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --at WHEN            before-send | mid-echo (default) | after-echo\n"
    "  --send N             bytes sent before the reset (default: 0 before-send,\n"
    "                       at most 4M mid-echo (until the kernel takes no more),\n"
    "                       4096 after-echo)\n"
    "  --read M             mid-echo: read at least M bytes of the echo before the reset\n"
    "                       (default 0: the whole echo is still owed)\n"
    "  --rcvbuf N           mid-echo: receive buffer (default 8192), so the server still\n"
    "                       has echo to send when the reset comes\n"
    "  --shutdown           half-close (FIN) just before the reset: the server is then\n"
    "                       in CLOSE_WAIT and its next send fails with EPIPE on Linux\n"
    "  --count K            reset K connections one after another (default 3)\n";

enum at { AT_BEFORE_SEND, AT_MID_ECHO, AT_AFTER_ECHO };

/* Checks the echo read before a reset. From the second round on, a connection that
 * ends early is the work of the resets before it when the server is gone. */
static int check_before_reset(struct ec_cli *cli, struct ec_conn *c, size_t want, enum ec_rx rx,
                              int round)
{
    char why[64];
    if (rx != EC_RX_OK && round > 0 && ec_cli_server_died(cli, ec_scale_ms(300), why, sizeof why)) {
        ec_cli_fail(cli, EC_DIAG_DIED_AFTER_RESET, "the server survives the resets",
                    "after %d reset(s), connection %d got %s; the server %s", round, round,
                    ec_rx_name(rx), why);
        return -1;
    }
    return ec_cli_check_echo(cli, c, 0, want, rx, "the echo before the reset");
}

/* One aborted connection. Returns 0, or -1 after recording a diagnosis (the echo
 * before the reset was wrong). */
static int abort_one(struct ec_cli *cli, enum at at, long long nsend, long long nread, int rcvbuf,
                     int half_close, int round)
{
    struct ec_conn c;
    char label[16];
    snprintf(label, sizeof label, "abort%d", round);
    ec_conn_init(&c, label, &cli->tl);
    int rc = 0;
    /* A small receive buffer for a reset mid-echo: the echo backs up in the server,
     * not in our kernel. */
    if (at == AT_MID_ECHO)
        ec_conn_set_bufsizes(&c, rcvbuf, 0);
    char why[64];
    if (round > 0 && ec_cli_server_died(cli, 0, why, sizeof why)) {
        ec_cli_fail(cli, EC_DIAG_DIED_AFTER_RESET, "the server survives the resets",
                    "after %d reset(s) the server %s", round, why);
        ec_conn_free(&c);
        return -1;
    }
    int crc = ec_conn_connect(&c, cli->host, cli->port, ec_cli_timeout(cli));
    if (crc < 0) {
        if (round > 0 && ec_cli_server_died(cli, ec_scale_ms(300), why, sizeof why))
            ec_cli_fail(cli, EC_DIAG_DIED_AFTER_RESET, "the server survives the resets",
                        "connect %d failed (%s); the server %s", round, ec_err_name(crc), why);
        else
            ec_cli_fail(cli, EC_DIAG_CONNECT_FAILED, "a connection to the server",
                        "connect %d failed: %s", round, ec_err_name(crc));
        ec_conn_free(&c);
        return -1;
    }
    if (at == AT_MID_ECHO) {
        /* Send without reading, so that the server's echo backs up behind our small
         * receive buffer; read a part of it; reset while the rest is owed. */
        c.reading = 0;
        /* With --shutdown, TCP_CORK holds the bytes (up to a full segment) until the
         * shutdown tacks the FIN onto the last of them (tcp(7), tcp_send_fin): the
         * server gets the data and the end at once, and the reset right after, while
         * it is still reading and echoing. Its socket is then in CLOSE_WAIT, where an
         * RST makes the next send fail with EPIPE (notes L4): SIGPIPE unless ignored. */
        if (half_close)
            ec_sock_set_cork(c.fd, 1);
        long long k =
            ec_conn_fill(&c, (size_t)nsend, cli->seed + (uint64_t)round, 100, ec_cli_timeout(cli));
        size_t want = (size_t)nread < c.sent_len ? (size_t)nread : c.sent_len;
        c.reading = 1;
        enum ec_rx rx = ec_conn_recv_until(&c, want, ec_cli_deadline(cli, cli->timeout_ms));
        ec_cli_say(cli, "%s: sent %zu bytes without reading (%s), read %zu of the echo%s%s", label,
                   c.sent_len,
                   k < 0                        ? ec_err_name((int)k)
                   : c.sent_len < (size_t)nsend ? "then the kernel took no more"
                                                : "all of them",
                   c.recvd_len, rx == EC_RX_OK ? "" : ", then ",
                   rx == EC_RX_OK ? "" : ec_rx_name(rx));
        rc = check_before_reset(cli, &c, want, rx, round);
    } else if (at == AT_AFTER_ECHO) {
        unsigned char *buf = malloc((size_t)nsend);
        if (!buf)
            return -1;
        ec_pattern_fill(buf, (size_t)nsend, cli->seed + (uint64_t)round, 0);
        const unsigned char *piece = buf;
        size_t len = (size_t)nsend;
        struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = -1};
        ec_conn_send(&c, &piece, &len, 1, &plan, ec_cli_timeout(cli));
        enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(cli, cli->timeout_ms));
        ec_cli_say(cli, "%s: sent %zu bytes, read %zu bytes of echo", label, c.sent_len,
                   c.recvd_len);
        rc = check_before_reset(cli, &c, (size_t)nsend, rx, round);
        free(buf);
    }
    if (half_close)
        ec_conn_shutdown_wr(&c);
    ec_conn_abort(&c);
    ec_cli_say(cli, "%s: %sreset (SO_LINGER {1, 0})", label,
               half_close ? "half-closed, then " : "");
    ec_conn_free(&c);
    return rc;
}

/* The second, normal connection: one ping must come back. */
static void check_served(struct ec_cli *cli)
{
    struct ec_conn c;
    ec_conn_init(&c, "after", &cli->tl);
    char why[64] = "";
    int rc = ec_conn_connect(&c, cli->host, cli->port, ec_cli_timeout(cli));
    if (rc < 0) {
        ec_cli_server_died(cli, ec_scale_ms(300), why, sizeof why);
        ec_cli_fail(cli, EC_DIAG_DIED_AFTER_RESET, "a new connection after the resets is served",
                    "connect failed: %s%s%s", ec_err_name(rc), why[0] ? "; the server " : "", why);
        ec_conn_free(&c);
        return;
    }
    static const unsigned char ping[] = "ping after the resets\n";
    const unsigned char *piece = ping;
    size_t len = sizeof ping - 1;
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = 1};
    double t0 = ec_cli_now_ms(cli);
    ec_conn_send(&c, &piece, &len, 1, &plan, ec_cli_timeout(cli));
    enum ec_rx rx = ec_conn_recv_until(&c, len, ec_cli_deadline(cli, cli->timeout_ms));
    double t1 = ec_cli_now_ms(cli);
    ec_cli_say(cli, "after: a new connection sent %zu bytes, got %zu back in %.3f ms%s%s", len,
               c.recvd_len, t1 - t0, rx == EC_RX_OK ? "" : ", then ",
               rx == EC_RX_OK ? "" : ec_rx_name(rx));
    ec_cli_metric(cli, "after_rtt_ms", t1 - t0);
    /* A server still alive that ends this connection is not dead: the echo check
     * names what it did (unexpected-reset, premature-close, truncated-echo). */
    if ((rx == EC_RX_EOF || rx == EC_RX_RESET || rx == EC_RX_ERROR) &&
        (ec_cli_server_died(cli, ec_scale_ms(300), why, sizeof why) || cli->target)) {
        ec_cli_fail(cli, EC_DIAG_DIED_AFTER_RESET, "a new connection after the resets is served",
                    "%zu bytes, then %s%s%s", c.recvd_len, ec_rx_name(rx),
                    why[0] ? "; the server " : "", why);
    } else {
        ec_cli_check_echo(cli, &c, 0, len, rx, "the ping after the resets");
    }
    ec_conn_close(&c);
    ec_conn_free(&c);
}

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-abort");
    cli.summary = "Resets connections (RST through SO_LINGER {1, 0}) before, during or after an\n"
                  "echo, then checks that a new, normal connection is still served:\n"
                  "died-after-reset if not, stall if it gets no answer.";
    cli.options = options;
    cli.example = "ec-abort --server \"echo-posix-poll\" --at mid-echo --shutdown";
    enum at at = AT_MID_ECHO;
    long long nsend = -1, nread = -1, count = 3, rcvbuf = 8192;
    int half_close = 0;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--at")) {
            const char *v = ec_cli_value(&cli, argc, argv, &i);
            if (strcmp(v, "before-send") == 0)
                at = AT_BEFORE_SEND;
            else if (strcmp(v, "mid-echo") == 0)
                at = AT_MID_ECHO;
            else if (strcmp(v, "after-echo") == 0)
                at = AT_AFTER_ECHO;
            else
                ec_cli_usage_error(&cli, "--at %s: expected before-send, mid-echo or after-echo",
                                   v);
        } else if (ec_cli_is(argv[i], "--send")) {
            nsend = ec_cli_number(&cli, argc, argv, &i, 0, 64 * 1024 * 1024);
        } else if (ec_cli_is(argv[i], "--read")) {
            nread = ec_cli_number(&cli, argc, argv, &i, 0, 64 * 1024 * 1024);
        } else if (ec_cli_is(argv[i], "--rcvbuf")) {
            rcvbuf = ec_cli_number(&cli, argc, argv, &i, 1, 64 * 1024 * 1024);
        } else if (ec_cli_is(argv[i], "--count")) {
            count = ec_cli_number(&cli, argc, argv, &i, 1, 10000);
        } else if (strcmp(argv[i], "--shutdown") == 0) {
            half_close = 1;
        } else {
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
        }
    }
    if (nsend < 0)
        nsend = at == AT_BEFORE_SEND ? 0 : at == AT_MID_ECHO ? 4 * 1024 * 1024 : 4096;
    if (at == AT_BEFORE_SEND && nsend > 0)
        ec_cli_usage_error(&cli, "--send %lld: nothing is sent with --at before-send", nsend);
    if (at != AT_BEFORE_SEND && nsend == 0)
        ec_cli_usage_error(&cli, "--send 0: --at mid-echo and after-echo need bytes to echo");
    if (nread < 0)
        nread = 0;
    if (at == AT_MID_ECHO && nread >= nsend)
        ec_cli_usage_error(&cli,
                           "--read %lld: must be less than --send %lld for a reset "
                           "mid-echo",
                           nread, nsend);
    ec_cli_start(&cli);

    static const char *const at_names[] = {"before-send", "mid-echo", "after-echo"};
    ec_cli_say(&cli, "%lld reset(s) %s, %lld bytes sent each%s", count, at_names[at], nsend,
               half_close ? ", half-closed first" : "");
    long long done = 0;
    for (long long r = 0; r < count && !ec_cli_failed(&cli); r++)
        if (abort_one(&cli, at, nsend, nread, (int)rcvbuf, half_close, (int)r) == 0)
            done++;
    if (!ec_cli_failed(&cli))
        check_served(&cli);
    ec_cli_metric_str(&cli, "at", at_names[at]);
    ec_cli_metric(&cli, "resets", (double)done);
    return ec_cli_finish(&cli);
}
