/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the strict JSON parser: every type, raw spans, each refusal with its exact error, limits, accessors, escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define BUDGET (4u << 20)

static struct arena g_arena;

static int setup(void **state)
{
	(void)state;
	arena_init(&g_arena, BUDGET, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_fini(&g_arena);
	return 0;
}

static const struct json_value *parse_ok(const char *s)
{
	struct json_value *v = NULL;
	size_t off = 0;
	err_t err = json_parse(s, strlen(s), NULL, &g_arena, &v, &off);

	if (err != ERR_OK)
		fail_msg("'%s' refused: %s at %zu", s, err_name(err), off);
	assert_non_null(v);
	return v;
}

static void expect_err(const char *s, size_t len, err_t want, size_t want_off)
{
	struct json_value *v = (struct json_value *)1;
	size_t off = 12345;
	err_t err = json_parse(s, len, NULL, &g_arena, &v, &off);

	if (err != want)
		fail_msg("'%.*s': got %s, want %s", (int)len, s, err_name(err), err_name(want));
	assert_null(v);
	if (want_off != SIZE_MAX && off != want_off)
		fail_msg("'%.*s': offset %zu, want %zu", (int)len, s, off, want_off);
}

static int raw_is(const struct json_value *v, const char *want)
{
	return v->raw_len == strlen(want) && memcmp(v->raw, want, v->raw_len) == 0;
}

static void test_scalars(void **state)
{
	const struct json_value *v;

	(void)state;
	assert_int_equal(parse_ok("null")->type, JSON_NULL);
	assert_int_equal(parse_ok("true")->type, JSON_TRUE);
	assert_int_equal(parse_ok(" \t\r\nfalse \n")->type, JSON_FALSE);
	v = parse_ok("  -12.5e+3 ");
	assert_int_equal(v->type, JSON_NUMBER);
	assert_string_equal(v->u.num.text, "-12.5e+3");
	assert_int_equal(v->u.num.len, 8);
	assert_true(raw_is(v, "-12.5e+3"));
	v = parse_ok("0");
	assert_string_equal(v->u.num.text, "0");
	v = parse_ok("-0.0E-0");
	assert_string_equal(v->u.num.text, "-0.0E-0");
	v = parse_ok(" \"hi\" ");
	assert_int_equal(v->type, JSON_STRING);
	assert_string_equal(v->u.str.s, "hi");
	assert_int_equal(v->u.str.len, 2);
	assert_true(raw_is(v, "\"hi\""));
	v = parse_ok("\"\"");
	assert_string_equal(v->u.str.s, "");
	assert_int_equal(v->u.str.len, 0);
}

static void test_escapes(void **state)
{
	const struct json_value *v;

	(void)state;
	v = parse_ok("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
	assert_string_equal(v->u.str.s, "a\"b\\c/d\be\ff\ng\rh\ti");
	v = parse_ok("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");
	assert_string_equal(v->u.str.s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* U+10FFFF, the last code point, as a surrogate pair. */
	v = parse_ok("\"\\uDBFF\\uDFFF\"");
	assert_string_equal(v->u.str.s, "\xf4\x8f\xbf\xbf");
	/* \u0000 is kept and counted. */
	v = parse_ok("\"a\\u0000b\"");
	assert_int_equal(v->u.str.len, 3);
	assert_memory_equal(v->u.str.s, "a\0b", 4);
	/* Raw UTF-8 passes through unchanged. */
	v = parse_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	assert_string_equal(v->u.str.s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

static void test_nesting_and_raw(void **state)
{
	const struct json_value *v, *a, *b, *arr;

	(void)state;
	v = parse_ok("{\"a\":{\"b\":1}}");
	assert_int_equal(v->type, JSON_OBJECT);
	assert_int_equal(v->u.obj.n, 1);
	assert_true(raw_is(v, "{\"a\":{\"b\":1}}"));
	a = json_get(v, "a");
	assert_non_null(a);
	assert_true(raw_is(a, "{\"b\":1}"));
	b = json_get(a, "b");
	assert_non_null(b);
	assert_true(raw_is(b, "1"));

	v = parse_ok(" { \"k\" : [ 1 , \"x\" , [ ] , { } , [true,null] ] , \"z\":false } ");
	assert_true(raw_is(v, "{ \"k\" : [ 1 , \"x\" , [ ] , { } , [true,null] ] , \"z\":false }"));
	assert_int_equal(v->u.obj.n, 2);
	assert_string_equal(v->u.obj.members[0].key, "k");
	assert_string_equal(v->u.obj.members[1].key, "z");
	arr = json_get(v, "k");
	assert_int_equal(arr->type, JSON_ARRAY);
	assert_int_equal(arr->u.arr.n, 5);
	assert_true(raw_is(arr, "[ 1 , \"x\" , [ ] , { } , [true,null] ]"));
	assert_true(raw_is(&arr->u.arr.items[0], "1"));
	assert_true(raw_is(&arr->u.arr.items[1], "\"x\""));
	assert_true(raw_is(&arr->u.arr.items[2], "[ ]"));
	assert_int_equal(arr->u.arr.items[2].u.arr.n, 0);
	assert_true(raw_is(&arr->u.arr.items[3], "{ }"));
	assert_int_equal(arr->u.arr.items[3].type, JSON_OBJECT);
	assert_int_equal(arr->u.arr.items[3].u.obj.n, 0);
	assert_true(raw_is(&arr->u.arr.items[4], "[true,null]"));
	assert_int_equal(arr->u.arr.items[4].u.arr.items[1].type, JSON_NULL);
	assert_int_equal(json_get(v, "z")->type, JSON_FALSE);

	/* Keys with escapes are decoded; lookup is exact and case-sensitive. */
	v = parse_ok("{\"\\u0041b\":1,\"ab\":2}");
	assert_non_null(json_get(v, "Ab"));
	assert_non_null(json_get(v, "ab"));
	assert_null(json_get(v, "AB"));
	assert_null(json_get(&v->u.obj.members[0].value, "x"));
}

static void test_big_object(void **state)
{
	/* Enough members to take the sorted duplicate check; then one duplicate at the far end. */
	struct buf_writer w;
	struct json_value *v = NULL;
	uint64_t x = 0;

	(void)state;
	buf_writer_init(&w, 1 << 20);
	buf_put_u8(&w, '{');
	for (int i = 0; i < 1000; i++)
		buf_printf(&w, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_put_u8(&w, '}');
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(json_parse((const char *)w.p, w.len, NULL, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(v->u.obj.n, 1000);
	assert_int_equal(json_get_u64(v, "k999", &x), ERR_OK);
	assert_int_equal(x, 999);
	w.len--;
	buf_put_str(&w, ",\"k500\":1}");
	expect_err((const char *)w.p, w.len, ERR_PROTO_JSON, SIZE_MAX);
	buf_writer_free(&w);
}

static void test_syntax_errors(void **state)
{
	static const struct {
		const char *s;
		size_t off;
	} bad[] = {
		{ "", 0 },
		{ "   ", 3 },
		{ "[1,]", 3 },
		{ "{\"a\":1,}", 7 },
		{ "[,1]", 1 },
		{ "01", 1 },
		{ "-01", 2 },
		{ "1.", 2 },
		{ ".5", 0 },
		{ "1e", 2 },
		{ "1e+", 3 },
		{ "+1", 0 },
		{ "-", 1 },
		{ "NaN", 0 },
		{ "Infinity", 0 },
		{ "tru", 3 },
		{ "nul", 3 },
		{ "True", 0 },
		{ "\"abc", 4 },
		{ "\"\\x\"", 1 },
		{ "\"\\u12\"", 1 },
		{ "\"\\u12G4\"", 1 },
		{ "\"a\tb\"", 2 },
		{ "\"a\nb\"", 2 },
		{ "[1 2]", 3 },
		{ "{\"a\" 1}", 5 },
		{ "{\"a\":1 \"b\":2}", 7 },
		{ "{a:1}", 1 },
		{ "{1:1}", 1 },
		{ "{\"a\":1,\"a\":2}", 13 },
		{ "{\"a\":1,\"\\u0061\":2}", 18 },
		{ "[1]]", 3 },
		{ "1 2", 2 },
		{ "{} x", 3 },
		{ "[", 1 },
		{ "{", 1 },
		{ "{\"a\":", 5 },
		{ "[1", 2 },
		{ "/* c */ 1", 0 },
		{ "[1,2] // c", 6 },
		{ "'a'", 0 },
		{ "\xef\xbb\xbf{}", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_err(bad[i].s, strlen(bad[i].s), ERR_PROTO_JSON, bad[i].off);
	/* A NUL byte is neither whitespace nor allowed raw in a string. */
	expect_err("1\0", 2, ERR_PROTO_JSON, 1);
	expect_err("\"a\0\"", 4, ERR_PROTO_JSON, 2);
	expect_err(NULL, 0, ERR_PROTO_JSON, 0);
}

static void test_encoding_errors(void **state)
{
	static const char *const bad[] = {
		"\"\x80\"",                 /* stray continuation */
		"\"\xc3\"",                 /* truncated */
		"\"\xc0\xaf\"",             /* overlong */
		"\"\xe0\x80\xaf\"",         /* overlong */
		"\"\xed\xa0\x80\"",         /* UTF-8 encoded surrogate */
		"\"\xf4\x90\x80\x80\"",     /* past U+10FFFF */
		"\"\xff\"",
		"\"\\ud800\"",              /* lone high surrogate */
		"\"\\udc00\"",              /* lone low surrogate */
		"\"\\ud800\\u0041\"",       /* high then not low */
		"\"\\ud800x\\udc00\"",
		"\"\\ud800\\ud800\"",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_err(bad[i], strlen(bad[i]), ERR_PROTO_ENCODING, 1);
	/* Bytes >= 0x80 outside strings are just bad syntax. */
	expect_err("\xc3\xa9", 2, ERR_PROTO_JSON, 0);
}

static void test_depth(void **state)
{
	char buf[300];
	struct json_limits lim = { .max_depth = 3 };
	struct json_value *v = NULL;
	size_t off = 0;

	(void)state;
	assert_int_equal(json_parse("[[[1]]]", 7, &lim, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(json_parse("[{\"a\":[]}]", 10, &lim, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(json_parse("[[[[1]]]]", 9, &lim, &g_arena, &v, &off), ERR_PROTO_DEPTH);
	assert_null(v);
	assert_int_equal(off, 3);
	assert_int_equal(json_parse("[{\"a\":{}}]", 10, &lim, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(json_parse("[{\"a\":{\"b\":[]}}]", 16, &lim, &g_arena, &v, NULL), ERR_PROTO_DEPTH);

	/* Default depth 64: 64 nested arrays parse, 65 do not. */
	memset(buf, '[', 64);
	memset(buf + 64, ']', 64);
	assert_int_equal(json_parse(buf, 128, NULL, &g_arena, &v, NULL), ERR_OK);
	memset(buf, '[', 65);
	memset(buf + 65, ']', 65);
	assert_int_equal(json_parse(buf, 130, NULL, &g_arena, &v, NULL), ERR_PROTO_DEPTH);
}

static void test_deep_large_limit(void **state)
{
	/* Depth costs heap, not C stack: a million levels with a matching limit. */
	size_t n = 1000000;
	char *buf = malloc(2 * n);
	struct json_limits lim = { .max_depth = 2000000 };
	struct arena a;
	struct json_value *v = NULL;

	(void)state;
	assert_non_null(buf);
	arena_init(&a, 256u << 20, 0);
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	assert_int_equal(json_parse(buf, 2 * n, &lim, &a, &v, NULL), ERR_OK);
	assert_int_equal(v->u.arr.n, 1);
	arena_fini(&a);
	free(buf);
}

static void test_size_limits(void **state)
{
	struct json_limits lim = { .max_len = 4 };
	struct json_value *v = NULL;
	struct arena small;
	struct buf_writer w;
	size_t off = 0;

	(void)state;
	assert_int_equal(json_parse("1234", 4, &lim, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(json_parse("12345", 5, &lim, &g_arena, &v, NULL), ERR_PROTO_TOO_LARGE);
	assert_null(v);

	/* A budget too small for the tree is ERR_BUDGET, both for strings and for container scratch. */
	arena_init(&small, 2048, 256);
	assert_int_equal(json_parse("[1,2,3]", 7, NULL, &small, &v, &off), ERR_OK);
	arena_reset(&small);
	buf_writer_init(&w, 1 << 20);
	buf_put_u8(&w, '[');
	for (int i = 0; i < 2000; i++)
		buf_put_str(&w, i ? ",0" : "0");
	buf_put_u8(&w, ']');
	assert_int_equal(json_parse((const char *)w.p, w.len, NULL, &small, &v, &off), ERR_BUDGET);
	assert_null(v);
	assert_true(small.exhausted);
	arena_reset(&small);
	buf_writer_clear(&w);
	buf_put_u8(&w, '"');
	for (int i = 0; i < 3000; i++)
		buf_put_u8(&w, 'x');
	buf_put_u8(&w, '"');
	assert_int_equal(json_parse((const char *)w.p, w.len, NULL, &small, &v, &off), ERR_BUDGET);
	buf_writer_free(&w);
	arena_fini(&small);
}

static void test_accessors(void **state)
{
	const struct json_value *v;
	const char *s = NULL;
	size_t len = 0;
	uint64_t u = 0;
	int64_t i = 0;
	int b = -1;

	(void)state;
	v = parse_ok("{\"s\":\"str\",\"n\":42,\"t\":true,\"f\":false,\"z\":null,\"o\":{},"
		     "\"max\":18446744073709551615,\"over\":18446744073709551616,\"neg\":-1,\"frac\":1.0,"
		     "\"exp\":1e3,\"zero\":0,\"negzero\":-0,"
		     "\"imax\":9223372036854775807,\"imin\":-9223372036854775808,"
		     "\"iover\":9223372036854775808,\"iunder\":-9223372036854775809}");

	assert_int_equal(json_get_str(v, "s", &s, &len), ERR_OK);
	assert_string_equal(s, "str");
	assert_int_equal(len, 3);
	assert_int_equal(json_get_str(v, "s", &s, NULL), ERR_OK);
	assert_int_equal(json_get_str(v, "n", &s, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_str(v, "z", &s, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_str(v, "missing", &s, &len), ERR_NOT_FOUND);
	assert_int_equal(json_get_str(json_get(v, "s"), "x", &s, &len), ERR_NOT_FOUND);

	assert_int_equal(json_get_u64(v, "n", &u), ERR_OK);
	assert_int_equal(u, 42);
	assert_int_equal(json_get_u64(v, "max", &u), ERR_OK);
	assert_true(u == UINT64_MAX);
	assert_int_equal(json_get_u64(v, "zero", &u), ERR_OK);
	assert_int_equal(u, 0);
	assert_int_equal(json_get_u64(v, "over", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "neg", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "negzero", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "frac", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "exp", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "s", &u), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_u64(v, "missing", &u), ERR_NOT_FOUND);
	assert_int_equal(json_to_u64(json_get(v, "n"), &u), ERR_OK);
	assert_int_equal(json_to_u64(json_get(v, "t"), &u), ERR_PROTO_FIELD_TYPE);

	assert_int_equal(json_get_i64(v, "neg", &i), ERR_OK);
	assert_int_equal(i, -1);
	assert_int_equal(json_get_i64(v, "negzero", &i), ERR_OK);
	assert_int_equal(i, 0);
	assert_int_equal(json_get_i64(v, "imax", &i), ERR_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(json_get_i64(v, "imin", &i), ERR_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(json_get_i64(v, "iover", &i), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_i64(v, "iunder", &i), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_i64(v, "frac", &i), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_i64(v, "exp", &i), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_i64(v, "s", &i), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_i64(v, "missing", &i), ERR_NOT_FOUND);

	assert_int_equal(json_get_bool(v, "t", &b), ERR_OK);
	assert_int_equal(b, 1);
	assert_int_equal(json_get_bool(v, "f", &b), ERR_OK);
	assert_int_equal(b, 0);
	assert_int_equal(json_get_bool(v, "z", &b), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_bool(v, "n", &b), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_bool(v, "missing", &b), ERR_NOT_FOUND);
	assert_null(json_get(v, NULL));
	assert_null(json_get(NULL, "s"));
}

static void test_get_hex(void **state)
{
	const struct json_value *v;
	uint8_t out[8];
	size_t len = 0;

	(void)state;
	v = parse_ok("{\"a\":\"DeadBeef\",\"b\":\"0xdeadbeef\",\"c\":\"0Xab\",\"odd\":\"abc\",\"bad\":\"zz\","
		     "\"e\":\"\",\"n\":12,\"long\":\"000102030405060708\",\"x0\":\"0x\"}");
	assert_int_equal(json_get_hex(v, "a", out, sizeof(out), 4, &len), ERR_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(json_get_hex(v, "b", out, sizeof(out), 4, &len), ERR_OK);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(json_get_hex(v, "c", out, sizeof(out), 0, &len), ERR_OK);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(json_get_hex(v, "a", out, sizeof(out), 0, NULL), ERR_OK);
	/* Exact length when asked for. */
	assert_int_equal(json_get_hex(v, "a", out, sizeof(out), 3, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "a", out, sizeof(out), 5, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "odd", out, sizeof(out), 0, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "bad", out, sizeof(out), 0, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "long", out, sizeof(out), 0, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "e", out, sizeof(out), 0, &len), ERR_OK);
	assert_int_equal(len, 0);
	assert_int_equal(json_get_hex(v, "e", out, sizeof(out), 1, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "x0", out, sizeof(out), 0, &len), ERR_OK);
	assert_int_equal(len, 0);
	assert_int_equal(json_get_hex(v, "n", out, sizeof(out), 0, &len), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(json_get_hex(v, "missing", out, sizeof(out), 0, &len), ERR_NOT_FOUND);
}

static void put_expect(const char *in, size_t n, const char *want)
{
	struct buf_writer w;

	buf_writer_init(&w, 1 << 16);
	json_put_string(&w, in, n);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_string_equal(buf_cstr(&w), want);
	buf_writer_free(&w);
}

static void test_put_string(void **state)
{
	struct buf_writer w;
	struct json_value *v = NULL;
	char all[256];

	(void)state;
	put_expect("", 0, "\"\"");
	put_expect("plain", 5, "\"plain\"");
	put_expect("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
	put_expect("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	put_expect("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	put_expect("a\0b", 3, "\"a\\u0000b\"");
	put_expect("\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"");
	/* Invalid UTF-8 becomes U+FFFD per bad byte so the output stays valid JSON. */
	put_expect("a\xff" "b\xc3", 4, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");

	/* Every byte value round-trips through the parser (bytes >= 0x80 alone are replaced). */
	for (int i = 0; i < 128; i++)
		all[i] = (char)i;
	buf_writer_init(&w, 1 << 16);
	json_put_string(&w, all, 128);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(json_parse((const char *)w.p, w.len, NULL, &g_arena, &v, NULL), ERR_OK);
	assert_int_equal(v->type, JSON_STRING);
	assert_int_equal(v->u.str.len, 128);
	assert_memory_equal(v->u.str.s, all, 128);
	buf_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nesting_and_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoding_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_large_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accessors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_hex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_string, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
