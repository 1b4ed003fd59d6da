/* `octofleet producer`: runs the producer daemon in the foreground until SIGTERM/SIGINT
 * (systemd or the container runtime supervises it; no daemonising here). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "log.h"
#include "producer.h"
#include "signals.h"

static const char producer_usage[] =
    "usage: octofleet producer -c FILE [--set KEY=VALUE]... [--dump-config] [options]\n\n"
    "Runs the producer: turns release requests into jobs on the stage topics, follows the\n"
    "workers' events, dispatches each next stage when its gate opens, and carries out\n"
    "replay/resume/abort. Its state lives in the compacted releases topic, so a restarted or\n"
    "replacement producer (same producer.transactional_id) resumes where the last one stopped.\n"
    "Runs until SIGTERM or SIGINT, then finishes the current batch and exits.\n"
    "The Octopus API key comes from octopus.api_key_file or $OCTOPUS_API_KEY, never argv.\n"
    "With producer.metrics_listen (host:port) it serves GET /metrics, /healthz and /readyz\n"
    "(docs/monitoring.md) and logs \"metrics listening on <address>\".\n\n"
    "Options:\n" OF_CLI_COMMON_HELP "\n"
    "Exit codes: 0 stopped cleanly on a signal, 1 stopped by an error while running (e.g.\n"
    "fenced by a newer producer), 2 usage, 3 configuration (also: the configured Octopus\n"
    "space does not exist, producer.metrics_listen cannot be bound), 4 Kafka or Octopus could\n"
    "not be used at start-up.\n";

static of_err run_producer(const of_config *cfg, of_stop_flag *stop, char *errstr,
                           size_t errstr_size)
{
    return of_producer_run(&(of_producer_opts){.cfg = cfg, .stop = stop}, errstr, errstr_size);
}

int of_cmd_producer(int argc, char **argv)
{
    of_cli_common co = {0};
    int ex;
    if (!of_cli_args(argc, argv, "producer", producer_usage, &co, NULL, NULL, &ex)) return ex;
    return of_cli_run_daemon("producer", &co, OF_ROLE_PRODUCER, run_producer);
}
