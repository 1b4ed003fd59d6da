/* The offset tracker: which offset may a worker commit when jobs finish out of order?
 *
 * Per partition, jobs start at increasing offsets (the order the consumer delivers them) and
 * complete in any order. The committable offset (the next offset to read, as Kafka commits it)
 * is the lowest offset still in flight if any job is in flight, else the highest completed
 * offset + 1 — Allegro Hermes' rule. Committing more would lose an unfinished job on a crash;
 * committing less only replays finished ones (which job ids make harmless).
 *
 *   t = of_offsets_new();
 *   on a job message:      of_offsets_begin(t, topic, part, off);
 *   when its event is delivered: of_offsets_done(t, topic, part, off);
 *   every poll turn:       of_offsets_take_all(t, store_cb, consumer) -> of_kafka_store_offset
 *   on revocation:         take the partition's offset and store it, then of_offsets_revoke;
 *   on loss:               of_offsets_revoke without storing.
 *
 * Pure C, no Kafka. Not thread-safe: owned by the thread that polls the consumer.
 * Cost: begin O(1) amortised, done O(log n) in the partition's in-flight count, memory
 * 9 bytes per offset between the lowest in-flight and the newest begun one. */
#ifndef OF_OFFSETS_H
#define OF_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct of_offsets of_offsets;

/* New empty tracker, freed with of_offsets_free. NULL when out of memory. */
of_offsets *of_offsets_new(void);
void of_offsets_free(of_offsets *t); /* NULL allowed */

/* A job starts at offset. Offsets of a partition must strictly increase between revocations
 * (gaps are fine: compaction, transaction markers): OF_ERR_INVALID otherwise, or for a negative
 * offset. OF_ERR_NOMEM when out of memory. topic is copied. */
OF_MUST_CHECK of_err of_offsets_begin(of_offsets *t, const char *topic, int32_t partition,
                                      int64_t offset);

/* The job at offset finished (its completion event is delivered). OF_ERR_NOT_FOUND when the
 * offset is not in flight: never begun, done already, or its partition was revoked meanwhile —
 * in that case the caller must not store any offset for it. */
OF_MUST_CHECK of_err of_offsets_done(of_offsets *t, const char *topic, int32_t partition,
                                     int64_t offset);

/* If the partition's committable offset moved past the last one taken, sets *offset to it,
 * remembers it as taken and returns true; otherwise returns false (also for an unknown
 * partition). The first begun offset counts as taken: before anything completes there is
 * nothing new to commit. */
bool of_offsets_committable(of_offsets *t, const char *topic, int32_t partition, int64_t *offset);

/* The partition's committable offset, taken or not. False for an unknown partition. */
bool of_offsets_peek(const of_offsets *t, const char *topic, int32_t partition, int64_t *offset);

/* Calls cb for every partition whose committable offset moved since it was last taken, and
 * takes it (as of_offsets_committable). topic is borrowed for the call. Returns how many. */
typedef void of_offsets_cb(void *opaque, const char *topic, int32_t partition, int64_t offset);
size_t of_offsets_take_all(of_offsets *t, of_offsets_cb *cb, void *opaque);

/* Forgets a partition (revoked or lost): its in-flight jobs no longer count, and later
 * of_offsets_done calls for them return OF_ERR_NOT_FOUND. Unknown partitions are ignored. */
void of_offsets_revoke(of_offsets *t, const char *topic, int32_t partition);

/* Jobs in flight (begun, not done) in one partition, and in all of them. */
size_t of_offsets_inflight(const of_offsets *t, const char *topic, int32_t partition);
size_t of_offsets_inflight_total(const of_offsets *t);

/* Number of partitions tracked. */
size_t of_offsets_partitions(const of_offsets *t);

#endif
