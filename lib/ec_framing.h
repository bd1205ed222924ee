/* ec_framing.h - the three message-framing designs of textbook chapter 3.
 *
 * End-of-record delimiter (default "\n"), fixed length N, and a length prefix (16- or
 * 32-bit big-endian header giving the payload length). Encoders write a whole frame;
 * incremental decoders accept bytes in any chunking and yield whole frames.
 */
#ifndef EC_FRAMING_H
#define EC_FRAMING_H

#include <stddef.h>

enum ec_framing_kind {
    EC_FRAMING_RAW,   /* no framing: a byte stream */
    EC_FRAMING_DELIM, /* payload then a delimiter ("line": "\n") */
    EC_FRAMING_FIXED, /* every frame is exactly fixed_len bytes */
    EC_FRAMING_LEN16, /* 2-byte big-endian payload length, then the payload */
    EC_FRAMING_LEN32  /* 4-byte big-endian payload length, then the payload */
};

#define EC_FRAMING_MAX_DELIM   8
#define EC_FRAMING_DEFAULT_MAX 65536u /* default largest payload for line and len32 */

struct ec_framing {
    enum ec_framing_kind kind;
    unsigned char delim[EC_FRAMING_MAX_DELIM]; /* DELIM only */
    size_t delim_len;                          /* DELIM only, 1..EC_FRAMING_MAX_DELIM */
    size_t fixed_len;                          /* FIXED only, >= 1 */
    size_t max_payload;                        /* largest payload a decoder accepts */
};

/* Parses a framing spec: "raw", "line" (delimiter "\n"), "delim:HEX" (delimiter
 * given as hex bytes, e.g. "delim:0d0a"), "fixed:N", "len16", "len32", each optionally
 * followed by ",max=N" to set max_payload. Returns 0, or -EC_EINVAL (and a reason
 * in err, if not NULL) for anything else. */
int ec_framing_parse(const char *spec, struct ec_framing *f, char *err, size_t errlen);

/* Writes the canonical spec of f ("line", "fixed:16", ...) into buf; returns buf. */
const char *ec_framing_format(const struct ec_framing *f, char *buf, size_t len);

/* Header bytes before the payload: 2 for len16, 4 for len32, 0 otherwise. */
size_t ec_framing_header_len(const struct ec_framing *f);

/* Wire length of a frame carrying payload_len bytes. */
size_t ec_frame_wire_len(const struct ec_framing *f, size_t payload_len);

/* Largest wire length a decoder for f accepts. */
size_t ec_framing_max_wire(const struct ec_framing *f);

/* Encodes payload (len bytes) as one frame into out (cap bytes). Returns the wire
 * length, or -EC_ETOOLONG (payload above max_payload, or above 65535 for len16, or
 * cap too small), or -EC_EINVAL (fixed framing with len != fixed_len, a delimited
 * payload that contains the delimiter, or raw framing, which has no frames). */
ptrdiff_t ec_frame_encode(const struct ec_framing *f, const void *payload, size_t len, void *out,
                          size_t cap);

/* One decoded frame; the pointers stay valid until the next feed or free. */
struct ec_frame {
    const unsigned char *wire; /* header + payload + delimiter, as received */
    size_t wire_len;
    const unsigned char *payload;
    size_t payload_len;
};

/* An incremental decoder. Holds at most one partial frame; never reads past it. */
struct ec_decoder {
    struct ec_framing f;
    unsigned char *buf; /* the frame in progress, wire form */
    size_t cap;         /* ec_framing_max_wire(&f) */
    size_t have;        /* bytes of the frame in progress */
    size_t need;        /* its full wire length once known (len prefix, fixed), else 0 */
    int failed;         /* set after an error: the stream can no longer be framed */
};

/* Prepares d for framing f (not raw). Returns 0, or -EC_ENOMEM / -EC_EINVAL. */
int ec_decoder_init(struct ec_decoder *d, const struct ec_framing *f);

/* Releases d's buffer. */
void ec_decoder_free(struct ec_decoder *d);

/* Feeds up to len bytes. Consumes bytes until one frame completes or the input ends,
 * and returns the count consumed; when a frame completed, fills *out and sets
 * *got_frame to 1 (else 0). Call again with the rest of the input to get the next
 * frame. Returns -EC_ETOOLONG when the frame in progress exceeds max_payload (a
 * length prefix above it is rejected as soon as the header is complete); the decoder
 * then stays failed. */
ptrdiff_t ec_decoder_feed(struct ec_decoder *d, const void *data, size_t len, struct ec_frame *out,
                          int *got_frame);

/* Bytes of a partial frame held (0 at a frame boundary). */
size_t ec_decoder_pending(const struct ec_decoder *d);

#endif
