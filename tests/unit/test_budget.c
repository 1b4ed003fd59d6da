/* The task budget (producer/budget.h): scenarios as tables of steps. Each step does one thing
 * and says what must follow: which job is sent next (or that none is), the slots in use, the
 * jobs waiting and the effective budget. Releases are "A".."C" (ids made up: the module only
 * compares them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "test.h"

static int of_test_checks, of_test_failures;

typedef enum op {
    HOLD,     /* rel, prio, job: queue job of rel */
    NEXT,     /* want: "A3" = job 3 of A is sent next; "" = nothing is sent */
    FINISH,   /* one slot freed */
    START,    /* one job found in flight (load) */
    DROP,     /* rel: forget its waiting jobs */
    OVERLOAD, /* at t: Octopus said 429/503; lowered: whether the budget went down */
    TICK,     /* at t: recovery; raised: whether it went up */
    LIMIT,    /* job: the server's cap changed to this limit; changed: whether it did */
} op;

typedef struct step {
    op op;
    char rel;
    int prio;
    size_t job;
    const char *want; /* NEXT */
    int64_t t;        /* OVERLOAD, TICK */
    int changed;      /* OVERLOAD, TICK: 1 if the effective budget changed; LIMIT: the limit;
                         HOLD: 1 if the job opens its group */
    /* after the step (-1: not checked) */
    int in_use, waiting, effective;
} step;

#define ANY -1, -1, -1

static const char *rel_id(char rel)
{
    switch (rel) {
    case 'A':
        return "aaaaaaaa-0000-5000-8000-000000000000";
    case 'B':
        return "bbbbbbbb-0000-5000-8000-000000000000";
    default:
        return "cccccccc-0000-5000-8000-000000000000";
    }
}

static char rel_name(const char *id)
{
    return (char)(id[0] - 'a' + 'A');
}

static void scenario(const char *name, int limit, const step *steps, size_t n)
{
    fprintf(stderr, "scenario: %s\n", name);
    of_budget *b = NULL;
    CHECK_INT(of_budget_new(limit, &b), OF_OK);
    if (!b) return;
    for (size_t i = 0; i < n; i++) {
        const step *s = &steps[i];
        const char *rid = NULL;
        size_t job = 0;
        char got[32] = "";
        switch (s->op) {
        case HOLD:
            CHECK_INT(of_budget_hold(b, rel_id(s->rel), s->prio, s->changed, s->job), OF_OK);
            break;
        case NEXT:
            if (of_budget_next(b, &rid, &job))
                (void)snprintf(got, sizeof got, "%c%zu", rel_name(rid), job);
            if (strcmp(got, s->want) != 0) fprintf(stderr, "  step %zu: next\n", i);
            CHECK_STR(got, s->want);
            break;
        case FINISH:
            of_budget_finished(b);
            break;
        case START:
            of_budget_started(b);
            break;
        case DROP:
            of_budget_drop(b, rel_id(s->rel));
            break;
        case OVERLOAD:
            CHECK_INT(of_budget_overload(b, s->t), s->changed);
            break;
        case TICK:
            CHECK_INT(of_budget_tick(b, s->t), s->changed);
            break;
        case LIMIT:
            CHECK_INT(of_budget_set_limit(b, (int)s->job), s->changed);
            break;
        }
        if (s->in_use >= 0) CHECK_INT(of_budget_in_use(b), s->in_use);
        if (s->waiting >= 0) CHECK_INT(of_budget_waiting(b), s->waiting);
        if (s->effective >= 0) CHECK_INT(of_budget_effective(b), s->effective);
    }
    of_budget_free(b);
}

/* Never more than the budget out; a freed slot lets exactly one more go; plan order within a
 * release even when jobs are queued out of order; a job queued twice waits once. */
static const step limit_steps[] = {
    {HOLD, 'A', 0, 2, NULL, 0, 0, 0, 1, 2},
    {HOLD, 'A', 0, 0, NULL, 0, 0, 0, 2, 2},
    {HOLD, 'A', 0, 1, NULL, 0, 0, 0, 3, 2},
    {HOLD, 'A', 0, 1, NULL, 0, 0, 0, 3, 2}, /* already waiting */
    {HOLD, 'A', 0, 3, NULL, 0, 0, 0, 4, 2},
    {NEXT, 0, 0, 0, "A0", 0, 0, 1, 3, 2},
    {NEXT, 0, 0, 0, "A1", 0, 0, 2, 2, 2},
    {NEXT, 0, 0, 0, "", 0, 0, 2, 2, 2}, /* full */
    {FINISH, 0, 0, 0, NULL, 0, 0, 1, 2, 2},
    {NEXT, 0, 0, 0, "A2", 0, 0, 2, 1, 2},
    {NEXT, 0, 0, 0, "", 0, 0, 2, 1, 2},
    {FINISH, 0, 0, 0, NULL, 0, 0, 1, 1, 2},
    {FINISH, 0, 0, 0, NULL, 0, 0, 0, 1, 2},
    {NEXT, 0, 0, 0, "A3", 0, 0, 1, 0, 2},
    {NEXT, 0, 0, 0, "", 0, 0, 1, 0, 2}, /* nothing waits */
    {FINISH, 0, 0, 0, NULL, 0, 0, 0, 0, 2},
    {FINISH, 0, 0, 0, NULL, 0, 0, 0, 0, 2}, /* never below 0 */
};

/* Releases of one priority take turns; a higher priority goes first whatever came before;
 * a release's priority is its latest. */
static const step fair_steps[] = {
    {HOLD, 'A', 0, 0, NULL, 0, 0, ANY},     {HOLD, 'A', 0, 1, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 2, NULL, 0, 0, ANY},     {HOLD, 'B', 0, 5, NULL, 0, 0, ANY},
    {HOLD, 'B', 0, 6, NULL, 0, 0, ANY},     {NEXT, 0, 0, 0, "A0", 0, 0, ANY},
    {NEXT, 0, 0, 0, "B5", 0, 0, ANY},       {NEXT, 0, 0, 0, "A1", 0, 0, 3, 2, 3},
    {NEXT, 0, 0, 0, "", 0, 0, ANY},         {HOLD, 'C', 5, 9, NULL, 0, 0, ANY}, /* the hotfix */
    {HOLD, 'C', 5, 8, NULL, 0, 0, 3, 4, 3}, {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "C8", 0, 0, ANY},       {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "C9", 0, 0, ANY},       {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "B6", 0, 0, ANY}, /* B's turn: A was served last */
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},     {NEXT, 0, 0, 0, "A2", 0, 0, 3, 0, 3},
    {HOLD, 'A', -1, 3, NULL, 0, 0, ANY}, /* A now routine below 0 */
    {HOLD, 'B', 0, 7, NULL, 0, 0, ANY},     {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "B7", 0, 0, ANY},       {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A3", 0, 0, ANY},
};

/* Within a release the job that opens a group (first in a stage that just opened in one
 * environment, or in one tenant's lane) goes ahead of the jobs already waiting, the rest in
 * plan order; priority and round robin between releases as before. */
static const step first_steps[] = {
    {HOLD, 'A', 0, 0, NULL, 0, 1, ANY},
    {HOLD, 'A', 0, 1, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 2, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A0", 0, 0, 1, 2, 1},
    /* a stage opened in another environment while the first one's jobs wait */
    {HOLD, 'A', 0, 7, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 6, NULL, 0, 1, ANY},
    {HOLD, 'A', 0, 9, NULL, 0, 1, ANY}, /* and another: plan order among the openers */
    {HOLD, 'A', 0, 6, NULL, 0, 0, ANY}, /* already waiting: keeps its place */
    {HOLD, 'A', 0, 1, NULL, 0, 1, ANY}, /* and so does one waiting in the other part */
    {FINISH, 0, 0, 0, NULL, 0, 0, 0, 5, 1},
    {NEXT, 0, 0, 0, "A6", 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A9", 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    /* another release: round robin still decides between the two */
    {HOLD, 'B', 0, 3, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "B3", 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A1", 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A2", 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A7", 0, 0, 1, 0, 1},
};

/* Jobs found in flight at load hold slots; a dropped release's jobs are gone. */
static const step load_steps[] = {
    {START, 0, 0, 0, NULL, 0, 0, 1, 0, 2},
    {START, 0, 0, 0, NULL, 0, 0, 2, 0, 2},
    {START, 0, 0, 0, NULL, 0, 0, 3, 0, 2}, /* over the budget: a smaller budget than before */
    {HOLD, 'A', 0, 4, NULL, 0, 0, ANY},
    {HOLD, 'B', 0, 1, NULL, 0, 0, ANY},
    {HOLD, 'B', 0, 2, NULL, 0, 0, 3, 3, 2},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "", 0, 0, 2, 3, 2}, /* still full */
    {DROP, 'B', 0, 0, NULL, 0, 0, 2, 1, 2},
    {DROP, 'C', 0, 0, NULL, 0, 0, 2, 1, 2}, /* unknown: nothing */
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A4", 0, 0, 2, 0, 2},
};

/* 429/503: halve (floor 1), once per hold-off; recover by a quarter of the budget per quiet
 * period; what is out stays out. */
static const step backoff_steps[] = {
    {HOLD, 'A', 0, 0, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 1, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 2, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 3, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 4, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 5, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A0", 0, 0, ANY},
    {NEXT, 0, 0, 0, "A1", 0, 0, ANY},
    {NEXT, 0, 0, 0, "A2", 0, 0, ANY},
    {OVERLOAD, 0, 0, 0, NULL, 1000, 1, 3, 3, 4},
    {NEXT, 0, 0, 0, "A3", 0, 0, 4, 2, 4},
    {NEXT, 0, 0, 0, "", 0, 0, ANY},
    {OVERLOAD, 0, 0, 0, NULL, 5000, 0, -1, -1, 4}, /* within the hold-off */
    {OVERLOAD, 0, 0, 0, NULL, 11000, 1, -1, -1, 2},
    {OVERLOAD, 0, 0, 0, NULL, 21001, 1, -1, -1, 1},
    {OVERLOAD, 0, 0, 0, NULL, 40000, 0, -1, -1, 1}, /* floor */
    {FINISH, 0, 0, 0, NULL, 0, 0, 3, 2, 1},
    {FINISH, 0, 0, 0, NULL, 0, 0, ANY},
    {FINISH, 0, 0, 0, NULL, 0, 0, 1, 2, 1},
    {NEXT, 0, 0, 0, "", 0, 0, ANY},
    {TICK, 0, 0, 0, NULL, 69999, 0, -1, -1, 1}, /* 30 s after the last overload: not yet */
    {TICK, 0, 0, 0, NULL, 70000, 1, -1, -1, 3},
    {NEXT, 0, 0, 0, "A4", 0, 0, ANY},
    {NEXT, 0, 0, 0, "A5", 0, 0, 3, 0, 3},
    {TICK, 0, 0, 0, NULL, 90000, 0, -1, -1, 3}, /* a step per quiet period */
    {TICK, 0, 0, 0, NULL, 100000, 1, -1, -1, 5},
    {OVERLOAD, 0, 0, 0, NULL, 100500, 1, -1, -1, 2},
    {TICK, 0, 0, 0, NULL, 130500, 1, -1, -1, 4},
    {TICK, 0, 0, 0, NULL, 160500, 1, -1, -1, 6},
    {TICK, 0, 0, 0, NULL, 190500, 1, -1, -1, 8},
    {TICK, 0, 0, 0, NULL, 220500, 0, -1, -1, 8}, /* whole again */
};

/* The server's cap changes (re-read every octopus.task_cap_refresh): a raise lets more go at
 * once, a cut sends nothing new until enough finish, a backoff in progress keeps its cut. */
static const step cap_steps[] = {
    {HOLD, 'A', 0, 0, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 1, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 2, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 3, NULL, 0, 0, ANY},
    {HOLD, 'A', 0, 4, NULL, 0, 0, ANY},
    {NEXT, 0, 0, 0, "A0", 0, 0, ANY},
    {NEXT, 0, 0, 0, "A1", 0, 0, ANY},
    {NEXT, 0, 0, 0, "", 0, 0, 2, 3, 2},
    {LIMIT, 0, 0, 4, NULL, 0, 1, 2, 3, 4},
    {LIMIT, 0, 0, 4, NULL, 0, 0, 2, 3, 4}, /* the same cap again: no change */
    {NEXT, 0, 0, 0, "A2", 0, 0, ANY},
    {NEXT, 0, 0, 0, "A3", 0, 0, ANY},
    {NEXT, 0, 0, 0, "", 0, 0, 4, 1, 4},
    {LIMIT, 0, 0, 3, NULL, 0, 1, 4, 1, 3},
    {FINISH, 0, 0, 0, NULL, 0, 0, 3, 1, 3},
    {NEXT, 0, 0, 0, "", 0, 0, ANY}, /* 3 out of 3: still full */
    {FINISH, 0, 0, 0, NULL, 0, 0, 2, 1, 3},
    {NEXT, 0, 0, 0, "A4", 0, 0, 3, 0, 3},
    {OVERLOAD, 0, 0, 0, NULL, 1000, 1, 3, 0, 1},
    {LIMIT, 0, 0, 5, NULL, 0, 1, 3, 0, 3}, /* the cut of 2 stays */
    {TICK, 0, 0, 0, NULL, 31000, 1, 3, 0, 5},
};

/* The automatic budget's headroom (of_budget_auto, of_budget_observe): the cap plus
 * ceil(cap x (outside + 4 x deviation) / run), outside = hold - octopus, bounded by max_pct of
 * the cap. */
typedef struct obs {
    int64_t hold, octopus, run;
} obs;

static const struct {
    const char *name;
    int cap, max_pct;
    obs o[16];
    size_t n;
    int want_limit, want_headroom;
} auto_cases[] = {
    {"no observation yet: a quarter of the cap", 20, 400, {{0}}, 0, 25, 5},
    {"200 ms tasks noticed 900 ms late: bounded", 20, 400, {{1100, 200, 200}}, 1, 100, 80},
    {"under the bound", 20, 400, {{400, 200, 200}}, 1, 40, 20},
    {"5 min tasks noticed 100 ms late: one more", 20, 400, {{300100, 300000, 300000}}, 1, 21, 1},
    {"no headroom allowed", 20, 0, {{1100, 200, 200}}, 1, 20, 0},
    {"clock noise: hold shorter than Octopus's time", 20, 400, {{150, 200, 200}}, 1, 20, 0},
    {"queue time in Octopus is not outside time", 4, 400, {{1300, 1200, 200}}, 1, 6, 2},
    {"unusable observations are ignored",
     8,
     400,
     {{0, 200, 200}, {500, -1, 200}, {500, 200, 0}},
     3,
     10,
     2},
    {"a moving average: 900 ms, then 15 x 0 ms late",
     20,
     2000,
     {{1100, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200},
      {200, 200, 200}},
     16,
     /* mean 900 x (15/16)^15 = 341.8 ms, deviation 440.8 ms (gain 1/8 over |0 - mean|):
      * 20 x (341.8 + 4 x 440.8) / 200 = 210.5 -> 211 */
     231,
     211},
    {"steady: 200 ms late every time, no deviation",
     20,
     400,
     {{400, 200, 200},
      {400, 200, 200},
      {400, 200, 200},
      {400, 200, 200},
      {400, 200, 200},
      {400, 200, 200},
      {400, 200, 200},
      {400, 200, 200}},
     8,
     40,
     20},
    {"jitter: 100 and 500 ms late in turn, covered beyond the mean",
     20,
     1000,
     {{300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200},
      {300, 200, 200},
      {700, 200, 200}},
     16,
     /* mean 232.9 ms, deviation 185.5 ms: 20 x (232.9 + 4 x 185.5) / 200 = 97.5 -> 98 */
     118,
     98},
};

static void test_auto(void)
{
    for (size_t i = 0; i < sizeof auto_cases / sizeof auto_cases[0]; i++) {
        fprintf(stderr, "auto: %s\n", auto_cases[i].name);
        of_budget *b = NULL;
        CHECK_INT(of_budget_new(auto_cases[i].cap, &b), OF_OK);
        if (!b) continue;
        of_budget_auto(b, auto_cases[i].cap, auto_cases[i].max_pct);
        for (size_t k = 0; k < auto_cases[i].n; k++)
            (void)of_budget_observe(b, auto_cases[i].o[k].hold, auto_cases[i].o[k].octopus,
                                    auto_cases[i].o[k].run);
        CHECK_INT(of_budget_limit(b), auto_cases[i].want_limit);
        CHECK_INT(of_budget_headroom(b), auto_cases[i].want_headroom);
        of_budget_free(b);
    }
    /* a configured budget does not adapt */
    of_budget *b = NULL;
    CHECK_INT(of_budget_new(7, &b), OF_OK);
    if (b) {
        CHECK(!of_budget_observe(b, 1100, 200, 200));
        CHECK_INT(of_budget_limit(b), 7);
        CHECK_INT(of_budget_headroom(b), 0);
    }
    of_budget_free(b);
    /* the cap changes: the averages stay, the headroom follows the new cap */
    CHECK_INT(of_budget_new(10, &b), OF_OK);
    if (b) {
        of_budget_auto(b, 10, 400);
        CHECK(of_budget_observe(b, 400, 200, 200)); /* outside 200 / run 200: +10 */
        CHECK_INT(of_budget_limit(b), 20);
        of_budget_auto(b, 6, 400);
        CHECK_INT(of_budget_limit(b), 12);
    }
    of_budget_free(b);
}

/* Jobs "closed" (a closed maintenance window) are passed over, keep their place, and go first
 * once open; a release with nothing eligible does not stop the others. */
typedef struct closed_set {
    const char *jobs[8]; /* "A2": job 2 of A */
} closed_set;

static bool open_now(void *ctx, const char *rid, size_t job)
{
    const closed_set *c = ctx;
    char key[16];
    (void)snprintf(key, sizeof key, "%c%zu", rel_name(rid), job);
    for (size_t i = 0; i < 8 && c->jobs[i]; i++)
        if (strcmp(c->jobs[i], key) == 0) return false;
    return true;
}

/* Picks with of_budget_next_if(open_now, c) and checks each against want[i] ("" = none). */
static void expect_picks(of_budget *b, closed_set *c, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *rid = NULL;
        size_t job = 0;
        char got[16] = "";
        if (of_budget_next_if(b, open_now, c, &rid, &job))
            (void)snprintf(got, sizeof got, "%c%zu", rel_name(rid), job);
        CHECK_STR(got, want[i]);
    }
}

static void test_eligible(void)
{
    of_budget *b = NULL;
    CHECK_INT(of_budget_new(10, &b), OF_OK);
    if (!b) return;
    static const struct {
        char rel;
        size_t job;
    } holds[] = {{'A', 1}, {'A', 2}, {'A', 3}, {'B', 1}, {'B', 2}};
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++)
        CHECK_INT(of_budget_hold(b, rel_id(holds[i].rel), 0, 1, holds[i].job), OF_OK);
    closed_set c = {{"A1", "A2", "B1", "B2", NULL}};
    const char *const want[] = {"A3", ""}; /* B has nothing open: A goes on */
    expect_picks(b, &c, want, 2);
    CHECK_INT(of_budget_in_use(b), 1);
    CHECK_INT(of_budget_waiting(b), 4);
    /* the windows open: plan order within each release, round robin between them */
    closed_set none = {{NULL}};
    const char *const then[] = {"B1", "A1", "B2", "A2", ""};
    expect_picks(b, &none, then, 5);
    CHECK_INT(of_budget_waiting(b), 0);
    of_budget_free(b);
}

int main(void)
{
    scenario("limit", 2, limit_steps, sizeof limit_steps / sizeof limit_steps[0]);
    scenario("fair", 3, fair_steps, sizeof fair_steps / sizeof fair_steps[0]);
    scenario("first", 1, first_steps, sizeof first_steps / sizeof first_steps[0]);
    scenario("load", 2, load_steps, sizeof load_steps / sizeof load_steps[0]);
    scenario("backoff", 8, backoff_steps, sizeof backoff_steps / sizeof backoff_steps[0]);
    scenario("cap", 2, cap_steps, sizeof cap_steps / sizeof cap_steps[0]);
    test_auto();
    test_eligible();
    /* a budget below 1 is 1 */
    of_budget *b = NULL;
    CHECK_INT(of_budget_new(0, &b), OF_OK);
    if (b) CHECK_INT(of_budget_limit(b), 1);
    of_budget_free(b);
    return TEST_DONE();
}
