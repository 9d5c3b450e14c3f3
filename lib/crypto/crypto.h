/* SPDX-License-Identifier: Apache-2.0 */
/* Thin wrappers over OpenSSL, libsecp256k1 and nettle: hashes, ECDSA with raw signatures, Keccak, HKDF. */
#ifndef DS_CRYPTO_H
#define DS_CRYPTO_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "base.h"
#include "err.h"

#define SHA256_LEN 32
#define SHA384_LEN 48
#define SHA512_LEN 64
#define KECCAK256_LEN 32

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
void sha384(const void *p, size_t n, uint8_t out[SHA384_LEN]);
void sha512(const void *p, size_t n, uint8_t out[SHA512_LEN]);
/* Hash of several pieces concatenated: parts[i] of lens[i] bytes. */
void sha256_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA256_LEN]);
void sha384_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA384_LEN]);
void sha512_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[SHA512_LEN]);
/* Ethereum's Keccak-256 (original padding, not SHA3-256), from nettle's sha3_permute. */
void keccak256(const void *p, size_t n, uint8_t out[KECCAK256_LEN]);

/*
 * Public keys from raw coordinates: P-256 from x||y (64 bytes), P-384 from
 * x||y (96 bytes), both big-endian without the 0x04 prefix. NULL when the
 * point is not on the curve. Caller frees with EVP_PKEY_free.
 */
EVP_PKEY *ec_p256_pubkey_from_xy(const uint8_t xy[64]);
EVP_PKEY *ec_p384_pubkey_from_xy(const uint8_t xy[96]);

/*
 * Verify an ECDSA signature given as raw big-endian r||s (32+32 for P-256
 * with SHA-256, 48+48 for P-384 with SHA-384) over msg. Returns ERR_OK or
 * ERR_CRYPTO (bad signature, wrong key type, or r/s out of range).
 */
err_t ecdsa_verify_p256_sha256(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len) MUST_CHECK;
err_t ecdsa_verify_p384_sha384(EVP_PKEY *key, const uint8_t sig[96], const void *msg, size_t len) MUST_CHECK;
/* Sign with raw r||s output (for the simulator's dev PKI and tests). */
err_t ecdsa_sign_p256_sha256(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[64]) MUST_CHECK;
err_t ecdsa_sign_p384_sha384(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[96]) MUST_CHECK;
/* The raw x||y of an EC public key (64 bytes for P-256, 96 for P-384); *len gets the size. */
err_t ec_pubkey_xy(EVP_PKEY *key, uint8_t *out, size_t cap, size_t *len) MUST_CHECK;

/* HKDF-SHA256 (RFC 5869). */
err_t hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
		  size_t info_len, uint8_t *out, size_t out_len) MUST_CHECK;

/* Parse PEM certificates (concatenated, a trailing NUL allowed) into a new stack; NULL if none parse or any block is malformed. */
STACK_OF(X509) *pem_certs_parse(const char *pem, size_t len);
/* DER or PEM certificate / CRL from bytes. */
X509 *x509_from_bytes(const void *p, size_t n);
X509_CRL *x509_crl_from_bytes(const void *p, size_t n);

/*
 * ec_p256_pubkey_from_xy, faster: the curve parameters are copied from
 * `like` (any P-256 key; borrowed, only read, so it may be shared between
 * threads) instead of being rebuilt. Accepts and rejects exactly the points
 * ec_p256_pubkey_from_xy does; a NULL or non-P-256 `like` falls back to it.
 * Caller frees.
 */
EVP_PKEY *ec_p256_pubkey_from_xy_like(const EVP_PKEY *like, const uint8_t xy[64]);

#endif
