/* trickle.c - ec-trickle: one message sent byte by byte (or --chunk N at a time) with
 * a gap between sends and TCP_NODELAY (Nagle off, tcp(7)), so each send leaves as its
 * own segment and the server's recv returns partial data: a server that assumes one
 * recv holds a whole message, frame or length header is caught. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --message TEXT       the message (default: --size seeded bytes)\n"
    "  --size N             message length when no --message (default 64)\n"
    "  --chunk N            bytes per send (default 1: byte by byte)\n"
    "  --gap MS             pause between two sends (default 5)\n"
    "  --no-nodelay         leave Nagle's algorithm on (the kernel may then merge sends)\n";

/* The longest a trickle may take, so that a run stays bounded. */
#define MAX_TRICKLE_MS (120 * 1000)

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-trickle");
    cli.summary = "Sends one message in small pieces (byte by byte by default) with gaps and\n"
                  "TCP_NODELAY, so the server's recv returns partial data; checks that the\n"
                  "echo is the whole message (with --framing, the whole frame).";
    cli.options = options;
    cli.wants_framing = 1;
    cli.example =
        "ec-trickle --server \"echo-posix-epoll\" --framing line --message hello --gap 10";
    const char *text = NULL;
    long long size = -1, chunk = 1, gap = 5;
    int nodelay = 1;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--message"))
            text = ec_cli_value(&cli, argc, argv, &i);
        else if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 1, 1024 * 1024);
        else if (ec_cli_is(argv[i], "--chunk"))
            chunk = ec_cli_number(&cli, argc, argv, &i, 1, 1024 * 1024);
        else if (ec_cli_is(argv[i], "--gap"))
            gap = ec_cli_number(&cli, argc, argv, &i, 0, 10000);
        else if (strcmp(argv[i], "--no-nodelay") == 0)
            nodelay = 0;
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    if (text && size >= 0)
        ec_cli_usage_error(&cli, "--message and --size: give one of them");
    if (text && !*text)
        ec_cli_usage_error(&cli, "--message: empty");
    ec_cli_start(&cli);
    if (size < 0)
        size = cli.framing.kind == EC_FRAMING_FIXED ? (long long)cli.framing.fixed_len : 64;

    size_t plen = text ? strlen(text) : (size_t)size;
    unsigned char *payload = malloc(plen), *msg;
    size_t mlen;
    if (!payload)
        return EC_CLI_CANNOT_RUN;
    if (text) {
        memcpy(payload, text, plen);
    } else {
        ec_pattern_fill(payload, plen, cli.seed, 0);
        if (cli.framing.kind == EC_FRAMING_DELIM)
            for (size_t j = 0; j < plen; j++)
                payload[j] = (unsigned char)('a' + payload[j] % 26);
    }
    if (cli.framed) {
        ec_cli_frame(&cli, payload, plen, &msg, &mlen);
    } else {
        msg = payload;
        mlen = plen;
        payload = NULL;
    }
    size_t sends = (mlen + (size_t)chunk - 1) / (size_t)chunk;
    if ((long long)sends * gap > MAX_TRICKLE_MS)
        ec_cli_usage_error(&cli, "--gap %lld x %zu sends: longer than %d s", gap, sends,
                           MAX_TRICKLE_MS / 1000);

    /* Each chunk is one piece sent as-is, with the gap between pieces: the engine's
     * write plan does the cutting, the pausing and TCP_NODELAY. */
    const unsigned char **pieces = calloc(sends, sizeof *pieces);
    size_t *lens = calloc(sends, sizeof *lens);
    if (!pieces || !lens)
        return EC_CLI_CANNOT_RUN;
    for (size_t k = 0; k < sends; k++) {
        pieces[k] = msg + k * (size_t)chunk;
        lens[k] = k + 1 < sends ? (size_t)chunk : mlen - k * (size_t)chunk;
    }
    struct ec_write_plan plan = {.kind = EC_PLAN_ASIS, .gap_ms = (int)gap, .nodelay = nodelay};

    struct ec_conn c;
    ec_conn_init(&c, "c0", &cli.tl);
    double t_send = 0;
    if (ec_cli_connect(&cli, &c) == 0) {
        char pv[96];
        ec_cli_say(&cli,
                   "sending %zu bytes \"%s\" in %zu sends of %lld byte(s), %lld ms apart, "
                   "TCP_NODELAY %s",
                   mlen, ec_cli_preview(msg, mlen, 40, pv, sizeof pv), sends, chunk, gap,
                   nodelay ? "on" : "off");
        double t0 = ec_cli_now_ms(&cli);
        long long k = ec_conn_send(&c, pieces, lens, sends, &plan,
                                   ec_cli_timeout(&cli) + (int)((long long)sends * gap));
        double t1 = ec_cli_now_ms(&cli);
        t_send = t1 - t0;
        ec_cli_say(&cli, "sent %zu of %zu bytes (%.3f ms); %zu bytes of echo arrived meanwhile%s%s",
                   c.sent_len, mlen, t_send, c.recvd_len, k < 0 ? "; send failed: " : "",
                   k < 0 ? ec_err_name((int)k) : "");
        enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
        double t2 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli, "received %zu of %zu bytes \"%s\" (%.3f ms after the last send)%s%s",
                   c.recvd_len, c.sent_len, ec_cli_preview(c.recvd, c.recvd_len, 40, pv, sizeof pv),
                   t2 - t1, rx == EC_RX_OK ? "" : ", then ", rx == EC_RX_OK ? "" : ec_rx_name(rx));
        if (ec_cli_check_echo(&cli, &c, 0, c.sent_len, rx, "the trickled message") == 0 && k < 0)
            ec_cli_fail(&cli,
                        /* After an RST Linux fails the next send with ECONNRESET
                         * once, then EPIPE: a reset already read counts too. */
                        k == -EC_ECONNRESET || c.err == -EC_ECONNRESET ? EC_DIAG_UNEXPECTED_RESET
                                                                       : EC_DIAG_PREMATURE_CLOSE,
                        "the whole message sent", "send failed (%s) after %zu of %zu bytes",
                        ec_err_name((int)k), c.sent_len, mlen);
        ec_conn_close(&c);
    }
    ec_cli_metric(&cli, "bytes_sent", (double)c.sent_len);
    ec_cli_metric(&cli, "bytes_received", (double)c.recvd_len);
    ec_cli_metric(&cli, "sends", (double)sends);
    ec_cli_metric(&cli, "send_ms", t_send);
    ec_conn_free(&c);
    free(pieces);
    free(lens);
    free(msg);
    free(payload);
    return ec_cli_finish(&cli);
}
