/* fuzz_framing.c - libFuzzer target: every incremental frame decoder (lib/ec_framing.c)
 * on random bytes in random chunkings.
 *
 * Input: byte 0 picks the framing (line, delim:HEX of 1..3 bytes, fixed:N, len16,
 * len32), bytes 1-2 its size limit (small, so refusals are common), bytes 3-6 a seed
 * for the chunking, the rest is the stream. The stream is decoded three ways: by a
 * whole-buffer reference parser written here from the format (not from the decoder),
 * by one ec_decoder_feed loop over the whole input, and by a feed loop over chunks of
 * 1..N bytes drawn from the seed. All three must give the same frames (bytes and
 * payload bounds), the same refusal (-EC_ETOOLONG) at the same stream offset, and the
 * same bytes pending at the end; a failed decoder must stay failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec_framing.h"
#include "ec_sock.h"
#include "fuzz_common.h"

#define MAX_FRAMES 4096

/* What a decode of the whole stream gives. */
struct outcome {
    size_t nframes;
    size_t start[MAX_FRAMES], wire_len[MAX_FRAMES], payload_off[MAX_FRAMES],
        payload_len[MAX_FRAMES];
    int failed;      /* refused with -EC_ETOOLONG */
    size_t fail_off; /* the stream offset where the refusal happened */
    size_t pending;  /* bytes of a partial frame at the end (when not failed) */
};

/* The format, read off the whole stream: the reference. */
static void reference(const struct ec_framing *f, const unsigned char *s, size_t n,
                      struct outcome *o)
{
    size_t pos = 0, hl = ec_framing_header_len(f), maxw = ec_framing_max_wire(f);
    memset(o, 0, sizeof *o);
    while (pos < n && o->nframes < MAX_FRAMES) {
        size_t wire = 0, poff = 0, plen = 0;
        if (f->kind == EC_FRAMING_FIXED) {
            if (n - pos < f->fixed_len)
                break;
            wire = plen = f->fixed_len;
        } else if (f->kind == EC_FRAMING_DELIM) {
            /* The first delimiter that ends within maxw bytes of the frame's start. */
            size_t dl = f->delim_len, at = SIZE_MAX;
            for (size_t i = pos; i + dl <= n && i + dl <= pos + maxw; i++) {
                if (memcmp(s + i, f->delim, dl) == 0) {
                    at = i;
                    break;
                }
            }
            if (at == SIZE_MAX) {
                if (n - pos >= maxw) {
                    o->failed = 1;
                    o->fail_off = pos + maxw;
                    return;
                }
                break;
            }
            wire = at + dl - pos;
            plen = at - pos;
        } else {
            if (n - pos < hl)
                break;
            size_t len = 0;
            for (size_t i = 0; i < hl; i++)
                len = (len << 8) | s[pos + i];
            if (len > f->max_payload) {
                o->failed = 1;
                o->fail_off = pos + hl;
                return;
            }
            if (n - pos < hl + len)
                break;
            wire = hl + len;
            poff = hl;
            plen = len;
        }
        o->start[o->nframes] = pos;
        o->wire_len[o->nframes] = wire;
        o->payload_off[o->nframes] = poff;
        o->payload_len[o->nframes] = plen;
        o->nframes++;
        pos += wire;
    }
    o->pending = n - pos;
}

/* A small xorshift generator for the chunk sizes. */
static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feeds s[0..n) to a decoder in chunks (max_chunk 0: all at once) and records what it
 * yields. Each frame is checked against the stream as it comes out. */
static void decode(const struct ec_framing *f, const unsigned char *s, size_t n, uint32_t seed,
                   size_t max_chunk, struct outcome *o)
{
    struct ec_decoder d;
    memset(o, 0, sizeof *o);
    EC_FUZZ_CHECK(ec_decoder_init(&d, f) == 0);
    size_t pos = 0, frame_start = 0;
    uint32_t x = seed | 1;
    while (pos < n && o->nframes < MAX_FRAMES) {
        size_t chunk = n - pos;
        if (max_chunk > 0 && chunk > 1)
            chunk = 1 + next_rand(&x) % (chunk < max_chunk ? chunk : max_chunk);
        size_t off = 0;
        while (off < chunk && o->nframes < MAX_FRAMES) {
            struct ec_frame fr;
            int got = 0;
            size_t had = d.have;
            ptrdiff_t used = ec_decoder_feed(&d, s + pos + off, chunk - off, &fr, &got);
            if (used < 0) {
                EC_FUZZ_CHECK(used == -EC_ETOOLONG);
                EC_FUZZ_CHECK(d.have >= had);
                o->failed = 1;
                o->fail_off = pos + off + (d.have - had);
                /* Failed for good: even an empty or harmless feed is refused. */
                EC_FUZZ_CHECK(ec_decoder_feed(&d, "\n", 1, &fr, &got) == -EC_ETOOLONG);
                EC_FUZZ_CHECK(got == 0);
                ec_decoder_free(&d);
                return;
            }
            EC_FUZZ_CHECK((size_t)used <= chunk - off);
            EC_FUZZ_CHECK(used > 0 || got || chunk - off == 0);
            off += (size_t)used;
            if (got) {
                size_t end = pos + off;
                EC_FUZZ_CHECK(fr.wire_len <= end - frame_start);
                EC_FUZZ_CHECK(fr.wire_len == end - frame_start);
                EC_FUZZ_CHECK(memcmp(fr.wire, s + frame_start, fr.wire_len) == 0);
                EC_FUZZ_CHECK(fr.payload >= fr.wire &&
                              fr.payload + fr.payload_len <= fr.wire + fr.wire_len);
                EC_FUZZ_CHECK(fr.wire_len <= ec_framing_max_wire(f));
                o->start[o->nframes] = frame_start;
                o->wire_len[o->nframes] = fr.wire_len;
                o->payload_off[o->nframes] = (size_t)(fr.payload - fr.wire);
                o->payload_len[o->nframes] = fr.payload_len;
                o->nframes++;
                frame_start = end;
                EC_FUZZ_CHECK(ec_decoder_pending(&d) == 0);
            }
        }
        pos += off;
    }
    o->pending = ec_decoder_pending(&d);
    EC_FUZZ_CHECK(o->pending == pos - frame_start);
    ec_decoder_free(&d);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    EC_FUZZ_CHECK(a->failed == b->failed);
    if (a->failed)
        EC_FUZZ_CHECK(a->fail_off == b->fail_off);
    else
        EC_FUZZ_CHECK(a->pending == b->pending);
    EC_FUZZ_CHECK(a->nframes == b->nframes);
    for (size_t i = 0; i < a->nframes; i++) {
        EC_FUZZ_CHECK(a->start[i] == b->start[i]);
        EC_FUZZ_CHECK(a->wire_len[i] == b->wire_len[i]);
        EC_FUZZ_CHECK(a->payload_off[i] == b->payload_off[i]);
        EC_FUZZ_CHECK(a->payload_len[i] == b->payload_len[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct outcome ref, one, chunked;
    struct ec_framing f;
    if (size < 7)
        return 0;
    unsigned limit = 1u + ((unsigned)data[1] << 8 | data[2]) % 300u;
    uint32_t seed =
        (uint32_t)data[3] << 24 | (uint32_t)data[4] << 16 | (uint32_t)data[5] << 8 | data[6];
    const char *specs[] = {"line",    "delim:0d0a", "delim:00", "delim:616261",
                           "fixed:1", "len16",      "len32"};
    char spec[40];
    unsigned k = data[0] % 8u;
    if (k == 7) /* the default limits, for the big-max paths */
        snprintf(spec, sizeof spec, "%s", (data[1] & 1) ? "len32" : "line");
    else if (k == 4)
        snprintf(spec, sizeof spec, "fixed:%u", limit);
    else
        snprintf(spec, sizeof spec, "%s,max=%u", specs[k], limit);
    EC_FUZZ_CHECK(ec_framing_parse(spec, &f, NULL, 0) == 0);

    const unsigned char *s = data + 7;
    size_t n = size - 7;
    if (n >= MAX_FRAMES)
        return 0; /* every frame takes at least one byte: MAX_FRAMES always suffices */
    reference(&f, s, n, &ref);
    decode(&f, s, n, seed, 0, &one);
    same(&ref, &one);
    decode(&f, s, n, seed, 1 + seed % 17u, &chunked);
    same(&ref, &chunked);
    return 0;
}
