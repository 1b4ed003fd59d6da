/* Interned strings (strpool.h): an open-addressing hash set of malloc'ed strings. */
#include "strpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct of_strpool {
    char **slots; /* NULL = empty */
    size_t cap;   /* a power of two */
    size_t n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

of_err of_strpool_new(of_strpool **out)
{
    *out = NULL;
    of_strpool *p = calloc(1, sizeof *p);
    if (!p) return OF_ERR_NOMEM;
    p->cap = 64;
    p->slots = calloc(p->cap, sizeof *p->slots);
    if (!p->slots) {
        free(p);
        return OF_ERR_NOMEM;
    }
    *out = p;
    return OF_OK;
}

/* Doubles the table (kept at most half full, so probes stay short). */
static of_err grow(of_strpool *p)
{
    size_t cap = p->cap * 2;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots) return OF_ERR_NOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->slots[i]) continue;
        size_t k = (size_t)hash(p->slots[i]) & (cap - 1);
        while (slots[k])
            k = (k + 1) & (cap - 1);
        slots[k] = p->slots[i];
    }
    free(p->slots);
    p->slots = slots;
    p->cap = cap;
    return OF_OK;
}

const char *of_strpool_get(of_strpool *p, const char *s, of_err *rc)
{
    if (!s) return NULL;
    if (2 * (p->n + 1) > p->cap && grow(p) != OF_OK) {
        *rc = OF_ERR_NOMEM;
        return NULL;
    }
    size_t k = (size_t)hash(s) & (p->cap - 1);
    for (; p->slots[k]; k = (k + 1) & (p->cap - 1))
        if (strcmp(p->slots[k], s) == 0) return p->slots[k];
    char *copy = strdup(s);
    if (!copy) {
        *rc = OF_ERR_NOMEM;
        return NULL;
    }
    p->slots[k] = copy;
    p->n++;
    return copy;
}

size_t of_strpool_count(const of_strpool *p)
{
    return p->n;
}

void of_strpool_free(of_strpool *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->cap; i++)
        free(p->slots[i]);
    free(p->slots);
    free(p);
}
