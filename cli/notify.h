/* The notifier's decisions, without I/O on Kafka or HTTP (cli/cmd_notify.c does those): a
 * release's state -> one summary -> the text and the JSON body of its chat message; the reply
 * that names the created message; when to send (coalescing) and what to do after an attempt
 * (retry with backoff, give up); the small state file of message ids. Tested table-driven in
 * tests/unit/test_notify.c. Design: docs/operations.md, "Notifications". */
#ifndef OF_CLI_NOTIFY_H
#define OF_CLI_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "httpc.h"
#include "model.h"

/* Failed jobs listed in one message; the rest are counted ("+N more"). */
#define OF_NOTIFY_MAX_FAILED 10
/* A message id as the receiver gave it (Slack: "<channel>/<ts>"), at most this many bytes. */
#define OF_NOTIFY_ID_MAX 200

typedef struct of_notify_failed {
    int stage;
    const char *project, *environment, *tenant; /* borrowed; tenant NULL = untenanted */
    of_job_status status;
    const char *message; /* Octopus's error, borrowed, may be NULL */
} of_notify_failed;

/* What one message says about a release. Strings borrowed from the records summarised. */
typedef struct of_notify_summary {
    const char *release_name, *release_id;
    of_release_status status;
    const char *held; /* the fleet holds on Octopus's trouble: why; NULL otherwise */
    int stage;        /* the stage under way (1-based): the first not yet passed everywhere */
    int stage_count;
    const char *stage_name; /* of that stage, may be NULL */
    int total, done, succeeded, failed, skipped;
    of_notify_failed failed_jobs[OF_NOTIFY_MAX_FAILED];
    size_t n_failed_jobs; /* listed */
    int more_failed;      /* failed but not listed */
} of_notify_summary;

/* Summarises a release record and its job records (borrowed; out borrows from them). */
void of_notify_summarize(const of_release_record *r, const of_job_record *jobs, size_t n,
                         of_notify_summary *out);

/* The message as plain text (lines separated by '\n', no trailing newline), appended to out:
 *   Release 2026.18: running, stage 2 of 3 (services)
 *   Jobs: 12/40 done (11 succeeded, 1 failed, 0 skipped)
 *   Failed: stage 2 Billing / Hosted Beta / Contoso (failed): disk full
 * Values from the fleet are cut to a few hundred bytes and their control characters replaced. */
OF_MUST_CHECK of_err of_notify_text(const of_notify_summary *s, of_buf *out);

/* The JSON body of a create (id NULL) or an update of message id, for cfg's mode and format
 * (config.h): Slack {"text", "blocks"} (+ "channel", and "ts" for chat.update), Teams {"text",
 * "attachments": [Adaptive Card]}; in mode webhook also "octofleet": {release_id, release,
 * status, stage, stage_count, counts}. *out is a new string the caller frees. */
OF_MUST_CHECK of_err of_notify_body(const of_notify_summary *s, const of_config_notify *cfg,
                                    const char *id, char **out);

/* Reads the id of the message a create made from the receiver's 2xx reply: mode slack
 * {"ok": true, "channel": C, "ts": T} -> "C/T" ({"ok": false, "error": E} -> OF_ERR_REJECTED
 * quoting E); mode webhook {"id": "..."} or {"id": 123} -> that; a reply without one ->
 * OF_ERR_NOT_FOUND (the receiver cannot be updated). An id with a space, a control character
 * or longer than OF_NOTIFY_ID_MAX is OF_ERR_PROTOCOL. id holds OF_NOTIFY_ID_MAX + 1 bytes. */
OF_MUST_CHECK of_err of_notify_parse_created(of_notify_mode mode, const char *body, size_t len,
                                             char *id, char *errstr, size_t errstr_size);

/* The URL of a create or (id set) an update: webhook "<url>" / "<url>/<id, percent-encoded>";
 * slack "<url>/chat.postMessage" / "<url>/chat.update". Appended to out. */
OF_MUST_CHECK of_err of_notify_url(of_notify_mode mode, const char *url, const char *id,
                                   of_buf *out);

/* ---- when to send --------------------------------------------------------------------- */

/* One release's sending state (monotonic ms). */
typedef struct of_notify_timing {
    bool dirty;        /* changed since the last send that succeeded (or was given up) */
    int64_t last_sent; /* when the last send succeeded; 0 = never */
    int attempts;      /* failed attempts of the send under way; 0 = none */
    int64_t first_try; /* when the send under way first tried */
    int64_t retry_at;  /* not before this (backoff); 0 = no backoff */
} of_notify_timing;

/* When the release may be sent: INT64_MAX when nothing changed; else the later of
 * last_sent + min_interval (coalescing: the changes in between go out together) and retry_at. */
int64_t of_notify_due_at(const of_notify_timing *t, int64_t min_interval_ms);

typedef enum of_notify_next {
    OF_NOTIFY_SENT = 0, /* done: clean until the next change */
    OF_NOTIFY_RETRY,    /* try again at t->retry_at */
    OF_NOTIFY_GIVE_UP,  /* a permanent error, or the retry deadline would pass: dropped */
} of_notify_next;

/* Records an attempt that ended with action at now and decides what follows: success clears
 * dirty; a retryable failure waits of_http_retry_delay (Retry-After honoured) unless that
 * passes first_try + deadline_ms, then gives up; a permanent one gives up. Giving up clears
 * dirty (the next change tries again) and the attempt count. */
of_notify_next of_notify_after(of_notify_timing *t, of_http_action action, int64_t retry_after_ms,
                               int64_t now, int64_t deadline_ms, uint64_t *rnd);

/* ---- the state file: message ids per release ------------------------------------------ */

typedef struct of_notify_entry {
    char release_id[OF_UUID_STR_SIZE];
    char id[OF_NOTIFY_ID_MAX + 1];
    int64_t wall_ms; /* when it was created */
} of_notify_entry;

typedef struct of_notify_ids {
    of_notify_entry *items; /* owned */
    size_t n, cap;
} of_notify_ids;

/* Entries older than this are dropped when the file is written. */
#define OF_NOTIFY_KEEP_MS (30LL * 24 * 3600 * 1000)

/* Reads path ("octofleet-notify/1" then "<release_id> <id> <wall ms>" lines) into ids (empty
 * first). A missing file is an empty table; a malformed line is skipped with a warning. Errors:
 * OF_ERR_IO (unreadable), OF_ERR_TOO_LARGE (over 64 MiB), OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_notify_ids_load(of_notify_ids *ids, const char *path, char *errstr,
                                        size_t errstr_size);
/* Writes ids to path atomically (path.tmp, fsync, rename), leaving out entries older than
 * OF_NOTIFY_KEEP_MS before now_wall_ms. */
OF_MUST_CHECK of_err of_notify_ids_save(const of_notify_ids *ids, const char *path,
                                        int64_t now_wall_ms, char *errstr, size_t errstr_size);
/* The id kept for release_id, borrowed; NULL if none. */
const char *of_notify_ids_get(const of_notify_ids *ids, const char *release_id);
/* Sets (adds or replaces) release_id's id. OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_notify_ids_put(of_notify_ids *ids, const char *release_id, const char *id,
                                       int64_t wall_ms);
/* Forgets release_id's id (the receiver lost the message: the next send creates one). */
void of_notify_ids_del(of_notify_ids *ids, const char *release_id);
void of_notify_ids_clear(of_notify_ids *ids);

#endif
