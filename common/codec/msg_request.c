/* Release request: schema validation that collects every problem with its field path,
 * and the canonical encoding. Names are checked against Octopus later (producer/plan.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "msg.h"
#include "msg_json.h"
#include "tz.h"

/* A week: longer than any deployment; a larger value is a unit mistake ("7d" typed as
 * seconds), not a policy. */
#define TIMEOUT_MAX_S (7 * 24 * 3600)

typedef struct vctx {
    of_errlist *errs;
    of_err rc; /* OF_ERR_NOMEM wins over OF_ERR_INVALID */
} vctx;

__attribute__((format(printf, 2, 3))) static void verr(vctx *c, const char *fmt, ...)
{
    char tmp[768];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (of_errlist_add(c->errs, "%s", tmp) != OF_OK) c->rc = OF_ERR_NOMEM;
    if (c->rc == OF_OK) c->rc = OF_ERR_INVALID;
}

/* Validates a name string; returns a copy or NULL (error recorded unless absent and
 * optional). */
static char *vname(vctx *c, json_t *v, const char *path, bool required)
{
    if (!v) {
        if (required) verr(c, "%s: missing", path);
        return NULL;
    }
    if (!json_is_string(v)) {
        verr(c, "%s: must be a string", path);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) {
        verr(c, "%s: must not be empty", path);
        return NULL;
    }
    /* Octopus names are at most 200 characters; OF_NAME_MAX keeps a hostile request from
     * inflating ids, logs and events. */
    if (len > OF_NAME_MAX) {
        verr(c, "%s: longer than %d bytes", path, OF_NAME_MAX);
        return NULL;
    }
    if (strlen(s) != len || of_has_ctrl(s, len)) {
        verr(c, "%s: contains control characters", path);
        return NULL;
    }
    char *d = strdup(s);
    if (!d) c->rc = OF_ERR_NOMEM;
    return d;
}

static void unknown_keys(vctx *c, json_t *o, const char *path, const char *const *known)
{
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        (void)val;
        /* Top-level fields named "x-..." are annotations for people and tools (`octofleet
         * import` writes "x-import-notes"): kept in the file, ignored. No typo starts so. */
        if (!*path && strncmp(key, "x-", 2) == 0) continue;
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, key) == 0) ok = true;
        if (ok) continue;
        const char *near = of_nearest(key, known);
        verr(c, "%s%s%s: unknown field%s%s%s", path, *path ? "." : "", key,
             near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    }
}

/* A non-empty array of unique names. */
static void vname_list(vctx *c, json_t *v, const char *path, bool allow_single, char ***out,
                       size_t *n, bool (*check)(vctx *, const char *, const char *))
{
    *out = NULL;
    *n = 0;
    if (allow_single && json_is_string(v)) {
        char *s = vname(c, v, path, true);
        if (!s) return;
        if (check && !check(c, path, s)) {
            free(s);
            return;
        }
        *out = malloc(sizeof **out);
        if (!*out) {
            free(s);
            c->rc = OF_ERR_NOMEM;
            return;
        }
        (*out)[0] = s;
        *n = 1;
        return;
    }
    if (!json_is_array(v)) {
        verr(c, "%s: must be an array of names", path);
        return;
    }
    size_t cnt = json_array_size(v);
    if (cnt == 0) {
        verr(c, "%s: must not be empty", path);
        return;
    }
    char **arr = calloc(cnt, sizeof *arr);
    if (!arr) {
        c->rc = OF_ERR_NOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        char p[160];
        (void)snprintf(p, sizeof p, "%s[%zu]", path, i);
        char *s = vname(c, json_array_get(v, i), p, true);
        if (!s) continue;
        if (check && !check(c, p, s)) {
            free(s);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++) {
            if (strcmp(arr[j], s) == 0) {
                verr(c, "%s: duplicate \"%s\"", p, s);
                dup = true;
                break;
            }
        }
        if (dup) {
            free(s);
            continue;
        }
        arr[k++] = s;
    }
    *out = arr;
    *n = k;
}

/* Canonical tag: "TagSet/Tag", both parts non-empty. */
static bool check_tag(vctx *c, const char *path, const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash[1] == '\0' || strchr(slash + 1, '/')) {
        verr(c, "%s: \"%s\" must be a canonical tag \"TagSet/Tag\"", path, s);
        return false;
    }
    return true;
}

static void parse_tenants(vctx *c, json_t *v, of_tenant_sel *t)
{
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "all") == 0)
            t->all = true;
        else
            verr(c, "tenants: must be \"all\" or an object {\"names\": [...], \"tags\": [...]}");
        return;
    }
    if (!json_is_object(v)) {
        verr(c, "tenants: must be \"all\" or an object {\"names\": [...], \"tags\": [...]}");
        return;
    }
    static const char *const known[] = {"names", "tags", NULL};
    unknown_keys(c, v, "tenants", known);
    json_t *names = json_object_get(v, "names");
    json_t *tags = json_object_get(v, "tags");
    if (names) vname_list(c, names, "tenants.names", false, &t->names, &t->n_names, NULL);
    if (tags) vname_list(c, tags, "tenants.tags", false, &t->tags, &t->n_tags, check_tag);
    if (!names && !tags) verr(c, "tenants: select at least one name or tag, or use \"all\"");
}

static void parse_entry(vctx *c, json_t *v, const char *path, of_stage_entry *e)
{
    if (!json_is_object(v)) {
        verr(c, "%s: must be an object {\"project\": ..., \"version\": ...}", path);
        return;
    }
    static const char *const known[] = {"project", "version", "skip", "from", "condition", NULL};
    unknown_keys(c, v, path, known);
    char p[200];
    (void)snprintf(p, sizeof p, "%s.project", path);
    e->project = vname(c, json_object_get(v, "project"), p, true);
    json_t *skip = json_object_get(v, "skip");
    if (skip && !json_is_boolean(skip)) {
        (void)snprintf(p, sizeof p, "%s.skip", path);
        verr(c, "%s: must be true or false", p);
    } else {
        e->skip = skip && json_is_true(skip);
    }
    /* A skipped entry needs no version: the point of skip is to leave the project out
     * without editing the rest of the train. */
    (void)snprintf(p, sizeof p, "%s.version", path);
    e->version = vname(c, json_object_get(v, "version"), p, !e->skip);
    json_t *from = json_object_get(v, "from");
    if (from) {
        (void)snprintf(p, sizeof p, "%s.from", path);
        e->from = vname(c, from, p, true);
        if (e->from && e->version && strcmp(e->from, e->version) == 0)
            verr(c, "%s: is the version itself; a hotfix replaces another version", p);
    }
    json_t *cond = json_object_get(v, "condition");
    if (cond) {
        const char *s = json_is_string(cond) ? json_string_value(cond) : "";
        for (int k = 0; k < OF_CONDITION__COUNT && !e->has_condition; k++)
            if (strcmp(s, of_condition_name((of_condition)k)) == 0) {
                e->has_condition = true;
                e->condition = (of_condition)k;
            }
        if (!e->has_condition)
            verr(c, "%s.condition: must be \"%s\" or \"%s\"", path,
                 of_condition_name(OF_CONDITION_ALWAYS),
                 of_condition_name(OF_CONDITION_IF_NOT_CURRENT));
    }
}

/* A "proceed" object at path (policy.proceed or stages[i].proceed): exactly one of
 * {"min_success_ratio": r} (0 < r <= 1) or {"max_failures": n} (n >= 0). */
#define MAX_FAILURES_MAX 1000000000
static void parse_proceed(vctx *c, json_t *v, const char *path, of_proceed *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v)) {
        verr(c, "%s: must be an object {\"min_success_ratio\": 0.95} or {\"max_failures\": 3}",
             path);
        return;
    }
    static const char *const known[] = {"min_success_ratio", "max_failures", NULL};
    unknown_keys(c, v, path, known);
    json_t *r = json_object_get(v, "min_success_ratio"), *m = json_object_get(v, "max_failures");
    if (r && m) {
        verr(c, "%s: give one of min_success_ratio or max_failures, not both", path);
        return;
    }
    if (r) {
        double x = json_is_number(r) ? json_number_value(r) : -1;
        if (!json_is_number(r) || !(x > 0 && x <= 1))
            verr(c, "%s.min_success_ratio: must be a number above 0 and at most 1 (0.95 = 95 %%)",
                 path);
        else
            *out = (of_proceed){OF_PROCEED_RATIO, x, 0};
    } else if (m) {
        json_int_t n = json_is_integer(m) ? json_integer_value(m) : -1;
        if (n < 0 || n > MAX_FAILURES_MAX)
            verr(c, "%s.max_failures: must be an integer from 0 to %d", path, MAX_FAILURES_MAX);
        else
            *out = (of_proceed){OF_PROCEED_MAX_FAILURES, 0, (int64_t)n};
    } else if (json_object_size(v) == 0) {
        verr(c, "%s: give min_success_ratio or max_failures", path);
    }
}

/* An "approval" object at path (policy.approval or stages[i].approval):
 * {"required": true, "by": ["Release Managers", "jane"]}; "required" defaults to true. */
static void parse_approval(vctx *c, json_t *v, const char *path, of_approval_req *out)
{
    char p[192];
    if (!json_is_object(v)) {
        verr(c, "%s: must be an object {\"required\": true, \"by\": [\"Release Managers\"]}", path);
        return;
    }
    static const char *const known[] = {"required", "by", NULL};
    unknown_keys(c, v, path, known);
    json_t *req = json_object_get(v, "required");
    out->required = true;
    if (req && !json_is_boolean(req))
        verr(c, "%s.required: must be true or false", path);
    else if (req)
        out->required = json_is_true(req);
    json_t *by = json_object_get(v, "by");
    if (by) {
        (void)snprintf(p, sizeof p, "%s.by", path);
        vname_list(c, by, p, true, &out->by, &out->n_by, NULL);
    }
}

static json_t *approval_json(const of_approval_req *a, bool *bad)
{
    json_t *o = json_object();
    if (!o) {
        *bad = true;
        return NULL;
    }
    oj_set_bool(o, "required", a->required, bad);
    if (a->n_by) oj_set(o, "by", oj_str_array(a->by, a->n_by, bad), bad);
    return o;
}

static void parse_stages(vctx *c, json_t *v, of_request *req)
{
    if (!v) {
        verr(c, "stages: missing");
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        verr(c, "stages: must be a non-empty array");
        return;
    }
    size_t ns = json_array_size(v);
    req->stages = calloc(ns, sizeof *req->stages);
    if (!req->stages) {
        c->rc = OF_ERR_NOMEM;
        return;
    }
    req->n_stages = ns;
    /* Remember each stage's form so later messages use the path the user wrote. */
    bool *objform = calloc(ns, sizeof *objform);
    if (!objform) {
        c->rc = OF_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < ns; i++) {
        json_t *sv = json_array_get(v, i);
        of_stage *st = &req->stages[i];
        char base[64], p[192];
        (void)snprintf(base, sizeof base, "stages[%zu]", i);
        json_t *entries = NULL;
        /* Entry paths: stages[1][0] for the bare form, stages[1].projects[0] otherwise. */
        const char *epfx = base;
        char objpfx[96];
        if (json_is_array(sv)) {
            entries = sv;
        } else if (json_is_object(sv)) {
            static const char *const known[] = {"name", "projects", "proceed", "approval", NULL};
            objform[i] = true;
            unknown_keys(c, sv, base, known);
            json_t *name = json_object_get(sv, "name");
            if (name) {
                (void)snprintf(p, sizeof p, "%s.name", base);
                st->name = vname(c, name, p, false);
            }
            json_t *proceed = json_object_get(sv, "proceed");
            if (proceed) {
                (void)snprintf(p, sizeof p, "%s.proceed", base);
                parse_proceed(c, proceed, p, &st->proceed);
                st->has_proceed = true;
            }
            json_t *approval = json_object_get(sv, "approval");
            if (approval) {
                (void)snprintf(p, sizeof p, "%s.approval", base);
                parse_approval(c, approval, p, &st->approval);
            }
            entries = json_object_get(sv, "projects");
            (void)snprintf(objpfx, sizeof objpfx, "%s.projects", base);
            epfx = objpfx;
            if (!entries) {
                verr(c, "%s: missing", objpfx);
                continue;
            }
            if (!json_is_array(entries)) {
                verr(c, "%s: must be an array", objpfx);
                continue;
            }
        } else {
            verr(c, "%s: must be an array of {project, version} or an object with \"projects\"",
                 base);
            continue;
        }
        size_t ne = json_array_size(entries);
        if (ne == 0) {
            verr(c, "%s: must list at least one project", epfx);
            continue;
        }
        st->entries = calloc(ne, sizeof *st->entries);
        if (!st->entries) {
            c->rc = OF_ERR_NOMEM;
            free(objform);
            return;
        }
        st->n_entries = ne;
        for (size_t j = 0; j < ne; j++) {
            (void)snprintf(p, sizeof p, "%s[%zu]", epfx, j);
            parse_entry(c, json_array_get(entries, j), p, &st->entries[j]);
        }
    }
    /* A project appears once per train: twice would deploy it twice in one train, which
     * is always a typo (and makes "which version?" ambiguous). */
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < req->stages[i].n_entries; j++) {
            const char *pj = req->stages[i].entries[j].project;
            if (!pj) continue;
            bool found = false;
            for (size_t a = 0; a <= i && !found; a++) {
                size_t lim = a == i ? j : req->stages[a].n_entries;
                for (size_t b = 0; b < lim && !found; b++) {
                    const char *q = req->stages[a].entries[b].project;
                    if (q && strcmp(q, pj) == 0) {
                        verr(c,
                             "stages[%zu]%s[%zu].project: \"%s\" already listed in "
                             "stages[%zu]%s[%zu]",
                             i, objform[i] ? ".projects" : "", j, pj, a,
                             objform[a] ? ".projects" : "", b);
                        found = true;
                    }
                }
            }
        }
    }
    free(objform);
}

static void parse_time_field(vctx *c, json_t *pol, const char *key, char **out, int64_t *ms)
{
    json_t *v = json_object_get(pol, key);
    if (!v || json_is_null(v)) return;
    if (!json_is_string(v) || of_parse_rfc3339(json_string_value(v), ms) != 0) {
        verr(c, "policy.%s: must be an RFC 3339 time such as \"2026-05-05T21:00:00Z\"", key);
        return;
    }
    *out = strdup(json_string_value(v));
    if (!*out) c->rc = OF_ERR_NOMEM;
}

/* policy.<key>, one of n names (name(0) .. name(n - 1)): its index; -1 after recording
 * "policy.<key>: must be "a", "b" or "c"" when it is none of them; -2 when absent. */
static int vchoice(vctx *c, json_t *pol, const char *key, const char *(*name)(int), int n)
{
    json_t *v = json_object_get(pol, key);
    if (!v) return -2;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, name(i)) == 0) return i;
    char list[160] = "";
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"",
                                 i == 0       ? ""
                                 : i == n - 1 ? " or "
                                              : ", ",
                                 name(i));
    verr(c, "policy.%s: must be %s", key, list);
    return -1;
}

static const char *condition_name(int i)
{
    return of_condition_name((of_condition)i);
}

static const char *gate_name(int i)
{
    return of_gate_mode_name((of_gate_mode)i);
}

static const char *lane_failure_name(int i)
{
    return of_lane_failure_name((of_lane_failure)i);
}

/* "priority": an integer in [OF_PRIORITY_MIN, OF_PRIORITY_MAX], higher first; 0 if absent. */
static int parse_priority(vctx *c, json_t *v)
{
    if (!v || json_is_null(v)) return 0;
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    if (!json_is_integer(v) || n < OF_PRIORITY_MIN || n > OF_PRIORITY_MAX) {
        verr(c, "priority: must be an integer between %d and %d", OF_PRIORITY_MIN, OF_PRIORITY_MAX);
        return 0;
    }
    return (int)n;
}

/* "HH:MM" (24-hour) -> minutes after midnight, or -1. */
static int parse_hhmm(json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strlen(s) != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

/* policy.windows: [{"tenant_tag": "Set/Tag", "start_between": ["22:00", "04:00"],
 * "timezone": "Australia/Sydney"}, ...]. The zone must exist on this host (the producer's
 * zoneinfo decides when the window opens). */
static void parse_windows(vctx *c, json_t *v, of_policy *pol)
{
    if (!v || json_is_null(v)) return;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || n == 0 || n > OF_WINDOWS_MAX) {
        verr(c,
             "policy.windows: must be an array of 1 to %d windows {\"tenant_tag\": ..., "
             "\"start_between\": [\"HH:MM\", \"HH:MM\"], \"timezone\": ...}",
             OF_WINDOWS_MAX);
        return;
    }
    pol->windows = calloc(n, sizeof *pol->windows);
    if (!pol->windows) {
        c->rc = OF_ERR_NOMEM;
        return;
    }
    pol->n_windows = n;
    static const char *const known[] = {"tenant_tag", "start_between", "timezone", NULL};
    for (size_t i = 0; i < n; i++) {
        json_t *w = json_array_get(v, i);
        of_window *win = &pol->windows[i];
        char base[48], p[96];
        (void)snprintf(base, sizeof base, "policy.windows[%zu]", i);
        if (!json_is_object(w)) {
            verr(c, "%s: must be an object {\"tenant_tag\", \"start_between\", \"timezone\"}",
                 base);
            continue;
        }
        unknown_keys(c, w, base, known);
        (void)snprintf(p, sizeof p, "%s.tenant_tag", base);
        win->tenant_tag = vname(c, json_object_get(w, "tenant_tag"), p, true);
        if (win->tenant_tag && !check_tag(c, p, win->tenant_tag)) {
            free(win->tenant_tag);
            win->tenant_tag = NULL;
        }
        (void)snprintf(p, sizeof p, "%s.start_between", base);
        json_t *sb = json_object_get(w, "start_between");
        int a = -1, b = -1;
        if (json_is_array(sb) && json_array_size(sb) == 2) {
            a = parse_hhmm(json_array_get(sb, 0));
            b = parse_hhmm(json_array_get(sb, 1));
        }
        if (!sb)
            verr(c, "%s: missing", p);
        else if (a < 0 || b < 0)
            verr(c,
                 "%s: must be two local times [\"HH:MM\", \"HH:MM\"] (24-hour, e.g. "
                 "[\"22:00\", \"04:00\"])",
                 p);
        else if (a == b)
            verr(c,
                 "%s: start and end are the same time (leave the tenants out of "
                 "policy.windows to start them at any time)",
                 p);
        win->start_min = a;
        win->end_min = b;
        (void)snprintf(p, sizeof p, "%s.timezone", base);
        win->timezone = vname(c, json_object_get(w, "timezone"), p, true);
        if (!win->timezone) continue;
        of_tz *tz = NULL;
        char why[256] = "";
        of_err rc = of_tz_name_ok(win->timezone)
                        ? of_tz_load(NULL, win->timezone, &tz, why, sizeof why)
                        : OF_ERR_INVALID;
        of_tz_free(tz);
        if (rc == OF_ERR_NOMEM)
            c->rc = OF_ERR_NOMEM;
        else if (rc == OF_ERR_INVALID || rc == OF_ERR_NOT_FOUND)
            verr(c,
                 "%s: \"%.80s\" is not an IANA time zone (e.g. \"Australia/Sydney\", "
                 "\"Europe/London\", \"UTC\")",
                 p, win->timezone);
        else if (rc)
            verr(c, "%s: %s", p, why);
    }
}

/* policy.stage_deadline: "2h" (from each stage's start in an environment) or an RFC 3339 time. */
static void parse_stage_deadline(vctx *c, json_t *v, of_policy *pol)
{
    if (!v || json_is_null(v)) return;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    int64_t ms = 0;
    of_duration_status st = s ? of_duration_parse(s, &ms) : OF_DURATION_SYNTAX;
    if (s && of_parse_rfc3339(s, &pol->stage_deadline_at_ms) == 0) {
        /* an absolute time */
    } else if (st == OF_DURATION_OK && ms >= 1000 && ms <= (int64_t)TIMEOUT_MAX_S * 1000) {
        pol->stage_deadline_ms = ms;
    } else {
        if (st == OF_DURATION_OK || st == OF_DURATION_RANGE)
            verr(c, "policy.stage_deadline: must be between 1s and 7 days after the stage's "
                    "start");
        else
            verr(c, "policy.stage_deadline: must be a duration from the stage's start such as "
                    "\"2h\" or \"45m\", or an RFC 3339 time such as \"2026-05-05T21:00:00Z\"");
        return;
    }
    pol->stage_deadline = strdup(s);
    if (!pol->stage_deadline) c->rc = OF_ERR_NOMEM;
}

static json_t *encode_windows(const of_policy *p, bool *bad)
{
    json_t *arr = json_array();
    if (!arr) *bad = true;
    for (size_t i = 0; arr && i < p->n_windows; i++) {
        const of_window *w = &p->windows[i];
        char a[8], b[8];
        (void)snprintf(a, sizeof a, "%02d:%02d", w->start_min / 60 % 24, w->start_min % 60);
        (void)snprintf(b, sizeof b, "%02d:%02d", w->end_min / 60 % 24, w->end_min % 60);
        json_t *o = json_object(), *sb = json_array();
        if (!o || !sb) *bad = true;
        oj_append(sb, json_string(a), bad);
        oj_append(sb, json_string(b), bad);
        oj_set_str(o, "tenant_tag", w->tenant_tag, bad);
        oj_set(o, "start_between", sb, bad);
        oj_set_str(o, "timezone", w->timezone, bad);
        oj_append(arr, o, bad);
    }
    return arr;
}

static void parse_policy(vctx *c, json_t *v, of_policy *pol)
{
    pol->on_failure = OF_ON_FAILURE_PAUSE;
    pol->condition = OF_CONDITION_ALWAYS;
    if (!v || json_is_null(v)) return;
    if (!json_is_object(v)) {
        verr(c, "policy: must be an object");
        return;
    }
    static const char *const known[] = {
        "on_failure",     "timeout",    "cancel_on_timeout", "condition",
        "guided_failure", "queue_time", "queue_time_expiry", "gate",
        "lane_failure",   "windows",    "stage_deadline",    "proceed",
        "approval",       NULL};
    unknown_keys(c, v, "policy", known);

    json_t *of = json_object_get(v, "on_failure");
    if (of && !(json_is_string(of) && strcmp(json_string_value(of), "pause") == 0))
        verr(c, "policy.on_failure: only \"pause\" is supported");

    json_t *to = json_object_get(v, "timeout");
    if (to && !json_is_null(to)) {
        /* A JSON number is seconds (JSON carries no unit); a string is a duration with its
         * unit, parsed like every duration of the project (of_duration_parse). */
        int64_t s = -1, ms = 0;
        of_duration_status st = OF_DURATION_OK;
        bool typed = true;
        if (json_is_integer(to))
            s = (int64_t)json_integer_value(to);
        else if (json_is_string(to)) {
            st = of_duration_parse(json_string_value(to), &ms);
            if (st == OF_DURATION_RANGE) st = OF_DURATION_OK, ms = INT64_MAX / 1000 * 1000;
            if (st == OF_DURATION_OK) s = ms % 1000 ? -2 : ms / 1000;
        } else
            typed = false;
        if (!typed)
            verr(c, "policy.timeout: must be seconds or a duration string such as \"30m\"");
        else if (st == OF_DURATION_NO_UNIT)
            verr(c,
                 "policy.timeout: \"%.64s\" has no unit: write \"%.64ss\" for seconds, or use "
                 "\"30m\", \"2h\", \"1h30m\"",
                 json_string_value(to), json_string_value(to));
        else if (st != OF_DURATION_OK)
            verr(c,
                 "policy.timeout: \"%.64s\" is not a duration (use e.g. \"90s\", \"30m\", "
                 "\"2h\", \"1h30m\")",
                 json_string_value(to));
        else if (s == -2)
            verr(c, "policy.timeout: must be whole seconds (\"90s\", not \"%.64s\")",
                 json_string_value(to));
        else if (s <= 0 || s > TIMEOUT_MAX_S)
            verr(c, "policy.timeout: must be between 1s and 7 days (\"90s\", \"30m\", \"2h\")");
        else
            pol->timeout_s = s;
    }

    json_t *cot = json_object_get(v, "cancel_on_timeout");
    if (cot) {
        if (!json_is_boolean(cot))
            verr(c, "policy.cancel_on_timeout: must be true or false");
        else
            pol->cancel_on_timeout = json_is_true(cot);
        if (pol->cancel_on_timeout && !(to && !json_is_null(to)))
            verr(c, "policy.cancel_on_timeout: needs policy.timeout");
    }

    int k = vchoice(c, v, "condition", condition_name, OF_CONDITION__COUNT);
    if (k >= 0) pol->condition = (of_condition)k;
    int gate = vchoice(c, v, "gate", gate_name, OF_GATE_MODE__COUNT);
    if (gate >= 0) pol->gate = (of_gate_mode)gate;
    k = vchoice(c, v, "lane_failure", lane_failure_name, OF_LANE_FAILURE__COUNT);
    if (k >= 0) pol->lane_failure = (of_lane_failure)k;
    /* Without lanes there is nothing a failure could stop but everything. */
    if (k >= 0 && gate != -1 && pol->gate != OF_GATE_TENANT)
        verr(c, "policy.lane_failure: needs policy.gate \"tenant\"");

    json_t *proceed = json_object_get(v, "proceed");
    if (proceed) parse_proceed(c, proceed, "policy.proceed", &pol->proceed);
    json_t *approval = json_object_get(v, "approval");
    if (approval) parse_approval(c, approval, "policy.approval", &pol->approval);

    json_t *gf = json_object_get(v, "guided_failure");
    if (gf) {
        if (!json_is_boolean(gf))
            verr(c, "policy.guided_failure: must be true or false");
        else
            pol->guided_failure = json_is_true(gf);
    }

    int64_t qt = 0, qte = 0;
    parse_time_field(c, v, "queue_time", &pol->queue_time, &qt);
    parse_time_field(c, v, "queue_time_expiry", &pol->queue_time_expiry, &qte);
    if (pol->queue_time_expiry && !pol->queue_time)
        verr(c, "policy.queue_time_expiry: needs policy.queue_time");
    if (pol->queue_time && pol->queue_time_expiry && qte <= qt)
        verr(c, "policy.queue_time_expiry: must be after policy.queue_time");
    parse_windows(c, json_object_get(v, "windows"), pol);
    parse_stage_deadline(c, json_object_get(v, "stage_deadline"), pol);
}

of_err of_request_parse(const char *json, size_t len, of_request **out, of_errlist *errs)
{
    *out = NULL;
    char why[256];
    json_t *root = NULL;
    of_err rc = oj_load(json, len, &root, why, sizeof why);
    if (rc) {
        if (of_errlist_add(errs, "request: %s", why) != OF_OK) return OF_ERR_NOMEM;
        return rc;
    }
    of_request *req = calloc(1, sizeof *req);
    if (!req) {
        json_decref(root);
        return OF_ERR_NOMEM;
    }
    vctx c = {errs, OF_OK};
    static const char *const known[] = {"release", "space",  "environments", "tenants",
                                        "stages",  "policy", "priority",     NULL};
    unknown_keys(&c, root, "", known);
    req->release = vname(&c, json_object_get(root, "release"), "release", true);
    json_t *space = json_object_get(root, "space");
    if (space) {
        req->space = vname(&c, space, "space", true);
    } else {
        /* Every Octopus instance has a "Default" space; most users never name another. */
        req->space = strdup("Default");
        if (!req->space) c.rc = OF_ERR_NOMEM;
    }
    json_t *envs = json_object_get(root, "environments");
    if (!envs)
        verr(&c, "environments: missing");
    else
        vname_list(&c, envs, "environments", true, &req->environments, &req->n_environments, NULL);
    parse_tenants(&c, json_object_get(root, "tenants"), &req->tenants);
    parse_stages(&c, json_object_get(root, "stages"), req);
    parse_policy(&c, json_object_get(root, "policy"), &req->policy);
    req->priority = parse_priority(&c, json_object_get(root, "priority"));
    /* Lanes have no stage barrier to let failures through: their allowance is the release's. */
    for (size_t i = 0; i < req->n_stages && req->policy.gate == OF_GATE_TENANT; i++)
        if (req->stages[i].has_proceed)
            verr(&c,
                 "stages[%zu].proceed: needs policy.gate \"stage\" (with lanes policy.proceed "
                 "counts the release as a whole)",
                 i);
    json_decref(root);
    if (c.rc) {
        of_request_free(req);
        return c.rc;
    }
    *out = req;
    return OF_OK;
}

/* {"min_success_ratio": r} or {"max_failures": n}; {} for "all must succeed". */
static json_t *proceed_json(const of_proceed *p, bool *bad)
{
    json_t *o = json_object();
    if (!o) {
        *bad = true;
        return NULL;
    }
    if (p->kind == OF_PROCEED_RATIO) {
        json_t *r = json_real(p->min_success_ratio);
        if (!r) *bad = true;
        oj_set(o, "min_success_ratio", r, bad);
    } else if (p->kind == OF_PROCEED_MAX_FAILURES) {
        oj_set_int(o, "max_failures", p->max_failures, bad);
    }
    return o;
}

of_err of_request_encode(const of_request *req, char **out)
{
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set_str(root, "release", req->release, &bad);
    oj_set_str(root, "space", req->space, &bad);
    oj_set(root, "environments", oj_str_array(req->environments, req->n_environments, &bad), &bad);
    if (req->tenants.all) {
        oj_set(root, "tenants", json_string("all"), &bad);
    } else if (req->tenants.n_names || req->tenants.n_tags) {
        json_t *t = json_object();
        if (!t) bad = true;
        if (t && req->tenants.n_names)
            oj_set(t, "names", oj_str_array(req->tenants.names, req->tenants.n_names, &bad), &bad);
        if (t && req->tenants.n_tags)
            oj_set(t, "tags", oj_str_array(req->tenants.tags, req->tenants.n_tags, &bad), &bad);
        oj_set(root, "tenants", t, &bad);
    }
    json_t *stages = json_array();
    if (!stages) bad = true;
    for (size_t i = 0; stages && i < req->n_stages; i++) {
        const of_stage *st = &req->stages[i];
        json_t *so = json_object(), *pa = json_array();
        if (!so || !pa) bad = true;
        if (so && st->name) oj_set_str(so, "name", st->name, &bad);
        if (so && st->has_proceed) oj_set(so, "proceed", proceed_json(&st->proceed, &bad), &bad);
        if (so && (st->approval.required || st->approval.n_by))
            oj_set(so, "approval", approval_json(&st->approval, &bad), &bad);
        for (size_t j = 0; pa && j < st->n_entries; j++) {
            json_t *e = json_object();
            if (!e) {
                bad = true;
                break;
            }
            oj_set_str(e, "project", st->entries[j].project, &bad);
            oj_set_str(e, "version", st->entries[j].version, &bad);
            if (st->entries[j].skip) oj_set_bool(e, "skip", true, &bad);
            if (st->entries[j].from) oj_set_str(e, "from", st->entries[j].from, &bad);
            if (st->entries[j].has_condition)
                oj_set_str(e, "condition", of_condition_name(st->entries[j].condition), &bad);
            oj_append(pa, e, &bad);
        }
        if (so)
            oj_set(so, "projects", pa, &bad);
        else
            json_decref(pa);
        oj_append(stages, so, &bad);
    }
    oj_set(root, "stages", stages, &bad);
    const of_policy *p = &req->policy;
    json_t *pol = json_object();
    if (pol) {
        oj_set(pol, "on_failure", json_string("pause"), &bad);
        if (p->timeout_s) oj_set_int(pol, "timeout", p->timeout_s, &bad);
        oj_set_bool(pol, "cancel_on_timeout", p->cancel_on_timeout, &bad);
        oj_set(pol, "condition", json_string(of_condition_name(p->condition)), &bad);
        oj_set_bool(pol, "guided_failure", p->guided_failure, &bad);
        oj_set_str(pol, "queue_time", p->queue_time, &bad);
        oj_set_str(pol, "queue_time_expiry", p->queue_time_expiry, &bad);
        oj_set(pol, "gate", json_string(of_gate_mode_name(p->gate)), &bad);
        if (p->gate == OF_GATE_TENANT)
            oj_set(pol, "lane_failure", json_string(of_lane_failure_name(p->lane_failure)), &bad);
        if (p->n_windows) oj_set(pol, "windows", encode_windows(p, &bad), &bad);
        oj_set_str(pol, "stage_deadline", p->stage_deadline, &bad);
        if (p->proceed.kind != OF_PROCEED_ALL)
            oj_set(pol, "proceed", proceed_json(&p->proceed, &bad), &bad);
        if (p->approval.required || p->approval.n_by)
            oj_set(pol, "approval", approval_json(&p->approval, &bad), &bad);
    }
    oj_set(root, "policy", pol, &bad);
    if (req->priority) oj_set_int(root, "priority", req->priority, &bad);
    return oj_dump(root, bad, out);
}

void of_request_free(of_request *req)
{
    if (!req) return;
    free(req->release);
    free(req->space);
    of_strv_free(req->environments, req->n_environments);
    of_strv_free(req->tenants.names, req->tenants.n_names);
    of_strv_free(req->tenants.tags, req->tenants.n_tags);
    for (size_t i = 0; i < req->n_stages; i++) {
        of_stage *st = &req->stages[i];
        free(st->name);
        of_strv_free(st->approval.by, st->approval.n_by);
        for (size_t j = 0; j < st->n_entries; j++) {
            free(st->entries[j].project);
            free(st->entries[j].version);
            free(st->entries[j].from);
        }
        free(st->entries);
    }
    free(req->stages);
    free(req->policy.queue_time);
    free(req->policy.queue_time_expiry);
    for (size_t i = 0; i < req->policy.n_windows; i++) {
        free(req->policy.windows[i].tenant_tag);
        free(req->policy.windows[i].timezone);
    }
    free(req->policy.windows);
    free(req->policy.stage_deadline);
    of_strv_free(req->policy.approval.by, req->policy.approval.n_by);
    free(req);
}

of_err of_request_hotfix(const of_request *like, const of_hotfix *h, of_request **out,
                         of_errlist *errs)
{
    *out = NULL;
    bool bad = false;
    json_t *root = NULL;
    if (like) {
        /* the train's request as it encodes (policy in full), then its stages replaced */
        char *text = NULL;
        of_err rc = of_request_encode(like, &text);
        if (rc) return rc;
        char why[256];
        rc = oj_load(text, strlen(text), &root, why, sizeof why);
        free(text);
        if (rc) return rc;
    } else {
        root = json_object();
        if (!root) return OF_ERR_NOMEM;
        oj_set(root, "tenants", json_string("all"), &bad);
    }
    char name[600];
    if (!h->release)
        (void)snprintf(name, sizeof name, "hotfix %s %s", h->project ? h->project : "",
                       h->version ? h->version : "");
    oj_set_str(root, "release", h->release ? h->release : name, &bad);
    oj_set_str(root, "space", h->space, &bad);
    if (h->environments)
        oj_set(root, "environments", oj_str_array(h->environments, h->n_environments, &bad), &bad);
    if (h->tenant_names) {
        json_t *t = json_object();
        oj_set(t, "names", oj_str_array(h->tenant_names, h->n_tenant_names, &bad), &bad);
        oj_set(root, "tenants", t, &bad);
    }
    json_t *e = json_object();
    oj_set_str(e, "project", h->project, &bad);
    oj_set_str(e, "version", h->version, &bad);
    oj_set_str(e, "from", h->from, &bad);
    json_t *stage = json_array(), *stages = json_array();
    oj_append(stage, e, &bad);
    oj_append(stages, stage, &bad);
    oj_set(root, "stages", stages, &bad);
    oj_set_int(root, "priority", h->priority, &bad);
    char *text = NULL;
    of_err rc = oj_dump(root, bad, &text);
    if (rc) return rc;
    rc = of_request_parse(text, strlen(text), out, errs);
    free(text);
    return rc;
}

/* A new array of the n borrowed strings. */
static json_t *str_array(const char *const *v, size_t n, bool *bad)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        oj_append(a, json_string(v[i]), bad);
    if (!a) *bad = true;
    return a;
}

of_err of_request_draft_encode(const of_draft *d, char **out)
{
    *out = NULL;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    if (d->notes_key) oj_set(root, d->notes_key, str_array(d->notes, d->n_notes, &bad), &bad);
    oj_set_str(root, "release", d->release, &bad);
    oj_set_str(root, "space", d->space, &bad);
    oj_set(root, "environments", str_array(d->environments, d->n_environments, &bad), &bad);
    if (d->tenants_all) {
        oj_set(root, "tenants", json_string("all"), &bad);
    } else if (d->n_tenant_names || d->n_tenant_tags) {
        json_t *t = json_object();
        if (d->n_tenant_names)
            oj_set(t, "names", str_array(d->tenant_names, d->n_tenant_names, &bad), &bad);
        if (d->n_tenant_tags)
            oj_set(t, "tags", str_array(d->tenant_tags, d->n_tenant_tags, &bad), &bad);
        oj_set(root, "tenants", t, &bad);
    }
    json_t *stages = json_array();
    for (size_t i = 0; stages && i < d->n_stages; i++) {
        const of_draft_stage *st = &d->stages[i];
        json_t *pa = json_array();
        for (size_t j = 0; pa && j < st->n_entries; j++) {
            const of_draft_entry *de = &st->entries[j];
            json_t *e = json_object();
            oj_set_str(e, "project", de->project, &bad);
            oj_set_str(e, "version", de->version, &bad);
            if (de->condition >= 0 && de->condition < OF_CONDITION__COUNT)
                oj_set_str(e, "condition", of_condition_name((of_condition)de->condition), &bad);
            oj_append(pa, e, &bad);
        }
        if (st->name) {
            json_t *so = json_object();
            oj_set_str(so, "name", st->name, &bad);
            oj_set(so, "projects", pa, &bad);
            oj_append(stages, so, &bad);
        } else {
            oj_append(stages, pa, &bad);
        }
    }
    oj_set(root, "stages", stages, &bad);
    if (bad) {
        json_decref(root);
        return OF_ERR_NOMEM;
    }
    *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return *out ? OF_OK : OF_ERR_NOMEM;
}
