/* Internal to the codec (common/msg*.c): jansson helpers. Nothing outside common/msg*.c
 * includes this file, so jansson stays behind the codec. */
#ifndef OF_MSG_JSON_H
#define OF_MSG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

/* Builder: collects allocation failures in *bad so encoders check once at the end. */
void oj_set(json_t *o, const char *key, json_t *v, bool *bad);
/* Sets key to a string when s is non-NULL (omitted otherwise). */
void oj_set_str(json_t *o, const char *key, const char *s, bool *bad);
/* Sets key to a string, or JSON null when s is NULL. */
void oj_set_str_or_null(json_t *o, const char *key, const char *s, bool *bad);
void oj_set_int(json_t *o, const char *key, int64_t v, bool *bad);
void oj_set_bool(json_t *o, const char *key, bool v, bool *bad);
/* Sets key to an RFC 3339 time when ms != 0. */
void oj_set_time(json_t *o, const char *key, int64_t ms, bool *bad);
/* {"id":..,"name":..}; extra may add fields (tenanted, version naming). */
json_t *oj_ref(const of_ref *r, const char *name_key, bool *bad);
json_t *oj_str_array(char *const *items, size_t n, bool *bad);
void oj_append(json_t *arr, json_t *v, bool *bad);

/* Dumps compactly into a new malloc'd string; decrefs root. */
OF_MUST_CHECK of_err oj_dump(json_t *root, bool bad, char **out);

/* Loads data[0..len) with the size cap; on failure fills errstr with a reason. */
OF_MUST_CHECK of_err oj_load(const char *data, size_t len, json_t **out, char *errstr,
                             size_t errstr_size);

/* Reader with first-error semantics: after the first problem, rd->rc is set and errstr
 * names the field; later calls do nothing and return defaults. */
typedef struct oj_reader {
    of_err rc;
    char *errstr;
    size_t errstr_size;
} oj_reader;

void oj_fail(oj_reader *r, of_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies a string field (NULL if absent or JSON null and !required). path = prefix for
 * messages ("" or "project."). At most OF_TEXT_MAX bytes, no NUL inside. */
char *oj_str(oj_reader *r, json_t *o, const char *path, const char *key, bool required);
/* oj_str with a cap of max bytes; name: also refuse control characters (of_has_ctrl). */
char *oj_text(oj_reader *r, json_t *o, const char *path, const char *key, bool required, size_t max,
              bool name);
/* A name field: oj_text(..., OF_NAME_MAX, true). */
char *oj_name(oj_reader *r, json_t *o, const char *path, const char *key, bool required);
int64_t oj_int(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
               int64_t min, int64_t max, int64_t dflt);
bool oj_bool(oj_reader *r, json_t *o, const char *path, const char *key, bool dflt);
void oj_id(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
           char out[OF_UUID_STR_SIZE]);
int64_t oj_time(oj_reader *r, json_t *o, const char *path, const char *key);
/* Reads {"id","name"}; missing object and id_required -> error. */
void oj_read_ref(oj_reader *r, json_t *o, const char *path, const char *key, bool id_required,
                 const char *name_key, of_ref *out);
/* Array of strings -> owned array. */
void oj_str_list(oj_reader *r, json_t *o, const char *path, const char *key, char ***items,
                 size_t *n);
/* Checks "schema": family "octofleet.job", accepted major 1. */
void oj_schema(oj_reader *r, json_t *o, const char *want);

/* Frees an owned array of owned strings. */
void of_strv_free(char **v, size_t n);

#endif
