/* Eviction decisions (producer/evict.h): state, jobs in flight, age and retention in, evict or
 * keep out, one row per case; and the check interval the producer derives from the retention. */
#include <stdio.h>

#include "evict.h"
#include "test.h"

#define S 1000LL
#define D (86400LL * S)

static const struct {
    const char *what;
    of_release_status st;
    bool in_flight;
    int64_t changed, now, retention;
    bool evict;
} rows[] = {
    {"completed, older than the retention", OF_RELEASE_COMPLETED, false, 0, 8 * D, 7 * D, true},
    {"completed, exactly the retention", OF_RELEASE_COMPLETED, false, D, 8 * D, 7 * D, true},
    {"completed, 1 ms short of it", OF_RELEASE_COMPLETED, false, D + 1, 8 * D, 7 * D, false},
    {"aborted, older than the retention", OF_RELEASE_ABORTED, false, 0, 8 * D, 7 * D, true},
    {"aborted, a task still running", OF_RELEASE_ABORTED, true, 0, 8 * D, 7 * D, false},
    {"completed, retention 0", OF_RELEASE_COMPLETED, false, 5 * S, 5 * S, 0, true},
    {"aborted, retention 0", OF_RELEASE_ABORTED, false, 5 * S, 5 * S, 0, true},
    {"aborted, retention 0, in flight", OF_RELEASE_ABORTED, true, 5 * S, 5 * S, 0, false},
    {"paused: waits for an operator", OF_RELEASE_PAUSED, false, 0, 100 * D, 7 * D, false},
    {"paused, retention 0", OF_RELEASE_PAUSED, false, 0, 100 * D, 0, false},
    {"running", OF_RELEASE_RUNNING, false, 0, 100 * D, 0, false},
    {"changed in the future (clock stepped)", OF_RELEASE_COMPLETED, false, 9 * D, 8 * D, 7 * D,
     false},
};

static const struct {
    int64_t retention, interval;
} intervals[] = {
    {0, 1 * S}, {5 * S, 1 * S}, {30 * S, 3 * S}, {10 * 60 * S, 60 * S}, {7 * D, 60 * S},
};

int main(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = of_evict_due(rows[i].st, rows[i].in_flight, rows[i].changed, rows[i].now,
                                rows[i].retention);
        if (got != rows[i].evict) fprintf(stderr, "row %zu: %s\n", i, rows[i].what);
        CHECK_INT(got, rows[i].evict);
    }
    for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++)
        CHECK_INT(of_evict_interval_ms(intervals[i].retention), intervals[i].interval);
    return TEST_DONE();
}
