/* SPDX-License-Identifier: Apache-2.0 */
/* X25519 and AES-256-GCM over OpenSSL EVP, and dstack's .encrypted-env seal/open. */
#include "x25519.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

err_t x25519_public_key(const uint8_t sk[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, X25519_KEY_LEN);
	size_t n = X25519_KEY_LEN;
	err_t e = ERR_CRYPTO;

	if (k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == X25519_KEY_LEN)
		e = ERR_OK;
	if (e)
		ERR_clear_error();
	EVP_PKEY_free(k);   /* OpenSSL wipes raw X25519 private keys on free */
	return e;
}

err_t x25519_shared_secret(const uint8_t sk[X25519_KEY_LEN], const uint8_t peer_pub[X25519_KEY_LEN],
			   uint8_t out[X25519_KEY_LEN])
{
	EVP_PKEY *k = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = X25519_KEY_LEN;
	err_t e = ERR_CRYPTO;

	if (!(k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, X25519_KEY_LEN)) ||
	    !(peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, X25519_KEY_LEN)))
		goto out;
	/* EVP_PKEY_derive fails on an all-zero result (small-order peer point). */
	if (!(ctx = EVP_PKEY_CTX_new(k, NULL)) || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, out, &n) != 1 || n != X25519_KEY_LEN)
		goto out;
	e = ERR_OK;
out:
	if (e) {
		ERR_clear_error();
		OPENSSL_cleanse(out, X25519_KEY_LEN);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(k);
	return e;
}

/* Cipher context set up for key/iv and fed the AAD; NULL on failure. */
static EVP_CIPHER_CTX *gcm_begin(int enc, const uint8_t *key, const uint8_t *iv, const void *aad, size_t aad_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	if (!ctx)
		return NULL;
	/* The default GCM IV length is 12; set it anyway so the contract does not rest on a default. */
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, AES256GCM_IV_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1 ||
	    (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)) {
		EVP_CIPHER_CTX_free(ctx);   /* clears the key schedule */
		return NULL;
	}
	return ctx;
}

err_t aes256gcm_seal(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t iv[AES256GCM_IV_LEN], const void *aad,
		     size_t aad_len, const void *pt, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0;
	err_t e = ERR_INVALID_ARG;

	if (!key || !iv || !out || (len && !pt) || (aad_len && !aad) || len > AES256GCM_MAX_LEN ||
	    aad_len > AES256GCM_MAX_LEN)
		goto out;
	e = ERR_CRYPTO;
	if (!(ctx = gcm_begin(1, key, iv, aad, aad_len)))
		goto out;
	if ((len && EVP_EncryptUpdate(ctx, out, &n, pt, (int)len) != 1) || EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AES256GCM_TAG_LEN, out + len) != 1)
		goto out;
	e = ERR_OK;
out:
	if (e == ERR_CRYPTO) {
		ERR_clear_error();
		OPENSSL_cleanse(out, len + AES256GCM_TAG_LEN);
	}
	EVP_CIPHER_CTX_free(ctx);
	return e;
}

err_t aes256gcm_open(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t iv[AES256GCM_IV_LEN], const void *aad,
		     size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[AES256GCM_TAG_LEN];
	size_t len;
	int n = 0, fin = 0;
	err_t e = ERR_INVALID_ARG;

	if (!key || !iv || !ct || !out || (aad_len && !aad) || ct_len > AES256GCM_MAX_LEN + AES256GCM_TAG_LEN ||
	    aad_len > AES256GCM_MAX_LEN)
		return e;
	if (ct_len < AES256GCM_TAG_LEN)
		return ERR_PROTO_TRUNCATED;
	len = ct_len - AES256GCM_TAG_LEN;
	/* Copy the tag first: with out == ct, decrypting in place leaves it untouched, but do not rely on that. */
	memcpy(tag, ct + len, AES256GCM_TAG_LEN);
	e = ERR_CRYPTO;
	if (!(ctx = gcm_begin(0, key, iv, aad, aad_len)))
		goto out;
	if ((len && EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AES256GCM_TAG_LEN, tag) != 1)
		goto out;
	/* Final compares the tag (CRYPTO_memcmp); failure here means the input was altered or the key is wrong. */
	if (EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
		e = ERR_PROTO_DECRYPT;
		goto out;
	}
	if ((size_t)n + (size_t)fin != len)
		goto out;
	e = ERR_OK;
out:
	if (e) {
		ERR_clear_error();
		OPENSSL_cleanse(out, len);
	}
	EVP_CIPHER_CTX_free(ctx);
	return e;
}

err_t dstack_env_encrypt_with(const uint8_t env_pub[X25519_KEY_LEN], const uint8_t eph_sk[X25519_KEY_LEN],
			      const uint8_t iv[AES256GCM_IV_LEN], const void *pt, size_t len, uint8_t *out,
			      size_t cap, size_t *out_len)
{
	uint8_t shared[X25519_KEY_LEN];
	err_t e;

	if (!out || !out_len || len > AES256GCM_MAX_LEN || cap < len + DSTACK_ENV_OVERHEAD)
		return ERR_INVALID_ARG;
	if ((e = x25519_public_key(eph_sk, out)) != ERR_OK ||
	    (e = x25519_shared_secret(eph_sk, env_pub, shared)) != ERR_OK)
		goto out;
	memcpy(out + X25519_KEY_LEN, iv, AES256GCM_IV_LEN);
	if ((e = aes256gcm_seal(shared, iv, NULL, 0, pt, len, out + X25519_KEY_LEN + AES256GCM_IV_LEN)) != ERR_OK)
		goto out;
	*out_len = len + DSTACK_ENV_OVERHEAD;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	return e;
}

err_t dstack_env_encrypt(const uint8_t env_pub[X25519_KEY_LEN], const void *pt, size_t len, uint8_t *out,
			 size_t cap, size_t *out_len)
{
	uint8_t eph[X25519_KEY_LEN], iv[AES256GCM_IV_LEN];
	err_t e = ERR_CRYPTO;

	if (RAND_priv_bytes(eph, sizeof(eph)) == 1 && RAND_bytes(iv, sizeof(iv)) == 1)
		e = dstack_env_encrypt_with(env_pub, eph, iv, pt, len, out, cap, out_len);
	OPENSSL_cleanse(eph, sizeof(eph));
	return e;
}

err_t dstack_env_decrypt(const uint8_t env_sk[X25519_KEY_LEN], const uint8_t *in, size_t len, uint8_t *out,
			 size_t cap, size_t *out_len)
{
	uint8_t shared[X25519_KEY_LEN];
	err_t e;

	if (!in || !out || !out_len)
		return ERR_INVALID_ARG;
	if (len < DSTACK_ENV_OVERHEAD)
		return ERR_PROTO_TRUNCATED;
	if (cap < len - DSTACK_ENV_OVERHEAD)
		return ERR_INVALID_ARG;
	if ((e = x25519_shared_secret(env_sk, in, shared)) != ERR_OK)
		goto out;
	e = aes256gcm_open(shared, in + X25519_KEY_LEN, NULL, 0, in + X25519_KEY_LEN + AES256GCM_IV_LEN,
			   len - X25519_KEY_LEN - AES256GCM_IV_LEN, out);
	if (e == ERR_OK)
		*out_len = len - DSTACK_ENV_OVERHEAD;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	return e;
}
