/* The metrics registry (common/metrics), the HTTP endpoints (common/httpd), host:port parsing
 * (common/base/hostport.h) and the monitor's /readyz reasons (common/monitor).
 *
 * Rendering is checked twice: against exact expected text (table), and by `promtool check
 * metrics` (Debian's prometheus package; OF_PROMTOOL is its path, found by CMake) on a
 * rendering with every kind of family, escapes and histograms. With 2,000 jobs recorded the
 * test prints a scrape's size and render time (docs/monitoring.md quotes them). */
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "hostport.h"
#include "httpd.h"
#include "metrics.h"
#include "monitor.h"
#include "test.h"

static char *render(of_metrics *m)
{
    of_buf b;
    of_buf_init(&b, 16u << 20);
    of_err rc = of_metrics_render(m, &b);
    CHECK_INT(rc, OF_OK);
    return of_buf_detach(&b);
}

/* ---- exact renderings ---- */

typedef struct render_case {
    const char *name;
    void (*fill)(of_metrics *m);
    const char *want;
} render_case;

static void fill_counter(of_metrics *m)
{
    const char *l[] = {"type"};
    of_metric *f = of_metrics_counter(m, "x_total", "Things.", l, 1);
    of_series_inc(of_metric_series1(f, "job.succeeded"));
    of_series_add(of_metric_series1(f, "job.succeeded"), 2);
    of_series_inc(of_metric_series1(f, "job.failed"));
    of_series_add(of_metric_series1(f, "job.failed"), -5); /* counters never go down */
}

static void fill_gauge(of_metrics *m)
{
    of_metric *f = of_metrics_gauge(m, "g", "A gauge.", NULL, 0);
    of_series_set(of_metric_series0(f), 0.25);
    of_metric *z = of_metrics_gauge(m, "z", "Never set.", NULL, 0);
    (void)z;
}

static void fill_escape(of_metrics *m)
{
    const char *l[] = {"a", "b"};
    of_metric *f = of_metrics_gauge(m, "e", "Back\\slash and\nnewline \"kept\".", l, 2);
    of_series_set(of_metric_series2(f, "q\"uote", "back\\slash\nnl"), -3);
}

static void fill_hist(of_metrics *m)
{
    const char *l[] = {"stage"};
    const double b[] = {0.5, 1, 2.5};
    of_metric *f = of_metrics_histogram(m, "h_seconds", "Latency.", l, 1, b, 3);
    of_series *s = of_metric_series1(f, "1");
    of_series_observe(s, 0.5); /* on a bound: counts in it (le) */
    of_series_observe(s, 0.75);
    of_series_observe(s, 100);
}

static void fill_empty_family(of_metrics *m)
{
    const char *l[] = {"kind"};
    (void)of_metrics_counter(m, "r_total", "Nothing yet.", l, 1);
}

static const render_case render_cases[] = {
    {"counter with labels", fill_counter,
     "# HELP x_total Things.\n# TYPE x_total counter\n"
     "x_total{type=\"job.succeeded\"} 3\nx_total{type=\"job.failed\"} 1\n"},
    {"gauges without labels", fill_gauge,
     "# HELP g A gauge.\n# TYPE g gauge\ng 0.25\n# HELP z Never set.\n# TYPE z gauge\nz 0\n"},
    {"escapes", fill_escape,
     "# HELP e Back\\\\slash and\\nnewline \"kept\".\n# TYPE e gauge\n"
     "e{a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\"} -3\n"},
    {"histogram", fill_hist,
     "# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n"
     "h_seconds_bucket{stage=\"1\",le=\"0.5\"} 1\nh_seconds_bucket{stage=\"1\",le=\"1\"} 2\n"
     "h_seconds_bucket{stage=\"1\",le=\"2.5\"} 2\nh_seconds_bucket{stage=\"1\",le=\"+Inf\"} 3\n"
     "h_seconds_sum{stage=\"1\"} 101.25\nh_seconds_count{stage=\"1\"} 3\n"},
    {"family without series", fill_empty_family,
     "# HELP r_total Nothing yet.\n# TYPE r_total counter\n"},
};

static void test_render_cases(void)
{
    for (size_t i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
        of_metrics *m = of_metrics_new();
        render_cases[i].fill(m);
        char *got = render(m);
        OF_TEST_FAIL_IF(strcmp(got, render_cases[i].want) != 0, "case %s:\n--- got\n%s--- want\n%s",
                        render_cases[i].name, got, render_cases[i].want);
        free(got);
        of_metrics_free(m);
    }
}

/* ---- declarations that must be refused ---- */

typedef struct bad_case {
    const char *what;
    int kind; /* 0 counter, 1 gauge, 2 histogram */
    const char *name;
    const char *label;
    const double *bounds;
    size_t nbounds;
} bad_case;

static const double b_ok[] = {1, 2};
static const double b_down[] = {2, 1};
static const double b_inf[] = {1, INFINITY};

static const bad_case bad_cases[] = {
    {"empty name", 0, "", NULL, NULL, 0},
    {"name with a dash", 0, "a-b", NULL, NULL, 0},
    {"name starting with a digit", 1, "1a", NULL, NULL, 0},
    {"label with a colon", 1, "ok", "a:b", NULL, 0},
    {"reserved label", 1, "ok", "__x", NULL, 0},
    {"le on a histogram", 2, "ok", "le", b_ok, 2},
    {"histogram without bounds", 2, "ok", NULL, NULL, 0},
    {"bounds not increasing", 2, "ok", NULL, b_down, 2},
    {"infinite bound", 2, "ok", NULL, b_inf, 2},
};

static void test_bad_declarations(void)
{
    of_metrics *m = of_metrics_new();
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        const char *l[] = {c->label};
        size_t nl = c->label ? 1 : 0;
        of_metric *f = c->kind == 0 ? of_metrics_counter(m, c->name, "h", l, nl)
                       : c->kind == 1
                           ? of_metrics_gauge(m, c->name, "h", l, nl)
                           : of_metrics_histogram(m, c->name, "h", l, nl, c->bounds, c->nbounds);
        OF_TEST_FAIL_IF(f != NULL, "case %s: declared, want refused\n", c->what);
    }
    /* the same family twice is the same family; another type under its name is refused */
    of_metric *a = of_metrics_counter(m, "same_total", "h", NULL, 0);
    CHECK(a != NULL);
    CHECK(of_metrics_counter(m, "same_total", "h", NULL, 0) == a);
    CHECK(of_metrics_gauge(m, "same_total", "h", NULL, 0) == NULL);
    of_metrics_free(m);
    /* NULL is a no-op all the way down */
    CHECK(of_metrics_counter(NULL, "x", "h", NULL, 0) == NULL);
    CHECK(of_metric_series0(NULL) == NULL);
    of_series_inc(NULL);
    of_series_observe(NULL, 1);
    CHECK(of_series_value(NULL) == 0);
}

static void test_series_identity(void)
{
    of_metrics *m = of_metrics_new();
    const char *l[] = {"a", "b"};
    of_metric *f = of_metrics_counter(m, "id_total", "h", l, 2);
    of_series *s1 = of_metric_series2(f, "ab", "c");
    of_series *s2 = of_metric_series2(f, "a", "bc");
    CHECK(s1 != s2);
    CHECK(of_metric_series2(f, "ab", "c") == s1);
    /* a long value is cut at a UTF-8 boundary and still finds its series */
    char longv[400];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    of_series *s3 = of_metric_series2(f, longv, NULL);
    CHECK(s3 != NULL);
    CHECK(of_metric_series2(f, longv, "") == s3);
    of_metrics_free(m);
}

/* ---- a full rendering through promtool ---- */

#ifdef OF_PROMTOOL
static void promtool_check(const char *text, const char *what)
{
    char path[] = "/tmp/of-metrics-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s check metrics < %s 2>&1", OF_PROMTOOL, path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int st = p ? pclose(p) : -1;
    unlink(path);
    OF_TEST_FAIL_IF(st != 0 || n != 0, "promtool check metrics (%s): status %d, said:\n%s\n", what,
                    st, out);
}
#endif

/* A registry shaped like a worker's and a producer's, with n jobs recorded. */
static of_metrics *fleet_like(int n)
{
    of_metrics *m = of_metrics_new();
    const char *lj[] = {"stage", "environment", "outcome"};
    const char *ls[] = {"stage"};
    of_metric *jobs = of_metrics_counter(m, "octofleet_worker_jobs_total",
                                         "Final job outcomes this worker reported.", lj, 3);
    of_metric *dur = of_metrics_histogram(m, "octofleet_worker_job_duration_seconds",
                                          "Job fetched to final event.", ls, 1,
                                          of_metrics_default_buckets, of_metrics_default_nbuckets);
    of_metric *q =
        of_metrics_histogram(m, "octofleet_worker_job_queue_seconds", "Time in Octopus's queue.",
                             ls, 1, of_metrics_default_buckets, of_metrics_default_nbuckets);
    of_metric *inflight =
        of_metrics_gauge(m, "octofleet_worker_jobs_in_flight", "Jobs held.", NULL, 0);
    const char *envs[] = {"Dev", "Test", "Staging", "Prod \"eu\"", "Prod\\us"};
    const char *outcomes[] = {"succeeded", "failed", "cancelled", "timed_out", "skipped"};
    for (int i = 0; i < n; i++) {
        char st[8];
        snprintf(st, sizeof st, "%d", 1 + i % 4);
        const char *v[] = {st, envs[i % 5], outcomes[(i / 7) % 5]};
        of_series_inc(of_metric_series(jobs, v));
        of_series_observe(of_metric_series1(dur, st), (double)(i % 600) * 1.5);
        of_series_observe(of_metric_series1(q, st), (double)(i % 13) * 0.01);
    }
    of_series_set(of_metric_series0(inflight), 17);
    return m;
}

static void test_promtool(void)
{
#ifdef OF_PROMTOOL
    of_metrics *m = fleet_like(50);
    char *text = render(m);
    promtool_check(text, "fleet-like registry");
    free(text);
    of_metrics_free(m);
    m = of_metrics_new();
    fill_counter(m);
    fill_gauge(m);
    fill_escape(m);
    fill_hist(m);
    fill_empty_family(m);
    text = render(m);
    promtool_check(text, "the render cases together");
    free(text);
    of_metrics_free(m);
#else
    fprintf(stderr, "promtool not found at configure time: install the prometheus package\n");
    CHECK(0);
#endif
}

/* ---- cost: what a job's update and a scrape take ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_cost(void)
{
    double t0 = now_s();
    of_metrics *m = fleet_like(2000);
    double t1 = now_s();
    char *text = NULL;
    double best = 1e9;
    for (int k = 0; k < 5; k++) {
        double a = now_s();
        free(text);
        text = render(m);
        double b = now_s() - a;
        if (b < best) best = b;
    }
    fprintf(stderr,
            "measured: 2000 jobs recorded (3 updates each, series looked up every time) in "
            "%.2f ms (%.2f us per job); a scrape renders %zu bytes in %.3f ms\n",
            (t1 - t0) * 1e3, (t1 - t0) * 1e6 / 2000, strlen(text), best * 1e3);
    /* a cached series: the hot path */
    of_metric *f = of_metrics_counter(m, "octofleet_worker_jobs_total", NULL, NULL, 0);
    CHECK(f == NULL); /* redeclared with other labels: refused */
    const char *lj[] = {"stage", "environment", "outcome"};
    of_metric *jobs =
        of_metrics_counter(m, "octofleet_worker_jobs_total", "Final job outcomes.", lj, 3);
    const char *v[] = {"1", "Dev", "succeeded"};
    of_series *s = of_metric_series(jobs, v);
    double a = now_s();
    for (int i = 0; i < 1000000; i++)
        of_series_inc(s);
    double per = (now_s() - a) * 1e9 / 1e6;
    fprintf(stderr, "measured: a cached counter update costs %.1f ns\n", per);
    CHECK(per < 5000); /* generous: a loaded 2-core machine under a sanitizer */
    CHECK(text != NULL && strlen(text) < 200000);
    free(text);
    of_metrics_free(m);
}

/* ---- concurrent update and render ---- */

typedef struct race {
    of_series *c, *h;
    volatile int stop;
} race;

static void *updater(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 200000; i++) {
        of_series_inc(r->c);
        of_series_observe(r->h, (double)(i % 100) / 10);
    }
    r->stop = 1;
    return NULL;
}

static void test_concurrent(void)
{
    of_metrics *m = of_metrics_new();
    const double b[] = {1, 5};
    race r = {of_metric_series0(of_metrics_counter(m, "c_total", "c", NULL, 0)),
              of_metric_series0(of_metrics_histogram(m, "h", "h", NULL, 0, b, 2)), 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, updater, &r) == 0);
    int renders = 0;
    while (!r.stop) {
        char *text = render(m);
        /* a rendering is consistent: the +Inf bucket equals _count */
        const char *inf = strstr(text, "h_bucket{le=\"+Inf\"} ");
        const char *cnt = strstr(text, "h_count ");
        CHECK(inf && cnt);
        if (inf && cnt) CHECK(strtoull(inf + 20, NULL, 10) == strtoull(cnt + 8, NULL, 10));
        free(text);
        renders++;
    }
    pthread_join(t, NULL);
    CHECK(of_series_value(r.c) == 200000);
    CHECK(of_series_value(r.h) == 200000);
    CHECK(renders > 0);
    of_metrics_free(m);
}

/* ---- host:port ---- */

typedef struct hp_case {
    const char *in;
    const char *host; /* NULL: refused */
    int port;
} hp_case;

static const hp_case hp_cases[] = {
    {"127.0.0.1:9464", "127.0.0.1", 9464},
    {"0.0.0.0:0", "0.0.0.0", 0},
    {"localhost:65535", "localhost", 65535},
    {"[::1]:80", "::1", 80},
    {"::1:80", NULL, 0},
    {"127.0.0.1", NULL, 0},
    {":9464", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:65536", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:80x", NULL, 0},
    {"", NULL, 0},
};

static void test_hostport(void)
{
    for (size_t i = 0; i < sizeof hp_cases / sizeof hp_cases[0]; i++) {
        const hp_case *c = &hp_cases[i];
        char host[64] = "", es[256] = "";
        uint16_t port = 7;
        of_err rc = of_hostport_parse(c->in, host, sizeof host, &port, es, sizeof es);
        if (!c->host) {
            OF_TEST_FAIL_IF(rc != OF_ERR_CONFIG, "\"%s\": accepted, want refused\n", c->in);
            continue;
        }
        OF_TEST_FAIL_IF(rc != OF_OK, "\"%s\": refused (%s)\n", c->in, es);
        CHECK_STR(host, c->host);
        CHECK_INT(port, c->port);
    }
}

/* ---- the HTTP server ---- */

static int h_hello(void *opaque, of_buf *out, const char **ctype)
{
    (void)opaque;
    *ctype = "text/x-test";
    return of_buf_puts(out, "hello\n") ? 500 : 200;
}

/* One HTTP/1.0 exchange on 127.0.0.1:port; the whole reply in a new string. */
static char *http(uint16_t port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return strdup("(connect failed)");
    }
    size_t len = strlen(request);
    if (write(fd, request, len) != (ssize_t)len) {
        close(fd);
        return strdup("(write failed)");
    }
    of_buf b;
    of_buf_init(&b, 1 << 20);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        if (of_buf_append(&b, chunk, (size_t)n)) break;
    close(fd);
    return of_buf_detach(&b);
}

typedef struct http_case {
    const char *request;
    const char *status_line; /* " 200 ": after the HTTP version */
    const char *body;        /* NULL: not checked */
} http_case;

static const http_case http_cases[] = {
    {"GET /hello HTTP/1.0\r\n\r\n", " 200 ", "\r\n\r\nhello\n"},
    {"GET /nope HTTP/1.0\r\n\r\n", " 404 ", "not found"},
    {"GET /hello/ HTTP/1.0\r\n\r\n", " 404 ", NULL},
    {"POST /hello HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", " 405 ", NULL},
    {"HEAD /hello HTTP/1.0\r\n\r\n", " 200 ", NULL},
};

static void test_httpd(void)
{
    of_httpd_route routes[] = {{"/hello", h_hello, NULL}};
    of_httpd *h = NULL;
    char es[512] = "";
    of_err rc = of_httpd_start("127.0.0.1:0", routes, 1, &h, es, sizeof es);
    CHECK_INT(rc, OF_OK);
    if (rc) return;
    uint16_t port = of_httpd_port(h);
    CHECK(port != 0);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)port);
    CHECK_STR(of_httpd_address(h), want);
    for (size_t i = 0; i < sizeof http_cases / sizeof http_cases[0]; i++) {
        char *got = http(port, http_cases[i].request);
        const char *sp = strchr(got, ' ');
        OF_TEST_FAIL_IF(
            !sp || strncmp(sp, http_cases[i].status_line, strlen(http_cases[i].status_line)),
            "%s: got %.60s, want %s\n", http_cases[i].request, got, http_cases[i].status_line);
        if (http_cases[i].body) CHECK_CONTAINS(got, http_cases[i].body);
        free(got);
    }
    char *got = http(port, "GET /hello HTTP/1.0\r\n\r\n");
    CHECK_CONTAINS(got, "Content-Type: text/x-test");
    free(got);
    /* the same port again: a clear configuration error, not a crash */
    of_httpd *h2 = NULL;
    rc = of_httpd_start(want, routes, 1, &h2, es, sizeof es);
    CHECK_INT(rc, OF_ERR_CONFIG);
    CHECK(h2 == NULL);
    CHECK_CONTAINS(es, "cannot listen: Address already in use");
    CHECK_CONTAINS(es, want);
    rc = of_httpd_start("127.0.0.1:http-alt", routes, 1, &h2, es, sizeof es);
    CHECK_INT(rc, OF_ERR_CONFIG);
    of_httpd_stop(h);
}

/* ---- the monitor's readiness ---- */

static void test_monitor_ready(void)
{
    of_monitor *off = NULL;
    char es[512] = "", why[256];
    CHECK_INT(of_monitor_start("", "worker", &off, es, sizeof es), OF_OK);
    CHECK(off == NULL);
    of_monitor_loop(NULL); /* no-ops */
    of_monitor *m = NULL;
    CHECK_INT(of_monitor_start("127.0.0.1:0", "worker", &m, es, sizeof es), OF_OK);
    if (!m) return;
    CHECK(!of_monitor_ready(m, why, sizeof why));
    CHECK_CONTAINS(why, "consumer group not joined");
    of_monitor_rebalance(m, OF_KAFKA_ASSIGNED, 3);
    CHECK(of_monitor_ready(m, why, sizeof why));
    CHECK_STR(why, "ready");
    of_octo_attempt_info down = {OF_OCTO_ROUTE_TASKS, 0, false, 12};
    of_monitor_octo_attempt(m, &down);
    CHECK(!of_monitor_ready(m, why, sizeof why));
    CHECK_CONTAINS(why, "Octopus unreachable");
    of_octo_attempt_info e503 = {OF_OCTO_ROUTE_TASKS, 503, true, 12};
    of_monitor_octo_attempt(m, &e503);
    CHECK(!of_monitor_ready(m, why, sizeof why));
    of_octo_attempt_info ok404 = {OF_OCTO_ROUTE_DEPLOYMENTS_LOOKUP, 404, false, 3};
    of_monitor_octo_attempt(m, &ok404); /* a 4xx is an answer: reachable */
    CHECK(of_monitor_ready(m, why, sizeof why));
    of_monitor_state_loaded(m, false);
    CHECK(!of_monitor_ready(m, why, sizeof why));
    CHECK_CONTAINS(why, "state not loaded");
    of_monitor_state_loaded(m, true);
    of_monitor_rebalance(m, OF_KAFKA_REVOKED, 3);
    CHECK(!of_monitor_ready(m, why, sizeof why));
    of_kafka_lag lags[] = {{"p.jobs.s1", 0, 5}, {"p.jobs.s1", 1, -1}};
    of_monitor_kafka_lag(m, lags, 2);
    of_monitor_event_produced(m, OF_EV_JOB_SUCCEEDED);
    char *text = render(of_monitor_metrics(m));
    CHECK_CONTAINS(text, "octofleet_kafka_consumer_lag{topic=\"p.jobs.s1\",partition=\"0\"} 5\n");
    CHECK(strstr(text, "partition=\"1\"") == NULL); /* unknown lag is not shown */
    CHECK_CONTAINS(text,
                   "octofleet_octopus_requests_total{route=\"tasks\",status_class=\"error\"} 1");
    CHECK_CONTAINS(text,
                   "octofleet_octopus_requests_total{route=\"tasks\",status_class=\"5xx\"} 1");
    CHECK_CONTAINS(text, "octofleet_octopus_retries_total{route=\"tasks\"} 1");
    CHECK_CONTAINS(text, "octofleet_octopus_throttled_total 1");
    CHECK_CONTAINS(text, "octofleet_events_produced_total{type=\"job.succeeded\"} 1");
    CHECK_CONTAINS(text, "octofleet_kafka_rebalances_total{kind=\"revoke\"} 1");
    CHECK_CONTAINS(text, "octofleet_build_info{version=\"" OF_VERSION "\",daemon=\"worker\"} 1");
#ifdef OF_PROMTOOL
    promtool_check(text, "a monitor's registry");
#endif
    free(text);
    of_monitor_stop(m);
}

int main(void)
{
    test_render_cases();
    test_bad_declarations();
    test_series_identity();
    test_promtool();
    test_cost();
    test_concurrent();
    test_hostport();
    test_httpd();
    test_monitor_ready();
    return TEST_DONE();
}
