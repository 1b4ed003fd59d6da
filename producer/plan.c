/* Plan expansion. See plan.h for the rules and docs/requests.md for the user's view. */
#include "plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "strpool.h"
#include "uuid.h"
#include "windows.h"

/* ---- reference lists ---- */

void of_ref_clear(of_ref *r)
{
    if (!r) return;
    free(r->id);
    free(r->name);
    r->id = r->name = NULL;
}

of_err of_reflist_add(of_reflist *l, const char *id, const char *name)
{
    if (of_grow((void **)&l->items, &l->cap, l->n, sizeof *l->items)) return OF_ERR_NOMEM;
    of_err rc = OF_OK;
    of_ref r = {of_strdup_or_null(id, &rc), of_strdup_or_null(name, &rc)};
    if (rc) {
        of_ref_clear(&r);
        return rc;
    }
    l->items[l->n++] = r;
    return OF_OK;
}

void of_reflist_clear(of_reflist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_ref_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int ref_cmp_id(const void *a, const void *b)
{
    const of_ref *x = a, *y = b;
    return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

/* Sorts by id and drops duplicates (and entries without an id). */
static void reflist_normalise(of_reflist *l)
{
    if (l->n > 1) qsort(l->items, l->n, sizeof *l->items, ref_cmp_id);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->items[i].id || (k && strcmp(l->items[k - 1].id, l->items[i].id) == 0)) {
            of_ref_clear(&l->items[i]);
            continue;
        }
        l->items[k++] = l->items[i];
    }
    l->n = k;
}

static bool reflist_has(const of_reflist *l, const char *id)
{
    of_ref key = {(char *)(uintptr_t)id, NULL};
    return l->n && bsearch(&key, l->items, l->n, sizeof *l->items, ref_cmp_id) != NULL;
}

/* out = a ∩ b (both normalised); out is normalised. */
static of_err reflist_intersect(const of_reflist *a, const of_reflist *b, of_reflist *out)
{
    for (size_t i = 0; i < a->n; i++)
        if (reflist_has(b, a->items[i].id)) {
            of_err rc = of_reflist_add(out, a->items[i].id, a->items[i].name);
            if (rc) return rc;
        }
    return OF_OK;
}

static of_err reflist_append_all(of_reflist *dst, const of_reflist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        of_err rc = of_reflist_add(dst, src->items[i].id, src->items[i].name);
        if (rc) return rc;
    }
    return OF_OK;
}

/* ---- the builder ---- */

typedef struct entry_info {
    of_ref project;
    of_tenanted_mode mode;
    bool project_ok;
    of_ref release;
    bool release_ok;
    of_ref from; /* the release "from" names (a hotfix's old version) */
} entry_info;

typedef struct builder {
    const of_request *req;
    const of_resolver *res;
    of_errlist *errs;
    char *errstr;
    size_t errstr_size;
    of_ref space;
    of_ref *envs;                /* [n_environments] */
    entry_info **ent;            /* [stage][entry] */
    of_reflist explicit_tenants; /* normalised */
    of_reflist selected;         /* explicit U tag matches, normalised */
    bool have_selection;
    of_plan *plan;
    size_t cap_jobs;
    bool rejected;
    char release_id[OF_UUID_STR_SIZE];
    int64_t deadline_ms;
    of_reflist *win_tenants; /* [policy.n_windows]: tenants carrying each window's tag */
} builder;

/* Records a resolver answer: NOT_FOUND goes to errs (collected, planning continues);
 * anything else is a real failure that stops planning, described in errstr. */
static of_err noted(builder *b, of_err rc, const char *what)
{
    if (rc == OF_OK) return OF_OK;
    if (rc == OF_ERR_NOT_FOUND) {
        if (of_errlist_add(b->errs, "%s: not found in Octopus", what) != OF_OK) return OF_ERR_NOMEM;
        return OF_ERR_NOT_FOUND;
    }
    char detail[512];
    (void)snprintf(detail, sizeof detail, "%s", b->errstr && b->errstr_size ? b->errstr : "");
    if (of_errlist_add(b->errs, "%s: %s", what, detail[0] ? detail : of_strerror(rc)) != OF_OK)
        return of_seterr(b->errstr, b->errstr_size, OF_ERR_NOMEM, "out of memory");
    return of_seterr(b->errstr, b->errstr_size, rc, "resolving %s: %s", what,
                     detail[0] ? detail : of_strerror(rc));
}

/* The tenants of each maintenance window's tag (policy.windows). An unknown tag is an error like
 * one in the tenant selection: a window that can never match is a typo. */
static of_err resolve_windows(builder *b)
{
    const of_policy *pol = &b->req->policy;
    bool missing = false;
    if (!pol->n_windows) return OF_OK;
    b->win_tenants = calloc(pol->n_windows, sizeof *b->win_tenants);
    if (!b->win_tenants) return OF_ERR_NOMEM;
    for (size_t w = 0; w < pol->n_windows; w++) {
        char what[400];
        (void)snprintf(what, sizeof what, "policy.windows[%zu].tenant_tag: tag \"%s\"", w,
                       pol->windows[w].tenant_tag);
        of_err rc =
            noted(b,
                  b->res->tenants_by_tag(b->res->opaque, &b->space, pol->windows[w].tenant_tag,
                                         &b->win_tenants[w], b->errstr, b->errstr_size),
                  what);
        if (rc == OF_ERR_NOT_FOUND)
            missing = true;
        else if (rc)
            return rc;
        reflist_normalise(&b->win_tenants[w]);
    }
    return missing ? OF_ERR_NOT_FOUND : OF_OK;
}

/* The tenant's window: the first whose tag it carries (1-based), 0 for none or untenanted. */
static int window_of(const builder *b, const of_ref *tenant)
{
    for (size_t w = 0; tenant && b->win_tenants && w < b->req->policy.n_windows; w++)
        if (reflist_has(&b->win_tenants[w], tenant->id)) return (int)w + 1;
    return 0;
}

static const char *entry_path(char *buf, size_t size, size_t i, size_t j)
{
    (void)snprintf(buf, size, "stages[%zu][%zu]", i, j);
    return buf;
}

/* Resolves stage entry [i][j]: its project and, unless the entry is skipped, its release.
 * OF_ERR_NOT_FOUND when one of them is missing (noted in errs), another error to stop. */
static of_err resolve_entry(builder *b, size_t i, size_t j)
{
    const of_stage_entry *se = &b->req->stages[i].entries[j];
    const of_resolver *res = b->res;
    entry_info *ei = &b->ent[i][j];
    char path[64], what[640];
    entry_path(path, sizeof path, i, j);
    (void)snprintf(what, sizeof what, "%s.project: project \"%s\"", path, se->project);
    of_err rc = noted(b,
                      res->project(res->opaque, &b->space, se->project, &ei->project, &ei->mode,
                                   b->errstr, b->errstr_size),
                      what);
    if (rc) return rc;
    ei->project_ok = true;
    if (se->skip) return OF_OK; /* a skipped entry deploys no release: don't demand one */
    (void)snprintf(what, sizeof what, "%s.version: release \"%s\" of project \"%s\"", path,
                   se->version, se->project);
    rc = noted(b,
               res->release(res->opaque, &b->space, &ei->project, se->version, &ei->release,
                            b->errstr, b->errstr_size),
               what);
    if (rc) return rc;
    if (se->from) {
        (void)snprintf(what, sizeof what, "%s.from: release \"%s\" of project \"%s\"", path,
                       se->from, se->project);
        rc = noted(b,
                   res->release(res->opaque, &b->space, &ei->project, se->from, &ei->from,
                                b->errstr, b->errstr_size),
                   what);
        if (rc) return rc;
    }
    ei->release_ok = true;
    return OF_OK;
}

static of_err resolve_names(builder *b)
{
    const of_request *req = b->req;
    const of_resolver *res = b->res;
    char what[640];
    bool missing = false;
    of_err rc;

    (void)snprintf(what, sizeof what, "space \"%s\"", req->space);
    rc = noted(b, res->space(res->opaque, req->space, &b->space, b->errstr, b->errstr_size), what);
    if (rc == OF_ERR_NOT_FOUND) return rc; /* nothing else can resolve without a space */
    if (rc) return rc;

    for (size_t e = 0; e < req->n_environments; e++) {
        (void)snprintf(what, sizeof what, "environments[%zu]: environment \"%s\"", e,
                       req->environments[e]);
        rc = noted(b,
                   res->environment(res->opaque, &b->space, req->environments[e], &b->envs[e],
                                    b->errstr, b->errstr_size),
                   what);
        if (rc == OF_ERR_NOT_FOUND)
            missing = true;
        else if (rc)
            return rc;
    }

    for (size_t i = 0; i < req->n_stages; i++) {
        for (size_t j = 0; j < req->stages[i].n_entries; j++) {
            rc = resolve_entry(b, i, j);
            if (rc == OF_ERR_NOT_FOUND)
                missing = true;
            else if (rc)
                return rc;
        }
    }

    const of_tenant_sel *ts = &req->tenants;
    for (size_t t = 0; t < ts->n_names; t++) {
        of_ref r = {0};
        (void)snprintf(what, sizeof what, "tenants.names[%zu]: tenant \"%s\"", t, ts->names[t]);
        rc = noted(b,
                   res->tenant_by_name(res->opaque, &b->space, ts->names[t], &r, b->errstr,
                                       b->errstr_size),
                   what);
        if (rc == OF_ERR_NOT_FOUND) {
            missing = true;
            continue;
        }
        if (rc) return rc;
        rc = of_reflist_add(&b->explicit_tenants, r.id, r.name);
        of_ref_clear(&r);
        if (rc) return rc;
    }
    reflist_normalise(&b->explicit_tenants);

    /* Tags: OR within one tag set, AND across tag sets (Octopus' tenant filter). */
    of_reflist tagged = {0};
    bool any_set = false;
    for (size_t t = 0; t < ts->n_tags; t++) {
        const char *tag = ts->tags[t];
        const char *slash = strchr(tag, '/');
        size_t setlen = slash ? (size_t)(slash - tag) : strlen(tag);
        /* process each tag set once, at its first tag */
        bool seen = false;
        for (size_t u = 0; u < t; u++)
            if (strncmp(ts->tags[u], tag, setlen) == 0 && ts->tags[u][setlen] == '/') seen = true;
        if (seen) continue;
        of_reflist set = {0};
        for (size_t u = t; u < ts->n_tags; u++) {
            if (!(strncmp(ts->tags[u], tag, setlen) == 0 && ts->tags[u][setlen] == '/')) continue;
            of_reflist got = {0};
            (void)snprintf(what, sizeof what, "tenants.tags[%zu]: tag \"%s\"", u, ts->tags[u]);
            rc = noted(b,
                       res->tenants_by_tag(res->opaque, &b->space, ts->tags[u], &got, b->errstr,
                                           b->errstr_size),
                       what);
            if (rc == OF_OK) rc = reflist_append_all(&set, &got);
            of_reflist_clear(&got);
            if (rc == OF_ERR_NOT_FOUND) {
                missing = true;
                continue;
            }
            if (rc) {
                of_reflist_clear(&set);
                of_reflist_clear(&tagged);
                return rc;
            }
        }
        reflist_normalise(&set);
        if (!any_set) {
            tagged = set;
            any_set = true;
        } else {
            of_reflist both = {0};
            rc = reflist_intersect(&tagged, &set, &both);
            of_reflist_clear(&set);
            of_reflist_clear(&tagged);
            tagged = both;
            if (rc) {
                of_reflist_clear(&tagged);
                return rc;
            }
        }
    }
    rc = reflist_append_all(&b->selected, &b->explicit_tenants);
    if (!rc) rc = reflist_append_all(&b->selected, &tagged);
    of_reflist_clear(&tagged);
    if (rc) return rc;
    reflist_normalise(&b->selected);
    b->have_selection = ts->all || ts->n_names || ts->n_tags;
    rc = resolve_windows(b);
    if (rc && rc != OF_ERR_NOT_FOUND) return rc;
    return missing || rc ? OF_ERR_NOT_FOUND : OF_OK;
}

static of_job_record *new_row(builder *b)
{
    of_plan *p = b->plan;
    if (of_grow((void **)&p->jobs, &b->cap_jobs, p->n_jobs, sizeof *p->jobs)) return NULL;
    of_job_record *r = &p->jobs[p->n_jobs++];
    memset(r, 0, sizeof *r);
    return r;
}

/* Whether release is the current one of entry [i][j]'s project at (env, tenant); a failed
 * look-up is noted with the target. */
static of_err is_current(builder *b, size_t i, size_t j, const of_ref *release, const of_ref *env,
                         const of_ref *tenant, bool *current)
{
    const of_stage_entry *se = &b->req->stages[i].entries[j];
    *current = false;
    of_err rc = b->res->is_current(b->res->opaque, &b->space, &b->ent[i][j].project, release, env,
                                   tenant, current, b->errstr, b->errstr_size);
    if (!rc) return OF_OK;
    char what[600];
    (void)snprintf(what, sizeof what, "current release of \"%s\" in \"%s\"%s%s", se->project,
                   env->name, tenant ? " for " : "", tenant ? tenant->name : "");
    return noted(b, rc, what);
}

/* Adds one row for (stage i, env e, entry j, tenant or NULL). skip_reason NULL = deploy.
 * Runs the if-not-current and lifecycle checks for rows that would deploy. */
static of_err add_row(builder *b, size_t i, size_t e, size_t j, const of_ref *tenant,
                      const char *skip_reason)
{
    const of_request *req = b->req;
    const of_stage *st = &req->stages[i];
    const of_stage_entry *se = &st->entries[j];
    entry_info *ei = &b->ent[i][j];
    const of_ref *env = &b->envs[e];
    of_err rc = OF_OK;
    char reason[512];

    /* a hotfix of "from": only where that release is the current one */
    if (!skip_reason && se->from) {
        bool current = false;
        rc = is_current(b, i, j, &ei->from, env, tenant, &current);
        if (rc) return rc;
        if (!current) {
            (void)snprintf(reason, sizeof reason, "not on %s (from)", se->from);
            skip_reason = reason;
        }
    }
    of_condition cond = se->has_condition ? se->condition : req->policy.condition;
    if (!skip_reason && cond == OF_CONDITION_IF_NOT_CURRENT) {
        bool current = false;
        rc = is_current(b, i, j, &ei->release, env, tenant, &current);
        if (rc) return rc;
        if (current) {
            (void)snprintf(reason, sizeof reason, "already on %s (if-not-current)", se->version);
            skip_reason = reason;
        }
    }
    if (!skip_reason) {
        bool allowed = false;
        rc = b->res->can_deploy(b->res->opaque, &b->space, &ei->release, env, tenant, &allowed,
                                b->errstr, b->errstr_size);
        if (rc) {
            char what[600];
            (void)snprintf(what, sizeof what, "deployment template of \"%s\" %s", se->project,
                           se->version);
            return noted(b, rc, what);
        }
        if (!allowed) {
            b->rejected = true;
            return of_errlist_add(b->errs,
                                  "stage %zu: %s %s -> %s%s%s: the lifecycle does not allow this "
                                  "release here yet",
                                  i + 1, se->project, se->version, env->name, tenant ? " / " : "",
                                  tenant ? tenant->name : "");
        }
    }

    of_job_record *r = new_row(b);
    if (!r) return OF_ERR_NOMEM;
    of_job *jb = &r->job;
    of_strpool *sp = b->plan->strings;
    of_uuid_job_id(b->release_id, (int)(i + 1), se->project, env->name,
                   tenant ? tenant->name : NULL, jb->job_id);
    of_id_copy(jb->release_id, b->release_id);
    /* borrowed from the plan's pool (plan.h): never freed through the record */
    jb->release_name = (char *)(uintptr_t)of_strpool_get(sp, req->release, &rc);
    jb->stage = (int)(i + 1);
    jb->stage_count = (int)req->n_stages;
    jb->stage_name = (char *)(uintptr_t)of_strpool_get(sp, st->name, &rc);
    jb->attempt = 0;
    jb->space.id = (char *)(uintptr_t)of_strpool_get(sp, b->space.id, &rc);
    jb->space.name = (char *)(uintptr_t)of_strpool_get(sp, b->space.name, &rc);
    jb->project.id = (char *)(uintptr_t)of_strpool_get(sp, ei->project.id, &rc);
    jb->project.name = (char *)(uintptr_t)of_strpool_get(
        sp, ei->project.name ? ei->project.name : se->project, &rc);
    jb->tenanted_mode = ei->mode;
    jb->octo_release.id = (char *)(uintptr_t)of_strpool_get(sp, ei->release.id, &rc);
    jb->octo_release.name = (char *)(uintptr_t)of_strpool_get(sp, se->version, &rc);
    jb->environment.id = (char *)(uintptr_t)of_strpool_get(sp, env->id, &rc);
    jb->environment.name = (char *)(uintptr_t)of_strpool_get(sp, env->name, &rc);
    if (tenant) {
        jb->tenant.id = (char *)(uintptr_t)of_strpool_get(sp, tenant->id, &rc);
        jb->tenant.name = (char *)(uintptr_t)of_strpool_get(sp, tenant->name, &rc);
    }
    jb->timeout_s = req->policy.timeout_s;
    jb->cancel_on_timeout = req->policy.cancel_on_timeout;
    jb->guided_failure = req->policy.guided_failure;
    jb->queue_time = (char *)(uintptr_t)of_strpool_get(sp, req->policy.queue_time, &rc);
    jb->queue_time_expiry =
        (char *)(uintptr_t)of_strpool_get(sp, req->policy.queue_time_expiry, &rc);
    jb->deadline_ms = b->deadline_ms;
    r->status = skip_reason ? OF_JOB_SKIPPED : OF_JOB_PENDING;
    r->skip_reason = (char *)(uintptr_t)of_strpool_get(sp, skip_reason, &rc);
    r->window = skip_reason ? 0 : window_of(b, tenant);
    return rc;
}

static of_err expand(builder *b)
{
    const of_request *req = b->req;
    of_err rc = OF_OK;
    for (size_t i = 0; b->res->prepare && i < req->n_stages; i++)
        for (size_t j = 0; j < req->stages[i].n_entries; j++) {
            const entry_info *ei = &b->ent[i][j];
            if (ei->release_ok && !req->stages[i].entries[j].skip)
                b->res->prepare(b->res->opaque, &b->space, &ei->release);
        }
    for (size_t i = 0; i < req->n_stages; i++) {
        const of_stage *st = &req->stages[i];
        for (size_t j = 0; j < st->n_entries; j++) {
            const of_stage_entry *se = &st->entries[j];
            entry_info *ei = &b->ent[i][j];
            bool per_tenant = ei->mode == OF_TENANTED_TENANTED ||
                              (ei->mode == OF_TENANTED_TENANTED_OR_UNTENANTED && b->have_selection);
            /* A skipped tenanted entry needs no tenants: show it once per environment. */
            if (per_tenant && !b->have_selection && se->skip) per_tenant = false;
            if (per_tenant && !b->have_selection) {
                b->rejected = true;
                rc = of_errlist_add(b->errs,
                                    "stages[%zu][%zu].project: \"%s\" is tenanted but the request "
                                    "selects no tenants (add \"tenants\")",
                                    i, j, se->project);
                if (rc) return rc;
                continue;
            }
            for (size_t e = 0; e < req->n_environments; e++) {
                const char *skip = se->skip ? "skipped in request" : NULL;
                if (!per_tenant) {
                    rc = add_row(b, i, e, j, NULL, skip);
                    if (rc) return rc;
                    continue;
                }
                of_reflist conn = {0};
                rc = b->res->tenants_connected(b->res->opaque, &b->space, &ei->project, &b->envs[e],
                                               &conn, b->errstr, b->errstr_size);
                if (rc) {
                    of_reflist_clear(&conn);
                    char what[600];
                    (void)snprintf(what, sizeof what, "tenants of \"%s\" in \"%s\"", se->project,
                                   b->envs[e].name);
                    /* An unknown project/environment pair simply has no tenants. */
                    if (rc != OF_ERR_NOT_FOUND) return noted(b, rc, what);
                    rc = OF_OK;
                }
                reflist_normalise(&conn);
                of_reflist targets = {0};
                if (req->tenants.all)
                    rc = reflist_append_all(&targets, &conn);
                else
                    rc = reflist_intersect(&b->selected, &conn, &targets);
                size_t deployable = targets.n;
                for (size_t t = 0; !rc && t < targets.n; t++)
                    rc = add_row(b, i, e, j, &targets.items[t], skip);
                /* Explicitly named but not connected: say so, it is usually a surprise. */
                for (size_t t = 0; !rc && t < b->explicit_tenants.n; t++) {
                    const of_ref *tn = &b->explicit_tenants.items[t];
                    if (reflist_has(&conn, tn->id)) continue;
                    char why[600];
                    (void)snprintf(why, sizeof why, "tenant not connected to %s in %s", se->project,
                                   b->envs[e].name);
                    rc = add_row(b, i, e, j, tn, why);
                }
                if (!rc && deployable == 0 && !se->skip)
                    rc = of_errlist_add(&b->plan->warnings,
                                        "stage %zu: %s has no selected tenant connected in %s",
                                        i + 1, se->project, b->envs[e].name);
                of_reflist_clear(&targets);
                of_reflist_clear(&conn);
                if (rc) return rc;
            }
        }
    }
    return OF_OK;
}

/* A row's sort key: the record it points at (which does not move while keys are sorted), its
 * environment index and where it was. */
typedef struct order_key {
    const of_job_record *rec;
    size_t env;
    size_t from;
} order_key;

static int strcmp_null(const char *a, const char *b)
{
    if (!a || !b) return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

static int order_cmp(const void *pa, const void *pb)
{
    const order_key *ka = pa, *kb = pb;
    const of_job *a = &ka->rec->job, *b = &kb->rec->job;
    if (a->stage != b->stage) return a->stage < b->stage ? -1 : 1;
    if (ka->env != kb->env) return ka->env < kb->env ? -1 : 1;
    int c = strcmp_null(a->project.name, b->project.name);
    if (c) return c;
    c = strcmp_null(a->tenant.name, b->tenant.name);
    if (c) return c;
    return strcmp(a->job_id, b->job_id);
}

/* Sorts small keys, not the records (320 bytes each: a copy of a 60,000-job plan was 20 MB at
 * the plan's peak), then moves each record once along the permutation's cycles. qsort has no
 * context argument, so each key carries its environment index (no global state: planners may
 * run in parallel threads). */
of_err of_plan_sort(of_job_record *jobs, size_t *env_of, size_t n)
{
    if (n < 2) return OF_OK;
    order_key *keys = malloc(n * sizeof *keys);
    if (!keys) return OF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        keys[i] = (order_key){&jobs[i], env_of[i], i};
    qsort(keys, n, sizeof *keys, order_cmp);
    /* position i takes the row from keys[i].from; a key whose from is its own index is done */
    for (size_t i = 0; i < n; i++) {
        if (keys[i].from == i) continue;
        of_job_record rec = jobs[i];
        size_t env = env_of[i], j = i;
        while (keys[j].from != i) {
            size_t src = keys[j].from;
            jobs[j] = jobs[src];
            env_of[j] = env_of[src];
            keys[j].from = j;
            j = src;
        }
        jobs[j] = rec;
        env_of[j] = env;
        keys[j].from = j;
    }
    free(keys);
    return OF_OK;
}

static of_err sort_rows(builder *b)
{
    of_plan *p = b->plan;
    if (p->n_jobs < 2) return OF_OK;
    size_t *env_of = malloc(p->n_jobs * sizeof *env_of);
    if (!env_of) return OF_ERR_NOMEM;
    for (size_t i = 0; i < p->n_jobs; i++) {
        env_of[i] = (size_t)-1;
        for (size_t e = 0; e < b->req->n_environments; e++)
            if (strcmp_null(b->envs[e].id, p->jobs[i].job.environment.id) == 0) env_of[i] = e;
    }
    of_err rc = of_plan_sort(p->jobs, env_of, p->n_jobs);
    free(env_of);
    return rc;
}

/* h->proceed: each stage's own proceed, else the policy's; NULL when every stage wants every
 * job to succeed (the default, and what a gate treats NULL as). */
static of_err header_proceed(of_release_record *h, const of_request *req)
{
    free(h->proceed);
    h->proceed = NULL;
    bool any = req->policy.proceed.kind != OF_PROCEED_ALL;
    for (size_t i = 0; i < req->n_stages; i++)
        if (req->stages[i].has_proceed) any = true;
    if (!any || (size_t)h->stage_count != req->n_stages) return OF_OK;
    h->proceed = calloc(req->n_stages, sizeof *h->proceed);
    if (!h->proceed) return OF_ERR_NOMEM;
    for (size_t i = 0; i < req->n_stages; i++)
        h->proceed[i] = req->stages[i].has_proceed ? req->stages[i].proceed : req->policy.proceed;
    return OF_OK;
}

/* The one place a header takes the gate's policy from a request. */
/* Which approvals the release waits for ([0]: policy.approval, [s]: stage s); NULL if none. */
static of_err header_approvals(of_release_record *h, const of_request *req)
{
    free(h->approval_required);
    h->approval_required = NULL;
    bool any = req->policy.approval.required;
    for (size_t i = 0; i < req->n_stages; i++)
        any = any || req->stages[i].approval.required;
    if (!any) return OF_OK;
    size_t sc = h->stage_count > 0 ? (size_t)h->stage_count : 0;
    h->approval_required = calloc(sc + 1, sizeof *h->approval_required);
    if (!h->approval_required) return OF_ERR_NOMEM;
    h->approval_required[0] = req->policy.approval.required;
    for (size_t i = 0; i < req->n_stages && i < sc; i++)
        h->approval_required[i + 1] = req->stages[i].approval.required;
    return OF_OK;
}

static of_err header_policy(of_release_record *h, const of_request *req)
{
    const of_policy *pol = &req->policy;
    of_err rc = header_approvals(h, req);
    if (rc) return rc;
    h->gate = pol->gate;
    h->lane_failure = pol->gate == OF_GATE_TENANT ? pol->lane_failure : OF_LANE_FAILURE_STOP_LANE;
    h->stage_deadline_ms = pol->stage_deadline_ms;
    h->stage_deadline_at_ms = pol->stage_deadline_at_ms;
    return header_proceed(h, req);
}

static of_err fill_header(builder *b)
{
    const of_request *req = b->req;
    of_release_record *h = &b->plan->header;
    of_err rc = OF_OK;
    of_id_copy(h->release_id, b->release_id);
    h->release_name = of_strdup_or_null(req->release, &rc);
    h->space.id = of_strdup_or_null(b->space.id, &rc);
    h->space.name = of_strdup_or_null(b->space.name, &rc);
    h->status = OF_RELEASE_RUNNING;
    h->round = 0;
    h->stage_count = (int)req->n_stages;
    h->stage_names = calloc(req->n_stages, sizeof *h->stage_names);
    h->environments = calloc(req->n_environments, sizeof *h->environments);
    h->stage_status = calloc(req->n_stages * req->n_environments, sizeof *h->stage_status);
    if (!h->stage_names || !h->environments || !h->stage_status) return OF_ERR_NOMEM;
    for (size_t i = 0; i < req->n_stages; i++)
        h->stage_names[i] = of_strdup_or_null(req->stages[i].name, &rc);
    h->n_environments = req->n_environments;
    for (size_t e = 0; e < req->n_environments; e++) {
        h->environments[e].id = of_strdup_or_null(b->envs[e].id, &rc);
        h->environments[e].name = of_strdup_or_null(b->envs[e].name, &rc);
    }
    if (!rc) rc = header_policy(h, req);
    h->priority = req->priority;
    h->n_jobs = b->plan->n_jobs;
    for (size_t k = 0; k < b->plan->n_jobs; k++)
        h->counts[b->plan->jobs[k].status]++;
    return rc;
}

of_err of_plan_build(const of_request *req, const char *request_json, const of_resolver *res,
                     of_plan **out, of_errlist *errs, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (errstr && errstr_size) errstr[0] = '\0';
    builder b;
    memset(&b, 0, sizeof b);
    b.req = req;
    b.res = res;
    b.errs = errs;
    b.errstr = errstr;
    b.errstr_size = errstr_size;
    of_err rc = OF_OK;

    b.plan = calloc(1, sizeof *b.plan);
    b.envs = calloc(req->n_environments ? req->n_environments : 1, sizeof *b.envs);
    b.ent = calloc(req->n_stages ? req->n_stages : 1, sizeof *b.ent);
    if (!b.plan || !b.envs || !b.ent || of_strpool_new(&b.plan->strings) != OF_OK) {
        rc = OF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < req->n_stages; i++) {
        b.ent[i] = calloc(req->stages[i].n_entries ? req->stages[i].n_entries : 1, sizeof **b.ent);
        if (!b.ent[i]) {
            rc = OF_ERR_NOMEM;
            goto out;
        }
    }
    of_uuid_release_id(req->space, req->release, b.release_id);
    if (req->policy.queue_time_expiry &&
        of_parse_rfc3339(req->policy.queue_time_expiry, &b.deadline_ms) != 0)
        b.deadline_ms = 0;

    rc = resolve_names(&b);
    if (rc) goto out;
    rc = expand(&b);
    if (rc) goto out;
    if (b.rejected) {
        rc = OF_ERR_REJECTED;
        goto out;
    }
    rc = sort_rows(&b);
    if (rc) goto out;
    rc = fill_header(&b);
    if (rc) goto out;
    rc = of_windows_new(&req->policy, &b.plan->windows, errstr, errstr_size);
    if (rc) goto out;
    if (request_json) {
        b.plan->header.request_json = strdup(request_json);
        if (!b.plan->header.request_json) {
            rc = OF_ERR_NOMEM;
            goto out;
        }
    }
    *out = b.plan;
    b.plan = NULL;
out:
    if (rc == OF_ERR_NOMEM)
        (void)of_seterr(errstr, errstr_size, rc, "out of memory while planning");
    of_plan_free(b.plan);
    of_ref_clear(&b.space);
    for (size_t e = 0; b.envs && e < req->n_environments; e++)
        of_ref_clear(&b.envs[e]);
    free(b.envs);
    for (size_t i = 0; b.ent && i < req->n_stages; i++) {
        for (size_t j = 0; b.ent[i] && j < req->stages[i].n_entries; j++) {
            of_ref_clear(&b.ent[i][j].project);
            of_ref_clear(&b.ent[i][j].release);
            of_ref_clear(&b.ent[i][j].from);
        }
        free(b.ent[i]);
    }
    free(b.ent);
    of_reflist_clear(&b.explicit_tenants);
    of_reflist_clear(&b.selected);
    for (size_t w = 0; b.win_tenants && w < req->policy.n_windows; w++)
        of_reflist_clear(&b.win_tenants[w]);
    free(b.win_tenants);
    return rc;
}

of_err of_plan_header_policy(of_release_record *h, char *errstr, size_t errstr_size)
{
    h->gate = OF_GATE_STAGE;
    h->lane_failure = OF_LANE_FAILURE_STOP_LANE;
    h->priority = 0;
    h->stage_deadline_ms = h->stage_deadline_at_ms = 0;
    free(h->proceed);
    h->proceed = NULL;
    if (!h->request_json) return OF_OK;
    of_request *req = NULL;
    of_err rc = of_plan_parse_request(h->request_json, &req, errstr, errstr_size);
    if (rc == OF_OK) {
        rc = header_policy(h, req);
        h->priority = req->priority;
    }
    of_request_free(req);
    return rc;
}

of_err of_plan_parse_request(const char *request_json, of_request **out, char *errstr,
                             size_t errstr_size)
{
    of_errlist errs;
    of_errlist_init(&errs);
    of_err rc = of_request_parse(request_json, strlen(request_json), out, &errs);
    if (rc && rc != OF_ERR_NOMEM) {
        char why[512];
        of_errlist_join(&errs, "; ", why, sizeof why);
        (void)of_seterr(errstr, errstr_size, rc, "its request does not parse: %s", why);
    }
    of_errlist_clear(&errs);
    return rc;
}

void of_plan_free(of_plan *plan)
{
    if (!plan) return;
    of_release_record_clear(&plan->header);
    free(plan->jobs); /* their strings are the pool's */
    of_strpool_free(plan->strings);
    of_errlist_clear(&plan->warnings);
    of_windows_free(plan->windows);
    free(plan);
}

void of_plan_window_starts(of_plan *plan, int64_t now_ms)
{
    plan->windows_now_ms = now_ms;
    for (size_t i = 0; i < plan->n_jobs; i++) {
        of_job_record *r = &plan->jobs[i];
        int64_t at = of_windows_next(plan->windows, r->window, now_ms);
        r->starts_ms = r->status == OF_JOB_PENDING && at != now_ms ? at : 0;
    }
}

size_t of_plan_count(const of_plan *plan, of_job_status status)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_jobs; i++)
        if (plan->jobs[i].status == status) n++;
    return n;
}

static int width_of(const char *s)
{
    size_t n = s ? strlen(s) : 1;
    return n > 60 ? 60 : (int)n;
}

/* ", proceed: stage 2 min_success_ratio 0.95, stage 3 max_failures 3" (lanes: one allowance for
 * the release, "proceed: max_failures 3"); nothing when every job must succeed. */
static of_err print_proceed(of_buf *b, const of_release_record *h)
{
    bool first = true;
    for (int st = 0; h->proceed && st < h->stage_count; st++) {
        const of_proceed *p = &h->proceed[st];
        if (p->kind == OF_PROCEED_ALL) continue;
        char where[32] = "";
        if (h->gate != OF_GATE_TENANT) (void)snprintf(where, sizeof where, "stage %d ", st + 1);
        of_err rc = p->kind == OF_PROCEED_RATIO
                        ? of_buf_printf(b, "%s%smin_success_ratio %g", first ? ", proceed: " : ", ",
                                        where, p->min_success_ratio)
                        : of_buf_printf(b, "%s%smax_failures %lld", first ? ", proceed: " : ", ",
                                        where, (long long)p->max_failures);
        if (rc) return rc;
        first = false;
        if (h->gate == OF_GATE_TENANT) break; /* the same for every stage */
    }
    return OF_OK;
}

/* Writes b's text to out and empties b, when out is given and b holds more than a little. */
static of_err table_flush(of_buf *b, FILE *out, size_t over)
{
    if (!out || b->len <= over) return OF_OK;
    if (b->len && fwrite(b->data, 1, b->len, out) != b->len) return OF_ERR_IO;
    of_buf_reset(b);
    return OF_OK;
}

of_err of_plan_format_table(const of_plan *plan, of_buf *b, FILE *out)
{
    enum { NCOL = 7 };
    static const char *const head[NCOL] = {"STAGE",  "ENVIRONMENT", "PROJECT", "VERSION",
                                           "TENANT", "ACTION",      "REASON"};
    int w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = (int)strlen(head[c]);
    char stage[16];
    for (size_t i = 0; i < plan->n_jobs; i++) {
        const of_job *j = &plan->jobs[i].job;
        (void)snprintf(stage, sizeof stage, "%d", j->stage);
        const char *cols[NCOL] = {stage,
                                  j->environment.name,
                                  j->project.name,
                                  j->octo_release.name,
                                  j->tenant.name ? j->tenant.name : "-",
                                  plan->jobs[i].status == OF_JOB_SKIPPED ? "skip" : "deploy",
                                  plan->jobs[i].skip_reason ? plan->jobs[i].skip_reason : ""};
        for (int c = 0; c < NCOL - 1; c++)
            if (width_of(cols[c]) > w[c]) w[c] = width_of(cols[c]);
    }
    const of_release_record *h = &plan->header;
    of_err rc = of_buf_printf(b, "release %s (%s) in space %s: %d stage(s), gate %s",
                              h->release_name ? h->release_name : "", h->release_id,
                              h->space.name ? h->space.name : "", h->stage_count,
                              of_gate_mode_name(h->gate));
    if (!rc && h->gate == OF_GATE_TENANT)
        rc = of_buf_printf(b, " (lane_failure %s)", of_lane_failure_name(h->lane_failure));
    if (!rc && h->priority) rc = of_buf_printf(b, ", priority %d", h->priority);
    if (!rc) rc = print_proceed(b, h);
    if (!rc && plan->task_budget > 0)
        rc = of_buf_printf(b, ", task budget %d (%s)", plan->task_budget, plan->task_budget_rule);
    if (!rc) rc = of_buf_printf(b, "\n");
    for (int c = 0; !rc && c < NCOL; c++) {
        if (c == NCOL - 1)
            rc = of_buf_printf(b, "%s\n", head[c]);
        else
            rc = of_buf_printf(b, "%-*s  ", w[c], head[c]);
    }
    for (size_t i = 0; !rc && i < plan->n_jobs; i++) {
        const of_job_record *r = &plan->jobs[i];
        const of_job *j = &r->job;
        char win[320] = "";
        if (r->window && r->status != OF_JOB_SKIPPED && plan->windows_now_ms)
            of_windows_describe(plan->windows, r->window, plan->windows_now_ms, win, sizeof win);
        rc = of_buf_printf(b, "%-*d  %-*.60s  %-*.60s  %-*.60s  %-*.60s  %-*s  %s\n", w[0],
                           j->stage, w[1], j->environment.name ? j->environment.name : "?", w[2],
                           j->project.name ? j->project.name : "?", w[3],
                           j->octo_release.name ? j->octo_release.name : "-", w[4],
                           j->tenant.name ? j->tenant.name : "-", w[5],
                           r->status == OF_JOB_SKIPPED ? "skip" : "deploy",
                           r->skip_reason ? r->skip_reason : win);
        if (!rc) rc = table_flush(b, out, 64 << 10);
    }
    if (!rc) {
        size_t skip = of_plan_count(plan, OF_JOB_SKIPPED);
        rc = of_buf_printf(b, "%zu job(s): %zu to deploy, %zu skipped\n", plan->n_jobs,
                           plan->n_jobs - skip, skip);
    }
    for (size_t i = 0; !rc && i < plan->warnings.n; i++)
        rc = of_buf_printf(b, "warning: %s\n", plan->warnings.items[i]);
    if (!rc) rc = table_flush(b, out, 0);
    return rc;
}

/* ,"proceed":[...] with each stage's allowance (null: every job must succeed); nothing when no
 * stage lets failures through. */
static of_err proceed_json(of_buf *b, const of_release_record *h)
{
    if (!h->proceed) return OF_OK;
    of_err rc = of_buf_puts(b, ",\"proceed\":[");
    for (int st = 0; !rc && st < h->stage_count; st++) {
        const of_proceed *p = &h->proceed[st];
        const char *sep = st ? "," : "";
        if (p->kind == OF_PROCEED_RATIO)
            rc = of_buf_printf(b, "%s{\"min_success_ratio\":%g}", sep, p->min_success_ratio);
        else if (p->kind == OF_PROCEED_MAX_FAILURES)
            rc = of_buf_printf(b, "%s{\"max_failures\":%lld}", sep, (long long)p->max_failures);
        else
            rc = of_buf_printf(b, "%snull", sep);
    }
    return rc ? rc : of_buf_puts(b, "]");
}

of_err of_plan_to_json(const of_plan *plan, char **out)
{
    char *doc = NULL;
    of_err rc = of_plan_json_encode(&plan->header, plan->jobs, plan->n_jobs, &plan->warnings, &doc);
    if (rc) return rc;
    /* The gate's policy leads the object; the priority, the fleet's task budget and each stage's
     * proceed close it.
     * They are spliced in here because the plan view's encoder (common/codec/msg_wire.c) is
     * being reworked; they belong there, as fields of the header. The values are numbers, fixed
     * names and task_budget_rule, our own text without quotes or backslashes, so nothing needs
     * escaping. */
    const of_release_record *h = &plan->header;
    char head[96], tail[96 + sizeof plan->task_budget_rule];
    int n = snprintf(head, sizeof head, "{\"gate\":\"%s\"", of_gate_mode_name(h->gate));
    if (h->gate == OF_GATE_TENANT)
        n += snprintf(head + n, sizeof head - (size_t)n, ",\"lane_failure\":\"%s\"",
                      of_lane_failure_name(h->lane_failure));
    int t = snprintf(tail, sizeof tail, "\"priority\":%d", h->priority);
    if (plan->task_budget > 0)
        t += snprintf(tail + t, sizeof tail - (size_t)t,
                      ",\"task_budget\":%d,\"task_budget_rule\":\"%s\"", plan->task_budget,
                      plan->task_budget_rule);
    size_t len = strlen(doc);
    OF_ASSERT(doc[0] == '{' && doc[len - 1] == '}' && n > 0 && (size_t)n < sizeof head && t > 0 &&
              (size_t)t < sizeof tail);
    bool empty = len == 2;
    /* head, the encoder's members (without its braces), tail, each stage's proceed */
    of_buf b;
    of_buf_init(&b, (size_t)-1 / 2); /* our own text, sized by the plan */
    rc = of_buf_printf(&b, "%s,%.*s%s%s", head, (int)(len - 2), doc + 1, empty ? "" : ",", tail);
    free(doc);
    if (!rc) rc = proceed_json(&b, h);
    if (!rc) rc = of_buf_puts(&b, "}");
    if (rc) {
        of_buf_clear(&b);
        return rc;
    }
    *out = of_buf_detach(&b);
    return *out ? OF_OK : OF_ERR_NOMEM;
}
