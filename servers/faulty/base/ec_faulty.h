/* ec_faulty.h - the base loops of the faulty gallery and the hooks a bug plugs into.
 *
 * Each faulty server is a correct echo loop with exactly one bug. The loops are
 * written once, here and in the files beside this header:
 *   ec_poll_loop      level-triggered poll() rounds (level.c),
 *   ec_select_loop    the same rounds over select(), FD_SETSIZE enforced (level.c),
 *   ec_epoll_et_loop  edge-triggered epoll with "may read / may write" flags kept in
 *                     each record, one step per record per round (edge.c),
 * all on the shared client table and the kit's reserve-descriptor acceptor (floop.c). A
 * bug file is its header (Bug / A correct server / Diagnosis), its ec_model, the
 * hooks that hold the bug (the line marked BUG), and an ec_serve that names its loop:
 *   static const struct ec_bug bug = {.close = close_or_exit};
 *   int ec_serve(ec_sock_t l, const struct ec_server_opts *o)
 *   { return ec_poll_loop(l, o, &bug); }
 * A hook left NULL is the correct behaviour described next to it.
 */
#ifndef EC_FAULTY_H
#define EC_FAULTY_H

#include "ec_server.h"

/* A base loop's state; bugs reach it through the ec_floop_* functions below. */
struct ec_floop;

/* One client of a base loop. */
struct ec_fconn {
    ec_sock_t sock;
    struct ec_echo echo; /* pending echo: the textbook's buf, recvbytes, sendbytes */
    void *bug;           /* the bug's own per-client state (on_accept sets, close frees) */
    int ready;           /* level loops: what the last wait reported (EC_READABLE...) */
    int readable;        /* epoll-et: an EPOLLIN edge came, recv has not said would-block */
    int writable;        /* epoll-et: room to send since the last EPOLLOUT edge */
    int hangup;          /* epoll-et: on_rdhup asked to drop the client */
    int eof;             /* the peer's FIN was read and on_eof kept the connection */
    int closed;          /* closed; the loop frees the record at the end of the round */
};

/* The hooks, grouped by the moment they run. Every one is optional. */
struct ec_bug {
    /* Accept. admit: may a freshly accepted socket s be served? NULL or the refuse
     * reason (default: every socket; the select loop: s < FD_SETSIZE). It replaces
     * the loop's own check. on_accept: runs once c is set up (nonblocking, its echo
     * ready, watched by the loop), before "accept" is logged. watch_listener: level
     * loops ask the listener for clients this round when it returns 1 (default), and
     * ask it again before each further accept of the round's burst. */
    const char *(*admit)(struct ec_floop *l, ec_sock_t s);
    void (*on_accept)(struct ec_fconn *c);
    int (*watch_listener)(const struct ec_floop *l);

    /* Waiting. timeout_ms: how long a wait may block when the loop has nothing due
     * (default -1, forever). on_wake: runs after every wait, before any client is
     * served (timers: it may end clients with ec_floop_close). interest: level loops
     * wait for these events of c (default: EC_READABLE when nothing is pending and the
     * peer has not ended, else EC_WRITABLE while echo is pending; the read-XOR-write
     * rule). */
    int (*timeout_ms)(const struct ec_floop *l);
    void (*on_wake)(struct ec_floop *l);
    int (*interest)(const struct ec_fconn *c);

    /* Serving. serve: level loops call it for each client with events (ready); it
     * returns 1 to go on with the next client, 0 to end the scan (default: one
     * ec_floop_read when nothing is pending, else ec_floop_flush; returns 1). recv:
     * one read step; returns what ec_echo_recv returns (default: ec_echo_recv). send:
     * one send step; returns what ec_echo_flush returns (default: ec_echo_flush).
     * on_sent: after a flush left nothing pending (also one that found nothing to
     * send); 1 closes the connection gracefully (default 0). on_eof: recv said the
     * peer ended; 1 closes gracefully (default), 0 keeps the connection, reads no
     * more and still sends what is owed. on_rdhup: epoll-et saw EPOLLRDHUP; 1 drops
     * the client at once (default 0: the FIN is read like any byte). */
    int (*serve)(struct ec_floop *l, struct ec_fconn *c, int ready);
    ptrdiff_t (*recv)(struct ec_fconn *c);
    ptrdiff_t (*send)(struct ec_fconn *c);
    int (*on_sent)(struct ec_fconn *c);
    int (*on_eof)(struct ec_fconn *c);
    int (*on_rdhup)(struct ec_fconn *c);

    /* Closing. close: closes c's socket after "close" was logged with reason (0 =
     * eof, else a negative class) and frees c->bug (default: ec_sock_close). The loop
     * frees c and its echo afterwards. next_after_remove: epoll-et swap-removes a
     * closed record (the textbook's RemoveSocketInfo moves the last one into slot i)
     * and goes on with the slot this returns (default i: look at the moved record). */
    void (*close)(struct ec_fconn *c, int reason);
    size_t (*next_after_remove)(size_t i);
};

/* The base loops (contract of ec_serve, ec_server.h): serve echo on listener until
 * the server is asked to stop, with bug's hooks; return 0 after a stop, 1 when the
 * wait itself fails. Every client is closed (reason 0) before they return. */
int ec_poll_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug);
int ec_select_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug);
int ec_epoll_et_loop(ec_sock_t listener, const struct ec_server_opts *o, const struct ec_bug *bug);

/* Level loops: one read step for c as the loop takes it: the recv hook, then on EOF
 * on_eof, on an error a close, and after bytes a flush. Returns 1 when bytes were
 * taken, else 0 (nothing yet, or c was closed or ended). */
int ec_floop_read(struct ec_floop *l, struct ec_fconn *c);

/* Level loops: sends what c owes until done or the socket is full (send hook, then
 * on_sent); closes c on an error. */
void ec_floop_flush(struct ec_floop *l, struct ec_fconn *c);

/* Logs "close" with reason, closes c (close hook) and marks it for removal. */
void ec_floop_close(struct ec_floop *l, struct ec_fconn *c, int reason);

/* The live clients: how many, and the i-th in accept order (level loops) or slot
 * order (epoll-et). */
size_t ec_floop_count(const struct ec_floop *l);
struct ec_fconn *ec_floop_client(const struct ec_floop *l, size_t i);

/* The server options the loop runs with. */
const struct ec_server_opts *ec_floop_opts(const struct ec_floop *l);

#endif
