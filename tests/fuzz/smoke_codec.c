/* The codec target's seeds for the smoke driver (fuzz_smoke.c): every golden request file,
 * one encoded message of each wire kind, and the inputs libFuzzer found. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec.h"
#include "fuzz_entry.h"
#include "fuzz_smoke.h"
#include "msg.h"
#include "uuid.h"

static int broken; /* seeds that could not be built */
#define SEED_OK(call)                  \
    do {                               \
        if ((call) != OF_OK) broken++; \
    } while (0)

/* One valid message of each wire kind, so mutations start from deep, valid structure. */
static void add_encoded_seeds(of_fuzz_add_fn add_seed)
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
    SEED_OK(of_job_encode(&j, &enc));
    add_seed(enc, enc ? strlen(enc) : 0);

    of_job_record jr;
    memset(&jr, 0, sizeof jr);
    jr.job = j;
    jr.status = OF_JOB_FAILED;
    jr.skip_reason = (char *)(uintptr_t) "boom";
    SEED_OK(of_job_record_encode(&jr, &enc));
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
    SEED_OK(of_event_encode(&e, &enc));
    add_seed(enc, enc ? strlen(enc) : 0);

    of_command c;
    memset(&c, 0, sizeof c);
    c.type = OF_CMD_REPLAY;
    of_id_copy(c.release_id, j.release_id);
    c.by = (char *)(uintptr_t) "alice";
    char *tenants[1] = {(char *)(uintptr_t) "Contoso"};
    c.tenants = tenants;
    c.n_tenants = 1;
    SEED_OK(of_command_encode(&c, &enc));
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
    SEED_OK(of_release_record_encode(&rr, &enc));
    add_seed(enc, enc ? strlen(enc) : 0);
}

/* Inputs libFuzzer found, kept as seeds so they stay fixed. */
static void add_found_seeds(of_fuzz_add_fn add_seed)
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

static int codec_seeds(of_fuzz_add_fn add)
{
    of_fuzz_add_dir(OF_FIXTURES_DIR "/requests/valid", ".json", add);
    of_fuzz_add_dir(OF_FIXTURES_DIR "/requests/invalid", ".json", add);
    add_encoded_seeds(add);
    add_found_seeds(add);
    return broken;
}

static const char *const codec_tokens[] = {OF_FUZZ_JSON_TOKENS,
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

const of_fuzz_smoke_target of_fuzz_smoke = {of_fuzz_one, codec_seeds, codec_tokens,
                                            sizeof codec_tokens / sizeof codec_tokens[0], 20};
