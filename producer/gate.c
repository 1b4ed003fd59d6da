/* The stage gate. See gate.h for the contract and docs/gating.md for the rules. */
#include "gate.h"
#include "plan.h"

#include "buf.h"
#include "clock.h"
#include "strpool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lists inside events are capped so an event stays far below Kafka's 1 MB message limit
 * even when 10,000 tenants fail at once; the counters carry the totals. */
#define EVENT_JOBS_MAX 100

typedef struct group {
    size_t *jobs; /* indices into g->jobs, in plan order */
    size_t n;
    size_t count[OF_JOB_STATUS__COUNT];
    /* for policy.proceed (kept only when it is set): */
    size_t unrun;  /* skipped without having run (by the plan or by quarantine) */
    size_t u_fail; /* untenanted jobs in a failure state: never let through */
} group;

/* A lane (gate "tenant"): one tenant's jobs in one environment. */
typedef struct lane {
    size_t env;
    size_t first, n; /* its jobs: g->lane_jobs[first .. first + n), in plan order */
    size_t cur;      /* 0-based stage it is in: the first with one of its own jobs or an
                      * untenanted job of its environment not yet succeeded/skipped;
                      * stage_count once it has passed them all */
    bool dirty;      /* cur moved since its pending jobs were last looked at */
} lane;

#define NO_LANE ((size_t)-1)

typedef struct id_entry {
    const char *id; /* points into g->jobs[idx].job.job_id */
    size_t idx;
} id_entry;

struct of_gate {
    of_release_record hdr; /* owned copy; status, round and stage_status are live state */
    /* jobs[i].job's strings (names, ids, versions) are borrowed from `strings`: they never
     * change and repeat across jobs; skip_reason, deployment_id and task_id change with
     * events and are each job's own. */
    of_strpool *strings;
    of_job_record *jobs;
    size_t n_jobs;
    size_t *env_of;  /* [n_jobs] environment index */
    id_entry *by_id; /* sorted by id */
    group *groups;   /* [stage_count * n_environments] */
    size_t count[OF_JOB_STATUS__COUNT];
    bool *marked; /* [n_jobs]: already in out->changed_jobs for the current input */

    /* Lanes, gate "tenant" only (lanes == NULL otherwise). All of it is derived from the job
     * statuses when the gate is built, so a gate loaded from records has the same lanes. */
    lane *lanes; /* sorted by environment, then tenant */
    size_t n_lanes;
    size_t *lane_jobs; /* job indices, lane after lane */
    size_t *lane_of;   /* [n_jobs] lane index, NO_LANE for an untenanted job */
    size_t *lane_open; /* [n_lanes * stage_count] own jobs not yet succeeded/skipped */
    size_t *lanes_at;  /* [n_environments * (stage_count + 1)] lanes of env e with cur s */
    size_t *u_open;    /* [groups] untenanted jobs not yet succeeded/skipped */
    size_t *u_pending; /* [groups] untenanted jobs still pending */
    size_t *env_lane0; /* [n_environments + 1]: env e's lanes are [env_lane0[e], [e + 1]) */
    size_t *dirty;     /* lanes with dirty set, n_dirty of them */
    size_t n_dirty;
    bool rescan; /* look at every lane at the next decision (a gate just built) */
    /* Approvals (hdr.approval_required, hdr.approvals): [stage_count + 1], [0] the release's;
     * asked: stage.approval_required was emitted by this gate (again after a restart: same
     * event id) */
    bool *asked;
    bool hold; /* of_gate_hold_dispatches: dispatch() holds jobs for the task budget */

    /* policy.stage_deadline (gate.h, of_gate_tick): per group, the wall ms it started (0: not
     * yet; rebuilt from the jobs' dispatch times on load) and whether its deadline passed */
    int64_t *started_ms;
    bool *dl_passed;
    /* Quarantine (docs/gating.md, "Success-ratio gates and quarantine"), only when some stage's
     * policy.proceed lets failures through (q_on). Like the lanes it is derived from the job
     * records (status, attempt, the "quarantined" flag), so a rebuilt gate has the same. The
     * (environment, tenant) groups are the lanes in lane mode, built alike for the barrier. */
    bool q_on;
    lane *tg; /* (environment, tenant) groups: borrowed from lanes in lane mode */
    size_t n_tg;
    size_t *tg_jobs; /* job indices, group after group (lane_jobs in lane mode) */
    size_t *tg_of;   /* [n_jobs] group index, NO_LANE untenanted (lane_of in lane mode) */
    size_t *tg_quar; /* [n_tg] jobs of the group skipped by quarantine */
    size_t *q_dirty; /* tenant groups to look at in the next decision */
    size_t n_q_dirty;
    bool *q_marked;     /* [n_tg] in q_dirty */
    bool q_rescan;      /* look at every tenant group (built, or a failure went away) */
    size_t u_fail;      /* untenanted jobs of the release in a failure state */
    size_t lane_den;    /* lanes: tenanted jobs the plan did not skip */
    size_t *lane_failc; /* lanes: [n_lanes * stage_count] own jobs in a failure state */
    bool lane_tol;      /* lanes: the release's failures are within its allowance */
};

static int64_t deadline_at(const of_gate *g, size_t gi);

/* ---------------------------------------------------------------------------------- */
/* small helpers */

static size_t n_stages(const of_gate *g)
{
    return (size_t)g->hdr.stage_count;
}

static size_t gidx(const of_gate *g, size_t stage0, size_t env)
{
    return stage0 * g->hdr.n_environments + env;
}

static group *group_of(of_gate *g, size_t job)
{
    return &g->groups[gidx(g, (size_t)g->jobs[job].job.stage - 1, g->env_of[job])];
}

static size_t in_flight_of(const size_t *count)
{
    return count[OF_JOB_DISPATCHED] + count[OF_JOB_STARTED] + count[OF_JOB_WAITING];
}

static size_t failures_of(const size_t *count)
{
    return count[OF_JOB_FAILED] + count[OF_JOB_CANCELLED] + count[OF_JOB_TIMED_OUT];
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

void of_gate_out_clear(of_gate_out *out)
{
    if (!out) return;
    for (size_t i = 0; i < out->n_dispatch; i++)
        of_job_clear(&out->dispatch[i]);
    free(out->dispatch);
    for (size_t i = 0; i < out->n_events; i++)
        of_event_clear(&out->events[i]);
    free(out->events);
    for (size_t i = 0; i < out->n_cancel; i++)
        of_job_ref_clear(&out->cancel[i]);
    free(out->cancel);
    free(out->changed_jobs);
    memset(out, 0, sizeof *out);
}

/* One input's working context. */
typedef struct step {
    of_gate *g;
    of_gate_out *out;
    int64_t now;
    size_t changed_from; /* out->n_changed when the input began */
    of_err rc;           /* first allocation failure */
} step;

static void mark_changed(step *s, size_t idx)
{
    if (s->g->marked[idx]) return;
    of_gate_out *o = s->out;
    if (of_grow((void **)&o->changed_jobs, &o->cap_changed, o->n_changed, sizeof(size_t))) {
        s->rc = OF_ERR_NOMEM;
        return;
    }
    o->changed_jobs[o->n_changed++] = idx;
    s->g->marked[idx] = true;
    s->g->jobs[idx].updated_ms = s->now;
}

static void end_step(step *s)
{
    for (size_t i = s->changed_from; i < s->out->n_changed; i++)
        s->g->marked[s->out->changed_jobs[i]] = false;
}

/* ---------------------------------------------------------------------------------- */
/* lanes: the bookkeeping (the decisions are in lanes_advance) */

static size_t lane_stage(const of_gate *g, size_t l)
{
    const lane *ln = &g->lanes[l];
    size_t ns = n_stages(g);
    for (size_t st = 0; st < ns; st++) {
        /* failures the release lets through do not hold their lane: it is quarantined */
        size_t open = g->lane_open[l * ns + st] - (g->lane_tol ? g->lane_failc[l * ns + st] : 0);
        if (open || g->u_open[gidx(g, st, ln->env)]) return st;
    }
    return ns;
}

/* Re-derives lane l's stage; a lane that moved is looked at by the next decision. */
static void lane_refresh(of_gate *g, size_t l)
{
    lane *ln = &g->lanes[l];
    size_t cur = lane_stage(g, l), row = ln->env * (n_stages(g) + 1);
    if (cur == ln->cur) return;
    g->lanes_at[row + ln->cur]--;
    g->lanes_at[row + cur]++;
    ln->cur = cur;
    if (!ln->dirty) {
        ln->dirty = true;
        g->dirty[g->n_dirty++] = l;
    }
}

/* Job idx went from status `from` to `to`: update its lane, or every lane of its environment
 * for an untenanted job. */
static void lane_note(of_gate *g, size_t idx, of_job_status from, of_job_status to)
{
    size_t st = (size_t)g->jobs[idx].job.stage - 1, env = g->env_of[idx];
    size_t gi = gidx(g, st, env), l = g->lane_of[idx];
    bool was = of_job_status_is_done_ok(from), is = of_job_status_is_done_ok(to);
    if (l != NO_LANE) {
        bool wf = of_job_status_is_failure(from), isf = of_job_status_is_failure(to);
        if (g->lane_failc && wf != isf) {
            size_t *fc = &g->lane_failc[l * n_stages(g) + st];
            if (isf)
                (*fc)++;
            else
                (*fc)--;
            if (g->lane_tol) lane_refresh(g, l);
        }
        if (was == is) return;
        size_t *open = &g->lane_open[l * n_stages(g) + st];
        if (is)
            (*open)--;
        else
            (*open)++;
        lane_refresh(g, l);
        return;
    }
    if (from == OF_JOB_PENDING) g->u_pending[gi]--;
    if (to == OF_JOB_PENDING) g->u_pending[gi]++;
    if (was == is) return;
    if (is)
        g->u_open[gi]--;
    else
        g->u_open[gi]++;
    for (size_t k = g->env_lane0[env]; k < g->env_lane0[env + 1]; k++)
        lane_refresh(g, k);
}

/* ---------------------------------------------------------------------------------- */
/* quarantine: the bookkeeping (the decisions are in quarantine_pass) */

/* Skipped without having run: by the plan, or by quarantine. Such a job is no target of its
 * stage's allowance. */
static bool unrun(of_job_status st, const of_job_record *r)
{
    return st == OF_JOB_SKIPPED && r->job.attempt == 0;
}

/* Adds (sign +1) or removes (-1) job idx's share of the quarantine counters, as if its status
 * were st (the caller's before or after). */
static void q_count(of_gate *g, size_t idx, of_job_status st, int sign)
{
    const of_job_record *r = &g->jobs[idx];
    group *gr = group_of(g, idx);
    size_t d = (size_t)(sign > 0 ? 1 : -1); /* wraps to subtract */
    if (unrun(st, r)) gr->unrun += d;
    if (g->tg_of[idx] == NO_LANE && of_job_status_is_failure(st)) {
        gr->u_fail += d;
        g->u_fail += d;
    }
    if (r->quarantined && g->tg_of[idx] != NO_LANE) g->tg_quar[g->tg_of[idx]] += d;
}

static void q_dirty(of_gate *g, size_t t)
{
    if (t == NO_LANE || g->q_marked[t]) return;
    g->q_marked[t] = true;
    g->q_dirty[g->n_q_dirty++] = t;
}

/* Job idx went from `from` to `to` (its status is already `to`). A new failure may quarantine
 * its tenant; a quarantined tenant's job that ends well may release it; a failure that goes
 * away may bring another tenant's failure (or, with lanes, the release's) within the allowance. */
static void q_note(of_gate *g, size_t idx, of_job_status from, of_job_status to)
{
    q_count(g, idx, from, -1);
    q_count(g, idx, to, +1);
    size_t t = g->tg_of[idx];
    if (of_job_status_is_failure(to)) q_dirty(g, t);
    if (of_job_status_is_failure(from)) g->q_rescan = true;
    if (t != NO_LANE && g->tg_quar[t] && of_job_status_is_done_ok(to)) q_dirty(g, t);
}

static void set_status(step *s, size_t idx, of_job_status st)
{
    of_gate *g = s->g;
    of_job_record *r = &g->jobs[idx];
    if (r->status == st) return;
    of_job_status from = r->status;
    if (st != OF_JOB_DISPATCHED) r->held = false; /* only a dispatched job waits for a slot */
    group *gr = group_of(g, idx);
    gr->count[r->status]--;
    g->count[r->status]--;
    r->status = st;
    gr->count[st]++;
    g->count[st]++;
    if (g->lanes) lane_note(g, idx, from, st);
    if (g->q_on) q_note(g, idx, from, st);
    mark_changed(s, idx);
}

static void set_str(step *s, char **dst, const char *src)
{
    if (!src) return;
    char *d = strdup(src);
    if (!d) {
        s->rc = OF_ERR_NOMEM;
        return;
    }
    free(*dst);
    *dst = d;
}

static of_event *new_event(step *s, of_event_type type)
{
    of_gate_out *o = s->out;
    if (of_grow((void **)&o->events, &o->cap_events, o->n_events, sizeof(of_event))) {
        s->rc = OF_ERR_NOMEM;
        return NULL;
    }
    of_event *ev = &o->events[o->n_events++];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->time_ms = s->now;
    of_id_copy(ev->release_id, s->g->hdr.release_id);
    ev->round = s->g->hdr.round;
    ev->stage_count = s->g->hdr.stage_count;
    of_err rc = OF_OK;
    ev->source = of_strdup_or_null(OF_SOURCE_PRODUCER, &rc);
    ev->release_name = of_strdup_or_null(s->g->hdr.release_name, &rc);
    if (rc) s->rc = rc;
    return ev;
}

/* Finishes an event: the id is derived from content, so call after filling it. */
static void seal(of_event *ev)
{
    if (ev) of_event_set_id(ev);
}

static void fill_counts(of_event *ev, const size_t *count, size_t total)
{
    ev->n_total = (int)total;
    ev->n_succeeded = (int)count[OF_JOB_SUCCEEDED];
    ev->n_failed = (int)failures_of(count);
    ev->n_skipped = (int)count[OF_JOB_SKIPPED];
}

static void fill_job_ref(step *s, of_job_ref *jr, size_t idx)
{
    const of_job_record *r = &s->g->jobs[idx];
    of_err rc = OF_OK;
    of_id_copy(jr->job_id, r->job.job_id);
    jr->stage = r->job.stage;
    jr->attempt = r->job.attempt;
    jr->status = r->status;
    jr->project = of_strdup_or_null(r->job.project.name, &rc);
    jr->environment = of_strdup_or_null(r->job.environment.name, &rc);
    jr->tenant = of_strdup_or_null(r->job.tenant.name, &rc);
    jr->task_id = of_strdup_or_null(r->task_id, &rc);
    if (rc) s->rc = rc;
}

static void job_event(step *s, of_event_type type, size_t idx, const char *message)
{
    const of_job_record *r = &s->g->jobs[idx];
    of_event *ev = new_event(s, type);
    if (!ev) return;
    of_err rc = OF_OK;
    ev->stage = r->job.stage;
    ev->stage_name = of_strdup_or_null(r->job.stage_name, &rc);
    ev->environment = of_strdup_or_null(r->job.environment.name, &rc);
    of_id_copy(ev->job_id, r->job.job_id);
    ev->attempt = r->job.attempt;
    ev->project = of_strdup_or_null(r->job.project.name, &rc);
    ev->tenant = of_strdup_or_null(r->job.tenant.name, &rc);
    ev->message = of_strdup_or_null(message, &rc);
    if (rc) s->rc = rc;
    seal(ev);
}

static void stage_event(step *s, of_event_type type, size_t stage0, size_t env)
{
    of_gate *g = s->g;
    const group *gr = &g->groups[gidx(g, stage0, env)];
    of_event *ev = new_event(s, type);
    if (!ev) return;
    of_err rc = OF_OK;
    ev->stage = (int)stage0 + 1;
    ev->stage_name = of_strdup_or_null(g->hdr.stage_names ? g->hdr.stage_names[stage0] : NULL, &rc);
    ev->environment = of_strdup_or_null(g->hdr.environments[env].name, &rc);
    if (rc) s->rc = rc;
    fill_counts(ev, gr->count, gr->n);
    seal(ev);
}

/* Release-level event; jobs listed are those with a status in `list` (capped). */
static of_event *release_event(step *s, of_event_type type, const char *by, const char *reason,
                               bool (*list)(of_job_status))
{
    of_gate *g = s->g;
    of_event *ev = new_event(s, type);
    if (!ev) return NULL;
    of_err rc = OF_OK;
    ev->by = of_strdup_or_null(by, &rc);
    ev->message = of_strdup_or_null(reason, &rc);
    if (rc) s->rc = rc;
    fill_counts(ev, g->count, g->n_jobs);
    if (list) {
        size_t n = 0;
        for (size_t i = 0; i < g->n_jobs; i++)
            if (list(g->jobs[i].status)) n++;
        if (n > EVENT_JOBS_MAX) n = EVENT_JOBS_MAX;
        if (n) {
            ev->jobs = calloc(n, sizeof *ev->jobs);
            if (!ev->jobs) {
                s->rc = OF_ERR_NOMEM;
            } else {
                for (size_t i = 0; i < g->n_jobs && ev->n_jobs < n; i++)
                    if (list(g->jobs[i].status)) fill_job_ref(s, &ev->jobs[ev->n_jobs++], i);
            }
        }
    }
    seal(ev);
    return ev;
}

static bool is_in_flight(of_job_status st)
{
    return st == OF_JOB_DISPATCHED || st == OF_JOB_STARTED || st == OF_JOB_WAITING;
}

static void emit_dispatch(step *s, size_t idx);
static void not_started(step *s, size_t idx);

static void dispatch(step *s, size_t idx)
{
    of_gate *g = s->g;
    of_job_record *r = &g->jobs[idx];
    /* a first attempt whose stage deadline passed does not start (of_gate_tick) */
    if (r->job.attempt == 0 && g->dl_passed[gidx(g, (size_t)r->job.stage - 1, g->env_of[idx])]) {
        not_started(s, idx);
        return;
    }
    r->job.attempt++;
    r->job.dispatched_ms = s->now;
    /* a new attempt starts clean: the previous attempt's Octopus handles are history */
    free(r->deployment_id);
    free(r->task_id);
    free(r->skip_reason);
    r->deployment_id = r->task_id = r->skip_reason = NULL;
    set_status(s, idx, OF_JOB_DISPATCHED);
    mark_changed(s, idx);
    /* With hold on, decided but not yet sent: of_gate_release_held sends it when the task
     * budget has room. */
    r->held = g->hold;
    if (r->held) return;
    emit_dispatch(s, idx);
}

/* The dispatch a job's status already says: the job for its stage topic and job.dispatched. */
/* When group gi's stage deadline is (0: none yet): the request's time, or its start plus the
 * request's duration. */
static int64_t deadline_at(const of_gate *g, size_t gi)
{
    if (g->hdr.stage_deadline_at_ms) return g->hdr.stage_deadline_at_ms;
    if (!g->hdr.stage_deadline_ms || !g->started_ms[gi]) return 0;
    return g->started_ms[gi] + g->hdr.stage_deadline_ms;
}

/* The job's not-after time for the worker: policy.queue_time_expiry, and for a first attempt
 * also its stage deadline (the earlier of the two). A worker that picks the job up later does
 * not create the deployment (job.failed "deadline passed"). */
static void job_deadline(of_gate *g, size_t idx)
{
    of_job *j = &g->jobs[idx].job;
    int64_t qte = 0;
    if (!j->queue_time_expiry || of_parse_rfc3339(j->queue_time_expiry, &qte) != 0) qte = 0;
    int64_t dl =
        j->attempt == 1 ? deadline_at(g, gidx(g, (size_t)j->stage - 1, g->env_of[idx])) : 0;
    j->deadline_ms = qte && (!dl || qte < dl) ? qte : dl;
}

/* The approval a job of stage (1-based) carries to its worker: the stage's own, else the
 * release's; NULL when neither was given. */
static const of_approval *covering_approval(const of_gate *g, size_t stage)
{
    const of_approval *a = g->hdr.approvals;
    if (!a) return NULL;
    if (a[stage].by) return &a[stage];
    return a[0].by ? &a[0] : NULL;
}

static bool approval_missing(const of_gate *g, size_t a)
{
    return g->hdr.approval_required && g->hdr.approval_required[a] &&
           !(g->hdr.approvals && g->hdr.approvals[a].by);
}

/* May stage st0 (0-based) start, as far as approvals go: the release's (policy.approval) and
 * the stage's own are given. The first approval missing is asked for once per gate
 * (stage.approval_required; stage 0 = the release). */
static bool approved(step *s, size_t st0)
{
    of_gate *g = s->g;
    size_t want[2] = {0, st0 + 1};
    for (size_t k = 0; k < 2; k++) {
        size_t a = want[k];
        if (!approval_missing(g, a)) continue;
        if (!g->asked[a]) {
            g->asked[a] = true;
            of_event *ev = new_event(s, OF_EV_STAGE_APPROVAL_REQUIRED);
            if (ev) {
                char msg[200];
                of_err rc = OF_OK;
                ev->stage = (int)a;
                if (a && g->hdr.stage_names)
                    ev->stage_name = of_strdup_or_null(g->hdr.stage_names[a - 1], &rc);
                if (a)
                    (void)snprintf(msg, sizeof msg,
                                   "stage %zu waits for approval: octofleet approve %s --stage %zu",
                                   a, g->hdr.release_id, a);
                else
                    (void)snprintf(msg, sizeof msg,
                                   "the release waits for approval: octofleet approve %s",
                                   g->hdr.release_id);
                ev->message = of_strdup_or_null(msg, &rc);
                if (rc) s->rc = rc;
                seal(ev);
            }
        }
        return false;
    }
    return true;
}

static void emit_dispatch(step *s, size_t idx)
{
    of_job_record *r = &s->g->jobs[idx];
    of_gate_out *o = s->out;
    job_deadline(s->g, idx);
    if (of_grow((void **)&o->dispatch, &o->cap_dispatch, o->n_dispatch, sizeof(of_job))) {
        s->rc = OF_ERR_NOMEM;
        return;
    }
    if (of_job_copy(&o->dispatch[o->n_dispatch], &r->job) != OF_OK) {
        s->rc = OF_ERR_NOMEM;
        return;
    }
    const of_approval *a = covering_approval(s->g, (size_t)r->job.stage);
    if (a) {
        of_err rc = OF_OK;
        o->dispatch[o->n_dispatch].approved_by = of_strdup_or_null(a->by, &rc);
        o->dispatch[o->n_dispatch].approval_reason = of_strdup_or_null(a->reason, &rc);
        if (rc) s->rc = rc;
    }
    o->n_dispatch++;
    job_event(s, OF_EV_JOB_DISPATCHED, idx, NULL);
}

/* A first attempt that must not start because its stage deadline passed: attempt 1, cancelled
 * with the reason, job.cancelled. Replay re-dispatches it (attempt 2, no deadline); resume
 * accepts it as skipped. */
static void not_started(step *s, size_t idx)
{
    of_gate *g = s->g;
    of_job_record *r = &g->jobs[idx];
    char why[96], when[40];
    (void)snprintf(why, sizeof why, "%s %s", OF_DEADLINE_REASON,
                   of_rfc3339(deadline_at(g, gidx(g, (size_t)r->job.stage - 1, g->env_of[idx])),
                              when, sizeof when));
    r->held = false;
    if (r->job.attempt == 0) r->job.attempt = 1;
    set_str(s, &r->skip_reason, why);
    set_status(s, idx, OF_JOB_CANCELLED);
    mark_changed(s, idx);
    job_event(s, OF_EV_JOB_CANCELLED, idx, why);
}

static void set_stage(step *s, size_t stage0, size_t env, of_stage_status st)
{
    size_t gi = gidx(s->g, stage0, env);
    of_stage_status *p = &s->g->hdr.stage_status[gi];
    if (st == OF_STAGE_RUNNING && !s->g->started_ms[gi]) s->g->started_ms[gi] = s->now;
    if (*p == st) return;
    *p = st;
    s->out->release_changed = true;
}

/* How many failed jobs p lets through among n targets. */
static size_t allowance(const of_proceed *p, size_t n)
{
    if (p->kind == OF_PROCEED_MAX_FAILURES) return (size_t)p->max_failures;
    if (p->kind != OF_PROCEED_RATIO || n == 0) return 0;
    /* the fewest successes that meet the ratio; the epsilon keeps 0.95 x 200 at 190 */
    double need = p->min_success_ratio * (double)n - 1e-9;
    size_t k = (size_t)need;
    if ((double)k < need) k++;
    return k >= n ? 0 : n - k;
}

/* Whether group gi has jobs its passed stage deadline did not start: those wait for the
 * operator's decision (replay, resume, abort; docs/gating.md), whatever policy.proceed allows. A
 * scan, but only of groups whose deadline passed. */
static bool deadline_leftovers(const of_gate *g, size_t gi)
{
    if (!g->dl_passed[gi]) return false;
    const group *gr = &g->groups[gi];
    size_t rl = strlen(OF_DEADLINE_REASON);
    for (size_t k = 0; k < gr->n; k++) {
        const of_job_record *r = &g->jobs[gr->jobs[k]];
        if (r->status == OF_JOB_CANCELLED && r->skip_reason &&
            strncmp(r->skip_reason, OF_DEADLINE_REASON, rl) == 0)
            return true;
    }
    return false;
}

/* Are group gi's failures (if any) let through? Barrier: its stage's allowance over its jobs
 * that are meant to run (those skipped without running do not count). Lanes: the release's
 * (lane_tol). An untenanted failure never is: there is no tenant to quarantine. */
static bool group_tolerates(const of_gate *g, size_t gi)
{
    const group *gr = &g->groups[gi];
    size_t f = failures_of(gr->count);
    if (!f) return true;
    if (!g->q_on || gr->u_fail || deadline_leftovers(g, gi)) return false;
    if (g->lanes) return g->lane_tol;
    const of_proceed *p = &g->hdr.proceed[gi / g->hdr.n_environments];
    return f <= allowance(p, gr->n - gr->unrun);
}

/* Lanes: the release as a whole is within its allowance (policy.proceed) over the tenanted
 * jobs the plan did not skip, with no untenanted failure and no stage deadline's leftovers. */
static bool lanes_tolerate(const of_gate *g)
{
    size_t f = failures_of(g->count);
    if (!f) return true;
    if (!g->q_on || g->u_fail || f > allowance(&g->hdr.proceed[0], g->lane_den)) return false;
    for (size_t gi = 0; gi < n_stages(g) * g->hdr.n_environments; gi++)
        if (deadline_leftovers(g, gi)) return false;
    return true;
}

/* Is there a failure that policy.proceed does not let through (which blocks as before)? */
static bool blocking_failure(const of_gate *g)
{
    if (!failures_of(g->count)) return false;
    if (!g->q_on) return true;
    if (g->lanes) return !g->lane_tol;
    for (size_t k = 0; k < n_stages(g) * g->hdr.n_environments; k++)
        if (!group_tolerates(g, k)) return true;
    return false;
}

/* Re-derives a started group's status from its job counts; emits stage.succeeded /
 * stage.failed when a group settles. */
static void settle_group(step *s, size_t stage0, size_t env)
{
    of_gate *g = s->g;
    size_t gi = gidx(g, stage0, env);
    group *gr = &g->groups[gi];
    of_stage_status cur = g->hdr.stage_status[gi];
    if (cur == OF_STAGE_PENDING) return;
    if (in_flight_of(gr->count) || gr->count[OF_JOB_PENDING]) {
        set_stage(s, stage0, env, OF_STAGE_RUNNING);
    } else if (failures_of(gr->count) && !group_tolerates(g, gi)) {
        if (cur != OF_STAGE_FAILED) {
            set_stage(s, stage0, env, OF_STAGE_FAILED);
            stage_event(s, OF_EV_STAGE_FAILED, stage0, env);
        }
    } else if (cur != OF_STAGE_SUCCEEDED) {
        set_stage(s, stage0, env, OF_STAGE_SUCCEEDED);
        stage_event(s, OF_EV_STAGE_SUCCEEDED, stage0, env);
    }
}

static void start_group(step *s, size_t stage0, size_t env)
{
    of_gate *g = s->g;
    group *gr = &g->groups[gidx(g, stage0, env)];
    set_stage(s, stage0, env, OF_STAGE_RUNNING);
    stage_event(s, OF_EV_STAGE_STARTED, stage0, env);
    for (size_t k = 0; k < gr->n && !s->rc; k++)
        if (g->jobs[gr->jobs[k]].status == OF_JOB_PENDING) dispatch(s, gr->jobs[k]);
    settle_group(s, stage0, env); /* no jobs / only skipped: passes at once */
}

/* May the untenanted jobs of stage st0 (0-based) in env start? Once every lane of env has
 * passed the stages before it, which includes their untenanted jobs; with no lanes at all,
 * once those untenanted jobs are done: a barrier of their own. */
static bool untenanted_may_start(const of_gate *g, size_t st0, size_t env)
{
    const size_t *at = &g->lanes_at[env * (n_stages(g) + 1)];
    for (size_t k = 0; k < st0; k++)
        if (at[k] || g->u_open[gidx(g, k, env)]) return false;
    return true;
}

static int idx_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Appends lane l's pending jobs of the stage it is in to *todo. */
static void lane_collect(step *s, size_t l, size_t **todo, size_t *n, size_t *cap)
{
    of_gate *g = s->g;
    const lane *ln = &g->lanes[l];
    if (ln->cur < n_stages(g) && !approved(s, ln->cur)) return;
    for (size_t k = ln->first; k < ln->first + ln->n && !s->rc; k++) {
        size_t j = g->lane_jobs[k];
        if ((size_t)g->jobs[j].job.stage - 1 != ln->cur || g->jobs[j].status != OF_JOB_PENDING)
            continue;
        if (of_grow((void **)todo, cap, *n, sizeof **todo)) {
            s->rc = OF_ERR_NOMEM;
            return;
        }
        (*todo)[(*n)++] = j;
    }
}

/* Lane mode's dispatching, when the release may dispatch: (1) a (stage, environment) with
 * nothing to dispatch passes once the stage before it there has passed; (2) every lane that
 * moved dispatches its pending jobs of the stage it is in, and untenanted jobs start when
 * every lane of their environment has passed the stage before; all in plan order, with
 * stage.started before a stage's first dispatch. Looking only at lanes that moved keeps an
 * event's decision O(its lane) instead of O(release); a fresh or reloaded gate looks at all. */
static void lanes_advance(step *s)
{
    of_gate *g = s->g;
    of_release_record *h = &g->hdr;
    for (size_t e = 0; e < h->n_environments; e++)
        for (size_t st = 0; st < n_stages(g); st++) {
            size_t gi = gidx(g, st, e);
            if (h->stage_status[gi] != OF_STAGE_PENDING || g->groups[gi].count[OF_JOB_PENDING])
                continue;
            if (st > 0 && h->stage_status[gidx(g, st - 1, e)] != OF_STAGE_SUCCEEDED) continue;
            if (!approved(s, st)) continue;
            set_stage(s, st, e, OF_STAGE_RUNNING);
            stage_event(s, OF_EV_STAGE_STARTED, st, e);
            settle_group(s, st, e);
        }

    size_t *todo = NULL, n = 0, cap = 0;
    if (g->rescan) {
        for (size_t l = 0; l < g->n_lanes; l++)
            lane_collect(s, l, &todo, &n, &cap);
    } else {
        if (g->n_dirty > 1) qsort(g->dirty, g->n_dirty, sizeof *g->dirty, idx_cmp);
        for (size_t k = 0; k < g->n_dirty; k++)
            lane_collect(s, g->dirty[k], &todo, &n, &cap);
    }
    for (size_t k = 0; k < g->n_dirty; k++)
        g->lanes[g->dirty[k]].dirty = false;
    g->n_dirty = 0;
    g->rescan = false;
    for (size_t e = 0; e < h->n_environments && !s->rc; e++)
        for (size_t st = 0; st < n_stages(g) && !s->rc; st++) {
            size_t gi = gidx(g, st, e);
            if (!g->u_pending[gi] || !untenanted_may_start(g, st, e) || !approved(s, st)) continue;
            const group *gr = &g->groups[gi];
            for (size_t k = 0; k < gr->n && !s->rc; k++) {
                size_t j = gr->jobs[k];
                if (g->lane_of[j] != NO_LANE || g->jobs[j].status != OF_JOB_PENDING) continue;
                if (of_grow((void **)&todo, &cap, n, sizeof *todo)) {
                    s->rc = OF_ERR_NOMEM;
                    break;
                }
                todo[n++] = j;
            }
        }
    if (n > 1) qsort(todo, n, sizeof *todo, idx_cmp);
    for (size_t k = 0; k < n && !s->rc; k++) {
        size_t j = todo[k], st = (size_t)g->jobs[j].job.stage - 1, e = g->env_of[j];
        if (h->stage_status[gidx(g, st, e)] == OF_STAGE_PENDING) {
            set_stage(s, st, e, OF_STAGE_RUNNING);
            stage_event(s, OF_EV_STAGE_STARTED, st, e);
        }
        dispatch(s, j);
    }
    free(todo);
}

/* "project/environment/tenant" of job idx, for humans. */
static void job_label(const of_gate *g, size_t idx, char *out, size_t n)
{
    const of_job *j = &g->jobs[idx].job;
    (void)snprintf(out, n, "%.100s/%.100s/%.100s", j->project.name ? j->project.name : "?",
                   j->environment.name ? j->environment.name : "?",
                   j->tenant.name ? j->tenant.name : "?");
}

/* "N tenant(s) quarantined, M job(s) skipped; ..." for release.completed ("" if none): a tenant
 * counts once per environment it is quarantined in. */
static void quarantine_summary(const of_gate *g, char *out, size_t n)
{
    size_t tenants = 0, jobs = 0;
    for (size_t t = 0; t < g->n_tg; t++) {
        bool failed = g->tg_quar[t] > 0;
        for (size_t k = 0; k < g->tg[t].n && !failed; k++)
            failed = of_job_status_is_failure(g->jobs[g->tg_jobs[g->tg[t].first + k]].status);
        if (failed) tenants++;
        jobs += g->tg_quar[t];
    }
    out[0] = '\0';
    if (tenants)
        (void)snprintf(out, n,
                       "%zu tenant(s) quarantined, %zu job(s) skipped; replay --quarantined "
                       "retries them",
                       tenants, jobs);
}

static void set_quarantined(of_gate *g, size_t idx, bool on)
{
    q_count(g, idx, g->jobs[idx].status, -1);
    g->jobs[idx].quarantined = on;
    q_count(g, idx, g->jobs[idx].status, +1);
}

/* One (environment, tenant): after its first failure that its stage lets through, its pending
 * jobs of later stages are skipped ("quarantined after <job> failed"); a quarantined job whose
 * tenant's jobs of the stages before it have all succeeded or been skipped goes back to
 * pending, so a fixed tenant moves on stage by stage. */
static void quarantine_tenant(step *s, size_t t)
{
    of_gate *g = s->g;
    const lane *tg = &g->tg[t];
    const size_t *jobs = &g->tg_jobs[tg->first];
    size_t fail = NO_LANE;
    for (size_t k = 0; k < tg->n && fail == NO_LANE; k++) {
        size_t j = jobs[k];
        if (of_job_status_is_failure(g->jobs[j].status) &&
            group_tolerates(g, gidx(g, (size_t)g->jobs[j].job.stage - 1, g->env_of[j])))
            fail = j;
    }
    if (fail != NO_LANE) {
        char label[320], why[360];
        job_label(g, fail, label, sizeof label);
        (void)snprintf(why, sizeof why, "quarantined after %s failed", label);
        for (size_t k = 0; k < tg->n && !s->rc; k++) {
            size_t j = jobs[k];
            of_job_record *r = &g->jobs[j];
            if (r->job.stage <= g->jobs[fail].job.stage || r->status != OF_JOB_PENDING) continue;
            set_status(s, j, OF_JOB_SKIPPED);
            set_quarantined(g, j, true);
            set_str(s, &r->skip_reason, why);
            job_event(s, OF_EV_JOB_SKIPPED, j, why);
        }
    }
    if (!g->tg_quar[t]) return;
    bool ok = true, ok_before = true; /* every job so far / of the stages before this one */
    int stage = 0;
    for (size_t k = 0; k < tg->n && !s->rc; k++) {
        size_t j = jobs[k];
        of_job_record *r = &g->jobs[j];
        if (r->job.stage != stage) {
            stage = r->job.stage;
            ok_before = ok;
        }
        if (r->quarantined && ok_before) {
            set_quarantined(g, j, false);
            free(r->skip_reason);
            r->skip_reason = NULL;
            set_status(s, j, OF_JOB_PENDING);
        }
        if (!of_job_status_is_done_ok(r->status)) ok = false;
    }
}

/* Quarantine's part of a decision, before the gates look at the stages: the lanes' allowance
 * re-evaluated, then the tenants that changed (all of them after a build, or when a failure
 * went away) quarantined or released. */
static void quarantine_step(step *s)
{
    of_gate *g = s->g;
    if (g->lanes) {
        bool tol = lanes_tolerate(g);
        if (tol != g->lane_tol) {
            g->lane_tol = tol;
            for (size_t l = 0; l < g->n_lanes; l++)
                lane_refresh(g, l);
            g->q_rescan = true;
        }
    }
    if (g->q_rescan) {
        for (size_t t = 0; t < g->n_tg && !s->rc; t++)
            quarantine_tenant(s, t);
    } else {
        if (g->n_q_dirty > 1) qsort(g->q_dirty, g->n_q_dirty, sizeof *g->q_dirty, idx_cmp);
        for (size_t k = 0; k < g->n_q_dirty && !s->rc; k++)
            quarantine_tenant(s, g->q_dirty[k]);
    }
    for (size_t k = 0; k < g->n_q_dirty; k++)
        g->q_marked[g->q_dirty[k]] = false;
    g->n_q_dirty = 0;
    g->q_rescan = false;
}

/* The gate proper: settle started groups, open the next stage per environment (or move the
 * lanes) when allowed, pause or complete the release. */
static void advance(step *s)
{
    of_gate *g = s->g;
    of_release_record *h = &g->hdr;
    if (h->status == OF_RELEASE_ABORTED) return;
    if (g->q_on) quarantine_step(s);
    for (size_t st = 0; st < n_stages(g); st++)
        for (size_t e = 0; e < h->n_environments; e++)
            settle_group(s, st, e);

    /* failures policy.proceed lets through do not count: their tenants are quarantined */
    bool failing = blocking_failure(g);
    /* A failure stops all dispatching, except in lanes with lane_failure stop_lane: there
     * it only stops what waits for the failed job (its lane, or for an untenanted job every
     * lane of its environment), which lane_stage already accounts for. */
    bool blocked = failing && !(g->lanes && h->lane_failure == OF_LANE_FAILURE_STOP_LANE);
    if (g->lanes) {
        if (!blocked && h->status == OF_RELEASE_RUNNING) lanes_advance(s);
    } else if (!blocked && h->status == OF_RELEASE_RUNNING) {
        for (size_t e = 0; e < h->n_environments && !s->rc; e++) {
            for (size_t st = 0; st < n_stages(g) && !s->rc; st++) {
                of_stage_status cur = h->stage_status[gidx(g, st, e)];
                if (cur == OF_STAGE_SUCCEEDED) continue;
                if (cur == OF_STAGE_PENDING) {
                    if (!approved(s, st)) break;
                    start_group(s, st, e);
                    if (h->stage_status[gidx(g, st, e)] == OF_STAGE_SUCCEEDED) continue;
                } else if (cur == OF_STAGE_RUNNING) {
                    /* Only after a torn save: a started group with undispatched jobs. */
                    const group *gr = &g->groups[gidx(g, st, e)];
                    if (gr->count[OF_JOB_PENDING]) {
                        for (size_t k = 0; k < gr->n && !s->rc; k++)
                            if (g->jobs[gr->jobs[k]].status == OF_JOB_PENDING)
                                dispatch(s, gr->jobs[k]);
                    }
                }
                break; /* running or failed: later stages wait */
            }
        }
    }

    /* Nothing in flight means nothing more can start either (what could was dispatched
     * above), so a failure now pauses the release in every mode. */
    if (failing && h->status == OF_RELEASE_RUNNING && in_flight_of(g->count) == 0) {
        h->status = OF_RELEASE_PAUSED;
        s->out->release_changed = true;
        release_event(s, OF_EV_RELEASE_PAUSED, NULL, "a job failed; replay, resume or abort",
                      of_job_status_is_failure);
    }

    if (h->status == OF_RELEASE_RUNNING) {
        bool all = true;
        for (size_t i = 0; i < n_stages(g) * h->n_environments && all; i++)
            if (h->stage_status[i] != OF_STAGE_SUCCEEDED) all = false;
        if (all) {
            h->status = OF_RELEASE_COMPLETED;
            s->out->release_changed = true;
            char what[160] = "";
            if (g->q_on) quarantine_summary(g, what, sizeof what);
            release_event(s, OF_EV_RELEASE_COMPLETED, NULL, what[0] ? what : NULL, NULL);
        }
    }
}

static of_err finish(step *s)
{
    end_step(s);
    return s->rc;
}

static void begin(step *s, of_gate *g, of_gate_out *out, int64_t now)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->out = out;
    s->now = now;
    s->changed_from = out->n_changed;
    out->ignored = false;
}

/* ---------------------------------------------------------------------------------- */
/* construction */

static of_err copy_header(of_release_record *d, const of_release_record *src)
{
    of_err rc = OF_OK;
    memset(d, 0, sizeof *d);
    of_id_copy(d->release_id, src->release_id);
    d->release_name = of_strdup_or_null(src->release_name, &rc);
    d->space.id = of_strdup_or_null(src->space.id, &rc);
    d->space.name = of_strdup_or_null(src->space.name, &rc);
    d->request_json = of_strdup_or_null(src->request_json, &rc);
    d->status = src->status;
    d->round = src->round;
    d->stage_count = src->stage_count;
    size_t sc = (size_t)src->stage_count, ne = src->n_environments;
    d->stage_names = calloc(sc, sizeof *d->stage_names);
    d->environments = calloc(ne, sizeof *d->environments);
    d->stage_status = calloc(sc * ne, sizeof *d->stage_status);
    if (!d->stage_names || !d->environments || !d->stage_status) return OF_ERR_NOMEM;
    for (size_t i = 0; i < sc; i++)
        d->stage_names[i] = of_strdup_or_null(src->stage_names ? src->stage_names[i] : NULL, &rc);
    d->n_environments = ne;
    for (size_t e = 0; e < ne; e++) {
        d->environments[e].id = of_strdup_or_null(src->environments[e].id, &rc);
        d->environments[e].name = of_strdup_or_null(src->environments[e].name, &rc);
    }
    memcpy(d->stage_status, src->stage_status, sc * ne * sizeof *d->stage_status);
    d->n_jobs = src->n_jobs;
    memcpy(d->counts, src->counts, sizeof d->counts);
    d->updated_ms = src->updated_ms;
    d->by = of_strdup_or_null(src->by, &rc);
    d->reason = of_strdup_or_null(src->reason, &rc);
    d->gate = src->gate;
    d->lane_failure = src->lane_failure;
    d->priority = src->priority;
    d->stage_deadline_ms = src->stage_deadline_ms;
    d->stage_deadline_at_ms = src->stage_deadline_at_ms;
    if (src->proceed) {
        d->proceed = malloc(sc * sizeof *d->proceed);
        if (!d->proceed) return OF_ERR_NOMEM;
        memcpy(d->proceed, src->proceed, sc * sizeof *d->proceed);
    }
    if (src->approval_required) {
        d->approval_required = malloc((sc + 1) * sizeof *d->approval_required);
        if (!d->approval_required) return OF_ERR_NOMEM;
        memcpy(d->approval_required, src->approval_required,
               (sc + 1) * sizeof *d->approval_required);
    }
    if (src->approvals) {
        d->approvals = calloc(sc + 1, sizeof *d->approvals);
        if (!d->approvals) return OF_ERR_NOMEM;
        for (size_t i = 0; i <= sc; i++) {
            d->approvals[i].by = of_strdup_or_null(src->approvals[i].by, &rc);
            d->approvals[i].reason = of_strdup_or_null(src->approvals[i].reason, &rc);
            d->approvals[i].time_ms = src->approvals[i].time_ms;
        }
    }
    return rc;
}

/* The pool's copy of s, as the record's (non-const) field type: never freed through it. */
static char *pooled(of_strpool *sp, const char *s, of_err *rc)
{
    return (char *)(uintptr_t)of_strpool_get(sp, s, rc);
}

static of_err copy_record(of_strpool *sp, of_job_record *d, const of_job_record *src)
{
    of_err rc = OF_OK;
    of_job *j = &d->job;
    *j = src->job; /* scalars and id arrays; pointers replaced below */
    j->release_name = pooled(sp, src->job.release_name, &rc);
    j->stage_name = pooled(sp, src->job.stage_name, &rc);
    j->space = (of_ref){pooled(sp, src->job.space.id, &rc), pooled(sp, src->job.space.name, &rc)};
    j->project =
        (of_ref){pooled(sp, src->job.project.id, &rc), pooled(sp, src->job.project.name, &rc)};
    j->octo_release = (of_ref){pooled(sp, src->job.octo_release.id, &rc),
                               pooled(sp, src->job.octo_release.name, &rc)};
    j->environment = (of_ref){pooled(sp, src->job.environment.id, &rc),
                              pooled(sp, src->job.environment.name, &rc)};
    j->tenant =
        (of_ref){pooled(sp, src->job.tenant.id, &rc), pooled(sp, src->job.tenant.name, &rc)};
    j->queue_time = pooled(sp, src->job.queue_time, &rc);
    j->queue_time_expiry = pooled(sp, src->job.queue_time_expiry, &rc);
    j->approved_by = j->approval_reason = NULL; /* set on each dispatch from the header */
    if (rc) return rc;
    d->status = src->status;
    d->updated_ms = src->updated_ms;
    d->skip_reason = of_strdup_or_null(src->skip_reason, &rc);
    d->deployment_id = of_strdup_or_null(src->deployment_id, &rc);
    d->task_id = of_strdup_or_null(src->task_id, &rc);
    d->held = src->held && src->status == OF_JOB_DISPATCHED;
    d->window = src->window;
    d->quarantined = src->quarantined && src->status == OF_JOB_SKIPPED;
    return rc;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

typedef struct lane_key {
    size_t env;
    const char *tenant; /* id, else name */
    size_t idx;
} lane_key;

static int lane_key_cmp(const void *a, const void *b)
{
    const lane_key *x = a, *y = b;
    if (x->env != y->env) return x->env < y->env ? -1 : 1;
    int c = strcmp(x->tenant, y->tenant);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const char *tenant_key(const of_job *j)
{
    return j->tenant.id ? j->tenant.id : j->tenant.name;
}

/* Groups the tenanted jobs by (environment, tenant): *groups ordered by environment, then
 * tenant; *jobs their job indices, group after group, each in plan order; *of each job's group
 * (NO_LANE for an untenanted job). New arrays the caller owns (on failure too). */
static of_err group_tenants(const of_gate *g, lane **groups, size_t *n_groups, size_t **jobs,
                            size_t **of)
{
    size_t nt = 0;
    for (size_t i = 0; i < g->n_jobs; i++)
        if (tenant_key(&g->jobs[i].job)) nt++;
    lane_key *keys = calloc(nt ? nt : 1, sizeof *keys);
    *jobs = calloc(nt ? nt : 1, sizeof **jobs);
    *groups = calloc(nt ? nt : 1, sizeof **groups); /* at most one per job */
    *of = calloc(g->n_jobs ? g->n_jobs : 1, sizeof **of);
    *n_groups = 0;
    if (!keys || !*jobs || !*groups || !*of) {
        free(keys);
        return OF_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n_jobs; i++) {
        (*of)[i] = NO_LANE;
        if (tenant_key(&g->jobs[i].job))
            keys[k++] = (lane_key){g->env_of[i], tenant_key(&g->jobs[i].job), i};
    }
    if (nt > 1) qsort(keys, nt, sizeof *keys, lane_key_cmp);
    lane *gs = *groups;
    for (k = 0; k < nt; k++) {
        if (k == 0 || keys[k].env != keys[k - 1].env ||
            strcmp(keys[k].tenant, keys[k - 1].tenant) != 0) {
            gs[*n_groups].env = keys[k].env;
            gs[*n_groups].first = k;
            (*n_groups)++;
        }
        (*jobs)[k] = keys[k].idx;
        (*of)[keys[k].idx] = *n_groups - 1;
        gs[*n_groups - 1].n++;
    }
    free(keys);
    return OF_OK;
}

/* Builds the lanes of a gate whose jobs and groups are in place. Lanes are ordered by
 * environment and tenant and their jobs by plan order, whatever order the records came in. */
static of_err build_lanes(of_gate *g)
{
    size_t ns = n_stages(g), ne = g->hdr.n_environments, ngroups = ns * ne, k;
    of_err rc = group_tenants(g, &g->lanes, &g->n_lanes, &g->lane_jobs, &g->lane_of);
    if (rc) return rc;
    g->u_open = calloc(ngroups, sizeof *g->u_open);
    g->u_pending = calloc(ngroups, sizeof *g->u_pending);
    g->env_lane0 = calloc(ne + 1, sizeof *g->env_lane0);
    g->lanes_at = calloc(ne * (ns + 1), sizeof *g->lanes_at);
    if (!g->u_open || !g->u_pending || !g->env_lane0 || !g->lanes_at) return OF_ERR_NOMEM;
    for (size_t i = 0; i < g->n_jobs; i++) {
        const of_job *j = &g->jobs[i].job;
        if (tenant_key(j)) continue;
        size_t gi = gidx(g, (size_t)j->stage - 1, g->env_of[i]);
        if (!of_job_status_is_done_ok(g->jobs[i].status)) g->u_open[gi]++;
        if (g->jobs[i].status == OF_JOB_PENDING) g->u_pending[gi]++;
    }
    g->lane_open = calloc(g->n_lanes ? g->n_lanes * ns : 1, sizeof *g->lane_open);
    g->dirty = calloc(g->n_lanes ? g->n_lanes : 1, sizeof *g->dirty);
    if (!g->lane_open || !g->dirty) return OF_ERR_NOMEM;
    for (size_t l = 0; l < g->n_lanes; l++) {
        lane *ln = &g->lanes[l];
        for (k = ln->first; k < ln->first + ln->n; k++) {
            const of_job_record *r = &g->jobs[g->lane_jobs[k]];
            if (!of_job_status_is_done_ok(r->status))
                g->lane_open[l * ns + (size_t)r->job.stage - 1]++;
        }
        ln->cur = lane_stage(g, l);
        g->lanes_at[ln->env * (ns + 1) + ln->cur]++;
        g->env_lane0[ln->env + 1] = l + 1;
    }
    for (size_t e = 1; e <= ne; e++)
        if (g->env_lane0[e] < g->env_lane0[e - 1]) g->env_lane0[e] = g->env_lane0[e - 1];
    /* The first decision looks at every lane: this also dispatches what a torn save left
     * pending (job records written for some of a decision's dispatches, not all). */
    g->rescan = true;
    return OF_OK;
}

/* Sets up quarantine for a gate whose jobs, groups and (lane mode) lanes are in place, when a
 * stage's policy.proceed lets failures through; everything from the job records. */
static of_err build_quarantine(of_gate *g)
{
    size_t ns = n_stages(g);
    for (size_t st = 0; g->hdr.proceed && st < ns; st++)
        if (g->hdr.proceed[st].kind != OF_PROCEED_ALL) g->q_on = true;
    if (!g->q_on) return OF_OK;
    if (g->lanes) {
        g->tg = g->lanes;
        g->n_tg = g->n_lanes;
        g->tg_jobs = g->lane_jobs;
        g->tg_of = g->lane_of;
    } else {
        of_err rc = group_tenants(g, &g->tg, &g->n_tg, &g->tg_jobs, &g->tg_of);
        if (rc) return rc;
    }
    size_t n = g->n_tg ? g->n_tg : 1;
    g->tg_quar = calloc(n, sizeof *g->tg_quar);
    g->q_dirty = calloc(n, sizeof *g->q_dirty);
    g->q_marked = calloc(n, sizeof *g->q_marked);
    if (!g->tg_quar || !g->q_dirty || !g->q_marked) return OF_ERR_NOMEM;
    for (size_t i = 0; i < g->n_jobs; i++)
        q_count(g, i, g->jobs[i].status, +1);
    g->q_rescan = true;
    if (!g->lanes) return OF_OK;
    g->lane_failc = calloc(g->n_lanes ? g->n_lanes * ns : 1, sizeof *g->lane_failc);
    if (!g->lane_failc) return OF_ERR_NOMEM;
    for (size_t i = 0; i < g->n_jobs; i++) {
        const of_job_record *r = &g->jobs[i];
        if (g->lane_of[i] == NO_LANE) continue;
        if (of_job_status_is_failure(r->status))
            g->lane_failc[g->lane_of[i] * ns + (size_t)r->job.stage - 1]++;
        if (!(unrun(r->status, r) && !r->quarantined)) g->lane_den++;
    }
    g->lane_tol = lanes_tolerate(g);
    for (size_t l = 0; g->lane_tol && l < g->n_lanes; l++)
        lane_refresh(g, l);
    return OF_OK;
}

of_err of_gate_new(const of_release_record *header, const of_job_record *jobs, size_t n_jobs,
                   of_gate **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (header->stage_count < 1 || header->n_environments < 1 || !header->stage_status ||
        !header->environments || (int)header->status < 0 ||
        header->status >= OF_RELEASE_STATUS__COUNT || (int)header->gate < 0 ||
        header->gate >= OF_GATE_MODE__COUNT || (int)header->lane_failure < 0 ||
        header->lane_failure >= OF_LANE_FAILURE__COUNT)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "release %s: header needs stages, environments, stage_status and a "
                         "known gate mode",
                         header->release_id);
    of_gate *g = calloc(1, sizeof *g);
    if (!g) return OF_ERR_NOMEM;
    of_err rc = copy_header(&g->hdr, header);
    size_t ngroups = (size_t)header->stage_count * header->n_environments;
    g->jobs = calloc(n_jobs ? n_jobs : 1, sizeof *g->jobs);
    g->env_of = calloc(n_jobs ? n_jobs : 1, sizeof *g->env_of);
    g->by_id = calloc(n_jobs ? n_jobs : 1, sizeof *g->by_id);
    g->marked = calloc(n_jobs ? n_jobs : 1, sizeof *g->marked);
    g->groups = calloc(ngroups, sizeof *g->groups);
    g->started_ms = calloc(ngroups, sizeof *g->started_ms);
    g->dl_passed = calloc(ngroups, sizeof *g->dl_passed);
    g->asked = calloc((size_t)header->stage_count + 1, sizeof *g->asked);
    if (!rc) rc = of_strpool_new(&g->strings);
    if (rc || !g->jobs || !g->env_of || !g->by_id || !g->marked || !g->groups || !g->started_ms ||
        !g->dl_passed || !g->asked) {
        of_gate_free(g);
        return OF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_jobs; i++) {
        const of_job *j = &jobs[i].job;
        size_t env = (size_t)-1;
        for (size_t e = 0; e < header->n_environments; e++) {
            const of_ref *er = &header->environments[e];
            if (same(er->id, j->environment.id) || (!er->id && same(er->name, j->environment.name)))
                env = e;
        }
        const char *why = NULL;
        if (env == (size_t)-1)
            why = "environment not in the release";
        else if (j->stage < 1 || j->stage > header->stage_count)
            why = "stage out of range";
        else if (strcmp(j->release_id, header->release_id) != 0)
            why = "belongs to another release";
        else if ((int)jobs[i].status < 0 || jobs[i].status >= OF_JOB_STATUS__COUNT)
            why = "unknown status";
        if (why) {
            of_gate_free(g);
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "job %s: %s", j->job_id, why);
        }
        g->n_jobs = i + 1; /* so of_gate_free frees what was copied */
        if (copy_record(g->strings, &g->jobs[i], &jobs[i]) != OF_OK) {
            of_gate_free(g);
            return OF_ERR_NOMEM;
        }
        g->env_of[i] = env;
        g->by_id[i].id = g->jobs[i].job.job_id;
        g->by_id[i].idx = i;
    }
    g->n_jobs = n_jobs;
    /* Decisions iterate jobs in this order, so it must not depend on the order records
     * were read back from the state topic: use the plan's order. */
    if (of_plan_sort(g->jobs, g->env_of, n_jobs) != OF_OK) {
        of_gate_free(g);
        return OF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_jobs; i++) {
        g->by_id[i].id = g->jobs[i].job.job_id;
        g->by_id[i].idx = i;
    }
    if (n_jobs > 1) qsort(g->by_id, n_jobs, sizeof *g->by_id, id_cmp);
    for (size_t i = 1; i < n_jobs; i++) {
        if (strcmp(g->by_id[i - 1].id, g->by_id[i].id) == 0) {
            char id[OF_UUID_STR_SIZE];
            of_id_copy(id, g->by_id[i].id);
            of_gate_free(g);
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "job %s: duplicate id", id);
        }
    }
    /* groups: count first, then fill in plan order */
    for (size_t i = 0; i < n_jobs; i++)
        group_of(g, i)->n++;
    for (size_t k = 0; k < ngroups; k++) {
        g->groups[k].jobs = calloc(g->groups[k].n ? g->groups[k].n : 1, sizeof(size_t));
        if (!g->groups[k].jobs) {
            of_gate_free(g);
            return OF_ERR_NOMEM;
        }
        g->groups[k].n = 0;
    }
    for (size_t i = 0; i < n_jobs; i++) {
        group *gr = group_of(g, i);
        gr->jobs[gr->n++] = i;
        gr->count[g->jobs[i].status]++;
        g->count[g->jobs[i].status]++;
    }
    /* Repair a torn save (job records written, release record not): a group whose jobs
     * were dispatched has started, whatever the release record says. */
    for (size_t k = 0; k < ngroups; k++) {
        if (g->hdr.stage_status[k] != OF_STAGE_PENDING) continue;
        for (size_t m = 0; m < g->groups[k].n; m++)
            if (g->jobs[g->groups[k].jobs[m]].job.attempt > 0) {
                g->hdr.stage_status[k] = OF_STAGE_RUNNING;
                break;
            }
    }
    /* A started group started when its first job was dispatched (held ones included: their
     * dispatched_ms is the decision's time until they are sent). */
    for (size_t k = 0; k < ngroups; k++) {
        if (g->hdr.stage_status[k] == OF_STAGE_PENDING) continue;
        for (size_t m = 0; m < g->groups[k].n; m++) {
            int64_t t = g->jobs[g->groups[k].jobs[m]].job.dispatched_ms;
            if (t > 0 && (!g->started_ms[k] || t < g->started_ms[k])) g->started_ms[k] = t;
        }
    }
    if ((g->hdr.gate == OF_GATE_TENANT && build_lanes(g) != OF_OK) ||
        build_quarantine(g) != OF_OK) {
        of_gate_free(g);
        return OF_ERR_NOMEM;
    }
    *out = g;
    return OF_OK;
}

void of_gate_free(of_gate *g)
{
    if (!g) return;
    size_t ngroups =
        (size_t)(g->hdr.stage_count > 0 ? g->hdr.stage_count : 0) * g->hdr.n_environments;
    for (size_t k = 0; g->groups && k < ngroups; k++)
        free(g->groups[k].jobs);
    free(g->groups);
    for (size_t i = 0; g->jobs && i < g->n_jobs; i++) {
        /* the job's own strings; the rest are the pool's */
        free(g->jobs[i].skip_reason);
        free(g->jobs[i].deployment_id);
        free(g->jobs[i].task_id);
    }
    free(g->jobs);
    of_strpool_free(g->strings);
    free(g->env_of);
    free(g->by_id);
    free(g->marked);
    free(g->lanes);
    free(g->lane_jobs);
    free(g->lane_of);
    free(g->lane_open);
    free(g->lanes_at);
    free(g->u_open);
    free(g->u_pending);
    free(g->env_lane0);
    free(g->dirty);
    free(g->started_ms);
    free(g->dl_passed);
    if (g->tg != g->lanes) { /* the barrier's own tenant groups; in lane mode the lanes' */
        free(g->tg);
        free(g->tg_jobs);
        free(g->tg_of);
    }
    free(g->tg_quar);
    free(g->q_dirty);
    free(g->q_marked);
    free(g->lane_failc);
    free(g->asked);
    of_release_record_clear(&g->hdr);
    free(g);
}

/* ---------------------------------------------------------------------------------- */
/* inputs */

of_err of_gate_start(of_gate *g, int64_t now_ms, of_gate_out *out)
{
    bool started = g->hdr.round > 0 || g->hdr.status != OF_RELEASE_RUNNING;
    for (size_t i = 0; i < g->n_jobs && !started; i++)
        if (g->jobs[i].job.attempt > 0) started = true;
    for (size_t k = 0; k < n_stages(g) * g->hdr.n_environments && !started; k++)
        if (g->hdr.stage_status[k] != OF_STAGE_PENDING) started = true;
    if (started) {
        out->ignored = true;
        return OF_ERR_STATE;
    }
    step s;
    begin(&s, g, out, now_ms);
    release_event(&s, OF_EV_RELEASE_ACCEPTED, NULL, NULL, NULL);
    for (size_t i = 0; i < g->n_jobs; i++)
        if (g->jobs[i].status == OF_JOB_SKIPPED)
            job_event(&s, OF_EV_JOB_SKIPPED, i, g->jobs[i].skip_reason);
    out->release_changed = true;
    advance(&s);
    return finish(&s);
}

of_err of_gate_job_event(of_gate *g, const of_event *ev, int64_t now_ms, of_gate_out *out)
{
    out->ignored = true;
    if (strcmp(ev->release_id, g->hdr.release_id) != 0) return OF_ERR_NOT_FOUND;
    long found = of_gate_find(g, ev->job_id);
    if (found < 0) return OF_ERR_NOT_FOUND;
    size_t idx = (size_t)found;
    of_job_status st;
    if (!of_event_job_status(ev->type, &st) || st == OF_JOB_DISPATCHED)
        return OF_OK; /* job.dispatched: our own echo */
    of_job_record *r = &g->jobs[idx];
    /* Stale: an older attempt's late news. Attempt 0 never comes from a worker. */
    if (ev->attempt < 1 || ev->attempt < r->job.attempt) return OF_OK;
    if (ev->attempt == r->job.attempt) {
        if (of_job_status_is_terminal(r->status)) return OF_OK; /* duplicate or late */
        if (r->status == st) return OF_OK;                      /* duplicate */
    }
    step s;
    begin(&s, g, out, now_ms);
    /* A higher attempt than we know: we dispatched it before a crash lost the record. */
    if (ev->attempt > r->job.attempt) {
        if (g->q_on) q_count(g, idx, r->status, -1);
        r->job.attempt = ev->attempt;
        r->quarantined = false; /* it ran after all */
        if (g->q_on) q_count(g, idx, r->status, +1);
        mark_changed(&s, idx);
    }
    set_status(&s, idx, st);
    set_str(&s, &r->deployment_id, ev->deployment_id);
    set_str(&s, &r->task_id, ev->task_id);
    if (of_job_status_is_terminal(st)) set_str(&s, &r->skip_reason, ev->message);
    mark_changed(&s, idx);
    out->ignored = false;
    advance(&s);
    return finish(&s);
}

static bool in_list(char *const *list, size_t n, const of_ref *r)
{
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (same(list[i], r->name) || same(list[i], r->id)) return true;
    return false;
}

static bool replay_match(const of_gate *g, const of_command *cmd, size_t idx)
{
    const of_job_record *r = &g->jobs[idx];
    if (r->job.attempt < 1 || !of_job_status_is_terminal(r->status)) return false;
    if (!cmd->all && !of_job_status_is_failure(r->status)) return false;
    if (cmd->stage && r->job.stage != cmd->stage) return false;
    /* --quarantined: the failures policy.proceed let through, whose tenants are quarantined */
    if (cmd->quarantined &&
        !(of_job_status_is_failure(r->status) && g->q_on && g->tg_of[idx] != NO_LANE &&
          group_tolerates(g, gidx(g, (size_t)r->job.stage - 1, g->env_of[idx]))))
        return false;
    if (cmd->n_tenants && !r->job.tenant.id && !r->job.tenant.name) return false;
    return in_list(cmd->tenants, cmd->n_tenants, &r->job.tenant) &&
           in_list(cmd->projects, cmd->n_projects, &r->job.project) &&
           in_list(cmd->environments, cmd->n_environments, &r->job.environment);
}

static void note_operator(step *s, const of_command *cmd)
{
    set_str(s, &s->g->hdr.by, cmd->by);
    set_str(s, &s->g->hdr.reason, cmd->reason);
    s->out->release_changed = true;
}

/* Starts the step of an operator's command: the release moves to status, records who asked
 * and why, and (replay, resume) opens a new round. */
static void begin_command(step *s, of_gate *g, of_gate_out *out, int64_t now, const of_command *cmd,
                          of_release_status status, bool new_round)
{
    begin(s, g, out, now);
    if (new_round) g->hdr.round++;
    g->hdr.status = status;
    note_operator(s, cmd);
}

/* ---- reconciling with Octopus (resume and replay share it) ---- */

/* What Octopus says now wins over a failure we recorded (a human redeployed by hand, or the
 * success's event was lost): each override of a failed job that may take it (eligible NULL:
 * any failed job) gives the job its status with the message as its reason. Returns how many
 * applied; *version is the Octopus release name they share (NULL when they differ). */
static size_t apply_overrides(step *s, const of_gate_override *ov, size_t n, const of_command *cmd,
                              bool (*eligible)(const of_gate *, const of_command *, size_t),
                              const char **version)
{
    of_gate *g = s->g;
    size_t applied = 0;
    *version = NULL;
    bool mixed = false;
    for (size_t k = 0; k < n; k++) {
        long f = of_gate_find(g, ov[k].job_id);
        if (f < 0) continue;
        size_t idx = (size_t)f;
        if (!of_job_status_is_failure(g->jobs[idx].status)) continue;
        if (!of_job_status_is_terminal(ov[k].status)) continue;
        if (eligible && !eligible(g, cmd, idx)) continue;
        set_status(s, idx, ov[k].status);
        set_str(s, &g->jobs[idx].skip_reason, ov[k].message);
        const char *v = g->jobs[idx].job.octo_release.name;
        if (!applied)
            *version = v;
        else if (!v || !*version || strcmp(v, *version) != 0)
            mixed = true;
        applied++;
    }
    if (mixed) *version = NULL;
    return applied;
}

of_err of_gate_replay(of_gate *g, const of_command *cmd, int64_t now_ms, of_gate_out *out)
{
    return of_gate_replay_reconciled(g, cmd, NULL, 0, now_ms, out);
}

of_err of_gate_replay_reconciled(of_gate *g, const of_command *cmd,
                                 const of_gate_override *overrides, size_t n_overrides,
                                 int64_t now_ms, of_gate_out *out)
{
    out->ignored = true;
    if (g->hdr.status == OF_RELEASE_ABORTED) return OF_ERR_STATE;
    if (cmd->stage < 0 || cmd->stage > g->hdr.stage_count) return OF_ERR_INVALID;
    size_t n = 0;
    for (size_t i = 0; i < g->n_jobs; i++)
        if (replay_match(g, cmd, i)) n++;
    if (!n) return OF_ERR_STATE;
    step s;
    begin_command(&s, g, out, now_ms, cmd, OF_RELEASE_RUNNING, true);
    /* Targets that already run the release in Octopus are recorded as succeeded, not sent. */
    const char *version = NULL;
    size_t found =
        cmd->all ? 0 : apply_overrides(&s, overrides, n_overrides, cmd, replay_match, &version);
    n -= found;
    char what[320], scope[32] = "";
    if (cmd->stage) (void)snprintf(scope, sizeof scope, " of stage %d", cmd->stage);
    if (found)
        (void)snprintf(what, sizeof what, "replay%s%s: %zu to replay, %zu already on %s", scope,
                       cmd->all ? " (all)" : "", n, found,
                       version ? version : "the release in Octopus");
    else
        (void)snprintf(what, sizeof what, "replay of %zu job(s)%s%s", n, scope,
                       cmd->quarantined ? " of quarantined tenants"
                       : cmd->all       ? " (all)"
                                        : "");
    of_event *rev = release_event(&s, OF_EV_RELEASE_RESUMED, cmd->by,
                                  cmd->reason && !found ? cmd->reason : what, NULL);
    if (rev) {
        rev->n_total = (int)(n + found);
        rev->n_succeeded = (int)found;
    }
    /* Reopen the groups first (stage.started in the new round), then dispatch. */
    size_t ngroups = n_stages(g) * g->hdr.n_environments;
    bool *reopen = calloc(ngroups, sizeof *reopen);
    if (!reopen) {
        s.rc = OF_ERR_NOMEM;
        return finish(&s);
    }
    for (size_t i = 0; i < g->n_jobs; i++)
        if (replay_match(g, cmd, i))
            reopen[gidx(g, (size_t)g->jobs[i].job.stage - 1, g->env_of[i])] = true;
    size_t *sel = malloc((n ? n : 1) * sizeof *sel);
    if (!sel) {
        free(reopen);
        s.rc = OF_ERR_NOMEM;
        return finish(&s);
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n_jobs; i++)
        if (replay_match(g, cmd, i)) sel[k++] = i;
    for (size_t st = 0; st < n_stages(g); st++)
        for (size_t e = 0; e < g->hdr.n_environments; e++)
            if (reopen[gidx(g, st, e)] && g->hdr.stage_status[gidx(g, st, e)] != OF_STAGE_RUNNING) {
                set_stage(&s, st, e, OF_STAGE_RUNNING);
                stage_event(&s, OF_EV_STAGE_STARTED, st, e);
            }
    for (size_t m = 0; m < k && !s.rc; m++)
        dispatch(&s, sel[m]);
    free(sel);
    free(reopen);
    advance(&s);
    return finish(&s);
}

/* The failed jobs (those cmd's replay would re-dispatch when cmd is not NULL), as refs. */
static of_err failed_refs(const of_gate *g, const of_command *cmd, of_job_ref **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cnt = failures_of(g->count);
    if (!cnt) return OF_OK;
    of_job_ref *refs = calloc(cnt, sizeof *refs);
    if (!refs) return OF_ERR_NOMEM;
    step s; /* only for fill_job_ref's error slot */
    memset(&s, 0, sizeof s);
    s.g = (of_gate *)(uintptr_t)g;
    size_t k = 0;
    for (size_t i = 0; i < g->n_jobs && k < cnt; i++)
        if (of_job_status_is_failure(g->jobs[i].status) && (!cmd || replay_match(g, cmd, i)))
            fill_job_ref(&s, &refs[k++], i);
    if (s.rc) {
        of_job_refs_free(refs, k);
        return s.rc;
    }
    if (!k) {
        free(refs);
        refs = NULL;
    }
    *out = refs;
    *n = k;
    return OF_OK;
}

of_err of_gate_failed_jobs(const of_gate *g, of_job_ref **out, size_t *n)
{
    return failed_refs(g, NULL, out, n);
}

of_err of_gate_replay_failed_jobs(const of_gate *g, const of_command *cmd, of_job_ref **out,
                                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (cmd->all || cmd->stage < 0 || cmd->stage > g->hdr.stage_count) return OF_OK;
    return failed_refs(g, cmd, out, n);
}

void of_job_refs_free(of_job_ref *refs, size_t n)
{
    for (size_t i = 0; refs && i < n; i++)
        of_job_ref_clear(&refs[i]);
    free(refs);
}

of_err of_gate_resume(of_gate *g, const of_command *cmd, const of_gate_override *overrides,
                      size_t n_overrides, int64_t now_ms, of_gate_out *out)
{
    out->ignored = true;
    /* failures policy.proceed lets through are no reason to resume: replay --quarantined */
    bool failing = blocking_failure(g);
    if (!(g->hdr.status == OF_RELEASE_PAUSED || (g->hdr.status == OF_RELEASE_RUNNING && failing)))
        return OF_ERR_STATE;
    step s;
    begin_command(&s, g, out, now_ms, cmd, OF_RELEASE_RUNNING, true);
    release_event(&s, OF_EV_RELEASE_RESUMED, cmd->by, cmd->reason, NULL);
    /* The failures policy.proceed lets through, decided before the overrides change the
     * counts: resume does not accept them, their tenants stay quarantined (replay
     * --quarantined retries them). */
    size_t ngroups = n_stages(g) * g->hdr.n_environments;
    bool *tolerated = calloc(ngroups, sizeof *tolerated);
    if (!tolerated) {
        s.rc = OF_ERR_NOMEM;
        return finish(&s);
    }
    for (size_t k = 0; k < ngroups && g->q_on; k++)
        tolerated[k] = failures_of(g->groups[k].count) && group_tolerates(g, k);
    /* What Octopus says now wins (a human may have redeployed by hand)... */
    const char *version;
    (void)apply_overrides(&s, overrides, n_overrides, cmd, NULL, &version);
    /* ...and what is still failed was fixed by hand, says the operator: accept it. */
    char why[512];
    (void)snprintf(why, sizeof why, "accepted on resume by %s%s%s", cmd->by ? cmd->by : "?",
                   cmd->reason ? ": " : "", cmd->reason ? cmd->reason : "");
    for (size_t i = 0; i < g->n_jobs; i++) {
        if (!of_job_status_is_failure(g->jobs[i].status)) continue;
        if (tolerated[gidx(g, (size_t)g->jobs[i].job.stage - 1, g->env_of[i])]) continue;
        set_status(&s, i, OF_JOB_SKIPPED);
        set_str(&s, &g->jobs[i].skip_reason, why);
    }
    free(tolerated);
    advance(&s);
    return finish(&s);
}

of_err of_gate_abort(of_gate *g, const of_command *cmd, int64_t now_ms, of_gate_out *out)
{
    out->ignored = true;
    if (g->hdr.status == OF_RELEASE_ABORTED) return OF_OK;
    if (g->hdr.status == OF_RELEASE_COMPLETED) return OF_ERR_STATE;
    step s;
    begin_command(&s, g, out, now_ms, cmd, OF_RELEASE_ABORTED, false);
    /* Jobs held for the task budget never reached a worker: they end here, cancelled. */
    for (size_t i = 0; i < g->n_jobs && !s.rc; i++) {
        of_job_record *r = &g->jobs[i];
        if (!r->held) continue;
        r->held = false;
        set_str(&s, &r->skip_reason, "aborted before dispatch (held for the task budget)");
        set_status(&s, i, OF_JOB_CANCELLED);
        job_event(&s, OF_EV_JOB_CANCELLED, i, r->skip_reason);
    }
    release_event(&s, OF_EV_RELEASE_ABORTED, cmd->by, cmd->reason, is_in_flight);
    if (cmd->cancel_running) {
        for (size_t i = 0; i < g->n_jobs && !s.rc; i++) {
            if (!is_in_flight(g->jobs[i].status)) continue;
            if (of_grow((void **)&out->cancel, &out->cap_cancel, out->n_cancel,
                        sizeof(of_job_ref))) {
                s.rc = OF_ERR_NOMEM;
                break;
            }
            of_job_ref *jr = &out->cancel[out->n_cancel++];
            memset(jr, 0, sizeof *jr);
            fill_job_ref(&s, jr, i);
        }
    }
    return finish(&s);
}

of_err of_gate_approve(of_gate *g, const of_command *cmd, int64_t now_ms, of_gate_out *out,
                       char *why, size_t why_size)
{
    of_release_record *h = &g->hdr;
    int sc = h->stage_count, a = cmd->stage;
    char what[48] = "the release";
    if (a) (void)snprintf(what, sizeof what, "stage %d", a);
    out->ignored = true;
    if (h->status == OF_RELEASE_ABORTED || h->status == OF_RELEASE_COMPLETED)
        return of_seterr(why, why_size, OF_ERR_STATE, "the release is %s",
                         h->status == OF_RELEASE_ABORTED ? "aborted" : "completed");
    if (a < 0 || a > sc)
        return of_seterr(why, why_size, OF_ERR_STATE, "no stage %d: the release has %d", a, sc);
    if (!h->approval_required || !h->approval_required[a])
        return of_seterr(why, why_size, OF_ERR_STATE, "%s needs no approval (%s)", what,
                         a ? "its stage has no \"approval\""
                           : "the request has no policy.approval");
    if (h->approvals && h->approvals[a].by)
        return of_seterr(why, why_size, OF_ERR_STATE, "%s was approved already, by %s", what,
                         h->approvals[a].by);
    if (!h->approvals && !(h->approvals = calloc((size_t)sc + 1, sizeof *h->approvals)))
        return OF_ERR_NOMEM;
    step s;
    begin(&s, g, out, now_ms);
    note_operator(&s, cmd);
    of_approval *ap = &h->approvals[a];
    set_str(&s, &ap->by, cmd->by);
    set_str(&s, &ap->reason, cmd->reason);
    ap->time_ms = now_ms;
    of_event *ev = new_event(&s, OF_EV_STAGE_APPROVED);
    if (ev) {
        of_err rc = OF_OK;
        ev->stage = a;
        if (a && h->stage_names) ev->stage_name = of_strdup_or_null(h->stage_names[a - 1], &rc);
        ev->by = of_strdup_or_null(cmd->by, &rc);
        ev->message = of_strdup_or_null(cmd->reason, &rc);
        if (rc) s.rc = rc;
        seal(ev);
    }
    g->rescan = true; /* lanes that waited for it look again */
    advance(&s);
    return finish(&s);
}

/* stage.deadline_passed for group gi: its counts, the jobs not started (capped), what next. */
static void deadline_event(step *s, size_t gi, const size_t *idx, size_t n)
{
    of_gate *g = s->g;
    size_t st = gi / g->hdr.n_environments, env = gi % g->hdr.n_environments;
    of_event *ev = new_event(s, OF_EV_STAGE_DEADLINE_PASSED);
    if (!ev) return;
    of_err rc = OF_OK;
    char when[40], msg[320];
    (void)snprintf(msg, sizeof msg,
                   "stage deadline %s passed: %zu job(s) not started; jobs in flight finish, then "
                   "the release pauses: replay --stage %zu to run them, resume to skip them, or "
                   "abort",
                   of_rfc3339(deadline_at(g, gi), when, sizeof when), n, st + 1);
    ev->stage = (int)st + 1;
    ev->stage_name = of_strdup_or_null(g->hdr.stage_names ? g->hdr.stage_names[st] : NULL, &rc);
    ev->environment = of_strdup_or_null(g->hdr.environments[env].name, &rc);
    ev->message = of_strdup_or_null(msg, &rc);
    if (rc) s->rc = rc;
    fill_counts(ev, g->groups[gi].count, g->groups[gi].n);
    size_t listed = n < EVENT_JOBS_MAX ? n : EVENT_JOBS_MAX;
    if (listed && !(ev->jobs = calloc(listed, sizeof *ev->jobs))) s->rc = OF_ERR_NOMEM;
    for (size_t k = 0; ev->jobs && k < listed; k++)
        fill_job_ref(s, &ev->jobs[ev->n_jobs++], idx[k]);
    seal(ev);
}

of_err of_gate_tick(of_gate *g, int64_t now_ms, of_gate_out *out)
{
    out->ignored = true;
    if (g->hdr.status != OF_RELEASE_RUNNING && g->hdr.status != OF_RELEASE_PAUSED) return OF_OK;
    size_t ngroups = n_stages(g) * g->hdr.n_environments;
    step s;
    begin(&s, g, out, now_ms);
    out->ignored = true; /* until a deadline is due */
    size_t *idx = NULL, cap = 0;
    for (size_t gi = 0; gi < ngroups && !s.rc; gi++) {
        int64_t at = deadline_at(g, gi);
        if (g->dl_passed[gi] || g->hdr.stage_status[gi] == OF_STAGE_PENDING || !at || at > now_ms)
            continue;
        g->dl_passed[gi] = true;
        out->ignored = false;
        /* first attempts not sent yet: held for the task budget or a window, or (lanes) not
         * reached by their lane yet */
        size_t n = 0;
        const group *gr = &g->groups[gi];
        for (size_t k = 0; k < gr->n && !s.rc; k++) {
            const of_job_record *r = &g->jobs[gr->jobs[k]];
            bool waiting = (r->held && r->job.attempt == 1) || r->status == OF_JOB_PENDING;
            if (!waiting) continue;
            if (of_grow((void **)&idx, &cap, n, sizeof *idx)) {
                s.rc = OF_ERR_NOMEM;
                break;
            }
            idx[n++] = gr->jobs[k];
            not_started(&s, gr->jobs[k]);
        }
        if (n) deadline_event(&s, gi, idx, n);
    }
    free(idx);
    if (!out->ignored) advance(&s);
    return finish(&s);
}

int64_t of_gate_next_deadline(const of_gate *g)
{
    if (g->hdr.status != OF_RELEASE_RUNNING && g->hdr.status != OF_RELEASE_PAUSED) return 0;
    int64_t next = 0;
    for (size_t gi = 0; gi < n_stages(g) * g->hdr.n_environments; gi++) {
        int64_t at = deadline_at(g, gi);
        if (g->dl_passed[gi] || g->hdr.stage_status[gi] == OF_STAGE_PENDING || !at) continue;
        if (!next || at < next) next = at;
    }
    return next;
}

void of_gate_hold_dispatches(of_gate *g, bool on)
{
    g->hold = on;
}

of_err of_gate_release_held(of_gate *g, size_t idx, int64_t now_ms, of_gate_out *out)
{
    if (idx >= g->n_jobs || !g->jobs[idx].held || g->jobs[idx].status != OF_JOB_DISPATCHED) {
        out->ignored = true;
        return OF_ERR_STATE;
    }
    step s;
    begin(&s, g, out, now_ms);
    of_job_record *r = &g->jobs[idx];
    r->held = false;
    r->job.dispatched_ms = now_ms; /* the attempt starts when it is sent */
    mark_changed(&s, idx);
    emit_dispatch(&s, idx);
    return finish(&s);
}

/* ---------------------------------------------------------------------------------- */
/* inspection */

of_release_status of_gate_status(const of_gate *g)
{
    return g->hdr.status;
}

of_gate_mode of_gate_gate_mode(const of_gate *g)
{
    return g->hdr.gate;
}

int of_gate_round(const of_gate *g)
{
    return g->hdr.round;
}

size_t of_gate_job_count(const of_gate *g)
{
    return g->n_jobs;
}

const of_job_record *of_gate_job(const of_gate *g, size_t index)
{
    return index < g->n_jobs ? &g->jobs[index] : NULL;
}

long of_gate_find(const of_gate *g, const char *job_id)
{
    if (!job_id || !g->n_jobs) return -1;
    id_entry key = {job_id, 0};
    const id_entry *e = bsearch(&key, g->by_id, g->n_jobs, sizeof *g->by_id, id_cmp);
    return e ? (long)e->idx : -1;
}

of_stage_status of_gate_stage_status(const of_gate *g, int stage, size_t env)
{
    if (stage < 1 || stage > g->hdr.stage_count || env >= g->hdr.n_environments)
        return OF_STAGE_PENDING;
    return g->hdr.stage_status[gidx(g, (size_t)stage - 1, env)];
}

size_t of_gate_in_flight(const of_gate *g)
{
    return in_flight_of(g->count);
}

of_err of_gate_release_record(const of_gate *g, of_release_record *out)
{
    of_err rc = copy_header(out, &g->hdr);
    if (rc) {
        of_release_record_clear(out);
        return rc;
    }
    out->n_jobs = g->n_jobs;
    memcpy(out->counts, g->count, sizeof out->counts);
    return OF_OK;
}
