/* ofjson: the jansson field readers and writers shared by the codec and the Octopus client. */
#include "ojson.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "utf8.h"

/* ---- building ---- */

void oj_set(json_t *o, const char *key, json_t *v, bool *bad)
{
    /* json_object_set_new takes v even on failure and fails on NULL v (an earlier
     * allocation failure), so one flag covers both. */
    if (json_object_set_new(o, key, v) != 0) *bad = true;
}

void oj_set_str(json_t *o, const char *key, const char *s, bool *bad)
{
    if (s) oj_set(o, key, json_string(s), bad);
}

void oj_set_str_or_null(json_t *o, const char *key, const char *s, bool *bad)
{
    oj_set(o, key, s ? json_string(s) : json_null(), bad);
}

void oj_set_int(json_t *o, const char *key, int64_t v, bool *bad)
{
    oj_set(o, key, json_integer((json_int_t)v), bad);
}

void oj_set_bool(json_t *o, const char *key, bool v, bool *bad)
{
    oj_set(o, key, json_boolean(v), bad);
}

void oj_set_time(json_t *o, const char *key, int64_t ms, bool *bad)
{
    if (!ms) return;
    char buf[40];
    oj_set(o, key, json_string(of_rfc3339(ms, buf, sizeof buf)), bad);
}

void oj_append(json_t *arr, json_t *v, bool *bad)
{
    if (json_array_append_new(arr, v) != 0) *bad = true;
}

json_t *oj_str_array(char *const *items, size_t n, bool *bad)
{
    json_t *a = json_array();
    if (!a) {
        *bad = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        oj_append(a, json_string(items[i] ? items[i] : ""), bad);
    return a;
}

of_err oj_dump(json_t *root, bool bad, char **out)
{
    *out = NULL;
    if (!root) return OF_ERR_NOMEM;
    if (bad) {
        json_decref(root);
        return OF_ERR_NOMEM;
    }
    *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return *out ? OF_OK : OF_ERR_NOMEM;
}

/* ---- writing text ---------------------------------------------------------- */

static void put(oj_writer *w, const void *p, size_t n)
{
    of_buf *b = &w->b;
    if (b->cap - b->len > n) { /* room for n and the NUL: the usual case, no call */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    if (!w->rc && of_buf_append(b, p, n) != OF_OK) w->rc = OF_ERR_NOMEM;
}

static const char *const short_escape[128] = {
    ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
    ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

/* A JSON string as jansson writes it: '"', '\\' and control characters escaped (the short
 * forms where JSON has them, else \u00XX), everything else, UTF-8 included, as it is. */
static void put_string(oj_writer *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *run = p;
    put(w, "\"", 1);
    while (*p) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = of_utf8_len((const char *)p);
            if (!n) {
                if (!w->rc) w->rc = OF_ERR_INVALID;
                return;
            }
            p += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        put(w, run, (size_t)(p - run));
        const char *esc = short_escape[c];
        char hex[8];
        if (!esc) {
            (void)snprintf(hex, sizeof hex, "\\u%04X", c);
            esc = hex;
        }
        put(w, esc, strlen(esc));
        run = ++p;
    }
    put(w, run, (size_t)(p - run));
    put(w, "\"", 1);
}

/* The separator and "key": of the next member (key NULL: an array's entry). */
static void member(oj_writer *w, const char *key)
{
    if (!w->first) put(w, ",", 1);
    w->first = false;
    if (key) {
        put_string(w, key);
        put(w, ":", 1);
    }
}

void ojw_begin(oj_writer *w)
{
    of_buf_init(&w->b, SIZE_MAX / 2);
    w->rc = of_buf_reserve(&w->b, 1536); /* a job record, the longest hot message, fits */
    w->first = true;
    put(w, "{", 1);
}

static void open_with(oj_writer *w, const char *key, const char *bracket)
{
    member(w, key);
    put(w, bracket, 1);
    w->first = true;
}

static void close_with(oj_writer *w, const char *bracket)
{
    put(w, bracket, 1);
    w->first = false;
}

void ojw_object(oj_writer *w, const char *key)
{
    open_with(w, key, "{");
}

void ojw_end_object(oj_writer *w)
{
    close_with(w, "}");
}

void ojw_array(oj_writer *w, const char *key)
{
    open_with(w, key, "[");
}

void ojw_end_array(oj_writer *w)
{
    close_with(w, "]");
}

void ojw_str(oj_writer *w, const char *key, const char *s)
{
    if (!s) return;
    member(w, key);
    put_string(w, s);
}

void ojw_str_or_null(oj_writer *w, const char *key, const char *s)
{
    if (s)
        ojw_str(w, key, s);
    else
        ojw_null(w, key);
}

void ojw_null(oj_writer *w, const char *key)
{
    member(w, key);
    put(w, "null", 4);
}

void ojw_int(oj_writer *w, const char *key, int64_t v)
{
    char num[24], *p = num + sizeof num;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    member(w, key);
    put(w, p, (size_t)(num + sizeof num - p));
}

void ojw_bool(oj_writer *w, const char *key, bool v)
{
    member(w, key);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void ojw_time(oj_writer *w, const char *key, int64_t ms)
{
    if (!ms) return;
    char buf[40];
    ojw_str(w, key, of_rfc3339(ms, buf, sizeof buf));
}

void ojw_strv(oj_writer *w, const char *key, char *const *items, size_t n)
{
    ojw_array(w, key);
    for (size_t i = 0; i < n; i++)
        ojw_str(w, NULL, items[i] ? items[i] : "");
    ojw_end_array(w);
}

of_err ojw_finish(oj_writer *w, char **out)
{
    put(w, "}", 1);
    *out = w->rc ? NULL : of_buf_detach_exact(&w->b);
    if (!w->rc && !*out) w->rc = OF_ERR_NOMEM;
    of_buf_clear(&w->b);
    return w->rc;
}

/* ---- reading: errors ---- */

/* What a field should have been, said the way each style always said it. */
static const struct {
    const char *message; /* OJ_MESSAGE: "must be ..." */
    const char *reply;   /* OJ_REPLY: "expected ..." */
} type_words[] = {
    [OJ_STRING] = {"a string", "a string"},        [OJ_INTEGER] = {"an integer", "an integer"},
    [OJ_BOOLEAN] = {"true or false", "a boolean"}, [OJ_OBJECT] = {"an object", "an object"},
    [OJ_ARRAY] = {"an array", "an array"},
};

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static void vfail(oj_reader *r, of_err rc, const char *fmt, va_list ap)
{
    if (r->rc) return;
    r->rc = rc;
    if (r->errstr && r->errstr_size) {
        (void)vsnprintf(r->errstr, r->errstr_size, fmt, ap);
        of_utf8_scrub(r->errstr); /* a long path cut by the buffer may end mid-character */
    }
}

void oj_fail(oj_reader *r, of_err rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, rc, fmt, ap);
    va_end(ap);
}

void oj_fail_at(oj_reader *r, const char *path, const char *key, const char *fmt, ...)
{
    if (r->rc) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (r->style == OJ_REPLY)
        oj_fail(r, OF_ERR_PROTOCOL, "%s%s%s: field \"%s%s\": %s", r->kind, r->id ? " " : "",
                r->id ? r->id : "", path, key, text);
    else
        oj_fail(r, OF_ERR_INVALID, "%s%s: %s", path, key, text);
}

void oj_nomem(oj_reader *r)
{
    if (r->style == OJ_REPLY)
        oj_fail(r, OF_ERR_NOMEM, "%s%s%s: out of memory", r->kind, r->id ? " " : "",
                r->id ? r->id : "");
    else
        oj_fail(r, OF_ERR_NOMEM, "out of memory");
}

/* A field that is not what it should be: want_m / want_r are the two styles' words. */
static void bad_value(oj_reader *r, const char *path, const char *key, const char *want_m,
                      const char *want_r, const json_t *got)
{
    if (r->style == OJ_REPLY)
        oj_fail_at(r, path, key, "expected %s, got %s", want_r,
                   got ? json_kind(got) : "nothing (missing)");
    else if (!got || json_is_null(got))
        oj_fail_at(r, path, key, "missing");
    else
        oj_fail_at(r, path, key, "must be %s", want_m);
}

void oj_expected(oj_reader *r, const char *path, const char *key, oj_type t, const json_t *got)
{
    bad_value(r, path, key, type_words[t].message, type_words[t].reply, got);
}

/* ---- reading: fields ---- */

static bool is_type(const json_t *v, oj_type t)
{
    switch (t) {
    case OJ_STRING:
        return json_is_string(v);
    case OJ_INTEGER:
        return json_is_integer(v);
    case OJ_BOOLEAN:
        return json_is_boolean(v);
    case OJ_OBJECT:
        return json_is_object(v);
    case OJ_ARRAY:
        return json_is_array(v);
    }
    return false;
}

json_t *oj_get(oj_reader *r, json_t *o, const char *path, const char *key, oj_type t, bool required)
{
    if (r->rc) return NULL;
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) oj_expected(r, path, key, t, v);
        return NULL;
    }
    if (!is_type(v, t)) {
        oj_expected(r, path, key, t, v);
        return NULL;
    }
    return v;
}

bool oj_need_object(oj_reader *r, const json_t *v, const char *path)
{
    if (r->rc) return false;
    if (json_is_object(v)) return true;
    if (r->style == OJ_REPLY)
        oj_fail(r, OF_ERR_PROTOCOL, "%s: expected a JSON object, got %s", r->kind,
                v ? json_kind(v) : "nothing");
    else
        oj_fail(r, OF_ERR_INVALID, "%s: must be an object", path);
    return false;
}

char *oj_dup(oj_reader *r, const char *s)
{
    if (r->rc) return NULL;
    if (r->pool) {
        of_err rc = OF_OK;
        char *d = (char *)(uintptr_t)of_strpool_get(r->pool, s, &rc); /* see oj_reader.pool */
        if (rc) oj_nomem(r);
        return d;
    }
    char *d = strdup(s);
    if (!d) oj_nomem(r);
    return d;
}

char *oj_strdup(oj_reader *r, json_t *o, const char *path, const char *key, bool required)
{
    json_t *v = oj_get(r, o, path, key, OJ_STRING, required);
    return v ? oj_dup(r, json_string_value(v)) : NULL;
}

int64_t oj_int(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
               int64_t min, int64_t max, int64_t dflt)
{
    json_t *v = oj_get(r, o, path, key, OJ_INTEGER, required);
    if (!v) return dflt;
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min || x > max) {
        oj_fail_at(r, path, key, "%" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", x, min,
                   max);
        return dflt;
    }
    return x;
}

bool oj_bool(oj_reader *r, json_t *o, const char *path, const char *key, bool dflt)
{
    json_t *v = oj_get(r, o, path, key, OJ_BOOLEAN, false);
    return v ? json_is_true(v) : dflt;
}

int64_t oj_time(oj_reader *r, json_t *o, const char *path, const char *key, int64_t dflt)
{
    if (r->rc) return dflt;
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return dflt;
    int64_t ms = 0;
    if (!json_is_string(v) || of_parse_rfc3339(json_string_value(v), &ms) != 0) {
        bad_value(r, path, key, "an RFC 3339 time", "an ISO 8601 timestamp", v);
        return dflt;
    }
    return ms;
}

void oj_strv(oj_reader *r, json_t *v, const char *path, const char *key, size_t max_n,
             size_t max_len, char ***items, size_t *n)
{
    static const char want[] = "an array of strings";
    *items = NULL;
    *n = 0;
    if (r->rc || !v || json_is_null(v)) return;
    if (!json_is_array(v)) {
        bad_value(r, path, key, want, want, v);
        return;
    }
    size_t cnt = json_array_size(v);
    if (!cnt) return;
    if (max_n && cnt > max_n) {
        oj_fail_at(r, path, key, "more than %zu entries", max_n);
        return;
    }
    char **arr = calloc(cnt, sizeof *arr);
    if (!arr) {
        oj_nomem(r);
        return;
    }
    for (size_t i = 0; !r->rc && i < cnt; i++) {
        json_t *e = json_array_get(v, i);
        char at[128]; /* MESSAGE style names the entry: "errors[2]" */
        (void)snprintf(at, sizeof at, "%s[%zu]", key, i);
        if (!json_is_string(e)) {
            if (r->style == OJ_REPLY)
                bad_value(r, path, key, want, want, e);
            else
                oj_fail_at(r, path, at, "must be a string");
        } else if (max_len && (json_string_length(e) > max_len ||
                               strlen(json_string_value(e)) != json_string_length(e))) {
            oj_fail_at(r, path, at, "longer than %zu bytes or holds a NUL", max_len);
        } else {
            arr[i] = oj_dup(r, json_string_value(e));
        }
    }
    if (r->rc) {
        if (r->pool)
            free(arr); /* the strings are the pool's */
        else
            of_strv_free(arr, cnt);
        return;
    }
    *items = arr;
    *n = cnt;
}
