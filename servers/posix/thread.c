/* thread.c - posix-thread: one thread per client (textbook 03-01 TCPThreadServer).
 *
 * API: the main thread blocks in accept() and starts a detached pthread for each
 * client; that thread blocks in recv(), then in send() until the whole echo has gone
 * (ec_echo_flush_all), and so on until the client leaves. No readiness is asked for:
 * the kernel parks each thread in its own blocking call.
 * Limits it exposes: a thread (stack, scheduler entry) per client; pthread_create
 * failing refuses the client (reason=no-threads), --max-clients caps the live count.
 * Textbook bugs fixed: the echo counted partial sends (03-01 ignored send's count) and
 * never wrote past buf (B1); an accept error no longer ends the process (B3), and
 * running out of descriptors refuses the waiting client (reserve-descriptor trick).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "ec_server.h"

const struct ec_model ec_model = {
    .id = "posix-thread",
    .summary =
        "One detached pthread per client doing blocking recv()/send() (textbook 03-01).\n"
        "Clients are served concurrently; the limit is one thread per client (refused as\n"
        "no-threads when pthread_create fails) and --max-clients.",
    .default_workers = 0,
};

#define ACCEPT_BACKOFF_MS 100  /* retry delay after an accept error the trick can't cure */
#define STOP_WAIT_MS      1500 /* waiting for client threads at stop: within server_main's 2 s */
#define THREAD_STACK      (256 * 1024) /* buffers live on the heap: a small stack suffices */

/* One client and its thread. Linked into the live list so that a stop can wake it. */
struct conn {
    ec_sock_t sock;
    struct ec_echo echo; /* the pending echo (buf, recvbytes, sendbytes) */
    struct conn *prev, *next;
};

/* The live clients: ec_serve() shuts their sockets down on stop and waits for the
 * threads to finish. A thread unlinks itself before closing its socket, so the main
 * thread never shuts down a descriptor number that was already reused. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t drained;
    struct conn *head;
    int live;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};

/* The thread: the textbook's ComThread loop, a blocking recv() and then send()
 * of everything it gave until the client leaves, then the close. The loop is
 * ec_echo_serve_blocking (ec_echo.h), shared with posix-iterative: what makes this
 * model is only that it runs in a thread of its own per client (03-01 vs 02-03). */
static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    int reason = ec_echo_serve_blocking(&c->echo, c->sock);

    pthread_mutex_lock(&g.lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&g.lock);

    /* A stop shuts the socket down under us; say so rather than "eof". */
    ec_log_close(c->echo.peer, ec_server_stopping() ? -EC_ECONNABORTED : reason);
    ec_sock_close(c->sock);
    ec_echo_free(&c->echo);
    free(c);

    pthread_mutex_lock(&g.lock);
    if (--g.live == 0)
        pthread_cond_broadcast(&g.drained);
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* Starts the thread of a freshly accepted client, or refuses the client. */
static void conn_start(ec_sock_t s, const char *peer, const struct ec_server_opts *o,
                       pthread_attr_t *attr)
{
    struct conn *c;
    pthread_t tid;

    pthread_mutex_lock(&g.lock);
    if (o->max_clients > 0 && g.live >= o->max_clients) {
        pthread_mutex_unlock(&g.lock);
        ec_refuse(s, peer, "max-clients");
        return;
    }
    pthread_mutex_unlock(&g.lock);

    c = calloc(1, sizeof *c);
    if (c == NULL || ec_echo_init(&c->echo, peer, &o->framing, o->bufsize) != 0) {
        free(c);
        ec_refuse(s, peer, "no-memory");
        return;
    }
    c->sock = s;
    ec_log_accept(peer);

    pthread_mutex_lock(&g.lock);
    if (pthread_create(&tid, attr, conn_thread, c) != 0) {
        pthread_mutex_unlock(&g.lock);
        ec_refuse(s, peer, "no-threads");
        ec_echo_free(&c->echo);
        free(c);
        return;
    }
    /* Linked under the lock taken before the thread runs, so it unlinks a linked node. */
    c->next = g.head;
    if (g.head)
        g.head->prev = c;
    g.head = c;
    g.live++;
    pthread_mutex_unlock(&g.lock);
}

/* Wakes every client thread (shutdown makes blocking recv return 0 and send fail) and
 * waits, bounded, until all of them have closed their sockets and freed their state. */
static void stop_clients(void)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)STOP_WAIT_MS * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&g.lock);
    for (struct conn *c = g.head; c != NULL; c = c->next)
        ec_sock_shutdown_both(c->sock);
    while (g.live > 0)
        if (pthread_cond_timedwait(&g.drained, &g.lock, &deadline) != 0)
            break;
    if (g.live > 0)
        ec_warn("%d client thread(s) still running at exit", g.live);
    pthread_mutex_unlock(&g.lock);
}

/* The model (contract: ec_server.h): the textbook's ListenThread loop, run by the
 * caller's thread; one detached thread per client. On stop, wakes and waits for every
 * client thread (bounded), then returns 0. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    pthread_attr_t attr;
    struct ec_acceptor acc; /* the reserve-descriptor answer to EMFILE */

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    ec_acceptor_init(&acc, listener);
    while (!ec_server_stopping()) {
        char peer[EC_ADDRSTRLEN];
        ec_sock_t s;
        /* Out of descriptors, a waiting client is refused (reserve descriptor); any
         * failure is waited out, bounded, so that the loop never spins. */
        if (ec_acceptor_accept_or_wait(&acc, &s, peer, ACCEPT_BACKOFF_MS) == 0)
            conn_start(s, peer, o, &attr);
    }
    stop_clients();
    ec_acceptor_close(&acc);
    pthread_attr_destroy(&attr);
    return 0;
}
