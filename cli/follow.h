/* Sending a command and following a release: what `watch`, `replay`/`resume`/`abort` (waiting
 * for the producer's answer) and the --wait commands share (docs/operations.md, "Commands that
 * answer" and "Following a release").
 *
 * The events topic is tailed from its end as of BEFORE the command is sent, so no earlier
 * event can pass for the answer; the command's answer is the event carrying its command_id.
 * The release is followed from its current state on the releases topic (as `status` reads it),
 * then from the events that come after: never from the history of the events topic. */
#ifndef OF_CLI_FOLLOW_H
#define OF_CLI_FOLLOW_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "model.h"

typedef struct of_follow_opts {
    /* the command to send first (borrowed), or NULL (watch) */
    const of_command *cmd;
    /* the release: an id or a name; NULL = cmd->release_id */
    const char *release;
    /* with cmd: wait for the producer's answer (false: send only, exit 0) */
    bool wait_answer;
    /* follow the release until it ends (watch, --wait) */
    bool follow;
    /* how long the producer may take to answer, ms (<= 0: no limit) */
    int answer_timeout_ms;
    /* progress: the live view when out is a terminal and live is set, else one line per change
     * (the --wait commands print them on stderr, watch on stdout) */
    FILE *out;
    bool live;
    /* JSON lines instead (watch --json): the release as status --json prints it, each of its
     * events as it comes (the CloudEvent), and the release again when it ends; no live view */
    bool json;
    const char *name; /* the command's name, for messages */
} of_follow_opts;

/* Sends o->cmd (if any) and waits / follows as o says. Returns the exit code: 0 the command
 * was applied / the release completed; 1 ignored, rejected, or the release paused or was
 * aborted; OF_EXIT_TIMEOUT no answer in time; OF_EXIT_INTERRUPTED on SIGINT/SIGTERM; the codes
 * of cli.h for Kafka and configuration problems. */
int of_cli_follow(const of_config *cfg, const of_follow_opts *o);

/* One line (or a few) about ev for a human following a release, to f: stage events with their
 * counts, failed and waiting jobs with Octopus's message and link, a pause with the replay
 * command to run, rejections with every error. Per-job successes print nothing. */
void of_cli_print_progress(FILE *f, const of_event *ev);

#endif
