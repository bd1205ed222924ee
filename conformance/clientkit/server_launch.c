/* server_launch.c - one way to start the server under test from a user's command
 * line, for the engine and `echoconf diagnose` alike: the server contract (--port 0,
 * readiness line) or a "{port}" template with connect-as-readiness.
 */
#include "server_launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_net.h"
#include "ec_sock.h"

#define MAX_WORDS 256

int ec_command_has_port(const char *cmd)
{
    return cmd && strstr(cmd, "{port}") != NULL;
}

int ec_pick_free_port(char *err, size_t errlen)
{
    ec_sock_t l;
    if (ec_listen("127.0.0.1", 0, 1, &l, err, errlen) < 0)
        return -1;
    int port = ec_sock_local_port(l);
    ec_sock_close(l);
    if (port <= 0) {
        snprintf(err, errlen, "cannot read back the port of a socket bound to 127.0.0.1:0");
        return -1;
    }
    return port;
}

/* cmd with every "{port}" replaced by port, into out. Returns 0, or -1 if it does
 * not fit. */
static int substitute_port(const char *cmd, int port, char *out, size_t len)
{
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    size_t o = 0;
    for (const char *p = cmd; *p;) {
        if (strncmp(p, "{port}", 6) == 0) {
            size_t n = strlen(num);
            if (o + n >= len)
                return -1;
            memcpy(out + o, num, n);
            o += n;
            p += 6;
        } else {
            if (o + 1 >= len)
                return -1;
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    return 0;
}

static void join_words(char **argv, int n, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "", argv[i]);
}

void ec_launch_reach(const char *host, char *out, size_t len)
{
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(out, len, "%s", host);
}

int ec_launch_server(struct ec_server_proc *s, const char *cmd, const char *framing,
                     char *const *extra, size_t nextra, int nofile, int ready_ms, char *shown,
                     size_t shownlen, char *err, size_t errlen)
{
    char *argv[MAX_WORDS];
    char serr[160];
    int templated = ec_command_has_port(cmd);
    int port = 0;
    int n;
    memset(s, 0, sizeof *s);
    s->pid = -1;
    if (templated) {
        char line[4096];
        if ((port = ec_pick_free_port(serr, sizeof serr)) < 0) {
            snprintf(err, errlen, "no free port for {port}: %s", serr);
            return -1;
        }
        if (substitute_port(cmd, port, line, sizeof line) < 0) {
            snprintf(err, errlen, "the command is too long");
            return -1;
        }
        n = ec_split_command(line, argv, MAX_WORDS, serr, sizeof serr);
    } else {
        n = ec_split_command(cmd, argv, MAX_WORDS - 4 - (int)nextra, serr, sizeof serr);
    }
    if (n <= 0) {
        snprintf(err, errlen, "%s", n < 0 ? serr : "an empty command");
        return -1;
    }
    if (!templated) {
        argv[n++] = strdup("--port");
        argv[n++] = strdup("0");
        argv[n++] = strdup("--framing");
        argv[n++] = strdup(framing ? framing : "raw");
        for (size_t i = 0; i < nextra; i++)
            argv[n++] = strdup(extra[i]);
        argv[n] = NULL;
        for (int i = 0; i < n; i++)
            if (!argv[i]) {
                ec_split_free(argv, n);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
    }
    join_words(argv, n, shown, shownlen);
    int rc = templated ? ec_server_start_connect(s, argv, nofile, "127.0.0.1", (unsigned)port,
                                                 ready_ms, err, errlen)
                       : ec_server_start(s, argv, nofile, ready_ms, err, errlen);
    ec_split_free(argv, n);
    return rc;
}
