/* When the worker reads which tasks: completion from Octopus's event feed, with a full read of
 * every in-flight task as the safety net (docs/octopus.md, "Following the event feed";
 * docs/reliability.md, "Why the safety net").
 *
 * worker.completion_source = events. Each tick (worker.poll_interval) the worker reads the
 * events of each space it has jobs in since the newest AutoId it has seen (one GET events per
 * tick while nothing happens, bounded pages when much did; for a tick after a read that named
 * tasks of ours or after one of our tasks was created, every worker.feed_busy_interval: tasks
 * end in bursts, and neither the rest of a burst nor a short deployment should wait a whole
 * tick), matches them to its jobs by the
 * task and deployment ids in RelatedDocumentIds, and reads just those tasks in one batched
 * GET tasks?ids=: the cost grows with completions, not with tasks in flight. The final events
 * come from the task read, exactly as with polling. Each worker.task_check_interval it reads
 * every in-flight task anyway: an event the server dropped, or listed late under an AutoId the
 * feed had already passed, is caught there. A few jobs are read at a tick without an event:
 * adopted ones (their task may have finished before the feed's start), ones a feed poll named
 * while their create reply was still on its way, ones whose policy timeout may have passed,
 * and cancelled ones waiting for the cancel to land.
 *
 * Each worker reads its own completions, not the fleet's: a poll names the tasks it follows in
 * regardingAny while they are few enough for one request (worker.feed_filter_max), so W workers do
 * not each parse every completion of the fleet. Such a poll moves the position past events it
 * did not ask for, so a task that becomes known afterwards (its create reply was slower than a
 * poll) makes the next poll read again from the position its job saw before its create went
 * out (feed_from). With more tasks the poll reads the whole feed, as it did.
 *
 * worker.completion_source = poll: every in-flight task each poll_interval, no feed.
 *
 * Where a feed starts: the newest event when the space's first job enters the table (one
 * request, take=1), before that job's look-up and create go out; what finished earlier is not
 * ours, or is caught by the safety net. A space without jobs at a tick forgets its position,
 * so a worker idle for a week does not read a week of other teams' events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "worker_int.h"

/* The categories that mean "read this task now": it ended, or started or stopped waiting. */
static const char *const feed_categories[] = {
    "DeploymentSucceeded",
    "DeploymentFailed",
    "TaskCanceled",
    "ManualInterventionInterruptionRaised",
    "ManualInterventionInterruptionResolved",
    "GuidedFailureInterruptionRaised",
};
#define N_FEED_CATEGORIES (sizeof(feed_categories) / sizeof(feed_categories[0]))

/* Ids kept from polls made while jobs were being created, at most. */
#define WK_RECENT_MAX 4096
/* A poll asks only for this worker's tasks (regardingAny) while it follows at most
 * worker.feed_filter_max in the space, and their ids fit WK_FEED_FILTER_BYTES: the request line
 * then stays well inside what servers and proxies take (Kestrel 8 KiB, nginx 8 KiB). With more,
 * the whole feed is cheaper than several filtered reads per tick. */
#define WK_FEED_FILTER_BYTES 6000
/* Feed warnings: at most one line per interval. */
#define WK_FEED_WARN_EVERY_MS (60 * 1000)

static bool feed_category(const char *c)
{
    for (size_t i = 0; c && i < N_FEED_CATEGORIES; i++)
        if (strcmp(c, feed_categories[i]) == 0) return true;
    return false;
}

static void feed_warn(of_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void feed_warn(of_worker *w, const char *fmt, ...)
{
    int64_t now = of_now_ms();
    if (w->feed_warn_ms && now - w->feed_warn_ms < WK_FEED_WARN_EVERY_MS) return;
    w->feed_warn_ms = now;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    of_warn("event feed: %s (feed_errors=%llu; the safety net reads every task each %lld ms)", msg,
            (unsigned long long)w->st.feed_errors, (long long)w->check_interval_ms);
}

/* ---- feeds ---- */

wk_feed *wk_feed_for(of_worker *w, const char *space_id)
{
    for (size_t i = 0; i < w->n_feeds; i++)
        if (strcmp(w->feeds[i]->space_id, space_id) == 0) return w->feeds[i];
    if (of_grow((void **)&w->feeds, &w->cap_feeds, w->n_feeds, sizeof(*w->feeds))) return NULL;
    wk_feed *f = calloc(1, sizeof(*f));
    if (f) f->space_id = strdup(space_id);
    if (!f || !f->space_id) {
        free(f);
        return NULL;
    }
    f->w = w;
    f->position = f->seen_all = f->rewind = -1;
    w->feeds[w->n_feeds++] = f;
    return f;
}

static void recent_clear(wk_feed *f)
{
    of_strv_free(f->recent, f->n_recent);
    f->recent = NULL;
    f->n_recent = 0;
}

void wk_feeds_free(of_worker *w)
{
    for (size_t i = 0; i < w->n_feeds; i++) {
        recent_clear(w->feeds[i]);
        free(w->feeds[i]->space_id);
        free(w->feeds[i]);
    }
    free(w->feeds);
    w->feeds = NULL;
    w->n_feeds = w->cap_feeds = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether id is in the sorted array ids (of n char pointers, const or not). */
static bool ids_have(const void *ids, size_t n, const char *id)
{
    return id && n && bsearch(&id, ids, n, sizeof(char *), cmp_str) != NULL;
}

static void on_feed_start(void *opaque, of_err err, const char *errstr, of_octo_event_list *res)
{
    wk_feed *f = opaque;
    of_worker *w = f->w;
    f->init_pending = false;
    if (w->closing) return;
    if (err) {
        w->st.feed_errors++;
        feed_warn(w, "cannot read where the feed of %s starts, retrying next tick: %s", f->space_id,
                  errstr);
        return; /* position stays unknown; the waiting look-ups go ahead meanwhile */
    }
    f->position = f->seen_all = res->newest_auto_id;
    of_debug("event feed of %s starts after AutoId %lld", f->space_id, (long long)f->position);
    /* The jobs that waited for it have sent nothing yet: their tasks' events come after it. */
    for (size_t i = 0; i < w->n_active; i++) {
        wk_job *j = w->active[i];
        if (j->feed_from < 0 && j->state <= WK_FINDING && strcmp(j->job.space.id, f->space_id) == 0)
            j->feed_from = f->position;
    }
}

static void on_feed_poll(void *opaque, of_err err, const char *errstr, of_octo_event_list *res);

/* When to read a feed next: soon while it has lately named tasks of ours (a burst of
 * completions is under way) or tasks of ours have lately started (they may be short), else
 * after a whole tick. */
static int64_t feed_next(const of_worker *w, const wk_feed *f, int64_t now)
{
    bool burst = f->last_busy_ms > 0 && now - f->last_busy_ms < w->poll_interval_ms;
    return now + (burst ? w->busy_interval_ms : w->poll_interval_ms);
}

/* The task ids this worker follows in f's space, for a filtered poll: the count in *n, NULL
 * with *n = 0 when there are none, NULL with *n > 0 when they are too many (or memory is short):
 * then the poll reads the whole feed. */
static const char **followed_ids(of_worker *w, const wk_feed *f, size_t *n)
{
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i < w->n_active; i++) {
        const wk_job *j = w->active[i];
        if (j->state != WK_FOLLOWING || strcmp(j->job.space.id, f->space_id) != 0) continue;
        k++;
        bytes += strlen(j->task_id) + 1;
    }
    *n = k;
    if (k == 0 || k > w->feed_filter_max || bytes > WK_FEED_FILTER_BYTES) return NULL;
    const char **ids = malloc(k * sizeof(*ids));
    if (!ids) return NULL;
    k = 0;
    for (size_t i = 0; i < w->n_active; i++) {
        const wk_job *j = w->active[i];
        if (j->state == WK_FOLLOWING && strcmp(j->job.space.id, f->space_id) == 0)
            ids[k++] = j->task_id;
    }
    return ids;
}

static void feed_request(of_worker *w, wk_feed *f, bool start)
{
    char es[600];
    of_octo_event_query q = {.categories = feed_categories, .ncategories = N_FEED_CATEGORIES};
    const char **ids = NULL;
    if (start) {
        q.take = 1;
        q.max_pages = 1;
    } else {
        q.from_auto_id = f->position;
        size_t n;
        ids = followed_ids(w, f, &n);
        if (n == 0) { /* nothing of ours to hear about; creates in flight rewind the next */
            f->next_poll_ms = feed_next(w, f, of_now_ms());
            return;
        }
        /* Only our tasks' events: each worker reads its own completions, not the fleet's. */
        q.regarding_any = ids;
        q.nregarding_any = ids ? n : 0;
        /* A task that became known since the last poll may have ended below the position a
         * filtered poll reached without asking for it: read from there. */
        if (f->rewind >= 0 && f->rewind < q.from_auto_id) q.from_auto_id = f->rewind;
    }
    of_err rc = of_octo_list_events_async(w->octo, f->space_id, &q,
                                          start ? on_feed_start : on_feed_poll, f, es, sizeof(es));
    free(ids);
    if (rc) {
        w->st.feed_errors++;
        feed_warn(w, "feed of %s not read: %s", f->space_id, es);
        return;
    }
    w->st.feed_polls++;
    if (!start) {
        f->sent_from = q.from_auto_id;
        f->sent_filtered = q.nregarding_any > 0;
        f->rewind = -1; /* a failed poll puts it back */
        w->st.feed_filtered += q.nregarding_any > 0;
    }
    f->next_poll_ms = feed_next(w, f, of_now_ms());
    if (start)
        f->init_pending = true;
    else
        f->poll_pending = true;
}

void wk_feed_job_started(of_worker *w, wk_job *j)
{
    wk_feed *f = wk_feed_for(w, j->job.space.id);
    j->feed_from = f ? f->position : -1;
    if (f && f->position < 0 && !f->init_pending && !f->poll_pending) feed_request(w, f, true);
}

void wk_feed_task_known(of_worker *w, wk_job *j)
{
    wk_feed *f = wk_feed_for(w, j->job.space.id);
    if (f) {
        f->last_busy_ms = of_now_ms();
        int64_t soon = feed_next(w, f, f->last_busy_ms);
        if (soon < f->next_poll_ms) f->next_poll_ms = soon;
        /* Its events after seen_all were passed by filtered polls only (or not read yet). */
        int64_t from = j->feed_from > f->seen_all ? j->feed_from : f->seen_all;
        if (j->feed_from >= 0 && f->seen_all >= 0 && (f->rewind < 0 || from < f->rewind))
            f->rewind = from;
    }
    if (f && (ids_have(f->recent, f->n_recent, j->task_id) ||
              ids_have(f->recent, f->n_recent, j->deployment_id)))
        j->recheck = true;
}

/* Keeps ids (sorted, unique, borrowed) for jobs whose create reply is still on its way,
 * merged with what earlier polls kept; the oldest go beyond WK_RECENT_MAX. */
static void recent_keep(wk_feed *f, const char *const *ids, size_t n)
{
    size_t keep_old = f->n_recent;
    if (n >= WK_RECENT_MAX) {
        ids += n - WK_RECENT_MAX;
        n = WK_RECENT_MAX;
    }
    if (keep_old + n > WK_RECENT_MAX) keep_old = WK_RECENT_MAX - n;
    char **all = calloc(keep_old + n ? keep_old + n : 1, sizeof(*all));
    if (!all) return; /* only a hint; the safety net remains */
    size_t k = 0;
    for (size_t i = f->n_recent - keep_old; i < f->n_recent; i++) {
        all[k++] = f->recent[i];
        f->recent[i] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((all[k] = strdup(ids[i]))) k++;
    recent_clear(f);
    qsort(all, k, sizeof(*all), cmp_str);
    f->recent = all;
    f->n_recent = k;
}

static void on_feed_poll(void *opaque, of_err err, const char *errstr, of_octo_event_list *res)
{
    wk_feed *f = opaque;
    of_worker *w = f->w;
    f->poll_pending = false;
    bool filtered = f->sent_filtered;
    if (w->closing) return;
    if (err) {
        w->st.feed_errors++;
        if (f->rewind < 0 || f->sent_from < f->rewind) f->rewind = f->sent_from;
        if (filtered && w->feed_filter_max && (err == OF_ERR_REJECTED || err == OF_ERR_NOT_FOUND)) {
            /* A server or proxy that refuses the long query (IIS's 404.15, a 414): the whole
             * feed it is, at once rather than at the safety net's pace. */
            w->feed_filter_max = 0;
            of_warn("event feed: the server refused a read of %s naming our tasks (regardingAny): "
                    "%s; reading the whole feed from now on (worker.feed_filter_max = 0 stops "
                    "trying)",
                    f->space_id, errstr);
            f->next_poll_ms = 0;
            return;
        }
        feed_warn(w, "reading the feed of %s failed, retrying next tick: %s", f->space_id, errstr);
        return;
    }
    w->st.feed_events += res->n;
    if (res->newest_auto_id > f->position) f->position = res->newest_auto_id;
    /* An unfiltered read covers everything only from where it started: a gap a filtered poll
     * passed before it stays uncovered. */
    if (!filtered && f->sent_from <= f->seen_all && res->newest_auto_id > f->seen_all)
        f->seen_all = res->newest_auto_id;
    if (res->truncated) {
        /* More happened than one tick reads: the oldest part was skipped, so read every task
         * now rather than at the next check. */
        feed_warn(w,
                  "more events than one read takes in %s: skipped the oldest, reading every "
                  "task now",
                  f->space_id);
        w->next_check_ms = 0;
    }
    if (res->unreadable)
        feed_warn(w, "%zu event(s) of %s could not be read and were skipped: %s", res->unreadable,
                  f->space_id, res->problem ? res->problem : "");
    /* The ids the events name (tasks and deployments), sorted for the look-ups below. */
    size_t n = 0, cap = 0;
    const char **ids = NULL;
    for (size_t i = 0; i < res->n; i++) {
        const of_octo_event *e = &res->items[i];
        if (!feed_category(e->category)) continue; /* a server that ignores the filter */
        for (size_t k = 0; k < e->nrelated; k++) {
            const char *id = e->related[k];
            if (strncmp(id, "ServerTasks-", 12) != 0 && strncmp(id, "Deployments-", 12) != 0)
                continue;
            if (of_grow((void **)&ids, &cap, n, sizeof(*ids))) break;
            ids[n++] = id;
        }
    }
    if (n == 0) {
        free(ids);
        return;
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    size_t u = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i], ids[u - 1]) != 0) ids[u++] = ids[i];
    n = u;
    wk_job **due = malloc(w->n_active * sizeof(*due) + 1);
    size_t nd = 0;
    bool creating = false;
    for (size_t i = 0; due && i < w->n_active; i++) {
        wk_job *j = w->active[i];
        if (strcmp(j->job.space.id, f->space_id) != 0) continue;
        if (j->state != WK_FOLLOWING) {
            creating = true;
            continue;
        }
        if (ids_have(ids, n, j->task_id) || ids_have(ids, n, j->deployment_id)) due[nd++] = j;
    }
    w->st.events_matched += nd;
    /* Work found: more of the burst is likely; read again soon. */
    if (nd > 0) {
        f->last_busy_ms = of_now_ms();
        int64_t soon = feed_next(w, f, f->last_busy_ms);
        if (soon < f->next_poll_ms) f->next_poll_ms = soon;
    }
    if (creating && !filtered) /* a filtered poll names only tasks we know */
        recent_keep(f, ids, n);
    else if (!creating)
        recent_clear(f);
    free(ids);
    if (due) wk_read_tasks(w, due, nd, false);
    free(due);
}

/* ---- ticks ---- */

/* A job whose policy timeout may have passed: measured from the task's StartTime when known,
 * else from when we learnt of the task (it cannot have started earlier). */
static bool timeout_due(const wk_job *j, int64_t wall)
{
    if (j->job.timeout_s <= 0) return false;
    int64_t since = j->task_started_ms > 0 ? j->task_started_ms : j->following_wall_ms;
    return wall - since > j->job.timeout_s * 1000;
}

/* Polls each feed that is due; a space without jobs forgets its position, so a worker idle
 * for a week does not read a week of other teams' events. */
static void feeds_tick(of_worker *w, int64_t now_ms)
{
    for (size_t fi = 0; fi < w->n_feeds; fi++) {
        wk_feed *f = w->feeds[fi];
        if (f->init_pending || f->poll_pending || now_ms < f->next_poll_ms) continue;
        f->next_poll_ms = feed_next(w, f, now_ms); /* also when the request fails */
        bool busy = false;
        for (size_t i = 0; i < w->n_active && !busy; i++)
            busy = strcmp(w->active[i]->job.space.id, f->space_id) == 0;
        if (!busy) { /* idle: start afresh from the newest event when work comes */
            f->position = f->seen_all = f->rewind = -1;
            recent_clear(f);
        } else {
            feed_request(w, f, f->position < 0);
        }
    }
}

void wk_poll_round(of_worker *w, int64_t now_ms)
{
    if (w->use_feed) feeds_tick(w, now_ms);
    if (now_ms < w->next_round_ms) return;
    w->next_round_ms = now_ms + w->poll_interval_ms;
    wk_job **list = malloc(w->n_active * sizeof(*list) + 1);
    if (!list) {
        of_error("task poll round: out of memory");
        return;
    }
    bool full = false;
    size_t k = 0;
    if (now_ms >= w->next_check_ms && w->rounds_pending == 0) {
        w->next_check_ms = now_ms + w->check_interval_ms;
        for (size_t i = 0; i < w->n_active; i++)
            if (w->active[i]->state == WK_FOLLOWING) list[k++] = w->active[i];
        full = k > 0;
        wk_read_tasks(w, list, k, true);
    }
    if (!w->use_feed) {
        free(list);
        return;
    }
    /* The jobs due without an event (a full round read them all already). */
    k = 0;
    int64_t wall = of_wall_ms();
    for (size_t i = 0; !full && i < w->n_active; i++) {
        wk_job *j = w->active[i];
        if (j->state == WK_FOLLOWING && (j->recheck || j->cancel_sent || timeout_due(j, wall)))
            list[k++] = j;
    }
    wk_read_tasks(w, list, k, false);
    free(list);
}
