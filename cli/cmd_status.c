/* `octofleet status RELEASE [--json]`: a release's state as the producer recorded it in the
 * compacted <prefix>releases topic (docs/gating.md): stages per environment, job counts, and
 * the failed jobs with Octopus's error. Reads Kafka only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "log.h"
#include "msg.h"
#include "relstate.h"
#include "uuid.h"
#include "windows.h"

/* Held jobs whose maintenance window is closed now get starts_ms (its next opening), for both
 * views. *out: the release's windows (NULL when none), freed by the caller. */
static void window_starts(of_relstate *s, of_windows **out)
{
    *out = NULL;
    char es[256] = "";
    if (of_windows_from_request(s->rel.request_json, out, es, sizeof es) != OF_OK) {
        if (es[0]) fprintf(stderr, "octofleet status: maintenance windows: %s\n", es);
        return;
    }
    int64_t now = of_wall_ms();
    for (size_t i = 0; i < s->n; i++) {
        of_job_record *j = &s->jobs[i];
        int64_t at = of_windows_next(*out, j->window, now);
        j->starts_ms = j->held && j->window && at != now ? at : 0;
    }
}

/* The jobs waiting for their window, at most 20 lines. */
static void print_windows(const of_relstate *s, const of_windows *ws)
{
    size_t n = 0;
    int64_t now = of_wall_ms();
    for (size_t i = 0; i < s->n; i++) {
        const of_job_record *j = &s->jobs[i];
        if (!j->starts_ms) continue;
        if (n++ == 0) printf("\nwaiting for a maintenance window:\n");
        if (n > 20) continue;
        char why[320];
        of_cli_line(stdout, "  stage %d %s %s / %s: %s", j->job.stage,
                    j->job.project.name ? j->job.project.name : "?",
                    j->job.environment.name ? j->job.environment.name : "?",
                    j->job.tenant.name ? j->job.tenant.name : "?",
                    of_windows_describe(ws, j->window, now, why, sizeof why));
    }
    if (n > 20) of_cli_line(stdout, "  ... and %zu more", n - 20);
}

static bool is_failed(const of_job_record *j)
{
    return of_job_status_is_failure(j->status);
}

static bool is_quarantined(const of_job_record *j)
{
    return j->quarantined;
}

/* Under a title, one line per job that `which` picks, with its status and reason. */
static void print_jobs(const of_relstate *s, const char *title,
                       bool (*which)(const of_job_record *))
{
    int n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const of_job_record *j = &s->jobs[i];
        if (!which(j)) continue;
        if (n++ == 0) printf("\n%s:\n", title);
        of_cli_line(stdout, "  stage %d %s %s%s%s attempt %d: %s%s%s", j->job.stage,
                    j->job.project.name ? j->job.project.name : "?",
                    j->job.environment.name ? j->job.environment.name : "?",
                    j->job.tenant.name ? " / " : "", j->job.tenant.name ? j->job.tenant.name : "",
                    j->job.attempt, of_job_status_name(j->status), j->skip_reason ? ": " : "",
                    j->skip_reason ? j->skip_reason : "");
    }
}

static bool is_waiting(const of_job_record *j)
{
    return j->status == OF_JOB_WAITING;
}

/* The jobs whose Octopus task waits on a manual intervention or a guided failure, with the
 * task's link (octopus.url), at most 50 lines. */
static void print_waiting(const of_relstate *s, const char *octopus_url)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const of_job_record *j = &s->jobs[i];
        if (!is_waiting(j)) continue;
        if (n++ == 0)
            printf("\nwaiting in Octopus (a manual intervention or guided failure; approve or "
                   "guide answers them):\n");
        if (n > 50) continue;
        of_cli_line(stdout, "  stage %d %s %s%s%s: %s%s/app#/%s/tasks/%s", j->job.stage,
                    j->job.project.name ? j->job.project.name : "?",
                    j->job.environment.name ? j->job.environment.name : "?",
                    j->job.tenant.name ? " / " : "", j->job.tenant.name ? j->job.tenant.name : "",
                    octopus_url && *octopus_url ? "" : "(octopus.url)",
                    octopus_url ? octopus_url : "", j->job.space.id ? j->job.space.id : "",
                    j->task_id ? j->task_id : "?");
    }
    if (n > 50) of_cli_line(stdout, "  ... and %zu more", n - 50);
}

/* What the request makes wait for approval, and what was approved (docs/gating.md). */
static void print_approvals(const of_relstate *s)
{
    const of_release_record *r = &s->rel;
    of_request *req = NULL;
    of_errlist errs;
    of_errlist_init(&errs);
    if (!r->request_json ||
        of_request_parse(r->request_json, strlen(r->request_json), &req, &errs) != OF_OK) {
        of_errlist_clear(&errs);
        return;
    }
    of_errlist_clear(&errs);
    for (int a = 0; a <= r->stage_count && (size_t)a <= req->n_stages; a++) {
        const of_approval_req *q = a ? &req->stages[a - 1].approval : &req->policy.approval;
        const of_approval *given = r->approvals && r->approvals[a].by ? &r->approvals[a] : NULL;
        char what[40] = "the release", who[300] = "";
        if (a) (void)snprintf(what, sizeof what, "stage %d", a);
        for (size_t k = 0; k < q->n_by && strlen(who) < sizeof who - 64; k++)
            (void)snprintf(who + strlen(who), sizeof who - strlen(who), "%s%s", k ? ", " : " by ",
                           q->by[k]);
        if (given) {
            char when[40];
            of_cli_line(stdout, "APPROVED: %s by %s at %s%s%s", what, given->by,
                        of_rfc3339(given->time_ms, when, sizeof when), given->reason ? ": " : "",
                        given->reason ? given->reason : "");
        } else if (q->required && r->status == OF_RELEASE_RUNNING) {
            char stage[32] = "";
            if (a) (void)snprintf(stage, sizeof stage, " --stage %d", a);
            of_cli_line(stdout, "APPROVAL: %s waits for approval%s: octofleet approve %s%s", what,
                        who, r->release_id, stage);
        }
    }
    of_request_free(req);
}

static void print_text(const of_relstate *s, const char *octopus_url)
{
    const of_release_record *r = &s->rel;
    of_cli_line(stdout, "release %s (%s): %s, round %d", r->release_name ? r->release_name : "?",
                r->release_id, of_release_status_name(r->status), r->round);
    if (r->by) of_cli_line(stdout, "last action by %s: %s", r->by, r->reason ? r->reason : "");
    if (r->held)
        of_cli_line(stdout, "HELD: %s (nothing new is sent until Octopus answers again)", r->held);
    print_approvals(s);
    printf("\n%-6s %-14s %-20s %-10s %5s %5s %5s %5s %5s %5s\n", "STAGE", "NAME", "ENVIRONMENT",
           "STATUS", "JOBS", "OK", "SKIP", "FAIL", "LIVE", "HELD");
    for (int st = 1; st <= r->stage_count; st++) {
        for (size_t e = 0; e < r->n_environments; e++) {
            const char *env = r->environments[e].name;
            int tot = 0, ok = 0, skip = 0, fail = 0, live = 0, held = 0;
            for (size_t i = 0; i < s->n; i++) {
                const of_job_record *j = &s->jobs[i];
                if (j->job.stage != st || !j->job.environment.name ||
                    strcmp(j->job.environment.name, env) != 0)
                    continue;
                tot++;
                if (j->status == OF_JOB_SUCCEEDED)
                    ok++;
                else if (j->status == OF_JOB_SKIPPED)
                    skip++;
                else if (of_job_status_is_failure(j->status))
                    fail++;
                else if (j->held) /* decided, waiting for a task budget slot */
                    held++;
                else if (j->status != OF_JOB_PENDING)
                    live++;
            }
            size_t k = (size_t)(st - 1) * r->n_environments + e;
            const char *name =
                r->stage_names && r->stage_names[st - 1] ? r->stage_names[st - 1] : "";
            of_cli_line(stdout, "%-6d %-14s %-20s %-10s %5d %5d %5d %5d %5d %5d", st, name, env,
                        of_stage_status_name(r->stage_status[k]), tot, ok, skip, fail, live, held);
        }
    }
    print_jobs(s, "failed jobs", is_failed);
    print_jobs(s, "quarantined jobs (policy.proceed; replay --quarantined)", is_quarantined);
    print_waiting(s, octopus_url);
}

/* An evicted release (producer.release_retention): only the producer's marker is left, so
 * the stages and counts are those it recorded when the release ended. */
static void print_evicted(const of_relstate *s)
{
    const of_release_record *r = &s->rel;
    char when[40], ended[40];
    of_cli_line(stdout, "release %s (%s): %s, round %d", r->release_name ? r->release_name : "?",
                r->release_id, of_release_status_name(r->status), r->round);
    of_cli_line(stdout, "evicted %s after its retention (last change %s): its job records are gone",
                of_rfc3339(r->evicted_ms, when, sizeof when),
                of_rfc3339(r->updated_ms, ended, sizeof ended));
    if (r->by) of_cli_line(stdout, "last action by %s: %s", r->by, r->reason ? r->reason : "");
    printf("\n%-6s %-14s %-20s %s\n", "STAGE", "NAME", "ENVIRONMENT", "STATUS");
    for (int st = 1; st <= r->stage_count; st++)
        for (size_t e = 0; e < r->n_environments; e++) {
            size_t k = (size_t)(st - 1) * r->n_environments + e;
            const char *name =
                r->stage_names && r->stage_names[st - 1] ? r->stage_names[st - 1] : "";
            of_cli_line(stdout, "%-6d %-14s %-20s %s", st, name,
                        r->environments[e].name ? r->environments[e].name : "",
                        of_stage_status_name(r->stage_status[k]));
        }
    printf("\njobs: %zu", r->n_jobs);
    for (int i = 0; i < OF_JOB_STATUS__COUNT; i++)
        if (r->counts[i]) printf(", %s %zu", of_job_status_name((of_job_status)i), r->counts[i]);
    printf("\n");
}

static const char status_usage[] =
    "usage: octofleet status RELEASE [--json] [options]\n\n"
    "Shows a release's stages per environment, job counts, failed jobs with Octopus's\n"
    "error and quarantined jobs (policy.proceed) with the failure that quarantined their\n"
    "tenant, from the state the producer keeps in the releases topic. RELEASE is the id\n"
    "printed by submit, or the release name. A release evicted after the producer's\n"
    "producer.release_retention shows its outcome, stages and counts from the marker the\n"
    "producer kept (\"evicted\" in --json; its jobs are gone). Jobs waiting for their\n"
    "tenant's maintenance window (policy.windows) are listed with the window's next opening\n"
    "(\"starts_at\" in --json). While the fleet holds on Octopus's trouble (octopus.hold_*),\n"
    "a HELD line says why (\"held\" in --json). Approvals the request asks for are shown\n"
    "with the command that gives them, and the ones given with who, when and why\n"
    "(\"approvals\" in --json); jobs waiting in Octopus on a manual intervention or guided\n"
    "failure are listed with their task's link. Exit 0 if found (evicted included), 1 if\n"
    "not.\n\nOptions:\n"
    "  --json              print the release and every job as JSON\n" OF_CLI_COMMON_HELP;

static int status_run(const of_config *cfg, void *ctx)
{
    const of_cli_json_args *a = ctx;
    of_relstate s = {.want = a->arg};
    of_windows *ws = NULL;
    int ex = of_relstate_read(cfg, "status", &s);
    if (!ex && s.have_release && !s.rel.evicted_ms) window_starts(&s, &ws);
    if (!ex && !s.have_release) {
        fprintf(stderr, "octofleet status: no release '%s' in the releases topic\n", a->arg);
        ex = OF_EXIT_FAIL;
    } else if (!ex && a->json) {
        char *out = NULL;
        if (of_status_json_encode(&s.rel, s.jobs, s.n, &out) == OF_OK) {
            printf("%s\n", out);
        } else {
            fprintf(stderr, "octofleet status: cannot encode JSON\n");
            ex = OF_EXIT_FAIL;
        }
        free(out);
    } else if (!ex && s.rel.evicted_ms) {
        print_evicted(&s);
    } else if (!ex) {
        print_text(&s, cfg->octopus.url);
        print_windows(&s, ws);
    }
    of_windows_free(ws);
    of_relstate_clear(&s);
    return ex;
}

int of_cmd_status(int argc, char **argv)
{
    of_cli_common co = {0};
    of_cli_json_args a = {0};
    int ex;
    if (!of_cli_args(argc, argv, "status", status_usage, &co, of_cli_json_arg, &a, &ex)) return ex;
    if (!a.arg) return of_cli_usage_error("status", status_usage, "missing RELEASE");
    return of_cli_with_config(&co, OF_ROLE_ANY, status_run, &a);
}
