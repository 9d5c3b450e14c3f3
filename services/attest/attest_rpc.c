/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.attest.v1.Attest: the method table and the handlers implemented so far. */
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "attest_collateral.h"
#include "dstack/attest/v1/attest.pb-c.h"
#include "pbcodec.h"

/* Who is answering, how collateral is configured, the trust roots (dev ones flagged), default policy and limits. */
static int on_get_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct attest_env *a = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Attest__V1__GetInfoResponse *out;
	Dstack__Common__V1__ServiceInfo *si;
	err_t err;

	(void)req;
	out = (Dstack__Attest__V1__GetInfoResponse *)pb_new(&dstack__attest__v1__get_info_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(a->svc, si);
	out->service = si;
	out->collateral_mode = a->cfg->collateral_mode == ATTEST_COLLATERAL_PCCS
				       ? DSTACK__ATTEST__V1__COLLATERAL_MODE__COLLATERAL_MODE_ONLINE
				       : DSTACK__ATTEST__V1__COLLATERAL_MODE__COLLATERAL_MODE_OFFLINE;
	if ((err = attest_verify_info(a, mem, out)) != ERR_OK)
		return err;
	*resp = &out->base;
	return ERR_OK;
}

/* Unlisted methods (Verify, Inspect, cache status ...) answer UNIMPLEMENTED until they land. */
static const struct rpc_method attest_methods[] = {
	{ "GetInfo", on_get_info, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "GetCollateral", attest_on_get_collateral, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "Verify", attest_on_verify, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "VerifyBatch", attest_on_verify_batch, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "Inspect", attest_on_inspect, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

static uint64_t ms_to_s(uint32_t ms)
{
	return ms / 1000u;
}

err_t attest_init(struct svc_env *env, const char **detail)
{
	struct attest_env *a = calloc(1, sizeof(*a));
	struct attest_coll_config cc;
	err_t err;

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
	memset(&cc, 0, sizeof(cc));
	cc.mode = a->cfg->collateral_mode == ATTEST_COLLATERAL_PCCS ? ATTEST_COLL_MODE_PCCS : ATTEST_COLL_MODE_OFFLINE;
	cc.pccs_url = a->cfg->pccs_url;
	cc.amd_kds_url = a->cfg->amd_kds_url;
	cc.root_ca_crl_url = a->cfg->root_ca_crl_url;
	cc.cache_dir = a->cfg->cache_dir;
	cc.dir = a->cfg->collateral_dir;
	cc.ca_file = a->cfg->ca_file;
	cc.timeout_ms = a->cfg->timeout_ms;
	cc.retries = a->cfg->retries;
	cc.max_stale_s = ms_to_s(a->cfg->max_stale_ms);
	cc.max_age_s = ms_to_s(a->cfg->max_age_ms);
	cc.refresh_before_s = ms_to_s(a->cfg->refresh_before_ms);
	cc.error_holdoff_s = ms_to_s(a->cfg->error_holdoff_ms);
	cc.not_found_ttl_s = ms_to_s(a->cfg->not_found_ttl_ms);
	cc.test_now = a->cfg->test_now;
	cc.max_entries = a->cfg->max_entries;
	a->collateral = attest_collateral_new(env->base, env->metrics, &cc, detail);
	if (!a->collateral)
		return ERR_CONFIG;
	if ((err = attest_verify_init(a, detail)) != ERR_OK)
		return err;
	if ((err = attest_pccs_register(a, detail)) != ERR_OK)
		return err;
	return svc_add_service(env, &a->attest_def, detail);
}

void attest_fini(struct svc_env *env)
{
	struct attest_env *a = env->priv;

	if (!a)
		return;
	a->closing = 1;
	attest_verify_close(a);
	attest_collateral_free(a->collateral);
	attest_verify_fini(a);
	free(a);
	env->priv = NULL;
}
