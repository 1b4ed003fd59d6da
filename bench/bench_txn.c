/* How long the producer's transactions take back to back, with librdkafka's retry.backoff.ms
 * (100) and with octofleet's default for a transactional client (OF_KAFKA_TXN_RETRY_BACKOFF_MS),
 * measured side by side on a real broker (figures in docs/benchmarks.md, "Transactions back to
 * back").
 *
 *   bench_txn BOOTSTRAP [--txns N] [--rounds R] [--against KEY=VALUE] [--gap MS]
 *
 * Each round runs, for each setting in turn, N transactions one right after the other, as the
 * producer's loop does under load: every other one produces one message and every one adds the
 * consumer group's offsets, so half are "offsets only" (the producer's batches of job.started
 * events). --against compares octofleet's client with the same client plus one librdkafka
 * property instead of retry.backoff.ms=100; --gap waits MS between transactions, for a lone
 * transaction on an idle client (a gate's decision after a quiet spell). It prints each
 * setting's p50 / p90 / max per kind of transaction and exits 0 when every transaction
 * committed. Not part of ctest: it needs a broker (tests/kafka/broker.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka.h"

#define ES 512
#define USAGE                                                                               \
    "usage: bench_txn BOOTSTRAP [--txns N] [--rounds R] [--against KEY=VALUE] [--gap MS]\n" \
    "  N transactions (>= 2, default 40) per setting and round, R rounds (default 3);\n"    \
    "  octofleet's transactional client against it with KEY=VALUE (default\n"               \
    "  retry.backoff.ms=100); MS milliseconds between transactions (default 0).\n"          \
    "  Exit 0 when every transaction committed, 1 on a Kafka error, 2 on bad arguments.\n"

typedef struct sample {
    int64_t *us;
    size_t n;
} sample;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile in milliseconds. */
static double pct_ms(sample *s, double q)
{
    if (!s->n) return 0;
    qsort(s->us, s->n, sizeof *s->us, cmp_i64);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->us[i] / 1e3;
}

static void on_rebalance(void *opaque, of_kafka_rebalance what, const of_kafka_partition *parts,
                         size_t n)
{
    (void)parts;
    if (what == OF_KAFKA_ASSIGNED) *(size_t *)opaque += n;
}

static int fail(const char *what, const char *es)
{
    fprintf(stderr, "bench_txn: %s: %s\n", what, es);
    return 1;
}

/* One setting: a transactional producer and a group consumer subscribed to topic. */
typedef struct setup {
    of_kafka_producer *p;
    of_kafka_consumer *c;
} setup;

static int setup_open(setup *s, const char *bootstrap, const of_kafka_prop *prop, const char *topic,
                      const char *id)
{
    char es[ES];
    of_kafka_config cfg = {bootstrap, "bench-txn", prop, prop ? 1 : 0, NULL};
    if (of_kafka_producer_new(&cfg, id, &s->p, es, sizeof es)) return fail("producer", es);
    of_kafka_txn_action a;
    if (of_kafka_txn_init(s->p, 30000, &a, es, sizeof es)) return fail("init_transactions", es);
    size_t assigned = 0;
    of_kafka_consumer_opts o = {
        .group_id = id, .manual_commit = true, .on_rebalance = on_rebalance, .opaque = &assigned};
    if (of_kafka_consumer_new(&cfg, &o, &s->c, es, sizeof es)) return fail("consumer", es);
    const char *topics[1] = {topic};
    if (of_kafka_subscribe(s->c, topics, 1, es, sizeof es)) return fail("subscribe", es);
    for (int64_t until = of_now_ms() + 30000; !assigned;) {
        of_kafka_message *m = NULL;
        if (of_now_ms() > until) return fail("subscribe", "no partition assigned in 30 s");
        if (of_kafka_consumer_poll(s->c, 100, &m, es, sizeof es) == OF_OK) of_kafka_message_free(m);
    }
    return 0;
}

static void setup_close(setup *s)
{
    char es[ES];
    if (s->c && of_kafka_consumer_close(s->c, es, sizeof es))
        fprintf(stderr, "bench_txn: closing a consumer: %s\n", es);
    of_kafka_consumer_destroy(s->c);
    of_kafka_producer_destroy(s->p);
}

/* n transactions gap_ms apart; the even ones produce a message. */
static int run(setup *s, const char *topic, int n, int gap_ms, int64_t *next_offset,
               sample *with_msg, sample *offsets_only)
{
    char es[ES];
    for (int i = 0; i < n; i++) {
        if (gap_ms) of_sleep_ms(gap_ms); /* pacing, not synchronisation */
        of_kafka_txn_action a = OF_KAFKA_TXN_NONE;
        int64_t t0 = of_now_us();
        if (of_kafka_txn_begin(s->p, &a, es, sizeof es)) return fail("begin", es);
        if (i % 2 == 0) {
            of_kafka_record rec = {topic, 0, "k", 1, "v", 1, NULL, 0};
            if (of_kafka_produce(s->p, &rec, NULL, NULL, es, sizeof es)) return fail("produce", es);
        }
        of_kafka_offset off = {topic, 0, ++*next_offset};
        if (of_kafka_txn_send_offsets(s->p, s->c, &off, 1, 30000, &a, es, sizeof es))
            return fail("send_offsets", es);
        if (of_kafka_txn_commit(s->p, -1, &a, es, sizeof es)) return fail("commit", es);
        sample *x = i % 2 == 0 ? with_msg : offsets_only;
        x->us[x->n++] = of_now_us() - t0;
    }
    return 0;
}

/* A count of at least min from s, or -1. */
static int count_arg(const char *s, int min)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= min && v <= 1000000 ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int txns = 40, rounds = 3, gap_ms = 0;
    const char *bootstrap = NULL, *against = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--txns") == 0 && i + 1 < argc)
            txns = count_arg(argv[++i], 2);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = count_arg(argv[++i], 1);
        else if (strcmp(argv[i], "--gap") == 0 && i + 1 < argc)
            gap_ms = count_arg(argv[++i], 0);
        else if (strcmp(argv[i], "--against") == 0 && i + 1 < argc)
            against = argv[++i];
        else if (strcmp(argv[i], "--help") == 0) {
            printf("%s", USAGE);
            return 0;
        } else if (argv[i][0] == '-' || bootstrap) {
            fprintf(stderr, "bench_txn: unexpected argument %s\n%s", argv[i], USAGE);
            return 2;
        } else
            bootstrap = argv[i];
    }
    char key[128] = "";
    const char *eq = against ? strchr(against, '=') : NULL;
    if (against && (!eq || eq == against || (size_t)(eq - against) >= sizeof key)) {
        fprintf(stderr, "bench_txn: --against wants KEY=VALUE, not %s\n%s", against, USAGE);
        return 2;
    }
    if (eq) memcpy(key, against, (size_t)(eq - against));
    if (!bootstrap || txns < 2 || rounds < 1 || gap_ms < 0) {
        fprintf(stderr, "%s", USAGE);
        return 2;
    }
    char topic[64], es[ES];
    (void)snprintf(topic, sizeof topic, "bench-txn-%lld", (long long)of_wall_ms());
    of_kafka_config cfg = {bootstrap, "bench-txn", NULL, 0, NULL};
    of_kafka_topic_spec spec = {topic, 1, 1, NULL, 0};
    if (of_kafka_ensure_topics(&cfg, &spec, 1, 30000, es, sizeof es)) return fail("topic", es);

    of_kafka_prop other = {"retry.backoff.ms", "100"};
    const char *other_name = "retry.backoff.ms=100 (librdkafka)";
    if (eq) {
        other.key = key;
        other.value = eq + 1;
        other_name = against;
    }
    const struct {
        const char *name;
        const of_kafka_prop *prop;
    } settings[2] = {{other_name, &other},
                     {"retry.backoff.ms=" OF_KAFKA_TXN_RETRY_BACKOFF_MS " (octofleet)", NULL}};
    setup s[2];
    memset(s, 0, sizeof s);
    sample with_msg[2], offsets_only[2];
    int rc = 0;
    int64_t next_offset = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        char id[96];
        (void)snprintf(id, sizeof id, "%s-%d", topic, k);
        rc = setup_open(&s[k], bootstrap, settings[k].prop, topic, id);
        with_msg[k].us = calloc((size_t)(txns * rounds), sizeof(int64_t));
        offsets_only[k].us = calloc((size_t)(txns * rounds), sizeof(int64_t));
        with_msg[k].n = offsets_only[k].n = 0;
        if (!with_msg[k].us || !offsets_only[k].us) rc = fail("memory", "out of memory");
    }
    /* alternate the settings within each round: the machine's noise hits both alike */
    for (int r = 0; r < rounds && !rc; r++)
        for (int k = 0; k < 2 && !rc; k++)
            rc = run(&s[k], topic, txns, gap_ms, &next_offset, &with_msg[k], &offsets_only[k]);
    if (!rc) {
        char how[48] = "back to back";
        if (gap_ms) (void)snprintf(how, sizeof how, "%d ms apart", gap_ms);
        printf("%d transactions %s x %d rounds per setting, alternating\n\n", txns, how, rounds);
        printf("| setting | with a message p50 / p90 / max | offsets only p50 / p90 / max |\n");
        printf("|---|---:|---:|\n");
        for (int k = 0; k < 2; k++)
            printf("| %s | %.1f / %.1f / %.1f ms | %.1f / %.1f / %.1f ms |\n", settings[k].name,
                   pct_ms(&with_msg[k], 0.5), pct_ms(&with_msg[k], 0.9), pct_ms(&with_msg[k], 1.0),
                   pct_ms(&offsets_only[k], 0.5), pct_ms(&offsets_only[k], 0.9),
                   pct_ms(&offsets_only[k], 1.0));
    }
    for (int k = 0; k < 2; k++) {
        setup_close(&s[k]);
        free(with_msg[k].us);
        free(offsets_only[k].us);
    }
    return rc;
}
