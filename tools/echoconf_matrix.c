/* echoconf_matrix.c - `echoconf matrix`: runs the conformance tests of a build through
 * ctest (so it honours the same registration, labels and timeouts as CI), then reads
 * back the JSON result every replay wrote and prints models as rows, cases as
 * columns, one symbol per verdict, a legend and the diagnoses of non-passing cells.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echoconf_cli.h"
#include "echoconf_report.h"
#include "echoconf_results.h"
#include "steps.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

#ifndef EC_CTEST_COMMAND
#define EC_CTEST_COMMAND "ctest"
#endif

static char symbol(const char *v)
{
    static const struct {
        const char *name;
        char sym;
    } map[] = {{"PASS", '.'},  {"PASS-NONSTRICT", '~'}, {"XFAIL", 'x'},
               {"XPASS", '!'}, {"FAIL", 'F'},           {"TIMEOUT", 'T'},
               {"ERROR", 'E'}, {"UNSUPPORTED", '-'},    {"SKIPPED", 's'},
               {"MAY", 'm'}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, v) == 0)
            return map[i].sym;
    return '?';
}

static int bad_cell(const char *v)
{
    char s = symbol(v);
    return s == '!' || s == 'F' || s == 'T' || s == 'E' || s == '?';
}

/* The cells that matter, in full: FAIL, XPASS, TIMEOUT, ERROR and missing results,
 * with expected / actual and the reproduce command from the JSON result. Declared
 * deviations (XFAIL), alternative passes and UNSUPPORTED cells get one line per model
 * that counts them by diagnosis; verbose lists each with its reason. */
static void print_cells(const struct ec_manifest_model *models, size_t nm, char (*cases)[64],
                        size_t nc, const struct ec_cell_result *cells, cJSON **results, int verbose)
{
    printf("\nfailing cells (FAIL, XPASS, TIMEOUT, ERROR, no result):\n");
    int any = 0;
    for (size_t m = 0; m < nm; m++)
        for (size_t c = 0; c < nc && !models[m].skip[0]; c++) {
            const struct ec_cell_result *cl = &cells[m * nc + c];
            if (!bad_cell(cl->verdict))
                continue;
            const cJSON *j = results ? results[m * nc + c] : NULL;
            any = 1;
            printf("  %s/%s: %s%s%s%s%s\n", models[m].id, cases[c], cl->verdict,
                   cl->diagnosis[0] ? " " : "", cl->diagnosis, cl->reason[0] ? ": " : "",
                   cl->reason);
            if (*ec_rs_str(j, "expected"))
                printf("      expected: %s\n      actual:   %s\n", ec_rs_str(j, "expected"),
                       ec_rs_str(j, "actual"));
            if (*ec_rs_str(j, "evidence"))
                printf("      evidence: %s\n", ec_rs_str(j, "evidence"));
            if (*ec_rs_str(j, "reproduce"))
                printf("      reproduce: %s\n", ec_rs_str(j, "reproduce"));
        }
    if (!any)
        printf("  none\n");
    printf("\ndeclared deviations and other non-failing cells, per model%s:\n",
           verbose ? "" : " (--verbose lists them)");
    any = 0;
    for (size_t m = 0; m < nm; m++) {
        if (models[m].skip[0]) {
            printf("  %s: every case skipped: %s\n", models[m].id, models[m].skip);
            any = 1;
            continue;
        }
        /* Counts by verdict and diagnosis, in catalogue order of first appearance. */
        char keys[64][96];
        int counts[64], nk = 0;
        for (size_t c = 0; c < nc; c++) {
            const struct ec_cell_result *cl = &cells[m * nc + c];
            char s = symbol(cl->verdict);
            if (s == '.' || bad_cell(cl->verdict))
                continue;
            char key[96];
            snprintf(key, sizeof key, "%s%s%s", cl->verdict, cl->diagnosis[0] ? " " : "",
                     cl->diagnosis);
            int k = 0;
            while (k < nk && strcmp(keys[k], key) != 0)
                k++;
            if (k == nk && nk < 64) {
                snprintf(keys[nk], sizeof keys[nk], "%s", key);
                counts[nk++] = 0;
            }
            if (k < nk)
                counts[k]++;
        }
        if (!nk)
            continue;
        any = 1;
        printf("  %s:", models[m].id);
        for (int k = 0; k < nk; k++)
            printf("%s %s x%d", k ? "," : "", keys[k], counts[k]);
        printf("\n");
        for (size_t c = 0; verbose && c < nc; c++) {
            const struct ec_cell_result *cl = &cells[m * nc + c];
            if (symbol(cl->verdict) == '.' || bad_cell(cl->verdict))
                continue;
            printf("      %s: %s%s%s%s%s\n", cases[c], cl->verdict, cl->diagnosis[0] ? " " : "",
                   cl->diagnosis, cl->reason[0] ? ": " : "", cl->reason);
        }
    }
    if (!any)
        printf("  none\n");
}

/* Runs the tests of the manifest's models once through ctest, after removing their
 * old results (they would pass for new ones). Returns 0, or 2 when ctest cannot run. */
static int run_ctest(const char *build, const struct ec_manifest *man, int all_cases, int jobs,
                     int run, int runs)
{
    char path[PATH_MAX + 256];
    for (size_t m = 0; m < man->nm; m++)
        for (size_t c = 0; c < man->nc; c++) {
            snprintf(path, sizeof path, "%s/conformance-results/%s/%s.json", build,
                     man->models[m].id, man->cases[c]);
            unlink(path);
        }
    /* The conformance label selects the matrix; the model names (test names are
     * <model>/<case>) select the rows, so other tests of a family (smoke) stay out, and
     * the case names the columns when --case chose some. */
    char label[] = "^conformance$", jstr[16], logf[PATH_MAX + 64];
    size_t rlen = 16;
    for (size_t m = 0; m < man->nm; m++)
        rlen += strlen(man->models[m].id) + 1;
    for (size_t c = 0; !all_cases && c < man->nc; c++)
        rlen += strlen(man->cases[c]) + 1;
    char *names = malloc(rlen);
    if (!names) {
        fprintf(stderr, "echoconf matrix: out of memory\n");
        return 2;
    }
    size_t o = (size_t)snprintf(names, rlen, "^(");
    for (size_t m = 0; m < man->nm; m++)
        o += (size_t)snprintf(names + o, rlen - o, "%s%s", m ? "|" : "", man->models[m].id);
    o += (size_t)snprintf(names + o, rlen - o, ")/");
    for (size_t c = 0; !all_cases && c < man->nc; c++)
        o += (size_t)snprintf(names + o, rlen - o, "%s%s", c ? "|" : "(", man->cases[c]);
    if (!all_cases)
        snprintf(names + o, rlen - o, ")$");
    snprintf(jstr, sizeof jstr, "%d", jobs);
    snprintf(logf, sizeof logf, "%s/conformance-results/ctest.log", build);
    snprintf(path, sizeof path, "%s/conformance-results", build);
    mkdir(path, 0777);
    if (runs > 1)
        printf("echoconf matrix: run %d of %d: %zu models x %zu cases with ctest -j%d in %s "
               "(log: %s)\n",
               run, runs, man->nm, man->nc, jobs, build, logf);
    else
        printf("echoconf matrix: running %zu models x %zu cases with ctest -j%d in %s "
               "(log: %s)\n",
               man->nm, man->nc, jobs, build, logf);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *lf = freopen(logf, "w", stdout);
        if (lf)
            dup2(fileno(stdout), 2);
        execlp(EC_CTEST_COMMAND, EC_CTEST_COMMAND, "--test-dir", build, "-L", label, "-R", names,
               "-j", jstr, "--output-on-failure", (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", EC_CTEST_COMMAND, strerror(errno));
        _exit(127);
    }
    free(names);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 127)) {
        fprintf(stderr, "echoconf matrix: cannot run ctest (%s)\n", EC_CTEST_COMMAND);
        return 2;
    }
    return 0;
}

/* One cell of one run, as the flake hunter compares it. */
struct flake {
    char verdict[20];
    char diagnosis[64];
    char plan[48];     /* the failing pass, if any */
    char delivery[24]; /* its delivery: server-synchronised, timed, as written */
    long long seed;    /* the seed of the random plan */
};

static void flake_take(struct flake *f, const struct ec_cell_result *cl, const cJSON *j)
{
    snprintf(f->verdict, sizeof f->verdict, "%s", cl->verdict[0] ? cl->verdict : "?");
    snprintf(f->diagnosis, sizeof f->diagnosis, "%s", cl->diagnosis);
    snprintf(f->plan, sizeof f->plan, "%s", ec_rs_str(j, "plan"));
    snprintf(f->delivery, sizeof f->delivery, "%s", ec_rs_str(j, "delivery"));
    const cJSON *sd = j ? cJSON_GetObjectItemCaseSensitive(j, "seed") : NULL;
    f->seed = cJSON_IsNumber(sd) ? (long long)sd->valuedouble : -1;
}

/* Reads one run's cells into seen (nm x nc; NULL: only count). Returns the number of
 * failing cells (FAIL, XPASS, TIMEOUT, ERROR, no result). */
static int read_run(const char *build, const struct ec_manifest *man, struct flake *seen)
{
    int bad = 0;
    for (size_t m = 0; m < man->nm; m++)
        for (size_t c = 0; c < man->nc; c++) {
            struct ec_cell_result cl;
            cJSON *j = ec_cell_json_read(build, man->models[m].id, man->cases[c]);
            ec_cell_result_from_json(j, &cl);
            if (!cl.verdict[0])
                snprintf(cl.verdict, sizeof cl.verdict, "?");
            bad += !man->models[m].skip[0] && bad_cell(cl.verdict);
            if (seen)
                flake_take(&seen[m * man->nc + c], &cl, j);
            cJSON_Delete(j);
        }
    return bad;
}

/* Did a cell change between two runs? Its verdict, or its diagnosis, which is part of
 * the verdict; a may-entry (MAY) may be a pass one run and its diagnosis the next, so
 * there only the verdict counts. */
static int cell_changed(const struct flake *a, const struct flake *b)
{
    if (strcmp(a->verdict, b->verdict) != 0)
        return 1;
    return strcmp(a->verdict, "MAY") != 0 && strcmp(a->diagnosis, b->diagnosis) != 0;
}

/* Prints every cell whose verdict or diagnosis changed over the runs (seen holds runs
 * x nm x nc), each run's outcome with its failing plan, delivery and seed. Returns the
 * number of changed cells. */
static size_t print_changed(const struct ec_manifest *man, const struct flake *seen, int runs)
{
    size_t n = man->nm * man->nc, changed = 0;
    printf("\nflake hunt: %d runs of %zu cells\n", runs, n);
    for (size_t i = 0; i < n; i++) {
        int diff = 0;
        for (int k = 1; k < runs; k++)
            diff |= cell_changed(&seen[i], &seen[(size_t)k * n + i]);
        if (!diff)
            continue;
        changed++;
        printf("  changed: %s/%s\n", man->models[i / man->nc].id, man->cases[i % man->nc]);
        for (int k = 0; k < runs; k++) {
            const struct flake *f = &seen[(size_t)k * n + i];
            printf("    run %d: %s%s%s", k + 1, f->verdict, f->diagnosis[0] ? " " : "",
                   f->diagnosis);
            if (f->plan[0])
                printf("  (plan %s, %s delivery, seed %lld)", f->plan,
                       f->delivery[0] ? f->delivery : "?", f->seed);
            else if (f->seed >= 0)
                printf("  (seed %lld)", f->seed);
            printf("\n");
        }
    }
    printf("%zu of %zu cells changed verdict or diagnosis between runs%s\n", changed, n,
           changed ? " (reproduce one: ctest --test-dir <build> -R '^<model>/<case>$' "
                     "--repeat until-fail:20)"
                   : "");
    return changed;
}

static const char matrix_usage[] =
    "usage: echoconf matrix [--build DIR] [-j N] [--family F] [--models GLOB[,GLOB]]\n"
    "                       [--case GLOB]... [--no-run | --repeat N] [--html FILE]\n"
    "                       [--verbose]\n"
    "Runs every registered model x case through ctest in the build directory (the one\n"
    "this executable sits in, <build>/bin/echoconf, unless --build), then prints models\n"
    "as rows and cases as columns, the legend, every FAIL / XPASS / TIMEOUT / ERROR cell\n"
    "in full and per model one line that counts its declared deviations by diagnosis.\n"
    "  -j N        ctest jobs (default 4)\n"
    "  --family F  only the models of family F (posix, win32, faulty)\n"
    "  --models GLOB[,GLOB]  only the models whose id matches a glob (fnmatch, as in\n"
    "              bench and fuzz); a glob after ! leaves out what it matches:\n"
    "              --models 'faulty-*,!faulty-fd-keyed-state'\n"
    "  --case GLOB only the cases whose name matches (repeatable; ! as above; no\n"
    "              mutation score then)\n"
    "  --no-run    read the results of the last run instead of running ctest\n"
    "  --repeat N  run the matrix N times (the flake hunter): also print every cell whose\n"
    "              verdict or diagnosis changed between runs, with each run's failing\n"
    "              plan, delivery and seed; exit 1 if any changed (the table is the last run)\n"
    "  --html FILE also write the report as one self-contained HTML file: every cell,\n"
    "              the evidence of each one that did not pass, edge profiles in words\n"
    "  --verbose   list every declared deviation with its reason\n"
    "Exit status: 0 when no cell of any run is FAIL, XPASS, TIMEOUT, ERROR or missing and\n"
    "no cell changed between runs; 1 otherwise;\n"
    "2 on bad usage or a build without a manifest.\n";

int ec_cli_matrix(int argc, char **argv)
{
    return ec_cli_matrix_runs(argc, argv, NULL, NULL);
}

int ec_cli_matrix_runs(int argc, char **argv, ec_matrix_run_cb cb, void *arg)
{
    char build[PATH_MAX] = "";
    const char *family = NULL, *html = NULL, *models_glob = NULL;
    char cases_glob[1024] = "";
    int jobs = 4, run = 1, verbose = 0, repeat = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", matrix_usage);
            return 0;
        }
        if ((strcmp(a, "--build") == 0 || strcmp(a, "-j") == 0 || strcmp(a, "--family") == 0 ||
             strcmp(a, "--html") == 0 || strcmp(a, "--repeat") == 0 ||
             strcmp(a, "--models") == 0 || strcmp(a, "--case") == 0) &&
            i + 1 >= argc) {
            fprintf(stderr, "echoconf matrix: %s needs a value\n", a);
            return 2;
        }
        if (strncmp(a, "-j", 2) == 0 && a[2]) {
            jobs = atoi(a + 2); /* -j4, as with make and ctest */
            if (jobs < 1 || jobs > 64) {
                fprintf(stderr, "echoconf matrix: %s: -j 1..64\n", a);
                return 2;
            }
        } else if (strcmp(a, "--build") == 0)
            snprintf(build, sizeof build, "%s", argv[++i]);
        else if (strcmp(a, "-j") == 0) {
            jobs = atoi(argv[++i]);
            if (jobs < 1 || jobs > 64) {
                fprintf(stderr, "echoconf matrix: -j %s: 1..64\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--family") == 0)
            family = argv[++i];
        else if (strcmp(a, "--models") == 0)
            models_glob = argv[++i];
        else if (strcmp(a, "--case") == 0) {
            size_t o = strlen(cases_glob), n = strlen(argv[++i]);
            if (o + n + 2 > sizeof cases_glob) {
                fprintf(stderr, "echoconf matrix: --case %s: the case globs are too long\n",
                        argv[i]);
                return 2;
            }
            snprintf(cases_glob + o, sizeof cases_glob - o, "%s%s", o ? "," : "", argv[i]);
        } else if (strcmp(a, "--no-run") == 0)
            run = 0;
        else if (strcmp(a, "--repeat") == 0) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000) {
                fprintf(stderr, "echoconf matrix: --repeat %s: a number of runs, 1..1000\n",
                        argv[i]);
                return 2;
            }
            repeat = (int)n;
        } else if (strcmp(a, "--html") == 0)
            html = argv[++i];
        else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            verbose = 1;
        else {
            fprintf(stderr, "echoconf matrix: unknown option %s\n%s", a, matrix_usage);
            return 2;
        }
    }
    if (!run && repeat > 1) {
        fprintf(stderr, "echoconf matrix: --repeat runs the tests; it cannot go with --no-run\n");
        return 2;
    }
    if (!build[0] && ec_cli_default_build(build, sizeof build) < 0) {
        fprintf(stderr, "echoconf matrix: cannot find the build directory; use --build DIR\n");
        return 2;
    }
    struct ec_manifest man;
    if (ec_manifest_load(build, family, &man, "echoconf matrix") < 0)
        return 2;
    if (ec_manifest_filter(&man, models_glob, cases_glob, "echoconf matrix") < 0) {
        ec_manifest_free(&man);
        return 2;
    }
    const struct ec_manifest_model *models = man.models;
    char(*cases)[64] = man.cases;
    size_t nm = man.nm, nc = man.nc;
    if (!nm || !nc) {
        fprintf(stderr, "echoconf matrix: no %s%smodels or no cases registered in %s\n",
                family ? family : "", family ? " " : "", build);
        ec_manifest_free(&man);
        return 2;
    }

    int64_t t0 = ec_clock_ms();
    struct flake *runs_seen = repeat > 1 ? calloc((size_t)repeat * nm * nc, sizeof *runs_seen) : NULL;
    if (repeat > 1 && !runs_seen) {
        fprintf(stderr, "echoconf matrix: out of memory\n");
        ec_manifest_free(&man);
        return 2;
    }
    int failures = 0;
    for (int k = 1; k <= repeat; k++) {
        if (run && run_ctest(build, &man, !cases_glob[0], jobs, k, repeat) != 0) {
            free(runs_seen);
            ec_manifest_free(&man);
            return 2;
        }
        if (k == repeat)
            break; /* the last run is read below, with the table */
        int bad = read_run(build, &man, runs_seen ? &runs_seen[(size_t)(k - 1) * nm * nc] : NULL);
        failures += bad;
        printf("echoconf matrix: run %d of %d: %d failing cells\n", k, repeat, bad);
        if (cb)
            cb(k, arg);
    }

    /* Read every cell; the JSON of each stays for the failing cells and the HTML. */
    struct ec_cell_result *cells = calloc(nm * nc, sizeof *cells);
    cJSON **results = calloc(nm * nc, sizeof *results);
    if (!cells) {
        fprintf(stderr, "echoconf matrix: out of memory\n");
        free(results);
        ec_manifest_free(&man);
        return 2;
    }
    for (size_t m = 0; m < nm; m++)
        for (size_t c = 0; c < nc; c++) {
            struct ec_cell_result *cl = &cells[m * nc + c];
            cJSON *j = ec_cell_json_read(build, models[m].id, cases[c]);
            ec_cell_result_from_json(j, cl);
            if (!j)
                snprintf(cl->reason, sizeof cl->reason,
                         "no result (the test did not run or was killed by its ctest timeout)");
            if (!cl->verdict[0])
                snprintf(cl->verdict, sizeof cl->verdict, "?");
            if (results)
                results[m * nc + c] = j;
            else
                cJSON_Delete(j);
        }

    if (runs_seen)
        for (size_t i = 0; i < nm * nc; i++)
            flake_take(&runs_seen[(size_t)(repeat - 1) * nm * nc + i], &cells[i],
                       results ? results[i] : NULL);
    if (cb)
        cb(repeat, arg);

    /* The table: case numbers as column heads, the key below. */
    size_t w = 0;
    for (size_t m = 0; m < nm; m++)
        if (strlen(models[m].id) > w)
            w = strlen(models[m].id);
    printf("\n%-*s ", (int)w, "model \\ case");
    for (size_t c = 0; c < nc; c++)
        printf("%3zu", c + 1);
    printf("\n");
    int last_bad = 0;
    for (size_t m = 0; m < nm; m++) {
        printf("%-*s ", (int)w, models[m].id);
        for (size_t c = 0; c < nc; c++) {
            const struct ec_cell_result *cl = &cells[m * nc + c];
            printf("  %c", symbol(cl->verdict));
            last_bad += bad_cell(cl->verdict);
        }
        printf("\n");
    }
    failures += last_bad;
    if (repeat > 1)
        printf("echoconf matrix: run %d of %d: %d failing cells\n", repeat, repeat, last_bad);
    printf("\ncases:\n");
    for (size_t c = 0; c < nc; c++)
        printf("  %2zu %-28s%s", c + 1, cases[c], (c % 3 == 2 || c + 1 == nc) ? "\n" : "");
    printf("\nlegend: . PASS   ~ PASS-NONSTRICT   x XFAIL (declared deviation)   m MAY "
           "(may-entry: a pass or exactly its diagnosis, as the server's own scheduling "
           "decides)\n        ! XPASS   F FAIL   T TIMEOUT   E ERROR   - UNSUPPORTED   "
           "s model skipped   ? no result\n");

    print_cells(models, nm, cases, nc, cells, results, verbose);
    /* With faulty servers in the table, the share of their bugs the catalogue caught
     * (the details: echoconf gallery --no-run); not over some cases only (--case). */
    int nfaulty = 0;
    for (size_t m = 0; m < nm; m++)
        nfaulty += strcmp(models[m].family, "faulty") == 0;
    struct ec_score sc;
    if (nfaulty && !cases_glob[0] && ec_score_compute(build, EC_SOURCE_DIR "/conformance/profiles", models_glob,
                                     &sc) == 0) {
        if (sc.total)
            printf("\nmutation score: %d of %d faulty servers caught with their declared "
                   "diagnosis (%d%%; details: echoconf gallery --no-run)\n",
                   sc.caught, sc.total, sc.caught * 100 / sc.total);
        ec_score_free(&sc);
    }
    size_t changed = runs_seen ? print_changed(&man, runs_seen, repeat) : 0;
    free(runs_seen);
    if (repeat > 1)
        printf("\n%zu cells x %d runs, %d failing cell results, %zu cells changed; %.1f s. "
               "Details: ctest --test-dir %s -R '^<model>/<case>$' --output-on-failure\n",
               nm * nc, repeat, failures, changed, (double)(ec_clock_ms() - t0) / 1000.0, build);
    else
        printf("\n%zu cells, %d failing; %.1f s. Details: ctest --test-dir %s -R "
               "'^<model>/<case>$' --output-on-failure\n",
               nm * nc, failures, (double)(ec_clock_ms() - t0) / 1000.0, build);
    int rc = failures || changed ? 1 : 0;
    if (html && results) {
        struct ec_rs_row *rows = calloc(nm, sizeof *rows);
        char err[300];
        char sub[PATH_MAX + 2200];
        snprintf(sub, sizeof sub, "build %s%s%s%s%s%s%s", build, family ? ", family " : "",
                 family ? family : "", models_glob ? ", models " : "",
                 models_glob ? models_glob : "", cases_glob[0] ? ", cases " : "", cases_glob);
        for (size_t m = 0; rows && m < nm; m++) {
            snprintf(rows[m].id, sizeof rows[m].id, "%s", models[m].id);
            snprintf(rows[m].family, sizeof rows[m].family, "%s", models[m].family);
            snprintf(rows[m].skip, sizeof rows[m].skip, "%s", models[m].skip);
        }
        struct ec_result_set rs = {.title = "echoconf matrix",
                                   .subtitle = sub,
                                   .rows = rows,
                                   .nrows = nm,
                                   .cols = cases,
                                   .ncols = nc,
                                   .cells = results};
        if (!rows || ec_write_html(&rs, html, err, sizeof err) < 0) {
            fprintf(stderr, "echoconf matrix: --html %s: %s\n", html, rows ? err : "out of memory");
            rc = 2;
        } else {
            printf("HTML report: %s\n", html);
        }
        free(rows);
    }
    for (size_t k = 0; results && k < nm * nc; k++)
        cJSON_Delete(results[k]);
    free(results);
    free(cells);
    ec_manifest_free(&man);
    return rc;
}
