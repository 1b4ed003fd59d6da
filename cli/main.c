/* octofleet: one binary, many subcommands (git/kcat style).
 *
 * Only main() exits. Each subcommand is a function returning an exit code
 * (see cli/exitcodes.h); it gets argv starting at its own name. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exitcodes.h"
#include "log.h"
#include "octopus.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct of_cmd {
    const char *name;
    of_cmd_fn fn;
    const char *summary;
} of_cmds[] = {
    /* one line per subcommand; keep the order of `octofleet --help` */
    {"demo", of_cmd_demo, "run a whole release train in-process (mock Kafka, simulated Octopus)"},
    {"producer", of_cmd_producer, "run the producer daemon (until SIGTERM)"},
    {"worker", of_cmd_worker, "run a worker daemon (until SIGTERM)"},
    {"notify", of_cmd_notify, "post one chat message per release, updated as it runs"},
    {"plan", of_cmd_plan, "expand a release request into its jobs, deploying nothing"},
    {"hotfix", of_cmd_hotfix, "write the request of a hotfix train (where the old version runs)"},
    {"import", of_cmd_import, "write the request of an Octopus orchestration release (_Deploy)"},
    {"submit", of_cmd_submit, "send a release request to the producer (--wait follows it)"},
    {"status", of_cmd_status, "show a release's stages, counts and failed jobs"},
    {"watch", of_cmd_watch, "follow a release from its current state until it ends"},
    {"list", of_cmd_list, "list the releases with their state, counts and age"},
    {"replay", of_cmd_replay, "re-dispatch the failed (or all) jobs of a stage"},
    {"resume", of_cmd_resume, "continue a paused release after a fix made by hand"},
    {"abort", of_cmd_abort, "stop a release (--cancel-running cancels live tasks)"},
    {"approve", of_cmd_approve, "approve a stage (or release) that waits for approval"},
    {"guide", of_cmd_guide, "answer a stage's guided failures in Octopus (retry/ignore/abort)"},
    {"workers", of_cmd_workers, "show the worker group: who owns which stage partitions"},
    {"events", of_cmd_events, "print CloudEvents as JSON lines (--follow)"},
    {"topic", of_cmd_topic, "dump a topic as JSON lines, or produce one message (debugging)"},
    {"version", cmd_version, "print octofleet's version"},
    {"help", cmd_help, "show this help, or a command's help"},
};

static const size_t of_ncmds = sizeof(of_cmds) / sizeof(of_cmds[0]);

static void usage(FILE *out)
{
    fprintf(out, "usage: octofleet <command> [options]\n"
                 "       octofleet <command> --help\n\n"
                 "Release trains for Octopus Deploy on a Kafka worker fleet.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < of_ncmds; i++)
        fprintf(out, "  %-10s %s\n", of_cmds[i].name, of_cmds[i].summary);
    fprintf(out, "\nExit codes: 0 success, 1 the operation failed, 2 usage error,\n"
                 "3 configuration error, 4 a service (Octopus, Kafka) could not be used,\n"
                 "5 the producer did not answer in time, 130 interrupted.\n"
                 "Logs go to stderr, data to stdout.\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: octofleet version\n\nPrints the version on stdout.\n");
        return OF_EXIT_OK;
    }
    printf("octofleet %s\n", OF_VERSION);
    return OF_EXIT_OK;
}

static const struct of_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < of_ncmds; i++)
        if (strcmp(of_cmds[i].name, name) == 0) return &of_cmds[i];
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0) {
        const struct of_cmd *c = find_cmd(argv[1]);
        if (!c) {
            fprintf(stderr, "octofleet: unknown command '%s'\n", argv[1]);
            return OF_EXIT_USAGE;
        }
        char help[] = "--help";
        char *sub[] = {argv[1], help, NULL};
        return c->fn(2, sub);
    }
    usage(stdout);
    return OF_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return OF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return OF_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(1, argv + 1);
    const struct of_cmd *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "octofleet: unknown command '%s'; try 'octofleet --help'\n", argv[1]);
        return OF_EXIT_USAGE;
    }
    /* Once, before any subcommand starts threads that create Octopus clients (octopus.h). */
    char es[256];
    if (of_octo_global_init(es, sizeof es) != OF_OK) {
        fprintf(stderr, "octofleet: %s\n", es);
        return OF_EXIT_FAIL;
    }
    int ex = c->fn(argc - 1, argv + 1);
    of_octo_global_cleanup();
    return ex;
}
