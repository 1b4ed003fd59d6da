/* The fleet's task budget: the most jobs of this fleet that may be queued or running in
 * Octopus at once, across all releases and workers (octopus.task_budget; docs/gating.md,
 * "The task budget").
 *
 * The gates decide which jobs run (producer/gate.h, with hold on); this module decides when:
 * a decided job waits here until a slot is free. It is pure (no I/O; the caller passes the
 * clock) and knows releases by id and jobs by their index in the release's gate.
 *
 * Rules
 * - slots: a job holds one from its dispatch until it is no longer in flight (its final
 *   event, or its status otherwise leaves dispatched/started/waiting); the caller reports both
 *   (of_budget_next counts a slot, of_budget_finished frees one, of_budget_started counts a
 *   job found in flight at load);
 * - order: the highest priority first (the request's "priority"); between releases of the
 *   same priority, round robin (the one served longest ago, then the one queued first); within
 *   a release, the first job of each group a decision opened (a stage in an environment, or in
 *   a tenant's lane: producer/producer_decide.c) ahead of the others, then plan order
 *   (ascending job index): a stage whose gate opens starts with the next free slot instead of
 *   waiting behind the stages already running elsewhere, and the rest of it takes its turn;
 * - backoff: Octopus answering 429/503 (of_budget_overload) halves the effective budget
 *   (floor 1), at most once per OF_BUDGET_HOLD_OFF_MS; after OF_BUDGET_QUIET_MS without an
 *   overload, and then every OF_BUDGET_QUIET_MS, of_budget_tick raises it by a quarter of the
 *   budget (at least 1) until it is whole again. Jobs already sent are never recalled: a lower
 *   budget only sends nothing new until enough of them finish.
 *
 * Not thread-safe: one per producer. */
#ifndef OF_BUDGET_H
#define OF_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

#define OF_BUDGET_DEFAULT     20    /* automatic, when the server's task cap cannot be read */
#define OF_BUDGET_HOLD_OFF_MS 10000 /* overloads this close to the last cut are one overload */
#define OF_BUDGET_QUIET_MS    30000 /* quiet time before (and between) recovery steps */

typedef struct of_budget of_budget;

/* A new budget of limit slots (>= 1). *out is freed with of_budget_free. OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_budget_new(int limit, of_budget **out);
void of_budget_free(of_budget *b);
/* Forgets every waiting job and every counted slot, keeps the limit and the backoff (the
 * producer rebuilds both from its gates). */
void of_budget_reset(of_budget *b);

/* Queues job (an index in release_id's gate) to wait for a slot; first: it opens its group
 * (goes ahead of the release's other waiting jobs). A job already waiting is not queued twice
 * and keeps its place. priority is the release's (the latest given wins). OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_budget_hold(of_budget *b, const char *release_id, int priority, bool first,
                                    size_t job);
/* Forgets the release's waiting jobs (aborted, or gone). */
void of_budget_drop(of_budget *b, const char *release_id);

/* The next job to send, if a slot is free and a job waits: true with *release_id (borrowed,
 * valid until the next call that changes b) and *job set, the slot counted. The caller sends it
 * or, when the job turns out not to be held any more, gives the slot back with
 * of_budget_finished. */
bool of_budget_next(of_budget *b, const char **release_id, size_t *job);

/* Whether a waiting job may be sent now (of_budget_next_if); ctx is the caller's. */
typedef bool (*of_budget_eligible_fn)(void *ctx, const char *release_id, size_t job);

/* of_budget_next restricted to jobs eligible() accepts (NULL: every job): the next job in the
 * same order among those, skipping the others without removing them, so a job that may not start
 * yet (a closed maintenance window, producer/windows.h) holds no slot and blocks neither the
 * jobs behind it nor other releases. */
bool of_budget_next_if(of_budget *b, of_budget_eligible_fn eligible, void *ctx,
                       const char **release_id, size_t *job);

/* A job in flight that did not come from of_budget_next (found in the state at load). */
void of_budget_started(of_budget *b);
/* A counted job left flight (final event, skipped, cancelled). */
void of_budget_finished(of_budget *b);

/* Octopus was overloaded (a worker saw 429/503) at now_ms: true when this lowered the
 * effective budget. */
bool of_budget_overload(of_budget *b, int64_t now_ms);
/* Recovery after quiet time: true when this raised the effective budget. */
bool of_budget_tick(of_budget *b, int64_t now_ms);

/* A new limit (>= 1). A backoff in progress keeps its cut: raising the limit raises the
 * effective budget by the same amount, lowering it lowers the effective budget as much (floor
 * 1). Jobs already sent are never recalled. True when the limit changed. */
bool of_budget_set_limit(of_budget *b, int limit);

/* Automatic budget (octopus.task_budget 0): the limit is the server's task cap plus a headroom
 * that covers the time a slot is ours but not Octopus's. A job holds its slot from dispatch
 * until its final event reaches the producer; Octopus holds the task only from queued to
 * completed; in between the server's slot would idle. The headroom is
 *     ceil(cap x (outside + 4 x deviation) / run)
 * where outside is the slot time spent outside Octopus (travel to a worker and to Octopus, and
 * noticing the end), deviation its mean deviation (so the slow jobs' travel is covered too, not
 * only the average's) and run a task's execution time, all moving averages of what
 * of_budget_observe is given (gains 1/16 for the means, 1/8 for the deviation, as TCP's
 * retransmission timeout), bounded by max_pct percent of the cap
 * (octopus.task_budget_headroom). So Octopus's queue holds about as much of our work as covers
 * the notice time: one task for deployments of minutes, several caps' worth for deployments of
 * 200 ms. Before any observation the headroom is a quarter of the cap (within the bound).
 * Called again when the cap changes (octopus.task_cap_refresh); the averages are kept. */
void of_budget_auto(of_budget *b, int cap, int max_pct);
/* A finished job's times (automatic budget only; ignored otherwise or when not positive):
 * hold_ms = its slot's time (dispatch -> final event read), octopus_ms = Octopus's (task queued
 * -> completed), run_ms = execution (task started -> completed). True when the limit changed. */
bool of_budget_observe(of_budget *b, int64_t hold_ms, int64_t octopus_ms, int64_t run_ms);
/* The automatic budget's current headroom (0 when configured). */
int of_budget_headroom(const of_budget *b);
/* Appends " + headroom N, adapting up to P%" to rule (a NUL-terminated string in a buffer of
 * rule_size) when the budget is automatic; nothing otherwise. */
void of_budget_describe(const of_budget *b, char *rule, size_t rule_size);

int of_budget_limit(const of_budget *b);
int of_budget_effective(const of_budget *b);
size_t of_budget_in_use(const of_budget *b);
size_t of_budget_waiting(const of_budget *b);

#endif
