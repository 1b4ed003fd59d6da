/* Benchmark: what one request costs the simulator itself, with N deployments
 * (default 10,000) on record: the adoption look-up
 * (GET deployments?projects=&environments=&tenants=), a 100-id task poll
 * (GET tasks?ids=...) and a read of the events feed
 * (GET events?fromAutoId=&eventCategories=...). Requests are served
 * in-process through sim_call (no HTTP, no client), so the figures are the
 * handlers' own cost: routing, the look-up, rendering the JSON reply.
 *   bench_sim [N] [rounds]
 * bench/README.md says what it is for; docs/octopus.md has the figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* PROJECTS tenanted projects, n_tenants tenants connected to all of them in
 * one environment: N = PROJECTS * n_tenants distinct targets. Tasks last an
 * hour, so the engine has nothing to do while the requests are timed. */
static char *make_world(int n_tenants)
{
    size_t cap = 4096 + (size_t)n_tenants * 160;
    char *w = malloc(cap);
    if (!w) return NULL;
    size_t o = (size_t)snprintf(
        w, cap,
        "{\"api_keys\":[{\"key\":\"" KEY "\"}],\"task_cap\":5,"
        "\"rules\":[{\"duration_ms\":3600000}],\"spaces\":[{\"name\":\"Default\","
        "\"environments\":[\"Production\"],\"lifecycles\":[{\"name\":\"L\",\"phases\":"
        "[{\"name\":\"Prod\",\"environments\":[\"Production\"]}]}],\"projects\":[");
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

static int call(ofsim *sim, const char *method, const char *path, const char *body, int want)
{
    static int reported;
    int status;
    sim_call(sim, method, path, KEY, body, &status, NULL);
    if (status != want && reported++ < 3) /* the first few only */
        fprintf(stderr, "%s %s: HTTP %d, want %d\n", method, path, status, want);
    return status == want ? 0 : 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2000;
    if (n < PROJECTS || rounds < 1) {
        fprintf(stderr, "usage: bench_sim [N >= %d] [rounds >= 1]\n", PROJECTS);
        return 2;
    }
    int n_tenants = n / PROJECTS;
    n = n_tenants * PROJECTS;
    char *world = make_world(n_tenants);
    ofsim_opts o = {.fixture_json = world, .quiet = 1};
    ofsim *sim;
    char err[512];
    if (!world || ofsim_start(&o, &sim, err, sizeof err) != OF_OK) {
        fprintf(stderr, "bench_sim: %s\n", world ? err : "out of memory");
        free(world);
        return 1;
    }
    free(world);
    int bad = 0;
    char path[4096], body[256];
    double t0 = now_us();
    for (int t = 0; t < n_tenants; t++)
        for (int p = 0; p < PROJECTS; p++) {
            snprintf(body, sizeof body,
                     "{\"ReleaseId\":\"Releases-%d\",\"EnvironmentId\":\"Environments-1\","
                     "\"TenantId\":\"Tenants-%d\",\"Comments\":\"octofleet job %d-%d attempt 1\"}",
                     p + 1, t + 1, t, p);
            bad |= call(sim, "POST", "/api/Spaces-1/deployments", body, 201);
        }
    double t_create = (now_us() - t0) / n;

    uint64_t rnd = 42;
    t0 = now_us();
    for (int k = 0; k < rounds; k++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        int t = (int)((rnd >> 33) % (uint64_t)n_tenants), p = (int)((rnd >> 20) % PROJECTS);
        snprintf(path, sizeof path,
                 "/api/Spaces-1/deployments?projects=Projects-%d&environments=Environments-1"
                 "&tenants=Tenants-%d&skip=0&take=100",
                 p + 1, t + 1);
        bad |= call(sim, "GET", path, NULL, 200);
    }
    double t_adopt = (now_us() - t0) / rounds;

    t0 = now_us();
    for (int k = 0; k < rounds; k++) {
        size_t off = (size_t)snprintf(path, sizeof path, "/api/Spaces-1/tasks?ids=");
        for (int i = 0; i < 100; i++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            off += (size_t)snprintf(path + off, sizeof path - off, "%sServerTasks-%d",
                                    i ? "%2C" : "", (int)((rnd >> 33) % (uint64_t)n) + 1);
        }
        snprintf(path + off, sizeof path - off, "&skip=0&take=100");
        bad |= call(sim, "GET", path, NULL, 200);
    }
    double t_poll = (now_us() - t0) / rounds;

    /* the feed as a follower reads it: only what is new since its last AutoId */
    t0 = now_us();
    for (int k = 0; k < rounds; k++) {
        snprintf(path, sizeof path,
                 "/api/Spaces-1/events?fromAutoId=%d&eventCategories=DeploymentSucceeded,"
                 "DeploymentFailed,TaskCanceled&skip=0&take=100",
                 n - 50 + k % 50);
        bad |= call(sim, "GET", path, NULL, 200);
    }
    double t_events = (now_us() - t0) / rounds;

    printf("deployments=%d rounds=%d create_us=%.1f adoption_lookup_us=%.1f "
           "task_poll_100_us=%.1f events_tail_us=%.1f%s\n",
           n, rounds, t_create, t_adopt, t_poll, t_events, bad ? " FAILED" : "");
    ofsim_stop(sim);
    return bad ? 1 : 0;
}
