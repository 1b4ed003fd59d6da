/* The stage gate: the pure state machine of one release.
 *
 * Inputs: start, job events from workers, operator replay / resume / abort. Outputs (in
 * an of_gate_out the caller passes in): jobs to dispatch (with attempt numbers), events
 * to emit (each with a deterministic id), Octopus tasks to cancel, and which state
 * records changed. No I/O, no clock: the caller passes now_ms (wall clock, used only
 * for event `time` and dispatched_ms, and for decisions only by of_gate_tick, whose input the
 * time is: the stage deadline), so the same inputs always
 * give the same outputs; a producer that crashes and replays an input re-emits the same
 * event ids. docs/gating.md describes the rules.
 *
 * Rules in short
 * - start dispatches stage 1 in every environment;
 * - stage N+1 in environment E starts when every job of stage N in E is succeeded or
 *   skipped (a (stage, env) with no jobs, or only skipped ones, passes at once);
 * - a failed, timed_out or cancelled job blocks all further dispatching of the release;
 *   in-flight jobs finish; when nothing is in flight the release pauses
 *   (release.paused with the failed jobs);
 * - job events: stale attempts (lower than the job's) and duplicates (the job is already
 *   terminal in that attempt) are ignored; a higher attempt is adopted;
 * - replay re-dispatches failed jobs (all terminal jobs with `all`) matching the
 *   filters, attempt + 1, round + 1, release.resumed;
 * - resume: the daemon first lists the failed jobs (of_gate_failed_jobs), reconciles
 *   each with Octopus and passes what it found as overrides; failed jobs without a
 *   better status are then accepted as skipped ("accepted on resume by <by>"), because
 *   resume means the operator fixed them by hand; round + 1, release.resumed, gates
 *   re-evaluated;
 * - abort: no more dispatching, release.aborted, in-flight jobs listed to cancel when
 *   cancel_running;
 * - release.completed once every stage in every environment has passed.
 *
 * Lanes (header->gate == OF_GATE_TENANT, the request's policy.gate "tenant") replace the
 * second and third rules: each (environment, tenant) is a lane; a lane's jobs of stage N
 * start once its own jobs of the stages before N and the untenanted jobs of those stages in
 * its environment are succeeded or skipped; the untenanted jobs of stage N start once every
 * lane of their environment has passed stage N-1. A failure stops only what waits for the
 * failed job (its lane; every lane of its environment for an untenanted job) with
 * lane_failure stop_lane, and all dispatching with pause_all; either way the release pauses
 * once nothing is in flight. The lanes are derived from the job statuses, so a gate rebuilt
 * from records continues identically (given the header's gate mode: of_plan_header_policy).
 *
 * Success-ratio gates (a stage's policy.proceed in header->proceed): a failure within its
 * (stage, environment)'s allowance (lanes: the release's) blocks nothing and quarantines its
 * tenant in that environment: its later pending jobs become skipped with "quarantined": true,
 * and go back to pending stage by stage once the failure is fixed (replay --quarantined). Over
 * the allowance, the rules above. Derived from the job records like the lanes.
 *
 * Not thread-safe: one gate per release, used by one thread. */
#ifndef OF_GATE_H
#define OF_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "msg.h"

typedef struct of_gate of_gate;

/* What one input produced. The caller zeroes it (or calls of_gate_out_clear) before
 * passing it; the gate appends. Everything in it is owned by it. */
typedef struct of_gate_out {
    of_job *dispatch; /* jobs to produce to the stage topics, attempt set */
    size_t n_dispatch;
    size_t cap_dispatch;
    of_event *events; /* to produce to the events topic, in order */
    size_t n_events;
    size_t cap_events;
    of_job_ref *cancel; /* Octopus tasks to cancel (abort with cancel_running) */
    size_t n_cancel;
    size_t cap_cancel;
    size_t *changed_jobs; /* indices (of_gate_job) whose job record must be rewritten */
    size_t n_changed;
    size_t cap_changed;
    bool release_changed; /* the release record must be rewritten */
    bool ignored;         /* the input was stale/duplicate/not applicable: nothing changed */
} of_gate_out;

void of_gate_out_clear(of_gate_out *out);

/* A job status found by reconciling with Octopus before resume. */
typedef struct of_gate_override {
    char job_id[OF_UUID_STR_SIZE];
    of_job_status status; /* usually OF_JOB_SUCCEEDED */
    const char *message;  /* optional, borrowed */
} of_gate_override;

/* Creates a gate from a release header and its job records - a fresh plan
 * (producer/plan.h) or the records read back from the state topic. Both are deep-copied.
 * header->gate and header->lane_failure choose barrier or lanes (a header decoded from a
 * record gets them with of_plan_header_policy first).
 * Fails with OF_ERR_INVALID if they are inconsistent (unknown environment, stage out of
 * range, duplicate job id, header stage_status size mismatch). */
OF_MUST_CHECK of_err of_gate_new(const of_release_record *header, const of_job_record *jobs,
                                 size_t n_jobs, of_gate **out, char *errstr, size_t errstr_size);
void of_gate_free(of_gate *g);

/* First input of a fresh release: release.accepted, job.skipped for planned skips,
 * stage 1 dispatches. OF_ERR_STATE if already started (round > 0 or any job dispatched),
 * with out->ignored set. */
OF_MUST_CHECK of_err of_gate_start(of_gate *g, int64_t now_ms, of_gate_out *out);

/* A job event (job.started/waiting/succeeded/failed/skipped/cancelled/timed_out, or
 * job.dispatched which is only recorded). Events for other releases or unknown jobs
 * return OF_ERR_NOT_FOUND with out->ignored set. */
OF_MUST_CHECK of_err of_gate_job_event(of_gate *g, const of_event *ev, int64_t now_ms,
                                       of_gate_out *out);

/* Replay (cmd->type == OF_CMD_REPLAY): stage (0 = every stage), all, tenant / project /
 * environment filters; quarantined: only the failures policy.proceed let through. A completed
 * release runs again. OF_ERR_STATE if aborted or nothing matches (out->ignored). */
OF_MUST_CHECK of_err of_gate_replay(of_gate *g, const of_command *cmd, int64_t now_ms,
                                    of_gate_out *out);

/* Replay after reconciling (docs/gating.md, "Reconcile before replay"): as of_gate_replay,
 * but each override of a failed job the replay matches (OF_JOB_SUCCEEDED: the target already
 * runs the release in Octopus) gives the job that status and the override's message as its
 * reason, and the job is not re-dispatched. release.resumed says "replay of stage N: X to
 * replay, Y already on <version>" and carries n_total X+Y, n_succeeded Y. Ignored with `all`
 * (the operator asked for every target). Overrides may be NULL/0. */
OF_MUST_CHECK of_err of_gate_replay_reconciled(of_gate *g, const of_command *cmd,
                                               const of_gate_override *overrides,
                                               size_t n_overrides, int64_t now_ms,
                                               of_gate_out *out);

/* Jobs of the release currently failed/timed_out/cancelled, for reconciliation before
 * resume. *out is a new array the caller frees with of_job_refs_free. */
OF_MUST_CHECK of_err of_gate_failed_jobs(const of_gate *g, of_job_ref **out, size_t *n);
/* The failed jobs cmd's replay would re-dispatch (none with `all`), for reconciliation before
 * replay. As of_gate_failed_jobs. */
OF_MUST_CHECK of_err of_gate_replay_failed_jobs(const of_gate *g, const of_command *cmd,
                                                of_job_ref **out, size_t *n);
void of_job_refs_free(of_job_ref *refs, size_t n);

/* Resume (cmd->type == OF_CMD_RESUME) with reconciled statuses (may be NULL/0).
 * OF_ERR_STATE unless the release is paused (or running with failed jobs that policy.proceed
 * does not let through; those it does are not accepted: their tenants stay quarantined). */
OF_MUST_CHECK of_err of_gate_resume(of_gate *g, const of_command *cmd,
                                    const of_gate_override *overrides, size_t n_overrides,
                                    int64_t now_ms, of_gate_out *out);

/* Abort (cmd->type == OF_CMD_ABORT). A second abort is ignored (OF_OK, out->ignored);
 * aborting a completed release is OF_ERR_STATE. */
/* Approve (cmd->type == OF_CMD_APPROVE): cmd->stage (0 = the release's policy.approval) is
 * approved by cmd->by for cmd->reason: stage.approved, then the stages that waited for it start;
 * the jobs dispatched from then on carry it (of_job.approved_by) so workers answer their manual
 * interventions. OF_ERR_STATE with why (out->ignored) when the release has ended, the stage
 * does not exist, needs no approval or was approved already. */
OF_MUST_CHECK of_err of_gate_approve(of_gate *g, const of_command *cmd, int64_t now_ms,
                                     of_gate_out *out, char *why, size_t why_size);

OF_MUST_CHECK of_err of_gate_abort(of_gate *g, const of_command *cmd, int64_t now_ms,
                                   of_gate_out *out);

/* ---- the task budget (docs/gating.md, "The task budget") ----
 *
 * With hold on (the producer turns it on for every gate), a job the rules dispatch gets
 * status dispatched and held set, but is not put in out->dispatch and has no job.dispatched
 * yet: the producer's budget (producer/budget.h) decides when it is sent, with
 * of_gate_release_held. The gate's decisions do not change: a held job is in flight for every
 * rule (its stage runs, the release waits for it before pausing), exactly as if a worker had
 * not picked it up yet. Abort cancels held jobs (job.cancelled, "aborted before dispatch"). */
void of_gate_hold_dispatches(of_gate *g, bool on);

/* Sends held job idx: held cleared, dispatched_ms = now_ms, the job in out->dispatch and
 * job.dispatched in out->events, the record marked changed. OF_ERR_STATE (out->ignored) if
 * the job is not held (any more). */
OF_MUST_CHECK of_err of_gate_release_held(of_gate *g, size_t idx, int64_t now_ms, of_gate_out *out);

/* ---- the soft stage deadline (policy.stage_deadline; docs/gating.md, "Stage deadlines") ----
 *
 * A (stage, environment) started at T has its deadline at T + the request's duration, or at the
 * request's RFC 3339 time. The gate takes time only here, as an input: the producer calls
 * of_gate_tick when of_gate_next_deadline is due. Then every first attempt of that (stage,
 * environment) not yet sent (held, or pending in a lane) is cancelled with reason
 * OF_DEADLINE_REASON, stage.deadline_passed lists them with the stage's counts, and, as for any
 * failure, in-flight jobs finish and the release pauses: replay --stage N re-dispatches them
 * (attempt 2: a replayed attempt has no stage deadline), resume accepts them as skipped, abort
 * stops. A first attempt sent before the deadline carries it as the job's deadline_ms: a worker
 * that picks it up later does not create it (job.failed "deadline passed"). A first attempt the
 * rules decide after the deadline is cancelled at once. */
#define OF_DEADLINE_REASON "not started: stage deadline passed at"

/* Applies every deadline due at now_ms. Nothing due: OF_OK with out->ignored. */
OF_MUST_CHECK of_err of_gate_tick(of_gate *g, int64_t now_ms, of_gate_out *out);
/* The earliest deadline not applied yet (wall ms), 0 for none (or an ended release). */
int64_t of_gate_next_deadline(const of_gate *g);

/* ---- inspection (borrowed results, valid until the next input or of_gate_free) ---- */

of_release_status of_gate_status(const of_gate *g);
/* The request's policy.gate. */
of_gate_mode of_gate_gate_mode(const of_gate *g);
int of_gate_round(const of_gate *g);
size_t of_gate_job_count(const of_gate *g);
const of_job_record *of_gate_job(const of_gate *g, size_t index);
/* Index of job_id, or -1. */
long of_gate_find(const of_gate *g, const char *job_id);
/* stage 1-based, env index in request order. */
of_stage_status of_gate_stage_status(const of_gate *g, int stage, size_t env);
/* Number of jobs dispatched/started/waiting. */
size_t of_gate_in_flight(const of_gate *g);

/* A deep copy of the current release record (caller clears it with
 * of_release_record_clear). */
OF_MUST_CHECK of_err of_gate_release_record(const of_gate *g, of_release_record *out);

#endif
