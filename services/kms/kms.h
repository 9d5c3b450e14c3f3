/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS service's config and process environment. */
#ifndef DS_KMS_H
#define DS_KMS_H

#include "svc.h"

/* Filled once from the config file; read-only afterwards. */
struct kms_config {
	const char *state_dir;      /* state_dir: sealed root keys, epochs, audit records */
	const char *registry_url;   /* registry.url: where boots are authorised ("" = unset) */
	const char *attest_url;     /* attest.url: where collateral comes from ("" = unset) */
};

/* The service's private state, env->priv; owned by kms_init / kms_fini. */
struct kms_env {
	struct svc_env *svc;               /* borrowed: the process env */
	const struct kms_config *cfg;      /* borrowed: env->config */
	struct rpc_service_def kms_def;    /* dstack.kms.v1.Kms; ctx = this */
	struct rpc_service_def admin_def;  /* dstack.kms.v1.KmsAdmin; ctx = this */
};

extern const struct conf_key kms_config_keys[];
extern const size_t kms_config_nkeys;

/* svc_def hooks (kms_rpc.c). */
err_t kms_init(struct svc_env *env, const char **detail) MUST_CHECK;
void kms_fini(struct svc_env *env);

#endif
