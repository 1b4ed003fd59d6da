/* The hold's judgement (common/octopus/octo_hold.h): scenarios as tables of steps. Each step
 * reports attempts or a probe at a time and says what must follow: held or not, whether the
 * step changed that, and whether a probe is due. Window 10 s (buckets of 333 ms), at least 4
 * attempts, 50 % failures or 50 % throttles, a probe every 2 s. */
#include <stdio.h>
#include <string.h>

#include "octo_hold.h"
#include "test.h"

static int of_test_checks, of_test_failures;

typedef enum op {
    ATT,    /* n attempts with status at t */
    CHECK_, /* judge at t: changed = whether a hold started */
    PROBE,  /* at t: is a probe due (want_due); when due, its outcome ok: changed = hold ended */
} op;

typedef struct step {
    op op;
    int64_t t;
    long status;
    int n;
    int want_due; /* PROBE */
    int ok;       /* PROBE */
    int changed;
    int held;           /* after the step */
    const char *reason; /* CHECK_: a part of the reason, or NULL */
} step;

static const of_hold_opts OPTS = {50, 50, 10000, 4, 2000};

static void scenario(const char *name, bool watching, const step *s, size_t n)
{
    fprintf(stderr, "scenario: %s\n", name);
    of_hold h;
    of_hold_init(&h, &OPTS);
    for (size_t i = 0; i < n; i++) {
        int changed = 0;
        switch (s[i].op) {
        case ATT:
            for (int k = 0; k < s[i].n; k++)
                of_hold_attempt(&h, s[i].status, s[i].t);
            changed = s[i].changed;
            break;
        case CHECK_:
            changed = of_hold_check(&h, s[i].t);
            if (s[i].reason) CHECK_CONTAINS(of_hold_reason(&h), s[i].reason);
            break;
        case PROBE: {
            bool due = of_hold_probe_due(&h, watching, s[i].t);
            CHECK_INT(due, s[i].want_due);
            if (due) changed = of_hold_probed(&h, s[i].ok, s[i].t);
            break;
        }
        }
        if (changed != s[i].changed || of_hold_held(&h) != (bool)s[i].held)
            fprintf(stderr, "  step %zu\n", i);
        CHECK_INT(changed, s[i].changed);
        CHECK_INT(of_hold_held(&h), s[i].held);
    }
}

/* An outage: failures hold once there are enough of them; probes every 2 s, the first good one
 * ends it; the old failures do not hold again. */
static const step outage[] = {
    {ATT, 1000, 200, 10, 0, 0, 0, 0, NULL},
    {ATT, 2000, 503, 3, 0, 0, 0, 0, NULL},
    {CHECK_, 2000, 0, 0, 0, 0, 0, 0, NULL}, /* 3 of 13 */
    {PROBE, 2000, 0, 0, 0, 0, 0, 0, NULL},  /* not held: no probe */
    {ATT, 3000, 0, 7, 0, 0, 0, 0, NULL},    /* 10 of 20: connection errors count */
    {CHECK_, 3000, 0, 0, 0, 0, 1, 1, "10 of 20 requests in the last 10 s failed"},
    {CHECK_, 3100, 0, 0, 0, 0, 0, 1, NULL}, /* already held */
    {PROBE, 4000, 0, 0, 0, 0, 0, 1, NULL},  /* interval not over */
    {PROBE, 5000, 0, 0, 1, 0, 0, 1, NULL},  /* probe fails: still held */
    {PROBE, 6000, 0, 0, 0, 0, 0, 1, NULL},
    {PROBE, 7000, 0, 0, 1, 1, 1, 0, NULL},  /* answered: the hold ends */
    {CHECK_, 7000, 0, 0, 0, 0, 0, 0, NULL}, /* the window was cleared */
    {ATT, 7500, 200, 4, 0, 0, 0, 0, NULL},
    {ATT, 7600, 500, 4, 0, 0, 0, 0, NULL},
    {CHECK_, 7600, 0, 0, 0, 0, 1, 1, "4 of 8"}, /* a new hold */
};

/* 429s hold on their own threshold; 4xx answers are not failures. */
static const step throttle[] = {
    {ATT, 0, 404, 5, 0, 0, 0, 0, NULL},
    {ATT, 0, 400, 5, 0, 0, 0, 0, NULL},
    {CHECK_, 0, 0, 0, 0, 0, 0, 0, NULL},
    {ATT, 100, 429, 9, 0, 0, 0, 0, NULL},
    {CHECK_, 100, 0, 0, 0, 0, 0, 0, NULL}, /* 9 of 19 */
    {ATT, 100, 429, 1, 0, 0, 0, 0, NULL},
    {CHECK_, 100, 0, 0, 0, 0, 1, 1, "10 of 20 requests in the last 10 s were answered 429"},
};

/* Too few attempts never hold; failures leave the window as it slides. */
static const step sliding[] = {
    {ATT, 0, 503, 3, 0, 0, 0, 0, NULL},
    {CHECK_, 0, 0, 0, 0, 0, 0, 0, NULL}, /* 3 < min 4 */
    {ATT, 9000, 200, 1, 0, 0, 0, 0, NULL},
    {CHECK_, 9000, 0, 0, 0, 0, 1, 1, "3 of 4"},
};
static const step slid_out[] = {
    {ATT, 0, 503, 3, 0, 0, 0, 0, NULL},
    {ATT, 11000, 200, 1, 0, 0, 0, 0, NULL},
    {ATT, 11000, 503, 2, 0, 0, 0, 0, NULL},
    {CHECK_, 11000, 0, 0, 0, 0, 0, 0, NULL}, /* the first 3 are out: 2 of 3, below min */
    {ATT, 11100, 200, 1, 0, 0, 0, 0, NULL},
    {CHECK_, 11100, 0, 0, 0, 0, 1, 1, "2 of 4"},
};

/* The producer watches: it probes while not held too. */
static const step watching[] = {
    {PROBE, 0, 0, 0, 1, 1, 0, 0, NULL},
    {PROBE, 1000, 0, 0, 0, 0, 0, 0, NULL},
    {PROBE, 2000, 0, 0, 1, 1, 0, 0, NULL},
};

int main(void)
{
    scenario("outage", false, outage, sizeof outage / sizeof outage[0]);
    scenario("throttle", false, throttle, sizeof throttle / sizeof throttle[0]);
    scenario("sliding", false, sliding, sizeof sliding / sizeof sliding[0]);
    scenario("slid out", false, slid_out, sizeof slid_out / sizeof slid_out[0]);
    scenario("watching", true, watching, sizeof watching / sizeof watching[0]);
    /* a percentage of 0 turns its test off */
    of_hold_opts off = OPTS;
    off.error_pct = 0;
    of_hold h;
    of_hold_init(&h, &off);
    for (int i = 0; i < 100; i++)
        of_hold_attempt(&h, 503, 5);
    CHECK(!of_hold_check(&h, 5));
    return TEST_DONE();
}
