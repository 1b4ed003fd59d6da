/* Unit tests for the Octopus client: URL encoding, JSON decoding of every
 * resource, the retry classification table, Retry-After, backoff bounds, task
 * states, task id chunking, request bodies, error texts, and the client's
 * configuration checks. No server needed (one test talks to a closed local
 * port to watch retries give up). */
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "octopus_internal.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- URLs ---------------------------------------------------------------- */

static void test_url_encode(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Billing", "Billing"},
        {"Hosted Beta", "Hosted%20Beta"},
        {"A/B & C?#ü", "A%2FB%20%26%20C%3F%23%C3%BC"},
        {"-._~", "-._~"},
        {"a+b=c,d;e%f", "a%2Bb%3Dc%2Cd%3Be%25f"},
        {"", ""},
        {"Ring/Beta", "Ring%2FBeta"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        of_buf b;
        of_buf_init(&b, 1024);
        CHECK_INT(octo_url_encode(&b, cases[i].in), OF_OK);
        CHECK_STR(b.data ? b.data : "", cases[i].want);
        of_buf_clear(&b);
    }
}

static void test_url_build(void)
{
    of_buf b;
    of_buf_init(&b, 4096);
    CHECK_INT(octo_url_start(&b, "https://octo.example.com/octopus//"), OF_OK);
    CHECK_INT(octo_url_api(&b, "Spaces-1"), OF_OK);
    CHECK_INT(octo_url_lit(&b, "/tenants"), OF_OK);
    CHECK_INT(octo_url_query(&b, "partialName", "A/B & C?#ü"), OF_OK);
    CHECK_INT(octo_url_query(&b, "tags", "Ring/Beta"), OF_OK);
    CHECK_INT(octo_url_query(&b, "tags", "Hosting/Cloud"), OF_OK);
    CHECK_INT(octo_url_query_size(&b, "skip", 200), OF_OK);
    CHECK_STR(b.data, "https://octo.example.com/octopus/api/Spaces-1/tenants"
                      "?partialName=A%2FB%20%26%20C%3F%23%C3%BC&tags=Ring%2FBeta"
                      "&tags=Hosting%2FCloud&skip=200");
    CHECK_INT(octo_url_start(&b, "http://h:1"), OF_OK);
    CHECK_INT(octo_url_api(&b, "Spaces-1"), OF_OK);
    CHECK_INT(octo_url_lit(&b, "/projects"), OF_OK);
    CHECK_INT(octo_url_seg(&b, "Projects-1"), OF_OK);
    CHECK_INT(octo_url_lit(&b, "/releases"), OF_OK);
    CHECK_INT(octo_url_seg(&b, "4.2.0+build/7"), OF_OK);
    CHECK_STR(b.data, "http://h:1/api/Spaces-1/projects/Projects-1/releases/4.2.0%2Bbuild%2F7");
    static const char *const ids[] = {"ServerTasks-1", "ServerTasks-2", "Server Tasks-3"};
    CHECK_INT(octo_url_start(&b, "http://h:1"), OF_OK);
    CHECK_INT(octo_url_query_list(&b, "ids", ids, 3), OF_OK);
    CHECK_STR(b.data, "http://h:1?ids=ServerTasks-1,ServerTasks-2,Server%20Tasks-3");
    /* The cap holds for URLs too. */
    of_buf small;
    of_buf_init(&small, 8);
    CHECK_INT(octo_url_encode(&small, "ü ü ü"), OF_ERR_TOO_LARGE);
    of_buf_clear(&small);
    of_buf_clear(&b);
}

static void test_chunking(void)
{
    static const struct {
        size_t n, chunk, want;
    } cases[] = {
        {1000, 100, 10}, {0, 100, 0},       {1, 100, 1}, {100, 100, 1},
        {101, 100, 2},   {10000, 100, 100}, {7, 1, 7},   {5, 0, 0},
    };
    for (size_t i = 0; i < N(cases); i++)
        CHECK_INT(octo_task_chunks(cases[i].n, cases[i].chunk), cases[i].want);

    /* 1000 ids in chunks of 100: 10 URLs, each id exactly once, take = count. */
    enum { NIDS = 1000, CHUNK = 100 };
    char *store[NIDS];
    for (int i = 0; i < NIDS; i++) {
        store[i] = malloc(32);
        snprintf(store[i], 32, "ServerTasks-%d", i + 1);
    }
    const char *const *ids = (const char *const *)store;
    size_t chunks = octo_task_chunks(NIDS, CHUNK);
    CHECK_INT(chunks, 10);
    int seen = 0;
    for (size_t k = 0; k < chunks; k++) {
        char *url = octo_tasks_url("http://h:1", "Spaces-1", ids, k * CHUNK, CHUNK);
        CHECK(url != NULL);
        if (!url) continue;
        CHECK_CONTAINS(url, "http://h:1/api/Spaces-1/tasks?ids=");
        CHECK_CONTAINS(url, "&skip=0&take=100");
        for (const char *p = strstr(url, "ids="); p && *p && *p != '&'; p++)
            if (*p == ',' || *p == '=') seen++;
        char first[40];
        snprintf(first, sizeof(first), "ids=ServerTasks-%zu,", k * CHUNK + 1);
        CHECK_CONTAINS(url, first);
        free(url);
    }
    CHECK_INT(seen, NIDS);
    /* Never an empty id list: it would ask for every task on the server. */
    CHECK(octo_tasks_url("http://h:1", "Spaces-1", ids, 0, 0) == NULL);
    for (int i = 0; i < NIDS; i++)
        free(store[i]);
}

/* ---- classification --------------------------------------------------------- */

static void test_classify(void)
{
    static const struct {
        int curl;
        long status;
        bool sent, overflow;
        octo_action action;
        of_err err;
        bool applied;
    } cases[] = {
        /* success */
        {CURLE_OK, 200, true, false, OCTO_OK, OF_OK, true},
        {CURLE_OK, 201, true, false, OCTO_OK, OF_OK, true},
        /* transient statuses; 408/429/503 mean "not done", 500/502/504 maybe done */
        {CURLE_OK, 408, true, false, OCTO_RETRY, OF_ERR_HTTP, false},
        {CURLE_OK, 429, true, false, OCTO_RETRY, OF_ERR_HTTP, false},
        {CURLE_OK, 500, true, false, OCTO_RETRY, OF_ERR_HTTP, true},
        {CURLE_OK, 502, true, false, OCTO_RETRY, OF_ERR_HTTP, true},
        {CURLE_OK, 503, true, false, OCTO_RETRY, OF_ERR_HTTP, false},
        {CURLE_OK, 504, true, false, OCTO_RETRY, OF_ERR_HTTP, true},
        /* permanent statuses */
        {CURLE_OK, 400, true, false, OCTO_FAIL, OF_ERR_REJECTED, false},
        {CURLE_OK, 409, true, false, OCTO_FAIL, OF_ERR_REJECTED, false},
        {CURLE_OK, 414, true, false, OCTO_FAIL, OF_ERR_REJECTED, false},
        {CURLE_OK, 431, true, false, OCTO_FAIL, OF_ERR_REJECTED, false},
        {CURLE_OK, 401, true, false, OCTO_FAIL, OF_ERR_AUTH, false},
        {CURLE_OK, 403, true, false, OCTO_FAIL, OF_ERR_AUTH, false},
        {CURLE_OK, 404, true, false, OCTO_FAIL, OF_ERR_NOT_FOUND, false},
        {CURLE_OK, 405, true, false, OCTO_FAIL, OF_ERR_HTTP, false},
        {CURLE_OK, 418, true, false, OCTO_FAIL, OF_ERR_HTTP, false},
        {CURLE_OK, 501, true, false, OCTO_FAIL, OF_ERR_HTTP, true},
        {CURLE_OK, 302, true, false, OCTO_FAIL, OF_ERR_HTTP, false},
        /* network: never sent -> safe to repeat anything */
        {CURLE_COULDNT_CONNECT, 0, false, false, OCTO_RETRY, OF_ERR_NETWORK, false},
        {CURLE_COULDNT_RESOLVE_HOST, 0, false, false, OCTO_RETRY, OF_ERR_NETWORK, false},
        {CURLE_SSL_CONNECT_ERROR, 0, false, false, OCTO_RETRY, OF_ERR_NETWORK, false},
        {CURLE_OPERATION_TIMEDOUT, 0, false, false, OCTO_RETRY, OF_ERR_NETWORK, false},
        /* network after the request went out -> the server may have acted */
        {CURLE_OPERATION_TIMEDOUT, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        {CURLE_GOT_NOTHING, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        {CURLE_RECV_ERROR, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        {CURLE_SEND_ERROR, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        {CURLE_PARTIAL_FILE, 200, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        /* certificates and configuration: retrying cannot help */
        {CURLE_PEER_FAILED_VERIFICATION, 0, false, false, OCTO_FAIL, OF_ERR_NETWORK, false},
        {CURLE_SSL_CACERT_BADFILE, 0, false, false, OCTO_FAIL, OF_ERR_CONFIG, false},
        {CURLE_URL_MALFORMAT, 0, false, false, OCTO_FAIL, OF_ERR_CONFIG, false},
        {CURLE_UNSUPPORTED_PROTOCOL, 0, false, false, OCTO_FAIL, OF_ERR_CONFIG, false},
        /* the cap */
        {CURLE_WRITE_ERROR, 200, true, true, OCTO_FAIL, OF_ERR_TOO_LARGE, true},
        {CURLE_FILESIZE_EXCEEDED, 200, true, false, OCTO_FAIL, OF_ERR_TOO_LARGE, true},
        {CURLE_WRITE_ERROR, 500, true, true, OCTO_FAIL, OF_ERR_TOO_LARGE, true},
        /* libcurl's own re-send of a request on a reused connection that died, refused */
        {CURLE_ABORTED_BY_CALLBACK, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        {CURLE_SEND_FAIL_REWIND, 0, true, false, OCTO_RETRY, OF_ERR_NETWORK, true},
        /* anything else is a network failure, not retried */
        {CURLE_BAD_CONTENT_ENCODING, 0, true, false, OCTO_FAIL, OF_ERR_NETWORK, true},
    };
    for (size_t i = 0; i < N(cases); i++) {
        octo_attempt a = {cases[i].curl, cases[i].status, cases[i].sent, cases[i].overflow};
        octo_verdict v = octo_classify(&a);
        if (v.action != cases[i].action || v.err != cases[i].err ||
            v.maybe_applied != cases[i].applied)
            fprintf(stderr, "case %zu: curl=%d status=%ld\n", i, cases[i].curl, cases[i].status);
        CHECK_INT(v.action, cases[i].action);
        CHECK_INT(v.err, cases[i].err);
        CHECK_INT(v.maybe_applied, cases[i].applied);
        CHECK(v.reason && *v.reason);
    }
}

static void test_retry_after(void)
{
    int64_t base = 1445412480000LL; /* Wed, 21 Oct 2015 07:28:00 GMT */
    static const struct {
        const char *in;
        int64_t now_offset; /* now = base + offset */
        int64_t want;
    } cases[] = {
        {"120", 0, 120000},
        {"0", 0, 0},
        {" 3 ", 0, 3000},
        {"1", 0, 1000},
        {"Wed, 21 Oct 2015 07:28:00 GMT", -5000, 5000},     /* IMF-fixdate */
        {"Wednesday, 21-Oct-15 07:28:00 GMT", -2000, 2000}, /* RFC 850 */
        {"Wed Oct 21 07:28:00 2015", -1000, 1000},          /* asctime */
        {"Wed, 21 Oct 2015 07:28:00 GMT", 60000, 0},        /* in the past: now */
        {"", 0, -1},
        {"-5", 0, -1},
        {"12abc", 0, -1},
        {"1.5", 0, -1},
    };
    for (size_t i = 0; i < N(cases); i++) {
        int64_t got = octo_parse_retry_after(cases[i].in, base + cases[i].now_offset);
        if (got != cases[i].want) fprintf(stderr, "case %zu: \"%s\"\n", i, cases[i].in);
        CHECK_INT(got, cases[i].want);
    }
    CHECK_INT(octo_parse_retry_after(NULL, base), -1);
    /* Absurd values are clamped instead of overflowing. */
    CHECK(octo_parse_retry_after("99999999999999999", base) == -1 ||
          octo_parse_retry_after("99999999999999999", base) <= 86400LL * 365 * 1000);
}

static void test_backoff(void)
{
    uint64_t rnd = 42;
    /* Bounds: [base/2, min(cap, base * 2^attempt)], never below Retry-After. */
    for (int round = 0; round < 200; round++) {
        for (int attempt = 0; attempt < 12; attempt++) {
            int64_t ceiling = 100;
            for (int i = 0; i < attempt && ceiling < 2000; i++)
                ceiling *= 2;
            if (ceiling > 2000) ceiling = 2000;
            int64_t d = octo_retry_delay(attempt, -1, 100, 2000, &rnd);
            CHECK(d >= 50 && d <= ceiling);
            int64_t ra = octo_retry_delay(attempt, 3000, 100, 2000, &rnd);
            CHECK(ra == 3000);
            int64_t small = octo_retry_delay(attempt, 10, 100, 2000, &rnd);
            CHECK(small >= 50 && small <= ceiling);
        }
    }
    /* Jitter: not every delay is the same. */
    int64_t first = octo_retry_delay(5, -1, 100, 2000, &rnd);
    bool varied = false;
    for (int i = 0; i < 50 && !varied; i++)
        varied = octo_retry_delay(5, -1, 100, 2000, &rnd) != first;
    CHECK(varied);
}

/* ---- task states ----------------------------------------------------------- */

static void test_task_states(void)
{
    static const struct {
        const char *name;
        of_err rc;
        of_octo_task_state state;
        bool final;
    } cases[] = {
        {"Queued", OF_OK, OF_OCTO_TASK_QUEUED, false},
        {"Executing", OF_OK, OF_OCTO_TASK_EXECUTING, false},
        {"Cancelling", OF_OK, OF_OCTO_TASK_CANCELLING, false},
        {"Success", OF_OK, OF_OCTO_TASK_SUCCESS, true},
        {"Failed", OF_OK, OF_OCTO_TASK_FAILED, true},
        {"Canceled", OF_OK, OF_OCTO_TASK_CANCELED, true},
        {"TimedOut", OF_OK, OF_OCTO_TASK_TIMED_OUT, true},
        {"New", OF_ERR_PROTOCOL, 0, false},
        {"queued", OF_ERR_PROTOCOL, 0, false},
        {"Cancelled", OF_ERR_PROTOCOL, 0, false},
        {"", OF_ERR_PROTOCOL, 0, false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        of_octo_task_state s = OF_OCTO_TASK_QUEUED;
        CHECK_INT(of_octo_task_state_parse(cases[i].name, &s), cases[i].rc);
        if (cases[i].rc) continue;
        CHECK_INT(s, cases[i].state);
        CHECK_INT(of_octo_task_state_is_final(s), cases[i].final);
        CHECK_STR(of_octo_task_state_name(s), cases[i].name);
    }
    of_octo_task_state s;
    CHECK_INT(of_octo_task_state_parse(NULL, &s), OF_ERR_PROTOCOL);
}

/* ---- JSON decoding --------------------------------------------------------- */

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j) fprintf(stderr, "bad test JSON: %s\n", text);
    return j;
}

/* octo_decode_KIND of json must fail as a protocol error whose text contains want. */
#define CHECK_REFUSED(kind, json, want)                                              \
    do {                                                                             \
        of_octo_##kind out_;                                                         \
        char es_[256] = "";                                                          \
        json_t *j_ = load(json);                                                     \
        CHECK_INT(octo_decode_##kind(j_, &out_, es_, sizeof(es_)), OF_ERR_PROTOCOL); \
        CHECK_CONTAINS(es_, want);                                                   \
        json_decref(j_);                                                             \
    } while (0)

static void test_decode_task(void)
{
    json_t *j = load("{\"Id\":\"ServerTasks-9001\",\"State\":\"Executing\","
                     "\"Description\":\"Deploy Billing\",\"Arguments\":{\"DeploymentId\":"
                     "\"Deployments-2001\"},\"QueueTime\":\"2026-05-05T21:00:03+00:00\","
                     "\"StartTime\":\"2026-05-05T21:00:05+00:00\",\"CompletedTime\":null,"
                     "\"ErrorMessage\":\"\",\"HasPendingInterruptions\":true}");
    of_octo_task t;
    char es[256] = "";
    CHECK_INT(octo_decode_task(j, &t, es, sizeof(es)), OF_OK);
    CHECK_STR(t.id, "ServerTasks-9001");
    CHECK_INT(t.state, OF_OCTO_TASK_EXECUTING);
    CHECK_INT(t.has_pending_interruptions, 1);
    CHECK_STR(t.error_message, "");
    CHECK_STR(t.deployment_id, "Deployments-2001");
    CHECK_STR(t.description, "Deploy Billing");
    CHECK_INT(t.queue_time_ms, 1778014803000LL);
    CHECK_INT(t.start_time_ms, 1778014805000LL);
    CHECK_INT(t.completed_time_ms, -1);
    CHECK(t.found);
    of_octo_task_clear(&t);
    of_octo_task_clear(&t); /* harmless twice */
    json_decref(j);

    /* A queued task: no StartTime at all, ErrorMessage null. */
    j = load("{\"Id\":\"ServerTasks-2\",\"State\":\"TimedOut\",\"ErrorMessage\":null}");
    CHECK_INT(octo_decode_task(j, &t, es, sizeof(es)), OF_OK);
    CHECK_INT(t.state, OF_OCTO_TASK_TIMED_OUT);
    CHECK_INT(t.start_time_ms, -1);
    CHECK_STR(t.error_message, "");
    CHECK_INT(t.has_pending_interruptions, 0);
    CHECK(t.deployment_id == NULL);
    of_octo_task_clear(&t);
    json_decref(j);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"State\":\"Queued\"}", "Task: field \"Id\": expected a string, got nothing"},
        {"{\"Id\":\"ServerTasks-1\"}", "Task ServerTasks-1: field \"State\""},
        {"{\"Id\":\"ServerTasks-1\",\"State\":null}", "got null"},
        {"{\"Id\":\"ServerTasks-1\",\"State\":7}",
         "field \"State\": expected a string, got a number"},
        {"{\"Id\":\"ServerTasks-1\",\"State\":\"Paused\"}", "unknown task state \"Paused\""},
        {"{\"Id\":\"ServerTasks-1\",\"State\":\"Queued\",\"StartTime\":\"yesterday\"}",
         "field \"StartTime\": expected an ISO 8601 timestamp"},
        {"{\"Id\":\"ServerTasks-1\",\"State\":\"Queued\",\"HasPendingInterruptions\":\"no\"}",
         "field \"HasPendingInterruptions\": expected a boolean, got a string"},
        {"{\"Id\":\"ServerTasks-1\",\"State\":\"Queued\",\"ErrorMessage\":[]}",
         "field \"ErrorMessage\": expected a string, got an array"},
        {"[1,2]", "Task: expected a JSON object, got an array"},
        {"{\"Id\":5,\"State\":\"Queued\"}", "field \"Id\": expected a string, got a number"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        j = load(bad[i].json);
        es[0] = '\0';
        CHECK_INT(octo_decode_task(j, &t, es, sizeof(es)), OF_ERR_PROTOCOL);
        CHECK_CONTAINS(es, bad[i].want);
        CHECK(t.id == NULL); /* freed on failure */
        json_decref(j);
    }
}

/* The Event resource: AutoId when sent, else the number in Id (the official models have no
 * AutoId), else -1; RelatedDocumentIds; the first problem named. */
static void test_decode_event(void)
{
    static const struct {
        const char *json;
        int64_t auto_id;
        size_t nrelated;
        const char *want; /* NULL: decodes; else a part of the error */
    } rows[] = {
        {"{\"Id\":\"Events-12\",\"AutoId\":12,\"Category\":\"DeploymentSucceeded\","
         "\"RelatedDocumentIds\":[\"Deployments-7\",\"ServerTasks-7\",\"Projects-1\"],"
         "\"Occurred\":\"2026-05-05T21:00:03.000+00:00\"}",
         12, 3, NULL},
        /* no AutoId (an official model's shape): the Id's number */
        {"{\"Id\":\"Events-4711\",\"Category\":\"TaskCanceled\",\"RelatedDocumentIds\":[]}", 4711,
         0, NULL},
        {"{\"Id\":\"Events-9\",\"AutoId\":null,\"Category\":\"DeploymentFailed\"}", 9, 0, NULL},
        /* AutoId wins over the Id */
        {"{\"Id\":\"Events-9\",\"AutoId\":10,\"Category\":\"DeploymentFailed\"}", 10, 0, NULL},
        /* an Id without a number: no position, still an event */
        {"{\"Id\":\"Events-x\",\"Category\":\"DeploymentFailed\"}", -1, 0, NULL},
        {"{\"Id\":\"Events\",\"Category\":\"DeploymentFailed\"}", -1, 0, NULL},
        {"{\"Id\":\"Events-99999999999999999999\",\"Category\":\"DeploymentFailed\"}", -1, 0, NULL},
        {"{\"Category\":\"DeploymentFailed\"}", 0, 0,
         "Event: field \"Id\": expected a string, got nothing"},
        {"{\"Id\":\"Events-1\"}", 0, 0, "Event Events-1: field \"Category\""},
        {"{\"Id\":\"Events-1\",\"AutoId\":\"1\",\"Category\":\"X\"}", 0, 0,
         "field \"AutoId\": expected an integer >= 0"},
        {"{\"Id\":\"Events-1\",\"AutoId\":-3,\"Category\":\"X\"}", 0, 0,
         "field \"AutoId\": expected an integer >= 0"},
        {"{\"Id\":\"Events-1\",\"Category\":\"X\",\"RelatedDocumentIds\":\"ServerTasks-1\"}", 0, 0,
         "field \"RelatedDocumentIds\""},
        {"{\"Id\":\"Events-1\",\"Category\":\"X\",\"RelatedDocumentIds\":[1]}", 0, 0,
         "RelatedDocumentIds"},
        {"{\"Id\":\"Events-1\",\"Category\":\"X\",\"Occurred\":\"soon\"}", 0, 0,
         "field \"Occurred\": expected an ISO 8601 timestamp"},
        {"[]", 0, 0, "Event: expected a JSON object, got an array"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        json_t *j = load(rows[i].json);
        of_octo_event e;
        char es[256] = "";
        of_err rc = octo_decode_event(j, &e, es, sizeof(es));
        if (!rows[i].want) {
            CHECK_INT(rc, OF_OK);
            if (rc) fprintf(stderr, "row %zu: %s\n", i, es);
            CHECK_INT(e.auto_id, rows[i].auto_id);
            CHECK_INT(e.nrelated, rows[i].nrelated);
            CHECK(e.category != NULL);
        } else {
            CHECK_INT(rc, OF_ERR_PROTOCOL);
            CHECK_CONTAINS(es, rows[i].want);
            CHECK(e.id == NULL); /* freed on failure */
        }
        of_octo_event_clear(&e);
        json_decref(j);
    }
    json_t *j = load(rows[0].json);
    of_octo_event e;
    char es[256];
    CHECK_INT(octo_decode_event(j, &e, es, sizeof(es)), OF_OK);
    CHECK_STR(e.id, "Events-12");
    CHECK_STR(e.category, "DeploymentSucceeded");
    CHECK_STR(e.related[1], "ServerTasks-7");
    CHECK_INT(e.occurred_ms, 1778014803000LL);
    of_octo_event_clear(&e);
    of_octo_event_clear(&e); /* harmless twice */
    json_decref(j);
}

static void test_decode_project_and_refs(void)
{
    char es[256];
    of_octo_project p;
    json_t *j = load("{\"Id\":\"Projects-1\",\"Name\":\"Billing\",\"Slug\":\"billing\","
                     "\"LifecycleId\":\"Lifecycles-1\",\"TenantedDeploymentMode\":\"Tenanted\","
                     "\"IsDisabled\":false}");
    CHECK_INT(octo_decode_project(j, &p, es, sizeof(es)), OF_OK);
    CHECK_STR(p.id, "Projects-1");
    CHECK_STR(p.name, "Billing");
    CHECK_STR(p.lifecycle_id, "Lifecycles-1");
    CHECK_INT(p.tenanted, OF_OCTO_TENANTED);
    of_octo_project_clear(&p);
    json_decref(j);

    static const struct {
        const char *json;
        of_err rc;
        of_octo_tenanted mode;
        const char *err;
    } modes[] = {
        {"{\"Id\":\"P\",\"Name\":\"n\",\"TenantedDeploymentMode\":\"Untenanted\"}", OF_OK,
         OF_OCTO_UNTENANTED, NULL},
        {"{\"Id\":\"P\",\"Name\":\"n\",\"TenantedDeploymentMode\":\"TenantedOrUntenanted\"}", OF_OK,
         OF_OCTO_TENANTED_OR_UNTENANTED, NULL},
        {"{\"Id\":\"P\",\"Name\":\"n\"}", OF_OK, OF_OCTO_UNTENANTED, NULL},
        {"{\"Id\":\"P\",\"Name\":\"n\",\"TenantedDeploymentMode\":\"Sometimes\"}", OF_ERR_PROTOCOL,
         0, "TenantedDeploymentMode\": unknown value \"Sometimes\""},
        {"{\"Id\":\"P\",\"Name\":\"n\",\"TenantedDeploymentMode\":1}", OF_ERR_PROTOCOL, 0,
         "TenantedDeploymentMode\": expected a string"},
        {"{\"Id\":\"P\"}", OF_ERR_PROTOCOL, 0, "Project P: field \"Name\""},
        {"{\"Id\":\"P\",\"Name\":\"n\",\"LifecycleId\":{}}", OF_ERR_PROTOCOL, 0,
         "field \"LifecycleId\": expected a string, got an object"},
    };
    for (size_t i = 0; i < N(modes); i++) {
        j = load(modes[i].json);
        es[0] = '\0';
        CHECK_INT(octo_decode_project(j, &p, es, sizeof(es)), modes[i].rc);
        if (modes[i].rc == OF_OK) CHECK_INT(p.tenanted, modes[i].mode);
        if (modes[i].err) CHECK_CONTAINS(es, modes[i].err);
        of_octo_project_clear(&p);
        json_decref(j);
    }

    of_octo_ref r;
    j = load("{\"Id\":\"Environments-4\",\"Name\":\"Hosted Beta\",\"SortOrder\":4}");
    CHECK_INT(octo_decode_ref(j, "Environment", &r, es, sizeof(es)), OF_OK);
    CHECK_STR(r.id, "Environments-4");
    CHECK_STR(r.name, "Hosted Beta");
    of_octo_ref_clear(&r);
    json_decref(j);
    j = load("{\"Id\":\"Environments-4\",\"Name\":null}");
    CHECK_INT(octo_decode_ref(j, "Environment", &r, es, sizeof(es)), OF_ERR_PROTOCOL);
    CHECK_CONTAINS(es, "Environment Environments-4: field \"Name\": expected a string, got null");
    json_decref(j);

    of_octo_space s;
    j = load("{\"Id\":\"Spaces-1\",\"Name\":\"Default\",\"IsDefault\":true}");
    CHECK_INT(octo_decode_space(j, &s, es, sizeof(es)), OF_OK);
    CHECK_STR(s.name, "Default");
    CHECK_INT(s.is_default, 1);
    of_octo_space_clear(&s);
    json_decref(j);

    of_octo_root root;
    j = load("{\"Application\":\"Octopus Deploy\",\"Version\":\"2026.1.0\","
             "\"Links\":{\"Spaces\":\"/api/spaces{?skip}\"}}");
    CHECK_INT(octo_decode_root(j, &root, es, sizeof(es)), OF_OK);
    CHECK_STR(root.version, "2026.1.0");
    CHECK_INT(root.has_spaces, 1);
    of_octo_root_clear(&root);
    json_decref(j);
    j = load("{\"Application\":\"Octopus Deploy\",\"Links\":{}}");
    CHECK_INT(octo_decode_root(j, &root, es, sizeof(es)), OF_OK);
    CHECK_INT(root.has_spaces, 0);
    of_octo_root_clear(&root);
    json_decref(j);
    CHECK_REFUSED(root, "{\"Links\":[]}", "field \"Links\": expected an object");

    of_octo_release rel;
    j = load("{\"Id\":\"Releases-3\",\"Version\":\"4.2.0\",\"ProjectId\":\"Projects-1\","
             "\"ChannelId\":\"Channels-1\"}");
    CHECK_INT(octo_decode_release(j, &rel, es, sizeof(es)), OF_OK);
    CHECK_STR(rel.version, "4.2.0");
    CHECK_STR(rel.channel_id, "Channels-1");
    of_octo_release_clear(&rel);
    json_decref(j);
    CHECK_REFUSED(release, "{\"Id\":\"Releases-3\",\"ProjectId\":\"Projects-1\"}",
                  "Release Releases-3: field \"Version\"");
}

/* A deployment process (steps, actions, scopes, properties with a sensitive one) and a
 * release's manifest (SelectedPackages, StepName from older servers). */
static void test_decode_process(void)
{
    char es[256];
    of_octo_process p;
    json_t *j = load(
        "{\"Id\":\"deploymentprocess-Projects-9-s-1\",\"ProjectId\":\"Projects-9\",\"Steps\":["
        "{\"Id\":\"s1\",\"Name\":\"Billing\",\"Condition\":\"Success\",\"StartTrigger\":"
        "\"StartWithPrevious\",\"PackageRequirement\":null,\"Actions\":[{\"Id\":\"a1\",\"Name\":"
        "\"Deploy Billing\",\"ActionType\":\"Octopus.Script\",\"IsDisabled\":true,"
        "\"Environments\":[\"Environments-4\"],\"TenantTags\":[\"Ring/Beta\"],\"Properties\":{"
        "\"Chain_ProjectName\":\"Billing\",\"Chain_ApiKey\":{\"HasValue\":true}}}]}]}");
    CHECK_INT(octo_decode_process(j, &p, es, sizeof(es)), OF_OK);
    CHECK_INT(p.nsteps, 1);
    if (p.nsteps == 1 && p.steps[0].nactions == 1) {
        const of_octo_action *a = &p.steps[0].actions[0];
        CHECK_STR(p.steps[0].start_trigger, "StartWithPrevious");
        CHECK(p.steps[0].package_requirement == NULL);
        CHECK_INT(a->is_disabled, 1);
        CHECK_STR(a->environments[0], "Environments-4");
        CHECK_INT(a->ntenant_tags, 1);
        CHECK_STR(of_octo_property_get(a->properties, a->nproperties, "chain_projectname"),
                  "Billing");
        CHECK(of_octo_property_get(a->properties, a->nproperties, "Chain_ApiKey") == NULL);
    }
    of_octo_process_clear(&p);
    json_decref(j);
    CHECK_REFUSED(process,
                  "{\"Id\":\"p\",\"Steps\":[{\"Id\":\"s1\",\"Name\":\"A\",\"Condition\":"
                  "\"Success\",\"StartTrigger\":\"StartAfterPrevious\",\"Actions\":[{\"Id\":"
                  "\"a1\",\"Name\":\"A\"}]}]}",
                  "Deployment action a1: field \"ActionType\"");
    CHECK_REFUSED(process,
                  "{\"Id\":\"p\",\"Steps\":[{\"Id\":\"s1\",\"Name\":\"A\",\"Condition\":"
                  "\"Success\",\"StartTrigger\":\"StartAfterPrevious\",\"Properties\":{\"X\":1}}]}",
                  "field \"Properties.X\": expected a string or a sensitive value");

    of_octo_release_manifest m;
    j = load("{\"Id\":\"Releases-17\",\"Version\":\"2026.18\",\"ProjectId\":\"Projects-9\","
             "\"ProjectDeploymentProcessSnapshotId\":\"deploymentprocess-Projects-9-s-1\","
             "\"SelectedPackages\":[{\"ActionName\":\"Schema\",\"PackageReferenceName\":\"\","
             "\"Version\":\"1.0\"},{\"StepName\":\"Old\",\"Version\":\"2.0\"}]}");
    CHECK_INT(octo_decode_release_manifest(j, &m, es, sizeof(es)), OF_OK);
    CHECK_STR(m.process_snapshot_id, "deploymentprocess-Projects-9-s-1");
    CHECK_INT(m.npackages, 2);
    if (m.npackages == 2) {
        CHECK_STR(m.packages[1].action_name, "Old");
        CHECK_STR(m.packages[1].package_reference_name, "");
        CHECK_STR(m.packages[1].version, "2.0");
    }
    of_octo_release_manifest_clear(&m);
    json_decref(j);
    CHECK_REFUSED(release_manifest,
                  "{\"Id\":\"R\",\"Version\":\"1\",\"ProjectId\":\"P\",\"SelectedPackages\":"
                  "[{\"ActionName\":\"A\"}]}",
                  "field \"SelectedPackages[].Version\"");
}

static void test_decode_tenant(void)
{
    char es[256];
    of_octo_tenant t;
    json_t *j = load("{\"Id\":\"Tenants-40\",\"Name\":\"Contoso\",\"IsDisabled\":false,"
                     "\"TenantTags\":[\"Hosting/Cloud\",\"Ring/Beta\"],"
                     "\"ProjectEnvironments\":{\"Projects-12\":[\"Environments-4\","
                     "\"Environments-6\"],\"Projects-13\":[]}}");
    CHECK_INT(octo_decode_tenant(j, &t, es, sizeof(es)), OF_OK);
    CHECK_STR(t.name, "Contoso");
    CHECK_INT(t.ntags, 2);
    CHECK_STR(t.tags[1], "Ring/Beta");
    CHECK_INT(t.nprojects, 2);
    CHECK(of_octo_tenant_connected(&t, "Projects-12", NULL));
    CHECK(of_octo_tenant_connected(&t, "Projects-12", "Environments-6"));
    CHECK(!of_octo_tenant_connected(&t, "Projects-12", "Environments-5"));
    CHECK(of_octo_tenant_connected(&t, "Projects-13", NULL));
    CHECK(!of_octo_tenant_connected(&t, "Projects-13", "Environments-4"));
    CHECK(!of_octo_tenant_connected(&t, "Projects-1", NULL));
    of_octo_tenant_clear(&t);
    json_decref(j);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"Id\":\"Tenants-1\",\"Name\":\"A\",\"TenantTags\":\"Ring/Beta\"}",
         "Tenant Tenants-1: field \"TenantTags\": expected an array of strings, got a string"},
        {"{\"Id\":\"Tenants-1\",\"Name\":\"A\",\"TenantTags\":[1]}",
         "field \"TenantTags\": expected an array of strings, got a number"},
        {"{\"Id\":\"Tenants-1\",\"Name\":\"A\",\"ProjectEnvironments\":[]}",
         "field \"ProjectEnvironments\": expected an object, got an array"},
        {"{\"Id\":\"Tenants-1\",\"Name\":\"A\",\"ProjectEnvironments\":{\"P\":\"E\"}}",
         "field \"ProjectEnvironments\": expected an array of strings, got a string"},
        {"{\"Id\":\"Tenants-1\",\"Name\":\"A\",\"ProjectEnvironments\":{\"P\":[null]}}",
         "expected an array of strings, got null"},
    };
    for (size_t i = 0; i < N(bad); i++)
        CHECK_REFUSED(tenant, bad[i].json, bad[i].want);
}

static void test_decode_template(void)
{
    char es[256];
    of_octo_template t;
    json_t *j = load("{\"PromoteTo\":[{\"Id\":\"Environments-1\",\"Name\":\"Development\"}],"
                     "\"TenantPromotions\":[{\"Id\":\"Tenants-40\",\"Name\":\"Contoso\","
                     "\"PromoteTo\":[{\"Id\":\"Environments-4\",\"Name\":\"Hosted Beta\"}]},"
                     "{\"Id\":\"Tenants-41\",\"Name\":\"Fabrikam\",\"PromoteTo\":[]}],"
                     "\"IsDeploymentProcessModified\":false}");
    CHECK_INT(octo_decode_template(j, &t, es, sizeof(es)), OF_OK);
    CHECK_INT(t.nenvs, 2); /* each environment once, however many promotions name it */
    CHECK_INT(t.ntenants, 2);
    CHECK(of_octo_template_allows(&t, "Environments-1", NULL));
    CHECK(!of_octo_template_allows(&t, "Environments-4", NULL));
    CHECK(of_octo_template_allows(&t, "Environments-4", "Tenants-40"));
    CHECK(!of_octo_template_allows(&t, "Environments-1", "Tenants-40"));
    CHECK(!of_octo_template_allows(&t, "Environments-4", "Tenants-41"));
    CHECK(!of_octo_template_allows(&t, "Environments-4", "Tenants-99"));
    of_octo_template_clear(&t);
    json_decref(j);

    CHECK_REFUSED(template, "{\"PromoteTo\":[],\"TenantPromotions\":[{\"Name\":\"Contoso\"}]}",
                  "Tenant promotion: field \"Id\"");
    CHECK_REFUSED(template, "{\"PromoteTo\":{}}",
                  "Deployment template: field \"PromoteTo\": expected an array");
    CHECK_REFUSED(template, "{\"PromoteTo\":[{\"Id\":\"Environments-1\"}]}",
                  "Environment reference Environments-1: field \"Name\"");
}

/* More environments than a word holds, tenants out of order: every promotion must answer for
 * its own tenant and environments, and for nobody else's. */
static void test_decode_template_large(void)
{
    enum { ENVS = 70, TENANTS = 300 };
    json_t *tp = json_array();
    for (int i = TENANTS - 1; i >= 0; i--) {
        char tid[32], e1[32], e2[32];
        (void)snprintf(tid, sizeof tid, "Tenants-%d", i);
        (void)snprintf(e1, sizeof e1, "Environments-%d", i % ENVS);
        (void)snprintf(e2, sizeof e2, "Environments-%d", ENVS - 1);
        json_array_append_new(tp,
                              json_pack("{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "Id", tid, "Name", tid,
                                        "PromoteTo", "Id", e1, "Name", e1, "Id", e2, "Name", e2));
    }
    json_t *j = json_pack("{s:[],s:o}", "PromoteTo", "TenantPromotions", tp);
    of_octo_template t;
    char es[256];
    CHECK_INT(octo_decode_template(j, &t, es, sizeof(es)), OF_OK);
    CHECK_INT(t.nenvs, ENVS);
    CHECK_INT(t.words, 2);
    for (int i = 0; i < TENANTS; i += 7) {
        char tid[32], env[32];
        (void)snprintf(tid, sizeof tid, "Tenants-%d", i);
        for (int k = 0; k < ENVS; k++) {
            (void)snprintf(env, sizeof env, "Environments-%d", k);
            CHECK(of_octo_template_allows(&t, env, tid) == (k == i % ENVS || k == ENVS - 1));
        }
        CHECK(!of_octo_template_allows(&t, env, NULL));
    }
    CHECK(!of_octo_template_allows(&t, "Environments-1", "Tenants-9999"));
    of_octo_template_clear(&t);
    json_decref(j);
}

static void test_decode_deployment_and_page(void)
{
    char es[256];
    of_octo_deployment d;
    json_t *j = load("{\"Id\":\"Deployments-2001\",\"ProjectId\":\"Projects-12\","
                     "\"ReleaseId\":\"Releases-101\",\"EnvironmentId\":\"Environments-4\","
                     "\"TenantId\":null,\"TaskId\":\"ServerTasks-9001\","
                     "\"Comments\":\"octofleet job=abc\",\"Created\":\"2026-05-05T21:00:03Z\","
                     "\"Links\":{\"Web\":\"/app#/Spaces-1/deployments/Deployments-2001\"}}");
    CHECK_INT(octo_decode_deployment(j, &d, es, sizeof(es)), OF_OK);
    CHECK_STR(d.task_id, "ServerTasks-9001");
    CHECK(d.tenant_id == NULL);
    CHECK_STR(d.comments, "octofleet job=abc");
    CHECK_STR(d.web_link, "/app#/Spaces-1/deployments/Deployments-2001");
    CHECK_INT(d.created_ms, 1778014803000LL);
    CHECK_INT(d.adopted, 0);
    of_octo_deployment_clear(&d);
    json_decref(j);
    CHECK_REFUSED(deployment,
                  "{\"Id\":\"Deployments-1\",\"ReleaseId\":\"R\",\"EnvironmentId\":\"E\"}",
                  "Deployment Deployments-1: field \"TaskId\"");

    json_t *items;
    size_t total;
    j = load("{\"ItemType\":\"Task\",\"Items\":[{},{}],\"TotalResults\":57}");
    CHECK_INT(octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es)), OF_OK);
    CHECK_INT(json_array_size(items), 2);
    CHECK_INT(total, 57);
    json_decref(j);
    j = load("{\"Items\":[]}");
    CHECK_INT(octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es)), OF_OK);
    CHECK(total == SIZE_MAX);
    json_decref(j);
    j = load("{\"Items\":{}}");
    CHECK_INT(octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es)), OF_ERR_PROTOCOL);
    CHECK_CONTAINS(es, "Tasks: field \"Items\": expected an array, got an object");
    json_decref(j);
    j = load("{\"Items\":[],\"TotalResults\":\"many\"}");
    CHECK_INT(octo_decode_page(j, "Tasks", &items, &total, es, sizeof(es)), OF_ERR_PROTOCOL);
    CHECK_CONTAINS(es, "field \"TotalResults\": expected an integer");
    json_decref(j);

    CHECK_INT(octo_parse_body("{\"a\":", 5, NULL, &j, es, sizeof(es)), OF_ERR_PROTOCOL);
    CHECK_CONTAINS(es, "reply is not valid JSON");
    CHECK_INT(octo_parse_body("<html>", 6, NULL, &j, es, sizeof(es)), OF_ERR_PROTOCOL);
}

/* The pager's self-consistency check on one page (take 100 throughout). */
static void test_page_check(void)
{
    static const struct {
        size_t skip, got, total;
        const char *want; /* NULL = consistent */
    } cases[] = {
        {0, 0, 0, NULL},         /* empty collection */
        {0, 40, 40, NULL},       /* one short page, all of it */
        {0, 100, 250, NULL},     /* a full page, more to come */
        {200, 50, 250, NULL},    /* the last page */
        {300, 0, 250, NULL},     /* past the end: items went away meanwhile */
        {0, 40, SIZE_MAX, NULL}, /* no TotalResults: a short page ends it */
        {0, 3, 60, "a short page at skip=0 (3 of take=100) but TotalResults promises 60"},
        {100, 0, 1000, "an empty page at skip=100 (0 of take=100) but TotalResults promises 1000"},
        {0, 101, 500, "101 items for take=100"},
        {0, 101, SIZE_MAX, "101 items for take=100"},
        {200, 10, 150, "10 item(s) at skip=200 but TotalResults is 150"},
        {0, 5, 3, "5 item(s) at skip=0 but TotalResults is 3"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char es[256] = "";
        of_err rc =
            octo_page_check(cases[i].skip, 100, cases[i].got, cases[i].total, es, sizeof(es));
        if (!cases[i].want) {
            CHECK_INT(rc, OF_OK);
            continue;
        }
        CHECK_INT(rc, OF_ERR_PROTOCOL);
        CHECK_CONTAINS(es, "inconsistent paging: ");
        CHECK_CONTAINS(es, cases[i].want);
    }
}

/* Quotes of a bad reply: capped, escaped, one line. */
static void test_quote(void)
{
    char big[600], out[700];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{\"State\":42}", "p: {\"State\":42}"},
        {"line\nbreak\x1b[31m\x07", "p: line\\nbreak\\x1b[31m\\x07"},
        {"back\\slash", "p: back\\\\slash"},
        {"\xc3\xbc ok \xff", "p: \xc3\xbc ok \\xff"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        octo_quote("p: ", cases[i].in, strlen(cases[i].in), out, sizeof(out));
        CHECK_STR(out, cases[i].want);
    }
    /* capped at OF_OCTO_QUOTE_BYTES of the reply, with a mark */
    octo_quote("p: ", big, strlen(big), out, sizeof(out));
    CHECK_INT(strlen(out), 3 + OF_OCTO_QUOTE_BYTES + 3);
    CHECK(strcmp(out + strlen(out) - 3, "...") == 0);
    /* cut inside a UTF-8 character: the stray bytes are escaped, never left broken */
    char cut[OF_OCTO_QUOTE_BYTES + 2];
    memset(cut, 'b', sizeof(cut));
    cut[OF_OCTO_QUOTE_BYTES - 1] = (char)0xc3;
    cut[OF_OCTO_QUOTE_BYTES] = (char)0xbc;
    octo_quote("", cut, sizeof(cut), out, sizeof(out));
    CHECK_CONTAINS(out, "b\\xc3...");
    /* a small buffer is never overrun and stays terminated */
    char tiny[8];
    octo_quote("prefix: ", big, strlen(big), tiny, sizeof(tiny));
    CHECK_INT(strlen(tiny), 7);
}

static void test_error_text(void)
{
    static const struct {
        const char *body;
        bool any;
        const char *want;
    } cases[] = {
        {"{\"ErrorMessage\":\"There was a problem with your request.\",\"Errors\":["
         "\"Release 4.3.0 cannot be deployed to Hosted Release yet.\",\"Second reason\"]}",
         true,
         "There was a problem with your request.: Release 4.3.0 cannot be deployed to Hosted "
         "Release yet.; Second reason"},
        {"{\"ErrorMessage\":\"The resource you requested was not found.\"}", true,
         "The resource you requested was not found."},
        {"{\"Errors\":[\"only\",\"lines\"]}", true, "only; lines"},
        {"{\"ErrorMessage\":\"M\",\"Errors\":[\"\",\"a\",null,\"b\"]}", true, "M: a; b"},
        {"{\"ErrorMessage\":\"\",\"Errors\":[]}", false, ""},
        {"{}", false, ""},
        {"<html>Bad gateway</html>", false, ""},
        {"", false, ""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[300];
        CHECK_INT(octo_error_text(cases[i].body, strlen(cases[i].body), out, sizeof(out)),
                  cases[i].any);
        CHECK_STR(out, cases[i].want);
    }
    /* Truncates instead of overflowing. */
    char tiny[10];
    CHECK(octo_error_text("{\"ErrorMessage\":\"0123456789abcdef\"}", 35, tiny, sizeof(tiny)));
    CHECK_INT(strlen(tiny), 9);
}

static void test_encode_deploy(void)
{
    char es[256], *body = NULL;
    static const char *const names[] = {"Approver"};
    static const char *const values[] = {"ops"};
    of_octo_deploy_req req = {
        .release_id = "Releases-3",
        .environment_id = "Environments-5",
        .tenant_id = "Tenants-2",
        .comments = "octofleet job=J1",
        .use_guided_failure = true,
        .form_names = names,
        .form_values = values,
        .nform = 1,
        .queue_time_expiry_ms = 1778014805000LL,
        .dedupe_key = "job=J1",
    };
    CHECK_INT(octo_encode_deploy(&req, &body, es, sizeof(es)), OF_OK);
    json_t *j = body ? load(body) : NULL;
    CHECK_STR(json_string_value(json_object_get(j, "ReleaseId")), "Releases-3");
    CHECK_STR(json_string_value(json_object_get(j, "EnvironmentId")), "Environments-5");
    CHECK_STR(json_string_value(json_object_get(j, "TenantId")), "Tenants-2");
    CHECK_STR(json_string_value(json_object_get(j, "Comments")), "octofleet job=J1");
    CHECK(json_is_true(json_object_get(j, "UseGuidedFailure")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "FormValues"), "Approver")),
              "ops");
    CHECK(json_object_get(j, "QueueTime") == NULL);
    CHECK_STR(json_string_value(json_object_get(j, "QueueTimeExpiry")), "2026-05-05T21:00:05.000Z");
    json_decref(j);
    free(body);

    of_octo_deploy_req untenanted = {.release_id = "R", .environment_id = "E"};
    CHECK_INT(octo_encode_deploy(&untenanted, &body, es, sizeof(es)), OF_OK);
    j = body ? load(body) : NULL;
    CHECK(json_object_get(j, "TenantId") == NULL);
    CHECK(json_object_get(j, "FormValues") == NULL);
    CHECK(json_is_false(json_object_get(j, "UseGuidedFailure")));
    json_decref(j);
    free(body);

    static const struct {
        of_octo_deploy_req req;
        const char *want;
    } bad[] = {
        {{.environment_id = "E"}, "release id and environment id are required"},
        {{.release_id = "R", .environment_id = ""}, "release id and environment id"},
        {{.release_id = "R", .environment_id = "E", .dedupe_key = "J"}, "dedupe key must appear"},
        {{.release_id = "R", .environment_id = "E", .comments = "x", .dedupe_key = "J"},
         "dedupe key must appear"},
        {{.release_id = "R", .environment_id = "E", .comments = "\xff\xfe"}, "not valid UTF-8"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        body = (char *)1;
        CHECK_INT(octo_encode_deploy(&bad[i].req, &body, es, sizeof(es)), OF_ERR_INVALID);
        CHECK(body == NULL);
        CHECK_CONTAINS(es, bad[i].want);
    }
}

/* ---- the client object ------------------------------------------------------- */

#define KEY "API-UNITTESTKEY0000000000000001"

/* Which setting a config error case puts out of range. */
typedef enum bad_field {
    BAD_NONE = 0,
    BAD_SPACE,
    BAD_TASK_CHUNK,
    BAD_MAX_CONCURRENT,
    BAD_MAX_PAGES,
    BAD_LIST_DEADLINE,
    BAD_UNREADABLE,
    BAD_CONNECT_TIMEOUT,
    BAD_MAX_RESPONSE,
} bad_field;

static void test_new_config_errors(void)
{
    of_octo *c = NULL;
    char es[512];
    unsetenv("OCTOPUS_API_KEY");
    static const struct {
        const char *url, *api_key, *api_key_file;
        bad_field field;
        int64_t value;
        const char *want;
    } cases[] = {
        {NULL, KEY, NULL, BAD_NONE, 0, "must start with http:// or https://"},
        {"ftp://x", KEY, NULL, BAD_NONE, 0, "must start with http:// or https://"},
        {"http://x/?a=b", KEY, NULL, BAD_NONE, 0, "must not contain a query"},
        {"http://x", NULL, NULL, BAD_NONE, 0,
         "no Octopus API key: set OCTOPUS_API_KEY or octopus.api_key_file"},
        {"http://x", "  \n", NULL, BAD_NONE, 0, "no Octopus API key"},
        {"http://x", "API-AB\r\nX-Evil: 1", NULL, BAD_NONE, 0, "control or non-ASCII"},
        {"http://x", NULL, "/nonexistent/octo.key", BAD_NONE, 0,
         "octopus.api_key_file /nonexistent/octo.key: cannot open"},
        {"http://x", KEY, NULL, BAD_SPACE, 0, "the Octopus space is empty"},
        {"http://x", KEY, NULL, BAD_TASK_CHUNK, 1001,
         "setting task_chunk out of range (got 1001, want 1..1000)"},
        /* no "0 = default" any more: every number is explicit */
        {"http://x", KEY, NULL, BAD_TASK_CHUNK, 0, "setting task_chunk out of range (got 0"},
        {"http://x", KEY, NULL, BAD_MAX_CONCURRENT, -1, "setting max_concurrent out of range"},
        {"http://x", KEY, NULL, BAD_MAX_PAGES, 0, "setting max_pages out of range"},
        {"http://x", KEY, NULL, BAD_LIST_DEADLINE, -1, "setting list_deadline_ms out of range"},
        {"http://x", KEY, NULL, BAD_UNREADABLE, -5, "setting task_unreadable_ms out of range"},
        {"http://x", KEY, NULL, BAD_CONNECT_TIMEOUT, 0, "setting connect_timeout_ms out of range"},
        {"http://x", KEY, NULL, BAD_MAX_RESPONSE, 0, "setting max_response_bytes out of range"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        of_octo_opts o;
        of_octo_opts_default(&o);
        o.url = cases[i].url;
        o.api_key = cases[i].api_key;
        o.api_key_file = cases[i].api_key_file;
        int64_t v = cases[i].value;
        switch (cases[i].field) {
        case BAD_NONE:
            break;
        case BAD_SPACE:
            o.space = "";
            break;
        case BAD_TASK_CHUNK:
            o.task_chunk = (int)v;
            break;
        case BAD_MAX_CONCURRENT:
            o.max_concurrent = (int)v;
            break;
        case BAD_MAX_PAGES:
            o.max_pages = (int)v;
            break;
        case BAD_LIST_DEADLINE:
            o.list_deadline_ms = v;
            break;
        case BAD_UNREADABLE:
            o.task_unreadable_ms = v;
            break;
        case BAD_CONNECT_TIMEOUT:
            o.connect_timeout_ms = v;
            break;
        case BAD_MAX_RESPONSE:
            o.max_response_bytes = (size_t)v;
            break;
        }
        es[0] = '\0';
        CHECK_INT(of_octo_new(&o, &c, es, sizeof(es)), OF_ERR_CONFIG);
        CHECK(c == NULL);
        CHECK_CONTAINS(es, cases[i].want);
        CHECK(strstr(es, "UNITTESTKEY") == NULL);
    }
}

/* The defaults make a valid client, and are the constants octopus.h documents. */
static void test_opts_default(void)
{
    of_octo_opts o;
    of_octo_opts_default(&o);
    CHECK_STR(o.space, OF_OCTO_DEFAULT_SPACE);
    CHECK_INT(o.connect_timeout_ms, 10000);
    CHECK_INT(o.request_timeout_ms, 30000);
    CHECK_INT(o.retry_deadline_ms, 120000);
    CHECK_INT(o.task_chunk, 100);
    CHECK_INT(o.max_response_bytes, 8 << 20);
    CHECK_INT(o.task_unreadable_ms, 5 * 60 * 1000);
    CHECK(o.list_deadline_ms >= o.retry_deadline_ms);
    CHECK(o.url == NULL && o.api_key == NULL && o.api_key_file == NULL && o.ca_file == NULL);
    o.url = "http://127.0.0.1:1";
    o.api_key = KEY;
    of_octo *c = NULL;
    char es[512];
    CHECK_INT(of_octo_new(&o, &c, es, sizeof(es)), OF_OK);
    of_octo_destroy(c);
}

static void test_key_sources_and_describe(void)
{
    of_octo *c = NULL;
    char es[512], desc[1024];
    /* From the environment. */
    setenv("OCTOPUS_API_KEY", KEY, 1);
    of_octo_opts o;
    of_octo_opts_default(&o);
    o.url = "https://octo.example.com/";
    CHECK_INT(of_octo_new(&o, &c, es, sizeof(es)), OF_OK);
    if (c) {
        of_octo_describe(c, desc, sizeof(desc));
        CHECK_CONTAINS(desc, "api_key=API-****");
        CHECK_CONTAINS(desc, "url=https://octo.example.com ");
        CHECK_CONTAINS(desc, "tls_verify=on");
        CHECK(strstr(desc, "UNITTESTKEY") == NULL);
        /* Scrubbing: if the key ever lands in a string, it is masked. */
        char s[128];
        snprintf(s, sizeof(s), "server said %s twice %s", KEY, KEY);
        octo_scrub(c, s);
        CHECK_STR(s, "server said API-**** twice API-****");
        CHECK(c->space_id == NULL); /* not connected */
        of_octo_destroy(c);
    }
    unsetenv("OCTOPUS_API_KEY");

    /* From a key file, whitespace trimmed. */
    char path[] = "/tmp/octo-key-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        const char text[] = "\n  " KEY "  \n";
        CHECK_INT(write(fd, text, sizeof(text) - 1), (long long)(sizeof(text) - 1));
        close(fd);
        of_octo_opts f;
        of_octo_opts_default(&f);
        f.url = "http://127.0.0.1:1";
        f.api_key_file = path;
        f.tls_skip_verify = true;
        c = NULL;
        CHECK_INT(of_octo_new(&f, &c, es, sizeof(es)), OF_OK);
        if (c) {
            CHECK_STR(c->api_key, KEY);
            of_octo_describe(c, desc, sizeof(desc));
            CHECK_CONTAINS(desc, "tls_verify=off");
            of_octo_destroy(c);
        }
        unlink(path);
    }
}

/* The default options with KEY, against a port where nothing listens. */
static of_octo_opts unreachable_opts(void)
{
    of_octo_opts o;
    of_octo_opts_default(&o);
    o.url = "http://127.0.0.1:1";
    o.api_key = KEY;
    return o;
}

/* A client with options o (a failed check, and NULL, when it cannot be made). */
static of_octo *new_client(of_octo_opts o)
{
    of_octo *c = NULL;
    char es[512];
    CHECK_INT(of_octo_new(&o, &c, es, sizeof(es)), OF_OK);
    return c;
}

typedef struct got_tasks {
    int calls;
    of_err err;
    size_t n;
} got_tasks;

static void on_tasks(void *opaque, of_err err, const char *errstr, of_octo_task_list *res)
{
    (void)errstr;
    got_tasks *g = opaque;
    g->calls++;
    g->err = err;
    g->n = res ? res->n : 99;
}

static void test_zero_ids_zero_requests(void)
{
    char es[512];
    of_octo *c = new_client(unreachable_opts());
    if (!c) return;
    /* No space yet: calls that need one say so. */
    of_octo_task_list l;
    CHECK_INT(of_octo_get_tasks(c, NULL, NULL, 0, &l, es, sizeof(es)), OF_ERR_STATE);
    CHECK_CONTAINS(es, "of_octo_connect");

    got_tasks g = {0, OF_ERR_STATE, 0};
    CHECK_INT(of_octo_get_tasks_async(c, "Spaces-1", NULL, 0, on_tasks, &g, es, sizeof(es)), OF_OK);
    CHECK_INT(g.calls, 0); /* never from inside the submit */
    CHECK_INT(of_octo_outstanding(c), 1);
    for (int i = 0; i < 10 && g.calls == 0; i++)
        CHECK_INT(of_octo_poll(c, 100), OF_OK);
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.err, OF_OK);
    CHECK_INT(g.n, 0);
    CHECK_INT(of_octo_outstanding(c), 0);
    of_octo_stats st;
    of_octo_get_stats(c, &st);
    CHECK_INT(st.requests, 0);

    /* Bad ids are refused before anything is sent. */
    static const char *const bad[] = {"ServerTasks-1", "ServerTasks-2,ServerTasks-3"};
    CHECK_INT(of_octo_get_tasks(c, "Spaces-1", bad, 2, &l, es, sizeof(es)), OF_ERR_INVALID);
    static const char *const empty[] = {""};
    CHECK_INT(of_octo_get_tasks(c, "Spaces-1", empty, 1, &l, es, sizeof(es)), OF_ERR_INVALID);
    of_octo_get_stats(c, &st);
    CHECK_INT(st.requests, 0);
    of_octo_destroy(c);
}

static void test_refused_gives_up_at_deadline(void)
{
    char es[1024];
    of_octo_opts o = unreachable_opts();
    o.retry_deadline_ms = 700;
    o.retry_base_ms = 50;
    o.retry_cap_ms = 200;
    o.seed = 7;
    of_octo *c = new_client(o);
    if (!c) return;
    int64_t t0 = of_now_ms();
    CHECK_INT(of_octo_connect(c, es, sizeof(es)), OF_ERR_TIMEOUT); /* its GET /api/ */
    int64_t took = of_now_ms() - t0;
    CHECK_CONTAINS(es, "GET /api/: gave up after ");
    CHECK_CONTAINS(es, "last error: cannot connect");
    CHECK(took <= 700 + 5000); /* bounded by the deadline (+ slack for a loaded machine) */
    of_octo_stats st;
    of_octo_get_stats(c, &st);
    CHECK(st.requests >= 2); /* it did retry */
    CHECK_INT(st.retries, st.requests - 1);
    CHECK(strstr(es, KEY) == NULL);
    of_octo_destroy(c);
}

/* Outstanding calls are cancelled, once each, on destroy. */
static void test_destroy_cancels(void)
{
    char es[512];
    of_octo *c = new_client(unreachable_opts());
    if (!c) return;
    static const char *const ids[] = {"ServerTasks-1", "ServerTasks-2", "ServerTasks-3"};
    got_tasks g = {0, OF_OK, 0};
    CHECK_INT(of_octo_get_tasks_async(c, "Spaces-1", ids, 3, on_tasks, &g, es, sizeof(es)), OF_OK);
    CHECK_INT(of_octo_poll(c, 0), OF_OK);
    of_octo_destroy(c);
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.err, OF_ERR_CANCELLED);
}

/* text as a whole tree and as the tree keep leaves; both must parse. */
static void parse_both(const char *text, const oj_keep *keep, json_t **full, json_t **kept)
{
    char es[256] = "";
    CHECK_INT(octo_parse_body(text, strlen(text), NULL, full, es, sizeof es), OF_OK);
    CHECK_INT(octo_parse_body(text, strlen(text), keep, kept, es, sizeof es), OF_OK);
}

static void free_both(json_t *full, json_t *kept)
{
    json_decref(full);
    json_decref(kept);
}

/* The hot replies are built only as far as their decoders read (oj_parse_keep): every table
 * field is kept, and a whole reply as octopus-sim writes it decodes the same either way. */
static void test_keep_lists(void)
{
    const char *missing = octo_keep_check();
    CHECK(missing == NULL);
    if (missing) fprintf(stderr, "  not kept: %s\n", missing);
    char es[256] = "";
    static const char task[] =
        "{\"Items\":[{\"Id\":\"ServerTasks-8\",\"SpaceId\":\"Spaces-1\",\"Name\":\"Deploy\","
        "\"Description\":\"Deploy Web\",\"Arguments\":{\"DeploymentId\":\"Deployments-8\","
        "\"Other\":[1.5]},\"State\":\"Failed\",\"QueueTime\":\"2026-12-06T00:41:35.309+00:00\","
        "\"StartTime\":\"2026-12-06T00:41:35.311+00:00\",\"CompletedTime\":"
        "\"2026-12-06T00:41:35.316+00:00\",\"ErrorMessage\":\"boom\",\"HasPendingInterruptions\":"
        "true,\"PendingInterruptionTypes\":[],\"Links\":{\"Self\":\"/api/tasks/ServerTasks-8\"}}],"
        "\"ItemsPerPage\":1,\"TotalResults\":9,\"Links\":{\"Self\":\"x\"}}";
    static const char event[] =
        "{\"Items\":[{\"Id\":\"Events-5\",\"AutoId\":5,\"SpaceId\":\"Spaces-1\",\"Category\":"
        "\"DeploymentFailed\",\"RelatedDocumentIds\":[\"Deployments-8\",\"ServerTasks-8\"],"
        "\"Occurred\":\"2026-12-06T00:41:35.316+00:00\",\"Message\":\"m\",\"MessageHtml\":\"<a>\","
        "\"MessageReferences\":[{\"ReferencedDocumentId\":\"Environments-2\",\"StartIndex\":10,"
        "\"Length\":7}],\"Comments\":null,\"Links\":{\"Self\":\"/api/events/Events-5\"}}],"
        "\"TotalResults\":1}";
    static const char dep[] =
        "{\"Id\":\"Deployments-8\",\"SpaceId\":\"Spaces-1\",\"ProjectId\":\"Projects-7\","
        "\"ReleaseId\":\"Releases-14\",\"EnvironmentId\":\"Environments-2\",\"TenantId\":"
        "\"Tenants-3\",\"TaskId\":\"ServerTasks-8\",\"Comments\":\"octofleet job=j\",\"Created\":"
        "\"2026-12-06T00:41:35.309+00:00\",\"FormValues\":{},\"Links\":{\"Self\":\"s\",\"Web\":"
        "\"/app#/Spaces-1/deployments/Deployments-8\"}}";
    json_t *full = NULL, *kept = NULL, *items;
    size_t total;
    of_octo_task t1, t2;
    CHECK_INT(octo_parse_body(task, strlen(task), NULL, &full, es, sizeof es), OF_OK);
    CHECK_INT(octo_parse_body(task, strlen(task), octo_keep_task_page, &kept, es, sizeof es),
              OF_OK);
    CHECK(json_object_get(kept, "Links") == NULL);
    CHECK_INT(octo_decode_page(kept, "Tasks", &items, &total, es, sizeof es), OF_OK);
    CHECK_INT(total, 9);
    CHECK_INT(octo_decode_task(json_array_get(items, 0), &t2, es, sizeof es), OF_OK);
    CHECK_INT(octo_decode_page(full, "Tasks", &items, &total, es, sizeof es), OF_OK);
    CHECK_INT(octo_decode_task(json_array_get(items, 0), &t1, es, sizeof es), OF_OK);
    CHECK_STR(t2.id, t1.id);
    CHECK_INT(t2.state, t1.state);
    CHECK_STR(t2.deployment_id, t1.deployment_id);
    CHECK_STR(t2.description, t1.description);
    CHECK_STR(t2.error_message, t1.error_message);
    CHECK_INT(t2.has_pending_interruptions, t1.has_pending_interruptions);
    CHECK_INT(t2.queue_time_ms, t1.queue_time_ms);
    CHECK_INT(t2.start_time_ms, t1.start_time_ms);
    CHECK_INT(t2.completed_time_ms, t1.completed_time_ms);
    of_octo_task_clear(&t1);
    of_octo_task_clear(&t2);
    free_both(full, kept);

    of_octo_event e1, e2;
    parse_both(event, octo_keep_event_page, &full, &kept);
    CHECK_INT(octo_decode_page(kept, "Events", &items, &total, es, sizeof es), OF_OK);
    CHECK(json_object_get(json_array_get(items, 0), "MessageReferences") == NULL);
    CHECK_INT(octo_decode_event(json_array_get(items, 0), &e2, es, sizeof es), OF_OK);
    CHECK_INT(octo_decode_page(full, "Events", &items, &total, es, sizeof es), OF_OK);
    CHECK_INT(octo_decode_event(json_array_get(items, 0), &e1, es, sizeof es), OF_OK);
    CHECK_STR(e2.id, e1.id);
    CHECK_INT(e2.auto_id, e1.auto_id);
    CHECK_STR(e2.category, e1.category);
    CHECK_INT(e2.nrelated, e1.nrelated);
    if (e2.nrelated == 2 && e1.nrelated == 2) CHECK_STR(e2.related[1], e1.related[1]);
    CHECK_INT(e2.occurred_ms, e1.occurred_ms);
    of_octo_event_clear(&e1);
    of_octo_event_clear(&e2);
    free_both(full, kept);

    of_octo_deployment d1, d2;
    parse_both(dep, octo_keep_deployment, &full, &kept);
    CHECK_INT(octo_decode_deployment(full, &d1, es, sizeof es), OF_OK);
    CHECK_INT(octo_decode_deployment(kept, &d2, es, sizeof es), OF_OK);
    CHECK(json_object_get(kept, "FormValues") == NULL);
    CHECK_STR(d2.id, d1.id);
    CHECK_STR(d2.project_id, d1.project_id);
    CHECK_STR(d2.release_id, d1.release_id);
    CHECK_STR(d2.environment_id, d1.environment_id);
    CHECK_STR(d2.tenant_id, d1.tenant_id);
    CHECK_STR(d2.task_id, d1.task_id);
    CHECK_STR(d2.comments, d1.comments);
    CHECK_STR(d2.web_link, d1.web_link);
    CHECK_INT(d2.created_ms, d1.created_ms);
    of_octo_deployment_clear(&d1);
    of_octo_deployment_clear(&d2);
    free_both(full, kept);
}

int main(void)
{
    char es[256];
    if (of_octo_global_init(es, sizeof(es))) {
        fprintf(stderr, "%s\n", es);
        return 1;
    }
    test_url_encode();
    test_url_build();
    test_chunking();
    test_classify();
    test_retry_after();
    test_backoff();
    test_task_states();
    test_decode_task();
    test_decode_event();
    test_decode_project_and_refs();
    test_decode_tenant();
    test_decode_process();
    test_decode_template();
    test_decode_template_large();
    test_decode_deployment_and_page();
    test_keep_lists();
    test_error_text();
    test_page_check();
    test_quote();
    test_encode_deploy();
    test_new_config_errors();
    test_opts_default();
    test_key_sources_and_describe();
    test_zero_ids_zero_requests();
    test_refused_gives_up_at_deadline();
    test_destroy_cancels();
    of_octo_global_cleanup();
    return TEST_DONE();
}
