/* The Kafka module, part 3: topic creation, group descriptions and the librdkafka mock
 * cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka_priv.h"
#include "log.h"

/* ------------------------------------------------------------------------------------------ */
/* Admin */

static of_err ensure_on_mock(of_kafka_mock *m, const of_kafka_topic_spec *topics, size_t n,
                             char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        of_err rc = of_kafka_mock_create_topic(m, topics[i].name, topics[i].partitions, errstr,
                                               errstr_size);
        if (rc) return rc;
    }
    return OF_OK;
}

/* For a cluster without CreateTopics (a mock in another process): a metadata request for the
 * topic from a producer handle makes the broker auto-create it with its default partitions. */
static of_err ensure_by_metadata(rd_kafka_t *rk, const of_kafka_topic_spec *t, int timeout_ms,
                                 char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t->name, NULL);
    if (!rkt)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka create topic %s: no handle",
                         t->name);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (!err && md->topic_cnt == 1) err = md->topics[0].err;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    /* Just auto-created topics may report LEADER_NOT_AVAILABLE on this first request. */
    if (err && err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka create topic %s: %s", t->name,
                         rd_kafka_err2str(err));
    of_warn("kafka topic=%s created by auto-creation (no CreateTopics API): partition count is "
            "the cluster default, not %d",
            t->name, t->partitions);
    return OF_OK;
}

/* One CreateTopics round trip. *rderr receives the librdkafka code behind a failure (the
 * request's, or the first topic's) so the caller can tell transient from permanent. */
static of_err create_topics(rd_kafka_t *rk, const of_kafka_topic_spec *topics, size_t n,
                            int timeout_ms, rd_kafka_resp_err_t *rderr, char *errstr,
                            size_t errstr_size)
{
    char rerr[512];
    of_err rc = OF_OK;
    *rderr = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_NewTopic_t **nts = calloc(n, sizeof(*nts));
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_resp_err_t everr;
    const rd_kafka_topic_result_t **res;
    size_t cnt = 0;
    if (!nts)
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka create topics: out of memory");

    for (size_t i = 0; i < n; i++) {
        const of_kafka_topic_spec *t = &topics[i];
        nts[i] = rd_kafka_NewTopic_new(t->name, t->partitions, t->replication_factor, rerr,
                                       sizeof(rerr));
        if (!nts[i]) {
            rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka create topic %s: %s",
                           t->name, rerr);
            goto out;
        }
        for (size_t j = 0; j < t->nconfigs; j++) {
            rd_kafka_resp_err_t err =
                rd_kafka_NewTopic_set_config(nts[i], t->configs[j].key, t->configs[j].value);
            if (err) {
                rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                               "kafka create topic %s: config %s: %s", t->name, t->configs[j].key,
                               rd_kafka_err2str(err));
                goto out;
            }
        }
    }
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    /* The operation timeout makes the broker answer only once the topics are created. */
    if (rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, rerr, sizeof(rerr)) ||
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, rerr, sizeof(rerr))) {
        rc = of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka create topics: %s", rerr);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nts, n, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (!ev) {
        *rderr = RD_KAFKA_RESP_ERR__TIMED_OUT;
        rc = of_seterr(errstr, errstr_size, OF_ERR_TIMEOUT,
                       "kafka create topics: no answer in %d ms", timeout_ms);
        goto out;
    }
    everr = rd_kafka_event_error(ev);
    if (everr == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
        for (size_t i = 0; !rc && i < n; i++)
            rc = ensure_by_metadata(rk, &topics[i], timeout_ms, errstr, errstr_size);
        goto out;
    }
    if (everr) {
        *rderr = everr;
        rc = of_seterr(errstr, errstr_size, ofk_err(everr), "kafka create topics: %s",
                       rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        const char *name = rd_kafka_topic_result_name(res[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            of_info("kafka created topic=%s", name);
        } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && !rc) {
            const char *es = rd_kafka_topic_result_error_string(res[i]);
            *rderr = err;
            rc = of_seterr(errstr, errstr_size, ofk_err(err), "kafka create topic %s: %s: %s", name,
                           rd_kafka_err2name(err), es ? es : rd_kafka_err2str(err));
        }
    }

out:
    if (ev) rd_kafka_event_destroy(ev);
    if (q) rd_kafka_queue_destroy(q);
    if (opts) rd_kafka_AdminOptions_destroy(opts);
    for (size_t i = 0; i < n; i++)
        if (nts[i]) rd_kafka_NewTopic_destroy(nts[i]);
    free(nts);
    return rc;
}

of_err of_kafka_ensure_topics(const of_kafka_config *cfg, const of_kafka_topic_spec *topics,
                              size_t n, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!n) return OF_OK;
    if (!topics)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka create topics: no topics");
    for (size_t i = 0; i < n; i++)
        if (!topics[i].name || !*topics[i].name || topics[i].partitions < 1 ||
            topics[i].replication_factor < 1 || (topics[i].nconfigs && !topics[i].configs))
            return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                             "kafka create topics: bad spec #%zu", i);
    if (cfg && cfg->mock) return ensure_on_mock(cfg->mock, topics, n, errstr, errstr_size);

    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    of_err rc = ofk_conf_new(RD_KAFKA_PRODUCER, cfg, NULL, 0, &conf, errstr, errstr_size);
    if (!rc) rc = ofk_new(RD_KAFKA_PRODUCER, &conf, &rk, errstr, errstr_size);
    if (rc) return rc;
    /* Retry transient states within timeout_ms. Each attempt gets at most a third of the
     * budget, so a request lost to a restarting broker still leaves time for another one;
     * topics an earlier attempt created answer "already exists" the next time. */
    ofk_retry r;
    ofk_retry_init(&r, cfg->client_id, "create topics", timeout_ms);
    for (;;) {
        int left = ofk_retry_left(&r);
        int attempt_ms = left / 3 > 5000 ? left / 3 : left;
        rd_kafka_resp_err_t rderr = RD_KAFKA_RESP_ERR_NO_ERROR;
        rc = create_topics(rk, topics, n, attempt_ms > 0 ? attempt_ms : 1, &rderr, errstr,
                           errstr_size);
        if (!rc || !ofk_retry_again(&r, rderr, errstr, errstr_size)) break;
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Group description */

void of_kafka_group_clear(of_kafka_group *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->nmembers; i++) {
        of_kafka_group_member *m = &g->members[i];
        free(m->member_id);
        free(m->client_id);
        free(m->instance_id);
        free(m->host);
        for (size_t k = 0; k < m->nparts; k++)
            free(m->parts[k].topic);
        free(m->parts);
    }
    free(g->members);
    free(g->state);
    free(g->partitions);
    memset(g, 0, sizeof(*g));
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Copies one member; false when out of memory. */
static bool copy_member(const rd_kafka_MemberDescription_t *md, of_kafka_group_member *m)
{
    m->member_id = dup_or_null(rd_kafka_MemberDescription_consumer_id(md));
    m->client_id = dup_or_null(rd_kafka_MemberDescription_client_id(md));
    m->instance_id = dup_or_null(rd_kafka_MemberDescription_group_instance_id(md));
    m->host = dup_or_null(rd_kafka_MemberDescription_host(md));
    const rd_kafka_MemberAssignment_t *ma = rd_kafka_MemberDescription_assignment(md);
    const rd_kafka_topic_partition_list_t *l = ma ? rd_kafka_MemberAssignment_partitions(ma) : NULL;
    if (l && l->cnt > 0) {
        m->parts = calloc((size_t)l->cnt, sizeof(*m->parts));
        if (!m->parts) return false;
        for (int i = 0; i < l->cnt; i++) {
            m->parts[i].partition = l->elems[i].partition;
            if (!(m->parts[i].topic = strdup(l->elems[i].topic))) return false;
            m->nparts++;
        }
    }
    return true;
}

/* Copies the one group description of a DescribeConsumerGroups result into out. */
static of_err take_description(rd_kafka_event_t *ev, const char *group, of_kafka_group *out,
                               rd_kafka_resp_err_t *rderr, char *errstr, size_t errstr_size)
{
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **res = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    if (cnt != 1)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "kafka describe group %s: %zu descriptions for one group", group, cnt);
    const rd_kafka_error_t *gerr = rd_kafka_ConsumerGroupDescription_error(res[0]);
    if (gerr) {
        *rderr = rd_kafka_error_code(gerr);
        return of_seterr(errstr, errstr_size, ofk_err(*rderr), "kafka describe group %s: %s", group,
                         rd_kafka_error_string(gerr));
    }
    out->state =
        strdup(rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(res[0])));
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(res[0]);
    out->members = n ? calloc(n, sizeof(*out->members)) : NULL;
    bool ok = out->state && (!n || out->members);
    for (size_t i = 0; ok && i < n; i++) {
        out->nmembers++;
        ok = copy_member(rd_kafka_ConsumerGroupDescription_member(res[0], i), &out->members[i]);
    }
    return ok ? OF_OK
              : of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka describe group: out of memory");
}

/* One DescribeConsumerGroups request; *rderr says what a failed one met (for the retry). */
static of_err describe_once(rd_kafka_t *rk, const char *group, int timeout_ms, of_kafka_group *out,
                            rd_kafka_resp_err_t *rderr, char *errstr, size_t errstr_size)
{
    char rerr[512];
    *rderr = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, rerr, sizeof(rerr))) {
        rd_kafka_AdminOptions_destroy(opts);
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka describe group: %s", rerr);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const char *groups[] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    of_err rc;
    if (!ev) {
        *rderr = RD_KAFKA_RESP_ERR__TIMED_OUT;
        rc = of_seterr(errstr, errstr_size, OF_ERR_TIMEOUT,
                       "kafka describe group %s: no answer in %d ms", group, timeout_ms);
    } else if ((*rderr = rd_kafka_event_error(ev))) {
        rc = of_seterr(errstr, errstr_size, ofk_err(*rderr), "kafka describe group %s: %s", group,
                       rd_kafka_event_error_string(ev));
    } else {
        rc = take_description(ev, group, out, rderr, errstr, errstr_size);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    return rc;
}

/* Partition counts of topics from the cluster's metadata (-1: no such topic). */
static of_err count_partitions(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms,
                               int *counts, rd_kafka_resp_err_t *rderr, char *errstr,
                               size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    *rderr = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (*rderr)
        return of_seterr(errstr, errstr_size, ofk_err(*rderr), "kafka metadata: %s",
                         rd_kafka_err2str(*rderr));
    for (size_t i = 0; i < n; i++) {
        counts[i] = -1;
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, topics[i]) == 0 && !md->topics[t].err)
                counts[i] = md->topics[t].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return OF_OK;
}

of_err of_kafka_describe_group(const of_kafka_config *cfg, const char *group,
                               const char *const *topics, size_t ntopics, int timeout_ms,
                               of_kafka_group *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!group || !*group)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka describe group: no group");
    if (cfg && cfg->mock)
        return of_seterr(errstr, errstr_size, OF_ERR_STATE,
                         "kafka describe group: the mock cluster has no Admin API");
    if (ntopics && !(out->partitions = calloc(ntopics, sizeof(*out->partitions))))
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka describe group: out of memory");
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    of_err rc = ofk_conf_new(RD_KAFKA_PRODUCER, cfg, NULL, 0, &conf, errstr, errstr_size);
    if (!rc) rc = ofk_new(RD_KAFKA_PRODUCER, &conf, &rk, errstr, errstr_size);
    if (rc) {
        of_kafka_group_clear(out);
        return rc;
    }
    ofk_retry r;
    ofk_retry_init(&r, cfg->client_id, "describe group", timeout_ms);
    for (;;) {
        int left = ofk_retry_left(&r);
        int attempt_ms = left / 3 > 5000 ? left / 3 : (left > 0 ? left : 1);
        rd_kafka_resp_err_t rderr = RD_KAFKA_RESP_ERR_NO_ERROR;
        int *counts = out->partitions; /* kept across attempts: a retry starts clean */
        out->partitions = NULL;
        of_kafka_group_clear(out);
        out->partitions = counts;
        rc = describe_once(rk, group, attempt_ms, out, &rderr, errstr, errstr_size);
        if (!rc && ntopics)
            rc = count_partitions(rk, topics, ntopics, attempt_ms, out->partitions, &rderr, errstr,
                                  errstr_size);
        if (!rc || !ofk_retry_again(&r, rderr, errstr, errstr_size)) break;
    }
    rd_kafka_destroy(rk);
    if (rc) of_kafka_group_clear(out);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Mock cluster */

of_err of_kafka_mock_start(int nbrokers, of_kafka_mock **out, char *errstr, size_t errstr_size)
{
    char rerr[512];
    *out = NULL;
    if (nbrokers < 1 || nbrokers > 16)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka mock: %d brokers (1..16)",
                         nbrokers);
    of_kafka_mock *m = calloc(1, sizeof(*m));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!m || !conf) {
        free(m);
        if (conf) rd_kafka_conf_destroy(conf);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka mock: out of memory");
    }
    ofk_conf_callbacks(conf);
    /* The handle only hosts the mock's thread; it never connects anywhere, and the warning
     * about missing bootstrap servers would be noise. */
    of_err rc = ofk_conf_set(conf, "client.id", "octofleet-mock", errstr, errstr_size);
    if (!rc) rc = ofk_conf_set(conf, "log_level", "3", errstr, errstr_size);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return rc;
    }
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rerr, sizeof(rerr));
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka mock: %s", rerr);
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, nbrokers);
    if (!m->mc) {
        rd_kafka_destroy(m->rk);
        free(m);
        return of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka mock: cannot start %d brokers",
                         nbrokers);
    }
    m->nbrokers = nbrokers;
    m->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(m->mc));
    if (!m->bootstraps) {
        of_kafka_mock_destroy(m);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka mock: out of memory");
    }
    of_info("kafka mock cluster brokers=%d bootstrap=%s", nbrokers, m->bootstraps);
    *out = m;
    return OF_OK;
}

const char *of_kafka_mock_bootstraps(const of_kafka_mock *m)
{
    return m->bootstraps;
}

of_err of_kafka_mock_create_topic(of_kafka_mock *m, const char *name, int partitions, char *errstr,
                                  size_t errstr_size)
{
    if (!name || !*name || partitions < 1)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka mock: bad topic");
    int rf = m->nbrokers < 3 ? m->nbrokers : 3;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(m->mc, name, partitions, rf);
    if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka mock: create topic %s: %s", name,
                         rd_kafka_err2str(err));
    return OF_OK;
}

of_err of_kafka_mock_push_errors(of_kafka_mock *m, int api_key, size_t cnt, const int *kafka_errors,
                                 char *errstr, size_t errstr_size)
{
    if (api_key < 0 || api_key > INT16_MAX || !cnt || !kafka_errors)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "kafka mock: bad error injection");
    rd_kafka_resp_err_t *errs = calloc(cnt, sizeof(*errs));
    if (!errs) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka mock: out of memory");
    for (size_t i = 0; i < cnt; i++)
        errs[i] = (rd_kafka_resp_err_t)kafka_errors[i];
    rd_kafka_mock_push_request_errors_array(m->mc, (int16_t)api_key, cnt, errs);
    free(errs);
    return OF_OK;
}

void of_kafka_mock_clear_errors(of_kafka_mock *m, int api_key)
{
    if (api_key >= 0 && api_key <= INT16_MAX)
        rd_kafka_mock_clear_request_errors(m->mc, (int16_t)api_key);
}

of_err of_kafka_mock_broker_set_up(of_kafka_mock *m, int32_t broker_id, bool up, char *errstr,
                                   size_t errstr_size)
{
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(m->mc, broker_id)
                                 : rd_kafka_mock_broker_set_down(m->mc, broker_id);
    if (err)
        return of_seterr(errstr, errstr_size, ofk_err(err), "kafka mock: broker %d %s: %s",
                         (int)broker_id, up ? "up" : "down", rd_kafka_err2str(err));
    return OF_OK;
}

void of_kafka_mock_destroy(of_kafka_mock *m)
{
    if (!m) return;
    if (m->mc) rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk) rd_kafka_destroy(m->rk);
    free(m->bootstraps);
    free(m);
}
