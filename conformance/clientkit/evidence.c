/* evidence.c - a connection's own history read for causes (evidence.h): a reorder or
 * a repeat of its bytes in the echo, and an end the server sent after a silence, with
 * the kernel's timestamps kept by steps.c (struct ec_conn_end).
 */
#include "evidence.h"

#include <stdio.h>
#include <string.h>

/* A probe of this many received bytes locates a span in a sent stream; at least
 * MIN_PROBE bytes must have arrived (8 seeded bytes repeat by chance with odds 2^-64). */
#define PROBE     32
#define MIN_PROBE 8
/* How far back a repeated span is looked for. */
#define LOOKBACK (4u << 20)

static size_t common_prefix(const unsigned char *a, const unsigned char *b, size_t max)
{
    size_t n = 0;
    while (n < max && a[n] == b[n])
        n++;
    return n;
}

/* The offset in hay of the first occurrence of the n bytes at p, or -1. */
static long long find(const unsigned char *hay, size_t hay_len, const unsigned char *p, size_t n)
{
    if (!hay || n == 0 || hay_len < n)
        return -1;
    const unsigned char *at = memmem(hay, hay_len, p, n);
    return at ? (long long)(at - hay) : -1;
}

/* Where the bytes at p (up to `rest` of them) first occur in hay, with the longest
 * probe (PROBE, halved down to 1 byte) that occurs at all: swapped spans may be short. */
static long long locate(const unsigned char *hay, size_t hay_len, const unsigned char *p,
                        size_t rest)
{
    for (size_t n = rest < PROBE ? rest : PROBE; n > 0; n /= 2) {
        long long at = find(hay, hay_len, p, n);
        if (at >= 0)
            return at;
    }
    return -1;
}

int ec_evidence_reordered(const struct ec_conn *c, size_t d, size_t end, char *ev, size_t evlen)
{
    if (end > c->recvd_len || end > c->sent_len || d + 1 >= end)
        return 0;
    size_t hs[256] = {0}, hr[256] = {0};
    for (size_t i = d; i < end; i++) {
        hs[c->sent[i]]++;
        hr[c->recvd[i]]++;
    }
    if (memcmp(hs, hr, sizeof hs) != 0)
        return 0;
    size_t rest = end - d;
    long long from = locate(c->sent + d + 1, rest - 1, c->recvd + d, rest);
    long long to = locate(c->recvd + d + 1, rest - 1, c->sent + d, rest);
    if (from < 0 || to < 0) {
        snprintf(ev, evlen,
                 "echo bytes %zu..%zu hold the same %zu bytes as were sent there (the same "
                 "count of every byte value), in another order",
                 d, end - 1, rest);
        return 1;
    }
    size_t src = d + 1 + (size_t)from, dst = d + 1 + (size_t)to;
    size_t a = common_prefix(c->recvd + d, c->sent + src, end - src);
    size_t b = common_prefix(c->recvd + dst, c->sent + d, end - dst);
    snprintf(ev, evlen,
             "echo bytes %zu..%zu are sent bytes %zu..%zu, and sent bytes %zu..%zu came back "
             "at %zu..%zu: bytes %zu..%zu hold exactly what was sent there, in another order",
             d, d + a - 1, src, src + a - 1, d, d + b - 1, dst, dst + b - 1, d, end - 1);
    return 1;
}

int ec_evidence_duplicated(const struct ec_conn *c, size_t d, char *ev, size_t evlen,
                           const unsigned char **probe_out, size_t *n_out)
{
    if (c->recvd_len < d + MIN_PROBE || d == 0 || d > c->sent_len)
        return 0;
    size_t n = c->recvd_len - d < PROBE ? c->recvd_len - d : PROBE;
    const unsigned char *probe = c->recvd + d;
    size_t lo = d > LOOKBACK ? d - LOOKBACK : 0;
    size_t hi = d - 1 + n < c->sent_len ? d - 1 + n : c->sent_len; /* spans starting < d */
    long long j = find(c->sent + lo, hi - lo, probe, n);
    if (j < 0)
        return 0;
    if (d + 1 < c->sent_len && find(c->sent + d + 1, c->sent_len - d - 1, probe, n) >= 0)
        return 0;
    size_t start = lo + (size_t)j;
    size_t max = c->recvd_len - d < c->sent_len - start ? c->recvd_len - d : c->sent_len - start;
    size_t len = common_prefix(c->recvd + d, c->sent + start, max);
    size_t shift = d - start;
    if (len > shift)
        /* The span just before d came twice, and the echo goes on in order after it. */
        snprintf(ev, evlen,
                 "echo bytes %zu..%zu repeat sent bytes %zu..%zu, already echoed just before "
                 "them; the echo then goes on in order, %zu bytes late (%zu bytes match)",
                 d, d + shift - 1, start, d - 1, shift, len);
    else
        snprintf(ev, evlen,
                 "echo bytes %zu..%zu repeat sent bytes %zu..%zu, which this connection sent "
                 "before offset %zu",
                 d, d + len - 1, start, start + len - 1, d);
    if (probe_out)
        *probe_out = probe;
    if (n_out)
        *n_out = n;
    return 1;
}

long ec_evidence_quiet_end_ms(const struct ec_conn *c)
{
    const struct ec_conn_end *e = &c->end;
    if (!e->kind || e->wr_shut || e->sent_before <= 0 || e->last_out_us < 0 ||
        (size_t)e->sent_before != e->recvd)
        return -1;
    int64_t last = e->last_out_us > e->last_in_us ? e->last_out_us : e->last_in_us;
    return e->arrived_us > last ? (long)((e->arrived_us - last) / 1000) : 0;
}

long ec_evidence_idle_ms(const struct ec_conn *c)
{
    long ms = ec_evidence_quiet_end_ms(c);
    return ms >= EC_IDLE_MIN_MS ? ms : -1;
}

long ec_round_125(long ms)
{
    static const long m[] = {1, 2, 5};
    long best = 1;
    for (long p = 1; p <= 100000000L; p *= 10)
        for (int i = 0; i < 3; i++) {
            long v = m[i] * p;
            if ((double)v * 10.0 > (double)ms * 11.0)
                return best;
            best = v;
        }
    return best;
}

void ec_evidence_idle_text(const struct ec_conn *c, long ms, char *ev, size_t evlen)
{
    const struct ec_conn_end *e = &c->end;
    snprintf(ev, evlen,
             "%s: the server sent %s %ld ms after the last byte either way (%s); the client "
             "had sent %lld bytes and had all of them back: neither side owed the other "
             "anything",
             c->label, e->kind == EC_RX_EOF ? "an orderly close (FIN)" : "a reset", ms,
             e->kernel_times ? "kernel times, TCP_INFO" : "as the client saw it", e->sent_before);
}
