/* The server's nodes (of_octo_list_server_nodes): MaxConcurrentTasks per node is the task cap
 * the fleet's task budget derives from when octopus.task_budget is 0 (docs/gating.md). Not
 * space-scoped. One request (octo_single) decoded as a CT_NODES call. */
#include <stdlib.h>
#include <string.h>

#include "octopus_internal.h"

static of_err list_nodes_async(of_octo *c, of_octo_server_node_list_cb cb, void *opaque,
                               char *errstr, size_t errstr_size)
{
    of_buf u;
    of_err rc = octo_url_begin(&u, c->base_url, NULL, "/octopusservernodes");
    if (!rc) rc = octo_url_query(&u, "take", "100");
    octo_call k = {.c = c, .type = CT_NODES, .cb.nodes = cb, .opaque = opaque};
    return octo_single(c, OCTO_GET, octo_url_detach(&u, rc), true, "server nodes", NULL, k, errstr,
                       errstr_size);
}

OCTO_SYNC_CB(sync_nodes, of_octo_server_node_list)

of_err of_octo_list_server_nodes(of_octo *c, of_octo_server_node_list *out, char *errstr,
                                 size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = list_nodes_async(c, sync_nodes, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}
