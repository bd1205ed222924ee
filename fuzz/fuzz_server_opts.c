/* fuzz_server_opts.c - libFuzzer target: the command line of every echo-<model>
 * (ec_server_parse_args, servers/kit/server_opts.c) with an argv built from the input.
 *
 * Input: byte 0 picks the model's default_workers (0: no --workers, -1, 4); the rest
 * is split at '\n' into argv[1..]. Oracle: a parse that says "run" leaves every option
 * within its documented range (port 0..65535, a non-empty bind address, bufsize
 * 1..16 MiB, max-clients 0..1000000, workers 1..2048 or 0 for a model without them,
 * a framing whose canonical form parses back) and prints nothing; a refusal prints
 * exactly one line starting with the program name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_server.h"
#include "fuzz_common.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int workers_of[3] = {0, -1, 4};
    char *argv[MAX_ARGS + 1];
    char msg[16384];
    if (size < 1)
        return 0;
    int dw = workers_of[data[0] % 3];
    char *text = ec_fuzz_text(data + 1, size - 1);
    if (text == NULL)
        return 0;
    int argc = 0;
    argv[argc++] = "fuzz";
    for (char *p = text; argc < MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;

    struct ec_server_opts o;
    ec_server_opts_init(&o, dw, 8);
    memset(msg, 0, sizeof msg);
    FILE *errout = fmemopen(msg, sizeof msg - 1, "w");
    EC_FUZZ_CHECK(errout != NULL);
    int rc = ec_server_parse_args(argc, argv, &o, dw, 8, "fuzz", errout);
    fclose(errout);
    if (rc == EC_ARGS_RUN) {
        EC_FUZZ_CHECK(msg[0] == '\0');
        EC_FUZZ_CHECK(o.port <= 65535);
        EC_FUZZ_CHECK(memchr(o.bind, '\0', sizeof o.bind) != NULL && o.bind[0] != '\0');
        EC_FUZZ_CHECK(o.bufsize >= 1 && o.bufsize <= EC_MAX_BUFSIZE);
        EC_FUZZ_CHECK(o.max_clients >= 0 && o.max_clients <= 1000000);
        if (dw == 0)
            EC_FUZZ_CHECK(o.workers == 0);
        else
            EC_FUZZ_CHECK(o.workers >= 1 && o.workers <= 2048);
        char canon[64];
        struct ec_framing g;
        ec_framing_format(&o.framing, canon, sizeof canon);
        EC_FUZZ_CHECK(ec_framing_parse(canon, &g, NULL, 0) == 0);
        EC_FUZZ_CHECK(g.kind == o.framing.kind && g.max_payload == o.framing.max_payload);
    } else if (rc == EC_ARGS_ERROR) {
        EC_FUZZ_CHECK(strncmp(msg, "fuzz: ", 6) == 0);
        char *nl = strchr(msg, '\n');
        /* One line (an argument may itself hold no newline: argv was split at them). */
        EC_FUZZ_CHECK(nl != NULL && nl[1] == '\0');
    } else {
        EC_FUZZ_CHECK(rc == EC_ARGS_HELP || rc == EC_ARGS_VERSION);
        EC_FUZZ_CHECK(msg[0] == '\0');
    }
    free(text);
    return 0;
}
