/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's KMS and guest-agent key derivations and signatures (reference §5.3, §5.4, §5.7), exact to dstack. */
#ifndef DS_DSTACK_KEYS_H
#define DS_DSTACK_KEYS_H

#include "base.h"
#include "dkdf.h"
#include "err.h"
#include "k256.h"
#include "x25519.h"

#define DSTACK_APP_ID_LEN 20         /* app ids and instance ids from attestation */
#define DSTACK_INSTANCE_ID_LEN 20
#define DSTACK_MAX_ID_LEN 256        /* dstack signs whatever app_id GetAppEnvEncryptPubKey is given */
#define DSTACK_KEY_LEN 32
#define DSTACK_REPORT_DATA_LEN 64
#define DSTACK_MAX_TEXT ((size_t)1 << 20)   /* purpose strings and GetKey paths */
#define DSTACK_MAX_SPKI 512

/*
 * Everything here is pure and thread-safe. Secret inputs are borrowed and
 * never kept; secret outputs belong to the caller, who wipes them
 * (dstack_app_keys_wipe for the struct). Ids are raw bytes (app_id 20 bytes
 * in practice, up to DSTACK_MAX_ID_LEN accepted, ERR_INVALID_ARG beyond).
 * Derivations that land outside a curve's range return ERR_KEY_RANGE, as
 * dstack errors out there too.
 */

/* The KMS root material: root-ca.key's P-256 scalar and root-k256.key's raw secret. */
struct dstack_root_keys {
	uint8_t ca[P256_SCALAR_LEN];
	uint8_t k256[K256_SECRET_LEN];
};

/* What GetAppKey returns, plus the app CA's scalar (which stays in the KMS for SignCert). */
struct dstack_app_keys {
	uint8_t disk_crypt_key[DSTACK_KEY_LEN];   /* guest uses hex() of it as the LUKS passphrase */
	uint8_t env_crypt_key[X25519_KEY_LEN];    /* X25519 static secret, unclamped */
	uint8_t k256_key[K256_SECRET_LEN];
	uint8_t k256_signature[K256_SIG_LEN];     /* by the root k256 key over dstack_kms_issued_hash */
	uint8_t app_ca[P256_SCALAR_LEN];
};

/* All of GetAppKey's derivations at once. out is wiped on failure. */
err_t dstack_app_keys_derive(const struct dstack_root_keys *root, const uint8_t *app_id, size_t app_id_len,
			     const uint8_t *instance_id, size_t instance_id_len, struct dstack_app_keys *out)
	MUST_CHECK;
void dstack_app_keys_wipe(struct dstack_app_keys *k);

/* derive_dh_secret(rootCA, [app_id, instance_id, "app-disk-crypt-key"]). */
err_t dstack_disk_crypt_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			    const uint8_t *instance_id, size_t instance_id_len, uint8_t out[DSTACK_KEY_LEN])
	MUST_CHECK;
/* derive_dh_secret(rootCA, [app_id, "env-encrypt-key"]), the X25519 secret; and its public key. */
err_t dstack_env_crypt_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			   uint8_t out[X25519_KEY_LEN]) MUST_CHECK;
err_t dstack_env_pubkey(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			uint8_t pub[X25519_KEY_LEN]) MUST_CHECK;
/* derive_key(root_k256, [app_id, "app-key"], 32), checked to be a valid secp256k1 secret. */
err_t dstack_app_k256_key(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			  uint8_t out[K256_SECRET_LEN]) MUST_CHECK;
/* derive_p256(rootCA, [app_id, "app-ca"]): the app CA's scalar. */
err_t dstack_app_ca_key(const uint8_t root_ca[P256_SCALAR_LEN], const uint8_t *app_id, size_t app_id_len,
			uint8_t out[P256_SCALAR_LEN]) MUST_CHECK;

/* keccak256("dstack-kms-issued" || ":" || app_id || compressed app pubkey). */
err_t dstack_kms_issued_hash(const uint8_t *app_id, size_t app_id_len, const uint8_t app_pub[K256_PUB_LEN],
			     uint8_t hash[K256_HASH_LEN]) MUST_CHECK;
/* k256_signature: the root k256 key signs dstack_kms_issued_hash of the app key's public key. */
err_t dstack_kms_issued_sign(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			     const uint8_t app_pub[K256_PUB_LEN], uint8_t sig[K256_SIG_LEN]) MUST_CHECK;

/*
 * GetAppEnvEncryptPubKey signatures by the root k256 key:
 *   legacy: keccak256("dstack-env-encrypt-pubkey" || ":" || app_id || pub)
 *   v1:     keccak256("dstack-env-encrypt-pubkey" || ":" || app_id || u64_be(timestamp) || pub)
 * v1 is what @phala/dstack-sdk's verifyEnvEncryptPublicKey checks.
 */
err_t dstack_env_pubkey_hash(const uint8_t *app_id, size_t app_id_len, const uint8_t pub[X25519_KEY_LEN],
			     uint8_t hash[K256_HASH_LEN]) MUST_CHECK;
err_t dstack_env_pubkey_hash_v1(const uint8_t *app_id, size_t app_id_len, uint64_t timestamp,
				const uint8_t pub[X25519_KEY_LEN], uint8_t hash[K256_HASH_LEN]) MUST_CHECK;
err_t dstack_env_pubkey_sign(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id, size_t app_id_len,
			     const uint8_t pub[X25519_KEY_LEN], uint8_t sig[K256_SIG_LEN]) MUST_CHECK;
err_t dstack_env_pubkey_sign_v1(const uint8_t root_k256[K256_SECRET_LEN], const uint8_t *app_id,
				size_t app_id_len, uint64_t timestamp, const uint8_t pub[X25519_KEY_LEN],
				uint8_t sig[K256_SIG_LEN]) MUST_CHECK;

/*
 * Bootstrap report data: pad64(keccak256("dstack-kms-genereted-keys-v1:" ||
 * hex(ca_spki) || ";" || hex(k256_pub) || ";")), lowercase hex, the
 * misspelling dstack's. ca_spki is the root CA's SubjectPublicKeyInfo DER
 * (p256_spki_der, 91 bytes; up to DSTACK_MAX_SPKI accepted).
 */
err_t dstack_bootstrap_report_data(const uint8_t *ca_spki, size_t spki_len, const uint8_t k256_pub[K256_PUB_LEN],
				   uint8_t out[DSTACK_REPORT_DATA_LEN]) MUST_CHECK;
/* The same from the root secrets. */
err_t dstack_bootstrap_report_data_of(const struct dstack_root_keys *root, uint8_t out[DSTACK_REPORT_DATA_LEN])
	MUST_CHECK;

/* ---- guest agent: GetKey and its signature chain ---- */

enum dstack_key_alg {
	DSTACK_KEY_SECP256K1 = 0,   /* "secp256k1" or "" */
	DSTACK_KEY_ED25519 = 1,     /* "ed25519" */
};

struct dstack_derived_key {
	uint8_t key[DSTACK_KEY_LEN];          /* secp256k1 secret or ed25519 seed (the same bytes either way) */
	uint8_t pub[K256_PUB_LEN];            /* 33-byte compressed secp256k1, or 32-byte ed25519 */
	size_t pub_len;
	uint8_t sig[K256_SIG_LEN];            /* signature_chain[0], by the app k256 key */
};

/*
 * GetKey: key = derive_key(app_k256, [path], 32) (the algorithm is not
 * domain-separated); signature_chain[0] = app k256 key signs
 * keccak256(purpose || ":" || hex_lowercase(pub)). signature_chain[1] is the
 * KMS's k256_signature, which the caller holds. ERR_KEY_RANGE when a
 * secp256k1 key falls out of range; ERR_INVALID_ARG for an unknown algorithm
 * or over-long text. out is wiped on failure.
 */
err_t dstack_getkey(const uint8_t app_k256[K256_SECRET_LEN], enum dstack_key_alg alg, const char *path,
		    size_t path_len, const char *purpose, size_t purpose_len, struct dstack_derived_key *out)
	MUST_CHECK;
/* keccak256(purpose || ":" || hex_lowercase(pub)), the digest signature_chain[0] signs. */
err_t dstack_getkey_hash(const char *purpose, size_t purpose_len, const uint8_t *pub, size_t pub_len,
			 uint8_t hash[K256_HASH_LEN]) MUST_CHECK;
/* The 32-byte ed25519 public key of a 32-byte seed. */
err_t ed25519_public_key(const uint8_t seed[32], uint8_t pub[32]) MUST_CHECK;

/*
 * Verify a GetKey signature chain (dstack/kms/README.md): recover the app
 * key from sig0 over dstack_getkey_hash(purpose, pub), then the root key from
 * sig1 over dstack_kms_issued_hash(app_id, app key), and compare it with
 * root_pub (compressed, e.g. GetMeta.k256_pubkey or the registry's
 * k256Pubkey). app_pub (optional) gets the recovered app key. Returns
 * ERR_PROTO_SIGNATURE when a signature is malformed or the chain ends
 * anywhere but root_pub; ERR_INVALID_ARG for bad lengths.
 */
err_t dstack_verify_key_chain(const uint8_t *pub, size_t pub_len, const char *purpose, size_t purpose_len,
			      const uint8_t *app_id, size_t app_id_len, const uint8_t sig0[K256_SIG_LEN],
			      const uint8_t sig1[K256_SIG_LEN], const uint8_t root_pub[K256_PUB_LEN],
			      uint8_t app_pub[K256_PUB_LEN]) MUST_CHECK;

/* ---- keys without a KMS (dstack-util gen_app_keys_from_seed; reference §5.3) ---- */

struct dstack_seed_keys {
	uint8_t app_ca[P256_SCALAR_LEN];          /* derive_p256(seed, ["app-key"]): the self-signed app root */
	uint8_t disk_crypt_key[DSTACK_KEY_LEN];   /* derive_dh_secret(seed, ["app-disk-key"]) */
	uint8_t k256_key[K256_SECRET_LEN];        /* derive_key(seed, ["app-k256-key"], 32) */
};
/* For the none / local / TPM key providers: env_crypt_key and k256_signature are empty there. */
err_t dstack_seed_keys_derive(const uint8_t *seed, size_t seed_len, struct dstack_seed_keys *out) MUST_CHECK;

#endif
