/* Deployment processes: a project's steps and their actions, as a fixture declares them
 * (docs/octopus.md, "Fixture format", `process`), the snapshot a release was created with, and
 * the packages (child releases) a release selected for its steps.
 *
 * A process is loaded once, after every project of its space (a "Deploy a Release" action names
 * its child project, which may come later in the file), and kept rendered: the world never
 * changes a process, so every release's snapshot is the project's process as loaded, and each
 * reply is a deep copy of the kept JSON. Shapes follow Octopus.Client's DeploymentProcessResource,
 * DeploymentStepResource, DeploymentActionResource and SelectedPackage. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_int.h"

#define DEPLOY_RELEASE_TYPE "Octopus.DeployRelease"
#define DEPLOY_RELEASE_PROP "Octopus.Action.DeployRelease.ProjectId"
#define RELEASES_FEED       "feeds-builtin-releases" /* the built-in feed of child releases */

typedef struct pctx {
    sim_world *w;
    int space, project;
    char *errstr;
    size_t errsz;
} pctx;

static of_err perr(pctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static of_err perr(pctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    of_err rc = sim_vfxerr(c->errstr, c->errsz, path, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *opt_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* An optional string field, one of the NULL-terminated choices; *out = dflt when absent. */
static of_err choice(pctx *c, json_t *o, const char *key, const char *path,
                     const char *const *choices, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = choices[0];
        return OF_OK;
    }
    for (const char *const *k = choices; json_is_string(v) && *k; k++)
        if (strcmp(json_string_value(v), *k) == 0) {
            *out = *k;
            return OF_OK;
        }
    char all[256] = "";
    for (const char *const *k = choices; *k; k++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", k == choices ? "" : ", ", *k);
    return perr(c, path, "\"%s\" must be one of %s", key, all);
}

/* Names of kind (environments, channels, tag canonical names) -> a new array of their ids. */
typedef int (*lookup_fn)(const pctx *c, const char *name);

static int env_named(const pctx *c, const char *name)
{
    for (int i = 0; i < c->w->n_envs; i++)
        if (c->w->envs[i].space == c->space && strcasecmp(c->w->envs[i].name, name) == 0) return i;
    return -1;
}
static int channel_named(const pctx *c, const char *name)
{
    for (int i = 0; i < c->w->n_channels; i++)
        if (c->w->channels[i].project == c->project &&
            strcasecmp(c->w->channels[i].name, name) == 0)
            return i;
    return -1;
}
static int tag_named(const pctx *c, const char *name)
{
    for (int i = 0; i < c->w->n_tags; i++)
        if (strcasecmp(c->w->tags[i].canonical, name) == 0) return i;
    return -1;
}

static of_err id_list(pctx *c, json_t *o, const char *key, const char *path, lookup_fn find,
                      json_t **out)
{
    json_t *v = json_object_get(o, key);
    *out = json_array();
    OF_ASSERT(*out);
    if (!v) return OF_OK;
    if (!json_is_array(v)) return perr(c, path, "\"%s\" must be an array of names", key);
    size_t i;
    json_t *n;
    json_array_foreach(v, i, n)
    {
        int k = json_is_string(n) ? find(c, json_string_value(n)) : -1;
        if (k < 0)
            return perr(c, path, "%s[%zu]: unknown %s", key, i,
                        json_is_string(n) ? json_string_value(n) : "(not a string)");
        const char *id = find == env_named       ? c->w->envs[k].id
                         : find == channel_named ? c->w->channels[k].id
                                                 : c->w->tags[k].canonical;
        json_array_append_new(*out, json_string(id));
    }
    return OF_OK;
}

/* A GUID-shaped id, as Octopus gives steps and actions, deterministic per position. */
static json_t *guid(int project, int step, int action)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%06x%06x", (unsigned)project + 1,
             (unsigned)step + 1, (unsigned)action + 1);
    return json_string(buf);
}

static of_err load_action(pctx *c, json_t *a, int step, int k, const char *step_name,
                          const char *path, json_t **out)
{
    static const char *const keys[] = {"name",     "type",        "disabled",
                                       "project",  "properties",  "environments",
                                       "channels", "tenant_tags", "excluded_environments",
                                       "required", NULL};
    *out = NULL;
    if (!json_is_object(a)) return perr(c, path, "expected an object");
    const char *bad = sim_unknown_key(a, keys, true);
    if (bad) return perr(c, path, "unknown field \"%s\"", bad);
    const char *name = opt_str(a, "name") ? opt_str(a, "name") : step_name;
    const char *type = opt_str(a, "type");
    if (!type)
        return perr(c, path, "missing \"type\" (the ActionType, e.g. %s)", DEPLOY_RELEASE_TYPE);
    json_t *disabled = json_object_get(a, "disabled"), *required = json_object_get(a, "required");
    if ((disabled && !json_is_boolean(disabled)) || (required && !json_is_boolean(required)))
        return perr(c, path, "\"disabled\" and \"required\" must be true or false");
    json_t *props = json_object();
    OF_ASSERT(props);
    json_t *given = json_object_get(a, "properties");
    if (given && !json_is_object(given)) {
        json_decref(props);
        return perr(c, path, "\"properties\" must be an object of strings");
    }
    const char *pk;
    json_t *pv;
    json_object_foreach(given, pk, pv)
    {
        if (!json_is_string(pv)) {
            json_decref(props);
            return perr(c, path, "properties.%s must be a string (Octopus stores strings)", pk);
        }
        json_object_set(props, pk, pv);
    }
    json_t *packages = json_array();
    OF_ASSERT(packages);
    const char *child = opt_str(a, "project");
    if (child) {
        int p = -1;
        for (int i = 0; i < c->w->n_projects && p < 0; i++)
            if (c->w->projects[i].space == c->space &&
                strcasecmp(c->w->projects[i].name, child) == 0)
                p = i;
        if (p < 0 || strcmp(type, DEPLOY_RELEASE_TYPE) != 0) {
            json_decref(props), json_decref(packages);
            return p < 0 ? perr(c, path, "unknown project \"%s\"", child)
                         : perr(c, path, "\"project\" is for a %s action", DEPLOY_RELEASE_TYPE);
        }
        /* what a real server keeps for a Deploy a Release step: the child's id, and a package
         * reference to the built-in releases feed, through which the release picks its version */
        json_object_set_new(props, DEPLOY_RELEASE_PROP, json_string(c->w->projects[p].id));
        json_array_append_new(packages,
                              json_pack("{s:o, s:s, s:s, s:s, s:s, s:{}}", "Id",
                                        guid(c->project, step, 900 + k), "Name", "", "PackageId",
                                        c->w->projects[p].id, "FeedId", RELEASES_FEED,
                                        "AcquisitionLocation", "NotAcquired", "Properties"));
    }
    json_t *envs = NULL, *excl = NULL, *chans = NULL, *tags = NULL;
    of_err rc = id_list(c, a, "environments", path, env_named, &envs);
    if (!rc) rc = id_list(c, a, "excluded_environments", path, env_named, &excl);
    if (!rc) rc = id_list(c, a, "channels", path, channel_named, &chans);
    if (!rc) rc = id_list(c, a, "tenant_tags", path, tag_named, &tags);
    if (rc) {
        json_decref(props), json_decref(packages), json_decref(envs), json_decref(excl);
        json_decref(chans), json_decref(tags);
        return rc;
    }
    *out = json_pack("{s:o, s:s, s:s, s:n, s:b, s:b, s:b, s:n, s:n, s:{s:n, s:n}, s:o, s:o, s:o, "
                     "s:o, s:o, s:s, s:o, s:{}}",
                     "Id", guid(c->project, step, k), "Name", name, "ActionType", type, "Notes",
                     "IsDisabled", json_is_true(disabled), "IsRequired", json_is_true(required),
                     "CanBeUsedForProjectVersioning", child != NULL, "WorkerPoolId",
                     "WorkerPoolVariable", "Container", "Image", "FeedId", "Environments", envs,
                     "ExcludedEnvironments", excl, "Channels", chans, "TenantTags", tags,
                     "Packages", packages, "Condition", "Success", "Properties", props, "Links");
    OF_ASSERT(*out);
    return OF_OK;
}

static const char *const conditions[] = {"Success", "Failure", "Always", "Variable", NULL};
static const char *const triggers[] = {"StartAfterPrevious", "StartWithPrevious", NULL};
static const char *const requirements[] = {"LetOctopusDecide", "BeforePackageAcquisition",
                                           "AfterPackageAcquisition", NULL};

/* A step given with "actions", or as its one action (the action's fields on the step). */
static of_err load_step(pctx *c, json_t *s, int i, const char *path, json_t *steps)
{
    static const char *const step_keys[] = {
        "name", "condition", "start_trigger", "package_requirement", "actions", NULL};
    if (!json_is_object(s)) return perr(c, path, "expected an object");
    const char *name = opt_str(s, "name");
    if (!name) return perr(c, path, "missing \"name\"");
    json_t *actions = json_object_get(s, "actions");
    if (actions) {
        const char *bad = sim_unknown_key(s, step_keys, true);
        if (bad) return perr(c, path, "unknown field \"%s\"", bad);
        if (!json_is_array(actions) || !json_array_size(actions))
            return perr(c, path, "\"actions\" must be a non-empty array");
    }
    const char *cond, *trig, *req;
    of_err rc = choice(c, s, "condition", path, conditions, &cond);
    if (!rc) rc = choice(c, s, "start_trigger", path, triggers, &trig);
    if (!rc) rc = choice(c, s, "package_requirement", path, requirements, &req);
    if (rc) return rc;
    json_t *acts = json_array();
    OF_ASSERT(acts);
    if (actions) {
        size_t k;
        json_t *a;
        json_array_foreach(actions, k, a)
        {
            char apath[400];
            sim_pathf(apath, sizeof apath, "%s.actions[%zu]", path, k);
            json_t *one;
            rc = load_action(c, a, i, (int)k, name, apath, &one);
            if (rc) break;
            json_array_append_new(acts, one);
        }
    } else {
        /* the step's own keys are the action's; the step-only ones are taken out first */
        json_t *a = json_deep_copy(s);
        OF_ASSERT(a);
        for (const char *const *k = step_keys; *k; k++)
            if (strcmp(*k, "name") != 0) json_object_del(a, *k);
        json_t *one;
        rc = load_action(c, a, i, 0, name, path, &one);
        json_decref(a);
        if (!rc) json_array_append_new(acts, one);
    }
    if (rc) {
        json_decref(acts);
        return rc;
    }
    json_t *step = json_pack("{s:o, s:s, s:s, s:{}, s:s, s:s, s:o}", "Id", guid(c->project, i, 999),
                             "Name", name, "PackageRequirement", req, "Properties", "Condition",
                             cond, "StartTrigger", trig, "Actions", acts);
    OF_ASSERT(step);
    json_array_append_new(steps, step);
    return OF_OK;
}

/* The action of project p's process called name, or NULL. */
static json_t *find_action(const sim_world *w, int p, const char *name)
{
    size_t i, k;
    json_t *s, *a;
    json_array_foreach(w->projects[p].steps, i, s)
    {
        json_array_foreach(json_object_get(s, "Actions"), k, a)
        {
            if (strcasecmp(json_string_value(json_object_get(a, "Name")), name) == 0) return a;
        }
    }
    return NULL;
}

/* A release's "packages": {action name: version}. For a Deploy a Release action the version
 * must be a release of the child project, as Octopus checks when the release is created. */
static of_err load_packages(pctx *c, int r, const char *path)
{
    sim_release *rel = &c->w->releases[r];
    rel->packages = json_array();
    OF_ASSERT(rel->packages);
    if (!rel->packages_src) return OF_OK;
    if (!json_is_object(rel->packages_src))
        return perr(c, path, "\"packages\" must be an object {action name: version}");
    const char *action;
    json_t *v;
    json_object_foreach(rel->packages_src, action, v)
    {
        json_t *a = find_action(c->w, rel->project, action);
        if (!a) return perr(c, path, "packages: no action \"%s\" in the project's process", action);
        if (!json_is_string(v) || !json_string_length(v))
            return perr(c, path, "packages.%s must be a version string", action);
        const char *child = json_string_value(
            json_object_get(json_object_get(a, "Properties"), DEPLOY_RELEASE_PROP));
        if (child) {
            int cp = sim_find_project(c->w, c->space, child);
            if (cp < 0 || sim_release_by_version(c->w, cp, json_string_value(v)) < 0)
                return perr(c, path, "packages.%s: the child project has no release \"%s\"", action,
                            json_string_value(v));
        }
        json_array_append_new(rel->packages,
                              json_pack("{s:s, s:s, s:O}", "ActionName",
                                        json_string_value(json_object_get(a, "Name")),
                                        "PackageReferenceName", "", "Version", v));
    }
    return OF_OK;
}

of_err sim_load_processes(sim_world *w, int space, const char *space_path, char *errstr,
                          size_t errsz)
{
    pctx c = {w, space, -1, errstr, errsz};
    char path[400];
    int nth = 0; /* the project's index in its space's "projects" */
    for (int p = 0; p < w->n_projects; p++) {
        if (w->projects[p].space != space) continue;
        c.project = p;
        w->projects[p].steps = json_array();
        OF_ASSERT(w->projects[p].steps);
        json_t *src = w->projects[p].process_src;
        size_t i;
        json_t *s;
        json_array_foreach(src, i, s)
        {
            sim_pathf(path, sizeof path, "%s.projects[%d].process[%zu]", space_path, nth, i);
            of_err rc = load_step(&c, s, (int)i, path, w->projects[p].steps);
            if (rc) return rc;
        }
        int nrel = 0;
        for (int r = 0; r < w->n_releases; r++) {
            if (w->releases[r].project != p) continue;
            sim_pathf(path, sizeof path, "%s.projects[%d].releases[%d]", space_path, nth, nrel++);
            of_err rc = load_packages(&c, r, path);
            if (rc) return rc;
        }
        nth++;
    }
    return OF_OK;
}

/* Process ids: "deploymentprocess-<project id>" (the project's) and
 * "deploymentprocess-<project id>-s-1" (the snapshot every release of the project has). */
#define PROCESS_PREFIX  "deploymentprocess-"
#define SNAPSHOT_SUFFIX "-s-1"

static json_t *render_process(ofsim *sim, int p, bool snapshot)
{
    const sim_world *w = &sim->w;
    const sim_project *pr = &w->projects[p];
    const char *sid = w->spaces[pr->space].id;
    char id[300], self[400];
    snprintf(id, sizeof id, PROCESS_PREFIX "%s%s", pr->id, snapshot ? SNAPSHOT_SUFFIX : "");
    if (snapshot)
        snprintf(self, sizeof self, "/api/%s/deploymentprocesses/%s", sid, id);
    else
        snprintf(self, sizeof self, "/api/%s/projects/%s/deploymentprocesses", sid, pr->id);
    char snap[300], project[400];
    snprintf(snap, sizeof snap, PROCESS_PREFIX "%s" SNAPSHOT_SUFFIX, pr->id);
    snprintf(project, sizeof project, "/api/%s/projects/%s", sid, pr->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:{s:s, s:s}}", "Id", id, "SpaceId", sid,
                          "ProjectId", pr->id, "Version", 1, "LastSnapshotId", snap, "Steps",
                          json_deep_copy(pr->steps), "Links", "Self", self, "Project", project);
    OF_ASSERT(j);
    return j;
}

/* GET projects/{id}/deploymentprocesses: the project's process. */
void sim_h_project_process(sim_req *r)
{
    int p = sim_find_project(&r->sim->w, r->space, sim_seg(r, 1));
    if (p < 0)
        sim_reply_not_found(r);
    else
        sim_reply(r, 200, render_process(r->sim, p, false));
}

/* GET deploymentprocesses/{id}: a project's process or a release's snapshot of it, by id. */
void sim_h_process_get(sim_req *r)
{
    const char *id = sim_seg(r, 1);
    const sim_world *w = &r->sim->w;
    size_t pl = strlen(PROCESS_PREFIX), sl = strlen(SNAPSHOT_SUFFIX);
    if (id && strncasecmp(id, PROCESS_PREFIX, pl) == 0) {
        char pid[256];
        snprintf(pid, sizeof pid, "%s", id + pl);
        size_t n = strlen(pid);
        bool snapshot = n > sl && strcasecmp(pid + n - sl, SNAPSHOT_SUFFIX) == 0;
        if (snapshot) pid[n - sl] = '\0';
        int p = sim_strmap_get(&w->project_ids, pid);
        if (p >= 0 && w->projects[p].space == r->space) {
            sim_reply(r, 200, render_process(r->sim, p, snapshot));
            return;
        }
    }
    sim_reply_not_found(r);
}
