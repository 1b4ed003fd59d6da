/* `octofleet events`: the fleet's CloudEvents from <prefix>events as JSON lines.
 *
 * The reader never subscribes to a consumer group: it assigns every partition of the events
 * topic itself (of_kafka_assign) and keeps its own position per partition, so there is no group
 * session that could time out while the process is stopped or slow, and no rebalance that could
 * hand a partition back at an older offset and print history twice. Where it starts: with
 * --group, the position Kafka keeps for that name (committed after what was printed); where
 * none is kept (and without --group), --from. A message below the position already printed is
 * never printed again, whatever the broker hands back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "log.h"
#include "msg.h"
#include "signals.h"
#include "uuid.h"

#define EVENTS_TIMEOUT_MS 30000 /* Kafka lookups; and a dump that makes no progress that long */
#define COMMIT_EVERY_MS   1000  /* --group: how stale the kept position may get while busy */
#define MAX_TYPES         64
#define TYPE_PREFIX       "octofleet."

static const char events_usage[] =
    "usage: octofleet events [--follow] [--from beginning|end|TIME] [--group NAME]\n"
    "                        [--release RELEASE] [--type TYPE]... [--count N] [options]\n\n"
    "Prints the fleet's CloudEvents (docs/messages.md) as JSON lines on stdout, one event per\n"
    "line, in order per release. Without --follow it stops once it has reached the end of the\n"
    "events topic; with --follow it keeps printing new events until interrupted (SIGINT,\n"
    "SIGTERM) or until --count events were printed. No event is printed twice by one run: the\n"
    "reader joins no consumer group, so a pause longer than session.timeout.ms (a stopped\n"
    "process, a slow host) resumes where it was.\n\n"
    "Options:\n"
    "  --follow            keep waiting for new events\n"
    "  --from WHERE        where to start: beginning (default), end (only new events), or an\n"
    "                      RFC 3339 time (\"2026-05-05T21:00:00Z\": events written from then on)\n"
    "  --group NAME        keep this reader's position in Kafka under the consumer group NAME:\n"
    "                      it is committed after what was printed (at least every second, and\n"
    "                      on exit), and a later run with the same NAME starts right after it;\n"
    "                      --from applies only where NAME has no position yet. One reader per\n"
    "                      NAME at a time (each reads every partition)\n"
    "  --release RELEASE   only this release's events: its id, or its name (with --space)\n"
    "  --space NAME        the request's space, to find a release by name (default Default)\n"
    "  --type TYPE         only events of this type (repeatable, or a comma list): \"job.failed\"\n"
    "                      or \"octofleet.job.failed\"; a trailing dot is a prefix (\"job.\",\n"
    "                      \"release.\")\n"
    "  --count N           exit after printing N events (N >= 1)\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 done (end reached, --count printed, or interrupted), 2 usage,\n"
    "3 configuration, 4 Kafka could not be read (or a dump made no progress for 30 s).\n";

typedef struct events_args {
    bool follow;
    const char *from;  /* NULL = beginning */
    const char *group; /* NULL = keep no position */
    const char *release, *space;
    char release_id[OF_UUID_STR_SIZE];
    /* --type patterns without "octofleet.", borrowed from argv (a comma list is split in
     * place); a trailing '.' makes one a prefix */
    const char *types[MAX_TYPES];
    size_t n_types;
    long count; /* 0 = no limit */
} events_args;

/* One partition's progress. */
typedef struct part_state {
    int64_t next;      /* next offset to print; -1 until the first message or end is seen */
    int64_t committed; /* next offset as last committed under --group */
    bool at_end;       /* reached the end (of the topic as of the start, without --follow) */
} part_state;

typedef struct reader {
    const events_args *a;
    const char *topic;
    int nparts;
    part_state *parts;
    of_kafka_offset *scratch; /* nparts entries, for the commit and the time lookup */
    long printed;
    int64_t commit_due; /* monotonic ms */
} reader;

/* ---- arguments ----------------------------------------------------------------------- */

static bool known_type_or_prefix(const char *t)
{
    size_t len = strlen(t);
    if (len == 0) return false;
    char full[128];
    if ((size_t)snprintf(full, sizeof(full), TYPE_PREFIX "%s", t) >= sizeof(full)) return false;
    if (t[len - 1] != '.') {
        of_event_type et;
        return of_event_type_parse(full, &et) == 0;
    }
    for (int i = 0;; i++) { /* a prefix must start at least one known type */
        const char *name = of_event_type_name((of_event_type)i);
        if (strcmp(name, "?") == 0) return false;
        if (strncmp(name, full, strlen(full)) == 0) return true;
    }
}

/* Splits a --type value (a comma list) into a->types, in place. */
static of_cli_arg add_types(events_args *a, char *list)
{
    for (char *t = list; t;) {
        char *comma = strchr(t, ',');
        if (comma) *comma = '\0';
        if (strncmp(t, TYPE_PREFIX, strlen(TYPE_PREFIX)) == 0) t += strlen(TYPE_PREFIX);
        if (!known_type_or_prefix(t)) {
            fprintf(stderr,
                    "octofleet events: --type '%s' is not an event type (docs/messages.md: "
                    "e.g. job.failed, release.completed, or a prefix such as job.)\n",
                    t);
            return OF_CLI_ARG_USAGE;
        }
        if (a->n_types >= MAX_TYPES) {
            fprintf(stderr, "octofleet events: more than %d --type values\n", MAX_TYPES);
            return OF_CLI_ARG_USAGE;
        }
        a->types[a->n_types++] = t;
        t = comma ? comma + 1 : NULL;
    }
    return OF_CLI_ARG_TAKEN;
}

static bool from_valid(const char *from)
{
    int64_t ms;
    return strcmp(from, "beginning") == 0 || strcmp(from, "end") == 0 ||
           of_parse_rfc3339(from, &ms) == 0;
}

static of_cli_arg events_arg(void *ctx, int argc, char **argv, int *i)
{
    events_args *a = ctx;
    const char *arg = argv[*i];
    bool has_val = *i + 1 < argc;
    if (strcmp(arg, "--follow") == 0) {
        a->follow = true;
    } else if (strcmp(arg, "--release") == 0 && has_val) {
        a->release = argv[++*i];
    } else if (strcmp(arg, "--space") == 0 && has_val) {
        a->space = argv[++*i];
    } else if (strcmp(arg, "--group") == 0 && has_val) {
        a->group = argv[++*i];
        if (!a->group[0]) {
            fprintf(stderr, "octofleet events: --group needs a name\n");
            return OF_CLI_ARG_USAGE;
        }
    } else if (strcmp(arg, "--from") == 0 && has_val) {
        a->from = argv[++*i];
        if (!from_valid(a->from)) {
            fprintf(stderr,
                    "octofleet events: --from takes beginning, end or an RFC 3339 time "
                    "(2026-05-05T21:00:00Z), got '%s'\n",
                    a->from);
            return OF_CLI_ARG_USAGE;
        }
    } else if (strcmp(arg, "--type") == 0 && has_val) {
        return add_types(a, argv[++*i]);
    } else if (strcmp(arg, "--count") == 0 && has_val) {
        char *end;
        a->count = strtol(argv[++*i], &end, 10);
        if (*end || end == argv[*i] || a->count < 1) {
            fprintf(stderr, "octofleet events: --count needs a number >= 1, got '%s'\n", argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
    } else {
        return OF_CLI_ARG_UNEXPECTED;
    }
    return OF_CLI_ARG_TAKEN;
}

/* ---- printing ------------------------------------------------------------------------ */

static bool type_wanted(const events_args *a, of_event_type t)
{
    if (!a->n_types) return true;
    const char *name = of_event_type_name(t) + strlen(TYPE_PREFIX);
    for (size_t i = 0; i < a->n_types; i++) {
        size_t len = strlen(a->types[i]);
        bool prefix = a->types[i][len - 1] == '.';
        if (prefix ? strncmp(name, a->types[i], len) == 0 : strcmp(name, a->types[i]) == 0)
            return true;
    }
    return false;
}

/* Prints msg when it passes the filters; true if it was printed. */
static bool print_event(const events_args *a, const of_kafka_message *msg)
{
    if (!msg->value) return false;
    of_event ev = {0};
    char errstr[256];
    bool print = false;
    if (of_event_decode(msg->value, msg->value_len, &ev, errstr, sizeof(errstr)) != OF_OK)
        of_warn("skipping an undecodable event topic=%s partition=%d offset=%lld: %s", msg->topic,
                (int)msg->partition, (long long)msg->offset, errstr);
    else
        print =
            (!a->release || strcmp(ev.release_id, a->release_id) == 0) && type_wanted(a, ev.type);
    of_event_clear(&ev);
    if (print) {
        fwrite(msg->value, 1, msg->value_len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    return print;
}

/* ---- reading ------------------------------------------------------------------------- */

static void on_eof(void *opaque, const char *topic, int32_t partition, int64_t offset)
{
    reader *r = opaque;
    (void)topic;
    if (partition < 0 || partition >= r->nparts) return;
    r->parts[partition].at_end = true;
    if (r->parts[partition].next < offset) r->parts[partition].next = offset;
}

static bool all_at_end(const reader *r)
{
    for (int p = 0; p < r->nparts; p++)
        if (!r->parts[p].at_end) return false;
    return true;
}

/* --group: commits the positions that moved since the last commit. A failure is logged, not
 * fatal: the next commit carries the same positions. */
static void commit_positions(reader *r, of_kafka_consumer *c)
{
    if (!r->a->group) return;
    of_kafka_offset *offs = r->scratch;
    size_t n = 0;
    for (int p = 0; p < r->nparts; p++)
        if (r->parts[p].next >= 0 && r->parts[p].next != r->parts[p].committed)
            offs[n++] = (of_kafka_offset){r->topic, p, r->parts[p].next};
    char errstr[512];
    if (n && of_kafka_commit_offsets(c, offs, n, errstr, sizeof(errstr))) {
        of_warn("events group=%s keeping the position failed: %s", r->a->group, errstr);
        return;
    }
    for (size_t i = 0; i < n; i++)
        r->parts[offs[i].partition].committed = offs[i].offset;
    r->commit_due = of_now_ms() + COMMIT_EVERY_MS;
}

/* Where each partition starts: the group's kept position, else --from. */
static of_err start_offsets(reader *r, of_kafka_consumer *c, of_kafka_offset *offs, char *errstr,
                            size_t errstr_size)
{
    const char *from = r->a->from ? r->a->from : "beginning";
    for (int p = 0; p < r->nparts; p++)
        offs[p] = (of_kafka_offset){r->topic, p, OF_KAFKA_OFFSET_NONE};
    if (r->a->group) {
        of_err rc =
            of_kafka_committed(c, offs, (size_t)r->nparts, EVENTS_TIMEOUT_MS, errstr, errstr_size);
        if (rc) return rc;
    }
    int64_t at_ms = 0;
    bool by_time = strcmp(from, "beginning") != 0 && strcmp(from, "end") != 0;
    if (by_time && of_parse_rfc3339(from, &at_ms) != 0)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "bad --from time");
    /* the partitions without a kept position, looked up by time in one request */
    of_kafka_offset *bytime = r->scratch;
    size_t n = 0;
    for (int p = 0; p < r->nparts; p++) {
        r->parts[p].committed = offs[p].offset;
        if (offs[p].offset != OF_KAFKA_OFFSET_NONE) continue;
        if (by_time)
            bytime[n++] = (of_kafka_offset){r->topic, p, at_ms};
        else
            offs[p].offset =
                strcmp(from, "end") == 0 ? OF_KAFKA_OFFSET_END : OF_KAFKA_OFFSET_BEGINNING;
    }
    if (n) {
        of_err rc =
            of_kafka_offsets_for_times(c, bytime, n, EVENTS_TIMEOUT_MS, errstr, errstr_size);
        if (rc) return rc;
        for (size_t i = 0; i < n; i++)
            offs[bytime[i].partition].offset = bytime[i].offset;
    }
    for (int p = 0; p < r->nparts; p++)
        r->parts[p].next = offs[p].offset >= 0 ? offs[p].offset : -1;
    return OF_OK;
}

/* Waits for the topic to have partitions: at once without --follow (none = nothing to print),
 * else until it is created or the stop flag. */
static of_err wait_partitions(reader *r, of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    bool said = false;
    for (;;) {
        of_err rc = of_kafka_partition_count(c, r->topic, EVENTS_TIMEOUT_MS, &r->nparts, errstr,
                                             errstr_size);
        if (rc || r->nparts > 0 || !r->a->follow || of_signals_stop_requested()) return rc;
        if (!said) of_info("events topic=%s does not exist yet; waiting for it", r->topic);
        said = true;
        of_sleep_ms(1000); /* a topic's creation cannot be waited on; look again */
    }
}

static int read_events(reader *r, of_kafka_consumer *c)
{
    char errstr[512];
    int64_t idle_since = of_now_ms();
    for (;;) {
        bool count_done = r->a->count && r->printed >= r->a->count;
        if (count_done || of_signals_stop_requested() || (!r->a->follow && all_at_end(r)))
            return OF_EXIT_OK;
        of_kafka_message *m = NULL;
        of_err rc = of_kafka_consumer_poll(c, 200, &m, errstr, sizeof(errstr));
        if (rc == OF_ERR_STATE || rc == OF_ERR_CONFIG) {
            fprintf(stderr, "octofleet events: reading %s failed: %s\n", r->topic, errstr);
            return OF_EXIT_SERVICE;
        }
        if (rc) of_debug("events consumer: %s", errstr);
        if (m) {
            part_state *ps =
                m->partition >= 0 && m->partition < r->nparts ? &r->parts[m->partition] : NULL;
            /* Never print an offset twice, whatever the broker hands back. */
            if (ps && m->offset >= ps->next) {
                ps->next = m->offset + 1;
                if (print_event(r->a, m)) r->printed++;
            }
            of_kafka_message_free(m);
            idle_since = of_now_ms();
        } else if (!r->a->follow && of_now_ms() - idle_since > EVENTS_TIMEOUT_MS) {
            fprintf(stderr, "octofleet events: %s not read to its end: no progress for %d s\n",
                    r->topic, EVENTS_TIMEOUT_MS / 1000);
            return OF_EXIT_SERVICE;
        }
        /* keep the position when caught up, and at least every COMMIT_EVERY_MS when busy */
        if (!m || of_now_ms() >= r->commit_due) commit_positions(r, c);
    }
}

static int events_run(const of_config *cfg, void *ctx)
{
    events_args *a = ctx;
    char errstr[512], topic[OF_TOPIC_NAME_MAX], group[96];
    of_fleet_kafka fk;
    of_kafka_consumer *c = NULL;
    reader r = {.a = a, .topic = topic};
    of_kafka_offset *offs = NULL;
    int ex = OF_EXIT_SERVICE;
    if (of_config_topic(cfg, "events", topic, sizeof(topic))) {
        fprintf(stderr, "octofleet events: topics.prefix too long for the events topic\n");
        return OF_EXIT_CONFIG;
    }
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet events")) return OF_EXIT_FAIL;
    /* Without --group a unique id that nothing commits to: librdkafka wants one, and with
     * manual assignment the group is never joined. */
    snprintf(group, sizeof(group), "octofleet-events-%ld-%lld", (long)getpid(),
             (long long)of_wall_ms());
    of_kafka_consumer_opts co = {.group_id = a->group ? a->group : group,
                                 .manual_commit = true,
                                 .on_eof = on_eof,
                                 .opaque = &r};
    if (of_signals_install(errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet events: %s\n", errstr);
        ex = OF_EXIT_FAIL;
        goto out;
    }
    if (of_kafka_consumer_new(&fk.kc, &co, &c, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet events: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
        goto out;
    }
    if (wait_partitions(&r, c, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet events: cannot read %s: %s\n", topic, errstr);
        goto out;
    }
    if (r.nparts == 0) { /* no topic yet (without --follow), or stopped while waiting */
        ex = OF_EXIT_OK;
        goto out;
    }
    r.parts = calloc((size_t)r.nparts, sizeof(*r.parts));
    offs = calloc((size_t)r.nparts, sizeof(*offs));
    r.scratch = calloc((size_t)r.nparts, sizeof(*r.scratch));
    if (!r.parts || !offs || !r.scratch) {
        fprintf(stderr, "octofleet events: out of memory\n");
        ex = OF_EXIT_FAIL;
        goto out;
    }
    if (start_offsets(&r, c, offs, errstr, sizeof(errstr)) ||
        of_kafka_assign(c, offs, (size_t)r.nparts, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet events: cannot read %s: %s\n", topic, errstr);
        goto out;
    }
    ex = read_events(&r, c);
    commit_positions(&r, c);
out:
    of_kafka_consumer_destroy(c);
    of_fleet_kafka_clear(&fk);
    free(r.parts);
    free(r.scratch);
    free(offs);
    return ex;
}

int of_cmd_events(int argc, char **argv)
{
    of_cli_common co = {0};
    events_args a = {0};
    int ex;
    if (!of_cli_args(argc, argv, "events", events_usage, &co, events_arg, &a, &ex)) return ex;
    if (a.release) of_cli_release_id(a.release, a.space, a.release_id);
    return of_cli_with_config(&co, OF_ROLE_ANY, events_run, &a);
}
