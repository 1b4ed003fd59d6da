/* Plan expansion: a validated release request -> the ordered list of jobs.
 *
 * Pure: every question about Octopus goes through an of_resolver (implemented on top of
 * the Octopus client by the producer daemon, and by a table in tests/unit/test_plan.c).
 * The planner resolves every name first and reports all unresolved names together, then
 * checks the lifecycle per target and reports every forbidden target; either kind of
 * error rejects the whole request (a rejected request deploys nothing).
 *
 * Rules (docs/requests.md has the user's view):
 * - untenanted projects ("Untenanted", or "TenantedOrUntenanted" with no tenant selection)
 *   get one job per environment;
 * - tenanted projects get one job per selected tenant connected to the project in that
 *   environment (selection = names U tag matches, or "all"); a tenant named explicitly but
 *   not connected there is planned as skipped with that reason; tag/all matches that are not
 *   connected are simply not targets; a tenanted project with no tenant selection is an
 *   error; a project with no connected selected tenant in an environment is a warning;
 * - `skip: true` entries are planned as skipped ("skipped in request"), without lifecycle
 *   or release-version checks beyond name resolution;
 * - condition if-not-current: targets already on the release are planned as skipped;
 * - order: stage, environment (request order), project name, tenant name (untenanted first).
 */
#ifndef OF_PLAN_H
#define OF_PLAN_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "model.h"
#include "msg.h"

/* A list of Octopus references; items and their strings owned by the list. */
typedef struct of_reflist {
    of_ref *items;
    size_t n;
    size_t cap;
} of_reflist;

/* Appends a copy of (id, name). */
OF_MUST_CHECK of_err of_reflist_add(of_reflist *l, const char *id, const char *name);
/* Free the contents (the struct itself is the caller's); l is then empty. */
void of_reflist_clear(of_reflist *l);
void of_ref_clear(of_ref *r);

/* What the planner asks Octopus. Every callback returns OF_OK, OF_ERR_NOT_FOUND when the
 * name has no EXACT match (the planner collects these), or another of_err for a real
 * failure (network, auth...: the planner stops and returns it, with errstr). Out values
 * are caller-provided, zeroed, and filled with newly allocated strings the planner frees.
 * Implementations may cache; the planner asks each question at most once per plan. */
typedef struct of_resolver {
    void *opaque;
    of_err (*space)(void *opaque, const char *name, of_ref *out, char *errstr, size_t errstr_size);
    of_err (*environment)(void *opaque, const of_ref *space, const char *name, of_ref *out,
                          char *errstr, size_t errstr_size);
    of_err (*project)(void *opaque, const of_ref *space, const char *name, of_ref *out,
                      of_tenanted_mode *mode, char *errstr, size_t errstr_size);
    /* The project's release with exactly this version; out = {Releases-N, version}. */
    of_err (*release)(void *opaque, const of_ref *space, const of_ref *project, const char *version,
                      of_ref *out, char *errstr, size_t errstr_size);
    of_err (*tenant_by_name)(void *opaque, const of_ref *space, const char *name, of_ref *out,
                             char *errstr, size_t errstr_size);
    /* Tenants carrying the canonical tag "Set/Tag"; OF_ERR_NOT_FOUND if no such tag
     * exists; OF_OK with an empty list if the tag exists but no tenant carries it. */
    of_err (*tenants_by_tag)(void *opaque, const of_ref *space, const char *tag, of_reflist *out,
                             char *errstr, size_t errstr_size);
    /* Tenants connected to project in environment (ProjectEnvironments). */
    of_err (*tenants_connected)(void *opaque, const of_ref *space, const of_ref *project,
                                const of_ref *environment, of_reflist *out, char *errstr,
                                size_t errstr_size);
    /* May this release go to environment (for tenant, NULL = untenanted) now?
     * (deployment template PromoteTo / TenantPromotions). */
    of_err (*can_deploy)(void *opaque, const of_ref *space, const of_ref *release,
                         const of_ref *environment, const of_ref *tenant, bool *allowed,
                         char *errstr, size_t errstr_size);
    /* Is this target's current successful deployment of project this release? Only called
     * for condition if-not-current. */
    of_err (*is_current)(void *opaque, const of_ref *space, const of_ref *project,
                         const of_ref *release, const of_ref *environment, const of_ref *tenant,
                         bool *current, char *errstr, size_t errstr_size);
    /* Optional (NULL: none). Called once per release of the request before any job is built:
     * fetch now what can_deploy will ask about, so that large replies (a release's deployment
     * template lists every tenant) are parsed and freed before the jobs take memory. A failure
     * here is not an error: can_deploy asks again and reports it. */
    void (*prepare)(void *opaque, const of_ref *space, const of_ref *release);
} of_resolver;

/* The plan: a release header (status running, round 0, stage statuses pending) and one
 * record per job (status OF_JOB_PENDING, or OF_JOB_SKIPPED with skip_reason; attempt 0).
 * This is exactly what producer/gate.h loads, and what the state topic stores. */
typedef struct of_plan {
    of_release_record header;
    /* Every string of every job (names, ids, versions, skip reasons) is borrowed from
     * `strings`, which the plan owns: jobs repeat a few values, and one copy each keeps a big
     * plan near 400 bytes per job. Copy a job (of_job_copy) to keep it beyond of_plan_free. */
    of_job_record *jobs;
    size_t n_jobs;
    struct of_strpool *strings;
    of_errlist warnings;
    /* Shown by `octofleet plan` only (set by its caller, 0 = not shown): the fleet's task
     * budget and how it was found (of_task_budget_resolve, resolver_octo.h). */
    int task_budget;
    char task_budget_rule[160];
    /* policy.windows with their zones loaded (NULL: none; producer/windows.h), and the time
     * of_plan_window_starts last computed the openings for (0: not yet). */
    struct of_windows *windows;
    int64_t windows_now_ms;
} of_plan;

/* Expands req. request_json (may be NULL) is stored in the header for restarts.
 * Job deadlines come from policy.queue_time_expiry (0 when unset).
 * Returns OF_OK and *out (free with of_plan_free); or
 *   OF_ERR_NOT_FOUND: names that do not resolve, every one listed in errs;
 *   OF_ERR_REJECTED: targets the lifecycle forbids (one errs item per target), or a
 *                    tenanted project without tenant selection;
 *   another code: a resolver failure (errstr says which), plan abandoned.
 * errs must be initialised; *out is NULL on error. */
OF_MUST_CHECK of_err of_plan_build(const of_request *req, const char *request_json,
                                   const of_resolver *res, of_plan **out, of_errlist *errs,
                                   char *errstr, size_t errstr_size);

void of_plan_free(of_plan *plan);

/* A header read back from the state topic has no gate policy of its own (the record does not
 * repeat it): sets h->gate, h->lane_failure and h->proceed (each stage's policy.proceed, a
 * new array the header owns) from the request it keeps (h->request_json),
 * exactly as of_plan_build set them from the parsed request. A header without a request gets
 * the defaults (gate stage). OF_ERR_INVALID (errstr says why) if the request does not parse;
 * OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_plan_header_policy(of_release_record *h, char *errstr, size_t errstr_size);

/* A release header's request_json, parsed: *out (free with of_request_free), or an error with
 * errstr "its request does not parse: <every problem>" (OF_ERR_INVALID), or OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_plan_parse_request(const char *request_json, of_request **out, char *errstr,
                                           size_t errstr_size);

/* Sorts jobs into the plan's order: stage, environment (env_of[i] is the request-order
 * index of jobs[i]'s environment), project name, tenant name (untenanted first), job id.
 * Both arrays are permuted together. The gate uses it too, so a gate loaded back from
 * records decides in the same order as the fresh one did. OF_ERR_NOMEM only. */
OF_MUST_CHECK of_err of_plan_sort(of_job_record *jobs, size_t *env_of, size_t n);

/* For `octofleet plan`: sets starts_ms of every job to deploy whose tenant's maintenance window
 * is closed at now_ms to the window's next opening (0 for the others), and makes the table show
 * each window job's window and opening. For a later stage this is the earliest it could start. */
void of_plan_window_starts(of_plan *plan, int64_t now_ms);

/* Counts of jobs to deploy (pending) and skipped. */
size_t of_plan_count(const of_plan *plan, of_job_status status);

/* Appends the human table for `octofleet plan` to b: a header line (release, id, space,
 * stage count, gate mode and, for lanes, lane_failure), then
 *   STAGE  ENVIRONMENT  PROJECT  VERSION  TENANT  ACTION  REASON
 * followed by a summary line and the warnings. With out (not NULL) the text is written there as
 * it grows, in pieces of about 64 KB, and b is left empty: a 60,000-job table is never held
 * whole (OF_ERR_IO when writing fails); with out NULL it all stays in b. */
OF_MUST_CHECK of_err of_plan_format_table(const of_plan *plan, of_buf *b, FILE *out);

/* The JSON view: a new string the caller frees (see of_plan_json_encode in msg.h), led by
 * "gate" ("stage"|"tenant") and, for lanes, "lane_failure". */
OF_MUST_CHECK of_err of_plan_to_json(const of_plan *plan, char **out);

#endif
