/* The producer daemon: consume commands and job events, decide with the gates, write the
 * decisions and the consumed offsets in one transaction. See producer.h. */
#include "producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "producer_int.h"

/* A batch ends after this many messages or this long after its first message, whichever
 * comes first, or right after a message that needed Octopus (so a slow Octopus delays one
 * decision, not a growing pile). One transaction per batch. */
#define POLL_IDLE_MS 200

#define TXN_TIMEOUT_MS    30000
#define TXN_MAX_RETRIES   10
#define MAX_ABORTS_IN_ROW 5
#define TOPICS_TIMEOUT_MS 30000
#define ES                1024

/* ---------------------------------------------------------------------------------- */
/* the batch and its transaction */

static of_err note_offset(prod *p, const of_kafka_message *m)
{
    for (size_t i = 0; i < p->n_offs; i++)
        if (p->offs[i].partition == m->partition && strcmp(p->offs[i].topic, m->topic) == 0) {
            p->offs[i].next = m->offset + 1;
            return OF_OK;
        }
    if (of_grow((void **)&p->offs, &p->cap_offs, p->n_offs, sizeof *p->offs)) return OF_ERR_NOMEM;
    prod_off *o = &p->offs[p->n_offs];
    o->topic = strdup(m->topic);
    if (!o->topic) return OF_ERR_NOMEM;
    o->partition = m->partition;
    o->next = m->offset + 1;
    p->n_offs++;
    return OF_OK;
}

static void batch_reset(prod *p)
{
    prod_outs_clear(p);
    prod_clear_marks(p);
    for (size_t i = 0; i < p->n_offs; i++)
        free(p->offs[i].topic);
    p->n_offs = 0;
    p->batch_msgs = 0;
    p->n_mpend = 0; /* what a dropped batch would have counted */
}

/* Delivery reports of the transaction's messages: a permanent failure (too large, not
 * authorized) marks the transaction, so its abort leads to isolating the input. */
static void on_delivery(void *opaque, const of_kafka_delivery *d)
{
    prod *p = opaque;
    if (d->err != OF_OK && d->permanent)
        of_monitor_delivery_failed(p->mon, prod_topic_kind(p, d->topic));
    if (d->err == OF_OK || !d->permanent || p->delivery_permanent) return;
    p->delivery_permanent = true;
    (void)snprintf(p->delivery_error, sizeof p->delivery_error, "%s: %s (topic %s)", d->errname,
                   d->errstr, d->topic);
}

/* Produces the batch's messages. *permanent is set when one of them can never be written
 * (bigger than the budget, refused locally as too large or not authorized). */
static of_err produce_all(prod *p, bool *permanent, char *errstr, size_t errstr_size)
{
    static const char ce_name[] = "content-type";
    size_t budget = of_guard_budget(p->guard);
    for (size_t i = 0; i < p->n_outs; i++) {
        const prod_out *o = &p->outs[i];
        size_t key_len = o->key ? strlen(o->key) : 0;
        if (o->value_len + key_len > budget) {
            *permanent = true;
            return of_seterr(errstr, errstr_size, OF_ERR_TOO_LARGE,
                             "a %zu-byte message for %s exceeds the fleet's message budget of %zu "
                             "bytes",
                             o->value_len + key_len, o->topic, budget);
        }
        of_kafka_header h[8];
        size_t nh = 0;
        if (o->cloudevent) {
            h[nh].name = ce_name;
            h[nh].value = OF_CE_CONTENT_TYPE;
            h[nh++].value_len = strlen(OF_CE_CONTENT_TYPE);
        }
        if (o->dlq_error) {
            const char *names[6] = {
                "octofleet-error",         "octofleet-source-topic", "octofleet-source-partition",
                "octofleet-source-offset", OF_DLQ_HDR_ORIGINAL_SIZE, OF_DLQ_HDR_ORIGINAL_SHA256};
            const char *vals[6] = {o->dlq_error,  o->dlq_topic,     o->dlq_partition,
                                   o->dlq_offset, o->dlq_orig_size, o->dlq_orig_sha256};
            for (size_t k = 0; k < 6; k++) {
                if (!vals[k]) continue;
                h[nh].name = names[k];
                h[nh].value = vals[k];
                h[nh++].value_len = strlen(vals[k]);
            }
        }
        /* Jobs and events are what workers and this producer believe: sign them. */
        char tag[OF_GUARD_TAG_SIZE] = "";
        if (!o->dlq_error && o->topic != p->t_releases)
            of_guard_sign(p->guard, o->topic, o->key, key_len, o->value, o->value_len, tag);
        if (tag[0]) {
            h[nh].name = OF_GUARD_AUTH_HEADER;
            h[nh].value = tag;
            h[nh++].value_len = strlen(tag);
        }
        of_kafka_record rec;
        memset(&rec, 0, sizeof rec);
        rec.topic = o->topic;
        rec.partition = OF_KAFKA_PARTITION_ANY;
        rec.key = o->key;
        rec.key_len = key_len;
        rec.value = o->value;
        rec.value_len = o->value_len;
        rec.headers = nh ? h : NULL;
        rec.nheaders = nh;
        of_err rc = of_kafka_produce(p->kp, &rec, on_delivery, p, errstr, errstr_size);
        if (rc) {
            *permanent = of_kafka_permanent(rc);
            return rc;
        }
    }
    return OF_OK;
}

typedef enum txn_step { TS_BEGIN, TS_SEND_OFFSETS, TS_COMMIT } txn_step;

/* Runs one transaction step, retrying what librdkafka calls retriable. */
static of_err txn_call(prod *p, txn_step step, const of_kafka_offset *offs, size_t n_offs,
                       of_kafka_txn_action *action, char *errstr, size_t errstr_size)
{
    of_err rc = OF_OK;
    for (int attempt = 0; attempt <= TXN_MAX_RETRIES; attempt++) {
        *action = OF_KAFKA_TXN_NONE;
        switch (step) {
        case TS_BEGIN:
            rc = of_kafka_txn_begin(p->kp, action, errstr, errstr_size);
            break;
        case TS_SEND_OFFSETS:
            rc = of_kafka_txn_send_offsets(p->kp, p->kc, offs, n_offs, TXN_TIMEOUT_MS, action,
                                           errstr, errstr_size);
            break;
        case TS_COMMIT:
            rc = of_kafka_txn_commit(p->kp, -1, action, errstr, errstr_size);
            break;
        }
        if (rc == OF_OK || *action != OF_KAFKA_TXN_RETRY) return rc;
        of_warn("transaction step %d will be retried: %s", (int)step, errstr);
    }
    /* Still failing after the retries: give this transaction up. */
    *action = OF_KAFKA_TXN_ABORT;
    return rc;
}

/* Writes the batch: produced messages, state records and consumed offsets in one
 * transaction. Returns OF_OK, or with *aborted the transaction was aborted (the caller
 * rebuilds; *permanent when a message of it can never be written), or a fatal error. */
static of_err commit_batch(prod *p, bool *aborted, bool *permanent, char *errstr,
                           size_t errstr_size)
{
    *aborted = false;
    *permanent = false;
    p->delivery_permanent = false;
    of_err rc = prod_emit_state(p);
    if (rc) return rc;
    if (p->n_outs == 0 && p->n_offs == 0) return OF_OK;
    of_kafka_offset *offs = calloc(p->n_offs ? p->n_offs : 1, sizeof *offs);
    if (!offs) return OF_ERR_NOMEM;
    for (size_t i = 0; i < p->n_offs; i++) {
        offs[i].topic = p->offs[i].topic;
        offs[i].partition = p->offs[i].partition;
        offs[i].offset = p->offs[i].next;
    }
    of_kafka_txn_action action = OF_KAFKA_TXN_NONE;
    int64_t t0 = of_now_us(), t_prod = t0, t_offs = t0, t_end = t0;
    rc = txn_call(p, TS_BEGIN, NULL, 0, &action, errstr, errstr_size);
    if (!rc) {
        rc = produce_all(p, permanent, errstr, errstr_size);
        t_prod = t_offs = of_now_us();
        /* A message refused locally (queue full, too large): the transaction cannot be
         * completed as decided, so it is aborted and the input read again. */
        if (rc) action = OF_KAFKA_TXN_ABORT;
    }
    if (!rc && p->n_offs)
        rc = txn_call(p, TS_SEND_OFFSETS, offs, p->n_offs, &action, errstr, errstr_size);
    if (!rc) t_offs = of_now_us();
    if (!rc) rc = txn_call(p, TS_COMMIT, NULL, 0, &action, errstr, errstr_size);
    free(offs);
    if (!rc) {
        t_end = of_now_us();
        of_debug("batch committed messages=%zu produced=%zu produce_us=%lld offsets_us=%lld "
                 "commit_us=%lld",
                 p->batch_msgs, p->n_outs, (long long)(t_prod - t0), (long long)(t_offs - t_prod),
                 (long long)(t_end - t_offs));
        return OF_OK;
    }
    if (action == OF_KAFKA_TXN_FATAL || rc == OF_ERR_NOMEM) {
        char why[ES];
        (void)snprintf(why, sizeof why, "%s", errstr);
        return of_seterr(errstr, errstr_size, rc == OF_ERR_NOMEM ? rc : OF_ERR_STATE,
                         "transactional producer unusable (fenced by a newer producer with the "
                         "same transactional id?): %s",
                         why);
    }
    (void)of_kafka_producer_poll(p->kp, 0); /* delivery reports not yet served */
    if (p->delivery_permanent) {
        *permanent = true;
        (void)snprintf(errstr, errstr_size, "%s", p->delivery_error);
    }
    of_warn("transaction failed, aborting it: %s", errstr);
    char es[ES] = "";
    of_kafka_txn_action a2 = OF_KAFKA_TXN_NONE;
    of_err arc = of_kafka_txn_abort(p->kp, -1, &a2, es, sizeof es);
    if (arc && a2 == OF_KAFKA_TXN_FATAL)
        return of_seterr(errstr, errstr_size, OF_ERR_STATE, "transaction abort failed: %s", es);
    *aborted = true;
    return OF_OK;
}

/* ---------------------------------------------------------------------------------- */
/* set-up */

static void on_rebalance(void *opaque, of_kafka_rebalance what, const of_kafka_partition *parts,
                         size_t n)
{
    prod *p = opaque;
    of_monitor_rebalance(p->mon, what, n);
    const char *w = what == OF_KAFKA_ASSIGNED  ? "assigned"
                    : what == OF_KAFKA_REVOKED ? "revoked"
                                               : "lost";
    for (size_t i = 0; i < n; i++)
        of_info("partition %s topic=%s partition=%d", w, parts[i].topic, (int)parts[i].partition);
}

static void on_lag(void *opaque, const of_kafka_lag *lags, size_t n)
{
    prod *p = opaque;
    of_monitor_kafka_lag(p->mon, lags, n);
}

static of_err consumer_start(prod *p, char *errstr, size_t errstr_size)
{
    of_kafka_consumer_opts co;
    memset(&co, 0, sizeof co);
    co.group_id = p->cfg->producer.group_id;
    co.on_rebalance = on_rebalance;
    co.opaque = p;
    co.manual_commit = true;
    /* commands and events are the producer's input state: losing some to retention must stop
     * it loudly, never make it skip a job.succeeded and leave a stage waiting */
    co.strict_offsets = true;
    co.stats_interval_ms = p->mon ? OF_MONITOR_STATS_INTERVAL_MS : 0;
    co.on_lag = on_lag;
    of_err rc = of_kafka_consumer_new(&p->fk.kc, &co, &p->kc, errstr, errstr_size);
    if (rc) return rc;
    const char *topics[2] = {p->t_requests, p->t_events};
    return of_kafka_subscribe(p->kc, topics, 2, errstr, errstr_size);
}

static void consumer_stop(prod *p)
{
    if (!p->kc) return;
    char es[ES] = "";
    if (of_kafka_consumer_close(p->kc, es, sizeof es) != OF_OK)
        of_warn("closing the consumer: %s", es);
    of_kafka_consumer_destroy(p->kc);
    p->kc = NULL;
}

/* Reads the state topic; /readyz says "state not loaded" meanwhile. */
static of_err load_state(prod *p, char *errstr, size_t errstr_size)
{
    of_monitor_state_loaded(p->mon, false);
    of_err rc = prod_load_state(p, errstr, errstr_size);
    if (!rc) of_monitor_state_loaded(p->mon, true);
    return rc;
}

/* After an aborted transaction: forget every in-memory decision and start again from what
 * Kafka committed (state topic + the group's committed offsets). */
static of_err recover(prod *p, char *errstr, size_t errstr_size)
{
    of_warn("rebuilding state and restarting the consumer from the committed offsets");
    batch_reset(p);
    consumer_stop(p);
    of_err rc = load_state(p, errstr, errstr_size);
    if (!rc) rc = consumer_start(p, errstr, errstr_size);
    return rc;
}

static of_err topic_names(prod *p, char *errstr, size_t errstr_size)
{
    const of_config *cfg = p->cfg;
    of_err rc = of_config_topic(cfg, "requests", p->t_requests, sizeof p->t_requests);
    if (!rc) rc = of_config_topic(cfg, "events", p->t_events, sizeof p->t_events);
    if (!rc) rc = of_config_topic(cfg, "releases", p->t_releases, sizeof p->t_releases);
    if (!rc) rc = of_config_topic(cfg, "dlq", p->t_dlq, sizeof p->t_dlq);
    if (rc) return of_seterr(errstr, errstr_size, rc, "topics.prefix is too long");
    int ns = cfg->topics.max_stages;
    p->t_jobs = calloc((size_t)(ns > 0 ? ns : 1), sizeof *p->t_jobs);
    if (!p->t_jobs) return OF_ERR_NOMEM;
    for (int s = 1; s <= ns && !rc; s++)
        rc = of_config_jobs_topic(cfg, s, p->t_jobs[s - 1], sizeof p->t_jobs[s - 1]);
    if (rc) return of_seterr(errstr, errstr_size, rc, "cannot name the stage topics");
    return OF_OK;
}

static of_err octopus_start(prod *p, char *errstr, size_t errstr_size)
{
    of_octo_opts oo;
    of_fleet_octo_opts(p->cfg, p->opts->api_key, &oo);
    of_hold_opts ho;
    of_fleet_hold_opts(p->cfg, &ho);
    of_hold_init(&p->hold, &ho);
    oo.observer = prod_octo_attempt;
    oo.observer_opaque = p;
    of_err rc = of_octo_new(&oo, &p->octo, errstr, errstr_size);
    if (!rc) rc = of_octo_connect(p->octo, errstr, errstr_size);
    if (!rc) rc = of_resolver_octo_new(p->octo, &p->ro);
    if (!rc) of_resolver_octo_bind(p->ro, &p->res);
    if (!rc) {
        char d[512];
        of_info("octopus %s", of_octo_describe(p->octo, d, sizeof d));
    }
    int limit = 0;
    if (!rc) {
        (void)of_task_budget_resolve(p->octo, p->cfg->octopus.task_budget, &limit, p->budget_rule,
                                     sizeof p->budget_rule);
        p->cap_read_ms = of_now_ms();
        p->task_cap = limit;
        rc = of_budget_new(limit, &p->budget);
        if (rc) return of_seterr(errstr, errstr_size, rc, "out of memory");
        if (p->cfg->octopus.task_budget == 0)
            of_budget_auto(p->budget, limit, p->cfg->octopus.task_budget_headroom);
        char rule[sizeof p->budget_rule + 64];
        (void)snprintf(rule, sizeof rule, "%s", p->budget_rule);
        of_budget_describe(p->budget, rule, sizeof rule);
        of_info("task budget %d (%s)", of_budget_limit(p->budget), rule);
    }
    return rc;
}

/* An automatic budget follows the server's task cap: nodes come, go and enter maintenance.
 * The read blocks the loop for one request (the client's retry deadline at worst); a failed
 * read keeps the budget as it is and is tried again at the next refresh. */
static void cap_refresh(prod *p)
{
    int64_t every = p->cfg->octopus.task_cap_refresh_ms;
    if (p->cfg->octopus.task_budget > 0 || every <= 0 || of_now_ms() - p->cap_read_ms < every)
        return;
    p->cap_read_ms = of_now_ms();
    int cap = 0;
    char rule[sizeof p->budget_rule], full[sizeof p->budget_rule + 64];
    if (!of_task_budget_resolve(p->octo, 0, &cap, rule, sizeof rule) || cap == p->task_cap) return;
    int was = of_budget_limit(p->budget);
    p->task_cap = cap;
    of_budget_auto(p->budget, cap, p->cfg->octopus.task_budget_headroom);
    memcpy(p->budget_rule, rule, sizeof rule);
    (void)snprintf(full, sizeof full, "%s", rule);
    of_budget_describe(p->budget, full, sizeof full);
    of_info("task budget %d, was %d (%s)", of_budget_limit(p->budget), was, full);
}

/* Every topic the producer writes, looked up now rather than inside the first transaction
 * that writes it (kafka.h, of_kafka_producer_warm). */
static void warm_topics(prod *p)
{
    int ns = p->cfg->topics.max_stages;
    const char **names = calloc((size_t)ns + 3, sizeof *names);
    if (!names) return; /* then looked up on first use, as without this */
    size_t n = 0;
    names[n++] = p->t_events;
    names[n++] = p->t_releases;
    names[n++] = p->t_dlq;
    for (int s = 0; s < ns; s++)
        names[n++] = p->t_jobs[s];
    char es[ES] = "";
    int64_t t0 = of_now_ms();
    if (of_kafka_producer_warm(p->kp, names, n, OF_KAFKA_WARM_TIMEOUT_MS, es, sizeof es))
        of_warn("%s; those topics are looked up on their first message instead", es);
    else
        of_debug("kafka topics looked up: %zu in %lld ms", n, (long long)(of_now_ms() - t0));
    free(names);
}

static of_err kafka_start(prod *p, char *errstr, size_t errstr_size)
{
    of_err rc = of_fleet_kafka_init(&p->fk, p->cfg, p->opts->mock, NULL);
    if (rc) return of_seterr(errstr, errstr_size, rc, "out of memory");
    if (p->cfg->topics.create) {
        rc = of_fleet_ensure_topics(p->cfg, &p->fk.kc, OF_KAFKA_STARTUP_DEADLINE_MS, errstr,
                                    errstr_size);
        if (rc) return rc;
    }
    rc = of_kafka_producer_new(&p->fk.kc, p->cfg->producer.transactional_id, &p->kp, errstr,
                               errstr_size);
    if (rc) return rc;
    /* Fences any previous instance with our transactional id and aborts its open
     * transaction: only after this is the state topic final enough to read. The Kafka module
     * classifies the failure (OF_KAFKA_TXN_RETRY: transient, e.g. the transaction coordinator
     * loading after a broker restart); retry those with backoff within the start-up deadline,
     * each attempt bounded by what is left of it. */
    of_kafka_txn_action action = OF_KAFKA_TXN_NONE;
    int64_t start = of_now_ms();
    int64_t deadline = start + OF_KAFKA_STARTUP_DEADLINE_MS;
    uint64_t rnd = (uint64_t)start | 1u;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - of_now_ms();
        int timeout = left < TXN_TIMEOUT_MS ? (int)(left > 1000 ? left : 1000) : TXN_TIMEOUT_MS;
        rc = of_kafka_txn_init(p->kp, timeout, &action, errstr, errstr_size);
        if (rc == OF_OK || action != OF_KAFKA_TXN_RETRY || of_stop_requested(p->opts->stop)) break;
        int64_t delay = of_backoff_ms(attempt, 200, 5000, &rnd);
        left = deadline - of_now_ms();
        if (left <= delay) {
            size_t len = strlen(errstr);
            if (len < errstr_size)
                snprintf(errstr + len, errstr_size - len,
                         " (still failing after %d attempt(s) over %lld ms)", attempt + 1,
                         (long long)(of_now_ms() - start));
            break;
        }
        of_warn("initialising transactions (attempt %d), retrying in %lld ms: %s", attempt + 1,
                (long long)delay, errstr);
        /* Waits out the backoff; with nothing queued there are no reports to serve. */
        of_kafka_producer_poll(p->kp, (int)delay);
    }
    if (!rc) warm_topics(p);
    return rc;
}

static void teardown(prod *p)
{
    consumer_stop(p);
    if (p->kp) {
        char es[ES] = "";
        if (of_kafka_flush(p->kp, 10000, es, sizeof es) != OF_OK)
            of_warn("flushing the producer: %s", es);
        of_kafka_producer_destroy(p->kp);
    }
    batch_reset(p);
    prod_drop_all(p);
    free(p->rels);
    free(p->outs);
    free(p->batch_rels);
    free(p->gone);
    free(p->orphans);
    free(p->offs);
    free(p->mpend);
    free(p->t_jobs);
    of_resolver_octo_free(p->ro);
    of_guard_free(p->guard);
    of_budget_free(p->budget);
    of_octo_destroy(p->octo);
    prod_hold_free(p);
    of_fleet_kafka_clear(&p->fk);
}

/* ---------------------------------------------------------------------------------- */
/* the loop */

/* True if the batch's outputs from index `from` on put a job on a stage topic. */
static bool dispatched_since(const prod *p, size_t from)
{
    const char *first = p->t_jobs[0], *end = p->t_jobs[p->cfg->topics.max_stages];
    for (size_t i = from; i < p->n_outs; i++)
        if (p->outs[i].topic >= first && p->outs[i].topic < end) return true;
    return false;
}

/* Reads one batch and decides. Returns OF_OK with the batch ready to commit (possibly
 * empty), or a fatal error. The batch window (producer.batch_window) amortises a
 * transaction over many inputs, but a decision that dispatches jobs ends it: what is
 * already read joins the batch, nothing more is waited for, so a gate that opens sends the
 * next stage's jobs at once instead of after the window. */
static of_err read_batch(prod *p, bool *consumer_dead, char *errstr, size_t errstr_size)
{
    int64_t deadline = 0;
    bool urgent = false;
    *consumer_dead = false;
    for (;;) {
        prod_metrics_tick(p);
        bool stop = of_stop_requested(p->opts->stop);
        if (stop && p->batch_msgs == 0) return OF_OK;
        int64_t now = of_now_ms();
        /* idle with eviction due: its tombstones make a transaction of their own */
        if (p->batch_msgs == 0 && prod_evict_due(p, now)) return OF_OK;
        size_t max_msgs = p->isolate_left ? 1 : (size_t)p->cfg->producer.batch_max;
        if (p->batch_msgs > 0 && (stop || now >= deadline || p->batch_msgs >= max_msgs))
            return OF_OK;
        /* capped so that a long window still sees a stop request */
        int64_t wait = p->batch_msgs ? (urgent ? 0 : deadline - now) : POLL_IDLE_MS;
        int timeout = (int)(wait < POLL_IDLE_MS ? wait : POLL_IDLE_MS);
        (void)of_kafka_producer_poll(p->kp, 0);
        of_kafka_message *m = NULL;
        char es[ES] = "";
        of_err rc = of_kafka_consumer_poll(p->kc, timeout, &m, es, sizeof es);
        if (rc == OF_ERR_KAFKA) {
            of_warn("consumer: %s", es);
            continue;
        }
        if (rc) {
            *consumer_dead = true;
            return of_seterr(errstr, errstr_size, rc, "consumer failed: %s", es);
        }
        if (!m) {
            /* nothing more at hand: commit now; or idle: the caller's idle work (the task
             * budget's recovery and cap refresh) runs between polls */
            if (urgent || p->batch_msgs == 0) return OF_OK;
            continue;
        }
        if (p->batch_msgs++ == 0) deadline = of_now_ms() + p->cfg->producer.batch_window_ms;
        size_t outs_before = p->n_outs;
        bool cut = false;
        p->cur_partition = m->partition;
        p->cur_offset = m->offset;
        (void)snprintf(p->cur_topic, sizeof p->cur_topic, "%s", m->topic);
        rc = note_offset(p, m);
        if (!rc && p->poison.set && m->partition == p->poison.partition &&
            m->offset == p->poison.offset && strcmp(m->topic, p->poison.topic) == 0)
            rc = prod_on_poison(p, m);
        else if (!rc && strcmp(m->topic, p->t_requests) == 0)
            rc = prod_on_command(p, m, &cut);
        else if (!rc && strcmp(m->topic, p->t_events) == 0)
            rc = prod_on_event(p, m);
        of_kafka_message_free(m);
        if (rc) return of_seterr(errstr, errstr_size, rc, "%s", of_strerror(rc));
        if (cut) return OF_OK;
        if (!urgent && dispatched_since(p, outs_before)) urgent = true;
    }
}

static bool same_input(const prod *p, const prod_poison *x)
{
    return x->partition == p->cur_partition && x->offset == p->cur_offset &&
           strcmp(x->topic, p->cur_topic) == 0;
}

/* How to move the group past one input by hand, for the rare stop no isolation can avoid. */
static void skip_hint(const prod *p, char *out, size_t n)
{
    (void)snprintf(
        out, n,
        "to skip it: stop the producer, then kafka-consumer-groups.sh --bootstrap-server "
        "%s --group %s --topic %s:%d --reset-offsets --to-offset %lld --execute",
        p->cfg->kafka.bootstrap_servers, p->cfg->producer.group_id, p->cur_topic,
        (int)p->cur_partition, (long long)p->cur_offset + 1);
}

/* After an aborted transaction. A permanent failure of a batch isolates its inputs (one per
 * transaction); a permanent failure of one input alone makes it the poison, dead-lettered
 * when read again. If even that fails, the producer stops, naming the input and how to skip
 * it. Transient failures back off and retry for ever: no input is dropped for them. */
static of_err on_abort(prod *p, bool permanent, int aborts_in_row, char *errstr, size_t errstr_size)
{
    char hint[512];
    if (permanent && p->batch_msgs == 1) {
        if (p->poison.set && same_input(p, &p->poison)) {
            skip_hint(p, hint, sizeof hint);
            return of_seterr(errstr, errstr_size, OF_ERR_KAFKA,
                             "topic %s partition %d offset %lld: even its dead-letter copy cannot "
                             "be written (%s); %s",
                             p->cur_topic, (int)p->cur_partition, (long long)p->cur_offset,
                             p->poison.reason, hint);
        }
        p->poison.set = true;
        (void)snprintf(p->poison.topic, sizeof p->poison.topic, "%s", p->cur_topic);
        p->poison.partition = p->cur_partition;
        p->poison.offset = p->cur_offset;
        (void)snprintf(p->poison.reason, sizeof p->poison.reason, "%s", errstr);
        of_error("poison input topic=%s partition=%d offset=%lld: %s; it goes to the dlq",
                 p->cur_topic, (int)p->cur_partition, (long long)p->cur_offset, errstr);
        return OF_OK;
    }
    if (permanent || aborts_in_row >= MAX_ABORTS_IN_ROW) {
        if (p->isolate_left < p->batch_msgs) p->isolate_left = p->batch_msgs;
        of_warn("%s; deciding the next %zu input(s) one per transaction to find the one that "
                "causes it",
                permanent ? "a message can never be written" : "transactions keep failing",
                p->isolate_left);
    }
    if (aborts_in_row >= MAX_ABORTS_IN_ROW) {
        /* Not the input's fault as far as we can tell (broker, network): back off, never
         * skip. The log says what is stuck and how to move on if an operator must. */
        skip_hint(p, hint, sizeof hint);
        int64_t wait = of_backoff_ms(aborts_in_row - MAX_ABORTS_IN_ROW, 500, 30000, &p->rnd);
        of_error("%d aborted transactions in a row at topic=%s partition=%d offset=%lld (%s); "
                 "retrying in %lld ms; %s",
                 aborts_in_row, p->cur_topic, (int)p->cur_partition, (long long)p->cur_offset,
                 errstr, (long long)wait, hint);
        for (int64_t until = of_now_ms() + wait;
             of_now_ms() < until && !of_stop_requested(p->opts->stop);)
            of_sleep_ms(50);
    }
    return OF_OK;
}

of_err of_producer_run(const of_producer_opts *opts, char *errstr, size_t errstr_size)
{
    prod p;
    memset(&p, 0, sizeof p);
    p.opts = opts;
    p.cfg = opts->cfg;
    if (errstr && errstr_size) errstr[0] = '\0';
    of_log_set_component("producer");

    p.rnd = (uint64_t)of_now_ms() | 1u;
    /* The endpoints first: a port in use fails the start before anything slow. */
    of_err rc =
        of_monitor_start(p.cfg->producer.metrics_listen, "producer", &p.mon, errstr, errstr_size);
    if (!rc) prod_metrics_declare(&p);
    if (!rc) rc = topic_names(&p, errstr, errstr_size);
    if (!rc) rc = of_guard_new(p.cfg, opts->fleet_key, &p.guard, errstr, errstr_size);
    if (!rc)
        of_info("messages: budget %zu bytes, authentication %s", of_guard_budget(p.guard),
                of_guard_auth_on(p.guard) ? "on (HMAC-SHA256)" : "off");
    if (!rc) rc = octopus_start(&p, errstr, errstr_size);
    if (!rc) rc = kafka_start(&p, errstr, errstr_size);
    if (!rc) rc = load_state(&p, errstr, errstr_size);
    if (!rc) rc = consumer_start(&p, errstr, errstr_size);
    if (!rc)
        of_info("producer running group=%s transactional_id=%s requests=%s events=%s state=%s",
                p.cfg->producer.group_id, p.cfg->producer.transactional_id, p.t_requests,
                p.t_events, p.t_releases);

    int aborts_in_row = 0;
    while (!rc && !of_stop_requested(opts->stop)) {
        cap_refresh(&p);
        batch_reset(&p);
        bool consumer_dead = false;
        rc = read_batch(&p, &consumer_dead, errstr, errstr_size);
        if (rc && consumer_dead) {
            /* The consumer is unusable: what this batch decided is dropped with it. */
            of_error("%s", errstr);
            rc = recover(&p, errstr, errstr_size);
            continue;
        }
        /* Idle: the task budget may have recovered from an overload; what it lets go is
         * committed like any decision. */
        if (!rc) rc = prod_hold_tick(&p);
        if (!rc && p.batch_msgs == 0) rc = prod_budget_pump(&p);
        /* Finished releases past their retention leave, in this batch's transaction. */
        if (!rc && !of_stop_requested(opts->stop)) rc = prod_evict(&p);
        if (rc || (p.batch_msgs == 0 && p.n_outs == 0)) continue;
        bool aborted = false, permanent = false;
        rc = commit_batch(&p, &aborted, &permanent, errstr, errstr_size);
        if (rc) break;
        if (!aborted) {
            prod_metrics_commit(&p);
            aborts_in_row = 0;
            if (p.isolate_left) p.isolate_left--;
            if (p.poison.set && p.batch_msgs == 1 && same_input(&p, &p.poison)) {
                of_warn("poison set aside topic=%s partition=%d offset=%lld", p.poison.topic,
                        (int)p.poison.partition, (long long)p.poison.offset);
                p.poison.set = false;
            }
            continue;
        }
        aborts_in_row++;
        rc = on_abort(&p, permanent, aborts_in_row, errstr, errstr_size);
        if (!rc) rc = recover(&p, errstr, errstr_size);
    }
    if (rc) of_error("producer stopping: %s", errstr);
    teardown(&p);
    of_monitor_stop(p.mon); /* after the clients that report to it */
    if (!rc) of_info("producer stopped");
    of_log_set_component(NULL);
    return rc;
}
