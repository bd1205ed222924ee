/* client_common.c - the shared front of the boundary-case clients: common options,
 * the server under test (the engine's launcher, port 0, readiness line), the echo
 * check with its diagnosis, the verdict in human and JSON form, and the exit status.
 * The socket work is done by the client kit's step primitives
 * (conformance/clientkit/steps.h).
 */
#include "client_common.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ec_net.h"
#include "ec_sock.h"
#include "evidence.h"
#include "jsonout.h"

#define DEFAULT_TIMEOUT_MS 5000
#define READY_MS           5000
#define STOP_GRACE_MS      2000

void ec_cli_init(struct ec_cli *cli, const char *prog)
{
    memset(cli, 0, sizeof *cli);
    cli->prog = prog;
    cli->default_timeout_ms = DEFAULT_TIMEOUT_MS;
    cli->framing_spec = "raw";
    cli->out = stdout;
    ec_log_set_name(prog);
}

_Noreturn void ec_cli_usage_error(struct ec_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry: %s --help\n", cli->prog);
    exit(EC_CLI_USAGE);
}

static void usage(const struct ec_cli *cli)
{
    printf("usage: %s (--target HOST:PORT | --server \"CMD\") [options]\n\n%s\n\n", cli->prog,
           cli->summary);
    printf("Options of %s:\n%s", cli->prog, cli->options);
    if (cli->wants_framing)
        printf("  --framing SPEC       raw (default), line, fixed:N, len16, len32; passed to the\n"
               "                       server started by --server\n");
    printf("\nCommon options:\n"
           "  --target HOST:PORT   a running echo server (IPv4, or [v6]:port)\n"
           "  --server \"CMD\"       start this server command with --port 0, read its\n"
           "                       \"listening A:P\" line, stop it at the end\n"
           "  --timeout MS         bound of every wait (default %d), scaled by\n"
           "                       ECHOCONF_TIMEOUT_MULTIPLIER\n"
           "  --seed N             seed of the generated payloads (default: from the clock,\n"
           "                       printed so that a run can be repeated)\n"
           "  --json               the result as one JSON object on stdout (the human\n"
           "                       report goes to stderr)\n"
           "  --verbose            also print every send/recv of the run (the timeline)\n"
           "  --help               this text\n\n"
           "Exit status: 0 pass, 1 the server misbehaved (the diagnosis is printed),\n"
           "2 usage, 77 cannot run here.\n\nExample:\n  %s\n",
           cli->default_timeout_ms, cli->example);
}

int ec_cli_is(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

const char *ec_cli_value(struct ec_cli *cli, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        ec_cli_usage_error(cli, "%s: a value is required", a);
    (*i)++;
    return argv[*i];
}

long long ec_cli_number(struct ec_cli *cli, int argc, char **argv, int *i, long long min,
                        long long max)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(argv[*i], "="), argv[*i]);
    const char *v = ec_cli_value(cli, argc, argv, i);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || errno)
        ec_cli_usage_error(cli, "%s %s: not a number", name, v);
    long long unit = 1;
    if (*end == 'k' || *end == 'K')
        unit = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        unit = 1024 * 1024, end++;
    if (x > LLONG_MAX / unit || x < LLONG_MIN / unit)
        ec_cli_usage_error(cli, "%s %s: out of range %lld..%lld", name, v, min, max);
    x *= unit;
    if (*end)
        ec_cli_usage_error(cli, "%s %s: not a number", name, v);
    if (x < min || x > max)
        ec_cli_usage_error(cli, "%s %s: out of range %lld..%lld", name, v, min, max);
    return x;
}

int ec_cli_parse_common(struct ec_cli *cli, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(cli);
        exit(0);
    }
    if (ec_cli_is(a, "--target")) {
        cli->target = ec_cli_value(cli, argc, argv, i);
    } else if (ec_cli_is(a, "--server")) {
        cli->server = ec_cli_value(cli, argc, argv, i);
    } else if (ec_cli_is(a, "--timeout")) {
        cli->timeout_ms = (int)ec_cli_number(cli, argc, argv, i, 1, 3600 * 1000);
    } else if (ec_cli_is(a, "--seed")) {
        cli->seed = (uint64_t)ec_cli_number(cli, argc, argv, i, 0, INT64_MAX);
        cli->seed_set = 1;
    } else if (strcmp(a, "--json") == 0) {
        cli->json = 1;
    } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
        cli->verbose = 1;
    } else if (cli->wants_framing && ec_cli_is(a, "--framing")) {
        cli->framing_spec = ec_cli_value(cli, argc, argv, i);
    } else {
        return 0;
    }
    return 1;
}

int ec_cli_timeout(const struct ec_cli *cli)
{
    return ec_scale_ms(cli->timeout_ms);
}

int64_t ec_cli_deadline(const struct ec_cli *cli, int ms_unscaled)
{
    (void)cli;
    return ec_clock_ms() + ec_scale_ms(ms_unscaled);
}

double ec_cli_now_ms(const struct ec_cli *cli)
{
    return (double)ec_timeline_now_us(&cli->tl) / 1000.0;
}

void ec_cli_say(struct ec_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(cli->out, "[%9.3f ms] ", ec_cli_now_ms(cli));
    va_start(ap, fmt);
    vfprintf(cli->out, fmt, ap);
    va_end(ap);
    fputc('\n', cli->out);
    fflush(cli->out);
}

/* Starts the --server command with the engine's launcher (ec_launch_server: --port 0
 * --framing F appended and the readiness line, or a "{port}" template). Returns, or
 * exits: 77 when the server said it cannot run here, 2 otherwise. */
static void start_server(struct ec_cli *cli)
{
    char err[512];
    int rc = ec_launch_server(&cli->srv, cli->server, cli->framing_spec, NULL, 0, 0,
                              ec_scale_ms(READY_MS), cli->server_cmd, sizeof cli->server_cmd, err,
                              sizeof err);
    if (rc < 0) {
        /* 77 from the server before its readiness line means "cannot run here" (an
         * io_uring model on a kernel without io_uring, say): pass that on. */
        int skip = cli->srv.exited && WIFEXITED(cli->srv.status) &&
                   WEXITSTATUS(cli->srv.status) == EC_CLI_CANNOT_RUN;
        fprintf(stderr, "%s: --server %s: %s\n", cli->prog,
                cli->server_cmd[0] ? cli->server_cmd : cli->server, err);
        for (size_t k = 0; k < cli->srv.nlines; k++)
            fprintf(stderr, "  server %s: %s\n", cli->srv.lines[k].is_err ? "stderr" : "stdout",
                    cli->srv.lines[k].text);
        ec_server_free(&cli->srv);
        exit(skip ? EC_CLI_CANNOT_RUN : EC_CLI_USAGE);
    }
    cli->have_srv = 1;
    cli->port = cli->srv.port;
    ec_launch_reach(cli->srv.host, cli->host, sizeof cli->host);
}

void ec_cli_start(struct ec_cli *cli)
{
    if (!cli->target == !cli->server)
        ec_cli_usage_error(cli, "exactly one of --target HOST:PORT or --server \"CMD\" is "
                                "required");
    if (cli->timeout_ms == 0)
        cli->timeout_ms = cli->default_timeout_ms;
    char err[160];
    if (ec_framing_parse(cli->framing_spec, &cli->framing, err, sizeof err) < 0)
        ec_cli_usage_error(cli, "--framing %s: %s", cli->framing_spec, err);
    cli->framed = cli->framing.kind != EC_FRAMING_RAW;
    if (!cli->seed_set)
        cli->seed = ec_default_seed();
    if (cli->json)
        cli->out = stderr;
    if (cli->target &&
        ec_parse_hostport(cli->target, cli->host, sizeof cli->host, &cli->port, 0) < 0)
        ec_cli_usage_error(cli, "--target %s: expected HOST:PORT (numeric, e.g. 127.0.0.1:7)",
                           cli->target);
    if (ec_net_init() < 0) {
        fprintf(stderr, "%s: cannot start the socket layer\n", cli->prog);
        exit(EC_CLI_CANNOT_RUN);
    }
    if (ec_timeline_init(&cli->tl, 100000) < 0) {
        fprintf(stderr, "%s: out of memory\n", cli->prog);
        exit(EC_CLI_CANNOT_RUN);
    }
    if (cli->server)
        start_server(cli);
    snprintf(cli->addr, sizeof cli->addr, strchr(cli->host, ':') ? "[%s]:%u" : "%s:%u", cli->host,
             cli->port);
    if (cli->have_srv)
        ec_cli_say(cli, "started %s: listening %s (pid %d)", cli->server_cmd, cli->addr,
                   (int)cli->srv.pid);
    ec_cli_say(cli, "%s against %s, timeout %d ms (x%g), seed %llu", cli->prog, cli->addr,
               ec_cli_timeout(cli), ec_timeout_multiplier(), (unsigned long long)cli->seed);
}

void ec_cli_metric(struct ec_cli *cli, const char *key, double value)
{
    if (cli->nmetrics >= EC_CLI_MAX_METRICS)
        return;
    struct ec_cli_metric *m = &cli->metrics[cli->nmetrics++];
    snprintf(m->key, sizeof m->key, "%s", key);
    m->is_str = 0;
    m->num = value;
}

void ec_cli_metric_str(struct ec_cli *cli, const char *key, const char *value)
{
    if (cli->nmetrics >= EC_CLI_MAX_METRICS)
        return;
    struct ec_cli_metric *m = &cli->metrics[cli->nmetrics++];
    snprintf(m->key, sizeof m->key, "%s", key);
    m->is_str = 1;
    snprintf(m->str, sizeof m->str, "%s", value);
}

void ec_cli_fail(struct ec_cli *cli, const char *diagnosis, const char *expected,
                 const char *actual_fmt, ...)
{
    if (cli->diagnosis[0])
        return;
    snprintf(cli->diagnosis, sizeof cli->diagnosis, "%s", diagnosis);
    snprintf(cli->expected, sizeof cli->expected, "%s", expected);
    va_list ap;
    va_start(ap, actual_fmt);
    vsnprintf(cli->actual, sizeof cli->actual, actual_fmt, ap);
    va_end(ap);
}

int ec_cli_failed(const struct ec_cli *cli)
{
    return cli->diagnosis[0] != 0;
}

/* When the echo lacks a stretch of bytes at offset d and then goes on with later
 * bytes of the sent stream, returns the length of the hole (> 0), else 0. The 32
 * bytes after d in the echo are searched for in what was sent after d; seeded
 * payloads make a chance match of 32 bytes practically impossible. */
static size_t hole_at(const unsigned char *sent, size_t sent_len, const unsigned char *got,
                      size_t got_len, size_t d)
{
    const size_t probe = 32;
    if (got_len - d < probe)
        return 0;
    for (size_t s = d + 1; s + probe <= sent_len; s++)
        if (memcmp(sent + s, got + d, probe) == 0)
            return s - d;
    return 0;
}

int ec_cli_check_echo(struct ec_cli *cli, const struct ec_conn *c, size_t from, size_t len,
                      enum ec_rx rx, const char *what)
{
    size_t got = c->recvd_len > from ? c->recvd_len - from : 0;
    if (got > len)
        got = len;
    const unsigned char *exp = c->sent + from, *act = c->recvd + from;
    size_t d = 0;
    while (d < got && act[d] == exp[d])
        d++;
    char e[240], ev[400];
    if (d < got) {
        /* The cause, where the connection's own bytes show it (evidence.h): the same
         * bytes in another order, or a repeat of bytes sent before. */
        const int reord = ec_evidence_reordered(c, from + d, from + len, ev, sizeof ev);
        if (reord || ec_evidence_duplicated(c, from + d, ev, sizeof ev, NULL, NULL)) {
            snprintf(e, sizeof e, "%s: %zu bytes equal to those sent, in order", what, len);
            ec_cli_fail(cli, reord ? EC_DIAG_REORDERED : EC_DIAG_DUPLICATED, e, "%s", ev);
            return -1;
        }
        size_t hole = hole_at(c->sent, c->sent_len, c->recvd, c->recvd_len, from + d);
        if (hole) {
            snprintf(e, sizeof e, "%s: all %zu bytes echoed in order", what, len);
            ec_cli_fail(cli, EC_DIAG_TRUNCATED, e,
                        "%zu bytes missing from the echo at stream offset %zu (the echo "
                        "goes on with the bytes after them)",
                        hole, from + d);
            return -1;
        }
        snprintf(e, sizeof e, "%s: %zu bytes equal to those sent; byte %zu = 0x%02x", what, len,
                 from + d, exp[d]);
        ec_cli_fail(cli, cli->framed ? EC_DIAG_FRAME_ERROR : EC_DIAG_ECHO_MISMATCH, e,
                    "byte %zu = 0x%02x (%zu of %zu bytes received)", from + d, act[d], got, len);
        return -1;
    }
    if (got == len)
        return 0;
    snprintf(e, sizeof e, "%s: %zu bytes of echo%s", what, len,
             rx == EC_RX_TIMEOUT ? " within the deadline" : "");
    /* The server ended an idle connection (the client had all its echo back and had
     * been quiet): that is the cause of whatever this receive saw. */
    long idle = rx == EC_RX_EOF || rx == EC_RX_RESET ? ec_evidence_idle_ms(c) : -1;
    if (idle >= 0) {
        char d2[48];
        snprintf(d2, sizeof d2, "%s:%ld", EC_DIAG_IDLE_TIMEOUT, ec_round_125(idle));
        ec_evidence_idle_text(c, idle, ev, sizeof ev);
        ec_cli_fail(cli, d2, e, "%s", ev);
        return -1;
    }
    switch (rx) {
    case EC_RX_EOF:
        /* The textbook's recvn returns the short count at EOF and its client goes on
         * as if all had come: here a short count is never success. */
        ec_cli_fail(cli, c->wr_shut ? EC_DIAG_LOST_AFTER_HALF_CLOSE : EC_DIAG_TRUNCATED, e,
                    "%zu bytes, then an orderly close (FIN)", got);
        break;
    case EC_RX_RESET:
    case EC_RX_ERROR:
        ec_cli_fail(cli, c->wr_shut ? EC_DIAG_LOST_AFTER_HALF_CLOSE : EC_DIAG_UNEXPECTED_RESET, e,
                    "%zu bytes, then %s", got,
                    rx == EC_RX_RESET ? "a reset (RST)" : ec_err_name(c->err));
        break;
    default:
        ec_cli_fail(cli,
                    cli->framed && got ? EC_DIAG_FRAME_ERROR
                    : c->wr_shut       ? EC_DIAG_LOST_AFTER_HALF_CLOSE
                                       : EC_DIAG_STALL,
                    e, "%zu bytes after %d ms, then nothing", got, ec_cli_timeout(cli));
        break;
    }
    return -1;
}

int ec_cli_connect(struct ec_cli *cli, struct ec_conn *c)
{
    int rc = ec_conn_connect(c, cli->host, cli->port, ec_cli_timeout(cli));
    if (rc < 0) {
        char e[120];
        snprintf(e, sizeof e, "%s connects to %s", c->label, cli->addr);
        ec_cli_fail(cli, EC_DIAG_CONNECT_FAILED, e, "connect failed: %s", ec_err_name(rc));
    }
    return rc;
}

int ec_cli_server_died(struct ec_cli *cli, int wait_ms, char *why, size_t whylen)
{
    if (!cli->have_srv || !ec_server_exited(&cli->srv, wait_ms) || cli->srv.stop_requested)
        return 0;
    int st = cli->srv.status;
    if (WIFSIGNALED(st)) {
        const char *n = sigabbrev_np(WTERMSIG(st));
        snprintf(why, whylen, "was killed by SIG%s", n ? n : "?");
    } else {
        snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
    }
    return 1;
}

void ec_cli_frame(struct ec_cli *cli, const unsigned char *payload, size_t len, unsigned char **out,
                  size_t *outlen)
{
    size_t cap = ec_frame_wire_len(&cli->framing, len) + 8;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", cli->prog);
        exit(EC_CLI_CANNOT_RUN);
    }
    ptrdiff_t k = ec_frame_encode(&cli->framing, payload, len, buf, cap);
    if (k < 0)
        ec_cli_usage_error(cli, "--framing %s: a payload of %zu bytes cannot be framed (%s)",
                           cli->framing_spec, len, ec_err_name((int)k));
    *out = buf;
    *outlen = (size_t)k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void ec_cli_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double ec_cli_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    /* Nearest rank: the smallest value with at least p% of the values at or below it. */
    double r = p / 100.0 * (double)n;
    size_t k = (size_t)r;
    if ((double)k < r)
        k++;
    if (k == 0)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

const char *ec_cli_preview(const unsigned char *p, size_t n, size_t max, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && i < max && o + 8 < len; i++) {
        unsigned char ch = p[i];
        if (ch == '\n')
            o += (size_t)snprintf(buf + o, len - o, "\\n");
        else if (ch == '\r')
            o += (size_t)snprintf(buf + o, len - o, "\\r");
        else if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(buf + o, len - o, "\\%c", ch);
        else if (ch >= 0x20 && ch < 0x7f)
            buf[o++] = (char)ch, buf[o] = 0;
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
    }
    if (n > max && o + 4 < len)
        snprintf(buf + o, len - o, "...");
    return buf;
}

static void print_json(struct ec_cli *cli, double elapsed_ms)
{
    FILE *f = stdout;
    fprintf(f, "{\"client\":");
    ec_json_fputs(f, cli->prog);
    fprintf(f, ",\"verdict\":\"%s\",\"diagnosis\":", cli->diagnosis[0] ? "FAIL" : "PASS");
    if (cli->diagnosis[0])
        ec_json_fputs(f, cli->diagnosis);
    else
        fprintf(f, "null");
    fprintf(f, ",\"exit\":%d,\"target\":", cli->diagnosis[0] ? EC_CLI_MISBEHAVED : EC_CLI_PASS);
    ec_json_fputs(f, cli->addr);
    fprintf(f, ",\"server\":");
    if (cli->have_srv)
        ec_json_fputs(f, cli->server_cmd);
    else
        fprintf(f, "null");
    fprintf(f, ",\"seed\":%llu,\"timeout_ms\":%d,\"elapsed_ms\":%.3f",
            (unsigned long long)cli->seed, ec_cli_timeout(cli), elapsed_ms);
    if (cli->diagnosis[0]) {
        fprintf(f, ",\"expected\":");
        ec_json_fputs(f, cli->expected);
        fprintf(f, ",\"actual\":");
        ec_json_fputs(f, cli->actual);
    }
    fprintf(f, ",\"metrics\":{");
    for (size_t i = 0; i < cli->nmetrics; i++) {
        const struct ec_cli_metric *m = &cli->metrics[i];
        fprintf(f, "%s", i ? "," : "");
        ec_json_fputs(f, m->key);
        fputc(':', f);
        if (m->is_str)
            ec_json_fputs(f, m->str);
        else
            fprintf(f, "%.10g", m->num);
    }
    fprintf(f, "}}\n");
    fflush(f);
}

static void print_timeline(struct ec_cli *cli)
{
    pthread_mutex_lock(&cli->tl.mu);
    fprintf(cli->out, "timeline (%zu events%s):\n", cli->tl.n,
            cli->tl.dropped ? ", later ones dropped" : "");
    for (size_t i = 0; i < cli->tl.n; i++) {
        const struct ec_event *e = &cli->tl.ev[i];
        fprintf(cli->out, "  %10.3f ms  %-10s %-10s", (double)e->t_us / 1000.0, e->who, e->what);
        if (e->size >= 0)
            fprintf(cli->out, " %lld bytes", e->size);
        if (e->err)
            fprintf(cli->out, " [%s]", ec_err_name(e->err));
        if (e->note[0])
            fprintf(cli->out, " (%s)", e->note);
        fputc('\n', cli->out);
    }
    pthread_mutex_unlock(&cli->tl.mu);
}

static void print_server_tail(struct ec_cli *cli, size_t tail)
{
    pthread_mutex_lock(&cli->srv.mu);
    size_t n = cli->srv.nlines, start = n > tail ? n - tail : 0;
    if (n)
        fprintf(cli->out, "server log (last %zu of %zu lines):\n", n - start, n);
    for (size_t i = start; i < n; i++)
        fprintf(cli->out, "  %s%s\n", cli->srv.lines[i].is_err ? "stderr: " : "",
                cli->srv.lines[i].text);
    pthread_mutex_unlock(&cli->srv.mu);
}

int ec_cli_finish(struct ec_cli *cli)
{
    double elapsed = ec_cli_now_ms(cli);
    char why[64];
    /* A server that died on its own is the root cause of what the client saw. A short
     * wait lets a death that the last failure provoked be seen. */
    if (ec_cli_server_died(cli, ec_cli_failed(cli) ? ec_scale_ms(300) : 0, why, sizeof why)) {
        ec_cli_metric_str(cli, "server_fate", why);
        if (!ec_cli_failed(cli)) {
            int sig = WIFSIGNALED(cli->srv.status);
            char d[48];
            const char *n = sig ? sigabbrev_np(WTERMSIG(cli->srv.status)) : NULL;
            if (sig)
                snprintf(d, sizeof d, "crash:SIG%s", n ? n : "?");
            else
                snprintf(d, sizeof d, "server-exited:%d", WEXITSTATUS(cli->srv.status));
            ec_cli_fail(cli, d, "the server runs until it is told to stop", "it %s", why);
        } else if (!strstr(cli->actual, why)) {
            size_t o = strlen(cli->actual);
            snprintf(cli->actual + o, sizeof cli->actual - o, "; the server %s", why);
        }
    }
    if (cli->verbose)
        print_timeline(cli);
    if (ec_cli_failed(cli)) {
        if (cli->have_srv)
            print_server_tail(cli, 8);
        fprintf(cli->out, "FAIL %s: %s\n  expected: %s\n  actual:   %s\n  diagnosis: %s\n",
                cli->prog, cli->diagnosis, cli->expected, cli->actual, cli->diagnosis);
    } else {
        fprintf(cli->out, "PASS %s (%.1f ms)\n", cli->prog, elapsed);
    }
    fflush(cli->out);
    if (cli->json)
        print_json(cli, elapsed);
    if (cli->have_srv) {
        ec_server_stop(&cli->srv, ec_scale_ms(STOP_GRACE_MS));
        ec_server_free(&cli->srv);
    }
    ec_timeline_free(&cli->tl);
    ec_net_cleanup();
    return ec_cli_failed(cli) ? EC_CLI_MISBEHAVED : EC_CLI_PASS;
}
