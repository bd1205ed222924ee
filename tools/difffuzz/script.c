/* script.c - generator, renderer and reductions of `echoconf fuzz` scripts (see
 * script.h for what is generated and why each rendered script is well-formed).
 */
#include "script.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fill sends at most this much; the echo that takes its bytes gets FILL_ECHO_MS (the
 * default 2000 ms is too short for megabytes: under Wine, at a load average near 100,
 * a win32 model echoed 4 MB at 0.6 MB/s, so a fill's echo ran out of the deadline with
 * the server still sending). */
#define FILL_MAX     (8 << 20)
#define FILL_ECHO_MS 10000

/* splitmix64 (Steele, Lea, Flood 2014): a seedable, well-mixed 64-bit generator. */
static uint64_t next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned pick(uint64_t *st, unsigned n)
{
    return (unsigned)(next(st) % n);
}

/* Payload sizes from 0 B to 256 KiB, most of them small. */
static size_t gen_size(uint64_t *st)
{
    unsigned b = pick(st, 100);
    if (b < 8)
        return 0;
    if (b < 40)
        return 1 + pick(st, 64);
    if (b < 70)
        return 65 + pick(st, 4096 - 64);
    if (b < 90)
        return 4097 + pick(st, 65536 - 4096);
    return 65537 + pick(st, EC_FZ_MAX_PAYLOAD - 65536);
}

/* Payload sizes of the shaped scripts: small first (most below 4 KiB, so most scripts
 * run in milliseconds), a tenth up to 256 KiB. Most are above the servers' default
 * recv buffer (1 KiB), so that one send is more than one recv. */
static size_t gen_size_shaped(uint64_t *st)
{
    unsigned b = pick(st, 100);
    if (b < 15)
        return 1 + pick(st, 64);
    if (b < 60)
        return 65 + pick(st, 4096 - 64);
    if (b < 90)
        return 4097 + pick(st, 32768 - 4096);
    return 32769 + pick(st, EC_FZ_MAX_PAYLOAD - 32768);
}

/* A send of size bytes ((size_t)-1: drawn by gen_size) by a drawn write plan. */
static void gen_send(uint64_t *st, struct ec_fz_act *a, size_t size)
{
    memset(a, 0, sizeof *a);
    a->kind = FZ_SEND;
    a->size = size == (size_t)-1 ? gen_size(st) : size;
    a->pseed = (uint32_t)next(st);
    unsigned p = pick(st, 100);
    a->plan = p < 30 ? FZP_ASIS
              : p < 45 ? FZP_CHUNKS
              : p < 55 ? FZP_BYTEWISE
              : p < 75 ? FZP_RANDOM
              : p < 90 ? FZP_SPLIT
                       : FZP_COALESCE;
    if (a->plan == FZP_BYTEWISE && a->size > 512)
        a->plan = FZP_RANDOM; /* byte by byte stays short: one syscall per byte */
    a->gap_ms = 0;
    if ((a->plan == FZP_CHUNKS || a->plan == FZP_SPLIT ||
         (a->plan == FZP_BYTEWISE && a->size <= 32)) &&
        pick(st, 5) == 0)
        a->gap_ms = 1 + (int)pick(st, 10);
}

/* Pause lengths: mostly short; one in twelve outlasts 200 ms (an idle client that owes
 * nothing and is owed nothing must still be served: RFC 862 sets no idle limit). */
static int gen_pause(uint64_t *st)
{
    unsigned b = pick(st, 12);
    if (b == 0)
        return 220 + (int)pick(st, 200);
    return pick(st, 4) ? (int)pick(st, 30) : (int)pick(st, 150);
}

static struct ec_fz_act *add_act(struct ec_fz_conn *c, enum ec_fz_act_kind k)
{
    struct ec_fz_act *a = &c->acts[c->nacts++];
    memset(a, 0, sizeof *a);
    a->kind = k;
    a->n = -1;
    return a;
}

static void add_send(uint64_t *st, struct ec_fz_conn *c, size_t size)
{
    gen_send(st, &c->acts[c->nacts++], size);
}

/* An end that waits for the owed echo: half-close (then the server's FIN) or close. */
static enum ec_fz_end gen_polite_end(uint64_t *st)
{
    return pick(st, 2) ? FZE_HALF_CLOSE : FZE_CLOSE;
}

static void gen_free(uint64_t *st, struct ec_fz_script *s);

static void gen_shaped(uint64_t *st, int shape, struct ec_fz_script *s)
{
    struct ec_fz_conn *c0 = &s->conns[0], *c1 = &s->conns[1];
    switch (shape) {
    case FZS_HALF_CLOSE:
        /* bytes (one send, two, or after a stop of reading), then the half-close while
         * their echo is owed: the server owes all of it, then its FIN */
        s->nconns = pick(st, 5) ? 1 : 2;
        s->sequential = s->nconns > 1;
        for (int i = 0; i < s->nconns; i++) {
            struct ec_fz_conn *c = &s->conns[i];
            if (pick(st, 8) == 0)
                add_act(c, FZ_STOP_READING);
            add_send(st, c, gen_size_shaped(st));
            if (pick(st, 4) == 0)
                add_send(st, c, gen_size_shaped(st));
            c->end = FZE_HALF_CLOSE;
        }
        break;
    case FZS_ROUNDS: {
        /* request, echo; request, echo; ... on one connection */
        s->nconns = 1;
        int rounds = 2 + (int)pick(st, 2);
        for (int r = 0; r < rounds; r++) {
            add_send(st, c0, pick(st, 3) ? 1 + pick(st, 2048) : gen_size_shaped(st));
            struct ec_fz_act *e = add_act(c0, FZ_EXPECT);
            if (pick(st, 5) == 0)
                e->n = 1 + (long long)pick(st, 64);
        }
        c0->end = gen_polite_end(st);
        break;
    }
    case FZS_RESET_NEXT: {
        /* a client resets (with nothing, some bytes, or a full pipe of echo pending) or
         * closes with the echo coming; the next client must be served */
        s->nconns = pick(st, 4) ? 2 : 3;
        s->sequential = 1;
        unsigned v = pick(st, 4);
        if (v == 1 || v == 3)
            add_send(st, c0, gen_size_shaped(st));
        else if (v == 2)
            add_act(c0, FZ_FILL);
        c0->end = v == 3 ? FZE_CLOSE_NOW : FZE_ABORT;
        for (int i = 1; i < s->nconns; i++) {
            add_send(st, &s->conns[i], 1 + pick(st, 1024));
            add_act(&s->conns[i], FZ_EXPECT);
            s->conns[i].end = gen_polite_end(st);
        }
        break;
    }
    case FZS_HALF_ABORT:
        /* bytes, half-close, reset at once; the next client must be served */
        s->nconns = 2;
        s->sequential = 1;
        if (pick(st, 2))
            add_act(c0, FZ_STOP_READING);
        add_send(st, c0, 4096 + pick(st, EC_FZ_MAX_PAYLOAD - 4096));
        c0->end = FZE_HALF_ABORT;
        add_send(st, c1, 1 + pick(st, 1024));
        add_act(c1, FZ_EXPECT);
        c1->end = gen_polite_end(st);
        break;
    case FZS_SLOW_READER:
        /* a client that does not read while it sends: the server's sends come up
         * short, and what is left must follow in order */
        s->nconns = 1;
        if (pick(st, 10) < 7) {
            add_act(c0, FZ_FILL);
        } else {
            add_act(c0, FZ_STOP_READING);
            add_send(st, c0, 4096 + pick(st, EC_FZ_UNREAD_MAX - 4096));
            add_act(c0, FZ_PAUSE)->ms = (int)pick(st, 100);
        }
        add_act(c0, FZ_EXPECT);
        c0->end = gen_polite_end(st);
        break;
    case FZS_HOL:
        /* a slow reader fills its pipe and holds it full while a fast client is
         * served: a one-thread server must not block in its send */
        s->nconns = 2;
        add_act(c0, FZ_FILL);
        add_act(c0, FZ_SYNC);
        add_act(c0, FZ_SYNC);
        c0->end = FZE_CLOSE_NOW;
        add_act(c1, FZ_SYNC);
        add_send(st, c1, 1 + pick(st, 4096));
        add_act(c1, FZ_EXPECT);
        add_act(c1, FZ_SYNC);
        c1->end = FZE_CLOSE;
        break;
    case FZS_CONCURRENT:
        /* a client served and held open; others arrive late and must be served
         * meanwhile; all meet at the end */
        s->nconns = pick(st, 4) ? 2 : 3;
        for (int i = 0; i < s->nconns; i++) {
            struct ec_fz_conn *c = &s->conns[i];
            c->late = i > 0;
            add_send(st, c, pick(st, 2) ? 1 + pick(st, 256) : gen_size_shaped(st));
            add_act(c, FZ_EXPECT);
            add_act(c, FZ_SYNC);
            c->end = gen_polite_end(st);
        }
        break;
    case FZS_FRAMED: {
        /* len32 frames sent in pieces (split, chunks, random, byte by byte) or corked */
        s->nconns = 1;
        s->framed = 1;
        int k = 1 + (int)pick(st, 3);
        for (int i = 0; i < k; i++) {
            size_t sz = 1 + (pick(st, 3) ? pick(st, 4096) : pick(st, 65536));
            add_send(st, c0, sz);
        }
        add_act(c0, FZ_EXPECT);
        c0->end = gen_polite_end(st);
        break;
    }
    case FZS_IDLE:
        /* a round, a quiet pause, a round */
        s->nconns = 1;
        add_send(st, c0, 1 + pick(st, 512));
        add_act(c0, FZ_EXPECT);
        add_act(c0, FZ_PAUSE)->ms = 220 + (int)pick(st, 200);
        add_send(st, c0, 1 + pick(st, 512));
        add_act(c0, FZ_EXPECT);
        c0->end = gen_polite_end(st);
        break;
    case FZS_CHURN: {
        /* three or four clients at once meet; then some leave (closing, resetting,
         * half-closing) while others send: every one still present must be served */
        s->nconns = 3 + (int)pick(st, 2);
        for (int i = 0; i < s->nconns; i++) {
            struct ec_fz_conn *c = &s->conns[i];
            if (pick(st, 2)) {
                add_send(st, c, 1 + pick(st, 256));
                add_act(c, FZ_EXPECT);
            }
            add_act(c, FZ_SYNC);
            if (pick(st, 2)) {
                add_send(st, c, 1 + pick(st, 2048));
                add_act(c, FZ_EXPECT);
            }
            unsigned e = pick(st, 4);
            c->end = e == 0 ? FZE_HALF_CLOSE : e == 1 ? FZE_CLOSE : e == 2 ? FZE_CLOSE_NOW : FZE_ABORT;
        }
        break;
    }
    default:
        gen_free(st, s);
        break;
    }
}

const char *ec_fz_shape_name(int shape)
{
    static const char *const n[EC_FZ_NSHAPES] = {
        "half-close", "rounds", "reset-next", "half-close-abort", "slow-reader",
        "head-of-line", "concurrent", "framed", "idle", "churn", "free"};
    return shape >= 0 && shape < EC_FZ_NSHAPES ? n[shape] : "?";
}

static void gen_free(uint64_t *st, struct ec_fz_script *s)
{
    unsigned n = pick(st, 100);
    s->nconns = n < 40 ? 1 : n < 70 ? 2 : n < 90 ? 3 : 4 + (int)pick(st, 5);
    s->sequential = s->nconns > 1 && pick(st, 3) == 0;
    s->framed = pick(st, 5) == 0;
    int together = s->nconns > 1 && !s->sequential;
    /* Half the scripts with connections at once hold every connection open until the
     * others are done (a last sync): a server that serves one at a time shows then. */
    int hold = together && pick(st, 2) == 0;
    for (int i = 0; i < s->nconns; i++) {
        struct ec_fz_conn *c = &s->conns[i];
        unsigned e = pick(st, 100);
        c->end = e < 40   ? FZE_HALF_CLOSE
                 : e < 70 ? FZE_CLOSE
                 : e < 80 ? FZE_CLOSE_NOW
                 : e < 93 ? FZE_ABORT
                          : FZE_HALF_ABORT;
        c->late = together && i > 0 && pick(st, 2) == 0;
        if (pick(st, 10) == 0)
            continue; /* connect and close (or reset) at once */
        c->nacts = 1 + (int)pick(st, 6);
        for (int k = 0; k < c->nacts; k++) {
            struct ec_fz_act *a = &c->acts[k];
            /* Weights in percent: send, expect, fill, sync (only for connections open
             * at once), pause, stop reading, resume reading. */
            unsigned w = pick(st, 100);
            unsigned ws = 40, we = 20, wf = together ? 10 : 2, wy = together ? 14 : 0, wp = 8,
                     wst = 6;
            if (s->framed)
                wf = 0;
            if (w < ws) {
                gen_send(st, a, (size_t)-1);
                /* a frame holds 1 B .. 64 KiB (the servers' default len32 limit,
                 * EC_FRAMING_DEFAULT_MAX) */
                if (s->framed && (a->size == 0 || a->size > 65536))
                    a->size = 1 + a->size % 65536;
            } else if (w < ws + we) {
                a->kind = FZ_EXPECT;
                a->n = pick(st, 2) ? -1 : 1 + (long long)pick(st, 8192);
            } else if (w < ws + we + wf) {
                a->kind = FZ_FILL;
            } else if (w < ws + we + wf + wy) {
                a->kind = FZ_SYNC;
            } else if (w < ws + we + wf + wy + wp) {
                a->kind = FZ_PAUSE;
                a->ms = gen_pause(st);
            } else if (w < ws + we + wf + wy + wp + wst) {
                a->kind = FZ_STOP_READING;
            } else {
                a->kind = FZ_RESUME_READING;
            }
        }
    }
    for (int i = 0; hold && i < s->nconns; i++) {
        struct ec_fz_conn *c = &s->conns[i];
        if (c->nacts < EC_FZ_MAX_ACTS)
            c->acts[c->nacts++].kind = FZ_SYNC;
    }
}

void ec_fz_generate(uint64_t seed, int shape, struct ec_fz_script *s)
{
    uint64_t st = seed;
    memset(s, 0, sizeof *s);
    s->seed = seed;
    if (shape < 0 || shape >= EC_FZ_NSHAPES)
        shape = (int)pick(&st, EC_FZ_NSHAPES);
    s->shape = shape;
    gen_shaped(&st, shape, s);
}

int ec_fz_needs_concurrency(const struct ec_fz_script *s)
{
    return s->nconns > 1 && !s->sequential;
}

static cJSON *step(cJSON *steps, const char *kind, int *count)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "step", kind);
    cJSON_AddItemToArray(steps, j);
    (*count)++;
    return j;
}

static void render_send(cJSON *st, const struct ec_fz_act *a, int framed)
{
    cJSON *d = cJSON_AddObjectToObject(st, "data");
    if (framed)
        d = cJSON_AddObjectToObject(d, "frame");
    cJSON_AddStringToObject(d, "pattern", "seeded");
    cJSON_AddNumberToObject(d, "size", (double)a->size);
    cJSON_AddNumberToObject(d, "seed", (double)a->pseed);
    if (a->plan == FZP_ASIS && !a->gap_ms)
        return;
    cJSON *p = cJSON_AddObjectToObject(st, "plan");
    uint64_t ps = a->pseed ^ 0x5bd1e995u;
    switch (a->plan) {
    case FZP_ASIS:
        cJSON_AddStringToObject(p, "kind", "as-is");
        break;
    case FZP_CHUNKS: {
        cJSON_AddStringToObject(p, "kind", "chunks");
        cJSON *ch = cJSON_AddArrayToObject(p, "chunks");
        int k = 1 + (int)pick(&ps, 4);
        for (int i = 0; i < k; i++)
            cJSON_AddItemToArray(ch,
                                 cJSON_CreateNumber((double)(1 + pick(&ps, a->size > 1 ? (unsigned)a->size : 1))));
        break;
    }
    case FZP_BYTEWISE:
        cJSON_AddStringToObject(p, "kind", "bytewise");
        break;
    case FZP_RANDOM:
        cJSON_AddStringToObject(p, "kind", "random");
        cJSON_AddNumberToObject(p, "seed", (double)(ps & 0xffffff));
        /* at most about 2048 send() calls */
        cJSON_AddNumberToObject(p, "max_chunk", (double)(a->size / 1024 + 1 + pick(&ps, 4096)));
        break;
    case FZP_SPLIT:
        cJSON_AddStringToObject(p, "kind", "split");
        cJSON_AddNumberToObject(p, "split_at", (double)(1 + pick(&ps, a->size > 1 ? (unsigned)a->size : 1)));
        break;
    case FZP_COALESCE:
        cJSON_AddStringToObject(p, "kind", "coalesce");
        break;
    }
    if (a->gap_ms)
        cJSON_AddNumberToObject(p, "gap_ms", a->gap_ms);
    cJSON_AddBoolToObject(p, "fixed", 1);
}

char *ec_fz_render(const struct ec_fz_script *s, const char *name, const char *requirement,
                   const char *comment, int *nsteps)
{
    int count = 0;
    long long bytes = 0, waits = 0, fills = 0;
    cJSON *fx = cJSON_CreateObject();
    cJSON_AddStringToObject(fx, "name", name);
    cJSON_AddStringToObject(fx, "requirement", requirement);
    cJSON *tags = cJSON_AddArrayToObject(fx, "tags");
    cJSON_AddItemToArray(tags, cJSON_CreateString("fuzz"));
    if (s->framed)
        cJSON_AddStringToObject(fx, "framing", "len32");
    cJSON_AddBoolToObject(fx, "sweep", 0);
    cJSON *budget = cJSON_AddNumberToObject(fx, "budget_ms", 0);
    if (comment)
        cJSON_AddStringToObject(fx, "comment", comment);
    cJSON *conns = cJSON_AddArrayToObject(fx, "connections");
    int any_late = 0;
    for (int i = 0; i < s->nconns; i++)
        any_late |= s->conns[i].late && !s->sequential;
    for (int i = 0; i < s->nconns; i++) {
        const struct ec_fz_conn *c = &s->conns[i];
        cJSON *cj = cJSON_CreateObject();
        char cn[16], bn[24];
        snprintf(cn, sizeof cn, "c%d", i);
        cJSON_AddStringToObject(cj, "name", cn);
        cJSON *steps = cJSON_AddArrayToObject(cj, "steps");
        if (s->sequential && i > 0) {
            snprintf(bn, sizeof bn, "seq-%d", i);
            cJSON_AddStringToObject(step(steps, "barrier", &count), "name", bn);
        }
        /* Late connections pass the barrier "late" before they connect; the others
         * once the server logged their accept (after_server, the engine's server
         * synchronisation: no race with the server's accept loop), after their first
         * echo or fill, or before their first sync or their end. Every connection meets "late" before
         * any "sync-k" and sync-k before sync-k+1, so no two wait for each other. */
        int nsync = 0, late_pending = 0;
        if (any_late && c->late)
            cJSON_AddStringToObject(step(steps, "barrier", &count), "name", "late");
        else
            late_pending = any_late;
#define LATE_NOW()                                                                                 \
    do {                                                                                           \
        if (late_pending) {                                                                        \
            cJSON *lb = step(steps, "barrier", &count);                                            \
            cJSON_AddStringToObject(lb, "name", "late");                                           \
            cJSON_AddStringToObject(lb, "after_server", "accept");                                 \
        }                                                                                          \
        late_pending = 0;                                                                          \
    } while (0)
        step(steps, "connect", &count);
        long long sent = 0, got = 0;
        int reading = 1, filled = 0;
        int fill_owed = 0; /* a fill's echo is still owed */
        for (int k = 0; k < c->nacts; k++) {
            const struct ec_fz_act *a = &c->acts[k];
            switch (a->kind) {
            case FZ_SEND:
                if (!reading && (filled || sent - got + (long long)a->size > EC_FZ_UNREAD_MAX)) {
                    step(steps, "resume_reading", &count);
                    reading = 1;
                    filled = 0;
                }
                render_send(step(steps, "send", &count), a, s->framed);
                sent += (long long)a->size;
                bytes += (long long)a->size;
                if (a->gap_ms)
                    waits += (long long)a->gap_ms * (a->plan == FZP_BYTEWISE ? (long long)a->size : 5);
                break;
            case FZ_EXPECT: {
                long long owed = sent - got;
                if (owed == 0)
                    break;
                cJSON *e = step(steps, "expect", &count);
                if (fill_owed)
                    cJSON_AddNumberToObject(e, "deadline_ms", FILL_ECHO_MS);
                if (a->n < 0 || a->n >= owed) {
                    cJSON_AddBoolToObject(e, "echo", 1);
                    got = sent;
                    fill_owed = 0;
                } else {
                    cJSON_AddNumberToObject(e, "echo", (double)a->n);
                    got += a->n;
                }
                LATE_NOW();
                break;
            }
            case FZ_PAUSE:
                cJSON_AddNumberToObject(step(steps, "pause", &count), "ms", a->ms);
                waits += a->ms;
                break;
            case FZ_STOP_READING:
                if (reading)
                    step(steps, "stop_reading", &count);
                reading = 0;
                break;
            case FZ_RESUME_READING:
                if (!reading)
                    step(steps, "resume_reading", &count);
                reading = 1;
                filled = 0;
                break;
            case FZ_SYNC:
                if (s->sequential)
                    break; /* one after another: nobody to meet */
                LATE_NOW();
                snprintf(bn, sizeof bn, "sync-%d", nsync++);
                cJSON_AddStringToObject(step(steps, "barrier", &count), "name", bn);
                break;
            case FZ_FILL: {
                if (s->framed)
                    break; /* fill's bytes are no frames */
                if (reading)
                    step(steps, "stop_reading", &count);
                reading = 0;
                cJSON *fl = step(steps, "fill", &count);
                cJSON_AddNumberToObject(fl, "max", FILL_MAX);
                cJSON_AddNumberToObject(fl, "settle_ms", 150);
                cJSON_AddNumberToObject(fl, "deadline_ms", 6000);
                filled = 1;
                fill_owed = 1;
                fills++;
                LATE_NOW(); /* the server has this one's bytes to echo now */
                /* The filled bytes (at least one) are owed too: the next "echo": true
                 * takes them all. */
                sent += 1;
                break;
            }
            }
        }
        LATE_NOW();
#undef LATE_NOW
        switch (c->end) {
        case FZE_HALF_CLOSE:
            step(steps, "shutdown_wr", &count);
            if (sent > got) {
                cJSON *e = step(steps, "expect", &count);
                if (fill_owed)
                    cJSON_AddNumberToObject(e, "deadline_ms", FILL_ECHO_MS);
                cJSON_AddBoolToObject(e, "echo", 1);
            }
            step(steps, "expect_eof", &count);
            break;
        /* A close as the last step is left to the engine, which closes what a script
         * left open, in order, as soon as it ends. */
        case FZE_CLOSE:
            if (sent > got) {
                cJSON *e = step(steps, "expect", &count);
                if (fill_owed)
                    cJSON_AddNumberToObject(e, "deadline_ms", FILL_ECHO_MS);
                cJSON_AddBoolToObject(e, "echo", 1);
            }
            if (s->sequential && i + 1 < s->nconns)
                step(steps, "close", &count);
            break;
        /* A close with the echo still coming, and a reset, act once the server has
         * received every byte sent (after_server "recv"): the server then always has
         * an echo to send into the closed connection, whatever the scheduler does.
         * Not after a fill whose echo is still owed: the server, its echo refused,
         * stops reading, and would never have received everything. */
        case FZE_CLOSE_NOW:
            if ((s->sequential && i + 1 < s->nconns) || (sent > got && !fill_owed)) {
                cJSON *cs = step(steps, "close", &count);
                if (sent > got && !fill_owed)
                    cJSON_AddStringToObject(cs, "after_server", "recv");
            }
            break;
        /* Half-close, then reset at once: no wait for the server, whose echo of the
         * bytes (those it has not read yet too) may still be going out when the reset
         * arrives. */
        case FZE_HALF_ABORT:
            step(steps, "shutdown_wr", &count);
            step(steps, "abort", &count);
            break;
        case FZE_ABORT: {
            cJSON *ab = step(steps, "abort", &count);
            if (sent > got && !fill_owed)
                cJSON_AddStringToObject(ab, "after_server", "recv");
            break;
        }
        }
        if (s->sequential && i + 1 < s->nconns) {
            snprintf(bn, sizeof bn, "seq-%d", i + 1);
            cJSON_AddStringToObject(step(steps, "barrier", &count), "name", bn);
        }
        cJSON_AddItemToArray(conns, cj);
    }
    /* Room to move the bytes on a loaded machine (1 ms per 20 KB, twice over for the
     * echo), the pauses, and 2 s per connection for the rest. */
    cJSON_SetNumberValue(budget, (double)(5000 + 2000LL * s->nconns + bytes / 10000 + 2 * waits +
                                          (FILL_ECHO_MS + 8000) * fills));
    char *txt = cJSON_Print(fx);
    cJSON_Delete(fx);
    if (nsteps)
        *nsteps = count;
    return txt;
}

static const char *plan_name(enum ec_fz_plan p)
{
    static const char *const n[] = {"as-is", "chunks", "bytewise", "random", "split", "coalesce"};
    return n[p];
}

const char *ec_fz_describe(const struct ec_fz_script *s, char *buf, size_t len)
{
    size_t o = 0;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (o < len)                                                                               \
            o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__);                                  \
    } while (0)
    OUT("[%s] %d conn%s%s%s:", ec_fz_shape_name(s->shape), s->nconns, s->nconns == 1 ? "" : "s",
        s->nconns > 1 ? (s->sequential ? " one after another" : " at once") : "",
        s->framed ? ", len32 frames" : "");
    for (int i = 0; i < s->nconns; i++) {
        const struct ec_fz_conn *c = &s->conns[i];
        OUT("%s c%d%s", i ? ";" : "", i, c->late && !s->sequential ? " (late)" : "");
        for (int k = 0; k < c->nacts; k++) {
            const struct ec_fz_act *a = &c->acts[k];
            switch (a->kind) {
            case FZ_SEND:
                OUT(" send %zu/%s", a->size, plan_name(a->plan));
                break;
            case FZ_EXPECT:
                if (a->n < 0)
                    OUT(" expect");
                else
                    OUT(" expect %lld", a->n);
                break;
            case FZ_PAUSE:
                OUT(" pause %d", a->ms);
                break;
            case FZ_STOP_READING:
                OUT(" stop-reading");
                break;
            case FZ_RESUME_READING:
                OUT(" resume-reading");
                break;
            case FZ_SYNC:
                OUT(" sync");
                break;
            case FZ_FILL:
                OUT(" fill");
                break;
            }
        }
        static const char *const ends[] = {"half-close", "close", "close-now", "abort",
                                           "half-close+abort"};
        OUT(" %s", ends[c->end]);
    }
#undef OUT
    return buf;
}

int ec_fz_reduce(const struct ec_fz_script *s, int i, struct ec_fz_script *out)
{
    *out = *s;
    /* 1. drop a connection */
    if (s->nconns > 1) {
        if (i < s->nconns) {
            memmove(&out->conns[i], &out->conns[i + 1],
                    (size_t)(s->nconns - i - 1) * sizeof out->conns[0]);
            out->nconns--;
            return 1;
        }
        i -= s->nconns;
    }
    /* 2. drop the first or the second half of a connection's actions (delta
     * debugging's halves: a long connection shrinks in a few steps) */
    for (int c = 0; c < s->nconns; c++) {
        int n = s->conns[c].nacts, h = n / 2;
        if (i < 2) {
            if (n < 2)
                return 1; /* equal to s: skipped */
            struct ec_fz_conn *oc = &out->conns[c];
            if (i == 0)
                memmove(&oc->acts[0], &oc->acts[h], (size_t)(n - h) * sizeof oc->acts[0]);
            oc->nacts = n - h;
            return 1;
        }
        i -= 2;
    }
    /* 3. drop all actions of a connection; connect at once */
    if (i < s->nconns) {
        out->conns[i].nacts = 0;
        return 1;
    }
    i -= s->nconns;
    if (i < s->nconns) {
        out->conns[i].late = 0;
        return 1;
    }
    i -= s->nconns;
    /* 4. drop one action */
    for (int c = 0; c < s->nconns; c++) {
        if (i < s->conns[c].nacts) {
            struct ec_fz_conn *oc = &out->conns[c];
            memmove(&oc->acts[i], &oc->acts[i + 1], (size_t)(oc->nacts - i - 1) * sizeof oc->acts[0]);
            oc->nacts--;
            return 1;
        }
        i -= s->conns[c].nacts;
    }
    /* 5. smaller payloads, plainer sends, shorter pauses: 5 candidates per action */
    for (int c = 0; c < s->nconns; c++) {
        if (i < 5 * s->conns[c].nacts) {
            struct ec_fz_act *a = &out->conns[c].acts[i / 5];
            int what = i % 5;
            if (a->kind == FZ_SEND) {
                if (what == 0 && a->size > 1)
                    a->size = 1;
                else if (what == 1 && a->size > 2)
                    a->size = a->size / 8 ? a->size / 8 : 1;
                else if (what == 2 && a->size > 2)
                    a->size /= 2;
                else if (what == 3)
                    a->plan = FZP_ASIS;
                else if (what == 4)
                    a->gap_ms = 0;
            } else if (a->kind == FZ_PAUSE && what == 0) {
                a->ms = 0;
            } else if (a->kind == FZ_EXPECT && what == 0) {
                a->n = -1;
            }
            return 1;
        }
        i -= 5 * s->conns[c].nacts;
    }
    /* 6. plainer ends, by rank only (fewer steps first: close at once, close after
     * the echo, reset, half-close, half-close then reset), so that no two candidates
     * undo each other and the shrinker cannot cycle */
    static const int rank[] = {[FZE_CLOSE_NOW] = 0, [FZE_CLOSE] = 1, [FZE_ABORT] = 2,
                               [FZE_HALF_CLOSE] = 3, [FZE_HALF_ABORT] = 4};
    static const enum ec_fz_end plainer[] = {FZE_CLOSE_NOW, FZE_CLOSE, FZE_ABORT};
    for (int c = 0; c < s->nconns; c++) {
        if (i < 3) {
            if (rank[plainer[i]] < rank[s->conns[c].end])
                out->conns[c].end = plainer[i];
            return 1;
        }
        i -= 3;
    }
    /* 7. one after another instead of at once; raw instead of framed */
    if (i == 0) {
        out->sequential = 1;
        return 1;
    }
    if (i == 1) {
        out->framed = 0;
        return 1;
    }
    return 0;
}

uint64_t ec_fz_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}
