/* The release model: the plain data types every component shares.
 *
 * A release request (of_request) names a train, a space, environments, a tenant selection
 * and ordered stages of {project, version}. The producer resolves it against Octopus
 * into jobs (of_job): one per (stage, environment, project, tenant-or-none). Jobs travel
 * to workers on Kafka (see common/codec/msg.h for the JSON wire format); workers report back
 * with events (of_event, CloudEvents 1.0); the producer's stage gate (producer/gate.h)
 * turns events into the next dispatches. Operators steer a release with commands
 * (of_command) and the producer persists its state as records (of_release_record,
 * of_job_record) on a compacted topic.
 *
 * Ownership: every `char *` field in these structs is owned by the struct (malloc'd,
 * NUL-terminated, NULL when absent) and released by the matching of_*_clear function
 * (common/codec/msg.h), which frees the contents and leaves the struct to its owner; only
 * of_request, which the parser allocates, is freed whole (of_request_free). Fixed-size
 * `char[OF_UUID_STR_SIZE]` fields hold ids in canonical lower-case UUID form ("" when absent).
 * Structs are plain data: zero-initialise them
 * ({0}) before filling them by hand. No function here talks to the network. */
#ifndef OF_MODEL_H
#define OF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */
#define OF_UUID_STR_SIZE 37

/* Wire schema identifiers. A decoder accepts any minor change of the same major
 * ("octofleet.job/1" and a future "octofleet.job/1.1") and rejects other majors. */
#define OF_SCHEMA_JOB     "octofleet.job/1"
#define OF_SCHEMA_COMMAND "octofleet.command/1"
#define OF_SCHEMA_RELEASE "octofleet.release/1"  /* release-state record */
#define OF_SCHEMA_JOBREC  "octofleet.jobstate/1" /* job-state record */

/* CloudEvents attributes we emit. */
#define OF_CE_SPECVERSION     "1.0"
#define OF_CE_CONTENT_TYPE    "application/cloudevents+json; charset=UTF-8"
#define OF_CE_DATACONTENTTYPE "application/json"
#define OF_SOURCE_PRODUCER    "octofleet/producer"
#define OF_SOURCE_WORKER_PFX  "octofleet/worker/" /* + worker name */

/* An Octopus resource seen by both its id ("Projects-12") and its name ("Web").
 * Both owned; either may be NULL (e.g. tenant {NULL, NULL} = untenanted). */
typedef struct of_ref {
    char *id;
    char *name;
} of_ref;

/* Project.TenantedDeploymentMode. */
typedef enum of_tenanted_mode {
    OF_TENANTED_UNTENANTED = 0,         /* "Untenanted": one deployment per environment */
    OF_TENANTED_TENANTED_OR_UNTENANTED, /* "TenantedOrUntenanted" */
    OF_TENANTED_TENANTED,               /* "Tenanted": only per tenant */
    OF_TENANTED__COUNT
} of_tenanted_mode;

/* policy.on_failure. Only pause exists today; the enum leaves room for "continue". */
typedef enum of_on_failure { OF_ON_FAILURE_PAUSE = 0, OF_ON_FAILURE__COUNT } of_on_failure;

/* policy.gate: how a stage's end opens the next stage in an environment (docs/gating.md). */
typedef enum of_gate_mode {
    OF_GATE_STAGE = 0, /* "stage": a barrier per (stage, environment); the default */
    OF_GATE_TENANT,    /* "tenant": one lane per (environment, tenant) */
    OF_GATE_MODE__COUNT
} of_gate_mode;

/* policy.lane_failure (gate "tenant" only): what a failed job stops. */
typedef enum of_lane_failure {
    OF_LANE_FAILURE_STOP_LANE = 0, /* "stop_lane": only its lane; the default */
    OF_LANE_FAILURE_PAUSE_ALL,     /* "pause_all": all dispatching, as gate "stage" does */
    OF_LANE_FAILURE__COUNT
} of_lane_failure;

/* Wire names of the two enums above ("?" if out of range). They sit here, not beside
 * of_condition_name in msg.h, because both the codec and the producer's plan view use them
 * and this header is the one they share that the lane change owns. */
static inline const char *of_gate_mode_name(of_gate_mode m)
{
    return m == OF_GATE_STAGE ? "stage" : m == OF_GATE_TENANT ? "tenant" : "?";
}

static inline const char *of_lane_failure_name(of_lane_failure f)
{
    return f == OF_LANE_FAILURE_STOP_LANE   ? "stop_lane"
           : f == OF_LANE_FAILURE_PAUSE_ALL ? "pause_all"
                                            : "?";
}

/* policy.proceed (docs/gating.md, "Success-ratio gates and quarantine"): how many failed jobs
 * a stage lets through, each quarantining its tenant. Per (stage, environment) with the barrier,
 * per release with lanes. */
typedef enum of_proceed_kind {
    OF_PROCEED_ALL = 0,      /* every job must succeed: the default */
    OF_PROCEED_RATIO,        /* {"min_success_ratio": r}, 0 < r <= 1 */
    OF_PROCEED_MAX_FAILURES, /* {"max_failures": n}, n >= 0 */
    OF_PROCEED__COUNT
} of_proceed_kind;

typedef struct of_proceed {
    of_proceed_kind kind;
    double min_success_ratio; /* OF_PROCEED_RATIO */
    int64_t max_failures;     /* OF_PROCEED_MAX_FAILURES */
} of_proceed;

/* policy.condition. */
typedef enum of_condition {
    OF_CONDITION_ALWAYS = 0,     /* deploy even if the target already has the release */
    OF_CONDITION_IF_NOT_CURRENT, /* skip a target whose current release is this one */
    OF_CONDITION__COUNT
} of_condition;

/* Job status. Order matters only for display. */
typedef enum of_job_status {
    OF_JOB_PENDING = 0, /* planned, not yet sent to a worker */
    OF_JOB_DISPATCHED,  /* on a stage topic */
    OF_JOB_STARTED,     /* a worker created the Octopus deployment */
    OF_JOB_WAITING,     /* Octopus task waits for a manual intervention / guided failure */
    OF_JOB_SUCCEEDED,
    OF_JOB_FAILED,
    OF_JOB_SKIPPED,   /* skip: true, if-not-current, tenant not connected... */
    OF_JOB_CANCELLED, /* cancelled in Octopus (by abort or by a human) */
    OF_JOB_TIMED_OUT, /* exceeded policy.timeout from the task's start */
    OF_JOB_STATUS__COUNT
} of_job_status;

/* Per (stage, environment) status kept by the gate. */
typedef enum of_stage_status {
    OF_STAGE_PENDING = 0, /* earlier stage in this environment not finished yet */
    OF_STAGE_RUNNING,     /* jobs dispatched */
    OF_STAGE_SUCCEEDED,   /* every job succeeded or skipped */
    OF_STAGE_FAILED,      /* at least one job failed / timed out / was cancelled */
    OF_STAGE_STATUS__COUNT
} of_stage_status;

/* Release status kept by the gate. */
typedef enum of_release_status {
    OF_RELEASE_RUNNING = 0,
    OF_RELEASE_PAUSED, /* a job failed; waits for replay, resume or abort */
    OF_RELEASE_COMPLETED,
    OF_RELEASE_ABORTED,
    OF_RELEASE_STATUS__COUNT
} of_release_status;

/* Event types; the wire name is "octofleet." + the dotted name, e.g.
 * OF_EV_JOB_SUCCEEDED <-> "octofleet.job.succeeded" (of_event_type_name). */
typedef enum of_event_type {
    OF_EV_RELEASE_ACCEPTED = 0,
    OF_EV_RELEASE_REJECTED,
    OF_EV_STAGE_STARTED,
    OF_EV_STAGE_SUCCEEDED,
    OF_EV_STAGE_FAILED,
    OF_EV_RELEASE_PAUSED,
    OF_EV_RELEASE_RESUMED,
    OF_EV_RELEASE_COMPLETED,
    OF_EV_RELEASE_ABORTED,
    OF_EV_JOB_DISPATCHED,
    OF_EV_JOB_STARTED,
    OF_EV_JOB_WAITING,
    OF_EV_JOB_SUCCEEDED,
    OF_EV_JOB_FAILED,
    OF_EV_JOB_SKIPPED,
    OF_EV_JOB_CANCELLED,
    OF_EV_JOB_TIMED_OUT,
    OF_EV_COMMAND_IGNORED, /* an operator command the producer could not apply; why in message */
    OF_EV_STAGE_DEADLINE_PASSED, /* policy.stage_deadline passed with jobs not started */
    OF_EV_RELEASE_HELD,          /* Octopus misbehaves: nothing new is sent (docs/reliability.md) */
    OF_EV_RELEASE_UNHELD,        /* Octopus answers again: sending goes on */
    OF_EV_STAGE_APPROVAL_REQUIRED, /* a stage (0: the release) waits for `octofleet approve` */
    OF_EV_STAGE_APPROVED,          /* ... and was approved (by, message = reason) */
    OF_EV_JOB_ANSWERED,            /* an Octopus interruption of the job was answered (audit) */
    OF_EV_STAGE_GUIDED, /* `octofleet guide` answered the stage's guided failures (counts) */
    OF_EV__COUNT
} of_event_type;

/* `octofleet guide --action`: Octopus's guided-failure answers "Retry", "Ignore", "Fail". */
typedef enum of_guidance {
    OF_GUIDE_RETRY = 0,
    OF_GUIDE_IGNORE,
    OF_GUIDE_ABORT,
    OF_GUIDE__COUNT
} of_guidance;

/* Operator commands. */
typedef enum of_cmd_type {
    OF_CMD_SUBMIT = 0, /* a new release request */
    OF_CMD_REPLAY,     /* re-dispatch failed (or all) jobs of a stage */
    OF_CMD_RESUME,     /* the operator fixed things by hand: reconcile, re-evaluate gates */
    OF_CMD_ABORT,      /* stop the release; optionally cancel running tasks */
    OF_CMD_APPROVE,    /* approve a stage (0: the release) that requires approval */
    OF_CMD_GUIDE,      /* answer the guided failures of a stage's waiting jobs in Octopus */
    OF_CMD__COUNT
} of_cmd_type;

/* ---- the release request (input of `octofleet submit` / `plan`) ---- */

/* Which tenants: `"tenants": "all"` or `{"names": [...], "tags": ["Set/Tag", ...]}`.
 * Explicit names and tag matches are united; tags follow Octopus' tenant filter rule
 * (OR within one tag set, AND across tag sets). The result is then intersected, per
 * project and environment, with the tenants connected to that project there.
 * Neither all nor any name/tag (field omitted): tenanted projects have no targets,
 * which the planner reports as an error rather than guessing "all". */
typedef struct of_tenant_sel {
    bool all;
    char **names; /* owned array of owned strings */
    size_t n_names;
    char **tags; /* canonical "TagSet/Tag" */
    size_t n_tags;
} of_tenant_sel;

typedef struct of_stage_entry {
    char *project; /* project name (exact) */
    char *version; /* release version in that project */
    bool skip;     /* leave this entry out (planned as skipped) */
    /* "from": deploy only to targets whose current release of the project is this version
     * (a hotfix of it); NULL = every target */
    char *from;
    /* "condition": this entry's own policy.condition (a train imported from Octopus keeps each
     * "Deploy a Release" step's); has_condition false = the policy's */
    bool has_condition;
    of_condition condition;
} of_stage_entry;

/* "approval": {"required": true, "by": [...]}: policy.approval (the release, before its first
 * stage) or a stage's own (before that stage). docs/requests.md, "Approvals". */
typedef struct of_approval_req {
    bool required;
    char **by; /* people or Octopus teams expected to approve: shown, not checked */
    size_t n_by;
} of_approval_req;

typedef struct of_stage {
    char *name;               /* optional ("database"); NULL when the stage was a bare array */
    of_approval_req approval; /* the stage's own "approval" (object form only) */
    bool has_proceed;         /* the stage's own "proceed" (object form only) ... */
    of_proceed proceed;       /* ... overriding policy.proceed */
    of_stage_entry *entries;
    size_t n_entries;
} of_stage;

/* One entry of policy.windows: jobs of tenants carrying tenant_tag start only while the local
 * time in timezone is within [start_min, end_min) (minutes after midnight; end before start wraps
 * midnight). docs/requests.md, "Maintenance windows". */
typedef struct of_window {
    char *tenant_tag; /* canonical "TagSet/Tag" */
    int start_min, end_min;
    char *timezone; /* IANA name, "Australia/Sydney" */
} of_window;
#define OF_WINDOWS_MAX 64

typedef struct of_policy {
    of_on_failure on_failure;
    int64_t timeout_s;      /* per job, from the task's start; 0 = no timeout */
    bool cancel_on_timeout; /* cancel the Octopus task when the timeout fires */
    of_condition condition;
    bool guided_failure;     /* UseGuidedFailure on the deployment */
    char *queue_time;        /* RFC 3339 or NULL: Octopus QueueTime */
    char *queue_time_expiry; /* RFC 3339 or NULL: Octopus QueueTimeExpiry */
    of_gate_mode gate;
    of_lane_failure lane_failure; /* only meaningful with gate OF_GATE_TENANT */
    of_window *windows;           /* policy.windows, in request order (first match wins) */
    size_t n_windows;
    /* policy.stage_deadline as written (NULL: none): a duration from each stage's start in an
     * environment (stage_deadline_ms) or an RFC 3339 time (stage_deadline_at_ms) */
    char *stage_deadline;
    int64_t stage_deadline_ms, stage_deadline_at_ms;
    of_proceed proceed;       /* failures a stage lets through; default OF_PROCEED_ALL */
    of_approval_req approval; /* policy.approval: the release waits for one before it starts */
} of_policy;

typedef struct of_request {
    char *release;       /* the train's name/version, "2026.18" */
    char *space;         /* space name */
    char **environments; /* names, in request order (>= 1) */
    size_t n_environments;
    of_tenant_sel tenants;
    of_stage *stages; /* in order (>= 1) */
    size_t n_stages;
    of_policy policy;
    /* "priority": the task budget serves higher first (docs/requests.md); default 0 */
    int priority;
#define OF_PRIORITY_MIN (-1000)
#define OF_PRIORITY_MAX 1000
} of_request;

/* ---- a job: one Octopus deployment to create (producer -> worker) ---- */

typedef struct of_job {
    char job_id[OF_UUID_STR_SIZE];     /* of_uuid_job_id(release_id, stage, project, env, tenant) */
    char release_id[OF_UUID_STR_SIZE]; /* of_uuid_release_id(space, release) */
    char *release_name;                /* "2026.18" */
    int stage;                         /* 1-based */
    int stage_count;
    char *stage_name; /* optional */
    int attempt;      /* 1 on first dispatch, +1 per replay */
    of_ref space;
    of_ref project;
    of_tenanted_mode tenanted_mode;
    of_ref octo_release; /* Octopus release: id "Releases-101", name = version "1.4.0" */
    of_ref environment;
    of_ref tenant; /* {NULL, NULL}: untenanted */
    /* policy bits the worker needs */
    int64_t timeout_s; /* 0 = none; measured from the Octopus task's start */
    bool cancel_on_timeout;
    bool guided_failure;
    char *queue_time;        /* RFC 3339 or NULL */
    char *queue_time_expiry; /* RFC 3339 or NULL */
    /* Wall-clock ms (epoch) after which a worker must not create the deployment any more
     * (reports job.failed "deadline passed"); 0 = none. Derived from queue_time_expiry. */
    int64_t deadline_ms;
    int64_t dispatched_ms; /* wall-clock ms when the producer dispatched this attempt; 0 = unset */
    /* The approval that covers this job's stage (the stage's own, else the release's), NULL
     * when none: the worker answers the deployment's manual interventions "Proceed" in its
     * name ("approval": {"by", "reason"} on the wire; docs/gating.md, "Approvals"). */
    char *approved_by;
    char *approval_reason;
} of_job;

/* ---- events (CloudEvents 1.0, structured mode) ---- */

/* A job in an event's list (release.paused: the failed jobs; release.aborted: the
 * running jobs to cancel). Names are for humans; job_id is the key. */
typedef struct of_job_ref {
    char job_id[OF_UUID_STR_SIZE];
    int stage;
    int attempt;
    of_job_status status;
    char *project;     /* name */
    char *environment; /* name */
    char *tenant;      /* name, NULL = untenanted */
    char *task_id;     /* Octopus ServerTasks-N if known (for cancellation) */
} of_job_ref;

/* One event. The CloudEvent attributes come first; the rest is `data`, where a field is
 * present on the wire only when set (non-NULL / non-zero / non-empty). Which fields each
 * type carries is documented in docs/messages.md. */
typedef struct of_event {
    /* attributes */
    of_event_type type;
    char id[OF_UUID_STR_SIZE]; /* deterministic, see of_event_set_id (msg.h) */
    char *source;              /* OF_SOURCE_PRODUCER or OF_SOURCE_WORKER_PFX + name */
    char *subject;             /* "<release_id>" or "<release_id>/<job_id>"; NULL = derived */
    int64_t time_ms;           /* wall-clock ms */
    /* data: release */
    char release_id[OF_UUID_STR_SIZE];
    char *release_name;
    int round; /* release round (0 at start, +1 per replay/resume); disambiguates repeats */
    /* data: stage */
    int stage; /* 1-based; 0 = not about a stage */
    int stage_count;
    char *stage_name;
    char *environment; /* name (stage and job events) */
    /* data: job */
    char job_id[OF_UUID_STR_SIZE];
    int attempt;
    char *project;         /* name */
    char *tenant;          /* name, NULL = untenanted */
    char *deployment_id;   /* job.started and later: "Deployments-2001" */
    char *task_id;         /* "ServerTasks-9001" */
    char *web_link;        /* absolute or server-relative link to the deployment */
    char *interruption_id; /* job.answered: "Interruptions-12" */
    /* Final job events: the Octopus task's QueueTime, StartTime and CompletedTime (wall ms;
     * 0 = unknown, e.g. a task that timed out queued never started). */
    int64_t task_queued_ms, task_started_ms, task_completed_ms;
    /* data: explanation */
    char *message; /* job.failed: Octopus's error; job.skipped: why; release.*: reason */
    /* The command_id of the operator command this event answers (release.accepted/rejected for
     * a submit, release.resumed for a replay or resume, release.aborted, command.ignored); ""
     * otherwise. The CLI waits for it (docs/operations.md). */
    char command_id[OF_UUID_STR_SIZE];
    char *by; /* operator who caused it (resumed, aborted, ...) */
    /* data: lists */
    of_job_ref *jobs; /* release.paused: failed jobs; release.aborted: jobs to cancel */
    size_t n_jobs;
    char **errors; /* release.rejected: every validation/resolution error */
    size_t n_errors;
    /* data: counters (stage.* and release.completed/paused) */
    int n_total, n_succeeded, n_failed, n_skipped;
    /* job.started/job.failed from a worker: Octopus answered 429/503 since the worker's
     * previous create finished (the producer lowers its task budget for a while) */
    bool octopus_throttled;
} of_event;

/* ---- operator commands (CLI -> producer) ---- */

typedef struct of_command {
    of_cmd_type type;
    char release_id[OF_UUID_STR_SIZE]; /* target (not for submit: derived from the request) */
    char *by;                          /* who (required) */
    char *reason;                      /* why (optional for submit, required otherwise) */
    int64_t time_ms;
    /* A fresh random UUID per command (of_uuid_random), echoed by the event that answers it;
     * "" from an older CLI (then nothing can be matched). */
    char command_id[OF_UUID_STR_SIZE];
    /* submit: the request object as compact JSON text; parse it with of_request_parse so
     * that validation errors are collected for release.rejected. */
    char *request_json;
    /* replay: which stage (0 = every stage that has failed jobs), failed only unless all;
     * optional filters (exact names; a job matches when every non-empty filter
     * contains its value). */
    int stage;
    bool all;
    char **tenants;
    size_t n_tenants;
    char **projects;
    size_t n_projects;
    char **environments;
    size_t n_environments;
    /* abort */
    bool cancel_running;
    /* replay: the failed jobs of quarantined tenants (docs/gating.md), which then go on
     * into the stages they were skipped in */
    bool quarantined;
    /* guide: what to answer the guided failures of stage's waiting jobs (tenants filter) */
    of_guidance guidance;
} of_command;

/* ---- state records (compacted topic) ---- */

/* An approval given (`octofleet approve`): by NULL = not given. */
typedef struct of_approval {
    char *by;
    char *reason;
    int64_t time_ms;
} of_approval;

/* One per release, key "release/<release_id>". Holds what a restarted producer needs to
 * rebuild the gate besides the job records: the request, the resolved header and the
 * per (stage, environment) status. Sized by stages x environments, never by job count. */
typedef struct of_release_record {
    char release_id[OF_UUID_STR_SIZE];
    char *release_name;
    of_ref space;
    char *request_json; /* the original request, compact JSON */
    of_release_status status;
    int round;
    int stage_count;
    char **stage_names;   /* [stage_count]; entries may be NULL */
    of_ref *environments; /* [n_environments], request order */
    size_t n_environments;
    /* [stage_count * n_environments], index (stage-1) * n_environments + env */
    of_stage_status *stage_status;
    size_t n_jobs;                       /* total jobs, for sanity on load */
    size_t counts[OF_JOB_STATUS__COUNT]; /* jobs per status (informational) */
    int64_t updated_ms;
    char *by;     /* last operator action */
    char *reason; /* ... and why */
    /* While the producer holds every dispatch on Octopus's trouble (docs/reliability.md): why
     * ("held" in the record); NULL when not held. Set by the producer, not the gate. */
    char *held;
    /* Set on the small marker that replaces an evicted release's record (written "evicted"):
     * the outcome, stages and counts stay, the request and every job record are gone. 0 on a
     * live release. */
    int64_t evicted_ms;
    /* The request's policy.gate and policy.lane_failure, which the gate obeys. Not written to
     * the record: request_json already holds them, and a header read back from the state topic
     * gets them from there (of_plan_header_policy, producer/plan.h). */
    of_gate_mode gate;
    of_lane_failure lane_failure;
    /* The request's "priority" (task budget order), derived like gate; not written. */
    int priority;
    /* The request's policy.stage_deadline (of_policy), derived like gate; not written. */
    int64_t stage_deadline_ms, stage_deadline_at_ms;
    /* Each stage's effective policy.proceed ([stage_count], owned), derived like gate and not
     * written; NULL = every job must succeed. */
    of_proceed *proceed;
    /* Approvals ([stage_count + 1], owned; [0] = the release's policy.approval, [s] = stage s):
     * approval_required is derived like gate and not written (NULL: none required); approvals
     * is written ("approvals": the given ones) and survives restarts (NULL: none given). */
    bool *approval_required;
    of_approval *approvals;
} of_release_record;

/* One per job, key "job/<release_id>/<job_id>": the job itself (so a restarted producer can
 * re-dispatch without asking Octopus again) plus its latest status. */
typedef struct of_job_record {
    of_job job; /* job.attempt = latest attempt */
    of_job_status status;
    char *skip_reason; /* skipped: why; failed: Octopus's message */
    char *deployment_id;
    char *task_id;
    int64_t updated_ms;
    /* status dispatched but waiting in the producer for a task budget slot: not yet on a
     * stage topic (docs/gating.md, "The task budget"); "held": true in the record */
    bool held;
    /* The tenant's maintenance window: 1-based index into the request's policy.windows, 0 =
     * none (producer/windows.h); "window" in the record. */
    int window;
    /* Display only (plan and status views, never in the record): when a job waiting for its
     * window may start, wall ms; 0 = at once / not waiting. Set by the view's caller. */
    int64_t starts_ms;
    /* skipped because its tenant was quarantined in this environment after a failure the
     * stage's policy.proceed let through ("quarantined": true; docs/gating.md); such a job goes
     * back to pending when the failure is fixed */
    bool quarantined;
} of_job_record;

#endif
