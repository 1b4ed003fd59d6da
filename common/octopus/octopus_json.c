/* Decoding Octopus resources with jansson, and the resource free functions.
 *
 * Every decoder copies what it keeps out of the json_t (the tree is freed
 * right after), checks types, and names the resource and the field when
 * something is missing or of the wrong type, so a changed server shows up as
 * a clear OF_ERR_PROTOCOL instead of a NULL dereference three modules away. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "heap.h"
#include "log.h"
#include "octopus_internal.h"
#include "ojson.h"

/* Each decoder reads with one oj_reader (common/json/ojson.h) in its OJ_REPLY style: errors
 * say "<Kind>[ <Id>]: field \"<Field>\": expected ..., got ..." with OF_ERR_PROTOCOL. */

/* A reader's verdict: on error the resource goes (free) and the reader's rc is returned. */
#define DECODED(r, free_fn, out) ((r).rc ? (free_fn(out), (r).rc) : OF_OK)

of_err octo_parse_body(const char *body, size_t len, const oj_keep *keep, json_t **out,
                       char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    *out = oj_parse_keep(body, len, keep, &jerr);
    if (!*out)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "reply is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    return OF_OK;
}

enum { BIG_BODY = 1024 * 1024 };

void octo_free_body(json_t *j, size_t len)
{
    json_decref(j);
    if (j && len >= BIG_BODY) of_heap_trim();
}

/* ---- the field tables ----------------------------------------------------
 * A resource's flat fields are one table each, read in table order (the first error is the
 * one reported, so the order is part of what a reply with several faults says) and freed by
 * the same table. What is nested or needs a decision (Links, arrays of references, enums)
 * stays explicit code after the walk, or, where it sits between plain fields, a FK_CALL row. */

typedef enum field_kind {
    FK_ID,   /* char *: required; names the resource in every later error */
    FK_STR,  /* char *: NULL when absent or null */
    FK_TEXT, /* char *: "" when absent or null */
    FK_BOOL, /* bool: false when absent or null */
    FK_TIME, /* int64_t ms since the epoch: -1 when absent or null */
    FK_STRV, /* char ** at off, its count (size_t) at off_n: none when absent or null */
    FK_CALL, /* read() reads it */
} field_kind;

typedef struct octo_field {
    const char *name; /* the JSON field */
    field_kind kind;
    bool required; /* FK_STR: absent or null is an error */
    size_t off;    /* offsetof the member in the output struct */
    size_t off_n;  /* FK_STRV: offsetof the count */
    void (*read)(oj_reader *r, json_t *j, const char *key, void *out); /* FK_CALL */
} octo_field;

#define FIELD(T, json, kind, required, member)                   \
    {                                                            \
        (json), (kind), (required), offsetof(T, member), 0, NULL \
    }
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Starts decoding j as a resource of this kind: zeroes out, checks j is an object and reads
 * the table's fields. The reader carries the first error, if any. */
static oj_reader decode_fields_in(of_strpool *pool, json_t *j, const char *kind, void *out,
                                  size_t out_size, const octo_field *f, size_t n, char *errstr,
                                  size_t errstr_size)
{
    oj_reader r = oj_reader_reply(kind, errstr, errstr_size);
    r.pool = pool;
    char *base = out;
    memset(out, 0, out_size);
    oj_need_object(&r, j, "");
    for (size_t i = 0; i < n; i++, f++) {
        void *at = base + f->off;
        switch (f->kind) {
        case FK_ID:
            r.id = *(char **)at = oj_strdup(&r, j, "", f->name, true);
            break;
        case FK_STR:
            *(char **)at = oj_strdup(&r, j, "", f->name, f->required);
            break;
        case FK_TEXT:
            *(char **)at = oj_strdup(&r, j, "", f->name, false);
            if (!r.rc && !*(char **)at) *(char **)at = oj_dup(&r, "");
            break;
        case FK_BOOL:
            *(bool *)at = oj_bool(&r, j, "", f->name, false);
            break;
        case FK_TIME:
            *(int64_t *)at = oj_time(&r, j, "", f->name, -1);
            break;
        case FK_STRV:
            oj_strv(&r, json_object_get(j, f->name), "", f->name, 0, 0, (char ***)at,
                    (size_t *)(void *)(base + f->off_n));
            break;
        case FK_CALL:
            f->read(&r, j, f->name, out);
            break;
        }
    }
    return r;
}

/* decode_fields_in with malloc'ed strings: the usual way. */
static oj_reader decode_fields(json_t *j, const char *kind, void *out, size_t out_size,
                               const octo_field *f, size_t n, char *errstr, size_t errstr_size)
{
    return decode_fields_in(NULL, j, kind, out, out_size, f, n, errstr, errstr_size);
}

/* Frees what the table's fields own in out (not the rest of it, nor out). */
static void free_fields(void *out, const octo_field *f, size_t n)
{
    char *base = out;
    for (size_t i = 0; i < n; i++, f++) {
        void *at = base + f->off;
        if (f->kind == FK_ID || f->kind == FK_STR || f->kind == FK_TEXT)
            free(*(char **)at);
        else if (f->kind == FK_STRV)
            of_strv_free(*(char ***)at, *(size_t *)(void *)(base + f->off_n));
    }
}

/* ---- resources ----------------------------------------------------------- */

static const octo_field ref_fields[] = {
    FIELD(of_octo_ref, "Id", FK_ID, true, id),
    FIELD(of_octo_ref, "Name", FK_STR, true, name),
};

void of_octo_ref_clear(of_octo_ref *r)
{
    if (!r) return;
    free_fields(r, ref_fields, NFIELDS(ref_fields));
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_ref(json_t *j, const char *kind, of_octo_ref *out, char *errstr,
                       size_t errstr_size)
{
    oj_reader r = decode_fields(j, kind, out, sizeof(*out), ref_fields, NFIELDS(ref_fields), errstr,
                                errstr_size);
    return DECODED(r, of_octo_ref_clear, out);
}

static const octo_field root_fields[] = {
    FIELD(of_octo_root, "Application", FK_STR, false, application),
    FIELD(of_octo_root, "Version", FK_STR, false, version),
};

void of_octo_root_clear(of_octo_root *r)
{
    if (!r) return;
    free_fields(r, root_fields, NFIELDS(root_fields));
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_root(json_t *j, of_octo_root *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "root document", out, sizeof(*out), root_fields,
                                NFIELDS(root_fields), errstr, errstr_size);
    json_t *links = r.rc ? NULL : json_object_get(j, "Links");
    if (links && !json_is_object(links)) /* null too: a root always has its Links */
        oj_expected(&r, "", "Links", OJ_OBJECT, links);
    out->has_spaces = !r.rc && links && json_object_get(links, "Spaces");
    return DECODED(r, of_octo_root_clear, out);
}

static const octo_field space_fields[] = {
    FIELD(of_octo_space, "Id", FK_ID, true, id),
    FIELD(of_octo_space, "Name", FK_STR, true, name),
    FIELD(of_octo_space, "IsDefault", FK_BOOL, false, is_default),
};

void of_octo_space_clear(of_octo_space *s)
{
    if (!s) return;
    free_fields(s, space_fields, NFIELDS(space_fields));
    memset(s, 0, sizeof(*s));
}

of_err octo_decode_space(json_t *j, of_octo_space *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Space", out, sizeof(*out), space_fields, NFIELDS(space_fields),
                                errstr, errstr_size);
    return DECODED(r, of_octo_space_clear, out);
}

static const octo_field project_fields[] = {
    FIELD(of_octo_project, "Id", FK_ID, true, id),
    FIELD(of_octo_project, "Name", FK_STR, true, name),
    FIELD(of_octo_project, "Slug", FK_STR, false, slug),
    FIELD(of_octo_project, "LifecycleId", FK_STR, false, lifecycle_id),
    FIELD(of_octo_project, "IsDisabled", FK_BOOL, false, is_disabled),
};

void of_octo_project_clear(of_octo_project *p)
{
    if (!p) return;
    free_fields(p, project_fields, NFIELDS(project_fields));
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
    oj_reader r = decode_fields(j, "Project", out, sizeof(*out), project_fields,
                                NFIELDS(project_fields), errstr, errstr_size);
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

static const octo_field tenant_fields[] = {
    FIELD(of_octo_tenant, "Id", FK_ID, true, id),
    FIELD(of_octo_tenant, "Name", FK_STR, true, name),
    FIELD(of_octo_tenant, "IsDisabled", FK_BOOL, false, is_disabled),
    {"TenantTags", FK_STRV, false, offsetof(of_octo_tenant, tags), offsetof(of_octo_tenant, ntags),
     NULL},
};

void of_octo_tenant_clear(of_octo_tenant *t)
{
    if (!t) return;
    if (t->pooled) {
        free(t->tags);
        for (size_t i = 0; i < t->nprojects; i++)
            free(t->projects[i].environment_ids);
    } else {
        free_fields(t, tenant_fields, NFIELDS(tenant_fields));
        for (size_t i = 0; i < t->nprojects; i++) {
            free(t->projects[i].project_id);
            of_strv_free(t->projects[i].environment_ids, t->projects[i].n);
        }
    }
    free(t->projects);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_tenant_in(of_strpool *pool, json_t *j, of_octo_tenant *out, char *errstr,
                             size_t errstr_size)
{
    oj_reader r = decode_fields_in(pool, j, "Tenant", out, sizeof(*out), tenant_fields,
                                   NFIELDS(tenant_fields), errstr, errstr_size);
    out->pooled = pool != NULL;
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
    of_strpool_free(l->strings);
    memset(l, 0, sizeof(*l));
}

static const octo_field release_fields[] = {
    FIELD(of_octo_release, "Id", FK_ID, true, id),
    FIELD(of_octo_release, "Version", FK_STR, true, version),
    FIELD(of_octo_release, "ProjectId", FK_STR, true, project_id),
    FIELD(of_octo_release, "ChannelId", FK_STR, false, channel_id),
};

void of_octo_release_clear(of_octo_release *r)
{
    if (!r) return;
    free_fields(r, release_fields, NFIELDS(release_fields));
    memset(r, 0, sizeof(*r));
}

of_err octo_decode_release(json_t *j, of_octo_release *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Release", out, sizeof(*out), release_fields,
                                NFIELDS(release_fields), errstr, errstr_size);
    return DECODED(r, of_octo_release_clear, out);
}

static void free_refs(of_octo_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        of_octo_ref_clear(&r[i]);
    free(r);
}

/* An array field of objects, each decoded by one(); *n counts the ones started (so a clear
 * frees a half-decoded item too). */
static void decode_each(oj_reader *r, json_t *obj, const char *field, void **out, size_t *n,
                        size_t size, void (*one)(oj_reader *r, json_t *j, void *item))
{
    *out = NULL;
    *n = 0;
    json_t *v = oj_get(r, obj, "", field, OJ_ARRAY, false);
    if (!v || json_array_size(v) == 0) return;
    *out = calloc(json_array_size(v), size);
    if (!*out) {
        oj_nomem(r);
        return;
    }
    for (size_t i = 0; !r->rc && i < json_array_size(v); i++) {
        (*n)++;
        one(r, json_array_get(v, i), (char *)*out + i * size);
    }
}

/* ---- deployment template -------------------------------------------------- */

void of_octo_template_clear(of_octo_template *t)
{
    if (!t) return;
    free_refs(t->envs, t->nenvs);
    free(t->sets);
    free(t->tenant_ids);
    free(t->tenant_set);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

/* Checks a PromoteTo array (each entry an {Id, Name} reference) and, when t is given, adds
 * the environments it names to t->envs (once each) or, when set is given, sets their bits. */
static void template_refs(oj_reader *r, json_t *obj, of_octo_template *t, size_t *cap,
                          uint64_t *set)
{
    json_t *v = oj_get(r, obj, "", "PromoteTo", OJ_ARRAY, false);
    for (size_t i = 0; v && !r->rc && i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        /* each one says what it is: "Environment reference Environments-1: ..." */
        oj_reader er = oj_reader_reply("Environment reference", r->errstr, r->errstr_size);
        oj_need_object(&er, e, "");
        json_t *id = oj_get(&er, e, "", "Id", OJ_STRING, true);
        if (id) er.id = json_string_value(id);
        json_t *name = oj_get(&er, e, "", "Name", OJ_STRING, true);
        if (er.rc) {
            r->rc = er.rc;
            return;
        }
        size_t k = 0;
        while (k < t->nenvs && strcmp(t->envs[k].id, er.id) != 0)
            k++;
        if (set) {
            set[k / 64] |= UINT64_C(1) << (k % 64); /* pass 1 put every id in envs */
            continue;
        }
        if (k < t->nenvs) continue;
        if (of_grow((void **)&t->envs, cap, t->nenvs, sizeof(*t->envs))) {
            oj_nomem(r);
            return;
        }
        of_octo_ref *ref = &t->envs[t->nenvs];
        ref->id = oj_dup(r, er.id);
        ref->name = oj_dup(r, json_string_value(name));
        if (ref->id || ref->name) t->nenvs++; /* so a clear frees a half-copied one */
    }
}

typedef struct tpl_key {
    const char *id;
    size_t set;
} tpl_key;

/* By id, then by order in the reply, so a repeated id's first entry comes first. */
static int tpl_key_cmp(const void *a, const void *b)
{
    const tpl_key *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->set > y->set) - (x->set < y->set);
}

/* Pass 1 checks every field, collects the environments and sizes the ids; pass 2 fills the bit
 * sets and copies the ids into one block; then the ids are sorted for a binary search. */
of_err octo_decode_template(json_t *j, of_octo_template *out, char *errstr, size_t errstr_size)
{
    oj_reader r =
        decode_fields(j, "Deployment template", out, sizeof(*out), NULL, 0, errstr, errstr_size);
    size_t cap = 0, text_len = 0;
    template_refs(&r, j, out, &cap, NULL);
    json_t *tp = oj_get(&r, j, "", "TenantPromotions", OJ_ARRAY, false);
    size_t n = tp ? json_array_size(tp) : 0;
    for (size_t i = 0; !r.rc && i < n; i++) {
        json_t *e = json_array_get(tp, i);
        oj_reader tr = oj_reader_reply("Tenant promotion", errstr, errstr_size);
        oj_need_object(&tr, e, "");
        json_t *id = oj_get(&tr, e, "", "Id", OJ_STRING, true);
        if (id) tr.id = json_string_value(id);
        (void)oj_get(&tr, e, "", "Name", OJ_STRING, false);
        if (!tr.rc) {
            text_len += strlen(tr.id) + 1;
            template_refs(&tr, e, out, &cap, NULL);
        }
        r.rc = tr.rc;
    }
    if (r.rc) return DECODED(r, of_octo_template_clear, out);

    out->words = (out->nenvs + 63) / 64;
    out->sets = calloc((1 + n) * (out->words ? out->words : 1), sizeof(*out->sets));
    out->text = malloc(text_len ? text_len : 1);
    tpl_key *keys = calloc(n ? n : 1, sizeof(*keys));
    out->tenant_ids = calloc(n ? n : 1, sizeof(*out->tenant_ids));
    out->tenant_set = calloc(n ? n : 1, sizeof(*out->tenant_set));
    if (!out->sets || !out->text || !keys || !out->tenant_ids || !out->tenant_set) oj_nomem(&r);
    template_refs(&r, j, out, &cap, out->sets);
    char *at = out->text;
    for (size_t i = 0; !r.rc && i < n; i++) {
        json_t *e = json_array_get(tp, i);
        const char *id = json_string_value(json_object_get(e, "Id"));
        size_t len = strlen(id) + 1;
        memcpy(at, id, len);
        keys[i] = (tpl_key){at, i};
        at += len;
        template_refs(&r, e, out, &cap, out->sets + (1 + i) * out->words);
    }
    if (!r.rc) {
        qsort(keys, n, sizeof(*keys), tpl_key_cmp);
        for (size_t i = 0; i < n; i++) {
            out->tenant_ids[i] = keys[i].id;
            out->tenant_set[i] = keys[i].set;
        }
        out->ntenants = n;
    }
    free(keys);
    return DECODED(r, of_octo_template_clear, out);
}

/* Whether environment_id's bit is set in set. */
static bool template_set_has(const of_octo_template *t, const uint64_t *set,
                             const char *environment_id)
{
    for (size_t k = 0; k < t->nenvs; k++)
        if (strcmp(t->envs[k].id, environment_id) == 0) return (set[k / 64] >> (k % 64)) & 1;
    return false;
}

static int tenant_id_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

bool of_octo_template_allows(const of_octo_template *t, const char *environment_id,
                             const char *tenant_id)
{
    if (!t->sets) return false;
    if (!tenant_id) return template_set_has(t, t->sets, environment_id);
    const char **at =
        bsearch(tenant_id, t->tenant_ids, t->ntenants, sizeof(*t->tenant_ids), tenant_id_cmp);
    if (!at) return false;
    while (at > t->tenant_ids && strcmp(at[-1], tenant_id) == 0)
        at--; /* a repeated tenant id answers from its first entry, as Octopus lists it */
    size_t set = t->tenant_set[at - t->tenant_ids];
    return template_set_has(t, t->sets + (1 + set) * t->words, environment_id);
}

static const octo_field deployment_fields[] = {
    FIELD(of_octo_deployment, "Id", FK_ID, true, id),
    FIELD(of_octo_deployment, "ProjectId", FK_STR, false, project_id),
    FIELD(of_octo_deployment, "ReleaseId", FK_STR, true, release_id),
    FIELD(of_octo_deployment, "EnvironmentId", FK_STR, true, environment_id),
    FIELD(of_octo_deployment, "TenantId", FK_STR, false, tenant_id),
    FIELD(of_octo_deployment, "TaskId", FK_STR, true, task_id),
    FIELD(of_octo_deployment, "Comments", FK_STR, false, comments),
    FIELD(of_octo_deployment, "Created", FK_TIME, false, created_ms),
};

void of_octo_deployment_clear(of_octo_deployment *dep)
{
    if (!dep) return;
    free_fields(dep, deployment_fields, NFIELDS(deployment_fields));
    free(dep->web_link);
    memset(dep, 0, sizeof(*dep));
}

of_err octo_decode_deployment(json_t *j, of_octo_deployment *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Deployment", out, sizeof(*out), deployment_fields,
                                NFIELDS(deployment_fields), errstr, errstr_size);
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

/* State sits between plain fields: a FK_CALL row keeps the reading order. */
static void read_task_state(oj_reader *r, json_t *j, const char *key, void *out)
{
    of_octo_task *t = out;
    json_t *state = oj_get(r, j, "", key, OJ_STRING, true);
    if (state && of_octo_task_state_parse(json_string_value(state), &t->state) != OF_OK)
        oj_fail_at(r, "", key, "unknown task state \"%s\"", json_string_value(state));
}

static const octo_field task_fields[] = {
    FIELD(of_octo_task, "Id", FK_ID, true, id),
    {"State", FK_CALL, true, 0, 0, read_task_state},
    FIELD(of_octo_task, "HasPendingInterruptions", FK_BOOL, false, has_pending_interruptions),
    FIELD(of_octo_task, "ErrorMessage", FK_TEXT, false, error_message),
    FIELD(of_octo_task, "Description", FK_STR, false, description),
    FIELD(of_octo_task, "QueueTime", FK_TIME, false, queue_time_ms),
    FIELD(of_octo_task, "StartTime", FK_TIME, false, start_time_ms),
    FIELD(of_octo_task, "CompletedTime", FK_TIME, false, completed_time_ms),
};

void of_octo_task_clear(of_octo_task *t)
{
    if (!t) return;
    free_fields(t, task_fields, NFIELDS(task_fields));
    free(t->deployment_id);
    free(t->problem);
    memset(t, 0, sizeof(*t));
}

of_err octo_decode_task(json_t *j, of_octo_task *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Task", out, sizeof(*out), task_fields, NFIELDS(task_fields),
                                errstr, errstr_size);
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

/* ---- events ------------------------------------------------------------ */

/* AutoId is what fromAutoId compares, but the official models (OctopusClients' EventResource,
 * go-octopusdeploy's Event) do not carry it, so a server or proxy that serialises those models
 * leaves it out. Then the number in Id ("Events-N") stands in: Octopus numbers both from the
 * same sequence. Neither: -1, an event that moves no position. */
static void read_auto_id(oj_reader *r, json_t *j, const char *key, void *out)
{
    of_octo_event *e = out;
    e->auto_id = -1;
    json_t *v = json_object_get(j, key);
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            oj_fail_at(r, "", key, "expected an integer >= 0");
        else
            e->auto_id = (int64_t)json_integer_value(v);
        return;
    }
    const char *dash = e->id ? strrchr(e->id, '-') : NULL;
    if (!dash || !dash[1]) return;
    int64_t n = 0;
    for (const char *p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10) return;
        n = n * 10 + (*p - '0');
    }
    e->auto_id = n;
}

static const octo_field event_fields[] = {
    FIELD(of_octo_event, "Id", FK_ID, true, id),
    {"AutoId", FK_CALL, false, 0, 0, read_auto_id},
    FIELD(of_octo_event, "Category", FK_STR, true, category),
    {"RelatedDocumentIds", FK_STRV, false, offsetof(of_octo_event, related),
     offsetof(of_octo_event, nrelated), NULL},
    FIELD(of_octo_event, "Occurred", FK_TIME, false, occurred_ms),
};

/* ---- what of the hot replies is built ------------------------------------
 * The members each decoder reads: its table's fields, the nested ones its code reads, and Id
 * and Name (the pager compares pages by them). The rest of a reply (an event's MessageHtml
 * and MessageReferences, a task's Links: most of its bytes) is checked and dropped unbuilt
 * (oj_parse_keep). test_octopus_unit checks that every table field is listed here. */

#define KEEP_END   \
    {              \
        NULL, NULL \
    }
#define KEEP(name)   \
    {                \
        (name), NULL \
    }
static const oj_keep keep_links_web[] = {KEEP("Web"), KEEP_END};
static const oj_keep keep_task_args[] = {KEEP("DeploymentId"), KEEP_END};

const oj_keep octo_keep_deployment[] = {
    KEEP("Id"),
    KEEP("Name"),
    KEEP("ProjectId"),
    KEEP("ReleaseId"),
    KEEP("EnvironmentId"),
    KEEP("TenantId"),
    KEEP("TaskId"),
    KEEP("Comments"),
    KEEP("Created"),
    {"Links", keep_links_web},
    KEEP_END,
};
const oj_keep octo_keep_task[] = {
    KEEP("Id"),
    KEEP("Name"),
    KEEP("State"),
    KEEP("HasPendingInterruptions"),
    KEEP("ErrorMessage"),
    KEEP("Description"),
    KEEP("QueueTime"),
    KEEP("StartTime"),
    KEEP("CompletedTime"),
    {"Arguments", keep_task_args},
    KEEP_END,
};
const oj_keep octo_keep_event[] = {
    KEEP("Id"),       KEEP("Name"), KEEP("AutoId"), KEEP("Category"), KEEP("RelatedDocumentIds"),
    KEEP("Occurred"), KEEP_END,
};
/* octo_decode_page reads Items and TotalResults. */
#define PAGE_OF(item)                                     \
    {                                                     \
        {"Items", (item)}, KEEP("TotalResults"), KEEP_END \
    }
const oj_keep octo_keep_deployment_page[] = PAGE_OF(octo_keep_deployment);
const oj_keep octo_keep_task_page[] = PAGE_OF(octo_keep_task);
const oj_keep octo_keep_event_page[] = PAGE_OF(octo_keep_event);

static const char *keep_missing(const oj_keep *keep, const octo_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const oj_keep *k = keep;
        while (k->name && strcmp(k->name, f[i].name) != 0)
            k++;
        if (!k->name) return f[i].name;
    }
    return NULL;
}

const char *octo_keep_check(void)
{
    static const struct {
        const oj_keep *keep;
        const octo_field *fields;
        size_t n;
    } t[] = {
        {octo_keep_deployment, deployment_fields, NFIELDS(deployment_fields)},
        {octo_keep_task, task_fields, NFIELDS(task_fields)},
        {octo_keep_event, event_fields, NFIELDS(event_fields)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *m = keep_missing(t[i].keep, t[i].fields, t[i].n);
        if (m) return m;
    }
    return NULL;
}

void of_octo_event_clear(of_octo_event *e)
{
    if (!e) return;
    free_fields(e, event_fields, NFIELDS(event_fields));
    memset(e, 0, sizeof(*e));
}

of_err octo_decode_event(json_t *j, of_octo_event *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Event", out, sizeof(*out), event_fields, NFIELDS(event_fields),
                                errstr, errstr_size);
    return DECODED(r, of_octo_event_clear, out);
}

void of_octo_event_list_clear(of_octo_event_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_event_clear(&l->items[i]);
    free(l->items);
    free(l->problem);
    memset(l, 0, sizeof(*l));
}

/* ---- server nodes ------------------------------------------------------ */

static void read_max_tasks(oj_reader *r, json_t *j, const char *key, void *out)
{
    ((of_octo_server_node *)out)->max_concurrent_tasks =
        (int)oj_int(r, j, "", key, false, 0, 1000000, 0);
}

static const octo_field server_node_fields[] = {
    FIELD(of_octo_server_node, "Id", FK_ID, true, id),
    FIELD(of_octo_server_node, "Name", FK_STR, false, name),
    {"MaxConcurrentTasks", FK_CALL, false, 0, 0, read_max_tasks},
    FIELD(of_octo_server_node, "IsInMaintenanceMode", FK_BOOL, false, in_maintenance),
};

void of_octo_server_node_clear(of_octo_server_node *n)
{
    if (!n) return;
    free_fields(n, server_node_fields, NFIELDS(server_node_fields));
    memset(n, 0, sizeof(*n));
}

static of_err decode_server_node(json_t *j, of_octo_server_node *out, char *errstr,
                                 size_t errstr_size)
{
    oj_reader r = decode_fields(j, "OctopusServerNode", out, sizeof(*out), server_node_fields,
                                NFIELDS(server_node_fields), errstr, errstr_size);
    return DECODED(r, of_octo_server_node_clear, out);
}

void of_octo_server_node_list_clear(of_octo_server_node_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        of_octo_server_node_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

of_err octo_decode_server_nodes(json_t *j, of_octo_server_node_list *out, char *errstr,
                                size_t errstr_size)
{
    json_t *items = j;
    size_t total = 0;
    of_err rc = OF_OK;
    memset(out, 0, sizeof(*out));
    /* Octopus pages it; a bare array is accepted too. A cluster has a handful of nodes: the
     * first page (take=100) is all of them. */
    if (!json_is_array(j))
        rc = octo_decode_page(j, "OctopusServerNode", &items, &total, errstr, errstr_size);
    size_t cnt = rc ? 0 : json_array_size(items);
    out->items = rc ? NULL : calloc(cnt ? cnt : 1, sizeof(*out->items));
    if (!rc && !out->items) rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cnt && !rc; i++) {
        rc = decode_server_node(json_array_get(items, i), &out->items[i], errstr, errstr_size);
        if (!rc) out->n++;
    }
    if (rc) of_octo_server_node_list_clear(out);
    return rc;
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

/* ---- deployment processes and release manifests (octopus_process.c) ------------------- */

#define FIELDV(T, json, member, count)                                        \
    {                                                                         \
        (json), FK_STRV, false, offsetof(T, member), offsetof(T, count), NULL \
    }

static void free_properties(of_octo_property *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].name), free(p[i].value);
    free(p);
}

const char *of_octo_property_get(const of_octo_property *props, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(props[i].name, name) == 0) return props[i].value;
    return NULL;
}

/* Properties: a map of strings; a sensitive value is an object (PropertyValueResource). */
static void decode_properties(oj_reader *r, json_t *obj, of_octo_property **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *v = oj_get(r, obj, "", "Properties", OJ_OBJECT, false);
    if (!v || json_object_size(v) == 0) return;
    *out = calloc(json_object_size(v), sizeof(**out));
    if (!*out) {
        oj_nomem(r);
        return;
    }
    const char *k;
    json_t *pv;
    json_object_foreach(v, k, pv)
    {
        if (r->rc) break;
        of_octo_property *p = &(*out)[(*n)++];
        p->name = oj_dup(r, k);
        if (json_is_string(pv))
            p->value = oj_dup(r, json_string_value(pv));
        else if (json_is_object(pv))
            p->sensitive = true;
        else if (!json_is_null(pv))
            oj_fail_at(r, "Properties.", k, "expected a string or a sensitive value");
    }
}

static const octo_field action_fields[] = {
    FIELD(of_octo_action, "Id", FK_ID, true, id),
    FIELD(of_octo_action, "Name", FK_STR, true, name),
    FIELD(of_octo_action, "ActionType", FK_STR, true, action_type),
    FIELD(of_octo_action, "IsDisabled", FK_BOOL, false, is_disabled),
    FIELDV(of_octo_action, "Environments", environments, nenvironments),
    FIELDV(of_octo_action, "ExcludedEnvironments", excluded_environments, nexcluded_environments),
    FIELDV(of_octo_action, "Channels", channels, nchannels),
    FIELDV(of_octo_action, "TenantTags", tenant_tags, ntenant_tags),
};

static const octo_field step_fields[] = {
    FIELD(of_octo_step, "Id", FK_ID, true, id),
    FIELD(of_octo_step, "Name", FK_STR, true, name),
    FIELD(of_octo_step, "Condition", FK_STR, true, condition),
    FIELD(of_octo_step, "StartTrigger", FK_STR, true, start_trigger),
    FIELD(of_octo_step, "PackageRequirement", FK_STR, false, package_requirement),
};

static const octo_field process_fields[] = {
    FIELD(of_octo_process, "Id", FK_ID, true, id),
    FIELD(of_octo_process, "ProjectId", FK_STR, false, project_id),
};

void of_octo_process_clear(of_octo_process *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nsteps; i++) {
        of_octo_step *s = &p->steps[i];
        for (size_t k = 0; k < s->nactions; k++) {
            free_fields(&s->actions[k], action_fields, NFIELDS(action_fields));
            free_properties(s->actions[k].properties, s->actions[k].nproperties);
        }
        free(s->actions);
        free_fields(s, step_fields, NFIELDS(step_fields));
        free_properties(s->properties, s->nproperties);
    }
    free(p->steps);
    free_fields(p, process_fields, NFIELDS(process_fields));
    memset(p, 0, sizeof(*p));
}

static void decode_action(oj_reader *r, json_t *j, void *item)
{
    of_octo_action *a = item;
    oj_reader ar = decode_fields(j, "Deployment action", a, sizeof(*a), action_fields,
                                 NFIELDS(action_fields), r->errstr, r->errstr_size);
    if (!ar.rc) decode_properties(&ar, j, &a->properties, &a->nproperties);
    r->rc = ar.rc;
}

static void decode_step(oj_reader *r, json_t *j, void *item)
{
    of_octo_step *s = item;
    oj_reader sr = decode_fields(j, "Deployment step", s, sizeof(*s), step_fields,
                                 NFIELDS(step_fields), r->errstr, r->errstr_size);
    if (!sr.rc) decode_properties(&sr, j, &s->properties, &s->nproperties);
    if (!sr.rc)
        decode_each(&sr, j, "Actions", (void **)&s->actions, &s->nactions, sizeof(*s->actions),
                    decode_action);
    r->rc = sr.rc;
}

of_err octo_decode_process(json_t *j, of_octo_process *out, char *errstr, size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Deployment process", out, sizeof(*out), process_fields,
                                NFIELDS(process_fields), errstr, errstr_size);
    if (!r.rc)
        decode_each(&r, j, "Steps", (void **)&out->steps, &out->nsteps, sizeof(*out->steps),
                    decode_step);
    return DECODED(r, of_octo_process_clear, out);
}

static const octo_field manifest_fields[] = {
    FIELD(of_octo_release_manifest, "Id", FK_ID, true, id),
    FIELD(of_octo_release_manifest, "Version", FK_STR, true, version),
    FIELD(of_octo_release_manifest, "ProjectId", FK_STR, true, project_id),
    FIELD(of_octo_release_manifest, "ProjectDeploymentProcessSnapshotId", FK_STR, false,
          process_snapshot_id),
};

void of_octo_release_manifest_clear(of_octo_release_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->npackages; i++)
        free(m->packages[i].action_name), free(m->packages[i].package_reference_name),
            free(m->packages[i].version);
    free(m->packages);
    free_fields(m, manifest_fields, NFIELDS(manifest_fields));
    memset(m, 0, sizeof(*m));
}

static void decode_package(oj_reader *r, json_t *j, void *item)
{
    of_octo_selected_package *p = item;
    if (!oj_need_object(r, j, "SelectedPackages[]")) return;
    p->action_name = oj_strdup(r, j, "SelectedPackages[].", "ActionName", false);
    if (!r->rc && !p->action_name) /* servers before 2018.8 sent StepName only */
        p->action_name = oj_strdup(r, j, "SelectedPackages[].", "StepName", true);
    p->package_reference_name =
        oj_strdup(r, j, "SelectedPackages[].", "PackageReferenceName", false);
    if (!r->rc && !p->package_reference_name) p->package_reference_name = oj_dup(r, "");
    p->version = oj_strdup(r, j, "SelectedPackages[].", "Version", true);
}

of_err octo_decode_release_manifest(json_t *j, of_octo_release_manifest *out, char *errstr,
                                    size_t errstr_size)
{
    oj_reader r = decode_fields(j, "Release", out, sizeof(*out), manifest_fields,
                                NFIELDS(manifest_fields), errstr, errstr_size);
    if (!r.rc)
        decode_each(&r, j, "SelectedPackages", (void **)&out->packages, &out->npackages,
                    sizeof(*out->packages), decode_package);
    return DECODED(r, of_octo_release_manifest_clear, out);
}

void of_octo_ref_list_clear(of_octo_ref_list *l)
{
    if (!l) return;
    free_refs(l->items, l->n);
    memset(l, 0, sizeof(*l));
}

of_err octo_decode_ref_list(json_t *j, const char *kind, of_octo_ref_list *out, char *errstr,
                            size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_array(j))
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL, "%s: expected a JSON array", kind);
    out->items = calloc(json_array_size(j) + 1, sizeof(*out->items));
    if (!out->items) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(j); i++) {
        of_err rc =
            octo_decode_ref(json_array_get(j, i), kind, &out->items[i], errstr, errstr_size);
        if (rc) {
            of_octo_ref_list_clear(out);
            return rc;
        }
        out->n = i + 1;
    }
    return OF_OK;
}
