/* logline.c - the parser of the server log contract: the readiness line and the event
 * lines of lib/ec_log.h, matched word by word with no regex and no allocation.
 */
#include "logline.h"

#include <string.h>

#include "ec_net.h"

static const char *const kind_names[] = {"accept", "recv", "frame", "send", "close", "refuse"};

const char *ec_logline_kind_name(enum ec_logline_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

/* Parses "A:P" at text[0..len) into host and port (1..65535): A is a host name or an
 * IPv4 address, or an IPv6 literal in brackets (lib/ec_net.c writes peers so), made
 * of letters, digits and ".:%_-" only. Returns 0 or -1. */
static int parse_peer(const char *text, size_t len, char *host, size_t hostlen, unsigned *port)
{
    char tmp[EC_LOGLINE_HOSTLEN + 8];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    if (ec_parse_hostport(tmp, host, hostlen, port, 0) != 0)
        return -1;
    /* ec_parse_hostport takes whatever sits between the brackets: "[[]:5" gave the
     * host "[", which no server writes and no canonical form can carry (found by
     * fuzz-logline). */
    for (const char *h = host; *h; h++) {
        int ok = (*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
                 strchr(".:%_-", *h) != NULL;
        if (!ok)
            return -1;
    }
    /* Brackets exactly when the host is an IPv6 literal. */
    if ((tmp[0] == '[') != (strchr(host, ':') != NULL))
        return -1;
    return 0;
}

/* Parses the decimal digits text[0..len) into *out; -1 when empty, not all digits or
 * above 2^64 - 1. */
static int parse_u64(const char *text, size_t len, unsigned long long *out)
{
    unsigned long long v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (~0ULL - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A reason word: 1..EC_LOGLINE_WORDLEN-1 printable ASCII characters, no blank. */
static int parse_word(const char *text, size_t len, char *out)
{
    if (len == 0 || len >= EC_LOGLINE_WORDLEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] <= ' ' || text[i] > '~')
            return -1;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

int ec_logline_parse_ready(const char *line, char *host, size_t hostlen, unsigned *port)
{
    char h[EC_LOGLINE_HOSTLEN];
    unsigned p;
    if (line == NULL || strncmp(line, "listening ", 10) != 0)
        return -1;
    const char *a = line + 10;
    if (parse_peer(a, strlen(a), h, sizeof h, &p) != 0 || strlen(h) >= hostlen)
        return -1;
    memcpy(host, h, strlen(h) + 1);
    *port = p;
    return 0;
}

int ec_logline_parse(const char *line, struct ec_logline *ev)
{
    if (line == NULL)
        return -1;
    const char *sp = strchr(line, ' ');
    if (sp == NULL)
        return -1;
    size_t kl = (size_t)(sp - line);
    size_t k = 0;
    for (; k < sizeof kind_names / sizeof kind_names[0]; k++) {
        if (strlen(kind_names[k]) == kl && memcmp(line, kind_names[k], kl) == 0)
            break;
    }
    if (k == sizeof kind_names / sizeof kind_names[0])
        return -1;
    memset(ev, 0, sizeof *ev);
    ev->kind = (enum ec_logline_kind)k;
    const char *p = sp + 1;
    if (strncmp(p, "peer=", 5) != 0)
        return -1;
    p += 5;
    const char *end = strchr(p, ' ');
    size_t pl = end ? (size_t)(end - p) : strlen(p);
    if (parse_peer(p, pl, ev->host, sizeof ev->host, &ev->port) != 0)
        return -1;
    if (ev->kind == EC_LL_ACCEPT)
        return end == NULL ? 0 : -1;
    if (end == NULL)
        return -1;
    p = end + 1;
    if (ev->kind == EC_LL_CLOSE || ev->kind == EC_LL_REFUSE) {
        if (strncmp(p, "reason=", 7) != 0)
            return -1;
        return parse_word(p + 7, strlen(p + 7), ev->reason);
    }
    if (strncmp(p, "bytes=", 6) != 0)
        return -1;
    return parse_u64(p + 6, strlen(p + 6), &ev->bytes);
}
