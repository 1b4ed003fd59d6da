/* Internals shared by the simulator's modules (not part of the ofsim API).
 *
 *   sim_util.c   string map, strings, timestamps, JSON helpers
 *   sim_world.c  fixture loading into the world model
 *   sim_model.c  lookups, tenant connections, lifecycle rules
 *   sim_tasks.c  deployment creation, the task engine thread, cancel
 *   sim_api.c    /api routing and the catalogue handlers (spaces ... releases)
 *   sim_deploy.c /api deployments, tasks, interruptions handlers
 *   sim_events.c the event feed: recording (with its faults) and /api events
 *   sim_admin.c  /sim/ admin handlers and the in-process admin API
 *   sim_http.c   libmicrohttpd (the only module that uses it), faults, start/stop
 *
 * Locking: one mutex (ofsim.mu) guards the whole world, the deployments and
 * tasks, the rules, the faults and the stats. Handlers run with it held; the
 * HTTP layer releases it around every sleep (latency, slow bodies). */
#ifndef OFSIM_INT_H
#define OFSIM_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "sim.h"

/* How long before start-up the fixture's history happened: a day, as a train's previous
 * cycle usually is, so it lies outside the hour a worker's adoption look-up searches back
 * (OF_OCTO_CLOCK_SKEW_MS) as it would on a real server. The releases predate it. */
#define SIM_HISTORY_AGE_MS (24LL * 60 * 60 * 1000)

#define SIM_MAX_BODY     (1024 * 1024) /* request bodies above this get 413 */
#define SIM_DEFAULT_CAP  5
#define SIM_DEFAULT_TAKE 30

/* ---- sim_util.c ---------------------------------------------------------- */

/* Open-addressing map from a string (compared case-insensitively, as Octopus
 * compares ids) to an int. Keys are copied. */
typedef struct sim_strmap {
    char **keys;
    int *vals;
    size_t cap, n;
} sim_strmap;

int sim_strmap_get(const sim_strmap *m, const char *key); /* -1 when absent */
of_err sim_strmap_put(sim_strmap *m, const char *key, int val);
void sim_strmap_clear(sim_strmap *m);

char *sim_strdup(const char *s); /* NULL-safe; aborts on OOM */
/* The first key of object obj that is not in the NULL-terminated `allowed`
 * (borrowed from obj), or NULL when there is none; with comments, keys
 * starting with '_' are always allowed. */
const char *sim_unknown_key(json_t *obj, const char *const *allowed, bool comments);
char *sim_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fixture error: OF_ERR_CONFIG, errstr "fixture <path>: <message>" (sim_world.c,
 * sim_process.c). */
of_err sim_vfxerr(char *errstr, size_t errsz, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* A JSON path for messages into out; a (never expected) truncation is harmless. */
void sim_pathf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *sim_slug(const char *name); /* "Hosted Beta" -> "hosted-beta" */
bool sim_icontains(const char *hay, const char *needle);
int sim_namecmp(const char *a, const char *b);    /* case-insensitive, then exact */
void sim_pct_decode(char *s, bool plus_is_space); /* in place */
/* Percent-encodes s into out (NUL-terminated) like of_buf_append_pct, ',' kept literal.
 * OF_ERR_TOO_LARGE (out = "") when it does not fit out_size bytes. */
of_err sim_pct_encode(const char *s, char *out, size_t out_size);
/* "2026-11-26T02:30:00.123+00:00"; 0 = JSON null. Returns a new json value. */
json_t *sim_json_time(int64_t wall_ms);
void sim_fmt_time(int64_t wall_ms, char *out, size_t out_size);
json_t *sim_json_str(const char *s); /* NULL -> json null */
/* Seeded xorshift draw in [lo, hi]. */
int64_t sim_rand_range(uint64_t *state, int64_t lo, int64_t hi);

/* A resource's rendered JSON (json_dumps, compact) kept between requests, so a list reply
 * concatenates text instead of building and dumping a jansson tree per item per request.
 * `stamp` names everything mutable the rendering read (a task's state and times, ...): the text is
 * rendered again when the stamp differs, so nothing has to remember to invalidate it. */
typedef struct sim_text {
    char *s; /* owned; NULL = not rendered yet */
    size_t len;
    char stamp[96];
} sim_text;

void sim_text_clear(sim_text *t);

/* ---- the world ------------------------------------------------------------ */

typedef enum sim_tenancy {
    SIM_UNTENANTED = 0,
    SIM_TENANTED,
    SIM_TENANTED_OR_UNTENANTED,
} sim_tenancy;

typedef struct sim_space {
    char *id, *name, *slug;
    bool is_default;
} sim_space;

typedef struct sim_env {
    char *id, *name, *slug;
    int space;
    int sort_order;
    bool guided;
} sim_env;

typedef struct sim_phase {
    char *id, *name;
    int *envs; /* indexes into world.envs */
    int n_envs;
    bool optional;
    int minimum; /* environments of this phase needed before the next one; >= 1 */
} sim_phase;

typedef struct sim_lifecycle {
    char *id, *name;
    int space;
    sim_phase *phases;
    int n_phases;
} sim_lifecycle;

typedef struct sim_tagset {
    char *id, *name;
    int space;
    int first_tag, n_tags; /* a range of world.tags */
} sim_tagset;

typedef struct sim_tag {
    char *id, *name, *canonical; /* canonical = "TagSet/Tag" */
    int tagset;
} sim_tag;

typedef struct sim_channel {
    char *id, *name;
    int space, project;
    int lifecycle; /* -1 = the project's */
    bool is_default;
} sim_channel;

typedef struct sim_project {
    char *id, *name, *slug;
    int space, lifecycle;
    sim_tenancy tenancy;
    char *guided_mode; /* "EnvironmentDefault" | "Off" | "On" */
    bool disabled;
    int default_channel;
    json_t *process_src; /* the fixture's "process" (a reference, until the space is loaded) */
    json_t *steps;       /* the process's Steps, rendered once loaded (sim_process.c) */
} sim_project;

typedef struct sim_release {
    char *id, *version;
    int space, project, channel;
    int64_t assembled;    /* wall ms; newer releases have later times */
    json_t *packages_src; /* the fixture's "packages" (a reference, until the space is loaded) */
    json_t *packages;     /* SelectedPackages, rendered once loaded (sim_process.c) */
    /* Successful deployments, indexed [env * (n_tenants + 1) + tenant + 1]
     * (tenant -1 = untenanted). NULL until the first success. */
    uint8_t *done;
} sim_release;

typedef struct sim_projenv {
    int project;
    int *envs;
    int n_envs;
} sim_projenv;

typedef struct sim_tenant {
    char *id, *name, *slug;
    int space;
    bool disabled;
    int *tags; /* indexes into world.tags */
    int n_tags;
    sim_projenv *pe;
    int n_pe;
} sim_tenant;

typedef struct sim_key {
    char *key;
    bool all_spaces;
    int *spaces;
    int n_spaces;
} sim_key;

typedef struct sim_rule {
    char *project, *env, *tenant; /* NULL = any */
    bool has_duration;
    int64_t dur_min, dur_max;
    int outcome_fail; /* -1 unset, 0 success, 1 fail */
    int fail_percent; /* -1 unset */
    char *error;      /* NULL unset */
    int interruption; /* -1 unset, 0/1 */
} sim_rule;

typedef enum sim_tstate {
    SIM_QUEUED = 0,
    SIM_EXECUTING,
    SIM_CANCELLING,
    SIM_SUCCESS,
    SIM_FAILED,
    SIM_CANCELED,
    SIM_TIMEDOUT,
    SIM_TSTATE__COUNT
} sim_tstate;

const char *sim_tstate_name(sim_tstate s);
int sim_tstate_parse(const char *s); /* -1 if unknown; case-insensitive */
bool sim_tstate_done(sim_tstate s);

/* A deployment and its server task share an index: deployments[i] has id
 * "Deployments-(i+1)" and task "ServerTasks-(i+1)". History comes first. */
typedef struct sim_dep {
    int space, project, release, env, tenant, channel; /* tenant -1 = untenanted */
    int key;                                           /* world.keys index that created it; -1 */
    bool history;
    int64_t created;
    char *comments;
    int guided;                         /* -1 null, 0, 1 */
    json_t *form_values;                /* owned object */
    int64_t req_queue_time, req_expiry; /* as requested, 0 = null */
    /* the task */
    sim_tstate state;
    int64_t queue_time; /* when it may start: max(created, QueueTime) */
    int64_t start, completed, updated;
    int64_t duration_ms;
    bool fail;
    char *error;      /* message when failed (rule's), owned */
    bool interrupt;   /* rule says: hold for manual intervention */
    bool held;        /* currently waiting on the interruption */
    bool was_held;    /* an interruption exists (for the interruptions API) */
    bool responsible; /* someone took responsibility for the interruption (Users-1) */
    /* Guided failure (UseGuidedFailure): a failing task waits on a GuidedFailure interruption
     * instead of failing; guided_raises counts them (the latest is "Interruptions-<task>-g<k>",
     * the only one listed); guided_off: "Fail" was chosen, the next failure is final. */
    bool guided_held;
    int guided_raises;
    bool guided_off;
    int64_t end_at;    /* when Executing finishes (if not held) */
    int64_t cancel_at; /* when Cancelling becomes Canceled */
    /* rendered on demand by list replies (sim_task_text, sim_deployment_text) */
    sim_text task_text, dep_text;
} sim_dep;

typedef struct sim_hist {
    int release, env, tenant; /* tenant -1 = untenanted */
} sim_hist;

typedef struct sim_world {
    sim_space *spaces;
    int n_spaces, default_space;
    sim_env *envs;
    int n_envs;
    sim_lifecycle *lifecycles;
    int n_lifecycles;
    sim_tagset *tagsets;
    int n_tagsets;
    sim_tag *tags;
    int n_tags;
    sim_project *projects;
    int n_projects;
    sim_channel *channels;
    int n_channels;
    sim_release *releases;
    int n_releases;
    sim_tenant *tenants;
    int n_tenants;
    sim_key *keys;
    int n_keys;
    sim_rule *rules; /* from the fixture */
    int n_rules;
    int task_cap;
    uint64_t seed;
    /* id -> index, one map per kind */
    sim_strmap space_ids, env_ids, lifecycle_ids, tagset_ids, project_ids, project_slugs,
        channel_ids, release_ids, tenant_ids, tenant_slugs; /* slugs keyed "<space>:<slug>" */
    /* indexes sorted by name (environments by SortOrder) */
    int *sorted_projects, *sorted_envs, *sorted_tenants;
    sim_hist *hist; /* deployments that succeeded before the simulator started */
    int n_hist;
    int64_t epoch; /* wall ms when the world was loaded */
} sim_world;

/* Loads a fixture. Exactly one of path/json. On failure errstr names the
 * JSON path. *w is filled; release its contents with sim_world_clear even on failure. */
of_err sim_world_load(sim_world *w, const char *path, const char *json, char *errstr,
                      size_t errstr_size);
void sim_world_clear(sim_world *w);

int sim_find_space(const sim_world *w, const char *id_or_name);
/* Lookup by id within a space (-1 when absent or in another space); projects and tenants also by
 * slug. */
int sim_find_project(const sim_world *w, int space, const char *id_or_slug);
int sim_find_env(const sim_world *w, int space, const char *id);
int sim_find_tenant(const sim_world *w, int space, const char *id_or_slug);
int sim_find_release(const sim_world *w, int space, const char *id);
int sim_find_lifecycle(const sim_world *w, int space, const char *id);
int sim_find_channel(const sim_world *w, int space, const char *id);
int sim_find_tagset(const sim_world *w, int space, const char *id);
int sim_release_by_version(const sim_world *w, int project, const char *version);

int sim_release_lifecycle(const sim_world *w, int release);
bool sim_tenant_connected(const sim_world *w, int tenant, int project, int env); /* env -1: any */
bool sim_release_done(const sim_world *w, int release, int env, int tenant);
void sim_release_mark_done(sim_world *w, int release, int env, int tenant);
void sim_release_clear_done(sim_world *w);

/* Octopus's tag filter: for every tag set named in tags (canonical
 * "Set/Tag" json strings), the tenant carries at least one of the named
 * tags of that set (AND across sets, OR within one). */
bool sim_tenant_matches_tags(const sim_world *w, int tenant, const json_t *tags);

/* Lifecycle check: may `release` go to `env` for `tenant` (-1 untenanted)?
 * When not, and why != NULL, *why gets a new string saying what is missing. */
bool sim_lifecycle_allows(const sim_world *w, int release, int env, int tenant, char **why);

/* ---- the simulator object ------------------------------------------------- */

typedef struct sim_fault {
    char *route;     /* "*" | exact pattern | prefix ending in '*' */
    char *arg;       /* NULL, or only requests carrying this query argument match */
    long count;      /* remaining; -1 = until cleared */
    int status;      /* 0 = none */
    int retry_after; /* seconds; -1 = no header */
    int64_t latency_ms;
    bool drop;
    bool after; /* run the request first, then replace/drop its response */
    int64_t slow_body_ms;
    int64_t body_bytes;
    char *error; /* ErrorMessage for status faults */
    char *body;  /* this exact text as the reply's body (with status, default 200) */
    /* hostile replies (docs/octopus.md, "Faults"); the request itself is served normally */
    int64_t total_results; /* -1 = honest; else every page claims this TotalResults */
    bool ignore_skip;      /* every page is the first one, whatever skip says */
    char *corrupt_task;    /* this task id ("*" = every task) in a task page is undecodable */
    char *corrupt_how;     /* "state_number" (default) | "state_unknown" | "no_id" */
    bool endless_body;     /* 200 with a chunked body that never ends (slow_body_ms: per chunk) */
    /* event faults (never match a request): which categories, then drop or delay them */
    unsigned event_mask; /* bit per sim_ecat; 0 = a request fault */
    int percent;         /* of the matching events, how many in 100 it applies to */
    int64_t delay_ms;    /* the event becomes visible this long after it occurred */
} sim_fault;

/* Event categories the task engine records (docs/octopus.md, "Events"). */
typedef enum sim_ecat {
    SIM_EV_QUEUED = 0,    /* DeploymentQueued: created */
    SIM_EV_STARTED,       /* DeploymentStarted: Queued -> Executing */
    SIM_EV_SUCCEEDED,     /* DeploymentSucceeded */
    SIM_EV_FAILED,        /* DeploymentFailed */
    SIM_EV_CANCELED,      /* TaskCanceled */
    SIM_EV_MANUAL_RAISED, /* ManualInterventionInterruptionRaised */
    SIM_EV_MANUAL_RESOLVED,
    SIM_EV_GUIDED_RAISED, /* accepted by the filters; the simulator never raises it */
    SIM_EV__COUNT
} sim_ecat;

const char *sim_ecat_name(sim_ecat c);
int sim_ecat_parse(const char *s); /* -1 if unknown; case-insensitive */

/* One recorded event: events[i] has AutoId i + 1 and Id "Events-(i+1)". */
typedef struct sim_event {
    int dep; /* the deployment (and task) it is about */
    sim_ecat cat;
    int64_t occurred;
    int64_t visible_at; /* wall ms; later than occurred for a delayed event */
    sim_text text;      /* rendered on demand; an event never changes */
} sim_event;

/* A growable list of indexes. */
typedef struct sim_ivec {
    int *v;
    int n;
    size_t cap;
} sim_ivec;

void sim_ivec_push(sim_ivec *a, int x);

typedef struct sim_stat {
    char *route;
    long count;
} sim_stat;

struct ofsim {
    pthread_mutex_t mu;
    pthread_cond_t engine_cv; /* CLOCK_MONOTONIC; wakes the engine */
    pthread_t engine;
    bool engine_started, engine_stop;

    /* stop signal for sleeps done outside mu */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;

    sim_world w;
    int start_cap;
    uint64_t start_seed;
    int task_cap;
    uint64_t rng;
    sim_rule *rules; /* current rules (fixture's, or replaced via /sim/rules) */
    int n_rules;

    sim_dep *deps;
    int n_deps, cap_deps, n_history;
    int *active; /* non-terminal tasks, sorted by (queue_time, index) */
    int n_active, cap_active;

    /* index of deployments by target: "project:env:tenant" and "project:env:*" -> dep_lists */
    sim_strmap dep_index;
    sim_ivec *dep_lists;
    int n_dep_lists;

    sim_event *events; /* AutoId order */
    int n_events, n_history_events;
    size_t cap_events;
    uint64_t event_rng;
    long events_dropped, events_delayed;

    /* per API key (world.keys index): tasks Queued/Executing/Cancelling now, and the most at once
     */
    int *key_live, *key_peak;

    sim_fault *faults;
    int n_faults;
    sim_stat *stats;
    int n_stats;
    long total_requests;
    long status_counts[6]; /* 1xx..5xx, [0] = dropped */

    void *http; /* sim_http.c's state */
    char url[128];
    uint16_t port;
    bool quiet;
    int64_t started_wall;

    /* Rendered texts (sim_text): off = every reply built by jansson as before (tests compare the
     * two); check = use them but also render afresh and abort on any difference. */
    bool text_cache_off, text_cache_check;
    int64_t req_now; /* wall ms the /api request being served reads as "now"; 0 = none */
};

/* ---- requests (independent of libmicrohttpd) ------------------------------ */

typedef struct sim_qarg {
    char *key, *value; /* decoded */
} sim_qarg;

typedef struct sim_req sim_req;
typedef void (*sim_handler)(sim_req *r);

/* One entry of a routing table (the API's in sim_api.c, the admin endpoints' in sim_admin.c). */
typedef struct sim_route {
    const char *method;
    const char *path; /* a pattern; each table says what it is relative to */
    sim_handler handler;
} sim_route;

struct sim_req {
    ofsim *sim;
    const char *method;
    const char *raw_path; /* as received, without the query */
    char **seg;           /* decoded path segments */
    int n_seg;
    sim_qarg *args;
    int n_args;
    const char *api_key; /* header, else ?apikey=; NULL if none */
    const char *body;
    size_t body_len;
    bool loopback;

    /* routing result */
    char route[128]; /* pattern for stats and faults: "GET /api/{space}/tasks" */
    sim_handler handler;
    int space;           /* -1: no space (root, spaces list) or any space (tasks) */
    bool explicit_space; /* the path named the space */
    bool needs_auth;
    bool space_scoped; /* check the key's rights on `space` */
    int rest;          /* index of the first segment after the space prefix */
    int route_error;   /* 0, or 404/405 decided while routing */

    /* response */
    int status;
    char *resp; /* owned; JSON unless content_type says otherwise */
    const char *content_type;
    int retry_after;        /* -1 = none */
    const sim_fault *fault; /* the fault taken for this request, if any (page faults) */
};

const char *sim_arg(const sim_req *r, const char *key); /* first value, case-insensitive key */
/* Parses skip/take (defaults 0/30). Returns false and responds 400 if invalid. */
bool sim_paging(sim_req *r, long *skip, long *take);
/* Responds with json (stolen). */
void sim_reply(sim_req *r, int status, json_t *json);
/* Responds {"ErrorMessage": msg, "Errors": [errs...]} (errs may be NULL). */
void sim_reply_error(sim_req *r, int status, const char *msg, json_t *errs);
void sim_reply_not_found(sim_req *r);
void sim_reply_text(sim_req *r, int status, char *text); /* takes text */

/* A paged collection: renders items idx[skip..skip+take) with render(ctx, i). */
typedef json_t *(*sim_render_fn)(ofsim *sim, int index);
void sim_reply_page(sim_req *r, const char *item_type, const int *idx, int n, sim_render_fn render,
                    const char *template_link);
/* An item's kept text (borrowed: valid while mu is held and the item is unchanged). */
typedef const sim_text *(*sim_text_fn)(ofsim *sim, int index);
/* sim_reply_page whose items come from text(), unless the cache is off or a fault rewrites
 * items; the bytes are the same either way. */
void sim_reply_page_text(sim_req *r, const char *item_type, const int *idx, int n,
                         sim_render_fn render, sim_text_fn text, const char *template_link);
/* Responds with one item's text (sim_reply(r, status, render(sim, index)) byte for byte). */
void sim_reply_item(sim_req *r, int status, int index, sim_render_fn render, sim_text_fn text);
/* Writes an item's JSON text straight (the bytes json_dumps(render(...)) gives, faster): a new
 * string the caller frees. */
typedef char *(*sim_write_fn)(ofsim *sim, int index);
/* t's text if its stamp equals `stamp`, else the text written by write (NULL: render(sim, index)
 * dumped) into t. With text_cache_check every text served is also compared with a fresh jansson
 * rendering: a difference aborts. */
const sim_text *sim_text_get(ofsim *sim, sim_text *t, const char *stamp, sim_render_fn render,
                             sim_write_fn write, int index);
/* Aborts (logging where) when text differs from json_dumps(render(sim, index)). */
void sim_text_check(ofsim *sim, const char *text, const char *stamp, sim_render_fn render,
                    int index);
/* Appends s as a JSON string, escaped as jansson's json_dumps escapes it (no flags). */
void sim_json_put_str(of_buf *b, const char *s);
/* The wall ms a rendering reads as "now": the request's, so one reply reads one clock. */
int64_t sim_now(const ofsim *sim);
/* A bare array of every item (the /all endpoints). */
void sim_reply_all(sim_req *r, const int *idx, int n, sim_render_fn render);
/* Collects comma-separated values of every `key` argument into a new array
 * (json strings); NULL when the argument is absent. */
json_t *sim_arg_list(const sim_req *r, const char *key);
bool sim_list_has(const json_t *list, const char *id); /* case-insensitive */

/* sim_api.c */
/* Fills route, handler, space... from method and seg[]; never responds. */
void sim_api_route(sim_req *r);
/* Checks the API key and the space, then runs the handler (or responds
 * 401/403/404/405). */
void sim_api_dispatch(sim_req *r);
bool sim_key_allows(const ofsim *sim, const char *key, int space);
int sim_key_index(const ofsim *sim, const char *key); /* world.keys index; -1 unknown */
/* A parameter segment of the matched route: the k-th after the space prefix. */
const char *sim_seg(const sim_req *r, int k);

/* sim_deploy.c: handlers referenced by the route table */
void sim_h_deployments_list(sim_req *r);
/* sim_process.c: deployment processes, their snapshots and releases' selected packages. */
/* Builds the Steps of every project of space and the SelectedPackages of their releases from
 * the fixture (after all of the space's projects are loaded); errors name the JSON path under
 * space_path ("spaces[0]"). */
of_err sim_load_processes(sim_world *w, int space, const char *space_path, char *errstr,
                          size_t errsz);
void sim_h_project_process(sim_req *r); /* GET projects/{id}/deploymentprocesses */
void sim_h_process_get(sim_req *r);     /* GET deploymentprocesses/{id} */
void sim_h_deployment_get(sim_req *r);
void sim_h_deployment_create(sim_req *r);
void sim_h_release_deployments(sim_req *r);
void sim_h_tasks_list(sim_req *r);
void sim_h_task_get(sim_req *r);
void sim_h_task_details(sim_req *r);
void sim_h_task_raw(sim_req *r);
void sim_h_task_cancel(sim_req *r);
void sim_h_task_queued_behind(sim_req *r);
void sim_h_executions_tenanted(sim_req *r);
void sim_h_executions_untenanted(sim_req *r);
void sim_h_interruptions_list(sim_req *r);
void sim_h_interruption_get(sim_req *r);
void sim_h_interruption_submit(sim_req *r);
void sim_h_interruption_responsible(sim_req *r);
json_t *sim_render_task(ofsim *sim, int index);
json_t *sim_render_deployment(ofsim *sim, int index);
const sim_text *sim_task_text(ofsim *sim, int index);
const sim_text *sim_deployment_text(ofsim *sim, int index);

/* sim_tasks.c (all with mu held unless noted) */
of_err sim_tasks_init(ofsim *sim, char *errstr, size_t errstr_size); /* loads history */
void sim_tasks_clear(ofsim *sim);
of_err sim_engine_start(ofsim *sim); /* mu not held */
void sim_engine_stop(ofsim *sim);    /* mu not held */
void sim_engine_kick(ofsim *sim);
/* Appends a deployment + Queued task (rules applied) created with API key
 * `key` (world.keys index, -1 none). Returns its index. */
int sim_dep_create(ofsim *sim, int key, int release, int env, int tenant, const char *comments,
                   int guided, json_t *form_values, int64_t queue_time, int64_t expiry);
/* The deployments that may match a filter on projects x environments x tenants
 * (any list NULL = no filter on it), from the index: a new array the caller
 * frees, newest first, *n entries; NULL when the filter cannot use the index
 * (no projects or environments, or too many combinations): scan instead. Ids
 * are matched as the scan matches them (exact id, any case), so every entry
 * passes those three filters. */
int *sim_deps_by_target(const ofsim *sim, int space, const json_t *projects, const json_t *envs,
                        const json_t *tenants, int *n);
/* Returns true if the task changed state. */
bool sim_task_cancel(ofsim *sim, int index);
/* Releases a held interruption; abort=true fails the task instead. */
bool sim_task_release(ofsim *sim, int index, bool abort);
/* Answers a pending guided failure: "Retry" runs the step again (the outcome rules decide
 * anew), "Ignore"/"Exclude" succeed, "Fail"/"Abort" fail the task. false: not pending, or an
 * unknown guidance (*known false). */
bool sim_task_guide(ofsim *sim, int index, const char *guidance, bool *known);
void sim_tasks_reset(ofsim *sim); /* forget created deployments; keep history */
int sim_task_index(const ofsim *sim, const char *task_id); /* -1 if none */
int sim_dep_index(const ofsim *sim, const char *dep_id);
of_err sim_rules_parse(json_t *arr, const char *path, sim_rule **out, int *n, char *errstr,
                       size_t errstr_size);
void sim_rules_free(sim_rule *rules, int n);
sim_rule *sim_rules_copy(const sim_rule *rules, int n); /* deep copy */
/* Queued tasks ahead of a Queued task, in queue order: a new array the
 * caller frees, *n entries (0 when the task is not queued). */
int *sim_tasks_ahead(const ofsim *sim, int index, int *n);

/* sim_events.c (mu held) */
/* Records an event about deployment dep now, unless an event fault drops it
 * (or delays its visibility). */
void sim_event_record(ofsim *sim, int dep, sim_ecat cat, int64_t now);
void sim_events_reset(ofsim *sim); /* keep the history's events only */
void sim_events_clear(ofsim *sim);
void sim_h_events_list(sim_req *r);
void sim_h_event_get(sim_req *r);
/* The Events link template, relative to the space (the root and space root use it). */
extern const char sim_events_template[];

/* sim_admin.c (mu held) */
void sim_admin_route(sim_req *r); /* fills route and handler; the handler always responds */
void sim_stats_count(ofsim *sim, const char *route);
void sim_stats_status(ofsim *sim, int status); /* 0 = dropped */
/* Consumes one use of the first fault matching route; *out is a copy whose
 * strings the caller releases with sim_fault_clear (route is NULL). */
bool sim_fault_take(ofsim *sim, const sim_req *r, sim_fault *out);
/* Consumes one use of the first live event fault covering category cat and
 * says what it does to this event: *drop, or *delay_ms (0 = none). False when
 * no fault covers it (or its percent draw spared this one). */
bool sim_event_fault_take(ofsim *sim, sim_ecat cat, bool *drop, int64_t *delay_ms);
void sim_fault_clear(sim_fault *f);
void sim_admin_clear(ofsim *sim); /* faults and stats */
/* Serves one request in-process, without HTTP and without faults: path is
 * "/api/..." or "/sim/..." with an optional query (percent-encoded, at most 32
 * arguments and 16 segments). mu not held. *status gets the HTTP status and,
 * if response != NULL, *response a new string the caller frees. Benchmarks
 * use it to time the handlers alone (bench/bench_sim.c). */
void sim_call(ofsim *sim, const char *method, const char *path, const char *api_key,
              const char *body, int *status, char **response);

#endif
