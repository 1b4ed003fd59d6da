/* The producer's metrics (docs/monitoring.md). Decisions are counted when their transaction
 * commits, never when they are made: an aborted transaction is decided again after the
 * rebuild, and counting both times would overstate. So what a batch would count waits in
 * p->mpend (series already resolved: no allocation in steady state) and is applied by
 * prod_metrics_commit, or dropped with the batch. Gauges are sampled from the loop once a
 * second. With metrics off every series is NULL and all of this is a few branches. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "producer_int.h"

/* Running releases with jobs in flight and no job event for this long count as stalled. */
#define STALL_MS  (15 * 60 * 1000)
#define SAMPLE_MS 1000

static const char *const rel_states[PROD_N_REL_STATES] = {"running", "paused", "completed",
                                                          "aborted", "rejected"};

void prod_metrics_declare(prod *p)
{
    static const char *const l_state[] = {"state"};
    static const char *const l_jobs[] = {"stage", "environment", "outcome"};
    static const char *const l_disp[] = {"stage", "environment"};
    static const char *const l_cmd[] = {"type", "result"};
    of_metrics *r = of_monitor_metrics(p->mon);
    if (!r) return;
    of_metric *rel = of_metrics_gauge(r, "octofleet_producer_releases",
                                      "Releases held in memory, by state.", l_state, 1);
    for (size_t i = 0; i < PROD_N_REL_STATES; i++)
        p->m_rel[i] = of_metric_series1(rel, rel_states[i]);
    p->m_jobs = of_metrics_counter(r, "octofleet_producer_jobs_total",
                                   "Final job outcomes the gate recorded (after dedupe: one per "
                                   "job attempt).",
                                   l_jobs, 3);
    p->m_dispatched = of_metrics_counter(r, "octofleet_producer_jobs_dispatched_total",
                                         "Jobs dispatched (job.dispatched events).", l_disp, 2);
    p->m_held = of_metric_series0(of_metrics_gauge(
        r, "octofleet_producer_jobs_held", "Jobs decided but held for the task budget.", NULL, 0));
    p->m_gate = of_metric_series0(of_metrics_histogram(
        r, "octofleet_producer_gate_latency_seconds",
        "A stage's last final event consumed to the next stage's first job.dispatched.", NULL, 0,
        of_metrics_default_buckets, of_metrics_default_nbuckets));
    p->m_budget = of_metric_series0(
        of_metrics_gauge(r, "octofleet_task_budget",
                         "The current task budget (after any 429/503 lowering).", NULL, 0));
    p->m_budget_used = of_metric_series0(
        of_metrics_gauge(r, "octofleet_task_budget_used", "Task budget slots in use.", NULL, 0));
    p->m_commands = of_metrics_counter(r, "octofleet_producer_commands_total",
                                       "Operator commands by type and result.", l_cmd, 2);
    p->m_progress = of_metric_series0(of_metrics_gauge(
        r, "octofleet_producer_stage_last_progress_timestamp_seconds",
        "Unix time the producer last saw a job of a running release make progress (a final or "
        "started event); 0 when nothing runs.",
        NULL, 0));
    p->m_stalled = of_metric_series0(of_metrics_gauge(
        r, "octofleet_producer_releases_running_stalled",
        "Running releases with jobs in flight and no job event for more than 15 minutes.", NULL,
        0));
}

static void queue(prod *p, of_series *s, double v, bool observe, bool since)
{
    if (!s) return;
    /* Losing a metric to memory exhaustion is better than failing the decision. */
    if (of_grow((void **)&p->mpend, &p->cap_mpend, p->n_mpend, sizeof *p->mpend)) return;
    p->mpend[p->n_mpend++] = (prod_mpend){s, v, observe, since};
}

void prod_metrics_queue(prod *p, of_series *s, double v, bool observe)
{
    queue(p, s, v, observe, false);
}

void prod_metrics_queue_since(prod *p, of_series *s, int64_t start_ms)
{
    queue(p, s, (double)start_ms, true, true);
}

const char *prod_topic_kind(const prod *p, const char *topic)
{
    if (!topic) return "jobs";
    if (strcmp(topic, p->t_events) == 0) return "events";
    if (strcmp(topic, p->t_releases) == 0) return "state";
    if (strcmp(topic, p->t_dlq) == 0) return "dlq";
    if (strcmp(topic, p->t_requests) == 0) return "commands";
    return "jobs";
}

void prod_metrics_commit(prod *p)
{
    if (!p->mon) return;
    for (size_t i = 0; i < p->n_outs; i++) {
        const prod_out *o = &p->outs[i];
        if (o->cloudevent) of_monitor_event_produced(p->mon, o->ev_type);
        if (o->dlq_error)
            of_monitor_dlq(p->mon, strcmp(prod_topic_kind(p, o->dlq_topic), "commands") == 0
                                       ? "requests"
                                       : prod_topic_kind(p, o->dlq_topic));
    }
    int64_t now = of_now_ms();
    for (size_t i = 0; i < p->n_mpend; i++) {
        if (p->mpend[i].since)
            of_series_observe(p->mpend[i].s, (double)(now - (int64_t)p->mpend[i].v) / 1000.0);
        else if (p->mpend[i].observe)
            of_series_observe(p->mpend[i].s, p->mpend[i].v);
        else
            of_series_add(p->mpend[i].s, p->mpend[i].v);
    }
    p->n_mpend = 0;
}

void prod_metrics_job_event(prod *p, prod_rel *r, const of_event *ev)
{
    if (!p->mon) return;
    int64_t now = of_wall_ms();
    r->last_event_ms = now;
    const char *outcome = of_event_outcome(ev->type);
    if (outcome || ev->type == OF_EV_JOB_STARTED) p->last_progress_ms = now;
    if (!outcome) return;
    char stage[16];
    snprintf(stage, sizeof stage, "%d", ev->stage);
    const char *v[3] = {stage, ev->environment, outcome};
    prod_metrics_queue(p, of_metric_series(p->m_jobs, v), 1, false);
}

void prod_metrics_gate_event(prod *p, prod_rel *r, const of_event *ev)
{
    if (!p->mon) return;
    if (ev->type == OF_EV_STAGE_SUCCEEDED) {
        r->gate_open_ms = of_now_ms();
        r->gate_stage = ev->stage;
    } else if (ev->type == OF_EV_JOB_DISPATCHED) {
        char stage[16];
        snprintf(stage, sizeof stage, "%d", ev->stage);
        prod_metrics_queue(p, of_metric_series2(p->m_dispatched, stage, ev->environment), 1, false);
        r->last_event_ms = of_wall_ms();
        if (r->gate_open_ms && ev->stage > r->gate_stage) {
            /* until the dispatch is committed, i.e. visible to the workers */
            prod_metrics_queue_since(p, p->m_gate, r->gate_open_ms);
            r->gate_open_ms = 0;
        }
    }
}

void prod_metrics_command(prod *p, of_cmd_type type, const char *result)
{
    if (p->mon)
        prod_metrics_queue(p, of_metric_series2(p->m_commands, of_cmd_type_name(type), result), 1,
                           false);
}

void prod_metrics_tick(prod *p)
{
    of_monitor_loop(p->mon);
    if (!p->mon) return;
    int64_t now = of_now_ms();
    if (now < p->next_sample_ms) return;
    p->next_sample_ms = now + SAMPLE_MS;
    size_t by_state[PROD_N_REL_STATES] = {0};
    size_t stalled = 0;
    int64_t wall = of_wall_ms();
    for (size_t i = 0; i < p->n_rels; i++) {
        const prod_rel *r = p->rels[i];
        of_release_status st = of_gate_status(r->g);
        const char *name = of_release_status_name(st);
        for (size_t k = 0; k < PROD_N_REL_STATES; k++)
            if (strcmp(name, rel_states[k]) == 0) by_state[k]++;
        if (st == OF_RELEASE_RUNNING && of_gate_in_flight(r->g) > 0 && r->last_event_ms &&
            wall - r->last_event_ms > STALL_MS)
            stalled++;
    }
    for (size_t k = 0; k < PROD_N_REL_STATES; k++)
        of_series_set(p->m_rel[k], (double)by_state[k]);
    of_series_set(p->m_stalled, (double)stalled);
    of_series_set(p->m_progress, by_state[0] ? (double)p->last_progress_ms / 1000.0 : 0);
    if (p->budget) {
        of_series_set(p->m_held, (double)of_budget_waiting(p->budget));
        of_series_set(p->m_budget, (double)of_budget_effective(p->budget));
        of_series_set(p->m_budget_used, (double)of_budget_in_use(p->budget));
    }
}
