/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.registry.v1.Registry: the method table and the handlers implemented so far. */
#include <stdlib.h>

#include "dstack/registry/v1/registry.pb-c.h"
#include "pbcodec.h"
#include "registry.h"

/*
 * Which backend is configured and who answers. Nothing is loaded yet (no
 * chain watcher, no policy parser), so policy_loaded_at_unix stays 0 and the
 * snapshot counts stay 0: a reader can tell "configured" from "in force".
 */
static int on_status(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Registry__V1__StatusResponse *out;
	Dstack__Common__V1__ServiceInfo *si;

	(void)req;
	out = (Dstack__Registry__V1__StatusResponse *)pb_new(&dstack__registry__v1__status_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(r->svc, si);
	out->service = si;
	if (r->cfg->policy_file) {
		out->backend = DSTACK__REGISTRY__V1__POLICY_SOURCE__POLICY_SOURCE_POLICY_FILE;
		out->policy_file_path = svc_pb_str(r->cfg->policy_file);
	}
	*resp = &out->base;
	return ERR_OK;
}

/*
 * Unlisted until implemented (UNIMPLEMENTED): CheckBoot (RPC_F_ATTESTED: only
 * attested KMS peers ask), GetPolicy, ListEvents, GetKmsInfo (RPC_F_PUBLIC).
 */
static const struct rpc_method registry_methods[] = {
	{ "Status", on_status, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

err_t registry_init(struct svc_env *env, const char **detail)
{
	struct registry_env *r = calloc(1, sizeof(*r));

	if (!r) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	r->svc = env;
	r->cfg = env->config;
	env->priv = r;
	r->registry_def = (struct rpc_service_def){
		&dstack__registry__v1__registry__descriptor, registry_methods, ARRAY_LEN(registry_methods), r,
	};
	return svc_add_service(env, &r->registry_def, detail);
}

void registry_fini(struct svc_env *env)
{
	free(env->priv);
	env->priv = NULL;
}
