/* Benchmark: how the whole fleet scales with the number of tenants.
 *
 * One process runs everything, as `octofleet demo` does: librdkafka's mock cluster as Kafka, the
 * Octopus simulator (tests/sim) in-process, the producer and W workers as threads. The world is
 * generated here (no files): 4 projects (Schema untenanted; Identity, Billing, Web tenanted),
 * N tenants each connected to all three tenanted projects in Development and in ONE of the two
 * beta environments, release 1.0.0 current everywhere and 2.0.0 through Development, so 2.0.0 is
 * deployable to the betas. One release, stages [[Schema], [Identity, Billing], [Web]], goes to
 * both betas for every tenant: 3N + 2 jobs. We measure from the submit to release.completed.
 *
 * Before the measured release, warm-up releases (projects Warmup1..3 in three stages, environment
 * Warmup) run until every worker has finished a job: the mock's group joins and rebalances take
 * seconds, and a producer's first message to a topic waits for its metadata (~250 ms per stage
 * topic); neither is what we measure. Octopus request counts are deltas over the measured release
 * only; the worker stats (filled when a worker returns) include the small warm-up.
 *
 *   bench_fleet [--tenants N] [--workers W] [--max-in-flight M] [--poll-interval MS]
 *               [--duration MIN-MAX] [--kafka KEY=VALUE]... [--detail]
 *   bench_fleet --sweep          N in {100, 1000, 3000} (other options apply), one table
 *
 * bench/README.md has numbers and what they mean. Exit 0 when every run completed with exactly
 * one deployment per job, 1 otherwise (the line says what went wrong). */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "octopus.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "fleet.h"
#include "inproc.h"
#include "kafka.h"
#include "log.h"
#include "msg.h"
#include "producer.h"
#include "sim.h"
#include "uuid.h"
#include "worker.h"

#define KEY           "API-BENCHFLEET0000000000000000001"
#define MAX_WORKERS   16
#define PARTITIONS    "12"
#define WARM_TENANTS  96     /* tenants of the warm-up releases: enough for every partition */
#define WARM_DEADLINE 120000 /* ms for a warm-up round (group joins), plus its deployments */
#define WARM_ROUNDS   10     /* warm-up rounds at most */
#define STALL_MS      60000  /* no event for this long beyond the longest deployment = a stall */
#define STOP_DEADLINE 60000  /* ms for a daemon to return after its stop flag is set */
#define WORLD_MAX     (256u << 20)
#define MAX_ROUTES    64

static const char *const envs[2] = {"On Site Beta", "Hosted Beta"};
static const char *const tenanted[3] = {"Identity", "Billing", "Web"};

#define MAX_KAFKA_PROPS 8

typedef struct bench_opts {
    int tenants, workers, max_in_flight, poll_ms;
    int dur_min, dur_max; /* task durations drawn from [min, max] ms */
    bool detail;
    const char *kafka_props[MAX_KAFKA_PROPS]; /* extra kafka.properties "key=value", borrowed */
    int n_kafka_props;
} bench_opts;

/* ---- the world and the requests ---- */

static of_err build_world(const bench_opts *o, of_buf *b)
{
    int n = o->tenants;
    of_err rc = of_buf_printf(
        b,
        "{\"api_keys\":[{\"key\":\"" KEY "\",\"spaces\":[\"*\"]}],\"task_cap\":2000,\"seed\":7,"
        "\"rules\":[{\"project\":\"*\",\"duration_ms\":[%d,%d]}],"
        "\"spaces\":[{\"name\":\"Default\",\"is_default\":true,"
        "\"environments\":[\"Development\",\"On Site Beta\",\"Hosted Beta\",\"Warmup\"],"
        "\"lifecycles\":[{\"name\":\"Train\",\"phases\":["
        "{\"name\":\"Dev\",\"environments\":[\"Development\"]},"
        "{\"name\":\"Beta\",\"environments\":[\"On Site Beta\",\"Hosted Beta\"]}]},"
        "{\"name\":\"Warm\",\"phases\":[{\"name\":\"Warm\",\"environments\":[\"Warmup\"]}]}],"
        "\"projects\":["
        "{\"name\":\"Schema\",\"tenanted\":\"Untenanted\",\"lifecycle\":\"Train\","
        "\"releases\":[\"1.0.0\",\"2.0.0\"]},",
        o->dur_min, o->dur_max);
    for (int p = 0; !rc && p < 3; p++)
        rc = of_buf_printf(b,
                           "{\"name\":\"%s\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Train\","
                           "\"releases\":[\"1.0.0\",\"2.0.0\"]},",
                           tenanted[p]);
    if (!rc)
        rc =
            of_buf_puts(b, "{\"name\":\"Warmup1\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Warm\","
                           "\"releases\":[\"1.0.0\"]},"
                           "{\"name\":\"Warmup2\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Warm\","
                           "\"releases\":[\"1.0.0\"]},"
                           "{\"name\":\"Warmup3\",\"tenanted\":\"Tenanted\",\"lifecycle\":\"Warm\","
                           "\"releases\":[\"1.0.0\"]}],\"tenants\":[");
    for (int t = 0; !rc && t < n; t++) {
        const char *env = envs[t % 2]; /* every tenant in exactly one beta */
        rc = of_buf_printf(b, "%s{\"name\":\"Tenant %05d\",\"projects\":{", t ? "," : "", t + 1);
        for (int p = 0; !rc && p < 3; p++)
            rc = of_buf_printf(b, "%s\"%s\":[\"Development\",\"%s\"]", p ? "," : "", tenanted[p],
                               env);
        if (!rc) rc = of_buf_puts(b, "}}");
    }
    /* The warm-up's own tenants, so it reaches every partition whatever N is. */
    for (int t = 0; !rc && t < WARM_TENANTS; t++)
        rc = of_buf_printf(b,
                           ",{\"name\":\"Warm %02d\",\"projects\":{\"Warmup1\":[\"Warmup\"],"
                           "\"Warmup2\":[\"Warmup\"],\"Warmup3\":[\"Warmup\"]}}",
                           t + 1);
    if (!rc)
        rc = of_buf_puts(b, "],\"history\":["
                            "{\"project\":\"Schema\",\"release\":\"1.0.0\",\"environment\":\"*\"},"
                            "{\"project\":\"Schema\",\"release\":\"2.0.0\","
                            "\"environment\":\"Development\"}");
    for (int p = 0; !rc && p < 3; p++)
        rc = of_buf_printf(b,
                           ",{\"project\":\"%s\",\"release\":\"1.0.0\",\"environment\":\"*\","
                           "\"tenant\":\"*\"},{\"project\":\"%s\",\"release\":\"2.0.0\","
                           "\"environment\":\"Development\",\"tenant\":\"*\"}",
                           tenanted[p], tenanted[p]);
    if (!rc) rc = of_buf_puts(b, "]}]}");
    return rc;
}

static const char bench_request[] =
    "{\"release\":\"bench\",\"space\":\"Default\",\"environments\":[\"On Site Beta\",\"Hosted "
    "Beta\"],\"tenants\":\"all\",\"stages\":["
    "[{\"project\":\"Schema\",\"version\":\"2.0.0\"}],"
    "[{\"project\":\"Identity\",\"version\":\"2.0.0\"},{\"project\":\"Billing\",\"version\":"
    "\"2.0.0\"}],"
    "[{\"project\":\"Web\",\"version\":\"2.0.0\"}]],"
    "\"policy\":{\"on_failure\":\"pause\",\"timeout\":\"10m\"}}";

/* ---- Octopus request counts per route, from GET /sim/stats ---- */

typedef struct route_count {
    char name[96];
    long n;
} route_count;

typedef struct routes {
    route_count r[MAX_ROUTES];
    int n;
} routes;

/* Reads the "routes" object of /sim/stats. The simulator writes compact JSON and route names
 * hold no quotes, so a scan does; the bench stays off jansson (one module per library). */
static bool routes_read(ofsim *sim, routes *out)
{
    int status = 0;
    char *resp = NULL;
    memset(out, 0, sizeof(*out));
    if (ofsim_admin(sim, "GET", "/sim/stats", NULL, &status, &resp) || status != 200 || !resp) {
        free(resp);
        return false;
    }
    const char *p = strstr(resp, "\"routes\":{");
    bool ok = p != NULL;
    if (p) p += strlen("\"routes\":{");
    while (ok && *p == '"' && out->n < MAX_ROUTES) {
        const char *end = strchr(p + 1, '"');
        if (!end || end[1] != ':') {
            ok = false;
            break;
        }
        route_count *rc = &out->r[out->n++];
        snprintf(rc->name, sizeof(rc->name), "%.*s", (int)(end - p - 1), p + 1);
        char *num_end;
        rc->n = strtol(end + 2, &num_end, 10);
        p = num_end;
        if (*p == ',') p++;
    }
    free(resp);
    return ok;
}

static long routes_get(const routes *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->r[i].name, name) == 0) return r->r[i].n;
    return 0;
}

/* after - before, /api routes only, biggest first. */
static void routes_diff(const routes *before, const routes *after, routes *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < after->n; i++) {
        long d = after->r[i].n - routes_get(before, after->r[i].name);
        if (d <= 0 || !strstr(after->r[i].name, " /api")) continue;
        out->r[out->n] = after->r[i];
        out->r[out->n++].n = d;
    }
    for (int i = 1; i < out->n; i++) /* insertion sort, a dozen entries */
        for (int k = i; k > 0 && out->r[k].n > out->r[k - 1].n; k--) {
            route_count t = out->r[k];
            out->r[k] = out->r[k - 1];
            out->r[k - 1] = t;
        }
}

static long routes_total(const routes *r)
{
    long n = 0;
    for (int i = 0; i < r->n; i++)
        n += r->r[i].n;
    return n;
}

/* ---- deployments per (release, environment, tenant), from /sim/deployment-counts ---- */

typedef struct dep_counts {
    long rows;  /* (release, environment, tenant) triples of the measured release */
    long total; /* deployments among them */
    long dupes; /* triples with more than one */
    bool ok;    /* the reply could be read */
} dep_counts;

/* Counts the rows not of a Warmup project. Compact JSON again, each row starting with
 * {"project":"NAME" and holding one "count":N. */
static dep_counts deployment_counts(ofsim *sim)
{
    dep_counts dc = {0};
    int status = 0;
    char *resp = NULL;
    if (ofsim_admin(sim, "GET", "/sim/deployment-counts", NULL, &status, &resp) || status != 200 ||
        !resp) {
        free(resp);
        return dc;
    }
    static const char row[] = "{\"project\":\"";
    dc.ok = true;
    for (const char *p = strstr(resp, row); p; p = strstr(p, row)) {
        p += sizeof(row) - 1;
        bool warm = strncmp(p, "Warmup", 6) == 0;
        const char *c = strstr(p, "\"count\":");
        if (!c) {
            dc.ok = false;
            break;
        }
        long n = strtol(c + 8, NULL, 10);
        if (warm) continue;
        dc.rows++;
        dc.total += n;
        if (n != 1) dc.dupes++;
    }
    free(resp);
    return dc;
}

/* ---- per-job timing from the events (job id -> times) ---- */

typedef struct job_times {
    char id[OF_UUID_STR_SIZE];
    int64_t dispatched, started, finished;
} job_times;

typedef struct job_map {
    job_times *slots;
    size_t cap; /* power of two */
} job_map;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The entry for id, created if absent; NULL when the map is full. */
static job_times *job_map_get(job_map *m, const char *id)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)fnv1a(id) & mask, k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        job_times *j = &m->slots[i];
        if (!j->id[0]) of_id_copy(j->id, id);
        if (strcmp(j->id, id) == 0) return j;
    }
    return NULL;
}

/* ---- CPU time: where the time goes on a small machine ---- */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds so far: the process, each daemon's own thread (the producer's and the workers'
 * loops: Kafka polling, decisions, curl multi, JSON), and the bench's thread (reading events).
 * What is left is the simulator's HTTP and task threads and librdkafka's and the mock's. */
typedef struct cpu_snap {
    double process, bench, daemon[1 + MAX_WORKERS];
} cpu_snap;

/* ---- one run ---- */

typedef struct result {
    int tenants, workers, expected_jobs;
    int jobs;     /* n_total of release.completed */
    int finished; /* job.succeeded events */
    /* Events of the release the bench never read: 3 per job (dispatched, started, succeeded)
     * plus 2 per stage and environment, minus what arrived. Non-zero when a consumer fell behind
     * far enough for the log to be trimmed under it (the mock keeps 5 MiB per partition). */
    int missed;
    int64_t wall_ms, plan_ms;
    routes req;
    dep_counts deps;
    of_worker_stats w[MAX_WORKERS];
    double avg_to_start_ms, avg_to_done_ms;
    double lag_dispatched_ms, lag_succeeded_ms; /* event time -> read by the bench */
    int64_t stage_ms[3][2];
    int stage_jobs[3][2];
    cpu_snap cpu; /* CPU seconds used during the measured window */
    int cores;    /* online CPUs */
    int warmup_rounds;
    int64_t setup_ms, warm_ms, stop_ms;  /* outside the measured window */
    int64_t stopped_at[1 + MAX_WORKERS]; /* ms from the stop request to each daemon's join */
    bool ok;
    char error[512];
} result;

typedef struct fleet {
    const bench_opts *o;
    of_inproc in; /* mock cluster, simulator, config (inproc.h) */
    of_kafka_producer *cmdp;
    of_kafka_consumer *events;
    of_inproc_daemon d[1 + MAX_WORKERS];
    job_map jobs;
    bool stuck; /* a daemon would not stop: leak rather than free what it uses */
} fleet;

static of_err fleet_setup(fleet *f, const bench_opts *o, char *es, size_t en)
{
    char mif[32], poll[32];
    snprintf(mif, sizeof(mif), "%d", o->max_in_flight);
    snprintf(poll, sizeof(poll), "%dms", o->poll_ms);
    of_inproc_set sets[8 + MAX_KAFKA_PROPS] = {
        {"topics.partitions", PARTITIONS},
        {"topics.max_stages", "3"},
        {"worker.poll_interval", poll},
        {"worker.max_in_flight", mif},
        {"worker.drain_timeout", "10s"},
        {"kafka.properties", "session.timeout.ms=6000"},
        {"kafka.properties", "heartbeat.interval.ms=500"},
        {"kafka.properties", "linger.ms=5"},
    };
    size_t n_sets = 8;
    for (int i = 0; i < o->n_kafka_props; i++)
        sets[n_sets++] = (of_inproc_set){"kafka.properties", o->kafka_props[i]};
    static const char *const keys[] = {KEY, NULL};
    f->o = o;
    of_buf world;
    of_buf_init(&world, WORLD_MAX);
    of_err rc = build_world(o, &world);
    if (rc) {
        of_buf_clear(&world);
        return of_seterr(es, en, rc, "cannot build the world");
    }
    of_inproc_opts io = {.world_json = world.data,
                         .api_keys = keys,
                         .sets = sets,
                         .n_sets = n_sets,
                         .client_id = "bench-fleet"};
    rc = of_inproc_start(&f->in, &io, es, en);
    of_buf_clear(&world);
    if (!rc) rc = of_inproc_start_daemons(f->d, o->workers, &f->in, KEY, es, en);
    if (!rc) rc = of_inproc_operator(&f->in, "bench-fleet-events", &f->events, &f->cmdp, es, en);
    return rc;
}

/* Stops the daemons, workers first, and keeps their stats. The workers are asked together:
 * one by one, each leaving would cost a rebalance, which the mock cluster stretches to
 * session.timeout.ms - 1 s. False if one would not stop. */
static bool fleet_stop_daemons(fleet *f, result *r)
{
    bool ok = true;
    int64_t t0 = of_now_ms();
    for (int i = 1; i <= MAX_WORKERS; i++)
        of_inproc_daemon_stop_request(&f->d[i]);
    for (int i = MAX_WORKERS; i >= 0; i--) {
        if (i == 0) of_inproc_daemon_stop_request(&f->d[0]);
        if (!of_inproc_daemon_join(&f->d[i], STOP_DEADLINE)) {
            fprintf(stderr, "bench_fleet: %s did not stop within %d s\n", f->d[i].name,
                    STOP_DEADLINE / 1000);
            ok = false;
            continue;
        }
        r->stopped_at[i] = of_now_ms() - t0;
        if (i > 0 && i <= f->o->workers) r->w[i - 1] = f->d[i].stats;
    }
    f->stuck = !ok;
    return ok;
}

static void fleet_clear(fleet *f)
{
    if (f->stuck) return; /* threads still use all of it */
    of_kafka_consumer_destroy(f->events);
    of_kafka_producer_destroy(f->cmdp);
    of_inproc_clear(&f->in);
    free(f->jobs.slots);
}

/* Produces a submit command for request_json; *release_id gets the release's id. */
static of_err submit(fleet *f, const char *release, const char *request_json,
                     char release_id[OF_UUID_STR_SIZE], char *es, size_t en)
{
    static char who[] = "bench_fleet";
    char topic[OF_TOPIC_NAME_MAX];
    char *json = NULL;
    char *req = strdup(request_json);
    if (!req) return of_seterr(es, en, OF_ERR_NOMEM, "out of memory");
    of_command cmd = {
        .type = OF_CMD_SUBMIT, .by = who, .time_ms = of_wall_ms(), .request_json = req};
    of_uuid_release_id("Default", release, cmd.release_id);
    of_id_copy(release_id, cmd.release_id);
    of_err rc = of_config_topic(&f->in.cfg, "requests", topic, sizeof(topic));
    if (!rc) rc = of_command_encode(&cmd, &json);
    free(req);
    if (rc) return of_seterr(es, en, rc, "cannot encode the submit command");
    static const char ctype[] = "application/json";
    of_kafka_header h = {"content-type", ctype, sizeof(ctype) - 1};
    of_kafka_record rec = {.topic = topic,
                           .partition = OF_KAFKA_PARTITION_ANY,
                           .key = release_id,
                           .key_len = strlen(release_id),
                           .value = json,
                           .value_len = strlen(json),
                           .headers = &h,
                           .nheaders = 1};
    char why[256] = "";
    rc = of_kafka_produce(f->cmdp, &rec, NULL, NULL, why, sizeof(why));
    if (!rc) rc = of_kafka_flush(f->cmdp, 30000, why, sizeof(why));
    free(json);
    if (rc) of_seterr(es, en, rc, "cannot send the submit command: %s", why);
    return rc;
}

/* What following a release is after. */
typedef struct follow {
    const char *what; /* "warm-up release warmup-1", for messages */
    const char *release_id;
    int64_t deadline; /* of_now_ms */
    /* warm-up: which workers finished a job */
    bool seen[MAX_WORKERS];
    /* measured release */
    result *r;
    int64_t t_submit, t_accepted, t_done;
    int64_t stage_start[3][2];
    int by_type[OF_EV__COUNT];
    double lag_sum[OF_EV__COUNT]; /* sum of (read here - event time): the Kafka hop */
} follow;

static int env_index(const char *name)
{
    return name && strcmp(name, envs[1]) == 0 ? 1 : 0;
}

/* One event of the followed release. Returns 1 when it completed, -1 when it ended otherwise
 * (error in es), 0 to go on. */
static int on_event(fleet *f, follow *fo, const of_event *ev, char *es, size_t en)
{
    fo->by_type[ev->type]++;
    size_t pfx = strlen(OF_SOURCE_WORKER_PFX);
    switch (ev->type) {
    case OF_EV_RELEASE_ACCEPTED:
        fo->t_accepted = of_now_ms();
        break;
    case OF_EV_RELEASE_REJECTED:
        of_seterr(es, en, OF_ERR_STATE, "release rejected: %s%s%s", ev->message ? ev->message : "",
                  ev->n_errors ? ": " : "", ev->n_errors ? ev->errors[0] : "");
        return -1;
    case OF_EV_RELEASE_PAUSED:
    case OF_EV_RELEASE_ABORTED:
        of_seterr(es, en, OF_ERR_STATE, "release %s (%zu failed jobs; first: %s %s)",
                  ev->type == OF_EV_RELEASE_PAUSED ? "paused" : "aborted", ev->n_jobs,
                  ev->n_jobs ? ev->jobs[0].project : "-",
                  ev->n_jobs && ev->jobs[0].tenant ? ev->jobs[0].tenant : "-");
        return -1;
    case OF_EV_RELEASE_COMPLETED:
        fo->t_done = of_now_ms();
        if (fo->r) fo->r->jobs = ev->n_total;
        return 1;
    case OF_EV_STAGE_STARTED:
    case OF_EV_STAGE_SUCCEEDED:
        if (fo->r && ev->stage >= 1 && ev->stage <= 3) {
            int s = ev->stage - 1, e = env_index(ev->environment);
            if (ev->type == OF_EV_STAGE_STARTED) {
                fo->stage_start[s][e] = ev->time_ms;
                fo->r->stage_jobs[s][e] = ev->n_total;
            } else if (fo->stage_start[s][e]) { /* else its stage.started was never read */
                fo->r->stage_ms[s][e] = ev->time_ms - fo->stage_start[s][e];
            }
        }
        break;
    case OF_EV_JOB_DISPATCHED:
    case OF_EV_JOB_STARTED:
    case OF_EV_JOB_SUCCEEDED:
        if (ev->type == OF_EV_JOB_SUCCEEDED && ev->source &&
            strncmp(ev->source, OF_SOURCE_WORKER_PFX, pfx) == 0)
            for (int i = 1; i <= f->o->workers; i++)
                if (strcmp(ev->source + pfx, f->d[i].name) == 0) fo->seen[i - 1] = true;
        if (fo->r && f->jobs.slots) {
            job_times *j = job_map_get(&f->jobs, ev->job_id);
            if (!j) break;
            if (ev->type == OF_EV_JOB_DISPATCHED) j->dispatched = ev->time_ms;
            if (ev->type == OF_EV_JOB_STARTED) j->started = ev->time_ms;
            if (ev->type == OF_EV_JOB_SUCCEEDED) j->finished = ev->time_ms;
        }
        break;
    case OF_EV_JOB_FAILED:
    case OF_EV_JOB_TIMED_OUT:
    case OF_EV_JOB_CANCELLED:
        of_seterr(es, en, OF_ERR_STATE, "job %s %s/%s/%s: %s", of_event_type_name(ev->type),
                  ev->project ? ev->project : "-", ev->environment ? ev->environment : "-",
                  ev->tenant ? ev->tenant : "-", ev->message ? ev->message : "");
        return -1;
    default:
        break;
    }
    return 0;
}

/* Reads events until the followed release ends, the deadline passes, a daemon fails or nothing
 * happens for STALL_MS. OF_OK when it completed. */
static of_err follow_release(fleet *f, follow *fo, char *es, size_t en)
{
    int64_t last_event = of_now_ms();
    /* a stage of long deployments is silent from its job.started events to its first end */
    int64_t stall_ms = STALL_MS + f->o->dur_max;
    for (;;) {
        int64_t now = of_now_ms();
        for (int i = 0; i <= f->o->workers; i++)
            if (of_inproc_daemon_done(&f->d[i]))
                return of_seterr(es, en, OF_ERR_STATE, "%s stopped: %s: %s", f->d[i].name,
                                 of_strerror(f->d[i].rc), f->d[i].errstr);
        if (now > fo->deadline || now - last_event > stall_ms) {
            const int *n = fo->by_type;
            return of_seterr(
                es, en, OF_ERR_TIMEOUT,
                "%s: %s after %.1f s: %d dispatched, %d started, %d succeeded; simulator: %d "
                "tasks Queued, %d Executing",
                fo->what, now > fo->deadline ? "deadline passed" : "stalled (no event for a while)",
                (double)(now - fo->t_submit) / 1000.0, n[OF_EV_JOB_DISPATCHED],
                n[OF_EV_JOB_STARTED], n[OF_EV_JOB_SUCCEEDED], ofsim_task_count(f->in.sim, "Queued"),
                ofsim_task_count(f->in.sim, "Executing"));
        }
        of_kafka_message *m = NULL;
        char why[256];
        of_err prc = of_kafka_consumer_poll(f->events, 200, &m, why, sizeof(why));
        if (prc == OF_ERR_STATE)
            return of_seterr(es, en, prc, "%s: reading events failed: %s", fo->what, why);
        if (!m) continue;
        of_event ev = {0};
        int end = 0;
        if (m->value && of_event_decode(m->value, m->value_len, &ev, why, sizeof(why)) == OF_OK &&
            strcmp(ev.release_id, fo->release_id) == 0) {
            last_event = of_now_ms();
            if (ev.time_ms > 0) fo->lag_sum[ev.type] += (double)(of_wall_ms() - ev.time_ms);
            end = on_event(f, fo, &ev, es, en);
        }
        of_event_clear(&ev);
        of_kafka_message_free(m);
        if (end > 0) return OF_OK;
        if (end < 0) return OF_ERR_STATE;
    }
}

/* Warm-up releases until every worker finished a job (so every one has joined the group). */
static of_err warm_up(fleet *f, result *r, char *es, size_t en)
{
    follow fo = {0};
    for (int round = 1;; round++) {
        char release[32], request[512], id[OF_UUID_STR_SIZE];
        snprintf(release, sizeof(release), "warmup-%d", round);
        snprintf(request, sizeof(request),
                 "{\"release\":\"%s\",\"environments\":[\"Warmup\"],\"tenants\":\"all\","
                 "\"stages\":[[{\"project\":\"Warmup1\",\"version\":\"1.0.0\"}],"
                 "[{\"project\":\"Warmup2\",\"version\":\"1.0.0\"}],"
                 "[{\"project\":\"Warmup3\",\"version\":\"1.0.0\"}]]}",
                 release);
        of_err rc = submit(f, release, request, id, es, en);
        if (rc) return rc;
        char what[64];
        snprintf(what, sizeof(what), "warm-up release %s", release);
        fo.what = what;
        fo.release_id = id;
        /* three stages of deployments up to dur_max each, whatever their length */
        fo.t_submit = of_now_ms();
        fo.deadline = fo.t_submit + WARM_DEADLINE + 3 * (int64_t)f->o->dur_max;
        rc = follow_release(f, &fo, es, en);
        if (rc) return rc;
        r->warmup_rounds = round;
        bool all = true;
        for (int i = 0; i < f->o->workers; i++)
            all = all && fo.seen[i];
        if (all) return OF_OK;
        if (round >= WARM_ROUNDS)
            return of_seterr(es, en, OF_ERR_TIMEOUT,
                             "warm-up: not every worker got a job in %d rounds", round);
    }
}

static void cpu_take(const fleet *f, cpu_snap *c)
{
    memset(c, 0, sizeof(*c));
    c->process = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    c->bench = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i <= f->o->workers; i++) {
        clockid_t id;
        if (f->d[i].started && !of_inproc_daemon_done(&f->d[i]) &&
            pthread_getcpuclockid(f->d[i].tid, &id) == 0)
            c->daemon[i] = clock_s(id);
    }
}

static void measure(fleet *f, result *r)
{
    char *es = r->error;
    size_t en = sizeof(r->error);
    int jobs = r->expected_jobs;
    f->jobs.cap = 1024;
    while (f->jobs.cap < (size_t)jobs * 2)
        f->jobs.cap *= 2;
    f->jobs.slots = calloc(f->jobs.cap, sizeof(job_times));
    routes before, after;
    if (!routes_read(f->in.sim, &before)) {
        of_seterr(es, en, OF_ERR_PROTOCOL, "cannot read /sim/stats");
        return;
    }
    follow fo = {.r = r, .what = "release bench"};
    char id[OF_UUID_STR_SIZE];
    cpu_snap cpu0, cpu1;
    cpu_take(f, &cpu0);
    fo.t_submit = of_now_ms();
    /* generous: far beyond what the numbers in bench/README.md need */
    fo.deadline = fo.t_submit + 120000 + 100 * (int64_t)jobs + 3 * (int64_t)f->o->dur_max;
    if (submit(f, "bench", bench_request, id, es, en)) return;
    fo.release_id = id;
    if (follow_release(f, &fo, es, en)) return;
    cpu_take(f, &cpu1);
    r->cpu.process = cpu1.process - cpu0.process;
    r->cpu.bench = cpu1.bench - cpu0.bench;
    for (int i = 0; i <= f->o->workers; i++)
        r->cpu.daemon[i] = cpu1.daemon[i] - cpu0.daemon[i];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    r->cores = cores > 0 ? (int)cores : 1;
    r->wall_ms = fo.t_done - fo.t_submit;
    r->plan_ms = fo.t_accepted ? fo.t_accepted - fo.t_submit : 0;
    r->finished = fo.by_type[OF_EV_JOB_SUCCEEDED];
    {
        int seen = fo.by_type[OF_EV_JOB_DISPATCHED] + fo.by_type[OF_EV_JOB_STARTED] +
                   fo.by_type[OF_EV_JOB_SUCCEEDED] + fo.by_type[OF_EV_STAGE_STARTED] +
                   fo.by_type[OF_EV_STAGE_SUCCEEDED];
        r->missed = 3 * r->jobs + 2 * 3 * 2 - seen;
    }
    if (fo.by_type[OF_EV_JOB_DISPATCHED])
        r->lag_dispatched_ms =
            fo.lag_sum[OF_EV_JOB_DISPATCHED] / (double)fo.by_type[OF_EV_JOB_DISPATCHED];
    if (fo.by_type[OF_EV_JOB_SUCCEEDED])
        r->lag_succeeded_ms =
            fo.lag_sum[OF_EV_JOB_SUCCEEDED] / (double)fo.by_type[OF_EV_JOB_SUCCEEDED];
    if (!routes_read(f->in.sim, &after)) {
        of_seterr(es, en, OF_ERR_PROTOCOL, "cannot read /sim/stats");
        return;
    }
    routes_diff(&before, &after, &r->req);
    r->deps = deployment_counts(f->in.sim);

    double to_start = 0, to_done = 0;
    long n = 0;
    for (size_t i = 0; f->jobs.slots && i < f->jobs.cap; i++) {
        const job_times *j = &f->jobs.slots[i];
        if (!j->id[0] || !j->dispatched || !j->started || !j->finished) continue;
        to_start += (double)(j->started - j->dispatched);
        to_done += (double)(j->finished - j->started);
        n++;
    }
    r->avg_to_start_ms = n ? to_start / (double)n : 0;
    r->avg_to_done_ms = n ? to_done / (double)n : 0;

    if (!r->deps.ok)
        of_seterr(es, en, OF_ERR_PROTOCOL, "cannot read /sim/deployment-counts");
    else if (r->jobs != jobs || r->finished != jobs)
        of_seterr(es, en, OF_ERR_STATE, "expected %d jobs, release.completed says %d, %d succeeded",
                  jobs, r->jobs, r->finished);
    else if (r->deps.rows != jobs || r->deps.total != jobs || r->deps.dupes)
        of_seterr(es, en, OF_ERR_STATE,
                  "deployments: %ld targets, %ld deployments, %ld targets deployed more than "
                  "once, for %d jobs",
                  r->deps.rows, r->deps.total, r->deps.dupes, jobs);
    else
        r->ok = true;
}

static void run(const bench_opts *o, result *r)
{
    memset(r, 0, sizeof(*r));
    r->tenants = o->tenants;
    r->workers = o->workers;
    r->expected_jobs = 3 * o->tenants + 2;
    fleet *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        return;
    }
    int64_t t0 = of_now_ms();
    if (fleet_setup(f, o, r->error, sizeof(r->error)) == OF_OK) {
        r->setup_ms = of_now_ms() - t0;
        t0 = of_now_ms();
        of_err rc = warm_up(f, r, r->error, sizeof(r->error));
        r->warm_ms = of_now_ms() - t0;
        if (rc == OF_OK) measure(f, r);
    }
    char saved[sizeof(r->error)];
    memcpy(saved, r->error, sizeof(saved));
    bool ok = r->ok;
    t0 = of_now_ms();
    bool stopped = fleet_stop_daemons(f, r);
    r->stop_ms = of_now_ms() - t0;
    if (!stopped) {
        ok = false;
        if (!saved[0]) snprintf(saved, sizeof(saved), "a daemon did not stop");
    }
    for (int i = 0; i <= o->workers; i++)
        if (f->d[i].rc && !saved[0])
            snprintf(saved, sizeof(saved), "%s: %s", f->d[i].name, f->d[i].errstr);
    r->ok = ok && !saved[0];
    memcpy(r->error, saved, sizeof(saved));
    fleet_clear(f);
    if (!f->stuck) free(f);
}

/* ---- output ---- */

typedef struct summary {
    double jobs_s, req_job, post_job, tasks_job, deps_job, other_job, tasks_round;
    uint64_t rounds, max_in_flight;
} summary;

static summary summarise(const result *r)
{
    summary s = {0};
    double jobs = r->jobs > 0 ? r->jobs : 1;
    long post = routes_get(&r->req, "POST /api/{space}/deployments");
    long tasks = routes_get(&r->req, "GET /api/{space}/tasks");
    long deps = routes_get(&r->req, "GET /api/{space}/deployments");
    long total = routes_total(&r->req);
    uint64_t polled = 0;
    for (int i = 0; i < r->workers; i++) {
        s.rounds += r->w[i].poll_rounds;
        polled += r->w[i].tasks_polled;
        if (r->w[i].max_in_flight > s.max_in_flight) s.max_in_flight = r->w[i].max_in_flight;
    }
    s.jobs_s = r->wall_ms > 0 ? jobs * 1000.0 / (double)r->wall_ms : 0;
    s.req_job = (double)total / jobs;
    s.post_job = (double)post / jobs;
    s.tasks_job = (double)tasks / jobs;
    s.deps_job = (double)deps / jobs;
    s.other_job = (double)(total - post - tasks - deps) / jobs;
    s.tasks_round = s.rounds ? (double)polled / (double)s.rounds : 0;
    return s;
}

static void print_line(const bench_opts *o, const result *r)
{
    summary s = summarise(r);
    printf("bench_fleet: tenants=%d workers=%d max_in_flight=%d poll=%dms tasks=%d-%dms jobs=%d "
           "wall=%.2fs plan=%.2fs jobs/s=%.1f octo_req/job=%.3f (POST deployments %.3f, "
           "GET tasks %.3f, GET deployments %.3f, other %.3f) deployments=%ld once_each=%s "
           "poll_rounds=%" PRIu64 " tasks/round=%.1f max_in_flight=%" PRIu64
           " dispatch->started=%.0fms started->done=%.0fms cpu=%.0f%%%s%s%s\n",
           r->tenants, r->workers, o->max_in_flight, o->poll_ms, o->dur_min, o->dur_max, r->jobs,
           (double)r->wall_ms / 1000.0, (double)r->plan_ms / 1000.0, s.jobs_s, s.req_job,
           s.post_job, s.tasks_job, s.deps_job, s.other_job, r->deps.total,
           r->deps.ok && r->deps.dupes == 0 && r->deps.rows == r->jobs ? "yes" : "NO", s.rounds,
           s.tasks_round, s.max_in_flight, r->avg_to_start_ms, r->avg_to_done_ms,
           r->wall_ms > 0 && r->cores
               ? 100.0 * r->cpu.process / ((double)r->wall_ms / 1000.0 * r->cores)
               : 0.0,
           r->missed > 0 ? " WARNING: events never read (log trimmed under a consumer)" : "",
           r->ok ? "" : " FAILED: ", r->ok ? "" : r->error);
}

static void print_detail(const result *r)
{
    double jobs = r->jobs > 0 ? r->jobs : 1;
    printf("  outside the measurement: setup %.2f s, warm-up %.2f s (%d round%s), stop %.2f s\n",
           (double)r->setup_ms / 1000.0, (double)r->warm_ms / 1000.0, r->warmup_rounds,
           r->warmup_rounds == 1 ? "" : "s", (double)r->stop_ms / 1000.0);
    printf("  joined after the stop request:");
    for (int i = r->workers; i > 0; i--)
        printf(" worker-%d %.2f s,", i, (double)r->stopped_at[i] / 1000.0);
    printf(" producer %.2f s\n", (double)r->stopped_at[0] / 1000.0);
    if (r->missed)
        printf("  %d events of the release were never read by the bench: the consumer fell behind "
               "and the broker had trimmed the log (librdkafka's mock keeps 5 MiB per partition); "
               "stage and latency figures below are incomplete\n",
               r->missed);
    printf("  job latency: dispatched -> started %.0f ms, started -> succeeded %.0f ms; events "
           "reach a consumer %.0f ms (job.dispatched) / %.0f ms (job.succeeded) after their time\n",
           r->avg_to_start_ms, r->avg_to_done_ms, r->lag_dispatched_ms, r->lag_succeeded_ms);
    double wall = r->wall_ms > 0 ? (double)r->wall_ms / 1000.0 : 1, workers = 0;
    for (int i = 1; i <= r->workers; i++)
        workers += r->cpu.daemon[i];
    printf("  CPU in the measured window: %.1f s of %.1f s x %d cores (%.0f%%): producer thread "
           "%.1f s, worker threads %.1f s, bench (events) %.1f s, the rest (simulator, "
           "librdkafka, mock broker) %.1f s\n",
           r->cpu.process, wall, r->cores, 100.0 * r->cpu.process / (wall * r->cores),
           r->cpu.daemon[0], workers, r->cpu.bench,
           r->cpu.process - r->cpu.daemon[0] - workers - r->cpu.bench);
    printf("  Octopus requests of the measured release, by route:\n");
    for (int i = 0; i < r->req.n; i++)
        printf("    %-48s %8ld  %.3f/job\n", r->req.r[i].name, r->req.r[i].n,
               (double)r->req.r[i].n / jobs);
    printf("  stages (from stage.started to stage.succeeded):\n");
    for (int s = 0; s < 3; s++)
        for (int e = 0; e < 2; e++) {
            char count[16] = "    ?", took[16] = "    ?";
            if (r->stage_jobs[s][e]) snprintf(count, sizeof(count), "%5d", r->stage_jobs[s][e]);
            if (r->stage_ms[s][e] > 0)
                snprintf(took, sizeof(took), "%7.2f", (double)r->stage_ms[s][e] / 1000.0);
            printf("    stage %d %-13s %s jobs %s s\n", s + 1, envs[e], count, took);
        }
    printf("  workers (warm-up included):\n");
    for (int i = 0; i < r->workers; i++) {
        const of_worker_stats *w = &r->w[i];
        printf("    worker-%d messages=%" PRIu64 " created=%" PRIu64 " adopted=%" PRIu64
               " succeeded=%" PRIu64 " dropped=%" PRIu64 " poll_rounds=%" PRIu64
               " tasks_polled=%" PRIu64 " max_in_flight=%" PRIu64 " pauses=%" PRIu64
               " octo_requests=%" PRIu64 "\n",
               i + 1, w->messages, w->created, w->adopted, w->succeeded, w->dropped, w->poll_rounds,
               w->tasks_polled, w->max_in_flight, w->pauses, w->octo_requests);
    }
}

static void print_table(const bench_opts *o, const result *rs, int n)
{
    printf("\nworkers=%d max_in_flight=%d poll_interval=%dms, task durations %d-%d ms, "
           "task cap 2000%s\n\n",
           o->workers, o->max_in_flight, o->poll_ms, o->dur_min, o->dur_max,
           o->n_kafka_props ? ", extra Kafka properties" : "");
    printf("| tenants | jobs | wall s | plan s | jobs/s | req/job | POST dep/job | GET tasks/job "
           "| GET dep/job | other/job | poll rounds | tasks/round | max in flight | "
           "deployments (once each) |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        summary s = summarise(r);
        if (!r->ok) {
            printf("| %d | FAILED: %s |\n", r->tenants, r->error);
            continue;
        }
        printf("| %d | %d | %.1f | %.2f | %.0f | %.2f | %.2f | %.3f | %.2f | %.3f | %" PRIu64
               " | %.1f | %" PRIu64 " | %ld (%s) |\n",
               r->tenants, r->jobs, (double)r->wall_ms / 1000.0, (double)r->plan_ms / 1000.0,
               s.jobs_s, s.req_job, s.post_job, s.tasks_job, s.deps_job, s.other_job, s.rounds,
               s.tasks_round, s.max_in_flight, r->deps.total, r->deps.dupes ? "NO" : "yes");
    }
}

/* ---- main ---- */

static const char usage[] =
    "usage: bench_fleet [--tenants N] [--workers W] [--max-in-flight M] [--poll-interval MS]\n"
    "                   [--duration MIN-MAX] [--kafka KEY=VALUE]... [--detail] [--sweep]\n"
    "  --tenants N         tenants in the generated world (1..100000, default 500); 3N+2 jobs\n"
    "  --workers W         worker threads (1..16, default 3)\n"
    "  --max-in-flight M   worker.max_in_flight (1..100000, default 256)\n"
    "  --poll-interval MS  worker.poll_interval in ms (100..60000, default 200)\n"
    "  --duration MIN-MAX  simulated task durations in ms (default 20-100)\n"
    "  --kafka KEY=VALUE   one more librdkafka property for every client (repeatable)\n"
    "  --detail            per-route, per-stage and per-worker lines after the result\n"
    "  --sweep             tenants 100, 1000 and 3000, then a table\n";

static bool int_arg(const char *name, const char *v, long lo, long hi, int *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < lo || n > hi) {
        fprintf(stderr, "bench_fleet: %s needs %ld..%ld\n%s", name, lo, hi, usage);
        return false;
    }
    *out = (int)n;
    return true;
}

int main(int argc, char **argv)
{
    char ges[256];
    if (of_octo_global_init(ges, sizeof ges) != OF_OK) { /* libcurl, once, before any thread */
        fprintf(stderr, "%s\n", ges);
        return 1;
    }
    bench_opts o = {.tenants = 500,
                    .workers = 3,
                    .max_in_flight = 256,
                    .poll_ms = 200,
                    .dur_min = 20,
                    .dur_max = 100};
    bool sweep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--sweep") == 0) {
            sweep = true;
            continue;
        } else if (strcmp(a, "--detail") == 0) {
            o.detail = true;
            continue;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--tenants") == 0) {
            ok = int_arg(a, v, 1, 100000, &o.tenants);
        } else if (strcmp(a, "--workers") == 0) {
            ok = int_arg(a, v, 1, MAX_WORKERS, &o.workers);
        } else if (strcmp(a, "--max-in-flight") == 0) {
            ok = int_arg(a, v, 1, 100000, &o.max_in_flight);
        } else if (strcmp(a, "--poll-interval") == 0) {
            ok = int_arg(a, v, 100, 60000, &o.poll_ms);
        } else if (strcmp(a, "--duration") == 0) {
            char *end = NULL;
            long lo = v ? strtol(v, &end, 10) : -1, hi = -1;
            if (end && *end == '-') hi = strtol(end + 1, &end, 10);
            ok = end && !*end && lo >= 0 && hi >= lo && hi <= 3600000;
            if (ok) {
                o.dur_min = (int)lo;
                o.dur_max = (int)hi;
            } else {
                fprintf(stderr, "bench_fleet: --duration needs MIN-MAX ms, e.g. 20-100\n%s", usage);
            }
        } else if (strcmp(a, "--kafka") == 0) {
            ok = v && strchr(v, '=') && o.n_kafka_props < MAX_KAFKA_PROPS;
            if (ok)
                o.kafka_props[o.n_kafka_props++] = v;
            else
                fprintf(stderr, "bench_fleet: --kafka needs KEY=VALUE (at most %d)\n%s",
                        MAX_KAFKA_PROPS, usage);
        } else {
            fprintf(stderr, "bench_fleet: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    signal(SIGPIPE, SIG_IGN); /* as the daemons do (octopus.h) */
    of_log_set_level(OF_LOG_ERROR);

    static const int sweep_tenants[] = {100, 1000, 3000};
    int runs = sweep ? (int)(sizeof(sweep_tenants) / sizeof(sweep_tenants[0])) : 1;
    result *rs = calloc((size_t)runs, sizeof(*rs));
    if (!rs) return 1;
    bool all_ok = true;
    for (int i = 0; i < runs; i++) {
        bench_opts ro = o;
        if (sweep) ro.tenants = sweep_tenants[i];
        run(&ro, &rs[i]);
        print_line(&ro, &rs[i]);
        if (ro.detail) print_detail(&rs[i]);
        fflush(stdout);
        all_ok = all_ok && rs[i].ok;
        if (!rs[i].ok && strstr(rs[i].error, "did not stop")) break; /* threads left running */
    }
    if (sweep) print_table(&o, rs, runs);
    free(rs);
    return all_ok ? 0 : 1;
}
