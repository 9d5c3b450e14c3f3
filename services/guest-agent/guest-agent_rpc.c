/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.guest.v1 DstackGuest, Tappd and Worker: method tables, dstack-compatible routes, handlers so far. */
#include <stdio.h>
#include <stdlib.h>

#include "dstack/guest/v1/guest.pb-c.h"
#include "guest-agent.h"
#include "pbcodec.h"

/* The same answer on all three services, as in dstack. */
static int on_version(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__WorkerVersion *out;

	(void)req;
	out = (Dstack__Guest__V1__WorkerVersion *)pb_new(&dstack__guest__v1__worker_version__descriptor, mem);
	if (!out)
		return arena_err(mem);
	out->version = svc_pb_str(svc_version());
	out->rev = svc_pb_str(svc_git_rev());
	*resp = &out->base;
	return ERR_OK;
}

/*
 * Unlisted until implemented (UNIMPLEMENTED). The app socket's file mode is
 * its access control, so DstackGuest and Tappd methods will be RPC_F_PUBLIC;
 * Worker is reachable through the gateway and public too, with tcb_info and
 * vm_config withheld unless the compose allows them.
 */
static const struct rpc_method guest_methods[] = {
	{ "Version", on_version, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};
static const struct rpc_method tappd_methods[] = {
	{ "Version", on_version, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};
static const struct rpc_method worker_methods[] = {
	{ "Version", on_version, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

/*
 * dstack's own paths for every method, in dstack's JSON flavour, so the
 * dstack SDKs work unchanged: DstackGuest at "/<Method>" (dstack.sock),
 * Tappd at "/prpc/Tappd.<Method>" (tappd.sock), Worker at
 * "/prpc/Worker.<Method>" (the external port).
 */
static err_t add_dstack_routes(struct svc_env *env, const ProtobufCServiceDescriptor *d, const char *prefix,
			       const char **detail)
{
	for (unsigned i = 0; i < d->n_methods; i++) {
		char alias[160], target[200];
		int a = snprintf(alias, sizeof(alias), "%s%s", prefix, d->methods[i].name);
		int t = snprintf(target, sizeof(target), "/%s/%s", d->name, d->methods[i].name);
		err_t err;

		if (a < 0 || (size_t)a >= sizeof(alias) || t < 0 || (size_t)t >= sizeof(target)) {
			*detail = "dstack route path too long";
			return ERR_INTERNAL;
		}
		if ((err = rpc_server_add_alias(env->server, alias, target, PBJSON_DSTACK, detail)) != ERR_OK)
			return err;
	}
	return ERR_OK;
}

err_t guest_init(struct svc_env *env, const char **detail)
{
	struct guest_env *g = calloc(1, sizeof(*g));
	err_t err;

	if (!g) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	g->svc = env;
	g->cfg = env->config;
	env->priv = g;
	g->guest_def = (struct rpc_service_def){
		&dstack__guest__v1__dstack_guest__descriptor, guest_methods, ARRAY_LEN(guest_methods), g,
	};
	g->tappd_def = (struct rpc_service_def){
		&dstack__guest__v1__tappd__descriptor, tappd_methods, ARRAY_LEN(tappd_methods), g,
	};
	g->worker_def = (struct rpc_service_def){
		&dstack__guest__v1__worker__descriptor, worker_methods, ARRAY_LEN(worker_methods), g,
	};
	if ((err = svc_add_service(env, &g->guest_def, detail)) != ERR_OK ||
	    (err = svc_add_service(env, &g->tappd_def, detail)) != ERR_OK ||
	    (err = svc_add_service(env, &g->worker_def, detail)) != ERR_OK)
		return err;
	if ((err = add_dstack_routes(env, g->guest_def.desc, "/", detail)) != ERR_OK ||
	    (err = add_dstack_routes(env, g->tappd_def.desc, "/prpc/Tappd.", detail)) != ERR_OK ||
	    (err = add_dstack_routes(env, g->worker_def.desc, "/prpc/Worker.", detail)) != ERR_OK)
		return err;
	return ERR_OK;
}

void guest_fini(struct svc_env *env)
{
	free(env->priv);
	env->priv = NULL;
}
