/* The Octopus client's transport: one libcurl multi handle, a FIFO of
 * requests beyond the concurrency cap, reusable easy handles, and the one
 * place that decides whether a failed attempt is retried (octo_classify).
 *
 * A request lives on exactly one list at a time: deferred (complete without
 * I/O at the next poll), pending (waiting for a slot), active (on the wire),
 * or sleeping (waiting out a backoff). c->nreq counts all of them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "octopus_internal.h"
#include "secret.h"

#define ERRSTR_MAX 1024

typedef struct octo_req octo_req;
struct octo_req {
    octo_req *next;
    int result; /* CURLcode of the attempt just finished */
    of_octo *c;
    octo_method method;
    char *url;
    char *body;
    size_t body_len, body_off; /* the body, and how much of it the current attempt has sent */
    int prereqs;               /* the current attempt's sends of the request (on_prereq) */
    bool resend_refused;       /* on_prereq stopped libcurl from sending it again */
    bool idempotent;
    char *what;
    char *space;
    int64_t started; /* monotonic, first attempt */
    int64_t deadline;
    int64_t not_before;
    int attempts;
    int64_t attempt_started; /* monotonic, the current attempt (the observer's duration) */
    CURL *easy;
    of_buf resp;
    bool overflow;
    char curl_err[CURL_ERROR_SIZE];
    char last[512]; /* the last attempt's failure, for the give-up message */
    octo_done_fn fn;
    void *ctx;
    /* deferred completions */
    of_err dfr_err;
    char *dfr_errstr;
};

/* ---- small helpers ------------------------------------------------------- */

static void list_push(octo_list *l, octo_req *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static octo_req *list_pop(octo_list *l)
{
    octo_req *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head) l->tail = NULL;
        r->next = NULL;
    }
    return r;
}

static void list_remove(octo_list *l, octo_req *r)
{
    octo_req *prev = NULL;
    for (octo_req *it = l->head; it; prev = it, it = it->next) {
        if (it != r) continue;
        if (prev)
            prev->next = it->next;
        else
            l->head = it->next;
        if (l->tail == it) l->tail = prev;
        it->next = NULL;
        return;
    }
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static void wipe_slist(struct curl_slist *l)
{
    for (struct curl_slist *it = l; it; it = it->next)
        if (it->data) explicit_bzero(it->data, strlen(it->data));
    curl_slist_free_all(l);
}

static const char *method_name(octo_method m)
{
    return m == OCTO_POST ? "POST" : m == OCTO_PUT ? "PUT" : "GET";
}

/* "METHOD /api/path?query" for messages: relative to the base URL, and cut
 * short because a tasks?ids= query can be kilobytes of ids. */
static void req_label(const octo_req *r, char *out, size_t n)
{
    const char *path = r->url;
    size_t blen = strlen(r->c->base_url);
    if (strncmp(path, r->c->base_url, blen) == 0) path += blen;
    if (strlen(path) > 100)
        snprintf(out, n, "%s %.100s...", method_name(r->method), path);
    else
        snprintf(out, n, "%s %s", method_name(r->method), path);
}

/* ---- routes, for the observer -------------------------------------------- */

const char *of_octo_route_name(of_octo_route r)
{
    static const char *const names[OF_OCTO_ROUTE_COUNT] = {
        "deployments", "deployments_lookup", "tasks",   "task_cancel", "events",        "releases",
        "projects",    "environments",       "tenants", "nodes",       "interruptions", "other"};
    return (unsigned)r < OF_OCTO_ROUTE_COUNT ? names[r] : "other";
}

/* Does segment [s, s+n) equal lit? */
static bool seg_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncmp(s, lit, n) == 0;
}

/* The route of a request: the collection after /api (and the space id, "Spaces-N"), with
 * the few distinctions monitoring cares about (create vs look-up, cancel, nested releases). */
static of_octo_route route_of(const octo_req *r)
{
    const char *path = r->url;
    size_t blen = strlen(r->c->base_url);
    if (strncmp(path, r->c->base_url, blen) == 0) path += blen;
    size_t plen = strcspn(path, "?#");
    const char *segs[6];
    size_t lens[6], n = 0;
    for (size_t i = 0; i < plen && n < 6;) {
        while (i < plen && path[i] == '/')
            i++;
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        if (j > i) {
            segs[n] = path + i;
            lens[n++] = j - i;
        }
        i = j;
    }
    size_t k = 0;
    if (k < n && seg_is(segs[k], lens[k], "api")) k++;
    if (k + 1 < n && lens[k] > 7 && strncmp(segs[k], "Spaces-", 7) == 0) k++;
    if (k >= n) return OF_OCTO_ROUTE_OTHER;
    const char *s0 = segs[k];
    size_t l0 = lens[k];
    for (size_t i = k + 1; i < n; i++)
        if (seg_is(segs[i], lens[i], "releases")) return OF_OCTO_ROUTE_RELEASES;
    if (seg_is(s0, l0, "deployments"))
        return r->method == OCTO_POST ? OF_OCTO_ROUTE_DEPLOYMENTS
                                      : OF_OCTO_ROUTE_DEPLOYMENTS_LOOKUP;
    if (seg_is(s0, l0, "tasks"))
        return n > k + 2 && seg_is(segs[n - 1], lens[n - 1], "cancel") ? OF_OCTO_ROUTE_TASK_CANCEL
                                                                       : OF_OCTO_ROUTE_TASKS;
    static const struct {
        const char *name;
        of_octo_route route;
    } simple[] = {{"events", OF_OCTO_ROUTE_EVENTS},
                  {"releases", OF_OCTO_ROUTE_RELEASES},
                  {"projects", OF_OCTO_ROUTE_PROJECTS},
                  {"environments", OF_OCTO_ROUTE_ENVIRONMENTS},
                  {"tenants", OF_OCTO_ROUTE_TENANTS},
                  {"octopusservernodes", OF_OCTO_ROUTE_NODES},
                  {"interruptions", OF_OCTO_ROUTE_INTERRUPTIONS}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (seg_is(s0, l0, simple[i].name)) return simple[i].route;
    return OF_OCTO_ROUTE_OTHER;
}

/* ---- classification: the one place that decides -------------------------- */

/* What each HTTP status we know means: retry or fail, and whether the server may have acted. */
static const struct {
    long status;
    octo_verdict v;
} http_verdicts[] = {
    /* The server did not act on these: safe to repeat even a create. */
    {408, {OCTO_RETRY, OF_ERR_HTTP, false, "HTTP 408 Request Timeout"}},
    {429, {OCTO_RETRY, OF_ERR_HTTP, false, "HTTP 429 Too Many Requests"}},
    {503, {OCTO_RETRY, OF_ERR_HTTP, false, "HTTP 503 Service Unavailable"}},
    /* These may come after the server did the work (or half of it). */
    {500, {OCTO_RETRY, OF_ERR_HTTP, true, "HTTP 500 Internal Server Error"}},
    {502, {OCTO_RETRY, OF_ERR_HTTP, true, "HTTP 502 Bad Gateway"}},
    {504, {OCTO_RETRY, OF_ERR_HTTP, true, "HTTP 504 Gateway Timeout"}},
    {400, {OCTO_FAIL, OF_ERR_REJECTED, false, "HTTP 400 Bad Request"}},
    {409, {OCTO_FAIL, OF_ERR_REJECTED, false, "HTTP 409 Conflict"}},
    /* a server or proxy that refuses the request line (a long ids= or regardingAny= list) */
    {414, {OCTO_FAIL, OF_ERR_REJECTED, false, "HTTP 414 URI Too Long"}},
    {431, {OCTO_FAIL, OF_ERR_REJECTED, false, "HTTP 431 Request Header Fields Too Large"}},
    {401, {OCTO_FAIL, OF_ERR_AUTH, false, "HTTP 401 Unauthorized"}},
    {403, {OCTO_FAIL, OF_ERR_AUTH, false, "HTTP 403 Forbidden"}},
    {404, {OCTO_FAIL, OF_ERR_NOT_FOUND, false, "HTTP 404 Not Found"}},
};

/* What each transfer error we know means (codes: up to 5, the rest 0). if_sent: the server may
 * have acted exactly when the request went out (a->sent); otherwise v.maybe_applied says. */
static const struct {
    int codes[5]; /* CURLcode, as octo_attempt holds it */
    bool if_sent;
    octo_verdict v;
} curl_verdicts[] = {
    {{CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY},
     false,
     {OCTO_RETRY, OF_ERR_NETWORK, false, "cannot resolve host"}},
    {{CURLE_COULDNT_CONNECT}, false, {OCTO_RETRY, OF_ERR_NETWORK, false, "cannot connect"}},
    {{CURLE_SSL_CONNECT_ERROR}, false, {OCTO_RETRY, OF_ERR_NETWORK, false, "TLS handshake failed"}},
    {{CURLE_OPERATION_TIMEDOUT}, true, {OCTO_RETRY, OF_ERR_NETWORK, false, "attempt timed out"}},
    {{CURLE_SEND_ERROR, CURLE_RECV_ERROR},
     true,
     {OCTO_RETRY, OF_ERR_NETWORK, false, "connection reset"}},
    {{CURLE_GOT_NOTHING}, true, {OCTO_RETRY, OF_ERR_NETWORK, false, "empty reply"}},
    /* a reused connection died under the request after it went out (on_prereq, on_seek) */
    {{CURLE_SEND_FAIL_REWIND, CURLE_ABORTED_BY_CALLBACK},
     true,
     {OCTO_RETRY, OF_ERR_NETWORK, false, "connection closed under the request"}},
    {{CURLE_PARTIAL_FILE}, false, {OCTO_RETRY, OF_ERR_NETWORK, true, "reply cut short"}},
    {{CURLE_HTTP2, CURLE_HTTP2_STREAM},
     true,
     {OCTO_RETRY, OF_ERR_NETWORK, false, "HTTP/2 stream error"}},
    {{CURLE_PEER_FAILED_VERIFICATION},
     false,
     {OCTO_FAIL, OF_ERR_NETWORK, false, "TLS certificate of the server not trusted"}},
    {{CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR,
      CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS},
     false,
     {OCTO_FAIL, OF_ERR_NETWORK, false, "TLS setup failed"}},
    {{CURLE_SSL_CACERT_BADFILE},
     false,
     {OCTO_FAIL, OF_ERR_CONFIG, false, "CA bundle cannot be read"}},
    {{CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL},
     false,
     {OCTO_FAIL, OF_ERR_CONFIG, false, "bad server URL"}},
    {{CURLE_OUT_OF_MEMORY}, true, {OCTO_FAIL, OF_ERR_NOMEM, false, "out of memory"}},
};

octo_verdict octo_classify(const octo_attempt *a)
{
    octo_verdict v = {OCTO_FAIL, OF_ERR_NETWORK, a->sent, "transfer failed"};
    if (a->overflow || a->curl_code == CURLE_FILESIZE_EXCEEDED) {
        v.err = OF_ERR_TOO_LARGE;
        v.maybe_applied = true;
        v.reason = "reply larger than max_response_bytes";
        return v;
    }
    if (a->curl_code != CURLE_OK) {
        for (size_t i = 0; i < sizeof(curl_verdicts) / sizeof(curl_verdicts[0]); i++) {
            for (size_t k = 0; k < 5 && curl_verdicts[i].codes[k]; k++) {
                if (curl_verdicts[i].codes[k] != a->curl_code) continue;
                octo_verdict cv = curl_verdicts[i].v;
                if (curl_verdicts[i].if_sent) cv.maybe_applied = a->sent;
                return cv;
            }
        }
        return v;
    }
    long s = a->status;
    if (s >= 200 && s <= 299) return (octo_verdict){OCTO_OK, OF_OK, true, "ok"};
    for (size_t i = 0; i < sizeof(http_verdicts) / sizeof(http_verdicts[0]); i++)
        if (http_verdicts[i].status == s) return http_verdicts[i].v;
    return (octo_verdict){OCTO_FAIL, OF_ERR_HTTP, s >= 500, "unexpected HTTP status"};
}

int64_t octo_parse_retry_after(const char *value, int64_t now_wall_ms)
{
    if (!value) return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        errno = 0;
        long long secs = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end != '\0' || errno) return -1;
        if (secs > 86400LL * 365) secs = 86400LL * 365; /* absurd, but no overflow */
        return (int64_t)secs * 1000;
    }
    if (!*value) return -1;
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1) return -1;
    /* libcurl takes any year up to INT_MAX: clamp like delta seconds, before t * 1000 can
     * overflow */
    const int64_t cap_ms = 86400LL * 365 * 1000;
    if ((int64_t)t > (now_wall_ms + cap_ms) / 1000) return cap_ms;
    int64_t ms = (int64_t)t * 1000 - now_wall_ms;
    return ms < 0 ? 0 : ms;
}

int64_t octo_retry_delay(int attempt, int64_t retry_after_ms, int64_t base_ms, int64_t cap_ms,
                         uint64_t *rnd)
{
    int64_t d = of_backoff_ms(attempt, base_ms, cap_ms, rnd);
    /* The server knows its own load: never come back sooner than it asked. */
    if (retry_after_ms >= 0 && retry_after_ms > d) d = retry_after_ms;
    return d;
}

/* ---- client lifecycle ---------------------------------------------------- */

/* The key from opts, else the key file or OCTOPUS_API_KEY (common/base/secret.h, one loader for
 * the whole program); never echoed anywhere. */
static of_err load_key(const of_octo_opts *o, char **out, char *errstr, size_t n)
{
    *out = NULL;
    if (!o->api_key) {
        /* an unreadable or missing key file is the operator's configuration to fix */
        of_err rc = of_secret_load_api_key(o->api_key_file, out, errstr, n);
        return rc == OF_OK || rc == OF_ERR_NOMEM ? rc : OF_ERR_CONFIG;
    }
    if (strspn(o->api_key, " \t\r\n") == strlen(o->api_key))
        return of_seterr(errstr, n, OF_ERR_CONFIG,
                         "no Octopus API key: set " OF_API_KEY_ENV " or octopus.api_key_file");
    for (const unsigned char *p = (const unsigned char *)o->api_key; *p; p++) {
        /* Anything else could split or inject a header line. */
        if (*p <= ' ' || *p >= 0x7f)
            return of_seterr(errstr, n, OF_ERR_CONFIG,
                             "the Octopus API key contains a space, control or non-ASCII "
                             "character");
    }
    *out = strdup(o->api_key);
    return *out ? OF_OK : OF_ERR_NOMEM;
}

static struct curl_slist *make_headers(const char *key, bool post)
{
    of_buf h;
    of_buf_init(&h, 8192);
    struct curl_slist *l = NULL, *t;
    if (of_buf_printf(&h, "X-Octopus-ApiKey: %s", key)) goto fail;
    if (!(t = curl_slist_append(l, h.data))) goto fail;
    l = t;
    if (!(t = curl_slist_append(l, "Accept: application/json"))) goto fail;
    l = t;
    /* No "Expect: 100-continue" round trip for our small bodies. */
    if (!(t = curl_slist_append(l, "Expect:"))) goto fail;
    l = t;
    if (post) {
        if (!(t = curl_slist_append(l, "Content-Type: application/json"))) goto fail;
        l = t;
    }
    explicit_bzero(h.data, h.len);
    of_buf_clear(&h);
    return l;
fail:
    if (h.data) explicit_bzero(h.data, h.len);
    of_buf_clear(&h);
    wipe_slist(l);
    return NULL;
}

of_err of_octo_global_init(char *errstr, size_t errstr_size)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return of_seterr(errstr, errstr_size,
                         cc == CURLE_OUT_OF_MEMORY ? OF_ERR_NOMEM : OF_ERR_STATE,
                         "cannot set up libcurl: %s", curl_easy_strerror(cc));
    return OF_OK;
}

void of_octo_global_cleanup(void)
{
    curl_global_cleanup();
}

void of_octo_opts_default(of_octo_opts *o)
{
    *o = (of_octo_opts){
        .space = OF_OCTO_DEFAULT_SPACE,
        .connect_timeout_ms = OF_OCTO_DEFAULT_CONNECT_TIMEOUT_MS,
        .request_timeout_ms = OF_OCTO_DEFAULT_REQUEST_TIMEOUT_MS,
        .retry_deadline_ms = OF_OCTO_DEFAULT_RETRY_DEADLINE_MS,
        .retry_base_ms = OF_OCTO_DEFAULT_RETRY_BASE_MS,
        .retry_cap_ms = OF_OCTO_DEFAULT_RETRY_CAP_MS,
        .max_concurrent = OF_OCTO_DEFAULT_MAX_CONCURRENT,
        .task_chunk = OF_OCTO_DEFAULT_TASK_CHUNK,
        .page_size = OF_OCTO_DEFAULT_PAGE_SIZE,
        .max_response_bytes = OF_OCTO_DEFAULT_MAX_RESPONSE_BYTES,
        .cache_max = OF_OCTO_DEFAULT_CACHE_MAX,
        .max_pages = OF_OCTO_DEFAULT_MAX_PAGES,
        .list_deadline_ms = OF_OCTO_DEFAULT_LIST_DEADLINE_MS,
        .task_unreadable_ms = OF_OCTO_DEFAULT_UNREADABLE_MS,
        .warn_interval_ms = OF_OCTO_DEFAULT_WARN_INTERVAL_MS,
    };
}

/* Every number of opts within the range octopus.h states for it. */
static of_err check_opts(const of_octo_opts *o, char *errstr, size_t errstr_size)
{
    const struct {
        const char *name;
        int64_t value, min, max;
    } r[] = {
        {"connect_timeout_ms", o->connect_timeout_ms, 1, INT64_MAX},
        {"request_timeout_ms", o->request_timeout_ms, 1, INT64_MAX},
        {"retry_deadline_ms", o->retry_deadline_ms, 1, INT64_MAX},
        {"retry_base_ms", o->retry_base_ms, 1, INT64_MAX},
        {"retry_cap_ms", o->retry_cap_ms, 0, INT64_MAX},
        {"max_concurrent", o->max_concurrent, 1, INT_MAX},
        {"task_chunk", o->task_chunk, 1, OF_OCTO_MAX_TASK_CHUNK},
        {"page_size", o->page_size, 1, INT_MAX},
        {"max_response_bytes", (int64_t)o->max_response_bytes, 1, INT64_MAX},
        {"cache_max", (int64_t)o->cache_max, 0, INT64_MAX},
        {"max_pages", o->max_pages, 1, INT_MAX},
        {"list_deadline_ms", o->list_deadline_ms, 1, INT64_MAX},
        {"task_unreadable_ms", o->task_unreadable_ms, 1, INT64_MAX},
        {"warn_interval_ms", o->warn_interval_ms, 1, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        if (r[i].value < r[i].min || r[i].value > r[i].max)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                             "Octopus client setting %s out of range (got %lld, want %lld..%lld)",
                             r[i].name, (long long)r[i].value, (long long)r[i].min,
                             (long long)r[i].max);
    if (!octo_nonempty(o->space))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "the Octopus space is empty");
    return OF_OK;
}

of_err of_octo_new(const of_octo_opts *opts, of_octo **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!opts->url ||
        (strncasecmp(opts->url, "http://", 7) != 0 && strncasecmp(opts->url, "https://", 8) != 0)) {
        char shown[512];
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "the Octopus URL must start with http:// or https:// (got \"%s\")",
                         of_secret_mask_url(opts->url, shown, sizeof shown));
    }
    if (strpbrk(opts->url, "?# \t\r\n"))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "the Octopus URL must not contain a query, fragment or space");
    of_err rc = check_opts(opts, errstr, errstr_size);
    if (rc) return rc;

    of_octo *c = calloc(1, sizeof(*c));
    if (!c) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    rc = load_key(opts, &c->api_key, errstr, errstr_size);
    if (rc) {
        if (rc == OF_ERR_NOMEM) of_seterr(errstr, errstr_size, rc, "out of memory");
        free(c);
        return rc;
    }
    c->base_url = strdup(opts->url);
    if (c->base_url) {
        size_t n = strlen(c->base_url);
        while (n > 0 && c->base_url[n - 1] == '/')
            c->base_url[--n] = '\0';
    }
    c->space_cfg = strdup(opts->space);
    c->ca_file = xstrdup(opts->ca_file);
    c->opt = *opts;
    c->opt.url = c->opt.space = c->opt.api_key = c->opt.api_key_file = c->opt.ca_file = NULL;
    if (c->opt.retry_cap_ms < c->opt.retry_base_ms) c->opt.retry_cap_ms = c->opt.retry_base_ms;
    c->rnd = opts->seed ? opts->seed : ((uint64_t)of_wall_ms() * 2654435761u) | 1u;

    c->multi = curl_multi_init();
    c->pool = calloc((size_t)c->opt.max_concurrent, sizeof(*c->pool));
    c->hdr_get = make_headers(c->api_key, false);
    c->hdr_post = make_headers(c->api_key, true);
    if (!c->base_url || !c->space_cfg || (opts->ca_file && !c->ca_file) || !c->multi || !c->pool ||
        !c->hdr_get || !c->hdr_post) {
        of_octo_destroy(c);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->opt.max_concurrent);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->opt.max_concurrent);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->opt.max_concurrent);
    *out = c;
    return OF_OK;
}

static void finish(of_octo *c, octo_req *r, of_err err, const char *errstr, long status,
                   bool maybe_applied);

/* Takes every request off the wire and completes it, once, with err and msg. */
static void fail_active(of_octo *c, of_err err, const char *msg)
{
    octo_req *r;
    while ((r = list_pop(&c->active))) {
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        c->nactive--;
        finish(c, r, err, msg, 0, true);
    }
}

void of_octo_destroy(of_octo *c)
{
    if (!c) return;
    c->closing = true;
    /* Every outstanding request completes once, as cancelled, so callers
     * release what they attached to it. Callbacks cannot add new ones. */
    fail_active(c, OF_ERR_CANCELLED, "Octopus client shut down");
    octo_req *r;
    while ((r = list_pop(&c->pending)))
        finish(c, r, OF_ERR_CANCELLED, "Octopus client shut down", 0, false);
    while ((r = list_pop(&c->sleeping)))
        finish(c, r, OF_ERR_CANCELLED, "Octopus client shut down", 0, false);
    while ((r = list_pop(&c->deferred)))
        finish(c, r, OF_ERR_CANCELLED, "Octopus client shut down", 0, false);
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    free(c->pool);
    if (c->multi) curl_multi_cleanup(c->multi);
    octo_cache_free_all(c);
    for (size_t i = 0; i < c->nunreadable; i++)
        free(c->unreadable[i].id);
    free(c->unreadable);
    wipe_slist(c->hdr_get);
    wipe_slist(c->hdr_post);
    wipe_free(c->api_key);
    free(c->base_url);
    free(c->space_cfg);
    free(c->space_id);
    free(c->space_name);
    free(c->ca_file);
    free(c);
}

char *of_octo_describe(const of_octo *c, char *out, size_t out_size)
{
    /* The URL may carry user:password@: never printed in clear. */
    char url[1024];
    of_secret_mask_url(c->base_url, url, sizeof(url));
    snprintf(out, out_size,
             "url=%s space=%s api_key=%s tls_verify=%s ca_file=%s connect_timeout_ms=%lld "
             "request_timeout_ms=%lld retry_deadline_ms=%lld max_concurrent=%d task_chunk=%d "
             "page_size=%d max_response_bytes=%zu",
             url, c->space_cfg, c->api_key ? "API-****" : "(none)",
             c->opt.tls_skip_verify ? "off" : "on", c->ca_file ? c->ca_file : "(system)",
             (long long)c->opt.connect_timeout_ms, (long long)c->opt.request_timeout_ms,
             (long long)c->opt.retry_deadline_ms, c->opt.max_concurrent, c->opt.task_chunk,
             c->opt.page_size, c->opt.max_response_bytes);
    return out;
}

size_t of_octo_outstanding(const of_octo *c)
{
    return c->nreq;
}

void of_octo_get_stats(const of_octo *c, of_octo_stats *out)
{
    *out = c->stats;
}

void octo_scrub(const of_octo *c, char *s)
{
    size_t klen = c->api_key ? strlen(c->api_key) : 0;
    if (!s || klen < 4) return;
    char *p;
    while ((p = strstr(s, c->api_key))) {
        static const char mask[] = "API-****";
        size_t mlen = sizeof(mask) - 1;
        if (klen >= mlen) {
            memcpy(p, mask, mlen);
            memmove(p + mlen, p + klen, strlen(p + klen) + 1);
        } else {
            memset(p, '*', klen);
        }
    }
}

/* ---- requests ------------------------------------------------------------ */

static void req_free(octo_req *r)
{
    free(r->url);
    free(r->body);
    free(r->what);
    free(r->space);
    free(r->dfr_errstr);
    of_buf_clear(&r->resp);
    free(r);
}

/* Runs the callback once and frees the request. */
static void finish(of_octo *c, octo_req *r, of_err err, const char *errstr, long status,
                   bool maybe_applied)
{
    char msg[ERRSTR_MAX], label[160] = "";
    snprintf(msg, sizeof(msg), "%s", errstr ? errstr : "");
    octo_scrub(c, msg);
    if (r->url) req_label(r, label, sizeof(label));
    octo_resp resp = {
        .label = label,
        .err = err,
        .errstr = err ? msg : "",
        .status = status,
        .body = r->resp.data ? r->resp.data : "",
        .body_len = r->resp.len,
        .attempts = r->attempts,
        .maybe_applied = err ? maybe_applied : false,
        .deadline = r->deadline,
    };
    c->nreq--;
    r->fn(r->ctx, &resp);
    req_free(r);
}

static of_err new_req(of_octo *c, octo_done_fn fn, void *ctx, octo_req **out)
{
    octo_req *r = calloc(1, sizeof(*r));
    if (!r) return OF_ERR_NOMEM;
    r->c = c;
    r->fn = fn;
    r->ctx = ctx;
    of_buf_init(&r->resp, c->opt.max_response_bytes);
    *out = r;
    return OF_OK;
}

of_err octo_submit(of_octo *c, octo_spec *spec, octo_done_fn fn, void *ctx, char *errstr,
                   size_t errstr_size)
{
    char *url = spec->url, *body = spec->body;
    spec->url = spec->body = NULL;
    if (c->closing) {
        free(url);
        free(body);
        return of_seterr(errstr, errstr_size, OF_ERR_CANCELLED, "Octopus client shut down");
    }
    octo_req *r = NULL;
    if (!url || new_req(c, fn, ctx, &r)) {
        free(url);
        free(body);
        free(r);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    r->method = spec->method;
    r->url = url;
    r->body = body;
    r->body_len = body ? strlen(body) : 0;
    r->idempotent = spec->idempotent;
    r->what = xstrdup(spec->what);
    r->space = xstrdup(spec->space ? spec->space : (c->space_name ? c->space_name : c->space_id));
    /* 0: the clock starts with the first attempt (start_attempt), so time
     * spent queued behind max_concurrent is not counted as server trouble. */
    r->deadline = spec->deadline;
    c->nreq++;
    list_push(&c->pending, r);
    return OF_OK;
}

of_err octo_defer(of_octo *c, of_err err, const char *errstr, octo_done_fn fn, void *ctx)
{
    if (c->closing) return OF_ERR_CANCELLED;
    octo_req *r;
    if (new_req(c, fn, ctx, &r)) return OF_ERR_NOMEM;
    r->dfr_err = err;
    if (errstr && !(r->dfr_errstr = strdup(errstr))) {
        req_free(r);
        return OF_ERR_NOMEM;
    }
    c->nreq++;
    list_push(&c->deferred, r);
    return OF_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    octo_req *r = userp;
    size_t n = size * nmemb;
    if (of_buf_append(&r->resp, data, n) != OF_OK) {
        r->overflow = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

/* The request body, handed to libcurl piece by piece (CURLOPT_READFUNCTION). */
static size_t on_read(char *buf, size_t size, size_t nitems, void *userp)
{
    octo_req *r = userp;
    size_t room = size * nitems, left = r->body_len - r->body_off;
    size_t n = left < room ? left : room;
    if (n) memcpy(buf, r->body + r->body_off, n);
    r->body_off += n;
    return n;
}

/* libcurl sends a request again by itself, once, when a reused keep-alive connection died
 * under it before any reply byte. For a create the server may already have acted on, that
 * would be a duplicate behind our back: the second send of an attempt is refused here, the
 * transfer fails with CURLE_ABORTED_BY_CALLBACK, and octo_classify decides as for any
 * attempt that went out (a create is looked up, never repeated blind). libcurl calls this
 * right before each send of the request (CURLOPT_PREREQFUNCTION, 7.80). */
static int on_prereq(void *userp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    octo_req *r = userp;
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    if (r->prereqs++ == 0) return CURL_PREREQFUNC_OK;
    r->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
}

/* Where libcurl lacks CURLOPT_PREREQFUNCTION, the body comes from a read callback instead and
 * libcurl's re-send needs it rewound: refused the same way (CURLE_SEND_FAIL_REWIND). That
 * costs a second send per request (headers, then body), so it is only the fallback. (A
 * connection that died before any body byte went out is then resent without asking: the
 * server cannot have acted on a request it never had whole.) */
static int on_seek(void *userp, curl_off_t offset, int origin)
{
    (void)userp;
    (void)offset;
    (void)origin;
    return CURL_SEEKFUNC_FAIL;
}

/* Puts one attempt on the wire. */
static of_err start_attempt(of_octo *c, octo_req *r)
{
    int64_t now = of_now_ms();
    if (r->attempts == 0) {
        r->started = now;
        if (!r->deadline) r->deadline = now + c->opt.retry_deadline_ms;
    }
    int64_t left = r->deadline - now;
    if (left < 1) left = 1;
    CURL *e = c->npool ? c->pool[--c->npool] : curl_easy_init();
    if (!e) return OF_ERR_NOMEM;
    of_buf_reset(&r->resp);
    r->overflow = false;
    r->curl_err[0] = '\0';
    r->easy = e;
    /* An attempt never outlives the call's deadline. */
    long timeout = (long)(left < c->opt.request_timeout_ms ? left : c->opt.request_timeout_ms);
    long ctimeout =
        (long)(timeout < c->opt.connect_timeout_ms ? timeout : c->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "octofleet/" OF_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->method != OCTO_GET ? c->hdr_post : c->hdr_get);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->opt.max_response_bytes);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Redirects could carry the key header elsewhere; Octopus does not need them. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->opt.tls_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->opt.tls_skip_verify ? 0L : 2L);
    if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    /* Every request keeps its connection alive (a create costs no TCP handshake), and none is
     * sent twice by libcurl on its own (on_prereq, on_seek). The body goes out with the
     * headers, in one send. */
    if (r->method != OCTO_GET) {
        r->body_off = 0;
        r->prereqs = 0;
        r->resend_refused = false;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        if (r->method == OCTO_PUT) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (!c->body_by_callback &&
            curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_PREREQDATA, r) == CURLE_OK) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        } else {
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, r);
            curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
            curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
        }
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        r->easy = NULL;
        return OF_ERR_NOMEM;
    }
    if (r->attempts > 0) c->stats.retries++;
    r->attempts++;
    r->attempt_started = now;
    c->stats.requests++;
    c->nactive++;
    if (c->nactive > c->stats.max_active) c->stats.max_active = c->nactive;
    list_push(&c->active, r);
    return OF_OK;
}

static void release_easy(of_octo *c, octo_req *r)
{
    curl_multi_remove_handle(c->multi, r->easy);
    if (c->npool < (size_t)c->opt.max_concurrent) {
        /* Reset keeps the connection and DNS caches (they live in the multi). */
        curl_easy_reset(r->easy);
        c->pool[c->npool++] = r->easy;
    } else {
        curl_easy_cleanup(r->easy);
    }
    r->easy = NULL;
}

/* The message a caller sees for a permanent failure. */
static void fail_message(const octo_req *r, const octo_verdict *v, long status, const char *server,
                         char *out, size_t n)
{
    char label[160];
    req_label(r, label, sizeof(label));
    const char *sep = *server ? ": " : "";
    switch (v->err) {
    case OF_ERR_AUTH:
        if (status == 401)
            snprintf(out, n,
                     "Octopus rejected the API key (401): check OCTOPUS_API_KEY or the key file");
        else
            snprintf(out, n, "the API key lacks permission on space %s (HTTP 403%s%s)",
                     r->space ? r->space : "(none)", sep, server);
        return;
    case OF_ERR_NOT_FOUND:
        if (r->what)
            snprintf(out, n, "%s not found", r->what);
        else
            snprintf(out, n, "%s: not found (HTTP 404%s%s)", label, sep, server);
        return;
    case OF_ERR_REJECTED:
        snprintf(out, n, "%s rejected (HTTP %ld)%s%s", r->what ? r->what : label, status, sep,
                 server);
        return;
    case OF_ERR_TOO_LARGE:
        snprintf(out, n, "%s: reply larger than the %zu-byte cap (max_response_bytes)", label,
                 r->c->opt.max_response_bytes);
        return;
    case OF_ERR_HTTP:
        snprintf(out, n, "%s: %s (HTTP %ld)%s%s", label, v->reason, status, sep, server);
        return;
    default:
        break;
    }
    if (v->err == OF_ERR_NETWORK && strstr(v->reason, "certificate"))
        snprintf(out, n,
                 "%s: %s (%s): point the CA bundle option (octopus.ca_file) at the CA that "
                 "signed the server's certificate",
                 label, v->reason, r->curl_err[0] ? r->curl_err : "certificate problem");
    else
        snprintf(out, n, "%s: %s%s%s%s", label, v->reason, r->curl_err[0] ? " (" : "", r->curl_err,
                 r->curl_err[0] ? ")" : "");
}

/* An attempt ended: decide success, retry or failure. */
static void attempt_done(of_octo *c, octo_req *r, CURLcode code)
{
    long status = 0, reqsize = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &reqsize);
    /* a refused re-send: the request went out once, on the connection that died */
    octo_attempt a = {(int)code, status, reqsize > 0 || r->resend_refused, r->overflow};
    octo_verdict v = octo_classify(&a);
    if (status == 429 || status == 503) c->stats.throttled++;
    if (c->opt.observer) {
        of_octo_attempt_info info = {route_of(r), code == CURLE_OK ? status : 0, r->attempts > 1,
                                     of_now_ms() - r->attempt_started};
        c->opt.observer(c->opt.observer_opaque, &info);
    }
    int64_t retry_after = -1;
    struct curl_header *h;
    if (v.action == OCTO_RETRY &&
        curl_easy_header(r->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        retry_after = octo_parse_retry_after(h->value, of_wall_ms());
    release_easy(c, r);

    if (v.action == OCTO_OK) {
        finish(c, r, OF_OK, "", status, false);
        return;
    }
    char server[512] = "";
    if (status >= 400 && !r->overflow)
        octo_error_text(r->resp.data ? r->resp.data : "", r->resp.len, server, sizeof(server));
    char msg[ERRSTR_MAX];
    char label[160];
    req_label(r, label, sizeof(label));
    if (v.action == OCTO_FAIL) {
        fail_message(r, &v, status, server, msg, sizeof(msg));
        finish(c, r, v.err, msg, status, v.maybe_applied);
        return;
    }

    /* Transient. Remember why, for the give-up message. */
    if (code != CURLE_OK)
        snprintf(r->last, sizeof(r->last), "%s%s%s%s", v.reason, r->curl_err[0] ? " (" : "",
                 r->curl_err, r->curl_err[0] ? ")" : "");
    else
        snprintf(r->last, sizeof(r->last), "%s%s%s", v.reason, *server ? ": " : "", server);
    if (!r->idempotent && v.maybe_applied) {
        snprintf(msg, sizeof(msg),
                 "%s: %s; the server may have acted on it, so it was not repeated (look the "
                 "result up before trying again)",
                 label, r->last);
        finish(c, r, v.err, msg, status, true);
        return;
    }
    int64_t now = of_now_ms();
    int64_t delay = octo_retry_delay(r->attempts - 1, retry_after, c->opt.retry_base_ms,
                                     c->opt.retry_cap_ms, &c->rnd);
    if (now + delay >= r->deadline) {
        char hint[96] = "";
        if (retry_after >= 0 && now + retry_after >= r->deadline)
            snprintf(hint, sizeof(hint), "; the server asked to wait %lld ms (Retry-After)",
                     (long long)retry_after);
        snprintf(msg, sizeof(msg),
                 "%s: gave up after %d attempt%s in %.1f s (retry deadline %.1f s): last error: "
                 "%s%s",
                 label, r->attempts, r->attempts == 1 ? "" : "s", (double)(now - r->started) / 1e3,
                 (double)(r->deadline - r->started) / 1e3, r->last, hint);
        finish(c, r, OF_ERR_TIMEOUT, msg, status, v.maybe_applied);
        return;
    }
    of_info("octopus retry request=\"%s\" attempt=%d delay_ms=%lld reason=\"%s\"", label,
            r->attempts, (long long)delay, v.reason);
    r->not_before = now + delay;
    list_push(&c->sleeping, r);
}

/* Moves due sleepers to pending (keeping their order) and starts as many
 * pending requests as the cap allows. Returns how many requests failed to
 * start (and were finished). */
static int schedule(of_octo *c)
{
    int64_t now = of_now_ms();
    octo_req *r = c->sleeping.head, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->not_before <= now) {
            list_remove(&c->sleeping, r);
            list_push(&c->pending, r);
        }
    }
    int fired = 0;
    while (c->nactive < (size_t)c->opt.max_concurrent && (r = list_pop(&c->pending))) {
        if (start_attempt(c, r) != OF_OK) {
            finish(c, r, OF_ERR_NOMEM, "out of memory starting a request", 0, false);
            fired++;
        }
    }
    return fired;
}

static int run_deferred(of_octo *c)
{
    /* Only the ones queued so far: completions may defer more. */
    octo_list now = c->deferred;
    c->deferred.head = c->deferred.tail = NULL;
    int fired = 0;
    octo_req *r;
    while ((r = list_pop(&now))) {
        finish(c, r, r->dfr_err, r->dfr_errstr ? r->dfr_errstr : "", 0, false);
        fired++;
    }
    return fired;
}

static int drain_done(of_octo *c)
{
    int fired = 0, left;
    CURLMsg *m;
    /* Collect first: callbacks add handles, which must not happen mid-read. */
    octo_list done = {NULL, NULL};
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        octo_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r) continue;
        list_remove(&c->active, r);
        c->nactive--;
        r->result = (int)m->data.result;
        list_push(&done, r);
    }
    octo_req *r;
    while ((r = list_pop(&done))) {
        attempt_done(c, r, (CURLcode)r->result);
        fired++;
    }
    return fired;
}

/* libcurl's multi handle failed: fail everything on the wire. */
static of_err multi_failed(of_octo *c, CURLMcode mc)
{
    of_err err = mc == CURLM_OUT_OF_MEMORY ? OF_ERR_NOMEM : OF_ERR_NETWORK;
    char msg[256];
    snprintf(msg, sizeof(msg), "libcurl multi handle failed: %s", curl_multi_strerror(mc));
    of_error("octopus %s", msg);
    fail_active(c, err, msg);
    return err;
}

of_err of_octo_poll(of_octo *c, int timeout_ms)
{
    return of_octo_poll_fd(c, timeout_ms, -1);
}

of_err of_octo_poll_fd(of_octo *c, int timeout_ms, int fd)
{
    int running = 0;
    int fired = run_deferred(c);
    fired += schedule(c);
    if (c->nactive) {
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) return multi_failed(c, mc);
        fired += drain_done(c);
    }
    if (fired || (c->nreq == 0 && fd < 0)) {
        schedule(c);
        return OF_OK;
    }
    /* Nothing ready: sleep until I/O, the next retry, or the caller's timeout. */
    int64_t wait = timeout_ms < 0 ? 0 : timeout_ms;
    int64_t now = of_now_ms();
    for (octo_req *r = c->sleeping.head; r; r = r->next)
        if (r->not_before - now < wait) wait = r->not_before - now < 0 ? 0 : r->not_before - now;
    struct curl_waitfd extra = {.fd = fd, .events = CURL_WAIT_POLLIN};
    CURLMcode mc =
        curl_multi_poll(c->multi, fd >= 0 ? &extra : NULL, fd >= 0 ? 1 : 0, (int)wait, NULL);
    if (mc != CURLM_OK) return multi_failed(c, mc);
    if (c->nactive) {
        mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) return multi_failed(c, mc);
        drain_done(c);
    }
    schedule(c);
    return OF_OK;
}
