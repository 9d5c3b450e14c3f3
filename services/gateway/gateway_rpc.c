/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.gateway.v1.Gateway and GatewayAdmin: the method tables and the handlers implemented so far. */
#include <stdlib.h>

#include "dstack/gateway/v1/gateway.pb-c.h"
#include "gateway.h"
#include "pbcodec.h"

/* dstack's Info: all of it is configuration, so it is true from the first second. */
static int on_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct gateway_env *g = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Gateway__V1__InfoResponse *out;

	(void)req;
	out = (Dstack__Gateway__V1__InfoResponse *)pb_new(&dstack__gateway__v1__info_response__descriptor, mem);
	if (!out)
		return arena_err(mem);
	out->base_domain = svc_pb_str(g->cfg->base_domain);
	out->external_port = g->cfg->external_port;
	out->app_address_ns_prefix = svc_pb_str(g->cfg->app_address_ns_prefix);
	out->version = svc_pb_str(svc_version());
	*resp = &out->base;
	return ERR_OK;
}

/*
 * Unlisted until implemented (UNIMPLEMENTED): RegisterCvm (RPC_F_PEER: a
 * KMS-issued client certificate), AcmeInfo (RPC_F_PUBLIC), GetPeers
 * (RPC_F_ATTESTED, own app id only).
 */
static const struct rpc_method gateway_methods[] = {
	{ "Info", on_info, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

err_t gateway_init(struct svc_env *env, const char **detail)
{
	struct gateway_env *g = calloc(1, sizeof(*g));
	err_t err;

	if (!g) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	g->svc = env;
	g->cfg = env->config;
	env->priv = g;
	g->gateway_def = (struct rpc_service_def){
		&dstack__gateway__v1__gateway__descriptor, gateway_methods, ARRAY_LEN(gateway_methods), g,
	};
	/* GatewayAdmin: every method will be RPC_F_ADMIN; none is implemented yet. */
	g->admin_def = (struct rpc_service_def){ &dstack__gateway__v1__gateway_admin__descriptor, NULL, 0, g };
	if ((err = svc_add_service(env, &g->gateway_def, detail)) != ERR_OK)
		return err;
	return svc_add_service(env, &g->admin_def, detail);
}

void gateway_fini(struct svc_env *env)
{
	free(env->priv);
	env->priv = NULL;
}
