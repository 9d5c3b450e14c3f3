/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf <-> JSON: a strict RFC 8259 reader that decodes straight into arena-backed protobuf-c messages, and a deterministic writer. */
#include "pbjson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"

/* Nesting limits. The hard one bounds the recursion whatever the caller asks for. */
#define PBJSON_DEPTH_DEFAULT 32u
#define PBJSON_DEPTH_HARD 1000u

/*
 * Longest number text handed to strtod/strtof. 767 significant digits decide
 * any double; the cap bounds the work of libc's arbitrary-precision path.
 */
#define PBJSON_NUM_MAX 1100

/* Unknown keys are named in `detail` only when short and plainly an identifier. */
#define PBJSON_KEY_NAME_MAX 64

static unsigned depth_limit(const struct pbjson_opts *o)
{
	unsigned d = o && o->max_depth ? o->max_depth : PBJSON_DEPTH_DEFAULT;

	return d > PBJSON_DEPTH_HARD ? PBJSON_DEPTH_HARD : d;
}

/* ---------------------------------------------------------------------------
 * Shared helpers: names, UTF-8, well-known types
 * ------------------------------------------------------------------------- */

/* protoc's ToJsonName: drop each '_' and upper-case the character after it. */
static int camel_eq(const char *name, const uint8_t *key, size_t klen)
{
	size_t k = 0;
	int up = 0;

	for (const char *c = name; *c; c++) {
		char ch = *c;
		if (ch == '_') {
			up = 1;
			continue;
		}
		if (up && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		up = 0;
		if (k >= klen || key[k] != (uint8_t)ch)
			return 0;
		k++;
	}
	return k == klen;
}

static char *camel_dup(struct arena *a, const char *name)
{
	size_t n = strlen(name), k = 0;
	char *out = arena_alloc(a, n + 1);
	int up = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (ch == '_') {
			up = 1;
			continue;
		}
		if (up && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		up = 0;
		out[k++] = ch;
	}
	out[k] = 0;
	return out;
}

/* strcmp of a NUL-terminated descriptor name against counted key bytes (which may hold NULs). */
static int name_cmp(const char *name, const uint8_t *key, size_t klen)
{
	for (size_t i = 0; i < klen; i++) {
		uint8_t c = (uint8_t)name[i];
		if (c != key[i])
			return c < key[i] ? -1 : 1;   /* also covers name ending first (c == 0) */
	}
	return name[klen] ? 1 : 0;
}

static size_t utf8_cp_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/*
 * The wrappers are written as their bare `value`; matched by full name and
 * checked for shape. (google.protobuf.Empty needs no case of its own: a
 * message without fields already reads and writes as {}.)
 */
static int is_wrapper_type(const ProtobufCMessageDescriptor *d)
{
	static const char *const names[] = {
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue",
		"google.protobuf.BytesValue",
	};

	if (d->n_fields != 1 || d->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
	    d->fields[0].type == PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(d->name, names[i]) == 0)
			return 1;
	return 0;
}

/* Bytes of one element of a repeated field of this type in protobuf-c's C layout. */
static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Decoder
 * ------------------------------------------------------------------------- */

struct jp {
	struct buf_reader r;     /* the JSON text; every byte is read through it */
	struct arena *a;
	unsigned depth;
	unsigned max_depth;
	int dstack;
	int ignore_unknown;
	const char **detail;     /* first error wins; NULL when the caller does not want it */
};

/* A scanned string literal: raw bytes between the quotes, already validated. */
struct jstr {
	const uint8_t *raw;
	size_t rawlen;
	size_t declen;   /* bytes after unescaping */
	int esc;         /* has backslash escapes (raw != decoded) */
	int has_nul;     /* decodes to a string holding U+0000 */
};

static int jp_peek(const struct jp *p)
{
	return buf_remaining(&p->r) ? buf_cursor(&p->r)[0] : -1;
}

static void jp_ws(struct jp *p)
{
	while (buf_remaining(&p->r)) {
		uint8_t c = buf_cursor(&p->r)[0];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->r.pos++;
	}
}

static const char *field_label(struct jp *p, const ProtobufCFieldDescriptor *f)
{
	return p->dstack ? f->name : camel_dup(p->a, f->name);
}

/*
 * Record the first error's detail and return its code. The text names the
 * field (as the flavour spells it) and the byte offset, never input values.
 */
static err_t jp_fail(struct jp *p, err_t e, const ProtobufCFieldDescriptor *f, const char *what)
{
	const char *name = NULL;
	char *s;

	if (!p->detail || *p->detail)
		return e;
	if (e == ERR_BUDGET || e == ERR_NOMEM) {
		*p->detail = what;
		return e;
	}
	if (f)
		name = field_label(p, f);
	if (name)
		s = arena_printf(p->a, "field '%s' at offset %zu: %s", name, p->r.pos, what);
	else
		s = arena_printf(p->a, "offset %zu: %s", p->r.pos, what);
	*p->detail = s ? s : what;
	return e;
}

static err_t jp_nomem(struct jp *p)
{
	return jp_fail(p, arena_err(p->a), NULL, "arena exhausted");
}

static err_t jp_syntax(struct jp *p, const char *what)
{
	return jp_fail(p, ERR_PROTO_JSON, NULL, what);
}

static err_t jp_literal(struct jp *p, const char *word)
{
	size_t n = strlen(word);

	if (buf_remaining(&p->r) < n || memcmp(buf_cursor(&p->r), word, n) != 0)
		return jp_syntax(p, "invalid literal");
	p->r.pos += n;
	return ERR_OK;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of the longest prefix of s that is a complete RFC 8259 number, or 0
 * when s does not start one. Whatever follows the prefix is left to the
 * caller, which rejects it ("01" is "0" then a stray "1").
 */
static size_t num_span(const uint8_t *s, size_t len)
{
	size_t i = 0, ok;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < len && is_digit(s[i]))
			i++;
	else
		return 0;
	ok = i;
	if (i < len && s[i] == '.') {
		size_t j = i + 1;
		if (j >= len || !is_digit(s[j]))
			return ok;
		while (j < len && is_digit(s[j]))
			j++;
		i = ok = j;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j >= len || !is_digit(s[j]))
			return ok;
		while (j < len && is_digit(s[j]))
			j++;
		ok = j;
	}
	return ok;
}

static int hex4(const uint8_t *s, uint32_t *v)
{
	uint32_t x = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t c = s[i];
		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

/*
 * Scan and validate the string literal at the cursor (which is on its opening
 * quote), leaving the cursor after the closing quote. Nothing is copied.
 * Syntax faults are ERR_PROTO_JSON; text that is not Unicode (bad UTF-8, lone
 * surrogate escapes) is ERR_PROTO_ENCODING.
 */
static err_t str_scan(struct jp *p, struct jstr *js)
{
	const uint8_t *s = p->r.p;
	size_t len = p->r.len, i = p->r.pos + 1;

	memset(js, 0, sizeof(*js));
	js->raw = s + i;
	for (;;) {
		uint8_t c;
		if (i >= len) {
			p->r.pos = len;
			return jp_syntax(p, "unterminated string");
		}
		c = s[i];
		if (c == '"')
			break;
		if (c < 0x20) {
			p->r.pos = i;
			return jp_syntax(p, "control character in string");
		}
		if (c == '\\') {
			uint32_t cp, lo;
			js->esc = 1;
			if (i + 1 >= len) {
				p->r.pos = len;
				return jp_syntax(p, "unterminated string");
			}
			switch (s[i + 1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				js->declen++;
				i += 2;
				continue;
			case 'u':
				break;
			default:
				p->r.pos = i;
				return jp_syntax(p, "invalid escape");
			}
			if (len - i < 6 || hex4(s + i + 2, &cp)) {
				p->r.pos = i;
				return jp_syntax(p, "invalid \\u escape");
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				p->r.pos = i;
				return jp_fail(p, ERR_PROTO_ENCODING, NULL, "lone surrogate escape");
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u') {
					p->r.pos = i;
					return jp_fail(p, ERR_PROTO_ENCODING, NULL, "lone surrogate escape");
				}
				if (hex4(s + i + 8, &lo)) {
					p->r.pos = i + 6;
					return jp_syntax(p, "invalid \\u escape");
				}
				if (lo < 0xdc00 || lo > 0xdfff) {
					p->r.pos = i;
					return jp_fail(p, ERR_PROTO_ENCODING, NULL, "lone surrogate escape");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 12;
			} else {
				i += 6;
			}
			if (cp == 0)
				js->has_nul = 1;
			js->declen += utf8_cp_len(cp);
			continue;
		}
		if (c < 0x80) {
			js->declen++;
			i++;
			continue;
		}
		size_t n = utf8_seq_len(s + i, len - i);
		if (n == 0) {
			p->r.pos = i;
			return jp_fail(p, ERR_PROTO_ENCODING, NULL, "invalid UTF-8");
		}
		js->declen += n;
		i += n;
	}
	js->rawlen = (size_t)(s + i - js->raw);
	p->r.pos = i + 1;
	return ERR_OK;
}

/* Unescape a scanned string into out (js->declen bytes). The text was validated by str_scan. */
static void str_unescape(const struct jstr *js, uint8_t *out)
{
	const uint8_t *s = js->raw;
	size_t i = 0, o = 0;

	while (i < js->rawlen && o < js->declen) {
		uint32_t cp = 0, lo = 0;
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u':
			(void)hex4(s + i + 2, &cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				(void)hex4(s + i + 8, &lo);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			o += utf8_encode(out + o, cp);
			i += 6;
			continue;
		default:   /* " \ / */
			out[o++] = s[i + 1];
			break;
		}
		i += 2;
	}
}

/* An arena copy of the decoded string, NUL-terminated; NULL when the arena refuses. */
static char *str_dup(struct jp *p, const struct jstr *js)
{
	uint8_t *buf = arena_alloc(p->a, js->declen + 1);

	if (!buf)
		return NULL;
	if (js->esc)
		str_unescape(js, buf);
	else if (js->declen)
		memcpy(buf, js->raw, js->declen);
	buf[js->declen] = 0;
	return (char *)buf;
}

/* The decoded bytes of a scanned string: borrowed from the input when it has no escapes, else an arena copy. */
static err_t str_bytes(struct jp *p, const struct jstr *js, const uint8_t **out)
{
	char *copy;

	if (!js->esc) {
		*out = js->raw;
		return ERR_OK;
	}
	if (!(copy = str_dup(p, js)))
		return jp_nomem(p);
	*out = (const uint8_t *)copy;
	return ERR_OK;
}

static err_t skip_value(struct jp *p);

/* Syntax-check and step over a container, without storing anything; depth-limited like the real thing. */
static err_t skip_container(struct jp *p, int obj)
{
	err_t err;
	int close = obj ? '}' : ']';
	struct jstr js;

	if (++p->depth > p->max_depth)
		return jp_fail(p, ERR_PROTO_DEPTH, NULL, "nesting too deep");
	p->r.pos++;
	jp_ws(p);
	if (jp_peek(p) == close) {
		p->r.pos++;
		p->depth--;
		return ERR_OK;
	}
	for (;;) {
		jp_ws(p);
		if (obj) {
			if (jp_peek(p) != '"')
				return jp_syntax(p, "expected field name");
			if ((err = str_scan(p, &js)))
				return err;
			jp_ws(p);
			if (jp_peek(p) != ':')
				return jp_syntax(p, "expected ':'");
			p->r.pos++;
			jp_ws(p);
		}
		if ((err = skip_value(p)))
			return err;
		jp_ws(p);
		if (jp_peek(p) == ',') {
			p->r.pos++;
			continue;
		}
		if (jp_peek(p) == close) {
			p->r.pos++;
			break;
		}
		return jp_syntax(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	p->depth--;
	return ERR_OK;
}

/* Step over any one JSON value (unknown fields, or a value of the wrong type before reporting it). */
static err_t skip_value(struct jp *p)
{
	struct jstr js;
	size_t n;

	switch (jp_peek(p)) {
	case '{':
		return skip_container(p, 1);
	case '[':
		return skip_container(p, 0);
	case '"':
		return str_scan(p, &js);
	case 't':
		return jp_literal(p, "true");
	case 'f':
		return jp_literal(p, "false");
	case 'n':
		return jp_literal(p, "null");
	default:
		n = num_span(buf_cursor(&p->r), buf_remaining(&p->r));
		if (n == 0)
			return jp_syntax(p, "expected a value");
		p->r.pos += n;
		return ERR_OK;
	}
}

/* The value at the cursor does not suit field f: a syntax error in it wins, else ERR_PROTO_FIELD_TYPE. */
static err_t wrong_type(struct jp *p, const ProtobufCFieldDescriptor *f, const char *what)
{
	size_t at = p->r.pos;
	err_t err = skip_value(p);

	if (err)
		return err;
	p->r.pos = at;
	return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, what);
}

/*
 * An exact integer from grammar-checked number text: *neg and the magnitude.
 * Returns -1 when the value has a fractional part or exceeds 2^64-1, so
 * "1e2" and "100.0" are 100 while "1.5" and "1e20" are refused.
 */
static int num_to_int(const uint8_t *s, size_t len, int *neg, uint64_t *mag)
{
	size_t i = 0, ib, ni, fb = 0, nf = 0, n, lz = 0, tz = 0;
	int64_t ex = 0, e;
	int eneg = 0;
	uint64_t v = 0;

	*neg = 0;
	*mag = 0;
	if (i < len && s[i] == '-') {
		*neg = 1;
		i++;
	}
	ib = i;
	while (i < len && is_digit(s[i]))
		i++;
	ni = i - ib;
	if (i < len && s[i] == '.') {
		fb = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		nf = i - fb;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		/* Saturate: any exponent this large is out of range or not integral anyway. */
		for (; i < len && is_digit(s[i]); i++)
			if (ex < 100000000)
				ex = ex * 10 + (s[i] - '0');
	}
	n = ni + nf;
#define DIGIT(k) ((k) < ni ? s[ib + (k)] : s[fb + (k) - ni])
	while (lz < n && DIGIT(lz) == '0')
		lz++;
	if (lz == n)
		return 0;   /* zero, whatever the exponent */
	while (DIGIT(n - 1 - tz) == '0')
		tz++;
	if (nf > (size_t)INT64_MAX / 4 || tz > (size_t)INT64_MAX / 4)
		return -1;
	e = (eneg ? -ex : ex) - (int64_t)nf + (int64_t)tz;
	if (e < 0 || (int64_t)(n - lz - tz) + e > 20)
		return -1;
	for (size_t k = lz; k < n - tz; k++) {
		unsigned d = (unsigned)(DIGIT(k) - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
#undef DIGIT
	for (; e > 0; e--) {
		if (v > UINT64_MAX / 10)
			return -1;
		v *= 10;
	}
	*mag = v;
	return 0;
}

/*
 * The text of a number-valued field: a JSON number, or a string holding one
 * (proto3 writes 64-bit integers as strings). *quoted tells which. Returns a
 * borrowed view (or an arena copy when the string had escapes).
 */
static err_t number_text(struct jp *p, const ProtobufCFieldDescriptor *f, const uint8_t **s, size_t *len,
			 int *quoted)
{
	int c = jp_peek(p);
	err_t err;

	*quoted = 0;
	if (c == '"') {
		struct jstr js;
		if ((err = str_scan(p, &js)))
			return err;
		if ((err = str_bytes(p, &js, s)))
			return err;
		*len = js.declen;
		*quoted = 1;
		return ERR_OK;
	}
	if (c == '-' || is_digit(c)) {
		size_t n = num_span(buf_cursor(&p->r), buf_remaining(&p->r));
		if (n == 0)
			return jp_syntax(p, "invalid number");
		*s = buf_cursor(&p->r);
		*len = n;
		p->r.pos += n;
		return ERR_OK;
	}
	return wrong_type(p, f, "expected a number");
}

/* Parse an integer field value and check it against [min, max] (min is 0 or -(max+1)). */
static err_t parse_int(struct jp *p, const ProtobufCFieldDescriptor *f, int is_signed, uint64_t max, int64_t *sv,
		       uint64_t *uv)
{
	const uint8_t *s = NULL;
	size_t len, at = p->r.pos;
	int quoted, neg;
	uint64_t mag;
	err_t err;

	if ((err = number_text(p, f, &s, &len, &quoted)))
		return err;
	if (quoted && (len == 0 || num_span(s, len) != len)) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "string is not a number");
	}
	if (num_to_int(s, len, &neg, &mag)) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "not an integer in range");
	}
	if (is_signed) {
		if (neg ? mag > max + 1 : mag > max) {
			p->r.pos = at;
			return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "integer out of range");
		}
		/* -(2^63) has no positive counterpart, so negate in unsigned arithmetic. */
		*sv = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		if (neg && mag == (uint64_t)INT64_MAX + 1)
			*sv = INT64_MIN;
	} else {
		if ((neg && mag != 0) || mag > max) {
			p->r.pos = at;
			return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "integer out of range");
		}
		*uv = mag;
	}
	return ERR_OK;
}

static int text_is(const uint8_t *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* A float or double: a JSON number, a numeric string, or "NaN"/"Infinity"/"-Infinity". */
static err_t parse_float(struct jp *p, const ProtobufCFieldDescriptor *f, int is_float, void *dst)
{
	const uint8_t *s = NULL;
	size_t len, at = p->r.pos;
	int quoted;
	char buf[PBJSON_NUM_MAX + 1];
	char *end = NULL;
	double d = 0;
	float fl = 0;
	err_t err;

	if ((err = number_text(p, f, &s, &len, &quoted)))
		return err;
	if (quoted && (text_is(s, len, "NaN") || text_is(s, len, "Infinity") || text_is(s, len, "-Infinity"))) {
		d = s[0] == 'N' ? (double)NAN : s[0] == '-' ? -(double)INFINITY : (double)INFINITY;
		if (is_float)
			*(float *)dst = (float)d;
		else
			*(double *)dst = d;
		return ERR_OK;
	}
	if (quoted && (len == 0 || num_span(s, len) != len)) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "string is not a number");
	}
	if (len > PBJSON_NUM_MAX) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "number text too long");
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	errno = 0;
	if (is_float)
		fl = strtof(buf, &end);
	else
		d = strtod(buf, &end);
	/* Overflow is refused; underflow to zero or a subnormal is a faithful rounding. */
	if (end != buf + len || (errno == ERANGE && (is_float ? isinf(fl) : isinf(d)))) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "number out of range");
	}
	if (is_float)
		*(float *)dst = fl;
	else
		*(double *)dst = d;
	return ERR_OK;
}

static err_t parse_enum(struct jp *p, const ProtobufCFieldDescriptor *f, int *dst)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	size_t at = p->r.pos;
	int64_t sv;
	err_t err;

	if (jp_peek(p) == '"') {
		struct jstr js;
		const uint8_t *s = NULL;
		size_t lo = 0, hi = ed->n_value_names;
		if ((err = str_scan(p, &js)) || (err = str_bytes(p, &js, &s)))
			return err;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = name_cmp(ed->values_by_name[mid].name, s, js.declen);
			if (c == 0) {
				*dst = ed->values[ed->values_by_name[mid].index].value;
				return ERR_OK;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "unknown enum name");
	}
	if (jp_peek(p) != '-' && !is_digit(jp_peek(p)))
		return wrong_type(p, f, "expected an enum name or number");
	/* proto3 enums are open: any int32 is kept, named or not. */
	if ((err = parse_int(p, f, 1, INT32_MAX, &sv, NULL)))
		return err;
	*dst = (int)sv;
	return ERR_OK;
}

static err_t parse_string(struct jp *p, const ProtobufCFieldDescriptor *f, char **dst)
{
	struct jstr js;
	size_t at = p->r.pos;
	err_t err;

	if (jp_peek(p) != '"')
		return wrong_type(p, f, "expected a string");
	if ((err = str_scan(p, &js)))
		return err;
	/* protobuf-c strings are NUL-terminated: an embedded NUL would silently cut the value. */
	if (js.has_nul) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_ENCODING, f, "string contains U+0000");
	}
	if (!(*dst = str_dup(p, &js)))
		return jp_nomem(p);
	return ERR_OK;
}

static err_t parse_bytes(struct jp *p, const ProtobufCFieldDescriptor *f, ProtobufCBinaryData *dst)
{
	struct jstr js;
	const uint8_t *s = NULL;
	size_t at = p->r.pos, cap, n = 0;
	uint8_t *out;
	err_t err;

	if (jp_peek(p) != '"')
		return wrong_type(p, f, "expected a string");
	if ((err = str_scan(p, &js)) || (err = str_bytes(p, &js, &s)))
		return err;
	cap = p->dstack ? js.declen / 2 : base64_decoded_max(js.declen);
	out = arena_alloc(p->a, cap ? cap : 1);
	if (!out)
		return jp_nomem(p);
	if (p->dstack)
		err = hex_decode(out, cap, &n, (const char *)s, js.declen, 1);
	else
		err = base64_decode(out, cap, &n, (const char *)s, js.declen);
	if (err) {
		p->r.pos = at;
		return jp_fail(p, ERR_PROTO_ENCODING, f, p->dstack ? "invalid hex" : "invalid base64");
	}
	dst->len = n;
	dst->data = n ? out : NULL;
	return ERR_OK;
}

static err_t parse_message(struct jp *p, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

static err_t new_message(struct jp *p, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
	ProtobufCMessage *m = arena_alloc(p->a, d->sizeof_message);

	if (!m)
		return jp_nomem(p);
	d->message_init(m);
	*out = m;
	return ERR_OK;
}

/*
 * One non-null value of field f's element type into dst (the member, or one
 * array slot). `named` is the field errors are reported against (the outer
 * field when f is a wrapper's `value`).
 */
static err_t parse_elem(struct jp *p, const ProtobufCFieldDescriptor *f, const ProtobufCFieldDescriptor *named,
			void *dst)
{
	int64_t sv = 0;
	uint64_t uv = 0;
	err_t err = ERR_OK;
	ProtobufCMessage *m = NULL;
	const ProtobufCMessageDescriptor *md;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!(err = parse_int(p, named, 1, INT32_MAX, &sv, NULL)))
			*(int32_t *)dst = (int32_t)sv;
		return err;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!(err = parse_int(p, named, 1, INT64_MAX, &sv, NULL)))
			*(int64_t *)dst = sv;
		return err;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!(err = parse_int(p, named, 0, UINT32_MAX, NULL, &uv)))
			*(uint32_t *)dst = (uint32_t)uv;
		return err;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!(err = parse_int(p, named, 0, UINT64_MAX, NULL, &uv)))
			*(uint64_t *)dst = uv;
		return err;
	case PROTOBUF_C_TYPE_FLOAT:
		return parse_float(p, named, 1, dst);
	case PROTOBUF_C_TYPE_DOUBLE:
		return parse_float(p, named, 0, dst);
	case PROTOBUF_C_TYPE_BOOL:
		if (jp_peek(p) == 't') {
			if (!(err = jp_literal(p, "true")))
				*(protobuf_c_boolean *)dst = 1;
			return err;
		}
		if (jp_peek(p) == 'f') {
			if (!(err = jp_literal(p, "false")))
				*(protobuf_c_boolean *)dst = 0;
			return err;
		}
		return wrong_type(p, named, "expected true or false");
	case PROTOBUF_C_TYPE_ENUM:
		return parse_enum(p, f, dst);
	case PROTOBUF_C_TYPE_STRING:
		return parse_string(p, named, dst);
	case PROTOBUF_C_TYPE_BYTES:
		return parse_bytes(p, named, dst);
	case PROTOBUF_C_TYPE_MESSAGE:
		md = f->descriptor;
		if (is_wrapper_type(md)) {
			const ProtobufCFieldDescriptor *vf = &md->fields[0];
			if ((err = new_message(p, md, &m)))
				return err;
			if ((err = parse_elem(p, vf, named, (char *)m + vf->offset)))
				return err;
		} else {
			if (jp_peek(p) != '{')
				return wrong_type(p, named, "expected an object");
			if ((err = parse_message(p, md, &m)))
				return err;
		}
		*(ProtobufCMessage **)dst = m;
		return ERR_OK;
	}
	return jp_fail(p, ERR_PROTO_FIELD_TYPE, named, "unsupported field type");
}

/* A JSON array into a repeated field: grow by doubling in the arena, then hand over the final array. */
static err_t parse_repeated(struct jp *p, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	size_t esize = elem_size(f->type), n = 0, cap = 0;
	uint8_t *arr = NULL;
	err_t err;

	if (jp_peek(p) != '[')
		return wrong_type(p, f, "expected an array");
	if (++p->depth > p->max_depth)
		return jp_fail(p, ERR_PROTO_DEPTH, f, "nesting too deep");
	p->r.pos++;
	jp_ws(p);
	if (jp_peek(p) == ']') {
		p->r.pos++;
		p->depth--;
		return ERR_OK;
	}
	for (;;) {
		jp_ws(p);
		if (jp_peek(p) == 'n') {
			size_t at = p->r.pos;
			if ((err = jp_literal(p, "null")))
				return err;
			p->r.pos = at;
			return jp_fail(p, ERR_PROTO_FIELD_TYPE, f, "null in repeated field");
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			uint8_t *na;
			if (ncap > SIZE_MAX / esize)
				return jp_fail(p, ERR_BUDGET, f, "array too long");
			na = arena_alloc(p->a, ncap * esize);
			if (!na)
				return jp_nomem(p);
			if (n)
				memcpy(na, arr, n * esize);
			arr = na;
			cap = ncap;
		}
		memset(arr + n * esize, 0, esize);
		if ((err = parse_elem(p, f, f, arr + n * esize)))
			return err;
		n++;
		jp_ws(p);
		if (jp_peek(p) == ',') {
			p->r.pos++;
			continue;
		}
		if (jp_peek(p) == ']') {
			p->r.pos++;
			break;
		}
		return jp_syntax(p, "expected ',' or ']'");
	}
	p->depth--;
	*(size_t *)((char *)msg + f->quantifier_offset) = n;
	*(void **)((char *)msg + f->offset) = arr;
	return ERR_OK;
}

/* The value of one known field. null leaves the field at its default (absent, for messages and wrappers). */
static err_t parse_field(struct jp *p, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	uint32_t *oneof_case = NULL;
	err_t err;

	if (jp_peek(p) == 'n')
		return jp_literal(p, "null");
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return parse_repeated(p, msg, f);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		oneof_case = (uint32_t *)(void *)((char *)msg + f->quantifier_offset);
		/* Two members of one oneof would silently overwrite each other in the shared union. */
		if (*oneof_case != 0 && *oneof_case != f->id)
			return jp_fail(p, ERR_PROTO_JSON, f, "second member of a oneof");
	}
	if ((err = parse_elem(p, f, f, (char *)msg + f->offset)))
		return err;
	if (oneof_case)
		*oneof_case = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		 f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)(void *)((char *)msg + f->quantifier_offset) = 1;
	return ERR_OK;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const uint8_t *key,
						  size_t klen)
{
	if (d->fields_sorted_by_name) {
		size_t lo = 0, hi = d->n_fields;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const ProtobufCFieldDescriptor *f = &d->fields[d->fields_sorted_by_name[mid]];
			int c = name_cmp(f->name, key, klen);
			if (c == 0)
				return f;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	} else {
		for (unsigned i = 0; i < d->n_fields; i++)
			if (name_cmp(d->fields[i].name, key, klen) == 0)
				return &d->fields[i];
	}
	/* The lowerCamelCase spelling: a scan, bounded by the (fixed) number of fields. */
	for (unsigned i = 0; i < d->n_fields; i++)
		if (camel_eq(d->fields[i].name, key, klen))
			return &d->fields[i];
	return NULL;
}

static err_t unknown_field(struct jp *p, const uint8_t *key, size_t klen)
{
	int plain = klen > 0 && klen <= PBJSON_KEY_NAME_MAX;
	char *s;

	for (size_t i = 0; plain && i < klen; i++) {
		uint8_t c = key[i];
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
	}
	if (!plain || !p->detail || *p->detail)
		return jp_fail(p, ERR_PROTO_UNKNOWN_FIELD, NULL, "unknown field");
	s = arena_printf(p->a, "unknown field '%.*s' at offset %zu", (int)klen, (const char *)key, p->r.pos);
	*p->detail = s ? s : "unknown field";
	return ERR_PROTO_UNKNOWN_FIELD;
}

/* A JSON object (cursor on '{') into a new message of type d. */
static err_t parse_message(struct jp *p, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
	uint64_t seen_small[4] = { 0 };
	uint64_t *seen = seen_small;
	ProtobufCMessage *m = NULL;
	err_t err;

	if (++p->depth > p->max_depth)
		return jp_fail(p, ERR_PROTO_DEPTH, NULL, "nesting too deep");
	if ((err = new_message(p, d, &m)))
		return err;
	if (d->n_fields > 64 * ARRAY_LEN(seen_small)) {
		seen = arena_zalloc(p->a, (d->n_fields + 63) / 64 * sizeof(uint64_t));
		if (!seen)
			return jp_nomem(p);
	}
	p->r.pos++;
	jp_ws(p);
	if (jp_peek(p) == '}') {
		p->r.pos++;
		goto done;
	}
	for (;;) {
		struct jstr js;
		const uint8_t *key = NULL;
		const ProtobufCFieldDescriptor *f;
		size_t keyat;

		jp_ws(p);
		keyat = p->r.pos;
		if (jp_peek(p) != '"')
			return jp_syntax(p, "expected field name");
		if ((err = str_scan(p, &js)) || (err = str_bytes(p, &js, &key)))
			return err;
		f = find_field(d, key, js.declen);
		jp_ws(p);
		if (jp_peek(p) != ':')
			return jp_syntax(p, "expected ':'");
		p->r.pos++;
		jp_ws(p);
		if (!f) {
			if (!p->ignore_unknown) {
				p->r.pos = keyat;
				return unknown_field(p, key, js.declen);
			}
			if ((err = skip_value(p)))
				return err;
		} else {
			size_t idx = (size_t)(f - d->fields);
			if (seen[idx / 64] & (1ull << (idx % 64))) {
				p->r.pos = keyat;
				return jp_fail(p, ERR_PROTO_JSON, f, "duplicate field");
			}
			seen[idx / 64] |= 1ull << (idx % 64);
			if ((err = parse_field(p, m, f)))
				return err;
		}
		jp_ws(p);
		if (jp_peek(p) == ',') {
			p->r.pos++;
			continue;
		}
		if (jp_peek(p) == '}') {
			p->r.pos++;
			break;
		}
		return jp_syntax(p, "expected ',' or '}'");
	}
done:
	p->depth--;
	*out = m;
	return ERR_OK;
}

err_t pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
		    const struct pbjson_opts *o, struct arena *a, ProtobufCMessage **out, const char **detail)
{
	struct jp p;
	ProtobufCMessage *m = NULL;
	err_t err;

	if (detail)
		*detail = NULL;
	if (out)
		*out = NULL;
	if (!desc || !desc->message_init || !a || !out || (!json && len))
		return ERR_INVALID_ARG;
	memset(&p, 0, sizeof(p));
	buf_reader_init(&p.r, json, len);
	p.a = a;
	p.max_depth = depth_limit(o);
	p.dstack = o && o->flavour == PBJSON_DSTACK;
	p.ignore_unknown = p.dstack || (o && o->ignore_unknown);
	p.detail = detail;

	jp_ws(&p);
	if (jp_peek(&p) != '{')
		return jp_syntax(&p, "expected a JSON object");
	if ((err = parse_message(&p, desc, &m)))
		return err;
	jp_ws(&p);
	if (buf_remaining(&p.r))
		return jp_syntax(&p, "trailing data after the object");
	*out = m;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------
 * Encoder
 * ------------------------------------------------------------------------- */

struct je {
	struct buf_writer *w;
	int dstack;
	int emit_defaults;
	unsigned depth;
	unsigned max_depth;
};

void pbjson_put_string(struct buf_writer *w, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, run = 0;   /* run: start of the bytes that pass through unchanged */

	buf_put_u8(w, '"');
	while (i < len) {
		uint8_t c = u[i];
		char esc = 0;
		size_t n;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			n = utf8_seq_len(u + i, len - i);
			if (n) {
				i += n;
				continue;
			}
			buf_put(w, u + run, i - run);
			buf_put(w, "\xef\xbf\xbd", 3);   /* U+FFFD for each byte that starts no valid sequence */
			run = ++i;
			continue;
		}
		buf_put(w, u + run, i - run);
		switch (c) {
		case '"':
			esc = '"';
			break;
		case '\\':
			esc = '\\';
			break;
		case '\n':
			esc = 'n';
			break;
		case '\r':
			esc = 'r';
			break;
		case '\t':
			esc = 't';
			break;
		case '\b':
			esc = 'b';
			break;
		case '\f':
			esc = 'f';
			break;
		default:
			break;
		}
		if (esc) {
			char e2[2] = { '\\', esc };
			buf_put(w, e2, 2);
		} else {
			char e6[6] = { '\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15] };
			buf_put(w, e6, 6);
		}
		run = ++i;
	}
	buf_put(w, u + run, i - run);
	buf_put_u8(w, '"');
}

static void put_key(struct je *e, const char *name)
{
	buf_put_u8(e->w, '"');
	if (e->dstack) {
		buf_put_str(e->w, name);
	} else {
		int up = 0;
		for (const char *c = name; *c; c++) {
			char ch = *c;
			if (ch == '_') {
				up = 1;
				continue;
			}
			if (up && ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			up = 0;
			buf_put_u8(e->w, (uint8_t)ch);
		}
	}
	buf_put(e->w, "\":", 2);
}

/*
 * Shortest digits that read back to the same value (the first precision that
 * round-trips through strtod/strtof), laid out like JavaScript and Go do:
 * plain decimals for 1e-6 <= |v| < 1e21, otherwise d.ddde+X. So 100 is
 * "100", not "1e+02".
 */
static void put_float(struct buf_writer *w, double v, int is_float)
{
	char buf[48], digits[24], out[64];
	size_t nd = 0, o = 0, i = 0;
	int prec, x = 0, xneg = 0;

	if (isnan(v)) {
		buf_put_str(w, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		buf_put_str(w, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
		if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.16e", v);
	/* buf is "[-]d[.ddd]e(+|-)XX" from our own snprintf. */
	if (buf[i] == '-')
		out[o++] = buf[i++];
	for (; buf[i] && buf[i] != 'e'; i++)
		if (buf[i] != '.' && nd < sizeof(digits))
			digits[nd++] = buf[i];
	if (buf[i] == 'e') {
		i++;
		xneg = buf[i] == '-';
		if (buf[i] == '-' || buf[i] == '+')
			i++;
		for (; buf[i] >= '0' && buf[i] <= '9' && x < 10000; i++)
			x = x * 10 + (buf[i] - '0');
	}
	if (xneg)
		x = -x;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (x >= 21 || x < -6) {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	} else if (x >= 0) {
		for (size_t k = 0; k < nd || k <= (size_t)x; k++) {
			if (k == (size_t)x + 1)
				out[o++] = '.';
			out[o++] = k < nd ? digits[k] : '0';
		}
	} else {
		out[o++] = '0';
		out[o++] = '.';
		for (int k = -1; k > x; k--)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	}
	buf_put(w, out, o);
}

static err_t put_bytes(struct je *e, const ProtobufCBinaryData *b)
{
	size_t n = b->len, out;
	uint8_t *dst;

	if (n > SIZE_MAX / 4)
		return ERR_PROTO_TOO_LARGE;
	out = e->dstack ? 2 * n : base64_encoded_len(n, 0);
	buf_put_u8(e->w, '"');
	dst = buf_reserve(e->w, out + 1);   /* both encoders write a NUL after the text */
	if (!dst)
		return buf_writer_status(e->w);
	if (e->dstack)
		hex_encode((char *)dst, b->data, n);
	else
		(void)base64_encode((char *)dst, b->data, n, 0);
	buf_commit(e->w, out);
	buf_put_u8(e->w, '"');
	return ERR_OK;
}

static err_t enc_message(struct je *e, const ProtobufCMessage *m);

/* One element of field f's type at p. */
static err_t enc_value(struct je *e, const ProtobufCFieldDescriptor *f, const void *p)
{
	struct buf_writer *w = e->w;
	const ProtobufCMessage *sub;
	const ProtobufCMessageDescriptor *md;
	const ProtobufCEnumValue *ev;
	const char *s;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		buf_printf(w, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		buf_printf(w, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* proto3 quotes 64-bit integers (JavaScript doubles lose them); serde does not. */
		buf_printf(w, e->dstack ? "%" PRId64 : "\"%" PRId64 "\"", *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		buf_printf(w, e->dstack ? "%" PRIu64 : "\"%" PRIu64 "\"", *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		put_float(w, *(const float *)p, 1);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_float(w, *(const double *)p, 0);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		buf_put_str(w, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM:
		/* prost keeps enums as i32, so serde writes the number; proto3 writes the name when known. */
		ev = e->dstack ? NULL : protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		if (ev)
			pbjson_put_string(w, ev->name, strlen(ev->name));
		else
			buf_printf(w, "%d", *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		s = *(char *const *)p;
		pbjson_put_string(w, s ? s : "", s ? strlen(s) : 0);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		return put_bytes(e, p);
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = *(ProtobufCMessage *const *)p;
		if (!sub) {
			buf_put_str(w, "null");
			break;
		}
		md = sub->descriptor;
		if (is_wrapper_type(md))
			return enc_value(e, &md->fields[0], (const char *)sub + md->fields[0].offset);
		return enc_message(e, sub);
	}
	return ERR_OK;
}

static int is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)p == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		/* -0.0 is a distinct value and is written. */
		return *(const float *)p == 0 && !signbit(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0 && !signbit(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p == 0;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p == 0;
	case PROTOBUF_C_TYPE_STRING:
		return *(char *const *)p == NULL || **(char *const *)p == 0;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	}
	return 1;
}

static int should_emit(const struct je *e, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	const void *member = base + f->offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(const void *)(base + f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return e->dstack || e->emit_defaults || *(const size_t *)(const void *)(base + f->quantifier_offset);
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
			return *(const void *const *)member != NULL;
		return *(const protobuf_c_boolean *)(const void *)(base + f->quantifier_offset);
	}
	/* proto3 singular: an absent message is null for serde (an Option), omitted by proto3 even with defaults on. */
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return e->dstack || *(ProtobufCMessage *const *)member != NULL;
	return e->dstack || e->emit_defaults || !is_default(f, member);
}

static err_t enc_repeated(struct je *e, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
	const char *arr = *(const char *const *)(const void *)(base + f->offset);
	size_t esize = elem_size(f->type);
	err_t err;

	if (++e->depth > e->max_depth)
		return ERR_PROTO_DEPTH;
	buf_put_u8(e->w, '[');
	for (size_t i = 0; i < n && arr; i++) {
		if (i)
			buf_put_u8(e->w, ',');
		if ((err = enc_value(e, f, arr + i * esize)))
			return err;
	}
	buf_put_u8(e->w, ']');
	e->depth--;
	return ERR_OK;
}

static err_t enc_message(struct je *e, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	int first = 1;
	err_t err;

	if (++e->depth > e->max_depth)
		return ERR_PROTO_DEPTH;
	buf_put_u8(e->w, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!should_emit(e, m, f))
			continue;
		if (!first)
			buf_put_u8(e->w, ',');
		first = 0;
		put_key(e, f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			err = enc_repeated(e, m, f);
		else
			err = enc_value(e, f, (const char *)m + f->offset);
		if (err)
			return err;
	}
	buf_put_u8(e->w, '}');
	e->depth--;
	/* Stop early once the writer has failed rather than walking the rest of the tree. */
	return buf_writer_status(e->w);
}

err_t pbjson_encode(const ProtobufCMessage *msg, const struct pbjson_opts *o, struct buf_writer *w)
{
	struct je e;

	if (!msg || !w)
		return ERR_INVALID_ARG;
	memset(&e, 0, sizeof(e));
	e.w = w;
	e.dstack = o && o->flavour == PBJSON_DSTACK;
	e.emit_defaults = o && o->emit_defaults;
	e.max_depth = depth_limit(o);
	return enc_message(&e, msg);
}
