/* Wire formats: jobs, CloudEvents, operator commands, state records, the plan view.
 * Schemas are documented in docs/messages.md and docs/gating.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_json.h"
#include "uuid.h"

/* ---------------------------------------------------------------------------------- */
/* decoding: what every decoder opens and closes with */

/* Zeroes out (out_size bytes), loads data with the size cap and starts a message reader on it;
 * checks "schema" when schema is not NULL (a CloudEvent has none). OF_OK with *root (the caller
 * ends with DECODE_END) and *r set, or the load's error (errstr says why; nothing to free). */
static of_err decode_begin(const char *data, size_t len, void *out, size_t out_size,
                           const char *schema, json_t **root, oj_reader *r, char *errstr,
                           size_t errstr_size)
{
    memset(out, 0, out_size);
    *root = NULL;
    of_err rc = oj_load(data, len, root, errstr, errstr_size);
    if (rc) return rc;
    *r = oj_reader_message(errstr, errstr_size);
    if (schema) oj_schema(r, *root, schema);
    return OF_OK;
}

/* Frees the tree; on error clears what was decoded into out; the reader's verdict. */
#define DECODE_END(r, root, clear_fn, out) \
    (json_decref(root), (r).rc ? (clear_fn(out), (r).rc) : OF_OK)

/* ---------------------------------------------------------------------------------- */
/* clear / copy */

static void ref_clear(of_ref *r)
{
    free(r->id);
    free(r->name);
    r->id = r->name = NULL;
}

static of_err ref_copy(of_ref *dst, const of_ref *src)
{
    of_err rc = OF_OK;
    dst->id = of_strdup_or_null(src->id, &rc);
    dst->name = of_strdup_or_null(src->name, &rc);
    return rc;
}

void of_job_clear(of_job *job)
{
    if (!job) return;
    free(job->release_name);
    free(job->stage_name);
    ref_clear(&job->space);
    ref_clear(&job->project);
    ref_clear(&job->octo_release);
    ref_clear(&job->environment);
    ref_clear(&job->tenant);
    free(job->queue_time);
    free(job->queue_time_expiry);
    free(job->approved_by);
    free(job->approval_reason);
    memset(job, 0, sizeof *job);
}

of_err of_job_copy(of_job *dst, const of_job *src)
{
    of_err rc = OF_OK;
    *dst = *src; /* scalars and id arrays; pointers replaced below */
    dst->release_name = of_strdup_or_null(src->release_name, &rc);
    dst->stage_name = of_strdup_or_null(src->stage_name, &rc);
    dst->queue_time = of_strdup_or_null(src->queue_time, &rc);
    dst->queue_time_expiry = of_strdup_or_null(src->queue_time_expiry, &rc);
    dst->approved_by = of_strdup_or_null(src->approved_by, &rc);
    dst->approval_reason = of_strdup_or_null(src->approval_reason, &rc);
    of_err r2 = ref_copy(&dst->space, &src->space);
    of_err r3 = ref_copy(&dst->project, &src->project);
    of_err r4 = ref_copy(&dst->octo_release, &src->octo_release);
    of_err r5 = ref_copy(&dst->environment, &src->environment);
    of_err r6 = ref_copy(&dst->tenant, &src->tenant);
    if (rc || r2 || r3 || r4 || r5 || r6) {
        of_job_clear(dst);
        return OF_ERR_NOMEM;
    }
    return OF_OK;
}

void of_job_ref_clear(of_job_ref *r)
{
    if (!r) return;
    free(r->project);
    free(r->environment);
    free(r->tenant);
    free(r->task_id);
    memset(r, 0, sizeof *r);
}

void of_event_clear(of_event *ev)
{
    if (!ev) return;
    free(ev->source);
    free(ev->subject);
    free(ev->release_name);
    free(ev->stage_name);
    free(ev->environment);
    free(ev->project);
    free(ev->tenant);
    free(ev->deployment_id);
    free(ev->task_id);
    free(ev->web_link);
    free(ev->interruption_id);
    free(ev->message);
    free(ev->by);
    for (size_t i = 0; i < ev->n_jobs; i++)
        of_job_ref_clear(&ev->jobs[i]);
    free(ev->jobs);
    of_strv_free(ev->errors, ev->n_errors);
    memset(ev, 0, sizeof *ev);
}

void of_command_clear(of_command *cmd)
{
    if (!cmd) return;
    free(cmd->by);
    free(cmd->reason);
    free(cmd->request_json);
    of_strv_free(cmd->tenants, cmd->n_tenants);
    of_strv_free(cmd->projects, cmd->n_projects);
    of_strv_free(cmd->environments, cmd->n_environments);
    memset(cmd, 0, sizeof *cmd);
}

void of_release_record_clear(of_release_record *r)
{
    if (!r) return;
    free(r->release_name);
    ref_clear(&r->space);
    free(r->request_json);
    if (r->stage_names)
        of_strv_free(r->stage_names, (size_t)(r->stage_count > 0 ? r->stage_count : 0));
    for (size_t i = 0; i < r->n_environments; i++)
        ref_clear(&r->environments[i]);
    free(r->environments);
    free(r->stage_status);
    free(r->by);
    free(r->reason);
    free(r->held);
    free(r->proceed);
    free(r->approval_required);
    if (r->approvals)
        for (int i = 0; i <= r->stage_count; i++) {
            free(r->approvals[i].by);
            free(r->approvals[i].reason);
        }
    free(r->approvals);
    memset(r, 0, sizeof *r);
}

void of_job_record_clear(of_job_record *r)
{
    if (!r) return;
    of_job_clear(&r->job);
    free(r->skip_reason);
    free(r->deployment_id);
    free(r->task_id);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------- */
/* jobs */

/* The job's fields, shared by the job message and the job-state record. */
static void write_ref(oj_writer *w, const char *key, const of_ref *r, const char *name_key)
{
    ojw_object(w, key);
    ojw_str_or_null(w, "id", r->id);
    ojw_str_or_null(w, name_key, r->name);
    ojw_end_object(w);
}

/* A job's fields, into the object being written (a job message, or a record's "job"). */
static void write_job(oj_writer *w, const of_job *j)
{
    ojw_str(w, "job_id", j->job_id);
    ojw_str(w, "release_id", j->release_id);
    ojw_str(w, "release", j->release_name);
    ojw_int(w, "stage", j->stage);
    ojw_int(w, "stage_count", j->stage_count);
    ojw_str(w, "stage_name", j->stage_name);
    ojw_int(w, "attempt", j->attempt);
    write_ref(w, "space", &j->space, "name");
    ojw_object(w, "project");
    ojw_str_or_null(w, "id", j->project.id);
    ojw_str_or_null(w, "name", j->project.name);
    ojw_str(w, "tenanted", of_tenanted_mode_name(j->tenanted_mode));
    ojw_end_object(w);
    write_ref(w, "octopus_release", &j->octo_release, "version");
    write_ref(w, "environment", &j->environment, "name");
    if (j->tenant.id || j->tenant.name)
        write_ref(w, "tenant", &j->tenant, "name");
    else
        ojw_null(w, "tenant");
    ojw_object(w, "policy");
    ojw_int(w, "timeout_s", j->timeout_s);
    ojw_bool(w, "cancel_on_timeout", j->cancel_on_timeout);
    ojw_bool(w, "guided_failure", j->guided_failure);
    ojw_str_or_null(w, "queue_time", j->queue_time);
    ojw_str_or_null(w, "queue_time_expiry", j->queue_time_expiry);
    ojw_end_object(w);
    ojw_time(w, "deadline", j->deadline_ms);
    ojw_time(w, "dispatched_at", j->dispatched_ms);
    if (j->approved_by) {
        ojw_object(w, "approval");
        ojw_str(w, "by", j->approved_by);
        ojw_str(w, "reason", j->approval_reason);
        ojw_end_object(w);
    }
}

/* strict: a job message must name the Octopus release to deploy; a job-state record of a
 * job skipped in the request may not have one. */
static void job_from_json(oj_reader *r, json_t *o, const char *path, of_job *j, bool strict)
{
    char p[64];
    oj_id(r, o, path, "job_id", true, j->job_id);
    oj_id(r, o, path, "release_id", true, j->release_id);
    j->release_name = oj_name(r, o, path, "release", false);
    j->stage = (int)oj_int(r, o, path, "stage", true, 1, 10000, 0);
    j->stage_count = (int)oj_int(r, o, path, "stage_count", false, 0, 10000, 0);
    if (!r->rc && j->stage_count && j->stage > j->stage_count)
        oj_fail(r, OF_ERR_INVALID, "%sstage: %d is beyond stage_count %d", path, j->stage,
                j->stage_count);
    j->stage_name = oj_name(r, o, path, "stage_name", false);
    j->attempt = (int)oj_int(r, o, path, "attempt", true, 0, 1000000, 0);
    oj_read_ref(r, o, path, "space", true, NULL, &j->space);
    oj_read_ref(r, o, path, "project", true, NULL, &j->project);
    json_t *proj = json_object_get(o, "project");
    if (!r->rc && json_is_object(proj)) {
        json_t *t = json_object_get(proj, "tenanted");
        if (t && !json_is_null(t) &&
            (!json_is_string(t) || of_tenanted_mode_parse(json_string_value(t), &j->tenanted_mode)))
            oj_fail(r, OF_ERR_INVALID,
                    "%sproject.tenanted: must be Untenanted, TenantedOrUntenanted or Tenanted",
                    path);
    }
    oj_read_ref(r, o, path, "octopus_release", strict, "version", &j->octo_release);
    oj_read_ref(r, o, path, "environment", true, NULL, &j->environment);
    oj_read_ref(r, o, path, "tenant", false, NULL, &j->tenant);
    json_t *tenant = json_object_get(o, "tenant");
    if (!r->rc && json_is_object(tenant) && !j->tenant.id)
        oj_fail(r, OF_ERR_INVALID, "%stenant.id: missing (use \"tenant\": null for untenanted)",
                path);
    json_t *pol = json_object_get(o, "policy");
    if (!r->rc && pol && !json_is_null(pol)) {
        if (!json_is_object(pol)) {
            oj_fail(r, OF_ERR_INVALID, "%spolicy: must be an object", path);
        } else {
            (void)snprintf(p, sizeof p, "%spolicy.", path);
            j->timeout_s = oj_int(r, pol, p, "timeout_s", false, 0, INT32_MAX, 0);
            j->cancel_on_timeout = oj_bool(r, pol, p, "cancel_on_timeout", false);
            j->guided_failure = oj_bool(r, pol, p, "guided_failure", false);
            j->queue_time = oj_str(r, pol, p, "queue_time", false);
            j->queue_time_expiry = oj_str(r, pol, p, "queue_time_expiry", false);
        }
    }
    j->deadline_ms = oj_time(r, o, path, "deadline", 0);
    j->dispatched_ms = oj_time(r, o, path, "dispatched_at", 0);
    json_t *a = json_object_get(o, "approval");
    if (!r->rc && a && !json_is_null(a)) {
        if (!json_is_object(a)) {
            oj_fail(r, OF_ERR_INVALID, "%sapproval: must be an object", path);
        } else {
            (void)snprintf(p, sizeof p, "%sapproval.", path);
            j->approved_by = oj_text(r, a, p, "by", true, OF_BY_MAX, true);
            j->approval_reason = oj_text(r, a, p, "reason", false, OF_REASON_MAX, false);
        }
    }
}

of_err of_job_encode(const of_job *job, char **out)
{
    oj_writer w;
    ojw_begin(&w);
    ojw_str(&w, "schema", OF_SCHEMA_JOB); /* first, for humans reading a topic */
    write_job(&w, job);
    return ojw_finish(&w, out);
}

of_err of_job_decode(const char *data, size_t len, of_job *out, char *errstr, size_t errstr_size)
{
    json_t *root;
    oj_reader r;
    of_err rc =
        decode_begin(data, len, out, sizeof *out, OF_SCHEMA_JOB, &root, &r, errstr, errstr_size);
    if (rc) return rc;
    job_from_json(&r, root, "", out, true);
    return DECODE_END(r, root, of_job_clear, out);
}

/* ---------------------------------------------------------------------------------- */
/* events */

static bool is_job_event(of_event_type t)
{
    return (t >= OF_EV_JOB_DISPATCHED && t <= OF_EV_JOB_TIMED_OUT) || t == OF_EV_JOB_ANSWERED;
}

static bool is_stage_event(of_event_type t)
{
    return t == OF_EV_STAGE_STARTED || t == OF_EV_STAGE_SUCCEEDED || t == OF_EV_STAGE_FAILED ||
           t == OF_EV_STAGE_DEADLINE_PASSED || t == OF_EV_STAGE_APPROVAL_REQUIRED ||
           t == OF_EV_STAGE_APPROVED;
}

void of_event_set_id(of_event *ev)
{
    char name[1024];
    const char *type = of_event_type_name(ev->type);
    if (ev->type == OF_EV_JOB_ANSWERED) /* one per interruption of the attempt */
        (void)snprintf(name, sizeof name, "%s/%d/%s/%s", ev->job_id, ev->attempt, type,
                       ev->interruption_id ? ev->interruption_id : "");
    else if (is_job_event(ev->type))
        (void)snprintf(name, sizeof name, "%s/%d/%s", ev->job_id, ev->attempt, type);
    else if (is_stage_event(ev->type))
        (void)snprintf(name, sizeof name, "%s/%d/%d/%s/%s", ev->release_id, ev->round, ev->stage,
                       ev->environment ? ev->environment : "", type);
    else if (ev->type == OF_EV_RELEASE_ACCEPTED)
        (void)snprintf(name, sizeof name, "%s/%s", ev->release_id, type);
    else if (ev->type == OF_EV_RELEASE_REJECTED || ev->type == OF_EV_COMMAND_IGNORED ||
             ev->type == OF_EV_RELEASE_HELD || ev->type == OF_EV_RELEASE_UNHELD ||
             ev->type == OF_EV_STAGE_GUIDED) /* one per command: its time */
        (void)snprintf(name, sizeof name, "%s/%s/%" PRId64, ev->release_id, type, ev->time_ms);
    else
        (void)snprintf(name, sizeof name, "%s/%d/%s", ev->release_id, ev->round, type);
    of_uuid_v5(name, ev->id);
}

static void write_job_ref(oj_writer *w, const of_job_ref *jr)
{
    ojw_object(w, NULL);
    ojw_str(w, "job_id", jr->job_id);
    ojw_int(w, "stage", jr->stage);
    ojw_int(w, "attempt", jr->attempt);
    ojw_str(w, "status", of_job_status_name(jr->status));
    ojw_str(w, "project", jr->project);
    ojw_str(w, "environment", jr->environment);
    ojw_str(w, "tenant", jr->tenant);
    ojw_str(w, "task_id", jr->task_id);
    ojw_end_object(w);
}

static void job_ref_from_json(oj_reader *r, json_t *o, const char *path, of_job_ref *jr)
{
    if (!json_is_object(o)) {
        oj_fail(r, OF_ERR_INVALID, "%s: must be an object", path);
        return;
    }
    char p[64];
    (void)snprintf(p, sizeof p, "%s.", path);
    oj_id(r, o, p, "job_id", true, jr->job_id);
    jr->stage = (int)oj_int(r, o, p, "stage", false, 0, 10000, 0);
    jr->attempt = (int)oj_int(r, o, p, "attempt", false, 0, 1000000, 0);
    char *st = oj_str(r, o, p, "status", false);
    if (st && of_job_status_parse(st, &jr->status) != 0)
        oj_fail(r, OF_ERR_INVALID, "%sstatus: unknown \"%s\"", p, st);
    free(st);
    jr->project = oj_str(r, o, p, "project", false);
    jr->environment = oj_str(r, o, p, "environment", false);
    jr->tenant = oj_str(r, o, p, "tenant", false);
    jr->task_id = oj_str(r, o, p, "task_id", false);
}

of_err of_event_encode(const of_event *ev, char **out)
{
    *out = NULL;
    if ((int)ev->type < 0 || ev->type >= OF_EV__COUNT || !ev->source || !ev->release_id[0])
        return OF_ERR_INVALID;
    of_event tmp = *ev; /* shallow: only to compute the id, never freed */
    if (!tmp.id[0]) of_event_set_id(&tmp);
    char subject[2 * OF_UUID_STR_SIZE + 2];
    const char *subj = ev->subject;
    if (!subj) {
        if (ev->job_id[0])
            (void)snprintf(subject, sizeof subject, "%s/%s", ev->release_id, ev->job_id);
        else
            (void)snprintf(subject, sizeof subject, "%s", ev->release_id);
        subj = subject;
    }
    oj_writer w;
    ojw_begin(&w);
    ojw_str(&w, "specversion", OF_CE_SPECVERSION);
    ojw_str(&w, "id", tmp.id);
    ojw_str(&w, "source", ev->source);
    ojw_str(&w, "type", of_event_type_name(ev->type));
    ojw_str(&w, "subject", subj);
    ojw_time(&w, "time", ev->time_ms);
    ojw_str(&w, "datacontenttype", OF_CE_DATACONTENTTYPE);
    ojw_object(&w, "data");
    ojw_str(&w, "release_id", ev->release_id);
    ojw_str(&w, "release", ev->release_name);
    if (ev->round) ojw_int(&w, "round", ev->round);
    if (ev->stage) ojw_int(&w, "stage", ev->stage);
    if (ev->stage_count) ojw_int(&w, "stage_count", ev->stage_count);
    ojw_str(&w, "stage_name", ev->stage_name);
    ojw_str(&w, "environment", ev->environment);
    if (ev->job_id[0]) ojw_str(&w, "job_id", ev->job_id);
    if (ev->attempt) ojw_int(&w, "attempt", ev->attempt);
    ojw_str(&w, "project", ev->project);
    ojw_str(&w, "tenant", ev->tenant);
    ojw_str(&w, "deployment_id", ev->deployment_id);
    ojw_str(&w, "task_id", ev->task_id);
    ojw_str(&w, "web_link", ev->web_link);
    ojw_str(&w, "interruption_id", ev->interruption_id);
    ojw_time(&w, "task_queued", ev->task_queued_ms);
    ojw_time(&w, "task_started", ev->task_started_ms);
    ojw_time(&w, "task_completed", ev->task_completed_ms);
    if (ev->octopus_throttled) ojw_bool(&w, "octopus_throttled", true);
    ojw_str(&w, "message", ev->message);
    ojw_str(&w, "by", ev->by);
    if (ev->command_id[0]) ojw_str(&w, "command_id", ev->command_id);
    if (ev->n_jobs) {
        ojw_array(&w, "jobs");
        for (size_t i = 0; i < ev->n_jobs; i++)
            write_job_ref(&w, &ev->jobs[i]);
        ojw_end_array(&w);
    }
    if (ev->n_errors) ojw_strv(&w, "errors", ev->errors, ev->n_errors);
    if (ev->n_total || ev->n_succeeded || ev->n_failed || ev->n_skipped) {
        ojw_object(&w, "counts");
        ojw_int(&w, "total", ev->n_total);
        ojw_int(&w, "succeeded", ev->n_succeeded);
        ojw_int(&w, "failed", ev->n_failed);
        ojw_int(&w, "skipped", ev->n_skipped);
        ojw_end_object(&w);
    }
    ojw_end_object(&w);
    return ojw_finish(&w, out);
}

bool of_event_is_producers(const char *data, size_t len)
{
    static const char head[] = "{\"specversion\":\"" OF_CE_SPECVERSION "\",\"id\":\"";
    static const char mid[] = "\",\"source\":\"" OF_SOURCE_PRODUCER;
    const size_t hl = sizeof head - 1, ml = sizeof mid - 1, idl = OF_UUID_STR_SIZE - 1;
    if (!data || len < hl + idl + ml + 1 || memcmp(data, head, hl) != 0) return false;
    for (size_t i = 0; i < idl; i++) /* a UUID: no quote or escape can hide in it */
        if (!data[hl + i] || !strchr("0123456789abcdef-", data[hl + i])) return false;
    const char *m = data + hl + idl;
    if (memcmp(m, mid, ml) != 0) return false;
    return m[ml] == '"' || m[ml] == '/';
}

of_err of_event_decode(const char *data, size_t len, of_event *out, char *errstr,
                       size_t errstr_size)
{
    json_t *root;
    oj_reader r;
    of_err rc = decode_begin(data, len, out, sizeof *out, NULL, &root, &r, errstr, errstr_size);
    if (rc) return rc;
    char *sv = oj_str(&r, root, "", "specversion", true);
    if (sv && strcmp(sv, OF_CE_SPECVERSION) != 0)
        oj_fail(&r, OF_ERR_PROTOCOL, "specversion: unsupported \"%s\" (want 1.0)", sv);
    free(sv);
    char *id = oj_str(&r, root, "", "id", true);
    if (id && !of_uuid_valid(id)) oj_fail(&r, OF_ERR_INVALID, "id: must be a UUID string");
    if (id) of_id_copy(out->id, id);
    free(id);
    out->source = oj_str(&r, root, "", "source", true);
    char *type = oj_str(&r, root, "", "type", true);
    if (type && of_event_type_parse(type, &out->type) != 0)
        oj_fail(&r, OF_ERR_INVALID, "type: unknown \"%s\"", type);
    free(type);
    out->subject = oj_str(&r, root, "", "subject", false);
    out->time_ms = oj_time(&r, root, "", "time", 0);
    json_t *d = json_object_get(root, "data");
    if (!r.rc && !json_is_object(d)) oj_fail(&r, OF_ERR_INVALID, "data: missing or not an object");
    if (!r.rc) {
        const char *p = "data.";
        oj_id(&r, d, p, "release_id", true, out->release_id);
        out->release_name = oj_name(&r, d, p, "release", false);
        out->round = (int)oj_int(&r, d, p, "round", false, 0, 1000000, 0);
        out->stage = (int)oj_int(&r, d, p, "stage", false, 0, 10000, 0);
        out->stage_count = (int)oj_int(&r, d, p, "stage_count", false, 0, 10000, 0);
        out->stage_name = oj_name(&r, d, p, "stage_name", false);
        out->environment = oj_name(&r, d, p, "environment", false);
        oj_id(&r, d, p, "job_id", is_job_event(out->type), out->job_id);
        out->attempt = (int)oj_int(&r, d, p, "attempt", false, 0, 1000000, 0);
        out->project = oj_name(&r, d, p, "project", false);
        out->tenant = oj_name(&r, d, p, "tenant", false);
        out->deployment_id = oj_str(&r, d, p, "deployment_id", false);
        out->task_id = oj_str(&r, d, p, "task_id", false);
        out->web_link = oj_str(&r, d, p, "web_link", false);
        out->interruption_id = oj_str(&r, d, p, "interruption_id", false);
        out->task_queued_ms = oj_time(&r, d, p, "task_queued", 0);
        out->task_started_ms = oj_time(&r, d, p, "task_started", 0);
        out->task_completed_ms = oj_time(&r, d, p, "task_completed", 0);
        out->octopus_throttled = oj_bool(&r, d, p, "octopus_throttled", false);
        out->message = oj_str(&r, d, p, "message", false);
        out->by = oj_text(&r, d, p, "by", false, OF_BY_MAX, true);
        oj_id(&r, d, p, "command_id", false, out->command_id);
        json_t *jobs = json_object_get(d, "jobs");
        if (!r.rc && jobs && !json_is_null(jobs)) {
            if (!json_is_array(jobs)) {
                oj_fail(&r, OF_ERR_INVALID, "data.jobs: must be an array");
            } else if (json_array_size(jobs)) {
                size_t n = json_array_size(jobs);
                out->jobs = calloc(n, sizeof *out->jobs);
                if (!out->jobs)
                    oj_fail(&r, OF_ERR_NOMEM, "out of memory");
                else
                    out->n_jobs = n;
                for (size_t i = 0; !r.rc && i < n; i++) {
                    char jp[48];
                    (void)snprintf(jp, sizeof jp, "data.jobs[%zu]", i);
                    job_ref_from_json(&r, json_array_get(jobs, i), jp, &out->jobs[i]);
                }
            }
        }
        oj_str_list(&r, d, p, "errors", &out->errors, &out->n_errors);
        json_t *c = json_object_get(d, "counts");
        if (!r.rc && c && !json_is_null(c)) {
            if (!json_is_object(c)) {
                oj_fail(&r, OF_ERR_INVALID, "data.counts: must be an object");
            } else {
                const char *cp = "data.counts.";
                out->n_total = (int)oj_int(&r, c, cp, "total", false, 0, INT32_MAX, 0);
                out->n_succeeded = (int)oj_int(&r, c, cp, "succeeded", false, 0, INT32_MAX, 0);
                out->n_failed = (int)oj_int(&r, c, cp, "failed", false, 0, INT32_MAX, 0);
                out->n_skipped = (int)oj_int(&r, c, cp, "skipped", false, 0, INT32_MAX, 0);
            }
        }
    }
    return DECODE_END(r, root, of_event_clear, out);
}

/* ---------------------------------------------------------------------------------- */
/* commands */

of_err of_command_encode(const of_command *cmd, char **out)
{
    *out = NULL;
    if ((int)cmd->type < 0 || cmd->type >= OF_CMD__COUNT) return OF_ERR_INVALID;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set(root, "schema", json_string(OF_SCHEMA_COMMAND), &bad);
    oj_set(root, "type", json_string(of_cmd_type_name(cmd->type)), &bad);
    if (cmd->release_id[0]) oj_set_str(root, "release_id", cmd->release_id, &bad);
    oj_set_str(root, "by", cmd->by, &bad);
    oj_set_str(root, "reason", cmd->reason, &bad);
    oj_set_time(root, "time", cmd->time_ms, &bad);
    if (cmd->command_id[0]) oj_set_str(root, "command_id", cmd->command_id, &bad);
    if (cmd->type == OF_CMD_SUBMIT && cmd->request_json) {
        json_error_t jerr;
        json_t *req = json_loads(cmd->request_json, 0, &jerr);
        if (!req) {
            json_decref(root);
            return OF_ERR_INVALID;
        }
        oj_set(root, "request", req, &bad);
    }
    if (cmd->type == OF_CMD_APPROVE || cmd->type == OF_CMD_GUIDE)
        oj_set_int(root, "stage", cmd->stage, &bad);
    if (cmd->type == OF_CMD_GUIDE)
        oj_set(root, "action", json_string(of_guidance_name(cmd->guidance)), &bad);
    if (cmd->type == OF_CMD_REPLAY) {
        oj_set_int(root, "stage", cmd->stage, &bad);
        oj_set_bool(root, "all", cmd->all, &bad);
        if (cmd->quarantined) oj_set_bool(root, "quarantined", true, &bad);
    }
    if (cmd->type == OF_CMD_REPLAY || cmd->type == OF_CMD_GUIDE) {
        if (cmd->n_tenants || cmd->n_projects || cmd->n_environments) {
            json_t *f = json_object();
            if (!f) bad = true;
            if (f && cmd->n_tenants)
                oj_set(f, "tenants", oj_str_array(cmd->tenants, cmd->n_tenants, &bad), &bad);
            if (f && cmd->n_projects)
                oj_set(f, "projects", oj_str_array(cmd->projects, cmd->n_projects, &bad), &bad);
            if (f && cmd->n_environments)
                oj_set(f, "environments",
                       oj_str_array(cmd->environments, cmd->n_environments, &bad), &bad);
            oj_set(root, "filters", f, &bad);
        }
    }
    if (cmd->type == OF_CMD_ABORT) oj_set_bool(root, "cancel_running", cmd->cancel_running, &bad);
    return oj_dump(root, bad, out);
}

of_err of_command_decode(const char *data, size_t len, of_command *out, char *errstr,
                         size_t errstr_size)
{
    json_t *root;
    oj_reader r;
    of_err rc = decode_begin(data, len, out, sizeof *out, OF_SCHEMA_COMMAND, &root, &r, errstr,
                             errstr_size);
    if (rc) return rc;
    char *type = oj_str(&r, root, "", "type", true);
    if (type && of_cmd_type_parse(type, &out->type) != 0)
        oj_fail(&r, OF_ERR_INVALID, "type: unknown \"%s\"", type);
    free(type);
    oj_id(&r, root, "", "release_id", !r.rc && out->type != OF_CMD_SUBMIT, out->release_id);
    out->by = oj_text(&r, root, "", "by", true, OF_BY_MAX, true);
    out->reason = oj_text(&r, root, "", "reason", false, OF_REASON_MAX, false);
    out->time_ms = oj_time(&r, root, "", "time", 0);
    oj_id(&r, root, "", "command_id", false, out->command_id);
    if (!r.rc && out->type == OF_CMD_SUBMIT) {
        json_t *req = json_object_get(root, "request");
        if (!json_is_object(req)) {
            oj_fail(&r, OF_ERR_INVALID, "request: missing or not an object");
        } else {
            out->request_json = json_dumps(req, JSON_COMPACT);
            if (!out->request_json) oj_fail(&r, OF_ERR_NOMEM, "out of memory");
        }
    }
    if (!r.rc && out->type == OF_CMD_REPLAY) {
        out->stage = (int)oj_int(&r, root, "", "stage", false, 0, 10000, 0);
        out->all = oj_bool(&r, root, "", "all", false);
        out->quarantined = oj_bool(&r, root, "", "quarantined", false);
    }
    if (!r.rc && out->type == OF_CMD_GUIDE) {
        out->stage = (int)oj_int(&r, root, "", "stage", true, 1, 10000, 0);
        char *act = oj_str(&r, root, "", "action", true);
        if (act && of_guidance_parse(act, &out->guidance) != 0)
            oj_fail(&r, OF_ERR_INVALID, "action: unknown \"%s\" (retry, ignore or abort)", act);
        free(act);
    }
    if (!r.rc && (out->type == OF_CMD_REPLAY || out->type == OF_CMD_GUIDE)) {
        json_t *f = json_object_get(root, "filters");
        if (f && !json_is_null(f)) {
            if (!json_is_object(f)) {
                oj_fail(&r, OF_ERR_INVALID, "filters: must be an object");
            } else {
                oj_str_list(&r, f, "filters.", "tenants", &out->tenants, &out->n_tenants);
                oj_str_list(&r, f, "filters.", "projects", &out->projects, &out->n_projects);
                oj_str_list(&r, f, "filters.", "environments", &out->environments,
                            &out->n_environments);
            }
        }
    }
    if (!r.rc && out->type == OF_CMD_ABORT)
        out->cancel_running = oj_bool(&r, root, "", "cancel_running", false);
    if (!r.rc && out->type == OF_CMD_APPROVE)
        out->stage = (int)oj_int(&r, root, "", "stage", true, 0, 10000, 0);
    return DECODE_END(r, root, of_command_clear, out);
}

of_err of_command_check(const of_command *cmd, char *errstr, size_t errstr_size)
{
    of_err rc = of_check_text("by", cmd->by, OF_BY_MAX, true, errstr, errstr_size);
    if (!rc) rc = of_check_text("reason", cmd->reason, OF_REASON_MAX, false, errstr, errstr_size);
    char *const *lists[3] = {cmd->tenants, cmd->projects, cmd->environments};
    size_t ns[3] = {cmd->n_tenants, cmd->n_projects, cmd->n_environments};
    static const char *const what[3] = {"filters.tenants", "filters.projects",
                                        "filters.environments"};
    for (size_t l = 0; !rc && l < 3; l++) {
        if (ns[l] > OF_LIST_MAX)
            rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID, "%s: more than %d entries", what[l],
                           OF_LIST_MAX);
        for (size_t i = 0; !rc && i < ns[l]; i++)
            rc = of_check_text(what[l], lists[l][i], OF_TEXT_MAX, false, errstr, errstr_size);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* state records */

char *of_release_record_key(const char *release_id, char *out, size_t out_size)
{
    (void)snprintf(out, out_size, "release/%s", release_id);
    return out;
}

char *of_job_record_key(const char *release_id, const char *job_id, char *out, size_t out_size)
{
    (void)snprintf(out, out_size, "job/%s/%s", release_id, job_id);
    return out;
}

/* "approvals": the ones given, [{"stage": 0 (the release) or N, "by", "reason", "time"}];
 * absent when none. */
static void approvals_json(json_t *root, const of_release_record *rr, bool *bad)
{
    if (!rr->approvals) return;
    json_t *a = json_array();
    if (!a) *bad = true;
    for (int s = 0; a && s <= rr->stage_count; s++) {
        const of_approval *ap = &rr->approvals[s];
        if (!ap->by) continue;
        json_t *o = json_object();
        if (!o) *bad = true;
        if (o) {
            oj_set_int(o, "stage", s, bad);
            oj_set_str(o, "by", ap->by, bad);
            oj_set_str(o, "reason", ap->reason, bad);
            oj_set_time(o, "time", ap->time_ms, bad);
        }
        oj_append(a, o, bad);
    }
    if (a && json_array_size(a))
        oj_set(root, "approvals", a, bad);
    else
        json_decref(a);
}

of_err of_release_record_encode(const of_release_record *rr, char **out)
{
    *out = NULL;
    if (rr->stage_count < 0) return OF_ERR_INVALID;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set(root, "schema", json_string(OF_SCHEMA_RELEASE), &bad);
    oj_set_str(root, "release_id", rr->release_id, &bad);
    oj_set_str(root, "release", rr->release_name, &bad);
    oj_set(root, "space", oj_ref(&rr->space, "name", &bad), &bad);
    oj_set(root, "status", json_string(of_release_status_name(rr->status)), &bad);
    oj_set_int(root, "round", rr->round, &bad);
    oj_set_int(root, "stage_count", rr->stage_count, &bad);
    size_t sc = (size_t)rr->stage_count;
    json_t *names = json_array();
    if (!names) bad = true;
    for (size_t i = 0; names && i < sc; i++)
        oj_append(names,
                  rr->stage_names && rr->stage_names[i] ? json_string(rr->stage_names[i])
                                                        : json_null(),
                  &bad);
    oj_set(root, "stage_names", names, &bad);
    json_t *envs = json_array();
    if (!envs) bad = true;
    for (size_t i = 0; envs && i < rr->n_environments; i++)
        oj_append(envs, oj_ref(&rr->environments[i], "name", &bad), &bad);
    oj_set(root, "environments", envs, &bad);
    /* stage_status[stage][env]: compact names; 10 stages x 10 environments stays tiny. */
    json_t *ss = json_array();
    if (!ss) bad = true;
    for (size_t s = 0; ss && s < sc; s++) {
        json_t *row = json_array();
        if (!row) {
            bad = true;
            break;
        }
        for (size_t e = 0; e < rr->n_environments; e++) {
            of_stage_status st =
                rr->stage_status ? rr->stage_status[s * rr->n_environments + e] : OF_STAGE_PENDING;
            oj_append(row, json_string(of_stage_status_name(st)), &bad);
        }
        oj_append(ss, row, &bad);
    }
    oj_set(root, "stage_status", ss, &bad);
    oj_set_int(root, "n_jobs", (int64_t)rr->n_jobs, &bad);
    json_t *counts = json_object();
    if (!counts) bad = true;
    for (int i = 0; counts && i < OF_JOB_STATUS__COUNT; i++)
        if (rr->counts[i])
            oj_set_int(counts, of_job_status_name((of_job_status)i), (int64_t)rr->counts[i], &bad);
    oj_set(root, "counts", counts, &bad);
    oj_set_time(root, "updated", rr->updated_ms, &bad);
    if (rr->evicted_ms) oj_set_time(root, "evicted", rr->evicted_ms, &bad);
    oj_set_str(root, "by", rr->by, &bad);
    oj_set_str(root, "reason", rr->reason, &bad);
    oj_set_str(root, "held", rr->held, &bad);
    approvals_json(root, rr, &bad);
    if (rr->request_json) {
        json_error_t jerr;
        json_t *req = json_loads(rr->request_json, 0, &jerr);
        if (!req) {
            json_decref(root);
            return OF_ERR_INVALID;
        }
        oj_set(root, "request", req, &bad);
    }
    return oj_dump(root, bad, out);
}

of_err of_release_record_decode(const char *data, size_t len, of_release_record *out, char *errstr,
                                size_t errstr_size)
{
    json_t *root;
    oj_reader r;
    of_err rc = decode_begin(data, len, out, sizeof *out, OF_SCHEMA_RELEASE, &root, &r, errstr,
                             errstr_size);
    if (rc) return rc;
    oj_id(&r, root, "", "release_id", true, out->release_id);
    out->release_name = oj_str(&r, root, "", "release", false);
    oj_read_ref(&r, root, "", "space", false, NULL, &out->space);
    char *st = oj_str(&r, root, "", "status", true);
    if (st && of_release_status_parse(st, &out->status) != 0)
        oj_fail(&r, OF_ERR_INVALID, "status: unknown \"%s\"", st);
    free(st);
    out->round = (int)oj_int(&r, root, "", "round", false, 0, 1000000, 0);
    out->stage_count = (int)oj_int(&r, root, "", "stage_count", true, 1, 10000, 0);
    size_t sc = r.rc ? 0 : (size_t)out->stage_count;
    if (sc) {
        out->stage_names = calloc(sc, sizeof *out->stage_names);
        if (!out->stage_names) {
            oj_fail(&r, OF_ERR_NOMEM, "out of memory");
            out->stage_count = 0;
        }
    }
    json_t *names = json_object_get(root, "stage_names");
    if (!r.rc && json_is_array(names)) {
        for (size_t i = 0; i < sc && i < json_array_size(names); i++) {
            json_t *n = json_array_get(names, i);
            if (json_is_string(n)) {
                out->stage_names[i] = strdup(json_string_value(n));
                if (!out->stage_names[i]) oj_fail(&r, OF_ERR_NOMEM, "out of memory");
            }
        }
    }
    json_t *envs = json_object_get(root, "environments");
    if (!r.rc && (!json_is_array(envs) || json_array_size(envs) == 0))
        oj_fail(&r, OF_ERR_INVALID, "environments: must be a non-empty array");
    if (!r.rc) {
        size_t ne = json_array_size(envs);
        out->environments = calloc(ne, sizeof *out->environments);
        if (!out->environments)
            oj_fail(&r, OF_ERR_NOMEM, "out of memory");
        else
            out->n_environments = ne;
        for (size_t i = 0; !r.rc && i < ne; i++) {
            json_t *e = json_array_get(envs, i);
            char p[48];
            (void)snprintf(p, sizeof p, "environments[%zu].", i);
            if (!json_is_object(e)) {
                oj_fail(&r, OF_ERR_INVALID, "environments[%zu]: must be an object", i);
                break;
            }
            out->environments[i].id = oj_str(&r, e, p, "id", true);
            out->environments[i].name = oj_str(&r, e, p, "name", false);
        }
    }
    json_t *ss = json_object_get(root, "stage_status");
    if (!r.rc && (!json_is_array(ss) || json_array_size(ss) != sc))
        oj_fail(&r, OF_ERR_INVALID, "stage_status: must have stage_count rows");
    if (!r.rc) {
        out->stage_status = calloc(sc * out->n_environments, sizeof *out->stage_status);
        if (!out->stage_status) oj_fail(&r, OF_ERR_NOMEM, "out of memory");
        for (size_t s = 0; !r.rc && s < sc; s++) {
            json_t *row = json_array_get(ss, s);
            if (!json_is_array(row) || json_array_size(row) != out->n_environments) {
                oj_fail(&r, OF_ERR_INVALID,
                        "stage_status[%zu]: must have one entry per environment", s);
                break;
            }
            for (size_t e = 0; e < out->n_environments; e++) {
                json_t *v = json_array_get(row, e);
                if (!json_is_string(v) ||
                    of_stage_status_parse(json_string_value(v),
                                          &out->stage_status[s * out->n_environments + e]) != 0) {
                    oj_fail(&r, OF_ERR_INVALID, "stage_status[%zu][%zu]: unknown status", s, e);
                    break;
                }
            }
        }
    }
    out->n_jobs = (size_t)oj_int(&r, root, "", "n_jobs", false, 0, INT32_MAX, 0);
    json_t *counts = json_object_get(root, "counts");
    if (!r.rc && json_is_object(counts)) {
        for (int i = 0; i < OF_JOB_STATUS__COUNT; i++)
            out->counts[i] =
                (size_t)oj_int(&r, counts, "counts.", of_job_status_name((of_job_status)i), false,
                               0, INT32_MAX, 0);
    }
    out->updated_ms = oj_time(&r, root, "", "updated", 0);
    out->evicted_ms = oj_time(&r, root, "", "evicted", 0);
    out->by = oj_str(&r, root, "", "by", false);
    out->reason = oj_text(&r, root, "", "reason", false, OF_REASON_MAX, false);
    out->held = oj_text(&r, root, "", "held", false, OF_REASON_MAX, false);
    json_t *aps = json_object_get(root, "approvals");
    if (!r.rc && aps && !json_is_null(aps)) {
        if (!json_is_array(aps)) oj_fail(&r, OF_ERR_INVALID, "approvals: must be an array");
        if (!r.rc && !(out->approvals = calloc(sc + 1, sizeof *out->approvals)))
            oj_fail(&r, OF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !r.rc && i < json_array_size(aps); i++) {
            json_t *o = json_array_get(aps, i);
            char p[48];
            (void)snprintf(p, sizeof p, "approvals[%zu].", i);
            if (!json_is_object(o)) {
                oj_fail(&r, OF_ERR_INVALID, "approvals[%zu]: must be an object", i);
                break;
            }
            int64_t s = oj_int(&r, o, p, "stage", true, 0, (int64_t)sc, 0);
            if (r.rc) break;
            of_approval *ap = &out->approvals[s];
            free(ap->by);
            free(ap->reason);
            ap->by = oj_text(&r, o, p, "by", true, OF_BY_MAX, true);
            ap->reason = oj_text(&r, o, p, "reason", false, OF_REASON_MAX, false);
            ap->time_ms = oj_time(&r, o, p, "time", 0);
        }
    }
    json_t *req = json_object_get(root, "request");
    if (!r.rc && req && !json_is_null(req)) {
        if (!json_is_object(req)) {
            oj_fail(&r, OF_ERR_INVALID, "request: must be an object");
        } else {
            out->request_json = json_dumps(req, JSON_COMPACT);
            if (!out->request_json) oj_fail(&r, OF_ERR_NOMEM, "out of memory");
        }
    }
    return DECODE_END(r, root, of_release_record_clear, out);
}

of_err of_job_record_encode(const of_job_record *jr, char **out)
{
    oj_writer w;
    ojw_begin(&w);
    ojw_str(&w, "schema", OF_SCHEMA_JOBREC);
    ojw_str(&w, "status", of_job_status_name(jr->status));
    ojw_str(&w, "reason", jr->skip_reason);
    ojw_str(&w, "deployment_id", jr->deployment_id);
    ojw_str(&w, "task_id", jr->task_id);
    ojw_time(&w, "updated", jr->updated_ms);
    if (jr->held) ojw_bool(&w, "held", true);
    if (jr->window) ojw_int(&w, "window", jr->window);
    if (jr->quarantined) ojw_bool(&w, "quarantined", true);
    ojw_object(&w, "job");
    write_job(&w, &jr->job);
    ojw_end_object(&w);
    return ojw_finish(&w, out);
}

of_err of_job_record_decode(const char *data, size_t len, of_job_record *out, char *errstr,
                            size_t errstr_size)
{
    json_t *root;
    oj_reader r;
    of_err rc =
        decode_begin(data, len, out, sizeof *out, OF_SCHEMA_JOBREC, &root, &r, errstr, errstr_size);
    if (rc) return rc;
    char *st = oj_str(&r, root, "", "status", true);
    if (st && of_job_status_parse(st, &out->status) != 0)
        oj_fail(&r, OF_ERR_INVALID, "status: unknown \"%s\"", st);
    free(st);
    out->skip_reason = oj_str(&r, root, "", "reason", false);
    out->deployment_id = oj_str(&r, root, "", "deployment_id", false);
    out->task_id = oj_str(&r, root, "", "task_id", false);
    out->updated_ms = oj_time(&r, root, "", "updated", 0);
    out->held = oj_bool(&r, root, "", "held", false);
    out->window = (int)oj_int(&r, root, "", "window", false, 0, OF_WINDOWS_MAX, 0);
    out->quarantined = oj_bool(&r, root, "", "quarantined", false);
    json_t *job = json_object_get(root, "job");
    if (!r.rc && !json_is_object(job)) oj_fail(&r, OF_ERR_INVALID, "job: missing or not an object");
    if (!r.rc) job_from_json(&r, job, "job.", &out->job, false);
    return DECODE_END(r, root, of_job_record_clear, out);
}

/* ---------------------------------------------------------------------------------- */
/* plan view */

of_err of_plan_json_encode(const of_release_record *hdr, const of_job_record *jobs, size_t n_jobs,
                           const of_errlist *warnings, char **out)
{
    *out = NULL;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set_str(root, "release_id", hdr->release_id, &bad);
    oj_set_str(root, "release", hdr->release_name, &bad);
    oj_set(root, "space", oj_ref(&hdr->space, "name", &bad), &bad);
    oj_set_int(root, "stage_count", hdr->stage_count, &bad);
    size_t n_skip = 0;
    json_t *arr = json_array();
    if (!arr) bad = true;
    for (size_t i = 0; arr && i < n_jobs; i++) {
        const of_job_record *jr = &jobs[i];
        const of_job *j = &jr->job;
        if (jr->status == OF_JOB_SKIPPED) n_skip++;
        json_t *o = json_object();
        if (!o) {
            bad = true;
            break;
        }
        oj_set_str(o, "job_id", j->job_id, &bad);
        oj_set_int(o, "stage", j->stage, &bad);
        oj_set_str(o, "stage_name", j->stage_name, &bad);
        oj_set_str(o, "environment", j->environment.name, &bad);
        oj_set_str(o, "project", j->project.name, &bad);
        oj_set_str(o, "version", j->octo_release.name, &bad);
        oj_set_str(o, "octopus_release_id", j->octo_release.id, &bad);
        oj_set_str_or_null(o, "tenant", j->tenant.name, &bad);
        oj_set(o, "action", json_string(jr->status == OF_JOB_SKIPPED ? "skip" : "deploy"), &bad);
        oj_set_str(o, "reason", jr->skip_reason, &bad);
        if (jr->window) oj_set_int(o, "window", jr->window, &bad);
        oj_set_time(o, "starts_at", jr->starts_ms, &bad); /* its window's next opening */
        oj_append(arr, o, &bad);
    }
    oj_set(root, "jobs", arr, &bad);
    json_t *sum = json_object();
    if (sum) {
        oj_set_int(sum, "total", (int64_t)n_jobs, &bad);
        oj_set_int(sum, "deploy", (int64_t)(n_jobs - n_skip), &bad);
        oj_set_int(sum, "skip", (int64_t)n_skip, &bad);
    }
    oj_set(root, "summary", sum, &bad);
    json_t *w = json_array();
    if (!w) bad = true;
    for (size_t i = 0; w && warnings && i < warnings->n; i++)
        oj_append(w, json_string(warnings->items[i]), &bad);
    oj_set(root, "warnings", w, &bad);
    return oj_dump(root, bad, out);
}

/* ---------------------------------------------------------------------------------- */
/* list view */

of_err of_list_json_encode(const of_release_record *r, char **out)
{
    *out = NULL;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set_str(root, "release", r->release_name, &bad);
    oj_set_str(root, "release_id", r->release_id, &bad);
    oj_set_str(root, "status", of_release_status_name(r->status), &bad);
    oj_set_int(root, "round", r->round, &bad);
    oj_set_int(root, "jobs", (int64_t)r->n_jobs, &bad);
    json_t *c = json_object();
    if (!c) bad = true;
    for (int s = 0; c && s < OF_JOB_STATUS__COUNT; s++)
        if (r->counts[s])
            oj_set_int(c, of_job_status_name((of_job_status)s), (int64_t)r->counts[s], &bad);
    oj_set(root, "counts", c, &bad);
    oj_set_time(root, "updated", r->updated_ms, &bad);
    oj_set_str(root, "by", r->by, &bad);
    return oj_dump(root, bad, out);
}

/* ---------------------------------------------------------------------------------- */
/* status view */

of_err of_status_json_encode(const of_release_record *hdr, const of_job_record *jobs, size_t n_jobs,
                             char **out)
{
    *out = NULL;
    bool bad = false;
    json_t *root = json_object();
    if (!root) return OF_ERR_NOMEM;
    oj_set_str(root, "release_id", hdr->release_id, &bad);
    oj_set_str(root, "release", hdr->release_name, &bad);
    oj_set(root, "space", oj_ref(&hdr->space, "name", &bad), &bad);
    oj_set_str(root, "status", of_release_status_name(hdr->status), &bad);
    oj_set_int(root, "round", hdr->round, &bad);
    oj_set_str(root, "by", hdr->by, &bad);
    oj_set_str(root, "reason", hdr->reason, &bad);
    oj_set_str(root, "held", hdr->held, &bad);
    approvals_json(root, hdr, &bad);
    oj_set_time(root, "updated", hdr->updated_ms, &bad);
    if (hdr->evicted_ms) {
        /* an evicted release's marker: no job records are left, its counts are the record's */
        oj_set_time(root, "evicted", hdr->evicted_ms, &bad);
        oj_set_int(root, "n_jobs", (int64_t)hdr->n_jobs, &bad);
        json_t *counts = json_object();
        if (!counts) bad = true;
        for (int i = 0; counts && i < OF_JOB_STATUS__COUNT; i++)
            if (hdr->counts[i])
                oj_set_int(counts, of_job_status_name((of_job_status)i), (int64_t)hdr->counts[i],
                           &bad);
        oj_set(root, "counts", counts, &bad);
    }

    json_t *stages = json_array();
    if (!stages) bad = true;
    for (int st = 1; stages && st <= hdr->stage_count; st++) {
        for (size_t e = 0; e < hdr->n_environments; e++) {
            json_t *o = json_object();
            if (!o) {
                bad = true;
                break;
            }
            size_t counts[OF_JOB_STATUS__COUNT] = {0};
            size_t total = 0;
            for (size_t i = 0; i < n_jobs; i++) {
                const of_job *j = &jobs[i].job;
                if (j->stage != st || !j->environment.name || !hdr->environments[e].name ||
                    strcmp(j->environment.name, hdr->environments[e].name) != 0)
                    continue;
                counts[jobs[i].status]++;
                total++;
            }
            oj_set_int(o, "stage", st, &bad);
            if (hdr->stage_names) oj_set_str(o, "name", hdr->stage_names[st - 1], &bad);
            oj_set_str(o, "environment", hdr->environments[e].name, &bad);
            size_t k = (size_t)(st - 1) * hdr->n_environments + e;
            oj_set_str(o, "status", of_stage_status_name(hdr->stage_status[k]), &bad);
            oj_set_int(o, "jobs", (int64_t)total, &bad);
            json_t *c = json_object();
            for (int s = 0; c && s < OF_JOB_STATUS__COUNT; s++)
                if (counts[s])
                    oj_set_int(c, of_job_status_name((of_job_status)s), (int64_t)counts[s], &bad);
            oj_set(o, "counts", c, &bad);
            oj_append(stages, o, &bad);
        }
    }
    oj_set(root, "stages", stages, &bad);

    json_t *arr = json_array();
    if (!arr) bad = true;
    for (size_t i = 0; arr && i < n_jobs; i++) {
        const of_job_record *jr = &jobs[i];
        const of_job *j = &jr->job;
        json_t *o = json_object();
        if (!o) {
            bad = true;
            break;
        }
        oj_set_str(o, "job_id", j->job_id, &bad);
        oj_set_int(o, "stage", j->stage, &bad);
        oj_set_str(o, "environment", j->environment.name, &bad);
        oj_set_str(o, "project", j->project.name, &bad);
        oj_set_str(o, "version", j->octo_release.name, &bad);
        oj_set_str_or_null(o, "tenant", j->tenant.name, &bad);
        oj_set_str(o, "status", of_job_status_name(jr->status), &bad);
        if (jr->held) oj_set_bool(o, "held", true, &bad); /* decided, waiting for the budget */
        if (jr->window) oj_set_int(o, "window", jr->window, &bad);
        oj_set_time(o, "starts_at", jr->starts_ms, &bad); /* waiting for its window */
        if (jr->quarantined) oj_set_bool(o, "quarantined", true, &bad);
        oj_set_int(o, "attempt", j->attempt, &bad);
        oj_set_str(o, "message", jr->skip_reason, &bad);
        oj_set_str(o, "deployment_id", jr->deployment_id, &bad);
        oj_set_str(o, "task_id", jr->task_id, &bad);
        oj_append(arr, o, &bad);
    }
    oj_set(root, "jobs", arr, &bad);
    return oj_dump(root, bad, out);
}
