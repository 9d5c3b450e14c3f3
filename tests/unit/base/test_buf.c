/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the bounds-checked reader and the capped writer: every getter, truncation, caps and sticky errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const uint8_t seq[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };

static void test_get_ints(void **state)
{
	struct buf_reader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_get_u8(&r, &u8), ERR_OK);
	assert_int_equal(u8, 0x01);
	assert_int_equal(buf_get_u16le(&r, &u16), ERR_OK);
	assert_int_equal(u16, 0x0302);
	assert_int_equal(buf_get_u16be(&r, &u16), ERR_OK);
	assert_int_equal(u16, 0x0405);
	assert_int_equal(buf_remaining(&r), 4);
	assert_ptr_equal(buf_cursor(&r), seq + 5);
	assert_int_equal(buf_get_u32be(&r, &u32), ERR_OK);
	assert_int_equal(u32, 0x06070809);
	assert_int_equal(buf_expect_end(&r), ERR_OK);

	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_get_u32le(&r, &u32), ERR_OK);
	assert_int_equal(u32, 0x04030201);
	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_get_u64le(&r, &u64), ERR_OK);
	assert_int_equal(u64, 0x0807060504030201ull);
	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_get_u64be(&r, &u64), ERR_OK);
	assert_int_equal(u64, 0x0102030405060708ull);
	assert_int_equal(buf_expect_end(&r), ERR_PROTO_TRAILING);
	assert_int_equal(buf_get_u8(&r, &u8), ERR_OK);
	assert_int_equal(u8, 0x09);
	assert_int_equal(buf_expect_end(&r), ERR_OK);
}

/* Each getter on a reader one byte short: ERR_PROTO_TRUNCATED and the position does not move. */
static void test_get_ints_truncated(void **state)
{
	struct buf_reader r;
	uint8_t u8 = 0xee;
	uint16_t u16 = 0xeeee;
	uint32_t u32 = 0xeeeeeeee;
	uint64_t u64 = 0xeeeeeeeeeeeeeeeeull;

	(void)state;
	buf_reader_init(&r, seq, 0);
	assert_int_equal(buf_get_u8(&r, &u8), ERR_PROTO_TRUNCATED);
	assert_int_equal(u8, 0xee);

	buf_reader_init(&r, seq, 3);
	r.pos = 2;
	assert_int_equal(buf_get_u16le(&r, &u16), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 2);
	assert_int_equal(buf_get_u16be(&r, &u16), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 2);
	assert_int_equal(u16, 0xeeee);

	buf_reader_init(&r, seq, 4);
	r.pos = 1;
	assert_int_equal(buf_get_u32le(&r, &u32), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_get_u32be(&r, &u32), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 1);
	assert_int_equal(u32, 0xeeeeeeee);

	buf_reader_init(&r, seq, 7);
	assert_int_equal(buf_get_u64le(&r, &u64), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_get_u64be(&r, &u64), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 0);
	assert_int_equal(u64, 0xeeeeeeeeeeeeeeeeull);
	/* The bytes that are there can still be read. */
	assert_int_equal(buf_get_u32be(&r, &u32), ERR_OK);
	assert_int_equal(u32, 0x01020304);
}

static void test_copy_view_skip(void **state)
{
	struct buf_reader r;
	uint8_t out[9];
	const uint8_t *v = NULL;

	(void)state;
	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_get_copy(&r, out, 0), ERR_OK);
	assert_int_equal(buf_get_copy(&r, out, 3), ERR_OK);
	assert_memory_equal(out, seq, 3);
	assert_int_equal(buf_get_view(&r, 2, &v), ERR_OK);
	assert_ptr_equal(v, seq + 3);
	assert_int_equal(buf_skip(&r, 1), ERR_OK);
	assert_int_equal(r.pos, 6);

	memset(out, 0, sizeof(out));
	assert_int_equal(buf_get_copy(&r, out, 4), ERR_PROTO_TRUNCATED);
	assert_int_equal(out[0], 0);
	assert_int_equal(buf_get_view(&r, 4, &v), ERR_PROTO_TRUNCATED);
	assert_ptr_equal(v, seq + 3);
	assert_int_equal(buf_skip(&r, 4), ERR_PROTO_TRUNCATED);
	/* Huge lengths must not wrap the bounds check. */
	assert_int_equal(buf_get_view(&r, SIZE_MAX, &v), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_skip(&r, SIZE_MAX), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_get_copy(&r, out, SIZE_MAX - 3), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 6);
	assert_int_equal(buf_skip(&r, 3), ERR_OK);
	assert_int_equal(buf_expect_end(&r), ERR_OK);
	assert_int_equal(buf_get_view(&r, 0, &v), ERR_OK);
	assert_int_equal(buf_skip(&r, 0), ERR_OK);
}

static void test_view_max(void **state)
{
	struct buf_reader r;
	const uint8_t *v = NULL;

	(void)state;
	buf_reader_init(&r, seq, sizeof(seq));
	/* Over the hard maximum: refused as too large even though the bytes are there. */
	assert_int_equal(buf_get_view_max(&r, 5, 4, &v), ERR_PROTO_TOO_LARGE);
	assert_null(v);
	assert_int_equal(r.pos, 0);
	/* Under the maximum but past the end: truncated. */
	assert_int_equal(buf_get_view_max(&r, 10, 100, &v), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 0);
	/* The maximum is checked first, so a huge claimed length reports too large. */
	assert_int_equal(buf_get_view_max(&r, SIZE_MAX, 1024, &v), ERR_PROTO_TOO_LARGE);
	assert_int_equal(buf_get_view_max(&r, 4, 4, &v), ERR_OK);
	assert_ptr_equal(v, seq);
	assert_int_equal(r.pos, 4);
}

static void test_sub_reader(void **state)
{
	struct buf_reader r, sub, sub2;
	uint16_t u16;
	uint8_t u8;

	(void)state;
	buf_reader_init(&r, seq, sizeof(seq));
	assert_int_equal(buf_skip(&r, 1), ERR_OK);
	assert_int_equal(buf_get_sub(&r, 3, &sub), ERR_OK);
	assert_int_equal(r.pos, 4);
	assert_ptr_equal(buf_cursor(&sub), seq + 1);
	assert_int_equal(buf_remaining(&sub), 3);
	assert_int_equal(buf_get_u16be(&sub, &u16), ERR_OK);
	assert_int_equal(u16, 0x0203);
	/* A sub-reader stops at its own end, not the parent's. */
	assert_int_equal(buf_get_u16be(&sub, &u16), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_expect_end(&sub), ERR_PROTO_TRAILING);
	assert_int_equal(buf_get_sub(&sub, 1, &sub2), ERR_OK);
	assert_int_equal(buf_get_u8(&sub2, &u8), ERR_OK);
	assert_int_equal(u8, 0x04);
	assert_int_equal(buf_expect_end(&sub), ERR_OK);
	assert_int_equal(buf_get_u8(&sub, &u8), ERR_PROTO_TRUNCATED);

	assert_int_equal(buf_get_sub(&r, 6, &sub), ERR_PROTO_TRUNCATED);
	assert_int_equal(buf_get_sub(&r, SIZE_MAX, &sub), ERR_PROTO_TRUNCATED);
	assert_int_equal(r.pos, 4);
	assert_int_equal(buf_get_sub(&r, 5, &sub), ERR_OK);
	assert_int_equal(buf_expect_end(&r), ERR_OK);
	assert_int_equal(buf_get_sub(&r, 0, &sub), ERR_OK);
	assert_int_equal(buf_remaining(&sub), 0);
}

static void test_writer_endianness(void **state)
{
	struct buf_writer w;
	struct buf_reader r;
	static const uint8_t want[] = {
		0xab,                                           /* u8 */
		0x02, 0x01, 0x01, 0x02,                         /* u16 le, be */
		0x04, 0x03, 0x02, 0x01, 0x01, 0x02, 0x03, 0x04, /* u32 le, be */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 le */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* u64 be */
	};
	uint8_t u8;
	uint16_t a16, b16;
	uint32_t a32, b32;
	uint64_t a64, b64;

	(void)state;
	buf_writer_init(&w, 1024);
	buf_put_u8(&w, 0xab);
	buf_put_u16le(&w, 0x0102);
	buf_put_u16be(&w, 0x0102);
	buf_put_u32le(&w, 0x01020304);
	buf_put_u32be(&w, 0x01020304);
	buf_put_u64le(&w, 0x0102030405060708ull);
	buf_put_u64be(&w, 0x0102030405060708ull);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.p, want, sizeof(want));

	buf_reader_init(&r, w.p, w.len);
	assert_int_equal(buf_get_u8(&r, &u8), ERR_OK);
	assert_int_equal(buf_get_u16le(&r, &a16), ERR_OK);
	assert_int_equal(buf_get_u16be(&r, &b16), ERR_OK);
	assert_int_equal(buf_get_u32le(&r, &a32), ERR_OK);
	assert_int_equal(buf_get_u32be(&r, &b32), ERR_OK);
	assert_int_equal(buf_get_u64le(&r, &a64), ERR_OK);
	assert_int_equal(buf_get_u64be(&r, &b64), ERR_OK);
	assert_int_equal(buf_expect_end(&r), ERR_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(a16, 0x0102);
	assert_int_equal(b16, 0x0102);
	assert_int_equal(a32, 0x01020304);
	assert_int_equal(b32, 0x01020304);
	assert_int_equal(a64, 0x0102030405060708ull);
	assert_int_equal(b64, 0x0102030405060708ull);
	buf_writer_free(&w);
	assert_null(w.p);
}

static void test_writer_cap_sticky(void **state)
{
	struct buf_writer w;

	(void)state;
	buf_writer_init(&w, 10);
	buf_put(&w, "0123456789", 10);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(w.len, 10);
	buf_put_u8(&w, 'x');
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	assert_int_equal(w.len, 10);
	/* Sticky: a put that would fit is still refused until the writer is cleared. */
	buf_writer_clear(&w);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	buf_put(&w, "abc", 3);
	buf_put(&w, "0123456789", 10);
	buf_put(&w, "d", 1);
	buf_put_str(&w, "e");
	buf_printf(&w, "%d", 5);
	assert_null(buf_reserve(&w, 1));
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	assert_int_equal(w.len, 3);
	assert_memory_equal(w.p, "abc", 3);
	assert_null(buf_cstr(&w));
	buf_writer_free(&w);

	/* A length that would wrap len + n. */
	buf_writer_init(&w, 64);
	buf_put_u8(&w, 1);
	buf_put(&w, "x", SIZE_MAX);
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);

	/* max 0: nothing fits, an empty put does. */
	buf_writer_init(&w, 0);
	buf_put(&w, "", 0);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_string_equal(buf_cstr(&w), "");
	buf_put_u8(&w, 1);
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);
}

static void test_writer_unbounded_max(void **state)
{
	struct buf_writer w;
	char big[1000];

	(void)state;
	/* SIZE_MAX as "no cap" must not wrap the capacity computation. */
	buf_writer_init(&w, SIZE_MAX);
	buf_put(&w, "abc", 3);
	memset(big, 'b', sizeof(big));
	buf_put(&w, big, sizeof(big));
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(w.len, 1003);
	assert_memory_equal(w.p, "abcbbb", 6);
	assert_non_null(buf_cstr(&w));
	buf_writer_free(&w);
}

static void test_writer_growth(void **state)
{
	struct buf_writer w;

	(void)state;
	buf_writer_init(&w, 1 << 20);
	for (uint32_t i = 0; i < 10000; i++)
		buf_put_u32be(&w, i);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(w.len, 40000);
	assert_true(w.cap <= (1 << 20) + 1);
	for (uint32_t i = 0; i < 10000; i++) {
		struct buf_reader r;
		uint32_t v;
		buf_reader_init(&r, w.p + 4 * i, 4);
		assert_int_equal(buf_get_u32be(&r, &v), ERR_OK);
		assert_int_equal(v, i);
	}
	buf_writer_free(&w);

	/* The wiping writer copies on growth instead of realloc. */
	buf_writer_init(&w, 1 << 20);
	w.wipe = 1;
	for (int i = 0; i < 3000; i++)
		buf_put_u8(&w, (uint8_t)i);
	assert_int_equal(w.len, 3000);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(w.p[i], (uint8_t)i);
	buf_writer_free(&w);
}

static void test_fixed_writer(void **state)
{
	struct buf_writer w;
	uint8_t mem[8];
	char s[6];

	(void)state;
	memset(mem, 0xee, sizeof(mem));
	buf_writer_init_fixed(&w, mem, sizeof(mem));
	buf_put_u64be(&w, 0x0102030405060708ull);
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_ptr_equal(w.p, mem);
	assert_int_equal(mem[7], 0x08);
	/* Full to the last byte: no room for the NUL of a C string. */
	assert_null(buf_cstr(&w));
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	buf_writer_clear(&w);
	buf_put(&w, "123456789", 9);
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	assert_int_equal(w.len, 0);
	/* Fixed writers never hand their borrowed memory away. */
	{
		size_t len = 99;
		assert_null(buf_take(&w, &len));
		assert_int_equal(len, 99);
	}
	buf_writer_free(&w);
	assert_null(w.p);

	/* printf that fills the buffer exactly keeps its last character. */
	buf_writer_init_fixed(&w, s, 5);
	buf_printf(&w, "%s", "hello");
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_int_equal(w.len, 5);
	assert_memory_equal(s, "hello", 5);
	buf_writer_init_fixed(&w, s, 6);
	buf_printf(&w, "he%s", "llo");
	assert_string_equal(buf_cstr(&w), "hello");
	buf_printf(&w, "!");
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	assert_memory_equal(s, "hello!", 6);
	buf_printf(&w, "x");
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
}

static void test_cstr_printf(void **state)
{
	struct buf_writer w;
	char big[700];
	const char *s;

	(void)state;
	buf_writer_init(&w, 4096);
	assert_string_equal(buf_cstr(&w), "");
	buf_printf(&w, "%s=%d", "n", 42);
	s = buf_cstr(&w);
	assert_string_equal(s, "n=42");
	assert_int_equal(w.len, 4);
	/* The NUL is not part of the contents: appending overwrites it. */
	buf_put_str(&w, ";");
	assert_string_equal(buf_cstr(&w), "n=42;");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	buf_printf(&w, "[%s]", big);
	assert_int_equal(w.len, 5 + 701);
	s = buf_cstr(&w);
	assert_int_equal(strlen(s), 706);
	assert_int_equal(s[705], ']');
	buf_writer_free(&w);

	/* printf over the cap fails and writes nothing. */
	buf_writer_init(&w, 10);
	buf_printf(&w, "%s", "0123456789A");
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	assert_int_equal(w.len, 0);
	buf_writer_free(&w);

	/* Exactly max bytes: there is room for the NUL of a growable writer. */
	buf_writer_init(&w, 10);
	buf_printf(&w, "%s", "0123456789");
	assert_string_equal(buf_cstr(&w), "0123456789");
	buf_writer_free(&w);
}

static void test_reserve_commit(void **state)
{
	struct buf_writer w;
	uint8_t *p;

	(void)state;
	buf_writer_init(&w, 16);
	p = buf_reserve(&w, 10);
	assert_non_null(p);
	memcpy(p, "0123456789", 10);
	buf_commit(&w, 4);
	assert_int_equal(w.len, 4);
	assert_memory_equal(w.p, "0123", 4);
	p = buf_reserve(&w, 12);
	assert_non_null(p);
	/* Committing past the cap is ignored rather than growing len beyond max. */
	buf_commit(&w, 13);
	assert_int_equal(w.len, 4);
	buf_commit(&w, 12);
	assert_int_equal(w.len, 16);
	assert_null(buf_reserve(&w, 1));
	assert_int_equal(buf_writer_status(&w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);
}

static void test_take(void **state)
{
	struct buf_writer w;
	uint8_t *p;
	size_t len = 0;

	(void)state;
	buf_writer_init(&w, 100);
	buf_put_str(&w, "hello");
	p = buf_take(&w, &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "hello", 5);
	/* The writer is reset and usable again. */
	assert_null(w.p);
	assert_int_equal(w.len, 0);
	buf_put_str(&w, "again");
	assert_int_equal(w.len, 5);
	assert_memory_equal(w.p, "again", 5);
	assert_ptr_not_equal(w.p, p);
	free(p);

	/* No take after an error. */
	buf_put(&w, "x", 200);
	assert_null(buf_take(&w, &len));
	buf_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_ints),
		cmocka_unit_test(test_get_ints_truncated),
		cmocka_unit_test(test_copy_view_skip),
		cmocka_unit_test(test_view_max),
		cmocka_unit_test(test_sub_reader),
		cmocka_unit_test(test_writer_endianness),
		cmocka_unit_test(test_writer_cap_sticky),
		cmocka_unit_test(test_writer_unbounded_max),
		cmocka_unit_test(test_writer_growth),
		cmocka_unit_test(test_fixed_writer),
		cmocka_unit_test(test_cstr_printf),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
