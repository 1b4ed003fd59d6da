/* The typed Octopus calls, built on the request engine in octopus_http.c:
 * the call layer shared with octopus_deploy.c (callback dispatch, paging,
 * blocking twins), the name cache, and the lookups (root, spaces, projects,
 * environments, tenants, releases, deployment templates).
 *
 * Each call is a small state machine ("op") whose first member is an
 * octo_call: the user's typed callback and the result being built.
 * Multi-request calls chain requests from their completion functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "octopus_internal.h"
#include "secret.h"

/* ---- the user's callback and result ---------------------------------- */

static void res_clear(octo_call *k)
{
    switch (k->type) {
    case CT_ROOT:
        of_octo_root_clear(&k->res.root);
        break;
    case CT_SPACE:
        of_octo_space_clear(&k->res.space);
        break;
    case CT_PROJECT:
        of_octo_project_clear(&k->res.project);
        break;
    case CT_REF:
        of_octo_ref_clear(&k->res.ref);
        break;
    case CT_TENANT:
        of_octo_tenant_clear(&k->res.tenant);
        break;
    case CT_TENANTS:
        of_octo_tenant_list_clear(&k->res.tenants);
        break;
    case CT_RELEASE:
        of_octo_release_clear(&k->res.release);
        break;
    case CT_TEMPLATE:
        of_octo_template_clear(&k->res.tpl);
        break;
    case CT_DEPLOYMENT:
        of_octo_deployment_clear(&k->res.dep);
        break;
    case CT_DEPLOYMENTS:
        of_octo_deployment_list_clear(&k->res.deps);
        break;
    case CT_TASK:
        of_octo_task_clear(&k->res.task);
        break;
    case CT_TASKS:
        of_octo_task_list_clear(&k->res.tasks);
        break;
    case CT_EVENTS:
        of_octo_event_list_clear(&k->res.events);
        break;
    case CT_NODES:
        of_octo_server_node_list_clear(&k->res.nodes);
        break;
    }
}

/* Runs the user's callback once, then frees whatever the result still owns.
 * The op holding k is freed by the caller afterwards. */
void octo_call_complete(octo_call *k, of_err err, const char *errstr)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", err ? (errstr ? errstr : of_strerror(err)) : "");
    octo_scrub(k->c, msg);
    if (err) {
        k->c->stats.failures++;
        res_clear(k);
    }
    void *o = k->opaque;
    switch (k->type) {
    case CT_ROOT:
        k->cb.root(o, err, msg, err ? NULL : &k->res.root);
        break;
    case CT_SPACE:
        k->cb.space(o, err, msg, err ? NULL : &k->res.space);
        break;
    case CT_PROJECT:
        k->cb.project(o, err, msg, err ? NULL : &k->res.project);
        break;
    case CT_REF:
        k->cb.ref(o, err, msg, err ? NULL : &k->res.ref);
        break;
    case CT_TENANT:
        k->cb.tenant(o, err, msg, err ? NULL : &k->res.tenant);
        break;
    case CT_TENANTS:
        k->cb.tenants(o, err, msg, err ? NULL : &k->res.tenants);
        break;
    case CT_RELEASE:
        k->cb.release(o, err, msg, err ? NULL : &k->res.release);
        break;
    case CT_TEMPLATE:
        k->cb.tpl(o, err, msg, err ? NULL : &k->res.tpl);
        break;
    case CT_DEPLOYMENT:
        k->cb.dep(o, err, msg, err ? NULL : &k->res.dep);
        break;
    case CT_DEPLOYMENTS:
        k->cb.deps(o, err, msg, err ? NULL : &k->res.deps);
        break;
    case CT_TASK:
        k->cb.task(o, err, msg, err ? NULL : &k->res.task);
        break;
    case CT_TASKS:
        k->cb.tasks(o, err, msg, err ? NULL : &k->res.tasks);
        break;
    case CT_EVENTS:
        k->cb.events(o, err, msg, err ? NULL : &k->res.events);
        break;
    case CT_NODES:
        k->cb.nodes(o, err, msg, err ? NULL : &k->res.nodes);
        break;
    }
    res_clear(k);
}

/* Decodes one resource of the call's type into k->res. */
static of_err decode_into(octo_call *k, json_t *j, const char *ref_kind, char *es, size_t n)
{
    switch (k->type) {
    case CT_ROOT:
        return octo_decode_root(j, &k->res.root, es, n);
    case CT_SPACE:
        return octo_decode_space(j, &k->res.space, es, n);
    case CT_PROJECT:
        return octo_decode_project(j, &k->res.project, es, n);
    case CT_REF:
        return octo_decode_ref(j, ref_kind, &k->res.ref, es, n);
    case CT_TENANT:
        return octo_decode_tenant(j, &k->res.tenant, es, n);
    case CT_RELEASE:
        return octo_decode_release(j, &k->res.release, es, n);
    case CT_TEMPLATE:
        return octo_decode_template(j, &k->res.tpl, es, n);
    case CT_DEPLOYMENT:
        return octo_decode_deployment(j, &k->res.dep, es, n);
    case CT_TASK:
        return octo_decode_task(j, &k->res.task, es, n);
    case CT_NODES:
        return octo_decode_server_nodes(j, &k->res.nodes, es, n);
    case CT_TENANTS:
    case CT_DEPLOYMENTS:
    case CT_TASKS:
    case CT_EVENTS:
        break;
    }
    return of_seterr(es, n, OF_ERR_STATE, "internal: no single decoder for this call");
}

/* ---- the name cache ------------------------------------------------------- */

struct octo_cache_entry {
    octo_cache_entry *next;
    char *key;
    json_t *item;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* kind \x1f scope \x1f name: the separator cannot occur in names we send. */
static char *cache_key(const char *kind, const char *scope, const char *name)
{
    size_t n = strlen(kind) + strlen(scope) + strlen(name) + 3;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s\x1f%s\x1f%s", kind, scope, name);
    return k;
}

json_t *octo_cache_get(of_octo *c, const char *kind, const char *scope, const char *name)
{
    if (!c->cache_nbuckets) return NULL;
    char *key = cache_key(kind, scope ? scope : "", name);
    if (!key) return NULL;
    json_t *found = NULL;
    for (octo_cache_entry *e = c->cache_buckets[fnv1a(key) % c->cache_nbuckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            found = json_incref(e->item);
            break;
        }
    free(key);
    return found;
}

static void cache_grow(of_octo *c)
{
    size_t nb = c->cache_nbuckets ? c->cache_nbuckets * 4 : 256;
    octo_cache_entry **b = calloc(nb, sizeof(*b));
    if (!b) return;
    for (size_t i = 0; i < c->cache_nbuckets; i++) {
        octo_cache_entry *e = c->cache_buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t h = fnv1a(e->key) % nb;
            e->next = b[h];
            b[h] = e;
        }
    }
    free(c->cache_buckets);
    c->cache_buckets = b;
    c->cache_nbuckets = nb;
}

void octo_cache_put(of_octo *c, const char *kind, const char *scope, const char *name, json_t *item)
{
    if (!name || c->cache_n >= c->opt.cache_max) return;
    if (c->cache_n >= c->cache_nbuckets) cache_grow(c);
    if (!c->cache_nbuckets) return;
    char *key = cache_key(kind, scope ? scope : "", name);
    if (!key) return;
    size_t h = fnv1a(key) % c->cache_nbuckets;
    for (octo_cache_entry *e = c->cache_buckets[h]; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            json_t *copy = json_deep_copy(item);
            if (copy) {
                json_decref(e->item);
                e->item = copy;
            }
            free(key);
            return;
        }
    }
    octo_cache_entry *e = calloc(1, sizeof(*e));
    json_t *copy = json_deep_copy(item);
    if (!e || !copy) {
        free(e);
        json_decref(copy);
        free(key);
        return;
    }
    e->key = key;
    e->item = copy;
    e->next = c->cache_buckets[h];
    c->cache_buckets[h] = e;
    c->cache_n++;
}

void octo_cache_free_all(of_octo *c)
{
    for (size_t i = 0; i < c->cache_nbuckets; i++) {
        octo_cache_entry *e = c->cache_buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->key);
            json_decref(e->item);
            free(e);
        }
    }
    free(c->cache_buckets);
    c->cache_buckets = NULL;
    c->cache_nbuckets = 0;
    c->cache_n = 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* The space to address: the argument, else the connected default. */
of_err octo_pick_space(of_octo *c, const char *space_id, const char **out, char *es, size_t n)
{
    *out = space_id ? space_id : c->space_id;
    if (!*out)
        return of_seterr(es, n, OF_ERR_STATE,
                         "no space: call of_octo_connect() first or pass a space id");
    return OF_OK;
}

/* How a space is named in messages: its name if it is the connected one. */
const char *octo_space_label(const of_octo *c, const char *space_id)
{
    if (c->space_id && c->space_name && strcmp(space_id, c->space_id) == 0) return c->space_name;
    return space_id;
}

static bool is_space_id(const char *s)
{
    if (strncmp(s, "Spaces-", 7) != 0 || !s[7]) return false;
    for (s += 7; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

char *octo_url_detach(of_buf *u, of_err rc)
{
    if (rc) {
        of_buf_clear(u);
        return NULL;
    }
    return of_buf_detach(u);
}

of_err octo_url_error(char *es, size_t n)
{
    return of_seterr(es, n, OF_ERR_INVALID, "request URL too long or out of memory");
}

bool octo_nonempty(const char *s)
{
    return s && *s;
}

/* Submits one request whose completion is `fn(op)`. */
of_err octo_call_submit(of_octo *c, octo_method m, char *url, char *body, bool idempotent,
                        const char *what, const char *space, int64_t deadline, octo_done_fn fn,
                        void *op, char *es, size_t n)
{
    octo_spec spec = {m, url, body, idempotent, what, space, deadline};
    return octo_submit(c, &spec, fn, op, es, n);
}

/* ---- single request, single resource ------------------------------------ */

typedef struct single_op {
    octo_call k;
    const char *ref_kind;
} single_op;

static void single_done(void *ctx, const octo_resp *r)
{
    single_op *op = ctx;
    char es[OCTO_ES];
    json_t *j = NULL;
    of_err rc = r->err;
    if (rc) {
        octo_call_complete(&op->k, rc, r->errstr);
        free(op);
        return;
    }
    rc = octo_parse_body(r->body, r->body_len, NULL, &j, es, sizeof(es));
    if (!rc) rc = decode_into(&op->k, j, op->ref_kind, es, sizeof(es));
    octo_free_body(j, r->body_len);
    if (rc) {
        char msg[OCTO_ES + 200];
        snprintf(msg, sizeof(msg), "%s: %s", r->label, es);
        octo_call_complete(&op->k, rc, msg);
    } else {
        octo_call_complete(&op->k, OF_OK, "");
    }
    free(op);
}

of_err octo_single(of_octo *c, octo_method m, char *url, bool idempotent, const char *what,
                   const char *space, octo_call k, char *es, size_t n)
{
    if (!url) return octo_url_error(es, n);
    single_op *op = calloc(1, sizeof(*op));
    if (!op) {
        free(url);
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    }
    op->k = k;
    op->ref_kind = "Resource";
    of_err rc =
        octo_call_submit(c, m, url, NULL, idempotent, what, space, 0, single_done, op, es, n);
    if (rc) free(op);
    return rc;
}

/* ---- paging through a collection ------------------------------------------- */

static void pager_page_done(void *ctx, const octo_resp *r);

static of_err pager_next(octo_pager *p, char *es, size_t n)
{
    of_buf u;
    of_buf_init(&u, OCTO_URL_MAX);
    of_err rc = of_buf_puts(&u, p->url);
    if (!rc) rc = octo_url_query_size(&u, "skip", p->skip);
    p->asked = p->pages == 0 && p->first_take && p->first_take < p->take ? p->first_take : p->take;
    if (!rc) rc = octo_url_query_size(&u, "take", p->asked);
    char *url = octo_url_detach(&u, rc);
    if (!url) return octo_url_error(es, n);
    /* A page retries within its own deadline, but never past the listing's. */
    int64_t deadline = p->deadline;
    if (!deadline && p->list_deadline < of_now_ms() + p->c->opt.retry_deadline_ms)
        deadline = p->list_deadline;
    if (deadline > p->list_deadline) deadline = p->list_deadline;
    return octo_call_submit(p->c, OCTO_GET, url, NULL, true, NULL, p->space, deadline,
                            pager_page_done, p, es, n);
}

/* The item's Id (else Name): a server that ignores skip sends the same first item again. */
static const char *item_key(json_t *items)
{
    json_t *first = json_array_get(items, 0);
    const char *k = json_string_value(json_object_get(first, "Id"));
    return k ? k : octo_item_name(first);
}

/* Whether the listing may read another page. OF_OK, or the error that ends it. */
static of_err pager_may_continue(octo_pager *p, char *es, size_t n)
{
    size_t cap = (size_t)p->c->opt.max_pages;
    /* A caller's own, smaller cap truncates instead of failing (pager_page_done). */
    bool capped = p->page_cap > 0 && p->page_cap <= p->c->opt.max_pages;
    if (!capped && (size_t)p->pages >= cap)
        return of_seterr(es, n, OF_ERR_PROTOCOL,
                         "the collection did not end within %zu pages of %zu (max_pages)%s", cap,
                         p->take,
                         p->total != SIZE_MAX ? "; TotalResults keeps promising more" : "");
    /* Fail now rather than read hundreds of pages first. */
    if (!capped && p->total != SIZE_MAX && p->total - p->skip > (cap - (size_t)p->pages) * p->take)
        return of_seterr(es, n, OF_ERR_PROTOCOL,
                         "TotalResults %zu needs more than the cap of %zu pages of %zu (max_pages)",
                         p->total, cap, p->take);
    int64_t now = of_now_ms();
    if (now >= p->list_deadline)
        return of_seterr(es, n, OF_ERR_TIMEOUT,
                         "the listing did not end within %.1f s (list deadline) after %d page(s)",
                         (double)p->c->opt.list_deadline_ms / 1e3, p->pages);
    return OF_OK;
}

static void pager_page_done(void *ctx, const octo_resp *r)
{
    octo_pager *p = ctx;
    char es[OCTO_ES];
    if (r->err == OF_ERR_TIMEOUT && of_now_ms() >= p->list_deadline) {
        /* the page's deadline was the listing's: say so */
        char msg[OCTO_ES + 1024];
        snprintf(msg, sizeof(msg),
                 "the listing did not end within %.1f s (list deadline) after %d page(s): %s",
                 (double)p->c->opt.list_deadline_ms / 1e3, p->pages, r->errstr);
        p->done(p, r->err, msg);
        return;
    }
    if (r->err) {
        p->done(p, r->err, r->errstr);
        return;
    }
    json_t *j = NULL, *items = NULL;
    size_t total = 0;
    bool stop = false;
    of_err rc = octo_parse_body(r->body, r->body_len, p->keep, &j, es, sizeof(es));
    if (!rc) rc = octo_decode_page(j, p->kind, &items, &total, es, sizeof(es));
    size_t got = rc ? 0 : json_array_size(items);
    /* A page that contradicts itself is not trusted at all, not even a match on it. */
    if (!rc) rc = octo_page_check(p->skip, p->asked, got, total, es, sizeof(es));
    if (!rc && got && p->prev_first) {
        const char *k = item_key(items);
        if (k && strcmp(k, p->prev_first) == 0)
            rc = of_seterr(es, sizeof(es), OF_ERR_PROTOCOL,
                           "inconsistent paging: the page at skip=%zu starts with the same item "
                           "(%s) as the previous page (the server ignores skip)",
                           p->skip, k);
    }
    if (!rc) {
        const char *k = got ? item_key(items) : NULL;
        free(p->prev_first);
        p->prev_first = k ? strdup(k) : NULL;
    }
    for (size_t i = 0; !rc && !stop && i < got; i++)
        rc = p->item(p, json_array_get(items, i), &stop, es, sizeof(es));
    octo_free_body(j, r->body_len);
    p->pages++;
    p->skip += got;
    p->total = total;
    if (!rc && !stop && !(got == 0 || got < p->asked || (total != SIZE_MAX && p->skip >= total)) &&
        !(p->page_cap > 0 && p->pages >= p->page_cap))
        rc = pager_may_continue(p, es, sizeof(es));
    if (rc) {
        char msg[OCTO_ES + 200];
        snprintf(msg, sizeof(msg), "%s: %s", r->label, es);
        p->done(p, rc, msg);
        return;
    }
    bool ended = stop || got == 0 || got < p->asked || (total != SIZE_MAX && p->skip >= total);
    if (!ended && p->page_cap > 0 && p->pages >= p->page_cap) {
        p->truncated = true; /* the caller's own bound: what was read is the answer */
        ended = true;
    }
    if (ended) {
        p->done(p, OF_OK, "");
        return;
    }
    rc = pager_next(p, es, sizeof(es));
    if (rc) p->done(p, rc, es);
}

void octo_pager_clear(octo_pager *p)
{
    free(p->url);
    free(p->space);
    free(p->prev_first);
}

/* Takes ownership of url. */
of_err octo_pager_start(octo_pager *p, of_octo *c, char *url, const char *kind, const char *space,
                        octo_pager_item_fn item, octo_pager_done_fn done, void *ctx, char *es,
                        size_t n)
{
    p->c = c;
    p->url = url;
    p->kind = kind;
    p->space = space ? strdup(space) : NULL;
    if (!p->take) p->take = (size_t)c->opt.page_size; /* a caller may set its own */
    p->total = SIZE_MAX;
    p->list_deadline = of_now_ms() + c->opt.list_deadline_ms;
    p->item = item;
    p->done = done;
    p->ctx = ctx;
    if (!url || (space && !p->space)) return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    return pager_next(p, es, n);
}

/* ---- find by exact name ----------------------------------------------- */

typedef struct find_op {
    octo_call k;
    octo_pager p;
    const char *noun;  /* "project": messages and cache kind */
    const char *kind;  /* "Project": decoder messages */
    char *scope;       /* space id ("" for spaces) */
    char *scope_label; /* space name for messages */
    char *name;
    json_t *found;
    char *ci_name; /* a name equal but for case, for "did you mean" */
} find_op;

static void find_free(find_op *op)
{
    octo_pager_clear(&op->p);
    free(op->scope);
    free(op->scope_label);
    free(op->name);
    free(op->ci_name);
    json_decref(op->found);
    free(op);
}

static void find_finish(find_op *op, of_err err, const char *errstr)
{
    char es[OCTO_ES];
    if (!err && !op->found) {
        char hint[300] = "";
        if (op->ci_name) snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", op->ci_name);
        if (*op->scope)
            err = of_seterr(es, sizeof(es), OF_ERR_NOT_FOUND, "%s %s not found in space %s%s",
                            op->noun, op->name, op->scope_label, hint);
        else /* the server lists only the spaces the key may see */
            err = of_seterr(es, sizeof(es), OF_ERR_NOT_FOUND,
                            "%s %s not found%s (or the API key has no access to it)", op->noun,
                            op->name, hint);
        errstr = es;
    } else if (!err) {
        err = decode_into(&op->k, op->found, op->kind, es, sizeof(es));
        errstr = es;
    }
    octo_call_complete(&op->k, err, err ? errstr : "");
    find_free(op);
}

static of_err find_item(octo_pager *p, json_t *item, bool *stop, char *es, size_t n)
{
    (void)es;
    (void)n;
    find_op *op = p->ctx;
    const char *name = octo_item_name(item);
    if (!name) return OF_OK;
    /* Every exact name we see is worth remembering: look-alikes get asked next. */
    octo_cache_put(p->c, op->noun, op->scope, name, item);
    if (strcmp(name, op->name) == 0) {
        op->found = json_incref(item);
        *stop = true;
    } else if (!op->ci_name && strcasecmp(name, op->name) == 0) {
        op->ci_name = strdup(name);
    }
    return OF_OK;
}

static void find_pager_done(octo_pager *p, of_err err, const char *errstr)
{
    find_finish(p->ctx, err, errstr);
}

static void find_cached_done(void *ctx, const octo_resp *r)
{
    find_finish(ctx, r->err, r->errstr);
}

/* collection: "projects"; space_id NULL: the top-level /api/spaces. */
static of_err find_named(of_octo *c, const char *space_id, const char *collection, const char *noun,
                         const char *kind, const char *name, octo_call k, char *es, size_t n)
{
    if (!octo_nonempty(name)) return of_seterr(es, n, OF_ERR_INVALID, "%s name is empty", noun);
    find_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    op->k = k;
    op->noun = noun;
    op->kind = kind;
    op->scope = strdup(space_id ? space_id : "");
    op->scope_label = strdup(space_id ? octo_space_label(c, space_id) : "");
    op->name = strdup(name);
    if (!op->scope || !op->scope_label || !op->name) {
        find_free(op);
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    }
    op->found = octo_cache_get(c, noun, op->scope, name);
    if (op->found) {
        c->stats.cache_hits++;
        of_err rc = octo_defer(c, OF_OK, "", find_cached_done, op);
        if (rc) {
            find_free(op);
            return of_seterr(es, n, rc, "%s", of_strerror(rc));
        }
        return OF_OK;
    }
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, space_id, NULL);
    if (!rc) rc = octo_url_seg(&u, collection);
    if (!rc) rc = octo_url_query(&u, "partialName", name);
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        find_free(op);
        return octo_url_error(es, n);
    }
    rc = octo_pager_start(&op->p, c, url, kind, space_id ? octo_space_label(c, space_id) : NULL,
                          find_item, find_pager_done, op, es, n);
    if (rc) find_free(op);
    return rc;
}

/* find_named in space_id, else the connected default space. */
static of_err find_in_space(of_octo *c, const char *space_id, const char *collection,
                            const char *noun, const char *kind, const char *name, octo_call k,
                            char *es, size_t n)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, es, n);
    if (rc) return rc;
    return find_named(c, sp, collection, noun, kind, name, k, es, n);
}

/* ---- public: root, space, connect ----------------------------------------- */

static of_err get_root_async(of_octo *c, of_octo_root_cb cb, void *opaque, char *errstr,
                             size_t errstr_size)
{
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, NULL, "/");
    char *url = octo_url_detach(&u, rc);
    octo_call k = {.c = c, .type = CT_ROOT, .cb.root = cb, .opaque = opaque};
    return octo_single(c, OCTO_GET, url, true, "the Octopus API root", NULL, k, errstr,
                       errstr_size);
}

static of_err find_space_async(of_octo *c, const char *name_or_id, of_octo_space_cb cb,
                               void *opaque, char *errstr, size_t errstr_size)
{
    octo_call k = {.c = c, .type = CT_SPACE, .cb.space = cb, .opaque = opaque};
    if (!octo_nonempty(name_or_id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "space name is empty");
    if (!is_space_id(name_or_id))
        return find_named(c, NULL, "spaces", "space", "Space", name_or_id, k, errstr, errstr_size);
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, NULL, "/spaces");
    if (!rc) rc = octo_url_seg(&u, name_or_id);
    char *url = octo_url_detach(&u, rc);
    char what[200];
    snprintf(what, sizeof(what), "space %s", name_or_id);
    return octo_single(c, OCTO_GET, url, true, what, name_or_id, k, errstr, errstr_size);
}

/* ---- the hold's probe ------------------------------------------------- */

typedef struct probe_op {
    of_octo_probe_cb cb;
    void *opaque;
} probe_op;

static void probe_done(void *ctx, const octo_resp *r)
{
    probe_op *op = ctx;
    op->cb(op->opaque, r->err, r->errstr);
    free(op);
}

of_err of_octo_probe_async(of_octo *c, of_octo_probe_cb cb, void *opaque, char *errstr,
                           size_t errstr_size)
{
    probe_op *op = calloc(1, sizeof *op);
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->cb = cb;
    op->opaque = opaque;
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, NULL, "/");
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        free(op);
        return octo_url_error(errstr, errstr_size);
    }
    int64_t span = c->opt.request_timeout_ms < 5000 ? c->opt.request_timeout_ms : 5000;
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, "the hold's probe (the Octopus API root)",
                          NULL, of_now_ms() + span, probe_done, op, errstr, errstr_size);
    if (rc) free(op);
    return rc;
}

/* ---- blocking calls --------------------------------------------------- */

void octo_sync_begin(octo_sync *s, void *out, size_t out_size)
{
    memset(out, 0, out_size);
    s->done = false;
    s->err = OF_OK;
    s->errstr[0] = '\0';
    s->out = out;
    s->out_size = out_size;
}

void octo_sync_store(void *opaque, of_err err, const char *errstr, void *res)
{
    octo_sync *s = opaque;
    s->err = err;
    snprintf(s->errstr, sizeof(s->errstr), "%s", errstr ? errstr : "");
    if (!err && res) {
        memcpy(s->out, res, s->out_size);
        memset(res, 0, s->out_size); /* moved out: the client frees nothing of it */
    }
    s->done = true;
}

of_err octo_sync_wait(of_octo *c, octo_sync *s, char *errstr, size_t errstr_size)
{
    while (!s->done) {
        /* A poll error has already failed the requests on the wire with that error, ours
         * among them if it was there, so its callback reports it; a call still queued or
         * waiting to retry goes on. Either way s->done is what ends the wait: returning
         * earlier would leave the callback writing into a dead stack frame. */
        of_err rc = of_octo_poll(c, 1000);
        if (rc && !s->done)
            of_debug("octopus poll failed while waiting for a call: %s", of_strerror(rc));
    }
    if (s->err) return of_seterr(errstr, errstr_size, s->err, "%s", s->errstr);
    return OF_OK;
}

of_err octo_sync_finish(of_octo *c, octo_sync *s, of_err started, char *errstr, size_t errstr_size)
{
    if (started) return started; /* nothing was queued: no callback will run */
    return octo_sync_wait(c, s, errstr, errstr_size);
}

/* The callback of each blocking call, one per result type. */
OCTO_SYNC_CB(sync_root, of_octo_root)

OCTO_SYNC_CB(sync_space, of_octo_space)

OCTO_SYNC_CB(sync_project, of_octo_project)

OCTO_SYNC_CB(sync_ref, of_octo_ref)

OCTO_SYNC_CB(sync_tenant, of_octo_tenant)

OCTO_SYNC_CB(sync_tenants, of_octo_tenant_list)

OCTO_SYNC_CB(sync_release, of_octo_release)

OCTO_SYNC_CB(sync_template, of_octo_template)

static of_err get_root(of_octo *c, of_octo_root *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = get_root_async(c, sync_root, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

of_err of_octo_find_space(of_octo *c, const char *name_or_id, of_octo_space *out, char *errstr,
                          size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = find_space_async(c, name_or_id, sync_space, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

of_err of_octo_connect(of_octo *c, char *errstr, size_t errstr_size)
{
    of_octo_root root;
    char es[1024];
    of_err rc = get_root(c, &root, es, sizeof(es));
    if (rc) return of_seterr(errstr, errstr_size, rc, "connecting to Octopus: %s", es);
    bool spaces = root.has_spaces;
    char version[64];
    snprintf(version, sizeof(version), "%s", root.version ? root.version : "unknown");
    of_octo_root_clear(&root);
    if (!spaces)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "connecting to Octopus: the server has no spaces (Octopus before "
                         "2019.1 is not supported)");
    of_octo_space sp;
    rc = of_octo_find_space(c, c->space_cfg, &sp, es, sizeof(es));
    if (rc) return of_seterr(errstr, errstr_size, rc, "connecting to Octopus: %s", es);
    free(c->space_id);
    free(c->space_name);
    c->space_id = sp.id;
    c->space_name = sp.name;
    sp.id = sp.name = NULL;
    of_octo_space_clear(&sp);
    char shown[512];
    of_info("octopus connected url=%s space=\"%s\" space_id=%s version=%s",
            of_secret_mask_url(c->base_url, shown, sizeof shown), c->space_name, c->space_id,
            version);
    return OF_OK;
}

/* ---- project, environment, tenant ----------------------------------------- */

static of_err find_project_async(of_octo *c, const char *space_id, const char *name,
                                 of_octo_project_cb cb, void *opaque, char *errstr,
                                 size_t errstr_size)
{
    octo_call k = {.c = c, .type = CT_PROJECT, .cb.project = cb, .opaque = opaque};
    return find_in_space(c, space_id, "projects", "project", "Project", name, k, errstr,
                         errstr_size);
}

of_err of_octo_find_project(of_octo *c, const char *space_id, const char *name,
                            of_octo_project *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = find_project_async(c, space_id, name, sync_project, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

static of_err find_environment_async(of_octo *c, const char *space_id, const char *name,
                                     of_octo_ref_cb cb, void *opaque, char *errstr,
                                     size_t errstr_size)
{
    octo_call k = {.c = c, .type = CT_REF, .cb.ref = cb, .opaque = opaque};
    return find_in_space(c, space_id, "environments", "environment", "Environment", name, k, errstr,
                         errstr_size);
}

of_err of_octo_find_environment(of_octo *c, const char *space_id, const char *name,
                                of_octo_environment *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = find_environment_async(c, space_id, name, sync_ref, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

static of_err find_tenant_async(of_octo *c, const char *space_id, const char *name,
                                of_octo_tenant_cb cb, void *opaque, char *errstr,
                                size_t errstr_size)
{
    octo_call k = {.c = c, .type = CT_TENANT, .cb.tenant = cb, .opaque = opaque};
    return find_in_space(c, space_id, "tenants", "tenant", "Tenant", name, k, errstr, errstr_size);
}

of_err of_octo_find_tenant(of_octo *c, const char *space_id, const char *name, of_octo_tenant *out,
                           char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = find_tenant_async(c, space_id, name, sync_tenant, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* ---- tenant lists ------------------------------------------------------ */

typedef struct tenants_op {
    octo_call k;
    octo_pager p;
    char *scope;
    char *project_id;
    char *environment_id;
    size_t cap;
    bool no_cache;
} tenants_op;

static void tenants_free(tenants_op *op)
{
    octo_pager_clear(&op->p);
    free(op->scope);
    free(op->project_id);
    free(op->environment_id);
    free(op);
}

static of_err tenants_item(octo_pager *p, json_t *item, bool *stop, char *es, size_t n)
{
    (void)stop;
    tenants_op *op = p->ctx;
    of_octo_tenant_list *l = &op->k.res.tenants;
    of_octo_tenant t;
    if (!l->strings && of_strpool_new(&l->strings) != OF_OK)
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    of_err rc = octo_decode_tenant_in(l->strings, item, &t, es, n);
    if (rc) return rc;
    if (!op->no_cache) octo_cache_put(p->c, "tenant", op->scope, t.name, item);
    if (op->project_id && op->environment_id &&
        !of_octo_tenant_connected(&t, op->project_id, op->environment_id)) {
        of_octo_tenant_clear(&t);
        return OF_OK;
    }
    if (l->n == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 64;
        of_octo_tenant *items = realloc(l->items, cap * sizeof(*items));
        if (!items) {
            of_octo_tenant_clear(&t);
            return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
        }
        l->items = items;
        op->cap = cap;
    }
    l->items[l->n++] = t;
    return OF_OK;
}

static void tenants_done(octo_pager *p, of_err err, const char *errstr)
{
    tenants_op *op = p->ctx;
    octo_call_complete(&op->k, err, errstr);
    tenants_free(op);
}

static of_err list_tenants_async(of_octo *c, const char *space_id, const of_octo_tenant_query *q,
                                 of_octo_tenant_list_cb cb, void *opaque, char *errstr,
                                 size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (q->environment_id && !q->project_id)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "list tenants: an environment filter needs a project");
    tenants_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_TENANTS, .cb.tenants = cb, .opaque = opaque};
    op->scope = strdup(sp);
    op->project_id = q->project_id ? strdup(q->project_id) : NULL;
    op->environment_id = q->environment_id ? strdup(q->environment_id) : NULL;
    op->no_cache = q->no_cache;
    if (!op->scope || (q->project_id && !op->project_id) ||
        (q->environment_id && !op->environment_id)) {
        tenants_free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/tenants");
    if (!rc && q->project_id) rc = octo_url_query(&u, "projectId", q->project_id);
    for (size_t i = 0; !rc && i < q->ntags; i++)
        rc = octo_url_query(&u, "tags", q->tags[i]);
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        tenants_free(op);
        return octo_url_error(errstr, errstr_size);
    }
    rc = octo_pager_start(&op->p, c, url, "Tenants", octo_space_label(c, sp), tenants_item,
                          tenants_done, op, errstr, errstr_size);
    if (rc) tenants_free(op);
    return rc;
}

of_err of_octo_list_tenants(of_octo *c, const char *space_id, const of_octo_tenant_query *q,
                            of_octo_tenant_list *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = list_tenants_async(c, space_id, q, sync_tenants, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* ---- releases and templates ------------------------------------------- */

typedef struct release_op {
    octo_call k;
    char *scope; /* cache scope: project id */
    char *version;
    json_t *cached;
} release_op;

static void release_free(release_op *op)
{
    free(op->scope);
    free(op->version);
    json_decref(op->cached);
    free(op);
}

static void release_done(void *ctx, const octo_resp *r)
{
    release_op *op = ctx;
    char es[OCTO_ES], msg[OCTO_ES + 200];
    of_err rc = r->err;
    json_t *j = op->cached ? json_incref(op->cached) : NULL;
    if (rc) {
        octo_call_complete(&op->k, rc, r->errstr);
        json_decref(j);
        release_free(op);
        return;
    }
    if (!j) rc = octo_parse_body(r->body, r->body_len, NULL, &j, es, sizeof(es));
    if (!rc) rc = octo_decode_release(j, &op->k.res.release, es, sizeof(es));
    if (!rc && !op->cached) octo_cache_put(op->k.c, "release", op->scope, op->version, j);
    json_decref(j);
    snprintf(msg, sizeof(msg), "%s: %s", r->label, es);
    octo_call_complete(&op->k, rc, rc ? msg : "");
    release_free(op);
}

static of_err find_release_async(of_octo *c, const char *space_id, const char *project_id,
                                 const char *project_name, const char *version,
                                 of_octo_release_cb cb, void *opaque, char *errstr,
                                 size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(project_id) || !octo_nonempty(version))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "find release: project id and version are required");
    release_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_RELEASE, .cb.release = cb, .opaque = opaque};
    size_t slen = strlen(sp) + strlen(project_id) + 2;
    op->scope = malloc(slen);
    if (op->scope) snprintf(op->scope, slen, "%s/%s", sp, project_id);
    op->version = strdup(version);
    if (!op->scope || !op->version) {
        release_free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->cached = octo_cache_get(c, "release", op->scope, version);
    if (op->cached) {
        c->stats.cache_hits++;
        rc = octo_defer(c, OF_OK, "", release_done, op);
        if (rc) {
            release_free(op);
            return of_seterr(errstr, errstr_size, rc, "%s", of_strerror(rc));
        }
        return OF_OK;
    }
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/projects");
    if (!rc) rc = octo_url_seg(&u, project_id);
    if (!rc) rc = octo_url_lit(&u, "/releases");
    if (!rc) rc = octo_url_seg(&u, version);
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        release_free(op);
        return octo_url_error(errstr, errstr_size);
    }
    char what[300];
    snprintf(what, sizeof(what), "release %s of project %s", version,
             project_name ? project_name : project_id);
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, what, octo_space_label(c, sp), 0,
                          release_done, op, errstr, errstr_size);
    if (rc) release_free(op);
    return rc;
}

of_err of_octo_find_release(of_octo *c, const char *space_id, const char *project_id,
                            const char *project_name, const char *version, of_octo_release *out,
                            char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = find_release_async(c, space_id, project_id, project_name, version, sync_release, &s,
                                   errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

static of_err get_template_async(of_octo *c, const char *space_id, const char *release_id,
                                 of_octo_template_cb cb, void *opaque, char *errstr,
                                 size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(release_id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "release id is empty");
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/releases");
    if (!rc) rc = octo_url_seg(&u, release_id);
    if (!rc) rc = octo_url_lit(&u, "/deployments/template");
    char *url = octo_url_detach(&u, rc);
    char what[200];
    snprintf(what, sizeof(what), "deployment template of release %s", release_id);
    octo_call k = {.c = c, .type = CT_TEMPLATE, .cb.tpl = cb, .opaque = opaque};
    return octo_single(c, OCTO_GET, url, true, what, octo_space_label(c, sp), k, errstr,
                       errstr_size);
}

of_err of_octo_get_template(of_octo *c, const char *space_id, const char *release_id,
                            of_octo_template *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = get_template_async(c, space_id, release_id, sync_template, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}
