/* `octofleet worker`: runs one worker of the fleet in the foreground until SIGTERM/SIGINT
 * (systemd or the container runtime supervises it; no daemonising here). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"
#include "worker.h"

static const char worker_usage[] =
    "usage: octofleet worker -c FILE [--set KEY=VALUE]... [--name NAME] [--dump-config]\n"
    "                        [options]\n\n"
    "Runs a worker: takes jobs from the stage topics (one consumer group for the fleet),\n"
    "creates each job's Octopus deployment (or adopts the one this job attempt already\n"
    "created), follows the server tasks with batched polling, and reports job.* events.\n"
    "Up to worker.max_in_flight jobs run at once on one thread. A job's offset is committed\n"
    "only after its final event is delivered, so a crash or a kill replays, never loses.\n"
    "On SIGTERM or SIGINT it stops taking jobs, lets in-flight jobs finish for up to\n"
    "worker.drain_timeout, commits and exits. With a stable name it stays a static member of\n"
    "the group: restarted under the same name it gets its partitions back without a\n"
    "rebalance; not restarted, its partitions move after session.timeout.ms (30 s).\n"
    "The Octopus API key comes from octopus.api_key_file or $OCTOPUS_API_KEY, never argv.\n"
    "With worker.metrics_listen (host:port) it serves GET /metrics, /healthz and /readyz\n"
    "(docs/monitoring.md) and logs \"metrics listening on <address>\".\n\n"
    "Options:\n" OF_CLI_COMMON_HELP
    "  --name NAME         this worker's name in events and logs, and its static group\n"
    "                      member id (default: worker.name, else <hostname>-<pid>, which\n"
    "                      is not stable: dynamic membership). Names must be UNIQUE in the\n"
    "                      group (two workers with one name fence each other: exit 3) and\n"
    "                      STABLE across restarts (e.g. systemd %H-%i, a StatefulSet pod)\n"
    "\n"
    "Exit codes: 0 stopped cleanly on a signal, 1 stopped by an error while running (e.g. a\n"
    "fatal Kafka consumer error), 2 usage, 3 configuration (also: no API key, the configured\n"
    "Octopus space does not exist, another worker uses the same name, worker.metrics_listen\n"
    "cannot be bound), 4 Kafka or Octopus could not be used at start-up (transient Kafka\n"
    "states are retried for 60 s first).\n";

/* --name NAME or --name=NAME. */
static of_cli_arg worker_arg(void *ctx, int argc, char **argv, int *i)
{
    const char **name = ctx;
    if (strcmp(argv[*i], "--name") != 0 && strncmp(argv[*i], "--name=", 7) != 0)
        return OF_CLI_ARG_UNEXPECTED;
    if (argv[*i][6] == '=') {
        *name = argv[*i] + 7;
    } else if (*i + 1 < argc) {
        *name = argv[++*i];
    } else {
        fprintf(stderr, "octofleet worker: --name needs a value\n");
        return OF_CLI_ARG_USAGE;
    }
    if (!**name) {
        fprintf(stderr, "octofleet worker: --name must not be empty\n");
        return OF_CLI_ARG_USAGE;
    }
    return OF_CLI_ARG_TAKEN;
}

static of_err run_worker(const of_config *cfg, of_stop_flag *stop, char *errstr, size_t errstr_size)
{
    return of_worker_run(&(of_worker_opts){.cfg = cfg, .stop = stop}, errstr, errstr_size);
}

int of_cmd_worker(int argc, char **argv)
{
    of_cli_common co = {0};
    const char *name = NULL;
    int ex;
    if (!of_cli_args(argc, argv, "worker", worker_usage, &co, worker_arg, &name, &ex)) return ex;
    /* --name is worker.name set from the command line: validated like the file's key, and
     * shown by --dump-config. */
    char name_set[300];
    if (name) {
        if (co.nsets >= OF_CLI_MAX_SETS) {
            fprintf(stderr, "octofleet worker: too many --set options\n");
            return OF_EXIT_USAGE;
        }
        snprintf(name_set, sizeof name_set, "worker.name=%s", name);
        co.sets[co.nsets++] = name_set;
    }
    return of_cli_run_daemon("worker", &co, OF_ROLE_WORKER, run_worker);
}
