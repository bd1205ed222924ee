/* test_wire.c - unit tests of ec_sendn, ec_recvn and ec_recv_until over real loopback
 * TCP connections: random chunking with gaps, EOF, reset, EINTR, deadlines, delimiters
 * split across chunks and overlong records.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ec_test.h"
#include "unit_sock.h"

/* ---- recvn over random chunking ---------------------------------------------------- */

#define RANDOM_ITERATIONS 1000
#define RANDOM_MAX_READ   2048

struct random_sender {
    ec_sock_t tx;
    const unsigned char *data;
    size_t len;
};

/* Sends data in chunks of 1..1500 bytes; before one chunk in 16, a gap of 0..2 ms so
 * that some reads find only part of what they want. */
static void *random_sender_main(void *arg)
{
    struct random_sender *rs = arg;
    uint64_t rng = ec_test_rng(1);
    size_t off = 0;
    ASSERT_EQ(ec_sock_set_nodelay(rs->tx, 1), 0);
    while (off < rs->len) {
        size_t n = ec_test_range(&rng, 1, 1500);
        if (n > rs->len - off)
            n = rs->len - off;
        if (ec_test_range(&rng, 0, 15) == 0)
            ec_sleep_ms((int)ec_test_range(&rng, 0, 2));
        ASSERT_EQ(ec_sendn(rs->tx, rs->data + off, n, ec_test_timeout_ms(5000), NULL),
                  (ptrdiff_t)n);
        off += n;
    }
    return NULL;
}

TEST(recvn_reassembles_random_chunks_with_gaps)
{
    ec_sock_t c, s;
    size_t sizes[RANDOM_ITERATIONS], total = 0;
    uint64_t rng = ec_test_rng(2);
    tcp_pair(&c, &s);
    for (size_t i = 0; i < RANDOM_ITERATIONS; i++) {
        sizes[i] = ec_test_range(&rng, 1, RANDOM_MAX_READ);
        total += sizes[i];
    }
    unsigned char *data = malloc(total);
    unsigned char *got = malloc(RANDOM_MAX_READ);
    ASSERT(data != NULL && got != NULL);
    uint64_t fill = ec_test_rng(3);
    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)ec_test_rand(&fill);

    struct random_sender rs = {c, data, total};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, random_sender_main, &rs), 0);
    size_t off = 0;
    for (size_t i = 0; i < RANDOM_ITERATIONS; i++) {
        /* Alternate the unbounded (blocking recv) and the bounded (try, then poll) paths. */
        int timeout = (i % 2 == 0) ? -1 : ec_test_timeout_ms(5000);
        size_t have = 12345;
        ptrdiff_t r = ec_recvn(s, got, sizes[i], timeout, &have);
        if (r != (ptrdiff_t)sizes[i] || have != sizes[i])
            FAIL("iteration %zu: recvn(%zu) returned %td (got %zu)", i, sizes[i], r, have);
        ASSERT_MEM_EQ(got, data + off, sizes[i]);
        off += sizes[i];
    }
    ASSERT_EQ(pthread_join(th, NULL), 0);
    free(data);
    free(got);
    ec_sock_close(c);
    ec_sock_close(s);
}

/* ---- recvn: EOF, reset, n = 0, deadline ---------------------------------------------- */

TEST(recvn_returns_count_received_before_eof)
{
    ec_sock_t c, s;
    unsigned char buf[10];
    size_t got = 99;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "hello", 5, -1, NULL), 5);
    ASSERT_EQ(ec_sock_close(c), 0);
    ASSERT_EQ(ec_recvn(s, buf, sizeof buf, ec_test_timeout_ms(2000), &got), 5);
    ASSERT_EQ(got, 5);
    ASSERT_MEM_EQ(buf, "hello", 5);
    /* Once the stream has ended, every later call sees EOF with nothing: 0. */
    ASSERT_EQ(ec_recvn(s, buf, sizeof buf, -1, &got), 0);
    ASSERT_EQ(got, 0);
    ec_sock_close(s);
}

/* Reset: the peer closes with SO_LINGER {1, 0} (an RST), which must not look like EOF,
 * on the blocking path (timeout -1) and on the bounded path alike. */
static void check_reset(int timeout_ms)
{
    ec_sock_t c, s;
    unsigned char buf[10];
    size_t got = 99;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "abc", 3, -1, NULL), 3);
    ASSERT_EQ(ec_recvn(s, buf, 3, timeout_ms, &got), 3);
    ASSERT_EQ(ec_sock_abort(c), 0);
    ptrdiff_t r = ec_recvn(s, buf, sizeof buf, timeout_ms, &got);
    if (r != -EC_ECONNRESET)
        FAIL("recvn after an RST returned %td (%s), expected -EC_ECONNRESET", r,
             r < 0 ? ec_err_name((int)r) : "a count");
    ASSERT_EQ(got, 0);
    ec_sock_close(s);
}

TEST(recvn_reports_reset_distinct_from_eof)
{
    check_reset(-1);
}

TEST(recvn_with_deadline_reports_reset_distinct_from_eof)
{
    check_reset(ec_test_timeout_ms(2000));
}

TEST(recvn_of_zero_bytes_returns_at_once)
{
    size_t got = 99;
    /* An invalid socket proves that the socket is not touched. */
    ASSERT_EQ(ec_recvn(EC_INVALID_SOCK, NULL, 0, -1, &got), 0);
    ASSERT_EQ(got, 0);
    ASSERT_EQ(ec_sendn(EC_INVALID_SOCK, NULL, 0, -1, NULL), 0);
}

TEST(recvn_times_out_when_bytes_stop)
{
    ec_sock_t c, s;
    unsigned char buf[10];
    size_t got = 99;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "abc", 3, -1, NULL), 3);
    int64_t t0 = ec_now_ms();
    ASSERT_EQ(ec_recvn(s, buf, sizeof buf, 50, &got), -EC_ETIMEDOUT);
    int64_t took = ec_now_ms() - t0;
    ASSERT_EQ(got, 3);
    ASSERT_GE(took, 50);
    ASSERT_LT(took, ec_test_timeout_ms(1000));
    /* A timeout leaves the connection usable: the rest still arrives. */
    ASSERT_EQ(ec_sendn(c, "defghijklm", 10, -1, NULL), 10);
    ASSERT_EQ(ec_recvn(s, buf + 3, 7, ec_test_timeout_ms(2000), &got), 7);
    ASSERT_MEM_EQ(buf, "abcdefghij", 10);
    ec_sock_close(c);
    ec_sock_close(s);
}

/* ---- recvn and EINTR ------------------------------------------------------------------ */

static atomic_int sigusr1_hits;

static void on_sigusr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigusr1_hits, 1);
}

struct eintr_ctx {
    pid_t tid;        /* the thread blocked in recvn */
    pthread_t thread; /* the same, for pthread_kill */
    ec_sock_t tx;     /* the peer's socket */
    long syscalls[2]; /* what "blocked in recvn" looks like in /proc */
};

/* The system call tid is in, from /proc/self/task/<tid>/syscall (proc(5)); -1 when it
 * runs in user space or the file cannot be read. */
static long current_syscall(pid_t tid)
{
    char path[64], text[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -2;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (strncmp(text, "running", 7) == 0 || n == 0)
        return -1;
    return strtol(text, NULL, 10);
}

/* Waits (bounded) until the thread is blocked in one of ctx's system calls. */
static void wait_blocked(const struct eintr_ctx *ctx)
{
    int limit = ec_test_timeout_ms(2000);
    for (int waited = 0; waited < limit; waited++) {
        long nr = current_syscall(ctx->tid);
        if (nr == ctx->syscalls[0] || nr == ctx->syscalls[1])
            return;
        ec_sleep_ms(1);
    }
    FAIL("the receiving thread did not block in recv/poll within %d ms", limit);
}

static void *interrupter_main(void *arg)
{
    struct eintr_ctx *ctx = arg;
    wait_blocked(ctx);
    ASSERT_EQ(pthread_kill(ctx->thread, SIGUSR1), 0);
    int limit = ec_test_timeout_ms(2000);
    for (int waited = 0; atomic_load(&sigusr1_hits) == 0; waited++) {
        if (waited >= limit)
            FAIL("SIGUSR1 was not handled within %d ms", limit);
        ec_sleep_ms(1);
    }
    /* Back in the same wait after the interrupted call: recvn retried. */
    wait_blocked(ctx);
    ASSERT_EQ(ec_sendn(ctx->tx, "0123456789", 10, -1, NULL), 10);
    return NULL;
}

static void check_eintr(int timeout_ms, long sc0, long sc1)
{
    ec_sock_t c, s;
    unsigned char buf[10];
    size_t got = 99;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked recv or poll fails with EINTR */
    ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    if (current_syscall((pid_t)syscall(SYS_gettid)) == -2)
        SKIP("/proc/self/task/<tid>/syscall is not readable here");

    tcp_pair(&c, &s);
    struct eintr_ctx ctx = {(pid_t)syscall(SYS_gettid), pthread_self(), c, {sc0, sc1}};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, interrupter_main, &ctx), 0);
    ASSERT_EQ(ec_recvn(s, buf, sizeof buf, timeout_ms, &got), 10);
    ASSERT_EQ(got, 10);
    ASSERT_MEM_EQ(buf, "0123456789", 10);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_EQ(atomic_load(&sigusr1_hits), 1);
    ec_sock_close(c);
    ec_sock_close(s);
}

TEST(recvn_retries_after_eintr)
{
    /* glibc's recv() is the recvfrom system call on Linux. */
    check_eintr(-1, SYS_recvfrom, SYS_recvfrom);
}

TEST(recvn_with_deadline_retries_after_eintr)
{
    /* With a deadline recvn waits in poll (glibc may use ppoll). */
#ifdef SYS_poll
    check_eintr(ec_test_timeout_ms(5000), SYS_poll, SYS_ppoll);
#else
    check_eintr(ec_test_timeout_ms(5000), SYS_ppoll, SYS_ppoll);
#endif
}

/* ---- sendn ---------------------------------------------------------------------------- */

struct reader {
    ec_sock_t rx;
    unsigned char *buf;
    size_t len;
    ptrdiff_t result;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    r->result = ec_recvn(r->rx, r->buf, r->len, ec_test_timeout_ms(5000), NULL);
    return NULL;
}

TEST(sendn_delivers_a_megabyte_on_a_nonblocking_socket)
{
    ec_sock_t c, s;
    size_t len = 1 << 20;
    unsigned char *data = malloc(len), *back = malloc(len);
    ASSERT(data != NULL && back != NULL);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 9));
    tcp_pair(&c, &s);
    /* Small buffers and a nonblocking socket: sendn must wait out many would-blocks. */
    ASSERT_EQ(ec_sock_set_bufsizes(c, 0, 4096), 0);
    ASSERT_EQ(ec_sock_set_nonblocking(c, 1), 0);
    struct reader r = {s, back, len, 0};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, reader_main, &r), 0);
    size_t sent = 0;
    ASSERT_EQ(ec_sendn(c, data, len, ec_test_timeout_ms(5000), &sent), (ptrdiff_t)len);
    ASSERT_EQ(sent, len);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_EQ(r.result, (ptrdiff_t)len);
    ASSERT_MEM_EQ(back, data, len);
    free(data);
    free(back);
    ec_sock_close(c);
    ec_sock_close(s);
}

TEST(sendn_to_a_reset_peer_fails_without_sigpipe)
{
    ec_sock_t c, s;
    static unsigned char block[65536];
    tcp_pair(&c, &s);
    /* Default SIGPIPE action: only MSG_NOSIGNAL keeps the process alive now. */
    signal(SIGPIPE, SIG_DFL);
    ASSERT_EQ(ec_sock_abort(s), 0);
    ptrdiff_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++)
        r = ec_sendn(c, block, sizeof block, ec_test_timeout_ms(2000), NULL);
    if (r != -EC_ECONNRESET && r != -EC_ECLOSED)
        FAIL("sendn to a reset peer returned %td (%s), expected reset or closed", r,
             ec_err_name((int)r));
    ec_sock_close(c);
}

TEST(sendn_times_out_when_the_peer_never_reads)
{
    ec_sock_t c, s;
    size_t len = 8 << 20, sent = 0;
    unsigned char *data = calloc(1, len);
    ASSERT(data != NULL);
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sock_set_bufsizes(s, 4096, 0), 0);
    ASSERT_EQ(ec_sock_set_bufsizes(c, 0, 4096), 0);
    int64_t t0 = ec_now_ms();
    ASSERT_EQ(ec_sendn(c, data, len, 100, &sent), -EC_ETIMEDOUT);
    ASSERT_LT(ec_now_ms() - t0, ec_test_timeout_ms(1000));
    ASSERT_GT(sent, 0);
    ASSERT_LT(sent, len);
    free(data);
    ec_sock_close(c);
    ec_sock_close(s);
}

/* ---- recv_until ----------------------------------------------------------------------- */

TEST(recv_until_finds_newline_split_across_chunks)
{
    ec_sock_t c, s;
    const char *stream = "hello\nworld\n";
    size_t chunks[] = {3, 5, 4}; /* "hel" "lo\nwo" "rld\n" */
    char buf[32];
    size_t got = 0;
    tcp_pair(&c, &s);
    struct send_plan p = {c, s, (const unsigned char *)stream, chunks, 3, 1, 1, 0};
    plan_start(&p);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, ec_test_timeout_ms(2000), &got), 6);
    ASSERT_MEM_EQ(buf, "hello\n", 6);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, -1, &got), 6);
    ASSERT_MEM_EQ(buf, "world\n", 6);
    ASSERT_EQ(got, 6);
    plan_join(&p);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, -1, &got), 0);
    ec_sock_close(s);
}

TEST(recv_until_finds_multibyte_delimiter_split_at_every_byte)
{
    /* Records "r1" .. "r3" ended by "\r\n\r\n"; record k is cut inside its delimiter
     * after k bytes, and the cut also carries the next record's first bytes. */
    ec_sock_t c, s;
    const char *stream = "r1\r\n\r\nr2\r\n\r\nr3\r\n\r\nend";
    /* "r1\r" | "\n\r\nr2\r\n" | "\r\nr3\r\n\r" | "\nend" */
    size_t chunks[] = {3, 7, 7, 4};
    char buf[32];
    size_t got = 0;
    tcp_pair(&c, &s);
    struct send_plan p = {c, s, (const unsigned char *)stream, chunks, 4, 1, 1, 0};
    plan_start(&p);
    for (int k = 1; k <= 3; k++) {
        char want[8];
        snprintf(want, sizeof want, "r%d\r\n\r\n", k);
        ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\r\n\r\n", 4, ec_test_timeout_ms(2000), &got),
                  6);
        ASSERT_MEM_EQ(buf, want, 6);
    }
    plan_join(&p);
    /* The bytes after the last delimiter were left in the socket. */
    ASSERT_EQ(ec_recvn(s, buf, 4, ec_test_timeout_ms(2000), &got), 3);
    ASSERT_MEM_EQ(buf, "end", 3);
    ec_sock_close(s);
}

TEST(recv_until_reads_several_records_from_one_chunk)
{
    ec_sock_t c, s;
    char buf[16];
    size_t got = 0;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "a\nbb\nccc\n", 9, -1, NULL), 9);
    ASSERT_EQ(ec_sock_close(c), 0);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, ec_test_timeout_ms(2000), &got), 2);
    ASSERT_MEM_EQ(buf, "a\n", 2);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, ec_test_timeout_ms(2000), &got), 3);
    ASSERT_MEM_EQ(buf, "bb\n", 3);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, ec_test_timeout_ms(2000), &got), 4);
    ASSERT_MEM_EQ(buf, "ccc\n", 4);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, ec_test_timeout_ms(2000), &got), 0);
    ASSERT_EQ(got, 0);
    ec_sock_close(s);
}

TEST(recv_until_rejects_overlong_record_without_reading_past_max)
{
    ec_sock_t c, s;
    char buf[16];
    size_t got = 0;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "abcdefgh\n", 9, -1, NULL), 9);
    ASSERT_EQ(ec_recv_until(s, buf, 4, "\n", 1, ec_test_timeout_ms(2000), &got), -EC_ETOOLONG);
    ASSERT_EQ(got, 4);
    ASSERT_MEM_EQ(buf, "abcd", 4);
    ASSERT_EQ(ec_recvn(s, buf, 5, ec_test_timeout_ms(2000), &got), 5);
    ASSERT_MEM_EQ(buf, "efgh\n", 5);
    ec_sock_close(c);
    ec_sock_close(s);
}

TEST(recv_until_accepts_record_of_exactly_max_bytes)
{
    ec_sock_t c, s;
    char buf[16];
    size_t got = 0;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "abc\r\nx", 6, -1, NULL), 6);
    ASSERT_EQ(ec_recv_until(s, buf, 5, "\r\n", 2, ec_test_timeout_ms(2000), &got), 5);
    ASSERT_MEM_EQ(buf, "abc\r\n", 5);
    ec_sock_close(c);
    ec_sock_close(s);
}

TEST(recv_until_returns_partial_record_at_eof)
{
    ec_sock_t c, s;
    char buf[16];
    size_t got = 0;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sendn(c, "abc\r", 4, -1, NULL), 4);
    ASSERT_EQ(ec_sock_close(c), 0);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\r\n", 2, ec_test_timeout_ms(2000), &got), 4);
    ASSERT_EQ(got, 4);
    ASSERT_MEM_EQ(buf, "abc\r", 4);
    ec_sock_close(s);
}

TEST(recv_until_times_out_without_delimiter)
{
    ec_sock_t c, s;
    char buf[16];
    size_t got = 0;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sock_set_nonblocking(s, 1), 0);
    ASSERT_EQ(ec_sendn(c, "ab", 2, -1, NULL), 2);
    ASSERT_EQ(ec_recv_until(s, buf, sizeof buf, "\n", 1, 30, &got), -EC_ETIMEDOUT);
    ASSERT_EQ(got, 2);
    ec_sock_close(c);
    ec_sock_close(s);
}

EC_TEST_MAIN(EC_TEST_ENTRY(recvn_reassembles_random_chunks_with_gaps),
             EC_TEST_ENTRY(recvn_returns_count_received_before_eof),
             EC_TEST_ENTRY(recvn_reports_reset_distinct_from_eof),
             EC_TEST_ENTRY(recvn_with_deadline_reports_reset_distinct_from_eof),
             EC_TEST_ENTRY(recvn_of_zero_bytes_returns_at_once),
             EC_TEST_ENTRY(recvn_times_out_when_bytes_stop),
             EC_TEST_ENTRY(recvn_retries_after_eintr),
             EC_TEST_ENTRY(recvn_with_deadline_retries_after_eintr),
             EC_TEST_ENTRY(sendn_delivers_a_megabyte_on_a_nonblocking_socket),
             EC_TEST_ENTRY(sendn_to_a_reset_peer_fails_without_sigpipe),
             EC_TEST_ENTRY(sendn_times_out_when_the_peer_never_reads),
             EC_TEST_ENTRY(recv_until_finds_newline_split_across_chunks),
             EC_TEST_ENTRY(recv_until_finds_multibyte_delimiter_split_at_every_byte),
             EC_TEST_ENTRY(recv_until_reads_several_records_from_one_chunk),
             EC_TEST_ENTRY(recv_until_rejects_overlong_record_without_reading_past_max),
             EC_TEST_ENTRY(recv_until_accepts_record_of_exactly_max_bytes),
             EC_TEST_ENTRY(recv_until_returns_partial_record_at_eof),
             EC_TEST_ENTRY(recv_until_times_out_without_delimiter))
