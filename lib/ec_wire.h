/* ec_wire.h - exact transfers over a stream socket: sendn, recvn, recv_until.
 *
 * The textbook's recvn (chapter 3) made exact: it tells an orderly close before n
 * bytes from an error, and every wait is bounded. All three work on blocking and
 * nonblocking sockets alike (a would-block is waited out with ec_wait).
 */
#ifndef EC_WIRE_H
#define EC_WIRE_H

#include "ec_sock.h"

/* Sends all n bytes of buf, retrying partial sends, EINTR and would-block, never
 * raising SIGPIPE. timeout_ms bounds the whole call (-1: no limit).
 * Returns n on success, or a negative class (-EC_ETIMEDOUT when the deadline
 * passed). If sent is not NULL it receives the bytes sent before an error. */
ptrdiff_t ec_sendn(ec_sock_t s, const void *buf, size_t n, int timeout_ms, size_t *sent);

/* Receives exactly n bytes into buf, retrying short reads, EINTR and would-block.
 * timeout_ms bounds the whole call (-1: no limit).
 * Returns n when all arrived; 0..n-1 when the peer closed in order first (the bytes
 * received before EOF); a negative class on error or timeout (-EC_ECONNRESET,
 * -EC_ETIMEDOUT, ...), distinct from EOF. If got is not NULL it receives the bytes
 * received in every case. n = 0 returns 0 at once without touching the socket. */
ptrdiff_t ec_recvn(ec_sock_t s, void *buf, size_t n, int timeout_ms, size_t *got);

/* Receives one record ending with delim (delim_len >= 1 bytes) into buf, of at most
 * max bytes including the delimiter. Bytes after the delimiter are left in the
 * socket (MSG_PEEK finds the end first), so records can be read one after another.
 * Returns the record length including the delimiter; 0..max when the peer closed
 * before a delimiter (the partial record is in buf); -EC_ETOOLONG when max bytes came
 * without a delimiter (buf holds them, nothing beyond max was read); another negative
 * class on error or timeout. got receives the bytes stored in buf in every case. */
ptrdiff_t ec_recv_until(ec_sock_t s, void *buf, size_t max, const void *delim, size_t delim_len,
                        int timeout_ms, size_t *got);

#endif
