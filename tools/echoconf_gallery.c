/* echoconf_gallery.c - `echoconf gallery`: the mutation score of the catalogue. It runs
 * the faulty family through `echoconf matrix` (or, with --no-run, reads its last
 * results), then compares each faulty server's JSON results with the deviations its
 * profile declares: a bug is caught when a case failed with the declared diagnosis
 * (XFAIL). It also lists the catalogue cases that no faulty server fails.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echoconf_cli.h"
#include "echoconf_results.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

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

/* Prints the score's rows and the catalogue cases no faulty server fails. */
static void print_score(const struct ec_score *s)
{
    printf("\n%-40s %-15s %s | %s\n", "faulty server", "verdict", "declared diagnosis",
           "cases that caught it");
    for (size_t i = 0; i < s->nrows; i++) {
        const struct ec_score_row *r = &s->rows[i];
        printf("%-40s %-15s %s | %s%s\n", r->id, r->verdict, r->declared, r->by, r->detail);
    }
    char *readme = ec_cli_read_file(EC_SOURCE_DIR "/conformance/README.md");
    printf("\ntoothless cases (no faulty server fails them):\n");
    int any = 0;
    for (size_t c = 0; c < s->m.nc && s->total; c++) {
        if (s->teeth[c])
            continue;
        char why[600];
        toothless_reason(readme, s->m.cases[c], why, sizeof why);
        printf("  %-28s %s\n", s->m.cases[c],
               why[0] ? why : "(no reason given in conformance/README.md)");
        any = 1;
    }
    if (!any)
        printf("  none\n");
    free(readme);
    if (s->skipped)
        printf("\n%d faulty server%s not measured in this build (not counted).\n", s->skipped,
               s->skipped == 1 ? "" : "s");
}

/* Catches per faulty server over repeated runs (gallery --repeat). */
struct rate {
    char id[64];
    int caught_runs; /* runs in which a case failed with a declared diagnosis (XFAIL) */
    int runs;        /* runs measured */
};

struct tally {
    const char *build, *profile_dir, *models;
    struct rate rates[256];
    size_t n;
};

/* After each run of the matrix: one more run for every measured faulty server, one
 * more caught run for those the score says were caught. */
static void tally_run(int run, void *arg)
{
    struct tally *t = arg;
    struct ec_score s;
    (void)run;
    if (ec_score_compute(t->build, t->profile_dir, t->models, &s) < 0)
        return;
    for (size_t i = 0; i < s.nrows; i++) {
        const struct ec_score_row *row = &s.rows[i];
        if (strcmp(row->verdict, "not-measured") == 0)
            continue;
        struct rate *r = NULL;
        for (size_t k = 0; k < t->n; k++)
            if (strcmp(t->rates[k].id, row->id) == 0)
                r = &t->rates[k];
        if (!r && t->n < sizeof t->rates / sizeof t->rates[0]) {
            r = &t->rates[t->n++];
            snprintf(r->id, sizeof r->id, "%s", row->id);
        }
        if (!r)
            continue;
        r->runs++;
        r->caught_runs += strcmp(row->verdict, "caught") == 0;
    }
    ec_score_free(&s);
}

int ec_cli_gallery(int argc, char **argv)
{
    char build[PATH_MAX] = "";
    const char *profile_dir = EC_SOURCE_DIR "/conformance/profiles";
    const char *jobs = "4", *repeat = NULL, *models = NULL;
    int run = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: echoconf gallery [--build DIR] [-j N] [--no-run | --repeat N]\n"
                   "                        [--profile-dir DIR] [--models GLOB[,GLOB]]\n"
                   "Runs the faulty family through `echoconf matrix` (unless --no-run), then\n"
                   "prints each faulty server's declared diagnoses, the cases that caught it and\n"
                   "its verdict, the cases no faulty server fails, and the mutation score.\n"
                   "A may-entry (MAY) never counts as a catch. --repeat N runs the matrix N\n"
                   "times, lists the cells that changed between runs, and prints each faulty\n"
                   "server's catch rate (runs in which a case caught it). --models GLOB[,GLOB]\n"
                   "runs and scores only the faulty servers whose id matches a glob (fnmatch; a\n"
                   "glob after ! leaves out what it matches, as in echoconf matrix).\n"
                   "Exit status: 0 only when every measured bug was caught with its declared\n"
                   "diagnosis (in every run, and no cell changed), 1 otherwise, 2 on bad usage\n"
                   "or a missing build.\n");
            return 0;
        }
        if (strcmp(a, "--build") == 0 && has)
            snprintf(build, sizeof build, "%s", argv[++i]);
        else if (strcmp(a, "--profile-dir") == 0 && has)
            profile_dir = argv[++i];
        else if (strcmp(a, "-j") == 0 && has)
            jobs = argv[++i];
        else if (strcmp(a, "--repeat") == 0 && has)
            repeat = argv[++i];
        else if (strcmp(a, "--models") == 0 && has)
            models = argv[++i];
        else if (strcmp(a, "--no-run") == 0)
            run = 0;
        else {
            fprintf(stderr,
                    "echoconf gallery: %s: %s\n"
                    "usage: echoconf gallery [--build DIR] [-j N] [--no-run | --repeat N] "
                    "[--profile-dir DIR] [--models GLOB[,GLOB]]\n",
                    a,
                    (strcmp(a, "--build") == 0 || strcmp(a, "-j") == 0 ||
                     strcmp(a, "--profile-dir") == 0 || strcmp(a, "--repeat") == 0 ||
                     strcmp(a, "--models") == 0)
                        ? "needs a value"
                        : "unknown option");
            return 2;
        }
    }
    if (!build[0] && ec_cli_default_build(build, sizeof build) < 0) {
        fprintf(stderr, "echoconf gallery: cannot find the build directory; use --build DIR\n");
        return 2;
    }
    if (repeat && !run) {
        fprintf(stderr, "echoconf gallery: --repeat runs the tests; it cannot go with --no-run\n");
        return 2;
    }
    struct tally *ta = calloc(1, sizeof *ta);
    if (!ta) {
        fprintf(stderr, "echoconf gallery: out of memory\n");
        return 2;
    }
    ta->build = build;
    ta->profile_dir = profile_dir;
    ta->models = models;
    int changed = 0;
    if (run) {
        /* The matrix of the faulty family runs the tests and writes the results; its
         * own exit status (a stale profile is XPASS) is reported by its table. With
         * --repeat, each run's catches are counted as it ends. */
        char *margv[] = {argv[0],
                         "matrix",
                         "--build",
                         build,
                         "-j",
                         (char *)jobs,
                         "--family",
                         "faulty",
                         "--repeat",
                         (char *)(repeat ? repeat : "1"),
                         "--models",
                         (char *)(models ? models : "*"),
                         NULL};
        int rc = ec_cli_matrix_runs(12, margv, repeat ? tally_run : NULL, ta);
        if (rc == 2) {
            free(ta);
            return 2;
        }
        changed = repeat && rc == 1; /* a failing or a changed cell in some run */
    }
    struct ec_score s;
    if (ec_score_compute(build, profile_dir, models, &s) < 0) {
        free(ta);
        return 2;
    }
    print_score(&s);
    int caught = s.caught, total = s.total;
    ec_score_free(&s);
    if (!total) {
        fprintf(stderr, "echoconf gallery: no faulty server is registered in %s\n", build);
        free(ta);
        return 2;
    }
    printf("\nmutation score: %d of %d bugs caught with the declared diagnosis (%d%%)\n", caught,
           total, caught * 100 / total);
    if (!repeat) {
        free(ta);
        return caught == total ? 0 : 1;
    }
    /* The catch rate: in how many runs some case caught each server. */
    size_t always = 0;
    printf("\ncatch rate over %d runs (runs in which a case caught the server with a declared "
           "diagnosis; may-entries never count):\n",
           ta->n ? ta->rates[0].runs : 0);
    for (size_t k = 0; k < ta->n; k++) {
        const struct rate *r = &ta->rates[k];
        printf("  %-40s %d of %d%s\n", r->id, r->caught_runs, r->runs,
               r->caught_runs == r->runs ? "" : "   <- not every run");
        always += r->caught_runs == r->runs;
    }
    printf("%zu of %zu faulty servers caught in every run\n", always, ta->n);
    int ok = caught == total && always == ta->n && !changed;
    free(ta);
    return ok ? 0 : 1;
}
