/* ec_wire.c - sendn, recvn and recv_until: exact transfers with one deadline.
 *
 * In the manner of redis' syncio.c: try the I/O first (without blocking when a
 * deadline applies), and wait with ec_wait only when it would block, so a blocking and
 * a nonblocking socket behave the same and no call outlives its deadline.
 */
#include "ec_wire.h"

#include <string.h>

/* Absolute deadline in ec_now_ms() time for a relative timeout, or -1 for none. */
static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms >= 0 ? ec_now_ms() + timeout_ms : -1;
}

/* Waits for events on s until the deadline. Returns 0 when ready (including an error
 * or hang-up, which the next I/O call reports), -EC_ETIMEDOUT when the deadline
 * passed, or another negative class. */
static int wait_until(ec_sock_t s, int events, int64_t deadline)
{
    int wait_ms = -1;
    if (deadline >= 0) {
        int64_t left = deadline - ec_now_ms();
        if (left <= 0)
            return -EC_ETIMEDOUT;
        wait_ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    int w = ec_wait(s, events, wait_ms);
    if (w == 0)
        return -EC_ETIMEDOUT;
    return w < 0 ? w : 0;
}

ptrdiff_t ec_sendn(ec_sock_t s, const void *buf, size_t n, int timeout_ms, size_t *sent)
{
    const unsigned char *p = buf;
    int64_t deadline = deadline_after(timeout_ms);
    int flags = timeout_ms >= 0 ? EC_MSG_DONTWAIT : 0;
    size_t done = 0;
    ptrdiff_t rc = 0;
    while (done < n) {
        ptrdiff_t r = ec_send(s, p + done, n - done, flags);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == -EC_EINTR) {
            continue;
        } else if (r == 0 || r == -EC_EWOULDBLOCK) {
            int w = wait_until(s, EC_WRITABLE, deadline);
            if (w < 0) {
                rc = w;
                break;
            }
        } else {
            rc = r;
            break;
        }
    }
    if (sent != NULL)
        *sent = done;
    return rc < 0 ? rc : (ptrdiff_t)n;
}

ptrdiff_t ec_recvn(ec_sock_t s, void *buf, size_t n, int timeout_ms, size_t *got)
{
    unsigned char *p = buf;
    int64_t deadline = deadline_after(timeout_ms);
    int flags = timeout_ms >= 0 ? EC_MSG_DONTWAIT : 0;
    size_t done = 0;
    ptrdiff_t rc = 0;
    int eof = 0;
    while (done < n) {
        ptrdiff_t r = ec_recv(s, p + done, n - done, flags);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            eof = 1;
            break;
        } else if (r == -EC_EINTR) {
            continue;
        } else if (r == -EC_EWOULDBLOCK) {
            int w = wait_until(s, EC_READABLE, deadline);
            if (w < 0) {
                rc = w;
                break;
            }
        } else {
            rc = r;
            break;
        }
    }
    if (got != NULL)
        *got = done;
    if (rc < 0)
        return rc;
    return eof ? (ptrdiff_t)done : (ptrdiff_t)n;
}

/* The offset of the first occurrence of delim in hay[from..len), or len if none. */
static size_t find_delim(const unsigned char *hay, size_t from, size_t len,
                         const unsigned char *delim, size_t dlen)
{
    for (size_t i = from; i + dlen <= len; i++) {
        if (hay[i] == delim[0] && memcmp(hay + i, delim, dlen) == 0)
            return i;
    }
    return len;
}

ptrdiff_t ec_recv_until(ec_sock_t s, void *buf, size_t max, const void *delim, size_t delim_len,
                        int timeout_ms, size_t *got)
{
    unsigned char *p = buf;
    const unsigned char *d = delim;
    int64_t deadline = deadline_after(timeout_ms);
    int flags = timeout_ms >= 0 ? EC_MSG_DONTWAIT : 0;
    size_t done = 0;
    ptrdiff_t rc = 0;

    if (got != NULL)
        *got = 0;
    if (delim_len == 0 || delim == NULL)
        return -EC_EINVAL;
    for (;;) {
        if (done == max) {
            rc = -EC_ETOOLONG;
            break;
        }
        /* Peek at what has arrived, so that bytes after the delimiter stay in the
         * socket for the next record. */
        ptrdiff_t r = ec_recv(s, p + done, max - done, flags | EC_MSG_PEEK);
        if (r == 0) {
            rc = (ptrdiff_t)done; /* EOF before a delimiter: the partial record */
            break;
        }
        if (r == -EC_EINTR)
            continue;
        if (r == -EC_EWOULDBLOCK) {
            int w = wait_until(s, EC_READABLE, deadline);
            if (w < 0) {
                rc = w;
                break;
            }
            continue;
        }
        if (r < 0) {
            rc = r;
            break;
        }
        /* Search the peeked bytes, starting delim_len - 1 bytes back so that a
         * delimiter split between earlier chunks and this one is found. */
        size_t avail = done + (size_t)r;
        size_t from = done >= delim_len - 1 ? done - (delim_len - 1) : 0;
        size_t at = find_delim(p, from, avail, d, delim_len);
        /* Consume up to the end of the delimiter, or, when it has not come yet,
         * everything peeked: none of it lies past a delimiter that ends later. */
        size_t take = (at < avail ? at + delim_len : avail) - done;
        size_t taken = 0;
        ptrdiff_t c = ec_recvn(s, p + done, take, -1, &taken);
        done += taken;
        if (c < 0) {
            rc = c;
            break;
        }
        if ((size_t)c < take) {
            /* Peeked bytes stay queued, so this means only an EOF: report it. */
            rc = (ptrdiff_t)done;
            break;
        }
        if (at < avail) {
            rc = (ptrdiff_t)done;
            break;
        }
    }
    if (got != NULL)
        *got = done;
    return rc;
}
