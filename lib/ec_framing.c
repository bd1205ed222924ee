/* ec_framing.c - framing specs, frame encoders and incremental frame decoders.
 *
 * The three designs of textbook chapter 3 (end-of-record marker, fixed length, a
 * length header). A decoder copies at most one frame into a buffer sized at init to
 * the largest legal frame, so feeding never allocates and never reads past a frame.
 */
#include "ec_framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_sock.h"

/* The largest payload a spec may ask for: decoders preallocate a whole frame, so a
 * typo such as max=4000000000 must not become a 4 GB allocation per connection. */
#define EC_FRAMING_LIMIT ((size_t)64 * 1024 * 1024)

/* Parses the decimal digits s[0..len) into *out (1..EC_FRAMING_LIMIT). */
static int parse_count(const char *s, size_t len, size_t *out)
{
    size_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
        if (v > EC_FRAMING_LIMIT)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = v;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes the reason into err and returns -EC_EINVAL. */
static int reject(char *err, size_t errlen, const char *spec, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "framing '%s': %s", spec, why);
    return -EC_EINVAL;
}

int ec_framing_parse(const char *spec, struct ec_framing *f, char *err, size_t errlen)
{
    struct ec_framing g;
    memset(&g, 0, sizeof g);
    if (spec == NULL)
        return reject(err, errlen, "", "no spec given");
    const char *comma = strchr(spec, ',');
    size_t klen = comma ? (size_t)(comma - spec) : strlen(spec);

    if (klen == 3 && memcmp(spec, "raw", 3) == 0) {
        g.kind = EC_FRAMING_RAW;
    } else if (klen == 4 && memcmp(spec, "line", 4) == 0) {
        g.kind = EC_FRAMING_DELIM;
        g.delim[0] = '\n';
        g.delim_len = 1;
        g.max_payload = EC_FRAMING_DEFAULT_MAX;
    } else if (klen > 6 && memcmp(spec, "delim:", 6) == 0) {
        size_t hl = klen - 6;
        if (hl % 2 != 0 || hl / 2 > EC_FRAMING_MAX_DELIM)
            return reject(err, errlen, spec,
                          "the delimiter must be 1 to 8 bytes in hex, "
                          "two digits a byte (e.g. delim:0d0a)");
        for (size_t i = 0; i < hl / 2; i++) {
            int hi = hex_value(spec[6 + 2 * i]), lo = hex_value(spec[7 + 2 * i]);
            if (hi < 0 || lo < 0)
                return reject(err, errlen, spec, "the delimiter is not hex (e.g. delim:0d0a)");
            g.delim[i] = (unsigned char)(hi * 16 + lo);
        }
        g.kind = EC_FRAMING_DELIM;
        g.delim_len = hl / 2;
        g.max_payload = EC_FRAMING_DEFAULT_MAX;
    } else if (klen > 6 && memcmp(spec, "fixed:", 6) == 0) {
        if (parse_count(spec + 6, klen - 6, &g.fixed_len) != 0)
            return reject(err, errlen, spec, "fixed:N needs a length N of 1..67108864");
        g.kind = EC_FRAMING_FIXED;
        g.max_payload = g.fixed_len;
    } else if (klen == 5 && memcmp(spec, "len16", 5) == 0) {
        g.kind = EC_FRAMING_LEN16;
        g.max_payload = 65535;
    } else if (klen == 5 && memcmp(spec, "len32", 5) == 0) {
        g.kind = EC_FRAMING_LEN32;
        g.max_payload = EC_FRAMING_DEFAULT_MAX;
    } else {
        return reject(err, errlen, spec,
                      "unknown framing (expected raw, line, delim:HEX, fixed:N, len16 or len32, "
                      "optionally followed by ,max=N)");
    }

    if (comma != NULL) {
        const char *opt = comma + 1;
        if (strncmp(opt, "max=", 4) != 0)
            return reject(err, errlen, spec, "the only option is ,max=N");
        if (g.kind == EC_FRAMING_RAW || g.kind == EC_FRAMING_FIXED)
            return reject(err, errlen, spec, "max=N applies to line, delim, len16 and len32 only");
        size_t max;
        if (parse_count(opt + 4, strlen(opt + 4), &max) != 0)
            return reject(err, errlen, spec, "max=N needs N of 1..67108864");
        if (g.kind == EC_FRAMING_LEN16 && max > 65535)
            return reject(err, errlen, spec, "len16 cannot carry more than 65535 bytes");
        g.max_payload = max;
    }
    *f = g;
    return 0;
}

/* The max_payload a spec without ",max=" gets. */
static size_t default_max(const struct ec_framing *f)
{
    switch (f->kind) {
    case EC_FRAMING_LEN16:
        return 65535;
    case EC_FRAMING_FIXED:
        return f->fixed_len;
    case EC_FRAMING_RAW:
        return 0;
    default:
        return EC_FRAMING_DEFAULT_MAX;
    }
}

const char *ec_framing_format(const struct ec_framing *f, char *buf, size_t len)
{
    char kind[40];
    switch (f->kind) {
    case EC_FRAMING_RAW:
        snprintf(kind, sizeof kind, "raw");
        break;
    case EC_FRAMING_DELIM:
        if (f->delim_len == 1 && f->delim[0] == '\n') {
            snprintf(kind, sizeof kind, "line");
        } else {
            size_t n = (size_t)snprintf(kind, sizeof kind, "delim:");
            for (size_t i = 0; i < f->delim_len && i < EC_FRAMING_MAX_DELIM; i++)
                n += (size_t)snprintf(kind + n, sizeof kind - n, "%02x", f->delim[i]);
        }
        break;
    case EC_FRAMING_FIXED:
        snprintf(kind, sizeof kind, "fixed:%zu", f->fixed_len);
        break;
    case EC_FRAMING_LEN16:
        snprintf(kind, sizeof kind, "len16");
        break;
    case EC_FRAMING_LEN32:
        snprintf(kind, sizeof kind, "len32");
        break;
    default:
        snprintf(kind, sizeof kind, "?");
        break;
    }
    if (f->kind != EC_FRAMING_RAW && f->kind != EC_FRAMING_FIXED &&
        f->max_payload != default_max(f))
        snprintf(buf, len, "%s,max=%zu", kind, f->max_payload);
    else
        snprintf(buf, len, "%s", kind);
    return buf;
}

size_t ec_framing_header_len(const struct ec_framing *f)
{
    if (f->kind == EC_FRAMING_LEN16)
        return 2;
    if (f->kind == EC_FRAMING_LEN32)
        return 4;
    return 0;
}

size_t ec_frame_wire_len(const struct ec_framing *f, size_t payload_len)
{
    if (f->kind == EC_FRAMING_DELIM)
        return payload_len + f->delim_len;
    return ec_framing_header_len(f) + payload_len;
}

size_t ec_framing_max_wire(const struct ec_framing *f)
{
    switch (f->kind) {
    case EC_FRAMING_RAW:
        return 0;
    case EC_FRAMING_FIXED:
        return f->fixed_len;
    default:
        return ec_frame_wire_len(f, f->max_payload);
    }
}

/* The offset of the first occurrence of delim in hay[from..len), or len if none. */
static size_t find_delim(const unsigned char *hay, size_t from, size_t len,
                         const unsigned char *delim, size_t dlen)
{
    for (size_t i = from; i + dlen <= len; i++) {
        if (hay[i] == delim[0] && memcmp(hay + i, delim, dlen) == 0)
            return i;
    }
    return len;
}

ptrdiff_t ec_frame_encode(const struct ec_framing *f, const void *payload, size_t len, void *out,
                          size_t cap)
{
    unsigned char *o = out;
    size_t hl = ec_framing_header_len(f);
    switch (f->kind) {
    case EC_FRAMING_RAW:
        return -EC_EINVAL;
    case EC_FRAMING_FIXED:
        if (len != f->fixed_len)
            return -EC_EINVAL;
        break;
    case EC_FRAMING_LEN16:
        if (len > 65535)
            return -EC_ETOOLONG;
        break;
    default:
        break;
    }
    if (len > f->max_payload)
        return -EC_ETOOLONG;
    size_t wire = ec_frame_wire_len(f, len);
    if (wire > cap)
        return -EC_ETOOLONG;
    if (hl == 2) {
        o[0] = (unsigned char)(len >> 8);
        o[1] = (unsigned char)len;
    } else if (hl == 4) {
        o[0] = (unsigned char)(len >> 24);
        o[1] = (unsigned char)(len >> 16);
        o[2] = (unsigned char)(len >> 8);
        o[3] = (unsigned char)len;
    }
    if (len > 0)
        memcpy(o + hl, payload, len);
    if (f->kind == EC_FRAMING_DELIM) {
        memcpy(o + len, f->delim, f->delim_len);
        /* The decoder ends a frame at the first delimiter, so the payload must not hold
         * one, nor end with bytes that form one together with the delimiter's start
         * ("ab" + "abab" reads as an empty frame). */
        if (find_delim(o, 0, wire, f->delim, f->delim_len) != len)
            return -EC_EINVAL;
    }
    return (ptrdiff_t)wire;
}

int ec_decoder_init(struct ec_decoder *d, const struct ec_framing *f)
{
    memset(d, 0, sizeof *d);
    if (f->kind == EC_FRAMING_RAW || (f->kind == EC_FRAMING_FIXED && f->fixed_len == 0) ||
        (f->kind == EC_FRAMING_DELIM && (f->delim_len == 0 || f->delim_len > EC_FRAMING_MAX_DELIM)))
        return -EC_EINVAL;
    d->f = *f;
    d->cap = ec_framing_max_wire(f);
    d->buf = malloc(d->cap);
    if (d->buf == NULL)
        return -EC_ENOMEM;
    d->need = f->kind == EC_FRAMING_FIXED ? f->fixed_len : 0;
    return 0;
}

void ec_decoder_free(struct ec_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
    d->cap = d->have = d->need = 0;
}

/* Hands out the frame held in d->buf[0..wire) and starts the next one. */
static void emit(struct ec_decoder *d, size_t wire, struct ec_frame *out, int *got_frame)
{
    out->wire = d->buf;
    out->wire_len = wire;
    if (d->f.kind == EC_FRAMING_DELIM) {
        out->payload = d->buf;
        out->payload_len = wire - d->f.delim_len;
    } else {
        size_t hl = ec_framing_header_len(&d->f);
        out->payload = d->buf + hl;
        out->payload_len = wire - hl;
    }
    *got_frame = 1;
    d->have = 0;
    d->need = d->f.kind == EC_FRAMING_FIXED ? d->f.fixed_len : 0;
}

/* Delimited frames: copy what fits, look for the delimiter (from delim_len - 1 bytes
 * back, in case it straddles two feeds), and consume only up to its end. */
static ptrdiff_t feed_delim(struct ec_decoder *d, const unsigned char *in, size_t len,
                            struct ec_frame *out, int *got_frame)
{
    size_t dl = d->f.delim_len;
    size_t room = d->cap - d->have;
    size_t n = len < room ? len : room;
    memcpy(d->buf + d->have, in, n);
    size_t from = d->have >= dl - 1 ? d->have - (dl - 1) : 0;
    size_t at = find_delim(d->buf, from, d->have + n, d->f.delim, dl);
    if (at < d->have + n) {
        size_t used = at + dl - d->have;
        emit(d, at + dl, out, got_frame);
        return (ptrdiff_t)used;
    }
    d->have += n;
    if (d->have == d->cap) {
        /* max_payload bytes and a whole delimiter's worth more, and no delimiter. */
        d->failed = 1;
        return -EC_ETOOLONG;
    }
    return (ptrdiff_t)n;
}

ptrdiff_t ec_decoder_feed(struct ec_decoder *d, const void *data, size_t len, struct ec_frame *out,
                          int *got_frame)
{
    const unsigned char *in = data;
    size_t used = 0;
    *got_frame = 0;
    if (d->failed)
        return -EC_ETOOLONG;
    if (d->f.kind == EC_FRAMING_DELIM)
        return len == 0 ? 0 : feed_delim(d, in, len, out, got_frame);

    size_t hl = ec_framing_header_len(&d->f);
    while (used < len) {
        if (d->need == 0) {
            /* Length prefix in progress (len16/len32). */
            size_t n = hl - d->have;
            if (n > len - used)
                n = len - used;
            memcpy(d->buf + d->have, in + used, n);
            d->have += n;
            used += n;
            if (d->have < hl)
                break;
            size_t plen = 0;
            for (size_t i = 0; i < hl; i++)
                plen = (plen << 8) | d->buf[i];
            if (plen > d->f.max_payload) {
                /* Rejected as soon as the header is complete: never wait for (or
                 * buffer) a payload that can only be refused. */
                d->failed = 1;
                return -EC_ETOOLONG;
            }
            d->need = hl + plen;
            if (d->have == d->need) {
                emit(d, d->have, out, got_frame);
                return (ptrdiff_t)used;
            }
            continue;
        }
        size_t n = d->need - d->have;
        if (n > len - used)
            n = len - used;
        memcpy(d->buf + d->have, in + used, n);
        d->have += n;
        used += n;
        if (d->have == d->need) {
            emit(d, d->have, out, got_frame);
            break;
        }
    }
    return (ptrdiff_t)used;
}

size_t ec_decoder_pending(const struct ec_decoder *d)
{
    return d->have;
}
