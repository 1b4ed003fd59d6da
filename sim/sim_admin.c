/* The /sim/ admin endpoints (no API key; loopback clients only) and the
 * in-process admin API of sim.h. Tests use these to inject faults, change
 * rules and the task cap, release held tasks, and inspect what was deployed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "sim_int.h"

/* ---- stats and faults (used by sim_http.c, mu held) ------------------------------ */

void sim_stats_count(ofsim *sim, const char *route)
{
    sim->total_requests++;
    for (int i = 0; i < sim->n_stats; i++)
        if (strcmp(sim->stats[i].route, route) == 0) {
            sim->stats[i].count++;
            return;
        }
    sim_stat *p = realloc(sim->stats, (size_t)(sim->n_stats + 1) * sizeof *p);
    OF_ASSERT(p);
    sim->stats = p;
    sim->stats[sim->n_stats++] = (sim_stat){sim_strdup(route), 1};
}

void sim_stats_status(ofsim *sim, int status)
{
    int k = status >= 100 && status < 600 ? status / 100 : 0;
    sim->status_counts[k]++;
}

static bool fault_matches(const sim_fault *f, const char *route)
{
    if (strcmp(f->route, "*") == 0) return true;
    size_t n = strlen(f->route);
    if (n > 0 && f->route[n - 1] == '*') return strncmp(f->route, route, n - 1) == 0;
    return strcmp(f->route, route) == 0;
}

/* A spent fault goes, so GET /sim/faults shows live ones only. */
static void fault_drop_spent(ofsim *sim, int i)
{
    sim_fault *f = &sim->faults[i];
    if (f->count != 0) return;
    sim_fault_clear(f);
    memmove(f, f + 1, (size_t)(sim->n_faults - i - 1) * sizeof *f);
    sim->n_faults--;
}

bool sim_fault_take(ofsim *sim, const sim_req *r, sim_fault *out)
{
    for (int i = 0; i < sim->n_faults; i++) {
        sim_fault *f = &sim->faults[i];
        if (f->count == 0 || f->event_mask || !fault_matches(f, r->route)) continue;
        if (f->arg && !sim_arg(r, f->arg)) continue;
        if (f->count > 0) f->count--;
        *out = *f;
        out->route = NULL;
        out->arg = NULL;
        out->error = sim_strdup(f->error);
        out->body = sim_strdup(f->body);
        out->corrupt_task = sim_strdup(f->corrupt_task);
        out->corrupt_how = sim_strdup(f->corrupt_how);
        fault_drop_spent(sim, i);
        return true;
    }
    return false;
}

bool sim_event_fault_take(ofsim *sim, sim_ecat cat, bool *drop, int64_t *delay_ms)
{
    *drop = false;
    *delay_ms = 0;
    for (int i = 0; i < sim->n_faults; i++) {
        sim_fault *f = &sim->faults[i];
        if (f->count == 0 || !(f->event_mask & (1u << cat))) continue;
        if (f->count > 0) f->count--;
        bool hit = f->percent >= 100 || sim_rand_range(&sim->event_rng, 0, 99) < f->percent;
        *drop = hit && f->drop;
        *delay_ms = hit ? f->delay_ms : 0;
        fault_drop_spent(sim, i);
        return hit;
    }
    return false;
}

void sim_fault_clear(sim_fault *f)
{
    free(f->route), free(f->arg), free(f->error), free(f->body), free(f->corrupt_task);
    free(f->corrupt_how);
    f->route = f->arg = f->error = f->body = f->corrupt_task = f->corrupt_how = NULL;
}

static void faults_clear(ofsim *sim)
{
    for (int i = 0; i < sim->n_faults; i++)
        sim_fault_clear(&sim->faults[i]);
    free(sim->faults);
    sim->faults = NULL;
    sim->n_faults = 0;
}

static void stats_clear(ofsim *sim)
{
    for (int i = 0; i < sim->n_stats; i++)
        free(sim->stats[i].route);
    free(sim->stats);
    sim->stats = NULL;
    sim->n_stats = 0;
    sim->total_requests = 0;
    memset(sim->status_counts, 0, sizeof sim->status_counts);
}

void sim_admin_clear(ofsim *sim)
{
    faults_clear(sim);
    stats_clear(sim);
}

/* ---- handlers --------------------------------------------------------------------- */

static json_t *body_json(sim_req *r)
{
    if (!r->body_len) return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "request body is not JSON (line %d: %s)", jerr.line, jerr.text);
        sim_reply_error(r, 400, msg, NULL);
    }
    return j;
}

/* "API-OCTO...0001": enough to tell the keys apart, not enough to use one. */
static void key_hint(const char *key, char *out, size_t size)
{
    size_t n = strlen(key);
    if (n <= 12)
        snprintf(out, size, "API-...");
    else
        snprintf(out, size, "%.8s...%s", key, key + n - 4);
}

/* Per API key: tasks queued or executing now, and the most at once since start/reset. */
static json_t *task_peaks(ofsim *sim)
{
    json_t *arr = json_array();
    for (int k = 0; k < sim->w.n_keys; k++) {
        char hint[32];
        key_hint(sim->w.keys[k].key, hint, sizeof hint);
        json_array_append_new(arr, json_pack("{s:s, s:i, s:i}", "key", hint, "live",
                                             sim->key_live[k], "peak", sim->key_peak[k]));
    }
    return arr;
}

static void h_task_peaks(sim_req *r)
{
    ofsim *sim = r->sim;
    if (strcmp(r->method, "DELETE") == 0) /* a new measurement starts from what runs now */
        for (int k = 0; k < sim->w.n_keys; k++)
            sim->key_peak[k] = sim->key_live[k];
    sim_reply(r, 200, task_peaks(sim));
}

static void h_stats(sim_req *r)
{
    ofsim *sim = r->sim;
    json_t *routes = json_object();
    long api = 0;
    for (int i = 0; i < sim->n_stats; i++) {
        json_object_set_new(routes, sim->stats[i].route, json_integer(sim->stats[i].count));
        if (strstr(sim->stats[i].route, " /api")) api += sim->stats[i].count;
    }
    static const char *const names[] = {"dropped", "1xx", "2xx", "3xx", "4xx", "5xx"};
    json_t *statuses = json_object();
    for (int k = 0; k < 6; k++)
        json_object_set_new(statuses, names[k], json_integer(sim->status_counts[k]));
    sim_reply(r, 200,
              json_pack("{s:I, s:I, s:o, s:o, s:{s:i, s:I, s:I}, s:o}", "total",
                        (json_int_t)sim->total_requests, "api_total", (json_int_t)api, "routes",
                        routes, "statuses", statuses, "events", "recorded", sim->n_events,
                        "dropped", (json_int_t)sim->events_dropped, "delayed",
                        (json_int_t)sim->events_delayed, "task_peaks", task_peaks(sim)));
}

static json_t *dep_summary(ofsim *sim, int i)
{
    const sim_world *w = &sim->w;
    const sim_dep *d = &sim->deps[i];
    char id[32], tid[32];
    snprintf(id, sizeof id, "Deployments-%d", i + 1);
    snprintf(tid, sizeof tid, "ServerTasks-%d", i + 1);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, "
        "s:b, s:o, s:o}",
        "id", id, "task_id", tid, "space", w->spaces[d->space].name, "project",
        w->projects[d->project].name, "project_id", w->projects[d->project].id, "release",
        w->releases[d->release].version, "release_id", w->releases[d->release].id, "environment",
        w->envs[d->env].name, "environment_id", w->envs[d->env].id, "tenant",
        d->tenant >= 0 ? json_string(w->tenants[d->tenant].name) : json_null(), "tenant_id",
        d->tenant >= 0 ? json_string(w->tenants[d->tenant].id) : json_null(), "state",
        sim_tstate_name(d->state), "created", sim_json_time(d->created), "queue_time",
        sim_json_time(d->queue_time), "start_time", sim_json_time(d->start), "completed_time",
        sim_json_time(d->completed), "comments", sim_json_str(d->comments), "held", d->held,
        "error", d->state == SIM_FAILED ? json_string(d->error) : json_null(), "updated_time",
        sim_json_time(d->updated));
    OF_ASSERT(j);
    return j;
}

static void h_deployments(sim_req *r)
{
    json_t *arr = json_array();
    for (int i = r->sim->n_history; i < r->sim->n_deps; i++)
        json_array_append_new(arr, dep_summary(r->sim, i));
    sim_reply(r, 200, arr);
}

typedef struct triple {
    int release, env, tenant, index;
} triple;

static int cmp_triple(const void *a, const void *b)
{
    const triple *x = a, *y = b;
    if (x->release != y->release) return x->release < y->release ? -1 : 1;
    if (x->env != y->env) return x->env < y->env ? -1 : 1;
    if (x->tenant != y->tenant) return x->tenant < y->tenant ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* How many deployments were created per (release, environment, tenant):
 * the proof that nothing was deployed twice. */
static void h_deployment_counts(sim_req *r)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    int n = sim->n_deps - sim->n_history;
    triple *t = calloc((size_t)n + 1, sizeof *t);
    OF_ASSERT(t);
    for (int k = 0; k < n; k++) {
        const sim_dep *d = &sim->deps[sim->n_history + k];
        t[k] = (triple){d->release, d->env, d->tenant, sim->n_history + k};
    }
    qsort(t, (size_t)n, sizeof *t, cmp_triple);
    json_t *arr = json_array();
    for (int k = 0; k < n;) {
        int e = k;
        json_t *states = json_object();
        while (e < n && t[e].release == t[k].release && t[e].env == t[k].env &&
               t[e].tenant == t[k].tenant) {
            const char *st = sim_tstate_name(sim->deps[t[e].index].state);
            json_object_set_new(states, st,
                                json_integer(json_integer_value(json_object_get(states, st)) + 1));
            e++;
        }
        const sim_release *rel = &w->releases[t[k].release];
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:o}", "project",
                      w->projects[rel->project].name, "release", rel->version, "release_id",
                      rel->id, "environment", w->envs[t[k].env].name, "tenant",
                      t[k].tenant >= 0 ? json_string(w->tenants[t[k].tenant].name) : json_null(),
                      "count", e - k, "states", states));
        k = e;
    }
    free(t);
    sim_reply(r, 200, arr);
}

static void h_reset(sim_req *r)
{
    ofsim *sim = r->sim;
    sim_tasks_reset(sim);
    faults_clear(sim);
    stats_clear(sim);
    /* back to the fixture's rules, cap and seed */
    sim_rules_free(sim->rules, sim->n_rules);
    sim->rules = sim_rules_copy(sim->w.rules, sim->w.n_rules);
    sim->n_rules = sim->w.n_rules;
    sim->task_cap = sim->start_cap;
    sim->rng = sim->start_seed;
    sim_engine_kick(sim);
    sim_reply(r, 200, json_pack("{s:b}", "reset", 1));
}

static const char *const fault_keys[] = {"route",        "status",        "count",
                                         "retry_after",  "latency_ms",    "drop",
                                         "slow_body_ms", "body_bytes",    "error",
                                         "after",        "total_results", "ignore_skip",
                                         "corrupt_task", "corrupt_how",   "endless_body",
                                         "events",       "percent",       "delay_ms",
                                         "body",         "arg",           NULL};

static bool fault_int(json_t *o, const char *key, long long lo, long long hi, long long *out,
                      char *err, size_t errsz)
{
    json_t *v = json_object_get(o, key);
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errsz, "\"%s\" must be an integer in [%lld, %lld]", key, lo, hi);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* An event fault: {"events": [categories] | "*", "drop": true | "delay_ms": N,
 * "percent": P, "count": N}; nothing else may be set. */
static bool parse_event_fault(json_t *o, sim_fault *f, char *err, size_t errsz)
{
    static const char *const allowed[] = {"events", "drop", "percent", "delay_ms", "count", NULL};
    const char *bad = sim_unknown_key(o, allowed, false);
    if (bad) {
        snprintf(err, errsz,
                 "an event fault takes events, drop, delay_ms, percent and count only, not "
                 "\"%s\"",
                 bad);
        return false;
    }
    json_t *v;
    json_t *ev = json_object_get(o, "events");
    if (json_is_string(ev) && strcmp(json_string_value(ev), "*") == 0) {
        f->event_mask = (1u << SIM_EV__COUNT) - 1;
    } else if (json_is_array(ev) && json_array_size(ev) > 0) {
        size_t i;
        json_array_foreach(ev, i, v)
        {
            int c = sim_ecat_parse(json_string_value(v));
            if (c < 0) {
                snprintf(err, errsz,
                         "\"events\"[%zu]: not an event category (DeploymentQueued, "
                         "DeploymentStarted, DeploymentSucceeded, DeploymentFailed, "
                         "TaskCanceled, ManualInterventionInterruptionRaised, ...)",
                         i);
                return false;
            }
            f->event_mask |= 1u << c;
        }
    } else {
        snprintf(err, errsz, "\"events\" must be \"*\" or a non-empty array of categories");
        return false;
    }
    json_t *drop = json_object_get(o, "drop");
    long long count = 1, percent = 100, delay = 0;
    if ((drop && !json_is_boolean(drop)) ||
        !fault_int(o, "count", -1, 1000000000, &count, err, errsz) ||
        !fault_int(o, "percent", 0, 100, &percent, err, errsz) ||
        !fault_int(o, "delay_ms", 0, 3600000, &delay, err, errsz)) {
        if (drop && !json_is_boolean(drop)) snprintf(err, errsz, "\"drop\" must be a boolean");
        return false;
    }
    if (json_is_true(drop) == (delay > 0)) {
        snprintf(err, errsz,
                 "an event fault either drops (\"drop\": true) or delays "
                 "(\"delay_ms\" > 0) the events");
        return false;
    }
    f->route = sim_strdup("(events)");
    f->drop = json_is_true(drop);
    f->count = (long)count;
    f->percent = (int)percent;
    f->delay_ms = delay;
    f->total_results = -1;
    f->retry_after = -1;
    return true;
}

static bool parse_fault(json_t *o, sim_fault *f, char *err, size_t errsz)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(o)) {
        snprintf(err, errsz, "a fault must be an object");
        return false;
    }
    const char *bad = sim_unknown_key(o, fault_keys, false);
    if (bad) {
        snprintf(err, errsz, "unknown fault field \"%s\"", bad);
        return false;
    }
    json_t *route = json_object_get(o, "route"), *drop = json_object_get(o, "drop"),
           *error = json_object_get(o, "error"), *after = json_object_get(o, "after"),
           *body = json_object_get(o, "body"), *arg = json_object_get(o, "arg");
    if ((route && !json_is_string(route)) || (drop && !json_is_boolean(drop)) ||
        (error && !json_is_string(error)) || (after && !json_is_boolean(after)) ||
        (body && !json_is_string(body)) || (arg && !json_is_string(arg))) {
        snprintf(err, errsz,
                 "\"route\", \"arg\", \"error\" and \"body\" must be strings, \"drop\" and "
                 "\"after\" booleans");
        return false;
    }
    json_t *ign = json_object_get(o, "ignore_skip"), *endless = json_object_get(o, "endless_body"),
           *ctask = json_object_get(o, "corrupt_task"), *chow = json_object_get(o, "corrupt_how");
    if ((ign && !json_is_boolean(ign)) || (endless && !json_is_boolean(endless)) ||
        (ctask && (!json_is_string(ctask) || !*json_string_value(ctask))) ||
        (chow && !json_is_string(chow))) {
        snprintf(err, errsz,
                 "\"ignore_skip\" and \"endless_body\" must be booleans, \"corrupt_task\" a "
                 "task id or \"*\", \"corrupt_how\" a string");
        return false;
    }
    if (json_object_get(o, "events")) return parse_event_fault(o, f, err, errsz);
    if (json_object_get(o, "percent") || json_object_get(o, "delay_ms")) {
        snprintf(err, errsz, "\"percent\" and \"delay_ms\" belong to event faults (\"events\")");
        return false;
    }
    const char *how = chow ? json_string_value(chow) : NULL;
    if (how && strcmp(how, "state_number") != 0 && strcmp(how, "state_unknown") != 0 &&
        strcmp(how, "no_id") != 0) {
        snprintf(err, errsz,
                 "\"corrupt_how\" must be \"state_number\", \"state_unknown\" or \"no_id\"");
        return false;
    }
    long long status = 0, count = 1, retry = -1, latency = 0, slow = 0, bytes = 0, total = -1;
    if (!fault_int(o, "status", 0, 599, &status, err, errsz) ||
        !fault_int(o, "count", -1, 1000000000, &count, err, errsz) ||
        !fault_int(o, "retry_after", 0, 86400, &retry, err, errsz) ||
        !fault_int(o, "latency_ms", 0, 600000, &latency, err, errsz) ||
        !fault_int(o, "slow_body_ms", 0, 600000, &slow, err, errsz) ||
        !fault_int(o, "body_bytes", 0, 1LL << 32, &bytes, err, errsz) ||
        !fault_int(o, "total_results", 0, 1LL << 40, &total, err, errsz))
        return false;
    if (status != 0 && status < 100) {
        snprintf(err, errsz, "\"status\" must be 100-599");
        return false;
    }
    f->route = sim_strdup(route ? json_string_value(route) : "*");
    f->arg = arg ? sim_strdup(json_string_value(arg)) : NULL;
    f->status = (int)status;
    f->count = (long)count;
    f->retry_after = (int)retry;
    f->latency_ms = latency;
    f->drop = json_is_true(drop);
    f->after = json_is_true(after);
    f->slow_body_ms = slow;
    f->body_bytes = bytes;
    f->error = error ? sim_strdup(json_string_value(error)) : NULL;
    f->body = body ? sim_strdup(json_string_value(body)) : NULL;
    f->total_results = total;
    f->ignore_skip = json_is_true(ign);
    f->corrupt_task = ctask ? sim_strdup(json_string_value(ctask)) : NULL;
    f->corrupt_how = how ? sim_strdup(how) : NULL;
    f->endless_body = json_is_true(endless);
    return true;
}

static json_t *render_event_fault(const sim_fault *f)
{
    json_t *cats = json_array();
    for (int c = 0; c < SIM_EV__COUNT; c++)
        if (f->event_mask & (1u << c))
            json_array_append_new(cats, json_string(sim_ecat_name((sim_ecat)c)));
    return json_pack("{s:o, s:I, s:b, s:I, s:i}", "events", cats, "count", (json_int_t)f->count,
                     "drop", f->drop, "delay_ms", (json_int_t)f->delay_ms, "percent", f->percent);
}

static json_t *render_fault(const sim_fault *f)
{
    if (f->event_mask) return render_event_fault(f);
    json_t *j = json_pack("{s:s, s:I, s:i, s:i, s:I, s:b, s:b, s:I, s:I, s:o}", "route", f->route,
                          "count", (json_int_t)f->count, "status", f->status, "retry_after",
                          f->retry_after, "latency_ms", (json_int_t)f->latency_ms, "drop", f->drop,
                          "after", f->after, "slow_body_ms", (json_int_t)f->slow_body_ms,
                          "body_bytes", (json_int_t)f->body_bytes, "error", sim_json_str(f->error));
    /* the hostile-reply fields only when set, so existing listings stay as they were */
    if (f->total_results >= 0)
        json_object_set_new(j, "total_results", json_integer((json_int_t)f->total_results));
    if (f->ignore_skip) json_object_set_new(j, "ignore_skip", json_true());
    if (f->corrupt_task) json_object_set_new(j, "corrupt_task", json_string(f->corrupt_task));
    if (f->corrupt_how) json_object_set_new(j, "corrupt_how", json_string(f->corrupt_how));
    if (f->endless_body) json_object_set_new(j, "endless_body", json_true());
    if (f->body) json_object_set_new(j, "body", json_string(f->body));
    if (f->arg) json_object_set_new(j, "arg", json_string(f->arg));
    return j;
}

static void h_faults_list(sim_req *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < r->sim->n_faults; i++)
        json_array_append_new(arr, render_fault(&r->sim->faults[i]));
    sim_reply(r, 200, arr);
}

/* POST /sim/faults: one fault object or an array of them, appended in order; PUT: the same,
 * replacing the live ones in one step, so no request is answered normally in between. */
static void faults_set(sim_req *r, bool replace)
{
    json_t *body = body_json(r);
    if (!body) {
        if (!r->resp) sim_reply_error(r, 400, "give a fault object or an array of them", NULL);
        return;
    }
    bool is_array = json_is_array(body); /* asked before list (body itself if so) goes */
    json_t *list = is_array ? body : json_pack("[O]", body);
    size_t n = json_array_size(list), i;
    sim_fault *parsed = calloc(n + 1, sizeof *parsed);
    OF_ASSERT(parsed);
    char err[200];
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!parse_fault(v, &parsed[i], err, sizeof err)) {
            for (size_t k = 0; k <= i; k++)
                sim_fault_clear(&parsed[k]);
            free(parsed);
            json_decref(list), json_decref(is_array ? NULL : body);
            sim_reply_error(r, 400, err, NULL);
            return;
        }
    }
    ofsim *sim = r->sim;
    if (replace) faults_clear(sim);
    sim_fault *all = realloc(sim->faults, (size_t)(sim->n_faults + (int)n) * sizeof *all + 1);
    OF_ASSERT(all);
    sim->faults = all;
    memcpy(&sim->faults[sim->n_faults], parsed, n * sizeof *parsed);
    sim->n_faults += (int)n;
    free(parsed);
    json_decref(list);
    if (!is_array) json_decref(body);
    h_faults_list(r);
}

static void h_faults_add(sim_req *r)
{
    faults_set(r, false);
}

static void h_faults_replace(sim_req *r)
{
    faults_set(r, true);
}

static void h_faults_clear(sim_req *r)
{
    faults_clear(r->sim);
    sim_reply(r, 200, json_array());
}

/* POST /sim/rules: an array (replaces the rules) or {"rules": [...],
 * "mode": "replace" | "prepend"}. Applies to deployments created afterwards. */
static void h_rules(sim_req *r)
{
    json_t *body = body_json(r);
    if (!body) {
        if (!r->resp) sim_reply_error(r, 400, "give an array of rules", NULL);
        return;
    }
    json_t *arr = json_is_array(body) ? body : json_object_get(body, "rules");
    const char *mode = json_string_value(json_object_get(body, "mode"));
    bool prepend = mode && strcmp(mode, "prepend") == 0;
    if (!arr || (mode && !prepend && strcmp(mode, "replace") != 0)) {
        json_decref(body);
        sim_reply_error(r, 400,
                        "give an array of rules or {\"rules\": [...], \"mode\": "
                        "\"replace\"|\"prepend\"}",
                        NULL);
        return;
    }
    sim_rule *rules;
    int n;
    char err[300];
    if (sim_rules_parse(arr, "rules", &rules, &n, err, sizeof err) != OF_OK) {
        json_decref(body);
        sim_reply_error(r, 400, err, NULL);
        return;
    }
    json_decref(body);
    ofsim *sim = r->sim;
    if (prepend) {
        sim_rule *all = realloc(rules, (size_t)(n + sim->n_rules + 1) * sizeof *all);
        OF_ASSERT(all);
        memcpy(&all[n], sim->rules, (size_t)sim->n_rules * sizeof *all);
        free(sim->rules); /* the strings moved into all[] */
        sim->rules = all;
        sim->n_rules += n;
    } else {
        sim_rules_free(sim->rules, sim->n_rules);
        sim->rules = rules;
        sim->n_rules = n;
    }
    sim_reply(r, 200, json_pack("{s:i}", "rules", sim->n_rules));
}

static void h_release(sim_req *r)
{
    ofsim *sim = r->sim;
    int i = sim_task_index(sim, r->seg[2]);
    if (i < 0) {
        sim_reply_error(r, 404, "no such task", NULL);
        return;
    }
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    bool abort = json_is_true(json_object_get(body, "abort"));
    json_decref(body);
    if (!sim_task_release(sim, i, abort)) {
        sim_reply_error(r, 409, "the task is not waiting on an interruption", NULL);
        return;
    }
    sim_reply(r, 200, sim_render_task(sim, i));
}

static void h_task_cap(sim_req *r)
{
    ofsim *sim = r->sim;
    if (strcmp(r->method, "POST") == 0) {
        json_t *body = body_json(r);
        if (!body && r->resp) return;
        json_t *cap = json_object_get(body, "task_cap");
        if (!json_is_integer(cap) || json_integer_value(cap) < 1 ||
            json_integer_value(cap) > 100000) {
            json_decref(body);
            sim_reply_error(r, 400, "give {\"task_cap\": N} with N >= 1", NULL);
            return;
        }
        sim->task_cap = (int)json_integer_value(cap);
        json_decref(body);
        sim_engine_kick(sim);
    }
    sim_reply(r, 200, json_pack("{s:i}", "task_cap", sim->task_cap));
}

/* GET /sim/tasks[?state=Executing]: counts by state and the matching tasks
 * (created ones only, not history). */
static void h_tasks(sim_req *r)
{
    ofsim *sim = r->sim;
    const char *want = sim_arg(r, "state");
    int ws = want ? sim_tstate_parse(want) : -1;
    if (want && ws < 0) {
        sim_reply_error(r, 400, "unknown task state", NULL);
        return;
    }
    long counts[SIM_TSTATE__COUNT] = {0};
    json_t *tasks = json_array();
    for (int i = sim->n_history; i < sim->n_deps; i++) {
        counts[sim->deps[i].state]++;
        if (ws < 0 || (int)sim->deps[i].state == ws)
            json_array_append_new(tasks, dep_summary(sim, i));
    }
    json_t *c = json_object();
    for (int s = 0; s < SIM_TSTATE__COUNT; s++)
        json_object_set_new(c, sim_tstate_name((sim_tstate)s), json_integer(counts[s]));
    sim_reply(r, 200,
              json_pack("{s:o, s:i, s:o}", "counts", c, "task_cap", sim->task_cap, "tasks", tasks));
}

/* Paths after "/sim/"; "{task}" = one segment. */
static const sim_route admin_routes[] = {
    {"GET", "stats", h_stats},
    {"GET", "deployments", h_deployments},
    {"GET", "deployment-counts", h_deployment_counts},
    {"POST", "reset", h_reset},
    {"GET", "faults", h_faults_list},
    {"POST", "faults", h_faults_add},
    {"PUT", "faults", h_faults_replace},
    {"DELETE", "faults", h_faults_clear},
    {"POST", "rules", h_rules},
    {"POST", "interruptions/{task}/release", h_release},
    {"GET", "task-cap", h_task_cap},
    {"POST", "task-cap", h_task_cap},
    {"GET", "tasks", h_tasks},
    {"GET", "task-peaks", h_task_peaks},
    {"DELETE", "task-peaks", h_task_peaks},
};

static void h_admin_404(sim_req *r)
{
    sim_reply_error(r, 404, "unknown admin endpoint (see docs/octopus.md, Admin endpoints)", NULL);
}

static void h_admin_forbidden(sim_req *r)
{
    sim_reply_error(r, 403, "the /sim/ endpoints answer loopback clients only", NULL);
}

/* seg[0] == "sim". */
void sim_admin_route(sim_req *r)
{
    char path[128] = "";
    for (int k = 1; k < r->n_seg; k++) {
        const char *s = r->seg[k];
        if (k == 3 && r->n_seg == 4 && strcmp(r->seg[1], "interruptions") == 0) s = "release";
        if (k == 2 && strcmp(r->seg[1], "interruptions") == 0) s = "{task}";
        size_t o = strlen(path);
        snprintf(path + o, sizeof path - o, "%s%s", k > 1 ? "/" : "", s);
    }
    r->handler = h_admin_404;
    snprintf(r->route, sizeof r->route, "%s /sim/(unknown)", r->method);
    for (size_t i = 0; i < sizeof admin_routes / sizeof admin_routes[0]; i++) {
        if (strcmp(admin_routes[i].path, path) != 0 || strcmp(admin_routes[i].method, r->method))
            continue;
        r->handler = admin_routes[i].handler;
        snprintf(r->route, sizeof r->route, "%s /sim/%s", r->method, admin_routes[i].path);
    }
    if (!r->loopback) r->handler = h_admin_forbidden;
}

/* ---- in-process API ----------------------------------------------------------------- */

void sim_call(ofsim *sim, const char *method, const char *path, const char *api_key,
              const char *body, int *status, char **response)
{
    char *copy = sim_strdup(path);
    char *q = strchr(copy, '?');
    if (q) *q++ = '\0';
    sim_req r = {.sim = sim,
                 .method = method,
                 .raw_path = copy,
                 .api_key = api_key,
                 .loopback = true,
                 .body = body,
                 .body_len = body ? strlen(body) : 0,
                 .retry_after = -1};
    char *segs[16];
    for (char *p = copy + 1; *p && r.n_seg < 16;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = '\0';
        if (*p) segs[r.n_seg++] = p;
        if (!slash) break;
        p = slash + 1;
    }
    r.seg = segs;
    sim_qarg args[32];
    for (char *p = q; p && *p && r.n_args < 32;) {
        char *amp = strchr(p, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(p, '=');
        if (eq) *eq = '\0';
        args[r.n_args++] = (sim_qarg){p, eq ? eq + 1 : p + strlen(p)};
        sim_pct_decode(args[r.n_args - 1].key, true);
        sim_pct_decode(args[r.n_args - 1].value, true);
        p = amp ? amp + 1 : NULL;
    }
    r.args = args;
    bool api = r.n_seg > 0 && strcasecmp(segs[0], "api") == 0;
    pthread_mutex_lock(&sim->mu);
    if (api) {
        sim_api_route(&r);
        sim_api_dispatch(&r);
    } else {
        sim_admin_route(&r);
        r.handler(&r);
    }
    pthread_mutex_unlock(&sim->mu);
    *status = r.status;
    if (response)
        *response = r.resp;
    else
        free(r.resp);
    free(copy);
}

of_err ofsim_admin(ofsim *sim, const char *method, const char *path, const char *body, int *status,
                   char **response)
{
    *status = 0;
    if (response) *response = NULL;
    if (!sim || !method || !path || strncmp(path, "/sim/", 5) != 0) return OF_ERR_INVALID;
    sim_call(sim, method, path, NULL, body, status, response);
    return OF_OK;
}

static of_err admin_ok(ofsim *sim, const char *method, const char *path, const char *body)
{
    int status;
    of_err rc = ofsim_admin(sim, method, path, body, &status, NULL);
    if (rc) return rc;
    return status == 200 ? OF_OK : OF_ERR_INVALID;
}

of_err ofsim_set_task_cap(ofsim *sim, int task_cap)
{
    char body[64];
    snprintf(body, sizeof body, "{\"task_cap\": %d}", task_cap);
    return admin_ok(sim, "POST", "/sim/task-cap", body);
}

of_err ofsim_add_fault(ofsim *sim, const char *fault_json)
{
    return admin_ok(sim, "POST", "/sim/faults", fault_json);
}

void ofsim_clear_faults(ofsim *sim)
{
    (void)admin_ok(sim, "DELETE", "/sim/faults", NULL); /* void API: nothing to report to */
}

void ofsim_reset(ofsim *sim)
{
    admin_ok(sim, "POST", "/sim/reset", NULL);
}

long ofsim_request_count(ofsim *sim, const char *route)
{
    long n = 0;
    pthread_mutex_lock(&sim->mu);
    if (!route) n = sim->total_requests;
    for (int i = 0; route && i < sim->n_stats; i++)
        if (strcmp(sim->stats[i].route, route) == 0) n = sim->stats[i].count;
    pthread_mutex_unlock(&sim->mu);
    return n;
}

int ofsim_task_count(ofsim *sim, const char *state)
{
    int s = state ? sim_tstate_parse(state) : -1, n = 0;
    if (s < 0) return 0;
    pthread_mutex_lock(&sim->mu);
    for (int i = sim->n_history; i < sim->n_deps; i++)
        if ((int)sim->deps[i].state == s) n++;
    pthread_mutex_unlock(&sim->mu);
    return n;
}

int ofsim_task_peak(ofsim *sim, const char *api_key)
{
    pthread_mutex_lock(&sim->mu);
    int k = sim_key_index(sim, api_key);
    int peak = k >= 0 ? sim->key_peak[k] : -1;
    pthread_mutex_unlock(&sim->mu);
    return peak;
}

void ofsim_task_peak_reset(ofsim *sim)
{
    (void)admin_ok(sim, "DELETE", "/sim/task-peaks", NULL); /* void API: nothing to report to */
}
