/* unit_sock.h - socket helpers shared by the unit tests: a connected loopback TCP pair,
 * a sender thread with a write plan, and waiting until the peer has read everything.
 */
#ifndef UNIT_SOCK_H
#define UNIT_SOCK_H

#include <pthread.h>
#include <sys/ioctl.h>

#include "ec_net.h"
#include "ec_test.h"
#include "ec_wire.h"

/* A connected TCP pair over 127.0.0.1: *client (connected) and *server (accepted). */
static inline void tcp_pair(ec_sock_t *client, ec_sock_t *server)
{
    ec_sock_t l;
    char err[200];
    ASSERT_EQ(ec_net_init(), 0);
    if (ec_listen("127.0.0.1", 0, 4, &l, err, sizeof err) != 0)
        FAIL("listen: %s", err);
    int port = ec_sock_local_port(l);
    ASSERT_GT(port, 0);
    ASSERT_EQ(ec_connect("127.0.0.1", (unsigned)port, ec_test_timeout_ms(2000), client), 0);
    ASSERT_EQ(ec_accept(l, server, NULL), 0);
    ASSERT_EQ(ec_sock_close(l), 0);
}

/* Waits (bounded) until the receiving socket rx has no unread bytes: the reader has
 * consumed a chunk, so the next one cannot be coalesced with it. Polls SIOCINQ
 * (FIONREAD) with 1 ms pauses: a condition check, not a blind sleep. */
static inline void wait_drained(ec_sock_t rx)
{
    int limit = ec_test_timeout_ms(2000);
    for (int waited = 0;; waited++) {
        int unread = 0;
        ASSERT_EQ(ioctl(rx, FIONREAD, &unread), 0);
        if (unread == 0)
            return;
        if (waited >= limit)
            FAIL("the reader left %d bytes unread for %d ms", unread, limit);
        ec_sleep_ms(1);
    }
}

/* A write plan for sender_main: chunks[i] bytes of data, one after another, each sent
 * only once the reader (rx) drained the previous one when drain is set. */
struct send_plan {
    ec_sock_t tx, rx;
    const unsigned char *data;
    const size_t *chunks;
    size_t nchunks;
    int drain;
    int close_after; /* 1: close tx in order at the end; 2: abort (RST) */
    pthread_t th;
};

static inline void *sender_main(void *arg)
{
    struct send_plan *p = arg;
    size_t off = 0;
    ec_sock_set_nodelay(p->tx, 1);
    for (size_t i = 0; i < p->nchunks; i++) {
        if (p->drain && i > 0)
            wait_drained(p->rx);
        ASSERT_EQ(ec_sendn(p->tx, p->data + off, p->chunks[i], ec_test_timeout_ms(2000), NULL),
                  (ptrdiff_t)p->chunks[i]);
        off += p->chunks[i];
    }
    if (p->close_after == 1)
        ec_sock_close(p->tx);
    else if (p->close_after == 2)
        ec_sock_abort(p->tx);
    return NULL;
}

static inline void plan_start(struct send_plan *p)
{
    ASSERT_EQ(pthread_create(&p->th, NULL, sender_main, p), 0);
}

static inline void plan_join(struct send_plan *p)
{
    ASSERT_EQ(pthread_join(p->th, NULL), 0);
}

#endif
