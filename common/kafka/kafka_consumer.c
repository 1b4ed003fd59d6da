/* The Kafka module, part 2: the group consumer and the whole-topic reader. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "clock.h"
#include "kafka_priv.h"
#include "log.h"

struct of_kafka_consumer {
    rd_kafka_t *rk;
    of_kafka_rebalance_cb *on_rebalance;
    void *opaque;
    of_kafka_lag_cb *on_lag; /* statistics (monitoring); NULL = off */
    bool paused;             /* the application's wish for the whole assignment */
    char **paused_topics;    /* ... and for these topics' partitions (owned copies) */
    size_t n_paused_topics;
    bool closed;
    bool strict_offsets; /* never skip data: see of_kafka_consumer_opts */
    of_kafka_eof_cb *on_eof;
    char *group_id;    /* owned copies, for error messages */
    char *instance_id; /* group.instance.id, NULL for a dynamic member */
    /* of_kafka_consumer_wake_fd: the consumer queue writes a byte to wake[1] when it turns
     * non-empty; both ends non-blocking (a full pipe must never block librdkafka's thread). */
    rd_kafka_queue_t *wake_q;
    int wake[2];
};

/* How long the assignment of a strict_offsets consumer keeps asking for committed offsets
 * through transient coordinator errors before falling back to librdkafka's own lookup. */
#define OFK_ASSIGN_COMMITTED_MS 30000

rd_kafka_t *ofk_consumer_handle(of_kafka_consumer *c)
{
    return c->rk;
}

static void notify(of_kafka_consumer *c, of_kafka_rebalance what,
                   const rd_kafka_topic_partition_list_t *list)
{
    if (!c->on_rebalance || list->cnt <= 0) return;
    of_kafka_partition *parts = ofk_parts_from_list(list);
    if (!parts) {
        of_error("kafka client=%s out of memory reporting a rebalance", rd_kafka_name(c->rk));
        return;
    }
    c->on_rebalance(c->opaque, what, parts, (size_t)list->cnt);
    free(parts);
}

static void log_assign_error(rd_kafka_t *rk, const char *what, rd_kafka_error_t *error)
{
    if (!error) return;
    of_error("kafka client=%s %s failed: %s", rd_kafka_name(rk), what,
             rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
}

/* Takes (take) or gives up parts as the rebalance protocol wants: incrementally when
 * cooperative, the whole assignment when eager. Failures are logged: a rebalance callback
 * has no one to return them to. */
static void assign(rd_kafka_t *rk, bool coop, rd_kafka_topic_partition_list_t *parts, bool take)
{
    if (coop) {
        log_assign_error(rk, take ? "incremental assign" : "incremental unassign",
                         take ? rd_kafka_incremental_assign(rk, parts)
                              : rd_kafka_incremental_unassign(rk, parts));
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, take ? parts : NULL);
    if (e)
        of_error("kafka client=%s %s failed: %s", rd_kafka_name(rk), take ? "assign" : "unassign",
                 rd_kafka_err2str(e));
}

static bool topic_paused(const of_kafka_consumer *c, const char *topic)
{
    for (size_t i = 0; i < c->n_paused_topics; i++)
        if (strcmp(c->paused_topics[i], topic) == 0) return true;
    return false;
}

/* Pauses the partitions of list the application wants paused (the whole consumer, or their
 * topic) and resumes the others; only those of topic when topic is not NULL. */
static rd_kafka_resp_err_t
apply_wish(of_kafka_consumer *c, const rd_kafka_topic_partition_list_t *list, const char *topic)
{
    rd_kafka_topic_partition_list_t *on = rd_kafka_topic_partition_list_new(list->cnt);
    rd_kafka_topic_partition_list_t *off = rd_kafka_topic_partition_list_new(list->cnt);
    for (int i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (topic && strcmp(tp->topic, topic) != 0) continue;
        bool pause = c->paused || topic_paused(c, tp->topic);
        rd_kafka_topic_partition_list_add(pause ? on : off, tp->topic, tp->partition);
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (on->cnt > 0) err = rd_kafka_pause_partitions(c->rk, on);
    if (!err && off->cnt > 0) err = rd_kafka_resume_partitions(c->rk, off);
    rd_kafka_topic_partition_list_destroy(on);
    rd_kafka_topic_partition_list_destroy(off);
    return err;
}

/* Applies the application's pause wish to partitions. librdkafka keeps an application pause
 * flag per partition object that survives revocation, and never re-applies it on assignment, so
 * every newly assigned partition is explicitly paused or resumed to match the consumer. */
static void apply_pause(of_kafka_consumer *c, rd_kafka_topic_partition_list_t *list)
{
    if (list->cnt <= 0) return;
    rd_kafka_resp_err_t err = apply_wish(c, list, NULL);
    if (err)
        of_warn("kafka client=%s pausing/resuming new partitions: %s", rd_kafka_name(c->rk),
                rd_kafka_err2str(err));
}

/* strict_offsets: with auto.offset.reset=error, a partition the group never committed would
 * fail too, so give each one its committed offset explicitly, or the beginning if none. A
 * committed offset that retention deleted then fails in the fetcher, loudly. */
static void start_at_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(rk), "committed offsets of new partitions",
                   OFK_ASSIGN_COMMITTED_MS);
    rd_kafka_resp_err_t e;
    char es[256];
    for (;;) {
        for (int i = 0; i < parts->cnt; i++) {
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
            parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        int left = ofk_retry_left(&r);
        e = rd_kafka_committed(rk, parts, left > 0 ? left : 1);
        for (int i = 0; !e && i < parts->cnt; i++)
            e = parts->elems[i].err;
        if (!e) break;
        snprintf(es, sizeof(es), "%s", rd_kafka_err2str(e));
        if (!ofk_retry_again(&r, e, es, sizeof(es))) break;
    }
    if (e) {
        /* Never jump to the beginning on a failed lookup (that would re-read everything):
         * OFFSET_INVALID makes librdkafka fetch the committed offset itself, and a partition
         * that truly has none then fails loudly under auto.offset.reset=error. */
        of_error("kafka client=%s reading committed offsets: %s; leaving the start offsets to "
                 "librdkafka",
                 rd_kafka_name(rk), es);
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        return;
    }
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset < 0) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    of_kafka_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        of_log(parts->cnt ? OF_LOG_INFO : OF_LOG_DEBUG,
               "kafka client=%s assigned partitions=%d protocol=%s paused=%d", rd_kafka_name(rk),
               parts->cnt, coop ? "cooperative" : "eager", (int)c->paused);
        if (c->strict_offsets) start_at_committed(rk, parts);
        assign(rk, coop, parts, true);
        apply_pause(c, parts);
        notify(c, OF_KAFKA_ASSIGNED, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
        bool lost = rd_kafka_assignment_lost(rk) != 0;
        of_info("kafka client=%s %s partitions=%d", rd_kafka_name(rk), lost ? "lost" : "revoked",
                parts->cnt);
        /* Tell the application first: the partitions are still ours, so it can store offsets. */
        notify(c, lost ? OF_KAFKA_LOST : OF_KAFKA_REVOKED, parts);
        assign(rk, coop, parts, false);
        break;
    }
    default:
        of_error("kafka client=%s rebalance error: %s", rd_kafka_name(rk), rd_kafka_err2str(err));
        notify(c, OF_KAFKA_LOST, parts);
        rd_kafka_assign(rk, NULL); /* resynchronise, as librdkafka's example does */
        break;
    }
}

/* librdkafka's statistics JSON (STATISTICS.md): topics.<name>.partitions.<id> with
 * consumer_lag and desired (the application's assignment; the internal -1 partition and
 * partitions known from metadata only are not desired). One array per interval: not a hot
 * path. jansson comes through ofjson, the codec's JSON door (common/json). */
/* An integer field of a statistics object; -1 when absent or not an integer. */
static json_int_t stat_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    of_kafka_consumer *c = opaque;
    if (!c->on_lag) return 0;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *topics = root ? json_object_get(root, "topics") : NULL;
    of_kafka_lag *lags = NULL;
    size_t n = 0, cap = 0;
    bool ok = root != NULL;
    const char *tname;
    json_t *t;
    json_object_foreach(topics, tname, t)
    {
        const char *pid;
        json_t *pj;
        json_object_foreach(json_object_get(t, "partitions"), pid, pj)
        {
            json_t *part = json_object_get(pj, "partition");
            if (!ok || !json_is_true(json_object_get(pj, "desired")) || !json_is_integer(part) ||
                json_integer_value(part) < 0)
                continue;
            /* librdkafka's own consumer_lag counts from the committed offset only, which
             * offsets committed in a transaction (the producer's) never update: the lag is
             * computed here from the furthest of the application's position and the committed
             * offset. With neither (nothing consumed or committed yet) the partition is read
             * from its start (auto.offset.reset earliest, or the producer's strict mode), so
             * all of it is the lag, 0 when it is empty. */
            json_int_t end = stat_int(pj, "ls_offset"); /* read_committed end */
            if (end < 0) end = stat_int(pj, "hi_offset");
            json_int_t pos = stat_int(pj, "app_offset");
            json_int_t committed = stat_int(pj, "committed_offset");
            if (committed > pos) pos = committed;
            if (pos < 0) pos = stat_int(pj, "lo_offset");
            json_int_t lag = end >= 0 && pos >= 0 ? (end > pos ? end - pos : 0) : -1;
            if (lag < 0) continue;
            if (of_grow((void **)&lags, &cap, n, sizeof *lags)) {
                ok = false;
                continue;
            }
            lags[n].topic = tname;
            lags[n].partition = (int32_t)json_integer_value(part);
            lags[n++].lag = (int64_t)lag;
        }
    }
    if (ok) c->on_lag(c->opaque, lags, n);
    free(lags);
    json_decref(root);
    return 0; /* librdkafka frees json */
}

of_err of_kafka_consumer_new(const of_kafka_config *cfg, const of_kafka_consumer_opts *opts,
                             of_kafka_consumer **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!opts || !opts->group_id || !*opts->group_id)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka consumer: no group.id");
    /* The design's defaults (reference §3): cooperative rebalances keep retained partitions
     * flowing (unless the caller chose an eager assignor); offsets are stored by the application
     * only after its work is done; transactional output is read committed-only. */
    const of_kafka_prop defaults[] = {
        {"group.id", opts->group_id},
        {"partition.assignment.strategy", opts->assignor ? opts->assignor : "cooperative-sticky"},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", opts->manual_commit ? "false" : "true"},
        {"isolation.level", "read_committed"},
        {"auto.offset.reset", opts->strict_offsets ? "error" : "earliest"},
        {"enable.partition.eof", opts->on_eof ? "true" : "false"},
    };
    rd_kafka_conf_t *conf = NULL;
    of_err rc = ofk_conf_new(RD_KAFKA_CONSUMER, cfg, defaults,
                             sizeof(defaults) / sizeof(defaults[0]), &conf, errstr, errstr_size);
    if (rc) return rc;
    of_kafka_consumer *c = calloc(1, sizeof(*c));
    if (c) c->wake[0] = c->wake[1] = -1;
    if (!c) {
        rd_kafka_conf_destroy(conf);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka consumer: out of memory");
    }
    c->on_rebalance = opts->on_rebalance;
    c->strict_offsets = opts->strict_offsets;
    c->on_eof = opts->on_eof;
    c->opaque = opts->opaque;
    /* Remember the static identity (set by a daemon default or the operator) for the fencing
     * message: "another member uses group.instance.id X" is the whole diagnosis. */
    char inst[256];
    size_t inst_size = sizeof(inst);
    c->group_id = strdup(opts->group_id);
    if (rd_kafka_conf_get(conf, "group.instance.id", inst, &inst_size) == RD_KAFKA_CONF_OK &&
        inst[0])
        c->instance_id = strdup(inst);
    if (!c->group_id) {
        rd_kafka_conf_destroy(conf);
        free(c->instance_id);
        free(c);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka consumer: out of memory");
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    if (opts->stats_interval_ms > 0 && opts->on_lag) {
        char iv[24];
        snprintf(iv, sizeof iv, "%d", opts->stats_interval_ms);
        rc = ofk_conf_set(conf, "statistics.interval.ms", iv, errstr, errstr_size);
        if (rc) {
            rd_kafka_conf_destroy(conf);
            free(c->group_id);
            free(c->instance_id);
            free(c);
            return rc;
        }
        c->on_lag = opts->on_lag;
        rd_kafka_conf_set_stats_cb(conf, stats_cb);
    }
    rc = ofk_new(RD_KAFKA_CONSUMER, &conf, &c->rk, errstr, errstr_size);
    if (rc) {
        free(c->group_id);
        free(c->instance_id);
        free(c);
        return rc;
    }
    if (c->instance_id)
        of_info("kafka client=%s static group member group=%s group.instance.id=%s",
                rd_kafka_name(c->rk), c->group_id, c->instance_id);
    /* Route everything (rebalances, errors, messages) to rd_kafka_consumer_poll. */
    rd_kafka_poll_set_consumer(c->rk);
    *out = c;
    return OF_OK;
}

of_err of_kafka_subscribe(of_kafka_consumer *c, const char *const *topics, size_t n, char *errstr,
                          size_t errstr_size)
{
    if (!c || !n || !topics)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka subscribe: no topics");
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        if (!topics[i] || !*topics[i]) {
            rd_kafka_topic_partition_list_destroy(list);
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "kafka subscribe: empty topic name");
        }
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    }
    /* Subscribing is local (the join runs in the background), so only a handle that is
     * momentarily busy can fail transiently here; the same budget applies all the same. */
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(c->rk), "subscribe", OF_KAFKA_STARTUP_DEADLINE_MS);
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_subscribe(c->rk, list);
        if (!err) break;
        of_seterr(errstr, errstr_size, ofk_err(err), "kafka subscribe: %s", rd_kafka_err2str(err));
        if (!ofk_retry_again(&r, err, errstr, errstr_size)) break;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return err ? ofk_err(err) : OF_OK;
}

/* The message for a fatal error; fencing of a static member is a configuration error. */
static of_err fatal_result(of_kafka_consumer *c, rd_kafka_resp_err_t fatal, const char *fe,
                           char *errstr, size_t errstr_size)
{
    if (fatal == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "kafka consumer fenced: another member of group %s joined with the same "
                         "group.instance.id '%s' (names of static members must be unique): %s",
                         c->group_id, c->instance_id ? c->instance_id : "?", fe);
    return of_seterr(errstr, errstr_size, OF_ERR_STATE, "kafka consumer fatal error %s: %s",
                     rd_kafka_err2name(fatal), fe);
}

/* Formats a consumer error event; the consumer keeps working unless a fatal error is set. */
static of_err consumer_error(of_kafka_consumer *c, rd_kafka_message_t *rkm, char *errstr,
                             size_t errstr_size)
{
    char fe[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(c->rk, fe, sizeof(fe));
    of_err rc;
    if (fatal)
        rc = fatal_result(c, fatal, fe, errstr, errstr_size);
    else if (rkm->rkt)
        rc = of_seterr(errstr, errstr_size, OF_ERR_KAFKA,
                       "kafka consumer %s topic=%s partition=%d: %s", rd_kafka_err2name(rkm->err),
                       rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                       rd_kafka_message_errstr(rkm));
    else
        rc = of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka consumer %s: %s",
                       rd_kafka_err2name(rkm->err), rd_kafka_message_errstr(rkm));
    rd_kafka_message_destroy(rkm);
    return rc;
}

of_err of_kafka_consumer_poll(of_kafka_consumer *c, int timeout_ms, of_kafka_message **out,
                              char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (c->closed) return of_seterr(errstr, errstr_size, OF_ERR_STATE, "kafka consumer is closed");
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (!rkm) return OF_OK;
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (c->on_eof && rkm->rkt)
            c->on_eof(c->opaque, rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset);
        rd_kafka_message_destroy(rkm);
        return OF_OK;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && c->strict_offsets) {
        of_seterr(errstr, errstr_size, OF_ERR_STATE,
                  "kafka consumer topic=%s partition=%d: the next offset to read no longer exists "
                  "(deleted by retention before it was read?); refusing to skip data: %s",
                  rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "?", (int)rkm->partition,
                  rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return OF_ERR_STATE;
    }
    if (rkm->err) return consumer_error(c, rkm, errstr, errstr_size);
    *out = ofk_message_wrap(rkm);
    if (!*out) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka consumer: out of memory");
    return OF_OK;
}

/* Records the wish (whole consumer when topic is NULL) and applies it to what is assigned. */
static of_err pause_resume(of_kafka_consumer *c, const char *topic, bool pause, char *errstr,
                           size_t errstr_size)
{
    const char *what = pause ? "pause" : "resume";
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(c->rk, &list);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka %s: %s", what,
                         rd_kafka_err2str(err));
    /* Remember the wish even with nothing assigned: the rebalance callback applies it. */
    if (!topic) {
        c->paused = pause;
    } else if (pause && !topic_paused(c, topic)) {
        char *copy = strdup(topic);
        char **grown =
            copy ? realloc(c->paused_topics, (c->n_paused_topics + 1) * sizeof *c->paused_topics)
                 : NULL;
        if (!grown) {
            free(copy);
            rd_kafka_topic_partition_list_destroy(list);
            return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka pause %s: out of memory",
                             topic);
        }
        c->paused_topics = grown;
        c->paused_topics[c->n_paused_topics++] = copy;
    } else if (!pause) {
        for (size_t i = 0; i < c->n_paused_topics; i++)
            if (strcmp(c->paused_topics[i], topic) == 0) {
                free(c->paused_topics[i]);
                c->paused_topics[i] = c->paused_topics[--c->n_paused_topics];
                break;
            }
    }
    if (list->cnt > 0) err = apply_wish(c, list, topic);
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka %s%s%s: %s", what,
                         topic ? " " : "", topic ? topic : "", rd_kafka_err2str(err));
    return OF_OK;
}

of_err of_kafka_consumer_pause(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    return pause_resume(c, NULL, true, errstr, errstr_size);
}

of_err of_kafka_consumer_resume(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    return pause_resume(c, NULL, false, errstr, errstr_size);
}

of_err of_kafka_consumer_pause_topic(of_kafka_consumer *c, const char *topic, bool pause,
                                     char *errstr, size_t errstr_size)
{
    return pause_resume(c, topic, pause, errstr, errstr_size);
}

bool of_kafka_consumer_paused(const of_kafka_consumer *c)
{
    return c->paused;
}

size_t of_kafka_consumer_assignment_count(of_kafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(c->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    size_t n = list->cnt > 0 ? (size_t)list->cnt : 0;
    rd_kafka_topic_partition_list_destroy(list);
    return n;
}

of_err of_kafka_store_offset(of_kafka_consumer *c, const char *topic, int32_t partition,
                             int64_t offset, char *errstr, size_t errstr_size)
{
    if (!topic || offset < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka store offset: bad arguments");
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, list);
    /* The per-partition error is the precise one (__STATE: not assigned). */
    if (list->elems[0].err) err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR__STATE)
        return of_seterr(errstr, errstr_size, OF_ERR_STATE,
                         "kafka store offset %s [%d] @%lld: partition not assigned", topic,
                         (int)partition, (long long)offset);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka store offset %s [%d]: %s", topic,
                         (int)partition, rd_kafka_err2str(err));
    return OF_OK;
}

of_err of_kafka_commit(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(c->rk), "commit", OF_KAFKA_COMMIT_RETRY_MS);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
        if (err == RD_KAFKA_RESP_ERR__NO_OFFSET || !err)
            return OF_OK; /* __NO_OFFSET: nothing stored since the last commit */
        of_seterr(errstr, errstr_size, ofk_err(err), "kafka commit: %s", rd_kafka_err2str(err));
        if (!ofk_retry_again(&r, err, errstr, errstr_size)) return ofk_err(err);
    }
}

of_err of_kafka_committed(of_kafka_consumer *c, of_kafka_offset *offs, size_t n, int timeout_ms,
                          char *errstr, size_t errstr_size)
{
    if (!n) return OF_OK;
    rd_kafka_topic_partition_list_t *list = ofk_list_from_offsets(offs, n);
    if (!list)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka committed: out of memory");
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(c->rk), "committed", timeout_ms);
    of_err rc;
    for (;;) {
        rc = OF_OK;
        rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; i < list->cnt; i++)
            list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        int left = ofk_retry_left(&r);
        rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, list, left > 0 ? left : 1);
        if (err) {
            first = err;
            rc = of_seterr(errstr, errstr_size, ofk_err(err), "kafka committed: %s",
                           rd_kafka_err2str(err));
        } else {
            for (size_t i = 0; i < n; i++) {
                const rd_kafka_topic_partition_t *tp = &list->elems[i];
                if (tp->err && !rc) {
                    first = tp->err;
                    rc = of_seterr(errstr, errstr_size, ofk_err(tp->err),
                                   "kafka committed %s [%d]: %s", tp->topic, (int)tp->partition,
                                   rd_kafka_err2str(tp->err));
                }
                offs[i].offset = tp->offset >= 0 ? tp->offset : OF_KAFKA_OFFSET_NONE;
            }
        }
        if (!rc || !ofk_retry_again(&r, first, errstr, errstr_size)) break;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

bool of_kafka_consumer_fatal(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    char fe[512];
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(c->rk, fe, sizeof(fe));
    if (!err) return false;
    fatal_result(c, err, fe, errstr, errstr_size);
    return true;
}

int of_kafka_consumer_wake_fd(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    if (c->wake_q) return c->wake[0];
    if (pipe(c->wake) || fcntl(c->wake[0], F_SETFL, O_NONBLOCK) ||
        fcntl(c->wake[1], F_SETFL, O_NONBLOCK) || fcntl(c->wake[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(c->wake[1], F_SETFD, FD_CLOEXEC)) {
        for (int i = 0; i < 2; i++)
            if (c->wake[i] >= 0) close(c->wake[i]);
        of_seterr(errstr, errstr_size, OF_ERR_IO, "kafka consumer wake pipe: %s", strerror(errno));
        c->wake[0] = c->wake[1] = -1;
        return -1;
    }
    c->wake_q = rd_kafka_queue_get_consumer(c->rk);
    if (!c->wake_q) {
        of_seterr(errstr, errstr_size, OF_ERR_STATE, "kafka consumer wake: no consumer queue");
        close(c->wake[0]);
        close(c->wake[1]);
        c->wake[0] = c->wake[1] = -1;
        return -1;
    }
    rd_kafka_queue_io_event_enable(c->wake_q, c->wake[1], "k", 1);
    return c->wake[0];
}

void of_kafka_consumer_wake_clear(of_kafka_consumer *c)
{
    char sink[64];
    if (c->wake[0] < 0) return;
    while (read(c->wake[0], sink, sizeof sink) > 0) {
    }
}

of_err of_kafka_consumer_close(of_kafka_consumer *c, char *errstr, size_t errstr_size)
{
    if (c->closed) return OF_OK;
    c->closed = true;
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka consumer close: %s",
                         rd_kafka_err2str(err));
    return OF_OK;
}

void of_kafka_consumer_destroy(of_kafka_consumer *c)
{
    if (!c) return;
    char es[256];
    if (of_kafka_consumer_close(c, es, sizeof(es)))
        of_warn("kafka client=%s %s", rd_kafka_name(c->rk), es);
    if (c->wake_q) {
        rd_kafka_queue_io_event_enable(c->wake_q, -1, NULL, 0);
        rd_kafka_queue_destroy(c->wake_q);
    }
    rd_kafka_destroy(c->rk);
    for (int i = 0; i < 2; i++)
        if (c->wake[i] >= 0) close(c->wake[i]);
    for (size_t i = 0; i < c->n_paused_topics; i++)
        free(c->paused_topics[i]);
    free(c->paused_topics);
    free(c->group_id);
    free(c->instance_id);
    free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading a whole topic */

int ofk_remaining_ms(int64_t deadline)
{
    int64_t left = deadline - of_now_ms();
    if (left <= 0) return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

/* The module's transient states, plus what a topic that was just created answers until every
 * broker knows its partitions. */
static bool watermark_err_transient(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
        return true;
    default:
        return ofk_err_transient(err);
    }
}

of_err ofk_watermarks(rd_kafka_t *rk, const char *topic, int32_t p, int64_t deadline, int64_t *lo,
                      int64_t *hi, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err;
    for (;;) {
        int left = ofk_remaining_ms(deadline);
        err = left ? rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, left)
                   : RD_KAFKA_RESP_ERR__TIMED_OUT;
        /* Right after a topic is created its leaders are not known to every broker yet
         * (NOT_LEADER, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PART): ask again until the
         * deadline rather than failing a start-up that raced the creation. */
        if (!watermark_err_transient(err) || !ofk_remaining_ms(deadline)) break;
        rd_kafka_poll(rk, 100);
    }
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka read %s [%d]: watermarks: %s",
                         topic, (int)p, rd_kafka_err2str(err));
    return OF_OK;
}

of_err ofk_topic_partitions(rd_kafka_t *rk, const char *topic, int64_t deadline, int *nparts,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka read %s: no topic handle",
                         topic);
    of_err rc = OF_OK;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int left = ofk_remaining_ms(deadline);
        rd_kafka_resp_err_t err =
            left ? rd_kafka_metadata(rk, 0, rkt, &md, left) : RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (err) {
            rc = of_seterr(errstr, errstr_size, ofk_err(err), "kafka read %s: metadata: %s", topic,
                           rd_kafka_err2str(err));
            break;
        }
        rd_kafka_resp_err_t terr =
            md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        int cnt = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
        rd_kafka_metadata_destroy(md);
        if (terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            terr == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            *nparts = 0;
            break;
        }
        if (!terr) {
            *nparts = cnt;
            break;
        }
        /* LEADER_NOT_AVAILABLE and friends right after creation: ask again. */
        if (!ofk_remaining_ms(deadline)) {
            rc = of_seterr(errstr, errstr_size, OF_ERR_TIMEOUT, "kafka read %s: metadata: %s",
                           topic, rd_kafka_err2str(terr));
            break;
        }
        rd_kafka_poll(rk, 100);
    }
    rd_kafka_topic_destroy(rkt);
    return rc;
}

typedef struct read_state {
    int nparts;
    int64_t *end; /* high watermark at the start, per partition */
    bool *done;   /* reached end (EOF or end - 1 delivered) */
    int pending;  /* partitions not done */
    size_t count;
} read_state;

static void mark_done(read_state *st, int32_t partition)
{
    if (partition >= 0 && partition < st->nparts && !st->done[partition]) {
        st->done[partition] = true;
        st->pending--;
    }
}

static of_err read_loop(rd_kafka_t *rk, const char *topic, int64_t deadline, read_state *st,
                        of_kafka_message_cb *on_message, void *opaque, char *errstr,
                        size_t errstr_size)
{
    while (st->pending > 0) {
        int left = ofk_remaining_ms(deadline);
        if (!left)
            return of_seterr(errstr, errstr_size, OF_ERR_TIMEOUT,
                             "kafka read %s: %d partition(s) not read to the end in time", topic,
                             st->pending);
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, left < 200 ? left : 200);
        if (!rkm) continue;
        int32_t part = rkm->partition;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* With read_committed the end is the last stable offset, past any control records
             * and aborted data, which an offset comparison alone would wait for forever. */
            mark_done(st, part);
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (rkm->err) {
            /* Transient (broker restart, rebalance of leadership): librdkafka retries. */
            of_warn("kafka client=%s read topic=%s: %s", rd_kafka_name(rk), topic,
                    rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (part < 0 || part >= st->nparts || st->done[part] || rkm->offset >= st->end[part]) {
            rd_kafka_message_destroy(rkm); /* written after we started: not ours to read */
            if (part >= 0 && part < st->nparts) mark_done(st, part);
            continue;
        }
        of_kafka_message view;
        ofk_message_view(rkm, &view);
        of_err rc = on_message(opaque, &view);
        st->count++;
        if (rkm->offset >= st->end[part] - 1) mark_done(st, part);
        rd_kafka_message_destroy(rkm);
        if (rc) return rc;
    }
    return OF_OK;
}

of_err ofk_reader_new(const of_kafka_config *cfg, const char *kind, bool eof, rd_kafka_t **out,
                      char *errstr, size_t errstr_size)
{
    /* A group id is required by librdkafka's consumer, but with assign() and no commits the
     * group is never joined; make it unique so it cannot collide with a real group. */
    char group[160];
    snprintf(group, sizeof(group), "%s-%s-%lld-%p",
             cfg && cfg->client_id ? cfg->client_id : "octofleet", kind, (long long)of_wall_ms(),
             (void *)&group);
    const of_kafka_prop defaults[] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", eof ? "true" : "false"},
        {"isolation.level", "read_committed"},
        {"auto.offset.reset", "earliest"},
    };
    rd_kafka_conf_t *conf = NULL;
    *out = NULL;
    of_err rc = ofk_conf_new(RD_KAFKA_CONSUMER, cfg, defaults,
                             sizeof(defaults) / sizeof(defaults[0]), &conf, errstr, errstr_size);
    if (!rc) rc = ofk_new(RD_KAFKA_CONSUMER, &conf, out, errstr, errstr_size);
    if (!rc) rd_kafka_poll_set_consumer(*out);
    return rc;
}

of_err of_kafka_read_topic(const of_kafka_config *cfg, const char *topic, int timeout_ms,
                           of_kafka_message_cb *on_message, void *opaque, size_t *count,
                           char *errstr, size_t errstr_size)
{
    if (count) *count = 0;
    if (!topic || !*topic || !on_message)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka read: bad arguments");
    int64_t deadline = of_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    rd_kafka_t *rk = NULL;
    of_err rc = ofk_reader_new(cfg, "reader", true, &rk, errstr, errstr_size);
    if (rc) return rc;

    read_state st = {0};
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_resp_err_t err;
    rc = ofk_topic_partitions(rk, topic, deadline, &st.nparts, errstr, errstr_size);
    if (rc || st.nparts == 0) goto out;
    st.end = calloc((size_t)st.nparts, sizeof(*st.end));
    st.done = calloc((size_t)st.nparts, sizeof(*st.done));
    list = rd_kafka_topic_partition_list_new(st.nparts);
    if (!st.end || !st.done || !list) {
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka read %s: out of memory", topic);
        goto out;
    }
    for (int32_t p = 0; p < st.nparts; p++) {
        int64_t lo = 0, hi = 0;
        rc = ofk_watermarks(rk, topic, p, deadline, &lo, &hi, errstr, errstr_size);
        if (rc) goto out;
        st.end[p] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
            st.pending++;
        } else {
            st.done[p] = true;
        }
    }
    if (st.pending == 0) goto out;
    err = rd_kafka_assign(rk, list);
    if (err) {
        rc = of_seterr(errstr, errstr_size, ofk_err(err), "kafka read %s: assign: %s", topic,
                       rd_kafka_err2str(err));
        goto out;
    }
    rc = read_loop(rk, topic, deadline, &st, on_message, opaque, errstr, errstr_size);

out:
    if (count) *count = st.count;
    if (list) rd_kafka_topic_partition_list_destroy(list);
    free(st.end);
    free(st.done);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Manual assignment */

of_err of_kafka_partition_count(of_kafka_consumer *c, const char *topic, int timeout_ms, int *n,
                                char *errstr, size_t errstr_size)
{
    *n = 0;
    if (!topic || !*topic)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka partitions: no topic");
    return ofk_topic_partitions(c->rk, topic, of_now_ms() + (timeout_ms > 0 ? timeout_ms : 0), n,
                                errstr, errstr_size);
}

of_err of_kafka_offsets_for_times(of_kafka_consumer *c, of_kafka_offset *offs, size_t n,
                                  int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!n) return OF_OK;
    rd_kafka_topic_partition_list_t *list = ofk_list_from_offsets(offs, n);
    if (!list)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka offsets for times: no memory");
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(c->rk), "offsets for times", timeout_ms);
    rd_kafka_resp_err_t err;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            list->elems[i].offset = offs[i].offset; /* the time, in ms */
            list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        int left = ofk_retry_left(&r);
        err = rd_kafka_offsets_for_times(c->rk, list, left > 0 ? left : 1);
        for (int i = 0; !err && i < list->cnt; i++)
            err = list->elems[i].err;
        if (!err) break;
        of_seterr(errstr, errstr_size, ofk_err(err), "kafka offsets for times: %s",
                  rd_kafka_err2str(err));
        if (!ofk_retry_again(&r, err, errstr, errstr_size)) break;
    }
    if (!err)
        for (size_t i = 0; i < n; i++) /* -1: no message at or after that time (yet) */
            offs[i].offset =
                list->elems[i].offset >= 0 ? list->elems[i].offset : OF_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_destroy(list);
    return err ? ofk_err(err) : OF_OK;
}

of_err of_kafka_assign(of_kafka_consumer *c, const of_kafka_offset *offs, size_t n, char *errstr,
                       size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list = ofk_list_from_offsets(offs, n);
    if (!list) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka assign: out of memory");
    for (size_t i = 0; i < n; i++) {
        int64_t o = offs[i].offset;
        list->elems[i].offset = o == OF_KAFKA_OFFSET_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING
                                : o == OF_KAFKA_OFFSET_END     ? RD_KAFKA_OFFSET_END
                                : o >= 0                       ? o
                                                               : RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka assign: %s",
                         rd_kafka_err2str(err));
    return OF_OK;
}

of_err of_kafka_commit_offsets(of_kafka_consumer *c, const of_kafka_offset *offs, size_t n,
                               char *errstr, size_t errstr_size)
{
    if (!n) return OF_OK;
    rd_kafka_topic_partition_list_t *list = ofk_list_from_offsets(offs, n);
    if (!list) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka commit: out of memory");
    ofk_retry r;
    ofk_retry_init(&r, rd_kafka_name(c->rk), "commit offsets", OF_KAFKA_COMMIT_RETRY_MS);
    rd_kafka_resp_err_t err;
    for (;;) {
        for (int i = 0; i < list->cnt; i++)
            list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        err = rd_kafka_commit(c->rk, list, 0);
        for (int i = 0; !err && i < list->cnt; i++)
            err = list->elems[i].err;
        if (!err) break;
        of_seterr(errstr, errstr_size, ofk_err(err), "kafka commit: %s", rd_kafka_err2str(err));
        if (!ofk_retry_again(&r, err, errstr, errstr_size)) break;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return err ? ofk_err(err) : OF_OK;
}
