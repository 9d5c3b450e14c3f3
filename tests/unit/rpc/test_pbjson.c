/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/rpc/pbjson: round trips, golden texts, lenient input, and one exact error per malformed input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dstack/test/v1/test.pb-c.h"
#include "pbjson.h"

typedef Dstack__Test__V1__AllTypes AllTypes;
typedef Dstack__Test__V1__Inner Inner;

#define ALL_DESC (&dstack__test__v1__all_types__descriptor)

static const struct pbjson_opts P3 = { .flavour = PBJSON_PROTO3 };
static const struct pbjson_opts DS = { .flavour = PBJSON_DSTACK };

/* One arena per test, reset between tests by the fixture. */
static struct arena g_arena;

static int setup(void **state)
{
	(void)state;
	arena_init(&g_arena, 16u << 20, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_fini(&g_arena);
	return 0;
}

static err_t dec_opts(const ProtobufCMessageDescriptor *d, const char *json, const struct pbjson_opts *o,
		      ProtobufCMessage **out)
{
	const char *detail = NULL;

	return pbjson_decode(d, json, strlen(json), o, &g_arena, out, &detail);
}

static AllTypes *dec_ok(const char *json, const struct pbjson_opts *o)
{
	ProtobufCMessage *m = NULL;
	const char *detail = NULL;
	err_t err = pbjson_decode(ALL_DESC, json, strlen(json), o, &g_arena, &m, &detail);

	if (err)
		fail_msg("decode of %s failed: %s (%s)", json, err_name(err), detail ? detail : "-");
	assert_non_null(m);
	assert_true(protobuf_c_message_check(m));
	return (AllTypes *)m;
}

static err_t dec_err(const char *json, const struct pbjson_opts *o)
{
	ProtobufCMessage *m = NULL;

	return dec_opts(ALL_DESC, json, o, &m);
}

/* The JSON text of m, copied into the arena so tests can compare it with assert_string_equal. */
static const char *enc(const void *m, const struct pbjson_opts *o)
{
	struct buf_writer w;
	const char *s;
	char *copy;

	buf_writer_init(&w, 1u << 20);
	assert_int_equal(pbjson_encode(m, o, &w), ERR_OK);
	s = buf_cstr(&w);
	assert_non_null(s);
	copy = arena_strdup(&g_arena, s);
	buf_writer_free(&w);
	assert_non_null(copy);
	return copy;
}

/* The protobuf wire form, for comparing two messages field by field. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = arena_alloc(&g_arena, n ? n : 1);

	assert_non_null(p);
	assert_int_equal(protobuf_c_message_pack(m, p), n);
	*len = n;
	return p;
}

static void assert_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t na, nb;
	uint8_t *pa = pack(a, &na), *pb = pack(b, &nb);

	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
}

/* ---- a fully populated message ------------------------------------------ */

static uint8_t g_bytes1[] = { 0x00, 0x01, 0xfe, 0xff, 'x' };
static uint8_t g_bytes2[] = { 0xde, 0xad };
static int32_t g_ri32[] = { 0, -1, INT32_MIN, INT32_MAX };
static int64_t g_ri64[] = { INT64_MIN, -1, 0, INT64_MAX };
static uint32_t g_ru32[] = { 0, 1, UINT32_MAX };
static uint64_t g_ru64[] = { 0, 9007199254740993ull, UINT64_MAX };
static float g_rf[] = { 0.1f, -1.5f, 3.4028235e38f, 1e-45f };
static double g_rd[] = { 0.1, -0.0, 1e300, 5e-324, 123456789.125 };
static protobuf_c_boolean g_rb[] = { 1, 0, 1 };
static char g_s1[] = "plain", g_s2[] = "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9 \xf0\x9f\x98\x80", g_s3[] = "";
static char *g_rs[] = { g_s1, g_s2, g_s3 };
static ProtobufCBinaryData g_rby[] = { { sizeof(g_bytes1), g_bytes1 }, { 0, NULL }, { sizeof(g_bytes2), g_bytes2 } };
static Dstack__Test__V1__Color g_rc[] = { DSTACK__TEST__V1__COLOR__COLOR_RED, DSTACK__TEST__V1__COLOR__COLOR_UNSPECIFIED,
					   (Dstack__Test__V1__Color)7 };

static void fill_full(AllTypes *m, Inner *in, Inner *child, Inner **rin, Inner *rin0, Inner *rin1,
		      Google__Protobuf__Empty *empty, Google__Protobuf__StringValue *ws,
		      Google__Protobuf__UInt64Value *wu64, Google__Protobuf__BoolValue *wb,
		      Google__Protobuf__BytesValue *wby, Google__Protobuf__DoubleValue *wd,
		      Google__Protobuf__FloatValue *wf, Google__Protobuf__Int64Value *wi64,
		      Google__Protobuf__Int32Value *wi32, Google__Protobuf__UInt32Value *wu32,
		      Google__Protobuf__StringValue **rws, Google__Protobuf__StringValue *rws0)
{
	static uint64_t ids[] = { 1, 2, UINT64_MAX };
	static char name[] = "inner", cname[] = "child", r0[] = "r0", r1[] = "r1", wsv[] = "wrapped";

	dstack__test__v1__all_types__init(m);
	m->f_int32 = -123;
	m->f_sint32 = INT32_MIN;
	m->f_sfixed32 = INT32_MAX;
	m->f_int64 = INT64_MIN;
	m->f_sint64 = -9007199254740993ll;
	m->f_sfixed64 = INT64_MAX;
	m->f_uint32 = UINT32_MAX;
	m->f_fixed32 = 42;
	m->f_uint64 = UINT64_MAX;
	m->f_fixed64 = 18446744073709551557ull;
	m->f_float = 3.14159274f;
	m->f_double = -2.718281828459045;
	m->f_bool = 1;
	m->f_string = g_s2;
	m->f_bytes.len = sizeof(g_bytes1);
	m->f_bytes.data = g_bytes1;
	m->f_color = DSTACK__TEST__V1__COLOR__COLOR_GREEN;

	dstack__test__v1__inner__init(in);
	dstack__test__v1__inner__init(child);
	in->name = name;
	in->value = 7;
	in->n_ids = ARRAY_LEN(ids);
	in->ids = ids;
	in->child = child;
	child->name = cname;
	m->f_inner = in;

	m->n_r_int32 = m->n_r_sint32 = m->n_r_sfixed32 = ARRAY_LEN(g_ri32);
	m->r_int32 = m->r_sint32 = m->r_sfixed32 = g_ri32;
	m->n_r_int64 = m->n_r_sint64 = m->n_r_sfixed64 = ARRAY_LEN(g_ri64);
	m->r_int64 = m->r_sint64 = m->r_sfixed64 = g_ri64;
	m->n_r_uint32 = m->n_r_fixed32 = ARRAY_LEN(g_ru32);
	m->r_uint32 = m->r_fixed32 = g_ru32;
	m->n_r_uint64 = m->n_r_fixed64 = ARRAY_LEN(g_ru64);
	m->r_uint64 = m->r_fixed64 = g_ru64;
	m->n_r_float = ARRAY_LEN(g_rf);
	m->r_float = g_rf;
	m->n_r_double = ARRAY_LEN(g_rd);
	m->r_double = g_rd;
	m->n_r_bool = ARRAY_LEN(g_rb);
	m->r_bool = g_rb;
	m->n_r_string = ARRAY_LEN(g_rs);
	m->r_string = g_rs;
	m->n_r_bytes = ARRAY_LEN(g_rby);
	m->r_bytes = g_rby;
	m->n_r_color = ARRAY_LEN(g_rc);
	m->r_color = g_rc;
	dstack__test__v1__inner__init(rin0);
	dstack__test__v1__inner__init(rin1);
	rin0->name = r0;
	rin1->name = r1;
	rin1->value = -1;
	rin[0] = rin0;
	rin[1] = rin1;
	m->n_r_inner = 2;
	m->r_inner = rin;

	m->choice_case = DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_NUMBER;
	m->c_number = -5;

	google__protobuf__empty__init(empty);
	m->w_empty = empty;
	google__protobuf__string_value__init(ws);
	ws->value = wsv;
	m->w_string = ws;
	google__protobuf__uint64_value__init(wu64);
	wu64->value = UINT64_MAX;
	m->w_uint64 = wu64;
	google__protobuf__bool_value__init(wb);   /* false: a present wrapper at its default */
	m->w_bool = wb;
	google__protobuf__bytes_value__init(wby);
	wby->value.len = sizeof(g_bytes2);
	wby->value.data = g_bytes2;
	m->w_bytes = wby;
	google__protobuf__double_value__init(wd);
	wd->value = 0.5;
	m->w_double = wd;
	google__protobuf__float_value__init(wf);
	wf->value = -0.25f;
	m->w_float = wf;
	google__protobuf__int64_value__init(wi64);
	wi64->value = -1;
	m->w_int64 = wi64;
	google__protobuf__int32_value__init(wi32);
	wi32->value = INT32_MIN;
	m->w_int32 = wi32;
	google__protobuf__uint32_value__init(wu32);
	wu32->value = 9;
	m->w_uint32 = wu32;
	google__protobuf__string_value__init(rws0);
	rws0->value = r0;
	rws[0] = rws0;
	m->n_rw_string = 1;
	m->rw_string = rws;
}

static void roundtrip_full(const struct pbjson_opts *o)
{
	AllTypes m;
	Inner in, child, rin0, rin1, *rin[2];
	Google__Protobuf__Empty empty;
	Google__Protobuf__StringValue ws, rws0, *rws[1];
	Google__Protobuf__UInt64Value wu64;
	Google__Protobuf__BoolValue wb;
	Google__Protobuf__BytesValue wby;
	Google__Protobuf__DoubleValue wd;
	Google__Protobuf__FloatValue wf;
	Google__Protobuf__Int64Value wi64;
	Google__Protobuf__Int32Value wi32;
	Google__Protobuf__UInt32Value wu32;
	const char *j1, *j2;
	AllTypes *back;

	fill_full(&m, &in, &child, rin, &rin0, &rin1, &empty, &ws, &wu64, &wb, &wby, &wd, &wf, &wi64, &wi32, &wu32,
		  rws, &rws0);
	j1 = enc(&m, o);
	back = dec_ok(j1, o);
	assert_same_message(&m.base, &back->base);
	j2 = enc(back, o);
	assert_string_equal(j1, j2);
	/* Spot checks of what the generic comparison cannot name. */
	assert_int_equal(back->choice_case, DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_NUMBER);
	assert_true(signbit(back->r_double[1]));
	assert_int_equal(back->r_color[2], 7);
	assert_non_null(back->w_bool);
	assert_false(back->w_bool->value);
	assert_non_null(back->w_empty);
	assert_string_equal(back->f_string, g_s2);
	assert_int_equal(back->r_bytes[1].len, 0);
}

static void test_roundtrip_full_proto3(void **state)
{
	(void)state;
	roundtrip_full(&P3);
}

static void test_roundtrip_full_dstack(void **state)
{
	(void)state;
	roundtrip_full(&DS);
}

static void test_roundtrip_full_emit_defaults(void **state)
{
	struct pbjson_opts o = { .flavour = PBJSON_PROTO3, .emit_defaults = 1 };

	(void)state;
	roundtrip_full(&o);
}

/* Each oneof member, including one at its default value, survives both flavours. */
static void test_roundtrip_oneof(void **state)
{
	static char text[] = "";
	const struct pbjson_opts *flavours[] = { &P3, &DS };
	AllTypes m;
	Inner in;

	(void)state;
	for (size_t f = 0; f < ARRAY_LEN(flavours); f++) {
		for (int which = 0; which < 3; which++) {
			AllTypes *back;
			dstack__test__v1__all_types__init(&m);
			dstack__test__v1__inner__init(&in);
			if (which == 0) {
				m.choice_case = DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_TEXT;
				m.c_text = text;
			} else if (which == 1) {
				m.choice_case = DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_NUMBER;
				m.c_number = 0;
			} else {
				m.choice_case = DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_INNER;
				m.c_inner = &in;
			}
			back = dec_ok(enc(&m, flavours[f]), flavours[f]);
			assert_int_equal(back->choice_case, m.choice_case);
			assert_same_message(&m.base, &back->base);
		}
	}
}

/* Every scalar type at the edges of its range, one field at a time. */
static void test_roundtrip_scalar_edges(void **state)
{
	static const char *const p3[] = {
		"{\"fInt32\":-2147483648}", "{\"fInt32\":2147483647}", "{\"fSint32\":-2147483648}",
		"{\"fSfixed32\":-1}", "{\"fInt64\":\"-9223372036854775808\"}", "{\"fSint64\":\"9223372036854775807\"}",
		"{\"fSfixed64\":\"-1\"}", "{\"fUint32\":4294967295}", "{\"fFixed32\":1}",
		"{\"fUint64\":\"18446744073709551615\"}", "{\"fFixed64\":\"1\"}", "{\"fFloat\":3.4028235e+38}",
		"{\"fFloat\":1e-45}", "{\"fFloat\":\"NaN\"}", "{\"fFloat\":\"-Infinity\"}", "{\"fDouble\":5e-324}",
		"{\"fDouble\":1.7976931348623157e+308}", "{\"fDouble\":\"Infinity\"}", "{\"fDouble\":-0}",
		"{\"fDouble\":0.1}", "{\"fBool\":true}", "{\"fString\":\"\\u0001\\\"\"}", "{\"fBytes\":\"AA==\"}",
		"{\"fColor\":\"COLOR_RED\"}", "{\"fColor\":-3}", "{\"fInner\":{}}", "{\"wEmpty\":{}}",
		"{\"wString\":\"\"}", "{\"wUint64\":\"0\"}", "{\"wBool\":false}", "{\"wBytes\":\"\"}",
	};
	static const char *const ds[] = {
		"{\"f_int64\":-9223372036854775808}", "{\"f_uint64\":18446744073709551615}", "{\"f_bytes\":\"00ff\"}",
		"{\"f_color\":5}", "{\"f_float\":\"NaN\"}", "{\"w_uint64\":18446744073709551615}",
		"{\"w_bytes\":\"\"}", "{\"c_number\":0}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(p3); i++)
		assert_string_equal(enc(dec_ok(p3[i], &P3), &P3), p3[i]);
	for (size_t i = 0; i < ARRAY_LEN(ds); i++) {
		AllTypes *m = dec_ok(ds[i], &DS);
		const char *once = enc(m, &DS);
		assert_string_equal(enc(dec_ok(once, &DS), &DS), once);
		/* The field we gave appears verbatim inside the full dstack output. */
		char needle[128];
		size_t n = strlen(ds[i]);
		assert_true(n - 2 < sizeof(needle));
		memcpy(needle, ds[i] + 1, n - 2);
		needle[n - 2] = 0;
		assert_non_null(strstr(once, needle));
	}
}

/* ---- golden outputs ----------------------------------------------------- */

static void test_golden_inner(void **state)
{
	static uint64_t ids[] = { 1, UINT64_MAX };
	static char name[] = "x";
	Inner in;
	struct pbjson_opts defaults = { .flavour = PBJSON_PROTO3, .emit_defaults = 1 };

	(void)state;
	dstack__test__v1__inner__init(&in);
	in.name = name;
	in.value = -3;
	in.n_ids = 2;
	in.ids = ids;
	assert_string_equal(enc(&in, &P3), "{\"name\":\"x\",\"value\":-3,\"ids\":[\"1\",\"18446744073709551615\"]}");
	assert_string_equal(enc(&in, &DS),
			    "{\"name\":\"x\",\"value\":-3,\"ids\":[1,18446744073709551615],\"child\":null}");
	dstack__test__v1__inner__init(&in);
	assert_string_equal(enc(&in, &P3), "{}");
	assert_string_equal(enc(&in, &defaults), "{\"name\":\"\",\"value\":0,\"ids\":[]}");
	assert_string_equal(enc(&in, &DS), "{\"name\":\"\",\"value\":0,\"ids\":[],\"child\":null}");
}

static void test_golden_echo(void **state)
{
	static uint8_t data[] = { 0x00, 0xff, 0x10 };
	static char text[] = "hi\n\"there\"\x7f";
	Dstack__Test__V1__EchoRequest r;

	(void)state;
	dstack__test__v1__echo_request__init(&r);
	r.text = text;
	r.data.len = sizeof(data);
	r.data.data = data;
	r.sleep_ms = 5;
	assert_string_equal(enc(&r, &P3), "{\"text\":\"hi\\n\\\"there\\\"\x7f\",\"data\":\"AP8Q\",\"sleepMs\":5}");
	assert_string_equal(enc(&r, &DS), "{\"text\":\"hi\\n\\\"there\\\"\x7f\",\"data\":\"00ff10\",\"sleep_ms\":5}");
}

static void test_golden_alltypes_default(void **state)
{
	AllTypes m;

	(void)state;
	dstack__test__v1__all_types__init(&m);
	assert_string_equal(enc(&m, &P3), "{}");
	/* dstack writes every field; absent messages and wrappers are null; the unset oneof is left out. */
	assert_string_equal(enc(&m, &DS),
			    "{\"f_int32\":0,\"f_sint32\":0,\"f_sfixed32\":0,\"f_int64\":0,\"f_sint64\":0,"
			    "\"f_sfixed64\":0,\"f_uint32\":0,\"f_fixed32\":0,\"f_uint64\":0,\"f_fixed64\":0,"
			    "\"f_float\":0,\"f_double\":0,\"f_bool\":false,\"f_string\":\"\",\"f_bytes\":\"\","
			    "\"f_color\":0,\"f_inner\":null,\"r_int32\":[],\"r_sint32\":[],\"r_sfixed32\":[],"
			    "\"r_int64\":[],\"r_sint64\":[],\"r_sfixed64\":[],\"r_uint32\":[],\"r_fixed32\":[],"
			    "\"r_uint64\":[],\"r_fixed64\":[],\"r_float\":[],\"r_double\":[],\"r_bool\":[],"
			    "\"r_string\":[],\"r_bytes\":[],\"r_color\":[],\"r_inner\":[],\"w_empty\":null,"
			    "\"w_string\":null,\"w_uint64\":null,\"w_bool\":null,\"w_bytes\":null,\"w_double\":null,"
			    "\"w_float\":null,\"w_int64\":null,\"w_int32\":null,\"w_uint32\":null,\"rw_string\":[]}");
}

static void test_golden_alltypes_values(void **state)
{
	static float rf[] = { 0.1f, 1e20f };
	static Dstack__Test__V1__Color rc[] = { DSTACK__TEST__V1__COLOR__COLOR_GREEN, (Dstack__Test__V1__Color)9 };
	static uint8_t b[] = { 0xfb, 0xff };
	AllTypes m;
	Google__Protobuf__Empty e;
	Google__Protobuf__BoolValue wb;

	(void)state;
	dstack__test__v1__all_types__init(&m);
	google__protobuf__empty__init(&e);
	google__protobuf__bool_value__init(&wb);
	m.f_int64 = -1;
	m.f_double = 1e300;
	m.f_float = NAN;
	m.f_bytes.len = sizeof(b);
	m.f_bytes.data = b;
	m.f_color = DSTACK__TEST__V1__COLOR__COLOR_RED;
	m.n_r_float = 2;
	m.r_float = rf;
	m.n_r_color = 2;
	m.r_color = rc;
	m.choice_case = DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_NUMBER;
	m.w_empty = &e;
	m.w_bool = &wb;
	assert_string_equal(enc(&m, &P3),
			    "{\"fInt64\":\"-1\",\"fFloat\":\"NaN\",\"fDouble\":1e+300,\"fBytes\":\"+/8=\","
			    "\"fColor\":\"COLOR_RED\",\"rFloat\":[0.1,100000000000000000000],\"rColor\":[\"COLOR_GREEN\",9],"
			    "\"cNumber\":\"0\",\"wEmpty\":{},\"wBool\":false}");
}

/* ---- lenient input ------------------------------------------------------ */

static void test_accept_names(void **state)
{
	AllTypes *m;

	(void)state;
	m = dec_ok("{\"fInt32\":1,\"f_sint32\":2,\"rInt64\":[3],\"r_uint64\":[4],\"cText\":\"t\"}", &P3);
	assert_int_equal(m->f_int32, 1);
	assert_int_equal(m->f_sint32, 2);
	assert_int_equal(m->r_int64[0], 3);
	assert_int_equal(m->r_uint64[0], 4);
	assert_string_equal(m->c_text, "t");
	m = dec_ok("{\"f_int32\":1,\"fSint32\":2,\"c_text\":\"t\"}", &DS);
	assert_int_equal(m->f_int32, 1);
	assert_int_equal(m->f_sint32, 2);
	assert_int_equal(m->choice_case, DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_TEXT);
	/* A key that differs only in case is not the field. */
	assert_int_equal(dec_err("{\"FInt32\":1}", &P3), ERR_PROTO_UNKNOWN_FIELD);
	/* An escaped key names the field like its plain spelling. */
	m = dec_ok("{\"f\\u005fint32\":5}", &P3);
	assert_int_equal(m->f_int32, 5);
}

static void test_accept_numbers(void **state)
{
	AllTypes *m;

	(void)state;
	m = dec_ok("{\"fInt64\":\"-9223372036854775808\",\"fUint64\":18446744073709551615,\"fInt32\":\"-7\","
		   "\"fSint64\":1e18,\"fUint32\":4.2e1,\"fFixed32\":100.000,\"fSfixed32\":-0,\"fFixed64\":\"1E2\","
		   "\"fDouble\":\"2.5\",\"fFloat\":-1.5e-3,\"fSfixed64\":-0.0e5}",
		   &P3);
	assert_true(m->f_int64 == INT64_MIN);
	assert_true(m->f_uint64 == UINT64_MAX);
	assert_int_equal(m->f_int32, -7);
	assert_true(m->f_sint64 == 1000000000000000000ll);
	assert_int_equal(m->f_uint32, 42);
	assert_int_equal(m->f_fixed32, 100);
	assert_int_equal(m->f_sfixed32, 0);
	assert_true(m->f_fixed64 == 100);
	assert_true(m->f_double == 2.5);
	assert_true(m->f_float == -1.5e-3f);
	assert_true(m->f_sfixed64 == 0);
	/* dstack: 64-bit values as plain JSON numbers, exactly. */
	m = dec_ok("{\"f_int64\":-9007199254740993,\"f_uint64\":9007199254740993}", &DS);
	assert_true(m->f_int64 == -9007199254740993ll);
	assert_true(m->f_uint64 == 9007199254740993ull);
	/* Tiny doubles underflow to zero rather than fail. */
	m = dec_ok("{\"fDouble\":1e-400}", &P3);
	assert_true(m->f_double == 0);
}

static void test_accept_bytes(void **state)
{
	static const char *const forms[] = {
		"{\"fBytes\":\"+/8=\"}", "{\"fBytes\":\"-_8=\"}", "{\"fBytes\":\"+/8\"}", "{\"fBytes\":\"-_8\"}",
		"{\"fBytes\":\"\\u002b\\/8=\"}",
	};
	static const char *const hex[] = {
		"{\"f_bytes\":\"fbff\"}", "{\"f_bytes\":\"0xfbff\"}", "{\"f_bytes\":\"FBFF\"}", "{\"f_bytes\":\"0XFbfF\"}",
	};
	static const uint8_t want[] = { 0xfb, 0xff };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		AllTypes *m = dec_ok(forms[i], &P3);
		assert_int_equal(m->f_bytes.len, 2);
		assert_memory_equal(m->f_bytes.data, want, 2);
	}
	for (size_t i = 0; i < ARRAY_LEN(hex); i++) {
		AllTypes *m = dec_ok(hex[i], &DS);
		assert_int_equal(m->f_bytes.len, 2);
		assert_memory_equal(m->f_bytes.data, want, 2);
	}
	/* dstack is hex only: base64 that is not also hex fails. */
	assert_int_equal(dec_err("{\"f_bytes\":\"+/8=\"}", &DS), ERR_PROTO_ENCODING);
	assert_int_equal(dec_err("{\"f_bytes\":\"abc\"}", &DS), ERR_PROTO_ENCODING);
}

static void test_accept_enum_and_null(void **state)
{
	AllTypes *m;

	(void)state;
	m = dec_ok("{\"fColor\":5,\"rColor\":[\"COLOR_RED\",1,99],\"f_uint32\":null}", &P3);
	assert_int_equal(m->f_color, DSTACK__TEST__V1__COLOR__COLOR_GREEN);
	assert_int_equal(m->n_r_color, 3);
	assert_int_equal(m->r_color[2], 99);
	/* null leaves every kind of field at its default / absent. */
	m = dec_ok("{\"fInt32\":null,\"fString\":null,\"fBytes\":null,\"fInner\":null,\"rInt32\":null,"
		   "\"wString\":null,\"wEmpty\":null,\"cText\":null,\"cNumber\":3,\"fColor\":null,\"fFloat\":null}",
		   &P3);
	assert_int_equal(m->f_int32, 0);
	assert_string_equal(m->f_string, "");
	assert_null(m->f_inner);
	assert_int_equal(m->n_r_int32, 0);
	assert_null(m->w_string);
	assert_null(m->w_empty);
	assert_int_equal(m->choice_case, DSTACK__TEST__V1__ALL_TYPES__CHOICE_C_NUMBER);
	assert_true(m->c_number == 3);
	assert_string_equal(enc(m, &P3), "{\"cNumber\":\"3\"}");
}

static void test_accept_strings(void **state)
{
	AllTypes *m;

	(void)state;
	m = dec_ok(" \t\r\n{ \"fString\" : \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\xc3\xa9\" ,"
		   "\"rString\":[\"\",\"x\"] } \n",
		   &P3);
	assert_string_equal(m->f_string, "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9");
	assert_int_equal(m->n_r_string, 2);
	assert_string_equal(m->r_string[0], "");
}

static void test_accept_unknown(void **state)
{
	static const char *const j =
		"{\"nope\":{\"a\":[1,{\"b\":null},\"\\u00e9\",-1.5e3,true,false]},\"fInt32\":1,\"zz\":[],\"yy\":\"s\"}";
	struct pbjson_opts ign = { .flavour = PBJSON_PROTO3, .ignore_unknown = 1 };
	ProtobufCMessage *m = NULL;
	const char *detail = NULL;

	(void)state;
	assert_int_equal(pbjson_decode(ALL_DESC, j, strlen(j), &P3, &g_arena, &m, &detail), ERR_PROTO_UNKNOWN_FIELD);
	assert_null(m);
	assert_non_null(detail);
	assert_non_null(strstr(detail, "nope"));
	assert_int_equal(((AllTypes *)dec_ok(j, &ign))->f_int32, 1);
	assert_int_equal(((AllTypes *)dec_ok(j, &DS))->f_int32, 1);
	/* Skipped values are still syntax-checked. */
	assert_int_equal(dec_err("{\"nope\":[1,]}", &ign), ERR_PROTO_JSON);
	assert_int_equal(dec_err("{\"nope\":\"\\x\"}", &DS), ERR_PROTO_JSON);
	assert_int_equal(dec_err("{\"nope\":{\"a\" 1}}", &DS), ERR_PROTO_JSON);
	assert_int_equal(dec_err("{\"nope\":\"\xff\"}", &DS), ERR_PROTO_ENCODING);
}

/* ---- rejections, each with its exact code ------------------------------- */

static void test_reject_syntax(void **state)
{
	static const char *const bad[] = {
		"",                            /* empty */
		"   ",                         /* whitespace only */
		"{\"fInt32\":1,}",            /* trailing comma in object */
		"{\"rInt32\":[1,2,]}",        /* trailing comma in array */
		"{,}",                         /* lone comma */
		"{\"fInt32\":01}",            /* leading zero */
		"{\"fInt32\":-01}",           /* leading zero after minus */
		"{\"fDouble\":1.}",           /* fraction without digits */
		"{\"fDouble\":.5}",           /* no integer part */
		"{\"fDouble\":+1}",           /* plus sign */
		"{\"fDouble\":1e}",           /* exponent without digits */
		"{\"fDouble\":NaN}",          /* NaN literal */
		"{\"fDouble\":Infinity}",     /* Infinity literal */
		"{\"fDouble\":-}",            /* minus alone */
		"{\"fString\":\"abc}",        /* unterminated string */
		"{\"fString\":\"abc\\",       /* unterminated escape */
		"{\"fString\":\"a\\qb\"}",    /* bad escape */
		"{\"fString\":\"\\u12G4\"}",  /* bad hex in \u */
		"{\"fString\":\"\\u12\"}",    /* short \u */
		"{\"fString\":\"a\tb\"}",     /* raw control character */
		"{\"fString\":\"a\nb\"}",     /* raw newline */
		"{\"fInt32\":1}x",            /* trailing garbage */
		"{\"fInt32\":1}{}",           /* second value */
		"[]",                          /* top-level array */
		"\"s\"",                       /* top-level string */
		"1",                           /* top-level number */
		"null",                        /* top-level null */
		"{\"fInt32\" 1}",             /* missing colon */
		"{\"fInt32\":1 \"fUint32\":2}", /* missing comma */
		"{fInt32:1}",                  /* unquoted key */
		"{'fInt32':1}",                /* single quotes */
		"{\"fBool\":tru}",            /* bad literal */
		"{\"fBool\":True}",           /* case of literal */
		"{\"fInt32\":1 /* c */}",     /* comment */
		"{\"fInt32\":1",              /* unterminated object */
		"{\"rInt32\":[1",             /* unterminated array */
		"{\"fInt32\":1,\"fInt32\":2}", /* duplicate key */
		"{\"fInt32\":1,\"f_int32\":2}", /* duplicate via the other spelling */
		"{\"fInt32\":null,\"fInt32\":2}", /* duplicate even when the first was null */
		"{\"cText\":\"a\",\"cNumber\":1}", /* two oneof members */
		"\xef\xbb\xbf{}",              /* byte-order mark */
		"{\"fInt32\":1}\x00",         /* NUL after the object (length includes it below) */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		ProtobufCMessage *m = NULL;
		size_t len = strlen(bad[i]) + (i == ARRAY_LEN(bad) - 1);
		err_t err = pbjson_decode(ALL_DESC, bad[i], len, &P3, &g_arena, &m, NULL);
		if (err != ERR_PROTO_JSON)
			fail_msg("input %zu (%s): got %s", i, bad[i], err_name(err));
		assert_null(m);
	}
}

static void test_reject_encoding(void **state)
{
	static const char *const bad[] = {
		"{\"fString\":\"\\ud800\"}",           /* lone high surrogate */
		"{\"fString\":\"\\udc00\"}",           /* lone low surrogate */
		"{\"fString\":\"\\ud800\\u0041\"}",    /* high surrogate then non-surrogate */
		"{\"fString\":\"\\ud800x\"}",          /* high surrogate then text */
		"{\"fString\":\"\xff\"}",              /* invalid UTF-8 byte */
		"{\"fString\":\"\xc0\xaf\"}",          /* overlong */
		"{\"fString\":\"\xed\xa0\x80\"}",      /* UTF-8 encoded surrogate */
		"{\"fString\":\"\xf4\x90\x80\x80\"}",  /* past U+10FFFF */
		"{\"fString\":\"\xe2\x82\"}",          /* truncated sequence */
		"{\"f\xff\":1}",                       /* invalid UTF-8 in a key */
		"{\"fString\":\"a\\u0000b\"}",         /* NUL would truncate a C string */
		"{\"fBytes\":\"AB*=\"}",               /* bad base64 character */
		"{\"fBytes\":\"A\"}",                  /* bad base64 length */
		"{\"fBytes\":\"AB=C\"}",               /* misplaced padding */
		"{\"fBytes\":\"AB==\"}",               /* non-zero trailing bits */
		"{\"rBytes\":[\"AA==\",\"%%\"]}",      /* bad element */
		"{\"wBytes\":\"!\"}",                  /* bad wrapper bytes */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_t err = dec_err(bad[i], &P3);
		if (err != ERR_PROTO_ENCODING)
			fail_msg("input %zu: got %s", i, err_name(err));
	}
	assert_int_equal(dec_err("{\"f_bytes\":\"0xzz\"}", &DS), ERR_PROTO_ENCODING);
	assert_int_equal(dec_err("{\"f_bytes\":\"0x0\"}", &DS), ERR_PROTO_ENCODING);
}

static void test_reject_field_type(void **state)
{
	static const char *const bad[] = {
		"{\"fInt32\":2147483648}", "{\"fInt32\":-2147483649}", "{\"fSint32\":\"2147483648\"}",
		"{\"fUint32\":-1}", "{\"fUint32\":4294967296}", "{\"fFixed32\":\"-1\"}",
		"{\"fUint64\":18446744073709551616}", "{\"fUint64\":\"18446744073709551616\"}", "{\"fUint64\":-1}",
		"{\"fInt64\":9223372036854775808}", "{\"fInt64\":\"-9223372036854775809\"}", "{\"fInt64\":1e19}",
		"{\"fInt32\":1.5}", "{\"fInt32\":1e-1}", "{\"fInt32\":\"1.5\"}", "{\"fInt32\":\"\"}",
		"{\"fInt32\":\" 1\"}", "{\"fInt32\":\"0x10\"}", "{\"fInt32\":\"NaN\"}", "{\"fInt32\":true}",
		"{\"fInt32\":{}}", "{\"fInt32\":[1]}", "{\"fInt64\":1e400}", "{\"fUint64\":1e99999999999999}",
		"{\"fFloat\":1e39}", "{\"fDouble\":1e309}", "{\"fDouble\":\"nan\"}", "{\"fDouble\":\"inf\"}",
		"{\"fDouble\":\"1 \"}", "{\"fDouble\":true}", "{\"fBool\":1}", "{\"fBool\":\"true\"}",
		"{\"fString\":1}", "{\"fString\":[\"a\"]}", "{\"fBytes\":1}", "{\"fColor\":\"COLOR_BLUE\"}",
		"{\"fColor\":\"color_red\"}", "{\"fColor\":1.5}", "{\"fColor\":2147483648}", "{\"fColor\":true}",
		"{\"fInner\":1}", "{\"fInner\":[]}", "{\"fInner\":\"x\"}", "{\"rInt32\":1}", "{\"rInt32\":{}}",
		"{\"rInt32\":[null]}", "{\"rInner\":[null]}", "{\"rString\":[1]}", "{\"wString\":1}",
		"{\"wUint64\":-1}", "{\"wBool\":\"x\"}", "{\"wEmpty\":[]}", "{\"wEmpty\":1}", "{\"rwString\":[null]}",
		"{\"wInt32\":{\"value\":1}}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_t err = dec_err(bad[i], &P3);
		if (err != ERR_PROTO_FIELD_TYPE)
			fail_msg("input %zu (%s): got %s", i, bad[i], err_name(err));
	}
	/* A syntax error inside a value of the wrong type is reported as syntax. */
	assert_int_equal(dec_err("{\"fInt32\":[1,]}", &P3), ERR_PROTO_JSON);
	assert_int_equal(dec_err("{\"fInt32\":tru}", &P3), ERR_PROTO_JSON);
	assert_int_equal(dec_err("{\"fInt32\":x}", &P3), ERR_PROTO_JSON);
}

static void test_reject_unknown_nested(void **state)
{
	(void)state;
	assert_int_equal(dec_err("{\"fInner\":{\"nope\":1}}", &P3), ERR_PROTO_UNKNOWN_FIELD);
	assert_int_equal(dec_err("{\"wEmpty\":{\"x\":1}}", &P3), ERR_PROTO_UNKNOWN_FIELD);
	assert_non_null(dec_ok("{\"wEmpty\":{\"x\":1}}", &DS)->w_empty);
}

static char *nested(const char *open, const char *mid, const char *close, unsigned n)
{
	size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
	char *s = arena_alloc(&g_arena, n * (lo + lc) + lm + 1), *q = s;

	assert_non_null(s);
	for (unsigned i = 0; i < n; i++, q += lo)
		memcpy(q, open, lo);
	memcpy(q, mid, lm);
	q += lm;
	for (unsigned i = 0; i < n; i++, q += lc)
		memcpy(q, close, lc);
	*q = 0;
	return s;
}

static void test_depth(void **state)
{
	struct pbjson_opts deep = { .flavour = PBJSON_PROTO3, .max_depth = 100 };
	struct pbjson_opts two = { .flavour = PBJSON_PROTO3, .max_depth = 2 };
	ProtobufCMessage *m = NULL;
	char *j31, *j32;

	(void)state;
	/* Top object + 30 "child" objects + the innermost = 32 levels: the default limit exactly. */
	j31 = nested("{\"child\":", "{}", "}", 31);
	j32 = nested("{\"child\":", "{}", "}", 32);
	assert_int_equal(dec_opts(&dstack__test__v1__inner__descriptor, j31, &P3, &m), ERR_OK);
	assert_int_equal(dec_opts(&dstack__test__v1__inner__descriptor, j32, &P3, &m), ERR_PROTO_DEPTH);
	assert_int_equal(dec_opts(&dstack__test__v1__inner__descriptor, j32, &deep, &m), ERR_OK);
	/* Encoding respects the same limit. */
	{
		struct buf_writer w;
		buf_writer_init(&w, 1u << 20);
		assert_int_equal(pbjson_encode(m, &P3, &w), ERR_PROTO_DEPTH);
		buf_writer_clear(&w);
		assert_int_equal(pbjson_encode(m, &deep, &w), ERR_OK);
		buf_writer_free(&w);
	}
	/* Arrays count, and so do skipped unknown values. */
	assert_int_equal(dec_err("{\"rInt32\":[1]}", &two), ERR_OK);
	assert_int_equal(dec_err("{\"fInner\":{\"ids\":[1]}}", &two), ERR_PROTO_DEPTH);
	assert_int_equal(dec_err(nested("{\"nope\":", "1", "}", 40), &DS), ERR_PROTO_DEPTH);
	assert_int_equal(dec_err(nested("[", "", "]", 100000), &P3), ERR_PROTO_JSON);
	assert_int_equal(dec_err(nested("{\"x\":[", "", "]}", 100000), &DS), ERR_PROTO_DEPTH);
}

static void test_budget(void **state)
{
	static const char j[] = "{\"fString\":\"0123456789012345678901234567890123456789\","
				"\"rInt64\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}";
	struct arena small;
	ProtobufCMessage *m = NULL;
	const char *detail = NULL;
	err_t err = ERR_OK;
	size_t budget;

	(void)state;
	/* Find the budget that just works, then check one byte less fails with ERR_BUDGET. */
	for (budget = 64; budget < 65536; budget += 16) {
		arena_init(&small, budget, 256);
		err = pbjson_decode(ALL_DESC, j, sizeof(j) - 1, &P3, &small, &m, &detail);
		arena_fini(&small);
		if (err == ERR_OK)
			break;
		assert_int_equal(err, ERR_BUDGET);
		assert_null(m);
	}
	assert_int_equal(err, ERR_OK);
	arena_init(&small, budget - 16, 256);
	assert_int_equal(pbjson_decode(ALL_DESC, j, sizeof(j) - 1, &P3, &small, &m, &detail), ERR_BUDGET);
	arena_fini(&small);
}

static void test_detail_no_values(void **state)
{
	ProtobufCMessage *m = NULL;
	const char *detail = NULL;
	static const char j1[] = "{\"fBytes\":\"s3cr3t!!\"}";
	static const char j2[] = "{\"f_uint32\":99999999999}";
	static const char j3[] = "{\"fString\":\"\\ud800hush\"}";
	static const char j4[] = "{\"sekrit value with spaces\":1}";

	(void)state;
	assert_int_equal(pbjson_decode(ALL_DESC, j1, sizeof(j1) - 1, &P3, &g_arena, &m, &detail), ERR_PROTO_ENCODING);
	assert_non_null(strstr(detail, "fBytes"));
	assert_null(strstr(detail, "s3cr3t"));
	assert_int_equal(pbjson_decode(ALL_DESC, j2, sizeof(j2) - 1, &DS, &g_arena, &m, &detail), ERR_PROTO_FIELD_TYPE);
	assert_non_null(strstr(detail, "f_uint32"));
	assert_null(strstr(detail, "9999"));
	assert_int_equal(pbjson_decode(ALL_DESC, j3, sizeof(j3) - 1, &P3, &g_arena, &m, &detail), ERR_PROTO_ENCODING);
	assert_null(strstr(detail, "hush"));
	assert_non_null(strstr(detail, "offset"));
	assert_int_equal(pbjson_decode(ALL_DESC, j4, sizeof(j4) - 1, &P3, &g_arena, &m, &detail),
			 ERR_PROTO_UNKNOWN_FIELD);
	assert_null(strstr(detail, "sekrit"));
	/* NULL detail and NULL opts are allowed. */
	assert_int_equal(pbjson_decode(ALL_DESC, "{}", 2, NULL, &g_arena, &m, NULL), ERR_OK);
	assert_int_equal(pbjson_decode(ALL_DESC, NULL, 0, NULL, &g_arena, &m, NULL), ERR_PROTO_JSON);
	assert_int_equal(pbjson_decode(ALL_DESC, "{}", 2, NULL, NULL, &m, NULL), ERR_INVALID_ARG);
}

/* Decoded messages are ordinary protobuf-c messages: they pack, check, and unpack to the same thing. */
static void test_pack_after_decode(void **state)
{
	static const char j[] =
		"{\"fInt32\":-1,\"fString\":\"\\u00e9\",\"fBytes\":\"AQID\",\"fInner\":{\"name\":\"n\",\"ids\":[\"5\"],"
		"\"child\":{}},\"rString\":[\"a\",\"b\"],\"rBytes\":[\"\",\"AA==\"],\"rInner\":[{},{\"value\":2}],"
		"\"cInner\":{\"value\":3},\"wString\":\"w\",\"wBytes\":\"\",\"rwString\":[\"x\",\"\"],\"rBool\":[true],"
		"\"rDouble\":[\"NaN\",1.5],\"rColor\":[\"COLOR_GREEN\"]}";
	AllTypes *m = dec_ok(j, &P3), *u;
	size_t n;
	uint8_t *p = pack(&m->base, &n);

	(void)state;
	assert_true(protobuf_c_message_check(&m->base));
	u = (AllTypes *)protobuf_c_message_unpack(ALL_DESC, NULL, n, p);
	assert_non_null(u);
	assert_string_equal(enc(u, &P3), enc(m, &P3));
	assert_string_equal(enc(u, &DS), enc(m, &DS));
	protobuf_c_message_free_unpacked(&u->base, NULL);
}

static void test_put_string(void **state)
{
	struct buf_writer w;
	static const char in[] = "a\"\\\n\r\t\b\f\x01\x1f\x7f\xc3\xa9\xff\xc3(\xe2\x82\xac\xf0\x9f\x98";

	(void)state;
	buf_writer_init(&w, 1024);
	pbjson_put_string(&w, in, sizeof(in) - 1);
	assert_string_equal(buf_cstr(&w), "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd("
					  "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	buf_writer_clear(&w);
	pbjson_put_string(&w, "", 0);
	assert_string_equal(buf_cstr(&w), "\"\"");
	buf_writer_clear(&w);
	pbjson_put_string(&w, "a\0b", 3);
	assert_string_equal(buf_cstr(&w), "\"a\\u0000b\"");
	buf_writer_free(&w);
}

static void test_encode_writer_cap(void **state)
{
	static char text[] = "0123456789012345678901234567890123456789";
	Dstack__Test__V1__EchoRequest r;
	struct buf_writer w;

	(void)state;
	dstack__test__v1__echo_request__init(&r);
	r.text = text;
	buf_writer_init(&w, 16);
	assert_int_equal(pbjson_encode(&r.base, &P3, &w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);
}

/* Floats print in their shortest round-trip form. */
static void test_float_format(void **state)
{
	static const struct {
		double d;
		const char *txt;
	} dv[] = { { 0.1, "0.1" }, { 1.0 / 3, "0.3333333333333333" }, { 100, "100" }, { 1e21, "1e+21" },
		   { 1e20, "100000000000000000000" }, { -2.5e-7, "-2.5e-7" }, { 1e-6, "0.000001" },
		   { 1.5e-6, "0.0000015" }, { 1e-7, "1e-7" }, { 5e-324, "5e-324" }, { -0.0, "-0" },
		   { 123456789.125, "123456789.125" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
		   { 2.2250738585072014e-308, "2.2250738585072014e-308" }, { 0.30000000000000004, "0.30000000000000004" } };
	static const struct {
		float f;
		const char *txt;
	} fv[] = { { 0.1f, "0.1" }, { 16777216.0f, "16777216" }, { 3.4028235e38f, "3.4028235e+38" },
		   { 1e-45f, "1e-45" }, { 1e20f, "100000000000000000000" }, { 3.14159274f, "3.1415927" } };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(dv); i++) {
		AllTypes m;
		char want[64];
		dstack__test__v1__all_types__init(&m);
		m.f_double = dv[i].d;
		snprintf(want, sizeof(want), "{\"fDouble\":%s}", dv[i].txt);
		assert_string_equal(enc(&m, &P3), want);
	}
	for (size_t i = 0; i < ARRAY_LEN(fv); i++) {
		AllTypes m;
		char want[64];
		dstack__test__v1__all_types__init(&m);
		m.f_float = fv[i].f;
		snprintf(want, sizeof(want), "{\"fFloat\":%s}", fv[i].txt);
		assert_string_equal(enc(&m, &P3), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_full_proto3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_full_dstack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_full_emit_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_oneof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_scalar_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_inner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_alltypes_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_alltypes_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_enum_and_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_field_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_unknown_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detail_no_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_after_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encode_writer_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_float_format, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
