/* SPDX-License-Identifier: Apache-2.0 */
/* A small Prometheus text-format registry for one event-loop thread. */
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include "base.h"
#include "buf.h"

struct metrics;
struct metric;

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * A series `name{labels}`; `labels` is the preformatted inside of the braces
 * ('method="x",code="OK"') or NULL. Series with one name share HELP/TYPE
 * lines. Strings are copied. NULL on allocation failure; metric_* accept NULL.
 */
struct metric *metrics_series(struct metrics *m, enum metric_kind kind, const char *name, const char *help,
			      const char *labels);
void metric_add(struct metric *s, uint64_t v);
void metric_set(struct metric *s, int64_t v);

/* Histogram over fixed latency buckets (seconds), observed in nanoseconds. */
struct metric_hist;
struct metric_hist *metrics_histogram(struct metrics *m, const char *name, const char *help, const char *labels);
void metric_observe_ns(struct metric_hist *h, uint64_t ns);

/* Code that keeps its own numbers renders them itself at scrape time. */
void metrics_add_collector(struct metrics *m, void (*render)(void *arg, struct buf_writer *w), void *arg);

/* The whole exposition text. */
void metrics_render(struct metrics *m, struct buf_writer *w);

/* Escape a label value (backslash, quote, newline) into w. */
void metrics_put_label_value(struct buf_writer *w, const char *v);

#endif
