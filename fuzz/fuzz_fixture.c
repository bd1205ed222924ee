/* fuzz_fixture.c - libFuzzer target: the fixture loader (ec_fixture_parse) on any text.
 *
 * Oracle besides "no crash, no leak": a fixture the loader accepts must hold what the
 * format promises (fixtures/README.md): a requirement, a name equal to the file name,
 * a framing spec that parses to the framing stored, at least one connection, known
 * step kinds and diagnoses, compiled regexes, sizes within the documented limits. An
 * accepted document that breaks one of these aborts (a crash libFuzzer keeps).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fuzz_common.h"

/* The file name the loader sees: "<$.name>.json" when the text names itself with a
 * plain word (so the name rule can pass and the fuzzer reaches the steps), else
 * "fuzz.json". */
static void file_name_for(const char *text, char *file, size_t len)
{
    snprintf(file, len, "fuzz.json");
    cJSON *root = cJSON_Parse(text);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name) && strlen(name->valuestring) < 60 &&
        strchr(name->valuestring, '/') == NULL)
        snprintf(file, len, "%s.json", name->valuestring);
    cJSON_Delete(root);
}

static void check_payload(const struct ec_fixture *fx, const struct ec_payload *pl)
{
    EC_FUZZ_CHECK(pl->kind == EC_PL_BYTES || pl->size <= (64u << 20));
    EC_FUZZ_CHECK(pl->kind != EC_PL_REPEAT || pl->len > 0);
    /* Building the bytes must succeed or fail cleanly; keep it cheap. */
    if ((pl->kind == EC_PL_BYTES ? pl->len : pl->size) <= 4096) {
        unsigned char *b = NULL;
        size_t n = 0;
        if (ec_payload_build(pl, &fx->framing, 3, &b, &n) == 0)
            free(b);
    }
}

static void check_fixture(const struct ec_fixture *fx, const char *file)
{
    char base[80];
    snprintf(base, sizeof base, "%s.json", fx->name);
    EC_FUZZ_CHECK(strcmp(base, file) == 0);
    EC_FUZZ_CHECK(fx->requirement != NULL && fx->requirement[0] != '\0');
    struct ec_framing g;
    EC_FUZZ_CHECK(ec_framing_parse(fx->framing_spec, &g, NULL, 0) == 0);
    EC_FUZZ_CHECK(g.kind == fx->framing.kind && g.max_payload == fx->framing.max_payload);
    EC_FUZZ_CHECK(fx->budget_ms >= 100 && fx->budget_ms <= 600000);
    EC_FUZZ_CHECK(fx->ngroups >= 1 && fx->groups != NULL);
    for (size_t i = 0; i < fx->ntags; i++)
        EC_FUZZ_CHECK(fx->tags[i] != NULL);
    for (size_t gi = 0; gi < fx->ngroups; gi++) {
        const struct ec_group *g2 = &fx->groups[gi];
        EC_FUZZ_CHECK(g2->spawn >= 1);
        EC_FUZZ_CHECK(g2->on_fail[0] == '\0' || ec_diagnosis_known(g2->on_fail));
        for (size_t si = 0; si < g2->nsteps; si++) {
            const struct ec_step *st = &g2->steps[si];
            EC_FUZZ_CHECK((unsigned)st->kind < EC_ST_COUNT);
            EC_FUZZ_CHECK(st->path[0] == '$');
            EC_FUZZ_CHECK(st->diagnosis[0] == '\0' || ec_diagnosis_known(st->diagnosis));
            EC_FUZZ_CHECK(st->nalts <= EC_MAX_ALTS);
            EC_FUZZ_CHECK(st->deadline_ms >= 0);
            for (size_t p = 0; p < st->npayloads; p++)
                check_payload(fx, &st->payloads[p]);
            if (st->kind == EC_ST_EXPECT && st->ex == EC_EX_REGEX)
                EC_FUZZ_CHECK(st->re != NULL && st->re_src != NULL);
            if (st->kind == EC_ST_EXPECT && st->ex == EC_EX_DATA)
                check_payload(fx, &st->data);
        }
    }
    for (size_t i = 0; i < fx->nlog; i++)
        EC_FUZZ_CHECK(fx->log[i].re != NULL && fx->log[i].src != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = ec_fuzz_text(data, size);
    char file[80], err[512];
    struct ec_fixture fx;
    if (text == NULL)
        return 0;
    file_name_for(text, file, sizeof file);
    if (ec_fixture_parse(file, text, size, &fx, err, sizeof err) == 0) {
        /* A text with a NUL byte is not JSON text; the loader must refuse it. */
        EC_FUZZ_CHECK(memchr(data, 0, size) == NULL);
        check_fixture(&fx, file);
        ec_fixture_free(&fx);
    } else {
        /* Every refusal names the file and a JSON path. */
        EC_FUZZ_CHECK(strncmp(err, file, strlen(file)) == 0);
        EC_FUZZ_CHECK(strstr(err, ": $") != NULL);
    }
    free(text);
    return 0;
}
