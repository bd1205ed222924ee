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
        char *margv[] = {argv[0],      "matrix",   "--build", build, "-j",
                         (char *)jobs, "--family", "faulty",  NULL};
        int rc = ec_cli_matrix(8, margv);
        if (rc == 2)
            return 2;
    }
    struct ec_score s;
    if (ec_score_compute(build, profile_dir, &s) < 0)
        return 2;
    print_score(&s);
    int caught = s.caught, total = s.total;
    ec_score_free(&s);
    if (!total) {
        fprintf(stderr, "echoconf gallery: no faulty server is registered in %s\n", build);
        return 2;
    }
    printf("\nmutation score: %d of %d bugs caught with the declared diagnosis (%d%%)\n", caught,
           total, caught * 100 / total);
    return caught == total ? 0 : 1;
}
