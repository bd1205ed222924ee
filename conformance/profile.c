/* profile.c - a model's known deviations as data (conformance/profiles/<model>.json):
 * {case, diagnosis, reason} entries that turn a matching failure into XFAIL and a
 * pass into XPASS (so a profile never goes stale), cases the model cannot run, and
 * which process observations are meaningful for it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* Reads file into a NUL-terminated buffer. Refuses a file above 4 MiB or with a NUL
 * byte (cJSON would stop there and load the part before it). */
static char *slurp(const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 14, len = 0, k;
    char *t = malloc(cap);
    while (t && (k = fread(t + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            if (cap >= (4u << 20)) {
                free(t);
                fclose(f);
                snprintf(err, errlen, "%s: $: larger than 4 MiB", file);
                return NULL;
            }
            char *nt = realloc(t, cap *= 2);
            if (!nt)
                free(t);
            t = nt;
        }
    }
    fclose(f);
    if (!t) {
        snprintf(err, errlen, "%s: out of memory", file);
        return NULL;
    }
    t[len] = 0;
    if (strlen(t) != len) {
        snprintf(err, errlen, "%s: $: a NUL byte at offset %zu (a profile is JSON text)", file,
                 strlen(t));
        free(t);
        return NULL;
    }
    return t;
}

static int bad(char *err, size_t errlen, const char *file, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s: %s", file, path, why);
    return -1;
}

static int only(const cJSON *o, const char *const *allowed, const char *file, const char *path,
                char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, it->string) == 0;
        if (!ok) {
            char p[200], w[160];
            snprintf(p, sizeof p, "%s.%s", path, it->string);
            snprintf(w, sizeof w, "unknown field \"%s\"", it->string);
            return bad(err, errlen, file, p, w);
        }
    }
    return 0;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* Does a may-entry's reason give measured run counts: "N of M runs"? */
static int measured(const char *reason)
{
    for (const char *p = reason; *p; p++) {
        unsigned a, b;
        int n = 0;
        if (p[0] >= '0' && p[0] <= '9' && (p == reason || p[-1] < '0' || p[-1] > '9') &&
            sscanf(p, "%u of %u run%n", &a, &b, &n) == 2 && n > 0 && a <= b)
            return 1;
    }
    return 0;
}

int ec__profile_load(struct run *r, char *err, size_t errlen)
{
    const struct ec_replay_opts *o = r->o;
    int win32 = r->under_wine;
    /* Under Wine the process we see is the Wine loader with Wine's own descriptors,
     * so a descriptor count says nothing about the server; CPU time is still the
     * server's (it runs in that process). */
    r->obs_fds = !win32 && !o->target;
    r->obs_cpu = !o->target;
    r->obs_rss = !o->target;
    const char *file = o->profile;
    if (!file && o->model && o->profile_dir) {
        snprintf(r->profile_file, sizeof r->profile_file, "%s/%s.json", o->profile_dir, o->model);
        FILE *f = fopen(r->profile_file, "r");
        if (!f) {
            r->profile_file[0] = 0;
            return 0; /* no profile: no declared deviations */
        }
        fclose(f);
        file = r->profile_file;
    }
    if (!file)
        return 0;
    if (file != r->profile_file)
        snprintf(r->profile_file, sizeof r->profile_file, "%s", file);
    char *text = slurp(file, err, errlen);
    if (!text)
        return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    free(text);
    if (!root)
        return bad(err, errlen, file, "$", "malformed JSON");
    int rc = -1;
    static const char *const top[] = {
        "model", "comment", "observations", "deviations", "unsupported", "may", NULL};
    if (!cJSON_IsObject(root)) {
        bad(err, errlen, file, "$", "a profile is a JSON object");
        goto out;
    }
    if (only(root, top, file, "$", err, errlen) < 0)
        goto out;
    const char *model = str_member(root, "model");
    if (!model) {
        bad(err, errlen, file, "$.model", "missing (the model id)");
        goto out;
    }
    if (o->model && strcmp(model, o->model) != 0) {
        char w[200];
        snprintf(w, sizeof w, "profile of \"%s\" used for model \"%s\"", model, o->model);
        bad(err, errlen, file, "$.model", w);
        goto out;
    }
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(root, "observations");
    if (obs) {
        static const char *const of[] = {"fds", "cpu", "rss", "comment", NULL};
        if (!cJSON_IsObject(obs)) {
            bad(err, errlen, file, "$.observations", "must be {\"fds\": bool, \"cpu\": bool, \"rss\": bool}");
            goto out;
        }
        if (only(obs, of, file, "$.observations", err, errlen) < 0)
            goto out;
        const cJSON *fds = cJSON_GetObjectItemCaseSensitive(obs, "fds");
        const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(obs, "cpu");
        const cJSON *rss = cJSON_GetObjectItemCaseSensitive(obs, "rss");
        if ((fds && !cJSON_IsBool(fds)) || (cpu && !cJSON_IsBool(cpu)) ||
            (rss && !cJSON_IsBool(rss))) {
            bad(err, errlen, file, "$.observations", "fds, cpu and rss are true or false");
            goto out;
        }
        if (rss && cJSON_IsFalse(rss))
            r->obs_rss = 0;
        if (fds && cJSON_IsFalse(fds))
            r->obs_fds = 0;
        if (cpu && cJSON_IsFalse(cpu))
            r->obs_cpu = 0;
    }
    /* deviations (li 0), unsupported (li 1) and may-entries (li 2, fields as a
     * deviation's). */
    const char *lists[3] = {"deviations", "unsupported", "may"};
    for (int li = 0; li < 3; li++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, lists[li]);
        if (!arr)
            continue;
        char p[160];
        snprintf(p, sizeof p, "$.%s", lists[li]);
        if (!cJSON_IsArray(arr)) {
            bad(err, errlen, file, p, "must be an array");
            goto out;
        }
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            char q[200];
            snprintf(q, sizeof q, "%s[%d]", p, i++);
            static const char *const df[] = {"case", "diagnosis", "reason", "comment", NULL};
            static const char *const uf[] = {"case", "reason", "comment", NULL};
            if (!cJSON_IsObject(e)) {
                bad(err, errlen, file, q, "must be an object");
                goto out;
            }
            if (only(e, li != 1 ? df : uf, file, q, err, errlen) < 0)
                goto out;
            const char *cs = str_member(e, "case"), *dg = str_member(e, "diagnosis"),
                       *rs = str_member(e, "reason");
            if (!cs || !rs || (li != 1 && !dg)) {
                bad(err, errlen, file, q,
                    li == 0   ? "needs case, diagnosis and reason (every deviation says why)"
                    : li == 2 ? "needs case, diagnosis and reason (every may-entry says why)"
                              : "needs case and reason");
                goto out;
            }
            if (li == 2 && !measured(rs)) {
                snprintf(q + strlen(q), sizeof q - strlen(q), ".reason");
                bad(err, errlen, file, q,
                    "a may-entry gives its measured run counts (\"... in N of M runs\")");
                goto out;
            }
            if (li != 1 && !ec_diagnosis_known(dg)) {
                char w[160];
                snprintf(w, sizeof w, "\"%s\" is not a diagnosis of the vocabulary", dg);
                snprintf(q + strlen(q), sizeof q - strlen(q), ".diagnosis");
                bad(err, errlen, file, q, w);
                goto out;
            }
            if (strcmp(cs, r->fx.name) != 0)
                continue;
            if (li == 1) {
                snprintf(r->unsupported_reason, sizeof r->unsupported_reason, "%s", rs);
                continue;
            }
            if (li == 2) {
                if (r->may || r->ndevs) {
                    bad(err, errlen, file, q,
                        "a case has one may-entry and no deviation besides it (a may-entry "
                        "already accepts a pass or its diagnosis)");
                    goto out;
                }
                r->may = calloc(1, sizeof *r->may);
                if (!r->may) {
                    bad(err, errlen, file, q, "out of memory");
                    goto out;
                }
                r->may->case_name = strdup(cs);
                r->may->diagnosis = strdup(dg);
                r->may->reason = strdup(rs);
                continue;
            }
            struct deviation *nd = realloc(r->devs, (r->ndevs + 1) * sizeof *nd);
            if (!nd) {
                bad(err, errlen, file, q, "out of memory");
                goto out;
            }
            r->devs = nd;
            r->devs[r->ndevs].case_name = strdup(cs);
            r->devs[r->ndevs].diagnosis = strdup(dg);
            r->devs[r->ndevs].reason = strdup(rs);
            r->ndevs++;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* "capacity-limit" declared matches "capacity-limit:63" seen; otherwise exact. */
static int diag_matches(const char *declared, const char *seen)
{
    size_t n = strlen(declared);
    if (strcmp(declared, seen) == 0)
        return 1;
    return strchr(declared, ':') == NULL && strncmp(declared, seen, n) == 0 && seen[n] == ':';
}

enum ec_verdict ec__profile_apply(struct run *r, enum ec_verdict raw)
{
    if (r->may && raw != EC_V_ERROR && raw != EC_V_UNSUPPORTED) {
        /* A may-entry: the server's own scheduling decides between a pass and exactly
         * this diagnosis; anything else is a failure as usual. */
        if (raw == EC_V_PASS || raw == EC_V_PASS_NONSTRICT ||
            diag_matches(r->may->diagnosis, r->diagnosis))
            return EC_V_MAY;
        return raw;
    }
    if (!r->ndevs || raw == EC_V_ERROR || raw == EC_V_UNSUPPORTED)
        return raw;
    /* A SHOULD-level case that missed its SHOULD is PASS-NONSTRICT with a diagnosis:
     * declared, it is the known deviation (XFAIL); any other pass means the declared
     * one did not happen. */
    if (raw == EC_V_PASS || (raw == EC_V_PASS_NONSTRICT && !r->should_missed)) {
        r->dev = &r->devs[0];
        return EC_V_XPASS;
    }
    for (size_t i = 0; i < r->ndevs; i++)
        if (diag_matches(r->devs[i].diagnosis, r->diagnosis)) {
            r->dev = &r->devs[i];
            return EC_V_XFAIL;
        }
    r->dev = &r->devs[0];
    return raw == EC_V_PASS_NONSTRICT ? EC_V_XPASS : raw;
}

void ec__profile_free(struct run *r)
{
    for (size_t i = 0; i < r->ndevs; i++) {
        free(r->devs[i].case_name);
        free(r->devs[i].diagnosis);
        free(r->devs[i].reason);
    }
    free(r->devs);
    r->devs = NULL;
    r->ndevs = 0;
    if (r->may) {
        free(r->may->case_name);
        free(r->may->diagnosis);
        free(r->may->reason);
        free(r->may);
        r->may = NULL;
    }
}
