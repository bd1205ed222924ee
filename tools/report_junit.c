/* report_junit.c - a result set as JUnit XML, the format CI servers and dashboards
 * read: one <testsuite> per row (a model, or the diagnosed server), one <testcase> per
 * case; FAIL, XPASS and TIMEOUT are <failure>s whose message is the verdict and
 * diagnosis line, ERROR and a missing result are <error>s, UNSUPPORTED and SKIPPED
 * are <skipped>, and a declared deviation (XFAIL) or a may-entry's diagnosis (MAY)
 * passes with its reason as output.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "echoconf_report.h"

static void xesc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '&')
            fputs("&amp;", f);
        else if (ch == '<')
            fputs("&lt;", f);
        else if (ch == '>')
            fputs("&gt;", f);
        else if (ch == '"')
            fputs("&quot;", f);
        else if (ch >= 0x20 || ch == '\n' || ch == '\t')
            fputc(ch, f); /* XML 1.0 has no other control characters */
    }
}

static double seconds(const cJSON *cell)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cell, "duration_ms");
    return cJSON_IsNumber(d) ? d->valuedouble / 1000.0 : 0.0;
}

/* The evidence of a failing cell as plain text. */
static void body(FILE *f, const cJSON *cell)
{
    static const char *const keys[] = {"requirement", "expected",  "actual", "evidence",
                                       "connection",  "step",      "plan",   "error",
                                       "reason",      "reproduce", NULL};
    for (const char *const *k = keys; *k; k++)
        if (*ec_rs_str(cell, *k)) {
            xesc(f, *k);
            fputs(": ", f);
            xesc(f, ec_rs_str(cell, *k));
            fputc('\n', f);
        }
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(cell, "log_tail");
    if (cJSON_GetArraySize(log) > 0) {
        fputs("server log tail:\n", f);
        const cJSON *l;
        cJSON_ArrayForEach(l, log)
        {
            if (cJSON_IsString(l)) {
                fputs("  ", f);
                xesc(f, l->valuestring);
                fputc('\n', f);
            }
        }
    }
}

int ec_write_junit(const struct ec_result_set *rs, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
    xesc(f, rs->title);
    fputs("\">\n", f);
    for (size_t r = 0; r < rs->nrows; r++) {
        int failures = 0, errors = 0, skipped = 0;
        double total = 0;
        for (size_t c = 0; c < rs->ncols; c++) {
            const cJSON *cell = rs->cells[r * rs->ncols + c];
            const char *v = ec_rs_str(cell, "verdict");
            enum ec_rs_class k = ec_rs_cell_class(cell);
            total += seconds(cell);
            if (k == EC_RS_NEUTRAL)
                skipped++;
            else if (k == EC_RS_BAD && (!cell || strcmp(v, "ERROR") == 0))
                errors++;
            else if (k == EC_RS_BAD)
                failures++;
        }
        fputs("  <testsuite name=\"", f);
        xesc(f, rs->rows[r].id);
        fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
                rs->ncols, failures, errors, skipped, total);
        for (size_t c = 0; c < rs->ncols; c++) {
            const cJSON *cell = rs->cells[r * rs->ncols + c];
            const char *v = ec_rs_str(cell, "verdict"), *d = ec_rs_str(cell, "diagnosis");
            enum ec_rs_class k = ec_rs_cell_class(cell);
            fputs("    <testcase classname=\"echoconf.", f);
            xesc(f, rs->rows[r].id);
            fputs("\" name=\"", f);
            xesc(f, rs->cols[c]);
            fprintf(f, "\" time=\"%.3f\"", seconds(cell));
            if (k == EC_RS_PASS) {
                fputs("/>\n", f);
                continue;
            }
            fputs(">\n", f);
            /* The message is the line `echoconf diagnose` prints for the case. */
            char msg[400];
            snprintf(msg, sizeof msg, "%s%s%s", *v ? v : "no result", *d ? " " : "", d);
            if (k == EC_RS_NEUTRAL) {
                fputs("      <skipped message=\"", f);
                xesc(f, *ec_rs_str(cell, "reason") ? ec_rs_str(cell, "reason") : msg);
                fputs("\"/>\n", f);
            } else if (k == EC_RS_DECLARED) {
                fputs(strcmp(v, "MAY") == 0 ? "      <system-out>may-entry "
                                             : "      <system-out>declared deviation ",
                      f);
                xesc(f, d);
                fputs(": ", f);
                xesc(f, ec_rs_str(cell, "reason"));
                fputs("</system-out>\n", f);
            } else {
                const char *tag = (!cell || strcmp(v, "ERROR") == 0) ? "error" : "failure";
                fprintf(f, "      <%s message=\"", tag);
                xesc(f, msg);
                fprintf(f, "\" type=\"%s\">", *v ? v : "no-result");
                if (cell)
                    body(f, cell);
                else
                    fputs("no result: the replay did not run or left no result", f);
                fprintf(f, "</%s>\n", tag);
            }
            fputs("    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}
