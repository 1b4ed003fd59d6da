/* The mapping of `octofleet import` (import_map.h): an orchestration release's steps onto a
 * release request, every item that does not map written down as a note. */
#include "import_map.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

/* Step templates, recognised by their parameters (an installed template's Octopus.Action
 * .Template.Id is the server's own "ActionTemplates-N", so the id says nothing portable). */
#define DAR_TYPE      "Octopus.DeployRelease"
#define DAR_PROJECT   "Octopus.Action.DeployRelease.ProjectId"
#define DAR_CONDITION "Octopus.Action.DeployRelease.DeploymentCondition"
#define DAR_VARIABLES "Octopus.Action.DeployRelease.Variables"
#define CHAIN_PROJECT "Chain_ProjectName"
#define CHILD_PROJECT "ChildProject.Project.Name"
#define TEMPLATE_ID   "Octopus.Action.Template.Id"
#define ENV_OWN       "#{Octopus.Environment.Name}"
#define RELEASE_OWN   "#{Octopus.Release.Number}"

typedef struct builder {
    const of_import_in *in;
    of_import_out *out;
    of_err rc;
    size_t nnotes, ncap, nenvs, ecap, nnames, nmcap, ntags, tcap, nstages, scap;
    size_t *entry_caps;
    const char *first_tenants; /* the first step's tenant selection, to note a different one */
    bool tenants_differ;
    bool *picker; /* per action name of SelectedPackages: a Chain/Child step reads its version */
    /* the stage of the previous step that ran (disabled steps do not): a step that starts with
     * the previous one joins it; -1 when that step mapped to nothing (then it starts after it) */
    long prev_stage;
} builder;

/* Grows *arr (elements of size) to hold n + 1; false (and b->rc) when out of memory. */
static bool grow(builder *b, void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return true;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*(void **)arr, nc * size);
    if (!p) {
        b->rc = OF_ERR_NOMEM;
        return false;
    }
    *(void **)arr = p;
    *cap = nc;
    return true;
}

static const char *keep(builder *b, const char *s)
{
    return of_strpool_get(b->out->pool, s, &b->rc);
}

static void note(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(builder *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    of_utf8_scrub(line); /* notes go into the request's JSON; a long one may be cut mid-character */
    if (!grow(b, &b->out->notes, &b->ncap, b->nnotes, sizeof *b->out->notes)) return;
    const char *s = keep(b, line);
    if (s) b->out->notes[b->nnotes++] = s;
}

/* Adds s to a list of unique strings (compared exactly). */
static void add_unique(builder *b, const char ***list, size_t *n, size_t *cap, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0) return;
    if (!grow(b, list, cap, *n, sizeof **list)) return;
    const char *k = keep(b, s);
    if (k) (*list)[(*n)++] = k;
}

static const char *ref_name(const of_octo_ref *refs, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (strcasecmp(refs[i].id, id) == 0) return refs[i].name;
    return NULL;
}

static bool is_env_name(const of_import_in *in, const char *name)
{
    for (size_t i = 0; i < in->nenvironments; i++)
        if (strcmp(in->environments[i].name, name) == 0) return true;
    return false;
}

static const char *prop(const of_octo_action *a, const char *name)
{
    return of_octo_property_get(a->properties, a->nproperties, name);
}

static bool blank(const char *s)
{
    if (!s) return true;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return !*s;
}

static const char *selected_version(const of_import_in *in, const char *action, size_t *index)
{
    for (size_t i = 0; i < in->npackages; i++)
        if (strcasecmp(in->packages[i].action_name, action) == 0 &&
            !in->packages[i].package_reference_name[0]) {
            if (index) *index = i;
            return in->packages[i].version;
        }
    return NULL;
}

/* A step template's release number: a literal version, the orchestration release's number, or
 * the version a sibling package step picked (the seed's trick:
 * #{Octopus.Action[Billing package].Package.NuGetPackageVersion}). NULL with *why set when it
 * cannot be known before the deployment runs. */
static const char *template_version(builder *b, const char *v, const char **why)
{
    static const char pre[] = "#{Octopus.Action[";
    if (blank(v)) {
        *why = "no release number: the template deploys the newest release; pin one";
        return NULL;
    }
    if (strcmp(v, RELEASE_OWN) == 0) return b->in->version;
    if (strncmp(v, pre, sizeof pre - 1) == 0) {
        const char *name = v + sizeof pre - 1, *end = strstr(name, "].Package.");
        const char *tail = end ? end + strlen("].Package.") : NULL;
        if (tail &&
            (strcmp(tail, "NuGetPackageVersion}") == 0 || strcmp(tail, "PackageVersion}") == 0)) {
            char action[512];
            snprintf(action, sizeof action, "%.*s", (int)(end - name), name);
            size_t i = 0;
            const char *ver = selected_version(b->in, action, &i);
            if (ver) {
                b->picker[i] = true;
                return ver;
            }
            *why = "its version refers to a package step the release picked no version for";
            return NULL;
        }
    }
    if (strstr(v, "#{") || strchr(v, '*')) {
        *why = "its release number is an expression or a pattern, known only when it runs";
        return NULL;
    }
    return v;
}

/* Tenants a step template names: one per line, a line with '/' is a "TagSet/Tag". */
static void template_tenants(builder *b, const char *lines)
{
    if (blank(lines)) return;
    if (!b->first_tenants)
        b->first_tenants = keep(b, lines);
    else if (strcmp(b->first_tenants, lines) != 0)
        b->tenants_differ = true;
    const char *p = lines;
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t')
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*s && strstr(s, "#{")) {
            note(b, "tenant line \"%s\" is an expression: not mapped", s);
        } else if (*s) {
            if (strchr(s, '/'))
                add_unique(b, &b->out->tags, &b->ntags, &b->tcap, s);
            else
                add_unique(b, &b->out->names, &b->nnames, &b->nmcap, s);
        }
        p += n;
        while (*p == '\r' || *p == '\n')
            p++;
    }
}

/* An environment a step template targets: a literal name, or the orchestration's own. */
static void template_env(builder *b, const char *where, const char *env)
{
    if (blank(env) || strcmp(env, ENV_OWN) == 0) return;
    if (strstr(env, "#{") || !is_env_name(b->in, env)) {
        note(b,
             "%s: deploys to \"%s\", not an environment (a lifecycle phase or an "
             "expression?): not mapped",
             where, env);
        return;
    }
    add_unique(b, &b->out->envs, &b->nenvs, &b->ecap, env);
}

/* Notes each non-empty, non-default parameter that has no equivalent. */
static void unmapped_params(builder *b, const char *where, const of_octo_action *a,
                            const char *const *names, const char *const *defaults)
{
    for (size_t i = 0; names[i]; i++) {
        const char *v = prop(a, names[i]);
        if (blank(v) || (defaults[i] && strcasecmp(v, defaults[i]) == 0)) continue;
        note(b, "%s: %s = \"%.60s\" has no equivalent: not mapped", where, names[i], v);
    }
}

static bool project_listed(builder *b, const char *project, const char *where)
{
    for (size_t i = 0; i < b->nstages; i++)
        for (size_t j = 0; j < b->out->stages[i].n_entries; j++)
            if (strcmp(b->out->stages[i].entries[j].project, project) == 0) {
                note(b, "%s: deploys %s again: a train deploys a project once; left out", where,
                     project);
                return true;
            }
    return false;
}

/* Appends an entry to the last stage, or to a new one named name. */
static void add_entry(builder *b, bool new_stage, const char *name, const char *project,
                      const char *version, int cond)
{
    if (new_stage || !b->nstages) {
        size_t cap = b->scap; /* the three arrays grow together: b->scap is their capacity */
        if (!grow(b, &b->out->stages, &cap, b->nstages, sizeof *b->out->stages)) return;
        cap = b->scap;
        if (!grow(b, &b->out->entries, &cap, b->nstages, sizeof *b->out->entries)) return;
        if (!grow(b, &b->entry_caps, &b->scap, b->nstages, sizeof *b->entry_caps)) return;
        b->out->stages[b->nstages] = (of_draft_stage){keep(b, name), NULL, 0};
        b->out->entries[b->nstages] = NULL;
        b->entry_caps[b->nstages++] = 0;
    }
    of_draft_stage *st = &b->out->stages[b->nstages - 1];
    of_draft_entry **e = &b->out->entries[b->nstages - 1];
    if (!grow(b, e, &b->entry_caps[b->nstages - 1], st->n_entries, sizeof **e)) return;
    st->entries = *e;
    (*e)[st->n_entries++] = (of_draft_entry){keep(b, project), keep(b, version), cond};
    b->out->nentries_total++;
}

typedef struct mapped {
    const char *project, *version;
    int cond;
} mapped;

/* A Deploy a Release action. */
static bool map_dar(builder *b, const char *where, const of_octo_action *a, mapped *m)
{
    const char *pid = prop(a, DAR_PROJECT);
    m->project = ref_name(b->in->projects, b->in->nprojects, pid);
    if (!m->project) {
        note(b, "%s: deploys project \"%s\", which the space does not have: left out", where,
             pid ? pid : "(none)");
        return false;
    }
    m->version = selected_version(b->in, a->name, NULL);
    if (!m->version) {
        note(b, "%s: the release picked no version of %s: left out", where, m->project);
        return false;
    }
    const char *cond = prop(a, DAR_CONDITION);
    m->cond = -1;
    if (cond && strcmp(cond, "IfNotCurrentVersion") == 0) {
        m->cond = OF_CONDITION_IF_NOT_CURRENT;
    } else if (cond && strcmp(cond, "IfNewer") == 0) {
        m->cond = OF_CONDITION_IF_NOT_CURRENT;
        note(b,
             "%s: deployment condition IfNewer became \"if-not-current\", which also "
             "deploys where a newer release of %s runs (octofleet does not compare versions)",
             where, m->project);
    } else if (cond && strcmp(cond, "Always") != 0) {
        note(b, "%s: deployment condition \"%s\" is unknown: deploys always", where, cond);
    }
    if (!blank(prop(a, DAR_VARIABLES)))
        note(b, "%s: variables passed to %s are not mapped (set them on the project)", where,
             m->project);
    for (size_t i = 0; i < a->nenvironments; i++) {
        const char *n = ref_name(b->in->environments, b->in->nenvironments, a->environments[i]);
        if (n) add_unique(b, &b->out->envs, &b->nenvs, &b->ecap, n);
    }
    for (size_t i = 0; i < a->ntenant_tags; i++)
        add_unique(b, &b->out->tags, &b->ntags, &b->tcap, a->tenant_tags[i]);
    return true;
}

/* A template's project parameter must name a project, not compute one. */
static bool literal_project(builder *b, const char *where, const char *project)
{
    if (!blank(project) && !strstr(project, "#{")) return true;
    note(b, "%s: the project \"%s\" is empty or an expression, known only when it runs; left out",
         where, project ? project : "");
    return false;
}

static bool map_chain(builder *b, const char *where, const of_octo_action *a, mapped *m)
{
    static const char *const names[] = {"Chain_Channel",
                                        "Chain_CreateOption",
                                        "Chain_SnapshotVariables",
                                        "Chain_FormValues",
                                        "Chain_StepsToSkip",
                                        "Chain_GuidedFailure",
                                        "Chain_DeploySchedule",
                                        "Chain_PostDeploy",
                                        "Chain_ForcePackageDownload",
                                        "Chain_MachineList",
                                        NULL};
    static const char *const defaults[] = {
        NULL, "False", "False", NULL, NULL, "Default", "WaitForDeployment",
        NULL, "False", NULL,    NULL};
    const char *why = NULL;
    m->project = prop(a, CHAIN_PROJECT);
    if (!literal_project(b, where, m->project)) return false;
    m->version = template_version(b, prop(a, "Chain_ReleaseNum"), &why);
    m->cond = -1;
    if (!m->version) {
        note(b, "%s: Chain Deployment of %s: %s; left out", where, m->project, why);
        return false;
    }
    template_env(b, where, prop(a, "Chain_DeployTo"));
    template_tenants(b, prop(a, "Chain_Tenants"));
    unmapped_params(b, where, a, names, defaults);
    return true;
}

static bool map_child(builder *b, const char *where, const of_octo_action *a, mapped *m)
{
    static const char *const names[] = {"ChildProject.Channel.Name",
                                        "ChildProject.Prompted.Variables",
                                        "ChildProject.WaitForFinish.Value",
                                        "ChildProject.Target.MachineNames",
                                        "ChildProject.Deployment.FutureTime",
                                        "ChildProject.WhatIf.Value",
                                        NULL};
    static const char *const defaults[] = {NULL, NULL, "Yes", "N/A", "N/A", "No", NULL};
    const char *why = NULL;
    m->project = prop(a, CHILD_PROJECT);
    if (!literal_project(b, where, m->project)) return false;
    m->version = template_version(b, prop(a, "ChildProject.Release.Number"), &why);
    if (!m->version) {
        note(b, "%s: Deploy Child Octopus Deploy Project of %s: %s; left out", where, m->project,
             why);
        return false;
    }
    const char *mode = prop(a, "ChildProject.DeploymentMode.Value");
    m->cond = -1;
    if (blank(mode) || strcmp(mode, "Promote") == 0)
        m->cond = OF_CONDITION_IF_NOT_CURRENT; /* Promote skips a target already on it */
    else
        note(b, "%s: deployment mode %s has no equivalent: deploys the pinned release", where,
             mode);
    template_env(b, where, prop(a, "ChildProject.Destination.EnvironmentName"));
    const char *tenant = prop(a, "ChildProject.Tenant.Name");
    if (!blank(tenant) && !strstr(tenant, "#{")) template_tenants(b, tenant);
    unmapped_params(b, where, a, names, defaults);
    return true;
}

/* What an action does that a request cannot say, for an action that maps. */
static void scope_notes(builder *b, const char *where, const of_octo_step *s,
                        const of_octo_action *a)
{
    if (strcmp(s->condition, "Success") != 0)
        note(b, "%s: runs on condition %s; octofleet pauses the train after a failure instead",
             where, s->condition);
    if (a->nchannels) note(b, "%s: scoped to channels: every channel deploys it here", where);
    if (a->nexcluded_environments)
        note(b, "%s: excluded from some environments: every environment deploys it here", where);
    if (a->nenvironments && b->in->nenv_override)
        note(b, "%s: scoped to some environments: every --environment deploys it here", where);
}

static void map_step(builder *b, size_t si, const of_octo_step *s)
{
    bool first = true; /* the step's first mapped action follows the step's start trigger */
    bool ran = false;  /* an action of the step is enabled */
    for (size_t k = 0; k < s->nactions && !b->rc; k++) {
        const of_octo_action *a = &s->actions[k];
        char where[600];
        if (s->nactions > 1 || strcmp(a->name, s->name) != 0)
            snprintf(where, sizeof where, "step %zu \"%s\" / \"%s\"", si + 1, s->name, a->name);
        else
            snprintf(where, sizeof where, "step %zu \"%s\"", si + 1, s->name);
        bool dar = strcmp(a->action_type, DAR_TYPE) == 0, chain = prop(a, CHAIN_PROJECT) != NULL,
             child = prop(a, CHILD_PROJECT) != NULL;
        if (a->is_disabled) {
            note(b, "%s: disabled: left out", where);
            continue;
        }
        ran = true;
        if (!dar && !chain && !child) {
            /* package pickers are noted at the end, once every template has named its own */
            if (selected_version(b->in, a->name, NULL) && !prop(a, TEMPLATE_ID)) continue;
            if (prop(a, TEMPLATE_ID))
                note(b, "%s: step template %s (%s) is not one import knows: left out", where,
                     prop(a, TEMPLATE_ID), a->action_type);
            else
                note(b, "%s (%s) deploys no project: left out", where, a->action_type);
            continue;
        }
        mapped m = {0};
        bool ok = dar     ? map_dar(b, where, a, &m)
                  : chain ? map_chain(b, where, a, &m)
                          : map_child(b, where, a, &m);
        if (!ok || project_listed(b, m.project, where)) continue;
        scope_notes(b, where, s, a);
        bool with_previous = first && strcmp(s->start_trigger, "StartWithPrevious") == 0 &&
                             b->prev_stage >= 0 && (size_t)b->prev_stage + 1 == b->nstages;
        if (first && !with_previous && strcmp(s->start_trigger, "StartWithPrevious") == 0 && si > 0)
            note(b,
                 "%s: starts with the previous step, which deploys nothing here: a stage of "
                 "its own",
                 where);
        add_entry(b, !with_previous, first ? s->name : a->name, m.project, m.version, m.cond);
        first = false;
    }
    if (!first)
        b->prev_stage = (long)b->nstages - 1;
    else if (ran)
        b->prev_stage = -1;
}

void of_import_out_clear(of_import_out *out)
{
    if (!out) return;
    for (size_t i = 0; out->entries && i < out->draft.n_stages; i++)
        free(out->entries[i]);
    free(out->entries);
    free(out->stages);
    free(out->notes), free(out->envs), free(out->names), free(out->tags);
    of_strpool_free(out->pool);
    memset(out, 0, sizeof *out);
}

of_err of_import_map(const of_import_in *in, of_import_out *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    builder b = {.in = in, .out = out, .prev_stage = -1};
    b.rc = of_strpool_new(&out->pool);
    b.picker = calloc(in->npackages + 1, sizeof *b.picker);
    if (!b.picker && !b.rc) b.rc = OF_ERR_NOMEM;
    for (size_t i = 0; !b.rc && i < in->process->nsteps; i++)
        map_step(&b, i, &in->process->steps[i]);
    /* the seed's trick: a package step (scoped to an environment nobody deploys) whose version
     * a Chain Deployment step reads; it deploys nothing itself */
    for (size_t i = 0; !b.rc && i < in->npackages; i++)
        if (!b.picker[i] && !in->packages[i].package_reference_name[0]) {
            bool action = false;
            for (size_t s = 0; s < in->process->nsteps; s++)
                for (size_t k = 0; k < in->process->steps[s].nactions; k++) {
                    const of_octo_action *a = &in->process->steps[s].actions[k];
                    if (strcasecmp(a->name, in->packages[i].action_name) == 0 &&
                        strcmp(a->action_type, DAR_TYPE) != 0 && !prop(a, TEMPLATE_ID))
                        action = !a->is_disabled;
                }
            if (action)
                note(&b, "\"%s\" (package %s): a package step no Chain Deployment reads; left out",
                     in->packages[i].action_name, in->packages[i].version);
        } else if (b.picker[i]) {
            note(&b, "\"%s\": only picks a version (%s) for a Chain/Child step; left out",
                 in->packages[i].action_name, in->packages[i].version);
        }
    if (in->nenv_override) {
        b.nenvs = 0;
        for (size_t i = 0; i < in->nenv_override; i++)
            add_unique(&b, &out->envs, &b.nenvs, &b.ecap, in->env_override[i]);
    }
    if (in->ntenant_override || in->ntag_override) {
        b.nnames = b.ntags = 0;
        b.tenants_differ = false;
        for (size_t i = 0; i < in->ntenant_override; i++)
            add_unique(&b, &out->names, &b.nnames, &b.nmcap, in->tenant_override[i]);
        for (size_t i = 0; i < in->ntag_override; i++)
            add_unique(&b, &out->tags, &b.ntags, &b.tcap, in->tag_override[i]);
    }
    if (b.tenants_differ)
        note(&b, "the steps deploy to different tenants; the request deploys every stage to all "
                 "of them (tenants not connected to a project are not its targets)");
    bool all = !b.nnames && !b.ntags;
    if (all && in->tenanted)
        note(&b,
             "%s deploys per tenant and no step names tenants: \"tenants\" is \"all\" "
             "(every connected tenant); narrow it with --tenant or --tenant-tag",
             in->project);
    free(b.picker);
    free(b.entry_caps);
    of_err rc = b.rc;
    if (!rc && !out->nentries_total)
        rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                       "%s %s deploys no project octofleet can map (see the notes)", in->project,
                       in->version);
    if (!rc && !b.nenvs)
        rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                       "no step of %s names an environment (they deploy to the orchestration's "
                       "own): give --environment",
                       in->project);
    if (rc) {
        /* the stage count is needed to free the stages' entries */
        out->draft.n_stages = b.nstages;
        if (rc == OF_ERR_NOMEM) of_seterr(errstr, errstr_size, rc, "out of memory");
        of_import_out_clear(out);
        return rc;
    }
    of_draft *d = &out->draft;
    d->notes_key = OF_IMPORT_NOTES_KEY;
    d->notes = out->notes;
    d->n_notes = b.nnotes;
    d->release = in->version;
    d->space = in->space;
    d->environments = out->envs;
    d->n_environments = b.nenvs;
    d->tenants_all = all;
    d->tenant_names = out->names;
    d->n_tenant_names = b.nnames;
    d->tenant_tags = out->tags;
    d->n_tenant_tags = b.ntags;
    d->stages = out->stages;
    d->n_stages = b.nstages;
    return OF_OK;
}
