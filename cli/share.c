/* See share.h. */
#include "share.h"

#include <string.h>

void of_share_count(const of_kafka_group *g, const char *topic, int partitions, of_share *out)
{
    memset(out, 0, sizeof(*out));
    out->partitions = partitions;
    for (size_t i = 0; i < g->nmembers; i++) {
        int mine = 0;
        for (size_t k = 0; k < g->members[i].nparts; k++)
            mine += strcmp(g->members[i].parts[k].topic, topic) == 0;
        out->owned += mine;
        out->workers += mine > 0;
    }
    int could = (int)g->nmembers < partitions ? (int)g->nmembers : partitions;
    out->uneven = out->owned > 0 && out->workers < could;
}
