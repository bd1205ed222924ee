/* server_opts.c - the command line every echo-<model> executable shares: parses argv
 * into struct ec_server_opts with a message naming the option and the value for every
 * refusal. Kept apart from server_main.c (which owns signals, the listener and main)
 * so the fuzz target fuzz/fuzz_server_opts.c can drive it with any argv.
 */
#include <stdio.h>
#include <string.h>

#include "ec_server.h"

#define MAX_BUFSIZE (16u * 1024u * 1024u)

/* The state of one parse: where messages go and what they are prefixed with. */
struct args {
    const char *prog;
    FILE *errout;
    int default_workers;
    int ncpu;
};

static int bad_value(const struct args *a, const char *opt, const char *value, const char *why)
{
    fprintf(a->errout, "%s: invalid value '%s' for --%s: %s\n", a->prog, value, opt, why);
    return -1;
}

/* Parses a decimal number min..max (a leading '-' only if min < 0) into *out. */
static int parse_number(const char *text, long min, long max, long *out)
{
    const char *p = text;
    int neg = 0;
    long v = 0;
    if (*p == '-' && min < 0) {
        neg = 1;
        p++;
    }
    if (*p == '\0')
        return -1;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > max + 1L)
            return -1;
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Applies one option with its value to o. Returns 0, or -1 after a message. */
static int apply_option(const struct args *a, const char *name, const char *value,
                        struct ec_server_opts *o)
{
    long v;
    char why[200];
    if (strcmp(name, "port") == 0) {
        if (parse_number(value, 0, 65535, &v) != 0)
            return bad_value(a, name, value, "expected a port number 0..65535");
        o->port = (unsigned)v;
    } else if (strcmp(name, "bind") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof o->bind)
            return bad_value(a, name, value, "expected an address of 1..63 characters");
        snprintf(o->bind, sizeof o->bind, "%s", value);
    } else if (strcmp(name, "framing") == 0) {
        if (ec_framing_parse(value, &o->framing, why, sizeof why) != 0)
            return bad_value(a, name, value, why);
    } else if (strcmp(name, "bufsize") == 0) {
        if (parse_number(value, 1, (long)MAX_BUFSIZE, &v) != 0)
            return bad_value(a, name, value, "expected a size of 1..16777216 bytes");
        o->bufsize = (size_t)v;
    } else if (strcmp(name, "max-clients") == 0) {
        if (parse_number(value, 0, 1000000, &v) != 0)
            return bad_value(a, name, value,
                             "expected a count of 0..1000000 (0: no limit of ours)");
        o->max_clients = (int)v;
    } else if (strcmp(name, "sndbuf") == 0) {
        /* Linux doubles what it is given and clamps it to at least 4608 bytes
         * (socket(7), SO_SNDBUF); Winsock takes it as is. */
        if (parse_number(value, 1024, (long)MAX_BUFSIZE, &v) != 0)
            return bad_value(a, name, value, "expected a size of 1024..16777216 bytes");
        o->sndbuf = (int)v;
    } else if (strcmp(name, "workers") == 0) {
        if (a->default_workers == 0)
            return bad_value(a, name, value, "this model has no worker threads");
        if (parse_number(value, -1, 1024, &v) != 0 || v == 0)
            return bad_value(a, name, value, "expected 1..1024 threads, or -1 for two per CPU");
        o->workers = v < 0 ? 2 * a->ncpu : (int)v;
    } else {
        fprintf(a->errout, "%s: unknown option '--%s' (see --help)\n", a->prog, name);
        return -1;
    }
    return 0;
}

/* True for the options that take a value. */
static int takes_value(const char *name)
{
    static const char *const names[] = {"port",    "bind",        "framing",
                                        "bufsize", "max-clients", "workers",
                                        "sndbuf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0)
            return 1;
    }
    return 0;
}

void ec_server_opts_init(struct ec_server_opts *o, int default_workers, int ncpu)
{
    memset(o, 0, sizeof *o);
    snprintf(o->bind, sizeof o->bind, "127.0.0.1");
    o->port = EC_DEFAULT_PORT;
    o->bufsize = EC_DEFAULT_BUFSIZE;
    o->framing.kind = EC_FRAMING_RAW;
    o->workers = default_workers < 0 ? 2 * ncpu : default_workers;
}

int ec_server_parse_args(int argc, char *const argv[], struct ec_server_opts *o,
                         int default_workers, int ncpu, const char *prog, FILE *errout)
{
    struct args a = {
        .prog = prog, .errout = errout, .default_workers = default_workers, .ncpu = ncpu};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char name[32];
        const char *value = NULL;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(errout, "%s: unexpected argument '%s' (options start with --; see --help)\n",
                    prog, arg);
            return EC_ARGS_ERROR;
        }
        const char *eq = strchr(arg + 2, '=');
        size_t nl = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
        if (nl >= sizeof name) {
            fprintf(errout, "%s: unknown option '%s' (see --help)\n", prog, arg);
            return EC_ARGS_ERROR;
        }
        memcpy(name, arg + 2, nl);
        name[nl] = '\0';
        if (eq != NULL)
            value = eq + 1;

        if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0 ||
            strcmp(name, "quiet") == 0 || strcmp(name, "nodelay") == 0) {
            if (value != NULL) {
                fprintf(errout, "%s: option '--%s' takes no value (got '%s')\n", prog, name, value);
                return EC_ARGS_ERROR;
            }
            if (strcmp(name, "quiet") == 0 || strcmp(name, "nodelay") == 0) {
                *(name[0] == 'q' ? &o->quiet : &o->nodelay) = 1;
                continue;
            }
            return strcmp(name, "help") == 0 ? EC_ARGS_HELP : EC_ARGS_VERSION;
        }
        if (!takes_value(name)) {
            fprintf(errout, "%s: unknown option '--%s' (see --help)\n", prog, name);
            return EC_ARGS_ERROR;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(errout, "%s: option '--%s' needs a value (see --help)\n", prog, name);
                return EC_ARGS_ERROR;
            }
            value = argv[++i];
        }
        if (apply_option(&a, name, value, o) != 0)
            return EC_ARGS_ERROR;
    }
    return EC_ARGS_RUN;
}
