/* report_evidence.c - the evidence of a replay as JSON, for the writers that render
 * results without running anything (echoconf's HTML report, JUnit): where the server
 * came from, the command that reproduces the run, the first difference in hex, the
 * failing connection's timeline with the server's log lines about its port on one
 * clock, and the server log tail.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_sock.h"
#include "engine_internal.h"

#define EVIDENCE_TIMELINE_MAX 80
#define EVIDENCE_LOG_LINES    15

static void add_hex(cJSON *o, const char *name, const unsigned char *b, size_t n)
{
    char buf[2 * 64 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%02x", b[i]);
    buf[k] = 0;
    cJSON_AddStringToObject(o, name, buf);
}

/* Does a server log line name the peer port (":P" followed by a blank or the end)? */
static int line_names_port(const char *text, unsigned port)
{
    char needle[16];
    int n = snprintf(needle, sizeof needle, ":%u", port);
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        if (p[n] == ' ' || p[n] == 0)
            return 1;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct ec__tl_item *x = a, *y = b;
    return x->t_us < y->t_us ? -1 : x->t_us > y->t_us;
}

struct ec__tl_item *ec__failure_timeline(const struct run *r, const struct pass *ps,
                                         const struct failure *f, int64_t srv_after_us,
                                         int foreign, size_t *n_out, size_t *n_client)
{
    const struct ec_timeline *tl = &ps->tl;
    size_t cap = tl->n + (r->have_srv ? r->srv.nlines : 0) + 1;
    struct ec__tl_item *it = calloc(cap, sizeof *it);
    if (!it)
        return NULL;
    size_t n = 0;
    unsigned port = 0;
    int64_t until = f->t_us + 50000, from = -1;
    for (size_t i = 0; i < tl->n; i++) {
        const struct ec_event *e = &tl->ev[i];
        if (strcmp(e->who, f->who) != 0 && strcmp(e->who, "engine") != 0)
            continue;
        if (e->t_us > until)
            break;
        if (strcmp(e->what, "connect") == 0 && sscanf(e->note, "local port %u", &port) != 1)
            port = 0;
        if (from < 0)
            from = e->t_us;
        it[n++] = (struct ec__tl_item){.t_us = e->t_us, .ev = e};
    }
    *n_client = n;
    for (size_t i = 0; r->have_srv && i < r->srv.nlines; i++) {
        const struct ec_srv_line *l = &r->srv.lines[i];
        int64_t t = l->t_us - tl->t0_ns / 1000;
        if (t < from || t > f->t_us + srv_after_us)
            continue;
        if ((foreign && r->foreign) || (!l->is_err && port && line_names_port(l->text, port)))
            it[n++] = (struct ec__tl_item){.t_us = t, .line = l};
    }
    qsort(it, n, sizeof *it, by_time);
    *n_out = n;
    return it;
}

/* The failing connection's events and the engine's, up to 50 ms after the failure,
 * and the server lines about its local port (the selection report.c prints), these
 * up to 2 s after the failure: what the server did with the connection once the
 * client gave up (accepted it only then, say) is part of the story. A server that is
 * not ours logs nothing we can attribute: then every line in that window is shown. */
static void add_timeline(cJSON *j, const struct run *r, const struct pass *ps,
                         const struct failure *f)
{
    size_t n, n_client;
    struct ec__tl_item *it = ec__failure_timeline(r, ps, f, 2000000, 1, &n, &n_client);
    if (!it)
        return;
    size_t first = n > EVIDENCE_TIMELINE_MAX ? n - EVIDENCE_TIMELINE_MAX : 0;
    cJSON *a = cJSON_AddArrayToObject(j, "timeline");
    for (size_t k = first; k < n; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "t_us", (double)it[k].t_us);
        if (it[k].ev) {
            const struct ec_event *ev = it[k].ev;
            cJSON_AddStringToObject(e, "lane", strcmp(ev->who, "engine") == 0 ? "engine" : "client");
            cJSON_AddStringToObject(e, "who", ev->who);
            cJSON_AddStringToObject(e, "what", ev->what);
            if (ev->size >= 0)
                cJSON_AddNumberToObject(e, "bytes", (double)ev->size);
            if (ev->err)
                cJSON_AddStringToObject(e, "error", ec_err_name(ev->err));
            if (ev->note[0])
                cJSON_AddStringToObject(e, "note", ev->note);
        } else {
            cJSON_AddStringToObject(e, "lane", "server");
            cJSON_AddStringToObject(e, "text", it[k].line->text);
        }
        cJSON_AddItemToArray(a, e);
    }
    if (first)
        cJSON_AddNumberToObject(j, "timeline_dropped", (double)first);
    cJSON_AddNumberToObject(j, "failure_t_us", (double)f->t_us);
    free(it);
}

void ec__json_evidence(cJSON *j, const struct run *r, const struct pass *fp,
                       const struct failure *f)
{
    const struct ec_replay_opts *o = r->o;
    cJSON_AddStringToObject(j, "fixture", o->fixture);
    if (o->target)
        cJSON_AddStringToObject(j, "target", o->target);
    else if (o->server)
        cJSON_AddStringToObject(j, "server", o->server);
    if (r->server_cmd[0])
        cJSON_AddStringToObject(j, "server_command", r->server_cmd);
    if (r->foreign)
        cJSON_AddBoolToObject(j, "foreign_server", 1);
    if (r->start_retries)
        cJSON_AddNumberToObject(j, "server_start_retries", r->start_retries);
    /* The command that runs the same plan with the same seed again. */
    char cmd[3000];
    char spec[48];
    const char *plan = fp ? ec_plan_override_spec(fp->ov, fp->split_at, spec, sizeof spec) : NULL;
    int k = snprintf(cmd, sizeof cmd, "echoconf replay --fixture %s %s '%s'", o->fixture,
                     o->target ? "--target" : "--server", o->target ? o->target : o->server);
    if (plan && k > 0 && (size_t)k < sizeof cmd)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --plan %s", plan);
    if (k > 0 && (size_t)k < sizeof cmd)
        snprintf(cmd + k, sizeof cmd - (size_t)k, " --seed %llu", (unsigned long long)r->seed);
    cJSON_AddStringToObject(j, "reproduce", cmd);
    if (f) {
        cJSON_AddStringToObject(j, "step_kind", f->st ? ec_step_name(f->st->kind) : "-");
        cJSON_AddNumberToObject(j, "failure_ms", (double)f->t_us / 1000.0);
        if (f->diff_off >= 0) {
            cJSON *h = cJSON_AddObjectToObject(j, "hex");
            cJSON_AddNumberToObject(h, "offset", (double)f->ctx_off);
            cJSON_AddNumberToObject(h, "first_difference", (double)f->diff_off);
            add_hex(h, "expected", f->exp, f->exp_n);
            add_hex(h, "actual", f->act, f->act_n);
        }
        add_timeline(j, r, fp, f);
    }
    if (r->server_diag[0] && r->have_srv)
        cJSON_AddStringToObject(j, "server_fate", r->server_diag);
    if (r->have_srv && r->srv.nlines) {
        cJSON *a = cJSON_AddArrayToObject(j, "log_tail");
        size_t from = r->srv.nlines > EVIDENCE_LOG_LINES ? r->srv.nlines - EVIDENCE_LOG_LINES : 0;
        for (size_t i = from; i < r->srv.nlines; i++) {
            char line[600];
            snprintf(line, sizeof line, "%s%s", r->srv.lines[i].is_err ? "stderr: " : "",
                     r->srv.lines[i].text);
            cJSON_AddItemToArray(a, cJSON_CreateString(line));
        }
        cJSON_AddNumberToObject(j, "log_lines", (double)r->srv.nlines);
    }
}
