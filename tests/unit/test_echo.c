/* test_echo.c - unit tests of the pending-echo record (ec_echo) in raw and framed modes,
 * over memory and over a real socket, and of the server log lines it writes.
 */
#include <unistd.h>

#include "ec_echo.h"
#include "ec_log.h"
#include "ec_test.h"
#include "unit_sock.h"

/* stdout goes to a temporary file between capture_start and capture_end. */
static FILE *capture_file;
static int saved_stdout = -1;

static void capture_start(void)
{
    fflush(stdout);
    capture_file = tmpfile();
    ASSERT(capture_file != NULL);
    saved_stdout = dup(1);
    ASSERT_GE(saved_stdout, 0);
    ASSERT_GE(dup2(fileno(capture_file), 1), 0);
}

static const char *capture_end(char *buf, size_t len)
{
    fflush(stdout);
    ASSERT_GE(dup2(saved_stdout, 1), 0);
    close(saved_stdout);
    rewind(capture_file);
    size_t n = fread(buf, 1, len - 1, capture_file);
    buf[n] = '\0';
    fclose(capture_file);
    return buf;
}

static struct ec_framing spec(const char *text)
{
    struct ec_framing f;
    char err[200];
    if (ec_framing_parse(text, &f, err, sizeof err) != 0)
        FAIL("framing '%s' rejected: %s", text, err);
    return f;
}

static void assert_pending(const struct ec_echo *e, const char *want)
{
    const unsigned char *p;
    size_t n = ec_echo_pending(e, &p);
    ASSERT_EQ(n, strlen(want));
    ASSERT_MEM_EQ(p, want, n);
    ASSERT_EQ(ec_echo_idle(e), n == 0);
}

TEST(echo_raw_owes_back_every_byte_received)
{
    struct ec_echo e;
    struct ec_framing f = spec("raw");
    char log[1024];
    ASSERT_EQ(ec_echo_init(&e, "1.2.3.4:5", &f, 8), 0);
    assert_pending(&e, "");
    capture_start();
    memcpy(e.rbuf, "abcde", 5);
    ASSERT_EQ(ec_echo_received(&e, NULL, 5), 0);
    assert_pending(&e, "abcde");
    ec_echo_sent(&e, 2);
    assert_pending(&e, "cde");
    ec_echo_sent(&e, 3);
    assert_pending(&e, "");
    ASSERT_EQ(ec_echo_received(&e, "xyz", 3), 0);
    assert_pending(&e, "xyz");
    ec_echo_sent(&e, 3);
    ASSERT_STR_EQ(capture_end(log, sizeof log), "recv peer=1.2.3.4:5 bytes=5\n"
                                                "send peer=1.2.3.4:5 bytes=2\n"
                                                "send peer=1.2.3.4:5 bytes=3\n"
                                                "recv peer=1.2.3.4:5 bytes=3\n"
                                                "send peer=1.2.3.4:5 bytes=3\n");
    ec_echo_free(&e);
}

TEST(echo_line_framing_owes_whole_frames_only)
{
    struct ec_echo e;
    struct ec_framing f = spec("line");
    char log[1024];
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 4), 0);
    capture_start();
    ASSERT_EQ(ec_echo_received(&e, "ab\nc", 4), 0);
    assert_pending(&e, "ab\n");
    ec_echo_sent(&e, 3);
    ASSERT_EQ(ec_echo_received(&e, "d", 1), 0);
    assert_pending(&e, "");
    /* The end of one frame and a whole other frame in one read. */
    ASSERT_EQ(ec_echo_received(&e, "\ne\ng", 4), 0);
    assert_pending(&e, "cd\ne\n");
    ec_echo_sent(&e, 5);
    ASSERT_EQ(ec_decoder_pending(&e.dec), 1);
    /* Every recv is logged (the engine paces its write plans by these lines), and
     * every whole frame once. */
    ASSERT_STR_EQ(capture_end(log, sizeof log), "recv peer=p bytes=4\n"
                                                "frame peer=p bytes=3\n"
                                                "send peer=p bytes=3\n"
                                                "recv peer=p bytes=1\n"
                                                "recv peer=p bytes=4\n"
                                                "frame peer=p bytes=3\n"
                                                "frame peer=p bytes=2\n"
                                                "send peer=p bytes=5\n");
    ec_echo_free(&e);
}

TEST(echo_len16_frame_larger_than_bufsize_is_reassembled)
{
    /* A frame of 300 bytes arrives through a 16-byte buffer: one "frame" line, and the
     * echo is the whole frame at once. */
    struct ec_echo e;
    struct ec_framing f = spec("len16");
    unsigned char wire[302];
    char log[1024];
    ASSERT_EQ(ec_frame_encode(&f, memset((char[300]){0}, 'q', 300), 300, wire, sizeof wire), 302);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 16), 0);
    capture_start();
    for (size_t off = 0; off < sizeof wire; off += 16) {
        size_t n = sizeof wire - off < 16 ? sizeof wire - off : 16;
        ASSERT(ec_echo_idle(&e));
        memcpy(e.rbuf, wire + off, n);
        ASSERT_EQ(ec_echo_received(&e, NULL, n), 0);
    }
    const unsigned char *p;
    ASSERT_EQ(ec_echo_pending(&e, &p), sizeof wire);
    ASSERT_MEM_EQ(p, wire, sizeof wire);
    ec_echo_sent(&e, sizeof wire);
    ASSERT_STR_EQ(capture_end(log, sizeof log),
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=16\nrecv peer=p bytes=16\nrecv peer=p bytes=16\n"
                  "recv peer=p bytes=14\n"
                  "frame peer=p bytes=302\nsend peer=p bytes=302\n");
    ec_echo_free(&e);
}

TEST(echo_rejects_oversized_frame)
{
    struct ec_echo e;
    struct ec_framing f = spec("len16,max=4");
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 64), 0);
    ec_log_set_quiet(1);
    ASSERT_EQ(ec_echo_received(&e, "\000\002ab\000\005", 6), -EC_ETOOLONG);
    ec_echo_free(&e);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 0), -EC_EINVAL);
    struct ec_framing bad = f;
    bad.kind = EC_FRAMING_FIXED;
    bad.fixed_len = 0;
    ASSERT_EQ(ec_echo_init(&e, "p", &bad, 64), -EC_EINVAL);
    ec_echo_free(&e);
}

TEST(echo_flush_all_sends_everything_over_a_socket)
{
    ec_sock_t c, s;
    struct ec_echo e;
    struct ec_framing f = spec("raw");
    unsigned char back[3000];
    tcp_pair(&c, &s);
    ec_log_set_quiet(1);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 3000), 0);
    for (size_t i = 0; i < 3000; i++)
        e.rbuf[i] = (unsigned char)(i % 251);
    ASSERT_EQ(ec_echo_received(&e, NULL, 3000), 0);
    ASSERT_EQ(ec_echo_flush_all(&e, s), 0);
    ASSERT(ec_echo_idle(&e));
    ASSERT_EQ(ec_recvn(c, back, sizeof back, ec_test_timeout_ms(2000), NULL), 3000);
    ASSERT_MEM_EQ(back, e.rbuf, 3000);
    /* Nonblocking step: one send, the count recorded. */
    ASSERT_EQ(ec_sock_set_nonblocking(s, 1), 0);
    ASSERT_EQ(ec_echo_received(&e, "ping", 4), 0);
    ASSERT_EQ(ec_echo_flush(&e, s), 4);
    ASSERT_EQ(ec_echo_flush(&e, s), 0);
    ASSERT_EQ(ec_recvn(c, back, 4, ec_test_timeout_ms(2000), NULL), 4);
    ASSERT_MEM_EQ(back, "ping", 4);
    /* A reset peer: the error class comes back. */
    ASSERT_EQ(ec_sock_abort(c), 0);
    ASSERT_GT(ec_wait(s, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_echo_received(&e, "late", 4), 0);
    ptrdiff_t r = ec_echo_flush_all(&e, s);
    ASSERT(r == -EC_ECONNRESET || r == -EC_ECLOSED);
    ec_echo_free(&e);
    ec_sock_close(s);
}

TEST(echo_recv_and_flush_until_blocked_step_a_nonblocking_socket)
{
    ec_sock_t c, s;
    struct ec_echo e;
    struct ec_framing f = spec("raw");
    unsigned char back[8];
    static unsigned char big[1 << 20];
    tcp_pair(&c, &s);
    ec_log_set_quiet(1);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 16), 0);
    ASSERT_EQ(ec_sock_set_nonblocking(s, 1), 0);
    /* Nothing yet; then one recv becomes pending echo. */
    ASSERT_EQ(ec_echo_recv(&e, s), -EC_EWOULDBLOCK);
    ASSERT_EQ(ec_sendn(c, "abc", 3, -1, NULL), 3);
    ASSERT_GT(ec_wait(s, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_echo_recv(&e, s), 3);
    ASSERT(!ec_echo_idle(&e));
    ASSERT_EQ(ec_echo_flush_until_blocked(&e, s), 0);
    ASSERT(ec_echo_idle(&e));
    ASSERT_EQ(ec_recvn(c, back, 3, ec_test_timeout_ms(2000), NULL), 3);
    ASSERT_MEM_EQ(back, "abc", 3);
    /* A peer that does not read: the socket fills and the rest stays pending (small
     * buffers, as loopback autotuning could otherwise take the whole megabyte). */
    ASSERT_EQ(ec_sock_set_bufsizes(s, 0, 4096), 0);
    ASSERT_EQ(ec_sock_set_bufsizes(c, 4096, 0), 0);
    ASSERT_EQ(ec_echo_received(&e, big, sizeof big), 0);
    ASSERT_EQ(ec_echo_flush_until_blocked(&e, s), -EC_EWOULDBLOCK);
    ASSERT(!ec_echo_idle(&e));
    /* The peer's FIN. */
    ec_echo_free(&e);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 16), 0);
    ASSERT_EQ(ec_sock_shutdown_wr(c), 0);
    ASSERT_GT(ec_wait(s, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_echo_recv(&e, s), 0);
    ec_echo_free(&e);
    ec_sock_close(s);
    ec_sock_close(c);
}

TEST(echo_serve_blocking_echoes_until_the_peer_half_closes)
{
    ec_sock_t c, s;
    struct ec_echo e;
    struct ec_framing f = spec("raw");
    unsigned char back[16];
    tcp_pair(&c, &s);
    ec_log_set_quiet(1);
    /* A small buffer, so the bytes take several recv/send rounds. */
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 4), 0);
    ASSERT_EQ(ec_sendn(c, "hello, world", 12, -1, NULL), 12);
    ASSERT_EQ(ec_sock_shutdown_wr(c), 0);
    /* FIN after the data: everything is echoed, then the reason is 0 (eof). */
    ASSERT_EQ(ec_echo_serve_blocking(&e, s), 0);
    ASSERT(ec_echo_idle(&e));
    ASSERT_EQ(ec_recvn(c, back, 12, ec_test_timeout_ms(2000), NULL), 12);
    ASSERT_MEM_EQ(back, "hello, world", 12);
    ec_echo_free(&e);
    ec_sock_close(s);
    ec_sock_close(c);
}

TEST(echo_serve_blocking_returns_the_class_of_a_reset_or_bad_frame)
{
    ec_sock_t c, s;
    struct ec_echo e;
    struct ec_framing f = spec("len16");
    tcp_pair(&c, &s);
    ec_log_set_quiet(1);
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 64), 0);
    ASSERT_EQ(ec_sock_abort(c), 0);
    ASSERT_EQ(ec_echo_serve_blocking(&e, s), -EC_ECONNRESET);
    ec_echo_free(&e);
    ec_sock_close(s);
    /* A frame longer than the maximum ends the connection with that class. */
    tcp_pair(&c, &s);
    f = spec("len16,max=8");
    ASSERT_EQ(ec_echo_init(&e, "p", &f, 64), 0);
    ASSERT_EQ(ec_sendn(c, "\x00\x10", 2, -1, NULL), 2);
    ASSERT_EQ(ec_echo_serve_blocking(&e, s), -EC_ETOOLONG);
    ec_echo_free(&e);
    ec_sock_close(s);
    ec_sock_close(c);
}

TEST(log_lines_follow_the_server_contract)
{
    char log[1024];
    ec_log_set_quiet(0);
    capture_start();
    ec_log_ready("127.0.0.1:40100");
    ec_log_accept("127.0.0.1:5000");
    ec_log_close("a", 0);
    ec_log_close("a", -EC_ECONNRESET);
    ec_log_close("a", -EC_ETIMEDOUT);
    ec_log_close("a", -EC_ETOOLONG);
    ec_log_refuse("b", "max-clients");
    ec_log_line("custom n=%d", 7);
    ec_log_set_quiet(1);
    ec_log_accept("hidden");
    ec_log_line("hidden");
    ec_log_ready("[::1]:1");
    ec_log_set_quiet(0);
    ASSERT_STR_EQ(capture_end(log, sizeof log), "listening 127.0.0.1:40100\n"
                                                "accept peer=127.0.0.1:5000\n"
                                                "close peer=a reason=eof\n"
                                                "close peer=a reason=reset\n"
                                                "close peer=a reason=error:timed-out\n"
                                                "close peer=a reason=error:too-long\n"
                                                "refuse peer=b reason=max-clients\n"
                                                "custom n=7\n"
                                                "listening [::1]:1\n");
}

TEST(log_truncates_an_overlong_line_but_keeps_its_newline)
{
    static char big[3000], log[4096];
    memset(big, 'x', sizeof big - 1);
    capture_start();
    ec_log_line("%s", big);
    const char *out = capture_end(log, sizeof log);
    size_t n = strlen(out);
    ASSERT_GT(n, 500);
    ASSERT_LT(n, sizeof big);
    ASSERT_EQ(out[n - 1], '\n');
}

EC_TEST_MAIN(EC_TEST_ENTRY(echo_raw_owes_back_every_byte_received),
             EC_TEST_ENTRY(echo_line_framing_owes_whole_frames_only),
             EC_TEST_ENTRY(echo_len16_frame_larger_than_bufsize_is_reassembled),
             EC_TEST_ENTRY(echo_rejects_oversized_frame),
             EC_TEST_ENTRY(echo_flush_all_sends_everything_over_a_socket),
             EC_TEST_ENTRY(echo_recv_and_flush_until_blocked_step_a_nonblocking_socket),
             EC_TEST_ENTRY(echo_serve_blocking_echoes_until_the_peer_half_closes),
             EC_TEST_ENTRY(echo_serve_blocking_returns_the_class_of_a_reset_or_bad_frame),
             EC_TEST_ENTRY(log_lines_follow_the_server_contract),
             EC_TEST_ENTRY(log_truncates_an_overlong_line_but_keeps_its_newline))
