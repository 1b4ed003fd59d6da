/* The Octopus Deploy simulator, embeddable in-process (`ofsim`).
 *
 * A fake Octopus Server for tests and the demo: it serves the subset of the
 * Octopus REST API that octofleet uses (spaces, projects, environments,
 * tenants, releases, deployment templates, deployments, tasks), models
 * lifecycles per tenant, runs deployments through a task engine with a task
 * cap, and offers admin endpoints under /sim/ for fault injection and
 * inspection. docs/octopus.md ("The simulator") describes the behaviour and
 * the fixture format; tests/fixtures/ holds ready-made worlds.
 *
 * Threading: the simulator runs its own threads (one HTTP listener thread,
 * one thread per connection, one task-engine thread). Every function here is
 * safe to call from any thread while the simulator runs. */
#ifndef OFSIM_H
#define OFSIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct ofsim ofsim;

typedef struct ofsim_opts {
    const char *bind_addr;     /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
    uint16_t port;             /* 0 = an ephemeral port (read it back with ofsim_port) */
    const char *fixture_path;  /* world fixture file; exactly one of path/json must be set */
    const char *fixture_json;  /* or the fixture as a JSON string */
    const char *tls_cert_path; /* PEM; both cert and key set = serve HTTPS */
    const char *tls_key_path;
    int task_cap;  /* <= 0: the fixture's "task_cap", else 5 */
    uint64_t seed; /* 0: the fixture's "seed", else 1 */
    /* Extra API keys with rights on every space, in addition to the fixture's
     * (NULL-terminated array, may be NULL). Copied. */
    const char *const *api_keys;
    int quiet; /* non-zero: do not log each request at debug level */
    /* Non-zero: every rendered text the simulator keeps between requests is compared with a fresh
     * rendering each time it is served, and a difference aborts the process (tests; slower). */
    int check_texts;
} ofsim_opts;

/* Loads the fixture, binds the listener and starts the simulator's threads.
 * opts and everything it points to are borrowed for the duration of the call
 * only (strings are copied). On success *out owns a running simulator, to be
 * released with ofsim_stop. On failure *out is NULL and errstr says why; a
 * fixture error names the JSON path ("spaces[0].projects[2].lifecycle: ...").
 * Returns OF_ERR_CONFIG (bad fixture/options), OF_ERR_IO (unreadable file or
 * cannot bind), OF_ERR_NOMEM. */
OF_MUST_CHECK of_err ofsim_start(const ofsim_opts *opts, ofsim **out, char *errstr,
                                 size_t errstr_size);

/* The port actually bound (useful with port 0). */
uint16_t ofsim_port(const ofsim *sim);

/* Base URL such as "http://127.0.0.1:40123" (no trailing slash; "https://"
 * when TLS is on). Borrowed: valid until ofsim_stop. */
const char *ofsim_url(const ofsim *sim);

/* Stops the listener and the task engine, then frees everything. NULL is a
 * no-op. In-flight requests are finished or dropped first. */
void ofsim_stop(ofsim *sim);

/* Calls an admin endpoint in-process, exactly as `METHOD /sim/...` over HTTP
 * would (see docs/octopus.md, "Admin endpoints"), without a network round
 * trip. path is e.g. "/sim/faults" or "/sim/tasks?state=Executing"; body is
 * a JSON string or NULL. On return *status holds the HTTP status and, if
 * response is not NULL, *response a new NUL-terminated JSON string the caller
 * frees (free()). Returns OF_OK whenever the call was dispatched (inspect
 * *status), OF_ERR_INVALID for a path outside /sim/, OF_ERR_NOMEM. */
OF_MUST_CHECK of_err ofsim_admin(ofsim *sim, const char *method, const char *path, const char *body,
                                 int *status, char **response);

/* Convenience wrappers over the admin endpoints, for C tests. */

/* Sets the task cap (>= 1); applies at once (queued tasks start if room). */
OF_MUST_CHECK of_err ofsim_set_task_cap(ofsim *sim, int task_cap);

/* Adds a fault, given as the JSON object POST /sim/faults takes. */
OF_MUST_CHECK of_err ofsim_add_fault(ofsim *sim, const char *fault_json);

/* Removes every fault. */
void ofsim_clear_faults(ofsim *sim);

/* Requests served so far whose route pattern equals `route` (for example
 * "GET /api/{space}/tasks"); NULL = all requests, including /sim/ ones. */
long ofsim_request_count(ofsim *sim, const char *route);

/* Number of tasks currently in `state` ("Queued", "Executing", ...). */
int ofsim_task_count(ofsim *sim, const char *state);

/* The most tasks created with api_key that were Queued, Executing or
 * Cancelling at once since start, reset or ofsim_task_peak_reset (as GET
 * /sim/task-peaks reports it); -1 for a key the simulator does not know. */
int ofsim_task_peak(ofsim *sim, const char *api_key);

/* Starts a new peak measurement: every key's peak becomes its live count
 * (DELETE /sim/task-peaks). */
void ofsim_task_peak_reset(ofsim *sim);

/* Forgets created deployments, tasks, stats and faults (POST /sim/reset). */
void ofsim_reset(ofsim *sim);

#endif
