/* The live view's text (cli/view.h): a table of models and what each screen must (and must
 * not) show, plus widths, heights, colours and hostile text. */
#include "test.h"
#include "view.h"

static const char *const ENVS[] = {"Dev", "Test"};
static const char *const NAMES[] = {"database", NULL};

/* stage 1 done in both environments; stage 2 half done in Dev, pending in Test */
static const of_view_cell CELLS[] = {
    {OF_STAGE_SUCCEEDED, 2, 2, 0, 0, 0, 0, 0},
    {OF_STAGE_SUCCEEDED, 2, 1, 1, 0, 0, 0, 0},
    {OF_STAGE_FAILED, 4, 1, 0, 1, 1, 0, 1},
    {OF_STAGE_PENDING, 4, 0, 0, 0, 0, 0, 0},
};

static const of_view_job JOBS[] = {
    {2, "Api", "Dev", "Bravo", OF_JOB_FAILED, 1, "disk full", "http://octo/app#/d/1"},
    {2, "Api", "Dev", NULL, OF_JOB_WAITING, 2, NULL, NULL},
    {2, "Web", "Dev", "Alpha", OF_JOB_TIMED_OUT, 1, "bad\033[2Jtext\nhere", NULL},
};

typedef struct view_case {
    const char *name;
    of_release_status status;
    size_t n_jobs;
    double rate;
    int64_t eta;
    const char *footer;
    int width, height;
    bool color;
    const char *want[6];   /* substrings that must be there */
    const char *nowant[4]; /* ... and must not */
} view_case;

static const view_case CASES[] = {
    {"running, rate known",
     OF_RELEASE_RUNNING,
     0,
     12.5,
     150000,
     NULL,
     120,
     0,
     false,
     {"release 2026.18 (rid)  running, round 1", "12.5 jobs/min   about 2m30s left",
      "1 database       Dev              succeeded  [####################]     2/2 ",
      "2                Dev              failed     [##########..........]     2/4 ",
      "2                Test             pending    [....................]     0/4 "},
     {"needs attention", "\033["}},
    {"rate not known yet",
     OF_RELEASE_RUNNING,
     0,
     -1,
     -1,
     NULL,
     120,
     0,
     false,
     {"watching 1m05s\n"},
     {"jobs/min", "left"}},
    {"paused with failing and waiting jobs",
     OF_RELEASE_PAUSED,
     3,
     -1,
     -1,
     "release.paused: 1 failed job(s)",
     120,
     0,
     false,
     {"needs attention (3):", "failed     stage 2 Api Dev / Bravo attempt 1: disk full",
      "             http://octo/app#/d/1", "waiting    stage 2 Api Dev attempt 2",
      "release.paused: 1 failed job(s)"},
     {"\033", "text\nhere"}},
    {"narrow screen cuts lines",
     OF_RELEASE_RUNNING,
     3,
     -1,
     -1,
     NULL,
     40,
     0,
     false,
     {"release 2026.18 (rid)  running, round 1\n"},
     {"DONE/JOBS"}},
    {"short screen cuts the job list",
     OF_RELEASE_PAUSED,
     3,
     -1,
     -1,
     NULL,
     120,
     13,
     false,
     {"+2 more (octofleet status shows them all)"},
     {"Web Dev / Alpha"}},
    {"very short screen cuts the table",
     OF_RELEASE_PAUSED,
     3,
     -1,
     -1,
     "release.paused",
     120,
     9,
     false,
     {"1 database       Test ", "+2 more row(s) (octofleet status shows them all)",
      "release.paused"},
     {"2                Dev", "needs attention"}},
    {"colour",
     OF_RELEASE_COMPLETED,
     0,
     -1,
     -1,
     "release.completed",
     120,
     0,
     true,
     {"\033[32mcompleted\033[0m", "\033[31mfailed\033[0m", "\033[2mpending\033[0m"},
     {NULL}},
};

/* Longest line, in columns (UTF-8 continuation bytes and SGR sequences take none). */
static int widest(const char *s)
{
    int w = 0, col = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n') {
            col = 0;
            continue;
        }
        if (*p == '\033') {
            while (*p && *p != 'm')
                p++;
            continue;
        }
        if ((*p & 0xC0) != 0x80 && ++col > w) w = col;
    }
    return w;
}

int main(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const view_case *k = &CASES[c];
        of_view_model m = {.release_name = "2026.18",
                           .release_id = "rid",
                           .status = k->status,
                           .round = 1,
                           .stage_count = 2,
                           .stage_names = NAMES,
                           .n_envs = 2,
                           .envs = ENVS,
                           .cells = CELLS,
                           .attention = JOBS,
                           .n_attention = k->n_jobs,
                           .elapsed_ms = 65000,
                           .rate_per_min = k->rate,
                           .eta_ms = k->eta,
                           .footer = k->footer};
        char *s = of_view_render(&m, k->width, k->height, k->color);
        CHECK(s != NULL);
        if (!s) continue;
        for (size_t i = 0; i < 6 && k->want[i]; i++) {
            if (!strstr(s, k->want[i])) fprintf(stderr, "case '%s':\n%s", k->name, s);
            CHECK_CONTAINS(s, k->want[i]);
        }
        for (size_t i = 0; i < 4 && k->nowant[i]; i++) {
            if (strstr(s, k->nowant[i]))
                fprintf(stderr, "case '%s' shows '%s':\n%s", k->name, k->nowant[i], s);
            CHECK(strstr(s, k->nowant[i]) == NULL);
        }
        CHECK(widest(s) <= k->width);
        if (k->height) {
            int lines = 0;
            for (const char *p = s; *p; p++)
                lines += *p == '\n';
            CHECK(lines <= k->height);
        }
        free(s);
    }
    char d[32];
    CHECK_STR(of_view_duration(3723000, d, sizeof d), "1h02m");
    CHECK_STR(of_view_duration(185000, d, sizeof d), "3m05s");
    CHECK_STR(of_view_duration(42999, d, sizeof d), "42s");
    CHECK_STR(of_view_duration(-5, d, sizeof d), "0s");
    return TEST_DONE();
}
