/* fuzz_framing_spec.c - libFuzzer target: --framing specs (ec_framing_parse) on any
 * text.
 *
 * Oracle: an accepted spec stays within the documented limits (max_payload 1..64 MiB,
 * 1..8 delimiter bytes, len16 at most 65535), its canonical form (ec_framing_format)
 * parses back to the same framing, and a decoder can be made for it; a refused spec
 * gets a message that quotes it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec_framing.h"
#include "fuzz_common.h"

static int same_framing(const struct ec_framing *a, const struct ec_framing *b)
{
    return a->kind == b->kind && a->delim_len == b->delim_len &&
           memcmp(a->delim, b->delim, a->delim_len) == 0 && a->fixed_len == b->fixed_len &&
           a->max_payload == b->max_payload;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = ec_fuzz_text(data, size);
    char err[200] = "", canon[64];
    struct ec_framing f, g;
    if (spec == NULL)
        return 0;
    if (ec_framing_parse(spec, &f, err, sizeof err) == 0) {
        EC_FUZZ_CHECK(f.kind == EC_FRAMING_RAW || f.max_payload >= 1);
        EC_FUZZ_CHECK(f.max_payload <= ((size_t)64 << 20));
        if (f.kind == EC_FRAMING_DELIM)
            EC_FUZZ_CHECK(f.delim_len >= 1 && f.delim_len <= EC_FRAMING_MAX_DELIM);
        if (f.kind == EC_FRAMING_LEN16)
            EC_FUZZ_CHECK(f.max_payload <= 65535);
        if (f.kind == EC_FRAMING_FIXED)
            EC_FUZZ_CHECK(f.fixed_len >= 1 && f.max_payload == f.fixed_len);
        ec_framing_format(&f, canon, sizeof canon);
        EC_FUZZ_CHECK(ec_framing_parse(canon, &g, NULL, 0) == 0);
        EC_FUZZ_CHECK(same_framing(&f, &g));
        if (f.kind != EC_FRAMING_RAW && ec_framing_max_wire(&f) <= (1u << 20)) {
            struct ec_decoder d;
            EC_FUZZ_CHECK(ec_decoder_init(&d, &f) == 0);
            ec_decoder_free(&d);
        }
    } else {
        EC_FUZZ_CHECK(strncmp(err, "framing '", 9) == 0);
    }
    free(spec);
    return 0;
}
