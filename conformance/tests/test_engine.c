/* test_engine.c - unit tests of the step primitives and of `replay --target`, one
 * ctest entry per test function (argv[1] names it). Each test prints what it
 * checked; a failed check prints file:line and both values, and exits 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ec_sock.h"
#include "engine.h"
#include "evidence.h"
#include "logline.h"
#include "server_proc.h"
#include "steps.h"

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int g_argc;
static char **g_argv;

/* A listener on 127.0.0.1, ephemeral port. */
static int listener(unsigned *port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_EQ(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(ls, 4), 0);
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return ls;
}

static int pattern_is_seekable(void)
{
    unsigned char a[100], b[50];
    ec_pattern_fill(a, sizeof a, 42, 0);
    ec_pattern_fill(b, sizeof b, 42, 50);
    CHECK_EQ(memcmp(a + 50, b, sizeof b), 0);
    ec_pattern_fill(b, sizeof b, 43, 50);
    CHECK_EQ(memcmp(a + 50, b, sizeof b) != 0, 1);
    printf("a slice of the seeded pattern regenerates from its offset; seeds differ\n");
    return 0;
}

static int write_plan_chunks_are_separate_sends(void)
{
    unsigned port;
    int ls = listener(&port);
    struct ec_timeline tl;
    CHECK_EQ(ec_timeline_init(&tl, 100), 0);
    struct ec_conn c;
    ec_conn_init(&c, "c", &tl);
    CHECK_EQ(ec_conn_connect(&c, "127.0.0.1", port, 2000), 0);
    int peer = accept(ls, NULL, NULL);
    CHECK_EQ(peer >= 0, 1);
    const unsigned char *piece = (const unsigned char *)"abcdefgh";
    size_t len = 8;
    struct ec_write_plan p = {
        .kind = EC_PLAN_CHUNKS, .chunks = {1, 1, 3}, .nchunks = 3, .nodelay = 1};
    CHECK_EQ(ec_conn_send(&c, &piece, &len, 1, &p, 2000), 8);
    char buf[16];
    size_t got = 0;
    while (got < 8) {
        ssize_t k = recv(peer, buf + got, sizeof buf - got, 0);
        CHECK_EQ(k > 0, 1);
        got += (size_t)k;
    }
    CHECK_EQ(memcmp(buf, "abcdefgh", 8), 0);
    /* The timeline holds one send per chunk: 1, 1, 3 and the rest (3). */
    long long sizes[8];
    int n = 0;
    for (size_t i = 0; i < tl.n && n < 8; i++)
        if (strcmp(tl.ev[i].what, "send") == 0)
            sizes[n++] = tl.ev[i].size;
    CHECK_EQ(n, 4);
    CHECK_EQ(sizes[0], 1);
    CHECK_EQ(sizes[1], 1);
    CHECK_EQ(sizes[2], 3);
    CHECK_EQ(sizes[3], 3);
    CHECK_EQ(c.sent_len, 8);
    /* The peer's RST ends a wait with "reset", not "eof". */
    struct linger lg = {1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(peer);
    CHECK_EQ(ec_conn_wait_end(&c, ec_clock_ms() + 2000), EC_RX_RESET);
    ec_conn_free(&c);
    ec_timeline_free(&tl);
    close(ls);
    printf("chunks [1,1,3] gave sends of 1, 1, 3 and 3 bytes, all bytes in order; RST seen\n");
    return 0;
}

static int fill_stops_when_the_peer_does_not_read(void)
{
    unsigned port;
    int ls = listener(&port);
    struct ec_conn c;
    ec_conn_init(&c, "c", NULL);
    ec_conn_set_bufsizes(&c, 0, 8192);
    CHECK_EQ(ec_conn_connect(&c, "127.0.0.1", port, 2000), 0);
    int peer = accept(ls, NULL, NULL);
    long long n = ec_conn_fill(&c, 64u << 20, 1, 100, 5000);
    CHECK_EQ(n > 0, 1);
    CHECK_EQ(n < (64ll << 20), 1);
    CHECK_EQ((long long)c.sent_len, n);
    printf("fill stopped after %lld bytes (the peer never read)\n", n);
    close(peer);
    ec_conn_free(&c);
    close(ls);
    return 0;
}

/* argv[2] = a server executable, argv[3] = a fixture: the server is started here (not
 * by the replay), and the replay reaches it with --target. */
static int replay_against_target_passes(void)
{
    if (g_argc < 4) {
        fprintf(stderr, "usage: test_engine replay_against_target_passes SERVER FIXTURE\n");
        return 2;
    }
    char *argv[] = {g_argv[2], "--port", "0", NULL};
    struct ec_server_proc s;
    char err[256];
    CHECK_EQ(ec_server_start(&s, argv, 0, ec_scale_ms(10000), err, sizeof err), 0);
    char target[96];
    snprintf(target, sizeof target, "%s:%u", s.host, s.port);
    struct ec_replay_opts o;
    memset(&o, 0, sizeof o);
    o.fixture = g_argv[3];
    o.target = target;
    fflush(stdout);
    int rc = ec_replay(&o);
    ec_server_stop(&s, 2000);
    ec_server_free(&s);
    CHECK_EQ(rc, 0);
    printf("replay --target %s passed against a server it did not start\n", target);
    return 0;
}

/* ec_split_command: quotes, backslashes, no expansion, and clean errors. */
static int split_command_words(void)
{
    char *argv[8], err[128];
    int n = ec_split_command("  \"/a b/srv\" --x 'it''s' a\\ b \"q\\\"q\" $HOME", argv, 8, err,
                             sizeof err);
    CHECK_EQ(n, 6);
    CHECK_EQ(strcmp(argv[0], "/a b/srv"), 0);
    CHECK_EQ(strcmp(argv[1], "--x"), 0);
    CHECK_EQ(strcmp(argv[2], "its"), 0);
    CHECK_EQ(strcmp(argv[3], "a b"), 0);
    CHECK_EQ(strcmp(argv[4], "q\"q"), 0);
    CHECK_EQ(strcmp(argv[5], "$HOME"), 0);
    CHECK_EQ(argv[6] == NULL, 1);
    ec_split_free(argv, n);
    CHECK_EQ(ec_split_command(" \t ", argv, 8, err, sizeof err), 0);
    CHECK_EQ(ec_split_command("srv 'open", argv, 8, err, sizeof err), -1);
    CHECK_EQ(strstr(err, "unterminated") != NULL, 1);
    CHECK_EQ(ec_split_command("a b c d", argv, 4, err, sizeof err), -1);
    CHECK_EQ(strstr(err, "more than 3 words") != NULL, 1);
    printf("ec_split_command: quoted, escaped and unexpanded words; unterminated quote and "
           "too many words rejected\n");
    return 0;
}

/* ec_logline_parse / ec_logline_parse_ready: every line of the log contract, and the
 * near misses a server's other output could hold. */
static int log_lines_parse(void)
{
    struct ec_logline ev;
    char host[64];
    unsigned port = 0;
    CHECK_EQ(ec_logline_parse("recv peer=127.0.0.1:5000 bytes=1024", &ev), 0);
    CHECK_EQ(ev.kind == EC_LL_RECV && ev.port == 5000 && ev.bytes == 1024, 1);
    CHECK_EQ(strcmp(ev.host, "127.0.0.1"), 0);
    CHECK_EQ(ec_logline_parse("frame peer=[::1]:7 bytes=18446744073709551615", &ev), 0);
    CHECK_EQ(ev.kind == EC_LL_FRAME && ev.bytes == 18446744073709551615ull, 1);
    CHECK_EQ(strcmp(ev.host, "::1"), 0);
    CHECK_EQ(ec_logline_parse("close peer=1.2.3.4:9 reason=error:ETOOLONG", &ev), 0);
    CHECK_EQ(ev.kind == EC_LL_CLOSE && strcmp(ev.reason, "error:ETOOLONG") == 0, 1);
    CHECK_EQ(ec_logline_parse("accept peer=1.2.3.4:9", &ev), 0);
    CHECK_EQ(ec_logline_parse("refuse peer=1.2.3.4:9 reason=max-clients", &ev), 0);
    CHECK_EQ(ev.kind == EC_LL_REFUSE, 1);
    static const char *const bad[] = {"recv peer=1.2.3.4:9 bytes=18446744073709551616",
                                      "recv peer=1.2.3.4:9 bytes=-1",
                                      "recv peer=1.2.3.4:9 bytes=",
                                      "recv peer=1.2.3.4:9",
                                      "recv  peer=1.2.3.4:9 bytes=1",
                                      "accept peer=1.2.3.4:9 extra",
                                      "accept peer=1.2.3.4:0",
                                      "accept peer=::1:80",
                                      "close peer=1.2.3.4:9 reason=",
                                      "close peer=1.2.3.4:9 reason=a b",
                                      "listening 1.2.3.4:9",
                                      "send peer=1.2.3.4:9 bytes=1 ",
                                      "",
                                      "hello"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ec_logline_parse(bad[i], &ev) == 0) {
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
            return 1;
        }
    }
    CHECK_EQ(ec_logline_parse_ready("listening 127.0.0.1:40100", host, sizeof host, &port), 0);
    CHECK_EQ(port, 40100);
    CHECK_EQ(ec_logline_parse_ready("listening [::1]:1", host, sizeof host, &port), 0);
    CHECK_EQ(strcmp(host, "::1"), 0);
    CHECK_EQ(ec_logline_parse_ready("listening 127.0.0.1:0", host, sizeof host, &port), -1);
    CHECK_EQ(ec_logline_parse_ready("listening 127.0.0.1:1 x", host, sizeof host, &port), -1);
    CHECK_EQ(ec_logline_parse_ready("listening 127.0.0.1:1", host, 4, &port), -1);
    CHECK_EQ(ec_logline_parse_ready("Listening 127.0.0.1:1", host, sizeof host, &port), -1);
    CHECK_EQ(ec_logline_parse_ready("listening [[]:5", host, sizeof host, &port), -1);
    CHECK_EQ(ec_logline_parse_ready("listening [abc]:5", host, sizeof host, &port), -1);
    printf("log lines: 6 forms parsed, %zu near misses and 6 bad readiness lines refused\n",
           sizeof bad / sizeof bad[0]);
    return 0;
}

/* ec_port_listening sees a listener on its port, and no longer once it is closed. */
static int port_listening_follows_the_listener(void)
{
    unsigned port;
    int ls = listener(&port);
    CHECK_EQ(ec_port_listening(port), 1);
    close(ls);
    CHECK_EQ(ec_port_listening(port), 0);
    printf("port %u: listening while the listener was open, not after\n", port);
    return 0;
}

/* ec_round_125: the largest of 1, 2, 5 x 10^k not above ms plus 10% (a timer fires
 * late, never early). */
static int idle_ms_round_to_1_2_5(void)
{
    static const long in[] = {100, 140, 181, 182, 200, 230, 317, 454, 455, 500, 909, 910, 1500, 3000};
    static const long out[] = {100, 100, 100, 200, 200, 200, 200, 200, 500, 500, 500, 1000, 1000, 2000};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        CHECK_EQ(ec_round_125(in[i]), out[i]);
    printf("%zu silences rounded to 1, 2, 5 x 10^k\n", sizeof in / sizeof in[0]);
    return 0;
}

/* The evidence of a repeat and of a reorder, on a made-up connection history: each
 * is recognised, a plain corruption is neither, and a repeat that a skip explains as
 * well (periodic data) is not called a repeat. */
static int evidence_tells_repeats_and_reorders(void)
{
    struct ec_conn c;
    ec_conn_init(&c, "c", NULL);
    unsigned char sent[4096], got[4096 + 100];
    ec_pattern_fill(sent, sizeof sent, 7, 0);
    c.sent = sent, c.sent_len = sizeof sent;
    c.recvd = got;
    char ev[400];
    /* A repeat: 100 bytes at 1000 come again after 1100. */
    memcpy(got, sent, 1100);
    memcpy(got + 1100, sent + 1000, 100);
    memcpy(got + 1200, sent + 1100, sizeof sent - 1100);
    c.recvd_len = sizeof sent + 100;
    CHECK_EQ(ec_evidence_duplicated(&c, 1100, ev, sizeof ev, NULL, NULL), 1);
    CHECK_EQ(ec_evidence_reordered(&c, 1100, sizeof sent, ev, sizeof ev), 0);
    printf("repeat: %s\n", ev);
    /* A reorder: [1000, 1100) and [1100, 1300) swapped. */
    memcpy(got, sent, sizeof sent);
    memcpy(got + 1000, sent + 1100, 200);
    memcpy(got + 1200, sent + 1000, 100);
    c.recvd_len = sizeof sent;
    CHECK_EQ(ec_evidence_reordered(&c, 1000, sizeof sent, ev, sizeof ev), 1);
    CHECK_EQ(ec_evidence_duplicated(&c, 1000, ev, sizeof ev, NULL, NULL), 0);
    printf("reorder: %s\n", ev);
    /* A flipped bit is neither. */
    memcpy(got, sent, sizeof sent);
    got[2000] ^= 0x20;
    CHECK_EQ(ec_evidence_reordered(&c, 2000, sizeof sent, ev, sizeof ev), 0);
    CHECK_EQ(ec_evidence_duplicated(&c, 2000, ev, sizeof ev, NULL, NULL), 0);
    /* Periodic data: 10 bytes dropped at 500 look like a repeat of 10 bytes earlier too. */
    for (size_t i = 0; i < sizeof sent; i++)
        sent[i] = (unsigned char)('0' + i % 10);
    memcpy(got, sent, 500);
    memcpy(got + 500, sent + 510, sizeof sent - 510);
    c.recvd_len = sizeof sent - 10;
    CHECK_EQ(ec_evidence_duplicated(&c, 500, ev, sizeof ev, NULL, NULL), 0);
    printf("a flipped bit and a skip in periodic data: neither\n");
    c.sent = c.recvd = NULL;
    ec_conn_free(&c);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} tests[] = {
    {"port_listening_follows_the_listener", port_listening_follows_the_listener},
    {"idle_ms_round_to_1_2_5", idle_ms_round_to_1_2_5},
    {"evidence_tells_repeats_and_reorders", evidence_tells_repeats_and_reorders},
    {"log_lines_parse", log_lines_parse},
    {"split_command_words", split_command_words},
    {"pattern_is_seekable", pattern_is_seekable},
    {"write_plan_chunks_are_separate_sends", write_plan_chunks_are_separate_sends},
    {"fill_stops_when_the_peer_does_not_read", fill_stops_when_the_peer_does_not_read},
    {"replay_against_target_passes", replay_against_target_passes},
};

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    ec_net_init();
    for (size_t i = 0; argc > 1 && i < sizeof tests / sizeof tests[0]; i++)
        if (strcmp(argv[1], tests[i].name) == 0)
            return tests[i].fn();
    fprintf(stderr, "test_engine: name a test:");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        fprintf(stderr, " %s", tests[i].name);
    fprintf(stderr, "\n");
    return 2;
}
