/* The simulator's world: loading a fixture (docs/octopus.md, "Fixture
 * format") into flat arrays, lookups by id, and the lifecycle rules.
 *
 * Every fixture error names the JSON path of the offending value, so a typo
 * in a 500-tenant file is found at once. Unknown keys are errors too (keys
 * starting with '_' are comments). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "sim_int.h"

typedef struct fx {
    sim_world *w;
    char *errstr;
    size_t errsz;
    int hist_cap;
} fx;

static of_err fxerr(fx *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static of_err fxerr(fx *f, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    of_err rc = sim_vfxerr(f->errstr, f->errsz, path, fmt, ap);
    va_end(ap);
    return rc;
}

static void *alloc_array(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    OF_ASSERT(p);
    return p;
}

#define PATHF(buf, ...) sim_pathf(buf, sizeof buf, __VA_ARGS__)

static of_err check_keys(fx *f, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key = sim_unknown_key(obj, allowed, true);
    return key ? fxerr(f, path, "unknown field \"%s\"", key) : OF_OK;
}

static of_err need_object(fx *f, json_t *v, const char *path)
{
    return json_is_object(v) ? OF_OK : fxerr(f, path, "expected an object");
}

/* Optional array: absent -> *out NULL. */
static of_err get_array(fx *f, json_t *obj, const char *key, const char *path, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return OF_OK;
    if (!json_is_array(v)) return fxerr(f, path, "\"%s\" must be an array", key);
    *out = v;
    return OF_OK;
}

static of_err get_str(fx *f, json_t *obj, const char *key, const char *path, bool required,
                      const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return fxerr(f, path, "missing \"%s\"", key);
        return OF_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fxerr(f, path, "\"%s\" must be a non-empty string", key);
    *out = json_string_value(v);
    return OF_OK;
}

static of_err get_bool(fx *f, json_t *obj, const char *key, const char *path, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return OF_OK;
    if (!json_is_boolean(v)) return fxerr(f, path, "\"%s\" must be true or false", key);
    *out = json_is_true(v);
    return OF_OK;
}

static of_err get_int(fx *f, json_t *obj, const char *key, const char *path, long long lo,
                      long long hi, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return OF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fxerr(f, path, "\"%s\" must be an integer in [%lld, %lld]", key, lo, hi);
    *out = json_integer_value(v);
    return OF_OK;
}

/* Assigns an id: the explicit one, or PREFIX-N with the first free N. */
static of_err assign_id(fx *f, sim_strmap *map, const char *prefix, const char *explicit_id,
                        int index, const char *path, char **out)
{
    char *id;
    if (explicit_id) {
        id = sim_strdup(explicit_id);
    } else {
        id = NULL;
        for (int n = index + 1; !id || sim_strmap_get(map, id) >= 0; n++) {
            free(id);
            id = sim_strfmt("%s-%d", prefix, n);
        }
    }
    if (sim_strmap_put(map, id, index) != OF_OK) {
        of_err rc = fxerr(f, path, "duplicate id \"%s\"", id);
        free(id);
        return rc;
    }
    *out = id;
    return OF_OK;
}

/* Names are unique per space and per kind; compared case-insensitively as
 * Octopus does. These scans run at load time only. */
static int env_by_name(const sim_world *w, int space, const char *name)
{
    for (int i = 0; i < w->n_envs; i++)
        if (w->envs[i].space == space && strcasecmp(w->envs[i].name, name) == 0) return i;
    return -1;
}

static int project_by_name(const sim_world *w, int space, const char *name)
{
    for (int i = 0; i < w->n_projects; i++)
        if (w->projects[i].space == space && strcasecmp(w->projects[i].name, name) == 0) return i;
    return -1;
}

static int tenant_by_name(const sim_world *w, int space, const char *name)
{
    for (int i = 0; i < w->n_tenants; i++)
        if (w->tenants[i].space == space && strcasecmp(w->tenants[i].name, name) == 0) return i;
    return -1;
}

static int lifecycle_by_name(const sim_world *w, int space, const char *name)
{
    for (int i = 0; i < w->n_lifecycles; i++)
        if (w->lifecycles[i].space == space && strcasecmp(w->lifecycles[i].name, name) == 0)
            return i;
    return -1;
}

static int tag_by_canonical(const sim_world *w, int space, const char *canonical)
{
    for (int i = 0; i < w->n_tags; i++)
        if (w->tagsets[w->tags[i].tagset].space == space &&
            strcasecmp(w->tags[i].canonical, canonical) == 0)
            return i;
    return -1;
}

/* An object with only the keys listed, a "name" and maybe an "id" (*id NULL without). */
static of_err named_object(fx *f, json_t *v, const char *path, const char *const *keys,
                           const char **name, const char **id)
{
    of_err rc = need_object(f, v, path);
    if (!rc) rc = check_keys(f, v, path, keys);
    if (!rc) rc = get_str(f, v, "name", path, true, name);
    if (!rc) rc = get_str(f, v, "id", path, false, id);
    return rc;
}

/* A list element given either as a bare string (its name) or an object. */
static of_err name_or_object(fx *f, json_t *v, const char *path, const char *const *keys,
                             const char **name, json_t **obj)
{
    *obj = NULL;
    if (json_is_string(v) && json_string_length(v) > 0) {
        *name = json_string_value(v);
        return OF_OK;
    }
    if (!json_is_object(v)) return fxerr(f, path, "expected a name or an object");
    of_err rc = check_keys(f, v, path, keys);
    if (rc) return rc;
    *obj = v;
    return get_str(f, v, "name", path, true, name);
}

static of_err load_env(fx *f, int s, json_t *v, size_t i, const char *path)
{
    static const char *const keys[] = {"name", "id", "use_guided_failure", NULL};
    sim_world *w = f->w;
    const char *name = NULL, *id = NULL;
    json_t *obj;
    of_err rc = name_or_object(f, v, path, keys, &name, &obj);
    if (!rc && obj) rc = get_str(f, obj, "id", path, false, &id);
    if (rc) return rc;
    if (env_by_name(w, s, name) >= 0) return fxerr(f, path, "duplicate environment \"%s\"", name);
    int e = w->n_envs;
    sim_env *env = &w->envs[e];
    rc = assign_id(f, &w->env_ids, "Environments", id, e, path, &env->id);
    if (rc) return rc;
    w->n_envs++;
    env->name = sim_strdup(name);
    env->slug = sim_slug(name);
    env->space = s;
    env->sort_order = (int)i;
    if (obj) {
        rc = get_bool(f, obj, "use_guided_failure", path, &env->guided);
        if (rc) return rc;
    }
    return OF_OK;
}

static of_err load_tagset(fx *f, int s, json_t *v, size_t i, const char *path)
{
    static const char *const keys[] = {"name", "id", "tags", NULL};
    (void)i; /* the path holds it */
    sim_world *w = f->w;
    size_t j;
    json_t *t;
    char tpath[300];
    const char *name, *id = NULL;
    json_t *tags;
    of_err rc = named_object(f, v, path, keys, &name, &id);
    if (!rc) rc = get_array(f, v, "tags", path, &tags);
    if (rc) return rc;
    int ts = w->n_tagsets;
    sim_tagset *set = &w->tagsets[ts];
    rc = assign_id(f, &w->tagset_ids, "TagSets", id, ts, path, &set->id);
    if (rc) return rc;
    w->n_tagsets++;
    set->name = sim_strdup(name);
    set->space = s;
    set->first_tag = w->n_tags;
    json_array_foreach(tags, j, t)
    {
        PATHF(tpath, "%s.tags[%zu]", path, j);
        if (!json_is_string(t) || json_string_length(t) == 0 || strchr(json_string_value(t), '/'))
            return fxerr(f, tpath, "a tag must be a non-empty string without '/'");
        char *canonical = sim_strfmt("%s/%s", name, json_string_value(t));
        if (tag_by_canonical(w, s, canonical) >= 0) {
            free(canonical);
            return fxerr(f, tpath, "duplicate tag");
        }
        sim_tag *tag = &w->tags[w->n_tags++];
        tag->canonical = canonical;
        tag->name = sim_strdup(json_string_value(t));
        tag->id = sim_strfmt("%s-%zu", set->id, j + 1);
        tag->tagset = ts;
        set->n_tags++;
    }
    return OF_OK;
}

static of_err load_phase(fx *f, int s, json_t *v, const char *path, const char *lc_id, int index,
                         sim_phase *ph)
{
    static const char *const keys[] = {"name", "environments", "optional", "minimum", NULL};
    const char *name;
    json_t *envs;
    long long minimum = 1;
    of_err rc = need_object(f, v, path);
    if (!rc) rc = check_keys(f, v, path, keys);
    if (!rc) rc = get_str(f, v, "name", path, true, &name);
    if (!rc) rc = get_array(f, v, "environments", path, &envs);
    if (!rc) rc = get_bool(f, v, "optional", path, &ph->optional);
    if (!rc) rc = get_int(f, v, "minimum", path, 1, 1000, &minimum);
    if (rc) return rc;
    ph->name = sim_strdup(name);
    ph->id = sim_strfmt("%s-phase-%d", lc_id, index + 1);
    size_t n = envs ? json_array_size(envs) : 0;
    if (n == 0) return fxerr(f, path, "a phase needs at least one environment");
    if ((size_t)minimum > n)
        return fxerr(f, path, "\"minimum\" %lld exceeds the phase's %zu environments", minimum, n);
    ph->minimum = (int)minimum;
    ph->envs = calloc(n, sizeof *ph->envs);
    OF_ASSERT(ph->envs);
    size_t i;
    json_t *e;
    char epath[300];
    json_array_foreach(envs, i, e)
    {
        PATHF(epath, "%s.environments[%zu]", path, i);
        int env = json_is_string(e) ? env_by_name(f->w, s, json_string_value(e)) : -1;
        if (env < 0) return fxerr(f, epath, "unknown environment");
        ph->envs[ph->n_envs++] = env;
    }
    return OF_OK;
}

static of_err load_lifecycle(fx *f, int s, json_t *v, size_t i, const char *path)
{
    static const char *const keys[] = {"name", "id", "phases", NULL};
    (void)i; /* the path holds it */
    sim_world *w = f->w;
    size_t j;
    json_t *p;
    char ppath[300];
    const char *name, *id = NULL;
    json_t *phases;
    of_err rc = named_object(f, v, path, keys, &name, &id);
    if (!rc) rc = get_array(f, v, "phases", path, &phases);
    if (rc) return rc;
    if (lifecycle_by_name(w, s, name) >= 0)
        return fxerr(f, path, "duplicate lifecycle \"%s\"", name);
    int l = w->n_lifecycles;
    sim_lifecycle *lc = &w->lifecycles[l];
    rc = assign_id(f, &w->lifecycle_ids, "Lifecycles", id, l, path, &lc->id);
    if (rc) return rc;
    w->n_lifecycles++;
    lc->name = sim_strdup(name);
    lc->space = s;
    size_t n = phases ? json_array_size(phases) : 0;
    lc->phases = calloc(n ? n : 1, sizeof *lc->phases);
    OF_ASSERT(lc->phases);
    json_array_foreach(phases, j, p)
    {
        PATHF(ppath, "%s.phases[%zu]", path, j);
        lc->n_phases++;
        rc = load_phase(f, s, p, ppath, lc->id, (int)j, &lc->phases[j]);
        if (rc) return rc;
    }
    return OF_OK;
}

static of_err parse_tenancy(const char *s, sim_tenancy *out)
{
    if (!s || strcmp(s, "Untenanted") == 0)
        *out = SIM_UNTENANTED;
    else if (strcmp(s, "Tenanted") == 0)
        *out = SIM_TENANTED;
    else if (strcmp(s, "TenantedOrUntenanted") == 0)
        *out = SIM_TENANTED_OR_UNTENANTED;
    else
        return OF_ERR_INVALID;
    return OF_OK;
}

static of_err load_channels(fx *f, int s, int p, json_t *arr, const char *path)
{
    static const char *const keys[] = {"name", "id", "lifecycle", "is_default", NULL};
    sim_world *w = f->w;
    sim_project *proj = &w->projects[p];
    size_t n = arr ? json_array_size(arr) : 0;
    proj->default_channel = -1;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        char cpath[300];
        PATHF(cpath, "%s.channels[%zu]", path, i);
        const char *name = "Default", *id = NULL, *lcname = NULL;
        bool is_default = false;
        json_t *obj = NULL;
        of_err rc = OF_OK;
        if (n) rc = name_or_object(f, json_array_get(arr, i), cpath, keys, &name, &obj);
        if (!rc && obj) rc = get_str(f, obj, "id", cpath, false, &id);
        if (!rc && obj) rc = get_str(f, obj, "lifecycle", cpath, false, &lcname);
        if (!rc && obj) rc = get_bool(f, obj, "is_default", cpath, &is_default);
        if (rc) return rc;
        int c = w->n_channels;
        sim_channel *ch = &w->channels[c];
        rc = assign_id(f, &w->channel_ids, "Channels", id, c, cpath, &ch->id);
        if (rc) return rc;
        w->n_channels++;
        ch->name = sim_strdup(name);
        ch->space = s;
        ch->project = p;
        ch->lifecycle = -1;
        if (lcname) {
            ch->lifecycle = lifecycle_by_name(w, s, lcname);
            if (ch->lifecycle < 0) return fxerr(f, cpath, "unknown lifecycle \"%s\"", lcname);
        }
        if (is_default) {
            if (proj->default_channel >= 0) return fxerr(f, cpath, "two default channels");
            proj->default_channel = c;
        }
    }
    if (proj->default_channel < 0) proj->default_channel = w->n_channels - (int)(n ? n : 1);
    w->channels[proj->default_channel].is_default = true;
    return OF_OK;
}

static int channel_by_name(const sim_world *w, int p, const char *name)
{
    for (int i = 0; i < w->n_channels; i++)
        if (w->channels[i].project == p && strcasecmp(w->channels[i].name, name) == 0) return i;
    return -1;
}

static of_err load_releases(fx *f, int s, int p, json_t *arr, const char *path)
{
    static const char *const keys[] = {"version", "id", "channel", "packages", NULL};
    sim_world *w = f->w;
    size_t i;
    json_t *v;
    char rpath[300];
    json_array_foreach(arr, i, v)
    {
        PATHF(rpath, "%s.releases[%zu]", path, i);
        const char *version = NULL, *id = NULL, *chname = NULL;
        json_t *packages = NULL; /* checked once the process is loaded (sim_process.c) */
        of_err rc = OF_OK;
        if (json_is_string(v) && json_string_length(v) > 0) {
            version = json_string_value(v);
        } else if (json_is_object(v)) {
            rc = check_keys(f, v, rpath, keys);
            if (!rc) rc = get_str(f, v, "version", rpath, true, &version);
            if (!rc) rc = get_str(f, v, "id", rpath, false, &id);
            if (!rc) rc = get_str(f, v, "channel", rpath, false, &chname);
            if (!rc) packages = json_object_get(v, "packages");
        } else {
            rc = fxerr(f, rpath, "expected a version string or an object");
        }
        if (rc) return rc;
        if (sim_release_by_version(w, p, version) >= 0)
            return fxerr(f, rpath, "duplicate release version \"%s\"", version);
        int r = w->n_releases;
        sim_release *rel = &w->releases[r];
        rc = assign_id(f, &w->release_ids, "Releases", id, r, rpath, &rel->id);
        if (rc) return rc;
        w->n_releases++;
        rel->version = sim_strdup(version);
        rel->space = s;
        rel->project = p;
        rel->channel = w->projects[p].default_channel;
        rel->packages_src = json_incref(packages);
        if (chname) {
            rel->channel = channel_by_name(w, p, chname);
            if (rel->channel < 0) return fxerr(f, rpath, "unknown channel \"%s\"", chname);
        }
    }
    return OF_OK;
}

/* Records a slug of space s for index idx (slugs are unique per space, like names). */
static of_err put_slug(fx *f, sim_strmap *map, int s, const char *slug, int idx, const char *path)
{
    char *key = sim_strfmt("%d:%s", s, slug);
    of_err rc = sim_strmap_put(map, key, idx);
    free(key);
    return rc ? fxerr(f, path, "duplicate slug \"%s\"", slug) : OF_OK;
}
static of_err load_project(fx *f, int s, json_t *v, size_t i, const char *path)
{
    static const char *const keys[] = {"name",           "id",       "slug",     "tenanted",
                                       "lifecycle",      "releases", "channels", "disabled",
                                       "guided_failure", "process",  NULL};
    (void)i; /* the path holds it */
    sim_world *w = f->w;
    const char *name, *id = NULL, *slug = NULL, *tenanted = NULL, *lcname = NULL, *guided = NULL;
    json_t *releases, *channels, *process;
    of_err rc = named_object(f, v, path, keys, &name, &id);
    if (!rc) rc = get_str(f, v, "slug", path, false, &slug);
    if (!rc) rc = get_str(f, v, "tenanted", path, false, &tenanted);
    if (!rc) rc = get_str(f, v, "lifecycle", path, false, &lcname);
    if (!rc) rc = get_str(f, v, "guided_failure", path, false, &guided);
    if (!rc) rc = get_array(f, v, "releases", path, &releases);
    if (!rc) rc = get_array(f, v, "channels", path, &channels);
    if (!rc) rc = get_array(f, v, "process", path, &process);
    if (rc) return rc;
    if (project_by_name(w, s, name) >= 0) return fxerr(f, path, "duplicate project \"%s\"", name);
    int p = w->n_projects;
    sim_project *proj = &w->projects[p];
    rc = assign_id(f, &w->project_ids, "Projects", id, p, path, &proj->id);
    if (rc) return rc;
    w->n_projects++;
    proj->name = sim_strdup(name);
    proj->space = s;
    proj->slug = slug ? sim_strdup(slug) : sim_slug(name);
    proj->process_src = json_incref(process); /* built after the space's projects */
    rc = put_slug(f, &w->project_slugs, s, proj->slug, p, path);
    if (rc) return rc;
    if (parse_tenancy(tenanted, &proj->tenancy))
        return fxerr(f, path, "\"tenanted\" must be Untenanted, Tenanted or TenantedOrUntenanted");
    if (guided && strcmp(guided, "EnvironmentDefault") != 0 && strcmp(guided, "Off") != 0 &&
        strcmp(guided, "On") != 0)
        return fxerr(f, path, "\"guided_failure\" must be EnvironmentDefault, Off or On");
    proj->guided_mode = sim_strdup(guided ? guided : "EnvironmentDefault");
    rc = get_bool(f, v, "disabled", path, &proj->disabled);
    if (rc) return rc;
    if (lcname) {
        proj->lifecycle = lifecycle_by_name(w, s, lcname);
        if (proj->lifecycle < 0) {
            char lpath[300];
            PATHF(lpath, "%s.lifecycle", path);
            return fxerr(f, lpath, "unknown lifecycle \"%s\"", lcname);
        }
    } else {
        proj->lifecycle = -1;
        for (int l = 0; l < w->n_lifecycles && proj->lifecycle < 0; l++)
            if (w->lifecycles[l].space == s) proj->lifecycle = l;
        if (proj->lifecycle < 0)
            return fxerr(f, path, "no \"lifecycle\" given and the space has none");
    }
    rc = load_channels(f, s, p, channels, path);
    if (!rc) rc = load_releases(f, s, p, releases, path);
    if (rc) return rc;
    return OF_OK;
}

static of_err load_tenant_projects(fx *f, int s, sim_tenant *t, json_t *obj, const char *path)
{
    sim_world *w = f->w;
    if (!obj) return OF_OK;
    if (!json_is_object(obj))
        return fxerr(f, path, "\"projects\" must be an object {project: [environments]}");
    t->pe = calloc(json_object_size(obj) + 1, sizeof *t->pe);
    OF_ASSERT(t->pe);
    const char *pname;
    json_t *envs;
    char ppath[400], epath[450];
    json_object_foreach(obj, pname, envs)
    {
        PATHF(ppath, "%s.projects.%s", path, pname);
        int p = project_by_name(w, s, pname);
        if (p < 0) return fxerr(f, ppath, "unknown project");
        if (w->projects[p].tenancy == SIM_UNTENANTED)
            return fxerr(f, ppath, "project is Untenanted; tenants cannot be connected to it");
        if (!json_is_array(envs)) return fxerr(f, ppath, "expected an array of environments");
        sim_projenv *pe = &t->pe[t->n_pe++];
        pe->project = p;
        pe->envs = calloc(json_array_size(envs) + 1, sizeof *pe->envs);
        OF_ASSERT(pe->envs);
        size_t i;
        json_t *e;
        json_array_foreach(envs, i, e)
        {
            PATHF(epath, "%s[%zu]", ppath, i);
            int env = json_is_string(e) ? env_by_name(w, s, json_string_value(e)) : -1;
            if (env < 0) return fxerr(f, epath, "unknown environment");
            pe->envs[pe->n_envs++] = env;
        }
    }
    return OF_OK;
}

static of_err load_tenant(fx *f, int s, json_t *v, size_t i, const char *path)
{
    static const char *const keys[] = {"name", "id", "slug", "tags", "projects", "disabled", NULL};
    (void)i; /* the path holds it */
    sim_world *w = f->w;
    size_t j;
    json_t *tg;
    char tpath[300];
    const char *name, *id = NULL, *slug = NULL;
    json_t *tags;
    of_err rc = named_object(f, v, path, keys, &name, &id);
    if (!rc) rc = get_str(f, v, "slug", path, false, &slug);
    if (!rc) rc = get_array(f, v, "tags", path, &tags);
    if (rc) return rc;
    if (tenant_by_name(w, s, name) >= 0) return fxerr(f, path, "duplicate tenant \"%s\"", name);
    int ti = w->n_tenants;
    sim_tenant *t = &w->tenants[ti];
    rc = assign_id(f, &w->tenant_ids, "Tenants", id, ti, path, &t->id);
    if (rc) return rc;
    w->n_tenants++;
    t->name = sim_strdup(name);
    t->slug = slug ? sim_strdup(slug) : sim_slug(name);
    t->space = s;
    rc = put_slug(f, &w->tenant_slugs, s, t->slug, ti, path);
    if (rc) return rc;
    rc = get_bool(f, v, "disabled", path, &t->disabled);
    if (rc) return rc;
    t->tags = calloc((tags ? json_array_size(tags) : 0) + 1, sizeof *t->tags);
    OF_ASSERT(t->tags);
    json_array_foreach(tags, j, tg)
    {
        PATHF(tpath, "%s.tags[%zu]", path, j);
        int tag = json_is_string(tg) ? tag_by_canonical(w, s, json_string_value(tg)) : -1;
        if (tag < 0) return fxerr(f, tpath, "unknown tag (expected \"TagSet/Tag\")");
        t->tags[t->n_tags++] = tag;
    }
    rc = load_tenant_projects(f, s, t, json_object_get(v, "projects"), path);
    if (rc) return rc;
    return OF_OK;
}

static void hist_push(fx *f, int release, int env, int tenant)
{
    sim_world *w = f->w;
    if (w->n_hist == f->hist_cap) {
        f->hist_cap = f->hist_cap ? f->hist_cap * 2 : 256;
        sim_hist *p = realloc(w->hist, (size_t)f->hist_cap * sizeof *p);
        OF_ASSERT(p);
        w->hist = p;
    }
    w->hist[w->n_hist++] = (sim_hist){.release = release, .env = env, .tenant = tenant};
}

/* Environments of a release's lifecycle, in phase order (each once). */
static int lifecycle_envs(const sim_world *w, int release, int *out)
{
    const sim_lifecycle *lc = &w->lifecycles[sim_release_lifecycle(w, release)];
    int n = 0;
    for (int p = 0; p < lc->n_phases; p++)
        for (int i = 0; i < lc->phases[p].n_envs; i++) {
            bool dup = false;
            for (int k = 0; k < n; k++)
                dup |= out[k] == lc->phases[p].envs[i];
            if (!dup) out[n++] = lc->phases[p].envs[i];
        }
    return n;
}

/* One history entry. "environment": "*" = every environment of the
 * lifecycle (that the tenant is connected to); "tenant": "*" = every tenant
 * connected to the project. Explicit names must be valid and connected. */
static of_err load_history_entry(fx *f, int s, json_t *v, size_t index, const char *path)
{
    static const char *const keys[] = {"project", "release", "environment", "tenant", NULL};
    (void)index; /* the path holds it */
    sim_world *w = f->w;
    const char *pname, *version, *ename, *tname = NULL;
    of_err rc = need_object(f, v, path);
    if (!rc) rc = check_keys(f, v, path, keys);
    if (!rc) rc = get_str(f, v, "project", path, true, &pname);
    if (!rc) rc = get_str(f, v, "release", path, true, &version);
    if (!rc) rc = get_str(f, v, "environment", path, true, &ename);
    if (!rc) rc = get_str(f, v, "tenant", path, false, &tname);
    if (rc) return rc;
    int p = project_by_name(w, s, pname);
    if (p < 0) return fxerr(f, path, "unknown project \"%s\"", pname);
    int r = sim_release_by_version(w, p, version);
    if (r < 0) return fxerr(f, path, "project %s has no release \"%s\"", pname, version);
    bool all_envs = strcmp(ename, "*") == 0, all_tenants = tname && strcmp(tname, "*") == 0;
    int e = all_envs ? -1 : env_by_name(w, s, ename);
    if (!all_envs && e < 0) return fxerr(f, path, "unknown environment \"%s\"", ename);
    int t = -1;
    if (tname && w->projects[p].tenancy == SIM_UNTENANTED)
        return fxerr(f, path, "project %s is Untenanted but a tenant is given", pname);
    if (!tname && w->projects[p].tenancy == SIM_TENANTED)
        return fxerr(f, path, "project %s is Tenanted; a tenant is required", pname);
    if (tname && !all_tenants) {
        t = tenant_by_name(w, s, tname);
        if (t < 0) return fxerr(f, path, "unknown tenant \"%s\"", tname);
        if (!all_envs && !sim_tenant_connected(w, t, p, e))
            return fxerr(f, path, "tenant %s is not connected to %s in %s", tname, pname, ename);
    }
    int *envs = alloc_array((size_t)w->n_envs, sizeof *envs);
    int n_envs = all_envs ? lifecycle_envs(w, r, envs) : 1;
    if (!all_envs) envs[0] = e;
    for (int k = 0; k < (all_tenants ? w->n_tenants : 1); k++) {
        int tt = all_tenants ? k : t;
        if (all_tenants && (w->tenants[tt].space != s || !sim_tenant_connected(w, tt, p, -1)))
            continue;
        for (int i = 0; i < n_envs; i++)
            if (tt < 0 || sim_tenant_connected(w, tt, p, envs[i])) hist_push(f, r, envs[i], tt);
    }
    free(envs);
    return OF_OK;
}

static of_err load_space(fx *f, json_t *v, int s, const char *path)
{
    static const char *const keys[] = {"name",         "id",         "slug",    "is_default",
                                       "environments", "lifecycles", "tagsets", "projects",
                                       "tenants",      "history",    NULL};
    sim_world *w = f->w;
    const char *name, *id = NULL, *slug = NULL;
    json_t *a;
    of_err rc = named_object(f, v, path, keys, &name, &id);
    if (!rc) rc = get_str(f, v, "slug", path, false, &slug);
    if (rc) return rc;
    for (int i = 0; i < w->n_spaces; i++)
        if (strcasecmp(w->spaces[i].name, name) == 0)
            return fxerr(f, path, "duplicate space \"%s\"", name);
    sim_space *sp = &w->spaces[s];
    rc = assign_id(f, &w->space_ids, "Spaces", id, s, path, &sp->id);
    if (rc) return rc;
    w->n_spaces++;
    sp->name = sim_strdup(name);
    sp->slug = slug ? sim_strdup(slug) : sim_slug(name);
    rc = get_bool(f, v, "is_default", path, &sp->is_default);
    if (rc) return rc;
    /* In this order: each part refers to the ones before it by name. */
    static const struct {
        const char *key;
        of_err (*load)(fx *f, int s, json_t *v, size_t i, const char *path);
    } parts[] = {{"environments", load_env},     {"tagsets", load_tagset},
                 {"lifecycles", load_lifecycle}, {"projects", load_project},
                 {"tenants", load_tenant},       {"history", load_history_entry}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        size_t i;
        json_t *e;
        char epath[300];
        rc = get_array(f, v, parts[k].key, path, &a);
        if (rc) return rc;
        json_array_foreach(a, i, e)
        {
            PATHF(epath, "%s.%s[%zu]", path, parts[k].key, i);
            rc = parts[k].load(f, s, e, i, epath);
            if (rc) return rc;
        }
        /* processes name child projects and releases, which may come later in the file */
        if (strcmp(parts[k].key, "projects") == 0) {
            rc = sim_load_processes(w, s, path, f->errstr, f->errsz);
            if (rc) return rc;
        }
    }
    return OF_OK;
}

static of_err load_keys(fx *f, json_t *arr)
{
    static const char *const keys[] = {"key", "spaces", NULL};
    sim_world *w = f->w;
    size_t i, j;
    json_t *v, *s;
    char path[128], spath[160];
    json_array_foreach(arr, i, v)
    {
        PATHF(path, "api_keys[%zu]", i);
        const char *key;
        json_t *spaces;
        of_err rc = need_object(f, v, path);
        if (!rc) rc = check_keys(f, v, path, keys);
        if (!rc) rc = get_str(f, v, "key", path, true, &key);
        if (!rc) rc = get_array(f, v, "spaces", path, &spaces);
        if (rc) return rc;
        sim_key *k = &w->keys[w->n_keys++];
        k->key = sim_strdup(key);
        k->all_spaces = spaces == NULL;
        k->spaces = calloc((spaces ? json_array_size(spaces) : 0) + 1, sizeof *k->spaces);
        OF_ASSERT(k->spaces);
        json_array_foreach(spaces, j, s)
        {
            PATHF(spath, "%s.spaces[%zu]", path, j);
            const char *name = json_is_string(s) ? json_string_value(s) : "";
            if (strcmp(name, "*") == 0) {
                k->all_spaces = true;
                continue;
            }
            int sp = sim_find_space(w, name);
            if (sp < 0) return fxerr(f, spath, "unknown space \"%s\"", name);
            k->spaces[k->n_spaces++] = sp;
        }
    }
    return OF_OK;
}

/* Counts array elements under every space so the world's arrays can be
 * allocated once. Malformed parts count 0; the real pass reports them. */
static size_t count_in_spaces(json_t *spaces, const char *key)
{
    size_t total = 0, i;
    json_t *sp;
    json_array_foreach(spaces, i, sp)
    {
        json_t *a = json_object_get(sp, key);
        if (json_is_array(a)) total += json_array_size(a);
    }
    return total;
}

static size_t count_nested(json_t *spaces, const char *outer, const char *inner, size_t min)
{
    size_t total = 0, i, j;
    json_t *sp, *o;
    json_array_foreach(spaces, i, sp)
    {
        json_t *a = json_object_get(sp, outer);
        if (!json_is_array(a)) continue;
        json_array_foreach(a, j, o)
        {
            json_t *in = json_object_get(o, inner);
            size_t n = json_is_array(in) ? json_array_size(in) : 0;
            total += n > min ? n : min;
        }
    }
    return total;
}

/* Sorting names with their indexes keeps qsort free of global context. */
typedef struct named_idx {
    const char *name;
    int idx;
} named_idx;

static int cmp_named(const void *a, const void *b)
{
    return sim_namecmp(((const named_idx *)a)->name, ((const named_idx *)b)->name);
}

static int *sorted_by_name(int n, const char *(*name_of)(const sim_world *, int),
                           const sim_world *w)
{
    named_idx *tmp = alloc_array((size_t)n, sizeof *tmp);
    int *out = alloc_array((size_t)n, sizeof *out);
    for (int i = 0; i < n; i++)
        tmp[i] = (named_idx){name_of(w, i), i};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_named);
    for (int i = 0; i < n; i++)
        out[i] = tmp[i].idx;
    free(tmp);
    return out;
}

static const char *project_name(const sim_world *w, int i)
{
    return w->projects[i].name;
}

static const char *tenant_name(const sim_world *w, int i)
{
    return w->tenants[i].name;
}

static void build_sorted(sim_world *w)
{
    w->sorted_projects = sorted_by_name(w->n_projects, project_name, w);
    w->sorted_tenants = sorted_by_name(w->n_tenants, tenant_name, w);
    w->sorted_envs = alloc_array((size_t)w->n_envs, sizeof(int));
    for (int i = 0; i < w->n_envs; i++)
        w->sorted_envs[i] = i; /* already in SortOrder within each space */
}

static of_err load_root(fx *f, json_t *root)
{
    static const char *const keys[] = {"api_keys", "task_cap", "spaces", "rules", "seed", NULL};
    sim_world *w = f->w;
    json_t *spaces, *keys_arr;
    of_err rc = need_object(f, root, "(top level)");
    if (!rc) rc = check_keys(f, root, "(top level)", keys);
    if (!rc) rc = get_array(f, root, "spaces", "(top level)", &spaces);
    if (!rc) rc = get_array(f, root, "api_keys", "(top level)", &keys_arr);
    if (rc) return rc;
    if (!spaces || json_array_size(spaces) == 0)
        return fxerr(f, "spaces", "at least one space is required");
    long long cap = SIM_DEFAULT_CAP, seed = 0;
    rc = get_int(f, root, "task_cap", "task_cap", 1, 100000, &cap);
    if (!rc) rc = get_int(f, root, "seed", "seed", 0, INT64_MAX, &seed);
    if (rc) return rc;
    w->task_cap = (int)cap;
    w->seed = (uint64_t)seed;

    w->spaces = alloc_array(json_array_size(spaces), sizeof *w->spaces);
    w->envs = alloc_array(count_in_spaces(spaces, "environments"), sizeof *w->envs);
    w->lifecycles = alloc_array(count_in_spaces(spaces, "lifecycles"), sizeof *w->lifecycles);
    w->tagsets = alloc_array(count_in_spaces(spaces, "tagsets"), sizeof *w->tagsets);
    w->tags = alloc_array(count_nested(spaces, "tagsets", "tags", 0), sizeof *w->tags);
    w->projects = alloc_array(count_in_spaces(spaces, "projects"), sizeof *w->projects);
    w->channels = alloc_array(count_nested(spaces, "projects", "channels", 1), sizeof *w->channels);
    w->releases = alloc_array(count_nested(spaces, "projects", "releases", 0), sizeof *w->releases);
    w->tenants = alloc_array(count_in_spaces(spaces, "tenants"), sizeof *w->tenants);
    w->keys = alloc_array(keys_arr ? json_array_size(keys_arr) : 0, sizeof *w->keys);

    size_t i;
    json_t *sp;
    char path[64];
    json_array_foreach(spaces, i, sp)
    {
        PATHF(path, "spaces[%zu]", i);
        rc = load_space(f, sp, (int)i, path);
        if (rc) return rc;
    }
    w->default_space = 0;
    int defaults = 0;
    for (int s = 0; s < w->n_spaces; s++)
        if (w->spaces[s].is_default) w->default_space = s, defaults++;
    if (defaults > 1) return fxerr(f, "spaces", "more than one space has \"is_default\": true");
    w->spaces[w->default_space].is_default = true;

    rc = load_keys(f, keys_arr);
    if (rc) return rc;
    json_t *rules;
    rc = get_array(f, root, "rules", "(top level)", &rules);
    if (!rc) rc = sim_rules_parse(rules, "rules", &w->rules, &w->n_rules, f->errstr, f->errsz);
    if (rc) return rc;

    /* Older releases get earlier times, so "newest first" follows file order; all of them
     * before the history that deploys them. */
    for (int r = 0; r < w->n_releases; r++)
        w->releases[r].assembled =
            w->epoch - SIM_HISTORY_AGE_MS - (int64_t)(w->n_releases - r) * 60000;
    build_sorted(w);
    return OF_OK;
}

of_err sim_world_load(sim_world *w, const char *path, const char *json, char *errstr,
                      size_t errstr_size)
{
    memset(w, 0, sizeof *w);
    w->epoch = of_wall_ms();
    json_error_t jerr;
    json_t *root;
    if ((path == NULL) == (json == NULL))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "give exactly one of a fixture path or fixture JSON");
    if (path) {
        root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "fixture %s:%d:%d: %s", path,
                             jerr.line, jerr.column, jerr.text);
    } else {
        root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "fixture JSON line %d:%d: %s",
                             jerr.line, jerr.column, jerr.text);
    }
    fx f = {.w = w, .errstr = errstr, .errsz = errstr_size};
    of_err rc = load_root(&f, root);
    json_decref(root);
    return rc;
}

void sim_world_clear(sim_world *w)
{
    for (int i = 0; i < w->n_spaces; i++)
        free(w->spaces[i].id), free(w->spaces[i].name), free(w->spaces[i].slug);
    for (int i = 0; i < w->n_envs; i++)
        free(w->envs[i].id), free(w->envs[i].name), free(w->envs[i].slug);
    for (int i = 0; i < w->n_lifecycles; i++) {
        for (int p = 0; p < w->lifecycles[i].n_phases; p++) {
            sim_phase *ph = &w->lifecycles[i].phases[p];
            free(ph->id), free(ph->name), free(ph->envs);
        }
        free(w->lifecycles[i].phases), free(w->lifecycles[i].id), free(w->lifecycles[i].name);
    }
    for (int i = 0; i < w->n_tagsets; i++)
        free(w->tagsets[i].id), free(w->tagsets[i].name);
    for (int i = 0; i < w->n_tags; i++)
        free(w->tags[i].id), free(w->tags[i].name), free(w->tags[i].canonical);
    for (int i = 0; i < w->n_projects; i++) {
        sim_project *p = &w->projects[i];
        free(p->id), free(p->name), free(p->slug), free(p->guided_mode);
        json_decref(p->process_src), json_decref(p->steps);
    }
    for (int i = 0; i < w->n_channels; i++)
        free(w->channels[i].id), free(w->channels[i].name);
    for (int i = 0; i < w->n_releases; i++)
        free(w->releases[i].id), free(w->releases[i].version), free(w->releases[i].done),
            json_decref(w->releases[i].packages_src), json_decref(w->releases[i].packages);
    for (int i = 0; i < w->n_tenants; i++) {
        sim_tenant *t = &w->tenants[i];
        for (int j = 0; j < t->n_pe; j++)
            free(t->pe[j].envs);
        free(t->pe), free(t->tags), free(t->id), free(t->name), free(t->slug);
    }
    for (int i = 0; i < w->n_keys; i++)
        free(w->keys[i].key), free(w->keys[i].spaces);
    sim_rules_free(w->rules, w->n_rules);
    free(w->spaces), free(w->envs), free(w->lifecycles), free(w->tagsets), free(w->tags);
    free(w->projects), free(w->channels), free(w->releases), free(w->tenants), free(w->keys);
    free(w->hist), free(w->sorted_projects), free(w->sorted_tenants), free(w->sorted_envs);
    sim_strmap *maps[] = {&w->space_ids,   &w->env_ids,       &w->lifecycle_ids, &w->tagset_ids,
                          &w->project_ids, &w->project_slugs, &w->channel_ids,   &w->release_ids,
                          &w->tenant_ids,  &w->tenant_slugs};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        sim_strmap_clear(maps[i]);
    memset(w, 0, sizeof *w);
}
