/* SPDX-License-Identifier: Apache-2.0 */
/* The attest service's config and process environment. */
#ifndef DS_ATTEST_H
#define DS_ATTEST_H

#include "svc.h"

/* Where collateral comes from (index into the `collateral.mode` choices). */
enum attest_collateral_mode { ATTEST_COLLATERAL_OFFLINE = 0, ATTEST_COLLATERAL_ONLINE = 1 };

/* Filled once from the config file; read-only afterwards. */
struct attest_config {
	const char *cache_dir;      /* collateral.cache_dir */
	int collateral_mode;        /* collateral.mode: enum attest_collateral_mode */
};

/* The service's private state, env->priv; owned by attest_init / attest_fini. */
struct attest_env {
	struct svc_env *svc;                 /* borrowed: the process env */
	const struct attest_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def attest_def;   /* dstack.attest.v1.Attest; ctx = this */
};

extern const struct conf_key attest_config_keys[];
extern const size_t attest_config_nkeys;

/* svc_def hooks (attest_rpc.c). */
err_t attest_init(struct svc_env *env, const char **detail) MUST_CHECK;
void attest_fini(struct svc_env *env);

#endif
