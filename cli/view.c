/* The live view's text (view.h). Pure: a model in, a string out. */
#include "view.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "msg.h"

#define BAR_WIDTH 20
/* The attention list is cut to leave room for the table; more than this is "+N more". */
#define ATTENTION_MAX 12

/* SGR colours by meaning. */
#define C_OK   "\033[32m"
#define C_RUN  "\033[33m"
#define C_BAD  "\033[31m"
#define C_DIM  "\033[2m"
#define C_BOLD "\033[1m"
#define C_OFF  "\033[0m"

/* One screen line being written: visible columns are counted (UTF-8 continuation bytes take
 * none) and text past the width is dropped, so colour codes never count. */
typedef struct line {
    of_buf *b;
    int col, width;
    bool color;
    of_err rc;
} line;

static void put(line *l, const char *sgr, const char *s)
{
    if (l->rc || !s) return;
    if (sgr && l->color) l->rc = of_buf_puts(l->b, sgr);
    for (const unsigned char *p = (const unsigned char *)s; !l->rc && *p; p++) {
        bool cont = (*p & 0xC0) == 0x80;
        if (!cont && l->col >= l->width) break;
        /* C0 controls and DEL (an Octopus message may hold them) cannot move the cursor */
        char c = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
        l->rc = of_buf_append(l->b, &c, 1);
        if (!cont) l->col++;
    }
    if (!l->rc && sgr && l->color) l->rc = of_buf_puts(l->b, C_OFF);
}

static void putf(line *l, const char *sgr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void putf(line *l, const char *sgr, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(l, sgr, tmp);
}

/* Pads with spaces to column `to`. */
static void pad(line *l, int to)
{
    while (!l->rc && l->col < to && l->col < l->width) {
        l->rc = of_buf_append(l->b, " ", 1);
        l->col++;
    }
}

static void end_line(line *l)
{
    if (!l->rc) l->rc = of_buf_append(l->b, "\n", 1);
    l->col = 0;
}

char *of_view_duration(int64_t ms, char *out, size_t out_size)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s >= 3600)
        (void)snprintf(out, out_size, "%lldh%02lldm", (long long)(s / 3600),
                       (long long)(s % 3600 / 60));
    else if (s >= 60)
        (void)snprintf(out, out_size, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        (void)snprintf(out, out_size, "%llds", (long long)s);
    return out;
}

static const char *release_color(of_release_status s)
{
    return s == OF_RELEASE_COMPLETED ? C_OK : s == OF_RELEASE_RUNNING ? C_RUN : C_BAD;
}

static const char *stage_color(of_stage_status s)
{
    switch (s) {
    case OF_STAGE_SUCCEEDED:
        return C_OK;
    case OF_STAGE_RUNNING:
        return C_RUN;
    case OF_STAGE_FAILED:
        return C_BAD;
    default:
        return C_DIM;
    }
}

static void header(line *l, const of_view_model *m)
{
    char d[32];
    put(l, C_BOLD, "release ");
    put(l, C_BOLD, m->release_name ? m->release_name : "?");
    putf(l, NULL, " (%s)  ", m->release_id ? m->release_id : "?");
    put(l, release_color(m->status), of_release_status_name(m->status));
    if (m->round) putf(l, NULL, ", round %d", m->round);
    end_line(l);
    putf(l, NULL, "watching %s", of_view_duration(m->elapsed_ms, d, sizeof d));
    if (m->rate_per_min >= 0) putf(l, NULL, "   %.1f jobs/min", m->rate_per_min);
    if (m->eta_ms >= 0) putf(l, NULL, "   about %s left", of_view_duration(m->eta_ms, d, sizeof d));
    end_line(l);
}

static void bar(line *l, int done, int total)
{
    int fill = total > 0 ? (int)((long long)done * BAR_WIDTH / total) : 0;
    char b[BAR_WIDTH + 3];
    b[0] = '[';
    for (int i = 0; i < BAR_WIDTH; i++)
        b[1 + i] = i < fill ? '#' : '.';
    b[BAR_WIDTH + 1] = ']';
    b[BAR_WIDTH + 2] = '\0';
    put(l, NULL, b);
}

/* max_rows: how many (stage, environment) rows fit; the rest is one "+N more" line, so the
 * screen never scrolls (a scrolled screen cannot be redrawn in place). */
static void table(line *l, const of_view_model *m, int max_rows)
{
    int rows = 0, all = m->stage_count * (int)m->n_envs;
    put(l, C_BOLD,
        "STAGE            ENVIRONMENT      STATUS     PROGRESS                DONE/JOBS   "
        "OK SKIP FAIL LIVE HELD WAIT");
    end_line(l);
    for (int st = 1; st <= m->stage_count; st++) {
        for (size_t e = 0; e < m->n_envs; e++) {
            if (rows++ >= max_rows) {
                putf(l, NULL, "  +%d more row(s) (octofleet status shows them all)",
                     all - max_rows);
                end_line(l);
                return;
            }
            const of_view_cell *c = &m->cells[(size_t)(st - 1) * m->n_envs + e];
            const char *name =
                m->stage_names && m->stage_names[st - 1] ? m->stage_names[st - 1] : "";
            int done = c->ok + c->skipped + c->failed;
            putf(l, NULL, "%d %s", st, name);
            pad(l, 17);
            put(l, NULL, m->envs[e] ? m->envs[e] : "?");
            pad(l, 34);
            put(l, stage_color(c->status), of_stage_status_name(c->status));
            pad(l, 45);
            bar(l, done, c->total);
            pad(l, 68);
            putf(l, NULL, "%5d/%-5d %4d %4d ", done, c->total, c->ok, c->skipped);
            putf(l, c->failed ? C_BAD : NULL, "%4d", c->failed);
            putf(l, NULL, " %4d %4d ", c->live, c->held);
            putf(l, c->waiting ? C_RUN : NULL, "%4d", c->waiting);
            end_line(l);
        }
    }
}

static void attention(line *l, const of_view_model *m, size_t room)
{
    if (!m->n_attention) return;
    end_line(l);
    putf(l, C_BOLD, "needs attention (%zu):", m->n_attention);
    end_line(l);
    size_t shown = 0;
    for (size_t i = 0; i < m->n_attention; i++) {
        const of_view_job *j = &m->attention[i];
        size_t need = j->link ? 2 : 1;
        if (shown + need > room || shown >= ATTENTION_MAX) {
            putf(l, NULL, "  +%zu more (octofleet status shows them all)", m->n_attention - i);
            end_line(l);
            break;
        }
        put(l, NULL, "  ");
        put(l, j->status == OF_JOB_WAITING ? C_RUN : C_BAD, of_job_status_name(j->status));
        pad(l, 13);
        putf(l, NULL, "stage %d %s %s%s%s attempt %d%s%s", j->stage, j->project ? j->project : "?",
             j->environment ? j->environment : "?", j->tenant ? " / " : "",
             j->tenant ? j->tenant : "", j->attempt, j->message ? ": " : "",
             j->message ? j->message : "");
        end_line(l);
        if (j->link) {
            put(l, NULL, "             ");
            put(l, NULL, j->link);
            end_line(l);
        }
        shown += need;
    }
}

char *of_view_render(const of_view_model *m, int width, int height, bool color)
{
    of_buf b;
    of_buf_init(&b, (size_t)1 << 22);
    line l = {.b = &b, .width = width < 20 ? 20 : width, .color = color};
    header(&l, m);
    end_line(&l);
    /* rows that fit with the header (3 lines), the table's title, the footer (2), and at
     * least a "+N more" line */
    int all_rows = m->stage_count * (int)m->n_envs;
    int max_rows = all_rows;
    if (height > 0 && all_rows > height - 4 - (m->footer ? 2 : 0))
        max_rows = height - 5 - (m->footer ? 2 : 0) > 0 ? height - 5 - (m->footer ? 2 : 0) : 0;
    table(&l, m, max_rows);
    /* room for the attention list: what the header (2 lines and a blank), the table, the
     * list's own title (a blank and a line), the footer (a blank and a line) and a "+N more"
     * line leave */
    int shown_rows = max_rows < all_rows ? max_rows + 1 : all_rows;
    int fixed = 3 + 1 + shown_rows + 2 + (m->footer ? 2 : 0) + 1;
    size_t room = height > 0 ? (height - fixed > 0 ? (size_t)(height - fixed) : 0) : (size_t)-1;
    if (height <= 0 || height - fixed >= 0) attention(&l, m, room); /* else no line left */
    if (m->footer) {
        end_line(&l);
        put(&l, release_color(m->status), m->footer);
        end_line(&l);
    }
    if (l.rc) {
        of_buf_clear(&b);
        return NULL;
    }
    return of_buf_detach(&b);
}
