/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's per-app key derivations, KMS signatures, bootstrap binding and GetKey chains. */
#include "dstack_keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "enc.h"

static const char pfx_issued[] = "dstack-kms-issued";
static const char pfx_env[] = "dstack-env-encrypt-pubkey";
static const char pfx_boot[] = "dstack-kms-genereted-keys-v1:";   /* sic: dstack's spelling */

static int id_ok(const uint8_t *id, size_t len)
{
	return id && len > 0 && len <= DSTACK_MAX_ID_LEN;
}

err_t dstack_disk_crypt_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			    const uint8_t *instance_id, size_t instance_id_len, uint8_t out[DSTACK_KEY_LEN])
{
	const struct dkdf_part ctx[] = {
		{ app_id, app_id_len }, { instance_id, instance_id_len }, DKDF_STR("app-disk-crypt-key"),
	};

	if (!id_ok(app_id, app_id_len) || !id_ok(instance_id, instance_id_len))
		return ERR_INVALID_ARG;
	return dkdf_derive_dh_secret(root_ca, P256_SCALAR_LEN, ctx, ARRAY_LEN(ctx), out);
}

err_t dstack_env_crypt_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			   uint8_t out[X25519_KEY_LEN])
{
	const struct dkdf_part ctx[] = { { app_id, app_id_len }, DKDF_STR("env-encrypt-key") };

	if (!id_ok(app_id, app_id_len))
		return ERR_INVALID_ARG;
	return dkdf_derive_dh_secret(root_ca, P256_SCALAR_LEN, ctx, ARRAY_LEN(ctx), out);
}

err_t dstack_env_pubkey(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			uint8_t pub[X25519_KEY_LEN])
{
	uint8_t sk[X25519_KEY_LEN];
	err_t e;

	if ((e = dstack_env_crypt_key(root_ca, app_id, app_id_len, sk)) == ERR_OK)
		e = x25519_public_key(sk, pub);
	OPENSSL_cleanse(sk, sizeof(sk));
	return e;
}

err_t dstack_app_k256_key(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			  uint8_t out[K256_SECRET_LEN])
{
	const struct dkdf_part ctx[] = { { app_id, app_id_len }, DKDF_STR("app-key") };
	err_t e;

	if (!id_ok(app_id, app_id_len))
		return ERR_INVALID_ARG;
	if ((e = dkdf_derive_key(root_k256, K256_SECRET_LEN, ctx, ARRAY_LEN(ctx), out, K256_SECRET_LEN)) != ERR_OK)
		return e;
	if (!k256_secret_is_valid(out)) {
		OPENSSL_cleanse(out, K256_SECRET_LEN);
		return ERR_KEY_RANGE;
	}
	return ERR_OK;
}

err_t dstack_app_ca_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			uint8_t out[P256_SCALAR_LEN])
{
	const struct dkdf_part ctx[] = { { app_id, app_id_len }, DKDF_STR("app-ca") };

	if (!id_ok(app_id, app_id_len))
		return ERR_INVALID_ARG;
	return dkdf_derive_p256(root_ca, P256_SCALAR_LEN, ctx, ARRAY_LEN(ctx), out);
}

/*
 * keccak256(prefix || ":" || app_id || [u64_be(ts)] || msg), dstack's
 * sign_message / sign_message_with_timestamp digest. The buffer covers the
 * largest id and message we accept.
 */
static void prefixed_hash(const char *prefix, const uint8_t *app_id, size_t app_id_len, const uint64_t *ts,
			  const uint8_t *msg, size_t msg_len, uint8_t hash[K256_HASH_LEN])
{
	uint8_t buf[64 + DSTACK_MAX_ID_LEN + 8 + 64];
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	buf[n++] = ':';
	memcpy(buf + n, app_id, app_id_len);
	n += app_id_len;
	if (ts)
		for (int i = 7; i >= 0; i--)
			buf[n++] = (uint8_t)(*ts >> (8 * i));
	memcpy(buf + n, msg, msg_len);
	n += msg_len;
	keccak256(buf, n, hash);
}

err_t dstack_kms_issued_hash(const uint8_t *app_id, size_t app_id_len, const uint8_t app_pub[K256_PUB_LEN],
			     uint8_t hash[K256_HASH_LEN])
{
	if (!id_ok(app_id, app_id_len) || !app_pub)
		return ERR_INVALID_ARG;
	prefixed_hash(pfx_issued, app_id, app_id_len, NULL, app_pub, K256_PUB_LEN, hash);
	return ERR_OK;
}

err_t dstack_kms_issued_sign(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			     const uint8_t app_pub[K256_PUB_LEN], uint8_t sig[K256_SIG_LEN])
{
	uint8_t h[K256_HASH_LEN];
	err_t e;

	if ((e = dstack_kms_issued_hash(app_id, app_id_len, app_pub, h)) != ERR_OK)
		return e;
	return k256_sign(root_k256, h, sig);
}

err_t dstack_env_pubkey_hash(const uint8_t *app_id, size_t app_id_len, const uint8_t pub[X25519_KEY_LEN],
			     uint8_t hash[K256_HASH_LEN])
{
	if (!id_ok(app_id, app_id_len) || !pub)
		return ERR_INVALID_ARG;
	prefixed_hash(pfx_env, app_id, app_id_len, NULL, pub, X25519_KEY_LEN, hash);
	return ERR_OK;
}

err_t dstack_env_pubkey_hash_v1(const uint8_t *app_id, size_t app_id_len, uint64_t timestamp,
				const uint8_t pub[X25519_KEY_LEN], uint8_t hash[K256_HASH_LEN])
{
	if (!id_ok(app_id, app_id_len) || !pub)
		return ERR_INVALID_ARG;
	prefixed_hash(pfx_env, app_id, app_id_len, &timestamp, pub, X25519_KEY_LEN, hash);
	return ERR_OK;
}

err_t dstack_env_pubkey_sign(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			     const uint8_t pub[X25519_KEY_LEN], uint8_t sig[K256_SIG_LEN])
{
	uint8_t h[K256_HASH_LEN];
	err_t e;

	if ((e = dstack_env_pubkey_hash(app_id, app_id_len, pub, h)) != ERR_OK)
		return e;
	return k256_sign(root_k256, h, sig);
}

err_t dstack_env_pubkey_sign_v1(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id,
				size_t app_id_len, uint64_t timestamp, const uint8_t pub[X25519_KEY_LEN],
				uint8_t sig[K256_SIG_LEN])
{
	uint8_t h[K256_HASH_LEN];
	err_t e;

	if ((e = dstack_env_pubkey_hash_v1(app_id, app_id_len, timestamp, pub, h)) != ERR_OK)
		return e;
	return k256_sign(root_k256, h, sig);
}

void dstack_app_keys_wipe(struct dstack_app_keys *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

err_t dstack_app_keys_derive(const struct dstack_root_keys *root, const uint8_t *app_id, size_t app_id_len,
			     const uint8_t *instance_id, size_t instance_id_len, struct dstack_app_keys *out)
{
	uint8_t app_pub[K256_PUB_LEN];
	err_t e;

	if (!root || !out)
		return ERR_INVALID_ARG;
	if ((e = dstack_disk_crypt_key(root->ca, app_id, app_id_len, instance_id, instance_id_len,
				       out->disk_crypt_key)) != ERR_OK ||
	    (e = dstack_env_crypt_key(root->ca, app_id, app_id_len, out->env_crypt_key)) != ERR_OK ||
	    (e = dstack_app_k256_key(root->k256, app_id, app_id_len, out->k256_key)) != ERR_OK ||
	    (e = k256_pubkey(out->k256_key, app_pub)) != ERR_OK ||
	    (e = dstack_kms_issued_sign(root->k256, app_id, app_id_len, app_pub, out->k256_signature)) != ERR_OK ||
	    (e = dstack_app_ca_key(root->ca, app_id, app_id_len, out->app_ca)) != ERR_OK)
		dstack_app_keys_wipe(out);
	return e;
}

err_t dstack_bootstrap_report_data(const uint8_t *ca_spki, size_t spki_len, const uint8_t k256_pub[K256_PUB_LEN],
				   uint8_t out[DSTACK_REPORT_DATA_LEN])
{
	char buf[sizeof(pfx_boot) + 2 * DSTACK_MAX_SPKI + 2 * K256_PUB_LEN + 3];
	size_t n = sizeof(pfx_boot) - 1;

	if (!ca_spki || spki_len == 0 || spki_len > DSTACK_MAX_SPKI || !k256_pub)
		return ERR_INVALID_ARG;
	memcpy(buf, pfx_boot, n);
	hex_encode(buf + n, ca_spki, spki_len);
	n += 2 * spki_len;
	buf[n++] = ';';
	hex_encode(buf + n, k256_pub, K256_PUB_LEN);
	n += 2 * K256_PUB_LEN;
	buf[n++] = ';';
	memset(out, 0, DSTACK_REPORT_DATA_LEN);
	keccak256(buf, n, out);
	return ERR_OK;
}

err_t dstack_bootstrap_report_data_of(const struct dstack_root_keys *root, uint8_t out[DSTACK_REPORT_DATA_LEN])
{
	uint8_t spki[P256_SPKI_LEN], pub[K256_PUB_LEN];
	err_t e;

	if (!root)
		return ERR_INVALID_ARG;
	if ((e = p256_spki_der(root->ca, spki)) != ERR_OK || (e = k256_pubkey(root->k256, pub)) != ERR_OK)
		return e;
	return dstack_bootstrap_report_data(spki, sizeof(spki), pub, out);
}

err_t ed25519_public_key(const uint8_t seed[32], uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	size_t n = 32;
	err_t e = ERR_CRYPTO;

	if (k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32)
		e = ERR_OK;
	if (e)
		ERR_clear_error();
	EVP_PKEY_free(k);
	return e;
}

err_t dstack_getkey_hash(const char *purpose, size_t purpose_len, const uint8_t *pub, size_t pub_len,
			 uint8_t hash[K256_HASH_LEN])
{
	char *msg;
	size_t n;

	if ((purpose_len && !purpose) || purpose_len > DSTACK_MAX_TEXT || !pub ||
	    (pub_len != K256_PUB_LEN && pub_len != 32))
		return ERR_INVALID_ARG;
	n = purpose_len + 1 + 2 * pub_len;
	if (!(msg = malloc(n + 1)))
		return ERR_NOMEM;
	if (purpose_len)
		memcpy(msg, purpose, purpose_len);
	msg[purpose_len] = ':';
	hex_encode(msg + purpose_len + 1, pub, pub_len);
	keccak256(msg, n, hash);
	free(msg);
	return ERR_OK;
}

err_t dstack_getkey(const uint8_t app_k256[K256_SECRET_LEN], enum dstack_key_alg alg, const char *path,
		    size_t path_len, const char *purpose, size_t purpose_len, struct dstack_derived_key *out)
{
	const struct dkdf_part ctx[] = { { path, path_len } };
	uint8_t h[K256_HASH_LEN];
	err_t e = ERR_INVALID_ARG;

	if (!out)
		return e;
	memset(out, 0, sizeof(*out));
	if ((alg != DSTACK_KEY_SECP256K1 && alg != DSTACK_KEY_ED25519) || (path_len && !path) ||
	    path_len > DSTACK_MAX_TEXT)
		goto out;
	if ((e = dkdf_derive_key(app_k256, K256_SECRET_LEN, ctx, ARRAY_LEN(ctx), out->key, DSTACK_KEY_LEN)) != ERR_OK)
		goto out;
	if (alg == DSTACK_KEY_ED25519) {
		e = ed25519_public_key(out->key, out->pub);
		out->pub_len = 32;
	} else {
		e = k256_pubkey(out->key, out->pub);
		out->pub_len = K256_PUB_LEN;
	}
	if (e != ERR_OK)
		goto out;
	if ((e = dstack_getkey_hash(purpose, purpose_len, out->pub, out->pub_len, h)) != ERR_OK)
		goto out;
	e = k256_sign(app_k256, h, out->sig);
out:
	if (e)
		OPENSSL_cleanse(out, sizeof(*out));
	return e;
}

err_t dstack_verify_key_chain(const uint8_t *pub, size_t pub_len, const char *purpose, size_t purpose_len,
			      const uint8_t *app_id, size_t app_id_len, const uint8_t sig0[K256_SIG_LEN],
			      const uint8_t sig1[K256_SIG_LEN], const uint8_t root_pub[K256_PUB_LEN],
			      uint8_t app_pub[K256_PUB_LEN])
{
	uint8_t h[K256_HASH_LEN], app[K256_PUB_LEN], root[K256_PUB_LEN];
	err_t e;

	if (!sig0 || !sig1 || !root_pub)
		return ERR_INVALID_ARG;
	if ((e = dstack_getkey_hash(purpose, purpose_len, pub, pub_len, h)) != ERR_OK)
		return e;
	if ((e = k256_recover(h, sig0, app)) != ERR_OK)
		return e;
	if ((e = dstack_kms_issued_hash(app_id, app_id_len, app, h)) != ERR_OK)
		return e;
	if ((e = k256_recover(h, sig1, root)) != ERR_OK)
		return e;
	if (memcmp(root, root_pub, K256_PUB_LEN) != 0)
		return ERR_PROTO_SIGNATURE;
	if (app_pub)
		memcpy(app_pub, app, K256_PUB_LEN);
	return ERR_OK;
}

err_t dstack_seed_keys_derive(const uint8_t *seed, size_t seed_len, struct dstack_seed_keys *out)
{
	const struct dkdf_part ca[] = { DKDF_STR("app-key") }, disk[] = { DKDF_STR("app-disk-key") },
			       k256[] = { DKDF_STR("app-k256-key") };
	err_t e;

	if (!seed || seed_len == 0 || !out)
		return ERR_INVALID_ARG;
	if ((e = dkdf_derive_p256(seed, seed_len, ca, 1, out->app_ca)) != ERR_OK ||
	    (e = dkdf_derive_dh_secret(seed, seed_len, disk, 1, out->disk_crypt_key)) != ERR_OK ||
	    (e = dkdf_derive_key(seed, seed_len, k256, 1, out->k256_key, K256_SECRET_LEN)) != ERR_OK)
		goto out;
	if (!k256_secret_is_valid(out->k256_key))
		e = ERR_KEY_RANGE;
out:
	if (e)
		OPENSSL_cleanse(out, sizeof(*out));
	return e;
}
