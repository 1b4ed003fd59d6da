/* Both daemons' monitoring (monitor.h). The readiness flags are atomics because the HTTP
 * thread reads them while the loop thread writes; the metrics go through the registry, which
 * has its own lock. Series the loop updates often are resolved once and cached here, so the
 * per-event cost is one lock and an add. */
#include "monitor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "httpd.h"
#include "log.h"
#include "msg.h"

#define N_STATUS 5 /* 2xx 3xx 4xx 5xx error */

struct of_monitor {
    of_metrics *reg;
    of_httpd *http;
    int64_t started_ms; /* wall */
    _Atomic int64_t loop_ms;
    _Atomic bool state_loaded;
    _Atomic bool octo_down;
    _Atomic long assigned;

    of_metric *up, *loop, *events, *delivery, *dlq, *lag, *rebalances;
    of_metric *octo_req, *octo_dur, *octo_retry;
    of_series *up_s, *loop_s, *throttled_s, *held_s;
    of_series *ev_s[OF_EV__COUNT];
    of_series *req_s[OF_OCTO_ROUTE_COUNT][N_STATUS];
    of_series *dur_s[OF_OCTO_ROUTE_COUNT];
    of_series *retry_s[OF_OCTO_ROUTE_COUNT];
    of_series *rebal_s[2];
};

static const char *const status_names[N_STATUS] = {"2xx", "3xx", "4xx", "5xx", "error"};

of_metrics *of_monitor_metrics(of_monitor *m)
{
    return m ? m->reg : NULL;
}

const char *of_monitor_address(const of_monitor *m)
{
    return m ? of_httpd_address(m->http) : "";
}

void of_monitor_loop(of_monitor *m)
{
    if (m) atomic_store_explicit(&m->loop_ms, of_wall_ms(), memory_order_relaxed);
}

void of_monitor_state_loaded(of_monitor *m, bool loaded)
{
    if (m) atomic_store(&m->state_loaded, loaded);
}

void of_monitor_octo_held(of_monitor *m, bool held)
{
    if (m) of_series_set(m->held_s, held ? 1 : 0);
}

void of_monitor_rebalance(of_monitor *m, of_kafka_rebalance what, size_t n)
{
    if (!m) return;
    bool assign = what == OF_KAFKA_ASSIGNED;
    of_series_inc(m->rebal_s[assign ? 0 : 1]);
    long now = atomic_load(&m->assigned) + (assign ? (long)n : -(long)n);
    atomic_store(&m->assigned, now < 0 ? 0 : now);
}

void of_monitor_event_produced(of_monitor *m, of_event_type type)
{
    if (!m || (unsigned)type >= OF_EV__COUNT) return;
    if (!m->ev_s[type]) {
        const char *name = of_event_type_name(type);
        if (strncmp(name, "octofleet.", 10) == 0) name += 10;
        m->ev_s[type] = of_metric_series1(m->events, name);
    }
    of_series_inc(m->ev_s[type]);
}

void of_monitor_delivery_failed(of_monitor *m, const char *topic_kind)
{
    if (m) of_series_inc(of_metric_series1(m->delivery, topic_kind));
}

void of_monitor_dlq(of_monitor *m, const char *source)
{
    if (m) of_series_inc(of_metric_series1(m->dlq, source));
}

void of_monitor_octo_attempt(void *opaque, const of_octo_attempt_info *info)
{
    of_monitor *m = opaque;
    if (!m || !info) return;
    unsigned r = (unsigned)info->route < OF_OCTO_ROUTE_COUNT ? (unsigned)info->route
                                                             : (unsigned)OF_OCTO_ROUTE_OTHER;
    long st = info->status;
    unsigned k = st >= 200 && st < 600 ? (unsigned)(st / 100 - 2) : 4;
    const char *route = of_octo_route_name((of_octo_route)r);
    if (!m->req_s[r][k]) m->req_s[r][k] = of_metric_series2(m->octo_req, route, status_names[k]);
    if (!m->dur_s[r]) m->dur_s[r] = of_metric_series1(m->octo_dur, route);
    of_series_inc(m->req_s[r][k]);
    of_series_observe(m->dur_s[r], (double)info->duration_ms / 1000.0);
    if (info->retry) {
        if (!m->retry_s[r]) m->retry_s[r] = of_metric_series1(m->octo_retry, route);
        of_series_inc(m->retry_s[r]);
    }
    if (st == 429 || st == 503) of_series_inc(m->throttled_s);
    /* Reachable: the server answered below 500 (a 4xx is our problem, not its absence). */
    atomic_store(&m->octo_down, st == 0 || st >= 500);
}

void of_monitor_kafka_lag(void *opaque, const of_kafka_lag *lags, size_t n)
{
    of_monitor *m = opaque;
    if (!m) return;
    /* The assignment changes: only the partitions reported now are ours to show. */
    of_metric_reset(m->lag);
    for (size_t i = 0; i < n; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d", (int)lags[i].partition);
        if (lags[i].lag >= 0)
            of_series_set(of_metric_series2(m->lag, lags[i].topic, p), (double)lags[i].lag);
    }
}

bool of_monitor_ready(of_monitor *m, char *why, size_t why_size)
{
    const char *r = NULL;
    if (!m)
        r = "metrics off";
    else if (!atomic_load(&m->state_loaded))
        r = "state not loaded: still rebuilding from the state topic";
    else if (atomic_load(&m->assigned) <= 0)
        r = "consumer group not joined: no partitions assigned yet";
    else if (atomic_load(&m->octo_down))
        r = "Octopus unreachable: the last request failed with a network error or 5xx and none "
            "succeeded since";
    snprintf(why, why_size, "%s", r ? r : "ready");
    return r == NULL;
}

/* ---- the endpoints ---- */

/* A one-line answer (tiny, far below the reply cap: a failure can only be memory, and then
 * the body is just empty). */
static int say(of_buf *out, int status, const char *line)
{
    of_buf_reset(out);
    if (of_buf_puts(out, line) || of_buf_puts(out, "\n")) of_buf_reset(out);
    return status;
}

static int h_metrics(void *opaque, of_buf *out, const char **ctype)
{
    of_monitor *m = opaque;
    int64_t now = of_wall_ms();
    of_series_set(m->up_s, (double)(now - m->started_ms) / 1000.0);
    of_series_set(m->loop_s, (double)atomic_load(&m->loop_ms) / 1000.0);
    *ctype = "text/plain; version=0.0.4; charset=utf-8";
    of_err rc = of_metrics_render(m->reg, out);
    if (rc) {
        of_warn("rendering /metrics: %s", of_strerror(rc));
        char line[128];
        snprintf(line, sizeof line, "cannot render the metrics: %s", of_strerror(rc));
        return say(out, 500, line);
    }
    return 200;
}

static int h_healthz(void *opaque, of_buf *out, const char **ctype)
{
    (void)ctype;
    of_monitor *m = opaque;
    int64_t age = of_wall_ms() - atomic_load(&m->loop_ms);
    if (age > OF_MONITOR_HEALTH_MAX_AGE_MS) {
        char line[128];
        snprintf(line, sizeof line, "main loop stalled: last turn %lld s ago",
                 (long long)(age / 1000));
        return say(out, 503, line);
    }
    return say(out, 200, "ok");
}

static int h_readyz(void *opaque, of_buf *out, const char **ctype)
{
    (void)ctype;
    char why[256];
    bool ok = of_monitor_ready(opaque, why, sizeof why);
    return say(out, ok ? 200 : 503, why);
}

/* Declares the metrics every daemon has (the names are the contract of docs/monitoring.md). */
static bool declare(of_monitor *m, const char *daemon)
{
    static const char *const l_build[] = {"version", "daemon"};
    static const char *const l_type[] = {"type"};
    static const char *const l_kind[] = {"topic_kind"};
    static const char *const l_src[] = {"source"};
    static const char *const l_lag[] = {"topic", "partition"};
    static const char *const l_rebal[] = {"kind"};
    static const char *const l_req[] = {"route", "status_class"};
    static const char *const l_route[] = {"route"};
    of_metrics *r = m->reg;
    of_metric *build = of_metrics_gauge(r, "octofleet_build_info",
                                        "Build information; the value is 1.", l_build, 2);
    of_series_set(of_metric_series2(build, OF_VERSION, daemon), 1);
    m->up =
        of_metrics_gauge(r, "octofleet_up_seconds", "Seconds since the daemon started.", NULL, 0);
    m->loop = of_metrics_gauge(r, "octofleet_loop_last_iteration_timestamp_seconds",
                               "Unix time of the main loop's last turn (/healthz uses its age).",
                               NULL, 0);
    m->events = of_metrics_counter(r, "octofleet_events_produced_total",
                                   "Events this daemon produced (delivered), by CloudEvent type "
                                   "without the octofleet. prefix.",
                                   l_type, 1);
    m->delivery =
        of_metrics_counter(r, "octofleet_kafka_delivery_failures_total",
                           "Produce deliveries that failed permanently, by topic kind.", l_kind, 1);
    m->dlq = of_metrics_counter(r, "octofleet_dlq_messages_total",
                                "Messages this daemon sent to the dead-letter topic, by the "
                                "topic kind they came from.",
                                l_src, 1);
    m->lag =
        of_metrics_gauge(r, "octofleet_kafka_consumer_lag",
                         "Consumer lag per assigned partition (librdkafka statistics).", l_lag, 2);
    m->rebalances =
        of_metrics_counter(r, "octofleet_kafka_rebalances_total",
                           "Rebalances seen (partitions assigned or revoked).", l_rebal, 1);
    m->octo_req = of_metrics_counter(r, "octofleet_octopus_requests_total",
                                     "Octopus HTTP requests, one per attempt, by route and status "
                                     "class (error: no reply).",
                                     l_req, 2);
    m->octo_dur = of_metrics_histogram(r, "octofleet_octopus_request_duration_seconds",
                                       "Duration of one Octopus HTTP attempt.", l_route, 1,
                                       of_metrics_default_buckets, of_metrics_default_nbuckets);
    m->octo_retry = of_metrics_counter(r, "octofleet_octopus_retries_total",
                                       "Octopus HTTP attempts that were retries.", l_route, 1);
    of_metric *thr =
        of_metrics_counter(r, "octofleet_octopus_throttled_total",
                           "Octopus answers 429 or 503 (the server is overloaded).", NULL, 0);
    m->held_s = of_metric_series0(of_metrics_gauge(
        r, "octofleet_octopus_held",
        "1 while this daemon holds because Octopus failed or throttled too many requests "
        "(octopus.hold_*): nothing new is sent or created until a probe is answered.",
        NULL, 0));
    m->up_s = of_metric_series0(m->up);
    m->loop_s = of_metric_series0(m->loop);
    m->throttled_s = of_metric_series0(thr);
    m->rebal_s[0] = of_metric_series1(m->rebalances, "assign");
    m->rebal_s[1] = of_metric_series1(m->rebalances, "revoke");
    return build && m->up_s && m->loop_s && m->events && m->delivery && m->dlq && m->lag &&
           m->octo_req && m->octo_dur && m->octo_retry && m->throttled_s && m->rebal_s[0] &&
           m->rebal_s[1];
}

of_err of_monitor_start(const char *listen, const char *daemon, of_monitor **out, char *errstr,
                        size_t errstr_size)
{
    *out = NULL;
    if (!listen || !*listen) return OF_OK;
    of_monitor *m = calloc(1, sizeof *m);
    if (!m) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    m->started_ms = of_wall_ms();
    atomic_store(&m->loop_ms, m->started_ms);
    atomic_store(&m->state_loaded, true);
    atomic_store(&m->octo_down, false);
    atomic_store(&m->assigned, 0);
    m->reg = of_metrics_new();
    if (!m->reg || !declare(m, daemon)) {
        of_monitor_stop(m);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    const of_httpd_route routes[] = {
        {"/metrics", h_metrics, m},
        {"/healthz", h_healthz, m},
        {"/readyz", h_readyz, m},
    };
    char es[512];
    of_err rc =
        of_httpd_start(listen, routes, sizeof routes / sizeof routes[0], &m->http, es, sizeof es);
    if (rc) {
        of_monitor_stop(m);
        return of_seterr(errstr, errstr_size, rc, "%s.metrics_listen %s", daemon, es);
    }
    of_info("metrics listening on %s", of_httpd_address(m->http));
    *out = m;
    return OF_OK;
}

void of_monitor_stop(of_monitor *m)
{
    if (!m) return;
    of_httpd_stop(m->http); /* first: no handler runs after this */
    of_metrics_free(m->reg);
    free(m);
}
