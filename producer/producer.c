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
#define BATCH_MAX_MSGS 500
#define BATCH_MAX_MS   100
#define POLL_IDLE_MS   200

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
    if (!prod_grow((void **)&p->offs, &p->cap_offs, p->n_offs, sizeof *p->offs))
        return OF_ERR_NOMEM;
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
}

static of_err produce_all(prod *p, char *errstr, size_t errstr_size)
{
    static const char ce_name[] = "content-type";
    for (size_t i = 0; i < p->n_outs; i++) {
        const prod_out *o = &p->outs[i];
        of_kafka_header h[4];
        size_t nh = 0;
        if (o->cloudevent) {
            h[nh].name = ce_name;
            h[nh].value = OF_CE_CONTENT_TYPE;
            h[nh++].value_len = strlen(OF_CE_CONTENT_TYPE);
        }
        if (o->dlq_error) {
            const char *names[4] = {"octofleet-error", "octofleet-source-topic",
                                    "octofleet-source-partition", "octofleet-source-offset"};
            const char *vals[4] = {o->dlq_error, o->dlq_topic, o->dlq_partition, o->dlq_offset};
            for (size_t k = 0; k < 4; k++) {
                h[nh].name = names[k];
                h[nh].value = vals[k];
                h[nh++].value_len = strlen(vals[k]);
            }
        }
        of_kafka_record rec;
        memset(&rec, 0, sizeof rec);
        rec.topic = o->topic;
        rec.partition = OF_KAFKA_PARTITION_ANY;
        rec.key = o->key;
        rec.key_len = o->key ? strlen(o->key) : 0;
        rec.value = o->value;
        rec.value_len = o->value_len;
        rec.headers = nh ? h : NULL;
        rec.nheaders = nh;
        of_err rc = of_kafka_produce(p->kp, &rec, NULL, NULL, errstr, errstr_size);
        if (rc) return rc;
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
 * rebuilds), or a fatal error. */
static of_err commit_batch(prod *p, bool *aborted, char *errstr, size_t errstr_size)
{
    *aborted = false;
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
    int64_t t0 = of_now_ms();
    rc = txn_call(p, TS_BEGIN, NULL, 0, &action, errstr, errstr_size);
    if (!rc) {
        rc = produce_all(p, errstr, errstr_size);
        /* A message refused locally (queue full, too large): the transaction cannot be
         * completed as decided, so it is aborted and the input read again. */
        if (rc) action = OF_KAFKA_TXN_ABORT;
    }
    if (!rc && p->n_offs)
        rc = txn_call(p, TS_SEND_OFFSETS, offs, p->n_offs, &action, errstr, errstr_size);
    if (!rc) rc = txn_call(p, TS_COMMIT, NULL, 0, &action, errstr, errstr_size);
    free(offs);
    if (!rc) {
        of_debug("batch committed messages=%zu produced=%zu took_ms=%lld", p->batch_msgs, p->n_outs,
                 (long long)(of_now_ms() - t0));
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
    (void)opaque;
    const char *w = what == OF_KAFKA_ASSIGNED  ? "assigned"
                    : what == OF_KAFKA_REVOKED ? "revoked"
                                               : "lost";
    for (size_t i = 0; i < n; i++)
        of_info("partition %s topic=%s partition=%d", w, parts[i].topic, (int)parts[i].partition);
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

/* After an aborted transaction: forget every in-memory decision and start again from what
 * Kafka committed (state topic + the group's committed offsets). */
static of_err recover(prod *p, char *errstr, size_t errstr_size)
{
    of_warn("rebuilding state and restarting the consumer from the committed offsets");
    batch_reset(p);
    consumer_stop(p);
    of_err rc = prod_load_state(p, errstr, errstr_size);
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
    of_err rc = of_octo_new(&oo, &p->octo, errstr, errstr_size);
    if (!rc) rc = of_octo_connect(p->octo, errstr, errstr_size);
    if (!rc) rc = of_resolver_octo_new(p->octo, &p->ro);
    if (!rc) of_resolver_octo_bind(p->ro, &p->res);
    if (!rc) {
        char d[512];
        of_info("octopus %s", of_octo_describe(p->octo, d, sizeof d));
    }
    return rc;
}

static of_err kafka_start(prod *p, char *errstr, size_t errstr_size)
{
    of_err rc = of_fleet_kafka_init(&p->fk, p->cfg, p->opts->mock, NULL);
    if (rc) return of_seterr(errstr, errstr_size, rc, "out of memory");
    if (p->cfg->topics.create) {
        rc = of_fleet_ensure_topics(p->cfg, &p->fk.kc, TOPICS_TIMEOUT_MS, errstr, errstr_size);
        if (rc) return rc;
    }
    rc = of_kafka_producer_new(&p->fk.kc, p->cfg->producer.transactional_id, &p->kp, errstr,
                               errstr_size);
    if (rc) return rc;
    /* Fences any previous instance with our transactional id and aborts its open
     * transaction: only after this is the state topic final enough to read. */
    of_kafka_txn_action action = OF_KAFKA_TXN_NONE;
    for (int attempt = 0;; attempt++) {
        rc = of_kafka_txn_init(p->kp, TXN_TIMEOUT_MS, &action, errstr, errstr_size);
        if (rc == OF_OK || action != OF_KAFKA_TXN_RETRY || attempt >= TXN_MAX_RETRIES ||
            of_stop_requested(p->opts->stop))
            break;
        of_warn("initialising transactions, will retry: %s", errstr);
    }
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
    free(p->offs);
    free(p->t_jobs);
    of_resolver_octo_free(p->ro);
    of_octo_destroy(p->octo);
    of_fleet_kafka_free(&p->fk);
}

/* ---------------------------------------------------------------------------------- */
/* the loop */

/* Reads one batch and decides. Returns OF_OK with the batch ready to commit (possibly
 * empty), or a fatal error. */
static of_err read_batch(prod *p, bool *consumer_dead, char *errstr, size_t errstr_size)
{
    int64_t deadline = 0;
    *consumer_dead = false;
    for (;;) {
        bool stop = of_stop_requested(p->opts->stop);
        if (stop && p->batch_msgs == 0) return OF_OK;
        int64_t now = of_now_ms();
        if (p->batch_msgs > 0 && (stop || now >= deadline || p->batch_msgs >= BATCH_MAX_MSGS))
            return OF_OK;
        int timeout = p->batch_msgs ? (int)(deadline - now) : POLL_IDLE_MS;
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
        if (!m) continue;
        if (p->batch_msgs++ == 0) deadline = of_now_ms() + BATCH_MAX_MS;
        bool cut = false;
        rc = note_offset(p, m);
        if (!rc && strcmp(m->topic, p->t_requests) == 0)
            rc = prod_on_command(p, m, &cut);
        else if (!rc && strcmp(m->topic, p->t_events) == 0)
            rc = prod_on_event(p, m);
        of_kafka_message_free(m);
        if (rc) return of_seterr(errstr, errstr_size, rc, "%s", of_strerror(rc));
        if (cut) return OF_OK;
    }
}

of_err of_producer_run(const of_producer_opts *opts, char *errstr, size_t errstr_size)
{
    prod p;
    memset(&p, 0, sizeof p);
    p.opts = opts;
    p.cfg = opts->cfg;
    if (errstr && errstr_size) errstr[0] = '\0';
    of_log_set_component("producer");

    of_err rc = topic_names(&p, errstr, errstr_size);
    if (!rc) rc = octopus_start(&p, errstr, errstr_size);
    if (!rc) rc = kafka_start(&p, errstr, errstr_size);
    if (!rc) rc = prod_load_state(&p, errstr, errstr_size);
    if (!rc) rc = consumer_start(&p, errstr, errstr_size);
    if (!rc)
        of_info("producer running group=%s transactional_id=%s requests=%s events=%s state=%s",
                p.cfg->producer.group_id, p.cfg->producer.transactional_id, p.t_requests,
                p.t_events, p.t_releases);

    int aborts_in_row = 0;
    while (!rc && !of_stop_requested(opts->stop)) {
        batch_reset(&p);
        bool consumer_dead = false;
        rc = read_batch(&p, &consumer_dead, errstr, errstr_size);
        if (rc && consumer_dead) {
            /* The consumer is unusable: what this batch decided is dropped with it. */
            of_error("%s", errstr);
            rc = recover(&p, errstr, errstr_size);
            continue;
        }
        if (rc || p.batch_msgs == 0) continue;
        bool aborted = false;
        rc = commit_batch(&p, &aborted, errstr, errstr_size);
        if (rc) break;
        if (!aborted) {
            aborts_in_row = 0;
            continue;
        }
        if (++aborts_in_row >= MAX_ABORTS_IN_ROW) {
            rc = of_seterr(errstr, errstr_size, OF_ERR_KAFKA,
                           "giving up after %d aborted transactions in a row", aborts_in_row);
            break;
        }
        rc = recover(&p, errstr, errstr_size);
    }
    if (rc) of_error("producer stopping: %s", errstr);
    teardown(&p);
    if (!rc) of_info("producer stopped");
    of_log_set_component(NULL);
    return rc;
}
