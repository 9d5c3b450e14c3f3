/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-2 over OpenSSL EVP, Ethereum Keccak-256 over nettle's permutation, and HKDF-SHA256 over EVP_KDF. */
#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha3.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define KECCAK256_RATE 136

/*
 * The hash functions return void: the only failure left once the digest is
 * built in is running out of memory, and a caller that compared a silently
 * wrong digest would be worse off than one that stops.
 */
static void NORETURN hash_fail(const char *what)
{
	fprintf(stderr, "fatal: %s failed\n", what);
	abort();
}

static void digest_parts(const EVP_MD *md, const void *const *parts, const size_t *lens, size_t n, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
		hash_fail("digest init");
	for (size_t i = 0; i < n; i++)
		if (lens[i] && EVP_DigestUpdate(ctx, parts[i], lens[i]) != 1)
			hash_fail("digest update");
	if (EVP_DigestFinal_ex(ctx, out, &olen) != 1 || olen != (unsigned int)EVP_MD_get_size(md))
		hash_fail("digest final");
	EVP_MD_CTX_free(ctx);
}

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	digest_parts(EVP_sha256(), &p, &n, 1, out);
}

void sha384(const void *p, size_t n, uint8_t out[SHA384_LEN])
{
	digest_parts(EVP_sha384(), &p, &n, 1, out);
}

void sha512(const void *p, size_t n, uint8_t out[SHA512_LEN])
{
	digest_parts(EVP_sha512(), &p, &n, 1, out);
}

void sha256_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA256_LEN])
{
	digest_parts(EVP_sha256(), parts, lens, n, out);
}

void sha384_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA384_LEN])
{
	digest_parts(EVP_sha384(), parts, lens, n, out);
}

void sha512_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA512_LEN])
{
	digest_parts(EVP_sha512(), parts, lens, n, out);
}

/* Nettle's lanes are native uint64; the sponge's byte order is little-endian within each lane. */
static void keccak_absorb(struct sha3_state *st, const uint8_t block[KECCAK256_RATE])
{
	for (size_t i = 0; i < KECCAK256_RATE / 8; i++) {
		uint64_t lane = 0;
		for (size_t k = 0; k < 8; k++)
			lane |= (uint64_t)block[8 * i + k] << (8 * k);
		st->a[i] ^= lane;
	}
	sha3_permute(st);
}

void keccak256(const void *p, size_t n, uint8_t out[KECCAK256_LEN])
{
	const uint8_t *in = p;
	struct sha3_state st;
	uint8_t last[KECCAK256_RATE];

	memset(&st, 0, sizeof(st));
	for (; n >= KECCAK256_RATE; in += KECCAK256_RATE, n -= KECCAK256_RATE)
		keccak_absorb(&st, in);
	/* Original Keccak pad10*1 with domain byte 0x01; SHA3-256 would use 0x06 here. */
	memset(last, 0, sizeof(last));
	if (n)
		memcpy(last, in, n);
	last[n] ^= 0x01;
	last[KECCAK256_RATE - 1] ^= 0x80;
	keccak_absorb(&st, last);
	for (size_t i = 0; i < KECCAK256_LEN; i++)
		out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
	secure_wipe(&st, sizeof(st));
	secure_wipe(last, sizeof(last));
}

err_t hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
		  size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *q = params;
	err_t err = ERR_CRYPTO;

	if (out_len == 0 || out_len > 255 * SHA256_LEN)
		return ERR_INVALID_ARG;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (!ctx)
		goto out;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, UNCONST("SHA256"), 0);
	/* An empty IKM is legal; OpenSSL refuses a NULL data pointer, so point at a constant. */
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, UNCONST(ikm_len ? ikm : ""), ikm_len);
	/* RFC 5869: an absent salt is HashLen zero bytes, which is what OpenSSL does without the parameter. */
	if (salt_len)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, UNCONST(salt), salt_len);
	if (info_len)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, UNCONST(info), info_len);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
		goto out;
	err = ERR_OK;
out:
	if (err) {
		secure_wipe(out, out_len);
		ERR_clear_error();
	}
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return err;
}
