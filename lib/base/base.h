/* SPDX-License-Identifier: Apache-2.0 */
/* Compiler attributes and small helpers shared by every module. */
#ifndef DS_BASE_H
#define DS_BASE_H

#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define UNUSED __attribute__((unused))

/* Drop const for C APIs that take non-const pointers they do not write through (nghttp2 nv, OpenSSL). */
#define UNCONST(p) ((void *)(uintptr_t)(const void *)(p))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Monotonic clock in nanoseconds / milliseconds (CLOCK_MONOTONIC). */
uint64_t mono_ns(void);
uint64_t mono_ms(void);
/* Wall clock, unix seconds. */
uint64_t wall_s(void);

/* Wipe memory that held secrets; never optimised away. */
void secure_wipe(void *p, size_t n);

/* Constant-time comparison; returns 1 when equal. */
int ct_equal(const void *a, const void *b, size_t n);

#endif
