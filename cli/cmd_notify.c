/* `octofleet notify`: one chat message per release, updated in place as it progresses.
 *
 * It reads the events topic like `octofleet events --group` (its partitions assigned, its
 * position kept under notify.group_id; no group session to time out). A release it meets for
 * the first time is read from the releases topic (as `status` does), so a notifier started
 * mid-release, or restarted, shows the real counts; the events that follow are applied to that
 * state (of_relstate_apply). Each release is sent at most once per notify.min_interval; its last
 * state is always sent. The position committed never passes an event whose change has not been
 * sent yet, so a crash sends it again rather than losing it, and the message id kept in
 * notify.state_file makes that an update of the same message. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "httpc.h"
#include "log.h"
#include "msg.h"
#include "notify.h"
#include "relstate.h"
#include "secret.h"
#include "signals.h"

#define KAFKA_TIMEOUT_MS   30000
#define COMMIT_EVERY_MS    1000
#define MAX_RESPONSE_BYTES (1024 * 1024)
#define ANSWER_SHOWN       300 /* bytes of a receiver's answer in a log line */

static const char notify_usage[] =
    "usage: octofleet notify -c FILE [--set KEY=VALUE]... [--dump-config] [options]\n\n"
    "Runs the notifier: follows the events topic and keeps ONE chat message per release up to\n"
    "date (stage k of K, n/N jobs done, the failed jobs with their tenants, then paused,\n"
    "completed or aborted), instead of one message per deployment. The first send creates\n"
    "the message; later sends update it, at most once per notify.min_interval, and the last\n"
    "state is always sent. notify.mode webhook: POST <url> creates (the reply names the id:\n"
    "{\"id\": ...}), PUT <url>/<id> updates. notify.mode slack: chat.postMessage, then\n"
    "chat.update with the ts Slack answered (bot token, notify.channel). notify.format picks the\n"
    "body: slack (text + blocks) or teams (text + an Adaptive Card). The URL comes from\n"
    "notify.url_file or $OCTOFLEET_NOTIFY_URL, the token from notify.token_file or\n"
    "$OCTOFLEET_NOTIFY_TOKEN, never from argv; neither is logged. Network errors, 408, 429\n"
    "(Retry-After honoured) and 5xx are retried with backoff and jitter for up to\n"
    "notify.retry_deadline; another answer is logged with the receiver's text. Its position\n"
    "is kept under notify.group_id and message ids in notify.state_file, so a restarted\n"
    "notifier updates the messages it made. One notifier per group. On SIGTERM or SIGINT it\n"
    "stops; changes not yet sent are sent by the next run. Logs \"notify ready\" once it has\n"
    "caught up with the events topic.\n\n"
    "Options:\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 stopped cleanly on a signal, 1 stopped by an error while running, 2 usage,\n"
    "3 configuration (also: no URL, no token in mode slack, an unreadable state file),\n"
    "4 Kafka could not be used at start-up.\n";

typedef struct slot {
    char release_id[OF_UUID_STR_SIZE];
    of_relstate st; /* the release and its jobs, as read and then updated by events */
    of_notify_timing t;
    int32_t partition;
    int64_t dirty_from; /* offset of the first event not sent yet; -1: none */
    bool no_update;     /* the receiver named no id: only the final state goes out, anew */
    char *last_body;    /* what the receiver last accepted: an unchanged message is not resent */
    bool recreated;     /* its message was lost once and posted again: not a second time */
} slot;

typedef struct notifier {
    const of_config *cfg;
    of_stop_flag *stop;
    char *url, *token; /* secrets */
    of_notify_ids ids;
    slot **slots;
    size_t n, cap;
    char topic[OF_TOPIC_NAME_MAX];
    int nparts;
    int64_t *next, *committed; /* per partition */
    bool *at_end;
    bool ready;
    of_kafka_offset *scratch;
    int64_t commit_due;
    uint64_t rnd;
} notifier;

/* ---- releases ------------------------------------------------------------------------- */

static void slot_free(slot *s)
{
    if (!s) return;
    of_relstate_clear(&s->st);
    free(s->last_body);
    free(s);
}

/* The release's slot, read from the releases topic when new; NULL when the release is not
 * there (a rejected request has no state) or it cannot be read (logged). */
static slot *find_slot(notifier *nf, const char *release_id, int32_t partition)
{
    for (size_t i = 0; i < nf->n; i++)
        if (strcmp(nf->slots[i]->release_id, release_id) == 0) return nf->slots[i];
    slot *s = calloc(1, sizeof *s);
    if (!s || of_grow((void **)&nf->slots, &nf->cap, nf->n, sizeof *nf->slots)) {
        free(s);
        of_error("notify release=%s: out of memory", release_id);
        return NULL;
    }
    of_id_copy(s->release_id, release_id);
    s->st.want = s->release_id;
    s->partition = partition;
    s->dirty_from = -1;
    if (of_relstate_read(nf->cfg, "notify", &s->st) != OF_EXIT_OK || !s->st.have_release) {
        if (!s->st.have_release)
            of_debug("notify release=%s: not in the state; skipped", release_id);
        slot_free(s);
        return NULL;
    }
    nf->slots[nf->n++] = s;
    return s;
}

static void drop_slot(notifier *nf, size_t i)
{
    slot_free(nf->slots[i]);
    nf->slots[i] = nf->slots[--nf->n];
}

static bool final_status(of_release_status st)
{
    return st == OF_RELEASE_COMPLETED || st == OF_RELEASE_ABORTED;
}

static void on_event(notifier *nf, const of_kafka_message *m)
{
    of_event ev = {0};
    char errstr[256];
    if (!m->value) return;
    if (of_event_decode(m->value, m->value_len, &ev, errstr, sizeof errstr) != OF_OK) {
        of_warn("notify: skipping an undecodable event partition=%d offset=%lld: %s",
                (int)m->partition, (long long)m->offset, errstr);
    } else {
        slot *s = find_slot(nf, ev.release_id, m->partition);
        /* a new slot holds the state as of now, which already includes this event */
        bool is_new = s && s->t.last_sent == 0 && !s->t.dirty && s->dirty_from < 0;
        if (s && (of_relstate_apply(&s->st, &ev) || is_new)) {
            s->t.dirty = true;
            if (s->dirty_from < 0) s->dirty_from = m->offset;
        }
    }
    of_event_clear(&ev);
}

/* ---- sending -------------------------------------------------------------------------- */

/* Slack answers its errors with HTTP 200 and {"ok": false}. */
static bool slack_refused(const of_http_result *res)
{
    return res->body && strstr(res->body, "\"ok\":true") == NULL &&
           strstr(res->body, "\"ok\": true") == NULL;
}

/* An update answered "no such message" (404, Slack's message_not_found): someone deleted it.
 * Forgets its id so that the next send creates one, once per release (a receiver that keeps
 * losing what it created must not get a new message per update). True when it did. */
static bool message_lost(notifier *nf, slot *s, const char *id, const of_http_result *res)
{
    if (s->recreated ||
        (res->status != 404 && !(res->body && strstr(res->body, "\"message_not_found\""))))
        return false;
    char errstr[512];
    of_warn("notify release=%s: message id=%s no longer exists; posting a new one", s->release_id,
            id);
    of_notify_ids_del(&nf->ids, s->release_id);
    s->recreated = true;
    if (of_notify_ids_save(&nf->ids, nf->cfg->notify.state_file, of_wall_ms(), errstr,
                           sizeof errstr))
        of_error("notify: %s", errstr);
    free(s->last_body);
    s->last_body = NULL;
    s->t.attempts = 0;
    s->t.retry_at = 0;
    return true;
}

/* One attempt to send s's state. */
static void send_slot(notifier *nf, slot *s)
{
    const of_config_notify *nc = &nf->cfg->notify;
    of_notify_summary sum;
    of_notify_summarize(&s->st.rel, s->st.jobs, s->st.n, &sum);
    const char *id = of_notify_ids_get(&nf->ids, s->release_id);
    bool final = final_status(sum.status) || sum.status == OF_RELEASE_PAUSED;
    if (!id && s->no_update && !final) { /* cannot edit: wait for the final state */
        s->t.dirty = false;
        s->dirty_from = -1;
        return;
    }
    char *body = NULL, errstr[512], shown[ANSWER_SHOWN];
    of_buf url;
    of_buf_init(&url, 16384);
    of_http_result res = {0};
    of_http_action action = OF_HTTP_FAIL;
    const char *why = "";
    if (of_notify_body(&sum, nc, id, &body) || of_notify_url(nc->mode, nf->url, id, &url)) {
        why = "out of memory building the message";
    } else if (id && s->last_body && strcmp(body, s->last_body) == 0) {
        /* the events since changed nothing shown (job.started, ...): nothing to send */
        s->t.dirty = false;
        s->dirty_from = -1;
        free(body);
        of_buf_clear(&url);
        return;
    } else if (of_http_send(&(of_http_request){.method = nc->mode == OF_NOTIFY_WEBHOOK && id
                                                             ? "PUT"
                                                             : "POST",
                                               .url = url.data,
                                               .bearer = nf->token,
                                               .body = body,
                                               .timeout_ms = nc->request_timeout_ms,
                                               .max_response = MAX_RESPONSE_BYTES},
                            &res, errstr, sizeof errstr)) {
        why = errstr;
    } else {
        action = res.action;
        why = res.reason;
        if (action == OF_HTTP_OK && nc->mode == OF_NOTIFY_SLACK && slack_refused(&res)) {
            action = OF_HTTP_FAIL;
            why = "Slack answered ok=false";
        }
    }
    if (action == OF_HTTP_OK && !id) {
        char newid[OF_NOTIFY_ID_MAX + 1];
        of_err rc =
            of_notify_parse_created(nc->mode, res.body, res.body_len, newid, errstr, sizeof errstr);
        if (rc == OF_OK) {
            if (of_notify_ids_put(&nf->ids, s->release_id, newid, of_wall_ms()) ||
                of_notify_ids_save(&nf->ids, nc->state_file, of_wall_ms(), errstr, sizeof errstr))
                of_error("notify release=%s: the message id is not kept: %s", s->release_id,
                         errstr);
            of_info("notify release=%s created message id=%s", s->release_id, newid);
        } else {
            s->no_update = true;
            of_warn("notify release=%s: %s; the message cannot be updated, only the final state "
                    "will be posted (as a new message)",
                    s->release_id, errstr);
        }
    }
    if (id && message_lost(nf, s, id, &res)) {
        of_http_result_clear(&res);
        free(body);
        of_buf_clear(&url);
        return; /* still dirty: due at once, as a create */
    }
    int64_t now = of_now_ms();
    int attempt = s->t.attempts + 1;
    switch (
        of_notify_after(&s->t, action, res.retry_after_ms, now, nc->retry_deadline_ms, &nf->rnd)) {
    case OF_NOTIFY_SENT:
        s->dirty_from = -1;
        free(s->last_body);
        s->last_body = body;
        body = NULL;
        of_info("notify release=%s %s status=%s done=%d/%d failed=%d", s->release_id,
                id ? "updated" : "posted", of_release_status_name(sum.status), sum.done, sum.total,
                sum.failed);
        break;
    case OF_NOTIFY_RETRY:
        of_info("notify retry release=%s attempt=%d delay_ms=%lld reason=\"%s\"", s->release_id,
                attempt, (long long)(s->t.retry_at - now), why);
        break;
    case OF_NOTIFY_GIVE_UP:
        s->dirty_from = -1;
        of_error("notify release=%s: gave up after %d attempt(s): %s; answer: %s", s->release_id,
                 attempt, why, of_escape(res.body ? res.body : "", shown, sizeof shown));
        break;
    }
    of_http_result_clear(&res);
    free(body);
    of_buf_clear(&url);
}

/* Sends what is due; drops releases that ended and were sent. Returns ms until the next send
 * is due (capped by cap). */
static int64_t send_due(notifier *nf, int64_t cap)
{
    int64_t wait = cap;
    for (size_t i = 0; i < nf->n && !of_stop_requested(nf->stop);) {
        slot *s = nf->slots[i];
        int64_t due = of_notify_due_at(&s->t, nf->cfg->notify.min_interval_ms);
        int64_t now = of_now_ms();
        if (due <= now) {
            send_slot(nf, s);
            due = of_notify_due_at(&s->t, nf->cfg->notify.min_interval_ms);
        }
        if (!s->t.dirty && final_status(s->st.rel.status)) {
            drop_slot(nf, i);
            continue;
        }
        if (due != INT64_MAX && due - now < wait) wait = due - now < 0 ? 0 : due - now;
        i++;
    }
    return wait;
}

/* ---- the position ----------------------------------------------------------------------- */

/* Commits, per partition, the next offset to read, but never past an event whose change is
 * not sent yet. */
static void commit_positions(notifier *nf, of_kafka_consumer *c, bool force)
{
    if (!force && of_now_ms() < nf->commit_due) return;
    size_t k = 0;
    for (int p = 0; p < nf->nparts; p++) {
        int64_t pos = nf->next[p];
        for (size_t i = 0; i < nf->n; i++)
            if (nf->slots[i]->partition == p && nf->slots[i]->dirty_from >= 0 &&
                nf->slots[i]->dirty_from < pos)
                pos = nf->slots[i]->dirty_from;
        if (pos >= 0 && pos != nf->committed[p])
            nf->scratch[k++] = (of_kafka_offset){nf->topic, p, pos};
    }
    char errstr[512];
    if (k && of_kafka_commit_offsets(c, nf->scratch, k, errstr, sizeof errstr)) {
        of_warn("notify group=%s keeping the position failed: %s", nf->cfg->notify.group_id,
                errstr);
        return;
    }
    for (size_t i = 0; i < k; i++)
        nf->committed[nf->scratch[i].partition] = nf->scratch[i].offset;
    nf->commit_due = of_now_ms() + COMMIT_EVERY_MS;
}

static void on_eof(void *opaque, const char *topic, int32_t partition, int64_t offset)
{
    notifier *nf = opaque;
    (void)topic;
    if (partition < 0 || partition >= nf->nparts) return;
    nf->at_end[partition] = true;
    if (nf->next[partition] < offset) nf->next[partition] = offset;
    bool all = true;
    for (int p = 0; p < nf->nparts; p++)
        all = all && nf->at_end[p];
    if (all && !nf->ready) {
        nf->ready = true;
        of_info("notify ready: caught up with %s group=%s", nf->topic, nf->cfg->notify.group_id);
    }
}

/* Assigns every partition at the group's position, else at notify.from. */
static of_err start(notifier *nf, of_kafka_consumer *c, char *errstr, size_t n)
{
    of_err rc = of_kafka_partition_count(c, nf->topic, KAFKA_TIMEOUT_MS, &nf->nparts, errstr, n);
    if (rc) return rc;
    if (nf->nparts <= 0)
        return of_seterr(errstr, n, OF_ERR_KAFKA, "%s does not exist (topics.create is off?)",
                         nf->topic);
    size_t np = (size_t)nf->nparts;
    nf->next = calloc(np, sizeof *nf->next);
    nf->committed = calloc(np, sizeof *nf->committed);
    nf->at_end = calloc(np, sizeof *nf->at_end);
    nf->scratch = calloc(np, sizeof *nf->scratch);
    if (!nf->next || !nf->committed || !nf->at_end || !nf->scratch)
        return of_seterr(errstr, n, OF_ERR_NOMEM, "out of memory");
    for (int p = 0; p < nf->nparts; p++)
        nf->scratch[p] = (of_kafka_offset){nf->topic, p, OF_KAFKA_OFFSET_NONE};
    rc = of_kafka_committed(c, nf->scratch, np, KAFKA_TIMEOUT_MS, errstr, n);
    if (rc) return rc;
    bool begin = strcmp(nf->cfg->notify.from, "beginning") == 0;
    for (int p = 0; p < nf->nparts; p++) {
        nf->committed[p] = nf->scratch[p].offset;
        nf->next[p] = nf->scratch[p].offset; /* -1 until known */
        if (nf->scratch[p].offset == OF_KAFKA_OFFSET_NONE)
            nf->scratch[p].offset = begin ? OF_KAFKA_OFFSET_BEGINNING : OF_KAFKA_OFFSET_END;
    }
    return of_kafka_assign(c, nf->scratch, np, errstr, n);
}

static of_err run_loop(notifier *nf, of_kafka_consumer *c, char *errstr, size_t n)
{
    int64_t wait = 200;
    while (!of_stop_requested(nf->stop)) {
        of_kafka_message *m = NULL;
        of_err rc = of_kafka_consumer_poll(c,
                                           (int)(wait < 0     ? 0
                                                 : wait > 200 ? 200
                                                              : wait),
                                           &m, errstr, n);
        if (rc == OF_ERR_STATE || rc == OF_ERR_CONFIG) return OF_ERR_STATE;
        if (rc) of_debug("notify consumer: %s", errstr);
        if (m) {
            if (m->partition >= 0 && m->partition < nf->nparts &&
                m->offset >= nf->next[m->partition]) {
                nf->next[m->partition] = m->offset + 1;
                on_event(nf, m);
            }
            of_kafka_message_free(m);
        }
        wait = send_due(nf, m ? 0 : 200);
        commit_positions(nf, c, false);
    }
    return OF_OK;
}

/* ---- the daemon ----------------------------------------------------------------------- */

static of_err load_secrets(notifier *nf, char *errstr, size_t n)
{
    const of_config_notify *nc = &nf->cfg->notify;
    of_secret_source url = {"notify.url_file", "OCTOFLEET_NOTIFY_URL", "notification URL", false};
    of_secret_source tok = {"notify.token_file", "OCTOFLEET_NOTIFY_TOKEN", "notification token",
                            nc->mode == OF_NOTIFY_WEBHOOK};
    of_err rc = of_secret_load(&url, nc->url_file, &nf->url, errstr, n);
    if (!rc) rc = of_secret_load(&tok, nc->token_file, &nf->token, errstr, n);
    if (!rc && strncmp(nf->url, "http://", 7) != 0 && strncmp(nf->url, "https://", 8) != 0)
        rc = of_seterr(errstr, n, OF_ERR_CONFIG,
                       "the notification URL must start with http:// "
                       "or https://");
    return rc == OF_OK || rc == OF_ERR_NOMEM ? rc : OF_ERR_CONFIG;
}

static of_err run_notify(const of_config *cfg, of_stop_flag *stop, char *errstr, size_t errstr_size)
{
    notifier nf = {.cfg = cfg, .stop = stop, .rnd = (uint64_t)of_wall_ms() | 1};
    of_fleet_kafka fk = {0};
    of_kafka_consumer *c = NULL;
    of_err rc = load_secrets(&nf, errstr, errstr_size);
    /* read and written back at once: a state file that cannot be kept is a configuration
     * error at start, not a message posted twice after the next restart */
    if (!rc &&
        (of_notify_ids_load(&nf.ids, cfg->notify.state_file, errstr, errstr_size) ||
         of_notify_ids_save(&nf.ids, cfg->notify.state_file, of_wall_ms(), errstr, errstr_size)))
        rc = OF_ERR_CONFIG;
    if (!rc && of_config_topic(cfg, "events", nf.topic, sizeof nf.topic))
        rc = of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "topics.prefix too long");
    if (!rc) rc = of_fleet_kafka_init(&fk, cfg, NULL, NULL);
    if (!rc && cfg->topics.create)
        rc = of_fleet_ensure_topics(cfg, &fk.kc, OF_KAFKA_STARTUP_DEADLINE_MS, errstr, errstr_size);
    of_kafka_consumer_opts co = {
        .group_id = cfg->notify.group_id, .manual_commit = true, .on_eof = on_eof, .opaque = &nf};
    if (!rc) rc = of_kafka_consumer_new(&fk.kc, &co, &c, errstr, errstr_size);
    if (!rc) rc = start(&nf, c, errstr, errstr_size);
    if (!rc) {
        of_info("notify following %s group=%s mode=%s format=%s", nf.topic, cfg->notify.group_id,
                cfg->notify.mode == OF_NOTIFY_SLACK ? "slack" : "webhook",
                cfg->notify.format == OF_NOTIFY_FMT_SLACK ? "slack" : "teams");
        rc = run_loop(&nf, c, errstr, errstr_size);
        if (rc == OF_ERR_STATE) (void)of_kafka_consumer_fatal(c, errstr, errstr_size);
        commit_positions(&nf, c, true);
    }
    of_kafka_consumer_destroy(c);
    of_fleet_kafka_clear(&fk);
    for (size_t i = 0; i < nf.n; i++)
        slot_free(nf.slots[i]);
    free(nf.slots);
    free(nf.next);
    free(nf.committed);
    free(nf.at_end);
    free(nf.scratch);
    of_notify_ids_clear(&nf.ids);
    of_secret_free(nf.url);
    of_secret_free(nf.token);
    return rc;
}

int of_cmd_notify(int argc, char **argv)
{
    of_cli_common co = {0};
    int ex;
    if (!of_cli_args(argc, argv, "notify", notify_usage, &co, NULL, NULL, &ex)) return ex;
    return of_cli_run_daemon("notify", &co, OF_ROLE_ANY, run_notify);
}
