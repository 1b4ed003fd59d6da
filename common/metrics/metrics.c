/* The metrics registry (metrics.h): families in declaration order, series in creation order,
 * one mutex for the lot. Series are found by a hash of their label values compared first, so a
 * family of a few hundred series (stage x environment x outcome) is found in a short scan of
 * integers; the strings are compared only on a hash match. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double of_metrics_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                             5,     10,   30,    60,   120, 300,  600, 1800, 3600};
const size_t of_metrics_default_nbuckets =
    sizeof(of_metrics_default_buckets) / sizeof(of_metrics_default_buckets[0]);

typedef enum m_type { M_COUNTER, M_GAUGE, M_HISTOGRAM } m_type;

struct of_series {
    of_metric *f;
    uint64_t hash;
    char *values[OF_METRICS_MAX_LABELS];
    double value;     /* counter, gauge; histogram: the sum */
    uint64_t count;   /* histogram: observations */
    uint64_t *counts; /* histogram: per bucket, not cumulative; [nbounds + 1] */
};

struct of_metric {
    of_metrics *m;
    m_type type;
    char *name;
    char *help;
    char *labels[OF_METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    of_series **series;
    size_t n, cap;
};

struct of_metrics {
    pthread_mutex_t mu;
    of_metric **fams;
    size_t n, cap;
};

/* ---- names and values ---- */

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s) return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    h ^= 0xff; /* separates ("ab","c") from ("a","bc") */
    return h * 1099511628211u;
}

/* A copy of v cut to OF_METRICS_MAX_VALUE bytes at a UTF-8 boundary. */
static char *value_dup(const char *v)
{
    size_t n = strlen(v);
    if (n > OF_METRICS_MAX_VALUE) {
        n = OF_METRICS_MAX_VALUE;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, v, n);
        s[n] = '\0';
    }
    return s;
}

/* ---- the registry ---- */

of_metrics *of_metrics_new(void)
{
    of_metrics *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void series_free(of_series *s)
{
    if (!s) return;
    for (size_t i = 0; i < OF_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->counts);
    free(s);
}

static void family_free(of_metric *f)
{
    for (size_t i = 0; i < f->n; i++)
        series_free(f->series[i]);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void of_metrics_free(of_metrics *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Creates a series of f (locked by the caller). */
static of_series *series_new(of_metric *f, const char *const *values, uint64_t hash)
{
    if (of_grow((void **)&f->series, &f->cap, f->n, sizeof *f->series)) return NULL;
    of_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->f = f;
    s->hash = hash;
    bool ok = true;
    for (size_t i = 0; i < f->nlabels; i++)
        ok = ok && (s->values[i] = value_dup(values && values[i] ? values[i] : "")) != NULL;
    if (ok && f->type == M_HISTOGRAM) ok = (s->counts = calloc(f->nbounds + 1, sizeof *s->counts));
    if (!ok) {
        series_free(s);
        return NULL;
    }
    f->series[f->n++] = s;
    return s;
}

static bool same_family(const of_metric *f, m_type type, const char *const *labels, size_t n)
{
    if (f->type != type || f->nlabels != n) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]) != 0) return false;
    return true;
}

static of_metric *declare(of_metrics *m, m_type type, const char *name, const char *help,
                          const char *const *labels, size_t nlabels, const double *bounds,
                          size_t nbounds)
{
    if (!m || !name_ok(name, true) || nlabels > OF_METRICS_MAX_LABELS || (nlabels && !labels))
        return NULL;
    for (size_t i = 0; i < nlabels; i++)
        if (!name_ok(labels[i], false) || strncmp(labels[i], "__", 2) == 0 ||
            (type == M_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return NULL;
    if (type == M_HISTOGRAM) {
        if (!bounds || nbounds < 1 || nbounds > OF_METRICS_MAX_BUCKETS) return NULL;
        for (size_t i = 0; i < nbounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) return NULL;
    }
    pthread_mutex_lock(&m->mu);
    of_metric *f = NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->fams[i]->name, name) == 0) {
            f = same_family(m->fams[i], type, labels, nlabels) ? m->fams[i] : NULL;
            pthread_mutex_unlock(&m->mu);
            return f;
        }
    bool ok = of_grow((void **)&m->fams, &m->cap, m->n, sizeof *m->fams) == OF_OK &&
              (f = calloc(1, sizeof *f)) != NULL;
    if (ok) {
        f->m = m;
        f->type = type;
        f->nlabels = nlabels;
        ok = (f->name = strdup(name)) && (f->help = strdup(help ? help : ""));
        for (size_t i = 0; ok && i < nlabels; i++)
            ok = (f->labels[i] = strdup(labels[i])) != NULL;
        if (ok && type == M_HISTOGRAM) {
            ok = (f->bounds = malloc(nbounds * sizeof *f->bounds)) != NULL;
            if (ok) memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
            f->nbounds = nbounds;
        }
        /* A family without labels has exactly one series: it exists (and renders 0) from the
         * start. */
        if (ok && nlabels == 0) ok = series_new(f, NULL, fnv(14695981039346656037u, "")) != NULL;
    }
    if (ok) {
        m->fams[m->n++] = f;
    } else if (f) {
        family_free(f);
        f = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    return f;
}

of_metric *of_metrics_counter(of_metrics *m, const char *name, const char *help,
                              const char *const *labels, size_t nlabels)
{
    return declare(m, M_COUNTER, name, help, labels, nlabels, NULL, 0);
}

of_metric *of_metrics_gauge(of_metrics *m, const char *name, const char *help,
                            const char *const *labels, size_t nlabels)
{
    return declare(m, M_GAUGE, name, help, labels, nlabels, NULL, 0);
}

of_metric *of_metrics_histogram(of_metrics *m, const char *name, const char *help,
                                const char *const *labels, size_t nlabels, const double *bounds,
                                size_t nbounds)
{
    return declare(m, M_HISTOGRAM, name, help, labels, nlabels, bounds, nbounds);
}

/* ---- series ---- */

of_series *of_metric_series(of_metric *f, const char *const *values)
{
    if (!f) return NULL;
    /* The values as stored: cut where too long (rare; labels are short names). */
    char cut[OF_METRICS_MAX_LABELS][OF_METRICS_MAX_VALUE + 1];
    const char *v[OF_METRICS_MAX_LABELS];
    uint64_t h = 14695981039346656037u;
    if (f->nlabels == 0) h = fnv(h, "");
    for (size_t i = 0; i < f->nlabels; i++) {
        v[i] = values && values[i] ? values[i] : "";
        if (strlen(v[i]) > OF_METRICS_MAX_VALUE) {
            char *d = value_dup(v[i]);
            if (!d) return NULL;
            snprintf(cut[i], sizeof cut[i], "%s", d);
            free(d);
            v[i] = cut[i];
        }
        h = fnv(h, v[i]);
    }
    pthread_mutex_lock(&f->m->mu);
    of_series *s = NULL;
    for (size_t i = 0; i < f->n && !s; i++) {
        of_series *c = f->series[i];
        if (c->hash != h) continue;
        bool eq = true;
        for (size_t k = 0; eq && k < f->nlabels; k++)
            eq = strcmp(c->values[k], v[k]) == 0;
        if (eq) s = c;
    }
    if (!s) s = series_new(f, v, h);
    pthread_mutex_unlock(&f->m->mu);
    return s;
}

of_series *of_metric_series0(of_metric *f)
{
    return of_metric_series(f, NULL);
}

of_series *of_metric_series1(of_metric *f, const char *v1)
{
    const char *v[1] = {v1};
    return of_metric_series(f, v);
}

of_series *of_metric_series2(of_metric *f, const char *v1, const char *v2)
{
    const char *v[2] = {v1, v2};
    return of_metric_series(f, v);
}

void of_series_add(of_series *s, double v)
{
    if (!s || s->f->type == M_HISTOGRAM || isnan(v)) return;
    if (s->f->type == M_COUNTER && !(v >= 0)) return;
    pthread_mutex_lock(&s->f->m->mu);
    s->value += v;
    pthread_mutex_unlock(&s->f->m->mu);
}

void of_series_set(of_series *s, double v)
{
    if (!s || s->f->type != M_GAUGE) return;
    pthread_mutex_lock(&s->f->m->mu);
    s->value = v;
    pthread_mutex_unlock(&s->f->m->mu);
}

void of_series_observe(of_series *s, double v)
{
    if (!s || s->f->type != M_HISTOGRAM || isnan(v)) return;
    const of_metric *f = s->f;
    size_t b = 0;
    while (b < f->nbounds && v > f->bounds[b]) /* le: a value on a bound counts in it */
        b++;
    pthread_mutex_lock(&f->m->mu);
    s->counts[b]++;
    s->count++;
    s->value += v;
    pthread_mutex_unlock(&f->m->mu);
}

void of_metric_reset(of_metric *f)
{
    if (!f || f->type != M_GAUGE || f->nlabels == 0) return;
    pthread_mutex_lock(&f->m->mu);
    for (size_t i = 0; i < f->n; i++)
        series_free(f->series[i]);
    f->n = 0;
    pthread_mutex_unlock(&f->m->mu);
}

double of_series_value(const of_series *s)
{
    if (!s) return 0;
    pthread_mutex_lock(&s->f->m->mu);
    double v = s->f->type == M_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&s->f->m->mu);
    return v;
}

/* ---- rendering ---- */

/* A sample value: integers as integers (counts stay exact and readable), else the shortest
 * %g that reads back the same, and the format's spellings of the specials. */
static of_err put_num(of_buf *b, double v)
{
    if (isnan(v)) return of_buf_puts(b, "NaN");
    if (isinf(v)) return of_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15) return of_buf_printf(b, "%.0f", v);
    char s[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    return of_buf_puts(b, s);
}

/* Escapes \ and newline (help texts), and " too (label values). */
static of_err put_escaped(of_buf *b, const char *s, bool quote)
{
    of_err rc = OF_OK;
    const char *run = s;
    for (; !rc && *s; s++) {
        const char *esc = *s == '\\'           ? "\\\\"
                          : *s == '\n'         ? "\\n"
                          : quote && *s == '"' ? "\\\""
                                               : NULL;
        if (!esc) continue;
        rc = of_buf_append(b, run, (size_t)(s - run));
        if (!rc) rc = of_buf_puts(b, esc);
        run = s + 1;
    }
    return rc ? rc : of_buf_puts(b, run);
}

/* name{labels[,le="x"]} for one sample line. */
static of_err put_sample_name(of_buf *b, const of_metric *f, const of_series *s, const char *suffix,
                              const double *le)
{
    of_err rc = of_buf_puts(b, f->name);
    if (!rc) rc = of_buf_puts(b, suffix);
    if (rc || (f->nlabels == 0 && !le)) return rc;
    rc = of_buf_append(b, "{", 1);
    for (size_t i = 0; !rc && i < f->nlabels; i++) {
        rc = of_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (!rc) rc = put_escaped(b, s->values[i], true);
        if (!rc) rc = of_buf_append(b, "\"", 1);
    }
    if (!rc && le) {
        rc = of_buf_printf(b, "%sle=\"", f->nlabels ? "," : "");
        if (!rc) rc = put_num(b, *le);
        if (!rc) rc = of_buf_append(b, "\"", 1);
    }
    return rc ? rc : of_buf_append(b, "}", 1);
}

static of_err put_line(of_buf *b, const of_metric *f, const of_series *s, const char *suffix,
                       const double *le, double v)
{
    of_err rc = put_sample_name(b, f, s, suffix, le);
    if (!rc) rc = of_buf_append(b, " ", 1);
    if (!rc) rc = put_num(b, v);
    return rc ? rc : of_buf_append(b, "\n", 1);
}

static const char *type_name(m_type t)
{
    return t == M_COUNTER ? "counter" : t == M_GAUGE ? "gauge" : "histogram";
}

of_err of_metrics_render(of_metrics *m, of_buf *out)
{
    if (!m) return OF_OK;
    of_err rc = OF_OK;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; !rc && i < m->n; i++) {
        const of_metric *f = m->fams[i];
        rc = of_buf_printf(out, "# HELP %s ", f->name);
        if (!rc) rc = put_escaped(out, f->help, false);
        if (!rc) rc = of_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
        for (size_t k = 0; !rc && k < f->n; k++) {
            const of_series *s = f->series[k];
            if (f->type != M_HISTOGRAM) {
                rc = put_line(out, f, s, "", NULL, s->value);
                continue;
            }
            uint64_t cum = 0;
            for (size_t j = 0; !rc && j <= f->nbounds; j++) {
                cum += s->counts[j];
                double le = j < f->nbounds ? f->bounds[j] : INFINITY;
                rc = put_line(out, f, s, "_bucket", &le, (double)cum);
            }
            if (!rc) rc = put_line(out, f, s, "_sum", NULL, s->value);
            if (!rc) rc = put_line(out, f, s, "_count", NULL, (double)s->count);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
