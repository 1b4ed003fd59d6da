/* The codec's shared parts: enum names, error lists, durations and the jansson helpers
 * (msg_json.h) used by msg_request.c and msg_wire.c. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "msg_json.h"
#include "utf8.h"
#include "uuid.h"

/* ---- enum names ---- */

static const char *const job_status_names[OF_JOB_STATUS__COUNT] = {
    "pending", "dispatched", "started",   "waiting",   "succeeded",
    "failed",  "skipped",    "cancelled", "timed_out",
};
static const char *const stage_status_names[OF_STAGE_STATUS__COUNT] = {
    "pending",
    "running",
    "succeeded",
    "failed",
};
static const char *const release_status_names[OF_RELEASE_STATUS__COUNT] = {
    "running",
    "paused",
    "completed",
    "aborted",
};
static const char *const tenanted_names[OF_TENANTED__COUNT] = {
    "Untenanted",
    "TenantedOrUntenanted",
    "Tenanted",
};
static const char *const condition_names[OF_CONDITION__COUNT] = {"always", "if-not-current"};
static const char *const cmd_names[OF_CMD__COUNT] = {"submit", "replay",  "resume",
                                                     "abort",  "approve", "guide"};
static const char *const guidance_names[OF_GUIDE__COUNT] = {"retry", "ignore", "abort"};
static const char *const event_names[OF_EV__COUNT] = {
    "octofleet.release.accepted",      "octofleet.release.rejected",
    "octofleet.stage.started",         "octofleet.stage.succeeded",
    "octofleet.stage.failed",          "octofleet.release.paused",
    "octofleet.release.resumed",       "octofleet.release.completed",
    "octofleet.release.aborted",       "octofleet.job.dispatched",
    "octofleet.job.started",           "octofleet.job.waiting",
    "octofleet.job.succeeded",         "octofleet.job.failed",
    "octofleet.job.skipped",           "octofleet.job.cancelled",
    "octofleet.job.timed_out",         "octofleet.command.ignored",
    "octofleet.stage.deadline_passed", "octofleet.release.held",
    "octofleet.release.unheld",        "octofleet.stage.approval_required",
    "octofleet.stage.approved",        "octofleet.job.answered",
    "octofleet.stage.guided",
};

static const char *name_of(const char *const *names, size_t count, int v)
{
    if (v < 0 || (size_t)v >= count) return "?";
    return names[v];
}

static int parse_of(const char *const *names, size_t count, const char *name, int *out)
{
    if (!name) return -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return -1;
}

#define NAME_FN(fn, type, table, count)       \
    const char *fn##_name(type v)             \
    {                                         \
        return name_of(table, count, (int)v); \
    }
#define PARSE_FN(fn, type, table, count)                      \
    int fn##_parse(const char *name, type *out)               \
    {                                                         \
        int v = 0;                                            \
        if (parse_of(table, count, name, &v) != 0) return -1; \
        *out = (type)v;                                       \
        return 0;                                             \
    }

/* Both directions of an enum that is read as well as written. */
#define NAME_PARSE_FNS(fn, table, count) \
    NAME_FN(fn, fn, table, count)        \
    PARSE_FN(fn, fn, table, count)

NAME_PARSE_FNS(of_job_status, job_status_names, OF_JOB_STATUS__COUNT)
NAME_PARSE_FNS(of_stage_status, stage_status_names, OF_STAGE_STATUS__COUNT)
NAME_PARSE_FNS(of_release_status, release_status_names, OF_RELEASE_STATUS__COUNT)
NAME_PARSE_FNS(of_tenanted_mode, tenanted_names, OF_TENANTED__COUNT)
NAME_FN(of_condition, of_condition, condition_names, OF_CONDITION__COUNT)
NAME_PARSE_FNS(of_cmd_type, cmd_names, OF_CMD__COUNT)
NAME_PARSE_FNS(of_guidance, guidance_names, OF_GUIDE__COUNT)
NAME_PARSE_FNS(of_event_type, event_names, OF_EV__COUNT)

const char *of_event_outcome(of_event_type t)
{
    switch (t) {
    case OF_EV_JOB_SUCCEEDED:
        return "succeeded";
    case OF_EV_JOB_FAILED:
        return "failed";
    case OF_EV_JOB_CANCELLED:
        return "cancelled";
    case OF_EV_JOB_TIMED_OUT:
        return "timed_out";
    case OF_EV_JOB_SKIPPED:
        return "skipped";
    default:
        return NULL;
    }
}

bool of_job_status_is_terminal(of_job_status s)
{
    return s == OF_JOB_SUCCEEDED || s == OF_JOB_FAILED || s == OF_JOB_SKIPPED ||
           s == OF_JOB_CANCELLED || s == OF_JOB_TIMED_OUT;
}

bool of_job_status_is_failure(of_job_status s)
{
    return s == OF_JOB_FAILED || s == OF_JOB_CANCELLED || s == OF_JOB_TIMED_OUT;
}

bool of_event_job_status(of_event_type t, of_job_status *st)
{
    static const struct {
        of_event_type ev;
        of_job_status st;
    } map[] = {
        {OF_EV_JOB_DISPATCHED, OF_JOB_DISPATCHED}, {OF_EV_JOB_STARTED, OF_JOB_STARTED},
        {OF_EV_JOB_WAITING, OF_JOB_WAITING},       {OF_EV_JOB_SUCCEEDED, OF_JOB_SUCCEEDED},
        {OF_EV_JOB_FAILED, OF_JOB_FAILED},         {OF_EV_JOB_SKIPPED, OF_JOB_SKIPPED},
        {OF_EV_JOB_CANCELLED, OF_JOB_CANCELLED},   {OF_EV_JOB_TIMED_OUT, OF_JOB_TIMED_OUT},
        {OF_EV_JOB_ANSWERED, OF_JOB_STARTED}, /* its interruption answered: the task runs on */
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].ev != t) continue;
        *st = map[i].st;
        return true;
    }
    return false;
}

bool of_job_status_is_done_ok(of_job_status s)
{
    return s == OF_JOB_SUCCEEDED || s == OF_JOB_SKIPPED;
}

/* ---- error lists ---- */

void of_errlist_init(of_errlist *l)
{
    memset(l, 0, sizeof *l);
}

of_err of_errlist_add(of_errlist *l, const char *fmt, ...)
{
    if (l->n >= OF_ERRLIST_MAX) {
        l->dropped++;
        return OF_OK;
    }
    if (of_grow((void **)&l->items, &l->cap, l->n, sizeof *l->items)) return OF_ERR_NOMEM;
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0) tmp[0] = '\0';
    of_utf8_scrub(tmp); /* the list becomes release.rejected's errors: JSON strings */
    char *s = strdup(tmp);
    if (!s) return OF_ERR_NOMEM;
    l->items[l->n++] = s;
    return OF_OK;
}

void of_errlist_join(const of_errlist *l, const char *sep, char *errstr, size_t errstr_size)
{
    if (!errstr || errstr_size == 0) return;
    errstr[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < l->n && used + 1 < errstr_size; i++) {
        int w = snprintf(errstr + used, errstr_size - used, "%s%s", i ? sep : "", l->items[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (l->dropped && used + 1 < errstr_size)
        (void)snprintf(errstr + used, errstr_size - used, "%s(+%zu more)", l->n ? sep : "",
                       l->dropped);
}

bool of_errlist_contains(const of_errlist *l, const char *needle)
{
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->items[i], needle)) return true;
    return false;
}

void of_errlist_clear(of_errlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---- small helpers ---- */

char *of_strdup_or_null(const char *s, of_err *err)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d && err) *err = OF_ERR_NOMEM;
    return d;
}

void of_id_copy(char dst[OF_UUID_STR_SIZE], const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    size_t n = strnlen(src, OF_UUID_STR_SIZE - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- jansson helpers: building (the generic ones are common/json/ojson.h) ---- */

json_t *oj_ref(const of_ref *r, const char *name_key, bool *bad)
{
    json_t *o = json_object();
    if (!o) {
        *bad = true;
        return NULL;
    }
    oj_set_str_or_null(o, "id", r->id, bad);
    oj_set_str_or_null(o, name_key ? name_key : "name", r->name, bad);
    return o;
}

of_err oj_load(const char *data, size_t len, json_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!data) return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "empty message");
    if (len > OF_MSG_MAX_SIZE)
        return of_seterr(errstr, errstr_size, OF_ERR_TOO_LARGE,
                         "message of %zu bytes exceeds the %u byte limit", len, OF_MSG_MAX_SIZE);
    json_error_t jerr;
    /* Duplicate keys are rejected: two values for one field is ambiguity, not data. */
    json_t *root = oj_parse(data, len, &jerr);
    if (!root)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "not JSON: line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "not a JSON object");
    }
    *out = root;
    return OF_OK;
}

/* ---- jansson helpers: reading ---- */

bool of_has_ctrl(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) return true;
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) return true;
    }
    return false;
}

size_t of_utf8_prefix(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len <= max) return len;
    len = max;
    /* Back up over continuation bytes to the start of the cut sequence, dropping it. */
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
        len--;
    return len;
}

char *of_utf8_strndup(const char *s, size_t max)
{
    return strndup(s, of_utf8_prefix(s, max));
}

of_err of_check_text(const char *what, const char *s, size_t max, bool name, char *errstr,
                     size_t errstr_size)
{
    if (!s) return OF_OK;
    size_t len = strlen(s);
    if (len > max)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "%s: longer than %zu bytes (%zu)",
                         what, max, len);
    if (name && of_has_ctrl(s, len))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "%s: contains control characters",
                         what);
    return OF_OK;
}

char *oj_text(oj_reader *r, json_t *o, const char *path, const char *key, bool required, size_t max,
              bool name)
{
    json_t *v = oj_get(r, o, path, key, OJ_STRING, required);
    if (!v) return NULL;
    size_t len = json_string_length(v);
    const char *sv = json_string_value(v);
    if (required && len == 0) {
        oj_fail_at(r, path, key, "must not be empty");
        return NULL;
    }
    if (len > max) {
        oj_fail_at(r, path, key, "longer than %zu bytes (%zu)", max, len);
        return NULL;
    }
    if (strlen(sv) != len || (name && of_has_ctrl(sv, len))) {
        oj_fail_at(r, path, key, "contains control characters");
        return NULL;
    }
    return oj_dup(r, sv);
}

char *oj_str(oj_reader *r, json_t *o, const char *path, const char *key, bool required)
{
    return oj_text(r, o, path, key, required, OF_TEXT_MAX, false);
}

char *oj_name(oj_reader *r, json_t *o, const char *path, const char *key, bool required)
{
    return oj_text(r, o, path, key, required, OF_NAME_MAX, true);
}

void oj_id(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
           char out[OF_UUID_STR_SIZE])
{
    out[0] = '\0';
    if (r->rc) return;
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) oj_fail_at(r, path, key, "missing");
        return;
    }
    if (!json_is_string(v) || !of_uuid_valid(json_string_value(v))) {
        oj_fail_at(r, path, key, "must be a UUID string");
        return;
    }
    of_id_copy(out, json_string_value(v));
}

void oj_read_ref(oj_reader *r, json_t *o, const char *path, const char *key, bool id_required,
                 const char *name_key, of_ref *out)
{
    memset(out, 0, sizeof *out);
    json_t *v = oj_get(r, o, path, key, OJ_OBJECT, id_required);
    if (!v) return;
    char sub[128];
    (void)snprintf(sub, sizeof sub, "%s%s.", path, key);
    out->id = oj_str(r, v, sub, "id", id_required);
    out->name = oj_name(r, v, sub, name_key ? name_key : "name", false);
}

void oj_str_list(oj_reader *r, json_t *o, const char *path, const char *key, char ***items,
                 size_t *n)
{
    oj_strv(r, json_object_get(o, key), path, key, OF_LIST_MAX, OF_TEXT_MAX, items, n);
}

void oj_schema(oj_reader *r, json_t *o, const char *want)
{
    if (r->rc) return;
    json_t *v = json_object_get(o, "schema");
    if (!v) {
        oj_fail(r, OF_ERR_INVALID, "schema: missing");
        return;
    }
    if (!json_is_string(v)) {
        oj_fail(r, OF_ERR_INVALID, "schema: must be a string");
        return;
    }
    /* want = "family/MAJOR"; accept "family/MAJOR" and "family/MAJOR.minor". */
    const char *got = json_string_value(v);
    const char *slash = strrchr(want, '/');
    OF_ASSERT(slash != NULL);
    size_t fam = (size_t)(slash - want) + 1; /* includes '/' */
    if (strncmp(got, want, fam) != 0) {
        oj_fail(r, OF_ERR_PROTOCOL, "schema: \"%s\" is not %.*s*", got, (int)fam, want);
        return;
    }
    const char *major = want + fam, *gmaj = got + fam;
    size_t mlen = strlen(major);
    if (strncmp(gmaj, major, mlen) != 0 || (gmaj[mlen] != '\0' && gmaj[mlen] != '.')) {
        oj_fail(r, OF_ERR_PROTOCOL, "schema: unsupported version \"%s\" (want %s)", got, want);
        return;
    }
}

char *of_job_dedupe_key(const char *job_id, int attempt, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s attempt %d;", job_id, attempt);
    return out;
}

char *of_job_comments(const char *job_id, int attempt, const char *release_name, int stage,
                      const char *stage_name, char *out, size_t out_size)
{
    const char *rel = release_name && *release_name ? release_name : "?";
    if (stage_name && *stage_name)
        snprintf(out, out_size, "octofleet job %s attempt %d; release %s stage %d (%s)", job_id,
                 attempt, rel, stage, stage_name);
    else
        snprintf(out, out_size, "octofleet job %s attempt %d; release %s stage %d", job_id, attempt,
                 rel, stage);
    return out;
}

/* ---- raw messages as JSON lines (octofleet topic) ---- */

/* p[0..n) in base64 (RFC 4648, padded) as a JSON string; NULL on allocation failure. */
static json_t *base64_string(const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    size_t olen = (n + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    if (!o) return NULL;
    char *w = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        *w++ = tbl[(v >> 18) & 63];
        *w++ = tbl[(v >> 12) & 63];
        *w++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *w++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    json_t *j = json_stringn(o, olen);
    free(o);
    return j;
}

/* The bytes as a JSON string, or in base64 when they are not UTF-8. jansson refuses bytes that
 * are not UTF-8 (RFC 3629: no overlong forms, no surrogates) and escapes the rest; it returns
 * NULL for both that and an allocation failure, which then costs base64 instead of text. */
static json_t *bytes_string(const void *p, size_t n, bool *is_base64)
{
    json_t *j = json_stringn(p, n);
    *is_base64 = j == NULL;
    return j ? j : base64_string(p, n);
}

/* "name": string or null, or "name": null, "name_base64": "...". */
static void set_bytes(json_t *o, const char *name, const void *p, size_t n, bool *bad)
{
    if (!p) {
        oj_set(o, name, json_null(), bad);
        return;
    }
    bool b64;
    json_t *v = bytes_string(p, n, &b64);
    if (!b64) {
        oj_set(o, name, v, bad);
        return;
    }
    char name_b64[64];
    snprintf(name_b64, sizeof name_b64, "%s_base64", name);
    oj_set(o, name, json_null(), bad);
    oj_set(o, name_b64, v, bad);
}

static json_t *dump_headers(const of_dump_message *m, bool *bad)
{
    json_t *h = json_object();
    if (!h) {
        *bad = true;
        return NULL;
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        const of_dump_header *hd = &m->headers[i];
        bool later = false; /* a repeated name keeps its last value */
        for (size_t k = i + 1; k < m->nheaders && !later; k++)
            later = strcmp(m->headers[k].name, hd->name) == 0;
        if (later) continue;
        json_t *name = json_string(hd->name); /* NULL: not UTF-8, left out */
        if (!name) continue;
        json_decref(name);
        bool b64;
        oj_set(h, hd->name, hd->value ? bytes_string(hd->value, hd->value_len, &b64) : json_null(),
               bad);
    }
    return h;
}

of_err of_dump_line_encode(const of_dump_message *m, char **out)
{
    bool bad = false;
    json_t *o = json_object();
    if (o) {
        oj_set(o, "topic", json_string(m->topic), &bad);
        oj_set_int(o, "partition", m->partition, &bad);
        oj_set_int(o, "offset", m->offset, &bad);
        oj_set_int(o, "timestamp_ms", m->timestamp_ms, &bad);
        set_bytes(o, "key", m->key, m->key_len, &bad);
        oj_set(o, "headers", dump_headers(m, &bad), &bad);
        set_bytes(o, "value", m->value, m->value_len, &bad);
    }
    return oj_dump(o, bad, out);
}

of_err of_delivery_line_encode(const char *topic, int32_t partition, int64_t offset, char **out)
{
    bool bad = false;
    json_t *o = json_object();
    if (o) {
        oj_set(o, "topic", json_string(topic), &bad);
        oj_set_int(o, "partition", partition, &bad);
        oj_set_int(o, "offset", offset, &bad);
    }
    return oj_dump(o, bad, out);
}
