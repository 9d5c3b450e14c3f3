/* SPDX-License-Identifier: Apache-2.0 */
/* t-of-n Shamir secret sharing over GF(2^8), byte by byte, with constant-time field arithmetic. */
#ifndef DS_SHAMIR_H
#define DS_SHAMIR_H

#include "base.h"
#include "err.h"

#define SHAMIR_MAX_SHARES 255
/* Secrets are keys and key bundles; the cap keeps n * (len + 1) far from overflow. */
#define SHAMIR_MAX_SECRET ((size_t)1 << 20)

/*
 * A share is 1 + len bytes: its x-coordinate (1..255) then one y byte per
 * secret byte. Each secret byte s is the constant term of its own random
 * polynomial of degree t - 1 over GF(2^8) (AES polynomial x^8+x^4+x^3+x+1);
 * share i holds the values at x = i. Any t shares determine the secret; any
 * t - 1 are uniformly distributed whatever the secret is. Combining fewer
 * than t shares returns a wrong value without noticing: callers check the
 * result against a commitment.
 */
#define SHAMIR_SHARE_LEN(len) ((len) + 1)

/*
 * Split secret (len bytes, 1..SHAMIR_MAX_SECRET) into n shares of which any t
 * reconstruct it, 1 <= t <= n <= 255. shares receives n * (len + 1) bytes:
 * share i (x = i + 1) at shares + i * (len + 1). Coefficients come from
 * RAND_priv_bytes and are wiped. ERR_INVALID_ARG for bad parameters,
 * ERR_CRYPTO when the RNG fails (shares wiped).
 */
err_t shamir_split(const uint8_t *secret, size_t len, unsigned int t, unsigned int n, uint8_t *shares) MUST_CHECK;

/*
 * Reconstruct from k shares (each 1 + len bytes, borrowed) by Lagrange
 * interpolation at 0; all k are used. ERR_PROTO_MALFORMED when a share has
 * x = 0 or two shares share an x; ERR_INVALID_ARG for k = 0, k > 255, len out
 * of range or NULL pointers. secret (len bytes) is wiped on failure.
 */
err_t shamir_combine(const uint8_t *const *shares, size_t k, size_t len, uint8_t *secret) MUST_CHECK;

/* GF(2^8) product and inverse (inv(0) = 0), constant time; exposed for tests. */
uint8_t gf256_mul(uint8_t a, uint8_t b);
uint8_t gf256_inv(uint8_t a);

#endif
