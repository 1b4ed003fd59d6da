/* ofmetrics: a registry of counters, gauges and histograms with label sets, rendered in the
 * Prometheus text exposition format (version 0.0.4). Pure C, no outside library.
 *
 * Shape: a registry holds metric families (a name, a help text, a type, label names); a
 * family holds series (one per set of label values). A caller resolves a series once (the
 * first resolution allocates it, later ones find it) and keeps the pointer: updating a series
 * is then a mutex lock, an add and an unlock, with no allocation. That keeps a job's metric
 * cost to well under a microsecond (the fleet aims at <= 150 us CPU per job).
 *
 * Threads: every function may be called from any thread. One mutex per registry guards the
 * values, so the daemon's loop thread can update while an HTTP thread renders.
 *
 * NULL is everywhere a no-op: a daemon with metrics off passes a NULL registry, gets NULL
 * families and series back, and its updates cost a branch. So call sites need no "metrics
 * on?" test.
 *
 * Ownership: the registry owns its families and series; the pointers handed out stay valid
 * until of_metrics_free. Names, help texts, label names and label values are copied. */
#ifndef OF_METRICS_H
#define OF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

typedef struct of_metrics of_metrics;
typedef struct of_metric of_metric; /* a family: one name, many label sets */
typedef struct of_series of_series; /* one label set of a family */

/* Most labels a family may have. */
#define OF_METRICS_MAX_LABELS 4
/* Most bucket bounds of a histogram (the +Inf bucket is added on top). */
#define OF_METRICS_MAX_BUCKETS 32
/* A label value longer than this is cut (at a UTF-8 boundary): labels are low-cardinality
 * names, never payloads. */
#define OF_METRICS_MAX_VALUE 128

/* The fleet's latency buckets in seconds (docs/monitoring.md). */
extern const double of_metrics_default_buckets[];
extern const size_t of_metrics_default_nbuckets;

/* A new, empty registry (NULL when out of memory). Free with of_metrics_free. */
of_metrics *of_metrics_new(void);
/* Frees the registry, its families and series. NULL is a no-op. */
void of_metrics_free(of_metrics *m);

/* Declares a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*,
 * not starting with "__", not "le" for histograms; nlabels <= OF_METRICS_MAX_LABELS. Declaring
 * the same name again with the same type and labels returns the existing family; anything
 * else invalid returns NULL (and so does m == NULL or no memory). Families render in the order
 * they were declared. Histogram bounds must be strictly increasing and finite (1 to
 * OF_METRICS_MAX_BUCKETS of them). */
of_metric *of_metrics_counter(of_metrics *m, const char *name, const char *help,
                              const char *const *labels, size_t nlabels);
of_metric *of_metrics_gauge(of_metrics *m, const char *name, const char *help,
                            const char *const *labels, size_t nlabels);
of_metric *of_metrics_histogram(of_metrics *m, const char *name, const char *help,
                                const char *const *labels, size_t nlabels, const double *bounds,
                                size_t nbounds);

/* The series of family f with these label values (as many as the family has labels; a NULL
 * value is ""), created on first use. NULL when f is NULL or out of memory. Finding an existing
 * series allocates nothing. */
of_series *of_metric_series(of_metric *f, const char *const *values);
/* Shorthands for families with no label, one label or two labels. */
of_series *of_metric_series0(of_metric *f);
of_series *of_metric_series1(of_metric *f, const char *v1);
of_series *of_metric_series2(of_metric *f, const char *v1, const char *v2);

/* Counter: adds v (>= 0; a negative v is ignored, counters never go down). Gauge: adds v. */
void of_series_add(of_series *s, double v);
static inline void of_series_inc(of_series *s)
{
    of_series_add(s, 1.0);
}
/* Gauge: sets the value (ignored on a counter or histogram). */
void of_series_set(of_series *s, double v);
/* Histogram: counts one observation of v (ignored on a counter or gauge). */
void of_series_observe(of_series *s, double v);

/* Drops every series of gauge family f (a gauge whose label sets come and go, such as lag per
 * assigned partition: the caller sets the current ones again). Series pointers of f held by
 * the caller become invalid; only for families whose series are resolved afresh each time. */
void of_metric_reset(of_metric *f);

/* Reads a series' value (counter, gauge) or observation count (histogram); 0 for NULL. For
 * tests. */
double of_series_value(const of_series *s);

/* Appends the whole registry in the text exposition format to out: per family "# HELP" and
 * "# TYPE" lines, then its series (a histogram's as _bucket{le=...} cumulative with le="+Inf",
 * _sum and _count). Label values and help texts are escaped as the format requires. A family
 * with no series still gets its HELP and TYPE lines, and a family without labels renders its
 * one series even before the first update (a 0 is a truthful answer for "nothing yet").
 * OF_ERR_TOO_LARGE when out's cap is reached (out then holds a cut rendering), OF_ERR_NOMEM. */
OF_MUST_CHECK of_err of_metrics_render(of_metrics *m, of_buf *out);

#endif
