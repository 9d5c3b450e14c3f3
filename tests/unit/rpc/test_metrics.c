/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus exposition: series grouping, histogram buckets, collectors, label escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static const char *render(struct metrics *m, struct buf_writer *w)
{
	buf_writer_clear(w);
	metrics_render(m, w);
	assert_int_equal(buf_writer_status(w), ERR_OK);
	return buf_cstr(w);
}

static void collect(void *arg, struct buf_writer *w)
{
	buf_printf(w, "custom_total %d\n", *(int *)arg);
}

static void test_series_grouped_under_one_header(void **state)
{
	struct metrics *m = metrics_new();
	struct buf_writer w;
	struct metric *a, *b, *g;

	(void)state;
	buf_writer_init(&w, 1 << 16);
	a = metrics_series(m, METRIC_COUNTER, "req_total", "Requests.", "code=\"OK\"");
	g = metrics_series(m, METRIC_GAUGE, "open", "Open things.", NULL);
	b = metrics_series(m, METRIC_COUNTER, "req_total", "Requests.", "code=\"NOT_FOUND\"");
	metric_add(a, 3);
	metric_add(b, 1);
	metric_set(g, -2);
	metric_add(NULL, 1); /* tolerated */
	assert_string_equal(render(m, &w), "# HELP req_total Requests.\n"
					   "# TYPE req_total counter\n"
					   "req_total{code=\"OK\"} 3\n"
					   "req_total{code=\"NOT_FOUND\"} 1\n"
					   "# HELP open Open things.\n"
					   "# TYPE open gauge\n"
					   "open -2\n");
	buf_writer_free(&w);
	metrics_free(m);
}

static void test_histogram_cumulative_buckets(void **state)
{
	struct metrics *m = metrics_new();
	struct buf_writer w;
	struct metric_hist *h;
	const char *out;

	(void)state;
	buf_writer_init(&w, 1 << 16);
	h = metrics_histogram(m, "lat_seconds", "Latency.", "method=\"/a.B/C\"");
	metric_observe_ns(h, 50000);       /* 50 us -> le 0.0001 */
	metric_observe_ns(h, 800000);      /* 0.8 ms -> le 0.001 */
	metric_observe_ns(h, 20000000000); /* 20 s -> +Inf only */
	out = render(m, &w);
	assert_non_null(strstr(out, "# TYPE lat_seconds histogram\n"));
	assert_non_null(strstr(out, "lat_seconds_bucket{method=\"/a.B/C\",le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(out, "lat_seconds_bucket{method=\"/a.B/C\",le=\"0.00025\"} 1\n"));
	assert_non_null(strstr(out, "lat_seconds_bucket{method=\"/a.B/C\",le=\"0.001\"} 2\n"));
	assert_non_null(strstr(out, "lat_seconds_bucket{method=\"/a.B/C\",le=\"10\"} 2\n"));
	assert_non_null(strstr(out, "lat_seconds_bucket{method=\"/a.B/C\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(out, "lat_seconds_count{method=\"/a.B/C\"} 3\n"));
	assert_non_null(strstr(out, "lat_seconds_sum{method=\"/a.B/C\"} 20.000850000\n"));
	buf_writer_free(&w);
	metrics_free(m);
}

static void test_collector_and_escaping(void **state)
{
	struct metrics *m = metrics_new();
	struct buf_writer w;
	int v = 7;

	(void)state;
	buf_writer_init(&w, 1 << 16);
	metrics_add_collector(m, collect, &v);
	assert_string_equal(render(m, &w), "custom_total 7\n");
	buf_writer_clear(&w);
	metrics_put_label_value(&w, "a\"b\\c\nd");
	assert_string_equal(buf_cstr(&w), "a\\\"b\\\\c\\nd");
	buf_writer_free(&w);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_grouped_under_one_header),
		cmocka_unit_test(test_histogram_cumulative_buckets),
		cmocka_unit_test(test_collector_and_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
