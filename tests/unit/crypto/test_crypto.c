/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto: hash and HKDF known answers, Keccak-256 vectors, ECDSA edge cases, certificate parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "enc.h"

/* Hex to bytes for the known-answer vectors; the length must match exactly. */
static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(got, n);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[128];

	assert_true(n <= sizeof(w));
	unhex(w, n, want);
	assert_memory_equal(got, w, n);
}

/* Two self-signed P-256 certificates and a CRL from the first, made once with the openssl CLI. */
static const char cert1_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfzCCASWgAwIBAgIUb5lsFpKpviIgeKF5yz48pHqSyIkwCgYIKoZIzj0EAwIw\n"
	"FDESMBAGA1UEAwwJZHMtdGVzdC0xMCAXDTI2MTEyMjAxMjY0MVoYDzIxMjYxMDI5\n"
	"MDEyNjQxWjAUMRIwEAYDVQQDDAlkcy10ZXN0LTEwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAATCUo70PB3rPSxB6mKCJ0KJIx14W7k+HR4LJMgktpZb4lkNekdVQR5q\n"
	"nLAAbnOd72LXWX5FMFF7JY4nCuduVFTPo1MwUTAdBgNVHQ4EFgQUPA409ZVTUYCa\n"
	"rcGC8+Olw55CwbgwHwYDVR0jBBgwFoAUPA409ZVTUYCarcGC8+Olw55CwbgwDwYD\n"
	"VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAbrgcjo3rPJnzfilvf4PtM\n"
	"dJht2jD+XVyCbGjA+f0MAwIhAK3Jr2CDjquCAd5Pm0FX5dsLrFZGaiew8P1S4cPr\n"
	"n0ui\n"
	"-----END CERTIFICATE-----\n"
;

static const char cert2_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfjCCASWgAwIBAgIUTk8zKciqWqrpvWVdCJh6Ae39N7owCgYIKoZIzj0EAwIw\n"
	"FDESMBAGA1UEAwwJZHMtdGVzdC0yMCAXDTI2MTEyMjAxMjY0MVoYDzIxMjYxMDI5\n"
	"MDEyNjQxWjAUMRIwEAYDVQQDDAlkcy10ZXN0LTIwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAAQQkoiDMmUC9BBalgVSGBJPZhkGT1+bJDyV+CRzx5qTEcYM+di0BMYW\n"
	"E4vZquG0fCUKcoqOdbiiQv7W0/UladP1o1MwUTAdBgNVHQ4EFgQUAGudn1Z362Yo\n"
	"Tw6SLPMHrhzOK4QwHwYDVR0jBBgwFoAUAGudn1Z362YoTw6SLPMHrhzOK4QwDwYD\n"
	"VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBC2NVfpuTnUIUtZGB9tZNn\n"
	"CUy7m+g+bBLdQGZNR8gFNAIgcsKzOXu2GjEZ9LbOo2lQHO170jNtYVe32nBNe/sp\n"
	"MA8=\n"
	"-----END CERTIFICATE-----\n"
;

static const char crl_pem[] =
	"-----BEGIN X509 CRL-----\n"
	"MIGrMFUCAQEwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJZHMtdGVzdC0xFw0yNjEx\n"
	"MjIwMTI2NDNaGA8yMTI2MTAyOTAxMjY0M1qgDjAMMAoGA1UdFAQDAgEBMAoGCCqG\n"
	"SM49BAMCA0YAMEMCICeNaRab0h92rag4xfS4LhRTCqo7sgzrNqDznb4PRqoIAh9M\n"
	"DFWfeGv1KEW1inoijsnmWMnrEDQgZ2iEnXLBJ2sg\n"
	"-----END X509 CRL-----\n"
;

/* cert1's public key x||y, and `openssl dgst -sha256 -sign` of "dstack" by its key, converted to r||s. */
static const char cert1_xy[] =
	"c2528ef43c1deb3d2c41ea6282274289231d785bb93e1d1e0b24c824b6965be2"
	"590d7a4755411e6a9cb0006e739def62d7597e4530517b258e270ae76e5454cf";
static const char cert1_sig_dstack[] =
	"ef0767c48a5fddb530649cb5f6351fa26d45682889956907188e31bcf2ef905a"
	"f974654dd4d3f902ca372bf202fa62fd21dc0259841fee2ec04eb41b61be089d";

static void test_sha2(void **state)
{
	uint8_t d[SHA512_LEN];
	const void *parts[3] = { "a", "", "bc" };
	const size_t lens[3] = { 1, 0, 2 };

	(void)state;
	/* FIPS 180-2 appendix vectors for "abc". */
	sha256("abc", 3, d);
	assert_hex(d, SHA256_LEN, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha384("abc", 3, d);
	assert_hex(d, SHA384_LEN,
		   "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	sha512("abc", 3, d);
	assert_hex(d, SHA512_LEN,
		   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
		   "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	sha256("", 0, d);
	assert_hex(d, SHA256_LEN, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	sha256_parts(parts, lens, 3, d);
	assert_hex(d, SHA256_LEN, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha384_parts(parts, lens, 3, d);
	assert_hex(d, SHA384_LEN,
		   "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	sha512_parts(parts, lens, 3, d);
	assert_hex(d, 4, "ddaf35a1");
	sha256_parts(NULL, NULL, 0, d);
	assert_hex(d, SHA256_LEN, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/*
 * Empty and "abc" are the well-known Ethereum values. The others straddle the
 * 136-byte rate and come from a small spec-level Keccak-f[1600] in Python
 * whose permutation was first checked against hashlib.sha3_256 (same sponge,
 * 0x06 padding) and then run with Keccak's 0x01 padding.
 */
static void test_keccak256(void **state)
{
	uint8_t d[KECCAK256_LEN], in[200];

	(void)state;
	keccak256("", 0, d);
	assert_hex(d, 32, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	keccak256("abc", 3, d);
	assert_hex(d, 32, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
	memset(in, 'x', 135);
	keccak256(in, 135, d);   /* padding bytes 0x01 and 0x80 share the last byte */
	assert_hex(d, 32, "16570bdb055e663ea1cb57ac6f09194f4bc7b7070847971fc0b86710366dc34f");
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	keccak256(in, 136, d);   /* exactly one block: padding takes a whole second block */
	assert_hex(d, 32, "7ce759f1ab7f9ce437719970c26b0a66ff11fe3e38e17df89cf5d29c7d7f807e");
	keccak256(in, 200, d);
	assert_hex(d, 32, "bfb0aa97863e797943cf7c33bb7e880bb4543f3d2703c0923c6901c2af57b890");
}

static void test_hkdf(void **state)
{
	uint8_t ikm[22], salt[13], info[10], okm[42];

	(void)state;
	/* RFC 5869 A.1. */
	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	assert_int_equal(hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info), okm, 42), ERR_OK);
	assert_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
	/* RFC 5869 A.3: no salt, no info. */
	assert_int_equal(hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 42), ERR_OK);
	assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");

	assert_int_equal(hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 0), ERR_INVALID_ARG);
	{
		uint8_t *big = malloc(255 * 32 + 1);
		assert_non_null(big);
		assert_int_equal(hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, big, 255 * 32), ERR_OK);
		assert_int_equal(hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, big, 255 * 32 + 1), ERR_INVALID_ARG);
		free(big);
	}
	assert_int_equal(hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm, 32), ERR_OK);
}

/* OpenSSL's own HKDF, the reference for the differential test below. */
static void openssl_hkdf(uint8_t *salt, size_t sl, uint8_t *ikm, size_t il, uint8_t *info, size_t nl, uint8_t *out,
			 size_t ol)
{
	static char sha256_name[] = "SHA256";
	static uint8_t empty[1];

	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5], *q = p;

	assert_non_null(ctx);
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, sha256_name, 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, il ? ikm : empty, il);
	if (sl)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sl);
	if (nl)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, nl);
	*q = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(ctx, out, ol, p), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

/*
 * hkdf_sha256 against OpenSSL's HKDF: salts and keys on both sides of the
 * 64-byte HMAC block (hashed when longer), outputs of one to 255 blocks.
 */
static void test_hkdf_matches_openssl(void **state)
{
	static const size_t salt_lens[] = { 0, 1, 5, 32, 63, 64, 65, 200 };
	static const size_t ikm_lens[] = { 0, 1, 32, 64, 65, 300 };
	static const size_t out_lens[] = { 1, 31, 32, 33, 64, 65, 255 * 32 };
	uint8_t salt[200], ikm[300], info[100], *a = malloc(255 * 32), *b = malloc(255 * 32);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(ikm); i++)
		ikm[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(i * 3);
	for (size_t s = 0; s < ARRAY_LEN(salt_lens); s++)
		for (size_t k = 0; k < ARRAY_LEN(ikm_lens); k++)
			for (size_t o = 0; o < ARRAY_LEN(out_lens); o++) {
				size_t nl = (s + k + o) % 3 == 0 ? 0 : (s * 11 + o) % sizeof(info);

				assert_int_equal(hkdf_sha256(salt, salt_lens[s], ikm, ikm_lens[k], info, nl, a, out_lens[o]),
						 ERR_OK);
				openssl_hkdf(salt, salt_lens[s], ikm, ikm_lens[k], info, nl, b, out_lens[o]);
				assert_memory_equal(a, b, out_lens[o]);
			}
	free(a);
	free(b);
}

static EVP_PKEY *gen_key(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(k);
	return k;
}

typedef err_t (*sign_fn)(EVP_PKEY *, const void *, size_t, uint8_t *);
typedef err_t (*verify_fn)(EVP_PKEY *, const uint8_t *, const void *, size_t);
typedef EVP_PKEY *(*from_xy_fn)(const uint8_t *);

/* The same checks for both curves; coord is 32 or 48 and order is n in hex. */
static void ecdsa_cases(const char *curve, size_t coord, const char *order_hex, sign_fn sign, verify_fn verify,
			from_xy_fn from_xy, const char *other_curve)
{
	static const char msg[] = "attested message";
	EVP_PKEY *key = gen_key(curve), *pub = NULL, *other = gen_key(other_curve), *ed = NULL;
	uint8_t sig[96], bad[96], xy[96], xy2[96], order[48];
	size_t n = 0, n2 = 0;

	unhex(order, coord, order_hex);
	assert_int_equal(sign(key, msg, sizeof(msg), sig), ERR_OK);
	assert_int_equal(verify(key, sig, msg, sizeof(msg)), ERR_OK);

	/* The public half alone, rebuilt from raw coordinates, verifies too. */
	assert_int_equal(ec_pubkey_xy(key, xy, sizeof(xy), &n), ERR_OK);
	assert_int_equal(n, 2 * coord);
	pub = from_xy(xy);
	assert_non_null(pub);
	assert_int_equal(verify(pub, sig, msg, sizeof(msg)), ERR_OK);
	assert_int_equal(ec_pubkey_xy(pub, xy2, sizeof(xy2), &n2), ERR_OK);
	assert_int_equal(n2, n);
	assert_memory_equal(xy, xy2, n);
	assert_int_equal(ec_pubkey_xy(pub, xy2, 2 * coord - 1, &n2), ERR_INVALID_ARG);
	/* A public key cannot sign. */
	assert_int_equal(sign(pub, msg, sizeof(msg), bad), ERR_CRYPTO);

	/* Any flipped bit in the signature or the message fails. */
	for (size_t bit = 0; bit < 2 * coord * 8; bit += 7) {
		memcpy(bad, sig, 2 * coord);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);
	}
	assert_int_equal(verify(pub, sig, msg, sizeof(msg) - 1), ERR_CRYPTO);

	/* r or s of 0, n, or all ones is out of range. */
	memcpy(bad, sig, 2 * coord);
	memset(bad, 0, coord);
	assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);
	memcpy(bad, sig, 2 * coord);
	memset(bad + coord, 0, coord);
	assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);
	memcpy(bad, sig, 2 * coord);
	memcpy(bad, order, coord);
	assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);
	memcpy(bad, sig, 2 * coord);
	memcpy(bad + coord, order, coord);
	assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);
	memset(bad, 0xff, 2 * coord);
	assert_int_equal(verify(pub, bad, msg, sizeof(msg)), ERR_CRYPTO);

	/* Wrong curve, wrong key type, no key. */
	assert_int_equal(verify(other, sig, msg, sizeof(msg)), ERR_CRYPTO);
	assert_int_equal(sign(other, msg, sizeof(msg), bad), ERR_CRYPTO);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	assert_int_equal(verify(ed, sig, msg, sizeof(msg)), ERR_CRYPTO);
	assert_int_equal(ec_pubkey_xy(ed, xy2, sizeof(xy2), &n2), ERR_CRYPTO);
	assert_int_equal(verify(NULL, sig, msg, sizeof(msg)), ERR_CRYPTO);

	/* Points off the curve, the zero point, and coordinates past p are refused. */
	memcpy(xy2, xy, 2 * coord);
	xy2[2 * coord - 1] ^= 1;
	assert_null(from_xy(xy2));
	memset(xy2, 0, sizeof(xy2));
	assert_null(from_xy(xy2));
	memset(xy2, 0xff, sizeof(xy2));
	assert_null(from_xy(xy2));

	EVP_PKEY_free(ed);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
}

static err_t sign256(EVP_PKEY *k, const void *m, size_t n, uint8_t *sig)
{
	return ecdsa_sign_p256_sha256(k, m, n, sig);
}

static err_t sign384(EVP_PKEY *k, const void *m, size_t n, uint8_t *sig)
{
	return ecdsa_sign_p384_sha384(k, m, n, sig);
}

static err_t verify256(EVP_PKEY *k, const uint8_t *sig, const void *m, size_t n)
{
	return ecdsa_verify_p256_sha256(k, sig, m, n);
}

static err_t verify384(EVP_PKEY *k, const uint8_t *sig, const void *m, size_t n)
{
	return ecdsa_verify_p384_sha384(k, sig, m, n);
}

static EVP_PKEY *from256(const uint8_t *xy)
{
	return ec_p256_pubkey_from_xy(xy);
}

static EVP_PKEY *from384(const uint8_t *xy)
{
	return ec_p384_pubkey_from_xy(xy);
}

static void test_ecdsa_p256(void **state)
{
	(void)state;
	ecdsa_cases("P-256", 32, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", sign256,
		    verify256, from256, "P-384");
}

static void test_ecdsa_p384(void **state)
{
	(void)state;
	ecdsa_cases("P-384", 48,
		    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
		    sign384, verify384, from384, "P-256");
}

/* A signature made by the openssl CLI verifies against the key rebuilt from raw coordinates. */
static void test_ecdsa_external(void **state)
{
	uint8_t xy[64], sig[64];
	EVP_PKEY *k;

	(void)state;
	unhex(xy, 64, cert1_xy);
	unhex(sig, 64, cert1_sig_dstack);
	k = ec_p256_pubkey_from_xy(xy);
	assert_non_null(k);
	assert_int_equal(ecdsa_verify_p256_sha256(k, sig, "dstack", 6), ERR_OK);
	assert_int_equal(ecdsa_verify_p256_sha256(k, sig, "dstacK", 6), ERR_CRYPTO);
	EVP_PKEY_free(k);
}

static char *concat(const char *a, const char *mid, const char *b, size_t *len)
{
	size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
	char *s = malloc(la + lm + lb + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, mid, lm);
	memcpy(s + la + lm, b, lb + 1);
	*len = la + lm + lb;
	return s;
}

static int chain_len(const char *s, size_t n)
{
	STACK_OF(X509) *sk = pem_certs_parse(s, n);
	int k = sk ? sk_X509_num(sk) : 0;

	sk_X509_pop_free(sk, X509_free);
	return k;
}

static void test_pem_certs(void **state)
{
	STACK_OF(X509) *sk;
	char *s, cn[64];
	size_t n;

	(void)state;
	s = concat(cert1_pem, "", cert2_pem, &n);
	sk = pem_certs_parse(s, n);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(sk, 0)), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "ds-test-1");
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(sk, 1)), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "ds-test-2");
	sk_X509_pop_free(sk, X509_free);
	/* One trailing NUL (as in quote certification data) is fine; two are not. */
	assert_int_equal(chain_len(s, n + 1), 2);
	free(s);

	s = concat(cert1_pem, "\r\n \t\n", cert2_pem, &n);
	assert_int_equal(chain_len(s, n), 2);
	free(s);
	s = concat("\n  ", cert1_pem, "\n\n", &n);
	assert_int_equal(chain_len(s, n), 1);
	free(s);
	/* No newline after the last END line. */
	assert_int_equal(chain_len(cert1_pem, strlen(cert1_pem) - 1), 1);

	/* Garbage anywhere outside the blocks, or a malformed block, refuses the whole input. */
	s = concat(cert1_pem, "junk\n", cert2_pem, &n);
	assert_int_equal(chain_len(s, n), 0);
	free(s);
	s = concat("junk\n", cert1_pem, "", &n);
	assert_int_equal(chain_len(s, n), 0);
	free(s);
	s = concat(cert1_pem, "", "x", &n);
	assert_int_equal(chain_len(s, n), 0);
	free(s);
	{
		char two[sizeof(cert1_pem) + 1];

		memcpy(two, cert1_pem, sizeof(cert1_pem));
		two[sizeof(cert1_pem)] = 0;
		assert_int_equal(chain_len(two, sizeof(two) - 1), 1);
		assert_int_equal(chain_len(two, sizeof(two)), 0);
	}
	s = concat(cert1_pem, "", crl_pem, &n);
	assert_int_equal(chain_len(s, n), 0);
	free(s);
	assert_int_equal(chain_len(cert1_pem, 200), 0);
	assert_int_equal(chain_len("", 0), 0);
	assert_int_equal(chain_len("\n\n", 2), 0);
	assert_int_equal(chain_len("\0", 1), 0);
	assert_int_equal(chain_len(NULL, 0), 0);
	assert_int_equal(chain_len("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 59), 0);
	s = strdup(cert1_pem);
	assert_non_null(s);
	s[100] = s[100] == 'A' ? 'B' : 'A';   /* corrupt the DER inside valid base64 */
	assert_int_equal(chain_len(s, strlen(s)), 0);
	s[100] = '*';                           /* not base64 at all */
	assert_int_equal(chain_len(s, strlen(s)), 0);
	free(s);
}

static void test_x509_from_bytes(void **state)
{
	X509 *x;
	unsigned char *der = NULL, *der2;
	int dlen;
	uint8_t xy[96], want[64];
	size_t n = 0;
	char *s;

	(void)state;
	x = x509_from_bytes(cert1_pem, strlen(cert1_pem));
	assert_non_null(x);
	assert_int_equal(ec_pubkey_xy(X509_get0_pubkey(x), xy, sizeof(xy), &n), ERR_OK);
	unhex(want, 64, cert1_xy);
	assert_int_equal(n, 64);
	assert_memory_equal(xy, want, 64);
	dlen = i2d_X509(x, &der);
	assert_true(dlen > 0);
	X509_free(x);

	x = x509_from_bytes(der, (size_t)dlen);
	assert_non_null(x);
	X509_free(x);
	/* DER with a byte after it, or cut short, is not a certificate. */
	der2 = malloc((size_t)dlen + 1);
	assert_non_null(der2);
	memcpy(der2, der, (size_t)dlen);
	der2[dlen] = 0x00;
	assert_null(x509_from_bytes(der2, (size_t)dlen + 1));
	assert_null(x509_from_bytes(der2, (size_t)dlen - 1));
	free(der2);
	OPENSSL_free(der);

	/* A PEM with a trailing NUL is fine; a two-certificate PEM is not "a certificate". */
	x = x509_from_bytes(cert1_pem, sizeof(cert1_pem));
	assert_non_null(x);
	X509_free(x);
	s = concat(cert1_pem, "", cert2_pem, &n);
	assert_null(x509_from_bytes(s, n));
	free(s);
	assert_null(x509_from_bytes("garbage", 7));
	assert_null(x509_from_bytes("", 0));
	assert_null(x509_from_bytes(crl_pem, strlen(crl_pem)));
}

static void test_crl_from_bytes(void **state)
{
	X509_CRL *crl;
	unsigned char *der = NULL;
	int dlen;

	(void)state;
	crl = x509_crl_from_bytes(crl_pem, strlen(crl_pem));
	assert_non_null(crl);
	dlen = i2d_X509_CRL(crl, &der);
	assert_true(dlen > 0);
	X509_CRL_free(crl);
	crl = x509_crl_from_bytes(der, (size_t)dlen);
	assert_non_null(crl);
	X509_CRL_free(crl);
	crl = x509_crl_from_bytes(crl_pem, sizeof(crl_pem));   /* trailing NUL */
	assert_non_null(crl);
	X509_CRL_free(crl);
	assert_null(x509_crl_from_bytes(der, (size_t)dlen - 1));
	OPENSSL_free(der);
	assert_null(x509_crl_from_bytes("garbage", 7));
	assert_null(x509_crl_from_bytes(cert1_pem, strlen(cert1_pem)));
	assert_null(x509_crl_from_bytes(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha2),
		cmocka_unit_test(test_keccak256),
		cmocka_unit_test(test_hkdf),
		cmocka_unit_test(test_hkdf_matches_openssl),
		cmocka_unit_test(test_ecdsa_p256),
		cmocka_unit_test(test_ecdsa_p384),
		cmocka_unit_test(test_ecdsa_external),
		cmocka_unit_test(test_pem_certs),
		cmocka_unit_test(test_x509_from_bytes),
		cmocka_unit_test(test_crl_from_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
