/* Deterministic ids (UUIDv5, RFC 9562) so that a producer that crashes and redoes a
 * decision derives the same release, job and event ids, and consumers can dedupe.
 *
 * All ids live under one fixed octofleet namespace (OF_UUID_NAMESPACE). Output is the
 * canonical lower-case form in a caller buffer of OF_UUID_STR_SIZE (37) bytes. libuuid
 * is used from this module only. Pure and thread-safe. */
#ifndef OF_UUID_H
#define OF_UUID_H

#include <stdbool.h>

#include "model.h"

/* The octofleet namespace (itself UUIDv5(DNS, "octofleet.dev")); never change it: every
 * stored id depends on it. */
#define OF_UUID_NAMESPACE "5aa9fdc3-425b-543c-9d79-b2f4eb960011"

/* UUIDv5(OF_UUID_NAMESPACE, name). */
void of_uuid_v5(const char *name, char out[OF_UUID_STR_SIZE]);

/* release_id = UUIDv5("<space>/<release>"), names as written in the request. */
void of_uuid_release_id(const char *space, const char *release, char out[OF_UUID_STR_SIZE]);

/* job_id = UUIDv5("<release_id>/<stage>/<project>/<environment>/<tenant>"), names, tenant
 * NULL or "" for untenanted. '%' and '/' inside names are escaped (%25, %2F) so that
 * ("a/b","c") and ("a","b/c") cannot collide. */
void of_uuid_job_id(const char *release_id, int stage, const char *project, const char *environment,
                    const char *tenant, char out[OF_UUID_STR_SIZE]);

/* A new random UUID (version 4): the command_id of an operator command, which must differ
 * between two sends of the same command. */
void of_uuid_random(char out[OF_UUID_STR_SIZE]);

/* True if s is a canonical 36-character UUID (any case). */
bool of_uuid_valid(const char *s);

#endif
