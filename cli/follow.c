/* Commands that answer, and following a release (follow.h). */
#include "follow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "exitcodes.h"
#include "fleet.h"
#include "kafka.h"
#include "log.h"
#include "msg.h"
#include "relstate.h"
#include "signals.h"
#include "view.h"

#define KAFKA_TIMEOUT_MS 30000
#define REDRAW_MS        250  /* at most four screens a second */
#define TICK_MS          1000 /* the clock and the rate move even when nothing happens */

void of_cli_print_progress(FILE *f, const of_event *ev)
{
    const char *t = of_event_type_name(ev->type) + strlen("octofleet.");
    switch (ev->type) {
    case OF_EV_STAGE_STARTED:
    case OF_EV_STAGE_SUCCEEDED:
    case OF_EV_STAGE_FAILED:
        of_cli_line(f, "%-18s stage %d/%d%s%s in %s (%d jobs: %d ok, %d skipped, %d failed)", t,
                    ev->stage, ev->stage_count, ev->stage_name ? " " : "",
                    ev->stage_name ? ev->stage_name : "", ev->environment ? ev->environment : "?",
                    ev->n_total, ev->n_succeeded, ev->n_skipped, ev->n_failed);
        break;
    case OF_EV_JOB_FAILED:
    case OF_EV_JOB_TIMED_OUT:
    case OF_EV_JOB_CANCELLED:
    case OF_EV_JOB_WAITING:
    case OF_EV_JOB_ANSWERED:
        of_cli_line(f, "%-18s %s %s%s%s attempt %d%s%s", t, ev->project ? ev->project : "?",
                    ev->environment ? ev->environment : "?", ev->tenant ? " / " : "",
                    ev->tenant ? ev->tenant : "", ev->attempt, ev->message ? ": " : "",
                    ev->message ? ev->message : "");
        if (ev->web_link) of_cli_line(f, "%-18s %s", "", ev->web_link);
        break;
    case OF_EV_STAGE_DEADLINE_PASSED:
        of_cli_line(f, "%-18s stage %d/%d in %s: %s", t, ev->stage, ev->stage_count,
                    ev->environment ? ev->environment : "?", ev->message ? ev->message : "");
        for (size_t i = 0; i < ev->n_jobs; i++)
            of_cli_line(
                f, "  - not started: %s%s%s", ev->jobs[i].project ? ev->jobs[i].project : "?",
                ev->jobs[i].tenant ? " / " : "", ev->jobs[i].tenant ? ev->jobs[i].tenant : "");
        break;
    case OF_EV_RELEASE_REJECTED:
        of_cli_line(f, "%-18s %s", t, ev->message ? ev->message : "");
        for (size_t i = 0; i < ev->n_errors; i++)
            of_cli_line(f, "  - %s", ev->errors[i]);
        break;
    case OF_EV_RELEASE_PAUSED:
        of_cli_line(f, "%-18s %zu failed job(s):", t, ev->n_jobs);
        for (size_t i = 0; i < ev->n_jobs; i++)
            of_cli_line(f, "  - stage %d %s %s%s%s", ev->jobs[i].stage,
                        ev->jobs[i].project ? ev->jobs[i].project : "?",
                        ev->jobs[i].environment ? ev->jobs[i].environment : "?",
                        ev->jobs[i].tenant ? " / " : "",
                        ev->jobs[i].tenant ? ev->jobs[i].tenant : "");
        /* runnable as printed: one replay per stage that holds a failed job */
        for (size_t i = 0; i < ev->n_jobs; i++) {
            bool first = true;
            for (size_t k = 0; k < i; k++)
                first = first && ev->jobs[k].stage != ev->jobs[i].stage;
            if (first)
                of_cli_line(f, "  replay with: octofleet replay %s --stage %d", ev->release_id,
                            ev->jobs[i].stage);
        }
        break;
    case OF_EV_COMMAND_IGNORED:
        of_cli_line(f, "%-18s %s (by %s)", t, ev->message ? ev->message : "",
                    ev->by ? ev->by : "?");
        break;
    case OF_EV_STAGE_APPROVAL_REQUIRED:
    case OF_EV_STAGE_GUIDED:
        of_cli_line(f, "%-18s %s", t, ev->message ? ev->message : "");
        break;
    case OF_EV_STAGE_APPROVED:
        if (ev->stage)
            of_cli_line(f, "%-18s stage %d/%d%s%s by %s%s%s", t, ev->stage, ev->stage_count,
                        ev->stage_name ? " " : "", ev->stage_name ? ev->stage_name : "",
                        ev->by ? ev->by : "?", ev->message ? ": " : "",
                        ev->message ? ev->message : "");
        else
            of_cli_line(f, "%-18s the release, by %s%s%s", t, ev->by ? ev->by : "?",
                        ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_ACCEPTED:
    case OF_EV_RELEASE_RESUMED:
    case OF_EV_RELEASE_COMPLETED:
    case OF_EV_RELEASE_ABORTED:
    case OF_EV_RELEASE_HELD:
    case OF_EV_RELEASE_UNHELD:
        of_cli_line(f, "%-18s %s%s%s", t, ev->release_name ? ev->release_name : ev->release_id,
                    ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    default:
        break; /* per-job successes would drown the stage lines */
    }
}

/* ---- the followed release ---------------------------------------------------------- */

typedef struct job_link {
    char job_id[OF_UUID_STR_SIZE];
    char *url;
} job_link;

typedef struct follower {
    const of_config *cfg;
    const of_follow_opts *o;
    char release_id[OF_UUID_STR_SIZE]; /* "" until known (watch by name) */
    of_relstate st;
    bool loaded;         /* st holds the release */
    bool answered;       /* the command was answered (or there is none) */
    int final;           /* -1 while it goes on; else the exit code */
    bool ended_in_state; /* final was read from the state, not from an event */
    /* Octopus links of jobs, from their events (the state records carry none) */
    job_link *links;
    size_t n_links, cap_links;
    /* the live view */
    bool live, color;
    int64_t t0, last_draw;
    int done0; /* jobs finished when the state was first read */
    char footer[512];
} follower;

static bool finished(of_job_status s)
{
    return of_job_status_is_terminal(s);
}

static int done_count(const follower *f)
{
    int n = 0;
    for (size_t i = 0; i < f->st.n; i++)
        n += finished(f->st.jobs[i].status);
    return n;
}

static const char *link_of(const follower *f, const char *job_id)
{
    for (size_t i = 0; i < f->n_links; i++)
        if (strcmp(f->links[i].job_id, job_id) == 0) return f->links[i].url;
    return NULL;
}

static void note_link(follower *f, const char *job_id, const char *url)
{
    for (size_t i = 0; i < f->n_links; i++) {
        if (strcmp(f->links[i].job_id, job_id) != 0) continue;
        char *u = strdup(url);
        if (u) {
            free(f->links[i].url);
            f->links[i].url = u;
        }
        return;
    }
    if (of_grow((void **)&f->links, &f->cap_links, f->n_links, sizeof *f->links)) return;
    job_link *l = &f->links[f->n_links];
    of_id_copy(l->job_id, job_id);
    l->url = strdup(url);
    if (l->url) f->n_links++; /* a link is a nicety: no memory, no link */
}

static int outcome(of_release_status s)
{
    return s == OF_RELEASE_COMPLETED ? OF_EXIT_OK : OF_EXIT_FAIL;
}

static void render(follower *f, of_view_cell *cells, const char **envs, of_view_job *att,
                   int64_t now);

/* The screen: the model from the state (as updated by events) into view.c. */
static void draw(follower *f, bool force)
{
    int64_t now = of_now_ms();
    if (!f->live || !f->loaded || (!force && now - f->last_draw < REDRAW_MS)) return;
    f->last_draw = now;
    const of_release_record *r = &f->st.rel;
    size_t ncells = (size_t)r->stage_count * r->n_environments;
    of_view_cell *cells = calloc(ncells ? ncells : 1, sizeof *cells);
    const char **envs = calloc(r->n_environments ? r->n_environments : 1, sizeof *envs);
    of_view_job *att = calloc(f->st.n ? f->st.n : 1, sizeof *att);
    if (cells && envs && att) render(f, cells, envs, att, now);
    free(cells);
    free(envs);
    free(att);
}

/* draw's body, with its arrays (sized by draw) */
static void render(follower *f, of_view_cell *cells, const char **envs, of_view_job *att,
                   int64_t now)
{
    const of_release_record *r = &f->st.rel;
    size_t ncells = (size_t)r->stage_count * r->n_environments;
    for (size_t e = 0; e < r->n_environments; e++)
        envs[e] = r->environments[e].name;
    for (size_t k = 0; k < ncells; k++)
        cells[k].status = r->stage_status[k];
    size_t n_att = 0;
    for (size_t i = 0; i < f->st.n; i++) {
        const of_job_record *j = &f->st.jobs[i];
        size_t e = 0;
        while (e < r->n_environments && !(j->job.environment.name && envs[e] &&
                                          strcmp(envs[e], j->job.environment.name) == 0))
            e++;
        if (j->job.stage < 1 || j->job.stage > r->stage_count || e == r->n_environments) continue;
        of_view_cell *c = &cells[(size_t)(j->job.stage - 1) * r->n_environments + e];
        c->total++;
        if (j->status == OF_JOB_SUCCEEDED)
            c->ok++;
        else if (j->status == OF_JOB_SKIPPED)
            c->skipped++;
        else if (of_job_status_is_failure(j->status))
            c->failed++;
        else if (j->held)
            c->held++;
        else if (j->status == OF_JOB_WAITING)
            c->waiting++;
        else if (j->status != OF_JOB_PENDING)
            c->live++;
        if (of_job_status_is_failure(j->status) || j->status == OF_JOB_WAITING)
            att[n_att++] = (of_view_job){.stage = j->job.stage,
                                         .project = j->job.project.name,
                                         .environment = j->job.environment.name,
                                         .tenant = j->job.tenant.name,
                                         .status = j->status,
                                         .attempt = j->job.attempt,
                                         .message = j->skip_reason,
                                         .link = link_of(f, j->job.job_id)};
    }
    int64_t elapsed = now - f->t0;
    int done = done_count(f), left = (int)f->st.n - done;
    double rate = -1;
    int64_t eta = -1;
    if (elapsed >= 3000 && done > f->done0) {
        rate = (double)(done - f->done0) * 60000.0 / (double)elapsed;
        if (r->status == OF_RELEASE_RUNNING && left > 0)
            eta = (int64_t)((double)left / rate * 60000.0);
    }
    of_view_model m = {.release_name = r->release_name,
                       .release_id = r->release_id,
                       .status = r->status,
                       .round = r->round,
                       .stage_count = r->stage_count,
                       .stage_names = (const char *const *)r->stage_names,
                       .n_envs = r->n_environments,
                       .envs = envs,
                       .cells = cells,
                       .attention = att,
                       .n_attention = n_att,
                       .elapsed_ms = elapsed,
                       .rate_per_min = rate,
                       .eta_ms = eta,
                       .footer = f->footer[0] ? f->footer : NULL};
    int width = 120, height = 40;
    struct winsize ws;
    if (ioctl(fileno(f->o->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
        width = ws.ws_col;
        height = ws.ws_row;
    }
    char *text = of_view_render(&m, width, height - 1, f->color);
    if (text) {
        /* home, each line cleared to its end, the rest of the screen cleared */
        fputs("\033[H", f->o->out);
        for (char *p = text, *nl; *p; p = nl + 1) {
            nl = strchr(p, '\n');
            if (!nl) break;
            fwrite(p, 1, (size_t)(nl - p), f->o->out);
            fputs("\033[K\n", f->o->out);
        }
        fputs("\033[J", f->o->out);
        fflush(f->o->out);
    }
    free(text);
}

/* The stage of the first failed job from stage `after` on (0: none), read from the state. */
static int failed_stage_after(const follower *f, int after)
{
    int best = 0;
    for (size_t i = 0; i < f->st.n; i++) {
        const of_job_record *j = &f->st.jobs[i];
        if (of_job_status_is_failure(j->status) && j->job.stage > after &&
            (!best || j->job.stage < best))
            best = j->job.stage;
    }
    return best;
}

/* A release found paused in the state (its release.paused event is history, not printed):
 * the failed jobs and the commands that replay them, as the event would have printed them, and
 * the live view's footer. */
static void state_hints(follower *f)
{
    const of_release_record *r = &f->st.rel;
    if (r->status != OF_RELEASE_PAUSED) return;
    int first = failed_stage_after(f, 0);
    if (!first) {
        (void)snprintf(f->footer, sizeof f->footer, "paused; see why with: octofleet status %s",
                       r->release_id);
        if (!f->live && !f->o->json) of_cli_line(f->o->out, "  %s", f->footer);
        return;
    }
    (void)snprintf(f->footer, sizeof f->footer,
                   "paused; replay with: octofleet replay %s --stage %d", r->release_id, first);
    if (f->live || f->o->json) return;
    for (size_t i = 0; i < f->st.n; i++) {
        const of_job_record *j = &f->st.jobs[i];
        if (!of_job_status_is_failure(j->status)) continue;
        of_cli_line(f->o->out, "  - stage %d %s %s%s%s: %s", j->job.stage,
                    j->job.project.name ? j->job.project.name : "?",
                    j->job.environment.name ? j->job.environment.name : "?",
                    j->job.tenant.name ? " / " : "", j->job.tenant.name ? j->job.tenant.name : "",
                    of_job_status_name(j->status));
    }
    for (int s = first; s; s = failed_stage_after(f, s))
        of_cli_line(f->o->out, "  replay with: octofleet replay %s --stage %d", r->release_id, s);
}

/* One line about the release as read from the state (plain mode). */
static void print_state(const follower *f)
{
    const of_release_record *r = &f->st.rel;
    if (f->o->json) {
        char *out = NULL;
        if (of_status_json_encode(r, f->st.jobs, f->st.n, &out) == OF_OK)
            fprintf(f->o->out, "%s\n", out);
        else
            of_error("cannot encode the release's state as JSON");
        free(out);
        fflush(f->o->out);
        return;
    }
    of_cli_line(f->o->out, "%-18s %s (%s): %s, round %d, %d of %zu job(s) finished", "state",
                r->release_name ? r->release_name : "?", r->release_id,
                of_release_status_name(r->status), r->round, done_count(f), f->st.n);
    fflush(f->o->out);
}

/* (Re)reads the release from the state topic. Returns an exit code (0: read, found or not). */
static int load_state(follower *f)
{
    of_relstate_clear(&f->st);
    f->st.want = f->release_id[0] ? f->release_id : f->o->release;
    int ex = of_relstate_read(f->cfg, f->o->name, &f->st);
    if (ex) return ex;
    if (!f->st.have_release) return OF_EXIT_OK;
    bool first = !f->loaded;
    f->loaded = true;
    of_id_copy(f->release_id, f->st.release_id);
    if (first) f->done0 = done_count(f);
    if (!f->live) print_state(f);
    return OF_EXIT_OK;
}

/* An event after the state was read: applied to the model (of_relstate_apply), and the job's
 * Octopus link noted. */
static void apply_event(follower *f, const of_event *ev)
{
    of_relstate_apply(&f->st, ev);
    if (ev->job_id[0] && ev->web_link && of_relstate_find_job(&f->st, ev->job_id) >= 0)
        note_link(f, ev->job_id, ev->web_link);
    if (f->st.rel.status != OF_RELEASE_RUNNING) f->final = outcome(f->st.rel.status);
}

/* The footer of the live view: the last thing that happened to the release. */
static void note_footer(follower *f, const of_event *ev)
{
    const char *t = of_event_type_name(ev->type) + strlen("octofleet.");
    switch (ev->type) {
    case OF_EV_RELEASE_PAUSED: {
        int stage = ev->n_jobs ? ev->jobs[0].stage : 0;
        (void)snprintf(f->footer, sizeof f->footer,
                       "%s: %zu failed job(s); replay with: octofleet replay %s --stage %d", t,
                       ev->n_jobs, ev->release_id, stage);
        break;
    }
    case OF_EV_RELEASE_RESUMED:
    case OF_EV_RELEASE_COMPLETED:
    case OF_EV_RELEASE_ABORTED:
    case OF_EV_COMMAND_IGNORED:
    case OF_EV_STAGE_APPROVAL_REQUIRED:
    case OF_EV_STAGE_APPROVED:
    case OF_EV_STAGE_GUIDED:
        (void)snprintf(f->footer, sizeof f->footer, "%s%s%s", t, ev->message ? ": " : "",
                       ev->message ? ev->message : "");
        break;
    default:
        break;
    }
}

/* The answer to our command. */
static void on_answer(follower *f, const of_event *ev)
{
    const of_command *cmd = f->o->cmd;
    const char *name = f->o->name;
    if (ev->type == OF_EV_COMMAND_IGNORED || ev->type == OF_EV_RELEASE_REJECTED) {
        /* the producer's reason, as it gave it */
        of_cli_line(stderr, "octofleet %s: %s", name, ev->message ? ev->message : "ignored");
        for (size_t i = 0; i < ev->n_errors; i++)
            of_cli_line(stderr, "  - %s", ev->errors[i]);
        f->final = OF_EXIT_FAIL;
        return;
    }
    f->answered = true;
    if (cmd->type != OF_CMD_SUBMIT)
        of_cli_line(stdout, "%s %s: applied (%s)", of_cmd_type_name(cmd->type), ev->release_id,
                    of_event_type_name(ev->type));
    fflush(stdout);
    if (!f->o->follow) f->final = OF_EXIT_OK;
}

/* One event for the plain output: a human line, or the CloudEvent itself (--json). */
static void print_event(const follower *f, const of_event *ev, const of_kafka_message *m)
{
    if (!f->o->json) {
        of_cli_print_progress(f->o->out, ev);
        return;
    }
    fwrite(m->value, 1, m->value_len, f->o->out);
    fputc('\n', f->o->out);
}

static void on_message(follower *f, const of_kafka_message *m)
{
    of_event ev = {0};
    char errstr[256];
    if (!m->value) return;
    if (of_event_decode(m->value, m->value_len, &ev, errstr, sizeof errstr) != OF_OK) {
        of_debug("skipping an undecodable event partition=%d offset=%lld: %s", (int)m->partition,
                 (long long)m->offset, errstr);
        of_event_clear(&ev);
        return;
    }
    const of_command *cmd = f->o->cmd;
    if (cmd && !f->answered && cmd->command_id[0] && strcmp(ev.command_id, cmd->command_id) == 0) {
        on_answer(f, &ev);
        if (!f->live && f->o->follow && f->final < 0) print_event(f, &ev, m);
        note_footer(f, &ev);
    } else if (f->loaded && f->answered && strcmp(ev.release_id, f->release_id) == 0) {
        if (!f->live) print_event(f, &ev, m);
        note_footer(f, &ev);
        apply_event(f, &ev);
        draw(f, false);
    }
    fflush(f->o->out);
    of_event_clear(&ev);
}

/* Sends the command on fk's cluster. */
static int send(const of_config *cfg, of_fleet_kafka *fk, const of_command *cmd)
{
    char errstr[512];
    of_kafka_producer *p = NULL;
    int ex = OF_EXIT_OK;
    if (of_kafka_producer_new(&fk->kc, NULL, &p, errstr, sizeof errstr)) {
        fprintf(stderr, "octofleet: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
    } else if (of_cli_produce_command(p, cfg, cmd, errstr, sizeof errstr)) {
        fprintf(stderr, "octofleet: %s\n", errstr);
        ex = OF_EXIT_SERVICE;
    }
    of_kafka_producer_destroy(p);
    return ex;
}

/* Reads the answer and follows the release until it ends (f->final), the deadline for the
 * answer passes or a signal arrives. Returns the exit code. */
static int wait_loop(follower *f, of_kafka_tail *tail)
{
    const of_follow_opts *o = f->o;
    const of_command *cmd = o->cmd;
    char errstr[512];
    int ex;
    /* watch, and a submit whose release may exist already (then no answer comes: submitting
     * is idempotent), start from the state; replay/resume/abort from their answer */
    bool need_state = o->follow && (!cmd || cmd->type == OF_CMD_SUBMIT);
    int64_t deadline = o->answer_timeout_ms > 0 ? of_now_ms() + o->answer_timeout_ms : 0;
    int64_t next_tick = 0;
    int state_tries = 0;
    while (f->final < 0) {
        if (of_signals_stop_requested()) {
            return OF_EXIT_INTERRUPTED;
        }
        if (need_state) {
            need_state = false;
            ex = load_state(f);
            if (ex) return ex;
            if (f->loaded) {
                f->answered = true;
                if (f->st.rel.status != OF_RELEASE_RUNNING) {
                    f->final = outcome(f->st.rel.status);
                    f->ended_in_state = true;
                    state_hints(f);
                }
                draw(f, true);
                if (f->final >= 0) break;
            } else if (!cmd) {
                of_cli_line(stderr, "octofleet %s: no release '%s' in the releases topic", o->name,
                            o->release);
                return OF_EXIT_FAIL;
            } else if (f->answered && ++state_tries < 20) {
                need_state = true; /* accepted, its state not visible yet: read it again */
            }
        }
        of_kafka_message *m = NULL;
        of_err rc = of_kafka_tail_poll(tail, 200, &m, errstr, sizeof errstr);
        if (rc) of_debug("%s", errstr);
        if (m) {
            bool was_answered = f->answered;
            on_message(f, m);
            of_kafka_message_free(m);
            if (!was_answered && f->answered && o->follow) need_state = true;
        }
        int64_t now = of_now_ms();
        if (!f->answered && deadline && now > deadline) {
            fprintf(stderr,
                    "octofleet %s: no answer from the producer within %d s (is it running? the "
                    "command may still be applied later: octofleet events --release %s)\n",
                    o->name, o->answer_timeout_ms / 1000, cmd ? cmd->release_id : "");
            return OF_EXIT_TIMEOUT;
        }
        if (now >= next_tick) {
            next_tick = now + TICK_MS;
            draw(f, true);
        }
    }
    draw(f, true);
    /* the state as it ended, unless it was read that way */
    if (!f->live && f->loaded && o->follow && !f->ended_in_state) print_state(f);
    return f->final;
}

static int run(follower *f, of_fleet_kafka *fk)
{
    const of_follow_opts *o = f->o;
    const of_command *cmd = o->cmd;
    char errstr[512], topic[OF_TOPIC_NAME_MAX];
    of_kafka_tail *tail = NULL;
    int ex;
    if (cmd) {
        ex = of_cli_check_command(f->cfg, cmd);
        if (ex) return ex; /* refused before connecting: nothing sent */
        if (f->cfg->topics.create &&
            of_fleet_ensure_topics(f->cfg, &fk->kc, KAFKA_TIMEOUT_MS, errstr, sizeof errstr)) {
            fprintf(stderr, "octofleet: cannot create topics: %s\n", errstr);
            return OF_EXIT_SERVICE;
        }
    }
    bool waits = !cmd || o->wait_answer || o->follow;
    if (waits) {
        if (of_config_topic(f->cfg, "events", topic, sizeof topic)) {
            fprintf(stderr, "octofleet %s: topics.prefix too long\n", o->name);
            return OF_EXIT_CONFIG;
        }
        /* BEFORE sending: only what comes after can answer */
        if (of_kafka_tail_open(&fk->kc, topic, KAFKA_TIMEOUT_MS, &tail, errstr, sizeof errstr)) {
            fprintf(stderr, "octofleet %s: cannot read %s: %s\n", o->name, topic, errstr);
            return OF_EXIT_SERVICE;
        }
    }
    if (cmd) {
        ex = send(f->cfg, fk, cmd);
        if (ex) goto out;
        if (cmd->type == OF_CMD_SUBMIT) {
            printf("%s\n", cmd->release_id);
            fflush(stdout);
        }
        if (!waits) {
            if (cmd->type != OF_CMD_SUBMIT)
                printf("%s %s sent\n", of_cmd_type_name(cmd->type), cmd->release_id);
            ex = OF_EXIT_OK;
            goto out;
        }
    }
    if (of_signals_install(errstr, sizeof errstr)) {
        fprintf(stderr, "octofleet: %s\n", errstr);
        ex = OF_EXIT_FAIL;
    } else {
        ex = wait_loop(f, tail);
    }
out:
    of_kafka_tail_destroy(tail);
    return ex;
}

int of_cli_follow(const of_config *cfg, const of_follow_opts *o)
{
    of_fleet_kafka fk;
    follower f = {.cfg = cfg, .o = o, .final = -1, .answered = !o->cmd, .t0 = of_now_ms()};
    if (o->cmd) of_id_copy(f.release_id, o->cmd->release_id);
    const char *nc = getenv("NO_COLOR");
    f.live = o->live && !o->json && o->follow && isatty(fileno(o->out));
    f.color = !(nc && nc[0]);
    if (of_cli_fleet_kafka(&fk, cfg, "octofleet")) return OF_EXIT_FAIL;
    of_log_level level = of_log_get_level();
    if (f.live) {
        /* nothing but the screen on the terminal: warnings and librdkafka's lines would
         * scroll it away; errors still go to stderr */
        of_log_set_level(OF_LOG_ERROR);
        fputs("\033[H\033[2J", o->out);
    }
    int ex = run(&f, &fk);
    if (f.live) of_log_set_level(level);
    of_relstate_clear(&f.st);
    for (size_t i = 0; i < f.n_links; i++)
        free(f.links[i].url);
    free(f.links);
    of_fleet_kafka_clear(&fk);
    return ex;
}
