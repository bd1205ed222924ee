/* coalesce.c - ec-coalesce: several messages sent with MSG_MORE under TCP_CORK (the
 * engine's "coalesce" plan; Linux holds partial segments until the cork is released,
 * tcp(7)), so they reach the server as one segment; the echo is checked byte for byte
 * and, with --framing, frame by frame: a server that takes one recv for one message
 * fails here. */
#include <stdlib.h>
#include <string.h>

#include "client_common.h"

static const char options[] =
    "  --count N            messages coalesced into one segment (default 4, at most 256)\n"
    "  --size N             payload bytes per message (default 100; the frame size with\n"
    "                       --framing fixed:N)\n"
    "  --message TEXT       every message carries TEXT instead of seeded bytes\n";

/* Counts the server's "recv" log lines (raw mode): how many recvs it needed. */
static size_t server_recvs(struct ec_cli *cli, size_t *bytes_first)
{
    size_t n = 0;
    *bytes_first = 0;
    pthread_mutex_lock(&cli->srv.mu);
    for (size_t i = 0; i < cli->srv.nlines; i++) {
        const char *t = cli->srv.lines[i].text;
        if (cli->srv.lines[i].is_err || strncmp(t, "recv ", 5) != 0)
            continue;
        const char *b = strstr(t, "bytes=");
        if (n == 0 && b)
            *bytes_first = (size_t)strtoul(b + 6, NULL, 10);
        n++;
    }
    pthread_mutex_unlock(&cli->srv.mu);
    return n;
}

/* Decodes the echo frame by frame; returns the number of leading frames that came
 * back whole and equal to the frames sent. */
static size_t whole_frames(struct ec_cli *cli, const struct ec_conn *c, unsigned char **frames,
                           const size_t *lens, size_t count)
{
    struct ec_decoder d;
    if (ec_decoder_init(&d, &cli->framing) < 0)
        return 0;
    size_t off = 0, k = 0;
    while (off < c->recvd_len && k < count) {
        struct ec_frame f;
        int got = 0;
        ptrdiff_t used = ec_decoder_feed(&d, c->recvd + off, c->recvd_len - off, &f, &got);
        if (used < 0)
            break;
        off += (size_t)used;
        if (!got)
            continue;
        if (f.wire_len != lens[k] || memcmp(f.wire, frames[k], lens[k]) != 0)
            break;
        k++;
    }
    ec_decoder_free(&d);
    return k;
}

int main(int argc, char **argv)
{
    struct ec_cli cli;
    ec_cli_init(&cli, "ec-coalesce");
    cli.summary = "Sends several messages coalesced into one TCP segment (MSG_MORE under\n"
                  "TCP_CORK) and checks that the echo is every byte in order; with --framing,\n"
                  "that every frame comes back whole.";
    cli.options = options;
    cli.wants_framing = 1;
    cli.example = "ec-coalesce --server \"echo-posix-epoll\" --framing len16 --count 4 --size 400";
    long long count = 4, size = -1;
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        if (ec_cli_parse_common(&cli, argc, argv, &i))
            continue;
        if (ec_cli_is(argv[i], "--count"))
            count = ec_cli_number(&cli, argc, argv, &i, 1, 256);
        else if (ec_cli_is(argv[i], "--size"))
            size = ec_cli_number(&cli, argc, argv, &i, 1, 65535);
        else if (ec_cli_is(argv[i], "--message"))
            text = ec_cli_value(&cli, argc, argv, &i);
        else
            ec_cli_usage_error(&cli, "%s: unknown option", argv[i]);
    }
    if (text && size >= 0)
        ec_cli_usage_error(&cli, "--message and --size: give one of them");
    if (text && !*text)
        ec_cli_usage_error(&cli, "--message: empty");
    ec_cli_start(&cli);
    if (size < 0)
        size = cli.framing.kind == EC_FRAMING_FIXED ? (long long)cli.framing.fixed_len : 100;

    /* The messages: seeded bytes (letters when a delimiter frames them, so that no
     * payload contains it), each encoded as one frame when framed. */
    size_t n = (size_t)count, plen = text ? strlen(text) : (size_t)size;
    unsigned char **pieces = calloc(n, sizeof *pieces);
    size_t *lens = calloc(n, sizeof *lens);
    unsigned char *payload = malloc(plen);
    if (!pieces || !lens || !payload) {
        fprintf(stderr, "ec-coalesce: out of memory\n");
        return EC_CLI_CANNOT_RUN;
    }
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        if (text)
            memcpy(payload, text, plen);
        else
            ec_pattern_fill(payload, plen, cli.seed, (uint64_t)(k * plen));
        if (!text && cli.framing.kind == EC_FRAMING_DELIM)
            for (size_t j = 0; j < plen; j++)
                payload[j] = (unsigned char)('a' + payload[j] % 26);
        if (cli.framed) {
            ec_cli_frame(&cli, payload, plen, &pieces[k], &lens[k]);
        } else {
            pieces[k] = malloc(plen);
            if (!pieces[k])
                return EC_CLI_CANNOT_RUN;
            memcpy(pieces[k], payload, plen);
            lens[k] = plen;
        }
        total += lens[k];
    }

    struct ec_conn c;
    ec_conn_init(&c, "c0", &cli.tl);
    size_t frames_ok = 0;
    if (ec_cli_connect(&cli, &c) == 0) {
        struct ec_write_plan plan = {.kind = EC_PLAN_COALESCE, .nodelay = -1};
        double t0 = ec_cli_now_ms(&cli);
        long long k = ec_conn_send(&c, (const unsigned char *const *)pieces, lens, n, &plan,
                                   ec_cli_timeout(&cli));
        double t1 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli,
                   "sent %zu messages of %zu payload bytes (%s), %zu bytes in all, with "
                   "MSG_MORE under TCP_CORK, released at once (%.3f ms)%s%s",
                   n, plen, cli.framing_spec, c.sent_len, t1 - t0, k < 0 ? "; send failed: " : "",
                   k < 0 ? ec_err_name((int)k) : "");
        enum ec_rx rx = ec_conn_recv_until(&c, c.sent_len, ec_cli_deadline(&cli, cli.timeout_ms));
        double t2 = ec_cli_now_ms(&cli);
        ec_cli_say(&cli, "received %zu of %zu bytes of echo (%.3f ms after the send)%s%s",
                   c.recvd_len, c.sent_len, t2 - t1, rx == EC_RX_OK ? "" : ", then ",
                   rx == EC_RX_OK ? "" : ec_rx_name(rx));
        if (ec_cli_check_echo(&cli, &c, 0, c.sent_len, rx, "the coalesced messages") == 0 && k < 0)
            ec_cli_fail(&cli,
                        k == -EC_ECONNRESET ? EC_DIAG_UNEXPECTED_RESET : EC_DIAG_PREMATURE_CLOSE,
                        "all messages sent", "send failed (%s) after %zu of %zu bytes",
                        ec_err_name((int)k), c.sent_len, total);
        if (cli.framed) {
            frames_ok = whole_frames(&cli, &c, pieces, lens, n);
            ec_cli_say(&cli, "%zu of %zu frames came back whole", frames_ok, n);
            if (frames_ok < n)
                ec_cli_fail(&cli, EC_DIAG_FRAME_ERROR, "every frame echoed whole",
                            "frame %zu of %zu did not come back whole", frames_ok + 1, n);
        }
        ec_conn_close(&c);
    }
    if (cli.have_srv && !cli.framed) {
        size_t first = 0, nr = server_recvs(&cli, &first);
        if (nr) {
            ec_cli_say(&cli, "the server's log shows %zu recv(s), the first of %zu bytes%s", nr,
                       first, first == total ? ": all messages arrived as one" : "");
            ec_cli_metric(&cli, "server_recvs", (double)nr);
            ec_cli_metric(&cli, "server_first_recv_bytes", (double)first);
        }
    }
    ec_cli_metric(&cli, "messages", (double)n);
    ec_cli_metric(&cli, "bytes_sent", (double)c.sent_len);
    ec_cli_metric(&cli, "bytes_received", (double)c.recvd_len);
    if (cli.framed)
        ec_cli_metric(&cli, "frames_whole", (double)frames_ok);
    ec_conn_free(&c);
    for (size_t k = 0; k < n; k++)
        free(pieces[k]);
    free(pieces);
    free(lens);
    free(payload);
    return ec_cli_finish(&cli);
}
