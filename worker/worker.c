/* The worker daemon's loop and its Kafka side: consuming jobs, flow control (pause when full),
 * rebalances, producing events and DLQ messages (never dropped), and offsets (stored only after
 * a job's final event is delivered, contiguously). The Octopus side is worker/jobs.c.
 *
 * One thread runs everything. Each turn of the loop:
 *   1. of_kafka_consumer_poll (timeout 0), up to a batch of messages while there is room;
 *   2. start queued jobs while slots are free; pause/resume the consumer;
 *   3. with no job left and events undelivered, flushes them (WK_IDLE_FLUSH_MS);
 *      of_octo_poll_fd: sleeps (WK_LOOP_WAIT_MS at most) until Octopus I/O or the consumer's
 *      wake fd, so neither source waits out the other's timeout; Octopus callbacks run here;
 *   4. of_kafka_producer_poll(0): delivery reports run here and complete offsets;
 *   5. store newly committable offsets; produce again what failed; start a poll round if due.
 * Paused partitions are still polled, so however long a deployment takes, max.poll.interval.ms
 * is never exceeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "heap.h"
#include "log.h"
#include "msg.h"
#include "utf8.h"
#include "worker_int.h"

/* Longest a loop turn blocks in one poll: bounds the latency of the other event sources. */
#define WK_LOOP_WAIT_MS 20
/* Messages taken from the consumer per loop turn at most. */
#define WK_MAX_BATCH 500
/* A worker left with no job sends its undelivered events at once rather than after the
 * linger (linger.ms, 25 ms for a worker: fleet.h): a stage's last final event is usually such
 * an event, and the gate waits for it. Waits this long at most (for the broker's acknowledgement)
 * while idle; under load the worker is never idle and its events keep their batching. */
#define WK_IDLE_FLUSH_MS 5
/* The final flush, and how long the final commit waits out rebalances. Start-up calls use
 * OF_KAFKA_STARTUP_DEADLINE_MS (the Kafka module retries transient broker states within it). */
#define WK_FLUSH_MS        10000
#define WK_COMMIT_RETRY_MS 10000
/* Attempts for a message refused as too large although far below the budget (see
 * msg_permanent) before it counts as permanent. */
#define WK_SMALL_TOO_LARGE_TRIES 3
/* How often the heap's free pages are looked at, and how many free bytes make them worth
 * handing back: after a burst of jobs the transient blocks' pages would otherwise stay in the
 * RSS for as long as the jobs run (heap.h). */
#define WK_HEAP_TIDY_MS   10000
#define WK_HEAP_TIDY_FREE (8u << 20)

/* ---- the slot table and the backlog ---- */

void wk_table_add(of_worker *w, wk_job *j)
{
    /* the table never exceeds max_in_flight; a failure here is not recoverable */
    of_err rc = of_grow((void **)&w->active, &w->cap_active, w->n_active, sizeof *w->active);
    OF_ASSERT(rc == OF_OK);
    j->slot = w->n_active;
    j->in_slot = true;
    w->active[w->n_active++] = j;
    if (w->n_active > w->st.max_in_flight) w->st.max_in_flight = w->n_active;
}

void wk_table_remove(of_worker *w, wk_job *j)
{
    OF_ASSERT(j->in_slot && j->slot < w->n_active && w->active[j->slot] == j);
    wk_job *last = w->active[--w->n_active];
    w->active[j->slot] = last;
    last->slot = j->slot;
    j->in_slot = false;
}

/* The backlog keeps one list per jobs topic, and a freed slot goes to the latest stage first:
 * a stage whose gate just opened does not wait behind a backlog of an earlier stage (another
 * environment's, or the other tenants' lanes). Flow control (below) keeps the later stages'
 * topics fetched while the slots are full, so their jobs reach the backlog at all. */
static void backlog_push(of_worker *w, wk_job *j)
{
    size_t t = j->topic_idx;
    j->next = NULL;
    if (w->bl_tail[t])
        w->bl_tail[t]->next = j;
    else
        w->bl_head[t] = j;
    w->bl_tail[t] = j;
    w->n_backlog++;
}

/* The latest stage's list that holds a job, or n_jobs_topics when the backlog is empty. */
static size_t backlog_top(const of_worker *w)
{
    for (size_t t = w->n_jobs_topics; t-- > 0;)
        if (w->bl_head[t]) return t;
    return w->n_jobs_topics;
}

static wk_job *backlog_pop_from(of_worker *w, size_t t)
{
    wk_job *j = w->bl_head[t];
    if (!j) return NULL;
    w->bl_head[t] = j->next;
    if (!w->bl_head[t]) w->bl_tail[t] = NULL;
    j->next = NULL;
    w->n_backlog--;
    return j;
}

static wk_job *backlog_pop(of_worker *w)
{
    size_t t = backlog_top(w);
    return t < w->n_jobs_topics ? backlog_pop_from(w, t) : NULL;
}

/* ---- the hold (common/octopus/octo_hold.h, docs/reliability.md) ---- */

bool wk_held(const of_worker *w)
{
    return of_hold_held(&w->hold);
}

void wk_requeue(of_worker *w, wk_job *j, const char *why)
{
    if (j->in_slot) wk_table_remove(w, j);
    j->state = WK_QUEUED;
    size_t t = j->topic_idx;
    j->next = w->bl_head[t];
    w->bl_head[t] = j;
    if (!w->bl_tail[t]) w->bl_tail[t] = j;
    w->n_backlog++;
    w->st.requeued++;
    of_info("job held release=%s job=%s attempt=%d: %s; it starts again once Octopus answers",
            j->job.release_id, j->job.job_id, j->job.attempt, why);
}

/* The Octopus client's observer: every attempt feeds the hold, then monitoring. */
static void octo_attempt(void *opaque, const of_octo_attempt_info *info)
{
    of_worker *w = opaque;
    of_hold_attempt(&w->hold, info->status, of_now_ms());
    of_monitor_octo_attempt(w->mon, info);
}

static void on_probe(void *opaque, of_err err, const char *errstr)
{
    of_worker *w = opaque;
    if (w->closing) return;
    int64_t since = w->hold.held_since_ms;
    if (of_hold_probed(&w->hold, err == OF_OK, of_now_ms())) {
        of_info("octopus hold ended after %.1f s: the probe was answered; %zu held job(s) start "
                "again",
                (double)(of_now_ms() - since) / 1e3, w->n_backlog);
        of_monitor_octo_held(w->mon, false);
    } else if (err) {
        of_debug("octopus hold: probe failed: %s", errstr);
    }
}

/* Every loop turn: start a hold when the window says so, probe while held. */
static void hold_tick(of_worker *w, int64_t now)
{
    char es[512];
    if (of_hold_check(&w->hold, now)) {
        of_warn("octopus hold: %s; no new deployments until a probe is answered (every %lld ms), "
                "in-flight ones are still followed",
                of_hold_reason(&w->hold), (long long)w->hold.o.probe_interval_ms);
        w->st.holds++;
        of_monitor_octo_held(w->mon, true);
    }
    if (of_hold_probe_due(&w->hold, false, now) &&
        of_octo_probe_async(w->octo, on_probe, w, es, sizeof(es)) != OF_OK) {
        of_hold_probed(&w->hold, false, now);
        of_warn("octopus hold: probe not sent: %s", es);
    }
}

/* Drops queued and running jobs of one partition (all partitions when topic is NULL). */
static void drop_jobs(of_worker *w, const char *topic, int32_t partition)
{
    wk_job *j;
    for (size_t t = 0; t < w->n_jobs_topics; t++) {
        wk_job *keep = NULL, *keep_tail = NULL;
        size_t kept = 0;
        while ((j = backlog_pop_from(w, t))) {
            if (!topic || (j->partition == partition && strcmp(j->topic, topic) == 0)) {
                wk_job_drop(j);
                continue;
            }
            if (keep_tail)
                keep_tail->next = j;
            else
                keep = j;
            keep_tail = j;
            kept++;
        }
        w->bl_head[t] = keep;
        w->bl_tail[t] = keep_tail;
        w->n_backlog += kept;
    }
    for (size_t i = w->n_active; i-- > 0;) {
        j = w->active[i];
        if (topic && (j->partition != partition || strcmp(j->topic, topic) != 0)) continue;
        of_info("job dropped release=%s job=%s task=%s topic=%s partition=%d offset=%lld: "
                "partition no longer ours, the next owner adopts the deployment",
                j->job.release_id, j->job.job_id, j->task_id ? j->task_id : "-", j->topic,
                (int)j->partition, (long long)j->offset);
        wk_job_drop(j); /* swaps the last entry into i: we walk downwards */
    }
}

/* ---- producing (events, DLQ) ---- */

static void msg_free(wk_msg *m)
{
    free(m->key);
    free(m->value);
    for (size_t i = 0; i < m->nheaders; i++)
        free(m->hvalue[i]);
    free(m->src_topic);
    free(m);
}

static bool msg_header(wk_msg *m, const char *name, const char *value)
{
    OF_ASSERT(m->nheaders < WK_MAX_HEADERS);
    char *v = strdup(value);
    if (!v) return false;
    m->hname[m->nheaders] = name;
    m->hvalue[m->nheaders++] = v;
    return true;
}

static void retry_push(of_worker *w, wk_msg *m)
{
    m->retry_at_ms =
        of_now_ms() + of_backoff_ms(m->attempts > 0 ? m->attempts - 1 : 0, 200, 30000, &w->rnd);
    m->next = NULL;
    if (w->retry_tail)
        w->retry_tail->next = m;
    else
        w->retry = m;
    w->retry_tail = m;
    w->n_retry++;
    w->st.produce_retries++;
}

static void msg_permanent(of_worker *w, wk_msg *m, const char *why);

static void on_delivery(void *opaque, const of_kafka_delivery *d)
{
    wk_msg *m = opaque;
    of_worker *w = m->w;
    OF_ASSERT(w->n_outq > 0);
    w->n_outq--;
    if (d->err == OF_OK) {
        if (m->ev_type >= 0) of_monitor_event_produced(w->mon, (of_event_type)m->ev_type);
        of_series_inc(m->m_outcome);
        of_series_observe(m->m_duration, m->duration_s);
        if (m->queue_s >= 0) of_series_observe(m->m_queue, m->queue_s);
        /* The final event is in Kafka: now (and only now) the job's offset may count. A
         * partition revoked meanwhile answers NOT_FOUND: its next owner replays the job, which
         * adopts the deployment and reports the same event id again. */
        if (m->final &&
            of_offsets_done(w->offsets, m->src_topic, m->src_partition, m->src_offset) != OF_OK)
            of_debug("%s delivered after %s [%d] was revoked: offset %lld left to the next owner",
                     m->what, m->src_topic, (int)m->src_partition, (long long)m->src_offset);
        msg_free(m);
        return;
    }
    if (w->closing) {
        of_error("%s not delivered at shutdown (%s: %s); its job is replayed by the next owner",
                 m->what, d->errname, d->errstr);
        msg_free(m);
        return;
    }
    if (d->permanent) {
        char why[512];
        snprintf(why, sizeof(why), "%s: %s", d->errname, d->errstr);
        msg_permanent(w, m, why);
        return;
    }
    of_warn("%s not delivered (%s: %s)%s; producing it again", m->what, d->errname, d->errstr,
            d->persisted == OF_KAFKA_POSSIBLY_PERSISTED
                ? " (it may have been written: consumers dedupe by event id)"
                : "");
    retry_push(w, m);
}

static void msg_send(of_worker *w, wk_msg *m)
{
    char es[512];
    if (m->value_len + m->key_len > of_guard_budget(w->guard)) {
        snprintf(es, sizeof(es), "%zu bytes exceed the fleet's message budget of %zu bytes",
                 m->value_len + m->key_len, of_guard_budget(w->guard));
        m->attempts++; /* backs off like a produce that failed */
        msg_permanent(w, m, es);
        return;
    }
    of_kafka_header h[WK_MAX_HEADERS + 1];
    for (size_t i = 0; i < m->nheaders; i++) {
        h[i].name = m->hname[i];
        h[i].value = m->hvalue[i];
        h[i].value_len = strlen(m->hvalue[i]);
    }
    /* Events are what the producer believes: sign them (DLQ copies are evidence, not input). */
    char tag[OF_GUARD_TAG_SIZE] = "";
    size_t nh = m->nheaders;
    if (m->topic != w->dlq_topic)
        of_guard_sign(w->guard, m->topic, m->key, m->key_len, m->value, m->value_len, tag);
    if (tag[0]) h[nh++] = (of_kafka_header){OF_GUARD_AUTH_HEADER, tag, strlen(tag)};
    of_kafka_record rec = {
        .topic = m->topic,
        .partition = OF_KAFKA_PARTITION_ANY,
        .key = m->key,
        .key_len = m->key_len,
        .value = m->value,
        .value_len = m->value_len,
        .headers = nh ? h : NULL,
        .nheaders = nh,
    };
    m->attempts++;
    of_err rc = of_kafka_produce(w->prod, &rec, on_delivery, m, es, sizeof(es));
    if (rc && of_kafka_permanent(rc)) {
        msg_permanent(w, m, es);
        return;
    }
    if (rc) {
        of_warn("producing %s failed, retrying: %s", m->what, es);
        retry_push(w, m);
        return;
    }
    w->n_outq++;
    w->unflushed = true;
}

static void retry_due(of_worker *w, int64_t now)
{
    wk_msg *m = w->retry, *prev = NULL;
    while (m) {
        wk_msg *next = m->next;
        if (m->retry_at_ms > now) {
            prev = m;
            m = next;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            w->retry = next;
        if (w->retry_tail == m) w->retry_tail = prev;
        w->n_retry--;
        m->next = NULL;
        msg_send(w, m); /* may push it back on the list */
        m = next;
    }
}

static wk_msg *msg_new(of_worker *w, const char *topic)
{
    wk_msg *m = calloc(1, sizeof(*m));
    if (m) {
        m->w = w;
        m->topic = topic;
        m->ev_type = -1;
    }
    return m;
}

/* Resolves the series a delivered event counts in (no-op with metrics off). Looking a series
 * up allocates only the first time a label set is seen. */
static void msg_metrics(of_worker *w, wk_msg *m, const wk_job *j, of_event_type type, bool final)
{
    if (!w->mon) return;
    m->ev_type = (int)type;
    const char *outcome = final ? of_event_outcome(type) : NULL;
    if (!outcome) return;
    char stage[16];
    snprintf(stage, sizeof stage, "%d", j->job.stage);
    const char *v[3] = {stage, j->job.environment.name, outcome};
    m->m_outcome = of_metric_series(w->m_jobs, v);
    m->m_duration = of_metric_series1(w->m_duration, stage);
    m->duration_s = (double)(of_now_ms() - j->fetched_ms) / 1000.0;
    m->queue_s = -1;
    if (j->task_queued_ms > 0 && j->task_started_ms >= j->task_queued_ms) {
        m->m_queue = of_metric_series1(w->m_queue, stage);
        m->queue_s = (double)(j->task_started_ms - j->task_queued_ms) / 1000.0;
    }
}

/* Records the job message m stems from (topic, partition, offset); with final, delivering m
 * completes that job. */
static bool msg_source(wk_msg *m, const char *topic, int32_t partition, int64_t offset, bool final)
{
    m->src_topic = strdup(topic);
    if (!m->src_topic) return false;
    m->final = final;
    m->src_partition = partition;
    m->src_offset = offset;
    return true;
}

/* The DLQ headers: why, where the input came from, and for a cut copy the input's size and
 * SHA-256. Replaces m's headers. */
static bool dlq_headers(wk_msg *m, const char *reason, const char *topic, int32_t partition,
                        int64_t offset, const void *whole, size_t whole_len)
{
    for (size_t i = 0; i < m->nheaders; i++)
        free(m->hvalue[i]);
    m->nheaders = 0;
    char part[16], off[24], size[24], why[OF_GUARD_REASON_MAX + 1];
    snprintf(part, sizeof(part), "%d", (int)partition);
    snprintf(off, sizeof(off), "%lld", (long long)offset);
    snprintf(why, of_utf8_prefix(reason, OF_GUARD_REASON_MAX) + 1, "%s", reason);
    bool ok = msg_header(m, "octofleet-error", why) &&
              msg_header(m, "octofleet-source-topic", topic) &&
              msg_header(m, "octofleet-source-partition", part) &&
              msg_header(m, "octofleet-source-offset", off);
    if (ok && whole_len > m->value_len) {
        char sha[OF_SHA256_HEX_SIZE];
        of_sha256_hex(whole, whole_len, sha);
        snprintf(size, sizeof(size), "%zu", whole_len);
        ok = msg_header(m, OF_DLQ_HDR_ORIGINAL_SIZE, size) &&
             msg_header(m, OF_DLQ_HDR_ORIGINAL_SHA256, sha);
    }
    return ok;
}

/* A message that can never be written (too large, not authorized). An event becomes a DLQ
 * copy, cut to fit, naming the job it reports on, and completes that job when delivered like
 * the event would have: the partition moves on and the DLQ holds the evidence. A DLQ copy
 * that still fails (the DLQ topic refuses us) is retried with backoff: losing it would lose
 * the input. */
static void msg_permanent(of_worker *w, wk_msg *m, const char *why)
{
    if (m->value_len + m->key_len <= of_guard_budget(w->guard) / 2 &&
        m->attempts < WK_SMALL_TOO_LARGE_TRIES) {
        /* Far below the budget: the broker refused the batch it travelled in (a topic whose
         * max.message.bytes is below our message.max.bytes), not this message. */
        of_warn("%s refused (%s) at %zu bytes, far below the budget; producing it again", m->what,
                why, m->value_len);
        retry_push(w, m);
        return;
    }
    if (m->topic == w->dlq_topic || !m->src_topic) {
        of_monitor_delivery_failed(w->mon, m->topic == w->dlq_topic ? "dlq" : "events");
        of_error("%s can never be written (%s); retrying with backoff: check the ACLs and "
                 "max.message.bytes of %s",
                 m->what, why, m->topic);
        retry_push(w, m);
        return;
    }
    char reason[640];
    snprintf(reason, sizeof(reason), "%s could not be produced to %s: %s", m->what, m->topic, why);
    of_error("%s; its bytes go to the dlq", reason);
    w->st.dlq++;
    of_monitor_delivery_failed(w->mon, "events");
    of_monitor_dlq(w->mon, "events");
    m->ev_type = -1; /* the copy is no event, nor the job's outcome */
    m->m_outcome = m->m_duration = m->m_queue = NULL;
    size_t whole = m->value_len;
    m->value_len = of_guard_dlq_keep(w->guard, m->key_len, whole); /* the buffer keeps all */
    bool ok =
        dlq_headers(m, reason, m->src_topic, m->src_partition, m->src_offset, m->value, whole);
    m->topic = w->dlq_topic;
    snprintf(m->what, sizeof(m->what), "dlq copy of an undeliverable event");
    if (!ok) {
        of_error("cannot build the dlq copy: out of memory; the job is replayed after a restart");
        msg_free(m);
        return;
    }
    msg_send(w, m);
}

void wk_emit(of_worker *w, const wk_job *j, of_event_type type, const char *message, bool final)
{
    wk_emit_as(w, j, type, message, final, NULL, NULL);
}

void wk_emit_as(of_worker *w, const wk_job *j, of_event_type type, const char *message, bool final,
                const char *interruption_id, const char *by)
{
    char msg[1024];
    of_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.interruption_id = (char *)(uintptr_t)interruption_id; /* borrowed: never freed here */
    ev.by = (char *)(uintptr_t)by;
    ev.source = w->source;
    ev.time_ms = of_wall_ms();
    of_id_copy(ev.release_id, j->job.release_id);
    ev.release_name = j->job.release_name;
    ev.stage = j->job.stage;
    ev.stage_count = j->job.stage_count;
    ev.stage_name = j->job.stage_name;
    ev.environment = j->job.environment.name;
    of_id_copy(ev.job_id, j->job.job_id);
    ev.attempt = j->job.attempt;
    ev.project = j->job.project.name;
    ev.tenant = j->job.tenant.name;
    ev.deployment_id = j->deployment_id;
    ev.task_id = j->task_id;
    ev.web_link = j->web_link;
    ev.octopus_throttled = j->throttled && (type == OF_EV_JOB_STARTED || type == OF_EV_JOB_FAILED);
    if (final) {
        ev.task_queued_ms = j->task_queued_ms;
        ev.task_started_ms = j->task_started_ms;
        ev.task_completed_ms = j->task_completed_ms;
    }
    if (message) {
        snprintf(msg, of_utf8_prefix(message, sizeof(msg) - 1) + 1, "%s", message);
        of_utf8_scrub(msg); /* an event that cannot be encoded would leave the job unfinished */
        ev.message = msg;
    }
    char *json = NULL;
    of_err rc = of_event_encode(&ev, &json);
    wk_msg *m = rc ? NULL : msg_new(w, w->events_topic);
    bool ok = m != NULL;
    if (ok) {
        m->value = json;
        m->value_len = strlen(json);
        json = NULL;
        m->key = strdup(j->job.release_id);
        m->key_len = strlen(j->job.release_id);
        snprintf(m->what, sizeof(m->what), "%s job=%s", of_event_type_name(type), j->job.job_id);
        ok = m->key && msg_header(m, "content-type", OF_CE_CONTENT_TYPE) &&
             msg_source(m, j->topic, j->partition, j->offset, final);
    }
    if (ok) msg_metrics(w, m, j, type, final);
    if (!ok) {
        /* Only memory exhaustion gets here. Without its final event the job's offset stays
         * unfinished, so the job is replayed (and adopts its deployment) after a restart. */
        of_error("cannot produce %s for job=%s: %s", of_event_type_name(type), j->job.job_id,
                 rc ? of_strerror(rc) : "out of memory");
        free(json);
        if (m) msg_free(m);
        return;
    }
    msg_send(w, m);
}

/* The original bytes to <prefix>dlq with the reason, cut to the budget if need be; the
 * offset is done once it is delivered. */
static void send_dlq(of_worker *w, const of_kafka_message *km, const char *reason)
{
    of_warn("malformed job to dlq topic=%s partition=%d offset=%lld bytes=%zu reason=%s", km->topic,
            (int)km->partition, (long long)km->offset, km->value_len, reason);
    w->st.dlq++;
    of_monitor_dlq(w->mon, "jobs");
    wk_msg *m = msg_new(w, w->dlq_topic);
    bool ok = m != NULL;
    size_t key_len = km->key_len < OF_NAME_MAX ? km->key_len : OF_NAME_MAX;
    if (ok && km->key && key_len) {
        m->key = malloc(key_len);
        ok = m->key != NULL;
        if (ok) memcpy(m->key, km->key, key_len);
        m->key_len = key_len;
    }
    size_t keep = km->value ? of_guard_dlq_keep(w->guard, m ? m->key_len : 0, km->value_len) : 0;
    if (ok && keep) {
        m->value = malloc(keep);
        ok = m->value != NULL;
        if (ok) memcpy(m->value, km->value, keep);
        m->value_len = keep;
    }
    if (ok) {
        snprintf(m->what, sizeof(m->what), "dlq message from %.40s [%d] @%lld", km->topic,
                 (int)km->partition, (long long)km->offset);
        ok = dlq_headers(m, reason, km->topic, km->partition, km->offset, km->value,
                         km->value_len) &&
             msg_source(m, km->topic, km->partition, km->offset, true);
    }
    if (!ok) {
        of_error("cannot produce the dlq message for %s [%d] @%lld: out of memory", km->topic,
                 (int)km->partition, (long long)km->offset);
        if (m) msg_free(m);
        return;
    }
    msg_send(w, m);
}

/* ---- consuming ---- */

static void handle_message(of_worker *w, const of_kafka_message *km)
{
    char es[512];
    if (w->draining) {
        /* Arrived between the stop and the pause taking effect, or while the final commit
         * waits out a rebalance: not ours to start, nor to count; the next owner takes it. */
        return;
    }
    w->st.messages++;
    of_err rc = of_offsets_begin(w->offsets, km->topic, km->partition, km->offset);
    if (rc)
        of_warn("offset tracker refused topic=%s partition=%d offset=%lld (%s); processing the "
                "job anyway",
                km->topic, (int)km->partition, (long long)km->offset, of_strerror(rc));
    if (!km->value || km->value_len == 0) {
        send_dlq(w, km, "empty message (no value)");
        return;
    }
    const void *tag = NULL;
    size_t tag_len = 0;
    if (!of_kafka_message_header(km, OF_GUARD_AUTH_HEADER, &tag, &tag_len)) tag = NULL;
    if (of_guard_verify(w->guard, km->topic, km->key, km->key_len, km->value, km->value_len, tag,
                        tag_len, es, sizeof(es)) != OF_OK) {
        /* A job nobody in the fleet signed never reaches Octopus. */
        send_dlq(w, km, es);
        return;
    }
    of_job job;
    memset(&job, 0, sizeof(job));
    rc = of_job_decode(km->value, km->value_len, &job, es, sizeof(es));
    if (rc) {
        of_job_clear(&job);
        send_dlq(w, km, es);
        return;
    }
    wk_job *j = wk_job_new(w, &job, km->topic, km->partition, km->offset);
    for (size_t t = 0; j && t < w->n_jobs_topics; t++)
        if (strcmp(km->topic, w->jobs_topics[t]) == 0) j->topic_idx = t;
    if (!j) {
        of_error("out of memory taking job at %s [%d] @%lld; it is replayed later", km->topic,
                 (int)km->partition, (long long)km->offset);
        of_job_clear(&job);
        return;
    }
    of_debug("job received release=%s stage=%d job=%s attempt=%d topic=%s partition=%d offset=%lld",
             j->job.release_id, j->job.stage, j->job.job_id, j->job.attempt, j->topic,
             (int)j->partition, (long long)j->offset);
    backlog_push(w, j);
}

static void store_cb(void *opaque, const char *topic, int32_t partition, int64_t offset)
{
    of_worker *w = opaque;
    char es[512];
    of_err rc = of_kafka_store_offset(w->cons, topic, partition, offset, es, sizeof(es));
    /* OF_ERR_STATE: revoked meanwhile; its next owner decides. Anything else is worth a line. */
    if (rc && rc != OF_ERR_STATE) of_warn("%s", es);
}

static void on_rebalance(void *opaque, of_kafka_rebalance what, const of_kafka_partition *parts,
                         size_t n)
{
    of_worker *w = opaque;
    w->rebalances++;
    of_monitor_rebalance(w->mon, what, n);
    for (size_t i = 0; i < n; i++) {
        const char *topic = parts[i].topic;
        int32_t p = parts[i].partition;
        if (what == OF_KAFKA_ASSIGNED) {
            of_debug("assigned topic=%s partition=%d", topic, (int)p);
            continue;
        }
        int64_t off;
        /* Revoked partitions are still ours during the callback: store what is committable
         * (librdkafka commits it on unassign). Lost ones may have a new owner already. */
        if (what == OF_KAFKA_REVOKED && of_offsets_committable(w->offsets, topic, p, &off))
            store_cb(w, topic, p, off);
        of_offsets_revoke(w->offsets, topic, p);
        drop_jobs(w, topic, p);
        of_info("%s topic=%s partition=%d", what == OF_KAFKA_REVOKED ? "revoked" : "lost", topic,
                (int)p);
    }
}

/* Flow control, per jobs topic. Below the limit (table plus backlog under max_in_flight)
 * every topic is fetched. At the limit a topic is paused when the backlog already holds a job
 * of its stage or a later one, and fetched otherwise: a later stage's job still reaches the
 * backlog and takes the next free slot, and each topic adds at most one job beyond the limit
 * (the loop reads one message per turn once full). Everything is paused while draining. */
static void flow_control(of_worker *w)
{
    char es[512];
    bool full = w->n_active + w->n_backlog >= w->max_in_flight;
    size_t top = backlog_top(w); /* n_jobs_topics: empty */
    bool any = false;
    for (size_t t = 0; t < w->n_jobs_topics; t++) {
        bool want = w->draining || (full && top < w->n_jobs_topics && top >= t);
        any |= want;
        if (want == w->topic_paused[t]) continue;
        if (of_kafka_consumer_pause_topic(w->cons, w->jobs_topics[t], want, es, sizeof(es))) {
            of_warn("%s", es);
            continue;
        }
        w->topic_paused[t] = want;
        of_debug("consumer %s topic=%s in_flight=%zu queued=%zu", want ? "paused" : "resumed",
                 w->jobs_topics[t], w->n_active, w->n_backlog);
    }
    if (any && !w->paused && !w->draining) w->st.pauses++;
    w->paused = any;
}

static void start_jobs(of_worker *w)
{
    while (!w->draining && !wk_held(w) && w->n_backlog && w->n_active < w->max_in_flight)
        wk_job_start(backlog_pop(w));
}

/* ---- setup and teardown ---- */

static void on_lag(void *opaque, const of_kafka_lag *lags, size_t n)
{
    of_worker *w = opaque;
    of_monitor_kafka_lag(w->mon, lags, n);
}

/* The worker's own metrics (docs/monitoring.md); the shared ones are the monitor's. */
static void declare_metrics(of_worker *w)
{
    static const char *const l_jobs[] = {"stage", "environment", "outcome"};
    static const char *const l_stage[] = {"stage"};
    of_metrics *r = of_monitor_metrics(w->mon);
    w->m_jobs =
        of_metrics_counter(r, "octofleet_worker_jobs_total",
                           "Final job outcomes this worker reported (delivered).", l_jobs, 3);
    w->m_in_flight = of_metric_series0(of_metrics_gauge(
        r, "octofleet_worker_jobs_in_flight", "Jobs held: fetched, not yet final.", NULL, 0));
    w->m_duration = of_metrics_histogram(r, "octofleet_worker_job_duration_seconds",
                                         "Job fetched from Kafka to its final event.", l_stage, 1,
                                         of_metrics_default_buckets, of_metrics_default_nbuckets);
    w->m_queue =
        of_metrics_histogram(r, "octofleet_worker_job_queue_seconds",
                             "Octopus task queued to task started (time in Octopus's "
                             "queue), from the task times the final event carries.",
                             l_stage, 1, of_metrics_default_buckets, of_metrics_default_nbuckets);
}

static of_err setup(of_worker *w, const of_worker_opts *opts, char *errstr, size_t errstr_size)
{
    const of_config *cfg = opts->cfg;
    of_err rc;
    char es[512];

    if (opts->name && *opts->name)
        snprintf(w->name, sizeof(w->name), "%s", opts->name);
    else if ((rc = of_config_worker_name(cfg, w->name, sizeof(w->name))))
        return of_seterr(errstr, errstr_size, rc, "worker name: %s", of_strerror(rc));
    snprintf(w->source, sizeof(w->source), "%s%s", OF_SOURCE_WORKER_PFX, w->name);
    of_log_set_component(w->name);

    if (cfg->worker.max_in_flight < 1 || cfg->worker.poll_interval_ms < 1 ||
        cfg->topics.max_stages < 1)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "worker.max_in_flight, worker.poll_interval and topics.max_stages must "
                         "be positive");
    w->max_in_flight = (size_t)cfg->worker.max_in_flight;
    w->poll_interval_ms = cfg->worker.poll_interval_ms;
    w->use_feed = cfg->worker.completion_source == OF_COMPLETION_EVENTS;
    w->check_interval_ms = w->use_feed ? cfg->worker.task_check_interval_ms : w->poll_interval_ms;
    if (w->check_interval_ms < 1) w->check_interval_ms = w->poll_interval_ms;
    w->feed_filter_max = (size_t)cfg->worker.feed_filter_max;
    w->busy_interval_ms = cfg->worker.feed_busy_interval_ms;
    if (w->busy_interval_ms <= 0 || w->busy_interval_ms > w->poll_interval_ms)
        w->busy_interval_ms = w->poll_interval_ms;
    /* With the feed the first full round waits its interval: the feed covers the start. */
    w->next_check_ms = w->use_feed ? of_now_ms() + w->check_interval_ms : 0;
    w->lookup_chunk = cfg->octopus.task_poll_chunk > 0 ? (size_t)cfg->octopus.task_poll_chunk
                                                       : OF_OCTO_DEFAULT_TASK_CHUNK;
    if (w->lookup_chunk > OF_OCTO_MAX_LOOKUP_JOBS) w->lookup_chunk = OF_OCTO_MAX_LOOKUP_JOBS;
    if ((rc = of_config_topic(cfg, "events", w->events_topic, sizeof(w->events_topic))) ||
        (rc = of_config_topic(cfg, "dlq", w->dlq_topic, sizeof(w->dlq_topic))))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "topic names: %s", of_strerror(rc));
    w->n_jobs_topics = (size_t)cfg->topics.max_stages;
    w->jobs_topics = calloc(w->n_jobs_topics, sizeof(*w->jobs_topics));
    w->bl_head = calloc(w->n_jobs_topics, sizeof(*w->bl_head));
    w->bl_tail = calloc(w->n_jobs_topics, sizeof(*w->bl_tail));
    w->topic_paused = calloc(w->n_jobs_topics, sizeof(*w->topic_paused));
    if (!w->jobs_topics || !w->bl_head || !w->bl_tail || !w->topic_paused)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < w->n_jobs_topics; s++)
        if ((rc = of_config_jobs_topic(cfg, (int)s + 1, w->jobs_topics[s],
                                       sizeof(w->jobs_topics[s]))))
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "topic names: %s",
                             of_strerror(rc));

    /* Kafka settings: the fleet's, with the worker consumer's defaults first so that
     * kafka.properties can override them (max.poll.interval.ms excepted: the config rejects it
     * there, worker.max_poll_interval owns it). A name given by the operator (worker.name,
     * --name, or the embedding's opts->name) is stable across restarts and becomes the static
     * group.instance.id; the <hostname>-<pid> default is not, and a static member that never
     * comes back would hold its partitions for session.timeout.ms at every restart. */
    if ((rc = of_fleet_kafka_init(&w->fk, cfg, opts->mock, NULL)))
        return of_seterr(errstr, errstr_size, rc, "kafka settings: %s", of_strerror(rc));
    bool stable_name = (opts->name && *opts->name) || (cfg->worker.name && *cfg->worker.name);
    of_kafka_prop defs[OF_FLEET_WORKER_PROPS];
    snprintf(w->max_poll, sizeof(w->max_poll), "%lld", (long long)cfg->worker.max_poll_interval_ms);
    size_t nd = of_fleet_worker_consumer_props(w->max_poll, stable_name ? w->name : NULL, defs);
    if (of_fleet_props_before(&w->fk.kc, defs, nd, &w->cprops, &w->ckc))
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    of_kafka_prop pdefs[OF_FLEET_WORKER_PRODUCER_PROPS];
    nd = of_fleet_worker_producer_props(pdefs);
    if (of_fleet_props_before(&w->fk.kc, pdefs, nd, &w->pprops, &w->pkc))
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    const char *inst = of_config_kafka_property(cfg, "group.instance.id");
    if (!inst && stable_name) inst = w->name;
    if (inst)
        of_info("static group membership group.instance.id=%s: names must be unique in the group "
                "and stable across restarts",
                inst);
    else
        of_info("dynamic group membership: the worker name %s changes at every restart (set "
                "worker.name or --name to a stable, unique name for static membership)",
                w->name);

    /* The endpoints before anything slow: a port in use fails the start at once. */
    if ((rc = of_monitor_start(cfg->worker.metrics_listen, "worker", &w->mon, errstr, errstr_size)))
        return rc;
    declare_metrics(w);

    /* Octopus first: a wrong URL or key is the commonest start-up mistake. */
    of_octo_opts oo;
    of_fleet_octo_opts(cfg, opts->api_key, &oo);
    of_hold_opts ho;
    of_fleet_hold_opts(cfg, &ho);
    of_hold_init(&w->hold, &ho);
    oo.observer = octo_attempt;
    oo.observer_opaque = w;
    if ((rc = of_octo_new(&oo, &w->octo, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc, "octopus client: %s", es);
    if ((rc = of_octo_connect(w->octo, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc == OF_ERR_CONFIG ? OF_ERR_CONFIG : rc,
                         "octopus %s: %s", cfg->octopus.url, es);

    if (cfg->topics.create &&
        (rc = of_fleet_ensure_topics(cfg, &w->fk.kc, OF_KAFKA_STARTUP_DEADLINE_MS, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc, "kafka topics: %s", es);
    if ((rc = of_kafka_producer_new(&w->pkc, NULL, &w->prod, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc, "kafka producer: %s", es);
    /* Looked up now, not when the first job's event waits for it (kafka.h). */
    const char *written[] = {w->events_topic, w->dlq_topic};
    if (of_kafka_producer_warm(w->prod, written, 2, OF_KAFKA_WARM_TIMEOUT_MS, es, sizeof es))
        of_warn("%s; looked up on the first event instead", es);
    of_kafka_consumer_opts co = {
        .group_id = cfg->worker.group_id,
        .assignor = cfg->worker.assignment == OF_ASSIGN_ROUNDROBIN ? "roundrobin" : NULL,
        .on_rebalance = on_rebalance,
        .opaque = w,
        .manual_commit = false,
        .stats_interval_ms = w->mon ? OF_MONITOR_STATS_INTERVAL_MS : 0,
        .on_lag = on_lag,
    };
    if ((rc = of_kafka_consumer_new(&w->ckc, &co, &w->cons, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc, "kafka consumer: %s", es);
    /* Reaching the group coordinator proves the cluster is usable now, not at the first job.
     * A coordinator that is loading or moving (a broker restarting) is retried within the
     * start-up deadline by the Kafka module; only what outlasts it fails the start. */
    of_kafka_offset probe = {w->jobs_topics[0], 0, OF_KAFKA_OFFSET_NONE};
    if ((rc = of_kafka_committed(w->cons, &probe, 1, OF_KAFKA_STARTUP_DEADLINE_MS, es, sizeof(es))))
        return of_seterr(errstr, errstr_size, rc, "kafka: cannot reach the group coordinator: %s",
                         es);
    const char **names = calloc(w->n_jobs_topics, sizeof(*names));
    if (!names) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < w->n_jobs_topics; s++)
        names[s] = w->jobs_topics[s];
    rc = of_kafka_subscribe(w->cons, names, w->n_jobs_topics, es, sizeof(es));
    free(names);
    if (rc) return of_seterr(errstr, errstr_size, rc, "kafka subscribe: %s", es);
    /* A job that arrives while Octopus calls are outstanding starts at once, not after the
     * loop's timeout (the fallback takes turns between the two, 20 ms at most each). */
    w->wake_fd = of_kafka_consumer_wake_fd(w->cons, es, sizeof(es));
    if (w->wake_fd < 0) of_warn("%s; jobs are noticed within %d ms instead", es, WK_LOOP_WAIT_MS);
    w->offsets = of_offsets_new();
    if (!w->offsets) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");

    char desc[512];
    of_info("worker started name=%s group=%s topics=%s..%s max_in_flight=%zu poll_interval_ms=%lld "
            "completion_source=%s task_check_interval_ms=%lld octopus=\"%s\"",
            w->name, cfg->worker.group_id, w->jobs_topics[0], w->jobs_topics[w->n_jobs_topics - 1],
            w->max_in_flight, (long long)w->poll_interval_ms, w->use_feed ? "events" : "poll",
            (long long)w->check_interval_ms, of_octo_describe(w->octo, desc, sizeof(desc)));
    return OF_OK;
}

/* Commits the stored offsets before leaving the group. A commit fails while the group
 * rebalances (another worker leaving at the same time is the usual cause); polling lets the
 * consumer rejoin with the new generation, after which the commit goes through. Giving up only
 * costs replays of finished jobs (which adopt and re-report), never a lost job. */
static void commit_final(of_worker *w)
{
    char es[512];
    int64_t deadline = of_now_ms() + WK_COMMIT_RETRY_MS;
    int tries = 0;
    /* A fenced or otherwise dead consumer cannot commit: nothing to wait for. */
    if (of_kafka_consumer_fatal(w->cons, es, sizeof(es))) {
        of_warn("final commit skipped: %s", es);
        return;
    }
    for (;;) {
        of_err rc = of_kafka_commit(w->cons, es, sizeof(es));
        tries++;
        if (!rc) {
            if (tries > 1) of_info("offsets committed after %d attempts", tries);
            return;
        }
        if (of_now_ms() >= deadline) {
            of_warn("%s (gave up after %d attempts; finished jobs past the last commit will be "
                    "replayed and adopted)",
                    es, tries);
            return;
        }
        of_debug("%s; polling until the rebalance is through, then committing again", es);
        /* No commit while the group rebalances: a blocking commit would keep us from serving
         * the rebalance, and a member that does not rejoin in time loses its partitions. */
        uint64_t seen = w->rebalances;
        for (int64_t until = of_now_ms() + 3000; of_now_ms() < until && w->rebalances == seen;) {
            of_kafka_message *km = NULL;
            rc = of_kafka_consumer_poll(w->cons, 50, &km, es, sizeof(es));
            if (km) {
                handle_message(w, km); /* draining: ignored */
                of_kafka_message_free(km);
            }
            if (rc == OF_ERR_STATE || rc == OF_ERR_CONFIG) return;
        }
        of_offsets_take_all(w->offsets, store_cb, w);
    }
}

static void teardown(of_worker *w)
{
    char es[512];
    if (w->cons && w->prod && w->n_outq > 0 &&
        of_kafka_flush(w->prod, WK_FLUSH_MS, es, sizeof(es)) != OF_OK)
        of_warn("final events not all delivered: %s", es);
    if (w->cons) {
        if (w->offsets) of_offsets_take_all(w->offsets, store_cb, w);
        commit_final(w);
        /* Closing revokes locally (the callback stores what is committable and drops the
         * rest). A dynamic member also leaves the group, handing its unfinished jobs to the
         * other workers at once. A static member does not leave (KIP-345; librdkafka 2.0.2
         * cannot force it): its partitions wait for it to restart under the same name, which
         * then costs no rebalance, or move after session.timeout.ms if it does not come back.
         * Only the queued jobs wait: the drain finished or gave up on the running ones. */
        if (of_kafka_consumer_close(w->cons, es, sizeof(es)) != OF_OK) of_warn("%s", es);
    }
    drop_jobs(w, NULL, 0);
    w->closing = true;
    if (w->octo) {
        of_octo_stats os;
        of_octo_get_stats(w->octo, &os);
        w->st.octo_requests = os.requests;
        of_octo_destroy(w->octo); /* outstanding callbacks run and release their jobs */
        w->octo = NULL;
    }
    for (size_t i = 0; i < w->n_finding; i++) /* look-ups never sent */
        wk_job_unref(w->finding[i]);
    free(w->finding);
    w->finding = NULL;
    w->n_finding = 0;
    wk_feeds_free(w);
    if (w->prod) {
        if (w->n_outq > 0 && of_kafka_flush(w->prod, WK_FLUSH_MS, es, sizeof(es)) != OF_OK)
            of_warn("%s", es);
        of_kafka_producer_destroy(w->prod); /* purged messages' callbacks free them */
        w->prod = NULL;
    }
    if (w->n_retry) of_error("%zu event(s) could not be produced before shutdown", w->n_retry);
    while (w->retry) {
        wk_msg *m = w->retry;
        w->retry = m->next;
        msg_free(m);
    }
    w->retry_tail = NULL;
    of_kafka_consumer_destroy(w->cons);
    w->cons = NULL;
    of_offsets_free(w->offsets);
    w->offsets = NULL;
    free(w->active);
    free(w->jobs_topics);
    free(w->bl_head);
    free(w->bl_tail);
    free(w->topic_paused);
    free(w->cprops);
    free(w->pprops);
    of_fleet_kafka_clear(&w->fk);
}

/* ---- the loop ---- */

/* Before the loop sleeps with nothing in hand: what it produced goes now (WK_IDLE_FLUSH_MS).
 * Events sent while jobs are in flight are left to linger.ms, which batches them. */
static void idle_flush(of_worker *w)
{
    if (!w->unflushed || w->n_active || w->n_backlog || w->n_outq == 0) return;
    w->unflushed = false;
    char es[256];
    of_err rc = of_kafka_flush(w->prod, WK_IDLE_FLUSH_MS, es, sizeof es);
    if (rc && rc != OF_ERR_TIMEOUT) of_debug("idle flush: %s", es); /* delivery reports tell */
}

static of_err run_loop(of_worker *w, char *errstr, size_t errstr_size)
{
    int64_t drain_deadline = 0;
    char es[512];
    for (;;) {
        int64_t now = of_now_ms();
        of_monitor_loop(w->mon);
        size_t held = w->n_active + w->n_backlog;
        if (held != w->m_in_flight_last) {
            w->m_in_flight_last = held;
            of_series_set(w->m_in_flight, (double)held);
        }
        if (!w->draining && of_stop_requested(w->stop)) {
            w->draining = true;
            drain_deadline = now + w->cfg->worker.drain_timeout_ms;
            of_info("stopping: draining %zu in-flight job(s) (timeout %lld ms), %zu queued job(s) "
                    "left to the next owner",
                    w->n_active, (long long)w->cfg->worker.drain_timeout_ms, w->n_backlog);
            wk_job *j;
            while ((j = backlog_pop(w)))
                wk_job_drop(j);
            flow_control(w);
        }
        if (w->draining) {
            if (w->n_active == 0 && w->n_outq == 0 && w->n_retry == 0) {
                of_info("drained: every in-flight job finished and its event is delivered");
                return OF_OK;
            }
            if (now >= drain_deadline) {
                of_warn("drain timeout: %zu job(s) still in flight are left to the next owner "
                        "(their deployments are adopted)",
                        w->n_active);
                return OF_OK;
            }
        }

        /* With the wake fd the loop sleeps in one place, on Octopus's sockets and the consumer
         * at once; without it, in whichever of the two has something outstanding. */
        bool octo_busy = of_octo_outstanding(w->octo) > 0;
        bool more = false; /* messages left behind by a full batch: no sleeping this turn */
        if (w->wake_fd >= 0) of_kafka_consumer_wake_clear(w->cons);
        for (int k = 0; k < WK_MAX_BATCH; k++) {
            of_kafka_message *km = NULL;
            int wait = k == 0 && !octo_busy && w->wake_fd < 0 ? WK_LOOP_WAIT_MS : 0;
            of_err rc = of_kafka_consumer_poll(w->cons, wait, &km, es, sizeof(es));
            /* OF_ERR_CONFIG: fenced by a worker with the same name; restarting would fence it
             * in turn, so this ends the worker as a configuration error (exit 3). */
            if (rc == OF_ERR_CONFIG)
                return of_seterr(errstr, errstr_size, rc,
                                 "another worker uses the name %s (worker names must be unique "
                                 "in the group): %s",
                                 w->name, es);
            if (rc == OF_ERR_STATE) return of_seterr(errstr, errstr_size, rc, "%s", es);
            if (rc) {
                of_warn("%s", es);
                break;
            }
            if (!km) break;
            handle_message(w, km);
            of_kafka_message_free(km);
            if (w->n_active + w->n_backlog >= w->max_in_flight) break;
            more = k == WK_MAX_BATCH - 1;
        }
        hold_tick(w, now);
        start_jobs(w);
        wk_lookup_flush(w);
        flow_control(w);
        idle_flush(w);

        of_err rc = w->wake_fd >= 0
                        ? of_octo_poll_fd(w->octo, more ? 0 : WK_LOOP_WAIT_MS, w->wake_fd)
                        : of_octo_poll(w->octo, octo_busy ? WK_LOOP_WAIT_MS : 0);
        if (rc)
            of_warn("octopus client: %s (the affected calls fail, the worker carries on)",
                    of_strerror(rc));
        of_kafka_producer_poll(w->prod, 0);
        of_offsets_take_all(w->offsets, store_cb, w);
        now = of_now_ms();
        retry_due(w, now);
        wk_poll_round(w, now);
        size_t heap_free = of_heap_tidy(now, &w->heap_next_ms, WK_HEAP_TIDY_MS, WK_HEAP_TIDY_FREE);
        if (heap_free)
            of_debug("heap: %zu KB of free blocks; their pages handed back", heap_free >> 10);
    }
}

of_err of_worker_run(const of_worker_opts *opts, char *errstr, size_t errstr_size)
{
    if (!opts || !opts->cfg)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "of_worker_run: no config");
    of_worker *w = calloc(1, sizeof(*w));
    if (!w) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    w->cfg = opts->cfg;
    w->wake_fd = -1;
    w->stop = opts->stop;
    w->rnd = (uint64_t)of_now_ms() | 1u;
    of_err rc = of_guard_new(opts->cfg, opts->fleet_key, &w->guard, errstr, errstr_size);
    if (!rc) rc = setup(w, opts, errstr, errstr_size);
    if (!rc)
        of_info("messages: budget %zu bytes, authentication %s", of_guard_budget(w->guard),
                of_guard_auth_on(w->guard) ? "on (HMAC-SHA256)" : "off");
    if (!rc) rc = run_loop(w, errstr, errstr_size);
    bool started = w->offsets != NULL;
    teardown(w);
    of_worker_stats *st = &w->st;
    if (started)
        of_info(
            "worker stopped: messages=%llu created=%llu adopted=%llu succeeded=%llu failed=%llu "
            "cancelled=%llu timed_out=%llu dlq=%llu dropped=%llu poll_rounds=%llu "
            "tasks_polled=%llu max_in_flight=%llu octopus_requests=%llu lookups=%llu "
            "feed_polls=%llu feed_filtered=%llu feed_events=%llu feed_errors=%llu "
            "events_matched=%llu net_rounds=%llu net_found=%llu holds=%llu requeued=%llu",
            (unsigned long long)st->messages, (unsigned long long)st->created,
            (unsigned long long)st->adopted, (unsigned long long)st->succeeded,
            (unsigned long long)st->failed, (unsigned long long)st->cancelled,
            (unsigned long long)st->timed_out, (unsigned long long)st->dlq,
            (unsigned long long)st->dropped, (unsigned long long)st->poll_rounds,
            (unsigned long long)st->tasks_polled, (unsigned long long)st->max_in_flight,
            (unsigned long long)st->octo_requests, (unsigned long long)st->lookups,
            (unsigned long long)st->feed_polls, (unsigned long long)st->feed_filtered,
            (unsigned long long)st->feed_events, (unsigned long long)st->feed_errors,
            (unsigned long long)st->events_matched, (unsigned long long)st->net_rounds,
            (unsigned long long)st->net_found, (unsigned long long)st->holds,
            (unsigned long long)st->requeued);
    if (opts->stats) *opts->stats = w->st;
    of_monitor_stop(w->mon); /* after the Octopus client and the consumer that report to it */
    of_guard_free(w->guard);
    free(w);
    return rc;
}
