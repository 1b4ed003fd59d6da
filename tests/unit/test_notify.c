/* The notifier's decisions (cli/notify.h): a release's records -> summary -> text and JSON
 * bodies; the create reply's id; URLs; when to send (coalescing) and what follows an attempt
 * (retry, give up); the state file of message ids. Table-driven. */
#include <jansson.h>
#include <stdint.h>
#include <unistd.h>

#include "notify.h"
#include "test.h"

/* ---- a release to summarise ---------------------------------------------------------------- */

static char N1[] = "database", N2[] = "services", N3[] = "web", ENV_ID[] = "Environments-1",
            DEV[] = "Dev", RELEASE[] = "2026.18", CHANNEL[] = "C0CONFIG";
static char *NAMES[] = {N1, N2, N3};
static of_ref ENVS[] = {{ENV_ID, DEV}};

/* A heap copy of s (NULL stays NULL), for the records' owned strings. */
static char *copy_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

typedef struct jobdef {
    int stage;
    const char *project, *tenant;
    of_job_status status;
    const char *message;
} jobdef;

typedef struct summary_case {
    const char *name;
    of_release_status status;
    of_stage_status stages[3];
    jobdef jobs[16];
    size_t n_jobs;
    /* expected */
    int stage, done, succeeded, failed, skipped;
    size_t listed;
    int more;
    const char *text; /* the whole of_notify_text */
} summary_case;

#define J(st, p, t, s, m) \
    {                     \
        st, p, t, s, m    \
    }
static const summary_case SUMMARY_CASES[] = {
    {"running in stage 2",
     OF_RELEASE_RUNNING,
     {OF_STAGE_SUCCEEDED, OF_STAGE_RUNNING, OF_STAGE_PENDING},
     {J(1, "Schema", NULL, OF_JOB_SUCCEEDED, NULL), J(2, "Api", "Alpha", OF_JOB_SUCCEEDED, NULL),
      J(2, "Api", "Bravo", OF_JOB_STARTED, NULL),
      J(2, "Api", "Charlie", OF_JOB_SKIPPED, "not on 1"),
      J(3, "Web", "Alpha", OF_JOB_PENDING, NULL)},
     5,
     2,
     3,
     2,
     0,
     1,
     0,
     0,
     "Release 2026.18: running, stage 2 of 3 (services)\n"
     "Jobs: 3/5 done (2 succeeded, 0 failed, 1 skipped)"},
    {"paused with failed jobs and their tenants",
     OF_RELEASE_PAUSED,
     {OF_STAGE_SUCCEEDED, OF_STAGE_FAILED, OF_STAGE_PENDING},
     {J(1, "Schema", NULL, OF_JOB_SUCCEEDED, NULL),
      J(2, "Api", "Alpha", OF_JOB_FAILED, "disk full on api-02"),
      J(2, "Api", NULL, OF_JOB_TIMED_OUT, NULL), J(2, "Api", "Bravo", OF_JOB_SUCCEEDED, NULL),
      J(3, "Web", "Alpha", OF_JOB_PENDING, NULL)},
     5,
     2,
     4,
     2,
     2,
     0,
     2,
     0,
     "Release 2026.18: paused, stage 2 of 3 (services)\n"
     "Jobs: 4/5 done (2 succeeded, 2 failed, 0 skipped)\n"
     "Failed (2):\n"
     "- stage 2 Api / Dev / Alpha (failed): disk full on api-02\n"
     "- stage 2 Api / Dev (timed_out)"},
    {"completed",
     OF_RELEASE_COMPLETED,
     {OF_STAGE_SUCCEEDED, OF_STAGE_SUCCEEDED, OF_STAGE_SUCCEEDED},
     {J(1, "Schema", NULL, OF_JOB_SUCCEEDED, NULL), J(2, "Api", "Alpha", OF_JOB_SUCCEEDED, NULL),
      J(3, "Web", "Alpha", OF_JOB_SKIPPED, NULL)},
     3,
     3,
     3,
     2,
     0,
     1,
     0,
     0,
     "Release 2026.18: completed, 3 of 3 stages\n"
     "Jobs: 3/3 done (2 succeeded, 0 failed, 1 skipped)"},
    {"aborted; hostile text stays on its line",
     OF_RELEASE_ABORTED,
     {OF_STAGE_SUCCEEDED, OF_STAGE_RUNNING, OF_STAGE_PENDING},
     {J(1, "Schema", NULL, OF_JOB_SUCCEEDED, NULL),
      J(2, "Api\nX", "Al\033[2Jpha", OF_JOB_CANCELLED, "line1\nline2")},
     2,
     2,
     2,
     1,
     1,
     0,
     1,
     0,
     "Release 2026.18: aborted, stage 2 of 3 (services)\n"
     "Jobs: 2/2 done (1 succeeded, 1 failed, 0 skipped)\n"
     "Failed (1):\n"
     "- stage 2 Api\\nX / Dev / Al\\x1b[2Jpha (cancelled): line1\\nline2"},
};

static void build(const summary_case *c, of_release_record *r, of_job_record *jobs,
                  of_stage_status *ss)
{
    memset(r, 0, sizeof *r);
    memcpy(r->release_id, "3a633435-8411-5f32-885f-2528216de7ed", OF_UUID_STR_SIZE);
    r->release_name = RELEASE;
    r->status = c->status;
    r->stage_count = 3;
    r->stage_names = NAMES;
    r->environments = ENVS;
    r->n_environments = 1;
    memcpy(ss, c->stages, sizeof c->stages);
    r->stage_status = ss;
    for (size_t i = 0; i < c->n_jobs; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].job.stage = c->jobs[i].stage;
        jobs[i].job.project.name = copy_str(c->jobs[i].project);
        jobs[i].job.environment.name = DEV;
        jobs[i].job.tenant.name = copy_str(c->jobs[i].tenant);
        jobs[i].status = c->jobs[i].status;
        jobs[i].skip_reason = copy_str(c->jobs[i].message);
    }
}

static void unbuild(of_job_record *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(jobs[i].job.project.name);
        free(jobs[i].job.tenant.name);
        free(jobs[i].skip_reason);
    }
}

static void test_summary_and_text(void)
{
    for (size_t k = 0; k < sizeof SUMMARY_CASES / sizeof SUMMARY_CASES[0]; k++) {
        const summary_case *c = &SUMMARY_CASES[k];
        of_release_record r;
        of_job_record jobs[16];
        of_stage_status ss[3];
        build(c, &r, jobs, ss);
        of_notify_summary s;
        of_notify_summarize(&r, jobs, c->n_jobs, &s);
        fprintf(stderr, "case: %s\n", c->name);
        CHECK_INT(s.stage, c->stage);
        CHECK_INT(s.total, (int)c->n_jobs);
        CHECK_INT(s.done, c->done);
        CHECK_INT(s.succeeded, c->succeeded);
        CHECK_INT(s.failed, c->failed);
        CHECK_INT(s.skipped, c->skipped);
        CHECK_INT(s.n_failed_jobs, c->listed);
        CHECK_INT(s.more_failed, c->more);
        of_buf b;
        of_buf_init(&b, 1 << 16);
        CHECK_INT(of_notify_text(&s, &b), OF_OK);
        CHECK_STR(b.data, c->text);
        of_buf_clear(&b);
        unbuild(jobs, c->n_jobs);
    }
}

/* More failed jobs than a message lists: the first ten, then "+N more". */
static void test_failed_cap(void)
{
    summary_case c = {.status = OF_RELEASE_PAUSED,
                      .stages = {OF_STAGE_FAILED, OF_STAGE_PENDING, OF_STAGE_PENDING},
                      .n_jobs = 14};
    for (size_t i = 0; i < c.n_jobs; i++)
        c.jobs[i] = (jobdef){1, "Schema", "T", OF_JOB_FAILED, NULL};
    of_release_record r;
    of_job_record jobs[16];
    of_stage_status ss[3];
    build(&c, &r, jobs, ss);
    of_notify_summary s;
    of_notify_summarize(&r, jobs, c.n_jobs, &s);
    CHECK_INT(s.failed, 14);
    CHECK_INT(s.n_failed_jobs, OF_NOTIFY_MAX_FAILED);
    CHECK_INT(s.more_failed, 4);
    of_buf b;
    of_buf_init(&b, 1 << 16);
    CHECK_INT(of_notify_text(&s, &b), OF_OK);
    CHECK_CONTAINS(b.data, "Failed (14):\n- stage 1 Schema / Dev / T (failed)\n");
    CHECK_CONTAINS(b.data, "\n- +4 more");
    of_buf_clear(&b);
    unbuild(jobs, c.n_jobs);
}

/* ---- JSON bodies ----------------------------------------------------------------------------- */

typedef struct body_case {
    const char *name;
    of_notify_mode mode;
    of_notify_format format;
    const char *id;
    const char *paths[6]; /* "key.key" that must hold a value */
    const char *want[6];  /* ... equal to this string (NULL: any non-null) */
    const char *absent[3];
} body_case;

static const body_case BODY_CASES[] = {
    {"webhook, slack blocks",
     OF_NOTIFY_WEBHOOK,
     OF_NOTIFY_FMT_SLACK,
     NULL,
     {"text", "blocks", "octofleet.status", "octofleet.release_id"},
     {NULL, NULL, "paused", "3a633435-8411-5f32-885f-2528216de7ed"},
     {"channel", "ts", "attachments"}},
    {"webhook, teams card",
     OF_NOTIFY_WEBHOOK,
     OF_NOTIFY_FMT_TEAMS,
     NULL,
     {"text", "type", "attachments", "octofleet.counts"},
     {NULL, "message", NULL, NULL},
     {"blocks", "channel", "ts"}},
    {"slack create",
     OF_NOTIFY_SLACK,
     OF_NOTIFY_FMT_SLACK,
     NULL,
     {"channel", "text", "blocks"},
     {"C0CONFIG", NULL, NULL},
     {"ts", "octofleet", NULL}},
    {"slack update names channel and ts",
     OF_NOTIFY_SLACK,
     OF_NOTIFY_FMT_SLACK,
     "C0ANSWER/1503435956.000247",
     {"channel", "ts", "blocks"},
     {"C0ANSWER", "1503435956.000247", NULL},
     {"octofleet", NULL, NULL}},
};

static json_t *at(json_t *root, const char *path)
{
    char key[64];
    json_t *v = root;
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    return v;
}

static void test_bodies(void)
{
    summary_case c = SUMMARY_CASES[1];
    of_release_record r;
    of_job_record jobs[16];
    of_stage_status ss[3];
    build(&c, &r, jobs, ss);
    of_notify_summary s;
    of_notify_summarize(&r, jobs, c.n_jobs, &s);
    for (size_t k = 0; k < sizeof BODY_CASES / sizeof BODY_CASES[0]; k++) {
        const body_case *bc = &BODY_CASES[k];
        of_config_notify cfg = {.mode = bc->mode, .format = bc->format, .channel = CHANNEL};
        char *out = NULL;
        fprintf(stderr, "case: %s\n", bc->name);
        CHECK_INT(of_notify_body(&s, &cfg, bc->id, &out), OF_OK);
        json_t *j = out ? json_loads(out, 0, NULL) : NULL;
        CHECK(j != NULL);
        for (size_t i = 0; j && i < 6 && bc->paths[i]; i++) {
            json_t *v = at(j, bc->paths[i]);
            OF_TEST_FAIL_IF(!v, "%s: %s missing in %s\n", bc->name, bc->paths[i], out);
            if (v && bc->want[i]) CHECK_STR(json_string_value(v), bc->want[i]);
        }
        for (size_t i = 0; j && i < 3 && bc->absent[i]; i++)
            OF_TEST_FAIL_IF(at(j, bc->absent[i]) != NULL, "%s: %s present in %s\n", bc->name,
                            bc->absent[i], out);
        if (j) CHECK_CONTAINS(json_string_value(json_object_get(j, "text")), "Failed (2):");
        json_decref(j);
        free(out);
    }
    unbuild(jobs, c.n_jobs);
}

/* ---- replies and URLs ------------------------------------------------------------------------ */

static const struct {
    of_notify_mode mode;
    const char *body;
    of_err rc;
    const char *want; /* the id, or a substring of errstr */
} REPLY_CASES[] = {
    {OF_NOTIFY_SLACK, "{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1503435956.000247\"}", OF_OK,
     "C1/1503435956.000247"},
    {OF_NOTIFY_SLACK, "{\"ok\":false,\"error\":\"channel_not_found\"}", OF_ERR_REJECTED,
     "channel_not_found"},
    {OF_NOTIFY_SLACK, "{\"ok\":true,\"channel\":\"C1\"}", OF_ERR_NOT_FOUND, "no channel and ts"},
    {OF_NOTIFY_WEBHOOK, "{\"id\":\"msg-1\"}", OF_OK, "msg-1"},
    {OF_NOTIFY_WEBHOOK, "{\"id\":42}", OF_OK, "42"},
    {OF_NOTIFY_WEBHOOK, "{\"name\":\"x\"}", OF_ERR_NOT_FOUND, "no \"id\""},
    {OF_NOTIFY_WEBHOOK, "1", OF_ERR_NOT_FOUND, "not a JSON object"}, /* a Slack incoming hook */
    {OF_NOTIFY_WEBHOOK, "ok", OF_ERR_NOT_FOUND, "not a JSON object"},
    {OF_NOTIFY_WEBHOOK, "", OF_ERR_NOT_FOUND, "not a JSON object"},
    {OF_NOTIFY_WEBHOOK, "{\"id\":\"a b\"}", OF_ERR_PROTOCOL, "spaces"},
    {OF_NOTIFY_WEBHOOK, "{\"id\":\"\"}", OF_ERR_PROTOCOL, "empty"},
    {OF_NOTIFY_WEBHOOK, "{\"id\":\"a\\nb\"}", OF_ERR_PROTOCOL, "control"},
};

static void test_replies(void)
{
    for (size_t k = 0; k < sizeof REPLY_CASES / sizeof REPLY_CASES[0]; k++) {
        char id[OF_NOTIFY_ID_MAX + 1], es[256] = "";
        const char *b = REPLY_CASES[k].body;
        of_err rc = of_notify_parse_created(REPLY_CASES[k].mode, b, strlen(b), id, es, sizeof es);
        CHECK_INT(rc, REPLY_CASES[k].rc);
        if (rc == OF_OK)
            CHECK_STR(id, REPLY_CASES[k].want);
        else
            CHECK_CONTAINS(es, REPLY_CASES[k].want);
    }
    /* an id longer than OF_NOTIFY_ID_MAX */
    char big[400], id[OF_NOTIFY_ID_MAX + 1], es[256];
    snprintf(big, sizeof big, "{\"id\":\"%0250d\"}", 7);
    CHECK_INT(of_notify_parse_created(OF_NOTIFY_WEBHOOK, big, strlen(big), id, es, sizeof es),
              OF_ERR_PROTOCOL);
}

static const struct {
    of_notify_mode mode;
    const char *url, *id, *want;
} URL_CASES[] = {
    {OF_NOTIFY_WEBHOOK, "https://hooks.example.com/x", NULL, "https://hooks.example.com/x"},
    {OF_NOTIFY_WEBHOOK, "https://hooks.example.com/x/", "msg-1",
     "https://hooks.example.com/x/msg-1"},
    {OF_NOTIFY_WEBHOOK, "http://h/x", "a/b?c", "http://h/x/a%2Fb%3Fc"},
    {OF_NOTIFY_SLACK, "https://slack.com/api", NULL, "https://slack.com/api/chat.postMessage"},
    {OF_NOTIFY_SLACK, "https://slack.com/api/", "C1/1.2", "https://slack.com/api/chat.update"},
};

static void test_urls(void)
{
    for (size_t k = 0; k < sizeof URL_CASES / sizeof URL_CASES[0]; k++) {
        of_buf b;
        of_buf_init(&b, 4096);
        CHECK_INT(of_notify_url(URL_CASES[k].mode, URL_CASES[k].url, URL_CASES[k].id, &b), OF_OK);
        CHECK_STR(b.data, URL_CASES[k].want);
        of_buf_clear(&b);
    }
}

/* ---- timing -----------------------------------------------------------------------------------
 */

static const struct {
    const char *name;
    of_notify_timing t;
    int64_t want;
} DUE_CASES[] = {
    {"clean: never", {false, 5000, 0, 0, 0}, INT64_MAX},
    {"first change: at once", {true, 0, 0, 0, 0}, 0},
    {"coalesced behind the last send", {true, 5000, 0, 0, 0}, 7000},
    {"backoff later than the interval", {true, 5000, 1, 6000, 9000}, 9000},
    {"backoff earlier than the interval", {true, 5000, 1, 6000, 6500}, 7000},
};

static void test_due(void)
{
    for (size_t k = 0; k < sizeof DUE_CASES / sizeof DUE_CASES[0]; k++) {
        fprintf(stderr, "case: %s\n", DUE_CASES[k].name);
        CHECK_INT(of_notify_due_at(&DUE_CASES[k].t, 2000), DUE_CASES[k].want);
    }
}

static void test_after(void)
{
    uint64_t rnd = 42;
    /* success: clean, sent now */
    of_notify_timing t = {.dirty = true};
    CHECK_INT(of_notify_after(&t, OF_HTTP_OK, -1, 1000, 60000, &rnd), OF_NOTIFY_SENT);
    CHECK(!t.dirty);
    CHECK_INT(t.last_sent, 1000);
    CHECK_INT(t.attempts, 0);
    /* retries back off (capped at 10 s) until the deadline, counted from the first try */
    t = (of_notify_timing){.dirty = true};
    int64_t now = 0, last_delay = 0;
    int retries = 0;
    of_notify_next nx;
    while ((nx = of_notify_after(&t, OF_HTTP_RETRY, -1, now, 30000, &rnd)) == OF_NOTIFY_RETRY) {
        int64_t d = t.retry_at - now;
        CHECK(d >= 125 && d <= 10000);
        CHECK(t.retry_at < 30000);
        last_delay = d;
        now = t.retry_at;
        retries++;
    }
    CHECK_INT(nx, OF_NOTIFY_GIVE_UP);
    CHECK(retries >= 4);
    CHECK(last_delay >= 1000); /* grew */
    CHECK(!t.dirty);
    CHECK_INT(t.attempts, 0);
    /* Retry-After is honoured */
    t = (of_notify_timing){.dirty = true};
    CHECK_INT(of_notify_after(&t, OF_HTTP_RETRY, 7000, 100, 60000, &rnd), OF_NOTIFY_RETRY);
    CHECK_INT(t.retry_at, 7100);
    CHECK_INT(t.attempts, 1);
    /* ... unless it would pass the deadline */
    t = (of_notify_timing){.dirty = true};
    CHECK_INT(of_notify_after(&t, OF_HTTP_RETRY, 90000, 100, 60000, &rnd), OF_NOTIFY_GIVE_UP);
    /* a permanent failure (a 4xx) gives up at once */
    t = (of_notify_timing){.dirty = true};
    CHECK_INT(of_notify_after(&t, OF_HTTP_FAIL, -1, 100, 60000, &rnd), OF_NOTIFY_GIVE_UP);
    CHECK(!t.dirty);
}

/* 10,000 job events in 10 s with min_interval 2 s: six sends, the last one after the last
 * event (the final state always goes out). */
static void test_coalescing(void)
{
    uint64_t rnd = 7;
    of_notify_timing t = {0};
    int sends = 0;
    int64_t last_event = 0, last_send = -1;
    for (int64_t now = 1000; now <= 15000; now++) { /* a monotonic clock is never 0 */
        if (now < 11000) {
            t.dirty = true; /* one event per ms */
            last_event = now;
        }
        if (of_notify_due_at(&t, 2000) <= now) {
            CHECK_INT(of_notify_after(&t, OF_HTTP_OK, -1, now, 60000, &rnd), OF_NOTIFY_SENT);
            sends++;
            last_send = now;
        }
    }
    CHECK_INT(sends, 6); /* at 1000, 3000, ..., 11000 */
    CHECK(last_send >= last_event);
    CHECK(!t.dirty);
}

/* ---- the state file ---------------------------------------------------------------------------
 */

static void test_ids_file(void)
{
    char dir[] = "/tmp/of-notify-XXXXXX", path[64], es[256] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/notify.state", dir);
    of_notify_ids ids;
    CHECK_INT(of_notify_ids_load(&ids, path, es, sizeof es), OF_OK); /* missing: empty */
    CHECK_INT(ids.n, 0);
    int64_t now = 1800000000000;
    CHECK_INT(of_notify_ids_put(&ids, "11111111-1111-5111-8111-111111111111", "msg-1", now), OF_OK);
    CHECK_INT(of_notify_ids_put(&ids, "22222222-2222-5222-8222-222222222222", "C1/1.2", now),
              OF_OK);
    CHECK_INT(of_notify_ids_put(&ids, "11111111-1111-5111-8111-111111111111", "msg-9", now), OF_OK);
    CHECK_INT(of_notify_ids_put(&ids, "33333333-3333-5333-8333-333333333333", "old",
                                now - OF_NOTIFY_KEEP_MS - 1),
              OF_OK);
    CHECK_INT(of_notify_ids_put(&ids, "44444444-4444-5444-8444-444444444444", "a b", now),
              OF_ERR_INVALID);
    CHECK_INT(ids.n, 3);
    CHECK_INT(of_notify_ids_save(&ids, path, now, es, sizeof es), OF_OK);
    of_notify_ids_clear(&ids);
    /* a line someone broke is skipped, the rest read */
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs("garbage\nxx yy zz extra\n", f);
        fclose(f);
    }
    CHECK_INT(of_notify_ids_load(&ids, path, es, sizeof es), OF_OK);
    CHECK_INT(ids.n, 2); /* the old one was left out */
    CHECK_STR(of_notify_ids_get(&ids, "11111111-1111-5111-8111-111111111111"), "msg-9");
    CHECK_STR(of_notify_ids_get(&ids, "22222222-2222-5222-8222-222222222222"), "C1/1.2");
    CHECK(of_notify_ids_get(&ids, "33333333-3333-5333-8333-333333333333") == NULL);
    of_notify_ids_del(&ids, "11111111-1111-5111-8111-111111111111");
    of_notify_ids_del(&ids, "55555555-5555-5555-8555-555555555555"); /* not there: nothing */
    CHECK(of_notify_ids_get(&ids, "11111111-1111-5111-8111-111111111111") == NULL);
    CHECK_STR(of_notify_ids_get(&ids, "22222222-2222-5222-8222-222222222222"), "C1/1.2");
    of_notify_ids_clear(&ids);
    /* a directory cannot be written over */
    CHECK_INT(of_notify_ids_save(&ids, dir, now, es, sizeof es), OF_ERR_IO);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_summary_and_text();
    test_failed_cap();
    test_bodies();
    test_replies();
    test_urls();
    test_due();
    test_after();
    test_coalescing();
    test_ids_file();
    if (of_test_failures) {
        fprintf(stderr, "%d of %d checks failed\n", of_test_failures, of_test_checks);
        return 1;
    }
    printf("notify: %d checks passed\n", of_test_checks);
    return 0;
}
