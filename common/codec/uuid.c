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
static void append_escaped(of_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '/')
            (void)of_buf_puts(b, "%2F");
        else if (*p == '%')
            (void)of_buf_puts(b, "%25");
        else
            (void)of_buf_append(b, p, 1);
    }
}

/* Names come from a request capped at OF_MSG_MAX_SIZE, so the 2 MiB cap is never hit;
 * running out of memory while deriving an id leaves no safe answer, hence the assert. */
#define ID_NAME_MAX ((size_t)2 << 20)

void of_uuid_release_id(const char *space, const char *release, char out[OF_UUID_STR_SIZE])
{
    of_buf b;
    of_buf_init(&b, ID_NAME_MAX);
    append_escaped(&b, space);
    (void)of_buf_puts(&b, "/");
    append_escaped(&b, release);
    OF_ASSERT(b.data != NULL);
    of_uuid_v5(b.data, out);
    of_buf_free(&b);
}

void of_uuid_job_id(const char *release_id, int stage, const char *project, const char *environment,
                    const char *tenant, char out[OF_UUID_STR_SIZE])
{
    of_buf b;
    of_buf_init(&b, ID_NAME_MAX);
    of_err rc = of_buf_printf(&b, "%s/%d/", release_id ? release_id : "", stage);
    OF_ASSERT(rc == OF_OK);
    append_escaped(&b, project);
    (void)of_buf_puts(&b, "/");
    append_escaped(&b, environment);
    (void)of_buf_puts(&b, "/");
    append_escaped(&b, tenant);
    OF_ASSERT(b.data != NULL);
    of_uuid_v5(b.data, out);
    of_buf_free(&b);
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
