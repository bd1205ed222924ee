/* fuzz_logline.c - libFuzzer target: the parser of the server log contract
 * (conformance/clientkit/logline.c): readiness lines and event lines, as the engine reads them
 * from a server's stdout.
 *
 * Oracle: whatever parses is within the contract (a port 1..65535, a host without
 * brackets that fits, a reason of printable non-blank characters), and the canonical
 * line written back from the parsed fields (as lib/ec_log.c writes it) parses to the
 * same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "logline.h"

/* "A:P", bracketing an IPv6 host as ec_addr_format does. */
static void format_peer(char *buf, size_t len, const char *host, unsigned port)
{
    if (strchr(host, ':') != NULL)
        snprintf(buf, len, "[%s]:%u", host, port);
    else
        snprintf(buf, len, "%s:%u", host, port);
}

static void check_event(const char *line)
{
    struct ec_logline ev, again;
    char peer[EC_LOGLINE_HOSTLEN + 16], canon[256];
    if (ec_logline_parse(line, &ev) != 0)
        return;
    EC_FUZZ_CHECK(ev.port >= 1 && ev.port <= 65535);
    EC_FUZZ_CHECK(ev.host[0] != '\0' && memchr(ev.host, '\0', sizeof ev.host) != NULL);
    format_peer(peer, sizeof peer, ev.host, ev.port);
    const char *kind = ec_logline_kind_name(ev.kind);
    EC_FUZZ_CHECK(strcmp(kind, "?") != 0);
    switch (ev.kind) {
    case EC_LL_ACCEPT:
        snprintf(canon, sizeof canon, "%s peer=%s", kind, peer);
        break;
    case EC_LL_CLOSE:
    case EC_LL_REFUSE:
        for (const char *r = ev.reason; *r; r++)
            EC_FUZZ_CHECK(*r > ' ' && *r <= '~');
        snprintf(canon, sizeof canon, "%s peer=%s reason=%s", kind, peer, ev.reason);
        break;
    default:
        snprintf(canon, sizeof canon, "%s peer=%s bytes=%llu", kind, peer, ev.bytes);
        break;
    }
    EC_FUZZ_CHECK(ec_logline_parse(canon, &again) == 0);
    EC_FUZZ_CHECK(again.kind == ev.kind && again.port == ev.port && again.bytes == ev.bytes);
    EC_FUZZ_CHECK(strcmp(again.host, ev.host) == 0 && strcmp(again.reason, ev.reason) == 0);
}

static void check_ready(const char *line)
{
    char host[EC_LOGLINE_HOSTLEN], host2[EC_LOGLINE_HOSTLEN], peer[EC_LOGLINE_HOSTLEN + 16],
        canon[128];
    unsigned port, port2;
    if (ec_logline_parse_ready(line, host, sizeof host, &port) != 0)
        return;
    EC_FUZZ_CHECK(port >= 1 && port <= 65535 && host[0] != '\0');
    format_peer(peer, sizeof peer, host, port);
    snprintf(canon, sizeof canon, "listening %s", peer);
    EC_FUZZ_CHECK(ec_logline_parse_ready(canon, host2, sizeof host2, &port2) == 0);
    EC_FUZZ_CHECK(port2 == port && strcmp(host, host2) == 0);
    /* A short host buffer is refused, never overrun. */
    char tiny[4];
    if (strlen(host) >= sizeof tiny)
        EC_FUZZ_CHECK(ec_logline_parse_ready(line, tiny, sizeof tiny, &port2) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = ec_fuzz_text(data, size);
    if (line == NULL)
        return 0;
    check_event(line);
    check_ready(line);
    free(line);
    return 0;
}
