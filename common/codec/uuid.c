/* UUIDv5 ids on top of libuuid (the only file that includes it). */
#include "uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "buf.h"
#include "err.h"

void of_uuid_v5(const char *name, char out[OF_UUID_STR_SIZE])
{
    uuid_t ns, id;
    int rc = uuid_parse(OF_UUID_NAMESPACE, ns);
    OF_ASSERT(rc == 0);
    uuid_generate_sha1(id, ns, name, strlen(name));
    uuid_unparse_lower(id, out);
}

/* Appends s with '%' and '/' escaped, so joined names cannot collide. */
static of_err append_escaped(of_buf *b, const char *s)
{
    of_err rc = OF_OK;
    for (const char *p = s ? s : ""; rc == OF_OK && *p; p++) {
        if (*p == '/')
            rc = of_buf_puts(b, "%2F");
        else if (*p == '%')
            rc = of_buf_puts(b, "%25");
        else
            rc = of_buf_append(b, p, 1);
    }
    return rc;
}

/* Names come from a request capped at OF_MSG_MAX_SIZE, so the 2 MiB cap is never hit;
 * running out of memory while deriving an id leaves no safe answer, hence the assert. */
#define ID_NAME_MAX ((size_t)2 << 20)

void of_uuid_release_id(const char *space, const char *release, char out[OF_UUID_STR_SIZE])
{
    of_buf b;
    of_buf_init(&b, ID_NAME_MAX);
    of_err rc = append_escaped(&b, space);
    if (rc == OF_OK) rc = of_buf_puts(&b, "/");
    if (rc == OF_OK) rc = append_escaped(&b, release);
    OF_ASSERT(rc == OF_OK && b.data != NULL);
    of_uuid_v5(b.data, out);
    of_buf_clear(&b);
}

void of_uuid_job_id(const char *release_id, int stage, const char *project, const char *environment,
                    const char *tenant, char out[OF_UUID_STR_SIZE])
{
    of_buf b;
    of_buf_init(&b, ID_NAME_MAX);
    of_err rc = of_buf_printf(&b, "%s/%d/", release_id ? release_id : "", stage);
    if (rc == OF_OK) rc = append_escaped(&b, project);
    if (rc == OF_OK) rc = of_buf_puts(&b, "/");
    if (rc == OF_OK) rc = append_escaped(&b, environment);
    if (rc == OF_OK) rc = of_buf_puts(&b, "/");
    if (rc == OF_OK) rc = append_escaped(&b, tenant);
    OF_ASSERT(rc == OF_OK && b.data != NULL);
    of_uuid_v5(b.data, out);
    of_buf_clear(&b);
}

void of_uuid_random(char out[OF_UUID_STR_SIZE])
{
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, out);
}

bool of_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36) return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
