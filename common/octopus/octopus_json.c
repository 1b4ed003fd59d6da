/* Decoding Octopus resources with jansson, and the resource free functions.
 *
 * Every decoder copies what it keeps out of the json_t (the tree is freed
 * right after), checks types, and names the resource and the field when
 * something is missing or of the wrong type, so a changed server shows up as
 * a clear OF_ERR_PROTOCOL instead of a NULL dereference three modules away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "octopus_internal.h"

/* Where we are, for error messages: "Task ServerTasks-1". */
typedef struct dctx {
    const char *kind;
    const char *id; /* NULL until known */
    char *es;
    size_t n;
} dctx;

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static of_err bad_field(const dctx *d, const char *field, const char *want, const json_t *got)
{
    return of_seterr(d->es, d->n, OF_ERR_PROTOCOL, "%s%s%s: field \"%s\": expected %s, got %s",
                     d->kind, d->id ? " " : "", d->id ? d->id : "", field, want,
                     got ? jtype(got) : "nothing (missing)");
}

static of_err need_object(const dctx *d, const json_t *j)
{
    if (json_is_object(j)) return OF_OK;
    return of_seterr(d->es, d->n, OF_ERR_PROTOCOL, "%s: expected a JSON object, got %s", d->kind,
                     j ? jtype(j) : "nothing");
}

/* Out of memory, said like every other failure: callers print errstr unconditionally. */
static of_err nomem(const dctx *d)
{
    return of_seterr(d->es, d->n, OF_ERR_NOMEM, "%s%s%s: out of memory", d->kind, d->id ? " " : "",
                     d->id ? d->id : "");
}

static of_err dup_str(const dctx *d, const char *s, char **out)
{
    *out = strdup(s);
    return *out ? OF_OK : nomem(d);
}

/* A string field. required: missing or null is an error; otherwise *out =
 * NULL for missing or null. */
static of_err field_str(const dctx *d, json_t *obj, const char *field, bool required, char **out)
{
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return bad_field(d, field, "a string", v);
        return OF_OK;
    }
    if (!json_is_string(v)) return bad_field(d, field, "a string", v);
    return dup_str(d, json_string_value(v), out);
}

/* An optional boolean: missing or null = false. */
static of_err field_bool(const dctx *d, json_t *obj, const char *field, bool *out)
{
    json_t *v = json_object_get(obj, field);
    *out = false;
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_boolean(v)) return bad_field(d, field, "a boolean", v);
    *out = json_is_true(v);
    return OF_OK;
}

/* An optional timestamp: missing or null = -1. */
static of_err field_time(const dctx *d, json_t *obj, const char *field, int64_t *out)
{
    json_t *v = json_object_get(obj, field);
    *out = -1;
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_string(v) || of_parse_rfc3339(json_string_value(v), out) != 0)
        return bad_field(d, field, "an ISO 8601 timestamp", v);
    return OF_OK;
}

/* An optional array of strings (v may be NULL or null) into a new char* array. */
static of_err str_array(const dctx *d, const char *field, json_t *v, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_array(v)) return bad_field(d, field, "an array of strings", v);
    size_t len = json_array_size(v);
    if (len == 0) return OF_OK;
    char **arr = calloc(len, sizeof(*arr));
    if (!arr) return nomem(d);
    *out = arr;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) return bad_field(d, field, "an array of strings", e);
        if (dup_str(d, json_string_value(e), &arr[i])) return OF_ERR_NOMEM;
        *n = i + 1;
    }
    return OF_OK;
}

static void free_str_array(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

of_err octo_parse_body(const char *body, size_t len, json_t **out, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    *out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "reply is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    return OF_OK;
}

/* ---- resources ----------------------------------------------------------- */

void of_octo_ref_free(of_octo_ref *r)
{
    if (!r) return;
    free(r->id);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_ref(json_t *j, const char *kind, of_octo_ref *out, char *errstr,
                       size_t errstr_size)
{
    dctx d = {kind, NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "Name", true, &out->name);
    if (rc) of_octo_ref_free(out);
    return rc;
}

void of_octo_root_free(of_octo_root *r)
{
    if (!r) return;
    free(r->application);
    free(r->version);
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_root(json_t *j, of_octo_root *out, char *errstr, size_t errstr_size)
{
    dctx d = {"root document", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Application", false, &out->application);
    if (!rc) rc = field_str(&d, j, "Version", false, &out->version);
    if (!rc) {
        json_t *links = json_object_get(j, "Links");
        if (links && !json_is_object(links)) {
            rc = bad_field(&d, "Links", "an object", links);
        } else {
            out->has_spaces = links && json_object_get(links, "Spaces");
        }
    }
    if (rc) of_octo_root_free(out);
    return rc;
}

void of_octo_space_free(of_octo_space *s)
{
    if (!s) return;
    free(s->id);
    free(s->name);
    memset(s, 0, sizeof(*s));
}

of_err octo_decode_space(json_t *j, of_octo_space *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Space", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "Name", true, &out->name);
    if (!rc) rc = field_bool(&d, j, "IsDefault", &out->is_default);
    if (rc) of_octo_space_free(out);
    return rc;
}

void of_octo_project_free(of_octo_project *p)
{
    if (!p) return;
    free(p->id);
    free(p->name);
    free(p->slug);
    free(p->lifecycle_id);
    memset(p, 0, sizeof(*p));
}

static const struct {
    const char *name;
    of_octo_tenanted mode;
} tenanted_names[] = {
    {"Untenanted", OF_OCTO_UNTENANTED},
    {"Tenanted", OF_OCTO_TENANTED},
    {"TenantedOrUntenanted", OF_OCTO_TENANTED_OR_UNTENANTED},
};

of_err octo_decode_project(json_t *j, of_octo_project *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Project", NULL, errstr, errstr_size};
    char *mode = NULL;
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "Name", true, &out->name);
    if (!rc) rc = field_str(&d, j, "Slug", false, &out->slug);
    if (!rc) rc = field_str(&d, j, "LifecycleId", false, &out->lifecycle_id);
    if (!rc) rc = field_bool(&d, j, "IsDisabled", &out->is_disabled);
    /* Missing means an old server without multi-tenancy: untenanted. */
    if (!rc) rc = field_str(&d, j, "TenantedDeploymentMode", false, &mode);
    if (!rc && mode) {
        size_t i;
        for (i = 0; i < sizeof(tenanted_names) / sizeof(tenanted_names[0]); i++)
            if (strcmp(mode, tenanted_names[i].name) == 0) break;
        if (i == sizeof(tenanted_names) / sizeof(tenanted_names[0]))
            rc = of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                           "Project %s: field \"TenantedDeploymentMode\": unknown value \"%s\"",
                           out->id, mode);
        else
            out->tenanted = tenanted_names[i].mode;
    }
    free(mode);
    if (rc) of_octo_project_free(out);
    return rc;
}

void of_octo_tenant_free(of_octo_tenant *t)
{
    if (!t) return;
    free(t->id);
    free(t->name);
    free_str_array(t->tags, t->ntags);
    for (size_t i = 0; i < t->nprojects; i++) {
        free(t->projects[i].project_id);
        free_str_array(t->projects[i].environment_ids, t->projects[i].n);
    }
    free(t->projects);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_tenant(json_t *j, of_octo_tenant *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Tenant", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "Name", true, &out->name);
    if (!rc) rc = field_bool(&d, j, "IsDisabled", &out->is_disabled);
    if (!rc)
        rc = str_array(&d, "TenantTags", json_object_get(j, "TenantTags"), &out->tags, &out->ntags);
    json_t *pe = rc ? NULL : json_object_get(j, "ProjectEnvironments");
    if (pe && !json_is_null(pe)) {
        if (!json_is_object(pe)) {
            rc = bad_field(&d, "ProjectEnvironments", "an object", pe);
        } else if (json_object_size(pe) > 0) {
            out->projects = calloc(json_object_size(pe), sizeof(*out->projects));
            if (!out->projects) rc = nomem(&d);
            const char *pid;
            json_t *envs;
            json_object_foreach(pe, pid, envs)
            {
                if (rc) break;
                of_octo_project_envs *p = &out->projects[out->nprojects];
                rc = dup_str(&d, pid, &p->project_id);
                if (rc) break;
                out->nprojects++;
                rc = str_array(&d, "ProjectEnvironments", envs, &p->environment_ids, &p->n);
            }
        }
    }
    if (rc) of_octo_tenant_free(out);
    return rc;
}

bool of_octo_tenant_connected(const of_octo_tenant *t, const char *project_id,
                              const char *environment_id)
{
    for (size_t i = 0; i < t->nprojects; i++) {
        if (strcmp(t->projects[i].project_id, project_id) != 0) continue;
        if (!environment_id) return true;
        for (size_t k = 0; k < t->projects[i].n; k++)
            if (strcmp(t->projects[i].environment_ids[k], environment_id) == 0) return true;
        return false;
    }
    return false;
}

void of_octo_tenant_list_free(of_octo_tenant_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_tenant_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

void of_octo_release_free(of_octo_release *r)
{
    if (!r) return;
    free(r->id);
    free(r->version);
    free(r->project_id);
    free(r->channel_id);
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_release(json_t *j, of_octo_release *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Release", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "Version", true, &out->version);
    if (!rc) rc = field_str(&d, j, "ProjectId", true, &out->project_id);
    if (!rc) rc = field_str(&d, j, "ChannelId", false, &out->channel_id);
    if (rc) of_octo_release_free(out);
    return rc;
}

static void free_refs(of_octo_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        of_octo_ref_free(&r[i]);
    free(r);
}

/* An array of {Id, Name} (environment references). */
static of_err decode_refs(const dctx *d, json_t *obj, const char *field, of_octo_ref **out,
                          size_t *n)
{
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_array(v)) return bad_field(d, field, "an array", v);
    if (json_array_size(v) == 0) return OF_OK;
    *out = calloc(json_array_size(v), sizeof(**out));
    if (!*out) return nomem(d);
    for (size_t i = 0; i < json_array_size(v); i++) {
        of_err rc =
            octo_decode_ref(json_array_get(v, i), "Environment reference", &(*out)[i], d->es, d->n);
        if (rc) return rc;
        *n = i + 1;
    }
    return OF_OK;
}

void of_octo_template_free(of_octo_template *t)
{
    if (!t) return;
    free_refs(t->promote_to, t->n);
    for (size_t i = 0; i < t->ntenants; i++) {
        free(t->tenants[i].tenant_id);
        free(t->tenants[i].tenant_name);
        free_refs(t->tenants[i].promote_to, t->tenants[i].n);
    }
    free(t->tenants);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_template(json_t *j, of_octo_template *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Deployment template", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = decode_refs(&d, j, "PromoteTo", &out->promote_to, &out->n);
    json_t *tp = rc ? NULL : json_object_get(j, "TenantPromotions");
    if (tp && !json_is_null(tp)) {
        if (!json_is_array(tp)) {
            rc = bad_field(&d, "TenantPromotions", "an array", tp);
        } else if (json_array_size(tp) > 0) {
            out->tenants = calloc(json_array_size(tp), sizeof(*out->tenants));
            if (!out->tenants) rc = nomem(&d);
            for (size_t i = 0; !rc && i < json_array_size(tp); i++) {
                json_t *e = json_array_get(tp, i);
                of_octo_tenant_promotion *p = &out->tenants[i];
                dctx td = {"Tenant promotion", NULL, errstr, errstr_size};
                out->ntenants = i + 1;
                rc = need_object(&td, e);
                if (!rc) rc = field_str(&td, e, "Id", true, &p->tenant_id);
                td.id = p->tenant_id;
                if (!rc) rc = field_str(&td, e, "Name", false, &p->tenant_name);
                if (!rc) rc = decode_refs(&td, e, "PromoteTo", &p->promote_to, &p->n);
            }
        }
    }
    if (rc) of_octo_template_free(out);
    return rc;
}

static bool refs_contain(const of_octo_ref *r, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].id, id) == 0) return true;
    return false;
}

bool of_octo_template_allows(const of_octo_template *t, const char *environment_id,
                             const char *tenant_id)
{
    if (!tenant_id) return refs_contain(t->promote_to, t->n, environment_id);
    for (size_t i = 0; i < t->ntenants; i++)
        if (strcmp(t->tenants[i].tenant_id, tenant_id) == 0)
            return refs_contain(t->tenants[i].promote_to, t->tenants[i].n, environment_id);
    return false;
}

void of_octo_deployment_free(of_octo_deployment *dep)
{
    if (!dep) return;
    free(dep->id);
    free(dep->project_id);
    free(dep->release_id);
    free(dep->environment_id);
    free(dep->tenant_id);
    free(dep->task_id);
    free(dep->comments);
    free(dep->web_link);
    memset(dep, 0, sizeof(*dep));
}

of_err octo_decode_deployment(json_t *j, of_octo_deployment *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Deployment", NULL, errstr, errstr_size};
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "ProjectId", false, &out->project_id);
    if (!rc) rc = field_str(&d, j, "ReleaseId", true, &out->release_id);
    if (!rc) rc = field_str(&d, j, "EnvironmentId", true, &out->environment_id);
    if (!rc) rc = field_str(&d, j, "TenantId", false, &out->tenant_id);
    if (!rc) rc = field_str(&d, j, "TaskId", true, &out->task_id);
    if (!rc) rc = field_str(&d, j, "Comments", false, &out->comments);
    if (!rc) rc = field_time(&d, j, "Created", &out->created_ms);
    json_t *links = rc ? NULL : json_object_get(j, "Links");
    if (links && json_is_object(links)) rc = field_str(&d, links, "Web", false, &out->web_link);
    if (rc) of_octo_deployment_free(out);
    return rc;
}

void of_octo_deployment_list_free(of_octo_deployment_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_deployment_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- tasks ------------------------------------------------------------- */

static const char *const task_state_names[] = {
    [OF_OCTO_TASK_QUEUED] = "Queued",         [OF_OCTO_TASK_EXECUTING] = "Executing",
    [OF_OCTO_TASK_CANCELLING] = "Cancelling", [OF_OCTO_TASK_SUCCESS] = "Success",
    [OF_OCTO_TASK_FAILED] = "Failed",         [OF_OCTO_TASK_CANCELED] = "Canceled",
    [OF_OCTO_TASK_TIMED_OUT] = "TimedOut",
};
#define N_TASK_STATES (sizeof(task_state_names) / sizeof(task_state_names[0]))

of_err of_octo_task_state_parse(const char *s, of_octo_task_state *out)
{
    for (size_t i = 0; s && i < N_TASK_STATES; i++) {
        if (strcmp(s, task_state_names[i]) == 0) {
            *out = (of_octo_task_state)i;
            return OF_OK;
        }
    }
    return OF_ERR_PROTOCOL;
}

const char *of_octo_task_state_name(of_octo_task_state s)
{
    return (size_t)s < N_TASK_STATES ? task_state_names[s] : "?";
}

bool of_octo_task_state_is_final(of_octo_task_state s)
{
    return s == OF_OCTO_TASK_SUCCESS || s == OF_OCTO_TASK_FAILED || s == OF_OCTO_TASK_CANCELED ||
           s == OF_OCTO_TASK_TIMED_OUT;
}

void of_octo_task_free(of_octo_task *t)
{
    if (!t) return;
    free(t->id);
    free(t->error_message);
    free(t->description);
    free(t->deployment_id);
    free(t->problem);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_task(json_t *j, of_octo_task *out, char *errstr, size_t errstr_size)
{
    dctx d = {"Task", NULL, errstr, errstr_size};
    char *state = NULL;
    memset(out, 0, sizeof(*out));
    of_err rc = need_object(&d, j);
    if (!rc) rc = field_str(&d, j, "Id", true, &out->id);
    d.id = out->id;
    if (!rc) rc = field_str(&d, j, "State", true, &state);
    if (!rc && of_octo_task_state_parse(state, &out->state) != OF_OK)
        rc = of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                       "Task %s: field \"State\": unknown task state \"%s\"", out->id, state);
    free(state);
    if (!rc) rc = field_bool(&d, j, "HasPendingInterruptions", &out->has_pending_interruptions);
    if (!rc) rc = field_str(&d, j, "ErrorMessage", false, &out->error_message);
    if (!rc && !out->error_message) rc = dup_str(&d, "", &out->error_message);
    if (!rc) rc = field_str(&d, j, "Description", false, &out->description);
    if (!rc) rc = field_time(&d, j, "QueueTime", &out->queue_time_ms);
    if (!rc) rc = field_time(&d, j, "StartTime", &out->start_time_ms);
    if (!rc) rc = field_time(&d, j, "CompletedTime", &out->completed_time_ms);
    json_t *args = rc ? NULL : json_object_get(j, "Arguments");
    if (args && json_is_object(args))
        rc = field_str(&d, args, "DeploymentId", false, &out->deployment_id);
    if (!rc) out->found = true;
    if (rc) of_octo_task_free(out);
    return rc;
}

void of_octo_task_list_free(of_octo_task_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_task_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- envelopes and errors ---------------------------------------------- */

of_err octo_decode_page(json_t *j, const char *kind, json_t **items, size_t *total, char *errstr,
                        size_t errstr_size)
{
    dctx d = {kind, NULL, errstr, errstr_size};
    of_err rc = need_object(&d, j);
    if (rc) return rc;
    json_t *it = json_object_get(j, "Items");
    if (!json_is_array(it)) return bad_field(&d, "Items", "an array", it);
    json_t *tr = json_object_get(j, "TotalResults");
    if (tr && !json_is_integer(tr)) return bad_field(&d, "TotalResults", "an integer", tr);
    *items = it;
    /* Unknown total: the pager stops on a short page instead. */
    *total = (tr && json_integer_value(tr) >= 0) ? (size_t)json_integer_value(tr) : SIZE_MAX;
    return OF_OK;
}

of_err octo_page_check(size_t skip, size_t take, size_t got, size_t total, char *errstr,
                       size_t errstr_size)
{
    if (got > take)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "inconsistent paging: %zu items for take=%zu", got, take);
    if (total == SIZE_MAX) return OF_OK; /* unknown: a short page ends the listing */
    if (got && skip + got > total)       /* an empty page past the end is fine: items went away */
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "inconsistent paging: %zu item(s) at skip=%zu but TotalResults is %zu",
                         got, skip, total);
    if (got < take && skip + got < total)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "inconsistent paging: %s page at skip=%zu (%zu of take=%zu) but "
                         "TotalResults promises %zu",
                         got ? "a short" : "an empty", skip, got, take, total);
    return OF_OK;
}

char *octo_quote(const char *prefix, const char *s, size_t len, char *out, size_t out_size)
{
    char raw[1024 + OF_OCTO_QUOTE_BYTES + 4];
    size_t n = len < OF_OCTO_QUOTE_BYTES ? len : OF_OCTO_QUOTE_BYTES;
    /* of_escape stops at a NUL: a NUL inside the reply ends the quote there. */
    snprintf(raw, sizeof(raw), "%.1000s%.*s%s", prefix ? prefix : "", (int)n, s ? s : "",
             len > n ? "..." : "");
    return of_escape(raw, out, out_size);
}

const char *octo_item_name(json_t *item)
{
    return json_string_value(json_object_get(item, "Name"));
}

/* The error text being built in the caller's buffer. */
typedef struct etext {
    char *out;
    size_t size, n;
    bool full; /* a part was cut: nothing more goes in */
} etext;

/* Appends s, cut to fit size - 1 bytes before a whole UTF-8 character (the text ends up
 * in JSON events, and jansson refuses invalid UTF-8). */
static void text_append(etext *t, const char *s)
{
    if (t->full || !t->size) return;
    size_t room = t->size - 1 - t->n, k = strlen(s);
    if (k > room) {
        k = room;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        t->full = true;
    }
    memcpy(t->out + t->n, s, k);
    t->n += k;
    t->out[t->n] = '\0';
}

/* Written straight into out and cut there, so the first lines always survive (an
 * intermediate 64 KiB buffer used to drop any part longer than itself). */
bool octo_error_text(const char *body, size_t len, char *out, size_t out_size)
{
    if (out_size) out[0] = '\0';
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return false;
    }
    etext t = {out, out_size, 0, false};
    const char *msg = json_string_value(json_object_get(j, "ErrorMessage"));
    json_t *errs = json_object_get(j, "Errors");
    bool has_msg = msg && *msg, any = has_msg, first = true;
    if (has_msg) text_append(&t, msg);
    for (size_t i = 0; json_is_array(errs) && i < json_array_size(errs); i++) {
        const char *e = json_string_value(json_array_get(errs, i));
        if (!e || !*e) continue;
        if (any) text_append(&t, first && has_msg ? ": " : "; ");
        text_append(&t, e);
        any = true;
        first = false;
    }
    json_decref(j);
    return any;
}

/* Sets obj[key] = s; a string jansson refuses is invalid UTF-8, not OOM. */
static of_err set_str(json_t *obj, const char *key, const char *s, char *errstr, size_t n)
{
    json_t *v = json_string(s);
    if (!v)
        return of_seterr(errstr, n, OF_ERR_INVALID, "create deployment: %s is not valid UTF-8",
                         key);
    if (json_object_set_new(obj, key, v))
        return of_seterr(errstr, n, OF_ERR_NOMEM, "create deployment: out of memory");
    return OF_OK;
}

of_err octo_encode_deploy(const of_octo_deploy_req *req, char **out, char *errstr,
                          size_t errstr_size)
{
    *out = NULL;
    if (!req->release_id || !*req->release_id || !req->environment_id || !*req->environment_id)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "create deployment: release id and environment id are required");
    if (req->dedupe_key && (!req->comments || !strstr(req->comments, req->dedupe_key)))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "create deployment: the dedupe key must appear in the comments");
    json_t *j = json_object();
    json_t *form = json_object();
    char ts[40];
    of_err rc = (j && form) ? OF_OK
                            : of_seterr(errstr, errstr_size, OF_ERR_NOMEM,
                                        "create deployment: out of memory");
    if (!rc) rc = set_str(j, "ReleaseId", req->release_id, errstr, errstr_size);
    if (!rc) rc = set_str(j, "EnvironmentId", req->environment_id, errstr, errstr_size);
    if (!rc && req->tenant_id) rc = set_str(j, "TenantId", req->tenant_id, errstr, errstr_size);
    if (!rc && req->comments) rc = set_str(j, "Comments", req->comments, errstr, errstr_size);
    if (!rc && json_object_set_new(j, "UseGuidedFailure", json_boolean(req->use_guided_failure)))
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "create deployment: out of memory");
    for (size_t i = 0; !rc && i < req->nform; i++) {
        if (!req->form_names[i] || !req->form_values[i])
            rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                           "create deployment: form value %zu has no name or value", i);
        else
            rc = set_str(form, req->form_names[i], req->form_values[i], errstr, errstr_size);
    }
    if (!rc && req->nform && json_object_set(j, "FormValues", form))
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "create deployment: out of memory");
    if (!rc && req->queue_time_ms > 0)
        rc = set_str(j, "QueueTime", of_rfc3339(req->queue_time_ms, ts, sizeof(ts)), errstr,
                     errstr_size);
    if (!rc && req->queue_time_expiry_ms > 0)
        rc = set_str(j, "QueueTimeExpiry", of_rfc3339(req->queue_time_expiry_ms, ts, sizeof(ts)),
                     errstr, errstr_size);
    if (!rc) {
        *out = json_dumps(j, JSON_COMPACT);
        if (!*out)
            rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "create deployment: out of memory");
    }
    json_decref(form);
    json_decref(j);
    return rc;
}
