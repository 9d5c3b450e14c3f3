/* SPDX-License-Identifier: Apache-2.0 */
/* Key release: GetAppEnvEncryptPubKey (public) and GetAppKey (mutual RA-TLS + registry), answered by the key holder. */
#include <stdlib.h>
#include <string.h>

#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "kms_authz.h"
#include "ratls.h"
#include "kms.h"
#include "log.h"
#include "pbcodec.h"

err_t kms_validate_app_id(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__AppId *q = (const void *)msg;

	if (q->app_id.len == 0 || q->app_id.len > 256) {
		*detail = "app_id: 1 to 256 bytes (an app id is 20)";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/* The X25519 key deployers encrypt an app's env to, signed by the current root k256 key (legacy and v1). */
int kms_on_get_app_env_encrypt_pub_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__AppId *q = (const void *)req;
	Dstack__Kms__Internal__V1__KhEnvPubkeyRequest ereq;
	Dstack__Kms__V1__PublicKeyResponse *out;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = NULL;
	err_t err;

	dstack__kms__internal__v1__kh_env_pubkey_request__init(&ereq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	ereq.app_id = q->app_id;
	ereq.timestamp = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ENV_PUBKEY;
	kreq.env_pubkey = &ereq;
	if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail ? detail : "key holder failed");
		return err;
	}
	if (!(out = (void *)pb_new(&dstack__kms__v1__public_key_response__descriptor, mem)))
		return arena_err(mem);
	out->public_key = kresp->env_pubkey->public_key;
	out->signature = kresp->env_pubkey->signature;
	out->signature_v1 = kresp->env_pubkey->signature_v1;
	out->timestamp = ereq.timestamp;
	out->key_epoch = kresp->env_pubkey->epoch;
	*resp = &out->base;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* GetAppKey                                                                                       */

#define VM_CONFIG_MAX (64 * 1024)

err_t kms_validate_get_app_key(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__GetAppKeyRequest *q = (const void *)msg;

	if (q->api_version > 1) {
		*detail = "api_version: this KMS speaks version 1";
		return ERR_INVALID_ARG;
	}
	if (q->vm_config && strlen(q->vm_config) > VM_CONFIG_MAX) {
		*detail = "vm_config: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

struct appkey_job {
	struct kms_env *k;
	struct rpc_call *call;
	const struct ratls_verdict *v;   /* a reference: the connection may close before the registry answers */
};

static void job_done(struct appkey_job *j, int err, ProtobufCMessage *resp)
{
	if (err == ERR_OK)
		j->k->keys_released++;
	else
		j->k->keys_denied++;
	rpc_call_complete(j->call, err, resp);
	ratls_verdict_unref(j->v);
	free(j);
}

static Dstack__Kms__V1__EpochAppKeys *epoch_keys_pb(const Dstack__Kms__Internal__V1__KhEpochAppKeys *e,
						     struct arena *mem)
{
	Dstack__Kms__V1__EpochAppKeys *o = (void *)pb_new(&dstack__kms__v1__epoch_app_keys__descriptor, mem);

	if (!o)
		return NULL;
	o->epoch = e->epoch;
	o->disk_crypt_key = e->disk_crypt_key;
	o->env_crypt_key = e->env_crypt_key;
	o->k256_key = e->k256_key;
	o->k256_signature = e->k256_signature;
	o->k256_root_pubkey = e->k256_root_pubkey;
	return o;
}

/* The registry said yes: derive under every live epoch and answer. */
static int release(struct appkey_job *j, const struct kms_decision *d, ProtobufCMessage **resp)
{
	struct arena *mem = rpc_call_arena(j->call);
	const struct attest_claims *c = &j->v->claims;
	Dstack__Kms__Internal__V1__KhAppKeysRequest areq;
	Dstack__Kms__V1__AppKeyResponse *out;
	const Dstack__Kms__Internal__V1__KhAppKeysResponse *keys;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = NULL;
	err_t err;

	dstack__kms__internal__v1__kh_app_keys_request__init(&areq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	areq.app_id = (ProtobufCBinaryData){ ATTEST_APP_ID_LEN, UNCONST(c->app_id) };
	areq.instance_id = (ProtobufCBinaryData){ c->instance_id_len, UNCONST(c->instance_id) };
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_APP_KEYS;
	kreq.app_keys = &areq;
	/* The key holder's answer and the encoded response hold app keys: wiped when the call ends. */
	rpc_call_set_secret(j->call);
	if ((err = kms_kh_call(j->k->kh, &kreq, mem, &kresp, &detail)) != ERR_OK) {
		rpc_call_set_detail(j->call, "%s", detail ? detail : "key holder failed");
		return err;
	}
	keys = kresp->app_keys;
	if (!keys || !keys->n_keys) {
		rpc_call_set_detail(j->call, "key holder returned no keys");
		return ERR_INTERNAL;
	}
	if (!(out = (void *)pb_new(&dstack__kms__v1__app_key_response__descriptor, mem)))
		return arena_err(mem);
	out->ca_cert = j->k->pub->ca_cert_pem;
	out->disk_crypt_key = keys->keys[0]->disk_crypt_key;
	out->env_crypt_key = keys->keys[0]->env_crypt_key;
	out->k256_key = keys->keys[0]->k256_key;
	out->k256_signature = keys->keys[0]->k256_signature;
	out->k256_root_pubkey = keys->keys[0]->k256_root_pubkey;
	out->key_epoch = keys->keys[0]->epoch;
	out->gateway_app_id = arena_strdup(mem, d->gateway_app_id);
	out->tproxy_app_id = out->gateway_app_id;
	if (c->has_os_image_hash)
		out->os_image_hash = (ProtobufCBinaryData){ ATTEST_HASH32_LEN, arena_memdup(mem, c->os_image_hash,
											  ATTEST_HASH32_LEN) };
	if (keys->n_keys > 1) {
		out->n_previous_epoch_keys = keys->n_keys - 1;
		out->previous_epoch_keys = arena_alloc(mem, out->n_previous_epoch_keys * sizeof(*out->previous_epoch_keys));
		if (!out->previous_epoch_keys)
			return arena_err(mem);
		for (size_t i = 1; i < keys->n_keys; i++)
			if (!(out->previous_epoch_keys[i - 1] = epoch_keys_pb(keys->keys[i], mem)))
				return arena_err(mem);
	}
	if (!out->gateway_app_id || (c->has_os_image_hash && !out->os_image_hash.data))
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}

static void on_decision(void *arg, err_t err, const char *detail, const struct kms_decision *d)
{
	struct appkey_job *j = arg;
	ProtobufCMessage *resp = NULL;
	char app_hex[2 * ATTEST_APP_ID_LEN + 1];

	hex_encode(app_hex, j->v->claims.app_id, ATTEST_APP_ID_LEN);
	if (err != ERR_OK) {
		/* Fail closed: no decision, no keys. */
		log_warn("kms", "GetAppKey app %s: no registry decision: %s", app_hex, detail);
		rpc_call_set_detail(j->call, "registry: %s", detail);
		job_done(j, err, NULL);
		return;
	}
	if (!d->allowed) {
		log_info("kms", "GetAppKey app %s denied by the registry: %s", app_hex, d->reason);
		rpc_call_set_detail(j->call, "%s", d->reason);
		job_done(j, ERR_POLICY_DENIED, NULL);
		return;
	}
	err = release(j, d, &resp);
	if (err == ERR_OK)
		log_info("kms", "GetAppKey app %s: keys released (block %llu%s)", app_hex, (unsigned long long)d->block,
			 j->v->claims.dev ? ", SIMULATED evidence" : "");
	job_done(j, err, resp);
}

err_t kms_serving_attested_peer(struct rpc_call *call, const struct kms_env *k, const struct ratls_verdict *v)
{
	if (!v) {
		rpc_call_set_detail(call, "no attested client certificate");
		return ERR_AUTH_NOT_ATTESTED;
	}
	if (!k->pub->current) {
		rpc_call_set_detail(call, "this KMS holds no root keys yet");
		return ERR_FAILED_PRECONDITION;
	}
	return ERR_OK;
}

int kms_on_get_app_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	const struct ratls_verdict *v = ratls_peer_verdict(rpc_call_peer(call));
	struct attest_boot_info bi;
	struct appkey_job *j;
	err_t err;

	(void)req;
	(void)resp;
	if ((err = kms_serving_attested_peer(call, k, v)) != ERR_OK)
		return err;
	if (!v->claims.has_app_id) {
		rpc_call_set_detail(call, "the attested event log names no app id");
		return ERR_AUTH_PEER_REJECTED;
	}
	if (!(j = calloc(1, sizeof(*j))))
		return ERR_NOMEM;
	*j = (struct appkey_job){ k, call, v };
	ratls_verdict_ref(v);
	attest_claims_boot_info(&v->claims, 0, &bi);
	if ((err = kms_authz_check(k->authz, &bi, 0, on_decision, j)) != ERR_OK) {
		ratls_verdict_unref(v);
		free(j);
		rpc_call_set_detail(call, "cannot ask the registry");
		return err;
	}
	return RPC_ASYNC;
}
