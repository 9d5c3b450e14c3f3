/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/base/json: parse, check every raw span and decoded string, and round-trip strings through json_put_string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (1u << 20)
#define OUT_MAX (8u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

/* A string re-escaped by json_put_string parses back to the same bytes. */
static void string_roundtrip(const char *s, size_t len)
{
	struct arena a;
	struct buf_writer w;
	struct json_value *v = NULL;

	arena_init(&a, 4 * (size_t)OUT_MAX, 0);
	buf_writer_init(&w, OUT_MAX);
	json_put_string(&w, s, len);
	check(buf_writer_status(&w) == ERR_OK);
	check(json_parse((const char *)w.p, w.len, NULL, &a, &v, NULL) == ERR_OK);
	check(v->type == JSON_STRING && v->u.str.len == len && memcmp(v->u.str.s, s, len) == 0);
	check(v->u.str.s[len] == 0);
	buf_writer_free(&w);
	arena_fini(&a);
}

/* Iterative walk with an explicit stack so a deep tree does not recurse here either. */
static void walk(const struct json_value *root, const uint8_t *data, size_t size)
{
	const struct json_value **stack = NULL;
	size_t n = 0, cap = 0;

	stack = malloc(sizeof(*stack) * 16);
	check(stack != NULL);
	cap = 16;
	stack[n++] = root;
	while (n) {
		const struct json_value *v = stack[--n];
		const uint8_t *raw = (const uint8_t *)v->raw;
		size_t kids = 0;

		check(raw >= data && v->raw_len <= size && (size_t)(raw - data) <= size - v->raw_len);
		check(v->raw_len > 0);
		switch (v->type) {
		case JSON_NULL:
			check(v->raw_len == 4 && memcmp(raw, "null", 4) == 0);
			break;
		case JSON_TRUE:
			check(v->raw_len == 4 && memcmp(raw, "true", 4) == 0);
			break;
		case JSON_FALSE:
			check(v->raw_len == 5 && memcmp(raw, "false", 5) == 0);
			break;
		case JSON_NUMBER:
			check(v->u.num.len == v->raw_len && memcmp(v->u.num.text, raw, v->raw_len) == 0);
			check(v->u.num.text[v->u.num.len] == 0);
			break;
		case JSON_STRING:
			check(raw[0] == '"' && raw[v->raw_len - 1] == '"' && v->u.str.len <= v->raw_len - 2);
			string_roundtrip(v->u.str.s, v->u.str.len);
			break;
		case JSON_ARRAY:
			check(raw[0] == '[' && raw[v->raw_len - 1] == ']');
			kids = v->u.arr.n;
			break;
		case JSON_OBJECT:
			check(raw[0] == '{' && raw[v->raw_len - 1] == '}');
			kids = v->u.obj.n;
			for (size_t i = 0; i < kids; i++) {
				const struct json_member *m = &v->u.obj.members[i];
				check(m->key[m->key_len] == 0);
				string_roundtrip(m->key, m->key_len);
				/* The parser promised no duplicates; check the small ones here. */
				for (size_t j = i + 1; j < kids && kids <= 64; j++)
					check(m->key_len != v->u.obj.members[j].key_len ||
					      memcmp(m->key, v->u.obj.members[j].key, m->key_len) != 0);
				check(json_get(v, m->key) != NULL || memchr(m->key, 0, m->key_len) != NULL);
			}
			break;
		default:
			check(0);
		}
		if (n + kids > cap) {
			const struct json_value **ns;
			while (n + kids > cap)
				cap *= 2;
			ns = realloc(stack, sizeof(*stack) * cap);
			check(ns != NULL);
			stack = ns;
		}
		for (size_t i = 0; i < kids; i++) {
			const struct json_value *c = v->type == JSON_ARRAY ? &v->u.arr.items[i] : &v->u.obj.members[i].value;
			/* Children lie inside their parent's span, in order. */
			check((const uint8_t *)c->raw > raw && (const uint8_t *)c->raw + c->raw_len < raw + v->raw_len);
			stack[n++] = c;
		}
	}
	free(stack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct json_limits lim = { .max_depth = 64 };
	struct arena a;
	struct json_value *v = NULL;
	size_t off = SIZE_MAX;
	err_t err;

	arena_init(&a, ARENA_BUDGET, 0);
	err = json_parse((const char *)data, size, &lim, &a, &v, &off);
	if (err) {
		check(v == NULL);
		check(err == ERR_PROTO_JSON || err == ERR_PROTO_ENCODING || err == ERR_PROTO_DEPTH ||
		      err == ERR_BUDGET || err == ERR_PROTO_TOO_LARGE);
		check(off <= size);
	} else {
		check(v != NULL);
		walk(v, data, size);
	}
	arena_fini(&a);
	return 0;
}
