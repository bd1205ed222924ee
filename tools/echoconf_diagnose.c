/* echoconf_diagnose.c - `echoconf diagnose`: the whole catalogue against one server
 * (started per case from --server "CMD", or a running --target). It checks first that
 * the server can start at all, then runs every selected case as its own
 * `echoconf replay` process (-j at a time), reads back the JSON results and prints one
 * line per case, the failures in full and the edge profile in words; --html, --json
 * and --junit write the same results for browsers, scripts and CI dashboards.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ec_net.h"
#include "ec_sock.h"
#include "echoconf_cli.h"
#include "echoconf_results.h"
#include "echoconf_report.h"
#include "fixture.h"
#include "server_launch.h"
#include "steps.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

#define MAX_CASES    256
#define MAX_PATTERNS 32
#define READY_MS     10000 /* the engine's readiness deadline (engine.c), scaled */
#define CASE_BACKSTOP_S 120 /* a replay bounds its own waits; this only catches a hang */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: echoconf diagnose (--server \"CMD\" | --target HOST:PORT)\n"
            "                         [--framing F] [--case GLOB]... [--tag T]... [-j N]\n"
            "                         [--seed S] [--profile FILE] [--name NAME]\n"
            "                         [--html FILE] [--json FILE] [--junit FILE]\n"
            "                         [--fixtures DIR] [--work DIR] [--verbose]\n"
            "\n"
            "Runs the catalogue (fixtures/*.json) against one server and prints one line per\n"
            "case (verdict, diagnosis, the command that reproduces it), the failures in full,\n"
            "and the server's edge profile in words.\n"
            "\n"
            "  --server \"CMD\"   started once per case. With {port} in CMD, echoconf picks a\n"
            "                   free port, puts it there, and the first accepted connection\n"
            "                   is readiness (for servers that print nothing); without it,\n"
            "                   CMD gets --port 0 --framing F and must print \"listening A:P\".\n"
            "  --target H:P     a running server: cases that need a server process of their\n"
            "                   own (descriptor counts, CPU, RLIMIT_NOFILE) are UNSUPPORTED.\n"
            "  --framing F      the framing the server speaks (raw|line|fixed:N|len16|len32):\n"
            "                   framed cases of another framing are left out. Without it, a\n"
            "                   server that takes --framing runs every framed case, a {port}\n"
            "                   server or a --target none.\n"
            "  --case GLOB      only cases whose name matches (repeatable; fnmatch).\n"
            "  --tag T          only cases with tag T (repeatable: any of them).\n"
            "  -j N             cases run at once (default: the number of CPUs).\n"
            "  --seed S         the seed of every random plan (default: one per run).\n"
            "  --profile FILE   declared deviations of this server (the format of\n"
            "                   conformance/profiles/*.json): they become XFAIL.\n"
            "  --name NAME      how reports call the server (default: the command's name).\n"
            "  --html/--json/--junit FILE   the report as HTML, JSON or JUnit XML.\n"
            "  --work DIR       where each case's result and output go (default: a new\n"
            "                   directory under $TMPDIR or /tmp, named in the output).\n"
            "  --verbose        list every declared deviation with its reason.\n"
            "\n"
            "Exit status: 0 every case passed (PASS, PASS-NONSTRICT, XFAIL or MAY as declared,\n"
            "UNSUPPORTED), 1 otherwise, 2 bad usage or a server that cannot start.\n"
            "ECHOCONF_TIMEOUT_MULTIPLIER scales every deadline.\n");
}

struct dcase {
    char name[64];
    char file[PATH_MAX];
    char framing[40];
    int left_out;
    pid_t pid;
    int64_t started_ms;
    int killed;
};

struct opts {
    const char *server, *target, *framing, *seed, *profile, *name;
    const char *html, *json, *junit, *fixtures, *work;
    const char *cases[MAX_PATTERNS];
    const char *tags[MAX_PATTERNS];
    int ncases, ntags, jobs, verbose;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = n > 0 ? (int)n : 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = 1;
            continue;
        }
        if (strncmp(a, "-j", 2) == 0 && a[2]) {
            o->jobs = atoi(a + 2);
            if (o->jobs < 1 || o->jobs > 64) {
                fprintf(stderr, "echoconf diagnose: %s: -j takes 1..64\n", a);
                return -1;
            }
            continue;
        }
        const char **slot = NULL;
        if (strcmp(a, "--server") == 0)
            slot = &o->server;
        else if (strcmp(a, "--target") == 0)
            slot = &o->target;
        else if (strcmp(a, "--framing") == 0)
            slot = &o->framing;
        else if (strcmp(a, "--seed") == 0)
            slot = &o->seed;
        else if (strcmp(a, "--profile") == 0)
            slot = &o->profile;
        else if (strcmp(a, "--name") == 0)
            slot = &o->name;
        else if (strcmp(a, "--html") == 0)
            slot = &o->html;
        else if (strcmp(a, "--json") == 0)
            slot = &o->json;
        else if (strcmp(a, "--junit") == 0)
            slot = &o->junit;
        else if (strcmp(a, "--fixtures") == 0)
            slot = &o->fixtures;
        else if (strcmp(a, "--work") == 0)
            slot = &o->work;
        else if (strcmp(a, "--case") == 0 && o->ncases < MAX_PATTERNS)
            slot = &o->cases[o->ncases++];
        else if (strcmp(a, "--tag") == 0 && o->ntags < MAX_PATTERNS)
            slot = &o->tags[o->ntags++];
        else if (strcmp(a, "-j") != 0) {
            fprintf(stderr, "echoconf diagnose: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "echoconf diagnose: %s needs a value\n", a);
            return -1;
        }
        if (!slot) { /* -j N */
            o->jobs = atoi(argv[++i]);
            if (o->jobs < 1 || o->jobs > 64) {
                fprintf(stderr, "echoconf diagnose: -j %s: takes 1..64\n", argv[i]);
                return -1;
            }
            continue;
        }
        *slot = argv[++i];
    }
    if (!!o->server == !!o->target) {
        fprintf(stderr, "echoconf diagnose: give one of --server \"CMD\" or --target HOST:PORT\n");
        usage(stderr);
        return -1;
    }
    if (o->seed) {
        char *end;
        errno = 0;
        strtoull(o->seed, &end, 10);
        if (!*o->seed || *end || errno) {
            fprintf(stderr, "echoconf diagnose: --seed %s: not a number\n", o->seed);
            return -1;
        }
    }
    if (o->framing) {
        struct ec_framing fr;
        char ferr[200];
        if (ec_framing_parse(o->framing, &fr, ferr, sizeof ferr) < 0) {
            fprintf(stderr, "echoconf diagnose: --framing %s: %s\n", o->framing, ferr);
            return -1;
        }
    }
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int selected(const struct opts *o, const struct ec_fixture *fx)
{
    int ok = o->ncases == 0;
    for (int i = 0; i < o->ncases && !ok; i++)
        ok = fnmatch(o->cases[i], fx->name, 0) == 0;
    if (!ok)
        return 0;
    if (o->ntags == 0)
        return 1;
    for (int i = 0; i < o->ntags; i++)
        for (size_t t = 0; t < fx->ntags; t++)
            if (strcmp(o->tags[i], fx->tags[t]) == 0)
                return 1;
    return 0;
}

/* The catalogue: every fixture of dir that the selection keeps. Returns the count,
 * or -1 after printing which file is broken. */
static int load_cases(const struct opts *o, const char *dir, struct dcase *cs)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "echoconf diagnose: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int k = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        size_t l = strlen(nm);
        if (rc == 0 && l > 5 && strcmp(nm + l - 5, ".json") == 0 && k < MAX_CASES) {
            struct ec_fixture fx;
            char err[1024], path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, nm);
            if (ec_fixture_load(path, &fx, err, sizeof err) < 0) {
                fprintf(stderr, "echoconf diagnose: %s\n", err);
                rc = -1;
            } else {
                if (selected(o, &fx)) {
                    struct dcase *c = &cs[k++];
                    memset(c, 0, sizeof *c);
                    snprintf(c->name, sizeof c->name, "%s", fx.name);
                    snprintf(c->file, sizeof c->file, "%s", path);
                    snprintf(c->framing, sizeof c->framing, "%s", fx.framing_spec);
                }
                ec_fixture_free(&fx);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return rc < 0 ? -1 : k;
}

/* Can the server be reached at all? A --server is started once with the contract or
 * its {port}; a --target must accept a connection. Returns 0, or -1 after printing
 * what was tried and seen. */
static int preflight(const struct opts *o)
{
    char err[1024];
    if (o->target) {
        char host[256];
        unsigned port;
        if (ec_parse_hostport(o->target, host, sizeof host, &port, 0) < 0) {
            fprintf(stderr, "echoconf diagnose: --target %s: expected HOST:PORT\n", o->target);
            return -1;
        }
        ec_sock_t s;
        int ms = ec_scale_ms(2000);
        int rc = ec_connect(host, port, ms, &s);
        if (rc < 0) {
            fprintf(stderr,
                    "echoconf diagnose: --target %s: cannot connect to %s:%u (%s, within %d "
                    "ms): is the server running there?\n",
                    o->target, host, port, ec_err_name(rc), ms);
            return -1;
        }
        ec_sock_close(s);
        return 0;
    }
    struct ec_server_proc sp;
    char shown[2048] = "";
    int ready_ms = ec_scale_ms(READY_MS);
    int rc = ec_launch_server(&sp, o->server, o->framing ? o->framing : "raw", NULL, 0, 0,
                              ready_ms, shown, sizeof shown, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "echoconf diagnose: --server \"%s\": cannot start it: %s\n", o->server,
                err);
        if (shown[0])
            fprintf(stderr, "  ran: %s\n", shown);
        if (!ec_command_has_port(o->server))
            fprintf(stderr,
                    "  (without {port} in the command, the server must take --port 0 and print "
                    "\"listening A:P\" when ready; a server that cannot, takes {port}:\n"
                    "   --server \"myserver --listen {port}\")\n");
        size_t from = sp.nlines > 5 ? sp.nlines - 5 : 0;
        for (size_t i = from; i < sp.nlines; i++)
            fprintf(stderr, "  its %s: %s\n", sp.lines[i].is_err ? "stderr" : "stdout",
                    sp.lines[i].text);
        if (sp.pid >= 0 && !sp.nlines)
            fprintf(stderr, "  it printed nothing\n");
        ec_server_free(&sp);
        return -1;
    }
    ec_server_stop(&sp, ec_scale_ms(2000));
    ec_server_free(&sp);
    return 0;
}

static void spawn_case(const struct opts *o, const char *self, const char *work, const char *seed,
                       const char *profile_dir, struct dcase *c)
{
    char json[PATH_MAX + 80], log[PATH_MAX + 80];
    snprintf(json, sizeof json, "%s/%s.json", work, c->name);
    snprintf(log, sizeof log, "%s/%s.log", work, c->name);
    unlink(json);
    c->started_ms = ec_clock_ms();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        const char *av[32];
        int n = 0;
        av[n++] = "echoconf";
        av[n++] = "replay";
        av[n++] = "--fixture";
        av[n++] = c->file;
        av[n++] = o->target ? "--target" : "--server";
        av[n++] = o->target ? o->target : o->server;
        av[n++] = "--json";
        av[n++] = json;
        av[n++] = "--seed";
        av[n++] = seed;
        av[n++] = "--model";
        av[n++] = o->name;
        if (o->profile) {
            av[n++] = "--profile";
            av[n++] = o->profile;
        } else {
            av[n++] = "--profile-dir"; /* no profile: the model name must not find one */
            av[n++] = profile_dir;
        }
        av[n] = NULL;
        execv(self, (char *const *)av);
        fprintf(stderr, "cannot run %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
}

/* Reads a case's result; a missing one becomes an ERROR cell that says why. */
static cJSON *read_result(const char *work, const struct dcase *c)
{
    char path[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s.json", work, c->name);
    char *t = ec_cli_read_file(path);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (j)
        return j;
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "case", c->name);
    cJSON_AddStringToObject(j, "verdict", "ERROR");
    char why[PATH_MAX + 200];
    if (c->killed)
        snprintf(why, sizeof why, "no result: the replay was killed after %d s (see %s/%s.log)",
                 ec_scale_ms(CASE_BACKSTOP_S * 1000) / 1000, work, c->name);
    else
        snprintf(why, sizeof why, "no result: the replay wrote none (see %s/%s.log)", work,
                 c->name);
    cJSON_AddStringToObject(j, "error", why);
    return j;
}

/* Runs the cases, at most jobs at once. */
static void run_cases(const struct opts *o, const char *self, const char *work, const char *seed,
                      const char *profile_dir, struct dcase *cs, int n)
{
    int next = 0, running = 0;
    int64_t backstop = ec_scale_ms(CASE_BACKSTOP_S * 1000);
    while (next < n || running > 0) {
        while (running < o->jobs && next < n) {
            if (!cs[next].left_out) {
                spawn_case(o, self, work, seed, profile_dir, &cs[next]);
                running += cs[next].pid > 0;
            }
            next++;
        }
        if (!running)
            continue;
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid == 0) {
            /* Nothing ended yet: a bounded wait for SIGCHLD (blocked, so it stays
             * pending), and the backstop check. */
            sigset_t chld;
            sigemptyset(&chld);
            sigaddset(&chld, SIGCHLD);
            struct timespec ts = {1, 0};
            sigtimedwait(&chld, NULL, &ts);
            for (int i = 0; i < n; i++)
                if (cs[i].pid > 0 && ec_clock_ms() - cs[i].started_ms > backstop) {
                    cs[i].killed = 1;
                    kill(cs[i].pid, SIGKILL);
                }
            continue;
        }
        if (pid < 0)
            break;
        for (int i = 0; i < n; i++)
            if (cs[i].pid == pid) {
                cs[i].pid = 0;
                running--;
            }
    }
}

/* The name reports use for the server: the command's program name, or the target. */
static void default_name(const struct opts *o, char *buf, size_t len)
{
    if (o->target) {
        snprintf(buf, len, "%s", o->target);
        return;
    }
    char *w[64];
    char err[64];
    int n = ec_split_command(o->server, w, 64, err, sizeof err);
    const char *base = n > 0 ? strrchr(w[0], '/') : NULL;
    snprintf(buf, len, "%s", n > 0 ? (base ? base + 1 : w[0]) : "server");
    if (n > 0)
        ec_split_free(w, n);
}

static int write_json_all(const char *path, const struct ec_result_set *rs, char **profile,
                          size_t nprofile)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "server", rs->rows[0].id);
    cJSON *a = cJSON_AddArrayToObject(j, "cases");
    for (size_t c = 0; c < rs->ncols; c++)
        if (rs->cells[c])
            cJSON_AddItemReferenceToArray(a, rs->cells[c]);
    cJSON *p = cJSON_AddArrayToObject(j, "edge_profile");
    for (size_t i = 0; i < nprofile; i++)
        cJSON_AddItemToArray(p, cJSON_CreateString(profile[i]));
    char *txt = cJSON_Print(j);
    FILE *f = fopen(path, "w");
    int rc = f && txt ? 0 : -1;
    if (f) {
        fputs(txt ? txt : "", f);
        fputc('\n', f);
        rc = fclose(f) == 0 ? rc : -1;
    }
    free(txt);
    cJSON_Delete(j);
    return rc;
}

static void print_case(const struct opts *o, const struct dcase *c, const cJSON *j)
{
    const char *v = ec_rs_str(j, "verdict"), *d = ec_rs_str(j, "diagnosis");
    enum ec_rs_class k = ec_rs_cell_class(j);
    printf("  %-14s %-28s %-24s", v, c->name, *d ? d : "-");
    if (k == EC_RS_NEUTRAL) {
        printf(" %s\n", ec_rs_str(j, "reason"));
        return;
    }
    if (k == EC_RS_PASS) {
        printf("\n");
        return;
    }
    printf(" %s\n", ec_rs_str(j, "reproduce"));
    if (k == EC_RS_DECLARED) {
        if (o->verbose)
            printf("      declared: %s\n", ec_rs_str(j, "reason"));
        return;
    }
    /* A failure in full. */
    if (*ec_rs_str(j, "requirement"))
        printf("      requirement: %s\n", ec_rs_str(j, "requirement"));
    if (*ec_rs_str(j, "expected"))
        printf("      expected: %s\n      actual:   %s\n", ec_rs_str(j, "expected"),
               ec_rs_str(j, "actual"));
    if (*ec_rs_str(j, "evidence"))
        printf("      evidence: %s\n", ec_rs_str(j, "evidence"));
    if (*ec_rs_str(j, "connection"))
        printf("      where: %s, step %s (%s), plan %s\n", ec_rs_str(j, "connection"),
               ec_rs_str(j, "step"), ec_rs_str(j, "step_kind"), ec_rs_str(j, "plan"));
    if (strcmp(v, "XPASS") == 0)
        printf("      the declared deviation (%s) did not happen: %s\n",
               ec_rs_str(j, "declared_diagnosis"), ec_rs_str(j, "reason"));
    if (*ec_rs_str(j, "error"))
        printf("      error: %s\n", ec_rs_str(j, "error"));
}

int ec_cli_diagnose(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return 2;
    char name[64];
    if (!o.name) {
        default_name(&o, name, sizeof name);
        o.name = name;
    }
    if (o.profile && access(o.profile, R_OK) != 0) {
        fprintf(stderr, "echoconf diagnose: --profile %s: %s\n", o.profile, strerror(errno));
        return 2;
    }
    const char *fixtures = o.fixtures ? o.fixtures : EC_SOURCE_DIR "/fixtures";
    struct dcase *cs = calloc(MAX_CASES, sizeof *cs);
    if (!cs)
        return 2;
    int n = load_cases(&o, fixtures, cs);
    if (n < 0) {
        free(cs);
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "echoconf diagnose: no case of %s matches the --case/--tag selection\n",
                fixtures);
        free(cs);
        return 2;
    }
    /* Framed cases: a server that takes --framing is told each case's framing; a
     * {port} server or a target speaks the one framing --framing names (raw if none). */
    int told = o.server && !ec_command_has_port(o.server);
    char left[4096] = "";
    size_t ll = 0;
    int nleft = 0;
    for (int i = 0; i < n; i++) {
        int framed = strcmp(cs[i].framing, "raw") != 0;
        if (!framed)
            continue;
        int run = o.framing ? strcmp(o.framing, cs[i].framing) == 0 : told;
        if (!run) {
            cs[i].left_out = 1;
            nleft++;
            if (ll < sizeof left)
                ll += (size_t)snprintf(left + ll, sizeof left - ll, "%s%s (%s)", nleft > 1 ? ", " : "",
                                       cs[i].name, cs[i].framing);
        }
    }
    if (preflight(&o) < 0) {
        free(cs);
        return 2;
    }

    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "echoconf diagnose: cannot find my own executable (/proc/self/exe)\n");
        free(cs);
        return 2;
    }
    self[sl] = 0;
    char work[PATH_MAX];
    if (o.work) {
        snprintf(work, sizeof work, "%s", o.work);
        mkdir(work, 0777);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/echoconf-diagnose.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work)) {
            fprintf(stderr, "echoconf diagnose: cannot create %s: %s\n", work, strerror(errno));
            free(cs);
            return 2;
        }
    }
    char profile_dir[PATH_MAX + 16];
    snprintf(profile_dir, sizeof profile_dir, "%s/no-profiles", work);
    char seed[32];
    if (o.seed)
        snprintf(seed, sizeof seed, "%s", o.seed);
    else
        snprintf(seed, sizeof seed, "%llu",
                 (unsigned long long)ec_default_seed());

    int nrun = n - nleft;
    printf("echoconf diagnose: %s: %d cases with -j %d, seed %s (results and logs: %s)\n",
           o.target ? o.target : o.server, nrun, o.jobs, seed, work);
    if (nleft && o.framing)
        printf("left out %d framed case%s of another framing than %s (--framing): %s\n", nleft,
               nleft > 1 ? "s" : "", o.framing, left);
    else if (nleft)
        printf("left out %d framed case%s (a %s cannot be told a framing; --framing F runs the "
               "cases of framing F): %s\n",
               nleft, nleft > 1 ? "s" : "", o.target ? "--target" : "{port} server", left);
    fflush(stdout);
    int64_t t0 = ec_clock_ms();
    /* SIGCHLD stays blocked so run_cases can wait for it with sigtimedwait; the
     * replays get an empty mask back (the engine's server launcher resets it). */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    run_cases(&o, self, work, seed, profile_dir, cs, n);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* Results, as a one-row set of the cases that ran. */
    struct ec_rs_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "%s", o.name);
    snprintf(row.family, sizeof row.family, "%s", o.target ? "target" : "server");
    char(*cols)[64] = calloc((size_t)nrun, sizeof *cols);
    cJSON **cells = calloc((size_t)nrun, sizeof *cells);
    if (!cols || !cells) {
        free(cs);
        return 2;
    }
    int bad = 0, counts[4] = {0};
    size_t k = 0;
    printf("\n");
    for (int i = 0; i < n; i++) {
        if (cs[i].left_out)
            continue;
        cells[k] = read_result(work, &cs[i]);
        snprintf(cols[k], 64, "%s", cs[i].name);
        enum ec_rs_class cl = ec_rs_cell_class(cells[k]);
        counts[cl]++;
        bad += cl == EC_RS_BAD;
        print_case(&o, &cs[i], cells[k]);
        k++;
    }
    char title[600], sub[700];
    snprintf(title, sizeof title, "echoconf diagnose: %s", o.name);
    snprintf(sub, sizeof sub, "%s %s, seed %s%s%s", o.target ? "target" : "server",
             o.target ? o.target : o.server, seed, o.profile ? ", profile " : "",
             o.profile ? o.profile : "");
    struct ec_result_set rs = {.title = title, .subtitle = sub, .rows = &row, .nrows = 1,
                               .cols = cols, .ncols = k, .cells = cells};

    /* Declared deviations in one line, by diagnosis. */
    if (counts[EC_RS_DECLARED]) {
        printf("\ndeclared deviations: %d case%s XFAIL or MAY as %s declares:", counts[EC_RS_DECLARED],
               counts[EC_RS_DECLARED] > 1 ? "s" : "", o.profile);
        char seen[MAX_CASES][64];
        int ns = 0;
        for (size_t c = 0; c < k; c++) {
            if (ec_rs_cell_class(cells[c]) != EC_RS_DECLARED)
                continue;
            const char *d = ec_rs_str(cells[c], "diagnosis");
            int dup = 0;
            for (int s = 0; s < ns; s++)
                dup |= strcmp(seen[s], d) == 0;
            if (dup)
                continue;
            snprintf(seen[ns++], 64, "%s", d);
            int cnt = 0;
            for (size_t c2 = 0; c2 < k; c2++)
                cnt += ec_rs_cell_class(cells[c2]) == EC_RS_DECLARED &&
                       strcmp(ec_rs_str(cells[c2], "diagnosis"), d) == 0;
            printf("%s %s x%d", ns > 1 ? "," : "", *d ? d : "(none)", cnt);
        }
        printf("%s\n", o.verbose ? "" : " (--verbose lists them with their reasons)");
    }

    char *profile[64];
    size_t np = ec_edge_profile(&rs, 0, profile, 64);
    printf("\nedge profile of %s:\n", o.name);
    for (size_t i = 0; i < np; i++)
        printf("  - %s\n", profile[i]);
    if (!np)
        printf("  no deviation at the edges these %zu cases cover\n", k);
    printf("\n%zu cases: %d passed, %d deviated as declared, %d unsupported, %d failed; %.1f s\n",
           k, counts[EC_RS_PASS], counts[EC_RS_DECLARED], counts[EC_RS_NEUTRAL], bad,
           (double)(ec_clock_ms() - t0) / 1000.0);

    int rc = bad ? 1 : 0;
    char err[512];
    if (o.html && ec_write_html(&rs, o.html, err, sizeof err) < 0) {
        fprintf(stderr, "echoconf diagnose: --html %s: %s\n", o.html, err);
        rc = 2;
    } else if (o.html)
        printf("HTML report: %s\n", o.html);
    if (o.junit && ec_write_junit(&rs, o.junit, err, sizeof err) < 0) {
        fprintf(stderr, "echoconf diagnose: --junit %s: %s\n", o.junit, err);
        rc = 2;
    } else if (o.junit)
        printf("JUnit XML: %s\n", o.junit);
    if (o.json && write_json_all(o.json, &rs, profile, np) < 0) {
        fprintf(stderr, "echoconf diagnose: --json %s: cannot write it\n", o.json);
        rc = 2;
    } else if (o.json)
        printf("JSON: %s\n", o.json);
    for (size_t i = 0; i < np; i++)
        free(profile[i]);
    for (size_t c = 0; c < k; c++)
        cJSON_Delete(cells[c]);
    free(cells);
    free(cols);
    free(cs);
    return rc;
}
