/* Benchmark: what one request costs the simulator itself, with N deployments
 * (default 10,000) on record: create, the adoption look-up for one target and
 * batched for 100 tenants (GET deployments?projects=&environments=&tenants=),
 * a 100-id task poll (GET tasks?ids=..., random tasks, then the same 100 again
 * and again), one task (GET tasks/{id}) and a read
 * of the events feed (GET events?fromAutoId=&eventCategories=...). Then a
 * worker's whole cycle on a second simulator whose deployments take no time:
 * per 100 jobs a batched look-up, 100 creates, then feed reads and 100-id
 * polls until all are done; it reports the process CPU (handlers and the task
 * engine) per job. Requests are served in-process through sim_call (no HTTP,
 * no client), so the figures are the simulator's own cost: routing, the
 * look-up, rendering the JSON reply.
 *   bench_sim [N] [rounds]
 * bench/README.md says what it is for; docs/octopus.md has the figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim.h"
#include "sim_int.h"

#define KEY      "API-BENCH000000000000000000000001"
#define PROJECTS 5

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU of the whole process (every thread: handlers and the task engine), µs. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* PROJECTS tenanted projects, n_tenants tenants connected to all of them in
 * one environment: N = PROJECTS * n_tenants distinct targets. Tasks last an
 * hour, so the engine has nothing to do while the requests are timed. */
static char *make_world(int n_tenants, int duration_ms, int task_cap)
{
    size_t cap = 4096 + (size_t)n_tenants * 160;
    char *w = malloc(cap);
    if (!w) return NULL;
    size_t o = (size_t)snprintf(
        w, cap,
        "{\"api_keys\":[{\"key\":\"" KEY "\"}],\"task_cap\":%d,"
        "\"rules\":[{\"duration_ms\":%d}],\"spaces\":[{\"name\":\"Default\","
        "\"environments\":[\"Production\"],\"lifecycles\":[{\"name\":\"L\",\"phases\":"
        "[{\"name\":\"Prod\",\"environments\":[\"Production\"]}]}],\"projects\":[",
        task_cap, duration_ms);
    for (int p = 0; p < PROJECTS; p++)
        o += (size_t)snprintf(w + o, cap - o,
                              "%s{\"name\":\"P%d\",\"tenanted\":\"Tenanted\",\"releases\":[\"1\"]}",
                              p ? "," : "", p);
    o += (size_t)snprintf(w + o, cap - o, "],\"tenants\":[");
    for (int t = 0; t < n_tenants; t++)
        o += (size_t)snprintf(w + o, cap - o,
                              "%s{\"name\":\"T%05d\",\"projects\":{\"P0\":[\"Production\"],"
                              "\"P1\":[\"Production\"],\"P2\":[\"Production\"],\"P3\":["
                              "\"Production\"],\"P4\":[\"Production\"]}}",
                              t ? "," : "", t);
    snprintf(w + o, cap - o, "]}]}");
    return w;
}

static int call(ofsim *sim, const char *method, const char *path, const char *body, int want,
                char **reply)
{
    static int reported;
    int status;
    sim_call(sim, method, path, KEY, body, &status, reply);
    if (status != want && reported++ < 3) /* the first few only */
        fprintf(stderr, "%s %s: HTTP %d, want %d\n", method, path, status, want);
    return status == want ? 0 : 1;
}

static uint64_t rnd = 42;

static int draw(int n)
{
    rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rnd >> 33) % (uint64_t)n);
}

static ofsim *start(int n_tenants, int duration_ms, int task_cap)
{
    char *world = make_world(n_tenants, duration_ms, task_cap);
    ofsim_opts o = {.fixture_json = world, .quiet = 1};
    ofsim *sim = NULL;
    char err[512];
    if (!world || ofsim_start(&o, &sim, err, sizeof err) != OF_OK)
        fprintf(stderr, "bench_sim: %s\n", world ? err : "out of memory");
    free(world);
    return sim;
}

/* POST deployments of project p for tenant t. */
static int create(ofsim *sim, int p, int t)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"ReleaseId\":\"Releases-%d\",\"EnvironmentId\":\"Environments-1\","
             "\"TenantId\":\"Tenants-%d\",\"Comments\":\"octofleet job %d-%d attempt 1\"}",
             p + 1, t + 1, t, p);
    return call(sim, "POST", "/api/Spaces-1/deployments", body, 201, NULL);
}

/* GET deployments of project p for tenants t0..t0+k-1 (k = 1: one job's look-up). */
static int lookup(ofsim *sim, int p, int t0, int k)
{
    char path[8192];
    size_t o = (size_t)snprintf(path, sizeof path,
                                "/api/Spaces-1/deployments?projects=Projects-%d&environments="
                                "Environments-1&tenants=",
                                p + 1);
    for (int i = 0; i < k; i++)
        o +=
            (size_t)snprintf(path + o, sizeof path - o, "%sTenants-%d", i ? "%2C" : "", t0 + i + 1);
    snprintf(path + o, sizeof path - o, "&skip=0&take=100");
    return call(sim, "GET", path, NULL, 200, NULL);
}

/* GET tasks?ids= for the given task numbers (0-based); *reply as sim_call gives it. */
static int poll_tasks(ofsim *sim, const int *tasks, int k, char **reply)
{
    char path[8192];
    size_t o = (size_t)snprintf(path, sizeof path, "/api/Spaces-1/tasks?ids=");
    for (int i = 0; i < k; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%sServerTasks-%d", i ? "%2C" : "",
                              tasks[i] + 1);
    snprintf(path + o, sizeof path - o, "&skip=0&take=%d", k);
    return call(sim, "GET", path, NULL, 200, reply);
}

/* The feed from AutoId `from` (the final categories), as a follower reads it. */
static int feed(ofsim *sim, int from)
{
    char path[256];
    snprintf(path, sizeof path,
             "/api/Spaces-1/events?fromAutoId=%d&eventCategories=DeploymentSucceeded,"
             "DeploymentFailed,TaskCanceled&skip=0&take=100",
             from);
    return call(sim, "GET", path, NULL, 200, NULL);
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A worker's cycle for every one of n_tenants * PROJECTS jobs, 100 at a time, on a simulator
 * whose deployments take no time: the batched look-up, the creates, then the feed and a 100-id
 * poll every millisecond until the 100 are done. Returns the CPU per job (µs); *polls gets the
 * poll rounds per batch. */
static double cycle(int n_tenants, int *bad, double *polls)
{
    ofsim *sim = start(n_tenants, 0, 20);
    if (!sim) {
        *bad = 1;
        return 0;
    }
    int batch = 100, jobs = 0, rounds = 0, first_task = 0;
    double c0 = cpu_us();
    for (int p = 0; p < PROJECTS; p++)
        for (int t0 = 0; t0 < n_tenants; t0 += batch) {
            int k = t0 + batch <= n_tenants ? batch : n_tenants - t0;
            int tasks[100];
            *bad |= lookup(sim, p, t0, k);
            for (int i = 0; i < k; i++) {
                *bad |= create(sim, p, t0 + i);
                tasks[i] = first_task + i;
            }
            double deadline = now_us() + 30e6;
            for (;;) {
                char *reply = NULL;
                rounds++;
                *bad |= feed(sim, first_task * 3 + 1);
                *bad |= poll_tasks(sim, tasks, k, &reply);
                int done = count_substr(reply, "\"IsCompleted\":true");
                free(reply);
                if (done == k) break;
                if (now_us() > deadline) {
                    fprintf(stderr, "bench_sim: tasks not done after 30 s\n");
                    *bad = 1;
                    break;
                }
                struct timespec ms = {0, 1000000}; /* a poll interval; the engine runs */
                nanosleep(&ms, NULL);
            }
            first_task += k;
            jobs += k;
        }
    double per_job = (cpu_us() - c0) / jobs;
    *polls = (double)rounds / ((double)jobs / batch);
    ofsim_stop(sim);
    return per_job;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2000;
    if (n < PROJECTS * 100 || rounds < 0) {
        fprintf(stderr, "usage: bench_sim [N >= %d] [rounds >= 0]\n", PROJECTS * 100);
        return 2;
    }
    int n_tenants = n / PROJECTS;
    n = n_tenants * PROJECTS;
    int bad = 0;
    double polls = 0;
    if (rounds == 0) { /* the cycle alone (for a profiler) */
        double cpu = cycle(n_tenants, &bad, &polls);
        printf("deployments=%d cycle_cpu_per_job_us=%.1f cycle_polls_per_100=%.1f%s\n", n, cpu,
               polls, bad ? " FAILED" : "");
        return bad ? 1 : 0;
    }
    /* tasks last an hour: the engine has nothing to do while the requests are timed */
    ofsim *sim = start(n_tenants, 3600000, 5);
    if (!sim) return 1;
    double t0 = now_us();
    for (int t = 0; t < n_tenants; t++)
        for (int p = 0; p < PROJECTS; p++)
            bad |= create(sim, p, t);
    double t_create = (now_us() - t0) / n;

    t0 = now_us();
    for (int k = 0; k < rounds; k++)
        bad |= lookup(sim, draw(PROJECTS), draw(n_tenants), 1);
    double t_adopt = (now_us() - t0) / rounds;

    t0 = now_us();
    for (int k = 0; k < rounds; k++)
        bad |= lookup(sim, draw(PROJECTS), draw(n_tenants - 100), 100);
    double t_adopt100 = (now_us() - t0) / rounds;

    t0 = now_us();
    for (int k = 0; k < rounds; k++) {
        int tasks[100];
        for (int i = 0; i < 100; i++)
            tasks[i] = draw(n);
        bad |= poll_tasks(sim, tasks, 100, NULL);
    }
    double t_poll = (now_us() - t0) / rounds;

    /* the same 100 tasks again and again, as a worker polls what it has in flight */
    int same[100];
    for (int i = 0; i < 100; i++)
        same[i] = draw(n);
    bad |= poll_tasks(sim, same, 100, NULL);
    t0 = now_us();
    for (int k = 0; k < rounds; k++)
        bad |= poll_tasks(sim, same, 100, NULL);
    double t_poll_again = (now_us() - t0) / rounds;

    t0 = now_us();
    for (int k = 0; k < rounds; k++) {
        char path[64];
        snprintf(path, sizeof path, "/api/Spaces-1/tasks/ServerTasks-%d", draw(n) + 1);
        bad |= call(sim, "GET", path, NULL, 200, NULL);
    }
    double t_task = (now_us() - t0) / rounds;

    /* the feed as a follower reads it: only what is new since its last AutoId */
    t0 = now_us();
    for (int k = 0; k < rounds; k++)
        bad |= feed(sim, n - 50 + k % 50);
    double t_events = (now_us() - t0) / rounds;
    ofsim_stop(sim);

    double cycle_cpu = cycle(n_tenants, &bad, &polls);

    printf("deployments=%d rounds=%d create_us=%.1f adoption_lookup_us=%.1f "
           "adoption_lookup_100_us=%.1f task_poll_100_us=%.1f task_poll_100_again_us=%.1f "
           "task_get_us=%.1f "
           "events_tail_us=%.1f cycle_cpu_per_job_us=%.1f cycle_polls_per_100=%.1f%s\n",
           n, rounds, t_create, t_adopt, t_adopt100, t_poll, t_poll_again, t_task, t_events,
           cycle_cpu, polls, bad ? " FAILED" : "");
    return bad ? 1 : 0;
}
