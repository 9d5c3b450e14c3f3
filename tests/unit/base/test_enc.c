/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for hex and base64: RFC 4648 vectors, round trips, and every way strict decoding must refuse input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "enc.h"

static void test_hex_round_trip(void **state)
{
	uint8_t in[256], out[256];
	char hex[513];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	hex_encode(hex, in, sizeof(in));
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 500, "fafbfcfdfeff");
	assert_int_equal(hex_decode(out, sizeof(out), &n, hex, 512, 0), ERR_OK);
	assert_int_equal(n, 256);
	assert_memory_equal(out, in, 256);

	hex_encode(hex, in, 0);
	assert_string_equal(hex, "");
	n = 99;
	assert_int_equal(hex_decode(out, 0, &n, "", 0, 0), ERR_OK);
	assert_int_equal(n, 0);
}

static void test_hex_case(void **state)
{
	uint8_t out[4];
	size_t n = 0;

	(void)state;
	assert_int_equal(hex_decode(out, sizeof(out), &n, "DeadBEEF", 8, 0), ERR_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
}

static void test_hex_bad(void **state)
{
	static const char *const bad[] = { "0", "abc", "0g", "g0", "0 ", " 0", "+1", "zz", "0\n", "00-1" };
	uint8_t out[16];
	size_t n = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hex_decode(out, sizeof(out), &n, bad[i], strlen(bad[i]), 0) != ERR_PROTO_ENCODING)
			fail_msg("'%s' was not refused as ERR_PROTO_ENCODING", bad[i]);
	}
	/* A NUL inside the given length is a bad character, not an end. */
	assert_int_equal(hex_decode(out, sizeof(out), &n, "00\0a", 4, 0), ERR_PROTO_ENCODING);
	assert_int_equal(n, 99);
}

static void test_hex_cap(void **state)
{
	uint8_t out[4];
	size_t n = 99;

	(void)state;
	assert_int_equal(hex_decode(out, 2, &n, "010203", 6, 0), ERR_PROTO_TOO_LARGE);
	assert_int_equal(n, 99);
	assert_int_equal(hex_decode(out, 3, &n, "010203", 6, 0), ERR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(hex_decode(out, 0, &n, "01", 2, 0), ERR_PROTO_TOO_LARGE);
}

static void test_hex_0x(void **state)
{
	uint8_t out[4];
	size_t n = 99;

	(void)state;
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0xabcd", 6, 1), ERR_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\xab\xcd", 2);
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0XABCD", 6, 1), ERR_OK);
	assert_int_equal(n, 2);
	/* The prefix is optional when allowed ... */
	assert_int_equal(hex_decode(out, sizeof(out), &n, "abcd", 4, 1), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0x", 2, 1), ERR_OK);
	assert_int_equal(n, 0);
	/* ... refused when not allowed, and never accepted twice or with an odd remainder. */
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0xabcd", 6, 0), ERR_PROTO_ENCODING);
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0x0xab", 6, 1), ERR_PROTO_ENCODING);
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0xabc", 5, 1), ERR_PROTO_ENCODING);
	assert_int_equal(hex_decode(out, sizeof(out), &n, "0x", 1, 1), ERR_PROTO_ENCODING);
	assert_int_equal(hex_decode(out, 1, &n, "0xabcd", 6, 1), ERR_PROTO_TOO_LARGE);
}

struct b64_vec {
	const char *plain, *std, *url;
};

/* RFC 4648 section 10. */
static const struct b64_vec rfc[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void test_b64_rfc_vectors(void **state)
{
	char enc[16];
	uint8_t dec[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		const struct b64_vec *v = &rfc[i];
		size_t plen = strlen(v->plain);

		assert_int_equal(base64_encoded_len(plen, 0), strlen(v->std));
		assert_int_equal(base64_encode(enc, v->plain, plen, 0), strlen(v->std));
		assert_string_equal(enc, v->std);
		assert_int_equal(base64_encoded_len(plen, 1), strlen(v->url));
		assert_int_equal(base64_encode(enc, v->plain, plen, 1), strlen(v->url));
		assert_string_equal(enc, v->url);

		/* Both padded and unpadded forms decode. */
		n = 99;
		assert_int_equal(base64_decode(dec, sizeof(dec), &n, v->std, strlen(v->std)), ERR_OK);
		assert_int_equal(n, plen);
		assert_memory_equal(dec, v->plain, plen);
		n = 99;
		assert_int_equal(base64_decode(dec, sizeof(dec), &n, v->url, strlen(v->url)), ERR_OK);
		assert_int_equal(n, plen);
		assert_memory_equal(dec, v->plain, plen);
		assert_true(base64_decoded_max(strlen(v->std)) >= plen);
		assert_true(base64_decoded_max(strlen(v->url)) >= plen);
	}
}

static void test_b64_alphabets(void **state)
{
	static const uint8_t raw[] = { 0xfb, 0xff, 0xbf };
	char enc[8];
	uint8_t dec[8];
	size_t n = 0;

	(void)state;
	base64_encode(enc, raw, 3, 0);
	assert_string_equal(enc, "+/+/");
	base64_encode(enc, raw, 3, 1);
	assert_string_equal(enc, "-_-_");
	base64_encode(enc, raw, 2, 0);
	assert_string_equal(enc, "+/8=");
	base64_encode(enc, raw, 2, 1);
	assert_string_equal(enc, "-_8");
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "+/+/", 4), ERR_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, raw, 3);
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "-_-_", 4), ERR_OK);
	assert_memory_equal(dec, raw, 3);
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "-_8=", 4), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "+/8", 3), ERR_OK);
	assert_int_equal(n, 2);
}

static void test_b64_round_trip(void **state)
{
	uint8_t in[100], dec[110];
	char enc[140];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(in); len++) {
		for (int url = 0; url <= 1; url++) {
			size_t elen = base64_encode(enc, in, len, url), n = 0;
			assert_int_equal(elen, base64_encoded_len(len, url));
			assert_int_equal(enc[elen], 0);
			assert_true(base64_decoded_max(elen) <= sizeof(dec));
			assert_int_equal(base64_decode(dec, sizeof(dec), &n, enc, elen), ERR_OK);
			assert_int_equal(n, len);
			assert_memory_equal(dec, in, len);
		}
	}
}

static void test_b64_bad_chars(void **state)
{
	static const char *const bad[] = {
		"Zm9v!", "Zm 9v", "Zm9v\n", "Zm9v\r\n", " Zm9v", "Zm.v", "Zm9v*A==", "Zm\xc3\xa9", "Zg=\n",
	};
	uint8_t dec[16];
	size_t n = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i])) != ERR_PROTO_ENCODING)
			fail_msg("'%s' was not refused as ERR_PROTO_ENCODING", bad[i]);
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "Zm\0v", 4), ERR_PROTO_ENCODING);
	assert_int_equal(n, 99);
}

static void test_b64_padding(void **state)
{
	static const char *const bad[] = {
		"=", "==", "===", "====", "Zg=", "Zg===", "Z===", "Zm9v=", "Zm9v==", "Zm8==", "=Zg=", "Z=g=", "Zg==Zg==",
		"Zm=9", "Zm9vY", "Z", "Zm9vY===",
	};
	uint8_t dec[16];
	size_t n = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i])) != ERR_PROTO_ENCODING)
			fail_msg("'%s' was not refused as ERR_PROTO_ENCODING", bad[i]);
	assert_int_equal(n, 99);
}

static void test_b64_trailing_bits(void **state)
{
	static const char *const bad[] = { "Zh==", "Zh", "Zm9=", "Zm9", "Zm9vYh==", "Zm9vYmF=", "//", "/w=" };
	uint8_t dec[16];
	size_t n = 99;

	(void)state;
	/* One byte leaves 4 spare bits, two bytes leave 2: they must be zero. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i])) != ERR_PROTO_ENCODING)
			fail_msg("'%s' was not refused as ERR_PROTO_ENCODING", bad[i]);
	assert_int_equal(base64_decode(dec, sizeof(dec), &n, "/w==", 4), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(dec[0], 0xff);
}

static void test_b64_cap(void **state)
{
	uint8_t dec[8];
	size_t n = 99;

	(void)state;
	assert_int_equal(base64_decode(dec, 5, &n, "Zm9vYmFy", 8), ERR_PROTO_TOO_LARGE);
	assert_int_equal(n, 99);
	assert_int_equal(base64_decode(dec, 0, &n, "Zg==", 4), ERR_PROTO_TOO_LARGE);
	assert_int_equal(base64_decode(dec, 6, &n, "Zm9vYmFy", 8), ERR_OK);
	assert_int_equal(n, 6);
	assert_int_equal(base64_decode(dec, 0, &n, "", 0), ERR_OK);
	assert_int_equal(n, 0);
}

/* RFC 3629 edges: overlongs, surrogates, past U+10FFFF, truncation; the encoder's round trip. */
static void test_utf8(void **state)
{
	static const struct { const char *s; size_t n, len; } cases[] = {
		{ "a", 1, 1 },
		{ "\xc2\x80", 2, 2 },            /* U+0080 */
		{ "\xc1\xbf", 2, 0 },            /* overlong */
		{ "\xe0\x9f\xbf", 3, 0 },        /* overlong */
		{ "\xed\xa0\x80", 3, 0 },        /* surrogate D800 */
		{ "\xef\xbf\xbf", 3, 3 },        /* U+FFFF */
		{ "\xf4\x8f\xbf\xbf", 4, 4 },    /* U+10FFFF */
		{ "\xf4\x90\x80\x80", 4, 0 },    /* past U+10FFFF */
		{ "\xf0\x9f\x98", 3, 0 },        /* truncated */
		{ "\x80", 1, 0 },                /* lone continuation */
	};
	static const uint32_t cps[] = { 0x24, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xffff, 0x10000, 0x10ffff };
	uint8_t buf[4];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		assert_int_equal(utf8_seq_len((const uint8_t *)cases[i].s, cases[i].n), cases[i].len);
	for (size_t i = 0; i < ARRAY_LEN(cps); i++) {
		size_t n = utf8_encode(buf, cps[i]);

		assert_int_equal(utf8_seq_len(buf, n), n);
		assert_true(utf8_valid((const char *)buf, n));
	}
	assert_true(utf8_valid("h\xc3\xa9llo", 6));
	assert_false(utf8_valid("h\xc3llo", 5));
	assert_true(utf8_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_case),
		cmocka_unit_test(test_hex_bad),
		cmocka_unit_test(test_hex_cap),
		cmocka_unit_test(test_hex_0x),
		cmocka_unit_test(test_b64_rfc_vectors),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_b64_bad_chars),
		cmocka_unit_test(test_b64_padding),
		cmocka_unit_test(test_b64_trailing_bits),
		cmocka_unit_test(test_b64_cap),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
