/* SPDX-License-Identifier: Apache-2.0 */
/* secp256k1 over libsecp256k1: secrets, public keys, Ethereum-style recoverable signatures and addresses. */
#ifndef DS_K256_H
#define DS_K256_H

#include "base.h"
#include "err.h"

#define K256_SECRET_LEN 32
#define K256_PUB_LEN 33        /* compressed SEC1: 02/03 || x */
#define K256_PUB_FULL_LEN 65   /* uncompressed SEC1: 04 || x || y */
#define K256_SIG_LEN 65        /* r || s || v, v = recovery id 0 or 1 (not 27/28) */
#define K256_ADDRESS_LEN 20
#define K256_HASH_LEN 32

/*
 * All functions are pure and thread-safe. Secrets are borrowed; nothing keeps
 * a copy, and every temporary that held one is wiped. Signing and public-key
 * derivation use one process-wide context, created on first use with
 * randomised blinding (RAND_priv_bytes) and only read afterwards.
 */

/* 1 when sk is a valid secret (0 < sk < n, big-endian), else 0. Constant time. */
int k256_secret_is_valid(const uint8_t sk[K256_SECRET_LEN]);
/* A fresh random secret from RAND_priv_bytes. ERR_CRYPTO when the RNG fails (sk is zeroed then). */
err_t k256_secret_random(uint8_t sk[K256_SECRET_LEN]) MUST_CHECK;

/* Public key of a secret. ERR_KEY_RANGE for an invalid secret, ERR_CRYPTO if the context cannot be made. */
err_t k256_pubkey(const uint8_t sk[K256_SECRET_LEN], uint8_t pub[K256_PUB_LEN]) MUST_CHECK;
err_t k256_pubkey_full(const uint8_t sk[K256_SECRET_LEN], uint8_t pub[K256_PUB_FULL_LEN]) MUST_CHECK;
/*
 * Re-encode a public key given in either SEC1 form (33 or 65 bytes) as
 * compressed or uncompressed. ERR_PROTO_MALFORMED for any other length, a
 * bad prefix, or a point not on the curve.
 */
err_t k256_pubkey_compress(const uint8_t *pub, size_t len, uint8_t out[K256_PUB_LEN]) MUST_CHECK;
err_t k256_pubkey_decompress(const uint8_t *pub, size_t len, uint8_t out[K256_PUB_FULL_LEN]) MUST_CHECK;

/*
 * Sign a 32-byte digest: RFC 6979 deterministic nonce, low s, output
 * r || s || recid (recid 0/1), the form dstack's KMS and guest agent use and
 * byte-identical to k256's sign_prehash_recoverable. ERR_KEY_RANGE for an
 * invalid secret; sig is zeroed on failure.
 */
err_t k256_sign(const uint8_t sk[K256_SECRET_LEN], const uint8_t hash[K256_HASH_LEN], uint8_t sig[K256_SIG_LEN])
	MUST_CHECK;
/*
 * The compressed public key that made sig over hash. ERR_PROTO_SIGNATURE when
 * v > 1, r or s is zero or not below n, s is high (above n/2: k256's verifier,
 * which dstack's recovery runs, refuses those and honest signers never make
 * them), or no key recovers. A well-formed signature over a different digest
 * recovers some other key: compare the result with the key you expect.
 */
err_t k256_recover(const uint8_t hash[K256_HASH_LEN], const uint8_t sig[K256_SIG_LEN], uint8_t pub[K256_PUB_LEN])
	MUST_CHECK;

/* keccak256(x || y)[12..32) of a public key in either SEC1 form; ERR_PROTO_MALFORMED as k256_pubkey_compress. */
err_t k256_address(const uint8_t *pub, size_t len, uint8_t addr[K256_ADDRESS_LEN]) MUST_CHECK;
/* The address of a secret's public key; ERR_KEY_RANGE for an invalid secret. */
err_t k256_address_of_secret(const uint8_t sk[K256_SECRET_LEN], uint8_t addr[K256_ADDRESS_LEN]) MUST_CHECK;

#endif
