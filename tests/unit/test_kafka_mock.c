/* Unit tests for the Kafka module (common/kafka/kafka.h) against librdkafka's in-process mock
 * cluster: configuration errors, a produce/consume round trip with headers, delivery reports that
 * fire only after delivery, pause/resume that keeps the group membership, injected produce errors,
 * transient coordinator errors retried (committed, commit) and permanent ones not, topic creation
 * on the mock, the whole-topic reader, and callbacks of purged messages. */
#include <stdio.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "test.h"

static char es[512];

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

typedef struct reports {
    int count, ok, failed, persisted;
    int64_t last_offset;
    char last_errname[64];
} reports;

static void on_delivery(void *opaque, const of_kafka_delivery *d)
{
    reports *r = opaque;
    r->count++;
    if (d->err == OF_OK) {
        r->ok++;
        r->last_offset = d->offset;
    } else {
        r->failed++;
    }
    if (d->persisted == OF_KAFKA_PERSISTED) r->persisted++;
    snprintf(r->last_errname, sizeof(r->last_errname), "%s", d->errname);
}

typedef struct rebalances {
    int assigned, revoked, lost; /* partitions */
} rebalances;

static void on_rebalance(void *opaque, of_kafka_rebalance what, const of_kafka_partition *parts,
                         size_t n)
{
    rebalances *r = opaque;
    CHECK(n > 0 && parts != NULL && parts[0].topic != NULL);
    int *count = what == OF_KAFKA_ASSIGNED  ? &r->assigned
                 : what == OF_KAFKA_REVOKED ? &r->revoked
                                            : &r->lost;
    *count += (int)n;
}

static of_err produce_str(of_kafka_producer *p, const char *topic, const char *key,
                          const char *value, reports *r)
{
    of_kafka_record rec = {topic, OF_KAFKA_PARTITION_ANY,    key,  strlen(key),
                           value, value ? strlen(value) : 0, NULL, 0};
    return of_kafka_produce(p, &rec, r ? on_delivery : NULL, r, es, sizeof(es));
}

static of_kafka_consumer *consumer(const of_kafka_config *cfg, const char *group, rebalances *rb)
{
    of_kafka_consumer_opts o = {.group_id = group, .on_rebalance = on_rebalance, .opaque = rb};
    of_kafka_consumer *c = NULL;
    CHECK_INT(of_kafka_consumer_new(cfg, &o, &c, es, sizeof(es)), OF_OK);
    return c;
}

static bool bytes_eq(const void *p, size_t n, const char *s)
{
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

/* ------------------------------------------------------------------------------------------ */

static void test_config_errors(of_kafka_mock *m)
{
    of_kafka_producer *p = NULL;
    of_kafka_consumer *c = NULL;

    of_kafka_config none = {NULL, NULL, NULL, 0, NULL};
    CHECK_INT(of_kafka_producer_new(&none, NULL, &p, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "bootstrap");
    CHECK(p == NULL);

    of_kafka_prop bad_key[] = {{"linger.ms", "5"}, {"no.such.property", "1"}};
    of_kafka_config cfg = {NULL, "t", bad_key, 2, m};
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "no.such.property");

    of_kafka_prop bad_value[] = {{"enable.idempotence", "maybe"}};
    cfg.props = bad_value;
    cfg.nprops = 1;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "enable.idempotence");

    /* A value of a secret-looking property never appears in an error. */
    of_kafka_prop secret[] = {{"sasl.mechanism", "PLAIN"}, {"ssl.key.password", NULL}};
    cfg.props = secret;
    cfg.nprops = 2;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "ssl.key.password");

    cfg.props = NULL;
    cfg.nprops = 0;
    of_kafka_consumer_opts o = {.group_id = NULL};
    CHECK_INT(of_kafka_consumer_new(&cfg, &o, &c, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "group.id");
    CHECK(c == NULL);

    /* Transactions on a producer without transactional.id: refused, and fatal to retry. */
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    of_kafka_txn_action a = OF_KAFKA_TXN_NONE;
    CHECK_INT(of_kafka_txn_begin(p, &a, es, sizeof(es)), OF_ERR_STATE);
    CHECK_INT(a, OF_KAFKA_TXN_FATAL);
    CHECK(!of_kafka_producer_fatal(p, es, sizeof(es)));
    of_kafka_record rec = {"", OF_KAFKA_PARTITION_ANY, NULL, 0, NULL, 0, NULL, 0};
    CHECK_INT(of_kafka_produce(p, &rec, NULL, NULL, es, sizeof(es)), OF_ERR_INVALID);
    of_kafka_producer_destroy(p);
}

/* Produce with headers; reports only after delivery; consume in a group; store + commit. */
static void test_round_trip(of_kafka_mock *m)
{
    enum { N = 20 };
    of_kafka_config cfg = {NULL, "roundtrip", NULL, 0, m};
    CHECK_INT(of_kafka_mock_create_topic(m, "rt", 4, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_mock_create_topic(m, "rt", 4, es, sizeof(es)), OF_OK); /* exists: fine */

    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    reports r = {0};
    for (int i = 0; i < N; i++) {
        char key[16], val[32], id[32];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "{\"n\":%d}", i);
        snprintf(id, sizeof(id), "id-%d", i);
        of_kafka_header h[3] = {{"content-type", "application/json", 16},
                                {"ce_id", id, strlen(id)},
                                {"empty", NULL, 0}};
        of_kafka_record rec = {"rt", OF_KAFKA_PARTITION_ANY, key, strlen(key), val, strlen(val), h,
                               3};
        CHECK_INT(of_kafka_produce(p, &rec, on_delivery, &r, es, sizeof(es)), OF_OK);
    }
    /* Reports are served by poll/flush on this thread, never behind our back. */
    CHECK_INT(r.count, 0);
    CHECK(of_kafka_producer_outq_len(p) > 0);
    CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);
    CHECK_INT(r.count, N);
    CHECK_INT(r.ok, N);
    CHECK_INT(r.persisted, N);
    CHECK(r.last_offset >= 0);
    CHECK_STR(r.last_errname, "NO_ERROR");
    CHECK_INT(of_kafka_producer_outq_len(p), 0);

    rebalances rb = {0};
    of_kafka_consumer *c = consumer(&cfg, "rt-group", &rb);
    if (!c) return;
    const char *topics[] = {"rt"};
    CHECK_INT(of_kafka_subscribe(c, topics, 1, es, sizeof(es)), OF_OK);
    int got = 0, headers_ok = 0, stored = 0;
    int64_t deadline = of_now_ms() + 30000;
    while (got < N && of_now_ms() < deadline) {
        of_kafka_message *msg = NULL;
        of_err rc = of_kafka_consumer_poll(c, 200, &msg, es, sizeof(es));
        if (rc) {
            of_warn("poll: %s", es);
            continue;
        }
        if (!msg) continue;
        got++;
        CHECK_STR(msg->topic, "rt");
        char key[16] = {0};
        CHECK(msg->key_len < sizeof(key));
        memcpy(key, msg->key, msg->key_len < sizeof(key) - 1 ? msg->key_len : sizeof(key) - 1);
        char want_id[32], want_val[32];
        snprintf(want_id, sizeof(want_id), "id-%s", key + 1);
        snprintf(want_val, sizeof(want_val), "{\"n\":%s}", key + 1);
        CHECK(bytes_eq(msg->value, msg->value_len, want_val));
        const void *v = NULL;
        size_t vlen = 0;
        const char *name = NULL;
        if (of_kafka_message_header(msg, "content-type", &v, &vlen) &&
            bytes_eq(v, vlen, "application/json") &&
            of_kafka_message_header(msg, "ce_id", &v, &vlen) && bytes_eq(v, vlen, want_id) &&
            of_kafka_message_header(msg, "empty", &v, &vlen) && v == NULL &&
            of_kafka_message_header_count(msg) == 3 &&
            of_kafka_message_header_at(msg, 0, &name, &v, &vlen) &&
            strcmp(name, "content-type") == 0 &&
            !of_kafka_message_header_at(msg, 3, &name, &v, &vlen) &&
            !of_kafka_message_header(msg, "absent", &v, &vlen))
            headers_ok++;
        stored += of_kafka_store_offset(c, msg->topic, msg->partition, msg->offset + 1, es,
                                        sizeof(es)) == OF_OK;
        of_kafka_message_free(msg);
    }
    CHECK_INT(got, N);
    CHECK_INT(headers_ok, N);
    CHECK_INT(stored, N);
    CHECK_INT(rb.assigned, 4);
    /* The coordinator moving while we commit is retried, not reported. */
    const int moving[] = {OF_KAFKA_PERR_NOT_COORDINATOR, OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE,
                          OF_KAFKA_PERR_NOT_COORDINATOR};
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_OFFSET_COMMIT, 3, moving, es, sizeof(es)),
              OF_OK);
    CHECK_INT(of_kafka_commit(c, es, sizeof(es)), OF_OK);
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_OFFSET_COMMIT);
    CHECK_INT(of_kafka_commit(c, es, sizeof(es)), OF_OK); /* nothing new: still fine */

    of_kafka_offset offs[4] = {{"rt", 0, 0}, {"rt", 1, 0}, {"rt", 2, 0}, {"rt", 3, 0}};
    CHECK_INT(of_kafka_committed(c, offs, 4, 10000, es, sizeof(es)), OF_OK);
    int64_t sum = 0;
    for (int i = 0; i < 4; i++)
        sum += offs[i].offset > 0 ? offs[i].offset : 0;
    CHECK_INT(sum, N);

    /* Storing for a partition we do not own is refused. */
    CHECK_INT(of_kafka_store_offset(c, "rt", 77, 1, es, sizeof(es)), OF_ERR_STATE);

    CHECK_INT(of_kafka_consumer_close(c, es, sizeof(es)), OF_OK);
    CHECK_INT(rb.revoked, 4); /* close revokes through the hook */
    CHECK_INT(of_kafka_consumer_close(c, es, sizeof(es)), OF_OK);
    of_kafka_message *msg = NULL;
    CHECK_INT(of_kafka_consumer_poll(c, 0, &msg, es, sizeof(es)), OF_ERR_STATE);
    of_kafka_consumer_destroy(c);
    of_kafka_producer_destroy(p);
}

/* Polls for up to ms, counting messages (stored and freed). */
static int drain(of_kafka_consumer *c, int ms, int stop_at)
{
    int got = 0;
    int64_t deadline = of_now_ms() + ms;
    while (of_now_ms() < deadline && (stop_at <= 0 || got < stop_at)) {
        of_kafka_message *msg = NULL;
        if (of_kafka_consumer_poll(c, 100, &msg, es, sizeof(es)) == OF_OK && msg) {
            got++;
            CHECK_INT(of_kafka_store_offset(c, msg->topic, msg->partition, msg->offset + 1, es,
                                            sizeof(es)),
                      OF_OK);
            of_kafka_message_free(msg);
        }
    }
    return got;
}

/* Pausing the whole assignment and polling past max.poll.interval.ms keeps us in the group;
 * partitions assigned while paused stay paused until resume. */
static void test_pause_resume(of_kafka_mock *m)
{
    /* Short timers so the test proves the point in seconds (the mock's sessions need at least
     * 6 s on a loaded machine). */
    of_kafka_prop props[] = {{"session.timeout.ms", "6000"},
                             {"heartbeat.interval.ms", "1000"},
                             {"max.poll.interval.ms", "6000"}};
    of_kafka_config cfg = {NULL, "pause", props, 3, m};
    of_kafka_config pcfg = {NULL, "pause", NULL, 0, m};
    CHECK_INT(of_kafka_mock_create_topic(m, "pz", 2, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&pcfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    for (int i = 0; i < 5; i++)
        CHECK_INT(produce_str(p, "pz", "a", "first", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);

    /* Paused before it has any partition: the wish applies to what gets assigned. */
    rebalances rb = {0};
    of_kafka_consumer *c = consumer(&cfg, "pz-group", &rb);
    if (!c) return;
    CHECK_INT(of_kafka_consumer_pause(c, es, sizeof(es)), OF_OK);
    CHECK(of_kafka_consumer_paused(c));
    const char *topics[] = {"pz"};
    CHECK_INT(of_kafka_subscribe(c, topics, 1, es, sizeof(es)), OF_OK);
    int got = 0;
    int64_t deadline = of_now_ms() + 30000;
    while (rb.assigned < 2 && of_now_ms() < deadline)
        got += drain(c, 200, 0);
    CHECK_INT(rb.assigned, 2);
    got += drain(c, 1500, 0);
    CHECK_INT(got, 0);

    CHECK_INT(of_kafka_consumer_resume(c, es, sizeof(es)), OF_OK);
    CHECK(!of_kafka_consumer_paused(c));
    CHECK_INT(drain(c, 20000, 5), 5);

    /* Paused for longer than max.poll.interval.ms, still polling: no messages, no rebalance. */
    CHECK_INT(of_kafka_consumer_pause(c, es, sizeof(es)), OF_OK);
    for (int i = 0; i < 5; i++)
        CHECK_INT(produce_str(p, "pz", "b", "second", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);
    CHECK_INT(drain(c, 7500, 0), 0); /* > max.poll.interval.ms */
    CHECK_INT(rb.revoked, 0);
    CHECK_INT(rb.lost, 0);
    CHECK_INT((long long)of_kafka_consumer_assignment_count(c), 2);

    CHECK_INT(of_kafka_consumer_resume(c, es, sizeof(es)), OF_OK);
    CHECK_INT(drain(c, 20000, 5), 5);
    /* A member that had left would get UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION here. */
    CHECK_INT(of_kafka_commit(c, es, sizeof(es)), OF_OK);
    CHECK_INT(rb.revoked + rb.lost, 0);
    of_kafka_consumer_destroy(c);
    of_kafka_producer_destroy(p);
}

/* Queues errors for the next produce requests (none: nothing queued), then produces one record
 * to "faults" and flushes: the delivery reports it got. */
static reports produce_faults(of_kafka_mock *m, of_kafka_producer *p, const int *errs, size_t n,
                              const char *value, int flush_ms)
{
    if (n)
        CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_PRODUCE, n, errs, es, sizeof(es)),
                  OF_OK);
    reports r = {0};
    CHECK_INT(produce_str(p, "faults", "k", value, &r), OF_OK);
    CHECK_INT(of_kafka_flush(p, flush_ms, es, sizeof(es)), OF_OK);
    return r;
}

/* Retriable errors are retried inside librdkafka; a permanent one reaches the report. */
static void test_injected_errors(of_kafka_mock *m)
{
    of_kafka_config cfg = {NULL, "faults", NULL, 0, m};
    CHECK_INT(of_kafka_mock_create_topic(m, "faults", 1, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    /* Warm up: metadata and producer id before injecting. */
    reports warm = produce_faults(m, p, NULL, 0, "warm", 10000);
    CHECK_INT(warm.ok, 1);

    const int transient[] = {OF_KAFKA_PERR_NOT_LEADER_OR_FOLLOWER, OF_KAFKA_PERR_REQUEST_TIMED_OUT};
    reports r1 = produce_faults(m, p, transient, 2, "retried", 20000);
    CHECK_INT(r1.count, 1);
    CHECK_INT(r1.ok, 1);

    const int permanent[] = {OF_KAFKA_PERR_MESSAGE_TOO_LARGE};
    reports r2 = produce_faults(m, p, permanent, 1, "refused", 20000);
    CHECK_INT(r2.count, 1);
    CHECK_INT(r2.failed, 1);
    CHECK_STR(r2.last_errname, "MSG_SIZE_TOO_LARGE");
    CHECK_INT(r2.persisted, 0);

    /* The producer recovers for the next message. */
    reports r3 = produce_faults(m, p, NULL, 0, "after", 20000);
    CHECK_INT(r3.ok, 1);
    CHECK(!of_kafka_producer_fatal(p, es, sizeof(es)));
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_PRODUCE);
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_PRODUCE, 0, permanent, es, sizeof(es)),
              OF_ERR_INVALID);
    of_kafka_producer_destroy(p);
}

/* Transient coordinator states are retried within the deadline; permanent errors fail at once;
 * a state that outlasts the deadline fails with how long it was tried. */
static void test_transient_retries(of_kafka_mock *m)
{
    of_kafka_config cfg = {NULL, "transient", NULL, 0, m};
    CHECK_INT(of_kafka_mock_create_topic(m, "tr", 2, es, sizeof(es)), OF_OK);
    rebalances rb = {0};
    of_kafka_consumer *c = consumer(&cfg, "g-transient", &rb);
    if (!c) return;
    of_kafka_offset offs[2] = {{"tr", 0, 0}, {"tr", 1, 0}};
    /* Warm up: the coordinator is known before errors are injected. */
    CHECK_INT(of_kafka_committed(c, offs, 2, 10000, es, sizeof(es)), OF_OK);
    CHECK_INT((int)offs[0].offset, OF_KAFKA_OFFSET_NONE);

    /* More errors in a row than librdkafka retries on its own: only our retry gets through. */
    const int coord[] = {OF_KAFKA_PERR_NOT_COORDINATOR,
                         OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE,
                         OF_KAFKA_PERR_COORDINATOR_LOAD_IN_PROGRESS,
                         OF_KAFKA_PERR_NOT_COORDINATOR,
                         OF_KAFKA_PERR_COORDINATOR_LOAD_IN_PROGRESS,
                         OF_KAFKA_PERR_NOT_COORDINATOR};
    size_t ncoord = sizeof(coord) / sizeof(coord[0]);
    CHECK_INT(
        of_kafka_mock_push_errors(m, OF_KAFKA_API_OFFSET_FETCH, ncoord, coord, es, sizeof(es)),
        OF_OK);
    offs[0].offset = 42;
    CHECK_INT(of_kafka_committed(c, offs, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT((int)offs[0].offset, OF_KAFKA_OFFSET_NONE);
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_OFFSET_FETCH);

    /* The same through FindCoordinator: the coordinator lookup itself is refused a while. */
    const int find[] = {OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE,
                        OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE,
                        OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE};
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_OFFSET_FETCH, 1, coord, es, sizeof(es)),
              OF_OK);
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_FIND_COORDINATOR, 3, find, es, sizeof(es)),
              OF_OK);
    CHECK_INT(of_kafka_committed(c, offs, 2, 30000, es, sizeof(es)), OF_OK);
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_OFFSET_FETCH);
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_FIND_COORDINATOR);

    /* A permanent error fails at once, with its own code, without retries. */
    const int denied[] = {OF_KAFKA_PERR_GROUP_AUTHORIZATION_FAILED};
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_OFFSET_FETCH, 1, denied, es, sizeof(es)),
              OF_OK);
    int64_t t0 = of_now_ms();
    CHECK_INT(of_kafka_committed(c, offs, 2, 30000, es, sizeof(es)), OF_ERR_AUTH);
    CHECK(of_now_ms() - t0 < 5000);
    CHECK(strstr(es, "still failing") == NULL);
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_OFFSET_FETCH);

    /* A transient state that outlasts the deadline: a clear failure soon after it. */
    int many[64];
    for (size_t i = 0; i < 64; i++)
        many[i] = OF_KAFKA_PERR_NOT_COORDINATOR;
    CHECK_INT(of_kafka_mock_push_errors(m, OF_KAFKA_API_OFFSET_FETCH, 64, many, es, sizeof(es)),
              OF_OK);
    t0 = of_now_ms();
    CHECK(of_kafka_committed(c, offs, 2, 3000, es, sizeof(es)) != OF_OK);
    int64_t took = of_now_ms() - t0;
    CHECK(took >= 1000 && took < 15000);
    CHECK_CONTAINS(es, "still failing");
    of_kafka_mock_clear_errors(m, OF_KAFKA_API_OFFSET_FETCH);
    CHECK_INT(of_kafka_committed(c, offs, 2, 30000, es, sizeof(es)), OF_OK);
    of_kafka_consumer_destroy(c);
}

typedef struct seen {
    int n, tombstones;
    int stop_after;
} seen;

static of_err on_message(void *opaque, const of_kafka_message *msg)
{
    seen *s = opaque;
    s->n++;
    if (!msg->value) s->tombstones++;
    if (s->stop_after && s->n >= s->stop_after) return OF_ERR_CANCELLED;
    return OF_OK;
}

/* ensure_topics on the mock, then the whole-topic reader. */
static void test_topics_and_read(of_kafka_mock *m)
{
    of_kafka_config cfg = {NULL, "reader", NULL, 0, m};
    const of_kafka_prop compact[] = {{"cleanup.policy", "compact"}};
    of_kafka_topic_spec specs[] = {{"state", 3, 1, compact, 1}, {"other", 2, 1, NULL, 0}};
    CHECK_INT(of_kafka_ensure_topics(&cfg, specs, 2, 10000, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_ensure_topics(&cfg, specs, 2, 10000, es, sizeof(es)), OF_OK);
    of_kafka_topic_spec bad[] = {{"x", 0, 1, NULL, 0}};
    CHECK_INT(of_kafka_ensure_topics(&cfg, bad, 1, 10000, es, sizeof(es)), OF_ERR_INVALID);

    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    reports r = {0};
    for (int i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof(key), "r%d", i);
        CHECK_INT(produce_str(p, "state", key, "x", &r), OF_OK);
    }
    CHECK_INT(produce_str(p, "state", "r0", NULL, &r), OF_OK); /* a tombstone */
    /* Explicit partition 2 exists only if the topic got 3 partitions. */
    of_kafka_record rec = {"state", 2, "p2", 2, "y", 1, NULL, 0};
    CHECK_INT(of_kafka_produce(p, &rec, on_delivery, &r, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_flush(p, 10000, es, sizeof(es)), OF_OK);
    CHECK_INT(r.ok, 12);

    seen s = {0, 0, 0};
    size_t count = 0;
    CHECK_INT(of_kafka_read_topic(&cfg, "state", 30000, on_message, &s, &count, es, sizeof(es)),
              OF_OK);
    CHECK_INT(s.n, 12);
    CHECK_INT((long long)count, 12);
    CHECK_INT(s.tombstones, 1);

    seen stop = {0, 0, 3};
    CHECK_INT(of_kafka_read_topic(&cfg, "state", 30000, on_message, &stop, &count, es, sizeof(es)),
              OF_ERR_CANCELLED);
    CHECK_INT(stop.n, 3);

    seen empty = {0, 0, 0};
    CHECK_INT(of_kafka_read_topic(&cfg, "other", 30000, on_message, &empty, &count, es, sizeof(es)),
              OF_OK);
    CHECK_INT(empty.n, 0);
    CHECK_INT(of_kafka_read_topic(&cfg, "never-created", 30000, on_message, &empty, &count, es,
                                  sizeof(es)),
              OF_OK);
    CHECK_INT((long long)count, 0);
    of_kafka_producer_destroy(p);
}

/* Destroying a producer with messages that cannot be delivered still calls every callback. */
static void test_destroy_purges(void)
{
    of_kafka_mock *m = NULL;
    CHECK_INT(of_kafka_mock_start(1, &m, es, sizeof(es)), OF_OK);
    if (!m) return;
    CHECK_INT(of_kafka_mock_create_topic(m, "gone", 1, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_mock_broker_set_up(m, 1, false, es, sizeof(es)), OF_OK);
    of_kafka_config cfg = {NULL, "purge", NULL, 0, m};
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    reports r = {0};
    for (int i = 0; i < 3; i++)
        CHECK_INT(produce_str(p, "gone", "k", "v", &r), OF_OK);
    CHECK_INT(of_kafka_flush(p, 300, es, sizeof(es)), OF_ERR_TIMEOUT);
    CHECK_CONTAINS(es, "outstanding");
    CHECK_INT(r.count, 0);
    of_kafka_producer_destroy(p);
    CHECK_INT(r.count, 3);
    CHECK_INT(r.failed, 3);
    CHECK_INT(of_kafka_mock_broker_set_up(m, 1, true, es, sizeof(es)), OF_OK);
    of_kafka_mock_destroy(m);
}

/* The properties octofleet chooses for a producer, and that kafka.properties still wins. */
static void test_producer_defaults(of_kafka_mock *m)
{
    static const struct {
        const char *txn_id; /* NULL: not transactional */
        of_kafka_prop prop; /* from kafka.properties; key NULL: none */
        const char *name, *want;
    } cases[] = {
        {"t-defaults", {NULL, NULL}, "retry.backoff.ms", OF_KAFKA_TXN_RETRY_BACKOFF_MS},
        {"t-defaults", {NULL, NULL}, "enable.idempotence", "true"},
        {"t-defaults", {"retry.backoff.ms", "250"}, "retry.backoff.ms", "250"},
        {NULL, {NULL, NULL}, "retry.backoff.ms", "100"}, /* librdkafka's own */
        {NULL, {NULL, NULL}, "enable.idempotence", "true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_kafka_config cfg = {NULL, "t", cases[i].prop.key ? &cases[i].prop : NULL,
                               cases[i].prop.key ? 1 : 0, m};
        of_kafka_producer *p = NULL;
        CHECK_INT(of_kafka_producer_new(&cfg, cases[i].txn_id, &p, es, sizeof(es)), OF_OK);
        if (!p) continue;
        char v[64] = "";
        CHECK_INT(of_kafka_producer_conf_get(p, cases[i].name, v, sizeof v), OF_OK);
        CHECK_STR(v, cases[i].want);
        char tiny[2];
        CHECK_INT(of_kafka_producer_conf_get(p, "bootstrap.servers", tiny, sizeof tiny),
                  OF_ERR_TOO_LARGE);
        CHECK_INT(of_kafka_producer_conf_get(p, "no.such.property", v, sizeof v), OF_ERR_NOT_FOUND);
        of_kafka_producer_destroy(p);
    }
}

int main(void)
{
    of_kafka_mock *m = NULL;
    CHECK_INT(of_kafka_mock_start(0, &m, es, sizeof(es)), OF_ERR_INVALID);
    CHECK_INT(of_kafka_mock_start(3, &m, es, sizeof(es)), OF_OK);
    if (!m) return TEST_DONE();
    CHECK(strchr(of_kafka_mock_bootstraps(m), ',') != NULL); /* three brokers */
    test_config_errors(m);
    test_producer_defaults(m);
    test_round_trip(m);
    test_pause_resume(m);
    test_injected_errors(m);
    test_transient_retries(m);
    test_topics_and_read(m);
    of_kafka_mock_destroy(m);
    test_destroy_purges();
    return TEST_DONE();
}
