/* SPDX-License-Identifier: Apache-2.0 */
/* GetKey, Tappd.DeriveK256Key, Sign and Verify: keys derived from the app key, with dstack's signature chain. */
#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "dstack_keys.h"
#include "guest_keymemo.h"
#include "guest_rpc.h"
#include "pbcodec.h"

enum sign_alg { ALG_SECP256K1 = 0, ALG_ED25519, ALG_SECP256K1_PREHASHED, ALG_UNKNOWN };

/* dstack's normalize_algorithm: "k256" is "secp256k1"; "" is secp256k1 for keys only. */
static enum sign_alg alg_of(const char *s, int for_key)
{
	if (!s || !*s)
		return for_key ? ALG_SECP256K1 : ALG_UNKNOWN;
	if (strcmp(s, "secp256k1") == 0 || strcmp(s, "k256") == 0)
		return ALG_SECP256K1;
	if (strcmp(s, "ed25519") == 0)
		return ALG_ED25519;
	if (!for_key && strcmp(s, "secp256k1_prehashed") == 0)
		return ALG_SECP256K1_PREHASHED;
	return ALG_UNKNOWN;
}

ProtobufCBinaryData guest_pb_bytes(struct rpc_call *call, const void *p, size_t n)
{
	ProtobufCBinaryData b = { n, NULL };

	if (n)
		b.data = arena_memdup(rpc_call_arena(call), p, n);
	return b;
}

static int text_ok(const char *s, size_t max)
{
	return !s || strlen(s) <= max;
}

err_t guest_validate_get_key(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__GetKeyArgs *q = (const void *)req;

	if (!text_ok(q->path, GUEST_MAX_PATH) || !text_ok(q->purpose, GUEST_MAX_PATH)) {
		*detail = "path and purpose: at most 4096 bytes each";
		return ERR_INVALID_ARG;
	}
	if (alg_of(q->algorithm, 1) == ALG_UNKNOWN) {
		*detail = "Unsupported algorithm (secp256k1, k256 or ed25519)";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

err_t guest_validate_sign(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__SignRequest *q = (const void *)req;
	enum sign_alg a = alg_of(q->algorithm, 0);

	if (a == ALG_UNKNOWN) {
		*detail = "Unsupported algorithm (ed25519, secp256k1 or secp256k1_prehashed)";
		return ERR_INVALID_ARG;
	}
	if (q->data.len > GUEST_MAX_SIGN_DATA) {
		*detail = "data: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	if (a == ALG_SECP256K1_PREHASHED && q->data.len != 32) {
		*detail = "Pre-hashed signing requires a 32-byte digest";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

err_t guest_validate_verify(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__VerifyRequest *q = (const void *)req;
	enum sign_alg a = alg_of(q->algorithm, 0);

	if (a == ALG_UNKNOWN) {
		*detail = "Unsupported algorithm (ed25519, secp256k1 or secp256k1_prehashed)";
		return ERR_INVALID_ARG;
	}
	if (q->data.len > GUEST_MAX_SIGN_DATA) {
		*detail = "data: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	if (q->signature.len != 64) {
		*detail = "signature: 64 bytes (r||s, or an ed25519 signature)";
		return ERR_INVALID_ARG;
	}
	if (a == ALG_ED25519 ? q->public_key.len != 32 : (q->public_key.len != 33 && q->public_key.len != 65)) {
		*detail = "invalid public key: 32 bytes (ed25519) or SEC1 33/65 bytes (secp256k1)";
		return ERR_INVALID_ARG;
	}
	if (a == ALG_SECP256K1_PREHASHED && q->data.len != 32) {
		*detail = "Pre-hashed verification requires a 32-byte digest";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/* The derived key and signature_chain[0], from the memo when asked before; `out` wiped by the caller. */
static err_t derive(struct rpc_call *call, const char *path, const char *purpose, enum sign_alg alg,
		    struct dstack_derived_key *out)
{
	struct guest_env *g = guest_of(call);
	size_t plen, qlen;
	err_t err;

	path = path ? path : "";
	purpose = purpose ? purpose : "";
	plen = strlen(path);
	qlen = strlen(purpose);
	if (guest_keymemo_get(g->keymemo, alg, path, plen, purpose, qlen, out))
		return ERR_OK;
	err = dstack_getkey(g->boot.keys.k256_key, alg == ALG_ED25519 ? DSTACK_KEY_ED25519 : DSTACK_KEY_SECP256K1, path,
			    plen, purpose, qlen, out);
	if (err == ERR_KEY_RANGE)
		rpc_call_set_detail(call, "the key derived at this path is not a valid secp256k1 key; use another path");
	if (err == ERR_OK)
		guest_keymemo_put(g->keymemo, alg, path, plen, purpose, qlen, out);
	return err;
}

/* [sig0, the KMS's k256_signature] (the second is empty without a KMS, as in dstack). */
static err_t chain(struct rpc_call *call, const uint8_t sig0[K256_SIG_LEN], size_t *n, ProtobufCBinaryData **out)
{
	const struct guest_env *g = guest_of(call);
	ProtobufCBinaryData *c = arena_zalloc(rpc_call_arena(call), 2 * sizeof(*c));

	if (!c)
		return arena_err(rpc_call_arena(call));
	c[0] = guest_pb_bytes(call, sig0, K256_SIG_LEN);
	c[1] = guest_pb_bytes(call, g->boot.keys.k256_signature, g->boot.keys.k256_signature_len);
	if (!c[0].data || (g->boot.keys.k256_signature_len && !c[1].data))
		return arena_err(rpc_call_arena(call));
	*n = 2;
	*out = c;
	return ERR_OK;
}

int guest_on_get_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__GetKeyArgs *q = (const void *)req;
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__GetKeyResponse *out;
	struct dstack_derived_key dk;
	err_t err;

	rpc_call_set_secret(call);
	if ((err = derive(call, q->path, q->purpose, alg_of(q->algorithm, 1), &dk)) != ERR_OK)
		return err;
	out = (void *)pb_new(&dstack__guest__v1__get_key_response__descriptor, mem);
	if (!out) {
		err = arena_err(mem);
		goto out;
	}
	out->key = guest_pb_bytes(call, dk.key, sizeof(dk.key));
	if (!out->key.data || (err = chain(call, dk.sig, &out->n_signature_chain, &out->signature_chain)) != ERR_OK) {
		err = out->key.data ? err : arena_err(mem);
		goto out;
	}
	*resp = &out->base;
	err = ERR_OK;
out:
	secure_wipe(&dk, sizeof(dk));
	return err;
}

int guest_on_derive_k256_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__GetKeyArgs *q = (const void *)req;
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__DeriveK256KeyResponse *out;
	struct dstack_derived_key dk;
	err_t err;

	rpc_call_set_secret(call);
	if ((err = derive(call, q->path, q->purpose, alg_of(q->algorithm, 1), &dk)) != ERR_OK)
		return err;
	out = (void *)pb_new(&dstack__guest__v1__derive_k256_key_response__descriptor, mem);
	if (!out) {
		err = arena_err(mem);
		goto out;
	}
	out->k256_key = guest_pb_bytes(call, dk.key, sizeof(dk.key));
	if (!out->k256_key.data ||
	    (err = chain(call, dk.sig, &out->n_k256_signature_chain, &out->k256_signature_chain)) != ERR_OK) {
		err = out->k256_key.data ? err : arena_err(mem);
		goto out;
	}
	*resp = &out->base;
	err = ERR_OK;
out:
	secure_wipe(&dk, sizeof(dk));
	return err;
}

static err_t ed25519_sign(const uint8_t seed[32], const uint8_t *data, size_t len, uint8_t sig[64])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 64;
	err_t err = ERR_CRYPTO;

	if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, data ? data : (const uint8_t *)"", len) == 1 && n == 64)
		err = ERR_OK;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return err;
}

static int ed25519_verify(const uint8_t pub[32], const uint8_t *data, size_t len, const uint8_t sig[64])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestVerify(ctx, sig, 64, data ? data : (const uint8_t *)"", len) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

/*
 * A plain (non-recoverable) secp256k1 signature r||s checks out when one of
 * the two recovery ids recovers `pub`; k256_recover refuses high s, as the
 * k256 crate's verifier does.
 */
static int k256_verify(const uint8_t pub33[K256_PUB_LEN], const uint8_t hash[32], const uint8_t sig64[64])
{
	uint8_t sig[K256_SIG_LEN], got[K256_PUB_LEN];

	memcpy(sig, sig64, 64);
	for (uint8_t v = 0; v < 2; v++) {
		sig[64] = v;
		if (k256_recover(hash, sig, got) == ERR_OK && memcmp(got, pub33, K256_PUB_LEN) == 0)
			return 1;
	}
	return 0;
}

int guest_on_sign(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__SignRequest *q = (const void *)req;
	const struct guest_env *g = guest_of(call);
	struct arena *mem = rpc_call_arena(call);
	enum sign_alg a = alg_of(q->algorithm, 0);
	Dstack__Guest__V1__SignResponse *out;
	struct dstack_derived_key dk;
	uint8_t sig[K256_SIG_LEN], hash[SHA256_LEN];
	ProtobufCBinaryData *c;
	err_t err;

	rpc_call_set_secret(call);
	/* dstack: the key at path "vms", purpose "signing" (secp256k1_prehashed uses the secp256k1 key). */
	if ((err = derive(call, "vms", "signing", a == ALG_ED25519 ? ALG_ED25519 : ALG_SECP256K1, &dk)) != ERR_OK)
		return err;
	if (a == ALG_ED25519) {
		err = ed25519_sign(dk.key, q->data.data, q->data.len, sig);
	} else {
		if (a == ALG_SECP256K1)
			sha256(q->data.data ? q->data.data : (const uint8_t *)"", q->data.len, hash);
		else
			memcpy(hash, q->data.data, 32);
		err = k256_sign(dk.key, hash, sig);
	}
	if (err != ERR_OK)
		goto out;
	out = (void *)pb_new(&dstack__guest__v1__sign_response__descriptor, mem);
	c = arena_zalloc(mem, 3 * sizeof(*c));
	if (!out || !c) {
		err = arena_err(mem);
		goto out;
	}
	/* 64 bytes either way: ed25519, or secp256k1 r||s without the recovery id (k256's to_bytes). */
	out->signature = guest_pb_bytes(call, sig, 64);
	out->public_key = guest_pb_bytes(call, dk.pub, dk.pub_len);
	c[0] = out->signature;
	c[1] = guest_pb_bytes(call, dk.sig, K256_SIG_LEN);
	c[2] = guest_pb_bytes(call, g->boot.keys.k256_signature, g->boot.keys.k256_signature_len);
	if (!out->signature.data || !out->public_key.data || !c[1].data ||
	    (g->boot.keys.k256_signature_len && !c[2].data)) {
		err = arena_err(mem);
		goto out;
	}
	out->signature_chain = c;
	out->n_signature_chain = 3;
	*resp = &out->base;
out:
	secure_wipe(&dk, sizeof(dk));
	secure_wipe(sig, sizeof(sig));
	return err;
}

int guest_on_verify(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__VerifyRequest *q = (const void *)req;
	struct arena *mem = rpc_call_arena(call);
	enum sign_alg a = alg_of(q->algorithm, 0);
	Dstack__Guest__V1__VerifyResponse *out;
	uint8_t pub[K256_PUB_LEN], hash[SHA256_LEN];

	out = (void *)pb_new(&dstack__guest__v1__verify_response__descriptor, mem);
	if (!out)
		return arena_err(mem);
	if (a == ALG_ED25519) {
		out->valid = ed25519_verify(q->public_key.data, q->data.data, q->data.len, q->signature.data);
	} else {
		if (k256_pubkey_compress(q->public_key.data, q->public_key.len, pub) != ERR_OK) {
			rpc_call_set_detail(call, "invalid public key: not a secp256k1 point");
			return ERR_INVALID_ARG;
		}
		if (a == ALG_SECP256K1)
			sha256(q->data.data ? q->data.data : (const uint8_t *)"", q->data.len, hash);
		else
			memcpy(hash, q->data.data, 32);
		out->valid = k256_verify(pub, hash, q->signature.data);
	}
	*resp = &out->base;
	return ERR_OK;
}
