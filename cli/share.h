/* How a consumer group shares one stage topic, for `octofleet workers`: a pure function of
 * the group's description (common/kafka, of_kafka_describe_group). Tested table-driven in
 * tests/unit/test_share.c. */
#ifndef OF_CLI_SHARE_H
#define OF_CLI_SHARE_H

#include <stdbool.h>

#include "kafka.h"

typedef struct of_share {
    int partitions; /* the topic's partition count, -1: no such topic */
    int owned;      /* partitions some member owns */
    int workers;    /* members owning at least one */
    /* its partitions sit on fewer members than could share them (at most one per partition):
     * the stage runs on those members only */
    bool uneven;
} of_share;

/* Counts how g's members share topic (borrowed), which has partitions partitions. */
void of_share_count(const of_kafka_group *g, const char *topic, int partitions, of_share *out);

#endif
