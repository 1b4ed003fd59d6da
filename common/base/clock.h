/* Clocks and backoff. Monotonic time for deadlines, wall time for messages. */
#ifndef OF_CLOCK_H
#define OF_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC; only differences mean anything. */
int64_t of_now_ms(void);

/* Microseconds on CLOCK_MONOTONIC, for timing steps too short for of_now_ms. */
int64_t of_now_us(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t of_wall_ms(void);

/* Formats a wall-clock time in ms as RFC 3339 UTC with milliseconds,
 * "2026-11-26T02:30:00.123Z", into out (at least 25 bytes). Returns out. */
char *of_rfc3339(int64_t wall_ms, char *out, size_t out_size);

/* Parses an RFC 3339 / ISO 8601 timestamp ("2026-05-05T21:00:05+00:00",
 * "...Z", optional fraction) into ms since the epoch. Returns 0 or -1. */
int of_parse_rfc3339(const char *s, int64_t *out_ms);

/* Capped exponential backoff with full jitter: a delay in [base/2, min(cap, base*2^attempt)]
 * for attempt >= 0. `rnd` is a caller-owned PRNG state (xorshift), so tests are
 * deterministic and threads need no shared state. */
int64_t of_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rnd);

/* Sleeps ms milliseconds (EINTR resumes the rest). For backoff between retries; never use it
 * to wait for something that can be waited on. */
void of_sleep_ms(int64_t ms);

/* Why of_duration_parse refused a string. */
typedef enum {
    OF_DURATION_OK = 0,
    OF_DURATION_SYNTAX,  /* not <integer><unit>...: "30x", "1h30", "", "-5s" */
    OF_DURATION_NO_UNIT, /* digits alone, other than "0": "90" (90 what?) */
    OF_DURATION_RANGE,   /* the syntax is right but the value overflows 64-bit ms */
} of_duration_status;

/* The one duration syntax of the whole project (config files, environment overrides, requests):
 * one or more <integer><unit> with unit ms, s, m, h or d, e.g. "250ms", "90s", "1h30m", "2d".
 * Every non-zero duration names its unit: a bare "90" means 90 seconds to some readers and
 * 90 milliseconds to others, so it is refused (OF_DURATION_NO_UNIT) and the caller's message
 * says which unit to add; "0" alone is accepted. Writes milliseconds to *out_ms on success. */
of_duration_status of_duration_parse(const char *s, int64_t *out_ms);

/* xorshift64* step; state must be non-zero. */
uint64_t of_rand_next(uint64_t *state);

#endif
