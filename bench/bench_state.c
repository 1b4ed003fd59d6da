/* Fills a fleet's state topic with finished releases, for measuring the producer's start-up
 * time and memory against them (bench/state.py drives it; figures in docs/benchmarks.md,
 * "Producer state").
 *
 *   bench_state -c octofleet.cfg [--releases N] [--tenants T] [--age-days D] [--first K]
 *
 * Writes N completed releases, each the train of bench/run.py (4 stages: Schema untenanted,
 * then Identity/Billing/Reporting, Integrations, Portal/Web for T tenants) in two environments,
 * so 2 x (1 + 6T) jobs per release (62 with T = 5), every job succeeded, last changed D days
 * ago (30), named bench-state-K.. (K = --first, 0). Records are built with the real codec, exactly
 * as the producer writes them (same keys, schemas and sizes), and produced plainly (not in a
 * transaction: read_committed sees them). Creates the fleet's topics first (topics.create). Exit 0
 * when every record was delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "fleet.h"
#include "kafka.h"
#include "msg.h"
#include "uuid.h"

static const char *const ENVS[2][2] = {{"Environments-3", "Beta"}, {"Environments-4", "Release"}};
static const struct {
    int stage;
    const char *id, *name;
    bool tenanted;
} PROJECTS[] = {
    {1, "Projects-1", "Schema", false},      {2, "Projects-2", "Identity", true},
    {2, "Projects-3", "Billing", true},      {2, "Projects-4", "Reporting", true},
    {3, "Projects-5", "Integrations", true}, {4, "Projects-6", "Portal", true},
    {4, "Projects-7", "Web", true},
};
#define N_PROJECTS (sizeof PROJECTS / sizeof PROJECTS[0])
static const char *const STAGE_NAMES[4] = {"database", "services", "integrations", "web"};

static long failed;

static void on_delivery(void *opaque, const of_kafka_delivery *d)
{
    (void)opaque;
    if (d->err != OF_OK) failed++;
}

static int produce(of_kafka_producer *kp, const char *topic, const char *key, char *value)
{
    char es[512];
    of_kafka_record rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = topic;
    rec.partition = OF_KAFKA_PARTITION_ANY;
    rec.key = key;
    rec.key_len = strlen(key);
    rec.value = value;
    rec.value_len = strlen(value);
    for (;;) {
        of_err rc = of_kafka_produce(kp, &rec, on_delivery, NULL, es, sizeof es);
        if (rc == OF_OK) break;
        /* queue full: serve delivery reports and try again */
        if (of_kafka_producer_poll(kp, 100) < 0 || rc != OF_ERR_KAFKA) {
            fprintf(stderr, "bench_state: produce: %s\n", es);
            free(value);
            return -1;
        }
    }
    free(value);
    (void)of_kafka_producer_poll(kp, 0);
    return 0;
}

static int one_release(of_kafka_producer *kp, const char *topic, int n, int tenants,
                       int64_t changed)
{
    char name[64], rid[OF_UUID_STR_SIZE], key[160], req[512];
    snprintf(name, sizeof name, "bench-state-%04d", n);
    of_uuid_release_id("Default", name, rid);
    snprintf(req, sizeof req,
             "{\"release\":\"%s\",\"space\":\"Default\",\"environments\":[\"Beta\",\"Release\"],"
             "\"tenants\":\"all\",\"stages\":[[{\"project\":\"Schema\",\"version\":\"1.0.0\"}],"
             "[{\"project\":\"Identity\",\"version\":\"1.0.0\"},{\"project\":\"Billing\","
             "\"version\":\"1.0.0\"},{\"project\":\"Reporting\",\"version\":\"1.0.0\"}],"
             "[{\"project\":\"Integrations\",\"version\":\"1.0.0\"}],[{\"project\":\"Portal\","
             "\"version\":\"1.0.0\"},{\"project\":\"Web\",\"version\":\"1.0.0\"}]]}",
             name);
    size_t n_jobs = 0;
    for (size_t e = 0; e < 2; e++)
        for (size_t p = 0; p < N_PROJECTS; p++)
            for (int t = 0; t < (PROJECTS[p].tenanted ? tenants : 1); t++) {
                char tid[32], tname[32], jid[OF_UUID_STR_SIZE];
                snprintf(tid, sizeof tid, "Tenants-%d", t + 1);
                snprintf(tname, sizeof tname, "Tenant %04d", t + 1);
                of_uuid_job_id(rid, PROJECTS[p].stage, PROJECTS[p].name, ENVS[e][1],
                               PROJECTS[p].tenanted ? tname : NULL, jid);
                of_job_record jr;
                memset(&jr, 0, sizeof jr);
                of_job *j = &jr.job;
                of_id_copy(j->job_id, jid);
                of_id_copy(j->release_id, rid);
                j->release_name = name;
                j->stage = PROJECTS[p].stage;
                j->stage_count = 4;
                j->stage_name = (char *)(uintptr_t)STAGE_NAMES[j->stage - 1];
                j->attempt = 1;
                j->space = (of_ref){(char *)(uintptr_t) "Spaces-1", (char *)(uintptr_t) "Default"};
                j->project = (of_ref){(char *)(uintptr_t)PROJECTS[p].id,
                                      (char *)(uintptr_t)PROJECTS[p].name};
                j->tenanted_mode =
                    PROJECTS[p].tenanted ? OF_TENANTED_TENANTED : OF_TENANTED_UNTENANTED;
                j->octo_release =
                    (of_ref){(char *)(uintptr_t) "Releases-101", (char *)(uintptr_t) "1.0.0"};
                j->environment =
                    (of_ref){(char *)(uintptr_t)ENVS[e][0], (char *)(uintptr_t)ENVS[e][1]};
                if (PROJECTS[p].tenanted) j->tenant = (of_ref){tid, tname};
                j->dispatched_ms = changed - 60000;
                jr.status = OF_JOB_SUCCEEDED;
                jr.deployment_id = (char *)(uintptr_t) "Deployments-123456";
                jr.task_id = (char *)(uintptr_t) "ServerTasks-123456";
                jr.updated_ms = changed;
                char *val = NULL;
                if (of_job_record_encode(&jr, &val) != OF_OK) return -1;
                if (produce(kp, topic, of_job_record_key(rid, jid, key, sizeof key), val))
                    return -1;
                n_jobs++;
            }
    of_release_record rr;
    memset(&rr, 0, sizeof rr);
    of_id_copy(rr.release_id, rid);
    rr.release_name = name;
    rr.space = (of_ref){(char *)(uintptr_t) "Spaces-1", (char *)(uintptr_t) "Default"};
    rr.request_json = req;
    rr.status = OF_RELEASE_COMPLETED;
    rr.stage_count = 4;
    rr.stage_names = (char **)(uintptr_t)STAGE_NAMES;
    of_ref envs[2] = {{(char *)(uintptr_t)ENVS[0][0], (char *)(uintptr_t)ENVS[0][1]},
                      {(char *)(uintptr_t)ENVS[1][0], (char *)(uintptr_t)ENVS[1][1]}};
    rr.environments = envs;
    rr.n_environments = 2;
    of_stage_status ss[8];
    for (size_t i = 0; i < 8; i++)
        ss[i] = OF_STAGE_SUCCEEDED;
    rr.stage_status = ss;
    rr.n_jobs = n_jobs;
    rr.counts[OF_JOB_SUCCEEDED] = n_jobs;
    rr.updated_ms = changed;
    rr.by = (char *)(uintptr_t) "bench";
    char *val = NULL;
    if (of_release_record_encode(&rr, &val) != OF_OK) return -1;
    return produce(kp, topic, of_release_record_key(rid, key, sizeof key), val);
}

int main(int argc, char **argv)
{
    const char *cfg_path = NULL;
    int releases = 1000, tenants = 5, age_days = 30, first = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            cfg_path = argv[++i];
        else if (strcmp(argv[i], "--releases") == 0 && i + 1 < argc)
            releases = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--tenants") == 0 && i + 1 < argc)
            tenants = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--age-days") == 0 && i + 1 < argc)
            age_days = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            first = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: bench_state -c CONFIG [--releases N] [--tenants T] [--age-days D] "
                    "[--first K]\n");
            return 2;
        }
    }
    if (!cfg_path || releases < 1 || tenants < 1 || age_days < 0 || first < 0) {
        fprintf(stderr, "bench_state: -c CONFIG is required; counts must be positive\n");
        return 2;
    }
    char es[2048] = "";
    of_config cfg;
    if (of_config_load_file(&cfg, cfg_path, es, sizeof es) != OF_OK) {
        fprintf(stderr, "bench_state: %s\n", es);
        return 1;
    }
    of_fleet_kafka fk;
    memset(&fk, 0, sizeof fk);
    of_kafka_producer *kp = NULL;
    char topic[OF_TOPIC_NAME_MAX];
    int ex = 1;
    int64_t t0 = of_now_ms(), changed = of_wall_ms() - (int64_t)age_days * 86400000;
    if (of_fleet_kafka_init(&fk, &cfg, NULL, "bench-state") != OF_OK) goto out;
    if (of_config_topic(&cfg, "releases", topic, sizeof topic) != OF_OK ||
        of_fleet_ensure_topics(&cfg, &fk.kc, 60000, es, sizeof es) != OF_OK ||
        of_kafka_producer_new(&fk.kc, NULL, &kp, es, sizeof es) != OF_OK) {
        fprintf(stderr, "bench_state: %s\n", es);
        goto out;
    }
    for (int n = first; n < first + releases; n++)
        if (one_release(kp, topic, n, tenants, changed)) goto out;
    if (of_kafka_flush(kp, 120000, es, sizeof es) != OF_OK || failed) {
        fprintf(stderr, "bench_state: flush: %s (failed deliveries: %ld)\n", es, failed);
        goto out;
    }
    fprintf(stderr, "bench_state: %d releases of %d jobs written to %s in %lld ms\n", releases,
            2 * (1 + 6 * tenants), topic, (long long)(of_now_ms() - t0));
    ex = 0;
out:
    of_kafka_producer_destroy(kp);
    of_fleet_kafka_clear(&fk);
    of_config_clear(&cfg);
    return ex;
}
