/* The stage gate as tables of steps: an input, then the expected dispatches (job key and
 * attempt), events (job.dispatched left out: the dispatch list covers them), tasks to
 * cancel and release status. Job keys are "stage/env/project/tenant" ("-" = untenanted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "plan.h"
#include "test.h"
#include "uuid.h"

/* ---- releases ---- */

static const char *const ENVS[] = {"Beta", "Prod"};

typedef struct jobdef {
    int stage;
    int env;
    const char *project, *tenant;
    bool skip;
} jobdef;

/* A release to load into a gate: its jobs and the request's gate policy. */
typedef struct plandef {
    const jobdef *jobs;
    size_t n;
    int stages;
    const char *request; /* the request the header keeps (NULL: none, gate stage) */
} plandef;

/* The barrier's release: 2 stages (Db; Api + Web), environments Beta and Prod. */
static const jobdef JOBS[] = {
    {1, 0, "Db", "T1", false},  {1, 0, "Db", "T2", false},  {1, 1, "Db", "T1", false},
    {1, 1, "Db", "T2", false},  {2, 0, "Api", NULL, false}, {2, 0, "Web", "T1", false},
    {2, 0, "Web", "T2", false}, {2, 1, "Api", NULL, false}, {2, 1, "Web", "T1", false},
    {2, 1, "Web", "T2", true},
};
#define N_JOBS (sizeof JOBS / sizeof JOBS[0])
static const plandef STAGE_PLAN = {JOBS, N_JOBS, 2, NULL};

/* The lanes' release: 3 stages in Beta and Prod, tenants T1 and T2 (lanes); stage 2 also
 * holds the untenanted Schema; Prod's Api for T2 is skipped by the plan. */
static const jobdef LJOBS[] = {
    {1, 0, "Db", "T1", false},     {1, 0, "Db", "T2", false},  {1, 1, "Db", "T1", false},
    {1, 1, "Db", "T2", false},     {2, 0, "Api", "T1", false}, {2, 0, "Api", "T2", false},
    {2, 0, "Schema", NULL, false}, {2, 1, "Api", "T1", false}, {2, 1, "Api", "T2", true},
    {2, 1, "Schema", NULL, false}, {3, 0, "Web", "T1", false}, {3, 0, "Web", "T2", false},
    {3, 1, "Web", "T1", false},    {3, 1, "Web", "T2", false},
};
#define N_LJOBS (sizeof LJOBS / sizeof LJOBS[0])
#define LANE_REQUEST(policy)                                                                \
    "{\"release\":\"2026.18\",\"environments\":[\"Beta\",\"Prod\"],\"tenants\":\"all\","    \
    "\"stages\":[[{\"project\":\"Db\",\"version\":\"1.0.0\"}],[{\"project\":\"Api\","       \
    "\"version\":\"1.0.0\"},{\"project\":\"Schema\",\"version\":\"1.0.0\"}],[{\"project\":" \
    "\"Web\",\"version\":\"1.0.0\"}]],\"policy\":" policy "}"
static const plandef LANE_PLAN = {LJOBS, N_LJOBS, 3, LANE_REQUEST("{\"gate\":\"tenant\"}")};
static const plandef PAUSE_ALL_PLAN = {
    LJOBS, N_LJOBS, 3, LANE_REQUEST("{\"gate\":\"tenant\",\"lane_failure\":\"pause_all\"}")};
/* the lanes' release under the barrier (no policy.gate) */
static const plandef LANE_JOBS_STAGE_PLAN = {LJOBS, N_LJOBS, 3, LANE_REQUEST("{}")};

static char RELEASE_ID[OF_UUID_STR_SIZE];

/* The header and job records of plan pd (jobs: pd->n of them), as of_plan_build makes them;
 * the gate policy comes from the request, as on a producer's restart. */
static void make_release(const plandef *pd, of_release_record *h, of_job_record *jobs)
{
    memset(h, 0, sizeof *h);
    of_uuid_release_id("Default", "2026.18", RELEASE_ID);
    of_id_copy(h->release_id, RELEASE_ID);
    h->release_name = strdup("2026.18");
    h->space.id = strdup("Spaces-1");
    h->space.name = strdup("Default");
    h->stage_count = pd->stages;
    h->stage_names = calloc((size_t)pd->stages, sizeof *h->stage_names);
    h->stage_names[0] = strdup("database");
    h->n_environments = 2;
    h->environments = calloc(2, sizeof *h->environments);
    h->stage_status = calloc((size_t)pd->stages * 2, sizeof *h->stage_status);
    for (int e = 0; e < 2; e++) {
        char id[32];
        (void)snprintf(id, sizeof id, "Environments-%d", e + 1);
        h->environments[e].id = strdup(id);
        h->environments[e].name = strdup(ENVS[e]);
    }
    if (pd->request) h->request_json = strdup(pd->request);
    char err[256] = "";
    CHECK_INT(of_plan_header_policy(h, err, sizeof err), OF_OK);
    for (size_t i = 0; i < pd->n; i++) {
        const jobdef *d = &pd->jobs[i];
        of_job_record *r = &jobs[i];
        memset(r, 0, sizeof *r);
        of_job *j = &r->job;
        of_id_copy(j->release_id, RELEASE_ID);
        of_uuid_job_id(RELEASE_ID, d->stage, d->project, ENVS[d->env], d->tenant, j->job_id);
        j->release_name = strdup("2026.18");
        j->stage = d->stage;
        j->stage_count = pd->stages;
        j->space.id = strdup("Spaces-1");
        j->project.name = strdup(d->project);
        j->project.id = strdup(d->project);
        j->octo_release.id = strdup("Releases-1");
        j->octo_release.name = strdup("1.0.0");
        char id[32];
        (void)snprintf(id, sizeof id, "Environments-%d", d->env + 1);
        j->environment.id = strdup(id);
        j->environment.name = strdup(ENVS[d->env]);
        if (d->tenant) {
            j->tenant.id = strdup(d->tenant);
            j->tenant.name = strdup(d->tenant);
        }
        r->status = d->skip ? OF_JOB_SKIPPED : OF_JOB_PENDING;
        if (d->skip) r->skip_reason = strdup("skipped in request");
    }
    h->n_jobs = pd->n;
}

static of_gate *new_gate_of(const plandef *pd)
{
    of_release_record h;
    of_job_record *jobs = calloc(pd->n, sizeof *jobs);
    make_release(pd, &h, jobs);
    of_gate *g = NULL;
    char err[256] = "";
    CHECK_INT(of_gate_new(&h, jobs, pd->n, &g, err, sizeof err), OF_OK);
    of_release_record_clear(&h);
    for (size_t i = 0; i < pd->n; i++)
        of_job_record_clear(&jobs[i]);
    free(jobs);
    return g;
}

static of_gate *new_gate(void)
{
    return new_gate_of(&STAGE_PLAN);
}

static void key_of(const of_job *j, char *out, size_t n)
{
    (void)snprintf(out, n, "%d/%s/%s/%s", j->stage, j->environment.name, j->project.name,
                   j->tenant.name ? j->tenant.name : "-");
}

static const char *job_id_of(const char *key)
{
    static char id[OF_UUID_STR_SIZE];
    int stage = 0;
    char env[16] = "", proj[16] = "", ten[16] = "";
    CHECK_INT(sscanf(key, "%d/%15[^/]/%15[^/]/%15s", &stage, env, proj, ten), 4);
    of_uuid_job_id(RELEASE_ID, stage, proj, env, strcmp(ten, "-") ? ten : NULL, id);
    return id;
}

/* ---- steps ---- */

enum op { START, EV, REPLAY, RESUME, ABORT, REPLAYQ /* replay --quarantined */, APPROVE };

typedef struct stepdef {
    enum op op;
    const char *job; /* EV: job key */
    of_event_type type;
    int attempt;
    int stage; /* REPLAY, APPROVE */
    bool all;
    const char *tenant, *project, *env; /* REPLAY filters */
    const char *overrides;              /* RESUME, REPLAY (reconciled): "key=status;key=status" */
    bool cancel;                        /* ABORT */
    of_err rc;
    const char *dispatch; /* "key#attempt ..." in order ("" = none) */
    const char *events;   /* "type[ where](n), ..." in order, job.dispatched omitted */
    const char *cancels;  /* "key ..." */
    of_release_status status;
} stepdef;

static void render_outputs(const of_gate_out *o, char *disp, size_t dn, char *evs, size_t en,
                           char *canc, size_t cn)
{
    disp[0] = evs[0] = canc[0] = '\0';
    size_t used = 0;
    char key[128];
    for (size_t i = 0; i < o->n_dispatch; i++) {
        key_of(&o->dispatch[i], key, sizeof key);
        used += (size_t)snprintf(disp + used, dn - used, "%s%s#%d", i ? " " : "", key,
                                 o->dispatch[i].attempt);
        if (used >= dn) break;
    }
    used = 0;
    for (size_t i = 0; i < o->n_events; i++) {
        const of_event *e = &o->events[i];
        if (e->type == OF_EV_JOB_DISPATCHED) continue;
        const char *t = of_event_type_name(e->type) + strlen("octofleet.");
        char where[160] = "";
        if (e->job_id[0])
            (void)snprintf(where, sizeof where, " %d/%s/%s/%s", e->stage, e->environment,
                           e->project, e->tenant ? e->tenant : "-");
        else if (e->stage && e->environment)
            (void)snprintf(where, sizeof where, " %d/%s", e->stage, e->environment);
        else if (e->stage)
            (void)snprintf(where, sizeof where, " %d", e->stage);
        else if (e->n_jobs)
            (void)snprintf(where, sizeof where, "(%zu)", e->n_jobs);
        used += (size_t)snprintf(evs + used, en - used, "%s%s%s", used ? ", " : "", t, where);
        if (used >= en) break;
    }
    used = 0;
    for (size_t i = 0; i < o->n_cancel; i++) {
        const of_job_ref *r = &o->cancel[i];
        used += (size_t)snprintf(canc + used, cn - used, "%s%d/%s/%s/%s", i ? " " : "", r->stage,
                                 r->environment, r->project, r->tenant ? r->tenant : "-");
        if (used >= cn) break;
    }
}

/* An operator command of type, given by, for reason (NULL: none); the rest zero. */
static of_command command(of_cmd_type type, const char *by, const char *reason)
{
    of_command c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.by = (char *)(uintptr_t)by;
    c.reason = (char *)(uintptr_t)reason;
    return c;
}

/* "key=status;key=status" -> overrides (message "redeployed by hand"); how many. */
static size_t parse_overrides(const char *spec, of_gate_override *ov, size_t max)
{
    size_t n = 0;
    if (!spec) return 0;
    char buf[256];
    (void)snprintf(buf, sizeof buf, "%s", spec);
    for (char *item = buf; item && *item && n < max;) {
        char *semi = strchr(item, ';');
        if (semi) *semi = '\0';
        char *eq = strchr(item, '=');
        CHECK(eq != NULL);
        if (!eq) break;
        *eq = '\0';
        of_id_copy(ov[n].job_id, job_id_of(item));
        CHECK_INT(of_job_status_parse(eq + 1, &ov[n].status), 0);
        ov[n].message = "redeployed by hand";
        n++;
        item = semi ? semi + 1 : NULL;
    }
    return n;
}

static of_err apply(of_gate *g, const stepdef *s, int64_t now, of_gate_out *out)
{
    switch (s->op) {
    case START:
        return of_gate_start(g, now, out);
    case EV: {
        of_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = s->type;
        of_id_copy(ev.release_id, RELEASE_ID);
        of_id_copy(ev.job_id, job_id_of(s->job));
        ev.attempt = s->attempt;
        ev.task_id = (char *)(uintptr_t) "ServerTasks-1";
        ev.message = s->type == OF_EV_JOB_FAILED ? (char *)(uintptr_t) "step 2 failed" : NULL;
        return of_gate_job_event(g, &ev, now, out);
    }
    case REPLAY:
    case REPLAYQ: {
        of_command c = command(OF_CMD_REPLAY, "alice", NULL);
        c.quarantined = s->op == REPLAYQ;
        c.stage = s->stage;
        c.all = s->all;
        char *t[1] = {(char *)(uintptr_t)s->tenant};
        char *p[1] = {(char *)(uintptr_t)s->project};
        char *e[1] = {(char *)(uintptr_t)s->env};
        if (s->tenant) c.tenants = t, c.n_tenants = 1;
        if (s->project) c.projects = p, c.n_projects = 1;
        if (s->env) c.environments = e, c.n_environments = 1;
        if (!s->overrides) return of_gate_replay(g, &c, now, out);
        of_gate_override ov[4];
        size_t n = parse_overrides(s->overrides, ov, 4);
        return of_gate_replay_reconciled(g, &c, ov, n, now, out);
    }
    case RESUME: {
        of_command c = command(OF_CMD_RESUME, "bob", "fixed the schema by hand");
        of_gate_override ov[4];
        size_t n = parse_overrides(s->overrides, ov, 4);
        return of_gate_resume(g, &c, ov, n, now, out);
    }
    case ABORT: {
        of_command c = command(OF_CMD_ABORT, "carol", "wrong train");
        c.cancel_running = s->cancel;
        return of_gate_abort(g, &c, now, out);
    }
    case APPROVE: {
        of_command c = command(OF_CMD_APPROVE, "dave", "change 42 signed off");
        c.stage = s->stage;
        char why[256] = "";
        of_err rc = of_gate_approve(g, &c, now, out, why, sizeof why);
        CHECK(rc == OF_OK || why[0]); /* an ignored approval says why */
        return rc;
    }
    }
    return OF_ERR_INVALID;
}

/* Every event id seen in a scenario: ids must never repeat for different decisions. */
typedef struct idset {
    char ids[512][OF_UUID_STR_SIZE];
    size_t n;
} idset;

static void check_unique(idset *seen, const of_gate_out *o)
{
    for (size_t i = 0; i < o->n_events; i++) {
        CHECK(of_uuid_valid(o->events[i].id));
        for (size_t k = 0; k < seen->n; k++) {
            if (strcmp(seen->ids[k], o->events[i].id) == 0) {
                fprintf(stderr, "duplicate event id for %s\n",
                        of_event_type_name(o->events[i].type));
                CHECK(false);
            }
        }
        if (seen->n < 512) of_id_copy(seen->ids[seen->n++], o->events[i].id);
    }
}

static void run_steps(of_gate *g, const char *name, const stepdef *steps, size_t n, idset *seen)
{
    for (size_t i = 0; i < n; i++) {
        const stepdef *s = &steps[i];
        of_gate_out out;
        memset(&out, 0, sizeof out);
        of_err rc = apply(g, s, 1778015000000 + (int64_t)i, &out);
        char disp[1024], evs[1024], canc[512];
        render_outputs(&out, disp, sizeof disp, evs, sizeof evs, canc, sizeof canc);
        int before = of_test_failures;
        CHECK_INT(rc, s->rc);
        CHECK_STR(disp, s->dispatch ? s->dispatch : "");
        CHECK_STR(evs, s->events ? s->events : "");
        CHECK_STR(canc, s->cancels ? s->cancels : "");
        CHECK_INT(of_gate_status(g), s->status);
        /* a dispatch always comes with its job.dispatched event */
        size_t nd = 0;
        for (size_t k = 0; k < out.n_events; k++)
            if (out.events[k].type == OF_EV_JOB_DISPATCHED) nd++;
        CHECK_INT(nd, out.n_dispatch);
        if (seen) check_unique(seen, &out);
        if (of_test_failures != before) fprintf(stderr, "  in %s, step %zu\n", name, i + 1);
        of_gate_out_clear(&out);
    }
}

#define OK_(...) OF_OK, __VA_ARGS__
#define RUN      OF_RELEASE_RUNNING
#define PAUSED   OF_RELEASE_PAUSED
#define DONE     OF_RELEASE_COMPLETED
#define ABORTED  OF_RELEASE_ABORTED
#define E(job, type, attempt) \
    EV, job, OF_EV_JOB_##type, attempt, 0, false, NULL, NULL, NULL, NULL, false
#define NOARGS NULL, OF_EV__COUNT, 0, 0, false, NULL, NULL, NULL, NULL, false
/* The start of a release on the standard plan: stage 1 dispatched in both environments,
 * Prod's Web/T2 skipped by the plan. Every scenario begins with it. */
#define START_STEP                                                                    \
    {                                                                                 \
        START, NOARGS,                                                                \
            OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Prod/Db/T1#1 1/Prod/Db/T2#1",        \
                "release.accepted, job.skipped 2/Prod/Web/T2, stage.started 1/Beta, " \
                "stage.started 1/Prod",                                               \
                "", RUN)                                                              \
    }

/* Happy path, with duplicates and out-of-order events; completion. */
static const stepdef happy[] = {
    START_STEP,
    {START, NOARGS, OF_ERR_STATE, "", "", "", RUN},
    {E("1/Beta/Db/T1", STARTED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T1", STARTED, 1), OK_("", "", "", RUN)}, /* duplicate */
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)}, /* duplicate */
    {E("1/Beta/Db/T2", SUCCEEDED, 1),                        /* no started seen: fine */
     OK_("2/Beta/Api/-#1 2/Beta/Web/T1#1 2/Beta/Web/T2#1",
         "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},
    {E("1/Beta/Db/T2", STARTED, 1), OK_("", "", "", RUN)}, /* late, after the end */
    {E("1/Prod/Db/T1", WAITING, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", STARTED, 1), OK_("", "", "", RUN)}, /* intervention resolved */
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("2/Prod/Api/-#1 2/Prod/Web/T1#1",
                                          "stage.succeeded 1/Prod, stage.started 2/Prod", "", RUN)},
    {E("2/Beta/Api/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Web/T1", SKIPPED, 1), OK_("", "", "", RUN)}, /* worker skip counts as done */
    {E("2/Beta/Web/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 2/Beta", "", RUN)},
    {E("2/Prod/Api/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Prod/Web/T1", SUCCEEDED, 1),
     OK_("", "stage.succeeded 2/Prod, release.completed", "", DONE)},
    {E("2/Prod/Web/T1", FAILED, 1), OK_("", "", "", DONE)}, /* after the end: ignored */
    {ABORT, NOARGS, OF_ERR_STATE, "", "", "", DONE},
};

/* Failure -> pause once nothing is in flight; replay failed-only, filters, --all. */
static const stepdef failure[] = {
    START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    /* Prod's stage 1 passes, but the release is blocked: no stage 2 anywhere */
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 1/Prod", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.failed 1/Beta, release.paused(1)", "", PAUSED)},
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", PAUSED)}, /* duplicate */
    {REPLAY, NULL, OF_EV__COUNT, 0, 1, false, NULL, NULL, NULL, NULL, false,
     /* nothing is failed any more: Prod, whose stage 1 passed, moves on at once */
     OK_("1/Beta/Db/T1#2 2/Prod/Api/-#1 2/Prod/Web/T1#1",
         "release.resumed, stage.started 1/Beta, stage.started 2/Prod", "", RUN)},
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)}, /* stale attempt */
    {E("1/Beta/Db/T1", SUCCEEDED, 2), OK_("2/Beta/Api/-#1 2/Beta/Web/T1#1 2/Beta/Web/T2#1",
                                          "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},
    /* --- the save/load test restarts from here --- */
    {E("2/Beta/Web/T2", TIMED_OUT, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Web/T1", CANCELLED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/-", SUCCEEDED, 1), OK_("", "stage.failed 2/Beta", "", RUN)},
    {E("2/Prod/Api/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Prod/Web/T1", SUCCEEDED, 1),
     OK_("", "stage.succeeded 2/Prod, release.paused(2)", "", PAUSED)},
    /* replay only T2's failure */
    {REPLAY, NULL, OF_EV__COUNT, 0, 2, false, "T2", NULL, NULL, NULL, false,
     OK_("2/Beta/Web/T2#2", "release.resumed, stage.started 2/Beta", "", RUN)},
    {E("2/Beta/Web/T2", SUCCEEDED, 2),
     OK_("", "stage.failed 2/Beta, release.paused(1)", "", PAUSED)},
    /* nothing failed in Api: nothing to replay */
    {REPLAY, NULL, OF_EV__COUNT, 0, 2, false, NULL, "Api", NULL, NULL, false, OF_ERR_STATE, "", "",
     "", PAUSED},
    /* --all for Web: every dispatched Web job of stage 2, not the one skipped by plan */
    {REPLAY, NULL, OF_EV__COUNT, 0, 2, true, NULL, "Web", NULL, NULL, false,
     OK_("2/Beta/Web/T1#2 2/Beta/Web/T2#3 2/Prod/Web/T1#2",
         "release.resumed, stage.started 2/Beta, stage.started 2/Prod", "", RUN)},
    {E("2/Beta/Web/T1", SUCCEEDED, 2), OK_("", "", "", RUN)},
    {E("2/Prod/Web/T1", SUCCEEDED, 2), OK_("", "stage.succeeded 2/Prod", "", RUN)},
    {E("2/Beta/Web/T2", SUCCEEDED, 3),
     OK_("", "stage.succeeded 2/Beta, release.completed", "", DONE)},
};
#define FAILURE_SPLIT 9 /* steps done before the save/load */

/* Abort with cancellation; events after abort are recorded, nothing is decided. */
static const stepdef abort_steps[] = {
    START_STEP,
    {E("1/Beta/Db/T1", STARTED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {ABORT, NULL, OF_EV__COUNT, 0, 0, false, NULL, NULL, NULL, NULL, true,
     OK_("", "release.aborted(3)", "1/Beta/Db/T1 1/Beta/Db/T2 1/Prod/Db/T2", ABORTED)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "", "", ABORTED)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "", "", ABORTED)},
    {ABORT, NOARGS, OK_("", "", "", ABORTED)}, /* duplicate command */
    {REPLAY, NULL, OF_EV__COUNT, 0, 1, false, NULL, NULL, NULL, NULL, false, OF_ERR_STATE, "", "",
     "", ABORTED},
    {RESUME, NOARGS, OF_ERR_STATE, "", "", "", ABORTED},
};

/* Abort without cancel_running: the event still lists what runs; nothing to cancel. */
static const stepdef abort_nocancel[] = {
    START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {ABORT, NOARGS, OK_("", "release.aborted(3)", "", ABORTED)},
};

/* Resume: reconciled overrides win; what is still failed is accepted as skipped. */
static const stepdef resume[] = {
    START_STEP,
    {RESUME, NOARGS, OF_ERR_STATE, "", "", "", RUN}, /* nothing failed */
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "stage.failed 1/Beta", "", RUN)},
    {E("1/Prod/Db/T1", TIMED_OUT, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.failed 1/Prod, release.paused(2)", "", PAUSED)},
    {RESUME, NULL, OF_EV__COUNT, 0, 0, false, NULL, NULL, NULL, "1/Beta/Db/T1=succeeded", false,
     OK_("2/Beta/Api/-#1 2/Beta/Web/T1#1 2/Beta/Web/T2#1 2/Prod/Api/-#1 2/Prod/Web/T1#1",
         "release.resumed, stage.succeeded 1/Beta, stage.succeeded 1/Prod, stage.started 2/Beta, "
         "stage.started 2/Prod",
         "", RUN)},
    {RESUME, NOARGS, OF_ERR_STATE, "", "", "", RUN}, /* duplicate command: nothing failed now */
};

/* Replay after reconciling: a failed target found on the release in Octopus is recorded as
 * succeeded and not sent again; an override of a job that is not failed, or that the replay's
 * filters leave out, changes nothing; --all ignores overrides. */
#define R(stage, all, tenant, ov) \
    REPLAY, NULL, OF_EV__COUNT, 0, stage, all, tenant, NULL, NULL, ov, false
static const stepdef replay_reconciled[] = {
    START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", FAILED, 1), OK_("", "stage.failed 1/Prod", "", RUN)},
    {E("1/Beta/Db/T2", FAILED, 1), OK_("", "stage.failed 1/Beta, release.paused(3)", "", PAUSED)},
    /* T1 in Beta found deployed; Prod/T1 is not failed and Prod/T2 is outside the filter */
    {R(1, false, NULL, "1/Beta/Db/T1=succeeded;1/Prod/Db/T1=succeeded"),
     OK_("1/Beta/Db/T2#2 1/Prod/Db/T2#2",
         "release.resumed, stage.started 1/Beta, stage.started 1/Prod", "", RUN)},
    {E("1/Beta/Db/T2", FAILED, 2), OK_("", "stage.failed 1/Beta", "", RUN)},
    {E("1/Prod/Db/T2", FAILED, 2), OK_("", "stage.failed 1/Prod, release.paused(2)", "", PAUSED)},
    /* every failed target of Beta found: nothing to send there, Beta's stage 1 passes and
     * (nothing failed any more) its stage 2 starts */
    {R(1, false, "T2", "1/Beta/Db/T2=succeeded"),
     OK_("1/Prod/Db/T2#3 2/Beta/Api/-#1 2/Beta/Web/T1#1 2/Beta/Web/T2#1",
         "release.resumed, stage.started 1/Prod, stage.succeeded 1/Beta, stage.started 2/Beta", "",
         RUN)},
};
/* --all redeploys what was asked, overrides or not */
static const stepdef replay_all_not_reconciled[] = {
    START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 1/Prod", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.failed 1/Beta, release.paused(1)", "", PAUSED)},
    {R(1, true, NULL, "1/Beta/Db/T1=succeeded"),
     OK_("1/Beta/Db/T1#2 1/Beta/Db/T2#2 1/Prod/Db/T1#2 1/Prod/Db/T2#2",
         "release.resumed, stage.started 1/Beta, stage.started 1/Prod", "", RUN)},
};
#undef R

/* ---- lanes (policy.gate "tenant") ---- */

#define LANE_START_STEP                                                               \
    {                                                                                 \
        START, NOARGS,                                                                \
            OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Prod/Db/T1#1 1/Prod/Db/T2#1",        \
                "release.accepted, job.skipped 2/Prod/Api/T2, stage.started 1/Beta, " \
                "stage.started 1/Prod",                                               \
                "", RUN)                                                              \
    }

/* Lanes move on their own; the untenanted Schema starts when every lane of its environment
 * has passed stage 1 and holds every lane there at stage 2 until it is done. */
static const stepdef lanes[] = {
    LANE_START_STEP,
    /* T1 is through stage 1 in Beta: its stage 2 starts, T2's stage 1 still runs */
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("2/Beta/Api/T1#1", "stage.started 2/Beta", "", RUN)},
    /* the last lane of Beta passes stage 1: Schema may start */
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("2/Beta/Api/T2#1 2/Beta/Schema/-#1", "stage.succeeded 1/Beta", "", RUN)},
    /* T1's own stage 2 is done, but Schema is not: T1 waits */
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    /* Schema done: T1 moves to stage 3 while T2 is still in stage 2 */
    {E("2/Beta/Schema/-", SUCCEEDED, 1), OK_("3/Beta/Web/T1#1", "stage.started 3/Beta", "", RUN)},
    /* Prod's T2 has nothing of its own in stage 2 (skipped) but waits for Schema there,
     * which waits for T1's stage 1 */
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("2/Prod/Api/T1#1 2/Prod/Schema/-#1",
                                          "stage.succeeded 1/Prod, stage.started 2/Prod", "", RUN)},
    {E("3/Beta/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)}, /* T1 is through in Beta */
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("3/Beta/Web/T2#1", "stage.succeeded 2/Beta", "", RUN)},
    {E("2/Prod/Schema/-", SUCCEEDED, 1),
     OK_("3/Prod/Web/T2#1", "stage.started 3/Prod", "", RUN)}, /* T2 before T1 in Prod */
    {E("2/Prod/Api/T1", SUCCEEDED, 1), OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod", "", RUN)},
    {E("3/Beta/Web/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 3/Beta", "", RUN)},
    {E("3/Prod/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Prod/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Prod, release.completed", "", DONE)},
};

/* The same release behind the barrier: nothing of stage 2 before all of stage 1 is done. */
static const stepdef lanes_as_stages[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Schema/-#1",
                                          "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Schema/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
};

/* lane_failure stop_lane: the failed lane stops, the others finish, then the release pauses;
 * replaying the failed job continues its lane in order. */
static const stepdef lane_failure[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    /* T2 goes on in Beta; Schema waits for T1, which is stopped */
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("2/Beta/Api/T2#1", "stage.failed 1/Beta, stage.started 2/Beta", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("2/Prod/Api/T1#1", "stage.started 2/Prod", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("2/Prod/Schema/-#1", "stage.succeeded 1/Prod", "", RUN)},
    /* --- the save/load test restarts from here --- */
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("", "", "", RUN)}, /* waits for Schema */
    {E("2/Prod/Schema/-", SUCCEEDED, 1), OK_("3/Prod/Web/T2#1", "stage.started 3/Prod", "", RUN)},
    {E("2/Prod/Api/T1", SUCCEEDED, 1), OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod", "", RUN)},
    {E("3/Prod/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    /* nothing in flight and nothing can start: the release pauses, listing the failure */
    {E("3/Prod/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Prod, release.paused(1)", "", PAUSED)},
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", PAUSED)}, /* duplicate */
    {REPLAY, NULL, OF_EV__COUNT, 0, 0, false, "T1", NULL, NULL, NULL, false,
     OK_("1/Beta/Db/T1#2", "release.resumed, stage.started 1/Beta", "", RUN)},
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)}, /* stale attempt */
    /* T1 continues in order: its stage 2, and Schema now that every lane passed stage 1 */
    {E("1/Beta/Db/T1", SUCCEEDED, 2),
     OK_("2/Beta/Api/T1#1 2/Beta/Schema/-#1", "stage.succeeded 1/Beta", "", RUN)},
    {E("2/Beta/Schema/-", SUCCEEDED, 1), OK_("3/Beta/Web/T2#1", "stage.started 3/Beta", "", RUN)},
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("3/Beta/Web/T1#1", "stage.succeeded 2/Beta", "", RUN)},
    {E("3/Beta/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Beta/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Beta, release.completed", "", DONE)},
};
#define LANE_FAILURE_SPLIT 5 /* steps done before the save/load */

/* A failed untenanted job stops every lane of its environment; the other environment goes
 * on; abort lists and cancels what runs. */
static const stepdef lane_untenanted_failure[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("2/Beta/Api/T1#1", "stage.started 2/Beta", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("2/Beta/Api/T2#1 2/Beta/Schema/-#1", "stage.succeeded 1/Beta", "", RUN)},
    {E("2/Beta/Schema/-", FAILED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)}, /* T1 may not pass stage 2 */
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("", "stage.failed 2/Beta", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("2/Prod/Api/T1#1", "stage.started 2/Prod", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("2/Prod/Schema/-#1", "stage.succeeded 1/Prod", "", RUN)},
    {ABORT, NULL, OF_EV__COUNT, 0, 0, false, NULL, NULL, NULL, NULL, true,
     OK_("", "release.aborted(2)", "2/Prod/Api/T1 2/Prod/Schema/-", ABORTED)},
    {E("2/Prod/Schema/-", SUCCEEDED, 1), OK_("", "", "", ABORTED)}, /* recorded, no decision */
};

/* lane_failure pause_all: a failure stops every lane, as the barrier does; resume accepts
 * the failed job and every lane that moved meanwhile starts its next stage. */
static const stepdef lane_pause_all[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "stage.failed 1/Beta", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 1/Prod, release.paused(1)", "", PAUSED)},
    {RESUME, NOARGS,
     OK_("2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Schema/-#1 2/Prod/Api/T1#1 2/Prod/Schema/-#1",
         "release.resumed, stage.succeeded 1/Beta, stage.started 2/Beta, stage.started 2/Prod", "",
         RUN)},
    {E("2/Prod/Schema/-", SUCCEEDED, 1), OK_("3/Prod/Web/T2#1", "stage.started 3/Prod", "", RUN)},
};

/* ---- policy.proceed: success-ratio gates and quarantine ---- */

/* Four tenants in Beta, T1 alone in Prod, three stages. */
static const jobdef QJOBS[] = {
    {1, 0, "Db", "T1", false},  {1, 0, "Db", "T2", false},  {1, 0, "Db", "T3", false},
    {1, 0, "Db", "T4", false},  {1, 1, "Db", "T1", false},  {2, 0, "Api", "T1", false},
    {2, 0, "Api", "T2", false}, {2, 0, "Api", "T3", false}, {2, 0, "Api", "T4", false},
    {2, 1, "Api", "T1", false}, {3, 0, "Web", "T1", false}, {3, 0, "Web", "T2", false},
    {3, 0, "Web", "T3", false}, {3, 0, "Web", "T4", false}, {3, 1, "Web", "T1", false},
};
#define N_QJOBS (sizeof QJOBS / sizeof QJOBS[0])
#define Q_REQUEST(stage1, policy)                                                                  \
    "{\"release\":\"2026.18\",\"environments\":[\"Beta\",\"Prod\"],\"tenants\":\"all\","           \
    "\"stages\":[{\"projects\":[{\"project\":\"Db\",\"version\":\"1.0.0\"}]" stage1 "},"           \
    "[{\"project\":\"Api\",\"version\":\"1.0.0\"}],[{\"project\":\"Web\",\"version\":\"1.0.0\"}]]" \
    ","                                                                                            \
    "\"policy\":" policy "}"
/* 3 of 4 must succeed: one failure per (stage, environment) of Beta; stage 1 wants all */
static const plandef Q_PLAN = {
    QJOBS, N_QJOBS, 3,
    Q_REQUEST(",\"proceed\":{\"max_failures\":0}", "{\"proceed\":{\"min_success_ratio\":0.75}}")};
/* the lanes' release, one failure allowed in the whole release */
static const plandef LANE_Q_PLAN = {
    LJOBS, N_LJOBS, 3, LANE_REQUEST("{\"gate\":\"tenant\",\"proceed\":{\"max_failures\":1}}")};

#define Q_START_STEP                                                                        \
    {START, NOARGS,                                                                         \
     OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Beta/Db/T3#1 1/Beta/Db/T4#1 1/Prod/Db/T1#1",      \
         "release.accepted, stage.started 1/Beta, stage.started 1/Prod", "", RUN)},         \
        {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},                            \
        {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "", "", RUN)},                            \
        {E("1/Beta/Db/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},                            \
        {E("1/Beta/Db/T4", SUCCEEDED, 1),                                                   \
         OK_("2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Api/T3#1 2/Beta/Api/T4#1",             \
             "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},                     \
    {                                                                                       \
        E("1/Prod/Db/T1", SUCCEEDED, 1),                                                    \
            OK_("2/Prod/Api/T1#1", "stage.succeeded 1/Prod, stage.started 2/Prod", "", RUN) \
    }

/* Within the allowance: the failed tenant is quarantined in Beta (its stage 3 skipped), Prod
 * and the other tenants go on, the release completes; replay --quarantined retries the failure
 * and then runs the tenant's stage 3 after the release had completed. */
static const stepdef quarantine[] = {
    Q_START_STEP,
    {E("2/Beta/Api/T2", FAILED, 1), OK_("", "job.skipped 3/Beta/Web/T2", "", RUN)},
    /* --- the save/load test restarts from here --- */
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T4", SUCCEEDED, 1),
     OK_("3/Beta/Web/T1#1 3/Beta/Web/T3#1 3/Beta/Web/T4#1",
         "stage.succeeded 2/Beta, stage.started 3/Beta", "", RUN)},
    {E("2/Prod/Api/T1", SUCCEEDED, 1),
     OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod, stage.started 3/Prod", "", RUN)},
    {E("3/Beta/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Beta/Web/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Beta/Web/T4", SUCCEEDED, 1), OK_("", "stage.succeeded 3/Beta", "", RUN)},
    {E("3/Prod/Web/T1", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Prod, release.completed", "", DONE)},
    /* --- and from here --- */
    {REPLAY, NULL, OF_EV__COUNT, 0, 3, false, NULL, NULL, NULL, NULL, false, OF_ERR_STATE, "", "",
     "", DONE}, /* nothing failed in stage 3 */
    {REPLAYQ, NOARGS, OK_("2/Beta/Api/T2#2", "release.resumed, stage.started 2/Beta", "", RUN)},
    {E("2/Beta/Api/T2", SUCCEEDED, 2), OK_("3/Beta/Web/T2#1", "stage.succeeded 2/Beta", "", RUN)},
    {E("3/Beta/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Beta, release.completed", "", DONE)},
    {REPLAYQ, NOARGS, OF_ERR_STATE, "", "", "", DONE}, /* nothing quarantined any more */
};
#define QUARANTINE_SPLIT  7
#define QUARANTINE_SPLIT2 15

/* Over the allowance: the release pauses as before; the tenant quarantined while the stage was
 * within it stays quarantined; replaying the other failure brings the stage back within it and
 * the train goes on without the quarantined tenant. Stage 1 allows no failure. */
static const stepdef quarantine_over[] = {
    {START, NOARGS,
     OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Beta/Db/T3#1 1/Beta/Db/T4#1 1/Prod/Db/T1#1",
         "release.accepted, stage.started 1/Beta, stage.started 1/Prod", "", RUN)},
    {E("1/Prod/Db/T1", FAILED, 1), OK_("", "stage.failed 1/Prod", "", RUN)}, /* max_failures 0 */
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T4", SUCCEEDED, 1),
     OK_("", "stage.succeeded 1/Beta, release.paused(1)", "", PAUSED)},
    {REPLAY, NULL, OF_EV__COUNT, 0, 1, false, NULL, NULL, "Prod", NULL, false,
     OK_("1/Prod/Db/T1#2 2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Api/T3#1 2/Beta/Api/T4#1",
         "release.resumed, stage.started 1/Prod, stage.started 2/Beta", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 2),
     OK_("2/Prod/Api/T1#1", "stage.succeeded 1/Prod, stage.started 2/Prod", "", RUN)},
    {E("2/Prod/Api/T1", SUCCEEDED, 1),
     OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod, stage.started 3/Prod", "", RUN)},
    {E("3/Prod/Web/T1", SUCCEEDED, 1), OK_("", "stage.succeeded 3/Prod", "", RUN)},
    {E("2/Beta/Api/T1", FAILED, 1), OK_("", "job.skipped 3/Beta/Web/T1", "", RUN)},
    {RESUME, NOARGS, OF_ERR_STATE, "", "", "", RUN}, /* a failure let through is no reason */
    {E("2/Beta/Api/T2", TIMED_OUT, 1), OK_("", "", "", RUN)}, /* 2 of 4: over */
    {E("2/Beta/Api/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T4", SUCCEEDED, 1),
     OK_("", "stage.failed 2/Beta, release.paused(2)", "", PAUSED)},
    {REPLAYQ, NOARGS, OF_ERR_STATE, "", "", "", PAUSED}, /* over: nothing is let through */
    {REPLAY, NULL, OF_EV__COUNT, 0, 2, false, "T2", NULL, NULL, NULL, false,
     OK_("2/Beta/Api/T2#2", "release.resumed, stage.started 2/Beta", "", RUN)},
    {E("2/Beta/Api/T2", SUCCEEDED, 2),
     OK_("3/Beta/Web/T2#1 3/Beta/Web/T3#1 3/Beta/Web/T4#1",
         "stage.succeeded 2/Beta, stage.started 3/Beta", "", RUN)},
    {E("3/Beta/Web/T2", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Beta/Web/T3", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Beta/Web/T4", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Beta, release.completed", "", DONE)},
};

/* Lanes: one failure in the whole release is let through (its lane quarantined), a second
 * one is over: that lane stops and the release pauses; replaying it brings the release back
 * within the allowance; it completes; replay --quarantined then takes the quarantined lane
 * through its stages in order. */
static const stepdef lane_quarantine[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", FAILED, 1),
     OK_("", "job.skipped 2/Beta/Api/T1, job.skipped 3/Beta/Web/T1", "", RUN)},
    /* the quarantined lane holds nothing: Schema starts with T2's stage 2 */
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("2/Beta/Api/T2#1 2/Beta/Schema/-#1",
                                          "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},
    /* --- the save/load test restarts from here --- */
    /* 2 > 1: over; T1 stops in Prod, Beta's stage 1 counts as failed again */
    {E("1/Prod/Db/T1", FAILED, 1), OK_("", "stage.failed 1/Beta", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "stage.failed 1/Prod", "", RUN)},
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Schema/-", SUCCEEDED, 1),
     OK_("3/Beta/Web/T2#1", "stage.succeeded 2/Beta, stage.started 3/Beta", "", RUN)},
    {E("3/Beta/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Beta, release.paused(2)", "", PAUSED)},
    {REPLAY, NULL, OF_EV__COUNT, 0, 0, false, NULL, NULL, "Prod", NULL, false,
     OK_("1/Prod/Db/T1#2", "release.resumed, stage.started 1/Prod, stage.succeeded 1/Beta", "",
         RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 2), OK_("2/Prod/Api/T1#1 2/Prod/Schema/-#1",
                                          "stage.succeeded 1/Prod, stage.started 2/Prod", "", RUN)},
    {E("2/Prod/Schema/-", SUCCEEDED, 1), OK_("3/Prod/Web/T2#1", "stage.started 3/Prod", "", RUN)},
    {E("2/Prod/Api/T1", SUCCEEDED, 1), OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod", "", RUN)},
    {E("3/Prod/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("3/Prod/Web/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Prod, release.completed", "", DONE)},
    {REPLAYQ, NOARGS, OK_("1/Beta/Db/T1#2", "release.resumed, stage.started 1/Beta", "", RUN)},
    /* T1 is released stage by stage: first its stage 2 ... */
    {E("1/Beta/Db/T1", SUCCEEDED, 2), OK_("2/Beta/Api/T1#1", "stage.succeeded 1/Beta", "", RUN)},
    /* ... then its stage 3 */
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("3/Beta/Web/T1#1", "stage.succeeded 2/Beta", "", RUN)},
    {E("3/Beta/Web/T1", SUCCEEDED, 1),
     OK_("", "stage.succeeded 3/Beta, release.completed", "", DONE)},
};
#define LANE_QUARANTINE_SPLIT 3

/* Quarantine is per (environment, tenant): T1 failing in Beta skips its Beta stage 3 only;
 * Prod's T1 goes on. */
static const stepdef quarantine_env[] = {
    Q_START_STEP,
    {E("2/Beta/Api/T1", FAILED, 1), OK_("", "job.skipped 3/Beta/Web/T1", "", RUN)},
    {E("2/Prod/Api/T1", SUCCEEDED, 1),
     OK_("3/Prod/Web/T1#1", "stage.succeeded 2/Prod, stage.started 3/Prod", "", RUN)},
};

/* The barrier: an untenanted failure is over any allowance. */
static const plandef STAGE_Q_PLAN = {LJOBS, N_LJOBS, 3,
                                     LANE_REQUEST("{\"proceed\":{\"max_failures\":5}}")};
static const stepdef stage_q_untenanted[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Schema/-#1",
                                          "stage.succeeded 1/Beta, stage.started 2/Beta", "", RUN)},
    {E("2/Beta/Schema/-", FAILED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("", "stage.failed 2/Beta", "", RUN)},
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)}, /* blocked: nothing starts */
    {E("1/Prod/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 1/Prod, release.paused(1)", "", PAUSED)},
    {REPLAYQ, NOARGS, OF_ERR_STATE, "", "", "", PAUSED},
};

/* An untenanted failure is never let through: no tenant to quarantine. */
static const stepdef lane_q_untenanted[] = {
    LANE_START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("2/Beta/Api/T1#1", "stage.started 2/Beta", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("2/Beta/Api/T2#1 2/Beta/Schema/-#1", "stage.succeeded 1/Beta", "", RUN)},
    {E("2/Beta/Schema/-", FAILED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Api/T2", SUCCEEDED, 1), OK_("", "stage.failed 2/Beta", "", RUN)},
    {REPLAYQ, NOARGS, OF_ERR_STATE, "", "", "", RUN},
};

/* ---- approvals (docs/gating.md, "Approvals") ---- */

#define APPROVAL_REQUEST(stage2, policy)                                                       \
    "{\"release\":\"2026.18\",\"environments\":[\"Beta\",\"Prod\"],\"tenants\":\"all\","       \
    "\"stages\":[[{\"project\":\"Db\",\"version\":\"1.0.0\"}],{\"projects\":[{\"project\":"    \
    "\"Api\",\"version\":\"1.0.0\"},{\"project\":\"Web\",\"version\":\"1.0.0\"}]" stage2 "}]," \
    "\"policy\":" policy "}"
#define NEEDS_APPROVAL ",\"approval\":{\"required\":true,\"by\":[\"Release Managers\"]}"
/* the barrier's release, stage 2 waiting for approval */
static const plandef APPROVE_PLAN = {JOBS, N_JOBS, 2, APPROVAL_REQUEST(NEEDS_APPROVAL, "{}")};
/* ... the whole release waiting for one */
static const plandef APPROVE_RELEASE_PLAN = {
    JOBS, N_JOBS, 2,
    APPROVAL_REQUEST("", "{\"approval\":{\"required\":true,\"by\":[\"Release Managers\"]}}")};
#define A(stage) APPROVE, NULL, OF_EV__COUNT, 0, stage, false, NULL, NULL, NULL, NULL, false

/* Stage 2 waits for its approval once stage 1 is done in an environment; it is asked for once;
 * approving it starts stage 2 wherever stage 1 is done. What cannot be approved is ignored. */
static const stepdef approve_stage[] = {
    START_STEP,
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1),
     OK_("", "stage.succeeded 1/Beta, stage.approval_required 2", "", RUN)},
    {A(1), OF_ERR_STATE, "", "", "", RUN}, /* needs no approval */
    {A(0), OF_ERR_STATE, "", "", "", RUN}, /* the release needs none */
    {A(3), OF_ERR_STATE, "", "", "", RUN}, /* no such stage */
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("1/Prod/Db/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 1/Prod", "", RUN)},
    {A(2), OK_("2/Beta/Api/-#1 2/Beta/Web/T1#1 2/Beta/Web/T2#1 2/Prod/Api/-#1 2/Prod/Web/T1#1",
               "stage.approved 2, stage.started 2/Beta, stage.started 2/Prod", "", RUN)},
    {A(2), OF_ERR_STATE, "", "", "", RUN}, /* approved already */
    {E("2/Beta/Api/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Web/T1", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Beta/Web/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 2/Beta", "", RUN)},
    {E("2/Prod/Api/-", SUCCEEDED, 1), OK_("", "", "", RUN)},
    {E("2/Prod/Web/T1", SUCCEEDED, 1),
     OK_("", "stage.succeeded 2/Prod, release.completed", "", DONE)},
    {A(2), OF_ERR_STATE, "", "", "", DONE}, /* the release has ended */
};
#define APPROVE_SPLIT 9 /* just after the approval */

/* policy.approval: nothing starts before it. */
static const stepdef approve_release[] = {
    {START, NOARGS,
     OK_("", "release.accepted, job.skipped 2/Prod/Web/T2, stage.approval_required", "", RUN)},
    {A(2), OF_ERR_STATE, "", "", "", RUN}, /* stage 2 needs none of its own */
    {A(0), OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Prod/Db/T1#1 1/Prod/Db/T2#1",
               "stage.approved, stage.started 1/Beta, stage.started 1/Prod", "", RUN)},
};

/* Lanes: a lane that reaches the stage waits there; approving it moves every waiting lane. */
static const plandef APPROVE_LANE_PLAN = {
    LJOBS, N_LJOBS, 3,
    "{\"release\":\"2026.18\",\"environments\":[\"Beta\",\"Prod\"],\"tenants\":\"all\","
    "\"stages\":[[{\"project\":\"Db\",\"version\":\"1.0.0\"}],{\"projects\":[{\"project\":"
    "\"Api\",\"version\":\"1.0.0\"},{\"project\":\"Schema\",\"version\":\"1.0.0\"}]" NEEDS_APPROVAL
    "},[{\"project\":\"Web\",\"version\":\"1.0.0\"}]],\"policy\":{\"gate\":\"tenant\"}}"};
static const stepdef approve_lanes[] = {
    {START, NOARGS,
     OK_("1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Prod/Db/T1#1 1/Prod/Db/T2#1",
         "release.accepted, job.skipped 2/Prod/Api/T2, stage.started 1/Beta, stage.started 1/Prod",
         "", RUN)},
    {E("1/Beta/Db/T1", SUCCEEDED, 1), OK_("", "stage.approval_required 2", "", RUN)},
    {E("1/Beta/Db/T2", SUCCEEDED, 1), OK_("", "stage.succeeded 1/Beta", "", RUN)},
    {A(2), OK_("2/Beta/Api/T1#1 2/Beta/Api/T2#1 2/Beta/Schema/-#1",
               "stage.approved 2, stage.started 2/Beta", "", RUN)},
    /* approved: Prod's lanes go on into stage 2 at once */
    {E("1/Prod/Db/T1", SUCCEEDED, 1), OK_("2/Prod/Api/T1#1", "stage.started 2/Prod", "", RUN)},
};

/* The jobs an approval lets start carry it to the workers (who answer the deployments' manual
 * interventions in its name); the ones before it do not. */
static void test_approval_carried(void)
{
    of_gate *g = new_gate_of(&APPROVE_RELEASE_PLAN);
    if (!g) return;
    of_gate_out out;
    memset(&out, 0, sizeof out);
    CHECK_INT(of_gate_start(g, 1000, &out), OF_OK);
    CHECK_INT(out.n_dispatch, 0);
    of_gate_out_clear(&out);
    of_command c = command(OF_CMD_APPROVE, "dave", "change 42 signed off");
    char why[256] = "";
    CHECK_INT(of_gate_approve(g, &c, 1001, &out, why, sizeof why), OF_OK);
    CHECK_INT(out.n_dispatch, 4);
    for (size_t i = 0; i < out.n_dispatch; i++) {
        CHECK_STR(out.dispatch[i].approved_by, "dave");
        CHECK_STR(out.dispatch[i].approval_reason, "change 42 signed off");
    }
    bool answered = false;
    for (size_t i = 0; i < out.n_events; i++)
        if (out.events[i].type == OF_EV_STAGE_APPROVED)
            answered = out.events[i].by && strcmp(out.events[i].by, "dave") == 0;
    CHECK(answered);
    /* the record keeps the approval: a rebuilt gate still carries it */
    of_release_record rr;
    CHECK_INT(of_gate_release_record(g, &rr), OF_OK);
    CHECK(rr.approvals && rr.approvals[0].by && strcmp(rr.approvals[0].by, "dave") == 0);
    CHECK(rr.approvals && !rr.approvals[1].by);
    of_release_record_clear(&rr);
    of_gate_out_clear(&out);
    of_gate_free(g);
    /* no approval asked for: nothing carried */
    g = new_gate_of(&STAGE_PLAN);
    if (!g) return;
    CHECK_INT(of_gate_start(g, 1000, &out), OF_OK);
    for (size_t i = 0; i < out.n_dispatch; i++)
        CHECK(out.dispatch[i].approved_by == NULL);
    of_gate_out_clear(&out);
    of_gate_free(g);
}

static void scenario_of(const plandef *pd, const char *name, const stepdef *steps, size_t n)
{
    of_gate *g = new_gate_of(pd);
    if (!g) return;
    idset *seen = calloc(1, sizeof *seen);
    run_steps(g, name, steps, n, seen);
    free(seen);
    of_gate_free(g);
}

static void scenario(const char *name, const stepdef *steps, size_t n)
{
    of_gate *g = new_gate();
    if (!g) return;
    idset *seen = calloc(1, sizeof *seen);
    run_steps(g, name, steps, n, seen);
    free(seen);
    of_gate_free(g);
}

static void test_resume_records(void)
{
    of_gate *g = new_gate();
    if (!g) return;
    run_steps(g, "resume", resume, sizeof resume / sizeof resume[0], NULL);
    long a = of_gate_find(g, job_id_of("1/Beta/Db/T1"));
    long b = of_gate_find(g, job_id_of("1/Prod/Db/T1"));
    CHECK(a >= 0 && b >= 0);
    if (a >= 0 && b >= 0) {
        const of_job_record *ra = of_gate_job(g, (size_t)a), *rb = of_gate_job(g, (size_t)b);
        CHECK_INT(ra->status, OF_JOB_SUCCEEDED);
        CHECK_STR(ra->skip_reason, "redeployed by hand");
        CHECK_INT(rb->status, OF_JOB_SKIPPED);
        CHECK_CONTAINS(rb->skip_reason, "accepted on resume by bob: fixed the schema by hand");
    }
    CHECK_INT(of_gate_round(g), 1);
    CHECK_INT(of_gate_in_flight(g), 5);
    of_gate_free(g);
}

/* The quarantined jobs' records: skipped, flagged, the reason names the failed job; the
 * release.completed message counts them. */
static void test_quarantine_records(void)
{
    of_gate *g = new_gate_of(&Q_PLAN);
    if (!g) return;
    run_steps(g, "quarantine-prefix", quarantine, QUARANTINE_SPLIT, NULL);
    long q = of_gate_find(g, job_id_of("3/Beta/Web/T2"));
    CHECK(q >= 0);
    if (q >= 0) {
        const of_job_record *r = of_gate_job(g, (size_t)q);
        CHECK_INT(r->status, OF_JOB_SKIPPED);
        CHECK(r->quarantined);
        CHECK_STR(r->skip_reason, "quarantined after Api/Beta/T2 failed");
        char *enc = NULL;
        CHECK_INT(of_job_record_encode(r, &enc), OF_OK);
        CHECK_CONTAINS(enc, "\"quarantined\":true");
        free(enc);
    }
    of_gate_out o;
    memset(&o, 0, sizeof o);
    for (size_t i = QUARANTINE_SPLIT; i < QUARANTINE_SPLIT2; i++) {
        of_gate_out_clear(&o);
        CHECK_INT(apply(g, &quarantine[i], 1, &o), OF_OK);
    }
    CHECK(o.n_events > 0 && o.events[o.n_events - 1].type == OF_EV_RELEASE_COMPLETED);
    if (o.n_events)
        CHECK_STR(o.events[o.n_events - 1].message,
                  "1 tenant(s) quarantined, 1 job(s) skipped; replay --quarantined retries them");
    of_gate_out_clear(&o);
    /* released: pending again, the flag and reason gone */
    for (size_t i = QUARANTINE_SPLIT2; i < QUARANTINE_SPLIT2 + 3; i++) {
        of_gate_out_clear(&o);
        CHECK_INT(apply(g, &quarantine[i], 1, &o), quarantine[i].rc);
    }
    of_gate_out_clear(&o);
    if (q >= 0) {
        const of_job_record *r = of_gate_job(g, (size_t)q);
        CHECK_INT(r->status, OF_JOB_DISPATCHED);
        CHECK(!r->quarantined);
        CHECK(r->skip_reason == NULL);
    }
    of_gate_free(g);
}

/* Replay after reconciling: the found job's record, the answer's counts and message, and
 * the hook that lists what a replay would re-dispatch. */
static void test_replay_reconciled_records(void)
{
    of_gate *g = new_gate();
    if (!g) return;
    run_steps(g, "replay-reconciled-prefix", replay_reconciled, 5, NULL);
    of_command c = command(OF_CMD_REPLAY, "alice", NULL);
    c.stage = 1;
    of_job_ref *refs = NULL;
    size_t n = 0;
    CHECK_INT(of_gate_replay_failed_jobs(g, &c, &refs, &n), OF_OK);
    CHECK_INT(n, 3);
    of_job_refs_free(refs, n);
    char *t2[1] = {(char *)(uintptr_t) "T2"};
    c.tenants = t2;
    c.n_tenants = 1;
    CHECK_INT(of_gate_replay_failed_jobs(g, &c, &refs, &n), OF_OK);
    CHECK_INT(n, 2); /* Beta and Prod, T2 */
    of_job_refs_free(refs, n);
    c.all = true;
    CHECK_INT(of_gate_replay_failed_jobs(g, &c, &refs, &n), OF_OK);
    CHECK_INT(n, 0); /* --all is not reconciled */
    of_job_refs_free(refs, n);
    c.all = false;
    c.tenants = NULL;
    c.n_tenants = 0;

    of_gate_override ov[1];
    CHECK_INT(parse_overrides("1/Beta/Db/T1=succeeded", ov, 1), 1);
    of_gate_out out;
    memset(&out, 0, sizeof out);
    CHECK_INT(of_gate_replay_reconciled(g, &c, ov, 1, 1778015000100, &out), OF_OK);
    const of_event *res = NULL;
    for (size_t i = 0; i < out.n_events; i++)
        if (out.events[i].type == OF_EV_RELEASE_RESUMED) res = &out.events[i];
    CHECK(res != NULL);
    if (res) {
        CHECK_STR(res->message, "replay of stage 1: 2 to replay, 1 already on 1.0.0");
        CHECK_INT(res->n_total, 3);
        CHECK_INT(res->n_succeeded, 1);
    }
    of_gate_out_clear(&out);
    long a = of_gate_find(g, job_id_of("1/Beta/Db/T1"));
    CHECK(a >= 0);
    if (a >= 0) {
        const of_job_record *ra = of_gate_job(g, (size_t)a);
        CHECK_INT(ra->status, OF_JOB_SUCCEEDED);
        CHECK_INT(ra->job.attempt, 1); /* not sent again */
        CHECK_STR(ra->skip_reason, "redeployed by hand");
    }
    of_gate_free(g);
}

/* The allowance of min_success_ratio over n targets: exact at the boundary. */
static void test_allowance(void)
{
    static const struct {
        const char *proceed;
        int fails; /* failed jobs among the 4 Beta jobs of stage 2 */
        of_stage_status want;
    } cases[] = {
        {"{\"min_success_ratio\":0.75}", 1, OF_STAGE_SUCCEEDED},
        {"{\"min_success_ratio\":0.76}", 1, OF_STAGE_FAILED},
        {"{\"min_success_ratio\":0.5}", 2, OF_STAGE_SUCCEEDED},
        {"{\"min_success_ratio\":1}", 1, OF_STAGE_FAILED},
        {"{\"max_failures\":2}", 2, OF_STAGE_SUCCEEDED},
        {"{\"max_failures\":2}", 3, OF_STAGE_FAILED},
        {"{\"max_failures\":0}", 1, OF_STAGE_FAILED},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char req[1024];
        (void)snprintf(req, sizeof req, Q_REQUEST("", "{\"proceed\":%s}"), cases[c].proceed);
        plandef pd = {QJOBS, N_QJOBS, 3, req};
        of_gate *g = new_gate_of(&pd);
        if (!g) continue;
        of_gate_out o;
        memset(&o, 0, sizeof o);
        CHECK_INT(of_gate_start(g, 1, &o), OF_OK);
        static const char *const db[] = {"1/Beta/Db/T1", "1/Beta/Db/T2", "1/Beta/Db/T3",
                                         "1/Beta/Db/T4"};
        static const char *const api[] = {"2/Beta/Api/T1", "2/Beta/Api/T2", "2/Beta/Api/T3",
                                          "2/Beta/Api/T4"};
        for (int k = 0; k < 8; k++) {
            stepdef st = {E(k < 4 ? db[k] : api[k - 4], SUCCEEDED, 1), OK_("", "", "", RUN)};
            if (k >= 4 && k - 4 < cases[c].fails) st.type = OF_EV_JOB_FAILED;
            of_gate_out_clear(&o);
            CHECK_INT(apply(g, &st, 1, &o), OF_OK);
        }
        of_gate_out_clear(&o);
        int before = of_test_failures;
        CHECK_INT(of_gate_stage_status(g, 2, 0), cases[c].want);
        if (of_test_failures != before) fprintf(stderr, "  in allowance case %zu\n", c);
        of_gate_free(g);
    }
}

/* The reconcile hook lists exactly the failed jobs. */
static void test_failed_jobs_hook(void)
{
    of_gate *g = new_gate();
    if (!g) return;
    run_steps(g, "resume-prefix", resume, 6, NULL);
    of_job_ref *refs = NULL;
    size_t n = 0;
    CHECK_INT(of_gate_failed_jobs(g, &refs, &n), OF_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(refs[0].job_id, job_id_of("1/Beta/Db/T1"));
        CHECK_INT(refs[0].status, OF_JOB_FAILED);
        CHECK_STR(refs[0].task_id, "ServerTasks-1");
        CHECK_STR(refs[1].job_id, job_id_of("1/Prod/Db/T1"));
        CHECK_INT(refs[1].status, OF_JOB_TIMED_OUT);
    }
    of_job_refs_free(refs, n);
    of_gate_free(g);
}

/* Save the state through the real codec mid-release, load it into a new gate, and feed
 * both the same remaining inputs: identical decisions and identical event ids. */
static of_gate *save_and_load(const of_gate *g)
{
    of_release_record rr;
    CHECK_INT(of_gate_release_record(g, &rr), OF_OK);
    of_gate_mode rr_gate = rr.gate;
    of_lane_failure rr_lane_failure = rr.lane_failure;
    char *enc = NULL;
    CHECK_INT(of_release_record_encode(&rr, &enc), OF_OK);
    of_release_record_clear(&rr);
    of_release_record back;
    char err[256] = "";
    CHECK_INT(of_release_record_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    free(enc);
    size_t n = of_gate_job_count(g);
    of_job_record *jobs = calloc(n, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        /* load in reverse order: the gate must not depend on record order */
        CHECK_INT(of_job_record_encode(of_gate_job(g, n - 1 - i), &enc), OF_OK);
        CHECK_INT(of_job_record_decode(enc, strlen(enc), &jobs[i], err, sizeof err), OF_OK);
        free(enc);
    }
    /* the record does not repeat the gate policy: it comes from the request, as in
     * producer_state.c */
    CHECK_INT(of_plan_header_policy(&back, err, sizeof err), OF_OK);
    CHECK_INT(back.gate, rr_gate);
    CHECK_INT(back.lane_failure, rr_lane_failure);
    of_gate *g2 = NULL;
    CHECK_INT(of_gate_new(&back, jobs, n, &g2, err, sizeof err), OF_OK);
    for (size_t i = 0; i < n; i++)
        of_job_record_clear(&jobs[i]);
    free(jobs);
    of_release_record_clear(&back);
    return g2;
}

static void save_load_continue(const plandef *pd, const char *name, const stepdef *steps,
                               size_t total, size_t split)
{
    of_gate *g1 = new_gate_of(pd);
    if (!g1) return;
    run_steps(g1, name, steps, split, NULL);
    of_gate *g2 = save_and_load(g1);
    CHECK(g2 != NULL);
    if (!g2) {
        of_gate_free(g1);
        return;
    }
    CHECK_INT(of_gate_round(g2), of_gate_round(g1));
    CHECK_INT(of_gate_status(g2), of_gate_status(g1));
    CHECK_INT(of_gate_in_flight(g2), of_gate_in_flight(g1));
    for (size_t i = split; i < total; i++) {
        int before = of_test_failures;
        of_gate_out o1, o2;
        memset(&o1, 0, sizeof o1);
        memset(&o2, 0, sizeof o2);
        of_err r1 = apply(g1, &steps[i], 2000 + (int64_t)i, &o1);
        of_err r2 = apply(g2, &steps[i], 2000 + (int64_t)i, &o2);
        CHECK_INT(r2, r1);
        CHECK_INT(o2.n_dispatch, o1.n_dispatch);
        for (size_t k = 0; k < o1.n_dispatch && k < o2.n_dispatch; k++) {
            CHECK_STR(o2.dispatch[k].job_id, o1.dispatch[k].job_id);
            CHECK_INT(o2.dispatch[k].attempt, o1.dispatch[k].attempt);
        }
        CHECK_INT(o2.n_events, o1.n_events);
        for (size_t k = 0; k < o1.n_events && k < o2.n_events; k++) {
            CHECK_INT(o2.events[k].type, o1.events[k].type);
            CHECK_STR(o2.events[k].id, o1.events[k].id);
        }
        CHECK_INT(of_gate_status(g2), steps[i].status);
        if (of_test_failures != before)
            fprintf(stderr, "  in %s after save/load, step %zu\n", name, i + 1);
        of_gate_out_clear(&o1);
        of_gate_out_clear(&o2);
    }
    of_gate_free(g1);
    of_gate_free(g2);
}

static void test_save_load(void)
{
    save_load_continue(&STAGE_PLAN, "failure", failure, sizeof failure / sizeof failure[0],
                       FAILURE_SPLIT);
    save_load_continue(&LANE_PLAN, "lane-failure", lane_failure,
                       sizeof lane_failure / sizeof lane_failure[0], LANE_FAILURE_SPLIT);
    save_load_continue(&LANE_PLAN, "lanes", lanes, sizeof lanes / sizeof lanes[0], 3);
    /* quarantine is derived from the records (status, attempt, "quarantined") */
    size_t nq = sizeof quarantine / sizeof quarantine[0];
    save_load_continue(&Q_PLAN, "quarantine", quarantine, nq, QUARANTINE_SPLIT);
    save_load_continue(&Q_PLAN, "quarantine-done", quarantine, nq, QUARANTINE_SPLIT2);
    save_load_continue(&LANE_Q_PLAN, "lane-quarantine", lane_quarantine,
                       sizeof lane_quarantine / sizeof lane_quarantine[0], LANE_QUARANTINE_SPLIT);
    save_load_continue(&LANE_Q_PLAN, "lane-quarantine-paused", lane_quarantine,
                       sizeof lane_quarantine / sizeof lane_quarantine[0], 8);
    /* an approval given survives: the rebuilt gate does not wait for it again */
    save_load_continue(&APPROVE_PLAN, "approve-stage", approve_stage,
                       sizeof approve_stage / sizeof approve_stage[0], APPROVE_SPLIT);
}

/* A producer that crashes after deciding redoes the same decision from the same state:
 * the same ids come out. */
static void test_redo_same_ids(void)
{
    of_gate *a = new_gate(), *b = new_gate();
    if (!a || !b) {
        of_gate_free(a);
        of_gate_free(b);
        return;
    }
    of_gate_out oa, ob;
    memset(&oa, 0, sizeof oa);
    memset(&ob, 0, sizeof ob);
    CHECK_INT(of_gate_start(a, 1, &oa), OF_OK);
    CHECK_INT(of_gate_start(b, 999999, &ob), OF_OK); /* a different clock changes no id */
    CHECK_INT(oa.n_events, ob.n_events);
    for (size_t i = 0; i < oa.n_events && i < ob.n_events; i++)
        CHECK_STR(oa.events[i].id, ob.events[i].id);
    CHECK(oa.release_changed);
    CHECK_INT(oa.n_changed, 4); /* the four dispatched jobs */
    of_gate_out_clear(&oa);
    of_gate_out_clear(&ob);
    of_gate_free(a);
    of_gate_free(b);
}

/* Inconsistent records are refused; a torn save (jobs dispatched, header still
 * pending) is repaired. */
static void test_load_checks(void)
{
    of_release_record h;
    of_job_record jobs[N_JOBS];
    make_release(&STAGE_PLAN, &h, jobs);
    of_gate *g = NULL;
    char err[256] = "";

    free(jobs[3].job.environment.id);
    jobs[3].job.environment.id = strdup("Environments-9");
    CHECK_INT(of_gate_new(&h, jobs, N_JOBS, &g, err, sizeof err), OF_ERR_INVALID);
    CHECK_CONTAINS(err, "environment not in the release");
    free(jobs[3].job.environment.id);
    jobs[3].job.environment.id = strdup("Environments-2");

    jobs[2].job.stage = 3;
    CHECK_INT(of_gate_new(&h, jobs, N_JOBS, &g, err, sizeof err), OF_ERR_INVALID);
    CHECK_CONTAINS(err, "stage out of range");
    jobs[2].job.stage = 1;

    char saved[OF_UUID_STR_SIZE];
    of_id_copy(saved, jobs[1].job.job_id);
    of_id_copy(jobs[1].job.job_id, jobs[0].job.job_id);
    CHECK_INT(of_gate_new(&h, jobs, N_JOBS, &g, err, sizeof err), OF_ERR_INVALID);
    CHECK_CONTAINS(err, "duplicate id");
    of_id_copy(jobs[1].job.job_id, saved);

    /* torn save: stage 1 Beta jobs dispatched, header says pending */
    jobs[0].status = OF_JOB_DISPATCHED;
    jobs[0].job.attempt = 1;
    CHECK_INT(of_gate_new(&h, jobs, N_JOBS, &g, err, sizeof err), OF_OK);
    if (g) {
        CHECK_INT(of_gate_stage_status(g, 1, 0), OF_STAGE_RUNNING);
        of_gate_out o;
        memset(&o, 0, sizeof o);
        CHECK_INT(of_gate_start(g, 1, &o), OF_ERR_STATE);
        CHECK(o.ignored);
        of_gate_out_clear(&o);
        /* a job event makes the gate notice the undispatched sibling */
        of_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = OF_EV_JOB_STARTED;
        of_id_copy(ev.release_id, RELEASE_ID);
        of_id_copy(ev.job_id, jobs[0].job.job_id);
        ev.attempt = 1;
        CHECK_INT(of_gate_job_event(g, &ev, 1, &o), OF_OK);
        CHECK_INT(o.n_dispatch, 3); /* 1/Beta/Db/T2 and the two in Prod */
        of_gate_out_clear(&o);
        /* unknown job and other release */
        of_id_copy(ev.job_id, RELEASE_ID);
        CHECK_INT(of_gate_job_event(g, &ev, 1, &o), OF_ERR_NOT_FOUND);
        CHECK(o.ignored);
        of_gate_out_clear(&o);
        of_gate_free(g);
    }
    of_release_record_clear(&h);
    for (size_t i = 0; i < N_JOBS; i++)
        of_job_record_clear(&jobs[i]);
}

/* Lanes are rebuilt from the job records: a gate loaded from records where T1 passed stage 1
 * in Beta but its stage-2 job was never dispatched (a torn save) dispatches it at the next
 * decision, and nothing else. */
static void test_lane_torn_save(void)
{
    of_release_record h;
    of_job_record jobs[N_LJOBS];
    make_release(&LANE_PLAN, &h, jobs);
    CHECK_INT(h.gate, OF_GATE_TENANT);
    for (size_t i = 0; i < 4; i++) { /* stage 1 dispatched everywhere */
        jobs[i].job.attempt = 1;
        jobs[i].status = i == 0 ? OF_JOB_SUCCEEDED : OF_JOB_DISPATCHED;
    }
    h.stage_status[0] = h.stage_status[1] = OF_STAGE_RUNNING;
    of_gate *g = NULL;
    char err[256] = "";
    CHECK_INT(of_gate_new(&h, jobs, N_LJOBS, &g, err, sizeof err), OF_OK);
    if (g) {
        static const stepdef steps[] = {
            {E("1/Prod/Db/T1", STARTED, 1),
             OK_("2/Beta/Api/T1#1", "stage.started 2/Beta", "", RUN)},
            {E("1/Prod/Db/T2", STARTED, 1), OK_("", "", "", RUN)},
        };
        run_steps(g, "lane-torn-save", steps, sizeof steps / sizeof steps[0], NULL);
        of_gate_free(g);
    }
    of_release_record_clear(&h);
    for (size_t i = 0; i < N_LJOBS; i++)
        of_job_record_clear(&jobs[i]);
}

/* A release with nothing to deploy completes at start. */
static void test_all_skipped(void)
{
    of_release_record h;
    of_job_record jobs[N_JOBS];
    make_release(&STAGE_PLAN, &h, jobs);
    for (size_t i = 0; i < N_JOBS; i++)
        jobs[i].status = OF_JOB_SKIPPED;
    of_gate *g = NULL;
    char err[256];
    CHECK_INT(of_gate_new(&h, jobs, N_JOBS, &g, err, sizeof err), OF_OK);
    if (g) {
        of_gate_out o;
        memset(&o, 0, sizeof o);
        CHECK_INT(of_gate_start(g, 1, &o), OF_OK);
        CHECK_INT(o.n_dispatch, 0);
        CHECK_INT(of_gate_status(g), OF_RELEASE_COMPLETED);
        CHECK(o.n_events > 0 && o.events[o.n_events - 1].type == OF_EV_RELEASE_COMPLETED);
        of_gate_out_clear(&o);
        of_gate_free(g);
    }
    of_release_record_clear(&h);
    for (size_t i = 0; i < N_JOBS; i++)
        of_job_record_clear(&jobs[i]);
}

/* ---- the soft stage deadline (gate.h, of_gate_tick) ---- */

static const plandef DEADLINE_PLAN = {JOBS, N_JOBS, 2,
                                      LANE_REQUEST("{\"stage_deadline\":\"10s\"}")};
static const plandef DEADLINE_PROCEED = {
    LJOBS, N_LJOBS, 3,
    LANE_REQUEST("{\"stage_deadline\":\"10s\",\"proceed\":{\"max_failures\":5}}")};
static const plandef DEADLINE_LANES = {
    LJOBS, N_LJOBS, 3, LANE_REQUEST("{\"gate\":\"tenant\",\"stage_deadline\":\"10s\"}")};

/* Runs f's output through render_outputs and checks the dispatches and events (job.dispatched
 * left out), and the release status after it. */
static void check_out(const of_gate *g, const char *what, of_err rc, of_err want_rc,
                      of_gate_out *out, const char *disp, const char *evs, of_release_status status)
{
    char d[1024], e[2048], c[64];
    render_outputs(out, d, sizeof d, e, sizeof e, c, sizeof c);
    int before = of_test_failures;
    CHECK_INT(rc, want_rc);
    CHECK_STR(d, disp);
    CHECK_STR(e, evs);
    CHECK_INT(of_gate_status(g), status);
    if (of_test_failures != before) fprintf(stderr, "  in deadline step: %s\n", what);
    of_gate_out_clear(out);
}

static size_t idx_of(const of_gate *g, const char *key)
{
    long i = of_gate_find(g, job_id_of(key));
    CHECK(i >= 0);
    return i < 0 ? 0 : (size_t)i;
}

static void test_deadline(void)
{
    const int64_t t0 = 1778015000000;
    of_gate *g = new_gate_of(&DEADLINE_PLAN);
    if (!g) return;
    of_gate_hold_dispatches(g, true);
    of_gate_out out;
    memset(&out, 0, sizeof out);
    CHECK_INT(of_gate_next_deadline(g), 0);
    check_out(g, "start", of_gate_start(g, t0, &out), OF_OK, &out, "",
              "release.accepted, job.skipped 2/Prod/Web/T2, stage.started 1/Beta, "
              "stage.started 1/Prod",
              RUN);
    CHECK_INT(of_gate_next_deadline(g), t0 + 10000);
    /* one job sent before the deadline carries it for the worker */
    CHECK_INT(of_gate_release_held(g, idx_of(g, "1/Beta/Db/T1"), t0 + 1000, &out), OF_OK);
    CHECK_INT(out.n_dispatch, 1);
    if (out.n_dispatch) CHECK_INT(out.dispatch[0].deadline_ms, t0 + 10000);
    of_gate_out_clear(&out);
    /* a producer restart keeps the stage's start (the jobs' dispatch times) */
    of_gate *g2 = save_and_load(g);
    if (g2) CHECK_INT(of_gate_next_deadline(g2), t0 + 10000);
    of_gate_free(g2);
    CHECK_INT(of_gate_tick(g, t0 + 9999, &out), OF_OK);
    CHECK(out.ignored);
    of_gate_out_clear(&out);
    /* due: the held jobs are not started; Prod has nothing in flight and fails at once */
    check_out(g, "tick", of_gate_tick(g, t0 + 10000, &out), OF_OK, &out, "",
              "job.cancelled 1/Beta/Db/T2, stage.deadline_passed 1/Beta, "
              "job.cancelled 1/Prod/Db/T1, job.cancelled 1/Prod/Db/T2, "
              "stage.deadline_passed 1/Prod, stage.failed 1/Prod",
              RUN);
    const of_job_record *r = of_gate_job(g, idx_of(g, "1/Prod/Db/T1"));
    CHECK_INT(r->status, OF_JOB_CANCELLED);
    CHECK_INT(r->job.attempt, 1);
    CHECK_CONTAINS(r->skip_reason, "not started: stage deadline passed at 2026-05-05T21:03:30");
    CHECK_INT(of_gate_next_deadline(g), 0);
    CHECK_INT(of_gate_tick(g, t0 + 20000, &out), OF_OK); /* applied once */
    CHECK(out.ignored);
    of_gate_out_clear(&out);
    /* the job in flight finishes, then the release pauses with the leftovers */
    of_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = OF_EV_JOB_SUCCEEDED;
    of_id_copy(ev.release_id, RELEASE_ID);
    of_id_copy(ev.job_id, job_id_of("1/Beta/Db/T1"));
    ev.attempt = 1;
    check_out(g, "in flight done", of_gate_job_event(g, &ev, t0 + 21000, &out), OF_OK, &out, "",
              "stage.failed 1/Beta, release.paused(3)", PAUSED);
    /* replay --stage 1: attempt 2, no deadline any more */
    of_command c = command(OF_CMD_REPLAY, "alice", NULL);
    c.stage = 1;
    check_out(g, "replay", of_gate_replay(g, &c, t0 + 30000, &out), OF_OK, &out, "",
              "release.resumed, stage.started 1/Beta, stage.started 1/Prod", RUN);
    CHECK_INT(of_gate_release_held(g, idx_of(g, "1/Prod/Db/T1"), t0 + 31000, &out), OF_OK);
    if (out.n_dispatch) {
        CHECK_INT(out.dispatch[0].attempt, 2);
        CHECK_INT(out.dispatch[0].deadline_ms, 0);
    }
    of_gate_out_clear(&out);
    CHECK_INT(of_gate_next_deadline(g), 0);
    CHECK_INT(of_gate_tick(g, t0 + 60000, &out), OF_OK);
    CHECK(out.ignored);
    of_gate_out_clear(&out);
    of_gate_free(g);

    /* a policy.proceed that would let five failures through does not let a deadline's
     * leftovers through: they are the operator's decision, not failed tenants to quarantine */
    g = new_gate_of(&DEADLINE_PROCEED);
    if (!g) return;
    of_gate_hold_dispatches(g, true);
    check_out(g, "proceed start", of_gate_start(g, t0, &out), OF_OK, &out, "",
              "release.accepted, job.skipped 2/Prod/Api/T2, stage.started 1/Beta, "
              "stage.started 1/Prod",
              RUN);
    check_out(g, "proceed tick", of_gate_tick(g, t0 + 10000, &out), OF_OK, &out, "",
              "job.cancelled 1/Beta/Db/T1, job.cancelled 1/Beta/Db/T2, "
              "stage.deadline_passed 1/Beta, job.cancelled 1/Prod/Db/T1, "
              "job.cancelled 1/Prod/Db/T2, stage.deadline_passed 1/Prod, stage.failed 1/Beta, "
              "stage.failed 1/Prod, release.paused(4)",
              PAUSED);
    for (size_t i = 0; i < of_gate_job_count(g); i++)
        CHECK(!of_gate_job(g, i)->quarantined);
    of_gate_free(g);

    /* lanes: a lane reaching the stage after its deadline does not start it */
    g = new_gate_of(&DEADLINE_LANES);
    if (!g) return;
    of_gate_hold_dispatches(g, false);
    check_out(g, "lanes start", of_gate_start(g, t0, &out), OF_OK, &out,
              "1/Beta/Db/T1#1 1/Beta/Db/T2#1 1/Prod/Db/T1#1 1/Prod/Db/T2#1",
              "release.accepted, job.skipped 2/Prod/Api/T2, stage.started 1/Beta, "
              "stage.started 1/Prod",
              RUN);
    of_id_copy(ev.job_id, job_id_of("1/Beta/Db/T1"));
    check_out(g, "lane T1 on", of_gate_job_event(g, &ev, t0 + 1000, &out), OF_OK, &out,
              "2/Beta/Api/T1#1", "stage.started 2/Beta", RUN);
    /* stage 2 in Beta started at t0 + 1000: its deadline is t0 + 11000; stage 1's passes
     * first, with nothing left to start there (no event) */
    CHECK_INT(of_gate_next_deadline(g), t0 + 10000);
    check_out(g, "tick 1", of_gate_tick(g, t0 + 10000, &out), OF_OK, &out, "", "", RUN);
    CHECK_INT(of_gate_next_deadline(g), t0 + 11000);
    /* stage 2's pending jobs in Beta (T2's lane is still in stage 1) are not started */
    check_out(g, "tick 2", of_gate_tick(g, t0 + 11000, &out), OF_OK, &out, "",
              "job.cancelled 2/Beta/Api/T2, job.cancelled 2/Beta/Schema/-, "
              "stage.deadline_passed 2/Beta",
              RUN);
    of_gate_free(g);
}

int main(void)
{
    scenario("happy", happy, sizeof happy / sizeof happy[0]);
    scenario("failure", failure, sizeof failure / sizeof failure[0]);
    scenario("abort", abort_steps, sizeof abort_steps / sizeof abort_steps[0]);
    scenario("abort-nocancel", abort_nocancel, sizeof abort_nocancel / sizeof abort_nocancel[0]);
    scenario("resume", resume, sizeof resume / sizeof resume[0]);
    scenario("replay-reconciled", replay_reconciled,
             sizeof replay_reconciled / sizeof replay_reconciled[0]);
    scenario("replay-all-not-reconciled", replay_all_not_reconciled,
             sizeof replay_all_not_reconciled / sizeof replay_all_not_reconciled[0]);
    scenario_of(&LANE_PLAN, "lanes", lanes, sizeof lanes / sizeof lanes[0]);
    scenario_of(&LANE_JOBS_STAGE_PLAN, "lanes-as-stages", lanes_as_stages,
                sizeof lanes_as_stages / sizeof lanes_as_stages[0]);
    scenario_of(&LANE_PLAN, "lane-failure", lane_failure,
                sizeof lane_failure / sizeof lane_failure[0]);
    scenario_of(&LANE_PLAN, "lane-untenanted-failure", lane_untenanted_failure,
                sizeof lane_untenanted_failure / sizeof lane_untenanted_failure[0]);
    scenario_of(&PAUSE_ALL_PLAN, "lane-pause-all", lane_pause_all,
                sizeof lane_pause_all / sizeof lane_pause_all[0]);
    scenario_of(&Q_PLAN, "quarantine", quarantine, sizeof quarantine / sizeof quarantine[0]);
    scenario_of(&Q_PLAN, "quarantine-over", quarantine_over,
                sizeof quarantine_over / sizeof quarantine_over[0]);
    scenario_of(&LANE_Q_PLAN, "lane-quarantine", lane_quarantine,
                sizeof lane_quarantine / sizeof lane_quarantine[0]);
    scenario_of(&Q_PLAN, "quarantine-env", quarantine_env,
                sizeof quarantine_env / sizeof quarantine_env[0]);
    scenario_of(&STAGE_Q_PLAN, "stage-q-untenanted", stage_q_untenanted,
                sizeof stage_q_untenanted / sizeof stage_q_untenanted[0]);
    scenario_of(&LANE_Q_PLAN, "lane-q-untenanted", lane_q_untenanted,
                sizeof lane_q_untenanted / sizeof lane_q_untenanted[0]);
    scenario_of(&APPROVE_PLAN, "approve-stage", approve_stage,
                sizeof approve_stage / sizeof approve_stage[0]);
    scenario_of(&APPROVE_RELEASE_PLAN, "approve-release", approve_release,
                sizeof approve_release / sizeof approve_release[0]);
    scenario_of(&APPROVE_LANE_PLAN, "approve-lanes", approve_lanes,
                sizeof approve_lanes / sizeof approve_lanes[0]);
    test_approval_carried();
    test_quarantine_records();
    test_allowance();
    test_lane_torn_save();
    test_resume_records();
    test_replay_reconciled_records();
    test_failed_jobs_hook();
    test_save_load();
    test_redo_same_ids();
    test_load_checks();
    test_all_skipped();
    test_deadline();
    return TEST_DONE();
}
