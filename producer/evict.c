/* Eviction decisions (evict.h). */
#include "evict.h"

bool of_evict_due(of_release_status st, bool in_flight, int64_t changed_ms, int64_t now_ms,
                  int64_t retention_ms)
{
    if (st != OF_RELEASE_COMPLETED && st != OF_RELEASE_ABORTED) return false;
    if (in_flight) return false;
    if (retention_ms <= 0) return true;
    if (changed_ms > now_ms) return false;
    return now_ms - changed_ms >= retention_ms;
}

int64_t of_evict_interval_ms(int64_t retention_ms)
{
    int64_t t = retention_ms / 10;
    if (t < 1000) return 1000;
    if (t > 60000) return 60000;
    return t;
}
