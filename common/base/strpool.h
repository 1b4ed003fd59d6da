/* Interned strings: one copy of each distinct string, for big tables whose rows repeat a few
 * values (a plan's 60,000 jobs name 2 environments, 7 projects and 10,000 tenants: without
 * the pool each row holds a dozen malloc'ed copies, over half a kilobyte with malloc's
 * overhead). The pool owns every string it returns; they stay valid, unchanged, until
 * of_strpool_free. Not thread-safe. */
#ifndef OF_STRPOOL_H
#define OF_STRPOOL_H

#include <stddef.h>

#include "err.h"

typedef struct of_strpool of_strpool;

/* A new empty pool (free with of_strpool_free). OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_strpool_new(of_strpool **out);

/* The pool's copy of s: NULL for NULL; the same pointer for equal strings. Out of memory:
 * returns NULL and sets *rc to OF_ERR_NOMEM (*rc is left alone otherwise, so a row of calls
 * can share one rc, like of_strdup_or_null). */
const char *of_strpool_get(of_strpool *p, const char *s, of_err *rc);

/* Distinct strings held (for tests and logs). */
size_t of_strpool_count(const of_strpool *p);

/* Frees every string of the pool and the pool. NULL-safe. */
void of_strpool_free(of_strpool *p);

#endif
