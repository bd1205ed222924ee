/* logline.h - the parser of the server log contract (lib/ec_log.h): the readiness line
 * "listening A:P" and the event lines (accept, recv, frame, send, close, refuse) that
 * the engine reads back from the server it started. One parser for the launcher, the
 * engine and the clients; fuzzed by fuzz/fuzz_logline.c.
 */
#ifndef EC_LOGLINE_H
#define EC_LOGLINE_H

#include <stddef.h>

#define EC_LOGLINE_HOSTLEN 64 /* an address without the port, brackets removed */
#define EC_LOGLINE_WORDLEN 48 /* a close or refuse reason */

enum ec_logline_kind {
    EC_LL_ACCEPT, /* accept peer=A:P */
    EC_LL_RECV,   /* recv peer=A:P bytes=N (raw mode) */
    EC_LL_FRAME,  /* frame peer=A:P bytes=N (framed mode; N is the wire length) */
    EC_LL_SEND,   /* send peer=A:P bytes=N */
    EC_LL_CLOSE,  /* close peer=A:P reason=eof|reset|error:<class> */
    EC_LL_REFUSE  /* refuse peer=A:P reason=<word> */
};

/* One event line, parsed. */
struct ec_logline {
    enum ec_logline_kind kind;
    char host[EC_LOGLINE_HOSTLEN];   /* the peer's address */
    unsigned port;                   /* the peer's port, 1..65535 */
    unsigned long long bytes;        /* RECV, FRAME, SEND: N (0..2^64-1) */
    char reason[EC_LOGLINE_WORDLEN]; /* CLOSE, REFUSE: the word after reason= */
};

/* Parses the readiness line "listening A:P" (A an IPv4 address, a host name or a
 * bracketed IPv6 literal; P 1..65535; nothing after). Fills host (hostlen bytes) and
 * *port. Returns 0, or -1 for any other line (host and port untouched). Never
 * allocates. */
int ec_logline_parse_ready(const char *line, char *host, size_t hostlen, unsigned *port);

/* Parses one event line of the log contract exactly (single spaces, no trailing
 * text, decimal N without sign or leading '+', a reason of printable characters
 * without blanks). Returns 0 and fills *ev, or -1 for a line that is not one of the
 * events (a server's other output; *ev is then unspecified). Never allocates. */
int ec_logline_parse(const char *line, struct ec_logline *ev);

/* The word of an event kind ("recv"). */
const char *ec_logline_kind_name(enum ec_logline_kind k);

#endif
