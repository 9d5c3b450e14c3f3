/* SPDX-License-Identifier: Apache-2.0 */
/* Solidity ABI type parser, encoder, bounds-checked decoder, selectors, topics and event log decoding. */
#include "abi.h"

#include <string.h>

#include "crypto.h"

#define DEFAULT_MAX_LEN ((size_t)16 << 20)
#define DEFAULT_MAX_ITEMS ((size_t)65536)

/* ---- type strings ---- */

struct tparse {
	const char *s;
	size_t len, pos;
	struct arena *a;
};

static int tp_peek(const struct tparse *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_ident(int c)
{
	return is_ident_start(c) || is_digit(c);
}

/* A decimal without leading zeros, 1..max; *n gets it. 0 when absent or bad. */
static int tp_number(struct tparse *p, size_t max, size_t *n)
{
	size_t v = 0, start = p->pos;

	while (is_digit(tp_peek(p))) {
		v = v * 10 + (size_t)(tp_peek(p) - '0');
		p->pos++;
		if (v > max)
			return 0;
	}
	if (p->pos == start || (p->s[start] == '0') || v == 0)
		return 0;
	*n = v;
	return 1;
}

static struct abi_type *type_new(struct tparse *p, enum abi_kind kind)
{
	struct abi_type *t = arena_zalloc(p->a, sizeof(*t));

	if (t) {
		t->kind = kind;
		t->head_size = ABI_WORD;
		t->depth = 1;
	}
	return t;
}

static err_t parse_type(struct tparse *p, unsigned depth, int top, const struct abi_type **out);

static err_t parse_tuple(struct tparse *p, unsigned depth, int top, struct abi_type **out)
{
	const struct abi_type *fields[ABI_MAX_TUPLE_FIELDS];
	const struct abi_type **copy;
	struct abi_type *t;
	size_t n = 0, head = 0;
	unsigned deepest = 0;
	int dyn = 0;
	err_t e;

	p->pos++;   /* '(' */
	if (tp_peek(p) != ')') {
		for (;;) {
			if (n == ABI_MAX_TUPLE_FIELDS)
				return ERR_INVALID_ARG;
			if ((e = parse_type(p, depth + 1, 0, &fields[n])) != ERR_OK)
				return e;
			n++;
			if (tp_peek(p) != ',')
				break;
			p->pos++;
		}
	}
	if (tp_peek(p) != ')')
		return ERR_INVALID_ARG;
	p->pos++;
	if (n == 0 && !top)
		return ERR_INVALID_ARG;
	if (!(t = type_new(p, ABI_TUPLE)))
		return arena_err(p->a);
	copy = arena_alloc(p->a, sizeof(*copy) * (n ? n : 1));
	if (!copy)
		return arena_err(p->a);
	for (size_t i = 0; i < n; i++) {
		copy[i] = fields[i];
		dyn |= fields[i]->dynamic;
		head += fields[i]->head_size;   /* each <= ABI_MAX_STATIC_SIZE, n <= 64: no overflow */
		deepest = MAX(deepest, fields[i]->depth);
	}
	if (!dyn && head > ABI_MAX_STATIC_SIZE)
		return ERR_INVALID_ARG;
	t->fields = copy;
	t->count = n;
	t->dynamic = dyn;
	t->head_size = dyn ? ABI_WORD : head;
	t->depth = 1 + deepest;
	*out = t;
	return ERR_OK;
}

static err_t parse_elementary(struct tparse *p, struct abi_type **out)
{
	size_t start = p->pos, wl, n = 0;
	const char *w;
	struct abi_type *t;
	enum abi_kind kind;
	unsigned size = 0;

	while (is_lower(tp_peek(p)))
		p->pos++;
	w = p->s + start;
	wl = p->pos - start;
#define WORD_IS(lit) (wl == sizeof(lit) - 1 && memcmp(w, lit, wl) == 0)
	if (WORD_IS("uint") || WORD_IS("int")) {
		kind = w[0] == 'u' ? ABI_UINT : ABI_INT;
		size = 256;
		if (is_digit(tp_peek(p))) {
			if (!tp_number(p, 256, &n) || n % 8 != 0)
				return ERR_INVALID_ARG;
			size = (unsigned)n;
		}
	} else if (WORD_IS("bytes")) {
		kind = ABI_BYTES;
		if (is_digit(tp_peek(p))) {
			if (!tp_number(p, 32, &n))
				return ERR_INVALID_ARG;
			kind = ABI_FIXED_BYTES;
			size = (unsigned)n;
		}
	} else if (WORD_IS("address")) {
		kind = ABI_ADDRESS;
	} else if (WORD_IS("bool")) {
		kind = ABI_BOOL;
	} else if (WORD_IS("string")) {
		kind = ABI_STRING;
	} else {
		return ERR_INVALID_ARG;
	}
#undef WORD_IS
	if (!(t = type_new(p, kind)))
		return arena_err(p->a);
	t->size = size;
	t->dynamic = kind == ABI_BYTES || kind == ABI_STRING;
	*out = t;
	return ERR_OK;
}

static err_t parse_type(struct tparse *p, unsigned depth, int top, const struct abi_type **out)
{
	struct abi_type *t = NULL;
	err_t e;

	if (depth > ABI_MAX_TYPE_DEPTH)
		return ERR_INVALID_ARG;
	e = tp_peek(p) == '(' ? parse_tuple(p, depth, top, &t) : parse_elementary(p, &t);
	if (e != ERR_OK)
		return e;
	while (tp_peek(p) == '[') {
		struct abi_type *arr;
		size_t n = 0;

		/* Elements of zero size would let a length word ask for unbounded work. */
		if (t->kind == ABI_TUPLE && t->count == 0)
			return ERR_INVALID_ARG;
		p->pos++;
		if (!(arr = type_new(p, ABI_ARRAY)))
			return arena_err(p->a);
		if (tp_peek(p) != ']') {
			if (!tp_number(p, ABI_MAX_FIXED_COUNT, &n))
				return ERR_INVALID_ARG;
			arr->kind = ABI_FIXED_ARRAY;
			arr->count = n;
		}
		if (tp_peek(p) != ']')
			return ERR_INVALID_ARG;
		p->pos++;
		arr->elem = t;
		arr->depth = t->depth + 1;
		if (arr->depth > ABI_MAX_TYPE_DEPTH)
			return ERR_INVALID_ARG;
		if (arr->kind == ABI_ARRAY) {
			arr->dynamic = 1;
		} else {
			arr->dynamic = t->dynamic;
			if (!t->dynamic) {
				/* count <= 4096 and head <= 1 MiB: the product fits size_t before the check. */
				if (t->head_size * n > ABI_MAX_STATIC_SIZE)
					return ERR_INVALID_ARG;
				arr->head_size = t->head_size * n;
			}
		}
		t = arr;
	}
	if (t->depth > ABI_MAX_TYPE_DEPTH)
		return ERR_INVALID_ARG;
	*out = t;
	return ERR_OK;
}

err_t abi_type_parse(struct arena *a, const char *s, size_t len, const struct abi_type **out)
{
	struct tparse p = { .s = s, .len = len, .pos = 0, .a = a };
	const struct abi_type *t = NULL;
	err_t e;

	*out = NULL;
	if (!s || len == 0 || len > ABI_MAX_TYPE_STRING)
		return ERR_INVALID_ARG;
	if ((e = parse_type(&p, 1, 1, &t)) != ERR_OK)
		return e;
	if (p.pos != p.len)
		return ERR_INVALID_ARG;
	*out = t;
	return ERR_OK;
}

void abi_type_canonical(const struct abi_type *t, struct buf_writer *w)
{
	switch (t->kind) {
	case ABI_UINT:
		buf_printf(w, "uint%u", t->size);
		break;
	case ABI_INT:
		buf_printf(w, "int%u", t->size);
		break;
	case ABI_ADDRESS:
		buf_put_str(w, "address");
		break;
	case ABI_BOOL:
		buf_put_str(w, "bool");
		break;
	case ABI_FIXED_BYTES:
		buf_printf(w, "bytes%u", t->size);
		break;
	case ABI_BYTES:
		buf_put_str(w, "bytes");
		break;
	case ABI_STRING:
		buf_put_str(w, "string");
		break;
	case ABI_ARRAY:
		abi_type_canonical(t->elem, w);
		buf_put_str(w, "[]");
		break;
	case ABI_FIXED_ARRAY:
		abi_type_canonical(t->elem, w);
		buf_printf(w, "[%zu]", t->count);
		break;
	case ABI_TUPLE:
		buf_put_u8(w, '(');
		for (size_t i = 0; i < t->count; i++) {
			if (i)
				buf_put_u8(w, ',');
			abi_type_canonical(t->fields[i], w);
		}
		buf_put_u8(w, ')');
		break;
	}
}

/* ---- function and event signatures ---- */

static void skip_ws(struct tparse *p)
{
	while (tp_peek(p) == ' ' || tp_peek(p) == '\t' || tp_peek(p) == '\n')
		p->pos++;
}

/* An identifier at p, copied to the arena; "" (not NULL) when absent and optional. */
static err_t parse_ident(struct tparse *p, int required, const char **out)
{
	size_t start = p->pos;

	if (is_ident_start(tp_peek(p)))
		while (is_ident(tp_peek(p)))
			p->pos++;
	if (p->pos == start && required)
		return ERR_INVALID_ARG;
	if (!(*out = arena_memdup(p->a, p->s + start, p->pos - start)))
		return arena_err(p->a);
	return ERR_OK;
}

struct sig_param {
	const struct abi_type *type;
	const char *name;
	int indexed;
};

/*
 * "name(type [indexed] [pname], ...)" into name and params (at most
 * ABI_MAX_TUPLE_FIELDS); *anonymous when the event keyword follows and
 * `event` is set.
 */
static err_t parse_signature(struct tparse *p, int event, const char **name, struct sig_param *params, size_t *n,
			     int *anonymous)
{
	err_t e;

	*n = 0;
	*anonymous = 0;
	skip_ws(p);
	if ((e = parse_ident(p, 1, name)) != ERR_OK)
		return e;
	if (tp_peek(p) != '(')
		return ERR_INVALID_ARG;
	p->pos++;
	skip_ws(p);
	if (tp_peek(p) != ')') {
		for (;;) {
			struct sig_param *sp;
			const char *word;

			if (*n == ABI_MAX_TUPLE_FIELDS)
				return ERR_INVALID_ARG;
			sp = &params[(*n)++];
			sp->indexed = 0;
			skip_ws(p);
			if ((e = parse_type(p, 2, 0, &sp->type)) != ERR_OK)
				return e;
			skip_ws(p);
			if ((e = parse_ident(p, 0, &word)) != ERR_OK)
				return e;
			if (event && strcmp(word, "indexed") == 0) {
				sp->indexed = 1;
				skip_ws(p);
				if ((e = parse_ident(p, 0, &word)) != ERR_OK)
					return e;
			}
			sp->name = word;
			skip_ws(p);
			if (tp_peek(p) != ',')
				break;
			p->pos++;
		}
	}
	if (tp_peek(p) != ')')
		return ERR_INVALID_ARG;
	p->pos++;
	skip_ws(p);
	if (event && p->pos < p->len) {
		const char *word;
		if ((e = parse_ident(p, 1, &word)) != ERR_OK)
			return e;
		if (strcmp(word, "anonymous") != 0)
			return ERR_INVALID_ARG;
		*anonymous = 1;
		skip_ws(p);
	}
	return p->pos == p->len ? ERR_OK : ERR_INVALID_ARG;
}

/* A tuple type of params[i].type for every i with indexed == want (or all when want < 0). */
static err_t make_tuple(struct arena *a, const struct sig_param *params, size_t n, int want,
			const struct abi_type **out)
{
	struct abi_type *t = arena_zalloc(a, sizeof(*t));
	const struct abi_type **fields = arena_alloc(a, sizeof(*fields) * (n ? n : 1));
	size_t k = 0, head = 0;
	unsigned deepest = 0;

	if (!t || !fields)
		return arena_err(a);
	t->kind = ABI_TUPLE;
	for (size_t i = 0; i < n; i++) {
		if (want >= 0 && params[i].indexed != want)
			continue;
		fields[k++] = params[i].type;
		t->dynamic |= params[i].type->dynamic;
		head += params[i].type->head_size;
		deepest = MAX(deepest, params[i].type->depth);
	}
	if (!t->dynamic && head > ABI_MAX_STATIC_SIZE)
		return ERR_INVALID_ARG;
	t->fields = fields;
	t->count = k;
	t->head_size = t->dynamic ? ABI_WORD : head;
	t->depth = 1 + deepest;
	*out = t;
	return ERR_OK;
}

/* keccak256 of name + canonical(inputs). */
static err_t signature_hash(const char *name, const struct abi_type *inputs, uint8_t out[32])
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, ABI_MAX_TYPE_STRING * 4);
	buf_put_str(&w, name);
	abi_type_canonical(inputs, &w);
	if ((e = buf_writer_status(&w)) == ERR_OK)
		keccak256(w.p, w.len, out);
	buf_writer_free(&w);
	return e;
}

err_t abi_function_parse(struct arena *a, const char *sig, struct abi_function *out)
{
	struct sig_param params[ABI_MAX_TUPLE_FIELDS];
	struct tparse p = { .s = sig, .len = sig ? strlen(sig) : 0, .pos = 0, .a = a };
	uint8_t h[32];
	size_t n;
	int anon;
	err_t e;

	memset(out, 0, sizeof(*out));
	if (!sig || p.len > ABI_MAX_TYPE_STRING)
		return ERR_INVALID_ARG;
	if ((e = parse_signature(&p, 0, &out->name, params, &n, &anon)) != ERR_OK)
		return e;
	if ((e = make_tuple(a, params, n, -1, &out->inputs)) != ERR_OK)
		return e;
	if ((e = signature_hash(out->name, out->inputs, h)) != ERR_OK)
		return e;
	memcpy(out->selector, h, 4);
	return ERR_OK;
}

err_t abi_event_parse(struct arena *a, const char *sig, struct abi_event *out)
{
	struct sig_param params[ABI_MAX_TUPLE_FIELDS];
	struct tparse p = { .s = sig, .len = sig ? strlen(sig) : 0, .pos = 0, .a = a };
	struct abi_event_param *ep;
	const struct abi_type *all;
	size_t n;
	err_t e;

	memset(out, 0, sizeof(*out));
	if (!sig || p.len > ABI_MAX_TYPE_STRING)
		return ERR_INVALID_ARG;
	if ((e = parse_signature(&p, 1, &out->name, params, &n, &out->anonymous)) != ERR_OK)
		return e;
	if (!(ep = arena_zalloc(a, sizeof(*ep) * (n ? n : 1))))
		return arena_err(a);
	for (size_t i = 0; i < n; i++) {
		ep[i].type = params[i].type;
		ep[i].name = params[i].name;
		ep[i].indexed = params[i].indexed;
		out->nindexed += (size_t)params[i].indexed;
	}
	if (out->nindexed > (out->anonymous ? 4u : 3u))
		return ERR_INVALID_ARG;
	out->params = ep;
	out->nparams = n;
	if ((e = make_tuple(a, params, n, 0, &out->data_type)) != ERR_OK)
		return e;
	if ((e = make_tuple(a, params, n, -1, &all)) != ERR_OK)
		return e;
	return signature_hash(out->name, all, out->topic0);
}

void abi_selector(const char *canonical_sig, uint8_t out[4])
{
	uint8_t h[32];

	keccak256(canonical_sig, strlen(canonical_sig), h);
	memcpy(out, h, 4);
}

void abi_topic(const char *canonical_sig, uint8_t out[32])
{
	keccak256(canonical_sig, strlen(canonical_sig), out);
}

/* ---- values ---- */

static void set_word(struct abi_value *v, enum abi_kind kind)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
}

void abi_set_uint64(struct abi_value *v, uint64_t x)
{
	set_word(v, ABI_UINT);
	for (int i = 0; i < 8; i++)
		v->u.word[31 - i] = (uint8_t)(x >> (8 * i));
}

void abi_set_uint256(struct abi_value *v, const uint8_t be[32])
{
	set_word(v, ABI_UINT);
	memcpy(v->u.word, be, 32);
}

void abi_set_int64(struct abi_value *v, int64_t x)
{
	uint64_t u = (uint64_t)x;

	set_word(v, ABI_INT);
	memset(v->u.word, x < 0 ? 0xff : 0, 32);
	for (int i = 0; i < 8; i++)
		v->u.word[31 - i] = (uint8_t)(u >> (8 * i));
}

void abi_set_address(struct abi_value *v, const uint8_t addr[20])
{
	set_word(v, ABI_ADDRESS);
	memcpy(v->u.word + 12, addr, 20);
}

void abi_set_bool(struct abi_value *v, int b)
{
	set_word(v, ABI_BOOL);
	v->u.word[31] = b ? 1 : 0;
}

void abi_set_fixed_bytes(struct abi_value *v, const void *p, size_t n)
{
	set_word(v, ABI_FIXED_BYTES);
	memcpy(v->u.word, p, MIN(n, (size_t)32));
}

void abi_set_bytes(struct abi_value *v, const void *p, size_t n)
{
	memset(v, 0, sizeof(*v));
	v->kind = ABI_BYTES;
	v->u.bytes.p = p;
	v->u.bytes.len = n;
}

void abi_set_string_n(struct abi_value *v, const char *s, size_t n)
{
	memset(v, 0, sizeof(*v));
	v->kind = ABI_STRING;
	v->u.bytes.p = (const uint8_t *)s;
	v->u.bytes.len = n;
}

void abi_set_string(struct abi_value *v, const char *s)
{
	abi_set_string_n(v, s, strlen(s));
}

static void set_list(struct abi_value *v, enum abi_kind kind, struct abi_value *items, size_t n)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->u.list.items = items;
	v->u.list.n = n;
}

void abi_set_array(struct abi_value *v, struct abi_value *items, size_t n)
{
	set_list(v, ABI_ARRAY, items, n);
}

void abi_set_fixed_array(struct abi_value *v, struct abi_value *items, size_t n)
{
	set_list(v, ABI_FIXED_ARRAY, items, n);
}

void abi_set_tuple(struct abi_value *v, struct abi_value *items, size_t n)
{
	set_list(v, ABI_TUPLE, items, n);
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return 0;
	return 1;
}

/* Whether a 32-byte word is a canonical value of scalar type t. */
static int word_valid(const struct abi_type *t, const uint8_t w[32])
{
	size_t hi;

	switch (t->kind) {
	case ABI_UINT:
		return all_bytes(w, 32 - t->size / 8, 0);
	case ABI_INT:
		hi = 32 - t->size / 8;   /* bytes above the value; the sign bit is the top bit of w[hi] */
		return all_bytes(w, hi, (w[hi] & 0x80) ? 0xff : 0);
	case ABI_ADDRESS:
		return all_bytes(w, 12, 0);
	case ABI_BOOL:
		return all_bytes(w, 31, 0) && w[31] <= 1;
	case ABI_FIXED_BYTES:
		return all_bytes(w + t->size, 32 - t->size, 0);
	default:
		return 0;
	}
}

static int is_word_kind(enum abi_kind k)
{
	return k == ABI_UINT || k == ABI_INT || k == ABI_ADDRESS || k == ABI_BOOL || k == ABI_FIXED_BYTES;
}

err_t abi_get_u64(const struct abi_value *v, uint64_t *x)
{
	uint64_t r = 0;

	if (v->kind != ABI_UINT || v->hashed)
		return ERR_PROTO_FIELD_TYPE;
	if (!all_bytes(v->u.word, 24, 0))
		return ERR_PROTO_TOO_LARGE;
	for (int i = 24; i < 32; i++)
		r = (r << 8) | v->u.word[i];
	*x = r;
	return ERR_OK;
}

err_t abi_get_i64(const struct abi_value *v, int64_t *x)
{
	uint64_t r = 0;
	uint8_t fill;

	if (v->kind != ABI_INT || v->hashed)
		return ERR_PROTO_FIELD_TYPE;
	fill = (v->u.word[24] & 0x80) ? 0xff : 0;
	if (!all_bytes(v->u.word, 24, fill))
		return ERR_PROTO_TOO_LARGE;
	for (int i = 24; i < 32; i++)
		r = (r << 8) | v->u.word[i];
	memcpy(x, &r, sizeof(*x));   /* two's complement bit pattern, without implementation-defined conversion */
	return ERR_OK;
}

err_t abi_get_address(const struct abi_value *v, uint8_t addr[20])
{
	if (v->kind != ABI_ADDRESS || v->hashed)
		return ERR_PROTO_FIELD_TYPE;
	memcpy(addr, v->u.word + 12, 20);
	return ERR_OK;
}

err_t abi_get_bool(const struct abi_value *v, int *b)
{
	if (v->kind != ABI_BOOL || v->hashed)
		return ERR_PROTO_FIELD_TYPE;
	*b = v->u.word[31];
	return ERR_OK;
}

err_t abi_get_bytes32(const struct abi_value *v, uint8_t out[32])
{
	if (v->kind != ABI_FIXED_BYTES)
		return ERR_PROTO_FIELD_TYPE;
	memcpy(out, v->u.word, 32);
	return ERR_OK;
}

/* ---- encoder ---- */

static const uint8_t zeros[ABI_WORD];

static void put_u64_word(struct buf_writer *w, uint64_t x)
{
	buf_put(w, zeros, 24);
	buf_put_u64be(w, x);
}

static err_t enc_value(const struct abi_type *t, const struct abi_value *v, struct buf_writer *w, unsigned depth);

/* A sequence of n values in head/tail layout; for a tuple types[i], for arrays elem for all. */
static err_t enc_seq(const struct abi_type *const *types, const struct abi_type *elem, const struct abi_value *items,
		     size_t n, struct buf_writer *w, unsigned depth)
{
	size_t start = w->len;
	err_t e;

	/* Heads in order: static values inline, a placeholder offset for each dynamic one. */
	for (size_t i = 0; i < n; i++) {
		const struct abi_type *t = types ? types[i] : elem;
		if (t->dynamic)
			buf_put(w, zeros, ABI_WORD);
		else if ((e = enc_value(t, &items[i], w, depth + 1)) != ERR_OK)
			return e;
	}
	if ((e = buf_writer_status(w)) != ERR_OK)
		return e;
	/* Tails in order, patching each offset (relative to the start of this sequence). */
	for (size_t i = 0, head = 0; i < n; i++) {
		const struct abi_type *t = types ? types[i] : elem;
		if (t->dynamic) {
			uint64_t off = (uint64_t)(w->len - start);
			uint8_t *slot = w->p + start + head;
			memset(slot, 0, 24);
			for (int k = 0; k < 8; k++)
				slot[31 - k] = (uint8_t)(off >> (8 * k));
			if ((e = enc_value(t, &items[i], w, depth + 1)) != ERR_OK)
				return e;
		}
		head += t->head_size;
	}
	return buf_writer_status(w);
}

static err_t enc_value(const struct abi_type *t, const struct abi_value *v, struct buf_writer *w, unsigned depth)
{
	size_t pad;

	if (depth > ABI_MAX_TYPE_DEPTH + 1)
		return ERR_INVALID_ARG;
	if (v->kind != t->kind || v->hashed)
		return ERR_INVALID_ARG;
	switch (t->kind) {
	case ABI_UINT:
	case ABI_INT:
	case ABI_ADDRESS:
	case ABI_BOOL:
	case ABI_FIXED_BYTES:
		if (!word_valid(t, v->u.word))
			return ERR_INVALID_ARG;
		buf_put(w, v->u.word, ABI_WORD);
		return buf_writer_status(w);
	case ABI_BYTES:
	case ABI_STRING:
		if (v->u.bytes.len && !v->u.bytes.p)
			return ERR_INVALID_ARG;
		put_u64_word(w, (uint64_t)v->u.bytes.len);
		if (v->u.bytes.len)
			buf_put(w, v->u.bytes.p, v->u.bytes.len);
		pad = (ABI_WORD - v->u.bytes.len % ABI_WORD) % ABI_WORD;
		buf_put(w, zeros, pad);
		return buf_writer_status(w);
	case ABI_ARRAY:
		if (v->u.list.n && !v->u.list.items)
			return ERR_INVALID_ARG;
		put_u64_word(w, (uint64_t)v->u.list.n);
		return enc_seq(NULL, t->elem, v->u.list.items, v->u.list.n, w, depth);
	case ABI_FIXED_ARRAY:
		if (v->u.list.n != t->count || !v->u.list.items)
			return ERR_INVALID_ARG;
		return enc_seq(NULL, t->elem, v->u.list.items, t->count, w, depth);
	case ABI_TUPLE:
		if (v->u.list.n != t->count || (t->count && !v->u.list.items))
			return ERR_INVALID_ARG;
		return enc_seq(t->fields, NULL, v->u.list.items, t->count, w, depth);
	}
	return ERR_INVALID_ARG;
}

err_t abi_encode(const struct abi_type *t, const struct abi_value *v, struct buf_writer *w)
{
	if (!t || !v || t->kind != ABI_TUPLE)
		return ERR_INVALID_ARG;
	return enc_value(t, v, w, 0);
}

err_t abi_encode_call(const struct abi_function *f, const struct abi_value *args, struct buf_writer *w)
{
	buf_put(w, f->selector, 4);
	return abi_encode(f->inputs, args, w);
}

/* ---- decoder ---- */

struct dctx {
	const uint8_t *data;       /* the whole input, for absolute positions */
	size_t len;
	size_t max_len;
	size_t items, max_items;
	unsigned max_depth;
	size_t hi;                 /* furthest byte used, for the trailing check */
	struct arena *a;
};

static void note_end(struct dctx *c, const struct buf_reader *r)
{
	size_t end = (size_t)(r->p - c->data) + r->pos;

	if (end > c->hi)
		c->hi = end;
}

static err_t get_word(struct dctx *c, struct buf_reader *r, const uint8_t **w)
{
	err_t e = buf_get_view(r, ABI_WORD, w);

	if (e == ERR_OK)
		note_end(c, r);
	return e;
}

/* A length or offset word: above 2^64 or max_len is ERR_PROTO_TOO_LARGE. */
static err_t get_size_word(struct dctx *c, struct buf_reader *r, size_t *out)
{
	const uint8_t *w;
	uint64_t v = 0;
	err_t e;

	if ((e = get_word(c, r, &w)) != ERR_OK)
		return e;
	if (!all_bytes(w, 24, 0))
		return ERR_PROTO_TOO_LARGE;
	for (int i = 24; i < 32; i++)
		v = (v << 8) | w[i];
	if (v > (uint64_t)c->max_len)
		return ERR_PROTO_TOO_LARGE;
	*out = (size_t)v;
	return ERR_OK;
}

static err_t count_item(struct dctx *c, size_t n)
{
	if (n > c->max_items - c->items)
		return ERR_BUDGET;
	c->items += n;
	return ERR_OK;
}

static err_t dec_static(struct dctx *c, const struct abi_type *t, struct buf_reader *head, struct abi_value *out,
			unsigned depth);
static err_t dec_dynamic(struct dctx *c, const struct abi_type *t, struct buf_reader *tail, struct abi_value *out,
			 unsigned depth);

static err_t alloc_items(struct dctx *c, size_t n, struct abi_value **items)
{
	*items = NULL;
	if (n == 0)
		return ERR_OK;
	if (n > SIZE_MAX / sizeof(struct abi_value))
		return ERR_BUDGET;
	if (!(*items = arena_zalloc(c->a, n * sizeof(struct abi_value))))
		return arena_err(c->a);
	return ERR_OK;
}

/*
 * n values laid out head/tail in `region` (a view starting where this
 * sequence's encoding starts: offsets are relative to it).
 */
static err_t dec_seq(struct dctx *c, const struct abi_type *const *types, const struct abi_type *elem, size_t n,
		     const struct buf_reader *region, struct abi_value *items, unsigned depth)
{
	struct buf_reader head = *region;
	err_t e;

	head.pos = 0;
	for (size_t i = 0; i < n; i++) {
		const struct abi_type *t = types ? types[i] : elem;
		if (t->dynamic) {
			struct buf_reader tail;
			size_t off;
			if ((e = get_size_word(c, &head, &off)) != ERR_OK)
				return e;
			if (off > region->len)
				return ERR_PROTO_TRUNCATED;
			buf_reader_init(&tail, region->p + off, region->len - off);
			if ((e = dec_dynamic(c, t, &tail, &items[i], depth + 1)) != ERR_OK)
				return e;
		} else if ((e = dec_static(c, t, &head, &items[i], depth + 1)) != ERR_OK) {
			return e;
		}
	}
	return ERR_OK;
}

/* A static value read in place from the head (scalars, static tuples, static fixed arrays). */
static err_t dec_static(struct dctx *c, const struct abi_type *t, struct buf_reader *head, struct abi_value *out,
			unsigned depth)
{
	const uint8_t *w;
	size_t n;
	err_t e;

	if (depth > c->max_depth)
		return ERR_PROTO_DEPTH;
	if ((e = count_item(c, 1)) != ERR_OK)
		return e;
	out->kind = t->kind;
	if (is_word_kind(t->kind)) {
		if ((e = get_word(c, head, &w)) != ERR_OK)
			return e;
		if (!word_valid(t, w))
			return ERR_PROTO_MALFORMED;
		memcpy(out->u.word, w, ABI_WORD);
		return ERR_OK;
	}
	if (t->kind != ABI_TUPLE && t->kind != ABI_FIXED_ARRAY)
		return ERR_INVALID_ARG;
	n = t->count;
	/* The whole static block must be there before allocating for it. */
	if (buf_remaining(head) < t->head_size)
		return ERR_PROTO_TRUNCATED;
	if ((e = alloc_items(c, n, &out->u.list.items)) != ERR_OK)
		return e;
	out->u.list.n = n;
	for (size_t i = 0; i < n; i++) {
		const struct abi_type *ft = t->kind == ABI_TUPLE ? t->fields[i] : t->elem;
		if ((e = dec_static(c, ft, head, &out->u.list.items[i], depth + 1)) != ERR_OK)
			return e;
	}
	return ERR_OK;
}

/* A dynamic value whose encoding starts at the beginning of `tail`. */
static err_t dec_dynamic(struct dctx *c, const struct abi_type *t, struct buf_reader *tail, struct abi_value *out,
			 unsigned depth)
{
	struct buf_reader region;
	const uint8_t *p, *padp;
	size_t n, pad;
	uint8_t *copy;
	err_t e;

	if (depth > c->max_depth)
		return ERR_PROTO_DEPTH;
	if ((e = count_item(c, 1)) != ERR_OK)
		return e;
	out->kind = t->kind;
	switch (t->kind) {
	case ABI_BYTES:
	case ABI_STRING:
		if ((e = get_size_word(c, tail, &n)) != ERR_OK)
			return e;
		pad = (ABI_WORD - n % ABI_WORD) % ABI_WORD;
		if ((e = buf_get_view(tail, n, &p)) != ERR_OK || (e = buf_get_view(tail, pad, &padp)) != ERR_OK)
			return e;
		note_end(c, tail);
		if (!all_bytes(padp, pad, 0))
			return ERR_PROTO_MALFORMED;
		if (!(copy = arena_memdup(c->a, p, n)))
			return arena_err(c->a);
		out->u.bytes.p = copy;
		out->u.bytes.len = n;
		return ERR_OK;
	case ABI_ARRAY:
		if ((e = get_size_word(c, tail, &n)) != ERR_OK)
			return e;
		/* Every element needs head_size bytes of head: refuse a count the data cannot hold. */
		if (t->elem->head_size && n > buf_remaining(tail) / t->elem->head_size)
			return ERR_PROTO_TRUNCATED;
		/* Each element counts itself when decoded; refuse a count the budget cannot hold before allocating. */
		if (n > c->max_items - c->items)
			return ERR_BUDGET;
		if ((e = alloc_items(c, n, &out->u.list.items)) != ERR_OK)
			return e;
		out->u.list.n = n;
		buf_reader_init(&region, buf_cursor(tail), buf_remaining(tail));
		return dec_seq(c, NULL, t->elem, n, &region, out->u.list.items, depth);
	case ABI_FIXED_ARRAY:
	case ABI_TUPLE:
		n = t->count;
		if ((e = alloc_items(c, n, &out->u.list.items)) != ERR_OK)
			return e;
		out->u.list.n = n;
		buf_reader_init(&region, buf_cursor(tail), buf_remaining(tail));
		return dec_seq(c, t->kind == ABI_TUPLE ? t->fields : NULL, t->kind == ABI_TUPLE ? NULL : t->elem, n,
			       &region, out->u.list.items, depth);
	default:
		return ERR_INVALID_ARG;
	}
}

err_t abi_decode(const struct abi_type *t, const uint8_t *data, size_t len, const struct abi_limits *lim,
		 struct arena *a, struct abi_value **out)
{
	static const struct abi_limits defaults;
	struct dctx c;
	struct abi_value *v = NULL;
	struct buf_reader r;
	err_t e;

	*out = NULL;
	if (!t || t->kind != ABI_TUPLE || (!data && len))
		return ERR_INVALID_ARG;
	if (!lim)
		lim = &defaults;
	memset(&c, 0, sizeof(c));
	c.data = data ? data : zeros;
	c.len = len;
	c.max_len = lim->max_len ? lim->max_len : DEFAULT_MAX_LEN;
	c.max_items = lim->max_items ? lim->max_items : DEFAULT_MAX_ITEMS;
	c.max_depth = lim->max_depth ? lim->max_depth : ABI_MAX_TYPE_DEPTH;
	c.a = a;
	if (len > c.max_len)
		return ERR_PROTO_TOO_LARGE;
	if (t->depth > c.max_depth)
		return ERR_PROTO_DEPTH;
	if (!(v = arena_zalloc(a, sizeof(*v))))
		return arena_err(a);
	buf_reader_init(&r, c.data, len);
	/* The top-level tuple is laid out like a dynamic tuple's tail, whatever its own type says. */
	if (t->dynamic)
		e = dec_dynamic(&c, t, &r, v, 0);
	else
		e = dec_static(&c, t, &r, v, 0);
	if (e != ERR_OK)
		return e;
	if (!lim->allow_trailing && c.hi != len)
		return ERR_PROTO_TRAILING;
	*out = v;
	return ERR_OK;
}

err_t abi_log_decode(const struct abi_event *ev, const uint8_t (*topics)[32], size_t ntopics, const uint8_t *data,
		     size_t len, const struct abi_limits *lim, struct arena *a, struct abi_value **out)
{
	struct abi_value *res = NULL, *items = NULL, *dv = NULL;
	size_t ti, di = 0;
	err_t e;

	*out = NULL;
	if (!ev || (ntopics && !topics))
		return ERR_INVALID_ARG;
	if (!ev->anonymous && (ntopics == 0 || memcmp(topics[0], ev->topic0, 32) != 0))
		return ERR_INVALID_ARG;
	if (ntopics != ev->nindexed + (ev->anonymous ? 0u : 1u))
		return ERR_PROTO_MALFORMED;
	if ((e = abi_decode(ev->data_type, data, len, lim, a, &dv)) != ERR_OK)
		return e;
	res = arena_zalloc(a, sizeof(*res));
	if (!res || (ev->nparams && !(items = arena_zalloc(a, sizeof(*items) * ev->nparams))))
		return arena_err(a);
	ti = ev->anonymous ? 0 : 1;
	for (size_t i = 0; i < ev->nparams; i++) {
		const struct abi_event_param *p = &ev->params[i];
		if (!p->indexed) {
			items[i] = dv->u.list.items[di++];
			continue;
		}
		if (is_word_kind(p->type->kind)) {
			if (!word_valid(p->type, topics[ti]))
				return ERR_PROTO_MALFORMED;
			items[i].kind = p->type->kind;
		} else {
			items[i].kind = ABI_FIXED_BYTES;
			items[i].hashed = 1;
		}
		memcpy(items[i].u.word, topics[ti], 32);
		ti++;
	}
	res->kind = ABI_TUPLE;
	res->u.list.items = items;
	res->u.list.n = ev->nparams;
	*out = res;
	return ERR_OK;
}
