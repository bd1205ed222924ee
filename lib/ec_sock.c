/* ec_sock.c - the portable socket shim: POSIX sockets and Winsock behind one API.
 *
 * The only file of echoconf with #ifdef _WIN32 around socket calls. errno and
 * WSAGetLastError() become portable error classes in exactly one function,
 * ec_err_from_os(); everything else returns counts or negated classes.
 */
#include "ec_sock.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <mswsock.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#endif

static const char *const err_names[EC_ERR_COUNT] = {
    "ok",     "would-block", "interrupted",    "reset",    "aborted", "refused",  "timed-out",
    "closed", "other",       "no-descriptors", "too-long", "invalid", "no-memory"};

int ec_net_init(void)
{
#ifdef _WIN32
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    return rc == 0 ? 0 : ec_err_from_os(rc);
#else
    /* A send to a peer that reset the connection raises SIGPIPE, whose default action
     * kills the process (POSIX send(), "EPIPE"). ec_send also passes MSG_NOSIGNAL, but
     * models and clients may call write() or sendmsg() themselves. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return ec_err_from_os(errno);
    return 0;
#endif
}

void ec_net_cleanup(void)
{
#ifdef _WIN32
    WSACleanup();
#endif
}

int ec_err_from_os(int oscode)
{
    switch (oscode) {
    case 0:
        return 0;
#ifdef _WIN32
    case WSAEWOULDBLOCK:
    case WSA_IO_PENDING:
        return -EC_EWOULDBLOCK;
    case WSAEINTR:
        return -EC_EINTR;
    case WSAECONNRESET:
    case WSAENETRESET:
    case ERROR_NETNAME_DELETED: /* what IOCP completions report for a reset peer */
        return -EC_ECONNRESET;
    case WSAECONNABORTED:
    case WSA_OPERATION_ABORTED:    /* an overlapped operation cancelled by closesocket */
    case ERROR_CONNECTION_ABORTED: /* the same as a completion's GetLastError() */
    case 676: /* ERROR_HANDLES_CLOSED: Wine 8.0's code for that cancel (notes W-ABORT) */
        return -EC_ECONNABORTED;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED: /* a ConnectEx completion */
        return -EC_ECONNREFUSED;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT: /* a completion that timed out in the stack */
        return -EC_ETIMEDOUT;
    case WSAENOTCONN:
    case WSAESHUTDOWN:
    case WSAENOTSOCK: /* the handle was closed under us (e.g. the listener at shutdown) */
        return -EC_ECLOSED;
    case WSAEMFILE:
        return -EC_EMFILE;
    case WSAEINVAL:
    case WSAEFAULT:
        return -EC_EINVAL;
    case WSAEMSGSIZE:
        return -EC_ETOOLONG;
    case WSAENOBUFS:
    case WSA_NOT_ENOUGH_MEMORY:
        return -EC_ENOMEM;
#else
    case EAGAIN:
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS: /* a nonblocking connect under way: wait for writability */
    case EALREADY:
        return -EC_EWOULDBLOCK;
    case EINTR:
        return -EC_EINTR;
    case ECONNRESET:
        return -EC_ECONNRESET;
    case ECONNABORTED:
        return -EC_ECONNABORTED;
    case ECONNREFUSED:
        return -EC_ECONNREFUSED;
    case ETIMEDOUT:
        return -EC_ETIMEDOUT;
    case EPIPE:
    case ENOTCONN:
#ifdef ESHUTDOWN
    case ESHUTDOWN:
#endif
        return -EC_ECLOSED;
    case EMFILE:
    case ENFILE:
        return -EC_EMFILE;
    case EINVAL:
    case EFAULT:
        return -EC_EINVAL;
    case EMSGSIZE:
        return -EC_ETOOLONG;
    case ENOMEM:
    case ENOBUFS:
        return -EC_ENOMEM;
#endif
    default:
        return -EC_EOTHER;
    }
}

int ec_sock_oserror(void)
{
#ifdef _WIN32
    return WSAGetLastError();
#else
    return errno;
#endif
}

int ec_sock_error(void)
{
    int code = ec_sock_oserror();
    /* A failed call always has a cause; a zero here means the caller asked without a
     * failure, which is a bug worth a visible class rather than success. */
    return code == 0 ? -EC_EOTHER : ec_err_from_os(code);
}

const char *ec_err_name(int err)
{
    if (err < 0)
        err = -err;
    if (err >= EC_ERR_COUNT)
        return "unknown";
    return err_names[err];
}

const char *ec_os_strerror(int oscode, char *buf, size_t len)
{
    char text[256];
    if (len == 0)
        return buf;
#ifdef _WIN32
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)oscode, 0, text, (DWORD)sizeof text, NULL);
    /* System messages end with ".\r\n"; the caller adds its own punctuation. */
    while (n > 0 &&
           (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' || text[n - 1] == '.'))
        n--;
    text[n] = '\0';
    if (n == 0)
        snprintf(text, sizeof text, "unknown error");
#else
    /* The XSI strerror_r (lib is built with _POSIX_C_SOURCE only) returns an int. */
    if (strerror_r(oscode, text, sizeof text) != 0)
        snprintf(text, sizeof text, "unknown error");
#endif
    snprintf(buf, len, "%s (%d)", text, oscode);
    return buf;
}

/* Marks a new descriptor close-on-exec so that servers started by the conformance
 * engine do not leak it into children (POSIX has no portable SOCK_CLOEXEC). */
static int set_cloexec(ec_sock_t s)
{
#ifdef _WIN32
    (void)s;
    return 0;
#else
    int fl = fcntl(s, F_GETFD);
    if (fl < 0 || fcntl(s, F_SETFD, fl | FD_CLOEXEC) < 0)
        return ec_sock_error();
    return 0;
#endif
}

int ec_sock_open(int family, ec_sock_t *out)
{
    ec_sock_t s = socket(family, SOCK_STREAM, IPPROTO_TCP);
    if (s == EC_INVALID_SOCK)
        return ec_sock_error();
    int rc = set_cloexec(s);
    if (rc < 0) {
        ec_sock_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Set once by ec_sock_accept_nodelay and ec_sock_accept_sndbuf before any thread
 * accepts, read afterwards. */
static int accept_nodelay;
static int accept_sndbuf;

static int set_int_opt(ec_sock_t s, int level, int name, int value);

void ec_sock_accept_nodelay(int on)
{
    accept_nodelay = on != 0;
}

void ec_sock_accept_sndbuf(int bytes)
{
    accept_sndbuf = bytes > 0 ? bytes : 0;
}

int ec__sock_accept(ec_sock_t listener, struct sockaddr *sa, socklen_t *salen, ec_sock_t *out)
{
    ec_sock_t s = accept(listener, sa, salen);
    if (s == EC_INVALID_SOCK)
        return ec_sock_error();
    int rc = set_cloexec(s);
    if (rc == 0 && accept_nodelay)
        rc = set_int_opt(s, IPPROTO_TCP, TCP_NODELAY, 1);
    if (rc == 0 && accept_sndbuf)
        rc = set_int_opt(s, SOL_SOCKET, SO_SNDBUF, accept_sndbuf);
    if (rc < 0) {
        ec_sock_close(s);
        return rc;
    }
#if !defined(_WIN32) && !defined(__linux__)
    /* BSDs let the accepted socket inherit O_NONBLOCK; Linux does not (accept(2),
     * NOTES). Our contract is a blocking socket on POSIX. */
    rc = ec_sock_set_nonblocking(s, 0);
    if (rc < 0) {
        ec_sock_close(s);
        return rc;
    }
#endif
    *out = s;
    return 0;
}

int ec_sock_close(ec_sock_t s)
{
#ifdef _WIN32
    if (closesocket(s) != 0)
        return ec_sock_error();
#else
    /* Linux closes the descriptor even when close() reports EINTR, so never retry. */
    if (close(s) != 0 && errno != EINTR)
        return ec_sock_error();
#endif
    return 0;
}

int ec_sock_abort(ec_sock_t s)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    int rc = 0;
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, (socklen_t)sizeof lg) != 0)
        rc = ec_sock_error();
    int rc2 = ec_sock_close(s);
    return rc < 0 ? rc : rc2;
}

int ec_sock_shutdown_wr(ec_sock_t s)
{
#ifdef _WIN32
    int rc = shutdown(s, SD_SEND);
#else
    int rc = shutdown(s, SHUT_WR);
#endif
    return rc == 0 ? 0 : ec_sock_error();
}

int ec_sock_shutdown_both(ec_sock_t s)
{
#ifdef _WIN32
    int rc = shutdown(s, SD_BOTH);
#else
    int rc = shutdown(s, SHUT_RDWR);
#endif
    return rc == 0 ? 0 : ec_sock_error();
}

int ec_sock_set_nonblocking(ec_sock_t s, int on)
{
#ifdef _WIN32
    u_long mode = on ? 1u : 0u;
    if (ioctlsocket(s, (long)FIONBIO, &mode) != 0)
        return ec_sock_error();
#else
    int fl = fcntl(s, F_GETFL);
    if (fl < 0)
        return ec_sock_error();
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(s, F_SETFL, want) < 0)
        return ec_sock_error();
#endif
    return 0;
}

static int set_int_opt(ec_sock_t s, int level, int name, int value)
{
    if (setsockopt(s, level, name, (const char *)&value, (socklen_t)sizeof value) != 0)
        return ec_sock_error();
    return 0;
}

int ec_sock_set_nodelay(ec_sock_t s, int on)
{
    return set_int_opt(s, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

int ec_sock_set_cork(ec_sock_t s, int on)
{
#ifdef TCP_CORK
    return set_int_opt(s, IPPROTO_TCP, TCP_CORK, on ? 1 : 0);
#else
    (void)s;
    (void)on;
    return -EC_EINVAL;
#endif
}

int ec_sock_set_bufsizes(ec_sock_t s, int rcvbuf, int sndbuf)
{
    int rc = 0;
    if (rcvbuf > 0)
        rc = set_int_opt(s, SOL_SOCKET, SO_RCVBUF, rcvbuf);
    if (rc == 0 && sndbuf > 0)
        rc = set_int_opt(s, SOL_SOCKET, SO_SNDBUF, sndbuf);
    return rc;
}

int ec_sock_set_reuseaddr(ec_sock_t s)
{
#ifdef _WIN32
    /* On Windows SO_REUSEADDR lets a second socket bind a port that is in use, and
     * TIME_WAIT never blocks a listener's bind anyway; SO_EXCLUSIVEADDRUSE is the
     * recommended option for servers (Microsoft Learn, "Using SO_REUSEADDR and
     * SO_EXCLUSIVEADDRUSE"). */
    return set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
#else
    /* Lets a restarted server bind its port while old connections sit in TIME_WAIT. */
    return set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1);
#endif
}

int ec_sock_pending_error(ec_sock_t s)
{
    int value = 0;
    socklen_t len = (socklen_t)sizeof value;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&value, &len) != 0)
        return ec_sock_error();
    return ec_err_from_os(value);
}

#ifdef _WIN32
/* Winsock has no MSG_DONTWAIT: a zero-timeout select tells whether the call would
 * block. Returns 1 when ready, 0 when it would block, or a negative class. */
static int win_ready(ec_sock_t s, int events)
{
    int r = ec_wait(s, events, 0);
    return r < 0 ? r : (r != 0);
}

/* Winsock takes int lengths; a longer request is simply a short transfer. */
static int win_len(size_t len)
{
    return len > (size_t)INT_MAX ? INT_MAX : (int)len;
}
#endif

ptrdiff_t ec_send(ec_sock_t s, const void *buf, size_t len, int flags)
{
#ifdef _WIN32
    if (flags & EC_MSG_DONTWAIT) {
        int ready = win_ready(s, EC_WRITABLE);
        if (ready <= 0)
            return ready < 0 ? ready : -EC_EWOULDBLOCK;
    }
    int r = send(s, (const char *)buf, win_len(len), 0);
    if (r == SOCKET_ERROR)
        return ec_sock_error();
    return (ptrdiff_t)r;
#else
    int osflags = 0;
#ifdef MSG_NOSIGNAL
    /* A send to a reset peer must not raise SIGPIPE (send(2), MSG_NOSIGNAL). */
    osflags |= MSG_NOSIGNAL;
#endif
#ifdef MSG_MORE
    if (flags & EC_MSG_MORE)
        osflags |= MSG_MORE;
#endif
#ifdef MSG_DONTWAIT
    if (flags & EC_MSG_DONTWAIT)
        osflags |= MSG_DONTWAIT;
#endif
    ssize_t r = send(s, buf, len, osflags);
    if (r < 0)
        return ec_sock_error();
    return (ptrdiff_t)r;
#endif
}

ptrdiff_t ec_recv(ec_sock_t s, void *buf, size_t len, int flags)
{
#ifdef _WIN32
    if (flags & EC_MSG_DONTWAIT) {
        int ready = win_ready(s, EC_READABLE);
        if (ready <= 0)
            return ready < 0 ? ready : -EC_EWOULDBLOCK;
    }
    int r = recv(s, (char *)buf, win_len(len), (flags & EC_MSG_PEEK) ? MSG_PEEK : 0);
    if (r == SOCKET_ERROR)
        return ec_sock_error();
    return (ptrdiff_t)r;
#else
    int osflags = (flags & EC_MSG_PEEK) ? MSG_PEEK : 0;
#ifdef MSG_DONTWAIT
    if (flags & EC_MSG_DONTWAIT)
        osflags |= MSG_DONTWAIT;
#endif
    ssize_t r = recv(s, buf, len, osflags);
    if (r < 0)
        return ec_sock_error();
    return (ptrdiff_t)r;
#endif
}

int ec_wait(ec_sock_t s, int events, int timeout_ms)
{
#ifdef _WIN32
    /* select rather than WSAPoll: WSAPoll did not report a failed nonblocking connect
     * before Windows 10 2004 (Microsoft Learn, WSAPoll remarks), and Winsock's fd_set
     * is a list of handles, so any SOCKET value fits. One socket, one call. */
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    if (events & EC_READABLE)
        FD_SET(s, &rd);
    if (events & EC_WRITABLE)
        FD_SET(s, &wr);
    FD_SET(s, &ex);
    struct timeval tv, *tvp = NULL;
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    int r = select(0, &rd, &wr, &ex, tvp);
    if (r == SOCKET_ERROR)
        return ec_sock_error();
    if (r == 0)
        return 0;
    int ready = 0;
    if (FD_ISSET(s, &rd))
        ready |= EC_READABLE;
    if (FD_ISSET(s, &wr))
        ready |= EC_WRITABLE;
    if (FD_ISSET(s, &ex))
        ready |= EC_READABLE | EC_WRITABLE;
    return ready;
#else
    struct pollfd pfd;
    pfd.fd = s;
    pfd.events =
        (short)(((events & EC_READABLE) ? POLLIN : 0) | ((events & EC_WRITABLE) ? POLLOUT : 0));
    int64_t deadline = timeout_ms >= 0 ? ec_now_ms() + timeout_ms : 0;
    for (;;) {
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - ec_now_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        pfd.revents = 0;
        int r = poll(&pfd, 1, wait_ms);
        if (r < 0) {
            /* A signal handler ran: wait again for what is left of the deadline. */
            if (errno == EINTR)
                continue;
            return ec_sock_error();
        }
        if (r == 0)
            return 0;
        if (pfd.revents & POLLNVAL)
            return -EC_ECLOSED;
        int ready = 0;
        if (pfd.revents & POLLIN)
            ready |= EC_READABLE;
        if (pfd.revents & POLLOUT)
            ready |= EC_WRITABLE;
        if (pfd.revents & (POLLERR | POLLHUP))
            ready |= EC_READABLE | EC_WRITABLE;
        return ready;
    }
#endif
}

int64_t ec_now_ns(void)
{
#ifdef _WIN32
    LARGE_INTEGER freq, now;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    /* Split the division so that the multiplication cannot overflow. */
    int64_t sec = now.QuadPart / freq.QuadPart;
    int64_t rem = now.QuadPart % freq.QuadPart;
    return sec * 1000000000 + rem * 1000000000 / freq.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
#endif
}

int64_t ec_now_ms(void)
{
    return ec_now_ns() / 1000000;
}

void ec_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec req, rem;
    req.tv_sec = ms / 1000;
    req.tv_nsec = (long)(ms % 1000) * 1000000L;
    /* nanosleep reports the time left when a signal interrupts it; sleep the rest. */
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
#endif
}
