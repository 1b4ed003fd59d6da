/* An of_resolver on top of the Octopus client. See resolver_octo.h. */
#include "resolver_octo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "budget.h"
#include "buf.h"
#include "log.h"
#include "msg.h"

/* A template or a tag answer, kept for one plan. The lists are small (one entry per release,
 * per tag of the request), so a linear search is fine. */
typedef struct tpl_entry {
    char *release_id;
    of_octo_template tpl;
} tpl_entry;

typedef struct tag_entry {
    char *space_id;
    char *tag;
    bool exists;
} tag_entry;

struct of_resolver_octo {
    of_octo *c;
    tpl_entry *tpls;
    size_t n_tpls, cap_tpls;
    /* Every tenant of the space, listed once per plan: connections (ProjectEnvironments) and
     * tags are filtered from it in memory, so a plan reads the tenants in one paged listing
     * whatever the number of projects, environments and tags. */
    char *all_space;
    of_octo_tenant_list all;
    tag_entry *tags;
    size_t n_tags, cap_tags;
};

of_err of_resolver_octo_new(of_octo *client, of_resolver_octo **out)
{
    *out = NULL;
    of_resolver_octo *r = calloc(1, sizeof *r);
    if (!r) return OF_ERR_NOMEM;
    r->c = client;
    *out = r;
    return OF_OK;
}

void of_resolver_octo_reset(of_resolver_octo *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_tpls; i++) {
        free(r->tpls[i].release_id);
        of_octo_template_clear(&r->tpls[i].tpl);
    }
    r->n_tpls = 0;
    free(r->all_space);
    r->all_space = NULL;
    of_octo_tenant_list_clear(&r->all);
    for (size_t i = 0; i < r->n_tags; i++) {
        free(r->tags[i].space_id);
        free(r->tags[i].tag);
    }
    r->n_tags = 0;
}

void of_resolver_octo_free(of_resolver_octo *r)
{
    if (!r) return;
    of_resolver_octo_reset(r);
    free(r->tpls);
    free(r->tags);
    free(r);
}

/* Moves a client (id, name) pair into a planner ref (both owned by malloc). */
static void take_ref(of_ref *out, char **id, char **name)
{
    out->id = *id;
    out->name = *name;
    *id = *name = NULL;
}

/* ---- names ---- */

static of_err r_space(void *opaque, const char *name, of_ref *out, char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_space sp = {0};
    of_err rc = of_octo_find_space(r->c, name, &sp, errstr, errstr_size);
    if (rc == OF_OK) take_ref(out, &sp.id, &sp.name);
    of_octo_space_clear(&sp);
    return rc;
}

static of_err r_environment(void *opaque, const of_ref *space, const char *name, of_ref *out,
                            char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_environment env = {0};
    of_err rc = of_octo_find_environment(r->c, space->id, name, &env, errstr, errstr_size);
    if (rc == OF_OK) take_ref(out, &env.id, &env.name);
    of_octo_ref_clear(&env);
    return rc;
}

/* The client and the model number the modes differently: map by meaning. */
static of_tenanted_mode mode_of(of_octo_tenanted t)
{
    switch (t) {
    case OF_OCTO_TENANTED:
        return OF_TENANTED_TENANTED;
    case OF_OCTO_TENANTED_OR_UNTENANTED:
        return OF_TENANTED_TENANTED_OR_UNTENANTED;
    case OF_OCTO_UNTENANTED:
        break;
    }
    return OF_TENANTED_UNTENANTED;
}

static of_err r_project(void *opaque, const of_ref *space, const char *name, of_ref *out,
                        of_tenanted_mode *mode, char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_project p = {0};
    of_err rc = of_octo_find_project(r->c, space->id, name, &p, errstr, errstr_size);
    if (rc == OF_OK && p.is_disabled)
        rc = of_seterr(errstr, errstr_size, OF_ERR_REJECTED,
                       "project \"%s\" is disabled in Octopus", name);
    if (rc == OF_OK) {
        *mode = mode_of(p.tenanted);
        take_ref(out, &p.id, &p.name);
    }
    of_octo_project_clear(&p);
    return rc;
}

static of_err r_release(void *opaque, const of_ref *space, const of_ref *project,
                        const char *version, of_ref *out, char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_release rel = {0};
    of_err rc = of_octo_find_release(r->c, space->id, project->id, project->name, version, &rel,
                                     errstr, errstr_size);
    if (rc == OF_OK) take_ref(out, &rel.id, &rel.version);
    of_octo_release_clear(&rel);
    return rc;
}

static of_err r_tenant_by_name(void *opaque, const of_ref *space, const char *name, of_ref *out,
                               char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_tenant t = {0};
    of_err rc = of_octo_find_tenant(r->c, space->id, name, &t, errstr, errstr_size);
    if (rc == OF_OK) take_ref(out, &t.id, &t.name);
    of_octo_tenant_clear(&t);
    return rc;
}

/* ---- tenants ---- */

static of_err tag_exists(of_resolver_octo *r, const char *space_id, const char *tag, bool *exists,
                         char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (strcmp(r->tags[i].space_id, space_id) == 0 && strcmp(r->tags[i].tag, tag) == 0) {
            *exists = r->tags[i].exists;
            return OF_OK;
        }
    of_err rc = of_octo_tag_exists(r->c, space_id, tag, exists, errstr, errstr_size);
    if (rc) return rc;
    if (of_grow((void **)&r->tags, &r->cap_tags, r->n_tags, sizeof *r->tags)) return OF_ERR_NOMEM;
    tag_entry *e = &r->tags[r->n_tags];
    e->space_id = strdup(space_id);
    e->tag = strdup(tag);
    e->exists = *exists;
    if (!e->space_id || !e->tag) {
        free(e->space_id);
        free(e->tag);
        return OF_ERR_NOMEM;
    }
    r->n_tags++;
    return OF_OK;
}

/* The space's tenants, listed on first use in this plan. */
static of_err all_tenants(of_resolver_octo *r, const char *space_id,
                          const of_octo_tenant_list **out, char *errstr, size_t errstr_size)
{
    if (r->all_space && strcmp(r->all_space, space_id) == 0) {
        *out = &r->all;
        return OF_OK;
    }
    free(r->all_space);
    r->all_space = NULL;
    of_octo_tenant_list_clear(&r->all);
    of_octo_tenant_query q = {0};
    q.no_cache = true; /* names are resolved before; this copy is the plan's only one */
    of_err rc = of_octo_list_tenants(r->c, space_id, &q, &r->all, errstr, errstr_size);
    if (rc == OF_OK) {
        r->all_space = strdup(space_id);
        if (!r->all_space) rc = OF_ERR_NOMEM;
    }
    if (rc) {
        of_octo_tenant_list_clear(&r->all);
        return rc;
    }
    *out = &r->all;
    return OF_OK;
}

static bool has_tag(const of_octo_tenant *t, const char *tag)
{
    for (size_t i = 0; i < t->ntags; i++)
        if (strcasecmp(t->tags[i], tag) == 0) return true; /* Octopus: tags are case-blind */
    return false;
}

static of_err r_tenants_by_tag(void *opaque, const of_ref *space, const char *tag, of_reflist *out,
                               char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    const of_octo_tenant_list *l = NULL;
    of_err rc = all_tenants(r, space->id, &l, errstr, errstr_size);
    size_t found = 0;
    for (size_t i = 0; rc == OF_OK && i < l->n; i++) {
        if (!has_tag(&l->items[i], tag)) continue;
        rc = of_reflist_add(out, l->items[i].id, l->items[i].name);
        found++;
    }
    /* Nobody carries it: an unknown tag deserves "not found", a tag nobody uses does not. */
    if (rc == OF_OK && found == 0) {
        bool exists = false;
        rc = tag_exists(r, space->id, tag, &exists, errstr, errstr_size);
        if (rc == OF_OK && !exists)
            rc = of_seterr(errstr, errstr_size, OF_ERR_NOT_FOUND, "tag %s not found in space %s",
                           tag, space->id);
    }
    return rc;
}

static of_err r_tenants_connected(void *opaque, const of_ref *space, const of_ref *project,
                                  const of_ref *environment, of_reflist *out, char *errstr,
                                  size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    const of_octo_tenant_list *l = NULL;
    of_err rc = all_tenants(r, space->id, &l, errstr, errstr_size);
    for (size_t i = 0; rc == OF_OK && i < l->n; i++) {
        const of_octo_tenant *t = &l->items[i];
        if (t->is_disabled || !of_octo_tenant_connected(t, project->id, environment->id)) continue;
        rc = of_reflist_add(out, t->id, t->name);
    }
    return rc;
}

/* ---- lifecycle and history ---- */

static of_err template_of(of_resolver_octo *r, const char *space_id, const char *release_id,
                          const of_octo_template **out, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < r->n_tpls; i++)
        if (strcmp(r->tpls[i].release_id, release_id) == 0) {
            *out = &r->tpls[i].tpl;
            return OF_OK;
        }
    if (of_grow((void **)&r->tpls, &r->cap_tpls, r->n_tpls, sizeof *r->tpls)) return OF_ERR_NOMEM;
    tpl_entry *e = &r->tpls[r->n_tpls];
    memset(e, 0, sizeof *e);
    of_err rc = of_octo_get_template(r->c, space_id, release_id, &e->tpl, errstr, errstr_size);
    if (rc == OF_OK) {
        e->release_id = strdup(release_id);
        if (!e->release_id) rc = OF_ERR_NOMEM;
    }
    if (rc) {
        of_octo_template_clear(&e->tpl);
        return rc;
    }
    r->n_tpls++;
    *out = &e->tpl;
    return OF_OK;
}

static of_err r_can_deploy(void *opaque, const of_ref *space, const of_ref *release,
                           const of_ref *environment, const of_ref *tenant, bool *allowed,
                           char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    const of_octo_template *t = NULL;
    of_err rc = template_of(r, space->id, release->id, &t, errstr, errstr_size);
    if (rc) return rc;
    *allowed = of_octo_template_allows(t, environment->id, tenant ? tenant->id : NULL);
    return OF_OK;
}

static void r_prepare(void *opaque, const of_ref *space, const of_ref *release)
{
    const of_octo_template *t = NULL;
    char es[512];
    if (template_of(opaque, space->id, release->id, &t, es, sizeof es) != OF_OK)
        of_debug("deployment template of %s not read ahead (asked again per job): %s", release->id,
                 es);
}

static of_err r_is_current(void *opaque, const of_ref *space, const of_ref *project,
                           const of_ref *release, const of_ref *environment, const of_ref *tenant,
                           bool *current, char *errstr, size_t errstr_size)
{
    of_resolver_octo *r = opaque;
    of_octo_deployment d = {0};
    of_err rc = of_octo_latest_success(r->c, space->id, project->id, environment->id,
                                       tenant ? tenant->id : NULL, &d, errstr, errstr_size);
    *current = false;
    if (rc == OF_ERR_NOT_FOUND) {
        rc = OF_OK; /* never deployed there: not current */
        if (errstr && errstr_size) errstr[0] = '\0';
    } else if (rc == OF_OK) {
        *current = d.release_id && release->id && strcmp(d.release_id, release->id) == 0;
    }
    of_octo_deployment_clear(&d);
    return rc;
}

void of_resolver_octo_bind(of_resolver_octo *r, of_resolver *res)
{
    memset(res, 0, sizeof *res);
    res->opaque = r;
    res->space = r_space;
    res->environment = r_environment;
    res->project = r_project;
    res->release = r_release;
    res->tenant_by_name = r_tenant_by_name;
    res->tenants_by_tag = r_tenants_by_tag;
    res->tenants_connected = r_tenants_connected;
    res->can_deploy = r_can_deploy;
    res->prepare = r_prepare;
    res->is_current = r_is_current;
}

bool of_task_budget_resolve(of_octo *client, int configured, int *out, char *rule, size_t rule_size)
{
    if (configured > 0) {
        *out = configured;
        (void)snprintf(rule, rule_size, "configured");
        return true;
    }
    of_octo_server_node_list nodes;
    memset(&nodes, 0, sizeof nodes);
    char es[512] = "";
    of_err rc = of_octo_list_server_nodes(client, &nodes, es, sizeof es);
    long long cap = 0;
    size_t used = 0;
    for (size_t i = 0; !rc && i < nodes.n; i++) {
        if (nodes.items[i].in_maintenance) continue;
        cap += nodes.items[i].max_concurrent_tasks;
        used++;
    }
    of_octo_server_node_list_clear(&nodes);
    if (!rc && cap > 0) {
        *out = cap > 100000 ? 100000 : (int)cap;
        (void)snprintf(rule, rule_size, "automatic: MaxConcurrentTasks %lld of %zu node(s)", cap,
                       used);
        return true;
    }
    *out = OF_BUDGET_DEFAULT;
    (void)snprintf(rule, rule_size, "automatic: default, the server's task cap is unknown");
    of_warn("task budget: %s; using %d (set octopus.task_budget to choose)",
            rc ? es : "the server's nodes report no task cap", OF_BUDGET_DEFAULT);
    return false;
}
