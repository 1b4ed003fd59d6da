/* URL building for the Octopus client: every name and id a caller gives us is
 * percent-encoded, so a tenant called "A/B & C?#ü" is one path segment or one
 * query value, never a path separator, a second parameter or a fragment. */
#include <string.h>

#include "octopus_internal.h"

of_err octo_url_start(of_buf *b, const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    of_buf_reset(b);
    return of_buf_append(b, base, n);
}

of_err octo_url_lit(of_buf *b, const char *lit)
{
    return of_buf_puts(b, lit);
}

of_err octo_url_seg(of_buf *b, const char *seg)
{
    of_err rc = of_buf_append(b, "/", 1);
    return rc ? rc : octo_url_encode(b, seg);
}

of_err octo_url_api(of_buf *b, const char *space_id)
{
    of_err rc = of_buf_puts(b, "/api");
    if (!rc && space_id) rc = octo_url_seg(b, space_id);
    return rc;
}

of_err octo_url_begin(of_buf *b, const char *base, const char *space_id, const char *path)
{
    of_buf_init(b, OCTO_URL_MAX);
    of_err rc = octo_url_start(b, base);
    if (!rc) rc = octo_url_api(b, space_id);
    if (!rc && path) rc = octo_url_lit(b, path);
    return rc;
}

static of_err query_sep(of_buf *b, const char *key)
{
    const char *sep = (b->data && memchr(b->data, '?', b->len)) ? "&" : "?";
    of_err rc = of_buf_puts(b, sep);
    if (!rc) rc = octo_url_encode(b, key);
    if (!rc) rc = of_buf_append(b, "=", 1);
    return rc;
}

of_err octo_url_query(of_buf *b, const char *key, const char *value)
{
    of_err rc = query_sep(b, key);
    return rc ? rc : octo_url_encode(b, value);
}

of_err octo_url_query_size(of_buf *b, const char *key, size_t value)
{
    of_err rc = query_sep(b, key);
    return rc ? rc : of_buf_printf(b, "%zu", value);
}

of_err octo_url_query_list(of_buf *b, const char *key, const char *const *vals, size_t n)
{
    of_err rc = query_sep(b, key);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i > 0) rc = of_buf_append(b, ",", 1);
        if (!rc) rc = octo_url_encode(b, vals[i]);
    }
    return rc;
}
