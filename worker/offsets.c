/* The offset tracker (offsets.h): a hash of partitions, each with a ring of begun offsets.
 *
 * Each partition keeps the offsets from its lowest in-flight one to the newest begun one, in
 * begin order (hence sorted), with a done flag. Completing the front pops every done entry
 * behind it, so the front is always the lowest offset still in flight and the committable
 * offset is either the front or, with the ring empty, the last popped offset + 1. Completing
 * anything else is a binary search and a flag. */
#include <stdlib.h>
#include <string.h>

#include "offsets.h"

typedef struct part {
    struct part *next; /* hash chain */
    uint64_t hash;
    char *topic; /* owned */
    int32_t partition;

    /* Ring of begun offsets: logical entry i is at (head + i) & (cap - 1). cap is 0 or a power
     * of two. */
    int64_t *off;
    uint8_t *done;
    size_t cap, head, n;
    size_t ndone; /* done entries still in the ring (behind an unfinished front) */

    int64_t last_begun;  /* newest begun offset */
    int64_t last_popped; /* highest offset completed with nothing unfinished below it */
    int64_t taken;       /* committable offset last handed out */
} part;

struct of_offsets {
    part **buckets;
    size_t nbuckets; /* power of two */
    size_t nparts;
    size_t inflight;
};

static uint64_t hash_key(const char *topic, int32_t partition)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)topic; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= (uint64_t)(uint32_t)partition;
    h *= 1099511628211ULL;
    return h ^ (h >> 29);
}

of_offsets *of_offsets_new(void)
{
    of_offsets *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->nbuckets = 16;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

static void part_free(part *p)
{
    free(p->topic);
    free(p->off);
    free(p->done);
    free(p);
}

void of_offsets_free(of_offsets *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        part *p = t->buckets[i];
        while (p) {
            part *next = p->next;
            part_free(p);
            p = next;
        }
    }
    free(t->buckets);
    free(t);
}

static part *find(const of_offsets *t, const char *topic, int32_t partition, uint64_t h)
{
    for (part *p = t->buckets[h & (t->nbuckets - 1)]; p; p = p->next)
        if (p->hash == h && p->partition == partition && strcmp(p->topic, topic) == 0) return p;
    return NULL;
}

static part *lookup(const of_offsets *t, const char *topic, int32_t partition)
{
    if (!t || !topic) return NULL;
    return find(t, topic, partition, hash_key(topic, partition));
}

/* Doubles the bucket array when the table holds more partitions than buckets. Failing to grow
 * only makes chains longer, so it is not an error. */
static void maybe_rehash(of_offsets *t)
{
    if (t->nparts <= t->nbuckets) return;
    size_t nb = t->nbuckets * 2;
    part **nbk = calloc(nb, sizeof(*nbk));
    if (!nbk) return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        part *p = t->buckets[i];
        while (p) {
            part *next = p->next;
            p->next = nbk[p->hash & (nb - 1)];
            nbk[p->hash & (nb - 1)] = p;
            p = next;
        }
    }
    free(t->buckets);
    t->buckets = nbk;
    t->nbuckets = nb;
}

static size_t slot(const part *p, size_t i)
{
    return (p->head + i) & (p->cap - 1);
}

/* Doubles the ring, moving entries to the start of the new arrays. */
static of_err ring_grow(part *p)
{
    size_t ncap = p->cap ? p->cap * 2 : 64;
    int64_t *noff = malloc(ncap * sizeof(*noff));
    uint8_t *ndone = malloc(ncap * sizeof(*ndone));
    if (!noff || !ndone) {
        free(noff);
        free(ndone);
        return OF_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n; i++) {
        noff[i] = p->off[slot(p, i)];
        ndone[i] = p->done[slot(p, i)];
    }
    free(p->off);
    free(p->done);
    p->off = noff;
    p->done = ndone;
    p->cap = ncap;
    p->head = 0;
    return OF_OK;
}

of_err of_offsets_begin(of_offsets *t, const char *topic, int32_t partition, int64_t offset)
{
    if (!t || !topic || offset < 0 || offset == INT64_MAX) return OF_ERR_INVALID;
    uint64_t h = hash_key(topic, partition);
    part *p = find(t, topic, partition, h);
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) return OF_ERR_NOMEM;
        p->topic = strdup(topic);
        if (!p->topic) {
            free(p);
            return OF_ERR_NOMEM;
        }
        p->hash = h;
        p->partition = partition;
        /* Nothing below the first job is ours to decide; it counts as already taken. */
        p->last_begun = offset - 1;
        p->last_popped = offset - 1;
        p->taken = offset;
        size_t b = h & (t->nbuckets - 1);
        p->next = t->buckets[b];
        t->buckets[b] = p;
        t->nparts++;
        maybe_rehash(t);
    }
    if (offset <= p->last_begun) return OF_ERR_INVALID;
    if (p->n == p->cap && ring_grow(p)) return OF_ERR_NOMEM;
    size_t s = slot(p, p->n);
    p->off[s] = offset;
    p->done[s] = 0;
    p->n++;
    p->last_begun = offset;
    t->inflight++;
    return OF_OK;
}

/* Index (0..n-1 from the front) of offset in the ring, or n if absent. */
static size_t ring_search(const part *p, int64_t offset)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->off[slot(p, mid)] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n && p->off[slot(p, lo)] == offset ? lo : p->n;
}

of_err of_offsets_done(of_offsets *t, const char *topic, int32_t partition, int64_t offset)
{
    part *p = lookup(t, topic, partition);
    if (!p) return OF_ERR_NOT_FOUND;
    size_t i = ring_search(p, offset);
    if (i == p->n || p->done[slot(p, i)]) return OF_ERR_NOT_FOUND;
    p->done[slot(p, i)] = 1;
    p->ndone++;
    t->inflight--;
    /* Pop the finished prefix: the front becomes the lowest offset still in flight. */
    while (p->n > 0 && p->done[p->head]) {
        p->last_popped = p->off[p->head];
        p->head = (p->head + 1) & (p->cap - 1);
        p->n--;
        p->ndone--;
    }
    return OF_OK;
}

static int64_t committable(const part *p)
{
    return p->n > 0 ? p->off[p->head] : p->last_popped + 1;
}

bool of_offsets_peek(const of_offsets *t, const char *topic, int32_t partition, int64_t *offset)
{
    const part *p = lookup(t, topic, partition);
    if (!p) return false;
    if (offset) *offset = committable(p);
    return true;
}

static bool take(part *p, int64_t *offset)
{
    int64_t c = committable(p);
    if (c <= p->taken) return false;
    p->taken = c;
    if (offset) *offset = c;
    return true;
}

bool of_offsets_committable(of_offsets *t, const char *topic, int32_t partition, int64_t *offset)
{
    part *p = lookup(t, topic, partition);
    return p ? take(p, offset) : false;
}

size_t of_offsets_take_all(of_offsets *t, of_offsets_cb *cb, void *opaque)
{
    size_t count = 0;
    if (!t) return 0;
    for (size_t b = 0; b < t->nbuckets; b++) {
        for (part *p = t->buckets[b]; p; p = p->next) {
            int64_t off;
            if (take(p, &off)) {
                count++;
                if (cb) cb(opaque, p->topic, p->partition, off);
            }
        }
    }
    return count;
}

void of_offsets_revoke(of_offsets *t, const char *topic, int32_t partition)
{
    if (!t || !topic) return;
    uint64_t h = hash_key(topic, partition);
    for (part **pp = &t->buckets[h & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        part *p = *pp;
        if (p->hash == h && p->partition == partition && strcmp(p->topic, topic) == 0) {
            *pp = p->next;
            t->inflight -= p->n - p->ndone;
            t->nparts--;
            part_free(p);
            return;
        }
    }
}

size_t of_offsets_inflight(const of_offsets *t, const char *topic, int32_t partition)
{
    const part *p = lookup(t, topic, partition);
    return p ? p->n - p->ndone : 0;
}

size_t of_offsets_inflight_total(const of_offsets *t)
{
    return t ? t->inflight : 0;
}

size_t of_offsets_partitions(const of_offsets *t)
{
    return t ? t->nparts : 0;
}
