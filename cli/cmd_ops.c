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
#include "follow.h"
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

/* ---- submit ----------------------------------------------------------- */

#define ANSWER_TIMEOUT_S 60

/* --wait, --no-wait, --timeout S: how a command waits (shared by submit, replay, resume,
 * abort). */
typedef struct wait_args {
    bool wait, no_wait;
    int timeout_s;
} wait_args;

static of_cli_arg wait_arg(wait_args *w, bool can_wait, int argc, char **argv, int *i,
                           const char *name)
{
    const char *a = argv[*i];
    if (can_wait && strcmp(a, "--wait") == 0) {
        w->wait = true;
    } else if (strcmp(a, "--no-wait") == 0) {
        w->no_wait = true;
    } else if (strcmp(a, "--timeout") == 0 && *i + 1 < argc) {
        char *end;
        long v = strtol(argv[++*i], &end, 10);
        if (*end || v < 1 || v > 86400) {
            fprintf(stderr, "octofleet %s: --timeout needs seconds (1..86400), got '%s'\n", name,
                    argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        w->timeout_s = (int)v;
    } else {
        return OF_CLI_ARG_UNEXPECTED;
    }
    return OF_CLI_ARG_TAKEN;
}

#define WAIT_HELP                                                                          \
    "  --no-wait           only send the command; do not wait for the producer's answer\n" \
    "  --timeout S         how long to wait for the answer (default 60 s; then exit 5)\n"

#define EXIT_HELP                                                                                \
    "\nExit codes: 0 applied (with --wait: the release completed), 1 ignored or rejected (the\n" \
    "producer's reason on stderr; with --wait: the release paused or was aborted), 2 usage,\n"   \
    "3 configuration, 4 Kafka could not be used, 5 no answer within --timeout, 130\n"            \
    "interrupted.\n"

#define LIVE_HELP                                                                           \
    "On a terminal, --wait redraws one screen in place (stages x environments, progress,\n" \
    "failing and waiting jobs with their Octopus links, rate and time left; NO_COLOR\n"     \
    "honoured); otherwise it prints one line per change.\n"

static const char submit_usage[] =
    "usage: octofleet submit REQUEST.json [--wait] [--by NAME] [--reason TEXT] [options]\n\n"
    "Validates a release request (docs/requests.md) and sends it to the producer.\n"
    "Prints the release id on stdout. With --wait, follows the release from its current state\n"
    "(the releases topic; a release that exists already is not submitted twice) until it\n"
    "completes (exit 0), pauses, is aborted or is rejected (exit 1): a completed release exits\n"
    "0 at once. " LIVE_HELP
    "REQUEST.json may be - for stdin. A request that the fleet could not keep (larger than\n"
    "its message budget allows, docs/reliability.md) or a --by / --reason over its cap\n"
    "(256 / 1,024 bytes) is refused before anything is sent (exit 1). With a fleet key\n"
    "(security.fleet_key_file or OCTOFLEET_FLEET_KEY) the command is signed.\n\nOptions:\n"
    "  --wait              follow the release until it ends\n"
    "  --timeout S         with --wait: how long the producer may take to accept or reject\n"
    "                      a new release (default 60 s; then exit 5)\n"
    "  --by NAME           who submits (default: $USER; at most 256 bytes)\n"
    "  --reason TEXT       why (recorded in the events; at most 1,024 bytes)\n" OF_CLI_COMMON_HELP
        EXIT_HELP;

typedef struct submit_args {
    const char *path;
    char *by, *reason;
    wait_args w;
} submit_args;

static of_cli_arg submit_arg(void *ctx, int argc, char **argv, int *i)
{
    submit_args *a = ctx;
    const char *arg = argv[*i];
    bool has_val = *i + 1 < argc;
    of_cli_arg r = strcmp(arg, "--no-wait") == 0 ? OF_CLI_ARG_UNEXPECTED
                                                 : wait_arg(&a->w, true, argc, argv, i, "submit");
    if (r != OF_CLI_ARG_UNEXPECTED) return r;
    if (strcmp(arg, "--by") == 0 && has_val)
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
    of_uuid_random(cmd.command_id);
    cmd.by = a->by;
    cmd.reason = a->reason;
    cmd.time_ms = of_wall_ms();
    cmd.request_json = text;
    of_follow_opts fo = {.cmd = &cmd,
                         .wait_answer = a->w.wait,
                         .follow = a->w.wait,
                         .answer_timeout_ms = a->w.timeout_s * 1000,
                         .out = stderr,
                         .live = isatty(fileno(stdout)) && isatty(fileno(stderr)),
                         .name = "submit"};
    ex = of_cli_follow(cfg, &fo);
    cmd.by = cmd.reason = cmd.request_json = NULL; /* borrowed */
    of_request_free(req);
    free(text);
    return ex;
}

int of_cmd_submit(int argc, char **argv)
{
    of_cli_common co = {0};
    submit_args a = {.by = default_user(), .w = {.timeout_s = ANSWER_TIMEOUT_S}};
    int ex;
    if (!of_cli_args(argc, argv, "submit", submit_usage, &co, submit_arg, &a, &ex)) return ex;
    if (!a.path) return of_cli_usage_error("submit", submit_usage, "missing REQUEST.json");
    return of_cli_with_config(&co, OF_ROLE_ANY, submit_run, &a);
}

/* ---- replay / resume / abort ------------------------------------------- */

static const char control_usage[] =
    "usage: octofleet replay RELEASE [--stage N] [--all | --quarantined] [--tenant T]...\n"
    "                        [--project P]...\n"
    "                        [--environment E]... [--by NAME] [--reason TEXT] [options]\n"
    "       octofleet resume RELEASE [--by NAME] [--reason TEXT] [options]\n"
    "       octofleet abort  RELEASE [--cancel-running] [--by NAME] [--reason TEXT] "
    "[options]\n\n"
    "RELEASE is the id printed by submit, or the release's name (\"2026.18\"; with --space S\n"
    "when the request named a space other than Default): the id is derived from both.\n"
    "Steers a release through the producer (docs/operations.md):\n"
    "  replay  re-dispatches the failed jobs of a stage (--all: every job of it), attempt + 1;\n"
    "          --stage 0 or none = every stage with failed jobs; filters narrow it. Failed\n"
    "          targets that already run the release in Octopus (fixed by hand) are recorded\n"
    "          as succeeded, not sent again (not with --all): \"3 to replay, 2 already on V\";\n"
    "          --quarantined: the failed jobs of quarantined tenants (policy.proceed), each\n"
    "          tenant going on into the stages it was skipped in once its job succeeds\n"
    "  resume  continues after a fix made by hand (the producer reconciles with Octopus first)\n"
    "  abort   stops the release; --cancel-running cancels its live Octopus tasks\n"
    "The command is recorded in the events with who (--by, default $USER) and why (--reason).\n"
    "It then waits for the producer's answer: \"applied\" (exit 0), or the producer's reason\n"
    "when it ignored the command (nothing to replay, nothing failed, already completed or\n"
    "aborted, no such release: exit 1). With --wait (replay, resume) it then follows the\n"
    "release until it ends, as submit --wait does. " LIVE_HELP "\n"
    "Options:\n"
    "  --space NAME        the request's space, to find a release by name (default "
    "Default)\n"
    "  --wait              replay, resume: follow the release until it ends\n" WAIT_HELP
        OF_CLI_COMMON_HELP EXIT_HELP;

/* The options of approve and guide. */
#define STEER_OPTIONS                                                                       \
    "\nOptions:\n"                                                                          \
    "  --space NAME        the request's space, to find a release by name (default "        \
    "Default)\n"                                                                            \
    "  --wait              follow the release until it ends\n" WAIT_HELP OF_CLI_COMMON_HELP \
        EXIT_HELP

static const char approve_usage[] =
    "usage: octofleet approve RELEASE [--stage N] [--by NAME] [--reason TEXT] [options]\n\n"
    "Approves what the request made wait for approval (docs/requests.md, \"Approvals\"): a\n"
    "stage with \"approval\" (--stage N), or the whole release with policy.approval (no\n"
    "--stage, or --stage 0). The stage starts; its jobs carry the approval to the workers,\n"
    "which answer every manual intervention its deployments raise in Octopus with \"Proceed\"\n"
    "(taking responsibility first; who and why in the notes), each recorded as a job.answered\n"
    "event; a release approval covers every stage that has none of its own. The producer\n"
    "records who (--by, default $USER) and why (--reason) in stage.approved. It then waits\n"
    "for the producer's answer: \"applied\" (exit 0), or its reason when it ignored the command\n"
    "(the stage needs no approval, was approved already, the release has ended: exit 1).\n"
    "With --wait it then follows the release until it ends.\n" LIVE_HELP STEER_OPTIONS;

static const char guide_usage[] =
    "usage: octofleet guide RELEASE --stage N --action retry|ignore|abort [--tenant T]...\n"
    "                       [--by NAME] [--reason TEXT] [options]\n\n"
    "Answers in Octopus, in one go, the guided failures of the stage's jobs that wait on one\n"
    "(a deployment with policy.guided_failure whose step failed): retry the step, ignore\n"
    "the failure and go on, or abort (fail the deployment). --tenant narrows it. The\n"
    "producer takes responsibility for each interruption and submits the answer with who\n"
    "(--by, default $USER) and why (--reason) in its notes; each answer is recorded as a\n"
    "job.answered event, and the command is answered by stage.guided with the counts\n"
    "(exit 0), or ignored when no job of the stage waits on a guided failure (exit 1).\n"
    "With --wait it then follows the release until it ends.\n" LIVE_HELP STEER_OPTIONS;

#define MAX_FILTERS 64

typedef struct control_args {
    of_command cmd;
    const char *rid;   /* an id, or a release name */
    const char *space; /* with a name: the request's space */
    char *tenants[MAX_FILTERS], *projects[MAX_FILTERS], *envs[MAX_FILTERS];
    wait_args w;
    bool has_stage, has_action;
} control_args;

static of_cli_arg control_arg(void *ctx, int argc, char **argv, int *i)
{
    control_args *c = ctx;
    of_command *cmd = &c->cmd;
    of_cmd_type type = cmd->type;
    const char *a = argv[*i];
    bool has_val = *i + 1 < argc;
    of_cli_arg r = wait_arg(&c->w, type != OF_CMD_ABORT, argc, argv, i, of_cmd_type_name(type));
    if (r != OF_CLI_ARG_UNEXPECTED) return r;
    if (type == OF_CMD_REPLAY && strcmp(a, "--all") == 0) {
        cmd->all = true;
    } else if (type == OF_CMD_REPLAY && strcmp(a, "--quarantined") == 0) {
        cmd->quarantined = true;
    } else if (type == OF_CMD_ABORT && strcmp(a, "--cancel-running") == 0) {
        cmd->cancel_running = true;
    } else if (type != OF_CMD_RESUME && type != OF_CMD_ABORT && strcmp(a, "--stage") == 0 &&
               has_val) {
        char *end;
        long v = strtol(argv[++*i], &end, 10);
        if (*end || v < 0 || v > 1000) {
            fprintf(stderr, "octofleet %s: --stage needs a number, got '%s'\n",
                    of_cmd_type_name(type), argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        cmd->stage = (int)v;
        c->has_stage = true;
    } else if (type == OF_CMD_GUIDE && strcmp(a, "--action") == 0 && has_val) {
        if (of_guidance_parse(argv[++*i], &cmd->guidance) != 0) {
            fprintf(stderr, "octofleet guide: --action is retry, ignore or abort, not '%s'\n",
                    argv[*i]);
            return OF_CLI_ARG_USAGE;
        }
        c->has_action = true;
    } else if (((type == OF_CMD_REPLAY &&
                 (strcmp(a, "--tenant") == 0 || strcmp(a, "--project") == 0 ||
                  strcmp(a, "--environment") == 0)) ||
                (type == OF_CMD_GUIDE && strcmp(a, "--tenant") == 0)) &&
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
    of_follow_opts fo = {.cmd = &c->cmd,
                         .wait_answer = !c->w.no_wait,
                         .follow = c->w.wait,
                         .answer_timeout_ms = c->w.timeout_s * 1000,
                         .out = stderr,
                         .live = isatty(fileno(stdout)) && isatty(fileno(stderr)),
                         .name = of_cmd_type_name(c->cmd.type)};
    return of_cli_follow(cfg, &fo);
}

static int control(of_cmd_type type, const char *usage, int argc, char **argv)
{
    of_cli_common co = {0};
    control_args c = {.cmd = {.type = type, .by = default_user()},
                      .w = {.timeout_s = ANSWER_TIMEOUT_S}};
    c.cmd.tenants = c.tenants;
    c.cmd.projects = c.projects;
    c.cmd.environments = c.envs;
    const char *name = of_cmd_type_name(type);
    int ex;
    if (!of_cli_args(argc, argv, name, usage, &co, control_arg, &c, &ex)) return ex;
    if (!c.rid) return of_cli_usage_error(name, usage, "%s", "missing RELEASE");
    if (c.w.wait && c.w.no_wait)
        return of_cli_usage_error(name, usage, "%s", "--wait and --no-wait exclude each other");
    if (c.cmd.all && c.cmd.quarantined)
        return of_cli_usage_error(name, usage, "%s", "--all and --quarantined exclude each other");
    if (type == OF_CMD_GUIDE && (!c.has_stage || c.cmd.stage < 1))
        return of_cli_usage_error(name, usage, "%s", "--stage N (1 or more) is required");
    if (type == OF_CMD_GUIDE && !c.has_action)
        return of_cli_usage_error(name, usage, "%s", "--action retry|ignore|abort is required");
    static char no_reason[] = "requested from the command line";
    if (!c.cmd.reason) c.cmd.reason = no_reason;
    of_cli_release_id(c.rid, c.space, c.cmd.release_id);
    c.cmd.time_ms = of_wall_ms();
    of_uuid_random(c.cmd.command_id);
    return of_cli_with_config(&co, OF_ROLE_ANY, control_run, &c);
}

int of_cmd_replay(int argc, char **argv)
{
    return control(OF_CMD_REPLAY, control_usage, argc, argv);
}

int of_cmd_resume(int argc, char **argv)
{
    return control(OF_CMD_RESUME, control_usage, argc, argv);
}

int of_cmd_abort(int argc, char **argv)
{
    return control(OF_CMD_ABORT, control_usage, argc, argv);
}

int of_cmd_approve(int argc, char **argv)
{
    return control(OF_CMD_APPROVE, approve_usage, argc, argv);
}

int of_cmd_guide(int argc, char **argv)
{
    return control(OF_CMD_GUIDE, guide_usage, argc, argv);
}
