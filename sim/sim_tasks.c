/* Deployments and the task engine.
 *
 * Each deployment owns one server task. The engine thread moves tasks
 * Queued -> Executing -> Success/Failed in wall time, whether or not anyone
 * polls, so StartTime/CompletedTime are when things really happened (tests
 * use them to prove ordering). Rules (docs/octopus.md) decide each task's
 * duration, outcome, error and whether it stops for a manual intervention;
 * they are drawn from the seeded PRNG when the deployment is created.
 *
 * The engine honours the task cap (Executing + Cancelling tasks), runs the
 * queue in (QueueTime, id) order, holds a task whose QueueTime is in the
 * future, times out a task still queued at its QueueTimeExpiry, and never
 * runs two tasks of one project/environment/tenant at once (Octopus's
 * default concurrency tag). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "sim_int.h"

#define DEFAULT_DURATION_MS 100
#define DEFAULT_ERROR       "The deployment failed."

/* ---- rules ------------------------------------------------------------------ */

void sim_rules_free(sim_rule *rules, int n)
{
    for (int i = 0; i < n; i++)
        free(rules[i].project), free(rules[i].env), free(rules[i].tenant), free(rules[i].error);
    free(rules);
}

sim_rule *sim_rules_copy(const sim_rule *rules, int n)
{
    sim_rule *out = calloc((size_t)n + 1, sizeof *out);
    OF_ASSERT(out);
    for (int i = 0; i < n; i++) {
        out[i] = rules[i];
        out[i].project = sim_strdup(rules[i].project);
        out[i].env = sim_strdup(rules[i].env);
        out[i].tenant = sim_strdup(rules[i].tenant);
        out[i].error = sim_strdup(rules[i].error);
    }
    return out;
}

static of_err rule_err(char *errstr, size_t errsz, const char *path, const char *msg)
{
    return of_seterr(errstr, errsz, OF_ERR_CONFIG, "fixture %s: %s", path, msg);
}

static of_err rule_name(json_t *obj, const char *key, const char *path, char **out, char *errstr,
                        size_t errsz)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_string(v)) return rule_err(errstr, errsz, path, "names must be strings");
    *out = sim_strdup(json_string_value(v));
    return OF_OK;
}

static of_err parse_rule(json_t *v, const char *path, sim_rule *r, char *errstr, size_t errsz)
{
    static const char *const keys[] = {"project",     "environment",  "tenant",
                                       "duration_ms", "outcome",      "fail_percent",
                                       "error",       "interruption", NULL};
    r->outcome_fail = r->fail_percent = r->interruption = -1;
    if (!json_is_object(v)) return rule_err(errstr, errsz, path, "a rule must be an object");
    const char *key = sim_unknown_key(v, keys, true);
    if (key) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown field \"%s\"", key);
        return rule_err(errstr, errsz, path, msg);
    }
    of_err rc = rule_name(v, "project", path, &r->project, errstr, errsz);
    if (!rc) rc = rule_name(v, "environment", path, &r->env, errstr, errsz);
    if (!rc) rc = rule_name(v, "tenant", path, &r->tenant, errstr, errsz);
    if (!rc) rc = rule_name(v, "error", path, &r->error, errstr, errsz);
    if (rc) return rc;
    json_t *d = json_object_get(v, "duration_ms");
    if (d) {
        json_t *lo = json_is_array(d) ? json_array_get(d, 0) : d;
        json_t *hi = json_is_array(d) ? json_array_get(d, 1) : d;
        if (!json_is_integer(lo) || !json_is_integer(hi) || json_integer_value(lo) < 0 ||
            json_integer_value(hi) < json_integer_value(lo) ||
            (json_is_array(d) && json_array_size(d) != 2))
            return rule_err(errstr, errsz, path,
                            "\"duration_ms\" must be a number >= 0 or [min, max]");
        r->has_duration = true;
        r->dur_min = json_integer_value(lo);
        r->dur_max = json_integer_value(hi);
    }
    json_t *o = json_object_get(v, "outcome");
    if (o) {
        const char *s = json_string_value(o);
        if (!s || (strcmp(s, "success") != 0 && strcmp(s, "fail") != 0))
            return rule_err(errstr, errsz, path, "\"outcome\" must be \"success\" or \"fail\"");
        r->outcome_fail = strcmp(s, "fail") == 0;
    }
    json_t *fp = json_object_get(v, "fail_percent");
    if (fp) {
        if (!json_is_integer(fp) || json_integer_value(fp) < 0 || json_integer_value(fp) > 100)
            return rule_err(errstr, errsz, path, "\"fail_percent\" must be an integer 0-100");
        r->fail_percent = (int)json_integer_value(fp);
    }
    json_t *in = json_object_get(v, "interruption");
    if (in) {
        if (!json_is_boolean(in))
            return rule_err(errstr, errsz, path, "\"interruption\" must be true or false");
        r->interruption = json_is_true(in);
    }
    return OF_OK;
}

of_err sim_rules_parse(json_t *arr, const char *path, sim_rule **out, int *n, char *errstr,
                       size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    if (!arr) return OF_OK;
    if (!json_is_array(arr)) return rule_err(errstr, errstr_size, path, "must be an array");
    sim_rule *rules = calloc(json_array_size(arr) + 1, sizeof *rules);
    OF_ASSERT(rules);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char rpath[64];
        snprintf(rpath, sizeof rpath, "%s[%zu]", path, i);
        of_err rc = parse_rule(v, rpath, &rules[i], errstr, errstr_size);
        if (rc) {
            sim_rules_free(rules, (int)i + 1);
            return rc;
        }
    }
    *out = rules;
    *n = (int)json_array_size(arr);
    return OF_OK;
}

/* "*" or absent matches anything; a trailing '*' matches a prefix. */
static bool rule_match(const char *pattern, const char *name)
{
    if (!pattern || strcmp(pattern, "*") == 0) return true;
    if (!name) return false;
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') return strncasecmp(pattern, name, n - 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

/* Whether a failing task of d waits on guided failure: the deployment's UseGuidedFailure, or
 * when it left it null, its environment's. */
static bool guided_on(const ofsim *sim, const sim_dep *d)
{
    if (d->guided_off) return false;
    return d->guided == 1 || (d->guided == -1 && sim->w.envs[d->env].guided);
}

static void apply_rules(ofsim *sim, sim_dep *d)
{
    const sim_world *w = &sim->w;
    const char *pname = w->projects[d->project].name;
    const char *ename = w->envs[d->env].name;
    const char *tname = d->tenant >= 0 ? w->tenants[d->tenant].name : NULL;
    bool got_dur = false, got_outcome = false, got_error = false, got_int = false;
    d->duration_ms = DEFAULT_DURATION_MS;
    for (int i = 0; i < sim->n_rules; i++) {
        const sim_rule *r = &sim->rules[i];
        if (!rule_match(r->project, pname) || !rule_match(r->env, ename) ||
            !rule_match(r->tenant, tname))
            continue;
        if (!got_dur && r->has_duration) {
            got_dur = true;
            d->duration_ms = sim_rand_range(&sim->rng, r->dur_min, r->dur_max);
        }
        if (!got_outcome && (r->outcome_fail >= 0 || r->fail_percent >= 0)) {
            got_outcome = true;
            if (r->fail_percent >= 0)
                d->fail = sim_rand_range(&sim->rng, 0, 99) < r->fail_percent;
            else
                d->fail = r->outcome_fail == 1;
        }
        if (!got_error && r->error) {
            got_error = true;
            d->error = sim_strdup(r->error);
        }
        if (!got_int && r->interruption >= 0) {
            got_int = true;
            d->interrupt = r->interruption == 1;
        }
    }
    if (!d->error) d->error = sim_strdup(DEFAULT_ERROR);
}

/* ---- deployments ------------------------------------------------------------ */

static void grow_deps(ofsim *sim)
{
    if (sim->n_deps < sim->cap_deps) return;
    int cap = sim->cap_deps ? sim->cap_deps * 2 : 256;
    sim_dep *p = realloc(sim->deps, (size_t)cap * sizeof *p);
    OF_ASSERT(p);
    sim->deps = p;
    sim->cap_deps = cap;
}

static bool queued_before(const ofsim *sim, int a, int b)
{
    const sim_dep *x = &sim->deps[a], *y = &sim->deps[b];
    return x->queue_time != y->queue_time ? x->queue_time < y->queue_time : a < b;
}

static void active_insert(ofsim *sim, int index)
{
    if (sim->n_active == sim->cap_active) {
        int cap = sim->cap_active ? sim->cap_active * 2 : 256;
        int *p = realloc(sim->active, (size_t)cap * sizeof *p);
        OF_ASSERT(p);
        sim->active = p;
        sim->cap_active = cap;
    }
    int pos = sim->n_active; /* usually appended: creations come in time order */
    while (pos > 0 && queued_before(sim, index, sim->active[pos - 1]))
        pos--;
    memmove(&sim->active[pos + 1], &sim->active[pos],
            (size_t)(sim->n_active - pos) * sizeof *sim->active);
    sim->active[pos] = index;
    sim->n_active++;
}

/* ---- the target index ------------------------------------------------------ */

void sim_ivec_push(sim_ivec *a, int x)
{
    OF_ASSERT(of_grow((void **)&a->v, &a->cap, (size_t)a->n, sizeof *a->v) == OF_OK);
    a->v[a->n++] = x;
}

/* "project:env:tenant"; tenant -1 = untenanted, -2 = any tenant. */
static void target_key(char *out, size_t size, int project, int env, int tenant)
{
    snprintf(out, size, "%d:%d:%d", project, env, tenant);
}

static sim_ivec *target_list(ofsim *sim, const char *key)
{
    int k = sim_strmap_get(&sim->dep_index, key);
    if (k < 0) {
        sim_ivec *p = realloc(sim->dep_lists, (size_t)(sim->n_dep_lists + 1) * sizeof *p);
        OF_ASSERT(p);
        sim->dep_lists = p;
        k = sim->n_dep_lists++;
        memset(&sim->dep_lists[k], 0, sizeof *p);
        OF_ASSERT(sim_strmap_put(&sim->dep_index, key, k) == OF_OK);
    }
    return &sim->dep_lists[k];
}

/* Every deployment is listed under its exact target and under its
 * project and environment with any tenant, in creation (= id) order. */
static void index_add(ofsim *sim, int i)
{
    const sim_dep *d = &sim->deps[i];
    char key[48];
    target_key(key, sizeof key, d->project, d->env, d->tenant);
    sim_ivec_push(target_list(sim, key), i);
    target_key(key, sizeof key, d->project, d->env, -2);
    sim_ivec_push(target_list(sim, key), i);
}

static void index_clear(ofsim *sim)
{
    for (int k = 0; k < sim->n_dep_lists; k++)
        free(sim->dep_lists[k].v);
    free(sim->dep_lists);
    sim->dep_lists = NULL;
    sim->n_dep_lists = 0;
    sim_strmap_clear(&sim->dep_index);
}

static int cmp_int_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

/* An id from a filter list, resolved like the scan compares it: by exact id only. */
static int resolve_id(int found, const char *found_id, const char *want)
{
    return found >= 0 && strcasecmp(found_id, want) == 0 ? found : -1;
}

/* Beyond this many lists to merge a scan is as good; a worker's batched look-up names one
 * project, one environment and up to OF_OCTO_MAX_LOOKUP_JOBS (1,000) tenants. */
#define TARGET_MAX_COMBOS 4096

int *sim_deps_by_target(const ofsim *sim, int space, const json_t *projects, const json_t *envs,
                        const json_t *tenants, int *n)
{
    const sim_world *w = &sim->w;
    size_t np = json_array_size(projects), ne = json_array_size(envs);
    size_t nt = tenants ? json_array_size(tenants) : 1;
    *n = 0;
    if (!projects || !envs || np * ne * nt > TARGET_MAX_COMBOS) return NULL;
    size_t total = 0;
    const sim_ivec **lists = calloc(np * ne * nt + 1, sizeof *lists);
    OF_ASSERT(lists);
    size_t n_lists = 0;
    for (size_t a = 0; a < np; a++) {
        const char *pid = json_string_value(json_array_get(projects, a));
        int p = sim_find_project(w, space, pid);
        p = resolve_id(p, p >= 0 ? w->projects[p].id : "", pid);
        for (size_t b = 0; p >= 0 && b < ne; b++) {
            const char *eid = json_string_value(json_array_get(envs, b));
            int e = sim_find_env(w, space, eid);
            for (size_t c = 0; e >= 0 && c < nt; c++) {
                int t = -2;
                if (tenants) {
                    const char *tid = json_string_value(json_array_get(tenants, c));
                    t = sim_find_tenant(w, space, tid);
                    t = resolve_id(t, t >= 0 ? w->tenants[t].id : "", tid); /* not by slug */
                    if (t < 0) continue;
                }
                char key[48];
                target_key(key, sizeof key, p, e, t);
                int k = sim_strmap_get(&sim->dep_index, key);
                if (k < 0) continue;
                lists[n_lists++] = &sim->dep_lists[k];
                total += (size_t)sim->dep_lists[k].n;
            }
        }
    }
    int *out = calloc(total + 1, sizeof *out);
    OF_ASSERT(out);
    for (size_t l = 0; l < n_lists; l++) {
        memcpy(out + *n, lists[l]->v, (size_t)lists[l]->n * sizeof *out);
        *n += lists[l]->n;
    }
    free(lists);
    qsort(out, (size_t)*n, sizeof *out, cmp_int_desc);
    int m = 0; /* a list named twice in the filter gives its deployments twice */
    for (int k = 0; k < *n; k++)
        if (m == 0 || out[m - 1] != out[k]) out[m++] = out[k];
    *n = m;
    return out;
}

/* ---- per-key task counts ------------------------------------------------------ */

static bool is_live(sim_tstate s)
{
    return !sim_tstate_done(s);
}

static void key_task_started(ofsim *sim, int key)
{
    if (key < 0) return;
    if (++sim->key_live[key] > sim->key_peak[key]) sim->key_peak[key] = sim->key_live[key];
}

/* Moves task i to a final state at `now`, with its event and the key's count. */
static void task_finish(ofsim *sim, int i, sim_tstate state, int64_t now)
{
    sim_dep *d = &sim->deps[i];
    OF_ASSERT(is_live(d->state) && sim_tstate_done(state));
    d->state = state;
    d->updated = now;
    if (state != SIM_TIMEDOUT) d->completed = now; /* Octopus sets none for a timed-out task */
    if (state == SIM_SUCCESS) sim_release_mark_done(&sim->w, d->release, d->env, d->tenant);
    if (d->key >= 0) sim->key_live[d->key]--;
    if (state == SIM_SUCCESS) sim_event_record(sim, i, SIM_EV_SUCCEEDED, now);
    if (state == SIM_FAILED) sim_event_record(sim, i, SIM_EV_FAILED, now);
    if (state == SIM_CANCELED) sim_event_record(sim, i, SIM_EV_CANCELED, now);
}

int sim_dep_create(ofsim *sim, int key, int release, int env, int tenant, const char *comments,
                   int guided, json_t *form_values, int64_t queue_time, int64_t expiry)
{
    grow_deps(sim);
    int i = sim->n_deps++;
    sim_dep *d = &sim->deps[i];
    const sim_release *rel = &sim->w.releases[release];
    int64_t now = of_wall_ms();
    memset(d, 0, sizeof *d);
    d->key = key;
    d->space = rel->space;
    d->project = rel->project;
    d->release = release;
    d->channel = rel->channel;
    d->env = env;
    d->tenant = tenant;
    d->created = d->updated = now;
    d->comments = sim_strdup(comments);
    d->guided = guided;
    d->form_values = form_values ? form_values : json_object();
    d->req_queue_time = queue_time;
    d->req_expiry = expiry;
    d->state = SIM_QUEUED;
    d->queue_time = queue_time > now ? queue_time : now;
    apply_rules(sim, d);
    active_insert(sim, i);
    index_add(sim, i);
    key_task_started(sim, key);
    sim_event_record(sim, i, SIM_EV_QUEUED, now);
    sim_engine_kick(sim);
    return i;
}

of_err sim_tasks_init(ofsim *sim, char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    sim_world *w = &sim->w;
    sim->key_live = calloc((size_t)w->n_keys + 1, sizeof *sim->key_live);
    sim->key_peak = calloc((size_t)w->n_keys + 1, sizeof *sim->key_peak);
    OF_ASSERT(sim->key_live && sim->key_peak);
    sim->event_rng = sim->start_seed;
    /* History happened a day before start-up (SIM_HISTORY_AGE_MS), 10 ms apart, in file order. */
    for (int h = 0; h < w->n_hist; h++) {
        grow_deps(sim);
        int i = sim->n_deps++;
        sim_dep *d = &sim->deps[i];
        const sim_hist *hs = &w->hist[h];
        const sim_release *rel = &w->releases[hs->release];
        memset(d, 0, sizeof *d);
        d->space = rel->space;
        d->project = rel->project;
        d->release = hs->release;
        d->channel = rel->channel;
        d->env = hs->env;
        d->tenant = hs->tenant;
        d->history = true;
        d->key = -1;
        d->created = d->queue_time = w->epoch - SIM_HISTORY_AGE_MS + (int64_t)h * 10;
        d->start = d->created + 2;
        d->completed = d->updated = d->start + 5;
        d->duration_ms = 5;
        d->guided = -1;
        d->form_values = json_object();
        d->state = SIM_SUCCESS;
        sim_release_mark_done(w, hs->release, hs->env, hs->tenant);
        index_add(sim, i);
        /* its events, as a server would have them (faults are not live yet) */
        sim_event_record(sim, i, SIM_EV_QUEUED, d->created);
        sim_event_record(sim, i, SIM_EV_STARTED, d->start);
        sim_event_record(sim, i, SIM_EV_SUCCEEDED, d->completed);
    }
    sim->n_history = sim->n_deps;
    sim->n_history_events = sim->n_events;
    return OF_OK;
}

static void dep_clear(sim_dep *d)
{
    free(d->comments);
    free(d->error);
    json_decref(d->form_values);
    sim_text_clear(&d->task_text);
    sim_text_clear(&d->dep_text);
}

void sim_tasks_clear(ofsim *sim)
{
    for (int i = 0; i < sim->n_deps; i++)
        dep_clear(&sim->deps[i]);
    free(sim->deps);
    free(sim->active);
    free(sim->key_live);
    free(sim->key_peak);
    sim->key_live = sim->key_peak = NULL;
    sim->deps = NULL;
    sim->active = NULL;
    sim->n_deps = sim->cap_deps = sim->n_active = sim->cap_active = 0;
    index_clear(sim);
    sim_events_clear(sim);
}

void sim_tasks_reset(ofsim *sim)
{
    for (int i = sim->n_history; i < sim->n_deps; i++)
        dep_clear(&sim->deps[i]);
    sim->n_deps = sim->n_history;
    sim->n_active = 0;
    index_clear(sim);
    for (int i = 0; i < sim->n_history; i++)
        index_add(sim, i);
    sim_events_reset(sim);
    memset(sim->key_live, 0, (size_t)sim->w.n_keys * sizeof *sim->key_live);
    memset(sim->key_peak, 0, (size_t)sim->w.n_keys * sizeof *sim->key_peak);
    sim_release_clear_done(&sim->w);
    for (int h = 0; h < sim->w.n_hist; h++)
        sim_release_mark_done(&sim->w, sim->w.hist[h].release, sim->w.hist[h].env,
                              sim->w.hist[h].tenant);
    sim_engine_kick(sim);
}

static int parse_numbered(const char *id, const char *prefix, int n)
{
    size_t pl = strlen(prefix);
    if (!id || strncasecmp(id, prefix, pl) != 0) return -1;
    const char *p = id + pl;
    if (*p < '1' || *p > '9') return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000) return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= n ? (int)v - 1 : -1;
}

int sim_task_index(const ofsim *sim, const char *task_id)
{
    return parse_numbered(task_id, "ServerTasks-", sim->n_deps);
}

int sim_dep_index(const ofsim *sim, const char *dep_id)
{
    return parse_numbered(dep_id, "Deployments-", sim->n_deps);
}

bool sim_task_cancel(ofsim *sim, int index)
{
    sim_dep *d = &sim->deps[index];
    int64_t now = of_wall_ms();
    if (d->state == SIM_QUEUED) {
        task_finish(sim, index, SIM_CANCELED, now); /* never started: no slot to give back */
    } else if (d->state == SIM_EXECUTING) {
        d->state = SIM_CANCELLING;
        d->held = false;
        d->updated = now;
        d->cancel_at = now + sim_rand_range(&sim->rng, 50, 200);
    } else {
        return false;
    }
    sim_engine_kick(sim);
    return true;
}

bool sim_task_guide(ofsim *sim, int index, const char *guidance, bool *known)
{
    sim_dep *d = &sim->deps[index];
    bool retry = strcasecmp(guidance, "Retry") == 0;
    bool ignore = strcasecmp(guidance, "Ignore") == 0 || strcasecmp(guidance, "Exclude") == 0;
    bool fail = strcasecmp(guidance, "Fail") == 0 || strcasecmp(guidance, "Abort") == 0;
    *known = retry || ignore || fail;
    if (!*known || d->state != SIM_EXECUTING || !d->held || !d->guided_held) return false;
    int64_t now = of_wall_ms();
    d->held = d->guided_held = false;
    d->updated = now;
    if (retry) {
        /* the step runs again; the rules as they are now decide how it ends */
        bool was_interrupt = d->interrupt;
        free(d->error);
        d->error = NULL;
        d->fail = false;
        apply_rules(sim, d);
        d->interrupt = was_interrupt;
        d->end_at = now + d->duration_ms;
    } else if (ignore) {
        d->fail = false;
        d->end_at = now;
    } else {
        d->guided_off = true;
        d->end_at = now;
    }
    sim_engine_kick(sim);
    return true;
}

bool sim_task_release(ofsim *sim, int index, bool abort)
{
    sim_dep *d = &sim->deps[index];
    bool known;
    if (d->guided_held) return sim_task_guide(sim, index, abort ? "Fail" : "Ignore", &known);
    if (d->state != SIM_EXECUTING || !d->held) return false;
    int64_t now = of_wall_ms();
    d->held = false;
    d->updated = now;
    sim_event_record(sim, index, SIM_EV_MANUAL_RESOLVED, now);
    if (abort) {
        d->fail = true;
        free(d->error);
        d->error = sim_strdup("The manual intervention was aborted.");
        d->end_at = now;
    } else {
        d->end_at = now + d->duration_ms;
    }
    sim_engine_kick(sim);
    return true;
}

int *sim_tasks_ahead(const ofsim *sim, int index, int *n)
{
    int *out = calloc((size_t)sim->n_active + 1, sizeof *out);
    OF_ASSERT(out);
    *n = 0;
    if (sim->deps[index].state != SIM_QUEUED) return out;
    for (int k = 0; k < sim->n_active && sim->active[k] != index; k++)
        if (sim->deps[sim->active[k]].state == SIM_QUEUED) out[(*n)++] = sim->active[k];
    return out;
}

/* ---- the engine ------------------------------------------------------------- */

static bool occupies_slot(const sim_dep *d)
{
    return d->state == SIM_EXECUTING || d->state == SIM_CANCELLING;
}

static bool same_tag(const sim_dep *a, const sim_dep *b)
{
    return a->project == b->project && a->env == b->env && a->tenant == b->tenant;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One pass over the live tasks at `now`. Returns the wall time of the next
 * event the engine must wake for (INT64_MAX if none). mu held.
 *
 * Times are the schedule's, not the pass's: a task ends at its end_at and the task that takes
 * its slot starts then (or when it may start, if later), however late this pass runs behind
 * a busy lock. So durations stay exact under load and throughput is what the task cap
 * allows, as on a server whose task engine is not starved (docs/octopus.md). */
static int64_t engine_step(ofsim *sim, int64_t now)
{
    int64_t next = INT64_MAX;
    int *running = calloc((size_t)sim->n_active + 1, sizeof *running);
    int64_t *freed = calloc((size_t)sim->n_active + 1, sizeof *freed);
    int *ended = calloc((size_t)sim->n_active + 1, sizeof *ended); /* finished in this pass */
    OF_ASSERT(running && freed && ended);
    int n_running = 0, n_freed = 0, n_ended = 0;

    for (int k = 0; k < sim->n_active; k++) {
        int i = sim->active[k];
        sim_dep *d = &sim->deps[i];
        if (d->state == SIM_EXECUTING && !d->held && now >= d->end_at && d->fail &&
            guided_on(sim, d)) {
            /* the step failed: the task waits for guidance, keeping its slot */
            d->held = d->was_held = d->guided_held = true;
            d->guided_raises++;
            d->responsible = false;
            d->updated = d->end_at;
            sim_event_record(sim, i, SIM_EV_GUIDED_RAISED, d->end_at);
        } else if (d->state == SIM_EXECUTING && !d->held && now >= d->end_at) {
            freed[n_freed++] = d->end_at;
            ended[n_ended++] = i;
            task_finish(sim, i, d->fail ? SIM_FAILED : SIM_SUCCESS, d->end_at);
        } else if (d->state == SIM_CANCELLING && now >= d->cancel_at) {
            freed[n_freed++] = d->cancel_at;
            ended[n_ended++] = i;
            task_finish(sim, i, SIM_CANCELED, d->cancel_at);
        } else if (d->state == SIM_QUEUED && d->req_expiry > 0 && now >= d->req_expiry) {
            task_finish(sim, i, SIM_TIMEDOUT, d->req_expiry); /* no event: see docs/octopus.md */
        }
    }
    qsort(freed, (size_t)n_freed, sizeof *freed, cmp_i64);
    int kept = 0;
    for (int k = 0; k < sim->n_active; k++) {
        int i = sim->active[k];
        if (sim_tstate_done(sim->deps[i].state)) continue;
        sim->active[kept++] = i;
        if (occupies_slot(&sim->deps[i])) running[n_running++] = i;
    }
    sim->n_active = kept;

    /* slots idle before this pass are free since any time; then those freed in it, earliest
     * first */
    int idle = sim->task_cap - n_running - n_freed, next_freed = 0;
    for (int k = 0; k < sim->n_active && n_running < sim->task_cap; k++) {
        int i = sim->active[k];
        sim_dep *d = &sim->deps[i];
        if (d->state != SIM_QUEUED || d->queue_time > now) continue;
        bool busy = false;
        for (int r = 0; r < n_running && !busy; r++)
            busy = same_tag(d, &sim->deps[running[r]]);
        if (busy) continue;
        int64_t at = d->queue_time;
        if (idle > 0)
            idle--;
        else if (next_freed < n_freed && freed[next_freed++] > at)
            at = freed[next_freed - 1];
        for (int e = 0; e < n_ended; e++) /* one task per tag at a time, in recorded times too */
            if (same_tag(d, &sim->deps[ended[e]]) && sim->deps[ended[e]].completed > at)
                at = sim->deps[ended[e]].completed;
        d->state = SIM_EXECUTING;
        d->start = d->updated = at;
        sim_event_record(sim, i, SIM_EV_STARTED, at);
        if (d->interrupt) {
            d->held = d->was_held = true;
            sim_event_record(sim, i, SIM_EV_MANUAL_RAISED, at);
        } else {
            d->end_at = at + d->duration_ms;
        }
        running[n_running++] = i;
    }
    free(freed);
    free(ended);
    free(running);

    for (int k = 0; k < sim->n_active; k++) {
        const sim_dep *d = &sim->deps[sim->active[k]];
        int64_t t = INT64_MAX;
        if (d->state == SIM_EXECUTING && !d->held) t = d->end_at;
        if (d->state == SIM_CANCELLING) t = d->cancel_at;
        if (d->state == SIM_QUEUED) {
            if (d->req_expiry > 0) t = d->req_expiry;
            if (d->queue_time > now && d->queue_time < t) t = d->queue_time;
        }
        if (t < next) next = t;
    }
    return next;
}

static void *engine_main(void *arg)
{
    ofsim *sim = arg;
    of_log_set_component("octopus-sim");
    pthread_mutex_lock(&sim->mu);
    while (!sim->engine_stop) {
        int64_t now = of_wall_ms();
        int64_t next = engine_step(sim, now);
        /* Wake at least once a second anyway: cheap, and it bounds the damage
         * of a wall-clock jump. */
        int64_t wait_ms = next == INT64_MAX ? 1000 : next - now;
        if (wait_ms > 1000) wait_ms = 1000;
        if (wait_ms < 1) wait_ms = 1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + wait_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        int rc = pthread_cond_timedwait(&sim->engine_cv, &sim->mu, &ts);
        if (rc != 0 && rc != ETIMEDOUT) of_warn("task engine wait failed rc=%d", rc);
    }
    pthread_mutex_unlock(&sim->mu);
    return NULL;
}

void sim_engine_kick(ofsim *sim)
{
    pthread_cond_signal(&sim->engine_cv);
}

of_err sim_engine_start(ofsim *sim)
{
    sim->engine_stop = false;
    if (pthread_create(&sim->engine, NULL, engine_main, sim) != 0) return OF_ERR_NOMEM;
    sim->engine_started = true;
    return OF_OK;
}

void sim_engine_stop(ofsim *sim)
{
    if (!sim->engine_started) return;
    pthread_mutex_lock(&sim->mu);
    sim->engine_stop = true;
    pthread_cond_signal(&sim->engine_cv);
    pthread_mutex_unlock(&sim->mu);
    pthread_join(sim->engine, NULL);
    sim->engine_started = false;
}
