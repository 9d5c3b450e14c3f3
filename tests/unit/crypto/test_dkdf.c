/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto/dkdf: dstack's kdf.rs vector, HKDF-with-RATLS answers, PKCS#8/SPKI/PEM round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "dkdf.h"
#include "enc.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(got, n);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[512];

	assert_true(n <= sizeof(w));
	unhex(w, n, want);
	assert_memory_equal(got, w, n);
}

/* dstack ra-tls/src/kdf.rs: the root key as p256 to_pkcs8_der writes it, and derive_dh_secret's answer. */
static const char kat_root_der[] =
	"308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"
	"f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1"
	"a144034200"
	"0491f50522407ce29dce3ed7d31a15d80c1c42f13a23552d2b33a0ce09ee11e47b"
	"ce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36a690cbf930b775897b27";
static const char kat_scalar[] = "f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1";
static const char kat_dh_secret[] = "663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813";
static const char p256_order[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static void test_kdf_rs_vector(void **state)
{
	uint8_t der[P256_PKCS8_LEN], scalar[32], mine[P256_PKCS8_LEN], secret[32];
	const struct dkdf_part ctx[] = { DKDF_STR("context one"), DKDF_STR("context two") };

	(void)state;
	unhex(der, sizeof(der), kat_root_der);
	assert_int_equal(p256_scalar_from_pkcs8_der(der, sizeof(der), scalar), ERR_OK);
	assert_hex(scalar, 32, kat_scalar);
	/* Our writer reproduces the Rust encoding byte for byte. */
	assert_int_equal(p256_pkcs8_der(scalar, mine), ERR_OK);
	assert_memory_equal(mine, der, sizeof(der));
	assert_int_equal(dkdf_derive_dh_secret(scalar, 32, ctx, 2, secret), ERR_OK);
	assert_hex(secret, 32, kat_dh_secret);
	/* The parts are concatenated without separators. */
	{
		const struct dkdf_part joined[] = { DKDF_STR("context onecontext two") };
		const struct dkdf_part split[] = { DKDF_STR("context"), DKDF_STR(" onecontext t"), DKDF_STR("wo"),
						   { NULL, 0 } };
		uint8_t s2[32];

		assert_int_equal(dkdf_derive_dh_secret(scalar, 32, joined, 1, s2), ERR_OK);
		assert_memory_equal(s2, secret, 32);
		assert_int_equal(dkdf_derive_dh_secret(scalar, 32, split, 4, s2), ERR_OK);
		assert_memory_equal(s2, secret, 32);
	}
}

/* HKDF-SHA256 with salt "RATLS", from Python's cryptography HKDF (kdf.rs's own tests check only lengths). */
static void test_derive_key(void **state)
{
	const struct dkdf_part one[] = { DKDF_STR("context one") };
	uint8_t out[256], out2[256];

	(void)state;
	assert_int_equal(dkdf_derive_key("input key material", 18, one, 1, out, 32), ERR_OK);
	assert_hex(out, 32, "fa36cf7506230ec31faf491618f1758748eca2a0be078a40cfffde3736039ab9");
	assert_int_equal(dkdf_derive_key("input key material", 18, one, 1, out, 256), ERR_OK);
	assert_hex(out, 64,
		   "fa36cf7506230ec31faf491618f1758748eca2a0be078a40cfffde3736039ab9"
		   "338c8f54f687b31376ccbd4ef5862675ce5afe212ba9ea3cb89fae4410f13355");
	assert_hex(out + 224, 32, "e22cd16352a4dffc11f1ce4fffecb43a005197102efc18ed7dab2cbe4ab60009");
	assert_int_equal(dkdf_derive_key("input key material", 18, NULL, 0, out, 32), ERR_OK);
	assert_hex(out, 32, "e4f154b89621d27f58e945557a8e33a449e264581f234ae4edaa2c1ab304b303");
	/* Same as the plain HKDF primitive with the salt spelled out. */
	assert_int_equal(hkdf_sha256("RATLS", 5, "input key material", 18, "context one", 11, out2, 256), ERR_OK);
	assert_int_equal(dkdf_derive_key("input key material", 18, one, 1, out, 256), ERR_OK);
	assert_memory_equal(out, out2, 256);

	/* Bad arguments. */
	{
		const struct dkdf_part nullpart[] = { { NULL, 3 } };
		uint8_t *big = malloc(DKDF_MAX_OUT + 1);

		assert_non_null(big);
		assert_int_equal(dkdf_derive_key("k", 1, one, 1, out, 0), ERR_INVALID_ARG);
		assert_int_equal(dkdf_derive_key("k", 1, one, 1, big, DKDF_MAX_OUT), ERR_OK);
		assert_int_equal(dkdf_derive_key("k", 1, one, 1, big, DKDF_MAX_OUT + 1), ERR_INVALID_ARG);
		assert_int_equal(dkdf_derive_key("k", 1, nullpart, 1, out, 32), ERR_INVALID_ARG);
		assert_int_equal(dkdf_derive_key(NULL, 1, one, 1, out, 32), ERR_INVALID_ARG);
		assert_int_equal(dkdf_derive_key("k", 1, NULL, 1, out, 32), ERR_INVALID_ARG);
		free(big);
	}
}

static void test_scalar_range(void **state)
{
	uint8_t s[32], pub[65];

	(void)state;
	memset(s, 0, 32);
	assert_false(p256_scalar_is_valid(s));
	assert_int_equal(p256_pubkey(s, pub), ERR_KEY_RANGE);
	s[31] = 1;
	assert_true(p256_scalar_is_valid(s));
	unhex(s, 32, p256_order);
	assert_false(p256_scalar_is_valid(s));
	assert_int_equal(p256_pubkey(s, pub), ERR_KEY_RANGE);
	s[31]++;   /* n + 1 */
	assert_false(p256_scalar_is_valid(s));
	s[31] -= 2;   /* n - 1 */
	assert_true(p256_scalar_is_valid(s));
	assert_int_equal(p256_pubkey(s, pub), ERR_OK);
	/* (n-1)G = -G: G's x, the other y. */
	assert_hex(pub, 33, "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
	memset(s, 0xff, 32);
	assert_false(p256_scalar_is_valid(s));
	/* Top bytes equal to n's, lower ones decide. */
	unhex(s, 32, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
	assert_true(p256_scalar_is_valid(s));
	unhex(s, 32, "ffffffff00000000ffffffffffffffffbce6faada7179e85f3b9cac2fc632550");
	assert_false(p256_scalar_is_valid(s));
	assert_int_equal(p256_scalar_random(s), ERR_OK);
	assert_true(p256_scalar_is_valid(s));
}

static void test_pkey_round_trip(void **state)
{
	uint8_t s[32], back[32], der[P256_PKCS8_LEN], spki[P256_SPKI_LEN], pub[65], sig[64], xy[64];
	size_t xy_len = 0;
	EVP_PKEY *k, *pubk;
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *ossl = NULL, *q;
	int n;

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(p256_scalar_random(s), ERR_OK);
		k = p256_pkey_from_scalar(s);
		assert_non_null(k);
		assert_int_equal(p256_scalar_from_pkey(k, back), ERR_OK);
		assert_memory_equal(back, s, 32);

		/* OpenSSL's own PKCS#8 and SPKI encoders write exactly our fixed layouts. */
		assert_int_equal(p256_pkcs8_der(s, der), ERR_OK);
		p8 = EVP_PKEY2PKCS8(k);
		assert_non_null(p8);
		ossl = NULL;
		n = i2d_PKCS8_PRIV_KEY_INFO(p8, &ossl);
		assert_int_equal(n, P256_PKCS8_LEN);
		assert_memory_equal(ossl, der, P256_PKCS8_LEN);
		OPENSSL_clear_free(ossl, (size_t)n);
		PKCS8_PRIV_KEY_INFO_free(p8);
		assert_int_equal(p256_spki_der(s, spki), ERR_OK);
		ossl = NULL;
		n = i2d_PUBKEY(k, &ossl);
		assert_int_equal(n, P256_SPKI_LEN);
		assert_memory_equal(ossl, spki, P256_SPKI_LEN);
		OPENSSL_free(ossl);

		/* The key signs, and its public half (from our point) verifies. */
		assert_int_equal(ecdsa_sign_p256_sha256(k, "m", 1, sig), ERR_OK);
		assert_int_equal(p256_pubkey(s, pub), ERR_OK);
		pubk = ec_p256_pubkey_from_xy(pub + 1);
		assert_non_null(pubk);
		assert_int_equal(ecdsa_verify_p256_sha256(pubk, sig, "m", 1), ERR_OK);
		assert_int_equal(ec_pubkey_xy(k, xy, sizeof(xy), &xy_len), ERR_OK);
		assert_memory_equal(xy, pub + 1, 64);
		/* A public key has no scalar. */
		assert_int_equal(p256_scalar_from_pkey(pubk, back), ERR_INVALID_ARG);
		assert_int_equal(p256_spki_der_from_pub(pub, der), ERR_OK);
		assert_memory_equal(der, spki, P256_SPKI_LEN);
		/* DER parse back. */
		assert_int_equal(p256_pkcs8_der(s, der), ERR_OK);
		q = der;
		assert_int_equal(p256_scalar_from_pkcs8_der(q, sizeof(der), back), ERR_OK);
		assert_memory_equal(back, s, 32);
		EVP_PKEY_free(pubk);
		EVP_PKEY_free(k);
	}
	assert_int_equal(p256_scalar_from_pkey(NULL, back), ERR_INVALID_ARG);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(k);
	assert_int_equal(p256_scalar_from_pkey(k, back), ERR_INVALID_ARG);
	EVP_PKEY_free(k);
	memset(s, 0, 32);
	assert_null(p256_pkey_from_scalar(s));
	/* A point off the curve has no SPKI. */
	assert_int_equal(p256_scalar_random(s), ERR_OK);
	assert_int_equal(p256_pubkey(s, pub), ERR_OK);
	pub[64] ^= 1;
	assert_int_equal(p256_spki_der_from_pub(pub, spki), ERR_PROTO_MALFORMED);
	pub[64] ^= 1;
	pub[0] = 0x02;
	assert_int_equal(p256_spki_der_from_pub(pub, spki), ERR_PROTO_MALFORMED);
}

/* PKCS#8 DER of a key OpenSSL generates for `alg` (P-384, ed25519, ...); caller frees. */
static uint8_t *ossl_pkcs8(EVP_PKEY *k, int *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;

	assert_non_null(p8);
	*len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	assert_true(*len > 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return der;
}

static void test_pkcs8_parse_rejects(void **state)
{
	uint8_t der[P256_PKCS8_LEN + 1], s[32];
	uint8_t *other;
	int olen;
	EVP_PKEY *k;

	(void)state;
	unhex(der, P256_PKCS8_LEN, kat_root_der);
	/* Trailing byte, truncation, empty. */
	der[P256_PKCS8_LEN] = 0;
	assert_int_equal(p256_scalar_from_pkcs8_der(der, P256_PKCS8_LEN + 1, s), ERR_PROTO_MALFORMED);
	assert_int_equal(p256_scalar_from_pkcs8_der(der, P256_PKCS8_LEN - 1, s), ERR_PROTO_MALFORMED);
	assert_int_equal(p256_scalar_from_pkcs8_der(der, 0, s), ERR_PROTO_MALFORMED);
	assert_int_equal(p256_scalar_from_pkcs8_der(NULL, 10, s), ERR_PROTO_MALFORMED);
	/* A public key that does not belong to the scalar (still on the curve: the generator's). */
	{
		uint8_t one[32], g[65];

		memset(one, 0, 32);
		one[31] = 1;
		assert_int_equal(p256_pubkey(one, g), ERR_OK);
		memcpy(der + P256_PKCS8_LEN - 65, g, 65);
		assert_int_equal(p256_scalar_from_pkcs8_der(der, P256_PKCS8_LEN, s), ERR_PROTO_MALFORMED);
	}
	/* Other curves and key types. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	other = ossl_pkcs8(k, &olen);
	assert_int_equal(p256_scalar_from_pkcs8_der(other, (size_t)olen, s), ERR_PROTO_MALFORMED);
	OPENSSL_free(other);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	other = ossl_pkcs8(k, &olen);
	assert_int_equal(p256_scalar_from_pkcs8_der(other, (size_t)olen, s), ERR_PROTO_MALFORMED);
	OPENSSL_free(other);
	EVP_PKEY_free(k);
	/* A P-256 key OpenSSL generated (its own encoding choices) parses. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other = ossl_pkcs8(k, &olen);
	assert_int_equal(p256_scalar_from_pkcs8_der(other, (size_t)olen, s), ERR_OK);
	{
		uint8_t s2[32];

		assert_int_equal(p256_scalar_from_pkey(k, s2), ERR_OK);
		assert_memory_equal(s, s2, 32);
	}
	OPENSSL_free(other);
	EVP_PKEY_free(k);
}

static void test_pem(void **state)
{
	uint8_t s[32], back[32];
	char pem[P256_PKCS8_PEM_MAX], buf[1024];
	size_t len = 0;
	EVP_PKEY *k;
	BIO *bio;
	char *ossl;
	long olen;

	(void)state;
	unhex(s, 32, kat_scalar);
	assert_int_equal(p256_pkcs8_pem(s, pem, sizeof(pem), &len), ERR_OK);
	assert_int_equal(len, strlen(pem));
	/* Python: base64 of the kdf.rs DER, first line. */
	assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9XUnzqSrf/tJr5mx\n",
			    28 + 65) == 0);
	assert_int_equal(p256_scalar_from_pem(pem, len, back), ERR_OK);
	assert_memory_equal(back, s, 32);
	assert_int_equal(p256_pkcs8_pem(s, pem, P256_PKCS8_PEM_MAX - 1, &len), ERR_INVALID_ARG);

	/* Byte-identical to OpenSSL's PEM writer. */
	k = p256_pkey_from_scalar(s);
	assert_non_null(k);
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
	olen = BIO_get_mem_data(bio, &ossl);
	assert_int_equal((size_t)olen, len);
	assert_memory_equal(ossl, pem, len);
	BIO_free(bio);
	EVP_PKEY_free(k);

	/* Surrounding whitespace is fine; anything else is not. */
	snprintf(buf, sizeof(buf), "\n  %s\n\n", pem);
	assert_int_equal(p256_scalar_from_pem(buf, strlen(buf), back), ERR_OK);
	snprintf(buf, sizeof(buf), "junk\n%s", pem);
	assert_int_equal(p256_scalar_from_pem(buf, strlen(buf), back), ERR_PROTO_MALFORMED);
	snprintf(buf, sizeof(buf), "%sjunk\n", pem);
	assert_int_equal(p256_scalar_from_pem(buf, strlen(buf), back), ERR_PROTO_MALFORMED);
	snprintf(buf, sizeof(buf), "%s%s", pem, pem);
	assert_int_equal(p256_scalar_from_pem(buf, strlen(buf), back), ERR_PROTO_MALFORMED);
	assert_int_equal(p256_scalar_from_pem("", 0, back), ERR_PROTO_MALFORMED);
	/* SEC1 "EC PRIVATE KEY" is not PKCS#8. */
	{
		char *sec1 = strdup(pem), *p;

		assert_non_null(sec1);
		snprintf(buf, sizeof(buf), "-----BEGIN EC PRIVATE KEY-----\n%s", strchr(sec1, '\n') + 1);
		p = strstr(buf, "-----END PRIVATE KEY-----");
		assert_non_null(p);
		memcpy(p, "-----END EC PRIVATE KEY-----\n", 30);
		assert_int_equal(p256_scalar_from_pem(buf, strlen(buf), back), ERR_PROTO_MALFORMED);
		free(sec1);
	}
	/* Corrupt base64 inside the block. */
	memcpy(buf, pem, len + 1);
	buf[40] = '*';
	assert_int_equal(p256_scalar_from_pem(buf, len, back), ERR_PROTO_MALFORMED);
}

static void test_derive_p256(void **state)
{
	const struct dkdf_part a[] = { DKDF_STR("app"), DKDF_STR("app-ca") }, b[] = { DKDF_STR("app-ca") };
	uint8_t s[32], s2[32], raw[32];

	(void)state;
	assert_int_equal(dkdf_derive_p256("root", 4, a, 2, s), ERR_OK);
	assert_true(p256_scalar_is_valid(s));
	/* It is derive_key's output itself, not reduced or hashed again. */
	assert_int_equal(dkdf_derive_key("root", 4, a, 2, raw, 32), ERR_OK);
	assert_memory_equal(s, raw, 32);
	assert_int_equal(dkdf_derive_p256("root", 4, b, 1, s2), ERR_OK);
	assert_memory_not_equal(s, s2, 32);
	assert_int_equal(dkdf_derive_p256("root", 4, a, 2, s2), ERR_OK);
	assert_memory_equal(s, s2, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kdf_rs_vector),
		cmocka_unit_test(test_derive_key),
		cmocka_unit_test(test_scalar_range),
		cmocka_unit_test(test_pkey_round_trip),
		cmocka_unit_test(test_pkcs8_parse_rejects),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_derive_p256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
