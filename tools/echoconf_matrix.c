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
#include "steps.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

#ifndef EC_CTEST_COMMAND
#define EC_CTEST_COMMAND "ctest"
#endif

struct model {
    char id[64];
    char family[16];
    char skip[256];
};

struct cell {
    char verdict[20];
    char diagnosis[64];
    char reason[300];
    char plan[48];      /* the failing pass, if any */
    char delivery[24];  /* its delivery ("server-synchronised", "timed", "as written") */
    long long seed;     /* the seed of the random plan */
};

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

/* The rows and columns of the manifest, and the options of one matrix command. */
struct matrix {
    char build[PATH_MAX];
    const char *family;
    int jobs;
    struct model *models;
    char (*cases)[64];
    size_t nm, nc;
};

/* Runs the selection's tests once through ctest (after removing their old results).
 * Returns 0, or 2 when ctest cannot run. */
static int run_ctest(const struct matrix *mx, int run, int runs)
{
    char path[PATH_MAX + 256];
    for (size_t m = 0; m < mx->nm; m++)
        for (size_t c = 0; c < mx->nc; c++) {
            snprintf(path, sizeof path, "%s/conformance-results/%s/%s.json", mx->build,
                     mx->models[m].id, mx->cases[c]);
            unlink(path);
        }
    /* The conformance label selects the matrix; the model names (test names are
     * <model>/<case>) select the rows, so other tests of a family (smoke) stay out. */
    char label[] = "^conformance$", jstr[16], logf[PATH_MAX + 64];
    size_t rlen = 16;
    for (size_t m = 0; m < mx->nm; m++)
        rlen += strlen(mx->models[m].id) + 1;
    char *names = malloc(rlen);
    if (!names) {
        fprintf(stderr, "echoconf matrix: out of memory\n");
        return 2;
    }
    size_t o = (size_t)snprintf(names, rlen, "^(");
    for (size_t m = 0; m < mx->nm; m++)
        o += (size_t)snprintf(names + o, rlen - o, "%s%s", m ? "|" : "", mx->models[m].id);
    snprintf(names + o, rlen - o, ")/");
    snprintf(jstr, sizeof jstr, "%d", mx->jobs);
    snprintf(logf, sizeof logf, "%s/conformance-results/ctest.log", mx->build);
    snprintf(path, sizeof path, "%s/conformance-results", mx->build);
    mkdir(path, 0777);
    if (runs > 1)
        printf("echoconf matrix: run %d of %d: %zu models x %zu cases with ctest -j%d in %s "
               "(log: %s)\n",
               run, runs, mx->nm, mx->nc, mx->jobs, mx->build, logf);
    else
        printf("echoconf matrix: running %zu models x %zu cases with ctest -j%d in %s "
               "(log: %s)\n",
               mx->nm, mx->nc, mx->jobs, mx->build, logf);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *lf = freopen(logf, "w", stdout);
        if (lf)
            dup2(fileno(stdout), 2);
        execlp(EC_CTEST_COMMAND, EC_CTEST_COMMAND, "--test-dir", mx->build, "-L", label, "-R",
               names, "-j", jstr, "--output-on-failure", (char *)NULL);
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

/* Reads every cell's JSON result into cells[m * nc + c]. */
static void read_cells(const struct matrix *mx, struct cell *cells)
{
    char path[PATH_MAX + 256];
    for (size_t m = 0; m < mx->nm; m++)
        for (size_t c = 0; c < mx->nc; c++) {
            struct cell *cl = &cells[m * mx->nc + c];
            memset(cl, 0, sizeof *cl);
            snprintf(cl->verdict, sizeof cl->verdict, "?");
            snprintf(path, sizeof path, "%s/conformance-results/%s/%s.json", mx->build,
                     mx->models[m].id, mx->cases[c]);
            char *t = ec_cli_read_file(path);
            cJSON *j = t ? cJSON_Parse(t) : NULL;
            free(t);
            if (!j) {
                snprintf(cl->reason, sizeof cl->reason,
                         "no result (the test did not run or was killed by its ctest timeout)");
                continue;
            }
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "diagnosis");
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reason");
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
            const cJSON *pl = cJSON_GetObjectItemCaseSensitive(j, "plan");
            const cJSON *dl = cJSON_GetObjectItemCaseSensitive(j, "delivery");
            const cJSON *sd = cJSON_GetObjectItemCaseSensitive(j, "seed");
            if (cJSON_IsString(v))
                snprintf(cl->verdict, sizeof cl->verdict, "%s", v->valuestring);
            if (cJSON_IsString(d))
                snprintf(cl->diagnosis, sizeof cl->diagnosis, "%s", d->valuestring);
            if (cJSON_IsString(r))
                snprintf(cl->reason, sizeof cl->reason, "%s", r->valuestring);
            else if (cJSON_IsString(e))
                snprintf(cl->reason, sizeof cl->reason, "%s", e->valuestring);
            if (cJSON_IsString(pl))
                snprintf(cl->plan, sizeof cl->plan, "%s", pl->valuestring);
            if (cJSON_IsString(dl))
                snprintf(cl->delivery, sizeof cl->delivery, "%s", dl->valuestring);
            cl->seed = cJSON_IsNumber(sd) ? (long long)sd->valuedouble : -1;
            cJSON_Delete(j);
        }
}

/* Did a cell change between two runs? Its verdict, or its diagnosis, is part of the
 * verdict; a may-entry (MAY) is allowed to be a pass one run and its diagnosis the
 * next, so there only the verdict counts. */
static int cell_changed(const struct cell *a, const struct cell *b)
{
    if (strcmp(a->verdict, b->verdict) != 0)
        return 1;
    return strcmp(a->verdict, "MAY") != 0 && strcmp(a->diagnosis, b->diagnosis) != 0;
}

/* Prints the cells whose verdict or diagnosis changed over the runs (all[k] is run
 * k's cells), each run's outcome with its failing plan, delivery and seed. Returns the
 * number of changed cells. */
static size_t print_changed(const struct matrix *mx, struct cell **all, int runs)
{
    size_t changed = 0;
    printf("\nflake hunt: %d runs of %zu cells\n", runs, mx->nm * mx->nc);
    for (size_t i = 0; i < mx->nm * mx->nc; i++) {
        int diff = 0;
        for (int k = 1; k < runs; k++)
            diff |= cell_changed(&all[0][i], &all[k][i]);
        if (!diff)
            continue;
        changed++;
        printf("  changed: %s/%s\n", mx->models[i / mx->nc].id, mx->cases[i % mx->nc]);
        for (int k = 0; k < runs; k++) {
            const struct cell *cl = &all[k][i];
            printf("    run %d: %s%s%s", k + 1, cl->verdict, cl->diagnosis[0] ? " " : "",
                   cl->diagnosis);
            if (cl->plan[0])
                printf("  (plan %s, %s delivery, seed %lld)", cl->plan,
                       cl->delivery[0] ? cl->delivery : "?", cl->seed);
            else if (cl->seed >= 0)
                printf("  (seed %lld)", cl->seed);
            printf("\n");
        }
    }
    printf("%zu of %zu cells changed verdict or diagnosis between runs%s\n", changed,
           mx->nm * mx->nc,
           changed ? " (reproduce one: ctest --test-dir <build> -R '^<model>/<case>$' "
                     "--repeat until-fail:20)"
                   : "");
    return changed;
}

int ec_cli_matrix_runs(int argc, char **argv, ec_matrix_run_cb cb, void *arg)
{
    struct matrix mx;
    memset(&mx, 0, sizeof mx);
    mx.jobs = 4;
    int run = 1, repeat = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--build") == 0 || strcmp(a, "-j") == 0 || strcmp(a, "--family") == 0 ||
             strcmp(a, "--repeat") == 0) &&
            i + 1 >= argc) {
            fprintf(stderr, "echoconf matrix: %s needs a value\n", a);
            return 2;
        }
        if (strncmp(a, "-j", 2) == 0 && a[2]) {
            mx.jobs = atoi(a + 2); /* -j4, as with make and ctest */
            if (mx.jobs < 1 || mx.jobs > 64) {
                fprintf(stderr, "echoconf matrix: %s: -j 1..64\n", a);
                return 2;
            }
        } else if (strcmp(a, "--build") == 0)
            snprintf(mx.build, sizeof mx.build, "%s", argv[++i]);
        else if (strcmp(a, "-j") == 0) {
            mx.jobs = atoi(argv[++i]);
            if (mx.jobs < 1 || mx.jobs > 64) {
                fprintf(stderr, "echoconf matrix: -j %s: 1..64\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--repeat") == 0) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000) {
                fprintf(stderr, "echoconf matrix: --repeat %s: a number of runs, 1..1000\n",
                        argv[i]);
                return 2;
            }
            repeat = (int)n;
        } else if (strcmp(a, "--family") == 0)
            mx.family = argv[++i];
        else if (strcmp(a, "--no-run") == 0)
            run = 0;
        else {
            fprintf(stderr,
                    "echoconf matrix: unknown option %s\n"
                    "usage: echoconf matrix [--build DIR] [-j N] [--family F] [--no-run | "
                    "--repeat N]\n",
                    a);
            return 2;
        }
    }
    if (!run && repeat > 1) {
        fprintf(stderr, "echoconf matrix: --repeat runs the tests; it cannot go with --no-run\n");
        return 2;
    }
    if (!mx.build[0] && ec_cli_default_build(mx.build, sizeof mx.build) < 0) {
        fprintf(stderr, "echoconf matrix: cannot find the build directory; use --build DIR\n");
        return 2;
    }
    const char *build = mx.build, *family = mx.family;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/conformance/manifest.tsv", build);
    char *man = ec_cli_read_file(path);
    if (!man) {
        fprintf(stderr,
                "echoconf matrix: %s: %s (configure and build first: cmake --preset "
                "default && cmake --build --preset default)\n",
                path, strerror(errno));
        return 2;
    }
    struct model *models = calloc(256, sizeof *models);
    char(*cases)[64] = calloc(256, sizeof *cases);
    size_t nm = 0, nc = 0;
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
        if (k >= 3 && strcmp(f[0], "model") == 0 && nm < 256) {
            if (family && strcmp(family, f[2]) != 0)
                continue;
            snprintf(models[nm].id, sizeof models[nm].id, "%s", f[1]);
            snprintf(models[nm].family, sizeof models[nm].family, "%s", f[2]);
            snprintf(models[nm].skip, sizeof models[nm].skip, "%s", k > 3 ? f[3] : "");
            nm++;
        } else if (k >= 2 && strcmp(f[0], "case") == 0 && nc < 256) {
            snprintf(cases[nc++], 64, "%s", f[1]);
        }
    }
    free(man);
    if (!nm || !nc) {
        fprintf(stderr, "echoconf matrix: no %s%smodels or no cases registered in %s\n",
                family ? family : "", family ? " " : "", build);
        free(models);
        free(cases);
        return 2;
    }
    mx.models = models;
    mx.cases = cases;
    mx.nm = nm;
    mx.nc = nc;

    int64_t t0 = ec_clock_ms();
    struct cell **all = calloc((size_t)repeat, sizeof *all);
    int failures = 0;
    for (int k = 0; all && k < repeat; k++) {
        all[k] = calloc(nm * nc, sizeof **all);
        if (!all[k] || (run && run_ctest(&mx, k + 1, repeat) != 0)) {
            for (int j = 0; j <= k; j++)
                free(all[j]);
            free(all);
            free(models);
            free(cases);
            return 2;
        }
        read_cells(&mx, all[k]);
        int bad = 0;
        for (size_t i = 0; i < nm * nc; i++)
            bad += bad_cell(all[k][i].verdict);
        failures += bad;
        if (repeat > 1)
            printf("echoconf matrix: run %d of %d: %d failing cells\n", k + 1, repeat, bad);
        if (cb)
            cb(k + 1, arg);
    }
    if (!all) {
        free(models);
        free(cases);
        return 2;
    }
    struct cell *cells = all[repeat - 1];
    /* The table: case numbers as column heads, the key below. */
    size_t w = 0;
    for (size_t m = 0; m < nm; m++)
        if (strlen(models[m].id) > w)
            w = strlen(models[m].id);
    printf("\n%-*s ", (int)w, "model \\ case");
    for (size_t c = 0; c < nc; c++)
        printf("%3zu", c + 1);
    printf("\n");
    for (size_t m = 0; m < nm; m++) {
        printf("%-*s ", (int)w, models[m].id);
        for (size_t c = 0; c < nc; c++)
            printf("  %c", symbol(cells[m * nc + c].verdict));
        printf("\n");
    }
    printf("\ncases:\n");
    for (size_t c = 0; c < nc; c++)
        printf("  %2zu %-28s%s", c + 1, cases[c], (c % 3 == 2 || c + 1 == nc) ? "\n" : "");
    printf("\nlegend: . PASS   ~ PASS-NONSTRICT   x XFAIL (declared deviation)   m MAY "
           "(may-entry: a pass or exactly its diagnosis, as the server's own scheduling "
           "decides)\n        ! XPASS   F FAIL   T TIMEOUT   E ERROR   - UNSUPPORTED   "
           "s model skipped   ? no result\n");

    printf("\nnon-passing cells:\n");
    int any = 0;
    for (size_t m = 0; m < nm; m++) {
        if (models[m].skip[0]) {
            printf("  %s: every case skipped: %s\n", models[m].id, models[m].skip);
            any = 1;
            continue;
        }
        for (size_t c = 0; c < nc; c++) {
            const struct cell *cl = &cells[m * nc + c];
            char s = symbol(cl->verdict);
            if (s == '.' || s == 's' || (s == 'm' && !cl->diagnosis[0]))
                continue;
            any = 1;
            printf("  %s/%s: %s%s%s%s%s\n", models[m].id, cases[c], cl->verdict,
                   cl->diagnosis[0] ? " " : "", cl->diagnosis, cl->reason[0] ? ": " : "",
                   cl->reason);
        }
    }
    if (!any)
        printf("  none\n");
    /* With faulty servers in the table, the share of their bugs the catalogue caught
     * (the details: echoconf gallery --no-run). */
    int nfaulty = 0;
    for (size_t m = 0; m < nm; m++)
        nfaulty += strcmp(models[m].family, "faulty") == 0;
    int caught = 0, total = 0;
    if (nfaulty && ec_gallery_score(build, EC_SOURCE_DIR "/conformance/profiles", 0, &caught,
                                    &total) == 0 && total)
        printf("\nmutation score: %d of %d faulty servers caught with their declared diagnosis "
               "(%d%%; details: echoconf gallery --no-run)\n",
               caught, total, caught * 100 / total);
    size_t changed = repeat > 1 ? print_changed(&mx, all, repeat) : 0;
    if (repeat > 1)
        printf("\n%zu cells x %d runs, %d failing cell results, %zu cells changed; %.1f s. "
               "Details: ctest --test-dir %s -R '^<model>/<case>$' --output-on-failure\n",
               nm * nc, repeat, failures, changed, (double)(ec_clock_ms() - t0) / 1000.0, build);
    else
        printf("\n%zu cells, %d failing; %.1f s. Details: ctest --test-dir %s -R "
               "'^<model>/<case>$' --output-on-failure\n",
               nm * nc, failures, (double)(ec_clock_ms() - t0) / 1000.0, build);
    for (int k = 0; k < repeat; k++)
        free(all[k]);
    free(all);
    free(models);
    free(cases);
    return failures || changed ? 1 : 0;
}

int ec_cli_matrix(int argc, char **argv)
{
    return ec_cli_matrix_runs(argc, argv, NULL, NULL);
}
