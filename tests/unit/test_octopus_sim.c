/* The Octopus client against the simulator over real HTTP (in-process
 * ofsim on an ephemeral port). Covers exact-name lookups across pages with
 * look-alikes, special characters, auth failures, release/lifecycle errors,
 * every retry path (429 + Retry-After, 500, dropped connections, the
 * deadline), the response cap, chunked task polling counted on the server,
 * cancel, the task cap, adoption after an ambiguous create, and TLS. */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "octopus_internal.h" /* the cache and the connected space, for checks */
#include "sim.h"
#include "test.h"

#define KEY_ALL   "API-OCTOFLEETTEST0000000000000001"
#define KEY_OTHER "API-OTHERSPACEONLY00000000000001"
#define KEY_WRONG "API-WRONGKEY00000000000000000001"

/* ---- the world ------------------------------------------------------------ */

/* Look-alikes for exact matching, a name needing every kind of escaping,
 * 40 numbered tenants so lookups and lists page, and projects whose tasks run
 * long (Slow: for cancel) or a known time (Paced: for the task cap). */
static char *world_json(void)
{
    of_buf b;
    of_buf_init(&b, 1 << 20);
    of_err rc = of_buf_puts(
        &b, "{\"api_keys\":[{\"key\":\"" KEY_ALL "\",\"spaces\":[\"*\"]},"
            "{\"key\":\"" KEY_OTHER "\",\"spaces\":[\"Other\"]}],"
            "\"task_cap\":5,\"seed\":7,\"spaces\":[{\"name\":\"Default\",\"id\":\"Spaces-1\","
            "\"is_default\":true,"
            "\"environments\":[\"Development\",\"Staging\",\"Hosted Beta\",\"Production\"],"
            "\"lifecycles\":[{\"name\":\"Train\",\"phases\":["
            "{\"name\":\"Dev\",\"environments\":[\"Development\"]},"
            "{\"name\":\"Stage\",\"environments\":[\"Staging\"]},"
            "{\"name\":\"Beta\",\"environments\":[\"Hosted Beta\"]},"
            "{\"name\":\"Prod\",\"environments\":[\"Production\"]}]}],"
            "\"tagsets\":[{\"name\":\"Ring\",\"tags\":[\"Beta\",\"Main\"]},"
            "{\"name\":\"Hosting\",\"tags\":[\"Cloud\",\"OnSite\"]}],"
            "\"projects\":["
            "{\"name\":\"Billing\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Train\","
            "\"releases\":[\"4.2.0\",\"4.3.0\"]},"
            "{\"name\":\"Billing Reports\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Train\","
            "\"releases\":[\"1.0.0\"]},"
            "{\"name\":\"Schema\",\"tenanted\":\"Untenanted\",\"lifecycle\":\"Train\","
            "\"releases\":[\"4.3.0\"]},"
            "{\"name\":\"Slow\",\"tenanted\":\"Untenanted\",\"lifecycle\":\"Train\","
            "\"releases\":[\"1.0.0\"]},"
            "{\"name\":\"Paced\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Train\","
            "\"releases\":[\"1.0.0\"]}],"
            "\"tenants\":["
            "{\"name\":\"Acme\",\"tags\":[\"Ring/Beta\",\"Hosting/Cloud\"],\"projects\":"
            "{\"Billing\":[\"Development\",\"Staging\",\"Hosted Beta\",\"Production\"]}},"
            "{\"name\":\"Acme Labs\",\"tags\":[\"Ring/Main\",\"Hosting/Cloud\"],\"projects\":"
            "{\"Billing\":[\"Development\",\"Staging\"]}},"
            "{\"name\":\"Acme Labs West\",\"tags\":[\"Ring/Main\",\"Hosting/OnSite\"],"
            "\"projects\":{\"Billing\":[\"Development\"]}},"
            "{\"name\":\"A/B & C?#\xc3\xbc\",\"tags\":[\"Ring/Beta\",\"Hosting/OnSite\"],"
            "\"projects\":{\"Billing\":[\"Development\",\"Staging\"]}},"
            "{\"name\":\"Zeta\",\"tags\":[\"Ring/Main\"],\"projects\":{}},"
            "{\"name\":\"Alpha Zeta\",\"tags\":[\"Ring/Main\"],\"projects\":{}},"
            "{\"name\":\"Beta Zeta\",\"tags\":[\"Ring/Main\"],\"projects\":{}},"
            "{\"name\":\"Gamma Zeta\",\"tags\":[\"Ring/Main\"],\"projects\":{}}");
    for (int i = 1; !rc && i <= 40; i++)
        rc = of_buf_printf(&b,
                           ",{\"name\":\"Tenant %02d\",\"tags\":[\"Ring/%s\",\"Hosting/Cloud\"],"
                           "\"projects\":{\"Billing\":[\"Development\",\"Staging\"],"
                           "\"Paced\":[\"Development\"]}}",
                           i, i % 2 ? "Main" : "Beta");
    if (!rc)
        rc = of_buf_puts(
            &b, "],\"history\":["
                "{\"project\":\"Billing\",\"release\":\"4.3.0\",\"environment\":\"Development\","
                "\"tenant\":\"Acme\"},"
                "{\"project\":\"Billing\",\"release\":\"4.2.0\",\"environment\":\"Development\","
                "\"tenant\":\"Acme Labs\"},"
                "{\"project\":\"Schema\",\"release\":\"4.3.0\",\"environment\":\"Development\"}]},"
                "{\"name\":\"Other\",\"id\":\"Spaces-2\",\"environments\":[\"Development\"],"
                "\"lifecycles\":[{\"name\":\"Solo\",\"phases\":[{\"name\":\"Dev\","
                "\"environments\":[\"Development\"]}]}],"
                "\"projects\":[{\"name\":\"Other App\",\"tenanted\":\"Untenanted\","
                "\"lifecycle\":\"Solo\",\"releases\":[\"1.0.0\"]}]}],"
                "\"rules\":["
                "{\"project\":\"Slow\",\"duration_ms\":600000},"
                "{\"project\":\"Paced\",\"duration_ms\":400},"
                "{\"project\":\"*\",\"environment\":\"*\",\"tenant\":\"*\","
                "\"duration_ms\":[20,60]}]}");
    if (rc) {
        fprintf(stderr, "world: %s\n", of_strerror(rc));
        of_buf_clear(&b);
        return NULL;
    }
    return of_buf_detach(&b);
}

static ofsim *start_sim(const char *cert, const char *key)
{
    char *world = world_json();
    if (!world) return NULL;
    ofsim_opts o = {.fixture_json = world, .tls_cert_path = cert, .tls_key_path = key, .quiet = 1};
    ofsim *sim = NULL;
    char es[512];
    of_err rc = ofsim_start(&o, &sim, es, sizeof(es));
    if (rc) fprintf(stderr, "ofsim_start: %s\n", es);
    free(world);
    return sim;
}

static of_octo *client_opts(of_octo_opts o)
{
    of_octo *c = NULL;
    char es[512];
    if (of_octo_new(&o, &c, es, sizeof(es))) fprintf(stderr, "of_octo_new: %s\n", es);
    return c;
}

/* The default options against the simulator, with key. */
static of_octo_opts sim_opts(ofsim *sim, const char *key)
{
    of_octo_opts o;
    of_octo_opts_default(&o);
    o.url = ofsim_url(sim);
    o.api_key = key;
    return o;
}

/* A client with options o, connected; NULL (a failed check) when it cannot be. */
static of_octo *connected_opts(of_octo_opts o)
{
    of_octo *c = client_opts(o);
    char es[512];
    if (!c || of_octo_connect(c, es, sizeof(es))) {
        CHECK(!"client");
        if (c) fprintf(stderr, "connect: %s\n", es);
        of_octo_destroy(c);
        return NULL;
    }
    return c;
}

static of_octo *client(ofsim *sim, const char *key)
{
    of_octo_opts o = sim_opts(sim, key);
    o.seed = 11;
    return client_opts(o);
}

static of_octo *connected(ofsim *sim)
{
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.seed = 11;
    return connected_opts(o);
}

/* Runs test with a client of its own, connected to sim with the default options. */
static void with_client(ofsim *sim, void (*test)(ofsim *sim, of_octo *c))
{
    of_octo *c = connected(sim);
    if (c) test(sim, c);
    of_octo_destroy(c);
}

static long count(ofsim *sim, const char *route)
{
    return ofsim_request_count(sim, route);
}

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* of_octo_find_deployment_by_job_async, waited for (the daemons only use it async). */
static void by_job_done(void *s, of_err err, const char *errstr, of_octo_deployment *res)
{
    octo_sync_store(s, err, errstr, res);
}

static of_err find_by_job(of_octo *c, const char *space_id, const of_octo_deploy_query *q,
                          const char *release_id, const char *job_id, of_octo_deployment *out,
                          char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_find_deployment_by_job_async(c, space_id, q, release_id, job_id,
                                                     by_job_done, &s, errstr, errstr_size);
    if (rc) return rc;
    return octo_sync_wait(c, &s, errstr, errstr_size);
}

/* ---- lookups ---------------------------------------------------------------- */

/* A deployment target looked up by name: project, environment and the project's release. */
typedef struct target {
    of_octo_project p;
    of_octo_environment env;
    of_octo_release rel;
} target;

static void find_target(of_octo *c, const char *project, const char *env, const char *version,
                        target *tg)
{
    char es[1024];
    CHECK_INT(of_octo_find_project(c, NULL, project, &tg->p, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_environment(c, NULL, env, &tg->env, es, sizeof(es)), OF_OK);
    CHECK_INT(
        of_octo_find_release(c, NULL, tg->p.id, tg->p.name, version, &tg->rel, es, sizeof(es)),
        OF_OK);
}

static void free_target(target *tg)
{
    of_octo_release_clear(&tg->rel);
    of_octo_ref_clear(&tg->env);
    of_octo_project_clear(&tg->p);
}

static void test_connect_and_names(ofsim *sim)
{
    of_octo *c = connected(sim);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_STR(c->space_id, "Spaces-1");
    CHECK_STR(c->space_name, "Default");
    char es[1024];

    /* Projects: "Billing" exists next to "Billing Reports". */
    of_octo_project p;
    CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
    CHECK_STR(p.name, "Billing");
    CHECK_INT(p.tenanted, OF_OCTO_TENANTED);
    CHECK(p.lifecycle_id != NULL);
    of_octo_project_clear(&p);
    CHECK_INT(of_octo_find_project(c, NULL, "Billing Report", &p, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    CHECK_STR(es, "project Billing Report not found in space Default");
    CHECK_INT(of_octo_find_project(c, NULL, "billing", &p, es, sizeof(es)), OF_ERR_NOT_FOUND);
    CHECK_CONTAINS(es, "(did you mean \"Billing\"?)");
    CHECK_INT(of_octo_find_project(c, NULL, "Schema", &p, es, sizeof(es)), OF_OK);
    CHECK_INT(p.tenanted, OF_OCTO_UNTENANTED);
    of_octo_project_clear(&p);

    /* Tenants: "Acme" must not match "Acme Labs" or "Acme Labs West". */
    of_octo_tenant acme, labs, t;
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme", &acme, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme Labs", &labs, es, sizeof(es)), OF_OK);
    CHECK_STR(acme.name, "Acme");
    CHECK_STR(labs.name, "Acme Labs");
    CHECK(acme.id && labs.id && strcmp(acme.id, labs.id) != 0);
    CHECK_INT(acme.ntags, 2);
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme Lab", &t, es, sizeof(es)), OF_ERR_NOT_FOUND);
    CHECK_STR(es, "tenant Acme Lab not found in space Default");

    /* Special characters survive the trip as one query value. */
    CHECK_INT(of_octo_find_tenant(c, NULL, "A/B & C?#\xc3\xbc", &t, es, sizeof(es)), OF_OK);
    CHECK_STR(t.name, "A/B & C?#\xc3\xbc");
    of_octo_tenant_clear(&t);

    /* The exact match is on the second page: every page is read. */
    of_octo_opts small = sim_opts(sim, KEY_ALL);
    small.page_size = 2;
    of_octo *c2 = client_opts(small);
    CHECK(c2 && of_octo_connect(c2, es, sizeof(es)) == OF_OK);
    if (c2) {
        long before = count(sim, "GET /api/{space}/tenants");
        CHECK_INT(of_octo_find_tenant(c2, NULL, "Zeta", &t, es, sizeof(es)), OF_OK);
        CHECK_STR(t.name, "Zeta");
        of_octo_tenant_clear(&t);
        CHECK_INT(count(sim, "GET /api/{space}/tenants") - before, 2); /* 4 matches, 2 a page */
        /* Not found reads all pages: "Tenant 1" is in "Tenant 10".."Tenant 19". */
        before = count(sim, "GET /api/{space}/tenants");
        CHECK_INT(of_octo_find_tenant(c2, NULL, "Tenant 1", &t, es, sizeof(es)), OF_ERR_NOT_FOUND);
        CHECK_INT(count(sim, "GET /api/{space}/tenants") - before, 5); /* 10 matches, 2 a page */
        of_octo_destroy(c2);
    }

    /* Cached: the same names again cost no request. The page that found
     * "Acme" also cached its look-alikes. */
    of_octo_stats st0, st1;
    of_octo_get_stats(c, &st0);
    long before = count(sim, NULL);
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme", &t, es, sizeof(es)), OF_OK);
    CHECK_STR(t.id, acme.id);
    of_octo_tenant_clear(&t);
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme Labs West", &t, es, sizeof(es)), OF_OK);
    of_octo_tenant_clear(&t);
    CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
    of_octo_project_clear(&p);
    CHECK_INT(count(sim, NULL) - before, 0);
    of_octo_get_stats(c, &st1);
    CHECK_INT(st1.cache_hits - st0.cache_hits, 3);
    CHECK_INT(st1.requests - st0.requests, 0);
    octo_cache_free_all(c); /* forget every cached name */
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme", &t, es, sizeof(es)), OF_OK);
    of_octo_tenant_clear(&t);
    CHECK_INT(count(sim, NULL) - before, 1);

    /* Environments, and a space by id. */
    of_octo_environment env;
    CHECK_INT(of_octo_find_environment(c, NULL, "Hosted Beta", &env, es, sizeof(es)), OF_OK);
    CHECK_STR(env.name, "Hosted Beta");
    of_octo_ref_clear(&env);
    of_octo_space sp;
    CHECK_INT(of_octo_find_space(c, "Spaces-2", &sp, es, sizeof(es)), OF_OK);
    CHECK_STR(sp.name, "Other");
    of_octo_space_clear(&sp);
    CHECK_INT(of_octo_find_space(c, "Spaces-99", &sp, es, sizeof(es)), OF_ERR_NOT_FOUND);
    CHECK_STR(es, "space Spaces-99 not found");
    CHECK_INT(of_octo_find_space(c, "Nowhere", &sp, es, sizeof(es)), OF_ERR_NOT_FOUND);
    CHECK_STR(es, "space Nowhere not found (or the API key has no access to it)");

    /* Tenant lists: by tag, and connected to a project in an environment. */
    of_octo_tenant_list l;
    static const char *const beta[] = {"Ring/Beta"};
    of_octo_tenant_query q = {.tags = beta, .ntags = 1};
    CHECK_INT(of_octo_list_tenants(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 22); /* Acme, A/B & C?#ü, 20 even-numbered tenants */
    of_octo_tenant_list_clear(&l);
    static const char *const beta_onsite[] = {"Ring/Beta", "Hosting/OnSite"};
    q = (of_octo_tenant_query){.tags = beta_onsite, .ntags = 2};
    CHECK_INT(of_octo_list_tenants(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 1);
    if (l.n == 1) CHECK_STR(l.items[0].name, "A/B & C?#\xc3\xbc");
    of_octo_tenant_list_clear(&l);

    CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_environment(c, NULL, "Staging", &env, es, sizeof(es)), OF_OK);
    q = (of_octo_tenant_query){.project_id = p.id};
    CHECK_INT(of_octo_list_tenants(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 44); /* Acme x3, A/B & C?#ü, 40 numbered */
    of_octo_tenant_list_clear(&l);
    q = (of_octo_tenant_query){.project_id = p.id, .environment_id = env.id};
    CHECK_INT(of_octo_list_tenants(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 43); /* Acme Labs West is connected to Development only */
    for (size_t i = 0; i < l.n; i++) {
        CHECK(strcmp(l.items[i].name, "Acme Labs West") != 0);
        CHECK(of_octo_tenant_connected(&l.items[i], p.id, env.id));
    }
    of_octo_tenant_list_clear(&l);
    of_octo_ref_clear(&env);
    of_octo_project_clear(&p);
    of_octo_tenant_clear(&acme);
    of_octo_tenant_clear(&labs);
    of_octo_destroy(c);
}

static void test_auth(ofsim *sim)
{
    char es[1024];
    /* No key at all: refused before any request. */
    unsetenv("OCTOPUS_API_KEY");
    of_octo_opts none;
    of_octo_opts_default(&none);
    none.url = ofsim_url(sim);
    of_octo *c = NULL;
    CHECK_INT(of_octo_new(&none, &c, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_STR(es, "no Octopus API key: set OCTOPUS_API_KEY or octopus.api_key_file");

    /* A wrong key: 401, not retried. */
    c = client(sim, KEY_WRONG);
    if (c) {
        CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_ERR_AUTH);
        CHECK_CONTAINS(es, "Octopus rejected the API key (401): check OCTOPUS_API_KEY or the key "
                           "file");
        CHECK(strstr(es, KEY_WRONG) == NULL);
        of_octo_stats st;
        of_octo_get_stats(c, &st);
        CHECK_INT(st.retries, 0);
        of_octo_destroy(c);
    }

    /* A key with rights on "Other" only: the server does not even list
     * "Default" for it; addressing Default by id is a 403. */
    c = client(sim, KEY_OTHER);
    if (c) {
        CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_ERR_NOT_FOUND);
        CHECK_CONTAINS(es, "space Default not found (or the API key has no access to it)");
        of_octo_destroy(c);
    }
    of_octo_opts other = sim_opts(sim, KEY_OTHER);
    other.space = "Other";
    c = client_opts(other);
    if (c) {
        of_octo_project p;
        CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_OK);
        CHECK_STR(c->space_id, "Spaces-2");
        CHECK_INT(of_octo_find_project(c, NULL, "Other App", &p, es, sizeof(es)), OF_OK);
        CHECK_STR(p.name, "Other App");
        of_octo_project_clear(&p);
        CHECK_INT(of_octo_find_project(c, "Spaces-1", "Billing", &p, es, sizeof(es)), OF_ERR_AUTH);
        CHECK_CONTAINS(es, "the API key lacks permission on space Spaces-1 (HTTP 403: ");
        of_octo_stats st;
        of_octo_get_stats(c, &st);
        CHECK_INT(st.retries, 0);
        of_octo_destroy(c);
    }
}

static void test_releases_and_lifecycle(ofsim *sim, of_octo *c)
{
    char es[1024];
    of_octo_project p;
    of_octo_tenant acme;
    of_octo_environment staging, prod;
    CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_tenant(c, NULL, "Acme", &acme, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_environment(c, NULL, "Staging", &staging, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_find_environment(c, NULL, "Production", &prod, es, sizeof(es)), OF_OK);

    of_octo_release rel;
    CHECK_INT(of_octo_find_release(c, NULL, p.id, p.name, "4.2.0", &rel, es, sizeof(es)), OF_OK);
    CHECK_STR(rel.version, "4.2.0");
    CHECK_STR(rel.project_id, p.id);
    of_octo_release_clear(&rel);
    long before = count(sim, NULL);
    CHECK_INT(of_octo_find_release(c, NULL, p.id, p.name, "4.2.0", &rel, es, sizeof(es)),
              OF_OK); /* cached */
    CHECK_STR(rel.version, "4.2.0");
    CHECK_INT(count(sim, NULL) - before, 0);
    of_octo_release_clear(&rel);
    CHECK_INT(of_octo_find_release(c, NULL, p.id, p.name, "9.9.9", &rel, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    CHECK_STR(es, "release 9.9.9 of project Billing not found");

    /* 4.3.0 went to Development for Acme (history): Staging is next, not Production. */
    CHECK_INT(of_octo_find_release(c, NULL, p.id, p.name, "4.3.0", &rel, es, sizeof(es)), OF_OK);
    of_octo_template tpl;
    CHECK_INT(of_octo_get_template(c, NULL, rel.id, &tpl, es, sizeof(es)), OF_OK);
    CHECK(of_octo_template_allows(&tpl, staging.id, acme.id));
    CHECK(!of_octo_template_allows(&tpl, prod.id, acme.id));
    of_octo_template_clear(&tpl);

    /* The server's reasons come back whole. */
    of_octo_deploy_req req = {.project_id = p.id,
                              .release_id = rel.id,
                              .environment_id = prod.id,
                              .tenant_id = acme.id,
                              .comments = "octofleet job=lifecycle-1"};
    of_octo_deployment d;
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_ERR_REJECTED);
    CHECK_CONTAINS(es, "rejected (HTTP 400): There was a problem with your request.: ");
    CHECK_CONTAINS(es, "Release 4.3.0 of Billing cannot be deployed to Production");

    /* Allowed: create, follow the task to the end, find it again. */
    req.environment_id = staging.id;
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    CHECK(d.task_id != NULL);
    CHECK_STR(d.tenant_id, acme.id);
    CHECK_INT(d.adopted, 0);
    of_octo_task task = {0};
    int64_t deadline = of_now_ms() + 20000;
    while (of_now_ms() < deadline) {
        of_octo_task_clear(&task);
        if (of_octo_get_task(c, NULL, d.task_id, &task, es, sizeof(es))) break;
        if (of_octo_task_state_is_final(task.state)) break;
        sleep_ms(20);
    }
    CHECK_INT(task.state, OF_OCTO_TASK_SUCCESS);
    CHECK(task.start_time_ms > 0);
    CHECK(task.completed_time_ms >= task.start_time_ms);
    CHECK_STR(task.deployment_id, d.id);
    of_octo_task_clear(&task);

    of_octo_deployment found;
    CHECK_INT(of_octo_latest_success(c, NULL, p.id, staging.id, acme.id, &found, es, sizeof(es)),
              OF_OK);
    CHECK_STR(found.id, d.id);
    CHECK_STR(found.release_id, rel.id); /* "is 4.3.0 current?" yes */
    of_octo_deployment_clear(&found);
    CHECK_INT(of_octo_latest_success(c, NULL, p.id, prod.id, acme.id, &found, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    of_octo_deploy_query q = {
        .project_id = p.id, .environment_id = staging.id, .tenant_id = acme.id};
    CHECK_INT(find_by_job(c, NULL, &q, rel.id, "job=lifecycle-1", &found, es, sizeof(es)), OF_OK);
    CHECK_STR(found.id, d.id);
    of_octo_deployment_clear(&found);
    CHECK_INT(find_by_job(c, NULL, &q, rel.id, "job=nope", &found, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    /* created_since_ms: a deployment created before the cutoff ends the search (newest first),
     * after one page; one created after it is found */
    q.created_since_ms = of_wall_ms() + 2 * OF_OCTO_CLOCK_SKEW_MS;
    long reads = count(sim, "GET /api/{space}/deployments");
    CHECK_INT(find_by_job(c, NULL, &q, rel.id, "job=lifecycle-1", &found, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    CHECK_INT(count(sim, "GET /api/{space}/deployments") - reads, 1);
    q.created_since_ms = of_wall_ms() - OF_OCTO_CLOCK_SKEW_MS;
    CHECK_INT(find_by_job(c, NULL, &q, rel.id, "job=lifecycle-1", &found, es, sizeof(es)), OF_OK);
    CHECK_STR(found.id, d.id);
    of_octo_deployment_clear(&found);
    q.created_since_ms = 0;
    of_octo_deployment_list dl;
    CHECK_INT(of_octo_list_deployments(c, NULL, &q, &dl, es, sizeof(es)), OF_OK);
    CHECK_INT(dl.n, 1);
    CHECK_INT(dl.total, 1);
    of_octo_deployment_list_clear(&dl);

    of_octo_deployment_clear(&d);
    of_octo_release_clear(&rel);
    of_octo_ref_clear(&staging);
    of_octo_ref_clear(&prod);
    of_octo_tenant_clear(&acme);
    of_octo_project_clear(&p);
}

/* ---- retries ------------------------------------------------------------------- */

static void add_fault(ofsim *sim, const char *json)
{
    of_err rc = ofsim_add_fault(sim, json);
    if (rc) fprintf(stderr, "ofsim_add_fault(%s): %s\n", json, of_strerror(rc));
    CHECK_INT(rc, OF_OK);
}

#define RELEASE_ROUTE "GET /api/{space}/projects/{id}/releases/{version}"

/* Arms a fault on the release route (fault: its fields after "route"), then looks up p's release
 * 4.3.0 (freed again). Returns what the lookup returned (es: its error); *requests gets how
 * many requests the route saw. */
static of_err release_with_fault(ofsim *sim, of_octo *c, const of_octo_project *p,
                                 const char *fault, long *requests, char *es, size_t es_size)
{
    char rule[256];
    (void)snprintf(rule, sizeof(rule), "{\"route\":\"" RELEASE_ROUTE "\",%s}", fault);
    add_fault(sim, rule);
    long before = count(sim, RELEASE_ROUTE);
    of_octo_release rel;
    of_err rc = of_octo_find_release(c, NULL, p->id, p->name, "4.3.0", &rel, es, es_size);
    if (rc == OF_OK) of_octo_release_clear(&rel);
    *requests = count(sim, RELEASE_ROUTE) - before;
    return rc;
}

static void test_retries(ofsim *sim)
{
    char es[1024];
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.retry_base_ms = 50;
    o.retry_cap_ms = 400;
    o.seed = 3;
    of_octo *c = connected_opts(o);
    if (!c) return;
    of_octo_project p;
    CHECK_INT(of_octo_find_project(c, NULL, "Schema", &p, es, sizeof(es)), OF_OK);
    long requests = 0;

    /* Transient failures, then success: retried (each time with every cached name forgotten). */
    static const struct {
        const char *fault;
        uint64_t retries_min, retries_max; /* retries it costs */
        long requests;
        int64_t min_ms; /* how long the call takes at least */
    } transient[] = {
        /* 429 with Retry-After: 1 -> the retry waits at least a second. */
        {"\"status\":429,\"count\":1,\"retry_after\":1", 1, 1, 2, 1000},
        /* 500 twice, then success. */
        {"\"status\":500,\"count\":2", 2, 2, 3, 0},
        /* Dropped connections (no reply at all), then success. Twice, because libcurl itself
         * re-sends once when a reused connection turns out dead; the second drop is on a fresh
         * connection and reaches our retry. */
        {"\"drop\":true,\"count\":2", 1, UINT64_MAX, 3, 0},
    };
    ofsim_clear_faults(sim);
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        of_octo_stats s0, s1;
        of_octo_get_stats(c, &s0);
        int64_t t0 = of_now_ms();
        CHECK_INT(release_with_fault(sim, c, &p, transient[i].fault, &requests, es, sizeof(es)),
                  OF_OK);
        int64_t took = of_now_ms() - t0;
        of_octo_get_stats(c, &s1);
        fprintf(stderr, "measure: %s -> call took %lld ms\n", transient[i].fault, (long long)took);
        CHECK(took >= transient[i].min_ms);
        CHECK(took < 6000);
        if (transient[i].retries_min == transient[i].retries_max)
            CHECK_INT(s1.retries - s0.retries, transient[i].retries_min);
        else
            CHECK(s1.retries - s0.retries >= transient[i].retries_min);
        CHECK_INT(requests, transient[i].requests);
        octo_cache_free_all(c); /* forget every cached name */
    }

    /* 503 for ever: a clear timeout within the deadline. */
    of_octo_destroy(c);
    o.retry_deadline_ms = 1500;
    c = client_opts(o);
    if (c && of_octo_connect(c, es, sizeof(es)) == OF_OK) {
        int64_t t0 = of_now_ms();
        CHECK_INT(release_with_fault(sim, c, &p, "\"status\":503,\"count\":-1", &requests, es,
                                     sizeof(es)),
                  OF_ERR_TIMEOUT);
        int64_t took = of_now_ms() - t0;
        fprintf(stderr, "measure: 503 for ever, deadline 1.5 s -> gave up after %lld ms: %s\n",
                (long long)took, es);
        CHECK_CONTAINS(es, "gave up after ");
        CHECK_CONTAINS(es, " attempts in ");
        CHECK_CONTAINS(es, "last error: HTTP 503 Service Unavailable: Simulated fault: HTTP 503");
        CHECK(took < 1500 + 3000);
        ofsim_clear_faults(sim);

        /* A slow server: the attempt timeout is cut to the deadline too. */
        t0 = of_now_ms();
        CHECK_INT(release_with_fault(sim, c, &p, "\"latency_ms\":5000,\"count\":1", &requests, es,
                                     sizeof(es)),
                  OF_ERR_TIMEOUT);
        took = of_now_ms() - t0;
        CHECK_CONTAINS(es, "attempt timed out");
        CHECK(took < 1500 + 3000);
        ofsim_clear_faults(sim);
    }
    of_octo_destroy(c);

    /* Oversized reply: refused, not retried. */
    o.retry_deadline_ms = 0;
    o.max_response_bytes = 1 << 20;
    c = client_opts(o);
    if (c && of_octo_connect(c, es, sizeof(es)) == OF_OK) {
        CHECK_INT(release_with_fault(sim, c, &p, "\"body_bytes\":3000000,\"count\":1", &requests,
                                     es, sizeof(es)),
                  OF_ERR_TOO_LARGE);
        CHECK_CONTAINS(es, "reply larger than the 1048576-byte cap");
        CHECK_INT(requests, 1);
        ofsim_clear_faults(sim);
    }
    of_octo_project_clear(&p);
    of_octo_destroy(c);
}

typedef struct spaces_got {
    int done, ok;
} spaces_got;

static void on_tasks(void *opaque, of_err err, const char *errstr, of_octo_task_list *res)
{
    (void)res;
    spaces_got *g = opaque;
    g->done++;
    if (err)
        fprintf(stderr, "tasks: %s\n", errstr);
    else
        g->ok++;
}

/* Time spent queued behind max_concurrent does not eat the retry deadline:
 * four 400 ms requests one at a time take 1.6 s, deadline 1 s, all succeed. */
static void test_queue_not_deadline(ofsim *sim)
{
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.max_concurrent = 1;
    o.retry_deadline_ms = 1000;
    of_octo *c = client_opts(o);
    if (!c) return;
    char es[512];
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks\",\"latency_ms\":400,\"count\":4}");
    spaces_got g = {0, 0};
    const char *ids[] = {"ServerTasks-999999"};
    int64_t t0 = of_now_ms();
    for (int i = 0; i < 4; i++)
        CHECK_INT(of_octo_get_tasks_async(c, "Spaces-1", ids, 1, on_tasks, &g, es, sizeof(es)),
                  OF_OK);
    int64_t deadline = of_now_ms() + 30000;
    while (g.done < 4 && of_now_ms() < deadline)
        CHECK_INT(of_octo_poll(c, 200), OF_OK);
    CHECK_INT(g.ok, 4);
    CHECK(of_now_ms() - t0 >= 1600);
    of_octo_stats st;
    of_octo_get_stats(c, &st);
    CHECK_INT(st.max_active, 1);
    CHECK_INT(st.retries, 0);
    ofsim_clear_faults(sim);
    of_octo_destroy(c);
}

/* of_octo_poll_fd: a readable fd ends the wait while a reply is still held (a worker's job
 * arriving from Kafka while its Octopus calls are outstanding); with nothing readable, the reply
 * ends it; with nothing outstanding it still waits, for the fd or the timeout. */
static void test_poll_fd(ofsim *sim, of_octo *c)
{
    char es[512];
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks\",\"latency_ms\":3000,\"count\":1}");
    spaces_got g = {0, 0};
    const char *ids[] = {"ServerTasks-999999"};
    CHECK_INT(of_octo_get_tasks_async(c, "Spaces-1", ids, 1, on_tasks, &g, es, sizeof(es)), OF_OK);
    CHECK_INT((int)write(fds[1], "x", 1), 1);
    CHECK_INT(of_octo_poll_fd(c, 20000, fds[0]), OF_OK);
    CHECK_INT(g.done, 0); /* woken by the fd: the reply is held for 3 s */
    CHECK(of_octo_outstanding(c) > 0);
    char b;
    CHECK_INT((int)read(fds[0], &b, 1), 1);
    int64_t deadline = of_now_ms() + 30000;
    while (g.done < 1 && of_now_ms() < deadline)
        CHECK_INT(of_octo_poll_fd(c, 20000, fds[0]), OF_OK);
    CHECK_INT(g.ok, 1);
    CHECK_INT((long long)of_octo_outstanding(c), 0);

    int64_t t0 = of_now_ms();
    CHECK_INT(of_octo_poll_fd(c, 300, fds[0]), OF_OK); /* idle: the timeout ends it */
    CHECK(of_now_ms() - t0 >= 250);
    CHECK_INT((int)write(fds[1], "x", 1), 1);
    t0 = of_now_ms();
    CHECK_INT(of_octo_poll_fd(c, 20000, fds[0]), OF_OK); /* idle: the fd ends it */
    CHECK(of_now_ms() - t0 < 15000);
    close(fds[0]);
    close(fds[1]);
    ofsim_clear_faults(sim);
}

/* ---- creates that may or may not have happened ------------------------------------- */

static void ambiguous_create(ofsim *sim, of_octo *c, const char *tenant)
{
    char es[1024];
    of_octo_tenant t;
    target tg;
    CHECK_INT(of_octo_find_tenant(c, NULL, tenant, &t, es, sizeof(es)), OF_OK);
    find_target(c, "Billing", "Development", "4.3.0", &tg);
    of_octo_deploy_query q = {
        .project_id = tg.p.id, .environment_id = tg.env.id, .tenant_id = t.id};
    of_octo_deployment_list dl;
    of_octo_deployment d;

    /* The server creates it, then the connection drops: with a dedupe key the
     * client finds and adopts it instead of creating a second one. The POST goes
     * out on a connection the look-ups above left alive, so this also proves
     * libcurl does not re-send it by itself (it would, were the prereq callback, or
     * the read callback that cannot rewind, not refusing: docs/octopus.md). */
    add_fault(sim, "{\"route\":\"POST /api/{space}/deployments\",\"drop\":true,\"after\":true,"
                   "\"count\":1}");
    of_octo_deploy_req req = {.project_id = tg.p.id,
                              .release_id = tg.rel.id,
                              .environment_id = tg.env.id,
                              .tenant_id = t.id,
                              .comments = "octofleet job=J-adopt",
                              .dedupe_key = "job=J-adopt"};
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    CHECK_INT(d.adopted, 1);
    CHECK_CONTAINS(d.comments, "job=J-adopt");
    of_octo_deployment_clear(&d);
    CHECK_INT(of_octo_list_deployments(c, NULL, &q, &dl, es, sizeof(es)), OF_OK);
    CHECK_INT(dl.total, 1);
    of_octo_deployment_list_clear(&dl);

    /* Dropped before the server acted: the lookup finds nothing, the POST is
     * repeated once. */
    add_fault(sim, "{\"route\":\"POST /api/{space}/deployments\",\"drop\":true,\"count\":1}");
    req.comments = "octofleet job=J-repost";
    req.dedupe_key = "job=J-repost";
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    CHECK_INT(d.adopted, 0);
    of_octo_deployment_clear(&d);
    CHECK_INT(of_octo_list_deployments(c, NULL, &q, &dl, es, sizeof(es)), OF_OK);
    CHECK_INT(dl.total, 2);
    of_octo_deployment_list_clear(&dl);

    /* Without a dedupe key an ambiguous failure is reported, not repeated. */
    add_fault(sim, "{\"route\":\"POST /api/{space}/deployments\",\"drop\":true,\"after\":true,"
                   "\"count\":1}");
    req.comments = "octofleet job=J-nokey";
    req.dedupe_key = NULL;
    long before = count(sim, "POST /api/{space}/deployments");
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_ERR_NETWORK);
    CHECK_CONTAINS(es, "the server may have acted on it, so it was not repeated");
    CHECK_INT(count(sim, "POST /api/{space}/deployments") - before, 1);

    /* 503 means "not done": repeated even without a key. */
    add_fault(sim, "{\"route\":\"POST /api/{space}/deployments\",\"status\":503,\"count\":1}");
    req.comments = "octofleet job=J-503";
    before = count(sim, "POST /api/{space}/deployments");
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    CHECK_INT(count(sim, "POST /api/{space}/deployments") - before, 2);
    of_octo_deployment_clear(&d);
    CHECK_INT(of_octo_list_deployments(c, NULL, &q, &dl, es, sizeof(es)), OF_OK);
    CHECK_INT(dl.total, 4); /* adopt, repost, nokey (created, reply lost), 503 */
    of_octo_deployment_list_clear(&dl);
    ofsim_clear_faults(sim);

    of_octo_tenant_clear(&t);
    free_target(&tg);
}

static void test_ambiguous_create(ofsim *sim, of_octo *c)
{
    ambiguous_create(sim, c, "Tenant 03");
}

/* The same with the body from a read callback: how a libcurl without
 * CURLOPT_PREREQFUNCTION (before 7.80) is kept from re-sending a create. */
static void test_ambiguous_create_read_callback(ofsim *sim, of_octo *c)
{
    c->body_by_callback = true;
    ambiguous_create(sim, c, "Tenant 31");
}

/* ---- the event feed and batched look-ups --------------------------------------- */

static const char *const finals[] = {"DeploymentSucceeded", "DeploymentFailed", "TaskCanceled"};

/* The feed: where a follower starts (take=1), what is new since then (AutoId > from, the
 * deployments' tasks in RelatedDocumentIds), nothing twice, bounded paging with toAutoId, and
 * truncation. Then one batched adoption look-up for several jobs, each answered as alone. */
static void test_events_and_lookups(ofsim *sim, of_octo *c)
{
    char es[1024];
    target tg;
    find_target(c, "Billing", "Development", "4.3.0", &tg);
    /* earlier tests' tasks end first: their events are not this test's */
    for (int tries = 0; tries < 200 && (ofsim_task_count(sim, "Queued") > 0 ||
                                        ofsim_task_count(sim, "Executing") > 0);
         tries++)
        sleep_ms(25);
    of_octo_event_query start = {.categories = finals, .ncategories = 3, .take = 1, .max_pages = 1};
    of_octo_event_list l;
    CHECK_INT(of_octo_list_events(c, NULL, &start, &l, es, sizeof(es)), OF_OK);
    int64_t from = l.newest_auto_id;
    CHECK(from > 0); /* the history's events */
    CHECK(l.n <= 1);
    of_octo_event_list_clear(&l);

    enum { ND = 3 };
    static const char *const tenants[ND] = {"Tenant 04", "Tenant 05", "Tenant 06"};
    static const char *const keys[ND] = {"job=J-ev1", "job=J-ev2", "job=J-ev3"};
    of_octo_tenant t[ND + 1];
    char *task_ids[ND];
    for (int i = 0; i < ND; i++) {
        char comments[64];
        snprintf(comments, sizeof(comments), "octofleet %s", keys[i]);
        CHECK_INT(of_octo_find_tenant(c, NULL, tenants[i], &t[i], es, sizeof(es)), OF_OK);
        of_octo_deploy_req req = {.project_id = tg.p.id,
                                  .release_id = tg.rel.id,
                                  .environment_id = tg.env.id,
                                  .tenant_id = t[i].id,
                                  .comments = comments};
        of_octo_deployment d;
        CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
        task_ids[i] = d.task_id;
        d.task_id = NULL;
        of_octo_deployment_clear(&d);
    }
    CHECK_INT(of_octo_find_tenant(c, NULL, "Tenant 07", &t[ND], es, sizeof(es)), OF_OK);
    /* wait for the three tasks to end */
    for (int tries = 0; tries < 100; tries++) {
        of_octo_task_list tl;
        CHECK_INT(
            of_octo_get_tasks(c, NULL, (const char *const *)task_ids, ND, &tl, es, sizeof(es)),
            OF_OK);
        size_t done = 0;
        for (size_t i = 0; i < tl.n; i++)
            done += tl.items[i].found && of_octo_task_state_is_final(tl.items[i].state);
        of_octo_task_list_clear(&tl);
        if (done == ND) break;
        sleep_ms(50);
    }

    of_octo_event_query q = {.categories = finals, .ncategories = 3, .from_auto_id = from};
    CHECK_INT(of_octo_list_events(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, ND);
    CHECK(!l.truncated);
    CHECK(l.newest_auto_id > from);
    for (int i = 0; i < ND; i++) {
        bool named = false;
        for (size_t k = 0; k < l.n; k++) {
            CHECK(l.items[k].auto_id > from);
            for (size_t r = 0; r < l.items[k].nrelated; r++)
                named = named || strcmp(l.items[k].related[r], task_ids[i]) == 0;
        }
        CHECK(named);
    }
    int64_t newest = l.newest_auto_id;
    of_octo_event_list_clear(&l);
    /* from the newest: nothing new (fromAutoId is inclusive here: the client drops it) */
    q.from_auto_id = newest;
    CHECK_INT(of_octo_list_events(c, NULL, &q, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(l.newest_auto_id, newest);
    of_octo_event_list_clear(&l);

    /* regardingAny: only the events that name one of the ids (a follower asks for its own
     * tasks), whatever else the ids name; a task and a deployment id alike, any case. */
    struct {
        const char *ids[3];
        size_t n;
        size_t want; /* of the three completions */
    } ra[] = {
        {{task_ids[1]}, 1, 1},
        {{task_ids[0], task_ids[2]}, 2, 2},
        {{task_ids[0], tg.env.id}, 2, ND}, /* the environment names them all */
        {{"ServerTasks-999999", "Deployments-999999"}, 2, 0},
        {{"servertasks-999999", "Projects-999999", "Tenants-999999"}, 3, 0},
    };
    for (size_t k = 0; k < sizeof(ra) / sizeof(ra[0]); k++) {
        of_octo_event_query rq = {.categories = finals,
                                  .ncategories = 3,
                                  .from_auto_id = from,
                                  .regarding_any = ra[k].ids,
                                  .nregarding_any = ra[k].n};
        CHECK_INT(of_octo_list_events(c, NULL, &rq, &l, es, sizeof(es)), OF_OK);
        CHECK_INT(l.n, ra[k].want);
        for (size_t e = 0; e < l.n; e++) {
            bool named = false;
            for (size_t r = 0; r < l.items[e].nrelated; r++)
                for (size_t i = 0; i < ra[k].n; i++)
                    named = named || strcasecmp(l.items[e].related[r], ra[k].ids[i]) == 0;
            CHECK(named);
        }
        of_octo_event_list_clear(&l);
    }
    /* the same by deployment id, lower case */
    {
        of_octo_event_query one = {.categories = finals, .ncategories = 3, .from_auto_id = from};
        CHECK_INT(of_octo_list_events(c, NULL, &one, &l, es, sizeof(es)), OF_OK);
        char dep[64] = "";
        for (size_t r = 0; l.n > 0 && r < l.items[0].nrelated; r++)
            if (strncmp(l.items[0].related[r], "Deployments-", 12) == 0)
                snprintf(dep, sizeof(dep), "deployments-%s", l.items[0].related[r] + 12);
        int64_t want_id = l.n > 0 ? l.items[0].auto_id : -1;
        of_octo_event_list_clear(&l);
        CHECK(dep[0] != '\0');
        const char *ids[] = {dep};
        one.regarding_any = ids;
        one.nregarding_any = 1;
        CHECK_INT(of_octo_list_events(c, NULL, &one, &l, es, sizeof(es)), OF_OK);
        CHECK_INT(l.n, 1);
        if (l.n == 1) CHECK_INT(l.items[0].auto_id, want_id);
        of_octo_event_list_clear(&l);
        /* an id with a ',' would split into two: refused before any request */
        const char *bad[] = {"ServerTasks-1,ServerTasks-2"};
        one.regarding_any = bad;
        CHECK_INT(of_octo_list_events(c, NULL, &one, &l, es, sizeof(es)), OF_ERR_INVALID);
        CHECK(strstr(es, "regardingAny") != NULL);
    }

    /* Paging: every category (queued, started, succeeded: 9 events) two at a time */
    of_octo_event_query all = {.from_auto_id = from, .take = 2};
    long before = count(sim, "GET /api/{space}/events");
    CHECK_INT(of_octo_list_events(c, NULL, &all, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 3 * ND);
    CHECK_INT(count(sim, "GET /api/{space}/events") - before, 5); /* ceil(9 / 2) */
    for (size_t k = 1; k < l.n; k++)
        CHECK(l.items[k].auto_id < l.items[k - 1].auto_id); /* newest first, no repeats */
    of_octo_event_list_clear(&l);
    /* ... bounded: two pages, the newest four, truncated */
    all.max_pages = 2;
    CHECK_INT(of_octo_list_events(c, NULL, &all, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 4);
    CHECK(l.truncated);
    CHECK_INT(l.newest_auto_id, newest);
    of_octo_event_list_clear(&l);

    /* One look-up for five jobs: three created above, one never created, one whose release
     * differs, one bounded to after now (as a job dispatched later would be). */
    of_octo_job_lookup jl[6] = {
        {t[0].id, tg.rel.id, keys[0], 0},
        {t[1].id, tg.rel.id, keys[1], of_wall_ms() - 60000},
        {t[2].id, NULL, keys[2], 0},
        {t[ND].id, tg.rel.id, "job=J-none", 0},
        {t[0].id, "Releases-999", keys[0], 0},
        {t[1].id, tg.rel.id, keys[1], of_wall_ms() + 3600000},
    };
    of_octo_deployment_list dl;
    before = count(sim, "GET /api/{space}/deployments");
    CHECK_INT(
        of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, jl, 6, &dl, es, sizeof(es)),
        OF_OK);
    CHECK_INT(count(sim, "GET /api/{space}/deployments") - before, 1);
    CHECK_INT(dl.n, 6);
    for (int i = 0; i < 6; i++) {
        bool want = i < ND;
        CHECK((dl.items[i].id != NULL) == want);
        if (!want || !dl.items[i].id) continue;
        CHECK_STR(dl.items[i].tenant_id, t[i].id);
        CHECK_CONTAINS(dl.items[i].comments, keys[i]);
        CHECK_STR(dl.items[i].task_id, task_ids[i]);
    }
    of_octo_deployment_list_clear(&dl);
    /* a key of another tenant never matches: the tenant is compared */
    of_octo_job_lookup other = {t[ND].id, NULL, keys[0], 0};
    CHECK_INT(of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, &other, 1, &dl, es,
                                               sizeof(es)),
              OF_OK);
    CHECK(dl.n == 1 && dl.items[0].id == NULL);
    of_octo_deployment_list_clear(&dl);
    CHECK_INT(
        of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, jl, 0, &dl, es, sizeof(es)),
        OF_ERR_INVALID);

    /* A first delivery: every deployment there is older than the jobs' since (dispatched after
     * all of them), so the first item of one small page answers every job, however many. */
    {
        of_octo_job_lookup fresh[ND + 1];
        int64_t after_all = of_wall_ms() + 60000;
        for (int i = 0; i <= ND; i++)
            fresh[i] = (of_octo_job_lookup){t[i].id, tg.rel.id, "job=never-created", after_all};
        before = count(sim, "GET /api/{space}/deployments");
        CHECK_INT(of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, fresh, ND + 1, &dl,
                                                   es, sizeof(es)),
                  OF_OK);
        CHECK_INT(count(sim, "GET /api/{space}/deployments") - before, 1);
        CHECK_INT(dl.n, ND + 1);
        for (size_t i = 0; i < dl.n; i++)
            CHECK(dl.items[i].id == NULL);
        of_octo_deployment_list_clear(&dl);
    }

    /* With every job's since known the first page is small (OCTO_LOOKUP_FIRST_TAKE): five newer
     * deployments to the same tenant push the job's own past it, and the paging goes on to
     * find it; the newest one is answered by that first page alone. */
    char newest_key[32] = "";
    for (int i = 0; i < 5; i++) {
        char comments[64];
        snprintf(newest_key, sizeof(newest_key), "job=J-newer%d", i);
        snprintf(comments, sizeof(comments), "octofleet %s", newest_key);
        of_octo_deploy_req req = {.project_id = tg.p.id,
                                  .release_id = tg.rel.id,
                                  .environment_id = tg.env.id,
                                  .tenant_id = t[0].id,
                                  .comments = comments};
        of_octo_deployment d;
        CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
        of_octo_deployment_clear(&d);
    }
    int64_t since = of_wall_ms() - 60000;
    of_octo_job_lookup deep = {t[0].id, tg.rel.id, keys[0], since};
    before = count(sim, "GET /api/{space}/deployments");
    CHECK_INT(of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, &deep, 1, &dl, es,
                                               sizeof(es)),
              OF_OK);
    CHECK_INT(count(sim, "GET /api/{space}/deployments") - before, 2);
    CHECK(dl.n == 1 && dl.items[0].id != NULL);
    if (dl.n == 1 && dl.items[0].id) CHECK_STR(dl.items[0].task_id, task_ids[0]);
    of_octo_deployment_list_clear(&dl);
    of_octo_job_lookup top = {t[0].id, tg.rel.id, newest_key, since};
    before = count(sim, "GET /api/{space}/deployments");
    CHECK_INT(
        of_octo_find_deployments_by_jobs(c, NULL, tg.p.id, tg.env.id, &top, 1, &dl, es, sizeof(es)),
        OF_OK);
    CHECK_INT(count(sim, "GET /api/{space}/deployments") - before, 1);
    CHECK(dl.n == 1 && dl.items[0].id != NULL);
    of_octo_deployment_list_clear(&dl);

    for (int i = 0; i < ND; i++)
        free(task_ids[i]);
    for (int i = 0; i <= ND; i++)
        of_octo_tenant_clear(&t[i]);
    free_target(&tg);
}

/* ---- tasks ---------------------------------------------------------------------- */

typedef struct creates {
    int done, failed;
    char **task_ids;
} creates;

typedef struct create_slot {
    creates *all;
    int i;
} create_slot;

static void on_created(void *opaque, of_err err, const char *errstr, of_octo_deployment *d)
{
    create_slot *s = opaque;
    s->all->done++;
    if (err) {
        s->all->failed++;
        fprintf(stderr, "create %d: %s\n", s->i, errstr);
        return;
    }
    s->all->task_ids[s->i] = d->task_id; /* moved out */
    d->task_id = NULL;
}

static void test_many_tasks(ofsim *sim)
{
    enum { N_TASKS = 1000 };
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.max_concurrent = 16;
    of_octo *c = connected_opts(o);
    if (!c) return;
    char es[1024];
    target tg;
    find_target(c, "Schema", "Development", "4.3.0", &tg);

    /* 1,000 creates in flight from one thread, 16 on the wire at a time. */
    creates all = {0, 0, calloc(N_TASKS, sizeof(char *))};
    create_slot *slots = calloc(N_TASKS, sizeof(*slots));
    of_octo_deploy_req req = {.release_id = tg.rel.id, .environment_id = tg.env.id};
    int64_t t0 = of_now_ms();
    for (int i = 0; i < N_TASKS; i++) {
        slots[i] = (create_slot){&all, i};
        CHECK_INT(
            of_octo_create_deployment_async(c, NULL, &req, on_created, &slots[i], es, sizeof(es)),
            OF_OK);
    }
    int64_t deadline = of_now_ms() + 120000;
    while (all.done < N_TASKS && of_now_ms() < deadline)
        CHECK_INT(of_octo_poll(c, 200), OF_OK);
    fprintf(stderr, "measure: %d creates in %lld ms\n", N_TASKS, (long long)(of_now_ms() - t0));
    CHECK_INT(all.done, N_TASKS);
    CHECK_INT(all.failed, 0);
    of_octo_stats st;
    of_octo_get_stats(c, &st);
    CHECK(st.max_active <= 16);
    CHECK(st.max_active >= 2);
    CHECK_INT(of_octo_outstanding(c), 0);

    /* One poll round: ceil(1000 / 100) = 10 requests, counted by the server. */
    long before = count(sim, "GET /api/{space}/tasks");
    of_octo_task_list l;
    t0 = of_now_ms();
    CHECK_INT(
        of_octo_get_tasks(c, NULL, (const char *const *)all.task_ids, N_TASKS, &l, es, sizeof(es)),
        OF_OK);
    int64_t took = of_now_ms() - t0;
    long reqs = count(sim, "GET /api/{space}/tasks") - before;
    fprintf(stderr, "measure: %d tasks polled with %ld requests in %lld ms\n", N_TASKS, reqs,
            (long long)took);
    CHECK_INT(reqs, 10);
    CHECK_INT(l.n, N_TASKS);
    CHECK_INT(l.missing, 0);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_STR(l.items[i].id, all.task_ids[i]); /* aligned with the input */
        CHECK(l.items[i].found);
    }
    of_octo_task_list_clear(&l);

    /* An unknown id is reported missing, not confused with another. */
    const char *mixed[] = {all.task_ids[0], "ServerTasks-999999", all.task_ids[1]};
    CHECK_INT(of_octo_get_tasks(c, NULL, mixed, 3, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.missing, 1);
    if (l.n == 3) {
        CHECK(l.items[0].found && !l.items[1].found && l.items[2].found);
        CHECK_STR(l.items[1].id, "ServerTasks-999999");
    }
    of_octo_task_list_clear(&l);

    /* Zero ids: zero requests, even against a live server. */
    before = count(sim, NULL);
    CHECK_INT(of_octo_get_tasks(c, NULL, NULL, 0, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(count(sim, NULL) - before, 0);

    for (int i = 0; i < N_TASKS; i++)
        free(all.task_ids[i]);
    free(all.task_ids);
    free(slots);
    free_target(&tg);
    of_octo_destroy(c);
}

static void test_cancel(ofsim *sim, of_octo *c)
{
    (void)sim;
    char es[1024];
    target tg;
    of_octo_deployment d;
    find_target(c, "Slow", "Development", "1.0.0", &tg);
    of_octo_deploy_req req = {.release_id = tg.rel.id, .environment_id = tg.env.id};
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    of_octo_task t = {0};
    int64_t deadline = of_now_ms() + 20000;
    while (of_now_ms() < deadline) {
        of_octo_task_clear(&t);
        if (of_octo_get_task(c, NULL, d.task_id, &t, es, sizeof(es))) break;
        if (t.state == OF_OCTO_TASK_EXECUTING) break;
        sleep_ms(20);
    }
    CHECK_INT(t.state, OF_OCTO_TASK_EXECUTING);
    of_octo_task_clear(&t);
    CHECK_INT(of_octo_cancel_task(c, NULL, d.task_id, &t, es, sizeof(es)), OF_OK);
    CHECK(t.state == OF_OCTO_TASK_CANCELLING || t.state == OF_OCTO_TASK_CANCELED);
    deadline = of_now_ms() + 20000;
    while (of_now_ms() < deadline && t.state != OF_OCTO_TASK_CANCELED) {
        sleep_ms(20);
        of_octo_task_clear(&t);
        if (of_octo_get_task(c, NULL, d.task_id, &t, es, sizeof(es))) break;
    }
    CHECK_INT(t.state, OF_OCTO_TASK_CANCELED);
    of_octo_task_clear(&t);
    CHECK_INT(of_octo_cancel_task(c, NULL, "ServerTasks-999999", &t, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    CHECK_STR(es, "task ServerTasks-999999 not found");
    of_octo_deployment_clear(&d);
    free_target(&tg);
}

/* ---- interruptions: answering manual interventions and guided failures ---- */

static void sim_rules(ofsim *sim, const char *rules_json)
{
    int status = 0;
    CHECK_INT(ofsim_admin(sim, "POST", "/sim/rules", rules_json, &status, NULL), OF_OK);
    CHECK_INT(status, 200);
}

/* Waits until the task is final, or (pending) waits on an interruption; its last reading. */
static void wait_task_until(of_octo *c, const char *task_id, bool pending, of_octo_task *t)
{
    char es[1024];
    int64_t deadline = of_now_ms() + 20000;
    memset(t, 0, sizeof *t);
    while (of_now_ms() < deadline) {
        of_octo_task_clear(t);
        if (of_octo_get_task(c, NULL, task_id, t, es, sizeof(es))) break;
        if (pending ? t->has_pending_interruptions : of_octo_task_state_is_final(t->state)) return;
        sleep_ms(10);
    }
}

/* One deployment of Slow to Development (1.0.0) under the rules given; its task id. */
static char *deploy_slow(of_octo *c, bool guided)
{
    char es[1024];
    target tg;
    of_octo_deployment d;
    find_target(c, "Slow", "Development", "1.0.0", &tg);
    of_octo_deploy_req req = {
        .release_id = tg.rel.id, .environment_id = tg.env.id, .use_guided_failure = guided};
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    char *task = d.task_id ? strdup(d.task_id) : NULL;
    of_octo_deployment_clear(&d);
    free_target(&tg);
    return task;
}

static void test_interruptions(ofsim *sim, of_octo *c)
{
    char es[1024];
    of_octo_task t;
    of_octo_answered_list l;
    const of_octo_answer proceed = {"ManualIntervention", "Result", "Proceed", "approved by dave"};
    of_octo_answer guide = {"GuidedFailure", "Guidance", "Retry", "dave: fixed the disk"};

    /* a manual intervention: a guidance finds nothing of its type; Proceed lets it run on */
    sim_rules(sim, "{\"mode\":\"prepend\",\"rules\":[{\"project\":\"Slow\","
                   "\"interruption\":true,\"duration_ms\":30}]}");
    char *task = deploy_slow(c, false);
    if (!task) return;
    wait_task_until(c, task, true, &t);
    CHECK(t.has_pending_interruptions);
    of_octo_task_clear(&t);
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &guide, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(l.other, 1);
    of_octo_answered_list_clear(&l);
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &proceed, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n, 1);
    char want[64];
    (void)snprintf(want, sizeof want, "Interruptions-%s", task + strlen("ServerTasks-"));
    CHECK_STR(l.n ? l.items[0].id : NULL, want);
    CHECK(l.n && l.items[0].title != NULL);
    of_octo_answered_list_clear(&l);
    wait_task_until(c, task, false, &t);
    CHECK_INT(t.state, OF_OCTO_TASK_SUCCESS);
    of_octo_task_clear(&t);
    /* answered: nothing is pending any more */
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &proceed, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n + l.other, 0);
    of_octo_answered_list_clear(&l);
    free(task);

    /* guided failure: the failing step waits; Retry after the fix runs it again, to success */
    sim_rules(sim, "{\"mode\":\"prepend\",\"rules\":[{\"project\":\"Slow\","
                   "\"outcome\":\"fail\",\"interruption\":false,\"duration_ms\":30}]}");
    task = deploy_slow(c, true);
    if (!task) return;
    wait_task_until(c, task, true, &t);
    CHECK(t.has_pending_interruptions);
    CHECK_INT(t.state, OF_OCTO_TASK_EXECUTING); /* not failed: it waits for guidance */
    of_octo_task_clear(&t);
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &proceed, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(l.other, 1);
    of_octo_answered_list_clear(&l);
    sim_rules(sim, "{\"mode\":\"prepend\",\"rules\":[{\"project\":\"Slow\","
                   "\"outcome\":\"success\",\"duration_ms\":30}]}");
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &guide, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n, 1);
    (void)snprintf(want, sizeof want, "Interruptions-%s-1", task + strlen("ServerTasks-"));
    CHECK_STR(l.n ? l.items[0].id : NULL, want);
    of_octo_answered_list_clear(&l);
    wait_task_until(c, task, false, &t);
    CHECK_INT(t.state, OF_OCTO_TASK_SUCCESS);
    of_octo_task_clear(&t);
    free(task);

    /* ... and "Fail" ends it failed; an unknown guidance is the server's 400 */
    sim_rules(sim, "{\"mode\":\"prepend\",\"rules\":[{\"project\":\"Slow\","
                   "\"outcome\":\"fail\",\"duration_ms\":30}]}");
    task = deploy_slow(c, true);
    if (!task) return;
    wait_task_until(c, task, true, &t);
    of_octo_task_clear(&t);
    guide.value = "Pray";
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &guide, &l, es, sizeof es),
              OF_ERR_REJECTED);
    CHECK_CONTAINS(es, "Guidance");
    guide.value = "Fail";
    CHECK_INT(of_octo_answer_interruptions(c, NULL, task, &guide, &l, es, sizeof es), OF_OK);
    CHECK_INT(l.n, 1);
    of_octo_answered_list_clear(&l);
    wait_task_until(c, task, false, &t);
    CHECK_INT(t.state, OF_OCTO_TASK_FAILED);
    of_octo_task_clear(&t);
    free(task);
    ofsim_reset(sim); /* the fixture's rules again */
}

/* ---- the observer (monitoring): one report per attempt, with its route and status ---- */

typedef struct obs_log {
    of_octo_attempt_info a[256];
    size_t n;
} obs_log;

static void observe(void *opaque, const of_octo_attempt_info *info)
{
    obs_log *l = opaque;
    if (l->n < sizeof l->a / sizeof l->a[0]) l->a[l->n++] = *info;
}

/* The attempts from index `from` on must be exactly want[0..n) (route, status, retry). */
static void check_attempts(const obs_log *l, size_t from, const of_octo_attempt_info *want,
                           size_t n, const char *what)
{
    OF_TEST_FAIL_IF(l->n - from != n, "%s: %zu attempts reported, want %zu\n", what, l->n - from,
                    n);
    for (size_t i = 0; i < n && from + i < l->n; i++) {
        const of_octo_attempt_info *g = &l->a[from + i];
        OF_TEST_FAIL_IF(g->route != want[i].route || g->status != want[i].status ||
                            g->retry != want[i].retry || g->duration_ms < 0,
                        "%s: attempt %zu is %s %ld retry=%d, want %s %ld retry=%d\n", what, i,
                        of_octo_route_name(g->route), g->status, (int)g->retry,
                        of_octo_route_name(want[i].route), want[i].status, (int)want[i].retry);
    }
}

static void test_observer(ofsim *sim)
{
    obs_log log = {0};
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.retry_base_ms = 20;
    o.retry_cap_ms = 40;
    o.retry_deadline_ms = 1000; /* the dropped connections below give up soon */
    o.cache_max = 0;            /* every lookup goes to the server */
    o.observer = observe;
    o.observer_opaque = &log;
    of_octo *c = connected_opts(o);
    if (!c) return;
    CHECK(log.n >= 1);
    for (size_t i = 0; i < log.n; i++) /* connect: the API root and the spaces */
        CHECK(log.a[i].route == OF_OCTO_ROUTE_OTHER && log.a[i].status == 200);
    char es[1024];
    size_t mark = log.n;
    target tg;
    find_target(c, "Slow", "Development", "1.0.0", &tg);
    const of_octo_attempt_info lookups[] = {{OF_OCTO_ROUTE_PROJECTS, 200, false, 0},
                                            {OF_OCTO_ROUTE_ENVIRONMENTS, 200, false, 0},
                                            {OF_OCTO_ROUTE_RELEASES, 200, false, 0}};
    check_attempts(&log, mark, lookups, 3, "project, environment, release look-ups");
    mark = log.n;
    of_octo_deployment d;
    of_octo_deploy_req req = {.release_id = tg.rel.id, .environment_id = tg.env.id};
    CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
    CHECK(log.n > mark && log.a[log.n - 1].route == OF_OCTO_ROUTE_DEPLOYMENTS &&
          log.a[log.n - 1].status / 100 == 2);
    mark = log.n;
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks/{id}\",\"status\":503,\"count\":1}");
    of_octo_task t = {0};
    CHECK_INT(of_octo_get_task(c, NULL, d.task_id, &t, es, sizeof(es)), OF_OK);
    const of_octo_attempt_info retried[] = {{OF_OCTO_ROUTE_TASKS, 503, false, 0},
                                            {OF_OCTO_ROUTE_TASKS, 200, true, 0}};
    check_attempts(&log, mark, retried, 2, "a task read answered 503, then retried");
    of_octo_task_clear(&t);
    mark = log.n;
    CHECK_INT(of_octo_cancel_task(c, NULL, d.task_id, &t, es, sizeof(es)), OF_OK);
    const of_octo_attempt_info cancel[] = {{OF_OCTO_ROUTE_TASK_CANCEL, 200, false, 0}};
    check_attempts(&log, mark, cancel, 1, "cancel");
    of_octo_task_clear(&t);
    mark = log.n;
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks/{id}\",\"drop\":true,\"count\":-1}");
    CHECK(of_octo_get_task(c, NULL, d.task_id, &t, es, sizeof(es)) != OF_OK);
    ofsim_clear_faults(sim);
    CHECK(log.n > mark + 1); /* retried until the deadline */
    for (size_t i = mark; i < log.n; i++)
        CHECK(log.a[i].route == OF_OCTO_ROUTE_TASKS && log.a[i].status == 0 &&
              log.a[i].retry == (i > mark));
    of_octo_task_clear(&t);
    of_octo_deployment_clear(&d);
    free_target(&tg);
    of_octo_destroy(c);
}

static void test_task_cap(ofsim *sim, of_octo *c)
{
    char es[1024];
    CHECK_INT(ofsim_set_task_cap(sim, 2), OF_OK);
    target tg;
    find_target(c, "Paced", "Development", "1.0.0", &tg);
    /* Five tenants, so no concurrency tag serialises them: only the cap does. */
    char *ids[5] = {0};
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "Tenant %02d", i + 11);
        of_octo_tenant t;
        of_octo_deployment d;
        CHECK_INT(of_octo_find_tenant(c, NULL, name, &t, es, sizeof(es)), OF_OK);
        of_octo_deploy_req req = {
            .release_id = tg.rel.id, .environment_id = tg.env.id, .tenant_id = t.id};
        CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
        ids[i] = d.task_id;
        d.task_id = NULL;
        of_octo_deployment_clear(&d);
        of_octo_tenant_clear(&t);
    }
    int max_exec = 0, max_queued = 0, final = 0;
    of_octo_task_list l = {0};
    int64_t deadline = of_now_ms() + 30000;
    while (of_now_ms() < deadline && final < 5) {
        of_octo_task_list_clear(&l);
        if (of_octo_get_tasks(c, NULL, (const char *const *)ids, 5, &l, es, sizeof(es))) break;
        int exec = 0, queued = 0;
        final = 0;
        for (size_t i = 0; i < l.n; i++) {
            exec += l.items[i].state == OF_OCTO_TASK_EXECUTING;
            queued += l.items[i].state == OF_OCTO_TASK_QUEUED;
            final += of_octo_task_state_is_final(l.items[i].state);
        }
        if (exec > max_exec) max_exec = exec;
        if (queued > max_queued) max_queued = queued;
        if (ofsim_task_count(sim, "Executing") > max_exec)
            max_exec = ofsim_task_count(sim, "Executing");
        sleep_ms(20);
    }
    CHECK_INT(final, 5);
    CHECK(max_exec <= 2);
    CHECK(max_queued >= 1); /* the cap really held some back */
    /* Proof from the server's own times: never more than 2 overlapped. */
    for (size_t i = 0; i < l.n; i++) {
        CHECK_INT(l.items[i].state, OF_OCTO_TASK_SUCCESS);
        int overlap = 0;
        for (size_t k = 0; k < l.n; k++)
            overlap += l.items[k].start_time_ms <= l.items[i].start_time_ms &&
                       l.items[i].start_time_ms < l.items[k].completed_time_ms;
        CHECK(overlap <= 2);
    }
    fprintf(stderr, "measure: task cap 2, 5 deployments: max executing seen %d, max queued %d\n",
            max_exec, max_queued);
    of_octo_task_list_clear(&l);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    CHECK_INT(ofsim_set_task_cap(sim, 5), OF_OK);
    free_target(&tg);
}

/* ---- TLS ---------------------------------------------------------------------- */

static void test_tls(void)
{
    char dir[] = "/tmp/octo-tls-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char cert[128], key[128], cmd[1024];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    CHECK_INT(system(cmd), 0);
    ofsim *sim = start_sim(cert, key);
    CHECK(sim != NULL);
    if (sim) {
        char es[1024];
        CHECK(strncmp(ofsim_url(sim), "https://", 8) == 0);
        /* Verification is on by default: a self-signed server is refused. */
        of_octo *c = client(sim, KEY_ALL);
        if (c) {
            CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_ERR_NETWORK);
            CHECK_CONTAINS(es, "certificate");
            CHECK_CONTAINS(es, "CA bundle option");
            of_octo_stats st;
            of_octo_get_stats(c, &st);
            CHECK_INT(st.retries, 0);
            of_octo_destroy(c);
        }
        /* Trusted through the CA bundle option. */
        of_octo_opts o = sim_opts(sim, KEY_ALL);
        o.ca_file = cert;
        c = client_opts(o);
        if (c) {
            CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_OK);
            of_octo_project p;
            CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
            of_octo_project_clear(&p);
            of_octo_destroy(c);
        }
        /* A CA bundle that cannot be read is a configuration error. */
        o.ca_file = "/nonexistent/ca.pem";
        c = client_opts(o);
        if (c) {
            CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_ERR_CONFIG);
            of_octo_destroy(c);
        }
        ofsim_stop(sim);
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---- hostile replies (docs/octopus.md, "Bounds") ---------------------------------- */

/* The error names the route and never carries the key. */
static void check_protocol(of_err rc, const char *es, const char *route, const char *why)
{
    CHECK_INT(rc, OF_ERR_PROTOCOL);
    CHECK_CONTAINS(es, route);
    CHECK_CONTAINS(es, why);
    CHECK(strstr(es, KEY_ALL) == NULL);
}

static void test_lying_pager(ofsim *sim)
{
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.seed = 5;
    o.page_size = 10;
    o.max_pages = 6;
    of_octo *c = connected_opts(o);
    if (!c) return;
    char es[1024];
    const char *proj_route = "GET /api/{space}/projects", *ten_route = "GET /api/{space}/tenants",
               *dep_route = "GET /api/{space}/deployments";
    of_octo_project p;
    of_octo_tenant t;
    of_octo_tenant_list tl;
    of_octo_deployment d;

    /* find by name: the short page says the collection ended, TotalResults says 1000 more. */
    add_fault(sim, "{\"route\":\"GET /api/{space}/projects\",\"total_results\":60,\"count\":-1}");
    long before = count(sim, proj_route);
    of_err rc = of_octo_find_project(c, NULL, "Schema", &p, es, sizeof(es));
    fprintf(stderr, "measure: lying pager on find project -> %s\n", es);
    check_protocol(rc, es, "GET /api/Spaces-1/projects?partialName=Schema",
                   "TotalResults promises 60");
    CHECK(count(sim, proj_route) - before <= 6);
    ofsim_clear_faults(sim);
    CHECK_INT(of_octo_find_project(c, NULL, "Schema", &p, es, sizeof(es)), OF_OK);
    of_octo_project_clear(&p);

    /* Tenants listing: promises 5000 (500 pages of 10): refused at the first page, not after
     * the cap's worth of requests. */
    add_fault(sim, "{\"route\":\"GET /api/{space}/tenants\",\"total_results\":5000,\"count\":-1}");
    before = count(sim, ten_route);
    of_octo_tenant_query q = {0};
    rc = of_octo_list_tenants(c, NULL, &q, &tl, es, sizeof(es));
    fprintf(stderr, "measure: lying pager on list tenants -> %s\n", es);
    check_protocol(rc, es, "GET /api/Spaces-1/tenants?skip=0&take=10", "max_pages");
    CHECK_INT(count(sim, ten_route) - before, 1);

    /* A server that ignores skip: full pages for ever, caught at the second page. */
    ofsim_clear_faults(sim);
    add_fault(sim, "{\"route\":\"GET /api/{space}/tenants\",\"ignore_skip\":true,\"count\":-1}");
    before = count(sim, ten_route);
    rc = of_octo_list_tenants(c, NULL, &q, &tl, es, sizeof(es));
    check_protocol(rc, es, "GET /api/Spaces-1/tenants?skip=10&take=10", "ignores skip");
    CHECK_INT(count(sim, ten_route) - before, 2);
    /* ... and on a find by name, which reads until it finds the name */
    before = count(sim, ten_route);
    rc = of_octo_find_tenant(c, NULL, "Tenant", &t, es, sizeof(es)); /* 40 look-alikes */
    check_protocol(rc, es, "GET /api/Spaces-1/tenants?partialName=Tenant&skip=10", "ignores skip");
    CHECK(count(sim, ten_route) - before <= 6);

    /* Both: honest-looking totals within the cap but every page the first: the cap and the
     * repeat check bound it; without the repeat check the cap (6 pages) would. */
    ofsim_clear_faults(sim);
    add_fault(sim, "{\"route\":\"GET /api/{space}/tenants\",\"ignore_skip\":true,"
                   "\"total_results\":55,\"count\":-1}");
    before = count(sim, ten_route);
    rc = of_octo_list_tenants(c, NULL, &q, &tl, es, sizeof(es));
    CHECK_INT(rc, OF_ERR_PROTOCOL);
    CHECK(count(sim, ten_route) - before <= 6);
    ofsim_clear_faults(sim);
    CHECK_INT(of_octo_list_tenants(c, NULL, &q, &tl, es, sizeof(es)), OF_OK);
    CHECK_INT(tl.n, 48);
    of_octo_tenant_list_clear(&tl);

    /* The worker's adoption look-up pages through deployments. */
    CHECK_INT(of_octo_find_project(c, NULL, "Billing", &p, es, sizeof(es)), OF_OK);
    add_fault(sim,
              "{\"route\":\"GET /api/{space}/deployments\",\"total_results\":500,\"count\":-1}");
    of_octo_deploy_query dq = {.project_id = p.id};
    before = count(sim, dep_route);
    rc = find_by_job(c, NULL, &dq, NULL, "job=no-such-job", &d, es, sizeof(es));
    fprintf(stderr, "measure: lying pager on adoption look-up -> %s\n", es);
    check_protocol(rc, es, "GET /api/Spaces-1/deployments?projects=", "TotalResults");
    CHECK(count(sim, dep_route) - before <= 6);
    ofsim_clear_faults(sim);
    CHECK_INT(find_by_job(c, NULL, &dq, NULL, "job=no-such-job", &d, es, sizeof(es)),
              OF_ERR_NOT_FOUND);
    of_octo_project_clear(&p);
    of_octo_destroy(c);

    /* The listing deadline: slow pages that would each be fine end the listing. */
    o.list_deadline_ms = 600;
    o.max_pages = 0;
    c = client_opts(o);
    if (c && of_octo_connect(c, es, sizeof(es)) == OF_OK) {
        add_fault(sim, "{\"route\":\"GET /api/{space}/tenants\",\"latency_ms\":250,\"count\":-1}");
        int64_t t0 = of_now_ms();
        rc = of_octo_list_tenants(c, NULL, &q, &tl, es, sizeof(es));
        int64_t took = of_now_ms() - t0;
        fprintf(stderr, "measure: list deadline 0.6 s -> %lld ms: %s\n", (long long)took, es);
        CHECK_INT(rc, OF_ERR_TIMEOUT);
        CHECK_CONTAINS(es, "list deadline");
        CHECK(took < 3000);
        ofsim_clear_faults(sim);
    }
    of_octo_destroy(c);
}

/* Three tasks, the middle one undecodable in a given way; returns the list. */
static void poll_three(of_octo *c, char **ids, of_octo_task_list *l)
{
    char es[1024];
    CHECK_INT(of_octo_get_tasks(c, NULL, (const char *const *)ids, 3, l, es, sizeof(es)), OF_OK);
    CHECK_INT(l->n, 3);
}

static void unreadable_cases(ofsim *sim, of_octo *c, char **ids);

static void test_unreadable_task(ofsim *sim)
{
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.seed = 9;
    o.task_unreadable_ms = 300;
    o.warn_interval_ms = 60000;
    of_octo *c = connected_opts(o);
    if (!c) return;
    char es[1024];
    target tg;
    find_target(c, "Slow", "Development", "1.0.0", &tg);
    char *ids[3] = {NULL, NULL, NULL};
    of_octo_deploy_req req = {.release_id = tg.rel.id, .environment_id = tg.env.id};
    for (int i = 0; i < 3; i++) {
        of_octo_deployment d;
        CHECK_INT(of_octo_create_deployment(c, NULL, &req, &d, es, sizeof(es)), OF_OK);
        ids[i] = d.task_id;
        d.task_id = NULL;
        of_octo_deployment_clear(&d);
    }
    /* The engine starts a task after its create returns (and Slow's tag runs one at a time,
     * behind any Slow task an earlier case is still cancelling): the cases expect the first
     * task Executing, so wait for that rather than assume it. */
    int64_t deadline = of_now_ms() + 20000;
    bool running = false;
    while (ids[0] && !running && of_now_ms() < deadline) {
        of_octo_task t;
        if (of_octo_get_task(c, NULL, ids[0], &t, es, sizeof(es)) != OF_OK) break;
        running = t.state == OF_OCTO_TASK_EXECUTING;
        of_octo_task_clear(&t);
        if (!running) sleep_ms(10);
    }
    CHECK(running);
    if (running && ids[1] && ids[2]) unreadable_cases(sim, c, ids);
    for (int i = 0; i < 3; i++) {
        if (!ids[i]) continue;
        of_octo_task ct;
        if (of_octo_cancel_task(c, NULL, ids[i], &ct, es, sizeof(es)) == OF_OK)
            of_octo_task_clear(&ct);
        free(ids[i]);
    }
    free_target(&tg);
    of_octo_destroy(c);
}

static void unreadable_cases(ofsim *sim, of_octo *c, char **ids)
{
    char fault[512];
    static const struct {
        const char *how;
        const char *want; /* in the problem */
    } cases[] = {
        {"state_number", "field \"State\": expected a string, got a number"},
        {"state_unknown", "unknown task state \"Exploded\\x07\""},
        {"no_id", "an item without a string \"Id\""},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snprintf(fault, sizeof(fault),
                 "{\"route\":\"GET /api/{space}/tasks\",\"corrupt_task\":\"%s\","
                 "\"corrupt_how\":\"%s\",\"count\":1}",
                 ids[1], cases[k].how);
        add_fault(sim, fault);
        of_octo_task_list l;
        poll_three(c, ids, &l);
        if (l.n == 3) {
            fprintf(stderr, "measure: corrupt_how=%s -> %s\n", cases[k].how,
                    l.items[1].problem ? l.items[1].problem : "(none)");
            CHECK(l.items[0].found && !l.items[0].unreadable);
            CHECK(l.items[2].found && !l.items[2].unreadable);
            CHECK_STR(of_octo_task_state_name(l.items[0].state), "Executing");
            CHECK(!l.items[1].found && l.items[1].unreadable && !l.items[1].give_up);
            CHECK_STR(l.items[1].id, ids[1]);
            CHECK_CONTAINS(l.items[1].problem, "GET /api/Spaces-1/tasks?ids=");
            CHECK_CONTAINS(l.items[1].problem, cases[k].want);
            CHECK_CONTAINS(l.items[1].problem, "the server sent: {");
            CHECK_INT(l.unreadable, 1);
            CHECK_INT(l.missing, 0);
        }
        of_octo_task_list_clear(&l);
        /* the next poll is clean: the streak ends */
        poll_three(c, ids, &l);
        CHECK_INT(l.unreadable, 0);
        of_octo_task_list_clear(&l);
    }

    /* A 200 that is not a task page at all: every task of the chunk unreadable, the call OK. */
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks\",\"status\":200,"
                   "\"error\":\"maintenance\\npage\",\"count\":1}");
    of_octo_task_list l;
    poll_three(c, ids, &l);
    CHECK_INT(l.unreadable, 3);
    if (l.n == 3) {
        CHECK_CONTAINS(l.items[2].problem,
                       "the server sent: {\"ErrorMessage\":\"maintenance\\\\npage");
        CHECK(strchr(l.items[2].problem, '\n') == NULL);
    }
    of_octo_task_list_clear(&l);
    poll_three(c, ids, &l); /* clean again: every streak ends */
    CHECK_INT(l.unreadable, 0);
    of_octo_task_list_clear(&l);

    /* Stays unreadable: given up after the bound (300 ms and 3 polls), the others unharmed. */
    snprintf(fault, sizeof(fault),
             "{\"route\":\"GET /api/{space}/tasks\",\"corrupt_task\":\"%s\",\"count\":-1}", ids[1]);
    add_fault(sim, fault);
    int64_t t0 = of_now_ms(), deadline = t0 + 10000;
    int polls = 0;
    bool gave_up = false;
    while (!gave_up && of_now_ms() < deadline) {
        poll_three(c, ids, &l);
        polls++;
        if (l.n == 3) {
            CHECK(l.items[0].found && l.items[2].found);
            gave_up = l.items[1].give_up;
            if (gave_up) {
                CHECK(l.items[1].unreadable_ms >= 300);
                CHECK(l.items[1].unreadable_polls >= OF_OCTO_UNREADABLE_POLLS);
                CHECK_INT(l.items[1].unreadable_polls, polls);
            }
        }
        of_octo_task_list_clear(&l);
        if (!gave_up) sleep_ms(20); /* the caller's poll interval */
    }
    fprintf(stderr, "measure: unreadable task given up after %d polls, %lld ms\n", polls,
            (long long)(of_now_ms() - t0));
    CHECK(gave_up);
    CHECK(of_now_ms() - t0 >= 300);
    ofsim_clear_faults(sim);
}

static void test_endless_body(ofsim *sim)
{
    of_octo_opts o = sim_opts(sim, KEY_ALL);
    o.seed = 4;
    o.max_response_bytes = 1 << 20;
    o.request_timeout_ms = 400;
    o.connect_timeout_ms = 400;
    o.retry_deadline_ms = 1200;
    o.retry_base_ms = 50;
    of_octo *c = connected_opts(o);
    if (!c) return;
    char es[1024];
    of_octo_project p;
    CHECK_INT(of_octo_find_project(c, NULL, "Schema", &p, es, sizeof(es)), OF_OK);
    long requests = 0;

    /* As fast as we read: the response cap stops it, not retried. */
    int64_t t0 = of_now_ms();
    CHECK_INT(release_with_fault(sim, c, &p, "\"endless_body\":true,\"count\":-1", &requests, es,
                                 sizeof(es)),
              OF_ERR_TOO_LARGE);
    int64_t took = of_now_ms() - t0;
    fprintf(stderr, "measure: endless body -> %lld ms: %s\n", (long long)took, es);
    CHECK_CONTAINS(es, "reply larger than the 1048576-byte cap");
    CHECK_INT(requests, 1);
    CHECK(took < 5000);
    ofsim_clear_faults(sim);

    /* A trickle that never ends: the attempt timeout, then the retry deadline, stop it. */
    t0 = of_now_ms();
    CHECK_INT(release_with_fault(sim, c, &p,
                                 "\"endless_body\":true,\"slow_body_ms\":50,\"count\":-1",
                                 &requests, es, sizeof(es)),
              OF_ERR_TIMEOUT);
    took = of_now_ms() - t0;
    fprintf(stderr, "measure: endless trickle -> %lld ms: %s\n", (long long)took, es);
    CHECK(took < 1200 + 3000);
    ofsim_clear_faults(sim);

    /* On a task poll, an endless reply makes that chunk's tasks unreadable, not the call fail. */
    add_fault(sim, "{\"route\":\"GET /api/{space}/tasks\",\"endless_body\":true,\"count\":1}");
    const char *ids[] = {"ServerTasks-1", "ServerTasks-2"};
    of_octo_task_list l;
    CHECK_INT(of_octo_get_tasks(c, NULL, ids, 2, &l, es, sizeof(es)), OF_OK);
    CHECK_INT(l.unreadable, 2);
    if (l.n == 2) CHECK_CONTAINS(l.items[1].problem, "reply larger than the 1048576-byte cap");
    of_octo_task_list_clear(&l);
    ofsim_clear_faults(sim);
    of_octo_project_clear(&p);
    of_octo_destroy(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemons do (octopus.h) */
    char es[256];
    if (of_octo_global_init(es, sizeof(es))) {
        fprintf(stderr, "%s\n", es);
        return 1;
    }
    ofsim *sim = start_sim(NULL, NULL);
    CHECK(sim != NULL);
    if (sim) {
        test_connect_and_names(sim);
        test_auth(sim);
        with_client(sim, test_releases_and_lifecycle);
        test_retries(sim);
        test_queue_not_deadline(sim);
        with_client(sim, test_poll_fd);
        with_client(sim, test_ambiguous_create);
        with_client(sim, test_ambiguous_create_read_callback);
        with_client(sim, test_events_and_lookups);
        with_client(sim, test_cancel);
        test_observer(sim);
        with_client(sim, test_task_cap);
        test_many_tasks(sim);
        test_lying_pager(sim);
        test_unreadable_task(sim);
        test_endless_body(sim);
        with_client(sim, test_interruptions);
        ofsim_stop(sim);
    }
    test_tls();
    of_octo_global_cleanup();
    return TEST_DONE();
}
