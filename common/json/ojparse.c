/* oj_parse: JSON text into a jansson tree, faster than json_loadb for what we read most (job
 * messages, events, Octopus's replies), with exactly json_loadb's result.
 *
 * json_loadb reads its input one character at a time through a callback and checks UTF-8 per
 * character; perf put that lexer at a third or more of every daemon's CPU. This parser walks
 * the buffer directly and builds the same tree with jansson's own constructors. It accepts
 * only what json_loadb (with JSON_REJECT_DUPLICATES) accepts and yields an equal tree; for
 * anything else, and for what it leaves to jansson on purpose (reals, integers out of range,
 * \u0000, very deep nesting), it gives up and json_loadb parses the text instead, so malformed
 * input gets jansson's error message, unchanged. fuzz_codec checks the two against each other.
 *
 * oj_parse_keep builds only the members a caller reads (an oj_keep list) and steps over the
 * rest, checking it as strictly but allocating nothing for it: most of an Octopus reply (an
 * event's MessageHtml and MessageReferences, a task's Links) is never read, and building it
 * cost more than the rest of a worker's reply handling. The result is json_loadb's tree
 * pruned to the list (oj_prune), also when jansson parses the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ojson.h"

/* Deeper documents go to jansson (its own limit is 2048). */
#define OJP_MAX_DEPTH 256
/* An object whose members are stepped over finds duplicate names by comparing hashes, one
 * by one: bigger ones go to jansson, whose hash table does it in linear time. */
#define OJP_MAX_SCANNED_KEYS 64
/* A real is only checked, never converted: longer ones (which could overflow a double, a
 * jansson error) go to jansson. */
#define OJP_MAX_REAL_CHARS 300

typedef struct ojp {
    const unsigned char *p, *end;
    of_buf tmp; /* unescaped strings */
    int depth;
    uint64_t *keys; /* hashes of the names of the objects being scanned, innermost last */
    size_t nkeys, capkeys;
} ojp;

static void skip_ws(ojp *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when invalid: overlong
 * forms, surrogates and code points above U+10FFFF are invalid, as for jansson. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = (v << 4) | d;
    }
    *out = v;
    return 0;
}

static int put_utf8(of_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return of_buf_append(b, u, n) == OF_OK ? 0 : -1;
}

/* 1 for the bytes a string's text takes as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80-0xff: UTF-8, checked on its own */
};

/* The string starting after its opening quote. copy: unescaped into s->tmp (NUL-terminated);
 * otherwise only checked. *escaped (may be NULL): whether it held an escape. -1: give up. */
static int read_string(ojp *s, bool copy, bool *escaped)
{
    if (copy) of_buf_reset(&s->tmp);
    if (escaped) *escaped = false;
    for (;;) {
        const unsigned char *run = s->p;
        while (s->p < s->end && plain[*s->p])
            s->p++;
        if (copy && s->p > run && of_buf_append(&s->tmp, run, (size_t)(s->p - run))) return -1;
        if (s->p >= s->end) return -1;
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return !copy || of_buf_append(&s->tmp, "", 1) == OF_OK ? 0 : -1; /* NUL not counted */
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            size_t n = utf8_seq(s->p, s->end);
            if (!n || (copy && of_buf_append(&s->tmp, s->p, n))) return -1;
            s->p += n;
            continue;
        }
        /* a backslash */
        if (escaped) *escaped = true;
        if (s->end - s->p < 2) return -1;
        unsigned e = s->p[1];
        s->p += 2;
        char one;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            one = (char)e;
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (hex4(s->p, s->end, &cp)) return -1;
            s->p += 4;
            if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff)) return -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    hex4(s->p + 2, s->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                s->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (copy && put_utf8(&s->tmp, cp)) return -1;
            continue;
        }
        default:
            return -1;
        }
        if (copy && of_buf_append(&s->tmp, &one, 1)) return -1;
    }
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* An integer: -?(0|[1-9][0-9]*) with no fraction or exponent, within json_int_t. 0 and s->p
 * past it, or -1 (a real, out of range, not a number) with s->p unmoved. */
static int scan_integer(ojp *s, json_int_t *out)
{
    const unsigned char *p = s->p;
    bool neg = p < s->end && *p == '-';
    if (neg) p++;
    if (!is_digit(p, s->end)) return -1;
    if (*p == '0' && is_digit(p + 1, s->end)) return -1;
    unsigned long long v = 0;
    const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
    for (; is_digit(p, s->end); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E')) return -1;
    s->p = p;
    *out = neg ? (v == 9223372036854775808ULL ? (json_int_t)(-9223372036854775807LL - 1)
                                              : -(json_int_t)v)
               : (json_int_t)v;
    return 0;
}

static json_t *read_integer(ojp *s)
{
    json_int_t i;
    return scan_integer(s, &i) ? NULL : json_integer(i);
}

/* A number stepped over: an integer as read_integer takes it, or a real in JSON's grammar
 * without an exponent and short enough that it cannot overflow. -1: give up. */
static int skip_number(ojp *s)
{
    json_int_t i;
    if (scan_integer(s, &i) == 0) return 0;
    const unsigned char *p = s->p;
    if (p < s->end && *p == '-') p++;
    if (!is_digit(p, s->end)) return -1;
    if (*p == '0') {
        if (is_digit(++p, s->end)) return -1;
    } else {
        while (is_digit(p, s->end))
            p++;
    }
    if (p >= s->end || *p != '.' || !is_digit(++p, s->end)) return -1;
    while (is_digit(p, s->end))
        p++;
    if (p < s->end && (*p == 'e' || *p == 'E')) return -1;
    if (p - s->p > OJP_MAX_REAL_CHARS) return -1;
    s->p = p;
    return 0;
}

static bool word(ojp *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return false;
    s->p += n;
    return true;
}

static json_t *read_value(ojp *s, const oj_keep *keep);
static int skip_value(ojp *s);

/* After a member or an element: 1 at a comma (another follows), 0 at close (the container
 * ends), -1 otherwise. */
static int after_item(ojp *s, char close)
{
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p != ',' && *s->p != (unsigned char)close) return -1;
    return *s->p++ == ',';
}

/* A member's name and its ':'. Unescaped into s->tmp when it holds an escape or copy is
 * set; otherwise left in the text. *name, *len: where it is (NUL-terminated only in s->tmp).
 * -1 for a name with a NUL (jansson's to refuse). */
static int read_name(ojp *s, bool copy, const char **name, size_t *len)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"') return -1;
    const unsigned char *start = ++s->p;
    bool escaped;
    if (read_string(s, copy, &escaped)) return -1;
    if (escaped && !copy) {
        s->p = start;
        if (read_string(s, true, NULL)) return -1;
    }
    if (copy || escaped) {
        if (strlen(s->tmp.data) != s->tmp.len - 1) return -1;
        *name = s->tmp.data;
        *len = s->tmp.len - 1;
    } else {
        *name = (const char *)start;
        *len = (size_t)(s->p - 1 - start);
    }
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':') return -1;
    s->p++;
    return 0;
}

/* Remembers a name among those of the object whose names start at s->keys[from]; -1 for a
 * second one with its hash (a duplicate, jansson's to refuse, or a collision, for jansson to
 * sort out) and for too many. FNV-1a. */
static int note_name(ojp *s, size_t from, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    if (s->nkeys - from >= OJP_MAX_SCANNED_KEYS) return -1;
    for (size_t i = from; i < s->nkeys; i++)
        if (s->keys[i] == h) return -1;
    if (s->nkeys == s->capkeys) {
        size_t cap = s->capkeys ? 2 * s->capkeys : 64;
        uint64_t *k = realloc(s->keys, cap * sizeof *k);
        if (!k) return -1;
        s->keys = k;
        s->capkeys = cap;
    }
    s->keys[s->nkeys++] = h;
    return 0;
}

static const oj_keep *kept(const oj_keep *keep, const char *name, size_t len)
{
    for (; keep->name; keep++)
        if (strncmp(keep->name, name, len) == 0 && keep->name[len] == '\0') return keep;
    return NULL;
}

/* An object's members, after its '{'. keep NULL: all of them (0 and *out set). Otherwise
 * the ones keep lists, into *out, the others checked and dropped; out NULL: none, checked. */
static int object_members(ojp *s, const oj_keep *keep, json_t **out)
{
    json_t *o = out ? json_object() : NULL;
    size_t from = s->nkeys;
    if (out && !o) return -1;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        goto done;
    }
    for (;;) {
        const char *name;
        size_t len;
        bool whole = o && !keep; /* every member built: jansson's object finds duplicates */
        if (read_name(s, whole, &name, &len)) goto fail;
        if (!whole) {
            if (note_name(s, from, name, len)) goto fail;
        } else if (json_object_get(o, name)) {
            goto fail; /* a duplicate: jansson says so */
        }
        const oj_keep *k = o && keep ? kept(keep, name, len) : NULL;
        if (o && (k || !keep)) {
            char small[128], *key = small;
            if (len >= sizeof small && !(key = malloc(len + 1))) goto fail;
            memcpy(key, name, len);
            key[len] = '\0';
            json_t *v = read_value(s, k ? k->sub : NULL);
            int rc = v ? json_object_set_new_nocheck(o, key, v) : -1;
            if (key != small) free(key);
            if (rc) goto fail;
        } else if (skip_value(s)) {
            goto fail;
        }
        int next = after_item(s, '}');
        if (next < 0) goto fail;
        if (next == 0) break;
    }
done:
    s->nkeys = from;
    if (out) *out = o;
    return 0;
fail:
    s->nkeys = from;
    json_decref(o);
    return -1;
}

/* An array's elements, after its '['; each element is read with keep. out NULL: checked. */
static int array_elements(ojp *s, const oj_keep *keep, json_t **out)
{
    json_t *a = out ? json_array() : NULL;
    if (out && !a) return -1;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        goto done;
    }
    for (;;) {
        if (a) {
            json_t *v = read_value(s, keep);
            if (!v || json_array_append_new(a, v)) goto fail;
        } else if (skip_value(s)) {
            goto fail;
        }
        int next = after_item(s, ']');
        if (next < 0) goto fail;
        if (next == 0) break;
    }
done:
    if (out) *out = a;
    return 0;
fail:
    json_decref(a);
    return -1;
}

/* An object or an array at s->p, built (out) or checked (out NULL). */
static int container(ojp *s, const oj_keep *keep, json_t **out)
{
    if (++s->depth > OJP_MAX_DEPTH) return -1;
    bool obj = *s->p++ == '{';
    int rc = obj ? object_members(s, keep, out) : array_elements(s, keep, out);
    s->depth--;
    return rc;
}

/* A value checked as read_value reads it, nothing built. 0, or -1: give up. */
static int skip_value(ojp *s)
{
    skip_ws(s);
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '{':
    case '[':
        return container(s, NULL, NULL);
    case '"':
        s->p++;
        return read_string(s, false, NULL);
    case 't':
        return word(s, "true", 4) ? 0 : -1;
    case 'f':
        return word(s, "false", 5) ? 0 : -1;
    case 'n':
        return word(s, "null", 4) ? 0 : -1;
    default:
        return skip_number(s);
    }
}

static json_t *read_value(ojp *s, const oj_keep *keep)
{
    skip_ws(s);
    if (s->p >= s->end) return NULL;
    switch (*s->p) {
    case '{':
    case '[': {
        json_t *v = NULL;
        return container(s, keep, &v) ? NULL : v;
    }
    case '"':
        s->p++;
        if (read_string(s, true, NULL)) return NULL;
        /* an embedded NUL never gets here (\u0000 gives up) */
        return json_stringn_nocheck(s->tmp.data, s->tmp.len - 1);
    case 't':
        return word(s, "true", 4) ? json_true() : NULL;
    case 'f':
        return word(s, "false", 5) ? json_false() : NULL;
    case 'n':
        return word(s, "null", 4) ? json_null() : NULL;
    default:
        return read_integer(s);
    }
}

/* The fast path; NULL: give the text to jansson. */
static json_t *fast_parse(const char *data, size_t len, const oj_keep *keep)
{
    ojp s = {(const unsigned char *)data, (const unsigned char *)data + len, {0}, 0, NULL, 0, 0};
    of_buf_init(&s.tmp, len + 1); /* unescaped, a string is never longer than the text */
    skip_ws(&s);
    json_t *v = NULL;
    if (s.p < s.end && (*s.p == '{' || *s.p == '[')) v = read_value(&s, keep);
    skip_ws(&s);
    if (v && s.p != s.end) {
        json_decref(v);
        v = NULL;
    }
    of_buf_clear(&s.tmp);
    free(s.keys);
    return v;
}

json_t *oj_parse(const char *data, size_t len, json_error_t *err)
{
    return oj_parse_keep(data, len, NULL, err);
}

json_t *oj_parse_keep(const char *data, size_t len, const oj_keep *keep, json_error_t *err)
{
    json_t *v = data ? fast_parse(data, len, keep) : NULL;
    if (v) return v;
    v = json_loadb(data, len, JSON_REJECT_DUPLICATES, err);
    oj_prune(v, keep);
    return v;
}

void oj_prune(json_t *v, const oj_keep *keep)
{
    if (!keep) return;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            oj_prune(json_array_get(v, i), keep);
        return;
    }
    const char *name;
    json_t *m;
    void *tmp;
    json_object_foreach_safe(v, tmp, name, m)
    {
        const oj_keep *k = kept(keep, name, strlen(name));
        if (!k)
            json_object_del(v, name);
        else
            oj_prune(m, k->sub);
    }
}
