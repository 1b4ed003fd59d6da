/* The per-job state machine against Octopus, and the batched task poll rounds.
 *
 *   QUEUED --slot--> FINDING --found--> FOLLOWING --final task state--> (final event, gone)
 *                       |                  ^
 *                       +--not found--> CREATING
 *
 * FINDING looks for a deployment this job attempt already created (a crash-restart or a
 * rebalance replays the job; its comment carries "<job_id> attempt <n>;") and adopts it, so a
 * replay of the same attempt never deploys twice, while a new attempt (a replay command) does.
 * Every Octopus error is this job's problem only: it becomes job.failed with the reason.
 *
 * FINDING jobs are looked up together: one batched look-up per (space, project, environment)
 * of the jobs started in the same loop turn (wk_lookup_flush), matched per job with the single
 * look-up's rules. FOLLOWING jobs are read together: one of_octo_get_tasks_async per space per
 * round, whatever the number of jobs (the client splits ids into chunks); which jobs a round
 * reads and when is worker/feed.c's decision. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "msg.h"
#include "worker_int.h"

/* ---- lifetime ---- */

wk_job *wk_job_new(of_worker *w, of_job *job, const char *topic, int32_t partition, int64_t offset)
{
    wk_job *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->topic = strdup(topic);
    if (!j->topic) {
        free(j);
        return NULL;
    }
    j->w = w;
    j->refs = 1;
    j->live = true;
    j->state = WK_QUEUED;
    j->job = *job;
    memset(job, 0, sizeof(*job));
    j->partition = partition;
    j->offset = offset;
    j->fetched_ms = of_now_ms();
    of_job_dedupe_key(j->job.job_id, j->job.attempt, j->dedupe, sizeof(j->dedupe));
    return j;
}

void wk_job_ref(wk_job *j)
{
    j->refs++;
}

void wk_job_unref(wk_job *j)
{
    OF_ASSERT(j->refs > 0);
    if (--j->refs > 0) return;
    of_job_clear(&j->job);
    free(j->topic);
    free(j->deployment_id);
    free(j->task_id);
    free(j->web_link);
    free(j);
}

void wk_job_drop(wk_job *j)
{
    of_worker *w = j->w;
    if (j->in_slot) wk_table_remove(w, j);
    j->live = false;
    w->st.dropped++;
    wk_job_unref(j);
}

/* Names for log lines. */
static const char *tenant_name(const wk_job *j)
{
    return j->job.tenant.name ? j->job.tenant.name : "-";
}

/* Reports the job's final event and frees its slot. The offset is done once the event is
 * delivered (worker.c). */
static void job_finish(wk_job *j, of_event_type type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_finish(wk_job *j, of_event_type type, const char *fmt, ...)
{
    of_worker *w = j->w;
    char msg[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    switch (type) {
    case OF_EV_JOB_SUCCEEDED:
        w->st.succeeded++;
        break;
    case OF_EV_JOB_CANCELLED:
        w->st.cancelled++;
        break;
    case OF_EV_JOB_TIMED_OUT:
        w->st.timed_out++;
        break;
    default:
        w->st.failed++;
        break;
    }
    of_log(type == OF_EV_JOB_SUCCEEDED ? OF_LOG_INFO : OF_LOG_WARN,
           "%s release=%s stage=%d job=%s attempt=%d project=%s env=%s tenant=%s task=%s%s%s",
           of_event_type_name(type), j->job.release_id, j->job.stage, j->job.job_id, j->job.attempt,
           j->job.project.name ? j->job.project.name : j->job.project.id,
           j->job.environment.name ? j->job.environment.name : j->job.environment.id,
           tenant_name(j), j->task_id ? j->task_id : "-", msg[0] ? " reason=" : "", msg);
    wk_emit(w, j, type, msg[0] ? msg : NULL, true);
    if (j->in_slot) wk_table_remove(w, j);
    j->live = false;
    wk_job_unref(j);
}

/* Usable from a callback: the job is ours to act on only while it is live and we are not
 * tearing down (then callbacks just release their references). */
static bool actionable(const wk_job *j)
{
    return j->live && !j->w->closing;
}

/* ---- started ---- */

/* Octopus links are server-relative ("/app#/Spaces-1/deployments/Deployments-7"); events carry
 * an absolute one. */
static char *absolute_link(const char *base, const char *rel)
{
    if (!rel || !*rel) return NULL;
    if (strncmp(rel, "http://", 7) == 0 || strncmp(rel, "https://", 8) == 0) return strdup(rel);
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    while (*rel == '/')
        rel++;
    size_t n = bl + 1 + strlen(rel) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s/%s", (int)bl, base, rel);
    return out;
}

static void job_started(wk_job *j, const of_octo_deployment *d, bool adopted)
{
    of_worker *w = j->w;
    if (!d->id || !d->task_id) {
        job_finish(j, OF_EV_JOB_FAILED, "deployment %s has no server task",
                   d->id ? d->id : "(no id)");
        return;
    }
    j->deployment_id = strdup(d->id);
    j->task_id = strdup(d->task_id);
    j->web_link = absolute_link(w->cfg->octopus.url, d->web_link);
    if (!j->deployment_id || !j->task_id) {
        job_finish(j, OF_EV_JOB_FAILED, "out of memory recording deployment %s", d->id);
        return;
    }
    j->state = WK_FOLLOWING;
    j->following_wall_ms = of_wall_ms();
    /* An adopted task may have finished long ago, before the feed's position: read it now. */
    if (adopted) j->recheck = true;
    if (w->use_feed) wk_feed_task_known(w, j);
    of_info("job started release=%s stage=%d job=%s attempt=%d env=%s tenant=%s deployment=%s "
            "task=%s%s",
            j->job.release_id, j->job.stage, j->job.job_id, j->job.attempt,
            j->job.environment.name ? j->job.environment.name : j->job.environment.id,
            tenant_name(j), j->deployment_id, j->task_id, adopted ? " adopted=1" : "");
    wk_emit(w, j, OF_EV_JOB_STARTED, NULL, false);
}

/* ---- create ---- */

/* An error that passes with the outage behind it (no answer, 5xx or 429 until the retry
 * deadline): the job is held (wk_requeue), not failed. */
static bool passing(of_err err)
{
    return err == OF_ERR_NETWORK || err == OF_ERR_TIMEOUT;
}

static void on_created(void *opaque, of_err err, const char *errstr, of_octo_deployment *d)
{
    wk_job *j = opaque;
    /* 429/503 since the previous create finished: the producer lowers its task budget. */
    of_octo_stats os;
    of_octo_get_stats(j->w->octo, &os);
    j->throttled = os.throttled > j->w->throttled_seen;
    j->w->throttled_seen = os.throttled;
    if (actionable(j)) {
        if (!err) {
            if (d->adopted)
                j->w->st.adopted++;
            else
                j->w->st.created++;
            job_started(j, d, d->adopted);
        } else if (err == OF_ERR_REJECTED) {
            /* The server's own words (lifecycle, tenant not connected, ...). */
            job_finish(j, OF_EV_JOB_FAILED, "%s", errstr);
        } else if (passing(err)) {
            wk_requeue(j->w, j, errstr);
        } else {
            job_finish(j, OF_EV_JOB_FAILED, "creating the deployment: %s", errstr);
        }
    }
    wk_job_unref(j);
}

static void job_create(wk_job *j)
{
    of_worker *w = j->w;
    char es[600], comments[512], when[40];
    int64_t qt = 0, qte = 0;
    if (j->job.deadline_ms > 0 && of_wall_ms() > j->job.deadline_ms) {
        job_finish(j, OF_EV_JOB_FAILED, "deadline passed (%s): the deployment was not created",
                   of_rfc3339(j->job.deadline_ms, when, sizeof(when)));
        return;
    }
    if (j->job.queue_time && of_parse_rfc3339(j->job.queue_time, &qt) != 0) {
        job_finish(j, OF_EV_JOB_FAILED, "queue_time \"%s\" is not an RFC 3339 time",
                   j->job.queue_time);
        return;
    }
    if (j->job.queue_time_expiry && of_parse_rfc3339(j->job.queue_time_expiry, &qte) != 0) {
        job_finish(j, OF_EV_JOB_FAILED, "queue_time_expiry \"%s\" is not an RFC 3339 time",
                   j->job.queue_time_expiry);
        return;
    }
    of_job_comments(j->job.job_id, j->job.attempt, j->job.release_name, j->job.stage,
                    j->job.stage_name, comments, sizeof(comments));
    of_octo_deploy_req req = {0};
    req.project_id = j->job.project.id;
    req.release_id = j->job.octo_release.id;
    req.environment_id = j->job.environment.id;
    req.tenant_id = j->job.tenant.id;
    req.comments = comments;
    req.use_guided_failure = j->job.guided_failure;
    req.queue_time_ms = qt;
    req.queue_time_expiry_ms = qte;
    req.dedupe_key = j->dedupe;
    j->state = WK_CREATING;
    wk_job_ref(j);
    of_err rc = of_octo_create_deployment_async(w->octo, j->job.space.id, &req, on_created, j, es,
                                                sizeof(es));
    if (rc) {
        wk_job_unref(j);
        job_finish(j, OF_EV_JOB_FAILED, "creating the deployment: %s", es);
    }
}

/* ---- find (adopt) ---- */

/* A batch of adoption look-ups: jobs of one (space, project, environment), referenced. */
typedef struct wk_lookup {
    of_worker *w;
    wk_job **jobs;
    size_t n;
} wk_lookup;

static void lookup_free(wk_lookup *lk)
{
    for (size_t i = 0; i < lk->n; i++)
        wk_job_unref(lk->jobs[i]);
    free(lk->jobs);
    free(lk);
}

static void on_found(void *opaque, of_err err, const char *errstr, of_octo_deployment_list *res)
{
    wk_lookup *lk = opaque;
    for (size_t i = 0; i < lk->n; i++) {
        wk_job *j = lk->jobs[i];
        if (!actionable(j) || j->state != WK_FINDING) continue;
        if (err && passing(err)) {
            wk_requeue(j->w, j, errstr);
        } else if (err) {
            job_finish(j, OF_EV_JOB_FAILED, "looking for an existing deployment: %s", errstr);
        } else if (i < res->n && res->items[i].id) {
            j->w->st.adopted++;
            job_started(j, &res->items[i], true);
        } else if (wk_held(j->w)) {
            wk_requeue(j->w, j, "Octopus is held");
        } else {
            job_create(j);
        }
    }
    lookup_free(lk);
}

void wk_job_start(wk_job *j)
{
    of_worker *w = j->w;
    wk_table_add(w, j);
    /* The deadline is checked before creating, not here: a deployment this attempt already
     * created must be adopted and followed even if the deadline passed since. The look-up
     * goes out with the others started in this loop turn (wk_lookup_flush). */
    j->state = WK_FINDING;
    if (w->use_feed) wk_feed_job_started(w, j);
    if (of_grow((void **)&w->finding, &w->cap_finding, w->n_finding, sizeof(*w->finding))) {
        job_finish(j, OF_EV_JOB_FAILED, "looking for an existing deployment: out of memory");
        return;
    }
    wk_job_ref(j);
    w->finding[w->n_finding++] = j;
}

/* Look-ups batch by space, project, environment and whether the job is tenanted (a tenant
 * filter cannot say "untenanted", so those go in batches of their own). */
static int lookup_cmp(const void *a, const void *b)
{
    const wk_job *x = *(wk_job *const *)a, *y = *(wk_job *const *)b;
    int c = strcmp(x->job.space.id, y->job.space.id);
    if (!c) c = strcmp(x->job.project.id, y->job.project.id);
    if (!c) c = strcmp(x->job.environment.id, y->job.environment.id);
    if (!c) c = (x->job.tenant.id != NULL) - (y->job.tenant.id != NULL);
    return c;
}

static bool lookup_same(const wk_job *x, const wk_job *y)
{
    return lookup_cmp(&x, &y) == 0;
}

/* Sends one batch: jobs[0..n) of one group. Takes the list's references. */
static void lookup_send(of_worker *w, wk_job **jobs, size_t n)
{
    char es[600];
    wk_lookup *lk = calloc(1, sizeof(*lk));
    of_octo_job_lookup *q = calloc(n, sizeof(*q));
    if (lk) lk->jobs = malloc(n * sizeof(*lk->jobs));
    of_err rc = lk && q && lk->jobs ? OF_OK : OF_ERR_NOMEM;
    if (rc) snprintf(es, sizeof(es), "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        wk_job *j = jobs[i];
        lk->jobs[lk->n++] = j;
        q[i].tenant_id = j->job.tenant.id;
        q[i].release_id = j->job.octo_release.id;
        q[i].job_key = j->dedupe;
        /* this attempt's deployment is younger than its dispatch: one page, not the history */
        if (j->job.dispatched_ms > 0)
            q[i].created_since_ms = j->job.dispatched_ms - OF_OCTO_CLOCK_SKEW_MS;
    }
    if (!rc) {
        lk->w = w;
        rc = of_octo_find_deployments_by_jobs_async(
            w->octo, jobs[0]->job.space.id, jobs[0]->job.project.id, jobs[0]->job.environment.id, q,
            n, on_found, lk, es, sizeof(es));
        if (!rc) w->st.lookups++;
    }
    free(q);
    if (!rc) return;
    for (size_t i = 0; i < n; i++)
        if (actionable(jobs[i]) && jobs[i]->state == WK_FINDING)
            job_finish(jobs[i], OF_EV_JOB_FAILED, "looking for an existing deployment: %s", es);
    if (lk && lk->jobs) {
        lookup_free(lk);
    } else {
        for (size_t i = 0; i < n; i++)
            wk_job_unref(jobs[i]);
        if (lk) free(lk);
    }
}

void wk_lookup_flush(of_worker *w)
{
    if (w->n_finding == 0) return;
    /* Jobs dropped meanwhile go; jobs whose feed is reading its start position wait. */
    size_t k = 0, n = 0;
    wk_job **ready = malloc(w->n_finding * sizeof(*ready));
    if (!ready) return; /* next turn */
    for (size_t i = 0; i < w->n_finding; i++) {
        wk_job *j = w->finding[i];
        if (!actionable(j) || j->state != WK_FINDING) {
            wk_job_unref(j);
            continue;
        }
        wk_feed *f = w->use_feed ? wk_feed_for(w, j->job.space.id) : NULL;
        if (f && f->init_pending)
            w->finding[k++] = j;
        else
            ready[n++] = j;
    }
    w->n_finding = k;
    qsort(ready, n, sizeof(*ready), lookup_cmp);
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && e - s < w->lookup_chunk && lookup_same(ready[e], ready[s]))
            e++;
        lookup_send(w, ready + s, e - s);
        s = e;
    }
    free(ready);
}

/* ---- following ---- */

static void on_cancelled(void *opaque, of_err err, const char *errstr, of_octo_task *t);
static void answer_approval(wk_job *j);

/* Applies one observation of the job's task. from_round: t comes from a get_tasks list (where
 * found == false means the server did not return it). */
static void apply_task(wk_job *j, const of_octo_task *t, bool from_round)
{
    of_worker *w = j->w;
    char es[600];
    if (from_round && !t->found) {
        if (++j->missing >= WK_MISSING_ROUNDS)
            job_finish(j, OF_EV_JOB_FAILED, "task %s is no longer returned by the server",
                       j->task_id);
        return;
    }
    j->missing = 0;
    j->recheck = false;
    /* -1 (unknown) from the client becomes 0 in the event */
    j->task_queued_ms = t->queue_time_ms > 0 ? t->queue_time_ms : 0;
    j->task_started_ms = t->start_time_ms > 0 ? t->start_time_ms : 0;
    j->task_completed_ms = t->completed_time_ms > 0 ? t->completed_time_ms : 0;
    if (of_octo_task_state_is_final(t->state)) {
        const char *em = t->error_message && *t->error_message ? t->error_message : NULL;
        if (j->cancel_sent && t->state != OF_OCTO_TASK_SUCCESS) {
            job_finish(j, OF_EV_JOB_TIMED_OUT,
                       "timed out after %lld s (policy timeout); the task was cancelled and "
                       "ended %s",
                       (long long)j->job.timeout_s, of_octo_task_state_name(t->state));
            return;
        }
        switch (t->state) {
        case OF_OCTO_TASK_SUCCESS:
            job_finish(j, OF_EV_JOB_SUCCEEDED, NULL);
            break;
        case OF_OCTO_TASK_FAILED:
            job_finish(j, OF_EV_JOB_FAILED, "%s", em ? em : "the task failed");
            break;
        case OF_OCTO_TASK_CANCELED:
            job_finish(j, OF_EV_JOB_CANCELLED, "the task was cancelled in Octopus");
            break;
        default:
            job_finish(j, OF_EV_JOB_TIMED_OUT,
                       "the task was not started before its QueueTimeExpiry%s%s", em ? ": " : "",
                       em ? em : "");
            break;
        }
        return;
    }
    /* One job.waiting per interruption episode. */
    if (t->has_pending_interruptions && !j->waiting) {
        j->waiting = true;
        w->st.waiting++;
        of_info("job waiting release=%s job=%s task=%s (interruption pending)", j->job.release_id,
                j->job.job_id, j->task_id);
        wk_emit(w, j, OF_EV_JOB_WAITING,
                "the task waits for a manual intervention or guided "
                "failure",
                false);
    } else if (!t->has_pending_interruptions) {
        j->waiting = false;
    }
    /* The stage was approved in octofleet: its manual interventions are answered "Proceed" in
     * the approver's name (docs/gating.md, "Approvals"). */
    if (t->has_pending_interruptions && j->job.approved_by) answer_approval(j);
    /* Policy timeout, measured from the task's StartTime: time spent queued behind the task cap
     * is not the deployment's fault. */
    if (j->cancel_sent) {
        if (of_now_ms() - j->cancel_at_ms > WK_CANCEL_GRACE_MS)
            job_finish(j, OF_EV_JOB_TIMED_OUT,
                       "timed out after %lld s (policy timeout); the task is still %s %d s after "
                       "it was cancelled",
                       (long long)j->job.timeout_s, of_octo_task_state_name(t->state),
                       WK_CANCEL_GRACE_MS / 1000);
        return;
    }
    if (j->job.timeout_s <= 0 || t->start_time_ms < 0) return;
    if (of_wall_ms() - t->start_time_ms <= j->job.timeout_s * 1000) return;
    if (!j->job.cancel_on_timeout) {
        job_finish(j, OF_EV_JOB_TIMED_OUT,
                   "timed out after %lld s (policy timeout); the task was left running",
                   (long long)j->job.timeout_s);
        return;
    }
    of_warn("job timed out release=%s job=%s task=%s timeout_s=%lld: cancelling the task",
            j->job.release_id, j->job.job_id, j->task_id, (long long)j->job.timeout_s);
    j->cancel_sent = true;
    j->cancel_at_ms = of_now_ms();
    wk_job_ref(j);
    of_err rc = of_octo_cancel_task_async(w->octo, j->job.space.id, j->task_id, on_cancelled, j, es,
                                          sizeof(es));
    if (rc) {
        wk_job_unref(j);
        job_finish(j, OF_EV_JOB_TIMED_OUT,
                   "timed out after %lld s (policy timeout); cancelling the task failed: %s",
                   (long long)j->job.timeout_s, es);
    }
}

/* The answer to the job's manual interventions: job.answered per interruption (the audit), and
 * a fresh look at the task at the next tick, which now runs on. A failed try is logged and
 * tried again after a poll interval, while the task still waits. */
static void on_answered(void *opaque, of_err err, const char *errstr, of_octo_answered_list *res)
{
    wk_job *j = opaque;
    of_worker *w = j->w;
    j->answering = false;
    if (err) {
        j->answer_after_ms = of_now_ms() + w->poll_interval_ms;
        of_warn("cannot answer the manual intervention of job=%s task=%s (tried again while it "
                "waits): %s",
                j->job.job_id, j->task_id, errstr);
    } else {
        for (size_t i = 0; i < res->n; i++) {
            char msg[700], title[300] = "";
            if (res->items[i].title) snprintf(title, sizeof title, " (%s)", res->items[i].title);
            snprintf(msg, sizeof msg, "%s%s answered Proceed for %s%s%s", res->items[i].id, title,
                     j->job.approved_by, j->job.approval_reason ? ": " : "",
                     j->job.approval_reason ? j->job.approval_reason : "");
            of_info("job answered release=%s job=%s task=%s interruption=%s by=%s",
                    j->job.release_id, j->job.job_id, j->task_id, res->items[i].id,
                    j->job.approved_by);
            wk_emit_as(w, j, OF_EV_JOB_ANSWERED, msg, false, res->items[i].id, j->job.approved_by);
        }
        if (res->n) j->recheck = true;
        /* only other kinds wait (a guided failure: octofleet guide answers it): look again
         * later, not at every poll */
        if (!res->n) j->answer_after_ms = of_now_ms() + 10 * w->poll_interval_ms;
    }
    wk_job_unref(j);
}

static void answer_approval(wk_job *j)
{
    of_worker *w = j->w;
    if (j->answering || !j->task_id || of_now_ms() < j->answer_after_ms) return;
    char notes[700], es[512];
    snprintf(notes, sizeof notes, "Approved in octofleet by %s%s%s", j->job.approved_by,
             j->job.approval_reason ? ": " : "",
             j->job.approval_reason ? j->job.approval_reason : "");
    of_octo_answer a = {"ManualIntervention", "Result", "Proceed", notes};
    j->answering = true;
    wk_job_ref(j);
    if (of_octo_answer_interruptions_async(w->octo, j->job.space.id, j->task_id, &a, on_answered, j,
                                           es, sizeof es) != OF_OK) {
        j->answering = false;
        j->answer_after_ms = of_now_ms() + w->poll_interval_ms;
        wk_job_unref(j);
        of_warn("cannot answer the manual intervention of job=%s task=%s: %s", j->job.job_id,
                j->task_id, es);
    }
}

static void on_cancelled(void *opaque, of_err err, const char *errstr, of_octo_task *t)
{
    wk_job *j = opaque;
    if (actionable(j) && j->state == WK_FOLLOWING) {
        if (err)
            job_finish(j, OF_EV_JOB_TIMED_OUT,
                       "timed out after %lld s (policy timeout); cancelling the task failed: %s",
                       (long long)j->job.timeout_s, errstr);
        else
            apply_task(j, t, false); /* a queued task is Canceled at once */
    }
    wk_job_unref(j);
}

/* The server answered for the job's task in a form the client could not decode. The client
 * logs that itself (rate-limited) and says when to stop waiting (give_up: unreadable for
 * octopus task_unreadable_ms and OF_OCTO_UNREADABLE_POLLS polls); until then the job keeps
 * its state and the next round asks again. */
static void apply_unreadable(wk_job *j, const of_octo_task *t)
{
    j->missing = 0; /* the server did answer for it */
    if (!t->give_up) return;
    job_finish(j, OF_EV_JOB_FAILED,
               "task %s could not be read for %lld s (%d polls in a row), giving up: %s",
               j->task_id, (long long)(t->unreadable_ms / 1000), t->unreadable_polls,
               t->problem ? t->problem : "no reason given");
}

/* ---- reading tasks ---- */

/* A failed round is logged at most about once a minute, with the running count. */
#define WK_ROUND_WARN_EVERY_MS (60 * 1000)
/* The safety net's "found what the feed did not report" line: at most once per interval. */
#define WK_NET_LOG_EVERY_MS (60 * 1000)

typedef struct wk_round {
    of_worker *w;
    wk_job **jobs;    /* referenced */
    const char **ids; /* borrowed from jobs[i]->task_id (the references keep them alive) */
    size_t n;
    bool full; /* the round of every in-flight task */
} wk_round;

static void round_free(wk_round *r)
{
    for (size_t i = 0; i < r->n; i++)
        wk_job_unref(r->jobs[i]);
    free(r->jobs);
    free(r->ids);
    free(r);
}

/* The safety net found a finish (or a wait) the feed did not report: dropped or late events.
 * Counted always, logged at most once a minute with the count in between. */
static void net_found(of_worker *w, const wk_job *j, const char *what)
{
    w->st.net_found++;
    int64_t now = of_now_ms();
    if (w->net_log_ms && now - w->net_log_ms < WK_NET_LOG_EVERY_MS) {
        w->net_unlogged++;
        return;
    }
    of_info("safety net: task %s %s but the event feed did not report it (dropped or late "
            "event) job=%s found_so_far=%llu unlogged=%llu",
            j->task_id, what, j->job.job_id, (unsigned long long)w->st.net_found,
            (unsigned long long)w->net_unlogged);
    w->net_log_ms = now;
    w->net_unlogged = 0;
}

static void on_round(void *opaque, of_err err, const char *errstr, of_octo_task_list *res)
{
    wk_round *r = opaque;
    of_worker *w = r->w;
    if (r->full) {
        OF_ASSERT(w->rounds_pending > 0);
        w->rounds_pending--;
    }
    if (!w->closing) {
        if (err) {
            /* A bad reply (protocol error, server down past the retry deadline) fails this round
             * only; the jobs stay and the next round asks again. */
            uint64_t every = w->poll_interval_ms > 0
                                 ? (uint64_t)(WK_ROUND_WARN_EVERY_MS / w->poll_interval_ms)
                                 : 1;
            if (every < 1) every = 1;
            if (w->st.poll_errors++ % every == 0)
                of_warn("task poll round failed for %zu task(s), retrying next round "
                        "(failed_rounds=%llu so far): %s",
                        r->n, (unsigned long long)w->st.poll_errors, errstr);
        } else {
            w->st.tasks_polled += r->n;
            for (size_t i = 0; i < r->n && i < res->n; i++) {
                wk_job *j = r->jobs[i];
                if (!j->live || j->state != WK_FOLLOWING) continue;
                bool was_waiting = j->waiting;
                if (res->items[i].unreadable)
                    apply_unreadable(j, &res->items[i]);
                else
                    apply_task(j, &res->items[i], true);
                if (!r->full || !w->use_feed || !res->items[i].found) continue;
                if (of_octo_task_state_is_final(res->items[i].state))
                    net_found(w, j, of_octo_task_state_name(res->items[i].state));
                else if (!was_waiting && j->live && j->waiting)
                    net_found(w, j, "waits for an interruption");
            }
        }
    }
    round_free(r);
}

static int cmp_space(const void *a, const void *b)
{
    const wk_job *x = *(wk_job *const *)a, *y = *(wk_job *const *)b;
    return strcmp(x->job.space.id, y->job.space.id);
}

void wk_read_tasks(of_worker *w, wk_job **list, size_t n, bool full)
{
    if (n == 0) return;
    /* One request batch per space (jobs name their space; normally there is one). */
    qsort(list, n, sizeof(*list), cmp_space);
    w->st.poll_rounds++;
    if (full) w->st.net_rounds++;
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && strcmp(list[e]->job.space.id, list[s]->job.space.id) == 0)
            e++;
        wk_round *r = calloc(1, sizeof(*r));
        size_t cnt = e - s;
        if (r) {
            r->jobs = malloc(cnt * sizeof(*r->jobs));
            r->ids = malloc(cnt * sizeof(*r->ids));
        }
        if (!r || !r->jobs || !r->ids) {
            if (r) round_free(r);
            of_error("task poll round: out of memory");
            break;
        }
        r->w = w;
        r->full = full;
        for (size_t i = 0; i < cnt; i++) {
            r->jobs[i] = list[s + i];
            r->ids[i] = list[s + i]->task_id;
            wk_job_ref(r->jobs[i]);
        }
        r->n = cnt;
        char es[600];
        of_err rc = of_octo_get_tasks_async(w->octo, list[s]->job.space.id, r->ids, cnt, on_round,
                                            r, es, sizeof(es));
        if (rc) {
            w->st.poll_errors++;
            of_warn("task poll round not started for %zu task(s): %s", cnt, es);
            round_free(r);
        } else if (full) {
            w->rounds_pending++;
        }
        s = e;
    }
}
