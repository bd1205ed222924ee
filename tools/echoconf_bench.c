/* echoconf_bench.c - `echoconf bench`: what each model costs, against a floor.
 *
 * Starts every contender (the selected models, or one --server command, or a running
 * --target) and ec-bench-floor, a minimal epoll echo built with the project, pinned to
 * the server CPU; drives each with the load generator (bench_load.c) on the client
 * CPUs; interleaves the contenders round-robin inside every repeat so that noise hits
 * all alike; and reports medians with min-max, ratios to the floor from the same
 * repeat, the server's CPU time per round trip (/proc/<pid>/task/<tid>/schedstat) and
 * whether the client was the bottleneck. Writes results.json, results.csv, runs.csv
 * and gnuplot plots (PNG and SVG) into --out.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_load.h"
#include "echoconf_cli.h"
#include "echoconf_results.h"
#include "jsonout.h"
#include "server_proc.h"
#include "steps.h"

#define MAX_CONTENDERS 64
#define MAX_LIST       16
#define MAX_WORDS      32
#define CLIENT_BOUND   0.90 /* a client thread above this share of its core is the limit */

/* Exit statuses besides 0 (every run measured) and 2 (bad usage). */
#define EXIT_RUN_ERROR 1 /* some contender failed: a wrong byte, a stall, a close */
#define EXIT_OUTPUT    4 /* results measured but a file or the plots could not be written */

struct contender {
    char name[96];
    char *argv[MAX_WORDS + 12];
    int argc;
    int wine; /* a Winsock model: started through Wine, slower to start */
    int is_floor;
    char target[128]; /* --target: host:port of a server we did not start */
    struct ec_server_proc proc;
    int running;
    char dead[256]; /* why it can no longer be measured */
};

struct run {
    int ok;
    char error[512];
    struct ec_bench_load_result r;
    double srv_us_per_rt; /* < 0: unknown */
};

struct stat3 {
    double med, min, max;
    int n;
};

struct bench {
    long conns[MAX_LIST], sizes[MAX_LIST], depths[MAX_LIST];
    int nconns, nsizes, ndepths;
    double duration_s;
    int repeat;
    long bufsize;
    int nodelay; /* 0 off, 1 on, 2 both */
    int server_cpu, client_cpus[EC_BENCH_MAX_THREADS], nclient;
    const char *out;
    struct contender c[MAX_CONTENDERS];
    int nc;
    int floor_index;
    struct run *runs; /* [config][rep][contender] */
    int nconfigs;
    char command[2048];
    char date[64];
    double load_start, load_end; /* 1-minute load averages around the run */
    /* the server CPU reading at the window's start (ns) */
    pid_t cur_pid;
    long long cpu_at_start;
    long long cpu_at_end;
};

static void usage(FILE *f)
{
    fprintf(
        f, "usage: echoconf bench (--models GLOB[,GLOB] | --server \"CMD\" | --target HOST:PORT)\n"
           "                      [--conns 1,10,100,1000] [--size 64,1k,64k] [--depth 1,16]\n"
           "                      [--duration S] [--repeat N] [--pin SERVER_CPU,CLIENT_CPU[,..]]\n"
           "                      [--bufsize N] [--nodelay off|on|both] [--out DIR] [--build DIR]\n"
           "\n"
           "Measures round trips/s, MB/s, latency p50/p99/p99.9/max, the server's CPU time per\n"
           "round trip and the client's CPU use, for each contender and for ec-bench-floor (a\n"
           "minimal epoll echo), interleaved round-robin over the repeats; prints medians\n"
           "[min-max] and ratios to the floor, and writes DIR/results.json, results.csv,\n"
           "runs.csv and gnuplot plots (PNG, SVG). Models get --port 0 --quiet --bufsize N\n"
           "(default 65536) and, with --nodelay, --nodelay; a --server command gets --port 0.\n"
           "Defaults: --conns 100 --size 64,1k,64k --depth 1 --duration 3 --repeat 3\n"
           "--pin 1,0 on 2 or more CPUs (--pin none: no pinning) --out bench-results.\n"
           "Exit status: 0 all measured, 1 a contender failed (a wrong byte, a stall, a\n"
           "close: an error, never a figure), 2 bad usage, 4 outputs not written.\n");
}

/* "64", "1k", "64K", "1M" -> bytes; a list separated by commas. -1 on a bad item. */
static int parse_list(const char *opt, const char *text, long *out, int *n, long min, long max)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        long v = strtol(tok, &end, 10);
        if (*end == 'k' || *end == 'K')
            v *= 1024, end++;
        else if (*end == 'm' || *end == 'M')
            v *= 1024 * 1024, end++;
        if (end == tok || *end || errno || v < min || v > max || *n >= MAX_LIST) {
            fprintf(stderr, "echoconf bench: %s: '%s' is not a number %ld..%ld (at most %d)\n", opt,
                    tok, min, max, MAX_LIST);
            return -1;
        }
        out[(*n)++] = v;
    }
    if (*n == 0) {
        fprintf(stderr, "echoconf bench: %s: an empty list\n", opt);
        return -1;
    }
    return 0;
}

static void add_arg(struct contender *c, const char *a)
{
    if (c->argc < MAX_WORDS + 11)
        c->argv[c->argc++] = strdup(a);
    c->argv[c->argc] = NULL;
}

static void add_server_args(struct bench *b, struct contender *c, int nodelay)
{
    char num[32];
    add_arg(c, "--port");
    add_arg(c, "0");
    add_arg(c, "--quiet");
    add_arg(c, "--bufsize");
    snprintf(num, sizeof num, "%ld", b->bufsize);
    add_arg(c, num);
    if (nodelay)
        add_arg(c, "--nodelay");
}

static struct contender *new_contender(struct bench *b, const char *name)
{
    if (b->nc >= MAX_CONTENDERS) {
        fprintf(stderr, "echoconf bench: more than %d contenders\n", MAX_CONTENDERS);
        return NULL;
    }
    struct contender *c = &b->c[b->nc++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

/* The floor and, with --nodelay both, the floor with TCP_NODELAY too. */
static int add_floor(struct bench *b, const char *bindir, int nodelay)
{
    struct contender *c = new_contender(b, nodelay ? "floor+nodelay" : "floor");
    if (!c)
        return -1;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/ec-bench-floor", bindir);
    add_arg(c, path);
    add_server_args(b, c, nodelay);
    c->is_floor = 1;
    return 0;
}

/* Reads <build>/bench-models.tsv (written at configure time by tools/CMakeLists.txt):
 * "model\tID\tFAMILY\tSKIP-REASON\tWORD..." and "env\tNAME=VALUE" lines. Adds each
 * model whose id matches one of the comma-separated globs. */
static int add_models(struct bench *b, const char *build, const char *globs)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/bench-models.tsv", build);
    char *text = ec_cli_read_file(path);
    if (!text) {
        fprintf(stderr,
                "echoconf bench: %s: cannot read the model list (configure and build "
                "first, or use --build DIR)\n",
                path);
        return -1;
    }
    char pat[512];
    int added = 0;
    char *envs[16];
    int nenv = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[MAX_WORDS + 4];
        int nf = 0;
        for (char *p = line; nf < MAX_WORDS + 4;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        if (strcmp(f[0], "env") == 0 && nf == 2 && nenv < 16) {
            envs[nenv++] = f[1];
            continue;
        }
        if (strcmp(f[0], "model") != 0 || nf < 4)
            continue;
        int match = 0;
        snprintf(pat, sizeof pat, "%s", globs);
        for (char *s2 = NULL, *g = strtok_r(pat, ",", &s2); g; g = strtok_r(NULL, ",", &s2))
            match |= fnmatch(g, f[1], 0) == 0;
        if (!match)
            continue;
        if (f[3][0]) {
            printf("  %-36s skipped: %s\n", f[1], f[3]);
            continue;
        }
        if (nf < 5) {
            printf("  %-36s skipped: no command in the model list\n", f[1]);
            continue;
        }
        for (int nd = b->nodelay == 1; nd <= (b->nodelay >= 1); nd++) {
            char name[96];
            snprintf(name, sizeof name, "%s%s", f[1], nd ? "+nodelay" : "");
            struct contender *c = new_contender(b, name);
            if (!c) {
                free(text);
                return -1;
            }
            for (int i = 4; i < nf; i++)
                add_arg(c, f[i]);
            c->wine = strcmp(f[2], "win32") == 0 || strncmp(f[1], "faulty-win32-", 13) == 0;
            add_server_args(b, c, nd);
            added++;
        }
    }
    for (int i = 0; i < nenv; i++) {
        char *eq = strchr(envs[i], '=');
        if (eq) {
            *eq = 0;
            setenv(envs[i], eq + 1, 1);
        }
    }
    free(text);
    if (!added) {
        fprintf(stderr, "echoconf bench: --models %s: no runnable model matches (see %s)\n", globs,
                path);
        return -1;
    }
    return 0;
}

/* CPU time (ns) of every live thread of pid, from the first field of schedstat. Threads
 * that ended in the window are not counted (none of the models ends one while its
 * clients stay connected). Falls back to /proc/pid/stat (10 ms ticks) without
 * schedstat. -1 if the process is gone. */
static long long proc_cpu_ns(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long sum = 0;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p2[320];
        snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(p2, "r");
        long long ns = 0;
        if (f && fscanf(f, "%lld", &ns) == 1) {
            sum += ns;
            seen++;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    if (!seen) {
        long long ms = ec_proc_cpu_ms(pid);
        return ms < 0 ? -1 : ms * 1000000;
    }
    return sum;
}

static void on_window(void *arg, int end)
{
    struct bench *b = arg;
    if (b->cur_pid <= 0)
        return;
    long long v = proc_cpu_ns(b->cur_pid);
    if (end)
        b->cpu_at_end = v;
    else
        b->cpu_at_start = v;
}

/* The 1-minute load average (/proc/loadavg), or -1. */
static double load_average(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static int pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        for (int i = 0; i < CPU_SETSIZE && i < 1024; i++)
            CPU_SET((size_t)i, &set);
    } else {
        CPU_SET((size_t)cpu, &set);
    }
    return sched_setaffinity(0, sizeof set, &set);
}

static int start_contender(struct bench *b, struct contender *c)
{
    char err[200];
    if (c->target[0])
        return 0;
    /* The child inherits the affinity at fork: every thread it makes runs there. */
    if (b->server_cpu >= 0)
        pin_self(b->server_cpu);
    int ready = ec_scale_ms(c->wine ? 60000 : 10000);
    int rc = ec_server_start(&c->proc, c->argv, 0, ready, err, sizeof err);
    if (b->server_cpu >= 0)
        pin_self(-1);
    if (rc < 0) {
        snprintf(c->dead, sizeof c->dead, "did not start: %s", err);
        printf("  %-36s %s\n", c->name, c->dead);
        return -1;
    }
    c->running = 1;
    printf("  %-36s listening %s:%u (pid %d)\n", c->name, c->proc.host, c->proc.port,
           (int)c->proc.pid);
    return 0;
}

static struct run *run_at(struct bench *b, int config, int rep, int ci)
{
    return &b->runs[((size_t)config * (size_t)b->repeat + (size_t)rep) * (size_t)b->nc +
                    (size_t)ci];
}

static void config_of(const struct bench *b, int k, long *conns, long *size, long *depth)
{
    *depth = b->depths[k % b->ndepths];
    k /= b->ndepths;
    *conns = b->conns[k % b->nconns];
    k /= b->nconns;
    *size = b->sizes[k];
}

static void fmt_size(long n, char buf[32], size_t len)
{
    if (n >= 1048576 && n % 1048576 == 0)
        snprintf(buf, len, "%ldM", n / 1048576);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, len, "%ldk", n / 1024);
    else
        snprintf(buf, len, "%ld", n);
}

static void measure(struct bench *b, int config, int rep, int ci, int step, int steps)
{
    struct contender *c = &b->c[ci];
    struct run *run = run_at(b, config, rep, ci);
    long conns, size, depth;
    char sz[32];
    config_of(b, config, &conns, &size, &depth);
    fmt_size(size, sz, sizeof sz);
    printf("[%3d/%d] %ldx%sBx%ld rep %d/%d %-30s ", step, steps, conns, sz, depth, rep + 1,
           b->repeat, c->name);
    fflush(stdout);
    if (c->dead[0]) {
        snprintf(run->error, sizeof run->error, "%s", c->dead);
        printf("ERROR %s\n", run->error);
        return;
    }
    struct ec_bench_load_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    if (c->target[0]) {
        char *colon = strrchr(c->target, ':');
        snprintf(cfg.host, sizeof cfg.host, "%.*s", (int)(colon - c->target), c->target);
        cfg.port = (unsigned)atoi(colon + 1);
    } else {
        snprintf(cfg.host, sizeof cfg.host, "%s", c->proc.host);
        cfg.port = c->proc.port;
    }
    cfg.conns = (int)conns;
    cfg.size = (size_t)size;
    cfg.depth = (int)depth;
    cfg.duration_ms = (int)(b->duration_s * 1000);
    cfg.warmup_ms = cfg.duration_ms / 5 < 200    ? 200
                    : cfg.duration_ms / 5 > 1000 ? 1000
                                                 : cfg.duration_ms / 5;
    cfg.stall_ms = ec_scale_ms(c->wine ? 15000 : 5000);
    cfg.connect_ms = ec_scale_ms(c->wine ? 30000 : 10000);
    cfg.nthreads = b->nclient;
    memcpy(cfg.cpus, b->client_cpus, sizeof cfg.cpus);
    cfg.seed = 0x5eed0000u + (uint64_t)rep;
    b->cur_pid = c->target[0] ? 0 : c->proc.pid;
    b->cpu_at_start = b->cpu_at_end = -1;
    if (ec_bench_load_run(&cfg, &run->r, on_window, b) < 0 || !run->r.ok) {
        snprintf(run->error, sizeof run->error, "%s",
                 run->r.error[0] ? run->r.error : "the run could not start");
    } else {
        run->ok = 1;
    }
    run->srv_us_per_rt = -1;
    if (run->ok && b->cpu_at_start >= 0 && b->cpu_at_end >= b->cpu_at_start)
        run->srv_us_per_rt =
            (double)(b->cpu_at_end - b->cpu_at_start) / 1000.0 / (double)run->r.round_trips;
    if (!c->target[0] && ec_server_exited(&c->proc, 0)) {
        int st = c->proc.status;
        snprintf(c->dead, sizeof c->dead, "the server exited (%s %d)",
                 WIFSIGNALED(st) ? "signal" : "status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        if (run->ok) {
            run->ok = 0;
            snprintf(run->error, sizeof run->error, "%s", c->dead);
        }
    }
    if (!run->ok) {
        printf("ERROR %s\n", run->error);
        return;
    }
    printf("%9.0f rt/s %8.1f MB/s p99 %8.1f us", run->r.rt_per_s, run->r.mb_per_s, run->r.p99_us);
    if (run->srv_us_per_rt >= 0)
        printf("  srv %6.2f us/rt", run->srv_us_per_rt);
    printf("  client %3.0f%%%s\n", run->r.client_cpu * 100,
           run->r.client_cpu > CLIENT_BOUND ? " (client-bound)" : "");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct stat3 stat_of(double *v, int n)
{
    struct stat3 s = {NAN, NAN, NAN, n};
    if (n == 0)
        return s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

enum metric {
    M_RT,
    M_MB,
    M_P50,
    M_P99,
    M_P999,
    M_MAX,
    M_SRV,
    M_CLIENT,
    M_RATIO_RT,
    M_RATIO_SRV,
    M_COUNT
};

static const char *const metric_names[M_COUNT] = {"rt_per_s",
                                                  "mb_per_s",
                                                  "p50_us",
                                                  "p99_us",
                                                  "p999_us",
                                                  "max_us",
                                                  "server_cpu_us_per_rt",
                                                  "client_cpu",
                                                  "ratio_rt_to_floor",
                                                  "ratio_cpu_to_floor"};

/* One metric of one run; NAN when it has none (an error, no CPU reading, no floor). */
static double metric(struct bench *b, int config, int rep, int ci, enum metric m)
{
    struct run *r = run_at(b, config, rep, ci);
    struct run *f = b->floor_index >= 0 ? run_at(b, config, rep, b->floor_index) : NULL;
    if (!r->ok)
        return NAN;
    switch (m) {
    case M_RT:
        return r->r.rt_per_s;
    case M_MB:
        return r->r.mb_per_s;
    case M_P50:
        return r->r.p50_us;
    case M_P99:
        return r->r.p99_us;
    case M_P999:
        return r->r.p999_us;
    case M_MAX:
        return r->r.max_us;
    case M_SRV:
        return r->srv_us_per_rt >= 0 ? r->srv_us_per_rt : NAN;
    case M_CLIENT:
        return r->r.client_cpu;
    case M_RATIO_RT:
        return f && f->ok ? r->r.rt_per_s / f->r.rt_per_s : NAN;
    case M_RATIO_SRV:
        return f && f->ok && r->srv_us_per_rt >= 0 && f->srv_us_per_rt > 0
                   ? r->srv_us_per_rt / f->srv_us_per_rt
                   : NAN;
    default:
        return NAN;
    }
}

static struct stat3 summary(struct bench *b, int config, int ci, enum metric m)
{
    double v[256];
    int n = 0;
    for (int rep = 0; rep < b->repeat && n < 256; rep++) {
        double x = metric(b, config, rep, ci, m);
        if (!isnan(x))
            v[n++] = x;
    }
    return stat_of(v, n);
}

/* The first error of a contender in a configuration, or NULL. */
static const char *first_error(struct bench *b, int config, int ci)
{
    for (int rep = 0; rep < b->repeat; rep++) {
        struct run *r = run_at(b, config, rep, ci);
        if (!r->ok)
            return r->error;
    }
    return NULL;
}

static int client_bound(struct bench *b, int config, int ci)
{
    struct stat3 s = summary(b, config, ci, M_CLIENT);
    return s.n > 0 && s.max > CLIENT_BOUND;
}

static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void machine_text(char *buf, size_t len)
{
    struct utsname u;
    char model[128] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = 0;
            }
            break;
        }
    }
    if (f)
        fclose(f);
    uname(&u);
    snprintf(buf, len, "%ld CPUs, %s, Linux %s", sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
}

static int write_json(struct bench *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char machine[256];
    machine_text(machine, sizeof machine);
    fprintf(f, "{\n  \"date\": ");
    ec_json_fputs(f, b->date);
    fprintf(f, ",\n  \"machine\": ");
    ec_json_fputs(f, machine);
    fprintf(f, ",\n  \"command\": ");
    ec_json_fputs(f, b->command);
    fprintf(f,
            ",\n  \"settings\": {\"duration_s\": %g, \"repeat\": %d, \"bufsize\": %ld, "
            "\"server_cpu\": %d, \"client_threads\": %d, \"client_bound_above\": %g},\n",
            b->duration_s, b->repeat, b->bufsize, b->server_cpu, b->nclient, CLIENT_BOUND);
    fprintf(f, "  \"load_average\": {\"start\": %.2f, \"end\": %.2f},\n", b->load_start,
            b->load_end);
    fprintf(f, "  \"floor\": ");
    ec_json_fputs(f, b->floor_index >= 0 ? b->c[b->floor_index].name : "");
    fprintf(f, ",\n  \"runs\": [");
    int first = 1;
    for (int k = 0; k < b->nconfigs; k++) {
        long conns, size, depth;
        config_of(b, k, &conns, &size, &depth);
        for (int rep = 0; rep < b->repeat; rep++)
            for (int ci = 0; ci < b->nc; ci++) {
                struct run *r = run_at(b, k, rep, ci);
                fprintf(f, "%s\n    {\"model\": ", first ? "" : ",");
                first = 0;
                ec_json_fputs(f, b->c[ci].name);
                fprintf(f,
                        ", \"conns\": %ld, \"size\": %ld, \"depth\": %ld, \"repeat\": %d, "
                        "\"status\": \"%s\"",
                        conns, size, depth, rep + 1, r->ok ? "ok" : "error");
                if (!r->ok) {
                    fprintf(f, ", \"error\": ");
                    ec_json_fputs(f, r->error);
                } else {
                    fprintf(f, ", \"round_trips\": %llu, \"seconds\": %.4f",
                            (unsigned long long)r->r.round_trips, r->r.seconds);
                    for (int m = 0; m < M_COUNT; m++) {
                        fprintf(f, ", \"%s\": ", metric_names[m]);
                        json_num(f, metric(b, k, rep, ci, (enum metric)m));
                    }
                    fprintf(f, ", \"client_bound\": %s",
                            r->r.client_cpu > CLIENT_BOUND ? "true" : "false");
                }
                fputc('}', f);
            }
    }
    fprintf(f, "\n  ],\n  \"summary\": [");
    first = 1;
    for (int k = 0; k < b->nconfigs; k++) {
        long conns, size, depth;
        config_of(b, k, &conns, &size, &depth);
        for (int ci = 0; ci < b->nc; ci++) {
            const char *err = first_error(b, k, ci);
            fprintf(f, "%s\n    {\"model\": ", first ? "" : ",");
            first = 0;
            ec_json_fputs(f, b->c[ci].name);
            fprintf(f, ", \"conns\": %ld, \"size\": %ld, \"depth\": %ld, \"status\": \"%s\"", conns,
                    size, depth, err ? "error" : "ok");
            if (err) {
                fprintf(f, ", \"error\": ");
                ec_json_fputs(f, err);
            }
            fprintf(f, ", \"client_bound\": %s", client_bound(b, k, ci) ? "true" : "false");
            for (int m = 0; m < M_COUNT; m++) {
                struct stat3 s = summary(b, k, ci, (enum metric)m);
                fprintf(f, ", \"%s\": {\"median\": ", metric_names[m]);
                json_num(f, s.med);
                fprintf(f, ", \"min\": ");
                json_num(f, s.min);
                fprintf(f, ", \"max\": ");
                json_num(f, s.max);
                fprintf(f, ", \"n\": %d}", s.n);
            }
            fputc('}', f);
        }
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void csv_num(FILE *f, double v)
{
    if (!isnan(v))
        fprintf(f, "%.6g", v);
}

static int write_csv(struct bench *b, const char *summary_path, const char *runs_path)
{
    FILE *f = fopen(summary_path, "w");
    FILE *g = fopen(runs_path, "w");
    if (!f || !g) {
        if (f)
            fclose(f);
        if (g)
            fclose(g);
        return -1;
    }
    fprintf(f, "model,conns,size,depth,status,client_bound");
    for (int m = 0; m < M_COUNT; m++)
        fprintf(f, ",%s_median,%s_min,%s_max", metric_names[m], metric_names[m], metric_names[m]);
    fprintf(f, ",error\n");
    fprintf(g, "model,conns,size,depth,repeat,status");
    for (int m = 0; m < M_COUNT; m++)
        fprintf(g, ",%s", metric_names[m]);
    fprintf(g, ",error\n");
    for (int k = 0; k < b->nconfigs; k++) {
        long conns, size, depth;
        config_of(b, k, &conns, &size, &depth);
        for (int ci = 0; ci < b->nc; ci++) {
            const char *err = first_error(b, k, ci);
            fprintf(f, "%s,%ld,%ld,%ld,%s,%d", b->c[ci].name, conns, size, depth,
                    err ? "error" : "ok", client_bound(b, k, ci));
            for (int m = 0; m < M_COUNT; m++) {
                struct stat3 s = summary(b, k, ci, (enum metric)m);
                fputc(',', f);
                csv_num(f, s.med);
                fputc(',', f);
                csv_num(f, s.min);
                fputc(',', f);
                csv_num(f, s.max);
            }
            fprintf(f, ",\"%s\"\n", err ? err : "");
            for (int rep = 0; rep < b->repeat; rep++) {
                struct run *r = run_at(b, k, rep, ci);
                fprintf(g, "%s,%ld,%ld,%ld,%d,%s", b->c[ci].name, conns, size, depth, rep + 1,
                        r->ok ? "ok" : "error");
                for (int m = 0; m < M_COUNT; m++) {
                    fputc(',', g);
                    csv_num(g, metric(b, k, rep, ci, (enum metric)m));
                }
                fprintf(g, ",\"%s\"\n", r->ok ? "" : r->error);
            }
        }
    }
    int rc = fclose(f) == 0 ? 0 : -1;
    return fclose(g) == 0 ? rc : -1;
}

/* Writes the data files and plots.gp, then runs gnuplot in the output directory. */
static int write_plots(struct bench *b)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plots.gp", b->out);
    FILE *gp = fopen(path, "w");
    if (!gp)
        return -1;
    fprintf(gp, "# echoconf bench plots: run `gnuplot plots.gp` in this directory.\n"
                "set key outside right top\nset grid\n");
    long cmin = b->conns[0], cmax = b->conns[0];
    for (int i = 1; i < b->nconns; i++) {
        cmin = b->conns[i] < cmin ? b->conns[i] : cmin;
        cmax = b->conns[i] > cmax ? b->conns[i] : cmax;
    }
    static const char *const terms[2][2] = {{"png size 1000,560 font ',10'", "png"},
                                            {"svg size 1000,560 dynamic", "svg"}};
    /* Throughput and CPU per round trip against connections, one chart per size and
     * depth; latency percentiles per model, one chart per configuration. */
    for (int si = 0; si < b->nsizes; si++)
        for (int di = 0; di < b->ndepths; di++) {
            char sz[32], base[64];
            fmt_size(b->sizes[si], sz, sizeof sz);
            snprintf(base, sizeof base, "s%s-d%ld", sz, b->depths[di]);
            char dat[PATH_MAX];
            snprintf(dat, sizeof dat, "%s/data-%s.dat", b->out, base);
            FILE *d = fopen(dat, "w");
            if (!d) {
                fclose(gp);
                return -1;
            }
            for (int ci = 0; ci < b->nc; ci++) {
                fprintf(d, "# %s: conns rt/s med min max, srv us/rt med min max\n", b->c[ci].name);
                for (int cn = 0; cn < b->nconns; cn++) {
                    int k = (si * b->nconns + cn) * b->ndepths + di;
                    struct stat3 rt = summary(b, k, ci, M_RT), cpu = summary(b, k, ci, M_SRV);
                    fprintf(d, "%ld %g %g %g %g %g %g\n", b->conns[cn], rt.n ? rt.med : NAN,
                            rt.n ? rt.min : NAN, rt.n ? rt.max : NAN, cpu.n ? cpu.med : NAN,
                            cpu.n ? cpu.min : NAN, cpu.n ? cpu.max : NAN);
                }
                fprintf(d, "\n\n");
            }
            fclose(d);
            for (int t = 0; t < 2; t++) {
                for (int which = 0; which < 2; which++) {
                    fprintf(gp, "set terminal %s\nset output '%s-%s.%s'\n", terms[t][0],
                            which ? "cpu" : "throughput", base, terms[t][1]);
                    fprintf(
                        gp,
                        "set title \"%s, %s-byte messages, depth %ld (median, bars min-max)\"\n"
                        "set xlabel 'connections'\nset ylabel '%s'\n"
                        "set logscale x\nunset logscale y\nset xrange [%g:%g]\nset yrange [0:*]\n",
                        which ? "server CPU time per round trip" : "round trips per second", sz,
                        b->depths[di], which ? "microseconds" : "round trips/s", (double)cmin / 2,
                        (double)cmax * 2);
                    fprintf(gp, "plot ");
                    for (int ci = 0; ci < b->nc; ci++)
                        fprintf(gp,
                                "%s'data-%s.dat' index %d using 1:%d:%d:%d with yerrorlines "
                                "title '%s'",
                                ci ? ", \\\n     " : "", base, ci, which ? 5 : 2, which ? 6 : 3,
                                which ? 7 : 4, b->c[ci].name);
                    fprintf(gp, "\n");
                }
            }
        }
    for (int k = 0; k < b->nconfigs; k++) {
        long conns, size, depth;
        char sz[32], base[64], dat[PATH_MAX];
        config_of(b, k, &conns, &size, &depth);
        fmt_size(size, sz, sizeof sz);
        snprintf(base, sizeof base, "c%ld-s%s-d%ld", conns, sz, depth);
        snprintf(dat, sizeof dat, "%s/latency-%s.dat", b->out, base);
        FILE *d = fopen(dat, "w");
        if (!d) {
            fclose(gp);
            return -1;
        }
        fprintf(d, "# model p50 p99 p99.9 (microseconds, medians over the repeats)\n");
        for (int ci = 0; ci < b->nc; ci++) {
            struct stat3 a = summary(b, k, ci, M_P50), c99 = summary(b, k, ci, M_P99),
                         c999 = summary(b, k, ci, M_P999);
            fprintf(d, "\"%s\" %g %g %g\n", b->c[ci].name, a.n ? a.med : NAN, c99.n ? c99.med : NAN,
                    c999.n ? c999.med : NAN);
        }
        fclose(d);
        for (int t = 0; t < 2; t++) {
            fprintf(gp, "set terminal %s\nset output 'latency-%s.%s'\n", terms[t][0], base,
                    terms[t][1]);
            fprintf(gp,
                    "set title \"round-trip latency, %ld connections x %s bytes, depth %ld\"\n"
                    "unset logscale x\nset logscale y\nset xrange [*:*]\nset yrange [*:*]\n"
                    "set xlabel ''\nset ylabel 'microseconds'\n"
                    "set style data histograms\nset style histogram clustered gap 1\n"
                    "set style fill solid 0.8 border -1\nset xtics rotate by -30\n"
                    "plot 'latency-%s.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', "
                    "'' using 4 title 'p99.9'\nset xtics norotate\n",
                    conns, sz, depth, base);
        }
    }
    /* The ratios to the floor, per model, one bar per configuration: the table in one
     * picture (round trips/s and server CPU time per round trip). */
    char rdat[PATH_MAX];
    snprintf(rdat, sizeof rdat, "%s/ratios.dat", b->out);
    FILE *d = fopen(rdat, "w");
    if (!d) {
        fclose(gp);
        return -1;
    }
    fprintf(d, "# model, then the median ratio of round trips/s to the floor's per configuration, "
               "then that of server CPU per round trip\n");
    for (int ci = 0; ci < b->nc; ci++) {
        fprintf(d, "\"%s\"", b->c[ci].name);
        for (int m = 0; m < 2; m++)
            for (int k = 0; k < b->nconfigs; k++) {
                struct stat3 r = summary(b, k, ci, m ? M_RATIO_SRV : M_RATIO_RT);
                fprintf(d, " %g", r.n ? r.med : NAN);
            }
        fprintf(d, "\n");
    }
    fclose(d);
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < 2; m++) {
            fprintf(gp, "set terminal %s\nset output 'ratio-%s.%s'\n", terms[t][0],
                    m ? "cpu" : "rt", terms[t][1]);
            fprintf(gp,
                    "set title \"%s, ratio to the floor (median of the repeats)\"\n"
                    "unset logscale x\nunset logscale y\nset xrange [*:*]\nset yrange [0:*]\n"
                    "set xlabel ''\nset ylabel 'ratio to the floor'\n"
                    "set style data histograms\nset style histogram clustered gap 1\n"
                    "set style fill solid 0.8 border -1\nset xtics rotate by -30\n"
                    "set offsets 0, 0, graph 0.1, 0\nplot ",
                    m ? "server CPU time per round trip (lower is cheaper)"
                      : "round trips per second (higher is faster)");
            for (int k = 0; k < b->nconfigs; k++) {
                long conns, size, depth;
                char sz[32];
                config_of(b, k, &conns, &size, &depth);
                fmt_size(size, sz, sizeof sz);
                fprintf(gp, "%s'ratios.dat' using %d%s title '%ld x %sB, depth %ld'", k ? ", " : "",
                        2 + m * b->nconfigs + k, k ? "" : ":xtic(1)", conns, sz, depth);
            }
            fprintf(gp, ", 1 with lines dashtype 2 linecolor 'black' title 'floor'\n"
                        "set xtics norotate\nset offsets 0, 0, 0, 0\n");
        }
    if (fclose(gp) != 0)
        return -1;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot plots.gp", b->out);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr,
                "echoconf bench: gnuplot failed (status %d) in %s; is gnuplot installed "
                "(tools/install-deps.sh)?\n",
                st, b->out);
        return -1;
    }
    return 0;
}

static void print_table(struct bench *b)
{
    for (int k = 0; k < b->nconfigs; k++) {
        long conns, size, depth;
        char sz[32];
        config_of(b, k, &conns, &size, &depth);
        fmt_size(size, sz, sizeof sz);
        printf("\n%ld connections x %s bytes, depth %ld: medians [min-max] of %d repeats\n", conns,
               sz, depth, b->repeat);
        printf("%-30s %-26s %-18s %9s %9s %9s %-22s %-18s %s\n", "model", "round trips/s",
               "ratio to floor", "p50 us", "p99 us", "p99.9 us", "server CPU us/rt", "CPU ratio",
               "client");
        for (int ci = 0; ci < b->nc; ci++) {
            const char *err = first_error(b, k, ci);
            if (err) {
                printf("%-30s ERROR: %s\n", b->c[ci].name, err);
                continue;
            }
            struct stat3 rt = summary(b, k, ci, M_RT), ra = summary(b, k, ci, M_RATIO_RT),
                         p50 = summary(b, k, ci, M_P50), p99 = summary(b, k, ci, M_P99),
                         p999 = summary(b, k, ci, M_P999), srv = summary(b, k, ci, M_SRV),
                         rs = summary(b, k, ci, M_RATIO_SRV), cl = summary(b, k, ci, M_CLIENT);
            char a[64], r[64], s[64], cr[64];
            snprintf(a, sizeof a, "%.0f [%.0f-%.0f]", rt.med, rt.min, rt.max);
            if (ra.n)
                snprintf(r, sizeof r, "%.2f [%.2f-%.2f]", ra.med, ra.min, ra.max);
            else
                snprintf(r, sizeof r, "-");
            if (srv.n)
                snprintf(s, sizeof s, "%.2f [%.2f-%.2f]", srv.med, srv.min, srv.max);
            else
                snprintf(s, sizeof s, "-");
            if (rs.n)
                snprintf(cr, sizeof cr, "%.2f [%.2f-%.2f]", rs.med, rs.min, rs.max);
            else
                snprintf(cr, sizeof cr, "-");
            printf("%-30s %-26s %-18s %9.1f %9.1f %9.1f %-22s %-18s %3.0f%%%s\n", b->c[ci].name, a,
                   r, p50.med, p99.med, p999.med, s, cr, cl.med * 100,
                   client_bound(b, k, ci) ? " client-bound" : "");
        }
    }
}

/* mkdir -p: 0, or -1 with errno. */
static int mkdir_p(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

static int parse_pin(struct bench *b, const char *text)
{
    b->nclient = 0;
    b->server_cpu = -1;
    if (strcmp(text, "none") == 0) {
        b->client_cpus[b->nclient++] = -1;
        return 0;
    }
    long v[MAX_LIST];
    int n;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (parse_list("--pin", text, v, &n, 0, ncpu - 1) < 0)
        return -1;
    if (n < 2) {
        fprintf(stderr, "echoconf bench: --pin SERVER_CPU,CLIENT_CPU[,CLIENT_CPU...]\n");
        return -1;
    }
    b->server_cpu = (int)v[0];
    for (int i = 1; i < n && b->nclient < EC_BENCH_MAX_THREADS; i++)
        b->client_cpus[b->nclient++] = (int)v[i];
    return 0;
}

int ec_cli_bench(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof *b);
    const char *models = NULL, *server = NULL, *target = NULL, *build_opt = NULL;
    char build[PATH_MAX], bindir[PATH_MAX + 8];
    int rc = 2;
    if (!b)
        return 2;
    b->conns[0] = 100;
    b->nconns = 1;
    b->sizes[0] = 64, b->sizes[1] = 1024, b->sizes[2] = 65536;
    b->nsizes = 3;
    b->depths[0] = 1;
    b->ndepths = 1;
    b->duration_s = 3;
    b->repeat = 3;
    b->bufsize = 65536;
    b->out = "bench-results";
    b->floor_index = -1;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        b->server_cpu = 1;
        b->client_cpus[0] = 0;
    } else {
        b->server_cpu = -1;
        b->client_cpus[0] = -1;
    }
    b->nclient = 1;
    size_t cl = 0;
    for (int i = 0; i < argc && cl < sizeof b->command - 2; i++)
        cl += (size_t)snprintf(b->command + cl, sizeof b->command - cl, "%s%s", i ? " " : "",
                               argv[i]);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free(b);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "echoconf bench: %s needs a value (see --help)\n", a);
            goto out;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--models") == 0)
            models = v;
        else if (strcmp(a, "--server") == 0)
            server = v;
        else if (strcmp(a, "--target") == 0)
            target = v;
        else if (strcmp(a, "--build") == 0)
            build_opt = v;
        else if (strcmp(a, "--out") == 0)
            b->out = v;
        else if (strcmp(a, "--conns") == 0) {
            if (parse_list(a, v, b->conns, &b->nconns, 1, EC_BENCH_MAX_CONNS) < 0)
                goto out;
        } else if (strcmp(a, "--size") == 0) {
            if (parse_list(a, v, b->sizes, &b->nsizes, 1, 16 * 1024 * 1024) < 0)
                goto out;
        } else if (strcmp(a, "--depth") == 0) {
            if (parse_list(a, v, b->depths, &b->ndepths, 1, 1024) < 0)
                goto out;
        } else if (strcmp(a, "--repeat") == 0) {
            long r[MAX_LIST];
            int n;
            if (parse_list(a, v, r, &n, 1, 100) < 0 || n != 1)
                goto out;
            b->repeat = (int)r[0];
        } else if (strcmp(a, "--bufsize") == 0) {
            long r[MAX_LIST];
            int n;
            if (parse_list(a, v, r, &n, 1, 16 * 1024 * 1024) < 0 || n != 1)
                goto out;
            b->bufsize = r[0];
        } else if (strcmp(a, "--duration") == 0) {
            char *end;
            b->duration_s = strtod(v, &end);
            if (*end || !(b->duration_s >= 0.2 && b->duration_s <= 600)) {
                fprintf(stderr, "echoconf bench: --duration %s: seconds, 0.2..600\n", v);
                goto out;
            }
        } else if (strcmp(a, "--pin") == 0) {
            if (parse_pin(b, v) < 0)
                goto out;
        } else if (strcmp(a, "--nodelay") == 0) {
            if (strcmp(v, "off") == 0)
                b->nodelay = 0;
            else if (strcmp(v, "on") == 0)
                b->nodelay = 1;
            else if (strcmp(v, "both") == 0)
                b->nodelay = 2;
            else {
                fprintf(stderr, "echoconf bench: --nodelay %s: off, on or both\n", v);
                goto out;
            }
        } else {
            fprintf(stderr, "echoconf bench: unknown option %s\n", a);
            usage(stderr);
            goto out;
        }
    }
    if (!!models + !!server + !!target != 1) {
        fprintf(stderr, "echoconf bench: needs exactly one of --models, --server, --target\n");
        usage(stderr);
        goto out;
    }
    if (build_opt)
        snprintf(build, sizeof build, "%s", build_opt);
    else if (ec_cli_default_build(build, sizeof build) < 0) {
        fprintf(stderr, "echoconf bench: cannot find the build directory; use --build DIR\n");
        goto out;
    }
    snprintf(bindir, sizeof bindir, "%s/bin", build);
    long maxc = 0;
    for (int i = 0; i < b->nconns; i++)
        if (b->conns[i] > maxc)
            maxc = b->conns[i];
    long nofile = sysconf(_SC_OPEN_MAX);
    if (maxc + 64 > nofile) {
        fprintf(stderr, "echoconf bench: --conns %ld needs more descriptors than the limit %ld\n",
                maxc, nofile);
        goto out;
    }

    printf("echoconf bench: starting the servers (server CPU %d, %d client thread(s))\n",
           b->server_cpu, b->nclient);
    for (int nd = b->nodelay == 1; nd <= (b->nodelay >= 1); nd++)
        if (add_floor(b, bindir, nd) < 0)
            goto out;
    b->floor_index = 0;
    if (models) {
        if (add_models(b, build, models) < 0)
            goto out;
    } else if (server) {
        char *words[MAX_WORDS];
        char err[256];
        int n = ec_split_command(server, words, MAX_WORDS, err, sizeof err);
        if (n <= 0) {
            fprintf(stderr, "echoconf bench: --server: %s\n", n < 0 ? err : "an empty command");
            goto out;
        }
        struct contender *c = new_contender(b, words[0]);
        const char *slash = strrchr(words[0], '/');
        snprintf(c->name, sizeof c->name, "%s", slash ? slash + 1 : words[0]);
        for (int i = 0; i < n; i++)
            add_arg(c, words[i]);
        ec_split_free(words, n);
        add_arg(c, "--port");
        add_arg(c, "0");
    } else {
        const char *colon = strrchr(target, ':');
        if (!colon || colon == target || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
            fprintf(stderr, "echoconf bench: --target %s: expected HOST:PORT\n", target);
            goto out;
        }
        struct contender *c = new_contender(b, target);
        snprintf(c->target, sizeof c->target, "%s", target);
    }
    if (mkdir_p(b->out) < 0) {
        fprintf(stderr, "echoconf bench: --out %s: %s\n", b->out, strerror(errno));
        rc = EXIT_OUTPUT;
        goto out;
    }
    for (int ci = 0; ci < b->nc; ci++)
        start_contender(b, &b->c[ci]);
    b->nconfigs = b->nconns * b->nsizes * b->ndepths;
    b->runs = calloc((size_t)b->nconfigs * (size_t)b->repeat * (size_t)b->nc, sizeof *b->runs);
    if (!b->runs)
        goto stop;
    time_t now = time(NULL);
    strftime(b->date, sizeof b->date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    int steps = b->nconfigs * b->repeat * b->nc;
    double warm = b->duration_s / 5 < 0.2 ? 0.2 : b->duration_s / 5 > 1 ? 1 : b->duration_s / 5;
    printf("echoconf bench: %d contender(s) x %d configuration(s) x %d repeat(s) = %d runs of "
           "%.1f s + %.1f s warm-up: about %.0f s\n",
           b->nc, b->nconfigs, b->repeat, steps, b->duration_s, warm,
           steps * (b->duration_s + warm + 0.1));
    int step = 0;
    b->load_start = load_average();
    for (int k = 0; k < b->nconfigs; k++)
        for (int rep = 0; rep < b->repeat; rep++)
            for (int ci = 0; ci < b->nc; ci++)
                measure(b, k, rep, ci, ++step, steps);
    b->load_end = load_average();
    print_table(b);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (b->load_start > (double)ncpu || b->load_end > (double)ncpu)
        printf("\nwarning: the machine was busy (load average %.1f at the start, %.1f at the "
               "end, %ld CPUs):\nother processes took CPU from the server and the client, so "
               "round trips/s measure the machine;\ncompare the servers by their CPU time per "
               "round trip.\n",
               b->load_start, b->load_end, ncpu);
    rc = 0;
    for (int k = 0; k < b->nconfigs; k++)
        for (int ci = 0; ci < b->nc; ci++)
            if (first_error(b, k, ci))
                rc = EXIT_RUN_ERROR;
    char p1[PATH_MAX + 32], p2[PATH_MAX + 32], p3[PATH_MAX + 32];
    snprintf(p1, sizeof p1, "%s/results.json", b->out);
    snprintf(p2, sizeof p2, "%s/results.csv", b->out);
    snprintf(p3, sizeof p3, "%s/runs.csv", b->out);
    if (write_json(b, p1) < 0 || write_csv(b, p2, p3) < 0) {
        fprintf(stderr, "echoconf bench: cannot write the results into %s: %s\n", b->out,
                strerror(errno));
        rc = EXIT_OUTPUT;
    } else if (write_plots(b) < 0) {
        rc = EXIT_OUTPUT;
    } else {
        printf("\nwrote %s, %s, %s and the plots (plots.gp: PNG and SVG) in %s\n", p1, p2, p3,
               b->out);
    }
stop:
    for (int ci = 0; ci < b->nc; ci++)
        if (b->c[ci].running) {
            ec_server_stop(&b->c[ci].proc, ec_scale_ms(3000));
            ec_server_free(&b->c[ci].proc);
        }
out:
    for (int ci = 0; ci < b->nc; ci++)
        for (int i = 0; i < b->c[ci].argc; i++)
            free(b->c[ci].argv[i]);
    free(b->runs);
    free(b);
    return rc;
}
