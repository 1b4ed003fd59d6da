/* The hold's judgement (octo_hold.h): a ring of buckets over the window, two thresholds, and a
 * probe that ends the hold. */
#include "octo_hold.h"

#include <stdio.h>
#include <string.h>

void of_hold_init(of_hold *h, const of_hold_opts *o)
{
    memset(h, 0, sizeof *h);
    h->o = *o;
    if (h->o.window_ms < 1) h->o.window_ms = 1;
    if (h->o.min_requests < 1) h->o.min_requests = 1;
    h->width_ms = h->o.window_ms / OF_HOLD_BUCKETS;
    if (h->width_ms < 1) h->width_ms = 1;
    for (size_t i = 0; i < OF_HOLD_BUCKETS; i++)
        h->b[i].start_ms = -1;
    h->last_probe_ms = INT64_MIN / 2;
}

static void clear_window(of_hold *h)
{
    for (size_t i = 0; i < OF_HOLD_BUCKETS; i++) {
        memset(&h->b[i], 0, sizeof h->b[i]);
        h->b[i].start_ms = -1;
    }
}

void of_hold_attempt(of_hold *h, long status, int64_t now_ms)
{
    if (now_ms < 0) return;
    int64_t slot = now_ms / h->width_ms;
    of_hold_bucket *b = &h->b[(size_t)(slot % OF_HOLD_BUCKETS)];
    int64_t start = slot * h->width_ms;
    if (b->start_ms != start) {
        memset(b, 0, sizeof *b);
        b->start_ms = start;
    }
    b->total++;
    if (status == 429)
        b->throttled++;
    else if (status == 0 || status == 408 || status >= 500)
        b->failed++;
}

void of_hold_counts(const of_hold *h, int64_t now_ms, uint32_t *total, uint32_t *failed,
                    uint32_t *throttled)
{
    uint32_t t = 0, f = 0, th = 0;
    for (size_t i = 0; i < OF_HOLD_BUCKETS; i++) {
        const of_hold_bucket *b = &h->b[i];
        /* a bucket counts while any of it lies inside (now - window, now] */
        if (b->start_ms < 0 || b->start_ms + h->width_ms <= now_ms - h->o.window_ms ||
            b->start_ms > now_ms)
            continue;
        t += b->total;
        f += b->failed;
        th += b->throttled;
    }
    if (total) *total = t;
    if (failed) *failed = f;
    if (throttled) *throttled = th;
}

/* pct % of total, in integers: part * 100 >= pct * total. */
static bool over(uint32_t part, uint32_t total, int pct)
{
    return pct > 0 && (uint64_t)part * 100u >= (uint64_t)pct * total;
}

bool of_hold_check(of_hold *h, int64_t now_ms)
{
    if (h->held) return false;
    uint32_t t, f, th;
    of_hold_counts(h, now_ms, &t, &f, &th);
    if (t < (uint32_t)h->o.min_requests) return false;
    long secs = (long)((h->o.window_ms + 999) / 1000);
    if (over(f, t, h->o.error_pct))
        snprintf(h->reason, sizeof h->reason,
                 "Octopus failing: %u of %u requests in the last %ld s failed (5xx, timeout or "
                 "connection error)",
                 f, t, secs);
    else if (over(th, t, h->o.throttle_pct))
        snprintf(h->reason, sizeof h->reason,
                 "Octopus throttling: %u of %u requests in the last %ld s were answered 429", th, t,
                 secs);
    else
        return false;
    h->held = true;
    h->held_since_ms = now_ms;
    h->holds++;
    /* the first probe waits one interval: what just failed would fail again at once */
    h->last_probe_ms = now_ms;
    return true;
}

bool of_hold_probe_due(of_hold *h, bool watching, int64_t now_ms)
{
    if ((!h->held && !watching) || h->probe_out) return false;
    if (now_ms - h->last_probe_ms < h->o.probe_interval_ms) return false;
    h->probe_out = true;
    h->last_probe_ms = now_ms;
    return true;
}

bool of_hold_probed(of_hold *h, bool ok, int64_t now_ms)
{
    (void)now_ms;
    h->probe_out = false;
    if (!h->held || !ok) return false;
    h->held = false;
    clear_window(h);
    return true;
}

bool of_hold_held(const of_hold *h)
{
    return h->held;
}

const char *of_hold_reason(const of_hold *h)
{
    return h->reason;
}
