/* echoconf.c - the command-line front of the conformance engine:
 *   echoconf replay   one fixture against one server (started here, or a --target)
 *   echoconf matrix   every registered model x case through ctest, as a table
 *   echoconf gallery  the mutation score: which faulty servers the catalogue caught
 *   echoconf diagnose the whole catalogue against one server of the user's
 *   echoconf bench    what each model costs against a minimal epoll echo (the floor)
 *   echoconf record   a relay that records a live session as a fixture
 *   echoconf fuzz     seeded random scripts against models, shrunk disagreements
 *   echoconf validate fixture files only (exit 2 on the first bad one)
 *   echoconf skip     stands in for a model that cannot run here (exit 77)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "ec_sock.h"
#include "echoconf_cli.h"
#include "engine.h"
#include "fixture.h"
#include "steps.h"

#ifndef EC_SOURCE_DIR
#define EC_SOURCE_DIR "."
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: echoconf replay --fixture F (--server \"CMD ARGS\" | --target HOST:PORT)\n"
               "                       [--plan P] [--seed S] [--json OUT] [--verbose]\n"
               "                       [--timeout-multiplier X] [--model ID] [--family F]\n"
               "                       [--profile FILE | --profile-dir DIR]\n"
               "       echoconf diagnose (--server \"CMD\" | --target HOST:PORT) [--framing F]\n"
               "                       [--case GLOB]... [--tag T]... [-j N] [--seed S]\n"
               "                       [--html FILE] [--json FILE] [--junit FILE] (--help: all)\n"
               "       echoconf matrix [--build DIR] [-j N] [--family F] [--no-run]\n"
               "                       [--html FILE] [--verbose]\n"
               "       echoconf gallery [--build DIR] [-j N] [--no-run] [--profile-dir DIR]\n"
               "       echoconf bench (--models GLOB | --server \"CMD\" | --target HOST:PORT)\n"
               "                      [--conns L] [--size L] [--depth L] [--duration S]\n"
               "                      [--repeat N] [--pin S,C] [--nodelay off|on|both] [--out DIR]\n"
               "                      (echoconf bench --help for the whole story)\n"
               "       echoconf record --listen [ADDR:]PORT --target HOST:PORT --out FILE.json\n"
               "                       [--max-bytes N] [--duration S] [-- CMD {} ...]\n"
               "       echoconf fuzz [--models GLOB] [--seed S] [--runs N] [--budget SECONDS]\n"
               "                     [--out DIR]\n"
               "       echoconf validate FIXTURE...\n"
               "       echoconf skip --reason TEXT [--model ID] [--case NAME] [--json OUT]\n"
               "\n"
               "replay runs one fixture: it starts the server with --port 0 --framing <the\n"
               "fixture's> and the fixture's server arguments, or talks to a running --target.\n"
               "Plans: fixture, as-is, bytewise, random, split@K, coalesce (default: the sweep).\n"
               "Exit status: 0 PASS / PASS-NONSTRICT / XFAIL, 1 FAIL / XPASS / TIMEOUT,\n"
               "2 ERROR or bad usage, 77 UNSUPPORTED or skipped.\n"
               "ECHOCONF_TIMEOUT_MULTIPLIER (or --timeout-multiplier) scales every deadline.\n");
}

/* mkdir -p of the directory part of path. */
static void make_parent(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash)
        return;
    *slash = 0;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

static int need_arg(int i, int argc, const char *opt)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "echoconf: %s needs a value\n", opt);
        return -1;
    }
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    struct ec_replay_opts o;
    memset(&o, 0, sizeof o);
    o.profile_dir = EC_SOURCE_DIR "/conformance/profiles";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--fixture") == 0)
            slot = &o.fixture;
        else if (strcmp(a, "--server") == 0)
            slot = &o.server;
        else if (strcmp(a, "--target") == 0)
            slot = &o.target;
        else if (strcmp(a, "--plan") == 0)
            slot = &o.plan;
        else if (strcmp(a, "--json") == 0)
            slot = &o.json_out;
        else if (strcmp(a, "--model") == 0)
            slot = &o.model;
        else if (strcmp(a, "--family") == 0)
            slot = &o.family;
        else if (strcmp(a, "--profile") == 0)
            slot = &o.profile;
        else if (strcmp(a, "--profile-dir") == 0)
            slot = &o.profile_dir;
        else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o.verbose = 1;
            continue;
        } else if (strcmp(a, "--seed") == 0) {
            if (need_arg(i, argc, a) < 0)
                return 2;
            char *end;
            errno = 0;
            unsigned long long s = strtoull(argv[++i], &end, 10);
            if (*end || errno) {
                fprintf(stderr, "echoconf: --seed %s: not a number\n", argv[i]);
                return 2;
            }
            o.seed = s;
            o.seed_set = 1;
            continue;
        } else if (strcmp(a, "--timeout-multiplier") == 0) {
            if (need_arg(i, argc, a) < 0)
                return 2;
            char *end;
            double m = strtod(argv[++i], &end);
            if (*end || m <= 0) {
                fprintf(stderr, "echoconf: --timeout-multiplier %s: a positive number\n", argv[i]);
                return 2;
            }
            ec_set_timeout_multiplier(m);
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "echoconf replay: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (need_arg(i, argc, a) < 0)
            return 2;
        *slot = argv[++i];
    }
    if (!o.fixture || !!o.server == !!o.target) {
        fprintf(stderr, "echoconf replay: needs --fixture and one of --server or --target\n");
        usage(stderr);
        return 2;
    }
    if (ec_replay_under_wine(&o))
        ec_set_timeout_family_factor(3.0); /* Wine: see ec_set_timeout_family_factor */
    if (o.json_out)
        make_parent(o.json_out);
    fflush(stdout);
    return ec_replay(&o);
}

static int cmd_validate(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        printf("usage: echoconf validate FIXTURE...\n"
               "Loads each fixture file; exit 0 when all are valid, 2 otherwise (the message\n"
               "names the file, the JSON path and the reason).\n");
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "echoconf validate: name at least one fixture file\n");
        return 2;
    }
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        struct ec_fixture fx;
        char err[1024];
        if (ec_fixture_load(argv[i], &fx, err, sizeof err) < 0) {
            fprintf(stderr, "echoconf: %s\n", err);
            rc = 2;
            continue;
        }
        printf("%s: ok (%s)\n", argv[i], fx.name);
        ec_fixture_free(&fx);
    }
    return rc;
}

static int cmd_skip(int argc, char **argv)
{
    const char *reason = NULL, *model = "", *cs = "", *json = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: echoconf skip --reason TEXT [--model ID] [--case NAME] [--json OUT]\n"
                   "Stands in for a model that cannot run here: prints the reason, writes a\n"
                   "SKIPPED result if asked, and exits 77 (ctest's SKIP_RETURN_CODE).\n");
            return 0;
        }
        if (need_arg(i, argc, argv[i]) < 0)
            return 2;
        if (strcmp(argv[i], "--reason") == 0)
            reason = argv[++i];
        else if (strcmp(argv[i], "--model") == 0)
            model = argv[++i];
        else if (strcmp(argv[i], "--case") == 0)
            cs = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = argv[++i];
        else {
            fprintf(stderr, "echoconf skip: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!reason) {
        fprintf(stderr, "echoconf skip: --reason is required\n");
        return 2;
    }
    printf("SKIPPED: %s%s%s: %s\n", model, *cs ? "/" : "", cs, reason);
    if (json) {
        make_parent(json);
        FILE *f = fopen(json, "w");
        if (f) {
            /* The same shape as a replay's JSON, so the matrix reads both alike; the
             * reason is plain text without quotes or backslashes in practice, and is
             * escaped anyway. */
            fprintf(f,
                    "{\"case\": \"%s\", \"model\": \"%s\", \"verdict\": \"SKIPPED\", "
                    "\"reason\": \"",
                    cs, model);
            for (const char *p = reason; *p; p++) {
                if (*p == '"' || *p == '\\')
                    fputc('\\', f);
                if ((unsigned char)*p >= 0x20)
                    fputc(*p, f);
            }
            fprintf(f, "\"}\n");
            fclose(f);
        }
    }
    return 77;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    ec_net_init();
    /* Capacity cases open over a thousand client sockets: take the hard descriptor
     * limit as the soft one (a default soft limit of 1024 is common). The servers we
     * start inherit it unless a fixture sets its own. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc, argv);
    if (strcmp(cmd, "matrix") == 0)
        return ec_cli_matrix(argc, argv);
    if (strcmp(cmd, "gallery") == 0)
        return ec_cli_gallery(argc, argv);
    if (strcmp(cmd, "diagnose") == 0)
        return ec_cli_diagnose(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return ec_cli_bench(argc, argv);
    if (strcmp(cmd, "record") == 0)
        return ec_cli_record(argc, argv);
    if (strcmp(cmd, "fuzz") == 0)
        return ec_cli_fuzz(argc, argv);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc, argv);
    if (strcmp(cmd, "skip") == 0)
        return cmd_skip(argc, argv);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "echoconf: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
