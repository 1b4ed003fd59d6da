/* The Kafka module: octofleet's only door to librdkafka.
 *
 * No other file includes <librdkafka/rdkafka.h>; daemons hold decisions, this module holds the
 * library calls, so a librdkafka upgrade touches common/kafka*.c only. Written against
 * librdkafka 2.0.2 (Debian 12) and brokers >= Kafka 4.0.1 (docs/kafka-testing.md says why).
 *
 * Conventions:
 * - Every fallible function returns an of_err and writes detail to errstr (may be NULL when
 *   errstr_size is 0). librdkafka's own words are kept in errstr.
 * - No global state: each handle (producer, consumer, mock) is independent, so several daemons
 *   can run as threads in one process. Unless a function says otherwise, a handle is used from
 *   one thread at a time; of_kafka_produce may be called from any thread.
 * - Configuration strings are borrowed for the duration of the call that takes them; handles copy
 *   what they keep.
 * - librdkafka's log lines and error events go to of_log with `kafka client=<name>` context.
 */
#ifndef OF_KAFKA_H
#define OF_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct of_kafka_mock of_kafka_mock;
typedef struct of_kafka_producer of_kafka_producer;
typedef struct of_kafka_consumer of_kafka_consumer;

/* Partition value meaning "let the partitioner choose from the key". */
#define OF_KAFKA_PARTITION_ANY (-1)
/* Offset value meaning "no offset" (nothing committed yet, unknown). */
#define OF_KAFKA_OFFSET_NONE (-1)
/* Start positions for of_kafka_assign other than an absolute offset: the partition's first
 * message, and its end (only messages written from then on). */
#define OF_KAFKA_OFFSET_BEGINNING (-2)
#define OF_KAFKA_OFFSET_END       (-3)

/* ------------------------------------------------------------------------------------------ */
/* Transient broker states */

/* A broker that restarts, a coordinator that loads or moves, a leader election: these are
 * transient, and every call below that talks to the cluster (of_kafka_ensure_topics,
 * of_kafka_committed, of_kafka_commit, of_kafka_subscribe, of_kafka_txn_init) retries them by
 * itself, with capped exponential backoff and jitter, logging one warning per retry, until its
 * deadline; then it fails saying what it kept meeting. Anything else (authorisation, a bad
 * argument, an unknown group member, fencing) fails at once. The classification lives in one
 * place, the module's ofk_err_transient.
 *
 * OF_KAFKA_STARTUP_DEADLINE_MS is the timeout_ms daemons pass to their start-up calls: long
 * enough for a single broker to restart and load its coordinators (seconds to tens of seconds),
 * short enough that a wrong address or a dead cluster is reported while someone is looking. */
#define OF_KAFKA_STARTUP_DEADLINE_MS 60000
/* How long of_kafka_commit keeps retrying transient coordinator errors. */
#define OF_KAFKA_COMMIT_RETRY_MS 10000

/* ------------------------------------------------------------------------------------------ */
/* Configuration */

/* One librdkafka property ("security.protocol", "SASL_SSL"). Both strings borrowed. */
typedef struct of_kafka_prop {
    const char *key;
    const char *value;
} of_kafka_prop;

/* Shared by every handle of a daemon. All pointers are borrowed for the duration of the call
 * that receives the config (handles keep copies, not the pointers). */
typedef struct of_kafka_config {
    /* "host:port[,host:port...]"; required unless mock is set. */
    const char *bootstrap_servers;
    /* client.id, shown in broker logs and in our log lines; NULL means "octofleet". */
    const char *client_id;
    /* Pass-through librdkafka properties, applied after this module's defaults so operators can
     * tune anything (TLS/SASL, timeouts). A bad key or value is OF_ERR_CONFIG naming the key. */
    const of_kafka_prop *props;
    size_t nprops;
    /* Optional in-process mock cluster (demo, unit tests): its bootstrap servers replace
     * bootstrap_servers, and of_kafka_ensure_topics creates topics on it directly because the
     * 2.0.2 mock has no Admin API. Borrowed: must outlive every handle made with this config. */
    of_kafka_mock *mock;
} of_kafka_config;

/* Checks one pass-through property the way a handle would apply it, without making a handle:
 * sets it on a throwaway librdkafka configuration, then destroys that. For the config loader,
 * so a typo fails at load time with the file's line rather than when a daemon starts. Both
 * strings borrowed. OF_OK, or OF_ERR_CONFIG with "unknown librdkafka property 'x'" or
 * "librdkafka property 'x': <librdkafka's reason>" in errstr (the value is never quoted when
 * the name contains password, secret or key); OF_ERR_NOMEM. plugin.library.paths is accepted
 * unchecked, since setting it would load the plugin; producer-only and consumer-only
 * properties are both accepted. Thread-safe. */
OF_MUST_CHECK of_err of_kafka_prop_check(const char *key, const char *value, char *errstr,
                                         size_t errstr_size);

/* ------------------------------------------------------------------------------------------ */
/* Messages and headers */

/* A header to produce. name is a NUL-terminated string; value may hold any bytes (NULL with
 * value_len 0 means a null header value). Borrowed for the duration of the produce call. */
typedef struct of_kafka_header {
    const char *name;
    const void *value;
    size_t value_len;
} of_kafka_header;

/* A consumed message. Every pointer is borrowed and valid until of_kafka_message_free (or, for
 * messages handed to an of_kafka_message_cb, until the callback returns). */
typedef struct of_kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the message has no key */
    size_t key_len;
    const void *value; /* NULL for a tombstone (compacted topics) */
    size_t value_len;
    int64_t timestamp_ms; /* -1 when the broker did not give one */
    void *priv_;          /* the module's; do not touch */
} of_kafka_message;

/* Looks up the last header called name. Returns true and sets *value and *value_len (borrowed like
 * the message; *value may be NULL for a null header) if present, false otherwise. */
bool of_kafka_message_header(const of_kafka_message *msg, const char *name, const void **value,
                             size_t *value_len);

/* Number of headers, and the idx-th one (0-based, in wire order). header_at returns false when
 * idx is out of range. All outputs are borrowed like the message. */
size_t of_kafka_message_header_count(const of_kafka_message *msg);
bool of_kafka_message_header_at(const of_kafka_message *msg, size_t idx, const char **name,
                                const void **value, size_t *value_len);

/* Frees a message returned by of_kafka_consumer_poll. NULL is allowed. */
void of_kafka_message_free(of_kafka_message *msg);

/* A topic partition, and one with an offset (the next offset to read, as Kafka commits it). */
typedef struct of_kafka_partition {
    const char *topic;
    int32_t partition;
} of_kafka_partition;

typedef struct of_kafka_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;
} of_kafka_offset;

/* ------------------------------------------------------------------------------------------ */
/* Producer */

typedef enum of_kafka_persisted {
    OF_KAFKA_NOT_PERSISTED = 0,      /* certainly not written: safe to produce again */
    OF_KAFKA_POSSIBLY_PERSISTED = 1, /* timed out in flight: may be in the log (dedupe!) */
    OF_KAFKA_PERSISTED = 2,          /* acknowledged by the broker */
} of_kafka_persisted;

/* A delivery report. Every pointer is borrowed for the duration of the callback. */
typedef struct of_kafka_delivery {
    of_err err;          /* OF_OK once the broker acknowledged the message */
    const char *errname; /* librdkafka's error name ("MSG_SIZE_TOO_LARGE"), "NO_ERROR" on OK */
    const char *errstr;  /* human description */
    const char *topic;
    int32_t partition;
    int64_t offset; /* -1 unless delivered */
    of_kafka_persisted persisted;
    /* The same bytes can never be written (message too large, invalid record, topic
     * authorization, invalid topic): producing them again is pointless (of_kafka_permanent). */
    bool permanent;
} of_kafka_delivery;

/* Called once per message that was given a callback, from the thread that calls
 * of_kafka_producer_poll, of_kafka_flush, of_kafka_producer_destroy, or of_kafka_produce (which
 * serves reports while the local queue is full). Must not destroy the producer. */
typedef void of_kafka_delivery_cb(void *opaque, const of_kafka_delivery *report);

/* A message to produce. All pointers borrowed for the call (the data is copied). */
typedef struct of_kafka_record {
    const char *topic;
    int32_t partition; /* OF_KAFKA_PARTITION_ANY: choose from the key */
    const void *key;   /* may be NULL */
    size_t key_len;
    const void *value; /* may be NULL (tombstone) */
    size_t value_len;
    const of_kafka_header *headers; /* may be NULL when nheaders is 0 */
    size_t nheaders;
} of_kafka_record;

/* retry.backoff.ms of a transactional producer unless cfg->props sets it (kafka.c says why). */
#define OF_KAFKA_TXN_RETRY_BACKOFF_MS "10"

/* Creates an idempotent producer (enable.idempotence=true unless cfg->props overrides it).
 * With transactional_id non-NULL it is transactional (and retries after
 * OF_KAFKA_TXN_RETRY_BACKOFF_MS): call of_kafka_txn_init once, and produce only inside
 * of_kafka_txn_begin / _commit. On success *out is a new producer the caller
 * destroys with of_kafka_producer_destroy. */
OF_MUST_CHECK of_err of_kafka_producer_new(const of_kafka_config *cfg, const char *transactional_id,
                                           of_kafka_producer **out, char *errstr,
                                           size_t errstr_size);

/* Learns the partitions and leaders of the topics p is about to write (names borrowed) with one
 * metadata request, and keeps them known for p's life. Without it the first message to each
 * topic waits for librdkafka to look the topic up, and a transaction's commit with it: 0.2-0.8 s
 * per stage topic in the first release after a producer starts (docs/benchmarks.md, "The first
 * release after a start"). Best effort: on failure an error, and in errstr the request's reason
 * or each topic's ("name (reason)"); such topics are looked up on their first message. */
#define OF_KAFKA_WARM_TIMEOUT_MS 10000 /* of_kafka_producer_warm at a daemon's start */
OF_MUST_CHECK of_err of_kafka_producer_warm(of_kafka_producer *p, const char *const *topics,
                                            size_t n, int timeout_ms, char *errstr,
                                            size_t errstr_size);

/* True for a produce error that retrying cannot fix: OF_ERR_TOO_LARGE (message.max.bytes,
 * max.message.bytes), OF_ERR_AUTH (topic authorization), OF_ERR_INVALID (invalid record or
 * topic). Used on of_kafka_produce's return; delivery reports carry `permanent`. */
bool of_kafka_permanent(of_err err);

/* Queues one message. on_delivery (may be NULL) is called with opaque exactly once when the
 * message is acknowledged or fails for good; it is not called when this function fails. When
 * the local queue is full it serves delivery reports for up to 10 s before giving up with
 * OF_ERR_TIMEOUT. Thread-safe. */
OF_MUST_CHECK of_err of_kafka_produce(of_kafka_producer *p, const of_kafka_record *rec,
                                      of_kafka_delivery_cb *on_delivery, void *opaque, char *errstr,
                                      size_t errstr_size);

/* Serves delivery reports (calls the callbacks), waiting up to timeout_ms for the first one.
 * Returns the number of events served. Call it regularly (e.g. every loop turn with 0). */
int of_kafka_producer_poll(of_kafka_producer *p, int timeout_ms);

/* Waits up to timeout_ms until every queued message is delivered or failed, serving delivery
 * reports. OF_ERR_TIMEOUT (with the count left in errstr) if some are still outstanding. */
OF_MUST_CHECK of_err of_kafka_flush(of_kafka_producer *p, int timeout_ms, char *errstr,
                                    size_t errstr_size);

/* Messages queued or in flight (not yet reported). */
int of_kafka_producer_outq_len(of_kafka_producer *p);

/* True (and the reason in errstr) once the producer hit a fatal error (fenced, idempotence
 * broken): it must be destroyed and recreated. */
bool of_kafka_producer_fatal(of_kafka_producer *p, char *errstr, size_t errstr_size);

/* The value librdkafka uses for the producer's property `name`, copied into out (NUL-terminated).
 * OF_ERR_NOT_FOUND for an unknown name, OF_ERR_TOO_LARGE when out is too small. For tests and
 * diagnostics: what a default or a kafka.properties entry made of it. */
OF_MUST_CHECK of_err of_kafka_producer_conf_get(of_kafka_producer *p, const char *name, char *out,
                                                size_t out_size);

/* Destroys the producer. Messages still queued are purged first and their delivery callbacks run
 * (with an error) before this returns, so no callback opaque leaks; call of_kafka_flush before
 * if they should be delivered. NULL is allowed. */
void of_kafka_producer_destroy(of_kafka_producer *p);

/* Transactions (reference §5.2). Each call returns OF_OK or an error plus, in *action (may be
 * NULL), what the caller must do next:
 *   OF_KAFKA_TXN_RETRY  retriable (timeout, coordinator moving): call the same function again;
 *   OF_KAFKA_TXN_ABORT  the transaction failed: of_kafka_txn_abort, rewind the input to the
 *                       last committed offsets, start a new transaction;
 *   OF_KAFKA_TXN_FATAL  the producer is unusable (fenced by a newer instance with the same
 *                       transactional.id, or anything unclassified): destroy it.
 * timeout_ms of -1 means librdkafka's default (the remaining transaction time), which is what
 * librdkafka recommends for commit and abort. */
typedef enum of_kafka_txn_action {
    OF_KAFKA_TXN_NONE = 0,
    OF_KAFKA_TXN_RETRY,
    OF_KAFKA_TXN_ABORT,
    OF_KAFKA_TXN_FATAL,
} of_kafka_txn_action;

/* of_kafka_txn_init classifies transient broker states (ofk_err_transient: coordinator loading
 * or moving, a broker restarting) as OF_KAFKA_TXN_RETRY even where librdkafka does not flag them
 * retriable; callers retry until their start-up deadline (OF_KAFKA_STARTUP_DEADLINE_MS). */
OF_MUST_CHECK of_err of_kafka_txn_init(of_kafka_producer *p, int timeout_ms,
                                       of_kafka_txn_action *action, char *errstr,
                                       size_t errstr_size);
OF_MUST_CHECK of_err of_kafka_txn_begin(of_kafka_producer *p, of_kafka_txn_action *action,
                                        char *errstr, size_t errstr_size);
/* Adds the consumer's group offsets (offset = next to read) to the transaction. The consumer
 * must have been created with manual_commit (librdkafka requires auto commit off). */
OF_MUST_CHECK of_err of_kafka_txn_send_offsets(of_kafka_producer *p, of_kafka_consumer *c,
                                               const of_kafka_offset *offsets, size_t n,
                                               int timeout_ms, of_kafka_txn_action *action,
                                               char *errstr, size_t errstr_size);
OF_MUST_CHECK of_err of_kafka_txn_commit(of_kafka_producer *p, int timeout_ms,
                                         of_kafka_txn_action *action, char *errstr,
                                         size_t errstr_size);
OF_MUST_CHECK of_err of_kafka_txn_abort(of_kafka_producer *p, int timeout_ms,
                                        of_kafka_txn_action *action, char *errstr,
                                        size_t errstr_size);

/* ------------------------------------------------------------------------------------------ */
/* Consumer */

typedef enum of_kafka_rebalance {
    OF_KAFKA_ASSIGNED, /* partitions now ours (incremental delta with cooperative-sticky) */
    OF_KAFKA_REVOKED,  /* partitions leaving: still ours during the callback, so offsets can be
                          stored or committed for them */
    OF_KAFKA_LOST,     /* partitions already lost (session expired): another member may own
                          them, so never commit for them */
} of_kafka_rebalance;

/* Tells the application about assignment changes. Called from of_kafka_consumer_poll and
 * of_kafka_consumer_close on the polling thread; parts (borrowed for the call) is never empty.
 * The module has already done the assign/unassign bookkeeping: on ASSIGNED the partitions are
 * assigned (and paused if the consumer is paused); on REVOKED/LOST they are removed right after
 * the callback returns. */
typedef void of_kafka_rebalance_cb(void *opaque, of_kafka_rebalance what,
                                   const of_kafka_partition *parts, size_t n);

/* A partition's end was reached: offset is the next offset that will be written. Called on
 * the polling thread; topic borrowed for the call. opaque is of_kafka_consumer_opts.opaque. */
typedef void of_kafka_eof_cb(void *opaque, const char *topic, int32_t partition, int64_t offset);
/* Consumer lag of one assigned partition, from librdkafka's statistics: the end of the
 * partition (read_committed: the last stable offset) minus the furthest of the application's
 * position and the committed offset; for a partition nothing was consumed from or committed
 * for yet, everything from its start. */
typedef struct of_kafka_lag {
    const char *topic;
    int32_t partition;
    int64_t lag;
} of_kafka_lag;

/* Called with the lag of every partition the consumer currently fetches (n may be 0), each
 * statistics interval, from of_kafka_consumer_poll on the polling thread. lags is borrowed
 * for the call. */
typedef void of_kafka_lag_cb(void *opaque, const of_kafka_lag *lags, size_t n);

typedef struct of_kafka_consumer_opts {
    const char *group_id; /* required */
    /* partition.assignment.strategy: NULL = "cooperative-sticky"; "roundrobin" (eager: every
     * rebalance revokes and reassigns every partition). Borrowed for the call. */
    const char *assignor;
    /* Optional assignment hook and its argument. */
    of_kafka_rebalance_cb *on_rebalance;
    void *opaque;
    /* false (default): enable.auto.commit=true, i.e. offsets stored with of_kafka_store_offset
     * are committed every auto.commit.interval.ms and on revocation.
     * true: nothing is committed except by of_kafka_commit (or a transaction). */
    bool manual_commit;
    /* true: never skip data. A partition whose committed offset no longer exists (deleted by
     * retention before it was read) makes of_kafka_consumer_poll fail with OF_ERR_STATE
     * instead of jumping silently (auto.offset.reset=error); partitions without a committed
     * offset start at the beginning. For consumers whose input is state (the producer). */
    bool strict_offsets;
    /* Optional: called from of_kafka_consumer_poll each time a partition's end is reached
     * (enable.partition.eof; with read_committed the end is the last stable offset, so it is
     * reached even past transaction markers, which an offset comparison would wait for). */
    of_kafka_eof_cb *on_eof;
    /* Monitoring: with stats_interval_ms > 0, librdkafka's statistics are turned on at that
     * interval (statistics.interval.ms) and on_lag (with opaque) is told each partition's lag.
     * 0 (default): no statistics, no cost. */
    int stats_interval_ms;
    of_kafka_lag_cb *on_lag;
} of_kafka_consumer_opts;

/* Creates a group consumer with partition.assignment.strategy=cooperative-sticky,
 * enable.auto.offset.store=false, isolation.level=read_committed, auto.offset.reset=earliest
 * (cfg->props may override any of them). *out is a new consumer the caller destroys. */
OF_MUST_CHECK of_err of_kafka_consumer_new(const of_kafka_config *cfg,
                                           const of_kafka_consumer_opts *opts,
                                           of_kafka_consumer **out, char *errstr,
                                           size_t errstr_size);

/* Subscribes to topics (replacing any previous subscription). A name starting with '^' is a
 * regular expression. Strings borrowed for the call. Joining the group happens in the
 * background: transient coordinator states met there are retried by librdkafka and show up as
 * OF_ERR_KAFKA from of_kafka_consumer_poll. */
OF_MUST_CHECK of_err of_kafka_subscribe(of_kafka_consumer *c, const char *const *topics, size_t n,
                                        char *errstr, size_t errstr_size);

/* Waits up to timeout_ms for one message; serves rebalance callbacks meanwhile. Results:
 *   OF_OK, *out set       a message; free it with of_kafka_message_free;
 *   OF_OK, *out NULL      nothing arrived in time;
 *   OF_ERR_KAFKA          a consumer error event (broker down, unknown topic, poll interval
 *                         exceeded ...): the consumer keeps working, log it and poll again;
 *   OF_ERR_STATE          a fatal error: close and recreate;
 *   OF_ERR_CONFIG         fenced: another member of the group joined with the same
 *                         group.instance.id (static membership). Recreating would fence that
 *                         one in turn, so this is a configuration error: do not retry.
 * Keep calling it even while paused: that keeps the group membership alive. */
OF_MUST_CHECK of_err of_kafka_consumer_poll(of_kafka_consumer *c, int timeout_ms,
                                            of_kafka_message **out, char *errstr,
                                            size_t errstr_size);

/* A file descriptor that becomes readable when something arrives for of_kafka_consumer_poll (a
 * message, a rebalance, an error) while nothing was waiting, so one loop can sleep on it beside
 * its other I/O instead of taking turns with fixed timeouts. Created on the first call, owned by
 * c (closed by of_kafka_consumer_destroy); -1 with errstr when it cannot be made. The protocol:
 * of_kafka_consumer_wake_clear, then of_kafka_consumer_poll with timeout 0 until it returns
 * nothing (or the loop stops taking messages); only an arrival after that wakes the fd again. */
int of_kafka_consumer_wake_fd(of_kafka_consumer *c, char *errstr, size_t errstr_size);
/* Empties the wake fd's pipe (see of_kafka_consumer_wake_fd); a no-op without one. */
void of_kafka_consumer_wake_clear(of_kafka_consumer *c);

/* Pauses / resumes fetching for the whole current assignment. The state sticks: partitions
 * assigned while paused are paused too (and resumed ones stay resumed), because librdkafka
 * does not re-apply an application's pause on reassignment. */
OF_MUST_CHECK of_err of_kafka_consumer_pause(of_kafka_consumer *c, char *errstr,
                                             size_t errstr_size);
OF_MUST_CHECK of_err of_kafka_consumer_resume(of_kafka_consumer *c, char *errstr,
                                              size_t errstr_size);
bool of_kafka_consumer_paused(const of_kafka_consumer *c);
/* Pauses (pause) or resumes fetching for the partitions of one topic, now and whenever they
 * are assigned again; a partition is fetched only while neither the whole consumer nor its topic
 * is paused. topic is copied. */
OF_MUST_CHECK of_err of_kafka_consumer_pause_topic(of_kafka_consumer *c, const char *topic,
                                                   bool pause, char *errstr, size_t errstr_size);

/* Number of partitions currently assigned. */
size_t of_kafka_consumer_assignment_count(of_kafka_consumer *c);

/* Stores offset (the next offset to read: last processed + 1) for a partition, to be committed
 * by auto commit or of_kafka_commit. OF_ERR_STATE if the partition is not assigned to us
 * (revoked meanwhile): the job's completion must then not count. */
OF_MUST_CHECK of_err of_kafka_store_offset(of_kafka_consumer *c, const char *topic,
                                           int32_t partition, int64_t offset, char *errstr,
                                           size_t errstr_size);

/* Commits the stored offsets now and waits for the result (shutdown, manual_commit).
 * Nothing stored is not an error. Transient coordinator errors are retried for up to
 * OF_KAFKA_COMMIT_RETRY_MS; REBALANCE_IN_PROGRESS (OF_ERR_STATE) is not: the caller must poll
 * so the consumer can rejoin, then commit again. */
OF_MUST_CHECK of_err of_kafka_commit(of_kafka_consumer *c, char *errstr, size_t errstr_size);

/* Reads the group's committed offsets for offs[i].topic/partition into offs[i].offset
 * (OF_KAFKA_OFFSET_NONE where nothing is committed). Transient errors (NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS, a broker restarting ...) are retried until timeout_ms, which
 * bounds the whole call. */
OF_MUST_CHECK of_err of_kafka_committed(of_kafka_consumer *c, of_kafka_offset *offs, size_t n,
                                        int timeout_ms, char *errstr, size_t errstr_size);

/* ---- Manual assignment: a reader outside any group rebalance ----
 *
 * A consumer that uses of_kafka_assign instead of of_kafka_subscribe never joins its group, so
 * no session can time out and no rebalance can hand its partitions back at an old position (a
 * process stopped past session.timeout.ms keeps reading where it was). The group id then only
 * names where of_kafka_commit_offsets keeps positions and where of_kafka_committed reads them:
 * Kafka accepts such commits while no member has joined the group by subscribing. Do not mix
 * both on one consumer. */

/* The number of partitions of topic into *n: 0 (and OF_OK) when the topic does not exist.
 * Transient states right after a topic's creation are asked again until timeout_ms. */
OF_MUST_CHECK of_err of_kafka_partition_count(of_kafka_consumer *c, const char *topic,
                                              int timeout_ms, int *n, char *errstr,
                                              size_t errstr_size);

/* For each offs[i], whose offset holds a time in ms since the epoch on the way in: the
 * earliest offset whose message timestamp is at or after that time, or OF_KAFKA_OFFSET_END
 * when the partition holds none yet (ListOffsets, librdkafka's offsetsForTimes). Transient
 * errors are retried until timeout_ms. */
OF_MUST_CHECK of_err of_kafka_offsets_for_times(of_kafka_consumer *c, of_kafka_offset *offs,
                                                size_t n, int timeout_ms, char *errstr,
                                                size_t errstr_size);

/* Replaces the consumer's assignment with offs (absolute offsets, OF_KAFKA_OFFSET_BEGINNING or
 * OF_KAFKA_OFFSET_END); fetching starts there. A start offset that no longer exists (retention)
 * follows auto.offset.reset (earliest unless strict_offsets). Local: no broker round trip. */
OF_MUST_CHECK of_err of_kafka_assign(of_kafka_consumer *c, const of_kafka_offset *offs, size_t n,
                                     char *errstr, size_t errstr_size);

/* Commits offs (the next offset to read, per partition) for the consumer's group now and waits
 * for the result; transient coordinator errors are retried for up to OF_KAFKA_COMMIT_RETRY_MS.
 * For a manually assigned consumer; also a subscribed one may use it for its own partitions. */
OF_MUST_CHECK of_err of_kafka_commit_offsets(of_kafka_consumer *c, const of_kafka_offset *offs,
                                             size_t n, char *errstr, size_t errstr_size);

/* True (and the reason in errstr) once the consumer hit a fatal error. */
bool of_kafka_consumer_fatal(of_kafka_consumer *c, char *errstr, size_t errstr_size);

/* Leaves the group: revokes the assignment (the rebalance callback runs), commits stored offsets
 * when auto commit is on, closes. Idempotent. A static member (group.instance.id set) does not
 * send LeaveGroup (KIP-345, and librdkafka 2.0.2 has no way to force it): its partitions stay
 * assigned to its instance id until it rejoins or session.timeout.ms passes. */
OF_MUST_CHECK of_err of_kafka_consumer_close(of_kafka_consumer *c, char *errstr,
                                             size_t errstr_size);

/* Closes (if not closed) and frees. NULL is allowed. */
void of_kafka_consumer_destroy(of_kafka_consumer *c);

/* ------------------------------------------------------------------------------------------ */
/* Reading a whole topic */

/* Called for each message; msg is borrowed for the call. Returning anything but OF_OK stops the
 * read, and of_kafka_read_topic returns that code. */
typedef of_err of_kafka_message_cb(void *opaque, const of_kafka_message *msg);

/* Reads every partition of topic from the beginning up to its end as of the start of the call
 * (committed data only: read_committed), calling on_message in offset order per partition.
 * Uses its own short-lived consumer without a group commit. A topic that does not exist reads
 * as empty. *count (may be NULL) receives the number of messages. OF_ERR_TIMEOUT when the end
 * is not reached within timeout_ms. For rebuilding state from a compacted topic and for dumps. */
OF_MUST_CHECK of_err of_kafka_read_topic(const of_kafka_config *cfg, const char *topic,
                                         int timeout_ms, of_kafka_message_cb *on_message,
                                         void *opaque, size_t *count, char *errstr,
                                         size_t errstr_size);

/* ------------------------------------------------------------------------------------------ */
/* Tailing a topic from now on (kafka_tail.c) */

typedef struct of_kafka_tail of_kafka_tail;

/* Opens a reader of every partition of topic from its end as of this call (committed data only:
 * read_committed), without a group: what is written after the call is read, nothing written
 * before. The CLI opens one before it sends a command, so no earlier event can pass for the
 * answer. OF_ERR_NOT_FOUND when the topic does not exist; OF_ERR_TIMEOUT past timeout_ms. *out
 * is a new tail the caller destroys with of_kafka_tail_destroy. */
OF_MUST_CHECK of_err of_kafka_tail_open(const of_kafka_config *cfg, const char *topic,
                                        int timeout_ms, of_kafka_tail **out, char *errstr,
                                        size_t errstr_size);
/* Waits up to timeout_ms for the next message: OF_OK with *out set (free it with
 * of_kafka_message_free) or NULL (nothing yet); OF_ERR_KAFKA for a consumer error event
 * (librdkafka retries; log it and poll again). */
OF_MUST_CHECK of_err of_kafka_tail_poll(of_kafka_tail *t, int timeout_ms, of_kafka_message **out,
                                        char *errstr, size_t errstr_size);
/* Closes and frees. NULL is allowed. */
void of_kafka_tail_destroy(of_kafka_tail *t);

/* ------------------------------------------------------------------------------------------ */
/* Admin */

typedef struct of_kafka_topic_spec {
    const char *name;
    int partitions;
    int replication_factor;
    const of_kafka_prop *configs; /* topic configs, e.g. {"cleanup.policy", "compact"} */
    size_t nconfigs;
} of_kafka_topic_spec;

/* Creates the topics that do not exist yet (CreateTopics); "already exists" is success. An
 * existing topic is left as it is, even if its partition count differs. With cfg->mock the
 * topics are created on the mock directly (configs are ignored there). All borrowed.
 * Transient errors (controller moving, a broker restarting, timeouts) are retried until
 * timeout_ms, which bounds the whole call. */
OF_MUST_CHECK of_err of_kafka_ensure_topics(const of_kafka_config *cfg,
                                            const of_kafka_topic_spec *topics, size_t n,
                                            int timeout_ms, char *errstr, size_t errstr_size);

/* A partition a group member owns (topic owned by the of_kafka_group it is in). */
typedef struct of_kafka_owned_partition {
    char *topic;
    int32_t partition;
} of_kafka_owned_partition;

/* One member of a consumer group as the group coordinator describes it. Everything owned by
 * the of_kafka_group it is in. */
typedef struct of_kafka_group_member {
    char *member_id;
    char *client_id;
    char *instance_id;               /* group.instance.id; NULL for a dynamic member */
    char *host;                      /* as the broker saw it, e.g. "/127.0.0.1" */
    of_kafka_owned_partition *parts; /* what it owns */
    size_t nparts;
} of_kafka_group_member;

typedef struct of_kafka_group {
    char *state; /* "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead" */
    of_kafka_group_member *members;
    size_t nmembers;
    int *partitions; /* per topic asked for: its partition count, -1 when it does not exist */
} of_kafka_group;

/* Describes consumer group `group` (DescribeConsumerGroups) and counts the partitions of each of
 * topics (metadata), so that a caller can tell which partitions nobody owns. A group that does
 * not exist comes back with state "Dead" and no members. Transient errors are retried until
 * timeout_ms. Not on the mock cluster (its 2.0.2 version has no Admin API): OF_ERR_STATE.
 * *out is cleared first and released with of_kafka_group_clear. */
OF_MUST_CHECK of_err of_kafka_describe_group(const of_kafka_config *cfg, const char *group,
                                             const char *const *topics, size_t ntopics,
                                             int timeout_ms, of_kafka_group *out, char *errstr,
                                             size_t errstr_size);
void of_kafka_group_clear(of_kafka_group *g);

/* ------------------------------------------------------------------------------------------ */
/* Mock cluster (librdkafka's in-process fake brokers on 127.0.0.1 ephemeral ports) */

/* Starts nbrokers (1..16) mock brokers; *out is a new mock the caller destroys after every
 * handle using it. Other processes can reach it through its bootstrap string while it lives. */
OF_MUST_CHECK of_err of_kafka_mock_start(int nbrokers, of_kafka_mock **out, char *errstr,
                                         size_t errstr_size);

/* "127.0.0.1:port,..."; borrowed, valid until of_kafka_mock_destroy. */
const char *of_kafka_mock_bootstraps(const of_kafka_mock *m);

/* Creates a topic (replication min(3, brokers)); OK if it already exists. Topics used without
 * creation are auto-created with 4 partitions. */
OF_MUST_CHECK of_err of_kafka_mock_create_topic(of_kafka_mock *m, const char *name, int partitions,
                                                char *errstr, size_t errstr_size);

/* Fault injection. api_key and kafka_errors are Kafka protocol numbers (the broker's positive
 * error codes, e.g. 6 NOT_LEADER_OR_FOLLOWER, 10 MESSAGE_TOO_LARGE); the next cnt requests of
 * that API to any broker fail with them in order. */
enum {
    OF_KAFKA_API_PRODUCE = 0,
    OF_KAFKA_API_FETCH = 1,
    OF_KAFKA_API_METADATA = 3,
    OF_KAFKA_API_OFFSET_COMMIT = 8,
    OF_KAFKA_API_OFFSET_FETCH = 9,
    OF_KAFKA_API_FIND_COORDINATOR = 10,
    OF_KAFKA_API_JOIN_GROUP = 11,
    OF_KAFKA_API_HEARTBEAT = 12,
    OF_KAFKA_API_SYNC_GROUP = 14,
    OF_KAFKA_API_INIT_PRODUCER_ID = 22,
    OF_KAFKA_API_END_TXN = 26,
};
enum {
    OF_KAFKA_PERR_NOT_LEADER_OR_FOLLOWER = 6,
    OF_KAFKA_PERR_REQUEST_TIMED_OUT = 7,
    OF_KAFKA_PERR_MESSAGE_TOO_LARGE = 10,
    OF_KAFKA_PERR_COORDINATOR_NOT_AVAILABLE = 15,
    OF_KAFKA_PERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    OF_KAFKA_PERR_NOT_COORDINATOR = 16,
    OF_KAFKA_PERR_TOPIC_AUTHORIZATION_FAILED = 29,
    OF_KAFKA_PERR_GROUP_AUTHORIZATION_FAILED = 30,
};
OF_MUST_CHECK of_err of_kafka_mock_push_errors(of_kafka_mock *m, int api_key, size_t cnt,
                                               const int *kafka_errors, char *errstr,
                                               size_t errstr_size);
void of_kafka_mock_clear_errors(of_kafka_mock *m, int api_key);

/* Takes a broker (id 1..nbrokers) down (connections refused/closed) or back up. */
OF_MUST_CHECK of_err of_kafka_mock_broker_set_up(of_kafka_mock *m, int32_t broker_id, bool up,
                                                 char *errstr, size_t errstr_size);

/* Stops the mock brokers and frees. NULL is allowed. */
void of_kafka_mock_destroy(of_kafka_mock *m);

#endif
