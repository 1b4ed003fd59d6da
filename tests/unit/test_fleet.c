/* common/fleet/fleet.c against the real broker: the fleet's topics are created with the operator's
 * topics.configs (the broker rejects a bad value, which proves they are sent), the releases
 * topic stays compacted even when topics.configs says cleanup.policy=delete, and creating
 * again is harmless; a worker's event producer lingers 25 ms unless kafka.properties says
 * otherwise. The broker address comes from $OF_TEST_KAFKA_BOOTSTRAP_FILE (exit 77 without
 * it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fleet.h"
#include "test.h"

static char bootstrap[256];

/* Creates the fleet's topics under a fresh prefix with the given topics.configs entries. */
static of_err ensure(const char *const *configs, size_t n, char *errstr, size_t errstr_size)
{
    char prefix[96];
    static int seq;
    snprintf(prefix, sizeof(prefix), "fleet-%ld-%lld-%d.", (long)getpid(), (long long)of_wall_ms(),
             ++seq);
    of_config cfg;
    CHECK_INT(of_config_defaults(&cfg, errstr, errstr_size), OF_OK);
    CHECK_INT(of_config_set(&cfg, "kafka.bootstrap_servers", bootstrap, errstr, errstr_size),
              OF_OK);
    CHECK_INT(of_config_set(&cfg, "topics.prefix", prefix, errstr, errstr_size), OF_OK);
    CHECK_INT(of_config_set(&cfg, "topics.max_stages", "2", errstr, errstr_size), OF_OK);
    CHECK_INT(of_config_set(&cfg, "topics.partitions", "2", errstr, errstr_size), OF_OK);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(of_config_set(&cfg, "topics.configs", configs[i], errstr, errstr_size), OF_OK);
    of_fleet_kafka fk;
    CHECK_INT(of_fleet_kafka_init(&fk, &cfg, NULL, "test-fleet"), OF_OK);
    of_err rc = of_fleet_ensure_topics(&cfg, &fk.kc, 30000, errstr, errstr_size);
    if (rc == OF_OK) /* a second time: every topic exists, nothing to do */
        rc = of_fleet_ensure_topics(&cfg, &fk.kc, 30000, errstr, errstr_size);
    of_fleet_kafka_clear(&fk);
    of_config_clear(&cfg);
    return rc;
}

/* The worker event producer's defaults go before kafka.properties: the operator's value wins. */
static void worker_producer_defaults(void)
{
    static const struct {
        const char *kafka_property; /* NULL: none */
        const char *name, *want;
    } cases[] = {
        {NULL, "linger.ms", OF_FLEET_WORKER_LINGER_MS},
        {"linger.ms=3", "linger.ms", "3"},
        {"queue.buffering.max.ms=7", "linger.ms", "7"}, /* librdkafka's alias, later in the list */
        {"batch.num.messages=100", "linger.ms", OF_FLEET_WORKER_LINGER_MS},
        {NULL, "enable.idempotence", "true"},
    };
    char errstr[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_config cfg;
        CHECK_INT(of_config_defaults(&cfg, errstr, sizeof errstr), OF_OK);
        CHECK_INT(of_config_set(&cfg, "kafka.bootstrap_servers", bootstrap, errstr, sizeof errstr),
                  OF_OK);
        if (cases[i].kafka_property)
            CHECK_INT(of_config_set(&cfg, "kafka.properties", cases[i].kafka_property, errstr,
                                    sizeof errstr),
                      OF_OK);
        of_fleet_kafka fk;
        CHECK_INT(of_fleet_kafka_init(&fk, &cfg, NULL, "test-fleet"), OF_OK);
        of_kafka_prop defs[OF_FLEET_WORKER_PRODUCER_PROPS];
        size_t n = of_fleet_worker_producer_props(defs);
        of_kafka_prop *props = NULL;
        of_kafka_config kc;
        CHECK_INT(of_fleet_props_before(&fk.kc, defs, n, &props, &kc), OF_OK);
        CHECK_INT(kc.nprops, n + fk.kc.nprops);
        of_kafka_producer *p = NULL;
        CHECK_INT(of_kafka_producer_new(&kc, NULL, &p, errstr, sizeof errstr), OF_OK);
        char v[64] = "";
        if (p) CHECK_INT(of_kafka_producer_conf_get(p, cases[i].name, v, sizeof v), OF_OK);
        CHECK_STR(v, cases[i].want);
        of_kafka_producer_destroy(p);
        free(props);
        of_fleet_kafka_clear(&fk);
        of_config_clear(&cfg);
    }
}

int main(void)
{
    int skip = of_test_read_bootstrap(bootstrap, sizeof(bootstrap));
    if (skip) return skip;
    char errstr[1024] = "";

    static const char *const none[] = {NULL};
    CHECK_INT(ensure(none, 0, errstr, sizeof(errstr)), OF_OK);

    /* retention, and a cleanup.policy that must not reach the compacted releases topic (a
     * duplicate or a delete policy there would break the producer's state) */
    static const char *const good[] = {"retention.ms=1209600000", "cleanup.policy=delete",
                                       "min.insync.replicas=1"};
    errstr[0] = '\0';
    CHECK_INT(ensure(good, 3, errstr, sizeof(errstr)), OF_OK);
    if (errstr[0]) fprintf(stderr, "good configs: %s\n", errstr);

    /* a value the broker refuses: the configs are really sent, and the error says so */
    static const char *const bad[] = {"retention.ms=not-a-number"};
    errstr[0] = '\0';
    of_err rc = ensure(bad, 1, errstr, sizeof(errstr));
    CHECK(rc != OF_OK);
    CHECK_CONTAINS(errstr, "retention.ms");
    worker_producer_defaults();
    return TEST_DONE();
}
