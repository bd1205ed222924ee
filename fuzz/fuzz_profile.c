/* fuzz_profile.c - libFuzzer target: the profile loader (ec__profile_load) on any file.
 *
 * The input becomes the profile file (a memfd, read through /proc/self/fd/N as the
 * engine reads conformance/profiles/<model>.json). Oracle besides "no crash, no leak":
 * an accepted profile is a JSON object of the documented fields only, names its model,
 * and every deviation it loaded has a case, a reason and a diagnosis of the
 * vocabulary; a refusal names the file and a JSON path.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_internal.h"
#include "fuzz_common.h"

/* The fields a profile may have (conformance/README.md). */
static int only_known_fields(const cJSON *root)
{
    static const char *const top[] = {"model", "comment", "observations", "deviations",
                                      "unsupported"};
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        int ok = 0;
        for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
            ok |= strcmp(top[i], it->string) == 0;
        if (!ok)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-profile", 0);
        EC_FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    EC_FUZZ_CHECK(ftruncate(fd, 0) == 0);
    EC_FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

    /* Load the entries of the first deviation's case, so the fuzzer reaches them. */
    char *text = ec_fuzz_text(data, size);
    if (text == NULL)
        return 0;
    cJSON *doc = cJSON_Parse(text);
    struct ec_replay_opts o = {.profile = path};
    struct run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(doc, "deviations");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(devs, 0), "case");
    snprintf(r.fx.name, sizeof r.fx.name, "%s", cJSON_IsString(cs) ? cs->valuestring : "x");

    char err[512] = "";
    if (ec__profile_load(&r, err, sizeof err) == 0) {
        /* A NUL byte would hide what follows it from cJSON: refused. */
        EC_FUZZ_CHECK(memchr(data, 0, size) == NULL);
        EC_FUZZ_CHECK(cJSON_IsObject(doc) && only_known_fields(doc));
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
        EC_FUZZ_CHECK(cJSON_IsString(model) && model->valuestring[0] != '\0');
        for (size_t i = 0; i < r.ndevs; i++) {
            EC_FUZZ_CHECK(strcmp(r.devs[i].case_name, r.fx.name) == 0);
            EC_FUZZ_CHECK(r.devs[i].reason[0] != '\0');
            EC_FUZZ_CHECK(ec_diagnosis_known(r.devs[i].diagnosis));
        }
    } else {
        EC_FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
        EC_FUZZ_CHECK(strstr(err, ": $") != NULL);
    }
    ec__profile_free(&r);
    cJSON_Delete(doc);
    free(text);
    return 0;
}
