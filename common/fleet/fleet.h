/* Glue between the configuration and the clients every daemon builds:
 * config -> Kafka client settings, config -> Octopus client settings, and the
 * fleet's topic set. No outside library is called here directly.
 *
 * Topics (names from topics.prefix, docs/messages.md):
 *   <prefix>requests   operator commands (submit, replay, resume, abort), key release id
 *   <prefix>jobs.sN    one per stage 1..topics.max_stages, key environment+tenant
 *   <prefix>events     CloudEvents, key release id
 *   <prefix>releases   compacted release/job state records
 *   <prefix>dlq        messages that could not be processed, with the reason */
#ifndef OF_FLEET_H
#define OF_FLEET_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "kafka.h"
#include "octo_hold.h"
#include "octopus.h"

#define OF_TOPIC_NAME_MAX 256

/* An of_kafka_config view of cfg->kafka. `kc` borrows strings from cfg (which must outlive
 * it) and from `props`, an array this struct owns; release with of_fleet_kafka_clear. */
typedef struct of_fleet_kafka {
    of_kafka_config kc;
    of_kafka_prop *props;
} of_fleet_kafka;

/* Fills out from cfg; mock (may be NULL) is the in-process mock cluster to use instead of
 * kafka.bootstrap_servers. client_id NULL = kafka.client_id. Borrowed: cfg, mock, client_id. */
OF_MUST_CHECK of_err of_fleet_kafka_init(of_fleet_kafka *out, const of_config *cfg,
                                         of_kafka_mock *mock, const char *client_id);
/* Frees what fk owns (props) and zeroes it; fk itself is the caller's. */
void of_fleet_kafka_clear(of_fleet_kafka *fk);
/* The worker consumer's librdkafka settings that differ from librdkafka's defaults
 * (docs/operations.md, "Group membership"), for a property list placed BEFORE kafka.properties
 * so that an operator's own value of the same key wins:
 *   max.poll.interval.ms     max_poll (worker.max_poll_interval, as a string);
 *   group.instance.id        instance_id, the worker's name, when it is stable (NULL: dynamic
 *                            membership, e.g. for the <hostname>-<pid> default name);
 *   session.timeout.ms       OF_FLEET_WORKER_SESSION_TIMEOUT_MS: how long a static member's
 *                            partitions wait for it to come back before moving;
 *   auto.commit.interval.ms  OF_FLEET_WORKER_COMMIT_INTERVAL_MS: how stale the committed offsets
 *                            of finished jobs can be when a worker dies.
 * Writes up to OF_FLEET_WORKER_PROPS entries to out and returns the count. Every string is
 * borrowed from the arguments or static. */
#define OF_FLEET_WORKER_PROPS              4
#define OF_FLEET_WORKER_SESSION_TIMEOUT_MS "30000"
#define OF_FLEET_WORKER_COMMIT_INTERVAL_MS "1000"
size_t of_fleet_worker_consumer_props(const char *max_poll, const char *instance_id,
                                      of_kafka_prop *out);

/* *out: kc with defs[0..n) placed before kc's own properties (kafka.properties), so that an
 * operator's value of the same key has the last word. The list goes to *props (the caller
 * frees it after the clients made from *out are gone); its strings stay borrowed from defs
 * and kc. OF_ERR_NOMEM, or OF_OK. */
OF_MUST_CHECK of_err of_fleet_props_before(const of_kafka_config *kc, const of_kafka_prop *defs,
                                           size_t n, of_kafka_prop **props, of_kafka_config *out);

/* The worker's event producer's librdkafka settings that differ from librdkafka's defaults,
 * for a list placed BEFORE kafka.properties (an operator's value of the same key wins):
 *   linger.ms  OF_FLEET_WORKER_LINGER_MS: while jobs are in flight, events gather for up to
 *              25 ms into one produce request (each request costs the worker's Kafka thread
 *              more than its messages; docs/benchmarks.md); a worker left with no job sends
 *              at once (worker.c, idle_flush), so a quiet stage's last event does not wait.
 * Writes up to OF_FLEET_WORKER_PRODUCER_PROPS entries to out and returns the count. */
#define OF_FLEET_WORKER_PRODUCER_PROPS 1
#define OF_FLEET_WORKER_LINGER_MS      "25"
size_t of_fleet_worker_producer_props(of_kafka_prop *out);

/* Fills every field of opts: the octopus.* settings from cfg->octopus, the rest from
 * of_octo_opts_default() (list_deadline_ms raised to octopus.retry_deadline when that is
 * longer). Strings are borrowed from cfg. api_key (may be NULL, borrowed)
 * overrides the key file / environment lookup: used by the demo and the tests, which own the
 * simulator's key; everything else leaves it NULL. */
void of_fleet_octo_opts(const of_config *cfg, const char *api_key, of_octo_opts *opts);

/* Creates every topic of the fleet that does not exist yet (requests, jobs.s1..max_stages,
 * events, releases with cleanup.policy=compact, dlq), with topics.partitions and
 * topics.replication_factor (requests, releases and dlq use at least 1 partition each but
 * the same count keeps ordering per key simple). */
OF_MUST_CHECK of_err of_fleet_ensure_topics(const of_config *cfg, const of_kafka_config *kc,
                                            int timeout_ms, char *errstr, size_t errstr_size);

/* The hold's settings (octo_hold.h) from cfg->octopus.hold_*. */
void of_fleet_hold_opts(const of_config *cfg, of_hold_opts *out);

#endif
