/* ec_echo.h - what a connection owes its peer: the pending-echo buffer.
 *
 * The textbook keeps SOCKETINFO{buf, recvbytes, sendbytes}: read only when everything
 * read before has been sent back. struct ec_echo is that record, plus framing: in a
 * framed mode, received bytes go through a decoder and only whole frames become
 * pending echo, one log line per frame. Every model, blocking or not, uses it, so the
 * echo semantics are identical across models and only the I/O loop differs.
 */
#ifndef EC_ECHO_H
#define EC_ECHO_H

#include <stddef.h>

#include "ec_framing.h"
#include "ec_net.h"

struct ec_echo {
    char peer[EC_ADDRSTRLEN];   /* "A:P", for log lines */
    const struct ec_framing *f; /* raw or framed */
    struct ec_decoder dec;      /* framed modes only */
    unsigned char *rbuf;        /* recv buffer, bufsize bytes (the textbook's buf); in raw
                                 * mode it is out itself: received in place */
    size_t bufsize;
    unsigned char *out; /* pending echo: out[sent..len) still to send */
    size_t cap, len, sent;
};

/* Prepares e for one connection: allocates the recv buffer (bufsize bytes) and the
 * pending buffer (room for bufsize bytes plus one whole frame). Returns 0 or
 * -EC_ENOMEM / -EC_EINVAL. */
int ec_echo_init(struct ec_echo *e, const char *peer, const struct ec_framing *f, size_t bufsize);

/* Releases e's buffers. */
void ec_echo_free(struct ec_echo *e);

/* True when nothing is waiting to be sent: the moment to read again (the textbook's
 * recvbytes == sendbytes). */
int ec_echo_idle(const struct ec_echo *e);

/* Takes n bytes just received into e->rbuf (or from data, if data is not NULL):
 * logs one "recv" line for the n bytes (every framing: the conformance engine paces
 * its write plans by these lines), then in a framed mode one "frame" line per whole
 * frame, and appends the echo to the pending buffer. Call only when ec_echo_idle(e).
 * Returns 0, or -EC_ETOOLONG when a frame exceeds the maximum (the connection should
 * be closed). */
int ec_echo_received(struct ec_echo *e, const void *data, size_t n);

/* As ec_echo_received, without the "recv" line: for a caller that logged its recv
 * itself and takes only part of it (a faulty model that drops bytes). */
int ec_echo_take(struct ec_echo *e, const void *data, size_t n);

/* One step for reading: one ec_recv into e->rbuf, and what came is taken as by
 * ec_echo_received. Call only when ec_echo_idle(e). Returns the count received (> 0),
 * 0 on the peer's FIN, -EC_EWOULDBLOCK or -EC_EINTR when there is nothing yet (try
 * again later), or another negative class: a socket error, or the framing's
 * (-EC_ETOOLONG, -EC_EINVAL) when the bytes cannot be echoed; then close. */
ptrdiff_t ec_echo_recv(struct ec_echo *e, ec_sock_t s);

/* The bytes still to send: *p and the count (0 when idle). */
size_t ec_echo_pending(const struct ec_echo *e, const unsigned char **p);

/* Records that n of the pending bytes went out (logs "send"); resets the buffer when
 * all has gone. */
void ec_echo_sent(struct ec_echo *e, size_t n);

/* One step for nonblocking sockets: sends what is pending with one ec_send. Returns
 * the count sent (>= 0; 0 if nothing was pending), -EC_EWOULDBLOCK if the socket is
 * full, or another negative class. */
ptrdiff_t ec_echo_flush(struct ec_echo *e, ec_sock_t s);

/* For edge-triggered and other "serve until EAGAIN" models on nonblocking sockets:
 * sends with one ec_send after another until nothing is pending or the socket is
 * full. Returns 0 when all has gone, -EC_EWOULDBLOCK when bytes remain and only a
 * writability notice can bring the next step, or another negative class. */
int ec_echo_flush_until_blocked(struct ec_echo *e, ec_sock_t s);

/* For blocking models: sends everything pending with ec_sendn and records it.
 * Returns 0 or a negative class. */
int ec_echo_flush_all(struct ec_echo *e, ec_sock_t s);

/* The blocking per-client loop of textbook 02-03 and 03-01: recv, echo all of it
 * back (ec_echo_flush_all), recv again, until the client leaves. Returns the close
 * reason for ec_log_close: 0 after the peer's FIN (every byte before it was echoed,
 * so a half-closed peer got all its echo), or a negative class (reset, a send error,
 * -EC_ETOOLONG for an oversized frame). e must be initialised for s; neither the log
 * of the close nor closing s is done here. */
int ec_echo_serve_blocking(struct ec_echo *e, ec_sock_t s);

#endif
