/* Maintenance windows of one release (policy.windows, docs/requests.md): the request's windows
 * with their time zones loaded, and when a job may start.
 *
 * The planner gives each tenanted job the first window whose tag its tenant carries
 * (of_job_record.window, 1-based; 0 = none, and untenanted jobs never have one). The producer's
 * task budget sends a held job only while its window is open (producer_decide.c); `plan` and
 * `status` show when a waiting job's window opens. Pure: the caller passes the clock.
 * An of_windows is immutable once built, so threads may share it. */
#ifndef OF_WINDOWS_H
#define OF_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

typedef struct of_windows of_windows;

/* Copies pol's windows and loads their zones. *out is NULL when pol has no window (nothing to
 * free; every function below accepts NULL as "no windows"). OF_ERR_NOT_FOUND / OF_ERR_INVALID
 * when a zone cannot be loaded (errstr says which), OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_windows_new(const of_policy *pol, of_windows **out, char *errstr,
                                    size_t errstr_size);
/* The same from a request's JSON text (a release header's request_json; NULL = none). */
OF_MUST_CHECK of_err of_windows_from_request(const char *request_json, of_windows **out,
                                             char *errstr, size_t errstr_size);
void of_windows_free(of_windows *ws);

size_t of_windows_count(const of_windows *ws);
/* Window w (1-based; borrowed), or NULL when out of range. */
const of_window *of_windows_get(const of_windows *ws, int w);

/* When a job of window w may start: now_ms while it is open (and for w 0 or out of range), else
 * the next opening. */
int64_t of_windows_next(const of_windows *ws, int w, int64_t now_ms);

/* "Region/APAC 22:00-04:00 Australia/Sydney" and, when closed at now_ms, ", opens
 * 2026-12-06T11:00:00Z (2026-12-06T22:00:00+11:00)"; "open" otherwise. Into out (cut to
 * out_size); "" for no window. Returns out. */
char *of_windows_describe(const of_windows *ws, int w, int64_t now_ms, char *out, size_t out_size);

#endif
