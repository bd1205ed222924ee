/* halfclose.c - ec-halfclose: sends N bytes, shuts down its sending side (FIN), reads
 * until end-of-file, and reports the bytes that came back before the server closed. RFC
 * 862 wants every byte received sent back; a server that closes as soon as it sees the
 * FIN (EPOLLRDHUP, FD_CLOSE before the last FD_READ) loses the echo it owes:
 * lost-after-half-close. The end must be a FIN, not a reset. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --size N             bytes sent before the half-close (default 4096, 4 x the\n"
    "                       servers' default bufsize); k, M allowed\n"
    "  --separate-fin       let the data leave before the FIN (default: TCP_CORK holds\n"
    "                       the last bytes so the FIN rides on their segment)\n";

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-halfclose");
    cli.summary = "Sends N bytes, half-closes (shutdown SHUT_WR), reads until end-of-file:\n"
                  "every byte must come back before the server's orderly close.";
    cli.options = options;
    cli.example = "ec-halfclose --server \"echo-posix-epoll-et\" --size 64k";
    long long size = 4096;
    int cork = 1;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 1, 64 * 1024 * 1024);
        else if (strcmp(argv[i], "--separate-fin") == 0)
            cork = 0;
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    ec_cli_start(&cli);

    size_t n = (size_t)size;
    unsigned char *buf = malloc(n);
    if (!buf)
        return EC_CLI_CANNOT_RUN;
    ec_pattern_fill(buf, n, cli.seed, 0);
    struct ec_conn c;
    ec_conn_init(&c, "c0", &cli.tl);
    double t_eof = -1;
    if (ec_cli_connect(&cli, &c) == 0) {
        const unsigned char *piece = buf;
        struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = -1};
        /* Under TCP_CORK the kernel holds a partial segment (tcp(7)), and shutdown()
         * tacks the FIN onto the last unsent one (tcp_send_fin), so the server sees the
         * last bytes and the end in one event: the moment a server that closes on
         * its half-close notice (EPOLLRDHUP, FD_CLOSE) drops the echo it owes. */
        if (cork && ec_sock_set_cork(c.fd, 1) < 0)
            cork = 0;
        double t0 = ec_cli_now_ms(&cli);
        /* The echo is drained while sending (c.reading), so a large N cannot deadlock
         * against a server blocked on its own send. */
        long long k = ec_conn_send(&c, &piece, &n, 1, &plan, ec_cli_timeout(&cli));
        int sr = ec_conn_shutdown_wr(&c);
        double t1 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli,
                   "sent %zu of %zu bytes and half-closed%s%s%s (%.3f ms); %zu bytes of "
                   "echo so far",
                   c.sent_len, n, cork ? ", FIN with the last bytes (TCP_CORK)" : "",
                   k < 0 || sr < 0 ? ": " : "",
                   k < 0    ? ec_err_name((int)k)
                   : sr < 0 ? ec_err_name(sr)
                            : "",
                   t1 - t0, c.recvd_len);
        enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
        if (ec_cli_check_echo(&cli, &c, 0, c.sent_len, rx, "the echo after the half-close") == 0) {
            /* All bytes are back: now the end must be an orderly close. */
            rx = ec_conn_wait_end(&c, ec_cli_deadline(&cli, cli.timeout_ms));
            if (rx == EC_RX_RESET)
                ec_cli_fail(&cli, EC_DIAG_UNEXPECTED_RESET,
                            "an orderly close (FIN) after the whole echo",
                            "a reset (RST) after the whole echo");
            else if (rx == EC_RX_DATA)
                ec_cli_fail(&cli, EC_DIAG_ECHO_MISMATCH, "exactly the bytes sent, then FIN",
                            "%zu bytes more than the %zu sent", c.recvd_len - c.sent_len,
                            c.sent_len);
            else if (rx == EC_RX_TIMEOUT)
                ec_cli_fail(&cli, EC_DIAG_NO_CLOSE_AFTER_EOF,
                            "the server closes after the client's FIN",
                            "the whole echo came back, then no end-of-file (and no reset) "
                            "within %d ms",
                            ec_cli_timeout(&cli));
            else if (rx == EC_RX_ERROR)
                ec_cli_fail(&cli, EC_DIAG_UNEXPECTED_RESET, "an orderly close (FIN)",
                            "an error: %s", ec_err_name(c.err));
        }
        if (c.eof)
            t_eof = ec_cli_now_ms(&cli) - t1;
        ec_cli_say(&cli, "received %zu of %zu bytes before the server %s%s", c.recvd_len,
                   c.sent_len,
                   c.eof                     ? "closed (FIN)"
                   : c.err == -EC_ECONNRESET ? "reset the connection"
                                             : "went quiet",
                   c.eof ? "" : " (no end-of-file)");
        if (t_eof >= 0)
            ec_cli_say(&cli, "end-of-file %.3f ms after the half-close", t_eof);
        ec_conn_close(&c);
    }
    ec_cli_metric(&cli, "bytes_sent", (double)c.sent_len);
    ec_cli_metric(&cli, "bytes_back_before_close", (double)c.recvd_len);
    ec_cli_metric_str(&cli, "end", c.eof ? "fin" : c.err == -EC_ECONNRESET ? "reset" : "none");
    if (t_eof >= 0)
        ec_cli_metric(&cli, "eof_after_half_close_ms", t_eof);
    ec_conn_free(&c);
    free(buf);
    return ec_cli_finish(&cli);
}
