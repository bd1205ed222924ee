/* test_framing.c - unit tests of the framing specs, encoders and incremental decoders:
 * every split point (and every pair of split points) of short streams, random splits
 * of long ones, several frames in one chunk, and oversize frames rejected early.
 */
#include "ec_framing.h"
#include "ec_sock.h"
#include "ec_test.h"

#define MAX_FRAMES 512
#define MAX_STREAM 131072

/* What a decoder produced: the frames' wire bytes back to back and their sizes. */
struct collected {
    unsigned char wire[MAX_STREAM];
    size_t wire_len;
    size_t frame_len[MAX_FRAMES];
    size_t payload_len[MAX_FRAMES];
    size_t count;
};

/* A stream of frames built with the encoder, and the expected decoding. */
struct stream {
    struct ec_framing f;
    unsigned char bytes[MAX_STREAM];
    size_t len;
    struct collected want;
};

static struct ec_framing spec(const char *text)
{
    struct ec_framing f;
    char err[200];
    if (ec_framing_parse(text, &f, err, sizeof err) != 0)
        FAIL("framing '%s' rejected: %s", text, err);
    return f;
}

static void add_frame(struct stream *s, const void *payload, size_t len)
{
    ptrdiff_t w = ec_frame_encode(&s->f, payload, len, s->bytes + s->len, MAX_STREAM - s->len);
    ASSERT_GT(w, 0);
    memcpy(s->want.wire + s->want.wire_len, s->bytes + s->len, (size_t)w);
    s->want.wire_len += (size_t)w;
    s->want.frame_len[s->want.count] = (size_t)w;
    s->want.payload_len[s->want.count] = len;
    s->want.count++;
    s->len += (size_t)w;
}

/* Feeds one chunk, calling the decoder until the chunk is used up. */
static void feed_chunk(struct ec_decoder *d, const unsigned char *p, size_t n, struct collected *c)
{
    struct ec_frame fr;
    int got = 7;
    ASSERT_EQ(ec_decoder_feed(d, p, 0, &fr, &got), 0);
    ASSERT_EQ(got, 0);
    while (n > 0) {
        ptrdiff_t r = ec_decoder_feed(d, p, n, &fr, &got);
        if (r <= 0)
            FAIL("decoder returned %td (%s) with %zu bytes left", r,
                 r < 0 ? ec_err_name((int)r) : "nothing consumed", n);
        ASSERT_LE(r, (ptrdiff_t)n);
        p += r;
        n -= (size_t)r;
        if (got) {
            ASSERT_LT(c->count, MAX_FRAMES);
            ASSERT(fr.payload >= fr.wire);
            ASSERT_LE((size_t)(fr.payload - fr.wire) + fr.payload_len, fr.wire_len);
            memcpy(c->wire + c->wire_len, fr.wire, fr.wire_len);
            c->wire_len += fr.wire_len;
            c->frame_len[c->count] = fr.wire_len;
            c->payload_len[c->count] = fr.payload_len;
            c->count++;
            ASSERT_EQ(ec_decoder_pending(d), 0);
        }
    }
}

static void check_collected(const struct collected *got, const struct collected *want,
                            const char *how)
{
    if (got->count != want->count)
        FAIL("%s: %zu frames decoded, expected %zu", how, got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        if (got->frame_len[i] != want->frame_len[i] || got->payload_len[i] != want->payload_len[i])
            FAIL("%s: frame %zu is %zu bytes (payload %zu), expected %zu (payload %zu)", how, i,
                 got->frame_len[i], got->payload_len[i], want->frame_len[i], want->payload_len[i]);
    }
    ASSERT_EQ(got->wire_len, want->wire_len);
    ASSERT_MEM_EQ(got->wire, want->wire, want->wire_len);
}

/* Decodes s->bytes cut at the given offsets (ascending) and checks the frames. */
static void decode_cut(const struct stream *s, const size_t *cuts, size_t ncuts, const char *how)
{
    static struct collected got;
    struct ec_decoder d;
    size_t from = 0;
    memset(&got, 0, sizeof got);
    ASSERT_EQ(ec_decoder_init(&d, &s->f), 0);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : s->len;
        feed_chunk(&d, s->bytes + from, to - from, &got);
        from = to;
    }
    ASSERT_EQ(ec_decoder_pending(&d), 0);
    check_collected(&got, &s->want, how);
    ec_decoder_free(&d);
}

/* Short streams of every framing, with empty payloads where the framing allows them and
 * payload bytes that resemble the delimiter. */
static size_t short_streams(struct stream *out)
{
    static const char *specs[] = {"line",    "delim:0d0a", "delim:61626162",
                                  "fixed:3", "len16",      "len32"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        struct stream *s = &out[n++];
        memset(s, 0, sizeof *s);
        s->f = spec(specs[i]);
        switch (s->f.kind) {
        case EC_FRAMING_FIXED:
            add_frame(s, "abc", 3);
            add_frame(s, "\0\n\377", 3);
            add_frame(s, "xyz", 3);
            break;
        case EC_FRAMING_DELIM:
            add_frame(s, "GET", 3);
            add_frame(s, "", 0);
            if (s->f.delim_len == 4) {
                add_frame(s, "xa", 2); /* "xa" + "abab": the delimiter overlaps itself */
                add_frame(s, "b", 1);
            } else {
                add_frame(s, "a\rb", 3);
                add_frame(s, "\r", 1);
            }
            break;
        default:
            add_frame(s, "", 0);
            add_frame(s, "hello", 5);
            add_frame(s, "\0\377", 2);
            break;
        }
    }
    return n;
}

static struct stream streams[8];

TEST(decoder_yields_same_frames_at_every_split_point)
{
    size_t n = short_streams(streams);
    for (size_t k = 0; k < n; k++) {
        char how[80], fs[40];
        for (size_t i = 0; i <= streams[k].len; i++) {
            snprintf(how, sizeof how, "%s cut at %zu",
                     ec_framing_format(&streams[k].f, fs, sizeof fs), i);
            decode_cut(&streams[k], &i, 1, how);
        }
    }
}

TEST(decoder_yields_same_frames_at_every_pair_of_split_points)
{
    size_t n = short_streams(streams);
    for (size_t k = 0; k < n; k++) {
        char how[80], fs[40];
        for (size_t i = 0; i <= streams[k].len; i++) {
            for (size_t j = i; j <= streams[k].len; j++) {
                size_t cuts[2] = {i, j};
                snprintf(how, sizeof how, "%s cut at %zu and %zu",
                         ec_framing_format(&streams[k].f, fs, sizeof fs), i, j);
                decode_cut(&streams[k], cuts, 2, how);
            }
        }
    }
}

TEST(decoder_yields_same_frames_fed_byte_by_byte)
{
    size_t n = short_streams(streams);
    for (size_t k = 0; k < n; k++) {
        size_t cuts[64];
        ASSERT_LT(streams[k].len, 64);
        for (size_t i = 0; i + 1 < streams[k].len; i++)
            cuts[i] = i + 1;
        decode_cut(&streams[k], cuts, streams[k].len - 1, "byte by byte");
    }
}

TEST(decoder_returns_several_frames_from_one_chunk)
{
    size_t n = short_streams(streams);
    for (size_t k = 0; k < n; k++) {
        struct ec_decoder d;
        struct ec_frame fr;
        int got = 0;
        size_t off = 0;
        ASSERT_EQ(ec_decoder_init(&d, &streams[k].f), 0);
        /* One call per frame; each stops exactly at its frame's end. */
        for (size_t i = 0; i < streams[k].want.count; i++) {
            ptrdiff_t r =
                ec_decoder_feed(&d, streams[k].bytes + off, streams[k].len - off, &fr, &got);
            ASSERT_EQ(got, 1);
            ASSERT_EQ(r, (ptrdiff_t)streams[k].want.frame_len[i]);
            ASSERT_EQ(fr.payload_len, streams[k].want.payload_len[i]);
            ASSERT_MEM_EQ(fr.wire, streams[k].bytes + off, fr.wire_len);
            off += (size_t)r;
        }
        ASSERT_EQ(off, streams[k].len);
        ec_decoder_free(&d);
    }
}

TEST(decoder_yields_same_frames_under_random_splits_of_long_input)
{
    static const char *specs[] = {"line", "delim:0d0a", "fixed:7", "len16", "len32,max=1000"};
    static struct stream s;
    static unsigned char payload[1000];
    uint64_t rng = ec_test_rng(11);
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        memset(&s, 0, sizeof s);
        s.f = spec(specs[k]);
        for (int i = 0; i < 300; i++) {
            size_t len = s.f.kind == EC_FRAMING_FIXED ? 7 : ec_test_range(&rng, 0, 300);
            for (size_t j = 0; j < len; j++) {
                /* Delimited payloads avoid the delimiter's bytes; others use any byte. */
                payload[j] = (unsigned char)ec_test_rand(&rng);
                if (s.f.kind == EC_FRAMING_DELIM && (payload[j] == '\n' || payload[j] == '\r'))
                    payload[j] = 'x';
            }
            add_frame(&s, payload, len);
        }
        for (int round = 0; round < 20; round++) {
            static size_t cuts[MAX_STREAM];
            size_t ncuts = 0, at = 0;
            for (;;) {
                at += ec_test_range(&rng, 1, 97);
                if (at >= s.len)
                    break;
                cuts[ncuts++] = at;
            }
            char how[80];
            snprintf(how, sizeof how, "%s, random split round %d", specs[k], round);
            decode_cut(&s, cuts, ncuts, how);
        }
    }
}

/* Feeds data one byte at a time and returns the offset of the byte at which the
 * decoder failed, or len if it never did. */
static size_t fail_offset(const char *spec_text, const void *data, size_t len)
{
    struct ec_framing f = spec(spec_text);
    struct ec_decoder d;
    struct ec_frame fr;
    int got;
    const unsigned char *p = data;
    ASSERT_EQ(ec_decoder_init(&d, &f), 0);
    for (size_t i = 0; i < len; i++) {
        ptrdiff_t r = ec_decoder_feed(&d, p + i, 1, &fr, &got);
        if (r < 0) {
            ASSERT_EQ(r, -EC_ETOOLONG);
            ASSERT(d.failed);
            /* A failed decoder stays failed. */
            ASSERT_EQ(ec_decoder_feed(&d, "\n", 1, &fr, &got), -EC_ETOOLONG);
            ec_decoder_free(&d);
            return i;
        }
        ASSERT_EQ(r, 1);
    }
    ec_decoder_free(&d);
    return len;
}

TEST(frame_rejects_oversized_length_as_soon_as_header_is_complete)
{
    /* Rejected at the last header byte, before any payload byte arrives. */
    ASSERT_EQ(fail_offset("len16,max=10", "\000\013abc", 5), 1);
    ASSERT_EQ(fail_offset("len16,max=10", "\000\012abcdefghij", 12), 12);
    ASSERT_EQ(fail_offset("len32", "\000\001\000\001ab", 6), 3);
    ASSERT_EQ(fail_offset("len32", "\377\377\377\377ab", 6), 3);
    ASSERT_EQ(fail_offset("len32", "\000\001\000\000ab", 6), 6);
    /* The same in one chunk. */
    struct ec_framing f = spec("len32,max=3");
    struct ec_decoder d;
    struct ec_frame fr;
    int got;
    ASSERT_EQ(ec_decoder_init(&d, &f), 0);
    ASSERT_EQ(ec_decoder_feed(&d, "\000\000\000\004abcd", 8, &fr, &got), -EC_ETOOLONG);
    ASSERT_EQ(got, 0);
    ec_decoder_free(&d);
}

TEST(frame_rejects_overlong_delimited_record)
{
    /* max=4: "abcd\n" is a frame; a fifth payload byte can never be. */
    ASSERT_EQ(fail_offset("line,max=4", "abcd\n", 5), 5);
    ASSERT_EQ(fail_offset("line,max=4", "abcde\n", 6), 4);
    ASSERT_EQ(fail_offset("delim:0d0a,max=2", "ab\r\n", 4), 4);
    ASSERT_EQ(fail_offset("delim:0d0a,max=2", "ab\rx", 4), 3);
    struct ec_framing f = spec("line,max=4");
    struct ec_decoder d;
    struct ec_frame fr;
    int got;
    ASSERT_EQ(ec_decoder_init(&d, &f), 0);
    ASSERT_EQ(ec_decoder_feed(&d, "abcdefgh\n", 9, &fr, &got), -EC_ETOOLONG);
    ec_decoder_free(&d);
}

TEST(frame_encoder_writes_documented_bytes)
{
    unsigned char out[16];
    struct ec_framing f = spec("len16");
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, sizeof out), 5);
    ASSERT_MEM_EQ(out, "\000\003abc", 5);
    f = spec("len32");
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, sizeof out), 7);
    ASSERT_MEM_EQ(out, "\000\000\000\003abc", 7);
    f = spec("line");
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, sizeof out), 4);
    ASSERT_MEM_EQ(out, "abc\n", 4);
    f = spec("delim:0d0a");
    ASSERT_EQ(ec_frame_encode(&f, "", 0, out, sizeof out), 2);
    ASSERT_MEM_EQ(out, "\r\n", 2);
    f = spec("fixed:3");
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, sizeof out), 3);
    ASSERT_MEM_EQ(out, "abc", 3);
}

TEST(frame_encoder_round_trips_through_decoder)
{
    static const char *specs[] = {"line", "delim:00ff", "fixed:5", "len16", "len32,max=70000"};
    static unsigned char payload[70000], wire[70010];
    uint64_t rng = ec_test_rng(21);
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        struct ec_framing f = spec(specs[k]);
        struct ec_decoder d;
        ASSERT_EQ(ec_decoder_init(&d, &f), 0);
        for (int i = 0; i < 50; i++) {
            size_t len =
                f.kind == EC_FRAMING_FIXED ? 5 : ec_test_range(&rng, 0, i < 45 ? 64 : 65535);
            for (size_t j = 0; j < len; j++) {
                payload[j] = (unsigned char)ec_test_range(&rng, 0, 255);
                if (f.kind == EC_FRAMING_DELIM && payload[j] == f.delim[0])
                    payload[j] = 'x'; /* never the delimiter's first byte */
            }
            ptrdiff_t w = ec_frame_encode(&f, payload, len, wire, sizeof wire);
            ASSERT_EQ(w, (ptrdiff_t)ec_frame_wire_len(&f, len));
            struct ec_frame fr;
            int got = 0;
            ASSERT_EQ(ec_decoder_feed(&d, wire, (size_t)w, &fr, &got), w);
            ASSERT_EQ(got, 1);
            ASSERT_EQ(fr.payload_len, len);
            ASSERT_MEM_EQ(fr.payload, payload, len);
            ASSERT_MEM_EQ(fr.wire, wire, (size_t)w);
        }
        ec_decoder_free(&d);
    }
}

TEST(frame_encoder_rejects_what_cannot_be_framed)
{
    unsigned char out[64];
    struct ec_framing f = spec("raw");
    ASSERT_EQ(ec_frame_encode(&f, "a", 1, out, sizeof out), -EC_EINVAL);
    f = spec("fixed:4");
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, sizeof out), -EC_EINVAL);
    f = spec("line");
    ASSERT_EQ(ec_frame_encode(&f, "a\nb", 3, out, sizeof out), -EC_EINVAL);
    f = spec("delim:61626162");
    /* "ab" + "abab" would read back as an empty frame. */
    ASSERT_EQ(ec_frame_encode(&f, "ab", 2, out, sizeof out), -EC_EINVAL);
    ASSERT_EQ(ec_frame_encode(&f, "xa", 2, out, sizeof out), 6);
    f = spec("line,max=3");
    ASSERT_EQ(ec_frame_encode(&f, "abcd", 4, out, sizeof out), -EC_ETOOLONG);
    ASSERT_EQ(ec_frame_encode(&f, "abc", 3, out, 3), -EC_ETOOLONG);
    f = spec("len16");
    f.max_payload = 100000; /* even a forged maximum cannot make len16 carry more */
    static unsigned char big[65536], bigout[65540];
    ASSERT_EQ(ec_frame_encode(&f, big, sizeof big, bigout, sizeof bigout), -EC_ETOOLONG);
    ASSERT_EQ(ec_frame_encode(&f, big, 65535, bigout, sizeof bigout), 65537);
}

TEST(decoder_rejects_raw_framing)
{
    struct ec_framing f = spec("raw");
    struct ec_decoder d;
    ASSERT_EQ(ec_decoder_init(&d, &f), -EC_EINVAL);
}

struct spec_case {
    const char *text;
    enum ec_framing_kind kind;
    size_t fixed_len, max_payload, delim_len;
    const char *canonical;
};

TEST(framing_parse_accepts_every_documented_spec)
{
    static const struct spec_case cases[] = {
        {"raw", EC_FRAMING_RAW, 0, 0, 0, "raw"},
        {"line", EC_FRAMING_DELIM, 0, 65536, 1, "line"},
        {"line,max=10", EC_FRAMING_DELIM, 0, 10, 1, "line,max=10"},
        {"delim:0a", EC_FRAMING_DELIM, 0, 65536, 1, "line"},
        {"delim:0D0A", EC_FRAMING_DELIM, 0, 65536, 2, "delim:0d0a"},
        {"delim:0102030405060708,max=1", EC_FRAMING_DELIM, 0, 1, 8, "delim:0102030405060708,max=1"},
        {"fixed:1", EC_FRAMING_FIXED, 1, 1, 0, "fixed:1"},
        {"fixed:16", EC_FRAMING_FIXED, 16, 16, 0, "fixed:16"},
        {"len16", EC_FRAMING_LEN16, 0, 65535, 0, "len16"},
        {"len16,max=65535", EC_FRAMING_LEN16, 0, 65535, 0, "len16"},
        {"len16,max=5", EC_FRAMING_LEN16, 0, 5, 0, "len16,max=5"},
        {"len32", EC_FRAMING_LEN32, 0, 65536, 0, "len32"},
        {"len32,max=1048576", EC_FRAMING_LEN32, 0, 1048576, 0, "len32,max=1048576"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct spec_case *c = &cases[i];
        struct ec_framing f, g;
        char err[200] = "", text[64];
        if (ec_framing_parse(c->text, &f, err, sizeof err) != 0)
            FAIL("'%s' rejected: %s", c->text, err);
        ASSERT_EQ(f.kind, c->kind);
        ASSERT_EQ(f.fixed_len, c->fixed_len);
        ASSERT_EQ(f.max_payload, c->max_payload);
        ASSERT_EQ(f.delim_len, c->delim_len);
        ASSERT_STR_EQ(ec_framing_format(&f, text, sizeof text), c->canonical);
        /* The canonical text parses back to the same framing. */
        ASSERT_EQ(ec_framing_parse(text, &g, err, sizeof err), 0);
        ASSERT_EQ(g.kind, f.kind);
        ASSERT_EQ(g.fixed_len, f.fixed_len);
        ASSERT_EQ(g.max_payload, f.max_payload);
        ASSERT_EQ(g.delim_len, f.delim_len);
        ASSERT_MEM_EQ(g.delim, f.delim, f.delim_len);
    }
    struct ec_framing f = spec("delim:0d0a");
    ASSERT_MEM_EQ(f.delim, "\r\n", 2);
}

TEST(framing_parse_rejects_malformed_specs)
{
    static const char *bad[] = {"",
                                "lines",
                                "LINE",
                                "line,",
                                "line,max=",
                                "line,max=0",
                                "line,max=12k",
                                "line,min=3",
                                "line,max=99999999999999999999",
                                "delim:",
                                "delim:0",
                                "delim:zz",
                                "delim:010203040506070809",
                                "fixed:",
                                "fixed:0",
                                "fixed:-1",
                                "fixed:12x",
                                "fixed:4,max=8",
                                "len16,max=65536",
                                "len32,max=0",
                                "len8",
                                "raw,max=5",
                                " raw"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ec_framing f;
        char err[200] = "";
        if (ec_framing_parse(bad[i], &f, err, sizeof err) != -EC_EINVAL)
            FAIL("'%s' was accepted", bad[i]);
        /* The message names the spec it rejects. */
        char quoted[80];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        if (strstr(err, quoted) == NULL)
            FAIL("the message for '%s' does not name it: %s", bad[i], err);
    }
    ASSERT_EQ(ec_framing_parse(NULL, NULL, NULL, 0), -EC_EINVAL);
}

TEST(framing_reports_wire_lengths)
{
    struct ec_framing f = spec("len16,max=100");
    ASSERT_EQ(ec_framing_header_len(&f), 2);
    ASSERT_EQ(ec_frame_wire_len(&f, 10), 12);
    ASSERT_EQ(ec_framing_max_wire(&f), 102);
    f = spec("len32");
    ASSERT_EQ(ec_framing_header_len(&f), 4);
    ASSERT_EQ(ec_framing_max_wire(&f), 65540);
    f = spec("delim:0d0a,max=10");
    ASSERT_EQ(ec_framing_header_len(&f), 0);
    ASSERT_EQ(ec_frame_wire_len(&f, 3), 5);
    ASSERT_EQ(ec_framing_max_wire(&f), 12);
    f = spec("fixed:9");
    ASSERT_EQ(ec_frame_wire_len(&f, 9), 9);
    ASSERT_EQ(ec_framing_max_wire(&f), 9);
    f = spec("raw");
    ASSERT_EQ(ec_framing_max_wire(&f), 0);
}

EC_TEST_MAIN(EC_TEST_ENTRY(decoder_yields_same_frames_at_every_split_point),
             EC_TEST_ENTRY(decoder_yields_same_frames_at_every_pair_of_split_points),
             EC_TEST_ENTRY(decoder_yields_same_frames_fed_byte_by_byte),
             EC_TEST_ENTRY(decoder_returns_several_frames_from_one_chunk),
             EC_TEST_ENTRY(decoder_yields_same_frames_under_random_splits_of_long_input),
             EC_TEST_ENTRY(frame_rejects_oversized_length_as_soon_as_header_is_complete),
             EC_TEST_ENTRY(frame_rejects_overlong_delimited_record),
             EC_TEST_ENTRY(frame_encoder_writes_documented_bytes),
             EC_TEST_ENTRY(frame_encoder_round_trips_through_decoder),
             EC_TEST_ENTRY(frame_encoder_rejects_what_cannot_be_framed),
             EC_TEST_ENTRY(decoder_rejects_raw_framing),
             EC_TEST_ENTRY(framing_parse_accepts_every_documented_spec),
             EC_TEST_ENTRY(framing_parse_rejects_malformed_specs),
             EC_TEST_ENTRY(framing_reports_wire_lengths))
