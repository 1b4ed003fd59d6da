/* The worker daemon (`octofleet worker`): takes jobs from the stage topics, creates (or adopts)
 * their Octopus deployments, follows the server tasks and reports job.* CloudEvents.
 *
 * One thread does everything (docs/operations.md, "Workers"): it polls the Kafka consumer with a
 * short timeout, drives the Octopus client's multi interface, serves the producer's delivery
 * reports and fires timers. Many jobs are in flight at once (worker.max_in_flight). It notices
 * finished tasks from Octopus's event feed (worker.completion_source = events: one GET events
 * per worker.poll_interval, then one batched GET /api/tasks?ids=... of just the tasks the feed
 * names) with a full batched read of every in-flight task each worker.task_check_interval as
 * the safety net; or (poll) reads every in-flight task each poll_interval. When the table is
 * full the consumer is paused but still polled, so a deployment of any length never trips
 * max.poll.interval.ms.
 *
 * Delivery guarantee: a job's offset is stored only after its final event is delivered, and only
 * contiguously (worker/offsets.h), so a crash replays finished jobs at worst; a replayed job adopts
 * the deployment its attempt already created (the job id and attempt travel in Comments).
 *
 * No global state: several workers can run as threads of one process (the demo, the tests). */
#ifndef OF_WORKER_H
#define OF_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "kafka.h"
#include "signals.h"

/* What a run did, for tests, benchmarks and the final log line. */
typedef struct of_worker_stats {
    uint64_t messages;  /* job-topic messages consumed */
    uint64_t dlq;       /* malformed messages sent to <prefix>dlq */
    uint64_t created;   /* deployments this worker created */
    uint64_t adopted;   /* deployments found by job id + attempt and adopted */
    uint64_t succeeded; /* final events by type */
    uint64_t failed;
    uint64_t cancelled;
    uint64_t timed_out;
    uint64_t waiting;         /* job.waiting events */
    uint64_t dropped;         /* in-flight jobs dropped on revocation/loss/stop (no event) */
    uint64_t produce_retries; /* events/DLQ messages produced again after a failure */
    uint64_t poll_rounds;     /* batched task poll rounds completed */
    uint64_t poll_errors;     /* rounds that failed (the jobs stay, the next round retries) */
    uint64_t tasks_polled;    /* task states read, summed over rounds */
    uint64_t max_in_flight;   /* most jobs holding a slot at once */
    uint64_t pauses;          /* times the consumer was paused because the table was full */
    uint64_t octo_requests;   /* HTTP attempts made by the Octopus client (retries included) */
    uint64_t lookups;         /* batched adoption look-ups sent (each serves up to a chunk) */
    uint64_t feed_polls;      /* event feed reads (start positions included) */
    uint64_t feed_errors;     /* feed reads that failed (the safety net still runs) */
    uint64_t events_matched;  /* feed events that named one of our in-flight tasks */
    uint64_t feed_events;     /* events the feed's polls returned (ours and, unfiltered, others') */
    uint64_t feed_filtered;   /* feed polls that asked only for our tasks (regardingAny) */
    uint64_t net_rounds;      /* full rounds of every in-flight task */
    uint64_t net_found;       /* finishes or waits the full round found before the feed did */
    uint64_t holds;           /* times the worker held: Octopus misbehaving (octopus.hold_*) */
    uint64_t requeued;        /* jobs put back instead of failed (held, or a passing error) */
} of_worker_stats;

typedef struct of_worker_opts {
    const of_config *cfg; /* borrowed; outlives the run */
    of_kafka_mock *mock;  /* NULL = cfg->kafka.bootstrap_servers */
    const char *api_key;  /* NULL = octopus.api_key_file / OCTOPUS_API_KEY; borrowed */
    const char *name;     /* NULL = of_config_worker_name(); borrowed */
    /* NULL = security.fleet_key_file / OCTOFLEET_FLEET_KEY (none: authentication off) */
    const char *fleet_key;
    of_stop_flag *stop;     /* borrowed; set it to ask for a drain and return. NULL = never */
    of_worker_stats *stats; /* optional; filled when the run returns (also on error) */
} of_worker_opts;

/* Runs the worker until *opts->stop is set, then drains: stops taking jobs, follows in-flight
 * ones until they finish or worker.drain_timeout passes, stores and commits the offsets of
 * finished ones, leaves the group (others take over the rest), flushes the producer and returns
 * OF_OK. Returns early with an error when the clients cannot be set up at start:
 * OF_ERR_CONFIG (bad settings, no API key), or the error of the service that cannot be used
 * (Octopus unreachable/refusing: OF_ERR_NETWORK, OF_ERR_AUTH, ...; Kafka: OF_ERR_KAFKA,
 * OF_ERR_TIMEOUT), with the reason in errstr; or when the consumer hits a fatal error
 * (OF_ERR_STATE). Bad jobs and Octopus failures never end the run: they become job.failed
 * events or DLQ messages. Never exits the process. */
OF_MUST_CHECK of_err of_worker_run(const of_worker_opts *opts, char *errstr, size_t errstr_size);

/* The Comments a job's deployment carries, and the key that finds it again, are in
 * common/codec/msg.h (of_job_comments, of_job_dedupe_key): the producer's resume uses them too. */

#endif
