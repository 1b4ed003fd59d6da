/* Internals of the worker daemon, shared by worker/worker.c (the loop, Kafka side: consuming,
 * rebalances, pausing, producing events and DLQ messages, offsets) and worker/jobs.c (the
 * per-job state machine against Octopus and the batched task poll rounds). Not a public header.
 *
 * Everything here is touched by the worker's one thread only: the Octopus client's callbacks
 * run inside of_octo_poll, the Kafka delivery and rebalance callbacks inside the producer and
 * consumer polls, all called from the loop. */
#ifndef OF_WORKER_INT_H
#define OF_WORKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "guard.h"
#include "monitor.h"
#include "model.h"
#include "octopus.h"
#include "offsets.h"
#include "worker.h"

/* A task still Cancelling this long after our timeout cancel is reported timed out anyway. */
#define WK_CANCEL_GRACE_MS (120 * 1000)
/* A task the server stops returning for this many rounds in a row fails its job. */
#define WK_MISSING_ROUNDS 10

typedef enum wk_state {
    WK_QUEUED = 0, /* decoded, waiting for a slot (no Octopus call yet) */
    WK_FINDING,    /* looking for a deployment this attempt already created */
    WK_CREATING,   /* POST deployments in flight */
    WK_FOLLOWING,  /* task known; read by poll rounds */
} wk_state;

typedef struct of_worker of_worker;

/* One job. Reference counted: the table (or backlog) holds one reference while the job is live;
 * every outstanding Octopus call or poll round that names it holds another, so a job dropped
 * on revocation stays valid until its callbacks have run (and see live == false). */
typedef struct wk_job {
    of_worker *w;
    int refs;
    bool live;    /* in the table or the backlog; false once final or dropped */
    bool in_slot; /* counted in w->n_active (left the backlog) */
    wk_state state;
    of_job job;
    /* where it came from (for the offset tracker) */
    char *topic;
    size_t topic_idx; /* its index in w->jobs_topics (stage - 1): the backlog's order */
    int32_t partition;
    int64_t offset;
    char dedupe[OF_UUID_STR_SIZE + 32];
    /* the deployment, once found or created */
    char *deployment_id;
    char *task_id;
    char *web_link; /* absolute */
    bool waiting;   /* the current interruption episode was reported */
    /* job.approved_by: its manual interventions are being answered (worker/jobs.c), and not
     * again before answer_after_ms (monotonic) after a failed try */
    bool answering;
    int64_t answer_after_ms;
    bool cancel_sent;
    int64_t cancel_at_ms; /* monotonic */
    int missing;          /* consecutive rounds the server did not return the task */
    /* Completion from the event feed (worker/feed.c): read the task at the next tick even if
     * the feed names no change (adopted, or named by a feed poll while still being created). */
    bool recheck;
    int64_t following_wall_ms; /* when the task became known to us (a bound on its StartTime) */
    /* The feed's position when the job entered the table, before its look-up and create went
     * out: no event about a task it creates can be at or below it. -1: not known (the feed's
     * start was not read yet, or failed). */
    int64_t feed_from;
    /* The task's times as last read (wall ms, 0 unknown): the final event carries them. */
    int64_t task_queued_ms, task_started_ms, task_completed_ms;
    bool throttled;      /* Octopus answered 429/503 around its create: said in its next event */
    int64_t fetched_ms;  /* monotonic: taken from Kafka (octofleet_worker_job_duration_seconds) */
    size_t slot;         /* index in w->active while in_slot */
    struct wk_job *next; /* backlog link */
} wk_job;

/* The event feed of one space (worker/feed.c). Allocated one by one: callbacks hold it. */
typedef struct wk_feed {
    of_worker *w;
    char *space_id;
    int64_t position;     /* newest AutoId read; -1 = not known (at start, after idling) */
    bool init_pending;    /* the start position (the newest event) is being read */
    bool poll_pending;    /* a feed poll is outstanding */
    int64_t next_poll_ms; /* when the next poll is due (monotonic) */
    int64_t last_busy_ms; /* when a task of ours last started or was named (monotonic) */
    /* Final-event task and deployment ids an unfiltered poll read while jobs of this space were
     * still being created: a job whose create reply comes after the poll finds its task here.
     * Sorted. */
    char **recent;
    size_t n_recent;
    /* Filtered polls (regardingAny) move position past events they did not ask for: a task
     * that becomes known later may have ended there. seen_all: every event up to it was read
     * (the start, unfiltered polls). rewind: the next poll reads from here when it is below
     * position, the lowest max(feed_from, seen_all) of the tasks that became known since the
     * last poll went out; -1: none. */
    int64_t seen_all;
    int64_t rewind;
    int64_t sent_from;  /* fromAutoId of the poll outstanding */
    bool sent_filtered; /* that poll asked only for our tasks */
} wk_feed;

/* A message to produce (event or DLQ) and what its delivery completes. Owned by whoever holds
 * it: the producer between produce and the delivery report, else the retry list. */
#define WK_MAX_HEADERS 8
typedef struct wk_msg {
    of_worker *w;
    const char *topic; /* w->events_topic or w->dlq_topic */
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    const char *hname[WK_MAX_HEADERS];
    char *hvalue[WK_MAX_HEADERS];
    size_t nheaders;
    /* final: delivery completes the job at src_topic/src_partition/src_offset */
    bool final;
    char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
    char what[160]; /* for log lines: "job.succeeded job=<id>" */
    int attempts;
    int64_t retry_at_ms; /* monotonic */
    struct wk_msg *next; /* retry list link */
    /* Monitoring, counted when the delivery succeeds (resolved at emit; NULL when off):
     * an event's type, and for a final event its outcome series and latencies. */
    int ev_type; /* of_event_type, -1: not an event */
    of_series *m_outcome, *m_duration, *m_queue;
    double duration_s, queue_s; /* queue_s < 0: unknown */
} wk_msg;

struct of_worker {
    const of_config *cfg;
    of_stop_flag *stop;
    char name[128];
    char source[160]; /* "octofleet/worker/<name>" */
    char events_topic[OF_TOPIC_NAME_MAX];
    char dlq_topic[OF_TOPIC_NAME_MAX];
    char (*jobs_topics)[OF_TOPIC_NAME_MAX];
    size_t n_jobs_topics;
    size_t max_in_flight;
    int64_t poll_interval_ms;
    int64_t heap_next_ms; /* the next look at the heap's free pages (of_heap_tidy) */

    of_fleet_kafka fk;
    of_kafka_prop *cprops; /* the consumer's properties: cfg's + max.poll.interval.ms */
    of_kafka_config ckc;
    of_kafka_prop
        *pprops; /* the event producer's: linger.ms + cfg's (of_fleet_worker_producer_props) */
    of_kafka_config pkc;
    char max_poll[32];
    of_kafka_producer *prod;
    of_kafka_consumer *cons;
    int wake_fd; /* cons's wake fd (owned by cons), -1: none */
    of_octo *octo;
    of_hold hold; /* Octopus misbehaving: no new deployments until a probe answers (octo_hold.h) */
    uint64_t throttled_seen; /* the client's 429/503 count already reported (task budget) */
    of_offsets *offsets;
    of_guard *guard; /* size budget, message authentication */

    wk_job **active; /* jobs holding a slot (FINDING/CREATING/FOLLOWING) */
    size_t n_active, cap_active;
    /* QUEUED jobs: one list per jobs topic, consume order; a slot that frees goes to the latest
     * stage's first (worker.c, "the slot table and the backlog") */
    wk_job **bl_head, **bl_tail; /* [n_jobs_topics] */
    size_t n_backlog;
    bool *topic_paused; /* [n_jobs_topics]: what flow control asked the consumer */

    wk_msg *retry, *retry_tail; /* messages to produce again */
    size_t n_retry;
    size_t n_outq;  /* produced, delivery not reported yet */
    bool unflushed; /* produced since the last idle flush (worker.c, idle_flush) */

    uint64_t rebalances;   /* rebalance callbacks seen */
    size_t rounds_pending; /* get_tasks calls of the current full round still outstanding */
    int64_t next_round_ms; /* the next tick (poll_interval) */

    /* completion from the event feed (worker/feed.c) */
    bool use_feed;             /* worker.completion_source = events */
    size_t feed_filter_max;    /* worker.feed_filter_max; 0 once the server refused a filter */
    int64_t check_interval_ms; /* full rounds: task_check_interval (feed) or poll_interval */
    int64_t busy_interval_ms;  /* the feed's cadence after a read that found work */
    int64_t next_check_ms;     /* the next full round (monotonic) */
    wk_feed **feeds;           /* one per space seen */
    size_t n_feeds, cap_feeds;
    int64_t feed_warn_ms, net_log_ms; /* rate limits of the feed's and safety net's lines */
    uint64_t net_unlogged;

    /* adoption look-ups waiting to be sent in batches (referenced) */
    wk_job **finding;
    size_t n_finding, cap_finding;
    size_t lookup_chunk; /* jobs per batched look-up: octopus.task_poll_chunk */

    /* monitoring (common/monitor): NULL when worker.metrics_listen is empty */
    of_monitor *mon;
    of_metric *m_jobs, *m_duration, *m_queue;
    of_series *m_in_flight;
    size_t m_in_flight_last;

    bool paused;   /* we asked the consumer to pause */
    bool draining; /* stop requested: no new jobs */
    bool closing;  /* tearing down: callbacks only release memory */
    uint64_t rnd;
    of_worker_stats st;
};

/* ---- worker.c ---- */

/* Produces a final or progress event for a job. final: the job's offset is done when it is
 * delivered. message may be NULL. Never fails: a message that cannot be produced now is kept
 * and produced again later. */
void wk_emit(of_worker *w, const wk_job *j, of_event_type type, const char *message, bool final);
/* wk_emit with the interruption answered and on whose behalf (job.answered); both borrowed. */
void wk_emit_as(of_worker *w, const wk_job *j, of_event_type type, const char *message, bool final,
                const char *interruption_id, const char *by);

/* A started job goes back to the front of the backlog, giving its slot back: Octopus is held
 * or a look-up or create failed for a reason that passes (network, 5xx, timeout). It starts
 * again (look-up first, so a deployment the lost answer created is adopted) once the hold
 * ends. A job never fails because Octopus was briefly down. */
void wk_requeue(of_worker *w, wk_job *j, const char *why);
/* True while the worker holds (no new deployments). */
bool wk_held(const of_worker *w);

/* ---- jobs.c ---- */

/* New job (refs = 1, live, QUEUED) taking ownership of *job (zeroed). NULL when out of memory. */
wk_job *wk_job_new(of_worker *w, of_job *job, const char *topic, int32_t partition, int64_t offset);
void wk_job_ref(wk_job *j);
void wk_job_unref(wk_job *j);

/* Gives the job a slot and starts it: find (adopt) or create its deployment. */
void wk_job_start(wk_job *j);

/* Removes a live job from the table or backlog without an event (revocation, stop), dropping
 * the table's reference. */
void wk_job_drop(wk_job *j);

/* Sends the adoption look-ups of the jobs started since the last call, one batched request per
 * (space, project, environment) and lookup_chunk jobs. Jobs whose space's feed start position
 * is being read wait for it (a create must come after the position a feed follows from). */
void wk_lookup_flush(of_worker *w);

/* Reads the tasks of jobs (FOLLOWING) in one batched get_tasks per space and applies what it
 * finds. full: the round of every in-flight task (rounds_pending counts it; with the feed on,
 * a finish it finds is one the feed did not report). */
void wk_read_tasks(of_worker *w, wk_job **jobs, size_t n, bool full);

/* ---- feed.c ---- */

/* Each loop turn: polls each feed that is due (completion_source events: every
 * poll_interval, or feed_busy_interval for a poll_interval after a read that named tasks of
 * ours or a task of ours became known); when a tick
 * (poll_interval) is due, reads the tasks that are due without an event (rechecks, policy
 * timeouts), and when task_check_interval (or, with completion_source poll, poll_interval) has
 * passed, every in-flight task. */
void wk_poll_round(of_worker *w, int64_t now_ms);

/* The feed of a space, created if new (NULL when out of memory). */
wk_feed *wk_feed_for(of_worker *w, const char *space_id);
/* A job entered the table: make sure its space's feed knows where to start. */
void wk_feed_job_started(of_worker *w, wk_job *j);
/* A job's task became known: if a feed poll already named it, read it at the next tick; the
 * feed goes into its busy cadence (a short deployment ends soon). */
void wk_feed_task_known(of_worker *w, wk_job *j);
/* Frees the feeds (teardown, after the Octopus client is gone). */
void wk_feeds_free(of_worker *w);

/* Table bookkeeping (worker.c owns the arrays; jobs.c uses them). */
void wk_table_add(of_worker *w, wk_job *j);
void wk_table_remove(of_worker *w, wk_job *j);

#endif
