/* server_proc.h - the server under test as a child process: start it on port 0, read
 * its readiness line, capture its log, observe it through /proc (descriptor count,
 * CPU time), notice when it dies, and stop it (SIGINT, bounded wait, SIGKILL). It
 * also splits a server command line into words (ec_split_command), for the engine
 * and the clients alike.
 */
#ifndef EC_SERVER_PROC_H
#define EC_SERVER_PROC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The event of a log line (lib/ec_log.h), parsed as the line is read so that the
 * engine can sequence its clients by what the server did. */
enum ec_srv_ev {
    EC_SRV_NONE,   /* stderr, the readiness line, or a line of no known event */
    EC_SRV_ACCEPT, /* accept peer=A:P */
    EC_SRV_RECV,   /* recv peer=A:P bytes=N (one per recv, every framing) */
    EC_SRV_FRAME,  /* frame peer=A:P bytes=N (framed modes) */
    EC_SRV_SEND,   /* send peer=A:P bytes=N */
    EC_SRV_CLOSE,  /* close peer=A:P reason=... */
    EC_SRV_REFUSE  /* refuse peer=A:P reason=... */
};

/* The log word of an event ("recv"), or "?" for EC_SRV_NONE. */
const char *ec_srv_ev_name(enum ec_srv_ev ev);

/* One captured line of the server's stdout (its log) or stderr. */
struct ec_srv_line {
    int64_t t_ms; /* engine clock (ec_clock_ms) when it was read */
    int64_t t_us; /* the same moment in microseconds (CLOCK_MONOTONIC) */
    int is_err;   /* 1: stderr */
    char *text;
    enum ec_srv_ev ev;  /* parsed event (stdout lines only) */
    unsigned peer_port; /* the port of peer=A:P: the client's local port */
    long long bytes;    /* bytes=N, or -1 */
};

struct ec_server_proc {
    pid_t pid;
    int pidfd;
    int out_fd, err_fd;
    pthread_t reader;
    int reader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ec_srv_line *lines;
    size_t nlines, cap;
    int ready;     /* the readiness line was read (or the first connect succeeded) */
    int connect_ready; /* readiness is the first accepted connect, not a line */
    char host[64]; /* from "listening A:P" */
    unsigned port;
    int exited; /* waitpid returned */
    int status; /* its wait status */
    int64_t exit_ms;
    int stop_requested;
    int killed;  /* SIGKILL was needed */
    int stopped; /* ec_server_stop ran: pipes closed, reader joined */
    int *watch;  /* eventfds written on every new stdout line and on the exit */
    size_t nwatch, watch_cap;
};

/* Starts argv (argv[0] is searched in PATH) with stdin from /dev/null, stdout and
 * stderr captured, RLIMIT_NOFILE set to nofile when > 0, and dies with us
 * (PR_SET_PDEATHSIG). Waits up to ready_ms for "listening A:P" as the first stdout
 * line. Returns 0, or -1 with a reason in err (the server exited, printed something
 * else first, or was not ready in time; it is stopped then). */
int ec_server_start(struct ec_server_proc *s, char *const argv[], int nofile, int ready_ms,
                    char *err, size_t errlen);

/* Like ec_server_start, for a server that prints no readiness line and listens on a
 * port chosen for it (host:port): the first connection accepted there within ready_ms
 * is its readiness (closed at once, without data). Returns 0, or -1 with what was seen
 * in err (the exit status or signal, or the attempts and the last connect error); the
 * server is stopped then. */
int ec_server_start_connect(struct ec_server_proc *s, char *const argv[], int nofile,
                            const char *host, unsigned port, int ready_ms, char *err,
                            size_t errlen);

/* True once the process has exited; waits up to wait_ms for that to happen. */
int ec_server_exited(struct ec_server_proc *s, int wait_ms);

/* Asks the server to stop: SIGINT (which server_main handles like SIGTERM, and which
 * Wine turns into CTRL_C_EVENT), up to grace_ms for it to exit, then SIGKILL.
 * Safe to call when it already exited. Joins the log reader. */
void ec_server_stop(struct ec_server_proc *s, int grace_ms);

/* Releases the captured lines (after ec_server_stop). */
void ec_server_free(struct ec_server_proc *s);

/* Open descriptors of process pid (entries of /proc/pid/fd), or -1. */
int ec_proc_fd_count(pid_t pid);

/* A summary of what process pid holds open, by kind ("socket x5, pipe x2,
 * /dev/null x1") into buf; returns buf ("?" when /proc cannot be read). */
const char *ec_proc_fd_kinds(pid_t pid, char *buf, size_t len);

/* Resident memory of process pid in KiB (VmRSS of /proc/pid/status), or -1. */
long long ec_proc_rss_kib(pid_t pid);

/* Threads of process pid (Threads: of /proc/pid/status), or -1. */
int ec_proc_threads(pid_t pid);

/* User + system CPU time of process pid in milliseconds (/proc/pid/stat), or -1. */
long long ec_proc_cpu_ms(pid_t pid);

/* True while process pid is on its way out: it has begun to exit (PF_EXITING in the
 * flags of /proc/pid/stat) or is already dead and not yet reaped. A process that
 * exits with many sockets full of unread data can spend a while closing them. */
int ec_proc_exiting(pid_t pid);

/* Freezes process pid: SIGSTOP, then waits until /proc shows every one of its threads
 * stopped ('T' in /proc/pid/task/<tid>/stat), up to deadline_ms (ec_clock_ms). While
 * it is frozen the kernel still completes handshakes and queues bytes, FINs and RSTs
 * for its sockets, so whatever arrives meanwhile is there at once when it resumes (one
 * wake-up, one loop round). Returns 0, or -1 (it is gone, or not stopped in time). */
int ec_proc_freeze(pid_t pid, int64_t deadline_ms);

/* Lets a frozen process pid go on (SIGCONT). Returns 0 or -1 (it is gone). */
int ec_proc_thaw(pid_t pid);

/* Is a TCP socket of this host listening on port (IPv4 or IPv6)? Asked of the
 * kernel (sock_diag, listening sockets only), else read from /proc/net/tcp and
 * /proc/net/tcp6, in the caller's network namespace. Returns 1, 0 (none), or -1 when
 * neither way works. Only meaningful for a server on this host. */
int ec_port_listening(unsigned port);

/* Is the server's side of the TCP connection from client to server (their addresses
 * and ports) still in this host's connection table (sock_diag, one lookup)? After a
 * client's reset it is not, once the server's kernel has processed the RST, even if
 * the server never accepted it. 1, 0, or -1 when sock_diag cannot say. */
int ec_tcp_conn_present(const struct sockaddr *server, const struct sockaddr *client);

/* CPU demand of process pid in milliseconds: the time its threads ran plus the time
 * they waited, runnable, for a CPU (sum of /proc/pid/task/<tid>/schedstat). Unlike CPU
 * time it does not shrink when the machine is busy: a spinning thread demands 100% of
 * the wall time whatever its share. -1 when schedstat is not available. */
long long ec_proc_demand_ms(pid_t pid);

/* The same in nanoseconds, as the kernel counts it: two equal readings mean no thread
 * of pid ran or waited to run in between (a thread that exited takes its share with
 * it, which changes the sum too). -1 when schedstat is not available. */
long long ec_proc_demand_ns(pid_t pid);

/* One thread of a process as the scheduler sees it (/proc/pid/task/<tid>). */
struct ec_thread_sched {
    pid_t tid;
    long long run_ns; /* time on a CPU (schedstat), -1 when not available */
    long long vcsw;   /* voluntary context switches (status): each one a sleep */
    char state;       /* stat's state: 'R' running or waiting for a CPU, 'S', 'D', ... */
};

/* Fills out with up to max threads of process pid. Returns how many, or -1 (the
 * process is gone). A thread that slept (blocked in a wait, a read, a lock) since an
 * earlier reading has a higher vcsw; one that only ran and was preempted, or waited
 * for a CPU, has the same (Documentation/filesystems/proc.rst: voluntary_ctxt_switches
 * counts the times the task gave up the CPU itself). */
int ec_proc_thread_sched(pid_t pid, struct ec_thread_sched *out, int max);

/* The wineserver of the Wine prefix at path prefix (NULL: $WINEPREFIX, else
 * $HOME/.wine), or -1. A Winsock server under Wine learns of its sockets' events from
 * that process. It is found by its working directory: wineserver runs in
 * <tmp>/server-<dev>-<inode> of the prefix directory, in hexadecimal (Wine 8.0,
 * server/request.c: create_server_dir). */
pid_t ec_wineserver_pid(const char *prefix);

/* Splits the command line cmd into words the way a POSIX shell splits plain words:
 * blanks separate; '...' keeps everything literally; "..." keeps everything but a
 * backslash before " or \; outside quotes a backslash keeps the next character. There
 * is no expansion of any kind ($, ~, globs, command substitution are plain text).
 * Each word is malloc'ed into argv[0..n-1] and argv[n] is NULL, so argv needs max
 * slots for at most max - 1 words. Returns n (0 for a blank line), or -1 with a
 * reason in err (an unterminated quote, more than max - 1 words, out of memory), with
 * nothing left allocated. */
int ec_split_command(const char *cmd, char **argv, int max, char *err, size_t errlen);

/* Frees the n words ec_split_command stored in argv. */
void ec_split_free(char **argv, int n);

/* The number of lines (stdout and stderr) captured so far (thread-safe). */
size_t ec_server_line_count(struct ec_server_proc *s);

/* Registers (on = 1) or removes (on = 0) the eventfd efd: from then on the reader
 * writes 1 to it whenever a stdout line is captured or the server exits, so a thread
 * can wait in poll() for the server's next event together with its own socket. Call
 * with s->mu held, and register before releasing the lock after looking at the lines,
 * so that no line falls between the look and the wait. Returns 0 or -1 (memory). */
int ec_server_watch(struct ec_server_proc *s, int efd, int on);

#endif
