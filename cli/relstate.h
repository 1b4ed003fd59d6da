/* A release's state as the producer keeps it on the compacted <prefix>releases topic (the
 * release record and its job records, last version of each key wins): what `status`, `watch`,
 * `list` and the --wait commands start from, never from the history of the events topic. */
#ifndef OF_CLI_RELSTATE_H
#define OF_CLI_RELSTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "model.h"
#include "msg.h"

typedef struct of_relstate {
    /* set by the caller before of_relstate_read: the release id or name; NULL = every
     * release's record (no job records), for `list` */
    const char *want;
    /* one release (want set) */
    char release_id[OF_UUID_STR_SIZE];
    bool have_release;
    of_release_record rel;
    of_job_record *jobs; /* that release's jobs, owned */
    size_t n, cap;
    /* every release (want NULL), in the order first seen; a tombstoned record is left out */
    of_release_record *rels;
    size_t n_rels, cap_rels;
} of_relstate;

/* Reads the topic from the beginning to its end as of now into s (zeroed but for want). Prints
 * a problem after "octofleet NAME: " and returns its exit code (cli.h,
 * of_cli_read_fleet_topic); OF_EXIT_OK otherwise, also when the release is not there
 * (have_release false). Free s with of_relstate_clear in every case. */
int of_relstate_read(const of_config *cfg, const char *name, of_relstate *s);

/* Index of the job with job_id in s->jobs, or -1. */
long of_relstate_find_job(const of_relstate *s, const char *job_id);

/* Applies an event read after the state (s holds one release) to it: a job event to its job
 * record (not when older than the record: an earlier attempt, or an earlier step of the same
 * attempt), a stage or release event to the release record (not from an earlier round).
 * Returns true when something changed. */
bool of_relstate_apply(of_relstate *s, const of_event *ev);

/* Frees what s holds (s->want is borrowed and left). */
void of_relstate_clear(of_relstate *s);

#endif
