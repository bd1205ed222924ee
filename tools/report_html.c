/* report_html.c - a result set as one self-contained HTML file: the models x cases
 * table (sticky headers, a colour and a symbol per verdict, the legend), a section
 * per model with its edge profile in words, and for every cell that did not pass its
 * evidence: requirement, expected / actual, the first difference in hex, the
 * timeline as an SVG sequence diagram (client lane, server lane, one time axis), the
 * server log tail and the command that reproduces it. Inline CSS and SVG only: no
 * external URL, no JavaScript needed (a cell links to its evidence, a <details>
 * element that browsers open on fragment navigation and that :target highlights);
 * a few lines of inline script only add row filters.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echoconf_report.h"

/* Verdicts as the report shows them; a verdict name not listed here (added to the
 * engine later) is shown with the "?" style and its own name. */
static const struct vinfo {
    const char *name;
    const char *css; /* class suffix */
    const char *sym;
    const char *meaning;
} verdicts[] = {
    {"PASS", "pass", ".", "passed"},
    {"PASS-NONSTRICT", "nonstrict", "~", "passed through an accepted alternative outcome"},
    {"XFAIL", "xfail", "x", "a declared deviation happened (the profile gives its reason)"},
    {"MAY", "may", "m",
     "a may-entry held: a pass or exactly its diagnosis, as the server's own scheduling decides"},
    {"XPASS", "xpass", "!", "a declared deviation did not happen: the profile is stale"},
    {"FAIL", "fail", "F", "failed with a diagnosis"},
    {"TIMEOUT", "timeout", "T", "the case's time budget ran out"},
    {"ERROR", "error", "E", "the case could not run (harness or fixture error)"},
    {"UNSUPPORTED", "unsupported", "-", "cannot run against this server (the reason is given)"},
    {"SKIPPED", "skipped", "s", "the model cannot run on this machine"},
};

static const struct vinfo *vlookup(const char *v)
{
    for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++)
        if (strcmp(verdicts[i].name, v) == 0)
            return &verdicts[i];
    return NULL;
}

/* The verdict of a cell; a skipped row's cells are SKIPPED whether or not a result
 * file says so. */
static const char *verdict_of(const struct ec_result_set *rs, size_t r, size_t c)
{
    if (rs->rows[r].skip[0])
        return "SKIPPED";
    return ec_rs_str(rs->cells[r * rs->ncols + c], "verdict");
}

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* An id for an element from free text: letters, digits, '-' and '_' kept, the rest
 * '_' ("posix-epoll" stays, "socat TCP..." becomes "socat_TCP..."). */
static void ident(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '-'
                  ? *s
                  : '_',
              f);
}

/* The style sheet, in pieces (C99 promises string literals of 4095 bytes only). */
static const char *const css[] = {
    ":root{--pass:#d8efd9;--pass-fg:#1b5e20;--nonstrict:#e9f5c9;--nonstrict-fg:#4b6b00;"
    "--xfail:#fff1c2;--xfail-fg:#7a5a00;--xpass:#ecd4f5;--xpass-fg:#6a1b9a;--fail:#f8c9c9;"
    "--fail-fg:#b71c1c;--timeout:#ffd9b0;--timeout-fg:#a14500;--error:#4a4a4a;--error-fg:#fff;"
    "--unsupported:#eceff1;--unsupported-fg:#607d8b;--skipped:#f5f5f5;--skipped-fg:#9e9e9e;"
    "--unknown:#222;--unknown-fg:#fff}\n",
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1d2327;background:#fafafa}\n",
    "header{padding:18px 24px 8px;background:#fff;border-bottom:1px solid #ddd}\n",
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}"
    "h3{font-size:16px;margin:18px 0 6px}\n",
    "main{padding:0 24px 40px}.sub{color:#555;margin:0}.summary{margin:6px 0 0}\n",
    "code,pre,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
    "font-size:12.5px}\n",
    ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;padding:0;list-style:none;margin:10px 0}\n",
    ".legend li{display:flex;align-items:center;gap:6px}\n",
    ".sym{display:inline-block;min-width:22px;height:22px;line-height:22px;text-align:center;"
    "border-radius:4px;font-weight:600}\n",
    ".tablewrap{overflow:auto;max-height:78vh;border:1px solid #ccc;background:#fff}\n",
    "table.matrix{border-collapse:separate;border-spacing:0}\n",
    ".matrix th,.matrix td{border-right:1px solid #e3e3e3;border-bottom:1px solid #e3e3e3}\n",
    ".matrix thead th{position:sticky;top:0;background:#f3f4f6;z-index:2;vertical-align:bottom;"
    "padding:6px 2px}\n",
    ".matrix thead th.case span{writing-mode:vertical-rl;transform:rotate(180deg);"
    "white-space:nowrap;font-weight:500;font-size:12px}\n",
    ".matrix th.model{position:sticky;left:0;background:#f9fafb;z-index:1;text-align:left;"
    "padding:2px 10px;white-space:nowrap;font-weight:500}\n",
    ".matrix thead th.corner{left:0;z-index:3;text-align:left;padding:6px 10px}\n",
    ".matrix td{padding:0;text-align:center}\n",
    ".matrix td a,.matrix td span{display:block;width:26px;height:24px;line-height:24px;"
    "text-decoration:none;font-weight:600;color:inherit}\n",
    ".matrix td a:hover{outline:2px solid #1565c0}\n",
    ".v-pass{background:var(--pass);color:var(--pass-fg)}"
    ".v-nonstrict{background:var(--nonstrict);color:var(--nonstrict-fg)}"
    ".v-xfail{background:var(--xfail);color:var(--xfail-fg)}"
    ".v-may{background:#e3ecf7;color:#2b4c7e}"
    ".v-xpass{background:var(--xpass);color:var(--xpass-fg)}"
    ".v-fail{background:var(--fail);color:var(--fail-fg)}"
    ".v-timeout{background:var(--timeout);color:var(--timeout-fg)}"
    ".v-error{background:var(--error);color:var(--error-fg)}"
    ".v-unsupported{background:var(--unsupported);color:var(--unsupported-fg)}"
    ".v-skipped{background:var(--skipped);color:var(--skipped-fg)}"
    ".v-unknown{background:var(--unknown);color:var(--unknown-fg)}\n",
    ".model-card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;"
    "margin:10px 0}\n",
    ".model-card ul{margin:4px 0 6px;padding-left:20px}.muted{color:#666}\n",
    "details.ev{background:#fff;border:1px solid #ddd;border-left:6px solid #999;"
    "border-radius:6px;margin:10px 0;padding:0 14px}\n",
    "details.ev>summary{cursor:pointer;padding:8px 0;font-weight:600}\n",
    "details.ev:has(.evbody:target){box-shadow:0 0 0 3px #1565c0}"
    ".evbody{scroll-margin-top:48px}\n",
    "details.ev.v-fail,details.ev.v-xfail,details.ev.v-xpass,details.ev.v-timeout,"
    "details.ev.v-error,details.ev.v-unknown{background:#fff;color:inherit}\n",
    "details.ev.v-fail{border-left-color:var(--fail-fg)}"
    "details.ev.v-xfail{border-left-color:#e0b000}"
    "details.ev.v-xpass{border-left-color:var(--xpass-fg)}"
    "details.ev.v-timeout{border-left-color:var(--timeout-fg)}"
    "details.ev.v-error{border-left-color:var(--error)}"
    "details.ev.v-unknown{border-left-color:#000}\n",
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}"
    "dl.kv dt{color:#555}dl.kv dd{margin:0}\n",
    "table.hex{border-collapse:collapse;margin:6px 0}.hex td{padding:0 3px}"
    ".hex .diff{background:#ffcdd2;color:#b71c1c;font-weight:700}.hex .tag{color:#555}"
    ".nowide{width:0;white-space:nowrap}\n",
    "pre.log{background:#1e1e1e;color:#e0e0e0;padding:8px 10px;border-radius:4px;"
    "overflow:auto;max-height:260px}\n",
    ".repro{background:#eef3fb;border:1px solid #c5d5ee;padding:6px 8px;border-radius:4px;"
    "display:block;white-space:pre-wrap;word-break:break-all}\n",
    "svg.seq{background:#fff;border:1px solid #e0e0e0;border-radius:4px;max-width:100%}\n",
    "svg.seq text{font:11px ui-monospace,'DejaVu Sans Mono',monospace;fill:#263238}\n",
    "svg.seq .lane{stroke:#90a4ae;stroke-dasharray:4 3}svg.seq .tick{fill:#78909c}\n",
    "svg.seq .c2s{stroke:#1565c0;fill:none}svg.seq .s2c{stroke:#2e7d32;fill:none}"
    "svg.seq .bad{stroke:#c62828}svg.seq .srv{fill:#6a1b9a}svg.seq .cli{fill:#1565c0}\n",
    "svg.seq .fail{stroke:#c62828;stroke-width:1.5;stroke-dasharray:6 3}"
    "svg.seq .failt{fill:#c62828;font-weight:700}\n",
    "@media print{.tablewrap{max-height:none;overflow:visible}details.ev{break-inside:avoid}}\n",
    NULL};

/* ---- the SVG sequence diagram ------------------------------------------------------- */

#define SVG_W     860
#define AXIS_X    70
#define CLIENT_X  300
#define SERVER_X  560
#define ROW_H     18
#define TOP       44

static int kind_of(const char *what)
{
    /* 1: client -> server, 2: server -> client, 0: a note on the client lane */
    static const char *const c2s[] = {"connect", "send", "shutdown", "abort", "close", NULL};
    static const char *const s2c[] = {"recv", "eof", "reset", "refused", NULL};
    for (const char *const *p = c2s; *p; p++)
        if (strcmp(*p, what) == 0)
            return 1;
    for (const char *const *p = s2c; *p; p++)
        if (strcmp(*p, what) == 0)
            return 2;
    return 0;
}

static void cut(char *out, size_t len, const char *s, size_t max)
{
    if (strlen(s) <= max)
        snprintf(out, len, "%s", s);
    else
        snprintf(out, len, "%.*s...", (int)(max - 3), s);
}

/* The arrow heads of every diagram, defined once in an SVG of no size (a marker
 * inside a closed <details> would not be rendered for the diagrams outside it). */
static void arrow_heads(FILE *f)
{
    static const char *const heads[][2] = {
        {"c2s", "#1565c0"}, {"s2c", "#2e7d32"}, {"bad", "#c62828"}};
    fputs("<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>",
          f);
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "<marker id=\"ah-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
                "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 "
                "L0,10 z\" fill=\"%s\"/></marker>",
                heads[i][0], heads[i][1]);
    fputs("</defs></svg>", f);
}

static void svg_timeline(FILE *f, const cJSON *cell)
{
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(cell, "timeline");
    int n = cJSON_GetArraySize(tl);
    if (n <= 0)
        return;
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(cell, "failure_t_us");
    double fail_us = cJSON_IsNumber(ft) ? ft->valuedouble : -1;
    int fail_row = -1;
    const char *who = ec_rs_str(cell, "connection");
    int rows = n + (fail_us >= 0 ? 1 : 0);
    int h = TOP + rows * ROW_H + 16;
    fprintf(f,
            "<svg class=\"seq\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">"
            "<title>timeline of ",
            SVG_W, h, SVG_W, h);
    esc(f, who);
    fputs(" and the server</title>\n", f);
    fprintf(f,
            "<text x=\"%d\" y=\"16\" class=\"tick\">time (ms)</text>"
            "<text x=\"%d\" y=\"16\" text-anchor=\"middle\" font-weight=\"700\">client ",
            4, CLIENT_X);
    esc(f, *who ? who : "");
    fprintf(f,
            "</text><text x=\"%d\" y=\"16\" text-anchor=\"middle\" font-weight=\"700\">"
            "server (its log)</text>\n",
            SERVER_X);
    fprintf(f,
            "<line class=\"lane\" x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>"
            "<line class=\"lane\" x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>"
            "<line x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\" stroke=\"#cfd8dc\"/>\n",
            CLIENT_X, CLIENT_X, h - 8, SERVER_X, SERVER_X, h - 8, AXIS_X, AXIS_X, h - 8);
    int row = 0;
    char txt[200], buf[260];
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(tl, i);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "t_us");
        double us = cJSON_IsNumber(t) ? t->valuedouble : 0;
        if (fail_us >= 0 && fail_row < 0 && us > fail_us) {
            fail_row = row++;
            int y = TOP + fail_row * ROW_H;
            fprintf(f,
                    "<line class=\"fail\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                    "<text x=\"%d\" y=\"%d\" class=\"failt\">%.3f failure: ",
                    AXIS_X, y, SVG_W - 10, y, AXIS_X + 6, y - 3, fail_us / 1000.0);
            esc(f, ec_rs_str(cell, "diagnosis"));
            fputs("</text>\n", f);
        }
        int y = TOP + row * ROW_H;
        row++;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"tick\">%.3f</text>",
                AXIS_X - 4, y + 4, us / 1000.0);
        const char *lane = ec_rs_str(e, "lane");
        if (strcmp(lane, "server") == 0) {
            cut(txt, sizeof txt, ec_rs_str(e, "text"), 40);
            fprintf(f, "<circle class=\"srv\" cx=\"%d\" cy=\"%d\" r=\"3.5\"/>"
                       "<text x=\"%d\" y=\"%d\">",
                    SERVER_X, y, SERVER_X + 8, y + 4);
            esc(f, txt);
            fputs("</text>\n", f);
            continue;
        }
        const char *what = ec_rs_str(e, "what"), *err = ec_rs_str(e, "error");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "bytes");
        if (cJSON_IsNumber(b))
            snprintf(buf, sizeof buf, "%s %.0f B%s%s", what, b->valuedouble, *err ? " " : "", err);
        else
            snprintf(buf, sizeof buf, "%s%s%s", what, *err ? " " : "", err);
        int engine = strcmp(lane, "engine") == 0;
        int k = engine ? 0 : kind_of(what);
        int bad = *err || strcmp(what, "abort") == 0 || strcmp(what, "reset") == 0;
        if (k == 1 || k == 2) {
            int x1 = k == 1 ? CLIENT_X : SERVER_X, x2 = k == 1 ? SERVER_X - 4 : CLIENT_X + 4;
            fprintf(f,
                    "<line class=\"%s%s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                    "marker-end=\"url(#ah-%s)\"/><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                    k == 1 ? "c2s" : "s2c", bad ? " bad" : "", x1, y, x2, y,
                    bad ? "bad" : k == 1 ? "c2s" : "s2c",
                    (CLIENT_X + SERVER_X) / 2, y - 3);
            cut(txt, sizeof txt, buf, 38);
            esc(f, txt);
            fputs("</text>\n", f);
        } else {
            const char *note = ec_rs_str(e, "note");
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s%s", *note ? " (" : "",
                     note, *note ? ")" : "");
            cut(txt, sizeof txt, buf, 30);
            fprintf(f,
                    "<circle class=\"cli\" cx=\"%d\" cy=\"%d\" r=\"3\"%s/>"
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"%s>",
                    CLIENT_X, y, engine ? " fill-opacity=\"0.4\"" : "", CLIENT_X - 8, y + 4,
                    engine ? " fill-opacity=\"0.6\"" : "");
            if (engine)
                fputs("engine: ", f);
            esc(f, txt);
            fputs("</text>\n", f);
        }
    }
    if (fail_us >= 0 && fail_row < 0) {
        int y = TOP + row * ROW_H;
        fprintf(f,
                "<line class=\"fail\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                "<text x=\"%d\" y=\"%d\" class=\"failt\">%.3f failure: ",
                AXIS_X, y, SVG_W - 10, y, AXIS_X + 6, y - 3, fail_us / 1000.0);
        esc(f, ec_rs_str(cell, "diagnosis"));
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

/* ---- pieces of the page --------------------------------------------------------------- */

static void hex_rows(FILE *f, const cJSON *hex)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(hex, "offset");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(hex, "first_difference");
    if (!cJSON_IsNumber(o) || !cJSON_IsNumber(d))
        return;
    long long off = (long long)o->valuedouble, diff = (long long)d->valuedouble;
    fprintf(f, "<p>First difference at stream offset %lld:</p><table class=\"hex mono\">", diff);
    const char *tags[2] = {"expected", "actual"};
    for (int t = 0; t < 2; t++) {
        const char *h = ec_rs_str(hex, tags[t]);
        size_t nb = strlen(h) / 2;
        if (!nb) {
            fprintf(f, "<tr><td class=\"tag\">%s</td><td colspan=\"17\"><div class=\"nowide\">"
                       "(nothing: the stream ended or stalled here)</div></td></tr>",
                    tags[t]);
            continue;
        }
        for (size_t i = 0; i < nb; i += 16) {
            fprintf(f, "<tr><td class=\"tag\">%s</td><td class=\"tag\">%08llx</td>",
                    i ? "" : tags[t], (unsigned long long)(off + (long long)i));
            for (size_t j = i; j < i + 16 && j < nb; j++)
                fprintf(f, "<td%s>%.2s</td>",
                        off + (long long)j == diff ? " class=\"diff\"" : "", h + 2 * j);
            fputs("</tr>", f);
        }
    }
    fputs("</table>\n", f);
}

static void kv(FILE *f, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    fprintf(f, "<dt>%s</dt><dd>", k);
    esc(f, v);
    fputs("</dd>", f);
}

static void evidence(FILE *f, const struct ec_result_set *rs, size_t r, size_t c, int open)
{
    const cJSON *cell = rs->cells[r * rs->ncols + c];
    const char *v = cell ? ec_rs_str(cell, "verdict") : "";
    const struct vinfo *vi = vlookup(v);
    /* The id sits inside the closed <details>: navigating to it opens the element
     * (Chromium, Firefox and Safari open a <details> whose content is the target of a
     * fragment), while an id on the <details> itself would only scroll to it. */
    fprintf(f, "<details class=\"ev v-%s\"%s><summary>", vi ? vi->css : "unknown",
            open ? " open" : "");
    esc(f, rs->rows[r].id);
    fputs(" / ", f);
    esc(f, rs->cols[c]);
    fputs(": ", f);
    esc(f, *v ? v : "no result");
    if (*ec_rs_str(cell, "diagnosis")) {
        fputs(" &middot; ", f);
        esc(f, ec_rs_str(cell, "diagnosis"));
    }
    fputs("</summary>\n<div class=\"evbody\" id=\"e-", f);
    ident(f, rs->rows[r].id);
    fputs("--", f);
    ident(f, rs->cols[c]);
    fputs("\">\n<dl class=\"kv\">", f);
    kv(f, "requirement", ec_rs_str(cell, "requirement"));
    if (strcmp(v, "XFAIL") == 0 || strcmp(v, "XPASS") == 0) {
        kv(f, "declared", ec_rs_str(cell, "declared_diagnosis"));
        kv(f, "reason", ec_rs_str(cell, "reason"));
    } else {
        kv(f, "reason", ec_rs_str(cell, "reason"));
    }
    kv(f, "error", ec_rs_str(cell, "error"));
    kv(f, "expected", ec_rs_str(cell, "expected"));
    kv(f, "actual", ec_rs_str(cell, "actual"));
    kv(f, "evidence", ec_rs_str(cell, "evidence"));
    if (*ec_rs_str(cell, "connection")) {
        char where[400];
        snprintf(where, sizeof where, "%s, step %s (%s), plan %s", ec_rs_str(cell, "connection"),
                 ec_rs_str(cell, "step"), ec_rs_str(cell, "step_kind"), ec_rs_str(cell, "plan"));
        kv(f, "where", where);
    }
    if (*ec_rs_str(cell, "data_path")) {
        char paths[200];
        snprintf(paths, sizeof paths, "data %s, close %s, observations %s, server log %s",
                 ec_rs_str(cell, "data_path"), ec_rs_str(cell, "close_path"),
                 ec_rs_str(cell, "observations"), ec_rs_str(cell, "server_log"));
        kv(f, "paths", paths);
    }
    kv(f, "server fate", ec_rs_str(cell, "server_fate"));
    kv(f, "server", ec_rs_str(cell, "server_command"));
    fputs("</dl>\n", f);
    if (!cell)
        fputs("<p>No result file: the test did not run, or its ctest timeout killed it.</p>\n",
              f);
    const cJSON *hex = cJSON_GetObjectItemCaseSensitive(cell, "hex");
    if (hex)
        hex_rows(f, hex);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cell, "timeline")) > 0) {
        fputs("<h4>Timeline: the failing connection and the server, on one clock</h4>\n", f);
        svg_timeline(f, cell);
    }
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(cell, "log_tail");
    if (cJSON_GetArraySize(log) > 0) {
        const cJSON *nl = cJSON_GetObjectItemCaseSensitive(cell, "log_lines");
        fprintf(f, "<h4>Server log tail (%d of %.0f lines)</h4><pre class=\"log\">",
                cJSON_GetArraySize(log), cJSON_IsNumber(nl) ? nl->valuedouble : 0.0);
        const cJSON *l;
        cJSON_ArrayForEach(l, log)
        {
            if (cJSON_IsString(l)) {
                esc(f, l->valuestring);
                fputc('\n', f);
            }
        }
        fputs("</pre>\n", f);
    }
    if (*ec_rs_str(cell, "reproduce")) {
        fputs("<h4>Reproduce</h4><code class=\"repro\">", f);
        esc(f, ec_rs_str(cell, "reproduce"));
        fputs("</code>\n", f);
    }
    fputs("<p></p></div></details>\n", f);
}

static void counts_line(FILE *f, const struct ec_result_set *rs, size_t r0, size_t r1)
{
    size_t nv = sizeof verdicts / sizeof verdicts[0];
    size_t cnt[16] = {0}, unknown = 0;
    for (size_t r = r0; r < r1; r++)
        for (size_t c = 0; c < rs->ncols; c++) {
            const struct vinfo *vi = vlookup(verdict_of(rs, r, c));
            if (vi)
                cnt[vi - verdicts]++;
            else
                unknown++;
        }
    int first = 1;
    for (size_t i = 0; i < nv; i++)
        if (cnt[i]) {
            fprintf(f, "%s<span class=\"sym v-%s\">%s</span> %zu %s", first ? "" : " &nbsp; ",
                    verdicts[i].css, verdicts[i].sym, cnt[i], verdicts[i].name);
            first = 0;
        }
    if (unknown)
        fprintf(f, "%s<span class=\"sym v-unknown\">?</span> %zu no result", first ? "" : " &nbsp; ",
                unknown);
}

int ec_write_html(const struct ec_result_set *rs, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    esc(f, rs->title);
    fputs("</title>\n<style>\n", f);
    for (const char *const *p = css; *p; p++)
        fputs(*p, f);
    fputs("</style></head>\n<body>\n<header><h1>", f);
    esc(f, rs->title);
    fputs("</h1><p class=\"sub\">", f);
    arrow_heads(f);
    if (rs->subtitle) {
        esc(f, rs->subtitle);
        fputs(" &middot; ", f);
    }
    fprintf(f, "generated %s</p>\n<p class=\"summary\">%zu %s x %zu cases: ", when, rs->nrows,
            rs->nrows == 1 ? "server" : "models", rs->ncols);
    counts_line(f, rs, 0, rs->nrows);
    fputs("</p></header>\n<main>\n", f);

    /* Legend. */
    fputs("<h2 id=\"legend\">Legend</h2>\n<ul class=\"legend\">", f);
    for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
        fprintf(f, "<li><span class=\"sym v-%s\">%s</span><b>%s</b> <span class=\"muted\">",
                verdicts[i].css, verdicts[i].sym, verdicts[i].name);
        esc(f, verdicts[i].meaning);
        fputs("</span></li>", f);
    }
    fputs("<li><span class=\"sym v-unknown\">?</span><b>no result</b> <span class=\"muted\">"
          "the replay left no result</span></li></ul>\n"
          "<p class=\"muted\">Every cell that did not pass links to its evidence below.</p>\n",
          f);

    /* Filters: shown only when the script runs (the page needs none of it). */
    fputs("<p id=\"filters\" hidden><label><input type=\"checkbox\" id=\"only-bad\"> only "
          "models with a cell that did not pass</label> &nbsp; <input type=\"search\" "
          "id=\"model-filter\" placeholder=\"filter models by name\"></p>\n",
          f);

    /* The table. */
    fputs("<div class=\"tablewrap\"><table class=\"matrix\" id=\"matrix\">\n<thead><tr>"
          "<th class=\"corner\">model \\ case</th>",
          f);
    for (size_t c = 0; c < rs->ncols; c++) {
        fprintf(f, "<th class=\"case\" scope=\"col\" title=\"");
        esc(f, rs->cols[c]);
        fprintf(f, "\"><span>%zu ", c + 1);
        esc(f, rs->cols[c]);
        fputs("</span></th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t r = 0; r < rs->nrows; r++) {
        fputs("<tr><th class=\"model\" scope=\"row\"><a href=\"#m-", f);
        ident(f, rs->rows[r].id);
        fputs("\">", f);
        esc(f, rs->rows[r].id);
        fputs("</a></th>", f);
        for (size_t c = 0; c < rs->ncols; c++) {
            const cJSON *cell = rs->cells[r * rs->ncols + c];
            const char *v = verdict_of(rs, r, c);
            const struct vinfo *vi = vlookup(v);
            fprintf(f, "<td class=\"v-%s\" title=\"", vi ? vi->css : "unknown");
            esc(f, rs->rows[r].id);
            fputs(" / ", f);
            esc(f, rs->cols[c]);
            fputs(": ", f);
            esc(f, *v ? v : "no result");
            if (*ec_rs_str(cell, "diagnosis")) {
                fputc(' ', f);
                esc(f, ec_rs_str(cell, "diagnosis"));
            }
            fputs("\">", f);
            enum ec_rs_class k = rs->rows[r].skip[0] ? EC_RS_NEUTRAL : ec_rs_cell_class(cell);
            if (k == EC_RS_BAD || k == EC_RS_DECLARED) {
                fputs("<a href=\"#e-", f);
                ident(f, rs->rows[r].id);
                fputs("--", f);
                ident(f, rs->cols[c]);
                fprintf(f, "\">%s</a>", vi ? vi->sym : "?");
            } else {
                fprintf(f, "<span>%s</span>", vi ? vi->sym : "?");
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);

    /* Per model: counts, edge profile in words, declared deviations. */
    fputs("<h2 id=\"models\">Edge profiles</h2>\n", f);
    for (size_t r = 0; r < rs->nrows; r++) {
        fputs("<section class=\"model-card\" id=\"m-", f);
        ident(f, rs->rows[r].id);
        fputs("\"><h3>", f);
        esc(f, rs->rows[r].id);
        fputs(" <span class=\"muted\">(", f);
        esc(f, rs->rows[r].family);
        fputs(")</span></h3><p>", f);
        counts_line(f, rs, r, r + 1);
        fputs("</p>", f);
        if (rs->rows[r].skip[0]) {
            fputs("<p class=\"muted\">Every case skipped: ", f);
            esc(f, rs->rows[r].skip);
            fputs("</p></section>\n", f);
            continue;
        }
        char *lines[64];
        size_t np = ec_edge_profile(rs, r, lines, 64);
        if (!np)
            fputs("<p>No deviation at the edges the catalogue covers.</p>", f);
        else
            fputs("<ul>", f);
        for (size_t i = 0; i < np; i++) {
            fputs("<li>", f);
            esc(f, lines[i]);
            fputs("</li>", f);
            free(lines[i]);
        }
        if (np)
            fputs("</ul>", f);
        fputs("</section>\n", f);
    }

    /* Evidence of every cell that did not pass: failures first, then the declared. */
    fputs("<h2 id=\"evidence\">Evidence</h2>\n", f);
    size_t nev = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t r = 0; r < rs->nrows; r++)
            for (size_t c = 0; c < rs->ncols; c++) {
                if (rs->rows[r].skip[0])
                    continue;
                enum ec_rs_class k =
                    ec_rs_cell_class(rs->cells[r * rs->ncols + c]);
                if ((pass == 0 && k == EC_RS_BAD) || (pass == 1 && k == EC_RS_DECLARED)) {
                    evidence(f, rs, r, c, nev == 0); /* the first one open */
                    nev++;
                }
            }
    if (!nev)
        fputs("<p>Every cell passed: nothing to show.</p>\n", f);
    fputs("</main>\n<script>\n"
          "(function () {\n"
          "  var cb = document.getElementById('only-bad'), q = document.getElementById('model-filter');\n"
          "  function apply() {\n"
          "    document.querySelectorAll('#matrix tbody tr').forEach(function (tr) {\n"
          "      var name = tr.querySelector('th').textContent;\n"
          "      var marked = tr.querySelector('td a') !== null;\n"
          "      tr.hidden = (cb.checked && !marked) || (q.value !== '' && name.indexOf(q.value) < 0);\n"
          "    });\n"
          "  }\n"
          "  cb.addEventListener('change', apply);\n"
          "  q.addEventListener('input', apply);\n"
          "  document.getElementById('filters').hidden = false;\n"
          "})();\n"
          "</script>\n</body></html>\n",
          f);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}
