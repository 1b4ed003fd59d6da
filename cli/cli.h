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
#include "fleet.h"
#include "kafka.h"
#include "model.h"
#include "msg.h"
#include "signals.h"

#define OF_CLI_MAX_SETS 64

/* The system-wide config file, the last place looked at without -c (after OCTOFLEET_CONFIG
 * and ./octofleet.cfg); the .deb installs its example beside it. */
#define OF_CLI_SYSTEM_CONFIG "/etc/octofleet/octofleet.cfg"

typedef struct of_cli_common {
    const char *config_path;           /* borrowed from argv */
    const char *sets[OF_CLI_MAX_SETS]; /* "key=value", borrowed from argv */
    size_t nsets;
    bool dump_config;
    const char *log_level; /* borrowed from argv, NULL = config's */
} of_cli_common;

/* Help text for the common options, for a command's --help. */
#define OF_CLI_COMMON_HELP                                                                        \
    "  -c, --config FILE   configuration file; without it: $OCTOFLEET_CONFIG, ./octofleet.cfg,\n" \
    "                      " OF_CLI_SYSTEM_CONFIG ", else built-in defaults\n"                    \
    "  --set KEY=VALUE     override one configuration key (repeatable)\n"                         \
    "  --dump-config       print the effective configuration (secrets masked) and exit\n"         \
    "  --log-level LEVEL   error, warn, info or debug\n"

/* If argv[*i] is a common option, consumes it (and its value), advances *i
 * past it and returns 1. Returns 0 if it is not one (nothing consumed), or
 * -1 after printing a usage error to stderr (missing value, too many --set). */
int of_cli_common_opt(of_cli_common *co, int argc, char **argv, int *i);

/* What a command's own argument parser (of_cli_arg_fn) made of argv[*i]. */
typedef enum of_cli_arg {
    OF_CLI_ARG_TAKEN,      /* consumed; *i left on the last argument it used */
    OF_CLI_ARG_UNEXPECTED, /* not the command's: of_cli_args reports it, nothing consumed */
    OF_CLI_ARG_USAGE       /* a usage error the parser already printed */
} of_cli_arg;

/* Called by of_cli_args with each argument that is neither a common option nor -h/--help.
 * A value it takes is argv[++*i] (check *i + 1 < argc first). */
typedef of_cli_arg (*of_cli_arg_fn)(void *ctx, int argc, char **argv, int *i);

/* The arguments of a command taking one positional argument and --json (plan, status), for
 * of_cli_json_arg. */
typedef struct of_cli_json_args {
    bool dash_ok;    /* set by the caller: "-" (stdin) may be the positional argument */
    const char *arg; /* the positional argument (borrowed from argv), NULL if not given */
    bool json;       /* --json was given */
} of_cli_json_args;

/* An of_cli_arg_fn for ctx an of_cli_json_args. */
of_cli_arg of_cli_json_arg(void *ctx, int argc, char **argv, int *i);

/* Parses argv[1..] of `octofleet NAME`: the common options into co (co NULL: the command
 * takes none), -h/--help prints usage on stdout, any other argument goes to fn (fn NULL: the
 * command takes none), with ctx. An argument fn does not take is reported as "octofleet NAME:
 * unexpected argument 'ARG'" followed by usage on stderr. Returns true when the command
 * should go on; false when it should return *exit_code at once (OF_EXIT_OK after --help,
 * OF_EXIT_USAGE after a usage error). Borrowed: everything, for the call. */
bool of_cli_args(int argc, char **argv, const char *name, const char *usage, of_cli_common *co,
                 of_cli_arg_fn fn, void *ctx, int *exit_code);

/* Prints "octofleet NAME: <message>", a newline and usage to stderr; returns OF_EXIT_USAGE. */
int of_cli_usage_error(const char *name, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the release request at path ("-" = stdin) as of_cli_read_file does and parses it.
 * On success *text (the request as read, NUL-terminated, caller frees), *len and *req (caller
 * frees with of_request_free) are set and OF_EXIT_OK is returned. Otherwise prints the problem
 * ("octofleet NAME: PATH is not a valid release request:" and each error) and returns
 * OF_EXIT_FAIL, with *text and *req NULL. */
int of_cli_read_request(const char *name, const char *path, char **text, size_t *len,
                        of_request **req);

/* The body of a command once its config is loaded: returns the command's exit code. cfg is
 * borrowed for the call. */
typedef int (*of_cli_run_fn)(const of_config *cfg, void *ctx);

/* Loads the config as of_cli_config does, runs run(cfg, ctx) and frees the config. Returns
 * run's exit code, or of_cli_config's when the command ends there (a bad config, or
 * --dump-config done). */
int of_cli_with_config(const of_cli_common *co, of_config_role role, of_cli_run_fn run, void *ctx);

/* A daemon's run function: runs until *stop is set, then drains and returns. cfg and stop are
 * borrowed for the call. */
typedef of_err (*of_cli_daemon_fn)(const of_config *cfg, of_stop_flag *stop, char *errstr,
                                   size_t errstr_size);

/* `octofleet NAME` as a foreground daemon: loads the config for role, installs the signal
 * handlers and runs run on the process-wide stop flag. Prints what stopped it ("octofleet
 * NAME: <error>: <detail>") and returns the exit code of_cli_exit_code gives its result
 * (OF_EXIT_FAIL when the handlers cannot be installed). */
int of_cli_run_daemon(const char *name, const of_cli_common *co, of_config_role role,
                      of_cli_daemon_fn run);

/* Fills fk from cfg (of_fleet_kafka_init, no mock, kafka.client_id). On failure prints
 * "PREFIX: out of memory" and returns OF_EXIT_FAIL (fk then needs no clearing); else
 * OF_EXIT_OK, and the caller releases fk with of_fleet_kafka_clear. prefix: "octofleet" or
 * "octofleet NAME". */
int of_cli_fleet_kafka(of_fleet_kafka *fk, const of_config *cfg, const char *prefix);

/* Reads the fleet's topic <prefix>KEY (key: "events", "releases") from the beginning to its
 * end as of now, as of_kafka_read_topic does, calling on_message with opaque; topic
 * (OF_TOPIC_NAME_MAX bytes) receives its full name. Prints the problem after "octofleet
 * NAME: " and returns OF_EXIT_FAIL (out of memory), OF_EXIT_CONFIG (topics.prefix too long)
 * or OF_EXIT_SERVICE (Kafka: "cannot read TOPIC: ..."); else OF_EXIT_OK. */
int of_cli_read_fleet_topic(const of_config *cfg, const char *name, const char *key, int timeout_ms,
                            of_kafka_message_cb *on_message, void *opaque, char *topic);

/* Loads the config for a role: defaults, then the file (-c, else OCTOFLEET_CONFIG, else
 * ./octofleet.cfg, else OF_CLI_SYSTEM_CONFIG, else none), then the
 * --set overrides, then the role's checks; applies the log level. Prints
 * every problem to stderr. Returns true when the command should go on, with
 * cfg filled (the caller frees it with of_config_clear). Returns false when it
 * should return *exit_code at once, cfg already freed: OF_EXIT_CONFIG after a
 * problem, OF_EXIT_OK after printing --dump-config to stdout. */
bool of_cli_config(const of_cli_common *co, of_config_role role, of_config *cfg, int *exit_code);

/* After a command ran on the built-in defaults (no config file found): for a failing
 * exit_code (not OK, not usage), says on stderr that no config file was used and where one is
 * looked for. Nothing otherwise. */
void of_cli_no_config_hint(int exit_code);

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

/* A release given by its id or its name: an id is copied, a name becomes the id the producer
 * derives from (space, name) (space NULL = "Default"). out holds OF_UUID_STR_SIZE bytes. */
void of_cli_release_id(const char *name_or_id, const char *space, char *out);

#endif
