/* Helpers shared by the octofleet subcommands: the common options every
 * command that reads a config accepts, and config loading with clear errors.
 *
 *   -c, --config FILE     libconfig file (default: none, built-in defaults)
 *   --set KEY=VALUE       override one key (repeatable), e.g. --set worker.max_in_flight=64
 *   --dump-config         print the effective config (secrets masked) and exit 0
 *   --log-level LEVEL     error, warn, info, debug (overrides log.level)
 *
 * Nothing here exits: functions return exit codes (cli/exitcodes.h) and
 * main() returns them. */
#ifndef OF_CLI_H
#define OF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "kafka.h"
#include "model.h"

#define OF_CLI_MAX_SETS 64

typedef struct of_cli_common {
    const char *config_path;           /* borrowed from argv */
    const char *sets[OF_CLI_MAX_SETS]; /* "key=value", borrowed from argv */
    size_t nsets;
    bool dump_config;
    const char *log_level; /* borrowed from argv, NULL = config's */
} of_cli_common;

/* Help text for the common options, for a command's --help. */
#define OF_CLI_COMMON_HELP                                                                   \
    "  -c, --config FILE   configuration file (config/octofleet.cfg.example documents it)\n" \
    "  --set KEY=VALUE     override one configuration key (repeatable)\n"                    \
    "  --dump-config       print the effective configuration (secrets masked) and exit\n"    \
    "  --log-level LEVEL   error, warn, info or debug\n"

/* If argv[*i] is a common option, consumes it (and its value), advances *i
 * past it and returns 1. Returns 0 if it is not one (nothing consumed), or
 * -1 after printing a usage error to stderr (missing value, too many --set). */
int of_cli_common_opt(of_cli_common *co, int argc, char **argv, int *i);

/* Loads the config for a role: defaults, then the file (if any), then the
 * --set overrides, then the role's checks; applies the log level. Prints
 * every problem to stderr. Returns true when the command should go on, with
 * cfg filled (the caller frees it with of_config_free). Returns false when it
 * should return *exit_code at once, cfg already freed: OF_EXIT_CONFIG after a
 * problem, OF_EXIT_OK after printing --dump-config to stdout. */
bool of_cli_config(const of_cli_common *co, of_config_role role, of_config *cfg, int *exit_code);

/* Checks cmd before anything is sent, as the producer will: the caps on by, reason and
 * filters, and the request against the fleet's size budget; loads the fleet key. Prints the
 * problem with its limit and returns OF_EXIT_FAIL (OF_EXIT_CONFIG for a bad fleet key), or
 * OF_EXIT_OK. */
int of_cli_check_command(const of_config *cfg, const of_command *cmd);

/* Encodes cmd (after the checks of of_cli_check_command), signs it when a fleet key is
 * configured, produces it to <prefix>requests keyed by its release id and waits up to 30 s
 * for delivery. p is borrowed. OF_OK, or an error described in errstr. */
OF_MUST_CHECK of_err of_cli_produce_command(of_kafka_producer *p, const of_config *cfg,
                                            const of_command *cmd, char *errstr,
                                            size_t errstr_size);

/* Reads a whole file ("-" = stdin), at most max bytes, into a new NUL-terminated string
 * (*out, caller frees; *len its length). Anything but a regular file (or "-") is refused at
 * once, without waiting on a FIFO: "octofleet: PATH: is a directory", "...: is not a regular
 * file (FIFO)". Prints the problem and returns OF_EXIT_FAIL. */
int of_cli_read_file(const char *path, size_t max, char **out, size_t *len);

/* The exit code a daemon or command ends with after rc (cli/exitcodes.h): OF_OK -> 0;
 * configuration problems (including a name that does not exist, such as the space) -> 3;
 * a service that could not be used (network, auth, HTTP, Kafka, I/O, a bad reply) -> 4;
 * anything else (fenced by a newer producer, ...) -> 1. */
int of_cli_exit_code(of_err rc);

/* Prints one line to f: the formatted text passed through of_escape (log.h), then '\n'. For
 * text holding values from events, requests, Kafka or Octopus, so they cannot add lines or
 * send terminal escape sequences. fmt itself has no trailing newline. Longer than about 4 KiB
 * is cut. */
void of_cli_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints text, several lines separated by '\n' (an errstr collecting problems), each line
 * escaped as by of_cli_line and preceded by prefix. */
void of_cli_lines(FILE *f, const char *prefix, const char *text);

/* True if arg is -h or --help. */
bool of_cli_is_help(const char *arg);

#endif
