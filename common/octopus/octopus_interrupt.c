/* Answering a task's interruptions (of_octo_answer_interruptions_async): the pending manual
 * interventions or guided failures of one server task, as Octopus's own clients do it: list
 * them (GET interruptions?regarding=<task>&pendingOnly=true), take responsibility for each
 * (PUT interruptions/{id}/responsible), then submit its form (POST interruptions/{id}/submit
 * with the form's values). One interruption at a time, in the order listed: a task rarely has
 * more than one pending, and Octopus raises the next only after the first is answered.
 *
 * A submit is not idempotent (a repeated one is refused: the interruption is no longer
 * pending), so it is never retried after the server may have acted; the caller's next look at
 * the task shows whether it still waits. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "octopus_internal.h"

/* A task's pending interruptions: few; more than a page of them is not a deployment. */
#define ANSWER_TAKE 30

typedef struct pending_item {
    char *id;
    char *title;
    bool responsible; /* HasResponsibility: ours already (an earlier try got that far) */
} pending_item;

typedef struct answer_op {
    of_octo *c;
    char *space; /* for messages */
    char *sp;    /* the space id in URLs */
    char *task_id;
    char *type, *field, *value, *notes;
    of_octo_answer_cb cb;
    void *opaque;
    pending_item *items;
    size_t n, next;
    of_octo_answered_list res;
} answer_op;

void of_octo_answered_list_clear(of_octo_answered_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].title);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void op_free(answer_op *op)
{
    for (size_t i = 0; i < op->n; i++) {
        free(op->items[i].id);
        free(op->items[i].title);
    }
    free(op->items);
    free(op->space);
    free(op->sp);
    free(op->task_id);
    free(op->type);
    free(op->field);
    free(op->value);
    free(op->notes);
    of_octo_answered_list_clear(&op->res);
    free(op);
}

/* Ends the operation: the callback once, with the key scrubbed from the message. */
static void op_end(answer_op *op, of_err err, const char *errstr)
{
    char msg[OCTO_ES + 200];
    snprintf(msg, sizeof msg, "%s", err ? errstr : "");
    octo_scrub(op->c, msg);
    if (err) op->c->stats.failures++;
    op->cb(op->opaque, err, msg, err ? NULL : &op->res);
    op_free(op);
}

static char *item_url(const answer_op *op, const char *id, const char *suffix)
{
    of_buf u;
    of_err rc = octo_url_begin(&u, op->c->base_url, op->sp, "/interruptions");
    if (!rc) rc = octo_url_seg(&u, id);
    if (!rc) rc = octo_url_lit(&u, suffix);
    return octo_url_detach(&u, rc);
}

static void step(answer_op *op);

/* One request about the current interruption (url and body owned by the call); a failure to
 * queue it ends the operation. */
static void item_call(answer_op *op, octo_method m, char *url, char *body, bool idempotent,
                      octo_done_fn done)
{
    char es[OCTO_ES], what[160];
    if (!url || (m == OCTO_POST && !body)) {
        free(url);
        free(body);
        op_end(op, OF_ERR_NOMEM, "out of memory");
        return;
    }
    snprintf(what, sizeof what, "interruption %s", op->items[op->next].id);
    of_err rc = octo_call_submit(op->c, m, url, body, idempotent, what, op->space, 0, done, op, es,
                                 sizeof es);
    if (rc) op_end(op, rc, es);
}

static void submit_done(void *ctx, const octo_resp *r)
{
    answer_op *op = ctx;
    pending_item *it = &op->items[op->next];
    if (r->err) {
        char es[OCTO_ES + 300];
        snprintf(es, sizeof es, "answering %s of task %s (%zu answered before it): %s", it->id,
                 op->task_id, op->res.n, r->errstr);
        op_end(op, r->err, es);
        return;
    }
    of_octo_answered *a = &op->res.items[op->res.n++];
    a->id = it->id;
    a->title = it->title;
    it->id = it->title = NULL;
    op->next++;
    step(op);
}

static void submit(answer_op *op)
{
    json_t *body = json_object();
    char *text = NULL;
    if (body && json_object_set_new(body, op->field, json_string(op->value)) == 0 &&
        json_object_set_new(body, "Notes", json_string(op->notes ? op->notes : "")) == 0)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    /* never retried once the server may have acted: a repeated submit is refused */
    item_call(op, OCTO_POST, item_url(op, op->items[op->next].id, "/submit"), text, false,
              submit_done);
}

static void responsible_done(void *ctx, const octo_resp *r)
{
    answer_op *op = ctx;
    if (r->err) {
        char es[OCTO_ES + 300];
        snprintf(es, sizeof es, "taking responsibility for %s of task %s: %s",
                 op->items[op->next].id, op->task_id, r->errstr);
        op_end(op, r->err, es);
        return;
    }
    submit(op);
}

/* The next pending interruption: responsibility first (unless ours), then the submit. */
static void step(answer_op *op)
{
    if (op->next >= op->n) {
        op_end(op, OF_OK, "");
        return;
    }
    pending_item *it = &op->items[op->next];
    if (it->responsible) {
        submit(op);
        return;
    }
    /* Taking responsibility twice is harmless: retried like a read. */
    item_call(op, OCTO_PUT, item_url(op, it->id, "/responsible"), NULL, true, responsible_done);
}

static void list_done(void *ctx, const octo_resp *r)
{
    answer_op *op = ctx;
    char es[OCTO_ES];
    json_t *j = NULL;
    if (r->err) {
        op_end(op, r->err, r->errstr);
        return;
    }
    of_err rc = octo_parse_body(r->body, r->body_len, NULL, &j, es, sizeof es);
    json_t *items = rc ? NULL : json_object_get(j, "Items");
    if (!rc && !json_is_array(items))
        rc = of_seterr(es, sizeof es, OF_ERR_PROTOCOL, "no Items array");
    size_t n = rc ? 0 : json_array_size(items);
    if (!rc && n) {
        op->items = calloc(n, sizeof *op->items);
        op->res.items = calloc(n, sizeof *op->res.items);
        if (!op->items || !op->res.items) rc = of_seterr(es, sizeof es, OF_ERR_NOMEM, "oom");
    }
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *it = json_array_get(items, i);
        const char *id = json_string_value(json_object_get(it, "Id"));
        const char *type = json_string_value(json_object_get(it, "Type"));
        if (!json_is_true(json_object_get(it, "IsPending"))) continue; /* answered meanwhile */
        if (!id || !*id) {
            rc = of_seterr(es, sizeof es, OF_ERR_PROTOCOL, "Items[%zu]: no Id", i);
            break;
        }
        if (!type || strcmp(type, op->type) != 0) {
            op->res.other++; /* someone else's to answer */
            continue;
        }
        const char *title = json_string_value(json_object_get(it, "Title"));
        pending_item *p = &op->items[op->n];
        p->id = strdup(id);
        p->title = title ? strdup(title) : NULL;
        p->responsible = json_is_true(json_object_get(it, "HasResponsibility"));
        if (!p->id || (title && !p->title)) {
            free(p->id);
            free(p->title);
            rc = of_seterr(es, sizeof es, OF_ERR_NOMEM, "out of memory");
            break;
        }
        op->n++;
    }
    json_decref(j);
    if (rc) {
        char msg[OCTO_ES + 200];
        snprintf(msg, sizeof msg, "%s: %s", r->label, es);
        op_end(op, rc, msg);
        return;
    }
    step(op);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

of_err of_octo_answer_interruptions_async(of_octo *c, const char *space_id, const char *task_id,
                                          const of_octo_answer *a, of_octo_answer_cb cb,
                                          void *opaque, char *errstr, size_t errstr_size)
{
    const char *sp;
    of_err rc = octo_pick_space(c, space_id, &sp, errstr, errstr_size);
    if (rc) return rc;
    if (!octo_nonempty(task_id) || !a || !octo_nonempty(a->type) || !octo_nonempty(a->field) ||
        !octo_nonempty(a->value))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                         "answering interruptions needs a task id, a type, a field and a value");
    answer_op *op = calloc(1, sizeof *op);
    if (!op) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    bool oom = false;
    op->c = c;
    op->cb = cb;
    op->opaque = opaque;
    op->space = dup_or_null(octo_space_label(c, sp), &oom);
    op->sp = dup_or_null(sp, &oom);
    op->task_id = dup_or_null(task_id, &oom);
    op->type = dup_or_null(a->type, &oom);
    op->field = dup_or_null(a->field, &oom);
    op->value = dup_or_null(a->value, &oom);
    op->notes = dup_or_null(a->notes, &oom);
    of_buf u;
    rc = octo_url_begin(&u, c->base_url, sp, "/interruptions");
    if (!rc) rc = octo_url_query(&u, "regarding", task_id);
    if (!rc) rc = octo_url_query(&u, "pendingOnly", "true");
    if (!rc) rc = octo_url_query_size(&u, "take", ANSWER_TAKE);
    char *url = octo_url_detach(&u, rc);
    if (oom || !url) {
        free(url);
        op_free(op);
        return oom ? of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory")
                   : octo_url_error(errstr, errstr_size);
    }
    char what[160];
    snprintf(what, sizeof what, "interruptions of task %s", task_id);
    rc = octo_call_submit(c, OCTO_GET, url, NULL, true, what, op->space, 0, list_done, op, errstr,
                          errstr_size);
    if (rc) op_free(op);
    return rc;
}

OCTO_SYNC_CB(sync_answered, of_octo_answered_list)

of_err of_octo_answer_interruptions(of_octo *c, const char *space_id, const char *task_id,
                                    const of_octo_answer *a, of_octo_answered_list *out,
                                    char *errstr, size_t errstr_size)
{
    octo_sync s;
    octo_sync_begin(&s, out, sizeof(*out));
    of_err rc = of_octo_answer_interruptions_async(c, space_id, task_id, a, sync_answered, &s,
                                                   errstr, errstr_size);
    return octo_sync_finish(c, &s, rc, errstr, errstr_size);
}
