/* Operator commands that talk to the fleet through Kafka:
 *   submit, replay, resume, abort  -> a command on <prefix>requests
 *   status                         <- state records from <prefix>releases
 * None of them talks to Octopus; the producer does. */
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "log.h"
#include "msg.h"
#include "signals.h"
#include "uuid.h"

#define KAFKA_TIMEOUT_MS 30000

/* ---- small helpers ------------------------------------------------------ */

static char *default_user(void)
{
    static char unknown[] = "unknown";
    char *u = getenv("USER");
    return (u && u[0]) ? u : unknown;
}

/* Sends one command to <prefix>requests (creating the fleet's topics first when
 * topics.create) and waits for its delivery. */
static int send_command(const of_config *cfg, const of_command *cmd)
{
    char errstr[512];
    of_fleet_kafka fk;
    of_kafka_producer *p = NULL;
    int ex = of_cli_check_command(cfg, cmd);
    if (ex != OF_EXIT_OK) return ex; /* refused before connecting: nothing sent */
    ex = OF_EXIT_SERVICE;

    if (of_fleet_kafka_init(&fk, cfg, NULL, NULL)) return OF_EXIT_FAIL;
    if (cfg->topics.create &&
        of_fleet_ensure_topics(cfg, &fk.kc, KAFKA_TIMEOUT_MS, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet: cannot create topics: %s\n", errstr);
    } else if (of_kafka_producer_new(&fk.kc, NULL, &p, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
    } else if (of_cli_produce_command(p, cfg, cmd, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet: %s\n", errstr);
    } else {
        ex = OF_EXIT_OK;
    }
    of_kafka_producer_destroy(p);
    of_fleet_kafka_clear(&fk);
    return ex;
}

/* ---- following events --------------------------------------------------- */

typedef struct follow_ctx {
    const char *release_id; /* NULL = every release */
    bool print_json;        /* JSON lines on stdout */
    bool progress;          /* human progress on stderr */
    int64_t submitted_ms;   /* our submit's time: a rejection carries it (0 = any) */
    int final;              /* -1 running; else the exit code the release ended with */
} follow_ctx;

static void print_progress(const of_event *ev)
{
    const char *t = of_event_type_name(ev->type) + strlen("octofleet.");
    switch (ev->type) {
    case OF_EV_STAGE_STARTED:
    case OF_EV_STAGE_SUCCEEDED:
    case OF_EV_STAGE_FAILED:
        of_cli_line(stderr, "%-18s stage %d/%d%s%s in %s (%d jobs: %d ok, %d skipped, %d failed)",
                    t, ev->stage, ev->stage_count, ev->stage_name ? " " : "",
                    ev->stage_name ? ev->stage_name : "", ev->environment ? ev->environment : "?",
                    ev->n_total, ev->n_succeeded, ev->n_skipped, ev->n_failed);
        break;
    case OF_EV_JOB_FAILED:
    case OF_EV_JOB_TIMED_OUT:
    case OF_EV_JOB_CANCELLED:
    case OF_EV_JOB_WAITING:
        of_cli_line(stderr, "%-18s %s %s%s%s attempt %d%s%s", t, ev->project ? ev->project : "?",
                    ev->environment ? ev->environment : "?", ev->tenant ? " / " : "",
                    ev->tenant ? ev->tenant : "", ev->attempt, ev->message ? ": " : "",
                    ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_REJECTED:
        of_cli_line(stderr, "%-18s %s", t, ev->message ? ev->message : "");
        for (size_t i = 0; i < ev->n_errors; i++)
            of_cli_line(stderr, "  - %s", ev->errors[i]);
        break;
    case OF_EV_RELEASE_PAUSED:
        of_cli_line(stderr, "%-18s %zu failed job(s):", t, ev->n_jobs);
        for (size_t i = 0; i < ev->n_jobs; i++)
            of_cli_line(stderr, "  - stage %d %s %s%s%s", ev->jobs[i].stage,
                        ev->jobs[i].project ? ev->jobs[i].project : "?",
                        ev->jobs[i].environment ? ev->jobs[i].environment : "?",
                        ev->jobs[i].tenant ? " / " : "",
                        ev->jobs[i].tenant ? ev->jobs[i].tenant : "");
        /* runnable as printed: one replay per stage that holds a failed job */
        for (size_t i = 0; i < ev->n_jobs; i++) {
            bool first = true;
            for (size_t k = 0; k < i; k++)
                first = first && ev->jobs[k].stage != ev->jobs[i].stage;
            if (first)
                of_cli_line(stderr, "  replay with: octofleet replay %s --stage %d", ev->release_id,
                            ev->jobs[i].stage);
        }
        break;
    case OF_EV_COMMAND_IGNORED:
        of_cli_line(stderr, "%-18s %s (by %s)", t, ev->message ? ev->message : "",
                    ev->by ? ev->by : "?");
        break;
    case OF_EV_RELEASE_ACCEPTED:
    case OF_EV_RELEASE_RESUMED:
    case OF_EV_RELEASE_COMPLETED:
    case OF_EV_RELEASE_ABORTED:
        of_cli_line(stderr, "%-18s %s%s%s", t, ev->release_name ? ev->release_name : ev->release_id,
                    ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    default:
        break; /* per-job successes would drown the stage lines */
    }
}

static of_err on_event(void *opaque, const of_kafka_message *msg)
{
    follow_ctx *fc = opaque;
    if (!msg->value) return OF_OK;
    of_event ev = {0};
    char errstr[256];
    if (of_event_decode(msg->value, msg->value_len, &ev, errstr, sizeof(errstr)) != OF_OK) {
        of_warn("skipping an undecodable event topic=%s partition=%d offset=%lld: %s", msg->topic,
                (int)msg->partition, (long long)msg->offset, errstr);
        of_event_clear(&ev);
        return OF_OK;
    }
    if (fc->release_id && strcmp(ev.release_id, fc->release_id) != 0) {
        of_event_clear(&ev);
        return OF_OK;
    }
    /* a rejection of an earlier submit of the same release is not about ours */
    if (ev.type == OF_EV_RELEASE_REJECTED && fc->submitted_ms && ev.time_ms != fc->submitted_ms) {
        of_event_clear(&ev);
        return OF_OK;
    }
    if (fc->print_json) {
        fwrite(msg->value, 1, msg->value_len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    if (fc->progress) print_progress(&ev);
    if (ev.type == OF_EV_RELEASE_COMPLETED) fc->final = OF_EXIT_OK;
    if (ev.type == OF_EV_RELEASE_PAUSED || ev.type == OF_EV_RELEASE_ABORTED ||
        ev.type == OF_EV_RELEASE_REJECTED)
        fc->final = OF_EXIT_FAIL;
    of_event_clear(&ev);
    return OF_OK;
}

/* Follows <prefix>events from the beginning with a throw-away group (nothing committed)
 * until the stop flag, or until the followed release ends when stop_at_end. */
static int follow_events(const of_config *cfg, follow_ctx *fc, bool stop_at_end)
{
    char errstr[512], topic[OF_TOPIC_NAME_MAX], group[96];
    of_fleet_kafka fk;
    of_kafka_consumer *c = NULL;
    int ex = OF_EXIT_SERVICE;
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet")) return OF_EXIT_FAIL;
    if (of_config_topic(cfg, "events", topic, sizeof(topic))) {
        fprintf(stderr, "octofleet: topics.prefix too long for the events topic\n");
        of_fleet_kafka_clear(&fk);
        return OF_EXIT_CONFIG;
    }
    snprintf(group, sizeof(group), "octofleet-cli-%ld-%lld", (long)getpid(),
             (long long)of_wall_ms());
    of_kafka_consumer_opts co = {.group_id = group, .manual_commit = true};
    const char *topics[] = {topic};
    if (of_kafka_consumer_new(&fk.kc, &co, &c, errstr, sizeof(errstr)) ||
        of_kafka_subscribe(c, topics, 1, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet: cannot read %s: %s\n", topic, errstr);
        goto out;
    }
    if (of_signals_install(errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet: %s\n", errstr);
        ex = OF_EXIT_FAIL;
        goto out;
    }
    while (!of_signals_stop_requested()) {
        of_kafka_message *m = NULL;
        of_err rc = of_kafka_consumer_poll(c, 200, &m, errstr, sizeof(errstr));
        if (rc == OF_ERR_STATE) {
            fprintf(stderr, "octofleet: reading events failed: %s\n", errstr);
            goto out;
        }
        if (rc) of_debug("events consumer: %s", errstr);
        if (m) {
            on_event(fc, m);
            of_kafka_message_free(m);
        }
        if (stop_at_end && fc->final >= 0) break;
    }
    ex = fc->final >= 0 ? fc->final : OF_EXIT_OK;
out:
    of_kafka_consumer_destroy(c);
    of_fleet_kafka_clear(&fk);
    return ex;
}

/* ---- submit ----------------------------------------------------------- */

static const char submit_usage[] =
    "usage: octofleet submit REQUEST.json [--wait] [--by NAME] [--reason TEXT] [options]\n\n"
    "Validates a release request (docs/requests.md) and sends it to the producer.\n"
    "Prints the release id on stdout. With --wait, shows progress per stage on stderr\n"
    "until the release completes (exit 0), pauses, is aborted or is rejected (exit 1).\n"
    "REQUEST.json may be - for stdin. A request that the fleet could not keep (larger than\n"
    "its message budget allows, docs/reliability.md) or a --by / --reason over its cap\n"
    "(256 / 1,024 bytes) is refused before anything is sent (exit 1). With a fleet key\n"
    "(security.fleet_key_file or OCTOFLEET_FLEET_KEY) the command is signed.\n\nOptions:\n"
    "  --wait              follow the release until it ends\n"
    "  --by NAME           who submits (default: $USER; at most 256 bytes)\n"
    "  --reason TEXT       why (recorded in the events; at most 1,024 bytes)\n" OF_CLI_COMMON_HELP;

typedef struct submit_args {
    const char *path;
    char *by, *reason;
    bool wait;
} submit_args;

static of_cli_arg submit_arg(void *ctx, int argc, char **argv, int *i)
{
    submit_args *a = ctx;
    const char *arg = argv[*i];
    bool has_val = *i + 1 < argc;
    if (strcmp(arg, "--wait") == 0)
        a->wait = true;
    else if (strcmp(arg, "--by") == 0 && has_val)
        a->by = argv[++*i];
    else if (strcmp(arg, "--reason") == 0 && has_val)
        a->reason = argv[++*i];
    else if ((arg[0] != '-' || strcmp(arg, "-") == 0) && !a->path)
        a->path = arg;
    else
        return OF_CLI_ARG_UNEXPECTED;
    return OF_CLI_ARG_TAKEN;
}

static int submit_run(const of_config *cfg, void *ctx)
{
    const submit_args *a = ctx;
    char *text = NULL;
    size_t len = 0;
    of_request *req = NULL;
    of_command cmd = {0};
    int ex = of_cli_read_request("submit", a->path, &text, &len, &req);
    if (ex) return ex;
    cmd.type = OF_CMD_SUBMIT;
    of_uuid_release_id(req->space, req->release, cmd.release_id);
    cmd.by = a->by;
    cmd.reason = a->reason;
    cmd.time_ms = of_wall_ms();
    cmd.request_json = text;
    ex = send_command(cfg, &cmd);
    cmd.by = cmd.reason = cmd.request_json = NULL; /* borrowed */
    if (ex) goto out;
    printf("%s\n", cmd.release_id);
    fflush(stdout);
    if (a->wait) {
        follow_ctx fc = {.release_id = cmd.release_id,
                         .progress = true,
                         .submitted_ms = cmd.time_ms,
                         .final = -1};
        ex = follow_events(cfg, &fc, true);
    }
out:
    of_request_free(req);
    free(text);
    return ex;
}

int of_cmd_submit(int argc, char **argv)
{
    of_cli_common co = {0};
    submit_args a = {.by = default_user()};
    int ex;
    if (!of_cli_args(argc, argv, "submit", submit_usage, &co, submit_arg, &a, &ex)) return ex;
    if (!a.path) return of_cli_usage_error("submit", submit_usage, "missing REQUEST.json");
    return of_cli_with_config(&co, OF_ROLE_ANY, submit_run, &a);
}

/* ---- replay / resume / abort ------------------------------------------- */

static const char control_usage[] =
    "usage: octofleet replay RELEASE [--stage N] [--all] [--tenant T]... [--project P]...\n"
    "                        [--environment E]... [--by NAME] [--reason TEXT] [options]\n"
    "       octofleet resume RELEASE [--by NAME] [--reason TEXT] [options]\n"
    "       octofleet abort  RELEASE [--cancel-running] [--by NAME] [--reason TEXT] "
    "[options]\n\n"
    "RELEASE is the id printed by submit, or the release's name (\"2026.18\"; with --space S\n"
    "when the request named a space other than Default): the id is derived from both.\n"
    "Steers a release through the producer (docs/operations.md):\n"
    "  replay  re-dispatches the failed jobs of a stage (--all: every job of it), attempt + 1;\n"
    "          --stage 0 or none = every stage with failed jobs; filters narrow it\n"
    "  resume  continues after a fix made by hand (the producer reconciles with Octopus first)\n"
    "  abort   stops the release; --cancel-running cancels its live Octopus tasks\n"
    "The command is recorded in the events with who (--by, default $USER) and why (--reason).\n\n"
    "Options:\n"
    "  --space NAME        the request's space, to find a release by name (default "
    "Default)\n" OF_CLI_COMMON_HELP;

#define MAX_FILTERS 64

typedef struct control_args {
    of_command cmd;
    const char *rid;   /* an id, or a release name */
    const char *space; /* with a name: the request's space */
    char *tenants[MAX_FILTERS], *projects[MAX_FILTERS], *envs[MAX_FILTERS];
} control_args;

static of_cli_arg control_arg(void *ctx, int argc, char **argv, int *i)
{
    control_args *c = ctx;
    of_command *cmd = &c->cmd;
    of_cmd_type type = cmd->type;
    const char *a = argv[*i];
    bool has_val = *i + 1 < argc;
    if (type == OF_CMD_REPLAY && strcmp(a, "--all") == 0) {
        cmd->all = true;
    } else if (type == OF_CMD_ABORT && strcmp(a, "--cancel-running") == 0) {
        cmd->cancel_running = true;
    } else if (type == OF_CMD_REPLAY && strcmp(a, "--stage") == 0 && has_val) {
        char *end;
        long v = strtol(argv[++*i], &end, 10);
        if (*end || v < 0 || v > 1000) {
            fprintf(stderr, "octofleet replay: --stage needs a number, got '%s'\n", argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        cmd->stage = (int)v;
    } else if (type == OF_CMD_REPLAY &&
               (strcmp(a, "--tenant") == 0 || strcmp(a, "--project") == 0 ||
                strcmp(a, "--environment") == 0) &&
               has_val) {
        char **list = a[2] == 't' ? c->tenants : a[2] == 'p' ? c->projects : c->envs;
        size_t *n = a[2] == 't'   ? &cmd->n_tenants
                    : a[2] == 'p' ? &cmd->n_projects
                                  : &cmd->n_environments;
        if (*n >= MAX_FILTERS) {
            fprintf(stderr, "octofleet replay: too many %s filters\n", a);
            return OF_CLI_ARG_USAGE;
        }
        list[(*n)++] = argv[++*i];
    } else if (strcmp(a, "--by") == 0 && has_val) {
        cmd->by = argv[++*i];
    } else if (strcmp(a, "--reason") == 0 && has_val) {
        cmd->reason = argv[++*i];
    } else if (strcmp(a, "--space") == 0 && has_val) {
        c->space = argv[++*i];
    } else if (a[0] != '-' && !c->rid) {
        c->rid = a;
    } else {
        return OF_CLI_ARG_UNEXPECTED;
    }
    return OF_CLI_ARG_TAKEN;
}

static int control_run(const of_config *cfg, void *ctx)
{
    control_args *c = ctx;
    int ex = send_command(cfg, &c->cmd);
    if (ex == OF_EXIT_OK) printf("%s %s sent\n", of_cmd_type_name(c->cmd.type), c->cmd.release_id);
    return ex;
}

static int control(of_cmd_type type, int argc, char **argv)
{
    of_cli_common co = {0};
    control_args c = {.cmd = {.type = type, .by = default_user()}};
    c.cmd.tenants = c.tenants;
    c.cmd.projects = c.projects;
    c.cmd.environments = c.envs;
    const char *name = of_cmd_type_name(type);
    int ex;
    if (!of_cli_args(argc, argv, name, control_usage, &co, control_arg, &c, &ex)) return ex;
    if (!c.rid) return of_cli_usage_error(name, control_usage, "%s", "missing RELEASE");
    static char no_reason[] = "requested from the command line";
    if (!c.cmd.reason) c.cmd.reason = no_reason;
    if (of_uuid_valid(c.rid))
        of_id_copy(c.cmd.release_id, c.rid);
    else /* a name: the id is derived from (space, name), as the producer does */
        of_uuid_release_id(c.space ? c.space : "Default", c.rid, c.cmd.release_id);
    c.cmd.time_ms = of_wall_ms();
    return of_cli_with_config(&co, OF_ROLE_ANY, control_run, &c);
}

int of_cmd_replay(int argc, char **argv)
{
    return control(OF_CMD_REPLAY, argc, argv);
}

int of_cmd_resume(int argc, char **argv)
{
    return control(OF_CMD_RESUME, argc, argv);
}

int of_cmd_abort(int argc, char **argv)
{
    return control(OF_CMD_ABORT, argc, argv);
}
