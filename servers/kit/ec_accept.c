/* ec_accept.c - the reserve-descriptor accept shared by the models that call accept.
 *
 * The spare is an unbound TCP socket rather than an open /dev/null, so the trick goes
 * through the socket shim alone and means the same on Windows (a SOCKET handle).
 */
#include "ec_accept.h"

#include "ec_log.h"

/* Takes the spare if it is missing. Returns 1 when it is held. */
static int take_spare(struct ec_acceptor *a)
{
    if (a->spare == EC_INVALID_SOCK && ec_sock_open(AF_INET, &a->spare) < 0 &&
        ec_sock_open(AF_INET6, &a->spare) < 0)
        a->spare = EC_INVALID_SOCK;
    return a->spare != EC_INVALID_SOCK;
}

void ec_acceptor_init(struct ec_acceptor *a, ec_sock_t listener)
{
    a->listener = listener;
    a->spare = EC_INVALID_SOCK;
    take_spare(a);
}

int ec_acceptor_accept(struct ec_acceptor *a, ec_sock_t *out, char *peer)
{
    char refused[EC_ADDRSTRLEN];
    ec_sock_t s;
    int r = ec_accept(a->listener, out, peer);

    if (r != -EC_EMFILE)
        return r;
    if (!take_spare(a))
        return -EC_EMFILE;
    /* EMFILE does not say that a client waits. Look before giving the spare up: with a
     * blocking listener, an accept with the spare freed would take the next client to
     * come, even one that arrives after descriptors are free again. */
    r = ec_wait(a->listener, EC_READABLE, 0);
    if (r <= 0)
        return r < 0 ? r : -EC_EWOULDBLOCK;
    ec_sock_close(a->spare);
    a->spare = EC_INVALID_SOCK;
    r = ec_accept(a->listener, &s, refused);
    if (r == 0) {
        ec_refuse(s, refused, "no-descriptors");
        r = -EC_ECONNABORTED;
    }
    if (!take_spare(a) || r == -EC_EMFILE)
        return -EC_EMFILE; /* a descriptor freed by now is taken by the next call */
    return r;
}

int ec_acceptor_accept_or_wait(struct ec_acceptor *a, ec_sock_t *out, char *peer, int backoff_ms)
{
    int r = ec_acceptor_accept(a, out, peer);

    if (r == 0 || r == -EC_EINVAL || r == -EC_EINTR || r == -EC_ECONNABORTED || r == -EC_ECONNRESET)
        return r;
    if (r == -EC_EWOULDBLOCK) {
        /* EMFILE with nobody waiting (or a nonblocking listener): a client that comes
         * now is accepted by the next call, once descriptors may be free again. */
        ec_wait(a->listener, EC_READABLE, backoff_ms);
        return r;
    }
    if (r != -EC_EMFILE)
        ec_warn("accept: %s; retrying in %d ms", ec_err_name(r), backoff_ms);
    ec_sleep_ms(backoff_ms); /* no spare to refuse with, or a cause we cannot cure */
    return r;
}

int ec_acceptor_release(struct ec_acceptor *a)
{
    return take_spare(a);
}

void ec_acceptor_close(struct ec_acceptor *a)
{
    if (a->spare != EC_INVALID_SOCK)
        ec_sock_close(a->spare);
    a->spare = EC_INVALID_SOCK;
}

void ec_refuse(ec_sock_t s, const char *peer, const char *why)
{
    ec_log_refuse(peer, why);
    ec_sock_close(s);
}
