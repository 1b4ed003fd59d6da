/* The event feed: Octopus records an event for every deployment state change
 * (queued, started, succeeded/failed/canceled, interruption raised/resolved),
 * and GET /api/{space}/events serves them with the real query parameters.
 *
 * events[] is append-only in AutoId order (AutoId = index + 1), so the
 * fromAutoId/toAutoId range of a request is an index range and a follower
 * that reads only what is new costs what is new, not the whole history.
 * Event faults (docs/octopus.md, "Faults") act here, when an event is
 * recorded: a dropped event is never stored (no AutoId is used up, so the gap
 * is invisible, as for an event a consumer simply missed); a delayed one gets
 * its AutoId now but is listed only from visible_at on, so a follower that
 * already moved its cursor past that AutoId never sees it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "clock.h"
#include "sim_int.h"

static const char *const ecat_names[SIM_EV__COUNT] = {
    [SIM_EV_QUEUED] = "DeploymentQueued",
    [SIM_EV_STARTED] = "DeploymentStarted",
    [SIM_EV_SUCCEEDED] = "DeploymentSucceeded",
    [SIM_EV_FAILED] = "DeploymentFailed",
    [SIM_EV_CANCELED] = "TaskCanceled",
    [SIM_EV_MANUAL_RAISED] = "ManualInterventionInterruptionRaised",
    [SIM_EV_MANUAL_RESOLVED] = "ManualInterventionInterruptionResolved",
    [SIM_EV_GUIDED_RAISED] = "GuidedFailureInterruptionRaised",
};

/* How each category's message starts, around the environment's name. */
static const char *const ecat_text[SIM_EV__COUNT][2] = {
    [SIM_EV_QUEUED] = {"Deploy to ", " queued"},
    [SIM_EV_STARTED] = {"Deploy to ", " started"},
    [SIM_EV_SUCCEEDED] = {"Deploy to ", " succeeded"},
    [SIM_EV_FAILED] = {"Deploy to ", " failed"},
    [SIM_EV_CANCELED] = {"Deploy to ", " canceled"},
    [SIM_EV_MANUAL_RAISED] = {"Manual intervention raised in Deploy to ", ""},
    [SIM_EV_MANUAL_RESOLVED] = {"Manual intervention resolved in Deploy to ", ""},
    [SIM_EV_GUIDED_RAISED] = {"Guided failure raised in Deploy to ", ""},
};

const char sim_events_template[] =
    "events{/id}{?skip,take,ids,eventCategories,fromAutoId,toAutoId,projects,environments,"
    "tenants,documentTypes,regarding,regardingAny,from,to}";

const char *sim_ecat_name(sim_ecat c)
{
    return c >= 0 && c < SIM_EV__COUNT ? ecat_names[c] : "Unknown";
}

int sim_ecat_parse(const char *s)
{
    for (int c = 0; s && c < SIM_EV__COUNT; c++)
        if (strcasecmp(ecat_names[c], s) == 0) return c;
    return -1;
}

/* ---- recording ------------------------------------------------------------- */

void sim_event_record(ofsim *sim, int dep, sim_ecat cat, int64_t now)
{
    bool drop = false;
    int64_t delay = 0;
    if (sim_event_fault_take(sim, cat, &drop, &delay) && drop) {
        sim->events_dropped++;
        return;
    }
    if (delay > 0) sim->events_delayed++;
    OF_ASSERT(of_grow((void **)&sim->events, &sim->cap_events, (size_t)sim->n_events,
                      sizeof *sim->events) == OF_OK);
    sim->events[sim->n_events++] = (sim_event){dep, cat, now, now + delay, {0}};
}

/* Forgets the kept texts of events from..n_events. */
static void texts_clear(ofsim *sim, int from)
{
    for (int i = from; i < sim->n_events; i++)
        sim_text_clear(&sim->events[i].text);
}

void sim_events_reset(ofsim *sim)
{
    texts_clear(sim, sim->n_history_events);
    sim->n_events = sim->n_history_events;
    sim->events_dropped = sim->events_delayed = 0;
    sim->event_rng = sim->start_seed;
}

void sim_events_clear(ofsim *sim)
{
    texts_clear(sim, 0);
    free(sim->events);
    sim->events = NULL;
    sim->n_events = sim->n_history_events = 0;
    sim->cap_events = 0;
}

/* ---- the documents an event is about --------------------------------------- */

#define MAX_RELATED 8

typedef struct related {
    char id[MAX_RELATED][64];
    int n;
} related;

/* RelatedDocumentIds, in the order Octopus lists them for a deployment event. */
static void related_ids(const ofsim *sim, const sim_event *e, related *out)
{
    const sim_world *w = &sim->w;
    const sim_dep *d = &sim->deps[e->dep];
    out->n = 0;
#define ADD(...) snprintf(out->id[out->n++], sizeof out->id[0], __VA_ARGS__)
    ADD("Deployments-%d", e->dep + 1);
    ADD("ServerTasks-%d", e->dep + 1);
    if (e->cat == SIM_EV_MANUAL_RAISED || e->cat == SIM_EV_MANUAL_RESOLVED)
        ADD("Interruptions-%d", e->dep + 1);
    if (e->cat == SIM_EV_GUIDED_RAISED && d->guided_raises > 0)
        ADD("Interruptions-%d-%d", e->dep + 1, d->guided_raises);
    ADD("%s", w->projects[d->project].id);
    ADD("%s", w->envs[d->env].id);
    if (d->tenant >= 0) ADD("%s", w->tenants[d->tenant].id);
    ADD("%s", w->releases[d->release].id);
    ADD("%s", w->spaces[d->space].id);
#undef ADD
}

static bool related_has(const related *rel, const char *id)
{
    for (int k = 0; k < rel->n; k++)
        if (strcasecmp(rel->id[k], id) == 0) return true;
    return false;
}

/* documentTypes names a kind of document ("Deployments", also "Deployments-"). */
static bool related_has_type(const related *rel, const char *type)
{
    size_t n = strlen(type);
    if (n > 0 && type[n - 1] == '-') n--;
    for (int k = 0; k < rel->n; k++)
        if (strncasecmp(rel->id[k], type, n) == 0 && rel->id[k][n] == '-') return true;
    return false;
}

/* ---- rendering -------------------------------------------------------------- */

/* Message, MessageHtml and MessageReferences, built together so the
 * references' StartIndex/Length (in characters) always match the text. */
#define MAX_REFS 8

typedef struct message {
    of_buf text, html;
    size_t chars;
    struct {
        const char *doc_id; /* borrowed from the world */
        size_t start, length;
    } refs[MAX_REFS];
    int n_refs;
} message;

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void msg_text(message *m, const char *s)
{
    OF_ASSERT(of_buf_puts(&m->text, s) == OF_OK);
    for (const char *p = s; *p; p++) {
        const char *esc = *p == '&'    ? "&amp;"
                          : *p == '<'  ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '"'  ? "&quot;"
                          : *p == '\'' ? "&#39;"
                                       : NULL;
        OF_ASSERT((esc ? of_buf_puts(&m->html, esc) : of_buf_append(&m->html, p, 1)) == OF_OK);
    }
    m->chars += utf8_chars(s);
}

/* A mention of document doc_id (of kind `kind`, for the web link) named `name`. */
static void msg_ref(message *m, const char *sid, const char *kind, const char *doc_id,
                    const char *name)
{
    size_t start = m->chars;
    OF_ASSERT(of_buf_printf(&m->html, "<a href='#/%s/%s/%s'>", sid, kind, doc_id) == OF_OK);
    msg_text(m, name);
    OF_ASSERT(of_buf_puts(&m->html, "</a>") == OF_OK);
    OF_ASSERT(m->n_refs < MAX_REFS);
    m->refs[m->n_refs].doc_id = doc_id;
    m->refs[m->n_refs].start = start;
    m->refs[m->n_refs++].length = m->chars - start;
}

/* The event's message; release m's buffers with msg_clear. */
static void msg_build(const ofsim *sim, const sim_event *e, message *m)
{
    const sim_world *w = &sim->w;
    const sim_dep *d = &sim->deps[e->dep];
    const char *sid = w->spaces[d->space].id;
    const sim_env *env = &w->envs[d->env];
    memset(m, 0, sizeof *m);
    of_buf_init(&m->text, 64 * 1024);
    of_buf_init(&m->html, 64 * 1024);
    msg_text(m, ecat_text[e->cat][0]);
    msg_ref(m, sid, "environments", env->id, env->name);
    msg_text(m, ecat_text[e->cat][1]);
    msg_text(m, " for ");
    msg_ref(m, sid, "projects", w->projects[d->project].id, w->projects[d->project].name);
    msg_text(m, " release ");
    msg_ref(m, sid, "releases", w->releases[d->release].id, w->releases[d->release].version);
    msg_text(m, " to ");
    msg_ref(m, sid, "environments", env->id, env->name);
    if (d->tenant >= 0) {
        msg_text(m, " for ");
        msg_ref(m, sid, "tenants", w->tenants[d->tenant].id, w->tenants[d->tenant].name);
    }
}

static void msg_clear(message *m)
{
    of_buf_clear(&m->text);
    of_buf_clear(&m->html);
}

/* What both renderings of event i read; release with msg_clear(&p->m). */
typedef struct event_parts {
    const sim_event *e;
    const sim_dep *d;
    const char *sid;
    message m;
    related rel;
} event_parts;

static void event_parts_build(const ofsim *sim, int i, event_parts *p)
{
    p->e = &sim->events[i];
    p->d = &sim->deps[p->e->dep];
    p->sid = sim->w.spaces[p->d->space].id;
    msg_build(sim, p->e, &p->m);
    related_ids(sim, p->e, &p->rel);
}

static json_t *render_event(ofsim *sim, int i)
{
    event_parts p;
    event_parts_build(sim, i, &p);
    json_t *refs = json_array();
    for (int k = 0; k < p.m.n_refs; k++)
        json_array_append_new(refs, json_pack("{s:s, s:I, s:I}", "ReferencedDocumentId",
                                              p.m.refs[k].doc_id, "StartIndex",
                                              (json_int_t)p.m.refs[k].start, "Length",
                                              (json_int_t)p.m.refs[k].length));
    json_t *ids = json_array();
    for (int k = 0; k < p.rel.n; k++)
        json_array_append_new(ids, json_string(p.rel.id[k]));
    char id[32], self[128];
    snprintf(id, sizeof id, "Events-%d", i + 1);
    snprintf(self, sizeof self, "/api/%s/events/%s", p.sid, id);
    json_t *j = json_pack(
        "{s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:b, s:s, s:s, s:n, s:o, s:s, s:s, s:o, s:o, s:n, "
        "s:n, s:{s:o}}",
        "Id", id, "AutoId", (json_int_t)i + 1, "SpaceId", p.sid, "Category", ecat_names[p.e->cat],
        "RelatedDocumentIds", ids, "UserId", "Users-1", "Username", "octofleet-sim", "IsService", 1,
        "IdentityEstablishedWith", "API key", "UserAgent", "octopus-sim", "IpAddress", "Occurred",
        sim_json_time(p.e->occurred), "Message", p.m.text.data, "MessageHtml", p.m.html.data,
        "MessageReferences", refs, "Comments",
        sim_json_str(p.e->cat == SIM_EV_QUEUED ? p.d->comments : NULL), "Details", "ChangeDetails",
        "Links", "Self", json_string(self));
    OF_ASSERT(j);
    msg_clear(&p.m);
    return j;
}

static void put(of_buf *b, const char *s)
{
    OF_ASSERT(of_buf_puts(b, s) == OF_OK);
}

/* render_event's bytes, written straight: a follower reads every final event. */
static char *write_event(ofsim *sim, int i)
{
    event_parts p;
    event_parts_build(sim, i, &p);
    const sim_event *e = p.e;
    const sim_dep *d = p.d;
    const char *sid = p.sid;
    const message *mp = &p.m;
    const related *rel = &p.rel;
    char buf[160];
    of_buf b;
    of_buf_init(&b, SIM_MAX_BODY);
    snprintf(buf, sizeof buf, "Events-%d", i + 1);
    put(&b, "{\"Id\":");
    sim_json_put_str(&b, buf);
    OF_ASSERT(of_buf_printf(&b, ",\"AutoId\":%d,\"SpaceId\":", i + 1) == OF_OK);
    sim_json_put_str(&b, sid);
    put(&b, ",\"Category\":");
    sim_json_put_str(&b, ecat_names[e->cat]);
    put(&b, ",\"RelatedDocumentIds\":[");
    for (int k = 0; k < rel->n; k++) {
        if (k) put(&b, ",");
        sim_json_put_str(&b, rel->id[k]);
    }
    put(&b, "],\"UserId\":\"Users-1\",\"Username\":\"octofleet-sim\",\"IsService\":true,"
            "\"IdentityEstablishedWith\":\"API key\",\"UserAgent\":\"octopus-sim\","
            "\"IpAddress\":null,\"Occurred\":");
    if (e->occurred > 0) {
        sim_fmt_time(e->occurred, buf, sizeof buf);
        sim_json_put_str(&b, buf);
    } else {
        put(&b, "null");
    }
    put(&b, ",\"Message\":");
    sim_json_put_str(&b, mp->text.data ? mp->text.data : "");
    put(&b, ",\"MessageHtml\":");
    sim_json_put_str(&b, mp->html.data ? mp->html.data : "");
    put(&b, ",\"MessageReferences\":[");
    for (int k = 0; k < mp->n_refs; k++) {
        put(&b, k ? ",{\"ReferencedDocumentId\":" : "{\"ReferencedDocumentId\":");
        sim_json_put_str(&b, mp->refs[k].doc_id);
        OF_ASSERT(of_buf_printf(&b, ",\"StartIndex\":%zu,\"Length\":%zu}", mp->refs[k].start,
                                mp->refs[k].length) == OF_OK);
    }
    put(&b, "],\"Comments\":");
    if (e->cat == SIM_EV_QUEUED && d->comments)
        sim_json_put_str(&b, d->comments);
    else
        put(&b, "null");
    snprintf(buf, sizeof buf, "/api/%s/events/Events-%d", sid, i + 1);
    put(&b, ",\"Details\":null,\"ChangeDetails\":null,\"Links\":{\"Self\":");
    sim_json_put_str(&b, buf);
    put(&b, "}}");
    msg_clear(&p.m);
    char *out = of_buf_detach(&b);
    OF_ASSERT(out);
    return out;
}

/* An event never changes once recorded: its text is written once. */
static const sim_text *event_text(ofsim *sim, int i)
{
    return sim_text_get(sim, &sim->events[i].text, "", render_event, write_event, i);
}

/* ---- handlers ---------------------------------------------------------------- */

/* An AutoId bound: absent = `dflt`; 400 (and false) when not an integer >= 0. */
static bool auto_id_arg(sim_req *r, const char *key, long long dflt, long long *out)
{
    const char *v = sim_arg(r, key);
    *out = dflt;
    if (!v) return true;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a non-negative integer", key);
        sim_reply_error(r, 400, "There was a problem with your request.", json_pack("[s]", msg));
        return false;
    }
    *out = x;
    return true;
}

static bool time_arg(sim_req *r, const char *key, int64_t *out)
{
    const char *v = sim_arg(r, key);
    *out = 0;
    if (!v || of_parse_rfc3339(v, out) == 0) return true;
    char msg[160];
    snprintf(msg, sizeof msg, "%s is not a valid date: %.100s", key, v);
    sim_reply_error(r, 400, "There was a problem with your request.", json_pack("[s]", msg));
    return false;
}

typedef struct event_filter {
    unsigned cats; /* 0 = any */
    json_t *projects, *envs, *tenants, *types, *regarding, *regarding_any, *ids;
    int64_t from, to; /* Occurred in [from, to); 0 = unbounded */
    /* regardingAny naming only deployments and tasks (a follower's filter): their indexes,
     * sorted, so each event is matched without rendering its RelatedDocumentIds. */
    int *any_deps;
    size_t n_any_deps;
} event_filter;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The deployment index of "Deployments-N" or "ServerTasks-N" (either names deployment N-1
 * here), or -1. */
static int dep_of_id(const char *id)
{
    static const char *const prefixes[] = {"Deployments-", "ServerTasks-"};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(prefixes[k]);
        if (strncasecmp(id, prefixes[k], n) != 0 || id[n] < '1' || id[n] > '9') continue;
        char *end;
        long v = strtol(id + n, &end, 10);
        return *end || v > INT_MAX ? -1 : (int)(v - 1);
    }
    return -1;
}

/* Fills f->any_deps when every regardingAny id is a deployment or a task. */
static void any_deps_index(event_filter *f)
{
    size_t n = json_array_size(f->regarding_any), k;
    json_t *v;
    if (n == 0) return;
    int *deps = calloc(n, sizeof *deps);
    OF_ASSERT(deps);
    json_array_foreach(f->regarding_any, k, v)
    {
        if ((deps[k] = dep_of_id(json_string_value(v))) < 0) {
            free(deps);
            return;
        }
    }
    qsort(deps, n, sizeof *deps, cmp_int);
    f->any_deps = deps;
    f->n_any_deps = n;
}

static bool event_matches(const ofsim *sim, const event_filter *f, int i)
{
    const sim_world *w = &sim->w;
    const sim_event *e = &sim->events[i];
    const sim_dep *d = &sim->deps[e->dep];
    if (f->cats && !(f->cats & (1u << e->cat))) return false;
    if (f->from && e->occurred < f->from) return false;
    if (f->to && e->occurred >= f->to) return false;
    if (f->projects && !sim_list_has(f->projects, w->projects[d->project].id)) return false;
    if (f->envs && !sim_list_has(f->envs, w->envs[d->env].id)) return false;
    if (f->tenants && (d->tenant < 0 || !sim_list_has(f->tenants, w->tenants[d->tenant].id)))
        return false;
    if (f->ids) {
        char id[32];
        snprintf(id, sizeof id, "Events-%d", i + 1);
        if (!sim_list_has(f->ids, id)) return false;
    }
    if (!f->types && !f->regarding && !f->regarding_any) return true;
    if (!f->types && !f->regarding && f->any_deps)
        return bsearch(&e->dep, f->any_deps, f->n_any_deps, sizeof(int), cmp_int) != NULL;
    related rel;
    related_ids(sim, e, &rel);
    size_t k;
    json_t *v;
    bool any = !f->types;
    json_array_foreach(f->types, k, v) any |= related_has_type(&rel, json_string_value(v));
    if (!any) return false;
    json_array_foreach(
        f->regarding, k,
        v) if (!related_has(&rel,
                            json_string_value(v))) return false; /* regarding: every id listed */
    any = !f->regarding_any;
    json_array_foreach(f->regarding_any, k, v) any |= related_has(&rel, json_string_value(v));
    return any;
}

/* GET events: newest first (descending AutoId) whatever the filters, as the
 * real server documents it; fromAutoId and toAutoId are inclusive bounds. */
void sim_h_events_list(sim_req *r)
{
    ofsim *sim = r->sim;
    long long from_id, to_id;
    event_filter f = {0};
    if (!auto_id_arg(r, "fromAutoId", 1, &from_id) ||
        !auto_id_arg(r, "toAutoId", sim->n_events, &to_id) || !time_arg(r, "from", &f.from) ||
        !time_arg(r, "to", &f.to))
        return;
    json_t *cats = sim_arg_list(r, "eventCategories");
    size_t k;
    json_t *v;
    bool unknown = false;
    json_array_foreach(cats, k, v)
    {
        int c = sim_ecat_parse(json_string_value(v));
        if (c >= 0)
            f.cats |= 1u << c;
        else
            unknown = true; /* a category no event has: matches nothing */
    }
    bool none = unknown && f.cats == 0;
    json_decref(cats);
    f.projects = sim_arg_list(r, "projects");
    f.envs = sim_arg_list(r, "environments");
    f.tenants = sim_arg_list(r, "tenants");
    f.types = sim_arg_list(r, "documentTypes");
    f.regarding = sim_arg_list(r, "regarding");
    f.regarding_any = sim_arg_list(r, "regardingAny");
    any_deps_index(&f);
    f.ids = sim_arg_list(r, "ids");
    long long lo = from_id > 1 ? from_id - 1 : 0,
              hi = to_id < sim->n_events ? to_id : sim->n_events;
    int64_t now = of_wall_ms();
    int *idx = calloc((size_t)(hi > lo ? hi - lo : 0) + 1, sizeof *idx), n = 0;
    OF_ASSERT(idx);
    for (long long i = hi - 1; !none && i >= lo; i--) {
        const sim_event *e = &sim->events[i];
        if (e->visible_at > now || sim->deps[e->dep].space != r->space) continue;
        if (event_matches(sim, &f, (int)i)) idx[n++] = (int)i;
    }
    json_decref(f.projects), json_decref(f.envs), json_decref(f.tenants), json_decref(f.types);
    json_decref(f.regarding), json_decref(f.regarding_any), json_decref(f.ids);
    free(f.any_deps);
    char *tmpl = sim_strfmt("/api/{space}/%s", sim_events_template);
    sim_reply_page_text(r, "Event", idx, n, render_event, event_text, tmpl);
    free(tmpl);
    free(idx);
}

void sim_h_event_get(sim_req *r)
{
    const char *id = sim_seg(r, 1);
    long i = -1;
    if (id && strncasecmp(id, "Events-", 7) == 0) {
        char *end;
        i = strtol(id + 7, &end, 10) - 1;
        if (*end || i < 0 || i >= r->sim->n_events) i = -1;
    }
    if (i < 0 || r->sim->events[i].visible_at > of_wall_ms() ||
        r->sim->deps[r->sim->events[i].dep].space != r->space)
        sim_reply_not_found(r);
    else
        sim_reply_item(r, 200, (int)i, render_event, event_text);
}
