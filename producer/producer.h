/* The producer daemon (`octofleet producer`): the fleet's only decision maker.
 *
 * It consumes operator commands from <prefix>requests and job events from <prefix>events
 * (its own consumer group, producer.group_id, manual commit), turns each into decisions
 * with the release's stage gate (producer/gate.h), and writes the decisions out:
 *   - jobs to <prefix>jobs.s<stage>, key "<environment id>/<tenant id or ->";
 *   - CloudEvents to <prefix>events, key release id, header content-type;
 *   - state records (release + changed jobs) to the compacted <prefix>releases topic;
 *   - the consumed offsets (last offset + 1 per partition),
 * all in ONE Kafka transaction per batch of consumed messages (up to 500 messages or 100 ms).
 * Everything that talks to Octopus (resolving a submitted request, reconciling failed jobs
 * before a resume, cancelling tasks on abort) happens before the transaction begins.
 *
 * State lives on Kafka only: at start-up, after of_kafka_txn_init has fenced any previous
 * instance with the same producer.transactional_id and aborted its open transaction, the
 * producer reads the whole state topic (read_committed) and rebuilds every gate. If a
 * transaction must be aborted, the in-memory gates are dropped and rebuilt the same way and
 * the consumer is recreated at the group's committed offsets. If the producer is fenced by a
 * newer instance, of_producer_run returns an error.
 *
 * Run exactly one producer per fleet (per transactional id and group): a replacement started
 * with the same transactional id takes over and fences the old one.
 *
 * docs/operations.md ("Producer") is the operator's view. */
#ifndef OF_PRODUCER_H
#define OF_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "kafka.h"
#include "signals.h"

typedef struct of_producer_opts {
    const of_config *cfg; /* borrowed, outlives the run; role producer (octopus.url set) */
    of_kafka_mock *mock;  /* NULL = cfg->kafka.bootstrap_servers; borrowed */
    const char *api_key;  /* NULL = octopus.api_key_file / OCTOPUS_API_KEY; borrowed */
    /* NULL = security.fleet_key_file / OCTOFLEET_FLEET_KEY (none: authentication off);
     * borrowed */
    const char *fleet_key;
    of_stop_flag *stop; /* borrowed; set it to ask for a drain and return */
} of_producer_opts;

/* Runs the producer until *opts->stop is set (then finishes the current batch, commits it,
 * closes the consumer, flushes and returns OF_OK) or a fatal error:
 *   OF_ERR_CONFIG   bad settings (Kafka properties, no API key, bad Octopus URL);
 *   OF_ERR_NETWORK / OF_ERR_AUTH / OF_ERR_TIMEOUT / OF_ERR_NOT_FOUND
 *                   Octopus could not be used at start-up (of_octo_connect);
 *   OF_ERR_KAFKA    Kafka could not be used at start-up, or the transactional producer became
 *                   unusable;
 *   OF_ERR_STATE    fenced: another producer with the same transactional id took over;
 *   OF_ERR_NOMEM.
 * errstr says what happened. Never calls exit(). Not reentrant per opts: run one producer per
 * opts (the stop flag and ready counter belong to it). */
OF_MUST_CHECK of_err of_producer_run(const of_producer_opts *opts, char *errstr,
                                     size_t errstr_size);

#endif
