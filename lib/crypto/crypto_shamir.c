/* SPDX-License-Identifier: Apache-2.0 */
/* Shamir secret sharing over GF(2^8) with branch-free, table-free field arithmetic. */
#include "shamir.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/*
 * Carry-less multiply-and-reduce, eight rounds whatever the operands: the
 * masks replace the "if bit set" and "if overflow" branches, and there are no
 * log/exp tables whose cache lines would reveal secret bytes.
 */
uint8_t gf256_mul(uint8_t a, uint8_t b)
{
	unsigned int x = a, y = b, r = 0;

	for (int i = 0; i < 8; i++) {
		r ^= x & (0u - (y & 1u));
		y >>= 1;
		x = (x << 1) ^ (0x11bu & (0u - (x >> 7)));
	}
	return (uint8_t)r;
}

/* a^254 = a^-1 for a != 0 (and 0 for 0), by a fixed square-and-multiply chain. */
uint8_t gf256_inv(uint8_t a)
{
	uint8_t r = 1, sq = a;

	/* 254 = 0b11111110: r accumulates a^2 * a^4 * ... * a^128. */
	for (int i = 1; i < 8; i++) {
		sq = gf256_mul(sq, sq);
		r = gf256_mul(r, sq);
	}
	return r;
}

err_t shamir_split(const uint8_t *secret, size_t len, unsigned int t, unsigned int n, uint8_t *shares)
{
	uint8_t *coef = NULL;
	size_t stride = len + 1, ncoef;
	err_t e = ERR_INVALID_ARG;

	if (!secret || !shares || len == 0 || len > SHAMIR_MAX_SECRET || t < 1 || t > n || n > SHAMIR_MAX_SHARES)
		return e;
	/* coef[j * len + b] is the x^(j+1) coefficient of byte b's polynomial. */
	ncoef = (size_t)(t - 1) * len;
	if (ncoef) {
		e = ERR_NOMEM;
		if (!(coef = OPENSSL_secure_malloc(ncoef)))
			goto out;
		e = ERR_CRYPTO;
		if (RAND_priv_bytes(coef, (int)ncoef) != 1)
			goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint8_t x = (uint8_t)(i + 1), *sh = shares + (size_t)i * stride;

		sh[0] = x;
		for (size_t b = 0; b < len; b++) {
			/* Horner from the highest coefficient down to the secret byte. */
			uint8_t y = 0;
			for (unsigned int j = t - 1; j > 0; j--)
				y = gf256_mul(y, x) ^ coef[(size_t)(j - 1) * len + b];
			sh[1 + b] = gf256_mul(y, x) ^ secret[b];
		}
	}
	e = ERR_OK;
out:
	if (coef)
		OPENSSL_secure_clear_free(coef, ncoef);
	if (e)
		OPENSSL_cleanse(shares, (size_t)n * stride);
	return e;
}

err_t shamir_combine(const uint8_t *const *shares, size_t k, size_t len, uint8_t *secret)
{
	uint8_t basis[SHAMIR_MAX_SHARES];
	uint8_t seen[256] = { 0 };

	if (!shares || !secret || k == 0 || k > SHAMIR_MAX_SHARES || len == 0 || len > SHAMIR_MAX_SECRET)
		return ERR_INVALID_ARG;
	for (size_t i = 0; i < k; i++) {
		if (!shares[i])
			return ERR_INVALID_ARG;
		/* x-coordinates are public; checking them with branches leaks nothing. */
		if (shares[i][0] == 0 || seen[shares[i][0]]) {
			OPENSSL_cleanse(secret, len);
			return ERR_PROTO_MALFORMED;
		}
		seen[shares[i][0]] = 1;
	}
	/* Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR in GF(2^8). */
	for (size_t i = 0; i < k; i++) {
		uint8_t num = 1, den = 1;
		for (size_t j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = gf256_mul(num, shares[j][0]);
			den = gf256_mul(den, shares[j][0] ^ shares[i][0]);
		}
		basis[i] = gf256_mul(num, gf256_inv(den));
	}
	for (size_t b = 0; b < len; b++) {
		uint8_t s = 0;
		for (size_t i = 0; i < k; i++)
			s ^= gf256_mul(basis[i], shares[i][1 + b]);
		secret[b] = s;
	}
	return ERR_OK;
}
