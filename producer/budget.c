/* The task budget's queue and counters (budget.h has the rules). */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msg.h"

/* A waiting job: its index in the release's gate, and whether it opens its group. */
typedef struct bjob {
    size_t job;
    bool first;
} bjob;

/* One release's waiting jobs from head: the jobs that open a group first, then the others,
 * each in ascending job index (plan order). */
typedef struct bqueue {
    char id[OF_UUID_STR_SIZE];
    int priority;
    uint64_t served; /* b->clock when it was last served; 0 = never */
    uint64_t passed; /* the of_budget_next_if pass that found nothing eligible here */
    bjob *jobs;
    size_t head, n, cap; /* waiting: jobs[head .. n) */
} bqueue;

struct of_budget {
    int limit;
    int effective;
    size_t in_use;
    size_t waiting;
    bqueue *qs;
    size_t n_qs, cap_qs;
    uint64_t clock;
    uint64_t pass;      /* of_budget_next_if calls, to mark queues passed over */
    bool cut_once;      /* an overload has lowered the budget at least once */
    int64_t last_cut;   /* when the effective budget was last halved */
    int64_t last_quiet; /* when the quiet time started: last overload or last raise */
    /* automatic budget (of_budget_auto) */
    bool automatic;
    int cap, max_pct, headroom;
    double outside_ms, run_ms; /* moving averages; < 0 = no observation yet */
    double outside_dev_ms;     /* moving mean deviation of outside_ms */
};

of_err of_budget_new(int limit, of_budget **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return OF_ERR_NOMEM;
    (*out)->limit = (*out)->effective = limit > 0 ? limit : 1;
    return OF_OK;
}

void of_budget_reset(of_budget *b)
{
    for (size_t i = 0; i < b->n_qs; i++)
        free(b->qs[i].jobs);
    b->n_qs = 0;
    b->in_use = 0;
    b->waiting = 0;
}

void of_budget_free(of_budget *b)
{
    if (!b) return;
    of_budget_reset(b);
    free(b->qs);
    free(b);
}

static bqueue *find(of_budget *b, const char *id)
{
    for (size_t i = 0; i < b->n_qs; i++)
        if (strcmp(b->qs[i].id, id) == 0) return &b->qs[i];
    return NULL;
}

/* Whether a goes before b. */
static bool before(bjob a, bjob b)
{
    return a.first != b.first ? a.first : a.job < b.job;
}

/* First position in q's waiting part that does not go before key. */
static size_t lower(const bqueue *q, bjob key)
{
    size_t lo = q->head, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (before(q->jobs[mid], key))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

of_err of_budget_hold(of_budget *b, const char *release_id, int priority, bool first, size_t job)
{
    bqueue *q = find(b, release_id);
    if (!q) {
        if (of_grow((void **)&b->qs, &b->cap_qs, b->n_qs, sizeof *b->qs)) return OF_ERR_NOMEM;
        q = &b->qs[b->n_qs++];
        memset(q, 0, sizeof *q);
        of_id_copy(q->id, release_id);
    }
    q->priority = priority;
    if (q->head == q->n) q->head = q->n = 0; /* empty: reuse the array from its start */
    /* waiting already, in either part: it keeps its place */
    for (int part = 0; part < 2; part++) {
        size_t at = lower(q, (bjob){job, part == 0});
        if (at < q->n && q->jobs[at].job == job) return OF_OK;
    }
    bjob key = {job, first};
    size_t at = lower(q, key);
    if (of_grow((void **)&q->jobs, &q->cap, q->n, sizeof *q->jobs)) return OF_ERR_NOMEM;
    memmove(&q->jobs[at + 1], &q->jobs[at], (q->n - at) * sizeof *q->jobs);
    q->jobs[at] = key;
    q->n++;
    b->waiting++;
    return OF_OK;
}

void of_budget_drop(of_budget *b, const char *release_id)
{
    bqueue *q = find(b, release_id);
    if (!q) return;
    b->waiting -= q->n - q->head;
    free(q->jobs);
    size_t i = (size_t)(q - b->qs);
    memmove(q, q + 1, (b->n_qs - i - 1) * sizeof *q);
    b->n_qs--;
}

bool of_budget_next(of_budget *b, const char **release_id, size_t *job)
{
    return of_budget_next_if(b, NULL, NULL, release_id, job);
}

bool of_budget_next_if(of_budget *b, of_budget_eligible_fn eligible, void *ctx,
                       const char **release_id, size_t *job)
{
    if (b->waiting == 0 || b->in_use >= (size_t)b->effective) return false;
    /* Queues with nothing eligible are passed over in this call: marked with this pass. */
    uint64_t pass = ++b->pass;
    for (;;) {
        bqueue *best = NULL;
        for (size_t i = 0; i < b->n_qs; i++) {
            bqueue *q = &b->qs[i];
            if (q->head == q->n || q->passed == pass) continue;
            /* qs is in the order releases first queued: the tie-break among never served */
            if (!best || q->priority > best->priority ||
                (q->priority == best->priority && q->served < best->served))
                best = q;
        }
        if (!best) return false;
        size_t at = best->head;
        while (at < best->n && eligible && !eligible(ctx, best->id, best->jobs[at].job))
            at++;
        if (at == best->n) {
            best->passed = pass;
            continue;
        }
        *job = best->jobs[at].job;
        /* the jobs passed over keep their order in front */
        memmove(&best->jobs[best->head + 1], &best->jobs[best->head],
                (at - best->head) * sizeof *best->jobs);
        best->head++;
        *release_id = best->id;
        best->served = ++b->clock;
        b->waiting--;
        b->in_use++;
        return true;
    }
}

void of_budget_started(of_budget *b)
{
    b->in_use++;
}

void of_budget_finished(of_budget *b)
{
    if (b->in_use) b->in_use--;
}

bool of_budget_overload(of_budget *b, int64_t now_ms)
{
    b->last_quiet = now_ms;
    if (b->cut_once && now_ms - b->last_cut < OF_BUDGET_HOLD_OFF_MS) return false;
    b->cut_once = true;
    b->last_cut = now_ms;
    int half = b->effective / 2;
    int was = b->effective;
    b->effective = half > 1 ? half : 1;
    return b->effective != was;
}

bool of_budget_tick(of_budget *b, int64_t now_ms)
{
    if (b->effective >= b->limit || now_ms - b->last_quiet < OF_BUDGET_QUIET_MS) return false;
    int step = (b->limit + 3) / 4;
    b->effective = b->effective + step < b->limit ? b->effective + step : b->limit;
    b->last_quiet = now_ms;
    return true;
}

bool of_budget_set_limit(of_budget *b, int limit)
{
    if (limit < 1) limit = 1;
    if (limit == b->limit) return false;
    int cut = b->limit - b->effective; /* what a backoff has taken off, kept */
    b->limit = limit;
    b->effective = limit - cut >= 1 ? limit - cut : 1;
    return true;
}

static int headroom_now(const of_budget *b)
{
    long long most = ((long long)b->cap * b->max_pct + 99) / 100;
    long long h;
    if (b->outside_ms < 0 || b->run_ms <= 0)
        h = (b->cap + 3) / 4;
    else
        h = (long long)((double)b->cap * (b->outside_ms + 4 * b->outside_dev_ms) / b->run_ms +
                        0.999);
    if (h > most) h = most;
    if (h > 100000 - (long long)b->cap) h = 100000 - (long long)b->cap;
    return h > 0 ? (int)h : 0;
}

void of_budget_auto(of_budget *b, int cap, int max_pct)
{
    if (!b->automatic) b->outside_ms = b->run_ms = -1;
    b->automatic = true;
    b->cap = cap > 0 ? cap : 1;
    b->max_pct = max_pct > 0 ? max_pct : 0;
    b->headroom = headroom_now(b);
    (void)of_budget_set_limit(b, b->cap + b->headroom);
}

bool of_budget_observe(of_budget *b, int64_t hold_ms, int64_t octopus_ms, int64_t run_ms)
{
    if (!b->automatic || hold_ms <= 0 || octopus_ms < 0 || run_ms <= 0) return false;
    double outside = (double)(hold_ms > octopus_ms ? hold_ms - octopus_ms : 0);
    /* averages over about the last 16 jobs: quick to follow a train's first stage, steady
     * within it */
    if (b->outside_ms < 0) {
        b->outside_ms = outside;
        b->run_ms = (double)run_ms;
        b->outside_dev_ms = 0;
    } else {
        /* the deviation, as TCP's RTTVAR: a jittery pipeline needs the margin its slow
         * jobs take, not only its mean, or Octopus's slots idle while they travel */
        double dev = outside > b->outside_ms ? outside - b->outside_ms : b->outside_ms - outside;
        b->outside_dev_ms += (dev - b->outside_dev_ms) / 8;
        b->outside_ms += (outside - b->outside_ms) / 16;
        b->run_ms += ((double)run_ms - b->run_ms) / 16;
    }
    b->headroom = headroom_now(b);
    return of_budget_set_limit(b, b->cap + b->headroom);
}

int of_budget_headroom(const of_budget *b)
{
    return b->automatic ? b->headroom : 0;
}

void of_budget_describe(const of_budget *b, char *rule, size_t rule_size)
{
    size_t len = strlen(rule);
    if (!b->automatic || len >= rule_size) return;
    (void)snprintf(rule + len, rule_size - len, " + headroom %d, adapting up to %d%%", b->headroom,
                   b->max_pct);
}

int of_budget_limit(const of_budget *b)
{
    return b->limit;
}

int of_budget_effective(const of_budget *b)
{
    return b->effective;
}

size_t of_budget_in_use(const of_budget *b)
{
    return b->in_use;
}

size_t of_budget_waiting(const of_budget *b)
{
    return b->waiting;
}
