/* echoconf_gallery.c - `echoconf gallery`: the mutation score of the catalogue. It runs
 * the faulty family through `echoconf matrix` (or, with --no-run, reads its last
 * results), then compares each faulty server's JSON results with the deviations its
 * profile declares: a bug is caught when a case failed with the declared diagnosis
 * (XFAIL). It also lists the catalogue cases that no faulty server fails.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echoconf_cli.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

#define GAL_MAX 256

struct gal_model {
    char id[64];
    char family[16];
    char skip[256];
};

/* The manifest the matrix registration wrote: models (all families) and cases. */
struct gal_manifest {
    struct gal_model *models;
    char (*cases)[64];
    size_t nm, nc;
};

static int load_manifest(const char *build, struct gal_manifest *m, const char *who)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/conformance/manifest.tsv", build);
    char *man = ec_cli_read_file(path);
    if (!man) {
        fprintf(stderr, "%s: %s: cannot read the manifest (configure the build first)\n", who,
                path);
        return -1;
    }
    m->models = calloc(GAL_MAX, sizeof *m->models);
    m->cases = calloc(GAL_MAX, sizeof *m->cases);
    m->nm = m->nc = 0;
    if (!m->models || !m->cases) {
        free(man);
        fprintf(stderr, "%s: out of memory\n", who);
        return -1;
    }
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
        if (k >= 3 && strcmp(f[0], "model") == 0 && m->nm < GAL_MAX) {
            struct gal_model *g = &m->models[m->nm++];
            snprintf(g->id, sizeof g->id, "%s", f[1]);
            snprintf(g->family, sizeof g->family, "%s", f[2]);
            snprintf(g->skip, sizeof g->skip, "%s", k > 3 ? f[3] : "");
        } else if (k >= 2 && strcmp(f[0], "case") == 0 && m->nc < GAL_MAX) {
            snprintf(m->cases[m->nc++], 64, "%s", f[1]);
        }
    }
    free(man);
    return 0;
}

static void free_manifest(struct gal_manifest *m)
{
    free(m->models);
    free(m->cases);
}

/* Reads the verdict and diagnosis of one result; "" when there is none. */
static void read_result(const char *build, const char *model, const char *cs, char *verdict,
                        size_t vlen, char *diag, size_t dlen)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/conformance-results/%s/%s.json", build, model, cs);
    verdict[0] = diag[0] = 0;
    char *t = ec_cli_read_file(path);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (!j)
        return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "diagnosis");
    if (cJSON_IsString(v))
        snprintf(verdict, vlen, "%s", v->valuestring);
    if (cJSON_IsString(d))
        snprintf(diag, dlen, "%s", d->valuestring);
    cJSON_Delete(j);
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
static int declared(const char *profile_dir, const char *model, char *out, size_t len,
                    char *err, size_t errlen)
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

/* The reason conformance/README.md gives for a toothless case: the bullet
 * "- `case`: reason" (continued on following indented lines) of its section
 * "## Cases no faulty server fails". "" when it gives none. */
static void toothless_reason(const char *readme, const char *cs, char *out, size_t len)
{
    out[0] = 0;
    if (!readme)
        return;
    const char *sec = strstr(readme, "\n## Cases no faulty server fails");
    if (!sec)
        return;
    const char *end = strstr(sec + 1, "\n## ");
    char key[80];
    snprintf(key, sizeof key, "\n- `%s`: ", cs);
    const char *p = strstr(sec, key);
    if (!p || (end && p > end))
        return;
    p += strlen(key);
    size_t o = 0;
    /* The bullet ends at a blank line, the next bullet or the next heading. */
    while (*p && o + 1 < len) {
        if (*p == '\n') {
            if (p[1] == '\n' || p[1] == '-' || p[1] == '#' || p[1] == 0)
                break;
            while (p[1] == ' ')
                p++;
            out[o++] = ' ';
            p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = 0;
}

int ec_gallery_score(const char *build, const char *profile_dir, int print, int *caught,
                     int *total)
{
    struct gal_manifest m;
    *caught = *total = 0;
    if (load_manifest(build, &m, "echoconf gallery") < 0)
        return -1;
    int *teeth = calloc(m.nc ? m.nc : 1, sizeof *teeth);
    if (!teeth) {
        free_manifest(&m);
        return -1;
    }
    if (print)
        printf("\n%-40s %-15s %s | %s\n", "faulty server", "verdict", "declared diagnosis",
               "cases that caught it");
    int skipped = 0;
    for (size_t i = 0; i < m.nm; i++) {
        const struct gal_model *g = &m.models[i];
        if (strcmp(g->family, "faulty") != 0)
            continue;
        char decl[256], err[PATH_MAX + 256] = "";
        int ndecl = declared(profile_dir, g->id, decl, sizeof decl, err, sizeof err);
        if (g->skip[0]) {
            /* A server this build cannot run is not measured, so not counted. */
            skipped++;
            if (print)
                printf("%-40s %-15s %s | - (%s)\n", g->id, "not-measured",
                       ndecl > 0 ? decl : "-", g->skip);
            continue;
        }
        (*total)++;
        char by[1024] = "", other[1024] = "", stale[512] = "";
        int nres = 0, nx = 0, nf = 0;
        for (size_t c = 0; c < m.nc; c++) {
            char v[24], d[64], item[160];
            read_result(build, g->id, m.cases[c], v, sizeof v, d, sizeof d);
            if (!v[0])
                continue;
            nres++;
            if (strcmp(v, "XFAIL") == 0) {
                nx++;
                teeth[c] = 1;
                append(by, sizeof by, ", ", m.cases[c]);
            } else if (strcmp(v, "FAIL") == 0 || strcmp(v, "TIMEOUT") == 0) {
                nf++;
                teeth[c] = 1;
                snprintf(item, sizeof item, "%s (%s)", m.cases[c], d[0] ? d : v);
                append(other, sizeof other, ", ", item);
            } else if (strcmp(v, "XPASS") == 0) {
                append(stale, sizeof stale, ", ", m.cases[c]);
            }
        }
        const char *verdict;
        char detail[1600] = "";
        if (!nres) {
            verdict = "NO-RESULTS";
            snprintf(detail, sizeof detail, "; no results (run without --no-run)");
        } else if (nx) {
            verdict = "caught";
            (*caught)++;
        } else if (nf) {
            verdict = "WRONG-DIAGNOSIS";
            snprintf(detail, sizeof detail, "; failed undeclared: %s", other);
        } else {
            verdict = "MISSED";
        }
        if (nx && nf)
            snprintf(detail, sizeof detail, "; also failed undeclared: %s", other);
        if (stale[0]) {
            append(detail, sizeof detail, "", "; declared but passed (XPASS): ");
            append(detail, sizeof detail, "", stale);
        }
        if (ndecl < 0) {
            append(detail, sizeof detail, "", "; ");
            append(detail, sizeof detail, "", err);
        } else if (ndecl == 0)
            append(detail, sizeof detail, "", "; its profile declares no case");
        if (print)
            printf("%-40s %-15s %s | %s%s\n", g->id, verdict, ndecl > 0 ? decl : "-",
                   by[0] ? by : "-", detail);
    }
    if (print) {
        char *readme = ec_cli_read_file(EC_SOURCE_DIR "/conformance/README.md");
        printf("\ntoothless cases (no faulty server fails them):\n");
        int any = 0;
        for (size_t c = 0; c < m.nc && *total; c++) {
            if (teeth[c])
                continue;
            char why[600];
            toothless_reason(readme, m.cases[c], why, sizeof why);
            printf("  %-28s %s\n", m.cases[c],
                   why[0] ? why : "(no reason given in conformance/README.md)");
            any = 1;
        }
        if (!any)
            printf("  none\n");
        free(readme);
        if (skipped)
            printf("\n%d faulty server%s not measured in this build (not counted).\n", skipped,
                   skipped == 1 ? "" : "s");
    }
    free(teeth);
    free_manifest(&m);
    return 0;
}

int ec_cli_gallery(int argc, char **argv)
{
    char build[PATH_MAX] = "";
    const char *profile_dir = EC_SOURCE_DIR "/conformance/profiles";
    const char *jobs = "4";
    int run = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: echoconf gallery [--build DIR] [-j N] [--no-run] [--profile-dir DIR]\n"
                   "Runs the faulty family through `echoconf matrix` (unless --no-run), then\n"
                   "prints each faulty server's declared diagnoses, the cases that caught it and\n"
                   "its verdict, the cases no faulty server fails, and the mutation score.\n"
                   "Exit status: 0 only when every measured bug was caught with its declared\n"
                   "diagnosis, 1 otherwise, 2 on bad usage or a missing build.\n");
            return 0;
        }
        if (strcmp(a, "--build") == 0 && has)
            snprintf(build, sizeof build, "%s", argv[++i]);
        else if (strcmp(a, "--profile-dir") == 0 && has)
            profile_dir = argv[++i];
        else if (strcmp(a, "-j") == 0 && has)
            jobs = argv[++i];
        else if (strcmp(a, "--no-run") == 0)
            run = 0;
        else {
            fprintf(stderr,
                    "echoconf gallery: %s: %s\n"
                    "usage: echoconf gallery [--build DIR] [-j N] [--no-run] "
                    "[--profile-dir DIR]\n",
                    a,
                    (strcmp(a, "--build") == 0 || strcmp(a, "-j") == 0 ||
                     strcmp(a, "--profile-dir") == 0)
                        ? "needs a value"
                        : "unknown option");
            return 2;
        }
    }
    if (!build[0] && ec_cli_default_build(build, sizeof build) < 0) {
        fprintf(stderr, "echoconf gallery: cannot find the build directory; use --build DIR\n");
        return 2;
    }
    if (run) {
        /* The matrix of the faulty family runs the tests and writes the results; its
         * own exit status (a stale profile is XPASS) is reported by its table. */
        char *margv[] = {argv[0], "matrix", "--build", build, "-j", (char *)jobs,
                         "--family", "faulty", NULL};
        int rc = ec_cli_matrix(8, margv);
        if (rc == 2)
            return 2;
    }
    int caught = 0, total = 0;
    if (ec_gallery_score(build, profile_dir, 1, &caught, &total) < 0)
        return 2;
    if (!total) {
        fprintf(stderr, "echoconf gallery: no faulty server is registered in %s\n", build);
        return 2;
    }
    printf("\nmutation score: %d of %d bugs caught with the declared diagnosis (%d%%)\n",
           caught, total, caught * 100 / total);
    return caught == total ? 0 : 1;
}
