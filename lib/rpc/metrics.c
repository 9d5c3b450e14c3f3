/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus registry: series grouped by name, histograms with fixed latency buckets, collectors. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

static const double hist_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10 };
#define NBUCKETS (ARRAY_LEN(hist_bounds) + 1)

struct metric {
	struct metric *next;
	enum metric_kind kind;
	char *name, *help, *labels;
	int64_t value;
};

struct metric_hist {
	struct metric_hist *next;
	char *name, *help, *labels;
	uint64_t buckets[NBUCKETS];
	uint64_t count;
	uint64_t sum_ns;
};

struct collector {
	struct collector *next;
	void (*render)(void *arg, struct buf_writer *w);
	void *arg;
};

struct metrics {
	struct metric *series, **series_tail;
	struct metric_hist *hists, **hists_tail;
	struct collector *collectors, **collectors_tail;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->series_tail = &m->series;
	m->hists_tail = &m->hists;
	m->collectors_tail = &m->collectors;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (struct metric *s = m->series, *n; s; s = n) {
		n = s->next;
		free(s->name), free(s->help), free(s->labels), free(s);
	}
	for (struct metric_hist *h = m->hists, *n; h; h = n) {
		n = h->next;
		free(h->name), free(h->help), free(h->labels), free(h);
	}
	for (struct collector *c = m->collectors, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(m);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct metric *metrics_series(struct metrics *m, enum metric_kind kind, const char *name, const char *help,
			      const char *labels)
{
	struct metric *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = kind;
	s->name = strdup(name);
	s->help = dup_or_null(help);
	s->labels = dup_or_null(labels);
	if (!s->name || (help && !s->help) || (labels && !s->labels)) {
		free(s->name), free(s->help), free(s->labels), free(s);
		return NULL;
	}
	/* Keep series of one name adjacent so HELP/TYPE are written once. */
	struct metric **at = m->series_tail;
	for (struct metric **p = &m->series; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			while (*p && strcmp((*p)->name, name) == 0)
				p = &(*p)->next;
			at = p;
			break;
		}
	}
	s->next = *at;
	*at = s;
	if (!s->next)
		m->series_tail = &s->next;
	return s;
}

void metric_add(struct metric *s, uint64_t v)
{
	if (s)
		s->value += (int64_t)v;
}

void metric_set(struct metric *s, int64_t v)
{
	if (s)
		s->value = v;
}

struct metric_hist *metrics_histogram(struct metrics *m, const char *name, const char *help, const char *labels)
{
	struct metric_hist *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->name = strdup(name);
	h->help = dup_or_null(help);
	h->labels = dup_or_null(labels);
	if (!h->name || (help && !h->help) || (labels && !h->labels)) {
		free(h->name), free(h->help), free(h->labels), free(h);
		return NULL;
	}
	*m->hists_tail = h;
	m->hists_tail = &h->next;
	return h;
}

void metric_observe_ns(struct metric_hist *h, uint64_t ns)
{
	size_t i = 0;
	double s = (double)ns / 1e9;

	if (!h)
		return;
	while (i < ARRAY_LEN(hist_bounds) && s > hist_bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum_ns += ns;
}

void metrics_add_collector(struct metrics *m, void (*render)(void *arg, struct buf_writer *w), void *arg)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->render = render;
	c->arg = arg;
	*m->collectors_tail = c;
	m->collectors_tail = &c->next;
}

void metrics_put_label_value(struct buf_writer *w, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_put_u8(w, '\\'), buf_put_u8(w, (uint8_t)*v);
		else if (*v == '\n')
			buf_put_str(w, "\\n");
		else
			buf_put_u8(w, (uint8_t)*v);
	}
}

static void put_header(struct buf_writer *w, const char *name, const char *help, const char *type)
{
	if (help)
		buf_printf(w, "# HELP %s %s\n", name, help);
	buf_printf(w, "# TYPE %s %s\n", name, type);
}

void metrics_render(struct metrics *m, struct buf_writer *w)
{
	const char *prev = NULL;

	for (struct metric *s = m->series; s; s = s->next) {
		if (!prev || strcmp(prev, s->name) != 0)
			put_header(w, s->name, s->help, s->kind == METRIC_COUNTER ? "counter" : "gauge");
		prev = s->name;
		if (s->labels)
			buf_printf(w, "%s{%s} %lld\n", s->name, s->labels, (long long)s->value);
		else
			buf_printf(w, "%s %lld\n", s->name, (long long)s->value);
	}
	prev = NULL;
	for (struct metric_hist *h = m->hists; h; h = h->next) {
		const char *sep = h->labels ? "," : "";
		const char *lb = h->labels ? h->labels : "";
		uint64_t cum = 0;
		if (!prev || strcmp(prev, h->name) != 0)
			put_header(w, h->name, h->help, "histogram");
		prev = h->name;
		for (size_t i = 0; i < NBUCKETS; i++) {
			cum += h->buckets[i];
			if (i < ARRAY_LEN(hist_bounds))
				buf_printf(w, "%s_bucket{%s%sle=\"%g\"} %llu\n", h->name, lb, sep, hist_bounds[i],
					   (unsigned long long)cum);
			else
				buf_printf(w, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", h->name, lb, sep,
					   (unsigned long long)cum);
		}
		buf_printf(w, "%s_sum%s%s%s %.9f\n", h->name, *lb ? "{" : "", lb, *lb ? "}" : "",
			   (double)h->sum_ns / 1e9);
		buf_printf(w, "%s_count%s%s%s %llu\n", h->name, *lb ? "{" : "", lb, *lb ? "}" : "",
			   (unsigned long long)h->count);
	}
	for (struct collector *c = m->collectors; c; c = c->next)
		c->render(c->arg, w);
}
