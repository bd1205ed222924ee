/* edge_profile.c - the edge profile in words: each diagnosis of the vocabulary
 * (conformance/clientkit/diagnoses.h) as what it says about the server ("serves one
 * client at a time"), gathered per row of a result set with the cases that showed it.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnoses.h"
#include "echoconf_report.h"

/* Phrases; "%s" takes the suffix of a diagnosis that has one (capacity-limit:63).
 * A name missing here (added to the vocabulary later) falls back to its meaning. */
static const struct {
    const char *name;
    const char *phrase;
    const char *bare; /* the phrase when the detail is missing */
} phrases[] = {
    {EC_DIAG_ECHO_MISMATCH, "echoes other bytes than it received", NULL},
    {EC_DIAG_TRUNCATED, "ends a connection before the whole echo is back", NULL},
    {EC_DIAG_LOST_AFTER_HALF_CLOSE, "drops the echo owed after a half-close", NULL},
    {EC_DIAG_STALL, "stalls: stops answering before the work is done", NULL},
    {EC_DIAG_SERIALIZED, "serves one client at a time", NULL},
    {EC_DIAG_HOL, "lets one slow client hold up every other client", NULL},
    {EC_DIAG_CAPACITY, "holds at most %s clients", "holds fewer clients than asked for"},
    {EC_DIAG_DIED_AFTER_RESET, "a reset from one client kills the server", NULL},
    {EC_DIAG_FD_LEAK, "leaks descriptors (%s more after the clients left)", "leaks descriptors"},
    {EC_DIAG_BUSY_POLL, "spins while idle", NULL},
    {EC_DIAG_CRASH, "crashes (killed by %s)", "crashes (killed by a signal)"},
    {EC_DIAG_PREMATURE_CLOSE, "closes a connection before its work is done", NULL},
    {EC_DIAG_UNEXPECTED_RESET, "resets connections that should end with a FIN", NULL},
    {EC_DIAG_FRAME_ERROR, "answers frames wrongly when TCP splits or joins them", NULL},
    {EC_DIAG_CROSS_TALK, "sends one client's bytes to another", NULL},
    {EC_DIAG_UNFAIR, "lets one busy client starve another", NULL},
    {EC_DIAG_SERVER_EXITED, "exits on its own (status %s)", "exits on its own"},
    {EC_DIAG_LOG_MISMATCH, "logs other events than the ones that happened", NULL},
    {EC_DIAG_UNEXPECTED_DATA, "sends bytes nobody asked for", NULL},
    {EC_DIAG_CONNECT_FAILED, "refuses connections it should accept", NULL},
    {EC_DIAG_NAGLE, "echoes in pieces that wait for a delayed ACK (Nagle): ~40 ms a round trip",
     NULL},
    {EC_DIAG_NO_CLOSE_AFTER_EOF, "keeps a connection open after the client's EOF", NULL},
    {EC_DIAG_IDLE_TIMEOUT, "closes idle connections after %s ms", "closes idle connections"},
    {EC_DIAG_DUPLICATED, "echoes some bytes twice", NULL},
    {EC_DIAG_REORDERED, "echoes bytes out of order", NULL},
    {EC_DIAG_UNBOUNDED_FRAME, "waits on a frame longer than any it should accept", NULL},
    {EC_DIAG_UNBOUNDED_BUFFERING, "buffers without bound: memory grows with unread input",
     NULL},
};

const char *ec_edge_phrase(const char *diagnosis, char *buf, size_t len)
{
    const char *colon = strchr(diagnosis, ':');
    size_t base = colon ? (size_t)(colon - diagnosis) : strlen(diagnosis);
    const char *suffix = colon ? colon + 1 : "";
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        if (strlen(phrases[i].name) != base || strncmp(phrases[i].name, diagnosis, base) != 0)
            continue;
        const char *p = phrases[i].phrase, *s = strstr(p, "%s");
        if (!s)
            snprintf(buf, len, "%s", p);
        else if (strcmp(suffix, "1") == 0 && strcmp(s + 2, " clients") == 0)
            snprintf(buf, len, "%.*s1 client", (int)(s - p), p);
        else if (*suffix)
            snprintf(buf, len, "%.*s%s%s", (int)(s - p), p, suffix, s + 2);
        else /* no detail given: the phrase without its number */
            snprintf(buf, len, "%s", phrases[i].bare);
        return buf;
    }
    for (size_t k = 0; k < ec_diagnosis_count; k++) {
        const struct ec_diagnosis_info *d = &ec_diagnosis_table[k];
        if (strlen(d->name) == base && strncmp(d->name, diagnosis, base) == 0) {
            if (*suffix)
                snprintf(buf, len, "%s (%s)", d->meaning, suffix);
            else
                snprintf(buf, len, "%s", d->meaning);
            return buf;
        }
    }
    snprintf(buf, len, "shows %s", diagnosis);
    return buf;
}

size_t ec_edge_profile(const struct ec_result_set *rs, size_t r, char **lines, size_t max)
{
    char phrase[256];
    /* Distinct phrases in catalogue order, each with the cases that showed it. */
    char *seen[128];
    char *cases[128];
    size_t n = 0;
    for (size_t c = 0; c < rs->ncols; c++) {
        const cJSON *cell = rs->cells[r * rs->ncols + c];
        const char *v = ec_rs_str(cell, "verdict");
        const char *d = ec_rs_str(cell, "diagnosis");
        /* MAY with a diagnosis: the may-entry's failure happened this time. */
        if (!*d || (strcmp(v, "FAIL") != 0 && strcmp(v, "XFAIL") != 0 && strcmp(v, "MAY") != 0 &&
                    strcmp(v, "TIMEOUT") != 0))
            continue;
        if (ec_diagnosis_is_harness(d))
            continue;
        ec_edge_phrase(d, phrase, sizeof phrase);
        size_t k = 0;
        while (k < n && strcmp(seen[k], phrase) != 0)
            k++;
        if (k == n) {
            if (n == sizeof seen / sizeof seen[0])
                continue;
            seen[n] = strdup(phrase);
            cases[n] = strdup(rs->cols[c]);
            n++;
        } else {
            size_t l = strlen(cases[k]) + strlen(rs->cols[c]) + 3;
            char *t = malloc(l);
            if (t) {
                snprintf(t, l, "%s, %s", cases[k], rs->cols[c]);
                free(cases[k]);
                cases[k] = t;
            }
        }
    }
    size_t out = 0;
    for (size_t k = 0; k < n; k++) {
        if (out < max && seen[k] && cases[k]) {
            size_t l = strlen(seen[k]) + strlen(cases[k]) + 4;
            lines[out] = malloc(l);
            if (lines[out]) {
                snprintf(lines[out], l, "%s (%s)", seen[k], cases[k]);
                out++;
            }
        }
        free(seen[k]);
        free(cases[k]);
    }
    return out;
}

enum ec_rs_class ec_rs_class_of(const char *v)
{
    if (!v || !*v)
        return EC_RS_BAD;
    if (strcmp(v, "PASS") == 0 || strcmp(v, "PASS-NONSTRICT") == 0)
        return EC_RS_PASS;
    if (strcmp(v, "XFAIL") == 0 || strcmp(v, "MAY") == 0)
        return EC_RS_DECLARED;
    if (strcmp(v, "UNSUPPORTED") == 0 || strcmp(v, "SKIPPED") == 0)
        return EC_RS_NEUTRAL;
    return EC_RS_BAD;
}

enum ec_rs_class ec_rs_cell_class(const cJSON *cell)
{
    const char *v = ec_rs_str(cell, "verdict");
    if (cell && strcmp(v, "MAY") == 0 && !*ec_rs_str(cell, "diagnosis"))
        return EC_RS_PASS; /* the may-entry's case passed this time */
    return ec_rs_class_of(cell ? v : NULL);
}

const char *ec_rs_str(const cJSON *cell, const char *name)
{
    const cJSON *v = cell ? cJSON_GetObjectItemCaseSensitive(cell, name) : NULL;
    return cJSON_IsString(v) ? v->valuestring : "";
}
