/* The Octopus resolver (producer/resolver_octo.h) against the in-process simulator with
 * tests/fixtures/small-world.json: exact names (look-alikes, case, special characters),
 * tenanted modes, tags (unknown vs unused), connected tenants (disabled ones left out),
 * can_deploy from the deployment template (cached for one plan), is_current from the
 * deployment history, and of_plan_build end to end (accepted plan, all unresolved names
 * together, lifecycle refusals). */
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "octopus.h"
#include "plan.h"
#include "resolver_octo.h"
#include "sim.h"
#include "test.h"

#define KEY            "API-OCTOFLEETTEST0000000000000001"
#define TEMPLATE_ROUTE "GET /api/{space}/releases/{id}/deployments/template"
#define TENANTS_ROUTE  "GET /api/{space}/tenants"

typedef struct world {
    ofsim *sim;
    of_octo *octo;
    of_resolver_octo *ro;
    of_resolver res;
    of_ref space;
} world;

static int world_start(world *w, const char *path, const char *json)
{
    memset(w, 0, sizeof *w);
    char es[1024] = "";
    ofsim_opts so;
    memset(&so, 0, sizeof so);
    so.fixture_path = path;
    so.fixture_json = json;
    so.quiet = 1;
    if (ofsim_start(&so, &w->sim, es, sizeof es) != OF_OK) {
        fprintf(stderr, "simulator: %s\n", es);
        return -1;
    }
    of_octo_opts oo;
    of_octo_opts_default(&oo);
    oo.url = ofsim_url(w->sim);
    oo.api_key = KEY;
    oo.space = "Default";
    oo.retry_deadline_ms = 10000;
    if (of_octo_new(&oo, &w->octo, es, sizeof es) != OF_OK ||
        of_octo_connect(w->octo, es, sizeof es) != OF_OK ||
        of_resolver_octo_new(w->octo, &w->ro) != OF_OK) {
        fprintf(stderr, "client: %s\n", es);
        return -1;
    }
    of_resolver_octo_bind(w->ro, &w->res);
    if (w->res.space(w->res.opaque, "Default", &w->space, es, sizeof es) != OF_OK) {
        fprintf(stderr, "space: %s\n", es);
        return -1;
    }
    return 0;
}

static void world_stop(world *w)
{
    of_ref_clear(&w->space);
    of_resolver_octo_free(w->ro);
    of_octo_destroy(w->octo);
    ofsim_stop(w->sim);
}

/* ---- names ---- */

static void test_space(world *w)
{
    CHECK_STR(w->space.id, "Spaces-1");
    CHECK_STR(w->space.name, "Default");
    of_ref r = {0};
    char es[512] = "";
    CHECK_INT(w->res.space(w->res.opaque, "Nope", &r, es, sizeof es), OF_ERR_NOT_FOUND);
    CHECK(r.id == NULL);
    of_ref_clear(&r);
}

/* Environments and tenants by name: exact, case-sensitive matches only. */
typedef enum { ENVIRONMENT, TENANT } name_kind;

static void test_names(world *w)
{
    static const struct {
        name_kind kind;
        const char *name;
        of_err want;
    } cases[] = {
        {ENVIRONMENT, "Hosted Beta", OF_OK},
        {ENVIRONMENT, "On Site Release", OF_OK},
        {ENVIRONMENT, "Hosted", OF_ERR_NOT_FOUND},      /* a prefix is not a match */
        {ENVIRONMENT, "hosted beta", OF_ERR_NOT_FOUND}, /* exact, case-sensitive */
        {TENANT, "Acme", OF_OK},                        /* not "Acme Labs" nor "Acme Labs West" */
        {TENANT, "Acme Labs", OF_OK},                   /* not "Acme Labs West" */
        {TENANT, "A/B & C?#\xc3\xbc", OF_OK},           /* URL-special characters */
        {TENANT, "Acme Lab", OF_ERR_NOT_FOUND}, /* contains-match on the server, exact here */
        {TENANT, "Nobody", OF_ERR_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_ref r = {0};
        char es[512] = "";
        const char *name = cases[i].name;
        of_err rc = cases[i].kind == ENVIRONMENT
                        ? w->res.environment(w->res.opaque, &w->space, name, &r, es, sizeof es)
                        : w->res.tenant_by_name(w->res.opaque, &w->space, name, &r, es, sizeof es);
        CHECK_INT(rc, cases[i].want);
        if (rc == OF_OK) {
            CHECK_STR(r.name, name);
            if (cases[i].kind == ENVIRONMENT)
                CHECK(r.id && strncmp(r.id, "Environments-", 13) == 0);
        }
        of_ref_clear(&r);
    }
}

static void test_projects(world *w)
{
    static const struct {
        const char *name;
        of_err want;
        of_tenanted_mode mode;
    } cases[] = {
        {"Schema", OF_OK, OF_TENANTED_UNTENANTED},
        {"Billing", OF_OK, OF_TENANTED_TENANTED},
        {"Web", OF_OK, OF_TENANTED_TENANTED_OR_UNTENANTED},
        {"billing", OF_ERR_NOT_FOUND, OF_TENANTED_UNTENANTED},
        {"Bill", OF_ERR_NOT_FOUND, OF_TENANTED_UNTENANTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_ref r = {0};
        of_tenanted_mode mode = OF_TENANTED__COUNT;
        char es[512] = "";
        of_err rc =
            w->res.project(w->res.opaque, &w->space, cases[i].name, &r, &mode, es, sizeof es);
        CHECK_INT(rc, cases[i].want);
        if (rc == OF_OK) {
            CHECK_STR(r.name, cases[i].name);
            CHECK(r.id && strncmp(r.id, "Projects-", 9) == 0);
            CHECK_INT(mode, cases[i].mode);
        }
        of_ref_clear(&r);
    }
}

static void get_project(world *w, const char *name, of_ref *out)
{
    of_tenanted_mode mode;
    char es[512] = "";
    of_err rc = w->res.project(w->res.opaque, &w->space, name, out, &mode, es, sizeof es);
    CHECK_INT(rc, OF_OK);
}

static void get_release(world *w, const char *project, const char *version, of_ref *out)
{
    of_ref p = {0};
    get_project(w, project, &p);
    char es[512] = "";
    CHECK_INT(w->res.release(w->res.opaque, &w->space, &p, version, out, es, sizeof es), OF_OK);
    of_ref_clear(&p);
}

static void get_env(world *w, const char *name, of_ref *out)
{
    char es[512] = "";
    CHECK_INT(w->res.environment(w->res.opaque, &w->space, name, out, es, sizeof es), OF_OK);
}

static void get_tenant(world *w, const char *name, of_ref *out)
{
    char es[512] = "";
    CHECK_INT(w->res.tenant_by_name(w->res.opaque, &w->space, name, out, es, sizeof es), OF_OK);
}

static void test_releases(world *w)
{
    of_ref p = {0}, r = {0};
    get_project(w, "Billing", &p);
    char es[512] = "";
    CHECK_INT(w->res.release(w->res.opaque, &w->space, &p, "4.3.0", &r, es, sizeof es), OF_OK);
    CHECK_STR(r.name, "4.3.0");
    CHECK(r.id && strncmp(r.id, "Releases-", 9) == 0);
    of_ref_clear(&r);
    CHECK_INT(w->res.release(w->res.opaque, &w->space, &p, "9.9.9", &r, es, sizeof es),
              OF_ERR_NOT_FOUND);
    CHECK_CONTAINS(es, "9.9.9");
    of_ref_clear(&r);
    of_ref_clear(&p);
}

static bool has_name(const of_reflist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].name && strcmp(l->items[i].name, name) == 0) return true;
    return false;
}

static void test_tags(world *w)
{
    of_reflist l = {0};
    char es[512] = "";
    CHECK_INT(w->res.tenants_by_tag(w->res.opaque, &w->space, "Ring/Beta", &l, es, sizeof es),
              OF_OK);
    CHECK_INT(l.n, 4);
    CHECK(has_name(&l, "Acme"));
    CHECK(has_name(&l, "Contoso"));
    CHECK(has_name(&l, "Initech"));
    CHECK(has_name(&l, "A/B & C?#\xc3\xbc"));
    CHECK(!has_name(&l, "Acme Labs"));
    of_reflist_clear(&l);

    /* Unknown tag in a known set, and an unknown set: both "not found". */
    CHECK_INT(w->res.tenants_by_tag(w->res.opaque, &w->space, "Ring/Nope", &l, es, sizeof es),
              OF_ERR_NOT_FOUND);
    CHECK_CONTAINS(es, "Ring/Nope");
    CHECK_INT(l.n, 0);
    CHECK_INT(w->res.tenants_by_tag(w->res.opaque, &w->space, "Nope/Beta", &l, es, sizeof es),
              OF_ERR_NOT_FOUND);
    of_reflist_clear(&l);
}

static void test_connected(world *w)
{
    of_ref billing = {0}, hb = {0}, hr = {0};
    get_project(w, "Billing", &billing);
    get_env(w, "Hosted Beta", &hb);
    get_env(w, "Hosted Release", &hr);
    of_reflist l = {0};
    char es[512] = "";
    CHECK_INT(w->res.tenants_connected(w->res.opaque, &w->space, &billing, &hb, &l, es, sizeof es),
              OF_OK);
    CHECK_INT(l.n, 2);
    CHECK(has_name(&l, "Acme"));
    CHECK(has_name(&l, "Contoso"));
    of_reflist_clear(&l);
    CHECK_INT(w->res.tenants_connected(w->res.opaque, &w->space, &billing, &hr, &l, es, sizeof es),
              OF_OK);
    CHECK(has_name(&l, "Globex"));
    CHECK(has_name(&l, "Tenant 01"));
    CHECK(!has_name(&l, "Tenant 02"));    /* connected in On Site Release only */
    CHECK(!has_name(&l, "Retired Corp")); /* connected, but disabled */
    CHECK_INT(l.n, 23);                   /* Acme Labs, Globex, Umbrella, 20 odd Tenant NN */
    of_reflist_clear(&l);
    of_ref_clear(&billing);
    of_ref_clear(&hb);
    of_ref_clear(&hr);
}

/* ---- lifecycle and history ---- */

/* The two questions about one target, asked of the resolver from one table: may this release
 * be deployed there (lifecycle progression), and is it the current release there (history). */
typedef enum { CAN_DEPLOY, IS_CURRENT } target_question;

static void test_target_questions(world *w)
{
    static const struct {
        target_question q;
        const char *project, *version, *env, *tenant;
        bool want;
    } cases[] = {
        {CAN_DEPLOY, "Billing", "4.3.0", "Hosted Beta", "Acme", true}, /* Dev+Staging done */
        /* Acme Labs has no Beta environment: a phase it cannot reach does not hold it back */
        {CAN_DEPLOY, "Billing", "4.3.0", "Hosted Release", "Acme Labs", true},
        {CAN_DEPLOY, "Schema", "4.3.0", "On Site Beta", NULL, true},
        {CAN_DEPLOY, "Schema", "4.3.0", "Hosted Release", NULL, false},   /* Beta not done */
        {CAN_DEPLOY, "Reporting", "4.3.0", "Staging", "Acme", true},      /* Dev done */
        {CAN_DEPLOY, "Reporting", "4.3.0", "Hosted Beta", "Acme", false}, /* Staging not done */
        {CAN_DEPLOY, "Reporting", "4.3.0", "Development", "Acme", true},  /* first phase: always */
        {IS_CURRENT, "Schema", "4.3.0", "Staging", NULL, true},
        {IS_CURRENT, "Schema", "4.3.0", "Hosted Beta", NULL, false}, /* 4.2.0 there */
        {IS_CURRENT, "Billing", "4.3.0", "Development", "Acme", true},
        {IS_CURRENT, "Billing", "4.3.0", "Hosted Beta", "Acme", false},   /* 4.2.0 there */
        {IS_CURRENT, "Portal", "4.3.0", "Hosted Beta", "Contoso", false}, /* never deployed there */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_ref p = {0}, rel = {0}, env = {0}, ten = {0};
        if (cases[i].q == IS_CURRENT) get_project(w, cases[i].project, &p);
        get_release(w, cases[i].project, cases[i].version, &rel);
        get_env(w, cases[i].env, &env);
        if (cases[i].tenant) get_tenant(w, cases[i].tenant, &ten);
        const of_ref *tenant = cases[i].tenant ? &ten : NULL;
        bool got = !cases[i].want;
        char es[512] = "";
        if (cases[i].q == CAN_DEPLOY)
            CHECK_INT(w->res.can_deploy(w->res.opaque, &w->space, &rel, &env, tenant, &got, es,
                                        sizeof es),
                      OF_OK);
        else
            CHECK_INT(w->res.is_current(w->res.opaque, &w->space, &p, &rel, &env, tenant, &got, es,
                                        sizeof es),
                      OF_OK);
        if (got != cases[i].want)
            fprintf(stderr, "%s case %zu: %s %s -> %s / %s\n",
                    cases[i].q == CAN_DEPLOY ? "can_deploy" : "is_current", i, cases[i].project,
                    cases[i].version, cases[i].env, cases[i].tenant ? cases[i].tenant : "-");
        CHECK(got == cases[i].want);
        of_ref_clear(&p);
        of_ref_clear(&rel);
        of_ref_clear(&env);
        of_ref_clear(&ten);
    }
}

/* The template changes as a release progresses: fetched once per plan, again after reset. */
static void test_template_cache(world *w)
{
    of_ref rel = {0}, hb = {0}, ob = {0}, acme = {0};
    get_release(w, "Portal", "4.3.0", &rel);
    get_env(w, "Hosted Beta", &hb);
    get_env(w, "On Site Beta", &ob);
    get_tenant(w, "Acme", &acme);
    of_resolver_octo_reset(w->ro);
    long before = ofsim_request_count(w->sim, TEMPLATE_ROUTE);
    bool allowed = false;
    char es[512] = "";
    CHECK_INT(
        w->res.can_deploy(w->res.opaque, &w->space, &rel, &hb, &acme, &allowed, es, sizeof es),
        OF_OK);
    CHECK(allowed);
    CHECK_INT(
        w->res.can_deploy(w->res.opaque, &w->space, &rel, &ob, &acme, &allowed, es, sizeof es),
        OF_OK);
    CHECK(!allowed); /* Acme is not connected to Portal in On Site Beta */
    CHECK_INT(ofsim_request_count(w->sim, TEMPLATE_ROUTE) - before, 1);
    of_resolver_octo_reset(w->ro);
    CHECK_INT(
        w->res.can_deploy(w->res.opaque, &w->space, &rel, &hb, &acme, &allowed, es, sizeof es),
        OF_OK);
    CHECK_INT(ofsim_request_count(w->sim, TEMPLATE_ROUTE) - before, 2);
    of_ref_clear(&rel);
    of_ref_clear(&hb);
    of_ref_clear(&ob);
    of_ref_clear(&acme);
}

/* ---- the planner through this resolver ---- */

/* Plans the request json through the resolver: *plan (NULL on failure) and errs (initialised
 * here) are the caller's to free. */
static of_err plan_of(world *w, const char *json, of_plan **plan, of_errlist *errs)
{
    *plan = NULL;
    of_errlist_init(errs);
    of_request *req = NULL;
    of_errlist perrs;
    of_errlist_init(&perrs);
    of_err rc = of_request_parse(json, strlen(json), &req, &perrs);
    CHECK_INT(rc, OF_OK);
    if (rc) {
        for (size_t i = 0; i < perrs.n; i++)
            fprintf(stderr, "  %s\n", perrs.items[i]);
        of_errlist_clear(&perrs);
        return rc;
    }
    of_errlist_clear(&perrs);
    char es[1024] = "";
    of_resolver_octo_reset(w->ro);
    rc = of_plan_build(req, json, &w->res, plan, errs, es, sizeof es);
    of_request_free(req);
    return rc;
}

static void test_plan_ok(world *w)
{
    const char *json = "{\"release\":\"R1\",\"space\":\"Default\","
                       "\"environments\":[\"Hosted Beta\",\"On Site Beta\"],"
                       "\"tenants\":{\"names\":[\"Acme\",\"Contoso\",\"Initech\"]},"
                       "\"stages\":[[{\"project\":\"Schema\",\"version\":\"4.3.0\"}],"
                       "[{\"project\":\"Billing\",\"version\":\"4.3.0\"}]]}";
    of_plan *plan;
    of_errlist errs;
    of_err rc = plan_of(w, json, &plan, &errs);
    CHECK_INT(rc, OF_OK);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  %s\n", errs.items[i]);
    if (plan) {
        /* Schema x 2 environments; Billing: Acme+Contoso in Hosted Beta, Initech in On Site
         * Beta, and the named-but-not-connected ones skipped. */
        CHECK_INT(plan->n_jobs, 8);
        CHECK_INT(of_plan_count(plan, OF_JOB_PENDING), 5);
        CHECK_INT(of_plan_count(plan, OF_JOB_SKIPPED), 3);
        for (size_t i = 0; i < plan->n_jobs; i++)
            if (plan->jobs[i].status == OF_JOB_SKIPPED)
                CHECK_CONTAINS(plan->jobs[i].skip_reason, "not connected");
        CHECK_STR(plan->header.space.id, "Spaces-1");
    }
    of_plan_free(plan);
    of_errlist_clear(&errs);
}

/* One paged tenant listing per plan, whatever the number of projects, environments and tags:
 * connections and tags are filtered from it in memory, with the same targets as before. */
static void test_plan_one_listing(world *w)
{
    const char *json = "{\"release\":\"R3\",\"space\":\"Default\","
                       "\"environments\":[\"Hosted Beta\",\"On Site Beta\"],"
                       "\"tenants\":{\"tags\":[\"Ring/Beta\",\"hosting/cloud\"]},"
                       "\"stages\":[[{\"project\":\"Billing\",\"version\":\"4.3.0\"},"
                       "{\"project\":\"Portal\",\"version\":\"4.3.0\"}],"
                       "[{\"project\":\"Web\",\"version\":\"4.3.0\"}]]}";
    long before = ofsim_request_count(w->sim, TENANTS_ROUTE);
    of_plan *plan;
    of_errlist errs;
    CHECK_INT(plan_of(w, json, &plan, &errs), OF_OK);
    CHECK_INT(ofsim_request_count(w->sim, TENANTS_ROUTE) - before, 1);
    if (plan) {
        /* Ring/Beta or Hosting/Cloud (tag sets AND, so: Beta AND Cloud = Acme, Contoso) x the
         * projects they use in Hosted Beta; On Site Beta has none of them: a warning each */
        size_t acme = 0, contoso = 0;
        for (size_t i = 0; i < plan->n_jobs; i++) {
            const of_job *j = &plan->jobs[i].job;
            CHECK_STR(j->environment.name, "Hosted Beta");
            acme += j->tenant.name && strcmp(j->tenant.name, "Acme") == 0;
            contoso += j->tenant.name && strcmp(j->tenant.name, "Contoso") == 0;
        }
        CHECK_INT(acme, 3);
        CHECK_INT(contoso, 3);
        CHECK_INT(plan->n_jobs, 6);
    }
    of_plan_free(plan);
    of_errlist_clear(&errs);
}

static void test_plan_unresolved(world *w)
{
    const char *json = "{\"release\":\"R2\",\"space\":\"Default\","
                       "\"environments\":[\"Hosted Beta\",\"Mars\"],"
                       "\"tenants\":{\"names\":[\"Acme\",\"Nobody\"],\"tags\":[\"Ring/Nope\"]},"
                       "\"stages\":[[{\"project\":\"Nope\",\"version\":\"1.0.0\"},"
                       "{\"project\":\"Billing\",\"version\":\"9.9.9\"}]]}";
    of_plan *plan;
    of_errlist errs;
    CHECK_INT(plan_of(w, json, &plan, &errs), OF_ERR_NOT_FOUND);
    CHECK(plan == NULL);
    /* every unresolved name, reported together */
    CHECK_INT(errs.n, 5);
    CHECK(of_errlist_contains(&errs, "Mars"));
    CHECK(of_errlist_contains(&errs, "Nobody"));
    CHECK(of_errlist_contains(&errs, "Ring/Nope"));
    CHECK(of_errlist_contains(&errs, "\"Nope\""));
    CHECK(of_errlist_contains(&errs, "9.9.9"));
    of_errlist_clear(&errs);
}

static void test_plan_lifecycle(world *w)
{
    const char *json = "{\"release\":\"R3\",\"space\":\"Default\","
                       "\"environments\":[\"Hosted Beta\"],"
                       "\"tenants\":{\"names\":[\"Acme\",\"Contoso\"]},"
                       "\"stages\":[[{\"project\":\"Reporting\",\"version\":\"4.3.0\"}]]}";
    of_plan *plan;
    of_errlist errs;
    CHECK_INT(plan_of(w, json, &plan, &errs), OF_ERR_REJECTED);
    CHECK_INT(errs.n, 2); /* one per target */
    CHECK(of_errlist_contains(&errs, "Acme"));
    CHECK(of_errlist_contains(&errs, "Contoso"));
    CHECK(of_errlist_contains(&errs, "lifecycle"));
    of_plan_free(plan);
    of_errlist_clear(&errs);
}

/* ---- a world of our own: an unused tag and a disabled project ---- */

static const char edge_world[] =
    "{\"api_keys\":[{\"key\":\"" KEY "\",\"spaces\":[\"*\"]}],"
    "\"spaces\":[{\"name\":\"Default\",\"id\":\"Spaces-1\",\"is_default\":true,"
    "\"environments\":[\"Development\"],"
    "\"lifecycles\":[{\"name\":\"L\",\"phases\":[{\"name\":\"Dev\","
    "\"environments\":[\"Development\"]}]}],"
    "\"tagsets\":[{\"name\":\"Ring\",\"tags\":[\"Beta\",\"Unused\"]}],"
    "\"projects\":[{\"name\":\"Old\",\"tenanted\":\"Untenanted\",\"lifecycle\":\"L\","
    "\"disabled\":true,\"releases\":[\"1.0.0\"]}],"
    "\"tenants\":[{\"name\":\"Acme\",\"tags\":[\"Ring/Beta\"],\"projects\":{}}]}]}";

static void test_edges(void)
{
    world w;
    if (world_start(&w, NULL, edge_world) != 0) {
        CHECK(!"edge world starts");
        world_stop(&w);
        return;
    }
    of_reflist l = {0};
    char es[512] = "";
    CHECK_INT(w.res.tenants_by_tag(w.res.opaque, &w.space, "Ring/Unused", &l, es, sizeof es),
              OF_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(w.res.tenants_by_tag(w.res.opaque, &w.space, "Ring/Gone", &l, es, sizeof es),
              OF_ERR_NOT_FOUND);
    of_reflist_clear(&l);
    of_ref r = {0};
    of_tenanted_mode mode;
    CHECK_INT(w.res.project(w.res.opaque, &w.space, "Old", &r, &mode, es, sizeof es),
              OF_ERR_REJECTED);
    CHECK_CONTAINS(es, "disabled");
    CHECK(r.id == NULL);
    of_ref_clear(&r);
    world_stop(&w);
}

int main(void)
{
    char ges[256];
    if (of_octo_global_init(ges, sizeof ges) != OF_OK) { /* libcurl, once, before any thread */
        fprintf(stderr, "%s\n", ges);
        return 1;
    }
    world w;
    if (world_start(&w, OF_FIXTURES_DIR "/small-world.json", NULL) != 0) {
        world_stop(&w);
        CHECK(!"small world starts");
        return TEST_DONE();
    }
    test_space(&w);
    test_names(&w);
    test_projects(&w);
    test_releases(&w);
    test_tags(&w);
    test_connected(&w);
    test_target_questions(&w);
    test_template_cache(&w);
    test_plan_ok(&w);
    test_plan_one_listing(&w);
    test_plan_unresolved(&w);
    test_plan_lifecycle(&w);
    world_stop(&w);
    test_edges();
    return TEST_DONE();
}
