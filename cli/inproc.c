/* The whole fleet in one process (see inproc.h). */
#include "inproc.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "producer.h"

#define TOPICS_TIMEOUT_MS 30000

of_err of_inproc_start(of_inproc *f, const of_inproc_opts *o, char *es, size_t en)
{
    memset(f, 0, sizeof(*f));
    of_err rc;
    if (!o->bootstrap) {
        rc = of_kafka_mock_start(1, &f->mock, es, en);
        if (rc) return rc;
    }
    ofsim_opts so;
    memset(&so, 0, sizeof(so));
    so.fixture_json = o->world_json;
    so.fixture_path = o->world_path;
    so.api_keys = o->api_keys;
    so.quiet = 1;
    char why[768];
    rc = ofsim_start(&so, &f->sim, why, sizeof(why));
    if (rc) return of_seterr(es, en, rc, "simulator: %s", why);
    rc = of_config_defaults(&f->cfg, why, sizeof(why));
    if (rc) return of_seterr(es, en, rc, "config: %s", why);
    rc = of_config_set(&f->cfg, "octopus.url", ofsim_url(f->sim), why, sizeof(why));
    if (!rc && o->bootstrap)
        rc = of_config_set(&f->cfg, "kafka.bootstrap_servers", o->bootstrap, why, sizeof(why));
    if (rc) return of_seterr(es, en, rc, "config: %s", why);
    for (size_t i = 0; i < o->n_sets; i++) {
        rc = of_config_set(&f->cfg, o->sets[i].name, o->sets[i].value, why, sizeof(why));
        if (rc) return of_seterr(es, en, rc, "config %s: %s", o->sets[i].name, why);
    }
    rc = of_fleet_kafka_init(&f->fk, &f->cfg, f->mock, o->client_id);
    if (rc) return of_seterr(es, en, rc, "cannot set up the Kafka client config");
    f->fk_set = true;
    int timeout = o->topics_timeout_ms > 0 ? o->topics_timeout_ms : TOPICS_TIMEOUT_MS;
    rc = of_fleet_ensure_topics(&f->cfg, &f->fk.kc, timeout, why, sizeof(why));
    if (rc) return of_seterr(es, en, rc, "topics: %s", why);
    return OF_OK;
}

void of_inproc_clear(of_inproc *f)
{
    if (f->fk_set) of_fleet_kafka_clear(&f->fk);
    of_config_clear(&f->cfg);
    ofsim_stop(f->sim);
    of_kafka_mock_destroy(f->mock);
    memset(f, 0, sizeof(*f));
}

static void *daemon_main(void *arg)
{
    of_inproc_daemon *d = arg;
    of_log_set_component(d->name);
    if (d->role == OF_INPROC_PRODUCER) {
        of_producer_opts o = {
            .cfg = d->cfg, .mock = d->mock, .api_key = d->api_key, .stop = &d->stop};
        d->rc = of_producer_run(&o, d->errstr, sizeof(d->errstr));
    } else {
        of_worker_opts o = {.cfg = d->cfg,
                            .mock = d->mock,
                            .api_key = d->api_key,
                            .name = d->name,
                            .stop = &d->stop,
                            .stats = &d->stats};
        d->rc = of_worker_run(&o, d->errstr, sizeof(d->errstr));
    }
    if (d->rc) of_error("%s stopped: %s: %s", d->name, of_strerror(d->rc), d->errstr);
    atomic_store(&d->done, true);
    return NULL;
}

of_err of_inproc_daemon_start(of_inproc_daemon *d, const of_inproc *f, of_inproc_role role,
                              const char *name, const char *api_key, char *es, size_t en)
{
    memset(d, 0, sizeof(*d));
    d->role = role;
    if (!name) name = role == OF_INPROC_PRODUCER ? "producer" : "worker";
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->cfg = &f->cfg;
    d->mock = f->mock;
    d->api_key = api_key;
    of_stop_flag_init(&d->stop);
    atomic_init(&d->done, false);
    if (pthread_create(&d->tid, NULL, daemon_main, d) != 0)
        return of_seterr(es, en, OF_ERR_STATE, "cannot start the %s thread", d->name);
    d->started = true;
    return OF_OK;
}

void of_inproc_daemon_stop_request(of_inproc_daemon *d)
{
    if (d->started) of_stop_request(&d->stop);
}

bool of_inproc_daemon_done(const of_inproc_daemon *d)
{
    return atomic_load(&d->done);
}

bool of_inproc_daemon_join(of_inproc_daemon *d, int64_t timeout_ms)
{
    if (!d->started) return true;
    if (timeout_ms >= 0) {
        int64_t until = of_now_ms() + timeout_ms;
        while (!atomic_load(&d->done) && of_now_ms() < until)
            of_sleep_ms(20); /* waiting for a thread to end: nothing to poll on */
        if (!atomic_load(&d->done)) return false;
    }
    pthread_join(d->tid, NULL);
    d->started = false;
    return true;
}

void of_inproc_daemon_stop(of_inproc_daemon *d)
{
    of_inproc_daemon_stop_request(d);
    (void)of_inproc_daemon_join(d, -1);
}

of_err of_inproc_start_daemons(of_inproc_daemon *d, int nworkers, const of_inproc *f,
                               const char *api_key, char *es, size_t en)
{
    of_err rc = of_inproc_daemon_start(&d[0], f, OF_INPROC_PRODUCER, "producer", api_key, es, en);
    for (int i = 1; !rc && i <= nworkers; i++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%d", i);
        rc = of_inproc_daemon_start(&d[i], f, OF_INPROC_WORKER, name, api_key, es, en);
    }
    return rc;
}

of_err of_inproc_operator(const of_inproc *f, const char *group_id, of_kafka_consumer **events,
                          of_kafka_producer **cmdp, char *es, size_t en)
{
    *events = NULL;
    *cmdp = NULL;
    char topic[OF_TOPIC_NAME_MAX];
    of_err rc = of_config_topic(&f->cfg, "events", topic, sizeof(topic));
    if (rc) return of_seterr(es, en, rc, "topics.prefix too long for the events topic");
    const char *topics[] = {topic};
    of_kafka_consumer_opts co = {.group_id = group_id, .manual_commit = true};
    rc = of_kafka_consumer_new(&f->fk.kc, &co, events, es, en);
    if (!rc) rc = of_kafka_subscribe(*events, topics, 1, es, en);
    if (!rc) rc = of_kafka_producer_new(&f->fk.kc, NULL, cmdp, es, en);
    return rc;
}
