/* SPDX-License-Identifier: Apache-2.0 */
/* Levelled logging to stderr with a per-request or per-connection prefix. */
#ifndef DS_LOG_H
#define DS_LOG_H

#include <stdarg.h>
#include "base.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * Process-wide settings, written once by main() before any thread starts and
 * read-only afterwards (the one deliberate exception to "no mutable statics").
 * `name` is borrowed and must outlive the process (a string literal).
 */
void log_setup(const char *name, enum log_level level);
enum log_level log_get_level(void);
/* Parse "error" | "warn" | "info" | "debug"; returns -1 on anything else. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

static inline int log_enabled(enum log_level level)
{
	return level <= log_get_level();
}

/*
 * Write one line. `prefix` (borrowed, may be NULL) names the request or
 * connection, e.g. "c12 s3 /dstack.kms.v1.Kms/GetMeta". Never pass key
 * material, tokens or raw evidence as arguments.
 */
void log_msg(enum log_level level, const char *prefix, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap) PRINTF_LIKE(3, 0);

#define log_error(pfx, ...) log_msg(LOG_ERROR, pfx, __VA_ARGS__)
#define log_warn(pfx, ...) log_msg(LOG_WARN, pfx, __VA_ARGS__)
#define log_info(pfx, ...) do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, pfx, __VA_ARGS__); } while (0)
#define log_debug(pfx, ...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, pfx, __VA_ARGS__); } while (0)

#endif
