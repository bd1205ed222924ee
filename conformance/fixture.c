/* fixture.c - strict loader of fixture files (cJSON for the document, PCRE2 for the
 * regular expressions). Every object is checked against the fields its kind allows,
 * so a typo is an error with the file, the JSON path and the reason, never a field
 * silently ignored; the format itself is documented in fixtures/README.md.
 */
#include "fixture.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec_sock.h"

/* The loader's state: where we are and what went wrong first. */
struct ld {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
};

static int fail(struct ld *l, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(struct ld *l, const char *path, const char *fmt, ...)
{
    if (l->failed)
        return -1;
    l->failed = 1;
    int o = snprintf(l->err, l->errlen, "%s: %s: ", l->file, path);
    if (o < 0 || (size_t)o >= l->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err + o, l->errlen - (size_t)o, fmt, ap);
    va_end(ap);
    return -1;
}

/* The loader's columns of the step table (EC_STEP_KINDS in fixture.h). */
#define EC_STEP_PARSE_DECL(kind, name, path, fields, parse, run)                                   \
    static int parse(struct ld *l, const cJSON *v, const char *p, struct ec_step *st);
EC_STEP_KINDS(EC_STEP_PARSE_DECL)
#undef EC_STEP_PARSE_DECL

static const struct step_kind {
    const char *name;
    enum ec_path path;
    const char *fields; /* blank-separated, besides the common ones */
    int (*parse)(struct ld *l, const cJSON *v, const char *path, struct ec_step *st);
} step_kinds[EC_ST_COUNT] = {
#define EC_STEP_ROW(kind, name, path, fields, parse, run)                                          \
    [EC_ST_##kind] = {name, EC_PATH_##path, fields, parse},
    EC_STEP_KINDS(EC_STEP_ROW)
#undef EC_STEP_ROW
};

const char *ec_step_name(enum ec_step_kind k)
{
    return (unsigned)k < EC_ST_COUNT ? step_kinds[k].name : "?";
}

enum ec_path ec_step_path(enum ec_step_kind k)
{
    return (unsigned)k < EC_ST_COUNT ? step_kinds[k].path : EC_PATH_DATA;
}

/* ---- field checks ---------------------------------------------------------------- */

/* Fails on any member of obj not in the NULL-terminated allowed list. */
static int check_fields(struct ld *l, const cJSON *obj, const char *path,
                        const char *const *allowed)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, it->string) == 0)
                ok = 1;
        if (!ok) {
            char p[EC_PATH_MAX + 40];
            snprintf(p, sizeof p, "%s.%s", path, it->string);
            return fail(l, p, "unknown field \"%s\"", it->string);
        }
    }
    return 0;
}

/* Marks a JSON path cut short by its buffer with a trailing "..." so a message never
 * names a shorter, different path. */
static void mark_truncated(char *out, size_t len, int n)
{
    if (n >= 0 && (size_t)n >= len && len > 4)
        memcpy(out + len - 4, "...", 4);
}

static void sub(char *out, size_t len, const char *path, const char *field)
{
    mark_truncated(out, len, snprintf(out, len, "%s.%s", path, field));
}

static void idx(char *out, size_t len, const char *path, int i)
{
    mark_truncated(out, len, snprintf(out, len, "%s[%d]", path, i));
}

/* Reads an integer member in [lo, hi]; absent leaves *out as is. */
static int get_int(struct ld *l, const cJSON *obj, const char *path, const char *field,
                   long long lo, long long hi, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v)
        return 0;
    char p[EC_PATH_MAX + 40];
    sub(p, sizeof p, path, field);
    if (!cJSON_IsNumber(v))
        return fail(l, p, "must be an integer");
    /* Range first, as a double: converting one outside long long's range (1e99) to
     * long long is undefined behaviour (C11 6.3.1.4; found by fuzz-fixture), and so
     * is 2^63, which (double)LLONG_MAX rounds up to. */
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi && d < 9223372036854775808.0))
        return fail(l, p, "%.17g is out of range %lld..%lld", d, lo, hi);
    if (d != (double)(long long)d)
        return fail(l, p, "must be an integer");
    *out = (long long)d;
    return 0;
}

static int get_intv(struct ld *l, const cJSON *obj, const char *path, const char *field,
                    long long lo, long long hi, int *out)
{
    long long x = *out;
    if (get_int(l, obj, path, field, lo, hi, &x) < 0)
        return -1;
    *out = (int)x;
    return 0;
}

static int get_bool(struct ld *l, const cJSON *obj, const char *path, const char *field, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v)
        return 0;
    char p[EC_PATH_MAX + 40];
    sub(p, sizeof p, path, field);
    if (!cJSON_IsBool(v))
        return fail(l, p, "must be true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_str(struct ld *l, const cJSON *obj, const char *path, const char *field, char *out,
                   size_t outlen, int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    char p[EC_PATH_MAX + 40];
    sub(p, sizeof p, path, field);
    if (!v)
        return required ? fail(l, p, "missing (required)") : 0;
    if (!cJSON_IsString(v))
        return fail(l, p, "must be a string");
    if (strlen(v->valuestring) >= outlen)
        return fail(l, p, "longer than %zu characters", outlen - 1);
    strcpy(out, v->valuestring);
    return 0;
}

static int get_diagnosis(struct ld *l, const cJSON *obj, const char *path, const char *field,
                         char *out, size_t outlen)
{
    if (get_str(l, obj, path, field, out, outlen, 0) < 0)
        return -1;
    if (*out && !ec_diagnosis_known(out)) {
        char p[EC_PATH_MAX + 40];
        sub(p, sizeof p, path, field);
        return fail(l, p, "\"%s\" is not a diagnosis of the vocabulary (fixtures/README.md)", out);
    }
    return 0;
}

static int compile_re(struct ld *l, const char *src, const char *path, pcre2_code **out)
{
    int code;
    PCRE2_SIZE off;
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fail(l, path, "bad regular expression at offset %zu: %s", (size_t)off,
                    (const char *)msg);
    }
    return 0;
}

/* ---- payloads --------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A {"file": NAME, "offset": O, "size": N} payload: N bytes (default: the rest) from
 * offset O (default 0) of NAME, a path relative to the fixture's directory (echoconf
 * record writes large payloads there). The bytes are read at load time. */
static int load_file_payload(struct ld *l, const cJSON *fil, const char *fpath,
                             long long offset, long long size, struct ec_payload *pl)
{
    if (!cJSON_IsString(fil) || !*fil->valuestring)
        return fail(l, fpath, "must be a file name (relative to the fixture's directory)");
    const char *name = fil->valuestring;
    if (name[0] == '/')
        return fail(l, fpath, "\"%s\": must be relative to the fixture's directory", name);
    char full[4096];
    const char *slash = strrchr(l->file, '/');
    int dirlen = slash ? (int)(slash - l->file) : 1;
    if (snprintf(full, sizeof full, "%.*s/%s", dirlen, slash ? l->file : ".", name) >=
        (int)sizeof full)
        return fail(l, fpath, "path too long");
    FILE *f = fopen(full, "rb");
    if (!f)
        return fail(l, fpath, "cannot open %s: %s", full, strerror(errno));
    long long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        fsize = ftell(f);
    if (offset < 0)
        offset = 0;
    if (fsize < 0 || offset > fsize) {
        fclose(f);
        return fail(l, fpath, "%s: offset %lld is beyond its %lld bytes", full, offset, fsize);
    }
    if (size < 0)
        size = fsize - offset;
    if (offset + size > fsize) {
        fclose(f);
        return fail(l, fpath, "%s: %lld bytes from offset %lld run past its %lld bytes", full,
                    size, offset, fsize);
    }
    pl->kind = EC_PL_BYTES;
    pl->len = (size_t)size;
    pl->bytes = malloc(pl->len + 1);
    if (!pl->bytes || fseek(f, (long)offset, SEEK_SET) != 0 ||
        fread(pl->bytes, 1, pl->len, f) != pl->len) {
        fclose(f);
        return fail(l, fpath, "%s: cannot read %lld bytes at offset %lld", full, size, offset);
    }
    fclose(f);
    return 0;
}

static int parse_payload(struct ld *l, const cJSON *v, const char *path, struct ec_payload *pl)
{
    memset(pl, 0, sizeof *pl);
    char p[EC_PATH_MAX + 40];
    if (cJSON_IsString(v)) {
        pl->kind = EC_PL_BYTES;
        pl->len = strlen(v->valuestring);
        pl->bytes = malloc(pl->len + 1);
        if (!pl->bytes)
            return fail(l, path, "out of memory");
        memcpy(pl->bytes, v->valuestring, pl->len + 1);
        return 0;
    }
    if (!cJSON_IsObject(v))
        return fail(l, path,
                    "a payload is a string or an object with text, hex, repeat, "
                    "pattern, file or frame");
    static const char *const fields[] = {"text",         "hex",     "repeat", "pattern",
                                         "size",         "seed",    "frame",  "file",
                                         "offset",       "per_instance", "comment", NULL};
    if (check_fields(l, v, path, fields) < 0)
        return -1;
    const cJSON *frame = cJSON_GetObjectItemCaseSensitive(v, "frame");
    if (frame) {
        sub(p, sizeof p, path, "frame");
        if (cJSON_GetArraySize(v) != 1 + (cJSON_GetObjectItemCaseSensitive(v, "comment") ? 1 : 0))
            return fail(l, path, "\"frame\" wraps one payload and takes no other field");
        if (parse_payload(l, frame, p, pl) < 0)
            return -1;
        if (pl->frame)
            return fail(l, p, "a frame cannot contain a frame");
        pl->frame = 1;
        return 0;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(v, "text");
    const cJSON *hex = cJSON_GetObjectItemCaseSensitive(v, "hex");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(v, "repeat");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(v, "pattern");
    const cJSON *fil = cJSON_GetObjectItemCaseSensitive(v, "file");
    int kinds = !!text + !!hex + !!rep + !!pat + !!fil;
    if (kinds != 1)
        return fail(l, path,
                    "a payload needs exactly one of text, hex, repeat, pattern, file, frame");
    long long size = -1, seed = 1, offset = -1;
    if (get_int(l, v, path, "size", 0, 64ll << 20, &size) < 0 ||
        get_int(l, v, path, "offset", 0, 1ll << 40, &offset) < 0 ||
        get_int(l, v, path, "seed", 0, 0x7fffffffffffffffll, &seed) < 0 ||
        get_bool(l, v, path, "per_instance", &pl->per_instance) < 0)
        return -1;
    if (text) {
        sub(p, sizeof p, path, "text");
        if (!cJSON_IsString(text))
            return fail(l, p, "must be a string");
        pl->len = strlen(text->valuestring);
        pl->bytes = malloc(pl->len + 1);
        if (!pl->bytes)
            return fail(l, p, "out of memory");
        memcpy(pl->bytes, text->valuestring, pl->len + 1);
    } else if (hex) {
        sub(p, sizeof p, path, "hex");
        if (!cJSON_IsString(hex))
            return fail(l, p, "must be a string of hex digits");
        const char *s = hex->valuestring;
        pl->bytes = malloc(strlen(s) / 2 + 1);
        if (!pl->bytes)
            return fail(l, p, "out of memory");
        for (size_t i = 0; s[i];) {
            if (isspace((unsigned char)s[i])) {
                i++;
                continue;
            }
            int hi = hexval((unsigned char)s[i]);
            int lo = s[i + 1] ? hexval((unsigned char)s[i + 1]) : -1;
            if (hi < 0 || lo < 0)
                return fail(l, p, "not hex at character %zu (pairs of 0-9a-f, spaces allowed)", i);
            pl->bytes[pl->len++] = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
    } else if (rep) {
        sub(p, sizeof p, path, "repeat");
        if (!cJSON_IsString(rep) || !*rep->valuestring)
            return fail(l, p, "must be a non-empty string (the unit to repeat)");
        if (size < 0)
            return fail(l, path, "\"repeat\" needs \"size\" (total bytes)");
        pl->kind = EC_PL_REPEAT;
        pl->len = strlen(rep->valuestring);
        pl->bytes = malloc(pl->len + 1);
        if (!pl->bytes)
            return fail(l, p, "out of memory");
        memcpy(pl->bytes, rep->valuestring, pl->len + 1);
        pl->size = (size_t)size;
    } else if (fil) {
        sub(p, sizeof p, path, "file");
        if (load_file_payload(l, fil, p, offset, size, pl) < 0)
            return -1;
        return 0;
    } else {
        sub(p, sizeof p, path, "pattern");
        if (!cJSON_IsString(pat) || strcmp(pat->valuestring, "seeded") != 0)
            return fail(l, p, "the only pattern is \"seeded\"");
        if (size < 0)
            return fail(l, path, "\"pattern\" needs \"size\" (total bytes)");
        pl->kind = EC_PL_PATTERN;
        pl->size = (size_t)size;
        pl->seed = (uint64_t)seed;
    }
    if (!rep && !pat && size >= 0)
        return fail(l, path, "\"size\" belongs to repeat, pattern or file payloads");
    if (offset >= 0)
        return fail(l, path, "\"offset\" belongs to file payloads");
    return 0;
}

int ec_payload_build(const struct ec_payload *pl, const struct ec_framing *f, int inst,
                     unsigned char **out, size_t *len)
{
    size_t n = pl->kind == EC_PL_BYTES ? pl->len : pl->size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return -1;
    if (pl->kind == EC_PL_BYTES) {
        memcpy(b, pl->bytes, n);
    } else if (pl->kind == EC_PL_REPEAT) {
        for (size_t i = 0; i < n; i++)
            b[i] = pl->bytes[i % pl->len];
    } else {
        uint64_t seed = pl->seed + (pl->per_instance ? (uint64_t)inst * 7919u : 0);
        ec_pattern_fill(b, n, seed, 0);
    }
    if (pl->frame) {
        size_t cap = ec_frame_wire_len(f, n) + 16;
        unsigned char *w = malloc(cap);
        if (!w) {
            free(b);
            return -1;
        }
        ptrdiff_t k = ec_frame_encode(f, b, n, w, cap);
        free(b);
        if (k < 0) {
            free(w);
            return -1;
        }
        *out = w;
        *len = (size_t)k;
        return 0;
    }
    *out = b;
    *len = n;
    return 0;
}

static void payload_free(struct ec_payload *pl)
{
    free(pl->bytes);
    pl->bytes = NULL;
}

/* ---- write plans ------------------------------------------------------------------ */

static int parse_plan(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    struct ec_write_plan *p = &st->plan;
    memset(p, 0, sizeof *p);
    p->nodelay = -1;
    char kind[16] = "";
    char q[EC_PATH_MAX + 40];
    if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) >= sizeof kind)
            return fail(l, path, "unknown write plan \"%s\"", v->valuestring);
        strcpy(kind, v->valuestring);
    } else if (cJSON_IsObject(v)) {
        static const char *const fields[] = {"kind",   "chunks",  "seed",  "max_chunk", "split_at",
                                             "gap_ms", "nodelay", "fixed", "comment",   NULL};
        if (check_fields(l, v, path, fields) < 0 ||
            get_str(l, v, path, "kind", kind, sizeof kind, 1) < 0)
            return -1;
        long long seed = 1, maxc = 64, split = 1;
        int nd = -1;
        if (get_int(l, v, path, "seed", 0, 0x7fffffffffffffffll, &seed) < 0 ||
            get_int(l, v, path, "max_chunk", 1, 1 << 24, &maxc) < 0 ||
            get_int(l, v, path, "split_at", 1, 1 << 30, &split) < 0 ||
            get_intv(l, v, path, "gap_ms", 0, 10000, &p->gap_ms) < 0 ||
            get_bool(l, v, path, "fixed", &st->plan_fixed) < 0)
            return -1;
        const cJSON *ndv = cJSON_GetObjectItemCaseSensitive(v, "nodelay");
        if (ndv) {
            if (get_bool(l, v, path, "nodelay", &nd) < 0)
                return -1;
            p->nodelay = nd;
        }
        p->seed = (uint64_t)seed;
        p->max_chunk = (size_t)maxc;
        p->split_at = (size_t)split;
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(v, "chunks");
        if (ch) {
            sub(q, sizeof q, path, "chunks");
            if (strcmp(kind, "chunks") != 0)
                return fail(l, q, "\"chunks\" belongs to a plan of kind \"chunks\"");
            if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) < 1 ||
                cJSON_GetArraySize(ch) > EC_PLAN_MAX_CHUNKS)
                return fail(l, q, "must be an array of 1..%d chunk sizes", EC_PLAN_MAX_CHUNKS);
            int i = 0;
            const cJSON *c;
            cJSON_ArrayForEach(c, ch)
            {
                char r[EC_PATH_MAX + 48];
                idx(r, sizeof r, q, i++);
                if (!cJSON_IsNumber(c) || c->valuedouble < 1 ||
                    c->valuedouble != (double)(long long)c->valuedouble)
                    return fail(l, r, "a chunk size is an integer >= 1");
                p->chunks[p->nchunks++] = (size_t)c->valuedouble;
            }
        }
    } else {
        return fail(l, path, "a write plan is a string or an object with \"kind\"");
    }
    if (ec_plan_kind_parse(kind, &p->kind) < 0)
        return fail(l, path,
                    "unknown write plan kind \"%s\" (as-is, chunks, bytewise, random, "
                    "split, coalesce)",
                    kind);
    if (p->kind == EC_PLAN_CHUNKS && p->nchunks == 0)
        return fail(l, path, "a \"chunks\" plan needs \"chunks\": [sizes]");
    ec_plan_finish(p);
    return 0;
}

/* ---- steps ------------------------------------------------------------------------ */

static int parse_alts(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > EC_MAX_ALTS)
        return fail(l, path, "must be an array of 1..%d alternatives", EC_MAX_ALTS);
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, v)
    {
        char p[EC_PATH_MAX + 48];
        idx(p, sizeof p, path, i++);
        static const char *const fields[] = {"outcome", "grade", "then", "comment", NULL};
        if (!cJSON_IsObject(a))
            return fail(l, p, "an alternative is an object {outcome, grade, then}");
        if (check_fields(l, a, p, fields) < 0)
            return -1;
        char oc[16] = "", gr[20] = "pass-nonstrict", th[16] = "end";
        if (get_str(l, a, p, "outcome", oc, sizeof oc, 1) < 0 ||
            get_str(l, a, p, "grade", gr, sizeof gr, 0) < 0 ||
            get_str(l, a, p, "then", th, sizeof th, 0) < 0)
            return -1;
        struct ec_alt *alt = &st->alts[st->nalts++];
        static const char *const ocs[] = {"eof", "reset", "timeout", "data", "refused", "mismatch"};
        int found = -1;
        for (int k = 0; k < 6; k++)
            if (strcmp(oc, ocs[k]) == 0)
                found = k;
        char q[EC_PATH_MAX + 60];
        if (found < 0) {
            sub(q, sizeof q, p, "outcome");
            return fail(l, q,
                        "unknown outcome \"%s\" (eof, reset, timeout, data, refused, "
                        "mismatch)",
                        oc);
        }
        alt->outcome = (enum ec_outcome)found;
        if (strcmp(gr, "pass") == 0)
            alt->nonstrict = 0;
        else if (strcmp(gr, "pass-nonstrict") == 0)
            alt->nonstrict = 1;
        else {
            sub(q, sizeof q, p, "grade");
            return fail(l, q, "grade is \"pass\" or \"pass-nonstrict\"");
        }
        if (strcmp(th, "end") == 0)
            alt->end = 1;
        else if (strcmp(th, "continue") == 0)
            alt->end = 0;
        else {
            sub(q, sizeof q, p, "then");
            return fail(l, q, "then is \"end\" or \"continue\"");
        }
    }
    return 0;
}

const char *ec_after_name(enum ec_after a)
{
    static const char *const n[] = {"", "accept", "recv", "send", "echo", "close"};
    return (unsigned)a < sizeof n / sizeof n[0] ? n[a] : "?";
}

/* "after_server": "recv" or {"event": "send", "bytes": 4096}: the server log event the
 * step waits for on its connection before it acts. */
static int parse_after(struct ld *l, const cJSON *step, const char *path, struct ec_step *st)
{
    st->after = EC_AFTER_NONE;
    st->after_bytes = -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(step, "after_server");
    if (!v)
        return 0;
    char p[EC_PATH_MAX + 40];
    sub(p, sizeof p, path, "after_server");
    const char *name = NULL;
    if (cJSON_IsString(v)) {
        name = v->valuestring;
    } else if (cJSON_IsObject(v)) {
        static const char *const fields[] = {"event", "bytes", "comment", NULL};
        if (check_fields(l, v, p, fields) < 0)
            return -1;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "event");
        if (!cJSON_IsString(e)) {
            char q[EC_PATH_MAX + 60];
            sub(q, sizeof q, p, "event");
            return fail(l, q, "missing (accept, recv, send, echo or close)");
        }
        name = e->valuestring;
        if (get_int(l, v, p, "bytes", 1, (long long)1 << 40, &st->after_bytes) < 0)
            return -1;
    } else {
        return fail(l, p,
                    "must be an event name (accept, recv, send, echo, close) or "
                    "{\"event\": ..., \"bytes\": N}");
    }
    for (int a = EC_AFTER_ACCEPT; a <= EC_AFTER_CLOSE; a++)
        if (strcmp(name, ec_after_name((enum ec_after)a)) == 0)
            st->after = (enum ec_after)a;
    if (st->after == EC_AFTER_NONE)
        return fail(l, p, "unknown server event \"%s\" (accept, recv, send, echo, close)", name);
    if (st->after_bytes >= 0 && st->after != EC_AFTER_RECV && st->after != EC_AFTER_SEND)
        return fail(l, p, "\"bytes\" goes with recv or send only");
    if (st->kind == EC_ST_CONNECT)
        return fail(l, p, "a connect step has no connection to wait on yet");
    return 0;
}

/* True when name is one of the blank-separated words. */
static int word_in(const char *words, const char *name)
{
    size_t n = strlen(name);
    for (const char *w = words; *w;) {
        size_t k = strcspn(w, " ");
        if (k == n && strncmp(w, name, n) == 0)
            return 1;
        w += k;
        w += strspn(w, " ");
    }
    return 0;
}

/* Fails on a member of the step object that neither every step nor this kind takes. */
static int check_step_fields(struct ld *l, const cJSON *v, const char *path, const char *fields)
{
    static const char common[] = "step comment deadline_ms diagnosis alternatives after_server";
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!word_in(common, it->string) && !word_in(fields, it->string)) {
            char p[EC_PATH_MAX + 40];
            sub(p, sizeof p, path, it->string);
            return fail(l, p, "unknown field \"%s\"", it->string);
        }
    }
    return 0;
}

/* A step: "step" names its kind in the table, the common fields are read here, the
 * kind's own by its parse function. */
static int parse_step(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    memset(st, 0, sizeof *st);
    mark_truncated(st->path, sizeof st->path, snprintf(st->path, sizeof st->path, "%s", path));
    st->max_fd_growth = -1;
    st->max_cpu_percent = -1;
    st->max_rss_growth_kib = -1;
    st->echo_n = -1;
    st->compare = 1;
    st->plan.kind = EC_PLAN_ASIS;
    st->plan.nodelay = -1;
    if (!cJSON_IsObject(v))
        return fail(l, path, "a step is an object with \"step\"");
    char name[32];
    if (get_str(l, v, path, "step", name, sizeof name, 1) < 0)
        return -1;
    int k = -1;
    for (int i = 0; i < EC_ST_COUNT; i++)
        if (strcmp(step_kinds[i].name, name) == 0)
            k = i;
    char p[EC_PATH_MAX + 40];
    if (k < 0) {
        sub(p, sizeof p, path, "step");
        return fail(l, p, "unknown step \"%s\"", name);
    }
    st->kind = (enum ec_step_kind)k;
    if (check_step_fields(l, v, path, step_kinds[k].fields) < 0)
        return -1;
    if (get_intv(l, v, path, "deadline_ms", 1, 600000, &st->deadline_ms) < 0 ||
        get_diagnosis(l, v, path, "diagnosis", st->diagnosis, sizeof st->diagnosis) < 0)
        return -1;
    if (parse_after(l, v, path, st) < 0)
        return -1;
    const cJSON *alts = cJSON_GetObjectItemCaseSensitive(v, "alternatives");
    if (alts) {
        sub(p, sizeof p, path, "alternatives");
        if (parse_alts(l, alts, p, st) < 0)
            return -1;
    }
    return step_kinds[k].parse(l, v, path, st);
}

/* ---- the kinds' own fields (the parse column of EC_STEP_KINDS) --------------------- */

/* connect, expect_eof, expect_reset, shutdown_wr, close, abort, stop_reading,
 * resume_reading, handoff: no field of their own. */
static int parse_nothing(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    (void)l, (void)v, (void)path, (void)st;
    return 0;
}

static int parse_quiet(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    return get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms);
}

/* One payload at path, into the step's payloads (round_trips, send's "data"). */
static int parse_one_payload(struct ld *l, const cJSON *d, const char *path, struct ec_step *st)
{
    st->payloads = calloc(1, sizeof *st->payloads);
    if (!st->payloads)
        return fail(l, path, "out of memory");
    st->npayloads = 1;
    return parse_payload(l, d, path, &st->payloads[0]);
}

static int parse_send(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    char p[EC_PATH_MAX + 40];
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(v, "payloads");
    if (!!d == !!ps)
        return fail(l, path, "send needs exactly one of \"data\" or \"payloads\"");
    if (d) {
        sub(p, sizeof p, path, "data");
        if (parse_one_payload(l, d, p, st) < 0)
            return -1;
    } else {
        sub(p, sizeof p, path, "payloads");
        int n = cJSON_GetArraySize(ps);
        if (!cJSON_IsArray(ps) || n < 1 || n > 256)
            return fail(l, p, "must be an array of 1..256 payloads");
        st->payloads = calloc((size_t)n, sizeof *st->payloads);
        if (!st->payloads)
            return fail(l, p, "out of memory");
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ps)
        {
            char q[EC_PATH_MAX + 48];
            idx(q, sizeof q, p, i);
            st->npayloads = (size_t)i + 1;
            if (parse_payload(l, e, q, &st->payloads[i++]) < 0)
                return -1;
        }
    }
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(v, "plan");
    if (plan) {
        sub(p, sizeof p, path, "plan");
        if (parse_plan(l, plan, p, st) < 0)
            return -1;
    }
    if (get_intv(l, v, path, "for_ms", 1, 60000, &st->for_ms) < 0 ||
        get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms) < 0)
        return -1;
    if (st->quiet_ms && st->for_ms)
        return fail(l, path, "quiet_ms ends a send the kernel refuses; for_ms repeats one: not both");
    return 0;
}

static int parse_fill(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    long long max = 1 << 20, seed = 3;
    st->settle_ms = 100;
    if (get_int(l, v, path, "max", 1, 256ll << 20, &max) < 0 ||
        get_int(l, v, path, "seed", 0, 0x7fffffffffffffffll, &seed) < 0 ||
        get_intv(l, v, path, "settle_ms", 1, 10000, &st->settle_ms) < 0 ||
        get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms) < 0)
        return -1;
    st->max = (size_t)max;
    st->seed = (uint64_t)seed;
    return 0;
}

static int parse_expect(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    char p[EC_PATH_MAX + 40];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "echo");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "regex");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "frames");
    if (!!e + !!d + !!r + !!f != 1)
        return fail(l, path, "expect needs exactly one of echo, data, regex, frames");
    if (e) {
        st->ex = EC_EX_ECHO;
        sub(p, sizeof p, path, "echo");
        if (cJSON_IsTrue(e))
            st->echo_n = -1;
        else if (cJSON_IsNumber(e) && e->valuedouble >= 1 &&
                 e->valuedouble == (double)(long long)e->valuedouble)
            st->echo_n = (long long)e->valuedouble;
        else
            return fail(l, p, "echo is true (everything sent so far) or a byte count >= 1");
    } else if (d) {
        st->ex = EC_EX_DATA;
        sub(p, sizeof p, path, "data");
        if (parse_payload(l, d, p, &st->data) < 0)
            return -1;
    } else if (r) {
        st->ex = EC_EX_REGEX;
        sub(p, sizeof p, path, "regex");
        if (!cJSON_IsString(r))
            return fail(l, p, "must be a string (a PCRE2 pattern)");
        st->re_src = strdup(r->valuestring);
        if (!st->re_src || compile_re(l, r->valuestring, p, &st->re) < 0)
            return -1;
    } else {
        st->ex = EC_EX_FRAMES;
        sub(p, sizeof p, path, "frames");
        if (!cJSON_IsNumber(f) || f->valuedouble < 1 ||
            f->valuedouble != (double)(long long)f->valuedouble)
            return fail(l, p, "frames is a count >= 1 of whole frames of echo");
        st->nframes = (size_t)f->valuedouble;
    }
    return get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms);
}

static int parse_recvn(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    long long n = -1;
    if (get_int(l, v, path, "n", 1, 256ll << 20, &n) < 0 ||
        get_bool(l, v, path, "echo", &st->compare) < 0)
        return -1;
    if (n < 0)
        return fail(l, path, "recvn needs \"n\" (bytes)");
    st->n = (size_t)n;
    return 0;
}

/* expect_silence, pause: "ms". */
static int parse_ms(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    st->ms = -1;
    if (get_intv(l, v, path, "ms", 0, 60000, &st->ms) < 0)
        return -1;
    if (st->ms < 0)
        return fail(l, path, "%s needs \"ms\"", ec_step_name(st->kind));
    if (st->kind != EC_ST_PAUSE)
        return 0;
    /* A pause that waits for a server event which may never come (a "timeout"
     * alternative) may end once the server is quiet: it will log nothing more. */
    if (get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms) < 0)
        return -1;
    if (st->quiet_ms) {
        int alt = 0;
        for (size_t i = 0; i < st->nalts; i++)
            alt |= st->alts[i].outcome == EC_OC_TIMEOUT;
        if (st->after == EC_AFTER_NONE || !alt)
            return fail(l, path,
                        "quiet_ms on a pause ends its after_server wait early, so it needs "
                        "after_server and a \"timeout\" alternative");
    }
    return 0;
}

/* rcvbuf, sndbuf: "bytes". */
static int parse_bytes(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    st->bytes = -1;
    if (get_intv(l, v, path, "bytes", 1, 1 << 28, &st->bytes) < 0)
        return -1;
    if (st->bytes < 0)
        return fail(l, path, "%s needs \"bytes\"", ec_step_name(st->kind));
    return 0;
}

static int parse_barrier(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    if (get_str(l, v, path, "name", st->name, sizeof st->name, 1) < 0 ||
        get_bool(l, v, path, "wait_only", &st->wait_only) < 0)
        return -1;
    return 0;
}

static int parse_observe(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    if (get_str(l, v, path, "name", st->name, sizeof st->name, 1) < 0 ||
        get_str(l, v, path, "fds_since", st->fd_since, sizeof st->fd_since, 0) < 0 ||
        get_intv(l, v, path, "max_fd_growth", 0, 100000, &st->max_fd_growth) < 0 ||
        get_intv(l, v, path, "cpu_window_ms", 1, 10000, &st->cpu_window_ms) < 0 ||
        get_intv(l, v, path, "max_cpu_percent", 0, 100, &st->max_cpu_percent) < 0)
        return -1;
    if ((st->max_fd_growth >= 0) != (st->fd_since[0] != 0))
        return fail(l, path, "fds_since and max_fd_growth go together");
    if ((st->max_cpu_percent >= 0) != (st->cpu_window_ms > 0))
        return fail(l, path, "cpu_window_ms and max_cpu_percent go together");
    if (get_str(l, v, path, "rss_since", st->rss_since, sizeof st->rss_since, 0) < 0 ||
        get_intv(l, v, path, "max_rss_growth_kib", 0, 1 << 24, &st->max_rss_growth_kib) < 0 ||
        get_intv(l, v, path, "rss_per_thread_kib", 0, 1 << 16, &st->rss_per_thread_kib) < 0)
        return -1;
    if ((st->max_rss_growth_kib >= 0) != (st->rss_since[0] != 0))
        return fail(l, path, "rss_since and max_rss_growth_kib go together");
    if (get_intv(l, v, path, "quiet_ms", 1, 10000, &st->quiet_ms) < 0)
        return -1;
    if (st->quiet_ms && st->max_rss_growth_kib < 0)
        return fail(l, path, "quiet_ms ends a memory window early: it needs max_rss_growth_kib");
    return 0;
}

static int parse_round_trips(struct ld *l, const cJSON *v, const char *path, struct ec_step *st)
{
    char p[EC_PATH_MAX + 40];
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
    if (!d || !cJSON_GetObjectItemCaseSensitive(v, "count") ||
        !cJSON_GetObjectItemCaseSensitive(v, "max_ms"))
        return fail(l, path, "round_trips needs \"data\", \"count\" and \"max_ms\"");
    st->percentile = 99;
    sub(p, sizeof p, path, "data");
    if (parse_one_payload(l, d, p, st) < 0 ||
        get_intv(l, v, path, "count", 1, 100000, &st->count) < 0 ||
        get_intv(l, v, path, "max_ms", 1, 60000, &st->max_ms) < 0 ||
        get_intv(l, v, path, "percentile", 1, 100, &st->percentile) < 0)
        return -1;
    return 0;
}

static void step_free(struct ec_step *st)
{
    for (size_t i = 0; i < st->npayloads; i++)
        payload_free(&st->payloads[i]);
    free(st->payloads);
    payload_free(&st->data);
    if (st->re)
        pcre2_code_free(st->re);
    free(st->re_src);
}

/* ---- the document ------------------------------------------------------------------ */

static int parse_strings(struct ld *l, const cJSON *v, const char *path, char ***out, size_t *n)
{
    if (!cJSON_IsArray(v))
        return fail(l, path, "must be an array of strings");
    int cnt = cJSON_GetArraySize(v);
    *out = calloc((size_t)cnt + 1, sizeof **out);
    if (!*out)
        return fail(l, path, "out of memory");
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char p[EC_PATH_MAX + 48];
        idx(p, sizeof p, path, i);
        if (!cJSON_IsString(e))
            return fail(l, p, "must be a string");
        (*out)[i++] = strdup(e->valuestring);
        *n = (size_t)i;
    }
    return 0;
}

static int parse_group(struct ld *l, const cJSON *v, const char *path, struct ec_group *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", path);
    g->spawn = 1;
    if (!cJSON_IsObject(v))
        return fail(l, path, "a connection is an object with \"steps\"");
    static const char *const fields[] = {"name",    "spawn", "serial",  "stop_after_failure",
                                         "on_fail", "steps", "comment", NULL};
    if (check_fields(l, v, path, fields) < 0 ||
        get_str(l, v, path, "name", g->name, sizeof g->name, 1) < 0 ||
        get_intv(l, v, path, "spawn", 1, 5000, &g->spawn) < 0 ||
        get_bool(l, v, path, "serial", &g->serial) < 0 ||
        get_bool(l, v, path, "stop_after_failure", &g->stop_after_failure) < 0 ||
        get_diagnosis(l, v, path, "on_fail", g->on_fail, sizeof g->on_fail) < 0)
        return -1;
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(v, "steps");
    char p[EC_PATH_MAX + 40];
    sub(p, sizeof p, path, "steps");
    if (!steps)
        return fail(l, p, "missing (required)");
    int n = cJSON_GetArraySize(steps);
    if (!cJSON_IsArray(steps) || n < 1)
        return fail(l, p, "must be a non-empty array of steps");
    g->steps = calloc((size_t)n, sizeof *g->steps);
    if (!g->steps)
        return fail(l, p, "out of memory");
    int i = 0, connected = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        char q[EC_PATH_MAX + 48];
        idx(q, sizeof q, p, i);
        g->nsteps = (size_t)i + 1;
        struct ec_step *st = &g->steps[i++];
        if (parse_step(l, s, q, st) < 0)
            return -1;
        if (st->kind == EC_ST_CONNECT)
            connected = 1;
        else if (!connected && st->kind != EC_ST_RCVBUF && st->kind != EC_ST_SNDBUF &&
                 st->kind != EC_ST_BARRIER && st->kind != EC_ST_PAUSE &&
                 st->kind != EC_ST_OBSERVE && st->kind != EC_ST_HANDOFF)
            return fail(l, q, "\"%s\" before \"connect\"", ec_step_name(st->kind));
    }
    return 0;
}

/* True when some observe step of fx is named name. */
static int observation_named(const struct ec_fixture *fx, const char *name)
{
    for (size_t g = 0; g < fx->ngroups; g++)
        for (size_t k = 0; k < fx->groups[g].nsteps; k++)
            if (fx->groups[g].steps[k].kind == EC_ST_OBSERVE &&
                strcmp(fx->groups[g].steps[k].name, name) == 0)
                return 1;
    return 0;
}

static int parse_doc(struct ld *l, const cJSON *root, struct ec_fixture *fx)
{
    if (!cJSON_IsObject(root))
        return fail(l, "$", "a fixture is a JSON object");
    static const char *const fields[] = {
        "name",  "requirement",   "tags",     "framing",     "server_args", "budget_ms",
        "sweep", "rlimit_nofile", "requires", "connections", "server_log",  "comment",
        "should_diagnoses", NULL};
    if (check_fields(l, root, "$", fields) < 0 ||
        get_str(l, root, "$", "name", fx->name, sizeof fx->name, 1) < 0)
        return -1;
    /* The name is the file's base name: ctest names, labels and profiles use it. */
    const char *base = strrchr(l->file, '/');
    base = base ? base + 1 : l->file;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".json") == 0)
        bl -= 5;
    if (strlen(fx->name) != bl || strncmp(fx->name, base, bl) != 0)
        return fail(l, "$.name", "\"%s\" differs from the file name \"%.*s\"", fx->name, (int)bl,
                    base);
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(root, "requirement");
    if (!cJSON_IsString(req) || !*req->valuestring)
        return fail(l, "$.requirement", "missing: one line, \"MUST ...\"");
    fx->requirement = strdup(req->valuestring);
    /* RFC 2119: a SHOULD-level case names the diagnoses that only miss its SHOULD
     * (graded PASS-NONSTRICT); any other failure breaks a MUST and stays FAIL. */
    fx->should = strncmp(fx->requirement, "SHOULD", 6) == 0;
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(root, "should_diagnoses");
    if (sd && !fx->should)
        return fail(l, "$.should_diagnoses",
                    "only a requirement that starts with \"SHOULD\" takes it");
    if (fx->should && !sd)
        return fail(l, "$.should_diagnoses",
                    "missing: a \"SHOULD ...\" requirement names the diagnoses that only miss it");
    if (sd) {
        if (parse_strings(l, sd, "$.should_diagnoses", &fx->should_diagnoses,
                          &fx->nshould_diagnoses) < 0)
            return -1;
        if (fx->nshould_diagnoses == 0)
            return fail(l, "$.should_diagnoses", "must name at least one diagnosis");
        for (size_t i = 0; i < fx->nshould_diagnoses; i++)
            if (!ec_diagnosis_known(fx->should_diagnoses[i])) {
                char p[64];
                idx(p, sizeof p, "$.should_diagnoses", (int)i);
                return fail(l, p,
                            "\"%s\" is not a diagnosis of the vocabulary (fixtures/README.md)",
                            fx->should_diagnoses[i]);
            }
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (tags && parse_strings(l, tags, "$.tags", &fx->tags, &fx->ntags) < 0)
        return -1;
    strcpy(fx->framing_spec, "raw");
    if (get_str(l, root, "$", "framing", fx->framing_spec, sizeof fx->framing_spec, 0) < 0)
        return -1;
    char ferr[120] = "";
    if (ec_framing_parse(fx->framing_spec, &fx->framing, ferr, sizeof ferr) < 0)
        return fail(l, "$.framing", "\"%s\": %s", fx->framing_spec, ferr);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(root, "server_args");
    if (sa && parse_strings(l, sa, "$.server_args", &fx->server_args, &fx->nserver_args) < 0)
        return -1;
    fx->budget_ms = 5000;
    fx->sweep = 1;
    if (get_intv(l, root, "$", "budget_ms", 100, 600000, &fx->budget_ms) < 0 ||
        get_bool(l, root, "$", "sweep", &fx->sweep) < 0 ||
        get_intv(l, root, "$", "rlimit_nofile", 8, 1 << 20, &fx->rlimit_nofile) < 0)
        return -1;
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(root, "requires");
    if (rq) {
        char **r = NULL;
        size_t nr = 0;
        int rc = parse_strings(l, rq, "$.requires", &r, &nr);
        for (size_t i = 0; rc == 0 && i < nr; i++) {
            if (strcmp(r[i], "server") == 0)
                fx->needs_server = 1;
            else if (strcmp(r[i], "fds") == 0)
                fx->needs_fds = fx->needs_server = 1;
            else if (strcmp(r[i], "cpu") == 0)
                fx->needs_cpu = fx->needs_server = 1;
            else {
                char p[64];
                idx(p, sizeof p, "$.requires", (int)i);
                rc = fail(l, p, "unknown requirement \"%s\" (server, fds, cpu)", r[i]);
            }
        }
        for (size_t i = 0; i < nr; i++)
            free(r[i]);
        free(r);
        if (rc < 0)
            return -1;
    }
    if (fx->rlimit_nofile)
        fx->needs_server = 1;

    const cJSON *conns = cJSON_GetObjectItemCaseSensitive(root, "connections");
    int n = cJSON_GetArraySize(conns);
    if (!conns)
        return fail(l, "$.connections", "missing (required)");
    if (!cJSON_IsArray(conns) || n < 1)
        return fail(l, "$.connections", "must be a non-empty array");
    fx->groups = calloc((size_t)n, sizeof *fx->groups);
    if (!fx->groups)
        return fail(l, "$.connections", "out of memory");
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, conns)
    {
        char p[64];
        idx(p, sizeof p, "$.connections", i);
        fx->ngroups = (size_t)i + 1;
        if (parse_group(l, c, p, &fx->groups[i++]) < 0)
            return -1;
        for (int j = 0; j < i - 1; j++)
            if (strcmp(fx->groups[j].name, fx->groups[i - 1].name) == 0)
                return fail(l, p, "connection name \"%s\" used twice", fx->groups[j].name);
    }
    /* Freezing the server needs its process: a case that does is one for --server. */
    for (size_t gi = 0; gi < fx->ngroups; gi++)
        for (size_t si = 0; si < fx->groups[gi].nsteps; si++)
            if (fx->groups[gi].steps[si].kind == EC_ST_FREEZE_SERVER ||
                fx->groups[gi].steps[si].kind == EC_ST_THAW_SERVER)
                fx->needs_server = 1;
    /* An observation that compares with another must name one made before it. */
    for (size_t gi = 0; gi < fx->ngroups; gi++)
        for (size_t si = 0; si < fx->groups[gi].nsteps; si++) {
            const struct ec_step *st = &fx->groups[gi].steps[si];
            if (st->kind != EC_ST_OBSERVE || !st->fd_since[0])
                continue;
            int found = 0;
            for (size_t gj = 0; gj < fx->ngroups; gj++)
                for (size_t sj = 0; sj < fx->groups[gj].nsteps; sj++)
                    if (fx->groups[gj].steps[sj].kind == EC_ST_OBSERVE &&
                        strcmp(fx->groups[gj].steps[sj].name, st->fd_since) == 0)
                        found = 1;
            if (!found) {
                char p[EC_PATH_MAX + 40];
                sub(p, sizeof p, st->path, "fds_since");
                return fail(l, p, "no observation named \"%s\"", st->fd_since);
            }
        }
    for (size_t gi = 0; gi < fx->ngroups; gi++)
        for (size_t si = 0; si < fx->groups[gi].nsteps; si++) {
            const struct ec_step *st = &fx->groups[gi].steps[si];
            if (st->kind == EC_ST_OBSERVE && st->rss_since[0] && !observation_named(fx, st->rss_since)) {
                char p[EC_PATH_MAX + 40];
                sub(p, sizeof p, st->path, "rss_since");
                return fail(l, p, "no observation named \"%s\"", st->rss_since);
            }
        }

    const cJSON *log = cJSON_GetObjectItemCaseSensitive(root, "server_log");
    if (log) {
        int m = cJSON_GetArraySize(log);
        if (!cJSON_IsArray(log))
            return fail(l, "$.server_log", "must be an array of PCRE2 patterns, matched in order");
        fx->log = calloc((size_t)m + 1, sizeof *fx->log);
        if (!fx->log)
            return fail(l, "$.server_log", "out of memory");
        int j = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, log)
        {
            struct ec_logexp *le = &fx->log[j];
            idx(le->path, sizeof le->path, "$.server_log", j);
            fx->nlog = (size_t)++j;
            if (!cJSON_IsString(e))
                return fail(l, le->path, "must be a string (a PCRE2 pattern)");
            le->src = strdup(e->valuestring);
            if (compile_re(l, e->valuestring, le->path, &le->re) < 0)
                return -1;
        }
    }
    return 0;
}

int ec_fixture_load(const char *file, struct ec_fixture *fx, char *err, size_t errlen)
{
    memset(fx, 0, sizeof *fx);
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    size_t k;
    while (text && (k = fread(text + len, 1, cap - len - 1, fp)) > 0) {
        len += k;
        if (cap - len < 2) {
            if (cap > (8u << 20)) {
                free(text);
                fclose(fp);
                snprintf(err, errlen, "%s: larger than 8 MiB", file);
                return -1;
            }
            char *nt = realloc(text, cap *= 2);
            if (!nt) {
                free(text);
                text = NULL;
            } else {
                text = nt;
            }
        }
    }
    fclose(fp);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", file);
        return -1;
    }
    text[len] = 0;
    int rc = ec_fixture_parse(file, text, len, fx, err, errlen);
    free(text);
    return rc;
}

int ec_fixture_parse(const char *file, const char *text, size_t len, struct ec_fixture *fx,
                     char *err, size_t errlen)
{
    memset(fx, 0, sizeof *fx);
    struct ld l = {.file = file, .err = err, .errlen = errlen};
    /* cJSON stops at a NUL, so "{...}\0anything" would load as its first part. */
    const char *nul = memchr(text, 0, len);
    if (nul != NULL) {
        snprintf(err, errlen, "%s: $: a NUL byte at offset %zu (a fixture is JSON text)", file,
                 (size_t)(nul - text));
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        /* cJSON reports where it stopped; turn that into a line and column. */
        size_t off = end ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++, col++)
            if (text[i] == '\n')
                line++, col = 0;
        snprintf(err, errlen, "%s: $: malformed JSON at line %d, column %d (near \"%.20s\")", file,
                 line, col, off < len ? text + off : "end of file");
        return -1;
    }
    /* Owned from here on: every failure below goes through ec_fixture_free. */
    fx->file = strdup(file);
    int rc = parse_doc(&l, root, fx);
    cJSON_Delete(root);
    if (rc < 0 || l.failed) {
        ec_fixture_free(fx);
        return -1;
    }
    return 0;
}

void ec_fixture_free(struct ec_fixture *fx)
{
    free(fx->file);
    free(fx->requirement);
    for (size_t i = 0; i < fx->nshould_diagnoses; i++)
        free(fx->should_diagnoses[i]);
    free(fx->should_diagnoses);
    for (size_t i = 0; i < fx->ntags; i++)
        free(fx->tags[i]);
    free(fx->tags);
    for (size_t i = 0; i < fx->nserver_args; i++)
        free(fx->server_args[i]);
    free(fx->server_args);
    for (size_t g = 0; g < fx->ngroups; g++) {
        for (size_t s = 0; s < fx->groups[g].nsteps; s++)
            step_free(&fx->groups[g].steps[s]);
        free(fx->groups[g].steps);
    }
    free(fx->groups);
    for (size_t i = 0; i < fx->nlog; i++) {
        free(fx->log[i].src);
        if (fx->log[i].re)
            pcre2_code_free(fx->log[i].re);
    }
    free(fx->log);
    memset(fx, 0, sizeof *fx);
}
