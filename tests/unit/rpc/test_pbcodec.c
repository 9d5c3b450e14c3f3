/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf decode with limits: size cap, nesting cap, UTF-8, arena budget; encode into capped writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "dstack/test/v1/test.pb-c.h"
#include "pbcodec.h"

#define ALL (&dstack__test__v1__all_types__descriptor)

/* Encode AllTypes{f_inner: Inner{child: ... depth times}} by hand: field 17 -> Inner, Inner.child = 4. */
static size_t nested(uint8_t *out, size_t cap, unsigned depth)
{
	/* Build from the inside out: each level wraps the previous bytes in tag + length. */
	uint8_t tmp[8192];
	size_t len = 0;

	for (unsigned i = 0; i < depth; i++) {
		uint8_t hdr[8];
		size_t h = 0, l = len;
		if (i + 1 == depth) {
			/* The outermost level is AllTypes.f_inner: field 17 needs a two-byte tag, (17<<3|2) = 138. */
			hdr[h++] = 0x8a;
			hdr[h++] = 0x01;
		} else {
			hdr[h++] = 4 << 3 | 2; /* Inner.child */
		}
		do {
			hdr[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
			l >>= 7;
		} while (l);
		assert_true(h + len <= sizeof(tmp));
		memmove(tmp + h, tmp, len);
		memcpy(tmp, hdr, h);
		len += h;
	}
	assert_true(len <= cap);
	memcpy(out, tmp, len);
	return len;
}

static void test_round_trip(void **state)
{
	struct arena a;
	Dstack__Test__V1__AllTypes m;
	struct buf_writer w;
	ProtobufCMessage *out;

	(void)state;
	dstack__test__v1__all_types__init(&m);
	arena_init(&a, 1u << 20, 4096);
	buf_writer_init(&w, 1u << 20);
	m.f_string = UNCONST("héllo");
	m.f_uint64 = 1234567890123ull;
	assert_int_equal(pb_encode(&m.base, &w), ERR_OK);
	assert_int_equal(pb_decode(ALL, w.p, w.len, 1024, &a, &out), ERR_OK);
	assert_string_equal(((Dstack__Test__V1__AllTypes *)out)->f_string, "héllo");
	assert_true(((Dstack__Test__V1__AllTypes *)out)->f_uint64 == 1234567890123ull);
	/* The size cap is checked before parsing. */
	assert_int_equal(pb_decode(ALL, w.p, w.len, w.len - 1, &a, &out), ERR_PROTO_TOO_LARGE);
	assert_null(out);
	buf_writer_free(&w);
	arena_fini(&a);
}

static void test_encode_respects_writer_cap(void **state)
{
	Dstack__Test__V1__AllTypes m;
	struct buf_writer w;

	(void)state;
	dstack__test__v1__all_types__init(&m);
	buf_writer_init(&w, 4);
	m.f_string = UNCONST("longer than four bytes");
	assert_int_equal(pb_encode(&m.base, &w), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);
}

static void test_malformed(void **state)
{
	struct arena a;
	ProtobufCMessage *out;
	static const uint8_t bad_len[] = { 0x72, 0x10, 'a' };       /* f_string claims 16 bytes, has 1 */
	static const uint8_t bad_wire[] = { 0x0f };                  /* field 1, wire type 7 */
	static const uint8_t long_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };

	(void)state;
	arena_init(&a, 1u << 20, 4096);
	assert_int_equal(pb_decode(ALL, bad_len, sizeof(bad_len), 1024, &a, &out), ERR_PROTO_PROTOBUF);
	assert_int_equal(pb_decode(ALL, bad_wire, sizeof(bad_wire), 1024, &a, &out), ERR_PROTO_PROTOBUF);
	assert_int_equal(pb_decode(ALL, long_varint, sizeof(long_varint), 1024, &a, &out), ERR_PROTO_PROTOBUF);
	arena_fini(&a);
}

static void test_invalid_utf8_is_refused(void **state)
{
	struct arena a;
	ProtobufCMessage *out;
	static const uint8_t overlong[] = { 0x72, 0x02, 0xc0, 0xaf };          /* f_string = overlong '/' */
	static const uint8_t surrogate[] = { 0x72, 0x03, 0xed, 0xa0, 0x80 };    /* U+D800 */
	/* f_inner { name = "\xff" }: nested strings are checked too. */
	static const uint8_t nested_bad[] = { 0x8a, 0x01, 0x03, 0x0a, 0x01, 0xff };

	(void)state;
	arena_init(&a, 1u << 20, 4096);
	assert_int_equal(pb_decode(ALL, overlong, sizeof(overlong), 1024, &a, &out), ERR_PROTO_ENCODING);
	assert_int_equal(pb_decode(ALL, surrogate, sizeof(surrogate), 1024, &a, &out), ERR_PROTO_ENCODING);
	assert_int_equal(pb_decode(ALL, nested_bad, sizeof(nested_bad), 1024, &a, &out), ERR_PROTO_ENCODING);
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(utf8_valid("\xe2\x82", 2));         /* truncated */
	arena_fini(&a);
}

static void test_nesting_limit(void **state)
{
	struct arena a;
	ProtobufCMessage *out;
	uint8_t buf[8192];
	size_t n;

	(void)state;
	arena_init(&a, 4u << 20, 4096);
	/* 1 AllTypes level + 31 Inner levels = depth 32: accepted. */
	n = nested(buf, sizeof(buf), 32);
	assert_int_equal(pb_decode(ALL, buf, n, sizeof(buf), &a, &out), ERR_OK);
	n = nested(buf, sizeof(buf), 33);
	assert_int_equal(pb_decode(ALL, buf, n, sizeof(buf), &a, &out), ERR_PROTO_DEPTH);
	/* Far deeper than any stack would survive without the pre-pass. */
	n = nested(buf, sizeof(buf), 2000);
	assert_int_equal(pb_decode(ALL, buf, n, sizeof(buf), &a, &out), ERR_PROTO_DEPTH);
	arena_fini(&a);
}

static void test_budget(void **state)
{
	struct arena a;
	ProtobufCMessage *out;
	uint8_t buf[4096];
	size_t n = 0;

	(void)state;
	/* 1000 repeated uint64 values of 1 byte each decode to 8000 bytes: over a 4 KiB budget. */
	/* Field 29 (r_uint64, packed), wire type 2, as a two-byte tag. */
	buf[n++] = (uint8_t)(((29 << 3) | 2) & 0x7f) | 0x80;
	buf[n++] = (uint8_t)(((29 << 3) | 2) >> 7);
	buf[n++] = (uint8_t)(1000 & 0x7f) | 0x80;
	buf[n++] = (uint8_t)(1000 >> 7);
	memset(buf + n, 0x01, 1000);
	n += 1000;
	arena_init(&a, 4096, 1024);
	assert_int_equal(pb_decode(ALL, buf, n, sizeof(buf), &a, &out), ERR_BUDGET);
	arena_fini(&a);
	arena_init(&a, 1u << 20, 4096);
	assert_int_equal(pb_decode(ALL, buf, n, sizeof(buf), &a, &out), ERR_OK);
	assert_int_equal(((Dstack__Test__V1__AllTypes *)out)->n_r_uint64, 1000);
	arena_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_encode_respects_writer_cap),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_invalid_utf8_is_refused),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
