/* echo.c - ec-echo: the textbook's echo client (chapter 3, TCPClient) made exact. It
 * sends each line of stdin (without its newline) and reads the echo back with recvn of
 * exactly the length sent. The textbook's recvn returns a short count at end-of-file
 * and its client prints it as if all had come; here that is truncated-echo, and
 * different bytes, a reset or no answer in time are echo-mismatch, unexpected-reset,
 * stall. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

#define MAX_LINE (1024 * 1024)

static const char options[] =
    "  --message TEXT       send TEXT (instead of lines read from stdin)\n"
    "  --size N             send N seeded pattern bytes (instead of stdin); k, M allowed\n"
    "  --repeat N           send each message N times (default 1)\n"
    "  --gap MS             stay quiet MS ms between two messages, still reading (a\n"
    "                       server that closes idle clients shows as idle-timeout:MS)\n";

/* One message to send: its bytes. */
struct msg {
    unsigned char *p;
    size_t n;
};

/* Sends m and reads back exactly m->n bytes of echo. Returns 0 when they came back
 * equal, -1 after recording the diagnosis. */
static int echo_one(struct ec_cli *cli, struct ec_conn *c, const struct msg *m, size_t no)
{
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .nodelay = -1};
    size_t from = c->sent_len;
    char what[48], pv[96];
    snprintf(what, sizeof what, "message %zu", no);
    double t0 = ec_cli_now_ms(cli);
    const unsigned char *piece = m->p;
    long long k = ec_conn_send(c, &piece, &m->n, 1, &plan, ec_cli_timeout(cli));
    double t1 = ec_cli_now_ms(cli);
    size_t went = c->sent_len - from;
    ec_cli_say(cli, "%s: sent %zu of %zu bytes \"%s\" (%.3f ms)%s%s", what, went, m->n,
               ec_cli_preview(m->p, m->n, 40, pv, sizeof pv), t1 - t0,
               k < 0 ? ", send failed: " : "", k < 0 ? ec_err_name((int)k) : "");
    /* recvn of exactly what went: the textbook's recvn(sock, buf, retval, 0). */
    enum ec_rx rx = ec_conn_recv_until(c, from + went, ec_cli_deadline(cli, cli->timeout_ms));
    double t2 = ec_cli_now_ms(cli);
    size_t got = c->recvd_len - from;
    if (got > went)
        got = went;
    ec_cli_say(cli, "%s: received %zu of %zu bytes \"%s\" (%.3f ms after the send)%s%s", what, got,
               went, ec_cli_preview(c->recvd + from, got, 40, pv, sizeof pv), t2 - t1,
               rx == EC_RX_OK ? "" : ", then ", rx == EC_RX_OK ? "" : ec_rx_name(rx));
    if (ec_cli_check_echo(cli, c, from, went, rx, what) < 0)
        return -1;
    if (k < 0) {
        char e[96];
        snprintf(e, sizeof e, "%s: all %zu bytes sent", what, m->n);
        ec_cli_fail(cli, k == -EC_ECONNRESET ? EC_DIAG_UNEXPECTED_RESET : EC_DIAG_PREMATURE_CLOSE,
                    e, "send failed (%s) after %zu bytes", ec_err_name((int)k), went);
        return -1;
    }
    return 0;
}

/* Reads the messages: --message, --size, or the lines of stdin. Returns the count. */
static size_t load_messages(struct ec_cli *cli, const char *text, long long size, struct msg **out)
{
    struct msg *v = NULL;
    size_t n = 0, cap = 0;
    if (text || size > 0) {
        v = calloc(1, sizeof *v);
        if (!v)
            return 0;
        v->n = text ? strlen(text) : (size_t)size;
        v->p = malloc(v->n ? v->n : 1);
        if (!v->p)
            return 0;
        if (text)
            memcpy(v->p, text, v->n);
        else
            ec_pattern_fill(v->p, v->n, cli->seed, 0);
        *out = v;
        return 1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        /* The textbook removes the newline before sending: '\n' ends the input line,
         * it is not part of the message. An empty line ends the input (as there). */
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len == 0)
            break;
        if (len > MAX_LINE)
            ec_cli_usage_error(cli, "stdin: line %zu is longer than %d bytes", n + 1, MAX_LINE);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct msg *nv = realloc(v, cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[n].n = (size_t)len;
        v[n].p = malloc((size_t)len);
        if (!v[n].p)
            break;
        memcpy(v[n].p, line, (size_t)len);
        n++;
    }
    free(line);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-echo");
    cli.summary = "The textbook's echo client made exact: sends each message and reads back\n"
                  "exactly as many bytes with recvn. A short echo before end-of-file is\n"
                  "truncated-echo, never success.";
    cli.options = options;
    cli.example = "printf 'hello\\nworld\\n' | ec-echo --server \"echo-posix-epoll\"";
    const char *text = NULL;
    long long size = 0, repeat = 1, gap = 0;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--message"))
            text = ec_cli_value(&cli, argc, argv, &i);
        else if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 1, 64 * 1024 * 1024);
        else if (ec_cli_is(argv[i], "--repeat"))
            repeat = ec_cli_number(&cli, argc, argv, &i, 1, 1000000);
        else if (ec_cli_is(argv[i], "--gap"))
            gap = ec_cli_number(&cli, argc, argv, &i, 0, 3600000);
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    if (text && size)
        ec_cli_usage_error(&cli, "--message and --size: give one of them");
    if (text && !*text)
        ec_cli_usage_error(&cli, "--message: empty (a zero-length send has no echo to read)");
    ec_cli_start(&cli);

    struct msg *msgs = NULL;
    size_t nmsgs = load_messages(&cli, text, size, &msgs);
    struct ec_conn c;
    ec_conn_init(&c, "c0", &cli.tl);
    size_t done = 0;
    if (ec_cli_connect(&cli, &c) == 0) {
        ec_cli_say(&cli, "connected to %s; %zu message(s) x %lld", cli.addr, nmsgs, repeat);
        for (long long r = 0; r < repeat && !ec_cli_failed(&cli); r++)
            for (size_t i = 0; i < nmsgs && !ec_cli_failed(&cli); i++) {
                if (done > 0 && gap > 0) {
                    /* Quiet, but reading: an end the server sends now is seen (and
                     * timed by the kernel) when it comes. */
                    int64_t until = ec_clock_ms() + gap;
                    while (ec_clock_ms() < until &&
                           ec_conn_pump(&c, (int)(until - ec_clock_ms())) == EC_RX_OK)
                        ;
                }
                if (echo_one(&cli, &c, &msgs[i], done + 1) == 0)
                    done++;
            }
        if (!ec_cli_failed(&cli)) {
            /* Nothing more may come: an echo longer than what was sent is wrong too. */
            enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len + 1, ec_clock_ms());
            if (rx == EC_RX_OK)
                ec_cli_fail(&cli, EC_DIAG_ECHO_MISMATCH, "exactly the bytes sent, no more",
                            "%zu bytes more than the %zu sent", c.recvd_len - c.sent_len,
                            c.sent_len);
        }
        ec_conn_close(&c);
    }
    ec_cli_say(&cli, "%zu message(s) echoed whole; %zu bytes sent, %zu received", done, c.sent_len,
               c.recvd_len);
    ec_cli_metric(&cli, "messages", (double)done);
    ec_cli_metric(&cli, "bytes_sent", (double)c.sent_len);
    ec_cli_metric(&cli, "bytes_received", (double)c.recvd_len);
    ec_conn_free(&c);
    for (size_t i = 0; i < nmsgs; i++)
        free(msgs[i].p);
    free(msgs);
    return ec_cli_finish(&cli);
}
