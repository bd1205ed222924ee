/* echoconf_fuzz.c - `echoconf fuzz`: differential fuzzing of echo servers.
 *
 * Seeded random client scripts (tools/difffuzz/script.h) are rendered as fixtures and
 * replayed through the engine (ec_replay, one forked child per replay so that every
 * run starts clean and runs in parallel) against every selected model, each started by
 * the engine. Two oracles judge the outcomes:
 *   - the echo oracle: the fixture expects what RFC 862 defines (every byte echoed in
 *     order, the server's close after the owed echo, service going on after a client
 *     reset), so any non-PASS is a disagreement with the RFC;
 *   - the differential oracle: each model's outcome, reduced to a class per connection
 *     (echoed / ended abnormally / still open / wrong bytes), is compared with the
 *     outcome most models had.
 * Declared design deviations of correct models are respected: a model whose profile
 * declares serialized-clients (posix-iterative, win32-iterative) does not run scripts
 * that need two clients served at once. Faulty models' deviations are their planted
 * bugs, the very thing to find, so they are not excused.
 *
 * Every disagreement is shrunk (script.h's reductions, greedy delta debugging, each
 * candidate replayed against the disagreeing model and kept when it gives the same
 * diagnosis) and written as DIR/<model>-<hash>.json, replayable with `echoconf replay`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diagnoses.h"
#include "difffuzz/script.h"
#include "echoconf_cli.h"
#include "echoconf_results.h"
#include "engine.h"
#include "steps.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

#define MAX_MODELS      64
#define SHRINK_MAX_RUNS 120 /* replays one shrink may take */
#define CONFIRM_RUNS    3   /* runs that may confirm a disagreement before shrinking */
#define MAX_FOUND       4   /* shrunk fixtures per model (distinct diagnoses) */
#define KEEP_RUNS       2   /* a reduction is kept when it fails this many runs in a row */
#define RATE_RUNS       3   /* runs of the shrunk script that measure how often it fails */

struct model {
    char id[64];
    char family[16];
    char cmd[2048]; /* quoted words, for --server */
    int serial;     /* its profile declares serialized-clients: one client at a time */
    /* results */
    int runs, passes, skipped, errors, disagreements;
    int unconfirmed; /* disagreements that did not happen again in CONFIRM_RUNS runs */
    char queued_class[MAX_FOUND][24]; /* outcome classes queued for shrinking */
    int nqueued;
    char found_diag[MAX_FOUND][48]; /* distinct diagnoses shrunk and written */
    char found_last[MAX_FOUND][48]; /* the diagnosis of the shrunk script */
    char found_class[MAX_FOUND][24]; /* ":ended", ":open", ":wrong-bytes", ":died" */
    char found_file[MAX_FOUND][1024];
    int found_steps[MAX_FOUND], found_conns[MAX_FOUND];
    double found_at_s[MAX_FOUND];
    int found_rate[MAX_FOUND]; /* of RATE_RUNS runs of the shrunk script, failed so */
    int nfound;
};

/* The outcome of one replay. */
struct outcome {
    int rc;              /* exit status of the replay */
    char verdict[24];
    char diagnosis[48];
    char conn[24];       /* the first failing connection, "" when none */
    char sig[80];        /* "echoed", or "c1:ended" ... */
};

struct fuzz {
    const char *globs, *out, *build, *profile_dir;
    uint64_t seed;
    long runs;
    long from; /* the first script number (--from: rerun one script of a seed) */
    double budget_s;
    int jobs;
    struct model models[MAX_MODELS];
    int nmodels;
    char work[512];
    int64_t t0;
    int argc;
    char **argv;
    long scripts, disagreements, errors;
    int tty;
    int64_t shrink_deadline_ms; /* 0: none */
};

/* A disagreement waiting to be shrunk (after the exploration, so that shrinking does
 * not eat the budget that finds the next bug). */
struct pending {
    int mi, ref;
    struct ec_fz_script s;
    struct outcome oc;
    char why[300];
    long script_no;
    uint64_t seed;
};

#define MAX_PENDING 128
#define EXPLORE_SHARE 0.6 /* of --budget spent on new scripts while a shrink waits */

static double elapsed_s(const struct fuzz *f)
{
    return (double)(ec_clock_ms() - f->t0) / 1000.0;
}

static int glob_match(const char *globs, const char *id)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", globs);
    for (char *save = NULL, *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save))
        if (fnmatch(g, id, 0) == 0)
            return 1;
    return 0;
}

/* Does the model's profile declare serialized-clients (a design, not a bug)? */
static int profile_serial(const char *dir, const char *id)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir, id);
    char *txt = ec_cli_read_file(path);
    if (!txt)
        return 0;
    int serial = 0;
    cJSON *j = cJSON_Parse(txt);
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "deviations"), *d;
    cJSON_ArrayForEach(d, devs)
    {
        const cJSON *dg = cJSON_GetObjectItemCaseSensitive(d, "diagnosis");
        if (cJSON_IsString(dg) && strcmp(dg->valuestring, "serialized-clients") == 0)
            serial = 1;
    }
    cJSON_Delete(j);
    free(txt);
    return serial;
}

static int load_models(struct fuzz *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/difffuzz-models.tsv", f->build);
    char *txt = ec_cli_read_file(path);
    if (!txt) {
        fprintf(stderr, "echoconf fuzz: cannot read %s (build the project, or give --build DIR)\n",
                path);
        return -1;
    }
    for (char *save = NULL, *line = strtok_r(txt, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *fields[64];
        int nf = 0;
        for (char *s2 = NULL, *w = strtok_r(line, "\t", &s2); w && nf < 64; w = strtok_r(NULL, "\t", &s2))
            fields[nf++] = w;
        if (nf == 2 && strcmp(fields[0], "env") == 0) {
            /* the environment of the Wine models (WINEPREFIX, ...) */
            char *eq = strchr(fields[1], '=');
            if (eq) {
                *eq = 0;
                setenv(fields[1], eq + 1, 1);
            }
            continue;
        }
        if (nf < 3 || !glob_match(f->globs, fields[0]))
            continue;
        if (f->nmodels == MAX_MODELS) {
            fprintf(stderr, "echoconf fuzz: more than %d models match; the rest are left out\n",
                    MAX_MODELS);
            break;
        }
        struct model *m = &f->models[f->nmodels++];
        memset(m, 0, sizeof *m);
        snprintf(m->id, sizeof m->id, "%s", fields[0]);
        snprintf(m->family, sizeof m->family, "%s", fields[1]);
        size_t o = 0;
        for (int i = 2; i < nf && o < sizeof m->cmd; i++)
            o += (size_t)snprintf(m->cmd + o, sizeof m->cmd - o, "%s\"%s\"", i > 2 ? " " : "",
                                  fields[i]);
        m->serial = strcmp(m->family, "faulty") != 0 && profile_serial(f->profile_dir, m->id);
    }
    free(txt);
    if (f->nmodels == 0) {
        fprintf(stderr, "echoconf fuzz: no model of %s matches --models %s\n", path, f->globs);
        return -1;
    }
    return 0;
}

/* ---- running one replay ------------------------------------------------------------ */

/* Starts `echoconf replay` of fixture against m in a child (the engine's API, in a
 * process of its own); returns its pid. */
static pid_t start_replay(const struct fuzz *f, const struct model *m, const char *fixture,
                          const char *json, const char *log, uint64_t seed)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    struct ec_replay_opts o;
    memset(&o, 0, sizeof o);
    o.fixture = fixture;
    o.server = m->cmd;
    o.plan = "fixture";
    o.seed = seed;
    o.seed_set = 1;
    o.json_out = json;
    o.model = m->id;
    o.family = m->family;
    o.profile_dir = f->profile_dir;
    if (ec_replay_under_wine(&o))
        ec_set_timeout_family_factor(3.0);
    int rc = ec_replay(&o);
    fflush(stdout);
    _exit(rc);
}

/* The outcome class of a connection that failed with diag (diagnoses.h): still open
 * (no answer, or no close), wrong bytes, or ended otherwise than owed. */
static const char *outcome_class(const char *diag)
{
    static const char *const open_[] = {EC_DIAG_STALL,  EC_DIAG_SERIALIZED,
                                        EC_DIAG_HOL,    EC_DIAG_UNFAIR,
                                        EC_DIAG_NAGLE,  EC_DIAG_NO_CLOSE_AFTER_EOF,
                                        NULL};
    static const char *const wrong[] = {EC_DIAG_ECHO_MISMATCH, EC_DIAG_DUPLICATED,
                                        EC_DIAG_REORDERED,     EC_DIAG_CROSS_TALK,
                                        EC_DIAG_UNEXPECTED_DATA, EC_DIAG_FRAME_ERROR,
                                        NULL};
    for (int i = 0; open_[i]; i++)
        if (strcmp(diag, open_[i]) == 0)
            return "open";
    for (int i = 0; wrong[i]; i++)
        if (strcmp(diag, wrong[i]) == 0)
            return "wrong-bytes";
    return "ended";
}

static void read_outcome(const char *json, int rc, struct outcome *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->rc = rc;
    char *txt = ec_cli_read_file(json);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "verdict")) && cJSON_IsString(v))
        snprintf(oc->verdict, sizeof oc->verdict, "%s", v->valuestring);
    else
        snprintf(oc->verdict, sizeof oc->verdict, "ERROR");
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "diagnosis")) && cJSON_IsString(v))
        snprintf(oc->diagnosis, sizeof oc->diagnosis, "%s", v->valuestring);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "connection")) && cJSON_IsString(v))
        snprintf(oc->conn, sizeof oc->conn, "%s", v->valuestring);
    if (!txt)
        snprintf(oc->diagnosis, sizeof oc->diagnosis, "no result (replay exit %d)", rc);
    cJSON_Delete(j);
    free(txt);
    if (strcmp(oc->verdict, "PASS") == 0 || strcmp(oc->verdict, "PASS-NONSTRICT") == 0)
        snprintf(oc->sig, sizeof oc->sig, "echoed");
    else if (strcmp(oc->verdict, "ERROR") == 0 || strcmp(oc->verdict, "UNSUPPORTED") == 0)
        snprintf(oc->sig, sizeof oc->sig, "%s", oc->verdict);
    else {
        /* A server gone fails every connection still running: name the server. */
        const char *cls = outcome_class(oc->diagnosis);
        int server = strncmp(oc->diagnosis, "crash:", 6) == 0 ||
                     strncmp(oc->diagnosis, "server-exited", 13) == 0 ||
                     strcmp(oc->diagnosis, "died-after-reset") == 0;
        snprintf(oc->sig, sizeof oc->sig, "%s:%s", server || !oc->conn[0] ? "server" : oc->conn,
                 server ? "died" : cls);
    }
}

/* Runs fixture against the models whose run[i] is set, jobs at a time; fills oc[i]. */
static void run_models(struct fuzz *f, const char *fixture, const char *tag, uint64_t seed,
                       const int *run, struct outcome *oc)
{
    pid_t pids[MAX_MODELS];
    int active = 0, next = 0;
    for (int i = 0; i < f->nmodels; i++)
        pids[i] = 0;
    for (;;) {
        while (active < f->jobs && next < f->nmodels) {
            if (run[next]) {
                char json[1024], log[1024];
                snprintf(json, sizeof json, "%s/%s-%s.result.json", f->work, tag, f->models[next].id);
                snprintf(log, sizeof log, "%s/%s-%s.log", f->work, tag, f->models[next].id);
                unlink(json);
                pids[next] = start_replay(f, &f->models[next], fixture, json, log, seed);
                if (pids[next] < 0) {
                    fprintf(stderr, "echoconf fuzz: fork: %s\n", strerror(errno));
                    pids[next] = 0;
                    memset(&oc[next], 0, sizeof oc[next]);
                    snprintf(oc[next].sig, sizeof oc[next].sig, "ERROR");
                } else {
                    active++;
                }
            }
            next++;
        }
        if (!active)
            break;
        int st;
        pid_t p = wait(&st);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < f->nmodels; i++)
            if (pids[i] == p) {
                char json[1024];
                snprintf(json, sizeof json, "%s/%s-%s.result.json", f->work, tag, f->models[i].id);
                read_outcome(json, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), &oc[i]);
                pids[i] = 0;
                active--;
            }
    }
}

static int write_text(const char *path, const char *txt)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    int ok = fputs(txt, fp) >= 0 && fputc('\n', fp) != EOF;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

/* The same disagreement: a non-pass of the same outcome class (ended, open,
 * wrong-bytes, died). The diagnosis within a class may change as a script shrinks
 * (an abortive close seen as lost-after-half-close, then as unexpected-reset). */
static const char *sig_class(const struct outcome *o)
{
    const char *c = strchr(o->sig, ':');
    return c ? c : o->sig;
}

static int same_failure(const struct outcome *a, const struct outcome *want)
{
    return strcmp(sig_class(a), sig_class(want)) == 0;
}

/* Replays candidate s against model mi only; 1 when it fails as want did. */
static int reproduces(struct fuzz *f, int mi, const struct ec_fz_script *s,
                      const struct outcome *want, int *tests, struct outcome *got)
{
    char *txt = ec_fz_render(s, "fuzz-shrink", "MUST echo (shrinking)", NULL, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/fuzz-shrink.json", f->work);
    int ok = write_text(path, txt);
    free(txt);
    if (ok < 0)
        return 0;
    int run[MAX_MODELS] = {0};
    struct outcome oc[MAX_MODELS];
    run[mi] = 1;
    run_models(f, path, "shrink", s->seed, run, oc);
    (*tests)++;
    if (!same_failure(&oc[mi], want))
        return 0;
    *got = oc[mi];
    return 1;
}

static int budget_left(const struct fuzz *f)
{
    if (f->shrink_deadline_ms && ec_clock_ms() >= f->shrink_deadline_ms)
        return 0;
    return f->budget_s <= 0 || elapsed_s(f) < f->budget_s;
}

/* Greedy delta debugging: takes every reduction that keeps the failure (KEEP_RUNS runs
 * in a row, so that a timing-dependent failure does not drift to a script that fails
 * by luck), until none does, SHRINK_MAX_RUNS replays were made, or the budget is
 * spent. */
static void shrink(struct fuzz *f, int mi, struct ec_fz_script *s, struct outcome *want,
                   int *tests)
{
    int progress = 1;
    while (progress && *tests < SHRINK_MAX_RUNS && budget_left(f)) {
        progress = 0;
        struct ec_fz_script cand;
        for (int i = 0; *tests < SHRINK_MAX_RUNS && budget_left(f) && ec_fz_reduce(s, i, &cand);
             i++) {
            if (memcmp(&cand, s, sizeof cand) == 0)
                continue;
            struct outcome got;
            int keep = 1;
            for (int k = 0; k < KEEP_RUNS && keep; k++)
                keep = reproduces(f, mi, &cand, want, tests, &got);
            if (keep) {
                *s = cand;
                *want = got;
                progress = 1;
                i--; /* the same index names the next candidate now */
            }
        }
    }
}

/* A disagreement of model mi on script s: shrinks it (unless this diagnosis of this
 * model was written already) and writes the fixture. */
/* Reports a disagreement of model mi on script orig; returns 1 when it is the first of
 * its outcome class for this model (it is then queued for shrinking). */
static int report_disagreement(struct fuzz *f, int mi, const struct ec_fz_script *orig,
                               const struct outcome *oc, const char *why, long script_no,
                               uint64_t script_seed)
{
    struct model *m = &f->models[mi];
    m->disagreements++;
    f->disagreements++;
    char desc[1024];
    printf("DISAGREEMENT %s on script %ld (seed %llu): %s %s (%s); %s\n  script: %s\n", m->id,
           script_no, (unsigned long long)script_seed, oc->verdict, oc->diagnosis, oc->sig, why,
           ec_fz_describe(orig, desc, sizeof desc));
    for (int k = 0; k < m->nqueued; k++)
        if (strcmp(m->queued_class[k], sig_class(oc)) == 0) {
            printf("  same outcome class as one queued for shrinking already\n");
            return 0;
        }
    if (m->nqueued >= MAX_FOUND) {
        printf("  %d disagreements of %s queued already\n", MAX_FOUND, m->id);
        return 0;
    }
    snprintf(m->queued_class[m->nqueued++], sizeof m->queued_class[0], "%s", sig_class(oc));
    return 1;
}

/* Shrinks a queued disagreement and writes its fixture. */
static void handle_disagreement(struct fuzz *f, int mi, const struct ec_fz_script *orig,
                                const struct outcome *oc, const char *why, long script_no,
                                uint64_t script_seed, int ref)
{
    struct model *m = &f->models[mi];
    char desc[1024];
    printf("SHRINK %s, script %ld: %s (%s)\n", m->id, script_no, oc->diagnosis, oc->sig);
    struct ec_fz_script s = *orig;
    int tests = 0;
    int64_t t = ec_clock_ms();
    /* A timing-dependent bug may not show on every run: the original script must fail
     * the same way again in one of CONFIRM_RUNS runs before it is shrunk. */
    struct outcome last = *oc;
    int confirmed = 0;
    for (int k = 0; k < CONFIRM_RUNS && !confirmed; k++)
        confirmed = reproduces(f, mi, &s, oc, &tests, &last);
    if (confirmed)
        shrink(f, mi, &s, &last, &tests);
    else
        printf("  did not fail the same way in %d more runs: written unshrunk\n", CONFIRM_RUNS);
    /* How often the shrunk script fails so (a timing-dependent bug may not every time). */
    int rate = 0;
    for (int k = 0; k < RATE_RUNS; k++) {
        struct outcome got;
        rate += reproduces(f, mi, &s, &last, &tests, &got);
    }
    /* The shrunk script passes the reference model? (a correct model that agreed with
     * the echo oracle on the original script) */
    char refnote[200] = "";
    if (ref >= 0 && confirmed) {
        char *txt = ec_fz_render(&s, "fuzz-ref", "MUST echo", NULL, NULL);
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz-ref.json", f->work);
        write_text(path, txt);
        free(txt);
        int run[MAX_MODELS] = {0};
        struct outcome ro[MAX_MODELS];
        run[ref] = 1;
        run_models(f, path, "ref", s.seed, run, ro);
        snprintf(refnote, sizeof refnote, " %s gives %s on the shrunk script.", f->models[ref].id,
                 ro[ref].verdict);
    }
    /* The name: model and a hash of the shrunk script's steps. */
    char *body = ec_fz_render(&s, "x", "x", NULL, NULL);
    char name[64];
    snprintf(name, sizeof name, "%.40s-%08llx", m->id,
             (unsigned long long)(ec_fz_hash(body) & 0xffffffffull));
    free(body);
    char req[300], comment[3000];
    snprintf(req, sizeof req,
             "MUST echo every byte of every connection in order, close only after the owed "
             "echo, and keep serving after a client's close or reset (RFC 862); %s failed "
             "this with %s",
             m->id, last.diagnosis);
    size_t cl = (size_t)snprintf(comment, sizeof comment,
                                 "Found by echoconf fuzz, seed %llu, script %ld (its own seed "
                                 "%llu): %s. Shrunk in %d replays (%.1f s); it failed so in %d of %d "
                                 "runs afterwards. From: %s.%s Command:",
                                 (unsigned long long)f->seed, script_no,
                                 (unsigned long long)script_seed, why, tests,
                                 (double)(ec_clock_ms() - t) / 1000.0, rate, RATE_RUNS,
                                 ec_fz_describe(orig, desc, sizeof desc), refnote);
    for (int i = 0; i < f->argc && cl < sizeof comment; i++)
        cl += (size_t)snprintf(comment + cl, sizeof comment - cl, " %s", f->argv[i]);
    int nsteps = 0;
    char *txt = ec_fz_render(&s, name, req, comment, &nsteps);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", f->out, name);
    if (write_text(path, txt) < 0)
        fprintf(stderr, "echoconf fuzz: cannot write %s: %s\n", path, strerror(errno));
    free(txt);
    /* The report of the replay that disagreed first, beside the fixture. */
    char src[1100], dst[1100];
    snprintf(src, sizeof src, "%s/script-%s.log", f->work, m->id);
    snprintf(dst, sizeof dst, "%s/%s.first-report.txt", f->out, name);
    char *rep = ec_cli_read_file(src);
    if (rep) {
        write_text(dst, rep);
        free(rep);
    }
    if (!confirmed)
        m->unconfirmed++;
    printf("  shrunk to %d connection%s, %d steps (%d replays, last diagnosis %s, fails so in %d "
           "of %d runs): %s\n  wrote %s\n",
           s.nconns, s.nconns == 1 ? "" : "s", nsteps, tests, last.diagnosis, rate, RATE_RUNS,
           ec_fz_describe(&s, desc, sizeof desc), path);
    printf("  replay: echoconf replay --fixture %s --server '%s'\n", path, m->cmd);
    if (m->nfound < MAX_FOUND) {
        snprintf(m->found_diag[m->nfound], sizeof m->found_diag[0], "%s", oc->diagnosis);
        snprintf(m->found_last[m->nfound], sizeof m->found_last[0], "%s", last.diagnosis);
        snprintf(m->found_class[m->nfound], sizeof m->found_class[0], "%s", sig_class(oc));
        snprintf(m->found_file[m->nfound], sizeof m->found_file[0], "%s", path);
        m->found_steps[m->nfound] = nsteps;
        m->found_conns[m->nfound] = s.nconns;
        m->found_at_s[m->nfound] = elapsed_s(f);
        m->found_rate[m->nfound] = rate;
        m->nfound++;
    }
    fflush(stdout);
}

static void fuzz_usage(FILE *fp)
{
    fprintf(fp,
            "usage: echoconf fuzz [--models GLOB[,GLOB]] [--seed S] [--runs N] [--budget SECONDS]\n"
            "                     [--out DIR] [--from N] [-j N] [--build DIR] [--profile-dir DIR]\n"
            "\n"
            "Generates seeded random client scripts (1-8 connections, 0 B-256 KiB payloads,\n"
            "write plans, half-close, abort, slow reading, pauses, connect-and-close) and\n"
            "replays each against every model matching GLOB (default 'posix-*'), started by\n"
            "the engine. The echo oracle (RFC 862) and the differential oracle (models agree\n"
            "on each connection's outcome class) judge them; each disagreement is shrunk and\n"
            "written as DIR/<model>-<hash>.json (default DIR: fuzz-out).\n"
            "Stops after N scripts (default 100 without --budget) or SECONDS, whichever first.\n"
            "Script n of seed S is the same everywhere: --seed S --from n --runs 1 reruns it.\n"
            "Exit: 0 no disagreement, 1 some, 2 bad usage or no model.\n");
}

int ec_cli_fuzz(int argc, char **argv)
{
    static struct fuzz f;
    memset(&f, 0, sizeof f);
    f.globs = "posix-*";
    f.out = "fuzz-out";
    f.profile_dir = EC_SOURCE_DIR "/conformance/profiles";
    f.jobs = 2;
    f.runs = -1;
    f.argc = argc;
    f.argv = argv;
    int seed_set = 0;
    static char build[1024];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fuzz_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "echoconf fuzz: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(a, "--models") == 0)
            f.globs = v;
        else if (strcmp(a, "--out") == 0)
            f.out = v;
        else if (strcmp(a, "--build") == 0)
            f.build = v;
        else if (strcmp(a, "--profile-dir") == 0)
            f.profile_dir = v;
        else if (strcmp(a, "--seed") == 0) {
            errno = 0;
            f.seed = strtoull(v, &end, 10);
            if (*end || errno || !*v) {
                fprintf(stderr, "echoconf fuzz: --seed %s: not a number\n", v);
                return 2;
            }
            seed_set = 1;
        } else if (strcmp(a, "--runs") == 0) {
            f.runs = strtol(v, &end, 10);
            if (*end || f.runs <= 0) {
                fprintf(stderr, "echoconf fuzz: --runs %s: a positive count\n", v);
                return 2;
            }
        } else if (strcmp(a, "--from") == 0) {
            f.from = strtol(v, &end, 10);
            if (*end || f.from < 0) {
                fprintf(stderr, "echoconf fuzz: --from %s: a script number >= 0\n", v);
                return 2;
            }
        } else if (strcmp(a, "--budget") == 0) {
            f.budget_s = strtod(v, &end);
            if (*end || f.budget_s <= 0) {
                fprintf(stderr, "echoconf fuzz: --budget %s: positive seconds\n", v);
                return 2;
            }
        } else if (strcmp(a, "-j") == 0 || strcmp(a, "--jobs") == 0) {
            f.jobs = (int)strtol(v, &end, 10);
            if (*end || f.jobs < 1 || f.jobs > MAX_MODELS) {
                fprintf(stderr, "echoconf fuzz: -j %s: 1..%d\n", v, MAX_MODELS);
                return 2;
            }
        } else {
            fprintf(stderr, "echoconf fuzz: unknown option %s\n", a);
            fuzz_usage(stderr);
            return 2;
        }
    }
    if (f.runs < 0 && f.budget_s <= 0)
        f.runs = 100;
    if (!f.build) {
        if (ec_cli_default_build(build, sizeof build) < 0) {
            fprintf(stderr, "echoconf fuzz: cannot find the build directory; give --build DIR\n");
            return 2;
        }
        f.build = build;
    }
    if (!seed_set)
        f.seed = (uint64_t)time(NULL);
    if (load_models(&f) < 0)
        return 2;
    mkdir(f.out, 0777);
    struct stat sb;
    if (stat(f.out, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "echoconf fuzz: --out %s: cannot make that directory\n", f.out);
        return 2;
    }
    snprintf(f.work, sizeof f.work, "%s/.work", f.out);
    mkdir(f.work, 0777);
    f.tty = isatty(2);
    f.t0 = ec_clock_ms();
    printf("echoconf fuzz: seed %llu, %d model%s:", (unsigned long long)f.seed, f.nmodels,
           f.nmodels == 1 ? "" : "s");
    for (int i = 0; i < f.nmodels; i++)
        printf(" %s%s", f.models[i].id, f.models[i].serial ? " (one client at a time)" : "");
    printf("\n");
    if (f.runs > 0)
        printf("  %ld scripts", f.runs);
    if (f.budget_s > 0)
        printf("%s%.0f s budget", f.runs > 0 ? ", or " : "  ", f.budget_s);
    printf("; disagreements go to %s/\n", f.out);
    fflush(stdout);

    static struct pending pending[MAX_PENDING];
    int npending = 0;
    /* With a budget, new scripts run until EXPLORE_SHARE of it is spent while a shrink
     * waits (all of it while none does); the rest shrinks. */
    for (long n = f.from;
         (f.runs < 0 || n < f.from + f.runs) &&
         (f.budget_s <= 0 || elapsed_s(&f) < f.budget_s * (npending ? EXPLORE_SHARE : 1.0));
         n++) {
        uint64_t st = f.seed * 0x9e3779b97f4a7c15ull + (uint64_t)n + 1;
        uint64_t sseed = st ^ (st >> 29);
        struct ec_fz_script s;
        ec_fz_generate(sseed, &s);
        char *txt = ec_fz_render(&s, "fuzz-script", "MUST echo every byte of every connection "
                                 "in order and close only after the owed echo (RFC 862)", NULL, NULL);
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz-script.json", f.work);
        if (write_text(path, txt) < 0) {
            fprintf(stderr, "echoconf fuzz: cannot write %s: %s\n", path, strerror(errno));
            free(txt);
            return 2;
        }
        free(txt);
        int run[MAX_MODELS] = {0}, nrun = 0;
        for (int i = 0; i < f.nmodels; i++) {
            run[i] = !(f.models[i].serial && ec_fz_needs_concurrency(&s));
            if (!run[i])
                f.models[i].skipped++;
            nrun += run[i];
        }
        struct outcome oc[MAX_MODELS];
        run_models(&f, path, "script", sseed, run, oc);
        f.scripts++;
        /* The differential reference: the outcome most models had ("echoed" wins ties). */
        int best = -1, bestn = 0;
        for (int i = 0; i < f.nmodels; i++) {
            if (!run[i] || strcmp(oc[i].sig, "ERROR") == 0 || strcmp(oc[i].sig, "UNSUPPORTED") == 0)
                continue;
            int c = 0;
            for (int k = 0; k < f.nmodels; k++)
                c += run[k] && strcmp(oc[k].sig, oc[i].sig) == 0;
            if (c > bestn || (c == bestn && strcmp(oc[i].sig, "echoed") == 0)) {
                best = i;
                bestn = c;
            }
        }
        int ref = -1;
        for (int i = 0; i < f.nmodels; i++)
            if (run[i] && strcmp(oc[i].sig, "echoed") == 0 &&
                strcmp(f.models[i].family, "faulty") != 0) {
                ref = i;
                break;
            }
        for (int i = 0; i < f.nmodels; i++) {
            if (!run[i])
                continue;
            struct model *m = &f.models[i];
            m->runs++;
            if (strcmp(oc[i].sig, "ERROR") == 0 || oc[i].rc == 2) {
                m->errors++;
                f.errors++;
                /* a harness problem (the server did not start, ...): keep its report */
                char src[1100], dst[1100];
                snprintf(src, sizeof src, "%s/script-%s.log", f.work, m->id);
                snprintf(dst, sizeof dst, "%s/error-%s-script%ld.txt", f.out, m->id, n);
                char *rep = ec_cli_read_file(src);
                if (rep) {
                    write_text(dst, rep);
                    free(rep);
                }
                printf("ERROR %s on script %ld: %s%s(report: %s)\n", m->id, n, oc[i].diagnosis,
                       oc[i].diagnosis[0] ? " " : "", dst);
                continue;
            }
            if (strcmp(oc[i].sig, "UNSUPPORTED") == 0) {
                m->skipped++;
                continue;
            }
            int echo_bad = strcmp(oc[i].sig, "echoed") != 0;
            int diff_bad = best >= 0 && bestn * 2 > nrun && strcmp(oc[i].sig, oc[best].sig) != 0;
            if (!echo_bad && !diff_bad) {
                m->passes++;
                continue;
            }
            char why[300];
            snprintf(why, sizeof why, "%s%s%s%s%s", echo_bad ? "echo oracle: " : "",
                     echo_bad ? oc[i].sig : "", echo_bad && diff_bad ? "; " : "",
                     diff_bad ? "differential oracle: most models " : "",
                     diff_bad ? oc[best].sig : "");
            if (report_disagreement(&f, i, &s, &oc[i], why, n, sseed) && npending < MAX_PENDING) {
                struct pending *p = &pending[npending++];
                p->mi = i;
                p->ref = ref;
                p->s = s;
                p->oc = oc[i];
                snprintf(p->why, sizeof p->why, "%s", why);
                p->script_no = n;
                p->seed = sseed;
            }
        }
        if (f.tty) {
            fprintf(stderr, "\r%ld scripts, %ld disagreements, %.0f s", f.scripts, f.disagreements,
                    elapsed_s(&f));
            if (f.budget_s > 0)
                fprintf(stderr, ", %.0f s left", f.budget_s - elapsed_s(&f));
            fprintf(stderr, "   ");
        } else if (f.scripts % 10 == 0) {
            printf("progress: %ld scripts, %ld disagreements, %.0f s", f.scripts, f.disagreements,
                   elapsed_s(&f));
            if (f.budget_s > 0)
                printf(", %.0f s left", f.budget_s - elapsed_s(&f));
            printf("\n");
            fflush(stdout);
        }
    }
    if (f.tty)
        fprintf(stderr, "\n");
    if (npending)
        printf("shrinking %d disagreement%s\n", npending, npending == 1 ? "" : "s");
    for (int k = 0; k < npending; k++) {
        struct pending *p = &pending[k];
        /* each gets an equal share of what is left of the budget */
        f.shrink_deadline_ms = 0;
        if (f.budget_s > 0) {
            double left = f.budget_s - elapsed_s(&f);
            f.shrink_deadline_ms = ec_clock_ms() + (int64_t)(left * 1000.0 / (npending - k));
        }
        handle_disagreement(&f, p->mi, &p->s, &p->oc, p->why, p->script_no, p->seed, p->ref);
    }
    printf("\nsummary: %ld scripts in %.1f s (seed %llu), %ld disagreement%s, %ld error%s\n",
           f.scripts, elapsed_s(&f), (unsigned long long)f.seed, f.disagreements,
           f.disagreements == 1 ? "" : "s", f.errors, f.errors == 1 ? "" : "s");
    int found = 0;
    for (int i = 0; i < f.nmodels; i++) {
        struct model *m = &f.models[i];
        found += m->nfound > 0;
        printf("  %-36s %4d run, %4d agreed, %3d skipped, %3d disagreed", m->id, m->runs, m->passes,
               m->skipped, m->disagreements);
        if (m->errors)
            printf(", %d errors", m->errors);
        if (m->unconfirmed)
            printf(" (%d not seen again in %d reruns)", m->unconfirmed, CONFIRM_RUNS);
        printf("\n");
        for (int k = 0; k < m->nfound; k++)
            printf("      %-22s -> %-22s %d conn, %2d steps, %d/%d, at %4.0f s: %s\n",
                   m->found_diag[k], m->found_last[k], m->found_conns[k], m->found_steps[k],
                   m->found_rate[k], RATE_RUNS, m->found_at_s[k], m->found_file[k]);
    }
    printf("models with a disagreement: %d of %d\n", found, f.nmodels);
    if (f.disagreements)
        return 1;
    return f.errors ? 2 : 0;
}
