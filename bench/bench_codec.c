/* Times the codec's hot messages in-process: what the producer and the workers encode and
 * decode for every job (a job, its state record, a worker's job event), and a worker's
 * biggest read, a page of 100 Octopus events, built whole and as far as its decoder reads
 * (oj_parse_keep; per page, not per message). Figures are
 * nanoseconds per message, best of the rounds; compare two builds side by side in one sitting
 * (docs/benchmarks.md, "Fleet CPU"), not across days.
 *
 *   bench_codec [N] [rounds]      (N messages per round, default 200000; rounds 5)
 *
 * Exit 0 when every encode and decode succeeded. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "octopus_internal.h"
#include "ojson.h"
#include "uuid.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A tenanted job of the benchmark's train, as the planner makes them. */
static void make_job(of_job *j)
{
    memset(j, 0, sizeof *j);
    of_uuid_release_id("Default", "2026.18", j->release_id);
    of_uuid_job_id(j->release_id, 2, "Billing", "Hosted Beta", "Tenant 0042", j->job_id);
    j->release_name = strdup("bench-s1");
    j->stage = 2;
    j->stage_count = 4;
    j->stage_name = strdup("Identity+Billing+Reporting");
    j->attempt = 1;
    j->space.id = strdup("Spaces-1");
    j->space.name = strdup("Default");
    j->project.id = strdup("Projects-3");
    j->project.name = strdup("Billing");
    j->tenanted_mode = OF_TENANTED_TENANTED;
    j->octo_release.id = strdup("Releases-10");
    j->octo_release.name = strdup("2026.18.0");
    j->environment.id = strdup("Environments-4");
    j->environment.name = strdup("Hosted Beta");
    j->tenant.id = strdup("Tenants-42");
    j->tenant.name = strdup("Tenant 0042");
    j->timeout_s = 3600;
    j->dispatched_ms = 1778015000123;
}

typedef int (*op_fn)(void *ctx);

static double best_ns(op_fn fn, void *ctx, int n, int rounds, int *failed)
{
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            *failed |= fn(ctx);
        double per = (now_ns() - t0) / n;
        if (r == 0 || per < best) best = per;
    }
    return best;
}

static int enc_job(void *ctx)
{
    char *out = NULL;
    int rc = of_job_encode(ctx, &out) != OF_OK;
    free(out);
    return rc;
}

static int enc_record(void *ctx)
{
    char *out = NULL;
    int rc = of_job_record_encode(ctx, &out) != OF_OK;
    free(out);
    return rc;
}

static int enc_event(void *ctx)
{
    char *out = NULL;
    int rc = of_event_encode(ctx, &out) != OF_OK;
    free(out);
    return rc;
}

static int dec_event(void *ctx)
{
    const char *text = ctx;
    of_event ev;
    char es[256];
    int rc = of_event_decode(text, strlen(text), &ev, es, sizeof es) != OF_OK;
    if (!rc) of_event_clear(&ev);
    return rc;
}

/* A page of 100 events as octopus-sim writes them (its texts follow Octopus's EventResource). */
static char *event_page(void)
{
    of_buf b;
    of_buf_init(&b, 1 << 20);
    of_err rc = of_buf_puts(&b, "{\"ItemType\":\"Event\",\"Items\":[");
    for (int i = 0; !rc && i < 100; i++)
        rc = of_buf_printf(
            &b,
            "%s{\"Id\":\"Events-%d\",\"AutoId\":%d,\"SpaceId\":\"Spaces-1\",\"Category\":"
            "\"DeploymentSucceeded\",\"RelatedDocumentIds\":[\"Deployments-%d\",\"ServerTasks-%d\","
            "\"Projects-7\",\"Environments-2\",\"Tenants-%d\",\"Releases-14\",\"Spaces-1\"],"
            "\"UserId\":\"Users-1\",\"Username\":\"octofleet-sim\",\"IsService\":true,"
            "\"IdentityEstablishedWith\":\"API key\",\"UserAgent\":\"octopus-sim\",\"IpAddress\":"
            "null,\"Occurred\":\"2026-12-06T00:41:35.316+00:00\",\"Message\":\"Deploy to Staging "
            "succeeded for Web release 2026.18.0 to Staging for Tenant %d\",\"MessageHtml\":"
            "\"Deploy to <a href='#/Spaces-1/environments/Environments-2'>Staging</a> succeeded "
            "for <a href='#/Spaces-1/projects/Projects-7'>Web</a> release <a "
            "href='#/Spaces-1/releases/Releases-14'>2026.18.0</a> to <a "
            "href='#/Spaces-1/environments/Environments-2'>Staging</a> for <a "
            "href='#/Spaces-1/tenants/Tenants-%d'>Tenant %d</a>\",\"MessageReferences\":["
            "{\"ReferencedDocumentId\":\"Environments-2\",\"StartIndex\":10,\"Length\":7},"
            "{\"ReferencedDocumentId\":\"Projects-7\",\"StartIndex\":32,\"Length\":3},"
            "{\"ReferencedDocumentId\":\"Releases-14\",\"StartIndex\":44,\"Length\":9},"
            "{\"ReferencedDocumentId\":\"Environments-2\",\"StartIndex\":57,\"Length\":7},"
            "{\"ReferencedDocumentId\":\"Tenants-%d\",\"StartIndex\":69,\"Length\":11}],"
            "\"Comments\":null,\"Details\":null,\"ChangeDetails\":null,\"Links\":{\"Self\":"
            "\"/api/Spaces-1/events/Events-%d\"}}",
            i ? "," : "", 1000 + i, 1000 + i, i, i, i, i, i, i, i, 1000 + i);
    if (!rc) rc = of_buf_puts(&b, "],\"ItemsPerPage\":100,\"TotalResults\":100}");
    if (rc) {
        of_buf_clear(&b);
        return NULL;
    }
    return of_buf_detach(&b);
}

static int parse_whole(void *ctx)
{
    const char *text = ctx;
    json_t *j = oj_parse(text, strlen(text), NULL);
    json_decref(j);
    return j == NULL;
}

static int parse_kept(void *ctx)
{
    const char *text = ctx;
    json_t *j = oj_parse_keep(text, strlen(text), octo_keep_event_page, NULL);
    json_decref(j);
    return j == NULL;
}

/* A positive count, dflt when absent, -1 when not one. */
static int count_arg(const char *s, int dflt)
{
    if (!s) return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v <= INT_MAX ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int n = count_arg(argc > 1 ? argv[1] : NULL, 200000);
    int rounds = count_arg(argc > 2 ? argv[2] : NULL, 5);
    if (n <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_codec [N] [rounds]\n");
        return 2;
    }
    of_job_record jr = {0};
    make_job(&jr.job);
    jr.status = OF_JOB_SUCCEEDED;
    jr.deployment_id = strdup("Deployments-1234");
    jr.task_id = strdup("ServerTasks-1234");
    jr.updated_ms = 1778015001123;
    of_event ev = {0};
    ev.type = OF_EV_JOB_SUCCEEDED;
    ev.source = strdup(OF_SOURCE_WORKER_PFX "w1");
    ev.time_ms = 1778015001200;
    memcpy(ev.release_id, jr.job.release_id, sizeof ev.release_id);
    memcpy(ev.job_id, jr.job.job_id, sizeof ev.job_id);
    ev.release_name = strdup("bench-s1");
    ev.stage = 2;
    ev.attempt = 1;
    ev.environment = strdup("Hosted Beta");
    ev.project = strdup("Billing");
    ev.tenant = strdup("Tenant 0042");
    ev.deployment_id = strdup("Deployments-1234");
    ev.task_id = strdup("ServerTasks-1234");
    ev.web_link = strdup("http://127.0.0.1:8080/app#/Spaces-1/deployments/Deployments-1234");
    ev.task_queued_ms = 1778015000900;
    ev.task_started_ms = 1778015000950;
    ev.task_completed_ms = 1778015001100;
    char *ev_text = NULL;
    int failed = of_event_encode(&ev, &ev_text) != OF_OK;

    printf("message\tbytes\tns per message (best of %d rounds of %d)\n", rounds, n);
    char *sample = NULL;
    if (of_job_encode(&jr.job, &sample) == OF_OK)
        printf("job encode\t%zu\t%.0f\n", strlen(sample),
               best_ns(enc_job, &jr.job, n, rounds, &failed));
    free(sample);
    if (of_job_record_encode(&jr, &sample) == OF_OK)
        printf("job record encode\t%zu\t%.0f\n", strlen(sample),
               best_ns(enc_record, &jr, n, rounds, &failed));
    free(sample);
    printf("job event encode\t%zu\t%.0f\n", ev_text ? strlen(ev_text) : 0,
           best_ns(enc_event, &ev, n, rounds, &failed));
    if (ev_text)
        printf("job event decode\t%zu\t%.0f\n", strlen(ev_text),
               best_ns(dec_event, ev_text, n, rounds, &failed));
    free(ev_text);
    of_event_clear(&ev);
    char *page = event_page();
    failed |= page == NULL;
    if (page) {
        int pn = n / 100 > 0 ? n / 100 : 1;
        printf("event page parse, whole\t%zu\t%.0f\n", strlen(page),
               best_ns(parse_whole, page, pn, rounds, &failed));
        printf("event page parse, kept\t%zu\t%.0f\n", strlen(page),
               best_ns(parse_kept, page, pn, rounds, &failed));
    }
    free(page);
    of_job_record_clear(&jr);
    if (failed) fprintf(stderr, "bench_codec: an encode or decode failed\n");
    return failed ? 1 : 0;
}
