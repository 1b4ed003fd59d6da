#include "fleet.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

of_err of_fleet_kafka_init(of_fleet_kafka *out, const of_config *cfg, of_kafka_mock *mock,
                           const char *client_id)
{
    memset(out, 0, sizeof(*out));
    size_t n = cfg->kafka.properties.count;
    if (n) {
        out->props = calloc(n, sizeof(*out->props));
        if (!out->props) return OF_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            out->props[i].key = cfg->kafka.properties.items[i].key;
            out->props[i].value = cfg->kafka.properties.items[i].value;
        }
    }
    out->kc.bootstrap_servers = cfg->kafka.bootstrap_servers;
    out->kc.client_id = client_id ? client_id : cfg->kafka.client_id;
    out->kc.props = out->props;
    out->kc.nprops = n;
    out->kc.mock = mock;
    return OF_OK;
}

void of_fleet_kafka_clear(of_fleet_kafka *fk)
{
    free(fk->props);
    memset(fk, 0, sizeof(*fk));
}

size_t of_fleet_worker_consumer_props(const char *max_poll, const char *instance_id,
                                      of_kafka_prop *out)
{
    size_t n = 0;
    out[n++] = (of_kafka_prop){"max.poll.interval.ms", max_poll};
    /* Static membership (KIP-345): a worker that restarts under its name within the session
     * timeout gets its partitions back without a rebalance of the whole group. */
    if (instance_id && *instance_id) out[n++] = (of_kafka_prop){"group.instance.id", instance_id};
    /* librdkafka's 45 s default is what a dead static member costs its partitions; 30 s is
     * ample for a supervisor's restart and bounds that stall. */
    out[n++] = (of_kafka_prop){"session.timeout.ms", OF_FLEET_WORKER_SESSION_TIMEOUT_MS};
    /* Offsets of finished jobs are committed within a second instead of five, so a kill
     * re-delivers (and re-reports) little beyond the jobs that were still running. */
    out[n++] = (of_kafka_prop){"auto.commit.interval.ms", OF_FLEET_WORKER_COMMIT_INTERVAL_MS};
    return n;
}

of_err of_fleet_props_before(const of_kafka_config *kc, const of_kafka_prop *defs, size_t n,
                             of_kafka_prop **props, of_kafka_config *out)
{
    *props = calloc(kc->nprops + n, sizeof(**props));
    if (!*props) return OF_ERR_NOMEM;
    if (n) memcpy(*props, defs, n * sizeof(*defs));
    for (size_t i = 0; i < kc->nprops; i++)
        (*props)[n + i] = kc->props[i];
    *out = *kc;
    out->props = *props;
    out->nprops = n + kc->nprops;
    return OF_OK;
}

size_t of_fleet_worker_producer_props(of_kafka_prop *out)
{
    out[0] = (of_kafka_prop){"linger.ms", OF_FLEET_WORKER_LINGER_MS};
    return 1;
}

void of_fleet_octo_opts(const of_config *cfg, const char *api_key, of_octo_opts *opts)
{
    const of_config_octopus *o = &cfg->octopus;
    /* The settings without a config key keep the client's defaults. */
    of_octo_opts_default(opts);
    opts->url = o->url;
    opts->space = o->space;
    opts->api_key = api_key;
    opts->api_key_file = (o->api_key_file && o->api_key_file[0]) ? o->api_key_file : NULL;
    opts->ca_file = (o->ca_file && o->ca_file[0]) ? o->ca_file : NULL;
    opts->tls_skip_verify = !o->tls_verify;
    opts->connect_timeout_ms = o->connect_timeout_ms;
    opts->request_timeout_ms = o->request_timeout_ms;
    opts->retry_deadline_ms = o->retry_deadline_ms;
    opts->max_concurrent = o->max_concurrent_requests;
    opts->task_chunk = o->task_poll_chunk;
    opts->max_response_bytes = o->max_response_bytes;
    opts->task_unreadable_ms = o->task_unreadable_ms;
    /* A listing is never given less time than one of its requests may retry. */
    if (opts->list_deadline_ms < opts->retry_deadline_ms)
        opts->list_deadline_ms = opts->retry_deadline_ms;
}

of_err of_fleet_ensure_topics(const of_config *cfg, const of_kafka_config *kc, int timeout_ms,
                              char *errstr, size_t errstr_size)
{
    static const char *const plain[] = {"requests", "events", "releases", "dlq"};
    size_t nplain = sizeof(plain) / sizeof(plain[0]);
    size_t n = nplain + (size_t)cfg->topics.max_stages;
    size_t nconf = cfg->topics.configs.count;
    char(*names)[OF_TOPIC_NAME_MAX] = calloc(n, sizeof(*names));
    of_kafka_topic_spec *specs = calloc(n, sizeof(*specs));
    /* topics.configs for every topic; the releases topic must stay compacted whatever the
     * operator wrote, so it gets them without any cleanup.policy, plus compact */
    of_kafka_prop *props = calloc(nconf + 1, sizeof(*props));
    of_kafka_prop *rel = calloc(nconf + 1, sizeof(*rel));
    size_t nrel = 0;
    of_err rc = OF_OK;
    size_t k = 0;
    if (!names || !specs || !props || !rel) {
        rc = OF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < nconf; i++) {
        props[i].key = cfg->topics.configs.items[i].key;
        props[i].value = cfg->topics.configs.items[i].value;
        if (strcmp(props[i].key, "cleanup.policy") != 0) rel[nrel++] = props[i];
    }
    rel[nrel].key = "cleanup.policy";
    rel[nrel++].value = "compact";
    for (size_t i = 0; i < nplain; i++, k++) {
        rc = of_config_topic(cfg, plain[i], names[k], sizeof(names[k]));
        if (rc) goto out;
        bool is_rel = strcmp(plain[i], "releases") == 0;
        specs[k].configs = is_rel ? rel : props;
        specs[k].nconfigs = is_rel ? nrel : nconf;
    }
    for (int s = 1; s <= cfg->topics.max_stages; s++, k++) {
        rc = of_config_jobs_topic(cfg, s, names[k], sizeof(names[k]));
        if (rc) goto out;
        specs[k].configs = props;
        specs[k].nconfigs = nconf;
    }
    for (size_t i = 0; i < n; i++) {
        specs[i].name = names[i];
        specs[i].partitions = cfg->topics.partitions;
        specs[i].replication_factor = cfg->topics.replication_factor;
    }
    rc = of_kafka_ensure_topics(kc, specs, n, timeout_ms, errstr, errstr_size);
out:
    if (rc == OF_ERR_NOMEM) of_seterr(errstr, errstr_size, rc, "out of memory creating topics");
    free(names);
    free(specs);
    free(props);
    free(rel);
    return rc;
}

void of_fleet_hold_opts(const of_config *cfg, of_hold_opts *out)
{
    out->error_pct = cfg->octopus.hold_error_percent;
    out->throttle_pct = cfg->octopus.hold_throttle_percent;
    out->window_ms = cfg->octopus.hold_window_ms;
    out->min_requests = cfg->octopus.hold_min_requests;
    out->probe_interval_ms = cfg->octopus.hold_probe_interval_ms;
}
