/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.attest.v1.Attest: the method table and the handlers implemented so far. */
#include <stdlib.h>

#include "attest.h"
#include "dstack/attest/v1/attest.pb-c.h"
#include "pbcodec.h"

/*
 * What this build can honestly say: who it is and how collateral is
 * configured. It pins no trust roots and verifies no evidence kind yet, so
 * those lists stay empty rather than promising what Verify cannot do.
 */
static int on_get_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct attest_env *a = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Attest__V1__GetInfoResponse *out;
	Dstack__Common__V1__ServiceInfo *si;

	(void)req;
	out = (Dstack__Attest__V1__GetInfoResponse *)pb_new(&dstack__attest__v1__get_info_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(a->svc, si);
	out->service = si;
	out->collateral_mode = a->cfg->collateral_mode == ATTEST_COLLATERAL_ONLINE
				       ? DSTACK__ATTEST__V1__COLLATERAL_MODE__COLLATERAL_MODE_ONLINE
				       : DSTACK__ATTEST__V1__COLLATERAL_MODE__COLLATERAL_MODE_OFFLINE;
	*resp = &out->base;
	return ERR_OK;
}

/* Unlisted methods (Verify, Inspect, collateral ...) answer UNIMPLEMENTED until they land. */
static const struct rpc_method attest_methods[] = {
	{ "GetInfo", on_get_info, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

err_t attest_init(struct svc_env *env, const char **detail)
{
	struct attest_env *a = calloc(1, sizeof(*a));

	if (!a) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	a->svc = env;
	a->cfg = env->config;
	env->priv = a;
	a->attest_def = (struct rpc_service_def){
		&dstack__attest__v1__attest__descriptor, attest_methods, ARRAY_LEN(attest_methods), a,
	};
	return svc_add_service(env, &a->attest_def, detail);
}

void attest_fini(struct svc_env *env)
{
	free(env->priv);
	env->priv = NULL;
}
