/* Deployments and tasks: list, find by job id, latest success, create (with
 * the look-before-repeating rule for ambiguous failures), read tasks in
 * chunks, cancel. Built on the call layer in octopus_calls.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "octopus_internal.h"

#define MAX_REPOSTS 5 /* create: lookups + re-POSTs after ambiguous failures */

/* The callbacks of the blocking calls, one per result type (octo_sync_store). */
OCTO_SYNC_CB(sync_deployment, of_octo_deployment)

OCTO_SYNC_CB(sync_deployments, of_octo_deployment_list)

OCTO_SYNC_CB(sync_task, of_octo_task)

OCTO_SYNC_CB(sync_tasks, of_octo_task_list)

/* ---- deployments ------------------------------------------------------- */

/* .../deployments?projects=&environments=&tenants=&taskState= (no paging). */
static char *deployments_url(of_octo *c, const char *sp, const of_octo_deploy_query *q)
{
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, sp, "/deployments");
    if (!rc && q->project_id) rc = octo_url_query(&u, "projects", q->project_id);
    if (!rc && q->environment_id) rc = octo_url_query(&u, "environments", q->environment_id);
    if (!rc && q->tenant_id) rc = octo_url_query(&u, "tenants", q->tenant_id);
    if (!rc && q->task_state) rc = octo_url_query(&u, "taskState", q->task_state);
    return octo_url_detach(&u, rc);
}

typedef struct deps_op {
    octo_call k;
    bool latest; /* latest_success: one item into res.dep, none = NOT_FOUND */
    char *what;
} deps_op;

static void deps_done(void *ctx, const octo_resp *r)
{
    deps_op *op = ctx;
    char es[OCTO_ES], msg[OCTO_ES + 200];
    json_t *j = NULL, *items = NULL;
    size_t total = 0;
    of_err rc = r->err;
    if (rc) {
        octo_call_complete(&op->k, rc, r->errstr);
        free(op->what);
        free(op);
        return;
    }
    rc = octo_parse_body(r->body, r->body_len, octo_keep_deployment_page, &j, es, sizeof(es));
    if (!rc) rc = octo_decode_page(j, "Deployments", &items, &total, es, sizeof(es));
    if (!rc && op->latest) {
        if (json_array_size(items) == 0) {
            json_decref(j);
            octo_call_complete(&op->k, OF_ERR_NOT_FOUND, op->what);
            free(op->what);
            free(op);
            return;
        }
        rc = octo_decode_deployment(json_array_get(items, 0), &op->k.res.dep, es, sizeof(es));
    } else if (!rc) {
        of_octo_deployment_list *l = &op->k.res.deps;
        size_t n = json_array_size(items);
        l->total = total == SIZE_MAX ? n : total;
        l->items = n ? calloc(n, sizeof(*l->items)) : NULL;
        if (n && !l->items) rc = of_seterr(es, sizeof(es), OF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !rc && i < n; i++) {
            rc = octo_decode_deployment(json_array_get(items, i), &l->items[i], es, sizeof(es));
            if (!rc) l->n = i + 1;
        }
    }
    json_decref(j);
    snprintf(msg, sizeof(msg), "%s: %s", r->label, es);
    octo_call_complete(&op->k, rc, rc ? msg : "");
    free(op->what);
    free(op);
}

static of_err deps_submit(of_octo *c, const char *sp, const of_octo_deploy_query *q, size_t skip,
                          size_t take, deps_op *op, char *errstr, size_t errstr_size)
{
    of_buf u;
    of_buf_init(&u, OCTO_URL_MAX);
    char *base = deployments_url(c, sp, q);
    of_err rc = base ? of_buf_puts(&u, base) : OF_ERR_NOMEM;
    free(base);
    if (!rc) rc = octo_url_query_size(&u, "skip", skip);
    if (!rc) rc = octo_url_query_size(&u, "take", take);
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        free(op->what);
        free(op);
        return octo_url_error(errstr, errstr_size);
    }
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, NULL, octo_space_label(c, sp), 0, deps_done,
                          op, errstr, errstr_size);
    if (rc) {
        free(op->what);
        free(op);
    }
    return rc;
}

static of_err list_deployments_async(of_octo *c, const char *space_id,
                                     const of_octo_deploy_query *q, of_octo_deployment_list_cb cb,
                                     void *opaque, char *errstr, size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    deps_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_DEPLOYMENTS, .cb.deps = cb, .opaque = opaque};
    return deps_submit(c, sp, q, q->skip, q->take ? q->take : (size_t)c->opt.page_size, op, errstr,
                       errstr_size);
}

of_err of_octo_list_deployments(of_octo *c, const char *space_id, const of_octo_deploy_query *q,
                                of_octo_deployment_list *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = list_deployments_async(c, space_id, q, sync_deployments, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

of_err of_octo_latest_success_async(of_octo *c, const char *space_id, const char *project_id,
                                    const char *environment_id, const char *tenant_id,
                                    of_octo_deployment_cb cb, void *opaque, char *errstr,
                                    size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(project_id) || !octo_nonempty(environment_id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "latest deployment: project and environment are required");
    deps_op *op = calloc(1, sizeof(*op));
    char what[300];
    snprintf(what, sizeof(what), "no successful deployment of %s to %s%s%s", project_id,
             environment_id, tenant_id ? " for " : " (untenanted)", tenant_id ? tenant_id : "");
    if (op) op->what = strdup(what);
    if (!op || !op->what) {
        free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->k = (octo_call){.c = c, .type = CT_DEPLOYMENT, .cb.dep = cb, .opaque = opaque};
    op->latest = true;
    of_octo_deploy_query q = {project_id, environment_id, tenant_id, "Success", 0, 1, 0};
    return deps_submit(c, sp, &q, 0, 1, op, errstr, errstr_size);
}

of_err of_octo_latest_success(of_octo *c, const char *space_id, const char *project_id,
                              const char *environment_id, const char *tenant_id,
                              of_octo_deployment *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_latest_success_async(c, space_id, project_id, environment_id, tenant_id,
                                             sync_deployment, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* Find by job id: page through deployments for Comments containing it. */
typedef struct byjob_op {
    octo_call k;
    octo_pager p;
    char *release_id;
    char *job_id;
    int64_t since_ms; /* of_octo_deploy_query.created_since_ms */
    bool found;
    /* set when this lookup serves a create: completion goes there */
    void (*then)(struct byjob_op *op, of_err err, const char *errstr);
    void *owner;
} byjob_op;

static void byjob_free(byjob_op *op)
{
    octo_pager_clear(&op->p);
    free(op->release_id);
    free(op->job_id);
    free(op);
}

/* The adoption rules, shared by the single and the batched look-up. A deployment listed
 * (newest first) Created before since_ms ends the search: everything further is older still. */
static bool created_before(json_t *item, int64_t since_ms)
{
    const char *created = json_string_value(json_object_get(item, "Created"));
    int64_t created_ms;
    return since_ms && created && of_parse_rfc3339(created, &created_ms) == 0 &&
           created_ms < since_ms;
}

/* Whether the deployment is the one a job attempt created: its Comments carry the job's key
 * (NULL: any, for the latest successes), and it is of the job's release and tenant where those
 * are given. */
static bool job_deployment(json_t *item, const char *key, const char *release_id,
                           const char *tenant_id)
{
    const char *comments = json_string_value(json_object_get(item, "Comments"));
    const char *rel = json_string_value(json_object_get(item, "ReleaseId"));
    const char *ten = json_string_value(json_object_get(item, "TenantId"));
    if (key && (!comments || !strstr(comments, key))) return false;
    if (release_id && (!rel || strcmp(rel, release_id) != 0)) return false;
    return !tenant_id || (ten && strcmp(ten, tenant_id) == 0);
}

static of_err byjob_item(octo_pager *p, json_t *item, bool *stop, char *es, size_t n)
{
    byjob_op *op = p->ctx;
    if (created_before(item, op->since_ms)) {
        *stop = true;
        return OF_OK;
    }
    /* the listing is filtered by the tenant already (tenants=) */
    if (!job_deployment(item, op->job_id, op->release_id, NULL)) return OF_OK;
    of_err rc = octo_decode_deployment(item, &op->k.res.dep, es, n);
    if (rc) return rc;
    op->found = true;
    *stop = true; /* newest first: the first match is the one */
    return OF_OK;
}

static void byjob_done(octo_pager *p, of_err err, const char *errstr)
{
    byjob_op *op = p->ctx;
    char es[OCTO_ES];
    if (!err && !op->found) {
        err = of_seterr(es, sizeof(es), OF_ERR_NOT_FOUND, "no deployment with job %s found",
                        op->job_id);
        errstr = es;
    }
    if (op->then) {
        op->then(op, err, errstr);
        return;
    }
    octo_call_complete(&op->k, err, errstr);
    byjob_free(op);
}

static of_err byjob_start(of_octo *c, const char *sp, const of_octo_deploy_query *q,
                          const char *release_id, const char *job_id, byjob_op *op,
                          int64_t deadline, char *errstr, size_t errstr_size)
{
    op->release_id = release_id ? strdup(release_id) : NULL;
    op->job_id = strdup(job_id);
    op->since_ms = q->created_since_ms;
    op->p.deadline = deadline;
    /* newest first: a deployment younger than since is among the first few, or absent */
    if (op->since_ms) op->p.first_take = OCTO_LOOKUP_FIRST_TAKE;
    char *url = deployments_url(c, sp, q);
    if (!op->job_id || (release_id && !op->release_id) || !url) {
        free(url);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->p.keep = octo_keep_deployment_page;
    return octo_pager_start(&op->p, c, url, "Deployments", octo_space_label(c, sp), byjob_item,
                            byjob_done, op, errstr, errstr_size);
}

of_err of_octo_find_deployment_by_job_async(of_octo *c, const char *space_id,
                                            const of_octo_deploy_query *q, const char *release_id,
                                            const char *job_id, of_octo_deployment_cb cb,
                                            void *opaque, char *errstr, size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(job_id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "find deployment: job id is empty");
    byjob_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_DEPLOYMENT, .cb.dep = cb, .opaque = opaque};
    rc = byjob_start(c, sp, q, release_id, job_id, op, 0, errstr, errstr_size);
    if (rc) byjob_free(op);
    return rc;
}

static char *dup_opt(const char *s, bool *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

/* ---- batched adoption look-up ------------------------------------------
 * One listing of a (project, environment)'s deployments for many jobs: each deployment read is
 * tried against every job still open, with the single look-up's rules. */

typedef struct jobs_op {
    octo_call k; /* CT_DEPLOYMENTS: res.deps.items[i] answers job i */
    octo_pager p;
    size_t n;
    char **tenant, **release, **key; /* per job; tenant/release may be NULL */
    int64_t *since;
    bool *done; /* found, or the listing went past its since */
    size_t open;
    bool success; /* the latest successes: an untenanted target matches untenanted ones only */
} jobs_op;

static void jobs_free(jobs_op *op)
{
    octo_pager_clear(&op->p);
    for (size_t i = 0; i < op->n; i++) {
        free(op->tenant[i]);
        free(op->release[i]);
        free(op->key[i]);
    }
    free(op->tenant);
    free(op->release);
    free(op->key);
    free(op->since);
    free(op->done);
    free(op);
}

static of_err jobs_item(octo_pager *p, json_t *item, bool *stop, char *es, size_t n)
{
    jobs_op *op = p->ctx;
    for (size_t i = 0; i < op->n; i++) {
        if (op->done[i]) continue;
        if (created_before(item, op->since[i])) {
            op->done[i] = true; /* as the single look-up: nothing older can match */
            op->open--;
            continue;
        }
        if (!job_deployment(item, op->key[i], op->release[i], op->tenant[i])) continue;
        if (op->success && !op->tenant[i] && json_string_value(json_object_get(item, "TenantId")))
            continue;
        of_err rc = octo_decode_deployment(item, &op->k.res.deps.items[i], es, n);
        if (rc) return rc;
        op->done[i] = true; /* newest first: the first match is the one */
        op->open--;
    }
    *stop = op->open == 0;
    return OF_OK;
}

static void jobs_done(octo_pager *p, of_err err, const char *errstr)
{
    jobs_op *op = p->ctx;
    octo_call_complete(&op->k, err, errstr);
    jobs_free(op);
}

/* .../deployments?projects=P&environments=E[&tenants=T1,T2,...] with each tenant once; NULL
 * tenants (an untenanted job among them) = no tenant filter. */
static char *jobs_url(of_octo *c, const char *sp, const char *project_id,
                      const char *environment_id, char **tenants, size_t n, bool success)
{
    const char **list = calloc(n ? n : 1, sizeof(*list));
    size_t k = 0;
    bool any_untenanted = false;
    for (size_t i = 0; list && i < n; i++) {
        if (!tenants[i]) any_untenanted = true;
        size_t d = 0;
        while (tenants[i] && d < k && strcmp(list[d], tenants[i]) != 0)
            d++;
        if (tenants[i] && d == k) list[k++] = tenants[i];
    }
    of_buf u;
    of_err rc = list ? octo_url_begin(&u, c->base_url, sp, "/deployments") : OF_ERR_NOMEM;
    if (!list) of_buf_init(&u, 0);
    if (!rc) rc = octo_url_query(&u, "projects", project_id);
    if (!rc) rc = octo_url_query(&u, "environments", environment_id);
    if (!rc && !any_untenanted && k) rc = octo_url_query_list(&u, "tenants", list, k);
    if (!rc && success) rc = octo_url_query(&u, "taskState", "Success");
    free(list);
    return octo_url_detach(&u, rc);
}

/* Starts one batched listing: the adoption look-up (success false: each job matches by its
 * key) or the latest successes (success true: taskState=Success, each job matches the newest
 * deployment of its tenant, whatever its Comments). */
static of_err jobs_start(of_octo *c, const char *space_id, const char *project_id,
                         const char *environment_id, const of_octo_job_lookup *jobs, size_t njobs,
                         bool success, of_octo_deployment_list_cb cb, void *opaque, char *errstr,
                         size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(project_id) || !octo_nonempty(environment_id) || njobs == 0 ||
        njobs > OF_OCTO_MAX_LOOKUP_JOBS)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "find deployments by jobs: a project, an environment and 1..%d jobs "
                         "are required",
                         OF_OCTO_MAX_LOOKUP_JOBS);
    for (size_t i = 0; i < njobs; i++)
        if ((!success && !octo_nonempty(jobs[i].job_key)) ||
            (jobs[i].tenant_id && strchr(jobs[i].tenant_id, ',')))
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "find deployments by jobs: job %zu has no key or a tenant id with ','",
                             i);
    jobs_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_DEPLOYMENTS, .cb.deps = cb, .opaque = opaque};
    op->tenant = calloc(njobs, sizeof(*op->tenant));
    op->release = calloc(njobs, sizeof(*op->release));
    op->key = calloc(njobs, sizeof(*op->key));
    op->since = calloc(njobs, sizeof(*op->since));
    op->done = calloc(njobs, sizeof(*op->done));
    op->k.res.deps.items = calloc(njobs, sizeof(*op->k.res.deps.items));
    bool oom =
        !op->tenant || !op->release || !op->key || !op->since || !op->done || !op->k.res.deps.items;
    for (size_t i = 0; !oom && i < njobs; i++, op->n++) {
        op->tenant[i] = dup_opt(jobs[i].tenant_id, &oom);
        op->release[i] = dup_opt(jobs[i].release_id, &oom);
        op->key[i] = success ? NULL : dup_opt(jobs[i].job_key, &oom);
        op->since[i] = jobs[i].created_since_ms;
    }
    op->k.res.deps.n = njobs;
    op->open = njobs;
    /* Newest first, and each job's deployment is younger than its since: with every since
     * known, a first delivery (nothing of ours yet, the usual case) is answered by the first
     * item older than every since, so the first page is as small as the single look-up's; a
     * redelivered batch whose deployments exist reads on in full pages. (A first page of
     * 2 x jobs + 2 read and parsed a whole tenant's history per job for nothing.) */
    bool all_since = true;
    for (size_t i = 0; i < njobs; i++)
        if (!op->since[i]) all_since = false;
    if (all_since) op->p.first_take = OCTO_LOOKUP_FIRST_TAKE;
    op->success = success;
    char *url =
        oom ? NULL : jobs_url(c, sp, project_id, environment_id, op->tenant, njobs, success);
    if (!url) {
        of_octo_deployment_list_clear(&op->k.res.deps);
        jobs_free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->p.keep = octo_keep_deployment_page;
    rc = octo_pager_start(&op->p, c, url, "Deployments", octo_space_label(c, sp), jobs_item,
                          jobs_done, op, errstr, errstr_size);
    if (rc) {
        of_octo_deployment_list_clear(&op->k.res.deps);
        jobs_free(op);
    }
    return rc;
}

of_err of_octo_find_deployments_by_jobs_async(of_octo *c, const char *space_id,
                                              const char *project_id, const char *environment_id,
                                              const of_octo_job_lookup *jobs, size_t njobs,
                                              of_octo_deployment_list_cb cb, void *opaque,
                                              char *errstr, size_t errstr_size)
{
    return jobs_start(c, space_id, project_id, environment_id, jobs, njobs, false, cb, opaque,
                      errstr, errstr_size);
}

of_err of_octo_latest_successes_async(of_octo *c, const char *space_id, const char *project_id,
                                      const char *environment_id, const char *const *tenant_ids,
                                      size_t n, of_octo_deployment_list_cb cb, void *opaque,
                                      char *errstr, size_t errstr_size)
{
    of_octo_job_lookup *jobs = calloc(n ? n : 1, sizeof(*jobs));
    if (!jobs) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        jobs[i].tenant_id = tenant_ids[i];
    of_err rc = jobs_start(c, space_id, project_id, environment_id, jobs, n, true, cb, opaque,
                           errstr, errstr_size);
    free(jobs);
    return rc;
}

of_err of_octo_find_deployments_by_jobs(of_octo *c, const char *space_id, const char *project_id,
                                        const char *environment_id, const of_octo_job_lookup *jobs,
                                        size_t njobs, of_octo_deployment_list *out, char *errstr,
                                        size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc =
        of_octo_find_deployments_by_jobs_async(c, space_id, project_id, environment_id, jobs, njobs,
                                               sync_deployments, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* ---- the event feed ------------------------------------------------------ */

typedef struct events_op {
    octo_call k; /* CT_EVENTS */
    octo_pager p;
    int64_t from;
    size_t cap;
    bool pinned; /* toAutoId added to the URL */
} events_op;

static void events_free(events_op *op)
{
    octo_pager_clear(&op->p);
    free(op);
}

/* After the newest event of the first page, later pages are read with toAutoId=<its AutoId>:
 * events that arrive meanwhile would otherwise push the range down under skip. */
static of_err events_pin(events_op *op, int64_t auto_id)
{
    op->pinned = true;
    of_buf u;
    of_buf_init(&u, OCTO_URL_MAX);
    of_err rc = of_buf_puts(&u, op->p.url);
    if (!rc) rc = octo_url_query_size(&u, "toAutoId", (size_t)auto_id);
    char *url = octo_url_detach(&u, rc);
    if (!url) return OF_ERR_NOMEM;
    free(op->p.url);
    op->p.url = url;
    return OF_OK;
}

static of_err events_item(octo_pager *p, json_t *item, bool *stop, char *es, size_t n)
{
    (void)stop;
    events_op *op = p->ctx;
    of_octo_event_list *l = &op->k.res.events;
    of_octo_event e;
    char why[OCTO_ES];
    if (octo_decode_event(item, &e, why, sizeof(why))) {
        /* A hint we cannot read: skipped, counted; its AutoId still counts if it has one. */
        json_t *a = json_object_get(item, "AutoId");
        if (json_is_integer(a) && json_integer_value(a) > l->newest_auto_id)
            l->newest_auto_id = (int64_t)json_integer_value(a);
        if (!l->unreadable++) {
            char *dump = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
            char prefix[OCTO_ES + 32], quoted[700];
            snprintf(prefix, sizeof(prefix), "%s; the server sent: ", why);
            octo_quote(prefix, dump ? dump : "", dump ? strlen(dump) : 0, quoted, sizeof(quoted));
            free(dump);
            l->problem = strdup(quoted);
        }
        return OF_OK;
    }
    if (!op->pinned && p->pages == 0 && e.auto_id > 0 && events_pin(op, e.auto_id)) {
        of_octo_event_clear(&e);
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    }
    if (e.auto_id > l->newest_auto_id) l->newest_auto_id = e.auto_id;
    if (e.auto_id >= 0 && e.auto_id <= op->from) { /* fromAutoId may be inclusive: seen */
        of_octo_event_clear(&e);
        return OF_OK;
    }
    if (of_grow((void **)&l->items, &op->cap, l->n, sizeof(*l->items))) {
        of_octo_event_clear(&e);
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    }
    l->items[l->n++] = e;
    return OF_OK;
}

static void events_done(octo_pager *p, of_err err, const char *errstr)
{
    events_op *op = p->ctx;
    op->k.res.events.truncated = p->truncated;
    octo_call_complete(&op->k, err, errstr);
    events_free(op);
}

of_err of_octo_list_events_async(of_octo *c, const char *space_id, const of_octo_event_query *q,
                                 of_octo_event_list_cb cb, void *opaque, char *errstr,
                                 size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (q->from_auto_id < 0 || q->max_pages < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "list events: from_auto_id and max_pages must not be negative");
    for (size_t i = 0; i < q->ncategories; i++)
        if (!octo_nonempty(q->categories[i]) || strchr(q->categories[i], ','))
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "list events: category %zu is empty or contains ','", i);
    for (size_t i = 0; i < q->nregarding_any; i++)
        if (!octo_nonempty(q->regarding_any[i]) || strchr(q->regarding_any[i], ','))
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "list events: regardingAny id %zu is empty or contains ','", i);
    events_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_EVENTS, .cb.events = cb, .opaque = opaque};
    op->from = q->from_auto_id;
    op->k.res.events.newest_auto_id = q->from_auto_id;
    int pages = q->max_pages ? q->max_pages : OF_OCTO_DEFAULT_EVENT_PAGES;
    op->p.page_cap = pages < c->opt.max_pages ? pages : c->opt.max_pages;
    op->p.take = q->take ? q->take : (size_t)c->opt.page_size;
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/events");
    if (!rc && q->ncategories)
        rc = octo_url_query_list(&u, "eventCategories", q->categories, q->ncategories);
    if (!rc && q->from_auto_id > 0)
        rc = octo_url_query_size(&u, "fromAutoId", (size_t)q->from_auto_id);
    if (!rc && q->nregarding_any)
        rc = octo_url_query_list(&u, "regardingAny", q->regarding_any, q->nregarding_any);
    char *url = octo_url_detach(&u, rc);
    if (!url) {
        events_free(op);
        return octo_url_error(errstr, errstr_size);
    }
    op->p.keep = octo_keep_event_page;
    rc = octo_pager_start(&op->p, c, url, "Events", octo_space_label(c, sp), events_item,
                          events_done, op, errstr, errstr_size);
    if (rc) {
        of_octo_event_list_clear(&op->k.res.events);
        events_free(op);
    }
    return rc;
}

OCTO_SYNC_CB(sync_events, of_octo_event_list)

of_err of_octo_list_events(of_octo *c, const char *space_id, const of_octo_event_query *q,
                           of_octo_event_list *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_list_events_async(c, space_id, q, sync_events, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* ---- create deployment ------------------------------------------------- */

typedef struct create_op {
    octo_call k;
    char *space;
    char *url;
    char *body;
    char *what;
    of_octo_deploy_query q; /* for the dedupe lookup; strings below */
    char *project_id, *environment_id, *tenant_id, *release_id, *dedupe_key;
    int64_t deadline;
    int rounds;
    char last[600];  /* the ambiguous failure that started a lookup */
    bool unreadable; /* a 2xx whose reply could not be read: look it up, never POST again */
} create_op;

static void create_free(create_op *op)
{
    free(op->space);
    free(op->url);
    free(op->body);
    free(op->what);
    free(op->project_id);
    free(op->environment_id);
    free(op->tenant_id);
    free(op->release_id);
    free(op->dedupe_key);
    free(op);
}

static void create_post_done(void *ctx, const octo_resp *r);

static of_err create_post(create_op *op, char *es, size_t n)
{
    char *url = strdup(op->url), *body = strdup(op->body);
    if (!url || !body) {
        free(url);
        free(body);
        return of_seterr(es, n, OF_ERR_NOMEM, "out of memory");
    }
    return octo_call_submit(op->k.c, OCTO_POST, url, body, false, op->what, op->space, op->deadline,
                            create_post_done, op, es, n);
}

static void create_lookup_done(byjob_op *look, of_err err, const char *errstr)
{
    create_op *op = look->owner;
    char es[OCTO_ES + 700];
    if (!err) {
        /* It was created after all: adopt it. */
        op->k.res.dep = look->k.res.dep;
        memset(&look->k.res.dep, 0, sizeof(look->k.res.dep));
        op->k.res.dep.adopted = true;
        byjob_free(look);
        of_info("octopus adopted deployment id=%s job=%s after: %s", op->k.res.dep.id,
                op->dedupe_key, op->last);
        octo_call_complete(&op->k, OF_OK, "");
        create_free(op);
        return;
    }
    byjob_free(look);
    if (err == OF_ERR_NOT_FOUND && op->unreadable) {
        /* The server said it created it; not finding it is no licence to create another. */
        snprintf(es, sizeof(es), "%s; and no deployment's comments carry \"%s\"", op->last,
                 op->dedupe_key);
        octo_call_complete(&op->k, OF_ERR_PROTOCOL, es);
        create_free(op);
        return;
    }
    if (err != OF_ERR_NOT_FOUND) {
        snprintf(es, sizeof(es), "%s; looking it up by job %s then failed: %s", op->last,
                 op->dedupe_key, errstr);
        octo_call_complete(&op->k, err, es);
        create_free(op);
        return;
    }
    if (of_now_ms() >= op->deadline || op->rounds >= MAX_REPOSTS) {
        snprintf(es, sizeof(es), "%s: gave up after %d tries; last error: %s", op->what, op->rounds,
                 op->last);
        octo_call_complete(&op->k, OF_ERR_TIMEOUT, es);
        create_free(op);
        return;
    }
    of_info("octopus repeating create job=%s: not created by the failed attempt (%s)",
            op->dedupe_key, op->last);
    err = create_post(op, es, sizeof(es));
    if (err) {
        octo_call_complete(&op->k, err, es);
        create_free(op);
    }
}

static void create_post_done(void *ctx, const octo_resp *r)
{
    create_op *op = ctx;
    char es[OCTO_ES];
    op->rounds++;
    /* Lookups and repeats share the first POST's deadline. */
    if (!op->deadline) op->deadline = r->deadline ? r->deadline : of_now_ms();
    if (!r->err) {
        json_t *j = NULL;
        of_err rc = octo_parse_body(r->body, r->body_len, octo_keep_deployment, &j, es, sizeof(es));
        if (!rc) rc = octo_decode_deployment(j, &op->k.res.dep, es, sizeof(es));
        json_decref(j);
        char msg[OCTO_ES + 200];
        snprintf(msg, sizeof(msg), "%s: %s", r->label, es);
        if (!rc || !op->dedupe_key) {
            octo_call_complete(&op->k, rc, rc ? msg : "");
            create_free(op);
            return;
        }
        /* Created (2xx) but unreadable: find it by its job and follow it, as after a lost
         * reply; the job would otherwise fail while its deployment runs. */
        of_octo_deployment_clear(&op->k.res.dep);
        memset(&op->k.res.dep, 0, sizeof(op->k.res.dep));
        op->unreadable = true;
        snprintf(op->last, sizeof(op->last), "%.*s", (int)sizeof(op->last) - 1, msg);
    } else if (!r->maybe_applied || !op->dedupe_key || r->err == OF_ERR_TIMEOUT) {
        octo_call_complete(&op->k, r->err, r->errstr);
        create_free(op);
        return;
    } else {
        /* Ambiguous: the deployment may exist. Look before creating again. */
        snprintf(op->last, sizeof(op->last), "%s", r->errstr);
    }
    byjob_op *look = calloc(1, sizeof(*look));
    of_err rc = look ? OF_OK : OF_ERR_NOMEM;
    if (look) {
        look->k = (octo_call){.c = op->k.c, .type = CT_DEPLOYMENT};
        look->then = create_lookup_done;
        look->owner = op;
        rc = byjob_start(op->k.c, op->space, &op->q, op->release_id, op->dedupe_key, look,
                         op->deadline, es, sizeof(es));
    }
    if (rc) {
        if (look) byjob_free(look);
        char msg[OCTO_ES + 700];
        snprintf(msg, sizeof(msg), "%s; could not look it up: %s", op->last,
                 look ? es : "out of memory");
        octo_call_complete(&op->k, rc, msg);
        create_free(op);
    }
}

of_err of_octo_create_deployment_async(of_octo *c, const char *space_id,
                                       const of_octo_deploy_req *req, of_octo_deployment_cb cb,
                                       void *opaque, char *errstr, size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    create_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_DEPLOYMENT, .cb.dep = cb, .opaque = opaque};
    rc = octo_encode_deploy(req, &op->body, errstr, errstr_size);
    if (rc) {
        create_free(op);
        return rc;
    }
    bool oom = false;
    op->space = dup_opt(octo_space_label(c, sp), &oom);
    op->project_id = dup_opt(req->project_id, &oom);
    op->environment_id = dup_opt(req->environment_id, &oom);
    op->tenant_id = dup_opt(req->tenant_id, &oom);
    op->release_id = dup_opt(req->release_id, &oom);
    op->dedupe_key = dup_opt(req->dedupe_key, &oom);
    /* a deployment this create made cannot be older than the create itself */
    op->q = (of_octo_deploy_query){op->project_id,
                                   op->environment_id,
                                   op->tenant_id,
                                   NULL,
                                   0,
                                   0,
                                   of_wall_ms() - OF_OCTO_CLOCK_SKEW_MS};
    char what[300];
    snprintf(what, sizeof(what), "deployment of %s to %s%s%s", req->release_id, req->environment_id,
             req->tenant_id ? " for " : "", req->tenant_id ? req->tenant_id : "");
    op->what = dup_opt(what, &oom);
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/deployments");
    op->url = octo_url_detach(&u, rc);
    if (oom || !op->url) {
        create_free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->deadline = 0; /* taken from the first POST once it has started */
    rc = create_post(op, errstr, errstr_size);
    if (rc) create_free(op);
    return rc;
}

of_err of_octo_create_deployment(of_octo *c, const char *space_id, const of_octo_deploy_req *req,
                                 of_octo_deployment *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc =
        of_octo_create_deployment_async(c, space_id, req, sync_deployment, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

/* ---- tasks ------------------------------------------------------------- */

static char *task_url(of_octo *c, const char *sp, const char *task_id, const char *suffix)
{
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, sp, "/tasks");
    if (!rc) rc = octo_url_seg(&u, task_id);
    if (!rc && suffix) rc = octo_url_lit(&u, suffix);
    return octo_url_detach(&u, rc);
}

/* GET the task, or POST its /cancel: one resource back either way. Cancelling twice is
 * harmless, so a lost reply may be retried too. */
static of_err task_call_async(of_octo *c, const char *space_id, const char *task_id, octo_method m,
                              const char *suffix, of_octo_task_cb cb, void *opaque, char *errstr,
                              size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(task_id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "task id is empty");
    char *url = task_url(c, sp, task_id, suffix);
    char what[200];
    snprintf(what, sizeof(what), "task %s", task_id);
    octo_call k = {.c = c, .type = CT_TASK, .cb.task = cb, .opaque = opaque};
    return octo_single(c, m, url, true, what, octo_space_label(c, sp), k, errstr, errstr_size);
}

of_err of_octo_get_task_async(of_octo *c, const char *space_id, const char *task_id,
                              of_octo_task_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    return task_call_async(c, space_id, task_id, OCTO_GET, NULL, cb, opaque, errstr, errstr_size);
}

of_err of_octo_cancel_task_async(of_octo *c, const char *space_id, const char *task_id,
                                 of_octo_task_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    return task_call_async(c, space_id, task_id, OCTO_POST, "/cancel", cb, opaque, errstr,
                           errstr_size);
}

of_err of_octo_get_task(of_octo *c, const char *space_id, const char *task_id, of_octo_task *out,
                        char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_get_task_async(c, space_id, task_id, sync_task, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

of_err of_octo_cancel_task(of_octo *c, const char *space_id, const char *task_id, of_octo_task *out,
                           char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_cancel_task_async(c, space_id, task_id, sync_task, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

size_t octo_task_chunks(size_t n, size_t chunk)
{
    return chunk ? (n + chunk - 1) / chunk : 0;
}

char *octo_tasks_url(const char *base, const char *space_id, const char *const *ids, size_t first,
                     size_t count)
{
    if (count == 0) return NULL; /* never: an empty ids= means every task */
    of_buf u;
    of_err rc = octo_url_begin(&u, base, space_id, "/tasks");
    if (!rc) rc = octo_url_query_list(&u, "ids", ids + first, count);
    if (!rc) rc = octo_url_query_size(&u, "skip", 0);
    if (!rc) rc = octo_url_query_size(&u, "take", count);
    return octo_url_detach(&u, rc);
}

typedef struct tasks_op {
    octo_call k;
    char **ids;
    size_t n;
    size_t left; /* chunks still out */
    of_err err;  /* first failure */
    char errstr[1024];
} tasks_op;

typedef struct chunk_ctx {
    tasks_op *op;
    size_t first, count;
} chunk_ctx;

static void tasks_free(tasks_op *op)
{
    for (size_t i = 0; i < op->n; i++)
        free(op->ids[i]);
    free(op->ids);
    free(op);
}

static void tasks_finish(tasks_op *op)
{
    of_octo_task_list *l = &op->k.res.tasks;
    l->missing = l->unreadable = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].found) continue;
        if (l->items[i].unreadable)
            l->unreadable++;
        else
            l->missing++;
        /* Keep the id so callers can say which one vanished. */
        if (!l->items[i].id) l->items[i].id = strdup(op->ids[i]);
        if (!l->items[i].error_message) l->items[i].error_message = strdup("");
        l->items[i].start_time_ms = l->items[i].completed_time_ms = -1;
        l->items[i].queue_time_ms = -1;
    }
    octo_call_complete(&op->k, op->err, op->errstr);
    tasks_free(op);
}

/* ---- tasks the server sends in a form we cannot decode ----
 * Each is reported in its own item, never failing the others. The client keeps a streak per id
 * (c->unreadable) so that give_up and the warnings are bounded in time, not per poll. */

#define PROBLEM_MAX 700 /* fits a job.failed message with its prefix */

static void unreadable_drop(of_octo *c, size_t i)
{
    free(c->unreadable[i].id);
    c->unreadable[i] = c->unreadable[--c->nunreadable];
}

/* A task decoded: its streak, if any, ends. */
static void unreadable_clear(of_octo *c, const char *id)
{
    for (size_t i = 0; i < c->nunreadable; i++) {
        if (strcmp(c->unreadable[i].id, id) != 0) continue;
        of_info("octopus task readable again task=%s after %d unreadable poll(s)", id,
                c->unreadable[i].polls);
        unreadable_drop(c, i);
        return;
    }
}

/* The streak of id, created if new (NULL when out of memory). Entries nobody asked about for
 * twice the bound are swept; when the table is full the stalest goes. */
static octo_unreadable *unreadable_get(of_octo *c, const char *id, int64_t now)
{
    for (size_t i = 0; i < c->nunreadable; i++)
        if (strcmp(c->unreadable[i].id, id) == 0) return &c->unreadable[i];
    if (!c->unreadable && !(c->unreadable = calloc(OCTO_UNREADABLE_MAX, sizeof(octo_unreadable))))
        return NULL;
    for (size_t i = c->nunreadable; i-- > 0;)
        if (now - c->unreadable[i].last_seen_ms > 2 * c->opt.task_unreadable_ms)
            unreadable_drop(c, i);
    if (c->nunreadable == OCTO_UNREADABLE_MAX) {
        size_t old = 0;
        for (size_t i = 1; i < c->nunreadable; i++)
            if (c->unreadable[i].last_seen_ms < c->unreadable[old].last_seen_ms) old = i;
        unreadable_drop(c, old);
    }
    char *dup = strdup(id);
    if (!dup) return NULL;
    octo_unreadable *u = &c->unreadable[c->nunreadable++];
    *u = (octo_unreadable){dup, now, now, 0, 0, 0};
    return u;
}

/* Records one unreadable poll of t (its id set): fills its counters and give_up. Returns true
 * when a warning line is due; *unlogged = the polls not logged since the previous line. */
static bool unreadable_note(of_octo *c, of_octo_task *t, int64_t now, int *unlogged)
{
    *unlogged = 0;
    octo_unreadable *u = unreadable_get(c, t->id, now);
    if (!u) { /* out of memory: report it, never give up on a guess */
        t->unreadable_polls = 1;
        return true;
    }
    u->polls++;
    u->last_seen_ms = now;
    t->unreadable_ms = now - u->since_ms;
    t->unreadable_polls = u->polls;
    t->give_up =
        t->unreadable_ms >= c->opt.task_unreadable_ms && u->polls >= OF_OCTO_UNREADABLE_POLLS;
    bool warn = !u->last_warn_ms || now - u->last_warn_ms >= c->opt.warn_interval_ms || t->give_up;
    if (warn) {
        *unlogged = u->unlogged;
        u->unlogged = 0;
        u->last_warn_ms = now;
    } else {
        u->unlogged++;
    }
    if (t->give_up) unreadable_drop(c, (size_t)(u - c->unreadable)); /* a new streak next time */
    return warn;
}

/* Item i could not be decoded this poll (t is zeroed by the failed decoder). */
static void mark_unreadable(tasks_op *op, size_t i, const char *problem)
{
    of_octo_task *t = &op->k.res.tasks.items[i];
    of_octo_task_clear(t);
    t->unreadable = true;
    t->found = false;
    t->id = strdup(op->ids[i]);
    t->problem = strdup(problem);
    t->error_message = strdup("");
}

/* "<route>: <what>; the server sent: <quote>" into out. */
static void problem_text(const octo_resp *r, const char *what, const char *body, size_t len,
                         char *out, size_t n)
{
    char prefix[OCTO_ES + 200];
    snprintf(prefix, sizeof(prefix), "%s: %s; the server sent: ", r->label, what);
    octo_quote(prefix, body, len, out, n);
}

/* Decodes one item into slot i, or marks slot i unreadable quoting the item. */
static void decode_or_mark(tasks_op *op, size_t i, json_t *item, const octo_resp *r)
{
    char es[OCTO_ES], problem[PROBLEM_MAX];
    if (!octo_decode_task(item, &op->k.res.tasks.items[i], es, sizeof(es))) return;
    char *dump = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
    problem_text(r, es, dump ? dump : "", dump ? strlen(dump) : 0, problem, sizeof(problem));
    free(dump);
    mark_unreadable(op, i, problem);
}

/* After a chunk: end the streaks of tasks that decoded, count and (rate-limited) log the ones
 * that did not. chunk_wide: one reply-level problem for the whole chunk (one log line). */
static void chunk_account(tasks_op *op, const chunk_ctx *cc, bool chunk_wide)
{
    of_octo *c = op->k.c;
    of_octo_task *items = op->k.res.tasks.items;
    int64_t now = of_now_ms();
    size_t bad = 0, first_due = SIZE_MAX;
    int first_unlogged = 0;
    for (size_t i = cc->first; i < cc->first + cc->count; i++) {
        of_octo_task *t = &items[i];
        if (t->found && c->nunreadable) unreadable_clear(c, op->ids[i]);
        if (!t->unreadable) continue;
        bad++;
        /* A duplicated id counts once per poll. */
        size_t dup = cc->first;
        while (dup < i && strcmp(op->ids[dup], op->ids[i]) != 0)
            dup++;
        if (dup < i) {
            t->unreadable_ms = items[dup].unreadable_ms;
            t->unreadable_polls = items[dup].unreadable_polls;
            t->give_up = items[dup].give_up;
            continue;
        }
        int unlogged;
        if (!unreadable_note(c, t, now, &unlogged)) continue;
        if (chunk_wide) {
            if (first_due == SIZE_MAX) first_due = i, first_unlogged = unlogged;
            continue;
        }
        of_warn("octopus task unreadable task=%s polls=%d for_s=%lld unlogged_polls=%d%s: %s",
                t->id, t->unreadable_polls, (long long)(t->unreadable_ms / 1000), unlogged,
                t->give_up ? " giving_up=1" : "", t->problem);
    }
    if (chunk_wide && first_due != SIZE_MAX) {
        const of_octo_task *t = &items[first_due];
        of_warn("octopus task poll reply unreadable tasks=%zu first=%s polls=%d for_s=%lld "
                "unlogged_polls=%d%s: %s",
                bad, t->id, t->unreadable_polls, (long long)(t->unreadable_ms / 1000),
                first_unlogged, t->give_up ? " giving_up=1" : "", t->problem);
    }
}

/* A 2xx reply of one chunk: each task on its own. */
static void chunk_decode(tasks_op *op, const chunk_ctx *cc, const octo_resp *r)
{
    of_octo_task_list *l = &op->k.res.tasks;
    char es[OCTO_ES], problem[PROBLEM_MAX];
    json_t *j = NULL, *items = NULL;
    size_t total;
    of_err rc = octo_parse_body(r->body, r->body_len, octo_keep_task_page, &j, es, sizeof(es));
    if (!rc) rc = octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es));
    if (rc) { /* not a task page at all: every task of this chunk is unreadable this poll */
        problem_text(r, es, r->body, r->body_len, problem, sizeof(problem));
        for (size_t i = cc->first; i < cc->first + cc->count; i++)
            mark_unreadable(op, i, problem);
        json_decref(j);
        chunk_account(op, cc, true);
        return;
    }
    json_t *idless = NULL; /* the first item without an Id */
    for (size_t k = 0; k < json_array_size(items); k++) {
        json_t *item = json_array_get(items, k);
        const char *id = json_string_value(json_object_get(item, "Id"));
        if (!id) {
            if (!idless) idless = item;
            continue;
        }
        /* Place by id: the server's order is its own. Duplicated ids all get it; an id we did
         * not ask for is ignored. */
        for (size_t i = cc->first; i < cc->first + cc->count; i++) {
            if (l->items[i].found || l->items[i].unreadable || strcmp(op->ids[i], id) != 0)
                continue;
            decode_or_mark(op, i, item, r);
        }
    }
    if (idless) {
        /* Which task it was cannot be known: every task of the chunk it may be is unreadable
         * (rather than "no longer returned"). */
        char *dump = json_dumps(idless, JSON_COMPACT | JSON_ENCODE_ANY);
        problem_text(r, "Tasks: an item without a string \"Id\"", dump ? dump : "",
                     dump ? strlen(dump) : 0, problem, sizeof(problem));
        free(dump);
        for (size_t i = cc->first; i < cc->first + cc->count; i++)
            if (!l->items[i].found && !l->items[i].unreadable) mark_unreadable(op, i, problem);
    }
    json_decref(j);
    chunk_account(op, cc, false);
}

static void chunk_done(void *ctx, const octo_resp *r)
{
    chunk_ctx *cc = ctx;
    tasks_op *op = cc->op;
    if (!r->err) {
        chunk_decode(op, cc, r);
    } else if (r->err == OF_ERR_TOO_LARGE) {
        /* A reply too big to read (or one that never ends) is a reply we cannot decode: its
         * tasks are unreadable, bounded like any other, instead of failing the poll for ever. */
        for (size_t i = cc->first; i < cc->first + cc->count; i++)
            mark_unreadable(op, i, r->errstr);
        chunk_account(op, cc, true);
    } else if (!op->err) {
        op->err = r->err;
        snprintf(op->errstr, sizeof(op->errstr), "%s", r->errstr);
    }
    free(cc);
    if (--op->left == 0) tasks_finish(op);
}

static void tasks_empty_done(void *ctx, const octo_resp *r)
{
    tasks_op *op = ctx;
    op->err = r->err;
    snprintf(op->errstr, sizeof(op->errstr), "%s", r->errstr);
    tasks_finish(op);
}

of_err of_octo_get_tasks_async(of_octo *c, const char *space_id, const char *const *ids, size_t n,
                               of_octo_task_list_cb cb, void *opaque, char *errstr,
                               size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if (!octo_nonempty(ids[i]) || strchr(ids[i], ','))
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "get tasks: id %zu is empty or contains ','", i);
    tasks_op *op = calloc(1, sizeof(*op));
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    op->k = (octo_call){.c = c, .type = CT_TASKS, .cb.tasks = cb, .opaque = opaque};
    if (n == 0) {
        /* Zero ids = zero requests (ids= empty would list every task). */
        rc = octo_defer(c, OF_OK, "", tasks_empty_done, op);
        if (rc) {
            tasks_free(op);
            return of_seterr(errstr, errstr_size, rc, "%s", of_strerror(rc));
        }
        return OF_OK;
    }
    op->ids = calloc(n, sizeof(*op->ids));
    op->k.res.tasks.items = calloc(n, sizeof(of_octo_task));
    if (!op->ids || !op->k.res.tasks.items) {
        free(op->k.res.tasks.items);
        tasks_free(op);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->k.res.tasks.n = n;
    for (size_t i = 0; i < n; i++) {
        if (!(op->ids[i] = strdup(ids[i]))) {
            op->n = i;
            of_octo_task_list_clear(&op->k.res.tasks);
            tasks_free(op);
            return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
        }
    }
    op->n = n;
    size_t chunk = (size_t)c->opt.task_chunk;
    size_t nchunks = octo_task_chunks(n, chunk);
    op->left = nchunks;
    for (size_t k = 0; k < nchunks; k++) {
        size_t first = k * chunk;
        size_t count = n - first < chunk ? n - first : chunk;
        chunk_ctx *cc = calloc(1, sizeof(*cc));
        char *url =
            cc ? octo_tasks_url(c->base_url, sp, (const char *const *)op->ids, first, count) : NULL;
        if (cc && url) {
            *cc = (chunk_ctx){op, first, count};
            rc = octo_call_submit(c, OCTO_GET, url, NULL, true, NULL, octo_space_label(c, sp), 0,
                                  chunk_done, cc, errstr, errstr_size);
        } else {
            free(url);
            rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
        }
        if (rc) {
            free(cc);
            /* Chunks already queued will finish the op; the rest never run. */
            op->left -= nchunks - k;
            if (!op->err) {
                op->err = rc;
                snprintf(op->errstr, sizeof(op->errstr), "%s", errstr);
            }
            if (op->left == 0) {
                of_octo_task_list_clear(&op->k.res.tasks);
                tasks_free(op);
                return rc;
            }
            return OF_OK; /* the callback will report op->err */
        }
    }
    return OF_OK;
}

of_err of_octo_get_tasks(of_octo *c, const char *space_id, const char *const *ids, size_t n,
                         of_octo_task_list *out, char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_get_tasks_async(c, space_id, ids, n, sync_tasks, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}
