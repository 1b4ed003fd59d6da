/* Interned strings (strpool.h): an open-addressing hash set over strings packed into blocks,
 * so a string costs its bytes and a slot, not a malloc chunk (32 bytes for a short id). */
#include "strpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK_SIZE = 16384 };

/* A block of packed strings; a string longer than a block gets a block of its own. */
typedef struct block {
    struct block *next;
    size_t used, size;
    char bytes[];
} block;

struct of_strpool {
    char **slots; /* NULL = empty */
    size_t cap;   /* a power of two */
    size_t n;
    block *blocks; /* newest first: the one strings are packed into */
};

/* Room for len bytes, from the newest block or a new one; NULL when out of memory. */
static char *take(of_strpool *p, size_t len)
{
    block *b = p->blocks;
    if (!b || b->size - b->used < len) {
        size_t size = len > BLOCK_SIZE ? len : BLOCK_SIZE;
        b = malloc(sizeof(*b) + size);
        if (!b) return NULL;
        b->used = 0;
        b->size = size;
        if (len > BLOCK_SIZE && p->blocks) { /* keep packing into the current one */
            b->next = p->blocks->next;
            p->blocks->next = b;
        } else {
            b->next = p->blocks;
            p->blocks = b;
        }
    }
    char *at = b->bytes + b->used;
    b->used += len;
    return at;
}

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
    size_t len = strlen(s) + 1;
    char *copy = take(p, len);
    if (!copy) {
        *rc = OF_ERR_NOMEM;
        return NULL;
    }
    memcpy(copy, s, len);
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
    while (p->blocks) {
        block *next = p->blocks->next;
        free(p->blocks);
        p->blocks = next;
    }
    free(p->slots);
    free(p);
}
