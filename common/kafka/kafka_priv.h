/* Internals shared by common/kafka*.c. Not for use outside the Kafka module: this is the only
 * header besides those files that includes librdkafka. */
#ifndef OF_KAFKA_PRIV_H
#define OF_KAFKA_PRIV_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka.h"

struct of_kafka_mock {
    rd_kafka_t *rk; /* dummy handle that owns the mock cluster's thread */
    rd_kafka_mock_cluster_t *mc;
    char *bootstraps; /* owned copy */
    int nbrokers;
};

/* Installs the log callback (to of_log) and the error callback on conf. */
void ofk_conf_callbacks(rd_kafka_conf_t *conf);

/* The consumer's librdkafka handle (borrowed), for transactions' group metadata. */
rd_kafka_t *ofk_consumer_handle(of_kafka_consumer *c);

/* Creates a conf with the log/error callbacks, bootstrap servers (or the mock's), client.id,
 * then `defaults`, then cfg->props in that order (later wins). *out is owned by the caller until
 * handed to rd_kafka_new. */
OF_MUST_CHECK of_err ofk_conf_new(rd_kafka_type_t type, const of_kafka_config *cfg,
                                  const of_kafka_prop *defaults, size_t ndefaults,
                                  rd_kafka_conf_t **out, char *errstr, size_t errstr_size);

/* True when a pass-through property only means something to the other kind of client
 * (librdkafka CONFIGURATION.md marks it C or P): such a property from cfg->props is left
 * out of that handle instead of making librdkafka warn at every start. */
bool ofk_prop_foreign(rd_kafka_type_t type, const char *key);

/* rd_kafka_conf_set with an error that names the key (and hides values of secret-looking keys). */
OF_MUST_CHECK of_err ofk_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                                  char *errstr, size_t errstr_size);

/* rd_kafka_new that takes ownership of *conf (set to NULL) in every case. */
OF_MUST_CHECK of_err ofk_new(rd_kafka_type_t type, rd_kafka_conf_t **conf, rd_kafka_t **out,
                             char *errstr, size_t errstr_size);

/* Maps a librdkafka error to our enum (timeouts, transport, state, else OF_ERR_KAFKA). */
OF_MUST_CHECK of_err ofk_err(rd_kafka_resp_err_t err);

/* THE classification of librdkafka error codes into transient (the broker or the coordinator is
 * restarting, loading, moving, electing a leader, or a request timed out: try again shortly)
 * and everything else (permanent for the caller: fail now). Every retry loop of the module asks
 * this function and nothing else. */
bool ofk_err_transient(rd_kafka_resp_err_t err);

/* A retry budget for one call: a deadline, an attempt counter and a PRNG for the jitter. */
typedef struct ofk_retry {
    const char *client; /* for log lines; borrowed */
    const char *what;   /* "committed", "create topics" ...; borrowed */
    int64_t start;
    int64_t deadline;
    int attempt; /* failed attempts so far */
    uint64_t rnd;
} ofk_retry;

/* Starts a budget of timeout_ms (at least one attempt is always made). */
void ofk_retry_init(ofk_retry *r, const char *client, const char *what, int timeout_ms);

/* Milliseconds left before the deadline, 0 when it passed (capped to fit an int). */
int ofk_retry_left(const ofk_retry *r);

/* Call after a failed attempt. When err is transient and the deadline allows another attempt,
 * logs one warning (what, the error, attempt number, the delay) and waits a capped exponential
 * backoff with jitter (200 ms doubling up to 5 s, never past the deadline), then returns true:
 * try again. Otherwise returns false, and when err was transient appends to errstr (which must
 * already hold the failure) how long and how often it was tried. */
bool ofk_retry_again(ofk_retry *r, rd_kafka_resp_err_t err, char *errstr, size_t errstr_size);

/* Builds a partition list from n offsets (offset copied) or partitions (offset unset). New list
 * owned by the caller, or NULL on allocation failure. */
rd_kafka_topic_partition_list_t *ofk_list_from_offsets(const of_kafka_offset *offs, size_t n);

/* Converts a list to an array of borrowed partitions (topics point into the list). New array the
 * caller frees; NULL when the list is empty or on allocation failure (check list->cnt). */
of_kafka_partition *ofk_parts_from_list(const rd_kafka_topic_partition_list_t *list);

/* Wraps a consumed rd_kafka message (taking ownership) in a new of_kafka_message. On allocation
 * failure destroys rkm and returns NULL. */
of_kafka_message *ofk_message_wrap(rd_kafka_message_t *rkm);

/* Fills a stack of_kafka_message view of rkm (borrowed) without allocating. */
void ofk_message_view(rd_kafka_message_t *rkm, of_kafka_message *out);

/* A consumer for assign() only (a unique group id never joined, nothing committed,
 * read_committed; enable.partition.eof as eof), set to be polled with
 * rd_kafka_consumer_poll. kind ("reader", "tail") goes into the group id. *out is new. */
OF_MUST_CHECK of_err ofk_reader_new(const of_kafka_config *cfg, const char *kind, bool eof,
                                    rd_kafka_t **out, char *errstr, size_t errstr_size);
/* Milliseconds until deadline (of_now_ms clock), 0 when it passed, capped to fit an int. */
int ofk_remaining_ms(int64_t deadline);
/* Looks up topic's partition count into *nparts: 0 (and OF_OK) when the topic does not exist.
 * Retries a topic just created until deadline. */
OF_MUST_CHECK of_err ofk_topic_partitions(rd_kafka_t *rk, const char *topic, int64_t deadline,
                                          int *nparts, char *errstr, size_t errstr_size);
/* Low and high watermarks of one partition, asking again through the transient states of a
 * topic just created until deadline. */
OF_MUST_CHECK of_err ofk_watermarks(rd_kafka_t *rk, const char *topic, int32_t p, int64_t deadline,
                                    int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size);
#endif
