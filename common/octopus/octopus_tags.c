/* Tag sets: does a canonical tenant tag exist? (of_octo_tag_exists)
 *
 * Octopus answers a tenant query for an unknown tag with an empty list, exactly like a tag
 * nobody carries; the producer's planner must tell the two apart ("tag not found" rejects a
 * request, an unused tag does not). Built on the request engine (octopus_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "octopus_internal.h"

/* The answer: *res says whether the tag exists (NULL on error). */
typedef void (*exists_cb)(void *opaque, of_err err, const char *errstr, bool *res);

typedef struct tag_op {
    of_octo *c;
    char *tag;
    exists_cb cb;
    void *opaque;
} tag_op;

/* Tag names compare case-insensitively, as Octopus's tenant filter does. */
static bool set_has(json_t *set, const char *tag)
{
    const char *set_name = json_string_value(json_object_get(set, "Name"));
    json_t *tags = json_object_get(set, "Tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *canon = json_string_value(json_object_get(t, "CanonicalTagName"));
        if (canon && strcasecmp(canon, tag) == 0) return true;
        const char *name = json_string_value(json_object_get(t, "Name"));
        size_t sl = set_name ? strlen(set_name) : 0;
        if (set_name && name && strncasecmp(tag, set_name, sl) == 0 && tag[sl] == '/' &&
            strcasecmp(tag + sl + 1, name) == 0)
            return true;
    }
    return false;
}

static void tag_done(void *ctx, const octo_resp *r)
{
    tag_op *op = ctx;
    char es[OCTO_ES + 200] = "";
    bool exists = false;
    of_err rc = r->err;
    if (rc) {
        snprintf(es, sizeof(es), "%s", r->errstr);
    } else {
        json_t *j = NULL;
        char pe[OCTO_ES] = "";
        rc = octo_parse_body(r->body, r->body_len, NULL, &j, pe, sizeof(pe));
        json_t *items = j;
        size_t total = 0;
        /* tagsets/all is a bare array; accept a paged envelope too */
        if (!rc && !json_is_array(j))
            rc = octo_decode_page(j, "TagSet", &items, &total, pe, sizeof(pe));
        size_t i;
        json_t *set;
        if (!rc) json_array_foreach(items, i, set)
            {
                if (set_has(set, op->tag)) exists = true;
            }
        json_decref(j);
        if (rc) snprintf(es, sizeof(es), "%s: %s", r->label, pe);
    }
    if (rc) op->c->stats.failures++;
    octo_scrub(op->c, es);
    op->cb(op->opaque, rc, es, rc ? NULL : &exists);
    free(op->tag);
    free(op);
}

static of_err tag_exists_async(of_octo *c, const char *space_id, const char *tag, exists_cb cb,
                               void *opaque, char *errstr, size_t errstr_size)
{
    const char *space = NULL;
    of_err rc = octo_pick_space(c, space_id, &space, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(tag))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "tag name is empty");
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, space, "/tagsets/all");
    char *url = octo_url_detach(&u, rc);
    if (!url) return octo_url_error(errstr, errstr_size);
    tag_op *op = calloc(1, sizeof(*op));
    char *t = strdup(tag);
    if (!op || !t) {
        free(op);
        free(t);
        free(url);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    op->c = c;
    op->tag = t;
    op->cb = cb;
    op->opaque = opaque;
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, "tag sets", octo_space_label(c, space), 0,
                          tag_done, op, errstr, errstr_size);
    if (rc) {
        free(op->tag);
        free(op);
    }
    return rc;
}

OCTO_SYNC_CB(sync_exists, bool)

of_err of_octo_tag_exists(of_octo *c, const char *space_id, const char *tag, bool *exists,
                          char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, exists, sizeof(*exists));
    of_err rc = tag_exists_async(c, space_id, tag, sync_exists, &s, errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}
