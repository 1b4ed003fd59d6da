/* oj_parse: JSON text into a jansson tree, faster than json_loadb for what we read most (job
 * messages, events, Octopus's replies), with exactly json_loadb's result.
 *
 * json_loadb reads its input one character at a time through a callback and checks UTF-8 per
 * character; perf put that lexer at a third or more of every daemon's CPU. This parser walks
 * the buffer directly and builds the same tree with jansson's own constructors. It accepts
 * only what json_loadb (with JSON_REJECT_DUPLICATES) accepts and yields an equal tree; for
 * anything else, and for what it leaves to jansson on purpose (reals, integers out of range,
 * \u0000, very deep nesting), it gives up and json_loadb parses the text instead, so malformed
 * input gets jansson's error message, unchanged. fuzz_codec checks the two against each other. */
#include <stdlib.h>
#include <string.h>

#include "ojson.h"

/* Deeper documents go to jansson (its own limit is 2048). */
#define OJP_MAX_DEPTH 256

typedef struct ojp {
    const unsigned char *p, *end;
    of_buf tmp; /* unescaped strings */
    int depth;
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

/* The string starting after its opening quote, unescaped into s->tmp (NUL-terminated).
 * -1: give up. */
static int read_string(ojp *s)
{
    of_buf_reset(&s->tmp);
    for (;;) {
        const unsigned char *run = s->p;
        while (s->p < s->end && *s->p >= 0x20 && *s->p < 0x80 && *s->p != '"' && *s->p != '\\')
            s->p++;
        if (s->p > run && of_buf_append(&s->tmp, run, (size_t)(s->p - run))) return -1;
        if (s->p >= s->end) return -1;
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return of_buf_append(&s->tmp, "", 1) == OF_OK ? 0 : -1; /* the NUL, not counted */
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            size_t n = utf8_seq(s->p, s->end);
            if (!n || of_buf_append(&s->tmp, s->p, n)) return -1;
            s->p += n;
            continue;
        }
        /* a backslash */
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
            if (put_utf8(&s->tmp, cp)) return -1;
            continue;
        }
        default:
            return -1;
        }
        if (of_buf_append(&s->tmp, &one, 1)) return -1;
    }
}

/* An integer: -?(0|[1-9][0-9]*) with no fraction or exponent, within json_int_t. */
static json_t *read_integer(ojp *s)
{
    const unsigned char *p = s->p;
    bool neg = p < s->end && *p == '-';
    if (neg) p++;
    if (p >= s->end || *p < '0' || *p > '9') return NULL;
    if (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9') return NULL;
    unsigned long long v = 0;
    const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
    for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10) return NULL;
        v = v * 10 + d;
    }
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
    s->p = p;
    json_int_t i = neg ? (v == 9223372036854775808ULL ? (json_int_t)(-9223372036854775807LL - 1)
                                                      : -(json_int_t)v)
                       : (json_int_t)v;
    return json_integer(i);
}

static bool word(ojp *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return false;
    s->p += n;
    return true;
}

static json_t *read_value(ojp *s);

/* After a member or an element: 1 at a comma (another follows), 0 at close (the container
 * ends), -1 otherwise. */
static int after_item(ojp *s, char close)
{
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p != ',' && *s->p != (unsigned char)close) return -1;
    return *s->p++ == ',';
}

static json_t *read_object(ojp *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return o;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') goto fail;
        s->p++;
        if (read_string(s) || strlen(s->tmp.data) != s->tmp.len - 1) goto fail;
        if (json_object_get(o, s->tmp.data)) goto fail; /* a duplicate: jansson says so */
        char small[128], *key = small;
        if (s->tmp.len > sizeof small && !(key = malloc(s->tmp.len))) goto fail;
        memcpy(key, s->tmp.data, s->tmp.len);
        skip_ws(s);
        json_t *v = NULL;
        if (s->p < s->end && *s->p == ':') {
            s->p++;
            v = read_value(s);
        }
        int rc = v ? json_object_set_new_nocheck(o, key, v) : -1;
        if (key != small) free(key);
        int next = rc ? -1 : after_item(s, '}');
        if (next < 0) goto fail;
        if (next == 0) return o;
    }
fail:
    json_decref(o);
    return NULL;
}

static json_t *read_array(ojp *s)
{
    json_t *a = json_array();
    if (!a) return NULL;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return a;
    }
    for (;;) {
        json_t *v = read_value(s);
        int next = !v || json_array_append_new(a, v) ? -1 : after_item(s, ']');
        if (next < 0) goto fail;
        if (next == 0) return a;
    }
fail:
    json_decref(a);
    return NULL;
}

static json_t *read_value(ojp *s)
{
    skip_ws(s);
    if (s->p >= s->end) return NULL;
    switch (*s->p) {
    case '{':
    case '[': {
        if (++s->depth > OJP_MAX_DEPTH) return NULL;
        bool obj = *s->p++ == '{';
        json_t *v = obj ? read_object(s) : read_array(s);
        s->depth--;
        return v;
    }
    case '"':
        s->p++;
        if (read_string(s)) return NULL;
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
static json_t *fast_parse(const char *data, size_t len)
{
    ojp s = {(const unsigned char *)data, (const unsigned char *)data + len, {0}, 0};
    of_buf_init(&s.tmp, len + 1); /* unescaped, a string is never longer than the text */
    skip_ws(&s);
    json_t *v = NULL;
    if (s.p < s.end && (*s.p == '{' || *s.p == '[')) v = read_value(&s);
    skip_ws(&s);
    if (v && s.p != s.end) {
        json_decref(v);
        v = NULL;
    }
    of_buf_clear(&s.tmp);
    return v;
}

json_t *oj_parse(const char *data, size_t len, json_error_t *err)
{
    json_t *v = data ? fast_parse(data, len) : NULL;
    return v ? v : json_loadb(data, len, JSON_REJECT_DUPLICATES, err);
}
