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
    "The Octopus API key comes from octopus.api_key_file or $OCTOPUS_API_KEY, never argv.\n\n"
    "Options:\n" OF_CLI_COMMON_HELP "\n"
    "Exit codes: 0 stopped cleanly on a signal, 1 stopped by an error while running (e.g.\n"
    "fenced by a newer producer), 2 usage, 3 configuration (also: the configured Octopus\n"
    "space does not exist), 4 Kafka or Octopus could not be used at start-up.\n";

int of_cmd_producer(int argc, char **argv)
{
    of_cli_common co;
    memset(&co, 0, sizeof co);
    for (int i = 1; i < argc;) {
        int r = of_cli_common_opt(&co, argc, argv, &i);
        if (r < 0) return OF_EXIT_USAGE;
        if (r > 0) continue;
        if (of_cli_is_help(argv[i])) {
            fputs(producer_usage, stdout);
            return OF_EXIT_OK;
        }
        fprintf(stderr, "octofleet producer: unexpected argument '%s'\n%s", argv[i],
                producer_usage);
        return OF_EXIT_USAGE;
    }
    of_config cfg;
    int ex;
    if (!of_cli_config(&co, OF_ROLE_PRODUCER, &cfg, &ex)) return ex;

    char errstr[1024] = "";
    of_err rc = of_signals_install(errstr, sizeof errstr);
    if (rc) {
        fprintf(stderr, "octofleet producer: %s\n", errstr);
        of_config_free(&cfg);
        return OF_EXIT_FAIL;
    }
    of_producer_opts o;
    memset(&o, 0, sizeof o);
    o.cfg = &cfg;
    o.stop = of_signals_flag();
    rc = of_producer_run(&o, errstr, sizeof errstr);
    if (rc) fprintf(stderr, "octofleet producer: %s: %s\n", of_strerror(rc), errstr);
    ex = of_cli_exit_code(rc);
    of_config_free(&cfg);
    return ex;
}
