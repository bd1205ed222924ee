/* fuzz_split_command.c - libFuzzer target: the command-line splitter that starts every
 * server (ec_split_command, conformance/clientkit/server_proc.c).
 *
 * Input: byte 0 picks the word limit (max 1..64 slots), the rest is the command line.
 * Oracle: a split returns at most max - 1 words and a NULL after them; re-quoting each
 * word in single quotes (a quote as '\'') and splitting again gives the same words;
 * a refusal leaves nothing allocated (LeakSanitizer) and says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "server_proc.h"

#define MAX_WORDS 64

/* Appends word quoted for the splitter to buf (len bytes, NUL-terminated). */
static void append_quoted(char *buf, size_t len, const char *word)
{
    size_t n = strlen(buf);
    if (n + 1 < len)
        buf[n++] = '\'';
    for (const char *p = word; *p && n + 5 < len; p++) {
        if (*p == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *p;
        }
    }
    if (n + 2 < len) {
        buf[n++] = '\'';
        buf[n++] = ' ';
    }
    buf[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_WORDS + 1], *again[MAX_WORDS + 1];
    char err[200] = "";
    if (size < 1)
        return 0;
    int max = 1 + data[0] % MAX_WORDS;
    char *cmd = ec_fuzz_text(data + 1, size - 1);
    if (cmd == NULL)
        return 0;
    int n = ec_split_command(cmd, argv, max, err, sizeof err);
    if (n < 0) {
        EC_FUZZ_CHECK(err[0] != '\0');
        free(cmd);
        return 0;
    }
    EC_FUZZ_CHECK(n <= max - 1 && argv[n] == NULL);
    size_t cap = 4 * size + 8 * (size_t)n + 16;
    char *requoted = calloc(1, cap);
    EC_FUZZ_CHECK(requoted != NULL);
    for (int i = 0; i < n; i++) {
        EC_FUZZ_CHECK(argv[i] != NULL);
        append_quoted(requoted, cap, argv[i]);
    }
    int m = ec_split_command(requoted, again, max, err, sizeof err);
    EC_FUZZ_CHECK(m == n);
    for (int i = 0; i < n; i++)
        EC_FUZZ_CHECK(strcmp(argv[i], again[i]) == 0);
    ec_split_free(again, m);
    ec_split_free(argv, n);
    free(requoted);
    free(cmd);
    return 0;
}
