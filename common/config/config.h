/* octofleet configuration: one table, typed struct, no globals.
 *
 * A single static table in config.c describes every key (dotted name, type,
 * default, bounds, validator, secret flag, help text). The same table
 *   - fills the defaults (of_config_defaults),
 *   - loads a libconfig file and rejects unknown keys, wrong types and
 *     out-of-range values with `file:line: key: why` (of_config_load_file),
 *   - sets single keys from strings, e.g. command-line overrides (of_config_set),
 *   - prints the effective config as a valid libconfig file with secrets
 *     masked (of_config_dump, for --dump-config),
 *   - writes the documented example config and the docs table
 *     (of_config_write_example, of_config_write_doc_table).
 *
 * This is the only module that includes <libconfig.h>. Every string in
 * of_config is a heap copy owned by the struct, so nothing points into
 * libconfig memory after loading. The struct is owned by the caller and
 * released with of_config_clear(); there is no global config: daemons get a
 * `const of_config *` (or the sub-struct they need) through their context.
 *
 * Errors: functions that can find several problems (load, check) collect all
 * of them, one per line (`\n`-separated), into errstr, truncated at
 * errstr_size; the return value is the of_err of the first problem
 * (OF_ERR_CONFIG for anything the user wrote, OF_ERR_IO for an unreadable
 * file, OF_ERR_NOMEM). Values the user wrote are quoted escaped (one line, no
 * terminal codes), credentials in a URL masked, secrets never.
 *
 * The Octopus API key is never part of the config; see secret.h. */
#ifndef OF_CONFIG_H
#define OF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "log.h"

/* One "key=value" pair, e.g. a librdkafka property. Both strings owned. */
typedef struct of_kv {
    char *key;
    char *value;
} of_kv;

/* A list of pairs in file order. items is NULL when count is 0. */
typedef struct of_kv_list {
    of_kv *items;
    size_t count;
} of_kv_list;

/* Group `kafka`: shared by the producer, the workers and the CLI. */
typedef struct of_config_kafka {
    char *bootstrap_servers; /* "host:port,host:port" */
    char *client_id;
    /* Passed straight to librdkafka (rd_kafka_conf_set) in order. Loading
     * rejects the properties octofleet manages itself (bootstrap.servers,
     * client.id, group.id, transactional.id, enable.idempotence,
     * enable.auto.commit, enable.auto.offset.store, isolation.level,
     * partition.assignment.strategy, max.poll.interval.ms), so applying these
     * after octofleet's own settings cannot undo a guarantee. May hold
     * secrets (sasl.password): never log values. */
    of_kv_list properties;
} of_config_kafka;

/* Group `topics`. Topic names are "<prefix><name>"; see of_config_topic(). */
typedef struct of_config_topics {
    char *prefix;
    int partitions;
    int replication_factor;
    int max_stages; /* jobs topics <prefix>jobs.s1 .. <prefix>jobs.s<max_stages> */
    bool create;    /* create missing topics at start-up */
    /* Topic-level configs ("min.insync.replicas", "2") for topics octofleet
     * creates. */
    of_kv_list configs;
} of_config_topics;

/* Group `octopus`: the Octopus REST API client. */
typedef struct of_config_octopus {
    char *url;          /* "" when not set; required by producer and worker */
    char *space;        /* space name or id ("Spaces-1") */
    char *api_key_file; /* "" means: read env OCTOPUS_API_KEY (secret.h) */
    char *ca_file;      /* "" means: the system CA bundle */
    bool tls_verify;
    int64_t connect_timeout_ms;
    int64_t request_timeout_ms; /* one HTTP attempt */
    int64_t retry_deadline_ms;  /* all attempts of one logical request */
    int max_concurrent_requests;
    int task_poll_chunk; /* task ids per GET /api/tasks?ids=... */
    size_t max_response_bytes;
    int64_t task_unreadable_ms;  /* a task unreadable this long (and 3 polls) fails its job */
    int task_budget;             /* octopus.task_budget: 0 = automatic (docs/gating.md) */
    int task_budget_headroom;    /* octopus.task_budget_headroom: most % over the cap */
    int64_t task_cap_refresh_ms; /* octopus.task_cap_refresh: re-read the cap; 0 = never */
    /* the hold on Octopus trouble (common/octopus/octo_hold.h, docs/reliability.md) */
    int hold_error_percent;         /* octopus.hold_error_percent: 0 = off */
    int hold_throttle_percent;      /* octopus.hold_throttle_percent: 0 = off */
    int64_t hold_window_ms;         /* octopus.hold_window */
    int hold_min_requests;          /* octopus.hold_min_requests */
    int64_t hold_probe_interval_ms; /* octopus.hold_probe_interval */
} of_config_octopus;

/* Group `producer`. */
typedef struct of_config_producer {
    char *group_id;
    char *transactional_id;
    int64_t batch_window_ms;      /* producer.batch_window */
    int batch_max;                /* producer.batch_max */
    int64_t release_retention_ms; /* producer.release_retention: 0 = evict once final */
    char *metrics_listen;         /* "host:port" of /metrics, /healthz, /readyz; "" = off */
} of_config_producer;

/* worker.completion_source: how a worker notices that its tasks finished (docs/octopus.md). */
typedef enum of_completion_source {
    OF_COMPLETION_EVENTS = 0, /* "events": Octopus's event feed, task_check_interval safety net */
    OF_COMPLETION_POLL,       /* "poll": read every in-flight task each poll_interval */
} of_completion_source;

/* worker.assignment: how the worker group shares the stage topics' partitions
 * (docs/operations.md, "Rebalances"). */
typedef enum of_worker_assignment {
    OF_ASSIGN_COOPERATIVE = 0, /* "cooperative": cooperative-sticky, only what must move moves */
    OF_ASSIGN_ROUNDROBIN,      /* "roundrobin": eager; every rebalance spreads every topic */
} of_worker_assignment;

/* Group `worker`. */
typedef struct of_config_worker {
    char *group_id;
    char *name; /* "" means hostname-pid; see of_config_worker_name() */
    int max_in_flight;
    int64_t poll_interval_ms;               /* how often in-flight Octopus tasks are polled */
    int64_t drain_timeout_ms;               /* on stop: how long to wait for in-flight jobs */
    int64_t max_poll_interval_ms;           /* librdkafka max.poll.interval.ms */
    of_completion_source completion_source; /* worker.completion_source */
    of_worker_assignment assignment;        /* worker.assignment */
    int feed_filter_max;                    /* worker.feed_filter_max: 0 = never filter */
    int64_t task_check_interval_ms;         /* events: the safety net's full task poll */
    int64_t feed_busy_interval_ms;          /* events: the feed's cadence while it finds work */
    char *metrics_listen;                   /* "host:port" of /metrics, ...; "" = off */
} of_config_worker;

/* notify.mode: how the notifier creates and updates its message (docs/operations.md). */
typedef enum of_notify_mode {
    OF_NOTIFY_WEBHOOK = 0, /* "webhook": POST <url> creates, PUT <url>/<id> updates */
    OF_NOTIFY_SLACK,       /* "slack": <url>/chat.postMessage, then <url>/chat.update with ts */
} of_notify_mode;

/* notify.format: the JSON body's flavour. */
typedef enum of_notify_format {
    OF_NOTIFY_FMT_SLACK = 0, /* {"text", "blocks"} (Slack Block Kit) */
    OF_NOTIFY_FMT_TEAMS,     /* {"text", "attachments": [Adaptive Card]} */
} of_notify_format;

/* Group `notify`: the notifier daemon (`octofleet notify`). */
typedef struct of_config_notify {
    of_notify_mode mode;
    of_notify_format format;
    char *url_file;   /* "" means: env OCTOFLEET_NOTIFY_URL */
    char *token_file; /* "" means: env OCTOFLEET_NOTIFY_TOKEN (optional for webhook) */
    char *channel;    /* Slack channel id (mode slack) */
    char *group_id;
    char *from;                 /* "end" or "beginning": where a group without a position starts */
    char *state_file;           /* message ids per release */
    int64_t min_interval_ms;    /* at most one update per release per this */
    int64_t request_timeout_ms; /* one HTTP attempt */
    int64_t retry_deadline_ms;  /* all attempts of one send */
} of_config_notify;

/* Group `log`. */
typedef struct of_config_security {
    /* File holding the fleet key for message authentication (common/guard/guard.h); "" means the
     * environment variable OCTOFLEET_FLEET_KEY; neither: authentication off. */
    char *fleet_key_file;
} of_config_security;

typedef struct of_config_log {
    of_log_level level;
} of_config_log;

typedef struct of_config {
    char *source; /* file the config was loaded from; NULL for defaults only */
    of_config_kafka kafka;
    of_config_topics topics;
    of_config_octopus octopus;
    of_config_producer producer;
    of_config_worker worker;
    of_config_notify notify;
    of_config_security security;
    of_config_log log;
} of_config;

/* Which program will use the config: of_config_check() enforces the keys
 * that program needs (octopus.url for producer and worker). */
typedef enum of_config_role {
    OF_ROLE_ANY = 0, /* CLI commands that need no server */
    OF_ROLE_PRODUCER,
    OF_ROLE_WORKER,
} of_config_role;

/* Fills cfg with the defaults of every key. cfg is overwritten, not freed
 * first: pass an uninitialised or freed struct. On failure (OF_ERR_NOMEM)
 * cfg is left freed (safe to pass to of_config_clear). */
OF_MUST_CHECK of_err of_config_defaults(of_config *cfg, char *errstr, size_t errstr_size);

/* Largest config file accepted (of_config_load_file). */
#define OF_CONFIG_MAX_FILE (1024 * 1024)

/* Loads a libconfig file over the defaults. Unknown groups/keys, wrong
 * types, out-of-range values and cross-key problems are all reported, one
 * per line, as "file:line: key: why" (unknown keys get a "did you mean").
 * Besides each key's type and range this checks: durations and sizes
 * ("\"30x\" is not a duration ..." vs "2h is out of range (1s..1h)"),
 * integers too large for 64 bits ("99999999999999999999 is too large"),
 * octopus.url (scheme, host, IPv6 brackets, port 1..65535) and every
 * kafka.properties entry against librdkafka (of_kafka_prop_check).
 * path must be a regular file: a directory, FIFO or device is refused at
 * once (OF_ERR_CONFIG, "PATH: is a directory", "PATH: is not a regular
 * file (FIFO)"); a missing or unreadable file is OF_ERR_IO ("PATH: cannot
 * open: ..."); larger than OF_CONFIG_MAX_FILE is OF_ERR_CONFIG.
 * Limitation: an @include'd file is opened by libconfig itself, so that
 * check does not apply to it.
 * On success cfg holds the loaded config (caller frees with of_config_clear);
 * on failure cfg is left freed. */
OF_MUST_CHECK of_err of_config_load_file(of_config *cfg, const char *path, char *errstr,
                                         size_t errstr_size);

/* Same as of_config_load_file for text in memory; `name` is used in
 * messages in place of the file name (e.g. "<string>"). For tests and for
 * embedded configs. */
OF_MUST_CHECK of_err of_config_load_string(of_config *cfg, const char *text, const char *name,
                                           char *errstr, size_t errstr_size);

/* Sets one key by dotted name from its string form, as a command-line
 * override would ("worker.max_in_flight", "128"; "octopus.request_timeout",
 * "45s"; "topics.create", "false"). For kafka.properties the value is one
 * "key=value" pair and is appended (replacing an existing pair with the same
 * key). Same type and bounds checks as loading; cross-key checks are not
 * re-run (call of_config_check). cfg is unchanged on error. */
OF_MUST_CHECK of_err of_config_set(of_config *cfg, const char *name, const char *value,
                                   char *errstr, size_t errstr_size);

/* Cross-key and per-role checks, e.g. after of_config_set (loading already
 * ran the cross-key ones): timeouts that contradict each other, and for
 * OF_ROLE_PRODUCER and OF_ROLE_WORKER, octopus.url must be set. Collects
 * every problem, one per line. */
OF_MUST_CHECK of_err of_config_check(const of_config *cfg, of_config_role role, char *errstr,
                                     size_t errstr_size);

/* Frees every string and list in cfg and zeroes it. NULL-safe, idempotent. */
void of_config_clear(of_config *cfg);

/* Appends the effective config to out as a valid libconfig file (it loads
 * back to the same config, masked values aside), for --dump-config.
 * Secrets are written as "****": keys marked secret in the table, and any
 * kafka.properties / topics.configs entry whose name contains "password",
 * "secret" or "key" (case-insensitive) or is sasl.oauthbearer.config.
 * Credentials in octopus.url are masked too ("http://user:***@host",
 * of_secret_mask_url).
 * OF_ERR_TOO_LARGE if out's cap is reached (out then holds a prefix). */
OF_MUST_CHECK of_err of_config_dump(const of_config *cfg, of_buf *out);

/* Appends the documented example config (every key, its help text as
 * comments, its default) to out. config/octofleet.cfg.example is exactly
 * this text; a unit test keeps them equal. */
OF_MUST_CHECK of_err of_config_write_example(of_buf *out);

/* Appends a Markdown table of every key (key, type, default, help) to out,
 * for docs/configuration.md; a unit test keeps the doc in sync. */
OF_MUST_CHECK of_err of_config_write_doc_table(of_buf *out);

/* Appends the value of one key, by dotted name, in libconfig syntax
 * ("30s" quoted, 64, true, a list), masked as in of_config_dump. For tests
 * and for a CLI "config get". OF_ERR_NOT_FOUND for an unknown key. */
OF_MUST_CHECK of_err of_config_format_value(const of_config *cfg, const char *name, of_buf *out);

/* Writes "<topics.prefix><name>" into out ("octofleet." + "events").
 * OF_ERR_TOO_LARGE if it does not fit. */
OF_MUST_CHECK of_err of_config_topic(const of_config *cfg, const char *name, char *out,
                                     size_t out_size);

/* Writes the jobs topic of a 1-based stage, "<prefix>jobs.s<stage>", into out.
 * OF_ERR_INVALID if stage is outside 1..topics.max_stages. */
OF_MUST_CHECK of_err of_config_jobs_topic(const of_config *cfg, int stage, char *out,
                                          size_t out_size);

/* Writes worker.name, or "<hostname>-<pid>" when it is empty, into out. */
OF_MUST_CHECK of_err of_config_worker_name(const of_config *cfg, char *out, size_t out_size);

/* Returns the value of a kafka property, or NULL if not set. Borrowed, valid
 * until cfg is freed or changed. */
const char *of_config_kafka_property(const of_config *cfg, const char *key);

/* Parses a size: a non-negative integer of bytes, or with a unit: "512k",
 * "8M", "8MiB", "1G" (binary multiples). Returns 0 or -1. */
int of_config_parse_size(const char *s, int64_t *out_bytes);

#endif
