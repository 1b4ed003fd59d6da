/* The configuration table and everything driven by it (see config.h).
 *
 * Design, after redis's static_configs[]: each key is one row of cfg_defs[]
 * (name, type, where it lives in of_config, default, bounds, validator,
 * flags, help). Loading, of_config_set, defaults, the dump, the example file
 * and the docs table are all loops over that array, so adding a key is one
 * row plus one struct field, and the docs cannot drift from the code.
 *
 * Every value, whether from the file, the command line or the default, goes
 * through the same steps: parse into a cfg_val, check bounds and the
 * validator, then store (which frees what it replaces). */
#include "config.h"
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "hostport.h"
#include "kafka.h"
#include "octopus.h"
#include "secret.h"
#include "utf8.h"

/* ------------------------------------------------------------------------ */
/* The table                                                                */

typedef enum cfg_type {
    CT_STRING,
    CT_INT,      /* int field */
    CT_BOOL,     /* bool field */
    CT_DURATION, /* int64_t milliseconds; "30s"-style strings (of_duration_parse); integer 0 */
    CT_SIZE,     /* size_t bytes; ints or "8MiB"-style strings */
    CT_ENUM,     /* int-sized enum field; a string naming one value */
    CT_KVLIST,   /* of_kv_list; ["name", "value"] pairs or "name=value" strings */
} cfg_type;

/* A parsed value on its way into the struct. Owns s and kv until stored. */
typedef struct cfg_val {
    int64_t i; /* CT_INT, CT_DURATION, CT_SIZE, CT_ENUM */
    bool b;
    char *s;
    of_kv_list kv;
} cfg_val;

/* Returns false and writes the reason into why when v is not acceptable.
 * The reason must not quote a secret value. */
typedef bool (*cfg_validator)(const cfg_val *v, char *why, size_t why_size);

typedef struct cfg_enum_name {
    const char *name;
    int value;
} cfg_enum_name;

#define CF_SECRET   0x1u /* masked in dumps, never quoted in errors */
#define CF_NONEMPTY 0x2u /* a string that must not be empty */
#define CF_URL      0x4u /* a URL: user:password@ masked in dumps and errors */

typedef struct cfg_def {
    const char *name; /* dotted: "<group>.<key>" */
    cfg_type type;
    size_t offset;              /* of the field in of_config */
    const char *def;            /* default, in the string form of_config_set accepts */
    int64_t min, max;           /* CT_INT, CT_DURATION, CT_SIZE */
    const cfg_enum_name *enums; /* CT_ENUM, terminated by a NULL name */
    cfg_validator validate;
    unsigned flags;
    const char *example; /* a sample line for the example file, or NULL */
    const char *help;
} cfg_def;

typedef struct cfg_group {
    const char *name;
    const char *help;
} cfg_group;

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define KIB  1024LL
#define MIB  (1024 * KIB)
#define GIB  (1024 * MIB)

_Static_assert(sizeof(of_log_level) == sizeof(int), "CT_ENUM stores enums as int");

static bool v_hostports(const cfg_val *v, char *why, size_t n);
static bool v_topic_prefix(const cfg_val *v, char *why, size_t n);
static bool v_url(const cfg_val *v, char *why, size_t n);
static bool v_name(const cfg_val *v, char *why, size_t n);
static bool v_listen(const cfg_val *v, char *why, size_t n);
static bool v_kafka_props(const cfg_val *v, char *why, size_t n);
static bool v_kv_names(const cfg_val *v, char *why, size_t n);
static bool v_from(const cfg_val *v, char *why, size_t n);

static const cfg_enum_name log_levels[] = {
    {"error", OF_LOG_ERROR},
    {"warn", OF_LOG_WARN},
    {"info", OF_LOG_INFO},
    {"debug", OF_LOG_DEBUG},
    {NULL, 0},
};

static const cfg_enum_name completion_sources[] = {
    {"events", OF_COMPLETION_EVENTS},
    {"poll", OF_COMPLETION_POLL},
    {NULL, 0},
};
_Static_assert(sizeof(of_completion_source) == sizeof(int), "CT_ENUM stores enums as int");

static const cfg_enum_name assignments[] = {
    {"cooperative", OF_ASSIGN_COOPERATIVE},
    {"roundrobin", OF_ASSIGN_ROUNDROBIN},
    {NULL, 0},
};
_Static_assert(sizeof(of_worker_assignment) == sizeof(int), "CT_ENUM stores enums as int");

static const cfg_enum_name notify_modes[] = {
    {"webhook", OF_NOTIFY_WEBHOOK},
    {"slack", OF_NOTIFY_SLACK},
    {NULL, 0},
};
static const cfg_enum_name notify_formats[] = {
    {"slack", OF_NOTIFY_FMT_SLACK},
    {"teams", OF_NOTIFY_FMT_TEAMS},
    {NULL, 0},
};
_Static_assert(sizeof(of_notify_mode) == sizeof(int), "CT_ENUM stores enums as int");
_Static_assert(sizeof(of_notify_format) == sizeof(int), "CT_ENUM stores enums as int");

static const cfg_group cfg_groups[] = {
    {"kafka", "Kafka connection, shared by the producer, the workers and the CLI."},
    {"topics", "Topics octofleet uses. Names are <prefix><name>; jobs of stage N go to "
               "<prefix>jobs.sN."},
    {"octopus", "The Octopus Deploy REST API. The API key is never set here: see api_key_file."},
    {"producer", "The producer: turns release requests into jobs and gates stages on events."},
    {"worker", "The workers: run jobs against Octopus and report completion events."},
    {"notify", "The notifier (octofleet notify): one chat message per release, updated in place "
               "(docs/operations.md, \"Notifications\")."},
    {"security", "Message authentication between the CLI, the producer and the workers "
                 "(docs/reliability.md)."},
    {"log", "Logging (stderr, one line per event)."},
};

#define OFF(m) offsetof(of_config, m)

static const cfg_def cfg_defs[] = {
    /* kafka */
    {"kafka.bootstrap_servers", CT_STRING, OFF(kafka.bootstrap_servers), "127.0.0.1:9092", 0, 0,
     NULL, v_hostports, CF_NONEMPTY, "\"kafka-1:9093,kafka-2:9093,kafka-3:9093\"",
     "Comma-separated host:port list of brokers to bootstrap from."},
    {"kafka.client_id", CT_STRING, OFF(kafka.client_id), "octofleet", 0, 0, NULL, NULL, CF_NONEMPTY,
     NULL, "client.id sent to the brokers (shows in broker logs, metrics and quotas)."},
    {"kafka.properties", CT_KVLIST, OFF(kafka.properties), "", 0, 0, NULL, v_kafka_props, 0,
     "( [\"security.protocol\", \"SASL_SSL\"], \"sasl.mechanism=SCRAM-SHA-512\" )",
     "librdkafka properties passed through unchanged, as [\"name\", \"value\"] pairs or "
     "\"name=value\" strings (libconfig names cannot hold dots): TLS and SASL (security.protocol, "
     "ssl.ca.location, sasl.mechanism, sasl.username, sasl.password), tuning. Values of "
     "properties whose name contains password, secret or key are masked in dumps. Properties "
     "octofleet manages itself (bootstrap.servers, client.id, group.id, transactional.id, "
     "enable.idempotence, enable.auto.commit, enable.auto.offset.store, isolation.level, "
     "partition.assignment.strategy, max.poll.interval.ms) are rejected: use the keys above. "
     "The producer's transactional client retries after 10 ms (`retry.backoff.ms`, librdkafka's "
     "default is 100) so that a transaction that follows another at once does not wait 100 ms "
     "for the previous one's markers, and a worker's events linger 25 ms (`linger.ms`, "
     "librdkafka's default is 5) for fuller produce requests; set either here to change it."},

    /* topics */
    {"topics.prefix", CT_STRING, OFF(topics.prefix), "octofleet.", 0, 0, NULL, v_topic_prefix, 0,
     NULL,
     "Prefix of every topic name, so several fleets can share a cluster. Letters, digits, "
     "'.', '_' and '-' only."},
    {"topics.partitions", CT_INT, OFF(topics.partitions), "6", 1, 10000, NULL, NULL, 0, NULL,
     "Partitions of each topic octofleet creates; caps how many workers share one stage."},
    {"topics.replication_factor", CT_INT, OFF(topics.replication_factor), "1", 1, 32, NULL, NULL, 0,
     "3",
     "Replication factor of topics octofleet creates. 1 suits a single development broker; "
     "use 3 in production."},
    {"topics.max_stages", CT_INT, OFF(topics.max_stages), "8", 1, 64, NULL, NULL, 0, NULL,
     "Stages a release train may have; one jobs topic per stage, <prefix>jobs.s1 .. "
     "<prefix>jobs.s<max_stages>."},
    {"topics.create", CT_BOOL, OFF(topics.create), "true", 0, 0, NULL, NULL, 0, NULL,
     "Create missing topics at start-up. When false a missing topic is an error (for clusters "
     "where topics are provisioned separately)."},
    {"topics.configs", CT_KVLIST, OFF(topics.configs), "", 0, 0, NULL, v_kv_names, 0,
     "( \"min.insync.replicas=2\" )",
     "Topic-level configs applied when octofleet creates a topic, in the same forms as "
     "kafka.properties."},

    /* octopus: the defaults are the client's own constants (octopus.h), written once */
    {"octopus.url", CT_STRING, OFF(octopus.url), "", 0, 0, NULL, v_url, CF_URL,
     "\"https://octopus.example.com\"",
     "Base URL of the Octopus Server, http:// or https://. Required by the producer and the "
     "workers."},
    {"octopus.space", CT_STRING, OFF(octopus.space), OF_OCTO_DEFAULT_SPACE, 0, 0, NULL, NULL,
     CF_NONEMPTY, NULL, "Space name, or space id such as \"Spaces-1\"."},
    {"octopus.api_key_file", CT_STRING, OFF(octopus.api_key_file), "", 0, 0, NULL, NULL, 0,
     "\"/etc/octofleet/octopus-api-key\"",
     "File holding the API key on one line (mode 0600). When empty the key is read from the "
     "environment variable OCTOPUS_API_KEY. The key itself is never a config value."},
    {"octopus.ca_file", CT_STRING, OFF(octopus.ca_file), "", 0, 0, NULL, NULL, 0,
     "\"/etc/octofleet/octopus-ca.pem\"",
     "PEM bundle of CA certificates to verify the server with; empty means the system bundle."},
    {"octopus.tls_verify", CT_BOOL, OFF(octopus.tls_verify), "true", 0, 0, NULL, NULL, 0, NULL,
     "Verify the server's certificate and host name. Turn off only for a throwaway test "
     "server."},
    {"octopus.connect_timeout", CT_DURATION, OFF(octopus.connect_timeout_ms),
     OF_OCTO_STR(OF_OCTO_DEFAULT_CONNECT_TIMEOUT_MS) "ms", 100, 5 * MIN, NULL, NULL, 0, NULL,
     "Timeout of one TCP and TLS connection attempt."},
    {"octopus.request_timeout", CT_DURATION, OFF(octopus.request_timeout_ms),
     OF_OCTO_STR(OF_OCTO_DEFAULT_REQUEST_TIMEOUT_MS) "ms", 1 * SEC, 1 * HOUR, NULL, NULL, 0, NULL,
     "Timeout of one HTTP attempt, connection and reply included."},
    {"octopus.retry_deadline", CT_DURATION, OFF(octopus.retry_deadline_ms),
     OF_OCTO_STR(OF_OCTO_DEFAULT_RETRY_DEADLINE_MS) "ms", 1 * SEC, 1 * DAY, NULL, NULL, 0, NULL,
     "How long one request is retried (network errors, 408, 429, 500, 502, 503, 504) with "
     "capped exponential backoff and jitter before it fails."},
    {"octopus.max_concurrent_requests", CT_INT, OFF(octopus.max_concurrent_requests),
     OF_OCTO_STR(OF_OCTO_DEFAULT_MAX_CONCURRENT), 1, 4096, NULL, NULL, 0, NULL,
     "Requests in flight to the server at once; more wait in a queue."},
    {"octopus.task_poll_chunk", CT_INT, OFF(octopus.task_poll_chunk),
     OF_OCTO_STR(OF_OCTO_DEFAULT_TASK_CHUNK), 1, OF_OCTO_MAX_TASK_CHUNK, NULL, NULL, 0, NULL,
     "Task ids per GET /api/tasks?ids=... request when polling task states."},
    {"octopus.max_response_bytes", CT_SIZE, OFF(octopus.max_response_bytes),
     OF_OCTO_STR(OF_OCTO_DEFAULT_MAX_RESPONSE_BYTES), 64 * KIB, 1 * GIB, NULL, NULL, 0, NULL,
     "Largest reply body accepted; a bigger reply is an error, never an unbounded read."},
    {"octopus.task_unreadable_timeout", CT_DURATION, OFF(octopus.task_unreadable_ms),
     OF_OCTO_STR(OF_OCTO_DEFAULT_UNREADABLE_MS) "ms", 1 * SEC, 1 * DAY, NULL, NULL, 0, NULL,
     "A task whose state the server keeps answering with something that cannot be read fails its "
     "job after this long (and at least 3 polls in a row), quoting the reply; the other tasks of "
     "the same reply carry on."},
    {"octopus.task_budget", CT_INT, OFF(octopus.task_budget), "0", 0, 100000, NULL, NULL, 0, NULL,
     "The most deployments of this fleet queued or running in Octopus at once, across all "
     "releases and workers; the producer holds the rest until a slot frees (docs/gating.md). 0 = "
     "automatic: the sum of MaxConcurrentTasks over the server's nodes (GET "
     "/api/octopusservernodes), or 20 with a warning when that cannot be read."},
    {"octopus.task_budget_headroom", CT_INT, OFF(octopus.task_budget_headroom), "400", 0, 10000,
     NULL, NULL, 0, NULL,
     "With an automatic task budget: the most headroom over the server's task cap, in percent of "
     "the cap. The producer sizes the headroom to cover the time a slot is the fleet's but not "
     "Octopus's (a job travelling to Octopus, its end being noticed): cap x that time / task run "
     "time, averaged over recent jobs; one or two tasks for deployments of minutes, more for "
     "deployments of seconds (docs/gating.md). 0 = exactly the cap."},
    {"octopus.task_cap_refresh", CT_DURATION, OFF(octopus.task_cap_refresh_ms), "5m", 0, 1 * DAY,
     NULL, NULL, 0, NULL,
     "With an automatic task budget: how often the producer re-reads the server's task cap "
     "(MaxConcurrentTasks of its nodes), so a node added, removed or put in maintenance changes "
     "the budget without a restart. 0 = read once at start."},
    {"octopus.hold_error_percent", CT_INT, OFF(octopus.hold_error_percent), "50", 0, 100, NULL,
     NULL, 0, NULL,
     "Hold when at least this percentage of the Octopus requests in octopus.hold_window failed "
     "with a 5xx, a timeout or a connection error: no new deployments are created (nothing "
     "fails) until a probe gets an answer (docs/reliability.md). 0 = never hold for failures."},
    {"octopus.hold_throttle_percent", CT_INT, OFF(octopus.hold_throttle_percent), "50", 0, 100,
     NULL, NULL, 0, NULL,
     "Hold when at least this percentage of the Octopus requests in octopus.hold_window were "
     "answered 429 (too many requests). 0 = never hold for 429s."},
    {"octopus.hold_window", CT_DURATION, OFF(octopus.hold_window_ms), "30s", 1000, 1 * HOUR, NULL,
     NULL, 0, NULL, "The sliding window over which the hold judges Octopus's answers."},
    {"octopus.hold_min_requests", CT_INT, OFF(octopus.hold_min_requests), "10", 1, 1000000, NULL,
     NULL, 0, NULL,
     "Requests that must have ended in octopus.hold_window before the hold judges: a few "
     "failures of an idle member are not an outage."},
    {"octopus.hold_probe_interval", CT_DURATION, OFF(octopus.hold_probe_interval_ms), "2s", 100,
     10 * MIN, NULL, NULL, 0, NULL,
     "How often a held member probes Octopus (GET /api/, one attempt); the first answer ends the "
     "hold. The producer also probes this often while releases run, to judge Octopus itself."},

    /* producer */
    {"producer.group_id", CT_STRING, OFF(producer.group_id), "octofleet-producer", 0, 0, NULL, NULL,
     CF_NONEMPTY, NULL, "Kafka consumer group of the producer."},
    {"producer.transactional_id", CT_STRING, OFF(producer.transactional_id), "octofleet-producer",
     0, 0, NULL, NULL, CF_NONEMPTY, NULL,
     "Kafka transactional.id of the producer: stable across restarts and unique per producer "
     "instance, so a restarted producer fences off its predecessor."},
    {"producer.batch_window", CT_DURATION, OFF(producer.batch_window_ms), "100ms", 0, 1 * MIN, NULL,
     NULL, 0, NULL,
     "How long the producer gathers inputs into one transaction after the first. A decision "
     "that dispatches jobs (a gate opening, a submit) ends the window at once: what is already "
     "read joins the transaction, nothing more is waited for. Longer windows make fewer, bigger "
     "transactions under load; 0ms gives each input a transaction of its own."},
    {"producer.batch_max", CT_INT, OFF(producer.batch_max), "2000", 1, 100000, NULL, NULL, 0, NULL,
     "Most inputs decided in one transaction. Under load, transactions end here rather than at "
     "the window; each costs the producer a few milliseconds of CPU and four round trips to the "
     "broker whatever its size, so bigger ones cost less per job (500: about a tenth more "
     "producer CPU per job in benchmark S1)."},
    {"producer.release_retention", CT_DURATION, OFF(producer.release_retention_ms), "7d", 0,
     3650 * DAY, NULL, NULL, 0, NULL,
     "How long a completed or aborted release (none of its jobs still in flight) stays in the "
     "producer's memory and the state topic after its last change. Then its job records are "
     "tombstoned and its release record is replaced by a small evicted marker (outcome and "
     "counts), which is kept: replay, resume and abort of it are ignored and a new submit of the "
     "same release is rejected (docs/operations.md). 0 = evict as soon as the release ends."},
    {"producer.metrics_listen", CT_STRING, OFF(producer.metrics_listen), "", 0, 0, NULL, v_listen,
     0, "\"127.0.0.1:9464\"",
     "host:port where the producer serves GET /metrics (Prometheus), /healthz and /readyz "
     "(docs/monitoring.md); port 0 picks a free port, logged at start. 127.0.0.1 listens on "
     "loopback only, 0.0.0.0 on every interface. Empty: no HTTP endpoint."},

    /* worker */
    {"worker.group_id", CT_STRING, OFF(worker.group_id), "octofleet-workers", 0, 0, NULL, NULL,
     CF_NONEMPTY, NULL, "Kafka consumer group shared by all workers of the fleet."},
    {"worker.name", CT_STRING, OFF(worker.name), "", 0, 0, NULL, v_name, 0, "\"worker-a1\"",
     "Name of this worker in events and logs; empty means <hostname>-<pid>. Letters, digits, "
     "'.', '_' and '-' only."},
    {"worker.max_in_flight", CT_INT, OFF(worker.max_in_flight), "256", 1, 100000, NULL, NULL, 0,
     NULL,
     "Jobs one worker runs at once. While this many are unfinished it fetches no more, except "
     "one job of each stage later than any it has queued: a stage whose gate opened takes the "
     "next free slot."},
    {"worker.poll_interval", CT_DURATION, OFF(worker.poll_interval_ms), "750ms", 100, 1 * HOUR,
     NULL, NULL, 0, NULL,
     "How often the worker reads Octopus's event feed for finished tasks (completion_source "
     "events), or the state of every in-flight task (completion_source poll). 750ms notices a "
     "completion about 0.4 s after it at the median for 1.3 requests a second per worker."},
    {"worker.completion_source", CT_ENUM, OFF(worker.completion_source), "events", 0, 0,
     completion_sources, NULL, 0, NULL,
     "How a worker notices finished tasks. \"events\": it follows Octopus's event feed (GET "
     "events?eventCategories=...&fromAutoId=) every poll_interval and reads only the tasks the "
     "feed names, so the cost grows with completions, not with tasks in flight; every "
     "task_check_interval it also reads all its tasks, catching what the feed missed. \"poll\": "
     "it reads every in-flight task every poll_interval."},
    {"worker.feed_busy_interval", CT_DURATION, OFF(worker.feed_busy_interval_ms), "150ms", 0,
     1 * HOUR, NULL, NULL, 0, NULL,
     "With completion_source events: for one poll_interval after a read of the feed that named "
     "tasks of this worker's jobs, or after it created (or adopted) a deployment, the feed is "
     "read this often instead of every poll_interval. Tasks end in bursts (a stage's "
     "deployments finish together) and short deployments end soon after they start, so these "
     "ends are noticed within this interval, while a quiet feed costs one read per "
     "poll_interval. 0 (or a value above poll_interval) = always poll_interval."},
    {"worker.feed_filter_max", CT_INT, OFF(worker.feed_filter_max), "256", 0, 1000, NULL, NULL, 0,
     NULL,
     "With completion_source events: while a worker follows at most this many tasks in a space "
     "(and their ids fit 6,000 bytes), its feed reads ask only for their events (GET "
     "events?regardingAny=ServerTasks-1,...), so each worker reads its own completions, not "
     "every completion of the fleet; with more it reads the whole feed. 0: always the whole "
     "feed. A server or proxy that refuses such a read (400, 404, 414) turns it off for the "
     "worker's life, with a warning."},
    {"worker.task_check_interval", CT_DURATION, OFF(worker.task_check_interval_ms), "30s", 100,
     1 * HOUR, NULL, NULL, 0, NULL,
     "With completion_source events: how often the worker reads the state of every in-flight "
     "task anyway (one batched GET tasks?ids= per task_poll_chunk tasks), the safety net for "
     "events the feed dropped or listed late. A finish found only this way is noticed up to "
     "this late."},
    {"worker.drain_timeout", CT_DURATION, OFF(worker.drain_timeout_ms), "30s", 0, 1 * HOUR, NULL,
     NULL, 0, NULL,
     "On stop (SIGTERM): how long to wait for in-flight jobs to finish and their events to be "
     "delivered. Jobs still running are left uncommitted and redelivered to another worker."},
    {"worker.max_poll_interval", CT_DURATION, OFF(worker.max_poll_interval_ms), "5m", 10 * SEC,
     1 * DAY, NULL, NULL, 0, NULL,
     "librdkafka max.poll.interval.ms: the longest a worker may go without polling Kafka "
     "before the group considers it dead."},
    {"worker.assignment", CT_ENUM, OFF(worker.assignment), "cooperative", 0, 0, assignments, NULL,
     0, NULL,
     "How the workers share the stage topics' partitions (every worker of a group must use the "
     "same). \"cooperative\": a worker joining or leaving moves only the partitions that must "
     "move, and the others' jobs run on undisturbed; but a worker added later can take whole "
     "stage topics while others keep none of them. \"roundrobin\": every join or leave "
     "reassigns all partitions, each stage topic in turn, so every stage is spread over all "
     "workers; each worker then gives up its jobs in flight and their next owner adopts them. "
     "Changing it: stop every worker first."},
    {"worker.metrics_listen", CT_STRING, OFF(worker.metrics_listen), "", 0, 0, NULL, v_listen, 0,
     "\"127.0.0.1:9465\"",
     "host:port where the worker serves GET /metrics (Prometheus), /healthz and /readyz "
     "(docs/monitoring.md); port 0 picks a free port, logged at start. Empty: no HTTP "
     "endpoint."},

    /* notify */
    {"notify.mode", CT_ENUM, OFF(notify.mode), "webhook", 0, 0, notify_modes, NULL, 0, NULL,
     "How the message is created and updated. \"webhook\": POST to the URL creates it and the "
     "reply names its id ({\"id\": \"...\"}); each update is a PUT to <url>/<id>. \"slack\": "
     "the URL is Slack's Web API base (https://slack.com/api): POST chat.postMessage creates, "
     "POST chat.update with the ts it answered updates; needs a bot token (token_file) and "
     "channel."},
    {"notify.format", CT_ENUM, OFF(notify.format), "slack", 0, 0, notify_formats, NULL, 0, NULL,
     "The JSON body: \"slack\" ({\"text\", \"blocks\"}, Block Kit) or \"teams\" ({\"text\", "
     "\"attachments\": [an Adaptive Card]}). Mode slack takes format slack."},
    {"notify.url_file", CT_STRING, OFF(notify.url_file), "", 0, 0, NULL, NULL, 0,
     "\"/etc/octofleet/notify-url\"",
     "File holding the URL to send to, on one line (mode 0600: a webhook URL is a secret). When "
     "empty the URL is read from the environment variable OCTOFLEET_NOTIFY_URL. Never a config "
     "value, never logged."},
    {"notify.token_file", CT_STRING, OFF(notify.token_file), "", 0, 0, NULL, NULL, 0,
     "\"/etc/octofleet/notify-token\"",
     "File holding the bearer token sent as \"Authorization: Bearer <token>\" (mode slack: the "
     "bot token, xoxb-...). When empty: the environment variable OCTOFLEET_NOTIFY_TOKEN; "
     "neither: no Authorization header (mode webhook only)."},
    {"notify.channel", CT_STRING, OFF(notify.channel), "", 0, 0, NULL, NULL, 0, "\"C0123456789\"",
     "Mode slack: the channel to post in (its id; the bot must be a member)."},
    {"notify.group_id", CT_STRING, OFF(notify.group_id), "octofleet-notify", 0, 0, NULL, NULL,
     CF_NONEMPTY, NULL,
     "Consumer group under which the notifier keeps its position in the events topic, so a "
     "restarted notifier goes on where it was. One notifier per group."},
    {"notify.from", CT_STRING, OFF(notify.from), "end", 0, 0, NULL, v_from, 0, NULL,
     "Where a notifier whose group has no position yet starts: \"end\" (only releases that "
     "move from now on) or \"beginning\"."},
    {"notify.state_file", CT_STRING, OFF(notify.state_file), "/var/lib/octofleet/notify.state", 0,
     0, NULL, NULL, CF_NONEMPTY, NULL,
     "File where the notifier keeps each release's message id (rewritten atomically after each "
     "create), so a restarted notifier updates the message instead of posting a second one."},
    {"notify.min_interval", CT_DURATION, OFF(notify.min_interval_ms), "2s", 0, 1 * HOUR, NULL, NULL,
     0, NULL,
     "At most one update per release per this interval: the events in between are folded into "
     "the next update, and the last state is always sent."},
    {"notify.request_timeout", CT_DURATION, OFF(notify.request_timeout_ms), "10s", 1 * SEC,
     10 * MIN, NULL, NULL, 0, NULL, "Timeout of one HTTP attempt, connection and reply included."},
    {"notify.retry_deadline", CT_DURATION, OFF(notify.retry_deadline_ms), "2m", 1 * SEC, 1 * DAY,
     NULL, NULL, 0, NULL,
     "How long one send is retried (network errors, 408, 429 with Retry-After, 500, 502, 503, "
     "504), with capped exponential backoff and jitter, before it is given up (logged). Another "
     "HTTP error is logged with the receiver's answer and not retried."},

    /* security */
    {"security.fleet_key_file", CT_STRING, OFF(security.fleet_key_file), "", 0, 0, NULL, NULL, 0,
     "\"/etc/octofleet/fleet-key\"",
     "File holding the fleet key (at least 16 characters, mode 0600; e.g. openssl rand -hex 32). "
     "With a key, the CLI, the producer and the workers sign what they write to the requests, "
     "jobs and events topics (HMAC-SHA256 in the octofleet-auth header) and refuse what is not "
     "signed with it: such messages go to the dead-letter topic. When empty the key is read from "
     "the environment variable OCTOFLEET_FLEET_KEY; with neither, authentication is off. Every "
     "member of a fleet needs the same key."},

    /* log */
    {"log.level", CT_ENUM, OFF(log.level), "info", 0, 0, log_levels, NULL, 0, NULL,
     "Lowest level logged: error, warn, info or debug."},
};

#define NDEFS   (sizeof(cfg_defs) / sizeof(cfg_defs[0]))
#define NGROUPS (sizeof(cfg_groups) / sizeof(cfg_groups[0]))

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static void *field(of_config *cfg, const cfg_def *d)
{
    return (char *)cfg + d->offset;
}

static const void *cfield(const of_config *cfg, const cfg_def *d)
{
    return (const char *)cfg + d->offset;
}

static const cfg_def *find_def(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(cfg_defs[i].name, name) == 0) return &cfg_defs[i];
    return NULL;
}

static const cfg_group *find_group(const char *name)
{
    for (size_t i = 0; i < NGROUPS; i++)
        if (strcmp(cfg_groups[i].name, name) == 0) return &cfg_groups[i];
    return NULL;
}

/* The part of "group.key" after the dot. */
static const char *leaf(const char *dotted)
{
    const char *dot = strchr(dotted, '.');
    return dot ? dot + 1 : dotted;
}

/* A key that looks like the API key itself: refused everywhere, with this
 * hint, so the key never sits in a config file or on a command line. */
#define API_KEY_HINT                                                             \
    "the API key is never read from the config file; put it in a file named by " \
    "octopus.api_key_file (mode 0600) or in the environment variable OCTOPUS_API_KEY"

static bool is_api_key_name(const char *name)
{
    return strcasecmp(name, "api_key") == 0 || strcasecmp(name, "apikey") == 0 ||
           strcasecmp(name, "api-key") == 0;
}

static void kv_list_clear(of_kv_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void val_clear(cfg_val *v)
{
    free(v->s);
    v->s = NULL;
    kv_list_clear(&v->kv);
}

/* Appends a copy of (key, value) to l, replacing an existing pair with the
 * same key when `replace`. */
static of_err kv_list_put(of_kv_list *l, const char *key, size_t key_len, const char *value,
                          bool replace)
{
    char *k = strndup(key, key_len);
    char *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return OF_ERR_NOMEM;
    }
    if (replace) {
        for (size_t i = 0; i < l->count; i++) {
            if (strcmp(l->items[i].key, k) == 0) {
                free(k);
                free(l->items[i].value);
                l->items[i].value = v;
                return OF_OK;
            }
        }
    }
    of_kv *items = realloc(l->items, (l->count + 1) * sizeof(*items));
    if (!items) {
        free(k);
        free(v);
        return OF_ERR_NOMEM;
    }
    l->items = items;
    l->items[l->count].key = k;
    l->items[l->count].value = v;
    l->count++;
    return OF_OK;
}

/* Does the name of a property suggest its value is a secret? */
static bool secret_property(const char *name)
{
    static const char *const words[] = {"password", "secret", "key", "oauthbearer.config"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);
        for (const char *p = name; *p; p++)
            if (strncasecmp(p, words[i], wl) == 0) return true;
    }
    return false;
}

/* Edit distance (Levenshtein) for "did you mean"; names longer than 63
 * characters are never suggested. */
/* Closest known key to `dotted` ("octopus.urll" -> "octopus.url"), or a key
 * of another group with the same leaf ("worker.transactional_id" ->
 * "producer.transactional_id"), or NULL when nothing is close. */
static const char *suggest_key(const char *dotted)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < NDEFS; i++) {
        size_t dist = of_edit_distance(dotted, cfg_defs[i].name);
        if (dist < best_d) {
            best_d = dist;
            best = cfg_defs[i].name;
        }
    }
    size_t limit = strlen(dotted) / 4 + 1;
    if (limit > 3) limit = 3;
    if (best && best_d <= limit) return best;
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(leaf(cfg_defs[i].name), leaf(dotted)) == 0) return cfg_defs[i].name;
    return NULL;
}

static const char *suggest_group(const char *name)
{
    for (size_t i = 0; i < NGROUPS; i++)
        if (of_edit_distance(name, cfg_groups[i].name) <= 2) return cfg_groups[i].name;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Durations and sizes                                                      */

/* of_config_parse_size, telling overflow (*overflow set: the syntax is right but the value
 * does not fit) from bad syntax. */
static int parse_size(const char *s, int64_t *out_bytes, bool *overflow)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1},     {"b", 1},     {"k", KIB}, {"kb", KIB}, {"kib", KIB}, {"m", MIB},
                 {"mb", MIB}, {"mib", MIB}, {"g", GIB}, {"gb", GIB}, {"gib", GIB}};
    *overflow = false;
    if (!s || !isdigit((unsigned char)*s)) return -1;
    int64_t n = 0;
    bool big = false;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        if (n > (INT64_MAX - 9) / 10) big = true;
        if (!big) n = n * 10 + (*p - '0');
        p++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(p, units[i].unit) == 0) {
            if (big || n > INT64_MAX / units[i].mult) {
                *overflow = true;
                return -1;
            }
            *out_bytes = n * units[i].mult;
            return 0;
        }
    }
    return -1;
}

int of_config_parse_size(const char *s, int64_t *out_bytes)
{
    bool overflow;
    return parse_size(s, out_bytes, &overflow);
}

/* "30s", "2m", "1500ms": the largest unit that divides exactly. */
static void format_duration(int64_t ms, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", DAY}, {"h", HOUR}, {"m", MIN}, {"s", SEC}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, n, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, n, "%" PRId64 "ms", ms);
}

static void format_size(int64_t bytes, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"GiB", GIB}, {"MiB", MIB}, {"KiB", KIB}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (bytes != 0 && bytes % units[i].mult == 0) {
            snprintf(out, n, "%" PRId64 "%s", bytes / units[i].mult, units[i].unit);
            return;
        }
    }
    snprintf(out, n, "%" PRId64, bytes);
}

static void format_number(const cfg_def *d, int64_t v, char *out, size_t n)
{
    if (d->type == CT_DURATION)
        format_duration(v, out, n);
    else if (d->type == CT_SIZE)
        format_size(v, out, n);
    else
        snprintf(out, n, "%" PRId64, v);
}

/* ------------------------------------------------------------------------ */
/* Validators                                                               */

static bool v_hostports(const cfg_val *v, char *why, size_t n)
{
    for (const char *p = v->s; *p; p++) {
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
            snprintf(why, n, "must be a comma-separated host:port list without spaces");
            return false;
        }
    }
    return true;
}

static bool name_chars_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') return false;
    return true;
}

static bool v_topic_prefix(const cfg_val *v, char *why, size_t n)
{
    /* Kafka topic names: [a-zA-Z0-9._-], at most 249 characters; keep room
     * for the longest suffix we add. */
    if (!name_chars_ok(v->s)) {
        snprintf(why, n, "may hold only letters, digits, '.', '_' and '-' (Kafka topic names)");
        return false;
    }
    if (strlen(v->s) > 200) {
        snprintf(why, n, "is longer than 200 characters");
        return false;
    }
    return true;
}

static bool v_name(const cfg_val *v, char *why, size_t n)
{
    if (!name_chars_ok(v->s) || strlen(v->s) > 128) {
        snprintf(why, n, "may hold only letters, digits, '.', '_' and '-' (at most 128)");
        return false;
    }
    return true;
}

static bool v_from(const cfg_val *v, char *why, size_t n)
{
    if (strcmp(v->s, "end") == 0 || strcmp(v->s, "beginning") == 0) return true;
    snprintf(why, n, "must be \"end\" or \"beginning\"");
    return false;
}

static bool v_listen(const cfg_val *v, char *why, size_t n)
{
    char host[256];
    uint16_t port;
    return !v->s[0] || of_hostport_parse(v->s, host, sizeof host, &port, why, n) == OF_OK;
}

/* Writes why as "<reason> (got \"<url, credentials masked>\")" and returns
 * false, for v_url. */
static bool url_bad(const char *url, char *why, size_t n, const char *reason)
{
    char masked[512];
    of_secret_mask_url(url, masked, sizeof(masked));
    char shown[600];
    of_escape(masked, shown, sizeof(shown));
    snprintf(why, n, "%s (got \"%s\")", reason, shown);
    return false;
}

/* http[s]://[user[:password]@]host[:port][/path]: the client appends /api/...
 * to it, so anything else fails only later, and as a service error. host is
 * a name (letters, digits, '.', '-', '_', '~', '%') or a bracketed IPv6
 * address. */
static bool v_url(const cfg_val *v, char *why, size_t n)
{
    const char *s = v->s;
    if (!*s) return true; /* unset; of_config_check requires it where needed */
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || (unsigned char)*p >= 0x7f)
            return url_bad(s, why, n, "must not contain spaces, control or non-ASCII characters");
    const char *rest = NULL;
    if (strncasecmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    if (!rest) return url_bad(s, why, n, "must be an http:// or https:// URL with a host");
    if (strchr(s, '?') || strchr(s, '#'))
        return url_bad(s, why, n, "must be a base URL without '?' or '#'");
    const char *end = rest + strcspn(rest, "/");
    const char *host = rest;
    for (const char *p = rest; p < end; p++)
        if (*p == '@') host = p + 1; /* user info ends at the last '@' */
    const char *port = NULL;
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close) return url_bad(s, why, n, "has an IPv6 address without its closing ']'");
        if (close == host + 1) return url_bad(s, why, n, "has an empty IPv6 address");
        for (const char *p = host + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '%')
                return url_bad(s, why, n, "has a malformed IPv6 address");
        if (close + 1 < end && close[1] != ':')
            return url_bad(s, why, n, "has text after the IPv6 address's ']'");
        if (close + 1 < end) port = close + 2;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        const char *hend = colon ? colon : end;
        if (hend == host)
            return url_bad(s, why, n, "must be an http:// or https:// URL with a host");
        for (const char *p = host; p < hend; p++)
            if (!isalnum((unsigned char)*p) && !strchr(".-_~%", *p))
                return url_bad(s, why, n, "has a malformed host name");
        if (colon) port = colon + 1;
    }
    if (port) {
        long num = 0;
        const char *p = port;
        for (; p < end && isdigit((unsigned char)*p) && num <= 65535; p++)
            num = num * 10 + (*p - '0');
        if (p == port || p != end || num < 1 || num > 65535)
            return url_bad(s, why, n, "has a bad port (a number 1..65535)");
    }
    return true;
}

static bool v_kv_names(const cfg_val *v, char *why, size_t n)
{
    for (size_t i = 0; i < v->kv.count; i++) {
        const char *k = v->kv.items[i].key;
        if (!*k) {
            snprintf(why, n, "entry %zu has an empty name", i + 1);
            return false;
        }
        for (const char *p = k; *p; p++) {
            if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
                snprintf(why, n, "entry %zu: a name must not contain spaces", i + 1);
                return false;
            }
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(v->kv.items[j].key, k) == 0) {
                snprintf(why, n, "'%s' is set twice", k);
                return false;
            }
        }
    }
    return true;
}

/* librdkafka properties octofleet sets itself: letting the file override
 * them would silently break delivery guarantees (offset storing, isolation,
 * idempotence) or fight a dedicated key. */
static const struct {
    const char *name;
    const char *instead;
} managed_props[] = {
    {"bootstrap.servers", "kafka.bootstrap_servers"},
    {"metadata.broker.list", "kafka.bootstrap_servers"},
    {"client.id", "kafka.client_id"},
    {"group.id", "producer.group_id or worker.group_id"},
    {"transactional.id", "producer.transactional_id"},
    {"max.poll.interval.ms", "worker.max_poll_interval"},
    {"enable.idempotence", NULL},
    {"enable.auto.commit", NULL},
    {"enable.auto.offset.store", NULL},
    {"isolation.level", NULL},
    {"partition.assignment.strategy", "worker.assignment"},
};

static bool v_kafka_props(const cfg_val *v, char *why, size_t n)
{
    if (!v_kv_names(v, why, n)) return false;
    /* Plugins define properties a bare librdkafka configuration does not
     * know, and loading one here would run its code: with plugins, the
     * check is left to the daemon's start. */
    bool plugins = false;
    for (size_t i = 0; i < v->kv.count; i++)
        plugins = plugins || strcmp(v->kv.items[i].key, "plugin.library.paths") == 0;
    for (size_t i = 0; i < v->kv.count; i++) {
        for (size_t j = 0; j < sizeof(managed_props) / sizeof(managed_props[0]); j++) {
            if (strcmp(v->kv.items[i].key, managed_props[j].name) != 0) continue;
            if (managed_props[j].instead)
                snprintf(why, n, "'%s' is managed by octofleet: use %s", managed_props[j].name,
                         managed_props[j].instead);
            else
                snprintf(why, n,
                         "'%s' is managed by octofleet (delivery guarantees depend on it) and "
                         "cannot be overridden",
                         managed_props[j].name);
            return false;
        }
        char kerr[600];
        of_err rc = plugins ? OF_OK
                            : of_kafka_prop_check(v->kv.items[i].key, v->kv.items[i].value, kerr,
                                                  sizeof(kerr));
        if (rc) {
            snprintf(why, n, "entry %zu: %s", i + 1, rc == OF_ERR_NOMEM ? "out of memory" : kerr);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Parse, check, store                                                      */

/* A user's value for an error message: escaped (one line, no terminal
 * codes), at most about 100 characters. Only for keys that are not secret. */
static const char *shown(const char *s, char *out, size_t out_size)
{
    if (out_size > 104) out_size = 104;
    return of_escape(s, out, out_size);
}

/* The message for a number too large (or too small) for 64 bits, whatever
 * the key's range: "99999999999999999999 is too large (1..10000)". lit is
 * the number as written. Returns OF_ERR_CONFIG. */
static of_err too_big(const cfg_def *d, const char *lit, char *why, size_t n)
{
    char q[160], lo[32], hi[32];
    format_number(d, d->min, lo, sizeof(lo));
    format_number(d, d->max, hi, sizeof(hi));
    snprintf(why, n, "%s is too %s (%s..%s)", shown(lit, q, sizeof(q)),
             lit[0] == '-' ? "small" : "large", lo, hi);
    return OF_ERR_CONFIG;
}

/* Parses the string form of a value (defaults, of_config_set). On failure
 * writes why and returns OF_ERR_CONFIG (or OF_ERR_NOMEM). */
static of_err parse_string(const cfg_def *d, const char *s, cfg_val *v, char *why, size_t n)
{
    char q[160]; /* a quoted bad value, escaped and cut short */
    bool big;
    memset(v, 0, sizeof(*v));
    switch (d->type) {
    case CT_STRING:
        v->s = strdup(s);
        return v->s ? OF_OK : OF_ERR_NOMEM;
    case CT_INT: {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end == s || *end || isspace((unsigned char)*s)) {
            snprintf(why, n, "\"%s\" is not an integer", shown(s, q, sizeof(q)));
            return OF_ERR_CONFIG;
        }
        if (errno == ERANGE) return too_big(d, s, why, n);
        v->i = x;
        return OF_OK;
    }
    case CT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0 ||
            strcmp(s, "on") == 0)
            v->b = true;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0 ||
                 strcmp(s, "off") == 0)
            v->b = false;
        else {
            snprintf(why, n, "expected true or false");
            return OF_ERR_CONFIG;
        }
        return OF_OK;
    case CT_DURATION:
        switch (of_duration_parse(s, &v->i)) {
        case OF_DURATION_OK:
            return OF_OK;
        case OF_DURATION_RANGE:
            return too_big(d, s, why, n);
        case OF_DURATION_NO_UNIT:
            snprintf(why, n, "%s has no unit: write \"%sms\" or \"%ss\"", shown(s, q, sizeof(q)), s,
                     s);
            return OF_ERR_CONFIG;
        case OF_DURATION_SYNTAX:
            break;
        }
        snprintf(why, n, "\"%s\" is not a duration (e.g. \"500ms\", \"90s\", \"30m\", \"2h\")",
                 shown(s, q, sizeof(q)));
        return OF_ERR_CONFIG;
    case CT_SIZE:
        if (parse_size(s, &v->i, &big) != 0) {
            if (big) return too_big(d, s, why, n);
            snprintf(why, n, "\"%s\" is not a size (use bytes, or e.g. \"512KiB\", \"8MiB\")",
                     shown(s, q, sizeof(q)));
            return OF_ERR_CONFIG;
        }
        return OF_OK;
    case CT_ENUM: {
        for (const cfg_enum_name *e = d->enums; e->name; e++) {
            if (strcmp(e->name, s) == 0) {
                v->i = e->value;
                return OF_OK;
            }
        }
        size_t off = (size_t)snprintf(why, n, "expected one of");
        for (const cfg_enum_name *e = d->enums; e->name && off < n; e++)
            off += (size_t)snprintf(why + off, n - off, "%s %s", e == d->enums ? "" : ",", e->name);
        return OF_ERR_CONFIG;
    }
    case CT_KVLIST: {
        if (!*s) return OF_OK; /* the empty list */
        const char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, n, "expected \"name=value\"");
            return OF_ERR_CONFIG;
        }
        return kv_list_put(&v->kv, s, (size_t)(eq - s), eq + 1, false);
    }
    }
    of_assert_fail("unknown config type", __FILE__, __LINE__);
}

/* Bounds, non-empty and the validator. */
static bool check_value(const cfg_def *d, const cfg_val *v, char *why, size_t n)
{
    switch (d->type) {
    case CT_INT:
    case CT_DURATION:
    case CT_SIZE:
        if (v->i < d->min || v->i > d->max) {
            char got[32], lo[32], hi[32];
            format_number(d, v->i, got, sizeof(got));
            format_number(d, d->min, lo, sizeof(lo));
            format_number(d, d->max, hi, sizeof(hi));
            snprintf(why, n, "%s is out of range (%s..%s)", got, lo, hi);
            return false;
        }
        break;
    case CT_STRING:
        if ((d->flags & CF_NONEMPTY) && !*v->s) {
            snprintf(why, n, "must not be empty");
            return false;
        }
        break;
    default:
        break;
    }
    return d->validate ? d->validate(v, why, n) : true;
}

/* Moves v into the struct, freeing what it replaces. v is emptied. */
static void store_value(of_config *cfg, const cfg_def *d, cfg_val *v)
{
    void *f = field(cfg, d);
    switch (d->type) {
    case CT_STRING:
        free(*(char **)f);
        *(char **)f = v->s;
        v->s = NULL;
        break;
    case CT_INT:
        *(int *)f = (int)v->i; /* bounds checked to fit */
        break;
    case CT_BOOL:
        *(bool *)f = v->b;
        break;
    case CT_DURATION:
        *(int64_t *)f = v->i;
        break;
    case CT_SIZE:
        *(size_t *)f = (size_t)v->i;
        break;
    case CT_ENUM:
        *(int *)f = (int)v->i;
        break;
    case CT_KVLIST:
        kv_list_clear((of_kv_list *)f);
        *(of_kv_list *)f = v->kv;
        v->kv.items = NULL;
        v->kv.count = 0;
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Error collection                                                         */

/* Several problems, one per line, into the caller's errstr. */
typedef struct cfg_errs {
    char *buf;
    size_t size;
    size_t len;
    of_err first;
    int count;
} cfg_errs;

static void errs_init(cfg_errs *e, char *buf, size_t size)
{
    e->buf = buf;
    e->size = size;
    e->len = 0;
    e->first = OF_OK;
    e->count = 0;
    if (buf && size) buf[0] = '\0';
}

__attribute__((format(printf, 3, 4))) static void errs_add(cfg_errs *e, of_err err, const char *fmt,
                                                           ...)
{
    if (e->first == OF_OK) e->first = err;
    e->count++;
    if (!e->buf || e->len + 1 >= e->size) return;
    if (e->len > 0) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    size_t start = e->len;
    int w = vsnprintf(e->buf + start, e->size - start, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    e->len += (size_t)w;
    if (e->len >= e->size) e->len = e->size - 1; /* truncated */
    /* A line quotes the file's text (a key, a value), and errors are UTF-8 like every other
     * error text: a stray byte, or a character cut by the truncation, becomes '?'. */
    of_utf8_scrub(e->buf + start);
}

/* ------------------------------------------------------------------------ */
/* Defaults, free, set                                                      */

void of_config_clear(of_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < NDEFS; i++) {
        const cfg_def *d = &cfg_defs[i];
        if (d->type == CT_STRING) {
            char **s = field(cfg, d);
            free(*s);
        } else if (d->type == CT_KVLIST) {
            kv_list_clear(field(cfg, d));
        }
    }
    free(cfg->source);
    memset(cfg, 0, sizeof(*cfg));
}

of_err of_config_defaults(of_config *cfg, char *errstr, size_t errstr_size)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NDEFS; i++) {
        const cfg_def *d = &cfg_defs[i];
        char why[256] = "";
        cfg_val v;
        of_err rc = parse_string(d, d->def, &v, why, sizeof(why));
        if (rc == OF_ERR_NOMEM) {
            of_config_clear(cfg);
            return of_seterr(errstr, errstr_size, rc, "out of memory loading config defaults");
        }
        /* A default that does not pass its own checks is a bug in the table
         * (the unit test loads every default). */
        OF_ASSERT(rc == OF_OK);
        OF_ASSERT(check_value(d, &v, why, sizeof(why)));
        store_value(cfg, d, &v);
        val_clear(&v);
    }
    return OF_OK;
}

of_err of_config_set(of_config *cfg, const char *name, const char *value, char *errstr,
                     size_t errstr_size)
{
    const cfg_def *d = find_def(name);
    if (!d && is_api_key_name(leaf(name)))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: %s", name, API_KEY_HINT);
    if (!d) {
        const char *s = suggest_key(name);
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "unknown key '%s'%s%s%s", name,
                         s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    char why[512] = "";
    cfg_val v;
    of_err rc = parse_string(d, value, &v, why, sizeof(why));
    if (rc == OF_OK && d->type == CT_KVLIST) {
        /* Append to (or replace within) a copy of the current list. */
        const of_kv_list *cur = cfield(cfg, d);
        cfg_val merged;
        memset(&merged, 0, sizeof(merged));
        for (size_t i = 0; rc == OF_OK && i < cur->count; i++)
            rc = kv_list_put(&merged.kv, cur->items[i].key, strlen(cur->items[i].key),
                             cur->items[i].value, false);
        for (size_t i = 0; rc == OF_OK && i < v.kv.count; i++)
            rc = kv_list_put(&merged.kv, v.kv.items[i].key, strlen(v.kv.items[i].key),
                             v.kv.items[i].value, true);
        val_clear(&v);
        v = merged;
    }
    if (rc == OF_ERR_NOMEM) {
        val_clear(&v);
        return of_seterr(errstr, errstr_size, rc, "%s: out of memory", name);
    }
    if (rc == OF_OK && !check_value(d, &v, why, sizeof(why))) rc = OF_ERR_CONFIG;
    if (rc != OF_OK) {
        val_clear(&v);
        return of_seterr(errstr, errstr_size, rc, "%s: %s", name, why);
    }
    store_value(cfg, d, &v);
    val_clear(&v);
    return OF_OK;
}

/* ------------------------------------------------------------------------ */
/* Cross-key checks                                                         */

typedef struct cfg_cross {
    const char *key; /* the key the message is about (its line is quoted) */
    bool (*ok)(const of_config *cfg, char *why, size_t n);
} cfg_cross;

static bool x_connect_le_request(const of_config *c, char *why, size_t n)
{
    if (c->octopus.connect_timeout_ms <= c->octopus.request_timeout_ms) return true;
    snprintf(why, n, "must not exceed octopus.request_timeout");
    return false;
}

static bool x_request_le_deadline(const of_config *c, char *why, size_t n)
{
    if (c->octopus.request_timeout_ms <= c->octopus.retry_deadline_ms) return true;
    snprintf(why, n, "must not exceed octopus.retry_deadline (one attempt cannot outlast all)");
    return false;
}

static bool x_poll_lt_max_poll(const of_config *c, char *why, size_t n)
{
    if (c->worker.poll_interval_ms < c->worker.max_poll_interval_ms) return true;
    snprintf(why, n, "must be shorter than worker.max_poll_interval");
    return false;
}

static bool x_slack_mode(const of_config *c, char *why, size_t n)
{
    if (c->notify.mode != OF_NOTIFY_SLACK) return true;
    if (c->notify.format != OF_NOTIFY_FMT_SLACK)
        snprintf(why, n, "slack takes notify.format \"slack\"");
    else if (!c->notify.channel || !*c->notify.channel)
        snprintf(why, n, "slack needs notify.channel (the channel's id)");
    else
        return true;
    return false;
}

static const cfg_cross cfg_crosses[] = {
    {"octopus.connect_timeout", x_connect_le_request},
    {"octopus.request_timeout", x_request_le_deadline},
    {"worker.poll_interval", x_poll_lt_max_poll},
    {"notify.mode", x_slack_mode},
};

/* Location prefix for a key: "file:line: " when the key was read from a
 * file, "file: " when only the file is known, "" otherwise. */
static void where(char *out, size_t n, const char *file, unsigned line)
{
    if (file && line)
        snprintf(out, n, "%s:%u: ", file, line);
    else if (file)
        snprintf(out, n, "%s: ", file);
    else if (n)
        out[0] = '\0';
}

static void run_cross_checks(const of_config *cfg, const unsigned *lines, const char *const *files,
                             cfg_errs *e)
{
    for (size_t i = 0; i < sizeof(cfg_crosses) / sizeof(cfg_crosses[0]); i++) {
        char why[256] = "", loc[300];
        if (cfg_crosses[i].ok(cfg, why, sizeof(why))) continue;
        const cfg_def *d = find_def(cfg_crosses[i].key);
        OF_ASSERT(d != NULL);
        size_t idx = (size_t)(d - cfg_defs);
        where(loc, sizeof(loc), files && files[idx] ? files[idx] : cfg->source,
              lines ? lines[idx] : 0);
        errs_add(e, OF_ERR_CONFIG, "%s%s: %s", loc, d->name, why);
    }
}

of_err of_config_check(const of_config *cfg, of_config_role role, char *errstr, size_t errstr_size)
{
    cfg_errs e;
    errs_init(&e, errstr, errstr_size);
    run_cross_checks(cfg, NULL, NULL, &e);
    if ((role == OF_ROLE_PRODUCER || role == OF_ROLE_WORKER) &&
        (!cfg->octopus.url || !*cfg->octopus.url)) {
        char loc[300];
        where(loc, sizeof(loc), cfg->source, 0);
        errs_add(&e, OF_ERR_CONFIG,
                 "%soctopus.url: required by the %s (the Octopus Server URL, e.g. "
                 "\"https://octopus.example.com\")",
                 loc, role == OF_ROLE_PRODUCER ? "producer" : "worker");
    }
    return e.first;
}

/* ------------------------------------------------------------------------ */
/* Loading a libconfig file                                                 */

typedef struct cfg_load {
    of_config *cfg;
    const char *name; /* file name for messages when libconfig has none */
    cfg_errs errs;
    unsigned lines[NDEFS]; /* where each key was set, 0 when defaulted */
    const char *files[NDEFS];
    const char *text; /* the loaded text (settings libconfig gives no file for) */
    char *inc_path;   /* the @include file last read again for int_literal, owned */
    char *inc_text;
} cfg_load;

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a bool";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "an unknown type";
    }
}

static void setting_where(const cfg_load *ld, const config_setting_t *s, char *out, size_t n)
{
    const char *file = config_setting_source_file(s);
    where(out, n, file ? file : ld->name, config_setting_source_line(s));
}

/* One element of a key/value list: ["name", "value"] / ("name", "value"),
 * or "name=value". */
static of_err parse_kv_elem(const config_setting_t *el, of_kv_list *kv, char *why, size_t n)
{
    int t = config_setting_type(el);
    if (t == CONFIG_TYPE_STRING) {
        const char *s = config_setting_get_string(el);
        const char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, n,
                     "expected \"name=value\" or [\"name\", \"value\"], got a string "
                     "without '='");
            return OF_ERR_CONFIG;
        }
        return kv_list_put(kv, s, (size_t)(eq - s), eq + 1, false);
    }
    if ((t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) && config_setting_length(el) == 2) {
        const config_setting_t *k = config_setting_get_elem(el, 0);
        const config_setting_t *v = config_setting_get_elem(el, 1);
        if (config_setting_type(k) == CONFIG_TYPE_STRING &&
            config_setting_type(v) == CONFIG_TYPE_STRING) {
            const char *ks = config_setting_get_string(k);
            return kv_list_put(kv, ks, strlen(ks), config_setting_get_string(v), false);
        }
    }
    snprintf(why, n, "expected \"name=value\" or [\"name\", \"value\"], got %s", type_name(t));
    return OF_ERR_CONFIG;
}

/* Parses a libconfig setting for d into v. */
static of_err parse_setting(const cfg_def *d, const config_setting_t *s, cfg_val *v, char *why,
                            size_t n)
{
    memset(v, 0, sizeof(*v));
    int t = config_setting_type(s);
    bool is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    switch (d->type) {
    case CT_STRING:
    case CT_ENUM:
        if (t != CONFIG_TYPE_STRING) break;
        return parse_string(d, config_setting_get_string(s), v, why, n);
    case CT_INT:
        if (!is_int) break;
        v->i = config_setting_get_int64(s);
        return OF_OK;
    case CT_BOOL:
        if (t != CONFIG_TYPE_BOOL) break;
        v->b = config_setting_get_bool(s) != 0;
        return OF_OK;
    case CT_DURATION:
    case CT_SIZE:
        if (is_int) { /* a duration's unit is checked by duration_unit, after fix_int */
            v->i = config_setting_get_int64(s);
            return OF_OK;
        }
        if (t != CONFIG_TYPE_STRING) break;
        return parse_string(d, config_setting_get_string(s), v, why, n);
    case CT_KVLIST: {
        if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) break;
        int len = config_setting_length(s);
        for (int i = 0; i < len; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            of_err rc = parse_kv_elem(el, &v->kv, why, n);
            if (rc != OF_OK) {
                /* Report the key's own line: libconfig's line for a list
                 * element can be one past it (parser lookahead). */
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "entry %d: %s", i + 1, why);
                snprintf(why, n, "%s", tmp);
                return rc;
            }
        }
        return OF_OK;
    }
    }
    static const char *const expected[] = {
        [CT_STRING] = "a string",
        [CT_INT] = "an integer",
        [CT_BOOL] = "true or false",
        [CT_DURATION] = "a duration (a string like \"500ms\", \"30s\", \"5m\", \"2h\")",
        [CT_SIZE] = "a size (bytes, or a string like \"8MiB\")",
        [CT_ENUM] = "a string",
        [CT_KVLIST] = "a list of [\"name\", \"value\"] pairs or \"name=value\" strings",
    };
    snprintf(why, n, "expected %s, got %s", expected[d->type], type_name(t));
    return OF_ERR_CONFIG;
}

/* The text a setting was read from: the loaded text, or its @include file
 * (read again, the last one cached in ld). NULL when unavailable. */
static const char *source_text(cfg_load *ld, const config_setting_t *s)
{
    const char *file = config_setting_source_file(s);
    if (!file) return ld->text;
    if (ld->inc_path && strcmp(ld->inc_path, file) == 0) return ld->inc_text;
    free(ld->inc_path);
    free(ld->inc_text);
    ld->inc_text = NULL;
    ld->inc_path = strdup(file);
    of_buf b;
    of_buf_init(&b, OF_CONFIG_MAX_FILE);
    if (ld->inc_path && of_buf_read_file(&b, file, NULL, 0) == OF_OK)
        ld->inc_text = of_buf_detach(&b);
    of_buf_clear(&b);
    return ld->inc_text;
}

/* libconfig 1.5 silently keeps an integer written without an L suffix in 32
 * bits (5000000000 reads as 705032704, 99999999999999999999 as -1) and
 * saturates one with L. So the literal is read again from the text, near
 * the setting's line: "name = <literal>" (or ':'). Returns 0 with *out set,
 * 1 when it does not fit 64 bits (lit holds it as written), -1 when it
 * cannot be found or does not agree with what libconfig read (then
 * libconfig's value stands). */
static int int_literal(cfg_load *ld, const config_setting_t *s, int64_t *out, char *lit,
                       size_t lit_size)
{
    const char *text = source_text(ld, s);
    const char *name = config_setting_name(s);
    unsigned line = config_setting_source_line(s);
    if (!text || !name || !line) return -1;
    size_t nl = strlen(name);
    unsigned l = 1, first = line > 1 ? line - 1 : 1; /* libconfig's line can be one off */
    const char *p = text;
    for (; *p && l < first; p++)
        l += *p == '\n';
    for (; *p && l <= line + 1; p++) {
        if (*p == '\n') l++;
        if (strncmp(p, name, nl) != 0) continue;
        if (p > text && (isalnum((unsigned char)p[-1]) || strchr("_-*", p[-1]))) continue;
        const char *q = p + nl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=' && *q != ':') continue;
        q++;
        while (isspace((unsigned char)*q))
            q++;
        const char *t = q;
        bool hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
        if (!hex && (*q == '-' || *q == '+')) q++;
        if (!isdigit((unsigned char)*q)) return -1;
        char *end;
        errno = 0;
        long long x = strtoll(t, &end, hex ? 16 : 10);
        bool range = errno == ERANGE;
        const char *e = end;
        while (*e == 'L')
            e++;
        if (isalnum((unsigned char)*e) || *e == '.') return -1; /* not an integer literal */
        int64_t got = config_setting_get_int64(s);
        if (config_setting_type(s) == CONFIG_TYPE_INT) {
            /* what libconfig keeps of it: the low 32 bits */
            int64_t low = (int64_t)(int32_t)(uint32_t)((uint64_t)x & 0xffffffffu);
            if (low != got) return -1;
        } else if (x != got) {
            return -1;
        }
        if (range) {
            snprintf(lit, lit_size, "%.*s", (int)(end - t), t);
            return 1;
        }
        *out = x;
        return 0;
    }
    return -1;
}

/* After parse_setting: puts the integer as written into v (see
 * int_literal), or reports one too large for 64 bits. */
static of_err fix_int(cfg_load *ld, const cfg_def *d, const config_setting_t *s, cfg_val *v,
                      char *why, size_t n)
{
    int t = config_setting_type(s);
    if ((t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) ||
        (d->type != CT_INT && d->type != CT_DURATION && d->type != CT_SIZE))
        return OF_OK;
    char lit[64];
    int64_t x;
    int r = int_literal(ld, s, &x, lit, sizeof(lit));
    if (r == 1) return too_big(d, lit, why, n);
    if (r == 0) v->i = x;
    return OF_OK;
}

/* After fix_int: a duration written as an integer has no unit, and a bare number means
 * seconds to some readers and milliseconds to others (of_duration_parse); only 0 is the same
 * in every unit. A negative one is left to the range check. */
static of_err duration_unit(const cfg_def *d, const config_setting_t *s, const cfg_val *v,
                            char *why, size_t n)
{
    int t = config_setting_type(s);
    if (d->type != CT_DURATION || (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) || v->i <= 0)
        return OF_OK;
    long long x = (long long)v->i;
    snprintf(why, n, "%lld has no unit: write \"%lldms\" or \"%llds\"", x, x, x);
    return OF_ERR_CONFIG;
}

static void load_key(cfg_load *ld, const char *group, const config_setting_t *s)
{
    char loc[300], dotted[256];
    const char *key = config_setting_name(s);
    setting_where(ld, s, loc, sizeof(loc));
    if (group)
        snprintf(dotted, sizeof(dotted), "%s.%s", group, key);
    else
        snprintf(dotted, sizeof(dotted), "%s", key);

    if (is_api_key_name(key)) {
        errs_add(&ld->errs, OF_ERR_CONFIG, "%s%s: %s", loc, dotted, API_KEY_HINT);
        return;
    }
    const cfg_def *d = group ? find_def(dotted) : NULL;
    if (!d) {
        const char *sug = suggest_key(dotted);
        errs_add(&ld->errs, OF_ERR_CONFIG, "%sunknown key '%s'%s%s%s", loc, dotted,
                 sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        return;
    }
    size_t idx = (size_t)(d - cfg_defs);
    char why[512] = "";
    cfg_val v;
    of_err rc = parse_setting(d, s, &v, why, sizeof(why));
    if (rc == OF_OK) rc = fix_int(ld, d, s, &v, why, sizeof(why));
    if (rc == OF_OK) rc = duration_unit(d, s, &v, why, sizeof(why));
    if (rc == OF_OK && !check_value(d, &v, why, sizeof(why))) rc = OF_ERR_CONFIG;
    if (rc != OF_OK) {
        if (rc == OF_ERR_NOMEM)
            errs_add(&ld->errs, rc, "%s%s: out of memory", loc, d->name);
        else
            errs_add(&ld->errs, rc, "%s%s: %s", loc, d->name, why);
        val_clear(&v);
        return;
    }
    store_value(ld->cfg, d, &v);
    val_clear(&v);
    ld->lines[idx] = config_setting_source_line(s);
    ld->files[idx] = config_setting_source_file(s);
}

static void load_root(cfg_load *ld, const config_setting_t *root)
{
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        char loc[300];
        setting_where(ld, s, loc, sizeof(loc));
        const cfg_group *g = find_group(name);
        if (!g) {
            if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                load_key(ld, NULL, s); /* reports unknown key, with a hint */
                continue;
            }
            const char *sug = suggest_group(name);
            errs_add(&ld->errs, OF_ERR_CONFIG, "%sunknown group '%s'%s%s%s", loc, name,
                     sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
            continue;
        }
        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
            errs_add(&ld->errs, OF_ERR_CONFIG, "%s%s: expected a group { ... }, got %s", loc, name,
                     type_name(config_setting_type(s)));
            continue;
        }
        int m = config_setting_length(s);
        for (int j = 0; j < m; j++)
            load_key(ld, g->name, config_setting_get_elem(s, (unsigned)j));
    }
}

/* Shared tail of the two loaders: lc has been read (or failed to). */
static of_err load_parsed(of_config *cfg, config_t *lc, int read_ok, const char *name,
                          const char *src, char *errstr, size_t errstr_size)
{
    cfg_load *ld = calloc(1, sizeof(*ld));
    if (!ld) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    ld->cfg = cfg;
    ld->name = name;
    ld->text = src;
    errs_init(&ld->errs, errstr, errstr_size);

    of_err rc = of_config_defaults(cfg, errstr, errstr_size);
    if (rc != OF_OK) goto out;
    cfg->source = strdup(name);
    if (!cfg->source) {
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!read_ok) {
        const char *file = config_error_file(lc);
        char loc[300];
        where(loc, sizeof(loc), file ? file : name, (unsigned)config_error_line(lc));
        const char *text = config_error_text(lc);
        errs_add(&ld->errs, config_error_type(lc) == CONFIG_ERR_FILE_IO ? OF_ERR_IO : OF_ERR_CONFIG,
                 "%s%s", loc, text ? text : "cannot parse");
    } else {
        load_root(ld, config_root_setting(lc));
        run_cross_checks(cfg, ld->lines, ld->files, &ld->errs);
    }
    rc = ld->errs.first;
out:
    if (rc != OF_OK) of_config_clear(cfg);
    free(ld->inc_path);
    free(ld->inc_text);
    free(ld);
    return rc;
}

of_err of_config_load_file(of_config *cfg, const char *path, char *errstr, size_t errstr_size)
{
    memset(cfg, 0, sizeof(*cfg));
    /* Read the file ourselves and parse the text: libconfig only says "file
     * I/O error", and would wait forever on a FIFO. A directory, FIFO or
     * device is refused (without blocking) as a configuration error. */
    of_buf text;
    of_buf_init(&text, OF_CONFIG_MAX_FILE);
    char why[1200];
    of_err rc = of_buf_read_file(&text, path, why, sizeof(why));
    if (rc != OF_OK) {
        of_buf_clear(&text);
        return of_seterr(errstr, errstr_size,
                         rc == OF_ERR_INVALID || rc == OF_ERR_TOO_LARGE ? OF_ERR_CONFIG : rc, "%s",
                         why);
    }

    /* @include paths are relative to the including file's directory. */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");

    config_t lc;
    config_init(&lc);
    config_set_include_dir(&lc, dir);
    const char *t = text.data ? text.data : "";
    int ok = config_read_string(&lc, t);
    rc = load_parsed(cfg, &lc, ok == CONFIG_TRUE, path, t, errstr, errstr_size);
    config_destroy(&lc);
    of_buf_clear(&text);
    return rc;
}

of_err of_config_load_string(of_config *cfg, const char *text, const char *name, char *errstr,
                             size_t errstr_size)
{
    memset(cfg, 0, sizeof(*cfg));
    config_t lc;
    config_init(&lc);
    int ok = config_read_string(&lc, text);
    of_err rc = load_parsed(cfg, &lc, ok == CONFIG_TRUE, name ? name : "<string>", text, errstr,
                            errstr_size);
    config_destroy(&lc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Writing: dump, example, docs                                             */

/* Appends s as a libconfig string literal. */
static of_err put_quoted(of_buf *out, const char *s)
{
    of_err rc = of_buf_puts(out, "\"");
    for (const unsigned char *p = (const unsigned char *)s; rc == OF_OK && *p; p++) {
        switch (*p) {
        case '"':
            rc = of_buf_puts(out, "\\\"");
            break;
        case '\\':
            rc = of_buf_puts(out, "\\\\");
            break;
        case '\n':
            rc = of_buf_puts(out, "\\n");
            break;
        case '\t':
            rc = of_buf_puts(out, "\\t");
            break;
        case '\r':
            rc = of_buf_puts(out, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                rc = of_buf_printf(out, "\\x%02x", *p);
            else
                rc = of_buf_append(out, p, 1);
        }
    }
    if (rc == OF_OK) rc = of_buf_puts(out, "\"");
    return rc;
}

/* Appends the value of d in cfg in libconfig syntax (no newline). */
static of_err put_value(of_buf *out, const of_config *cfg, const cfg_def *d, bool mask,
                        const char *indent)
{
    const void *f = cfield(cfg, d);
    char tmp[64];
    if (mask && (d->flags & CF_SECRET)) return of_buf_puts(out, "\"****\"");
    switch (d->type) {
    case CT_STRING: {
        const char *s = *(char *const *)f;
        if (mask && (d->flags & CF_URL) && s && strchr(s, '@')) {
            size_t n = strlen(s) + 4; /* masking adds at most "***" */
            char *url = malloc(n);
            if (!url) return OF_ERR_NOMEM;
            of_err rc = put_quoted(out, of_secret_mask_url(s, url, n));
            free(url);
            return rc;
        }
        return put_quoted(out, s ? s : "");
    }
    case CT_INT:
        return of_buf_printf(out, "%d", *(const int *)f);
    case CT_BOOL:
        return of_buf_puts(out, *(const bool *)f ? "true" : "false");
    case CT_DURATION:
        format_duration(*(const int64_t *)f, tmp, sizeof(tmp));
        return put_quoted(out, tmp);
    case CT_SIZE:
        format_size((int64_t) * (const size_t *)f, tmp, sizeof(tmp));
        return put_quoted(out, tmp);
    case CT_ENUM: {
        int v = *(const int *)f;
        for (const cfg_enum_name *e = d->enums; e->name; e++)
            if (e->value == v) return put_quoted(out, e->name);
        of_assert_fail("enum value without a name", __FILE__, __LINE__);
    }
    case CT_KVLIST: {
        const of_kv_list *l = f;
        if (l->count == 0) return of_buf_puts(out, "( )");
        of_err rc = of_buf_puts(out, "(\n");
        for (size_t i = 0; rc == OF_OK && i < l->count; i++) {
            rc = of_buf_printf(out, "%s    [", indent);
            if (rc == OF_OK) rc = put_quoted(out, l->items[i].key);
            if (rc == OF_OK) rc = of_buf_puts(out, ", ");
            if (rc == OF_OK)
                rc = put_quoted(out, mask && secret_property(l->items[i].key) ? "****"
                                                                              : l->items[i].value);
            if (rc == OF_OK) rc = of_buf_puts(out, i + 1 < l->count ? "],\n" : "]\n");
        }
        if (rc == OF_OK) rc = of_buf_printf(out, "%s)", indent);
        return rc;
    }
    }
    of_assert_fail("unknown config type", __FILE__, __LINE__);
}

/* Appends text as "# "-comment lines wrapped at about 80 columns. */
static of_err put_comment(of_buf *out, const char *indent, const char *text)
{
    const size_t width = 76;
    of_err rc = OF_OK;
    const char *p = text;
    while (rc == OF_OK && *p) {
        size_t len = strlen(p), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0) cut = width;
        }
        rc = of_buf_printf(out, "%s# %.*s\n", indent, (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
    return rc;
}

static of_err write_groups(of_buf *out, const of_config *cfg, bool example)
{
    of_err rc = OF_OK;
    for (size_t g = 0; rc == OF_OK && g < NGROUPS; g++) {
        const char *gname = cfg_groups[g].name;
        size_t glen = strlen(gname);
        if (example) {
            rc = of_buf_puts(out, "\n");
            if (rc == OF_OK) rc = put_comment(out, "", cfg_groups[g].help);
        }
        if (rc == OF_OK) rc = of_buf_printf(out, "%s = {\n", gname);
        bool first = true;
        for (size_t i = 0; rc == OF_OK && i < NDEFS; i++) {
            const cfg_def *d = &cfg_defs[i];
            if (strncmp(d->name, gname, glen) != 0 || d->name[glen] != '.') continue;
            if (example) {
                if (!first) rc = of_buf_puts(out, "\n");
                if (rc == OF_OK) rc = put_comment(out, "    ", d->help);
            }
            first = false;
            if (rc == OF_OK) rc = of_buf_printf(out, "    %s = ", leaf(d->name));
            if (rc == OF_OK) rc = put_value(out, cfg, d, true, "    ");
            if (rc == OF_OK) rc = of_buf_puts(out, ";\n");
            if (rc == OF_OK && example && d->example)
                rc = of_buf_printf(out, "    # e.g. %s = %s;\n", leaf(d->name), d->example);
        }
        if (rc == OF_OK) rc = of_buf_puts(out, "};\n");
    }
    return rc;
}

of_err of_config_dump(const of_config *cfg, of_buf *out)
{
    of_err rc =
        of_buf_printf(out,
                      "# octofleet effective configuration%s%s; secrets shown as "
                      "\"****\".\n",
                      cfg->source ? " from " : " (defaults)", cfg->source ? cfg->source : "");
    if (rc == OF_OK) rc = write_groups(out, cfg, false);
    return rc;
}

of_err of_config_write_example(of_buf *out)
{
    of_config defaults;
    of_err rc = of_config_defaults(&defaults, NULL, 0);
    if (rc != OF_OK) return rc;
    rc = of_buf_puts(
        out, "# octofleet configuration example (libconfig syntax).\n"
             "#\n"
             "# Generated from the key table in common/config/config.c (of_config_write_example);\n"
             "# do not edit by hand: tests/unit/test_config.c fails when they differ.\n"
             "# Every key is shown with its default; delete what you do not change.\n"
             "# Durations are strings with a unit, such as \"500ms\", \"30s\", \"5m\", "
             "\"1h30m\" (only 0 goes without);\n"
             "# sizes are bytes or strings such as \"512KiB\", \"8MiB\".\n"
             "# Unknown keys are errors. See docs/configuration.md.\n");
    if (rc == OF_OK) rc = write_groups(out, &defaults, true);
    of_config_clear(&defaults);
    return rc;
}

of_err of_config_format_value(const of_config *cfg, const char *name, of_buf *out)
{
    const cfg_def *d = find_def(name);
    if (!d) return OF_ERR_NOT_FOUND;
    return put_value(out, cfg, d, true, "");
}

/* Appends s for a Markdown table cell: '|' escaped, and '<' '>' so that
 * "<prefix>" is not swallowed as an HTML tag. */
static of_err put_cell(of_buf *out, const char *s)
{
    of_err rc = OF_OK;
    for (const char *p = s; rc == OF_OK && *p; p++) {
        if (*p == '|')
            rc = of_buf_puts(out, "\\|");
        else if (*p == '<')
            rc = of_buf_puts(out, "&lt;");
        else if (*p == '>')
            rc = of_buf_puts(out, "&gt;");
        else
            rc = of_buf_append(out, p, 1);
    }
    return rc;
}

of_err of_config_write_doc_table(of_buf *out)
{
    static const char *const type_names[] = {
        [CT_STRING] = "string",          [CT_INT] = "integer", [CT_BOOL] = "bool",
        [CT_DURATION] = "duration",      [CT_SIZE] = "size",   [CT_ENUM] = "enum",
        [CT_KVLIST] = "name/value list",
    };
    of_config defaults;
    of_err rc = of_config_defaults(&defaults, NULL, 0);
    if (rc != OF_OK) return rc;
    rc = of_buf_puts(out, "| Key | Type | Default | Range | Description |\n"
                          "|---|---|---|---|---|\n");
    for (size_t i = 0; rc == OF_OK && i < NDEFS; i++) {
        const cfg_def *d = &cfg_defs[i];
        char lo[32], hi[32];
        of_buf val;
        of_buf_init(&val, 4096);
        rc = put_value(&val, &defaults, d, true, "");
        if (rc == OF_OK) rc = of_buf_printf(out, "| `%s` | %s | `", d->name, type_names[d->type]);
        if (rc == OF_OK) rc = put_cell(out, val.data ? val.data : "");
        of_buf_clear(&val);
        if (rc == OF_OK) rc = of_buf_puts(out, "` | ");
        if (rc == OF_OK && (d->type == CT_INT || d->type == CT_DURATION || d->type == CT_SIZE)) {
            format_number(d, d->min, lo, sizeof(lo));
            format_number(d, d->max, hi, sizeof(hi));
            rc = of_buf_printf(out, "%s..%s", lo, hi);
        } else if (rc == OF_OK && d->type == CT_ENUM) {
            for (const cfg_enum_name *e = d->enums; rc == OF_OK && e->name; e++)
                rc = of_buf_printf(out, "%s%s", e == d->enums ? "" : ", ", e->name);
        }
        if (rc == OF_OK) rc = of_buf_puts(out, " | ");
        if (rc == OF_OK) rc = put_cell(out, d->help);
        if (rc == OF_OK) rc = of_buf_puts(out, " |\n");
    }
    of_config_clear(&defaults);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */

of_err of_config_topic(const of_config *cfg, const char *name, char *out, size_t out_size)
{
    int w = snprintf(out, out_size, "%s%s", cfg->topics.prefix ? cfg->topics.prefix : "", name);
    if (w < 0 || (size_t)w >= out_size) return OF_ERR_TOO_LARGE;
    return OF_OK;
}

of_err of_config_jobs_topic(const of_config *cfg, int stage, char *out, size_t out_size)
{
    if (stage < 1 || stage > cfg->topics.max_stages) return OF_ERR_INVALID;
    int w =
        snprintf(out, out_size, "%sjobs.s%d", cfg->topics.prefix ? cfg->topics.prefix : "", stage);
    if (w < 0 || (size_t)w >= out_size) return OF_ERR_TOO_LARGE;
    return OF_OK;
}

of_err of_config_worker_name(const of_config *cfg, char *out, size_t out_size)
{
    int w;
    if (cfg->worker.name && *cfg->worker.name) {
        w = snprintf(out, out_size, "%s", cfg->worker.name);
    } else {
        char host[256];
        if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        w = snprintf(out, out_size, "%s-%ld", host, (long)getpid());
    }
    if (w < 0 || (size_t)w >= out_size) return OF_ERR_TOO_LARGE;
    return OF_OK;
}

const char *of_config_kafka_property(const of_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka.properties.count; i++)
        if (strcmp(cfg->kafka.properties.items[i].key, key) == 0)
            return cfg->kafka.properties.items[i].value;
    return NULL;
}
