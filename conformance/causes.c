/* causes.c - diagnoses that name a cause, not a symptom (issue 16). The engine picks a
 * pass's first failure by time; this file looks at the evidence the connections kept
 * (their byte histories, how and when the server ended each stream, whether anything
 * listened when a connect was refused) and names what the server did: reordered or
 * duplicated bytes, an idle timeout, a connect with nothing listening, an end never
 * sent after the client's FIN. The order of precedence is in conformance/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "evidence.h"

/* Did another connection of the pass send these bytes? */
static int others_sent(const struct pass *ps, const struct inst *me, const unsigned char *p,
                       size_t n)
{
    for (size_t i = 0; i < ps->ninst; i++) {
        const struct inst *o = &ps->insts[i];
        if (o != me && o->c.sent && o->c.sent_len >= n && memmem(o->c.sent, o->c.sent_len, p, n))
            return 1;
    }
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* When the first failure is a premature close, an unexpected reset or a capacity
 * limit, and the server had ended some connection of the pass before it after a
 * silence with nothing owed either way: the cause is the server's idle timeout, if
 * the median silence of all such ends of the pass is EC_IDLE_MIN_MS or more. A timer
 * ends every quiet connection late, while a server that closes right after an echo
 * ends most of them at once; single ends stray both ways on a loaded machine (a
 * server thread preempted between send() and close(): 104 ms once among 1,100 clients
 * of faulty-close-after-first-echo; an echo whose delivery waited for the softirq
 * while the FIN's did not: 128 ms once among 1,100 clients of a 200 ms timer, at load
 * averages of 100 to 150). MS is the first decile of the silences on the 1, 2, 5 x 10^k
 * scale (ec_round_125): a timer ends connections late, never early, and how late
 * grows with the server's rounds under load (1,100 clients at a load average of 150:
 * silences of 46 to 596 ms, median 304, once a median above 455), while the earliest
 * tenth stays at the timer and a rare early stray stays below the decile. */
static int idle_timeout(struct pass *ps, int64_t first_abs_us)
{
    long *ms = malloc(ps->ninst * sizeof *ms);
    size_t n = 0, before = 0;
    const struct inst *shown = NULL;
    for (size_t i = 0; ms && i < ps->ninst; i++) {
        const struct inst *in = &ps->insts[i];
        long q = ec_evidence_quiet_end_ms(&in->c);
        if (q < 0)
            continue;
        ms[n++] = q;
        if (in->c.end.arrived_us <= first_abs_us && !before++)
            shown = in;
    }
    long median = -1, decile = -1;
    if (n) {
        qsort(ms, n, sizeof *ms, cmp_long);
        median = ms[(n - 1) / 2];
        decile = ms[(n - 1) / 10];
    }
    long lo = n ? ms[0] : 0, hi = n ? ms[n - 1] : 0;
    free(ms);
    if (!shown || median < EC_IDLE_MIN_MS)
        return 0;
    snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_IDLE_TIMEOUT ":%ld",
             ec_round_125(decile));
    char one[320];
    ec_evidence_idle_text(&shown->c, ec_evidence_quiet_end_ms(&shown->c), one, sizeof one);
    snprintf(ps->evidence, sizeof ps->evidence,
             "%s. The server ended %zu connection%s so in this pass (%zu before the first "
             "failure), %ld to %ld ms after their last byte, median %ld ms, first decile %ld "
             "ms; MS is that decile on the 1, 2, 5 x 10^k scale (the largest step not above it "
             "plus 10%%): a timer fires late, never early",
             one, n, n == 1 ? "" : "s", before, lo, hi, median, decile);
    return 1;
}

/* ---- the refinement ------------------------------------------------------------------- */

void ec__refine_diagnosis(struct pass *ps, const struct inst *fi)
{
    ps->evidence[0] = 0;
    if (!fi || !ps->first)
        return;
    const struct failure *f = ps->first;
    const char *dg = ps->diagnosis;

    /* An echo compared with our own bytes: a reorder (exactly those bytes) or a
     * repeat (of our own earlier bytes) says what the server did with them. */
    if (f->echo_own && f->diff_off >= 0 &&
        (strcmp(dg, EC_DIAG_ECHO_MISMATCH) == 0 || strcmp(dg, EC_DIAG_CROSS_TALK) == 0)) {
        size_t d = (size_t)f->diff_off;
        const unsigned char *probe;
        size_t n;
        if (ec_evidence_reordered(&fi->c, d, f->echo_base + f->echo_want, ps->evidence,
                                  sizeof ps->evidence)) {
            snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_REORDERED);
            return;
        }
        if (strcmp(dg, EC_DIAG_ECHO_MISMATCH) == 0 &&
            ec_evidence_duplicated(&fi->c, d, ps->evidence, sizeof ps->evidence, &probe, &n) &&
            !others_sent(ps, fi, probe, n)) {
            snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_DUPLICATED);
            return;
        }
        ps->evidence[0] = 0;
    }

    /* Nothing listening is not a capacity limit: when some client of the group was
     * refused while no socket listened (the first to fail may instead be one the
     * kernel had queued, reset as the listener closed). */
    const struct inst *refused = f->not_listening ? fi : NULL;
    for (size_t i = 0; !refused && i < ps->ninst; i++)
        if (ps->insts[i].g == fi->g && ps->insts[i].f.set && ps->insts[i].f.not_listening)
            refused = &ps->insts[i];
    if (strncmp(dg, EC_DIAG_CAPACITY, strlen(EC_DIAG_CAPACITY)) == 0 && refused) {
        snprintf(ps->diagnosis, sizeof ps->diagnosis, EC_DIAG_CONNECT_FAILED);
        snprintf(ps->evidence, sizeof ps->evidence,
                 "%s: the connect was refused while no socket listened on the port (the "
                 "kernel's listening sockets, asked at that moment, had none on it): the "
                 "server was not listening, so this is not a limit of how many clients it holds",
                 refused->c.label);
        return;
    }

    if (strcmp(dg, EC_DIAG_PREMATURE_CLOSE) == 0 || strcmp(dg, EC_DIAG_UNEXPECTED_RESET) == 0 ||
        strncmp(dg, EC_DIAG_CAPACITY, strlen(EC_DIAG_CAPACITY)) == 0)
        idle_timeout(ps, ps->tl.t0_ns / 1000 + f->t_us);
}

/* ---- no-close-after-eof ------------------------------------------------------------ */

int ec__no_close_after_eof(const struct ec_conn *c, int waited_ms, char *actual, size_t len)
{
    if (!c->wr_shut || c->eof || c->err || c->recvd_len != c->sent_len)
        return 0;
    snprintf(actual, len,
             "all %zu bytes came back after our half-close, then no FIN and no reset for %d ms: "
             "the connection stayed open",
             c->sent_len, waited_ms);
    return 1;
}

/* ---- the requirement's level ---------------------------------------------------------- */

static int diag_in(const char *seen, char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(list[i]);
        if (strcmp(seen, list[i]) == 0 ||
            (!strchr(list[i], ':') && strncmp(seen, list[i], k) == 0 && seen[k] == ':'))
            return 1;
    }
    return 0;
}

enum ec_verdict ec__grade_requirement(struct run *r, enum ec_verdict v)
{
    r->should_missed = 0;
    if (!r->fx.should || v != EC_V_FAIL || r->server_diag[0] || !r->diagnosis[0] ||
        !diag_in(r->diagnosis, r->fx.should_diagnoses, r->fx.nshould_diagnoses))
        return v;
    r->should_missed = 1;
    return EC_V_PASS_NONSTRICT;
}
