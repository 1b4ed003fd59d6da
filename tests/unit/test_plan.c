/* Plan expansion against a table resolver: a small Octopus world with look-alike names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "test.h"
#include "uuid.h"

/* ---- the world ---- */

typedef struct named {
    const char *id, *name;
} named;

static const named spaces[] = {{"Spaces-1", "Default"}, {"Spaces-2", "Default Space"}};
static const named envs[] = {{"Environments-1", "Staging"},
                             {"Environments-4", "Hosted Beta"},
                             {"Environments-6", "Hosted Release"},
                             {"Environments-7", "Hosted Release 2"}};
static const struct {
    const char *id, *name;
    of_tenanted_mode mode;
} projects[] = {
    {"Projects-1", "Schema", OF_TENANTED_TENANTED},
    {"Projects-2", "Web", OF_TENANTED_TENANTED},
    {"Projects-3", "Web Admin", OF_TENANTED_TENANTED},
    {"Projects-4", "Metrics", OF_TENANTED_UNTENANTED},
    {"Projects-5", "Gateway", OF_TENANTED_TENANTED_OR_UNTENANTED},
};
static const struct {
    const char *id, *project_id, *version;
} releases[] = {
    {"Releases-10", "Projects-1", "1.4"},   {"Releases-11", "Projects-1", "1.4.0"},
    {"Releases-21", "Projects-2", "1.4.0"}, {"Releases-31", "Projects-3", "1.4.0"},
    {"Releases-41", "Projects-4", "2.0.0"}, {"Releases-51", "Projects-5", "3.1.0"},
};
static const struct {
    const char *id, *name, *tags[3];
} tenants[] = {
    {"Tenants-1", "Contoso", {"Hosting/Hosted", "Ring/Beta", NULL}},
    {"Tenants-2", "Contoso Ltd", {"Hosting/Hosted", "Ring/Stable", NULL}},
    {"Tenants-3", "Fabrikam", {"Hosting/OnSite", "Ring/Beta", NULL}},
    {"Tenants-4", "Northwind", {"Hosting/Hosted", "Ring/Stable", NULL}},
    {"Tenants-5", "Adatum", {"Hosting/Cloud", "Ring/Beta", NULL}},
};
static const char *const known_tags[] = {"Hosting/Hosted", "Hosting/OnSite", "Hosting/Cloud",
                                         "Ring/Beta", "Ring/Stable"};
/* (tenant, project, environment) connections */
static const struct {
    const char *tenant, *project, *env;
} conns[] = {
    {"Tenants-1", "Projects-1", "Environments-4"}, {"Tenants-1", "Projects-1", "Environments-6"},
    {"Tenants-1", "Projects-2", "Environments-4"}, {"Tenants-1", "Projects-2", "Environments-6"},
    {"Tenants-1", "Projects-5", "Environments-6"}, {"Tenants-2", "Projects-1", "Environments-6"},
    {"Tenants-2", "Projects-2", "Environments-6"}, {"Tenants-3", "Projects-1", "Environments-4"},
    {"Tenants-3", "Projects-2", "Environments-4"}, {"Tenants-4", "Projects-1", "Environments-4"},
    {"Tenants-4", "Projects-1", "Environments-6"}, {"Tenants-4", "Projects-2", "Environments-6"},
    {"Tenants-5", "Projects-1", "Environments-4"}, {"Tenants-5", "Projects-1", "Environments-6"},
    {"Tenants-5", "Projects-2", "Environments-4"}, {"Tenants-5", "Projects-2", "Environments-6"},
};

typedef struct world {
    /* (release, env, tenant or "") the lifecycle forbids */
    const char *forbidden[4][3];
    /* (release, env, tenant or "") already current */
    const char *current[4][3];
    const char *fail_env; /* environment name whose lookup fails with OF_ERR_NETWORK */
    int can_deploy_calls;
    int prepared;      /* prepare calls (releases read ahead) */
    bool late_prepare; /* a prepare came after a lifecycle check: too late to save memory */
} world;

static of_err fill(of_ref *out, const char *id, const char *name)
{
    out->id = strdup(id);
    out->name = strdup(name);
    return OF_OK;
}

static of_err r_space(void *o, const char *name, of_ref *out, char *e, size_t n)
{
    (void)o, (void)e, (void)n;
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        if (strcmp(spaces[i].name, name) == 0) return fill(out, spaces[i].id, spaces[i].name);
    return OF_ERR_NOT_FOUND;
}

static of_err r_env(void *o, const of_ref *sp, const char *name, of_ref *out, char *e, size_t n)
{
    world *w = o;
    CHECK_STR(sp->id, "Spaces-1");
    if (w->fail_env && strcmp(name, w->fail_env) == 0)
        return of_seterr(e, n, OF_ERR_NETWORK, "connection refused");
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
        if (strcmp(envs[i].name, name) == 0) return fill(out, envs[i].id, envs[i].name);
    return OF_ERR_NOT_FOUND;
}

static of_err r_project(void *o, const of_ref *sp, const char *name, of_ref *out,
                        of_tenanted_mode *mode, char *e, size_t n)
{
    (void)o, (void)sp, (void)e, (void)n;
    for (size_t i = 0; i < sizeof projects / sizeof projects[0]; i++)
        if (strcmp(projects[i].name, name) == 0) {
            *mode = projects[i].mode;
            return fill(out, projects[i].id, projects[i].name);
        }
    return OF_ERR_NOT_FOUND;
}

static of_err r_release(void *o, const of_ref *sp, const of_ref *proj, const char *version,
                        of_ref *out, char *e, size_t n)
{
    (void)o, (void)sp, (void)e, (void)n;
    for (size_t i = 0; i < sizeof releases / sizeof releases[0]; i++)
        if (strcmp(releases[i].project_id, proj->id) == 0 &&
            strcmp(releases[i].version, version) == 0)
            return fill(out, releases[i].id, releases[i].version);
    return OF_ERR_NOT_FOUND;
}

static of_err r_tenant(void *o, const of_ref *sp, const char *name, of_ref *out, char *e, size_t n)
{
    (void)o, (void)sp, (void)e, (void)n;
    for (size_t i = 0; i < sizeof tenants / sizeof tenants[0]; i++)
        if (strcmp(tenants[i].name, name) == 0) return fill(out, tenants[i].id, tenants[i].name);
    return OF_ERR_NOT_FOUND;
}

static of_err r_by_tag(void *o, const of_ref *sp, const char *tag, of_reflist *out, char *e,
                       size_t n)
{
    (void)o, (void)sp, (void)e, (void)n;
    bool known = false;
    for (size_t i = 0; i < sizeof known_tags / sizeof known_tags[0]; i++)
        if (strcmp(known_tags[i], tag) == 0) known = true;
    if (!known) return OF_ERR_NOT_FOUND;
    for (size_t i = 0; i < sizeof tenants / sizeof tenants[0]; i++)
        for (size_t t = 0; tenants[i].tags[t]; t++)
            if (strcmp(tenants[i].tags[t], tag) == 0)
                CHECK_INT(of_reflist_add(out, tenants[i].id, tenants[i].name), OF_OK);
    return OF_OK;
}

static const char *tenant_name(const char *id)
{
    for (size_t i = 0; i < sizeof tenants / sizeof tenants[0]; i++)
        if (strcmp(tenants[i].id, id) == 0) return tenants[i].name;
    return "?";
}

static of_err r_connected(void *o, const of_ref *sp, const of_ref *proj, const of_ref *env,
                          of_reflist *out, char *e, size_t n)
{
    (void)o, (void)sp, (void)e, (void)n;
    /* reverse order on purpose: the planner must sort */
    for (size_t i = sizeof conns / sizeof conns[0]; i-- > 0;)
        if (strcmp(conns[i].project, proj->id) == 0 && strcmp(conns[i].env, env->id) == 0)
            CHECK_INT(of_reflist_add(out, conns[i].tenant, tenant_name(conns[i].tenant)), OF_OK);
    return OF_OK;
}

static bool in_table(const char *t[][3], const of_ref *rel, const of_ref *env, const of_ref *tenant)
{
    for (int i = 0; i < 4 && t[i][0]; i++)
        if (strcmp(t[i][0], rel->id) == 0 && strcmp(t[i][1], env->name) == 0 &&
            strcmp(t[i][2], tenant ? tenant->name : "") == 0)
            return true;
    return false;
}

static of_err r_can_deploy(void *o, const of_ref *sp, const of_ref *rel, const of_ref *env,
                           const of_ref *tenant, bool *allowed, char *e, size_t n)
{
    world *w = o;
    (void)sp, (void)e, (void)n;
    w->can_deploy_calls++;
    *allowed = !in_table(w->forbidden, rel, env, tenant);
    return OF_OK;
}

static void r_prepare(void *o, const of_ref *sp, const of_ref *rel)
{
    world *w = o;
    (void)sp, (void)rel;
    w->prepared++;
    if (w->can_deploy_calls) w->late_prepare = true;
}

static of_err r_is_current(void *o, const of_ref *sp, const of_ref *proj, const of_ref *rel,
                           const of_ref *env, const of_ref *tenant, bool *current, char *e,
                           size_t n)
{
    world *w = o;
    (void)sp, (void)proj, (void)e, (void)n;
    *current = in_table(w->current, rel, env, tenant);
    return OF_OK;
}

static of_resolver resolver(world *w)
{
    of_resolver r = {w,        r_space,     r_env,        r_project,    r_release, r_tenant,
                     r_by_tag, r_connected, r_can_deploy, r_is_current, r_prepare};
    return r;
}

/* ---- helpers ---- */

static of_request *parse(const char *json)
{
    of_errlist errs;
    of_errlist_init(&errs);
    of_request *req = NULL;
    of_err rc = of_request_parse(json, strlen(json), &req, &errs);
    if (rc) {
        char all[1024];
        of_errlist_join(&errs, "; ", all, sizeof all);
        fprintf(stderr, "request did not parse: %s\n", all);
    }
    CHECK_INT(rc, OF_OK);
    of_errlist_clear(&errs);
    return req;
}

/* "stage|env|project|tenant|action" per row, in plan order. */
static void check_rows(const of_plan *p, const char *const *want, size_t n_want)
{
    CHECK_INT(p->n_jobs, n_want);
    for (size_t i = 0; i < p->n_jobs && i < n_want; i++) {
        const of_job_record *r = &p->jobs[i];
        char row[256];
        (void)snprintf(row, sizeof row, "%d|%s|%s|%s|%s", r->job.stage, r->job.environment.name,
                       r->job.project.name, r->job.tenant.name ? r->job.tenant.name : "-",
                       r->status == OF_JOB_SKIPPED ? "skip" : "deploy");
        CHECK_STR(row, want[i]);
    }
}

typedef struct plan_case {
    const char *name;
    const char *request;
    world w;
    of_err rc;
    const char *rows[24];    /* expected rows when rc == OF_OK */
    const char *errors[8];   /* expected substrings in errs otherwise */
    const char *reasons[8];  /* substrings some skip reason must contain */
    const char *warnings[4]; /* substrings of warnings */
} plan_case;

#define REQ(envs, tenants, stages, policy) \
    "{\"release\":\"2026.18\",\"environments\":" envs tenants ",\"stages\":" stages policy "}"

static const plan_case cases[] = {
    {"tenants by name, intersected with connections per project and environment",
     REQ("[\"Hosted Beta\",\"Hosted Release\"]",
         ",\"tenants\":{\"names\":[\"Fabrikam\",\"Contoso\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\"}],[{\"project\":\"Web\",\"version\":\"1."
         "4.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Schema|Contoso|deploy", "1|Hosted Beta|Schema|Fabrikam|deploy",
      "1|Hosted Release|Schema|Contoso|deploy", "1|Hosted Release|Schema|Fabrikam|skip",
      "2|Hosted Beta|Web|Contoso|deploy", "2|Hosted Beta|Web|Fabrikam|deploy",
      "2|Hosted Release|Web|Contoso|deploy", "2|Hosted Release|Web|Fabrikam|skip"},
     {NULL},
     {"tenant not connected to Schema in Hosted Release"},
     {NULL}},
    {"tags: AND across tag sets",
     REQ("[\"Hosted Release\"]", ",\"tenants\":{\"tags\":[\"Hosting/Hosted\",\"Ring/Stable\"]}",
         "[[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]", ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Release|Web|Contoso Ltd|deploy", "1|Hosted Release|Web|Northwind|deploy"},
     {NULL},
     {NULL},
     {NULL}},
    {"tags: OR within a tag set, united with names",
     REQ("[\"Hosted Beta\"]",
         ",\"tenants\":{\"names\":[\"Fabrikam\"],\"tags\":[\"Hosting/Hosted\",\"Hosting/Cloud\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\"}]]", ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Schema|Adatum|deploy", "1|Hosted Beta|Schema|Contoso|deploy",
      "1|Hosted Beta|Schema|Fabrikam|deploy", "1|Hosted Beta|Schema|Northwind|deploy"},
     {NULL},
     {NULL},
     {NULL}},
    {"all connected tenants; untenanted project once per environment",
     REQ("[\"Hosted Beta\",\"Hosted Release\"]", ",\"tenants\":\"all\"",
         "[[{\"project\":\"Web\",\"version\":\"1.4.0\"},{\"project\":\"Metrics\",\"version\":"
         "\"2.0.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Metrics|-|deploy", "1|Hosted Beta|Web|Adatum|deploy",
      "1|Hosted Beta|Web|Contoso|deploy", "1|Hosted Beta|Web|Fabrikam|deploy",
      "1|Hosted Release|Metrics|-|deploy", "1|Hosted Release|Web|Adatum|deploy",
      "1|Hosted Release|Web|Contoso|deploy", "1|Hosted Release|Web|Contoso Ltd|deploy",
      "1|Hosted Release|Web|Northwind|deploy"},
     {NULL},
     {NULL},
     {NULL}},
    {"tenanted-or-untenanted: untenanted without a selection",
     REQ("[\"Hosted Beta\",\"Hosted Release\"]", "",
         "[[{\"project\":\"Gateway\",\"version\":\"3.1.0\"},{\"project\":\"Metrics\",\"version\":"
         "\"2.0.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Gateway|-|deploy", "1|Hosted Beta|Metrics|-|deploy",
      "1|Hosted Release|Gateway|-|deploy", "1|Hosted Release|Metrics|-|deploy"},
     {NULL},
     {NULL},
     {NULL}},
    {"tenanted-or-untenanted: per tenant with a selection, warning where none is connected",
     REQ("[\"Hosted Beta\",\"Hosted Release\"]", ",\"tenants\":{\"tags\":[\"Ring/Beta\"]}",
         "[[{\"project\":\"Gateway\",\"version\":\"3.1.0\"}]]", ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Release|Gateway|Contoso|deploy"},
     {NULL},
     {NULL},
     {"Gateway has no selected tenant connected in Hosted Beta"}},
    {"skip entries are planned as skipped, without a version",
     REQ("[\"Hosted Release\"]", ",\"tenants\":{\"names\":[\"Contoso\"]}",
         "[[{\"project\":\"Schema\",\"skip\":true},{\"project\":\"Metrics\",\"version\":\"2.0.0\","
         "\"skip\":true}],[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Release|Metrics|-|skip", "1|Hosted Release|Schema|Contoso|skip",
      "2|Hosted Release|Web|Contoso|deploy"},
     {NULL},
     {"skipped in request"},
     {NULL}},
    {"a skipped tenanted entry needs no tenant selection",
     REQ("[\"Hosted Release\"]", "",
         "[[{\"project\":\"Schema\",\"skip\":true}],[{\"project\":\"Metrics\",\"version\":"
         "\"2.0.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Release|Schema|-|skip", "2|Hosted Release|Metrics|-|deploy"},
     {NULL},
     {"skipped in request"},
     {NULL}},
    {"if-not-current skips targets already on the release",
     REQ("[\"Hosted Beta\"]", ",\"tenants\":{\"names\":[\"Contoso\",\"Adatum\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\"}]]",
         ",\"policy\":{\"condition\":\"if-not-current\"}"),
     {{{NULL}}, {{"Releases-11", "Hosted Beta", "Contoso"}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Schema|Adatum|deploy", "1|Hosted Beta|Schema|Contoso|skip"},
     {NULL},
     {"already on 1.4.0 (if-not-current)"},
     {NULL}},
    {"an entry's own condition overrides the policy's, both ways (import keeps each step's)",
     REQ("[\"Hosted Beta\"]", ",\"tenants\":{\"names\":[\"Contoso\",\"Adatum\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\",\"condition\":\"if-not-current\"}],"
         "[{\"project\":\"Web\",\"version\":\"1.4.0\",\"condition\":\"always\"}]]",
         ",\"policy\":{\"condition\":\"if-not-current\"}"),
     {{{NULL}},
      {{"Releases-11", "Hosted Beta", "Contoso"}, {"Releases-21", "Hosted Beta", "Contoso"}},
      NULL,
      0,
      0,
      false},
     OF_OK,
     {"1|Hosted Beta|Schema|Adatum|deploy", "1|Hosted Beta|Schema|Contoso|skip",
      "2|Hosted Beta|Web|Adatum|deploy", "2|Hosted Beta|Web|Contoso|deploy"},
     {NULL},
     {"already on 1.4.0 (if-not-current)"},
     {NULL}},
    {"from: a hotfix deploys only where the old release is current",
     REQ("[\"Hosted Beta\"]", ",\"tenants\":{\"names\":[\"Contoso\",\"Adatum\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\",\"from\":\"1.4\"}]]", ""),
     {{{NULL}}, {{"Releases-10", "Hosted Beta", "Contoso"}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Schema|Adatum|skip", "1|Hosted Beta|Schema|Contoso|deploy"},
     {NULL},
     {"not on 1.4 (from)"},
     {NULL}},
    {"from: an unknown old release is named with its path",
     REQ("[\"Hosted Beta\"]", ",\"tenants\":{\"names\":[\"Contoso\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\",\"from\":\"1.3.9\"}]]", ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_ERR_NOT_FOUND,
     {NULL},
     {"stages[0][0].from: release \"1.3.9\" of project \"Schema\": not found"},
     {NULL},
     {NULL}},
    {"condition always deploys even if current",
     REQ("[\"Hosted Beta\"]", ",\"tenants\":{\"names\":[\"Contoso\"]}",
         "[[{\"project\":\"Schema\",\"version\":\"1.4.0\"}]]", ""),
     {{{NULL}}, {{"Releases-11", "Hosted Beta", "Contoso"}}, NULL, 0, 0, false},
     OF_OK,
     {"1|Hosted Beta|Schema|Contoso|deploy"},
     {NULL},
     {NULL},
     {NULL}},
    {"every unresolved name reported together (look-alikes do not match)",
     REQ("[\"Hosted Releas\",\"Hosted Beta\"]",
         ",\"tenants\":{\"names\":[\"Contoso Limited\",\"Contoso\"],\"tags\":[\"Ring/Gamma\"]}",
         "[[{\"project\":\"Webb\",\"version\":\"1.4.0\"},{\"project\":\"Schema\",\"version\":"
         "\"1.4.1\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_ERR_NOT_FOUND,
     {NULL},
     {"environments[0]: environment \"Hosted Releas\": not found",
      "stages[0][0].project: project \"Webb\": not found",
      "stages[0][1].version: release \"1.4.1\" of project \"Schema\": not found",
      "tenants.names[0]: tenant \"Contoso Limited\": not found",
      "tenants.tags[0]: tag \"Ring/Gamma\": not found"},
     {NULL},
     {NULL}},
    {"unknown space stops resolution",
     "{\"release\":\"r\",\"space\":\"Defaul\",\"environments\":[\"Nope\"],\"stages\":[[{"
     "\"project\":\"Nope\",\"version\":\"1\"}]]}",
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_ERR_NOT_FOUND,
     {NULL},
     {"space \"Defaul\": not found in Octopus"},
     {NULL},
     {NULL}},
    {"lifecycle violations reported per target",
     REQ("[\"Hosted Beta\",\"Hosted Release\"]",
         ",\"tenants\":{\"names\":[\"Northwind\",\"Contoso\"]}",
         "[[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]", ""),
     {{{"Releases-21", "Hosted Release", "Northwind"},
       {"Releases-21", "Hosted Release", "Contoso"}},
      {{NULL}},
      NULL,
      0,
      0,
      false},
     OF_ERR_REJECTED,
     {NULL},
     {"stage 1: Web 1.4.0 -> Hosted Release / Contoso: the lifecycle does not allow",
      "stage 1: Web 1.4.0 -> Hosted Release / Northwind: the lifecycle does not allow"},
     {NULL},
     {NULL}},
    {"lifecycle violation for an untenanted target",
     REQ("[\"Staging\"]", "", "[[{\"project\":\"Metrics\",\"version\":\"2.0.0\"}]]", ""),
     {{{"Releases-41", "Staging", ""}}, {{NULL}}, NULL, 0, 0, false},
     OF_ERR_REJECTED,
     {NULL},
     {"Metrics 2.0.0 -> Staging: the lifecycle"},
     {NULL},
     {NULL}},
    {"tenanted project without tenant selection is rejected",
     REQ("[\"Hosted Beta\"]", "", "[[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]", ""),
     {{{NULL}}, {{NULL}}, NULL, 0, 0, false},
     OF_ERR_REJECTED,
     {NULL},
     {"\"Web\" is tenanted but the request selects no tenants"},
     {NULL},
     {NULL}},
    {"a resolver failure stops the plan with its code",
     REQ("[\"Hosted Beta\",\"Staging\"]", "", "[[{\"project\":\"Metrics\",\"version\":\"2.0.0\"}]]",
         ""),
     {{{NULL}}, {{NULL}}, "Staging", 0, 0, false},
     OF_ERR_NETWORK,
     {NULL},
     {"connection refused"},
     {NULL},
     {NULL}},
};

static void run_case(const plan_case *c)
{
    fprintf(stderr, "case: %s\n", c->name);
    of_request *req = parse(c->request);
    if (!req) return;
    world w = c->w;
    of_resolver res = resolver(&w);
    of_errlist errs;
    of_errlist_init(&errs);
    of_plan *p = NULL;
    char errstr[512] = "";
    of_err rc = of_plan_build(req, c->request, &res, &p, &errs, errstr, sizeof errstr);
    CHECK_INT(rc, c->rc);
    if (rc != c->rc) {
        char all[2048];
        of_errlist_join(&errs, "\n  ", all, sizeof all);
        fprintf(stderr, "  errors:\n  %s\n  errstr: %s\n", all, errstr);
    }
    if (rc == OF_OK && p) {
        size_t n = 0;
        while (n < 24 && c->rows[n])
            n++;
        check_rows(p, c->rows, n);
        for (size_t i = 0; i < 8 && c->reasons[i]; i++) {
            bool found = false;
            for (size_t k = 0; k < p->n_jobs; k++)
                if (p->jobs[k].skip_reason && strstr(p->jobs[k].skip_reason, c->reasons[i]))
                    found = true;
            CHECK(found);
            if (!found) fprintf(stderr, "  no skip reason \"%s\"\n", c->reasons[i]);
        }
        for (size_t i = 0; i < 4 && c->warnings[i]; i++)
            CHECK(of_errlist_contains(&p->warnings, c->warnings[i]));
        if (!c->warnings[0]) CHECK_INT(p->warnings.n, 0);
        /* every deploy row passed exactly one lifecycle check, after every release was read
         * ahead */
        CHECK_INT((size_t)w.can_deploy_calls, of_plan_count(p, OF_JOB_PENDING));
        CHECK(!w.late_prepare);
        if (of_plan_count(p, OF_JOB_PENDING)) CHECK(w.prepared > 0);
    } else {
        CHECK(p == NULL);
        for (size_t i = 0; i < 8 && c->errors[i]; i++) {
            bool found = of_errlist_contains(&errs, c->errors[i]) ||
                         (c->rc != OF_ERR_NOT_FOUND && c->rc != OF_ERR_REJECTED &&
                          strstr(errstr, c->errors[i]));
            CHECK(found);
            if (!found) fprintf(stderr, "  missing error \"%s\"\n", c->errors[i]);
        }
    }
    of_plan_free(p);
    of_errlist_clear(&errs);
    of_request_free(req);
}

/* The plan of the request req on an empty world (request_json: the copy its header keeps, or
 * NULL); NULL when it failed. The caller frees the plan, then req. */
static of_plan *build_ok(const of_request *req, const char *request_json)
{
    world w;
    memset(&w, 0, sizeof w);
    of_resolver res = resolver(&w);
    of_errlist errs;
    of_errlist_init(&errs);
    of_plan *p = NULL;
    char errstr[256];
    CHECK_INT(of_plan_build(req, request_json, &res, &p, &errs, errstr, sizeof errstr), OF_OK);
    of_errlist_clear(&errs);
    return p;
}

static void check_details(const of_plan *a, const of_plan *b, const char *json);

/* Details of one full plan: ids, header, policy copy, determinism, views. */
static void test_plan_details(void)
{
    const char *json =
        "{\"release\":\"2026.18\",\"environments\":[\"Hosted Beta\",\"Hosted Release\"],"
        "\"tenants\":{\"names\":[\"Contoso\"]},\"stages\":[{\"name\":\"database\",\"projects\":"
        "[{\"project\":\"Schema\",\"version\":\"1.4.0\"}]},{\"name\":\"web\",\"projects\":[{"
        "\"project\":\"Web\",\"version\":\"1.4.0\"},{\"project\":\"Metrics\",\"version\":"
        "\"2.0.0\"}]}],\"policy\":{\"timeout\":\"45m\",\"cancel_on_timeout\":true,"
        "\"guided_failure\":true,\"queue_time\":\"2026-05-05T21:00:00Z\",\"queue_time_expiry\":"
        "\"2026-05-05T23:00:00Z\"}}";
    of_request *req = parse(json);
    if (!req) return;
    of_plan *a = build_ok(req, json), *b = build_ok(req, json);
    if (a && b) check_details(a, b, json);
    of_plan_free(a);
    of_plan_free(b);
    of_request_free(req);
}

static void check_details(const of_plan *a, const of_plan *b, const char *json)
{
    CHECK_INT(a->n_jobs, 6);
    CHECK_INT(b->n_jobs, a->n_jobs);
    char rid[OF_UUID_STR_SIZE];
    of_uuid_release_id("Default", "2026.18", rid);
    CHECK_STR(a->header.release_id, rid);
    CHECK_STR(a->header.space.id, "Spaces-1");
    CHECK_INT(a->header.stage_count, 2);
    CHECK_STR(a->header.stage_names[1], "web");
    CHECK_INT(a->header.n_environments, 2);
    CHECK_STR(a->header.environments[1].id, "Environments-6");
    CHECK_INT(a->header.status, OF_RELEASE_RUNNING);
    CHECK_INT(a->header.n_jobs, 6);
    CHECK_INT(a->header.counts[OF_JOB_PENDING], 6);
    CHECK_STR(a->header.request_json, json);
    for (size_t i = 0; i < a->n_jobs; i++) {
        const of_job *j = &a->jobs[i].job;
        CHECK_STR(j->job_id, b->jobs[i].job.job_id); /* same request, same ids */
        char want[OF_UUID_STR_SIZE];
        of_uuid_job_id(rid, j->stage, j->project.name, j->environment.name, j->tenant.name, want);
        CHECK_STR(j->job_id, want);
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(j->job_id, a->jobs[k].job.job_id) != 0);
        CHECK_STR(j->release_id, rid);
        CHECK_STR(j->release_name, "2026.18");
        CHECK_INT(j->stage_count, 2);
        CHECK_INT(j->attempt, 0);
        CHECK_INT(j->timeout_s, 2700);
        CHECK(j->cancel_on_timeout);
        CHECK(j->guided_failure);
        CHECK_STR(j->queue_time, "2026-05-05T21:00:00Z");
        CHECK_INT(j->deadline_ms, 1778022000000);
        CHECK_STR(j->space.name, "Default");
    }
    const of_job *web = &a->jobs[5].job;      /* stage 2, Hosted Release, Web, Contoso */
    CHECK_STR(web->project.id, "Projects-2"); /* not "Web Admin" */
    CHECK_STR(web->octo_release.id, "Releases-21");
    CHECK_STR(web->tenant.id, "Tenants-1"); /* not "Contoso Ltd" */
    CHECK_STR(web->stage_name, "web");
    CHECK_INT(web->tenanted_mode, OF_TENANTED_TENANTED);
    const of_job *schema = &a->jobs[0].job;
    CHECK_STR(schema->octo_release.id, "Releases-11"); /* "1.4.0", not "1.4" */

    of_buf tb;
    of_buf_init(&tb, 1 << 16);
    CHECK_INT(of_plan_format_table(a, &tb, NULL), OF_OK);
    CHECK_CONTAINS(tb.data, "STAGE  ENVIRONMENT");
    CHECK_CONTAINS(tb.data, "Hosted Release");
    CHECK_CONTAINS(tb.data, "6 job(s): 6 to deploy, 0 skipped");
    CHECK_CONTAINS(tb.data, ": 2 stage(s), gate stage\n");
    of_buf_clear(&tb);
    char *js = NULL;
    CHECK_INT(of_plan_to_json(a, &js), OF_OK);
    const char *head = "{\"gate\":\"stage\",\"release_id\":";
    CHECK(js && strncmp(js, head, strlen(head)) == 0);
    CHECK_CONTAINS(js, "\"summary\":{\"total\":6,\"deploy\":6,\"skip\":0}");
    CHECK_CONTAINS(js, "\"action\":\"deploy\"");
    CHECK_CONTAINS(js, "\"tenant\":null"); /* Metrics is untenanted */
    free(js);
}

/* policy.gate reaches the header, the table and the JSON view; a header read back from the
 * state topic gets it again from the request it keeps. */
static void test_plan_gate_policy(void)
{
    const char *json = "{\"release\":\"r\",\"environments\":[\"Hosted Beta\"],\"tenants\":"
                       "\"all\",\"stages\":[[{\"project\":\"Schema\",\"version\":\"1.4.0\"}],"
                       "[{\"project\":\"Web\",\"version\":\"1.4.0\"}]],\"policy\":{\"gate\":"
                       "\"tenant\",\"lane_failure\":\"pause_all\"}}";
    of_request *req = parse(json);
    if (!req) return;
    of_plan *p = build_ok(req, json);
    if (p) {
        CHECK_INT(p->header.gate, OF_GATE_TENANT);
        CHECK_INT(p->header.lane_failure, OF_LANE_FAILURE_PAUSE_ALL);
        of_buf tb;
        of_buf_init(&tb, 1 << 16);
        CHECK_INT(of_plan_format_table(p, &tb, NULL), OF_OK);
        CHECK_CONTAINS(tb.data, ": 2 stage(s), gate tenant (lane_failure pause_all)\n");
        of_buf_clear(&tb);
        char *js = NULL;
        CHECK_INT(of_plan_to_json(p, &js), OF_OK);
        const char *head = "{\"gate\":\"tenant\",\"lane_failure\":\"pause_all\",\"release_id\":";
        CHECK(js && strncmp(js, head, strlen(head)) == 0);
        free(js);

        char err[256] = "";
        p->header.gate = OF_GATE_STAGE; /* as decoded from a state record */
        p->header.lane_failure = OF_LANE_FAILURE_STOP_LANE;
        CHECK_INT(of_plan_header_policy(&p->header, err, sizeof err), OF_OK);
        CHECK_INT(p->header.gate, OF_GATE_TENANT);
        CHECK_INT(p->header.lane_failure, OF_LANE_FAILURE_PAUSE_ALL);
        free(p->header.request_json);
        p->header.request_json = NULL; /* no request: the default */
        CHECK_INT(of_plan_header_policy(&p->header, err, sizeof err), OF_OK);
        CHECK_INT(p->header.gate, OF_GATE_STAGE);
        p->header.request_json = strdup("{\"release\":\"r\"}");
        CHECK_INT(of_plan_header_policy(&p->header, err, sizeof err), OF_ERR_INVALID);
        CHECK_CONTAINS(err, "its request does not parse: environments: missing");
    }
    of_plan_free(p);
    of_request_free(req);
}

/* policy.proceed and a stage's own proceed reach the header (one per stage), the table's first
 * line, and a header read back from the state topic. */
static void test_plan_proceed(void)
{
    const char *json = "{\"release\":\"r\",\"environments\":[\"Hosted Beta\"],\"tenants\":"
                       "\"all\",\"stages\":[{\"projects\":[{\"project\":\"Schema\",\"version\":"
                       "\"1.4.0\"}],\"proceed\":{\"max_failures\":3}},[{\"project\":\"Web\","
                       "\"version\":\"1.4.0\"}]],\"policy\":{\"proceed\":{\"min_success_ratio\":"
                       "0.95}}}";
    of_request *req = parse(json);
    if (!req) return;
    of_plan *p = build_ok(req, json);
    if (p) {
        CHECK(p->header.proceed != NULL);
        if (p->header.proceed) {
            CHECK_INT(p->header.proceed[0].kind, OF_PROCEED_MAX_FAILURES);
            CHECK_INT(p->header.proceed[0].max_failures, 3);
            CHECK_INT(p->header.proceed[1].kind, OF_PROCEED_RATIO);
            CHECK(p->header.proceed[1].min_success_ratio == 0.95);
        }
        of_buf tb;
        of_buf_init(&tb, 1 << 16);
        CHECK_INT(of_plan_format_table(p, &tb, NULL), OF_OK);
        CHECK_CONTAINS(tb.data,
                       "gate stage, proceed: stage 1 max_failures 3, stage 2 min_success_ratio "
                       "0.95");
        of_buf_clear(&tb);
        char *js = NULL;
        CHECK_INT(of_plan_to_json(p, &js), OF_OK);
        CHECK_CONTAINS(js, ",\"proceed\":[{\"max_failures\":3},{\"min_success_ratio\":0.95}]}");
        free(js);
        char err[256] = "";
        free(p->header.proceed);
        p->header.proceed = NULL; /* as decoded from a state record */
        CHECK_INT(of_plan_header_policy(&p->header, err, sizeof err), OF_OK);
        CHECK(p->header.proceed && p->header.proceed[1].kind == OF_PROCEED_RATIO);
    }
    of_plan_free(p);
    of_request_free(req);
    /* without proceed: no array, nothing on the first line */
    const char *plain = "{\"release\":\"r\",\"environments\":[\"Hosted Beta\"],\"tenants\":"
                        "\"all\",\"stages\":[[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]}";
    req = parse(plain);
    if (!req) return;
    p = build_ok(req, plain);
    if (p) {
        CHECK(p->header.proceed == NULL);
        char *js = NULL;
        CHECK_INT(of_plan_to_json(p, &js), OF_OK);
        CHECK(js && strstr(js, "proceed") == NULL);
        free(js);
    }
    of_plan_free(p);
    of_request_free(req);
}

/* A bigger world: ordering and sizes stay right with many tenants. */
static void test_plan_many_tenants(void)
{
    const char *json = "{\"release\":\"r\",\"environments\":[\"Hosted Release\",\"Hosted Beta\"],"
                       "\"tenants\":\"all\",\"stages\":[[{\"project\":\"Schema\",\"version\":"
                       "\"1.4.0\"}],[{\"project\":\"Web\",\"version\":\"1.4.0\"}]]}";
    of_request *req = parse(json);
    if (!req) return;
    of_plan *p = build_ok(req, NULL);
    if (p) {
        /* Schema: Beta 4 (Contoso, Fabrikam, Northwind, Adatum), Release 4; Web: 3 + 4 */
        CHECK_INT(p->n_jobs, 15);
        /* environments in request order: Hosted Release before Hosted Beta */
        CHECK_STR(p->jobs[0].job.environment.name, "Hosted Release");
        for (size_t i = 1; i < p->n_jobs; i++) {
            const of_job *x = &p->jobs[i - 1].job, *y = &p->jobs[i].job;
            CHECK(x->stage <= y->stage);
            if (x->stage == y->stage && strcmp(x->environment.name, y->environment.name) == 0 &&
                strcmp(x->project.name, y->project.name) == 0)
                CHECK(strcmp(x->tenant.name, y->tenant.name) < 0);
        }
        CHECK(p->header.request_json == NULL);
    }
    of_plan_free(p);
    of_request_free(req);
}

/* policy.windows: each tenanted job gets its tenant's first matching window; untenanted jobs and
 * tenants in no window get none; plan shows the next opening; an unknown tag is an error. */
static void test_plan_windows(void)
{
    const char *json =
        "{\"release\":\"r\",\"environments\":[\"Hosted Beta\"],\"tenants\":\"all\",\"stages\":[[{"
        "\"project\":\"Schema\",\"version\":\"1.4.0\"},{\"project\":\"Metrics\",\"version\":"
        "\"2.0.0\"}]],\"policy\":{\"windows\":[{\"tenant_tag\":\"Ring/Beta\",\"start_between\":"
        "[\"22:00\",\"04:00\"],\"timezone\":\"Australia/Sydney\"},{\"tenant_tag\":"
        "\"Hosting/Hosted\",\"start_between\":[\"01:00\",\"02:00\"],\"timezone\":\"UTC\"}]}}";
    of_request *req = parse(json);
    if (!req) return;
    of_plan *p = build_ok(req, json);
    if (p) {
        /* Metrics (untenanted), then Schema: Adatum, Contoso, Fabrikam, Northwind */
        static const struct {
            const char *tenant;
            int window;
        } want[] = {{NULL, 0}, {"Adatum", 1}, {"Contoso", 1}, {"Fabrikam", 1}, {"Northwind", 2}};
        CHECK_INT(p->n_jobs, 5);
        for (size_t i = 0; i < p->n_jobs && i < 5; i++) {
            CHECK_STR(p->jobs[i].job.tenant.name, want[i].tenant);
            CHECK_INT(p->jobs[i].window, want[i].window);
        }
        /* 2026-12-06T02:00Z: Sydney 13:00 (closed, opens 11:00Z); UTC 02:00 (closed, opens
         * 01:00Z next day) */
        int64_t now = 1796522400000; /* 2026-12-06T02:00:00Z */
        of_plan_window_starts(p, now);
        CHECK_INT(p->jobs[0].starts_ms, 0);
        CHECK_INT(p->jobs[1].starts_ms, now + 9 * 3600000LL);
        CHECK_INT(p->jobs[4].starts_ms, now + 23 * 3600000LL);
        of_buf tb;
        of_buf_init(&tb, 1 << 16);
        CHECK_INT(of_plan_format_table(p, &tb, NULL), OF_OK);
        CHECK_CONTAINS(tb.data, "window Ring/Beta 22:00-04:00 Australia/Sydney, opens "
                                "2026-12-06T11:00:00Z (2026-12-06T22:00:00+11:00)");
        of_buf_clear(&tb);
        char *js = NULL;
        CHECK_INT(of_plan_to_json(p, &js), OF_OK);
        CHECK_CONTAINS(js, "\"window\":1,\"starts_at\":\"2026-12-06T11:00:00.000Z\"");
        free(js);
        of_plan_window_starts(p, now + 9 * 3600000LL); /* Sydney open now */
        CHECK_INT(p->jobs[1].starts_ms, 0);
    }
    of_plan_free(p);
    of_request_free(req);

    json =
        "{\"release\":\"r\",\"environments\":[\"Hosted Beta\"],\"tenants\":\"all\",\"stages\":[[{"
        "\"project\":\"Schema\",\"version\":\"1.4.0\"}]],\"policy\":{\"windows\":[{\"tenant_tag\":"
        "\"Ring/Gamma\",\"start_between\":[\"22:00\",\"04:00\"],\"timezone\":\"UTC\"}]}}";
    req = parse(json);
    if (!req) return;
    of_errlist errs;
    of_errlist_init(&errs);
    char es[256] = "";
    p = NULL;
    world w;
    memset(&w, 0, sizeof w);
    of_resolver res = resolver(&w);
    CHECK_INT(of_plan_build(req, json, &res, &p, &errs, es, sizeof es), OF_ERR_NOT_FOUND);
    CHECK(
        of_errlist_contains(&errs, "policy.windows[0].tenant_tag: tag \"Ring/Gamma\": not found"));
    of_plan_free(p);
    of_errlist_clear(&errs);
    of_request_free(req);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    test_plan_details();
    test_plan_many_tenants();
    test_plan_gate_policy();
    test_plan_windows();
    test_plan_proceed();
    return TEST_DONE();
}
