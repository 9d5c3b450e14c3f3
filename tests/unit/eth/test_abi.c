/* SPDX-License-Identifier: Apache-2.0 */
/* ABI types, encoder and decoder against ethers-computed known answers (gen_vectors.mjs), and every decoder rejection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "enc.h"

/* ---- known answers (ethers 6.17, tests/unit/eth/gen_vectors.mjs) ---- */

static const char SPEC_F[] =
	"0000000000000000000000000000000000000000000000000000000000000123"
	"0000000000000000000000000000000000000000000000000000000000000080"
	"3132333435363738393000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000e0"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0000000000000000000000000000000000000000000000000000000000000456"
	"0000000000000000000000000000000000000000000000000000000000000789"
	"000000000000000000000000000000000000000000000000000000000000000d"
	"48656c6c6f2c20776f726c642100000000000000000000000000000000000000";

static const char IS_APP_ALLOWED_CALL[] =
	"1e079198"
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000001111111111111111111111111111111111111111"
	"2222222222222222222222222222222222222222222222222222222222222222"
	"0000000000000000000000003333333333333333333333333333333333333333"
	"4444444444444444444444444444444444444444444444444444444444444444"
	"5555555555555555555555555555555555555555555555555555555555555555"
	"6666666666666666666666666666666666666666666666666666666666666666"
	"7777777777777777777777777777777777777777777777777777777777777777"
	"0000000000000000000000000000000000000000000000000000000000000120"
	"0000000000000000000000000000000000000000000000000000000000000160"
	"0000000000000000000000000000000000000000000000000000000000000008"
	"5570546f44617465000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000080"
	"000000000000000000000000000000000000000000000000000000000000000e"
	"494e54454c2d53412d3030303031000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000000000000000000e"
	"494e54454c2d53412d3030303032000000000000000000000000000000000000";

static const char IS_ALLOWED_RET[] =
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000018"
	"436f6d706f73652068617368206e6f7420616c6c6f7765640000000000000000";

#define NESTED_TYPE "(uint8,int16,bytes4,address,bool,string[],bytes[2],(uint256,string)[],int64,uint256[2])"
static const char NESTED[] =
	"00000000000000000000000000000000000000000000000000000000000000ff"
	"fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
	"deadbeef00000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000abababababababababababababababababababab"
	"0000000000000000000000000000000000000000000000000000000000000001"
	"0000000000000000000000000000000000000000000000000000000000000160"
	"00000000000000000000000000000000000000000000000000000000000002a0"
	"0000000000000000000000000000000000000000000000000000000000000340"
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	"0000000000000000000000000000000000000000000000000000000000000007"
	"0000000000000000000000000000000000000000000000000000000000000008"
	"0000000000000000000000000000000000000000000000000000000000000003"
	"0000000000000000000000000000000000000000000000000000000000000060"
	"0000000000000000000000000000000000000000000000000000000000000080"
	"00000000000000000000000000000000000000000000000000000000000000c0"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000001"
	"6100000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000021"
	"7878787878787878787878787878787878787878787878787878787878787878"
	"7800000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000060"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0102000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"00000000000000000000000000000000000000000000000000000000000000c0"
	"0000000000000000000000000000000000000000000000000000000000000001"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000003"
	"6f6e650000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char EMPTY_STRARR[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char NAMED_DATA[] =
	"0000000000000000000000000000000000000000000000000000000000000040"
	"0000000000000000000000000000000000000000000000000000000000000080"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"cafe000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000005"
	"68656c6c6f000000000000000000000000000000000000000000000000000000";

/* ---- helpers ---- */

struct blob {
	uint8_t *p;
	size_t len;
};

static struct blob unhex(const char *h)
{
	struct blob b;
	size_t n = strlen(h);

	b.p = malloc(n / 2 + 1);
	assert_non_null(b.p);
	assert_int_equal(hex_decode(b.p, n / 2 + 1, &b.len, h, n, 1), ERR_OK);
	return b;
}

static const struct abi_type *T(struct arena *a, const char *s)
{
	const struct abi_type *t = NULL;

	assert_int_equal(abi_type_parse(a, s, strlen(s), &t), ERR_OK);
	return t;
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char *got = malloc(2 * n + 1);

	hex_encode(got, p, n);
	assert_string_equal(got, want);
	free(got);
}

static void assert_bytes_str(const struct abi_value *v, const char *s)
{
	assert_int_equal(v->u.bytes.len, strlen(s));
	assert_memory_equal(v->u.bytes.p, s, strlen(s));
	assert_int_equal(v->u.bytes.p[v->u.bytes.len], 0);
}

/* Decode hex h as type string ts; returns the error and leaves *out. */
static err_t dec(struct arena *a, const char *ts, const uint8_t *p, size_t n, const struct abi_limits *lim,
		 struct abi_value **out)
{
	return abi_decode(T(a, ts), p, n, lim, a, out);
}

/* Overwrite the 32-byte word at byte offset off with the big-endian u64 v (high bytes zero). */
static void put_word(uint8_t *p, size_t off, uint64_t v)
{
	memset(p + off, 0, 32);
	for (int i = 0; i < 8; i++)
		p[off + 31 - i] = (uint8_t)(v >> (8 * i));
}

/* ---- types ---- */

static void test_type_parse_canonical(void **state)
{
	static const struct {
		const char *in, *canon;
		int dynamic;
		size_t head;
	} cases[] = {
		{ "uint", "uint256", 0, 32 },
		{ "int", "int256", 0, 32 },
		{ "uint8", "uint8", 0, 32 },
		{ "int24", "int24", 0, 32 },
		{ "bytes1", "bytes1", 0, 32 },
		{ "bytes32", "bytes32", 0, 32 },
		{ "bytes", "bytes", 1, 32 },
		{ "string", "string", 1, 32 },
		{ "address[]", "address[]", 1, 32 },
		{ "uint[3]", "uint256[3]", 0, 96 },
		{ "uint8[2][3]", "uint8[2][3]", 0, 192 },
		{ "string[2]", "string[2]", 1, 32 },
		{ "(uint,(bool,address)[2])", "(uint256,(bool,address)[2])", 0, 160 },
		{ ABI_APP_BOOT_INFO, ABI_APP_BOOT_INFO, 1, 32 },
		{ "()", "()", 0, 0 },
	};
	struct arena a;
	struct buf_writer w;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct abi_type *t = T(&a, cases[i].in);
		buf_writer_init(&w, 4096);
		abi_type_canonical(t, &w);
		assert_string_equal(buf_cstr(&w), cases[i].canon);
		assert_int_equal(t->dynamic, cases[i].dynamic);
		assert_int_equal(t->head_size, cases[i].head);
		buf_writer_free(&w);
	}
	arena_fini(&a);
}

static void test_type_parse_rejects(void **state)
{
	static const char *bad[] = {
		"", "uint7", "uint264", "uint0", "uint08", "int9", "bytes0", "bytes33", "bytes01", "byte", "Uint256",
		"uint256 ", " uint256", "address[", "address[]]", "uint[0]", "uint[01]", "uint[4097]", "(uint", "(uint,)",
		"(,uint)", "(())", "()[]", "(uint,())", "fixed128x18", "tuple(uint)", "uint256[2][", "string[-1]",
		"uint[1048576]", "uint[4096][4096]",
		/* 17 levels of nesting */
		"uint[][][][][][][][][][][][][][][][][]",
		"((((((((((((((((uint))))))))))))))))",
	};
	struct arena a;
	const struct abi_type *t;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		t = (const struct abi_type *)1;
		if (abi_type_parse(&a, bad[i], strlen(bad[i]), &t) != ERR_INVALID_ARG)
			fail_msg("accepted %s", bad[i]);
		assert_null(t);
	}
	/* 16 levels is the limit and fine. */
	t = T(&a, "uint[][][][][][][][][][][][][][][]");
	assert_int_equal(t->depth, 16);
	arena_fini(&a);
}

static void test_selectors_and_topics(void **state)
{
	struct arena a;
	struct abi_function f;
	struct abi_event ev;
	uint8_t sel[4], topic[32];

	(void)state;
	arena_init(&a, 1 << 20, 0);
	abi_selector("f(uint256,uint32[],bytes10,bytes)", sel);
	assert_hex(sel, 4, "8be65246");
	assert_int_equal(abi_function_parse(&a, "f(uint a, uint32[] b, bytes10 c, bytes d)", &f), ERR_OK);
	assert_hex(f.selector, 4, "8be65246");
	assert_string_equal(f.name, "f");
	assert_int_equal(f.inputs->count, 4);
	assert_int_equal(abi_function_parse(&a, "isAppAllowed(" ABI_APP_BOOT_INFO ")", &f), ERR_OK);
	assert_hex(f.selector, 4, "1e079198");

	abi_topic("Transfer(address,address,uint256)", topic);
	assert_hex(topic, 32, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
	assert_int_equal(abi_event_parse(&a, "Transfer(address indexed from, address indexed to, uint256 value)", &ev),
			 ERR_OK);
	assert_hex(ev.topic0, 32, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
	assert_int_equal(ev.nparams, 3);
	assert_int_equal(ev.nindexed, 2);
	assert_string_equal(ev.params[1].name, "to");
	assert_int_equal(ev.data_type->count, 1);
	assert_int_equal(abi_event_parse(&a, "ComposeHashAdded(bytes32 composeHash)", &ev), ERR_OK);
	assert_hex(ev.topic0, 32, "fecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af");

	/* Bad signatures. */
	assert_int_equal(abi_function_parse(&a, "f(uint", &f), ERR_INVALID_ARG);
	assert_int_equal(abi_function_parse(&a, "(uint)", &f), ERR_INVALID_ARG);
	assert_int_equal(abi_function_parse(&a, "f(uint indexed x)", &f), ERR_INVALID_ARG);
	assert_int_equal(abi_function_parse(&a, "f(uint) x", &f), ERR_INVALID_ARG);
	assert_int_equal(abi_event_parse(&a, "E(uint indexed,uint indexed,uint indexed,uint indexed)", &ev),
			 ERR_INVALID_ARG);
	assert_int_equal(abi_event_parse(&a, "E(uint indexed,uint indexed,uint indexed,uint indexed) anonymous", &ev),
			 ERR_OK);
	assert_int_equal(abi_event_parse(&a, "E(uint) nonymous", &ev), ERR_INVALID_ARG);
	arena_fini(&a);
}

/* ---- encode / decode known answers ---- */

static void test_spec_example(void **state)
{
	struct arena a;
	struct buf_writer w;
	struct abi_value args[4], arr[2], top, *v = NULL;
	struct blob want = unhex(SPEC_F);
	const struct abi_type *t;
	uint64_t x;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	t = T(&a, "(uint,uint32[],bytes10,bytes)");
	abi_set_uint64(&args[0], 0x123);
	abi_set_uint64(&arr[0], 0x456);
	abi_set_uint64(&arr[1], 0x789);
	abi_set_array(&args[1], arr, 2);
	abi_set_fixed_bytes(&args[2], "1234567890", 10);
	abi_set_bytes(&args[3], "Hello, world!", 13);
	abi_set_tuple(&top, args, 4);
	buf_writer_init(&w, 1 << 16);
	assert_int_equal(abi_encode(t, &top, &w), ERR_OK);
	assert_int_equal(w.len, want.len);
	assert_memory_equal(w.p, want.p, want.len);

	assert_int_equal(abi_decode(t, want.p, want.len, NULL, &a, &v), ERR_OK);
	assert_int_equal(v->kind, ABI_TUPLE);
	assert_int_equal(v->u.list.n, 4);
	assert_int_equal(abi_get_u64(&v->u.list.items[0], &x), ERR_OK);
	assert_int_equal(x, 0x123);
	assert_int_equal(v->u.list.items[1].u.list.n, 2);
	assert_int_equal(abi_get_u64(&v->u.list.items[1].u.list.items[1], &x), ERR_OK);
	assert_int_equal(x, 0x789);
	assert_memory_equal(v->u.list.items[2].u.word, "1234567890", 10);
	assert_bytes_str(&v->u.list.items[3], "Hello, world!");
	buf_writer_free(&w);
	free(want.p);
	arena_fini(&a);
}

static void test_app_boot_info(void **state)
{
	struct arena a;
	struct buf_writer w;
	struct abi_function f;
	struct abi_value fields[9], adv[2], boot, args, *v = NULL;
	struct blob want = unhex(IS_APP_ALLOWED_CALL);
	uint8_t addr1[20], addr3[20], h[5][32], got[32];

	(void)state;
	arena_init(&a, 1 << 20, 0);
	memset(addr1, 0x11, 20);
	memset(addr3, 0x33, 20);
	memset(h[0], 0x22, 32);
	memset(h[1], 0x44, 32);
	memset(h[2], 0x55, 32);
	memset(h[3], 0x66, 32);
	memset(h[4], 0x77, 32);
	assert_int_equal(abi_function_parse(&a, "isAppAllowed(" ABI_APP_BOOT_INFO " b)", &f), ERR_OK);
	abi_set_address(&fields[0], addr1);
	abi_set_fixed_bytes(&fields[1], h[0], 32);
	abi_set_address(&fields[2], addr3);
	for (int i = 1; i < 5; i++)
		abi_set_fixed_bytes(&fields[2 + i], h[i], 32);
	abi_set_string(&fields[7], "UpToDate");
	abi_set_string(&adv[0], "INTEL-SA-00001");
	abi_set_string(&adv[1], "INTEL-SA-00002");
	abi_set_array(&fields[8], adv, 2);
	abi_set_tuple(&boot, fields, 9);
	abi_set_tuple(&args, &boot, 1);
	buf_writer_init(&w, 1 << 16);
	assert_int_equal(abi_encode_call(&f, &args, &w), ERR_OK);
	assert_int_equal(w.len, want.len);
	assert_memory_equal(w.p, want.p, want.len);

	/* Decode the arguments back (after the selector). */
	assert_int_equal(abi_decode(f.inputs, want.p + 4, want.len - 4, NULL, &a, &v), ERR_OK);
	assert_int_equal(v->u.list.n, 1);
	v = &v->u.list.items[0];
	assert_int_equal(v->kind, ABI_TUPLE);
	assert_int_equal(v->u.list.n, 9);
	assert_int_equal(abi_get_address(&v->u.list.items[2], got), ERR_OK);
	assert_memory_equal(got, addr3, 20);
	assert_int_equal(abi_get_bytes32(&v->u.list.items[6], got), ERR_OK);
	assert_memory_equal(got, h[4], 32);
	assert_bytes_str(&v->u.list.items[7], "UpToDate");
	assert_int_equal(v->u.list.items[8].u.list.n, 2);
	assert_bytes_str(&v->u.list.items[8].u.list.items[1], "INTEL-SA-00002");
	/* Type confusion is refused by the readers. */
	assert_int_equal(abi_get_address(&v->u.list.items[1], got), ERR_PROTO_FIELD_TYPE);
	buf_writer_free(&w);
	free(want.p);
	arena_fini(&a);
}

static void test_is_allowed_return(void **state)
{
	struct arena a;
	struct buf_writer w;
	struct abi_value f[2], top, *v = NULL;
	struct blob want = unhex(IS_ALLOWED_RET);
	const struct abi_type *t;
	int ok = -1;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	t = T(&a, ABI_IS_ALLOWED_RETURNS);
	abi_set_bool(&f[0], 0);
	abi_set_string(&f[1], "Compose hash not allowed");
	abi_set_tuple(&top, f, 2);
	buf_writer_init(&w, 4096);
	assert_int_equal(abi_encode(t, &top, &w), ERR_OK);
	assert_int_equal(w.len, want.len);
	assert_memory_equal(w.p, want.p, want.len);
	assert_int_equal(abi_decode(t, want.p, want.len, NULL, &a, &v), ERR_OK);
	assert_int_equal(abi_get_bool(&v->u.list.items[0], &ok), ERR_OK);
	assert_int_equal(ok, 0);
	assert_bytes_str(&v->u.list.items[1], "Compose hash not allowed");
	buf_writer_free(&w);
	free(want.p);
	arena_fini(&a);
}

static void test_nested(void **state)
{
	struct arena a;
	struct buf_writer w;
	struct abi_value f[10], strs[3], byt[2], pairs[2], pf[2][2], u2[2], top, *v = NULL;
	struct blob want = unhex(NESTED);
	const struct abi_type *t;
	uint8_t addr[20], big[33];
	int64_t i64 = 0;
	uint64_t u = 0;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	t = T(&a, NESTED_TYPE);
	memset(addr, 0xab, 20);
	memset(big, 'x', 33);
	abi_set_uint64(&f[0], 255);
	abi_set_int64(&f[1], -2);
	f[1].kind = ABI_INT;
	abi_set_fixed_bytes(&f[2], "\xde\xad\xbe\xef", 4);
	abi_set_address(&f[3], addr);
	abi_set_bool(&f[4], 1);
	abi_set_string(&strs[0], "");
	abi_set_string(&strs[1], "a");
	abi_set_string_n(&strs[2], (const char *)big, 33);
	abi_set_array(&f[5], strs, 3);
	abi_set_bytes(&byt[0], NULL, 0);
	abi_set_bytes(&byt[1], "\x01\x02", 2);
	abi_set_fixed_array(&f[6], byt, 2);
	abi_set_uint64(&pf[0][0], 1);
	abi_set_string(&pf[0][1], "one");
	abi_set_uint64(&pf[1][0], 2);
	abi_set_string(&pf[1][1], "");
	abi_set_tuple(&pairs[0], pf[0], 2);
	abi_set_tuple(&pairs[1], pf[1], 2);
	abi_set_array(&f[7], pairs, 2);
	abi_set_int64(&f[8], -1);
	abi_set_uint64(&u2[0], 7);
	abi_set_uint64(&u2[1], 8);
	abi_set_fixed_array(&f[9], u2, 2);
	abi_set_tuple(&top, f, 10);
	buf_writer_init(&w, 1 << 16);
	assert_int_equal(abi_encode(t, &top, &w), ERR_OK);
	assert_int_equal(w.len, want.len);
	assert_memory_equal(w.p, want.p, want.len);

	assert_int_equal(abi_decode(t, want.p, want.len, NULL, &a, &v), ERR_OK);
	assert_int_equal(abi_get_i64(&v->u.list.items[1], &i64), ERR_OK);
	assert_int_equal(i64, -2);
	assert_int_equal(abi_get_i64(&v->u.list.items[8], &i64), ERR_OK);
	assert_int_equal(i64, -1);
	assert_int_equal(abi_get_u64(&v->u.list.items[0], &u), ERR_OK);
	assert_int_equal(u, 255);
	assert_int_equal(v->u.list.items[5].u.list.n, 3);
	assert_int_equal(v->u.list.items[5].u.list.items[2].u.bytes.len, 33);
	assert_int_equal(v->u.list.items[6].u.list.items[0].u.bytes.len, 0);
	assert_bytes_str(&v->u.list.items[7].u.list.items[0].u.list.items[1], "one");
	assert_int_equal(abi_get_u64(&v->u.list.items[9].u.list.items[1], &u), ERR_OK);
	assert_int_equal(u, 8);
	/* Re-encoding the decoded tree gives the same bytes. */
	buf_writer_clear(&w);
	assert_int_equal(abi_encode(t, v, &w), ERR_OK);
	assert_int_equal(w.len, want.len);
	assert_memory_equal(w.p, want.p, want.len);
	buf_writer_free(&w);
	free(want.p);
	arena_fini(&a);
}

static void test_empty_and_no_args(void **state)
{
	struct arena a;
	struct abi_value *v = NULL, top;
	struct buf_writer w;
	struct blob b = unhex(EMPTY_STRARR);

	(void)state;
	arena_init(&a, 1 << 20, 0);
	assert_int_equal(dec(&a, "(string[])", b.p, b.len, NULL, &v), ERR_OK);
	assert_int_equal(v->u.list.items[0].u.list.n, 0);
	assert_int_equal(dec(&a, "()", NULL, 0, NULL, &v), ERR_OK);
	assert_int_equal(v->u.list.n, 0);
	assert_int_equal(dec(&a, "()", b.p, 32, NULL, &v), ERR_PROTO_TRAILING);
	abi_set_tuple(&top, NULL, 0);
	buf_writer_init(&w, 64);
	assert_int_equal(abi_encode(T(&a, "()"), &top, &w), ERR_OK);
	assert_int_equal(w.len, 0);
	buf_writer_free(&w);
	free(b.p);
	arena_fini(&a);
}

/* ---- decoder rejections ---- */

static void test_decode_truncated_and_trailing(void **state)
{
	struct arena a;
	struct abi_value *v = NULL;
	struct blob b = unhex(SPEC_F);
	struct abi_limits loose = { .allow_trailing = 1 };
	uint8_t *longer;
	const char *ts = "(uint,uint32[],bytes10,bytes)";

	(void)state;
	arena_init(&a, 1 << 20, 0);
	/* Every proper prefix fails, and always with TRUNCATED. */
	for (size_t n = 0; n < b.len; n++) {
		v = (struct abi_value *)1;
		assert_int_equal(dec(&a, ts, b.p, n, NULL, &v), ERR_PROTO_TRUNCATED);
		assert_null(v);
	}
	longer = calloc(1, b.len + 32);
	memcpy(longer, b.p, b.len);
	assert_int_equal(dec(&a, ts, longer, b.len + 1, NULL, &v), ERR_PROTO_TRAILING);
	assert_int_equal(dec(&a, ts, longer, b.len + 32, NULL, &v), ERR_PROTO_TRAILING);
	assert_int_equal(dec(&a, ts, longer, b.len + 32, &loose, &v), ERR_OK);
	free(longer);
	free(b.p);
	arena_fini(&a);
}

static void test_decode_bad_offsets_and_lengths(void **state)
{
	struct arena a;
	struct abi_value *v = NULL;
	struct blob b = unhex(SPEC_F);
	const char *ts = "(uint,uint32[],bytes10,bytes)";
	uint8_t *m = malloc(b.len);
	struct abi_limits small = { .max_len = 1024 };

	(void)state;
	arena_init(&a, 1 << 22, 0);
#define RESET() memcpy(m, b.p, b.len)
	/* Offset of the uint32[] (word 1): far beyond the data, above 2^64, above max_len, at the very end. */
	RESET();
	put_word(m, 32, 0x10000);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);
	RESET();
	m[32] = 0x80;   /* 2^255 */
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);
	RESET();
	put_word(m, 32, UINT64_MAX - 31);   /* would wrap a naive offset + 32 */
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);
	RESET();
	put_word(m, 32, 4096);
	assert_int_equal(dec(&a, ts, m, b.len, &small, &v), ERR_PROTO_TOO_LARGE);
	RESET();
	put_word(m, 32, b.len);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);
	RESET();
	put_word(m, 32, b.len - 16);   /* the length word would straddle the end */
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);

	/* Array length (word 4): more elements than the data holds, absurd, above 2^64. */
	RESET();
	put_word(m, 128, 5);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);
	RESET();
	put_word(m, 128, UINT64_MAX);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);
	RESET();
	put_word(m, 128, (uint64_t)1 << 40);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);
	RESET();
	memset(m + 128, 0xff, 32);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);

	/* bytes length (word 7): past the end, and a length whose padding would run past it. */
	RESET();
	put_word(m, 224, 33);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);
	RESET();
	put_word(m, 224, 0xffffff);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TRUNCATED);
	RESET();
	put_word(m, 224, 0xffffffffffffULL);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_TOO_LARGE);
	/* A shorter length leaves message bytes in the padding. */
	RESET();
	put_word(m, 224, 5);
	assert_int_equal(dec(&a, ts, m, b.len, NULL, &v), ERR_PROTO_MALFORMED);
	/* Input longer than the cap. */
	assert_int_equal(dec(&a, ts, m, b.len, &(struct abi_limits){ .max_len = 64 }, &v), ERR_PROTO_TOO_LARGE);
#undef RESET
	free(m);
	free(b.p);
	arena_fini(&a);
}

static void test_decode_padding_and_ranges(void **state)
{
	static const struct {
		const char *type;
		const char *word;
		err_t want;
	} cases[] = {
		{ "(uint8)", "00000000000000000000000000000000000000000000000000000000000000ff", ERR_OK },
		{ "(uint8)", "0000000000000000000000000000000000000000000000000000000000000100", ERR_PROTO_MALFORMED },
		{ "(uint32)", "0000000000000000000000000000000000000000000000000000000100000000", ERR_PROTO_MALFORMED },
		{ "(uint256)", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", ERR_OK },
		{ "(int8)", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80", ERR_OK },
		{ "(int8)", "000000000000000000000000000000000000000000000000000000000000007f", ERR_OK },
		{ "(int8)", "0000000000000000000000000000000000000000000000000000000000000080", ERR_PROTO_MALFORMED },
		{ "(int8)", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", ERR_PROTO_MALFORMED },
		{ "(int16)", "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0000", ERR_PROTO_MALFORMED },
		{ "(address)", "000000000000000000000000ffffffffffffffffffffffffffffffffffffffff", ERR_OK },
		{ "(address)", "000000000000000000000001ffffffffffffffffffffffffffffffffffffffff", ERR_PROTO_MALFORMED },
		{ "(bool)", "0000000000000000000000000000000000000000000000000000000000000001", ERR_OK },
		{ "(bool)", "0000000000000000000000000000000000000000000000000000000000000002", ERR_PROTO_MALFORMED },
		{ "(bool)", "0100000000000000000000000000000000000000000000000000000000000000", ERR_PROTO_MALFORMED },
		{ "(bytes4)", "deadbeef00000000000000000000000000000000000000000000000000000000", ERR_OK },
		{ "(bytes4)", "deadbeef00000000000000000000000000000000000000000000000000000001", ERR_PROTO_MALFORMED },
		{ "(bytes32)", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", ERR_OK },
	};
	struct arena a;
	struct abi_value *v = NULL;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct blob b = unhex(cases[i].word);
		assert_int_equal(dec(&a, cases[i].type, b.p, b.len, NULL, &v), cases[i].want);
		free(b.p);
	}
	arena_fini(&a);
}

static void test_decode_budgets(void **state)
{
	struct arena a, tiny;
	struct abi_value *v = NULL;
	struct blob b = unhex(IS_APP_ALLOWED_CALL);
	struct abi_limits lim = { 0 };
	enum { N = 1000 };
	uint8_t *m = calloc(1, 64 + 32 * N + 64);
	size_t len = 64 + 32 * N + 64;

	(void)state;
	arena_init(&a, 1 << 24, 0);
	/* Depth: the boot info tuple holds a string[] (depth 3 under the top tuple). */
	lim.max_depth = 2;
	assert_int_equal(dec(&a, "(" ABI_APP_BOOT_INFO ")", b.p + 4, b.len - 4, &lim, &v), ERR_PROTO_DEPTH);
	lim.max_depth = 4;
	assert_int_equal(dec(&a, "(" ABI_APP_BOOT_INFO ")", b.p + 4, b.len - 4, &lim, &v), ERR_OK);

	/* Item budget: a string[] of N elements whose offsets all alias one string. */
	put_word(m, 0, 32);
	put_word(m, 32, N);
	for (size_t i = 0; i < N; i++)
		put_word(m, 64 + 32 * i, 32 * N);   /* relative to the element region: just after the heads */
	put_word(m, 64 + 32 * N, 32);
	memset(m + 64 + 32 * N + 32, 'z', 32);
	assert_int_equal(dec(&a, "(string[])", m, len, NULL, &v), ERR_OK);
	assert_int_equal(v->u.list.items[0].u.list.n, N);
	lim = (struct abi_limits){ .max_items = 500 };
	assert_int_equal(dec(&a, "(string[])", m, len, &lim, &v), ERR_BUDGET);

	/* The arena's own budget. */
	arena_init(&tiny, 4096, 0);
	{
		const struct abi_type *t = T(&a, "(string[])");
		assert_int_equal(abi_decode(t, m, len, NULL, &tiny, &v), ERR_BUDGET);
	}
	arena_fini(&tiny);
	free(m);
	free(b.p);
	arena_fini(&a);
}

/* ---- logs ---- */

static void test_log_decode(void **state)
{
	struct arena a;
	struct abi_event ev;
	struct abi_value *v = NULL;
	uint8_t topics[4][32], data[32], got[20], named_t[3][32];
	struct blob nd = unhex(NAMED_DATA);
	struct blob t0 = unhex("967dcde1ab9f0d0e715998d7eac32ec9b69023fbabb8a9a4fb0d67a3eeb403c7");
	struct blob t1 = unhex("9c0257114eb9399a2985f8e75dad7600c5d89fe3824ffa99ec1c3eb8bf3b0501");
	uint64_t x = 0;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	assert_int_equal(abi_event_parse(&a, "Transfer(address indexed from,address indexed to,uint256 value)", &ev),
			 ERR_OK);
	memcpy(topics[0], ev.topic0, 32);
	memset(topics[1], 0, 32);
	memset(topics[1] + 12, 0xaa, 20);
	memset(topics[2], 0, 32);
	memset(topics[2] + 12, 0xbb, 20);
	put_word(data, 0, 1000);
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 3, data, 32, NULL, &a, &v), ERR_OK);
	assert_int_equal(v->u.list.n, 3);
	assert_int_equal(abi_get_address(&v->u.list.items[1], got), ERR_OK);
	assert_int_equal(got[0], 0xbb);
	assert_int_equal(abi_get_u64(&v->u.list.items[2], &x), ERR_OK);
	assert_int_equal(x, 1000);
	/* Wrong event, wrong topic count, dirty indexed address, bad data. */
	topics[0][0] ^= 1;
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 3, data, 32, NULL, &a, &v), ERR_INVALID_ARG);
	topics[0][0] ^= 1;
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 2, data, 32, NULL, &a, &v),
			 ERR_PROTO_MALFORMED);
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 4, data, 32, NULL, &a, &v),
			 ERR_PROTO_MALFORMED);
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 0, data, 32, NULL, &a, &v), ERR_INVALID_ARG);
	topics[1][0] = 1;
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 3, data, 32, NULL, &a, &v),
			 ERR_PROTO_MALFORMED);
	topics[1][0] = 0;
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])topics, 3, data, 31, NULL, &a, &v),
			 ERR_PROTO_TRUNCATED);

	/* An indexed string is only its hash; non-indexed dynamic data decodes around it. */
	assert_int_equal(abi_event_parse(&a, "Named(string indexed name, uint64 indexed n, bytes data, string note)", &ev),
			 ERR_OK);
	assert_memory_equal(ev.topic0, t0.p, 32);
	memcpy(named_t[0], t0.p, 32);
	memcpy(named_t[1], t1.p, 32);
	put_word(named_t[2], 0, 42);
	assert_int_equal(abi_log_decode(&ev, (const uint8_t(*)[32])named_t, 3, nd.p, nd.len, NULL, &a, &v), ERR_OK);
	assert_int_equal(v->u.list.items[0].hashed, 1);
	assert_int_equal(abi_get_bytes32(&v->u.list.items[0], topics[3]), ERR_OK);
	assert_memory_equal(topics[3], t1.p, 32);
	assert_int_equal(abi_get_u64(&v->u.list.items[1], &x), ERR_OK);
	assert_int_equal(x, 42);
	assert_int_equal(v->u.list.items[2].u.bytes.len, 2);
	assert_bytes_str(&v->u.list.items[3], "hello");
	/* A hashed topic is not a string to readers. */
	assert_int_equal(abi_get_u64(&v->u.list.items[0], &x), ERR_PROTO_FIELD_TYPE);
	free(nd.p);
	free(t0.p);
	free(t1.p);
	arena_fini(&a);
}

/* ---- encoder rejections and readers ---- */

static void test_encode_rejects(void **state)
{
	struct arena a;
	struct buf_writer w;
	struct abi_value f[2], top;
	uint8_t word[32];
	uint64_t x;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	buf_writer_init(&w, 4096);
	abi_set_uint64(&f[0], 256);
	abi_set_tuple(&top, f, 1);
	assert_int_equal(abi_encode(T(&a, "(uint8)"), &top, &w), ERR_INVALID_ARG);
	abi_set_uint64(&f[0], 255);
	assert_int_equal(abi_encode(T(&a, "(uint8)"), &top, &w), ERR_OK);
	abi_set_int64(&f[0], -129);
	assert_int_equal(abi_encode(T(&a, "(int8)"), &top, &w), ERR_INVALID_ARG);
	abi_set_int64(&f[0], -128);
	assert_int_equal(abi_encode(T(&a, "(int8)"), &top, &w), ERR_OK);
	abi_set_uint64(&f[0], 1);
	assert_int_equal(abi_encode(T(&a, "(int8)"), &top, &w), ERR_INVALID_ARG);   /* kind mismatch */
	abi_set_bool(&f[0], 1);
	f[0].u.word[31] = 2;
	assert_int_equal(abi_encode(T(&a, "(bool)"), &top, &w), ERR_INVALID_ARG);
	abi_set_fixed_bytes(&f[0], "abcde", 5);
	assert_int_equal(abi_encode(T(&a, "(bytes4)"), &top, &w), ERR_INVALID_ARG);
	abi_set_string(&f[0], "x");
	assert_int_equal(abi_encode(T(&a, "(string,string)"), &top, &w), ERR_INVALID_ARG);   /* count */
	abi_set_array(&f[0], f + 1, 1);
	abi_set_string(&f[1], "x");
	assert_int_equal(abi_encode(T(&a, "(string[2])"), &top, &w), ERR_INVALID_ARG);   /* T[] for T[2] */
	assert_int_equal(abi_encode(T(&a, "uint8"), &top, &w), ERR_INVALID_ARG);        /* not a tuple */
	/* A writer that runs out reports its own error. */
	buf_writer_free(&w);
	buf_writer_init(&w, 40);
	abi_set_string(&f[0], "this string does not fit in forty bytes of output");
	assert_int_equal(abi_encode(T(&a, "(string)"), &top, &w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);

	/* Readers. */
	memset(word, 0xff, 32);
	abi_set_uint256(&f[0], word);
	assert_int_equal(abi_get_u64(&f[0], &x), ERR_PROTO_TOO_LARGE);
	abi_set_uint64(&f[0], UINT64_MAX);
	assert_int_equal(abi_get_u64(&f[0], &x), ERR_OK);
	assert_true(x == UINT64_MAX);
	arena_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_parse_canonical),
		cmocka_unit_test(test_type_parse_rejects),
		cmocka_unit_test(test_selectors_and_topics),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_app_boot_info),
		cmocka_unit_test(test_is_allowed_return),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_empty_and_no_args),
		cmocka_unit_test(test_decode_truncated_and_trailing),
		cmocka_unit_test(test_decode_bad_offsets_and_lengths),
		cmocka_unit_test(test_decode_padding_and_ranges),
		cmocka_unit_test(test_decode_budgets),
		cmocka_unit_test(test_log_decode),
		cmocka_unit_test(test_encode_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
