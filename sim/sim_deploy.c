/* /api deployments, tasks and interruptions: POST deployments with
 * Octopus's validation (400 + Errors[]), listing with filters, the task
 * resource, details/raw logs, cancel, queued-behind, and minimal manual
 * intervention support. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "sim_int.h"

#define PROBLEM "There was a problem with your request."

static const char *sid_of(const ofsim *sim, int space)
{
    return sim->w.spaces[space].id;
}

static char *task_id(int i)
{
    return sim_strfmt("ServerTasks-%d", i + 1);
}

static char *dep_id(int i)
{
    return sim_strfmt("Deployments-%d", i + 1);
}

static json_t *jstr_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* ---- renderers ------------------------------------------------------------------ */

json_t *sim_render_deployment(ofsim *sim, int i)
{
    const sim_world *w = &sim->w;
    const sim_dep *d = &sim->deps[i];
    const char *sid = sid_of(sim, d->space);
    char *id = dep_id(i), *tid = task_id(i);
    json_t *links = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o}", "Self",
        jstr_take(sim_strfmt("/api/%s/deployments/%s", sid, id)), "Task",
        jstr_take(sim_strfmt("/api/tasks/%s", tid)), "Web",
        jstr_take(sim_strfmt("/app#/%s/deployments/%s", sid, id)), "Release",
        jstr_take(sim_strfmt("/api/%s/releases/%s", sid, w->releases[d->release].id)), "Project",
        jstr_take(sim_strfmt("/api/%s/projects/%s", sid, w->projects[d->project].id)),
        "Environment", jstr_take(sim_strfmt("/api/%s/environments/%s", sid, w->envs[d->env].id)));
    json_object_set_new(links, "Interruptions",
                        jstr_take(sim_strfmt("/api/%s/interruptions?regarding=%s", sid, id)));
    json_t *j = json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:b, "
        "s:b, s:[], s:[], s:[], s:O, s:o, s:o, s:o}",
        "Id", id, "Name", jstr_take(sim_strfmt("Deploy to %s", w->envs[d->env].name)), "SpaceId",
        sid, "ProjectId", w->projects[d->project].id, "ReleaseId", w->releases[d->release].id,
        "ChannelId", w->channels[d->channel].id, "EnvironmentId", w->envs[d->env].id, "TenantId",
        d->tenant >= 0 ? json_string(w->tenants[d->tenant].id) : json_null(), "TaskId", tid,
        "DeploymentProcessId",
        jstr_take(sim_strfmt("deploymentprocess-%s", w->projects[d->project].id)),
        "ManifestVariableSetId", jstr_take(sim_strfmt("variableset-%s", id)), "Created",
        sim_json_time(d->created), "Comments", sim_json_str(d->comments), "UseGuidedFailure",
        d->guided == 1, "FailureEncountered", d->state == SIM_FAILED, "ForcePackageDownload", 0,
        "ForcePackageRedeployment", 0, "SkipActions", "SpecificMachineIds", "ExcludedMachineIds",
        "FormValues", d->form_values, "QueueTime", sim_json_time(d->req_queue_time),
        "QueueTimeExpiry", sim_json_time(d->req_expiry), "Links", links);
    OF_ASSERT(j);
    /* the rest of a real DeploymentResource: nothing the simulator models */
    json_t *rest =
        json_pack("{s:[], s:n, s:s, s:s, s:s, s:[], s:n, s:n, s:{s:[]}}", "Changes",
                  "ChangesMarkdown", "Priority", "LifecycleDefault", "DeployedBy", "octofleet-sim",
                  "DeployedById", "Users-1", "DeployedToMachineIds", "TentacleRetentionPeriod",
                  "ChangeRequestSettings", "ExecutionPlanLogContext", "Steps");
    OF_ASSERT(rest);
    json_object_update(j, rest);
    json_decref(rest);
    free(id);
    free(tid);
    return j;
}

static void duration_text(int64_t ms, char *out, size_t size)
{
    int64_t s = ms / 1000;
    if (ms < 1000)
        snprintf(out, size, "less than a second");
    else if (s < 60)
        snprintf(out, size, "%lld second%s", (long long)s, s == 1 ? "" : "s");
    else if (s < 3600)
        snprintf(out, size, "%lld minute%s", (long long)(s / 60), s < 120 ? "" : "s");
    else
        snprintf(out, size, "%lld hours", (long long)(s / 3600));
}

/* The task's Duration as sim_render_task writes it: it runs on with the clock until the task
 * completes. */
static void task_duration(const ofsim *sim, const sim_dep *d, char *out, size_t size)
{
    int64_t end = d->completed ? d->completed : sim_now(sim);
    duration_text(d->start ? end - d->start : 0, out, size);
}

static const char *task_error(const sim_dep *d)
{
    switch (d->state) {
    case SIM_FAILED:
        return d->error;
    case SIM_CANCELED:
        return "The task was canceled.";
    case SIM_TIMEDOUT:
        return "The task was not started before its QueueTimeExpiry and timed out.";
    default:
        return "";
    }
}

static char *task_description(const ofsim *sim, const sim_dep *d)
{
    const sim_world *w = &sim->w;
    if (d->tenant >= 0)
        return sim_strfmt("Deploy %s release %s to %s for %s", w->projects[d->project].name,
                          w->releases[d->release].version, w->envs[d->env].name,
                          w->tenants[d->tenant].name);
    return sim_strfmt("Deploy %s release %s to %s", w->projects[d->project].name,
                      w->releases[d->release].version, w->envs[d->env].name);
}

json_t *sim_render_task(ofsim *sim, int i)
{
    const sim_dep *d = &sim->deps[i];
    const char *sid = sid_of(sim, d->space);
    char *id = task_id(i);
    bool done = sim_tstate_done(d->state);
    char duration[48];
    task_duration(sim, d, duration, sizeof duration);
    json_t *links = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "Self", jstr_take(sim_strfmt("/api/tasks/%s", id)),
        "Details", jstr_take(sim_strfmt("/api/tasks/%s/details{?verbose,tail}", id)),
        "Interruptions", jstr_take(sim_strfmt("/api/%s/interruptions?regarding=%s", sid, id)),
        "Raw", jstr_take(sim_strfmt("/api/tasks/%s/raw", id)), "Cancel",
        jstr_take(sim_strfmt("/api/tasks/%s/cancel", id)), "QueuedBehind",
        jstr_take(sim_strfmt("/api/tasks/%s/queued-behind{?skip,take}", id)), "Web",
        jstr_take(sim_strfmt("/app#/%s/tasks/%s", sid, id)));
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:{s:o}, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, "
        "s:b, s:b, s:b, s:b, s:o, s:b, s:b, s:b, s:i, s:o}",
        "Id", id, "SpaceId", sid, "Name", "Deploy", "Description",
        jstr_take(task_description(sim, d)), "Arguments", "DeploymentId", jstr_take(dep_id(i)),
        "ProjectId", sim->w.projects[d->project].id, "State", sim_tstate_name(d->state),
        "Completed",
        done ? sim_json_time(d->completed ? d->completed : d->updated)
             : json_string(d->state == SIM_QUEUED ? "Queued..." : "Executing..."),
        "QueueTime", sim_json_time(d->queue_time), "QueueTimeExpiry", sim_json_time(d->req_expiry),
        "StartTime", sim_json_time(d->start), "CompletedTime", sim_json_time(d->completed),
        "LastUpdatedTime", sim_json_time(d->updated), "Duration", json_string(duration),
        "ErrorMessage", task_error(d), "ServerNode", "OCTOSIM-1", "IsCompleted", done,
        "FinishedSuccessfully", d->state == SIM_SUCCESS, "HasBeenPickedUpByProcessor", d->start > 0,
        "HasPendingInterruptions", d->held, "PendingInterruptionTypes",
        d->held ? json_pack("[s]", d->guided_held ? "GuidedFailure" : "ManualIntervention")
                : json_array(),
        "HasPendingPreconditions", 0, "HasWarningsOrErrors", d->state == SIM_FAILED, "CanRerun",
        done, "EstimatedRemainingQueueDurationSeconds", 0, "Links", links);
    OF_ASSERT(j);
    free(id);
    return j;
}

/* sim_render_task's bytes, written straight: a task is rendered again at every change a poll
 * sees, and jansson's tree and dump cost ~20 µs of it. The simulator's own tests serve every
 * reply with OCTOPUS_SIM_CHECK_TEXTS=1, which compares this text with sim_render_task's. */
static void put(of_buf *b, const char *s)
{
    OF_ASSERT(of_buf_puts(b, s) == OF_OK);
}

static void put_time(of_buf *b, int64_t wall_ms)
{
    char t[48];
    if (wall_ms <= 0) {
        put(b, "null");
        return;
    }
    sim_fmt_time(wall_ms, t, sizeof t);
    sim_json_put_str(b, t);
}

static void put_field(of_buf *b, const char *key, const char *value) /* a string field */
{
    put(b, key);
    sim_json_put_str(b, value);
}

static void put_bool(of_buf *b, const char *key, bool v)
{
    put(b, key);
    put(b, v ? "true" : "false");
}

static void put_link(of_buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_link(of_buf *b, const char *key, const char *fmt, ...)
{
    char href[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(href, sizeof href, fmt, ap);
    va_end(ap);
    put_field(b, key, href);
}

static char *write_task(ofsim *sim, int i)
{
    const sim_dep *d = &sim->deps[i];
    const sim_world *w = &sim->w;
    const char *sid = sid_of(sim, d->space);
    bool done = sim_tstate_done(d->state);
    char id[32], dep[32], duration[48];
    snprintf(id, sizeof id, "ServerTasks-%d", i + 1);
    snprintf(dep, sizeof dep, "Deployments-%d", i + 1);
    task_duration(sim, d, duration, sizeof duration);
    char *desc = task_description(sim, d);
    of_buf b;
    of_buf_init(&b, SIM_MAX_BODY);
    put_field(&b, "{\"Id\":", id);
    put_field(&b, ",\"SpaceId\":", sid);
    put(&b, ",\"Name\":\"Deploy\"");
    put_field(&b, ",\"Description\":", desc);
    put_field(&b, ",\"Arguments\":{\"DeploymentId\":", dep);
    put_field(&b, "},\"ProjectId\":", w->projects[d->project].id);
    put_field(&b, ",\"State\":", sim_tstate_name(d->state));
    put(&b, ",\"Completed\":");
    if (done)
        put_time(&b, d->completed ? d->completed : d->updated);
    else
        sim_json_put_str(&b, d->state == SIM_QUEUED ? "Queued..." : "Executing...");
    put(&b, ",\"QueueTime\":");
    put_time(&b, d->queue_time);
    put(&b, ",\"QueueTimeExpiry\":");
    put_time(&b, d->req_expiry);
    put(&b, ",\"StartTime\":");
    put_time(&b, d->start);
    put(&b, ",\"CompletedTime\":");
    put_time(&b, d->completed);
    put(&b, ",\"LastUpdatedTime\":");
    put_time(&b, d->updated);
    put_field(&b, ",\"Duration\":", duration);
    put_field(&b, ",\"ErrorMessage\":", task_error(d));
    put(&b, ",\"ServerNode\":\"OCTOSIM-1\"");
    put_bool(&b, ",\"IsCompleted\":", done);
    put_bool(&b, ",\"FinishedSuccessfully\":", d->state == SIM_SUCCESS);
    put_bool(&b, ",\"HasBeenPickedUpByProcessor\":", d->start > 0);
    put_bool(&b, ",\"HasPendingInterruptions\":", d->held);
    put(&b, !d->held         ? ",\"PendingInterruptionTypes\":[]"
            : d->guided_held ? ",\"PendingInterruptionTypes\":[\"GuidedFailure\"]"
                             : ",\"PendingInterruptionTypes\":[\"ManualIntervention\"]");
    put(&b, ",\"HasPendingPreconditions\":false");
    put_bool(&b, ",\"HasWarningsOrErrors\":", d->state == SIM_FAILED);
    put_bool(&b, ",\"CanRerun\":", done);
    put(&b, ",\"EstimatedRemainingQueueDurationSeconds\":0");
    put_link(&b, ",\"Links\":{\"Self\":", "/api/tasks/%s", id);
    put_link(&b, ",\"Details\":", "/api/tasks/%s/details{?verbose,tail}", id);
    put_link(&b, ",\"Interruptions\":", "/api/%s/interruptions?regarding=%s", sid, id);
    put_link(&b, ",\"Raw\":", "/api/tasks/%s/raw", id);
    put_link(&b, ",\"Cancel\":", "/api/tasks/%s/cancel", id);
    put_link(&b, ",\"QueuedBehind\":", "/api/tasks/%s/queued-behind{?skip,take}", id);
    put_link(&b, ",\"Web\":", "/app#/%s/tasks/%s", sid, id);
    put(&b, "}}");
    free(desc);
    char *text = of_buf_detach(&b);
    OF_ASSERT(text);
    return text;
}

/* sim_render_deployment's bytes, written straight (the create reply and look-ups). */
static char *write_deployment(ofsim *sim, int i)
{
    const sim_world *w = &sim->w;
    const sim_dep *d = &sim->deps[i];
    const char *sid = sid_of(sim, d->space);
    const char *pid = w->projects[d->project].id, *rid = w->releases[d->release].id;
    const char *eid = w->envs[d->env].id;
    char id[32], tid[32], text[512];
    snprintf(id, sizeof id, "Deployments-%d", i + 1);
    snprintf(tid, sizeof tid, "ServerTasks-%d", i + 1);
    of_buf b;
    of_buf_init(&b, SIM_MAX_BODY);
    put_field(&b, "{\"Id\":", id);
    snprintf(text, sizeof text, "Deploy to %s", w->envs[d->env].name);
    put_field(&b, ",\"Name\":", text);
    put_field(&b, ",\"SpaceId\":", sid);
    put_field(&b, ",\"ProjectId\":", pid);
    put_field(&b, ",\"ReleaseId\":", rid);
    put_field(&b, ",\"ChannelId\":", w->channels[d->channel].id);
    put_field(&b, ",\"EnvironmentId\":", eid);
    if (d->tenant >= 0)
        put_field(&b, ",\"TenantId\":", w->tenants[d->tenant].id);
    else
        put(&b, ",\"TenantId\":null");
    put_field(&b, ",\"TaskId\":", tid);
    put_link(&b, ",\"DeploymentProcessId\":", "deploymentprocess-%s", pid);
    put_link(&b, ",\"ManifestVariableSetId\":", "variableset-%s", id);
    put(&b, ",\"Created\":");
    put_time(&b, d->created);
    if (d->comments)
        put_field(&b, ",\"Comments\":", d->comments);
    else
        put(&b, ",\"Comments\":null");
    put_bool(&b, ",\"UseGuidedFailure\":", d->guided == 1);
    put_bool(&b, ",\"FailureEncountered\":", d->state == SIM_FAILED);
    put(&b, ",\"ForcePackageDownload\":false,\"ForcePackageRedeployment\":false,\"SkipActions\":[]"
            ",\"SpecificMachineIds\":[],\"ExcludedMachineIds\":[],\"FormValues\":");
    char *form = json_dumps(d->form_values, JSON_COMPACT | JSON_ENCODE_ANY);
    OF_ASSERT(form);
    put(&b, form);
    free(form);
    put(&b, ",\"QueueTime\":");
    put_time(&b, d->req_queue_time);
    put(&b, ",\"QueueTimeExpiry\":");
    put_time(&b, d->req_expiry);
    put_link(&b, ",\"Links\":{\"Self\":", "/api/%s/deployments/%s", sid, id);
    put_link(&b, ",\"Task\":", "/api/tasks/%s", tid);
    put_link(&b, ",\"Web\":", "/app#/%s/deployments/%s", sid, id);
    put_link(&b, ",\"Release\":", "/api/%s/releases/%s", sid, rid);
    put_link(&b, ",\"Project\":", "/api/%s/projects/%s", sid, pid);
    put_link(&b, ",\"Environment\":", "/api/%s/environments/%s", sid, eid);
    put_link(&b, ",\"Interruptions\":", "/api/%s/interruptions?regarding=%s", sid, id);
    put(&b, "},\"Changes\":[],\"ChangesMarkdown\":null,\"Priority\":\"LifecycleDefault\","
            "\"DeployedBy\":\"octofleet-sim\",\"DeployedById\":\"Users-1\","
            "\"DeployedToMachineIds\":[],\"TentacleRetentionPeriod\":null,"
            "\"ChangeRequestSettings\":null,\"ExecutionPlanLogContext\":{\"Steps\":[]}}");
    char *out = of_buf_detach(&b);
    OF_ASSERT(out);
    return out;
}

/* Everything mutable sim_render_task reads: the state (and with it ErrorMessage: a task's error
 * changes only before it fails), the times, the pending interruption and the running Duration. The
 * rest (ids, names, the world) never changes while the deployment exists. */
const sim_text *sim_task_text(ofsim *sim, int i)
{
    sim_dep *d = &sim->deps[i];
    char duration[48], stamp[sizeof d->task_text.stamp];
    task_duration(sim, d, duration, sizeof duration);
    snprintf(stamp, sizeof stamp, "%d %lld %lld %lld %lld %d %s", (int)d->state,
             (long long)d->start, (long long)d->completed, (long long)d->updated,
             (long long)d->queue_time, (int)d->held, duration);
    return sim_text_get(sim, &d->task_text, stamp, sim_render_task, write_task, i);
}

/* A deployment changes only in FailureEncountered. */
const sim_text *sim_deployment_text(ofsim *sim, int i)
{
    sim_dep *d = &sim->deps[i];
    return sim_text_get(sim, &d->dep_text, d->state == SIM_FAILED ? "failed" : "",
                        sim_render_deployment, write_deployment, i);
}

/* ---- helpers ----------------------------------------------------------------------- */

/* Octopus binds request JSON case-insensitively. */
static json_t *jget(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v) return v;
    const char *k;
    json_object_foreach(obj, k, v) if (strcasecmp(k, key) == 0) return v;
    return NULL;
}

/* Reads an optional string field; false (and an Errors line) on a wrong type. */
static bool opt_string(json_t *body, const char *key, const char **out, json_t *errs)
{
    json_t *v = jget(body, key);
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    if (!json_is_string(v)) {
        json_array_append_new(errs, jstr_take(sim_strfmt("%s must be a string.", key)));
        return false;
    }
    *out = json_string_value(v);
    if (!**out) *out = NULL;
    return true;
}

static bool opt_time(json_t *body, const char *key, int64_t *out, json_t *errs)
{
    const char *s;
    *out = 0;
    if (!opt_string(body, key, &s, errs)) return false;
    if (s && of_parse_rfc3339(s, out) != 0) {
        json_array_append_new(errs, jstr_take(sim_strfmt("%s is not a valid date: %s", key, s)));
        return false;
    }
    return true;
}

/* The task at seg[1], visible to this request; responds 404/403 otherwise. */
static int req_task(sim_req *r)
{
    int i = sim_task_index(r->sim, sim_seg(r, 1));
    if (i < 0 || (r->explicit_space && r->sim->deps[i].space != r->space)) {
        sim_reply_not_found(r);
        return -1;
    }
    if (!sim_key_allows(r->sim, r->api_key, r->sim->deps[i].space)) {
        sim_reply_error(r, 403, "You do not have permission to perform this action.", NULL);
        return -1;
    }
    return i;
}

/* ---- deployments --------------------------------------------------------------------- */

/* Appends to errs why release rel may not go to env for tenant (-1 =
 * untenanted) now: tenancy mode, tenant connections, lifecycle. */
static void check_target(const sim_world *w, int rel, int env, int tenant, json_t *errs)
{
    int pi = w->releases[rel].project;
    const sim_project *p = &w->projects[pi];
    const char *ename = w->envs[env].name;
    if (tenant >= 0 && p->tenancy == SIM_UNTENANTED) {
        json_array_append_new(errs, jstr_take(sim_strfmt("Project %s is not tenanted "
                                                         "(TenantedDeploymentMode is Untenanted); "
                                                         "remove the TenantId.",
                                                         p->name)));
        return;
    }
    if (tenant < 0 && p->tenancy == SIM_TENANTED) {
        json_array_append_new(errs, jstr_take(sim_strfmt("Project %s can only be deployed with a "
                                                         "tenant (TenantedDeploymentMode is "
                                                         "Tenanted).",
                                                         p->name)));
        return;
    }
    if (tenant >= 0) {
        const sim_tenant *t = &w->tenants[tenant];
        char *msg = NULL;
        if (t->disabled)
            msg = sim_strfmt("Tenant %s is disabled.", t->name);
        else if (!sim_tenant_connected(w, tenant, pi, -1))
            msg = sim_strfmt("Tenant %s is not connected to project %s.", t->name, p->name);
        else if (!sim_tenant_connected(w, tenant, pi, env))
            msg = sim_strfmt("Tenant %s is not connected to environment %s for project %s.",
                             t->name, ename, p->name);
        if (msg) {
            json_array_append_new(errs, jstr_take(msg));
            return;
        }
    }
    char *why = NULL;
    if (!sim_lifecycle_allows(w, rel, env, tenant, &why))
        json_array_append_new(errs, jstr_take(why));
}

void sim_h_deployment_create(sim_req *r)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    json_error_t jerr;
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        sim_reply_error(r, 400, PROBLEM,
                        json_pack("[s]", "The request body must be a JSON object (a "
                                         "DeploymentResource)."));
        return;
    }
    json_t *errs = json_array();
    const char *rel_id, *env_id, *tenant_id, *comments;
    int64_t qt, qte;
    bool ok = opt_string(body, "ReleaseId", &rel_id, errs);
    ok &= opt_string(body, "EnvironmentId", &env_id, errs);
    ok &= opt_string(body, "TenantId", &tenant_id, errs);
    ok &= opt_string(body, "Comments", &comments, errs);
    ok &= opt_time(body, "QueueTime", &qt, errs);
    ok &= opt_time(body, "QueueTimeExpiry", &qte, errs);
    json_t *guided = jget(body, "UseGuidedFailure");
    if (guided && !json_is_boolean(guided) && !json_is_null(guided)) {
        json_array_append_new(errs, json_string("UseGuidedFailure must be true, false or null."));
        ok = false;
    }
    json_t *form = jget(body, "FormValues");
    if (form && !json_is_object(form) && !json_is_null(form)) {
        json_array_append_new(errs, json_string("FormValues must be an object."));
        ok = false;
    }
    int rel = -1, env = -1, tenant = -1;
    if (ok) {
        if (!rel_id)
            json_array_append_new(errs,
                                  json_string("Please specify the release to deploy (ReleaseId)."));
        else if ((rel = sim_find_release(w, r->space, rel_id)) < 0)
            json_array_append_new(errs, jstr_take(sim_strfmt("Release %s was not found.", rel_id)));
        if (!env_id)
            json_array_append_new(errs,
                                  json_string("Please specify the environment (EnvironmentId)."));
        else if ((env = sim_find_env(w, r->space, env_id)) < 0)
            json_array_append_new(errs,
                                  jstr_take(sim_strfmt("Environment %s was not found.", env_id)));
        if (tenant_id && (tenant = sim_find_tenant(w, r->space, tenant_id)) < 0)
            json_array_append_new(errs,
                                  jstr_take(sim_strfmt("Tenant %s was not found.", tenant_id)));
    }
    if (json_array_size(errs) == 0) check_target(w, rel, env, tenant, errs);
    if (json_array_size(errs) > 0) {
        json_decref(body);
        sim_reply_error(r, 400, PROBLEM, errs);
        return;
    }
    json_decref(errs);
    int g = json_is_true(guided) ? 1 : json_is_false(guided) ? 0 : -1;
    int i = sim_dep_create(sim, sim_key_index(sim, r->api_key), rel, env, tenant, comments, g,
                           json_is_object(form) ? json_deep_copy(form) : NULL, qt, qte);
    json_decref(body);
    if (sim->text_cache_off) {
        sim_reply(r, 201, sim_render_deployment(sim, i));
        return;
    }
    /* written straight, not kept: most deployments are never listed again */
    char *text = write_deployment(sim, i);
    if (sim->text_cache_check) sim_text_check(sim, text, "create", sim_render_deployment, i);
    sim_reply_text(r, 201, text);
    r->content_type = "application/json; charset=utf-8";
}

void sim_h_deployment_get(sim_req *r)
{
    int i = sim_dep_index(r->sim, sim_seg(r, 1));
    if (i < 0 || r->sim->deps[i].space != r->space)
        sim_reply_not_found(r);
    else
        sim_reply_item(r, 200, i, sim_render_deployment, sim_deployment_text);
}

/* Deployments in the request's space, newest first, optionally of one release. */
static void list_deployments(sim_req *r, int release)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    json_t *projects = sim_arg_list(r, "projects"), *envs = sim_arg_list(r, "environments"),
           *tenants = sim_arg_list(r, "tenants"), *channels = sim_arg_list(r, "channels"),
           *ids = sim_arg_list(r, "ids"), *states = sim_arg_list(r, "taskState");
    /* the adoption look-up names one target: the index gives its few deployments */
    int n_cand;
    int *cand = sim_deps_by_target(sim, r->space, projects, envs, tenants, &n_cand);
    int *idx = calloc((size_t)(cand ? n_cand : sim->n_deps) + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int k = 0; k < (cand ? n_cand : sim->n_deps); k++) {
        int i = cand ? cand[k] : sim->n_deps - 1 - k;
        const sim_dep *d = &sim->deps[i];
        if (d->space != r->space || (release >= 0 && d->release != release)) continue;
        /* the index's candidates match these by construction (100 tenants x 100 candidates) */
        if (!cand && projects && !sim_list_has(projects, w->projects[d->project].id)) continue;
        if (!cand && envs && !sim_list_has(envs, w->envs[d->env].id)) continue;
        if (!cand && tenants && (d->tenant < 0 || !sim_list_has(tenants, w->tenants[d->tenant].id)))
            continue;
        if (channels && !sim_list_has(channels, w->channels[d->channel].id)) continue;
        if (states && !sim_list_has(states, sim_tstate_name(d->state))) continue;
        if (ids) {
            char *id = dep_id(i);
            bool has = sim_list_has(ids, id);
            free(id);
            if (!has) continue;
        }
        idx[n++] = i;
    }
    free(cand);
    json_decref(projects), json_decref(envs), json_decref(tenants), json_decref(channels);
    json_decref(ids), json_decref(states);
    sim_reply_page_text(
        r, "Deployment", idx, n, sim_render_deployment, sim_deployment_text,
        "/api/{space}/deployments{/id}{?skip,take,ids,projects,environments,tenants,"
        "channels,taskState}");
    free(idx);
}

void sim_h_deployments_list(sim_req *r)
{
    list_deployments(r, -1);
}

void sim_h_release_deployments(sim_req *r)
{
    int rel = sim_find_release(&r->sim->w, r->space, sim_seg(r, 1));
    if (rel < 0)
        sim_reply_not_found(r);
    else
        list_deployments(r, rel);
}

/* ---- tasks ------------------------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

static bool bool_arg(const sim_req *r, const char *key, bool *out)
{
    const char *v = sim_arg(r, key);
    if (!v) return false;
    *out = strcasecmp(v, "true") == 0;
    return true;
}

/* GET tasks: ids, states, name, project, environment, tenant, active,
 * hasPendingInterruptions, spaces. No ids = every task (Octopus does the
 * same; clients must never send an empty id list). Newest first. */
void sim_h_tasks_list(sim_req *r)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    json_t *ids = sim_arg_list(r, "ids"), *states = sim_arg_list(r, "states"),
           *spaces = sim_arg_list(r, "spaces");
    const char *name = sim_arg(r, "name"), *project = sim_arg(r, "project"),
               *env = sim_arg(r, "environment"), *tenant = sim_arg(r, "tenant");
    bool active = false, pending = false;
    bool has_active = bool_arg(r, "active", &active);
    bool has_pending = bool_arg(r, "hasPendingInterruptions", &pending);
    /* ids: each task is found by its number, whatever the number of tasks */
    size_t n_ids = ids ? json_array_size(ids) : 0;
    int *idx = calloc((n_ids ? n_ids : (size_t)sim->n_deps) + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    if (n_ids > 0) {
        size_t k;
        json_t *v;
        json_array_foreach(ids, k, v)
        {
            int i = sim_task_index(sim, json_string_value(v));
            if (i >= 0) idx[n++] = i;
        }
        qsort(idx, (size_t)n, sizeof *idx, cmp_desc);
        int u = 0; /* an id asked for twice is listed once */
        for (int j = 0; j < n; j++)
            if (u == 0 || idx[u - 1] != idx[j]) idx[u++] = idx[j];
        n = u;
    } else {
        for (int i = sim->n_deps - 1; i >= 0; i--)
            idx[n++] = i;
    }
    int m = 0;
    for (int k = 0; k < n; k++) {
        const sim_dep *d = &sim->deps[idx[k]];
        if (r->explicit_space ? d->space != r->space : !sim_key_allows(sim, r->api_key, d->space))
            continue;
        if (spaces && !sim_list_has(spaces, w->spaces[d->space].id)) continue;
        if (states && !sim_list_has(states, sim_tstate_name(d->state))) continue;
        if (name && strcasecmp(name, "Deploy") != 0) continue;
        if (project && strcasecmp(project, w->projects[d->project].id) != 0) continue;
        if (env && strcasecmp(env, w->envs[d->env].id) != 0) continue;
        if (tenant && (d->tenant < 0 || strcasecmp(tenant, w->tenants[d->tenant].id) != 0))
            continue;
        if (has_active && active == sim_tstate_done(d->state)) continue;
        if (has_pending && pending != d->held) continue;
        idx[m++] = idx[k];
    }
    json_decref(ids), json_decref(states), json_decref(spaces);
    sim_reply_page_text(
        r, "ServerTask", idx, m, sim_render_task, sim_task_text,
        "/api/tasks{/id}{?skip,active,environment,tenant,states,project,name,ids,take,"
        "spaces,hasPendingInterruptions}");
    free(idx);
}

void sim_h_task_get(sim_req *r)
{
    int i = req_task(r);
    if (i >= 0) sim_reply_item(r, 200, i, sim_render_task, sim_task_text);
}

static const char *activity_status(sim_tstate s)
{
    switch (s) {
    case SIM_QUEUED:
        return "Pending";
    case SIM_EXECUTING:
    case SIM_CANCELLING:
        return "Running";
    case SIM_SUCCESS:
        return "Success";
    case SIM_FAILED:
        return "Failed";
    default:
        return "Canceled";
    }
}

void sim_h_task_details(sim_req *r)
{
    int i = req_task(r);
    if (i < 0) return;
    const sim_dep *d = &r->sim->deps[i];
    json_t *elements = json_array();
    if (d->start)
        json_array_append_new(elements, json_pack("{s:o, s:s, s:s}", "OccurredAt",
                                                  sim_json_time(d->start), "Category", "Info",
                                                  "MessageText", "Deploying (simulated)"));
    if (d->held)
        json_array_append_new(elements,
                              json_pack("{s:o, s:s, s:s}", "OccurredAt", sim_json_time(d->start),
                                        "Category", "Info", "MessageText",
                                        "Waiting for manual intervention"));
    if (d->state == SIM_FAILED)
        json_array_append_new(elements, json_pack("{s:o, s:s, s:s}", "OccurredAt",
                                                  sim_json_time(d->completed), "Category", "Error",
                                                  "MessageText", d->error));
    char *desc = task_description(r->sim, d);
    json_t *log =
        json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:[], s:o}", "Id", "ServerTasks-activity-1",
                  "Name", desc, "Status", activity_status(d->state), "ShowAtSummaryLevel", 1,
                  "Started", sim_json_time(d->start), "Ended", sim_json_time(d->completed),
                  "Children", "LogElements", elements);
    free(desc);
    int pct = sim_tstate_done(d->state) ? 100 : d->start ? 50 : 0;
    sim_reply(r, 200,
              json_pack("{s:o, s:[o], s:{s:i, s:s}, s:i}", "Task", sim_render_task(r->sim, i),
                        "ActivityLogs", log, "Progress", "ProgressPercentage", pct,
                        "EstimatedTimeRemaining", "", "PhysicalLogSize", 512));
}

void sim_h_task_raw(sim_req *r)
{
    int i = req_task(r);
    if (i < 0) return;
    const sim_dep *d = &r->sim->deps[i];
    char q[48], s[48] = "", c[48] = "";
    sim_fmt_time(d->queue_time, q, sizeof q);
    if (d->start) sim_fmt_time(d->start, s, sizeof s);
    if (d->completed) sim_fmt_time(d->completed, c, sizeof c);
    char *desc = task_description(r->sim, d);
    sim_reply_text(
        r, 200,
        sim_strfmt("%s  Info     | %s\n%s  Info     | Queued\n%s%s%s%s%s%s%s  Info     "
                   "| State: %s\n",
                   q, desc, q, s, *s ? "  Info     | Started (simulated)\n" : "",
                   d->state == SIM_FAILED ? c : "", d->state == SIM_FAILED ? "  Error    | " : "",
                   d->state == SIM_FAILED ? d->error : "", d->state == SIM_FAILED ? "\n" : "",
                   *c ? c : q, sim_tstate_name(d->state)));
    free(desc);
}

void sim_h_task_cancel(sim_req *r)
{
    int i = req_task(r);
    if (i < 0) return;
    sim_task_cancel(r->sim, i);
    sim_reply(r, 200, sim_render_task(r->sim, i));
}

void sim_h_task_queued_behind(sim_req *r)
{
    int i = req_task(r);
    if (i < 0) return;
    int n;
    int *ahead = sim_tasks_ahead(r->sim, i, &n);
    char *tid = task_id(i);
    char *tmpl = sim_strfmt("/api/tasks/%s/queued-behind{?skip,take}", tid);
    sim_reply_page_text(r, "ServerTask", ahead, n, sim_render_task, sim_task_text, tmpl);
    free(tmpl);
    free(tid);
    free(ahead);
}

/* ---- executions API (command style: names instead of ids) -------------------------------- */

static int env_named(const sim_world *w, int space, const char *s)
{
    int e = sim_find_env(w, space, s);
    for (int i = 0; e < 0 && i < w->n_envs; i++)
        if (w->envs[i].space == space && strcasecmp(w->envs[i].name, s) == 0) e = i;
    return e;
}

static int project_named(const sim_world *w, int space, const char *s)
{
    int p = sim_find_project(w, space, s);
    for (int i = 0; p < 0 && i < w->n_projects; i++)
        if (w->projects[i].space == space && strcasecmp(w->projects[i].name, s) == 0) p = i;
    return p;
}

static int tenant_named(const sim_world *w, int space, const char *s)
{
    int t = sim_find_tenant(w, space, s);
    for (int i = 0; t < 0 && i < w->n_tenants; i++)
        if (w->tenants[i].space == space && strcasecmp(w->tenants[i].name, s) == 0) t = i;
    return t;
}

/* A string array field; false + an Errors line on a wrong type. */
static bool opt_strings(json_t *body, const char *key, json_t **out, json_t *errs)
{
    json_t *v = jget(body, key);
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    size_t i;
    json_t *x;
    bool ok = json_is_array(v);
    json_array_foreach(v, i, x) ok &= json_is_string(x);
    if (!ok) {
        json_array_append_new(errs, jstr_take(sim_strfmt("%s must be an array of strings.", key)));
        return false;
    }
    *out = v;
    return true;
}

typedef struct target {
    int env, tenant;
} target;

/* POST deployments/create/{tenanted,untenanted}/v1. Like Octopus: an empty
 * Tenants+TenantTags (tenanted) or EnvironmentNames (untenanted) deploys
 * nothing and is not an error; "*" means every tenant that may deploy now;
 * tag-matched tenants that may not deploy now are silently left out; an
 * unknown ReleaseVersion is a server error (a known Octopus wart). */
static void executions(sim_req *r, bool tenanted)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        sim_reply_error(r, 400, PROBLEM,
                        json_pack("[s]", "The request body must be a JSON object."));
        return;
    }
    json_t *errs = json_array(), *envnames = NULL, *tenants = NULL, *tags = NULL;
    const char *pname, *version, *envname = NULL;
    int64_t qt, qte;
    const char *space_a, *space_b;
    bool ok = opt_string(body, "ProjectName", &pname, errs);
    if (ok && !pname) ok = opt_string(body, "ProjectIdOrName", &pname, errs);
    ok &= opt_string(body, "SpaceId", &space_a, errs);
    ok &= opt_string(body, "SpaceIdOrName", &space_b, errs);
    /* the body names the space again (id or name); it must be the route's */
    for (int k = 0; k < 2; k++) {
        const char *s = k ? space_b : space_a;
        if (ok && s && sim_find_space(w, s) != r->space)
            json_array_append_new(errs, jstr_take(sim_strfmt("%s %s does not match the space "
                                                             "of the route (%s).",
                                                             k ? "SpaceIdOrName" : "SpaceId", s,
                                                             sid_of(sim, r->space))));
    }
    ok &= json_array_size(errs) == 0;
    ok &= opt_string(body, "ReleaseVersion", &version, errs);
    ok &= opt_time(body, "RunAt", &qt, errs);
    ok &= opt_time(body, "NoRunAfter", &qte, errs);
    if (tenanted) {
        ok &= opt_string(body, "EnvironmentName", &envname, errs);
        ok &= opt_strings(body, "Tenants", &tenants, errs);
        ok &= opt_strings(body, "TenantTags", &tags, errs);
    } else {
        ok &= opt_strings(body, "EnvironmentNames", &envnames, errs);
    }
    json_t *vars = jget(body, "Variables");
    json_t *guided = jget(body, "UseGuidedFailure");
    int p = -1, rel = -1;
    if (ok && !pname) json_array_append_new(errs, json_string("ProjectName is required."));
    if (ok && !version) json_array_append_new(errs, json_string("ReleaseVersion is required."));
    if (ok && tenanted && !envname)
        json_array_append_new(errs, json_string("EnvironmentName is required."));
    if (ok && pname && (p = project_named(w, r->space, pname)) < 0)
        json_array_append_new(errs, jstr_take(sim_strfmt("Project %s was not found.", pname)));
    if (json_array_size(errs) == 0 && (rel = sim_release_by_version(w, p, version)) < 0) {
        json_decref(body), json_decref(errs);
        sim_reply_error(r, 500, "Object reference not set to an instance of an object.", NULL);
        return;
    }
    target *t = calloc((size_t)(w->n_envs + w->n_tenants) + 1, sizeof *t);
    char *seen = calloc((size_t)w->n_tenants + 1, 1);
    OF_ASSERT(t && seen);
    int n = 0;
    if (json_array_size(errs) == 0 && tenanted) {
        int env = env_named(w, r->space, envname);
        if (env < 0)
            json_array_append_new(errs,
                                  jstr_take(sim_strfmt("Environment %s was not found.", envname)));
        size_t i;
        json_t *v;
        json_array_foreach(tenants, i, v)
        {
            const char *name = json_string_value(v);
            if (env < 0) break;
            if (strcmp(name, "*") == 0) {
                for (int k = 0; k < w->n_tenants; k++) {
                    json_t *probe = json_array();
                    if (w->tenants[k].space == r->space && !seen[k])
                        check_target(w, rel, env, k, probe);
                    if (w->tenants[k].space == r->space && !seen[k] && json_array_size(probe) == 0)
                        seen[k] = 1, t[n++] = (target){env, k};
                    json_decref(probe);
                }
                continue;
            }
            int k = tenant_named(w, r->space, name);
            if (k < 0) {
                json_array_append_new(errs,
                                      jstr_take(sim_strfmt("Tenant %s was not found.", name)));
            } else if (!seen[k]) {
                check_target(w, rel, env, k, errs);
                seen[k] = 1, t[n++] = (target){env, k};
            }
        }
        for (int k = 0; env >= 0 && json_array_size(tags) > 0 && k < w->n_tenants; k++) {
            if (w->tenants[k].space != r->space || seen[k] || !sim_tenant_matches_tags(w, k, tags))
                continue;
            json_t *probe = json_array();
            check_target(w, rel, env, k, probe);
            if (json_array_size(probe) == 0) seen[k] = 1, t[n++] = (target){env, k};
            json_decref(probe);
        }
    } else if (json_array_size(errs) == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(envnames, i, v)
        {
            int env = env_named(w, r->space, json_string_value(v));
            if (env < 0) {
                json_array_append_new(errs, jstr_take(sim_strfmt("Environment %s was not found.",
                                                                 json_string_value(v))));
                continue;
            }
            check_target(w, rel, env, -1, errs);
            t[n++] = (target){env, -1};
        }
    }
    if (json_array_size(errs) > 0) {
        sim_reply_error(r, 400, PROBLEM, errs);
    } else {
        json_decref(errs);
        json_t *out = json_array();
        int g = json_is_true(guided) ? 1 : json_is_false(guided) ? 0 : -1;
        for (int k = 0; k < n; k++) {
            int i = sim_dep_create(sim, sim_key_index(sim, r->api_key), rel, t[k].env, t[k].tenant,
                                   NULL, g, json_is_object(vars) ? json_deep_copy(vars) : NULL, qt,
                                   qte);
            json_array_append_new(out, json_pack("{s:o, s:o}", "DeploymentId", jstr_take(dep_id(i)),
                                                 "ServerTaskId", jstr_take(task_id(i))));
        }
        sim_reply(r, 200, json_pack("{s:o}", "DeploymentServerTasks", out));
    }
    free(t);
    free(seen);
    json_decref(body);
}

void sim_h_executions_tenanted(sim_req *r)
{
    executions(r, true);
}

void sim_h_executions_untenanted(sim_req *r)
{
    executions(r, false);
}

/* ---- interruptions ----------------------------------------------------------------
 *
 * A task has at most one interruption listed: its manual intervention ("Interruptions-<n>",
 * n its task number, raised when it starts) or, once its failing step waited on guided
 * failure, the latest of those ("Interruptions-<n>-<k>", the k-th). An older one can still be
 * read by id; it is no longer pending. */

/* The id of task i's latest interruption (caller frees). */
static char *interruption_id(const sim_dep *d, int i)
{
    return d->guided_raises ? sim_strfmt("Interruptions-%d-%d", i + 1, d->guided_raises)
                            : sim_strfmt("Interruptions-%d", i + 1);
}

/* guided: the guided failure (k-th raise) rather than the manual intervention. */
static json_t *render_kind(ofsim *sim, int i, bool guided, int k)
{
    const sim_dep *d = &sim->deps[i];
    const char *sid = sid_of(sim, d->space);
    char *id = guided ? sim_strfmt("Interruptions-%d-%d", i + 1, k)
                      : sim_strfmt("Interruptions-%d", i + 1);
    bool latest = guided == (d->guided_raises > 0) && (!guided || k == d->guided_raises);
    bool pending = latest && d->held;
    json_t *form = guided ? json_pack("{s:{s:n, s:n}, s:[{s:s, s:{s:s, s:[s, s, s, s]}, s:b}, "
                                      "{s:s, s:{s:s}, s:b}]}",
                                      "Values", "Guidance", "Notes", "Elements", "Name", "Guidance",
                                      "Control", "Type", "SubmitButtonGroup", "Buttons", "Fail",
                                      "Exclude", "Ignore", "Retry", "IsValueRequired", 1, "Name",
                                      "Notes", "Control", "Type", "TextArea", "IsValueRequired", 0)
                          : json_pack("{s:{s:n, s:n}, s:[{s:s, s:{s:s, s:[s, s]}, s:b}, "
                                      "{s:s, s:{s:s}, s:b}]}",
                                      "Values", "Result", "Notes", "Elements", "Name", "Result",
                                      "Control", "Type", "SubmitButtonGroup", "Buttons", "Proceed",
                                      "Abort", "IsValueRequired", 1, "Name", "Notes", "Control",
                                      "Type", "TextArea", "IsValueRequired", 0);
    bool resp = latest && d->responsible;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:b, s:b, s:o, s:[], s:b, s:[o, o], s:o, s:o, "
        "s:{s:o, s:o, s:o}}",
        "Id", id, "Title",
        guided ? "Guided failure: a step failed (simulated)"
               : "Manual intervention required (simulated)",
        "Type", guided ? "GuidedFailure" : "ManualIntervention", "TaskId", jstr_take(task_id(i)),
        "CorrelationId",
        jstr_take(sim_strfmt("ServerTasks-%d_%s", i + 1, guided ? "guidance" : "intervention")),
        "SpaceId", sid, "IsPending", pending, "CanTakeResponsibility", 1, "HasResponsibility", resp,
        "ResponsibleUserId", resp ? json_string("Users-1") : json_null(), "ResponsibleTeamIds",
        "IsLinkedToOtherInterruption", 0, "RelatedDocumentIds", jstr_take(dep_id(i)),
        jstr_take(task_id(i)), "Form", form, "Created",
        sim_json_time(d->start ? d->start : d->created), "Links", "Self",
        jstr_take(sim_strfmt("/api/%s/interruptions/%s", sid, id)), "Submit",
        jstr_take(sim_strfmt("/api/%s/interruptions/%s/submit", sid, id)), "Responsible",
        jstr_take(sim_strfmt("/api/%s/interruptions/%s/responsible", sid, id)));
    OF_ASSERT(j);
    free(id);
    return j;
}

static json_t *render_interruption(ofsim *sim, int i)
{
    const sim_dep *d = &sim->deps[i];
    return render_kind(sim, i, d->guided_raises > 0, d->guided_raises);
}

/* The task an interruption id names (-1 after a 404 reply); *guided and *k say which of its
 * interruptions. */
static int req_interruption(sim_req *r, bool *guided, int *k)
{
    const char *id = sim_seg(r, 1);
    int i = -1, task = 0, raise = 0, used = 0;
    *guided = false;
    *k = 0;
    if (id && strncasecmp(id, "Interruptions-", 14) == 0) {
        int got = sscanf(id + 14, "%d%n-%d%n", &task, &used, &raise, &used);
        if (got >= 1 && id[14 + used] == '\0' && task > 0) {
            char *tid = sim_strfmt("ServerTasks-%d", task);
            i = sim_task_index(r->sim, tid);
            free(tid);
            *guided = got == 2;
            *k = raise;
        }
    }
    const sim_dep *d = i >= 0 ? &r->sim->deps[i] : NULL;
    bool exists = d && d->space == r->space &&
                  (*guided ? *k >= 1 && *k <= d->guided_raises : d->interrupt && d->was_held);
    if (!exists) {
        sim_reply_not_found(r);
        return -1;
    }
    return i;
}

void sim_h_interruptions_list(sim_req *r)
{
    ofsim *sim = r->sim;
    const char *regarding = sim_arg(r, "regarding");
    json_t *ids = sim_arg_list(r, "ids");
    bool pending_only = false;
    bool_arg(r, "pendingOnly", &pending_only);
    int *idx = calloc((size_t)sim->n_deps + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int i = sim->n_deps - 1; i >= 0; i--) {
        const sim_dep *d = &sim->deps[i];
        if (!d->was_held || d->space != r->space || (pending_only && !d->held)) continue;
        if (regarding) {
            char *tid = task_id(i), *did = dep_id(i);
            bool match = strcasecmp(regarding, tid) == 0 || strcasecmp(regarding, did) == 0;
            free(tid), free(did);
            if (!match) continue;
        }
        if (ids && json_array_size(ids) > 0) {
            char *iid = interruption_id(d, i);
            bool has = sim_list_has(ids, iid);
            free(iid);
            if (!has) continue;
        }
        idx[n++] = i;
    }
    json_decref(ids);
    sim_reply_page(r, "Interruption", idx, n, render_interruption,
                   "/api/{space}/interruptions{/id}{?skip,take,regarding,pendingOnly,ids}");
    free(idx);
}

void sim_h_interruption_get(sim_req *r)
{
    bool guided;
    int k, i = req_interruption(r, &guided, &k);
    if (i >= 0) sim_reply(r, 200, render_kind(r->sim, i, guided, k));
}

void sim_h_interruption_submit(sim_req *r)
{
    bool guided;
    int k, i = req_interruption(r, &guided, &k);
    if (i < 0) return;
    sim_dep *d = &r->sim->deps[i];
    bool latest = guided == (d->guided_raises > 0) && (!guided || k == d->guided_raises);
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    const char *result = json_string_value(jget(body, "Result"));
    const char *guidance = json_string_value(jget(body, "Guidance"));
    bool done = false, known = true;
    if (!latest || !d->held) {
        done = false;
    } else if (guided) {
        if (guidance) done = sim_task_guide(r->sim, i, guidance, &known);
        known = known && guidance;
    } else {
        bool abort = result && strcasecmp(result, "Abort") == 0;
        known = abort || (result && strcasecmp(result, "Proceed") == 0);
        if (known) done = sim_task_release(r->sim, i, abort);
    }
    json_decref(body);
    if (latest && d->held && !known) {
        sim_reply_error(r, 400, PROBLEM,
                        json_pack("[s]", guided ? "Give Guidance (Fail, Exclude, Ignore or Retry)."
                                                : "Give Result (Proceed or Abort)."));
        return;
    }
    if (!done) {
        sim_reply_error(r, 400, PROBLEM, json_pack("[s]", "This interruption is not pending."));
        return;
    }
    d->responsible = true; /* as Octopus: the submitter becomes responsible */
    sim_reply(r, 200, render_kind(r->sim, i, guided, k));
}

void sim_h_interruption_responsible(sim_req *r)
{
    bool guided;
    int k, i = req_interruption(r, &guided, &k);
    if (i < 0) return;
    r->sim->deps[i].responsible = true;
    sim_reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:b}", "Id", "Users-1", "Username", "octofleet-sim",
                        "DisplayName", "Simulated user", "IsActive", 1));
}
