/* Runs the codec fuzz target (fuzz_codec.c) without libFuzzer: every golden request
 * file and one encoded message of each kind, each mutated a thousand times with a
 * fixed-seed PRNG (so a failure reproduces), plus any files given on the command line.
 * Registered with ctest as a unit test; under OF_SANITIZE=ON it is a cheap fuzzer.
 * `test_fuzz_codec --mutations 0 --write-seeds DIR` writes the seeds as a corpus for the
 * libFuzzer build (scripts/fuzz.sh codec). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_codec.h"
#include "fuzz_driver.h"
#include "fuzz_entry.h"
#include "msg.h"
#include "test.h"
#include "uuid.h"

#define MAX_SEEDS 64

static char *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t n_seeds;

static void add_seed(char *data, size_t len)
{
    if (n_seeds < MAX_SEEDS && data) {
        seeds[n_seeds] = data;
        seed_len[n_seeds++] = len;
    } else {
        free(data);
    }
}

static void add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
        char path[1024];
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *data = of_test_read_file(path, 1 << 16, &len);
        add_seed(data, len);
    }
    closedir(d);
}

/* One valid message of each wire kind, so mutations start from deep, valid structure. */
static void add_encoded_seeds(void)
{
    of_job j;
    memset(&j, 0, sizeof j);
    of_uuid_release_id("Default", "2026.18", j.release_id);
    of_uuid_job_id(j.release_id, 1, "Web", "Prod", "Contoso", j.job_id);
    j.stage = 1;
    j.stage_count = 2;
    j.attempt = 1;
    j.space.id = (char *)(uintptr_t) "Spaces-1";
    j.project.id = (char *)(uintptr_t) "Projects-1";
    j.project.name = (char *)(uintptr_t) "Web";
    j.octo_release.id = (char *)(uintptr_t) "Releases-1";
    j.octo_release.name = (char *)(uintptr_t) "1.0.0";
    j.environment.id = (char *)(uintptr_t) "Environments-1";
    j.tenant.id = (char *)(uintptr_t) "Tenants-1";
    j.timeout_s = 60;
    j.deadline_ms = 1778022000000;
    char *enc = NULL;
    CHECK_INT(of_job_encode(&j, &enc), OF_OK);
    add_seed(enc, enc ? strlen(enc) : 0);

    of_job_record jr;
    memset(&jr, 0, sizeof jr);
    jr.job = j;
    jr.status = OF_JOB_FAILED;
    jr.skip_reason = (char *)(uintptr_t) "boom";
    CHECK_INT(of_job_record_encode(&jr, &enc), OF_OK);
    add_seed(enc, enc ? strlen(enc) : 0);

    of_event e;
    memset(&e, 0, sizeof e);
    e.type = OF_EV_RELEASE_PAUSED;
    e.source = (char *)(uintptr_t)OF_SOURCE_PRODUCER;
    of_id_copy(e.release_id, j.release_id);
    of_job_ref ref;
    memset(&ref, 0, sizeof ref);
    of_id_copy(ref.job_id, j.job_id);
    ref.status = OF_JOB_FAILED;
    e.jobs = &ref;
    e.n_jobs = 1;
    e.n_total = 3;
    e.time_ms = 1778022000000;
    CHECK_INT(of_event_encode(&e, &enc), OF_OK);
    add_seed(enc, enc ? strlen(enc) : 0);

    of_command c;
    memset(&c, 0, sizeof c);
    c.type = OF_CMD_REPLAY;
    of_id_copy(c.release_id, j.release_id);
    c.by = (char *)(uintptr_t) "alice";
    char *tenants[1] = {(char *)(uintptr_t) "Contoso"};
    c.tenants = tenants;
    c.n_tenants = 1;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    add_seed(enc, enc ? strlen(enc) : 0);

    of_release_record rr;
    memset(&rr, 0, sizeof rr);
    of_id_copy(rr.release_id, j.release_id);
    rr.stage_count = 1;
    of_ref env = {(char *)(uintptr_t) "Environments-1", (char *)(uintptr_t) "Prod"};
    rr.environments = &env;
    rr.n_environments = 1;
    of_stage_status ss = OF_STAGE_RUNNING;
    rr.stage_status = &ss;
    rr.request_json = (char *)(uintptr_t) "{\"release\":\"r\"}";
    CHECK_INT(of_release_record_encode(&rr, &enc), OF_OK);
    add_seed(enc, enc ? strlen(enc) : 0);
}

/* Inputs libFuzzer found, kept as seeds so they stay fixed. */
static void add_found_seeds(void)
{
    static const char *const found[] = {
        /* jansson's error context keeps the first byte of a character after a bad escape:
         * an error text that was not UTF-8 (2026-12-07) */
        "\"\\\xd0\x9c",
        "{\"schema\":\"octofleet.job/1\",\"job_id\":\"\\\xe1\xb6\x9a\"}",
    };
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++)
        add_seed(strdup(found[i]), strlen(found[i]));
}

static const char *const tokens[] = {OF_FUZZ_JSON_TOKENS,
                                     "0",
                                     "-1",
                                     "1e999",
                                     "\\u0000",
                                     "\\ud800",
                                     "\xff",
                                     "\"schema\"",
                                     "99999999999999999999",
                                     "{\"a\":",
                                     "[[[[[[[["};

static size_t mutate(const char *in, size_t len, char *out, size_t cap, uint64_t *rnd)
{
    size_t n = len < cap ? len : cap;
    memcpy(out, in, n);
    int edits = 1 + (int)(of_rand_next(rnd) % 4);
    for (int e = 0; e < edits; e++) {
        uint64_t r = of_rand_next(rnd);
        size_t pos = n ? (size_t)(of_rand_next(rnd) % n) : 0;
        switch (r % 4) {
        case 0: /* flip a byte */
            if (n) out[pos] = (char)(out[pos] ^ (char)(1u << (of_rand_next(rnd) % 8)));
            break;
        case 1: { /* delete a range */
            size_t k = (size_t)(of_rand_next(rnd) % 16);
            if (pos + k > n) k = n - pos;
            memmove(out + pos, out + pos + k, n - pos - k);
            n -= k;
            break;
        }
        case 2: { /* insert a JSON-ish token */
            const char *t = tokens[of_rand_next(rnd) % (sizeof tokens / sizeof tokens[0])];
            size_t k = strlen(t);
            if (n + k > cap) break;
            memmove(out + pos + k, out + pos, n - pos);
            memcpy(out + pos, t, k);
            n += k;
            break;
        }
        default: /* truncate */
            n = pos;
            break;
        }
    }
    return n;
}

static void add_file(const char *path, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    char *d = of_test_read_file(path, 1 << 16, &len);
    CHECK(d != NULL);
    add_seed(d, len);
}

int main(int argc, char **argv)
{
    add_dir(OF_FIXTURES_DIR "/requests/valid");
    add_dir(OF_FIXTURES_DIR "/requests/invalid");
    add_encoded_seeds();
    add_found_seeds();
    of_fuzz_cli cli = {.count = 1000, .write_dir = NULL};
    if (of_fuzz_cli_parse(argc, argv, "--mutations", &cli, add_file, NULL)) return 2;
    CHECK(n_seeds >= 20);
    for (size_t s = 0; cli.write_dir && s < n_seeds; s++)
        CHECK(of_fuzz_write_seed(cli.write_dir, s, seeds[s], seed_len[s]) == 0);
    uint64_t rnd = 0x6f6374666c656574ULL; /* fixed: failures reproduce */
    size_t cap = 1 << 17;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (size_t s = 0; buf && s < n_seeds; s++) {
        CHECK_INT(of_fuzz_one((const uint8_t *)seeds[s], seed_len[s]), 0);
        for (long m = 0; m < cli.count; m++) {
            size_t n = mutate(seeds[s], seed_len[s], buf, cap, &rnd);
            int bad = of_fuzz_one((const uint8_t *)buf, n);
            if (bad)
                fprintf(stderr, "seed %zu mutation %ld: contract broken (mask %d)\n", s, m, bad);
            CHECK_INT(bad, 0);
        }
    }
    free(buf);
    for (size_t s = 0; s < n_seeds; s++)
        free(seeds[s]);
    return TEST_DONE();
}
