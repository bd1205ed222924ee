/* ec_accept.h - accepting clients when the process may run out of descriptors.
 *
 * A listener with a client waiting stays readable; when accept fails with EMFILE the
 * client stays in the backlog, so a readiness loop spins and a blocking loop never
 * answers it (notes B3). The classic cure is a reserve descriptor: hold a spare, and
 * on EMFILE close it, accept the waiting client, refuse it, take the spare back.
 * struct ec_acceptor is that trick, written once for every model that calls accept
 * itself (the completion models post their accepts and keep their own).
 */
#ifndef EC_ACCEPT_H
#define EC_ACCEPT_H

#include "ec_net.h"
#include "ec_sock.h"

struct ec_acceptor {
    ec_sock_t listener;
    ec_sock_t spare; /* the reserve: an unbound TCP socket, EC_INVALID_SOCK when lost */
};

/* Prepares a for listener (blocking or not) and takes the spare. A spare that cannot
 * be had now is taken later, by ec_acceptor_accept or ec_acceptor_release. */
void ec_acceptor_init(struct ec_acceptor *a, ec_sock_t listener);

/* Accepts one client. Returns
 *   0                 a client: *out is set and its "A:P" is in peer (EC_ADDRSTRLEN
 *                     bytes, may be NULL);
 *   -EC_EWOULDBLOCK   nobody is waiting (also after an EMFILE that found the backlog
 *                     empty: Linux reserves the descriptor before it looks at the
 *                     queue, __sys_accept4 in net/socket.c);
 *   -EC_ECONNABORTED  out of descriptors: one waiting client was refused
 *                     ("refuse ... reason=no-descriptors") and the spare is back, so
 *                     go on accepting as after any aborted connection;
 *   -EC_EMFILE        out of descriptors and no spare to refuse with: stop accepting
 *                     until a descriptor is freed and ec_acceptor_release returns 1;
 *   another class     as ec_accept (-EC_EINVAL: the listener was shut down).
 * With a blocking listener the spare is given up only while a client is already
 * waiting, so a client that comes once descriptors are free again is never refused.
 * Not thread-safe: one thread accepts at a time, and a model whose other threads
 * close descriptors serialises ec_acceptor_accept with ec_acceptor_release. */
int ec_acceptor_accept(struct ec_acceptor *a, ec_sock_t *out, char *peer);

/* ec_acceptor_accept for a blocking accept loop (posix-iterative, posix-thread) that
 * checks its stop flag between calls: returns 0 with a client as ec_acceptor_accept
 * does, or, when none could be had, first waits so that the loop cannot spin, then
 * returns the class: up to backoff_ms for a client to come (out of descriptors with
 * nobody waiting), backoff_ms when there is no spare (-EC_EMFILE) or after another
 * error (which is also reported with ec_warn, unless it is an aborted, reset or
 * interrupted accept). -EC_EINVAL (the listener was shut down, as a stop does)
 * returns at once. */
int ec_acceptor_accept_or_wait(struct ec_acceptor *a, ec_sock_t *out, char *peer, int backoff_ms);

/* Call after closing a descriptor: takes the spare back if it was lost. Returns 1 when
 * the spare is held (a paused accept loop may resume), else 0. */
int ec_acceptor_release(struct ec_acceptor *a);

/* Closes the spare. The listener stays the caller's. */
void ec_acceptor_close(struct ec_acceptor *a);

/* Refuses an accepted client: logs "refuse peer=<peer> reason=<why>" and closes s. */
void ec_refuse(ec_sock_t s, const char *peer, const char *why);

#endif
