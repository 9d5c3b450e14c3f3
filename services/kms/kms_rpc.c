/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.kms.v1.Kms and KmsAdmin: the method tables and the handlers implemented so far. */
#include <stdlib.h>

#include "dstack/kms/v1/kms.pb-c.h"
#include "kms.h"
#include "pbcodec.h"

/*
 * Operator status. This build holds no root keys (no Bootstrap, Onboard or
 * recovery yet), so the state is UNINITIALIZED and every counter is zero;
 * that is the truth, not a placeholder.
 */
static int on_status(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__V1__StatusResponse *out;
	Dstack__Common__V1__ServiceInfo *si;

	(void)req;
	out = (Dstack__Kms__V1__StatusResponse *)pb_new(&dstack__kms__v1__status_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(k->svc, si);
	out->service = si;
	out->state = DSTACK__KMS__V1__KMS_STATE__KMS_STATE_UNINITIALIZED;
	out->registry_url = svc_pb_str(k->cfg->registry_url);
	out->attest_url = svc_pb_str(k->cfg->attest_url);
	*resp = &out->base;
	return ERR_OK;
}

/* Every KmsAdmin method moves or reveals root-key state: all admin. */
static const struct rpc_method admin_methods[] = {
	{ "Status", on_status, RPC_F_ADMIN | RPC_F_IDEMPOTENT, NULL },
};

err_t kms_init(struct svc_env *env, const char **detail)
{
	struct kms_env *k = calloc(1, sizeof(*k));
	err_t err;

	if (!k) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	k->svc = env;
	k->cfg = env->config;
	env->priv = k;
	/*
	 * Kms is registered with no methods yet, so each of its paths answers
	 * UNIMPLEMENTED. When they land: GetAppKey and GetKmsKey RPC_F_ATTESTED;
	 * GetAppEnvEncryptPubKey, GetMeta, GetTempCaCert and SignCert (whose CSR
	 * carries the attestation) RPC_F_PUBLIC. GetMeta waits for root keys: an
	 * empty CA now is something clients would try to pin.
	 */
	k->kms_def = (struct rpc_service_def){ &dstack__kms__v1__kms__descriptor, NULL, 0, k };
	k->admin_def = (struct rpc_service_def){
		&dstack__kms__v1__kms_admin__descriptor, admin_methods, ARRAY_LEN(admin_methods), k,
	};
	if ((err = svc_add_service(env, &k->kms_def, detail)) != ERR_OK)
		return err;
	return svc_add_service(env, &k->admin_def, detail);
}

void kms_fini(struct svc_env *env)
{
	free(env->priv);
	env->priv = NULL;
}
