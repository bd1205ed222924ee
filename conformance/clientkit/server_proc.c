/* server_proc.c - runs the server under test as a child: fork/exec with pipes, a
 * reader thread that splits its stdout and stderr into lines and learns of its exit
 * through a pidfd (so a grandchild holding the pipes, such as a wineserver, cannot
 * hide the exit), and /proc observations.
 */
#include "server_proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ec_net.h"
#include "ec_sock.h"
#include "logline.h"
#include "steps.h"

const char *ec_srv_ev_name(enum ec_srv_ev ev)
{
    static const char *const n[] = {"?", "accept", "recv", "frame", "send", "close", "refuse"};
    return (unsigned)ev < sizeof n / sizeof n[0] ? n[ev] : "?";
}

/* Parses an event line of the log contract into l with the one parser of it
 * (logline.h): the event, the peer's port (the client's local port) and bytes=N. */
static void parse_event(struct ec_srv_line *l)
{
    static const enum ec_srv_ev map[] = {
        [EC_LL_ACCEPT] = EC_SRV_ACCEPT, [EC_LL_RECV] = EC_SRV_RECV,
        [EC_LL_FRAME] = EC_SRV_FRAME,   [EC_LL_SEND] = EC_SRV_SEND,
        [EC_LL_CLOSE] = EC_SRV_CLOSE,   [EC_LL_REFUSE] = EC_SRV_REFUSE};
    struct ec_logline ev;
    l->ev = EC_SRV_NONE;
    l->peer_port = 0;
    l->bytes = -1;
    if (ec_logline_parse(l->text, &ev) < 0 || (unsigned)ev.kind >= sizeof map / sizeof map[0])
        return;
    l->ev = map[ev.kind];
    l->peer_port = ev.port;
    if (ev.kind == EC_LL_RECV || ev.kind == EC_LL_FRAME || ev.kind == EC_LL_SEND)
        l->bytes = ev.bytes > (1ull << 62) ? (long long)(1ull << 62) : (long long)ev.bytes;
}

/* Wakes every registered watcher (s->mu held). */
static void notify_watchers(struct ec_server_proc *s)
{
    uint64_t one = 1;
    for (size_t i = 0; i < s->nwatch; i++)
        if (write(s->watch[i], &one, sizeof one) < 0)
            continue; /* an eventfd write of 1 fails only on overflow: it is readable */
}

int ec_server_watch(struct ec_server_proc *s, int efd, int on)
{
    for (size_t i = 0; i < s->nwatch; i++)
        if (s->watch[i] == efd) {
            if (!on)
                s->watch[i] = s->watch[--s->nwatch];
            return 0;
        }
    if (!on)
        return 0;
    if (s->nwatch == s->watch_cap) {
        size_t ncap = s->watch_cap ? s->watch_cap * 2 : 16;
        int *nw = realloc(s->watch, ncap * sizeof *nw);
        if (!nw)
            return -1;
        s->watch = nw;
        s->watch_cap = ncap;
    }
    s->watch[s->nwatch++] = efd;
    return 0;
}

static void add_line(struct ec_server_proc *s, int is_err, const char *text, size_t len)
{
    pthread_mutex_lock(&s->mu);
    if (s->nlines == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        struct ec_srv_line *nl = realloc(s->lines, ncap * sizeof *nl);
        if (!nl) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        s->lines = nl;
        s->cap = ncap;
    }
    char *t = malloc(len + 1);
    if (t) {
        memcpy(t, text, len);
        t[len] = 0;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s->lines[s->nlines].t_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        s->lines[s->nlines].t_ms = s->lines[s->nlines].t_us / 1000;
        s->lines[s->nlines].is_err = is_err;
        s->lines[s->nlines].text = t;
        parse_event(&s->lines[s->nlines]);
        if (is_err)
            s->lines[s->nlines].ev = EC_SRV_NONE;
        s->nlines++;
        if (!is_err)
            notify_watchers(s);
        if (!is_err && !s->ready && !s->connect_ready) {
            /* The first stdout line is the readiness line "listening A:P" (a port of 0
             * or another first line leaves port 0: the start fails with that line). */
            unsigned port;
            if (ec_logline_parse_ready(t, s->host, sizeof s->host, &port) == 0)
                s->port = port;
            s->ready = 1;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct linebuf {
    char buf[8192];
    size_t len;
};

/* Reads what fd has; emits complete lines. Returns 0, or 1 at EOF. */
static int pump_fd(struct ec_server_proc *s, int fd, struct linebuf *lb, int is_err)
{
    ssize_t n = read(fd, lb->buf + lb->len, sizeof lb->buf - lb->len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : 1;
    if (n == 0) {
        if (lb->len)
            add_line(s, is_err, lb->buf, lb->len);
        lb->len = 0;
        return 1;
    }
    lb->len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < lb->len; i++)
        if (lb->buf[i] == '\n') {
            size_t e = i;
            if (e > start && lb->buf[e - 1] == '\r')
                e--; /* Wine programs may write CRLF */
            add_line(s, is_err, lb->buf + start, e - start);
            start = i + 1;
        }
    if (start == 0 && lb->len == sizeof lb->buf) {
        add_line(s, is_err, lb->buf, lb->len); /* an over-long line, cut */
        lb->len = 0;
    } else {
        memmove(lb->buf, lb->buf + start, lb->len - start);
        lb->len -= start;
    }
    return 0;
}

static void mark_exited(struct ec_server_proc *s, int status)
{
    pthread_mutex_lock(&s->mu);
    s->exited = 1;
    s->status = status;
    s->exit_ms = ec_clock_ms();
    notify_watchers(s);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *reader_main(void *arg)
{
    struct ec_server_proc *s = arg;
    /* One pair per reader (on its stack): `echoconf bench` runs several servers at once. */
    struct linebuf lbo, lbe;
    lbo.len = lbe.len = 0;
    int out_open = 1, err_open = 1, alive = 1;
    int64_t drain_until = 0;
    while (out_open || err_open || alive) {
        struct pollfd p[3];
        int n = 0, io = -1, ie = -1, ip = -1;
        if (out_open)
            io = n, p[n++] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
        if (err_open)
            ie = n, p[n++] = (struct pollfd){.fd = s->err_fd, .events = POLLIN};
        if (alive && s->pidfd >= 0)
            ip = n, p[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
        int timeout = 200;
        if (!alive) {
            /* After the exit, read what is left; a grandchild that inherited the pipes
             * (wineserver) may keep them open forever, so this is bounded. */
            int64_t left = drain_until - ec_clock_ms();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        int r = poll(p, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (io >= 0 && (p[io].revents & (POLLIN | POLLHUP | POLLERR)))
            if (pump_fd(s, s->out_fd, &lbo, 0))
                out_open = 0;
        if (ie >= 0 && (p[ie].revents & (POLLIN | POLLHUP | POLLERR)))
            if (pump_fd(s, s->err_fd, &lbe, 1))
                err_open = 0;
        /* With a pidfd the exit is a poll event; without one (old kernels) the
         * status is checked whenever the poll times out or the pipes close. */
        int by_pidfd = ip >= 0 && (p[ip].revents & POLLIN);
        int check = by_pidfd || (s->pidfd < 0 && (r == 0 || (!out_open && !err_open)));
        if (check && alive) {
            int st;
            if (waitpid(s->pid, &st, by_pidfd ? 0 : WNOHANG) == s->pid) {
                alive = 0;
                drain_until = ec_clock_ms() + 200;
                mark_exited(s, st);
            }
        }
    }
    if (alive) {
        int st;
        if (waitpid(s->pid, &st, 0) == s->pid)
            mark_exited(s, st);
    }
    return NULL;
}

/* Waits (s->mu held) until the reader signals a new line or the exit, or until the
 * deadline (ec_clock_ms). The condition variable runs on CLOCK_REALTIME, so the
 * monotonic deadline is converted here. */
static void wait_signal(struct ec_server_proc *s, int64_t deadline_ms)
{
    int64_t left = deadline_ms - ec_clock_ms();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* Forks and execs argv with the pipes and limits of ec_server_start and starts the
 * log reader; readiness is the caller's business. Returns 0, or -1 with err. */
static int spawn(struct ec_server_proc *s, char *const argv[], int nofile, int connect_ready,
                 char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->connect_ready = connect_ready;
    s->pid = -1;
    s->pidfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int po[2], pe[2], px[2];
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(px, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Child: own process group (a terminal ^C goes to us, we stop it), pipes on
         * 1 and 2, and death with the engine so no server outlives a killed test. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        /* Only 0, 1 and 2 go to the server (and 3, the exec-error pipe, closed on
         * exec): descriptors our own parent leaked to us (ctest's log file, say) would
         * count as the server's and eat into a low RLIMIT_NOFILE. */
        dup2(px[1], 3);
        fcntl(3, F_SETFD, FD_CLOEXEC);
        px[1] = 3;
        syscall(SYS_close_range, 4u, ~0u, 0u);
        if (nofile > 0) {
            struct rlimit rl = {.rlim_cur = (rlim_t)nofile, .rlim_max = (rlim_t)nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                dprintf(px[1], "setrlimit(RLIMIT_NOFILE, %d): %s", nofile, strerror(errno));
                _exit(127);
            }
        }
        /* The stop signal must reach the server as a signal it handles: a shell that
         * started us in the background may have set SIGINT to SIG_IGN, which exec
         * keeps, and our threads' blocked mask is inherited too. */
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        dprintf(px[1], "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    close(px[1]);
    s->pid = pid;
    s->out_fd = po[0];
    s->err_fd = pe[0];
    /* The exec pipe closes on a successful exec (O_CLOEXEC) and carries the reason of
     * a failed one. */
    char why[256];
    ssize_t wn = read(px[0], why, sizeof why - 1);
    close(px[0]);
    if (wn > 0) {
        why[wn] = 0;
        snprintf(err, errlen, "%s", why);
        waitpid(pid, NULL, 0);
        close(s->out_fd);
        close(s->err_fd);
        s->pid = -1;
        return -1;
    }
    s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0) {
        snprintf(err, errlen, "cannot start the log reader thread");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    s->reader_started = 1;
    return 0;
}

int ec_server_start(struct ec_server_proc *s, char *const argv[], int nofile, int ready_ms,
                    char *err, size_t errlen)
{
    if (spawn(s, argv, nofile, 0, err, errlen) < 0)
        return -1;
    int64_t deadline = ec_clock_ms() + ready_ms;
    pthread_mutex_lock(&s->mu);
    while (!s->ready && !s->exited && ec_clock_ms() < deadline)
        wait_signal(s, deadline);
    int ready = s->ready, exited = s->exited, status = s->status;
    pthread_mutex_unlock(&s->mu);
    if (ready && s->port == 0) {
        pthread_mutex_lock(&s->mu);
        const char *first = "";
        for (size_t i = 0; i < s->nlines; i++)
            if (!s->lines[i].is_err) {
                first = s->lines[i].text;
                break;
            }
        snprintf(err, errlen, "first line of stdout is not \"listening A:P\": \"%.120s\"", first);
        pthread_mutex_unlock(&s->mu);
        ec_server_stop(s, 1000);
        return -1;
    }
    if (!ready) {
        if (exited && WIFSIGNALED(status))
            snprintf(err, errlen, "the server died by signal %d (%s) before its readiness line",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        else if (exited)
            snprintf(err, errlen, "the server exited with status %d before its readiness line",
                     WEXITSTATUS(status));
        else
            snprintf(err, errlen, "no readiness line \"listening A:P\" within %d ms", ready_ms);
        ec_server_stop(s, 1000);
        return -1;
    }
    return 0;
}

int ec_server_start_connect(struct ec_server_proc *s, char *const argv[], int nofile,
                            const char *host, unsigned port, int ready_ms, char *err,
                            size_t errlen)
{
    if (spawn(s, argv, nofile, 1, err, errlen) < 0)
        return -1;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    /* A server that prints nothing gives no signal of readiness: the first accepted
     * connection is the signal. Between attempts we wait on the reader's condition
     * variable, which also wakes at once when the server exits; the pause grows from
     * 5 to 100 ms so a slow start costs few attempts. */
    int64_t deadline = ec_clock_ms() + ready_ms;
    int attempts = 0, last = 0, pause = 5;
    for (;;) {
        if (ec_server_exited(s, 0))
            break;
        int left = (int)(deadline - ec_clock_ms());
        if (left <= 0)
            break;
        ec_sock_t c;
        attempts++;
        last = ec_connect(host, port, left < 1000 ? left : 1000, &c);
        if (last == 0) {
            /* An orderly close with nothing sent: the server sees a client that
             * connects and leaves (the catalogue's connect-close-no-data). */
            ec_sock_close(c);
            pthread_mutex_lock(&s->mu);
            s->ready = 1;
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        pthread_mutex_lock(&s->mu);
        if (!s->exited)
            wait_signal(s, ec_clock_ms() + pause);
        pthread_mutex_unlock(&s->mu);
        if (pause < 100)
            pause *= 2;
    }
    pthread_mutex_lock(&s->mu);
    int exited = s->exited, status = s->status;
    pthread_mutex_unlock(&s->mu);
    if (exited && WIFSIGNALED(status))
        snprintf(err, errlen, "the server died by signal %d (%s) before accepting a connection on %s:%u",
                 WTERMSIG(status), strsignal(WTERMSIG(status)), host, port);
    else if (exited)
        snprintf(err, errlen,
                 "the server exited with status %d before accepting a connection on %s:%u",
                 WEXITSTATUS(status), host, port);
    else
        snprintf(err, errlen,
                 "nothing accepted a connection on %s:%u within %d ms (%d attempts, the last: "
                 "%s); the server process is still running",
                 host, port, ready_ms, attempts, last ? ec_err_name(-last) : "none");
    ec_server_stop(s, 1000);
    return -1;
}

int ec_server_exited(struct ec_server_proc *s, int wait_ms)
{
    if (s->pid < 0)
        return 1;
    int64_t deadline = ec_clock_ms() + wait_ms;
    pthread_mutex_lock(&s->mu);
    while (!s->exited && ec_clock_ms() < deadline)
        wait_signal(s, deadline);
    int e = s->exited;
    pthread_mutex_unlock(&s->mu);
    return e;
}

void ec_server_stop(struct ec_server_proc *s, int grace_ms)
{
    if (s->pid < 0 || s->stopped)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop_requested = 1;
    int exited = s->exited;
    pthread_mutex_unlock(&s->mu);
    if (!exited) {
        /* SIGINT, not SIGTERM: server_main stops on either, but under Wine only SIGINT
         * reaches it (as CTRL_C_EVENT, exit status 0); SIGTERM kills wine64 outright
         * with no handler run (measured, tests/win32/README.md). */
        kill(s->pid, SIGINT);
        if (!ec_server_exited(s, grace_ms)) {
            s->killed = 1;
            kill(s->pid, SIGKILL);
            ec_server_exited(s, 5000);
        }
    }
    if (s->reader_started) {
        pthread_join(s->reader, NULL);
        s->reader_started = 0;
    }
    close(s->out_fd);
    close(s->err_fd);
    if (s->pidfd >= 0)
        close(s->pidfd);
    s->pidfd = -1;
    s->stopped = 1;
}

void ec_server_free(struct ec_server_proc *s)
{
    for (size_t i = 0; i < s->nlines; i++)
        free(s->lines[i].text);
    free(s->lines);
    s->lines = NULL;
    s->nlines = 0;
    free(s->watch);
    s->watch = NULL;
    s->nwatch = s->watch_cap = 0;
}

int ec_proc_thread_sched(pid_t pid, struct ec_thread_sched *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        struct ec_thread_sched t = {.tid = (pid_t)atoi(e->d_name), .run_ns = -1, .vcsw = -1};
        char p[400], line[256];
        snprintf(p, sizeof p, "%s/%s/schedstat", path, e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fscanf(f, "%lld", &t.run_ns) != 1)
                t.run_ns = -1;
            fclose(f);
        }
        snprintf(p, sizeof p, "%s/%s/status", path, e->d_name);
        f = fopen(p, "r");
        if (!f)
            continue; /* the thread is gone */
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "State: %c", &t.state) == 1)
                continue;
            if (sscanf(line, "voluntary_ctxt_switches: %lld", &t.vcsw) == 1)
                break;
        }
        fclose(f);
        out[n++] = t;
    }
    closedir(d);
    return n;
}

long long ec_proc_demand_ms(pid_t pid)
{
    long long ns = ec_proc_demand_ns(pid);
    return ns < 0 ? -1 : ns / 1000000;
}

long long ec_proc_demand_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    unsigned long long total = 0;
    int any = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sp[400];
        snprintf(sp, sizeof sp, "%s/%s/schedstat", path, e->d_name);
        FILE *f = fopen(sp, "r");
        if (!f)
            continue;
        unsigned long long run = 0, wait = 0;
        /* schedstat: time on the CPU (ns), time waiting on a run queue (ns), slices
         * (Documentation/scheduler/sched-stats.rst). */
        if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
            total += run + wait;
            any = 1;
        }
        fclose(f);
    }
    closedir(d);
    return any ? (long long)total : -1;
}

pid_t ec_wineserver_pid(const char *prefix)
{
    char home[PATH_MAX];
    if (!prefix)
        prefix = getenv("WINEPREFIX");
    if (!prefix || !prefix[0]) {
        const char *h = getenv("HOME");
        if (!h)
            return -1;
        snprintf(home, sizeof home, "%s/.wine", h);
        prefix = home;
    }
    struct stat st;
    if (stat(prefix, &st) < 0)
        return -1;
    char want[80];
    int wl = snprintf(want, sizeof want, "/server-%llx-%llx", (unsigned long long)st.st_dev,
                      (unsigned long long)st.st_ino);
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    pid_t found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], comm[32] = "", cwd[PATH_MAX];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "wineserver", 10) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/%s/cwd", e->d_name);
        ssize_t n = readlink(path, cwd, sizeof cwd - 1);
        if (n <= wl)
            continue;
        cwd[n] = 0;
        if (strcmp(cwd + n - wl, want) == 0)
            found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

size_t ec_server_line_count(struct ec_server_proc *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nlines;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int ec_proc_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

const char *ec_proc_fd_kinds(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    snprintf(buf, len, "?");
    DIR *d = opendir(path);
    if (!d)
        return buf;
    char kinds[16][48];
    int counts[16], nk = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char lp[400], target[256];
        snprintf(lp, sizeof lp, "%s/%s", path, e->d_name);
        ssize_t n = readlink(lp, target, sizeof target - 1);
        if (n < 0)
            continue;
        target[n] = 0;
        char *colon = strchr(target, ':'); /* "socket:[123]" -> "socket" */
        if (colon && target[0] != '/')
            *colon = 0;
        int k;
        for (k = 0; k < nk; k++)
            if (strncmp(kinds[k], target, sizeof kinds[k] - 1) == 0)
                break;
        if (k == nk && nk < 16) {
            snprintf(kinds[nk], sizeof kinds[nk], "%.47s", target);
            counts[nk++] = 0;
        }
        if (k < nk)
            counts[k]++;
    }
    closedir(d);
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < nk && o < len; k++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s x%d", k ? ", " : "", kinds[k], counts[k]);
    return buf;
}

long long ec_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    /* "VmRSS:     1234 kB" (proc(5)); absent for a zombie. */
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            char *end;
            long long v = strtoll(line + 6, &end, 10);
            if (end != line + 6 && v >= 0)
                kib = v;
            break;
        }
    }
    fclose(f);
    return kib;
}

/* Is every thread of pid stopped? 1, 0, or -1 when /proc cannot say (pid gone). */
static int all_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int all = 1, any = 0;
    struct dirent *e;
    while (all && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sp[400], buf[512];
        snprintf(sp, sizeof sp, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(sp, "r");
        if (!f)
            continue; /* the thread just ended */
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* stat: "tid (comm) S ...": the state follows the last ')' (proc(5)); 'T' is
         * stopped by a signal, 't' stopped under a tracer. */
        const char *rp = strrchr(buf, ')');
        if (!rp || rp[1] != ' ')
            continue;
        any = 1;
        all = rp[2] == 'T' || rp[2] == 't';
    }
    closedir(d);
    return any ? all : -1;
}

int ec_proc_freeze(pid_t pid, int64_t deadline_ms)
{
    if (kill(pid, SIGSTOP) != 0)
        return -1;
    for (;;) {
        int r = all_stopped(pid);
        if (r != 0)
            return r > 0 ? 0 : -1;
        if (ec_clock_ms() >= deadline_ms)
            return -1;
        /* A group stop takes each thread at its next return to user mode: polled, as
         * /proc offers no notification of it to a process that is not the parent. */
        poll(NULL, 0, 1);
    }
}

int ec_proc_thaw(pid_t pid)
{
    return kill(pid, SIGCONT) == 0 ? 0 : -1;
}

int ec_proc_threads(pid_t pid)
{
    char path[64], line[256];
    int n = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Threads:", 8) == 0) {
            n = atoi(line + 8);
            break;
        }
    }
    fclose(f);
    return n;
}

/* Reads fields from..to (numbered as in proc(5), from 3) of /proc/pid/stat into v as
 * unsigned numbers (field 3, the state letter, reads as its character code). Returns
 * 0, or -1 when the process is gone or the line cannot be read. */
static int proc_stat_fields(pid_t pid, int from, int to, unsigned long long *v)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: fields are counted
     * from the last ')' (proc(5)). */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field >= from)
            v[field - from] = field == 3 ? (unsigned char)tok[0] : strtoull(tok, NULL, 10);
        if (field == to)
            return 0;
    }
    return -1;
}

long long ec_proc_cpu_ms(pid_t pid)
{
    unsigned long long v[2]; /* utime and stime: fields 14 and 15 */
    if (proc_stat_fields(pid, 14, 15, v) < 0)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return (long long)((v[0] + v[1]) * 1000ull / (unsigned long long)hz);
}

int ec_proc_exiting(pid_t pid)
{
    unsigned long long v[7]; /* state (3) to flags (9) */
    if (proc_stat_fields(pid, 3, 9, v) < 0)
        return 0;
    /* PF_EXITING (0x4, include/linux/sched.h) is set as do_exit begins, before the
     * descriptors are closed; Z and X are the dead states (proc(5)). */
    return (v[6] & 0x4u) != 0 || v[0] == 'Z' || v[0] == 'X';
}

int ec_split_command(const char *cmd, char **argv, int max, char *err, size_t errlen)
{
    int n = 0;
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (n >= max - 1) {
            snprintf(err, errlen, "more than %d words", max - 1);
            ec_split_free(argv, n);
            return -1;
        }
        char *out = malloc(strlen(p) + 1), *o = out;
        if (!out) {
            snprintf(err, errlen, "out of memory");
            ec_split_free(argv, n);
            return -1;
        }
        char q = 0; /* the open quote, or 0 */
        const char *start = p;
        while (*p && (q || (*p != ' ' && *p != '\t' && *p != '\n'))) {
            if (!q && (*p == '"' || *p == '\'')) {
                start = p;
                q = *p++;
            } else if (q && *p == q) {
                q = 0;
                p++;
            } else if (*p == '\\' && q != '\'' && p[1] &&
                       (q == 0 || p[1] == '"' || p[1] == '\\')) {
                *o++ = p[1];
                p += 2;
            } else {
                *o++ = *p++;
            }
        }
        *o = 0;
        if (q) {
            snprintf(err, errlen, "unterminated %c quote at offset %ld", q, (long)(start - cmd));
            free(out);
            ec_split_free(argv, n);
            return -1;
        }
        argv[n++] = out;
    }
    argv[n] = NULL;
    return n;
}

void ec_split_free(char **argv, int n)
{
    for (int i = 0; i < n; i++) {
        free(argv[i]);
        argv[i] = NULL;
    }
}

/* Listening sockets of one family through sock_diag (inet_diag): a dump asked for the
 * state LISTEN only walks the kernel's listening hash, so it stays cheap on a machine
 * with tens of thousands of connections, where reading /proc/net/tcp takes a good
 * part of a second (measured: 21,696 lines, 0.5 s a read under load). 1 if one has
 * local port `port`, 0 if none, -1 if the dump failed. */
/* A sock_diag socket whose receive waits at most a second (the kernel answers at
 * once, but no wait here may be unbounded), or -1. */
static int diag_socket(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    struct timeval tv = {.tv_sec = 1};
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int listening_diag(int family, unsigned port)
{
    int fd = diag_socket();
    if (fd < 0)
        return -1;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req = {.nlh = {.nlmsg_len = sizeof req,
                     .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                     .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
             .r = {.sdiag_family = (unsigned char)family,
                   .sdiag_protocol = IPPROTO_TCP,
                   .idiag_states = 1u << TCP_LISTEN}};
    int found = -1;
    if (send(fd, &req, sizeof req, 0) == (ssize_t)sizeof req)
        found = 0;
    /* Each caller its own buffer (connection threads ask at once); 32 KiB holds any
     * datagram of a dump (netlink_dump() fills at most 32 KiB). */
    unsigned char *buf = malloc(32768);
    for (int done = found < 0 || !buf; !done;) {
        ssize_t n = recv(fd, buf, 32768, 0);
        if (n <= 0) {
            found = found > 0 ? found : -1;
            break;
        }
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                if (h->nlmsg_type == NLMSG_ERROR && !found)
                    found = -1;
                done = 1;
                break;
            }
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) == port)
                found = 1;
        }
    }
    if (!buf)
        found = -1;
    free(buf);
    close(fd);
    return found;
}

/* One /proc/net/tcp* file: 1 if a line in state 0A (TCP_LISTEN, include/net/tcp_states.h)
 * has local port `port` ("0100007F:9C41": address, then the port in hex), 0 if none,
 * -1 if the file cannot be read. */
static int listening_in(const char *file, unsigned port)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char local[128], remote[128];
        unsigned st, lport;
        if (sscanf(line, " %*u: %127s %127s %x", local, remote, &st) != 3)
            continue; /* the header line */
        const char *colon = strrchr(local, ':');
        if (colon && sscanf(colon + 1, "%x", &lport) == 1 && lport == port && st == 0x0A)
            found = 1;
    }
    fclose(f);
    return found;
}

int ec_port_listening(unsigned port)
{
    int d4 = listening_diag(AF_INET, port), d6 = listening_diag(AF_INET6, port);
    if (d4 == 1 || d6 == 1)
        return 1;
    if (d4 == 0 && d6 == 0)
        return 0;
    int v4 = listening_in("/proc/net/tcp", port);
    int v6 = listening_in("/proc/net/tcp6", port);
    if (v4 == 1 || v6 == 1)
        return 1;
    return v4 < 0 && v6 < 0 ? -1 : 0;
}

int ec_tcp_conn_present(const struct sockaddr *server, const struct sockaddr *client)
{
    int family = server->sa_family;
    if (family != AF_INET && family != AF_INET6)
        return -1;
    int fd = diag_socket();
    if (fd < 0)
        return -1;
    /* One socket asked for by its addresses and ports (no dump: a lookup in the
     * kernel's connection hash, cheap however many sockets the host has). The
     * server's side: local is the server, remote the client. */
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req = {.nlh = {.nlmsg_len = sizeof req,
                     .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                     .nlmsg_flags = NLM_F_REQUEST},
             .r = {.sdiag_family = (unsigned char)family,
                   .sdiag_protocol = IPPROTO_TCP,
                   .idiag_states = ~0u}};
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (family == AF_INET) {
        const struct sockaddr_in *a = (const void *)server, *b = (const void *)client;
        req.r.id.idiag_sport = a->sin_port;
        req.r.id.idiag_dport = b->sin_port;
        memcpy(req.r.id.idiag_src, &a->sin_addr, 4);
        memcpy(req.r.id.idiag_dst, &b->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *a = (const void *)server, *b = (const void *)client;
        req.r.id.idiag_sport = a->sin6_port;
        req.r.id.idiag_dport = b->sin6_port;
        memcpy(req.r.id.idiag_src, &a->sin6_addr, 16);
        memcpy(req.r.id.idiag_dst, &b->sin6_addr, 16);
    }
    int present = -1;
    union {
        struct nlmsghdr h;
        unsigned char b[8192];
    } buf;
    if (send(fd, &req, sizeof req, 0) == (ssize_t)sizeof req) {
        ssize_t n = recv(fd, &buf, sizeof buf, 0);
        struct nlmsghdr *h = &buf.h;
        if (n > 0 && NLMSG_OK(h, (size_t)n)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                present = e->error == -ENOENT ? 0 : -1;
            } else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                /* The lookup falls back to the listener when no connection matches
                 * (inet_lookup): that is "gone" too. */
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                present = m->idiag_state != TCP_LISTEN && m->idiag_state != TCP_CLOSE;
            }
        }
    }
    close(fd);
    return present;
}
