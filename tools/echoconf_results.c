/* echoconf_results.c - the reading side of `echoconf matrix` and `echoconf gallery`:
 * the manifest of a build, one cell's JSON result, and the mutation score (which
 * faulty server some case caught with its declared diagnosis).
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echoconf_results.h"

#define MANIFEST_MAX 256 /* models, and cases, a manifest may hold */

char *ec_cli_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, len = 0, k;
    char *t = malloc(cap);
    while (t && (k = fread(t + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            char *nt = realloc(t, cap *= 2);
            if (!nt)
                free(t);
            t = nt;
        }
    }
    fclose(f);
    if (t)
        t[len] = 0;
    return t;
}

int ec_cli_default_build(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *s = strrchr(exe, '/');
    if (!s)
        return -1;
    *s = 0; /* .../bin */
    s = strrchr(exe, '/');
    if (!s)
        return -1;
    *s = 0;
    snprintf(out, len, "%s", exe);
    return 0;
}

int ec_manifest_load(const char *build, const char *family, struct ec_manifest *m, const char *who)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/conformance/manifest.tsv", build);
    memset(m, 0, sizeof *m);
    char *man = ec_cli_read_file(path);
    if (!man) {
        fprintf(stderr,
                "%s: %s: cannot read the manifest (configure and build first: cmake "
                "--preset default && cmake --build --preset default)\n",
                who, path);
        return -1;
    }
    m->models = calloc(MANIFEST_MAX, sizeof *m->models);
    m->cases = calloc(MANIFEST_MAX, sizeof *m->cases);
    if (!m->models || !m->cases) {
        free(man);
        ec_manifest_free(m);
        fprintf(stderr, "%s: out of memory\n", who);
        return -1;
    }
    /* One line a model ("model\tid\tfamily\tskip reason") or a case ("case\tname"). */
    for (char *save = NULL, *line = strtok_r(man, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {0};
        int k = 0;
        for (char *p = line; k < 4;) {
            f[k++] = p;
            char *t = strchr(p, '\t');
            if (!t)
                break;
            *t = 0;
            p = t + 1;
        }
        if (k >= 3 && strcmp(f[0], "model") == 0 && m->nm < MANIFEST_MAX) {
            if (family && strcmp(family, f[2]) != 0)
                continue;
            struct ec_manifest_model *g = &m->models[m->nm++];
            snprintf(g->id, sizeof g->id, "%s", f[1]);
            snprintf(g->family, sizeof g->family, "%s", f[2]);
            snprintf(g->skip, sizeof g->skip, "%s", k > 3 ? f[3] : "");
        } else if (k >= 2 && strcmp(f[0], "case") == 0 && m->nc < MANIFEST_MAX) {
            snprintf(m->cases[m->nc++], sizeof m->cases[0], "%s", f[1]);
        }
    }
    free(man);
    return 0;
}

int ec_glob_list_match(const char *list, const char *name)
{
    if (!list || !list[0])
        return 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    int plain = 0, hit = 0;
    for (char *save = NULL, *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        if (g[0] == '!') {
            if (fnmatch(g + 1, name, 0) == 0)
                return 0;
            continue;
        }
        plain = 1;
        hit |= fnmatch(g, name, 0) == 0;
    }
    return !plain || hit;
}

int ec_manifest_filter(struct ec_manifest *m, const char *models, const char *cases,
                       const char *who)
{
    size_t k = 0, before = m->nm;
    for (size_t i = 0; i < m->nm; i++)
        if (ec_glob_list_match(models, m->models[i].id))
            m->models[k++] = m->models[i];
    m->nm = k;
    if (before && !k) {
        fprintf(stderr, "%s: --models %s: no registered model matches\n", who, models);
        return -1;
    }
    before = m->nc;
    k = 0;
    for (size_t i = 0; i < m->nc; i++)
        if (ec_glob_list_match(cases, m->cases[i]))
            memcpy(m->cases[k++], m->cases[i], sizeof m->cases[0]);
    m->nc = k;
    if (before && !k) {
        fprintf(stderr, "%s: --case %s: no registered case matches\n", who, cases);
        return -1;
    }
    return 0;
}

void ec_manifest_free(struct ec_manifest *m)
{
    free(m->models);
    free(m->cases);
    m->models = NULL;
    m->cases = NULL;
    m->nm = m->nc = 0;
}

cJSON *ec_cell_json_read(const char *build, const char *model, const char *cs)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/conformance-results/%s/%s.json", build, model, cs);
    char *t = ec_cli_read_file(path);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

void ec_cell_result_from_json(const cJSON *j, struct ec_cell_result *r)
{
    memset(r, 0, sizeof *r);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "diagnosis");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(j, "reason");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(v))
        snprintf(r->verdict, sizeof r->verdict, "%s", v->valuestring);
    if (cJSON_IsString(d))
        snprintf(r->diagnosis, sizeof r->diagnosis, "%s", d->valuestring);
    if (cJSON_IsString(why))
        snprintf(r->reason, sizeof r->reason, "%s", why->valuestring);
    else if (cJSON_IsString(e))
        snprintf(r->reason, sizeof r->reason, "%s", e->valuestring);
}

int ec_cell_result_read(const char *build, const char *model, const char *cs,
                        struct ec_cell_result *r)
{
    cJSON *j = ec_cell_json_read(build, model, cs);
    int rc = j ? 0 : -1;
    ec_cell_result_from_json(j, r);
    cJSON_Delete(j);
    return rc;
}

/* Appends "sep text" to a bounded list buffer, marking it "..." once full. */
static void append(char *buf, size_t len, const char *sep, const char *text)
{
    size_t o = strlen(buf);
    if (o + 4 >= len)
        return;
    int n = snprintf(buf + o, len - o, "%s%s", o ? sep : "", text);
    if (n < 0 || (size_t)n >= len - o)
        memcpy(buf + len - 4, "...", 4);
}

/* The declared diagnoses of a profile, unique, comma-separated into out; the number
 * of deviations, or -1 with a reason in err when the profile cannot be read. */
static int declared(const char *profile_dir, const char *model, char *out, size_t len, char *err,
                    size_t errlen)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s.json", profile_dir, model);
    out[0] = 0;
    char *t = ec_cli_read_file(path);
    if (!t) {
        snprintf(err, errlen, "no profile %.*s", (int)(errlen > 12 ? errlen - 12 : 0), path);
        return -1;
    }
    cJSON *j = cJSON_Parse(t);
    free(t);
    if (!j) {
        snprintf(err, errlen, "%.*s: not valid JSON", (int)(errlen > 20 ? errlen - 20 : 0), path);
        return -1;
    }
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "deviations");
    const cJSON *d;
    int n = 0;
    cJSON_ArrayForEach(d, devs)
    {
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(d, "diagnosis");
        if (!cJSON_IsString(dg))
            continue;
        n++;
        /* Unique names only: "stall" declared for five cases is one diagnosis. */
        int seen = 0;
        for (const char *p = out; (p = strstr(p, dg->valuestring)) != NULL; p++) {
            size_t k = strlen(dg->valuestring);
            if ((p == out || p[-1] == ' ') && (p[k] == ',' || p[k] == 0))
                seen = 1;
        }
        if (!seen)
            append(out, len, ", ", dg->valuestring);
    }
    cJSON_Delete(j);
    return n;
}

/* Scores one faulty server that this build runs into row. Returns 1 when caught. */
static int score_server(const char *build, struct ec_score *s, struct ec_score_row *row, int ndecl,
                        const char *err)
{
    char other[1024] = "", stale[512] = "";
    int nres = 0, nx = 0, nf = 0;
    for (size_t c = 0; c < s->m.nc; c++) {
        struct ec_cell_result r;
        char item[160];
        if (ec_cell_result_read(build, row->id, s->m.cases[c], &r) < 0 || !r.verdict[0])
            continue;
        nres++;
        if (strcmp(r.verdict, "XFAIL") == 0) {
            nx++;
            s->teeth[c] = 1;
            append(row->by, sizeof row->by, ", ", s->m.cases[c]);
        } else if (strcmp(r.verdict, "FAIL") == 0 || strcmp(r.verdict, "TIMEOUT") == 0) {
            nf++;
            s->teeth[c] = 1;
            snprintf(item, sizeof item, "%s (%s)", s->m.cases[c],
                     r.diagnosis[0] ? r.diagnosis : r.verdict);
            append(other, sizeof other, ", ", item);
        } else if (strcmp(r.verdict, "XPASS") == 0) {
            append(stale, sizeof stale, ", ", s->m.cases[c]);
        }
    }
    if (!nres) {
        row->verdict = "NO-RESULTS";
        append(row->detail, sizeof row->detail, "", "; no results (run without --no-run)");
    } else if (nx) {
        row->verdict = "caught";
    } else if (nf) {
        row->verdict = "WRONG-DIAGNOSIS";
    } else {
        row->verdict = "MISSED";
    }
    if (nf) {
        append(row->detail, sizeof row->detail, "",
               nx ? "; also failed undeclared: " : "; failed undeclared: ");
        append(row->detail, sizeof row->detail, "", other);
    }
    if (stale[0]) {
        append(row->detail, sizeof row->detail, "", "; declared but passed (XPASS): ");
        append(row->detail, sizeof row->detail, "", stale);
    }
    if (ndecl < 0) {
        append(row->detail, sizeof row->detail, "", "; ");
        append(row->detail, sizeof row->detail, "", err);
    } else if (ndecl == 0) {
        append(row->detail, sizeof row->detail, "", "; its profile declares no case");
    }
    return nx > 0;
}

int ec_score_compute(const char *build, const char *profile_dir, const char *models,
                     struct ec_score *s)
{
    memset(s, 0, sizeof *s);
    if (ec_manifest_load(build, "faulty", &s->m, "echoconf gallery") < 0)
        return -1;
    if (ec_manifest_filter(&s->m, models, NULL, "echoconf gallery") < 0) {
        ec_manifest_free(&s->m);
        return -1;
    }
    s->rows = calloc(s->m.nm ? s->m.nm : 1, sizeof *s->rows);
    s->teeth = calloc(s->m.nc ? s->m.nc : 1, sizeof *s->teeth);
    if (!s->rows || !s->teeth) {
        fprintf(stderr, "echoconf gallery: out of memory\n");
        ec_score_free(s);
        return -1;
    }
    for (size_t i = 0; i < s->m.nm; i++) {
        const struct ec_manifest_model *g = &s->m.models[i];
        struct ec_score_row *row = &s->rows[s->nrows++];
        char err[PATH_MAX + 256] = "";
        snprintf(row->id, sizeof row->id, "%s", g->id);
        int ndecl =
            declared(profile_dir, g->id, row->declared, sizeof row->declared, err, sizeof err);
        if (ndecl <= 0)
            snprintf(row->declared, sizeof row->declared, "-");
        if (g->skip[0]) {
            /* A server this build cannot run is not measured, so not counted. */
            row->verdict = "not-measured";
            snprintf(row->by, sizeof row->by, "- (%s)", g->skip);
            s->skipped++;
            continue;
        }
        s->total++;
        s->caught += score_server(build, s, row, ndecl, err);
        if (!row->by[0])
            snprintf(row->by, sizeof row->by, "-");
    }
    return 0;
}

void ec_score_free(struct ec_score *s)
{
    ec_manifest_free(&s->m);
    free(s->rows);
    free(s->teeth);
    s->rows = NULL;
    s->teeth = NULL;
}
