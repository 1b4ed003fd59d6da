/* The producer's few direct Octopus calls besides planning: reconciling failed jobs before a
 * resume, and cancelling running tasks on abort. Both run before the batch's transaction
 * begins, on the async client interface so many jobs are handled in parallel (within the
 * client's concurrency cap). Nothing else in producer/ touches a server task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "producer_int.h"

/* ---- resume: reconcile failed jobs with Octopus ---- */

/* One failed job being looked up: first the deployment this attempt created (its Comments
 * carry of_job_dedupe_key, common/codec/msg.h) and its task; if that did not succeed, the
 * target's latest successful deployment (a human may have redeployed by hand). */
typedef struct recon {
    of_octo *octo;
    size_t *pending;
    const of_job_record *jr; /* borrowed from the gate, which does not change meanwhile */
    char key[OF_UUID_STR_SIZE + 32];
    bool found;
    char message[256];
} recon;

static void recon_done(recon *rc)
{
    (*rc->pending)--;
}

static void on_latest(void *opaque, of_err err, const char *errstr, of_octo_deployment *d)
{
    recon *rc = opaque;
    const of_job *j = &rc->jr->job;
    if (err == OF_OK && d->release_id && j->octo_release.id &&
        strcmp(d->release_id, j->octo_release.id) == 0) {
        rc->found = true;
        (void)snprintf(rc->message, sizeof rc->message,
                       "release %s is deployed there in Octopus (%s, found on resume)",
                       j->octo_release.name ? j->octo_release.name : j->octo_release.id,
                       d->id ? d->id : "?");
    } else if (err && err != OF_ERR_NOT_FOUND) {
        of_warn("resume: cannot read the latest deployment release=%s job=%s: %s", j->release_id,
                j->job_id, errstr);
    }
    recon_done(rc);
}

static void ask_latest(recon *rc)
{
    const of_job *j = &rc->jr->job;
    char es[512];
    if (of_octo_latest_success_async(rc->octo, j->space.id, j->project.id, j->environment.id,
                                     j->tenant.id, on_latest, rc, es, sizeof es) != OF_OK) {
        of_warn("resume: cannot look up job=%s in Octopus: %s", j->job_id, es);
        recon_done(rc);
    }
}

static void on_task(void *opaque, of_err err, const char *errstr, of_octo_task *t)
{
    recon *rc = opaque;
    if (err == OF_OK && t->state == OF_OCTO_TASK_SUCCESS) {
        rc->found = true;
        (void)snprintf(rc->message, sizeof rc->message,
                       "task %s succeeded in Octopus (found on resume)", t->id ? t->id : "?");
        recon_done(rc);
        return;
    }
    if (err) of_warn("resume: cannot read the task of job=%s: %s", rc->jr->job.job_id, errstr);
    ask_latest(rc);
}

static void on_deployment(void *opaque, of_err err, const char *errstr, of_octo_deployment *d)
{
    recon *rc = opaque;
    if (err == OF_OK && d->task_id) {
        char es[512];
        if (of_octo_get_task_async(rc->octo, rc->jr->job.space.id, d->task_id, on_task, rc, es,
                                   sizeof es) == OF_OK)
            return;
        of_warn("resume: cannot read task=%s of job=%s: %s", d->task_id, rc->jr->job.job_id, es);
    } else if (err && err != OF_ERR_NOT_FOUND) {
        of_warn("resume: cannot find the deployment of job=%s: %s", rc->jr->job.job_id, errstr);
    }
    ask_latest(rc);
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

of_err prod_reconcile(prod *p, prod_rel *r, prod_overrides *out)
{
    memset(out, 0, sizeof *out);
    of_job_ref *failed = NULL;
    size_t n = 0;
    of_err rc = of_gate_failed_jobs(r->g, &failed, &n);
    if (rc || n == 0) return rc;
    recon *rs = calloc(n, sizeof *rs);
    if (!rs) {
        of_job_refs_free(failed, n);
        return OF_ERR_NOMEM;
    }
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        long idx = of_gate_find(r->g, failed[i].job_id);
        if (idx < 0) continue;
        recon *c = &rs[i];
        c->octo = p->octo;
        c->pending = &pending;
        c->jr = of_gate_job(r->g, (size_t)idx);
        /* the key the worker wrote into the deployment's Comments */
        of_job_dedupe_key(c->jr->job.job_id, c->jr->job.attempt, c->key, sizeof c->key);
        of_octo_deploy_query q = {0};
        q.project_id = c->jr->job.project.id;
        q.environment_id = c->jr->job.environment.id;
        q.tenant_id = c->jr->job.tenant.id;
        if (c->jr->job.dispatched_ms > 0)
            q.created_since_ms = c->jr->job.dispatched_ms - OF_OCTO_CLOCK_SKEW_MS;
        char es[512];
        pending++;
        if (of_octo_find_deployment_by_job_async(p->octo, c->jr->job.space.id, &q,
                                                 c->jr->job.octo_release.id, c->key, on_deployment,
                                                 c, es, sizeof es) != OF_OK) {
            of_warn("resume: cannot look up job=%s in Octopus: %s", c->jr->job.job_id, es);
            ask_latest(c);
        }
    }
    drive(p->octo, &pending);

    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += rs[i].found;
    if (found) {
        out->items = calloc(found, sizeof *out->items);
        out->messages = calloc(found, sizeof *out->messages);
        if (!out->items || !out->messages) rc = OF_ERR_NOMEM;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        if (!rs[i].found) continue;
        char *m = strdup(rs[i].message);
        if (!m) {
            rc = OF_ERR_NOMEM;
            break;
        }
        out->messages[out->n_messages++] = m;
        of_gate_override *o = &out->items[out->n++];
        of_id_copy(o->job_id, rs[i].jr->job.job_id);
        o->status = OF_JOB_SUCCEEDED;
        o->message = m;
        of_info("resume: job found succeeded in Octopus release=%s job=%s: %s", r->id, o->job_id,
                m);
    }
    of_info("resume: reconciled release=%s failed=%zu found_succeeded=%zu", r->id, n, out->n);
    free(rs);
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
