/* The ofsim library in-process: every fixture error names its JSON path
 * (table-driven), the embedding API (start/port/url/stop, two simulators in
 * one process, the admin calls) and a raw HTTP round trip on the listener.
 * The HTTP API itself is covered by tests/sim/test_sim.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"
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

int main(void)
{
    test_bad_fixtures();
    test_embedding();
    test_task_peaks_and_events();
    return TEST_DONE();
}
