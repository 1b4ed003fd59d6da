/* The producer's decisions: operator commands and job events in, gate outputs turned into
 * the batch's messages (jobs, events, DLQ) and state marks out. Nothing here talks to Kafka;
 * the Octopus work (planning, reconciling, cancelling) happens here, before the batch's
 * transaction begins (producer.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "producer_int.h"
#include "uuid.h"
#include "windows.h"

#define ES 1024

/* ---------------------------------------------------------------------------------- */
/* outputs */

static prod_out *new_out(prod *p, const char *topic)
{
    if (of_grow((void **)&p->outs, &p->cap_outs, p->n_outs, sizeof *p->outs)) return NULL;
    prod_out *o = &p->outs[p->n_outs++];
    memset(o, 0, sizeof *o);
    o->topic = topic;
    return o;
}

static void out_clear(prod_out *o)
{
    free(o->key);
    free(o->value);
    free(o->dlq_error);
    free(o->dlq_topic);
    free(o->dlq_partition);
    free(o->dlq_offset);
    free(o->dlq_orig_size);
    free(o->dlq_orig_sha256);
}

void prod_outs_clear(prod *p)
{
    for (size_t i = 0; i < p->n_outs; i++)
        out_clear(&p->outs[i]);
    p->n_outs = 0;
}

/* Adds a message for topic: a copy of key, and value (taken: freed here on failure). NULL when
 * out of memory. */
static prod_out *push_out(prod *p, const char *topic, const char *key, char *value)
{
    prod_out *o = new_out(p, topic);
    char *k = strdup(key);
    if (!o || !k) {
        free(value);
        free(k);
        if (o) p->n_outs--;
        return NULL;
    }
    o->key = k;
    o->value = value;
    o->value_len = strlen(value);
    return o;
}

static of_err push_event(prod *p, const of_event *ev)
{
    char *val = NULL;
    of_err rc = of_event_encode(ev, &val);
    if (rc) {
        of_error("cannot encode event type=%s release=%s: %s", of_event_type_name(ev->type),
                 ev->release_id, of_strerror(rc));
        return rc;
    }
    prod_out *o = push_out(p, p->t_events, ev->release_id, val);
    if (!o) return OF_ERR_NOMEM;
    o->cloudevent = true;
    o->ev_type = ev->type;
    return OF_OK;
}

of_err prod_push_event(prod *p, const of_event *ev)
{
    return push_event(p, ev);
}

static of_err push_job(prod *p, const of_job *j)
{
    if (j->stage < 1 || j->stage > p->cfg->topics.max_stages) {
        /* Submit refuses such requests; a state record from a bigger config could hold one.
         * Dropping the job would leave its release waiting for ever on a job the state says
         * was dispatched, so the decision fails (its transaction is never committed) and the
         * producer stops until topics.max_stages is raised again. */
        of_error("job stage %d has no topic (topics.max_stages %d) release=%s job=%s: raise "
                 "topics.max_stages to at least %d",
                 j->stage, p->cfg->topics.max_stages, j->release_id, j->job_id, j->stage);
        return OF_ERR_CONFIG;
    }
    char *val = NULL;
    of_err rc = of_job_encode(j, &val);
    if (rc) {
        of_error("cannot encode job release=%s job=%s: %s", j->release_id, j->job_id,
                 of_strerror(rc));
        return rc;
    }
    char key[512];
    (void)snprintf(key, sizeof key, "%s/%s", j->environment.id ? j->environment.id : "-",
                   j->tenant.id ? j->tenant.id : "-");
    return push_out(p, p->t_jobs[j->stage - 1], key, val) ? OF_OK : OF_ERR_NOMEM;
}

static char *num_dup(long long v)
{
    char b[32];
    (void)snprintf(b, sizeof b, "%lld", v);
    return strdup(b);
}

/* A message the producer cannot read goes to the DLQ with why and where it came from, and
 * counts as consumed (the same bytes would fail again). A value bigger than the budget is cut
 * to fit, its original size and SHA-256 in headers: the DLQ copy itself can never be the next
 * poison. */
static of_err push_dlq(prod *p, const of_kafka_message *m, const char *why)
{
    of_warn("to dlq topic=%s partition=%d offset=%lld bytes=%zu: %s", m->topic, (int)m->partition,
            (long long)m->offset, m->value_len, why);
    prod_out *o = new_out(p, p->t_dlq);
    if (!o) return OF_ERR_NOMEM;
    size_t key_len = m->key_len < OF_NAME_MAX ? m->key_len : OF_NAME_MAX;
    size_t keep = of_guard_dlq_keep(p->guard, m->key ? key_len : 0, m->value_len);
    if (m->key) {
        o->key = malloc(key_len + 1);
        if (o->key) {
            memcpy(o->key, m->key, key_len);
            o->key[key_len] = '\0';
        }
    }
    o->value = malloc(keep + 1);
    if (o->value) {
        if (keep) memcpy(o->value, m->value, keep);
        o->value[keep] = '\0';
    }
    o->value_len = keep;
    bool cut_ok = true;
    if (keep < m->value_len) {
        char sha[OF_SHA256_HEX_SIZE];
        of_sha256_hex(m->value, m->value_len, sha);
        o->dlq_orig_size = num_dup((long long)m->value_len);
        o->dlq_orig_sha256 = strdup(sha);
        cut_ok = o->dlq_orig_size && o->dlq_orig_sha256;
    }
    o->dlq_error = of_utf8_strndup(why, OF_GUARD_REASON_MAX);
    o->dlq_topic = strdup(m->topic);
    o->dlq_partition = num_dup((long long)m->partition);
    o->dlq_offset = num_dup((long long)m->offset);
    if ((m->key && !o->key) || !o->value || !cut_ok || !o->dlq_error || !o->dlq_topic ||
        !o->dlq_partition || !o->dlq_offset) {
        out_clear(o);
        p->n_outs--;
        return OF_ERR_NOMEM;
    }
    return OF_OK;
}

bool prod_authentic(prod *p, const of_kafka_message *m, of_err *rc)
{
    *rc = OF_OK;
    if (!of_guard_auth_on(p->guard)) return true;
    const void *tag = NULL;
    size_t tag_len = 0;
    if (!of_kafka_message_header(m, OF_GUARD_AUTH_HEADER, &tag, &tag_len)) tag = NULL;
    char es[ES];
    if (of_guard_verify(p->guard, m->topic, m->key, m->key_len, m->value, m->value_len, tag,
                        tag_len, es, sizeof es) == OF_OK)
        return true;
    *rc = push_dlq(p, m, es);
    return false;
}

/* ---------------------------------------------------------------------------------- */
/* applying a gate's output */

static void log_event(const prod_rel *r, const of_event *ev)
{
    switch (ev->type) {
    case OF_EV_RELEASE_PAUSED:
        of_warn("release paused release=%s name=%s failed=%d: %s", r->id,
                ev->release_name ? ev->release_name : "", ev->n_failed,
                ev->message ? ev->message : "");
        break;
    case OF_EV_RELEASE_COMPLETED:
    case OF_EV_RELEASE_RESUMED:
    case OF_EV_RELEASE_ABORTED:
    case OF_EV_RELEASE_ACCEPTED:
        of_info("%s release=%s name=%s round=%d by=%s", of_event_type_name(ev->type), r->id,
                ev->release_name ? ev->release_name : "", ev->round, ev->by ? ev->by : "-");
        break;
    case OF_EV_STAGE_DEADLINE_PASSED:
        of_warn("stage deadline passed release=%s stage=%d env=%s: %s", r->id, ev->stage,
                ev->environment ? ev->environment : "", ev->message ? ev->message : "");
        break;
    case OF_EV_STAGE_STARTED:
    case OF_EV_STAGE_SUCCEEDED:
    case OF_EV_STAGE_FAILED:
        of_info("%s release=%s stage=%d env=%s jobs=%d", of_event_type_name(ev->type), r->id,
                ev->stage, ev->environment ? ev->environment : "", ev->n_total);
        break;
    default:
        of_debug("%s release=%s stage=%d job=%s attempt=%d env=%s tenant=%s",
                 of_event_type_name(ev->type), r->id, ev->stage, ev->job_id, ev->attempt,
                 ev->environment ? ev->environment : "", ev->tenant ? ev->tenant : "-");
    }
}

static bool in_flight(of_job_status st)
{
    return st == OF_JOB_DISPATCHED || st == OF_JOB_STARTED || st == OF_JOB_WAITING;
}

/* Keeps the task budget in step with job idx of r: a held job waits for a slot; a job that
 * left flight gives its slot back; a job in flight that holds none (an event of an attempt
 * this producer dispatched and then lost, adopted by the gate) takes one. */
static of_err budget_note(prod *p, prod_rel *r, size_t idx, bool first)
{
    const of_job_record *jr = of_gate_job(r->g, idx);
    if (jr->held) return of_budget_hold(p->budget, r->id, r->priority, first, idx);
    bool fly = in_flight(jr->status);
    if (fly && !r->live[idx]) {
        r->live[idx] = true;
        of_budget_started(p->budget);
    } else if (!fly && r->live[idx]) {
        r->live[idx] = false;
        of_budget_finished(p->budget);
    }
    return OF_OK;
}

of_err prod_budget_adopt(prod *p, prod_rel *r)
{
    of_err rc = OF_OK;
    for (size_t i = 0; !rc && i < of_gate_job_count(r->g); i++)
        rc = budget_note(p, r, i, false);
    return rc;
}

/* The group a held job opens: its stage in its environment, and with gate "tenant" its
 * tenant's lane (the untenanted jobs of a stage are one group there). */
static int group_cmp(const of_job *a, const of_job *b, bool lanes)
{
    if (a->stage != b->stage) return a->stage < b->stage ? -1 : 1;
    int c = strcmp(a->environment.id, b->environment.id);
    if (c || !lanes) return c;
    if (!a->tenant.id || !b->tenant.id) return (a->tenant.id != NULL) - (b->tenant.id != NULL);
    return strcmp(a->tenant.id, b->tenant.id);
}

typedef struct held_ref {
    const of_job *job;
    size_t idx;
} held_ref;

/* By lane group (tenant included: a barrier's groups stay contiguous), then plan order. */
static int held_cmp(const void *pa, const void *pb)
{
    const held_ref *a = pa, *b = pb;
    int c = group_cmp(a->job, b->job, true);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* A held job that may open a gate. */
static bool opens_gate(const of_job_record *jr)
{
    return jr->held && jr->job.stage > 1;
}

static int idx_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

/* The jobs of out that open a gate: for each group of a later stage than the first among the
 * held jobs out decided, the one first in plan order. They go ahead in the task budget's queue
 * (budget.h), so a gate that opens starts its stage with the next free slot. (Stage 1 opens
 * with the release, every lane at once: no gate, and its jobs wait in plan order.) *firsts:
 * sorted, the caller frees it; NULL when nothing is held. OF_ERR_NOMEM. */
static of_err group_firsts(const prod_rel *r, const of_gate_out *out, size_t **firsts, size_t *n)
{
    *firsts = NULL;
    *n = 0;
    size_t held = 0;
    for (size_t i = 0; i < out->n_changed; i++)
        held += opens_gate(of_gate_job(r->g, out->changed_jobs[i]));
    if (!held) return OF_OK;
    held_ref *v = malloc(held * sizeof *v);
    size_t *f = malloc(held * sizeof *f);
    if (!v || !f) {
        free(v);
        free(f);
        return OF_ERR_NOMEM;
    }
    for (size_t i = 0, k = 0; i < out->n_changed; i++) {
        const of_job_record *jr = of_gate_job(r->g, out->changed_jobs[i]);
        if (opens_gate(jr)) v[k++] = (held_ref){&jr->job, out->changed_jobs[i]};
    }
    qsort(v, held, sizeof *v, held_cmp);
    bool lanes = of_gate_gate_mode(r->g) == OF_GATE_TENANT;
    size_t k = 0;
    for (size_t i = 0; i < held; i++) {
        if (i > 0 && group_cmp(v[i - 1].job, v[i].job, lanes) == 0) {
            if (v[i].idx < f[k - 1]) f[k - 1] = v[i].idx;
            continue;
        }
        f[k++] = v[i].idx;
    }
    free(v);
    qsort(f, k, sizeof *f, idx_cmp);
    *firsts = f;
    *n = k;
    return OF_OK;
}

/* The gate's output into the batch: jobs, events and state marks. Jobs it decided wait for
 * the task budget (gate.h, hold), which prod_budget_pump then sends. */
static of_err apply_out(prod *p, prod_rel *r, const of_gate_out *out)
{
    size_t *firsts = NULL, n_firsts = 0;
    of_err rc = group_firsts(r, out, &firsts, &n_firsts);
    for (size_t i = 0; !rc && i < out->n_dispatch; i++)
        rc = push_job(p, &out->dispatch[i]);
    for (size_t i = 0; !rc && i < out->n_events; i++) {
        log_event(r, &out->events[i]);
        rc = push_event(p, &out->events[i]);
        if (!rc) prod_metrics_gate_event(p, r, &out->events[i]);
    }
    for (size_t i = 0; !rc && i < out->n_changed; i++) {
        size_t idx = out->changed_jobs[i];
        rc = prod_mark_job(p, r, idx);
        if (!rc)
            rc = budget_note(p, r, idx,
                             n_firsts && bsearch(&idx, firsts, n_firsts, sizeof *firsts, idx_cmp));
    }
    free(firsts);
    if (!rc && out->release_changed) rc = prod_mark_release(p, r);
    return rc;
}

/* of_budget_next_if's test: a held job is sent only while its maintenance window is open. */
typedef struct pump_ctx {
    prod *p;
    int64_t now;
} pump_ctx;

static bool window_open(void *ctx, const char *release_id, size_t job)
{
    const pump_ctx *c = ctx;
    const prod_rel *r = prod_find(c->p, release_id);
    const of_job_record *jr = r ? of_gate_job(r->g, job) : NULL;
    if (!jr || !jr->window) return true;
    if (r->windows_broken) return false;
    if ((size_t)jr->window > of_windows_count(r->windows)) return true;
    return r->win_next[jr->window - 1] <= c->now;
}

/* Each release's window openings as of now (wall ms), once per pump. */
static void windows_refresh(prod *p, int64_t now)
{
    for (size_t i = 0; i < p->n_rels; i++) {
        prod_rel *r = p->rels[i];
        for (size_t w = 0; w < of_windows_count(r->windows); w++)
            r->win_next[w] = of_windows_next(r->windows, (int)w + 1, now);
    }
}

/* Applies the stage deadlines due at now (gate.h, of_gate_tick) before anything held is sent:
 * a held job of a stage past its deadline is never sent. */
static of_err deadlines_tick(prod *p, int64_t now)
{
    of_err rc = OF_OK;
    for (size_t i = 0; !rc && i < p->n_rels; i++) {
        prod_rel *r = p->rels[i];
        int64_t due = of_gate_next_deadline(r->g);
        if (!due || due > now) continue;
        of_gate_out out;
        memset(&out, 0, sizeof out);
        rc = of_gate_tick(r->g, now, &out);
        if (!rc && !out.ignored) rc = apply_out(p, r, &out);
        of_gate_out_clear(&out);
    }
    return rc;
}

of_err prod_budget_pump(prod *p)
{
    of_err rc = OF_OK;
    const char *rid = NULL;
    size_t idx = 0, sent = 0;
    int64_t now = of_wall_ms();
    rc = deadlines_tick(p, now); /* a deadline passes whether Octopus answers or not */
    if (rc) return rc;
    if (prod_held(p)) return OF_OK; /* Octopus is held: nothing new goes out */
    windows_refresh(p, now);
    pump_ctx pc = {p, now};
    if (of_budget_tick(p->budget, of_now_ms()))
        of_info("task budget raised to %d of %d (octopus quiet for %d s)",
                of_budget_effective(p->budget), of_budget_limit(p->budget),
                OF_BUDGET_QUIET_MS / 1000);
    while (!rc && of_budget_next_if(p->budget, window_open, &pc, &rid, &idx)) {
        prod_rel *r = prod_find(p, rid);
        of_gate_out out;
        memset(&out, 0, sizeof out);
        rc = r ? of_gate_release_held(r->g, idx, now, &out) : OF_ERR_STATE;
        if (rc == OF_ERR_STATE) {
            /* no longer held (the gate moved it on): the slot was never used */
            of_budget_finished(p->budget);
            rc = OF_OK;
        } else if (!rc) {
            r->live[idx] = true;
            rc = apply_out(p, r, &out);
            sent++;
        }
        of_gate_out_clear(&out);
    }
    if (sent)
        of_debug("task budget sent=%zu in_use=%zu of %d held=%zu", sent,
                 of_budget_in_use(p->budget), of_budget_effective(p->budget),
                 of_budget_waiting(p->budget));
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* commands */

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Starts ev, an event about cmd for release_id: its time is the command's, so a redelivered
 * command re-emits the same event id. A copy that fails sets *rc. */
static void command_event(of_event *ev, of_event_type type, const char *release_id,
                          const char *release_name, const of_command *cmd, of_err *rc)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->source = of_strdup_or_null(OF_SOURCE_PRODUCER, rc);
    of_id_copy(ev->release_id, release_id);
    ev->release_name = of_strdup_or_null(release_name, rc);
    ev->time_ms = cmd->time_ms ? cmd->time_ms : of_wall_ms();
    ev->by = of_strdup_or_null(cmd->by, rc);
    of_id_copy(ev->command_id, cmd->command_id);
}

/* Marks the gate's events of type `type` as the answer to cmd (their command_id), which the
 * CLI waits for. The event id does not depend on it. */
static void answer(of_gate_out *out, const of_command *cmd, of_event_type type)
{
    for (size_t i = 0; i < out->n_events; i++)
        if (out->events[i].type == type) of_id_copy(out->events[i].command_id, cmd->command_id);
}

/* release.rejected with every error. Its id comes from the submit's time, so a redelivered
 * submit re-emits the same id (consumers dedupe). */
static of_err reject(prod *p, const char *release_id, const char *release_name,
                     const of_command *cmd, const of_errlist *errs)
{
    of_event ev;
    of_err rc = OF_OK;
    command_event(&ev, OF_EV_RELEASE_REJECTED, release_id, release_name, cmd, &rc);
    /* At most OF_EVENT_ERRORS_MAX listed (docs/messages.md), each cut to OF_REASON_MAX: the
     * event stays small whatever the request held; the rest are counted. */
    size_t listed = errs->n < OF_EVENT_ERRORS_MAX ? errs->n : OF_EVENT_ERRORS_MAX;
    size_t more_n = errs->n - listed + errs->dropped;
    ev.errors = calloc(listed + 1, sizeof *ev.errors);
    if (!ev.errors) rc = OF_ERR_NOMEM;
    for (size_t i = 0; !rc && i < listed; i++)
        ev.errors[ev.n_errors++] = of_utf8_strndup(errs->items[i], OF_REASON_MAX);
    if (!rc && more_n) {
        char more[64];
        (void)snprintf(more, sizeof more, "(+%zu more)", more_n);
        ev.errors[ev.n_errors++] = strdup(more);
    }
    for (size_t i = 0; i < ev.n_errors; i++)
        if (!ev.errors[i]) rc = OF_ERR_NOMEM;
    p->cmd_result = "rejected";
    char msg[128];
    (void)snprintf(msg, sizeof msg, "request rejected: %zu error(s)", errs->n + errs->dropped);
    ev.message = of_strdup_or_null(msg, &rc);
    if (!rc) {
        of_event_set_id(&ev);
        char joined[1024];
        of_errlist_join(errs, "; ", joined, sizeof joined);
        of_warn("release rejected release=%s name=%s by=%s errors=%zu: %s", release_id,
                nz(release_name), nz(cmd->by), errs->n + errs->dropped, joined);
        rc = push_event(p, &ev);
    }
    of_event_clear(&ev);
    return rc;
}

/* The release's name, for events (every job record carries it). */
static const char *rel_name(const prod_rel *r)
{
    return of_gate_job_count(r->g) ? of_gate_job(r->g, 0)->job.release_name : NULL;
}

/* An operator command that cannot be applied (nothing to replay, an unknown release, ...):
 * recorded as command.ignored with who and why, so the operator sees it in the events, not
 * only in the producer's log. */
static of_err ignored(prod *p, const char *release_id, const char *release_name,
                      const of_command *cmd, const char *why)
{
    of_event ev;
    of_err rc = OF_OK;
    char msg[512];
    p->cmd_result = "ignored";
    (void)snprintf(msg, sizeof msg, "%s ignored: %s", of_cmd_type_name(cmd->type), why);
    of_warn("%s release=%s by=%s", msg, release_id, nz(cmd->by));
    command_event(&ev, OF_EV_COMMAND_IGNORED, release_id, release_name, cmd, &rc);
    ev.message = of_strdup_or_null(msg, &rc);
    ev.stage =
        cmd->type == OF_CMD_REPLAY || cmd->type == OF_CMD_APPROVE || cmd->type == OF_CMD_GUIDE
            ? cmd->stage
            : 0;
    if (!rc) {
        of_event_set_id(&ev);
        rc = push_event(p, &ev);
    }
    of_event_clear(&ev);
    return rc;
}

/* Which release a submit that did not parse is about: the command's release_id, else the
 * message key (the CLI keys commands by release id). */
static bool submit_release_id(const of_command *cmd, const of_kafka_message *m,
                              char out[OF_UUID_STR_SIZE])
{
    if (cmd->release_id[0] && of_uuid_valid(cmd->release_id)) {
        of_id_copy(out, cmd->release_id);
        return true;
    }
    if (m->key && m->key_len == OF_UUID_STR_SIZE - 1) {
        char k[OF_UUID_STR_SIZE];
        memcpy(k, m->key, m->key_len);
        k[m->key_len] = '\0';
        if (of_uuid_valid(k)) {
            of_id_copy(out, k);
            return true;
        }
    }
    return false;
}

static of_err accept(prod *p, const char *release_id, of_plan *plan, const of_command *cmd)
{
    of_err rc = OF_OK;
    int64_t now = of_wall_ms();
    free(plan->header.by);
    free(plan->header.reason);
    plan->header.by = of_strdup_or_null(cmd->by, &rc);
    plan->header.reason = of_strdup_or_null(cmd->reason, &rc);
    plan->header.updated_ms = now;
    if (rc) return rc;
    of_gate *g = NULL;
    char es[512] = "";
    rc = of_gate_new(&plan->header, plan->jobs, plan->n_jobs, &g, es, sizeof es);
    if (rc == OF_ERR_INVALID) {
        /* A plan the gate cannot hold is a bug, but the submitter deserves an answer. */
        of_error("cannot create the gate of release=%s: %s", release_id, es);
        of_errlist errs;
        of_errlist_init(&errs);
        rc = of_errlist_add(&errs, "internal error: %s", es);
        if (!rc) rc = reject(p, release_id, plan->header.release_name, cmd, &errs);
        of_errlist_clear(&errs);
        return rc;
    }
    if (rc) return rc;
    prod_rel *r = NULL;
    rc = prod_add(p, g, release_id, &r);
    if (rc) return rc;
    r->priority = plan->header.priority;
    rc = prod_rel_windows(r, plan->header.request_json);
    if (rc) return rc;
    of_gate_out out;
    memset(&out, 0, sizeof out);
    rc = of_gate_start(r->g, now, &out);
    if (rc == OF_ERR_STATE) rc = OF_OK; /* a fresh plan is never started; be safe */
    /* release.accepted says who submitted and carries the planner's warnings; its id does
     * not depend on these fields. */
    for (size_t i = 0; !rc && i < out.n_events; i++) {
        of_event *ev = &out.events[i];
        if (ev->type != OF_EV_RELEASE_ACCEPTED) continue;
        of_id_copy(ev->command_id, cmd->command_id);
        if (!ev->by) ev->by = of_strdup_or_null(cmd->by, &rc);
        if (!ev->message && plan->warnings.n) {
            char w[2048];
            of_errlist_join(&plan->warnings, "; ", w, sizeof w);
            ev->message = of_strdup_or_null(w, &rc);
        }
    }
    if (!rc) rc = apply_out(p, r, &out);
    /* A new release: every record is written, whatever the gate reported as changed. */
    for (size_t i = 0; !rc && i < of_gate_job_count(r->g); i++)
        rc = prod_mark_job(p, r, i);
    if (!rc) rc = prod_mark_release(p, r);
    for (size_t i = 0; i < plan->warnings.n; i++)
        of_warn("plan warning release=%s: %s", release_id, plan->warnings.items[i]);
    of_info("release planned release=%s name=%s jobs=%zu to_deploy=%zu skipped=%zu dispatched=%zu "
            "by=%s",
            release_id, nz(plan->header.release_name), plan->n_jobs,
            of_plan_count(plan, OF_JOB_PENDING), of_plan_count(plan, OF_JOB_SKIPPED),
            out.n_dispatch, nz(cmd->by));
    of_gate_out_clear(&out);
    return rc;
}

static of_err do_submit(prod *p, const of_kafka_message *m, const of_command *cmd, bool *cut)
{
    of_errlist errs;
    of_errlist_init(&errs);
    of_request *req = NULL;
    of_plan *plan = NULL;
    char rid[OF_UUID_STR_SIZE] = "";
    char es[ES] = "";
    int64_t t0 = 0;
    size_t req_max = 0;
    const char *rj = cmd->request_json ? cmd->request_json : "";
    of_err rc = of_request_parse(rj, strlen(rj), &req, &errs);
    if (rc == OF_ERR_INVALID) {
        if (submit_release_id(cmd, m, rid) && prod_find(p, rid)) {
            /* A running release is not "rejected" by a bad resubmission of it. */
            of_warn("invalid submit for an existing release ignored release=%s by=%s", rid,
                    nz(cmd->by));
            rc = OF_OK;
        } else if (rid[0]) {
            rc = reject(p, rid, NULL, cmd, &errs);
        } else {
            char why[1024];
            of_errlist_join(&errs, "; ", why, sizeof why);
            char all[1200];
            (void)snprintf(all, sizeof all, "invalid request and no release id: %s", why);
            rc = push_dlq(p, m, all);
        }
        goto out;
    }
    if (rc) goto out;
    of_uuid_release_id(req->space, req->release, rid);
    req_max = of_guard_request_max(p->guard);
    if (strlen(rj) > req_max && !prod_find(p, rid)) {
        /* Its state record could not be written: refuse it now, not in a failing transaction. */
        rc = of_errlist_add(&errs,
                            "request: %zu bytes; the largest request this fleet accepts is %zu "
                            "bytes (the message budget of %zu bytes less room for the release's "
                            "state)",
                            strlen(rj), req_max, of_guard_budget(p->guard));
        if (!rc) rc = reject(p, rid, req->release, cmd, &errs);
        goto out;
    }
    if (prod_find(p, rid)) {
        /* Submitting is idempotent: the release exists, its state wins. The submitter sees
         * the release's own events (status/events commands). */
        of_info("duplicate submit ignored release=%s name=%s by=%s", rid, req->release,
                nz(cmd->by));
        goto out;
    }
    if (prod_gone_find(p, rid)) {
        /* Its state is gone, not its deployments: a release name deploys once, so the same
         * request must not silently deploy everything again (docs/operations.md). */
        char why[256];
        prod_gone_why(prod_gone_find(p, rid), why, sizeof why);
        rc = of_errlist_add(&errs, "%s; submit it under a new release name", why);
        if (!rc) rc = reject(p, rid, req->release, cmd, &errs);
        goto out;
    }
    if (req->n_stages > (size_t)p->cfg->topics.max_stages) {
        rc = of_errlist_add(&errs,
                            "stages: %zu stages, but this fleet has %d stage topics "
                            "(topics.max_stages)",
                            req->n_stages, p->cfg->topics.max_stages);
        if (!rc) rc = reject(p, rid, req->release, cmd, &errs);
        goto out;
    }
    *cut = true;
    of_resolver_octo_reset(p->ro);
    t0 = of_now_ms();
    rc = of_plan_build(req, cmd->request_json, &p->res, &plan, &errs, es, sizeof es);
    of_debug("planned release=%s took_ms=%lld rc=%s", rid, (long long)(of_now_ms() - t0),
             of_strerror(rc));
    if (rc == OF_OK) {
        rc = accept(p, rid, plan, cmd);
    } else if (rc != OF_ERR_NOMEM) {
        /* Unresolved names, lifecycle refusals, and Octopus failures that outlasted the
         * client's retries alike: the request deploys nothing and the submitter may try
         * again. */
        of_err arc = OF_OK;
        if (errs.n == 0 && es[0]) arc = of_errlist_add(&errs, "%s", es);
        if (arc == OF_OK && errs.n == 0)
            arc = of_errlist_add(&errs, "planning failed: %s", of_strerror(rc));
        rc = arc ? arc : reject(p, rid, req->release, cmd, &errs);
    }
out:
    of_plan_free(plan);
    of_request_free(req);
    of_errlist_clear(&errs);
    return rc;
}

/* Replay: first ask Octopus which of the failed targets already run the release (one listing
 * per project and environment); those are recorded as succeeded and only the others go out
 * (docs/gating.md, "Reconcile before replay"). */
static of_err do_replay(prod *p, prod_rel *r, const of_command *cmd, bool *cut)
{
    prod_overrides ov;
    memset(&ov, 0, sizeof ov);
    of_err rc = OF_OK;
    if (of_gate_status(r->g) != OF_RELEASE_ABORTED && !cmd->all) {
        rc = prod_reconcile(p, r, cmd, &ov);
        if (rc) return rc;
        /* Octopus was asked: end the batch, as for a resume */
        if (ov.listings) *cut = true;
    }
    of_gate_out out;
    memset(&out, 0, sizeof out);
    rc = of_gate_replay_reconciled(r->g, cmd, ov.items, ov.n, of_wall_ms(), &out);
    if (rc == OF_ERR_STATE || rc == OF_ERR_INVALID) {
        char why[128];
        (void)snprintf(why, sizeof why, "%s (stage %d%s)",
                       rc == OF_ERR_INVALID ? "no such stage"
                       : cmd->quarantined   ? "nothing quarantined to replay"
                                            : "nothing to replay",
                       cmd->stage, cmd->all ? ", all" : "");
        rc = ignored(p, r->id, rel_name(r), cmd, why);
    } else if (!rc) {
        of_info("replay release=%s stage=%d all=%d quarantined=%d jobs=%zu already_deployed=%zu "
                "by=%s reason=%s",
                r->id, cmd->stage, (int)cmd->all, (int)cmd->quarantined, out.n_dispatch, ov.n,
                nz(cmd->by), nz(cmd->reason));
        answer(&out, cmd, OF_EV_RELEASE_RESUMED);
        rc = apply_out(p, r, &out);
    }
    of_gate_out_clear(&out);
    prod_overrides_clear(&ov);
    return rc;
}

static of_err do_resume(prod *p, prod_rel *r, const of_command *cmd, bool *cut)
{
    of_release_status st = of_gate_status(r->g);
    prod_overrides ov;
    memset(&ov, 0, sizeof ov);
    of_err rc = OF_OK;
    if (st == OF_RELEASE_PAUSED || st == OF_RELEASE_RUNNING) {
        *cut = true;
        rc = prod_reconcile(p, r, NULL, &ov);
        if (rc) return rc;
    }
    of_gate_out out;
    memset(&out, 0, sizeof out);
    rc = of_gate_resume(r->g, cmd, ov.items, ov.n, of_wall_ms(), &out);
    if (rc == OF_ERR_STATE) {
        char why[128];
        (void)snprintf(why, sizeof why, "nothing failed (release %s)", of_release_status_name(st));
        rc = ignored(p, r->id, rel_name(r), cmd, why);
    } else if (!rc) {
        answer(&out, cmd, OF_EV_RELEASE_RESUMED);
        rc = apply_out(p, r, &out);
    }
    of_gate_out_clear(&out);
    prod_overrides_clear(&ov);
    return rc;
}

/* In-flight jobs with a known task: what a repeated abort --cancel-running still cancels. */
static of_err running_tasks(const prod_rel *r, of_gate_out *out)
{
    for (size_t i = 0; i < of_gate_job_count(r->g); i++) {
        const of_job_record *jr = of_gate_job(r->g, i);
        if (!jr->task_id || !(jr->status == OF_JOB_DISPATCHED || jr->status == OF_JOB_STARTED ||
                              jr->status == OF_JOB_WAITING))
            continue;
        if (of_grow((void **)&out->cancel, &out->cap_cancel, out->n_cancel, sizeof *out->cancel))
            return OF_ERR_NOMEM;
        of_job_ref *jref = &out->cancel[out->n_cancel];
        memset(jref, 0, sizeof *jref);
        of_id_copy(jref->job_id, jr->job.job_id);
        jref->task_id = strdup(jr->task_id);
        if (!jref->task_id) return OF_ERR_NOMEM;
        out->n_cancel++;
    }
    return OF_OK;
}

static of_err do_abort(prod *p, prod_rel *r, const of_command *cmd, bool *cut)
{
    bool already = of_gate_status(r->g) == OF_RELEASE_ABORTED;
    of_gate_out out;
    memset(&out, 0, sizeof out);
    of_err rc = of_gate_abort(r->g, cmd, of_wall_ms(), &out);
    if (rc == OF_ERR_STATE) {
        rc = ignored(p, r->id, rel_name(r), cmd, "the release has completed");
    } else if (!rc) {
        if (already && cmd->cancel_running) rc = running_tasks(r, &out);
        if (!rc && cmd->cancel_running && out.n_cancel) {
            *cut = true;
            prod_cancel_tasks(p, r, out.cancel, out.n_cancel);
        }
        answer(&out, cmd, OF_EV_RELEASE_ABORTED);
        if (!rc) rc = apply_out(p, r, &out);
        if (!rc) of_budget_drop(p->budget, r->id); /* the gate cancelled its held jobs */
        if (already && !rc) {
            /* The release was aborted before: the command changes nothing but the tasks it
             * cancels again, and is answered so (docs/operations.md). */
            char why[160] = "the release is already aborted";
            if (out.n_cancel)
                (void)snprintf(why, sizeof why,
                               "the release is already aborted (cancelling its %zu running "
                               "task(s) again)",
                               out.n_cancel);
            rc = ignored(p, r->id, rel_name(r), cmd, why);
        }
    }
    of_gate_out_clear(&out);
    return rc;
}

static of_err do_approve(prod *p, prod_rel *r, const of_command *cmd)
{
    of_gate_out out;
    memset(&out, 0, sizeof out);
    char why[256] = "";
    of_err rc = of_gate_approve(r->g, cmd, of_wall_ms(), &out, why, sizeof why);
    if (rc == OF_ERR_STATE) {
        rc = ignored(p, r->id, rel_name(r), cmd, why);
    } else if (!rc) {
        answer(&out, cmd, OF_EV_STAGE_APPROVED);
        rc = apply_out(p, r, &out);
    }
    of_gate_out_clear(&out);
    return rc;
}

/* Does waiting job jr of the release match guide's stage and tenant filter? */
static bool guide_match(const of_job_record *jr, const of_command *cmd)
{
    if (jr->job.stage != cmd->stage || jr->status != OF_JOB_WAITING || !jr->task_id) return false;
    if (!cmd->n_tenants) return true;
    for (size_t i = 0; i < cmd->n_tenants; i++)
        if (jr->job.tenant.name && strcmp(jr->job.tenant.name, cmd->tenants[i]) == 0) return true;
    return false;
}

/* job.answered for one interruption the producer answered, applied to the gate (the job runs
 * on: started) and produced; the producer does not read its own events back. */
static of_err guided_event(prod *p, prod_rel *r, size_t idx, const of_octo_answered *a,
                           const of_command *cmd, const char *value)
{
    const of_job_record *jr = of_gate_job(r->g, idx);
    of_event ev;
    of_err rc = OF_OK;
    char msg[700], title[300] = "";
    if (a->title) (void)snprintf(title, sizeof title, " (%s)", a->title);
    (void)snprintf(msg, sizeof msg, "%s%s answered %s for %s%s%s", a->id, title, value, nz(cmd->by),
                   cmd->reason ? ": " : "", cmd->reason ? cmd->reason : "");
    command_event(&ev, OF_EV_JOB_ANSWERED, r->id, rel_name(r), cmd, &rc);
    ev.command_id[0] = '\0'; /* stage.guided answers the command */
    ev.time_ms = of_wall_ms();
    ev.stage = jr->job.stage;
    ev.stage_count = jr->job.stage_count;
    ev.stage_name = of_strdup_or_null(jr->job.stage_name, &rc);
    ev.environment = of_strdup_or_null(jr->job.environment.name, &rc);
    of_id_copy(ev.job_id, jr->job.job_id);
    ev.attempt = jr->job.attempt;
    ev.project = of_strdup_or_null(jr->job.project.name, &rc);
    ev.tenant = of_strdup_or_null(jr->job.tenant.name, &rc);
    ev.deployment_id = of_strdup_or_null(jr->deployment_id, &rc);
    ev.task_id = of_strdup_or_null(jr->task_id, &rc);
    ev.interruption_id = of_strdup_or_null(a->id, &rc);
    ev.message = of_strdup_or_null(msg, &rc);
    if (!rc) {
        of_event_set_id(&ev);
        of_info("job answered release=%s job=%s task=%s interruption=%s %s by=%s", r->id,
                jr->job.job_id, jr->task_id, a->id, value, nz(cmd->by));
        of_gate_out out;
        memset(&out, 0, sizeof out);
        rc = of_gate_job_event(r->g, &ev, of_wall_ms(), &out);
        if (rc == OF_ERR_NOT_FOUND) rc = OF_OK;
        if (!rc) rc = push_event(p, &ev);
        if (!rc) rc = apply_out(p, r, &out);
        of_gate_out_clear(&out);
    }
    of_event_clear(&ev);
    return rc;
}

static of_err do_guide(prod *p, prod_rel *r, const of_command *cmd, bool *cut)
{
    static const char *const value[OF_GUIDE__COUNT] = {"Retry", "Ignore", "Fail"};
    of_release_status st = of_gate_status(r->g);
    if (st == OF_RELEASE_ABORTED || st == OF_RELEASE_COMPLETED)
        return ignored(p, r->id, rel_name(r), cmd,
                       st == OF_RELEASE_ABORTED ? "the release is aborted"
                                                : "the release has completed");
    size_t n_jobs = of_gate_job_count(r->g), n = 0;
    size_t *jobs = calloc(n_jobs ? n_jobs : 1, sizeof *jobs);
    if (!jobs) return OF_ERR_NOMEM;
    for (size_t i = 0; i < n_jobs; i++)
        if (guide_match(of_gate_job(r->g, i), cmd)) jobs[n++] = i;
    char why[400];
    if (!n) {
        free(jobs);
        (void)snprintf(why, sizeof why, "no job of stage %d%s waits in Octopus", cmd->stage,
                       cmd->n_tenants ? " (of those tenants)" : "");
        return ignored(p, r->id, rel_name(r), cmd, why);
    }
    prod_guided *res = calloc(n, sizeof *res);
    if (!res) {
        free(jobs);
        return OF_ERR_NOMEM;
    }
    char notes[700];
    (void)snprintf(notes, sizeof notes, "%s in octofleet by %s%s%s", value[cmd->guidance],
                   nz(cmd->by), cmd->reason ? ": " : "", cmd->reason ? cmd->reason : "");
    of_octo_answer a = {"GuidedFailure", "Guidance", value[cmd->guidance], notes};
    of_err rc = prod_guide_octopus(p, r, jobs, n, &a, res);
    *cut = true; /* Octopus was asked: end the batch, as for a resume */
    size_t answered = 0, failed = 0, other = 0;
    char first_err[300] = "";
    for (size_t i = 0; !rc && i < n; i++) {
        if (res[i].err) {
            failed++;
            if (!first_err[0])
                (void)snprintf(first_err, sizeof first_err, "%s",
                               res[i].errstr ? res[i].errstr : of_strerror(res[i].err));
            continue;
        }
        other += res[i].answered.other;
        for (size_t k = 0; !rc && k < res[i].answered.n; k++) {
            rc = guided_event(p, r, res[i].job, &res[i].answered.items[k], cmd,
                              value[cmd->guidance]);
            answered++;
        }
    }
    prod_guided_clear(res, n);
    free(res);
    free(jobs);
    if (rc) return rc;
    (void)snprintf(why, sizeof why,
                   "stage %d: %zu guided failure(s) answered %s of %zu waiting job(s)%s%s%s%s",
                   cmd->stage, answered, a.value, n, other ? "; other interruptions left: " : "",
                   other ? "see octofleet status" : "", failed ? "; failed: " : "", first_err);
    if (!answered) return ignored(p, r->id, rel_name(r), cmd, why);
    of_event ev;
    command_event(&ev, OF_EV_STAGE_GUIDED, r->id, rel_name(r), cmd, &rc);
    ev.stage = cmd->stage;
    ev.round = of_gate_round(r->g);
    ev.message = of_strdup_or_null(why, &rc);
    ev.n_total = (int)n;
    ev.n_succeeded = (int)answered;
    ev.n_failed = (int)failed;
    if (!rc) {
        of_event_set_id(&ev);
        of_info("%s release=%s by=%s", why, r->id, nz(cmd->by));
        rc = push_event(p, &ev);
    }
    of_event_clear(&ev);
    return rc;
}

of_err prod_on_command(prod *p, const of_kafka_message *m, bool *cut)
{
    of_command cmd;
    char es[ES] = "";
    of_err rc = OF_OK;
    if (!prod_authentic(p, m, &rc)) return rc;
    rc = m->value ? of_command_decode(m->value, m->value_len, &cmd, es, sizeof es)
                  : of_seterr(es, sizeof es, OF_ERR_INVALID, "empty message");
    if (rc == OF_ERR_NOMEM) return rc;
    if (rc) {
        char why[ES + 32];
        (void)snprintf(why, sizeof why, "command: %s", es);
        return push_dlq(p, m, why);
    }
    p->cmd_result = "applied";
    if (cmd.type == OF_CMD_SUBMIT) {
        rc = do_submit(p, m, &cmd, cut);
    } else {
        prod_rel *r = prod_find(p, cmd.release_id);
        const prod_gone *gone = r ? NULL : prod_gone_find(p, cmd.release_id);
        char why[256] = "no such release";
        if (gone) prod_gone_why(gone, why, sizeof why);
        if (!r) {
            rc = ignored(p, cmd.release_id, NULL, &cmd, why);
        } else if (cmd.type == OF_CMD_REPLAY) {
            rc = do_replay(p, r, &cmd, cut);
        } else if (cmd.type == OF_CMD_RESUME) {
            rc = do_resume(p, r, &cmd, cut);
        } else if (cmd.type == OF_CMD_ABORT) {
            rc = do_abort(p, r, &cmd, cut);
        } else if (cmd.type == OF_CMD_APPROVE) {
            rc = do_approve(p, r, &cmd);
        } else if (cmd.type == OF_CMD_GUIDE) {
            rc = do_guide(p, r, &cmd, cut);
        }
    }
    if (!rc) prod_metrics_command(p, cmd.type, p->cmd_result);
    of_command_clear(&cmd);
    if (!rc) rc = prod_budget_pump(p);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* job events */

/* The events a worker reports about a job (job.dispatched is the producer's own). */
static bool is_worker_job_event(of_event_type t)
{
    switch (t) {
    case OF_EV_JOB_STARTED:
    case OF_EV_JOB_ANSWERED:
    case OF_EV_JOB_WAITING:
    case OF_EV_JOB_SUCCEEDED:
    case OF_EV_JOB_FAILED:
    case OF_EV_JOB_SKIPPED:
    case OF_EV_JOB_CANCELLED:
    case OF_EV_JOB_TIMED_OUT:
        return true;
    default:
        return false;
    }
}

/* A final worker event with the task's times tells the automatic budget how long a slot was
 * ours but not Octopus's (budget.h, of_budget_auto). Clock-safe: each difference is taken on
 * one clock (the producer's, or Octopus's). */
static void observe_budget(prod *p, const prod_rel *r, const of_event *ev)
{
    if ((ev->type != OF_EV_JOB_SUCCEEDED && ev->type != OF_EV_JOB_FAILED) ||
        ev->task_queued_ms <= 0 || ev->task_started_ms <= 0 || ev->task_completed_ms <= 0)
        return;
    long idx = of_gate_find(r->g, ev->job_id);
    const of_job_record *j = idx >= 0 ? of_gate_job(r->g, (size_t)idx) : NULL;
    if (!j || j->job.attempt != ev->attempt || j->job.dispatched_ms <= 0) return;
    int was = of_budget_limit(p->budget);
    if (of_budget_observe(p->budget, of_wall_ms() - j->job.dispatched_ms,
                          ev->task_completed_ms - ev->task_queued_ms,
                          ev->task_completed_ms - ev->task_started_ms))
        of_debug("task budget %d, was %d (headroom %d)", of_budget_limit(p->budget), was,
                 of_budget_headroom(p->budget));
}

of_err prod_on_event(prod *p, const of_kafka_message *m)
{
    if (!m->value) return OF_OK;
    of_event ev;
    char es[ES] = "";
    of_err rc = OF_OK;
    /* Forged or unsigned events must not move a gate: with authentication on, they go to the
     * DLQ with the reason (the monitoring consumers of the topic see them as they are). */
    if (!prod_authentic(p, m, &rc)) return rc;
    /* our own events come back to us: nothing to decide, and decoding them costs */
    if (of_event_is_producers(m->value, m->value_len)) return prod_budget_pump(p);
    rc = of_event_decode(m->value, m->value_len, &ev, es, sizeof es);
    if (rc == OF_ERR_NOMEM) return rc;
    if (rc) {
        /* Only the fleet writes this topic (docs/reliability.md): an event it cannot read is
         * poison, kept in the DLQ with where it came from rather than lost in a log. */
        char why[ES + 32];
        (void)snprintf(why, sizeof why, "event: %s", es);
        return push_dlq(p, m, why);
    }
    size_t plen = strlen(OF_SOURCE_PRODUCER);
    bool ours = ev.source && strncmp(ev.source, OF_SOURCE_PRODUCER, plen) == 0 &&
                (ev.source[plen] == '\0' || ev.source[plen] == '/');
    bool job = is_worker_job_event(ev.type);
    if (!ours && job && ev.octopus_throttled && of_budget_overload(p->budget, of_now_ms()))
        of_warn("octopus overloaded (429/503 reported with %s job=%s by %s): task budget lowered "
                "to %d of %d for a while",
                of_event_type_name(ev.type), ev.job_id, nz(ev.source),
                of_budget_effective(p->budget), of_budget_limit(p->budget));
    if (!ours && job) {
        prod_rel *r = prod_find(p, ev.release_id);
        if (!r) {
            of_debug("event for an unknown release ignored type=%s release=%s job=%s",
                     of_event_type_name(ev.type), ev.release_id, ev.job_id);
        } else {
            observe_budget(p, r, &ev);
            of_gate_out out;
            memset(&out, 0, sizeof out);
            rc = of_gate_job_event(r->g, &ev, of_wall_ms(), &out);
            if (rc == OF_ERR_NOT_FOUND) {
                of_warn("event for an unknown job ignored type=%s release=%s job=%s",
                        of_event_type_name(ev.type), ev.release_id, ev.job_id);
                rc = OF_OK;
            } else if (!rc && out.ignored) {
                of_debug("event ignored (stale or duplicate) type=%s release=%s job=%s attempt=%d",
                         of_event_type_name(ev.type), ev.release_id, ev.job_id, ev.attempt);
            } else if (!rc) {
                if (ev.type == OF_EV_JOB_FAILED || ev.type == OF_EV_JOB_TIMED_OUT ||
                    ev.type == OF_EV_JOB_CANCELLED)
                    of_warn("%s release=%s stage=%d job=%s attempt=%d env=%s tenant=%s: %s",
                            of_event_type_name(ev.type), ev.release_id, ev.stage, ev.job_id,
                            ev.attempt, nz(ev.environment), ev.tenant ? ev.tenant : "-",
                            nz(ev.message));
                prod_metrics_job_event(p, r, &ev);
                rc = apply_out(p, r, &out);
            }
            of_gate_out_clear(&out);
        }
    }
    of_event_clear(&ev);
    if (!rc) rc = prod_budget_pump(p);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* poison */

of_err prod_on_poison(prod *p, const of_kafka_message *m)
{
    char why[ES];
    (void)snprintf(why, sizeof why, "what this message caused could not be written to Kafka: %s",
                   p->poison.reason);
    of_err rc = push_dlq(p, m, why);
    if (rc || strcmp(m->topic, p->t_requests) != 0 || !m->value) return rc;
    of_command cmd;
    char es[ES] = "";
    if (of_command_decode(m->value, m->value_len, &cmd, es, sizeof es) != OF_OK) return OF_OK;
    char rid[OF_UUID_STR_SIZE] = "";
    if (cmd.type == OF_CMD_SUBMIT) {
        /* Answer the submitter: the release id comes from the request when it parses. */
        of_errlist errs;
        of_errlist_init(&errs);
        of_request *req = NULL;
        const char *rj = cmd.request_json ? cmd.request_json : "";
        if (of_request_parse(rj, strlen(rj), &req, &errs) == OF_OK)
            of_uuid_release_id(req->space, req->release, rid);
        else
            (void)submit_release_id(&cmd, m, rid);
        of_errlist_clear(&errs);
        of_errlist_init(&errs);
        if (rid[0] && !prod_find(p, rid)) {
            rc = of_errlist_add(&errs, "%s", why);
            if (!rc) rc = reject(p, rid, req ? req->release : NULL, &cmd, &errs);
        }
        of_errlist_clear(&errs);
        of_request_free(req);
    } else {
        prod_rel *r = prod_find(p, cmd.release_id);
        rc = ignored(p, cmd.release_id, r ? rel_name(r) : NULL, &cmd, why);
    }
    of_command_clear(&cmd);
    return rc;
}
