/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto/k256: known vectors from ethers, sign/recover round trips, malformed signatures and keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto.h"
#include "enc.h"
#include "k256.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, hex, strlen(hex), 1), ERR_OK);
	assert_int_equal(got, n);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[128];

	assert_true(n <= sizeof(w));
	unhex(w, n, want);
	assert_memory_equal(got, w, n);
}

static const char order_hex[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

/* out = n - v (big-endian, 32 bytes), for building the high-s twin of a signature. */
static void order_minus(const uint8_t v[32], uint8_t out[32])
{
	uint8_t n[32];
	int borrow = 0;

	unhex(n, 32, order_hex);
	for (int i = 31; i >= 0; i--) {
		int d = (int)n[i] - (int)v[i] - borrow;
		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

static void test_secret_validity(void **state)
{
	uint8_t sk[32], sk2[32];

	(void)state;
	memset(sk, 0, 32);
	assert_false(k256_secret_is_valid(sk));
	sk[31] = 1;
	assert_true(k256_secret_is_valid(sk));
	unhex(sk, 32, order_hex);
	assert_false(k256_secret_is_valid(sk));
	sk[31]--;   /* n - 1 */
	assert_true(k256_secret_is_valid(sk));
	memset(sk, 0xff, 32);
	assert_false(k256_secret_is_valid(sk));
	assert_false(k256_secret_is_valid(NULL));

	assert_int_equal(k256_secret_random(sk), ERR_OK);
	assert_int_equal(k256_secret_random(sk2), ERR_OK);
	assert_true(k256_secret_is_valid(sk));
	assert_memory_not_equal(sk, sk2, 32);
}

/* The generator and the well-known address of secret 1; ethers 6.17 for secret 0x01 * 32. */
static void test_known_keys(void **state)
{
	uint8_t sk[32], pub[33], full[65], addr[20];

	(void)state;
	memset(sk, 0, 32);
	sk[31] = 1;
	assert_int_equal(k256_pubkey(sk, pub), ERR_OK);
	assert_hex(pub, 33, "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
	assert_int_equal(k256_pubkey_full(sk, full), ERR_OK);
	assert_hex(full, 65,
		   "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
		   "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
	assert_int_equal(k256_address_of_secret(sk, addr), ERR_OK);
	assert_hex(addr, 20, "7e5f4552091a69125d5dfcb7b8c2659029395bdf");

	memset(sk, 0x01, 32);
	assert_int_equal(k256_pubkey(sk, pub), ERR_OK);
	assert_hex(pub, 33, "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
	assert_int_equal(k256_pubkey_full(sk, full), ERR_OK);
	assert_hex(full, 65,
		   "041b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
		   "70beaf8f588b541507fed6a642c5ab42dfdf8120a7f639de5122d47a69a8e8d1");
	assert_int_equal(k256_address_of_secret(sk, addr), ERR_OK);
	assert_hex(addr, 20, "1a642f0e3c3af545e7acbd38b07251b3990914f1");
	/* The address from either encoding of the public key. */
	memset(addr, 0, 20);
	assert_int_equal(k256_address(pub, 33, addr), ERR_OK);
	assert_hex(addr, 20, "1a642f0e3c3af545e7acbd38b07251b3990914f1");
	memset(addr, 0, 20);
	assert_int_equal(k256_address(full, 65, addr), ERR_OK);
	assert_hex(addr, 20, "1a642f0e3c3af545e7acbd38b07251b3990914f1");

	memset(sk, 0, 32);
	assert_int_equal(k256_pubkey(sk, pub), ERR_KEY_RANGE);
	assert_int_equal(k256_pubkey_full(sk, full), ERR_KEY_RANGE);
	assert_int_equal(k256_address_of_secret(sk, addr), ERR_KEY_RANGE);
}

/*
 * ethers 6.17: new SigningKey(0x01 * 32).sign(keccak256("dstack")). RFC 6979
 * makes the signature deterministic, so ours must be byte-identical.
 */
static void test_sign_known_vector(void **state)
{
	uint8_t sk[32], h[32], sig[65], pub[33];

	(void)state;
	memset(sk, 0x01, 32);
	keccak256("dstack", 6, h);
	assert_hex(h, 32, "41fecff1c377f0460e6e4e17152839d07c9c27cd0ed924a8c5cc569a4e3e093a");
	assert_int_equal(k256_sign(sk, h, sig), ERR_OK);
	assert_hex(sig, 65,
		   "15a9d1dc1394e73b85e5d9b1a3effab6340fa03bd6d98b93d20157596df2302b"
		   "32d5dfc3bbcc2d7980accd610340558bb859588e2cb2fb5d310ee22b42453b10"
		   "00");
	assert_int_equal(k256_recover(h, sig, pub), ERR_OK);
	assert_hex(pub, 33, "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
}

static void test_sign_recover_round_trip(void **state)
{
	uint8_t sk[32], h[32], sig[65], sig2[65], pub[33], got[33];
	int seen[2] = { 0, 0 };

	(void)state;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(k256_secret_random(sk), ERR_OK);
		assert_int_equal(RAND_bytes(h, 32), 1);
		assert_int_equal(k256_pubkey(sk, pub), ERR_OK);
		assert_int_equal(k256_sign(sk, h, sig), ERR_OK);
		assert_true(sig[64] <= 1);
		seen[sig[64]]++;
		assert_int_equal(k256_recover(h, sig, got), ERR_OK);
		assert_memory_equal(got, pub, 33);
		/* Deterministic. */
		assert_int_equal(k256_sign(sk, h, sig2), ERR_OK);
		assert_memory_equal(sig, sig2, 65);
		/* Another digest recovers another key. */
		h[i % 32] ^= 1;
		assert_int_equal(k256_recover(h, sig, got), ERR_OK);
		assert_memory_not_equal(got, pub, 33);
	}
	/* Both recovery ids occur (each with probability 1/2). */
	assert_true(seen[0] > 0 && seen[1] > 0);
}

static void test_recover_rejects(void **state)
{
	uint8_t sk[32], h[32], sig[65], bad[65], pub[33], n[32];

	(void)state;
	memset(sk, 0x01, 32);
	keccak256("dstack", 6, h);
	assert_int_equal(k256_sign(sk, h, sig), ERR_OK);
	unhex(n, 32, order_hex);

	/* v must be the recovery id 0/1: not 2, 3, nor Ethereum's 27/28. */
	for (unsigned int v = 2; v < 256; v++) {
		memcpy(bad, sig, 65);
		bad[64] = (uint8_t)v;
		assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	}
	/* r or s zero, equal to n, or all ones. */
	memcpy(bad, sig, 65);
	memset(bad, 0, 32);
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	memcpy(bad, sig, 65);
	memset(bad + 32, 0, 32);
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	memcpy(bad, sig, 65);
	memcpy(bad, n, 32);
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	memcpy(bad, sig, 65);
	memcpy(bad + 32, n, 32);
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	memset(bad, 0xff, 64);
	bad[64] = 0;
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	/* The malleable twin (r, n - s, v ^ 1) is valid ECDSA but high-s: refused as k256 refuses it. */
	memcpy(bad, sig, 65);
	order_minus(sig + 32, bad + 32);
	bad[64] ^= 1;
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
	/* An r that is no x-coordinate on the curve recovers nothing. */
	memcpy(bad, sig, 65);
	memset(bad, 0, 31);
	bad[31] = 5;   /* x = 5: 125 + 7 = 132 is not a square mod p */
	assert_int_equal(k256_recover(h, bad, pub), ERR_PROTO_SIGNATURE);
}

static void test_sign_rejects_bad_secret(void **state)
{
	uint8_t sk[32], h[32], sig[65];

	(void)state;
	memset(h, 0x42, 32);
	memset(sk, 0, 32);
	memset(sig, 0xaa, 65);
	assert_int_equal(k256_sign(sk, h, sig), ERR_KEY_RANGE);
	for (size_t i = 0; i < 65; i++)
		assert_int_equal(sig[i], 0);
	unhex(sk, 32, order_hex);
	assert_int_equal(k256_sign(sk, h, sig), ERR_KEY_RANGE);
}

static void test_pubkey_encodings(void **state)
{
	uint8_t sk[32], pub[33], full[65], c[33], f[65], bad[65], addr[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(k256_secret_random(sk), ERR_OK);
		assert_int_equal(k256_pubkey(sk, pub), ERR_OK);
		assert_int_equal(k256_pubkey_full(sk, full), ERR_OK);
		assert_int_equal(k256_pubkey_compress(full, 65, c), ERR_OK);
		assert_memory_equal(c, pub, 33);
		assert_int_equal(k256_pubkey_compress(pub, 33, c), ERR_OK);
		assert_memory_equal(c, pub, 33);
		assert_int_equal(k256_pubkey_decompress(pub, 33, f), ERR_OK);
		assert_memory_equal(f, full, 65);
	}
	/* Wrong lengths, prefixes (including libsecp256k1's hybrid 06/07), and points off the curve. */
	assert_int_equal(k256_pubkey_compress(pub, 32, c), ERR_PROTO_MALFORMED);
	assert_int_equal(k256_pubkey_compress(full, 64, c), ERR_PROTO_MALFORMED);
	assert_int_equal(k256_pubkey_compress(NULL, 33, c), ERR_PROTO_MALFORMED);
	memcpy(bad, pub, 33);
	bad[0] = 0x04;
	assert_int_equal(k256_pubkey_compress(bad, 33, c), ERR_PROTO_MALFORMED);
	memcpy(bad, full, 65);
	bad[0] = (uint8_t)(0x06 | (full[64] & 1));
	assert_int_equal(k256_pubkey_compress(bad, 65, c), ERR_PROTO_MALFORMED);
	bad[0] = 0x02;
	assert_int_equal(k256_pubkey_compress(bad, 65, c), ERR_PROTO_MALFORMED);
	memcpy(bad, full, 65);
	bad[64] ^= 1;
	assert_int_equal(k256_pubkey_decompress(bad, 65, f), ERR_PROTO_MALFORMED);
	assert_int_equal(k256_address(bad, 65, addr), ERR_PROTO_MALFORMED);
	memset(bad, 0, 33);
	bad[0] = 0x02;
	bad[32] = 5;   /* x = 5 is not on the curve */
	assert_int_equal(k256_pubkey_decompress(bad, 33, f), ERR_PROTO_MALFORMED);
}

/* The shared context is created once and then only read: hammer it from several threads. */
static void *sign_worker(void *arg)
{
	uint8_t sk[32], h[32], sig[65], pub[33], got[33];
	int *ok = arg;

	*ok = 1;
	for (int i = 0; i < 100; i++) {
		if (k256_secret_random(sk) != ERR_OK || RAND_bytes(h, 32) != 1 || k256_pubkey(sk, pub) != ERR_OK ||
		    k256_sign(sk, h, sig) != ERR_OK || k256_recover(h, sig, got) != ERR_OK || memcmp(got, pub, 33) != 0)
			*ok = 0;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	int ok[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sign_worker, &ok[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(ok[i], 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_validity),
		cmocka_unit_test(test_known_keys),
		cmocka_unit_test(test_sign_known_vector),
		cmocka_unit_test(test_sign_recover_round_trip),
		cmocka_unit_test(test_recover_rejects),
		cmocka_unit_test(test_sign_rejects_bad_secret),
		cmocka_unit_test(test_pubkey_encodings),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
