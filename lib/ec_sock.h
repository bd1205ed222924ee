/* ec_sock.h - the portable socket shim.
 *
 * The only header in echoconf that knows POSIX sockets from Winsock. Everything else
 * includes this file and uses ec_sock_t, the ec_* calls and the portable error
 * classes below; no other file needs #ifdef _WIN32 for a socket call.
 */
#ifndef EC_SOCK_H
#define EC_SOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
/* WSAPoll and inet_ntop exist from Windows Vista (0x0600) on; MinGW hides them unless
 * _WIN32_WINNT says so before winsock2.h is read. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET ec_sock_t;
#define EC_INVALID_SOCK INVALID_SOCKET
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
typedef int ec_sock_t;
#define EC_INVALID_SOCK (-1)
#endif

/* Portable error classes. Functions of the wire library return a count (>= 0) or one
 * of these negated, e.g. -EC_ECONNRESET. The OS code behind the last failure stays
 * available through ec_sock_oserror() for messages. */
enum ec_err {
    EC_OK = 0,
    EC_EWOULDBLOCK,  /* "would-block": EAGAIN/EWOULDBLOCK, WSAEWOULDBLOCK */
    EC_EINTR,        /* "interrupted": EINTR, WSAEINTR */
    EC_ECONNRESET,   /* "reset": the peer reset the connection (RST) */
    EC_ECONNABORTED, /* "aborted": the connection was aborted locally or by the stack */
    EC_ECONNREFUSED, /* "refused": nobody listens there */
    EC_ETIMEDOUT,    /* "timed-out": a deadline passed (ours or the stack's) */
    EC_ECLOSED,      /* "closed": EPIPE, ENOTCONN, ESHUTDOWN: the socket can't carry data */
    EC_EOTHER,       /* "other": anything else; see ec_sock_oserror() */
    EC_EMFILE,       /* "no-descriptors": EMFILE/ENFILE/WSAEMFILE, the process is out of handles */
    EC_ETOOLONG,     /* "too-long": a record or frame longer than the allowed maximum */
    EC_EINVAL,       /* "invalid": a bad argument or a malformed frame */
    EC_ENOMEM,       /* "no-memory" */
    EC_ERR_COUNT
};

/* Readiness bits for ec_wait(). */
#define EC_READABLE 1
#define EC_WRITABLE 2

/* Flags for ec_send()/ec_recv(). */
#define EC_MSG_MORE 1 /* more data follows (MSG_MORE on Linux; ignored elsewhere) */
#define EC_MSG_PEEK 2 /* look without consuming (MSG_PEEK) */
/* This call only, whatever the socket's mode: do not block (MSG_DONTWAIT on Linux; on
 * Windows, which has no such flag, a zero-timeout select decides first). Lets the
 * bounded helpers of ec_wire.h try the I/O first and wait only when it would block. */
#define EC_MSG_DONTWAIT 4

/* Starts the socket layer: WSAStartup on Windows; on POSIX, ignores SIGPIPE so a send
 * to a reset peer returns -EC_ECLOSED instead of killing the process. Returns 0 or a
 * negative class. Call once per process before any other ec_ call. */
int ec_net_init(void);

/* Stops the socket layer (WSACleanup on Windows, nothing on POSIX). */
void ec_net_cleanup(void);

/* Maps an OS error code (errno or WSAGetLastError) to a negative error class. */
int ec_err_from_os(int oscode);

/* The negative class of the last failed socket call of this thread. This is the one
 * place where errno / WSAGetLastError() become portable codes. */
int ec_sock_error(void);

/* The raw OS code of the last failed socket call of this thread (for messages). */
int ec_sock_oserror(void);

/* The name of an error class, as used in logs and verdicts: "would-block",
 * "interrupted", "reset", "aborted", "refused", "timed-out", "closed", "other",
 * "no-descriptors", "too-long", "invalid", "no-memory". Accepts err or -err. */
const char *ec_err_name(int err);

/* Writes a description of an OS code into buf ("Connection reset by peer (104)") and
 * returns buf. */
const char *ec_os_strerror(int oscode, char *buf, size_t len);

/* One TCP socket (IPv4 or IPv6 per family), not yet connected. Returns 0 and sets
 * *out, or a negative class. */
int ec_sock_open(int family, ec_sock_t *out);

/* Closes s (close / closesocket). Returns 0 or a negative class. */
int ec_sock_close(ec_sock_t s);

/* Sets an RST close: SO_LINGER {1, 0}, then closes. Returns 0 or a negative class. */
int ec_sock_abort(ec_sock_t s);

/* shutdown(SHUT_WR / SD_SEND): half-close. Returns 0 or a negative class. */
int ec_sock_shutdown_wr(ec_sock_t s);

/* shutdown(SHUT_RDWR / SD_BOTH). Returns 0 or a negative class. */
int ec_sock_shutdown_both(ec_sock_t s);

/* Switches O_NONBLOCK / FIONBIO. Returns 0 or a negative class. */
int ec_sock_set_nonblocking(ec_sock_t s, int on);

/* TCP_NODELAY on or off. Returns 0 or a negative class. */
int ec_sock_set_nodelay(ec_sock_t s, int on);

/* From now on every socket ec__sock_accept (so ec_accept) returns gets TCP_NODELAY
 * (on != 0) before it is handed out: the servers' --nodelay. Call before any thread
 * accepts. */
void ec_sock_accept_nodelay(int on);

/* The same for SO_SNDBUF of bytes (0: leave it to the system): the servers' --sndbuf.
 * Call before any thread accepts. */
void ec_sock_accept_sndbuf(int bytes);

/* TCP_CORK on or off (Linux); -EC_EINVAL where the platform has no cork. */
int ec_sock_set_cork(ec_sock_t s, int on);

/* SO_RCVBUF / SO_SNDBUF; a size of 0 leaves that buffer alone. Returns 0 or a
 * negative class. */
int ec_sock_set_bufsizes(ec_sock_t s, int rcvbuf, int sndbuf);

/* SO_REUSEADDR on (POSIX: a restarted server can bind while old connections sit in
 * TIME_WAIT). On Windows, where SO_REUSEADDR would let another socket take over a port
 * in use, SO_EXCLUSIVEADDRUSE instead. Returns 0 or a negative class. */
int ec_sock_set_reuseaddr(ec_sock_t s);

/* Pending socket error (SO_ERROR) as a negative class, or 0 if none. */
int ec_sock_pending_error(ec_sock_t s);

/* One send. Never raises SIGPIPE. Returns the count sent (possibly short), or a
 * negative class (-EC_EWOULDBLOCK on a full nonblocking socket). */
ptrdiff_t ec_send(ec_sock_t s, const void *buf, size_t len, int flags);

/* One recv. Returns the count received, 0 on an orderly close by the peer, or a
 * negative class. */
ptrdiff_t ec_recv(ec_sock_t s, void *buf, size_t len, int flags);

/* Waits until s is readable and/or writable (events: EC_READABLE | EC_WRITABLE), at
 * most timeout_ms (-1: no limit). An error or hang-up counts as readable and
 * writable. Returns the ready bits (> 0), 0 on timeout, or a negative class. Uses
 * poll on POSIX, so any descriptor number works, and select on Windows, where fd_set
 * is a list of handles (WSAPoll missed failed connects before Windows 10 2004). A
 * signal during the wait is retried for the rest of the timeout. */
int ec_wait(ec_sock_t s, int events, int timeout_ms);

/* Internal to lib (ec_accept is the public call): accept() on listener, the new
 * socket marked close-on-exec and blocking on POSIX. Returns 0 and sets *out (and the
 * peer address into sa/salen, which may be NULL), or a negative class. */
int ec__sock_accept(ec_sock_t listener, struct sockaddr *sa, socklen_t *salen, ec_sock_t *out);

/* Monotonic clock in nanoseconds, for deadlines and timelines. */
int64_t ec_now_ns(void);

/* Monotonic clock in milliseconds. */
int64_t ec_now_ms(void);

/* Sleeps ms milliseconds (used for gaps in write plans, never for synchronisation). */
void ec_sleep_ms(int ms);

#endif
