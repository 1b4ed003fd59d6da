/* Internal to the codec (common/codec/msg*.c): its jansson helpers, on top of the shared
 * ones in common/json/ojson.h. Nothing outside common/codec/msg*.c includes this file, so
 * jansson stays behind the codec. */
#ifndef OF_MSG_JSON_H
#define OF_MSG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "ojson.h"
#include "model.h"

/* {"id":..,"name":..}; name_key replaces "name" (a release's "version"). */
json_t *oj_ref(const of_ref *r, const char *name_key, bool *bad);

/* Loads data[0..len) with the size cap; on failure fills errstr with a reason. */
OF_MUST_CHECK of_err oj_load(const char *data, size_t len, json_t **out, char *errstr,
                             size_t errstr_size);

/* The readers below are the codec's rules for its own messages, on top of the generic ones in
 * ojson.h (an oj_reader_message()). */

/* Copies a string field (NULL if absent or JSON null and !required). path = prefix for
 * messages ("" or "project."). At most OF_TEXT_MAX bytes, no NUL inside. */
char *oj_str(oj_reader *r, json_t *o, const char *path, const char *key, bool required);
/* oj_str with a cap of max bytes; name: also refuse control characters (of_has_ctrl). */
char *oj_text(oj_reader *r, json_t *o, const char *path, const char *key, bool required, size_t max,
              bool name);
/* A name field: oj_text(..., OF_NAME_MAX, true). */
char *oj_name(oj_reader *r, json_t *o, const char *path, const char *key, bool required);
void oj_id(oj_reader *r, json_t *o, const char *path, const char *key, bool required,
           char out[OF_UUID_STR_SIZE]);
/* Reads {"id","name"}; missing object and id_required -> error. */
void oj_read_ref(oj_reader *r, json_t *o, const char *path, const char *key, bool id_required,
                 const char *name_key, of_ref *out);
/* Array of strings -> owned array (of_strv_free), at most OF_LIST_MAX of OF_TEXT_MAX. */
void oj_str_list(oj_reader *r, json_t *o, const char *path, const char *key, char ***items,
                 size_t *n);
/* Checks "schema": family "octofleet.job", accepted major 1. */
void oj_schema(oj_reader *r, json_t *o, const char *want);

#endif
