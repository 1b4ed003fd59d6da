/* The worker daemon (worker/worker.h) end to end, in one process: librdkafka's mock cluster for
 * Kafka, the Octopus simulator (sim/) on an ephemeral port with tests/fixtures/
 * worker-world.json, the worker in a thread with its own stop flag. Jobs are written to
 * jobs.s1 with of_job_encode; the test reads the events and DLQ topics, asks the simulator
 * (through the Octopus client) what was deployed, and reads the group's committed offsets.
 *
 * Cases (run all, or name some: test_worker happy timeout; ctest runs each as worker.<case>,
 * tests/CMakeLists.txt lists them):
 *   keys       the dedupe key / comment format (attempt 1 never matches attempt 10)
 *   happy      N jobs -> started + succeeded each, deployed exactly once, offsets = end
 *   failure    a failing task (its error text), a 400 (lifecycle), a passed deadline
 *   garbage    a malformed message -> DLQ with reason and source headers; later jobs succeed
 *   adopt      a deployment with the job's comment exists -> adopted, no second deployment;
 *              the next attempt (replay) creates a new one
 *   timeout    policy timeout with cancel -> task Canceled, job.timed_out; without -> at once
 *   waiting    interruption -> job.waiting, released via the admin API -> job.succeeded
 *   inflight   max_in_flight 2, 6 jobs -> never more than 2 deployments live (sim timestamps)
 *   redeliver  the broker refuses the first events: produced again, none lost
 *   drain      stop with a job running and a 1 s drain timeout: no event, no commit; the
 *              restarted worker adopts the deployment; a cancel in Octopus -> job.cancelled
 *   rebalance  a second worker joins: jobs of the moved partition are dropped by the first
 *              (no event) and adopted by the second; each job succeeds once, deployed once
 *   load       200 jobs in flight: Octopus requests per poll round (printed, bounded)
 *   feed       completion from the event feed: every job finishes while the full round of
 *              every task never runs (task_check_interval 10m), the look-ups are batched
 *              (far fewer than one per job), final events carry the task's times; another
 *              team's completions meanwhile are not read (the polls ask for our tasks only)
 *   feedrace   a create's reply comes after its task ended and a filtered poll passed the end:
 *              the task, once known, is read from the feed where its job saw it, not by the
 *              safety net
 *   feedgap    the same, then an unfiltered read (feed_filter_max 1, two more tasks) that
 *              starts above that end: the task is still read from where its job saw the feed
 *   feedrefused  a proxy refuses feed reads that name tasks (404): the worker reads the whole
 *              feed from then on, and still notices every end from it
 *   feedloss   the simulator drops every completion event: the safety net (task_check_interval
 *              1s) still finishes every job, and counts what it found
 *   burst      tasks ending one after another (task cap 1) with a 4 s poll_interval: once the
 *              feed has named a task of ours it is read every feed_busy_interval, so each later
 *              end is noticed well within a second, not up to a poll_interval late
 *   idleflush  linger.ms two minutes: the jobs' events still arrive within a minute, since a
 *              worker left with no job sends what it produced at once
 *   hold       the look-ups answer 503 for 3 s as the jobs arrive: the worker holds, every
 *              look-up that gives up puts its job back (none fails); a create whose answer is
 *              lost afterwards is adopted; each target deployed once
 *   stages     max_in_flight 1, taken: a stage-1 job then a stage-2 job arrive; both are
 *              fetched (the jobs_in_flight gauge says 3) and the stage-2 job gets the slot first
 * The mock's first group join takes ~3 s; each case budgets generously for a loaded machine. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fleet.h"
#include "guard.h"
#include "inproc.h"
#include "kafka.h"
#include "log.h"
#include "msg.h"
#include "octopus.h"
#include "sim.h"
#include "test.h"
#include "utf8.h"
#include "uuid.h"
#include "worker.h"

#define API_KEY      "API-WORKERTEST0000000000000000001"
#define RELEASE      "2026.18"
#define WAIT_MS      60000 /* generous: a loaded 2-core machine, a 3 s group join */
#define MAX_EVENTS   2048
#define MAX_MESSAGES 64

static char es[1024];

/* ------------------------------------------------------------------------------------------ */
/* The test world: mock Kafka + simulator + config + an Octopus client for inspection. */

typedef struct world {
    of_inproc in; /* mock cluster, simulator, config (cli/inproc.h) */
    of_octo *octo;
    char jobs_topic[OF_TOPIC_NAME_MAX];
    char events_topic[OF_TOPIC_NAME_MAX];
    char dlq_topic[OF_TOPIC_NAME_MAX];
    char release_id[OF_UUID_STR_SIZE];
    /* the worker threads: wk[0] "w1", wk[1] "w2" (the rebalance case) */
    of_inproc_daemon wk[2];
} world;

/* sets: more settings, name/value pairs ending with NULL. False (after saying why) when the
 * world cannot be built; world_stop(w) cleans up either way. */
static bool world_start(world *w, const char *const *sets)
{
    memset(w, 0, sizeof(*w));
    of_inproc_set all[32] = {
        {"topics.partitions", "2"},
        {"topics.max_stages", "2"},
        {"worker.name", "w1"},
        {"worker.poll_interval", "100ms"},
        {"worker.drain_timeout", "30s"},
        {"worker.max_poll_interval", "30s"},
        {"kafka.properties", "session.timeout.ms=6000"},
        {"kafka.properties", "heartbeat.interval.ms=500"},
        {"kafka.properties", "auto.commit.interval.ms=200"},
    };
    size_t n = 9;
    for (size_t i = 0; sets && sets[i]; i += 2) {
        OF_ASSERT(n < sizeof(all) / sizeof(all[0]));
        all[n++] = (of_inproc_set){sets[i], sets[i + 1]};
    }
    of_inproc_opts o = {.world_path = OF_SOURCE_DIR "/tests/fixtures/worker-world.json",
                        .sets = all,
                        .n_sets = n,
                        .client_id = "test",
                        .topics_timeout_ms = 10000};
    if (of_inproc_start(&w->in, &o, es, sizeof(es)) != OF_OK ||
        of_config_check(&w->in.cfg, OF_ROLE_WORKER, es, sizeof(es)) != OF_OK) {
        fprintf(stderr, "world: %s\n", es);
        return false;
    }
    const of_config *c = &w->in.cfg;
    if (of_config_jobs_topic(c, 1, w->jobs_topic, sizeof(w->jobs_topic)) != OF_OK ||
        of_config_topic(c, "events", w->events_topic, sizeof(w->events_topic)) != OF_OK ||
        of_config_topic(c, "dlq", w->dlq_topic, sizeof(w->dlq_topic)) != OF_OK) {
        fprintf(stderr, "world: topics.prefix too long\n");
        return false;
    }
    of_octo_opts oo;
    of_fleet_octo_opts(c, API_KEY, &oo);
    if (of_octo_new(&oo, &w->octo, es, sizeof(es)) != OF_OK ||
        of_octo_connect(w->octo, es, sizeof(es)) != OF_OK) {
        fprintf(stderr, "octopus client: %s\n", es);
        return false;
    }
    of_uuid_release_id("Default", RELEASE, w->release_id);
    return true;
}

static void worker_start(world *w, int i)
{
    CHECK_INT(of_inproc_daemon_start(&w->wk[i], &w->in, OF_INPROC_WORKER, i == 0 ? "w1" : "w2",
                                     API_KEY, es, sizeof(es)),
              OF_OK);
}

/* Asks for a drain and waits for the run to return; the run's result must be OF_OK. */
static void worker_stop(world *w, int i)
{
    of_inproc_daemon *t = &w->wk[i];
    if (!t->started) return;
    of_inproc_daemon_stop(t);
    CHECK_INT(t->rc, OF_OK);
    if (t->rc) fprintf(stderr, "worker %s: %s\n", t->name, t->errstr);
}

static void world_stop(world *w)
{
    worker_stop(w, 0);
    worker_stop(w, 1);
    of_octo_destroy(w->octo);
    w->octo = NULL;
    of_inproc_clear(&w->in);
}

/* ------------------------------------------------------------------------------------------ */
/* Jobs */

static char *xdup(const char *s)
{
    char *p = strdup(s);
    OF_ASSERT(p);
    return p;
}

static const char *env_id(const char *env)
{
    return strcmp(env, "Dev") == 0    ? "Environments-1"
           : strcmp(env, "Test") == 0 ? "Environments-2"
                                      : "Environments-3";
}

/* A stage-1 job of project Web for tenant in env; the caller clears it. */
static void make_job(const world *w, of_job *j, const char *tenant, const char *env, int attempt)
{
    char tid[64];
    memset(j, 0, sizeof(*j));
    of_id_copy(j->release_id, w->release_id);
    of_uuid_job_id(w->release_id, 1, "Web", env, tenant, j->job_id);
    j->release_name = xdup(RELEASE);
    j->stage = 1;
    j->stage_count = 2;
    j->stage_name = xdup("apps");
    j->attempt = attempt;
    j->space = (of_ref){xdup("Spaces-1"), xdup("Default")};
    j->project = (of_ref){xdup("Projects-1"), xdup("Web")};
    j->tenanted_mode = OF_TENANTED_TENANTED;
    j->octo_release = (of_ref){xdup("Releases-1"), xdup("1.0.0")};
    j->environment = (of_ref){xdup(env_id(env)), xdup(env)};
    snprintf(tid, sizeof(tid), "Tenants-%s", tenant);
    j->tenant = (of_ref){xdup(tid), xdup(tenant)};
    j->dispatched_ms = of_wall_ms();
}

static void produce_raw(world *w, const char *key, const void *value, size_t len)
{
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&w->in.fk.kc, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    of_kafka_record rec = {
        w->jobs_topic, OF_KAFKA_PARTITION_ANY, key, strlen(key), value, len, NULL, 0};
    CHECK_INT(of_kafka_produce(p, &rec, NULL, NULL, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);
    of_kafka_producer_destroy(p);
}

/* Encodes and produces to each job's stage topic, jobs.s1 or jobs.s2 (key "<env id>/<tenant
 * id>"); the jobs stay the caller's. */
static void produce_jobs(world *w, of_job *jobs, size_t n)
{
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&w->in.fk.kc, NULL, &p, es, sizeof(es)), OF_OK);
    for (size_t i = 0; p && i < n; i++) {
        char *json = NULL, key[128], topic[OF_TOPIC_NAME_MAX];
        CHECK_INT(of_job_encode(&jobs[i], &json), OF_OK);
        CHECK_INT(of_config_jobs_topic(&w->in.cfg, jobs[i].stage, topic, sizeof topic), OF_OK);
        snprintf(key, sizeof(key), "%s/%s", jobs[i].environment.id,
                 jobs[i].tenant.id ? jobs[i].tenant.id : "-");
        of_kafka_record rec = {topic, OF_KAFKA_PARTITION_ANY,  key,  strlen(key),
                               json,  json ? strlen(json) : 0, NULL, 0};
        CHECK_INT(of_kafka_produce(p, &rec, NULL, NULL, es, sizeof(es)), OF_OK);
        free(json);
    }
    if (p) CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);
    of_kafka_producer_destroy(p);
}

/* make_job for attempt 1, with the job's id copied into id. */
static void make_job_id(const world *w, of_job *j, const char *tenant, const char *env,
                        char id[OF_UUID_STR_SIZE])
{
    make_job(w, j, tenant, env, 1);
    memcpy(id, j->job_id, OF_UUID_STR_SIZE);
}

/* produce_jobs, then clears the jobs. */
static void produce_and_clear(world *w, of_job *jobs, size_t n)
{
    produce_jobs(w, jobs, n);
    for (size_t i = 0; i < n; i++)
        of_job_clear(&jobs[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* Events */

typedef struct evrow {
    of_event_type type;
    char job_id[OF_UUID_STR_SIZE];
    int attempt;
    char source[64];
    char deployment_id[64];
    char task_id[64];
    char web_link[256];
    char message[512];
    bool content_type_ok;
    int64_t task_queued_ms, task_started_ms, task_completed_ms; /* final events */
    int64_t time_ms;                                            /* the event's time */
} evrow;

typedef struct evlist {
    evrow *rows;
    size_t n;
    size_t bad; /* events that did not decode */
} evlist;

static of_err collect_event(void *opaque, const of_kafka_message *m)
{
    evlist *l = opaque;
    of_event ev;
    char e[256];
    if (l->n >= MAX_EVENTS || of_event_decode(m->value, m->value_len, &ev, e, sizeof(e)) != OF_OK) {
        l->bad++;
        of_event_clear(&ev);
        return OF_OK;
    }
    evrow *r = &l->rows[l->n++];
    memset(r, 0, sizeof(*r));
    r->type = ev.type;
    of_id_copy(r->job_id, ev.job_id);
    r->attempt = ev.attempt;
    snprintf(r->source, sizeof(r->source), "%s", ev.source ? ev.source : "");
    snprintf(r->deployment_id, sizeof(r->deployment_id), "%s",
             ev.deployment_id ? ev.deployment_id : "");
    snprintf(r->task_id, sizeof(r->task_id), "%s", ev.task_id ? ev.task_id : "");
    snprintf(r->web_link, sizeof(r->web_link), "%s", ev.web_link ? ev.web_link : "");
    snprintf(r->message, sizeof(r->message), "%s", ev.message ? ev.message : "");
    r->task_queued_ms = ev.task_queued_ms;
    r->task_started_ms = ev.task_started_ms;
    r->task_completed_ms = ev.task_completed_ms;
    r->time_ms = ev.time_ms;
    const void *ct;
    size_t ctlen;
    r->content_type_ok = of_kafka_message_header(m, "content-type", &ct, &ctlen) &&
                         ctlen == strlen(OF_CE_CONTENT_TYPE) &&
                         memcmp(ct, OF_CE_CONTENT_TYPE, ctlen) == 0;
    of_event_clear(&ev);
    return OF_OK;
}

static void read_events(world *w, evlist *l)
{
    l->n = l->bad = 0;
    if (!l->rows) l->rows = calloc(MAX_EVENTS, sizeof(*l->rows));
    OF_ASSERT(l->rows);
    if (of_kafka_read_topic(&w->in.fk.kc, w->events_topic, 20000, collect_event, l, NULL, es,
                            sizeof(es)) != OF_OK)
        fprintf(stderr, "reading events: %s\n", es);
}

static const evrow *ev_find(const evlist *l, const char *job_id, int attempt, of_event_type t)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->rows[i].type == t && l->rows[i].attempt == attempt &&
            strcmp(l->rows[i].job_id, job_id) == 0)
            return &l->rows[i];
    return NULL;
}

static size_t ev_count(const evlist *l, const char *job_id, of_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->rows[i].type == t && strcmp(l->rows[i].job_id, job_id) == 0) n++;
    return n;
}

static bool is_final(of_event_type t)
{
    return t == OF_EV_JOB_SUCCEEDED || t == OF_EV_JOB_FAILED || t == OF_EV_JOB_CANCELLED ||
           t == OF_EV_JOB_TIMED_OUT;
}

/* A final event for every (job, attempt) given. */
typedef struct want {
    const char *job_id;
    int attempt;
} want;

/* ids[i] gets jobs[i]'s id and ws[i] names its final event (attempt 1). */
static void want_final(const of_job *jobs, size_t n, char (*ids)[OF_UUID_STR_SIZE], want *ws)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(ids[i], jobs[i].job_id, OF_UUID_STR_SIZE);
        ws[i] = (want){ids[i], 1};
    }
}

/* jobs[i]: attempt 1 for tenants[i], in env_even for even i and env_odd for odd i; ids[i] gets
 * its id and ws[i] names its final event. */
static void make_jobs(const world *w, of_job *jobs, size_t n, const char *const *tenants,
                      const char *env_even, const char *env_odd, char (*ids)[OF_UUID_STR_SIZE],
                      want *ws)
{
    for (size_t i = 0; i < n; i++)
        make_job(w, &jobs[i], tenants[i], i % 2 ? env_odd : env_even, 1);
    want_final(jobs, n, ids, ws);
}

static bool all_final(const evlist *l, const want *ws, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool got = false;
        for (size_t k = 0; k < l->n && !got; k++)
            got = is_final(l->rows[k].type) && l->rows[k].attempt == ws[i].attempt &&
                  strcmp(l->rows[k].job_id, ws[i].job_id) == 0;
        if (!got) return false;
    }
    return true;
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the events topic until every wanted job has a final event, or WAIT_MS passes. */
static bool wait_final(world *w, evlist *l, const want *ws, size_t n)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_events(w, l);
        if (all_final(l, ws, n)) return true;
        if (of_now_ms() > deadline) return false;
        nap(200);
    }
}

/* Starts worker 0, produces the jobs (and clears them), waits until each of ws has its final
 * event in l, and stops the worker. */
static void run_to_final(world *w, of_job *jobs, size_t n, const want *ws, evlist *l)
{
    worker_start(w, 0);
    produce_and_clear(w, jobs, n);
    CHECK(wait_final(w, l, ws, n));
    worker_stop(w, 0);
}

/* Polls until job_id (attempt 1) has an event of type t. */
static const evrow *wait_event(world *w, evlist *l, const char *job_id, of_event_type t)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_events(w, l);
        const evrow *r = ev_find(l, job_id, 1, t);
        if (r || of_now_ms() > deadline) return r;
        nap(200);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Inspection */

/* Deployments of Web for tenant in env, as the simulator has them. */
static size_t deployments_of(world *w, const char *tenant, const char *env,
                             of_octo_deployment_list *out)
{
    char tid[64];
    snprintf(tid, sizeof(tid), "Tenants-%s", tenant);
    of_octo_deploy_query q = {0};
    q.project_id = "Projects-1";
    q.environment_id = env_id(env);
    q.tenant_id = tid;
    q.take = 100;
    memset(out, 0, sizeof(*out));
    if (of_octo_list_deployments(w->octo, NULL, &q, out, es, sizeof(es)) != OF_OK) {
        fprintf(stderr, "list deployments: %s\n", es);
        return (size_t)-1;
    }
    return out->total;
}

static size_t count_deployments(world *w, const char *tenant, const char *env)
{
    of_octo_deployment_list l;
    size_t n = deployments_of(w, tenant, env, &l);
    of_octo_deployment_list_clear(&l);
    return n;
}

/* End offset per partition of jobs.s1 (last offset + 1), from reading it. */
typedef struct ends {
    int64_t end[16];
} ends;

static of_err note_end(void *opaque, const of_kafka_message *m)
{
    ends *e = opaque;
    if (m->partition >= 0 && m->partition < 16 && m->offset + 1 > e->end[m->partition])
        e->end[m->partition] = m->offset + 1;
    return OF_OK;
}

/* Whether the worker group's committed offsets equal the end of every jobs.s1 partition. */
static bool committed_at_end(world *w, bool report)
{
    ends e;
    memset(&e, 0, sizeof(e));
    if (of_kafka_read_topic(&w->in.fk.kc, w->jobs_topic, 20000, note_end, &e, NULL, es,
                            sizeof(es)) != OF_OK) {
        fprintf(stderr, "reading %s: %s\n", w->jobs_topic, es);
        return false;
    }
    of_kafka_consumer *c = NULL;
    of_kafka_consumer_opts co = {.group_id = w->in.cfg.worker.group_id};
    if (of_kafka_consumer_new(&w->in.fk.kc, &co, &c, es, sizeof(es)) != OF_OK) {
        fprintf(stderr, "consumer: %s\n", es);
        return false;
    }
    of_kafka_offset offs[2] = {{w->jobs_topic, 0, 0}, {w->jobs_topic, 1, 0}};
    bool ok = of_kafka_committed(c, offs, 2, 10000, es, sizeof(es)) == OF_OK;
    if (!ok) fprintf(stderr, "committed: %s\n", es);
    for (int p = 0; ok && p < 2; p++) {
        int64_t end = e.end[p] ? e.end[p] : OF_KAFKA_OFFSET_NONE;
        if (offs[p].offset == end) continue;
        if (report)
            fprintf(stderr, "partition %d: committed %lld, end %lld\n", p,
                    (long long)offs[p].offset, (long long)e.end[p]);
        ok = false;
    }
    of_kafka_consumer_destroy(c);
    return ok;
}

static void check_committed_at_end(world *w)
{
    CHECK(committed_at_end(w, true));
}

/* While the workers run: their offsets get committed without waiting for a shutdown. */
static bool wait_committed_at_end(world *w)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    while (!committed_at_end(w, false)) {
        if (of_now_ms() > deadline) return committed_at_end(w, true);
        nap(200);
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Cases */

/* The comment/key format: the key of attempt n is in the comment of attempt n only. */
static void case_keys(void)
{
    static const struct {
        int key_attempt, comment_attempt;
        bool match;
    } rows[] = {{1, 1, true}, {1, 10, false}, {10, 1, false}, {2, 2, true}, {1, 11, false}};
    const char *id = "6f1c5a3e-2b8d-5c4e-9a7f-0123456789ab";
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char key[128], comment[512];
        of_job_dedupe_key(id, rows[i].key_attempt, key, sizeof(key));
        of_job_comments(id, rows[i].comment_attempt, RELEASE, 3, "apps", comment, sizeof(comment));
        if ((strstr(comment, key) != NULL) != rows[i].match)
            fprintf(stderr, "row %zu: key \"%s\" vs comment \"%s\"\n", i, key, comment);
        CHECK((strstr(comment, key) != NULL) == rows[i].match);
    }
    char comment[512];
    of_job_comments(id, 2, RELEASE, 3, "apps", comment, sizeof(comment));
    CHECK_STR(comment, "octofleet job 6f1c5a3e-2b8d-5c4e-9a7f-0123456789ab attempt 2; release "
                       "2026.18 stage 3 (apps)");
    of_job_comments(id, 1, RELEASE, 2, NULL, comment, sizeof(comment));
    CHECK_CONTAINS(comment, "release 2026.18 stage 2");
}

static void case_happy(world *w, evlist *l)
{
    enum { N = 8 };
    static const char *const tenants[N] = {"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08"};
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Test", ids, ws);
    run_to_final(w, jobs, N, ws, l);
    read_events(w, l);
    CHECK_INT(l->bad, 0);
    for (int i = 0; i < N; i++) {
        const evrow *st = ev_find(l, ids[i], 1, OF_EV_JOB_STARTED);
        const evrow *ok = ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED);
        CHECK(st != NULL);
        CHECK(ok != NULL);
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_FAILED), 0);
        if (st) {
            CHECK_STR(st->source, "octofleet/worker/w1");
            CHECK(strncmp(st->deployment_id, "Deployments-", 12) == 0);
            CHECK(strncmp(st->task_id, "ServerTasks-", 12) == 0);
            CHECK(strncmp(st->web_link, ofsim_url(w->in.sim), strlen(ofsim_url(w->in.sim))) == 0);
            CHECK_CONTAINS(st->web_link, st->deployment_id);
            CHECK(st->content_type_ok);
        }
        if (ok) CHECK(ok->content_type_ok);
        /* started comes before succeeded (same key, same partition) */
        CHECK(st && ok && st < ok);
        CHECK_INT(count_deployments(w, tenants[i], i % 2 ? "Test" : "Dev"), 1);
    }
    CHECK_INT(w->wk[0].stats.messages, N);
    CHECK_INT(w->wk[0].stats.created, N);
    CHECK_INT(w->wk[0].stats.adopted, 0);
    CHECK_INT(w->wk[0].stats.succeeded, N);
    CHECK(w->wk[0].stats.poll_rounds > 0);
    check_committed_at_end(w);
}

static void case_failure(world *w, evlist *l)
{
    of_job jobs[3];
    make_job(w, &jobs[0], "Broken", "Dev", 1); /* the task fails: the rule's error text */
    make_job(w, &jobs[1], "T05", "Prod", 1);   /* 400: lifecycle (Dev/Test first) */
    make_job(w, &jobs[2], "T06", "Dev", 1);    /* deadline already passed */
    jobs[2].deadline_ms = of_wall_ms() - 60000;
    want ws[3];
    char ids[3][OF_UUID_STR_SIZE];
    want_final(jobs, 3, ids, ws);
    run_to_final(w, jobs, 3, ws, l);
    const evrow *f0 = ev_find(l, ids[0], 1, OF_EV_JOB_FAILED);
    const evrow *f1 = ev_find(l, ids[1], 1, OF_EV_JOB_FAILED);
    const evrow *f2 = ev_find(l, ids[2], 1, OF_EV_JOB_FAILED);
    CHECK(f0 && f1 && f2);
    if (f0) {
        CHECK_STR(f0->message, "Step 2 of 3 failed: disk full on web-01");
        CHECK(f0->task_id[0] != '\0');
    }
    CHECK(ev_find(l, ids[0], 1, OF_EV_JOB_STARTED) != NULL);
    if (f1) CHECK_CONTAINS(f1->message, "cannot be deployed to Prod");
    CHECK(ev_find(l, ids[1], 1, OF_EV_JOB_STARTED) == NULL);
    if (f2) CHECK_CONTAINS(f2->message, "deadline passed");
    CHECK_INT(count_deployments(w, "T06", "Dev"), 0);
    CHECK_INT(count_deployments(w, "T05", "Prod"), 0);
    CHECK_INT(w->wk[0].stats.failed, 3);
    check_committed_at_end(w);
}

/* A create answered with a body whose JSON error quotes half a character (jansson's context
 * keeps one byte of it; libFuzzer's find). The job looks its deployment up by job id, as after
 * a lost reply: found (the create took effect, "after"), it is followed and succeeds; not
 * found, it fails with a reason that is UTF-8, so its event is written and its offset done
 * (an event that could not be encoded left the offset open for good). Never a second POST. */
static long route_count(world *w, const char *route);

static void case_garbled_reply(world *w, evlist *l)
{
    static const char *const faults[2] = {
        "{\"route\": \"POST /api/{space}/deployments\", \"body\": \"\\\"\\\\\u041c\"}",
        "{\"route\": \"POST /api/{space}/deployments\", \"body\": \"\\\"\\\\\u041c\", "
        "\"after\": true}",
    };
    static const char *const tenants[2] = {"T07", "T08"};
    for (int k = 0; k < 2; k++) {
        long posts = route_count(w, "POST /api/{space}/deployments");
        CHECK_INT(ofsim_add_fault(w->in.sim, faults[k]), OF_OK);
        of_job job;
        make_job(w, &job, tenants[k], "Dev", 1);
        want ws[1];
        char ids[1][OF_UUID_STR_SIZE];
        want_final(&job, 1, ids, ws);
        run_to_final(w, &job, 1, ws, l);
        CHECK_INT(route_count(w, "POST /api/{space}/deployments"), posts + 1);
        const evrow *f = ev_find(l, ids[0], 1, k ? OF_EV_JOB_SUCCEEDED : OF_EV_JOB_FAILED);
        CHECK(f != NULL);
        if (f && !k) {
            CHECK_CONTAINS(f->message, "reply is not valid JSON");
            CHECK_CONTAINS(f->message, "no deployment's comments carry");
            CHECK(of_utf8_valid(f->message));
        }
        CHECK_INT(count_deployments(w, tenants[k], "Dev"), (size_t)k);
        /* the stats are the last run's */
        CHECK_INT(w->wk[0].stats.failed, k ? 0 : 1);
        CHECK_INT(w->wk[0].stats.adopted, k ? 1 : 0);
    }
    check_committed_at_end(w);
}

typedef struct dlqrow {
    char value[128];
    char error[512], topic[128], partition[16], offset[32];
    int64_t src_offset_seen;
} dlqrow;

typedef struct dlqlist {
    dlqrow rows[MAX_MESSAGES];
    size_t n;
} dlqlist;

static void header_str(const of_kafka_message *m, const char *name, char *out, size_t n)
{
    const void *v;
    size_t len;
    out[0] = '\0';
    if (of_kafka_message_header(m, name, &v, &len) && v)
        snprintf(out, n, "%.*s", (int)len, (const char *)v);
}

static of_err collect_dlq(void *opaque, const of_kafka_message *m)
{
    dlqlist *l = opaque;
    if (l->n >= MAX_MESSAGES) return OF_OK;
    dlqrow *r = &l->rows[l->n++];
    snprintf(r->value, sizeof(r->value), "%.*s", (int)m->value_len,
             m->value ? (const char *)m->value : "");
    header_str(m, "octofleet-error", r->error, sizeof(r->error));
    header_str(m, "octofleet-source-topic", r->topic, sizeof(r->topic));
    header_str(m, "octofleet-source-partition", r->partition, sizeof(r->partition));
    header_str(m, "octofleet-source-offset", r->offset, sizeof(r->offset));
    return OF_OK;
}

static of_err find_garbage(void *opaque, const of_kafka_message *m)
{
    int64_t *where = opaque; /* [partition, offset] of the garbage message */
    if (m->value_len == 16 && memcmp(m->value, "this is not json", 16) == 0) {
        where[0] = m->partition;
        where[1] = m->offset;
    }
    return OF_OK;
}

static void case_garbage(world *w, evlist *l)
{
    worker_start(w, 0);
    produce_raw(w, "Environments-1/Tenants-T07", "this is not json", 16);
    const char *bad_schema = "{\"schema\":\"octofleet.job/9\",\"job_id\":\"x\"}";
    produce_raw(w, "Environments-1/Tenants-T07", bad_schema, strlen(bad_schema));
    of_job jobs[2];
    make_job(w, &jobs[0], "T07", "Dev", 1);
    make_job(w, &jobs[1], "T08", "Dev", 1);
    want ws[2];
    char ids[2][OF_UUID_STR_SIZE];
    want_final(jobs, 2, ids, ws);
    produce_and_clear(w, jobs, 2);
    CHECK(wait_final(w, l, ws, 2));
    worker_stop(w, 0);
    for (int i = 0; i < 2; i++)
        CHECK(ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED) != NULL);
    dlqlist *d = calloc(1, sizeof(*d));
    OF_ASSERT(d);
    CHECK_INT(of_kafka_read_topic(&w->in.fk.kc, w->dlq_topic, 20000, collect_dlq, d, NULL, es,
                                  sizeof(es)),
              OF_OK);
    CHECK_INT(d->n, 2);
    int64_t where[2] = {-1, -1};
    CHECK_INT(of_kafka_read_topic(&w->in.fk.kc, w->jobs_topic, 20000, find_garbage, where, NULL, es,
                                  sizeof(es)),
              OF_OK);
    const dlqrow *g = NULL, *s = NULL;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->rows[i].value, "this is not json") == 0) g = &d->rows[i];
        if (strcmp(d->rows[i].value, bad_schema) == 0) s = &d->rows[i];
    }
    CHECK(g != NULL);
    CHECK(s != NULL);
    if (g) {
        char part[16], off[32];
        snprintf(part, sizeof(part), "%lld", (long long)where[0]);
        snprintf(off, sizeof(off), "%lld", (long long)where[1]);
        CHECK(g->error[0] != '\0');
        CHECK_STR(g->topic, w->jobs_topic);
        CHECK_STR(g->partition, part);
        CHECK_STR(g->offset, off);
    }
    if (s) CHECK_CONTAINS(s->error, "schema");
    CHECK_INT(w->wk[0].stats.dlq, 2);
    check_committed_at_end(w); /* DLQ'd offsets count as done */
    free(d);
}

/* An event bigger than the fleet's message budget (message.max.bytes 2000 here, and a job
 * with 250-byte names) can never be written: it goes to the DLQ cut to the budget, with the
 * job's topic, partition and offset and the original size and SHA-256, and the job's offset
 * completes like the event would have. The deployment is made once. */
static of_err find_job_offset(void *opaque, const of_kafka_message *m)
{
    int64_t *where = opaque;
    where[0] = m->partition;
    where[1] = m->offset;
    return OF_OK;
}

static of_err collect_oversize(void *opaque, const of_kafka_message *m)
{
    dlqlist *l = opaque;
    if (collect_dlq(opaque, m) != OF_OK || l->n == 0) return OF_OK;
    char size[32], sha[80];
    header_str(m, OF_DLQ_HDR_ORIGINAL_SIZE, size, sizeof(size));
    header_str(m, OF_DLQ_HDR_ORIGINAL_SHA256, sha, sizeof(sha));
    dlqrow *r = &l->rows[l->n - 1];
    r->src_offset_seen = (int64_t)m->value_len;
    CHECK(size[0] != '\0' && (size_t)strtoull(size, NULL, 10) > m->value_len);
    CHECK_INT(strlen(sha), 64);
    return OF_OK;
}

static const char *const oversize_sets[] = {"kafka.properties", "message.max.bytes=2000", NULL};
static void case_oversize(world *w, evlist *l)
{
    (void)l;
    of_job job;
    make_job(w, &job, "T10", "Dev", 1);
    free(job.release_name);
    free(job.stage_name);
    char longname[251];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    job.release_name = xdup(longname);
    job.stage_name = xdup(longname);
    produce_and_clear(w, &job, 1);
    worker_start(w, 0);
    /* started and succeeded both become DLQ copies; wait for the job's offset to commit */
    dlqlist *d = calloc(1, sizeof(*d));
    OF_ASSERT(d);
    for (int64_t until = of_now_ms() + 60000; of_now_ms() < until && d->n < 2;) {
        d->n = 0;
        CHECK_INT(of_kafka_read_topic(&w->in.fk.kc, w->dlq_topic, 20000, collect_oversize, d, NULL,
                                      es, sizeof(es)),
                  OF_OK);
    }
    worker_stop(w, 0);
    CHECK_INT(d->n, 2);
    int64_t where[2] = {-1, -1};
    CHECK_INT(of_kafka_read_topic(&w->in.fk.kc, w->jobs_topic, 20000, find_job_offset, where, NULL,
                                  es, sizeof(es)),
              OF_OK);
    char off[32];
    snprintf(off, sizeof(off), "%lld", (long long)where[1]);
    for (size_t i = 0; i < d->n; i++) {
        CHECK_STR(d->rows[i].topic, w->jobs_topic);
        CHECK_STR(d->rows[i].offset, off);
        CHECK_CONTAINS(d->rows[i].error, "exceed the fleet's message budget of 1000 bytes");
        /* the copy is cut to the budget, key included */
        CHECK_INT(d->rows[i].src_offset_seen, 1000 - (int64_t)strlen(w->release_id));
    }
    CHECK_INT(w->wk[0].stats.succeeded, 1);
    CHECK_INT(count_deployments(w, "T10", "Dev"), 1);
    check_committed_at_end(w);
    free(d);
}

static void case_adopt(world *w, evlist *l)
{
    of_job job;
    char id[OF_UUID_STR_SIZE];
    make_job_id(w, &job, "Adopt", "Dev", id);
    /* What a worker that crashed right after creating the deployment left behind. */
    char comments[512];
    of_job_comments(job.job_id, 1, RELEASE, 1, "apps", comments, sizeof(comments));
    of_octo_deploy_req req = {0};
    req.project_id = "Projects-1";
    req.release_id = "Releases-1";
    req.environment_id = "Environments-1";
    req.tenant_id = "Tenants-Adopt";
    req.comments = comments;
    of_octo_deployment pre;
    memset(&pre, 0, sizeof(pre));
    CHECK_INT(of_octo_create_deployment(w->octo, NULL, &req, &pre, es, sizeof(es)), OF_OK);
    CHECK_INT(count_deployments(w, "Adopt", "Dev"), 1);

    worker_start(w, 0);
    produce_jobs(w, &job, 1);
    want w1 = {id, 1};
    CHECK(wait_final(w, l, &w1, 1));
    const evrow *st = ev_find(l, id, 1, OF_EV_JOB_STARTED);
    CHECK(st != NULL);
    if (st && pre.id) CHECK_STR(st->deployment_id, pre.id);
    CHECK(ev_find(l, id, 1, OF_EV_JOB_SUCCEEDED) != NULL);
    CHECK_INT(count_deployments(w, "Adopt", "Dev"), 1);
    of_job_clear(&job);

    /* A replay is a new attempt: it must deploy again, not adopt attempt 1's deployment. */
    make_job(w, &job, "Adopt", "Dev", 2);
    produce_and_clear(w, &job, 1);
    want w2 = {id, 2};
    CHECK(wait_final(w, l, &w2, 1));
    worker_stop(w, 0);
    const evrow *st2 = ev_find(l, id, 2, OF_EV_JOB_STARTED);
    CHECK(st2 != NULL);
    if (st2 && pre.id) CHECK(strcmp(st2->deployment_id, pre.id) != 0);
    CHECK(ev_find(l, id, 2, OF_EV_JOB_SUCCEEDED) != NULL);
    CHECK_INT(count_deployments(w, "Adopt", "Dev"), 2);
    CHECK_INT(w->wk[0].stats.adopted, 1);
    CHECK_INT(w->wk[0].stats.created, 1);
    of_octo_deployment_clear(&pre);
    check_committed_at_end(w);
}

static void case_timeout(world *w, evlist *l)
{
    of_job jobs[2];
    make_job(w, &jobs[0], "Slow", "Dev", 1); /* cancel_on_timeout */
    jobs[0].timeout_s = 1;
    jobs[0].cancel_on_timeout = true;
    make_job(w, &jobs[1], "SlowKeep", "Dev", 1); /* report and leave it running */
    jobs[1].timeout_s = 1;
    char ids[2][OF_UUID_STR_SIZE];
    want ws[2];
    want_final(jobs, 2, ids, ws);
    run_to_final(w, jobs, 2, ws, l);
    for (int i = 0; i < 2; i++) {
        const evrow *st = ev_find(l, ids[i], 1, OF_EV_JOB_STARTED);
        const evrow *to = ev_find(l, ids[i], 1, OF_EV_JOB_TIMED_OUT);
        CHECK(st != NULL);
        CHECK(to != NULL);
        if (!st || !to) continue;
        CHECK_CONTAINS(to->message, "timed out after 1 s");
        of_octo_task t;
        memset(&t, 0, sizeof(t));
        CHECK_INT(of_octo_get_task(w->octo, NULL, st->task_id, &t, es, sizeof(es)), OF_OK);
        if (i == 0) {
            CHECK_STR(of_octo_task_state_name(t.state), "Canceled");
            CHECK_CONTAINS(to->message, "cancelled");
        } else {
            CHECK_STR(of_octo_task_state_name(t.state), "Executing");
            CHECK_CONTAINS(to->message, "left running");
        }
        of_octo_task_clear(&t);
    }
    CHECK_INT(w->wk[0].stats.timed_out, 2);
    check_committed_at_end(w);
}

static void case_waiting(world *w, evlist *l)
{
    of_job job;
    char id[OF_UUID_STR_SIZE];
    make_job_id(w, &job, "Hold", "Dev", id);
    worker_start(w, 0);
    produce_and_clear(w, &job, 1);
    const evrow *wt = wait_event(w, l, id, OF_EV_JOB_WAITING);
    CHECK(wt != NULL);
    CHECK(ev_find(l, id, 1, OF_EV_JOB_SUCCEEDED) == NULL); /* held, not finished */
    if (wt) {
        char path[128];
        int status = 0;
        snprintf(path, sizeof(path), "/sim/interruptions/%s/release", wt->task_id);
        CHECK_INT(ofsim_admin(w->in.sim, "POST", path, NULL, &status, NULL), OF_OK);
        CHECK_INT(status, 200);
    }
    want w1 = {id, 1};
    CHECK(wait_final(w, l, &w1, 1));
    worker_stop(w, 0);
    CHECK(ev_find(l, id, 1, OF_EV_JOB_SUCCEEDED) != NULL);
    CHECK_INT(ev_count(l, id, OF_EV_JOB_WAITING), 1); /* once per episode */
    CHECK_INT(w->wk[0].stats.waiting, 1);
    check_committed_at_end(w);
}

typedef struct span {
    int64_t t;
    int delta; /* +1 created, -1 completed */
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->delta - y->delta; /* an end before a start at the same millisecond */
}

static const char *const inflight_sets[] = {"worker.max_in_flight", "2", NULL};
static void case_inflight(world *w, evlist *l)
{
    enum { N = 6 };
    static const char *const tenants[N] = {"M1", "M2", "M3", "M4", "M5", "M6"};
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    /* All six are on the topic before the worker joins: it must hold back by itself. */
    produce_and_clear(w, jobs, N);
    worker_start(w, 0);
    CHECK(wait_final(w, l, ws, N));
    worker_stop(w, 0);
    span spans[2 * N];
    size_t ns = 0;
    for (int i = 0; i < N; i++) {
        CHECK(ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED) != NULL);
        of_octo_deployment_list dl;
        size_t n = deployments_of(w, tenants[i], "Dev", &dl);
        CHECK_INT(n, 1);
        if (n == 1 && dl.n == 1) {
            of_octo_task t;
            memset(&t, 0, sizeof(t));
            CHECK_INT(of_octo_get_task(w->octo, NULL, dl.items[0].task_id, &t, es, sizeof(es)),
                      OF_OK);
            CHECK(t.completed_time_ms > 0);
            spans[ns++] = (span){dl.items[0].created_ms, +1};
            spans[ns++] = (span){t.completed_time_ms, -1};
            of_octo_task_clear(&t);
        }
        of_octo_deployment_list_clear(&dl);
    }
    qsort(spans, ns, sizeof(spans[0]), cmp_span);
    int live = 0, most = 0;
    for (size_t i = 0; i < ns; i++) {
        live += spans[i].delta;
        if (live > most) most = live;
    }
    CHECK_INT(ns, 2 * N);
    CHECK_INT(most, 2); /* never more than 2 live, and the 2 slots were used */
    CHECK_INT(w->wk[0].stats.max_in_flight, 2);
    CHECK(w->wk[0].stats.pauses >= 1);
    CHECK_INT(w->wk[0].stats.succeeded, N);
    check_committed_at_end(w);
}

/* worker.metrics_listen of the stages case: a port free when the case starts (prepare). */
static char stages_listen[32];
static const char *const stages_sets[] = {"worker.max_in_flight", "1", "worker.metrics_listen",
                                          stages_listen, NULL};

static void stages_prepare(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    if (fd >= 0) close(fd);
    snprintf(stages_listen, sizeof stages_listen, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
}

/* The worker's octofleet_worker_jobs_in_flight gauge (fetched, not yet final), -1 when the
 * metrics cannot be read. */
static long jobs_held_metric(void)
{
    const char *colon = strrchr(stages_listen, ':');
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)strtoul(colon ? colon + 1 : "0", NULL, 10));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    static char text[1 << 16];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof text - 1 && (n = read(fd, text + got, sizeof text - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    text[got] = '\0';
    const char *m = strstr(text, "\noctofleet_worker_jobs_in_flight ");
    return m ? strtol(m + strlen("\noctofleet_worker_jobs_in_flight "), NULL, 10) : -1;
}

/* One slot (max_in_flight 1), held by a job waiting for a manual intervention; then a stage-1
 * job and a stage-2 job arrive, in that order. The worker keeps fetching the later stage while
 * its slot is taken (both reach its backlog, one job beyond the limit per stage topic), and the
 * slot that frees goes to the stage-2 job first: a stage whose gate opened is not stuck behind
 * a backlog of an earlier stage. The gauge octofleet_worker_jobs_in_flight says when each has
 * been fetched. */
static void case_stages(world *w, evlist *l)
{
    of_job jobs[3];
    char ids[3][OF_UUID_STR_SIZE];
    make_job_id(w, &jobs[0], "R1", "Dev", ids[0]);
    worker_start(w, 0);
    produce_and_clear(w, jobs, 1);
    const evrow *wt = wait_event(w, l, ids[0], OF_EV_JOB_WAITING);
    CHECK(wt != NULL);
    if (!wt) return;
    make_job_id(w, &jobs[1], "M2", "Dev", ids[1]);
    make_job(w, &jobs[2], "M1", "Dev", 1);
    jobs[2].stage = 2;
    of_uuid_job_id(w->release_id, 2, "Web", "Dev", "M1", jobs[2].job_id);
    memcpy(ids[2], jobs[2].job_id, OF_UUID_STR_SIZE);
    /* each fetched while the slot is taken (the stage-1 job first: once the backlog holds a
     * stage-2 job, stage 1 is no longer fetched) */
    for (int i = 1; i <= 2; i++) {
        produce_and_clear(w, &jobs[i], 1);
        int64_t deadline = of_now_ms() + WAIT_MS;
        long held = -1;
        while ((held = jobs_held_metric()) != i + 1 && of_now_ms() < deadline)
            nap(50);
        CHECK_INT(held, i + 1);
    }
    char path[128];
    int status = 0;
    snprintf(path, sizeof(path), "/sim/interruptions/%s/release", wt->task_id);
    CHECK_INT(ofsim_admin(w->in.sim, "POST", path, NULL, &status, NULL), OF_OK);
    CHECK_INT(status, 200);
    want ws[3] = {{ids[0], 1}, {ids[1], 1}, {ids[2], 1}};
    CHECK(wait_final(w, l, ws, 3));
    worker_stop(w, 0);
    int64_t created[3] = {0, 0, 0};
    static const char *const tenants[3] = {"R1", "M2", "M1"};
    for (int i = 0; i < 3; i++) {
        CHECK(ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED) != NULL);
        of_octo_deployment_list dl;
        CHECK_INT(deployments_of(w, tenants[i], "Dev", &dl), 1);
        if (dl.n == 1) created[i] = dl.items[0].created_ms;
        of_octo_deployment_list_clear(&dl);
    }
    /* the stage-2 job overtook the stage-1 job that arrived before it */
    CHECK(created[0] > 0 && created[2] > created[0] && created[1] > created[2]);
    CHECK_INT(w->wk[0].stats.max_in_flight, 1);
    check_committed_at_end(w);
}

/* The broker refuses the worker's first events as too large although they are far below the
 * budget (their batch was refused): the worker produces them again instead of dropping them or
 * dead-lettering them, and the job's events all arrive. */
static void case_redeliver(world *w, evlist *l)
{
    of_job job;
    char id[OF_UUID_STR_SIZE];
    make_job_id(w, &job, "T09", "Dev", id);
    produce_and_clear(w, &job, 1);
    /* From here on the only producer is the worker's. */
    const int errs[] = {OF_KAFKA_PERR_MESSAGE_TOO_LARGE, OF_KAFKA_PERR_MESSAGE_TOO_LARGE};
    CHECK_INT(of_kafka_mock_push_errors(w->in.mock, OF_KAFKA_API_PRODUCE, 2, errs, es, sizeof(es)),
              OF_OK);
    worker_start(w, 0);
    want w1 = {id, 1};
    CHECK(wait_final(w, l, &w1, 1));
    worker_stop(w, 0);
    read_events(w, l); /* the drain waits for every pending event, retries included */
    CHECK(ev_find(l, id, 1, OF_EV_JOB_STARTED) != NULL);
    CHECK(ev_find(l, id, 1, OF_EV_JOB_SUCCEEDED) != NULL);
    CHECK(w->wk[0].stats.produce_retries >= 1);
    CHECK_INT(count_deployments(w, "T09", "Dev"), 1);
    check_committed_at_end(w);
}

/* Stop with a job still running and a short drain timeout: the run returns, the job's offset is
 * not committed and no final event is sent. The next run (a restart) takes the job again, adopts
 * the deployment (same id, nothing created) and follows it; a cancel in Octopus then ends it as
 * job.cancelled. */
static const char *const drain_sets[] = {"worker.drain_timeout", "1s", NULL};
static void case_drain(world *w, evlist *l)
{
    of_job job;
    char id[OF_UUID_STR_SIZE];
    make_job_id(w, &job, "Slow", "Test", id); /* runs for a minute, no policy timeout */
    produce_and_clear(w, &job, 1);
    worker_start(w, 0);
    const evrow *st = wait_event(w, l, id, OF_EV_JOB_STARTED);
    CHECK(st != NULL);
    char dep[64] = "", task[64] = "";
    if (st) {
        snprintf(dep, sizeof(dep), "%s", st->deployment_id);
        snprintf(task, sizeof(task), "%s", st->task_id);
    }
    int64_t t0 = of_now_ms();
    worker_stop(w, 0);
    CHECK(of_now_ms() - t0 < 15000); /* the drain timeout, not the job, bounded the stop */
    CHECK_INT(w->wk[0].stats.dropped, 1);
    read_events(w, l);
    CHECK_INT(ev_count(l, id, OF_EV_JOB_SUCCEEDED) + ev_count(l, id, OF_EV_JOB_FAILED) +
                  ev_count(l, id, OF_EV_JOB_CANCELLED) + ev_count(l, id, OF_EV_JOB_TIMED_OUT),
              0);
    CHECK(!committed_at_end(w, false)); /* the unfinished job holds the commit back */

    worker_start(w, 0); /* the restart */
    int64_t deadline = of_now_ms() + WAIT_MS;
    while (ev_count(l, id, OF_EV_JOB_STARTED) < 2 && of_now_ms() < deadline) {
        nap(200);
        read_events(w, l);
    }
    CHECK_INT(ev_count(l, id, OF_EV_JOB_STARTED), 2);
    for (size_t i = 0; i < l->n; i++)
        if (l->rows[i].type == OF_EV_JOB_STARTED && strcmp(l->rows[i].job_id, id) == 0)
            CHECK_STR(l->rows[i].deployment_id, dep);
    of_octo_task t;
    memset(&t, 0, sizeof(t));
    CHECK_INT(of_octo_cancel_task(w->octo, NULL, task, &t, es, sizeof(es)), OF_OK);
    of_octo_task_clear(&t);
    want w1 = {id, 1};
    CHECK(wait_final(w, l, &w1, 1));
    worker_stop(w, 0);
    const evrow *c = ev_find(l, id, 1, OF_EV_JOB_CANCELLED);
    CHECK(c != NULL);
    if (c) CHECK_CONTAINS(c->message, "cancelled");
    CHECK_INT(count_deployments(w, "Slow", "Test"), 1);
    CHECK_INT(w->wk[0].stats.adopted, 1);
    CHECK_INT(w->wk[0].stats.created, 0);
    CHECK_INT(w->wk[0].stats.cancelled, 1);
    check_committed_at_end(w);
}

static of_err count_partitions(void *opaque, const of_kafka_message *m)
{
    int *per = opaque;
    if (m->partition >= 0 && m->partition < 2) per[m->partition]++;
    return OF_OK;
}

static size_t count_source_type(const evlist *l, of_event_type t, const char *source)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->rows[i].type == t && strcmp(l->rows[i].source, source) == 0) n++;
    return n;
}

/* Two workers: w2 joins while w1 holds 8 jobs whose tasks wait on interruptions. The
 * cooperative rebalance moves one jobs.s1 partition to w2: w1 drops those jobs without an
 * event, w2 replays them from the committed offset and adopts their deployments. After the
 * tasks are released every job succeeded exactly once, every target was deployed exactly once,
 * and the committed offsets are at the end. */
static const char *const rebalance_sets[] = {"topics.max_stages", "1", NULL};
static void case_rebalance(world *w, evlist *l)
{
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 100), OF_OK);
    enum { N = 8 };
    static const char *const tenants[N] = {"R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8"};
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    produce_and_clear(w, jobs, N);
    int per[2] = {0, 0};
    CHECK_INT(of_kafka_read_topic(&w->in.fk.kc, w->jobs_topic, 20000, count_partitions, per, NULL,
                                  es, sizeof(es)),
              OF_OK);
    CHECK(per[0] > 0 && per[1] > 0); /* else no job would move */

    worker_start(w, 0);
    char tasks[N][64];
    for (int i = 0; i < N; i++) {
        const evrow *r = wait_event(w, l, ids[i], OF_EV_JOB_WAITING);
        CHECK(r != NULL);
        snprintf(tasks[i], sizeof(tasks[i]), "%s", r ? r->task_id : "");
    }
    worker_start(w, 1);
    int64_t deadline = of_now_ms() + WAIT_MS;
    do {
        nap(200);
        read_events(w, l);
    } while (count_source_type(l, OF_EV_JOB_WAITING, "octofleet/worker/w2") == 0 &&
             of_now_ms() < deadline);
    CHECK(count_source_type(l, OF_EV_JOB_WAITING, "octofleet/worker/w2") > 0);
    for (int i = 0; i < N; i++) {
        char path[700];
        int status = 0;
        snprintf(path, sizeof(path), "/sim/interruptions/%s/release", tasks[i]);
        CHECK_INT(ofsim_admin(w->in.sim, "POST", path, NULL, &status, NULL), OF_OK);
        CHECK_INT(status, 200);
    }
    CHECK(wait_final(w, l, ws, N));
    /* Committed while running (auto commit of the stored offsets), before any shutdown. */
    CHECK(wait_committed_at_end(w));
    /* Stop both at once (a scale-down): each drains while the other's leaving rebalances the
     * group; neither takes the other's partitions' messages while draining. */
    of_stop_request(&w->wk[0].stop);
    of_stop_request(&w->wk[1].stop);
    worker_stop(w, 0);
    worker_stop(w, 1);
    read_events(w, l);
    for (int i = 0; i < N; i++) {
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
        CHECK_INT(count_deployments(w, tenants[i], "Dev"), 1);
    }
    CHECK(count_source_type(l, OF_EV_JOB_SUCCEEDED, "octofleet/worker/w1") > 0);
    CHECK(count_source_type(l, OF_EV_JOB_SUCCEEDED, "octofleet/worker/w2") > 0);
    CHECK_INT(w->wk[0].stats.created, N);
    CHECK(w->wk[0].stats.dropped >= 1);
    CHECK(w->wk[1].stats.adopted >= 1);
    CHECK_INT(w->wk[1].stats.created, 0);
    CHECK_INT(w->wk[0].stats.succeeded + w->wk[1].stats.succeeded, N);
    check_committed_at_end(w);
}

/* 200 jobs in flight at once: how many Octopus requests does one poll round cost? */
static const char *const load_sets[] = {"worker.poll_interval", "500ms", NULL};
static void case_load(world *w, evlist *l)
{
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 1000), OF_OK);
    enum { N = 200 };
    of_job *jobs = calloc(N, sizeof(*jobs));
    want *ws = calloc(N, sizeof(*ws));
    char(*ids)[OF_UUID_STR_SIZE] = calloc(N, sizeof(*ids));
    OF_ASSERT(jobs && ws && ids);
    char names[N][16];
    const char *tenants[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "L%03d", i + 1);
        tenants[i] = names[i];
    }
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    produce_and_clear(w, jobs, N);
    long tasks_before = ofsim_request_count(w->in.sim, "GET /api/{space}/tasks");
    int64_t t0 = of_now_ms();
    worker_start(w, 0);
    CHECK(wait_final(w, l, ws, N));
    int64_t elapsed = of_now_ms() - t0;
    worker_stop(w, 0);
    long task_gets = ofsim_request_count(w->in.sim, "GET /api/{space}/tasks") - tasks_before;
    size_t ok = 0;
    for (int i = 0; i < N; i++)
        ok += ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED) != NULL;
    CHECK_INT(ok, N);
    CHECK_INT(w->wk[0].stats.created, N);
    CHECK(w->wk[0].stats.max_in_flight >= 150); /* they really were in flight together */
    CHECK(w->wk[0].stats.poll_rounds > 0);
    double per_round =
        w->wk[0].stats.poll_rounds ? (double)task_gets / (double)w->wk[0].stats.poll_rounds : 0;
    double tasks_per_round = w->wk[0].stats.poll_rounds ? (double)w->wk[0].stats.tasks_polled /
                                                              (double)w->wk[0].stats.poll_rounds
                                                        : 0;
    /* task_poll_chunk 100: at most ceil(200/100) = 2 GETs per round, however many jobs. */
    CHECK(per_round <= 2.0 + 1e-9);
    fprintf(stderr,
            "load: %d jobs in %.1f s (incl. ~3 s group join); max in flight %llu; %llu poll "
            "rounds, %ld GET tasks requests = %.2f per round, %.1f tasks per round; %llu Octopus "
            "requests in total (%.2f per job)\n",
            N, (double)elapsed / 1000.0, (unsigned long long)w->wk[0].stats.max_in_flight,
            (unsigned long long)w->wk[0].stats.poll_rounds, task_gets, per_round, tasks_per_round,
            (unsigned long long)w->wk[0].stats.octo_requests,
            (double)w->wk[0].stats.octo_requests / N);
    check_committed_at_end(w);
    free(jobs);
    free(ws);
    free(ids);
}

/* Requests of one route the simulator served. */
static long route_count(world *w, const char *route)
{
    return ofsim_request_count(w->in.sim, route);
}

/* Another team's deployments of Web in Test, one per tenant of tenants (n of them), created
 * straight through the Octopus client: their completions are in the feed, never ours. */
static void foreign_deployments(world *w, const char *const *tenants, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char tid[64];
        snprintf(tid, sizeof(tid), "Tenants-%s", tenants[i]);
        of_octo_deploy_req req = {.project_id = "Projects-1",
                                  .release_id = "Releases-1",
                                  .environment_id = "Environments-2",
                                  .tenant_id = tid,
                                  .comments = "another team's deployment"};
        of_octo_deployment d;
        memset(&d, 0, sizeof(d));
        CHECK_INT(of_octo_create_deployment(w->octo, NULL, &req, &d, es, sizeof(es)), OF_OK);
        of_octo_deployment_clear(&d);
    }
}

static const char *const t16[] = {"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08",
                                  "T09", "T10", "T11", "T12", "T13", "T14", "T15", "T16"};

/* N jobs with 2-3 s deployments: the feed reports every completion, so no full round of the
 * in-flight tasks runs; each batched task read asks only for what the feed named. Meanwhile
 * another team's 32 deployments end in the same space: the feed's polls ask only for the
 * worker's own tasks (regardingAny), so it reads its own completions, not theirs. */
static const char *const feed_sets[] = {"worker.task_check_interval", "10m", "worker.poll_interval",
                                        "200ms", NULL};
static void case_feed(world *w, evlist *l)
{
    enum { N = 24 };
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    char names[N][16];
    const char *tenants[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "L%03d", i + 1); /* 2-3 s deployments */
        tenants[i] = names[i];
    }
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 1000), OF_OK);
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    long deps0 = route_count(w, "GET /api/{space}/deployments");
    long tasks0 = route_count(w, "GET /api/{space}/tasks");
    long events0 = route_count(w, "GET /api/{space}/events");
    produce_and_clear(w, jobs, N);
    int64_t t0 = of_wall_ms();
    worker_start(w, 0);
    /* once the worker follows its first task, the other team's deployments run and end */
    CHECK(wait_event(w, l, ids[0], OF_EV_JOB_STARTED) != NULL);
    foreign_deployments(w, t16, 16);
    foreign_deployments(w, t16, 16);
    CHECK(wait_final(w, l, ws, N));
    worker_stop(w, 0);
    int64_t t1 = of_wall_ms();
    const of_worker_stats *st = &w->wk[0].stats;
    long deps = route_count(w, "GET /api/{space}/deployments") - deps0;
    long tasks = route_count(w, "GET /api/{space}/tasks") - tasks0;
    long events = route_count(w, "GET /api/{space}/events") - events0;
    for (int i = 0; i < N; i++) {
        const evrow *ok = ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED);
        const evrow *st1 = ev_find(l, ids[i], 1, OF_EV_JOB_STARTED);
        CHECK(ok != NULL);
        if (!ok) continue;
        /* the task's times, in order and within the run */
        CHECK(ok->task_queued_ms >= t0 - 1000 && ok->task_queued_ms <= t1);
        CHECK(ok->task_started_ms >= ok->task_queued_ms);
        CHECK(ok->task_completed_ms >= ok->task_started_ms);
        CHECK(ok->task_completed_ms <= t1);
        if (st1) CHECK_INT(st1->task_completed_ms, 0); /* only final events carry them */
        CHECK_INT(count_deployments(w, tenants[i], "Dev"), 1);
    }
    CHECK_INT(st->succeeded, N);
    CHECK_INT(st->net_rounds, 0);     /* the safety net never ran ... */
    CHECK_INT(st->net_found, 0);      /* ... and found nothing */
    CHECK(st->events_matched >= N);   /* the feed named every task */
    CHECK(st->tasks_polled <= 2 * N); /* only what the feed named (plus rare rechecks) */
    CHECK(st->lookups * 4 <= N);      /* batched: far fewer look-ups than jobs */
    CHECK(deps * 4 <= N);
    CHECK(events >= 2); /* the start position and at least one poll */
    /* Only its own: the 32 foreign completions would take it past 2 N. */
    CHECK(st->feed_filtered >= 1);
    CHECK(st->feed_events >= (uint64_t)N / 2);
    CHECK(st->feed_events < 2 * (uint64_t)N);
    fprintf(stderr,
            "feed: %d jobs: %ld look-up GETs (%llu batches), %ld GET tasks, %ld GET events "
            "(%llu filtered, %llu events read), %llu tasks read, %llu Octopus requests (%.2f per "
            "job)\n",
            N, deps, (unsigned long long)st->lookups, tasks, events,
            (unsigned long long)st->feed_filtered, (unsigned long long)st->feed_events,
            (unsigned long long)st->tasks_polled, (unsigned long long)st->octo_requests,
            (double)st->octo_requests / N);
    check_committed_at_end(w);
}

/* A filtered poll passes an event it did not ask for: job B's task ends (100 ms) while its
 * create's reply is held back 4 s, and job A's task (2-3 s) ends meanwhile, so the polls that
 * ask for A's task move the feed's position past B's event. When B's task becomes known the
 * next poll reads again from where B's job saw the feed: B is noticed from the feed, not by the
 * safety net (10 minutes away). */
static const char *const feedrace_sets[] = {"worker.task_check_interval", "10m",
                                            "worker.poll_interval", "200ms", NULL};
/* The same, and then the read that passed B's end was filtered but the next one is not:
 * feed_filter_max 1, and two more long jobs (C, D) follow once A has ended. That unfiltered
 * read starts above B's end, so it does not cover it: B, once known, is still read from where
 * its job saw the feed. */
static const char *const feedgap_sets[] = {"worker.task_check_interval",
                                           "10m",
                                           "worker.poll_interval",
                                           "200ms",
                                           "worker.feed_filter_max",
                                           "1",
                                           NULL};
static void feed_race(world *w, evlist *l, bool gap)
{
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 100), OF_OK);
    of_job a, b, cd[2];
    want ws[4];
    char ida[OF_UUID_STR_SIZE], idb[OF_UUID_STR_SIZE], idcd[2][OF_UUID_STR_SIZE];
    make_job_id(w, &a, "L001", "Dev", ida);
    make_job_id(w, &b, "T01", "Dev", idb);
    worker_start(w, 0);
    produce_and_clear(w, &a, 1);
    CHECK(wait_event(w, l, ida, OF_EV_JOB_STARTED) != NULL);
    CHECK_INT(ofsim_add_fault(w->in.sim, gap ? "{\"route\": \"POST /api/{space}/deployments\", "
                                               "\"after\": true, \"latency_ms\": 6000}"
                                             : "{\"route\": \"POST /api/{space}/deployments\", "
                                               "\"after\": true, \"latency_ms\": 4000}"),
              OF_OK);
    produce_and_clear(w, &b, 1);
    size_t n = 2;
    ws[0] = (want){ida, 1};
    ws[1] = (want){idb, 1};
    if (gap) {
        CHECK(wait_event(w, l, ida, OF_EV_JOB_SUCCEEDED) != NULL);
        static const char *const more[2] = {"L002", "L003"};
        make_jobs(w, cd, 2, more, "Dev", "Dev", idcd, ws + 2);
        produce_and_clear(w, cd, 2);
        n = 4;
    }
    CHECK(wait_final(w, l, ws, n));
    worker_stop(w, 0);
    read_events(w, l);
    const evrow *oka = ev_find(l, ida, 1, OF_EV_JOB_SUCCEEDED);
    const evrow *okb = ev_find(l, idb, 1, OF_EV_JOB_SUCCEEDED);
    const evrow *sb = ev_find(l, idb, 1, OF_EV_JOB_STARTED);
    CHECK(oka != NULL && okb != NULL && sb != NULL);
    if (oka && okb && sb) {
        /* the race took place: B's task ended before A's, and A's end was reported before
         * B's task was known */
        CHECK(okb->task_completed_ms < oka->task_completed_ms);
        CHECK(oka->time_ms < sb->time_ms);
        /* and B was noticed soon after, from the feed */
        CHECK(okb->time_ms - sb->time_ms < 3000);
    }
    const of_worker_stats *st = &w->wk[0].stats;
    if (gap) {
        /* C and D were followed (two tasks: unfiltered reads) before B's task was known */
        for (int i = 0; i < 2; i++) {
            const evrow *sc = ev_find(l, idcd[i], 1, OF_EV_JOB_STARTED);
            CHECK(sc != NULL && sb != NULL && sc->time_ms < sb->time_ms);
        }
        CHECK(st->feed_polls > st->feed_filtered + 1); /* unfiltered polls beside the start */
    }
    CHECK_INT(st->net_rounds, 0);
    CHECK_INT(st->net_found, 0);
    CHECK(st->feed_filtered >= 2);
    CHECK_INT(st->succeeded, n);
    check_committed_at_end(w);
}

static void case_feedrace(world *w, evlist *l)
{
    feed_race(w, l, false);
}

static void case_feedgap(world *w, evlist *l)
{
    feed_race(w, l, true);
}

/* Adds the simulator fault, then runs n jobs (tenants, Dev and Test in turn) to their final
 * events; their ids in ids. */
static void run_with_fault(world *w, evlist *l, const char *fault, const char *const *tenants,
                           size_t n, char (*ids)[OF_UUID_STR_SIZE])
{
    CHECK_INT(ofsim_add_fault(w->in.sim, fault), OF_OK);
    of_job jobs[16];
    want ws[16];
    OF_ASSERT(n <= 16);
    make_jobs(w, jobs, n, tenants, "Dev", "Test", ids, ws);
    run_to_final(w, jobs, n, ws, l);
}

/* A proxy in front of Octopus refuses every feed read that names tasks (an IIS 404.15: the
 * query string is too long): the first such read turns the filter off, and every completion
 * is still noticed from the (whole) feed, not by the safety net (10 minutes away). */
static void case_feedrefused(world *w, evlist *l)
{
    enum { N = 6 };
    static const char *const tenants[N] = {"M1", "M2", "M3", "M4", "M5", "M6"};
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 100), OF_OK);
    char ids[N][OF_UUID_STR_SIZE];
    run_with_fault(w, l,
                   "{\"route\": \"GET /api/{space}/events\", \"arg\": \"regardingAny\", "
                   "\"status\": 404, \"error\": \"The request filtering module is "
                   "configured to deny a request where the query string is too long.\", "
                   "\"count\": -1}",
                   tenants, N, ids);
    const of_worker_stats *st = &w->wk[0].stats;
    for (int i = 0; i < N; i++)
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
    CHECK_INT(st->succeeded, N);
    CHECK_INT(st->feed_filtered, 1); /* tried once, refused, never again */
    CHECK_INT(st->feed_errors, 1);
    CHECK(st->events_matched >= N); /* the whole feed named every task */
    CHECK_INT(st->net_rounds, 0);
    CHECK_INT(st->net_found, 0);
    check_committed_at_end(w);
}

/* Tasks that end one after another, 2-3 s apart (L tenants, task cap 1), with a long
 * poll_interval: only the first end waits for a tick; from then on the feed is in its busy
 * cadence and every later end is noticed within about feed_busy_interval. Without it each would
 * wait a uniform 0-4 s, and seven ends all within 1.5 s would happen once in a thousand runs. */
static const char *const burst_sets[] = {"worker.task_check_interval",
                                         "10m",
                                         "worker.poll_interval",
                                         "4s",
                                         "worker.feed_busy_interval",
                                         "100ms",
                                         NULL};
static void case_burst(world *w, evlist *l)
{
    enum { N = 8 };
    static const char *const tenants[N] = {"L001", "L002", "L003", "L004",
                                           "L005", "L006", "L007", "L008"};
    CHECK_INT(ofsim_set_task_cap(w->in.sim, 1), OF_OK);
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    run_to_final(w, jobs, N, ws, l);
    int64_t first = 0;
    for (int i = 0; i < N; i++) {
        const evrow *ok = ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED);
        CHECK(ok != NULL);
        if (ok && (!first || ok->time_ms < first)) first = ok->time_ms;
    }
    int later = 0;
    for (int i = 0; i < N; i++) {
        const evrow *ok = ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED);
        if (!ok || ok->task_completed_ms <= first) continue; /* ended before the busy cadence */
        later++;
        int64_t late = ok->time_ms - ok->task_completed_ms;
        if (late > 1500)
            fprintf(stderr, "burst: %s noticed %lld ms after its task ended\n", tenants[i],
                    (long long)late);
        CHECK(late <= 1500);
    }
    CHECK(later >= N / 2); /* the serial tasks really ended after the first was noticed */
    CHECK_INT(w->wk[0].stats.net_found, 0);
    check_committed_at_end(w);
}

/* A worker left with no job sends its events at once (worker.c, idle_flush): with a linger of
 * two minutes, twice WAIT_MS, the final events could otherwise not arrive within wait_final. */
static const char *const idleflush_sets[] = {"kafka.properties", "linger.ms=120000", NULL};
static void case_idleflush(world *w, evlist *l)
{
    enum { N = 2 };
    static const char *const tenants[N] = {"T01", "T02"};
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Dev", ids, ws);
    worker_start(w, 0);
    produce_and_clear(w, jobs, N);
    CHECK(wait_final(w, l, ws, N));
    for (int i = 0; i < N; i++) {
        CHECK(ev_find(l, ids[i], 1, OF_EV_JOB_STARTED) != NULL);
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
    }
    worker_stop(w, 0);
    check_committed_at_end(w);
}

/* Every completion event is dropped by the simulator: only the safety net sees the tasks end. */
static const char *const feedloss_sets[] = {"worker.task_check_interval", "1s", NULL};
static void case_feedloss(world *w, evlist *l)
{
    enum { N = 6 };
    static const char *const tenants[N] = {"T01", "T02", "T03", "T04", "T05", "T06"};
    char ids[N][OF_UUID_STR_SIZE];
    run_with_fault(w, l,
                   "{\"events\": [\"DeploymentSucceeded\", \"DeploymentFailed\", "
                   "\"TaskCanceled\"], \"drop\": true, \"count\": -1}",
                   tenants, N, ids);
    const of_worker_stats *st = &w->wk[0].stats;
    for (int i = 0; i < N; i++) {
        const evrow *ok = ev_find(l, ids[i], 1, OF_EV_JOB_SUCCEEDED);
        CHECK(ok != NULL);
        if (ok) CHECK(ok->task_completed_ms > 0);
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
    }
    CHECK_INT(st->succeeded, N);
    CHECK_INT(st->events_matched, 0); /* nothing reached the feed */
    CHECK(st->net_rounds >= 1);
    CHECK_INT(st->net_found, N); /* each finish was the safety net's */
    check_committed_at_end(w);
}

/* Octopus down (every request 503) for 3 s while jobs arrive: the worker holds; look-ups that
 * give up (retry deadline 1 s) put their jobs back instead of failing them. When it is back, the
 * first create's answer is lost (applied, connection dropped) and the deployment is adopted.
 * Every job succeeds, each target is deployed once. */
static const char *const hold_sets[] = {"octopus.retry_deadline",
                                        "1s",
                                        "octopus.request_timeout",
                                        "1s",
                                        "octopus.connect_timeout",
                                        "1s",
                                        "octopus.hold_window",
                                        "5s",
                                        "octopus.hold_min_requests",
                                        "3",
                                        "octopus.hold_probe_interval",
                                        "200ms",
                                        NULL};
static void case_hold(world *w, evlist *l)
{
    enum { N = 4 };
    static const char *const tenants[N] = {"T01", "T02", "T03", "T04"};
    of_job jobs[N];
    want ws[N];
    char ids[N][OF_UUID_STR_SIZE];
    make_jobs(w, jobs, N, tenants, "Dev", "Test", ids, ws);
    /* the outage starts once the worker has connected (GET /api/, then its space) */
    long before = route_count(w, NULL);
    worker_start(w, 0);
    int64_t deadline = of_now_ms() + WAIT_MS;
    while (route_count(w, NULL) < before + 2 && of_now_ms() < deadline)
        nap(20);
    /* The look-ups are what fails: every job's look-up then surely meets the outage (with every
     * route failing, the worker's own failing feed reads could hold it before any look-up went
     * out, and there would be nothing to requeue). The probe is answered, so the worker holds
     * and lets go in turn while it lasts; system_hold covers a whole-server outage. */
    CHECK_INT(ofsim_add_fault(w->in.sim, "{\"route\": \"GET /api/{space}/deployments\", "
                                         "\"status\": 503, \"count\": -1}"),
              OF_OK);
    long lookups0 = route_count(w, "GET /api/{space}/deployments");
    produce_and_clear(w, jobs, N);
    /* the worker has the jobs once their look-ups reach the (failing) server */
    deadline = of_now_ms() + WAIT_MS;
    while (route_count(w, "GET /api/{space}/deployments") == lookups0 && of_now_ms() < deadline)
        nap(20);
    nap(3000); /* the outage's length, not a synchronisation */
    read_events(w, l);
    for (int i = 0; i < N; i++)
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_FAILED), 0);
    ofsim_clear_faults(w->in.sim);
    CHECK_INT(ofsim_add_fault(w->in.sim, "{\"route\": \"POST /api/{space}/deployments\", "
                                         "\"drop\": true, \"after\": true, \"count\": 1}"),
              OF_OK);
    CHECK(wait_final(w, l, ws, N));
    worker_stop(w, 0);
    const of_worker_stats *st = &w->wk[0].stats;
    for (int i = 0; i < N; i++) {
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_SUCCEEDED), 1);
        CHECK_INT(ev_count(l, ids[i], OF_EV_JOB_FAILED), 0);
        CHECK_INT(count_deployments(w, tenants[i], i % 2 ? "Test" : "Dev"), 1);
    }
    CHECK_INT(st->failed, 0);
    CHECK_INT(st->succeeded, N);
    CHECK_INT(st->adopted, 1); /* the create whose answer was lost (the client looks it up) */
    CHECK(st->holds >= 1);
    CHECK(st->requeued >= N); /* every job's look-up gave up in the outage: back, not failed */
    check_committed_at_end(w);
}

/* A case runs alone (pure) or in a world started with the settings sets (NULL: none) and stopped
 * after it, with an event list of its own. */
static const struct {
    const char *name;
    const char *const *sets;
    void (*pure)(void);
    void (*fn)(world *w, evlist *l);
    void (*prepare)(void); /* before the world starts (NULL: nothing) */
} cases[] = {
    {"keys", .pure = case_keys},
    {"happy", .fn = case_happy},
    {"failure", .fn = case_failure},
    {"garbled_reply", .fn = case_garbled_reply},
    {"garbage", .fn = case_garbage},
    {"adopt", .fn = case_adopt},
    {"timeout", .fn = case_timeout},
    {"waiting", .fn = case_waiting},
    {"inflight", .sets = inflight_sets, .fn = case_inflight},
    {"redeliver", .fn = case_redeliver},
    {"drain", .sets = drain_sets, .fn = case_drain},
    {"rebalance", .sets = rebalance_sets, .fn = case_rebalance},
    {"load", .sets = load_sets, .fn = case_load},
    {"oversize", .sets = oversize_sets, .fn = case_oversize},
    {"feed", .sets = feed_sets, .fn = case_feed},
    {"feedloss", .sets = feedloss_sets, .fn = case_feedloss},
    {"feedrace", .sets = feedrace_sets, .fn = case_feedrace},
    {"feedgap", .sets = feedgap_sets, .fn = case_feedgap},
    {"feedrefused", .sets = feed_sets, .fn = case_feedrefused},
    {"burst", .sets = burst_sets, .fn = case_burst},
    {"idleflush", .sets = idleflush_sets, .fn = case_idleflush},
    {"hold", .sets = hold_sets, .fn = case_hold},
    {"stages", .sets = stages_sets, .fn = case_stages, .prepare = stages_prepare},
};

static void run_case(size_t i)
{
    if (cases[i].pure) {
        cases[i].pure();
        return;
    }
    world w;
    evlist l = {0};
    if (cases[i].prepare) cases[i].prepare();
    if (world_start(&w, cases[i].sets))
        cases[i].fn(&w, &l);
    else
        CHECK(!"world");
    free(l.rows);
    world_stop(&w);
}

int main(int argc, char **argv)
{
    char ges[256];
    if (of_octo_global_init(ges, sizeof ges) != OF_OK) { /* libcurl, once, before any thread */
        fprintf(stderr, "%s\n", ges);
        return 1;
    }
    of_log_set_level(getenv("OF_TEST_DEBUG") ? OF_LOG_DEBUG : OF_LOG_WARN);
    size_t ncases = sizeof(cases) / sizeof(cases[0]);
    for (int a = 1; a < argc; a++) { /* a misspelt case must not pass by running nothing */
        bool known = false;
        for (size_t i = 0; i < ncases; i++)
            known = known || strcmp(argv[a], cases[i].name) == 0;
        if (!known) fprintf(stderr, "no case '%s'\n", argv[a]);
        CHECK(known);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool run = argc < 2;
        for (int a = 1; a < argc && !run; a++)
            run = strcmp(argv[a], cases[i].name) == 0;
        if (!run) continue;
        int64_t t0 = of_now_ms();
        int before = of_test_failures;
        run_case(i);
        fprintf(stderr, "case %s: %s (%.1f s)\n", cases[i].name,
                of_test_failures == before ? "ok" : "FAILED", (double)(of_now_ms() - t0) / 1000.0);
    }
    return TEST_DONE();
}
