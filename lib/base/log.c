/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: one line per call, written with a single write(2) so lines from threads do not interleave. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_name = "dstack";
static enum log_level log_level_cur = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(const char *name, enum log_level level)
{
	if (name)
		log_name = name;
	log_level_cur = level;
}

enum log_level log_get_level(void)
{
	return log_level_cur;
}

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return (size_t)level < ARRAY_LEN(level_names) ? level_names[level] : "?";
}

void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	static const char *const tags[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n = 0;
	int r;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s%s%s%s ", ts.tv_nsec / 1000000L,
		     tags[level < LOG_DEBUG ? level : LOG_DEBUG], log_name, prefix ? " [" : "",
		     prefix ? prefix : "", prefix ? "]" : "");
	if (r > 0)
		n += MIN((size_t)r, sizeof(line) - n - 1);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += MIN((size_t)r, sizeof(line) - n - 1);
	/* Keep one line per record: control characters from peers would let them forge lines. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}
