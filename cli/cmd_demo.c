/* `octofleet demo`: the whole release train on the embedded default, in one process.
 *
 * librdkafka's mock cluster stands in for Kafka and the Octopus simulator (sim/) for
 * Octopus, both in-process on loopback ports. The producer and three workers run as threads
 * with their own stop flags, exactly the code `octofleet producer` / `worker` run. The demo
 * then plays operator: submits the seed-like train, shows progress, and when the injected
 * failure pauses the release, "fixes" it in the simulator and replays the failed stage. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "inproc.h"
#include "log.h"
#include "msg.h"
#include "producer.h"
#include "signals.h"
#include "sim.h"
#include "uuid.h"
#include "worker.h"

#define DEMO_API_KEY  "API-OCTOFLEETDEMO0000000000000001"
#define DEMO_WORKERS  3
#define DEMO_DEADLINE 170000 /* ms: the demo gives up (and says so) after this */

extern const char of_demo_world_json[]; /* generated from sim/worlds/demo-world.json */

/* The train: 7 projects in 4 stages to both beta environments, every connected tenant.
 * Integrations fails for one tenant until the demo "fixes" it. */
static const char demo_request[] =
    "{\"release\": \"2026.18\", \"space\": \"Default\","
    " \"environments\": [\"On Site Beta\", \"Hosted Beta\"],"
    " \"tenants\": \"all\","
    " \"stages\": ["
    "  {\"name\": \"database\", \"projects\": [{\"project\": \"Schema\", \"version\": "
    "\"2026.18.0\"}]},"
    "  {\"name\": \"services\", \"projects\": [{\"project\": \"Identity\", \"version\": "
    "\"3.9.0\"}, {\"project\": \"Billing\", \"version\": \"4.3.0\"}, {\"project\": "
    "\"Reporting\", \"version\": \"2.2.1\"}]},"
    "  {\"name\": \"integrations\", \"projects\": [{\"project\": \"Integrations\", "
    "\"version\": \"1.8.0\"}]},"
    "  {\"name\": \"web\", \"projects\": [{\"project\": \"Portal\", \"version\": \"5.0.2\"}, "
    "{\"project\": \"Web\", \"version\": \"2026.18.0\"}]}"
    " ],"
    " \"policy\": {\"on_failure\": \"pause\", \"timeout\": \"10m\", \"cancel_on_timeout\": true}}";

static const char demo_rules_failing[] =
    "[{\"project\": \"Integrations\", \"environment\": \"On Site Beta\", \"tenant\": \"Globex\","
    " \"duration_ms\": [300, 800], \"outcome\": \"fail\","
    " \"error\": \"Step 'Run migrations' failed: connection to db-globex timed out\"},"
    " {\"project\": \"*\", \"duration_ms\": [300, 1500]}]";
static const char demo_rules_fixed[] = "[{\"project\": \"*\", \"duration_ms\": [300, 1500]}]";

typedef struct demo_stats {
    int total; /* jobs planned (from release.accepted / stage events) */
    int by_type[OF_EV__COUNT];
    int replays;
    int64_t t0;
} demo_stats;

static void say(const demo_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const demo_stats *s, const char *fmt, ...)
{
    va_list ap;
    printf("[%5.1fs] ", (double)(of_now_ms() - s->t0) / 1000.0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static int produce_command(of_kafka_producer *p, const of_config *cfg, const of_command *cmd)
{
    char errstr[512];
    if (of_cli_produce_command(p, cfg, cmd, errstr, sizeof(errstr)) == OF_OK) return 0;
    fprintf(stderr, "octofleet demo: %s\n", errstr);
    return -1;
}

static const char demo_usage[] =
    "usage: octofleet demo [--verbose] [--workers N]\n\n"
    "Runs a whole release train on the embedded default, with no outside services:\n"
    "librdkafka's mock cluster as Kafka and the Octopus simulator as Octopus, both\n"
    "in-process. A producer and three workers deploy 7 projects in 4 stages to two beta\n"
    "environments for every connected tenant; one deployment fails, the release pauses, the\n"
    "demo fixes the cause in the simulator and replays the failed stage, and the train\n"
    "completes. Progress goes to stdout; exit 0 when the release completed.\n\n"
    "Options:\n"
    "  --verbose           show the daemons' logs (info level) on stderr\n"
    "  --workers N         number of worker threads (1..16, default 3)\n";

/* Everything the demo owns, so setup, the event loop and cleanup are separate functions. */
typedef struct demo {
    int nworkers;
    of_inproc fleet;
    of_kafka_producer *cmdp;
    of_kafka_consumer *events;
    of_inproc_daemon daemons[1 + 16];
    demo_stats st;
    char release_id[OF_UUID_STR_SIZE];
    char errstr[1024];
} demo;

/* Sets the simulator's rules (POST /sim/rules). */
static of_err demo_rules(demo *d, const char *rules)
{
    int status = 0;
    of_err rc = ofsim_admin(d->fleet.sim, "POST", "/sim/rules", rules, &status, NULL);
    if (rc == OF_OK && status != 200) rc = OF_ERR_HTTP;
    if (rc)
        return of_seterr(d->errstr, sizeof(d->errstr), rc, "cannot set the simulator's rules: %s",
                         of_strerror(rc));
    return OF_OK;
}

static of_err demo_setup(demo *d)
{
    static const char *const keys[] = {DEMO_API_KEY, NULL};
    static const of_inproc_set sets[] = {
        {"topics.partitions", "6"},
        {"topics.max_stages", "4"},
        {"worker.poll_interval", "300ms"},
        {"worker.max_in_flight", "64"},
        {"kafka.properties", "session.timeout.ms=6000"},
        {"kafka.properties", "linger.ms=5"},
    };
    char *es = d->errstr;
    size_t en = sizeof(d->errstr);
    of_inproc_opts o = {.world_json = of_demo_world_json,
                        .api_keys = keys,
                        .sets = sets,
                        .n_sets = sizeof(sets) / sizeof(sets[0]),
                        .client_id = "octofleet-demo"};
    of_err rc = of_inproc_start(&d->fleet, &o, es, en);
    if (!rc) rc = demo_rules(d, demo_rules_failing);
    if (rc) return rc;

    printf("octofleet demo: Kafka mock cluster at %s, Octopus simulator at %s\n",
           of_kafka_mock_bootstraps(d->fleet.mock), ofsim_url(d->fleet.sim));
    printf("train 2026.18: 7 projects in 4 stages -> On Site Beta, Hosted Beta, all tenants; "
           "1 producer, %d workers\n",
           d->nworkers);
    fflush(stdout);

    rc = of_inproc_start_daemons(d->daemons, d->nworkers, &d->fleet, DEMO_API_KEY, es, en);
    /* follow the events as `octofleet submit --wait` does */
    if (!rc)
        rc = of_inproc_operator(&d->fleet, "octofleet-demo-events", &d->events, &d->cmdp, es, en);
    return rc;
}

static int demo_submit(demo *d)
{
    static char who[] = "demo", why[] = "octofleet demo";
    char *request = strdup(demo_request);
    if (!request) return -1;
    of_command cmd = {.type = OF_CMD_SUBMIT,
                      .by = who,
                      .reason = why,
                      .time_ms = of_wall_ms(),
                      .request_json = request};
    of_uuid_release_id("Default", "2026.18", cmd.release_id);
    of_id_copy(d->release_id, cmd.release_id);
    int rc = produce_command(d->cmdp, &d->fleet.cfg, &cmd);
    free(request);
    if (rc == 0) say(&d->st, "submitted release 2026.18 as %s", d->release_id);
    return rc;
}

/* The operator's reaction to a pause: fix the cause, replay the failed stage. */
static int demo_replay(demo *d, int stage)
{
    static char who[] = "demo", why[] = "db-globex reachable again";
    if (demo_rules(d, demo_rules_fixed)) {
        fprintf(stderr, "octofleet demo: %s\n", d->errstr);
        return -1;
    }
    of_command rp = {
        .type = OF_CMD_REPLAY, .by = who, .reason = why, .time_ms = of_wall_ms(), .stage = stage};
    of_id_copy(rp.release_id, d->release_id);
    d->st.replays++;
    return produce_command(d->cmdp, &d->fleet.cfg, &rp);
}

/* Shows one event of our release; returns the exit code once the release ended, else -1. */
static int demo_show(demo *d, const of_event *ev)
{
    demo_stats *st = &d->st;
    const char *sn = ev->stage_name ? ev->stage_name : "";
    st->by_type[ev->type]++;
    switch (ev->type) {
    case OF_EV_RELEASE_ACCEPTED:
        say(st, "release accepted%s%s", ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_REJECTED:
        say(st, "release rejected: %s", ev->message ? ev->message : "");
        for (size_t i = 0; i < ev->n_errors; i++)
            printf("          - %s\n", ev->errors[i]);
        return OF_EXIT_FAIL;
    case OF_EV_STAGE_STARTED:
        say(st, "stage %d/%d %-12s started   in %-12s (%d jobs)", ev->stage, ev->stage_count, sn,
            ev->environment, ev->n_total);
        break;
    case OF_EV_STAGE_SUCCEEDED:
        say(st, "stage %d/%d %-12s succeeded in %-12s (%d ok, %d skipped)", ev->stage,
            ev->stage_count, sn, ev->environment, ev->n_succeeded, ev->n_skipped);
        break;
    case OF_EV_STAGE_FAILED:
        say(st, "stage %d/%d %-12s FAILED    in %-12s (%d failed)", ev->stage, ev->stage_count, sn,
            ev->environment, ev->n_failed);
        break;
    case OF_EV_JOB_FAILED:
        say(st, "job failed: %s %s / %s: %s", ev->project, ev->environment,
            ev->tenant ? ev->tenant : "-", ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_PAUSED: {
        int stage = ev->n_jobs ? ev->jobs[0].stage : 0;
        say(st,
            "release paused with %zu failed job(s); the operator fixes the cause and replays "
            "stage %d",
            ev->n_jobs, stage);
        if (demo_replay(d, stage)) return OF_EXIT_FAIL;
        break;
    }
    case OF_EV_RELEASE_RESUMED:
        say(st, "release resumed%s%s", ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_COMPLETED:
        say(st, "release completed");
        return OF_EXIT_OK;
    case OF_EV_RELEASE_ABORTED:
        say(st, "release aborted");
        return OF_EXIT_FAIL;
    default:
        break;
    }
    return -1;
}

static int demo_follow(demo *d)
{
    int64_t last_tick = of_now_ms();
    while (!of_signals_stop_requested()) {
        if (of_now_ms() - d->st.t0 > DEMO_DEADLINE) {
            say(&d->st, "giving up: the release did not finish in %d s", DEMO_DEADLINE / 1000);
            return OF_EXIT_FAIL;
        }
        for (int i = 0; i <= d->nworkers; i++) {
            if (of_inproc_daemon_done(&d->daemons[i])) {
                say(&d->st, "%s failed: %s", d->daemons[i].name, d->daemons[i].errstr);
                return OF_EXIT_FAIL;
            }
        }
        if (of_now_ms() - last_tick >= 2000) {
            const int *n = d->st.by_type;
            last_tick = of_now_ms();
            say(&d->st, "progress: %d jobs dispatched, %d started, %d succeeded, %d failed",
                n[OF_EV_JOB_DISPATCHED], n[OF_EV_JOB_STARTED], n[OF_EV_JOB_SUCCEEDED],
                n[OF_EV_JOB_FAILED] + n[OF_EV_JOB_TIMED_OUT]);
        }
        of_kafka_message *m = NULL;
        char errstr[256];
        of_err rc = of_kafka_consumer_poll(d->events, 200, &m, errstr, sizeof(errstr));
        if (rc == OF_ERR_STATE) {
            say(&d->st, "reading events failed: %s", errstr);
            return OF_EXIT_FAIL;
        }
        if (!m) continue;
        of_event ev = {0};
        int final = -1;
        if (m->value &&
            of_event_decode(m->value, m->value_len, &ev, errstr, sizeof(errstr)) == OF_OK &&
            strcmp(ev.release_id, d->release_id) == 0)
            final = demo_show(d, &ev);
        of_event_clear(&ev);
        of_kafka_message_free(m);
        if (final >= 0) return final;
    }
    return OF_EXIT_FAIL; /* interrupted */
}

static void demo_summary(demo *d)
{
    const int *n = d->st.by_type;
    long created = ofsim_request_count(d->fleet.sim, "POST /api/{space}/deployments");
    long polls = ofsim_request_count(d->fleet.sim, "GET /api/{space}/tasks");
    printf("\nsummary: %d jobs succeeded, %d skipped, %d failed and replayed (%d replay), "
           "%d stage gates passed\n",
           n[OF_EV_JOB_SUCCEEDED], n[OF_EV_JOB_SKIPPED], n[OF_EV_JOB_FAILED], d->st.replays,
           n[OF_EV_STAGE_SUCCEEDED]);
    printf("octopus: %ld deployments created, %ld batched task polls; %.1f s in all\n", created,
           polls, (double)(of_now_ms() - d->st.t0) / 1000.0);
}

static void demo_cleanup(demo *d)
{
    of_kafka_consumer_destroy(d->events);
    for (int i = 16; i >= 0; i--) /* workers first, the producer last */
        of_inproc_daemon_stop(&d->daemons[i]);
    of_kafka_producer_destroy(d->cmdp);
    of_inproc_clear(&d->fleet);
}

typedef struct demo_args {
    int nworkers;
    bool verbose;
} demo_args;

static of_cli_arg demo_arg(void *ctx, int argc, char **argv, int *i)
{
    demo_args *a = ctx;
    if (strcmp(argv[*i], "--verbose") == 0) {
        a->verbose = true;
    } else if (strcmp(argv[*i], "--workers") == 0 && *i + 1 < argc) {
        char *end;
        long v = strtol(argv[++*i], &end, 10);
        if (*end || v < 1 || v > 16) {
            fprintf(stderr, "octofleet demo: --workers needs 1..16\n");
            return OF_CLI_ARG_USAGE;
        }
        a->nworkers = (int)v;
    } else {
        return OF_CLI_ARG_UNEXPECTED;
    }
    return OF_CLI_ARG_TAKEN;
}

int of_cmd_demo(int argc, char **argv)
{
    demo_args a = {.nworkers = DEMO_WORKERS};
    int ex;
    if (!of_cli_args(argc, argv, "demo", demo_usage, NULL, demo_arg, &a, &ex)) return ex;
    of_log_set_level(a.verbose ? OF_LOG_INFO : OF_LOG_ERROR);
    demo *d = calloc(1, sizeof(*d));
    if (!d) return OF_EXIT_FAIL;
    d->nworkers = a.nworkers;
    d->st.t0 = of_now_ms();
    if (of_signals_install(d->errstr, sizeof(d->errstr)) != OF_OK) {
        fprintf(stderr, "octofleet demo: %s\n", d->errstr);
        free(d);
        return OF_EXIT_FAIL;
    }
    if (demo_setup(d) != OF_OK) {
        fprintf(stderr, "octofleet demo: %s\n", d->errstr);
        ex = OF_EXIT_SERVICE;
    } else if (demo_submit(d) != 0) {
        ex = OF_EXIT_SERVICE;
    } else {
        ex = demo_follow(d);
        demo_summary(d);
    }
    demo_cleanup(d);
    free(d);
    return ex;
}
