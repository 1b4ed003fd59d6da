/* The message codec: every JSON octofleet reads or writes goes through here.
 *
 * This is the only module (with the Octopus client and the simulator) that includes
 * <jansson.h>; callers see the plain structs of common/codec/model.h. Everything here is
 * pure: no I/O, no clocks except where a caller passes a time in.
 *
 * Conventions
 * - Encoders return a new NUL-terminated compact JSON string in *out that the caller
 *   frees with free(); on error *out is NULL.
 * - Decoders take (data, len) straight from Kafka (not NUL-terminated, len bytes),
 *   refuse more than OF_MSG_MAX_SIZE bytes, and fill a caller-owned struct which the
 *   caller releases with the matching of_*_clear() - also after a failed decode (it is
 *   safe: a failed decode leaves the struct cleared). Every string is copied out of
 *   jansson before its object is freed.
 * - Errors: OF_ERR_INVALID for bad input (with a reason in errstr that names the field
 *   path, e.g. "stages[1][0].version: missing", fit to be a DLQ reason),
 *   OF_ERR_PROTOCOL for an unknown schema major version, OF_ERR_TOO_LARGE for oversized
 *   input, OF_ERR_NOMEM.
 * - Thread-safe: no shared state. */
#ifndef OF_MSG_H
#define OF_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

/* Largest message we decode: Kafka's default message.max.bytes. */
#define OF_MSG_MAX_SIZE (1024u * 1024u)

/* Caps on strings, in bytes, enforced by every decoder (so by the daemons) and by the CLI
 * before it sends (docs/reliability.md has the table). They keep every message octofleet
 * derives from an input (events, state records, DLQ headers) far inside the size budget.
 * Names (release, stage, project, environment, tenant, space, version) and `by` also refuse
 * control characters (C0, DEL and C1), which could forge log lines or terminal output. */
#define OF_NAME_MAX   256  /* any name */
#define OF_BY_MAX     256  /* who sent a command */
#define OF_REASON_MAX 1024 /* an operator's reason */
#define OF_TEXT_MAX   4096 /* any other string: event messages, Octopus ids and links */
/* Errors listed in one release.rejected event; more are counted in a last "(+N more)". */
#define OF_EVENT_ERRORS_MAX 100
/* Entries of any list in a message (replay filters, errors[]). */
#define OF_LIST_MAX 10000

/* True if s[0..len) holds a control character: C0, DEL, or a C1 control (U+0080..U+009F,
 * UTF-8 0xC2 0x80..0x9F), or a NUL before len. */
bool of_has_ctrl(const char *s, size_t len);

/* The longest prefix of s (NUL-terminated) of at most max bytes that does not split a UTF-8
 * sequence, so a cut string stays valid JSON text. */
size_t of_utf8_prefix(const char *s, size_t max);
/* A new string holding of_utf8_prefix(s, max) bytes of s; NULL on allocation failure. */
char *of_utf8_strndup(const char *s, size_t max);

/* Checks one string against a cap and (names) control characters; OF_OK, or OF_ERR_INVALID
 * with "<what>: longer than N bytes" / "<what>: contains control characters" in errstr. NULL s
 * is OK. For the CLI, which checks what it is about to send with the decoders' rules. */
OF_MUST_CHECK of_err of_check_text(const char *what, const char *s, size_t max, bool name,
                                   char *errstr, size_t errstr_size);

/* ---------------------------------------------------------------------------------- */
/* Names of enum values (stable wire strings). _name() returns a static string ("?" if
 * out of range); _parse() returns 0 and sets *out, or -1 if the name is unknown.      */

const char *of_job_status_name(of_job_status s); /* "pending", ..., "timed_out" */
int of_job_status_parse(const char *name, of_job_status *out);
const char *of_stage_status_name(of_stage_status s); /* "pending", "running", ... */
int of_stage_status_parse(const char *name, of_stage_status *out);
const char *of_release_status_name(of_release_status s); /* "running", "paused", ... */
int of_release_status_parse(const char *name, of_release_status *out);
const char *of_tenanted_mode_name(of_tenanted_mode m); /* Octopus' "Untenanted", ... */
int of_tenanted_mode_parse(const char *name, of_tenanted_mode *out);
const char *of_condition_name(of_condition c); /* "always", "if-not-current" */
const char *of_cmd_type_name(of_cmd_type t);   /* "submit", "replay", ..., "guide" */
int of_cmd_type_parse(const char *name, of_cmd_type *out);
const char *of_guidance_name(of_guidance g); /* "retry", "ignore", "abort" */
int of_guidance_parse(const char *name, of_guidance *out);
/* Full CloudEvents type: "octofleet.job.succeeded". */
const char *of_event_type_name(of_event_type t);
int of_event_type_parse(const char *name, of_event_type *out);
/* The outcome a final job event reports: "succeeded", "failed", "cancelled", "timed_out",
 * "skipped"; NULL for any other type (the metrics' outcome label, docs/monitoring.md). */
const char *of_event_outcome(of_event_type t);

/* Terminal job states: succeeded, failed, skipped, cancelled, timed_out. */
bool of_job_status_is_terminal(of_job_status s);
/* States that stop a release (on_failure = pause): failed, cancelled, timed_out. */
bool of_job_status_is_failure(of_job_status s);
/* The job status a job event reports (job.dispatched -> dispatched, ..., job.timed_out ->
 * timed_out; job.answered -> started: the task runs on) into *st; false (and *st untouched)
 * for an event that is not about a job. */
bool of_event_job_status(of_event_type t, of_job_status *st);
/* States that let the next stage start: succeeded, skipped. */
bool of_job_status_is_done_ok(of_job_status s);

/* ---------------------------------------------------------------------------------- */
/* An error list: validation and resolution collect every problem, not only the first. */

typedef struct of_errlist {
    char **items; /* owned */
    size_t n;
    size_t cap;
    size_t dropped; /* items beyond OF_ERRLIST_MAX, counted but not stored */
} of_errlist;

#define OF_ERRLIST_MAX 1000

/* A zeroed of_errlist is valid and empty. */
void of_errlist_init(of_errlist *l);
/* Appends a formatted message. OF_ERR_NOMEM on allocation failure. */
OF_MUST_CHECK of_err of_errlist_add(of_errlist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Joins items with sep into errstr (truncated to fit; adds "(+N more)" if dropped). */
void of_errlist_join(const of_errlist *l, const char *sep, char *errstr, size_t errstr_size);
/* True if some item contains needle (tests). */
bool of_errlist_contains(const of_errlist *l, const char *needle);
/* Frees the items (l itself is the caller's); l is then empty and may be reused. */
void of_errlist_clear(of_errlist *l);

/* ---------------------------------------------------------------------------------- */
/* Release request. */

/* Parses and validates (schema only: names are resolved by producer/plan.h) the request
 * in json[0..len). On success returns OF_OK and *out is a new request the caller frees
 * with of_request_free. On invalid input returns OF_ERR_INVALID, *out = NULL, and
 * appends every problem found to errs (one item per problem, each starting with the
 * field path: "environments: must be a non-empty array"); errs must be initialised. */
OF_MUST_CHECK of_err of_request_parse(const char *json, size_t len, of_request **out,
                                      of_errlist *errs);

/* Canonical compact JSON of a request (object form of stages, policy in full). Parsing
 * the result gives an equal request. */
OF_MUST_CHECK of_err of_request_encode(const of_request *req, char **out);

void of_request_free(of_request *req);

/* What `octofleet hotfix` asks for: one project at version, only where from is current
 * (of_stage_entry.from). environments / tenant names / space override the train's (like); a
 * NULL list keeps like's (or, without like, environments are required and tenants are "all"). */
typedef struct of_hotfix {
    const char *project, *version, *from;
    const char *release;       /* NULL: "hotfix <project> <version>" */
    const char *space;         /* NULL: like's, else "Default" */
    char *const *environments; /* NULL: like's */
    size_t n_environments;
    char *const *tenant_names; /* NULL: like's tenants, else "all" */
    size_t n_tenant_names;
    int priority;
} of_hotfix;

/* The hotfix train's request: like's (may be NULL) space, environments, tenants and policy,
 * one stage with h's project entry, h's release name and priority. Validated as any request:
 * OF_ERR_INVALID with errs filled (paths as in a request file). *out is freed with
 * of_request_free. */
OF_MUST_CHECK of_err of_request_hotfix(const of_request *like, const of_hotfix *h, of_request **out,
                                       of_errlist *errs);

/* A release request drafted from another tool's train (`octofleet import`, docs/migration.md).
 * Everything is borrowed. An entry's condition is -1 for none (the policy's) or an
 * of_condition. The notes are written as the top-level annotation notes_key ("x-import-notes"),
 * first, so a reader sees them before the train. */
typedef struct of_draft_entry {
    const char *project, *version;
    int condition;
} of_draft_entry;
typedef struct of_draft_stage {
    const char *name; /* NULL: a bare array */
    const of_draft_entry *entries;
    size_t n_entries;
} of_draft_stage;
typedef struct of_draft {
    const char *notes_key; /* NULL: no notes */
    const char *const *notes;
    size_t n_notes;
    const char *release, *space;
    const char *const *environments;
    size_t n_environments;
    bool tenants_all; /* "all"; else names and tags (none at all: no "tenants") */
    const char *const *tenant_names;
    size_t n_tenant_names;
    const char *const *tenant_tags;
    size_t n_tenant_tags;
    const of_draft_stage *stages;
    size_t n_stages;
} of_draft;

/* d as the text of a release request, indented for people to read and edit (*out, the caller
 * frees). Not validated: of_request_parse the text to know it is a valid request. */
OF_MUST_CHECK of_err of_request_draft_encode(const of_draft *d, char **out);

/* ---------------------------------------------------------------------------------- */
/* Jobs (stage topics; "schema": "octofleet.job/1"). */

OF_MUST_CHECK of_err of_job_encode(const of_job *job, char **out);
/* Rejects: not JSON, not an object, missing/unknown-major "schema", missing required
 * fields (job_id, release_id, stage, attempt, space.id, project.id, release.id,
 * environment.id), wrong types, ids that are not UUIDs. The reason names the field. */
OF_MUST_CHECK of_err of_job_decode(const char *data, size_t len, of_job *out, char *errstr,
                                   size_t errstr_size);
/* Deep copy into dst (which is overwritten, not freed first). */
OF_MUST_CHECK of_err of_job_copy(of_job *dst, const of_job *src);
/* Frees the owned fields and zeroes *job (the struct itself is the caller's). */
void of_job_clear(of_job *job);

/* ---------------------------------------------------------------------------------- */
/* Events (CloudEvents 1.0 JSON, structured mode: Kafka header content-type =
 * OF_CE_CONTENT_TYPE, value = the event). */

/* Sets ev->id deterministically from the event's content (see docs/messages.md):
 *   job.*           UUIDv5("<job_id>/<attempt>/<type>")
 *   stage.*         UUIDv5("<release_id>/<round>/<stage>/<environment>/<type>")
 *   release.accepted UUIDv5("<release_id>/<type>")   (a release is accepted once)
 *   release.rejected UUIDv5("<release_id>/<type>/<time_ms>")  (time of the submit command)
 *   command.ignored UUIDv5("<release_id>/<type>/<time_ms>")  (time of the command)
 *   release.held/unheld UUIDv5("<release_id>/<type>/<time_ms>")  (when the hold started)
 *   other release.* UUIDv5("<release_id>/<round>/<type>")
 * so a producer that redoes a decision after a crash emits the same id. */
void of_event_set_id(of_event *ev);

/* Encodes as a CloudEvent. Requires type, source and release_id; fills id (via
 * of_event_set_id) if empty, subject if NULL ("<release_id>" or "<release_id>/<job_id>")
 * in the output only (ev is const). time_ms 0 encodes no `time`. */
OF_MUST_CHECK of_err of_event_encode(const of_event *ev, char **out);
/* Decodes a CloudEvent; requires specversion "1.0", id, source, a known octofleet type
 * and data.release_id. Unknown extra attributes and data fields are ignored. */
OF_MUST_CHECK of_err of_event_decode(const char *data, size_t len, of_event *out, char *errstr,
                                     size_t errstr_size);
/* Whether data is an event the producer wrote, read from the bytes of_event_encode lays down
 * first ({"specversion":"1.0","id":"<uuid>","source":"octofleet/producer"...) without
 * decoding: the producer reads its own events back and ignores them, and decoding them was a
 * sixth of its CPU. False for anything else, including a producer event in another layout
 * (the caller then decodes it as any other). */
bool of_event_is_producers(const char *data, size_t len);
void of_event_clear(of_event *ev);
void of_job_ref_clear(of_job_ref *r);

/* ---------------------------------------------------------------------------------- */
/* Operator commands ("schema": "octofleet.command/1"). */

OF_MUST_CHECK of_err of_command_encode(const of_command *cmd, char **out);
/* Requires type and by; release_id for replay/resume/abort; request for submit (kept as
 * compact JSON in request_json, NOT validated here - see of_command). */
OF_MUST_CHECK of_err of_command_decode(const char *data, size_t len, of_command *out, char *errstr,
                                       size_t errstr_size);
void of_command_clear(of_command *cmd);
/* Checks the caps the decoder applies (by, reason, replay filters) on a command about to be
 * encoded: OF_ERR_INVALID with the field and the limit in errstr. */
OF_MUST_CHECK of_err of_command_check(const of_command *cmd, char *errstr, size_t errstr_size);

/* ---------------------------------------------------------------------------------- */
/* State records for the compacted state topic. */

/* Keys: "release/<release_id>" and "job/<release_id>/<job_id>". Write into out (>= 96
 * bytes is always enough) and return out. */
char *of_release_record_key(const char *release_id, char *out, size_t out_size);
char *of_job_record_key(const char *release_id, const char *job_id, char *out, size_t out_size);

OF_MUST_CHECK of_err of_release_record_encode(const of_release_record *r, char **out);
OF_MUST_CHECK of_err of_release_record_decode(const char *data, size_t len, of_release_record *out,
                                              char *errstr, size_t errstr_size);
void of_release_record_clear(of_release_record *r);

OF_MUST_CHECK of_err of_job_record_encode(const of_job_record *r, char **out);
OF_MUST_CHECK of_err of_job_record_decode(const char *data, size_t len, of_job_record *out,
                                          char *errstr, size_t errstr_size);
void of_job_record_clear(of_job_record *r);

/* ---------------------------------------------------------------------------------- */
/* The plan view (`octofleet plan --json`): the release header, every job row (status
 * pending or skipped with its reason) and the planner's warnings. */
OF_MUST_CHECK of_err of_plan_json_encode(const of_release_record *hdr, const of_job_record *jobs,
                                         size_t n_jobs, const of_errlist *warnings, char **out);

/* The Comments a job's deployment carries, and the key that finds it again:
 *   comments  "octofleet job <job_id> attempt <n>; release <name> stage <s>[ (<stage name>)]"
 *   key       "<job_id> attempt <n>;"
 * The ';' ends the attempt number, so attempt 1's key never matches attempt 10's comment.
 * The worker writes the comments and adopts by the key; the producer's resume finds a job's
 * deployment by the same key. Both write into out (truncating) and return out. */
char *of_job_dedupe_key(const char *job_id, int attempt, char *out, size_t out_size);
char *of_job_comments(const char *job_id, int attempt, const char *release_name, int stage,
                      const char *stage_name, char *out, size_t out_size);

/* The status view (`octofleet status --json`): the release (status, round, last operator
 * action), every (stage, environment) with its gate status and job counts per status, and
 * every job with its status, attempt, Octopus ids and message (Octopus's error for failed
 * jobs, the reason for skipped ones). A new string the caller frees. */
OF_MUST_CHECK of_err of_status_json_encode(const of_release_record *hdr, const of_job_record *jobs,
                                           size_t n_jobs, char **out);

/* One release of `octofleet list --json`: {release, release_id, status, round, jobs,
 * counts{<job status>: n}, updated, by} from its state record. A new string the caller
 * frees. */
OF_MUST_CHECK of_err of_list_json_encode(const of_release_record *r, char **out);

/* ---------------------------------------------------------------------------------- */
/* Raw Kafka messages as JSON lines, for `octofleet topic dump|produce` (which prints any
 * topic's messages as they are, without decoding octofleet's). Everything is borrowed. */

typedef struct of_dump_header {
    const char *name;
    const void *value; /* NULL: a null header value */
    size_t value_len;
} of_dump_header;

typedef struct of_dump_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: a tombstone */
    size_t value_len;
    const of_dump_header *headers; /* in wire order */
    size_t nheaders;
} of_dump_message;

/* One line, without the newline:
 * {"topic","partition","offset","timestamp_ms","key","headers","value"}. key and value are
 * JSON strings, null when absent; bytes that are not UTF-8 give "key"/"value" null and
 * "key_base64"/"value_base64" (RFC 4648) after it, so nothing is lost and the line stays valid
 * JSON. headers is an object: a repeated name keeps its last value, a name that is not UTF-8 is
 * left out, a value that is not UTF-8 is given in base64. A new string the caller frees. */
OF_MUST_CHECK of_err of_dump_line_encode(const of_dump_message *m, char **out);

/* {"topic","partition","offset"} of a delivered message, without the newline. A new string
 * the caller frees. */
OF_MUST_CHECK of_err of_delivery_line_encode(const char *topic, int32_t partition, int64_t offset,
                                             char **out);

/* ---------------------------------------------------------------------------------- */
/* Small helpers for callers building these structs. */

/* strdup that accepts NULL (returns NULL). Sets *err to OF_ERR_NOMEM on failure if err. */
char *of_strdup_or_null(const char *s, of_err *err);
/* Copies src into a fixed id field (truncating safely). */
void of_id_copy(char dst[OF_UUID_STR_SIZE], const char *src);

#endif
