/* The producer's release table and its state records on the compacted state topic.
 *
 * Records: "release/<release_id>" (of_release_record) and "job/<release_id>/<job_id>"
 * (of_job_record); a tombstone (null value) deletes a key. Rebuilding keeps the latest value
 * per key in read order (each key lives in one partition, so read order is log order).
 * An evicted release keeps only a marker: its release record with "evicted" set (evict.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "evict.h"
#include "heap.h"
#include "log.h"
#include "producer_int.h"
#include "windows.h"

/* Rebuild reads can be long on a big state topic; this is only the give-up point. */
#define STATE_READ_TIMEOUT_MS 120000
/* Most job-record tombstones one transaction carries: librdkafka's queue and the broker's
 * transaction stay modest, and a 140,000-job release is evicted over a few transactions. */
#define EVICT_TOMBSTONES_MAX 10000

/* ---- the release table ---- */

static size_t lower_bound(const prod *p, const char *id)
{
    size_t lo = 0, hi = p->n_rels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(p->rels[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

prod_rel *prod_find(prod *p, const char *release_id)
{
    size_t i = lower_bound(p, release_id);
    return i < p->n_rels && strcmp(p->rels[i]->id, release_id) == 0 ? p->rels[i] : NULL;
}

static void rel_free(prod_rel *r)
{
    if (!r) return;
    of_gate_free(r->g);
    free(r->dirty);
    free(r->dirty_list);
    free(r->live);
    of_windows_free(r->windows);
    free(r->win_next);
    free(r);
}

of_err prod_rel_windows(prod_rel *r, const char *request_json)
{
    char es[512] = "";
    of_err rc = of_windows_from_request(request_json, &r->windows, es, sizeof es);
    if (rc == OF_ERR_NOMEM) return rc;
    if (rc) {
        of_error("release=%s: maintenance windows unusable, their jobs wait: %s", r->id, es);
        r->windows_broken = true;
        return OF_OK;
    }
    size_t n = of_windows_count(r->windows);
    if (n && !(r->win_next = calloc(n, sizeof *r->win_next))) return OF_ERR_NOMEM;
    return OF_OK;
}

of_err prod_add(prod *p, of_gate *g, const char *release_id, prod_rel **out)
{
    *out = NULL;
    size_t n = of_gate_job_count(g);
    prod_rel *r = calloc(1, sizeof *r);
    if (r) {
        r->g = g;
        r->dirty = calloc(n ? n : 1, sizeof *r->dirty);
        r->dirty_list = calloc(n ? n : 1, sizeof *r->dirty_list);
        r->live = calloc(n ? n : 1, sizeof *r->live);
    }
    if (!r || !r->dirty || !r->dirty_list || !r->live ||
        of_grow((void **)&p->rels, &p->cap_rels, p->n_rels, sizeof *p->rels)) {
        if (r)
            rel_free(r);
        else
            of_gate_free(g);
        return OF_ERR_NOMEM;
    }
    of_id_copy(r->id, release_id);
    r->last_event_ms = of_wall_ms(); /* a loaded release is not stalled until 15 min pass */
    /* Every decided job waits for the task budget before it is sent (gate.h). */
    of_gate_hold_dispatches(g, true);
    size_t i = lower_bound(p, r->id);
    OF_ASSERT(i == p->n_rels || strcmp(p->rels[i]->id, r->id) != 0);
    memmove(&p->rels[i + 1], &p->rels[i], (p->n_rels - i) * sizeof *p->rels);
    p->rels[i] = r;
    p->n_rels++;
    *out = r;
    return OF_OK;
}

void prod_drop_all(prod *p)
{
    for (size_t i = 0; i < p->n_rels; i++)
        rel_free(p->rels[i]);
    p->n_rels = 0;
    p->n_batch_rels = 0;
    p->n_gone = 0;
    p->n_orphans = 0;
    p->evict_next_ms = 0; /* look right after a (re)load */
    if (p->budget) of_budget_reset(p->budget);
}

static of_err in_batch(prod *p, prod_rel *r)
{
    if (r->in_batch) return OF_OK;
    if (of_grow((void **)&p->batch_rels, &p->cap_batch_rels, p->n_batch_rels,
                sizeof *p->batch_rels))
        return OF_ERR_NOMEM;
    p->batch_rels[p->n_batch_rels++] = r;
    r->in_batch = true;
    return OF_OK;
}

of_err prod_mark_job(prod *p, prod_rel *r, size_t idx)
{
    OF_ASSERT(idx < of_gate_job_count(r->g));
    if (!r->dirty[idx]) {
        r->dirty[idx] = true;
        r->dirty_list[r->n_dirty++] = idx;
    }
    return in_batch(p, r);
}

of_err prod_mark_release(prod *p, prod_rel *r)
{
    r->release_dirty = true;
    return in_batch(p, r);
}

void prod_clear_marks(prod *p)
{
    for (size_t i = 0; i < p->n_batch_rels; i++) {
        prod_rel *r = p->batch_rels[i];
        for (size_t k = 0; k < r->n_dirty; k++)
            r->dirty[r->dirty_list[k]] = false;
        r->n_dirty = 0;
        r->release_dirty = false;
        r->in_batch = false;
    }
    p->n_batch_rels = 0;
}

/* Adds a state record (key and value taken, freed here on failure); tombstone: value NULL. */
static of_err push_record(prod *p, char *key, char *value, bool tombstone)
{
    if (!key || (!value && !tombstone) ||
        of_grow((void **)&p->outs, &p->cap_outs, p->n_outs, sizeof *p->outs)) {
        free(key);
        free(value);
        return OF_ERR_NOMEM;
    }
    prod_out *o = &p->outs[p->n_outs++];
    memset(o, 0, sizeof *o);
    o->topic = p->t_releases;
    o->key = key;
    o->value = value;
    o->value_len = value ? strlen(value) : 0;
    return OF_OK;
}

static of_err push_state(prod *p, char *key, char *value)
{
    return push_record(p, key, value, false);
}

of_err prod_emit_state(prod *p)
{
    of_err rc = OF_OK;
    int64_t now = of_wall_ms();
    char kb[128];
    for (size_t i = 0; !rc && i < p->n_batch_rels; i++) {
        prod_rel *r = p->batch_rels[i];
        for (size_t k = 0; !rc && k < r->n_dirty; k++) {
            const of_job_record *jr = of_gate_job(r->g, r->dirty_list[k]);
            char *val = NULL;
            rc = of_job_record_encode(jr, &val);
            if (rc) {
                of_error("cannot encode job record release=%s job=%s: %s", r->id, jr->job.job_id,
                         of_strerror(rc));
                break;
            }
            rc =
                push_state(p, strdup(of_job_record_key(r->id, jr->job.job_id, kb, sizeof kb)), val);
        }
        /* The release record also carries the per-status counts, so write it whenever any
         * of its jobs changed. */
        if (!rc && (r->release_dirty || r->n_dirty)) {
            of_release_record rr;
            memset(&rr, 0, sizeof rr);
            rc = of_gate_release_record(r->g, &rr);
            char *val = NULL;
            const char *held = prod_hold_reason(p, r);
            if (!rc && held && !(rr.held = strdup(held))) rc = OF_ERR_NOMEM;
            if (!rc) {
                rr.updated_ms = now;
                rc = of_release_record_encode(&rr, &val);
            }
            of_release_record_clear(&rr);
            r->changed_ms = now;
            if (!rc) rc = push_state(p, strdup(of_release_record_key(r->id, kb, sizeof kb)), val);
        }
    }
    prod_clear_marks(p);
    return rc;
}

/* ---- eviction (evict.h) ---- */

static size_t gone_lower_bound(const prod *p, const char *id)
{
    size_t lo = 0, hi = p->n_gone;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(p->gone[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const prod_gone *prod_gone_find(const prod *p, const char *release_id)
{
    size_t i = gone_lower_bound(p, release_id);
    return i < p->n_gone && strcmp(p->gone[i].id, release_id) == 0 ? &p->gone[i] : NULL;
}

static of_err gone_add(prod *p, const char *id, of_release_status st, int64_t evicted_ms)
{
    size_t i = gone_lower_bound(p, id);
    if (i < p->n_gone && strcmp(p->gone[i].id, id) == 0) return OF_OK;
    if (of_grow((void **)&p->gone, &p->cap_gone, p->n_gone, sizeof *p->gone)) return OF_ERR_NOMEM;
    memmove(&p->gone[i + 1], &p->gone[i], (p->n_gone - i) * sizeof *p->gone);
    of_id_copy(p->gone[i].id, id);
    p->gone[i].status = st;
    p->gone[i].evicted_ms = evicted_ms;
    p->n_gone++;
    return OF_OK;
}

static of_err orphan_add(prod *p, const char *rid, const char *jid)
{
    if (of_grow((void **)&p->orphans, &p->cap_orphans, p->n_orphans, sizeof *p->orphans))
        return OF_ERR_NOMEM;
    of_id_copy(p->orphans[p->n_orphans].rid, rid);
    of_id_copy(p->orphans[p->n_orphans].jid, jid);
    p->n_orphans++;
    return OF_OK;
}

void prod_gone_why(const prod_gone *g, char *out, size_t out_size)
{
    char when[40];
    of_rfc3339(g->evicted_ms, when, sizeof when);
    (void)snprintf(out, out_size, "release %s was evicted after its retention (%s, evicted %s)",
                   g->id, of_release_status_name(g->status), when);
}

bool prod_evict_due(const prod *p, int64_t now_ms)
{
    return p->n_orphans > 0 || now_ms >= p->evict_next_ms;
}

/* Replaces r's release record by its marker, queues its job records for tombstones and
 * drops it from memory (index i of p->rels). */
static of_err evict_one(prod *p, size_t i, int64_t now)
{
    prod_rel *r = p->rels[i];
    of_release_record rr;
    memset(&rr, 0, sizeof rr);
    of_err rc = of_gate_release_record(r->g, &rr);
    char *val = NULL;
    if (!rc) {
        /* the marker keeps the outcome, stages and counts; the request can be large */
        free(rr.request_json);
        rr.request_json = NULL;
        rr.updated_ms = r->changed_ms;
        rr.evicted_ms = now;
        rc = of_release_record_encode(&rr, &val);
    }
    char kb[128];
    if (!rc) rc = push_state(p, strdup(of_release_record_key(r->id, kb, sizeof kb)), val);
    size_t n = of_gate_job_count(r->g);
    for (size_t k = 0; !rc && k < n; k++)
        rc = orphan_add(p, r->id, of_gate_job(r->g, k)->job.job_id);
    if (!rc) rc = gone_add(p, r->id, rr.status, now);
    if (!rc) {
        of_info("release evicted release=%s name=%s status=%s jobs=%zu idle_s=%lld", r->id,
                rr.release_name ? rr.release_name : "", of_release_status_name(rr.status), n,
                (long long)((now - r->changed_ms) / 1000));
        of_budget_drop(p->budget, r->id); /* nothing of it waits; be sure */
        memmove(&p->rels[i], &p->rels[i + 1], (p->n_rels - i - 1) * sizeof *p->rels);
        p->n_rels--;
        rel_free(r);
    }
    of_release_record_clear(&rr);
    return rc;
}

of_err prod_evict(prod *p)
{
    of_err rc = OF_OK;
    int64_t mono = of_now_ms();
    int64_t retention = p->cfg->producer.release_retention_ms;
    if (mono >= p->evict_next_ms) {
        p->evict_next_ms = mono + of_evict_interval_ms(retention);
        int64_t now = of_wall_ms();
        /* A release this batch touched is decided but not written yet: the next look. */
        for (size_t i = p->n_rels; !rc && i-- > 0 && p->n_orphans < EVICT_TOMBSTONES_MAX;) {
            prod_rel *r = p->rels[i];
            if (!r->in_batch && of_evict_due(of_gate_status(r->g), of_gate_in_flight(r->g) > 0,
                                             r->changed_ms, now, retention))
                rc = evict_one(p, i, now);
        }
        /* more left: look again next turn, not a whole interval later */
        if (!rc && p->n_orphans >= EVICT_TOMBSTONES_MAX) p->evict_next_ms = mono;
    }
    /* The job records' tombstones, newest queued last: a marker pushed above is in the same
     * transaction as (or an earlier one than) its release's tombstones. */
    size_t take = p->n_orphans < EVICT_TOMBSTONES_MAX ? p->n_orphans : EVICT_TOMBSTONES_MAX;
    char kb[128];
    for (size_t k = 0; !rc && k < take; k++) {
        const prod_orphan *o = &p->orphans[k];
        rc = push_record(p, strdup(of_job_record_key(o->rid, o->jid, kb, sizeof kb)), NULL, true);
    }
    if (!rc && take) {
        memmove(p->orphans, p->orphans + take, (p->n_orphans - take) * sizeof *p->orphans);
        p->n_orphans -= take;
        of_info("state tombstones=%zu left=%zu", take, p->n_orphans);
    }
    return rc;
}

/* ---- rebuilding from the state topic ---- */

/* One key of the state topic, holding only its latest readable value: a key written many
 * times (a job record rewritten at each event, then tombstoned by an eviction) costs one slot,
 * and a tombstoned one no decoded record, so loading needs memory for what is live, not for
 * everything the topic still holds before compaction. */
typedef struct srec {
    char rid[OF_UUID_STR_SIZE];
    char jid[OF_UUID_STR_SIZE]; /* "" for the release record */
    bool is_job;
    of_release_record *rel; /* owned; NULL: none readable yet, or tombstoned */
    of_job_record *job;     /* owned; likewise */
} srec;

typedef struct loader {
    srec *recs;
    size_t n, cap;
    size_t *index; /* open addressing over recs by key: slot + 1, 0 = empty */
    size_t index_cap;
    size_t bad;
} loader;

static void srec_clear(srec *s)
{
    if (s->job) of_job_record_clear(s->job);
    if (s->rel) of_release_record_clear(s->rel);
    free(s->job);
    free(s->rel);
    s->job = NULL;
    s->rel = NULL;
}

/* Parses "release/<rid>" or "job/<rid>/<jid>". */
static bool parse_key(const char *key, size_t len, srec *s)
{
    char k[128];
    if (!key || len == 0 || len >= sizeof k) return false;
    memcpy(k, key, len);
    k[len] = '\0';
    if (strncmp(k, "release/", 8) == 0 && strlen(k + 8) == OF_UUID_STR_SIZE - 1) {
        of_id_copy(s->rid, k + 8);
        s->jid[0] = '\0';
        s->is_job = false;
        return true;
    }
    if (strncmp(k, "job/", 4) == 0 && strlen(k + 4) == 2 * (OF_UUID_STR_SIZE - 1) + 1 &&
        k[4 + OF_UUID_STR_SIZE - 1] == '/') {
        k[4 + OF_UUID_STR_SIZE - 1] = '\0';
        of_id_copy(s->rid, k + 4);
        of_id_copy(s->jid, k + 4 + OF_UUID_STR_SIZE);
        s->is_job = true;
        return true;
    }
    return false;
}

static size_t key_hash(const srec *s, size_t cap)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over rid, then jid */
    for (const char *c = s->rid; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
    for (const char *c = s->jid; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return (size_t)h & (cap - 1);
}

/* The slot of key k (its rid and jid), adding an empty one if the key is new. NULL: out of
 * memory. */
static srec *slot_of(loader *ld, const srec *k)
{
    if (2 * (ld->n + 1) > ld->index_cap) {
        size_t cap = ld->index_cap ? 2 * ld->index_cap : 1024;
        size_t *idx = calloc(cap, sizeof *idx);
        if (!idx) return NULL;
        for (size_t i = 0; i < ld->n; i++) {
            size_t h = key_hash(&ld->recs[i], cap);
            while (idx[h])
                h = (h + 1) & (cap - 1);
            idx[h] = i + 1;
        }
        free(ld->index);
        ld->index = idx;
        ld->index_cap = cap;
    }
    size_t h = key_hash(k, ld->index_cap);
    for (; ld->index[h]; h = (h + 1) & (ld->index_cap - 1)) {
        srec *s = &ld->recs[ld->index[h] - 1];
        if (strcmp(s->rid, k->rid) == 0 && strcmp(s->jid, k->jid) == 0) return s;
    }
    if (of_grow((void **)&ld->recs, &ld->cap, ld->n, sizeof *ld->recs)) return NULL;
    srec *s = &ld->recs[ld->n];
    *s = *k;
    ld->index[h] = ++ld->n;
    return s;
}

static of_err on_state(void *opaque, const of_kafka_message *m)
{
    loader *ld = opaque;
    srec k;
    memset(&k, 0, sizeof k);
    if (!parse_key(m->key, m->key_len, &k)) {
        ld->bad++;
        of_warn("state topic: ignoring a record with an unknown key partition=%d offset=%lld",
                (int)m->partition, (long long)m->offset);
        return OF_OK;
    }
    srec *s = slot_of(ld, &k);
    if (!s) return OF_ERR_NOMEM;
    if (!m->value) {
        srec_clear(s); /* a tombstone deletes the key */
        return OF_OK;
    }
    char es[256] = "";
    of_err rc = OF_ERR_NOMEM;
    of_job_record *job = NULL;
    of_release_record *rel = NULL;
    if (k.is_job && (job = calloc(1, sizeof *job)) != NULL)
        rc = of_job_record_decode(m->value, m->value_len, job, es, sizeof es);
    else if (!k.is_job && (rel = calloc(1, sizeof *rel)) != NULL)
        rc = of_release_record_decode(m->value, m->value_len, rel, es, sizeof es);
    if (rc == OF_OK) {
        srec_clear(s); /* the newer value wins */
        s->job = job;
        s->rel = rel;
        return OF_OK;
    }
    free(job);
    free(rel);
    if (rc == OF_ERR_NOMEM) return rc;
    /* Keep going: one unreadable record must not stop every other release (the key keeps
     * its last readable value, if any). */
    ld->bad++;
    of_error("state topic: cannot decode %s record release=%s partition=%d offset=%lld: %s",
             k.is_job ? "job" : "release", k.rid, (int)m->partition, (long long)m->offset, es);
    return OF_OK;
}

static int srec_cmp(const void *a, const void *b)
{
    const srec *x = a, *y = b;
    int c = strcmp(x->rid, y->rid);
    return c ? c : strcmp(x->jid, y->jid);
}

/* Drops the deleted keys and sorts the rest by release, its release record first. */
static void latest_only(loader *ld)
{
    size_t k = 0;
    for (size_t i = 0; i < ld->n; i++)
        if (ld->recs[i].job || ld->recs[i].rel) ld->recs[k++] = ld->recs[i];
    ld->n = k;
    free(ld->index); /* slots moved: the index is stale */
    ld->index = NULL;
    ld->index_cap = 0;
    if (ld->n > 1) qsort(ld->recs, ld->n, sizeof *ld->recs, srec_cmp);
}

/* Builds a gate per release from the sorted records: a release record (jid "" sorts first)
 * followed by its job records. */
static of_err build_gates(prod *p, loader *ld, size_t *jobs_total)
{
    of_err rc = OF_OK;
    of_job_record *jobs = NULL;
    size_t cap_jobs = 0;
    *jobs_total = 0;
    for (size_t i = 0; i < ld->n && !rc;) {
        size_t j = i + 1;
        while (j < ld->n && strcmp(ld->recs[j].rid, ld->recs[i].rid) == 0)
            j++;
        bool marker = !ld->recs[i].is_job && ld->recs[i].rel->evicted_ms;
        if (ld->recs[i].is_job || marker) {
            /* Left by a crash between an eviction's transactions (or an older producer's
             * hand-made tombstones): never a release again; the records go too. */
            if (ld->recs[i].is_job)
                of_warn("state topic: %zu job record(s) without a release record release=%s; "
                        "ignored, to be tombstoned",
                        j - i, ld->recs[i].rid);
            else
                rc = gone_add(p, ld->recs[i].rid, ld->recs[i].rel->status,
                              ld->recs[i].rel->evicted_ms);
            for (size_t m = marker ? i + 1 : i; !rc && m < j; m++)
                rc = orphan_add(p, ld->recs[m].rid, ld->recs[m].jid);
            i = j;
            continue;
        }
        size_t nj = j - i - 1;
        if (nj > cap_jobs) {
            free(jobs);
            cap_jobs = nj;
            jobs = malloc(cap_jobs * sizeof *jobs);
            if (!jobs) return OF_ERR_NOMEM;
        }
        /* of_gate_new deep-copies, so a shallow view of the decoded records is enough. */
        for (size_t m = 0; m < nj; m++)
            jobs[m] = *ld->recs[i + 1 + m].job;
        of_release_record *h = ld->recs[i].rel;
        of_gate *g = NULL;
        char es[512] = "";
        /* The gate's mode is the request's (policy.gate), so a lane release goes on in lanes. */
        rc = of_plan_header_policy(h, es, sizeof es);
        if (!rc) rc = of_gate_new(h, jobs, nj, &g, es, sizeof es);
        if (rc && rc != OF_ERR_NOMEM) {
            of_error("state topic: cannot rebuild release=%s: %s; it is left out", h->release_id,
                     es);
            rc = OF_OK;
        } else if (!rc) {
            if (nj != h->n_jobs)
                of_warn("state topic: release=%s has %zu job record(s), its header says %zu",
                        h->release_id, nj, h->n_jobs);
            prod_rel *r = NULL;
            rc = prod_add(p, g, h->release_id, &r);
            if (!rc) rc = prod_rel_windows(r, h->request_json);
            if (!rc) {
                r->priority = h->priority;
                /* an old record without "updated" starts its retention now */
                r->changed_ms = h->updated_ms ? h->updated_ms : of_wall_ms();
                rc = prod_budget_adopt(p, r);
            }
            /* held when the producer stopped: the first tick unholds it (or keeps it held) */
            if (!rc && h->held) rc = prod_hold_restore(p, r);
            *jobs_total += nj;
        }
        i = j;
    }
    free(jobs);
    return rc;
}

of_err prod_load_state(prod *p, char *errstr, size_t errstr_size)
{
    prod_drop_all(p);
    loader ld;
    memset(&ld, 0, sizeof ld);
    size_t count = 0, jobs_total = 0;
    int64_t t0 = of_now_ms();
    of_err rc = of_kafka_read_topic(&p->fk.kc, p->t_releases, STATE_READ_TIMEOUT_MS, on_state, &ld,
                                    &count, errstr, errstr_size);
    if (!rc) {
        latest_only(&ld);
        rc = build_gates(p, &ld, &jobs_total);
    }
    if (rc == OF_OK)
        of_info("state rebuilt topic=%s records=%zu releases=%zu jobs=%zu evicted=%zu "
                "to_tombstone=%zu unreadable=%zu took_ms=%lld task_budget_in_use=%zu held=%zu",
                p->t_releases, count, p->n_rels, jobs_total, p->n_gone, p->n_orphans, ld.bad,
                (long long)(of_now_ms() - t0), of_budget_in_use(p->budget),
                of_budget_waiting(p->budget));
    for (size_t i = 0; i < ld.n; i++)
        srec_clear(&ld.recs[i]);
    free(ld.recs);
    free(ld.index);
    /* The decoded records were many small blocks, freed now that the gates hold copies;
     * without this glibc keeps the pages and the producer's RSS stays at the load's peak. */
    of_heap_trim();
    if (rc == OF_ERR_NOMEM) of_seterr(errstr, errstr_size, rc, "out of memory rebuilding state");
    return rc;
}
