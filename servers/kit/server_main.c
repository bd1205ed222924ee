/* server_main.c - main() of every echo-<model> executable.
 *
 * Parses the common options, starts the socket layer, listens, prints the readiness
 * line "listening A:P" and calls the model's ec_serve(). SIGINT/SIGTERM/SIGHUP (console
 * control events on Windows) set the stop flag and shut the listener down so that a
 * model blocked in accept, select, poll, epoll or io_uring wakes up and returns.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#else
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#endif

#ifndef ECHOCONF_VERSION
#define ECHOCONF_VERSION "unknown"
#endif

/* Exit status of a bad command line (as getopt-based tools and sysexits' EX_USAGE
 * neighbours use 2), distinct from 1, a failure at run time. */
#define EXIT_USAGE 2

/* Exit status of a model that cannot run on this system (ec_model.probe failed): the
 * "skipped" code of ctest's SKIP_RETURN_CODE and of automake's test drivers. */
#define EXIT_CANNOT_RUN 77

/* How long a stopping server may take to return from ec_serve before the process
 * ends anyway (threads blocked in recv on an idle client never see the flag). */
#define STOP_GRACE_MS 2000

/* Whether the listener is still open after a stop: POSIX shuts it down, Windows
 * closes it (see request_stop). */
#ifdef _WIN32
#define EC_LISTENER_SURVIVES_STOP 0
#else
#define EC_LISTENER_SURVIVES_STOP 1
#endif

static atomic_int stop_requested;
static ec_sock_t listener = EC_INVALID_SOCK;
static char prog_name[96];

int ec_server_stopping(void)
{
    return atomic_load(&stop_requested);
}

int ec_cpu_count(void)
{
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < INT_MAX ? (int)n : 1;
#endif
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [options]\n"
            "Echo server of model %s (echoconf %s).\n%s\n\n"
            "options:\n"
            "  --port N          TCP port, 0 for an ephemeral one (default %d)\n"
            "  --bind ADDR       address to listen on, IPv4 or IPv6 (default 127.0.0.1)\n"
            "  --framing SPEC    raw (default), line, delim:HEX, fixed:N, len16 or len32,\n"
            "                    optionally followed by ,max=N (largest payload)\n"
            "  --bufsize N       recv buffer in bytes, 1..%u (default %d)\n"
            "  --max-clients N   refuse clients beyond N at once (default 0: only the\n"
            "                    model's own limit)\n",
            prog_name, ec_model.id, ECHOCONF_VERSION, ec_model.summary, EC_DEFAULT_PORT,
            EC_MAX_BUFSIZE, EC_DEFAULT_BUFSIZE);
    if (ec_model.default_workers != 0) {
        if (ec_model.default_workers < 0)
            fprintf(out,
                    "  --workers N       worker threads, -1 = two per CPU (default -1, "
                    "here %d)\n",
                    2 * ec_cpu_count());
        else
            fprintf(out, "  --workers N       worker threads, -1 = two per CPU (default %d)\n",
                    ec_model.default_workers);
    }
    fprintf(out, "  --nodelay         TCP_NODELAY on every accepted socket (no Nagle delay\n"
                 "                    on the echo's pieces)\n"
                 "  --sndbuf N        SO_SNDBUF of every accepted socket, 1024..16777216\n"
                 "                    (default: the system's, autotuned on Linux)\n"
                 "  --quiet           print only the readiness line\n"
                 "  --help            this text\n"
                 "  --version         the echoconf version and the model id\n"
                 "Prints \"listening A:P\" once it listens; SIGINT or SIGTERM stops it "
                 "(exit 0).\n");
}

/* Marks the server as stopping and wakes whatever waits on the listener, once: a
 * second Ctrl-C must not close a handle number that may have been reused. */
static void request_stop(void)
{
    if (atomic_exchange(&stop_requested, 1) != 0)
        return;
#ifdef _WIN32
    /* Winsock has no shutdown for a listening socket; closing it makes a blocking
     * accept, select or WSAWaitForMultipleEvents return with an error. */
    closesocket(listener);
#else
    /* On Linux shutdown(SHUT_RDWR) of a listening socket moves it to CLOSE: accept
     * fails with EINVAL and poll/epoll report POLLHUP, in every thread at once. */
    ec_sock_shutdown_both(listener);
#endif
}

#ifdef _WIN32
/* The name of a console control event, for the log line of a stop. */
static const char *console_event_name(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
        return "CTRL_C_EVENT";
    case CTRL_BREAK_EVENT:
        return "CTRL_BREAK_EVENT";
    case CTRL_CLOSE_EVENT:
        return "CTRL_CLOSE_EVENT";
    case CTRL_LOGOFF_EVENT:
        return "CTRL_LOGOFF_EVENT";
    case CTRL_SHUTDOWN_EVENT:
        return "CTRL_SHUTDOWN_EVENT";
    default:
        return "an unknown console event";
    }
}

static BOOL WINAPI on_console_event(DWORD type)
{
    /* Said on stderr, so that a stop nobody asked for shows in the test's output with
     * what caused it. */
    ec_warn("stopping on %s (%lu)", console_event_name(type), (unsigned long)type);
    request_stop();
    /* The handler runs in a thread of its own; if ec_serve has not returned within
     * the grace period, end the process here. */
    Sleep(STOP_GRACE_MS);
    fflush(stdout);
    ExitProcess(0);
    return TRUE;
}

/* The log is a byte contract: lines end with "\n" on every platform. The Windows C
 * runtime writes "\r\n" for "\n" in text mode, so switch stdout (and stderr, for
 * the same diagnostics as on POSIX) to binary. */
static void set_log_binary(void)
{
    fflush(stdout);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
}

static int start_stop_handler(void)
{
    if (!SetConsoleCtrlHandler(on_console_event, TRUE)) {
        ec_warn("SetConsoleCtrlHandler failed (%lu)", (unsigned long)GetLastError());
        return -1;
    }
    return 0;
}

static void stop_handler_finish(void)
{
    /* Returning from main ends the process, the handler thread included. */
}
#else
static void set_log_binary(void)
{
    /* POSIX streams make no newline translation. */
}

static sigset_t stop_signals;
static pthread_t stop_th;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond;
static int serve_done; /* under stop_lock: ec_serve has returned */

/* Waits for a stop signal (blocked in every thread, so only sigwait sees it), asks the
 * model to stop, and ends the process if ec_serve has not returned within the grace
 * period (threads blocked in recv on idle clients never look at the flag). */
static void *stop_thread(void *arg)
{
    int sig = 0;
    struct timespec deadline;
    (void)arg;
    if (sigwait(&stop_signals, &sig) != 0)
        return NULL;
    pthread_mutex_lock(&stop_lock);
    if (!serve_done) {
        request_stop();
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += STOP_GRACE_MS / 1000;
        while (!serve_done) {
            if (pthread_cond_timedwait(&stop_cond, &stop_lock, &deadline) == ETIMEDOUT &&
                !serve_done) {
                fflush(stdout);
                _exit(0);
            }
        }
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

static int start_stop_handler(void)
{
    pthread_condattr_t ca;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    /* The grace period is measured on the monotonic clock, immune to clock changes. */
    int rc = pthread_condattr_init(&ca);
    if (rc == 0)
        rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&stop_cond, &ca);
    /* Block before any model thread exists, so every thread inherits the mask and the
     * signal is delivered to sigwait() alone (pthread_sigmask(3), sigwait(3)). */
    if (rc == 0)
        rc = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (rc == 0)
        rc = pthread_create(&stop_th, NULL, stop_thread, NULL);
    if (rc != 0) {
        ec_warn("cannot start the signal thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

/* Called once ec_serve has returned: lets the signal thread end and joins it. */
static void stop_handler_finish(void)
{
    pthread_mutex_lock(&stop_lock);
    serve_done = 1;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    /* If the thread still sits in sigwait (the model returned on its own), a SIGTERM
     * wakes it; it sees serve_done and leaves. Otherwise the signal stays pending,
     * blocked, and dies with the process. */
    pthread_kill(stop_th, SIGTERM);
    pthread_join(stop_th, NULL);
}
#endif

/* Entry point of every echo-<model> executable: see the file comment. Exit status 0
 * after a requested stop, 1 on a failure at run time, 2 on a bad command line. */
int main(int argc, char **argv)
{
    struct ec_server_opts o;
    char err[256], addr[EC_ADDRSTRLEN];

    set_log_binary();
    snprintf(prog_name, sizeof prog_name, "echo-%s", ec_model.id);
    ec_log_set_name(prog_name);
    ec_server_opts_init(&o, ec_model.default_workers, ec_cpu_count());
    switch (ec_server_parse_args(argc, argv, &o, ec_model.default_workers, ec_cpu_count(),
                                 prog_name, stderr)) {
    case EC_ARGS_RUN:
        break;
    case EC_ARGS_HELP:
        usage(stdout);
        return 0;
    case EC_ARGS_VERSION:
        printf("echoconf %s (model %s)\n", ECHOCONF_VERSION, ec_model.id);
        return 0;
    default:
        return EXIT_USAGE;
    }
    ec_log_set_quiet(o.quiet);

    int rc = ec_net_init();
    if (rc < 0) {
        ec_warn("cannot start the socket layer: %s", ec_err_name(rc));
        return 1;
    }
    if (ec_model.probe != NULL) {
        char why[256] = "";
        if (ec_model.probe(why, sizeof why) != 0) {
            ec_warn("cannot run here: %s", why[0] != '\0' ? why : "the model's probe failed");
            ec_net_cleanup();
            return EXIT_CANNOT_RUN;
        }
    }
    rc = ec_listen(o.bind, o.port, SOMAXCONN, &listener, err, sizeof err);
    if (rc < 0) {
        ec_warn("%s", err);
        ec_net_cleanup();
        return 1;
    }
    if (o.nodelay) {
        /* Set on every socket ec_accept returns, and on the listener too: Linux copies
         * TCP_NODELAY to the sockets accepted from it (checked with getsockopt on an
         * accepted socket), which covers the models that accept through io_uring. */
        ec_sock_accept_nodelay(1);
        rc = ec_sock_set_nodelay(listener, 1);
        if (rc < 0) {
            ec_warn("TCP_NODELAY on the listener: %s", ec_err_name(rc));
            ec_sock_close(listener);
            ec_net_cleanup();
            return 1;
        }
    }
    if (o.sndbuf) {
        /* The same way: Linux copies the listener's SO_SNDBUF (and the lock that stops
         * autotuning) to the sockets accepted from it, socket(7). */
        ec_sock_accept_sndbuf(o.sndbuf);
        rc = ec_sock_set_bufsizes(listener, 0, o.sndbuf);
        if (rc < 0) {
            ec_warn("SO_SNDBUF %d on the listener: %s", o.sndbuf, ec_err_name(rc));
            ec_sock_close(listener);
            ec_net_cleanup();
            return 1;
        }
    }
    if (start_stop_handler() != 0) {
        ec_sock_close(listener);
        ec_net_cleanup();
        return 1;
    }
    ec_log_ready(ec_sock_local_name(listener, addr, sizeof addr));

    rc = ec_serve(listener, &o);
    fflush(stdout);
    stop_handler_finish();
    /* On Windows the console handler closed the listener already; closing a handle
     * twice could close one that was reused meanwhile. */
    if (!ec_server_stopping() || EC_LISTENER_SURVIVES_STOP)
        ec_sock_close(listener);
    ec_net_cleanup();
    return rc == 0 ? 0 : 1;
}
