/* The world model's queries: lookups by id, tenant connections, lifecycle
 * progression (which releases may go where, per tenant) and the record of
 * successful deployments that drives it. The loader is in sim_world.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_int.h"

/* ---- lookups -------------------------------------------------------------- */

int sim_find_space(const sim_world *w, const char *id_or_name)
{
    int s = sim_strmap_get(&w->space_ids, id_or_name);
    if (s >= 0) return s;
    for (int i = 0; i < w->n_spaces; i++)
        if (strcasecmp(w->spaces[i].name, id_or_name) == 0) return i;
    return -1;
}

static int in_space(int idx, int got_space, int want_space)
{
    return idx >= 0 && (want_space < 0 || got_space == want_space) ? idx : -1;
}

/* By id, else (within a space) by slug: Octopus routes take either for these resources. */
static int by_id_or_slug(const sim_strmap *ids, const sim_strmap *slugs, int space,
                         const char *id_or_slug)
{
    int i = sim_strmap_get(ids, id_or_slug);
    if (i < 0 && space >= 0) {
        char *key = sim_strfmt("%d:%s", space, id_or_slug);
        i = sim_strmap_get(slugs, key);
        free(key);
    }
    return i;
}

int sim_find_project(const sim_world *w, int space, const char *id_or_slug)
{
    int p = by_id_or_slug(&w->project_ids, &w->project_slugs, space, id_or_slug);
    return in_space(p, p >= 0 ? w->projects[p].space : -1, space);
}

int sim_find_tenant(const sim_world *w, int space, const char *id_or_slug)
{
    int t = by_id_or_slug(&w->tenant_ids, &w->tenant_slugs, space, id_or_slug);
    return in_space(t, t >= 0 ? w->tenants[t].space : -1, space);
}

#define FIND_BY_ID(fn, map, arr)                                  \
    int fn(const sim_world *w, int space, const char *id)         \
    {                                                             \
        int i = sim_strmap_get(&w->map, id);                      \
        return in_space(i, i >= 0 ? w->arr[i].space : -1, space); \
    }
FIND_BY_ID(sim_find_env, env_ids, envs)
FIND_BY_ID(sim_find_release, release_ids, releases)
FIND_BY_ID(sim_find_lifecycle, lifecycle_ids, lifecycles)
FIND_BY_ID(sim_find_channel, channel_ids, channels)
FIND_BY_ID(sim_find_tagset, tagset_ids, tagsets)

int sim_release_by_version(const sim_world *w, int project, const char *version)
{
    for (int i = 0; i < w->n_releases; i++)
        if (w->releases[i].project == project && strcmp(w->releases[i].version, version) == 0)
            return i;
    return -1;
}

int sim_release_lifecycle(const sim_world *w, int release)
{
    const sim_release *r = &w->releases[release];
    int lc = w->channels[r->channel].lifecycle;
    return lc >= 0 ? lc : w->projects[r->project].lifecycle;
}

bool sim_tenant_connected(const sim_world *w, int tenant, int project, int env)
{
    const sim_tenant *t = &w->tenants[tenant];
    for (int i = 0; i < t->n_pe; i++) {
        if (t->pe[i].project != project) continue;
        if (env < 0) return true;
        for (int j = 0; j < t->pe[i].n_envs; j++)
            if (t->pe[i].envs[j] == env) return true;
        return false;
    }
    return false;
}

static size_t done_index(const sim_world *w, int env, int tenant)
{
    return (size_t)env * (size_t)(w->n_tenants + 1) + (size_t)(tenant + 1);
}

bool sim_release_done(const sim_world *w, int release, int env, int tenant)
{
    const uint8_t *d = w->releases[release].done;
    return d && d[done_index(w, env, tenant)];
}

void sim_release_mark_done(sim_world *w, int release, int env, int tenant)
{
    sim_release *r = &w->releases[release];
    if (!r->done) {
        r->done = calloc((size_t)w->n_envs * (size_t)(w->n_tenants + 1) + 1, 1);
        OF_ASSERT(r->done);
    }
    r->done[done_index(w, env, tenant)] = 1;
}

void sim_release_clear_done(sim_world *w)
{
    for (int i = 0; i < w->n_releases; i++) {
        free(w->releases[i].done);
        w->releases[i].done = NULL;
    }
}

static char *env_list(const sim_world *w, const sim_phase *ph)
{
    char buf[512] = "";
    size_t o = 0;
    for (int i = 0; i < ph->n_envs && o < sizeof buf; i++) {
        int n = snprintf(buf + o, sizeof buf - o, "%s%s", i ? ", " : "", w->envs[ph->envs[i]].name);
        if (n < 0) break;
        o += (size_t)n;
    }
    return sim_strdup(buf);
}

bool sim_lifecycle_allows(const sim_world *w, int release, int env, int tenant, char **why)
{
    const sim_release *rel = &w->releases[release];
    const sim_project *proj = &w->projects[rel->project];
    const sim_lifecycle *lc = &w->lifecycles[sim_release_lifecycle(w, release)];
    const char *tname = tenant >= 0 ? w->tenants[tenant].name : NULL;
    if (why) *why = NULL;
    if (lc->n_phases == 0) return true; /* Octopus: a lifecycle without phases allows all */
    int phase = -1;
    for (int p = 0; p < lc->n_phases && phase < 0; p++)
        for (int i = 0; i < lc->phases[p].n_envs; i++)
            if (lc->phases[p].envs[i] == env) phase = p;
    if (phase < 0) {
        if (why)
            *why = sim_strfmt("Release %s of %s cannot be deployed to %s: the environment is not "
                              "part of lifecycle %s.",
                              rel->version, proj->name, w->envs[env].name, lc->name);
        return false;
    }
    for (int p = 0; p < phase; p++) {
        const sim_phase *ph = &lc->phases[p];
        if (ph->optional) continue;
        int reachable = 0, done = 0;
        for (int i = 0; i < ph->n_envs; i++) {
            /* A tenant only progresses through environments it is connected to;
             * a phase it cannot reach at all does not hold it back. */
            if (tenant >= 0 && !sim_tenant_connected(w, tenant, rel->project, ph->envs[i]))
                continue;
            reachable++;
            if (sim_release_done(w, release, ph->envs[i], tenant)) done++;
        }
        int need = ph->minimum < reachable ? ph->minimum : reachable;
        if (done >= need) continue;
        if (why) {
            char *envs = env_list(w, ph);
            char forwho[300] = "";
            if (tname) snprintf(forwho, sizeof forwho, " for %s", tname);
            if (ph->n_envs == 1)
                *why = sim_strfmt("Release %s of %s cannot be deployed to %s%s yet: it must first "
                                  "be deployed to %s.",
                                  rel->version, proj->name, w->envs[env].name, forwho, envs);
            else
                *why = sim_strfmt("Release %s of %s cannot be deployed to %s%s yet: it must first "
                                  "be deployed to at least %d of %s (phase %s).",
                                  rel->version, proj->name, w->envs[env].name, forwho, need, envs,
                                  ph->name);
            free(envs);
        }
        return false;
    }
    return true;
}

bool sim_tenant_matches_tags(const sim_world *w, int tenant, const json_t *tags)
{
    const sim_tenant *t = &w->tenants[tenant];
    size_t i, j;
    json_t *v, *u;
    json_array_foreach(tags, i, v)
    {
        const char *want = json_string_value(v);
        const char *slash = strchr(want, '/');
        size_t setlen = slash ? (size_t)(slash - want) : strlen(want);
        bool ok = false;
        /* any filter tag of the same set that the tenant carries satisfies the set */
        json_array_foreach(tags, j, u)
        {
            const char *alt = json_string_value(u);
            if (strncasecmp(alt, want, setlen) != 0 || alt[setlen] != '/') continue;
            for (int k = 0; k < t->n_tags && !ok; k++)
                ok = strcasecmp(w->tags[t->tags[k]].canonical, alt) == 0;
        }
        if (!ok) return false;
    }
    return true;
}
