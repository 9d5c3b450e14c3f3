/* SPDX-License-Identifier: Apache-2.0 */
/* Key-holder operations: status, bootstrap, per-app derivations and signatures, all inside the key-holder process. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "dstack/kms/v1/kms.pb-c.h"

#include "dkdf.h"
#include "dstack_keys.h"
#include "k256.h"
#include "kms_khops.h"
#include "kms_shares.h"
#include "pbcodec.h"
#include "ratls.h"
#include "shamir.h"

#define PB_NEW(type, desc, mem) ((type *)pb_new(&(desc), (mem)))

/* A copy of an epoch with the secret fields left out. */
static kms_root_epoch *public_epoch(const kms_root_epoch *e, struct arena *mem)
{
	kms_root_epoch *p = PB_NEW(kms_root_epoch, dstack__kms__internal__v1__root_epoch__descriptor, mem);

	if (!p)
		return NULL;
	p->epoch = e->epoch;
	p->state = e->state;
	p->ca_pubkey = e->ca_pubkey;
	p->k256_pubkey = e->k256_pubkey;
	p->ca_cert = e->ca_cert;
	p->created_at_unix = e->created_at_unix;
	p->retired_at_unix = e->retired_at_unix;
	p->reason = e->reason;
	p->attestation = e->attestation;
	return p;
}

static err_t op_status(struct arena *mem, kh_response *resp, const char **detail)
{
	const kms_sealed_state *st = kh_state();
	Dstack__Kms__Internal__V1__KhStatusResponse *out =
		PB_NEW(Dstack__Kms__Internal__V1__KhStatusResponse,
		       dstack__kms__internal__v1__kh_status_response__descriptor, mem);

	if (!out)
		return ERR_NOMEM;
	out->seal_provider = UNCONST("sim");
	if (st) {
		out->initialized = 1;
		out->current_epoch = st->current_epoch;
		out->tmp_ca_key = st->tmp_ca_key;
		out->tmp_ca_cert = st->tmp_ca_cert;
		out->domain = st->domain;
		out->origin = st->origin;
		out->generation = st->generation;
		out->n_epochs = st->n_epochs;
		out->epochs = arena_alloc(mem, (st->n_epochs ? st->n_epochs : 1) * sizeof(*out->epochs));
		if (!out->epochs)
			return ERR_NOMEM;
		for (size_t i = 0; i < st->n_epochs; i++)
			if (!(out->epochs[i] = public_epoch(st->epochs[i], mem)))
				return ERR_NOMEM;
	}
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_STATUS;
	resp->status = out;
	(void)detail;
	return ERR_OK;
}

static uint8_t *dup_bytes(struct arena *mem, const void *p, size_t n)
{
	return arena_memdup(mem, p, n);
}

#define DAY_S 86400ull
/* dstack: CA certificates live ten years (and are renewed within a year of expiry). */
#define CA_VALIDITY_S (3650 * DAY_S)

static const kms_root_epoch *current_epoch(const kms_sealed_state *st)
{
	for (size_t i = 0; i < st->n_epochs; i++)
		if (st->epochs[i]->epoch == st->current_epoch)
			return st->epochs[i];
	return NULL;
}

/* DER of x into the arena. */
static err_t cert_to_pb(X509 *x, struct arena *mem, ProtobufCBinaryData *out)
{
	struct buf_writer w;
	err_t err;

	buf_writer_init(&w, 64 * 1024);
	if ((err = ratls_cert_der(x, &w)) == ERR_OK) {
		out->len = w.len;
		if (!(out->data = arena_memdup(mem, w.p, w.len)))
			err = ERR_NOMEM;
	}
	buf_writer_free(&w);
	return err;
}

/* A self-signed CA certificate for a P-256 scalar: O=Dstack, CN=cn, the given path length. */
static err_t self_signed_ca(const uint8_t scalar[P256_SCALAR_LEN], const char *cn, int path_len, uint64_t now,
			    struct arena *mem, ProtobufCBinaryData *out)
{
	struct ratls_cert_params p = {
		.org = "Dstack", .cn = cn, .not_after = now + CA_VALIDITY_S, .is_ca = 1, .path_len = path_len,
	};
	EVP_PKEY *key = p256_pkey_from_scalar(scalar);
	X509 *x = NULL;
	err_t err;

	if (!key)
		return ERR_CRYPTO;
	if ((err = ratls_cert_build(&p, key, NULL, key, &x)) == ERR_OK)
		err = cert_to_pb(x, mem, out);
	X509_free(x);
	EVP_PKEY_free(key);
	return err;
}

/* Fresh root material for `epoch`: P-256 root CA scalar, secp256k1 root secret, their public keys. */
static err_t new_epoch(struct arena *mem, uint32_t epoch, uint64_t now, kms_root_epoch **out)
{
	kms_root_epoch *e = PB_NEW(kms_root_epoch, dstack__kms__internal__v1__root_epoch__descriptor, mem);
	uint8_t ca[P256_SCALAR_LEN], k[K256_SECRET_LEN], spki[P256_SPKI_LEN], kpub[K256_PUB_LEN];
	err_t err;

	if (!e)
		return ERR_NOMEM;
	if ((err = p256_scalar_random(ca)) != ERR_OK || (err = k256_secret_random(k)) != ERR_OK ||
	    (err = p256_spki_der(ca, spki)) != ERR_OK || (err = k256_pubkey(k, kpub)) != ERR_OK)
		goto out;
	e->epoch = epoch;
	e->state = DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_CURRENT;
	e->created_at_unix = now;
	e->ca_key = (ProtobufCBinaryData){ sizeof(ca), dup_bytes(mem, ca, sizeof(ca)) };
	e->k256_key = (ProtobufCBinaryData){ sizeof(k), dup_bytes(mem, k, sizeof(k)) };
	e->ca_pubkey = (ProtobufCBinaryData){ sizeof(spki), dup_bytes(mem, spki, sizeof(spki)) };
	e->k256_pubkey = (ProtobufCBinaryData){ sizeof(kpub), dup_bytes(mem, kpub, sizeof(kpub)) };
	if (!e->ca_key.data || !e->k256_key.data || !e->ca_pubkey.data || !e->k256_pubkey.data) {
		err = ERR_NOMEM;
		goto out;
	}
	if ((err = self_signed_ca(ca, "Dstack KMS CA", 1, now, mem, &e->ca_cert)) != ERR_OK)
		goto out;
	*out = e;
out:
	secure_wipe(ca, sizeof(ca));
	secure_wipe(k, sizeof(k));
	return err;
}

/* Bootstrap: the first node of a cluster generates epoch 0 and the temporary client CA, and seals them. */
static err_t op_bootstrap(const Dstack__Kms__Internal__V1__KhBootstrapRequest *r, struct arena *rmem,
			  kh_response *resp, const char **detail)
{
	struct arena *mem;
	kms_sealed_state *st;
	uint8_t tmp[P256_SCALAR_LEN];
	err_t err;

	if (kh_state()) {
		*detail = "root keys already exist";
		return ERR_EXISTS;
	}
	if (!r->domain || !*r->domain || strlen(r->domain) > 253) {
		*detail = "domain must be a DNS name";
		return ERR_INVALID_ARG;
	}
	if (!(mem = kh_new_arena()))
		return ERR_NOMEM;
	err = ERR_NOMEM;
	st = PB_NEW(kms_sealed_state, dstack__kms__internal__v1__sealed_state__descriptor, mem);
	if (!st || !(st->epochs = arena_zalloc(mem, sizeof(*st->epochs))))
		goto fail;
	if ((err = new_epoch(mem, 0, r->now_unix, &st->epochs[0])) != ERR_OK ||
	    (err = p256_scalar_random(tmp)) != ERR_OK)
		goto fail;
	st->n_epochs = 1;
	st->current_epoch = 0;
	st->tmp_ca_key = (ProtobufCBinaryData){ sizeof(tmp), dup_bytes(mem, tmp, sizeof(tmp)) };
	err = self_signed_ca(tmp, "Dstack Client Temp CA", 0, r->now_unix, mem, &st->tmp_ca_cert);
	secure_wipe(tmp, sizeof(tmp));
	if (err != ERR_OK)
		goto fail;
	st->domain = arena_strdup(mem, r->domain);
	st->origin = UNCONST("bootstrap");
	if (!st->tmp_ca_key.data || !st->domain) {
		err = ERR_NOMEM;
		goto fail;
	}
	if ((err = kh_commit(mem, st, detail)) != ERR_OK)
		return err;
	if ((err = op_status(rmem, resp, detail)) == ERR_OK) {
		resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_BOOTSTRAP;
		resp->bootstrap = resp->status;
	}
	return err;
fail:
	secure_wipe(tmp, sizeof(tmp));
	*detail = "cannot generate root keys";
	kh_free_arena(mem);
	return err;
}

/* The app CA of `app_id` under root CA scalar `root`: key derived as dstack does, certificate signed by the root. */
static err_t app_ca(const kms_root_epoch *e, const uint8_t *app_id, uint64_t now, EVP_PKEY **key_out, X509 **cert_out)
{
	struct ratls_cert_params p = {
		.org = "Dstack", .cn = "Dstack App CA", .not_after = now + CA_VALIDITY_S, .is_ca = 1, .path_len = 0,
		.app_id = app_id, .usage = RATLS_USAGE_APP_CA,
	};
	uint8_t scalar[P256_SCALAR_LEN];
	EVP_PKEY *key = NULL, *root = NULL;
	X509 *root_cert = NULL;
	err_t err;

	*key_out = NULL;
	*cert_out = NULL;
	err = dstack_app_ca_key(e->ca_key.data, app_id, RATLS_APP_ID_LEN, scalar);
	if (err == ERR_OK && !(key = p256_pkey_from_scalar(scalar)))
		err = ERR_CRYPTO;
	secure_wipe(scalar, sizeof(scalar));
	if (err == ERR_OK &&
	    (!(root = p256_pkey_from_scalar(e->ca_key.data)) || !(root_cert = kms_cert_from_der(&e->ca_cert))))
		err = ERR_CRYPTO;
	if (err == ERR_OK)
		err = ratls_cert_build(&p, key, root_cert, root, cert_out);
	EVP_PKEY_free(root);
	X509_free(root_cert);
	if (err != ERR_OK) {
		EVP_PKEY_free(key);
		return err;
	}
	*key_out = key;
	return ERR_OK;
}

static err_t op_issue_cert(const Dstack__Kms__Internal__V1__KhIssueCertRequest *r, struct arena *mem,
			   kh_response *resp, const char **detail)
{
	const kms_sealed_state *st = kh_state();
	const kms_root_epoch *e;
	const Dstack__Kms__Internal__V1__KhCertParams *cp = r->params;
	Dstack__Kms__Internal__V1__KhIssueCertResponse *out;
	struct ratls_cert_params p;
	const unsigned char *spki = r->subject_spki.data;
	EVP_PKEY *subject = NULL, *signer = NULL;
	X509 *issuer = NULL, *leaf = NULL;
	uint64_t now = wall_s();
	err_t err = ERR_INVALID_ARG;

	if (!st || !(e = current_epoch(st))) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if (!cp || !cp->cn || !*cp->cn || cp->n_alt_names > 64 || (cp->app_id.len && cp->app_id.len != RATLS_APP_ID_LEN)) {
		*detail = "certificate parameters: cn required, at most 64 names, app_id 20 bytes";
		return ERR_INVALID_ARG;
	}
	if (!spki || !(subject = d2i_PUBKEY(NULL, &spki, (long)r->subject_spki.len)) ||
	    spki != r->subject_spki.data + r->subject_spki.len) {
		*detail = "subject_spki is not a public key";
		goto out;
	}
	out = PB_NEW(Dstack__Kms__Internal__V1__KhIssueCertResponse,
		     dstack__kms__internal__v1__kh_issue_cert_response__descriptor, mem);
	if (!out || !(out->chain = arena_zalloc(mem, 2 * sizeof(*out->chain)))) {
		err = ERR_NOMEM;
		goto out;
	}
	out->epoch = e->epoch;
	switch (r->signer) {
	case DSTACK__KMS__INTERNAL__V1__KH_SIGNER__KH_SIGNER_ROOT_CA:
		signer = p256_pkey_from_scalar(e->ca_key.data);
		issuer = kms_cert_from_der(&e->ca_cert);
		out->chain[out->n_chain++] = e->ca_cert;
		break;
	case DSTACK__KMS__INTERNAL__V1__KH_SIGNER__KH_SIGNER_TMP_CA:
		signer = p256_pkey_from_scalar(st->tmp_ca_key.data);
		issuer = kms_cert_from_der(&st->tmp_ca_cert);
		out->chain[out->n_chain++] = st->tmp_ca_cert;
		break;
	case DSTACK__KMS__INTERNAL__V1__KH_SIGNER__KH_SIGNER_APP_CA:
		if (r->app_id.len != RATLS_APP_ID_LEN) {
			*detail = "app_id must be 20 bytes";
			goto out;
		}
		if ((err = app_ca(e, r->app_id.data, now, &signer, &issuer)) != ERR_OK) {
			*detail = "cannot derive the app CA";
			goto out;
		}
		if ((err = cert_to_pb(issuer, mem, &out->chain[out->n_chain++])) != ERR_OK)
			goto out;
		out->chain[out->n_chain++] = e->ca_cert;
		break;
	default:
		*detail = "unknown signer";
		goto out;
	}
	if (!signer || !issuer) {
		err = ERR_CRYPTO;
		*detail = "signer key or certificate unusable";
		goto out;
	}
	p = (struct ratls_cert_params){
		.org = cp->org && *cp->org ? cp->org : NULL,
		.cn = cp->cn,
		.alt_names = (const char *const *)cp->alt_names,
		.n_alt_names = cp->n_alt_names,
		.not_before = cp->not_before,
		.not_after = cp->not_after,
		.is_ca = cp->is_ca,
		.path_len = cp->path_len,
		.server_auth = cp->server_auth,
		.client_auth = cp->client_auth,
		.app_id = cp->app_id.len ? cp->app_id.data : NULL,
		.usage = cp->usage && *cp->usage ? cp->usage : NULL,
		.attestation = cp->attestation.len ? cp->attestation.data : NULL,
		.attestation_len = cp->attestation.len,
		.app_info = cp->app_info.len ? cp->app_info.data : NULL,
		.app_info_len = cp->app_info.len,
	};
	if ((err = ratls_cert_build(&p, subject, issuer, signer, &leaf)) != ERR_OK) {
		*detail = "cannot build the certificate";
		goto out;
	}
	if ((err = cert_to_pb(leaf, mem, &out->cert)) != ERR_OK)
		goto out;
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_ISSUE_CERT;
	resp->issue_cert = out;
	err = ERR_OK;
out:
	EVP_PKEY_free(subject);
	EVP_PKEY_free(signer);
	X509_free(issuer);
	X509_free(leaf);
	return err;
}

/* Root keys of an unretired epoch, for the dstack derivations. */
static int epoch_root(const kms_root_epoch *e, struct dstack_root_keys *root)
{
	if (e->ca_key.len != P256_SCALAR_LEN || e->k256_key.len != K256_SECRET_LEN)
		return 0;
	memcpy(root->ca, e->ca_key.data, P256_SCALAR_LEN);
	memcpy(root->k256, e->k256_key.data, K256_SECRET_LEN);
	return 1;
}

/* The epochs an app receives keys under: current first, then every previous one, newest first. */
static size_t live_epochs(const kms_sealed_state *st, const kms_root_epoch **out, size_t cap)
{
	size_t n = 0;
	const kms_root_epoch *cur = current_epoch(st);

	if (cur && n < cap)
		out[n++] = cur;
	for (size_t i = st->n_epochs; i-- > 0 && n < cap;)
		if (st->epochs[i] != cur && st->epochs[i]->state == DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_PREVIOUS)
			out[n++] = st->epochs[i];
	return n;
}

#define MAX_LIVE_EPOCHS 64

static err_t op_app_keys(const Dstack__Kms__Internal__V1__KhAppKeysRequest *r, struct arena *mem, kh_response *resp,
			 const char **detail)
{
	const kms_sealed_state *st = kh_state();
	const kms_root_epoch *eps[MAX_LIVE_EPOCHS];
	Dstack__Kms__Internal__V1__KhAppKeysResponse *out;
	size_t n;
	err_t err = ERR_OK;

	if (!st) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if (r->app_id.len != DSTACK_APP_ID_LEN || r->instance_id.len > DSTACK_INSTANCE_ID_LEN) {
		*detail = "app_id must be 20 bytes and instance_id at most 20";
		return ERR_INVALID_ARG;
	}
	n = live_epochs(st, eps, ARRAY_LEN(eps));
	out = PB_NEW(Dstack__Kms__Internal__V1__KhAppKeysResponse,
		     dstack__kms__internal__v1__kh_app_keys_response__descriptor, mem);
	if (!out || !n || !(out->keys = arena_zalloc(mem, n * sizeof(*out->keys))))
		return n ? ERR_NOMEM : ERR_INTERNAL;
	for (size_t i = 0; i < n && err == ERR_OK; i++) {
		Dstack__Kms__Internal__V1__KhEpochAppKeys *o =
			PB_NEW(Dstack__Kms__Internal__V1__KhEpochAppKeys,
			       dstack__kms__internal__v1__kh_epoch_app_keys__descriptor, mem);
		struct dstack_root_keys root;
		struct dstack_app_keys keys;

		if (!o)
			return ERR_NOMEM;
		if (!epoch_root(eps[i], &root)) {
			*detail = "epoch root material is damaged";
			return ERR_INTERNAL;
		}
		err = dstack_app_keys_derive(&root, r->app_id.data, r->app_id.len, r->instance_id.data,
					     r->instance_id.len, &keys);
		secure_wipe(&root, sizeof(root));
		if (err == ERR_OK) {
			o->epoch = eps[i]->epoch;
			o->disk_crypt_key = (ProtobufCBinaryData){ 32, dup_bytes(mem, keys.disk_crypt_key, 32) };
			o->env_crypt_key = (ProtobufCBinaryData){ 32, dup_bytes(mem, keys.env_crypt_key, 32) };
			o->k256_key = (ProtobufCBinaryData){ 32, dup_bytes(mem, keys.k256_key, 32) };
			o->k256_signature = (ProtobufCBinaryData){ K256_SIG_LEN, dup_bytes(mem, keys.k256_signature,
											 K256_SIG_LEN) };
			o->k256_root_pubkey = eps[i]->k256_pubkey;
			if (!o->disk_crypt_key.data || !o->env_crypt_key.data || !o->k256_key.data ||
			    !o->k256_signature.data)
				err = ERR_NOMEM;
			out->keys[out->n_keys++] = o;
		} else {
			*detail = "key derivation failed";
		}
		dstack_app_keys_wipe(&keys);
	}
	if (err != ERR_OK)
		return err;
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_APP_KEYS;
	resp->app_keys = out;
	return ERR_OK;
}

static err_t op_env_pubkey(const Dstack__Kms__Internal__V1__KhEnvPubkeyRequest *r, struct arena *mem,
			   kh_response *resp, const char **detail)
{
	const kms_sealed_state *st = kh_state();
	const kms_root_epoch *e;
	Dstack__Kms__Internal__V1__KhEnvPubkeyResponse *out;
	struct dstack_root_keys root;
	uint8_t pub[X25519_KEY_LEN], sig[K256_SIG_LEN], sig1[K256_SIG_LEN];
	err_t err;

	if (!st || !(e = current_epoch(st))) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	/* dstack signs whatever app id it is given here (the key is public); bound the size. */
	if (!r->app_id.len || r->app_id.len > DSTACK_MAX_ID_LEN) {
		*detail = "app_id: 1 to 256 bytes";
		return ERR_INVALID_ARG;
	}
	if (!epoch_root(e, &root)) {
		*detail = "epoch root material is damaged";
		return ERR_INTERNAL;
	}
	err = dstack_env_pubkey(root.ca, r->app_id.data, r->app_id.len, pub);
	if (err == ERR_OK)
		err = dstack_env_pubkey_sign(root.k256, r->app_id.data, r->app_id.len, pub, sig);
	if (err == ERR_OK)
		err = dstack_env_pubkey_sign_v1(root.k256, r->app_id.data, r->app_id.len, r->timestamp, pub, sig1);
	secure_wipe(&root, sizeof(root));
	if (err != ERR_OK) {
		*detail = "env key derivation failed";
		return err;
	}
	out = PB_NEW(Dstack__Kms__Internal__V1__KhEnvPubkeyResponse,
		     dstack__kms__internal__v1__kh_env_pubkey_response__descriptor, mem);
	if (!out)
		return ERR_NOMEM;
	out->epoch = e->epoch;
	out->public_key = (ProtobufCBinaryData){ sizeof(pub), dup_bytes(mem, pub, sizeof(pub)) };
	out->signature = (ProtobufCBinaryData){ sizeof(sig), dup_bytes(mem, sig, sizeof(sig)) };
	out->signature_v1 = (ProtobufCBinaryData){ sizeof(sig1), dup_bytes(mem, sig1, sizeof(sig1)) };
	if (!out->public_key.data || !out->signature.data || !out->signature_v1.data)
		return ERR_NOMEM;
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_ENV_PUBKEY;
	resp->env_pubkey = out;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Changes to the root state: each builds a new state in its own arena and commits it (seal + swap). */

/* A deep copy of the current state (encode, decode) in a fresh wiping arena. */
static err_t clone_state(struct arena **mem_out, kms_sealed_state **out)
{
	const kms_sealed_state *st = kh_state();
	struct arena *mem = kh_new_arena();
	ProtobufCMessage *m;
	struct buf_writer w;
	err_t err;

	if (!mem)
		return ERR_NOMEM;
	buf_writer_init(&w, KMS_STORE_MAX);
	w.wipe = 1;
	if ((err = pb_encode(&st->base, &w)) == ERR_OK)
		err = pb_decode(&dstack__kms__internal__v1__sealed_state__descriptor, w.p, w.len, KMS_STORE_MAX, mem, &m);
	buf_writer_free(&w);
	if (err != ERR_OK) {
		kh_free_arena(mem);
		return err;
	}
	*mem_out = mem;
	*out = (kms_sealed_state *)m;
	return ERR_OK;
}

static kms_root_epoch *find_epoch(const kms_sealed_state *st, uint32_t epoch)
{
	for (size_t i = 0; i < st->n_epochs; i++)
		if (st->epochs[i]->epoch == epoch)
			return st->epochs[i];
	return NULL;
}

/* Room for one more epoch pointer. */
static err_t append_epoch(struct arena *mem, kms_sealed_state *st, kms_root_epoch *e)
{
	kms_root_epoch **v = arena_alloc(mem, (st->n_epochs + 1) * sizeof(*v));

	if (!v)
		return ERR_NOMEM;
	if (st->n_epochs)
		memcpy(v, st->epochs, st->n_epochs * sizeof(*v));
	v[st->n_epochs++] = e;
	st->epochs = v;
	return ERR_OK;
}

static void erase_epoch(kms_root_epoch *e, uint64_t now, const char *reason, struct arena *mem)
{
	if (e->ca_key.data)
		secure_wipe(e->ca_key.data, e->ca_key.len);
	if (e->k256_key.data)
		secure_wipe(e->k256_key.data, e->k256_key.len);
	e->ca_key = (ProtobufCBinaryData){ 0, NULL };
	e->k256_key = (ProtobufCBinaryData){ 0, NULL };
	e->state = DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED;
	e->retired_at_unix = now;
	e->reason = arena_strdup(mem, reason ? reason : "");
}

static err_t answer_changed(struct arena *rmem, kh_response *resp, const char **detail)
{
	err_t err = op_status(rmem, resp, detail);

	if (err == ERR_OK) {
		resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_CHANGED;
		resp->changed = resp->status;
	}
	return err;
}

static err_t op_export(struct arena *rmem, kh_response *resp, const char **detail)
{
	const kms_sealed_state *st = kh_state();

	(void)rmem;
	if (!st) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_EXPORT;
	resp->export = UNCONST(st);
	return ERR_OK;
}

/* An epoch from elsewhere must be internally consistent: its public keys are those of its secrets. */
static err_t check_epoch(const kms_root_epoch *e, const char **detail)
{
	uint8_t spki[P256_SPKI_LEN], kpub[K256_PUB_LEN];

	*detail = "an epoch's keys do not match its public keys";
	if (e->state == DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
		return e->ca_key.len || e->k256_key.len ? ERR_INVALID_ARG : ERR_OK;
	if (e->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_CURRENT &&
	    e->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_PREVIOUS)
		return ERR_INVALID_ARG;
	if (e->ca_key.len != P256_SCALAR_LEN || e->k256_key.len != K256_SECRET_LEN ||
	    !p256_scalar_is_valid(e->ca_key.data) || !k256_secret_is_valid(e->k256_key.data))
		return ERR_INVALID_ARG;
	if (p256_spki_der(e->ca_key.data, spki) != ERR_OK || k256_pubkey(e->k256_key.data, kpub) != ERR_OK)
		return ERR_CRYPTO;
	if (e->ca_pubkey.len != sizeof(spki) || memcmp(e->ca_pubkey.data, spki, sizeof(spki)) != 0 ||
	    e->k256_pubkey.len != sizeof(kpub) || memcmp(e->k256_pubkey.data, kpub, sizeof(kpub)) != 0)
		return ERR_INVALID_ARG;
	return ERR_OK;
}

static err_t op_import(const Dstack__Kms__Internal__V1__KhImportRequest *r, struct arena *rmem, kh_response *resp,
		       const char **detail)
{
	const kms_sealed_state *src = r->state;
	struct arena *mem = NULL;
	kms_sealed_state *st;
	err_t err;

	if (!src || !src->n_epochs || !find_epoch(src, src->current_epoch) || src->tmp_ca_key.len != P256_SCALAR_LEN ||
	    !src->tmp_ca_cert.len) {
		*detail = "the source state has no current epoch or no temp CA";
		return ERR_INVALID_ARG;
	}
	if (find_epoch(src, src->current_epoch)->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_CURRENT) {
		*detail = "the source's current epoch is not marked current";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < src->n_epochs; i++)
		if ((err = check_epoch(src->epochs[i], detail)) != ERR_OK)
			return err;
	if (!kh_state()) {
		/* A new replica adopts the source's state as it is (copied into its own arena below). */
		st = UNCONST(src);
	} else {
		if ((err = clone_state(&mem, &st)) != ERR_OK)
			return err;
		/* Same roots for the epochs both hold; take the source's retirements and new epochs. */
		for (size_t i = 0; i < src->n_epochs; i++) {
			const kms_root_epoch *se = src->epochs[i];
			kms_root_epoch *e = find_epoch(st, se->epoch);

			if (!e) {
				if ((err = append_epoch(mem, st, UNCONST(se))) != ERR_OK)
					goto fail;
				continue;
			}
			if (e->ca_pubkey.len != se->ca_pubkey.len ||
			    memcmp(e->ca_pubkey.data, se->ca_pubkey.data, se->ca_pubkey.len) != 0 ||
			    e->k256_pubkey.len != se->k256_pubkey.len ||
			    memcmp(e->k256_pubkey.data, se->k256_pubkey.data, se->k256_pubkey.len) != 0) {
				*detail = "the source holds different root keys for an epoch we hold: not the same cluster";
				err = ERR_FAILED_PRECONDITION;
				goto fail;
			}
			if (se->state == DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED &&
			    e->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
				erase_epoch(e, se->retired_at_unix, se->reason, mem);
			else if (e->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
				e->state = se->state;
		}
		st->current_epoch = src->current_epoch;
		st->tmp_ca_key = src->tmp_ca_key;
		st->tmp_ca_cert = src->tmp_ca_cert;
	}
	st->origin = UNCONST(r->origin && *r->origin ? r->origin : "onboard");
	if (r->domain && *r->domain)
		st->domain = r->domain;
	/* Everything the new state points at must live in its arena, not in this request's. */
	{
		struct buf_writer w;
		ProtobufCMessage *m;
		struct arena *fresh = kh_new_arena();

		if (!fresh)
			goto nomem;
		buf_writer_init(&w, KMS_STORE_MAX);
		w.wipe = 1;
		err = pb_encode(&st->base, &w);
		if (err == ERR_OK)
			err = pb_decode(&dstack__kms__internal__v1__sealed_state__descriptor, w.p, w.len, KMS_STORE_MAX,
					fresh, &m);
		buf_writer_free(&w);
		kh_free_arena(mem);
		mem = fresh;
		if (err != ERR_OK)
			goto fail;
		st = (kms_sealed_state *)m;
	}
	if ((err = kh_commit(mem, st, detail)) != ERR_OK)
		return err;
	return answer_changed(rmem, resp, detail);
nomem:
	err = ERR_NOMEM;
fail:
	kh_free_arena(mem);
	if (err == ERR_NOMEM)
		*detail = "out of memory";
	return err;
}

static err_t op_rotate(const Dstack__Kms__Internal__V1__KhRotateRequest *r, struct arena *rmem, kh_response *resp,
		       const char **detail)
{
	struct arena *mem;
	kms_sealed_state *st;
	kms_root_epoch *cur, *e;
	uint32_t next = 0;
	err_t err;

	if (!kh_state()) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if ((err = clone_state(&mem, &st)) != ERR_OK)
		return err;
	for (size_t i = 0; i < st->n_epochs; i++)
		next = MAX(next, st->epochs[i]->epoch + 1);
	if ((cur = find_epoch(st, st->current_epoch)))
		cur->state = DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_PREVIOUS;
	if ((err = new_epoch(mem, next, r->now_unix, &e)) != ERR_OK || (err = append_epoch(mem, st, e)) != ERR_OK) {
		kh_free_arena(mem);
		*detail = "cannot generate the new epoch";
		return err;
	}
	e->reason = arena_strdup(mem, r->reason ? r->reason : "");
	st->current_epoch = next;
	if ((err = kh_commit(mem, st, detail)) != ERR_OK)
		return err;
	return answer_changed(rmem, resp, detail);
}

static err_t op_retire(const Dstack__Kms__Internal__V1__KhRetireRequest *r, struct arena *rmem, kh_response *resp,
		       const char **detail)
{
	struct arena *mem;
	kms_sealed_state *st;
	kms_root_epoch *e;
	err_t err;

	if (!kh_state()) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if (r->epoch == kh_state()->current_epoch) {
		*detail = "the current epoch cannot be retired (rotate first)";
		return ERR_FAILED_PRECONDITION;
	}
	if (!find_epoch(kh_state(), r->epoch)) {
		*detail = "no such epoch";
		return ERR_NOT_FOUND;
	}
	if (find_epoch(kh_state(), r->epoch)->state == DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
		return answer_changed(rmem, resp, detail);   /* idempotent */
	if ((err = clone_state(&mem, &st)) != ERR_OK)
		return err;
	e = find_epoch(st, r->epoch);
	erase_epoch(e, r->now_unix, r->reason, mem);
	if ((err = kh_commit(mem, st, detail)) != ERR_OK)
		return err;
	return answer_changed(rmem, resp, detail);
}

static err_t op_set_attestation(const Dstack__Kms__Internal__V1__KhSetAttestationRequest *r, struct arena *rmem,
				kh_response *resp, const char **detail)
{
	struct arena *mem;
	kms_sealed_state *st;
	kms_root_epoch *e;
	err_t err;

	if (!kh_state() || !find_epoch(kh_state(), r->epoch)) {
		*detail = "no such epoch";
		return ERR_NOT_FOUND;
	}
	if ((err = clone_state(&mem, &st)) != ERR_OK)
		return err;
	e = find_epoch(st, r->epoch);
	e->attestation = r->attestation;   /* copied into the sealed file by the commit; see below */
	e->attestation.data = arena_memdup(mem, r->attestation.data, r->attestation.len);
	if (r->attestation.len && !e->attestation.data) {
		kh_free_arena(mem);
		return ERR_NOMEM;
	}
	if ((err = kh_commit(mem, st, detail)) != ERR_OK)
		return err;
	return answer_changed(rmem, resp, detail);
}

/* ---------------------------------------------------------------------------------------------- */
/* Threshold backup and recovery                                                                   */

/* The recovery key of an uninitialised node: in this process's memory only, never sealed. */
static struct {
	int set;
	uint8_t sk[X25519_KEY_LEN], pub[X25519_KEY_LEN];
	uint64_t expires_at;
} g_recovery;

static void recovery_forget(void)
{
	secure_wipe(&g_recovery, sizeof(g_recovery));
}

void kh_ops_wipe(void)
{
	recovery_forget();
}

/* What the shares protect: the root state without attestations (to stay small), encoded. */
static err_t share_secret(struct buf_writer *w, uint32_t **epochs, size_t *n_epochs, struct arena *mem)
{
	const kms_sealed_state *st = kh_state();
	kms_sealed_state copy = *st;
	kms_root_epoch **eps = arena_alloc(mem, (st->n_epochs ? st->n_epochs : 1) * sizeof(*eps));
	err_t err;

	if (!eps || !(*epochs = arena_alloc(mem, (st->n_epochs ? st->n_epochs : 1) * sizeof(**epochs))))
		return ERR_NOMEM;
	*n_epochs = 0;
	for (size_t i = 0; i < st->n_epochs; i++) {
		kms_root_epoch *e = arena_memdup(mem, st->epochs[i], sizeof(*e));

		if (!e)
			return ERR_NOMEM;
		e->attestation = (ProtobufCBinaryData){ 0, NULL };
		eps[i] = e;
		if (e->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
			(*epochs)[(*n_epochs)++] = e->epoch;
	}
	copy.epochs = eps;
	copy.origin = UNCONST("recovery");
	err = pb_encode(&copy.base, w);
	secure_wipe(eps, st->n_epochs * sizeof(*eps));
	return err;
}

static err_t op_export_shares(const Dstack__Kms__Internal__V1__KhExportSharesRequest *r, struct arena *mem,
			      kh_response *resp, const char **detail)
{
	Dstack__Kms__V1__ExportSharesResponse *out;
	uint8_t set_id[KMS_SHARE_SET_ID_LEN], *shares = NULL;
	size_t n = r->n_custodians, len = 0;
	struct buf_writer secret;
	err_t err;

	if (!kh_state()) {
		*detail = "no root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if (n < 2 || n > SHAMIR_MAX_SHARES || r->threshold < 2 || r->threshold > n) {
		*detail = "need 2 <= threshold <= custodians <= 255";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < n; i++)
		if (r->custodians[i]->public_key.len != X25519_KEY_LEN) {
			*detail = "every custodian needs a 32-byte X25519 public key";
			return ERR_INVALID_ARG;
		}
	out = PB_NEW(Dstack__Kms__V1__ExportSharesResponse, dstack__kms__v1__export_shares_response__descriptor, mem);
	if (!out || !(out->shares = arena_zalloc(mem, n * sizeof(*out->shares))))
		return ERR_NOMEM;
	buf_writer_init(&secret, KMS_SHARE_MAX_CIPHERTEXT - AES256GCM_TAG_LEN - 1);
	secret.wipe = 1;
	if ((err = share_secret(&secret, &out->epochs, &out->n_epochs, mem)) != ERR_OK) {
		*detail = err == ERR_PROTO_TOO_LARGE ? "the root state is too large for one share (64 KiB)"
						     : "cannot encode the root state";
		goto out;
	}
	len = secret.len;
	err = ERR_NOMEM;
	if (RAND_bytes(set_id, sizeof(set_id)) != 1 || !(shares = malloc(n * (len + 1)))) {
		err = shares ? ERR_CRYPTO : ERR_NOMEM;
		goto out;
	}
	if ((err = shamir_split(secret.p, len, r->threshold, (unsigned)n, shares)) != ERR_OK) {
		*detail = "cannot split the root state";
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		kms_share *sh = PB_NEW(kms_share, dstack__kms__v1__encrypted_share__descriptor, mem);

		if (!sh) {
			err = ERR_NOMEM;
			goto out;
		}
		if ((err = kms_share_seal(r->custodians[i]->public_key.data, set_id, (uint32_t)(i + 1), r->threshold,
					  (uint32_t)n, shares + i * (len + 1), len + 1, mem, sh)) != ERR_OK) {
			*detail = "cannot encrypt a share";
			goto out;
		}
		sh->custodian_name = r->custodians[i]->name;
		out->shares[out->n_shares++] = sh;
	}
	out->share_set_id = (ProtobufCBinaryData){ sizeof(set_id), dup_bytes(mem, set_id, sizeof(set_id)) };
	out->secret_commitment.data = arena_alloc(mem, 32);
	if (!out->share_set_id.data || !out->secret_commitment.data) {
		err = ERR_NOMEM;
		goto out;
	}
	kms_share_commitment(set_id, secret.p, len, out->secret_commitment.data);
	out->secret_commitment.len = 32;
	out->threshold = r->threshold;
	out->total = (uint32_t)n;
	out->created_at_unix = r->now_unix;
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_EXPORT_SHARES;
	resp->export_shares = out;
	err = ERR_OK;
out:
	if (shares) {
		secure_wipe(shares, n * (len + 1));
		free(shares);
	}
	buf_writer_free(&secret);
	return err;
}

static err_t op_recovery_key(const Dstack__Kms__Internal__V1__KhRecoveryKeyRequest *r, struct arena *mem,
			     kh_response *resp, const char **detail)
{
	Dstack__Kms__V1__GetRecoveryKeyResponse *out;
	err_t err;

	if (kh_state()) {
		*detail = "this KMS already holds root keys: recovery is for a fresh node";
		return ERR_FAILED_PRECONDITION;
	}
	recovery_forget();
	if (RAND_priv_bytes(g_recovery.sk, sizeof(g_recovery.sk)) != 1)
		return ERR_CRYPTO;
	if ((err = x25519_public_key(g_recovery.sk, g_recovery.pub)) != ERR_OK) {
		recovery_forget();
		return err;
	}
	g_recovery.set = 1;
	g_recovery.expires_at = r->now_unix + (r->ttl_s ? r->ttl_s : 3600);
	out = PB_NEW(Dstack__Kms__V1__GetRecoveryKeyResponse, dstack__kms__v1__get_recovery_key_response__descriptor, mem);
	if (!out)
		return ERR_NOMEM;
	out->public_key = (ProtobufCBinaryData){ 32, dup_bytes(mem, g_recovery.pub, 32) };
	out->expires_at_unix = g_recovery.expires_at;
	if (!out->public_key.data)
		return ERR_NOMEM;
	resp->result_case = DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_RECOVERY_KEY;
	resp->recovery_key = out;
	return ERR_OK;
}

static err_t op_recover(const Dstack__Kms__Internal__V1__KhRecoverRequest *r, struct arena *mem, kh_response *resp,
			const char **detail)
{
	Dstack__Kms__Internal__V1__KhImportRequest ireq;
	const uint8_t **pieces = NULL;
	struct buf_writer plain, secret;
	ProtobufCMessage *m;
	size_t len = 0, k = 0, t = 0;
	uint8_t commit[32];
	err_t err = ERR_INVALID_ARG;

	if (kh_state()) {
		*detail = "this KMS already holds root keys";
		return ERR_FAILED_PRECONDITION;
	}
	if (!g_recovery.set || r->now_unix >= g_recovery.expires_at) {
		recovery_forget();
		*detail = "no live recovery key: call GetRecoveryKey and re-encrypt the shares to it";
		return ERR_FAILED_PRECONDITION;
	}
	if (r->share_set_id.len != KMS_SHARE_SET_ID_LEN || r->secret_commitment.len != 32 || !r->n_shares ||
	    r->n_shares > SHAMIR_MAX_SHARES) {
		*detail = "share_set_id (16 bytes), secret_commitment (32 bytes) and 1..255 shares are required";
		return ERR_INVALID_ARG;
	}
	buf_writer_init(&plain, (size_t)r->n_shares * KMS_SHARE_MAX_CIPHERTEXT);
	plain.wipe = 1;
	buf_writer_init(&secret, KMS_SHARE_MAX_CIPHERTEXT);
	secret.wipe = 1;
	if (!(pieces = calloc(r->n_shares, sizeof(*pieces)))) {
		err = ERR_NOMEM;
		goto out;
	}
	/* Decrypt every share first (offsets, then pointers: the writer may move while it grows). */
	{
		size_t offs[SHAMIR_MAX_SHARES];

		for (size_t i = 0; i < r->n_shares; i++) {
			const kms_share *sh = r->shares[i];
			size_t before = plain.len;

			if (sh->share_set_id.len != KMS_SHARE_SET_ID_LEN ||
			    memcmp(sh->share_set_id.data, r->share_set_id.data, KMS_SHARE_SET_ID_LEN) != 0 ||
			    (t && sh->threshold != t)) {
				*detail = "the shares belong to different share sets or thresholds";
				goto out;
			}
			t = sh->threshold;
			if ((err = kms_share_open(g_recovery.sk, sh, &plain)) != ERR_OK) {
				*detail = err == ERR_INVALID_ARG ? "a share is not encrypted to this KMS's recovery key"
								 : "a share does not decrypt (tampered, or from another set)";
				goto out;
			}
			if (i == 0)
				len = plain.len - before - 1;
			else if (plain.len - before - 1 != len) {
				*detail = "shares of different lengths";
				err = ERR_INVALID_ARG;
				goto out;
			}
			if (plain.p[before] != sh->index) {
				*detail = "a share's index does not match its x coordinate";
				err = ERR_INVALID_ARG;
				goto out;
			}
			offs[k++] = before;
		}
		for (size_t i = 0; i < k; i++)
			pieces[i] = plain.p + offs[i];
	}
	if (k < t) {
		*detail = "fewer shares than the threshold";
		err = ERR_FAILED_PRECONDITION;
		goto out;
	}
	if (!buf_reserve(&secret, len)) {
		err = buf_writer_status(&secret);
		goto out;
	}
	if ((err = shamir_combine(pieces, k, len, secret.p)) != ERR_OK) {
		*detail = "the shares do not combine (duplicate indices?)";
		goto out;
	}
	buf_commit(&secret, len);
	kms_share_commitment(r->share_set_id.data, secret.p, len, commit);
	if (!ct_equal(commit, r->secret_commitment.data, 32)) {
		*detail = "the rebuilt secret does not match the commitment (too few or wrong shares)";
		err = ERR_CRYPTO;
		goto out;
	}
	if ((err = pb_decode(&dstack__kms__internal__v1__sealed_state__descriptor, secret.p, secret.len, KMS_STORE_MAX, mem,
			     &m)) != ERR_OK) {
		*detail = "the rebuilt root state does not decode";
		goto out;
	}
	dstack__kms__internal__v1__kh_import_request__init(&ireq);
	ireq.state = (kms_sealed_state *)m;
	ireq.origin = UNCONST("recovery");
	ireq.domain = r->domain;
	ireq.now_unix = r->now_unix;
	if ((err = op_import(&ireq, mem, resp, detail)) == ERR_OK)
		recovery_forget();
out:
	free(pieces);
	buf_writer_free(&plain);
	buf_writer_free(&secret);
	return err;
}

err_t kh_dispatch(const kh_request *req, struct arena *mem, kh_response *resp, const char **detail)
{
	switch (req->op_case) {
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_STATUS:
		return op_status(mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_BOOTSTRAP:
		return op_bootstrap(req->bootstrap, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_APP_KEYS:
		return op_app_keys(req->app_keys, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ENV_PUBKEY:
		return op_env_pubkey(req->env_pubkey, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ISSUE_CERT:
		return op_issue_cert(req->issue_cert, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_EXPORT:
		return op_export(mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_IMPORT:
		return op_import(req->import, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ROTATE:
		return op_rotate(req->rotate, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RETIRE:
		return op_retire(req->retire, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_SET_ATTESTATION:
		return op_set_attestation(req->set_attestation, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_EXPORT_SHARES:
		return op_export_shares(req->export_shares, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RECOVERY_KEY:
		return op_recovery_key(req->recovery_key, mem, resp, detail);
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RECOVER:
		return op_recover(req->recover, mem, resp, detail);
	default:
		*detail = "unknown key-holder request";
		return ERR_UNIMPLEMENTED;
	}
}
