/* SPDX-License-Identifier: Apache-2.0 */
/* X25519, AES-256-GCM, and dstack's .encrypted-env format built from them (OpenSSL EVP). */
#ifndef DS_X25519_H
#define DS_X25519_H

#include "base.h"
#include "err.h"

#define X25519_KEY_LEN 32
#define AES256GCM_KEY_LEN 32
#define AES256GCM_IV_LEN 12
#define AES256GCM_TAG_LEN 16
/* Larger inputs are refused (OpenSSL's EVP takes int lengths; nothing we encrypt comes near). */
#define AES256GCM_MAX_LEN ((size_t)1 << 30)

/*
 * Secrets are borrowed and never kept; temporaries are wiped. All functions
 * are pure and thread-safe.
 */

/* The public key of a 32-byte secret. The secret is used as given: X25519 clamps it internally. */
err_t x25519_public_key(const uint8_t sk[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN]) MUST_CHECK;
/*
 * The raw X25519 shared secret (no KDF). ERR_CRYPTO when the result is all
 * zero, i.e. the peer sent a small-order point (RFC 7748 section 6.1's
 * check, which OpenSSL applies). out is wiped on failure.
 */
err_t x25519_shared_secret(const uint8_t sk[X25519_KEY_LEN], const uint8_t peer_pub[X25519_KEY_LEN],
			   uint8_t out[X25519_KEY_LEN]) MUST_CHECK;

/*
 * AES-256-GCM with a 12-byte IV and a 16-byte tag; aad may be NULL when
 * aad_len is 0. seal writes len + 16 bytes (ciphertext || tag) to out.
 * open takes ciphertext || tag (ct_len >= 16) and writes ct_len - 16 bytes;
 * OpenSSL checks the tag in constant time, and on a mismatch the function
 * returns ERR_PROTO_DECRYPT with out wiped. ERR_PROTO_TRUNCATED when ct_len
 * < 16, ERR_INVALID_ARG for NULL buffers or lengths above AES256GCM_MAX_LEN.
 * out may equal the input (in place) but must not otherwise overlap it.
 */
err_t aes256gcm_seal(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t iv[AES256GCM_IV_LEN], const void *aad,
		     size_t aad_len, const void *pt, size_t len, uint8_t *out) MUST_CHECK;
err_t aes256gcm_open(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t iv[AES256GCM_IV_LEN], const void *aad,
		     size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out) MUST_CHECK;

/* ---- dstack .encrypted-env (docs/encrypted-env-spec.md, sdk/js encrypt-env-vars.ts) ---- */

/* eph_pub(32) || iv(12) || ciphertext || tag(16); the key is the raw X25519 shared secret, no AAD. */
#define DSTACK_ENV_OVERHEAD (X25519_KEY_LEN + AES256GCM_IV_LEN + AES256GCM_TAG_LEN)

/*
 * Encrypt pt (normally {"env":[{"key":..,"value":..},..]}) to the app's env
 * public key with a fresh ephemeral key and IV from RAND_priv_bytes. out
 * gets len + DSTACK_ENV_OVERHEAD bytes (cap must allow it, else
 * ERR_INVALID_ARG). For the KMS tests and tools: apps encrypt in the SDK.
 */
err_t dstack_env_encrypt(const uint8_t env_pub[X25519_KEY_LEN], const void *pt, size_t len, uint8_t *out,
			 size_t cap, size_t *out_len) MUST_CHECK;
/* The same with a given ephemeral secret and IV, for known-answer tests. */
err_t dstack_env_encrypt_with(const uint8_t env_pub[X25519_KEY_LEN], const uint8_t eph_sk[X25519_KEY_LEN],
			      const uint8_t iv[AES256GCM_IV_LEN], const void *pt, size_t len, uint8_t *out,
			      size_t cap, size_t *out_len) MUST_CHECK;
/*
 * Decrypt an .encrypted-env blob with the app's env_crypt_key. out gets
 * len - DSTACK_ENV_OVERHEAD bytes of plaintext (cap must allow it, else
 * ERR_INVALID_ARG). ERR_PROTO_TRUNCATED when len < DSTACK_ENV_OVERHEAD,
 * ERR_PROTO_DECRYPT for a wrong key or any altered byte, ERR_CRYPTO for a
 * small-order ephemeral key. out is wiped on failure.
 */
err_t dstack_env_decrypt(const uint8_t env_sk[X25519_KEY_LEN], const uint8_t *in, size_t len, uint8_t *out,
			 size_t cap, size_t *out_len) MUST_CHECK;

#endif
