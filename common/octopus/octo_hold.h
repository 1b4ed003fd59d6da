/* The hold: when Octopus misbehaves (docs/reliability.md, "Hold, not fail"), the fleet stops
 * creating deployments instead of failing jobs, probes Octopus, and goes on by itself once it
 * answers again.
 *
 * This module only judges; it is pure (no I/O, the caller passes the monotonic clock) so one
 * member's decision can be replayed in a table test. Each daemon keeps one: it reports every
 * finished HTTP attempt of its Octopus client (of_hold_attempt, from the client's observer),
 * asks of_hold_check once per loop turn, sends a probe (a cheap GET /api/) whenever
 * of_hold_probe_due says so and reports the probe's outcome (of_hold_probed).
 *
 * Rules (octopus.hold_* in the config table)
 * - an attempt is a failure when it had no reply (connection error, timeout), or its status
 *   was 408 or 5xx; a throttle when the status was 429; anything else counts as answered;
 * - over the last `window_ms` (a ring of OF_HOLD_BUCKETS buckets, so memory does not grow with
 *   the request rate), once at least `min_requests` attempts ended: failures >= error_pct % of
 *   them, or throttles >= throttle_pct % of them, hold (a percentage of 0 turns that test off);
 * - held: a probe is due every `probe_interval_ms`; a probe that gets a 2xx ends the hold and
 *   clears the window (the failures that caused it are history, not a reason to hold again);
 *   one that fails keeps it. Ordinary requests never end a hold: only the probe does, so the
 *   end is one clear decision.
 *
 * Not thread-safe: owned by the daemon's loop thread. */
#ifndef OF_OCTO_HOLD_H
#define OF_OCTO_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OF_HOLD_BUCKETS 30

typedef struct of_hold_opts {
    int error_pct;             /* octopus.hold_error_percent: 0 = never hold for failures */
    int throttle_pct;          /* octopus.hold_throttle_percent: 0 = never hold for 429s */
    int64_t window_ms;         /* octopus.hold_window (> 0) */
    int min_requests;          /* octopus.hold_min_requests (>= 1) */
    int64_t probe_interval_ms; /* octopus.hold_probe_interval (> 0) */
} of_hold_opts;

typedef struct of_hold_bucket {
    int64_t start_ms; /* the bucket's slot start; -1 unused */
    uint32_t total, failed, throttled;
} of_hold_bucket;

/* Value type: of_hold_init fills it, nothing to free. */
typedef struct of_hold {
    of_hold_opts o;
    int64_t width_ms; /* a bucket's span: window / OF_HOLD_BUCKETS, at least 1 */
    of_hold_bucket b[OF_HOLD_BUCKETS];
    bool held;
    int64_t held_since_ms; /* monotonic */
    int64_t last_probe_ms; /* monotonic: the last probe sent */
    bool probe_out;        /* a probe is outstanding */
    uint64_t holds;        /* holds so far: a new hold's sequence number */
    char reason[200];      /* why the current (or last) hold started */
} of_hold;

void of_hold_init(of_hold *h, const of_hold_opts *o);

/* An attempt ended at now_ms with this HTTP status (0: no reply). */
void of_hold_attempt(of_hold *h, long status, int64_t now_ms);

/* Judges the window at now_ms: true when this call started a hold (then of_hold_reason says
 * why). A held tracker stays held here. */
bool of_hold_check(of_hold *h, int64_t now_ms);

/* Held (or watching: a member with little traffic of its own, the producer, probes to have
 * something to judge), no probe outstanding and the interval since the last probe passed:
 * true, and the probe counts as sent (the caller sends it now and reports it with
 * of_hold_probed). */
bool of_hold_probe_due(of_hold *h, bool watching, int64_t now_ms);

/* The probe's outcome: ok = a 2xx. True when this ended the hold. */
bool of_hold_probed(of_hold *h, bool ok, int64_t now_ms);

bool of_hold_held(const of_hold *h);
/* "Octopus failing: 9 of 12 requests in the last 30 s failed (5xx, timeout or connection
 * error)"; borrowed, valid until the next call that changes h. "" before any hold. */
const char *of_hold_reason(const of_hold *h);

/* Counts over the window at now_ms (for logs and tests); any pointer may be NULL. */
void of_hold_counts(const of_hold *h, int64_t now_ms, uint32_t *total, uint32_t *failed,
                    uint32_t *throttled);

#endif
