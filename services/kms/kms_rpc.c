/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.kms.v1.Kms and KmsAdmin: the method tables, Status, and the service's start and stop. */
#include <stdlib.h>
#include <string.h>

#include "dstack/kms/v1/kms.pb-c.h"
#include "kms.h"
#include "kms_audit.h"
#include "kms_authz.h"
#include "tee.h"
#include "kms_store.h"
#include "pbcodec.h"
#include "ratls.h"

int kms_is_dev(const struct kms_env *k)
{
	return strcmp(k->cfg->seal_provider, "sim") == 0 || strcmp(k->cfg->tee_backend, "sim") == 0;
}

/* Operator status: lifecycle, epochs (public parts) and where the keys are sealed. */
static int on_status(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__V1__StatusResponse *out;
	Dstack__Common__V1__ServiceInfo *si;
	const char *detail = NULL;
	struct ratls_stats rs;

	(void)req;
	out = (Dstack__Kms__V1__StatusResponse *)pb_new(&dstack__kms__v1__status_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(k->svc, si);
	out->service = si;
	out->registry_url = svc_pb_str(k->cfg->registry_url);
	out->attest_url = svc_pb_str(k->cfg->attest_url);
	out->seal_provider = svc_pb_str(k->cfg->seal_provider);
	out->dev = kms_is_dev(k);
	kms_tls_stats(k, &rs);
	out->peers_rejected = rs.rejected;
	if (rs.rejected &&
	    !(out->last_peer_rejection = arena_printf(mem, "%s: %s", ratls_step_name(rs.last_step), err_name(rs.last_err))))
		return arena_err(mem);
	out->state = DSTACK__KMS__V1__KMS_STATE__KMS_STATE_DEGRADED;
	/* A status call doubles as a key-holder probe: re-read its state. */
	if (kms_pub_refresh(k, &detail) == ERR_OK) {
		const Dstack__Kms__Internal__V1__KhStatusResponse *st = k->pub->st;

		out->key_holder_ready = 1;
		out->state = st->initialized ? DSTACK__KMS__V1__KMS_STATE__KMS_STATE_SERVING
					     : DSTACK__KMS__V1__KMS_STATE__KMS_STATE_UNINITIALIZED;
		out->current_epoch = st->current_epoch;
		out->rpc_domain = st->domain;
		out->state_generation = st->generation;
		if (k->pub->current) {
			out->ca_pubkey = k->pub->current->ca_pubkey;
			out->k256_pubkey = k->pub->current->k256_pubkey;
		}
		out->keys_released = k->keys_released;
		out->certs_issued = k->certs_issued;
		out->keys_denied = k->keys_denied;
		if (kms_epoch_infos(k, mem, &out->epochs, &out->n_epochs) != ERR_OK)
			return arena_err(mem);
	}
	*resp = &out->base;
	return ERR_OK;
}

/* Public: dstack clients call these before they have any credentials. */
static const struct rpc_method kms_methods[] = {
	{ "GetMeta", kms_on_get_meta, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "GetTempCaCert", kms_on_get_temp_ca_cert, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "GetAppKey", kms_on_get_app_key, RPC_F_ATTESTED, kms_validate_get_app_key },
	{ "GetKmsKey", kms_on_get_kms_key, RPC_F_ATTESTED, NULL },
	{ "GetAppEnvEncryptPubKey", kms_on_get_app_env_encrypt_pub_key, RPC_F_PUBLIC | RPC_F_IDEMPOTENT,
	  kms_validate_app_id },
	{ "SignCert", kms_on_sign_cert, RPC_F_PUBLIC, kms_validate_sign_cert },
};

/* Every KmsAdmin method moves or reveals root-key state: all admin. */
static const struct rpc_method admin_methods[] = {
	{ "Status", on_status, RPC_F_ADMIN | RPC_F_IDEMPOTENT, NULL },
	{ "Bootstrap", kms_on_bootstrap, RPC_F_ADMIN, kms_validate_bootstrap },
	{ "Onboard", kms_on_onboard, RPC_F_ADMIN, kms_validate_onboard },
	{ "ListOnboardings", kms_on_list_onboardings, RPC_F_ADMIN | RPC_F_IDEMPOTENT, NULL },
	{ "RotateEpoch", kms_on_rotate_epoch, RPC_F_ADMIN, NULL },
	{ "RetireEpoch", kms_on_retire_epoch, RPC_F_ADMIN, NULL },
	{ "ListEpochs", kms_on_list_epochs, RPC_F_ADMIN | RPC_F_IDEMPOTENT, NULL },
	{ "ExportShares", kms_on_export_shares, RPC_F_ADMIN, kms_validate_export_shares },
	{ "GetRecoveryKey", kms_on_get_recovery_key, RPC_F_ADMIN, NULL },
	{ "RecoverFromShares", kms_on_recover_from_shares, RPC_F_ADMIN, kms_validate_recover },
};

err_t kms_init(struct svc_env *env, const char **detail)
{
	struct kms_env *k = calloc(1, sizeof(*k));
	struct kms_kh_opts kh_opts;
	err_t err;

	if (!k) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	k->svc = env;
	k->cfg = env->config;
	env->priv = k;
	if (!*k->cfg->seal_provider) {
		*detail = "seal.provider is not set: the KMS will not hold root keys it cannot seal (use sim for development)";
		return ERR_CONFIG;
	}
	kh_opts = (struct kms_kh_opts){ .state_dir = k->cfg->state_dir, .seal_provider = k->cfg->seal_provider };
	if ((err = kms_kh_start(&kh_opts, &k->kh, detail)) != ERR_OK || (err = kms_pub_refresh(k, detail)) != ERR_OK ||
	    (err = kms_tls_init(k, detail)) != ERR_OK)
		return err;
	if (!(k->authz = kms_authz_new(env->base, k->cfg->registry_url))) {
		*detail = "cannot create the registry client";
		return ERR_NOMEM;
	}
	if ((err = kms_audit_open(k->cfg->state_dir, &k->audit, detail)) != ERR_OK)
		return err;
	if (*k->cfg->tee_backend) {
		struct tee_config tc = { .backend = k->cfg->tee_backend, .state_dir = k->cfg->tee_state_dir };

		if (!tc.state_dir) {
			*detail = "tee.backend needs tee.state_dir";
			return ERR_CONFIG;
		}
		if ((err = tee_open(&tc, &k->tee, detail)) != ERR_OK)
			return err;
	}
	if ((err = kms_replica_start(k, detail)) != ERR_OK)
		return err;
	k->kms_def = (struct rpc_service_def){
		&dstack__kms__v1__kms__descriptor, kms_methods, ARRAY_LEN(kms_methods), k,
	};
	k->admin_def = (struct rpc_service_def){
		&dstack__kms__v1__kms_admin__descriptor, admin_methods, ARRAY_LEN(admin_methods), k,
	};
	if ((err = svc_add_service(env, &k->kms_def, detail)) != ERR_OK)
		return err;
	return svc_add_service(env, &k->admin_def, detail);
}

int kms_cmd_keyholder(int argc, char **argv, const struct svc_def *def)
{
	(void)def;
	return kms_keyholder_main(argc, argv);
}

void kms_fini(struct svc_env *env)
{
	struct kms_env *k = env->priv;

	if (k) {
		kms_kh_stop(k->kh);
		kms_pub_free(k->pub);
		kms_tls_free(k->tls);
		kms_authz_free(k->authz);
		kms_audit_close(k->audit);
		tee_close(k->tee);
		if (k->sync_timer)
			event_free(k->sync_timer);
	}
	free(env->priv);
	env->priv = NULL;
}
