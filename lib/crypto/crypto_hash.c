/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-2 over OpenSSL EVP, Ethereum Keccak-256 over nettle's permutation, and HMAC/HKDF-SHA256 over the SHA-256 digest. */
#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha3.h>

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

#define HMAC_SHA256_BLOCK 64
#define HMAC_MAX_PARTS 3

/*
 * HMAC-SHA256 (RFC 2104) of the concatenated parts, on sha256_parts. Built
 * here rather than through EVP_MAC/EVP_KDF because those resolve their
 * algorithm parameters on every call, which cost four times the hashing
 * itself for the short inputs of the dstack KDF (a GetKey derives on every
 * miss).
 */
static void hmac_sha256_parts(const uint8_t *key, size_t key_len, const void *const *parts, const size_t *lens,
			      size_t n, uint8_t out[SHA256_LEN])
{
	uint8_t k[HMAC_SHA256_BLOCK] = { 0 }, pad[HMAC_SHA256_BLOCK], inner[SHA256_LEN];
	const void *p[1 + HMAC_MAX_PARTS];
	size_t l[1 + HMAC_MAX_PARTS];

	if (key_len > HMAC_SHA256_BLOCK)
		sha256(key, key_len, k);
	else if (key_len)
		memcpy(k, key, key_len);
	for (size_t i = 0; i < HMAC_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	p[0] = pad;
	l[0] = HMAC_SHA256_BLOCK;
	for (size_t i = 0; i < n; i++) {
		p[1 + i] = parts[i];
		l[1 + i] = lens[i];
	}
	sha256_parts(p, l, 1 + n, inner);
	for (size_t i = 0; i < HMAC_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	p[1] = inner;
	l[1] = SHA256_LEN;
	sha256_parts(p, l, 2, out);
	secure_wipe(k, sizeof(k));
	secure_wipe(pad, sizeof(pad));
	secure_wipe(inner, sizeof(inner));
}

err_t hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
		  size_t info_len, uint8_t *out, size_t out_len)
{
	uint8_t prk[SHA256_LEN], t[SHA256_LEN];
	size_t done = 0;

	if (!out || out_len == 0 || out_len > 255 * SHA256_LEN || (salt_len && !salt) || (ikm_len && !ikm) ||
	    (info_len && !info))
		return ERR_INVALID_ARG;
	/* Extract. An absent salt is HashLen zero bytes, which as an HMAC key is the same as an empty one. */
	hmac_sha256_parts(salt, salt_len, &ikm, &ikm_len, 1, prk);
	/* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). */
	for (unsigned i = 1; done < out_len; i++) {
		const uint8_t ctr = (uint8_t)i;
		const void *parts[HMAC_MAX_PARTS] = { t, info, &ctr };
		const size_t lens[HMAC_MAX_PARTS] = { i > 1 ? SHA256_LEN : 0, info_len, 1 };
		size_t take = MIN(SHA256_LEN, out_len - done);

		hmac_sha256_parts(prk, sizeof(prk), parts, lens, HMAC_MAX_PARTS, t);
		memcpy(out + done, t, take);
		done += take;
	}
	secure_wipe(prk, sizeof(prk));
	secure_wipe(t, sizeof(t));
	return ERR_OK;
}
