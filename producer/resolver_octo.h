/* The planner's questions (producer/plan.h, of_resolver) answered by the Octopus REST client.
 *
 * Blocking: every callback drives the client (common/octopus/octopus.h, blocking twins) until its
 * answer is in, so this is for the producer's planning step, which runs before any Kafka
 * transaction begins (a slow Octopus must not hold a transaction open).
 *
 * Caching. The client caches name -> resource lookups (space, project, environment, tenant,
 * release) for its whole life. This module adds what the client deliberately does not cache
 * because it changes as releases progress, and keeps it for ONE plan only:
 *   - the deployment template of each release (can_deploy),
 *   - the tenants connected to each project (tenants_connected: one listing per project,
 *     filtered per environment here instead of one listing per project x environment),
 *   - whether each tag exists (tenants_by_tag).
 * Call of_resolver_octo_reset() before each plan so the next plan sees fresh answers.
 *
 * Semantics beyond plan.h:
 *   - a disabled project is OF_ERR_REJECTED ("project X is disabled in Octopus");
 *   - disabled tenants are never "connected" (Octopus cannot deploy to them), so an explicitly
 *     named disabled tenant is planned as skipped and tag/all matches leave it out;
 *   - is_current: the target's latest successful deployment of the project is this release.
 *
 * Not thread-safe (nor is the client): one resolver per client, one thread. */
#ifndef OF_RESOLVER_OCTO_H
#define OF_RESOLVER_OCTO_H

#include "err.h"
#include "octopus.h"
#include "plan.h"

typedef struct of_resolver_octo of_resolver_octo;

/* Creates a resolver on top of client (borrowed: must outlive the resolver; the resolver
 * only makes blocking calls on it). *out is a new resolver the caller frees with
 * of_resolver_octo_free. */
of_err of_resolver_octo_new(of_octo *client, of_resolver_octo **out);

/* Frees the per-plan caches and the resolver. NULL is a no-op. */
void of_resolver_octo_free(of_resolver_octo *r);

/* Forgets the per-plan caches (templates, connected tenants, tags). */
void of_resolver_octo_reset(of_resolver_octo *r);

/* Fills res with this resolver's callbacks (res->opaque = r). */
void of_resolver_octo_bind(of_resolver_octo *r, of_resolver *res);

/* The fleet's task budget before any headroom (docs/gating.md, "The task budget"): configured
 * (octopus.task_budget > 0) is taken as it is; 0 is automatic: the server's task cap, the sum of
 * MaxConcurrentTasks over the nodes that are not in maintenance mode (GET
 * /api/octopusservernodes, blocking on client), or OF_BUDGET_DEFAULT (20) with a warning when
 * that is refused, fails or sums to 0. *out >= 1, and rule (a short text, no quotes or
 * backslashes) says how it was found. Returns false when the automatic budget fell back to the
 * default (the server's cap is unknown). An automatic budget adds headroom to *out
 * (of_budget_auto). */
bool of_task_budget_resolve(of_octo *client, int configured, int *out, char *rule,
                            size_t rule_size);

#endif
