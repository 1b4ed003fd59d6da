/* Benchmark: one poll round over N tasks (default 10,000) against the
 * in-process simulator, three ways:
 *   chunked   GET tasks?ids=... with task_chunk ids a request (default 100)
 *   chunk=1   GET tasks?ids=one per request
 *   per-task  GET tasks/{id}, what clients without batching do
 * Prints wall time and the requests the server counted for each.
 *   bench_octo_poll [N] [chunk] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "clock.h"
#include "octopus.h"
#include "sim.h"

#define KEY "API-BENCH000000000000000000000001"

static const char world[] =
    "{\"api_keys\":[{\"key\":\"" KEY "\",\"spaces\":[\"*\"]}],\"task_cap\":5,"
    "\"spaces\":[{\"name\":\"Default\",\"id\":\"Spaces-1\",\"is_default\":true,"
    "\"environments\":[\"Development\"],\"lifecycles\":[{\"name\":\"L\",\"phases\":"
    "[{\"name\":\"Dev\",\"environments\":[\"Development\"]}]}],"
    "\"projects\":[{\"name\":\"Bench\",\"tenanted\":\"Untenanted\",\"lifecycle\":\"L\","
    "\"releases\":[\"1.0.0\"]}]}]}";

typedef struct state {
    int done, failed;
    char **ids;
} state;

typedef struct slot {
    state *st;
    int i;
} slot;

static void on_created(void *opaque, of_err err, const char *errstr, of_octo_deployment *d)
{
    slot *s = opaque;
    s->st->done++;
    if (err) {
        s->st->failed++;
        fprintf(stderr, "create: %s\n", errstr);
        return;
    }
    s->st->ids[s->i] = d->task_id;
    d->task_id = NULL;
}

static void on_task(void *opaque, of_err err, const char *errstr, of_octo_task *t)
{
    (void)t;
    state *st = opaque;
    st->done++;
    if (err) {
        st->failed++;
        fprintf(stderr, "task: %s\n", errstr);
    }
}

static void drive(of_octo *c, const state *st, int n)
{
    while (st->done < n) {
        /* a failed poll fails the requests on the wire: their callbacks count them */
        of_err rc = of_octo_poll(c, 200);
        if (rc) fprintf(stderr, "poll: %s\n", of_strerror(rc));
    }
}

static of_octo *client(ofsim *sim, int chunk)
{
    of_octo_opts o;
    of_octo_opts_default(&o);
    o.url = ofsim_url(sim);
    o.api_key = KEY;
    o.task_chunk = chunk;
    o.max_concurrent = 32;
    of_octo *c = NULL;
    char es[512];
    if (of_octo_new(&o, &c, es, sizeof(es)) || of_octo_connect(c, es, sizeof(es))) {
        fprintf(stderr, "client: %s\n", es);
        of_octo_destroy(c);
        return NULL;
    }
    return c;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10000;
    int chunk = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 100;
    if (n <= 0 || chunk <= 0 || chunk > 1000) {
        fprintf(stderr, "usage: bench_octo_poll [N>0] [chunk 1..1000]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* as the daemons do (octopus.h) */
    char es[512];
    if (of_octo_global_init(es, sizeof(es))) {
        fprintf(stderr, "bench: %s\n", es);
        return 1;
    }
    ofsim_opts so = {.fixture_json = world, .quiet = 1};
    ofsim *sim = NULL;
    if (ofsim_start(&so, &sim, es, sizeof(es))) {
        fprintf(stderr, "ofsim_start: %s\n", es);
        return 1;
    }
    of_octo *c = client(sim, chunk);
    if (!c) return 1;
    of_octo_project p;
    of_octo_environment env;
    of_octo_release rel;
    if (of_octo_find_project(c, NULL, "Bench", &p, es, sizeof(es)) ||
        of_octo_find_environment(c, NULL, "Development", &env, es, sizeof(es)) ||
        of_octo_find_release(c, NULL, p.id, p.name, "1.0.0", &rel, es, sizeof(es))) {
        fprintf(stderr, "lookup: %s\n", es);
        return 1;
    }

    /* N tasks held Queued for an hour, so every round reads the same set. */
    state st = {0, 0, calloc((size_t)n, sizeof(char *))};
    slot *slots = calloc((size_t)n, sizeof(*slots));
    of_octo_deploy_req req = {.release_id = rel.id,
                              .environment_id = env.id,
                              .queue_time_ms = of_wall_ms() + 3600 * 1000};
    int64_t t0 = of_now_ms();
    for (int i = 0; i < n; i++) {
        slots[i] = (slot){&st, i};
        if (of_octo_create_deployment_async(c, NULL, &req, on_created, &slots[i], es, sizeof(es))) {
            fprintf(stderr, "create: %s\n", es);
            return 1;
        }
    }
    drive(c, &st, n);
    printf("bench: created %d deployments in %lld ms (%d failed)\n", n,
           (long long)(of_now_ms() - t0), st.failed);
    if (st.failed) return 1;
    const char *const *ids = (const char *const *)st.ids;

    /* chunked, then chunk=1 */
    int chunks[2] = {chunk, 1};
    for (int k = 0; k < 2; k++) {
        of_octo *cc = k == 0 ? c : client(sim, 1);
        if (!cc) return 1;
        long before = ofsim_request_count(sim, "GET /api/{space}/tasks");
        of_octo_task_list l;
        t0 = of_now_ms();
        of_err rc = of_octo_get_tasks(cc, NULL, ids, (size_t)n, &l, es, sizeof(es));
        int64_t took = of_now_ms() - t0;
        printf("bench: poll %d tasks, chunk %d: %lld ms, %ld requests, %zu missing%s%s\n", n,
               chunks[k], (long long)took,
               ofsim_request_count(sim, "GET /api/{space}/tasks") - before, rc ? 0 : l.missing,
               rc ? ", error: " : "", rc ? es : "");
        if (!rc) of_octo_task_list_clear(&l);
        if (cc != c) of_octo_destroy(cc);
    }

    /* per-task GET tasks/{id} */
    state one = {0, 0, NULL};
    long before = ofsim_request_count(sim, "GET /api/{space}/tasks/{id}");
    t0 = of_now_ms();
    for (int i = 0; i < n; i++)
        if (of_octo_get_task_async(c, NULL, ids[i], on_task, &one, es, sizeof(es))) {
            fprintf(stderr, "get task: %s\n", es);
            return 1;
        }
    drive(c, &one, n);
    printf("bench: poll %d tasks, one GET tasks/{id} each: %lld ms, %ld requests\n", n,
           (long long)(of_now_ms() - t0),
           ofsim_request_count(sim, "GET /api/{space}/tasks/{id}") - before);

    for (int i = 0; i < n; i++)
        free(st.ids[i]);
    free(st.ids);
    free(slots);
    of_octo_release_clear(&rel);
    of_octo_ref_clear(&env);
    of_octo_project_clear(&p);
    of_octo_destroy(c);
    ofsim_stop(sim);
    of_octo_global_cleanup();
    return 0;
}
