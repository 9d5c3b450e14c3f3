/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto/x25519: RFC 7748 and GCM-spec vectors, tag checks, dstack .encrypted-env seal/open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "x25519.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(got, n);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[256];

	assert_true(n <= sizeof(w));
	unhex(w, n, want);
	assert_memory_equal(got, w, n);
}

static void assert_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

/* RFC 7748 section 6.1. */
static const char alice_sk[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pk[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_sk[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pk[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared_k[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static void test_rfc7748(void **state)
{
	uint8_t a[32], b[32], pa[32], pb[32], k1[32], k2[32];

	(void)state;
	unhex(a, 32, alice_sk);
	unhex(b, 32, bob_sk);
	assert_int_equal(x25519_public_key(a, pa), ERR_OK);
	assert_hex(pa, 32, alice_pk);
	assert_int_equal(x25519_public_key(b, pb), ERR_OK);
	assert_hex(pb, 32, bob_pk);
	assert_int_equal(x25519_shared_secret(a, pb, k1), ERR_OK);
	assert_hex(k1, 32, shared_k);
	assert_int_equal(x25519_shared_secret(b, pa, k2), ERR_OK);
	assert_hex(k2, 32, shared_k);
	/* Clamping happens inside: the bits it clears do not change the key. */
	a[0] |= 7;
	a[31] |= 0x80;
	assert_int_equal(x25519_public_key(a, pa), ERR_OK);
	assert_hex(pa, 32, alice_pk);

	/* Small-order peer points give an all-zero secret: refused (RFC 7748 section 6.1). */
	memset(pb, 0, 32);
	memset(k1, 0xaa, 32);
	assert_int_equal(x25519_shared_secret(a, pb, k1), ERR_CRYPTO);
	assert_zero(k1, 32);
	pb[0] = 1;
	assert_int_equal(x25519_shared_secret(a, pb, k1), ERR_CRYPTO);
}

/* The GCM specification's AES-256 test cases 13, 14 and 16 (McGrew & Viega), also checked with Python. */
static void test_gcm_vectors(void **state)
{
	uint8_t key[32], iv[12], pt[64], ct[80], back[80], aad[20];

	(void)state;
	memset(key, 0, 32);
	memset(iv, 0, 12);
	assert_int_equal(aes256gcm_seal(key, iv, NULL, 0, NULL, 0, ct), ERR_OK);
	assert_hex(ct, 16, "530f8afbc74536b9a963b4f1c4cb738b");
	assert_int_equal(aes256gcm_open(key, iv, NULL, 0, ct, 16, back), ERR_OK);

	memset(pt, 0, 16);
	assert_int_equal(aes256gcm_seal(key, iv, NULL, 0, pt, 16, ct), ERR_OK);
	assert_hex(ct, 32, "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");

	unhex(key, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
	unhex(iv, 12, "cafebabefacedbaddecaf888");
	unhex(pt, 60,
	      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
	unhex(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
	assert_int_equal(aes256gcm_seal(key, iv, aad, 20, pt, 60, ct), ERR_OK);
	assert_hex(ct, 76,
		   "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		   "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
		   "76fc6ece0f4e1768cddf8853bb2d551b");
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 76, back), ERR_OK);
	assert_memory_equal(back, pt, 60);

	/* Any flipped bit in ciphertext, tag, AAD or IV fails with the tag error and no plaintext. */
	for (size_t bit = 0; bit < 76 * 8; bit += 5) {
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(back, 0x55, sizeof(back));
		assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 76, back), ERR_PROTO_DECRYPT);
		assert_zero(back, 60);
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	aad[19] ^= 1;
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 76, back), ERR_PROTO_DECRYPT);
	aad[19] ^= 1;
	assert_int_equal(aes256gcm_open(key, iv, aad, 19, ct, 76, back), ERR_PROTO_DECRYPT);
	assert_int_equal(aes256gcm_open(key, iv, NULL, 0, ct, 76, back), ERR_PROTO_DECRYPT);
	iv[0] ^= 1;
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 76, back), ERR_PROTO_DECRYPT);
	iv[0] ^= 1;
	/* Truncation: dropping bytes moves the tag. */
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 75, back), ERR_PROTO_DECRYPT);
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 15, back), ERR_PROTO_TRUNCATED);
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, NULL, 76, back), ERR_INVALID_ARG);
	assert_int_equal(aes256gcm_seal(key, iv, aad, 20, NULL, 5, ct), ERR_INVALID_ARG);

	/* In place. */
	memcpy(back, pt, 60);
	assert_int_equal(aes256gcm_seal(key, iv, aad, 20, back, 60, back), ERR_OK);
	assert_memory_equal(back, ct, 60);
	memcpy(ct, back, 60);
	assert_int_equal(aes256gcm_open(key, iv, aad, 20, ct, 76, ct), ERR_OK);
	assert_memory_equal(ct, pt, 60);
}

/*
 * .encrypted-env with ephemeral = Alice, recipient = Bob, IV 00..0b: the key
 * is RFC 7748's shared secret; ciphertext || tag from Python's AESGCM.
 */
static void test_env_known_answer(void **state)
{
	static const char env[] = "{\"env\":[{\"key\":\"A\",\"value\":\"b\"}]}";
	uint8_t eph[32], bpub[32], bsk[32], iv[12], out[128], back[128];
	size_t n = 0, m = 0, len = sizeof(env) - 1;

	(void)state;
	unhex(eph, 32, alice_sk);
	unhex(bpub, 32, bob_pk);
	unhex(bsk, 32, bob_sk);
	for (int i = 0; i < 12; i++)
		iv[i] = (uint8_t)i;
	assert_int_equal(dstack_env_encrypt_with(bpub, eph, iv, env, len, out, sizeof(out), &n), ERR_OK);
	assert_int_equal(n, len + DSTACK_ENV_OVERHEAD);
	assert_hex(out, 32, alice_pk);
	assert_memory_equal(out + 32, iv, 12);
	assert_hex(out + 44, len + 16,
		   "45fcd10e9301ba110d6d046cf609be1c067f4a00016c87acbe7d6d4756001fb2112d8b6365650daeaaef3c08cf7cf0e0f6");
	assert_int_equal(dstack_env_decrypt(bsk, out, n, back, sizeof(back), &m), ERR_OK);
	assert_int_equal(m, len);
	assert_memory_equal(back, env, len);
	/* Exactly the room needed is enough; one byte less is not. */
	assert_int_equal(dstack_env_encrypt_with(bpub, eph, iv, env, len, out, len + DSTACK_ENV_OVERHEAD - 1, &n),
			 ERR_INVALID_ARG);
	assert_int_equal(dstack_env_decrypt(bsk, out, len + DSTACK_ENV_OVERHEAD, back, len - 1, &m), ERR_INVALID_ARG);
	assert_int_equal(dstack_env_decrypt(bsk, out, len + DSTACK_ENV_OVERHEAD, back, len, &m), ERR_OK);
}

static void test_env_round_trip_and_tamper(void **state)
{
	uint8_t sk[32], pub[32], other[32], blob[300], back[300], t[300];
	char pt[240];
	size_t n = 0, m = 0;
	err_t e;

	(void)state;
	memset(sk, 0x11, 32);
	memset(other, 0x22, 32);
	assert_int_equal(x25519_public_key(sk, pub), ERR_OK);
	for (size_t len = 0; len < sizeof(pt); len += 37) {
		memset(pt, 'a' + (int)(len % 26), len);
		assert_int_equal(dstack_env_encrypt(pub, pt, len, blob, sizeof(blob), &n), ERR_OK);
		assert_int_equal(n, len + 60);
		assert_int_equal(dstack_env_decrypt(sk, blob, n, back, sizeof(back), &m), ERR_OK);
		assert_int_equal(m, len);
		if (len)
			assert_memory_equal(back, pt, len);
		/* Fresh ephemeral key and IV each time. */
		{
			uint8_t blob2[300];
			size_t n2 = 0;

			assert_int_equal(dstack_env_encrypt(pub, pt, len, blob2, sizeof(blob2), &n2), ERR_OK);
			assert_memory_not_equal(blob, blob2, 44);
		}
	}
	/* Every single-byte change is caught: the ephemeral key (another shared key), IV, ciphertext, tag. */
	n = 0;
	assert_int_equal(dstack_env_encrypt(pub, "{\"env\":[]}", 10, blob, sizeof(blob), &n), ERR_OK);
	for (size_t pos = 0; pos < n; pos++) {
		memcpy(t, blob, n);
		t[pos] ^= 0x01;
		memset(back, 0x55, 10);
		e = dstack_env_decrypt(sk, t, n, back, sizeof(back), &m);
		if (pos < 32)
			assert_true(e == ERR_PROTO_DECRYPT || e == ERR_CRYPTO);
		else
			assert_int_equal(e, ERR_PROTO_DECRYPT);
		assert_zero(back, 10);
	}
	/* X25519 ignores the top bit of a u-coordinate (RFC 7748 section 5), as x25519-dalek and noble do. */
	memcpy(t, blob, n);
	t[31] ^= 0x80;
	assert_int_equal(dstack_env_decrypt(sk, t, n, back, sizeof(back), &m), ERR_OK);
	assert_int_equal(dstack_env_decrypt(other, blob, n, back, sizeof(back), &m), ERR_PROTO_DECRYPT);
	assert_int_equal(dstack_env_decrypt(sk, blob, n - 1, back, sizeof(back), &m), ERR_PROTO_DECRYPT);
	assert_int_equal(dstack_env_decrypt(sk, blob, DSTACK_ENV_OVERHEAD - 1, back, sizeof(back), &m),
			 ERR_PROTO_TRUNCATED);
	assert_int_equal(dstack_env_decrypt(sk, blob, 0, back, sizeof(back), &m), ERR_PROTO_TRUNCATED);
	assert_int_equal(dstack_env_decrypt(sk, NULL, n, back, sizeof(back), &m), ERR_INVALID_ARG);
	/* A small-order ephemeral key. */
	memcpy(t, blob, n);
	memset(t, 0, 32);
	assert_int_equal(dstack_env_decrypt(sk, t, n, back, sizeof(back), &m), ERR_CRYPTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7748),
		cmocka_unit_test(test_gcm_vectors),
		cmocka_unit_test(test_env_known_answer),
		cmocka_unit_test(test_env_round_trip_and_tamper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
