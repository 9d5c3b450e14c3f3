/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's key derivation (ra-tls kdf.rs) and the P-256 key encodings it hashes: PKCS#8, SPKI, EVP_PKEY. */
#ifndef DS_DKDF_H
#define DS_DKDF_H

#include <openssl/evp.h>

#include "base.h"
#include "err.h"

#define P256_SCALAR_LEN 32
#define P256_PUB_LEN 65          /* uncompressed SEC1 point 04 || x || y */
#define P256_PKCS8_LEN 138       /* p256 to_pkcs8_der: fixed layout, see p256_pkcs8_der */
#define P256_SPKI_LEN 91         /* SubjectPublicKeyInfo: ecPublicKey, prime256v1, uncompressed point */
#define DKDF_SECRET_LEN 32
#define DKDF_MAX_OUT (255 * 32)  /* HKDF-SHA256's limit */

/* One context part: n bytes at p (borrowed). Parts are concatenated with no separator. */
struct dkdf_part {
	const void *p;
	size_t n;
};

/* A part from a NUL-terminated literal, e.g. DKDF_STR("app-key"). */
#define DKDF_STR(s) ((struct dkdf_part){ (s), sizeof(s) - 1 })

/*
 * derive_key(ikm, ctx, n): HKDF-SHA256 with salt "RATLS", IKM ikm and info =
 * parts[0] || parts[1] || ... (no separators), n bytes into out (1..8160).
 * ERR_INVALID_ARG for a bad length or a NULL part with a nonzero size. The
 * output is secret: the caller wipes it.
 */
err_t dkdf_derive_key(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n, uint8_t *out,
		      size_t out_len) MUST_CHECK;

/*
 * derive_p256_key_pair_from_bytes: derive_key(ikm, ctx, 32) as a P-256
 * scalar. dstack refuses 0 and values >= n rather than reducing them, and so
 * do we, with ERR_KEY_RANGE. Since n is just below 2^256 - 2^224 this
 * happens for about one context in 2^32: such an app id has no keys in
 * dstack either. derive_p256_key_pair(parent, ctx) is this with ikm = the
 * parent's 32-byte scalar.
 */
err_t dkdf_derive_p256(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n,
		       uint8_t scalar[P256_SCALAR_LEN]) MUST_CHECK;

/*
 * derive_dh_secret: SHA-256 of the PKCS#8 DER (p256_pkcs8_der) of the key
 * dkdf_derive_p256(ikm, ctx) makes. For the KMS, ikm is the root CA's
 * 32-byte scalar; for dstack-util's seed mode, the raw seed.
 */
err_t dkdf_derive_dh_secret(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n,
			    uint8_t out[DKDF_SECRET_LEN]) MUST_CHECK;

/* ---- P-256 keys ---- */

/* 1 when 0 < scalar < n (big-endian). Constant time. */
int p256_scalar_is_valid(const uint8_t scalar[P256_SCALAR_LEN]);
/* A random valid scalar from RAND_priv_bytes; ERR_CRYPTO if the RNG fails. */
err_t p256_scalar_random(uint8_t scalar[P256_SCALAR_LEN]) MUST_CHECK;
/* scalar * G as 04 || x || y. ERR_KEY_RANGE for an invalid scalar, ERR_CRYPTO for an OpenSSL failure. */
err_t p256_pubkey(const uint8_t scalar[P256_SCALAR_LEN], uint8_t pub[P256_PUB_LEN]) MUST_CHECK;

/*
 * The PKCS#8 DER RustCrypto p256 `to_pkcs8_der` (and ring/rcgen) write:
 *   SEQ { INTEGER 0, SEQ { OID ecPublicKey, OID prime256v1 },
 *         OCTET STRING { SEQ { INTEGER 1, OCTET STRING(32) scalar,
 *                              [1] { BIT STRING 04 || x || y } } } }
 * with no [0] parameters inside the SEC1 structure: always 138 bytes. This
 * exact byte string is what derive_dh_secret hashes. out is secret.
 */
err_t p256_pkcs8_der(const uint8_t scalar[P256_SCALAR_LEN], uint8_t out[P256_PKCS8_LEN]) MUST_CHECK;
/*
 * The same as PEM "PRIVATE KEY" (64-column base64, LF line ends, as rcgen's
 * serialize_pem), NUL-terminated into out (cap bytes); *len gets the length
 * without the NUL. ERR_INVALID_ARG when cap is below P256_PKCS8_PEM_MAX.
 */
#define P256_PKCS8_PEM_MAX 256
err_t p256_pkcs8_pem(const uint8_t scalar[P256_SCALAR_LEN], char *out, size_t cap, size_t *len) MUST_CHECK;
/* SubjectPublicKeyInfo DER of scalar's public key (rcgen public_key_der): 91 bytes. */
err_t p256_spki_der(const uint8_t scalar[P256_SCALAR_LEN], uint8_t out[P256_SPKI_LEN]) MUST_CHECK;
/* SubjectPublicKeyInfo DER of a P-256 public key given as 04 || x || y (checked to be on the curve). */
err_t p256_spki_der_from_pub(const uint8_t pub[P256_PUB_LEN], uint8_t out[P256_SPKI_LEN]) MUST_CHECK;

/* A P-256 private key (with its public key) for OpenSSL signing and certificates; NULL on error. Caller frees. */
EVP_PKEY *p256_pkey_from_scalar(const uint8_t scalar[P256_SCALAR_LEN]);
/* The 32-byte scalar of a P-256 private key (borrowed). ERR_INVALID_ARG for another key type or a public key. */
err_t p256_scalar_from_pkey(EVP_PKEY *key, uint8_t scalar[P256_SCALAR_LEN]) MUST_CHECK;
/*
 * The scalar of a P-256 private key in PKCS#8 DER (any valid encoding, with
 * or without the public key or [0] params; nothing may follow it) or PEM
 * "PRIVATE KEY" (one block; surrounding whitespace allowed). The public key,
 * when present, must match the scalar. ERR_PROTO_MALFORMED for anything
 * else, ERR_KEY_RANGE for a scalar out of range.
 */
err_t p256_scalar_from_pkcs8_der(const uint8_t *der, size_t len, uint8_t scalar[P256_SCALAR_LEN]) MUST_CHECK;
err_t p256_scalar_from_pem(const char *pem, size_t len, uint8_t scalar[P256_SCALAR_LEN]) MUST_CHECK;

#endif
