/* report.c - what a replay prints: the verdict with its paths, and for a non-pass the
 * one diagnosis with Requirement / Expected / Actual, the first differing offset in
 * hex, the timeline, the server log tail and the fd/CPU figures; plus the same result
 * as a JSON object (--json) that `echoconf matrix` reads back.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ec_sock.h"
#include "engine_internal.h"
#include "steps.h"

#define TIMELINE_LINES 40
#define LOG_LINES      15

/* The delivery of a pass's separating plans: "server-synchronised", "timed" (some or
 * all pieces were timed), or "as written" (no plan of the pass had separate pieces
 * following one another). */
static const char *pass_delivery(const struct pass *ps)
{
    if (ps->n_timed || (ps->pace_fails && ps->n_sync))
        return "timed";
    return ps->n_sync ? "server-synchronised" : "as written";
}

static void hexdump(const char *tag, const unsigned char *b, size_t n, long long off,
                    long long mark)
{
    if (n == 0) {
        printf("  %-9s (nothing: the stream ended or stalled here)\n", tag);
        return;
    }
    for (size_t i = 0; i < n; i += 16) {
        printf("  %-9s %08llx ", i ? "" : tag, (unsigned long long)(off + (long long)i));
        for (size_t j = 0; j < 16; j++) {
            if (i + j < n) {
                long long at = off + (long long)(i + j);
                printf("%c%02x", at == mark ? '>' : ' ', b[i + j]);
            } else {
                printf("   ");
            }
        }
        printf("  |");
        for (size_t j = 0; j < 16 && i + j < n; j++)
            putchar(isprint(b[i + j]) ? b[i + j] : '.');
        printf("|\n");
    }
}

static void print_event(const struct ec_event *e)
{
    printf("  +%9.3f ms  %-12s %-14s", (double)e->t_us / 1000.0, e->who, e->what);
    if (e->size >= 0)
        printf(" %lld B", e->size);
    if (e->err)
        printf(" error=%s", ec_err_name(e->err));
    if (e->note[0])
        printf("  (%s)", e->note);
    putchar('\n');
}

static void print_timeline(const struct run *r, const struct pass *ps, const struct failure *f)
{
    const struct ec_timeline *tl = &ps->tl;
    if (r->o->verbose || !f) {
        printf("Timeline (%zu events%s):\n", tl->n, tl->dropped ? ", later ones dropped" : "");
        for (size_t i = 0; i < tl->n; i++)
            print_event(&tl->ev[i]);
        return;
    }
    /* Both sides of the failing connection up to a little after the failure: its own
     * events and the engine's, and the server's log lines about its port (the local
     * port of its last connect), on one clock. */
    size_t n, client;
    struct ec__tl_item *it = ec__failure_timeline(r, ps, f, 50000, 0, &n, &client);
    if (!it)
        return;
    size_t first = n > TIMELINE_LINES ? n - TIMELINE_LINES : 0;
    printf("Timeline of %s (%zu events, %zu server lines about its port%s; server times are "
           "when the engine read the line; --verbose shows every connection):\n",
           f->who, client, n - client, n > TIMELINE_LINES ? ", the last 40 lines" : "");
    for (size_t k = first; k < n; k++) {
        if (it[k].ev)
            print_event(it[k].ev);
        else
            printf("  +%9.3f ms  %-12s %s\n", (double)it[k].t_us / 1000.0, "server",
                   it[k].line->text);
    }
    free(it);
}

static void print_log_tail(const struct run *r)
{
    if (!r->have_srv) {
        printf("Server log: not available (--target)\n");
        return;
    }
    size_t n = r->srv.nlines;
    size_t from = n > LOG_LINES ? n - LOG_LINES : 0;
    printf("Server log (%zu lines%s):\n", n, n > LOG_LINES ? ", the last 15" : "");
    for (size_t i = from; i < n; i++)
        printf("  %s%s\n", r->srv.lines[i].is_err ? "stderr: " : "", r->srv.lines[i].text);
}

/* "delivery: server-synchronised (bytewise, random seed=1, split@1..17)": how the
 * pieces of separating plans met the server in each pass, grouped by delivery. */
static void print_delivery(const struct run *r)
{
    static const char *const kinds[] = {"server-synchronised", "timed"};
    for (int k = 0; k < 2; k++) {
        int any = 0;
        for (size_t i = 0; i < r->passes_run; i++) {
            const struct pass *ps = &r->passes[i];
            if (strcmp(pass_delivery(ps), kinds[k]) != 0)
                continue;
            printf("%s %s", any ? "," : "delivery:", ps->plan_name);
            if (ps->pace_fails)
                printf(" (%d waits for the server's recv timed out)", ps->pace_fails);
            any = 1;
        }
        if (any)
            printf(" -> %s%s\n", kinds[k],
                   k == 0 ? " (each piece sent once the server logged the ones before)"
                          : " (TCP_NODELAY and a gap: separate recvs are likely, not certain)");
    }
    int unsynced = 0;
    for (size_t i = 0; i < r->passes_run; i++)
        unsynced += r->passes[i].unsynced_waits;
    if (unsynced)
        printf("delivery: %d after_server waits not synchronised (no server log: --target or "
               "--quiet)\n",
               unsynced);
}

static const char *path_text(enum ec_verdict v)
{
    return ec_verdict_name(v);
}

static void reproduce_hint(const struct run *r, const struct pass *ps)
{
    const struct ec_replay_opts *o = r->o;
    char plan[48];
    ec_plan_override_spec(ps->ov, ps->split_at, plan, sizeof plan);
    printf("Plan: %s (reproduce: echoconf replay --fixture %s %s '%s' --plan %s --seed %llu)\n",
           ps->plan_name, o->fixture, o->target ? "--target" : "--server",
           o->target ? o->target : o->server, plan, (unsigned long long)r->seed);
}

static void write_json(const struct run *r, const struct pass *fp, const struct failure *f)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "case", r->fx.name);
    cJSON_AddStringToObject(j, "model", r->o->model ? r->o->model : "");
    cJSON_AddStringToObject(j, "verdict", ec_verdict_name(r->final));
    cJSON_AddStringToObject(j, "raw_verdict", ec_verdict_name(r->raw));
    cJSON_AddStringToObject(j, "diagnosis", r->diagnosis);
    if (r->evidence[0])
        cJSON_AddStringToObject(j, "evidence", r->evidence);
    if (r->should_missed)
        cJSON_AddStringToObject(j, "requirement_level", "SHOULD (missed: PASS-NONSTRICT)");
    cJSON_AddStringToObject(j, "requirement", r->fx.requirement ? r->fx.requirement : "");
    if (r->npasses && r->passes_run) {
        enum ec_verdict d = EC_V_NOT_RUN, c = EC_V_NOT_RUN, s = EC_V_NOT_RUN;
        for (size_t i = 0; i < r->passes_run; i++) {
            d = ec__worst(d, r->passes[i].v[EC_PATH_DATA]);
            c = ec__worst(c, r->passes[i].v[EC_PATH_CLOSE]);
            s = ec__worst(s, r->passes[i].v[EC_PATH_SERVER]);
        }
        cJSON_AddStringToObject(j, "data_path", ec_verdict_name(d));
        cJSON_AddStringToObject(j, "close_path", ec_verdict_name(c));
        cJSON_AddStringToObject(j, "observations", ec_verdict_name(s));
    }
    cJSON_AddStringToObject(j, "server_log", ec_verdict_name(r->log_v));
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "passes", (double)r->passes_run);
    if (fp) {
        cJSON_AddStringToObject(j, "plan", fp->plan_name);
        cJSON_AddStringToObject(j, "delivery", pass_delivery(fp));
    }
    /* Which delivery each pass used: "server-synchronised" (each piece of a
     * separating plan once the server logged the previous ones), "timed" (TCP_NODELAY
     * and a gap: --target, --quiet, or the server did not log in time), "as written". */
    cJSON *pl = cJSON_AddArrayToObject(j, "pass_delivery");
    for (size_t i = 0; pl && i < r->passes_run; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "plan", r->passes[i].plan_name);
        cJSON_AddStringToObject(o, "delivery", pass_delivery(&r->passes[i]));
        if (r->passes[i].pace_fails)
            cJSON_AddNumberToObject(o, "pace_timeouts", r->passes[i].pace_fails);
        if (r->passes[i].unsynced_waits)
            cJSON_AddNumberToObject(o, "unsynchronised_waits", r->passes[i].unsynced_waits);
        cJSON_AddItemToArray(pl, o);
    }
    if (f) {
        cJSON_AddStringToObject(j, "expected", f->expected);
        cJSON_AddStringToObject(j, "actual", f->actual);
        cJSON_AddStringToObject(j, "connection", f->who);
        if (f->st)
            cJSON_AddStringToObject(j, "step", f->st->path);
        if (f->diff_off >= 0)
            cJSON_AddNumberToObject(j, "first_difference", (double)f->diff_off);
    }
    if (r->dev) {
        cJSON_AddStringToObject(j, "declared_diagnosis", r->dev->diagnosis);
        cJSON_AddStringToObject(j, "reason", r->dev->reason);
    }
    if (r->may) {
        cJSON_AddStringToObject(j, "may_diagnosis", r->may->diagnosis);
        cJSON_AddStringToObject(j, "reason", r->may->reason);
    }
    if (r->unsupported_reason[0])
        cJSON_AddStringToObject(j, "reason", r->unsupported_reason);
    if (r->harness_error[0])
        cJSON_AddStringToObject(j, "error", r->harness_error);
    ec__json_evidence(j, r, fp, f);
    cJSON_AddNumberToObject(j, "duration_ms", (double)(ec_clock_ms() - r->start_ms));
    char *txt = cJSON_Print(j);
    FILE *out = fopen(r->o->json_out, "w");
    if (out && txt) {
        fputs(txt, out);
        fputc('\n', out);
    }
    if (out)
        fclose(out);
    else
        fprintf(stderr, "echoconf: cannot write %s\n", r->o->json_out);
    free(txt);
    cJSON_Delete(j);
}

void ec__report_error(const struct ec_replay_opts *o, const char *why)
{
    if (!o->json_out)
        return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model ? o->model : "");
    cJSON_AddStringToObject(j, "verdict", "ERROR");
    cJSON_AddStringToObject(j, "error", why);
    char *txt = cJSON_Print(j);
    FILE *out = fopen(o->json_out, "w");
    if (out && txt)
        fprintf(out, "%s\n", txt);
    if (out)
        fclose(out);
    free(txt);
    cJSON_Delete(j);
}

void ec__report(struct run *r)
{
    const struct ec_replay_opts *o = r->o;
    printf("echoconf replay: case %s, %s %s\n", r->fx.name, o->model ? "model" : "server",
           o->model ? o->model : (o->target ? o->target : o->server));
    if (r->server_cmd[0])
        printf("server: %s (pid %d, %s:%u)\n", r->server_cmd, (int)r->srv.pid, r->host, r->port);
    else if (o->target)
        printf("target: %s (not started by echoconf: log and process expectations are not "
               "checked)\n",
               o->target);
    printf("requirement: %s\n", r->fx.requirement);
    if (ec_scale_ms(1000) != 1000)
        printf("deadlines: x%.2f (ECHOCONF_TIMEOUT_MULTIPLIER or --timeout-multiplier%s)\n",
               (double)ec_scale_ms(1000) / 1000.0, r->under_wine ? ", and x3 for Wine" : "");

    if (r->final == EC_V_UNSUPPORTED) {
        printf("verdict: UNSUPPORTED (%s)\n", r->unsupported_reason);
        if (o->json_out)
            write_json(r, NULL, NULL);
        return;
    }
    if (r->harness_error[0] && !r->passes_run) {
        printf("verdict: ERROR (%s)\n", r->harness_error);
        print_log_tail(r);
        if (o->json_out)
            write_json(r, NULL, NULL);
        return;
    }

    /* The passes of the sweep. */
    printf("plans (%zu of %zu run, seed %llu):", r->passes_run, r->npasses,
           (unsigned long long)r->seed);
    for (size_t i = 0; i < r->passes_run; i++)
        printf(" %s%s%s", r->passes[i].plan_name, r->passes[i].verdict == EC_V_PASS ? "" : "=",
               r->passes[i].verdict == EC_V_PASS ? "" : ec_verdict_name(r->passes[i].verdict));
    printf("\n");
    print_delivery(r);

    const struct pass *fp = r->any_failure ? &r->passes[r->failed_pass] : NULL;
    const struct failure *f = fp ? fp->first : NULL;
    enum ec_verdict d = EC_V_NOT_RUN, c = EC_V_NOT_RUN, s = EC_V_NOT_RUN;
    for (size_t i = 0; i < r->passes_run; i++) {
        d = ec__worst(d, r->passes[i].v[EC_PATH_DATA]);
        c = ec__worst(c, r->passes[i].v[EC_PATH_CLOSE]);
        s = ec__worst(s, r->passes[i].v[EC_PATH_SERVER]);
    }
    printf("verdict: %s%s%s\n", ec_verdict_name(r->final), r->diagnosis[0] ? "  diagnosis: " : "",
           r->diagnosis);
    printf("  data path:    %s\n", path_text(d));
    printf("  close path:   %s\n", path_text(c));
    printf("  observations: %s\n", s == EC_V_NOT_RUN ? "none" : path_text(s));
    if (r->have_srv) {
        printf("  server:       %s", r->server_diag[0] ? "FAIL" : "PASS");
        if (r->server_diag[0])
            printf(" (%s)", r->server_diag);
        else if (r->srv.exited && WIFSIGNALED(r->srv.status))
            printf(" (ran until stopped; ended by signal %d)", WTERMSIG(r->srv.status));
        else if (r->srv.exited)
            printf(" (ran until stopped; exit status %d)", WEXITSTATUS(r->srv.status));
    } else {
        printf("  server:       not checked (--target)");
    }
    printf("\n  server log:   %s%s\n",
           r->log_v == EC_V_NOT_RUN ? "no expectations" : path_text(r->log_v),
           r->foreign && r->log_v == EC_V_NOT_CHECKED ? " (a {port} server does not write "
                                                        "echoconf's log)" : "");
    for (size_t i = 0; i < r->passes_run; i++)
        for (size_t k = 0; k < r->passes[i].nobs; k++)
            if (r->o->verbose || fp == &r->passes[i])
                printf("  observation %s (%s): fds %d, cpu %lld ms, rss %lld KiB\n",
                       r->passes[i].obs[k].name, r->passes[i].plan_name, r->passes[i].obs[k].fds,
                       r->passes[i].obs[k].cpu_ms, r->passes[i].obs[k].rss_kib);
    if (r->server_note[0])
        printf("  note: %s\n", r->server_note);
    if (r->dev)
        printf("profile %s: declared %s: %s\n", r->profile_file, r->dev->diagnosis, r->dev->reason);
    if (r->may)
        printf("profile %s: may-entry (a pass or exactly %s; anything else fails): %s\n",
               r->profile_file, r->may->diagnosis, r->may->reason);
    if (r->final == EC_V_XPASS)
        printf("XPASS: the declared deviation did not happen: remove it from the profile or "
               "find out why it no longer shows\n");
    if (r->harness_error[0])
        printf("error: %s\n", r->harness_error);

    int nonpass = (r->raw != EC_V_PASS && r->raw != EC_V_PASS_NONSTRICT) || r->should_missed;
    if (r->should_missed)
        printf("the requirement is a SHOULD (RFC 2119), and %s is one of the failures that only "
               "miss it: PASS-NONSTRICT\n",
               r->diagnosis);
    if (nonpass) {
        printf("--- diagnosis: %s\n", r->diagnosis[0] ? r->diagnosis : "(none)");
        printf("Requirement: %s\n", r->fx.requirement);
        if (r->server_diag[0] && r->have_srv) {
            int st = r->srv.status;
            printf("Expected: the server runs until echoconf stops it\n");
            if (WIFSIGNALED(st))
                printf("Actual: it died by signal %d (%s)%s\n", WTERMSIG(st),
                       strsignal(WTERMSIG(st)),
                       r->abort_seen ? " after a client reset its connection" : "");
            else
                printf("Actual: it exited with status %d%s\n", WEXITSTATUS(st),
                       r->abort_seen ? " after a client reset its connection" : "");
        }
        if (f) {
            if (r->server_diag[0])
                printf("Clients then saw: %s (expected %s)\n", f->actual, f->expected);
            else {
                printf("Expected: %s\n", f->expected);
                printf("Actual: %s\n", f->actual);
            }
            if (r->evidence[0])
                printf("Evidence: %s\n", r->evidence);
            printf("Where: %s, step %s (%s), %.3f ms into the pass\n", f->who,
                   f->st ? f->st->path : "-", f->st ? ec_step_name(f->st->kind) : "-",
                   (double)f->t_us / 1000.0);
            reproduce_hint(r, fp);
            if (f->diff_off >= 0) {
                printf("First difference at stream offset %lld:\n", f->diff_off);
                hexdump("expected", f->exp, f->exp_n, f->ctx_off, f->diff_off);
                hexdump("actual", f->act, f->act_n, f->ctx_off, f->diff_off);
            }
            print_timeline(r, fp, f);
        } else if (r->log_v == EC_V_FAIL && r->log_failed) {
            const struct ec_logexp *le = &r->fx.log[r->log_failed - 1];
            printf("Expected: a server log line matching /%s/ (%s), after the lines matched "
                   "before it\n",
                   le->src, le->path);
            printf("Actual: no such line\n");
        }
        print_log_tail(r);
    } else if (o->verbose && r->passes_run) {
        print_timeline(r, &r->passes[0], NULL);
        print_log_tail(r);
    }
    if (o->json_out)
        write_json(r, fp, f);
}
