/* Internals of the producer daemon, shared by producer*.c only. */
#ifndef OF_PRODUCER_INT_H
#define OF_PRODUCER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "buf.h"
#include "fleet.h"
#include "gate.h"
#include "guard.h"
#include "kafka.h"
#include "monitor.h"
#include "msg.h"
#include "octopus.h"
#include "plan.h"
#include "producer.h"
#include "resolver_octo.h"

/* One release the producer knows: its gate and what changed in the current batch. */
typedef struct prod_rel {
    char id[OF_UUID_STR_SIZE];
    of_gate *g;
    bool *dirty;        /* [n_jobs]: the job record must be written in this batch */
    size_t *dirty_list; /* indices with dirty[i] set, in the order they changed */
    size_t n_dirty;
    bool release_dirty;
    bool in_batch;      /* listed in prod.batch_rels */
    int priority;       /* the request's "priority": the task budget's order */
    bool *live;         /* [n_jobs]: the job holds a task budget slot (sent, still in flight) */
    int64_t changed_ms; /* wall clock of the release record's last write: eviction's age */
    /* monitoring (producer_metrics.c) */
    int64_t last_event_ms; /* wall: the last job event or dispatch (stalled releases) */
    int64_t gate_open_ms;  /* monotonic: a stage.succeeded not yet followed by a dispatch */
    int gate_stage;
    /* maintenance windows (policy.windows; NULL: none) and, per window, its next opening as of
     * the current pump (wall ms; <= now: open). windows_broken: a zone failed to load, so jobs
     * with a window are not sent (fail closed) */
    struct of_windows *windows;
    int64_t *win_next;
    bool windows_broken;
} prod_rel;

/* A release evicted after its retention, remembered by its marker on the state topic so a
 * command for it is answered "evicted" and a re-submit is not deployed again. */
typedef struct prod_gone {
    char id[OF_UUID_STR_SIZE];
    of_release_status status; /* completed or aborted */
    int64_t evicted_ms;
} prod_gone;

/* A job record still to tombstone: of an evicted release, or one found on load without a
 * live release record (a crash between an eviction's transactions). */
typedef struct prod_orphan {
    char rid[OF_UUID_STR_SIZE];
    char jid[OF_UUID_STR_SIZE];
} prod_orphan;

/* One message to produce in the batch's transaction. */
typedef struct prod_out {
    const char *topic; /* borrowed from prod (topic names live as long as it) */
    char *key;         /* owned; NULL = no key */
    char *value;       /* owned */
    size_t value_len;
    bool cloudevent;       /* add the CloudEvents content-type header */
    of_event_type ev_type; /* with cloudevent: its type (octofleet_events_produced_total) */
    /* DLQ headers (owned strings; NULL when not a DLQ message) */
    char *dlq_error;
    char *dlq_topic;
    char *dlq_partition;
    char *dlq_offset;
    /* set when the DLQ copy was cut to the budget: the input's size and SHA-256 */
    char *dlq_orig_size;
    char *dlq_orig_sha256;
} prod_out;

/* The one input that made a transaction fail permanently on its own: when it is read again
 * it is dead-lettered (and answered, for a command) instead of decided. */
typedef struct prod_poison {
    bool set;
    char topic[OF_TOPIC_NAME_MAX];
    int32_t partition;
    int64_t offset;
    char reason[512];
} prod_poison;

/* Next offset to commit for one consumed partition. */
typedef struct prod_off {
    char *topic; /* owned */
    int32_t partition;
    int64_t next;
} prod_off;

/* A metric update waiting for its batch's commit (producer_metrics.c). */
typedef struct prod_mpend {
    of_series *s;
    double v;
    bool observe; /* histogram observation; else counter add */
    bool since;   /* observe: v is a monotonic start (ms), observe the seconds until commit */
} prod_mpend;

#define PROD_N_REL_STATES 5 /* running paused completed aborted rejected */

typedef struct prod {
    const of_producer_opts *opts;
    const of_config *cfg;
    of_fleet_kafka fk;
    of_kafka_producer *kp;
    of_kafka_consumer *kc;
    of_octo *octo;
    of_resolver_octo *ro;
    of_resolver res;
    of_guard *guard; /* size budget, message authentication */
    of_hold hold;    /* Octopus misbehaving: nothing new is sent (producer_hold.c) */
    char (*held_rels)[OF_UUID_STR_SIZE]; /* releases told release.held in the current hold */
    size_t n_held_rels, cap_held_rels;
    int64_t hold_wall_ms;  /* wall: when the current hold started (its events' time and ids) */
    of_budget *budget;     /* the fleet's task budget (budget.h): when decided jobs are sent */
    char budget_rule[160]; /* how its limit was found */
    int64_t cap_read_ms;   /* monotonic: when the server's task cap was last read (automatic) */
    int task_cap;          /* the cap (automatic) or the configured budget */

    char t_requests[OF_TOPIC_NAME_MAX];
    char t_events[OF_TOPIC_NAME_MAX];
    char t_releases[OF_TOPIC_NAME_MAX];
    char t_dlq[OF_TOPIC_NAME_MAX];
    char (*t_jobs)[OF_TOPIC_NAME_MAX]; /* [max_stages], stage s at index s-1 */

    /* releases, sorted by id */
    prod_rel **rels;
    size_t n_rels, cap_rels;

    /* evicted releases (sorted by id) and job records left to tombstone (eviction) */
    prod_gone *gone;
    size_t n_gone, cap_gone;
    prod_orphan *orphans;
    size_t n_orphans, cap_orphans;
    int64_t evict_next_ms; /* monotonic: the next look for releases to evict */

    /* the current batch */
    prod_out *outs;
    size_t n_outs, cap_outs;
    prod_rel **batch_rels;
    size_t n_batch_rels, cap_batch_rels;
    prod_off *offs;
    size_t n_offs, cap_offs;
    size_t batch_msgs;

    /* Poison isolation (producer.c): after a permanent failure, this many transactions hold
     * one input each, so the input that causes it is found and set aside. */
    size_t isolate_left;
    /* the input being decided (the only one of the batch while isolating) */
    char cur_topic[OF_TOPIC_NAME_MAX];
    int32_t cur_partition;
    int64_t cur_offset;
    uint64_t rnd; /* backoff jitter */
    prod_poison poison;
    bool delivery_permanent; /* a delivery report of this transaction failed for good */
    char delivery_error[256];

    /* monitoring: NULL when producer.metrics_listen is empty (then every series is NULL) */
    of_monitor *mon;
    prod_mpend *mpend; /* this batch's metric updates, applied at commit */
    size_t n_mpend, cap_mpend;
    of_series *m_rel[PROD_N_REL_STATES], *m_held, *m_gate, *m_budget, *m_budget_used;
    of_series *m_progress, *m_stalled;
    of_metric *m_jobs, *m_dispatched, *m_commands;
    int64_t last_progress_ms; /* wall */
    int64_t next_sample_ms;   /* monotonic */
    const char *cmd_result;   /* the command being decided: applied, ignored or rejected */
} prod;

/* ---- producer_metrics.c (docs/monitoring.md) ---- */

void prod_metrics_declare(prod *p);
/* Queues a metric update for the batch's commit (s NULL: no-op). */
void prod_metrics_queue(prod *p, of_series *s, double v, bool observe);
/* Queues an observation of the time from start_ms (monotonic) to the batch's commit. */
void prod_metrics_queue_since(prod *p, of_series *s, int64_t start_ms);
/* The batch committed: count its events, DLQ messages and queued updates. */
void prod_metrics_commit(prod *p);
/* A worker's job event the gate recorded (not ignored): outcomes, progress. */
void prod_metrics_job_event(prod *p, prod_rel *r, const of_event *ev);
/* An event of a gate's output: dispatches and gate latency. */
void prod_metrics_gate_event(prod *p, prod_rel *r, const of_event *ev);
void prod_metrics_command(prod *p, of_cmd_type type, const char *result);
/* Every loop turn: the heartbeat; the gauges once a second. */
void prod_metrics_tick(prod *p);
/* jobs, events, state, dlq or commands: the kind of one of the producer's topics. */
const char *prod_topic_kind(const prod *p, const char *topic);

/* ---- producer_state.c ---- */

/* The release with this id, or NULL. */
prod_rel *prod_find(prod *p, const char *release_id);
/* Adds a release around gate g (ownership of g passes, also on error). */
OF_MUST_CHECK of_err prod_add(prod *p, of_gate *g, const char *release_id, prod_rel **out);
/* Loads r's maintenance windows from its request (the release header's request_json). A zone
 * that does not load is logged and leaves r's window jobs waiting. Only OF_ERR_NOMEM. */
OF_MUST_CHECK of_err prod_rel_windows(prod_rel *r, const char *request_json);
/* Frees every gate. */
void prod_drop_all(prod *p);

/* Marks job idx / the release record to be written in this batch. */
OF_MUST_CHECK of_err prod_mark_job(prod *p, prod_rel *r, size_t idx);
OF_MUST_CHECK of_err prod_mark_release(prod *p, prod_rel *r);

/* Reads the whole state topic and rebuilds every gate (prod_drop_all first) and the task
 * budget's queue and counts from them: held jobs wait again, jobs in flight hold slots. */
OF_MUST_CHECK of_err prod_load_state(prod *p, char *errstr, size_t errstr_size);

/* The evicted release with this id, or NULL. */
const prod_gone *prod_gone_find(const prod *p, const char *release_id);
/* True when eviction has work now: its periodic look is due, or job records of an eviction
 * are still to tombstone. now_ms: monotonic. */
bool prod_evict_due(const prod *p, int64_t now_ms);
/* Eviction's share of the batch (producer.release_retention): when due, each ended release
 * past its retention (and not touched by this batch) leaves memory, its release record is
 * replaced by a small marker (release record with "evicted", no request); then job-record
 * tombstones follow, at most a capped number per transaction, so a huge release is evicted
 * over several. The marker goes first: once it is committed the release is gone for every
 * later start, and job records left behind by a crash are tombstoned after the next load. */
OF_MUST_CHECK of_err prod_evict(prod *p);
/* The reason a command for an evicted release is ignored, or a re-submit rejected. */
void prod_gone_why(const prod_gone *g, char *out, size_t out_size);

/* Appends the state records of everything marked in this batch to the outputs, and
 * clears the marks. */
OF_MUST_CHECK of_err prod_emit_state(prod *p);
/* Clears the marks without writing (aborted batch). */
void prod_clear_marks(prod *p);

/* ---- producer_decide.c: inputs -> the batch's outputs ---- */

/* A message from the requests topic: decode, decide (planning a submit, reconciling before a
 * resume, cancelling on abort: *cut is set when Octopus was involved, so the caller ends the
 * batch). Undecodable commands go to the DLQ. Only OF_ERR_NOMEM is returned as an error. */
OF_MUST_CHECK of_err prod_on_command(prod *p, const of_kafka_message *m, bool *cut);
/* A message from the events topic: job events from workers feed the gates; the producer's own
 * events and unreadable ones are skipped. Only OF_ERR_NOMEM is returned as an error. */
OF_MUST_CHECK of_err prod_on_event(prod *p, const of_kafka_message *m);
/* The input that failed a transaction on its own (p->poison): its bytes go to the DLQ, cut to
 * the budget, and a decodable command is answered (release.rejected for a submit,
 * command.ignored otherwise) with the reason. Only OF_ERR_NOMEM is returned as an error. */
OF_MUST_CHECK of_err prod_on_poison(prod *p, const of_kafka_message *m);
/* Verifies a consumed message's authentication tag (no-op when authentication is off);
 * false after dead-lettering it with the reason. *rc: OF_ERR_NOMEM or OF_OK. */
bool prod_authentic(prod *p, const of_kafka_message *m, of_err *rc);
/* Frees the batch's pending messages. */
void prod_outs_clear(prod *p);
/* Sends held jobs while the task budget has free slots (the jobs and job.dispatched join the
 * batch). After every decision and on the loop's idle turns. Only OF_ERR_NOMEM (and a job
 * with no stage topic, OF_ERR_CONFIG) are errors. */
OF_MUST_CHECK of_err prod_budget_pump(prod *p);
/* Counts r's jobs into the task budget as the gate has them: held ones queued, in-flight
 * ones holding slots. A release just built from records, or a new one. */
OF_MUST_CHECK of_err prod_budget_adopt(prod *p, prod_rel *r);

/* ---- producer_hold.c: the hold on Octopus trouble (docs/reliability.md) ---- */

/* The Octopus client's observer (opaque = the prod): feeds the hold, then monitoring. */
void prod_octo_attempt(void *opaque, const of_octo_attempt_info *info);
/* Every loop turn: drives the probe, starts or ends the hold. Every running release gets
 * release.held once per hold (one that starts running during it too) and release.unheld when
 * it ends; the events join the batch. Only OF_ERR_NOMEM is an error. */
OF_MUST_CHECK of_err prod_hold_tick(prod *p);
/* True while held: prod_budget_pump sends nothing. */
bool prod_held(const prod *p);
/* Why r is held (its record's "held"), NULL when it is not: held and told (release.held). */
const char *prod_hold_reason(const prod *p, const prod_rel *r);
/* r's record said held when the state was loaded: it counts as told, so the first tick after
 * the start either keeps it (still held) or emits release.unheld and rewrites the record. */
OF_MUST_CHECK of_err prod_hold_restore(prod *p, prod_rel *r);
void prod_hold_free(prod *p);

/* An event of the producer's own into the batch (encoded, keyed by its release). */
OF_MUST_CHECK of_err prod_push_event(prod *p, const of_event *ev);

/* ---- producer_octo.c: the only places the producer talks to Octopus besides planning ---- */

/* Reconciles failed jobs of r with Octopus: before a resume every failed job, before a replay
 * (replay not NULL) the failed jobs it would re-dispatch. A job whose target's latest
 * successful deployment is of the job's release becomes a succeeded override. One listing per
 * (space, project, environment) and up to OF_OCTO_MAX_LOOKUP_JOBS targets; a listing that
 * fails leaves its jobs as they are (they are replayed or accepted, never lost). *out is a new
 * array of overrides (release with prod_overrides_clear); message strings are owned by it. */
typedef struct prod_overrides {
    of_gate_override *items;
    size_t n;
    char **messages;
    size_t n_messages;
    size_t listings; /* Octopus listings sent: 0 when there was nothing to look up */
} prod_overrides;
OF_MUST_CHECK of_err prod_reconcile(prod *p, prod_rel *r, const of_command *replay,
                                    prod_overrides *out);
void prod_overrides_clear(prod_overrides *o);

/* Cancels the Octopus tasks of refs (those with a task id). Failures are logged, not
 * returned: the abort stands either way. */
void prod_cancel_tasks(prod *p, prod_rel *r, const of_job_ref *refs, size_t n);

/* `octofleet guide`: what Octopus said for one waiting job (the gate's index). */
typedef struct prod_guided {
    size_t job;
    of_err err;                     /* the answer failed: errstr says why */
    char *errstr;                   /* owned */
    of_octo_answered_list answered; /* owned: the interruptions answered */
} prod_guided;
/* Answers a's interruptions of each job's task (jobs: gate indices, each with a task id), all
 * in parallel within the client's cap, before the batch's transaction; out[n] filled. */
OF_MUST_CHECK of_err prod_guide_octopus(prod *p, prod_rel *r, const size_t *jobs, size_t n,
                                        const of_octo_answer *a, prod_guided *out);
void prod_guided_clear(prod_guided *g, size_t n);

#endif
