/* `octofleet topic dump|produce`: an operator's and a test's view of raw topics.
 *
 *   dump NAME      every message of a topic, from the beginning to its end as of the start,
 *                  one JSON line each (read_committed, through of_kafka_read_topic);
 *   produce NAME   one message whose value is read from stdin (e.g. to put a garbage job on a
 *                  stage topic and watch it land in the dead-letter topic).
 *
 * NAME is the full topic name, taken literally (topics.prefix is not added), so the tool
 * works for any topic of the cluster. Nothing here decodes octofleet's messages: values are
 * printed as they are; the codec (common/codec, of_dump_line_encode) writes the JSON. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "msg.h"

#define TOPIC_TIMEOUT_MS 30000
#define MAX_HEADERS      32
/* Kafka's default message.max.bytes; a bigger value would be refused by the broker anyway. */
#define MAX_VALUE_BYTES (1024 * 1024)

static const char topic_usage[] =
    "usage: octofleet topic dump NAME [--from-beginning] [--timeout MS] [options]\n"
    "       octofleet topic produce NAME [--key K] [--header NAME=VALUE]... [--partition N]\n"
    "                               [options] < value\n\n"
    "Reads or writes one topic as it is; NAME is the full topic name (topics.prefix is not\n"
    "added). For debugging and tests; operators normally use events and status.\n\n"
    "  dump     prints every message from the beginning of the topic up to its end as of the\n"
    "           start of the command (committed data only), one JSON object per line:\n"
    "           "
    "{\"topic\",\"partition\",\"offset\",\"timestamp_ms\",\"key\",\"headers\",\"value\"}\n"
    "           key and value are JSON strings (null when absent: a null key, a tombstone);\n"
    "           bytes that are not UTF-8 are given in base64 as \"key_base64\"/\"value_base64\"\n"
    "           instead. headers is an object (a repeated header name keeps its last value).\n"
    "           The number of messages goes to stderr. A topic that does not exist is empty.\n"
    "  produce  reads ONE message value from stdin (all of it, at most 1 MiB, sent as is)\n"
    "           and produces it; prints {\"topic\",\"partition\",\"offset\"} once delivered.\n\n"
    "Options:\n"
    "  --from-beginning    dump from the first message (the default; accepted for habit)\n"
    "  --timeout MS        give up after this long (default 30000)\n"
    "  --key K             the message key (default: none)\n"
    "  --header NAME=VALUE add a header (repeatable, at most 32)\n"
    "  --partition N       produce to this partition (default: chosen from the "
    "key)\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 done, 1 the message was not delivered, 2 usage, 3 configuration,\n"
    "4 Kafka could not be reached in time.\n";

/* ---- dump ----------------------------------------------------------------- */

typedef struct dump_ctx {
    of_err err; /* why a message could not be printed */
} dump_ctx;

/* Prints one message as a JSON line (of_dump_line_encode: the codec does the JSON). */
static of_err on_dump(void *opaque, const of_kafka_message *m)
{
    dump_ctx *d = opaque;
    size_t nh = of_kafka_message_header_count(m);
    of_dump_header *hs = nh ? calloc(nh, sizeof(*hs)) : NULL;
    if (nh && !hs) return d->err = OF_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nh; i++)
        if (of_kafka_message_header_at(m, i, &hs[n].name, &hs[n].value, &hs[n].value_len)) n++;
    of_dump_message dm = {.topic = m->topic,
                          .partition = m->partition,
                          .offset = m->offset,
                          .timestamp_ms = m->timestamp_ms,
                          .key = m->key,
                          .key_len = m->key_len,
                          .value = m->value,
                          .value_len = m->value_len,
                          .headers = hs,
                          .nheaders = n};
    char *line = NULL;
    of_err rc = of_dump_line_encode(&dm, &line);
    free(hs);
    if (rc == OF_OK && (fputs(line, stdout) == EOF || putchar('\n') == EOF)) rc = OF_ERR_IO;
    free(line);
    if (rc) d->err = rc;
    return rc;
}

static int topic_dump(const of_config *cfg, const char *topic, int timeout_ms)
{
    char errstr[512];
    of_fleet_kafka fk;
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet topic")) return OF_EXIT_FAIL;
    dump_ctx d = {.err = OF_OK};
    size_t count = 0;
    int ex = OF_EXIT_OK;
    of_err rc =
        of_kafka_read_topic(&fk.kc, topic, timeout_ms, on_dump, &d, &count, errstr, sizeof(errstr));
    fflush(stdout);
    if (d.err) {
        fprintf(stderr, "octofleet topic dump: cannot print a message of %s: %s\n", topic,
                of_strerror(d.err));
        ex = OF_EXIT_FAIL;
    } else if (rc) {
        fprintf(stderr, "octofleet topic dump: cannot read %s: %s\n", topic, errstr);
        ex = OF_EXIT_SERVICE;
    } else {
        fprintf(stderr, "%zu message(s) in %s\n", count, topic);
    }
    of_fleet_kafka_clear(&fk);
    return ex;
}

/* ---- produce -------------------------------------------------------------- */

typedef struct produce_report {
    bool done;
    of_err err;
    int32_t partition;
    int64_t offset;
    char why[256];
} produce_report;

static void on_delivery(void *opaque, const of_kafka_delivery *r)
{
    produce_report *pr = opaque;
    pr->done = true;
    pr->err = r->err;
    pr->partition = r->partition;
    pr->offset = r->offset;
    snprintf(pr->why, sizeof(pr->why), "%s", r->errstr ? r->errstr : "");
}

static int read_stdin(of_buf *b)
{
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (of_buf_append(b, chunk, n)) {
            fprintf(stderr, "octofleet topic produce: the value on stdin is larger than 1 MiB\n");
            return OF_EXIT_FAIL;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "octofleet topic produce: cannot read stdin: %s\n", strerror(errno));
        return OF_EXIT_FAIL;
    }
    return OF_EXIT_OK;
}

static int topic_produce(const of_config *cfg, const char *topic, const of_kafka_record *tmpl,
                         int timeout_ms)
{
    char errstr[512];
    of_buf value;
    of_buf_init(&value, MAX_VALUE_BYTES);
    int ex = read_stdin(&value);
    if (ex) {
        of_buf_clear(&value);
        return ex;
    }
    of_fleet_kafka fk;
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet topic")) {
        of_buf_clear(&value);
        return OF_EXIT_FAIL;
    }
    of_kafka_producer *p = NULL;
    produce_report pr = {.err = OF_OK};
    of_kafka_record rec = *tmpl;
    rec.topic = topic;
    rec.value = value.data ? value.data : ""; /* empty stdin: an empty value, not a tombstone */
    rec.value_len = value.len;
    of_err rc = of_kafka_producer_new(&fk.kc, NULL, &p, errstr, sizeof(errstr));
    if (rc) {
        fprintf(stderr, "octofleet topic produce: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
        goto out;
    }
    rc = of_kafka_produce(p, &rec, on_delivery, &pr, errstr, sizeof(errstr));
    if (rc == OF_OK) rc = of_kafka_flush(p, timeout_ms, errstr, sizeof(errstr));
    if (rc) {
        fprintf(stderr, "octofleet topic produce: cannot produce to %s: %s\n", topic, errstr);
        ex = rc == OF_ERR_TIMEOUT ? OF_EXIT_SERVICE : OF_EXIT_FAIL;
    } else if (!pr.done || pr.err) {
        fprintf(stderr, "octofleet topic produce: %s: not delivered: %s\n", topic,
                pr.done ? pr.why : "no delivery report");
        ex = OF_EXIT_FAIL;
    } else {
        char *line = NULL;
        if (of_delivery_line_encode(topic, pr.partition, pr.offset, &line) == OF_OK) {
            printf("%s\n", line);
        } else {
            fprintf(stderr, "octofleet topic produce: delivered, but out of memory to say so\n");
            ex = OF_EXIT_FAIL;
        }
        free(line);
        fflush(stdout);
    }
out:
    of_kafka_producer_destroy(p);
    of_fleet_kafka_clear(&fk);
    of_buf_clear(&value);
    return ex;
}

/* ---- command line ----------------------------------------------------------- */

#define usage_error(...) of_cli_usage_error("topic", topic_usage, __VA_ARGS__)

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

typedef struct topic_args {
    const char *action, *name;
    long timeout_ms;
    of_kafka_header headers[MAX_HEADERS];
    size_t nheaders;
    of_kafka_record tmpl;
} topic_args;

static of_cli_arg topic_arg(void *ctx, int argc, char **argv, int *i)
{
    topic_args *t = ctx;
    const char *a = argv[*i];
    bool has_val = *i + 1 < argc;
    long v;
    if (strcmp(a, "--from-beginning") == 0) {
        /* the default: a dump always starts at the beginning */
    } else if (strcmp(a, "--timeout") == 0 && has_val) {
        if (!parse_long(argv[++*i], 1, 24L * 3600 * 1000, &v)) {
            usage_error("--timeout needs milliseconds, got '%s'", argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        t->timeout_ms = v;
    } else if (strcmp(a, "--key") == 0 && has_val) {
        t->tmpl.key = argv[++*i];
        t->tmpl.key_len = strlen(argv[*i]);
    } else if (strcmp(a, "--partition") == 0 && has_val) {
        if (!parse_long(argv[++*i], 0, INT32_MAX, &v)) {
            usage_error("--partition needs a number, got '%s'", argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        t->tmpl.partition = (int32_t)v;
    } else if (strcmp(a, "--header") == 0 && has_val) {
        char *h = argv[++*i];
        char *eq = strchr(h, '=');
        if (!eq || eq == h) {
            usage_error("--header needs NAME=VALUE, got '%s'", h);
            return OF_CLI_ARG_USAGE;
        }
        if (t->nheaders >= MAX_HEADERS) {
            usage_error("too many --header options (at most %d)", MAX_HEADERS);
            return OF_CLI_ARG_USAGE;
        }
        *eq = '\0'; /* argv is ours to edit: the name becomes its own string */
        t->headers[t->nheaders].name = h;
        t->headers[t->nheaders].value = eq + 1;
        t->headers[t->nheaders].value_len = strlen(eq + 1);
        t->nheaders++;
    } else if (a[0] == '-' && a[1] != '\0') {
        usage_error("unexpected option '%s'", a);
        return OF_CLI_ARG_USAGE;
    } else if (!t->action) {
        t->action = a;
    } else if (!t->name) {
        t->name = a;
    } else {
        usage_error("unexpected argument '%s'", a);
        return OF_CLI_ARG_USAGE;
    }
    return OF_CLI_ARG_TAKEN;
}

static int topic_run(const of_config *cfg, void *ctx)
{
    const topic_args *t = ctx;
    if (strcmp(t->action, "dump") == 0) return topic_dump(cfg, t->name, (int)t->timeout_ms);
    return topic_produce(cfg, t->name, &t->tmpl, (int)t->timeout_ms);
}

int of_cmd_topic(int argc, char **argv)
{
    of_cli_common co = {0};
    topic_args t = {.timeout_ms = TOPIC_TIMEOUT_MS, .tmpl = {.partition = OF_KAFKA_PARTITION_ANY}};
    int ex;
    if (!of_cli_args(argc, argv, "topic", topic_usage, &co, topic_arg, &t, &ex)) return ex;
    if (!t.action) return usage_error("missing the action (dump or produce)");
    bool dump = strcmp(t.action, "dump") == 0;
    if (!dump && strcmp(t.action, "produce") != 0)
        return usage_error("unknown action '%s' (dump or produce)", t.action);
    if (!t.name || !*t.name) return usage_error("missing the topic NAME");
    if (strlen(t.name) >= OF_TOPIC_NAME_MAX)
        return usage_error("topic name too long: '%s'", t.name);
    if (dump && (t.tmpl.key || t.nheaders || t.tmpl.partition != OF_KAFKA_PARTITION_ANY))
        return usage_error("--key, --header and --partition are for produce");
    t.tmpl.headers = t.nheaders ? t.headers : NULL;
    t.tmpl.nheaders = t.nheaders;
    return of_cli_with_config(&co, OF_ROLE_ANY, topic_run, &t);
}
