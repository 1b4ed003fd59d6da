/* The producer's few direct Octopus calls besides planning: reconciling failed jobs before a
 * resume, and cancelling running tasks on abort. Both run before the batch's transaction
 * begins, on the async client interface so many jobs are handled in parallel (within the
 * client's concurrency cap). Nothing else in producer/ touches a server task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "producer_int.h"

/* ---- resume and replay: reconcile failed jobs with Octopus ----
 *
 * A failed job's target may run the release after all: a human redeployed it by hand, or the
 * success's event was lost. Octopus knows: the target's latest successful deployment is of the
 * job's release. One listing per (space, project, environment) answers it for up to
 * OF_OCTO_MAX_LOOKUP_JOBS targets at once (of_octo_latest_successes_async), so a replay of 500
 * tenants costs a few requests, not 500. */

/* One batch: the jobs of one (space, project, environment), borrowed from the gate (which does
 * not change meanwhile). */
typedef struct recon_batch {
    size_t *pending;
    const char *why; /* "resume" or "replay" */
    const of_job_record **jobs;
    size_t n;
    bool *found;    /* [n] */
    char **message; /* [n], owned */
} recon_batch;

static void on_latest(void *opaque, of_err err, const char *errstr, of_octo_deployment_list *res)
{
    recon_batch *b = opaque;
    for (size_t i = 0; !err && i < b->n && i < res->n; i++) {
        const of_job *j = &b->jobs[i]->job;
        const of_octo_deployment *d = &res->items[i];
        if (!d->id || !d->release_id || !j->octo_release.id ||
            strcmp(d->release_id, j->octo_release.id) != 0)
            continue;
        char m[256];
        (void)snprintf(m, sizeof m, "release %s is deployed there in Octopus (%s, found on %s)",
                       j->octo_release.name ? j->octo_release.name : j->octo_release.id, d->id,
                       b->why);
        b->message[i] = strdup(m);
        b->found[i] = b->message[i] != NULL;
    }
    if (err)
        of_warn("%s: cannot list the latest successful deployments project=%s env=%s: %s "
                "(those targets are treated as not deployed)",
                b->why, b->jobs[0]->job.project.id, b->jobs[0]->job.environment.id, errstr);
    (*b->pending)--;
}

static void drive(of_octo *octo, const size_t *pending)
{
    /* Each call ends within the client's retry deadline, so this loop ends too. */
    while (*pending > 0) {
        of_err rc = of_octo_poll(octo, 200);
        if (rc) {
            of_warn("octopus client: %s", of_strerror(rc));
            if (of_octo_outstanding(octo) == 0) break;
        }
    }
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Batches group jobs by space, project and environment. */
static int target_cmp(const void *a, const void *b)
{
    const of_job *x = &(*(const of_job_record *const *)a)->job;
    const of_job *y = &(*(const of_job_record *const *)b)->job;
    int c = strcmp(nz(x->space.id), nz(y->space.id));
    if (!c) c = strcmp(nz(x->project.id), nz(y->project.id));
    if (!c) c = strcmp(nz(x->environment.id), nz(y->environment.id));
    return c;
}

static bool same_group(const of_job_record *x, const of_job_record *y)
{
    return target_cmp(&x, &y) == 0;
}

static void batch_clear(recon_batch *b)
{
    for (size_t i = 0; b->message && i < b->n; i++)
        free(b->message[i]);
    free(b->message);
    free(b->found);
}

of_err prod_reconcile(prod *p, prod_rel *r, const of_command *replay, prod_overrides *out)
{
    memset(out, 0, sizeof *out);
    const char *why = replay ? "replay" : "resume";
    of_job_ref *failed = NULL;
    size_t n = 0;
    of_err rc = replay ? of_gate_replay_failed_jobs(r->g, replay, &failed, &n)
                       : of_gate_failed_jobs(r->g, &failed, &n);
    if (rc || n == 0) return rc;
    const of_job_record **jobs = calloc(n, sizeof *jobs);
    recon_batch *bs = calloc(n, sizeof *bs); /* at most one batch per job */
    const char **tenants = calloc(n, sizeof *tenants);
    if (!jobs || !bs || !tenants) rc = OF_ERR_NOMEM;
    size_t nj = 0, nb = 0, pending = 0, batches_sent = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        long idx = of_gate_find(r->g, failed[i].job_id);
        if (idx >= 0) jobs[nj++] = of_gate_job(r->g, (size_t)idx);
    }
    if (!rc) qsort(jobs, nj, sizeof *jobs, target_cmp);
    for (size_t i = 0; !rc && i < nj;) {
        size_t k = i + 1;
        while (k < nj && k - i < OF_OCTO_MAX_LOOKUP_JOBS && same_group(jobs[i], jobs[k]))
            k++;
        recon_batch *b = &bs[nb++];
        b->pending = &pending;
        b->why = why;
        b->jobs = &jobs[i];
        b->n = k - i;
        b->found = calloc(b->n, sizeof *b->found);
        b->message = calloc(b->n, sizeof *b->message);
        if (!b->found || !b->message) {
            rc = OF_ERR_NOMEM;
            break;
        }
        for (size_t t = 0; t < b->n; t++)
            tenants[i + t] = b->jobs[t]->job.tenant.id;
        const of_job *j0 = &b->jobs[0]->job;
        char es[512];
        pending++;
        if (of_octo_latest_successes_async(p->octo, j0->space.id, j0->project.id,
                                           j0->environment.id, &tenants[i], b->n, on_latest, b, es,
                                           sizeof es) != OF_OK) {
            pending--;
            of_warn("%s: cannot look up project=%s env=%s in Octopus: %s", why, nz(j0->project.id),
                    nz(j0->environment.id), es);
        } else {
            batches_sent++;
        }
        i = k;
    }
    drive(p->octo, &pending);
    out->listings = batches_sent;

    size_t found = 0;
    for (size_t b = 0; b < nb; b++)
        for (size_t i = 0; i < bs[b].n; i++)
            found += bs[b].found && bs[b].found[i];
    if (!rc && found) {
        out->items = calloc(found, sizeof *out->items);
        out->messages = calloc(found, sizeof *out->messages);
        if (!out->items || !out->messages) rc = OF_ERR_NOMEM;
    }
    for (size_t b = 0; !rc && b < nb; b++) {
        for (size_t i = 0; i < bs[b].n; i++) {
            if (!bs[b].found[i]) continue;
            char *m = bs[b].message[i];
            bs[b].message[i] = NULL; /* now the overrides' */
            out->messages[out->n_messages++] = m;
            of_gate_override *o = &out->items[out->n++];
            of_id_copy(o->job_id, bs[b].jobs[i]->job.job_id);
            o->status = OF_JOB_SUCCEEDED;
            o->message = m;
            of_info("%s: job found succeeded in Octopus release=%s job=%s: %s", why, r->id,
                    o->job_id, m);
        }
    }
    of_info("%s: reconciled release=%s failed=%zu found_succeeded=%zu listings=%zu", why, r->id, n,
            out->n, batches_sent);
    for (size_t b = 0; b < nb; b++)
        batch_clear(&bs[b]);
    free(bs);
    free(jobs);
    free(tenants);
    of_job_refs_free(failed, n);
    if (rc) prod_overrides_clear(out);
    return rc;
}

void prod_overrides_clear(prod_overrides *o)
{
    for (size_t i = 0; i < o->n_messages; i++)
        free(o->messages[i]);
    free(o->messages);
    free(o->items);
    memset(o, 0, sizeof *o);
}

/* ---- abort: cancel running tasks ---- */

typedef struct cancel_ctx {
    size_t *pending;
    const char *release_id;
    const char *job_id;
    const char *task_id;
} cancel_ctx;

static void on_cancel(void *opaque, of_err err, const char *errstr, of_octo_task *t)
{
    cancel_ctx *c = opaque;
    if (err)
        of_warn("abort: cannot cancel task=%s release=%s job=%s: %s", c->task_id, c->release_id,
                c->job_id, errstr);
    else
        of_info("abort: task cancelled release=%s job=%s task=%s state=%s", c->release_id,
                c->job_id, c->task_id, of_octo_task_state_name(t->state));
    (*c->pending)--;
}

void prod_cancel_tasks(prod *p, prod_rel *r, const of_job_ref *refs, size_t n)
{
    if (n == 0) return;
    cancel_ctx *cs = calloc(n, sizeof *cs);
    if (!cs) {
        of_error("abort: out of memory cancelling tasks release=%s", r->id);
        return;
    }
    size_t pending = 0, asked = 0;
    for (size_t i = 0; i < n; i++) {
        long idx = of_gate_find(r->g, refs[i].job_id);
        if (!refs[i].task_id) {
            /* Dispatched but not started: no task to cancel yet. A later abort with
             * cancel_running cancels it once its job.started event has named the task. */
            of_info("abort: job has no Octopus task yet release=%s job=%s", r->id, refs[i].job_id);
            continue;
        }
        if (idx < 0) continue;
        const of_job_record *jr = of_gate_job(r->g, (size_t)idx);
        cancel_ctx *c = &cs[i];
        c->pending = &pending;
        c->release_id = r->id;
        c->job_id = refs[i].job_id;
        c->task_id = refs[i].task_id;
        char es[512];
        pending++;
        asked++;
        if (of_octo_cancel_task_async(p->octo, jr->job.space.id, refs[i].task_id, on_cancel, c, es,
                                      sizeof es) != OF_OK) {
            of_warn("abort: cannot cancel task=%s release=%s: %s", refs[i].task_id, r->id, es);
            pending--;
        }
    }
    drive(p->octo, &pending);
    of_info("abort: cancel requested release=%s tasks=%zu", r->id, asked);
    free(cs);
}

/* ---- guide: answer the guided failures of waiting jobs ---- */

typedef struct guide_ctx {
    size_t *pending;
    prod_guided *out;
} guide_ctx;

static void on_guided(void *opaque, of_err err, const char *errstr, of_octo_answered_list *res)
{
    guide_ctx *g = opaque;
    g->out->err = err;
    if (err) {
        g->out->errstr = strdup(errstr);
    } else {
        g->out->answered = *res; /* moved: the client frees what is left zeroed */
        memset(res, 0, sizeof *res);
    }
    (*g->pending)--;
}

of_err prod_guide_octopus(prod *p, prod_rel *r, const size_t *jobs, size_t n,
                          const of_octo_answer *a, prod_guided *out)
{
    guide_ctx *cs = calloc(n ? n : 1, sizeof *cs);
    if (!cs) return OF_ERR_NOMEM;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        const of_job_record *jr = of_gate_job(r->g, jobs[i]);
        char es[512];
        out[i].job = jobs[i];
        cs[i] = (guide_ctx){&pending, &out[i]};
        pending++;
        of_err rc = of_octo_answer_interruptions_async(p->octo, jr->job.space.id, jr->task_id, a,
                                                       on_guided, &cs[i], es, sizeof es);
        if (rc) {
            pending--;
            out[i].err = rc;
            out[i].errstr = strdup(es);
        }
    }
    drive(p->octo, &pending);
    free(cs);
    return OF_OK;
}

void prod_guided_clear(prod_guided *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) {
        free(g[i].errstr);
        of_octo_answered_list_clear(&g[i].answered);
    }
}
