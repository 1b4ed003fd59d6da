/* The message guard: what octofleet lets onto its topics and what it believes from them.
 *
 * Two duties, both about messages rather than any one daemon:
 * - the size budget: the largest value octofleet produces, derived once from the configured
 *   librdkafka message.max.bytes and the topics' max.message.bytes, so every message we write
 *   fits (a DLQ copy of an oversized input is cut to fit, with its original size and SHA-256 in
 *   headers; see docs/reliability.md);
 * - message authentication (optional): with a fleet key, every message octofleet writes to
 *   requests, jobs and events carries an HMAC-SHA256 in the `octofleet-auth` header, and the
 *   producer (commands, events) and the workers (jobs) refuse messages whose tag is missing or
 *   wrong. The tag covers the topic name, the key and the value, so a signed message copied to
 *   another topic, or with another key, does not verify.
 *
 * This module is the only user of libcrypto. A guard is immutable after creation and may be
 * shared by threads. The fleet key is a secret like the API key: read from a file or the
 * environment, never from argv, never logged, wiped on free. */
#ifndef OF_GUARD_H
#define OF_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

/* Kafka header carrying a message's authentication tag: "v1:" + 64 lowercase hex digits. */
#define OF_GUARD_AUTH_HEADER "octofleet-auth"
#define OF_GUARD_TAG_SIZE    (3 + 64 + 1)
/* Environment variable read when security.fleet_key_file is empty. */
#define OF_GUARD_KEY_ENV "OCTOFLEET_FLEET_KEY"
/* A fleet key shorter than this is refused (HMAC keys should carry 128 bits or more). */
#define OF_GUARD_KEY_MIN 16

/* librdkafka's default message.max.bytes and Kafka's default max.message.bytes. */
#define OF_KAFKA_MESSAGE_MAX_DEFAULT 1000000
#define OF_TOPIC_MESSAGE_MAX_DEFAULT 1048588
/* Kept out of the budget for the key, the headers (a DLQ copy's reason is at most
 * OF_GUARD_REASON_MAX) and Kafka's record framing. */
#define OF_GUARD_RESERVE 8192
/* The longest DLQ reason header we write. */
#define OF_GUARD_REASON_MAX 1024
/* A release request must leave this much of the budget free: its state record carries the
 * request plus the release header. */
#define OF_GUARD_REQUEST_HEADROOM (64 * 1024)

/* DLQ headers added to a copy that had to be cut. */
#define OF_DLQ_HDR_ORIGINAL_SIZE   "octofleet-original-size"
#define OF_DLQ_HDR_ORIGINAL_SHA256 "octofleet-original-sha256"

#define OF_SHA256_HEX_SIZE 65

typedef struct of_guard of_guard;

/* The largest value (bytes) octofleet produces under cfg: min(message.max.bytes from
 * kafka.properties, max.message.bytes from topics.configs, their defaults) minus
 * OF_GUARD_RESERVE. Unparsable numbers count as the defaults (config.c validates them). */
size_t of_guard_budget_for(const of_config *cfg);

/* Creates a guard for cfg: the budget above, and the fleet key from the file named by
 * cfg->security.fleet_key_file, else the environment variable OCTOFLEET_FLEET_KEY, else no
 * key (authentication off). key_override (may be NULL, borrowed) replaces both: the demo and the
 * tests. Errors: OF_ERR_CONFIG for a key that is too short or holds control characters, the
 * file errors of of_secret_load (OF_ERR_IO, OF_ERR_TOO_LARGE); messages never hold the key.
 * *out is a new guard the caller frees with of_guard_free. */
of_err of_guard_new(const of_config *cfg, const char *key_override, of_guard **out, char *errstr,
                    size_t errstr_size);
/* A guard with an explicit budget (0 = the defaults') and key (NULL = none): tests. */
of_err of_guard_new_raw(size_t budget, const char *key, of_guard **out, char *errstr,
                        size_t errstr_size);
/* Wipes the key and frees. NULL-safe. */
void of_guard_free(of_guard *g);

size_t of_guard_budget(const of_guard *g);
/* The largest release request (compact JSON) the fleet accepts: the budget less
 * OF_GUARD_REQUEST_HEADROOM (or half the budget, for budgets below twice that). */
size_t of_guard_request_max(const of_guard *g);
bool of_guard_auth_on(const of_guard *g);

/* Writes the tag of (topic, key, value) into out ("v1:<hex>"); out[0] = '\0' when
 * authentication is off. key and value may be NULL with length 0. */
void of_guard_sign(const of_guard *g, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t value_len, char out[OF_GUARD_TAG_SIZE]);

/* Checks a message's tag (tag NULL: the message had no OF_GUARD_AUTH_HEADER). OF_OK when
 * authentication is off or the tag matches (constant-time compare); OF_ERR_AUTH with the reason
 * ("no octofleet-auth header", "authentication tag does not match") otherwise. */
of_err of_guard_verify(const of_guard *g, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, const void *tag, size_t tag_len,
                       char *errstr, size_t errstr_size);

/* How many bytes of a value_len-byte input a DLQ copy with a key_len-byte key keeps: all of it
 * when key and value fit the budget, else what does. */
size_t of_guard_dlq_keep(const of_guard *g, size_t key_len, size_t value_len);

/* SHA-256 of data as 64 lowercase hex digits plus NUL. */
void of_sha256_hex(const void *data, size_t len, char out[OF_SHA256_HEX_SIZE]);

#endif
