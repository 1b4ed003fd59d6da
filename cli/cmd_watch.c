/* `octofleet watch RELEASE` (follow a release from its current state) and `octofleet list`
 * (every release the state topic holds). Both read Kafka only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "follow.h"
#include "msg.h"
#include "relstate.h"
#include "uuid.h"
#include "view.h"

/* ---- watch ------------------------------------------------------------------------- */

static const char watch_usage[] =
    "usage: octofleet watch RELEASE [--space NAME] [options]\n\n"
    "Follows a release from its current state (the releases topic, as status reads it), then\n"
    "from the events that come after, until it ends: exit 0 when it completes, 1 when it is\n"
    "paused or aborted (at once if it already is). RELEASE is the id printed by submit, or\n"
    "the release's name. On a terminal it redraws one screen in place: stages x environments\n"
    "with progress bars and counts, failing and waiting jobs with their Octopus links, rate\n"
    "and time left (NO_COLOR turns colours off); otherwise it prints one line per change on\n"
    "stdout. Logs go to stderr (only errors while the screen is drawn).\n\nOptions:\n"
    "  --space NAME        with a name: the request's space (default: any release of that\n"
    "                      name in the releases topic)\n"
    "  --json              JSON lines on stdout instead: the release as status --json prints\n"
    "                      it, each of its events (the CloudEvent) as it comes, and the\n"
    "                      release again when it ends\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 completed, 1 paused, aborted or not found, 2 usage, 3 configuration,\n"
    "4 Kafka could not be used, 130 interrupted.\n";

typedef struct watch_args {
    const char *release, *space;
    bool json;
    char id[OF_UUID_STR_SIZE];
} watch_args;

static of_cli_arg watch_arg(void *ctx, int argc, char **argv, int *i)
{
    watch_args *a = ctx;
    const char *arg = argv[*i];
    if (strcmp(arg, "--space") == 0 && *i + 1 < argc)
        a->space = argv[++*i];
    else if (strcmp(arg, "--json") == 0)
        a->json = true;
    else if (arg[0] != '-' && !a->release)
        a->release = arg;
    else
        return OF_CLI_ARG_UNEXPECTED;
    return OF_CLI_ARG_TAKEN;
}

static int watch_run(const of_config *cfg, void *ctx)
{
    watch_args *a = ctx;
    const char *want = a->release;
    if (a->space && !of_uuid_valid(want)) {
        of_uuid_release_id(a->space, want, a->id); /* as the producer derives it */
        want = a->id;
    }
    of_follow_opts fo = {.release = want,
                         .follow = true,
                         .out = stdout,
                         .live = true,
                         .json = a->json,
                         .name = "watch"};
    return of_cli_follow(cfg, &fo);
}

int of_cmd_watch(int argc, char **argv)
{
    of_cli_common co = {0};
    watch_args a = {0};
    int ex;
    if (!of_cli_args(argc, argv, "watch", watch_usage, &co, watch_arg, &a, &ex)) return ex;
    if (!a.release) return of_cli_usage_error("watch", watch_usage, "missing RELEASE");
    return of_cli_with_config(&co, OF_ROLE_ANY, watch_run, &a);
}

/* ---- list -------------------------------------------------------------------------- */

static const char list_usage[] =
    "usage: octofleet list [--json] [options]\n\n"
    "Lists the releases the producer keeps in the releases topic, newest first: name, id,\n"
    "state, round, jobs finished of all (ok, skipped, failed, in flight) and the age of its\n"
    "last change. With --json, one JSON array of objects {release, release_id, status, round,\n"
    "jobs, counts{<job status>: n}, updated}.\n\nOptions:\n"
    "  --json              print JSON\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 listed (also when there is none), 2 usage, 3 configuration, 4 Kafka\n"
    "could not be used.\n";

static int by_updated(const void *x, const void *y)
{
    const of_release_record *a = x, *b = y;
    return a->updated_ms < b->updated_ms ? 1 : a->updated_ms > b->updated_ms ? -1 : 0;
}

static size_t count(const of_release_record *r, of_job_status s)
{
    return r->counts[s];
}

static void print_list(const of_relstate *s, int64_t now)
{
    printf("%-24s %-36s %-10s %5s %11s %5s %5s %5s %5s %8s\n", "RELEASE", "ID", "STATE", "ROUND",
           "DONE/JOBS", "OK", "SKIP", "FAIL", "LIVE", "AGE");
    for (size_t i = 0; i < s->n_rels; i++) {
        const of_release_record *r = &s->rels[i];
        size_t ok = count(r, OF_JOB_SUCCEEDED), skip = count(r, OF_JOB_SKIPPED);
        size_t fail =
            count(r, OF_JOB_FAILED) + count(r, OF_JOB_CANCELLED) + count(r, OF_JOB_TIMED_OUT);
        size_t live =
            count(r, OF_JOB_DISPATCHED) + count(r, OF_JOB_STARTED) + count(r, OF_JOB_WAITING);
        char age[32], done[32];
        of_view_duration(r->updated_ms ? now - r->updated_ms : 0, age, sizeof age);
        (void)snprintf(done, sizeof done, "%zu/%zu", ok + skip + fail, r->n_jobs);
        of_cli_line(stdout, "%-24s %-36s %-10s %5d %11s %5zu %5zu %5zu %5zu %8s",
                    r->release_name ? r->release_name : "?", r->release_id,
                    of_release_status_name(r->status), r->round, done, ok, skip, fail, live, age);
    }
}

static int print_json(const of_relstate *s)
{
    of_buf b;
    of_buf_init(&b, (size_t)1 << 30);
    of_err rc = of_buf_puts(&b, "[");
    for (size_t i = 0; !rc && i < s->n_rels; i++) {
        char *one = NULL;
        /* the status view of a release without its jobs: name, id, status, round, gates */
        rc = of_list_json_encode(&s->rels[i], &one);
        if (!rc) rc = of_buf_printf(&b, "%s%s", i ? "," : "", one);
        free(one);
    }
    if (!rc) rc = of_buf_puts(&b, "]\n");
    if (!rc) fputs(b.data, stdout);
    of_buf_clear(&b);
    if (rc) fprintf(stderr, "octofleet list: cannot encode JSON: %s\n", of_strerror(rc));
    return rc ? OF_EXIT_FAIL : OF_EXIT_OK;
}

static int list_run(const of_config *cfg, void *ctx)
{
    const of_cli_json_args *a = ctx;
    of_relstate s = {.want = NULL};
    int ex = of_relstate_read(cfg, "list", &s);
    if (!ex) {
        qsort(s.rels, s.n_rels, sizeof *s.rels, by_updated);
        if (a->json)
            ex = print_json(&s);
        else
            print_list(&s, of_wall_ms());
    }
    of_relstate_clear(&s);
    return ex;
}

int of_cmd_list(int argc, char **argv)
{
    of_cli_common co = {0};
    of_cli_json_args a = {0};
    int ex;
    if (!of_cli_args(argc, argv, "list", list_usage, &co, of_cli_json_arg, &a, &ex)) return ex;
    if (a.arg) return of_cli_usage_error("list", list_usage, "unexpected argument '%s'", a.arg);
    return of_cli_with_config(&co, OF_ROLE_ANY, list_run, &a);
}
