/* Internals of the Octopus client, shared by its .c files and its unit tests.
 * Nothing outside common/octopus*.c and tests/unit/test_octopus_*.c includes
 * this: it is where libcurl and jansson types meet the client. */
#ifndef OF_OCTOPUS_INTERNAL_H
#define OF_OCTOPUS_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "octopus.h"
#include "ojson.h"

/* ---- URL building (octopus_url.c) ----------------------------------------
 * Everything caller-supplied is percent-encoded (RFC 3986 unreserved
 * characters pass, every other byte becomes %XX, UTF-8 included), so names
 * such as "A/B & C?#ü" stay one path segment or one query value. */

/* Appends the percent-encoding of s: of_buf_append_pct (common/base/buf.h), nothing kept. */
static inline OF_MUST_CHECK of_err octo_url_encode(of_buf *b, const char *s)
{
    return of_buf_append_pct(b, s, NULL);
}
/* Starts b (already initialised) with base stripped of trailing '/'. */
of_err octo_url_start(of_buf *b, const char *base);
/* Appends a literal path such as "/api" (not encoded: callers pass constants). */
of_err octo_url_lit(of_buf *b, const char *lit);
/* Appends "/" + encoded segment. */
of_err octo_url_seg(of_buf *b, const char *seg);
/* Appends "/api" or "/api/{space}" (space may be NULL on servers without spaces). */
of_err octo_url_api(of_buf *b, const char *space_id);
/* Initialises b (capped at OCTO_URL_MAX) and starts it as <base>/api[/<space>][<path>]: every
 * URL we send opens this way. path is a literal ("/tenants") or NULL. */
of_err octo_url_begin(of_buf *b, const char *base, const char *space_id, const char *path);
/* Appends "?key=value" or "&key=value", value encoded. */
of_err octo_url_query(of_buf *b, const char *key, const char *value);
of_err octo_url_query_size(of_buf *b, const char *key, size_t value);
/* Appends key=v1,v2,... (each value encoded, commas literal). */
of_err octo_url_query_list(of_buf *b, const char *key, const char *const *vals, size_t n);

/* ---- failure classification (octopus_http.c) ----------------------------- */

/* What one HTTP attempt produced. */
typedef struct octo_attempt {
    int curl_code; /* CURLcode of the transfer */
    long status;   /* HTTP status, 0 if no response */
    bool sent;     /* request bytes went out (CURLINFO_REQUEST_SIZE > 0) */
    bool overflow; /* the body hit max_response_bytes */
} octo_attempt;

typedef enum octo_action {
    OCTO_OK = 0, /* success: hand the body to the caller */
    OCTO_RETRY,  /* transient: retry after a backoff, within the deadline */
    OCTO_FAIL,   /* permanent: report err now */
} octo_action;

typedef struct octo_verdict {
    octo_action action;
    of_err err;         /* the error to report (for RETRY: if retries run out) */
    bool maybe_applied; /* the server may have acted on the request */
    const char *reason; /* static, short: "connection refused", "HTTP 503" ... */
} octo_verdict;

/* THE one place that decides retry-or-fail. Pure. */
octo_verdict octo_classify(const octo_attempt *a);

/* Parses a Retry-After value: delta seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", relative to now_wall_ms). Returns the wait
 * in ms (>= 0; a date in the past is 0), or -1 when absent/unparseable. */
int64_t octo_parse_retry_after(const char *value, int64_t now_wall_ms);

/* The wait before retry number `attempt` (0 = first retry): capped
 * exponential backoff with jitter, but never less than the server's
 * Retry-After (retry_after_ms < 0: none). */
int64_t octo_retry_delay(int attempt, int64_t retry_after_ms, int64_t base_ms, int64_t cap_ms,
                         uint64_t *rnd);

/* ---- the request engine (octopus_http.c) --------------------------------- */

typedef enum octo_method { OCTO_GET = 0, OCTO_POST, OCTO_PUT } octo_method;

/* One logical request (retries included). */
typedef struct octo_spec {
    octo_method method;
    char *url;         /* full URL; ownership passes to octo_submit, even on failure */
    char *body;        /* JSON body or NULL; ownership passes to octo_submit */
    bool idempotent;   /* false: never retried after the server may have acted */
    const char *what;  /* copied; for 404 messages: "<what> not found" (NULL = method+path) */
    const char *space; /* copied; for 403 messages (NULL = the client's space) */
    int64_t deadline;  /* monotonic ms; 0 = retry_deadline_ms after the first attempt starts */
} octo_spec;

typedef struct octo_resp {
    of_err err;         /* OF_OK for 2xx */
    const char *errstr; /* "" on success; never NULL */
    long status;
    const char *body; /* NUL-terminated, borrowed for the callback */
    size_t body_len;
    int attempts;
    const char *label;  /* "GET /api/..." (shortened), for messages */
    bool maybe_applied; /* on failure: the server may have acted */
    int64_t deadline;   /* the request's deadline (0 if it never started), for follow-ups */
} octo_resp;

typedef void (*octo_done_fn)(void *ctx, const octo_resp *r);

/* Queues a request. OF_OK: fn(ctx, resp) runs exactly once from of_octo_poll.
 * Otherwise fn never runs. */
of_err octo_submit(of_octo *c, octo_spec *spec, octo_done_fn fn, void *ctx, char *errstr,
                   size_t errstr_size);
/* Completes without I/O: fn runs from the next of_octo_poll with err/errstr
 * (copied) and an empty body. Used for cache hits and empty inputs. */
of_err octo_defer(of_octo *c, of_err err, const char *errstr, octo_done_fn fn, void *ctx);

/* The client. Defined here because the transport (octopus_http.c) and the
 * calls (octopus_calls.c) share it; nothing else sees it. */
typedef struct octo_req octo_req;
typedef struct octo_list {
    octo_req *head, *tail;
} octo_list;
typedef struct octo_cache_entry octo_cache_entry;

/* One task id that of_octo_get_tasks could not decode in its latest polls: the streak that
 * give_up and the rate-limited warnings are measured on. */
typedef struct octo_unreadable {
    char *id;
    int64_t since_ms;     /* monotonic: first unreadable poll of the streak */
    int64_t last_seen_ms; /* latest unreadable poll (stale entries are swept) */
    int64_t last_warn_ms; /* 0: never warned */
    int polls;            /* unreadable polls in a row */
    int unlogged;         /* polls since the last warning line */
} octo_unreadable;
#define OCTO_UNREADABLE_MAX 4096

struct of_octo {
    /* settings (immutable after of_octo_new) */
    char *base_url; /* no trailing '/' */
    char *space_cfg;
    char *api_key;
    struct curl_slist *hdr_get; /* hold the key: wiped on destroy */
    struct curl_slist *hdr_post;
    char *ca_file;
    /* The numbers and flags, as given and checked by of_octo_new; its string fields are NULL
     * (the copies above are the client's). */
    of_octo_opts opt;
    uint64_t rnd;

    /* of_octo_connect() */
    char *space_id;
    char *space_name;

    /* transport */
    bool closing;
    CURLM *multi;
    CURL **pool; /* idle easy handles, reused */
    size_t npool;
    octo_list deferred, pending, active, sleeping;
    size_t nactive;
    /* tests: bodies through the read callback, as with a libcurl without
     * CURLOPT_PREREQFUNCTION (octopus_http.c, start_attempt) */
    bool body_by_callback;
    size_t nreq; /* on any list */
    of_octo_stats stats;

    /* name cache (octopus_calls.c) */
    octo_cache_entry **cache_buckets;
    size_t cache_nbuckets, cache_n;

    /* tasks get_tasks could not decode, by id (octopus_deploy.c); at most OCTO_UNREADABLE_MAX */
    octo_unreadable *unreadable;
    size_t nunreadable;
};

/* Replaces every occurrence of the API key in s with "API-****" (defence in
 * depth: nothing should put it there). */
void octo_scrub(const of_octo *c, char *s);

/* ---- results and callbacks of the calls only the client itself makes async ----
 * (octopus.h has the public ones; the contract is the same.) */

/* GET /api/: the root document, read by of_octo_connect(). */
typedef struct of_octo_root {
    char *application; /* "Octopus Deploy" */
    char *version;     /* server version */
    bool has_spaces;   /* Links.Spaces present: use /api/{spaceId}/... routes */
} of_octo_root;
void of_octo_root_clear(of_octo_root *r);

/* Maps the server's State string exactly ("Queued", "Executing",
 * "Cancelling", "Success", "Failed", "Canceled", "TimedOut"); anything else
 * is OF_ERR_PROTOCOL rather than a guess. */
of_err of_octo_task_state_parse(const char *s, of_octo_task_state *out);

typedef void (*of_octo_root_cb)(void *opaque, of_err err, const char *errstr, of_octo_root *res);
typedef void (*of_octo_space_cb)(void *opaque, of_err err, const char *errstr, of_octo_space *res);
typedef void (*of_octo_project_cb)(void *opaque, of_err err, const char *errstr,
                                   of_octo_project *res);
typedef void (*of_octo_ref_cb)(void *opaque, of_err err, const char *errstr, of_octo_ref *res);
typedef void (*of_octo_tenant_cb)(void *opaque, of_err err, const char *errstr,
                                  of_octo_tenant *res);
typedef void (*of_octo_tenant_list_cb)(void *opaque, of_err err, const char *errstr,
                                       of_octo_tenant_list *res);
typedef void (*of_octo_release_cb)(void *opaque, of_err err, const char *errstr,
                                   of_octo_release *res);
typedef void (*of_octo_template_cb)(void *opaque, of_err err, const char *errstr,
                                    of_octo_template *res);

/* ---- the call layer (octopus_calls.c, octopus_deploy.c) -------------------
 * A typed call is an "op" struct whose first member is an octo_call: the
 * user's callback and the result being built. */

#define OCTO_URL_MAX (64 * 1024) /* a chunk of 1000 task ids fits */
#define OCTO_ES      512         /* error text built by this layer */

typedef enum octo_call_type {
    CT_ROOT,
    CT_SPACE,
    CT_PROJECT,
    CT_REF,
    CT_TENANT,
    CT_TENANTS,
    CT_RELEASE,
    CT_TEMPLATE,
    CT_DEPLOYMENT,
    CT_DEPLOYMENTS,
    CT_TASK,
    CT_TASKS,
    CT_EVENTS,
    CT_NODES,
} octo_call_type;

typedef struct octo_call {
    of_octo *c;
    octo_call_type type;
    union {
        of_octo_root_cb root;
        of_octo_space_cb space;
        of_octo_project_cb project;
        of_octo_ref_cb ref;
        of_octo_tenant_cb tenant;
        of_octo_tenant_list_cb tenants;
        of_octo_release_cb release;
        of_octo_template_cb tpl;
        of_octo_deployment_cb dep;
        of_octo_deployment_list_cb deps;
        of_octo_task_cb task;
        of_octo_task_list_cb tasks;
        of_octo_event_list_cb events;
        of_octo_server_node_list_cb nodes;
    } cb;
    void *opaque;
    union {
        of_octo_root root;
        of_octo_space space;
        of_octo_project project;
        of_octo_ref ref;
        of_octo_tenant tenant;
        of_octo_tenant_list tenants;
        of_octo_release release;
        of_octo_template tpl;
        of_octo_deployment dep;
        of_octo_deployment_list deps;
        of_octo_task task;
        of_octo_task_list tasks;
        of_octo_event_list events;
        of_octo_server_node_list nodes;
    } res;
} octo_call;

/* Runs the user's callback once (errstr scrubbed of the key), then frees
 * whatever the result still owns. The op holding k is freed by the caller. */
void octo_call_complete(octo_call *k, of_err err, const char *errstr);

/* The space to address: space_id, else the connected default (OF_ERR_STATE). */
of_err octo_pick_space(of_octo *c, const char *space_id, const char **out, char *es, size_t n);
/* How a space is named in messages: its name if it is the connected one. Borrowed. */
const char *octo_space_label(const of_octo *c, const char *space_id);
/* The built URL (caller frees), or NULL after freeing u when rc is an error. */
char *octo_url_detach(of_buf *u, of_err rc);
of_err octo_url_error(char *es, size_t n);
bool octo_nonempty(const char *s);
/* octo_submit with the spec spelled out; takes ownership of url and body. */
of_err octo_call_submit(of_octo *c, octo_method m, char *url, char *body, bool idempotent,
                        const char *what, const char *space, int64_t deadline, octo_done_fn fn,
                        void *op, char *es, size_t n);
/* One request whose reply is one resource of k.type. Takes ownership of url; a NULL url
 * (building it failed, octo_url_detach) is the URL error. */
of_err octo_single(of_octo *c, octo_method m, char *url, bool idempotent, const char *what,
                   const char *space, octo_call k, char *es, size_t n);

/* Paging through a collection: skip/take until a short page, TotalResults,
 * or the item function sets *stop. Bounded by c->max_pages and
 * c->list_deadline_ms; a page whose paging cannot be true fails the listing
 * with OF_ERR_PROTOCOL naming the route (octo_page_check). */
typedef struct octo_pager octo_pager;
/* Per item: set *stop to end early. Errors abort the paging. */
typedef of_err (*octo_pager_item_fn)(octo_pager *p, json_t *item, bool *stop, char *es, size_t n);
typedef void (*octo_pager_done_fn)(octo_pager *p, of_err err, const char *errstr);

struct octo_pager {
    of_octo *c;
    char *url; /* without skip/take */
    const char *kind;
    char *space;
    size_t skip;
    size_t take;
    /* > 0: the first page's take, for a look-up whose answer is among the newest few items (a
     * page of 100 deployments costs its parse even when the first item decides); later pages
     * use take */
    size_t first_take;
    size_t asked; /* the take of the page in flight */
    int pages;
    int64_t deadline;      /* 0: each page gets the client's retry deadline */
    int64_t list_deadline; /* monotonic: the whole listing (c->list_deadline_ms from the start) */
    size_t total;          /* TotalResults of the latest page; SIZE_MAX unknown */
    char *prev_first;      /* Id (or Name) of the previous page's first item: a server that
                            * ignores skip repeats it */
    octo_pager_item_fn item;
    octo_pager_done_fn done;
    void *ctx;
    /* 0: a listing that has not ended within the client's max_pages fails (OF_ERR_PROTOCOL).
     * > 0: the caller reads at most this many pages and the listing then ends successfully
     * with truncated set (a feed's newest part is worth having; set before the first page
     * completes). */
    int page_cap;
    bool truncated;
    /* NULL: each page is built whole; else what of it to build (octo_parse_body; set before
     * the first page completes) */
    const oj_keep *keep;
};

/* Takes ownership of url (the collection URL without skip/take). On error
 * done is never called; release p's strings with octo_pager_clear. */
of_err octo_pager_start(octo_pager *p, of_octo *c, char *url, const char *kind, const char *space,
                        octo_pager_item_fn item, octo_pager_done_fn done, void *ctx, char *es,
                        size_t n);
void octo_pager_clear(octo_pager *p);

/* ---- blocking calls (octopus_calls.c) -------------------------------------
 * A blocking call is its async call plus octo_sync_finish(), spelled out in each wrapper:
 *
 *     octo_sync s;
 *     octo_sync_begin(&s, out, sizeof *out);
 *     of_err rc = xxx_async(c, ..., sync_xxx, &s, errstr, errstr_size);
 *     return octo_sync_finish(c, &s, rc, errstr, errstr_size);
 *
 * where sync_xxx is the result type's callback, which only calls octo_sync_store(). */
typedef struct octo_sync {
    bool done;
    of_err err;
    char errstr[1024];
    void *out; /* the caller's result struct */
    size_t out_size;
} octo_sync;

/* Zeroes out (out_size bytes) and readies s to receive the call's result there. */
void octo_sync_begin(octo_sync *s, void *out, size_t out_size);
/* The body of every blocking call's callback: records err and errstr and, on success, moves
 * *res (out_size bytes) into the caller's struct, leaving res zeroed for the client to free. */
void octo_sync_store(void *opaque, of_err err, const char *errstr, void *res);
/* Defines `static void name(void *s, of_err err, const char *errstr, type *res)`, a blocking
 * call's callback for result type `type`: it only calls octo_sync_store(). */
#define OCTO_SYNC_CB(name, type)                                         \
    static void name(void *s, of_err err, const char *errstr, type *res) \
    {                                                                    \
        octo_sync_store(s, err, errstr, res);                            \
    }
/* Runs the client until the call s waits for has completed, and returns its result (errstr
 * filled on error). Other calls' callbacks may fire meanwhile. */
of_err octo_sync_wait(of_octo *c, octo_sync *s, char *errstr, size_t errstr_size);
/* The end of a blocking call: started is what its async call returned. An error there is
 * returned as it is (submitting failed: no callback will run, so waiting would hang);
 * otherwise octo_sync_wait(). */
of_err octo_sync_finish(of_octo *c, octo_sync *s, of_err started, char *errstr, size_t errstr_size);

/* ---- name cache (octopus_calls.c) ---------------------------------------- */
/* Returns a new reference to the cached JSON item or NULL. */
json_t *octo_cache_get(of_octo *c, const char *kind, const char *scope, const char *name);
/* Stores a deep copy of item (the caller keeps its reference). Silently does
 * nothing when the cache is full or memory is short: it is only a cache. */
void octo_cache_put(of_octo *c, const char *kind, const char *scope, const char *name,
                    json_t *item);
void octo_cache_free_all(of_octo *c);

/* ---- JSON (octopus_json.c) -----------------------------------------------
 * Decoders fill a zeroed struct; on failure the struct is freed and errstr
 * names the resource and field ("Task ServerTasks-1: field \"State\": expected
 * a string, got null"). */
/* The first page of an adoption look-up whose jobs' since are known: the newest few
 * deployments, enough to reach one older than since at once when nothing of ours exists, and
 * a margin for other teams' deployments to the same targets meanwhile. */
#define OCTO_LOOKUP_FIRST_TAKE 4

/* The reply as a tree: all of it (keep NULL) or what keep lists (oj_parse_keep). */
of_err octo_parse_body(const char *body, size_t len, const oj_keep *keep, json_t **out,
                       char *errstr, size_t errstr_size);
/* What the hot replies' decoders read (octopus_json.c): a Deployment, a ServerTask, an Event,
 * and a page of each. */
extern const oj_keep octo_keep_deployment[], octo_keep_task[], octo_keep_event[];
extern const oj_keep octo_keep_deployment_page[], octo_keep_task_page[], octo_keep_event_page[];
/* The first field of those decoders' tables that their keep list leaves out, or NULL (a
 * test: a field left out would read as absent). */
const char *octo_keep_check(void);
/* Frees a tree octo_parse_body made of a len-byte body (NULL-safe). A big reply (a release's
 * deployment template names every tenant: 10,000 of them make a 20 MB tree) leaves its
 * freed chunks pinned under what was allocated while it lived, so after one the heap's free
 * pages are handed back (glibc), or a plan's peak is the biggest reply's tree. */
void octo_free_body(json_t *j, size_t len);
of_err octo_decode_root(json_t *j, of_octo_root *out, char *errstr, size_t errstr_size);
of_err octo_decode_space(json_t *j, of_octo_space *out, char *errstr, size_t errstr_size);
of_err octo_decode_project(json_t *j, of_octo_project *out, char *errstr, size_t errstr_size);
of_err octo_decode_ref(json_t *j, const char *kind, of_octo_ref *out, char *errstr,
                       size_t errstr_size);
/* With pool set, the tenant's strings are interned into it (of_octo_tenant.pooled). */
of_err octo_decode_tenant_in(of_strpool *pool, json_t *j, of_octo_tenant *out, char *errstr,
                             size_t errstr_size);
#define octo_decode_tenant(j, out, errstr, errstr_size) \
    octo_decode_tenant_in(NULL, (j), (out), (errstr), (errstr_size))
of_err octo_decode_release(json_t *j, of_octo_release *out, char *errstr, size_t errstr_size);
of_err octo_decode_template(json_t *j, of_octo_template *out, char *errstr, size_t errstr_size);
of_err octo_decode_deployment(json_t *j, of_octo_deployment *out, char *errstr, size_t errstr_size);
of_err octo_decode_task(json_t *j, of_octo_task *out, char *errstr, size_t errstr_size);
of_err octo_decode_event(json_t *j, of_octo_event *out, char *errstr, size_t errstr_size);
/* octopus_process.c: a deployment process, a release's manifest, a bare array of {Id, Name}
 * (kind names each item in errors: "Project"). */
of_err octo_decode_process(json_t *j, of_octo_process *out, char *errstr, size_t errstr_size);
of_err octo_decode_release_manifest(json_t *j, of_octo_release_manifest *out, char *errstr,
                                    size_t errstr_size);
of_err octo_decode_ref_list(json_t *j, const char *kind, of_octo_ref_list *out, char *errstr,
                            size_t errstr_size);
/* GET /api/octopusservernodes: a page ({"Items": [...]}) or a bare array of nodes. */
of_err octo_decode_server_nodes(json_t *j, of_octo_server_node_list *out, char *errstr,
                                size_t errstr_size);

/* A collection page: Items (borrowed from j) and TotalResults. */
of_err octo_decode_page(json_t *j, const char *kind, json_t **items, size_t *total, char *errstr,
                        size_t errstr_size);

/* Checks one page of a listing against itself: skip and take as requested, got items,
 * total its TotalResults (SIZE_MAX unknown). OF_ERR_PROTOCOL with errstr saying what cannot be
 * true (a short or empty page while TotalResults promises more; more items than take or than
 * TotalResults). Pure. */
of_err octo_page_check(size_t skip, size_t take, size_t got, size_t total, char *errstr,
                       size_t errstr_size);

/* Writes "<prefix><at most OF_OCTO_QUOTE_BYTES of s[0..len)>[...]" into out, escaped with
 * of_escape (one printable line, valid UTF-8, cut at a character boundary). Returns out. */
char *octo_quote(const char *prefix, const char *s, size_t len, char *out, size_t out_size);

/* The Name of a collection item, borrowed, or NULL. */
const char *octo_item_name(json_t *item);

/* Writes the server's error text from an error body into out:
 * "ErrorMessage: Errors[0]; Errors[1]" (or whichever parts exist). Returns
 * false (out = "") when the body carries neither. */
bool octo_error_text(const char *body, size_t len, char *out, size_t out_size);

/* Builds the POST deployments JSON body. Returns a new string the caller frees. */
of_err octo_encode_deploy(const of_octo_deploy_req *req, char **out, char *errstr,
                          size_t errstr_size);

/* ---- task chunking (octopus_calls.c) ------------------------------------- */
/* Number of requests needed for n ids in chunks of `chunk` (0 for n == 0). */
size_t octo_task_chunks(size_t n, size_t chunk);
/* Builds the URL for ids[first .. first+count): .../tasks?ids=..&skip=0&take=count.
 * count must be > 0. Returns a new string the caller frees, or NULL (OOM). */
char *octo_tasks_url(const char *base, const char *space_id, const char *const *ids, size_t first,
                     size_t count);

#endif
