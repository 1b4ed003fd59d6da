/* The /api surface: routing (all three route forms), authentication, the
 * paging envelope, and the catalogue handlers (spaces, projects,
 * environments, lifecycles, channels, tenants, tag sets, releases and the
 * deployment template). Deployments and tasks live in sim_deploy.c.
 *
 * Routes are one table: method, path pattern relative to the space, handler.
 * The pattern doubles as the route name used by /sim/stats and /sim/faults,
 * so "/api/tasks", "/api/Spaces-1/tasks" and "/api/spaces/Spaces-1/tasks"
 * all count as "GET /api/{space}/tasks". */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "sim_int.h"
#include "utf8.h"

/* ---- replies ------------------------------------------------------------------ */

void sim_reply(sim_req *r, int status, json_t *json)
{
    free(r->resp);
    r->status = status;
    r->resp = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!r->resp) {
        /* A reply that could not be built (jansson refused a string, or memory): say so
         * rather than stop the server. */
        r->status = 500;
        r->resp = sim_strdup("{\"ErrorMessage\":\"The simulator could not render its reply.\"}");
    }
    r->content_type = "application/json; charset=utf-8";
    json_decref(json);
}

void sim_reply_error(sim_req *r, int status, const char *msg, json_t *errs)
{
    /* msg may quote the request (a name from the URL, jansson's context), which need not be
     * UTF-8; JSON must be. */
    char *text = sim_strdup(msg);
    of_utf8_scrub(text);
    json_t *j = json_pack("{s:s}", "ErrorMessage", text);
    free(text);
    if (j && errs)
        json_object_set_new(j, "Errors", errs);
    else
        json_decref(errs);
    sim_reply(r, status, j);
}

void sim_reply_not_found(sim_req *r)
{
    sim_reply_error(r, 404, "The resource you requested was not found.", NULL);
}

void sim_reply_text(sim_req *r, int status, char *text)
{
    free(r->resp);
    r->status = status;
    r->resp = text;
    r->content_type = "text/plain; charset=utf-8";
}

const char *sim_arg(const sim_req *r, const char *key)
{
    for (int i = 0; i < r->n_args; i++)
        if (strcasecmp(r->args[i].key, key) == 0) return r->args[i].value;
    return NULL;
}

json_t *sim_arg_list(const sim_req *r, const char *key)
{
    json_t *list = NULL;
    for (int i = 0; i < r->n_args; i++) {
        if (strcasecmp(r->args[i].key, key) != 0) continue;
        if (!list) list = json_array();
        const char *p = r->args[i].value;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (n > 0) json_array_append_new(list, json_stringn(p, n));
            p += n + (comma ? 1 : 0);
        }
    }
    return list;
}

bool sim_list_has(const json_t *list, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (strcasecmp(json_string_value(v), id) == 0) return true;
    return false;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool sim_paging(sim_req *r, long *skip, long *take)
{
    *skip = 0;
    *take = SIM_DEFAULT_TAKE;
    const char *s = sim_arg(r, "skip"), *t = sim_arg(r, "take");
    if ((s && !parse_long(s, 0, INT_MAX, skip)) || (t && !parse_long(t, 0, INT_MAX, take))) {
        sim_reply_error(r, 400, "There was a problem with your request.",
                        json_pack("[s]", "skip and take must be non-negative integers"));
        return false;
    }
    return true;
}

/* The request's path with its filters, re-encoded, ending in '?' or '&' for the paging: a new
 * string. */
static char *page_base(const sim_req *r)
{
    size_t cap = strlen(r->raw_path) + 64;
    for (int i = 0; i < r->n_args; i++)
        cap += 3 * (strlen(r->args[i].key) + strlen(r->args[i].value)) + 2;
    char *out = malloc(cap);
    OF_ASSERT(out);
    size_t o = (size_t)snprintf(out, cap, "%s?", r->raw_path);
    for (int i = 0; i < r->n_args; i++) {
        if (!strcasecmp(r->args[i].key, "skip") || !strcasecmp(r->args[i].key, "take") ||
            !strcasecmp(r->args[i].key, "apikey"))
            continue;
        sim_pct_encode(r->args[i].key, out + o, cap - o);
        o += strlen(out + o);
        out[o++] = '=';
        sim_pct_encode(r->args[i].value, out + o, cap - o);
        o += strlen(out + o);
        out[o++] = '&';
    }
    out[o] = '\0';
    return out;
}

/* The request's path with its filters and the given paging. */
static char *page_link(const char *base, long skip, long take)
{
    return sim_strfmt("%sskip=%ld&take=%ld", base, skip, take);
}

/* The "corrupt_task" fault: this task (or every one, "*") becomes undecodable. */
static void corrupt_task(const sim_fault *f, json_t *item)
{
    const char *id = json_string_value(json_object_get(item, "Id"));
    if (!id || (strcmp(f->corrupt_task, "*") != 0 && strcmp(f->corrupt_task, id) != 0)) return;
    const char *how = f->corrupt_how ? f->corrupt_how : "state_number";
    if (strcmp(how, "no_id") == 0)
        json_object_del(item, "Id");
    else if (strcmp(how, "state_unknown") == 0)
        json_object_set_new(item, "State", json_string("Exploded\x07"));
    else
        json_object_set_new(item, "State", json_integer(42));
}

/* ---- kept texts ------------------------------------------------------------ */

void sim_text_clear(sim_text *t)
{
    free(t->s);
    memset(t, 0, sizeof *t);
}

int64_t sim_now(const ofsim *sim)
{
    return sim->req_now ? sim->req_now : of_wall_ms();
}

static char *dump(json_t *json)
{
    char *s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    OF_ASSERT(s);
    return s;
}

void sim_text_check(ofsim *sim, const char *text, const char *stamp, sim_render_fn render,
                    int index)
{
    json_t *j = render(sim, index);
    char *fresh = dump(j);
    json_decref(j);
    if (strcmp(fresh, text) != 0) {
        size_t at = 0;
        while (fresh[at] && fresh[at] == text[at])
            at++;
        size_t from = at > 60 ? at - 60 : 0;
        of_error("kept text differs from a fresh rendering at byte %zu stamp=%s kept=...%.160s "
                 "fresh=...%.160s",
                 at, stamp, text + from, fresh + from);
        OF_ASSERT(!"a kept text is stale or mis-written");
    }
    free(fresh);
}

const sim_text *sim_text_get(ofsim *sim, sim_text *t, const char *stamp, sim_render_fn render,
                             sim_write_fn write, int index)
{
    if (!t->s || strcmp(t->stamp, stamp) != 0) {
        OF_ASSERT(strlen(stamp) < sizeof t->stamp);
        free(t->s);
        if (write) {
            t->s = write(sim, index);
        } else {
            json_t *j = render(sim, index);
            t->s = dump(j);
            json_decref(j);
        }
        t->len = strlen(t->s);
        snprintf(t->stamp, sizeof t->stamp, "%s", stamp);
    }
    if (sim->text_cache_check) sim_text_check(sim, t->s, stamp, render, index);
    return t;
}

void sim_json_put_str(of_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    OF_ASSERT(of_buf_append(b, "\"", 1) == OF_OK);
    const char *run = s;
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c && c != '"' && c != '\\' && c >= 0x20) continue; /* UTF-8 passes as it is */
        OF_ASSERT(of_buf_append(b, run, (size_t)(s - run)) == OF_OK);
        if (!c) break;
        static const char ctl[] = "\b\f\n\r\t", ctl_esc[] = "bfnrt";
        const char *named = strchr(ctl, c); /* c != 0 here */
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        if (named) {
            esc[1] = ctl_esc[named - ctl];
        } else if (c != '"' && c != '\\') {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        OF_ASSERT(of_buf_append(b, esc, n) == OF_OK);
        run = s + 1;
    }
    OF_ASSERT(of_buf_append(b, "\"", 1) == OF_OK);
}

void sim_reply_item(sim_req *r, int status, int index, sim_render_fn render, sim_text_fn text)
{
    if (r->sim->text_cache_off) {
        sim_reply(r, status, render(r->sim, index));
        return;
    }
    const sim_text *t = text(r->sim, index);
    char *copy = malloc(t->len + 1);
    OF_ASSERT(copy);
    memcpy(copy, t->s, t->len + 1);
    free(r->resp);
    r->status = status;
    r->resp = copy;
    r->content_type = "application/json; charset=utf-8";
}

/* The page's Links, in the order Octopus gives them: hrefs are new strings. */
typedef struct page_links {
    const char *name[6];
    char *href[6];
    int n;
} page_links;

static void page_links_add(page_links *l, const char *name, char *href)
{
    l->name[l->n] = name;
    l->href[l->n++] = href;
}

static void page_links_make(const sim_req *r, long skip, long take, long n, long pages,
                            const char *template_link, page_links *l)
{
    char *base = page_base(r);
    const char *ph = strstr(template_link, "{space}");
    l->n = 0;
    page_links_add(l, "Self", page_link(base, skip, take));
    if (ph && r->space >= 0) /* a concrete link, as Octopus gives */
        page_links_add(l, "Template",
                       sim_strfmt("%.*s%s%s", (int)(ph - template_link), template_link,
                                  r->sim->w.spaces[r->space].id, ph + 7));
    else
        page_links_add(l, "Template", sim_strdup(template_link));
    page_links_add(l, "Page.All", page_link(base, 0, INT_MAX));
    page_links_add(l, "Page.Current", page_link(base, skip, take));
    page_links_add(l, "Page.Last", page_link(base, (pages - 1) * take, take));
    if (skip + take < n) page_links_add(l, "Page.Next", page_link(base, skip + take, take));
    free(base);
}

/* The page as json_dumps writes the jansson envelope in reply_page (JSON_COMPACT: an item dumps
 * alike alone and nested), from the items' kept texts: no tree per item, no dump of the long
 * links. */
static char *write_page(sim_req *r, const char *item_type, const int *idx, long from, long to,
                        sim_text_fn text, long take, long long total, long pages,
                        const page_links *l)
{
    of_buf b;
    of_buf_init(&b, (size_t)1 << 30); /* our own reply: bounded by what is on record */
    OF_ASSERT(of_buf_puts(&b, "{\"ItemType\":") == OF_OK);
    sim_json_put_str(&b, item_type);
    OF_ASSERT(of_buf_puts(&b, ",\"Items\":[") == OF_OK);
    for (long k = from; k < to; k++) {
        const sim_text *t = text(r->sim, idx[k]);
        if (k > from) OF_ASSERT(of_buf_append(&b, ",", 1) == OF_OK);
        OF_ASSERT(of_buf_append(&b, t->s, t->len) == OF_OK);
    }
    OF_ASSERT(of_buf_printf(&b,
                            "],\"ItemsPerPage\":%ld,\"TotalResults\":%lld,\"NumberOfPages\":%ld,"
                            "\"LastPageNumber\":%ld,\"Links\":{",
                            take, total, pages, pages - 1) == OF_OK);
    for (int k = 0; k < l->n; k++) {
        if (k) OF_ASSERT(of_buf_append(&b, ",", 1) == OF_OK);
        sim_json_put_str(&b, l->name[k]);
        OF_ASSERT(of_buf_append(&b, ":", 1) == OF_OK);
        sim_json_put_str(&b, l->href[k]);
    }
    OF_ASSERT(of_buf_puts(&b, "}}") == OF_OK);
    char *out = of_buf_detach(&b);
    OF_ASSERT(out);
    return out;
}

static void reply_page(sim_req *r, const char *item_type, const int *idx, int n,
                       sim_render_fn render, sim_text_fn text, const char *template_link)
{
    long skip, take;
    if (!sim_paging(r, &skip, &take)) return;
    const sim_fault *f = r->fault;
    long from = f && f->ignore_skip ? 0 : skip; /* fault: the server ignores skip */
    long to = from + take < n ? from + take : n;
    bool corrupt = f && f->corrupt_task && strcmp(item_type, "ServerTask") == 0;
    if (corrupt || r->sim->text_cache_off) text = NULL; /* a fault rewrites items: build them */
    /* fault: a lying pager promises more (or fewer) than there are */
    json_int_t total = f && f->total_results >= 0 ? (json_int_t)f->total_results : (json_int_t)n;
    long pages = take > 0 ? (n + take - 1) / take : 1;
    if (pages < 1) pages = 1;
    page_links l;
    page_links_make(r, skip, take, n, pages, template_link, &l);
    if (text) {
        char *page =
            write_page(r, item_type, idx, from, to, text, take, (long long)total, pages, &l);
        sim_reply_text(r, 200, page);
        r->content_type = "application/json; charset=utf-8";
    } else {
        json_t *items = json_array(), *links = json_object();
        for (long k = from; k < to; k++) {
            json_t *item = render(r->sim, idx[k]);
            if (corrupt) corrupt_task(f, item);
            json_array_append_new(items, item);
        }
        for (int k = 0; k < l.n; k++)
            json_object_set_new(links, l.name[k], json_string(l.href[k]));
        sim_reply(r, 200,
                  json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "ItemType", item_type, "Items",
                            items, "ItemsPerPage", (json_int_t)take, "TotalResults", total,
                            "NumberOfPages", (json_int_t)pages, "LastPageNumber",
                            (json_int_t)(pages - 1), "Links", links));
    }
    for (int k = 0; k < l.n; k++)
        free(l.href[k]);
}

void sim_reply_page(sim_req *r, const char *item_type, const int *idx, int n, sim_render_fn render,
                    const char *template_link)
{
    reply_page(r, item_type, idx, n, render, NULL, template_link);
}

void sim_reply_page_text(sim_req *r, const char *item_type, const int *idx, int n,
                         sim_render_fn render, sim_text_fn text, const char *template_link)
{
    reply_page(r, item_type, idx, n, render, text, template_link);
}

void sim_reply_all(sim_req *r, const int *idx, int n, sim_render_fn render)
{
    json_t *items = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(items, render(r->sim, idx[k]));
    sim_reply(r, 200, items);
}

/* ---- links ------------------------------------------------------------------ */

static const char *space_id(const ofsim *sim, int s)
{
    return sim->w.spaces[s].id;
}

static json_t *jstr_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *link1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *link1(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return json_string(buf);
}

/* ---- renderers ---------------------------------------------------------------- */

/* The shapes follow the official clients' models and a real server's replies
 * (docs/octopus.md, "Fidelity"): every field a client may require is present
 * with the real JSON type, and every link names a route this simulator serves,
 * with every query parameter that route accepts. */

static void jset(json_t *obj, const char *key, json_t *value)
{
    OF_ASSERT(value);
    json_object_set_new(obj, key, value);
}

static json_t *retention(void)
{
    return json_pack("{s:s, s:i, s:b}", "Unit", "Days", "QuantityToKeep", 30, "ShouldKeepForever",
                     0);
}

static json_t *render_space(ofsim *sim, int s)
{
    const sim_space *sp = &sim->w.spaces[s];
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:[s], s:[], s:n, s:[]}", "Id", sp->id,
                  "Name", sp->name, "Slug", sp->slug, "Description", "", "IsDefault",
                  sp->is_default, "IsPrivate", 0, "TaskQueueStopped", 0, "SpaceManagersTeams",
                  "teams-administrators", "SpaceManagersTeamMembers", "Icon", "ExtensionSettings");
    jset(j, "Links",
         json_pack("{s:o, s:o, s:o}", "Self", link1("/api/spaces/%s", sp->id), "SpaceHome",
                   link1("/api/%s", sp->id), "Web", link1("/app#/spaces/%s", sp->id)));
    return j;
}

/* One project group per space ("Default Project Group", ProjectGroups-N for
 * Spaces-N): fixtures have no groups, but every project needs one. */
static char *group_id(int space)
{
    return sim_strfmt("ProjectGroups-%d", space + 1);
}

static int find_group(const sim_world *w, int space, const char *id)
{
    char *want = group_id(space);
    bool match = id && strcasecmp(id, want) == 0;
    free(want);
    return match && space >= 0 && space < w->n_spaces ? space : -1;
}

#define GROUP_NAME "Default Project Group"

static json_t *render_group(ofsim *sim, int s)
{
    const char *sid = space_id(sim, s);
    char *id = group_id(s);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:[], s:n}", "Id", id, "Name", GROUP_NAME,
                          "SpaceId", sid, "Description", "", "EnvironmentIds", "RetentionPolicyId");
    jset(j, "Links",
         json_pack("{s:o, s:o, s:o}", "Self", link1("/api/%s/projectgroups/%s", sid, id),
                   "Projects", link1("/api/%s/projectgroups/%s/projects{?skip,take}", sid, id),
                   "Web", link1("/app#/%s/projects?projectGroupId=%s", sid, id)));
    free(id);
    return j;
}

static const char *tenancy_name(sim_tenancy t)
{
    return t == SIM_TENANTED                 ? "Tenanted"
           : t == SIM_TENANTED_OR_UNTENANTED ? "TenantedOrUntenanted"
                                             : "Untenanted";
}

static json_t *render_project(ofsim *sim, int p)
{
    const sim_project *pr = &sim->w.projects[p];
    const char *sid = space_id(sim, pr->space);
    char base[256];
    snprintf(base, sizeof base, "/api/%s/projects/%s", sid, pr->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:b}", "Id", pr->id,
                          "Name", pr->name, "Slug", pr->slug, "Description", "", "SpaceId", sid,
                          "ProjectGroupId", jstr_take(group_id(pr->space)), "LifecycleId",
                          sim->w.lifecycles[pr->lifecycle].id, "TenantedDeploymentMode",
                          tenancy_name(pr->tenancy), "DefaultGuidedFailureMode", pr->guided_mode,
                          "IsDisabled", pr->disabled);
    jset(j, "VariableSetId", link1("variableset-%s", pr->id));
    jset(j, "DeploymentProcessId", link1("deploymentprocess-%s", pr->id));
    jset(j, "ClonedFromProjectId", json_null());
    jset(j, "DiscreteChannelRelease", json_false());
    jset(j, "IncludedLibraryVariableSetIds", json_array());
    jset(j, "DefaultToSkipIfAlreadyInstalled", json_false());
    jset(j, "VersioningStrategy", json_pack("{s:n, s:n}", "Template", "DonorPackage"));
    jset(j, "ReleaseCreationStrategy",
         json_pack("{s:n, s:n, s:n}", "ChannelId", "ReleaseCreationPackage",
                   "ReleaseCreationPackageStepId"));
    jset(j, "Templates", json_array());
    jset(j, "AutoDeployReleaseOverrides", json_array());
    jset(j, "ReleaseNotesTemplate", json_null());
    jset(j, "DeploymentChangesTemplate", json_null());
    jset(j, "ForcePackageDownload", json_false());
    jset(j, "AllowIgnoreChannelRules", json_true());
    jset(j, "ExtensionSettings", json_array());
    jset(j, "AutoCreateRelease", json_false());
    jset(j, "IsVersionControlled", json_false());
    jset(j, "PersistenceSettings", json_pack("{s:s}", "Type", "Database"));
    jset(j, "ProjectConnectivityPolicy",
         json_pack("{s:s, s:[], s:b, s:b}", "SkipMachineBehavior", "None", "TargetRoles",
                   "AllowDeploymentsToNoTargets", 0, "ExcludeUnhealthyTargets", 0));
    jset(j, "Links",
         json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "Self", base, "Releases",
                   link1("%s/releases{/version}{?skip,take,searchByVersion}", base),
                   "DeploymentProcess", link1("%s/deploymentprocesses", base), "Channels",
                   link1("%s/channels{/id}{?skip,take,partialName}", base), "Lifecycle",
                   link1("/api/%s/lifecycles/%s", sid, sim->w.lifecycles[pr->lifecycle].id), "Web",
                   link1("/app#/%s/projects/%s", sid, pr->id)));
    return j;
}

static json_t *render_env(ofsim *sim, int e)
{
    const sim_env *en = &sim->w.envs[e];
    const char *sid = space_id(sim, en->space);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:[], s:{s:o, s:o}}", "Id", en->id,
                     "Name", en->name, "Slug", en->slug, "Description", "", "SpaceId", sid,
                     "SortOrder", en->sort_order, "UseGuidedFailure", en->guided,
                     "AllowDynamicInfrastructure", 0, "ExtensionSettings", "Links", "Self",
                     link1("/api/%s/environments/%s", sid, en->id), "Web",
                     link1("/app#/%s/infrastructure/environments/%s", sid, en->id));
}

static json_t *env_ids(const sim_world *w, const int *envs, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(w->envs[envs[i]].id));
    return a;
}

static json_t *render_phase(const sim_world *w, const sim_phase *ph)
{
    return json_pack("{s:s, s:s, s:[], s:o, s:i, s:b, s:b, s:n, s:n}", "Id", ph->id, "Name",
                     ph->name, "AutomaticDeploymentTargets", "OptionalDeploymentTargets",
                     env_ids(w, ph->envs, ph->n_envs), "MinimumEnvironmentsBeforePromotion",
                     ph->minimum, "IsOptionalPhase", ph->optional, "IsPriorityPhase", 0,
                     "ReleaseRetentionPolicy", "TentacleRetentionPolicy");
}

static json_t *render_lifecycle(ofsim *sim, int l)
{
    const sim_world *w = &sim->w;
    const sim_lifecycle *lc = &w->lifecycles[l];
    json_t *phases = json_array();
    for (int p = 0; p < lc->n_phases; p++)
        json_array_append_new(phases, render_phase(w, &lc->phases[p]));
    const char *sid = space_id(sim, lc->space);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "Id", lc->id, "Name", lc->name,
                  "Description", "", "SpaceId", sid, "Phases", phases, "ReleaseRetentionPolicy",
                  retention(), "TentacleRetentionPolicy", retention());
    jset(j, "Links",
         json_pack("{s:o, s:o}", "Self", link1("/api/%s/lifecycles/%s", sid, lc->id), "Web",
                   link1("/app#/%s/library/lifecycles/%s", sid, lc->id)));
    return j;
}

static json_t *render_channel(ofsim *sim, int c)
{
    const sim_world *w = &sim->w;
    const sim_channel *ch = &w->channels[c];
    const char *sid = space_id(sim, ch->space);
    const char *pid = w->projects[ch->project].id;
    char *slug = sim_slug(ch->name);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:[], s:[], s:[], s:[]}", "Id", ch->id, "Name",
        ch->name, "Slug", slug, "Description", "", "ProjectId", pid, "SpaceId", sid, "LifecycleId",
        ch->lifecycle >= 0 ? json_string(w->lifecycles[ch->lifecycle].id) : json_null(),
        "IsDefault", ch->is_default, "Rules", "TenantTags", "GitReferenceRules",
        "GitResourceRules");
    free(slug);
    jset(j, "Links",
         json_pack("{s:o, s:o, s:o}", "Self", link1("/api/%s/channels/%s", sid, ch->id), "Project",
                   link1("/api/%s/projects/%s", sid, pid), "Releases",
                   link1("/api/%s/channels/%s/releases{?skip,take,searchByVersion}", sid, ch->id)));
    return j;
}

static json_t *render_tenant(ofsim *sim, int t)
{
    const sim_world *w = &sim->w;
    const sim_tenant *tn = &w->tenants[t];
    json_t *tags = json_array(), *pe = json_object();
    for (int i = 0; i < tn->n_tags; i++)
        json_array_append_new(tags, json_string(w->tags[tn->tags[i]].canonical));
    for (int i = 0; i < tn->n_pe; i++)
        json_object_set_new(pe, w->projects[tn->pe[i].project].id,
                            env_ids(w, tn->pe[i].envs, tn->pe[i].n_envs));
    const char *sid = space_id(sim, tn->space);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:n, s:o, s:o, s:[], s:{s:o, s:o}}", "Id",
                     tn->id, "Name", tn->name, "Slug", tn->slug, "Description", "", "SpaceId", sid,
                     "IsDisabled", tn->disabled, "ClonedFromTenantId", "TenantTags", tags,
                     "ProjectEnvironments", pe, "ExtensionSettings", "Links", "Self",
                     link1("/api/%s/tenants/%s", sid, tn->id), "Web",
                     link1("/app#/%s/tenants/%s/overview", sid, tn->id));
}

static json_t *render_tagset(ofsim *sim, int ts)
{
    const sim_world *w = &sim->w;
    const sim_tagset *set = &w->tagsets[ts];
    json_t *tags = json_array();
    for (int i = 0; i < set->n_tags; i++) {
        const sim_tag *tg = &w->tags[set->first_tag + i];
        json_array_append_new(tags,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "Id", tg->id, "Name",
                                        tg->name, "CanonicalTagName", tg->canonical, "Description",
                                        "", "Color", "#333333", "SortOrder", i));
    }
    const char *sid = space_id(sim, set->space);
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:[s], s:s, s:o, s:{s:o}}", "Id", set->id, "Name",
                     set->name, "Description", "", "SpaceId", sid, "SortOrder", ts, "Scopes",
                     "Tenant", "Type", "MultiSelect", "Tags", tags, "Links", "Self",
                     link1("/api/%s/tagsets/%s", sid, set->id));
}

static json_t *render_release(ofsim *sim, int r)
{
    const sim_world *w = &sim->w;
    const sim_release *rel = &w->releases[r];
    const char *sid = space_id(sim, rel->space);
    const char *pid = w->projects[rel->project].id;
    char base[256];
    snprintf(base, sizeof base, "/api/%s/releases/%s", sid, rel->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:b}", "Id", rel->id, "Version",
                          rel->version, "SpaceId", sid, "ProjectId", pid, "ChannelId",
                          w->channels[rel->channel].id, "Assembled", sim_json_time(rel->assembled),
                          "ReleaseNotes", "IgnoreChannelRules", 0);
    jset(j, "ProjectDeploymentProcessSnapshotId", link1("deploymentprocess-%s-s-1", pid));
    jset(j, "ProjectVariableSetSnapshotId", link1("variableset-%s-s-0", pid));
    jset(j, "BuildInformation", json_array());
    jset(j, "LibraryVariableSetSnapshotIds", json_array());
    jset(j, "SelectedPackages", rel->packages ? json_deep_copy(rel->packages) : json_array());
    jset(j, "SelectedGitResources", json_array());
    jset(j, "VersionControlReference", json_null());
    jset(j, "CustomFields", json_object());
    jset(j, "Links",
         json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "Self", base, "Project",
                   link1("/api/%s/projects/%s", sid, pid), "Channel",
                   link1("/api/%s/projects/%s/channels/%s", sid, pid, w->channels[rel->channel].id),
                   "Progression", link1("%s/progression", base), "Deployments",
                   link1("%s/deployments{?skip,take}", base), "DeploymentTemplate",
                   link1("%s/deployments/template", base), "Web",
                   link1("/app#/%s/releases/%s", sid, rel->id)));
    return j;
}

/* ---- catalogue handlers ------------------------------------------------------- */

/* Collects the indexes of `order` (n of them) in the request's space that
 * pass the name filters (partialName / name: contains) and ids. */
typedef const char *(*name_fn)(const sim_world *w, int i, int *space, const char **id);

static int *filter_named(sim_req *r, const int *order, int n, name_fn name_of, int *out_n)
{
    const char *partial = sim_arg(r, "partialName");
    const char *name = sim_arg(r, "name");
    json_t *ids = sim_arg_list(r, "ids");
    int *out = calloc((size_t)n + 1, sizeof *out);
    OF_ASSERT(out);
    *out_n = 0;
    for (int k = 0; k < n; k++) {
        int i = order ? order[k] : k, space;
        const char *id;
        const char *nm = name_of(&r->sim->w, i, &space, &id);
        if (r->space >= 0 && space != r->space) continue;
        if (!sim_icontains(nm, partial) || !sim_icontains(nm, name)) continue;
        if (ids && json_array_size(ids) > 0 && !sim_list_has(ids, id)) continue;
        out[(*out_n)++] = i;
    }
    json_decref(ids);
    return out;
}

#define NAME_FN(fn, arr)                                                          \
    static const char *fn(const sim_world *w, int i, int *space, const char **id) \
    {                                                                             \
        *space = w->arr[i].space;                                                 \
        *id = w->arr[i].id;                                                       \
        return w->arr[i].name;                                                    \
    }
NAME_FN(project_name, projects)
NAME_FN(env_name, envs)
NAME_FN(lifecycle_name, lifecycles)
NAME_FN(tenant_name, tenants)
NAME_FN(tagset_name, tagsets)
NAME_FN(channel_name, channels)

static const char *space_name(const sim_world *w, int i, int *space, const char **id)
{
    *space = i;
    *id = w->spaces[i].id;
    return w->spaces[i].name;
}

static bool is_all(const sim_req *r)
{
    return strcasecmp(sim_seg(r, 1) ? sim_seg(r, 1) : "", "all") == 0;
}

/* GET {things} and {things}/all for the simple catalogues. */
static void list_named(sim_req *r, const int *order, int n, name_fn name_of, sim_render_fn render,
                       const char *item_type, const char *tmpl)
{
    int m;
    int *idx = filter_named(r, order, n, name_of, &m);
    if (is_all(r))
        sim_reply_all(r, idx, m, render);
    else
        sim_reply_page(r, item_type, idx, m, render, tmpl);
    free(idx);
}

/* The collections a space serves, with every query parameter each accepts
 * (clients expand these templates; a parameter missing here is silently
 * dropped by them). One table feeds the root and the space root. */
static const char *const space_links[][2] = {
    {"Channels", "channels{/id}{?skip,take,ids,partialName}"},
    {"Deployments",
     "deployments{/id}{?skip,take,ids,projects,environments,tenants,channels,taskState}"},
    {"CreateDeploymentTenantedCommandV1", "deployments/create/tenanted/v1"},
    {"CreateDeploymentUntenantedCommandV1", "deployments/create/untenanted/v1"},
    {"Environments", "environments{/id}{?name,skip,ids,take,partialName}"},
    {"Events", sim_events_template},
    {"Interruptions", "interruptions{/id}{?skip,take,regarding,pendingOnly,ids}"},
    {"Lifecycles", "lifecycles{/id}{?skip,take,ids,partialName}"},
    {"ProjectGroups", "projectgroups{/id}{?skip,take,ids,partialName}"},
    {"Projects", "projects{/id}{?name,skip,ids,take,partialName}"},
    {"Releases", "releases{/id}{?skip,ignoreChannelRules,take,ids}"},
    {"TagSets", "tagsets{/id}{?skip,take,ids,partialName}"},
    {"Tasks", "tasks{/id}{?skip,active,environment,tenant,project,name,states,"
              "hasPendingInterruptions,take,ids,spaces}"},
    {"Tenants", "tenants{/id}{?skip,projectId,name,tags,take,ids,partialName,isDisabled}"},
};

static void add_space_links(json_t *links, const char *sid)
{
    for (size_t i = 0; i < sizeof space_links / sizeof space_links[0]; i++)
        jset(links, space_links[i][0], link1("/api/%s/%s", sid, space_links[i][1]));
}

/* Like a real server, the root also links the default space's collections. */
static void h_root(sim_req *r)
{
    json_t *links =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Self", "/api", "Spaces",
                  "/api/spaces{/id}{?skip,ids,take,partialName}", "SpaceHome", "/api/{spaceId}",
                  "CurrentUser", "/api/users/me", "OctopusServerNodes",
                  "/api/octopusservernodes{/id}{?skip,take,ids,partialName}",
                  "OctopusServerClusterSummary", "/api/octopusservernodes/summary", "Web", "/app");
    add_space_links(links, space_id(r->sim, r->sim->w.default_space));
    /* unscoped, as on a real server: across every space the key can see */
    jset(links, "Tasks",
         json_string("/api/tasks{/id}{?skip,active,environment,tenant,project,name,states,"
                     "hasPendingInterruptions,take,ids,spaces}"));
    sim_reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "Application", "Octopus Deploy",
                        "Version", "2026.1.0-octofleet-sim", "ApiVersion", "3.0.0",
                        "InstallationId", "00000000-0000-0000-0000-00000000051a",
                        "HasLongTermSupport", 0, "Links", links));
}

/* Clients use this to check that a key works. */
static void h_users_me(sim_req *r)
{
    sim_reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:[], s:{s:s}}", "Id", "Users-1",
                        "Username", "octofleet-sim", "DisplayName", "Simulated API user",
                        "EmailAddress", "", "IsService", 1, "IsActive", 1, "IsRequestor", 0,
                        "CanPasswordBeEdited", 0, "Identities", "Links", "Self",
                        "/api/users/Users-1"));
}

static void h_space_root(sim_req *r)
{
    const char *sid = space_id(r->sim, r->space);
    json_t *links = json_object();
    jset(links, "Self", link1("/api/%s", sid));
    add_space_links(links, sid);
    jset(links, "Web", link1("/app#/%s", sid));
    sim_reply(r, 200,
              json_pack("{s:s, s:s, s:o}", "SpaceId", sid, "SpaceName",
                        r->sim->w.spaces[r->space].name, "Links", links));
}

/* ---- the server node (one: the simulator; MaxConcurrentTasks = the task cap) ---- */

#define SIM_NODE_NAME "OCTOSIM-1"
#define SIM_NODE_ID   "OctopusServerNodes-" SIM_NODE_NAME

static json_t *render_node(ofsim *sim, int unused)
{
    (void)unused;
    char now[48];
    sim_fmt_time(of_wall_ms(), now, sizeof now);
    return json_pack("{s:s, s:s, s:i, s:b, s:b, s:s, s:s, s:{s:s}}", "Id", SIM_NODE_ID, "Name",
                     SIM_NODE_NAME, "MaxConcurrentTasks", sim->task_cap, "IsInMaintenanceMode", 0,
                     "IsOffline", 0, "Rank", "Leader", "LastSeen", now, "Links", "Self",
                     "/api/octopusservernodes/" SIM_NODE_ID);
}

static void h_nodes(sim_req *r)
{
    json_t *ids = sim_arg_list(r, "ids");
    const char *partial = sim_arg(r, "partialName");
    int idx[1] = {0};
    int n = (!ids || json_array_size(ids) == 0 || sim_list_has(ids, SIM_NODE_ID)) &&
                    sim_icontains(SIM_NODE_NAME, partial)
                ? 1
                : 0;
    json_decref(ids);
    sim_reply_page(r, "OctopusServerNode", idx, n, render_node,
                   "/api/octopusservernodes{/id}{?skip,take,ids,partialName}");
}

/* One item: render(index), or 404 when index < 0 (not found). */
static void reply_found(sim_req *r, int index, sim_render_fn render)
{
    if (index < 0)
        sim_reply_not_found(r);
    else
        sim_reply(r, 200, render(r->sim, index));
}

static void h_node_get(sim_req *r)
{
    if (r->n_seg == 3 && strcasecmp(r->seg[2], SIM_NODE_ID) == 0)
        sim_reply(r, 200, render_node(r->sim, 0));
    else
        sim_reply_not_found(r);
}

static void h_nodes_summary(sim_req *r)
{
    int running = 0;
    for (int i = 0; i < r->sim->n_deps; i++)
        running +=
            r->sim->deps[i].state == SIM_EXECUTING || r->sim->deps[i].state == SIM_CANCELLING;
    json_t *node = render_node(r->sim, 0);
    jset(node, "RunningTaskCount", json_integer(running));
    sim_reply(r, 200,
              json_pack("{s:[o], s:o, s:{s:s}}", "Nodes", node, "Id", json_null(), "Links", "Self",
                        "/api/octopusservernodes/summary"));
}

static void h_spaces(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    int *all = calloc((size_t)w->n_spaces + 1, sizeof *all), n = 0;
    OF_ASSERT(all);
    for (int s = 0; s < w->n_spaces; s++) /* only the spaces this key can see */
        if (sim_key_allows(r->sim, r->api_key, s)) all[n++] = s;
    r->space = -1;
    list_named(r, all, n, space_name, render_space, "Space",
               "/api/spaces{?skip,ids,take,partialName}");
    free(all);
}

static void h_space_get(sim_req *r)
{
    sim_reply(r, 200, render_space(r->sim, r->space));
}

static void h_projects(sim_req *r)
{
    list_named(r, r->sim->w.sorted_projects, r->sim->w.n_projects, project_name, render_project,
               "Project", "/api/{space}/projects{/id}{?name,skip,ids,take,partialName}");
}

static int req_project(sim_req *r)
{
    int p = sim_find_project(&r->sim->w, r->space, sim_seg(r, 1));
    if (p < 0) sim_reply_not_found(r);
    return p;
}

static void h_project_get(sim_req *r)
{
    int p = req_project(r);
    if (p >= 0) sim_reply(r, 200, render_project(r->sim, p));
}

static void h_project_channels(sim_req *r)
{
    int p = req_project(r);
    if (p < 0) return;
    const sim_world *w = &r->sim->w;
    int *idx = calloc((size_t)w->n_channels + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int c = 0; c < w->n_channels; c++)
        if (w->channels[c].project == p &&
            sim_icontains(w->channels[c].name, sim_arg(r, "partialName")))
            idx[n++] = c;
    char *tmpl =
        sim_strfmt("/api/{space}/projects/%s/channels{?skip,take,partialName}", w->projects[p].id);
    sim_reply_page(r, "Channel", idx, n, render_channel, tmpl);
    free(tmpl);
    free(idx);
}

/* Releases of a project or channel, newest first, searchByVersion contains. */
static void list_releases(sim_req *r, int project, int channel)
{
    const sim_world *w = &r->sim->w;
    const char *search = sim_arg(r, "searchByVersion");
    int *idx = calloc((size_t)w->n_releases + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int i = w->n_releases - 1; i >= 0; i--) {
        const sim_release *rel = &w->releases[i];
        if ((project >= 0 && rel->project != project) || (channel >= 0 && rel->channel != channel))
            continue;
        if (sim_icontains(rel->version, search)) idx[n++] = i;
    }
    /* a concrete template, as Octopus gives: the project's or the channel's */
    char *tmpl =
        project >= 0
            ? sim_strfmt("/api/{space}/projects/%s/releases{/version}{?skip,take,searchByVersion}",
                         w->projects[project].id)
            : sim_strfmt("/api/{space}/channels/%s/releases{?skip,take,searchByVersion}",
                         w->channels[channel].id);
    sim_reply_page(r, "Release", idx, n, render_release, tmpl);
    free(tmpl);
    free(idx);
}

static void h_project_releases(sim_req *r)
{
    int p = req_project(r);
    if (p >= 0) list_releases(r, p, -1);
}

static void h_project_release_version(sim_req *r)
{
    int p = req_project(r);
    if (p < 0) return;
    reply_found(r, sim_release_by_version(&r->sim->w, p, sim_seg(r, 3)), render_release);
}

static void h_envs(sim_req *r)
{
    list_named(r, r->sim->w.sorted_envs, r->sim->w.n_envs, env_name, render_env, "Environment",
               "/api/{space}/environments{/id}{?name,skip,ids,take,partialName}");
}

static void h_env_get(sim_req *r)
{
    reply_found(r, sim_find_env(&r->sim->w, r->space, sim_seg(r, 1)), render_env);
}

static void h_lifecycles(sim_req *r)
{
    list_named(r, NULL, r->sim->w.n_lifecycles, lifecycle_name, render_lifecycle, "Lifecycle",
               "/api/{space}/lifecycles{/id}{?skip,take,ids,partialName}");
}

static void h_lifecycle_get(sim_req *r)
{
    reply_found(r, sim_find_lifecycle(&r->sim->w, r->space, sim_seg(r, 1)), render_lifecycle);
}

static void h_channels(sim_req *r)
{
    list_named(r, NULL, r->sim->w.n_channels, channel_name, render_channel, "Channel",
               "/api/{space}/channels{/id}{?skip,take,ids,partialName}");
}

static void h_channel_get(sim_req *r)
{
    reply_found(r, sim_find_channel(&r->sim->w, r->space, sim_seg(r, 1)), render_channel);
}

static void h_channel_releases(sim_req *r)
{
    int c = sim_find_channel(&r->sim->w, r->space, sim_seg(r, 1));
    if (c < 0)
        sim_reply_not_found(r);
    else
        list_releases(r, -1, c);
}

static void h_tagsets(sim_req *r)
{
    list_named(r, NULL, r->sim->w.n_tagsets, tagset_name, render_tagset, "TagSet",
               "/api/{space}/tagsets{/id}{?skip,take,ids,partialName}");
}

static void h_tagset_get(sim_req *r)
{
    reply_found(r, sim_find_tagset(&r->sim->w, r->space, sim_seg(r, 1)), render_tagset);
}

static void h_tenants(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    int n;
    int *idx = filter_named(r, w->sorted_tenants, w->n_tenants, tenant_name, &n);
    const char *project = sim_arg(r, "projectId");
    const char *disabled = sim_arg(r, "isDisabled");
    json_t *tags = sim_arg_list(r, "tags");
    int p = project ? sim_find_project(w, r->space, project) : -1;
    int m = 0;
    for (int k = 0; k < n; k++) {
        const sim_tenant *t = &w->tenants[idx[k]];
        if (project && (p < 0 || !sim_tenant_connected(w, idx[k], p, -1))) continue;
        if (tags && !sim_tenant_matches_tags(w, idx[k], tags)) continue;
        if (disabled && (strcasecmp(disabled, "true") == 0) != t->disabled) continue;
        idx[m++] = idx[k];
    }
    json_decref(tags);
    if (is_all(r))
        sim_reply_all(r, idx, m, render_tenant);
    else
        sim_reply_page(r, "Tenant", idx, m, render_tenant,
                       "/api/{space}/tenants{/id}{?skip,projectId,name,tags,take,ids,partialName,"
                       "isDisabled}");
    free(idx);
}

static void h_tenant_get(sim_req *r)
{
    reply_found(r, sim_find_tenant(&r->sim->w, r->space, sim_seg(r, 1)), render_tenant);
}

static void h_release_get(sim_req *r)
{
    reply_found(r, sim_find_release(&r->sim->w, r->space, sim_seg(r, 1)), render_release);
}

static json_t *env_ref(const sim_world *w, int e)
{
    return json_pack("{s:s, s:s}", "Id", w->envs[e].id, "Name", w->envs[e].name);
}

/* Where release rel may go now, as a new array of n_envs flags the caller
 * frees: the untenanted progression, and for a Tenanted project the union of
 * its tenants'. With tp != NULL, also appends TenantPromotions: every enabled
 * tenant connected to the project with the connected environments the
 * lifecycle allows for it. The deployment template and the progression share
 * this, so they never disagree. */
static bool *release_promote(const sim_world *w, int rel, json_t *tp)
{
    int p = w->releases[rel].project, space = w->releases[rel].space;
    sim_tenancy tenancy = w->projects[p].tenancy;
    bool *promote = calloc((size_t)w->n_envs + 1, sizeof *promote);
    OF_ASSERT(promote);
    for (int k = 0; tenancy != SIM_UNTENANTED && k < w->n_tenants; k++) {
        int t = w->sorted_tenants[k];
        if (w->tenants[t].space != space || w->tenants[t].disabled ||
            !sim_tenant_connected(w, t, p, -1))
            continue;
        json_t *envs = json_array();
        for (int e = 0; e < w->n_envs; e++) {
            if (w->envs[e].space != space || !sim_tenant_connected(w, t, p, e) ||
                !sim_lifecycle_allows(w, rel, e, t, NULL))
                continue;
            json_array_append_new(envs, env_ref(w, e));
            if (tenancy == SIM_TENANTED) promote[e] = true;
        }
        if (tp)
            json_array_append_new(tp, json_pack("{s:s, s:s, s:o}", "Id", w->tenants[t].id, "Name",
                                                w->tenants[t].name, "PromoteTo", envs));
        else
            json_decref(envs);
    }
    for (int e = 0; e < w->n_envs; e++)
        if (w->envs[e].space == space && tenancy != SIM_TENANTED &&
            sim_lifecycle_allows(w, rel, e, -1, NULL))
            promote[e] = true;
    return promote;
}

static void h_release_template(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    int rel = sim_find_release(w, r->space, sim_seg(r, 1));
    if (rel < 0) {
        sim_reply_not_found(r);
        return;
    }
    json_t *tp = json_array(), *pt = json_array();
    bool *promote = release_promote(w, rel, tp);
    for (int e = 0; e < w->n_envs; e++)
        if (promote[e]) json_array_append_new(pt, env_ref(w, e));
    free(promote);
    sim_reply(r, 200,
              json_pack("{s:o, s:o, s:b, s:b, s:b, s:n}", "PromoteTo", pt, "TenantPromotions", tp,
                        "IsDeploymentProcessModified", 0, "IsVariableSetModified", 0,
                        "IsLibraryVariableSetModified", 0, "DeploymentNotes"));
}

/* GET releases/{id}/progression (Octopus.Client LifecycleProgressionResource):
 * the release's lifecycle phases, each with its deployments of this release
 * (newest first, any tenant) and a Progress of Complete, Current or Pending.
 * An environment counts once some deployment of the release succeeded there;
 * a phase is Complete once `minimum` of its environments count. */
static void h_release_progression(sim_req *r)
{
    ofsim *sim = r->sim;
    const sim_world *w = &sim->w;
    int rel = sim_find_release(w, r->space, sim_seg(r, 1));
    if (rel < 0) {
        sim_reply_not_found(r);
        return;
    }
    const sim_lifecycle *lc = &w->lifecycles[sim_release_lifecycle(w, rel)];
    json_t *phases = json_array();
    bool current_seen = false;
    int next_min = 0;
    for (int p = 0; p < lc->n_phases; p++) {
        const sim_phase *ph = &lc->phases[p];
        json_t *deps = json_array();
        int done = 0;
        for (int k = 0; k < ph->n_envs; k++) {
            bool ok = false;
            for (int i = sim->n_deps - 1; i >= 0; i--) {
                const sim_dep *d = &sim->deps[i];
                if (d->release != rel || d->env != ph->envs[k]) continue;
                ok |= d->state == SIM_SUCCESS;
                json_array_append_new(deps, json_pack("{s:o, s:o}", "Task", sim_render_task(sim, i),
                                                      "Deployment", sim_render_deployment(sim, i)));
            }
            done += ok;
        }
        const char *progress = "Pending";
        if (done >= ph->minimum && !current_seen) {
            progress = "Complete";
        } else if (!current_seen && !ph->optional) {
            progress = "Current";
            current_seen = true;
            next_min = ph->minimum;
        }
        json_t *j = render_phase(w, ph);
        jset(j, "Blocked", json_false());
        jset(j, "Progress", json_string(progress));
        jset(j, "Deployments", deps);
        json_array_append_new(phases, j);
    }
    json_t *next = json_array();
    bool *promote = release_promote(w, rel, NULL);
    for (int e = 0; e < w->n_envs; e++)
        if (promote[e]) json_array_append_new(next, json_string(w->envs[e].id));
    free(promote);
    sim_reply(r, 200,
              json_pack("{s:o, s:o, s:i, s:{}}", "Phases", phases, "NextDeployments", next,
                        "NextDeploymentsMinimumRequired", next_min, "Links"));
}

/* GET releases: every release of the space, newest first; ids filters. */
static void h_releases(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    json_t *ids = sim_arg_list(r, "ids");
    int *idx = calloc((size_t)w->n_releases + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int i = w->n_releases - 1; i >= 0; i--) {
        if (w->releases[i].space != r->space) continue;
        if (ids && json_array_size(ids) > 0 && !sim_list_has(ids, w->releases[i].id)) continue;
        idx[n++] = i;
    }
    json_decref(ids);
    sim_reply_page(r, "Release", idx, n, render_release,
                   "/api/{space}/releases{/id}{?skip,ignoreChannelRules,take,ids}");
    free(idx);
}

/* A project's channel by id (the Channel link of a release points here). */
static void h_project_channel_get(sim_req *r)
{
    int p = req_project(r);
    if (p < 0) return;
    int c = sim_find_channel(&r->sim->w, r->space, sim_seg(r, 3));
    reply_found(r, c >= 0 && r->sim->w.channels[c].project == p ? c : -1, render_channel);
}

/* Project groups: one per space (see group_id). */
static void h_groups(sim_req *r)
{
    json_t *ids = sim_arg_list(r, "ids");
    char *gid = group_id(r->space);
    int idx[1] = {r->space};
    int n = (!ids || json_array_size(ids) == 0 || sim_list_has(ids, gid)) &&
                    sim_icontains(GROUP_NAME, sim_arg(r, "partialName")) &&
                    sim_icontains(GROUP_NAME, sim_arg(r, "name"))
                ? 1
                : 0;
    free(gid);
    json_decref(ids);
    if (is_all(r))
        sim_reply_all(r, idx, n, render_group);
    else
        sim_reply_page(r, "ProjectGroup", idx, n, render_group,
                       "/api/{space}/projectgroups{/id}{?skip,take,ids,partialName}");
}

static void h_group_get(sim_req *r)
{
    if (find_group(&r->sim->w, r->space, sim_seg(r, 1)) < 0)
        sim_reply_not_found(r);
    else
        sim_reply(r, 200, render_group(r->sim, r->space));
}

static void h_group_projects(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    if (find_group(w, r->space, sim_seg(r, 1)) < 0) {
        sim_reply_not_found(r);
        return;
    }
    int *idx = calloc((size_t)w->n_projects + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (int k = 0; k < w->n_projects; k++)
        if (w->projects[w->sorted_projects[k]].space == r->space) idx[n++] = w->sorted_projects[k];
    char *gid = group_id(r->space);
    char *tmpl = sim_strfmt("/api/{space}/projectgroups/%s/projects{?skip,take}", gid);
    sim_reply_page(r, "Project", idx, n, render_project, tmpl);
    free(tmpl);
    free(gid);
    free(idx);
}

/* ---- routing ----------------------------------------------------------------- */

/* Paths relative to the space; "{x}" matches one segment. */
static const sim_route routes[] = {
    {"GET", "", h_space_root},
    {"GET", "projects", h_projects},
    {"GET", "projects/all", h_projects},
    {"GET", "projects/{id}", h_project_get},
    {"GET", "projects/{id}/channels", h_project_channels},
    {"GET", "projects/{id}/channels/{channelId}", h_project_channel_get},
    {"GET", "projects/{id}/releases", h_project_releases},
    {"GET", "projects/{id}/releases/{version}", h_project_release_version},
    {"GET", "projects/{id}/deploymentprocesses", sim_h_project_process},
    {"GET", "deploymentprocesses/{id}", sim_h_process_get},
    {"GET", "environments", h_envs},
    {"GET", "environments/all", h_envs},
    {"GET", "environments/{id}", h_env_get},
    {"GET", "lifecycles", h_lifecycles},
    {"GET", "lifecycles/all", h_lifecycles},
    {"GET", "lifecycles/{id}", h_lifecycle_get},
    {"GET", "channels", h_channels},
    {"GET", "channels/{id}", h_channel_get},
    {"GET", "channels/{id}/releases", h_channel_releases},
    {"GET", "tagsets", h_tagsets},
    {"GET", "tagsets/all", h_tagsets},
    {"GET", "tagsets/{id}", h_tagset_get},
    {"GET", "tenants", h_tenants},
    {"GET", "tenants/all", h_tenants},
    {"GET", "tenants/{id}", h_tenant_get},
    {"GET", "projectgroups", h_groups},
    {"GET", "projectgroups/all", h_groups},
    {"GET", "projectgroups/{id}", h_group_get},
    {"GET", "projectgroups/{id}/projects", h_group_projects},
    {"GET", "releases", h_releases},
    {"GET", "releases/{id}", h_release_get},
    {"GET", "releases/{id}/progression", h_release_progression},
    {"GET", "releases/{id}/deployments", sim_h_release_deployments},
    {"GET", "releases/{id}/deployments/template", h_release_template},
    {"GET", "deployments", sim_h_deployments_list},
    {"POST", "deployments", sim_h_deployment_create},
    {"POST", "deployments/create/tenanted/v1", sim_h_executions_tenanted},
    {"POST", "deployments/create/untenanted/v1", sim_h_executions_untenanted},
    {"GET", "deployments/{id}", sim_h_deployment_get},
    {"GET", "tasks", sim_h_tasks_list},
    {"GET", "tasks/{id}", sim_h_task_get},
    {"GET", "tasks/{id}/details", sim_h_task_details},
    {"GET", "tasks/{id}/raw", sim_h_task_raw},
    {"GET", "tasks/{id}/queued-behind", sim_h_task_queued_behind},
    {"POST", "tasks/{id}/cancel", sim_h_task_cancel},
    {"GET", "events", sim_h_events_list},
    {"GET", "events/{id}", sim_h_event_get},
    {"GET", "interruptions", sim_h_interruptions_list},
    {"GET", "interruptions/{id}", sim_h_interruption_get},
    {"POST", "interruptions/{id}/submit", sim_h_interruption_submit},
    {"PUT", "interruptions/{id}/responsible", sim_h_interruption_responsible},
};

const char *sim_seg(const sim_req *r, int k)
{
    return r->rest + k < r->n_seg ? r->seg[r->rest + k] : NULL;
}

/* Does seg[rest..] match pattern? */
static bool pattern_match(const sim_req *r, const char *pattern)
{
    int k = r->rest;
    const char *p = pattern;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (k >= r->n_seg) return false;
        if (p[0] != '{' && (strlen(r->seg[k]) != n || strncasecmp(r->seg[k], p, n) != 0))
            return false;
        k++;
        p += n + (slash ? 1 : 0);
    }
    return k == r->n_seg;
}

static void set_route(sim_req *r, const char *pattern)
{
    snprintf(r->route, sizeof r->route, "%s /api/{space}%s%s", r->method, *pattern ? "/" : "",
             pattern);
}

/* Task routes without a space in the path look across every space the key
 * can see, like Octopus's /api/tasks; other unprefixed routes use the
 * default space. */
static bool spans_spaces(const char *pattern)
{
    return strncmp(pattern, "tasks", 5) == 0;
}

void sim_api_route(sim_req *r)
{
    const sim_world *w = &r->sim->w;
    r->space = -1;
    r->needs_auth = true;
    int n = r->n_seg; /* seg[0] == "api" */
    if (n == 1) {
        snprintf(r->route, sizeof r->route, "%s /api", r->method);
        r->handler = h_root;
        r->needs_auth = false; /* Octopus serves the root document anonymously */
        return;
    }
    if (n == 3 && strcasecmp(r->seg[1], "users") == 0 && strcasecmp(r->seg[2], "me") == 0) {
        snprintf(r->route, sizeof r->route, "%s /api/users/me", r->method);
        r->handler = h_users_me;
        if (strcmp(r->method, "GET") != 0) r->route_error = 405;
        return;
    }
    if (strcasecmp(r->seg[1], "octopusservernodes") == 0 && n <= 3) {
        bool summary = n == 3 && strcasecmp(r->seg[2], "summary") == 0;
        snprintf(r->route, sizeof r->route, "%s /api/octopusservernodes%s", r->method,
                 n == 2    ? ""
                 : summary ? "/summary"
                           : "/{id}");
        r->handler = n == 2 ? h_nodes : summary ? h_nodes_summary : h_node_get;
        if (strcmp(r->method, "GET") != 0) r->route_error = 405;
        return;
    }
    if (strcasecmp(r->seg[1], "spaces") == 0) {
        if (n == 2 || (n == 3 && strcasecmp(r->seg[2], "all") == 0)) {
            snprintf(r->route, sizeof r->route, "%s /api/spaces%s", r->method,
                     n == 3 ? "/all" : "");
            r->handler = h_spaces;
            r->rest = 1; /* so is_all() sees "all" */
            return;
        }
        r->space = sim_find_space(w, r->seg[2]);
        r->explicit_space = true;
        r->space_scoped = true;
        if (n == 3) {
            snprintf(r->route, sizeof r->route, "%s /api/spaces/{id}", r->method);
            r->handler = h_space_get;
            if (r->space < 0) r->route_error = 404;
            return;
        }
        r->rest = 3;
    } else if (sim_find_space(w, r->seg[1]) >= 0 || strncasecmp(r->seg[1], "Spaces-", 7) == 0) {
        r->space = sim_find_space(w, r->seg[1]);
        r->explicit_space = true;
        r->space_scoped = true;
        r->rest = 2;
    } else {
        r->rest = 1;
    }
    const sim_route *found = NULL;
    bool path_matched = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !found; i++) {
        if (!pattern_match(r, routes[i].path)) continue;
        path_matched = true;
        set_route(r, routes[i].path);
        if (strcmp(routes[i].method, r->method) == 0) found = &routes[i];
    }
    if (!found) {
        if (!path_matched) snprintf(r->route, sizeof r->route, "%s /api/(unknown)", r->method);
        r->route_error = path_matched ? 405 : 404;
        return;
    }
    r->handler = found->handler;
    if (r->explicit_space && r->space < 0) {
        r->route_error = 404; /* unknown space id in the path */
    } else if (!r->explicit_space) {
        if (spans_spaces(found->path)) {
            r->space_scoped = false;
        } else {
            r->space = w->default_space;
            r->space_scoped = true;
        }
    }
}

int sim_key_index(const ofsim *sim, const char *key)
{
    for (int i = 0; key && i < sim->w.n_keys; i++)
        if (strcmp(sim->w.keys[i].key, key) == 0) return i;
    return -1;
}

bool sim_key_allows(const ofsim *sim, const char *key, int space)
{
    int i = sim_key_index(sim, key);
    if (i < 0) return false;
    const sim_key *k = &sim->w.keys[i];
    if (k->all_spaces || space < 0) return true;
    for (int j = 0; j < k->n_spaces; j++)
        if (k->spaces[j] == space) return true;
    return false;
}

void sim_api_dispatch(sim_req *r)
{
    if (r->needs_auth && !sim_key_allows(r->sim, r->api_key, -1)) {
        sim_reply_error(r, 401,
                        "You must be logged in to perform this action. Please provide a valid API "
                        "key or log in again.",
                        NULL);
        return;
    }
    if (r->route_error == 405) {
        sim_reply_error(r, 405, "The requested HTTP method is not allowed for this resource.",
                        NULL);
        return;
    }
    if (r->route_error) {
        sim_reply_not_found(r);
        return;
    }
    if (r->space_scoped && !sim_key_allows(r->sim, r->api_key, r->space)) {
        const sim_space *sp = &r->sim->w.spaces[r->space];
        char msg[512];
        snprintf(msg, sizeof msg,
                 "You do not have permission to perform this action. Your API key has no "
                 "permissions in space %s (%s).",
                 sp->name, sp->id);
        sim_reply_error(r, 403, msg, NULL);
        return;
    }
    r->sim->req_now = of_wall_ms(); /* one clock for the whole reply (and its kept texts) */
    r->handler(r);
    r->sim->req_now = 0;
}
