#include "relstate.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "exitcodes.h"
#include "log.h"
#include "msg.h"

long of_relstate_find_job(const of_relstate *s, const char *job_id)
{
    for (size_t i = s->n; i-- > 0;)
        if (strcmp(s->jobs[i].job.job_id, job_id) == 0) return (long)i;
    return -1;
}

static long find_rel(const of_relstate *s, const char *release_id)
{
    for (size_t i = 0; i < s->n_rels; i++)
        if (strcmp(s->rels[i].release_id, release_id) == 0) return (long)i;
    return -1;
}

/* want NULL: keeps the last record of every release; a tombstone drops it. */
static of_err on_any_release(of_relstate *s, const char *key, const of_kafka_message *msg)
{
    char errstr[256];
    long at = find_rel(s, key + 8);
    if (!msg->value) {
        if (at >= 0) {
            of_release_record_clear(&s->rels[at]);
            memmove(&s->rels[at], &s->rels[at + 1], (s->n_rels - (size_t)at - 1) * sizeof *s->rels);
            s->n_rels--;
        }
        return OF_OK;
    }
    of_release_record r = {0};
    if (of_release_record_decode(msg->value, msg->value_len, &r, errstr, sizeof(errstr))) {
        of_warn("skipping a bad release record key=%s: %s", key, errstr);
        of_release_record_clear(&r);
        return OF_OK;
    }
    if (at >= 0) {
        of_release_record_clear(&s->rels[at]);
        s->rels[at] = r;
        return OF_OK;
    }
    if (of_grow((void **)&s->rels, &s->cap_rels, s->n_rels, sizeof *s->rels)) {
        of_release_record_clear(&r);
        return OF_ERR_NOMEM;
    }
    s->rels[s->n_rels++] = r;
    return OF_OK;
}

static of_err on_record(void *opaque, const of_kafka_message *msg)
{
    of_relstate *s = opaque;
    char key[160], errstr[256];
    if (!msg->key || msg->key_len >= sizeof(key)) return OF_OK;
    memcpy(key, msg->key, msg->key_len);
    key[msg->key_len] = '\0';
    if (!s->want) return strncmp(key, "release/", 8) == 0 ? on_any_release(s, key, msg) : OF_OK;
    if (!msg->value) {
        /* a job record's tombstone (eviction) deletes it: key job/<release_id>/<job_id> */
        const char *slash = strncmp(key, "job/", 4) == 0 ? strrchr(key, '/') : NULL;
        long at = slash ? of_relstate_find_job(s, slash + 1) : -1;
        if (at >= 0) {
            of_job_record_clear(&s->jobs[at]);
            s->jobs[at] = s->jobs[--s->n];
        }
        return OF_OK;
    }
    if (strncmp(key, "release/", 8) == 0) {
        of_release_record r = {0};
        if (of_release_record_decode(msg->value, msg->value_len, &r, errstr, sizeof(errstr))) {
            of_warn("skipping a bad release record key=%s: %s", key, errstr);
            of_release_record_clear(&r);
            return OF_OK;
        }
        bool match = strcmp(r.release_id, s->want) == 0 ||
                     (r.release_name && strcmp(r.release_name, s->want) == 0);
        if (match && (!s->have_release || strcmp(r.release_id, s->release_id) == 0)) {
            of_release_record_clear(&s->rel);
            s->rel = r;
            of_id_copy(s->release_id, r.release_id);
            s->have_release = true;
        } else {
            of_release_record_clear(&r);
        }
    } else if (strncmp(key, "job/", 4) == 0) {
        of_job_record j = {0};
        if (of_job_record_decode(msg->value, msg->value_len, &j, errstr, sizeof(errstr))) {
            of_warn("skipping a bad job record key=%s: %s", key, errstr);
            of_job_record_clear(&j);
            return OF_OK;
        }
        /* records of other releases are dropped once we know which one we want; before
         * that, keep those whose release matches by id or name */
        bool keep = strcmp(j.job.release_id, s->want) == 0 ||
                    (s->have_release && strcmp(j.job.release_id, s->release_id) == 0) ||
                    (j.job.release_name && strcmp(j.job.release_name, s->want) == 0);
        long at = keep ? of_relstate_find_job(s, j.job.job_id) : -1;
        if (!keep) {
            of_job_record_clear(&j);
        } else if (at >= 0) {
            of_job_record_clear(&s->jobs[at]);
            s->jobs[at] = j;
        } else {
            if (of_grow((void **)&s->jobs, &s->cap, s->n, sizeof *s->jobs)) {
                of_job_record_clear(&j);
                return OF_ERR_NOMEM;
            }
            s->jobs[s->n++] = j;
        }
    }
    return OF_OK;
}

int of_relstate_read(const of_config *cfg, const char *name, of_relstate *s)
{
    char topic[OF_TOPIC_NAME_MAX];
    int ex = of_cli_read_fleet_topic(cfg, name, "releases", 60000, on_record, s, topic);
    if (ex || !s->have_release) return ex;
    /* job records read before the release record matched by name only */
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->jobs[i].job.release_id, s->release_id) == 0)
            s->jobs[w++] = s->jobs[i];
        else
            of_job_record_clear(&s->jobs[i]);
    }
    s->n = w;
    if (s->rel.evicted_ms) {
        /* an evicted release's marker: whatever job records are left are gone too */
        for (size_t i = 0; i < s->n; i++)
            of_job_record_clear(&s->jobs[i]);
        s->n = 0;
    }
    return OF_EXIT_OK;
}

void of_relstate_clear(of_relstate *s)
{
    for (size_t i = 0; i < s->n; i++)
        of_job_record_clear(&s->jobs[i]);
    free(s->jobs);
    for (size_t i = 0; i < s->n_rels; i++)
        of_release_record_clear(&s->rels[i]);
    free(s->rels);
    of_release_record_clear(&s->rel);
    const char *want = s->want;
    memset(s, 0, sizeof *s);
    s->want = want;
}
