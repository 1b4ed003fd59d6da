/* `octofleet workers`: the worker group as its coordinator sees it, stage topic by stage topic.
 *
 * The workers share one consumer group subscribed to every stage topic, and the
 * cooperative-sticky assignor balances each member's total of partitions, not each topic's:
 * a worker added later can end up with every partition of one stage and none of the others
 * (docs/operations.md, "Rebalances"). This command shows who owns what, and flags a stage
 * topic whose partitions sit on fewer workers than could share them. Read-only; it talks to
 * Kafka's Admin API only (DescribeConsumerGroups, metadata), never to the workers. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "ojson.h"
#include "share.h"

#define WORKERS_TIMEOUT_MS 30000

static const char workers_usage[] =
    "usage: octofleet workers [--json] [options]\n\n"
    "Shows the worker group (worker.group_id) as Kafka's group coordinator sees it: its state,\n"
    "each worker (its group.instance.id, which is worker.name, else its client id) with its host\n"
    "and the partitions it owns of each stage topic, then per stage how many workers share it.\n"
    "A stage topic whose partitions sit on fewer workers than could share them is marked\n"
    "UNEVEN: that stage runs on those workers only (after scaling out; docs/operations.md,\n"
    "\"Rebalances\", says how to spread it again). Partitions nobody owns are counted: during\n"
    "a rebalance, or with no worker running.\n"
    "With --json, one object {group, state, workers:[{member_id, client_id, instance_id, host,\n"
    "stages:{\"<stage>\":[partition,...]}}], stages:[{stage, topic, partitions, owned, workers,\n"
    "uneven}]} (partitions -1: the topic does not exist).\n\nOptions:\n"
    "  --json              print JSON\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 shown (also an empty group, and an uneven one), 2 usage, 3 configuration,\n"
    "4 Kafka could not be used.\n";

/* One stage topic: its name and how the group shares it. */
typedef struct stage_view {
    char topic[256];
    of_share sh;
} stage_view;

/* The stage of topic among the config's stage topics, 0 when it is not one. */
static int stage_of(const stage_view *sv, int nstages, const char *topic)
{
    for (int s = 0; s < nstages; s++)
        if (strcmp(sv[s].topic, topic) == 0) return s + 1;
    return 0;
}

static const char *member_name(const of_kafka_group_member *m)
{
    return m->instance_id ? m->instance_id : m->client_id ? m->client_id : "?";
}

static int by_name(const void *x, const void *y)
{
    return strcmp(member_name(x), member_name(y));
}

/* "0,3" for the partitions m owns of topic, "-" for none. */
static void parts_text(const of_kafka_group_member *m, const char *topic, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t k = 0; k < m->nparts && len < n; k++) {
        if (strcmp(m->parts[k].topic, topic) != 0) continue;
        int w = snprintf(out + len, n - len, "%s%d", len ? "," : "", (int)m->parts[k].partition);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (!out[0]) (void)snprintf(out, n, "-");
}

static void print_text(const char *group, const of_kafka_group *g, const stage_view *sv,
                       int nstages)
{
    of_cli_line(stdout, "group %s: %s, %zu worker(s)", group, g->state ? g->state : "?",
                g->nmembers);
    if (g->nmembers) {
        char head[1024];
        int len = snprintf(head, sizeof head, "%-24s %-16s", "WORKER", "HOST");
        for (int s = 0; s < nstages && len > 0 && (size_t)len < sizeof head; s++) {
            char col[24];
            (void)snprintf(col, sizeof col, "STAGE %d", s + 1);
            len += snprintf(head + len, sizeof head - (size_t)len, " %-12s", col);
        }
        of_cli_line(stdout, "%s", head);
        for (size_t i = 0; i < g->nmembers; i++) {
            const of_kafka_group_member *m = &g->members[i];
            char row[2048], parts[512];
            len = snprintf(row, sizeof row, "%-24s %-16s", member_name(m), m->host ? m->host : "?");
            for (int s = 0; s < nstages && len > 0 && (size_t)len < sizeof row; s++) {
                parts_text(m, sv[s].topic, parts, sizeof parts);
                len += snprintf(row + len, sizeof row - (size_t)len, " %-12s", parts);
            }
            of_cli_line(stdout, "%s", row);
        }
    }
    for (int s = 0; s < nstages; s++) {
        if (sv[s].sh.partitions < 0) {
            of_cli_line(stdout, "stage %d (%s): no such topic", s + 1, sv[s].topic);
            continue;
        }
        char unowned[64] = "";
        if (sv[s].sh.owned < sv[s].sh.partitions)
            (void)snprintf(unowned, sizeof unowned, ", %d owned by nobody",
                           sv[s].sh.partitions - sv[s].sh.owned);
        of_cli_line(stdout, "stage %d (%s): %d partition(s) on %d of %zu worker(s)%s%s", s + 1,
                    sv[s].topic, sv[s].sh.partitions, sv[s].sh.workers, g->nmembers, unowned,
                    sv[s].sh.uneven ? "  UNEVEN: this stage runs on those workers only" : "");
    }
}

static int print_json(const char *group, const of_kafka_group *g, const stage_view *sv, int nstages)
{
    oj_writer w;
    ojw_begin(&w);
    ojw_str(&w, "group", group);
    ojw_str_or_null(&w, "state", g->state);
    ojw_array(&w, "workers");
    for (size_t i = 0; i < g->nmembers; i++) {
        const of_kafka_group_member *m = &g->members[i];
        ojw_object(&w, NULL);
        ojw_str_or_null(&w, "member_id", m->member_id);
        ojw_str_or_null(&w, "client_id", m->client_id);
        ojw_str_or_null(&w, "instance_id", m->instance_id);
        ojw_str_or_null(&w, "host", m->host);
        ojw_object(&w, "stages");
        for (int s = 0; s < nstages; s++) {
            char key[16];
            (void)snprintf(key, sizeof key, "%d", s + 1);
            ojw_array(&w, key);
            for (size_t k = 0; k < m->nparts; k++)
                if (stage_of(sv, nstages, m->parts[k].topic) == s + 1)
                    ojw_int(&w, NULL, m->parts[k].partition);
            ojw_end_array(&w);
        }
        ojw_end_object(&w);
        ojw_end_object(&w);
    }
    ojw_end_array(&w);
    ojw_array(&w, "stages");
    for (int s = 0; s < nstages; s++) {
        ojw_object(&w, NULL);
        ojw_int(&w, "stage", s + 1);
        ojw_str(&w, "topic", sv[s].topic);
        ojw_int(&w, "partitions", sv[s].sh.partitions);
        ojw_int(&w, "owned", sv[s].sh.owned);
        ojw_int(&w, "workers", sv[s].sh.workers);
        ojw_bool(&w, "uneven", sv[s].sh.uneven);
        ojw_end_object(&w);
    }
    ojw_end_array(&w);
    char *out = NULL;
    of_err rc = ojw_finish(&w, &out);
    if (rc) {
        fprintf(stderr, "octofleet workers: cannot encode JSON: %s\n", of_strerror(rc));
        return OF_EXIT_FAIL;
    }
    puts(out);
    free(out);
    return OF_EXIT_OK;
}

static int workers_run(const of_config *cfg, void *ctx)
{
    const of_cli_json_args *a = ctx;
    int nstages = cfg->topics.max_stages;
    stage_view *sv = calloc((size_t)nstages, sizeof(*sv));
    const char **topics = calloc((size_t)nstages, sizeof(*topics));
    if (!sv || !topics) {
        free(sv);
        free(topics);
        fprintf(stderr, "octofleet workers: out of memory\n");
        return OF_EXIT_FAIL;
    }
    for (int s = 0; s < nstages; s++) {
        if (of_config_jobs_topic(cfg, s + 1, sv[s].topic, sizeof sv[s].topic)) {
            free(sv);
            free(topics);
            fprintf(stderr, "octofleet workers: topics.prefix is too long\n");
            return OF_EXIT_CONFIG;
        }
        topics[s] = sv[s].topic;
    }
    of_fleet_kafka fk;
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet workers")) {
        free(sv);
        free(topics);
        return OF_EXIT_FAIL;
    }
    of_kafka_group g;
    char errstr[512];
    int ex = OF_EXIT_OK;
    of_err rc = of_kafka_describe_group(&fk.kc, cfg->worker.group_id, topics, (size_t)nstages,
                                        WORKERS_TIMEOUT_MS, &g, errstr, sizeof errstr);
    if (rc) {
        of_cli_line(stderr, "octofleet workers: %s", errstr);
        ex = of_cli_exit_code(rc);
    } else {
        if (g.nmembers > 1) qsort(g.members, g.nmembers, sizeof(*g.members), by_name);
        for (int s = 0; s < nstages; s++)
            of_share_count(&g, sv[s].topic, g.partitions[s], &sv[s].sh);
        if (a->json)
            ex = print_json(cfg->worker.group_id, &g, sv, nstages);
        else
            print_text(cfg->worker.group_id, &g, sv, nstages);
    }
    of_kafka_group_clear(&g);
    of_fleet_kafka_clear(&fk);
    free(sv);
    free(topics);
    return ex;
}

int of_cmd_workers(int argc, char **argv)
{
    of_cli_common co = {0};
    of_cli_json_args a = {0};
    int ex;
    if (!of_cli_args(argc, argv, "workers", workers_usage, &co, of_cli_json_arg, &a, &ex))
        return ex;
    if (a.arg)
        return of_cli_usage_error("workers", workers_usage, "unexpected argument '%s'", a.arg);
    return of_cli_with_config(&co, OF_ROLE_ANY, workers_run, &a);
}
