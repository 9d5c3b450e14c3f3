/* SPDX-License-Identifier: Apache-2.0 */
/* A strict JSON parser into an arena-backed tree, for untrusted documents (collateral, JSON-RPC, app-compose). */
#ifndef DS_JSON_H
#define DS_JSON_H

#include "arena.h"
#include "base.h"
#include "buf.h"
#include "err.h"

enum json_type { JSON_NULL = 0, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

/*
 * A parsed value. Everything lives in the arena passed to json_parse.
 * `raw`/`raw_len` is the exact span of the input text this value came from
 * (signatures over "the exact bytes as served" use it, e.g. Intel's tcbInfo).
 */
struct json_value {
	enum json_type type;
	const char *raw;
	size_t raw_len;
	union {
		struct {               /* JSON_STRING: decoded UTF-8, NUL-terminated; may contain \u0000 (len counts it) */
			const char *s;
			size_t len;
		} str;
		struct {               /* JSON_NUMBER: the literal text (validated RFC 8259 grammar) */
			const char *text;
			size_t len;
		} num;
		struct {
			struct json_value *items;
			size_t n;
		} arr;
		struct {               /* members in document order; duplicate keys are rejected */
			struct json_member *members;
			size_t n;
		} obj;
	} u;
};

struct json_member {
	const char *key;               /* decoded, NUL-terminated */
	size_t key_len;
	struct json_value value;
};

struct json_limits {
	unsigned max_depth;            /* 0 = 64 */
	size_t max_len;                /* 0 = 16 MiB; longer input is ERR_PROTO_TOO_LARGE */
};

/*
 * Parse exactly one JSON value (any type) with only whitespace around it.
 * Strict RFC 8259: no comments, no trailing commas, no leading zeros, no
 * NaN, valid UTF-8 only, escapes checked (lone surrogates rejected),
 * control characters in strings rejected, duplicate object keys rejected.
 * Errors: ERR_PROTO_JSON (syntax; *err_offset = byte offset when not NULL),
 * ERR_PROTO_ENCODING (invalid UTF-8, or a \u escape of a lone surrogate;
 * *err_offset is set too), ERR_PROTO_DEPTH, ERR_PROTO_TOO_LARGE,
 * ERR_BUDGET. Work and memory are linear in the input size. Depth counts
 * nested arrays/objects ("[[]]" is 2). *out is NULL on failure.
 */
err_t json_parse(const char *text, size_t len, const struct json_limits *lim, struct arena *a,
		 struct json_value **out, size_t *err_offset) MUST_CHECK;

/* Member of an object by key (exact, case-sensitive); NULL when absent or `v` is not an object. */
const struct json_value *json_get(const struct json_value *v, const char *key);

/*
 * Typed accessors: ERR_OK, ERR_NOT_FOUND when the key is absent, or
 * ERR_PROTO_FIELD_TYPE when the value has the wrong type or range.
 */
err_t json_get_str(const struct json_value *obj, const char *key, const char **s, size_t *len) MUST_CHECK;
err_t json_get_u64(const struct json_value *obj, const char *key, uint64_t *v) MUST_CHECK;
err_t json_get_i64(const struct json_value *obj, const char *key, int64_t *v) MUST_CHECK;
err_t json_get_bool(const struct json_value *obj, const char *key, int *v) MUST_CHECK;
/* A string of hex digits (either case, optional 0x) decoded into out; exact length required when want_len > 0. */
err_t json_get_hex(const struct json_value *obj, const char *key, uint8_t *out, size_t cap, size_t want_len,
		   size_t *len) MUST_CHECK;
/* The value itself as an integer: non-negative integral numbers only (no fraction/exponent), <= UINT64_MAX. */
err_t json_to_u64(const struct json_value *v, uint64_t *out) MUST_CHECK;

/* Append a JSON string literal for s[0..len) (escaping as needed) to w. */
void json_put_string(struct buf_writer *w, const char *s, size_t len);

#endif
