/* ofjson: the one set of jansson helpers behind the message codec (common/codec), the
 * Octopus client (common/octopus) and the notifier's message bodies (cli/notify.c): building
 * objects with one allocation flag, and reading fields with their type checked and a path in
 * every error.
 *
 * Ownership: the writers take the json_t they are given (json_object_set_new rules) and
 * oj_dump takes root; the readers return values borrowed from the object read (oj_get) or
 * new copies the caller frees (oj_strdup, oj_dup, oj_strv), or a pool's (oj_reader.pool).
 * Nothing here keeps state. */
#ifndef OF_OJSON_H
#define OF_OJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "strpool.h"

/* ---- building ----------------------------------------------------------
 * Every writer records an allocation failure in *bad (and a NULL value handed in, the trace
 * of an earlier one), so an encoder checks once, at oj_dump. */

/* o[key] = v, taking v even on failure. */
void oj_set(json_t *o, const char *key, json_t *v, bool *bad);
/* Sets key to a string when s is non-NULL (omitted otherwise). */
void oj_set_str(json_t *o, const char *key, const char *s, bool *bad);
/* Sets key to a string, or JSON null when s is NULL. */
void oj_set_str_or_null(json_t *o, const char *key, const char *s, bool *bad);
void oj_set_int(json_t *o, const char *key, int64_t v, bool *bad);
void oj_set_bool(json_t *o, const char *key, bool v, bool *bad);
/* Sets key to an RFC 3339 time when ms != 0 (omitted otherwise). */
void oj_set_time(json_t *o, const char *key, int64_t ms, bool *bad);
/* Appends v to arr, taking v even on failure. */
void oj_append(json_t *arr, json_t *v, bool *bad);
/* A new array of the n strings (a NULL item is written as ""); NULL and *bad on failure. */
json_t *oj_str_array(char *const *items, size_t n, bool *bad);
/* Dumps root compactly into a new malloc'd string (*out, the caller frees) and decrefs root.
 * OF_ERR_NOMEM when root is NULL, bad is set or the dump fails (*out = NULL). */
OF_MUST_CHECK of_err oj_dump(json_t *root, bool bad, char **out);

/* ---- writing text --------------------------------------------------------
 * The hot messages (a job, its state record, an event: each written for every job, some
 * several times) are written as text directly: the same bytes oj_dump gives for a tree built
 * with the setters above in the same order, without allocating a node per field. The writer
 * owns its buffer until ojw_finish hands the text over (or frees it on failure). As with the
 * setters, a failure (no memory, or a string that is not UTF-8, which json_string refuses
 * too) is recorded and reported once, at ojw_finish. key is NULL for an array's entries. */
typedef struct oj_writer {
    of_buf b;
    of_err rc;  /* the first failure; OF_OK so far */
    bool first; /* nothing written yet in the innermost object or array */
} oj_writer;

/* Starts the top-level object. */
void ojw_begin(oj_writer *w);
void ojw_object(oj_writer *w, const char *key); /* "key":{ */
void ojw_end_object(oj_writer *w);
void ojw_array(oj_writer *w, const char *key); /* "key":[ */
void ojw_end_array(oj_writer *w);
/* Like oj_set_str: omitted when s is NULL. */
void ojw_str(oj_writer *w, const char *key, const char *s);
void ojw_str_or_null(oj_writer *w, const char *key, const char *s);
void ojw_null(oj_writer *w, const char *key);
void ojw_int(oj_writer *w, const char *key, int64_t v);
void ojw_bool(oj_writer *w, const char *key, bool v);
/* Like oj_set_time: RFC 3339, omitted when ms is 0. */
void ojw_time(oj_writer *w, const char *key, int64_t ms);
/* Like oj_str_array: NULL entries are written as "". */
void ojw_strv(oj_writer *w, const char *key, char *const *items, size_t n);
/* Ends the top-level object and hands the text to *out (the caller frees). OF_ERR_NOMEM, or
 * OF_ERR_INVALID for a string that is not UTF-8; *out is then NULL and nothing is kept. */
OF_MUST_CHECK of_err ojw_finish(oj_writer *w, char **out);

/* ---- parsing -------------------------------------------------------------- */

/* json_loadb(data, len, JSON_REJECT_DUPLICATES, err), faster (common/json/ojparse.c): the same
 * tree for what jansson accepts, and jansson's own error (err) for what it refuses. A new
 * reference, or NULL. */
json_t *oj_parse(const char *data, size_t len, json_error_t *err);

/* Which members of an object to build: a list ended by a NULL name. sub NULL keeps the
 * member's whole value; otherwise sub applies to the value: to its members if it is an
 * object, to each element if it is an array (a scalar is kept as it is). Static tables. */
typedef struct oj_keep {
    const char *name;
    const struct oj_keep *sub;
} oj_keep;

/* oj_parse's tree pruned to keep (NULL: all of it) without building what keep leaves out;
 * the members left out are checked as strictly (what jansson refuses anywhere in the text
 * is refused, with jansson's error). */
json_t *oj_parse_keep(const char *data, size_t len, const oj_keep *keep, json_error_t *err);
/* Deletes from v, in place, what keep leaves out (NULL: nothing). */
void oj_prune(json_t *v, const oj_keep *keep);

/* ---- reading -------------------------------------------------------------
 * A reader keeps the first error: after it, r->rc is set, errstr says what and where, and
 * every later read does nothing and returns its default. One reader serves two audiences,
 * which word their errors differently (tests, docs/messages.md and operators read them):
 *
 *   OJ_MESSAGE  a message we define (a request, a job, an event), OF_ERR_INVALID:
 *               "policy.guided_failure: must be true or false", "stages[1][0].version: missing"
 *   OJ_REPLY    a server's reply (an Octopus resource), OF_ERR_PROTOCOL, naming the resource:
 *               "Task ServerTasks-1: field \"State\": expected a string, got null"
 *
 * path is the prefix of key in messages ("" or "policy."). */
typedef enum oj_style {
    OJ_MESSAGE = 0,
    OJ_REPLY,
} oj_style;

typedef struct oj_reader {
    of_err rc; /* the first error; OF_OK so far */
    char *errstr;
    size_t errstr_size;
    oj_style style;
    const char *kind; /* OJ_REPLY: the resource, "Task"; borrowed */
    const char *id;   /* OJ_REPLY: its id once read (NULL before); borrowed */
    /* NULL: the strings read (oj_dup, oj_strdup, oj_strv) are malloc'ed, the caller's to free.
     * Set: they are the pool's (interned: equal strings share one copy), never freed one by
     * one; only the arrays of oj_strv are malloc'ed. Borrowed. */
    of_strpool *pool;
} oj_reader;

/* A reader for a message we define. */
static inline oj_reader oj_reader_message(char *errstr, size_t errstr_size)
{
    return (oj_reader){OF_OK, errstr, errstr_size, OJ_MESSAGE, NULL, NULL, NULL};
}

/* A reader for a server's reply about a kind ("Task"); set r.id once the id is read. */
static inline oj_reader oj_reader_reply(const char *kind, char *errstr, size_t errstr_size)
{
    return (oj_reader){OF_OK, errstr, errstr_size, OJ_REPLY, kind, NULL, NULL};
}

/* Records rc and the message (printf) unless an error is already recorded. */
void oj_fail(oj_reader *r, of_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records an error about field path+key with the style's code and location:
 * "<path><key>: <text>" or "<kind>[ <id>]: field \"<path><key>\": <text>". */
void oj_fail_at(oj_reader *r, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records an out-of-memory error ("out of memory", "<kind>[ <id>]: out of memory"). */
void oj_nomem(oj_reader *r);

typedef enum oj_type {
    OJ_STRING,
    OJ_INTEGER,
    OJ_BOOLEAN,
    OJ_OBJECT,
    OJ_ARRAY,
} oj_type;

/* Records that field path+key (got, NULL when absent) is not of type t:
 * "<path><key>: must be a string" ("...: missing" when got is NULL or null), or
 * "...: field \"<key>\": expected a string, got a number" ("got nothing (missing)"). */
void oj_expected(oj_reader *r, const char *path, const char *key, oj_type t, const json_t *got);

/* o[key] when it is of type t: borrowed from o. NULL when it is absent or JSON null (an
 * error when required), of another type (an error) or after an earlier error. */
json_t *oj_get(oj_reader *r, json_t *o, const char *path, const char *key, oj_type t,
               bool required);
/* Checks that v (the value at path) is an object: "<path>: must be an object", or
 * "<kind>: expected a JSON object, got an array" ("got nothing" for NULL). */
bool oj_need_object(oj_reader *r, const json_t *v, const char *path);

/* A copy of s (the caller frees), or NULL and an out-of-memory error. */
char *oj_dup(oj_reader *r, const char *s);
/* A copy of the string field (the caller frees); NULL when absent or null (an error when
 * required) or on error. A string holding a NUL is copied up to it. */
char *oj_strdup(oj_reader *r, json_t *o, const char *path, const char *key, bool required);
/* An integer field in [min, max]; dflt when absent or null (an error when required). */
int64_t oj_int(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
               int64_t min, int64_t max, int64_t dflt);
/* A boolean field; dflt when absent or null. */
bool oj_bool(oj_reader *r, json_t *o, const char *path, const char *key, bool dflt);
/* An RFC 3339 timestamp field in ms since the epoch; dflt when absent or null.
 * "must be an RFC 3339 time" / "expected an ISO 8601 timestamp, got a string". */
int64_t oj_time(oj_reader *r, json_t *o, const char *path, const char *key, int64_t dflt);
/* The array of strings v (the value of field path+key; NULL or JSON null: none) as a new
 * owned array (*items, *n; free with of_strv_free). max_n > 0 caps the entries ("more than N
 * entries"); max_len > 0 caps each string and refuses one holding a NUL. On error *items is
 * NULL and *n 0. */
void oj_strv(oj_reader *r, json_t *v, const char *path, const char *key, size_t max_n,
             size_t max_len, char ***items, size_t *n);

#endif
