/* SPDX-License-Identifier: Apache-2.0 */
/* Strict RFC 8259 JSON parser into an arena tree, typed accessors, and a string escaper. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"

#define JSON_DEFAULT_DEPTH 64
#define JSON_DEFAULT_MAX_LEN ((size_t)16 << 20)
/* Objects up to this size check duplicate keys pairwise; larger ones sort. */
#define JSON_DUP_PAIRWISE 16

/*
 * Children of open containers wait on a malloc'd stack (one for array items,
 * one for object members) and are copied into one exact-size arena array when
 * their container closes, so the tree wastes no arena memory on growth. The
 * stacks count against the arena's remaining budget: everything on them ends
 * up in the arena anyway, so a document that would not fit fails early.
 */
struct stack {
	void *p;
	size_t n;      /* elements in use */
	size_t cap;    /* elements allocated */
	size_t elem;   /* element size */
};

struct frame {
	enum json_type type;   /* JSON_ARRAY or JSON_OBJECT */
	size_t start;          /* offset of the opening bracket */
	size_t base;           /* index of the first child on its stack */
	const char *key;       /* object: key of the member whose value comes next */
	size_t key_len;
};

struct parser {
	const uint8_t *s;
	size_t len;
	size_t pos;
	struct arena *a;
	struct stack items;    /* struct json_value */
	struct stack members;  /* struct json_member */
	struct stack frames;   /* struct frame */
	size_t scratch_bytes;  /* bytes held by items + members, charged against the budget */
};

static void stack_init(struct stack *st, size_t elem)
{
	st->p = NULL;
	st->n = 0;
	st->cap = 0;
	st->elem = elem;
}

static void stack_free(struct stack *st)
{
	free(st->p);
	st->p = NULL;
	st->n = st->cap = 0;
}

/* Room for one more element; *slot points at it. `charge` counts the growth against the arena budget. */
static err_t MUST_CHECK stack_push(struct parser *p, struct stack *st, int charge, void **slot)
{
	if (st->n == st->cap) {
		size_t ncap = st->cap ? st->cap * 2 : 16;
		size_t grow;
		void *np;

		if (ncap > SIZE_MAX / st->elem)
			return ERR_NOMEM;
		grow = (ncap - st->cap) * st->elem;
		if (charge) {
			size_t left = p->a->budget > p->a->used ? p->a->budget - p->a->used : 0;
			if (p->scratch_bytes + grow < p->scratch_bytes || p->scratch_bytes + grow > left) {
				p->a->exhausted = 1;
				return ERR_BUDGET;
			}
		}
		np = realloc(st->p, ncap * st->elem);
		if (!np)
			return ERR_NOMEM;
		st->p = np;
		st->cap = ncap;
		if (charge)
			p->scratch_bytes += grow;
	}
	*slot = (uint8_t *)st->p + st->n * st->elem;
	st->n++;
	return ERR_OK;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		uint8_t c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* Four hex digits at s[i..i+4) (bounds checked by the caller against end). */
static int read_u4(const uint8_t *s, size_t i, size_t end, uint32_t *v)
{
	uint32_t x = 0;

	if (end - i < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hex_digit_value((unsigned char)s[i + k]);
		if (h < 0)
			return -1;
		x = x << 4 | (uint32_t)h;
	}
	*v = x;
	return 0;
}

/*
 * A string starting at the opening quote. The decoded copy is never longer
 * than the raw text (every escape shrinks or keeps its length), so one
 * allocation of the raw length suffices and decoding is a single pass.
 */
static err_t MUST_CHECK parse_string(struct parser *p, const char **out, size_t *out_len)
{
	const uint8_t *s = p->s;
	size_t start = p->pos + 1, end = start, i, o = 0;
	uint8_t *d;

	/* Find the closing quote first: only a backslash can hide one. */
	while (end < p->len && s[end] != '"') {
		if (s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->len) {
		p->pos = p->len;
		return ERR_PROTO_JSON;
	}
	d = arena_alloc(p->a, end - start + 1);
	if (!d)
		return arena_err(p->a);
	for (i = start; i < end;) {
		uint8_t c = s[i];
		uint32_t cp, lo;
		size_t n;

		if (c < 0x20) {
			p->pos = i;
			return ERR_PROTO_JSON;
		}
		if (c >= 0x80) {
			n = utf8_seq_len(s + i, end - i);
			if (!n) {
				p->pos = i;
				return ERR_PROTO_ENCODING;
			}
			memcpy(d + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (c != '\\') {
			d[o++] = c;
			i++;
			continue;
		}
		/* The scan above guarantees a character after every backslash before end. */
		switch (s[i + 1]) {
		case '"':
			d[o++] = '"';
			break;
		case '\\':
			d[o++] = '\\';
			break;
		case '/':
			d[o++] = '/';
			break;
		case 'b':
			d[o++] = '\b';
			break;
		case 'f':
			d[o++] = '\f';
			break;
		case 'n':
			d[o++] = '\n';
			break;
		case 'r':
			d[o++] = '\r';
			break;
		case 't':
			d[o++] = '\t';
			break;
		case 'u':
			if (read_u4(s, i + 2, end, &cp) < 0) {
				p->pos = i;
				return ERR_PROTO_JSON;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				p->pos = i;
				return ERR_PROTO_ENCODING;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* A high surrogate must be followed by an escaped low one. */
				if (end - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
				    read_u4(s, i + 8, end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
					p->pos = i;
					return ERR_PROTO_ENCODING;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			o += utf8_encode(d + o, cp);
			i += 6;
			continue;
		default:
			p->pos = i;
			return ERR_PROTO_JSON;
		}
		i += 2;
	}
	d[o] = 0;
	*out = (const char *)d;
	*out_len = o;
	p->pos = end + 1;
	return ERR_OK;
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; the text is copied so callers get a C string. */
static err_t MUST_CHECK parse_number(struct parser *p, struct json_value *v)
{
	const uint8_t *s = p->s;
	size_t start = p->pos, i = p->pos;
	char *t;

	if (i < p->len && s[i] == '-')
		i++;
	if (i >= p->len || !is_digit(s[i]))
		goto bad;
	if (s[i] == '0') {
		i++;
	} else {
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	if (i < p->len && s[i] == '.') {
		i++;
		if (i >= p->len || !is_digit(s[i]))
			goto bad;
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || !is_digit(s[i]))
			goto bad;
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	t = arena_memdup(p->a, s + start, i - start);
	if (!t)
		return arena_err(p->a);
	v->type = JSON_NUMBER;
	v->u.num.text = t;
	v->u.num.len = i - start;
	p->pos = i;
	return ERR_OK;
bad:
	p->pos = i;
	return ERR_PROTO_JSON;
}

static err_t MUST_CHECK parse_literal(struct parser *p, const char *word, enum json_type type,
				      struct json_value *v)
{
	size_t n = strlen(word);

	for (size_t k = 0; k < n; k++) {
		if (p->pos + k >= p->len || p->s[p->pos + k] != (uint8_t)word[k]) {
			p->pos += k;
			return ERR_PROTO_JSON;
		}
	}
	p->pos += n;
	v->type = type;
	return ERR_OK;
}

/* Any value but a container; raw span set here. */
static err_t MUST_CHECK parse_scalar(struct parser *p, struct json_value *v)
{
	size_t start = p->pos;
	err_t err;

	memset(v, 0, sizeof(*v));
	if (p->pos >= p->len)
		return ERR_PROTO_JSON;
	switch (p->s[p->pos]) {
	case '"':
		v->type = JSON_STRING;
		err = parse_string(p, &v->u.str.s, &v->u.str.len);
		break;
	case 't':
		err = parse_literal(p, "true", JSON_TRUE, v);
		break;
	case 'f':
		err = parse_literal(p, "false", JSON_FALSE, v);
		break;
	case 'n':
		err = parse_literal(p, "null", JSON_NULL, v);
		break;
	default:
		err = parse_number(p, v);
		break;
	}
	if (err)
		return err;
	v->raw = (const char *)p->s + start;
	v->raw_len = p->pos - start;
	return ERR_OK;
}

/* An object key and the colon after it; leaves the position at the value. */
static err_t MUST_CHECK parse_key(struct parser *p, struct frame *f)
{
	err_t err;

	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return ERR_PROTO_JSON;
	err = parse_string(p, &f->key, &f->key_len);
	if (err)
		return err;
	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != ':')
		return ERR_PROTO_JSON;
	p->pos++;
	return ERR_OK;
}

static int member_cmp(const void *x, const void *y)
{
	const struct json_member *a = *(const struct json_member *const *)x;
	const struct json_member *b = *(const struct json_member *const *)y;

	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	return memcmp(a->key, b->key, a->key_len);
}

/* Pairwise for small objects; sorting pointers for large ones keeps it O(n log n). */
static err_t MUST_CHECK check_dups(const struct json_member *m, size_t n)
{
	const struct json_member **sorted;
	err_t err = ERR_OK;

	if (n <= JSON_DUP_PAIRWISE) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (m[i].key_len == m[j].key_len && memcmp(m[i].key, m[j].key, m[i].key_len) == 0)
					return ERR_PROTO_JSON;
		return ERR_OK;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &m[i];
	qsort(sorted, n, sizeof(*sorted), member_cmp);
	for (size_t i = 1; i < n; i++) {
		if (member_cmp(&sorted[i - 1], &sorted[i]) == 0) {
			err = ERR_PROTO_JSON;
			break;
		}
	}
	free(sorted);
	return err;
}

/* Move the children of the top frame from their stack into the arena and make the container value. */
static err_t MUST_CHECK close_container(struct parser *p, const struct frame *f, struct json_value *v)
{
	struct stack *st = f->type == JSON_ARRAY ? &p->items : &p->members;
	size_t n = st->n - f->base;
	void *dst = NULL;
	err_t err;

	memset(v, 0, sizeof(*v));
	if (n) {
		dst = arena_alloc(p->a, n * st->elem);
		if (!dst)
			return arena_err(p->a);
		memcpy(dst, (uint8_t *)st->p + f->base * st->elem, n * st->elem);
	}
	st->n = f->base;
	v->type = f->type;
	if (f->type == JSON_ARRAY) {
		v->u.arr.items = dst;
		v->u.arr.n = n;
	} else {
		v->u.obj.members = dst;
		v->u.obj.n = n;
		err = check_dups(dst, n);
		if (err)
			return err;
	}
	v->raw = (const char *)p->s + f->start;
	v->raw_len = p->pos - f->start;
	return ERR_OK;
}

/*
 * Iterative so depth costs heap, not C stack: the outer loop starts a value,
 * the inner loop hands a finished value to its parent and closes every
 * container that ends right after it.
 */
static err_t MUST_CHECK parse_doc(struct parser *p, unsigned max_depth, struct json_value *root)
{
	struct json_value v;
	struct frame *f;
	err_t err;

	for (;;) {
		void *fslot;
		uint8_t c;

		skip_ws(p);
		if (p->pos >= p->len)
			return ERR_PROTO_JSON;
		c = p->s[p->pos];
		if (c == '[' || c == '{') {
			if (p->frames.n >= max_depth)
				return ERR_PROTO_DEPTH;
			err = stack_push(p, &p->frames, 0, &fslot);
			if (err)
				return err;
			f = fslot;
			f->type = c == '[' ? JSON_ARRAY : JSON_OBJECT;
			f->start = p->pos;
			f->base = c == '[' ? p->items.n : p->members.n;
			f->key = NULL;
			f->key_len = 0;
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == (c == '[' ? ']' : '}')) {
				p->pos++;
				err = close_container(p, f, &v);
				if (err)
					return err;
				p->frames.n--;
			} else {
				if (f->type == JSON_OBJECT) {
					err = parse_key(p, f);
					if (err)
						return err;
				}
				continue;
			}
		} else {
			err = parse_scalar(p, &v);
			if (err)
				return err;
		}

		for (;;) {
			void *slot;

			if (p->frames.n == 0) {
				*root = v;
				return ERR_OK;
			}
			f = (struct frame *)p->frames.p + p->frames.n - 1;
			if (f->type == JSON_ARRAY) {
				err = stack_push(p, &p->items, 1, &slot);
				if (err)
					return err;
				*(struct json_value *)slot = v;
			} else {
				struct json_member *m;

				err = stack_push(p, &p->members, 1, &slot);
				if (err)
					return err;
				m = slot;
				m->key = f->key;
				m->key_len = f->key_len;
				m->value = v;
			}
			skip_ws(p);
			if (p->pos >= p->len)
				return ERR_PROTO_JSON;
			c = p->s[p->pos];
			if (c == ',') {
				p->pos++;
				if (f->type == JSON_OBJECT) {
					err = parse_key(p, f);
					if (err)
						return err;
				}
				break;
			}
			if (c != (f->type == JSON_ARRAY ? ']' : '}'))
				return ERR_PROTO_JSON;
			p->pos++;
			err = close_container(p, f, &v);
			if (err)
				return err;
			p->frames.n--;
		}
	}
}

err_t json_parse(const char *text, size_t len, const struct json_limits *lim, struct arena *a,
		 struct json_value **out, size_t *err_offset)
{
	struct parser p;
	struct json_value *root = NULL;
	unsigned max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_DEPTH;
	size_t max_len = lim && lim->max_len ? lim->max_len : JSON_DEFAULT_MAX_LEN;
	err_t err;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.s = (const uint8_t *)text;
	p.len = len;
	p.a = a;
	stack_init(&p.items, sizeof(struct json_value));
	stack_init(&p.members, sizeof(struct json_member));
	stack_init(&p.frames, sizeof(struct frame));

	if (len > max_len) {
		err = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	root = arena_alloc(a, sizeof(*root));
	if (!root) {
		err = arena_err(a);
		goto out;
	}
	err = parse_doc(&p, max_depth, root);
	if (err)
		goto out;
	skip_ws(&p);
	if (p.pos != p.len) {
		err = ERR_PROTO_JSON;
		goto out;
	}
	*out = root;
out:
	if (err && err_offset)
		*err_offset = p.pos;
	stack_free(&p.items);
	stack_free(&p.members);
	stack_free(&p.frames);
	return err;
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	size_t klen;

	if (!v || v->type != JSON_OBJECT || !key)
		return NULL;
	klen = strlen(key);
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.members[i];
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return &m->value;
	}
	return NULL;
}

/* Member lookup shared by the typed accessors: ERR_NOT_FOUND when absent. */
static err_t MUST_CHECK get_typed(const struct json_value *obj, const char *key, const struct json_value **v)
{
	*v = json_get(obj, key);
	return *v ? ERR_OK : ERR_NOT_FOUND;
}

err_t json_get_str(const struct json_value *obj, const char *key, const char **s, size_t *len)
{
	const struct json_value *v;
	err_t err = get_typed(obj, key, &v);

	if (err)
		return err;
	if (v->type != JSON_STRING)
		return ERR_PROTO_FIELD_TYPE;
	*s = v->u.str.s;
	if (len)
		*len = v->u.str.len;
	return ERR_OK;
}

/* Plain integer text (digits only, no sign) to u64; -1 on anything else or overflow. */
static int digits_to_u64(const char *t, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (t[i] < '0' || t[i] > '9')
			return -1;
		d = (unsigned)(t[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

err_t json_to_u64(const struct json_value *v, uint64_t *out)
{
	uint64_t x;

	if (!v || v->type != JSON_NUMBER)
		return ERR_PROTO_FIELD_TYPE;
	/* The grammar was checked at parse time, so digits only means a plain non-negative integer. */
	if (digits_to_u64(v->u.num.text, v->u.num.len, &x) < 0)
		return ERR_PROTO_FIELD_TYPE;
	*out = x;
	return ERR_OK;
}

err_t json_get_u64(const struct json_value *obj, const char *key, uint64_t *v)
{
	const struct json_value *jv;
	err_t err = get_typed(obj, key, &jv);

	if (err)
		return err;
	return json_to_u64(jv, v);
}

err_t json_get_i64(const struct json_value *obj, const char *key, int64_t *v)
{
	const struct json_value *jv;
	const char *t;
	size_t n;
	int neg;
	uint64_t x;
	err_t err = get_typed(obj, key, &jv);

	if (err)
		return err;
	if (jv->type != JSON_NUMBER)
		return ERR_PROTO_FIELD_TYPE;
	t = jv->u.num.text;
	n = jv->u.num.len;
	neg = n > 0 && t[0] == '-';
	if (digits_to_u64(t + neg, n - (size_t)neg, &x) < 0)
		return ERR_PROTO_FIELD_TYPE;
	if (neg) {
		if (x > (uint64_t)INT64_MAX + 1)
			return ERR_PROTO_FIELD_TYPE;
		*v = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
	} else {
		if (x > (uint64_t)INT64_MAX)
			return ERR_PROTO_FIELD_TYPE;
		*v = (int64_t)x;
	}
	return ERR_OK;
}

err_t json_get_bool(const struct json_value *obj, const char *key, int *v)
{
	const struct json_value *jv;
	err_t err = get_typed(obj, key, &jv);

	if (err)
		return err;
	if (jv->type != JSON_TRUE && jv->type != JSON_FALSE)
		return ERR_PROTO_FIELD_TYPE;
	*v = jv->type == JSON_TRUE;
	return ERR_OK;
}

err_t json_get_hex(const struct json_value *obj, const char *key, uint8_t *out, size_t cap, size_t want_len,
		   size_t *len)
{
	const struct json_value *jv;
	size_t n = 0;
	err_t err = get_typed(obj, key, &jv);

	if (err)
		return err;
	if (jv->type != JSON_STRING)
		return ERR_PROTO_FIELD_TYPE;
	/* Bad digits, odd length and too long are all "wrong value" for the caller's field. */
	if (hex_decode(out, cap, &n, jv->u.str.s, jv->u.str.len, 1) != ERR_OK)
		return ERR_PROTO_FIELD_TYPE;
	if (want_len > 0 && n != want_len)
		return ERR_PROTO_FIELD_TYPE;
	if (len)
		*len = n;
	return ERR_OK;
}

void json_put_string(struct buf_writer *w, const char *s, size_t len)
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
			/* The output must stay valid JSON, so bytes that start no valid sequence become U+FFFD. */
			buf_put(w, u + run, i - run);
			buf_put(w, "\xef\xbf\xbd", 3);
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
			char e[2] = { '\\', esc };
			buf_put(w, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15] };
			buf_put(w, e, 6);
		}
		run = ++i;
	}
	buf_put(w, u + run, i - run);
	buf_put_u8(w, '"');
}
