/* How a group shares a stage topic (cli/share.h): a table of groups, each member given as the
 * partitions it owns of topic "s1" (and of "s2", which must never count), and what
 * `octofleet workers` must conclude. */
#include "share.h"
#include "test.h"

#define NONE (-1)
#define MAXM 4
#define MAXP 8

typedef struct share_case {
    const char *name;
    int partitions;
    int nmembers;
    int s1[MAXM][MAXP]; /* each row ends with NONE */
    int s2[MAXM];       /* how many partitions of s2 the member owns too */
    int owned, workers;
    bool uneven;
} share_case;

static const share_case CASES[] = {
    {"three share six", 6, 3, {{0, 3, NONE}, {1, 4, NONE}, {2, 5, NONE}}, {2, 2, 2}, 6, 3, false},
    {"a fourth owns all of it",
     6,
     4,
     {{NONE}, {NONE}, {NONE}, {0, 1, 2, 3, 4, 5, NONE}},
     {2, 2, 2, 0},
     6,
     1,
     true},
    {"two of three, the third only s2",
     6,
     3,
     {{0, 1, 2, NONE}, {3, 4, 5, NONE}, {NONE}},
     {0, 0, 6},
     6,
     2,
     true},
    {"more workers than partitions",
     2,
     4,
     {{0, NONE}, {1, NONE}, {NONE}, {NONE}},
     {1, 1, 1, 1},
     2,
     2,
     false},
    {"one worker", 6, 1, {{0, 1, 2, 3, 4, 5, NONE}}, {0}, 6, 1, false},
    {"mid-rebalance: some owned by nobody",
     6,
     3,
     {{0, NONE}, {NONE}, {NONE}},
     {0, 0, 0},
     1,
     1,
     true},
    {"nobody owns anything", 6, 3, {{NONE}, {NONE}, {NONE}}, {0, 0, 0}, 0, 0, false},
    {"empty group", 6, 0, {{NONE}}, {0}, 0, 0, false},
    {"no such topic", NONE, 2, {{NONE}, {NONE}}, {1, 1}, 0, 0, false},
};

static char S1[] = "s1", S2[] = "s2";

int main(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const share_case *k = &CASES[c];
        of_kafka_group_member members[MAXM];
        of_kafka_owned_partition parts[MAXM][2 * MAXP];
        memset(members, 0, sizeof members);
        for (int m = 0; m < k->nmembers; m++) {
            size_t n = 0;
            for (int i = 0; i < MAXP && k->s1[m][i] != NONE; i++)
                parts[m][n++] = (of_kafka_owned_partition){S1, k->s1[m][i]};
            for (int i = 0; i < k->s2[m]; i++)
                parts[m][n++] = (of_kafka_owned_partition){S2, i};
            members[m].parts = parts[m];
            members[m].nparts = n;
        }
        of_kafka_group g = {.members = members, .nmembers = (size_t)k->nmembers};
        of_share sh;
        of_share_count(&g, S1, k->partitions, &sh);
        if (sh.owned != k->owned || sh.workers != k->workers || sh.uneven != k->uneven)
            fprintf(stderr, "case '%s': owned %d workers %d uneven %d\n", k->name, sh.owned,
                    sh.workers, sh.uneven);
        CHECK_INT(sh.partitions, k->partitions);
        CHECK_INT(sh.owned, k->owned);
        CHECK_INT(sh.workers, k->workers);
        CHECK(sh.uneven == k->uneven);
    }
    return TEST_DONE();
}
