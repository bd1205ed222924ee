/* smoke.c - ec-smoke: starts any echo server command and checks that it echoes.
 *
 * Runs `<command> --port 0 [--framing X]`, waits for its readiness line, echoes seeded
 * random data in random chunks from N concurrent clients and compares the echo byte
 * for byte, then stops the server with SIGINT and expects exit status 0. The command
 * is split on spaces and run without a shell, so a Wine command line works too.
 * Exit: 0 pass, 1 fail (what differed, where), 2 usage, 77 cannot run here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ec_framing.h"
#include "ec_net.h"
#include "ec_sock.h"
#include "ec_wire.h"

#define EXIT_PASS  0
#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define EXIT_SKIP  77

#define MAX_ARGS     64
#define TAIL_LINES   12
#define TAIL_WIDTH   160
#define READY_MS     5000  /* readiness wait of an echo check (times the multiplier) */
#define STARTUP_MS   1000  /* readiness wait of --startup: the server contract's bound */
#define STALL_MS     15000 /* longest wait for progress of one send or recv */
#define EXIT_WAIT_MS 5000  /* from SIGINT (or a --help run) to the exit status */

extern char **environ;

static const char usage[] =
    "usage: ec-smoke --server \"<command line>\" [--clients N] [--bytes N] [--seed S]\n"
    "                [--framed] [--startup] | --skip REASON\n"
    "  Starts <command line> --port 0, echoes --bytes (default 1 MiB) of seeded random\n"
    "  data in random chunks from --clients (default 1) concurrent clients, compares\n"
    "  the echo byte for byte, then stops the server with SIGINT and expects exit 0.\n"
    "  --framed   also restart the server with --framing line, fixed:100, len16, len32\n"
    "             and echo frames split across sends and several frames in one send.\n"
    "  --startup  instead: readiness line within 1 s, --help exits 0, a bad option 2.\n"
    "  --skip     print REASON and exit 77 (a model that cannot be built here).\n"
    "  Deadlines scale with ECHOCONF_TIMEOUT_MULTIPLIER. Exit: 0 pass, 1 fail, 2 usage,\n"
    "  77 the command cannot run here.\n";

/* The build's default, used when ECHOCONF_TIMEOUT_MULTIPLIER is unset or empty. */
#ifndef EC_DEFAULT_TIMEOUT_MULTIPLIER
#define EC_DEFAULT_TIMEOUT_MULTIPLIER 1
#endif

static double multiplier = EC_DEFAULT_TIMEOUT_MULTIPLIER;

/* A deadline of base_ms scaled by ECHOCONF_TIMEOUT_MULTIPLIER. */
static int scaled(int base_ms)
{
    return (int)(base_ms * multiplier);
}

/* ---- the server process: spawned with its stdout on a pipe we keep draining ---- */

/* The pid of the running server (0: none), for on_abort_signal. The server runs in a
 * process group of its own, so a signal sent to our group (a terminal's ^C, `kill
 * -INT -PGID`, `timeout -s INT`) reaches us, not it: CTest gives its tests no groups
 * of their own, so a group signal would otherwise stop every server of every smoke
 * test at once, and Wine ends a process that gets SIGINT before its console handler
 * is installed with exit status 0 and no readiness line (its default_ctrl_handler,
 * measured with WINEDEBUG=fixme+all). sig_atomic_t holds a pid on Linux (both int). */
static volatile sig_atomic_t live_child;

/* SIGINT/SIGTERM/SIGHUP to ec-smoke: the test is aborted, so the server is killed
 * (no server may outlive us) and the signal then ends us with its default action.
 * Only async-signal-safe calls (kill, signal, raise: POSIX.1-2017 2.4.3). */
static void on_abort_signal(int sig)
{
    pid_t pid = (pid_t)live_child;
    if (pid > 0)
        kill(pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Makes SIGINT, SIGTERM and SIGHUP abort the test through on_abort_signal, except a
 * signal our starter set to be ignored (a shell's background job ignores SIGINT):
 * that one stays ignored, as shells leave it, so a ^C meant for the foreground job
 * neither stops us nor, now that the server has a group of its own, the server. */
static void install_abort_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_abort_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

struct child {
    pid_t pid;
    int out_fd;
    int wake[2]; /* written once the child is reaped: drain what is left and stop */
    pthread_t drainer;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char first[TAIL_WIDTH]; /* its first stdout line, once complete */
    int have_first, eof;
    char tail[TAIL_LINES][TAIL_WIDTH]; /* its last lines, for failure reports */
    long lines;
    size_t out_bytes;
};

/* Keeps the first line and the last TAIL_LINES lines of what the child wrote. */
static void take_output(struct child *ch, const char *buf, size_t n, char *line, size_t *len)
{
    pthread_mutex_lock(&ch->lock);
    ch->out_bytes += n;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (*len < TAIL_WIDTH - 1)
                line[(*len)++] = buf[i];
            continue;
        }
        line[*len] = '\0';
        if (!ch->have_first) {
            memcpy(ch->first, line, *len + 1);
            ch->have_first = 1;
        }
        memcpy(ch->tail[ch->lines++ % TAIL_LINES], line, *len + 1);
        *len = 0;
    }
    pthread_cond_broadcast(&ch->changed);
    pthread_mutex_unlock(&ch->lock);
}

/* Reads the child's stdout so it never blocks on a full pipe, until EOF, or until the
 * child has been reaped and the pipe is empty: a grandchild that inherited the pipe
 * (wineserver, for a Wine command line) may hold it open long after. */
static void *drain_stdout(void *arg)
{
    struct child *ch = arg;
    char buf[4096], line[TAIL_WIDTH];
    size_t len = 0;
    int reaped = 0;

    for (;;) {
        struct pollfd p[2] = {{.fd = ch->out_fd, .events = POLLIN},
                              {.fd = ch->wake[0], .events = POLLIN}};
        ssize_t n;
        if (!reaped && poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (!reaped && (p[1].revents & POLLIN)) {
            reaped = 1;
            fcntl(ch->out_fd, F_SETFL, O_NONBLOCK);
        }
        if (!reaped && !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(ch->out_fd, buf, sizeof buf);
        if (n > 0)
            take_output(ch, buf, (size_t)n, line, &len);
        else if (n == 0 || errno != EINTR)
            break;
    }
    pthread_mutex_lock(&ch->lock);
    ch->eof = 1;
    pthread_cond_broadcast(&ch->changed);
    pthread_mutex_unlock(&ch->lock);
    return NULL;
}

/* Splits cmd on spaces into argv (pointers into cmd, which is modified) and appends
 * extra (NULL-terminated). Returns the count, or -1 if there are too many words. */
static int split_command(char *cmd, char **argv, const char *const *extra)
{
    int argc = 0;
    char *save = NULL;

    for (char *t = strtok_r(cmd, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (argc == MAX_ARGS - 8)
            return -1;
        argv[argc++] = t;
    }
    for (; extra != NULL && *extra != NULL; extra++) {
        if (argc == MAX_ARGS - 1)
            return -1;
        argv[argc++] = (char *)*extra;
    }
    argv[argc] = NULL;
    return argc;
}

/* Starts `command extra...` with stdout on a pipe drained by a thread. Returns
 * EXIT_PASS, EXIT_SKIP (the program cannot be run: not found, not executable) or
 * EXIT_FAIL, after a message. */
static int child_start(struct child *ch, const char *command, const char *const *extra)
{
    char cmd[1024], *argv[MAX_ARGS];
    int fds[2], rc;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;

    memset(ch, 0, sizeof *ch);
    if (strlen(command) >= sizeof cmd || split_command(strcpy(cmd, command), argv, extra) < 1) {
        fprintf(stderr, "ec-smoke: --server: empty or too long command \"%s\"\n", command);
        return EXIT_FAIL;
    }
    if (pipe(fds) != 0) {
        perror("ec-smoke: pipe");
        return EXIT_FAIL;
    }
    /* The child starts with no signal blocked (ours blocks SIGCHLD for child_wait). */
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    /* A process group of its own (see live_child), and SIGINT/SIGTERM at their
     * default action: the stop signal must reach the server even when our starter
     * ignores SIGINT, which exec would keep (a POSIX server's sigwait never sees an
     * ignored signal). */
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    rc = posix_spawnp(&ch->pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        fprintf(stderr, "ec-smoke: cannot run %s: %s\n", argv[0], strerror(rc));
        return rc == ENOENT || rc == EACCES || rc == ENOEXEC ? EXIT_SKIP : EXIT_FAIL;
    }
    live_child = (sig_atomic_t)ch->pid;
    ch->out_fd = fds[0];
    if (pipe(ch->wake) != 0) {
        perror("ec-smoke: pipe");
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, NULL, 0);
        live_child = 0;
        close(fds[0]);
        return EXIT_FAIL;
    }
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->changed, NULL);
    pthread_create(&ch->drainer, NULL, drain_stdout, ch);
    return EXIT_PASS;
}

/* Waits up to ms for the first stdout line. Returns 1 if it came, 0 if not (EOF or
 * timeout; *waited tells how long it took either way). */
static int child_first_line(struct child *ch, int ms, int64_t *waited)
{
    int64_t start = ec_now_ms();
    struct timespec dl;
    int got;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ch->lock);
    while (!ch->have_first && !ch->eof)
        if (pthread_cond_timedwait(&ch->changed, &ch->lock, &dl) != 0)
            break;
    got = ch->have_first;
    pthread_mutex_unlock(&ch->lock);
    *waited = ec_now_ms() - start;
    return got;
}

/* Waits up to ms for the child to exit (SIGCHLD is blocked in every thread and taken
 * with sigtimedwait, so no polling). Returns the wait status, or -1 on timeout, after
 * which the child is killed and reaped. The drainer is joined in both cases. */
static int child_wait(struct child *ch, int ms)
{
    int64_t deadline = ec_now_ms() + ms;
    sigset_t chld;
    int status = -1;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        int64_t left = deadline - ec_now_ms();
        struct timespec ts;
        if (waitpid(ch->pid, &status, WNOHANG) == ch->pid)
            break;
        if (left <= 0) {
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, NULL, 0);
            status = -1;
            break;
        }
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        sigtimedwait(&chld, NULL, &ts);
    }
    /* Reaped: the pid may be reused from now on, so the abort handler forgets it. */
    live_child = 0;
    if (write(ch->wake[1], "", 1) != 1)
        perror("ec-smoke: write");
    pthread_join(ch->drainer, NULL);
    close(ch->out_fd);
    close(ch->wake[0]);
    close(ch->wake[1]);
    return status;
}

/* Prints the child's last stdout lines (for a failure report). */
static void child_print_tail(struct child *ch)
{
    long from = ch->lines > TAIL_LINES ? ch->lines - TAIL_LINES : 0;

    fprintf(stderr, "  server log tail (%ld lines in all):\n", ch->lines);
    for (long i = from; i < ch->lines; i++)
        fprintf(stderr, "    | %s\n", ch->tail[i % TAIL_LINES]);
}

/* Describes a wait status into buf; returns buf. */
static const char *describe_status(int status, char *buf, size_t len)
{
    if (status == -1)
        snprintf(buf, len, "did not exit in time (killed)");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "wait status 0x%x", (unsigned)status);
    return buf;
}

/* ---- seeded data and send plans ---- */

/* splitmix64 (Steele, Lea, Flood 2014): a tiny generator, enough for test data. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* A send size: often tiny (bytewise trickles, split headers), often around a segment,
 * sometimes large (many recvs' worth coalesced), never more than left. */
static size_t rng_chunk(uint64_t *s, size_t left)
{
    static const size_t limits[] = {16, 2048, 65536};
    size_t n = 1 + rng_below(s, limits[rng_below(s, 3)]);
    return n < left ? n : left;
}

/* One client: the byte stream it sends (and must get back), how it is cut into sends,
 * and the first failure it saw. */
struct client {
    int id;
    const char *host;
    unsigned port;
    const struct ec_framing *f; /* NULL: raw */
    uint64_t rng;
    unsigned char *wire; /* what is sent, and so what the echo must be */
    size_t len;
    size_t *plan; /* the size of each send */
    size_t nplan;
    ec_sock_t s;
    int send_err; /* 0, or the class that stopped the sender */
    size_t sent;
    char fail[700]; /* empty while passing */
};

/* Fills c->wire with len random bytes (raw) or with random frames of about len bytes
 * in all, and c->plan with random send sizes. In framed modes the plan starts with
 * frame 0 split in two (its first byte alone: inside the header for len16/len32) and
 * frames 1-3 in one send, so both cases happen whatever the random sizes. */
static int client_prepare(struct client *c, size_t len)
{
    size_t first[4] = {0, 0, 0, 0}, nframes = 0, off = 0, i = 0;
    size_t cap = len + (c->f != NULL ? ec_framing_max_wire(c->f) : 0) + 1;

    c->wire = malloc(cap);
    c->plan = malloc(cap * sizeof *c->plan); /* at worst one send per byte */
    if (c->wire == NULL || c->plan == NULL)
        return -1;
    if (c->f == NULL) {
        for (off = 0; off < len; off++)
            c->wire[off] = (unsigned char)rng_next(&c->rng);
    } else {
        unsigned char payload[8192];
        while (off < len) {
            size_t n = c->f->kind == EC_FRAMING_FIXED   ? c->f->fixed_len
                       : c->f->kind == EC_FRAMING_DELIM ? rng_below(&c->rng, 1500)
                       : c->f->kind == EC_FRAMING_LEN16 ? rng_below(&c->rng, 3000)
                                                        : rng_below(&c->rng, 6000);
            ptrdiff_t w;
            for (size_t k = 0; k < n && k < sizeof payload; k++) {
                payload[k] = (unsigned char)rng_next(&c->rng);
                if (c->f->kind == EC_FRAMING_DELIM && payload[k] == c->f->delim[0])
                    payload[k] ^= 0x20; /* a line must not contain its delimiter */
            }
            w = ec_frame_encode(c->f, payload, n < sizeof payload ? n : sizeof payload,
                                c->wire + off, cap - off);
            if (w <= 0)
                return -1;
            if (nframes < 4)
                first[nframes] = (size_t)w;
            nframes++;
            off += (size_t)w;
        }
        len = off;
        if (nframes >= 4 && first[0] >= 2) {
            c->plan[i++] = 1;
            c->plan[i++] = first[0] - 1;
            c->plan[i++] = first[1] + first[2] + first[3];
        }
    }
    c->len = len;
    off = 0;
    for (size_t k = 0; k < i; k++)
        off += c->plan[k];
    while (off < len) {
        c->plan[i] = rng_chunk(&c->rng, len - off);
        off += c->plan[i++];
    }
    c->nplan = i;
    return 0;
}

/* ---- the clients: a sender thread and a receiver (the client thread) each ---- */

/* Sends c->wire cut as c->plan, then half-closes (shutdown SHUT_WR): the server must
 * still send every pending byte, then close. */
static void *client_send(void *arg)
{
    struct client *c = arg;
    size_t off = 0;

    for (size_t k = 0; k < c->nplan; k++) {
        size_t done = 0;
        ptrdiff_t r = ec_sendn(c->s, c->wire + off, c->plan[k], scaled(STALL_MS), &done);
        if (r < 0) {
            c->send_err = (int)r;
            c->sent = off + done;
            return NULL;
        }
        off += c->plan[k];
    }
    c->sent = off;
    ec_sock_shutdown_wr(c->s);
    return NULL;
}

/* Writes bytes from..to of a stream as hex into out, with '|' before byte mark; the
 * stream is before[] up to mark (bytes that matched) and then after[] (from mark on). */
static void hex_context(const unsigned char *before, const unsigned char *after, size_t from,
                        size_t mark, size_t to, char *out, size_t len)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = from; i < to && o + 5 < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%02x ", i == mark ? "|" : "",
                              i < mark ? before[i] : after[i - mark]);
}

/* Receives the echo in random-sized recvn calls, compares it as it comes, then
 * expects EOF. Records the first difference in c->fail. */
static void client_receive(struct client *c)
{
    static const size_t max_read = 65536;
    unsigned char *buf = malloc(max_read);
    size_t off = 0;

    while (buf != NULL && off < c->len) {
        size_t want = rng_chunk(&c->rng, c->len - off), got = 0;
        ptrdiff_t r =
            ec_recvn(c->s, buf, want < max_read ? want : max_read, scaled(STALL_MS), &got);
        for (size_t i = 0; i < got; i++) {
            char exp[100], act[100];
            if (buf[i] == c->wire[off + i])
                continue;
            /* Eight bytes of context before the difference (they matched), 16 after. */
            size_t from = off + i > 8 ? off + i - 8 : 0;
            size_t end = off + i + 16 < c->len ? off + i + 16 : c->len;
            size_t aend = off + got < end ? off + got : end;
            hex_context(c->wire, c->wire + off + i, from, off + i, end, exp, sizeof exp);
            hex_context(c->wire, buf + i, from, off + i, aend, act, sizeof act);
            snprintf(c->fail, sizeof c->fail,
                     "echo-mismatch at offset %zu of %zu\n    expected: %s\n    actual:   %s",
                     off + i, c->len, exp, act);
            free(buf);
            return;
        }
        off += got;
        if (r < 0) {
            snprintf(c->fail, sizeof c->fail, "recv failed (%s) after %zu of %zu echoed bytes",
                     ec_err_name((int)r), off, c->len);
            break;
        }
        if ((size_t)r < want) {
            snprintf(c->fail, sizeof c->fail,
                     "truncated-echo: the server closed after %zu of %zu bytes", off, c->len);
            break;
        }
    }
    if (buf != NULL && c->fail[0] == '\0') {
        size_t got = 0;
        ptrdiff_t r = ec_recvn(c->s, buf, 1, scaled(STALL_MS), &got);
        if (r == 1)
            snprintf(c->fail, sizeof c->fail, "%zu bytes echoed, then one more (0x%02x)", c->len,
                     buf[0]);
        else if (r < 0)
            snprintf(c->fail, sizeof c->fail,
                     "all %zu bytes echoed after our half-close, but then %s instead of EOF",
                     c->len, ec_err_name((int)r));
    }
    if (buf == NULL)
        snprintf(c->fail, sizeof c->fail, "out of memory");
    free(buf);
}

static void *client_run(void *arg)
{
    struct client *c = arg;
    pthread_t sender;
    int r = ec_connect(c->host, c->port, scaled(STALL_MS), &c->s);

    if (r != 0) {
        snprintf(c->fail, sizeof c->fail, "connect to %s:%u: %s", c->host, c->port, ec_err_name(r));
        return NULL;
    }
    ec_sock_set_nodelay(c->s, 1); /* small sends leave as small segments */
    if (pthread_create(&sender, NULL, client_send, c) != 0) {
        snprintf(c->fail, sizeof c->fail, "cannot start a sender thread");
        ec_sock_close(c->s);
        return NULL;
    }
    client_receive(c);
    if (c->fail[0] != '\0')
        ec_sock_shutdown_both(c->s); /* wakes a sender blocked on a stalled server */
    pthread_join(sender, NULL);
    if (c->fail[0] == '\0' && c->send_err != 0)
        snprintf(c->fail, sizeof c->fail, "send failed (%s) after %zu of %zu bytes",
                 ec_err_name(c->send_err), c->sent, c->len);
    ec_sock_close(c->s);
    return NULL;
}

/* ---- the checks ---- */

struct options {
    const char *server;
    int clients;
    size_t bytes;
    uint64_t seed;
    int framed, startup;
};

/* Stops the child with SIGINT and checks it exits 0 in time. SIGINT, not SIGTERM:
 * server_main treats both alike, but under Wine only SIGINT reaches the program (as
 * CTRL_C_EVENT); SIGTERM kills wine64 outright (tests/win32/README.md). Returns
 * EXIT_PASS or EXIT_FAIL (after a message). */
static int child_stop(struct child *ch, const char *what)
{
    char desc[64];
    int status;

    kill(ch->pid, SIGINT);
    status = child_wait(ch, scaled(EXIT_WAIT_MS));
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return EXIT_PASS;
    fprintf(stderr, "ec-smoke: %s: FAIL: after SIGINT the server %s (expected exit 0)\n", what,
            describe_status(status, desc, sizeof desc));
    child_print_tail(ch);
    return EXIT_FAIL;
}

/* Starts the server and reads its readiness line "listening A:P" within ms. Returns
 * EXIT_PASS (host and port filled), EXIT_SKIP or EXIT_FAIL (after a message; the
 * child is then already reaped). */
static int server_start(struct child *ch, const char *command, const char *const *extra, int ms,
                        const char *what, char *host, size_t hostlen, unsigned *port)
{
    int64_t waited;
    int rc = child_start(ch, command, extra);

    if (rc != EXIT_PASS)
        return rc;
    if (!child_first_line(ch, ms, &waited)) {
        fprintf(stderr, "ec-smoke: %s: FAIL: %s\n", what,
                ch->eof ? "the server closed its stdout (exited?) before a readiness line"
                        : "no readiness line within the deadline");
        fprintf(stderr, "  waited %lld of %d ms\n", (long long)waited, ms);
    } else if (strncmp(ch->first, "listening ", 10) != 0 ||
               ec_parse_hostport(ch->first + 10, host, hostlen, port, 0) != 0) {
        fprintf(stderr, "ec-smoke: %s: FAIL: first line \"%s\" is not \"listening A:P\"\n", what,
                ch->first);
    } else {
        printf("ec-smoke: %s: ready in %lld ms at %s\n", what, (long long)waited, ch->first + 10);
        return EXIT_PASS;
    }
    kill(ch->pid, SIGKILL);
    child_wait(ch, scaled(EXIT_WAIT_MS));
    child_print_tail(ch);
    return EXIT_FAIL;
}

/* One echo check: the server with --port 0 (and --framing spec unless NULL), every
 * client at once, then SIGINT. */
static int check_echo(const struct options *op, const char *spec)
{
    const char *extra[] = {"--port", "0", spec ? "--framing" : NULL, spec, NULL};
    const char *what = spec ? spec : "raw";
    struct ec_framing f;
    struct child ch;
    struct client *cl;
    pthread_t *tids;
    char host[EC_ADDRSTRLEN];
    unsigned port;
    int rc, failed = 0;
    int64_t t0;
    size_t sends = 0, total = 0;

    if (spec != NULL && ec_framing_parse(spec, &f, NULL, 0) != 0)
        return EXIT_FAIL;
    cl = calloc((size_t)op->clients, sizeof *cl);
    tids = calloc((size_t)op->clients, sizeof *tids);
    if (cl == NULL || tids == NULL)
        return EXIT_FAIL;
    rc = server_start(&ch, op->server, extra, scaled(READY_MS), what, host, sizeof host, &port);
    for (int i = 0; rc == EXIT_PASS && i < op->clients; i++) {
        cl[i] = (struct client){.id = i, .host = host, .port = port, .f = spec ? &f : NULL};
        /* Each client, and each framing, gets its own stream from the one seed. */
        cl[i].rng = op->seed + 0xA0761D6478BD642Full * (unsigned)(i + 1);
        if (spec != NULL)
            cl[i].rng ^= (uint64_t)f.kind << 56;
        if (client_prepare(&cl[i], op->bytes) != 0) {
            fprintf(stderr, "ec-smoke: %s: cannot prepare client data\n", what);
            kill(ch.pid, SIGKILL);
            child_wait(&ch, scaled(EXIT_WAIT_MS));
            rc = EXIT_FAIL;
        }
    }
    if (rc == EXIT_PASS) {
        t0 = ec_now_ms();
        for (int i = 0; i < op->clients; i++)
            pthread_create(&tids[i], NULL, client_run, &cl[i]);
        for (int i = 0; i < op->clients; i++) {
            pthread_join(tids[i], NULL);
            sends += cl[i].nplan;
            total += cl[i].len;
            if (cl[i].fail[0] != '\0') {
                fprintf(stderr, "ec-smoke: %s: FAIL: client %d (seed %llu): %s\n", what, i,
                        (unsigned long long)op->seed, cl[i].fail);
                failed = 1;
            }
        }
        if (!failed)
            printf("ec-smoke: %s: %d client(s), %zu bytes in all, echoed byte-exact (%zu sends) "
                   "in %lld ms, then EOF after half-close\n",
                   what, op->clients, total, sends, (long long)(ec_now_ms() - t0));
        else
            child_print_tail(&ch);
        rc = child_stop(&ch, what);
        if (failed)
            rc = EXIT_FAIL;
    }
    for (int i = 0; i < op->clients; i++) {
        free(cl[i].wire);
        free(cl[i].plan);
    }
    free(cl);
    free(tids);
    return rc;
}

/* Runs `command extra` to completion and checks its exit status and that it wrote
 * to stdout (if want_output). */
static int check_exit(const char *command, const char *opt, int want, int want_output)
{
    const char *extra[] = {opt, NULL};
    char desc[64];
    struct child ch;
    int status, rc = child_start(&ch, command, extra);

    if (rc != EXIT_PASS)
        return rc;
    status = child_wait(&ch, scaled(EXIT_WAIT_MS));
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == want &&
        (!want_output || ch.out_bytes > 0)) {
        printf("ec-smoke: %s: exit status %d as expected\n", opt, want);
        return EXIT_PASS;
    }
    fprintf(stderr, "ec-smoke: %s: FAIL: %s, %zu bytes on stdout (expected exit %d%s)\n", opt,
            describe_status(status, desc, sizeof desc), ch.out_bytes, want,
            want_output ? " and some output" : "");
    return EXIT_FAIL;
}

/* --startup: readiness within STARTUP_MS, a clean SIGINT exit, --help and a bad
 * option. */
static int check_startup(const struct options *op)
{
    const char *extra[] = {"--port", "0", NULL};
    char host[EC_ADDRSTRLEN];
    unsigned port;
    struct child ch;
    int rc = server_start(&ch, op->server, extra, scaled(STARTUP_MS), "startup", host, sizeof host,
                          &port);

    if (rc != EXIT_PASS)
        return rc;
    if (child_stop(&ch, "startup") != EXIT_PASS)
        rc = EXIT_FAIL;
    if (check_exit(op->server, "--help", 0, 1) != EXIT_PASS)
        rc = EXIT_FAIL;
    if (check_exit(op->server, "--no-such-option", 2, 0) != EXIT_PASS)
        rc = EXIT_FAIL;
    return rc;
}

/* Parses an unsigned decimal option value; returns 0 or -1. */
static int parse_count(const char *text, unsigned long long max, unsigned long long *out)
{
    char *end;

    errno = 0;
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    *out = strtoull(text, &end, 10);
    return errno != 0 || *end != '\0' || *out > max ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const char *const framings[] = {"line", "fixed:100", "len16", "len32"};
    struct options op = {.clients = 1, .bytes = 1u << 20};
    const char *mult = getenv("ECHOCONF_TIMEOUT_MULTIPLIER");
    unsigned long long v;
    int have_seed = 0, rc;
    sigset_t chld;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--server") == 0 && val != NULL) {
            op.server = val;
        } else if (strcmp(a, "--clients") == 0 && parse_count(val, 1000, &v) == 0 && v > 0) {
            op.clients = (int)v;
        } else if (strcmp(a, "--bytes") == 0 && parse_count(val, 1ull << 30, &v) == 0 && v > 0) {
            op.bytes = (size_t)v;
        } else if (strcmp(a, "--seed") == 0 && parse_count(val, UINT64_MAX, &v) == 0) {
            op.seed = v;
            have_seed = 1;
        } else if (strcmp(a, "--framed") == 0 || strcmp(a, "--startup") == 0) {
            *(a[2] == 'f' ? &op.framed : &op.startup) = 1;
            continue;
        } else if (strcmp(a, "--skip") == 0 && val != NULL) {
            /* For models the build could not make: say why, report SKIPPED. */
            printf("SKIPPED: %s\n", val);
            return EXIT_SKIP;
        } else if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_PASS;
        } else {
            fprintf(stderr, "ec-smoke: bad option or value: %s%s%s\n%s", a, val ? " " : "",
                    val ? val : "", usage);
            return EXIT_USAGE;
        }
        i++;
    }
    if (op.server == NULL) {
        fprintf(stderr, "ec-smoke: --server is required\n%s", usage);
        return EXIT_USAGE;
    }
    if (mult != NULL && mult[0] != '\0') {
        char *end;
        multiplier = strtod(mult, &end);
        if (*end != '\0' || !(multiplier > 0 && multiplier <= 1000)) {
            fprintf(stderr,
                    "ec-smoke: ECHOCONF_TIMEOUT_MULTIPLIER=\"%s\" is not a number in "
                    "(0, 1000]\n",
                    mult);
            return EXIT_USAGE;
        }
    }
    if (!have_seed)
        op.seed = (uint64_t)ec_now_ns() ^ ((uint64_t)getpid() << 32);
    /* SIGCHLD stays blocked in every thread so child_wait can take it synchronously. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    install_abort_handlers();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ec_net_init() != 0) {
        fprintf(stderr, "ec-smoke: cannot start the socket layer\n");
        return EXIT_SKIP;
    }
    if (op.startup)
        return check_startup(&op);
    printf("ec-smoke: server \"%s\", seed %llu (rerun with --seed %llu)\n", op.server,
           (unsigned long long)op.seed, (unsigned long long)op.seed);
    rc = check_echo(&op, NULL);
    for (size_t k = 0; op.framed && rc != EXIT_SKIP && k < sizeof framings / sizeof *framings; k++)
        if (check_echo(&op, framings[k]) != EXIT_PASS)
            rc = EXIT_FAIL;
    return rc;
}
