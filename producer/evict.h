/* When the producer forgets a finished release (producer.release_retention). Pure: no clock,
 * no Kafka; producer_state.c asks it and writes the tombstones.
 *
 * A release is evicted when it has ended (completed or aborted: a paused or running one
 * still waits for an operator or for jobs), none of its jobs is still in flight (an aborted
 * release's running tasks still hold task budget slots and still report), and its state
 * has not changed for the retention. Rejected requests never become a release in memory,
 * so there is nothing of them to evict. docs/gating.md ("Eviction") has the records. */
#ifndef OF_EVICT_H
#define OF_EVICT_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

/* True when a release in status st, with in_flight jobs still dispatched, started or
 * waiting, whose state last changed at changed_ms (wall clock), is due for eviction at
 * now_ms under retention_ms (0: as soon as it has ended). A change time in the future (a
 * clock stepped back) counts as now: the release is kept a whole retention more. */
bool of_evict_due(of_release_status st, bool in_flight, int64_t changed_ms, int64_t now_ms,
                  int64_t retention_ms);

/* How often the producer looks for releases to evict under retention_ms: a tenth of it,
 * between 1 s and 60 s, so a release is evicted at most ~10 % (or a minute) late and a
 * short retention is still honoured promptly. */
int64_t of_evict_interval_ms(int64_t retention_ms);

#endif
