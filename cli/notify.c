/* The notifier's decisions (notify.h). */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "msg.h"
#include "ojson.h"

#define FIELD_MAX   200 /* bytes of a name shown */
#define MESSAGE_MAX 300 /* bytes of Octopus's error shown */
#define IDS_HEADER  "octofleet-notify/1"
#define IDS_MAX     (64u * 1024 * 1024)

/* ---- the summary ------------------------------------------------------------------------ */

void of_notify_summarize(const of_release_record *r, const of_job_record *jobs, size_t n,
                         of_notify_summary *out)
{
    memset(out, 0, sizeof *out);
    out->release_name = r->release_name;
    out->release_id = r->release_id;
    out->status = r->status;
    out->held = r->held;
    out->stage_count = r->stage_count;
    /* the first stage not passed in every environment; all passed: the last */
    out->stage = r->stage_count;
    for (int s = 1; s <= r->stage_count && r->stage_status; s++) {
        bool passed = true;
        for (size_t e = 0; e < r->n_environments; e++)
            passed = passed &&
                     r->stage_status[(size_t)(s - 1) * r->n_environments + e] == OF_STAGE_SUCCEEDED;
        if (!passed) {
            out->stage = s;
            break;
        }
    }
    if (out->stage >= 1 && r->stage_names) out->stage_name = r->stage_names[out->stage - 1];
    for (size_t i = 0; i < n; i++) {
        const of_job_record *j = &jobs[i];
        out->total++;
        if (j->status == OF_JOB_SUCCEEDED) out->succeeded++;
        if (j->status == OF_JOB_SKIPPED) out->skipped++;
        if (of_job_status_is_terminal(j->status)) out->done++;
        if (!of_job_status_is_failure(j->status)) continue;
        out->failed++;
        if (out->n_failed_jobs == OF_NOTIFY_MAX_FAILED) {
            out->more_failed++;
            continue;
        }
        out->failed_jobs[out->n_failed_jobs++] =
            (of_notify_failed){j->job.stage,       j->job.project.name, j->job.environment.name,
                               j->job.tenant.name, j->status,           j->skip_reason};
    }
}

/* ---- text --------------------------------------------------------------------------------- */

/* s, cut to max bytes, with control characters escaped (one line); "?" for NULL. */
static const char *clean(const char *s, char *out, size_t max)
{
    return of_escape(s ? s : "?", out, max);
}

/* The first line: what the release is doing. */
static of_err put_headline(const of_notify_summary *s, of_buf *out)
{
    char name[FIELD_MAX], stage[FIELD_MAX];
    of_err rc =
        of_buf_printf(out, "Release %s: %s",
                      clean(s->release_name ? s->release_name : s->release_id, name, sizeof name),
                      of_release_status_name(s->status));
    if (rc) return rc;
    if (s->status == OF_RELEASE_COMPLETED)
        return of_buf_printf(out, ", %d of %d stages", s->stage_count, s->stage_count);
    rc = of_buf_printf(out, ", stage %d of %d", s->stage, s->stage_count);
    if (!rc && s->stage_name)
        rc = of_buf_printf(out, " (%s)", clean(s->stage_name, stage, sizeof stage));
    if (!rc && s->held) rc = of_buf_printf(out, "; held: %s", clean(s->held, stage, sizeof stage));
    return rc;
}

static of_err put_counts(const of_notify_summary *s, of_buf *out)
{
    return of_buf_printf(out, "Jobs: %d/%d done (%d succeeded, %d failed, %d skipped)", s->done,
                         s->total, s->succeeded, s->failed, s->skipped);
}

/* One failed job: "stage 2 Billing / Hosted Beta / Contoso (failed): disk full". */
static of_err put_failed(const of_notify_failed *f, of_buf *out)
{
    char p[FIELD_MAX], e[FIELD_MAX], t[FIELD_MAX], m[MESSAGE_MAX];
    of_err rc = of_buf_printf(out, "stage %d %s / %s", f->stage, clean(f->project, p, sizeof p),
                              clean(f->environment, e, sizeof e));
    if (!rc && f->tenant) rc = of_buf_printf(out, " / %s", clean(f->tenant, t, sizeof t));
    if (!rc) rc = of_buf_printf(out, " (%s)", of_job_status_name(f->status));
    if (!rc && f->message) rc = of_buf_printf(out, ": %s", clean(f->message, m, sizeof m));
    return rc;
}

static of_err put_failed_list(const of_notify_summary *s, of_buf *out, const char *bullet)
{
    of_err rc = of_buf_printf(out, "Failed (%d):", s->failed);
    for (size_t i = 0; !rc && i < s->n_failed_jobs; i++) {
        rc = of_buf_printf(out, "\n%s", bullet);
        if (!rc) rc = put_failed(&s->failed_jobs[i], out);
    }
    if (!rc && s->more_failed) rc = of_buf_printf(out, "\n%s+%d more", bullet, s->more_failed);
    return rc;
}

of_err of_notify_text(const of_notify_summary *s, of_buf *out)
{
    of_err rc = put_headline(s, out);
    if (!rc) rc = of_buf_puts(out, "\n");
    if (!rc) rc = put_counts(s, out);
    if (!rc && s->failed) {
        rc = of_buf_puts(out, "\n");
        if (!rc) rc = put_failed_list(s, out, "- ");
    }
    return rc;
}

/* ---- JSON bodies -------------------------------------------------------------------------- */

/* The three parts of a message as separate strings (owned by the bufs). */
typedef struct parts {
    of_buf head, counts, failed;
} parts;

static of_err make_parts(const of_notify_summary *s, parts *p)
{
    of_buf_init(&p->head, 4096);
    of_buf_init(&p->counts, 4096);
    of_buf_init(&p->failed, 16384);
    of_err rc = put_headline(s, &p->head);
    if (!rc) rc = put_counts(s, &p->counts);
    if (!rc && s->failed) rc = put_failed_list(s, &p->failed, "• ");
    return rc;
}

static void parts_clear(parts *p)
{
    of_buf_clear(&p->head);
    of_buf_clear(&p->counts);
    of_buf_clear(&p->failed);
}

static json_t *slack_section(const char *text, bool *bad)
{
    json_t *sec = json_object(), *t = json_object();
    oj_set_str(t, "type", "mrkdwn", bad);
    oj_set_str(t, "text", text, bad);
    oj_set_str(sec, "type", "section", bad);
    oj_set(sec, "text", t, bad);
    return sec;
}

static json_t *teams_block(const char *text, bool bold, bool *bad)
{
    json_t *b = json_object();
    oj_set_str(b, "type", "TextBlock", bad);
    oj_set_str(b, "text", text, bad);
    oj_set_bool(b, "wrap", true, bad);
    if (bold) oj_set_str(b, "weight", "Bolder", bad);
    return b;
}

static json_t *summary_json(const of_notify_summary *s, bool *bad)
{
    json_t *o = json_object(), *c = json_object();
    oj_set_str(o, "release_id", s->release_id, bad);
    oj_set_str(o, "release", s->release_name, bad);
    oj_set_str(o, "status", of_release_status_name(s->status), bad);
    oj_set_int(o, "stage", s->stage, bad);
    oj_set_int(o, "stage_count", s->stage_count, bad);
    oj_set_int(c, "total", s->total, bad);
    oj_set_int(c, "done", s->done, bad);
    oj_set_int(c, "succeeded", s->succeeded, bad);
    oj_set_int(c, "failed", s->failed, bad);
    oj_set_int(c, "skipped", s->skipped, bad);
    oj_set(o, "counts", c, bad);
    return o;
}

of_err of_notify_body(const of_notify_summary *s, const of_config_notify *cfg, const char *id,
                      char **out)
{
    *out = NULL;
    parts p;
    of_buf text;
    of_buf_init(&text, 32768);
    of_err rc = make_parts(s, &p);
    if (!rc) rc = of_notify_text(s, &text);
    if (rc) {
        parts_clear(&p);
        of_buf_clear(&text);
        return rc;
    }
    bool bad = false;
    json_t *root = json_object();
    if (cfg->mode == OF_NOTIFY_SLACK) {
        oj_set_str(root, "channel", cfg->channel, &bad);
        if (id) { /* "<channel>/<ts>": chat.update names both */
            const char *slash = strchr(id, '/');
            json_t *ch = slash ? json_stringn(id, (size_t)(slash - id)) : NULL;
            if (ch) oj_set(root, "channel", ch, &bad);
            oj_set_str(root, "ts", slash ? slash + 1 : id, &bad);
        }
    }
    oj_set_str(root, "text", text.data, &bad);
    if (cfg->format == OF_NOTIFY_FMT_SLACK) {
        json_t *blocks = json_array();
        char head[FIELD_MAX * 3];
        snprintf(head, sizeof head, "*%s*", p.head.data);
        oj_append(blocks, slack_section(head, &bad), &bad);
        oj_append(blocks, slack_section(p.counts.data, &bad), &bad);
        if (p.failed.data) oj_append(blocks, slack_section(p.failed.data, &bad), &bad);
        oj_set(root, "blocks", blocks, &bad);
    } else {
        json_t *body = json_array(), *card = json_object(), *att = json_object(),
               *atts = json_array();
        oj_append(body, teams_block(p.head.data, true, &bad), &bad);
        oj_append(body, teams_block(p.counts.data, false, &bad), &bad);
        if (p.failed.data) oj_append(body, teams_block(p.failed.data, false, &bad), &bad);
        oj_set_str(card, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json", &bad);
        oj_set_str(card, "type", "AdaptiveCard", &bad);
        oj_set_str(card, "version", "1.4", &bad);
        oj_set(card, "body", body, &bad);
        oj_set_str(att, "contentType", "application/vnd.microsoft.card.adaptive", &bad);
        oj_set(att, "content", card, &bad);
        oj_append(atts, att, &bad);
        oj_set_str(root, "type", "message", &bad);
        oj_set(root, "attachments", atts, &bad);
    }
    if (cfg->mode == OF_NOTIFY_WEBHOOK) oj_set(root, "octofleet", summary_json(s, &bad), &bad);
    parts_clear(&p);
    of_buf_clear(&text);
    return oj_dump(root, bad, out);
}

/* ---- replies and URLs --------------------------------------------------------------------- */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > OF_NOTIFY_ID_MAX) return false;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p <= ' ' || *p >= 0x7f) return false;
    return true;
}

of_err of_notify_parse_created(of_notify_mode mode, const char *body, size_t len, char *id,
                               char *errstr, size_t errstr_size)
{
    id[0] = '\0';
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return of_seterr(errstr, errstr_size, OF_ERR_NOT_FOUND,
                         "the reply is not a JSON object naming the message");
    }
    of_err rc = OF_OK;
    char buf[OF_NOTIFY_ID_MAX * 2 + 2] = "";
    if (mode == OF_NOTIFY_SLACK) {
        const char *ch = json_string_value(json_object_get(j, "channel"));
        const char *ts = json_string_value(json_object_get(j, "ts"));
        if (!json_is_true(json_object_get(j, "ok"))) {
            const char *e = json_string_value(json_object_get(j, "error"));
            char shown[FIELD_MAX];
            rc = of_seterr(errstr, errstr_size, OF_ERR_REJECTED, "Slack answered ok=false: %s",
                           clean(e ? e : "(no error given)", shown, sizeof shown));
        } else if (!ch || !ts) {
            rc = of_seterr(errstr, errstr_size, OF_ERR_NOT_FOUND, "no channel and ts in the reply");
        } else {
            snprintf(buf, sizeof buf, "%s/%s", ch, ts);
        }
    } else {
        json_t *v = json_object_get(j, "id");
        if (json_is_string(v))
            snprintf(buf, sizeof buf, "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            rc = of_seterr(errstr, errstr_size, OF_ERR_NOT_FOUND, "no \"id\" in the reply");
    }
    json_decref(j);
    if (rc) return rc;
    if (!id_ok(buf))
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                         "the message id in the reply is empty, too long or has spaces or "
                         "control characters");
    memcpy(id, buf, strlen(buf) + 1);
    return OF_OK;
}

of_err of_notify_url(of_notify_mode mode, const char *url, const char *id, of_buf *out)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    of_err rc = of_buf_append(out, url, n);
    if (rc) return rc;
    if (mode == OF_NOTIFY_SLACK) return of_buf_puts(out, id ? "/chat.update" : "/chat.postMessage");
    if (!id) return OF_OK;
    rc = of_buf_puts(out, "/");
    return rc ? rc : of_buf_append_pct(out, id, NULL);
}

/* ---- timing ------------------------------------------------------------------------------- */

int64_t of_notify_due_at(const of_notify_timing *t, int64_t min_interval_ms)
{
    if (!t->dirty) return INT64_MAX;
    int64_t due = t->last_sent ? t->last_sent + min_interval_ms : 0;
    return t->retry_at > due ? t->retry_at : due;
}

of_notify_next of_notify_after(of_notify_timing *t, of_http_action action, int64_t retry_after_ms,
                               int64_t now, int64_t deadline_ms, uint64_t *rnd)
{
    if (t->attempts == 0) t->first_try = now;
    if (action == OF_HTTP_OK) {
        *t = (of_notify_timing){.last_sent = now};
        return OF_NOTIFY_SENT;
    }
    if (action == OF_HTTP_RETRY) {
        int64_t at = now + of_http_retry_delay(t->attempts, retry_after_ms, rnd);
        if (at < t->first_try + deadline_ms) {
            t->attempts++;
            t->retry_at = at;
            return OF_NOTIFY_RETRY;
        }
    }
    t->dirty = false;
    t->attempts = 0;
    t->retry_at = 0;
    return OF_NOTIFY_GIVE_UP;
}

/* ---- the state file ----------------------------------------------------------------------- */

const char *of_notify_ids_get(const of_notify_ids *ids, const char *release_id)
{
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->items[i].release_id, release_id) == 0) return ids->items[i].id;
    return NULL;
}

of_err of_notify_ids_put(of_notify_ids *ids, const char *release_id, const char *id,
                         int64_t wall_ms)
{
    if (!id_ok(id) || strlen(release_id) >= OF_UUID_STR_SIZE) return OF_ERR_INVALID;
    size_t i = 0;
    while (i < ids->n && strcmp(ids->items[i].release_id, release_id) != 0)
        i++;
    if (i == ids->n) {
        if (of_grow((void **)&ids->items, &ids->cap, ids->n, sizeof *ids->items))
            return OF_ERR_NOMEM;
        ids->n++;
    }
    of_notify_entry *e = &ids->items[i];
    memcpy(e->release_id, release_id, strlen(release_id) + 1);
    memcpy(e->id, id, strlen(id) + 1);
    e->wall_ms = wall_ms;
    return OF_OK;
}

void of_notify_ids_del(of_notify_ids *ids, const char *release_id)
{
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->items[i].release_id, release_id) == 0) {
            ids->items[i] = ids->items[--ids->n];
            return;
        }
}

void of_notify_ids_clear(of_notify_ids *ids)
{
    free(ids->items);
    memset(ids, 0, sizeof *ids);
}

of_err of_notify_ids_load(of_notify_ids *ids, const char *path, char *errstr, size_t errstr_size)
{
    memset(ids, 0, sizeof *ids);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return OF_OK; /* first start */
    of_buf b;
    of_buf_init(&b, IDS_MAX);
    of_err rc = of_buf_read_file(&b, path, errstr, errstr_size);
    if (rc) {
        of_buf_clear(&b);
        return rc;
    }
    size_t line = 0;
    for (char *p = b.data; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        char rid[64], id[OF_NOTIFY_ID_MAX + 2];
        long long ms;
        char extra;
        if (line == 1) {
            if (strcmp(p, IDS_HEADER) != 0) of_warn("notify state file=%s: no header line", path);
        } else if (*p && (sscanf(p, "%63s %201s %lld %c", rid, id, &ms, &extra) != 3 ||
                          strlen(rid) >= OF_UUID_STR_SIZE ||
                          of_notify_ids_put(ids, rid, id, (int64_t)ms) != OF_OK)) {
            of_warn("notify state file=%s line=%zu: skipping a malformed line", path, line);
        }
        if (!nl) break;
        p = nl + 1;
    }
    of_buf_clear(&b);
    return OF_OK;
}

/* Writes data to tmp, syncs it and renames it over path. */
static of_err write_atomic(const char *path, const char *tmp, const of_buf *data, char *errstr,
                           size_t errstr_size)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: cannot create: %s", tmp,
                         strerror(errno));
    size_t off = 0;
    while (off < data->len) {
        ssize_t w = write(fd, data->data + off, data->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    bool ok = off == data->len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0) ok = false;
    if (ok && rename(tmp, path) == 0) return OF_OK;
    if (ok) saved = errno;
    unlink(tmp);
    return of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: cannot write: %s", path, strerror(saved));
}

of_err of_notify_ids_save(const of_notify_ids *ids, const char *path, int64_t now_wall_ms,
                          char *errstr, size_t errstr_size)
{
    of_buf b, tmp;
    of_buf_init(&b, IDS_MAX);
    of_buf_init(&tmp, 4096);
    of_err rc = of_buf_puts(&b, IDS_HEADER "\n");
    for (size_t i = 0; !rc && i < ids->n; i++) {
        const of_notify_entry *e = &ids->items[i];
        if (now_wall_ms - e->wall_ms > OF_NOTIFY_KEEP_MS) continue;
        rc = of_buf_printf(&b, "%s %s %lld\n", e->release_id, e->id, (long long)e->wall_ms);
    }
    if (!rc) rc = of_buf_printf(&tmp, "%s.tmp", path);
    if (rc)
        (void)of_seterr(errstr, errstr_size, rc, "%s: state too large", path);
    else
        rc = write_atomic(path, tmp.data, &b, errstr, errstr_size);
    of_buf_clear(&b);
    of_buf_clear(&tmp);
    return rc;
}
