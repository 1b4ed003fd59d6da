/* Tailing a topic from "now": the CLI's way to see only what happens after it acts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka_priv.h"
#include "log.h"

struct of_kafka_tail {
    rd_kafka_t *rk;
    char *topic;
};

of_err of_kafka_tail_open(const of_kafka_config *cfg, const char *topic, int timeout_ms,
                          of_kafka_tail **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    int64_t deadline = of_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    of_kafka_tail *t = NULL;
    int nparts = 0;
    rd_kafka_resp_err_t err;
    of_err rc = ofk_reader_new(cfg, "tail", false, &rk, errstr, errstr_size);
    if (rc) return rc;
    rc = ofk_topic_partitions(rk, topic, deadline, &nparts, errstr, errstr_size);
    if (!rc && nparts == 0)
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOT_FOUND, "topic %s does not exist", topic);
    if (rc) goto fail;
    list = rd_kafka_topic_partition_list_new(nparts);
    t = calloc(1, sizeof *t);
    if (!list || !t || !(t->topic = strdup(topic))) {
        rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "kafka tail %s: out of memory", topic);
        goto fail;
    }
    for (int32_t p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        rc = ofk_watermarks(rk, topic, p, deadline, &lo, &hi, errstr, errstr_size);
        if (rc) goto fail;
        /* the end as of now: whatever is written later is read, nothing before */
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = hi;
    }
    err = rd_kafka_assign(rk, list);
    if (err) {
        rc = of_seterr(errstr, errstr_size, ofk_err(err), "kafka tail %s: assign: %s", topic,
                       rd_kafka_err2str(err));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(list);
    t->rk = rk;
    *out = t;
    return OF_OK;
fail:
    if (list) rd_kafka_topic_partition_list_destroy(list);
    if (t) free(t->topic);
    free(t);
    rd_kafka_destroy(rk);
    return rc;
}

of_err of_kafka_tail_poll(of_kafka_tail *t, int timeout_ms, of_kafka_message **out, char *errstr,
                          size_t errstr_size)
{
    *out = NULL;
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(t->rk, timeout_ms);
    if (!rkm) return OF_OK;
    if (rkm->err) {
        of_err rc = of_seterr(errstr, errstr_size, OF_ERR_KAFKA, "kafka tail %s: %s", t->topic,
                              rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return rc;
    }
    *out = ofk_message_wrap(rkm);
    return *out ? OF_OK : of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
}

void of_kafka_tail_destroy(of_kafka_tail *t)
{
    if (!t) return;
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
    free(t->topic);
    free(t);
}
