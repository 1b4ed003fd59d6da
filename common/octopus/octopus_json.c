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
#include "ojson.h"

/* Each decoder reads with one oj_reader (common/json/ojson.h) in its OJ_REPLY style: errors
 * say "<Kind>[ <Id>]: field \"<Field>\": expected ..., got ..." with OF_ERR_PROTOCOL. */

/* A reader's verdict: on error the resource goes (free) and the reader's rc is returned. */
#define DECODED(r, free_fn, out) ((r).rc ? (free_fn(out), (r).rc) : OF_OK)

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

void of_octo_ref_clear(of_octo_ref *r)
{
    if (!r) return;
    free(r->id);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_ref(json_t *j, const char *kind, of_octo_ref *out, char *errstr,
                       size_t errstr_size)
{
    oj_reader r = oj_reader_reply(kind, errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->name = oj_strdup(&r, j, "", "Name", true);
    return DECODED(r, of_octo_ref_clear, out);
}

void of_octo_root_clear(of_octo_root *r)
{
    if (!r) return;
    free(r->application);
    free(r->version);
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_root(json_t *j, of_octo_root *out, char *errstr, size_t errstr_size)
{
    oj_reader r = oj_reader_reply("root document", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    out->application = oj_strdup(&r, j, "", "Application", false);
    out->version = oj_strdup(&r, j, "", "Version", false);
    json_t *links = r.rc ? NULL : json_object_get(j, "Links");
    if (links && !json_is_object(links)) /* null too: a root always has its Links */
        oj_expected(&r, "", "Links", OJ_OBJECT, links);
    out->has_spaces = !r.rc && links && json_object_get(links, "Spaces");
    return DECODED(r, of_octo_root_clear, out);
}

void of_octo_space_clear(of_octo_space *s)
{
    if (!s) return;
    free(s->id);
    free(s->name);
    memset(s, 0, sizeof(*s));
}

of_err octo_decode_space(json_t *j, of_octo_space *out, char *errstr, size_t errstr_size)
{
    oj_reader r = oj_reader_reply("Space", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->name = oj_strdup(&r, j, "", "Name", true);
    out->is_default = oj_bool(&r, j, "", "IsDefault", false);
    return DECODED(r, of_octo_space_clear, out);
}

void of_octo_project_clear(of_octo_project *p)
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
    oj_reader r = oj_reader_reply("Project", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->name = oj_strdup(&r, j, "", "Name", true);
    out->slug = oj_strdup(&r, j, "", "Slug", false);
    out->lifecycle_id = oj_strdup(&r, j, "", "LifecycleId", false);
    out->is_disabled = oj_bool(&r, j, "", "IsDisabled", false);
    /* Missing means an old server without multi-tenancy: untenanted. */
    json_t *mode = oj_get(&r, j, "", "TenantedDeploymentMode", OJ_STRING, false);
    if (mode) {
        size_t i;
        for (i = 0; i < sizeof(tenanted_names) / sizeof(tenanted_names[0]); i++)
            if (strcmp(json_string_value(mode), tenanted_names[i].name) == 0) break;
        if (i == sizeof(tenanted_names) / sizeof(tenanted_names[0]))
            oj_fail_at(&r, "", "TenantedDeploymentMode", "unknown value \"%s\"",
                       json_string_value(mode));
        else
            out->tenanted = tenanted_names[i].mode;
    }
    return DECODED(r, of_octo_project_clear, out);
}

void of_octo_tenant_clear(of_octo_tenant *t)
{
    if (!t) return;
    free(t->id);
    free(t->name);
    of_strv_free(t->tags, t->ntags);
    for (size_t i = 0; i < t->nprojects; i++) {
        free(t->projects[i].project_id);
        of_strv_free(t->projects[i].environment_ids, t->projects[i].n);
    }
    free(t->projects);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_tenant(json_t *j, of_octo_tenant *out, char *errstr, size_t errstr_size)
{
    oj_reader r = oj_reader_reply("Tenant", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->name = oj_strdup(&r, j, "", "Name", true);
    out->is_disabled = oj_bool(&r, j, "", "IsDisabled", false);
    oj_strv(&r, json_object_get(j, "TenantTags"), "", "TenantTags", 0, 0, &out->tags, &out->ntags);
    json_t *pe = oj_get(&r, j, "", "ProjectEnvironments", OJ_OBJECT, false);
    if (pe && json_object_size(pe) > 0) {
        out->projects = calloc(json_object_size(pe), sizeof(*out->projects));
        if (!out->projects) oj_nomem(&r);
        const char *pid;
        json_t *envs;
        json_object_foreach(pe, pid, envs)
        {
            if (r.rc) break;
            of_octo_project_envs *p = &out->projects[out->nprojects];
            p->project_id = oj_dup(&r, pid);
            if (r.rc) break;
            out->nprojects++;
            oj_strv(&r, envs, "", "ProjectEnvironments", 0, 0, &p->environment_ids, &p->n);
        }
    }
    return DECODED(r, of_octo_tenant_clear, out);
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

void of_octo_tenant_list_clear(of_octo_tenant_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_tenant_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

void of_octo_release_clear(of_octo_release *r)
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
    oj_reader r = oj_reader_reply("Release", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->version = oj_strdup(&r, j, "", "Version", true);
    out->project_id = oj_strdup(&r, j, "", "ProjectId", true);
    out->channel_id = oj_strdup(&r, j, "", "ChannelId", false);
    return DECODED(r, of_octo_release_clear, out);
}

static void free_refs(of_octo_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        of_octo_ref_clear(&r[i]);
    free(r);
}

/* An array of {Id, Name} (environment references). */
static void decode_refs(oj_reader *r, json_t *obj, const char *field, of_octo_ref **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *v = oj_get(r, obj, "", field, OJ_ARRAY, false);
    if (!v || json_array_size(v) == 0) return;
    *out = calloc(json_array_size(v), sizeof(**out));
    if (!*out) {
        oj_nomem(r);
        return;
    }
    for (size_t i = 0; !r->rc && i < json_array_size(v); i++) {
        /* each one says what it is: "Environment reference Environments-1: ..." */
        r->rc = octo_decode_ref(json_array_get(v, i), "Environment reference", &(*out)[i],
                                r->errstr, r->errstr_size);
        if (!r->rc) *n = i + 1;
    }
}

void of_octo_template_clear(of_octo_template *t)
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
    oj_reader r = oj_reader_reply("Deployment template", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    decode_refs(&r, j, "PromoteTo", &out->promote_to, &out->n);
    json_t *tp = oj_get(&r, j, "", "TenantPromotions", OJ_ARRAY, false);
    if (tp && json_array_size(tp) > 0) {
        out->tenants = calloc(json_array_size(tp), sizeof(*out->tenants));
        if (!out->tenants) oj_nomem(&r);
        for (size_t i = 0; !r.rc && i < json_array_size(tp); i++) {
            json_t *e = json_array_get(tp, i);
            of_octo_tenant_promotion *p = &out->tenants[i];
            oj_reader tr = oj_reader_reply("Tenant promotion", errstr, errstr_size);
            out->ntenants = i + 1;
            oj_need_object(&tr, e, "");
            tr.id = p->tenant_id = oj_strdup(&tr, e, "", "Id", true);
            p->tenant_name = oj_strdup(&tr, e, "", "Name", false);
            decode_refs(&tr, e, "PromoteTo", &p->promote_to, &p->n);
            r.rc = tr.rc;
        }
    }
    return DECODED(r, of_octo_template_clear, out);
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

void of_octo_deployment_clear(of_octo_deployment *dep)
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
    oj_reader r = oj_reader_reply("Deployment", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    out->project_id = oj_strdup(&r, j, "", "ProjectId", false);
    out->release_id = oj_strdup(&r, j, "", "ReleaseId", true);
    out->environment_id = oj_strdup(&r, j, "", "EnvironmentId", true);
    out->tenant_id = oj_strdup(&r, j, "", "TenantId", false);
    out->task_id = oj_strdup(&r, j, "", "TaskId", true);
    out->comments = oj_strdup(&r, j, "", "Comments", false);
    out->created_ms = oj_time(&r, j, "", "Created", -1);
    json_t *links = r.rc ? NULL : json_object_get(j, "Links");
    if (json_is_object(links)) out->web_link = oj_strdup(&r, links, "", "Web", false);
    return DECODED(r, of_octo_deployment_clear, out);
}

void of_octo_deployment_list_clear(of_octo_deployment_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_deployment_clear(&l->items[i]);
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

void of_octo_task_clear(of_octo_task *t)
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
    oj_reader r = oj_reader_reply("Task", errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    oj_need_object(&r, j, "");
    r.id = out->id = oj_strdup(&r, j, "", "Id", true);
    json_t *state = oj_get(&r, j, "", "State", OJ_STRING, true);
    if (state && of_octo_task_state_parse(json_string_value(state), &out->state) != OF_OK)
        oj_fail_at(&r, "", "State", "unknown task state \"%s\"", json_string_value(state));
    out->has_pending_interruptions = oj_bool(&r, j, "", "HasPendingInterruptions", false);
    out->error_message = oj_strdup(&r, j, "", "ErrorMessage", false);
    if (!r.rc && !out->error_message) out->error_message = oj_dup(&r, "");
    out->description = oj_strdup(&r, j, "", "Description", false);
    out->queue_time_ms = oj_time(&r, j, "", "QueueTime", -1);
    out->start_time_ms = oj_time(&r, j, "", "StartTime", -1);
    out->completed_time_ms = oj_time(&r, j, "", "CompletedTime", -1);
    json_t *args = r.rc ? NULL : json_object_get(j, "Arguments");
    if (json_is_object(args)) out->deployment_id = oj_strdup(&r, args, "", "DeploymentId", false);
    out->found = !r.rc;
    return DECODED(r, of_octo_task_clear, out);
}

void of_octo_task_list_clear(of_octo_task_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_task_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- envelopes and errors ---------------------------------------------- */

of_err octo_decode_page(json_t *j, const char *kind, json_t **items, size_t *total, char *errstr,
                        size_t errstr_size)
{
    oj_reader r = oj_reader_reply(kind, errstr, errstr_size);
    oj_need_object(&r, j, "");
    json_t *it = r.rc ? NULL : json_object_get(j, "Items");
    if (!r.rc && !json_is_array(it)) oj_expected(&r, "", "Items", OJ_ARRAY, it);
    json_t *tr = r.rc ? NULL : json_object_get(j, "TotalResults");
    if (tr && !json_is_integer(tr)) /* null too: a page has a count or none */
        oj_expected(&r, "", "TotalResults", OJ_INTEGER, tr);
    if (r.rc) return r.rc;
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
