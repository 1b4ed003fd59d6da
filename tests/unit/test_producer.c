/* The producer daemon in-process: librdkafka's mock cluster, the Octopus simulator
 * (tests/fixtures/small-world.json) and the producer in a thread with its own stop flag.
 * The test plays the operator (commands on the requests topic) and the workers (job events
 * on the events topic, source octofleet/worker/test), and reads what the producer wrote:
 * jobs on the stage topics, CloudEvents, state records.
 *
 * Covered: submit -> stage-1 jobs with the right keys and events; stage N+1 of an
 * environment only after every job of stage N there succeeded or was skipped; a failure
 * stops dispatching and pauses the release (after in-flight jobs finished); replay
 * (attempt 2); a restart mid-release (stop the thread, start a new one) with no job
 * dispatched twice and the release completing; a duplicate submit ignored; an invalid
 * request and an unresolvable one rejected with every error and nothing dispatched; an
 * undecodable command dead-lettered with its reason; abort
 * --cancel-running cancelling the live Octopus task; resume reconciling with Octopus; the task
 * budget (case budget: never more than octopus.task_budget jobs out, priority overtakes, held
 * jobs survive a restart and are sent once, 429/503 halves the budget, abort cancels held jobs).
 *
 * Topics have ONE partition here, so the order of commands is total and a later command's
 * visible effect proves an earlier one was processed. The 2.0.2 mock's transactions are
 * protocol shells (offsets sent to a transaction are dropped), so a restarted producer
 * re-reads its input from the start: the no-duplicate check thus also proves the gates
 * ignore replayed input. Built as test_producer_broker (label kafka) the same scenarios run
 * against a real broker, where the restart continues from the committed offsets, plus a
 * fencing check: a replacement producer with the same transactional id stops the old one.
 * The crash-at-any-instant proof is a system test.
 *
 * Each case runs on a fixture of its own (mock cluster or broker topics, simulator, producer
 * thread, set up by cli/inproc.h), so each is its own ctest entry
 * (producer.<case>, producer_broker.<case>):
 *   test_producer [--broker] [CASE...]     flow unresolved garbage abort resume poison budget
 * budgetcap budgetgate evict fencing (poison needs the mock, fencing the real broker; with no
 * CASE, every case of the mode). */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "fleet.h"
#include "inproc.h"
#include "kafka.h"
#include "log.h"
#include "msg.h"
#include "octopus.h"
#include "producer.h"
#include "sim.h"
#include "test.h"
#include "uuid.h"
#include "worker.h"

#ifndef OF_TEST_BROKER
#define OF_TEST_BROKER 0
#endif

#define KEY      "API-OCTOFLEETTEST0000000000000001"
#define WAIT_MS  60000
#define READ_MS  20000
#define N_STAGES 3

typedef struct fx {
    of_inproc in; /* mock cluster (or broker), simulator, config */
    of_kafka_producer *tp; /* plays the CLI and the workers */ /* plays the CLI and the workers */
    of_octo *octo; /* plays a worker creating deployments, and inspects tasks */
    char t_requests[OF_TOPIC_NAME_MAX];
    char t_events[OF_TOPIC_NAME_MAX];
    char t_releases[OF_TOPIC_NAME_MAX];
    char t_dlq[OF_TOPIC_NAME_MAX];
    char t_jobs[N_STAGES][OF_TOPIC_NAME_MAX];
    of_job kept[32]; /* jobs the scenarios hold on to across re-reads */
    size_t n_kept;
    bool throttled; /* the next job_event says Octopus answered 429/503 (task budget) */
} fx;

typedef of_inproc_daemon runner;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------------- */
/* the producer thread */

static void producer_start(fx *f, runner *r)
{
    char es[512] = "";
    of_err rc =
        of_inproc_daemon_start(r, &f->in, OF_INPROC_PRODUCER, "producer", KEY, es, sizeof es);
    if (rc) fprintf(stderr, "producer: %s\n", es);
    CHECK_INT(rc, OF_OK);
}

static void producer_stop(runner *r)
{
    if (!r->started) return;
    of_inproc_daemon_stop(r);
    if (r->rc) fprintf(stderr, "producer: %s: %s\n", of_strerror(r->rc), r->errstr);
    CHECK_INT(r->rc, OF_OK);
}

/* ---------------------------------------------------------------------------------- */
/* writing: commands and worker events */

static void produce(fx *f, const char *topic, const char *key, const char *value, bool ce)
{
    of_kafka_header h = {"content-type", OF_CE_CONTENT_TYPE, strlen(OF_CE_CONTENT_TYPE)};
    of_kafka_record rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = topic;
    rec.partition = OF_KAFKA_PARTITION_ANY;
    rec.key = key;
    rec.key_len = strlen(key);
    rec.value = value;
    rec.value_len = strlen(value);
    rec.headers = ce ? &h : NULL;
    rec.nheaders = ce ? 1 : 0;
    char es[512] = "";
    CHECK_INT(of_kafka_produce(f->tp, &rec, NULL, NULL, es, sizeof es), OF_OK);
    CHECK_INT(of_kafka_flush(f->tp, 10000, es, sizeof es), OF_OK);
}

/* The fixture's topic names from its config's topics.prefix. */
static bool name_topics(fx *f)
{
    const of_config *c = &f->in.cfg;
    bool ok = of_config_topic(c, "requests", f->t_requests, sizeof f->t_requests) == OF_OK &&
              of_config_topic(c, "events", f->t_events, sizeof f->t_events) == OF_OK &&
              of_config_topic(c, "releases", f->t_releases, sizeof f->t_releases) == OF_OK &&
              of_config_topic(c, "dlq", f->t_dlq, sizeof f->t_dlq) == OF_OK;
    for (int s = 1; ok && s <= N_STAGES; s++)
        ok = of_config_jobs_topic(c, s, f->t_jobs[s - 1], sizeof f->t_jobs[s - 1]) == OF_OK;
    return ok;
}

static void send_command(fx *f, const of_command *cmd)
{
    char *v = NULL;
    CHECK_INT(of_command_encode(cmd, &v), OF_OK);
    if (v) produce(f, f->t_requests, cmd->release_id, v, false);
    free(v);
}

/* Submits request_json; the release id is derived as the CLI does (space "Default"). */
static void submit(fx *f, const char *release, const char *request_json, char rid[37])
{
    of_uuid_release_id("Default", release, rid);
    of_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = OF_CMD_SUBMIT;
    of_id_copy(cmd.release_id, rid);
    cmd.by = (char *)(uintptr_t) "tester";
    cmd.time_ms = of_wall_ms();
    cmd.request_json = (char *)(uintptr_t)request_json;
    send_command(f, &cmd);
}

/* The command_id of the last control(): the event that answers it must carry it. */
static char last_cid[37];

static void control(fx *f, of_cmd_type type, const char *rid, int stage, bool cancel_running,
                    const char *reason)
{
    of_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = type;
    of_uuid_random(cmd.command_id);
    of_id_copy(last_cid, cmd.command_id);
    of_id_copy(cmd.release_id, rid);
    cmd.by = (char *)(uintptr_t) "tester";
    cmd.reason = (char *)(uintptr_t)reason;
    cmd.time_ms = of_wall_ms();
    cmd.stage = stage;
    cmd.cancel_running = cancel_running;
    send_command(f, &cmd);
}

/* What a worker reports about job j. */
static void job_event(fx *f, const of_job *j, of_event_type type, const char *message,
                      const char *deployment_id, const char *task_id)
{
    of_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.source = (char *)(uintptr_t)OF_SOURCE_WORKER_PFX "test";
    ev.time_ms = of_wall_ms();
    of_id_copy(ev.release_id, j->release_id);
    ev.release_name = j->release_name;
    ev.stage = j->stage;
    ev.stage_count = j->stage_count;
    ev.environment = j->environment.name;
    of_id_copy(ev.job_id, j->job_id);
    ev.attempt = j->attempt;
    ev.project = j->project.name;
    ev.tenant = j->tenant.name;
    ev.message = (char *)(uintptr_t)message;
    ev.deployment_id = (char *)(uintptr_t)deployment_id;
    ev.task_id = (char *)(uintptr_t)task_id;
    ev.octopus_throttled = f->throttled;
    f->throttled = false;
    char *v = NULL;
    CHECK_INT(of_event_encode(&ev, &v), OF_OK);
    if (v) produce(f, f->t_events, j->release_id, v, true);
    free(v);
}

/* ---------------------------------------------------------------------------------- */
/* reading what the producer wrote */

typedef struct jobs_seen {
    const char *rid;
    of_job *items;
    char **keys;
    size_t n, cap;
} jobs_seen;

static of_err on_job(void *opaque, const of_kafka_message *m)
{
    jobs_seen *s = opaque;
    of_job j;
    char es[256];
    if (!m->value || of_job_decode(m->value, m->value_len, &j, es, sizeof es) != OF_OK) {
        CHECK(!"every message on a jobs topic decodes");
        return OF_OK;
    }
    if (strcmp(j.release_id, s->rid) != 0) {
        of_job_clear(&j);
        return OF_OK;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->items = realloc(s->items, s->cap * sizeof *s->items);
        s->keys = realloc(s->keys, s->cap * sizeof *s->keys);
        OF_ASSERT(s->items && s->keys);
    }
    s->keys[s->n] = strndup(m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
    s->items[s->n++] = j;
    return OF_OK;
}

static void jobs_clear(jobs_seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        of_job_clear(&s->items[i]);
        free(s->keys[i]);
    }
    free(s->items);
    free(s->keys);
    s->items = NULL;
    s->keys = NULL;
    s->n = s->cap = 0;
}

/* The release's jobs on one stage topic (stage 0: all stage topics), in log order. */
static void read_jobs(fx *f, int stage, const char *rid, jobs_seen *s)
{
    jobs_clear(s);
    s->rid = rid;
    for (int st = 1; st <= N_STAGES; st++) {
        if (stage && st != stage) continue;
        char es[512] = "";
        of_err rc = of_kafka_read_topic(&f->in.fk.kc, f->t_jobs[st - 1], READ_MS, on_job, s, NULL,
                                        es, sizeof es);
        if (rc) fprintf(stderr, "read %s: %s\n", f->t_jobs[st - 1], es);
        CHECK_INT(rc, OF_OK);
    }
}

static size_t wait_jobs(fx *f, int stage, const char *rid, size_t want, jobs_seen *s)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_jobs(f, stage, rid, s);
        if (s->n >= want || of_now_ms() > deadline) return s->n;
        sleep_ms(100);
    }
}

/* A stable copy (owned by f) of the release's job with these names and attempt, or NULL. */
static const of_job *find_job(fx *f, const jobs_seen *s, const char *project, const char *env,
                              const char *tenant, int attempt)
{
    for (size_t i = 0; i < s->n; i++) {
        const of_job *j = &s->items[i];
        bool t_ok = tenant ? (j->tenant.name && strcmp(j->tenant.name, tenant) == 0)
                           : j->tenant.name == NULL;
        if (strcmp(j->project.name, project) == 0 && strcmp(j->environment.name, env) == 0 &&
            t_ok && j->attempt == attempt) {
            OF_ASSERT(f->n_kept < sizeof f->kept / sizeof f->kept[0]);
            of_job *k = &f->kept[f->n_kept++];
            CHECK_INT(of_job_copy(k, j), OF_OK);
            return k;
        }
    }
    fprintf(stderr, "no job %s / %s / %s attempt %d\n", project, env, tenant ? tenant : "-",
            attempt);
    CHECK(!"the job the test needs was dispatched");
    return NULL;
}

static bool has_job(const jobs_seen *s, const char *project, const char *env, const char *tenant)
{
    for (size_t i = 0; i < s->n; i++) {
        const of_job *j = &s->items[i];
        if (strcmp(j->project.name, project) == 0 && strcmp(j->environment.name, env) == 0 &&
            j->tenant.name && strcmp(j->tenant.name, tenant) == 0)
            return true;
    }
    return false;
}

/* Index of job j (same id and attempt) in s, or -1. */
static long index_of(const jobs_seen *s, const of_job *j)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].job_id, j->job_id) == 0 && s->items[i].attempt == j->attempt)
            return (long)i;
    return -1;
}

typedef struct evs {
    const char *rid;
    of_event *items;
    size_t n, cap;
} evs;

static of_err on_ev(void *opaque, const of_kafka_message *m)
{
    evs *s = opaque;
    of_event ev;
    char es[256];
    const void *ct = NULL;
    size_t ctlen = 0;
    if (!m->value || of_event_decode(m->value, m->value_len, &ev, es, sizeof es) != OF_OK) {
        CHECK(!"every event decodes");
        return OF_OK;
    }
    if (strcmp(ev.release_id, s->rid) != 0) {
        of_event_clear(&ev);
        return OF_OK;
    }
    /* structured mode: every event carries the content-type header */
    CHECK(of_kafka_message_header(m, "content-type", &ct, &ctlen) && ct &&
          ctlen == strlen(OF_CE_CONTENT_TYPE) && memcmp(ct, OF_CE_CONTENT_TYPE, ctlen) == 0);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        s->items = realloc(s->items, s->cap * sizeof *s->items);
        OF_ASSERT(s->items);
    }
    s->items[s->n++] = ev;
    return OF_OK;
}

static void evs_clear(evs *s)
{
    for (size_t i = 0; i < s->n; i++)
        of_event_clear(&s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

/* Reads the whole topic (committed messages) through fn. */
static void read_all(fx *f, const char *topic, of_err (*fn)(void *, const of_kafka_message *),
                     void *opaque)
{
    char es[512] = "";
    of_err rc = of_kafka_read_topic(&f->in.fk.kc, topic, READ_MS, fn, opaque, NULL, es, sizeof es);
    if (rc) fprintf(stderr, "read %s: %s\n", topic, es);
    CHECK_INT(rc, OF_OK);
}

static void read_events(fx *f, const char *rid, evs *s)
{
    evs_clear(s);
    s->rid = rid;
    read_all(f, f->t_events, on_ev, s);
}

/* Events of type from the producer (stage 0 = any stage). */
static size_t count_ev(const evs *s, of_event_type type, int stage)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].type == type && (!stage || s->items[i].stage == stage) &&
            strcmp(s->items[i].source, OF_SOURCE_PRODUCER) == 0)
            n++;
    return n;
}

static const of_event *last_ev(const evs *s, of_event_type type)
{
    for (size_t i = s->n; i-- > 0;)
        if (s->items[i].type == type && strcmp(s->items[i].source, OF_SOURCE_PRODUCER) == 0)
            return &s->items[i];
    return NULL;
}

static size_t wait_ev(fx *f, const char *rid, of_event_type type, size_t want, evs *s)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_events(f, rid, s);
        size_t n = count_ev(s, type, 0);
        if (n >= want || of_now_ms() > deadline) return n;
        sleep_ms(100);
    }
}

typedef struct state_q {
    char key[128];
    of_job_record rec;
    bool found;
} state_q;

static of_err on_state(void *opaque, const of_kafka_message *m)
{
    state_q *q = opaque;
    if (!m->key || m->key_len != strlen(q->key) || memcmp(m->key, q->key, m->key_len) != 0)
        return OF_OK;
    of_job_record_clear(&q->rec);
    char es[256];
    q->found =
        m->value && of_job_record_decode(m->value, m->value_len, &q->rec, es, sizeof es) == OF_OK;
    return OF_OK;
}

/* Waits until the job's latest state record has status want; returns the last status seen
 * (-1 if none) and leaves the record in *out (caller clears). */
static int wait_job_status(fx *f, const of_job *j, of_job_status want, of_job_record *out)
{
    state_q q;
    memset(&q, 0, sizeof q);
    of_job_record_key(j->release_id, j->job_id, q.key, sizeof q.key);
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        q.found = false;
        char es[512] = "";
        CHECK_INT(of_kafka_read_topic(&f->in.fk.kc, f->t_releases, READ_MS, on_state, &q, NULL, es,
                                      sizeof es),
                  OF_OK);
        if ((q.found && q.rec.status == want) || of_now_ms() > deadline) break;
        sleep_ms(100);
    }
    *out = q.rec;
    return q.found ? (int)q.rec.status : -1;
}

/* ---------------------------------------------------------------------------------- */
/* the scenarios */

static const char r1_json[] = "{\"release\":\"T1\",\"space\":\"Default\","
                              "\"environments\":[\"Hosted Beta\",\"On Site Beta\"],"
                              "\"tenants\":{\"names\":[\"Acme\",\"Contoso\",\"Initech\"]},"
                              "\"stages\":[[{\"project\":\"Schema\",\"version\":\"4.3.0\"}],"
                              "[{\"project\":\"Billing\",\"version\":\"4.3.0\"}],"
                              "[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}";

/* The main flow of one release across two environments and three stages. */
typedef struct flow {
    jobs_seen s1, s2, s3, all;
    evs ev;
} flow;

static void release_flow(fx *f, runner *prod, flow *fl)
{
    char rid[37];
    jobs_seen *s1 = &fl->s1, *s2 = &fl->s2, *s3 = &fl->s3, *all = &fl->all;
    evs *ev = &fl->ev;
    of_job_record rec = {0};
    submit(f, "T1", r1_json, rid);

    /* stage 1 in both environments: Schema is untenanted, key "<env id>/-" */
    CHECK_INT(wait_jobs(f, 1, rid, 2, s1), 2);
    const of_job *schema_hb = find_job(f, s1, "Schema", "Hosted Beta", NULL, 1);
    const of_job *schema_ob = find_job(f, s1, "Schema", "On Site Beta", NULL, 1);
    CHECK(schema_hb && schema_ob);
    if (!schema_hb || !schema_ob) return;
    for (size_t i = 0; i < s1->n; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s/-", s1->items[i].environment.id);
        CHECK_STR(s1->keys[i], want);
        CHECK_INT(s1->items[i].stage_count, 3);
    }
    /* same transaction as the stage-1 jobs: nothing for later stages yet */
    read_jobs(f, 2, rid, s2);
    CHECK_INT(s2->n, 0);
    read_events(f, rid, ev);
    CHECK_INT(count_ev(ev, OF_EV_RELEASE_ACCEPTED, 0), 1);
    CHECK_INT(count_ev(ev, OF_EV_STAGE_STARTED, 1), 2);
    CHECK_INT(count_ev(ev, OF_EV_JOB_DISPATCHED, 0), 2);
    CHECK_INT(count_ev(ev, OF_EV_JOB_SKIPPED, 0), 7); /* named tenants not connected */
    const of_event *acc = last_ev(ev, OF_EV_RELEASE_ACCEPTED);
    if (acc) {
        CHECK_STR(acc->by, "tester");
        CHECK_INT(acc->n_total, 14);
    }

    /* Schema done in Hosted Beta: stage 2 opens there only (Billing for Acme and Contoso) */
    job_event(f, schema_hb, OF_EV_JOB_STARTED, NULL, "Deployments-9001", "ServerTasks-9001");
    job_event(f, schema_hb, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_jobs(f, 2, rid, 2, s2), 2);
    const of_job *acme = find_job(f, s2, "Billing", "Hosted Beta", "Acme", 1);
    const of_job *contoso = find_job(f, s2, "Billing", "Hosted Beta", "Contoso", 1);
    CHECK(acme && contoso);
    if (!acme || !contoso) return;
    char want_key[128];
    snprintf(want_key, sizeof want_key, "%s/%s", acme->environment.id, acme->tenant.id);
    long ai = index_of(s2, acme);
    CHECK(ai >= 0);
    if (ai >= 0) CHECK_STR(s2->keys[ai], want_key);
    CHECK(!has_job(s2, "Billing", "On Site Beta", "Initech"));

    /* one of the two succeeded: stage 3 stays closed in Hosted Beta */
    job_event(f, acme, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_job_status(f, acme, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
    of_job_record_clear(&rec);
    read_jobs(f, 3, rid, s3);
    CHECK_INT(s3->n, 0);

    /* Contoso fails; Schema in On Site Beta is still running, so the release pauses only
     * once it finished, and On Site Beta's stage 2 is NOT dispatched meanwhile. */
    job_event(f, contoso, OF_EV_JOB_FAILED, "Step 'Migrate' failed", NULL, NULL);
    CHECK_INT(wait_job_status(f, contoso, OF_JOB_FAILED, &rec), OF_JOB_FAILED);
    CHECK_STR(rec.skip_reason, "Step 'Migrate' failed");
    of_job_record_clear(&rec);
    read_events(f, rid, ev);
    CHECK_INT(count_ev(ev, OF_EV_RELEASE_PAUSED, 0), 0);
    job_event(f, schema_ob, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_PAUSED, 1, ev), 1);
    const of_event *paused = last_ev(ev, OF_EV_RELEASE_PAUSED);
    if (paused) {
        CHECK_INT(paused->n_jobs, 1);
        if (paused->n_jobs == 1) {
            CHECK_STR(paused->jobs[0].job_id, contoso->job_id);
            CHECK_STR(paused->jobs[0].tenant, "Contoso");
        }
    }
    read_jobs(f, 2, rid, s2);
    CHECK_INT(s2->n, 2);

    /* replay stage 2: Contoso again with attempt 2, and the gate reopens On Site Beta */
    control(f, OF_CMD_REPLAY, rid, 2, false, "retry after fix");
    CHECK_INT(wait_jobs(f, 2, rid, 4, s2), 4);
    const of_job *contoso2 = find_job(f, s2, "Billing", "Hosted Beta", "Contoso", 2);
    const of_job *initech = find_job(f, s2, "Billing", "On Site Beta", "Initech", 1);
    CHECK(contoso2 && initech);
    if (!contoso2 || !initech) return;
    CHECK_STR(contoso2->job_id, contoso->job_id);
    read_events(f, rid, ev);
    const of_event *resumed = last_ev(ev, OF_EV_RELEASE_RESUMED);
    CHECK(resumed != NULL);
    if (resumed) {
        CHECK_STR(resumed->by, "tester");
        CHECK_STR(resumed->message, "retry after fix");
    }
    /* a late failure of the old attempt is stale */
    job_event(f, contoso, OF_EV_JOB_FAILED, "late news", NULL, NULL);
    job_event(f, contoso2, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    job_event(f, initech, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    /* Hosted Beta opens stage 3 (Portal for Acme and Contoso); On Site Beta's stage 3 has
     * only skipped jobs and passes at once. */
    CHECK_INT(wait_jobs(f, 3, rid, 2, s3), 2);
    const of_job *p_acme = find_job(f, s3, "Portal", "Hosted Beta", "Acme", 1);
    const of_job *p_contoso = find_job(f, s3, "Portal", "Hosted Beta", "Contoso", 1);
    CHECK(p_acme && p_contoso);
    if (!p_acme || !p_contoso) return;

    /* restart mid-release: stop the producer, report one success while it is down, start a
     * new one, report the other */
    producer_stop(prod);
    job_event(f, p_acme, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    producer_start(f, prod);
    job_event(f, p_contoso, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_COMPLETED, 1, ev), 1);
    CHECK_INT(count_ev(ev, OF_EV_RELEASE_ACCEPTED, 0), 1);
    CHECK_INT(count_ev(ev, OF_EV_STAGE_SUCCEEDED, 0), 6);

    /* no job dispatched twice: every (job id, attempt) exactly once over all stage topics */
    read_jobs(f, 0, rid, all);
    CHECK_INT(all->n, 8);
    for (size_t i = 0; i < all->n; i++)
        for (size_t k = i + 1; k < all->n; k++)
            if (strcmp(all->items[i].job_id, all->items[k].job_id) == 0 &&
                all->items[i].attempt == all->items[k].attempt) {
                fprintf(stderr, "job %s attempt %d dispatched twice\n", all->items[i].job_id,
                        all->items[i].attempt);
                CHECK(!"no job dispatched twice");
            }

    /* commands that cannot apply are recorded as command.ignored, with who and why */
    control(f, OF_CMD_REPLAY, rid, 2, false, "again");
    control(f, OF_CMD_ABORT, rid, 0, false, "too late");
    /* at least 2: on the mock, whose transactions drop the consumed offsets, the restarted
     * producer re-read the earlier replay too and ignored it (see docs/operations.md) */
    CHECK(wait_ev(f, rid, OF_EV_COMMAND_IGNORED, 2, ev) >= 2);
    bool saw_replay = false, saw_abort = false;
    for (size_t i = 0; i < ev->n; i++) {
        const of_event *e = &ev->items[i];
        if (e->type != OF_EV_COMMAND_IGNORED) continue;
        CHECK_STR(e->by, "tester");
        if (e->message && strstr(e->message, "replay ignored: nothing to replay"))
            saw_replay = true;
        if (e->message && strstr(e->message, "abort ignored: the release has completed"))
            saw_abort = true;
    }
    CHECK(saw_replay && saw_abort);
    char unknown[37];
    of_uuid_release_id("Default", "no-such-train", unknown);
    control(f, OF_CMD_RESUME, unknown, 0, false, "poke");
    evs ev3 = {0};
    CHECK_INT(wait_ev(f, unknown, OF_EV_COMMAND_IGNORED, 1, &ev3), 1);
    const of_event *ign = last_ev(&ev3, OF_EV_COMMAND_IGNORED);
    if (ign) CHECK_CONTAINS(ign->message, "resume ignored: no such release");
    if (ign) CHECK_STR(ign->command_id, last_cid); /* the answer names its command */
    evs_clear(&ev3);
    read_jobs(f, 0, rid, all);
    CHECK_INT(all->n, 8); /* nothing dispatched by them */

    /* a duplicate submit is ignored; the next command on the (single-partition) requests
     * topic, a request that fails validation, proves it was processed */
    submit(f, "T1", r1_json, rid);
    char rid2[37];
    submit(f, "T2", "{\"release\":\"T2\",\"environments\":[],\"stages\":[]}", rid2);
    evs ev2 = {0};
    CHECK_INT(wait_ev(f, rid2, OF_EV_RELEASE_REJECTED, 1, &ev2), 1);
    const of_event *rej = last_ev(&ev2, OF_EV_RELEASE_REJECTED);
    if (rej) {
        CHECK(rej->n_errors >= 2);
        bool envs = false, stages = false;
        for (size_t i = 0; i < rej->n_errors; i++) {
            if (strstr(rej->errors[i], "environments")) envs = true;
            if (strstr(rej->errors[i], "stages")) stages = true;
        }
        CHECK(envs && stages);
        CHECK_STR(rej->by, "tester");
    }
    evs_clear(&ev2);
    read_events(f, rid, ev);
    CHECK_INT(count_ev(ev, OF_EV_RELEASE_ACCEPTED, 0), 1);
    read_jobs(f, 0, rid, all);
    CHECK_INT(all->n, 8);
}

static void test_release_flow(fx *f, runner *prod)
{
    flow fl;
    memset(&fl, 0, sizeof fl);
    release_flow(f, prod, &fl);
    jobs_clear(&fl.s1);
    jobs_clear(&fl.s2);
    jobs_clear(&fl.s3);
    jobs_clear(&fl.all);
    evs_clear(&fl.ev);
}

/* Names that do not resolve: every one reported, nothing dispatched. */
static void test_unresolved(fx *f, runner *prod)
{
    (void)prod; /* runs all the case long */
    char rid[37];
    submit(f, "T3",
           "{\"release\":\"T3\",\"space\":\"Default\","
           "\"environments\":[\"Mars\",\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Nobody\"],\"tags\":[\"Ring/Nope\"]},"
           "\"stages\":[[{\"project\":\"Nope\",\"version\":\"1.0.0\"},"
           "{\"project\":\"Billing\",\"version\":\"9.9.9\"}]]}",
           rid);
    evs ev = {0};
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_REJECTED, 1, &ev), 1);
    const of_event *rej = last_ev(&ev, OF_EV_RELEASE_REJECTED);
    if (rej) {
        CHECK_INT(rej->n_errors, 5);
        const char *want[] = {"Mars", "Nobody", "Ring/Nope", "\"Nope\"", "9.9.9"};
        for (size_t k = 0; k < 5; k++) {
            bool found = false;
            for (size_t i = 0; i < rej->n_errors; i++)
                if (strstr(rej->errors[i], want[k])) found = true;
            if (!found) fprintf(stderr, "rejection does not mention %s\n", want[k]);
            CHECK(found);
        }
        CHECK_STR(rej->release_name, "T3");
    }
    CHECK_INT(count_ev(&ev, OF_EV_RELEASE_ACCEPTED, 0), 0);
    jobs_seen all = {0};
    read_jobs(f, 0, rid, &all);
    CHECK_INT(all.n, 0);
    jobs_clear(&all);
    evs_clear(&ev);
}

typedef struct dlq_q {
    char error[512];
    char source[128];
    char value[64];
    size_t n;
} dlq_q;

static void header_str(const of_kafka_message *m, const char *name, char *out, size_t size)
{
    const void *v = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (of_kafka_message_header(m, name, &v, &len) && v)
        snprintf(out, size, "%.*s", (int)len, (const char *)v);
}

static of_err on_dlq(void *opaque, const of_kafka_message *m)
{
    dlq_q *q = opaque;
    q->n++;
    header_str(m, "octofleet-error", q->error, sizeof q->error);
    header_str(m, "octofleet-source-topic", q->source, sizeof q->source);
    snprintf(q->value, sizeof q->value, "%.*s", (int)m->value_len, (const char *)m->value);
    return OF_OK;
}

/* A command that does not decode goes to the DLQ with the reason and its origin; the
 * producer carries on (the next submit is still planned). */
static void test_garbage(fx *f, runner *prod)
{
    (void)prod; /* runs all the case long */
    produce(f, f->t_requests, "junk", "this is not json", false);
    dlq_q q;
    memset(&q, 0, sizeof q);
    int64_t deadline = of_now_ms() + WAIT_MS;
    while (q.n == 0 && of_now_ms() < deadline) {
        char es[512] = "";
        CHECK_INT(
            of_kafka_read_topic(&f->in.fk.kc, f->t_dlq, READ_MS, on_dlq, &q, NULL, es, sizeof es),
            OF_OK);
        if (q.n == 0) sleep_ms(100);
    }
    CHECK_INT(q.n, 1);
    CHECK_CONTAINS(q.error, "command");
    CHECK_STR(q.source, f->t_requests);
    CHECK_STR(q.value, "this is not json");
}

/* Poison isolation, on a fleet with a small message.max.bytes (poison_sets: a budget of 1,500
 * bytes). A good submit and one whose jobs can never be written (250-byte release and
 * stage names) arrive in one batch: the batch's transaction fails permanently, the producer
 * decides them one per transaction, accepts the good one, and the other becomes poison: a
 * release.rejected that says why and a DLQ copy of the command. The producer keeps running. */
static void test_poison(fx *f, runner *prod)
{
    char es[512] = "";
    char name[251];
    memset(name, 'p', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char big[1024];
    snprintf(big, sizeof big,
             "{\"release\":\"%s\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
             "\"tenants\":{\"names\":[\"Acme\"]},\"stages\":[{\"name\":\"%s\",\"projects\":"
             "[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]}]}",
             name, name);
    char good_rid[37], bad_rid[37];
    submit(f, "T7",
           "{\"release\":\"T7\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}",
           good_rid);
    submit(f, name, big, bad_rid);
    evs ev = {0}, bad = {0};
    CHECK_INT(wait_ev(f, good_rid, OF_EV_RELEASE_ACCEPTED, 1, &ev), 1);
    CHECK_INT(wait_ev(f, bad_rid, OF_EV_RELEASE_REJECTED, 1, &bad), 1);
    const of_event *rej = last_ev(&bad, OF_EV_RELEASE_REJECTED);
    if (rej && rej->n_errors) {
        CHECK_CONTAINS(rej->errors[0], "could not be written to Kafka");
        CHECK_CONTAINS(rej->errors[0], "message budget of 1500 bytes");
    }
    CHECK_INT(count_ev(&bad, OF_EV_RELEASE_ACCEPTED, 0), 0);
    dlq_q q;
    memset(&q, 0, sizeof q);
    for (int64_t deadline = of_now_ms() + WAIT_MS; of_now_ms() < deadline;) {
        memset(&q, 0, sizeof q);
        CHECK_INT(
            of_kafka_read_topic(&f->in.fk.kc, f->t_dlq, READ_MS, on_dlq, &q, NULL, es, sizeof es),
            OF_OK);
        if (strstr(q.error, "could not be written")) break;
        sleep_ms(100);
    }
    CHECK_CONTAINS(q.error, "could not be written to Kafka");
    CHECK_STR(q.source, f->t_requests);
    CHECK(!of_inproc_daemon_done(prod));
    evs_clear(&ev);
    evs_clear(&bad);
}

/* Creates the job's deployment in the simulator as a worker would; returns its task id
 * (caller frees) or NULL. */
static char *deploy_as_worker(fx *f, const of_job *j, char **deployment_id)
{
    char comments[256];
    of_job_comments(j->job_id, j->attempt, j->release_name, j->stage, j->stage_name, comments,
                    sizeof comments);
    of_octo_deploy_req req;
    memset(&req, 0, sizeof req);
    req.project_id = j->project.id;
    req.release_id = j->octo_release.id;
    req.environment_id = j->environment.id;
    req.tenant_id = j->tenant.id;
    req.comments = comments;
    of_octo_deployment d = {0};
    char es[1024] = "";
    of_err rc = of_octo_create_deployment(f->octo, j->space.id, &req, &d, es, sizeof es);
    if (rc) fprintf(stderr, "create deployment: %s\n", es);
    CHECK_INT(rc, OF_OK);
    char *task = d.task_id;
    CHECK(task != NULL);
    *deployment_id = d.id;
    d.task_id = d.id = NULL;
    of_octo_deployment_clear(&d);
    return task;
}

static int wait_task(fx *f, const char *space_id, const char *task_id, of_octo_task_state a,
                     of_octo_task_state b)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    int last = -1;
    for (;;) {
        of_octo_task t = {0};
        char es[512] = "";
        if (of_octo_get_task(f->octo, space_id, task_id, &t, es, sizeof es) == OF_OK)
            last = (int)t.state;
        of_octo_task_clear(&t);
        if (last == (int)a || last == (int)b || of_now_ms() > deadline) return last;
        sleep_ms(100);
    }
}

/* Abort with cancel_running cancels the live Octopus task and dispatches nothing more. */
/* What a case body collects and leaves to run_body to free, so that it can return early. */
typedef struct case_ctx {
    jobs_seen s1, s2;
    evs ev;
    char *dep, *task;
} case_ctx;

/* Runs body with a zeroed case_ctx, then frees what it collected. */
static void run_body(fx *f, void (*body)(fx *f, case_ctx *c))
{
    case_ctx c;
    memset(&c, 0, sizeof c);
    body(f, &c);
    free(c.dep);
    free(c.task);
    jobs_clear(&c.s1);
    jobs_clear(&c.s2);
    evs_clear(&c.ev);
}

static void test_abort_body(fx *f, case_ctx *c)
{
    char rid[37];
    jobs_seen *s1 = &c->s1, *s2 = &c->s2;
    evs *ev = &c->ev;
    of_job_record rec = {0};
    submit(f, "T4",
           "{\"release\":\"T4\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Api\",\"version\":\"4.3.0\"}],"
           "[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}",
           rid);
    CHECK_INT(wait_jobs(f, 1, rid, 1, s1), 1);
    const of_job *api = find_job(f, s1, "Api", "Hosted Beta", "Acme", 1);
    if (!api) return;
    /* Api waits for a manual intervention in the simulator: the task stays live */
    c->task = deploy_as_worker(f, api, &c->dep);
    const char *task = c->task, *dep = c->dep;
    if (!task) return;
    job_event(f, api, OF_EV_JOB_STARTED, NULL, dep, task);
    CHECK_INT(wait_job_status(f, api, OF_JOB_STARTED, &rec), OF_JOB_STARTED);
    CHECK_STR(rec.task_id, task);
    of_job_record_clear(&rec);

    control(f, OF_CMD_ABORT, rid, 0, true, "bad build");
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_ABORTED, 1, ev), 1);
    const of_event *ab = last_ev(ev, OF_EV_RELEASE_ABORTED);
    if (ab) {
        CHECK_STR(ab->by, "tester");
        CHECK_STR(ab->message, "bad build");
        CHECK_INT(ab->n_jobs, 1);
        CHECK_STR(ab->command_id, last_cid);
    }
    /* the producer cancelled the task before committing the abort */
    int st = wait_task(f, api->space.id, task, OF_OCTO_TASK_CANCELED, OF_OCTO_TASK_CANCELLING);
    CHECK(st == (int)OF_OCTO_TASK_CANCELED || st == (int)OF_OCTO_TASK_CANCELLING);
    /* the worker reports the cancellation: recorded, but nothing dispatched after abort */
    job_event(f, api, OF_EV_JOB_CANCELLED, "cancelled", NULL, NULL);
    CHECK_INT(wait_job_status(f, api, OF_JOB_CANCELLED, &rec), OF_JOB_CANCELLED);
    of_job_record_clear(&rec);
    read_jobs(f, 2, rid, s2);
    CHECK_INT(s2->n, 0);
}

static void test_abort(fx *f, runner *prod)
{
    (void)prod; /* runs all the case long */
    run_body(f, test_abort_body);
}

/* Resume reconciles each failed job with Octopus first: a job whose deployment succeeded
 * there counts as succeeded; the rest is accepted as skipped. */
static void test_resume_body(fx *f, case_ctx *c)
{
    char rid[37];
    jobs_seen *s1 = &c->s1;
    evs *ev = &c->ev;
    of_job_record rec = {0};
    submit(f, "T5",
           "{\"release\":\"T5\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\",\"Contoso\"]},"
           "\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}",
           rid);
    CHECK_INT(wait_jobs(f, 1, rid, 2, s1), 2);
    const of_job *acme = find_job(f, s1, "Portal", "Hosted Beta", "Acme", 1);
    const of_job *contoso = find_job(f, s1, "Portal", "Hosted Beta", "Contoso", 1);
    if (!acme || !contoso) return;
    /* Acme's deployment really succeeds in Octopus, though its worker reported a failure */
    c->task = deploy_as_worker(f, acme, &c->dep);
    const char *task = c->task;
    if (!task) return;
    CHECK_INT(wait_task(f, acme->space.id, task, OF_OCTO_TASK_SUCCESS, OF_OCTO_TASK_SUCCESS),
              OF_OCTO_TASK_SUCCESS);
    job_event(f, acme, OF_EV_JOB_FAILED, "lost track of the task", NULL, NULL);
    job_event(f, contoso, OF_EV_JOB_FAILED, "Step 'Deploy' failed", NULL, NULL);
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_PAUSED, 1, ev), 1);

    control(f, OF_CMD_RESUME, rid, 0, false, "fixed by hand");
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_COMPLETED, 1, ev), 1);
    const of_event *res = last_ev(ev, OF_EV_RELEASE_RESUMED);
    CHECK(res != NULL);
    if (res) CHECK_STR(res->by, "tester");
    CHECK_INT(wait_job_status(f, acme, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
    CHECK_CONTAINS(rec.skip_reason, "found on resume");
    of_job_record_clear(&rec);
    CHECK_INT(wait_job_status(f, contoso, OF_JOB_SKIPPED, &rec), OF_JOB_SKIPPED);
    CHECK_CONTAINS(rec.skip_reason, "accepted on resume by tester");
    of_job_record_clear(&rec);
}

static void test_resume(fx *f, runner *prod)
{
    (void)prod; /* runs all the case long */
    run_body(f, test_resume_body);
}

/* ---------------------------------------------------------------------------------- */

/* bootstrap NULL: the in-process mock cluster; else a real broker. extra: settings of the
 * case, after the common ones. */
static int setup(fx *f, const char *bootstrap, const of_inproc_set *extra, size_t n_extra)
{
    memset(f, 0, sizeof *f);
    char es[2048] = "";
    of_inproc_set sets[16] = {
        {"topics.prefix", "pt."},          {"topics.partitions", "1"},
        {"topics.max_stages", "3"},        {"kafka.properties", "session.timeout.ms=6000"},
        {"octopus.retry_deadline", "20s"},
    };
    size_t n = 5;
    char prefix[64], group[64];
    if (bootstrap) {
        /* a broker outlives one run, and one run has several cases: names of our own */
        static int runs;
        runs++;
        snprintf(prefix, sizeof prefix, "pt%ld-%d.", (long)getpid(), runs);
        snprintf(group, sizeof group, "pt%ld-%d-producer", (long)getpid(), runs);
        sets[n++] = (of_inproc_set){"topics.prefix", prefix};
        sets[n++] = (of_inproc_set){"producer.group_id", group};
        sets[n++] = (of_inproc_set){"producer.transactional_id", group};
    }
    OF_ASSERT(n + n_extra <= sizeof sets / sizeof sets[0]);
    for (size_t i = 0; i < n_extra; i++)
        sets[n++] = extra[i];
    /* the topics are created before anything is produced, so that they get ONE partition */
    of_inproc_opts o = {.world_path = OF_FIXTURES_DIR "/small-world.json",
                        .sets = sets,
                        .n_sets = n,
                        .bootstrap = bootstrap,
                        .client_id = "test",
                        .topics_timeout_ms = 10000};
    if (of_inproc_start(&f->in, &o, es, sizeof es) != OF_OK) {
        fprintf(stderr, "set-up: %s\n", es);
        return -1;
    }
    if (!name_topics(f)) {
        fprintf(stderr, "set-up: topics.prefix too long\n");
        return -1;
    }
    if (of_kafka_producer_new(&f->in.fk.kc, NULL, &f->tp, es, sizeof es) != OF_OK) {
        fprintf(stderr, "kafka: %s\n", es);
        return -1;
    }
    of_octo_opts oo;
    of_octo_opts_default(&oo);
    oo.url = ofsim_url(f->in.sim);
    oo.api_key = KEY;
    if (of_octo_new(&oo, &f->octo, es, sizeof es) != OF_OK ||
        of_octo_connect(f->octo, es, sizeof es) != OF_OK) {
        fprintf(stderr, "octopus: %s\n", es);
        return -1;
    }
    return 0;
}

static void teardown(fx *f)
{
    for (size_t i = 0; i < f->n_kept; i++)
        of_job_clear(&f->kept[i]);
    of_octo_destroy(f->octo);
    of_kafka_producer_destroy(f->tp);
    of_inproc_clear(&f->in);
}

/* Real broker only (the 2.0.2 mock does not fence): a replacement producer with the same
 * transactional id fences the running one, whose next transaction fails: it stops with
 * OF_ERR_STATE, and the replacement takes over its input. */
static void test_fencing_body(fx *f, runner *old, runner *repl)
{
    /* The old producer must hold the transactional id first (its transactions initialised):
     * a release it accepts proves it. Started together, either could fence the other. */
    char rid0[37];
    evs ev0 = {0};
    submit(f, "T5f",
           "{\"release\":\"T5f\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}",
           rid0);
    CHECK_INT(wait_ev(f, rid0, OF_EV_RELEASE_ACCEPTED, 1, &ev0), 1);
    evs_clear(&ev0);
    producer_start(f, repl);
    /* Input for whichever partitions the old producer still owns: a command and an event
     * that change nothing but make their consumer commit offsets in a transaction. */
    of_job noop;
    memset(&noop, 0, sizeof noop);
    of_uuid_v5("no such release", noop.release_id);
    of_uuid_v5("no such job", noop.job_id);
    noop.attempt = 1;
    noop.stage = 1;
    noop.project.name = (char *)(uintptr_t) "P";
    noop.environment.name = (char *)(uintptr_t) "E";
    int64_t deadline = of_now_ms() + WAIT_MS;
    while (!of_inproc_daemon_done(old) && of_now_ms() < deadline) {
        control(f, OF_CMD_REPLAY, noop.release_id, 0, false, "poke");
        job_event(f, &noop, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
        for (int i = 0; i < 10 && !of_inproc_daemon_done(old); i++)
            sleep_ms(100);
    }
    CHECK(of_inproc_daemon_done(old));
    if (!of_inproc_daemon_done(old)) return;
    (void)of_inproc_daemon_join(old, -1);
    CHECK_INT(old->rc, OF_ERR_STATE);
    CHECK_CONTAINS(old->errstr, "fenced");

    /* the replacement decides from here on: a submit is accepted once */
    char rid[37];
    evs ev = {0};
    jobs_seen s1 = {0};
    submit(f, "T6",
           "{\"release\":\"T6\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}",
           rid);
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_ACCEPTED, 1, &ev), 1);
    CHECK_INT(wait_jobs(f, 1, rid, 1, &s1), 1);
    jobs_clear(&s1);
    evs_clear(&ev);
}

static void test_fencing(fx *f, runner *prod)
{
    runner repl;
    memset(&repl, 0, sizeof repl);
    test_fencing_body(f, prod, &repl);
    producer_stop(&repl);
}

/* A gate that opens does not wait out the batch window (producer.batch_window, 60 s here):
 * the job.started that comes first opens a window, the job.succeeded that ends stage 1 in
 * Hosted Beta dispatches stage 2, and that decision commits what is at hand at once. Without
 * the flush, stage 2 would become visible (read_committed) only when the window ends. */
static void test_gate_flush(fx *f, runner *prod)
{
    (void)prod;
    char rid[37];
    jobs_seen s1 = {0}, s2 = {0};
    submit(f, "T1", r1_json, rid);
    CHECK_INT(wait_jobs(f, 1, rid, 2, &s1), 2);
    const of_job *schema = find_job(f, &s1, "Schema", "Hosted Beta", NULL, 1);
    CHECK(schema != NULL);
    if (schema) {
        int64_t t0 = of_now_ms();
        job_event(f, schema, OF_EV_JOB_STARTED, NULL, "Deployments-9001", "ServerTasks-9001");
        job_event(f, schema, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
        CHECK_INT(wait_jobs(f, 2, rid, 2, &s2), 2);
        int64_t took = of_now_ms() - t0;
        if (took >= 30000) fprintf(stderr, "  stage 2 took %lld ms\n", (long long)took);
        CHECK(took < 30000); /* half the window: it did not wait the window out */
    }
    jobs_clear(&s1);
    jobs_clear(&s2);
}

/* ---- the task budget (octopus.task_budget 2 here) ---- */

typedef struct held_q {
    const char *rid;
    char keys[64][128];
    bool held[64];
    size_t n;
} held_q;

static of_err on_held(void *opaque, const of_kafka_message *m)
{
    held_q *q = opaque;
    char pfx[64];
    snprintf(pfx, sizeof pfx, "job/%s/", q->rid);
    if (!m->key || m->key_len >= 128 || m->key_len < strlen(pfx) ||
        memcmp(m->key, pfx, strlen(pfx)) != 0 || !m->value)
        return OF_OK;
    of_job_record rec;
    char es[256];
    if (of_job_record_decode(m->value, m->value_len, &rec, es, sizeof es) != OF_OK) return OF_OK;
    size_t i = 0;
    while (i < q->n && (strlen(q->keys[i]) != m->key_len || memcmp(q->keys[i], m->key, m->key_len)))
        i++;
    if (i == q->n && q->n < 64) {
        memcpy(q->keys[i], m->key, m->key_len);
        q->keys[i][m->key_len] = '\0';
        q->n++;
    }
    if (i < 64) q->held[i] = rec.held && rec.status == OF_JOB_DISPATCHED;
    of_job_record_clear(&rec);
    return OF_OK;
}

/* Jobs of the release whose latest state record says held for the task budget. */
static size_t count_held(fx *f, const char *rid)
{
    held_q *q = calloc(1, sizeof *q);
    OF_ASSERT(q);
    q->rid = rid;
    read_all(f, f->t_releases, on_held, q);
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += q->held[i];
    free(q);
    return n;
}

/* The jobs of both releases on the stage topics (in *s, r first, then h). */
static void read_both(fx *f, const char *r, const char *h, jobs_seen *sr, jobs_seen *sh)
{
    read_jobs(f, 0, r, sr);
    read_jobs(f, 0, h, sh);
}

static bool finished_has(char (*done)[37], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(done[i], id) == 0) return true;
    return false;
}

/* A routine release (Reporting in Development, 6 tenants) and a hotfix with priority 5
 * (Portal in Development, 7 tenants) share a budget of 2: never more than 2 of their jobs on
 * the stage topics unfinished; the hotfix overtakes the routine jobs held before it arrived;
 * a restart keeps held jobs held (the state records say so) and dispatches each once; a
 * worker reporting 429/503 halves the budget. Plus the client's octopusservernodes call. */
static void test_budget(fx *f, runner *prod)
{
    static const char r_json[] =
        "{\"release\":\"B-routine\",\"environments\":[\"Development\"],\"tenants\":\"all\","
        "\"stages\":[[{\"project\":\"Reporting\",\"version\":\"4.3.0\"}]]}";
    static const char h_json[] =
        "{\"release\":\"B-hotfix\",\"environments\":[\"Development\"],\"tenants\":\"all\","
        "\"priority\":5,\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}";
    enum { NR = 6, NH = 7, B = 2 };
    char rr[37], rh[37];
    jobs_seen sr = {0}, sh = {0};
    of_job_record rec = {0};
    char done[NR + NH][37];
    size_t n_done = 0;

    /* the server's task cap, as the automatic budget reads it */
    of_octo_server_node_list nodes;
    memset(&nodes, 0, sizeof nodes);
    char es[512] = "";
    CHECK_INT(of_octo_list_server_nodes(f->octo, &nodes, es, sizeof es), OF_OK);
    CHECK_INT(nodes.n, 1);
    if (nodes.n == 1) {
        CHECK_INT(nodes.items[0].max_concurrent_tasks, 5); /* small-world.json task_cap */
        CHECK(nodes.items[0].id != NULL);
        CHECK(!nodes.items[0].in_maintenance);
    }
    of_octo_server_node_list_clear(&nodes);

    submit(f, "B-routine", r_json, rr);
    CHECK_INT(wait_jobs(f, 1, rr, B, &sr), B);
    evs ev = {0};
    CHECK_INT(wait_ev(f, rr, OF_EV_JOB_DISPATCHED, B, &ev), B);
    sleep_ms(500);
    read_jobs(f, 0, rr, &sr);
    CHECK_INT(sr.n, B); /* the rest wait in the producer */
    CHECK_INT(count_held(f, rr), NR - B);

    submit(f, "B-hotfix", h_json, rh);
    CHECK_INT(wait_ev(f, rh, OF_EV_RELEASE_ACCEPTED, 1, &ev), 1);
    sleep_ms(300);
    read_both(f, rr, rh, &sr, &sh);
    CHECK_INT(sr.n + sh.n, B);
    CHECK_INT(count_held(f, rh), NH);

    /* one routine job ends: its slot goes to the hotfix */
    if (sr.n) {
        const of_job *j = &sr.items[0];
        job_event(f, j, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
        CHECK_INT(wait_job_status(f, j, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
        of_job_record_clear(&rec);
        snprintf(done[n_done++], 37, "%s", j->job_id);
    }
    CHECK_INT(wait_jobs(f, 0, rh, 1, &sh), 1);
    read_jobs(f, 0, rr, &sr);
    CHECK_INT(sr.n, B); /* no routine job went */

    /* restart: the held jobs stay held and nothing is dispatched again */
    producer_stop(prod);
    CHECK_INT(count_held(f, rr), NR - B);
    CHECK_INT(count_held(f, rh), NH - 1);
    producer_start(f, prod);
    sleep_ms(2000);
    read_both(f, rr, rh, &sr, &sh);
    CHECK_INT(sr.n, B);
    CHECK_INT(sh.n, 1);
    CHECK_INT(count_held(f, rr), NR - B);

    /* drain: finish one unfinished job at a time; count what is out after each */
    bool throttled = false, hotfix_left = true;
    for (int guard = 0; n_done < NR + NH && guard < 3 * (NR + NH); guard++) {
        read_both(f, rr, rh, &sr, &sh);
        size_t out = sr.n + sh.n - n_done;
        if (out > B) fprintf(stderr, "  %zu jobs out with a budget of %d\n", out, B);
        CHECK(out <= B);
        /* priority: while the hotfix has held jobs, no more routine jobs go */
        if (hotfix_left) CHECK_INT(sr.n, B);
        if (sh.n == NH) hotfix_left = false;
        const of_job *j = NULL;
        for (size_t i = 0; !j && i < sh.n; i++)
            if (!finished_has(done, n_done, sh.items[i].job_id)) j = &sh.items[i];
        for (size_t i = 0; !j && i < sr.n; i++)
            if (!finished_has(done, n_done, sr.items[i].job_id)) j = &sr.items[i];
        if (!j) {
            sleep_ms(100);
            continue;
        }
        if (!throttled && out == B && sh.n >= 3) {
            /* Octopus is overloaded: the budget halves to 1, so ending one of the two jobs
             * out sends nothing new */
            f->throttled = true;
            job_event(f, j, OF_EV_JOB_STARTED, NULL, "Deployments-1", "ServerTasks-1");
            throttled = true;
            size_t before = sr.n + sh.n;
            job_event(f, j, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
            CHECK_INT(wait_job_status(f, j, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
            of_job_record_clear(&rec);
            snprintf(done[n_done++], 37, "%s", j->job_id);
            sleep_ms(500);
            read_both(f, rr, rh, &sr, &sh);
            CHECK_INT(sr.n + sh.n, before);
            continue;
        }
        job_event(f, j, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
        CHECK_INT(wait_job_status(f, j, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
        of_job_record_clear(&rec);
        snprintf(done[n_done++], 37, "%s", j->job_id);
    }
    CHECK(throttled);
    CHECK_INT(n_done, NR + NH);
    CHECK_INT(wait_ev(f, rr, OF_EV_RELEASE_COMPLETED, 1, &ev), 1);
    CHECK_INT(count_ev(&ev, OF_EV_JOB_DISPATCHED, 0), NR);
    CHECK_INT(wait_ev(f, rh, OF_EV_RELEASE_COMPLETED, 1, &ev), 1);
    CHECK_INT(count_ev(&ev, OF_EV_JOB_DISPATCHED, 0), NH);
    /* every job once */
    read_both(f, rr, rh, &sr, &sh);
    CHECK_INT(sr.n, NR);
    CHECK_INT(sh.n, NH);
    for (size_t i = 0; i < sr.n; i++)
        for (size_t k = i + 1; k < sr.n; k++)
            CHECK(strcmp(sr.items[i].job_id, sr.items[k].job_id) != 0);
    for (size_t i = 0; i < sh.n; i++)
        for (size_t k = i + 1; k < sh.n; k++)
            CHECK(strcmp(sh.items[i].job_id, sh.items[k].job_id) != 0);

    /* abort: the jobs still held are cancelled by the producer, never sent */
    static const char a_json[] =
        "{\"release\":\"B-aborted\",\"environments\":[\"Development\"],\"tenants\":\"all\","
        "\"stages\":[[{\"project\":\"Web\",\"version\":\"4.3.0\"}]]}";
    enum { NA = 7 };
    char ra[37];
    jobs_seen sa = {0};
    submit(f, "B-aborted", a_json, ra);
    /* the budget may still be halved (1) from the overload above: 1 or 2 go */
    CHECK(wait_jobs(f, 0, ra, 1, &sa) >= 1);
    sleep_ms(300);
    read_jobs(f, 0, ra, &sa);
    size_t sent = sa.n;
    CHECK(sent >= 1 && sent <= B);
    CHECK_INT(count_held(f, ra), NA - sent);
    control(f, OF_CMD_ABORT, ra, 0, false, "budget test");
    CHECK_INT(wait_ev(f, ra, OF_EV_RELEASE_ABORTED, 1, &ev), 1);
    CHECK_INT(count_ev(&ev, OF_EV_JOB_CANCELLED, 0), NA - sent);
    const of_event *ab = last_ev(&ev, OF_EV_RELEASE_ABORTED);
    if (ab) CHECK_INT(ab->n_jobs, sent); /* in flight: only what was sent */
    CHECK_INT(count_held(f, ra), 0);
    for (size_t i = 0; i < sa.n; i++)
        job_event(f, &sa.items[i], OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    if (sa.n) {
        CHECK_INT(wait_job_status(f, &sa.items[sa.n - 1], OF_JOB_SUCCEEDED, &rec),
                  OF_JOB_SUCCEEDED);
        of_job_record_clear(&rec);
    }
    sleep_ms(300);
    read_jobs(f, 0, ra, &sa);
    CHECK_INT(sa.n, sent);
    jobs_clear(&sa);
    evs_clear(&ev);
    jobs_clear(&sr);
    jobs_clear(&sh);
}

/* The automatic budget follows the server's task cap (octopus.task_cap_refresh): headroom 0,
 * so the budget is small-world's cap of 5; the cap rises to 7 and two more jobs go out without
 * a restart; then it falls to 2: nothing new goes until the out jobs end. */
static void test_budget_cap(fx *f, runner *prod)
{
    (void)prod;
    static const char r_json[] =
        "{\"release\":\"C-routine\",\"environments\":[\"Development\"],\"tenants\":\"all\","
        "\"stages\":[[{\"project\":\"Reporting\",\"version\":\"4.3.0\"},"
        "{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}";
    char rid[37];
    jobs_seen s = {0};
    evs ev = {0};
    submit(f, "C-routine", r_json, rid);
    CHECK_INT(wait_jobs(f, 1, rid, 5, &s), 5);
    CHECK_INT(wait_ev(f, rid, OF_EV_JOB_DISPATCHED, 5, &ev), 5);
    read_jobs(f, 0, rid, &s);
    CHECK_INT(s.n, 5); /* the cap of 5, nothing more */

    CHECK_INT(ofsim_set_task_cap(f->in.sim, 7), OF_OK);
    CHECK_INT(wait_jobs(f, 1, rid, 7, &s), 7);
    CHECK_INT(wait_ev(f, rid, OF_EV_JOB_DISPATCHED, 7, &ev), 7);
    CHECK_INT(s.n, 7);
    jobs_clear(&s);
    evs_clear(&ev);
}

/* The one job of rid on the stage topics (all when stage is 0) whose id is not in known[0..n),
 * once there are n + 1: a kept copy, or NULL (a check failed) when none came or more did. */
static const of_job *next_sent(fx *f, int stage, const char *rid, char (*known)[37], size_t n)
{
    jobs_seen s = {0};
    const of_job *got = NULL;
    CHECK_INT(wait_jobs(f, stage, rid, n + 1, &s), n + 1);
    for (size_t i = 0; s.n == n + 1 && i < s.n; i++) {
        if (finished_has(known, n, s.items[i].job_id)) continue;
        OF_ASSERT(f->n_kept < sizeof f->kept / sizeof f->kept[0]);
        of_job *k = &f->kept[f->n_kept++];
        CHECK_INT(of_job_copy(k, &s.items[i]), OF_OK);
        got = k;
    }
    jobs_clear(&s);
    return got;
}

/* Ends job j (succeeded) and waits for the producer to record it. */
static void finish(fx *f, const of_job *j)
{
    of_job_record rec = {0};
    job_event(f, j, OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_job_status(f, j, OF_JOB_SUCCEEDED, &rec), OF_JOB_SUCCEEDED);
    of_job_record_clear(&rec);
}

/* A gate that opens while the budget (2) is full and jobs wait starts its stage with the next
 * free slot: the first job of each group a decision opens goes ahead of the waiting ones, the
 * rest of the group in plan order. With the barrier, the group is a stage in an environment;
 * with lanes, a stage in a tenant's lane (only its first job goes ahead). */
static void test_budget_gate(fx *f, runner *prod)
{
    (void)prod;
    static const char b_json[] =
        "{\"release\":\"G-barrier\",\"environments\":[\"Hosted Beta\",\"On Site Beta\"],"
        "\"tenants\":\"all\",\"stages\":[[{\"project\":\"Schema\",\"version\":\"4.3.0\"}],"
        "[{\"project\":\"Billing\",\"version\":\"4.3.0\"}]]}";
    char rid[37], known[16][37];
    size_t n = 0;
    jobs_seen s = {0};
    submit(f, "G-barrier", b_json, rid);
    CHECK_INT(wait_jobs(f, 1, rid, 2, &s), 2);
    const of_job *schema_hb = find_job(f, &s, "Schema", "Hosted Beta", NULL, 1);
    const of_job *schema_ob = find_job(f, &s, "Schema", "On Site Beta", NULL, 1);
    jobs_clear(&s);
    if (!schema_hb || !schema_ob) return;
    snprintf(known[n++], 37, "%s", schema_hb->job_id);
    snprintf(known[n++], 37, "%s", schema_ob->job_id);

    /* Hosted Beta's stage 2 opens (Acme, Contoso): one slot, its first job */
    finish(f, schema_hb);
    const of_job *hb1 = next_sent(f, 0, rid, known, n);
    if (!hb1) return;
    CHECK_STR(hb1->environment.name, "Hosted Beta");
    snprintf(known[n++], 37, "%s", hb1->job_id);
    /* On Site Beta's opens while Hosted Beta's second job waits: On Site Beta goes first */
    finish(f, schema_ob);
    const of_job *ob1 = next_sent(f, 0, rid, known, n);
    if (!ob1) return;
    CHECK_STR(ob1->environment.name, "On Site Beta");
    snprintf(known[n++], 37, "%s", ob1->job_id);
    /* then plan order: Hosted Beta's second before On Site Beta's second */
    finish(f, hb1);
    const of_job *hb2 = next_sent(f, 0, rid, known, n);
    if (!hb2) return;
    CHECK_STR(hb2->environment.name, "Hosted Beta");
    snprintf(known[n++], 37, "%s", hb2->job_id);
    finish(f, ob1);
    const of_job *ob2 = next_sent(f, 0, rid, known, n);
    if (!ob2) return;
    CHECK_STR(ob2->environment.name, "On Site Beta");
    finish(f, hb2);
    finish(f, ob2);
    evs ev = {0};
    CHECK_INT(wait_ev(f, rid, OF_EV_RELEASE_COMPLETED, 1, &ev), 1);

    /* lanes: a tenant whose Billing ended opens its lane's stage 2 (Portal, Reporting) */
    static const char l_json[] =
        "{\"release\":\"G-lanes\",\"environments\":[\"Development\"],\"tenants\":\"all\","
        "\"policy\":{\"gate\":\"tenant\"},"
        "\"stages\":[[{\"project\":\"Billing\",\"version\":\"4.3.0\"}],"
        "[{\"project\":\"Portal\",\"version\":\"4.3.0\"},"
        "{\"project\":\"Reporting\",\"version\":\"4.3.0\"}]]}";
    char lid[37];
    n = 0;
    submit(f, "G-lanes", l_json, lid);
    CHECK_INT(wait_jobs(f, 1, lid, 2, &s), 2);
    if (s.n < 2) {
        jobs_clear(&s);
        evs_clear(&ev);
        return;
    }
    const of_job *b1 = find_job(f, &s, "Billing", "Development", s.items[0].tenant.name, 1);
    const of_job *b2 = find_job(f, &s, "Billing", "Development", s.items[1].tenant.name, 1);
    jobs_clear(&s);
    if (!b1 || !b2) return;
    snprintf(known[n++], 37, "%s", b1->job_id);
    snprintf(known[n++], 37, "%s", b2->job_id);
    finish(f, b1);
    /* the lane's first job overtakes the other tenants' waiting Billing jobs */
    const of_job *p1 = next_sent(f, 0, lid, known, n);
    if (!p1) return;
    CHECK_INT(p1->stage, 2);
    CHECK_STR(p1->project.name, "Portal");
    CHECK_STR(p1->tenant.name, b1->tenant.name);
    snprintf(known[n++], 37, "%s", p1->job_id);
    /* its second job does not: a third tenant's Billing (plan order) goes next */
    finish(f, p1);
    const of_job *b3 = next_sent(f, 0, lid, known, n);
    if (!b3) return;
    CHECK_INT(b3->stage, 1);
    CHECK(strcmp(b3->tenant.name, b1->tenant.name) != 0 &&
          strcmp(b3->tenant.name, b2->tenant.name) != 0);
    control(f, OF_CMD_ABORT, lid, 0, false, "budget gate test");
    CHECK_INT(wait_ev(f, lid, OF_EV_RELEASE_ABORTED, 1, &ev), 1);
    evs_clear(&ev);
}

/* ---- eviction (producer.release_retention 0 here) ---- */

/* The latest state records of one release: its release record (a marker or not) and each job
 * record (live or tombstoned), with the last value a job record had. */
typedef struct state_view {
    const char *rid;
    int release; /* -1 never seen, 0 tombstone, 1 live record, 2 evicted marker */
    bool marker_has_request;
    int marker_status;
    size_t marker_jobs;
    char keys[8][128];
    bool live[8];
    char *last_value[8]; /* owned */
    size_t n;
} state_view;

static of_err on_view(void *opaque, const of_kafka_message *m)
{
    state_view *v = opaque;
    char rk[128], pfx[128];
    of_release_record_key(v->rid, rk, sizeof rk);
    snprintf(pfx, sizeof pfx, "job/%s/", v->rid);
    if (!m->key || m->key_len >= 128) return OF_OK;
    if (m->key_len == strlen(rk) && memcmp(m->key, rk, m->key_len) == 0) {
        if (!m->value) {
            v->release = 0;
            return OF_OK;
        }
        of_release_record r;
        char es[256];
        CHECK_INT(of_release_record_decode(m->value, m->value_len, &r, es, sizeof es), OF_OK);
        v->release = r.evicted_ms ? 2 : 1;
        v->marker_has_request = r.request_json != NULL;
        v->marker_status = (int)r.status;
        v->marker_jobs = r.n_jobs;
        of_release_record_clear(&r);
        return OF_OK;
    }
    if (m->key_len <= strlen(pfx) || memcmp(m->key, pfx, strlen(pfx)) != 0) return OF_OK;
    size_t i = 0;
    while (i < v->n && (strlen(v->keys[i]) != m->key_len || memcmp(v->keys[i], m->key, m->key_len)))
        i++;
    if (i == v->n) {
        OF_ASSERT(v->n < 8);
        memcpy(v->keys[i], m->key, m->key_len);
        v->keys[i][m->key_len] = '\0';
        v->n++;
    }
    v->live[i] = m->value != NULL;
    if (m->value) {
        free(v->last_value[i]);
        v->last_value[i] = strndup(m->value, m->value_len);
    }
    return OF_OK;
}

static void view_clear(state_view *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->last_value[i]);
    const char *rid = v->rid;
    memset(v, 0, sizeof *v);
    v->rid = rid;
    v->release = -1;
}

static void read_view(fx *f, const char *rid, state_view *v)
{
    v->rid = rid;
    view_clear(v);
    read_all(f, f->t_releases, on_view, v);
}

static size_t live_jobs(const state_view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += v->live[i];
    return n;
}

/* Waits until the release's record is its marker and none of its job records is live. */
static bool wait_evicted(fx *f, const char *rid, state_view *v)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_view(f, rid, v);
        bool gone = v->release == 2 && v->n > 0 && live_jobs(v) == 0;
        if (gone || of_now_ms() > deadline) return gone;
        sleep_ms(100);
    }
}

/* Distinct events (by id: the mock re-reads input after a restart, and a decision made again
 * emits the same id) of type whose message (or first error) contains needle. */
static size_t count_ev_with(const evs *s, of_event_type type, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const of_event *e = &s->items[i];
        const char *text =
            type == OF_EV_RELEASE_REJECTED && e->n_errors ? e->errors[0] : e->message;
        if (e->type != type || !text || !strstr(text, needle)) continue;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(s->items[k].id, e->id) == 0;
        n += !seen;
    }
    return n;
}

static size_t wait_ev_with(fx *f, const char *rid, of_event_type type, const char *needle,
                           size_t want, evs *s)
{
    int64_t deadline = of_now_ms() + WAIT_MS;
    for (;;) {
        read_events(f, rid, s);
        size_t n = count_ev_with(s, type, needle);
        if (n >= want || of_now_ms() > deadline) return n;
        sleep_ms(100);
    }
}

static const char e1_json[] =
    "{\"release\":\"E1\",\"space\":\"Default\","
    "\"environments\":[\"Hosted Beta\"],\"tenants\":{\"names\":[\"Acme\"]},"
    "\"stages\":[[{\"project\":\"Portal\",\"version\":\"4.3.0\"}]]}";

/* A completed release is evicted at once (retention 0): its job records tombstoned, its
 * release record replaced by the marker; an aborted release only once its last job in
 * flight has ended; a running one stays. Then a command for the evicted release is ignored
 * with the evicted reason (only a producer that no longer holds its gate says so), a re-submit
 * is rejected and dispatches nothing, and a restarted producer neither loads it nor lets a
 * job record left behind (a crash between an eviction's transactions) bring it back. */
static void test_evict(fx *f, runner *prod)
{
    char r1[37], r2[37], r3[37];
    jobs_seen s1 = {0}, s2 = {0}, s3 = {0};
    evs ev = {0};
    state_view v1 = {0}, v2 = {0}, v3 = {0};
    const char *what = "was evicted after its retention";
    submit(f, "E1", e1_json, r1);
    submit(f, "E2",
           "{\"release\":\"E2\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Billing\",\"version\":\"4.3.0\"}]]}",
           r2);
    submit(f, "E3",
           "{\"release\":\"E3\",\"space\":\"Default\",\"environments\":[\"Hosted Beta\"],"
           "\"tenants\":{\"names\":[\"Acme\"]},"
           "\"stages\":[[{\"project\":\"Web\",\"version\":\"4.3.0\"}]]}",
           r3);
    CHECK_INT(wait_jobs(f, 1, r1, 1, &s1), 1);
    CHECK_INT(wait_jobs(f, 1, r2, 1, &s2), 1);
    CHECK_INT(wait_jobs(f, 1, r3, 1, &s3), 1);
    if (s1.n != 1 || s2.n != 1 || s3.n != 1) goto out;

    /* E3 aborted while its job runs; then E1 completes */
    job_event(f, &s3.items[0], OF_EV_JOB_STARTED, NULL, "Deployments-9301", "ServerTasks-9301");
    control(f, OF_CMD_ABORT, r3, 0, false, "evict test");
    CHECK_INT(wait_ev(f, r3, OF_EV_RELEASE_ABORTED, 1, &ev), 1);
    job_event(f, &s1.items[0], OF_EV_JOB_STARTED, NULL, "Deployments-9101", "ServerTasks-9101");
    job_event(f, &s1.items[0], OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_ev(f, r1, OF_EV_RELEASE_COMPLETED, 1, &ev), 1);
    CHECK(wait_evicted(f, r1, &v1));
    CHECK(!v1.marker_has_request); /* the marker is small */
    CHECK_INT(v1.marker_status, OF_RELEASE_COMPLETED);
    CHECK_INT(v1.marker_jobs, 1);
    /* The pass that evicted E1 came after E3's abort (one partition, in order): E3 still has
     * a job in flight and stays whole, and so does the running E2. */
    read_view(f, r3, &v3);
    CHECK_INT(v3.release, 1);
    CHECK_INT(live_jobs(&v3), 1);
    read_view(f, r2, &v2);
    CHECK_INT(v2.release, 1);
    CHECK_INT(live_jobs(&v2), 1);
    /* E3's last job ends: now it goes */
    job_event(f, &s3.items[0], OF_EV_JOB_CANCELLED, "cancelled", NULL, NULL);
    CHECK(wait_evicted(f, r3, &v3));
    CHECK_INT(v3.marker_status, OF_RELEASE_ABORTED);

    /* commands for E1 are ignored as evicted; a re-submit is rejected and deploys nothing */
    control(f, OF_CMD_REPLAY, r1, 1, false, "again?");
    CHECK_INT(wait_ev_with(f, r1, OF_EV_COMMAND_IGNORED, what, 1, &ev), 1);
    submit(f, "E1", e1_json, r1);
    CHECK(wait_ev_with(f, r1, OF_EV_RELEASE_REJECTED, what, 1, &ev) >= 1);
    read_jobs(f, 0, r1, &s1);
    CHECK_INT(s1.n, 1);

    /* A job record of E1 back on the topic, as a crash between the marker's transaction and
     * the tombstones' would leave it: a restarted producer does not load E1, and tombstones
     * the leftover. */
    CHECK(v1.n == 1 && v1.last_value[0] != NULL);
    if (v1.n == 1 && v1.last_value[0])
        produce(f, f->t_releases, v1.keys[0], v1.last_value[0], false);
    producer_stop(prod);
    producer_start(f, prod);
    CHECK(wait_evicted(f, r1, &v1));
    control(f, OF_CMD_ABORT, r1, 0, false, "after restart");
    CHECK_INT(wait_ev_with(f, r1, OF_EV_COMMAND_IGNORED, what, 2, &ev), 2);
    read_jobs(f, 0, r1, &s1);
    CHECK_INT(s1.n, 1);
    /* the release that was kept was loaded again: it completes, and is evicted in turn */
    job_event(f, &s2.items[0], OF_EV_JOB_SUCCEEDED, NULL, NULL, NULL);
    CHECK_INT(wait_ev(f, r2, OF_EV_RELEASE_COMPLETED, 1, &ev), 1);
    CHECK(wait_evicted(f, r2, &v2));
out:
    view_clear(&v1);
    view_clear(&v2);
    view_clear(&v3);
    jobs_clear(&s1);
    jobs_clear(&s2);
    jobs_clear(&s3);
    evs_clear(&ev);
}

/* Which fixture a case runs on. */
enum { ANY, MOCK_ONLY, BROKER_ONLY };

static const of_inproc_set poison_sets[] = {{"kafka.properties", "message.max.bytes=3000"}};
static const of_inproc_set flush_sets[] = {{"producer.batch_window", "60s"}};
static const of_inproc_set budget_sets[] = {{"octopus.task_budget", "2"}};
static const of_inproc_set cap_sets[] = {{"octopus.task_budget_headroom", "0"},
                                         {"octopus.task_cap_refresh", "200ms"}};
static const of_inproc_set evict_sets[] = {{"producer.release_retention", "0"}};

static const struct {
    const char *name;
    void (*fn)(fx *f, runner *prod);
    int mode;
    const of_inproc_set *sets;
    size_t n_sets;
} cases[] = {
    {"flow", test_release_flow, ANY, NULL, 0},
    {"unresolved", test_unresolved, ANY, NULL, 0},
    {"garbage", test_garbage, ANY, NULL, 0},
    {"abort", test_abort, ANY, NULL, 0},
    {"resume", test_resume, ANY, NULL, 0},
    {"poison", test_poison, MOCK_ONLY, poison_sets, 1},
    {"gateflush", test_gate_flush, ANY, flush_sets, 1},
    {"budget", test_budget, ANY, budget_sets, 1},
    {"budgetcap", test_budget_cap, ANY, cap_sets, 2},
    {"budgetgate", test_budget_gate, ANY, budget_sets, 1},
    {"evict", test_evict, ANY, evict_sets, 1},
    {"fencing", test_fencing, BROKER_ONLY, NULL, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* One case on a fixture of its own: set up, start the producer, run, stop, tear down. */
static void run_case(size_t i, const char *bootstrap)
{
    int64_t t0 = of_now_ms();
    int before = of_test_failures;
    fx f;
    if (setup(&f, bootstrap, cases[i].sets, cases[i].n_sets) != 0) {
        CHECK(!"set-up");
    } else {
        runner prod;
        memset(&prod, 0, sizeof prod);
        producer_start(&f, &prod);
        cases[i].fn(&f, &prod);
        producer_stop(&prod);
    }
    teardown(&f);
    fprintf(stderr, "case %s: %s (%.1f s)\n", cases[i].name,
            of_test_failures == before ? "ok" : "FAILED", (double)(of_now_ms() - t0) / 1000.0);
}

int main(int argc, char **argv)
{
    char ges[256];
    if (of_octo_global_init(ges, sizeof ges) != OF_OK) { /* libcurl, once, before any thread */
        fprintf(stderr, "%s\n", ges);
        return 1;
    }
    /* The same scenarios against the real broker of the ctest `kafka` fixture: built with
     * OF_TEST_BROKER (ctest producer_broker.<case>), or run with --broker. */
    char bootstrap[256] = "";
    bool broker = OF_TEST_BROKER || (argc > 1 && strcmp(argv[1], "--broker") == 0);
    if (broker) {
        int skip = of_test_read_bootstrap(bootstrap, sizeof(bootstrap));
        if (skip) return skip;
    }
    /* the cases named after the options (none: every case of this mode) */
    int first = argc > 1 && strcmp(argv[1], "--broker") == 0 ? 2 : 1;
    bool ran = false;
    for (int a = first; a < argc; a++) {
        bool known = false;
        for (size_t i = 0; i < N_CASES; i++)
            known = known || strcmp(argv[a], cases[i].name) == 0;
        if (!known) fprintf(stderr, "no case '%s'\n", argv[a]);
        CHECK(known);
    }
    for (size_t i = 0; i < N_CASES; i++) {
        bool run = argc <= first;
        for (int a = first; a < argc && !run; a++)
            run = strcmp(argv[a], cases[i].name) == 0;
        if (!run) continue;
        if (cases[i].mode == (broker ? MOCK_ONLY : BROKER_ONLY)) {
            fprintf(stderr, "case %s: needs %s, skipped\n", cases[i].name,
                    broker ? "the mock cluster" : "a real broker");
            continue;
        }
        run_case(i, broker ? bootstrap : NULL);
        ran = true;
    }
    if (!ran && of_test_failures == 0) return 77; /* only cases of the other mode named */
    return TEST_DONE();
}
