/* Reading an orchestration project for `octofleet import`: a release's manifest (its selected
 * packages and process snapshot), a deployment process, and {Id, Name} lists to name the ids a
 * process holds. Blocking, uncached, one GET each, built on the request engine
 * (octopus_internal.h) like octopus_tags.c; the reply is capped by max_response_bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "octopus_internal.h"

typedef of_err (*decode_fn)(json_t *j, const char *kind, void *out, char *errstr,
                            size_t errstr_size);

typedef struct get_op {
    octo_sync *sync;
    decode_fn decode;
    const char *kind; /* static */
    size_t out_size;
} get_op;

static void get_done(void *ctx, const octo_resp *r)
{
    get_op *op = ctx;
    char es[OCTO_ES + 200] = "";
    of_err rc = r->err;
    void *res = NULL;
    if (rc) {
        snprintf(es, sizeof(es), "%s", r->errstr);
    } else {
        json_t *j = NULL;
        char pe[OCTO_ES] = "";
        res = calloc(1, op->out_size);
        rc = res ? octo_parse_body(r->body, r->body_len, NULL, &j, pe, sizeof(pe)) : OF_ERR_NOMEM;
        if (!rc) rc = op->decode(j, op->kind, res, pe, sizeof(pe));
        json_decref(j);
        if (rc)
            snprintf(es, sizeof(es), "%s: %s", r->label, rc == OF_ERR_NOMEM ? "out of memory" : pe);
    }
    octo_sync_store(op->sync, rc, es, rc ? NULL : res);
    free(res); /* its contents were moved out (or never made) */
    free(op);
}

/* GET <base>/api/<space>/<path...> and decode the reply into out (out_size bytes), blocking. */
static of_err get_decoded(of_octo *c, const char *space_id, const char *collection, const char *id,
                          const char *suffix, const char *what, const char *kind, decode_fn decode,
                          void *out, size_t out_size, char *errstr, size_t errstr_size)
{
    const char *space = NULL;
    of_err rc = octo_pick_space(c, space_id, &space, errstr, errstr_size);
    if (rc) return rc;
    if (id && !octo_nonempty(id))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "%s id is empty", kind);
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, space, collection);
    if (!rc && id) rc = octo_url_seg(&u, id);
    if (!rc && suffix) rc = octo_url_lit(&u, suffix);
    char *url = octo_url_detach(&u, rc);
    if (!url) return octo_url_error(errstr, errstr_size);
    get_op *op = calloc(1, sizeof(*op));
    if (!op) {
        free(url);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    octo_sync s;
    octo_sync_begin(&s, out, out_size);
    *op = (get_op){&s, decode, kind, out_size};
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, what, octo_space_label(c, space), 0,
                          get_done, op, errstr, errstr_size);
    if (rc) free(op);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}

static of_err decode_manifest(json_t *j, const char *kind, void *out, char *es, size_t n)
{
    (void)kind;
    return octo_decode_release_manifest(j, out, es, n);
}

static of_err decode_process(json_t *j, const char *kind, void *out, char *es, size_t n)
{
    (void)kind;
    return octo_decode_process(j, out, es, n);
}

static of_err decode_refs(json_t *j, const char *kind, void *out, char *es, size_t n)
{
    return octo_decode_ref_list(j, kind, out, es, n);
}

of_err of_octo_get_release_manifest(of_octo *c, const char *space_id, const char *release_id,
                                    of_octo_release_manifest *out, char *errstr, size_t errstr_size)
{
    char what[300];
    snprintf(what, sizeof(what), "release %s", release_id ? release_id : "");
    return get_decoded(c, space_id, "/releases", release_id ? release_id : "", NULL, what,
                       "Release", decode_manifest, out, sizeof(*out), errstr, errstr_size);
}

of_err of_octo_get_process(of_octo *c, const char *space_id, const char *process_id,
                           of_octo_process *out, char *errstr, size_t errstr_size)
{
    char what[300];
    snprintf(what, sizeof(what), "deployment process %s", process_id ? process_id : "");
    return get_decoded(c, space_id, "/deploymentprocesses", process_id ? process_id : "", NULL,
                       what, "Deployment process", decode_process, out, sizeof(*out), errstr,
                       errstr_size);
}

of_err of_octo_list_refs(of_octo *c, const char *space_id, const char *kind, of_octo_ref_list *out,
                         char *errstr, size_t errstr_size)
{
    bool projects = kind && strcmp(kind, "projects") == 0;
    if (!projects && !(kind && strcmp(kind, "environments") == 0))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "of_octo_list_refs: kind must be \"projects\" or \"environments\"");
    return get_decoded(c, space_id, projects ? "/projects/all" : "/environments/all", NULL, NULL,
                       kind, projects ? "Project" : "Environment", decode_refs, out, sizeof(*out),
                       errstr, errstr_size);
}
