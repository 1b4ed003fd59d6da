/* Unit tests for the offset tracker (worker/offsets.h): tables of begin/done/take sequences with
 * the committable offsets they must produce, then randomised runs checked against a simple
 * reference model, many partitions, and revocation bookkeeping. */
#include "clock.h"
#include "offsets.h"
#include "test.h"

/* One step of a scenario. op:
 *   'b' begin(off) -> rc       'd' done(off) -> rc
 *   'c' committable -> ok, off (taken)       'p' peek -> ok, off (not taken)
 *   'r' revoke                 'i' inflight count -> want */
typedef struct step {
    char op;
    int32_t part;
    int64_t off;    /* argument for b/d, expected offset for c/p */
    long long want; /* rc for b/d, bool for c/p, count for i */
} step;

#define MAXSTEPS 24
typedef struct scenario {
    const char *name;
    step steps[MAXSTEPS];
} scenario;

/* clang-format off */
#define B(p, o, rc) {'b', p, o, rc}
#define D(p, o, rc) {'d', p, o, rc}
#define C(p, o)     {'c', p, o, 1}
#define C_NONE(p)   {'c', p, 0, 0}
#define P(p, o)     {'p', p, o, 1}
#define P_NONE(p)   {'p', p, 0, 0}
#define R(p)        {'r', p, 0, 0}
#define I(p, n)     {'i', p, 0, n}
/* clang-format on */

static const scenario scenarios[] = {
    {"in order",
     {B(0, 0, OF_OK), B(0, 1, OF_OK), B(0, 2, OF_OK), C_NONE(0), P(0, 0), D(0, 0, OF_OK), C(0, 1),
      C_NONE(0), D(0, 1, OF_OK), D(0, 2, OF_OK), C(0, 3), C_NONE(0), I(0, 0)}},
    {"out of order: the lowest in flight holds the commit back",
     {B(0, 10, OF_OK), B(0, 11, OF_OK), B(0, 12, OF_OK), B(0, 13, OF_OK), D(0, 12, OF_OK),
      C_NONE(0), P(0, 10), D(0, 11, OF_OK), C_NONE(0), I(0, 2), D(0, 10, OF_OK), C(0, 13), I(0, 1),
      D(0, 13, OF_OK), C(0, 14), I(0, 0)}},
    {"reverse order completes in one step",
     {B(0, 0, OF_OK), B(0, 1, OF_OK), B(0, 2, OF_OK), B(0, 3, OF_OK), D(0, 3, OF_OK),
      D(0, 2, OF_OK), D(0, 1, OF_OK), C_NONE(0), D(0, 0, OF_OK), C(0, 4)}},
    {"gaps in offsets (compaction, transaction markers)",
     {B(0, 5, OF_OK), B(0, 8, OF_OK), B(0, 20, OF_OK), D(0, 8, OF_OK), C_NONE(0), D(0, 5, OF_OK),
      C(0, 20), D(0, 20, OF_OK), C(0, 21), B(0, 30, OF_OK), C(0, 30), P(0, 30), D(0, 30, OF_OK),
      C(0, 31)}},
    {"idle partition after all done keeps highest done + 1",
     {B(0, 7, OF_OK), D(0, 7, OF_OK), C(0, 8), P(0, 8), C_NONE(0), P(0, 8)}},
    {"duplicates and unknown offsets are refused",
     {B(0, 1, OF_OK), B(0, 1, OF_ERR_INVALID), B(0, 0, OF_ERR_INVALID), B(0, -1, OF_ERR_INVALID),
      D(0, 1, OF_OK), D(0, 1, OF_ERR_NOT_FOUND), D(0, 7, OF_ERR_NOT_FOUND),
      D(3, 1, OF_ERR_NOT_FOUND), C(0, 2), B(0, 1, OF_ERR_INVALID), B(0, 2, OF_OK)}},
    {"done twice while held back",
     {B(0, 1, OF_OK), B(0, 2, OF_OK), D(0, 2, OF_OK), D(0, 2, OF_ERR_NOT_FOUND), I(0, 1),
      D(0, 1, OF_OK), C(0, 3)}},
    {"revocation forgets the partition",
     {B(0, 1, OF_OK), B(0, 2, OF_OK), D(0, 2, OF_OK), I(0, 1), R(0), I(0, 0),
      D(0, 1, OF_ERR_NOT_FOUND), C_NONE(0), P_NONE(0), B(0, 1, OF_OK), P(0, 1), D(0, 1, OF_OK),
      C(0, 2), R(5)}},
    {"partitions are independent",
     {B(0, 0, OF_OK), B(1, 100, OF_OK), B(1, 101, OF_OK), D(1, 100, OF_OK), C(1, 101), C_NONE(0),
      D(0, 0, OF_OK), C(0, 1), C_NONE(1), R(1), I(0, 0), I(1, 0), C_NONE(0)}},
    {"unknown partition", {C_NONE(9), P_NONE(9), I(9, 0), D(9, 0, OF_ERR_NOT_FOUND), R(9)}},
};

static void run_scenarios(void)
{
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        const scenario *sc = &scenarios[s];
        of_offsets *t = of_offsets_new();
        CHECK(t != NULL);
        for (int i = 0; i < MAXSTEPS && sc->steps[i].op; i++) {
            const step *st = &sc->steps[i];
            int64_t off = -42;
            long long got = 0;
            switch (st->op) {
            case 'b':
                got = of_offsets_begin(t, "jobs", st->part, st->off);
                break;
            case 'd':
                got = of_offsets_done(t, "jobs", st->part, st->off);
                break;
            case 'c':
                got = of_offsets_committable(t, "jobs", st->part, &off);
                break;
            case 'p':
                got = of_offsets_peek(t, "jobs", st->part, &off);
                break;
            case 'r':
                of_offsets_revoke(t, "jobs", st->part);
                break;
            case 'i':
                got = (long long)of_offsets_inflight(t, "jobs", st->part);
                break;
            }
            if (got != st->want || ((st->op == 'c' || st->op == 'p') && got && off != st->off)) {
                of_test_failures++;
                fprintf(stderr,
                        "scenario \"%s\" step %d (%c p%d %lld): got %lld off %lld, want %lld off "
                        "%lld\n",
                        sc->name, i, st->op, (int)st->part, (long long)st->off, got, (long long)off,
                        st->want, (long long)st->off);
            }
            of_test_checks++;
        }
        of_offsets_free(t);
    }
}

/* Same sequences on two topics with equal partition numbers must not interfere. */
static void test_topics_distinct(void)
{
    of_offsets *t = of_offsets_new();
    CHECK_INT(of_offsets_begin(t, "jobs.s1", 0, 5), OF_OK);
    CHECK_INT(of_offsets_begin(t, "jobs.s2", 0, 5), OF_OK);
    CHECK_INT(of_offsets_done(t, "jobs.s2", 0, 5), OF_OK);
    int64_t off = 0;
    CHECK(!of_offsets_committable(t, "jobs.s1", 0, &off));
    CHECK(of_offsets_committable(t, "jobs.s2", 0, &off));
    CHECK_INT(off, 6);
    CHECK_INT((long long)of_offsets_partitions(t), 2);
    CHECK_INT((long long)of_offsets_inflight_total(t), 1);
    of_offsets_revoke(t, "jobs.s1", 0);
    CHECK_INT((long long)of_offsets_partitions(t), 1);
    CHECK_INT((long long)of_offsets_inflight_total(t), 0);
    CHECK_INT(of_offsets_begin(t, NULL, 0, 1), OF_ERR_INVALID);
    of_offsets_free(t);
    of_offsets_free(NULL);
}

/* Reference model: offsets base + stride*i, a done array and a scanning low-water mark. */
static void test_random_against_model(void)
{
    enum { N = 20000, STRIDE = 3, BASE = 1000 };
    uint64_t rnd = 0x9e3779b97f4a7c15ULL;
    of_offsets *t = of_offsets_new();
    int *order = malloc(N * sizeof(*order));
    unsigned char *done = calloc(N, 1);
    CHECK(order && done && t);
    if (!order || !done || !t) return;
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(of_rand_next(&rnd) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    /* Begin in chunks and complete in random order, interleaved, like a busy worker. */
    int begun = 0, low = 0, mismatches = 0, taken_moves = 0;
    int64_t last_taken = BASE;
    for (int k = 0; k < N; k++) {
        int idx = order[k];
        while (begun <= idx) {
            if (of_offsets_begin(t, "jobs", 3, BASE + (int64_t)STRIDE * begun) != OF_OK)
                mismatches++;
            begun++;
        }
        if (of_offsets_done(t, "jobs", 3, BASE + (int64_t)STRIDE * idx) != OF_OK) mismatches++;
        done[idx] = 1;
        while (low < begun && done[low])
            low++;
        int64_t want =
            low < begun ? BASE + (int64_t)STRIDE * low : BASE + (int64_t)STRIDE * (begun - 1) + 1;
        int64_t got = -1;
        if (!of_offsets_peek(t, "jobs", 3, &got) || got != want) mismatches++;
        if ((size_t)(begun - k - 1) != of_offsets_inflight(t, "jobs", 3)) mismatches++;
        int64_t c;
        if (of_offsets_committable(t, "jobs", 3, &c)) {
            if (c <= last_taken || c != want) mismatches++;
            last_taken = c;
            taken_moves++;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK(taken_moves > 0);
    CHECK_INT(last_taken, BASE + (int64_t)STRIDE * (N - 1) + 1);
    CHECK_INT((long long)of_offsets_inflight_total(t), 0);
    free(order);
    free(done);
    of_offsets_free(t);
}

/* Thousands in flight stay cheap: 200k begun, completed newest-first (the worst case for a
 * structure that scans), then the oldest. */
static void test_many_inflight(void)
{
    enum { N = 200000 };
    of_offsets *t = of_offsets_new();
    int64_t start = of_now_ms();
    int bad = 0;
    for (int64_t i = 0; i < N; i++)
        bad += of_offsets_begin(t, "jobs", 0, i) != OF_OK;
    for (int64_t i = N - 1; i >= 1; i--)
        bad += of_offsets_done(t, "jobs", 0, i) != OF_OK;
    CHECK_INT(bad, 0);
    CHECK_INT((long long)of_offsets_inflight(t, "jobs", 0), 1);
    int64_t off = -1;
    CHECK(!of_offsets_committable(t, "jobs", 0, &off)); /* offset 0 still holds everything */
    CHECK_INT(of_offsets_done(t, "jobs", 0, 0), OF_OK);
    CHECK(of_offsets_committable(t, "jobs", 0, &off));
    CHECK_INT(off, N);
    int64_t ms = of_now_ms() - start;
    /* O(n log n) finishes in milliseconds; a quadratic structure would take minutes. The bound
     * is loose for a loaded machine and a sanitizer build. */
    CHECK(ms < 20000);
    of_offsets_free(t);
}

typedef struct collected {
    size_t calls;
    int64_t sum;
} collected;

static void collect(void *opaque, const char *topic, int32_t partition, int64_t offset)
{
    collected *c = opaque;
    c->calls++;
    c->sum += offset;
    (void)topic;
    (void)partition;
}

static void test_many_partitions(void)
{
    enum { NP = 1000, PER = 10 };
    of_offsets *t = of_offsets_new();
    int bad = 0;
    for (int32_t p = 0; p < NP; p++)
        for (int64_t o = 0; o < PER; o++)
            bad += of_offsets_begin(t, p % 2 ? "jobs.s1" : "jobs.s2", p, 1000 * p + o) != OF_OK;
    CHECK_INT(bad, 0);
    CHECK_INT((long long)of_offsets_partitions(t), NP);
    CHECK_INT((long long)of_offsets_inflight_total(t), NP * PER);

    collected c = {0, 0};
    CHECK_INT((long long)of_offsets_take_all(t, collect, &c), 0); /* nothing done yet */

    /* Complete the first half of each even partition's jobs. */
    for (int32_t p = 0; p < NP; p += 2)
        for (int64_t o = 0; o < PER / 2; o++)
            bad += of_offsets_done(t, "jobs.s2", p, 1000 * p + o) != OF_OK;
    CHECK_INT(bad, 0);
    CHECK_INT((long long)of_offsets_take_all(t, collect, &c), NP / 2);
    CHECK_INT((long long)c.calls, NP / 2);
    int64_t want = 0;
    for (int32_t p = 0; p < NP; p += 2)
        want += 1000 * p + PER / 2;
    CHECK_INT(c.sum, want);
    CHECK_INT((long long)of_offsets_take_all(t, collect, &c), 0); /* taken: nothing new */

    for (int32_t p = 0; p < NP; p += 2)
        of_offsets_revoke(t, "jobs.s2", p);
    CHECK_INT((long long)of_offsets_partitions(t), NP / 2);
    CHECK_INT((long long)of_offsets_inflight_total(t), (NP / 2) * PER);
    CHECK_INT(of_offsets_done(t, "jobs.s2", 0, 7), OF_ERR_NOT_FOUND);
    int64_t off = -1;
    CHECK(of_offsets_peek(t, "jobs.s1", 999, &off));
    CHECK_INT(off, 999000);
    of_offsets_free(t);
}

int main(void)
{
    run_scenarios();
    test_topics_distinct();
    test_random_against_model();
    test_many_inflight();
    test_many_partitions();
    return TEST_DONE();
}
