/* test_net.c - unit tests of the socket shim and the net helpers: error classes,
 * listening on port 0 (IPv4 and IPv6), listen errors that name the address, refused
 * connects, host:port parsing, address text, descriptor exhaustion and ec_wait.
 */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ec_test.h"
#include "unit_sock.h"

struct class_case {
    int oscode;
    int cls;
};

TEST(error_classes_map_from_errno)
{
    static const struct class_case cases[] = {
        {0, 0},
        {EAGAIN, -EC_EWOULDBLOCK},
        {EWOULDBLOCK, -EC_EWOULDBLOCK},
        {EINPROGRESS, -EC_EWOULDBLOCK},
        {EINTR, -EC_EINTR},
        {ECONNRESET, -EC_ECONNRESET},
        {ECONNABORTED, -EC_ECONNABORTED},
        {ECONNREFUSED, -EC_ECONNREFUSED},
        {ETIMEDOUT, -EC_ETIMEDOUT},
        {EPIPE, -EC_ECLOSED},
        {ENOTCONN, -EC_ECLOSED},
        {ESHUTDOWN, -EC_ECLOSED},
        {EMFILE, -EC_EMFILE},
        {ENFILE, -EC_EMFILE},
        {EMSGSIZE, -EC_ETOOLONG},
        {EINVAL, -EC_EINVAL},
        {ENOMEM, -EC_ENOMEM},
        {ENOBUFS, -EC_ENOMEM},
        {ENOENT, -EC_EOTHER},
        {EHOSTUNREACH, -EC_EOTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (ec_err_from_os(cases[i].oscode) != cases[i].cls)
            FAIL("errno %d (%s) maps to %s, expected %s", cases[i].oscode,
                 strerror(cases[i].oscode), ec_err_name(ec_err_from_os(cases[i].oscode)),
                 ec_err_name(cases[i].cls));
    }
    /* ec_sock_error reads errno, and ec_sock_oserror keeps the raw code. */
    errno = ECONNRESET;
    ASSERT_EQ(ec_sock_error(), -EC_ECONNRESET);
    ASSERT_EQ(ec_sock_oserror(), ECONNRESET);
}

TEST(error_class_names_match_the_log_vocabulary)
{
    static const char *names[EC_ERR_COUNT] = {
        "ok",     "would-block", "interrupted",    "reset",    "aborted", "refused",  "timed-out",
        "closed", "other",       "no-descriptors", "too-long", "invalid", "no-memory"};
    for (int i = 1; i < EC_ERR_COUNT; i++) {
        ASSERT_STR_EQ(ec_err_name(-i), names[i]);
        ASSERT_STR_EQ(ec_err_name(i), names[i]);
    }
    ASSERT_STR_EQ(ec_err_name(EC_ERR_COUNT), "unknown");
    ASSERT_STR_EQ(ec_err_name(-1000), "unknown");
    char buf[128];
    ec_os_strerror(ECONNRESET, buf, sizeof buf);
    ASSERT(strstr(buf, "(104)") != NULL || strstr(buf, "reset") != NULL);
    ASSERT(strchr(buf, '(') != NULL);
}

/* Listens on addr port 0, checks the port and the readiness text, and connects. */
static void check_listen_port_zero(const char *addr, const char *shown_prefix)
{
    ec_sock_t l, c, s;
    char err[200], name[EC_ADDRSTRLEN], peer[EC_ADDRSTRLEN], mine[EC_ADDRSTRLEN],
        want[EC_ADDRSTRLEN];
    ASSERT_EQ(ec_net_init(), 0);
    int rc = ec_listen(addr, 0, 8, &l, err, sizeof err);
    if (rc != 0) {
        if (strchr(addr, ':') != NULL)
            SKIP("no IPv6 loopback here: %s", err);
        FAIL("listen on %s port 0: %s", addr, err);
    }
    int port = ec_sock_local_port(l);
    ASSERT_GT(port, 0);
    ASSERT_LE(port, 65535);
    snprintf(want, sizeof want, "%s:%d", shown_prefix, port);
    ASSERT_STR_EQ(ec_sock_local_name(l, name, sizeof name), want);
    ASSERT_EQ(ec_connect(addr, (unsigned)port, ec_test_timeout_ms(2000), &c), 0);
    ASSERT_EQ(ec_accept(l, &s, peer), 0);
    /* The accepted peer text is the client's own local address. */
    ASSERT_STR_EQ(peer, ec_sock_local_name(c, mine, sizeof mine));
    ASSERT_STR_EQ(ec_sock_peer_name(c, name, sizeof name), want);
    ASSERT_EQ(ec_sendn(c, "x", 1, -1, NULL), 1);
    ASSERT_EQ(ec_recvn(s, name, 1, ec_test_timeout_ms(2000), NULL), 1);
    ec_sock_close(c);
    ec_sock_close(s);
    ec_sock_close(l);
}

TEST(listen_on_port_zero_reports_a_real_ipv4_port)
{
    check_listen_port_zero("127.0.0.1", "127.0.0.1");
}

TEST(listen_on_port_zero_reports_a_real_ipv6_port)
{
    check_listen_port_zero("::1", "[::1]");
}

TEST(listen_failure_names_the_address)
{
    ec_sock_t l, l2;
    char err[200], want[64];
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    int port = ec_sock_local_port(l);
    /* SO_REUSEADDR does not let a second socket listen on a port in use (Linux). */
    ASSERT_LT(ec_listen("127.0.0.1", (unsigned)port, 8, &l2, err, sizeof err), 0);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    if (strstr(err, want) == NULL || strstr(err, "bind") == NULL)
        FAIL("the message does not name %s and the failed step: %s", want, err);
    ASSERT_EQ(ec_listen("::1", 70000, 8, &l2, err, sizeof err), -EC_EINVAL);
    ASSERT(strstr(err, "[::1]") != NULL);
    ec_sock_close(l);
}

TEST(connect_to_a_closed_port_is_refused)
{
    ec_sock_t l, c;
    char err[200];
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    int port = ec_sock_local_port(l);
    ASSERT_EQ(ec_sock_close(l), 0);
    ASSERT_EQ(ec_connect("127.0.0.1", (unsigned)port, ec_test_timeout_ms(2000), &c),
              -EC_ECONNREFUSED);
    ASSERT_EQ(ec_connect("127.0.0.1", (unsigned)port, -1, &c), -EC_ECONNREFUSED);
    ASSERT_EQ(ec_connect("127.0.0.1", 0, -1, &c), -EC_EINVAL);
}

TEST(parse_hostport_accepts_and_rejects)
{
    char host[16];
    unsigned port = 0;
    ASSERT_EQ(ec_parse_hostport("127.0.0.1:80", host, sizeof host, &port, 0), 0);
    ASSERT_STR_EQ(host, "127.0.0.1");
    ASSERT_EQ(port, 80);
    ASSERT_EQ(ec_parse_hostport("[::1]:65535", host, sizeof host, &port, 0), 0);
    ASSERT_STR_EQ(host, "::1");
    ASSERT_EQ(port, 65535);
    ASSERT_EQ(ec_parse_hostport("localhost:0", host, sizeof host, &port, 1), 0);
    ASSERT_EQ(port, 0);
    static const char *bad[] = {"localhost:0",
                                "localhost",
                                "localhost:",
                                ":80",
                                "::1:80",
                                "[::1]80",
                                "[::1",
                                "h:65536",
                                "h:8x",
                                "h:-1",
                                "averyveryverylonghost:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ec_parse_hostport(bad[i], host, sizeof host, &port, 0) != -EC_EINVAL)
            FAIL("'%s' was accepted", bad[i]);
    }
}

TEST(addr_format_writes_ipv4_and_bracketed_ipv6)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    char buf[EC_ADDRSTRLEN];
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_port = htons(443);
    a4.sin_addr.s_addr = htonl(0x0a010203);
    ASSERT_STR_EQ(ec_addr_format((struct sockaddr *)&a4, buf, sizeof buf), "10.1.2.3:443");
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(80);
    a6.sin6_addr.s6_addr[15] = 1;
    ASSERT_STR_EQ(ec_addr_format((struct sockaddr *)&a6, buf, sizeof buf), "[::1]:80");
    a4.sin_family = AF_UNIX;
    ASSERT_STR_EQ(ec_addr_format((struct sockaddr *)&a4, buf, sizeof buf), "?");
}

TEST(accept_reports_descriptor_exhaustion_as_emfile)
{
    ec_sock_t l, c, s;
    char err[200];
    struct rlimit old, low;
    int fds[64], nfds = 0;
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    ASSERT_EQ(
        ec_connect("127.0.0.1", (unsigned)ec_sock_local_port(l), ec_test_timeout_ms(2000), &c), 0);
    /* Use up every descriptor below a low limit, then accept. */
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)(c + 8 < 60 ? c + 8 : 60);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (;;) {
        int fd = dup(l);
        if (fd < 0)
            break;
        ASSERT_LT(nfds, 64);
        fds[nfds++] = fd;
    }
    ASSERT_EQ(ec_accept(l, &s, NULL), -EC_EMFILE);
    ASSERT_STR_EQ(ec_err_name(ec_err_from_os(EMFILE)), "no-descriptors");
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* The listener still works once descriptors are free. Linux keeps the refused
     * connection queued, but valgrind closes the descriptor it could not hand over, so
     * a fresh connection makes sure that one is waiting. */
    ec_sock_t c2;
    ASSERT_EQ(
        ec_connect("127.0.0.1", (unsigned)ec_sock_local_port(l), ec_test_timeout_ms(2000), &c2), 0);
    ASSERT_GT(ec_wait(l, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_accept(l, &s, NULL), 0);
    ec_sock_close(s);
    ec_sock_close(c2);
    ec_sock_close(c);
    ec_sock_close(l);
}

TEST(wait_reports_readiness_and_timeout)
{
    ec_sock_t c, s;
    unsigned char b;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_wait(s, EC_READABLE, 10), 0);
    ASSERT_EQ(ec_wait(c, EC_WRITABLE, 0), EC_WRITABLE);
    ASSERT_EQ(ec_sock_set_nonblocking(s, 1), 0);
    ASSERT_EQ(ec_recv(s, &b, 1, 0), -EC_EWOULDBLOCK);
    ASSERT_EQ(ec_recv(s, &b, 1, EC_MSG_DONTWAIT), -EC_EWOULDBLOCK);
    ASSERT_EQ(ec_sock_set_nonblocking(s, 0), 0);
    ASSERT_EQ(ec_recv(s, &b, 1, EC_MSG_DONTWAIT), -EC_EWOULDBLOCK);
    ASSERT_EQ(ec_send(c, "z", 1, 0), 1);
    ASSERT_EQ(ec_wait(s, EC_READABLE, ec_test_timeout_ms(2000)), EC_READABLE);
    ASSERT_EQ(ec_recv(s, &b, 1, EC_MSG_PEEK), 1);
    ASSERT_EQ(ec_recv(s, &b, 1, 0), 1);
    ASSERT_EQ(b, 'z');
    /* A half-close makes the peer readable (EOF), and recv returns 0. */
    ASSERT_EQ(ec_sock_shutdown_wr(c), 0);
    ASSERT_EQ(ec_wait(s, EC_READABLE, ec_test_timeout_ms(2000)) & EC_READABLE, EC_READABLE);
    ASSERT_EQ(ec_recv(s, &b, 1, 0), 0);
    ASSERT_EQ(ec_sock_pending_error(s), 0);
    ec_sock_close(c);
    ec_sock_close(s);
}

TEST(socket_options_apply)
{
    ec_sock_t c, s;
    tcp_pair(&c, &s);
    ASSERT_EQ(ec_sock_set_nodelay(c, 1), 0);
    ASSERT_EQ(ec_sock_set_cork(c, 1), 0);
    ASSERT_EQ(ec_send(c, "ab", 2, EC_MSG_MORE), 2);
    ASSERT_EQ(ec_sock_set_cork(c, 0), 0);
    ASSERT_EQ(ec_recvn(s, (char[2]){0}, 2, ec_test_timeout_ms(2000), NULL), 2);
    ASSERT_EQ(ec_sock_set_bufsizes(c, 8192, 8192), 0);
    ASSERT_EQ(ec_sock_set_reuseaddr(c), 0);
    ASSERT_EQ(ec_sock_close(c), 0);
    ASSERT_EQ(ec_sock_close(s), 0);
    ASSERT_LT(ec_sock_close(s), 0);
}

TEST(clock_is_monotonic_and_sleep_waits)
{
    int64_t a = ec_now_ns();
    ec_sleep_ms(5);
    int64_t b = ec_now_ns();
    ASSERT_GE(b - a, 5000000);
    ASSERT_LT(b - a, (int64_t)ec_test_timeout_ms(1000) * 1000000);
    ASSERT_GE(ec_now_ms(), a / 1000000);
}

EC_TEST_MAIN(EC_TEST_ENTRY(error_classes_map_from_errno),
             EC_TEST_ENTRY(error_class_names_match_the_log_vocabulary),
             EC_TEST_ENTRY(listen_on_port_zero_reports_a_real_ipv4_port),
             EC_TEST_ENTRY(listen_on_port_zero_reports_a_real_ipv6_port),
             EC_TEST_ENTRY(listen_failure_names_the_address),
             EC_TEST_ENTRY(connect_to_a_closed_port_is_refused),
             EC_TEST_ENTRY(parse_hostport_accepts_and_rejects),
             EC_TEST_ENTRY(addr_format_writes_ipv4_and_bracketed_ipv6),
             EC_TEST_ENTRY(accept_reports_descriptor_exhaustion_as_emfile),
             EC_TEST_ENTRY(wait_reports_readiness_and_timeout), EC_TEST_ENTRY(socket_options_apply),
             EC_TEST_ENTRY(clock_is_monotonic_and_sleep_waits))
