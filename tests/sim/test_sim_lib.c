/* The ofsim library in-process: every fixture error names its JSON path
 * (table-driven), the embedding API (start/port/url/stop, two simulators in
 * one process, the admin calls), a raw HTTP round trip on the listener, and
 * the kept texts: every reply built from them is byte for byte the reply
 * jansson builds. The HTTP API itself is covered by tests/sim/test_sim.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "sim.h"
#include "sim_int.h" /* the switch that turns the kept texts off */
#include "test.h"

/* A valid one-space world; cases below break one thing each. */
#define ENVS "\"environments\":[\"Dev\",\"Prod\"]"
#define LC                                                                                      \
    "\"lifecycles\":[{\"name\":\"L\",\"phases\":[{\"name\":\"a\",\"environments\":[\"Dev\"]},{" \
    "\"name\":\"b\",\"environments\":[\"Prod\"]}]}]"
#define TAGS "\"tagsets\":[{\"name\":\"Ring\",\"tags\":[\"Beta\"]}]"
#define PROJ                                                                                     \
    "\"projects\":[{\"name\":\"P\",\"tenanted\":\"Tenanted\",\"releases\":[\"1.0\"]},{\"name\":" \
    "\"U\",\"releases\":[\"1.0\"]}]"
#define TEN                                          \
    "\"tenants\":[{\"name\":\"T\",\"tags\":[\"Ring/" \
    "Beta\"],\"projects\":{\"P\":[\"Dev\",\"Prod\"]}}]"
#define SPACE(extra) \
    "{\"spaces\":[{\"name\":\"S\"," ENVS "," LC "," TAGS "," PROJ "," TEN extra "}]"
#define GOOD                                                                              \
    SPACE(",\"history\":[{\"project\":\"P\",\"release\":\"1.0\",\"environment\":\"Dev\"," \
          "\"tenant\":\"T\"}]")                                                           \
    ",\"api_keys\":[{\"key\":\"API-K1\"}]}"

static const struct {
    const char *json;
    const char *want; /* substring of the error */
} bad_fixtures[] = {
    {"not json", "fixture JSON line 1"},
    {"{\"spaces\":[{\"name\":\"S\"}],}", "fixture JSON line"},
    {"{\"spaces\":[{\"name\":\"S\"}],\"spaces\":[]}", "duplicate object key"},
    {"{}", "fixture spaces: at least one space is required"},
    {"{\"spaces\":[{\"name\":\"S\"}],\"bogus\":1}", "(top level): unknown field \"bogus\""},
    {"{\"spaces\":[{\"environments\":[\"E\"]}]}", "spaces[0]: missing \"name\""},
    {"{\"spaces\":[{\"name\":\"S\",\"environments\":[\"E\",\"e\"]}]}",
     "spaces[0].environments[1]: duplicate environment"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS ",\"lifecycles\":[{\"name\":\"L\",\"phases\":[{\"name\":"
     "\"a\",\"environments\":[\"Nope\"]}]}]}]}",
     "spaces[0].lifecycles[0].phases[0].environments[0]: unknown environment"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS ",\"lifecycles\":[{\"name\":\"L\",\"phases\":[{\"name\":"
     "\"a\",\"environments\":[\"Dev\"],\"minimum\":2}]}]}]}",
     "spaces[0].lifecycles[0].phases[0]: \"minimum\" 2 exceeds"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"P\",\"lifecycle\":"
     "\"X\"}]}]}",
     "spaces[0].projects[0].lifecycle: unknown lifecycle \"X\""},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS ",\"projects\":[{\"name\":\"P\"}]}]}",
     "spaces[0].projects[0]: no \"lifecycle\" given and the space has none"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"P\",\"tenanted\":"
     "\"yes\"}]}]}",
     "spaces[0].projects[0]: \"tenanted\" must be"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"P\",\"releases\":"
     "[\"1\",\"1\"]}]}]}",
     "spaces[0].projects[0].releases[1]: duplicate release version"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC "," TAGS "," PROJ ",\"tenants\":[{\"name\":\"T\","
     "\"tags\":[\"Ring/Alpha\"]}]}]}",
     "spaces[0].tenants[0].tags[0]: unknown tag"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC "," PROJ ",\"tenants\":[{\"name\":\"T\","
     "\"projects\":{\"U\":[\"Dev\"]}}]}]}",
     "spaces[0].tenants[0].projects.U: project is Untenanted"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC "," PROJ ",\"tenants\":[{\"name\":\"T\","
     "\"projects\":{\"P\":[\"Staging\"]}}]}]}",
     "spaces[0].tenants[0].projects.P[0]: unknown environment"},
    {SPACE(",\"history\":[{\"project\":\"P\",\"release\":\"2.0\",\"environment\":\"Dev\","
           "\"tenant\":\"T\"}]") "}",
     "spaces[0].history[0]: project P has no release \"2.0\""},
    {SPACE(",\"history\":[{\"project\":\"P\",\"release\":\"1.0\",\"environment\":\"Dev\"}]") "}",
     "spaces[0].history[0]: project P is Tenanted; a tenant is required"},
    {SPACE(",\"history\":[{\"project\":\"U\",\"release\":\"1.0\",\"environment\":\"Dev\","
           "\"tenant\":\"T\"}]") "}",
     "spaces[0].history[0]: project U is Untenanted but a tenant is given"},
    {SPACE("") ",\"rules\":[{\"outcome\":\"maybe\"}]}", "fixture rules[0]: \"outcome\" must be"},
    {SPACE("") ",\"rules\":[{\"duration_ms\":[5,1]}]}", "fixture rules[0]: \"duration_ms\""},
    {SPACE("") ",\"rules\":[{\"fail_percent\":101}]}", "fixture rules[0]: \"fail_percent\""},
    {SPACE("") ",\"rules\":[{\"project\":\"P\",\"colour\":1}]}",
     "fixture rules[0]: unknown field \"colour\""},
    /* processes: checked once the space's projects are loaded (a child may come later) */
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"O\",\"process\":["
     "{\"name\":\"x\",\"type\":\"Octopus.DeployRelease\",\"project\":\"Nope\"}]}]}]}",
     "spaces[0].projects[0].process[0]: unknown project \"Nope\""},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"O\",\"process\":["
     "{\"name\":\"x\",\"type\":\"Octopus.Script\",\"start_trigger\":\"Later\"}]}]}]}",
     "spaces[0].projects[0].process[0]: \"start_trigger\" must be one of StartAfterPrevious, "
     "StartWithPrevious"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"O\",\"process\":["
     "{\"name\":\"x\",\"actions\":[{\"type\":\"Octopus.Script\",\"environments\":[\"Mars\"]}]}"
     "]}]}]}",
     "spaces[0].projects[0].process[0].actions[0]: environments[0]: unknown Mars"},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"O\",\"releases\":[{"
     "\"version\":\"1\",\"packages\":{\"x\":\"2.0\"}}],\"process\":[{\"name\":\"x\",\"type\":"
     "\"Octopus.DeployRelease\",\"project\":\"C\"}]},{\"name\":\"C\",\"releases\":[\"1.0\"]}]}]}",
     "spaces[0].projects[0].releases[0]: packages.x: the child project has no release \"2.0\""},
    {"{\"spaces\":[{\"name\":\"S\"," ENVS "," LC ",\"projects\":[{\"name\":\"O\",\"releases\":[{"
     "\"version\":\"1\",\"packages\":{\"y\":\"2.0\"}}]}]}]}",
     "spaces[0].projects[0].releases[0]: packages: no action \"y\" in the project's process"},
    {SPACE("") ",\"api_keys\":[{\"key\":\"API-K\",\"spaces\":[\"Nope\"]}]}",
     "api_keys[0].spaces[0]: unknown space \"Nope\""},
    {SPACE("") ",\"api_keys\":[{\"spaces\":[\"*\"]}]}", "api_keys[0]: missing \"key\""},
    {SPACE("") ",\"task_cap\":0}", "fixture task_cap: \"task_cap\" must be an integer"},
    {"{\"spaces\":[{\"name\":\"S\",\"id\":\"Spaces-1\"},{\"name\":\"S2\",\"id\":\"Spaces-1\"}]}",
     "spaces[1]: duplicate id \"Spaces-1\""},
    {"{\"spaces\":[{\"name\":\"S\",\"is_default\":true},{\"name\":\"S2\",\"is_default\":true}]}",
     "more than one space has \"is_default\": true"},
};

static void test_bad_fixtures(void)
{
    for (size_t i = 0; i < sizeof bad_fixtures / sizeof bad_fixtures[0]; i++) {
        ofsim_opts o = {.fixture_json = bad_fixtures[i].json, .quiet = 1};
        ofsim *sim = (ofsim *)&o; /* must be reset to NULL on failure */
        char err[512] = "";
        of_err rc = ofsim_start(&o, &sim, err, sizeof err);
        CHECK_INT(rc, OF_ERR_CONFIG);
        CHECK(sim == NULL);
        CHECK_CONTAINS(err, bad_fixtures[i].want);
        if (rc == OF_OK) ofsim_stop(sim);
    }
    ofsim_opts both = {.fixture_json = GOOD, .fixture_path = "x.json"};
    ofsim *sim;
    char err[256];
    CHECK_INT(ofsim_start(&both, &sim, err, sizeof err), OF_ERR_CONFIG);
    CHECK_CONTAINS(err, "exactly one");
    ofsim_opts missing = {.fixture_path = "/nonexistent/world.json"};
    CHECK_INT(ofsim_start(&missing, &sim, err, sizeof err), OF_ERR_CONFIG);
    CHECK_CONTAINS(err, "/nonexistent/world.json");
    ofsim_opts tls = {.fixture_json = GOOD, .tls_cert_path = "/nonexistent/cert.pem"};
    CHECK_INT(ofsim_start(&tls, &sim, err, sizeof err), OF_ERR_CONFIG);
    CHECK_CONTAINS(err, "TLS needs both");
    ofsim_opts addr = {.fixture_json = GOOD, .bind_addr = "not-an-address"};
    CHECK_INT(ofsim_start(&addr, &sim, err, sizeof err), OF_ERR_CONFIG);
    CHECK_CONTAINS(err, "bad bind address");
}

/* One HTTP/1.0 request on a fresh socket; returns the status, -1 on error. */
static int raw_http(uint16_t port, const char *request, char *reply, size_t reply_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
        size_t got = 0;
        ssize_t n;
        while (got + 1 < reply_size && (n = read(fd, reply + got, reply_size - 1 - got)) > 0)
            got += (size_t)n;
        reply[got] = '\0';
        if (strncmp(reply, "HTTP/1.", 7) == 0) status = (int)strtol(reply + 9, NULL, 10);
    }
    close(fd);
    return status;
}

static void test_embedding(void)
{
    const char *const keys[] = {"API-EXTRA1", NULL};
    ofsim_opts o = {.fixture_json = GOOD, .task_cap = 3, .api_keys = keys, .quiet = 1};
    ofsim *a = NULL, *b = NULL;
    char err[256] = "";
    CHECK_INT(ofsim_start(&o, &a, err, sizeof err), OF_OK);
    CHECK_INT(ofsim_start(&o, &b, err, sizeof err), OF_OK); /* no global state */
    if (!a || !b) {
        fprintf(stderr, "start failed: %s\n", err);
        ofsim_stop(a);
        ofsim_stop(b);
        return;
    }
    CHECK(ofsim_port(a) > 0 && ofsim_port(a) != ofsim_port(b));
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u", (unsigned)ofsim_port(a));
    CHECK_STR(ofsim_url(a), want);

    char reply[8192];
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/ HTTP/1.0\r\n\r\n", reply, sizeof reply), 200);
    CHECK_CONTAINS(reply, "\"Spaces\"");
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/projects HTTP/1.0\r\n\r\n", reply, sizeof reply),
              401);
    CHECK_INT(raw_http(ofsim_port(a),
                       "GET /api/projects HTTP/1.0\r\nX-Octopus-ApiKey: API-EXTRA1\r\n\r\n", reply,
                       sizeof reply),
              200);
    CHECK_CONTAINS(reply, "\"TotalResults\":2");
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/tasks HTTP/1.0\r\nX-Octopus-ApiKey: API-K1\r\n\r\n",
                       reply, sizeof reply),
              200);
    CHECK_CONTAINS(reply, "\"TotalResults\":1"); /* the one history deployment */
    CHECK_INT(ofsim_request_count(a, "GET /api/{space}/projects"), 2);
    CHECK_INT(ofsim_request_count(a, "GET /api"), 1);
    CHECK_INT(ofsim_request_count(a, NULL), 4);
    CHECK_INT(ofsim_request_count(b, NULL), 0);

    int status = 0;
    char *resp = NULL;
    CHECK_INT(ofsim_admin(a, "GET", "/sim/task-cap", NULL, &status, &resp), OF_OK);
    CHECK_INT(status, 200);
    CHECK_CONTAINS(resp, "\"task_cap\":3");
    free(resp);
    CHECK_INT(ofsim_set_task_cap(a, 7), OF_OK);
    CHECK_INT(ofsim_set_task_cap(a, 0), OF_ERR_INVALID);
    CHECK_INT(ofsim_admin(a, "GET", "/sim/tasks?state=Executing", NULL, &status, &resp), OF_OK);
    CHECK_CONTAINS(resp, "\"task_cap\":7");
    free(resp);
    CHECK_INT(ofsim_admin(a, "GET", "/api/projects", NULL, &status, NULL), OF_ERR_INVALID);
    CHECK_INT(ofsim_admin(a, "GET", "/sim/nope", NULL, &status, NULL), OF_OK);
    CHECK_INT(status, 404);
    CHECK_INT(ofsim_add_fault(a, "{\"route\": \"GET /api\", \"status\": 503}"), OF_OK);
    CHECK_INT(ofsim_add_fault(a, "{\"status\": \"x\"}"), OF_ERR_INVALID);
    CHECK_INT(ofsim_add_fault(a, "not json"), OF_ERR_INVALID);
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/ HTTP/1.0\r\n\r\n", reply, sizeof reply), 503);
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/ HTTP/1.0\r\n\r\n", reply, sizeof reply), 200);
    CHECK_INT(ofsim_add_fault(a, "{\"route\": \"GET /api\", \"status\": 500, \"count\": -1}"),
              OF_OK);
    ofsim_clear_faults(a);
    CHECK_INT(raw_http(ofsim_port(a), "GET /api/ HTTP/1.0\r\n\r\n", reply, sizeof reply), 200);
    CHECK_INT(ofsim_task_count(a, "Success"), 0); /* history is not counted */
    CHECK_INT(ofsim_task_count(a, "Bogus"), 0);
    ofsim_reset(a);
    CHECK_INT(ofsim_request_count(a, NULL), 0);
    CHECK_INT(ofsim_admin(a, "GET", "/sim/task-cap", NULL, &status, &resp), OF_OK);
    CHECK_CONTAINS(resp, "\"task_cap\":3"); /* reset restores the starting cap */
    free(resp);
    ofsim_stop(a);
    ofsim_stop(b);
    ofsim_stop(NULL);
}

/* The per-key peak of live tasks (ofsim_task_peak) and the events the create records. */
static void test_task_peaks_and_events(void)
{
    const char *const keys[] = {"API-EXTRA1", NULL};
    ofsim_opts o = {.fixture_json = GOOD, .api_keys = keys, .quiet = 1};
    ofsim *sim = NULL;
    char err[256] = "", reply[16384];
    CHECK_INT(ofsim_start(&o, &sim, err, sizeof err), OF_OK);
    if (!sim) return;
    CHECK_INT(ofsim_task_peak(sim, "API-K1"), 0);
    CHECK_INT(ofsim_task_peak(sim, "API-UNKNOWN"), -1);
    static const char body[] = "{\"ReleaseId\":\"Releases-1\",\"EnvironmentId\":\"Environments-1\","
                               "\"TenantId\":\"Tenants-1\",\"QueueTime\":"
                               "\"2099-01-01T00:00:00.000+00:00\"}";
    char request[1024];
    snprintf(request, sizeof request,
             "POST /api/deployments HTTP/1.0\r\nX-Octopus-ApiKey: API-K1\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    for (int k = 0; k < 2; k++) /* two queued until 2099: both live at once */
        CHECK_INT(raw_http(ofsim_port(sim), request, reply, sizeof reply), 201);
    CHECK_INT(ofsim_task_peak(sim, "API-K1"), 2);
    CHECK_INT(ofsim_task_peak(sim, "API-EXTRA1"), 0);
    ofsim_task_peak_reset(sim); /* the new peak starts from what is live */
    CHECK_INT(ofsim_task_peak(sim, "API-K1"), 2);
    CHECK_INT(raw_http(ofsim_port(sim),
                       "GET /api/events?eventCategories=DeploymentQueued HTTP/1.0\r\n"
                       "X-Octopus-ApiKey: API-EXTRA1\r\n\r\n",
                       reply, sizeof reply),
              200);
    CHECK_CONTAINS(reply, "\"TotalResults\":3"); /* the history's and the two creates' */
    CHECK_CONTAINS(reply, "\"Id\":\"Events-5\",\"AutoId\":5"); /* newest first */
    ofsim_reset(sim);
    CHECK_INT(ofsim_task_peak(sim, "API-K1"), 0);
    ofsim_stop(sim);
}

/* ---- kept texts ---------------------------------------------------------------- */

/* Names that need escaping (quote, backslash, a control character, non-ASCII, '/'), rules that
 * take tasks through every state a poll can see, and a history deployment. */
#define TEXT_WORLD                                                                      \
    "{\"api_keys\":[{\"key\":\"API-K1\"}],\"task_cap\":10,\"rules\":[{\"tenant\":\"Fa"  \
    "st*\",\"duration_ms\":0},{\"tenant\":\"Bad*\",\"duration_ms\":0,\"outcome\":\"fa"  \
    "il\",\"error\":\"bad \\\"x\\\"\\n\\t/\"},{\"tenant\":\"Hold*\",\"interruption\":"  \
    "true},{\"duration_ms\":3600000}],\"spaces\":[{\"name\":\"S\",\"environments\":[\"" \
    "Prod\"],\"lifecycles\":[{\"name\":\"L\",\"phases\":[{\"name\":\"a\",\"environmen"  \
    "ts\":[\"Prod\"]}]}],\"projects\":[{\"name\":\"P \\\"1\\\"\",\"tenanted\":\"Tenan"  \
    "ted\",\"releases\":[\"1.0\\\\b\"]}],\"tenants\":[{\"name\":\"Fast\",\"projects\""  \
    ":{\"P \\\"1\\\"\":[\"Prod\"]}},{\"name\":\"Bad\",\"projects\":{\"P \\\"1\\\"\":["  \
    "\"Prod\"]}},{\"name\":\"Hold\",\"projects\":{\"P \\\"1\\\"\":[\"Prod\"]}},{\"nam"  \
    "e\":\"Slow \\u0001 \303\251t\303\251/x\",\"projects\":{\"P \\\"1\\\"\":[\"Prod\""  \
    "]}}],\"history\":[{\"project\":\"P \\\"1\\\"\",\"release\":\"1.0\\\\b\",\"enviro"  \
    "nment\":\"Prod\",\"tenant\":\"Fast\"}]}]}"

static void cache_off(ofsim *sim, bool off)
{
    pthread_mutex_lock(&sim->mu);
    sim->text_cache_off = off;
    pthread_mutex_unlock(&sim->mu);
}

static char *get(ofsim *sim, const char *path, int *status)
{
    char *reply = NULL;
    sim_call(sim, "GET", path, "API-K1", NULL, status, &reply);
    return reply;
}

/* GET path with the kept texts, then without: the same status and bytes. A running task's
 * Duration follows the clock, so a pair that straddles a second may differ once: the pair is
 * asked again (three tries); a stale or mis-written text differs every time. */
static void same_both_ways(ofsim *sim, const char *path)
{
    char *on = NULL, *off = NULL;
    int s_on = 0, s_off = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        free(on), free(off);
        cache_off(sim, false);
        on = get(sim, path, &s_on);
        cache_off(sim, true);
        off = get(sim, path, &s_off);
        cache_off(sim, false);
        if (s_on == s_off && on && off && strcmp(on, off) == 0) break;
    }
    OF_TEST_FAIL_IF(!on || !off || s_on != s_off || strcmp(on, off) != 0,
                    "%s: kept texts give %d\n%s\nrendering gives %d\n%s\n", path, s_on,
                    on ? on : "(null)", s_off, off ? off : "(null)");
    free(on), free(off);
}

static void all_same_both_ways(ofsim *sim, const char *stage)
{
    static const char *const paths[] = {
        "/api/Spaces-1/tasks?ids=ServerTasks-1,ServerTasks-2,ServerTasks-3,ServerTasks-4,"
        "ServerTasks-5,ServerTasks-6,ServerTasks-99",
        "/api/tasks",
        "/api/Spaces-1/tasks?skip=1&take=2&active=true",
        "/api/Spaces-1/tasks?skip=40",
        "/api/Spaces-1/tasks/ServerTasks-1",
        "/api/Spaces-1/tasks/ServerTasks-2",
        "/api/Spaces-1/tasks/ServerTasks-3",
        "/api/Spaces-1/tasks/ServerTasks-4",
        "/api/Spaces-1/tasks/ServerTasks-5",
        "/api/Spaces-1/tasks/ServerTasks-6",
        "/api/Spaces-1/tasks/ServerTasks-6/queued-behind",
        "/api/Spaces-1/deployments",
        "/api/Spaces-1/deployments?projects=Projects-1&environments=Environments-1&tenants="
        "Tenants-1,Tenants-2,Tenants-4",
        "/api/Spaces-1/deployments/Deployments-1",
        "/api/Spaces-1/deployments/Deployments-3",
        "/api/Spaces-1/deployments/Deployments-5",
        "/api/Spaces-1/events",
        "/api/Spaces-1/events?fromAutoId=2&skip=1&take=3",
        "/api/Spaces-1/events/Events-1",
        "/api/Spaces-1/events/Events-6",
    };
    printf("kept texts: %s\n", stage);
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        same_both_ways(sim, paths[k]);
}

/* Polls task n until its reply contains want (10 s). */
static bool wait_task(ofsim *sim, int n, const char *want)
{
    char path[64];
    snprintf(path, sizeof path, "/api/Spaces-1/tasks/ServerTasks-%d", n);
    int64_t deadline = of_now_ms() + 10000;
    for (;;) {
        int status;
        char *reply = get(sim, path, &status);
        bool ok = reply && strstr(reply, want);
        free(reply);
        if (ok) return true;
        if (of_now_ms() > deadline) return false;
        struct timespec ms = {0, 2000000};
        nanosleep(&ms, NULL);
    }
}

static void test_kept_texts(void)
{
    /* check_texts: every kept text served is also compared inside the simulator */
    ofsim_opts o = {.fixture_json = TEXT_WORLD, .quiet = 1, .check_texts = 1};
    ofsim *sim = NULL;
    char err[256] = "";
    CHECK_INT(ofsim_start(&o, &sim, err, sizeof err), OF_OK);
    if (!sim) {
        printf("%s\n", err);
        return;
    }
    all_same_both_ways(sim, "history only");
    /* deployments 2..6: Fast, Bad, Hold, Slow twice (the second queues behind the first) */
    static const int tenants[] = {1, 2, 3, 4, 4};
    for (size_t k = 0; k < sizeof tenants / sizeof tenants[0]; k++) {
        char body[256];
        int status = 0;
        snprintf(body, sizeof body,
                 "{\"ReleaseId\":\"Releases-1\",\"EnvironmentId\":\"Environments-1\","
                 "\"TenantId\":\"Tenants-%d\",\"Comments\":\"job \\\"%zu\\\"\","
                 "\"UseGuidedFailure\":%s,\"FormValues\":{\"k\":\"v\\\"1\",\"n\":[1,{}]},"
                 "\"QueueTimeExpiry\":\"2099-01-01T00:00:00.000+00:00\"}",
                 tenants[k], k, k == 1 ? "false" : "true"); /* Bad fails: no guided failure */
        sim_call(sim, "POST", "/api/Spaces-1/deployments", "API-K1", body, &status, NULL);
        CHECK_INT(status, 201);
    }
    all_same_both_ways(sim, "just created");
    CHECK(wait_task(sim, 2, "\"State\":\"Success\""));
    CHECK(wait_task(sim, 3, "\"State\":\"Failed\""));
    CHECK(wait_task(sim, 4, "\"HasPendingInterruptions\":true"));
    CHECK(wait_task(sim, 5, "\"State\":\"Executing\""));
    all_same_both_ways(sim, "succeeded, failed, held, executing, queued behind");
    int status = 0;
    sim_call(sim, "POST", "/api/Spaces-1/tasks/ServerTasks-5/cancel", "API-K1", NULL, &status,
             NULL);
    CHECK_INT(status, 200);
    all_same_both_ways(sim, "cancelling");
    CHECK(wait_task(sim, 5, "\"State\":\"Canceled\""));
    CHECK(wait_task(sim, 6, "\"State\":\"Executing\""));
    all_same_both_ways(sim, "canceled, the next one executing");
    ofsim_reset(sim); /* forgets the created deployments and their texts */
    all_same_both_ways(sim, "after a reset");
    ofsim_stop(sim);
}

int main(void)
{
    test_bad_fixtures();
    test_embedding();
    test_task_peaks_and_events();
    test_kept_texts();
    return TEST_DONE();
}
