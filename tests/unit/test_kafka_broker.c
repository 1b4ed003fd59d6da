/* The Kafka module (common/kafka/kafka.h) against the real Kafka 4.1.1 test broker (ctest fixture
 * `kafka`, tests/kafka/broker.py): librdkafka 2.0.2 must create topics through the Admin API,
 * produce idempotently, consume in a cooperative-sticky group with stored offsets, and use
 * transactions whose aborted data a read_committed reader never sees and whose offsets move the
 * group's committed position, and wake a loop through the consumer's wake fd. Names carry pid +
 * time so reruns against one broker never meet.
 *
 * The broker's address is read from the file named by $OF_TEST_KAFKA_BOOTSTRAP_FILE; without
 * that variable the test exits 77 (skipped). */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "test.h"

static char es[512];
static char bootstrap[256];
static char sfx[64];

/* Consumer timers short enough for tests; the broker allows sessions down to 1 s. */
static const of_kafka_prop consumer_props[] = {{"session.timeout.ms", "6000"},
                                               {"heartbeat.interval.ms", "500"}};

static of_kafka_config config(const char *client, bool consumer)
{
    of_kafka_config c = {bootstrap, client, consumer ? consumer_props : NULL,
                         consumer ? sizeof(consumer_props) / sizeof(consumer_props[0]) : 0, NULL};
    return c;
}

static void name(char *out, size_t size, const char *what)
{
    snprintf(out, size, "of-test-%s-%s", what, sfx);
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

typedef struct reports {
    int count, ok, failed, persisted;
} reports;

static void on_delivery(void *opaque, const of_kafka_delivery *d)
{
    reports *r = opaque;
    r->count++;
    r->ok += d->err == OF_OK;
    r->failed += d->err != OF_OK;
    r->persisted += d->persisted == OF_KAFKA_PERSISTED;
}

static of_err produce(of_kafka_producer *p, const char *topic, int32_t partition, const char *key,
                      const char *value, reports *r)
{
    of_kafka_header h[] = {{"content-type", "text/plain", 10}};
    of_kafka_record rec = {topic, partition, key, strlen(key), value, strlen(value), h, 1};
    return of_kafka_produce(p, &rec, r ? on_delivery : NULL, r, es, sizeof(es));
}

typedef struct member {
    of_kafka_consumer *c;
    int assigned, revoked, lost, rebalances;
    int got, got_first, got_second;
} member;

static void on_rebalance(void *opaque, of_kafka_rebalance what, const of_kafka_partition *parts,
                         size_t n)
{
    member *m = opaque;
    (void)parts;
    m->rebalances++;
    int *count = what == OF_KAFKA_ASSIGNED  ? &m->assigned
                 : what == OF_KAFKA_REVOKED ? &m->revoked
                                            : &m->lost;
    *count += (int)n;
}

static bool member_new(member *m, const char *client, const char *group, bool manual_commit)
{
    memset(m, 0, sizeof(*m));
    of_kafka_config cfg = config(client, true);
    of_kafka_consumer_opts o = {.group_id = group,
                                .on_rebalance = on_rebalance,
                                .opaque = m,
                                .manual_commit = manual_commit};
    CHECK_INT(of_kafka_consumer_new(&cfg, &o, &m->c, es, sizeof(es)), OF_OK);
    return m->c != NULL;
}

/* One poll; a message is counted by its value prefix and its offset stored. */
static void member_poll(member *m, int timeout_ms, of_kafka_offset *track, size_t ntrack)
{
    of_kafka_message *msg = NULL;
    of_err rc = of_kafka_consumer_poll(m->c, timeout_ms, &msg, es, sizeof(es));
    if (rc) {
        of_warn("poll: %s", es);
        return;
    }
    if (!msg) return;
    m->got++;
    if (msg->value_len >= 5 && memcmp(msg->value, "first", 5) == 0) m->got_first++;
    if (msg->value_len >= 6 && memcmp(msg->value, "second", 6) == 0) m->got_second++;
    CHECK_INT(
        of_kafka_store_offset(m->c, msg->topic, msg->partition, msg->offset + 1, es, sizeof(es)),
        OF_OK);
    for (size_t i = 0; i < ntrack; i++)
        if (track[i].partition == msg->partition && msg->offset + 1 > track[i].offset)
            track[i].offset = msg->offset + 1;
    of_kafka_message_free(msg);
}

/* ------------------------------------------------------------------------------------------ */

/* Whether fd is readable within timeout_ms (0: right now). */
static bool readable(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* Clears the wake fd, then polls the consumer empty: the messages taken. */
static int wake_drain(member *m)
{
    int got = m->got;
    of_kafka_consumer_wake_clear(m->c);
    for (int i = 0; i < 1000; i++) {
        int before = m->got;
        member_poll(m, 0, NULL, 0);
        if (m->got == before) break;
    }
    return m->got - got;
}

static char t_jobs[128], t_state[128], t_in[128], t_out[128];
static int probes; /* messages test_ensure_topics left in t_jobs */

static void test_ensure_topics(void)
{
    of_kafka_config cfg = config("admin", false);
    const of_kafka_prop compact[] = {{"cleanup.policy", "compact"}, {"segment.ms", "600000"}};
    of_kafka_topic_spec specs[] = {{t_jobs, 6, 1, NULL, 0},
                                   {t_state, 3, 1, compact, 2},
                                   {t_in, 2, 1, NULL, 0},
                                   {t_out, 2, 1, NULL, 0}};
    CHECK_INT(of_kafka_ensure_topics(&cfg, specs, 4, 30000, es, sizeof(es)), OF_OK);
    /* Idempotent: everything exists now. */
    CHECK_INT(of_kafka_ensure_topics(&cfg, specs, 4, 30000, es, sizeof(es)), OF_OK);

    /* A real error names the topic: 3 replicas on a 1-broker cluster. */
    char t_bad[128];
    name(t_bad, sizeof(t_bad), "rf3");
    of_kafka_topic_spec bad[] = {{t_bad, 1, 3, NULL, 0}};
    CHECK(of_kafka_ensure_topics(&cfg, bad, 1, 30000, es, sizeof(es)) != OF_OK);
    CHECK_CONTAINS(es, t_bad);
    of_kafka_topic_spec badcfg[] = {
        {t_bad, 1, 1, (const of_kafka_prop[]){{"cleanup.policy", "nope"}}, 1}};
    CHECK(of_kafka_ensure_topics(&cfg, badcfg, 1, 30000, es, sizeof(es)) != OF_OK);
    CHECK_CONTAINS(es, t_bad);

    /* The jobs topic really has 6 partitions: partition 5 takes a message, 6 does not. */
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    reports r5 = {0}, r6 = {0};
    CHECK_INT(produce(p, t_jobs, 5, "k", "probe", &r5), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(r5.ok, 1);
    probes = r5.ok;
    of_err rc = produce(p, t_jobs, 6, "k", "probe", &r6);
    if (rc ==
        OF_OK) /* unless metadata was unknown, librdkafka refuses at once; else in the report */
        CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    CHECK(rc != OF_OK || r6.failed == 1);
    of_kafka_producer_destroy(p);
}

/* of_kafka_producer_warm: the producer knows a topic's partitions before its first message, so
 * a message to a partition the topic does not have is refused at once; without it, such a
 * message is taken and fails later, in its delivery report (what test_ensure_topics allows).
 * A topic the broker cannot serve is named in the error. */
static void test_warm(void)
{
    of_kafka_config cfg = config("warm", false);
    of_kafka_producer *cold = NULL, *warm = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &cold, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &warm, es, sizeof(es)), OF_OK);
    if (!cold || !warm) {
        of_kafka_producer_destroy(cold);
        of_kafka_producer_destroy(warm);
        return;
    }
    const char *topics[] = {t_jobs, t_in};
    CHECK_INT(of_kafka_producer_warm(warm, topics, 2, 30000, es, sizeof(es)), OF_OK);
    reports rc_cold = {0}, rc_warm = {0};
    CHECK(produce(warm, t_jobs, 6, "k", "never", &rc_warm) != OF_OK); /* t_jobs has 6 */
    CHECK_INT(produce(warm, t_in, 1, "k", "probe", &rc_warm), OF_OK);
    CHECK_INT(produce(cold, t_jobs, 6, "k", "never", &rc_cold), OF_OK);
    CHECK_INT(of_kafka_flush(cold, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(rc_cold.failed, 1);
    CHECK_INT(of_kafka_flush(warm, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(rc_warm.ok, 1);

    const char *bad[] = {t_in, "not a topic name!"};
    CHECK(of_kafka_producer_warm(cold, bad, 2, 30000, es, sizeof(es)) != OF_OK);
    CHECK_CONTAINS(es, "not a topic name! (Broker: "); /* the broker's reason beside the name */
    CHECK(strstr(es, t_in) == NULL);
    of_kafka_producer_destroy(cold);
    of_kafka_producer_destroy(warm);
}

/* Idempotent produce; a cooperative-sticky group; stored + committed offsets; a second member
 * takes over half the partitions incrementally and starts after the committed offsets. */
static void test_group(void)
{
    enum { FIRST = 40, SECOND = 10 };
    of_kafka_config pcfg = config("producer", false);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&pcfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    reports r = {0};
    for (int i = 0; i < FIRST; i++) {
        char key[16];
        snprintf(key, sizeof(key), "release-%d", i);
        CHECK_INT(produce(p, t_jobs, OF_KAFKA_PARTITION_ANY, key, "first", &r), OF_OK);
    }
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(r.ok, FIRST);
    CHECK_INT(r.persisted, FIRST);

    char group[128];
    name(group, sizeof(group), "group");
    member a, b;
    if (!member_new(&a, "member-a", group, false)) return;
    const char *topics[] = {t_jobs};
    CHECK_INT(of_kafka_subscribe(a.c, topics, 1, es, sizeof(es)), OF_OK);
    int64_t deadline = of_now_ms() + 60000;
    /* Everything in the topic (FIRST plus the probe), so every stored offset is at the end. */
    while (a.got < FIRST + probes && of_now_ms() < deadline)
        member_poll(&a, 200, NULL, 0);
    CHECK_INT(a.got_first, FIRST);
    CHECK_INT(a.got, FIRST + probes);
    CHECK_INT(a.assigned, 6);
    CHECK_INT(of_kafka_commit(a.c, es, sizeof(es)), OF_OK);

    of_kafka_offset offs[6];
    for (int i = 0; i < 6; i++)
        offs[i] = (of_kafka_offset){t_jobs, i, 0};
    CHECK_INT(of_kafka_committed(a.c, offs, 6, 30000, es, sizeof(es)), OF_OK);
    int64_t sum = 0;
    for (int i = 0; i < 6; i++)
        sum += offs[i].offset > 0 ? offs[i].offset : 0;
    CHECK_INT(sum, a.got);

    /* Second member: cooperative-sticky moves exactly half the partitions, a's other half keeps
     * flowing (an eager protocol would revoke all six). */
    if (!member_new(&b, "member-b", group, false)) return;
    CHECK_INT(of_kafka_subscribe(b.c, topics, 1, es, sizeof(es)), OF_OK);
    deadline = of_now_ms() + 90000;
    while (of_now_ms() < deadline && !(b.assigned == 3 && a.assigned - a.revoked == 3)) {
        member_poll(&a, 50, NULL, 0);
        member_poll(&b, 50, NULL, 0);
    }
    CHECK_INT(a.revoked, 3);
    CHECK_INT(a.lost, 0);
    CHECK_INT(b.assigned, 3);
    CHECK_INT(b.got, 0); /* nothing left behind the committed offsets */

    for (int i = 0; i < SECOND; i++) {
        char key[16];
        snprintf(key, sizeof(key), "next-%d", i);
        CHECK_INT(produce(p, t_jobs, OF_KAFKA_PARTITION_ANY, key, "second", &r), OF_OK);
    }
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    deadline = of_now_ms() + 60000;
    while (a.got_second + b.got_second < SECOND && of_now_ms() < deadline) {
        member_poll(&a, 50, NULL, 0);
        member_poll(&b, 50, NULL, 0);
    }
    CHECK_INT(a.got_second + b.got_second, SECOND);
    CHECK_INT(b.got_first, 0); /* b started after what a committed */
    CHECK_INT(a.got_first, FIRST);

    CHECK_INT(of_kafka_consumer_close(a.c, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_consumer_close(b.c, es, sizeof(es)), OF_OK);
    of_kafka_consumer_destroy(a.c);
    of_kafka_consumer_destroy(b.c);
    of_kafka_producer_destroy(p);
}

/* Retries a transactional call while it says RETRY, within a bound. */
#define TXN(call)                                                                     \
    do {                                                                              \
        of_kafka_txn_action a_ = OF_KAFKA_TXN_NONE;                                   \
        of_err rc_;                                                                   \
        int tries_ = 0;                                                               \
        while ((rc_ = (call)) != OF_OK && a_ == OF_KAFKA_TXN_RETRY && ++tries_ < 5)   \
            of_warn("retrying: %s", es);                                              \
        if (rc_ != OF_OK)                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, es); \
        CHECK_INT(rc_, OF_OK);                                                        \
    } while (0)

typedef struct values {
    int n, committed, aborted, final_;
} values;

static of_err count_values(void *opaque, const of_kafka_message *msg)
{
    values *v = opaque;
    v->n++;
    if (msg->value_len >= 9 && memcmp(msg->value, "committed", 9) == 0) v->committed++;
    if (msg->value_len >= 7 && memcmp(msg->value, "aborted", 7) == 0) v->aborted++;
    if (msg->value_len >= 5 && memcmp(msg->value, "final", 5) == 0) v->final_++;
    return OF_OK;
}

/* A committed transaction is visible to read_committed, an aborted one is not (though its
 * records are in the log, as read_uncommitted shows). */
static void test_transactions_visibility(void)
{
    of_kafka_config cfg = config("txn", false);
    char txid[128];
    name(txid, sizeof(txid), "txid");
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, txid, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    TXN(of_kafka_txn_init(p, 30000, &a_, es, sizeof(es)));

    reports r = {0};
    TXN(of_kafka_txn_begin(p, &a_, es, sizeof(es)));
    for (int i = 0; i < 3; i++)
        CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "committed", &r), OF_OK);
    TXN(of_kafka_txn_commit(p, -1, &a_, es, sizeof(es)));
    CHECK_INT(r.ok, 3); /* commit flushes and serves the reports */

    TXN(of_kafka_txn_begin(p, &a_, es, sizeof(es)));
    for (int i = 0; i < 2; i++)
        CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "aborted", &r), OF_OK);
    /* Flush first so the records really reach the log before the abort marker. */
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(r.ok, 5);
    TXN(of_kafka_txn_abort(p, -1, &a_, es, sizeof(es)));

    TXN(of_kafka_txn_begin(p, &a_, es, sizeof(es)));
    CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "final", &r), OF_OK);
    TXN(of_kafka_txn_commit(p, -1, &a_, es, sizeof(es)));

    values v = {0, 0, 0, 0};
    size_t count = 0;
    CHECK_INT(of_kafka_read_topic(&cfg, t_out, 30000, count_values, &v, &count, es, sizeof(es)),
              OF_OK);
    CHECK_INT(v.committed, 3);
    CHECK_INT(v.final_, 1);
    CHECK_INT(v.aborted, 0);
    CHECK_INT((long long)count, 4);

    of_kafka_prop uncommitted[] = {{"isolation.level", "read_uncommitted"}};
    of_kafka_config ucfg = cfg;
    ucfg.props = uncommitted;
    ucfg.nprops = 1;
    values u = {0, 0, 0, 0};
    CHECK_INT(of_kafka_read_topic(&ucfg, t_out, 30000, count_values, &u, &count, es, sizeof(es)),
              OF_OK);
    CHECK_INT(u.aborted, 2);
    CHECK_INT(u.n, 6);
    of_kafka_producer_destroy(p);
}

/* Consume-transform-produce: offsets sent to an aborted transaction do not count, those sent to
 * a committed one become the group's committed offsets. Then a second producer with the same
 * transactional.id fences the first, which must be reported as fatal. */
static void test_transactions_offsets(void)
{
    enum { N = 5 };
    of_kafka_config cfg = config("txn-offsets", false);
    of_kafka_producer *plain = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &plain, es, sizeof(es)), OF_OK);
    if (!plain) return;
    reports r = {0};
    for (int i = 0; i < N; i++)
        CHECK_INT(produce(plain, t_in, i % 2, "k", "input", &r), OF_OK);
    CHECK_INT(of_kafka_flush(plain, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(r.ok, N);
    of_kafka_producer_destroy(plain);

    char group[128], txid[128];
    name(group, sizeof(group), "txgroup");
    name(txid, sizeof(txid), "txid2");
    member c;
    if (!member_new(&c, "txn-consumer", group, true)) return;
    const char *topics[] = {t_in};
    CHECK_INT(of_kafka_subscribe(c.c, topics, 1, es, sizeof(es)), OF_OK);
    of_kafka_offset next[2] = {{t_in, 0, 0}, {t_in, 1, 0}};
    int64_t deadline = of_now_ms() + 60000;
    while (c.got < N && of_now_ms() < deadline)
        member_poll(&c, 200, next, 2);
    CHECK_INT(c.got, N);
    CHECK_INT(next[0].offset + next[1].offset, N);

    of_kafka_offset committed[2] = {{t_in, 0, 0}, {t_in, 1, 0}};
    CHECK_INT(of_kafka_committed(c.c, committed, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(committed[0].offset, OF_KAFKA_OFFSET_NONE); /* manual commit: nothing yet */
    CHECK_INT(committed[1].offset, OF_KAFKA_OFFSET_NONE);

    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, txid, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    TXN(of_kafka_txn_init(p, 30000, &a_, es, sizeof(es)));

    TXN(of_kafka_txn_begin(p, &a_, es, sizeof(es)));
    CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "derived-aborted", NULL), OF_OK);
    TXN(of_kafka_txn_send_offsets(p, c.c, next, 2, 30000, &a_, es, sizeof(es)));
    TXN(of_kafka_txn_abort(p, -1, &a_, es, sizeof(es)));
    CHECK_INT(of_kafka_committed(c.c, committed, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(committed[0].offset, OF_KAFKA_OFFSET_NONE);
    CHECK_INT(committed[1].offset, OF_KAFKA_OFFSET_NONE);

    TXN(of_kafka_txn_begin(p, &a_, es, sizeof(es)));
    CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "derived", NULL), OF_OK);
    TXN(of_kafka_txn_send_offsets(p, c.c, next, 2, 30000, &a_, es, sizeof(es)));
    TXN(of_kafka_txn_commit(p, -1, &a_, es, sizeof(es)));
    CHECK_INT(of_kafka_committed(c.c, committed, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(committed[0].offset, next[0].offset);
    CHECK_INT(committed[1].offset, next[1].offset);

    /* Fencing: a newer instance with the same transactional.id makes the old one fatal. */
    of_kafka_producer *p2 = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, txid, &p2, es, sizeof(es)), OF_OK);
    if (p2) {
        TXN(of_kafka_txn_init(p2, 30000, &a_, es, sizeof(es)));
        of_kafka_txn_action a = OF_KAFKA_TXN_NONE;
        of_err rc = of_kafka_txn_begin(p, &a, es, sizeof(es));
        if (rc == OF_OK) {
            CHECK_INT(produce(p, t_out, OF_KAFKA_PARTITION_ANY, "k", "fenced", NULL), OF_OK);
            rc = of_kafka_txn_commit(p, 30000, &a, es, sizeof(es));
        }
        CHECK(rc != OF_OK);
        CHECK_INT(a, OF_KAFKA_TXN_FATAL);
        CHECK(of_kafka_producer_fatal(p, es, sizeof(es)));
        of_kafka_producer_destroy(p2);
    }
    of_kafka_consumer_destroy(c.c);
    of_kafka_producer_destroy(p);
}

/* m as a fresh member of group (manual commit; strict_offsets as given) subscribed to topics[0]. */
static bool strict_member(member *m, const of_kafka_config *cfg, const char *group, bool strict,
                          const char *const *topics)
{
    memset(m, 0, sizeof(*m));
    of_kafka_consumer_opts o = {.group_id = group,
                                .on_rebalance = on_rebalance,
                                .opaque = m,
                                .manual_commit = true,
                                .strict_offsets = strict};
    CHECK_INT(of_kafka_consumer_new(cfg, &o, &m->c, es, sizeof(es)), OF_OK);
    if (!m->c) return false;
    CHECK_INT(of_kafka_subscribe(m->c, topics, 1, es, sizeof(es)), OF_OK);
    return true;
}

/* strict_offsets: a fresh group starts at the beginning; a committed offset that no longer
 * exists (retention deleted it: here, one past the end) is an error, never a silent jump. */
static void test_strict_offsets(void)
{
    char topic[128], fresh[128], gone[128];
    name(topic, sizeof(topic), "strict");
    name(fresh, sizeof(fresh), "strict-fresh");
    name(gone, sizeof(gone), "strict-gone");
    of_kafka_config pcfg = config("strict-producer", false);
    of_kafka_topic_spec spec = {topic, 1, 1, NULL, 0};
    CHECK_INT(of_kafka_ensure_topics(&pcfg, &spec, 1, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&pcfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    for (int i = 0; i < 3; i++)
        CHECK_INT(produce(p, topic, 0, "k", "first", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer_destroy(p);

    of_kafka_config ccfg = config("strict", true);
    const char *topics[] = {topic};
    member m;
    if (!strict_member(&m, &ccfg, fresh, true, topics)) return;
    int64_t deadline = of_now_ms() + 60000;
    while (m.got < 3 && of_now_ms() < deadline)
        member_poll(&m, 200, NULL, 0);
    CHECK_INT(m.got_first, 3);
    of_kafka_consumer_destroy(m.c);

    /* commit an offset past the end for another group, as if the data were deleted */
    if (!strict_member(&m, &ccfg, gone, false, topics)) return;
    deadline = of_now_ms() + 60000;
    while (m.assigned < 1 && of_now_ms() < deadline)
        member_poll(&m, 200, NULL, 0);
    CHECK_INT(m.assigned, 1);
    CHECK_INT(of_kafka_store_offset(m.c, topic, 0, 1000, es, sizeof(es)), OF_OK);
    CHECK_INT(of_kafka_commit(m.c, es, sizeof(es)), OF_OK);
    of_kafka_consumer_destroy(m.c);

    if (!strict_member(&m, &ccfg, gone, true, topics)) return;
    deadline = of_now_ms() + 60000;
    of_err rc = OF_OK;
    int got = 0;
    while (rc != OF_ERR_STATE && of_now_ms() < deadline) {
        of_kafka_message *msg = NULL;
        rc = of_kafka_consumer_poll(m.c, 200, &msg, es, sizeof(es));
        if (msg) got++;
        of_kafka_message_free(msg);
    }
    CHECK_INT(rc, OF_ERR_STATE);
    CHECK_CONTAINS(es, "refusing to skip data");
    CHECK_INT(got, 0); /* nothing re-read from the beginning, nothing skipped silently */
    of_kafka_consumer_destroy(m.c);
}

/* A tail reads what is written after it opened, on every partition, and nothing before; a
 * topic that does not exist is OF_ERR_NOT_FOUND. */
static void test_tail(void)
{
    char topic[128], none[128];
    name(topic, sizeof(topic), "tail");
    name(none, sizeof(none), "tail-none");
    of_kafka_config pcfg = config("tail-producer", false);
    of_kafka_topic_spec spec = {topic, 3, 1, NULL, 0};
    CHECK_INT(of_kafka_ensure_topics(&pcfg, &spec, 1, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&pcfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    for (int32_t part = 0; part < 3; part++)
        CHECK_INT(produce(p, topic, part, "k", "first", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);

    of_kafka_config ccfg = config("tail", true);
    of_kafka_tail *t = NULL;
    CHECK_INT(of_kafka_tail_open(&ccfg, none, 5000, &t, es, sizeof(es)), OF_ERR_NOT_FOUND);
    CHECK(t == NULL);
    CHECK_INT(of_kafka_tail_open(&ccfg, topic, 30000, &t, es, sizeof(es)), OF_OK);
    if (!t) {
        of_kafka_producer_destroy(p);
        return;
    }
    for (int32_t part = 0; part < 3; part++)
        CHECK_INT(produce(p, topic, part, "k", "second", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    int first = 0, second = 0;
    int64_t deadline = of_now_ms() + 30000;
    while (second < 3 && of_now_ms() < deadline) {
        of_kafka_message *msg = NULL;
        if (of_kafka_tail_poll(t, 200, &msg, es, sizeof(es))) of_warn("tail: %s", es);
        if (!msg) continue;
        first += msg->value_len == 5 && memcmp(msg->value, "first", 5) == 0;
        second += msg->value_len == 6 && memcmp(msg->value, "second", 6) == 0;
        of_kafka_message_free(msg);
    }
    /* a little longer: nothing older shows up late */
    for (int i = 0; i < 5; i++) {
        of_kafka_message *msg = NULL;
        if (of_kafka_tail_poll(t, 200, &msg, es, sizeof(es)) == OF_OK && msg) first++;
        of_kafka_message_free(msg);
    }
    CHECK_INT(second, 3);
    CHECK_INT(first, 0);
    of_kafka_tail_destroy(t);
    of_kafka_producer_destroy(p);
}

/* Manual assignment (what `octofleet events` uses): the partition count, offsetsForTimes, assign
 * at offsets, BEGINNING and END, the end-of-partition callback, and positions committed for a
 * group that no member ever joined, read back by a later consumer. */
typedef struct eof_count {
    int eofs[2];
} eof_count;

static void on_eof(void *opaque, const char *topic, int32_t partition, int64_t offset)
{
    eof_count *e = opaque;
    (void)topic;
    (void)offset;
    if (partition >= 0 && partition < 2) e->eofs[partition]++;
}

/* Polls until both partitions reached their end; returns the messages read per partition. */
static void read_to_end(of_kafka_consumer *c, eof_count *e, int got[2])
{
    int64_t deadline = of_now_ms() + 60000;
    got[0] = got[1] = 0;
    e->eofs[0] = e->eofs[1] = 0;
    while ((!e->eofs[0] || !e->eofs[1]) && of_now_ms() < deadline) {
        of_kafka_message *msg = NULL;
        if (of_kafka_consumer_poll(c, 200, &msg, es, sizeof(es))) of_warn("poll: %s", es);
        if (msg && msg->partition >= 0 && msg->partition < 2) got[msg->partition]++;
        of_kafka_message_free(msg);
    }
    CHECK(e->eofs[0] > 0 && e->eofs[1] > 0);
}

static void test_manual_assign(void)
{
    char topic[128], group[128];
    name(topic, sizeof(topic), "assign");
    name(group, sizeof(group), "assign-group");
    of_kafka_config pcfg = config("assign-producer", false);
    of_kafka_topic_spec spec = {topic, 2, 1, NULL, 0};
    CHECK_INT(of_kafka_ensure_topics(&pcfg, &spec, 1, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&pcfg, NULL, &p, es, sizeof(es)), OF_OK);
    if (!p) return;
    for (int i = 0; i < 2; i++)
        CHECK_INT(produce(p, topic, 0, "k", "first", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    /* message timestamps are in ms: the later ones must carry a later one than t_mid */
    int64_t t_mid = of_wall_ms() + 1;
    while (of_wall_ms() <= t_mid) {
    }
    for (int i = 0; i < 2; i++)
        CHECK_INT(produce(p, topic, 0, "k", "second", NULL), OF_OK);
    CHECK_INT(produce(p, topic, 1, "k", "second", NULL), OF_OK);
    CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer_destroy(p);

    of_kafka_config ccfg = config("assign", true);
    eof_count e = {{0, 0}};
    of_kafka_consumer_opts o = {
        .group_id = group, .manual_commit = true, .on_eof = on_eof, .opaque = &e};
    of_kafka_consumer *c = NULL;
    CHECK_INT(of_kafka_consumer_new(&ccfg, &o, &c, es, sizeof(es)), OF_OK);
    if (!c) return;
    int n = 0;
    CHECK_INT(of_kafka_partition_count(c, topic, 30000, &n, es, sizeof(es)), OF_OK);
    CHECK_INT(n, 2);
    char missing[160];
    snprintf(missing, sizeof(missing), "%s-missing", topic);
    CHECK_INT(of_kafka_partition_count(c, missing, 30000, &n, es, sizeof(es)), OF_OK);
    CHECK_INT(n, 0);

    of_kafka_offset at[] = {{topic, 0, t_mid}, {topic, 1, t_mid}};
    CHECK_INT(of_kafka_offsets_for_times(c, at, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(at[0].offset, 2);
    CHECK_INT(at[1].offset, 0);
    of_kafka_offset later[] = {{topic, 0, of_wall_ms() + 3600000}};
    CHECK_INT(of_kafka_offsets_for_times(c, later, 1, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(later[0].offset, OF_KAFKA_OFFSET_END);

    int got[2];
    CHECK_INT(of_kafka_assign(c, at, 2, es, sizeof(es)), OF_OK);
    read_to_end(c, &e, got);
    CHECK_INT(got[0], 2);
    CHECK_INT(got[1], 1);
    of_kafka_offset begin_end[] = {{topic, 0, OF_KAFKA_OFFSET_BEGINNING},
                                   {topic, 1, OF_KAFKA_OFFSET_END}};
    CHECK_INT(of_kafka_assign(c, begin_end, 2, es, sizeof(es)), OF_OK);
    read_to_end(c, &e, got);
    CHECK_INT(got[0], 4);
    CHECK_INT(got[1], 0);

    /* positions kept under a group nobody joined, read back by another consumer */
    of_kafka_offset keep[] = {{topic, 0, 3}, {topic, 1, 1}};
    CHECK_INT(of_kafka_commit_offsets(c, keep, 2, es, sizeof(es)), OF_OK);
    of_kafka_consumer_destroy(c);
    c = NULL;
    CHECK_INT(of_kafka_consumer_new(&ccfg, &o, &c, es, sizeof(es)), OF_OK);
    if (!c) return;
    of_kafka_offset back[] = {{topic, 0, -1}, {topic, 1, -1}};
    CHECK_INT(of_kafka_committed(c, back, 2, 30000, es, sizeof(es)), OF_OK);
    CHECK_INT(back[0].offset, 3);
    CHECK_INT(back[1].offset, 1);
    of_kafka_consumer_destroy(c);
}

/* The consumer's wake fd (a worker sleeps on it beside Octopus's sockets): readable when a
 * message arrives at an empty queue, quiet once cleared and polled empty, readable again at the
 * next arrival; one fd per consumer. */
static void test_wake(void)
{
    char topic[128], group[128];
    name(topic, sizeof(topic), "wake");
    name(group, sizeof(group), "wake-group");
    of_kafka_config cfg = config("wake", false);
    of_kafka_topic_spec spec[] = {{topic, 1, 1, NULL, 0}};
    CHECK_INT(of_kafka_ensure_topics(&cfg, spec, 1, 30000, es, sizeof(es)), OF_OK);
    of_kafka_producer *p = NULL;
    CHECK_INT(of_kafka_producer_new(&cfg, NULL, &p, es, sizeof(es)), OF_OK);
    member m;
    if (!p || !member_new(&m, "wake", group, false)) {
        of_kafka_producer_destroy(p);
        return;
    }
    int fd = of_kafka_consumer_wake_fd(m.c, es, sizeof(es));
    CHECK(fd >= 0);
    CHECK_INT(of_kafka_consumer_wake_fd(m.c, es, sizeof(es)), fd);
    const char *topics[] = {topic};
    CHECK_INT(of_kafka_subscribe(m.c, topics, 1, es, sizeof(es)), OF_OK);
    /* The assignment itself comes through the queue, so it wakes the fd too. */
    int64_t deadline = of_now_ms() + 30000;
    while (m.assigned == 0 && of_now_ms() < deadline)
        if (readable(fd, 1000)) wake_drain(&m);
    CHECK_INT(m.assigned, 1);
    CHECK_INT(wake_drain(&m), 0);
    CHECK(!readable(fd, 0));

    for (int round = 0; round < 3; round++) {
        reports r = {0};
        CHECK_INT(produce(p, topic, 0, "k", "first", &r), OF_OK);
        CHECK_INT(produce(p, topic, 0, "k", "first", &r), OF_OK);
        CHECK_INT(of_kafka_flush(p, 30000, es, sizeof(es)), OF_OK);
        CHECK_INT(r.ok, 2);
        int got = 0;
        deadline = of_now_ms() + 30000;
        while (got < 2 && of_now_ms() < deadline) {
            CHECK(readable(fd, 30000));
            got += wake_drain(&m);
        }
        CHECK_INT(got, 2);
        CHECK(!readable(fd, 0));
    }
    CHECK_INT(m.got_first, 6);
    of_kafka_consumer_destroy(m.c);
    of_kafka_producer_destroy(p);
}

int main(void)
{
    int rc = of_test_read_bootstrap(bootstrap, sizeof(bootstrap));
    if (rc) return rc;
    snprintf(sfx, sizeof(sfx), "%d-%lld", (int)getpid(), (long long)of_wall_ms());
    name(t_jobs, sizeof(t_jobs), "jobs");
    name(t_state, sizeof(t_state), "state");
    name(t_in, sizeof(t_in), "txn-in");
    name(t_out, sizeof(t_out), "txn-out");
    of_info("broker=%s suffix=%s", bootstrap, sfx);

    test_ensure_topics();
    test_warm();
    test_group();
    test_transactions_visibility();
    test_transactions_offsets();
    test_strict_offsets();
    test_manual_assign();
    test_tail();
    test_wake();
    return TEST_DONE();
}
