/* The Octopus Deploy REST client: the only module that uses libcurl.
 *
 * One client = one libcurl multi handle driven by ONE thread (the client is
 * not thread-safe). Requests are asynchronous: an `_async` call queues the
 * request(s) and returns; `of_octo_poll()` moves bytes and fires completion
 * callbacks. At most `max_concurrent` requests are on the wire at once, the
 * rest wait in a FIFO; connections are kept alive and reused. A call exists in
 * the form its callers use: `_async`, blocking (same name without `_async`: it
 * submits and drives the loop until that call is done; callbacks of other
 * outstanding calls may fire from inside it), or both.
 *
 * Threads: call of_octo_global_init() once from main() before any thread
 * creates a client (it sets up libcurl's process-wide state; nothing else in
 * octofleet includes curl.h). Each client then belongs to the one thread that
 * drives it; several clients in several threads are fine.
 *
 * Contract of every `_async` function: it returns OF_OK and the callback will
 * run exactly once, later, from inside of_octo_poll() (never from inside the
 * submitting call); or it returns an error, fills errstr and the callback is
 * never called. Callbacks may submit further `_async` calls; a blocking call
 * from inside a callback works but nests the loop (avoid it in daemons).
 *
 * Results handed to callbacks are owned by the client and freed when the
 * callback returns; a callback that wants to keep one moves it out
 * (`*mine = *res; memset(res, 0, sizeof *res);`). Blocking calls fill a
 * caller-owned struct that the caller releases with the matching
 * of_octo_*_clear() (which frees the contents, not the struct, and leaves it
 * zeroed so a second free is harmless).
 *
 * Failures are decided in one place (see docs/octopus.md, "How failures are
 * classified"): network errors, 408, 429 (Retry-After honoured), 500, 502,
 * 503 and 504 are retried with capped exponential backoff and jitter inside
 * the call's retry deadline (then OF_ERR_TIMEOUT saying how many attempts
 * were made and the last error); 400/409 -> OF_ERR_REJECTED with the server's
 * ErrorMessage and Errors[]; 401/403 -> OF_ERR_AUTH; 404 -> OF_ERR_NOT_FOUND
 * naming what was not found; an oversized reply -> OF_ERR_TOO_LARGE.
 *
 * Listings that page (find by name, list tenants, find deployment by job)
 * are bounded: at most max_pages pages within list_deadline_ms. A reply whose
 * paging cannot be true (a short or empty page while TotalResults promises
 * more, more items than TotalResults or than take, a page that repeats the
 * previous one) -> OF_ERR_PROTOCOL naming the route; too many pages ->
 * OF_ERR_PROTOCOL; past the listing deadline -> OF_ERR_TIMEOUT.
 *
 * The API key only ever goes into the X-Octopus-ApiKey header: never into a
 * URL, a log line, an error string or of_octo_describe().
 *
 * The process must ignore SIGPIPE (of_signals_install does): libcurl is told
 * to leave signals alone (CURLOPT_NOSIGNAL) because the daemons are
 * multi-threaded, and a TLS write to a closed socket would otherwise kill
 * the process. */
#ifndef OF_OCTOPUS_H
#define OF_OCTOPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "strpool.h"

typedef struct of_octo of_octo;

/* ---- process-wide set-up ---------------------------------------------------
 * libcurl keeps process-wide state (TLS libraries, DNS) that must be set up once, before any
 * thread creates a client, and torn down once, after the last client is destroyed. So:
 *
 *   int main(void) { if (of_octo_global_init(...)) return 1; ...; of_octo_global_cleanup(); }
 *
 * Call of_octo_global_init() once from main() (the octofleet binary, every test and benchmark
 * main that creates clients) before any thread creates a client; of_octo_new() does not do it
 * for you. Neither is thread-safe; both are the only process-wide calls of the client. */
OF_MUST_CHECK of_err of_octo_global_init(char *errstr, size_t errstr_size);
/* After every client is destroyed and the threads that used them have stopped. */
void of_octo_global_cleanup(void);

/* ---- settings -----------------------------------------------------------------
 * The defaults. Each is written here once: the config table (common/config/config.c) makes
 * these constants the defaults of its octopus.* keys (with OF_OCTO_STR, which is why the ones
 * with a config key are plain integer literals), and of_octo_opts_default() fills them in for a
 * client built without a config (tests, benchmarks). */
#define OF_OCTO_STR_(x)                    #x
#define OF_OCTO_STR(x)                     OF_OCTO_STR_(x)
#define OF_OCTO_DEFAULT_SPACE              "Default"
#define OF_OCTO_DEFAULT_CONNECT_TIMEOUT_MS 10000  /* 10 s */
#define OF_OCTO_DEFAULT_REQUEST_TIMEOUT_MS 30000  /* 30 s */
#define OF_OCTO_DEFAULT_RETRY_DEADLINE_MS  120000 /* 2 min */
#define OF_OCTO_DEFAULT_MAX_CONCURRENT     64
#define OF_OCTO_DEFAULT_TASK_CHUNK         100
#define OF_OCTO_MAX_TASK_CHUNK             1000    /* ids per tasks?ids= request, at most */
#define OF_OCTO_DEFAULT_MAX_RESPONSE_BYTES 8388608 /* 8 MiB */
#define OF_OCTO_DEFAULT_RETRY_BASE_MS      250LL
#define OF_OCTO_DEFAULT_RETRY_CAP_MS       (10LL * 1000)
#define OF_OCTO_DEFAULT_PAGE_SIZE          100
#define OF_OCTO_DEFAULT_CACHE_MAX          ((size_t)65536)
/* A listing (find by name, tenants, the adoption look-up) that has not ended after this many
 * pages fails with OF_ERR_PROTOCOL: 500 pages of 100 are 50,000 items, far beyond a real space,
 * and a server that keeps promising more cannot keep a call (and its memory) growing for ever. */
#define OF_OCTO_DEFAULT_MAX_PAGES 500
/* A listing still paging after this long fails with OF_ERR_TIMEOUT. Never shorter than one
 * request may retry: of_fleet_octo_opts raises it to octopus.retry_deadline when that is longer. */
#define OF_OCTO_DEFAULT_LIST_DEADLINE_MS (5LL * 60 * 1000)
/* A task that of_octo_get_tasks could not decode for this long AND in at least
 * OF_OCTO_UNREADABLE_POLLS polls in a row is given up on (of_octo_task.give_up). Long enough to
 * ride out a server mid-upgrade, short against a deployment's life. */
#define OF_OCTO_DEFAULT_UNREADABLE_MS 300000 /* 5 min */
#define OF_OCTO_UNREADABLE_POLLS      3
/* Unreadable-task warnings: the first at once, then at most one per task per interval, with a
 * count of the polls not logged in between. */
#define OF_OCTO_DEFAULT_WARN_INTERVAL_MS (60LL * 1000)
/* How much of a bad reply an error message quotes (escaped, so one printable line). */
#define OF_OCTO_QUOTE_BYTES 200

/* Client settings. Every number is explicit (there is no "0 = default"): start from
 * of_octo_opts_default() or of_fleet_octo_opts() (which fills them from the config) and change
 * what you need. of_octo_new() rejects a value out of range with OF_ERR_CONFIG. All strings
 * are borrowed for the duration of of_octo_new() only (copied). */
/* What the client tells an observer about each HTTP attempt (monitoring: the daemons turn it
 * into metrics and readiness; the client itself stays free of the metrics module). */
typedef enum of_octo_route {
    OF_OCTO_ROUTE_DEPLOYMENTS = 0,    /* POST deployments (create) */
    OF_OCTO_ROUTE_DEPLOYMENTS_LOOKUP, /* GET deployments (adoption look-ups) */
    OF_OCTO_ROUTE_TASKS,              /* GET tasks (task reads) */
    OF_OCTO_ROUTE_TASK_CANCEL,        /* POST tasks/{id}/cancel */
    OF_OCTO_ROUTE_EVENTS,             /* GET events (the completion feed) */
    OF_OCTO_ROUTE_RELEASES,           /* releases (also projects/{id}/releases/...) */
    OF_OCTO_ROUTE_PROJECTS,
    OF_OCTO_ROUTE_ENVIRONMENTS,
    OF_OCTO_ROUTE_TENANTS,
    OF_OCTO_ROUTE_NODES,         /* octopusservernodes (the task cap) */
    OF_OCTO_ROUTE_INTERRUPTIONS, /* interruptions (approvals, guided failure) */
    OF_OCTO_ROUTE_OTHER,         /* spaces, the API root, tag sets, ... */
    OF_OCTO_ROUTE_COUNT
} of_octo_route;

/* "deployments", "deployments_lookup", "tasks", "task_cancel", "events", "releases",
 * "projects", "environments", "tenants", "nodes", "other" (static strings). */
const char *of_octo_route_name(of_octo_route r);

typedef struct of_octo_attempt_info {
    of_octo_route route;
    long status;         /* HTTP status of the reply; 0 = no reply (network error, timeout) */
    bool retry;          /* the attempt repeated an earlier one of the same request */
    int64_t duration_ms; /* from putting it on the wire to its end */
} of_octo_attempt_info;

/* Called once per finished attempt, on the thread that drives the client (of_octo_poll or a
 * blocking call), before the request's own callback. info is borrowed for the call. Must not
 * call back into the client. */
typedef void of_octo_observer(void *opaque, const of_octo_attempt_info *info);

typedef struct of_octo_opts {
    const char *url;     /* required: "https://octopus.example.com" (a path prefix is kept) */
    const char *space;   /* required: space name or id ("Spaces-1") */
    const char *api_key; /* the key itself; NULL = read api_key_file, else env OCTOPUS_API_KEY */
    const char *api_key_file;   /* file holding the key (surrounding whitespace ignored) */
    const char *ca_file;        /* PEM CA bundle to verify the server with; NULL = system store */
    bool tls_skip_verify;       /* true turns certificate and host checks OFF */
    int64_t connect_timeout_ms; /* > 0: connect phase of one attempt */
    int64_t request_timeout_ms; /* > 0: one attempt from start to last byte */
    int64_t retry_deadline_ms;  /* > 0: one request incl. retries, from its first attempt */
    int64_t retry_base_ms;      /* > 0: first backoff step */
    int64_t retry_cap_ms;       /* largest backoff step (raised to retry_base_ms if smaller) */
    int max_concurrent;         /* >= 1: requests on the wire at once (the rest queue) */
    int task_chunk;             /* 1..OF_OCTO_MAX_TASK_CHUNK: task ids per GET tasks?ids= */
    int page_size;              /* >= 1: take= when paging through collections */
    size_t max_response_bytes;  /* > 0: cap on one reply body */
    size_t cache_max;           /* name lookup cache entries; 0 = no cache */
    uint64_t seed;              /* jitter PRNG seed; 0 = from the clock */
    /* Bounds on hostile or broken replies (docs/octopus.md, "Bounds"). */
    int max_pages;              /* >= 1: pages one listing may read */
    int64_t list_deadline_ms;   /* > 0: one listing, all pages and retries */
    int64_t task_unreadable_ms; /* > 0: see of_octo_task.give_up */
    int64_t warn_interval_ms;   /* > 0: per unreadable task, at most one warning per interval */
    of_octo_observer *observer; /* optional: told about every attempt (monitoring) */
    void *observer_opaque;      /* borrowed: must outlive the client */
} of_octo_opts;

/* Fills o with the OF_OCTO_DEFAULT_* values (url, api_key, api_key_file, ca_file NULL). */
void of_octo_opts_default(of_octo_opts *o);

/* Creates a client. Does no network I/O (see of_octo_connect). Fails with
 * OF_ERR_CONFIG when the URL is missing or not http(s), a setting is out of the
 * range of_octo_opts states, or no API key can be found ("no Octopus API key:
 * set OCTOPUS_API_KEY or octopus.api_key_file"). On success *out is a new
 * client the caller releases with of_octo_destroy(). of_octo_global_init()
 * must have been called. */
OF_MUST_CHECK of_err of_octo_new(const of_octo_opts *opts, of_octo **out, char *errstr,
                                 size_t errstr_size);

/* Aborts everything still outstanding (each callback runs once with
 * OF_ERR_CANCELLED, and submissions from those callbacks are refused), wipes
 * the key from memory and frees the client. NULL is a no-op. */
void of_octo_destroy(of_octo *c);

/* Writes a one-line description of the settings, key masked as "API-****",
 * into out. Returns out. */
char *of_octo_describe(const of_octo *c, char *out, size_t out_size);

/* Drives the transfers: waits up to timeout_ms for network activity or a
 * retry to come due (returns at once if something completed or nothing is
 * outstanding), then fires the callbacks of finished calls. Returns OF_OK, or
 * OF_ERR_NOMEM/OF_ERR_NETWORK when libcurl's multi handle fails (every
 * outstanding transfer is then failed with that error). */
OF_MUST_CHECK of_err of_octo_poll(of_octo *c, int timeout_ms);
/* of_octo_poll that also returns when fd (another event source's wake descriptor, e.g.
 * of_kafka_consumer_wake_fd; borrowed, -1 for none) becomes readable, and that waits up to
 * timeout_ms even with nothing outstanding: one loop sleeps on Octopus and on that source at
 * once. Reading fd empty is the caller's business. */
OF_MUST_CHECK of_err of_octo_poll_fd(of_octo *c, int timeout_ms, int fd);

/* Number of HTTP requests queued, on the wire, waiting to retry, or
 * completions not yet delivered. 0 = idle. */
size_t of_octo_outstanding(const of_octo *c);

typedef struct of_octo_stats {
    uint64_t requests;   /* HTTP attempts started (retries included) */
    uint64_t retries;    /* attempts that were retries */
    uint64_t failures;   /* calls that ended in an error */
    uint64_t cache_hits; /* name lookups answered from the cache */
    uint64_t max_active; /* most requests on the wire at once */
    uint64_t throttled;  /* replies 429 or 503: the server is overloaded (task budget) */
} of_octo_stats;
void of_octo_get_stats(const of_octo *c, of_octo_stats *out);

/* ---- resources ---------------------------------------------------------
 * Strings are owned by the struct (freed by its _clear function); optional
 * ones are NULL when the server sent null or nothing. Times are ms since the
 * Unix epoch, -1 when absent/null. */

typedef struct of_octo_ref {
    char *id;
    char *name;
} of_octo_ref;
void of_octo_ref_clear(of_octo_ref *r);

typedef struct of_octo_space {
    char *id;
    char *name;
    bool is_default;
} of_octo_space;
void of_octo_space_clear(of_octo_space *s);

typedef enum of_octo_tenanted {
    OF_OCTO_UNTENANTED = 0,
    OF_OCTO_TENANTED,
    OF_OCTO_TENANTED_OR_UNTENANTED,
} of_octo_tenanted;

typedef struct of_octo_project {
    char *id;
    char *name;
    char *slug;         /* may be NULL */
    char *lifecycle_id; /* may be NULL */
    of_octo_tenanted tenanted;
    bool is_disabled;
} of_octo_project;
void of_octo_project_clear(of_octo_project *p);

/* Environments have nothing we need beyond id and name. */
typedef of_octo_ref of_octo_environment;

typedef struct of_octo_project_envs {
    char *project_id;
    char **environment_ids;
    size_t n;
} of_octo_project_envs;

typedef struct of_octo_tenant {
    char *id;
    char *name;
    bool is_disabled;
    char **tags; /* canonical "TagSet/Tag" */
    size_t ntags;
    of_octo_project_envs *projects; /* ProjectEnvironments */
    size_t nprojects;
    /* Set in a list's items: the strings are the list's pool's (interned, so 10,000 tenants
     * share one copy of each project and environment id); only the arrays are the tenant's. */
    bool pooled;
} of_octo_tenant;
void of_octo_tenant_clear(of_octo_tenant *t);

/* True when the tenant is connected to project_id and, if environment_id is
 * not NULL, to that environment of it (ProjectEnvironments[p] contains e). */
bool of_octo_tenant_connected(const of_octo_tenant *t, const char *project_id,
                              const char *environment_id);

typedef struct of_octo_tenant_list {
    of_octo_tenant *items;
    size_t n;
    of_strpool *strings; /* owns the items' strings (of_octo_tenant.pooled); may be NULL */
} of_octo_tenant_list;
void of_octo_tenant_list_clear(of_octo_tenant_list *l);

typedef struct of_octo_release {
    char *id;
    char *version;
    char *project_id;
    char *channel_id; /* may be NULL */
} of_octo_release;
void of_octo_release_clear(of_octo_release *r);

/* A release's deployment template: where it may go now. Kept compact because a release of a
 * project with 10,000 tenants has 10,000 TenantPromotions naming the same few environments:
 * each environment is stored once (envs) and each PromoteTo is a bit set over envs, so a
 * tenant costs its id and a word, not a list of copied references. Owns everything. */
typedef struct of_octo_template {
    of_octo_ref *envs; /* every environment any PromoteTo names, each once */
    size_t nenvs;
    size_t words;            /* uint64_t words per bit set: (nenvs + 63) / 64 */
    uint64_t *sets;          /* (1 + ntenants) * words: PromoteTo first, then one per promotion */
    const char **tenant_ids; /* sorted by strcmp, pointing into text */
    size_t *tenant_set;      /* tenant_ids[i]'s set starts at sets[(1 + tenant_set[i]) * words] */
    size_t ntenants;
    char *text; /* one block holding every tenant id */
} of_octo_template;
void of_octo_template_clear(of_octo_template *t);

/* True when the template lets the release go to environment_id, for
 * tenant_id (TenantPromotions[t].PromoteTo) or untenanted when tenant_id is
 * NULL (PromoteTo). */
bool of_octo_template_allows(const of_octo_template *t, const char *environment_id,
                             const char *tenant_id);

typedef struct of_octo_deployment {
    char *id;
    char *project_id;
    char *release_id;
    char *environment_id;
    char *tenant_id; /* NULL when untenanted */
    char *task_id;
    char *comments; /* NULL when none */
    char *web_link; /* Links.Web, server-relative; may be NULL */
    int64_t created_ms;
    bool adopted; /* create only: found by its dedupe key after an ambiguous failure */
} of_octo_deployment;
void of_octo_deployment_clear(of_octo_deployment *d);

typedef struct of_octo_deployment_list {
    of_octo_deployment *items; /* newest first, as the server orders them */
    size_t n;
    size_t total; /* TotalResults: matches on the server, all pages */
} of_octo_deployment_list;
void of_octo_deployment_list_clear(of_octo_deployment_list *l);

typedef enum of_octo_task_state {
    OF_OCTO_TASK_QUEUED = 0,
    OF_OCTO_TASK_EXECUTING,
    OF_OCTO_TASK_CANCELLING,
    OF_OCTO_TASK_SUCCESS,
    OF_OCTO_TASK_FAILED,
    OF_OCTO_TASK_CANCELED,
    OF_OCTO_TASK_TIMED_OUT,
} of_octo_task_state;

const char *of_octo_task_state_name(of_octo_task_state s);
/* Success, Failed, Canceled and TimedOut are final; the rest are live. */
bool of_octo_task_state_is_final(of_octo_task_state s);

typedef struct of_octo_task {
    char *id;
    of_octo_task_state state;
    bool has_pending_interruptions;
    char *error_message; /* "" when none */
    char *description;   /* may be NULL */
    char *deployment_id; /* Arguments.DeploymentId; may be NULL */
    int64_t queue_time_ms;
    int64_t start_time_ms;     /* -1 until the task starts (and forever if it times out queued) */
    int64_t completed_time_ms; /* -1 until final; TimedOut tasks never get one */
    bool found;                /* of_octo_get_tasks: false when the server did not return this id */
    /* of_octo_get_tasks only. unreadable: the server answered for this id (or sent an item
     * without an Id, or a reply that is not a task page) but the task could not be decoded;
     * found is false and the state fields are unset. problem says what is wrong, naming the
     * route, and quotes the reply (at most OF_OCTO_QUOTE_BYTES, escaped); NULL unless
     * unreadable. unreadable_ms / unreadable_polls: how long and in how many polls in a row the
     * client has seen this id unreadable. give_up: both bounds are reached (task_unreadable_ms
     * and OF_OCTO_UNREADABLE_POLLS): the caller should stop waiting for this task. The client
     * logs unreadable tasks itself, rate-limited (warn_interval_ms). */
    bool unreadable;
    char *problem;
    int64_t unreadable_ms;
    int unreadable_polls;
    bool give_up;
} of_octo_task;
void of_octo_task_clear(of_octo_task *t);

typedef struct of_octo_task_list {
    of_octo_task *items; /* items[i] answers ids[i] of the request */
    size_t n;
    size_t missing;    /* how many were not returned (found == false, not unreadable) */
    size_t unreadable; /* how many have unreadable == true */
} of_octo_task_list;
void of_octo_task_list_clear(of_octo_task_list *l);

/* An audit event (GET /api/{space}/events): Octopus records one for every deployment state
 * change. Only what a follower of the feed needs is decoded. */
typedef struct of_octo_event {
    char *id;        /* "Events-123" */
    int64_t auto_id; /* AutoId when the server sends it, else the number in Id ("Events-N");
                      * -1 when neither exists (the event then moves no feed position) */
    char *category;  /* "DeploymentSucceeded", ... */
    char **related;  /* RelatedDocumentIds: "Deployments-7", "ServerTasks-7", ... */
    size_t nrelated;
    int64_t occurred_ms; /* Occurred; -1 when absent */
} of_octo_event;
void of_octo_event_clear(of_octo_event *e);

typedef struct of_octo_event_list {
    of_octo_event *items; /* newest first, as the server orders them; AutoId > from_auto_id only */
    size_t n;
    int64_t newest_auto_id; /* the highest AutoId read (events skipped as unreadable included);
                             * the query's from_auto_id when none */
    bool truncated;         /* more events than max_pages pages matched: the oldest of them were
                             * not read (the newest were; newest_auto_id is the newest) */
    size_t unreadable;      /* events skipped because they could not be decoded */
    char *problem;          /* the first of those problems (route and quote), else NULL */
} of_octo_event_list;
void of_octo_event_list_clear(of_octo_event_list *l);

/* ---- callbacks -----------------------------------------------------------
 * err is OF_OK or the call's error; errstr is "" on success and never NULL;
 * res is NULL on error. See the ownership note at the top. */
typedef void (*of_octo_deployment_cb)(void *opaque, of_err err, const char *errstr,
                                      of_octo_deployment *res);
typedef void (*of_octo_task_cb)(void *opaque, of_err err, const char *errstr, of_octo_task *res);
typedef void (*of_octo_task_list_cb)(void *opaque, of_err err, const char *errstr,
                                     of_octo_task_list *res);
typedef void (*of_octo_deployment_list_cb)(void *opaque, of_err err, const char *errstr,
                                           of_octo_deployment_list *res);
typedef void (*of_octo_event_list_cb)(void *opaque, of_err err, const char *errstr,
                                      of_octo_event_list *res);

/* ---- calls ---------------------------------------------------------------
 * `space_id` is a space id ("Spaces-1"); NULL means the client's configured
 * space, which of_octo_connect() resolves (OF_ERR_STATE before that). String
 * arguments are borrowed for the duration of the submitting call.
 *
 * Only the forms a caller uses exist: the producer's resolution and the CLI block (they run
 * before any transaction, one question at a time); the worker and the producer's
 * reconciliation run many calls at once from their loops and use `_async`. */

/* Blocking: GET /api/, then resolves the configured space by name or id and
 * remembers its id for space_id == NULL. Call once before the other calls;
 * safe to call again after a failure. */
OF_MUST_CHECK of_err of_octo_connect(of_octo *c, char *errstr, size_t errstr_size);

/* Blocking: a space by id ("Spaces-3": GET /api/spaces/Spaces-3) or exact name (pages
 * through /api/spaces?partialName=). Cached. */
OF_MUST_CHECK of_err of_octo_find_space(of_octo *c, const char *name_or_id, of_octo_space *out,
                                        char *errstr, size_t errstr_size);

/* Blocking: project / environment / tenant by EXACT, case-sensitive name. The server's
 * partialName is a contains match, so every page is read until an item's Name
 * equals `name` ("Acme" never matches "Acme Labs"). Not found ->
 * OF_ERR_NOT_FOUND "project Billing not found in space Spaces-1" (with a
 * "did you mean" when only the case differs). Cached per client; listing
 * calls also fill the cache. */
OF_MUST_CHECK of_err of_octo_find_project(of_octo *c, const char *space_id, const char *name,
                                          of_octo_project *out, char *errstr, size_t errstr_size);
OF_MUST_CHECK of_err of_octo_find_environment(of_octo *c, const char *space_id, const char *name,
                                              of_octo_environment *out, char *errstr,
                                              size_t errstr_size);
OF_MUST_CHECK of_err of_octo_find_tenant(of_octo *c, const char *space_id, const char *name,
                                         of_octo_tenant *out, char *errstr, size_t errstr_size);

/* Blocking: every tenant matching all the given filters, all pages, sorted by name as
 * the server returns them:
 *   tags: canonical "TagSet/Tag" strings, sent as repeated tags= (the server
 *         requires one tag of each tag set mentioned);
 *   project_id: tenants connected to that project (server-side projectId=);
 *   environment_id: with project_id, keep only tenants whose
 *         ProjectEnvironments[project_id] contains it (client-side: the API
 *         has no environment filter). */
typedef struct of_octo_tenant_query {
    const char *const *tags;
    size_t ntags;
    const char *project_id;
    const char *environment_id;
    /* Do not feed the name cache from this listing: a listing of a whole big space would
     * otherwise keep a parsed copy of every tenant (kilobytes each) for name look-ups the
     * caller does not need (the planner lists once and filters in memory). */
    bool no_cache;
} of_octo_tenant_query;
OF_MUST_CHECK of_err of_octo_list_tenants(of_octo *c, const char *space_id,
                                          const of_octo_tenant_query *q, of_octo_tenant_list *out,
                                          char *errstr, size_t errstr_size);

/* Blocking: whether the canonical tenant tag "TagSet/Tag" exists in the space (GET
 * tagsets/all; names compared case-insensitively like Octopus's tenant filter). Not cached.
 * Needed because a tenant query with an unknown tag returns an empty list, just like a tag
 * nobody carries. */
OF_MUST_CHECK of_err of_octo_tag_exists(of_octo *c, const char *space_id, const char *tag,
                                        bool *exists, char *errstr, size_t errstr_size);

/* Blocking: a project's release by exact version (GET projects/{id}/releases/{v}).
 * project_name is only used in messages (NULL = the id): 404 ->
 * OF_ERR_NOT_FOUND "release 4.2.0 of project Billing not found". Cached. */
OF_MUST_CHECK of_err of_octo_find_release(of_octo *c, const char *space_id, const char *project_id,
                                          const char *project_name, const char *version,
                                          of_octo_release *out, char *errstr, size_t errstr_size);

/* Blocking: GET releases/{id}/deployments/template (not cached: it changes as the
 * release progresses). */
OF_MUST_CHECK of_err of_octo_get_template(of_octo *c, const char *space_id, const char *release_id,
                                          of_octo_template *out, char *errstr, size_t errstr_size);

/* POST /api/{space}/deployments.
 *
 * Creating is not idempotent. The client always retries failures that prove
 * the server did not act (connection refused, DNS, 408, 429, 503). After an
 * ambiguous failure (the request was sent but the reply was lost: reset,
 * timeout, empty reply, 500, 502, 504):
 *   - with dedupe_key set (it must occur in comments; the worker uses its job
 *     id) the client pages through the deployments of this release,
 *     environment and tenant for one whose Comments contain the key; found ->
 *     success with adopted = true, not found -> POST again;
 *   - without it the call fails at once (OF_ERR_NETWORK/OF_ERR_HTTP) with a
 *     message saying the deployment may exist; the caller must look it up
 *     before creating again.
 * A 400 (lifecycle, tenant not connected, ...) is OF_ERR_REJECTED with the
 * server's ErrorMessage and every Errors[] line. */
typedef struct of_octo_deploy_req {
    const char *project_id;     /* used by the dedupe lookup (projects= filter); may be NULL */
    const char *release_id;     /* required */
    const char *environment_id; /* required */
    const char *tenant_id;      /* NULL = untenanted */
    const char *comments;       /* NULL = none */
    bool use_guided_failure;
    const char *const *form_names; /* FormValues: nform name/value pairs, may be NULL */
    const char *const *form_values;
    size_t nform;
    int64_t queue_time_ms;        /* wall ms; 0 = now */
    int64_t queue_time_expiry_ms; /* wall ms; 0 = none */
    const char *dedupe_key;       /* see above; NULL = no lookup on ambiguous failure */
} of_octo_deploy_req;
OF_MUST_CHECK of_err of_octo_create_deployment_async(of_octo *c, const char *space_id,
                                                     const of_octo_deploy_req *req,
                                                     of_octo_deployment_cb cb, void *opaque,
                                                     char *errstr, size_t errstr_size);
/* Blocking twin, for tests that set up a scenario (tests/unit/test_worker.c,
 * test_producer.c): no daemon creates a deployment outside its loop. */
OF_MUST_CHECK of_err of_octo_create_deployment(of_octo *c, const char *space_id,
                                               const of_octo_deploy_req *req,
                                               of_octo_deployment *out, char *errstr,
                                               size_t errstr_size);

/* Filters of a deployments listing: GET /api/{space}/deployments?projects=&environments=
 * &tenants=&taskState=&skip=&take=, newest first. NULL filters are left out. */
typedef struct of_octo_deploy_query {
    const char *project_id;
    const char *environment_id;
    const char *tenant_id;
    const char *task_state; /* e.g. "Success"; NULL = any */
    size_t skip;            /* of_octo_list_deployments only */
    size_t take;            /* of_octo_list_deployments only; 0 = the client's page_size */
    /* find_deployment_by_job only: stop paging at the first deployment Created before this
     * (wall ms; the list is newest first, so none further can match); 0 = read every page.
     * A job's deployment is never older than the job's dispatch, so callers pass that time
     * minus a margin for clock skew, and a target's long history costs one page, not all. */
    int64_t created_since_ms;
} of_octo_deploy_query;

/* The clock skew allowed between octofleet's hosts and the Octopus server when comparing a
 * deployment's Created time with our own clock (created_since_ms). Generous on purpose: too
 * large only costs pages, too small would miss a deployment and deploy twice. */
#define OF_OCTO_CLOCK_SKEW_MS (60LL * 60 * 1000)

/* Blocking: ONE page of deployments matching q. For tests that inspect what was deployed
 * (tests/unit/test_worker.c); the daemons use of_octo_find_deployment_by_job_async. */
OF_MUST_CHECK of_err of_octo_list_deployments(of_octo *c, const char *space_id,
                                              const of_octo_deploy_query *q,
                                              of_octo_deployment_list *out, char *errstr,
                                              size_t errstr_size);

/* The newest deployment matching q (skip/take ignored; every page is read)
 * whose Comments contain job_id and, if release_id is not NULL, of that
 * release. The worker uses this to adopt a deployment it created before a
 * crash. None -> OF_ERR_NOT_FOUND. */
OF_MUST_CHECK of_err of_octo_find_deployment_by_job_async(
    of_octo *c, const char *space_id, const of_octo_deploy_query *q, const char *release_id,
    const char *job_id, of_octo_deployment_cb cb, void *opaque, char *errstr, size_t errstr_size);

/* One job of a batched adoption look-up (of_octo_find_deployments_by_jobs_async). Strings are
 * borrowed for the duration of the submitting call. */
typedef struct of_octo_job_lookup {
    const char *tenant_id;    /* the job's tenant; NULL = untenanted (no tenant is compared) */
    const char *release_id;   /* NULL = any release */
    const char *job_key;      /* what the deployment's Comments contain (required) */
    int64_t created_since_ms; /* as of_octo_deploy_query.created_since_ms; 0 = no bound */
} of_octo_job_lookup;

/* The most jobs one batched look-up takes: their tenant ids travel in one URL, like task ids. */
#define OF_OCTO_MAX_LOOKUP_JOBS OF_OCTO_MAX_TASK_CHUNK

/* The batched form of of_octo_find_deployment_by_job_async: ONE listing of the deployments of
 * project_id to environment_id (tenants=T1,T2,... of the tenanted jobs; no tenant filter when
 * any job is untenanted), newest first, every page (within max_pages and the list deadline)
 * until each job is found or can no longer match. Each job gets exactly the single look-up's
 * answer: the newest deployment whose Comments contain its job_key, of its release_id if set,
 * of its tenant if tenanted, created no earlier than its created_since_ms (paging ends once
 * every unfound job has a bound and the listing went past the latest one). 1..
 * OF_OCTO_MAX_LOOKUP_JOBS jobs (OF_ERR_INVALID otherwise; the worker sends task_chunk at a time).
 * The result is aligned with jobs: items[i] answers jobs[i] (n == njobs); items[i].id == NULL
 * when there is none. An error fails the whole batch (a job is never created on a guess). */
OF_MUST_CHECK of_err of_octo_find_deployments_by_jobs_async(
    of_octo *c, const char *space_id, const char *project_id, const char *environment_id,
    const of_octo_job_lookup *jobs, size_t njobs, of_octo_deployment_list_cb cb, void *opaque,
    char *errstr, size_t errstr_size);
/* The batched form of of_octo_latest_success_async: ONE listing of project_id's successful
 * deployments to environment_id (taskState=Success, tenants=T1,T2,...; no tenant filter when
 * any target is untenanted), newest first, paging until every target has its newest success
 * or the list ends. items[i] answers tenant_ids[i] (NULL = untenanted): the target's latest
 * successful deployment (compare its release_id), id NULL when there is none. 1..
 * OF_OCTO_MAX_LOOKUP_JOBS targets. An error fails the whole batch. */
OF_MUST_CHECK of_err of_octo_latest_successes_async(of_octo *c, const char *space_id,
                                                    const char *project_id,
                                                    const char *environment_id,
                                                    const char *const *tenant_ids, size_t n,
                                                    of_octo_deployment_list_cb cb, void *opaque,
                                                    char *errstr, size_t errstr_size);
/* Blocking twin, for tests. */
OF_MUST_CHECK of_err of_octo_find_deployments_by_jobs(of_octo *c, const char *space_id,
                                                      const char *project_id,
                                                      const char *environment_id,
                                                      const of_octo_job_lookup *jobs, size_t njobs,
                                                      of_octo_deployment_list *out, char *errstr,
                                                      size_t errstr_size);

/* The latest successful deployment of project/environment/tenant (tenant_id
 * NULL = untenanted): deployments?...&taskState=Success&take=1. Compare its
 * release_id to answer "is this release current?". None -> OF_ERR_NOT_FOUND. */
OF_MUST_CHECK of_err of_octo_latest_success_async(of_octo *c, const char *space_id,
                                                  const char *project_id,
                                                  const char *environment_id, const char *tenant_id,
                                                  of_octo_deployment_cb cb, void *opaque,
                                                  char *errstr, size_t errstr_size);
OF_MUST_CHECK of_err of_octo_latest_success(of_octo *c, const char *space_id,
                                            const char *project_id, const char *environment_id,
                                            const char *tenant_id, of_octo_deployment *out,
                                            char *errstr, size_t errstr_size);

/* GET /api/{space}/tasks/{id}. */
OF_MUST_CHECK of_err of_octo_get_task_async(of_octo *c, const char *space_id, const char *task_id,
                                            of_octo_task_cb cb, void *opaque, char *errstr,
                                            size_t errstr_size);
/* Blocking twin, for tests that wait on a task (tests/unit/test_worker.c, test_producer.c). */
OF_MUST_CHECK of_err of_octo_get_task(of_octo *c, const char *space_id, const char *task_id,
                                      of_octo_task *out, char *errstr, size_t errstr_size);

/* Reads many tasks: GET /api/{space}/tasks?ids=A,B,...&skip=0&take=K, one
 * request per task_chunk ids (all chunks in flight together, within the
 * concurrency cap). n == 0 completes with an empty list and ZERO requests: an
 * empty ids= would return every task on the server. The result is aligned
 * with ids (items[i] is ids[i]; found == false when the server did not
 * return it). Ids must be non-empty and contain no ','.
 *
 * Each task is decoded on its own: a task the server sends in a form that
 * cannot be decoded (or a chunk whose 2xx reply is not a task page at all) is
 * reported in its own item (unreadable, problem, give_up; see of_octo_task)
 * and never fails the call or the other tasks. The call fails only when a
 * chunk's request fails (network, HTTP error past the retry deadline...). */
OF_MUST_CHECK of_err of_octo_get_tasks_async(of_octo *c, const char *space_id,
                                             const char *const *ids, size_t n,
                                             of_octo_task_list_cb cb, void *opaque, char *errstr,
                                             size_t errstr_size);
OF_MUST_CHECK of_err of_octo_get_tasks(of_octo *c, const char *space_id, const char *const *ids,
                                       size_t n, of_octo_task_list *out, char *errstr,
                                       size_t errstr_size);

/* Following Octopus's event feed (docs/octopus.md, "Following the event feed"):
 * GET
 * /api/{space}/events?eventCategories=A,B&fromAutoId=F[&regardingAny=I,J][&toAutoId=T]&skip=&take=.
 *
 * The server lists events newest first. The client reads the first page, then pins
 * toAutoId to the newest AutoId it holds, so later pages do not shift while new events arrive,
 * and pages with skip until the range is read. fromAutoId is sent as given and taken as
 * possibly inclusive (the real API does not say): events with AutoId <= from_auto_id are
 * dropped from the result, so a follower passes the newest AutoId it has seen. Paging is
 * bounded: at most max_pages pages (then truncated is set: the newest events were read, the
 * oldest of the range were not) within the client's list deadline; the client's max_pages cap
 * and page consistency checks apply too. An event that cannot be decoded is skipped and counted
 * (unreadable, problem): events are hints, a follower's safety net reads the tasks themselves.
 * take = 1 with max_pages = 1 and from_auto_id = 0 reads just the newest event: where a new
 * follower starts. */
typedef struct of_octo_event_query {
    const char *const *categories; /* eventCategories; n == 0: every category */
    size_t ncategories;
    int64_t from_auto_id; /* 0 = from the start */
    size_t take;          /* page size; 0 = the client's page_size */
    int max_pages;        /* >= 1; 0 = OF_OCTO_DEFAULT_EVENT_PAGES */
    /* regardingAny: only events whose RelatedDocumentIds name one of these (borrowed; each
     * non-empty, without ','); n == 0: no such filter. The caller keeps the URL reasonable. */
    const char *const *regarding_any;
    size_t nregarding_any;
} of_octo_event_query;
#define OF_OCTO_DEFAULT_EVENT_PAGES 10
OF_MUST_CHECK of_err of_octo_list_events_async(of_octo *c, const char *space_id,
                                               const of_octo_event_query *q,
                                               of_octo_event_list_cb cb, void *opaque, char *errstr,
                                               size_t errstr_size);
OF_MUST_CHECK of_err of_octo_list_events(of_octo *c, const char *space_id,
                                         const of_octo_event_query *q, of_octo_event_list *out,
                                         char *errstr, size_t errstr_size);

/* ---- interruptions: manual interventions and guided failure ----
 *
 * Answers every pending interruption of type a->type raised by task_id, as Octopus's clients
 * do: GET interruptions?regarding=<task>&pendingOnly=true, then per interruption PUT
 * .../responsible (the API key's user takes responsibility; skipped when it has it) and POST
 * .../submit with {"<field>": "<value>", "Notes": notes}. Pending interruptions of another
 * type are left alone and counted (other). The submit is never retried once the server may
 * have acted (a repeated one is refused); look at the task again to see whether it still
 * waits. res (on success) lists what was answered; borrowed for the callback. */
typedef struct of_octo_answer {
    const char *type;  /* "ManualIntervention" or "GuidedFailure" */
    const char *field; /* "Result" (manual intervention) or "Guidance" (guided failure) */
    const char *value; /* "Proceed"; or "Retry", "Ignore", "Fail" */
    const char *notes; /* who and why: Octopus keeps it in the task's audit */
} of_octo_answer;

typedef struct of_octo_answered {
    char *id;    /* "Interruptions-12" */
    char *title; /* "Approve the schema change" (may be NULL) */
} of_octo_answered;

typedef struct of_octo_answered_list {
    of_octo_answered *items;
    size_t n;
    size_t other; /* pending interruptions of another type, not answered */
} of_octo_answered_list;
void of_octo_answered_list_clear(of_octo_answered_list *l);

typedef void (*of_octo_answer_cb)(void *opaque, of_err err, const char *errstr,
                                  of_octo_answered_list *res);
OF_MUST_CHECK of_err of_octo_answer_interruptions_async(of_octo *c, const char *space_id,
                                                        const char *task_id,
                                                        const of_octo_answer *a,
                                                        of_octo_answer_cb cb, void *opaque,
                                                        char *errstr, size_t errstr_size);
/* Blocking twin (out owned by the caller: of_octo_answered_list_clear). */
OF_MUST_CHECK of_err of_octo_answer_interruptions(of_octo *c, const char *space_id,
                                                  const char *task_id, const of_octo_answer *a,
                                                  of_octo_answered_list *out, char *errstr,
                                                  size_t errstr_size);

/* POST /api/{space}/tasks/{id}/cancel: returns the task (usually now
 * Cancelling; Canceled shortly after). Idempotent, so retried normally. */
OF_MUST_CHECK of_err of_octo_cancel_task_async(of_octo *c, const char *space_id,
                                               const char *task_id, of_octo_task_cb cb,
                                               void *opaque, char *errstr, size_t errstr_size);
/* Blocking twin, for a test that cancels a task behind a worker's back (test_worker.c). */
OF_MUST_CHECK of_err of_octo_cancel_task(of_octo *c, const char *space_id, const char *task_id,
                                         of_octo_task *out, char *errstr, size_t errstr_size);

/* ---- deployment processes: importing an orchestration project (`octofleet import`) ----
 * An orchestration project ("_Deploy") deploys other projects from its steps. What octofleet
 * reads of it: the release (its SelectedPackages pick each child's version, and its
 * ProjectDeploymentProcessSnapshotId names the process it was created with) and that process
 * (Octopus.Client DeploymentProcessResource, DeploymentStepResource, DeploymentActionResource). */

/* One of a release's SelectedPackages: the version picked for a step's action (for a "Deploy a
 * Release" action, the child project's release). */
typedef struct of_octo_selected_package {
    char *action_name;            /* ActionName (older servers: StepName) */
    char *package_reference_name; /* "" for an action's primary package */
    char *version;
} of_octo_selected_package;

/* GET releases/{id}: what a release was created with. */
typedef struct of_octo_release_manifest {
    char *id, *version, *project_id;
    char *process_snapshot_id; /* ProjectDeploymentProcessSnapshotId; NULL when absent */
    of_octo_selected_package *packages;
    size_t npackages;
} of_octo_release_manifest;
void of_octo_release_manifest_clear(of_octo_release_manifest *m);

/* A property of an action or a step: Properties is a map of strings, except that a sensitive
 * value comes as an object ({"HasValue": true, "NewValue": null}): value NULL, sensitive true. */
typedef struct of_octo_property {
    char *name;
    char *value;
    bool sensitive;
} of_octo_property;

typedef struct of_octo_action {
    char *id, *name;
    char *action_type; /* "Octopus.DeployRelease", "Octopus.Script", "Octopus.Manual", ... */
    bool is_disabled;
    char **environments; /* scope: environment ids (none = every environment) */
    size_t nenvironments;
    char **excluded_environments;
    size_t nexcluded_environments;
    char **channels; /* channel ids */
    size_t nchannels;
    char **tenant_tags; /* canonical "TagSet/Tag" */
    size_t ntenant_tags;
    of_octo_property *properties;
    size_t nproperties;
} of_octo_action;

typedef struct of_octo_step {
    char *id, *name;
    char *condition;           /* "Success", "Failure", "Always", "Variable" */
    char *start_trigger;       /* "StartAfterPrevious", "StartWithPrevious" */
    char *package_requirement; /* "LetOctopusDecide", ...; may be NULL */
    of_octo_property *properties;
    size_t nproperties;
    of_octo_action *actions;
    size_t nactions;
} of_octo_step;

typedef struct of_octo_process {
    char *id, *project_id;
    of_octo_step *steps; /* in execution order */
    size_t nsteps;
} of_octo_process;
void of_octo_process_clear(of_octo_process *p);

/* The value of property name (case-insensitive, as Octopus compares them) in props, or NULL
 * when absent or sensitive. Borrowed from props. */
const char *of_octo_property_get(const of_octo_property *props, size_t n, const char *name);

/* Blocking: GET releases/{id}, not cached. *out filled on success (of_octo_release_manifest_clear
 * releases it). 404 -> OF_ERR_NOT_FOUND. */
OF_MUST_CHECK of_err of_octo_get_release_manifest(of_octo *c, const char *space_id,
                                                  const char *release_id,
                                                  of_octo_release_manifest *out, char *errstr,
                                                  size_t errstr_size);

/* Blocking: GET deploymentprocesses/{id} (a project's process, or a release's snapshot of it by
 * the release's process_snapshot_id), not cached. *out filled on success (of_octo_process_clear
 * releases it). 404 -> OF_ERR_NOT_FOUND. */
OF_MUST_CHECK of_err of_octo_get_process(of_octo *c, const char *space_id, const char *process_id,
                                         of_octo_process *out, char *errstr, size_t errstr_size);

/* A list of {Id, Name}. */
typedef struct of_octo_ref_list {
    of_octo_ref *items;
    size_t n;
} of_octo_ref_list;
void of_octo_ref_list_clear(of_octo_ref_list *l);

/* Blocking: every project (kind "projects") or environment ("environments") of the space, as
 * {Id, Name}: GET {kind}/all (one reply, within max_response_bytes), in the server's order.
 * For turning the ids a process holds into names. *out filled on success. */
OF_MUST_CHECK of_err of_octo_list_refs(of_octo *c, const char *space_id, const char *kind,
                                       of_octo_ref_list *out, char *errstr, size_t errstr_size);

/* ---- server nodes: the task cap the fleet's task budget derives from ---- */

/* GET /api/octopusservernodes: one node of the Octopus Server (cluster). */
typedef struct of_octo_server_node {
    char *id;
    char *name;
    int max_concurrent_tasks; /* MaxConcurrentTasks: tasks this node runs at once; 0 if absent */
    bool in_maintenance;      /* IsInMaintenanceMode: the node starts no new tasks */
} of_octo_server_node;
void of_octo_server_node_clear(of_octo_server_node *n);

typedef struct of_octo_server_node_list {
    of_octo_server_node *items;
    size_t n;
} of_octo_server_node_list;
void of_octo_server_node_list_clear(of_octo_server_node_list *l);
typedef void (*of_octo_server_node_list_cb)(void *opaque, of_err err, const char *errstr,
                                            of_octo_server_node_list *res);

/* The hold's probe (octo_hold.h): GET /api/, one attempt within min(request timeout, 5 s), so
 * a server that is down answers the question "is it back?" quickly and never piles retries on
 * an outage. cb gets OF_OK for a 2xx, else the error; its errstr is borrowed for the call. */
typedef void (*of_octo_probe_cb)(void *opaque, of_err err, const char *errstr);
OF_MUST_CHECK of_err of_octo_probe_async(of_octo *c, of_octo_probe_cb cb, void *opaque,
                                         char *errstr, size_t errstr_size);

/* Blocking: the server's nodes (one page of up to 100; a cluster has a handful). *out is
 * filled on success (clear it with of_octo_server_node_list_clear). A refusal (401/403 for a
 * key without the permission, 404 on a server without the route) is the usual HTTP error. */
OF_MUST_CHECK of_err of_octo_list_server_nodes(of_octo *c, of_octo_server_node_list *out,
                                               char *errstr, size_t errstr_size);

#endif
