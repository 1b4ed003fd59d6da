/* oj_parse_keep against jansson, for the tests and fuzz targets that check the fast parser.
 * Header-only: each user links jansson and ofjson already. */
#ifndef OF_TEST_OJCHECK_H
#define OF_TEST_OJCHECK_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ojson.h"

/* Whether oj_parse_keep(text, keep) is json_loadb(text, JSON_REJECT_DUPLICATES) pruned to
 * keep: equal trees with members in the same order, or a refusal with the same text. */
static inline bool oj_check_as_jansson(const char *text, size_t len, const oj_keep *keep)
{
    json_error_t e1, e2;
    json_t *a = oj_parse_keep(text, len, keep, &e1);
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e2);
    oj_prune(b, keep);
    bool same = !a == !b;
    if (same && a) {
        char *da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        char *db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        same = da && db && strcmp(da, db) == 0;
        free(da);
        free(db);
    } else if (same) {
        same = strcmp(e1.text, e2.text) == 0;
    }
    json_decref(a);
    json_decref(b);
    return same;
}

#endif
