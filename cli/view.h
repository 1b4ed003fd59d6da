/* The live view of `octofleet watch` and the --wait commands: a pure function from a model of
 * one release to the text of one screen. No I/O, no clock, no terminal: the caller (follow.c)
 * builds the model from the state topic and the events, and writes the text. Tested
 * table-driven in tests/unit/test_view.c. */
#ifndef OF_CLI_VIEW_H
#define OF_CLI_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One (stage, environment) cell: its gate status and job counts. */
typedef struct of_view_cell {
    of_stage_status status;
    int total, ok, skipped, failed, live, held, waiting;
} of_view_cell;

/* A job that needs someone: failed (failed, cancelled, timed out) or waiting in Octopus for a
 * manual intervention or guided failure. Strings borrowed; any may be NULL. */
typedef struct of_view_job {
    int stage;
    const char *project, *environment, *tenant;
    of_job_status status;
    int attempt;
    const char *message; /* Octopus's error */
    const char *link;    /* the deployment in Octopus's web UI, from the job's events */
} of_view_job;

/* Everything one screen shows. Every pointer is borrowed for the call. */
typedef struct of_view_model {
    const char *release_name, *release_id;
    of_release_status status;
    int round;
    int stage_count;
    const char *const *stage_names; /* [stage_count], entries may be NULL */
    size_t n_envs;
    const char *const *envs;      /* [n_envs] */
    const of_view_cell *cells;    /* [stage_count * n_envs], (stage-1) * n_envs + env */
    const of_view_job *attention; /* failing and waiting jobs */
    size_t n_attention;
    int64_t elapsed_ms;  /* since the watch began */
    double rate_per_min; /* jobs finished per minute while watched; < 0 = not known yet */
    int64_t eta_ms;      /* time left at that rate; < 0 = not known */
    const char *footer;  /* last line (what happened last, the outcome), may be NULL */
} of_view_model;

/* Renders m for a screen `width` columns wide (at least 60 is assumed; lines are cut to it)
 * and at most `height` lines (0 = no limit; the job list is cut first, "+N more"). With color,
 * ANSI SGR codes mark statuses (NO_COLOR is the caller's business). Lines end with '\n'; no
 * cursor movement. Returns a new string the caller frees, NULL when out of memory. */
char *of_view_render(const of_view_model *m, int width, int height, bool color);

/* "1h02m", "3m05s", "42s": a duration for the view, into out; returns out. */
char *of_view_duration(int64_t ms, char *out, size_t out_size);

#endif
