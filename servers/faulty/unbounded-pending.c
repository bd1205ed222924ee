/* unbounded-pending.c - faulty-unbounded-pending: a poll() server that keeps reading a
 * client whose echo it cannot send, so its pending-echo buffer grows without bound.
 *
 * Loop: ec_poll_loop (base/level.c), correct but for ONE bug, in its interest and serve
 * hooks:
 *   Bug: read_always() asks poll() for POLLIN on every client, and serve_eagerly() reads
 *     whenever POLLIN comes, echo pending or not (the lines marked BUG). Every read is
 *     appended to the pending echo (ec_echo_received grows the buffer to fit), so a
 *     client that sends and never reads makes the server hold all it sent: 100 such
 *     clients sending 1 MiB each cost 100 MiB of resident memory. Each client still
 *     gets every byte back in order, so no echo case catches it.
 *   A correct server: reads only when everything read before has been sent (the
 *     textbook's recvbytes == sendbytes, ec_echo_idle); while the echo waits, the
 *     client's bytes wait in kernel socket buffers, whose size the kernel bounds, and
 *     TCP's window stops the client.
 *   Diagnosis: unbounded-buffering in slow-reader-memory (resident memory grows by far
 *     more than the 8 MiB bound while 100 clients do not read).
 */
#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-unbounded-pending",
    .summary = "FAULTY on purpose (gallery of known bugs): poll() loop that reads clients\n"
               "whose echo is still pending: memory grows with every byte a client does not "
               "read back.",
    .default_workers = 0,
};

/* What c waits for: always its bytes, and room to send while echo is pending. */
static int read_always(const struct ec_fconn *c)
{
    int want = c->eof ? 0 : EC_READABLE; /* BUG: even while echo is pending */
    return ec_echo_idle(&c->echo) ? want : want | EC_WRITABLE;
}

/* One round for c: read what came (appended to the pending echo), then send. */
static int serve_eagerly(struct ec_floop *l, struct ec_fconn *c, int ready)
{
    if ((ready & EC_READABLE) && !c->eof)
        ec_floop_read(l, c); /* BUG: reads and appends without waiting for the echo */
    else if (!ec_echo_idle(&c->echo))
        ec_floop_flush(l, c);
    return 1;
}

/* The peer ended: close now if nothing is owed, else after the echo went out. */
static int close_when_idle(struct ec_fconn *c)
{
    return ec_echo_idle(&c->echo);
}

/* A flush sent everything: a client that had ended can go. */
static int close_after_eof(struct ec_fconn *c)
{
    return c->eof;
}

static const struct ec_bug bug = {.interest = read_always,
                                  .serve = serve_eagerly,
                                  .on_eof = close_when_idle,
                                  .on_sent = close_after_eof};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_poll_loop(listener, o, &bug);
}
