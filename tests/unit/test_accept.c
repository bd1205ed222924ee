/* test_accept.c - unit tests of struct ec_acceptor: the reserve-descriptor answer to
 * EMFILE refuses a client that waits, never one that comes once descriptors are free,
 * does not block a blocking listener, and reports a lost spare as EMFILE.
 */
#include <sys/resource.h>
#include <unistd.h>

#include "ec_accept.h"
#include "ec_test.h"

#define MAX_HOG 64

/* Descriptors taken to reach the limit, and the limit to restore. */
struct hog {
    struct rlimit old;
    int fds[MAX_HOG];
    int n;
};

/* Lowers RLIMIT_NOFILE a little above the highest descriptor in use (top), then dups
 * fd until the process is out of descriptors. */
static void hog_fill(struct hog *h, int fd, int top)
{
    struct rlimit low;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &h->old), 0);
    low = h->old;
    low.rlim_cur = (rlim_t)(top + 8);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    h->n = 0;
    for (;;) {
        int d = dup(fd);
        if (d < 0)
            break;
        ASSERT_LT(h->n, MAX_HOG);
        h->fds[h->n++] = d;
    }
}

static void hog_free(struct hog *h)
{
    for (int i = 0; i < h->n; i++)
        close(h->fds[i]);
    h->n = 0;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &h->old), 0);
}

static ec_sock_t connect_to(ec_sock_t l)
{
    ec_sock_t c;
    ASSERT_EQ(
        ec_connect("127.0.0.1", (unsigned)ec_sock_local_port(l), ec_test_timeout_ms(2000), &c), 0);
    return c;
}

TEST(acceptor_refuses_a_waiting_client_when_out_of_descriptors)
{
    struct ec_acceptor a;
    struct hog h;
    ec_sock_t l, c1, c2, c3, s;
    char err[200], buf[8];
    int r, refused = 0;

    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    ASSERT_EQ(ec_sock_set_nonblocking(l, 1), 0);
    ec_acceptor_init(&a, l);
    ASSERT_NE(a.spare, EC_INVALID_SOCK);
    /* Two clients: under valgrind, an accept past the (emulated) limit consumes the
     * first one, so the second is the one the spare refuses. */
    c1 = connect_to(l);
    c2 = connect_to(l);
    ASSERT_GT(ec_wait(l, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    hog_fill(&h, l, c2);
    r = ec_acceptor_accept(&a, &s, NULL);
    ASSERT_EQ(r, -EC_ECONNABORTED);
    ASSERT_NE(a.spare, EC_INVALID_SOCK);
    for (int i = 0; i < 4 && r == -EC_ECONNABORTED; i++) {
        refused++;
        r = ec_acceptor_accept(&a, &s, NULL);
    }
    ASSERT_EQ(r, -EC_EWOULDBLOCK);
    ASSERT_LE(refused, 2);
    hog_free(&h);
    /* The refused client sees its connection end. */
    ASSERT_GT(ec_wait(c2, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_LE(ec_recv(c2, buf, sizeof buf, 0), 0);
    /* With descriptors free again, the next client is accepted, not refused. */
    c3 = connect_to(l);
    ASSERT_GT(ec_wait(l, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_acceptor_accept(&a, &s, NULL), 0);
    ec_sock_close(s);
    ec_sock_close(c3);
    ec_sock_close(c2);
    ec_sock_close(c1);
    ec_acceptor_close(&a);
    ASSERT_EQ(a.spare, EC_INVALID_SOCK);
    ec_sock_close(l);
}

TEST(acceptor_does_not_block_or_refuse_when_nobody_waits)
{
    struct ec_acceptor a;
    struct hog h;
    ec_sock_t l, c, s;
    char err[200], peer[EC_ADDRSTRLEN];
    int64_t t0;

    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    ec_acceptor_init(&a, l); /* the listener stays blocking, as in posix-iterative */
    hog_fill(&h, l, l > a.spare ? l : a.spare);
    /* Under valgrind the limit is emulated and the kernel's accept does not fail: a
     * blocking accept would then wait for a client that never comes. */
    ASSERT_EQ(ec_sock_set_nonblocking(l, 1), 0);
    if (ec_accept(l, &s, peer) != -EC_EMFILE) {
        hog_free(&h);
        SKIP("accept does not fail with EMFILE here (valgrind emulates the limit)");
    }
    ASSERT_EQ(ec_sock_set_nonblocking(l, 0), 0);
    /* EMFILE comes before the queue is looked at: with nobody waiting, the spare is
     * kept and the call returns at once instead of blocking in accept. */
    t0 = ec_now_ms();
    ASSERT_EQ(ec_acceptor_accept(&a, &s, peer), -EC_EWOULDBLOCK);
    ASSERT_LT(ec_now_ms() - t0, 1000);
    ASSERT_NE(a.spare, EC_INVALID_SOCK);
    hog_free(&h);
    c = connect_to(l);
    ASSERT_EQ(ec_acceptor_accept(&a, &s, peer), 0);
    ASSERT(strncmp(peer, "127.0.0.1:", 10) == 0);
    ec_sock_close(s);
    ec_sock_close(c);
    ec_acceptor_close(&a);
    ec_sock_close(l);
}

TEST(acceptor_without_a_spare_reports_emfile_until_released)
{
    struct ec_acceptor a;
    struct hog h;
    ec_sock_t l, c, s;
    char err[200];

    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    ASSERT_EQ(ec_sock_set_nonblocking(l, 1), 0);
    c = connect_to(l);
    ASSERT_GT(ec_wait(l, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    hog_fill(&h, l, c);
    ec_acceptor_init(&a, l); /* no descriptor left for the spare */
    ASSERT_EQ(a.spare, EC_INVALID_SOCK);
    ASSERT_EQ(ec_acceptor_accept(&a, &s, NULL), -EC_EMFILE);
    ASSERT_EQ(ec_acceptor_release(&a), 0);
    close(h.fds[--h.n]); /* a client leaves */
    ASSERT_EQ(ec_acceptor_release(&a), 1);
    hog_free(&h);
    ec_acceptor_close(&a);
    ec_sock_close(c);
    ec_sock_close(l);
}

TEST(accept_or_wait_waits_out_failures_but_not_a_shut_listener)
{
    struct ec_acceptor a;
    struct hog h;
    ec_sock_t l, c, s;
    char err[200];
    int64_t t0;

    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
    c = connect_to(l);
    ec_acceptor_init(&a, l);
    ASSERT_EQ(ec_acceptor_accept_or_wait(&a, &s, NULL, 100), 0);
    ec_sock_close(s);
    /* No spare and no descriptor: a bounded wait, then -EC_EMFILE. */
    ec_acceptor_close(&a);
    hog_fill(&h, l, c);
    ASSERT_EQ(ec_sock_set_nonblocking(l, 1), 0);
    if (ec_accept(l, &s, NULL) != -EC_EMFILE) {
        hog_free(&h);
        SKIP("accept does not fail with EMFILE here (valgrind emulates the limit)");
    }
    t0 = ec_now_ms();
    ASSERT_EQ(ec_acceptor_accept_or_wait(&a, &s, NULL, 100), -EC_EMFILE);
    ASSERT_GE(ec_now_ms() - t0, 90);
    hog_free(&h);
    /* A stop shuts the listener down: returned at once, with no wait. */
    ASSERT_EQ(ec_sock_shutdown_both(l), 0);
    t0 = ec_now_ms();
    ASSERT_EQ(ec_acceptor_accept_or_wait(&a, &s, NULL, 1000), -EC_EINVAL);
    ASSERT_LT(ec_now_ms() - t0, 500);
    ec_acceptor_close(&a);
    ec_sock_close(c);
    ec_sock_close(l);
}

TEST(refuse_logs_and_closes)
{
    ec_sock_t c, s;
    char buf[8];

    ASSERT_EQ(ec_net_init(), 0);
    {
        ec_sock_t l;
        char err[200];
        ASSERT_EQ(ec_listen("127.0.0.1", 0, 8, &l, err, sizeof err), 0);
        c = connect_to(l);
        ASSERT_EQ(ec_accept(l, &s, NULL), 0);
        ec_sock_close(l);
    }
    ec_refuse(s, "127.0.0.1:1", "max-clients");
    ASSERT_GT(ec_wait(c, EC_READABLE, ec_test_timeout_ms(2000)), 0);
    ASSERT_EQ(ec_recv(c, buf, sizeof buf, 0), 0);
    ec_sock_close(c);
}

EC_TEST_MAIN(EC_TEST_ENTRY(acceptor_refuses_a_waiting_client_when_out_of_descriptors),
             EC_TEST_ENTRY(acceptor_does_not_block_or_refuse_when_nobody_waits),
             EC_TEST_ENTRY(acceptor_without_a_spare_reports_emfile_until_released),
             EC_TEST_ENTRY(accept_or_wait_waits_out_failures_but_not_a_shut_listener),
             EC_TEST_ENTRY(refuse_logs_and_closes))
