/* The Kafka module, part 1: configuration, logging, error mapping, messages, the producer and
 * transactions. Consumer: kafka_consumer.c. Admin and mock: kafka_admin.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka_priv.h"
#include "log.h"

/* ------------------------------------------------------------------------------------------ */
/* Logging and configuration */

/* librdkafka logs with syslog levels from its own threads; of_log is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    of_log_level lvl = level <= 3   ? OF_LOG_ERROR
                       : level == 4 ? OF_LOG_WARN
                       : level <= 6 ? OF_LOG_INFO
                                    : OF_LOG_DEBUG;
    of_log(lvl, "kafka client=%s fac=%s %s", rd_kafka_name(rk), fac, buf);
}

/* Error events (served by poll). Most are transient and librdkafka recovers by itself, so they
 * are warnings; a fatal one is an error and is kept by librdkafka for rd_kafka_fatal_error. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fe[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fe, sizeof(fe));
        of_error("kafka client=%s fatal error=%s %s", rd_kafka_name(rk), rd_kafka_err2name(orig),
                 fe);
        return;
    }
    of_warn("kafka client=%s error=%s %s", rd_kafka_name(rk),
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

void ofk_conf_callbacks(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}

/* The same rule the config dump uses for masking: such values never reach a log line. */
static int secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "key");
}

of_err ofk_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errstr_size)
{
    char rerr[512];
    if (!key || !*key)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka property with an empty name");
    if (!value)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka property %s: no value", key);
    if (rd_kafka_conf_set(conf, key, value, rerr, sizeof(rerr)) != RD_KAFKA_CONF_OK) {
        if (secret_key(key))
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                             "kafka property %s: invalid value (not shown)", key);
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka property %s: %s", key, rerr);
    }
    return OF_OK;
}

/* The properties librdkafka 2.0.2 documents as consumer-only (C) or producer-only (P). One
 * kafka.properties list serves every handle of a daemon, so each handle skips the other
 * kind's. Unknown names pass through: librdkafka then says what is wrong with them. */
static const char *const consumer_only[] = {
    "group.id",
    "group.instance.id",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.protocol.type",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "offset.store.method",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "auto.offset.reset",
    "allow.auto.create.topics",
};
static const char *const producer_only[] = {
    "transactional.id",
    "transaction.timeout.ms",
    "enable.idempotence",
    "enable.gapless.guarantee",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.ms",
    "linger.ms",
    "message.send.max.retries",
    "retries",
    "retry.backoff.ms", /* producer-only in librdkafka 2.0 (a consumer warns about it) */
    "queue.buffering.backpressure.threshold",
    "compression.codec",
    "compression.type",
    "compression.level",
    "batch.num.messages",
    "batch.size",
    "delivery.report.only.error",
    "acks",
    "request.required.acks",
    "request.timeout.ms",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "partitioner",
    "sticky.partitioning.linger.ms",
};

bool ofk_prop_foreign(rd_kafka_type_t type, const char *key)
{
    const char *const *list = type == RD_KAFKA_PRODUCER ? consumer_only : producer_only;
    size_t n = type == RD_KAFKA_PRODUCER ? sizeof(consumer_only) / sizeof(consumer_only[0])
                                         : sizeof(producer_only) / sizeof(producer_only[0]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0) return true;
    return false;
}

of_err ofk_conf_new(rd_kafka_type_t type, const of_kafka_config *cfg, const of_kafka_prop *defaults,
                    size_t ndefaults, rd_kafka_conf_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!cfg) return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka: no configuration");
    const char *bootstrap =
        cfg->mock ? of_kafka_mock_bootstraps(cfg->mock) : cfg->bootstrap_servers;
    if (!bootstrap || !*bootstrap)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka: no bootstrap servers");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka: out of memory");
    ofk_conf_callbacks(conf);

    of_err rc = ofk_conf_set(conf, "bootstrap.servers", bootstrap, errstr, errstr_size);
    if (!rc)
        rc = ofk_conf_set(conf, "client.id", cfg->client_id ? cfg->client_id : "octofleet", errstr,
                          errstr_size);
    /* Brokers close idle connections (connections.max.idle.ms); that is not worth a log line. */
    if (!rc) rc = ofk_conf_set(conf, "log.connection.close", "false", errstr, errstr_size);
    for (size_t i = 0; !rc && i < ndefaults; i++)
        rc = ofk_conf_set(conf, defaults[i].key, defaults[i].value, errstr, errstr_size);
    for (size_t i = 0; !rc && i < cfg->nprops; i++)
        if (!ofk_prop_foreign(type, cfg->props[i].key))
            rc = ofk_conf_set(conf, cfg->props[i].key, cfg->props[i].value, errstr, errstr_size);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = conf;
    return OF_OK;
}

of_err ofk_new(rd_kafka_type_t type, rd_kafka_conf_t **conf, rd_kafka_t **out, char *errstr,
               size_t errstr_size)
{
    char rerr[512];
    *out = rd_kafka_new(type, *conf, rerr, sizeof(rerr));
    if (!*out) {
        /* rd_kafka_new takes the conf only on success. */
        rd_kafka_conf_destroy(*conf);
        *conf = NULL;
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka: %s", rerr);
    }
    *conf = NULL;
    return OF_OK;
}

of_err ofk_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return OF_OK;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return OF_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
        return OF_ERR_NETWORK;
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
        return OF_ERR_STATE;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return OF_ERR_INVALID;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return OF_ERR_TOO_LARGE;
    case RD_KAFKA_RESP_ERR__NOENT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return OF_ERR_NOT_FOUND;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return OF_ERR_AUTH;
    default:
        return OF_ERR_KAFKA;
    }
}

/* Errors that the same message meets again however often it is produced. */
static bool ofk_err_permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return true;
    default:
        return false;
    }
}

bool of_kafka_permanent(of_err err)
{
    return err == OF_ERR_TOO_LARGE || err == OF_ERR_AUTH || err == OF_ERR_INVALID;
}

/* ------------------------------------------------------------------------------------------ */
/* Transient or permanent: the one place that decides */

bool ofk_err_transient(rd_kafka_resp_err_t err)
{
    switch (err) {
    /* the group or transaction coordinator is loading, moving or not elected yet */
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    /* partition leadership is moving (broker restart, election) */
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    /* a transaction of the previous producer instance is still being completed */
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    /* offsets pending in an open transaction (the broker answers this to require_stable) */
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
    /* the broker is slow or away: timeouts and transport failures while it restarts */
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        return true;
    default:
        return false;
    }
}

void ofk_retry_init(ofk_retry *r, const char *client, const char *what, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->client = client ? client : "octofleet";
    r->what = what;
    r->start = of_now_ms();
    r->deadline = r->start + (timeout_ms > 0 ? timeout_ms : 0);
    r->rnd = (uint64_t)r->start * 2654435761u | 1u;
}

int ofk_retry_left(const ofk_retry *r)
{
    int64_t left = r->deadline - of_now_ms();
    if (left <= 0) return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Waits ms on a monotonic clock; only ever a retry backoff, never synchronisation. */
static void backoff_sleep(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool ofk_retry_again(ofk_retry *r, rd_kafka_resp_err_t err, char *errstr, size_t errstr_size)
{
    r->attempt++;
    bool transient = ofk_err_transient(err);
    int left = ofk_retry_left(r);
    /* Another attempt must have a little time to run after the backoff. */
    if (transient && left > 100) {
        int64_t delay = of_backoff_ms(r->attempt - 1, 200, 5000, &r->rnd);
        if (delay > left - 100) delay = left - 100;
        of_warn("kafka client=%s %s: %s (transient, attempt %d; retrying in %lld ms, giving up "
                "in %d s)",
                r->client, r->what, rd_kafka_err2name(err), r->attempt, (long long)delay,
                (left + 999) / 1000);
        backoff_sleep(delay);
        return true;
    }
    if (transient && errstr && errstr_size) {
        size_t len = strlen(errstr);
        if (len < errstr_size)
            snprintf(errstr + len, errstr_size - len,
                     " (still failing after %d attempt(s) over %lld ms: the cluster did not "
                     "recover in time)",
                     r->attempt, (long long)(of_now_ms() - r->start));
    }
    return false;
}

rd_kafka_topic_partition_list_t *ofk_list_from_offsets(const of_kafka_offset *offs, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(list, offs[i].topic, offs[i].partition);
        tp->offset = offs[i].offset;
    }
    return list;
}

of_kafka_partition *ofk_parts_from_list(const rd_kafka_topic_partition_list_t *list)
{
    if (!list || list->cnt <= 0) return NULL;
    of_kafka_partition *parts = calloc((size_t)list->cnt, sizeof(*parts));
    if (!parts) return NULL;
    for (int i = 0; i < list->cnt; i++) {
        parts[i].topic = list->elems[i].topic;
        parts[i].partition = list->elems[i].partition;
    }
    return parts;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages */

void ofk_message_view(rd_kafka_message_t *rkm, of_kafka_message *m)
{
    rd_kafka_timestamp_type_t tstype;
    memset(m, 0, sizeof(*m));
    m->topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->key = rkm->key;
    m->key_len = rkm->key_len;
    m->value = rkm->payload;
    m->value_len = rkm->len;
    m->timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype);
    m->priv_ = rkm;
}

of_kafka_message *ofk_message_wrap(rd_kafka_message_t *rkm)
{
    of_kafka_message *m = malloc(sizeof(*m));
    if (!m) {
        rd_kafka_message_destroy(rkm);
        return NULL;
    }
    ofk_message_view(rkm, m);
    return m;
}

static rd_kafka_headers_t *msg_headers(const of_kafka_message *msg)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (!msg || !msg->priv_) return NULL;
    if (rd_kafka_message_headers((rd_kafka_message_t *)msg->priv_, &hdrs) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return hdrs;
}

bool of_kafka_message_header(const of_kafka_message *msg, const char *name, const void **value,
                             size_t *value_len)
{
    rd_kafka_headers_t *hdrs = msg_headers(msg);
    const void *v = NULL;
    size_t len = 0;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    if (value) *value = v;
    if (value_len) *value_len = len;
    return true;
}

size_t of_kafka_message_header_count(const of_kafka_message *msg)
{
    rd_kafka_headers_t *hdrs = msg_headers(msg);
    return hdrs ? rd_kafka_header_cnt(hdrs) : 0;
}

bool of_kafka_message_header_at(const of_kafka_message *msg, size_t idx, const char **name,
                                const void **value, size_t *value_len)
{
    rd_kafka_headers_t *hdrs = msg_headers(msg);
    const char *n = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (!hdrs || rd_kafka_header_get_all(hdrs, idx, &n, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    if (name) *name = n;
    if (value) *value = v;
    if (value_len) *value_len = len;
    return true;
}

void of_kafka_message_free(of_kafka_message *msg)
{
    if (!msg) return;
    if (msg->priv_) rd_kafka_message_destroy((rd_kafka_message_t *)msg->priv_);
    free(msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer */

struct of_kafka_producer {
    rd_kafka_t *rk;
    bool transactional;
    rd_kafka_topic_t **warm; /* of_kafka_producer_warm's topics, held so they stay known */
    size_t n_warm;
};

/* What a message carries to its delivery report (rd_kafka msg_opaque). Allocated per message,
 * freed in dr_msg_cb, which librdkafka calls exactly once per accepted message. */
typedef struct dr_ctx {
    of_kafka_delivery_cb *cb;
    void *opaque;
} dr_ctx;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)opaque;
    dr_ctx *ctx = rkm->_private;
    const char *topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
    if (!ctx) {
        if (rkm->err)
            of_warn("kafka client=%s delivery failed topic=%s partition=%d error=%s %s",
                    rd_kafka_name(rk), topic, (int)rkm->partition, rd_kafka_err2name(rkm->err),
                    rd_kafka_err2str(rkm->err));
        return;
    }
    of_kafka_delivery d;
    memset(&d, 0, sizeof(d));
    d.err = ofk_err(rkm->err);
    d.errname = rd_kafka_err2name(rkm->err);
    /* Not rd_kafka_message_errstr: on a delivery report the payload is the message, not text. */
    d.errstr = rd_kafka_err2str(rkm->err);
    d.topic = topic;
    d.partition = rkm->partition;
    d.offset = rkm->err ? -1 : rkm->offset;
    d.permanent = ofk_err_permanent(rkm->err);
    switch (rd_kafka_message_status(rkm)) {
    case RD_KAFKA_MSG_STATUS_PERSISTED:
        d.persisted = OF_KAFKA_PERSISTED;
        break;
    case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
        d.persisted = OF_KAFKA_POSSIBLY_PERSISTED;
        break;
    default:
        d.persisted = OF_KAFKA_NOT_PERSISTED;
        break;
    }
    ctx->cb(ctx->opaque, &d);
    free(ctx);
}

of_err of_kafka_producer_new(const of_kafka_config *cfg, const char *transactional_id,
                             of_kafka_producer **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    /* Idempotence always: no duplicates or reordering from client retries (reference §5.1).
     * A transaction that follows another at once finds its markers still being written, and
     * the coordinator answers CONCURRENT_TRANSACTIONS; librdkafka retries AddPartitionsToTxn
     * after 20 ms but AddOffsetsToTxn after retry.backoff.ms (100 by default), which made a
     * transaction with offsets only take 100+ ms (docs/benchmarks.md). kafka.properties may
     * still set it. */
    of_kafka_prop defaults[3] = {{"enable.idempotence", "true"},
                                 {"transactional.id", NULL},
                                 {"retry.backoff.ms", OF_KAFKA_TXN_RETRY_BACKOFF_MS}};
    size_t ndefaults = 1;
    if (transactional_id) {
        if (!*transactional_id)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka: empty transactional.id");
        defaults[1].value = transactional_id;
        ndefaults = 3;
    }
    rd_kafka_conf_t *conf = NULL;
    of_err rc =
        ofk_conf_new(RD_KAFKA_PRODUCER, cfg, defaults, ndefaults, &conf, errstr, errstr_size);
    if (rc) return rc;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);

    of_kafka_producer *p = calloc(1, sizeof(*p));
    if (!p) {
        rd_kafka_conf_destroy(conf);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka: out of memory");
    }
    p->transactional = transactional_id != NULL;
    rc = ofk_new(RD_KAFKA_PRODUCER, &conf, &p->rk, errstr, errstr_size);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return OF_OK;
}

of_err of_kafka_produce(of_kafka_producer *p, const of_kafka_record *rec,
                        of_kafka_delivery_cb *on_delivery, void *opaque, char *errstr,
                        size_t errstr_size)
{
    if (!p || !rec || !rec->topic || !*rec->topic || (rec->nheaders && !rec->headers))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka produce: bad arguments");

    rd_kafka_headers_t *hdrs = NULL;
    if (rec->nheaders) {
        hdrs = rd_kafka_headers_new(rec->nheaders);
        for (size_t i = 0; i < rec->nheaders; i++) {
            const of_kafka_header *h = &rec->headers[i];
            if (!h->name || rd_kafka_header_add(hdrs, h->name, -1, h->value,
                                                h->value ? (ssize_t)h->value_len : 0)) {
                rd_kafka_headers_destroy(hdrs);
                return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                                 "kafka produce: bad header %zu", i);
            }
        }
    }
    dr_ctx *ctx = NULL;
    if (on_delivery) {
        ctx = malloc(sizeof(*ctx));
        if (!ctx) {
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka produce: out of memory");
        }
        ctx->cb = on_delivery;
        ctx->opaque = opaque;
    }

    /* rd_kafka_vu_t holds non-const pointers; RD_KAFKA_MSG_F_COPY means librdkafka only reads. */
    rd_kafka_vu_t vu[7];
    size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = rec->topic;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = rec->partition;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)(uintptr_t)rec->key;
    vu[n++].u.mem.size = rec->key ? rec->key_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)(uintptr_t)rec->value;
    vu[n++].u.mem.size = rec->value ? rec->value_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = ctx;
    if (hdrs) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = hdrs;
    }

    int64_t deadline = 0;
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vu, n);
        if (!error) return OF_OK; /* headers and ctx now belong to the message */
        rd_kafka_resp_err_t err = rd_kafka_error_code(error);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* Back-pressure: serve delivery reports so the queue drains, within a bound. */
            int64_t now = of_now_ms();
            if (!deadline) deadline = now + 10000;
            if (now < deadline) {
                rd_kafka_error_destroy(error);
                rd_kafka_poll(p->rk, 100);
                continue;
            }
        }
        of_err rc = err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? OF_ERR_TIMEOUT : ofk_err(err);
        of_seterr(errstr, errstr_size, rc, "kafka produce to %s: %s", rec->topic,
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free(ctx);
        return rc;
    }
}

int of_kafka_producer_poll(of_kafka_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

of_err of_kafka_flush(of_kafka_producer *p, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return of_seterr(errstr, errstr_size, OF_ERR_TIMEOUT,
                         "kafka flush: %d message(s) still outstanding after %d ms",
                         rd_kafka_outq_len(p->rk), timeout_ms);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka flush: %s",
                         rd_kafka_err2str(err));
    return OF_OK;
}

int of_kafka_producer_outq_len(of_kafka_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

bool of_kafka_producer_fatal(of_kafka_producer *p, char *errstr, size_t errstr_size)
{
    char fe[512];
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(p->rk, fe, sizeof(fe));
    if (!err) return false;
    of_seterr(errstr, errstr_size, OF_ERR_STATE, "kafka fatal error %s: %s", rd_kafka_err2name(err),
              fe);
    return true;
}

of_err of_kafka_producer_conf_get(of_kafka_producer *p, const char *name, char *out,
                                  size_t out_size)
{
    size_t n = out_size;
    rd_kafka_conf_res_t r = rd_kafka_conf_get(rd_kafka_conf(p->rk), name, out, &n);
    if (r == RD_KAFKA_CONF_UNKNOWN) return OF_ERR_NOT_FOUND;
    if (r != RD_KAFKA_CONF_OK || n > out_size) return OF_ERR_TOO_LARGE;
    return OF_OK;
}

void of_kafka_producer_destroy(of_kafka_producer *p)
{
    if (!p) return;
    /* Purge what is left and serve the resulting reports, so every callback runs once and
     * every dr_ctx is freed; rd_kafka_destroy would drop them unserved. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t deadline = of_now_ms() + 5000;
    while (rd_kafka_outq_len(p->rk) > 0 && of_now_ms() < deadline)
        rd_kafka_poll(p->rk, 50);
    for (size_t i = 0; i < p->n_warm; i++)
        rd_kafka_topic_destroy(p->warm[i]);
    free(p->warm);
    rd_kafka_destroy(p->rk);
    free(p);
}

/* Appends "name (why)" (and a separator) to the list in buf, as far as it fits. */
static void list_add(char *buf, size_t size, const char *name, const char *why)
{
    size_t len = strlen(buf);
    if (len < size) (void)snprintf(buf + len, size - len, "%s%s (%s)", len ? ", " : "", name, why);
}

of_err of_kafka_producer_warm(of_kafka_producer *p, const char *const *topics, size_t n,
                              int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t **warm = realloc(p->warm, (p->n_warm + n) * sizeof *warm);
    if (!warm && p->n_warm + n)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka: out of memory");
    p->warm = warm;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topics[i], NULL);
        if (!rkt)
            return of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka topic %s: %s", topics[i],
                             rd_kafka_err2str(rd_kafka_last_error()));
        p->warm[p->n_warm++] = rkt;
    }
    /* all_topics 0 and no topic: the topics this client knows, the ones just added among
     * them. The reply updates the client's own view, leaders included. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka metadata: %s",
                         rd_kafka_err2str(err));
    char bad[512] = "";
    for (size_t i = 0; i < n; i++) {
        const struct rd_kafka_metadata_topic *t = NULL;
        for (int k = 0; k < md->topic_cnt && !t; k++)
            if (strcmp(md->topics[k].topic, topics[i]) == 0) t = &md->topics[k];
        const char *why = !t                      ? "not in the reply"
                          : t->err                ? rd_kafka_err2str(t->err)
                          : t->partition_cnt <= 0 ? "no partitions"
                                                  : NULL;
        for (int k = 0; !why && k < t->partition_cnt; k++)
            if (t->partitions[k].leader < 0) why = "a partition without a leader";
        if (why) list_add(bad, sizeof bad, topics[i], why);
    }
    rd_kafka_metadata_destroy(md);
    if (bad[0]) return of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka metadata: %s", bad);
    return OF_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions */

/* Classifies and consumes an rd_kafka_error_t. NULL is success. */
static of_err txn_result(rd_kafka_error_t *error, const char *what, of_kafka_txn_action *action,
                         char *errstr, size_t errstr_size)
{
    of_kafka_txn_action a = OF_KAFKA_TXN_NONE;
    of_err rc = OF_OK;
    if (error) {
        /* Order matters: fatal wins; abortable before retriable; anything unclassified is
         * treated as fatal, as librdkafka recommends. */
        if (rd_kafka_error_is_fatal(error))
            a = OF_KAFKA_TXN_FATAL;
        else if (rd_kafka_error_txn_requires_abort(error))
            a = OF_KAFKA_TXN_ABORT;
        else if (rd_kafka_error_is_retriable(error) ||
                 ofk_err_transient(rd_kafka_error_code(error)))
            a = OF_KAFKA_TXN_RETRY;
        else
            a = OF_KAFKA_TXN_FATAL;
        rc = ofk_err(rd_kafka_error_code(error));
        if (rc == OF_OK) rc = OF_ERR_KAFKA;
        static const char *const names[] = {"none", "retry", "abort", "fatal"};
        of_seterr(errstr, errstr_size, rc, "kafka %s: %s: %s (%s)", what,
                  rd_kafka_error_name(error), rd_kafka_error_string(error), names[a]);
        rd_kafka_error_destroy(error);
    }
    if (action) *action = a;
    return rc;
}

static of_err txn_check(of_kafka_producer *p, const char *what, of_kafka_txn_action *action,
                        char *errstr, size_t errstr_size)
{
    if (action) *action = OF_KAFKA_TXN_NONE;
    if (!p || !p->transactional) {
        if (action) *action = OF_KAFKA_TXN_FATAL;
        return of_seterr(errstr, errstr_size, OF_ERR_STATE,
                         "kafka %s: producer was created without a transactional.id", what);
    }
    return OF_OK;
}

/* The transaction calls that take only the producer (and a timeout). */
typedef enum txn_call { TXN_INIT, TXN_BEGIN, TXN_COMMIT, TXN_ABORT } txn_call;

static of_err txn_simple(of_kafka_producer *p, txn_call call, int timeout_ms,
                         of_kafka_txn_action *action, char *errstr, size_t errstr_size)
{
    static const char *const what[] = {"init transactions", "begin transaction",
                                       "commit transaction", "abort transaction"};
    of_err rc = txn_check(p, what[call], action, errstr, errstr_size);
    if (rc) return rc;
    rd_kafka_error_t *error = NULL;
    switch (call) {
    case TXN_INIT:
        error = rd_kafka_init_transactions(p->rk, timeout_ms);
        break;
    case TXN_BEGIN:
        error = rd_kafka_begin_transaction(p->rk);
        break;
    case TXN_COMMIT:
        /* commit_transaction flushes; delivery reports are served by it (dr_msg_cb mode). */
        error = rd_kafka_commit_transaction(p->rk, timeout_ms);
        break;
    case TXN_ABORT:
        error = rd_kafka_abort_transaction(p->rk, timeout_ms);
        break;
    }
    return txn_result(error, what[call], action, errstr, errstr_size);
}

of_err of_kafka_txn_init(of_kafka_producer *p, int timeout_ms, of_kafka_txn_action *action,
                         char *errstr, size_t errstr_size)
{
    return txn_simple(p, TXN_INIT, timeout_ms, action, errstr, errstr_size);
}

of_err of_kafka_txn_begin(of_kafka_producer *p, of_kafka_txn_action *action, char *errstr,
                          size_t errstr_size)
{
    return txn_simple(p, TXN_BEGIN, 0, action, errstr, errstr_size);
}

of_err of_kafka_txn_send_offsets(of_kafka_producer *p, of_kafka_consumer *c,
                                 const of_kafka_offset *offsets, size_t n, int timeout_ms,
                                 of_kafka_txn_action *action, char *errstr, size_t errstr_size)
{
    of_err rc = txn_check(p, "send offsets", action, errstr, errstr_size);
    if (rc) return rc;
    if (!c || (n && !offsets))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka send offsets: bad arguments");
    rd_kafka_consumer_group_metadata_t *cgmd =
        rd_kafka_consumer_group_metadata(ofk_consumer_handle(c));
    if (!cgmd)
        return of_seterr(errstr, errstr_size, OF_ERR_STATE,
                         "kafka send offsets: consumer has no group metadata");
    rd_kafka_topic_partition_list_t *list = ofk_list_from_offsets(offsets, n);
    if (!list) {
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka send offsets: out of memory");
    }
    rc = txn_result(rd_kafka_send_offsets_to_transaction(p->rk, list, cgmd, timeout_ms),
                    "send offsets", action, errstr, errstr_size);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    return rc;
}

of_err of_kafka_txn_commit(of_kafka_producer *p, int timeout_ms, of_kafka_txn_action *action,
                           char *errstr, size_t errstr_size)
{
    return txn_simple(p, TXN_COMMIT, timeout_ms, action, errstr, errstr_size);
}

of_err of_kafka_txn_abort(of_kafka_producer *p, int timeout_ms, of_kafka_txn_action *action,
                          char *errstr, size_t errstr_size)
{
    return txn_simple(p, TXN_ABORT, timeout_ms, action, errstr, errstr_size);
}

of_err of_kafka_prop_check(const char *key, const char *value, char *errstr, size_t errstr_size)
{
    if (!key || !*key)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka property with an empty name");
    if (!value)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "kafka property %s: no value", key);
    /* Setting it loads (and runs) the plugin: not something a config check may do. */
    if (strcmp(key, "plugin.library.paths") == 0) return OF_OK;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka: out of memory");
    char rerr[512] = "";
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, rerr, sizeof(rerr));
    rd_kafka_conf_destroy(conf);
    switch (res) {
    case RD_KAFKA_CONF_OK:
        return OF_OK;
    case RD_KAFKA_CONF_UNKNOWN:
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "unknown librdkafka property '%s'",
                         key);
    default:
        /* librdkafka's message quotes the value: not for a secret. */
        if (secret_key(key))
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                             "librdkafka property '%s': invalid value (not shown)", key);
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "librdkafka property '%s': %s", key,
                         rerr);
    }
}
