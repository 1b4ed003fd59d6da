/* ofmonitor: what both daemons share for monitoring (docs/monitoring.md): the metrics
 * registry, the HTTP endpoints (GET /metrics, /healthz, /readyz through common/httpd), the
 * metrics every daemon has (build info, uptime, loop heartbeat, events produced, delivery
 * failures, DLQ, Kafka lag and rebalances, Octopus requests) and the readiness flags.
 *
 * Off is NULL: of_monitor_start with an empty address gives *out == NULL, and every function
 * here takes a NULL monitor as a no-op (of_monitor_metrics returns NULL, on which every
 * ofmetrics call is a no-op too). So the daemons call it unconditionally.
 *
 * Threads: the daemon's loop thread makes every call; the HTTP thread renders and reads the
 * readiness flags (atomics). Ownership: the monitor owns its registry and server;
 * of_monitor_stop frees both. */
#ifndef OF_MONITOR_H
#define OF_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kafka.h"
#include "metrics.h"
#include "model.h"
#include "octopus.h"

typedef struct of_monitor of_monitor;

/* How often librdkafka reports statistics (consumer lag) while metrics are on. */
#define OF_MONITOR_STATS_INTERVAL_MS 5000
/* /healthz fails when the loop has not turned for this long. */
#define OF_MONITOR_HEALTH_MAX_AGE_MS 30000

/* Starts the endpoints on listen ("host:port"; "" or NULL: off, *out = NULL, OF_OK) for daemon
 * ("producer" or "worker", the build_info label) and logs "metrics listening on <address>".
 * OF_ERR_CONFIG when the address is malformed or cannot be bound (in use, not local), with the
 * reason in errstr; OF_ERR_NOMEM; OF_ERR_IO. */
OF_MUST_CHECK of_err of_monitor_start(const char *listen, const char *daemon, of_monitor **out,
                                      char *errstr, size_t errstr_size);
/* Stops the endpoints and frees everything. NULL: no-op. */
void of_monitor_stop(of_monitor *m);

/* The registry, for the daemon's own metrics (borrowed, valid until stop); NULL when off. */
of_metrics *of_monitor_metrics(of_monitor *m);
/* The bound address ("127.0.0.1:41234"); "" when off. */
const char *of_monitor_address(const of_monitor *m);

/* The loop turned (heartbeat for /healthz and octofleet_loop_last_iteration_timestamp_seconds).
 * An atomic store: call it every turn. */
void of_monitor_loop(of_monitor *m);

/* Readiness. The daemon's state is loaded (the producer after reading the state topic; false
 * while it rebuilds). Starts true: a worker has no state to load. */
void of_monitor_state_loaded(of_monitor *m, bool loaded);
/* A rebalance callback: counts octofleet_kafka_rebalances_total{kind} and keeps the count of
 * assigned partitions (the group is "joined" while it is above 0). */
void of_monitor_rebalance(of_monitor *m, of_kafka_rebalance what, size_t n);

/* An event the daemon produced was delivered (octofleet_events_produced_total{type}). */
void of_monitor_event_produced(of_monitor *m, of_event_type type);
/* A produce failed for good (octofleet_kafka_delivery_failures_total{topic_kind}); topic_kind
 * is one of jobs, events, state, dlq, commands. */
void of_monitor_delivery_failed(of_monitor *m, const char *topic_kind);
/* A message went to the DLQ (octofleet_dlq_messages_total{source}): requests, jobs, events. */
void of_monitor_dlq(of_monitor *m, const char *source);

/* The Octopus client's observer (of_octo_opts.observer, opaque = the monitor): request
 * counts, durations, retries, 429/503, and Octopus reachability for /readyz. */
void of_monitor_octo_attempt(void *opaque, const of_octo_attempt_info *info);
/* The daemon holds (octofleet_octopus_held; common/octopus/octo_hold.h) or not. */
void of_monitor_octo_held(of_monitor *m, bool held);
/* The consumer's lag callback (of_kafka_consumer_opts.on_lag, opaque = the monitor): replaces
 * octofleet_kafka_consumer_lag with the partitions reported. */
void of_monitor_kafka_lag(void *opaque, const of_kafka_lag *lags, size_t n);

/* The /readyz answer: true, or false with a one-line reason in why. For tests and the
 * handler. */
bool of_monitor_ready(of_monitor *m, char *why, size_t why_size);

#endif
