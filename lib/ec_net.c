/* ec_net.c - listen, connect and accept helpers, and the text form of addresses.
 *
 * getaddrinfo() resolves both IPv4 and IPv6 literals (and names), so one code path
 * serves "127.0.0.1" and "::1". The calls used here have the same shape in POSIX and
 * Winsock; what differs lives in ec_sock.c.
 */
#include "ec_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Formats the port as the service argument of getaddrinfo(). */
static void port_text(unsigned port, char *buf, size_t len)
{
    snprintf(buf, len, "%u", port);
}

int ec_listen(const char *bind_addr, unsigned port, int backlog, ec_sock_t *out, char *err,
              size_t errlen)
{
    char serv[16], why[160], where[EC_ADDRSTRLEN + 16];
    struct addrinfo hints, *res = NULL;
    const char *shown = bind_addr ? bind_addr : "*";
    int is_v6 = bind_addr && strchr(bind_addr, ':') != NULL;

    /* The address as the user would write it, for every message below. */
    snprintf(where, sizeof where, is_v6 ? "[%s]:%u" : "%s:%u", shown, port);
    if (port > 65535) {
        if (err)
            snprintf(err, errlen, "cannot listen on %s: port %u is out of range 0..65535", where,
                     port);
        return -EC_EINVAL;
    }
    port_text(port, serv, sizeof serv);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(bind_addr, serv, &hints, &res);
    if (gai != 0) {
        if (err)
            snprintf(err, errlen, "cannot listen on %s: cannot resolve the address: %s", where,
                     gai_strerror(gai));
        return -EC_EINVAL;
    }

    int rc = -EC_EOTHER;
    const char *step = "socket";
    int oscode = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        ec_sock_t s;
        step = "socket";
        rc = ec_sock_open(ai->ai_family, &s);
        if (rc < 0) {
            oscode = ec_sock_oserror();
            continue;
        }
        step = "setsockopt";
        rc = ec_sock_set_reuseaddr(s);
        if (rc == 0) {
            step = "bind";
            if (bind(s, ai->ai_addr, (socklen_t)ai->ai_addrlen) != 0)
                rc = ec_sock_error();
        }
        if (rc == 0) {
            step = "listen";
            if (listen(s, backlog) != 0)
                rc = ec_sock_error();
        }
        if (rc == 0) {
            freeaddrinfo(res);
            *out = s;
            return 0;
        }
        oscode = ec_sock_oserror();
        ec_sock_close(s);
    }
    freeaddrinfo(res);
    if (err)
        snprintf(err, errlen, "cannot listen on %s: %s: %s", where, step,
                 ec_os_strerror(oscode, why, sizeof why));
    return rc;
}

/* Connects one resolved address, bounded by deadline_ms (absolute ec_now_ms time, or
 * -1 for none). Returns 0 with a blocking socket in *out, or a negative class. */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, ec_sock_t *out)
{
    ec_sock_t s;
    int rc = ec_sock_open(ai->ai_family, &s);
    if (rc < 0)
        return rc;
    if (deadline_ms < 0) {
        if (connect(s, ai->ai_addr, (socklen_t)ai->ai_addrlen) != 0) {
            rc = ec_sock_error();
            ec_sock_close(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    /* A bounded connect: start it nonblocking, wait for writability, read SO_ERROR
     * (connect(2), EINPROGRESS), then give the caller a blocking socket back. */
    rc = ec_sock_set_nonblocking(s, 1);
    if (rc == 0 && connect(s, ai->ai_addr, (socklen_t)ai->ai_addrlen) != 0) {
        rc = ec_sock_error();
        if (rc == -EC_EWOULDBLOCK) {
            int64_t left = deadline_ms - ec_now_ms();
            int w = ec_wait(s, EC_WRITABLE, left > 0 ? (int)left : 0);
            if (w == 0)
                rc = -EC_ETIMEDOUT;
            else if (w < 0)
                rc = w;
            else
                rc = ec_sock_pending_error(s);
        }
    }
    if (rc == 0)
        rc = ec_sock_set_nonblocking(s, 0);
    if (rc < 0) {
        ec_sock_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ec_connect(const char *host, unsigned port, int timeout_ms, ec_sock_t *out)
{
    char serv[16];
    struct addrinfo hints, *res = NULL;
    if (port == 0 || port > 65535)
        return -EC_EINVAL;
    port_text(port, serv, sizeof serv);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if (getaddrinfo(host, serv, &hints, &res) != 0)
        return -EC_EINVAL;
    int64_t deadline = timeout_ms >= 0 ? ec_now_ms() + timeout_ms : -1;
    int rc = -EC_EOTHER;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, deadline, out);
        if (rc == 0 || rc == -EC_ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

int ec_sock_local_port(ec_sock_t s)
{
    struct sockaddr_storage ss;
    socklen_t len = (socklen_t)sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return ec_sock_error();
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EC_EINVAL;
}

const char *ec_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[64], serv[16];
    socklen_t salen;
    if (len == 0)
        return buf;
    if (sa->sa_family == AF_INET)
        salen = (socklen_t)sizeof(struct sockaddr_in);
    else if (sa->sa_family == AF_INET6)
        salen = (socklen_t)sizeof(struct sockaddr_in6);
    else {
        snprintf(buf, len, "?");
        return buf;
    }
    if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, len, "?");
        return buf;
    }
    if (sa->sa_family == AF_INET6)
        snprintf(buf, len, "[%s]:%s", host, serv);
    else
        snprintf(buf, len, "%s:%s", host, serv);
    return buf;
}

const char *ec_sock_local_name(ec_sock_t s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "?");
        return buf;
    }
    return ec_addr_format((struct sockaddr *)&ss, buf, len);
}

const char *ec_sock_peer_name(ec_sock_t s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)sizeof ss;
    if (getpeername(s, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "?");
        return buf;
    }
    return ec_addr_format((struct sockaddr *)&ss, buf, len);
}

int ec_parse_hostport(const char *text, char *host, size_t hostlen, unsigned *port, int allow_zero)
{
    const char *h, *colon;
    size_t hl;
    if (text == NULL || hostlen == 0)
        return -EC_EINVAL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return -EC_EINVAL;
        h = text + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strchr(text, ':');
        /* A second colon means an IPv6 literal without brackets: ambiguous. */
        if (colon == NULL || strchr(colon + 1, ':') != NULL)
            return -EC_EINVAL;
        h = text;
        hl = (size_t)(colon - text);
    }
    if (hl == 0 || hl >= hostlen)
        return -EC_EINVAL;
    const char *p = colon + 1;
    unsigned long v = 0;
    if (*p == '\0')
        return -EC_EINVAL;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -EC_EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return -EC_EINVAL;
    }
    if (v == 0 && !allow_zero)
        return -EC_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)v;
    return 0;
}

int ec_accept(ec_sock_t listener, ec_sock_t *out, char *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = (socklen_t)sizeof ss;
    int rc = ec__sock_accept(listener, (struct sockaddr *)&ss, &sl, out);
    if (rc < 0)
        return rc;
    if (peer != NULL)
        ec_addr_format((struct sockaddr *)&ss, peer, EC_ADDRSTRLEN);
    return 0;
}
