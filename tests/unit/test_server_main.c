/* test_server_main.c - unit tests of server_main.c, the front of every echo server:
 * option forms and bad values (exit 2), --help/--version, the readiness line, and
 * stopping on SIGINT/SIGTERM/SIGHUP (exit 0, also with a client that never leaves).
 * The servers under test are stub models (stub_model.c) started as child processes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ec_test.h"
#include "unit_sock.h"

#ifndef STUB_EXE
#error "STUB_EXE (path of the stub server) must be defined by the build"
#endif
#ifndef STUB_WORKERS_EXE
#error "STUB_WORKERS_EXE (path of the stub server with workers) must be defined by the build"
#endif

/* A server started as a child, with its stdout and stderr captured. */
struct child {
    pid_t pid;
    int out, err;
    char outbuf[16384], errbuf[4096];
    size_t outlen, errlen;
    size_t line_at; /* start of the next unread line in outbuf */
};

static void child_start(struct child *c, const char *exe, const char *const *args)
{
    int po[2], pe[2];
    const char *argv[32];
    size_t n = 0;
    memset(c, 0, sizeof *c);
    argv[n++] = exe;
    for (; args != NULL && args[n - 1] != NULL; n++) {
        ASSERT_LT(n, 31);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    ASSERT_EQ(pipe(po), 0);
    ASSERT_EQ(pipe(pe), 0);
    fflush(stdout);
    fflush(stderr);
    c->pid = fork();
    ASSERT_GE(c->pid, 0);
    if (c->pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    c->out = po[0];
    c->err = pe[0];
}

/* Reads what is available from the child's pipes, waiting at most timeout_ms. Returns
 * 0 when both pipes reached EOF, 1 otherwise. */
static int child_pump(struct child *c, int timeout_ms)
{
    struct pollfd p[2];
    int n = 0;
    if (c->out >= 0)
        p[n++] = (struct pollfd){c->out, POLLIN, 0};
    if (c->err >= 0)
        p[n++] = (struct pollfd){c->err, POLLIN, 0};
    if (n == 0)
        return 0;
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r < 0 && errno == EINTR)
        return 1;
    ASSERT_GE(r, 0);
    for (int i = 0; i < n; i++) {
        if (p[i].revents == 0)
            continue;
        int is_out = p[i].fd == c->out;
        char *buf = is_out ? c->outbuf : c->errbuf;
        size_t *len = is_out ? &c->outlen : &c->errlen;
        size_t cap = (is_out ? sizeof c->outbuf : sizeof c->errbuf) - 1;
        ssize_t got = read(p[i].fd, buf + *len, cap - *len);
        if (got <= 0) {
            close(p[i].fd);
            if (is_out)
                c->out = -1;
            else
                c->err = -1;
        } else {
            *len += (size_t)got;
            buf[*len] = '\0';
        }
    }
    return c->out >= 0 || c->err >= 0;
}

/* The next line of the child's stdout (without "\n"), waiting at most timeout_ms. */
static const char *child_line(struct child *c, char *line, size_t len, int timeout_ms)
{
    int64_t deadline = ec_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->outbuf + c->line_at, '\n', c->outlen - c->line_at);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (c->outbuf + c->line_at));
            snprintf(line, len, "%.*s", (int)n, c->outbuf + c->line_at);
            c->line_at += n + 1;
            return line;
        }
        int64_t left = deadline - ec_now_ms();
        if (left <= 0 || !child_pump(c, (int)left))
            FAIL("no line from the server within %d ms; stdout so far: \"%s\", stderr: \"%s\"",
                 timeout_ms, c->outbuf, c->errbuf);
    }
}

/* Collects all output until the child exits (bounded) and returns its exit status. */
static int child_finish(struct child *c, int timeout_ms)
{
    int64_t deadline = ec_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ec_now_ms();
        if (left <= 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            FAIL("the server did not exit within %d ms; stdout: \"%s\", stderr: \"%s\"", timeout_ms,
                 c->outbuf, c->errbuf);
        }
        if (!child_pump(c, (int)left))
            break;
    }
    /* Both pipes are closed, so the process has exited (or closed them itself). */
    int status = 0;
    ASSERT_EQ(waitpid(c->pid, &status, 0), c->pid);
    if (WIFSIGNALED(status))
        FAIL("the server died of signal %d; stderr: \"%s\"", WTERMSIG(status), c->errbuf);
    ASSERT(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Starts a server, reads "listening A:P" and returns the port. */
static unsigned start_server(struct child *c, const char *exe, const char *const *args,
                             const char *want_host)
{
    char line[200], prefix[80];
    child_start(c, exe, args);
    child_line(c, line, sizeof line, ec_test_timeout_ms(2000));
    snprintf(prefix, sizeof prefix, "listening %s:", want_host);
    if (strncmp(line, prefix, strlen(prefix)) != 0)
        FAIL("readiness line \"%s\" does not start with \"%s\"", line, prefix);
    long port = strtol(line + strlen(prefix), NULL, 10);
    ASSERT_GT(port, 0);
    ASSERT_LE(port, 65535);
    return (unsigned)port;
}

TEST(server_main_prints_readiness_line_with_the_real_port)
{
    struct child c;
    char line[200];
    static const char *const args[] = {"--port", "0", NULL};
    unsigned port = start_server(&c, STUB_EXE, args, "127.0.0.1");
    ASSERT_STR_EQ(child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)),
                  "options bufsize=1024 workers=0 max-clients=0");
    ec_sock_t s;
    unsigned char back[5];
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_connect("127.0.0.1", port, ec_test_timeout_ms(2000), &s), 0);
    ASSERT_EQ(ec_sendn(s, "hello", 5, -1, NULL), 5);
    ASSERT_EQ(ec_recvn(s, back, 5, ec_test_timeout_ms(2000), NULL), 5);
    ASSERT_MEM_EQ(back, "hello", 5);
    ec_sock_close(s);
    kill(c.pid, SIGTERM);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strstr(c.outbuf, "\naccept peer=127.0.0.1:") != NULL);
    ASSERT(strstr(c.outbuf, " bytes=5\n") != NULL);
}

TEST(server_main_brackets_ipv6_in_the_readiness_line)
{
    struct child c;
    ec_sock_t probe;
    char err[200];
    ASSERT_EQ(ec_net_init(), 0);
    if (ec_listen("::1", 0, 1, &probe, err, sizeof err) != 0)
        SKIP("no IPv6 loopback here: %s", err);
    ec_sock_close(probe);
    static const char *const args[] = {"--bind", "::1", "--port=0", "--quiet", NULL};
    unsigned port = start_server(&c, STUB_EXE, args, "[::1]");
    ec_sock_t s;
    ASSERT_EQ(ec_connect("::1", port, ec_test_timeout_ms(2000), &s), 0);
    ec_sock_close(s);
    kill(c.pid, SIGTERM);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    /* --quiet: nothing but the readiness line. */
    ASSERT_EQ(c.line_at, c.outlen);
}

TEST(server_main_accepts_both_option_forms)
{
    struct child c;
    char line[200];
    static const char *const args[] = {"--port=0",      "--bufsize", "16", "--framing=line",
                                       "--max-clients", "5",         NULL};
    unsigned port = start_server(&c, STUB_EXE, args, "127.0.0.1");
    ASSERT_STR_EQ(child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)),
                  "options bufsize=16 workers=0 max-clients=5");
    ec_sock_t s;
    unsigned char back[3];
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_connect("127.0.0.1", port, ec_test_timeout_ms(2000), &s), 0);
    ASSERT_EQ(ec_sendn(s, "hi\n", 3, -1, NULL), 3);
    ASSERT_EQ(ec_recvn(s, back, 3, ec_test_timeout_ms(2000), NULL), 3);
    ec_sock_close(s);
    kill(c.pid, SIGTERM);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strstr(c.outbuf, "\nframe peer=127.0.0.1:") != NULL);
}

/* --sndbuf reaches every accepted socket: Linux reports twice the size it was given
 * (socket(7)), where an untouched socket starts at tcp_wmem's default (16384 here). */
TEST(server_main_sets_sndbuf_on_accepted_sockets)
{
    struct child c;
    char line[200];
    static const char *const args[] = {"--port", "0", "--sndbuf", "20000", NULL};
    unsigned port = start_server(&c, STUB_EXE, args, "127.0.0.1");
    child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)); /* the options line */
    ec_sock_t s;
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_connect("127.0.0.1", port, ec_test_timeout_ms(2000), &s), 0);
    child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)); /* accept */
    child_line(&c, line, sizeof line, ec_test_timeout_ms(2000));
    const char *b = strstr(line, " bytes=");
    if (strncmp(line, "sndbuf peer=127.0.0.1:", 22) != 0 || b == NULL)
        FAIL("expected the accepted socket's sndbuf line, got \"%s\"", line);
    ASSERT_EQ(strtol(b + 7, NULL, 10), 40000);
    ec_sock_close(s);
    kill(c.pid, SIGTERM);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
}

struct bad_case {
    const char *args[4];
    const char *must_name[2]; /* texts the message must hold: the option and the value */
};

TEST(server_main_rejects_bad_values_with_exit_2)
{
    static const struct bad_case cases[] = {
        {{"--port", "65536"}, {"--port", "65536"}},
        {{"--port=-1"}, {"--port", "-1"}},
        {{"--port", "12a"}, {"--port", "12a"}},
        {{"--port"}, {"--port", "needs a value"}},
        {{"--bufsize", "0"}, {"--bufsize", "'0'"}},
        {{"--bufsize=16777217"}, {"--bufsize", "16777217"}},
        {{"--framing", "len64"}, {"--framing", "len64"}},
        {{"--framing=fixed:0"}, {"--framing", "fixed:0"}},
        {{"--max-clients", "-3"}, {"--max-clients", "-3"}},
        {{"--sndbuf", "1023"}, {"--sndbuf", "1023"}},
        {{"--sndbuf=16777217"}, {"--sndbuf", "16777217"}},
        {{"--workers", "2"}, {"--workers", "no worker threads"}},
        {{"--bind", ""}, {"--bind", "''"}},
        {{"--no-such-option"}, {"--no-such-option", "unknown"}},
        {{"--quiet=yes"}, {"--quiet", "yes"}},
        {{"stray"}, {"stray", "unexpected"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct child c;
        child_start(&c, STUB_EXE, cases[i].args);
        int status = child_finish(&c, ec_test_timeout_ms(2000));
        if (status != 2)
            FAIL("%s %s: exit status %d, expected 2", cases[i].args[0],
                 cases[i].args[1] ? cases[i].args[1] : "", status);
        for (int k = 0; k < 2; k++) {
            if (strstr(c.errbuf, cases[i].must_name[k]) == NULL)
                FAIL("%s: the message does not mention \"%s\": %s", cases[i].args[0],
                     cases[i].must_name[k], c.errbuf);
        }
        /* A rejected command line never listens. */
        ASSERT(strstr(c.outbuf, "listening") == NULL);
    }
}

TEST(server_main_help_and_version_name_the_model)
{
    struct child c;
    static const char *const help[] = {"--help", NULL};
    static const char *const version[] = {"--version", NULL};
    child_start(&c, STUB_EXE, help);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strstr(c.outbuf, "usage: echo-unit-stub") != NULL);
    ASSERT(strstr(c.outbuf, "model unit-stub") != NULL);
    ASSERT(strstr(c.outbuf, "Test stub: blocking") != NULL);
    ASSERT(strstr(c.outbuf, "--framing") != NULL);
    ASSERT(strstr(c.outbuf, "--workers") == NULL);
    child_start(&c, STUB_WORKERS_EXE, help);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strstr(c.outbuf, "--workers") != NULL);
    child_start(&c, STUB_EXE, version);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strncmp(c.outbuf, "echoconf ", 9) == 0);
    ASSERT(strstr(c.outbuf, "(model unit-stub)\n") != NULL);
}

TEST(server_main_workers_default_to_two_per_cpu)
{
    struct child c;
    char line[200], want[80];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    static const char *const none[] = {"--port", "0", NULL};
    static const char *const minus[] = {"--port", "0", "--workers", "-1", NULL};
    static const char *const three[] = {"--port", "0", "--workers=3", NULL};
    static const char *const zero[] = {"--workers", "0", NULL};
    const char *const *runs[] = {none, minus, three};
    for (int i = 0; i < 3; i++) {
        start_server(&c, STUB_WORKERS_EXE, runs[i], "127.0.0.1");
        snprintf(want, sizeof want, "options bufsize=1024 workers=%ld max-clients=0",
                 i == 2 ? 3L : 2 * (cpus > 0 ? cpus : 1));
        ASSERT_STR_EQ(child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)), want);
        kill(c.pid, SIGTERM);
        ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    }
    child_start(&c, STUB_WORKERS_EXE, zero);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 2);
    ASSERT(strstr(c.errbuf, "--workers") != NULL);
}

TEST(server_main_stops_on_sigint_sigterm_and_sighup)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    static const char *const args[] = {"--port", "0", "--quiet", NULL};
    for (size_t i = 0; i < 3; i++) {
        struct child c;
        start_server(&c, STUB_EXE, args, "127.0.0.1");
        int64_t t0 = ec_now_ms();
        ASSERT_EQ(kill(c.pid, sigs[i]), 0);
        ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
        /* The listener shutdown wakes the blocking accept at once: no grace period. */
        ASSERT_LT(ec_now_ms() - t0, 1500);
    }
}

TEST(server_main_exits_after_the_grace_period_when_a_client_stays)
{
    struct child c;
    ec_sock_t s;
    char line[200];
    static const char *const args[] = {"--port", "0", NULL};
    unsigned port = start_server(&c, STUB_EXE, args, "127.0.0.1");
    child_line(&c, line, sizeof line, ec_test_timeout_ms(2000));
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_connect("127.0.0.1", port, ec_test_timeout_ms(2000), &s), 0);
    /* Wait until the server blocks in recv on this client, then ask it to stop. */
    ASSERT(strncmp(child_line(&c, line, sizeof line, ec_test_timeout_ms(2000)),
                   "accept peer=", 12) == 0);
    int64_t t0 = ec_now_ms();
    ASSERT_EQ(kill(c.pid, SIGTERM), 0);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(4000)), 0);
    int64_t took = ec_now_ms() - t0;
    ASSERT_GE(took, 1900);
    ASSERT_LT(took, ec_test_timeout_ms(3500));
    ec_sock_close(s);
}

TEST(server_main_reports_a_port_in_use_with_exit_1)
{
    struct child c;
    ec_sock_t l;
    char err[200], port[16], want[64];
    ASSERT_EQ(ec_net_init(), 0);
    ASSERT_EQ(ec_listen("127.0.0.1", 0, 1, &l, err, sizeof err), 0);
    snprintf(port, sizeof port, "%d", ec_sock_local_port(l));
    const char *const args[] = {"--port", port, NULL};
    child_start(&c, STUB_EXE, args);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 1);
    snprintf(want, sizeof want, "echo-unit-stub: cannot listen on 127.0.0.1:%s", port);
    if (strstr(c.errbuf, want) == NULL)
        FAIL("stderr does not say \"%s\": %s", want, c.errbuf);
    ec_sock_close(l);
}

TEST(server_main_exits_77_before_listening_when_the_probe_fails)
{
    struct child c;
    static const char *const args[] = {"--port", "0", NULL};
    static const char *const help[] = {"--help", NULL};
    child_start(&c, STUB_UNAVAILABLE_EXE, args);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 77);
    if (strstr(c.errbuf,
               "echo-unit-stub-unavailable: cannot run here: the stub's probe always fails\n") ==
        NULL)
        FAIL("stderr does not give the probe's reason: \"%s\"", c.errbuf);
    /* The readiness line never appears, so nobody mistakes the skip for a server. */
    ASSERT(strstr(c.outbuf, "listening") == NULL);
    /* --help does not depend on the probe. */
    child_start(&c, STUB_UNAVAILABLE_EXE, help);
    ASSERT_EQ(child_finish(&c, ec_test_timeout_ms(2000)), 0);
    ASSERT(strstr(c.outbuf, "unit-stub-unavailable") != NULL);
}

EC_TEST_MAIN(EC_TEST_ENTRY(server_main_prints_readiness_line_with_the_real_port),
             EC_TEST_ENTRY(server_main_brackets_ipv6_in_the_readiness_line),
             EC_TEST_ENTRY(server_main_accepts_both_option_forms),
             EC_TEST_ENTRY(server_main_sets_sndbuf_on_accepted_sockets),
             EC_TEST_ENTRY(server_main_rejects_bad_values_with_exit_2),
             EC_TEST_ENTRY(server_main_help_and_version_name_the_model),
             EC_TEST_ENTRY(server_main_workers_default_to_two_per_cpu),
             EC_TEST_ENTRY(server_main_stops_on_sigint_sigterm_and_sighup),
             EC_TEST_ENTRY(server_main_exits_after_the_grace_period_when_a_client_stays),
             EC_TEST_ENTRY(server_main_reports_a_port_in_use_with_exit_1),
             EC_TEST_ENTRY(server_main_exits_77_before_listening_when_the_probe_fails))
