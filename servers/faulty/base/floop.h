/* floop.h - what the base loops of the faulty gallery share inside servers/faulty/base:
 * the loop state and the client table of floop.c. Bug files include ec_faulty.h only.
 */
#ifndef EC_FLOOP_H
#define EC_FLOOP_H

#include "ec_faulty.h"

struct pollfd;

struct ec_floop {
    const struct ec_server_opts *o;
    const struct ec_bug *bug;
    ec_sock_t listener;
    struct ec_acceptor acc;  /* accept with a reserve descriptor for EMFILE */
    struct ec_fconn **conns; /* live clients (level loops: accept order) */
    size_t n, cap;
    int64_t listen_resume; /* out of descriptors: the listener rests until then (ms) */
    /* The loop's own parts. admit: its descriptor limit (NULL: none). watch: starts
     * watching a new client, 0 or -1 (then it is refused). pause: stops (1) or
     * resumes (0) watching the listener, where that is not decided every round. */
    const char *(*admit)(struct ec_floop *l, ec_sock_t s);
    int (*watch)(struct ec_floop *l, struct ec_fconn *c);
    void (*pause)(struct ec_floop *l, int paused);
    int ep;             /* epoll-et: the epoll descriptor */
    struct pollfd *pfd; /* poll: [0] listener, [1 + i] conns[i] */
    size_t pfd_cap;
};

/* Prepares l for listener (made nonblocking) with the loop's parts already set. */
void ec__floop_init(struct ec_floop *l, ec_sock_t listener, const struct ec_server_opts *o,
                    const struct ec_bug *bug);

/* Accepts the waiting clients (a burst of at most 64, so a connect storm cannot starve
 * the clients). Returns 1 when the server was asked to stop, else 0. */
int ec__floop_accept(struct ec_floop *l);

/* The peer ended c: on_eof decides between a graceful close and keeping c. */
void ec__floop_eof(struct ec_floop *l, struct ec_fconn *c);

/* Frees a closed record (its echo and itself). */
void ec__floop_free(struct ec_fconn *c);

/* Frees the closed records, keeping the others in order. */
void ec__floop_reap(struct ec_floop *l);

/* Closes every client (reason 0), frees the table and the acceptor's spare. */
void ec__floop_close_all(struct ec_floop *l);

#endif
