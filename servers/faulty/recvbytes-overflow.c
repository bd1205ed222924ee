/* recvbytes-overflow.c - faulty-recvbytes-overflow: the textbook's buf[retval] = '\0'
 * one byte past a 1000-byte record buffer.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its recv hook. The
 * bug depends on struct layout and on the build: the record below is this file's own
 * (allocated per client by the on_accept hook), and servers/faulty/CMakeLists.txt
 * builds this server at -O0, because with optimisation GCC may keep recvbytes in a
 * register and the corruption never shows.
 *   Bug: recv_into_record() receives into the record's buf[RECORD_BUFSIZE] (1000
 *     bytes, at most --bufsize), sets recvbytes, then writes the textbook's string
 *     terminator buf[retval] = '\\0' (the line marked BUG). After a full recv of 1000
 *     bytes that byte lands one past the array, in the low byte of recvbytes, which
 *     follows buf directly: 1000 = 0x3E8 becomes 0x300 = 768, and only 768 of the 1000
 *     bytes are echoed (notes B1, measured with the same layout under MinGW). With a
 *     buffer of 1024 the low byte is already 0 and the bug hides, which is why this
 *     record uses 1000.
 *   A correct server: declares buf[BUFSIZE + 1] (room for the terminator), or does not
 *     terminate at all since it never prints the data.
 *   Diagnosis: echo-mismatch (the echo jumps 232 bytes ahead at offset 768) in every
 *     case where one recv returns 1000 bytes (large-64k, large-1m, bufsize-exact, see
 *     the profile). The record buffer caps --bufsize at 1000.
 */
#include <stdlib.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-recvbytes-overflow",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop with the textbook\n"
               "SOCKETINFO{buf[1000], recvbytes}: buf[retval] = 0 after a full recv truncates "
               "its echo.",
    .default_workers = 0,
};

/* The record's buffer: a multiple of 4 (so recvbytes follows it with no padding) but
 * not of 256 (so the stray terminator changes recvbytes: notes B1). */
#define RECORD_BUFSIZE 1000

/* The textbook's SOCKETINFO{buf, recvbytes}; the pending echo (sendbytes) stays in
 * c->echo: what recvbytes said was received. */
struct record {
    char buf[RECORD_BUFSIZE];
    int recvbytes;
};

static void new_record(struct ec_fconn *c)
{
    c->bug = calloc(1, sizeof(struct record));
}

static void close_record(struct ec_fconn *c, int reason)
{
    (void)reason;
    free(c->bug);
    ec_sock_close(c->sock);
}

/* One recv into the record, then its recvbytes bytes become pending echo. Its one
 * bug is undefined behaviour on purpose, so a sanitizer build (the asan preset makes
 * every report fatal) leaves this function's bounds unchecked: the server must show
 * the textbook's overflow as the gallery declares it, not die of the check. */
#if defined(__GNUC__)
__attribute__((no_sanitize("bounds")))
#endif
static ptrdiff_t recv_into_record(struct ec_fconn *c)
{
    struct record *rec = c->bug;
    if (!rec)
        return -EC_ENOMEM;
    size_t want = c->echo.bufsize < RECORD_BUFSIZE ? c->echo.bufsize : RECORD_BUFSIZE;
    ptrdiff_t n = ec_recv(c->sock, rec->buf, want, 0);
    if (n <= 0)
        return n;
    rec->recvbytes = (int)n;
    rec->buf[n] = '\0'; /* BUG: the textbook's terminator; one past buf when n == 1000 */
    ec_log_recv(c->echo.peer, (size_t)n, 0); /* what the recv returned, as every model logs */
    int r = ec_echo_take(&c->echo, rec->buf, (size_t)rec->recvbytes);
    return r < 0 ? r : n;
}

static const struct ec_bug bug = {
    .on_accept = new_record, .recv = recv_into_record, .close = close_record};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
