/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto/shamir: field arithmetic, split/combine for many (t, n), secrecy of t-1 shares, bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "shamir.h"

/* Textbook shift-and-add with branches: the reference the constant-time multiply must match. */
static uint8_t slow_mul(uint8_t a, uint8_t b)
{
	unsigned int r = 0, x = a;

	while (b) {
		if (b & 1)
			r ^= x;
		x <<= 1;
		if (x & 0x100)
			x ^= 0x11b;
		b >>= 1;
	}
	return (uint8_t)r;
}

static void test_gf256(void **state)
{
	(void)state;
	/* FIPS-197 section 4.2 and 4.2.1. */
	assert_int_equal(gf256_mul(0x57, 0x83), 0xc1);
	assert_int_equal(gf256_mul(0x57, 0x13), 0xfe);
	assert_int_equal(gf256_mul(0x53, 0xca), 0x01);
	assert_int_equal(gf256_inv(0x53), 0xca);
	assert_int_equal(gf256_inv(0), 0);
	assert_int_equal(gf256_inv(1), 1);
	for (unsigned int a = 0; a < 256; a++) {
		for (unsigned int b = 0; b < 256; b++)
			assert_int_equal(gf256_mul((uint8_t)a, (uint8_t)b), slow_mul((uint8_t)a, (uint8_t)b));
		if (a)
			assert_int_equal(gf256_mul((uint8_t)a, gf256_inv((uint8_t)a)), 1);
	}
}

static unsigned int rnd(unsigned int bound)
{
	uint32_t r;

	assert_int_equal(RAND_bytes((unsigned char *)&r, sizeof(r)), 1);
	return r % bound;
}

/* k distinct share indices out of n, in random order. */
static void pick(unsigned int n, unsigned int k, unsigned int *idx)
{
	unsigned int all[255];

	for (unsigned int i = 0; i < n; i++)
		all[i] = i;
	for (unsigned int i = 0; i < k; i++) {
		unsigned int j = i + rnd(n - i), tmp = all[i];

		all[i] = all[j];
		all[j] = tmp;
		idx[i] = all[i];
	}
}

static void split_combine(unsigned int t, unsigned int n, size_t len, int rounds)
{
	uint8_t *secret = malloc(len), *shares = malloc((size_t)n * (len + 1)), *got = malloc(len);
	const uint8_t *sel[255];
	unsigned int idx[255];

	assert_non_null(secret);
	assert_non_null(shares);
	assert_non_null(got);
	assert_int_equal(RAND_bytes(secret, (int)len), 1);
	assert_int_equal(shamir_split(secret, len, t, n, shares), ERR_OK);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(shares[(size_t)i * (len + 1)], i + 1);
	/* Any t shares, in any order, and more than t, reconstruct. */
	for (int r = 0; r < rounds; r++) {
		unsigned int k = t + (r % 2 ? rnd(n - t + 1) : 0);

		pick(n, k, idx);
		for (unsigned int i = 0; i < k; i++)
			sel[i] = shares + (size_t)idx[i] * (len + 1);
		assert_int_equal(shamir_combine(sel, k, len, got), ERR_OK);
		assert_memory_equal(got, secret, len);
	}
	/* t - 1 shares give something else (a 32-byte secret matches by chance with probability 2^-256). */
	if (t > 1 && len >= 16) {
		pick(n, t - 1, idx);
		for (unsigned int i = 0; i < t - 1; i++)
			sel[i] = shares + (size_t)idx[i] * (len + 1);
		assert_int_equal(shamir_combine(sel, t - 1, len, got), ERR_OK);
		assert_memory_not_equal(got, secret, len);
	}
	/* With t = 1 every share carries the secret itself. */
	if (t == 1)
		for (unsigned int i = 0; i < n; i++)
			assert_memory_equal(shares + (size_t)i * (len + 1) + 1, secret, len);
	free(secret);
	free(shares);
	free(got);
}

static void test_split_combine(void **state)
{
	static const unsigned int tn[][2] = {
		{ 1, 1 }, { 1, 5 }, { 2, 2 }, { 2, 3 }, { 3, 5 }, { 5, 5 }, { 4, 10 }, { 7, 20 }, { 100, 255 },
		{ 255, 255 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(tn) / sizeof(tn[0]); i++) {
		split_combine(tn[i][0], tn[i][1], 32, 20);
		split_combine(tn[i][0], tn[i][1], 1, 5);
	}
	split_combine(3, 5, 1000, 5);
}

/* Pearson's statistic of 256 byte-value counts against uniform. */
static double chi2(const unsigned int h[256], unsigned int total)
{
	double e = total / 256.0, x = 0;

	for (int i = 0; i < 256; i++)
		x += (h[i] - e) * (h[i] - e) / e;
	return x;
}

/*
 * Perfect secrecy, measured: with t = 3, any two shares of a one-byte secret
 * must look uniform and independent of the secret. 16384 splits per secret;
 * 255 degrees of freedom have mean 255 and s.d. ~22.6, so 420 is > 7 s.d.
 * (a false alarm is far rarer than one in a billion runs), while a sharing
 * that leaked the secret (or used fixed coefficients) lands in the thousands:
 * the check is run on such a distribution too, to show it can fail.
 */
static void test_t_minus_1_reveal_nothing(void **state)
{
	enum { N = 16384 };
	static const uint8_t secrets[] = { 0x00, 0xff, 0x5a };
	uint8_t sh[5 * 2], got;
	const uint8_t *sel[2];
	unsigned int h1[256], h2[256], hx[256], leak[256], hits;

	(void)state;
	for (size_t s = 0; s < sizeof(secrets); s++) {
		memset(h1, 0, sizeof(h1));
		memset(h2, 0, sizeof(h2));
		memset(hx, 0, sizeof(hx));
		memset(leak, 0, sizeof(leak));
		hits = 0;
		for (int i = 0; i < N; i++) {
			assert_int_equal(shamir_split(&secrets[s], 1, 3, 5, sh), ERR_OK);
			h1[sh[1]]++;            /* y at x = 1 */
			h2[sh[3]]++;            /* y at x = 2 */
			hx[sh[1] ^ sh[3]]++;    /* their relation */
			leak[secrets[s]]++;     /* what a sharing that exposed the secret would show */
			sel[0] = sh;
			sel[1] = sh + 2;
			assert_int_equal(shamir_combine(sel, 2, 1, &got), ERR_OK);
			hits += got == secrets[s];
		}
		assert_true(chi2(h1, N) < 420);
		assert_true(chi2(h2, N) < 420);
		assert_true(chi2(hx, N) < 420);
		assert_true(chi2(leak, N) > 420);
		/* Two shares "reconstruct" the secret only by chance: expected N/256 = 64, s.d. 8. */
		assert_true(hits > 16 && hits < 160);
	}
}

static void test_rejects(void **state)
{
	uint8_t secret[32] = { 1 }, shares[6 * 33], got[32];
	const uint8_t *sel[3];

	(void)state;
	assert_int_equal(shamir_split(secret, 32, 0, 3, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, 32, 4, 3, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, 32, 1, 0, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, 32, 2, 256, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, 0, 2, 3, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, SHAMIR_MAX_SECRET + 1, 2, 3, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(NULL, 32, 2, 3, shares), ERR_INVALID_ARG);
	assert_int_equal(shamir_split(secret, 32, 2, 3, NULL), ERR_INVALID_ARG);

	assert_int_equal(shamir_split(secret, 32, 2, 3, shares), ERR_OK);
	sel[0] = shares;
	sel[1] = shares + 33;
	sel[2] = shares + 66;
	assert_int_equal(shamir_combine(sel, 0, 32, got), ERR_INVALID_ARG);
	assert_int_equal(shamir_combine(sel, 2, 0, got), ERR_INVALID_ARG);
	assert_int_equal(shamir_combine(NULL, 2, 32, got), ERR_INVALID_ARG);
	assert_int_equal(shamir_combine(sel, 256, 32, got), ERR_INVALID_ARG);
	/* The same share twice, or a share at x = 0 (which would be the secret itself). */
	sel[1] = shares;
	assert_int_equal(shamir_combine(sel, 2, 32, got), ERR_PROTO_MALFORMED);
	memcpy(shares + 99, shares + 33, 33);
	shares[99] = 0;
	sel[1] = shares + 99;
	assert_int_equal(shamir_combine(sel, 2, 32, got), ERR_PROTO_MALFORMED);
	/* Two distinct shares with a relabelled x: accepted, and wrong, as documented (no integrity). */
	memcpy(shares + 132, shares + 33, 33);
	shares[132] = 7;
	sel[1] = shares + 132;
	assert_int_equal(shamir_combine(sel, 2, 32, got), ERR_OK);
	assert_memory_not_equal(got, secret, 32);
	sel[1] = shares + 33;
	assert_int_equal(shamir_combine(sel, 2, 32, got), ERR_OK);
	assert_memory_equal(got, secret, 32);
	/* Two splits of the same secret differ (random coefficients). */
	{
		uint8_t again[3 * 33];

		assert_int_equal(shamir_split(secret, 32, 2, 3, again), ERR_OK);
		assert_memory_not_equal(again, shares, 3 * 33);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gf256),
		cmocka_unit_test(test_split_combine),
		cmocka_unit_test(test_t_minus_1_reveal_nothing),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
