/* Fuzz target for the Octopus client's reply decoders (common/octopus/octopus_json.c, reached
 * through octopus_internal.h) and the small parsers next to them: octo_parse_body, every
 * octo_decode_* (root, space, project, ref, tenant, release, template, deployment, task, event,
 * process, release manifest),
 * the
 * paging envelope with the list free functions, octo_error_text (ErrorMessage/Errors[]),
 * octo_parse_retry_after, of_parse_rfc3339 (common/base/clock.h) and octo_url_encode.
 *
 * Built two ways, like fuzz_codec.c:
 *   - with clang's libFuzzer (LLVMFuzzerTestOneInput below):
 *       clang -fsanitize=fuzzer,address,undefined -DOF_FUZZ_LIBFUZZER -D_DEFAULT_SOURCE \
 *         -Icommon/base -Icommon/octopus tests/fuzz/fuzz_octopus.c common/octopus/octopus_*.c
 * common/base/err.c common/base/log.c \ common/base/buf.c common/base/clock.c common/base/secret.c
 * -lcurl -ljansson seed corpus: `test_fuzz_octopus --write-seeds DIR` writes the built-in replies;
 *   - without it (gcc, ctest `fuzz_octopus`): main() at the bottom replays realistic replies,
 *     mutates them with a fixed-seed PRNG (byte edits and JSON-aware type swaps, huge values,
 *     deep nesting, nulls) and, with OF_FUZZ_FAILALLOC, fails every allocation of every
 *     decoder in turn to walk the out-of-memory paths.
 *
 * The contract checked, and nothing more: a call either succeeds, and then its result holds
 * only valid NUL-terminated UTF-8 where strings are promised, is consistent with itself, and
 * frees cleanly (twice: a free leaves the struct zeroed); or it fails with an of_err from the
 * documented set, a non-empty error string and a zeroed struct. Crashes, leaks and
 * out-of-bounds reads are the sanitizers' to find: inputs sit in exact-size heap buffers. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_entry.h"
#include "ojcheck.h"
#include "octopus_internal.h"

/* Which part broke its contract: the return value of of_fuzz_octopus_one is a mask. */
enum {
    BAD_PARSE = 1 << 0,   /* octo_parse_body */
    BAD_DECODE = 1 << 1,  /* an octo_decode_* resource decoder */
    BAD_PAGE = 1 << 2,    /* octo_decode_page, octo_item_name, list frees */
    BAD_ERRTEXT = 1 << 3, /* octo_error_text */
    BAD_RETRY = 1 << 4,   /* octo_parse_retry_after */
    BAD_TIME = 1 << 5,    /* of_parse_rfc3339 */
    BAD_URL = 1 << 6,     /* octo_url_encode */
};

#define YEAR_MS     (86400LL * 365 * 1000)
#define MAX_ITEMS   64  /* items of a page fed to every decoder */
#define MAX_LIST    512 /* items of a page assembled into a list */
#define MAX_STRINGS 32  /* string values of a reply fed to the string parsers */
/* The widest of_parse_rfc3339 can return: years 0000..9999, seconds up to 60, offsets up
 * to +-99:99 (it does not range-check offsets). */
#define TIME_MIN_MS (-62167581540000LL)
#define TIME_MAX_MS 253402663140999LL
/* 9999-12-31T23:59:59.999Z: the last instant of_rfc3339 prints with a 4-digit year. */
#define TIME_RFC_MAX_MS 253402300799999LL
/* A fixed "now" for Retry-After dates: Wed, 21 Oct 2015 07:28:00 GMT. */
#define NOW_MS 1445412480000LL

static int broke(int bit, const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_octopus: contract broken: %s%s%.300s\n", what, detail ? ": " : "",
            detail ? detail : "");
    return bit;
}

/* ---- small predicates ------------------------------------------------------------------- */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as jansson
 * promises for every string it hands out. */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            c = (c << 6) | (p[i] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        p += n + 1;
    }
    return true;
}

static bool str_ok(const char *s)
{
    return s && utf8_ok(s);
}

static bool opt_ok(const char *s)
{
    return !s || utf8_ok(s);
}

static bool time_ok(int64_t t)
{
    return t == -1 || (t >= TIME_MIN_MS && t <= TIME_MAX_MS);
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

static bool refs_ok(const of_octo_ref *r, size_t n)
{
    if (n && !r) return false;
    for (size_t i = 0; i < n; i++)
        if (!str_ok(r[i].id) || !str_ok(r[i].name)) return false;
    return true;
}

/* A string no decoded id can equal: decoded strings are valid UTF-8, this is not. */
static const char not_an_id[] = "\xff\xfe";

/* ---- the decoders, as one table ----------------------------------------------------------
 * Each entry adapts one decoder to a common shape, says how to free its result and checks a
 * successful result against what octopus.h promises. */

typedef union any_res {
    of_octo_root root;
    of_octo_space space;
    of_octo_project project;
    of_octo_ref ref;
    of_octo_tenant tenant;
    of_octo_release release;
    of_octo_template tpl;
    of_octo_deployment dep;
    of_octo_task task;
    of_octo_event event;
    of_octo_process process;
    of_octo_release_manifest release_manifest;
} any_res;

typedef struct decoder {
    const char *name;
    size_t size;
    of_err (*decode)(json_t *j, void *out, char *es, size_t n);
    void (*free_res)(void *res);
    const char *(*check)(const void *res);    /* NULL if the result keeps the contract */
    void (*free_list)(void *items, size_t n); /* list type with its own free, or NULL */
} decoder;

/* dec_NAME and free_NAME: octo_decode_NAME and of_octo_NAME_clear in the table's shape. */
#define ADAPT_FREE(name)             \
    static void free_##name(void *o) \
    {                                \
        of_octo_##name##_clear(o);   \
    }
#define ADAPT(name)                                                  \
    static of_err dec_##name(json_t *j, void *o, char *es, size_t n) \
    {                                                                \
        return octo_decode_##name(j, o, es, n);                      \
    }                                                                \
    ADAPT_FREE(name)

ADAPT(root)
ADAPT(space)
ADAPT(project)
ADAPT(tenant)
ADAPT(release)
ADAPT(template)
ADAPT(deployment)
ADAPT(task)
ADAPT(event)
ADAPT(process)
ADAPT(release_manifest)

static const char *check_root(const void *o)
{
    const of_octo_root *r = o;
    return opt_ok(r->application) && opt_ok(r->version) ? NULL : "root strings";
}

static const char *check_space(const void *o)
{
    const of_octo_space *s = o;
    return str_ok(s->id) && str_ok(s->name) ? NULL : "space Id/Name";
}

static const char *check_project(const void *o)
{
    const of_octo_project *p = o;
    if (!str_ok(p->id) || !str_ok(p->name)) return "project Id/Name";
    if (!opt_ok(p->slug) || !opt_ok(p->lifecycle_id)) return "project Slug/LifecycleId";
    if ((unsigned)p->tenanted > OF_OCTO_TENANTED_OR_UNTENANTED) return "project tenanted mode";
    return NULL;
}

static of_err dec_ref(json_t *j, void *o, char *es, size_t n)
{
    return octo_decode_ref(j, "Environment", o, es, n);
}
ADAPT_FREE(ref)
static const char *check_ref(const void *o)
{
    return refs_ok(o, 1) ? NULL : "ref Id/Name";
}

static const char *check_tenant(const void *o)
{
    const of_octo_tenant *t = o;
    if (!str_ok(t->id) || !str_ok(t->name)) return "tenant Id/Name";
    if (t->ntags && !t->tags) return "tenant tags count without array";
    for (size_t i = 0; i < t->ntags; i++)
        if (!str_ok(t->tags[i])) return "tenant TenantTags";
    if (t->nprojects && !t->projects) return "tenant projects count without array";
    for (size_t i = 0; i < t->nprojects; i++) {
        const of_octo_project_envs *p = &t->projects[i];
        if (!str_ok(p->project_id) || (p->n && !p->environment_ids))
            return "tenant ProjectEnvironments";
        /* What the resolver asks: connected to the project, and to each listed environment. */
        if (!of_octo_tenant_connected(t, p->project_id, NULL)) return "tenant not connected";
        for (size_t k = 0; k < p->n; k++) {
            if (!str_ok(p->environment_ids[k])) return "tenant environment id";
            /* duplicated project keys cannot happen: the parser rejects duplicates */
            if (!of_octo_tenant_connected(t, p->project_id, p->environment_ids[k]))
                return "tenant not connected to a listed environment";
        }
        if (of_octo_tenant_connected(t, p->project_id, not_an_id))
            return "tenant connected to an environment it does not list";
    }
    if (of_octo_tenant_connected(t, not_an_id, NULL)) return "tenant connected to a stranger";
    return NULL;
}
static void free_tenant_list(void *items, size_t n)
{
    of_octo_tenant_list l = {items, n, NULL};
    of_octo_tenant_list_clear(&l);
}

static const char *check_release(const void *o)
{
    const of_octo_release *r = o;
    if (!str_ok(r->id) || !str_ok(r->version) || !str_ok(r->project_id))
        return "release Id/Version/ProjectId";
    return opt_ok(r->channel_id) ? NULL : "release ChannelId";
}

static bool template_bit(const of_octo_template *t, size_t set, size_t k)
{
    return (t->sets[set * t->words + k / 64] >> (k % 64)) & 1;
}

/* Every environment a bit set names is allowed, every other one refused, for PromoteTo and for
 * each tenant's first entry. */
static const char *check_template(const void *o)
{
    const of_octo_template *t = o;
    if (!refs_ok(t->envs, t->nenvs)) return "template environments";
    if (t->words != (t->nenvs + 63) / 64) return "template words";
    if (!t->sets) return "template without bit sets";
    for (size_t k = 0; k < t->nenvs; k++)
        if (of_octo_template_allows(t, t->envs[k].id, NULL) != template_bit(t, 0, k))
            return "template PromoteTo disagrees with its bit set";
    for (size_t i = 0; i < t->ntenants; i++) {
        const char *id = t->tenant_ids[i];
        if (!str_ok(id)) return "template tenant id";
        if (i && strcmp(t->tenant_ids[i - 1], id) > 0) return "template tenant ids not sorted";
        if (i && strcmp(t->tenant_ids[i - 1], id) == 0) continue; /* first entry answers */
        for (size_t k = 0; k < t->nenvs; k++)
            if (of_octo_template_allows(t, t->envs[k].id, id) !=
                template_bit(t, 1 + t->tenant_set[i], k))
                return "template tenant disagrees with its bit set";
        if (of_octo_template_allows(t, not_an_id, id))
            return "template allows an environment it does not list";
    }
    if (of_octo_template_allows(t, not_an_id, NULL) ||
        (t->nenvs && of_octo_template_allows(t, t->envs[0].id, not_an_id)))
        return "template allows a stranger";
    return NULL;
}

static const char *check_deployment(const void *o)
{
    const of_octo_deployment *d = o;
    if (!str_ok(d->id) || !str_ok(d->release_id) || !str_ok(d->environment_id) ||
        !str_ok(d->task_id))
        return "deployment Id/ReleaseId/EnvironmentId/TaskId";
    if (!opt_ok(d->project_id) || !opt_ok(d->tenant_id) || !opt_ok(d->comments) ||
        !opt_ok(d->web_link))
        return "deployment optional strings";
    if (!time_ok(d->created_ms)) return "deployment Created out of range";
    return d->adopted ? "deployment adopted by a decoder" : NULL;
}
static void free_deployment_list(void *items, size_t n)
{
    of_octo_deployment_list l = {items, n, n};
    of_octo_deployment_list_clear(&l);
}

static const char *check_task(const void *o)
{
    const of_octo_task *t = o;
    of_octo_task_state again = OF_OCTO_TASK_QUEUED;
    if (!str_ok(t->id)) return "task Id";
    if ((unsigned)t->state > OF_OCTO_TASK_TIMED_OUT) return "task State out of range";
    if (of_octo_task_state_parse(of_octo_task_state_name(t->state), &again) || again != t->state)
        return "task State does not round-trip";
    if (!str_ok(t->error_message)) return "task ErrorMessage (must be \"\" when none)";
    if (!opt_ok(t->description) || !opt_ok(t->deployment_id)) return "task optional strings";
    if (!time_ok(t->queue_time_ms) || !time_ok(t->start_time_ms) || !time_ok(t->completed_time_ms))
        return "task times out of range";
    return t->found ? NULL : "task decoded but not found";
}
static void free_task_list(void *items, size_t n)
{
    of_octo_task_list l = {items, n, 0, 0};
    of_octo_task_list_clear(&l);
}

static const char *check_event(const void *o)
{
    const of_octo_event *e = o;
    if (!str_ok(e->id) || !str_ok(e->category)) return "event Id/Category";
    if (e->auto_id < -1) return "event AutoId below -1";
    for (size_t i = 0; i < e->nrelated; i++)
        if (!str_ok(e->related[i])) return "event RelatedDocumentIds";
    if (e->nrelated && !e->related) return "event RelatedDocumentIds count without items";
    return time_ok(e->occurred_ms) ? NULL : "event Occurred out of range";
}
static void free_event_list(void *items, size_t n)
{
    of_octo_event_list l = {.items = items, .n = n};
    of_octo_event_list_clear(&l);
}

static bool props_ok(const of_octo_property *p, size_t n)
{
    if (n && !p) return false;
    for (size_t i = 0; i < n; i++)
        if (!str_ok(p[i].name) || !opt_ok(p[i].value) || (p[i].sensitive && p[i].value))
            return false;
    return true;
}

static bool strv_ok(char *const *v, size_t n)
{
    if (n && !v) return false;
    for (size_t i = 0; i < n; i++)
        if (!str_ok(v[i])) return false;
    return true;
}

static const char *check_process(const void *o)
{
    const of_octo_process *p = o;
    if (!str_ok(p->id) || !opt_ok(p->project_id)) return "process Id/ProjectId";
    if (p->nsteps && !p->steps) return "process steps count without array";
    for (size_t i = 0; i < p->nsteps; i++) {
        const of_octo_step *s = &p->steps[i];
        if (!str_ok(s->id) || !str_ok(s->name) || !str_ok(s->condition) ||
            !str_ok(s->start_trigger) || !opt_ok(s->package_requirement))
            return "step strings";
        if (!props_ok(s->properties, s->nproperties)) return "step Properties";
        if (s->nactions && !s->actions) return "step actions count without array";
        for (size_t k = 0; k < s->nactions; k++) {
            const of_octo_action *a = &s->actions[k];
            if (!str_ok(a->id) || !str_ok(a->name) || !str_ok(a->action_type))
                return "action Id/Name/ActionType";
            if (!strv_ok(a->environments, a->nenvironments) ||
                !strv_ok(a->excluded_environments, a->nexcluded_environments) ||
                !strv_ok(a->channels, a->nchannels) || !strv_ok(a->tenant_tags, a->ntenant_tags))
                return "action scopes";
            if (!props_ok(a->properties, a->nproperties)) return "action Properties";
        }
    }
    return NULL;
}

static const char *check_release_manifest(const void *o)
{
    const of_octo_release_manifest *m = o;
    if (!str_ok(m->id) || !str_ok(m->version) || !str_ok(m->project_id) ||
        !opt_ok(m->process_snapshot_id))
        return "manifest strings";
    if (m->npackages && !m->packages) return "manifest packages count without array";
    for (size_t i = 0; i < m->npackages; i++)
        if (!str_ok(m->packages[i].action_name) || !str_ok(m->packages[i].package_reference_name) ||
            !str_ok(m->packages[i].version))
            return "manifest SelectedPackages";
    return NULL;
}

static const decoder decoders[] = {
    {"root", sizeof(of_octo_root), dec_root, free_root, check_root, NULL},
    {"space", sizeof(of_octo_space), dec_space, free_space, check_space, NULL},
    {"project", sizeof(of_octo_project), dec_project, free_project, check_project, NULL},
    {"ref", sizeof(of_octo_ref), dec_ref, free_ref, check_ref, NULL},
    {"tenant", sizeof(of_octo_tenant), dec_tenant, free_tenant, check_tenant, free_tenant_list},
    {"release", sizeof(of_octo_release), dec_release, free_release, check_release, NULL},
    {"template", sizeof(of_octo_template), dec_template, free_template, check_template, NULL},
    {"deployment", sizeof(of_octo_deployment), dec_deployment, free_deployment, check_deployment,
     free_deployment_list},
    {"task", sizeof(of_octo_task), dec_task, free_task, check_task, free_task_list},
    {"event", sizeof(of_octo_event), dec_event, free_event, check_event, free_event_list},
    {"process", sizeof(of_octo_process), dec_process, free_process, check_process, NULL},
    {"release manifest", sizeof(of_octo_release_manifest), dec_release_manifest,
     free_release_manifest, check_release_manifest, NULL},
};
#define N_DECODERS (sizeof(decoders) / sizeof(decoders[0]))

/* A failure: a documented code, a reason, and nothing left in the struct. */
static int check_failure(int bit, const char *who, of_err rc, const char *es, const void *res,
                         size_t size)
{
    if (rc != OF_ERR_PROTOCOL && rc != OF_ERR_NOMEM) return broke(bit, who, "undocumented error");
    if (!es[0]) return broke(bit, who, "failed without saying why");
    if (!utf8_ok(es)) return broke(bit, who, "error text is not UTF-8");
    if (res && !all_zero(res, size)) return broke(bit, who, "failed but left the struct filled");
    return 0;
}

static int run_decoder(const decoder *d, json_t *j)
{
    any_res res;
    char es[OCTO_ES];
    es[0] = '\0';
    memset(&res, 0xA5, sizeof(res)); /* decoders must zero it themselves */
    of_err rc = d->decode(j, &res, es, sizeof(es));
    if (rc) return check_failure(BAD_DECODE, d->name, rc, es, &res, d->size);
    int bad = 0;
    const char *why = d->check(&res);
    if (why) bad = broke(BAD_DECODE, d->name, why);
    d->free_res(&res);
    if (!all_zero(&res, d->size)) bad |= broke(BAD_DECODE, d->name, "free left data behind");
    d->free_res(&res); /* documented harmless */
    return bad;
}

/* Builds a list the way the call layer does (decode item by item, stop at the first error,
 * keep what decoded) and frees it with the list's own free function. */
static int run_list(const decoder *d, json_t *items)
{
    size_t n = json_array_size(items);
    if (n > MAX_LIST) n = MAX_LIST;
    if (!n) return 0;
    char *arr = calloc(n, d->size);
    if (!arr) return 0;
    size_t got = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char es[OCTO_ES];
        es[0] = '\0';
        of_err rc = d->decode(json_array_get(items, i), arr + i * d->size, es, sizeof(es));
        if (rc) {
            bad |= check_failure(BAD_PAGE, d->name, rc, es, arr + i * d->size, d->size);
            break;
        }
        got = i + 1;
    }
    d->free_list(arr, got); /* frees arr too */
    return bad;
}

static int run_page(json_t *j, json_t **items_out)
{
    json_t *items = NULL;
    size_t total = 0;
    char es[OCTO_ES];
    es[0] = '\0';
    *items_out = NULL;
    of_err rc = octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es));
    if (rc) return check_failure(BAD_PAGE, "page", rc, es, NULL, 0);
    if (!json_is_array(items) || items != json_object_get(j, "Items"))
        return broke(BAD_PAGE, "page", "Items is not the reply's array");
    json_t *tr = json_object_get(j, "TotalResults");
    size_t want = tr && json_integer_value(tr) >= 0 ? (size_t)json_integer_value(tr) : SIZE_MAX;
    if (total != want) return broke(BAD_PAGE, "page", "TotalResults");
    *items_out = items;
    /* The pager's consistency check on this page, as the first and as a later page. */
    static const size_t skips[] = {0, 100, SIZE_MAX / 2};
    size_t got = json_array_size(items);
    for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++) {
        es[0] = '\0';
        rc = octo_page_check(skips[i], 100, got, total, es, sizeof(es));
        if (rc && (rc != OF_ERR_PROTOCOL || !es[0] || !utf8_ok(es)))
            return broke(BAD_PAGE, "octo_page_check", "error without OF_ERR_PROTOCOL and reason");
        if (!rc && got > 100) return broke(BAD_PAGE, "octo_page_check", "more items than take");
    }
    return 0;
}

/* octo_quote on the raw reply: one printable UTF-8 line, bounded, never past out_size. */
static int check_quote(const char *body, size_t len)
{
    static const size_t sizes[] = {700, 64, 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *out = malloc(sizes[i]); /* exact size: ASan sees a write past out_size */
        if (!out) return 0;
        octo_quote("GET /api/x: bad; the server sent: ", body, len, out, sizes[i]);
        int bad = 0;
        if (!memchr(out, '\0', sizes[i]))
            bad = broke(BAD_ERRTEXT, "octo_quote", "no NUL");
        else if (!utf8_ok(out))
            bad = broke(BAD_ERRTEXT, "octo_quote", "not UTF-8");
        for (const char *p = out; !bad && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                bad = broke(BAD_ERRTEXT, "octo_quote", "a control character got through");
        free(out);
        if (bad) return bad;
    }
    return 0;
}

/* ---- the string parsers ---------------------------------------------------------------- */

static int check_time(const char *s)
{
    int64_t ms = INT64_MIN;
    int rc = of_parse_rfc3339(s, &ms);
    if (rc == -1) return 0;
    if (rc != 0) return broke(BAD_TIME, "of_parse_rfc3339", "returned neither 0 nor -1");
    if (ms < TIME_MIN_MS || ms > TIME_MAX_MS) return broke(BAD_TIME, "of_parse_rfc3339", s);
    /* What it accepts means what of_rfc3339 prints for that instant. */
    if (ms >= 0 && ms <= TIME_RFC_MAX_MS) {
        char buf[64];
        int64_t again = INT64_MIN;
        if (of_parse_rfc3339(of_rfc3339(ms, buf, sizeof(buf)), &again) != 0 || again != ms)
            return broke(BAD_TIME, "of_parse_rfc3339 round trip", s);
    }
    return 0;
}

static int check_retry_after(const char *value)
{
    int64_t got = octo_parse_retry_after(value, NOW_MS);
    if (got < -1) return broke(BAD_RETRY, "octo_parse_retry_after", "negative wait");
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    int64_t want;
    bool huge = false; /* the true wait is at least a year: a clamp is fine */
    if (*p >= '0' && *p <= '9') {
        /* delta-seconds, optionally followed by whitespace */
        int64_t secs = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (secs > (INT64_MAX - (*p - '0')) / 10)
                huge = true;
            else if (!huge)
                secs = secs * 10 + (*p - '0');
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p) {
            want = -1;
            huge = false;
        } else if (huge) {
            want = -1; /* beyond int64: "unparseable" or clamped, both fine */
        } else {
            want = (secs > 86400LL * 365 ? 86400LL * 365 : secs) * 1000;
        }
    } else if (!*p) {
        want = -1;
    } else {
        /* an HTTP-date: libcurl's parser is the oracle for the instant */
        time_t t = curl_getdate(p, NULL);
        int64_t ms;
        if (t == (time_t)-1) {
            want = -1;
        } else if (__builtin_mul_overflow((int64_t)t, 1000, &ms) ||
                   __builtin_sub_overflow(ms, NOW_MS, &ms)) {
            want = t < 0 ? 0 : YEAR_MS;
            huge = t > 0;
        } else {
            want = ms < 0 ? 0 : ms;
            huge = want >= YEAR_MS;
        }
    }
    if (got == want || (huge && (got == -1 || got >= YEAR_MS))) return 0;
    char msg[200];
    snprintf(msg, sizeof(msg), "\"%.120s\" -> %lld, want %lld", value, (long long)got,
             (long long)want);
    return broke(BAD_RETRY, "octo_parse_retry_after", msg);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; /* lower case is valid RFC 3986 but not what we emit */
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int check_url(const char *s)
{
    size_t len = strlen(s);
    of_buf b;
    of_buf_init(&b, 3 * len + 1);
    of_err rc = octo_url_encode(&b, s);
    int bad = 0;
    if (rc) {
        bad = broke(BAD_URL, "octo_url_encode", "failed within its buffer");
    } else {
        /* only unreserved characters and %XX, decoding back to s */
        size_t i = 0, k = 0;
        const char *o = b.data ? b.data : "";
        while (!bad && i < b.len) {
            unsigned char want = (unsigned char)s[k];
            if (unreserved((unsigned char)o[i])) {
                if ((unsigned char)o[i] != want) bad = broke(BAD_URL, "octo_url_encode", s);
                i++;
            } else if (o[i] == '%' && i + 2 < b.len && hexval(o[i + 1]) >= 0 &&
                       hexval(o[i + 2]) >= 0) {
                unsigned v = (unsigned)(hexval(o[i + 1]) * 16 + hexval(o[i + 2]));
                if (v != want || unreserved(want)) bad = broke(BAD_URL, "octo_url_encode", s);
                i += 3;
            } else {
                bad = broke(BAD_URL, "octo_url_encode", "emitted a reserved character");
            }
            k++;
        }
        if (!bad && k != len) bad = broke(BAD_URL, "octo_url_encode", "lost characters");
    }
    of_buf_clear(&b);
    return bad;
}

static int check_string(const char *s)
{
    return check_time(s) | check_retry_after(s) | check_url(s);
}

/* The error text the header promises: "ErrorMessage: Errors[0]; Errors[1]", empty parts
 * skipped, cut to at most out_size - 1 bytes without splitting a UTF-8 character. *any says
 * whether there was any. Returns OF_ERR_NOMEM when the oracle itself could not build it. */
static of_err expected_error_text(const char *body, size_t len, char *out, size_t out_size,
                                  bool *any_out)
{
    bool any = false;
    of_err rc = OF_OK;
    of_buf b;
    of_buf_init(&b, SIZE_MAX / 2);
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        const char *msg = json_string_value(json_object_get(j, "ErrorMessage"));
        json_t *errs = json_object_get(j, "Errors");
        bool has_msg = msg && *msg, first = true;
        if (has_msg) rc = of_buf_puts(&b, msg);
        any = has_msg;
        for (size_t i = 0; !rc && json_is_array(errs) && i < json_array_size(errs); i++) {
            const char *e = json_string_value(json_array_get(errs, i));
            if (!e || !*e) continue;
            if (any) rc = of_buf_puts(&b, first && has_msg ? ": " : "; ");
            if (!rc) rc = of_buf_puts(&b, e);
            any = true;
            first = false;
        }
    }
    size_t n = b.len < out_size - 1 ? b.len : out_size - 1;
    while (n > 0 && n < b.len && ((unsigned char)b.data[n] & 0xC0) == 0x80)
        n--;
    if (n) memcpy(out, b.data, n);
    out[n] = '\0';
    of_buf_clear(&b);
    json_decref(j);
    *any_out = any;
    return rc;
}

static int check_error_text(const char *body, size_t len)
{
    static const size_t sizes[] = {512, 33, 2, 1}; /* 512: what octopus_http.c passes */
    enum { N_SIZES = sizeof(sizes) / sizeof(sizes[0]) };
    int bad = 0;
    for (size_t i = 0; !bad && i < N_SIZES; i++) {
        char *out = malloc(sizes[i]); /* exact size: ASan sees a write past out_size */
        char *want = malloc(sizes[i]);
        if (!out || !want) {
            free(out);
            free(want);
            break;
        }
        memset(out, 'x', sizes[i]);
        bool any = octo_error_text(body, len, out, sizes[i]);
        bool want_any = false;
        if (expected_error_text(body, len, want, sizes[i], &want_any)) {
            free(out); /* the oracle ran out of memory: no verdict */
            free(want);
            break;
        }
        if (!memchr(out, '\0', sizes[i])) {
            bad = broke(BAD_ERRTEXT, "octo_error_text", "not NUL-terminated");
        } else if (!any && out[0]) {
            bad = broke(BAD_ERRTEXT, "octo_error_text", "false but wrote text");
        } else if (!utf8_ok(out)) {
            bad = broke(BAD_ERRTEXT, "octo_error_text", "cut inside a UTF-8 character");
        } else if (any != want_any || strcmp(out, want) != 0) {
            fprintf(stderr, "fuzz_octopus: out_size %zu: error text \"%.100s\", want \"%.100s\"\n",
                    sizes[i], out, want);
            bad = broke(BAD_ERRTEXT, "octo_error_text", "not ErrorMessage: Errors[0]; ...");
        }
        free(out);
        free(want);
    }
    return bad;
}

/* Up to MAX_STRINGS string values anywhere in the reply (object keys too). */
static void collect_strings(json_t *v, const char **out, size_t *n, int depth)
{
    if (*n >= MAX_STRINGS || depth > 64) return;
    if (json_is_string(v)) {
        out[(*n)++] = json_string_value(v);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            collect_strings(json_array_get(v, i), out, n, depth + 1);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            if (*n < MAX_STRINGS) out[(*n)++] = key;
            collect_strings(child, out, n, depth + 1);
        }
    }
}

/* ---- the target ------------------------------------------------------------------------ */

static int of_fuzz_octopus_one(const uint8_t *data, size_t size)
{
    int bad = 0;
    /* Exact-size copies: the body is not NUL-terminated (decoders get a length), the string
     * is (the string parsers get a C string, cut at the first NUL). */
    char *body = malloc(size ? size : 1);
    char *str = malloc(size + 1);
    if (!body || !str) {
        free(body);
        free(str);
        return 0;
    }
    if (size) memcpy(body, data, size);
    memcpy(str, data, size);
    str[size] = '\0';

    bad |= check_string(str);
    bad |= check_error_text(body, size);
    bad |= check_quote(body, size);

    json_t *j = NULL;
    char es[OCTO_ES];
    es[0] = '\0';
    of_err rc = octo_parse_body(body, size, NULL, &j, es, sizeof(es));
    {
        /* octo_parse_body's fast parser is jansson's: the same tree, in order, whole or pruned
         * to what the hot replies' decoders read */
        static const oj_keep *const keeps[] = {
            NULL,
            octo_keep_deployment,
            octo_keep_task,
            octo_keep_event,
            octo_keep_deployment_page,
            octo_keep_task_page,
            octo_keep_event_page,
        };
        for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++)
            if (!oj_check_as_jansson(body, size, keeps[k]))
                bad |= broke(BAD_PARSE, "oj_parse_keep", "not json_loadb's tree, pruned");
    }
    if (rc) {
        bad |= check_failure(BAD_PARSE, "octo_parse_body", rc, es, NULL, 0);
        if (j) bad |= broke(BAD_PARSE, "octo_parse_body", "failed but returned a document");
    } else if (!j) {
        bad |= broke(BAD_PARSE, "octo_parse_body", "succeeded without a document");
    } else {
        for (size_t d = 0; d < N_DECODERS; d++)
            bad |= run_decoder(&decoders[d], j);
        json_t *items = NULL;
        bad |= run_page(j, &items);
        if (!items && json_is_array(j)) items = j; /* the /all endpoints' bare arrays */
        for (size_t d = 0; items && d < N_DECODERS; d++)
            if (decoders[d].free_list) bad |= run_list(&decoders[d], items);
        for (size_t i = 0; i < json_array_size(items) && i < MAX_ITEMS; i++) {
            json_t *item = json_array_get(items, i);
            const char *name = octo_item_name(item);
            if (name &&
                (!utf8_ok(name) || name != json_string_value(json_object_get(item, "Name"))))
                bad |= broke(BAD_PAGE, "octo_item_name", "not the item's Name");
            for (size_t d = 0; d < N_DECODERS; d++)
                bad |= run_decoder(&decoders[d], item);
        }
        const char *strs[MAX_STRINGS];
        size_t nstrs = 0;
        collect_strings(j, strs, &nstrs, 0);
        for (size_t i = 0; i < nstrs; i++)
            bad |= check_string(strs[i]);
        json_decref(j);
    }
    free(body);
    free(str);
    return bad;
}

#ifdef OF_FUZZ_LIBFUZZER
OF_FUZZ_LIBFUZZER_ENTRY(of_fuzz_octopus_one)
#else
/* ===== the smoke driver (ctest) ========================================================== */

#include "fuzz_driver.h"
#include "test.h"

/* ---- allocation failure injection --------------------------------------------------------
 * With OF_FUZZ_FAILALLOC the test is linked with -Wl,--wrap=malloc,calloc,realloc,strdup, so
 * every allocation in our code (decoders, of_buf) goes through fail_now(): when armed,
 * exactly the k-th allocation fails. jansson's own allocations are left alone: its parser
 * (2.14) writes out of bounds when an allocation fails mid-string (akheron/jansson#362, fix
 * pending upstream), which is not ours to test. Global state, unavoidably: malloc has no
 * context argument. */
#ifdef OF_FUZZ_FAILALLOC
static long oom_countdown = -1; /* -1: off; 0: the next allocation fails */
static bool oom_hit;
static long oom_injected; /* for the summary line */

static bool fail_now(void)
{
    if (oom_countdown < 0) return false;
    if (oom_countdown-- > 0) return false;
    oom_hit = true;
    oom_injected++;
    return true; /* countdown is now -1: later allocations succeed */
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    return fail_now() ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Fails each allocation of each decoder on doc in turn: the decoder must then return
 * OF_ERR_NOMEM with a reason and a zeroed struct, and leak nothing (LeakSanitizer). */
static int oom_decoders(json_t *doc)
{
    int bad = 0;
    for (size_t d = 0; d < N_DECODERS; d++) {
        for (long k = 0; k < 100000; k++) {
            any_res res;
            char es[OCTO_ES];
            es[0] = '\0';
            oom_hit = false;
            oom_countdown = k;
            of_err rc = decoders[d].decode(doc, &res, es, sizeof(es));
            oom_countdown = -1;
            if (!oom_hit) { /* ran to the end: every allocation has had its turn */
                if (!rc) decoders[d].free_res(&res);
                break;
            }
            if (rc == OF_OK) {
                bad |= broke(BAD_DECODE, decoders[d].name, "succeeded after a failed allocation");
                decoders[d].free_res(&res);
            } else if (rc != OF_ERR_NOMEM) {
                bad |= broke(BAD_DECODE, decoders[d].name, "allocation failure not OF_ERR_NOMEM");
            } else {
                bad |= check_failure(BAD_DECODE, decoders[d].name, rc, es, &res, decoders[d].size);
            }
            if (bad) {
                fprintf(stderr, "fuzz_octopus: ... when allocation %ld of the %s decoder failed\n",
                        k, decoders[d].name);
                return bad;
            }
        }
    }
    return bad;
}

static int oom_one(const char *body, size_t len)
{
    int bad = 0;
    /* octo_error_text under memory pressure: any answer, NUL-terminated, no leak */
    for (long k = 0; k < 100000; k++) {
        char out[512];
        oom_hit = false;
        oom_countdown = k;
        bool any = octo_error_text(body, len, out, sizeof(out));
        oom_countdown = -1;
        if (!memchr(out, '\0', sizeof(out)) || (!any && out[0]))
            return broke(BAD_ERRTEXT, "octo_error_text", "under allocation failure");
        if (!oom_hit) break;
    }
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return bad;
    bad |= oom_decoders(j);
    json_t *items = json_is_array(j) ? j : json_object_get(j, "Items");
    for (size_t i = 0; !bad && i < json_array_size(items) && i < 4; i++)
        bad |= oom_decoders(json_array_get(items, i));
    json_decref(j);
    return bad;
}
#endif /* OF_FUZZ_FAILALLOC */

/* ---- seeds: realistic replies (field names from docs/octopus.md, the simulator and
 * /work/shared/reference/octopus-api.md) ---------------------------------------------------- */

#define TASK_EXECUTING                                                                           \
    "{\"Id\":\"ServerTasks-9001\",\"SpaceId\":\"Spaces-1\",\"Name\":\"Deploy\",\"Description\":" \
    "\"Deploy Billing release 2026.18.0 to Hosted Beta for Contoso\",\"Arguments\":{"            \
    "\"DeploymentId\":\"Deployments-2001\"},\"ProjectId\":\"Projects-12\",\"State\":"            \
    "\"Executing\",\"Completed\":\"Executing...\",\"QueueTime\":\"2026-05-05T21:00:03+00:00\","  \
    "\"QueueTimeExpiry\":null,\"StartTime\":\"2026-05-05T21:00:05+00:00\",\"LastUpdatedTime\":"  \
    "\"2026-05-05T21:02:11+00:00\",\"CompletedTime\":null,\"Duration\":\"2 minutes\","           \
    "\"ErrorMessage\":\"\",\"ServerNode\":\"OCTO-NODE-1\",\"IsCompleted\":false,"                \
    "\"FinishedSuccessfully\":false,\"HasBeenPickedUpByProcessor\":true,"                        \
    "\"HasPendingInterruptions\":true,\"PendingInterruptionTypes\":[\"ManualIntervention\"],"    \
    "\"HasWarningsOrErrors\":false,\"CanRerun\":false,\"Links\":{\"Self\":"                      \
    "\"/api/tasks/ServerTasks-9001\",\"Cancel\":\"/api/tasks/ServerTasks-9001/cancel\"}}"

#define DEPLOYMENT                                                                                \
    "{\"Id\":\"Deployments-2001\",\"Name\":\"Deploy to Hosted Release\",\"SpaceId\":\"Spaces-1\"" \
    ",\"ProjectId\":\"Projects-12\",\"ReleaseId\":\"Releases-101\",\"ChannelId\":\"Channels-5\"," \
    "\"EnvironmentId\":\"Environments-6\",\"TenantId\":\"Tenants-40\",\"TaskId\":"                \
    "\"ServerTasks-9001\",\"DeploymentProcessId\":\"deploymentprocess-Projects-12-s-3\","         \
    "\"Created\":\"2026-05-05T21:00:03.120+00:00\",\"Comments\":\"train 2026.18 stage 3 job "     \
    "6f1c2a4e-93d1-5d1e-8c55-0b7d0f0e8a11\",\"UseGuidedFailure\":false,\"FailureEncountered\":"   \
    "false,\"SkipActions\":[],\"FormValues\":{},\"QueueTime\":null,\"QueueTimeExpiry\":null,"     \
    "\"Links\":{\"Self\":\"/api/Spaces-1/deployments/Deployments-2001\",\"Task\":"                \
    "\"/api/tasks/ServerTasks-9001\",\"Web\":\"/app#/Spaces-1/deployments/Deployments-2001\"}}"

#define TENANT                                                                                   \
    "{\"Id\":\"Tenants-40\",\"Name\":\"Contoso\",\"Slug\":\"contoso\",\"SpaceId\":\"Spaces-1\"," \
    "\"IsDisabled\":false,\"TenantTags\":[\"Hosting/Hosted\",\"Ring/Beta\"],"                    \
    "\"ProjectEnvironments\":{\"Projects-12\":[\"Environments-4\",\"Environments-6\"],"          \
    "\"Projects-13\":[]},\"Links\":{\"Self\":\"/api/Spaces-1/tenants/Tenants-40\"}}"

static const char *const builtin_seeds[] = {
    /* GET deploymentprocesses/{snapshot}: a Deploy a Release step, a Chain Deployment step with
     * a sensitive API key, a disabled manual step */
    "{\"Id\":\"deploymentprocess-Projects-9-s-1\",\"ProjectId\":\"Projects-9\",\"Version\":3,"
    "\"Steps\":[{\"Id\":\"a1\",\"Name\":\"Schema\",\"Condition\":\"Success\",\"StartTrigger\":"
    "\"StartAfterPrevious\",\"PackageRequirement\":\"LetOctopusDecide\",\"Properties\":{},"
    "\"Actions\":[{\"Id\":\"b1\",\"Name\":\"Schema\",\"ActionType\":\"Octopus.DeployRelease\","
    "\"IsDisabled\":false,\"Environments\":[\"Environments-4\"],\"ExcludedEnvironments\":[],"
    "\"Channels\":[],\"TenantTags\":[\"Ring/Beta\"],\"Properties\":{\"Octopus.Action."
    "DeployRelease.ProjectId\":\"Projects-1\"}}]},{\"Id\":\"a2\",\"Name\":\"Billing\","
    "\"Condition\":\"Always\",\"StartTrigger\":\"StartWithPrevious\",\"Actions\":[{\"Id\":"
    "\"b2\",\"Name\":\"Deploy Billing\",\"ActionType\":\"Octopus.Script\",\"Properties\":{"
    "\"Chain_ProjectName\":\"Billing\",\"Chain_ApiKey\":{\"HasValue\":true,\"NewValue\":null},"
    "\"Chain_Tenants\":\"Ring/Beta\\nContoso\"}},{\"Id\":\"b3\",\"Name\":\"Approve\","
    "\"ActionType\":\"Octopus.Manual\",\"IsDisabled\":true}]}],\"Links\":{}}",
    /* GET releases/{id} of an orchestration project: its selected child versions */
    "{\"Id\":\"Releases-17\",\"Version\":\"2026.18\",\"ProjectId\":\"Projects-9\","
    "\"ProjectDeploymentProcessSnapshotId\":\"deploymentprocess-Projects-9-s-1\","
    "\"SelectedPackages\":[{\"ActionName\":\"Schema\",\"PackageReferenceName\":\"\","
    "\"Version\":\"2026.18.0\"},{\"StepName\":\"Billing package\",\"Version\":\"2026.18.1\"}]}",
    /* a task page as GET tasks?ids=... returns it: live, final, timed out, failed */
    "{\"ItemType\":\"Task\",\"TotalResults\":4,\"ItemsPerPage\":4,\"NumberOfPages\":1,"
    "\"LastPageNumber\":0,\"Items\":[" TASK_EXECUTING ",{\"Id\":\"ServerTasks-9002\",\"State\":"
    "\"Success\",\"Description\":\"Deploy Billing\",\"Arguments\":{\"DeploymentId\":"
    "\"Deployments-2002\"},\"QueueTime\":\"2026-05-05T21:00:03Z\",\"StartTime\":"
    "\"2026-05-05T21:00:04.5Z\",\"CompletedTime\":\"2026-05-05T21:03:00.999+02:00\","
    "\"ErrorMessage\":\"\",\"HasPendingInterruptions\":false},{\"Id\":\"ServerTasks-9003\","
    "\"State\":\"TimedOut\",\"QueueTime\":\"2026-05-05T21:00:03+00:00\",\"StartTime\":null,"
    "\"CompletedTime\":null,\"ErrorMessage\":\"The task was not started before its "
    "QueueTimeExpiry and timed out.\"},{\"Id\":\"ServerTasks-9004\",\"State\":\"Failed\","
    "\"ErrorMessage\":\"The deployment failed because one or more steps failed.\","
    "\"QueueTime\":\"2026-05-05T21:00:03-05:30\",\"Arguments\":{}}],\"Links\":{\"Self\":"
    "\"/api/Spaces-1/tasks?ids=ServerTasks-9001,ServerTasks-9002\",\"Page.Next\":null}}",
    /* one task, as GET tasks/{id} and POST tasks/{id}/cancel return it */
    TASK_EXECUTING,
    /* POST deployments -> 201 */
    DEPLOYMENT,
    /* GET deployments?projects=..&taskState=Success: newest first, one untenanted */
    "{\"ItemType\":\"Deployment\",\"TotalResults\":17,\"ItemsPerPage\":2,\"Items\":[" DEPLOYMENT
    ",{\"Id\":\"Deployments-1990\",\"ProjectId\":\"Projects-12\",\"ReleaseId\":\"Releases-99\","
    "\"EnvironmentId\":\"Environments-6\",\"TenantId\":null,\"TaskId\":\"ServerTasks-8990\","
    "\"Comments\":null,\"Created\":\"2026-05-01T09:15:00+00:00\",\"Links\":{}}],\"Links\":{}}",
    /* GET releases/{id}/deployments/template */
    "{\"PromoteTo\":[{\"Id\":\"Environments-4\",\"Name\":\"Hosted Beta\"}],\"TenantPromotions\":"
    "[{\"Id\":\"Tenants-40\",\"Name\":\"Contoso\",\"PromoteTo\":[{\"Id\":\"Environments-4\","
    "\"Name\":\"Hosted Beta\"},{\"Id\":\"Environments-6\",\"Name\":\"Hosted Release\"}]},{\"Id\":"
    "\"Tenants-41\",\"Name\":\"Fabrikam\",\"PromoteTo\":[]}],\"IsDeploymentProcessModified\":"
    "false,\"IsVariableSetModified\":false,\"IsLibraryVariableSetModified\":false,"
    "\"DeploymentNotes\":null}",
    /* a tenant, and a tenant page */
    TENANT,
    "{\"ItemType\":\"Tenant\",\"TotalResults\":2,\"ItemsPerPage\":30,\"Items\":[" TENANT
    ",{\"Id\":\"Tenants-41\",\"Name\":\"Fabrikam\",\"IsDisabled\":true,\"TenantTags\":[],"
    "\"ProjectEnvironments\":{}}]}",
    /* a project page (partialName lookups) */
    "{\"ItemType\":\"Project\",\"TotalResults\":2,\"Items\":[{\"Id\":\"Projects-12\",\"Name\":"
    "\"Billing\",\"Slug\":\"billing\",\"LifecycleId\":\"Lifecycles-1\",\"TenantedDeploymentMode\""
    ":\"Tenanted\",\"DefaultGuidedFailureMode\":\"EnvironmentDefault\",\"IsDisabled\":false,"
    "\"Links\":{\"Releases\":\"/api/Spaces-1/projects/Projects-12/releases{/version}\"}},{\"Id\":"
    "\"Projects-13\",\"Name\":\"Billing API\",\"TenantedDeploymentMode\":\"TenantedOrUntenanted"
    "\"}]}",
    /* a release */
    "{\"Id\":\"Releases-101\",\"Version\":\"2026.18.0\",\"ProjectId\":\"Projects-12\","
    "\"ChannelId\":\"Channels-5\",\"SpaceId\":\"Spaces-1\",\"Assembled\":"
    "\"2026-05-04T10:00:00+00:00\",\"ReleaseNotes\":\"\",\"SelectedPackages\":[{\"ActionName\":"
    "\"Deploy\",\"Version\":\"2026.18.0\"}],\"Links\":{\"DeploymentTemplate\":"
    "\"/api/Spaces-1/releases/Releases-101/deployments/template\"}}",
    /* an event page: with AutoId, and in an official model's shape (no AutoId) */
    "{\"ItemType\":\"Event\",\"TotalResults\":2,\"Items\":[{\"Id\":\"Events-812\",\"AutoId\":"
    "812,\"Category\":\"DeploymentSucceeded\",\"RelatedDocumentIds\":[\"Deployments-2001\","
    "\"ServerTasks-9001\",\"Projects-12\",\"Environments-4\",\"Tenants-7\",\"Releases-101\","
    "\"Spaces-1\"],\"Occurred\":\"2026-05-05T21:00:09.120+00:00\",\"Message\":\"Deploy to "
    "Hosted Beta succeeded\",\"UserId\":\"Users-1\",\"IsService\":true,\"Details\":null},"
    "{\"Id\":\"Events-811\",\"Category\":\"ManualInterventionInterruptionRaised\","
    "\"RelatedDocumentIds\":[\"Deployments-2000\",\"ServerTasks-9000\",\"Interruptions-9000\"]"
    ",\"Occurred\":null}]}",
    /* the root document and a space page, an environment page */
    "{\"Application\":\"Octopus Deploy\",\"Version\":\"2024.1.0\",\"ApiVersion\":\"3.0.0\","
    "\"Links\":{\"Spaces\":\"/api/spaces{/id}{?skip,ids,take,partialName}\",\"Tasks\":"
    "\"/api/tasks{/id}{?skip,active,environment,tenant,ids}\"}}",
    "{\"ItemType\":\"Space\",\"TotalResults\":1,\"Items\":[{\"Id\":\"Spaces-1\",\"Name\":"
    "\"Default\",\"IsDefault\":true}]}",
    "{\"ItemType\":\"Environment\",\"TotalResults\":-1,\"Items\":[{\"Id\":\"Environments-4\","
    "\"Name\":\"Hosted Beta\",\"SortOrder\":3},{\"Id\":\"Environments-6\",\"Name\":"
    "\"A/B & C?#\\u00fc\"}]}",
    /* error bodies: 400 with Errors[], 401, a proxy's HTML */
    "{\"ErrorMessage\":\"There was a problem with your request.\",\"Errors\":[\"Release 1.4.0 "
    "cannot be deployed to Hosted Release yet: it has not been deployed to the earlier phases "
    "of its lifecycle.\",\"Tenant Contoso is not connected to Hosted Release.\"],"
    "\"FullException\":null,\"HelpText\":\"\",\"Details\":{}}",
    "{\"ErrorMessage\":\"You must be logged in to perform this action. Please provide a valid "
    "API key or log in again.\"}",
    "<html><body>502 Bad Gateway</body></html>",
    /* tagsets/all: a bare array */
    "[{\"Id\":\"TagSets-1\",\"Name\":\"Hosting\",\"Tags\":[{\"Id\":\"TagSets-1/Tags-1\","
    "\"Name\":\"Hosted\",\"CanonicalTagName\":\"Hosting/Hosted\"}]}]",
    /* Retry-After values and timestamps, raw */
    "120",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Wednesday, 21-Oct-15 07:28:00 GMT",
    "Wed Oct 21 07:28:00 2015",
    "2026-05-05T21:00:03.120+00:00",
    "2026-05-05T21:00:05Z",
};

#define MAX_SEEDS     128
typedef struct seed {
    char *data;
    size_t len;
} seed;

/* ---- mutations ------------------------------------------------------------------------- */

static const char *const tokens[] = {
    OF_FUZZ_JSON_TOKENS,
    "false",
    "0",
    "-1",
    "-0",
    "1.5",
    "1e999",
    "2147483647",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "\\u0000",
    "\\ud800",
    "\\udc00\\ud800",
    "\\u00e9",
    "\xff",
    "\xc3",
    "\xe2\x82",
    "\xed\xa0\x80",
    "\"Items\":",
    "\"TotalResults\":",
    "\"State\":\"Queued\"",
    "\"Id\":",
    "\"Errors\":[",
    "[[[[[[[[",
    "{\"a\":",
    "T",
    "Z",
    "+",
    "-",
    ".",
    "99",
    "GMT",
    " ",
    "\t",
    "\r\n",
};
#define N_TOKENS      (sizeof(tokens) / sizeof(tokens[0]))

static const char *const numbers[] = {
    "0",
    "00",
    "1",
    "-1",
    "60",
    "99",
    "9999",
    "99999",
    "300000000",
    "2147483647",
    "2147483648",
    "4294967296",
    "1000000000",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "1e308",
    "-0",
    "1.5",
};
#define N_NUMBERS     (sizeof(numbers) / sizeof(numbers[0]))

static const char *const interesting_strings[] = {
    "Queued",
    "Executing",
    "Cancelling",
    "Success",
    "Failed",
    "Canceled",
    "TimedOut",
    "New",
    "Untenanted",
    "Tenanted",
    "TenantedOrUntenanted",
    "tenanted",
    "2026-05-05T21:00:05+00:00",
    "2026-02-30T24:00:00Z",
    "9999-12-31T23:59:60.999-99:99",
    "0000-01-01T00:00:00+99:99",
    "1969-12-31T23:59:59.999Z",
    "2026-05-05T21:00:05.123456789Z",
    "2026-05-05",
    "Environments-4",
    "Tenants-40",
    "Projects-12",
    "ServerTasks-9001",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "A/B & C?#\xc3\xbc",
    "\xe2\x82\xac",
    "",
    " ",
};
#define N_INTERESTING (sizeof(interesting_strings) / sizeof(interesting_strings[0]))

typedef struct mbuf {
    char *d;
    size_t len, cap;
} mbuf;

static bool mb_reserve(mbuf *m, size_t extra)
{
    if (m->len + extra <= m->cap) return true;
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->len + extra)
        cap *= 2;
    char *d = realloc(m->d, cap);
    if (!d) return false;
    m->d = d;
    m->cap = cap;
    return true;
}

static void mb_insert(mbuf *m, size_t pos, const char *s, size_t n)
{
    if (!mb_reserve(m, n)) return;
    memmove(m->d + pos + n, m->d + pos, m->len - pos);
    memcpy(m->d + pos, s, n);
    m->len += n;
}

static size_t rnd_below(uint64_t *rnd, size_t n)
{
    return n ? (size_t)(of_rand_next(rnd) % n) : 0;
}

/* Byte-level edits, as fuzz_smoke.c does, plus nesting and splicing. */
static void mutate_bytes(mbuf *m, uint64_t *rnd)
{
    int edits = 1 + (int)rnd_below(rnd, 4);
    for (int e = 0; e < edits; e++) {
        size_t pos = rnd_below(rnd, m->len + 1);
        switch (rnd_below(rnd, 8)) {
        case 0: /* flip a bit */
            if (pos < m->len) m->d[pos] = (char)(m->d[pos] ^ (char)(1u << rnd_below(rnd, 8)));
            break;
        case 1: { /* delete a range */
            size_t k = rnd_below(rnd, 16);
            if (pos + k > m->len) k = m->len - pos;
            memmove(m->d + pos, m->d + pos + k, m->len - pos - k);
            m->len -= k;
            break;
        }
        case 2:
        case 3: { /* insert a token */
            const char *t = tokens[rnd_below(rnd, N_TOKENS)];
            mb_insert(m, pos, t, strlen(t));
            break;
        }
        case 4: /* truncate */
            m->len = pos;
            break;
        case 5: { /* copy a slice elsewhere */
            size_t from = rnd_below(rnd, m->len + 1), k = rnd_below(rnd, 64);
            if (from + k > m->len) k = m->len - from;
            char tmp[64];
            memcpy(tmp, m->d + from, k);
            mb_insert(m, pos, tmp, k);
            break;
        }
        case 6: { /* a number (in JSON, a timestamp or a date) becomes a huge or odd one */
            size_t a = pos;
            while (a < m->len && (m->d[a] < '0' || m->d[a] > '9'))
                a++;
            size_t b = a;
            while (b < m->len && m->d[b] >= '0' && m->d[b] <= '9')
                b++;
            if (a == b) break;
            const char *t = numbers[rnd_below(rnd, N_NUMBERS)];
            memmove(m->d + a, m->d + b, m->len - b);
            m->len -= b - a;
            mb_insert(m, a, t, strlen(t));
            break;
        }
        default: { /* nest: around and past jansson's depth limit (2048) */
            static const size_t depths[] = {8, 500, 2047, 2048, 2049, 5000};
            size_t n = depths[rnd_below(rnd, sizeof(depths) / sizeof(depths[0]))];
            char *open = malloc(n), *close = malloc(n);
            if (open && close) {
                memset(open, '[', n);
                memset(close, ']', n);
                mb_insert(m, pos, close, rnd_below(rnd, 2) ? n : n / 2);
                mb_insert(m, pos, open, n);
            }
            free(open);
            free(close);
            break;
        }
        }
    }
}

/* A slot in the JSON tree: the value at parent[key] or parent[index] (parent NULL: root). */
typedef struct slot {
    json_t *parent;
    const char *key;
    size_t index;
    json_t *value;
} slot;

static void collect_slots(json_t *parent, const char *key, size_t index, json_t *v, slot *out,
                          size_t *n, size_t max)
{
    if (*n >= max) return;
    out[(*n)++] = (slot){parent, key, index, v};
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            collect_slots(v, NULL, i, json_array_get(v, i), out, n, max);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child)
        {
            collect_slots(v, k, 0, child, out, n, max);
        }
    }
}

/* A value of another type (or the same type, odd), for a type swap. New reference. */
static json_t *replacement(uint64_t *rnd, json_t *orig, json_t *root)
{
    switch (rnd_below(rnd, 20)) {
    case 0:
        return json_null();
    case 1:
        return json_true();
    case 2:
        return json_false();
    case 3:
        return json_integer(0);
    case 4:
        return json_integer(-1);
    case 5:
        return json_integer(INT64_MAX);
    case 6:
        return json_integer(INT64_MIN);
    case 7:
        return json_real(1e308);
    case 8:
        return json_real(-0.0);
    case 9:
        return json_string("");
    case 10:
    case 11:
        return json_string(interesting_strings[rnd_below(rnd, N_INTERESTING)]);
    case 12: { /* a 70 KB string: past any 64 KiB intermediate buffer */
        size_t n = 70000;
        char *s = malloc(n + 1);
        if (!s) return json_null();
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('A' + i % 26);
        s[n] = '\0';
        json_t *v = json_string(s);
        free(s);
        return v;
    }
    case 13:
        return json_object();
    case 14:
        return json_array();
    case 15: { /* [orig] */
        json_t *a = json_array();
        json_array_append_new(a, json_deep_copy(orig));
        return a;
    }
    case 16: /* number <-> string */
        if (json_is_string(orig)) return json_integer((json_int_t)json_string_length(orig));
        if (json_is_integer(orig)) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(orig));
            return json_string(buf);
        }
        return json_string("42");
    case 17: { /* orig under 1000 arrays: deep, but within the parser's limit */
        json_t *v = json_deep_copy(orig);
        for (int i = 0; v && i < 1000; i++) {
            json_t *a = json_array();
            json_array_append_new(a, v);
            v = a;
        }
        return v;
    }
    case 18: /* the whole reply, nested in itself */
        return json_deep_copy(root);
    default: /* a long array of copies: lists with many (and repeated) items */
    {
        json_t *a = json_array();
        for (int i = 0; i < 40; i++)
            json_array_append_new(a, json_deep_copy(orig));
        return a;
    }
    }
}

/* JSON-aware: replace, delete or duplicate one value, then serialise. */
static bool mutate_json(mbuf *m, uint64_t *rnd)
{
    json_t *root = json_loadb(m->d ? m->d : "", m->len, 0, NULL);
    if (!root) return false;
    slot slots[512];
    size_t n = 0;
    collect_slots(NULL, NULL, 0, root, slots, &n, sizeof(slots) / sizeof(slots[0]));
    slot s = slots[rnd_below(rnd, n)];
    char key[256];
    if (s.key) snprintf(key, sizeof(key), "%s", s.key); /* the slot's key dies with it */
    size_t op = rnd_below(rnd, 10);
    if (!s.parent) {
        json_t *v = replacement(rnd, root, root);
        json_decref(root);
        root = v;
    } else if (op < 2) { /* delete: a required field missing */
        if (json_is_object(s.parent))
            json_object_del(s.parent, key);
        else
            json_array_remove(s.parent, s.index);
    } else if (op < 3 && json_is_array(s.parent)) { /* repeat an item */
        json_array_append_new(s.parent, json_deep_copy(s.value));
    } else {
        json_t *v = replacement(rnd, s.value, root);
        if (json_is_object(s.parent))
            json_object_set_new(s.parent, key, v);
        else
            json_array_set_new(s.parent, s.index, v);
    }
    size_t flags =
        JSON_COMPACT | JSON_ENCODE_ANY | (rnd_below(rnd, 2) ? (size_t)JSON_ENSURE_ASCII : 0u);
    char *out = root ? json_dumps(root, flags) : NULL;
    json_decref(root);
    if (!out) return false;
    size_t len = strlen(out);
    m->len = 0;
    if (mb_reserve(m, len)) {
        memcpy(m->d, out, len);
        m->len = len;
    }
    free(out);
    return true;
}

static void add_seed(seed *seeds, size_t *n, const char *data, size_t len)
{
    if (*n >= MAX_SEEDS) return;
    char *d = malloc(len ? len : 1);
    if (!d) return;
    memcpy(d, data, len);
    seeds[(*n)++] = (seed){d, len};
}

/* A file named on the command line joins the seeds. */
typedef struct seed_list {
    seed *seeds;
    size_t *n;
} seed_list;

static void add_file(const char *path, void *ctx)
{
    seed_list *l = ctx;
    size_t len = 0;
    char *d = of_test_read_file(path, 1 << 20, &len);
    CHECK(d != NULL);
    if (d) add_seed(l->seeds, l->n, d, len);
    free(d);
}

/* Inputs this fuzzer found breaking the contract, kept so the bugs stay fixed. Built here
 * because some are 70 KB. (The other finding, decoders failing with OF_ERR_NOMEM and an
 * empty errstr, is pinned by the allocation-failure pass over every seed.) */
static void add_regressions(seed *seeds, size_t *n)
{
    size_t big = 70000;
    char *s = malloc(big + 512);
    if (!s) return;
    /* octo_error_text: an ErrorMessage over 64 KiB vanished (true with "" as the text)... */
    int k = snprintf(s, big + 512, "{\"ErrorMessage\":\"");
    memset(s + k, 'A', big);
    k += (int)big;
    k += snprintf(s + k, big + 512 - (size_t)k, "\"}");
    add_seed(seeds, n, s, (size_t)k);
    /* ... and such an Errors[] line left a stray separator: "msg: ; next" */
    k = snprintf(s, big + 512,
                 "{\"ErrorMessage\":\"There was a problem with your request.\","
                 "\"Errors\":[\"");
    memset(s + k, 'B', big);
    k += (int)big;
    k += snprintf(s + k, big + 512 - (size_t)k, "\",\"Tenant Contoso is not connected.\"]}");
    add_seed(seeds, n, s, (size_t)k);
    /* octo_error_text cut the 512-byte text inside a UTF-8 character (0xC3 of U+00FC) */
    k = snprintf(s, big + 512, "{\"ErrorMessage\":\"");
    memset(s + k, 'a', 510);
    k += 510;
    k += snprintf(s + k, big + 512 - (size_t)k, "\u00fc and more\"}");
    add_seed(seeds, n, s, (size_t)k);
    free(s);
    /* octo_parse_retry_after (octopus_http.c): libcurl accepts any year up to INT_MAX, and
     * t * 1000 overflowed int64 (UBSan), wrapping to "retry now" or an absurd wait */
    static const char *const retry_after[] = {
        "Wed, 21 Oct 300000000 07:28:00 GMT",
        "Wed, 21 Oct 2000000000 07:28:00 GMT",
        "Wednesday, 21-Oct-2147483647 07:28:00 GMT",
    };
    for (size_t i = 0; i < sizeof(retry_after) / sizeof(retry_after[0]); i++)
        add_seed(seeds, n, retry_after[i], strlen(retry_after[i]));
    /* octo_parse_body (libFuzzer, 2026-12-07): jansson's error context keeps the first byte
     * of a character after a bad escape, so the error text was not UTF-8, and a job.failed
     * event quoting it could not be encoded */
    static const char *const bad_escape[] = {
        "\"\\\xd0\x9c",
        "{\"ItemTypd\":\"Environ\\u\xd0\x9c\"}]}\x82",
        "{\"Ite\":\"Envon\\u\xe1\xb6\x9a"
        "0c\"}}\x82",
    };
    for (size_t i = 0; i < sizeof(bad_escape) / sizeof(bad_escape[0]); i++)
        add_seed(seeds, n, bad_escape[i], strlen(bad_escape[i]));
}

int main(int argc, char **argv)
{
    json_object_seed(0x6f63746f); /* no /dev/urandom: runs repeat exactly */
    seed seeds[MAX_SEEDS];
    size_t n_seeds = 0;
    for (size_t i = 0; i < sizeof(builtin_seeds) / sizeof(builtin_seeds[0]); i++)
        add_seed(seeds, &n_seeds, builtin_seeds[i], strlen(builtin_seeds[i]));
    of_fuzz_cli cli = {.count = 20000, .write_dir = NULL};
    seed_list files = {seeds, &n_seeds};
    if (of_fuzz_cli_parse(argc, argv, "--iterations", &cli, add_file, &files)) return 2;
    long iterations = cli.count;
    /* Regressions run as they are (and under allocation failure) but are not mutated:
     * three of them are 70 KB, and mutating them would triple the run time for little. */
    size_t n_bases = n_seeds;
    add_regressions(seeds, &n_seeds);
    for (size_t s = 0; cli.write_dir && s < n_seeds; s++) /* a corpus for the libFuzzer build */
        CHECK(of_fuzz_write_seed(cli.write_dir, s, seeds[s].data, seeds[s].len) == 0);

    int64_t start = of_now_ms();
    /* 1. every seed as it is */
    for (size_t s = 0; s < n_seeds; s++) {
        int bad = of_fuzz_octopus_one((const uint8_t *)seeds[s].data, seeds[s].len);
        if (bad) of_fuzz_print_input(seeds[s].data, seeds[s].len);
        CHECK_INT(bad, 0);
    }
    CHECK(octo_parse_retry_after(NULL, NOW_MS) == -1);
#ifdef OF_FUZZ_FAILALLOC
    /* 2. every allocation of every decoder fails once, on every seed */
    for (size_t s = 0; s < n_seeds; s++) {
        int bad = oom_one(seeds[s].data, seeds[s].len);
        if (bad) of_fuzz_print_input(seeds[s].data, seeds[s].len);
        CHECK_INT(bad, 0);
    }
    CHECK(oom_injected > 100); /* the --wrap link options are in effect */
    fprintf(stderr, "fuzz_octopus: %ld allocation failures injected\n", oom_injected);
#endif
    /* 3. mutations, from a fixed seed so a failure reproduces (the message names the
     * iteration; --iterations N+1 replays up to it) */
    uint64_t rnd = 0x6f63746f70757321ULL;
    mbuf m = {NULL, 0, 0};
    long done = 0, failures = 0, json_mutations = 0;
    const int64_t budget_ms = 90000; /* far above the few seconds it takes; ctest allows 120 */
    for (long it = 0; it < iterations && failures < 10; it++) {
        const seed *s = &seeds[rnd_below(&rnd, n_bases)];
        m.len = 0;
        if (!mb_reserve(&m, s->len + 1)) break;
        memcpy(m.d, s->data, s->len);
        m.len = s->len;
        int rounds = rnd_below(&rnd, 4) == 0 ? 2 : 1;
        for (int r = 0; r < rounds; r++) {
            if (rnd_below(&rnd, 2) && mutate_json(&m, &rnd))
                json_mutations++;
            else
                mutate_bytes(&m, &rnd);
        }
        /* exact-size copy: a read past the end is ASan's to see */
        char *in = malloc(m.len ? m.len : 1);
        if (!in) break;
        if (m.len) memcpy(in, m.d, m.len);
        int bad = of_fuzz_octopus_one((const uint8_t *)in, m.len);
        if (bad) {
            fprintf(stderr, "fuzz_octopus: iteration %ld: contract broken (mask %d)\n", it, bad);
            of_fuzz_print_input(in, m.len);
            failures++;
        }
        CHECK_INT(bad, 0);
        free(in);
        done++;
        if (of_now_ms() - start > budget_ms) {
            fprintf(stderr, "fuzz_octopus: time budget spent after %ld iterations\n", done);
            break;
        }
    }
    free(m.d);
    for (size_t s = 0; s < n_seeds; s++)
        free(seeds[s].data);
    fprintf(stderr, "fuzz_octopus: %zu seeds, %ld mutated inputs (%ld JSON-aware) in %.2f s\n",
            n_seeds, done, json_mutations, (double)(of_now_ms() - start) / 1e3);
    /* the loop only stops early on a failure (reported above), out of memory or the budget */
    CHECK(done == iterations || failures > 0 || of_now_ms() - start > budget_ms);
    return TEST_DONE();
}
#endif /* OF_FUZZ_LIBFUZZER */
