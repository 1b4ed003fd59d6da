#include "relstate.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "exitcodes.h"
#include "log.h"
#include "msg.h"

/* Job statuses in the order a job goes through them within one attempt; a later event never
 * moves a job back (an event read late, after the state already had its successor). */
static int status_rank(of_job_status s)
{
    if (of_job_status_is_terminal(s)) return 3;
    return s == OF_JOB_WAITING ? 2 : s == OF_JOB_STARTED ? 1 : 0;
}

bool of_relstate_apply(of_relstate *s, const of_event *ev)
{
    of_release_record *r = &s->rel;
    of_job_status js;
    if (of_event_job_status(ev->type, &js)) {
        long at = of_relstate_find_job(s, ev->job_id);
        if (at < 0) return false;
        of_job_record *j = &s->jobs[at];
        if (ev->attempt < j->job.attempt) return false;
        if (ev->attempt == j->job.attempt && status_rank(js) < status_rank(j->status) &&
            js != OF_JOB_DISPATCHED)
            return false;
        if (ev->attempt == j->job.attempt && js == OF_JOB_DISPATCHED &&
            j->status != OF_JOB_PENDING && j->status != OF_JOB_DISPATCHED)
            return false;
        j->job.attempt = ev->attempt;
        j->status = js;
        j->held = false;
        if (ev->message && (of_job_status_is_failure(js) || js == OF_JOB_SKIPPED)) {
            char *m = strdup(ev->message);
            if (m) {
                free(j->skip_reason);
                j->skip_reason = m;
            }
        }
        return true;
    }
    if (ev->round < r->round) return false; /* before the state we read */
    bool changed = false;
    if (ev->stage >= 1 && ev->stage <= r->stage_count && ev->environment) {
        of_stage_status ss = ev->type == OF_EV_STAGE_STARTED     ? OF_STAGE_RUNNING
                             : ev->type == OF_EV_STAGE_SUCCEEDED ? OF_STAGE_SUCCEEDED
                             : ev->type == OF_EV_STAGE_FAILED    ? OF_STAGE_FAILED
                                                                 : OF_STAGE_STATUS__COUNT;
        for (size_t e = 0; ss != OF_STAGE_STATUS__COUNT && e < r->n_environments; e++)
            if (r->environments[e].name && strcmp(r->environments[e].name, ev->environment) == 0) {
                r->stage_status[(size_t)(ev->stage - 1) * r->n_environments + e] = ss;
                changed = true;
            }
    }
    switch (ev->type) {
    case OF_EV_RELEASE_PAUSED:
        r->status = OF_RELEASE_PAUSED;
        return true;
    case OF_EV_RELEASE_RESUMED:
        r->status = OF_RELEASE_RUNNING;
        r->round = ev->round;
        return true;
    case OF_EV_RELEASE_COMPLETED:
        r->status = OF_RELEASE_COMPLETED;
        return true;
    case OF_EV_RELEASE_ABORTED:
        r->status = OF_RELEASE_ABORTED;
        return true;
    default:
        return changed;
    }
}

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
