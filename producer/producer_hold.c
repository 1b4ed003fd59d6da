/* The hold on Octopus trouble, the producer's part (docs/reliability.md, "Hold, not fail").
 *
 * Why the producer judges from its own probes: workers see most requests and each holds
 * itself (worker.c), which is what keeps a job from failing; but a held worker reports
 * nothing, and the producer must not need a message from every worker to know. So while a
 * release runs the producer probes Octopus (GET /api/, one attempt) every
 * octopus.hold_probe_interval and judges those probes, with its other requests, by the same
 * rules (octo_hold.h). Held, it sends no held job of any release (the task budget's queue
 * waits) and tells each running release once (release.held with the reason); the first probe
 * answered ends it (release.unheld) and the budget sends again. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "producer_int.h"
#include "strpool.h"

void prod_octo_attempt(void *opaque, const of_octo_attempt_info *info)
{
    prod *p = opaque;
    of_hold_attempt(&p->hold, info->status, of_now_ms());
    of_monitor_octo_attempt(p->mon, info);
}

bool prod_held(const prod *p)
{
    return of_hold_held(&p->hold);
}

void prod_hold_free(prod *p)
{
    free(p->held_rels);
    p->held_rels = NULL;
    p->n_held_rels = p->cap_held_rels = 0;
}

static void on_probe(void *opaque, of_err err, const char *errstr)
{
    prod *p = opaque;
    (void)of_hold_probed(&p->hold, err == OF_OK, of_now_ms());
    if (err && err != OF_ERR_CANCELLED) of_debug("octopus probe failed: %s", errstr);
}

static bool told(const prod *p, const char *rid)
{
    for (size_t i = 0; i < p->n_held_rels; i++)
        if (strcmp(p->held_rels[i], rid) == 0) return true;
    return false;
}

static of_err tell(prod *p, const prod_rel *r)
{
    if (of_grow((void **)&p->held_rels, &p->cap_held_rels, p->n_held_rels, sizeof *p->held_rels))
        return OF_ERR_NOMEM;
    of_id_copy(p->held_rels[p->n_held_rels++], r->id);
    return OF_OK;
}

const char *prod_hold_reason(const prod *p, const prod_rel *r)
{
    return prod_held(p) && told(p, r->id) ? of_hold_reason(&p->hold) : NULL;
}

of_err prod_hold_restore(prod *p, prod_rel *r)
{
    return told(p, r->id) ? OF_OK : tell(p, r);
}

/* release.held or release.unheld for r; time = the hold's start, so the pair of a hold share
 * it and a redone batch emits the same ids. */
static of_err hold_event(prod *p, prod_rel *r, of_event_type type)
{
    of_err rc = OF_OK;
    of_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    of_id_copy(ev.release_id, r->id);
    ev.source = of_strdup_or_null(OF_SOURCE_PRODUCER, &rc);
    const of_job_record *j0 = of_gate_job_count(r->g) ? of_gate_job(r->g, 0) : NULL;
    ev.release_name = of_strdup_or_null(j0 ? j0->job.release_name : NULL, &rc);
    ev.round = of_gate_round(r->g);
    ev.time_ms = p->hold_wall_ms ? p->hold_wall_ms : of_wall_ms(); /* 0: held before a restart */
    ev.message =
        of_strdup_or_null(type == OF_EV_RELEASE_HELD ? of_hold_reason(&p->hold)
                                                     : "Octopus answers again: sending goes on",
                          &rc);
    if (!rc) rc = prod_push_event(p, &ev);
    if (!rc) rc = prod_mark_release(p, r); /* the record says held, or no longer */
    if (!rc)
        of_log(type == OF_EV_RELEASE_HELD ? OF_LOG_WARN : OF_LOG_INFO, "%s release=%s: %s",
               of_event_type_name(type), r->id, ev.message);
    of_event_clear(&ev);
    return rc;
}

static bool running(const prod_rel *r)
{
    return of_gate_status(r->g) == OF_RELEASE_RUNNING;
}

of_err prod_hold_tick(prod *p)
{
    of_err rc = OF_OK;
    int64_t now = of_now_ms();
    bool watching = false;
    for (size_t i = 0; i < p->n_rels && !watching; i++)
        watching = running(p->rels[i]);
    /* the probe's answer: a failure of the client itself fails the probe, logged there */
    if (of_octo_outstanding(p->octo) > 0 && of_octo_poll(p->octo, 0) != OF_OK)
        of_debug("octopus client: the probe's poll failed");
    char es[512];
    if (of_hold_probe_due(&p->hold, watching, now) &&
        of_octo_probe_async(p->octo, on_probe, p, es, sizeof es) != OF_OK) {
        (void)of_hold_probed(&p->hold, false, now);
        of_warn("octopus probe not sent: %s", es);
    }
    if (of_hold_check(&p->hold, now)) {
        p->hold_wall_ms = of_wall_ms();
        p->n_held_rels = 0;
        of_warn("octopus hold: %s; no job is sent until a probe is answered (every %lld ms)",
                of_hold_reason(&p->hold), (long long)p->hold.o.probe_interval_ms);
        of_monitor_octo_held(p->mon, true);
    }
    if (prod_held(p)) {
        /* every running release is told once, one that starts during the hold too */
        for (size_t i = 0; !rc && i < p->n_rels; i++) {
            prod_rel *r = p->rels[i];
            if (!running(r) || told(p, r->id)) continue;
            rc = tell(p, r);
            if (!rc) rc = hold_event(p, r, OF_EV_RELEASE_HELD);
        }
        return rc;
    }
    if (p->n_held_rels == 0) return OF_OK;
    /* the hold ended: tell the releases that were told, then send what waited */
    if (p->hold_wall_ms)
        of_info("octopus hold ended after %.1f s: a probe was answered",
                (double)(of_wall_ms() - p->hold_wall_ms) / 1e3);
    else
        of_info("%zu release(s) held when the producer stopped: Octopus answers now",
                p->n_held_rels);
    of_monitor_octo_held(p->mon, false);
    for (size_t i = 0; !rc && i < p->n_held_rels; i++) {
        prod_rel *r = prod_find(p, p->held_rels[i]);
        if (r) rc = hold_event(p, r, OF_EV_RELEASE_UNHELD);
    }
    p->n_held_rels = 0;
    if (!rc) rc = prod_budget_pump(p);
    return rc;
}
