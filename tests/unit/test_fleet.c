/* common/fleet/fleet.c against the real broker: the fleet's topics are created with the operator's
 * topics.configs (the broker rejects a bad value, which proves they are sent), the releases
 * topic stays compacted even when topics.configs says cleanup.policy=delete, and creating
 * again is harmless. The broker address comes from $OF_TEST_KAFKA_BOOTSTRAP_FILE (exit 77
 * without it). */
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
    return TEST_DONE();
}
