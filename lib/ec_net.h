/* ec_net.h - listen and connect helpers, and the text form of addresses.
 *
 * IPv4 and IPv6; port 0 asks the kernel for an ephemeral port, and the bound port is
 * reported back so that servers can announce it on their readiness line.
 */
#ifndef EC_NET_H
#define EC_NET_H

#include "ec_sock.h"

/* Longest "A:P" text, "[ffff:...:ffff%scope]:65535" included. */
#define EC_ADDRSTRLEN 80

/* Opens a listening TCP socket on bind_addr (IPv4 or IPv6 literal, or a name) and
 * port (0 = ephemeral), with SO_REUSEADDR and the given backlog. On success returns 0
 * and sets *out. On failure returns a negative class and writes a message naming the
 * address into err (if not NULL). */
int ec_listen(const char *bind_addr, unsigned port, int backlog, ec_sock_t *out, char *err,
              size_t errlen);

/* Connects to host:port (blocking, bounded by timeout_ms; -1 = no limit). Returns 0
 * and sets *out (a blocking socket), or a negative class (-EC_ECONNREFUSED,
 * -EC_ETIMEDOUT, ...). */
int ec_connect(const char *host, unsigned port, int timeout_ms, ec_sock_t *out);

/* The local port s is bound to, or a negative class. */
int ec_sock_local_port(ec_sock_t s);

/* Formats a socket address as "A:P" (IPv4) or "[A]:P" (IPv6) into buf; returns buf. */
const char *ec_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* The local ("A:P") address of s into buf; returns buf, or "?" on failure. */
const char *ec_sock_local_name(ec_sock_t s, char *buf, size_t len);

/* The peer ("A:P") address of s into buf; returns buf, or "?" on failure. */
const char *ec_sock_peer_name(ec_sock_t s, char *buf, size_t len);

/* Splits "host:port" or "[v6]:port" into host (buf of hostlen) and *port. Returns 0,
 * or -EC_EINVAL when the text is not of that form or the port is not 1..65535 (0 is
 * accepted only when allow_zero is set). */
int ec_parse_hostport(const char *text, char *host, size_t hostlen, unsigned *port, int allow_zero);

/* Accepts one connection from listener. Returns 0 and sets *out (and the peer text
 * into peer, EC_ADDRSTRLEN bytes, if not NULL), or a negative class; -EC_EMFILE when
 * the process is out of descriptors. The new socket is blocking on POSIX; on Windows
 * it inherits the listener's mode (Winsock semantics, notes 1.0 T9). */
int ec_accept(ec_sock_t listener, ec_sock_t *out, char *peer);

#endif
