/* The message codec: golden request files, job / event / command / record round trips,
 * deterministic ids, and malformed messages rejected with a reason. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "ojcheck.h"
#include "ojson.h"
#include "test.h"
#include "utf8.h"
#include "uuid.h"

#ifndef OF_FIXTURES_DIR
#error "OF_FIXTURES_DIR must point at tests/fixtures"
#endif

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nd = realloc(data, cap);
            if (!nd) break;
            data = nd;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    if (data) data[n] = '\0';
    *len = n;
    return data;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- golden request files ---- */

/* Calls check(path, name) for every *.json file of OF_FIXTURES_DIR/requests/SUB; returns how
 * many there were. */
static int each_golden(const char *sub, void (*check)(const char *path, const char *name))
{
    char dir[512];
    (void)snprintf(dir, sizeof dir, "%s/requests/%s", OF_FIXTURES_DIR, sub);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return 0;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".json")) continue;
        files++;
        char path[1024];
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        check(path, de->d_name);
    }
    closedir(d);
    return files;
}

/* Parses the request file at path into *req (NULL on failure); errs, initialised here, gets
 * the errors and is the caller's to clear. Returns what the parser returned, or OF_ERR_IO when
 * the file cannot be read (a failed check). */
static of_err parse_file(const char *path, of_request **req, of_errlist *errs)
{
    *req = NULL;
    of_errlist_init(errs);
    size_t len = 0;
    char *text = read_file(path, &len);
    CHECK(text != NULL);
    if (!text) return OF_ERR_IO;
    of_err rc = of_request_parse(text, len, req, errs);
    free(text);
    return rc;
}

/* A valid golden request parses without errors and its canonical encoding is a fixed point. */
static void check_valid_request(const char *path, const char *name)
{
    of_errlist errs;
    of_request *req;
    of_err rc = parse_file(path, &req, &errs);
    if (rc) {
        char all[2048];
        of_errlist_join(&errs, "; ", all, sizeof all);
        fprintf(stderr, "%s: %s\n", name, all);
    }
    CHECK_INT(rc, OF_OK);
    CHECK_INT(errs.n, 0);
    /* canonical encoding is a fixed point: encode(parse(encode(x))) == encode(x) */
    char *enc1 = NULL, *enc2 = NULL;
    of_request *req2 = NULL;
    if (req) {
        CHECK_INT(of_request_encode(req, &enc1), OF_OK);
        CHECK_INT(of_request_parse(enc1, strlen(enc1), &req2, &errs), OF_OK);
        if (req2) CHECK_INT(of_request_encode(req2, &enc2), OF_OK);
        CHECK_STR(enc2, enc1);
    }
    free(enc1);
    free(enc2);
    of_request_free(req);
    of_request_free(req2);
    of_errlist_clear(&errs);
}

static void test_valid_requests(void)
{
    CHECK(each_golden("valid", check_valid_request) >= 4);
}

/* An invalid golden request is rejected with every error its .err file lists (one a line). */
static void check_invalid_request(const char *path, const char *name)
{
    char errpath[1024];
    (void)snprintf(errpath, sizeof errpath, "%.*s.err", (int)(strlen(path) - 5), path);
    size_t elen = 0;
    char *want = read_file(errpath, &elen);
    CHECK(want != NULL); /* every invalid case names its expected errors */
    if (!want) return;
    of_errlist errs;
    of_request *req;
    of_err rc = parse_file(path, &req, &errs);
    CHECK(rc != OF_OK);
    CHECK(req == NULL);
    /* every line of the .err file must appear in some reported error */
    char *save = want;
    for (char *line = want; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (*line && !of_errlist_contains(&errs, line)) {
            char all[4096];
            of_errlist_join(&errs, "\n  ", all, sizeof all);
            fprintf(stderr, "%s: missing error \"%s\"; got:\n  %s\n", name, line, all);
            CHECK(false);
        } else {
            CHECK(true);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(save);
    of_request_free(req);
    of_errlist_clear(&errs);
}

/* The valid golden request `name`, parsed (NULL, a failed check, if it does not parse). */
static of_request *parse_valid(const char *name)
{
    char path[512];
    (void)snprintf(path, sizeof path, "%s/requests/valid/%s", OF_FIXTURES_DIR, name);
    of_errlist errs;
    of_request *r;
    CHECK_INT(parse_file(path, &r, &errs), OF_OK);
    of_errlist_clear(&errs);
    return r;
}

/* "approval" on a stage and in policy: required defaults to true, "by" is one name or a list. */
static void test_approval_request(void)
{
    of_request *r = parse_valid("approval.json");
    if (!r) return;
    CHECK(r->policy.approval.required);
    CHECK_INT(r->policy.approval.n_by, 1);
    CHECK_STR(r->policy.approval.n_by ? r->policy.approval.by[0] : NULL, "Change Board");
    CHECK(!r->stages[0].approval.required);
    CHECK(r->stages[1].approval.required);
    CHECK_INT(r->stages[1].approval.n_by, 2);
    CHECK_STR(r->stages[1].approval.n_by == 2 ? r->stages[1].approval.by[1] : NULL, "jane");
    CHECK(!r->stages[2].approval.required);
    char *enc = NULL;
    CHECK_INT(of_request_encode(r, &enc), OF_OK);
    CHECK_CONTAINS(enc, "\"approval\":{\"required\":true,\"by\":[\"Release Managers\",\"jane\"]}");
    free(enc);
    of_request_free(r);
}

/* policy.gate and policy.lane_failure: values, defaults, the canonical encoding, and one
 * error per mistake (a lane_failure beside a bad gate is not blamed on the gate). */
static void test_gate_policy(void)
{
    of_errlist errs;
    of_request *r = parse_valid("lanes.json");
    if (r) {
        CHECK_INT(r->policy.gate, OF_GATE_TENANT);
        CHECK_INT(r->policy.lane_failure, OF_LANE_FAILURE_PAUSE_ALL);
        char *enc = NULL;
        CHECK_INT(of_request_encode(r, &enc), OF_OK);
        CHECK_CONTAINS(enc, "\"gate\":\"tenant\",\"lane_failure\":\"pause_all\"");
        free(enc);
        of_request_free(r);
    }
    static const struct {
        const char *policy;
        of_err rc;
        of_gate_mode gate;
        of_lane_failure lf;
        size_t n_errors;
    } cases[] = {
        {"{}", OF_OK, OF_GATE_STAGE, OF_LANE_FAILURE_STOP_LANE, 0},
        {"{\"gate\":\"tenant\"}", OF_OK, OF_GATE_TENANT, OF_LANE_FAILURE_STOP_LANE, 0},
        {"{\"gate\":\"tenant\",\"lane_failure\":\"stop_lane\"}", OF_OK, OF_GATE_TENANT,
         OF_LANE_FAILURE_STOP_LANE, 0},
        {"{\"gate\":\"Tenant\"}", OF_ERR_INVALID, 0, 0, 1},
        {"{\"gate\":1}", OF_ERR_INVALID, 0, 0, 1},
        {"{\"gate\":\"lanes\",\"lane_failure\":\"pause_all\"}", OF_ERR_INVALID, 0, 0, 1},
        {"{\"lane_failure\":\"stop_lane\"}", OF_ERR_INVALID, 0, 0, 1},
        {"{\"gate\":\"tenant\",\"lane_failure\":null}", OF_ERR_INVALID, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        (void)snprintf(json, sizeof json,
                       "{\"release\":\"r\",\"environments\":[\"A\"],\"stages\":[[{\"project\":"
                       "\"P\",\"version\":\"1\"}]],\"policy\":%s}",
                       cases[i].policy);
        of_errlist_init(&errs);
        r = NULL;
        of_err rc = of_request_parse(json, strlen(json), &r, &errs);
        int before = of_test_failures;
        CHECK_INT(rc, cases[i].rc);
        CHECK_INT(errs.n, cases[i].n_errors);
        if (r) {
            CHECK_INT(r->policy.gate, cases[i].gate);
            CHECK_INT(r->policy.lane_failure, cases[i].lf);
            char *enc = NULL;
            CHECK_INT(of_request_encode(r, &enc), OF_OK);
            CHECK_CONTAINS(enc, cases[i].gate == OF_GATE_TENANT ? "\"gate\":\"tenant\""
                                                                : "\"gate\":\"stage\"");
            free(enc);
        }
        if (of_test_failures != before) fprintf(stderr, "  in gate policy case %s\n", json);
        of_request_free(r);
        of_errlist_clear(&errs);
    }
}

/* policy.windows: fields, wrap-around kept, canonical encoding. */
static void test_windows_policy(void)
{
    of_request *r = parse_valid("windows.json");
    if (!r) return;
    CHECK_INT(r->policy.n_windows, 2);
    if (r->policy.n_windows == 2) {
        CHECK_STR(r->policy.windows[0].tenant_tag, "Region/APAC");
        CHECK_INT(r->policy.windows[0].start_min, 22 * 60);
        CHECK_INT(r->policy.windows[0].end_min, 4 * 60);
        CHECK_STR(r->policy.windows[0].timezone, "Australia/Sydney");
        CHECK_INT(r->policy.windows[1].end_min, 5 * 60 + 30);
    }
    char *enc = NULL;
    CHECK_INT(of_request_encode(r, &enc), OF_OK);
    CHECK_CONTAINS(enc, "\"windows\":[{\"tenant_tag\":\"Region/APAC\",\"start_between\":"
                        "[\"22:00\",\"04:00\"],\"timezone\":\"Australia/Sydney\"}");
    free(enc);
    of_request_free(r);
}

/* policy.stage_deadline: a duration or a time, kept as written. */
static void test_stage_deadline_policy(void)
{
    of_request *r = parse_valid("stage-deadline.json");
    if (r) {
        CHECK_INT(r->policy.stage_deadline_ms, 9000000);
        CHECK_INT(r->policy.stage_deadline_at_ms, 0);
        char *enc = NULL;
        CHECK_INT(of_request_encode(r, &enc), OF_OK);
        CHECK_CONTAINS(enc, "\"stage_deadline\":\"2h30m\"");
        free(enc);
        of_request_free(r);
    }
    r = parse_valid("stage-deadline-time.json");
    if (r) {
        CHECK_INT(r->policy.stage_deadline_ms, 0);
        CHECK_INT(r->policy.stage_deadline_at_ms, 1778011200000); /* 2026-05-05T20:00:00Z */
        of_request_free(r);
    }
}

static void test_invalid_requests(void)
{
    CHECK(each_golden("invalid", check_invalid_request) >= 10);
}

static void test_seed_request_fields(void)
{
    of_errlist errs;
    of_request *r = parse_valid("seed-train.json");
    if (!r) return;
    CHECK_STR(r->release, "2026.18");
    CHECK_STR(r->space, "Default");
    CHECK_INT(r->n_environments, 2);
    CHECK_STR(r->environments[1], "Hosted Release");
    CHECK(!r->tenants.all);
    CHECK_INT(r->tenants.n_names, 1);
    CHECK_INT(r->tenants.n_tags, 2);
    CHECK_STR(r->tenants.tags[1], "Ring/Beta");
    CHECK_INT(r->n_stages, 3);
    CHECK_STR(r->stages[0].name, "database");
    CHECK_INT(r->stages[1].n_entries, 3);
    CHECK(r->stages[1].entries[2].skip);
    CHECK_STR(r->stages[1].entries[1].version, "1.4.2");
    CHECK_INT(r->policy.timeout_s, 1800);
    CHECK(r->policy.cancel_on_timeout);
    CHECK_INT(r->policy.condition, OF_CONDITION_IF_NOT_CURRENT);
    CHECK_STR(r->policy.queue_time, "2026-05-05T21:00:00Z");
    of_request_free(r);

    /* defaults */
    const char *min = "{\"release\":\"r\",\"environments\":[\"A\"],"
                      "\"stages\":[[{\"project\":\"P\",\"version\":\"1\"}]]}";
    of_errlist_init(&errs);
    CHECK_INT(of_request_parse(min, strlen(min), &r, &errs), OF_OK);
    if (r) {
        CHECK_STR(r->space, "Default");
        CHECK_INT(r->policy.timeout_s, 0);
        CHECK_INT(r->policy.condition, OF_CONDITION_ALWAYS);
        CHECK(!r->tenants.all && !r->tenants.n_names && !r->tenants.n_tags);
        CHECK(r->stages[0].name == NULL);
    }
    of_request_free(r);
    of_errlist_clear(&errs);
}

static void test_request_limits(void)
{
    /* oversized input is refused before parsing */
    size_t big = OF_MSG_MAX_SIZE + 1;
    char *blob = malloc(big);
    CHECK(blob != NULL);
    if (!blob) return;
    memset(blob, ' ', big);
    of_errlist errs;
    of_errlist_init(&errs);
    of_request *r = NULL;
    CHECK_INT(of_request_parse(blob, big, &r, &errs), OF_ERR_TOO_LARGE);
    CHECK(of_errlist_contains(&errs, "exceeds"));
    free(blob);
    of_errlist_clear(&errs);

    /* a name over 256 bytes */
    char req[1024];
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    (void)snprintf(req, sizeof req,
                   "{\"release\":\"%s\",\"environments\":[\"A\"],"
                   "\"stages\":[[{\"project\":\"P\",\"version\":\"1\"}]]}",
                   longname);
    of_errlist_init(&errs);
    CHECK(of_request_parse(req, strlen(req), &r, &errs) == OF_ERR_INVALID);
    CHECK(of_errlist_contains(&errs, "release: longer than 256 bytes"));
    of_errlist_clear(&errs);

    /* control characters in a name */
    const char *ctl = "{\"release\":\"a\\u0007b\",\"environments\":[\"A\"],"
                      "\"stages\":[[{\"project\":\"P\",\"version\":\"1\"}]]}";
    of_errlist_init(&errs);
    CHECK(of_request_parse(ctl, strlen(ctl), &r, &errs) == OF_ERR_INVALID);
    CHECK(of_errlist_contains(&errs, "release: contains control characters"));
    of_errlist_clear(&errs);

    /* the error list is capped but counts what it dropped */
    of_errlist_init(&errs);
    for (int i = 0; i < OF_ERRLIST_MAX + 5; i++)
        CHECK_INT(of_errlist_add(&errs, "e%d", i), OF_OK);
    CHECK_INT(errs.n, OF_ERRLIST_MAX);
    CHECK_INT(errs.dropped, 5);
    char joined[64];
    of_errlist_join(&errs, ",", joined, sizeof joined);
    CHECK(strncmp(joined, "e0,e1,e2", 8) == 0);
    of_errlist_clear(&errs);
}

/* ---- ids ---- */

static void test_ids(void)
{
    char a[OF_UUID_STR_SIZE], b[OF_UUID_STR_SIZE], c[OF_UUID_STR_SIZE];
    of_uuid_release_id("Default", "2026.18", a);
    of_uuid_release_id("Default", "2026.18", b);
    of_uuid_release_id("Default", "2026.19", c);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(of_uuid_valid(a));
    CHECK_INT(a[14], '5'); /* version 5 */
    /* release_id = UUIDv5(ns, "space/release") with no '/' in the names */
    of_uuid_v5("Default/2026.18", b);
    CHECK_STR(a, b);

    static const struct {
        int stage;
        const char *project, *env, *tenant;
    } jobs[] = {
        {1, "Web", "Prod", "Contoso"},
        {2, "Web", "Prod", "Contoso"},
        {1, "Web", "Prod", NULL},
        {1, "Web", "Beta", "Contoso"},
        {1, "Api", "Prod", "Contoso"},
        {1, "Web", "Prod", "Contoso "},
        /* look-alikes that a naive "/" join would merge */
        {1, "a/b", "c", "d"},
        {1, "a", "b/c", "d"},
        {1, "a%2Fb", "c", "d"},
    };
    size_t n = sizeof jobs / sizeof jobs[0];
    char ids[16][OF_UUID_STR_SIZE];
    for (size_t i = 0; i < n; i++) {
        of_uuid_job_id(a, jobs[i].stage, jobs[i].project, jobs[i].env, jobs[i].tenant, ids[i]);
        char again[OF_UUID_STR_SIZE];
        of_uuid_job_id(a, jobs[i].stage, jobs[i].project, jobs[i].env, jobs[i].tenant, again);
        CHECK_STR(ids[i], again);
        CHECK(of_uuid_valid(ids[i]));
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0);
    /* untenanted == empty tenant name */
    of_uuid_job_id(a, 1, "Web", "Prod", "", b);
    CHECK_STR(b, ids[2]);

    CHECK(!of_uuid_valid("not-a-uuid"));
    CHECK(!of_uuid_valid("5aa9fdc3-425b-543c-9d79-b2f4eb96001"));
    CHECK(!of_uuid_valid("5aa9fdc3x425b-543c-9d79-b2f4eb960011"));
    CHECK(of_uuid_valid(OF_UUID_NAMESPACE));

    /* command ids: valid, and never the same twice */
    of_uuid_random(a);
    of_uuid_random(b);
    CHECK(of_uuid_valid(a) && of_uuid_valid(b));
    CHECK(strcmp(a, b) != 0);
}

static void test_event_ids(void)
{
    of_event e = {0};
    e.type = OF_EV_JOB_SUCCEEDED;
    of_uuid_release_id("Default", "r", e.release_id);
    of_uuid_job_id(e.release_id, 1, "Web", "Prod", NULL, e.job_id);
    e.attempt = 1;
    of_event_set_id(&e);
    char first[OF_UUID_STR_SIZE];
    of_id_copy(first, e.id);
    e.time_ms = 12345; /* time is not part of a job event's identity */
    of_event_set_id(&e);
    CHECK_STR(e.id, first);
    e.attempt = 2;
    of_event_set_id(&e);
    CHECK(strcmp(e.id, first) != 0);
    e.attempt = 1;
    e.type = OF_EV_JOB_FAILED;
    of_event_set_id(&e);
    CHECK(strcmp(e.id, first) != 0);

    of_event s = {0};
    s.type = OF_EV_STAGE_STARTED;
    of_id_copy(s.release_id, e.release_id);
    s.stage = 2;
    s.environment = (char *)(uintptr_t) "Prod";
    of_event_set_id(&s);
    char st0[OF_UUID_STR_SIZE];
    of_id_copy(st0, s.id);
    s.round = 1;
    of_event_set_id(&s);
    CHECK(strcmp(s.id, st0) != 0);
    s.round = 0;
    s.environment = (char *)(uintptr_t) "Beta";
    of_event_set_id(&s);
    CHECK(strcmp(s.id, st0) != 0);
    s.environment = (char *)(uintptr_t) "Prod";
    of_event_set_id(&s);
    CHECK_STR(s.id, st0);

    of_event r = {0};
    r.type = OF_EV_RELEASE_REJECTED;
    of_id_copy(r.release_id, e.release_id);
    r.time_ms = 1000;
    of_event_set_id(&r);
    char rj[OF_UUID_STR_SIZE];
    of_id_copy(rj, r.id);
    r.time_ms = 2000; /* a second submission is a second rejection */
    of_event_set_id(&r);
    CHECK(strcmp(r.id, rj) != 0);
    r.type = OF_EV_RELEASE_ACCEPTED; /* accepted once per release, whatever the time */
    of_event_set_id(&r);
    of_id_copy(rj, r.id);
    r.time_ms = 3000;
    of_event_set_id(&r);
    CHECK_STR(r.id, rj);
}

/* ---- jobs ---- */

static void make_job(of_job *j, bool tenanted)
{
    memset(j, 0, sizeof *j);
    of_uuid_release_id("Default", "2026.18", j->release_id);
    of_uuid_job_id(j->release_id, 2, "Web", "Hosted Release", tenanted ? "Contoso" : NULL,
                   j->job_id);
    j->release_name = strdup("2026.18");
    j->stage = 2;
    j->stage_count = 3;
    j->stage_name = strdup("services");
    j->attempt = 3;
    j->space.id = strdup("Spaces-1");
    j->space.name = strdup("Default");
    j->project.id = strdup("Projects-12");
    j->project.name = strdup("Web");
    j->tenanted_mode = tenanted ? OF_TENANTED_TENANTED : OF_TENANTED_UNTENANTED;
    j->octo_release.id = strdup("Releases-101");
    j->octo_release.name = strdup("1.4.0");
    j->environment.id = strdup("Environments-6");
    j->environment.name = strdup("Hosted Release");
    if (tenanted) {
        j->tenant.id = strdup("Tenants-40");
        j->tenant.name = strdup("Contoso \"the\" \xc3\xa9 tenant"); /* quotes and UTF-8 */
        j->queue_time = strdup("2026-05-05T21:00:00Z");
        j->queue_time_expiry = strdup("2026-05-05T23:00:00Z");
        j->deadline_ms = 1778022000000;
    }
    j->timeout_s = 1800;
    j->cancel_on_timeout = tenanted;
    j->guided_failure = !tenanted;
    if (tenanted) { /* an approved stage's job carries the approval */
        j->approved_by = strdup("dave");
        j->approval_reason = strdup("change 42 signed off");
    }
    j->dispatched_ms = 1778015000123;
}

static void check_job_equal(const of_job *a, const of_job *b)
{
    CHECK_STR(a->job_id, b->job_id);
    CHECK_STR(a->release_id, b->release_id);
    CHECK_STR(a->release_name, b->release_name);
    CHECK_INT(a->stage, b->stage);
    CHECK_INT(a->stage_count, b->stage_count);
    CHECK_STR(a->stage_name, b->stage_name);
    CHECK_INT(a->attempt, b->attempt);
    CHECK_STR(a->space.id, b->space.id);
    CHECK_STR(a->space.name, b->space.name);
    CHECK_STR(a->project.id, b->project.id);
    CHECK_STR(a->project.name, b->project.name);
    CHECK_INT(a->tenanted_mode, b->tenanted_mode);
    CHECK_STR(a->octo_release.id, b->octo_release.id);
    CHECK_STR(a->octo_release.name, b->octo_release.name);
    CHECK_STR(a->environment.id, b->environment.id);
    CHECK_STR(a->environment.name, b->environment.name);
    CHECK_STR(a->tenant.id, b->tenant.id);
    CHECK_STR(a->tenant.name, b->tenant.name);
    CHECK_INT(a->timeout_s, b->timeout_s);
    CHECK_INT(a->cancel_on_timeout, b->cancel_on_timeout);
    CHECK_INT(a->guided_failure, b->guided_failure);
    CHECK_STR(a->queue_time, b->queue_time);
    CHECK_STR(a->queue_time_expiry, b->queue_time_expiry);
    CHECK_STR(a->approved_by, b->approved_by);
    CHECK_STR(a->approval_reason, b->approval_reason);
    CHECK_INT(a->deadline_ms, b->deadline_ms);
    CHECK_INT(a->dispatched_ms, b->dispatched_ms);
}

static void test_job_round_trip(void)
{
    for (int t = 0; t < 2; t++) {
        of_job j, back, copy;
        make_job(&j, t == 1);
        char *enc = NULL;
        CHECK_INT(of_job_encode(&j, &enc), OF_OK);
        CHECK(enc != NULL);
        if (!enc) continue;
        CHECK(strncmp(enc, "{\"schema\":\"octofleet.job/1\"", 27) == 0);
        char err[256] = "";
        CHECK_INT(of_job_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
        check_job_equal(&j, &back);
        CHECK_INT(of_job_copy(&copy, &j), OF_OK);
        check_job_equal(&j, &copy);
        if (t == 0) CHECK_CONTAINS(enc, "\"tenant\":null");
        if (t == 0) CHECK(strstr(enc, "approval") == NULL);
        if (t == 1) CHECK_CONTAINS(enc, "\"approval\":{\"by\":\"dave\"");
        free(enc);
        of_job_clear(&j);
        of_job_clear(&back);
        of_job_clear(&copy);
        CHECK(j.release_name == NULL && j.job_id[0] == '\0');
    }
}

static void test_job_malformed(void)
{
    of_job j;
    make_job(&j, true);
    char *good = NULL;
    CHECK_INT(of_job_encode(&j, &good), OF_OK);
    of_job_clear(&j);
    if (!good) return;

    /* Variants made by replacing one substring of the good message. */
    static const struct {
        const char *from, *to;
        of_err rc;
        const char *why;
    } cases[] = {
        {"{\"schema\":\"octofleet.job/1\",", "{", OF_ERR_INVALID, "schema: missing"},
        {"octofleet.job/1", "octofleet.job/2", OF_ERR_PROTOCOL, "unsupported version"},
        {"octofleet.job/1", "octofleet.job/10", OF_ERR_PROTOCOL, "unsupported version"},
        {"octofleet.job/1", "octofleet.event/1", OF_ERR_PROTOCOL, "schema"},
        {"\"schema\":\"octofleet.job/1\"", "\"schema\":1", OF_ERR_INVALID, "schema: must be"},
        {"\"stage\":2", "\"stage\":\"2\"", OF_ERR_INVALID, "stage: must be an integer"},
        {"\"stage\":2", "\"stage\":0", OF_ERR_INVALID, "stage: 0 out of range"},
        {"\"stage\":2", "\"stage\":7", OF_ERR_INVALID, "beyond stage_count"},
        {"\"attempt\":3", "\"attempt\":-1", OF_ERR_INVALID, "attempt"},
        {"\"attempt\":3,", "", OF_ERR_INVALID, "attempt: missing"},
        {"\"job_id\":\"", "\"job_id\":\"x", OF_ERR_INVALID, "job_id: must be a UUID"},
        {"\"id\":\"Projects-12\"", "\"id\":12", OF_ERR_INVALID, "project.id: must be a string"},
        {"\"id\":\"Releases-101\",", "", OF_ERR_INVALID, "octopus_release.id: missing"},
        {"\"environment\":{", "\"environment\":[{", OF_ERR_INVALID, "not JSON"},
        {"\"id\":\"Tenants-40\",", "", OF_ERR_INVALID, "tenant.id: missing"},
        {"\"tenanted\":\"Tenanted\"", "\"tenanted\":\"Sometimes\"", OF_ERR_INVALID,
         "project.tenanted"},
        {"\"cancel_on_timeout\":true", "\"cancel_on_timeout\":\"yes\"", OF_ERR_INVALID,
         "policy.cancel_on_timeout: must be true or false"},
        {"\"deadline\":\"", "\"deadline\":\"soon", OF_ERR_INVALID, "deadline: must be an RFC 3339"},
        {"\"release\":\"2026.18\"", "\"release\":\"2026.18\",\"release\":\"x\"", OF_ERR_INVALID,
         "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(good, cases[i].from);
        CHECK(at != NULL);
        if (!at) {
            fprintf(stderr, "case %zu: \"%s\" not in message\n", i, cases[i].from);
            continue;
        }
        char msg[4096];
        (void)snprintf(msg, sizeof msg, "%.*s%s%s", (int)(at - good), good, cases[i].to,
                       at + strlen(cases[i].from));
        of_job out;
        char err[256] = "";
        of_err rc = of_job_decode(msg, strlen(msg), &out, err, sizeof err);
        if (rc != cases[i].rc) fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK_INT(rc, cases[i].rc);
        CHECK_CONTAINS(err, cases[i].why);
        CHECK(out.release_name == NULL); /* cleared on failure */
        of_job_clear(&out);
    }
    /* whole-message failures */
    static const struct {
        const char *msg;
        const char *why;
    } whole[] = {
        {"", "not JSON"},
        {"not json at all", "not JSON"},
        {"[1,2,3]", "not a JSON object"},
        {"{}", "schema: missing"},
        {"{\"schema\":\"octofleet.job/1\"}", "job_id: missing"},
        {"{\"schema\":\"octofleet.job/1.4\"}", "job_id: missing"}, /* minor versions accepted */
        {"\"octofleet.job/1\"", "not JSON"}, /* a bare string is not a message */
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        of_job out;
        char err[256] = "";
        CHECK(of_job_decode(whole[i].msg, strlen(whole[i].msg), &out, err, sizeof err) != OF_OK);
        CHECK_CONTAINS(err, whole[i].why);
        of_job_clear(&out);
    }
    /* embedded NUL and truncated input */
    of_job out;
    char err[256] = "";
    CHECK(of_job_decode(good, strlen(good) - 1, &out, err, sizeof err) == OF_ERR_INVALID);
    CHECK_CONTAINS(err, "not JSON");
    of_job_clear(&out);
    /* An error that quotes the message, cut by the caller's buffer at every length: still
     * UTF-8 (it goes into a dead letter's JSON), never a character's first byte alone. */
    const char *from = "\"schema\":\"octofleet.job/1\"";
    const char *at = strstr(good, from);
    CHECK(at != NULL);
    if (at) {
        char msg[4096];
        (void)snprintf(msg, sizeof msg, "%.*s\"schema\":\"%s\"%s", (int)(at - good), good,
                       "\\u00e9t\\u00e9\\u00e9\\u20ac\\u20ac\\u20ac\\ud83d\\ude80\\ud83d\\ude80",
                       at + strlen(from));
        CHECK(of_job_decode(msg, strlen(msg), &out, err, sizeof err) == OF_ERR_PROTOCOL);
        of_job_clear(&out);
        CHECK_CONTAINS(err, "\xc3\xa9t\xc3\xa9"); /* the value is quoted */
        size_t full = strlen(err);
        for (size_t cap = 1; cap <= full + 1; cap++) {
            char cut[256];
            CHECK(of_job_decode(msg, strlen(msg), &out, cut, cap) == OF_ERR_PROTOCOL);
            if (!of_utf8_valid(cut)) fprintf(stderr, "cut at %zu: \"%s\"\n", cap, cut);
            CHECK(of_utf8_valid(cut));
            of_job_clear(&out);
        }
    }
    free(good);
}

/* ---- events ---- */

static void test_event_round_trip(void)
{
    of_event e = {0};
    e.type = OF_EV_RELEASE_PAUSED;
    e.source = strdup(OF_SOURCE_PRODUCER);
    e.time_ms = 1778015000123;
    of_uuid_release_id("Default", "2026.18", e.release_id);
    e.release_name = strdup("2026.18");
    e.round = 2;
    e.message = strdup("a job failed");
    e.by = strdup("alice");
    of_uuid_random(e.command_id);
    e.n_jobs = 2;
    e.jobs = calloc(2, sizeof *e.jobs);
    CHECK(e.jobs != NULL);
    if (!e.jobs) return;
    for (int i = 0; i < 2; i++) {
        of_uuid_job_id(e.release_id, 1, "Web", "Prod", i ? "Contoso" : NULL, e.jobs[i].job_id);
        e.jobs[i].stage = 1;
        e.jobs[i].attempt = i + 1;
        e.jobs[i].status = i ? OF_JOB_TIMED_OUT : OF_JOB_FAILED;
        e.jobs[i].project = strdup("Web");
        e.jobs[i].environment = strdup("Prod");
        e.jobs[i].tenant = i ? strdup("Contoso") : NULL;
        e.jobs[i].task_id = i ? strdup("ServerTasks-9") : NULL;
    }
    e.n_total = 10;
    e.n_succeeded = 7;
    e.n_failed = 2;
    e.n_skipped = 1;
    char *enc = NULL;
    CHECK_INT(of_event_encode(&e, &enc), OF_OK);
    CHECK(enc != NULL);
    if (!enc) return;
    /* required CloudEvents attributes, structured mode */
    CHECK_CONTAINS(enc, "\"specversion\":\"1.0\"");
    CHECK_CONTAINS(enc, "\"type\":\"octofleet.release.paused\"");
    CHECK_CONTAINS(enc, "\"source\":\"octofleet/producer\"");
    CHECK_CONTAINS(enc, "\"id\":\"");
    CHECK_CONTAINS(enc, "\"time\":\"2026-05-05T");
    CHECK_CONTAINS(enc, "\"datacontenttype\":\"application/json\"");
    CHECK_CONTAINS(enc, "\"subject\":\"");
    of_event back;
    char err[256] = "";
    CHECK_INT(of_event_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    of_event_set_id(&e);
    CHECK_STR(back.id, e.id);
    CHECK_INT(back.type, OF_EV_RELEASE_PAUSED);
    CHECK_STR(back.source, OF_SOURCE_PRODUCER);
    CHECK_STR(back.subject, e.release_id);
    CHECK_INT(back.time_ms, e.time_ms);
    CHECK_STR(back.release_id, e.release_id);
    CHECK_STR(back.release_name, "2026.18");
    CHECK_INT(back.round, 2);
    CHECK_STR(back.message, "a job failed");
    CHECK_STR(back.by, "alice");
    CHECK_STR(back.command_id, e.command_id);
    CHECK_INT(back.n_jobs, 2);
    if (back.n_jobs == 2) {
        CHECK_STR(back.jobs[1].job_id, e.jobs[1].job_id);
        CHECK_INT(back.jobs[1].status, OF_JOB_TIMED_OUT);
        CHECK_INT(back.jobs[1].attempt, 2);
        CHECK_STR(back.jobs[1].tenant, "Contoso");
        CHECK_STR(back.jobs[1].task_id, "ServerTasks-9");
        CHECK(back.jobs[0].tenant == NULL);
    }
    CHECK_INT(back.n_total, 10);
    CHECK_INT(back.n_succeeded, 7);
    CHECK_INT(back.n_failed, 2);
    CHECK_INT(back.n_skipped, 1);
    /* re-encoding the decoded event gives the same bytes */
    char *enc2 = NULL;
    CHECK_INT(of_event_encode(&back, &enc2), OF_OK);
    CHECK_STR(enc2, enc);
    free(enc2);
    free(enc);
    of_event_clear(&back);
    of_event_clear(&e);

    /* a worker's job.started with Octopus handles; subject release/job */
    of_event w = {0};
    w.type = OF_EV_JOB_STARTED;
    w.source = strdup(OF_SOURCE_WORKER_PFX "w-1");
    of_uuid_release_id("Default", "2026.18", w.release_id);
    of_uuid_job_id(w.release_id, 1, "Web", "Prod", NULL, w.job_id);
    w.attempt = 1;
    w.deployment_id = strdup("Deployments-2001");
    w.task_id = strdup("ServerTasks-9001");
    w.web_link = strdup("https://octopus.example/app#/Spaces-1/deployments/Deployments-2001");
    w.errors = calloc(1, sizeof *w.errors);
    w.errors[0] = strdup("x");
    w.n_errors = 1;
    CHECK_INT(of_event_encode(&w, &enc), OF_OK);
    CHECK_INT(of_event_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    char subj[80];
    (void)snprintf(subj, sizeof subj, "%s/%s", w.release_id, w.job_id);
    CHECK_STR(back.subject, subj);
    CHECK_STR(back.source, "octofleet/worker/w-1");
    CHECK_STR(back.job_id, w.job_id);
    CHECK_STR(back.deployment_id, "Deployments-2001");
    CHECK_STR(back.task_id, "ServerTasks-9001");
    CHECK_STR(back.web_link, w.web_link);
    CHECK_INT(back.n_errors, 1);
    CHECK_INT(back.time_ms, 0); /* no time given: none encoded */
    free(enc);
    of_event_clear(&back);
    of_event_clear(&w);

    /* encode refuses events without the required attributes */
    of_event bad = {0};
    bad.type = OF_EV_JOB_FAILED;
    CHECK_INT(of_event_encode(&bad, &enc), OF_ERR_INVALID);
    CHECK(enc == NULL);
}

/* of_event_is_producers says yes exactly for what of_event_encode writes with the producer's
 * source: the encoder's own output for each source, and hand-made near misses. */
static void test_event_is_producers(void)
{
    static const struct {
        const char *source;
        bool want;
    } enc_cases[] = {
        {OF_SOURCE_PRODUCER, true},         {OF_SOURCE_PRODUCER "/p2", true},
        {OF_SOURCE_WORKER_PFX "w1", false}, {OF_SOURCE_PRODUCER "-evil", false},
        {"octofleet/produce", false},
    };
    for (size_t i = 0; i < sizeof enc_cases / sizeof enc_cases[0]; i++) {
        of_event e = {0};
        e.type = OF_EV_JOB_DISPATCHED;
        e.source = strdup(enc_cases[i].source);
        e.time_ms = 1778015000123;
        of_uuid_release_id("Default", "2026.18", e.release_id);
        of_uuid_job_id(e.release_id, 1, "Web", "Prod", "Contoso", e.job_id);
        e.attempt = 1;
        char *enc = NULL;
        CHECK_INT(of_event_encode(&e, &enc), OF_OK);
        if (enc) {
            fprintf(stderr, "is_producers: %s\n", enc_cases[i].source);
            CHECK(of_event_is_producers(enc, strlen(enc)) == enc_cases[i].want);
            /* a cut copy never passes */
            CHECK(!of_event_is_producers(enc, 60));
        }
        free(enc);
        of_event_clear(&e);
    }
    static const char *const misses[] = {
        "",
        "{}",
        /* the source first, then the encoder's prefix inside data */
        "{\"source\":\"octofleet/producer\",\"specversion\":\"1.0\"}",
        /* an id that is not a UUID */
        "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"octofleet/producer\"}",
        /* a quote hidden where the UUID goes */
        "{\"specversion\":\"1.0\",\"id\":\"0000000\\\"-0000-0000-0000-000000000000\","
        "\"source\":\"octofleet/producer\"}",
    };
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++)
        CHECK(!of_event_is_producers(misses[i], strlen(misses[i])));
    CHECK(!of_event_is_producers(NULL, 0));
}

static void test_event_malformed(void)
{
    static const struct {
        const char *msg;
        of_err rc;
        const char *why;
    } cases[] = {
        {"{\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"source\":\"s\",\"type\":"
         "\"octofleet.job.failed\",\"data\":{}}",
         OF_ERR_INVALID, "specversion: missing"},
        {"{\"specversion\":\"0.3\",\"id\":\"x\",\"source\":\"s\",\"type\":\"t\",\"data\":{}}",
         OF_ERR_PROTOCOL, "specversion: unsupported"},
        {"{\"specversion\":\"1.0\",\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\","
         "\"source\":\"s\",\"type\":\"com.example.other\",\"data\":{}}",
         OF_ERR_INVALID, "type: unknown"},
        {"{\"specversion\":\"1.0\",\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\","
         "\"type\":\"octofleet.job.failed\",\"data\":{}}",
         OF_ERR_INVALID, "source: missing"},
        {"{\"specversion\":\"1.0\",\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\","
         "\"source\":\"s\",\"type\":\"octofleet.release.paused\"}",
         OF_ERR_INVALID, "data: missing"},
        {"{\"specversion\":\"1.0\",\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\","
         "\"source\":\"s\",\"type\":\"octofleet.job.failed\",\"data\":{\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\"}}",
         OF_ERR_INVALID, "data.job_id: missing"},
        {"{\"specversion\":\"1.0\",\"id\":\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\","
         "\"source\":\"s\",\"type\":\"octofleet.release.paused\",\"data\":{\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"jobs\":[{\"job_id\":1}]}}",
         OF_ERR_INVALID, "data.jobs[0].job_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        of_event out;
        char err[256] = "";
        of_err rc = of_event_decode(cases[i].msg, strlen(cases[i].msg), &out, err, sizeof err);
        CHECK_INT(rc, cases[i].rc);
        CHECK_CONTAINS(err, cases[i].why);
        of_event_clear(&out);
    }
}

/* ---- commands ---- */

static void test_commands(void)
{
    of_command c = {0};
    c.type = OF_CMD_SUBMIT;
    c.by = strdup("alice");
    c.reason = strdup("train 18");
    c.time_ms = 1778015000000;
    c.request_json = strdup("{\"release\":\"2026.18\",\"environments\":[\"A\"]}");
    of_uuid_random(c.command_id);
    char *enc = NULL;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    of_command back;
    char err[256] = "";
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK_INT(back.type, OF_CMD_SUBMIT);
    CHECK_STR(back.command_id, c.command_id); /* echoed by the answering event */
    CHECK_STR(back.by, "alice");
    CHECK_STR(back.request_json, c.request_json);
    CHECK_INT(back.time_ms, c.time_ms);
    free(enc);
    of_command_clear(&back);
    of_command_clear(&c);

    c.type = OF_CMD_REPLAY;
    of_uuid_release_id("Default", "2026.18", c.release_id);
    c.by = strdup("bob");
    c.reason = strdup("db fixed");
    c.stage = 2;
    c.all = true;
    c.n_tenants = 2;
    c.tenants = calloc(2, sizeof *c.tenants);
    c.tenants[0] = strdup("Contoso");
    c.tenants[1] = strdup("Fabrikam");
    c.n_projects = 1;
    c.projects = calloc(1, sizeof *c.projects);
    c.projects[0] = strdup("Web");
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK_INT(back.type, OF_CMD_REPLAY);
    CHECK_STR(back.release_id, c.release_id);
    CHECK_INT(back.stage, 2);
    CHECK(back.all);
    CHECK_INT(back.n_tenants, 2);
    if (back.n_tenants == 2) CHECK_STR(back.tenants[1], "Fabrikam");
    CHECK_INT(back.n_projects, 1);
    CHECK_INT(back.n_environments, 0);
    CHECK(!back.quarantined); /* absent: false */
    CHECK(strstr(enc, "quarantined") == NULL);
    free(enc);
    of_command_clear(&back);
    /* replay --quarantined */
    c.all = false;
    c.quarantined = true;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK(back.quarantined);
    CHECK(!back.all);
    free(enc);
    of_command_clear(&back);
    of_command_clear(&c);

    c.type = OF_CMD_ABORT;
    of_uuid_release_id("Default", "2026.18", c.release_id);
    c.by = strdup("carol");
    c.cancel_running = true;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK_INT(back.type, OF_CMD_ABORT);
    CHECK(back.cancel_running);
    free(enc);
    of_command_clear(&back);
    of_command_clear(&c);

    /* approve a stage; guide a stage's guided failures for one tenant */
    c.type = OF_CMD_APPROVE;
    of_uuid_release_id("Default", "2026.18", c.release_id);
    c.by = strdup("dave");
    c.stage = 2;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK_INT(back.type, OF_CMD_APPROVE);
    CHECK_INT(back.stage, 2);
    free(enc);
    of_command_clear(&back);
    c.type = OF_CMD_GUIDE;
    c.guidance = OF_GUIDE_IGNORE;
    char *tenant[1] = {(char *)(uintptr_t) "Contoso"};
    c.tenants = tenant;
    c.n_tenants = 1;
    CHECK_INT(of_command_encode(&c, &enc), OF_OK);
    CHECK_CONTAINS(enc, "\"action\":\"ignore\"");
    CHECK_INT(of_command_decode(enc, strlen(enc), &back, err, sizeof err), OF_OK);
    CHECK_INT(back.type, OF_CMD_GUIDE);
    CHECK_INT(back.guidance, OF_GUIDE_IGNORE);
    CHECK_INT(back.stage, 2);
    CHECK_INT(back.n_tenants, 1);
    CHECK_STR(back.n_tenants ? back.tenants[0] : NULL, "Contoso");
    free(enc);
    of_command_clear(&back);
    c.tenants = NULL;
    c.n_tenants = 0;
    of_command_clear(&c);

    static const struct {
        const char *msg;
        const char *why;
    } bad[] = {
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"resume\",\"by\":\"a\"}",
         "release_id: missing"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"guide\",\"by\":\"a\",\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"stage\":1,\"action\":\"pray\"}",
         "action: unknown \"pray\""},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"guide\",\"by\":\"a\",\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"action\":\"retry\"}",
         "stage: missing"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"approve\",\"by\":\"a\",\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\"}",
         "stage: missing"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"explode\",\"by\":\"a\"}", "type: unknown"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"submit\",\"by\":\"a\"}",
         "request: missing"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"submit\",\"request\":{}}", "by: missing"},
        {"{\"schema\":\"octofleet.command/2\",\"type\":\"submit\"}", "unsupported version"},
        {"{\"schema\":\"octofleet.command/1\",\"type\":\"replay\",\"by\":\"a\",\"release_id\":"
         "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"filters\":{\"tenants\":[1]}}",
         "filters.tenants[0]: must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char e2[256] = "";
        CHECK(of_command_decode(bad[i].msg, strlen(bad[i].msg), &back, e2, sizeof e2) != OF_OK);
        CHECK_CONTAINS(e2, bad[i].why);
        of_command_clear(&back);
    }
}

/* ---- state records ---- */

static void test_records(void)
{
    of_release_record r = {0};
    of_uuid_release_id("Default", "2026.18", r.release_id);
    r.release_name = strdup("2026.18");
    r.space.id = strdup("Spaces-1");
    r.space.name = strdup("Default");
    r.request_json = strdup("{\"release\":\"2026.18\"}");
    r.status = OF_RELEASE_PAUSED;
    r.round = 3;
    r.stage_count = 2;
    r.stage_names = calloc(2, sizeof *r.stage_names);
    r.stage_names[0] = strdup("database");
    r.n_environments = 3;
    r.environments = calloc(3, sizeof *r.environments);
    for (int e = 0; e < 3; e++) {
        char id[32], name[32];
        (void)snprintf(id, sizeof id, "Environments-%d", e + 1);
        (void)snprintf(name, sizeof name, "Env %d", e + 1);
        r.environments[e].id = strdup(id);
        r.environments[e].name = strdup(name);
    }
    r.stage_status = calloc(6, sizeof *r.stage_status);
    r.stage_status[0] = OF_STAGE_SUCCEEDED;
    r.stage_status[1] = OF_STAGE_FAILED;
    r.stage_status[2] = OF_STAGE_RUNNING;
    r.stage_status[5] = OF_STAGE_PENDING;
    r.n_jobs = 140000;
    r.counts[OF_JOB_SUCCEEDED] = 139990;
    r.counts[OF_JOB_FAILED] = 10;
    r.updated_ms = 1778015000000;
    r.by = strdup("alice");
    r.held = strdup("Octopus failing: 9 of 12 requests in the last 30 s failed");
    char *enc = NULL;
    CHECK_INT(of_release_record_encode(&r, &enc), OF_OK);
    CHECK(enc && strlen(enc) < 2048); /* small whatever the job count */
    of_release_record back;
    char err[256] = "";
    CHECK_INT(of_release_record_decode(enc, enc ? strlen(enc) : 0, &back, err, sizeof err), OF_OK);
    CHECK_STR(back.release_id, r.release_id);
    CHECK_INT(back.status, OF_RELEASE_PAUSED);
    CHECK_INT(back.round, 3);
    CHECK_INT(back.stage_count, 2);
    CHECK_STR(back.stage_names[0], "database");
    CHECK(back.stage_names[1] == NULL);
    CHECK_INT(back.n_environments, 3);
    CHECK_STR(back.environments[2].name, "Env 3");
    for (int i = 0; i < 6; i++)
        CHECK_INT(back.stage_status[i], r.stage_status[i]);
    CHECK_INT(back.n_jobs, 140000);
    CHECK_INT(back.counts[OF_JOB_FAILED], 10);
    CHECK_STR(back.request_json, r.request_json);
    CHECK_STR(back.by, "alice");
    CHECK_STR(back.held, r.held);
    CHECK_INT(back.updated_ms, r.updated_ms);
    free(enc);
    of_release_record_clear(&back);
    /* not held: no "held" written, none read back */
    free(r.held);
    r.held = NULL;
    CHECK_INT(of_release_record_encode(&r, &enc), OF_OK);
    CHECK(enc && strstr(enc, "\"held\"") == NULL);
    CHECK_INT(of_release_record_decode(enc, enc ? strlen(enc) : 0, &back, err, sizeof err), OF_OK);
    CHECK(back.held == NULL);
    free(enc);
    of_release_record_clear(&back);

    char key[128];
    char want[128];
    (void)snprintf(want, sizeof want, "release/%s", r.release_id);
    CHECK_STR(of_release_record_key(r.release_id, key, sizeof key), want);

    of_job_record jr = {0};
    make_job(&jr.job, true);
    jr.status = OF_JOB_FAILED;
    jr.skip_reason = strdup("Octopus: step 2 failed");
    jr.deployment_id = strdup("Deployments-1");
    jr.task_id = strdup("ServerTasks-1");
    jr.updated_ms = 1778015000999;
    CHECK_INT(of_job_record_encode(&jr, &enc), OF_OK);
    CHECK(enc && strlen(enc) < 1024); /* 140,000 of these stay well under a topic's limits */
    of_job_record jback;
    CHECK_INT(of_job_record_decode(enc, enc ? strlen(enc) : 0, &jback, err, sizeof err), OF_OK);
    check_job_equal(&jr.job, &jback.job);
    CHECK_INT(jback.status, OF_JOB_FAILED);
    CHECK_STR(jback.skip_reason, jr.skip_reason);
    CHECK_STR(jback.deployment_id, "Deployments-1");
    CHECK_STR(jback.task_id, "ServerTasks-1");
    CHECK_INT(jback.updated_ms, jr.updated_ms);
    (void)snprintf(want, sizeof want, "job/%s/%s", jr.job.release_id, jr.job.job_id);
    CHECK_STR(of_job_record_key(jr.job.release_id, jr.job.job_id, key, sizeof key), want);
    free(enc);
    of_job_record_clear(&jback);
    /* a job skipped by quarantine says so; the flag comes back */
    enc = NULL;
    jr.status = OF_JOB_SKIPPED;
    jr.quarantined = true;
    CHECK_INT(of_job_record_encode(&jr, &enc), OF_OK);
    CHECK_CONTAINS(enc, "\"quarantined\":true");
    CHECK_INT(of_job_record_decode(enc, enc ? strlen(enc) : 0, &jback, err, sizeof err), OF_OK);
    CHECK(jback.quarantined);
    free(enc);
    of_job_record_clear(&jback);
    of_job_record_clear(&jr);

    /* a record of a job skipped in the request has no Octopus release */
    const char *skipped =
        "{\"schema\":\"octofleet.jobstate/1\",\"status\":\"skipped\",\"job\":{\"job_id\":"
        "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"release_id\":"
        "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"stage\":1,\"attempt\":0,\"space\":{\"id\":"
        "\"Spaces-1\"},\"project\":{\"id\":\"Projects-1\"},\"environment\":{\"id\":\"E-1\"}}}";
    CHECK_INT(of_job_record_decode(skipped, strlen(skipped), &jback, err, sizeof err), OF_OK);
    CHECK_INT(jback.status, OF_JOB_SKIPPED);
    of_job_record_clear(&jback);

    /* wrong shapes */
    const char *bad = "{\"schema\":\"octofleet.release/1\",\"release_id\":"
                      "\"5aa9fdc3-425b-543c-9d79-b2f4eb960011\",\"status\":\"running\","
                      "\"stage_count\":2,\"environments\":[{\"id\":\"E\"}],"
                      "\"stage_status\":[[\"running\"]]}";
    CHECK_INT(of_release_record_decode(bad, strlen(bad), &back, err, sizeof err), OF_ERR_INVALID);
    CHECK_CONTAINS(err, "stage_status");
    of_release_record_clear(&back);
    of_release_record_clear(&r);
}

/* The hot messages are written as text (oj_writer), not dumped from a jansson tree: each must
 * be byte for byte what jansson writes for the document it describes (parse it, dump it
 * compact: same text), whatever the strings hold. */
static void check_as_jansson(const char *what, const char *enc)
{
    json_error_t je;
    json_t *j = enc ? json_loads(enc, JSON_REJECT_DUPLICATES, &je) : NULL;
    char *again = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!again || strcmp(again, enc) != 0)
        fprintf(stderr, "%s:\n  written %s\n  jansson %s\n", what, enc ? enc : "(null)",
                again ? again
                : j   ? "(no dump)"
                      : je.text);
    CHECK(again && strcmp(again, enc) == 0);
    free(again);
    json_decref(j);
}

static void test_written_as_jansson(void)
{
    static const char *const texts[] = {
        "plain",
        "",
        "quote \" and backslash \\ and slash /",
        "tab\tnew\nline\rcr\bbs\fff",
        "\x01\x02\x1f\x7f controls",
        "UTF-8: Zürich, 東京, \xf0\x9f\x9a\x80",
        "<script>&amp;</script> \u2028",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        of_job j;
        make_job(&j, i % 2 == 1);
        free(j.release_name);
        j.release_name = strdup(texts[i]);
        free(j.approval_reason);
        j.approval_reason = i % 2 ? strdup(texts[i]) : NULL;
        char *enc = NULL;
        CHECK_INT(of_job_encode(&j, &enc), OF_OK);
        check_as_jansson("job", enc);
        free(enc);
        of_job_record jr = {0};
        jr.job = j;
        jr.status = OF_JOB_SKIPPED;
        jr.skip_reason = (char *)(uintptr_t)texts[i];
        jr.updated_ms = 1778015000123;
        jr.held = i % 2;
        jr.window = (int)i;
        CHECK_INT(of_job_record_encode(&jr, &enc), OF_OK);
        check_as_jansson("job record", enc);
        free(enc);
        of_job_clear(&j);

        of_event e = {0};
        e.type = i % 2 ? OF_EV_JOB_FAILED : OF_EV_RELEASE_PAUSED;
        e.source = (char *)(uintptr_t)OF_SOURCE_PRODUCER;
        e.time_ms = 1778015000123;
        of_uuid_release_id("Default", texts[i], e.release_id);
        e.message = (char *)(uintptr_t)texts[i];
        e.task_started_ms = (int64_t)i;
        e.octopus_throttled = i % 2;
        char *errs[] = {(char *)(uintptr_t)texts[i], NULL};
        e.errors = errs;
        e.n_errors = 2;
        of_job_ref refs[2] = {{.stage = 1, .attempt = 2, .project = (char *)(uintptr_t)texts[i]}};
        e.jobs = refs;
        e.n_jobs = i % 3;
        e.n_total = (int)i;
        CHECK_INT(of_event_encode(&e, &enc), OF_OK);
        check_as_jansson("event", enc);
        free(enc);
    }
    /* numbers, to the ends of the range */
    {
        static const int64_t nums[] = {INT64_MIN, -1000000007, -1, 0, 7, 1778015000123, INT64_MAX};
        oj_writer w;
        ojw_begin(&w);
        json_t *tree = json_object();
        char key[8];
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            (void)snprintf(key, sizeof key, "n%zu", i);
            ojw_int(&w, key, nums[i]);
            json_object_set_new(tree, key, json_integer((json_int_t)nums[i]));
        }
        char *enc = NULL, *want = json_dumps(tree, JSON_COMPACT);
        CHECK_INT(ojw_finish(&w, &enc), OF_OK);
        CHECK_STR(enc, want);
        free(enc);
        free(want);
        json_decref(tree);
    }
    /* not UTF-8: refused, as json_string refuses it */
    static const char *const bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(json_string(bad[i]) == NULL);
        of_event e = {0};
        e.type = OF_EV_RELEASE_PAUSED;
        e.source = (char *)(uintptr_t)OF_SOURCE_PRODUCER;
        of_uuid_release_id("Default", "2026.18", e.release_id);
        e.message = (char *)(uintptr_t)bad[i];
        char *enc = NULL;
        CHECK_INT(of_event_encode(&e, &enc), OF_ERR_INVALID);
        CHECK(enc == NULL);
    }
}

static void test_enum_names(void)
{
    for (int i = 0; i < OF_EV__COUNT; i++) {
        of_event_type t;
        const char *n = of_event_type_name((of_event_type)i);
        CHECK(strncmp(n, "octofleet.", 10) == 0);
        CHECK_INT(of_event_type_parse(n, &t), 0);
        CHECK_INT(t, i);
    }
    for (int i = 0; i < OF_JOB_STATUS__COUNT; i++) {
        of_job_status s;
        CHECK_INT(of_job_status_parse(of_job_status_name((of_job_status)i), &s), 0);
        CHECK_INT(s, i);
    }
    CHECK_STR(of_event_type_name(OF_EV_JOB_TIMED_OUT), "octofleet.job.timed_out");
    CHECK_STR(of_job_status_name(OF_JOB_STATUS__COUNT), "?");
    of_job_status s;
    CHECK_INT(of_job_status_parse("done", &s), -1);
    CHECK(of_job_status_is_failure(OF_JOB_TIMED_OUT));
    CHECK(!of_job_status_is_failure(OF_JOB_SKIPPED));
    CHECK(of_job_status_is_done_ok(OF_JOB_SKIPPED));
    CHECK(!of_job_status_is_terminal(OF_JOB_WAITING));
}

/* ---- raw message lines (octofleet topic) ---- */

static void test_dump_lines(void)
{
    static const char bad_utf8[] = {'a', (char)0xC3, 0x28}; /* 0xC3 0x28: not UTF-8 */
    of_dump_header hs[] = {
        {"a", "1", 1},      {"b", NULL, 0},
        {"a", "2", 1},      /* a repeated name keeps its last value */
        {"c", bad_utf8, 3}, /* a value that is not UTF-8: base64 */
        {"\xff", "x", 1},   /* a name that is not UTF-8: left out */
    };
    of_dump_message m = {.topic = "t",
                         .partition = 3,
                         .offset = 7,
                         .timestamp_ms = 1700000000000,
                         .key = "k\"\n\x01",
                         .key_len = 4,
                         .value = bad_utf8,
                         .value_len = sizeof bad_utf8,
                         .headers = hs,
                         .nheaders = sizeof hs / sizeof hs[0]};
    char *line = NULL;
    CHECK_INT(of_dump_line_encode(&m, &line), OF_OK);
    CHECK_STR(line,
              "{\"topic\":\"t\",\"partition\":3,\"offset\":7,\"timestamp_ms\":1700000000000,"
              "\"key\":\"k\\\"\\n\\u0001\",\"headers\":{\"b\":null,\"a\":\"2\",\"c\":\"YcMo\"},"
              "\"value\":null,\"value_base64\":\"YcMo\"}");
    free(line);
    of_dump_message tomb = {.topic = "t"}; /* no key, a tombstone, no headers */
    CHECK_INT(of_dump_line_encode(&tomb, &line), OF_OK);
    CHECK_STR(line, "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp_ms\":0,"
                    "\"key\":null,\"headers\":{},\"value\":null}");
    free(line);
    CHECK_INT(of_delivery_line_encode("t", 1, 42, &line), OF_OK);
    CHECK_STR(line, "{\"topic\":\"t\",\"partition\":1,\"offset\":42}");
    free(line);
}

/* oj_parse against json_loadb(JSON_REJECT_DUPLICATES): the same tree (compared as jansson's
 * ordered compact dump) or the same refusal with the same error text, for texts that walk every
 * branch of the fast parser and every case it leaves to jansson. */
static void test_parse_as_jansson(void)
{
    static const char *const cases[] = {
        "{}", "[]", " \t\r\n{ \"a\" : 1 , \"b\" : [ true , false , null ] } \n",
        "{\"a\":\"plain\",\"b\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
        "{\"u\":\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"}",    /* BMP and a surrogate pair */
        "{\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", /* raw UTF-8 */
        "{\"k\\u00e9y\":1}", "[0,-0,1,-1,9223372036854775807,-9223372036854775808]",
        "[9223372036854775808]", "[-9223372036854775809]",  /* out of range: jansson's error */
        "[1.5,2e3,-0.0,1E-2]",                              /* reals: jansson parses them */
        "[01]", "[-]", "[1.]", "[+1]", "{\"a\":1,\"a\":2}", /* duplicate key */
        "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"tab\there\"}",                            /* a raw control character */
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", /* overlong, a surrogate */
        "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\x80\"}", "{\"a\":1}x",
        "{\"a\":1} {}", "", "   ", "1", "\"s\"", "null", "{", "[1,]", "{\"a\"}", "{\"a\":}", "{,}",
        "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "[tru]", "[nul]", "[falsey]",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "\xef\xbb\xbf{}", /* a BOM */
        /* members the keep lists below step over: checked as strictly as the rest */
        "{\"k\":1,\"skip\":[1.5,-0.25,0.0,{\"x\":[true,null]}],\"s\":{\"k\":2,\"x\":\"y\"}}",
        "{\"skip\":2e3,\"k\":1}",         /* a real with an exponent: jansson's */
        "{\"skip\":1.5e400,\"k\":1}",     /* an overflowing real: jansson refuses */
        "{\"skip\":9223372036854775808}", /* out of range where not built */
        "{\"skip\":{\"a\":1,\"a\":2}}",   /* a duplicate where not built */
        "{\"skip\":1,\"skip\":2}",        /* a duplicate of a member not built */
        "{\"k\":1,\"skip\":1,\"k\":2}",   /* a duplicate of one built */
        "{\"skip\":\"\\u0000\"}", "{\"skip\":\"\xc0\xaf\"}", "{\"skip\":[1,]}", "{\"skip\":01}",
        "{\"skip\":1.}", "{\"skip\":.5}", "{\"skip\":-}", "{\"skip\":tru}",
        "{\"s\":[{\"k\":1,\"x\":2},{\"x\":3},4,[{\"k\":5,\"x\":6}]]}", /* keep per element */
        "[{\"k\":1,\"x\":2},{\"x\":{}}]", "{\"s\":null,\"k\":\"\\u00e9\"}",
        "{\"\\u006b\":1,\"x\":2}",                        /* a kept name, escaped */
        "{\"skip\":{\"a\":1,\"\\u0061\":2}}",             /* a duplicate behind an escape */
        "{\"k\":1,\"\\u006b\":2}", "{\"sk\\u0000ip\":1}", /* a NUL in a name not built */
    };
    static const oj_keep sub[] = {{"k", NULL}, {NULL, NULL}};
    static const oj_keep keep[] = {{"k", NULL}, {"s", sub}, {"a", NULL}, {"u", NULL}, {NULL, NULL}};
    static const oj_keep none[] = {{NULL, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i];
        CHECK(oj_check_as_jansson(t, strlen(t), NULL));
        CHECK(oj_check_as_jansson(t, strlen(t), keep));
        CHECK(oj_check_as_jansson(t, strlen(t), none));
    }
    /* an object too big to find duplicates in cheaply, stepped over: jansson's answer */
    char big[200 * 12 + 32];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"skip\":{");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"m%d\":%d", i ? "," : "", i, i);
    n += (size_t)snprintf(big + n, sizeof big - n, "},\"k\":7}");
    CHECK(oj_check_as_jansson(big, n, keep));
    json_error_t pe;
    json_t *pk = oj_parse_keep(big, n, keep, &pe);
    CHECK(pk && json_object_size(pk) == 1 && json_integer_value(json_object_get(pk, "k")) == 7);
    json_decref(pk);
    /* deeper than the fast path goes: jansson's tree all the same */
    char deep[2 * 600 + 1];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1200] = '\0';
    json_error_t e;
    json_t *a = oj_parse(deep, 1200, &e);
    CHECK(a != NULL);
    json_decref(a);
}

int main(void)
{
    test_valid_requests();
    test_invalid_requests();
    test_windows_policy();
    test_stage_deadline_policy();
    test_seed_request_fields();
    test_gate_policy();
    test_approval_request();
    test_request_limits();
    test_ids();
    test_event_ids();
    test_job_round_trip();
    test_job_malformed();
    test_event_round_trip();
    test_event_is_producers();
    test_event_malformed();
    test_commands();
    test_records();
    test_enum_names();
    test_written_as_jansson();
    test_parse_as_jansson();
    test_dump_lines();
    return TEST_DONE();
}
