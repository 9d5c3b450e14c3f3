/* SPDX-License-Identifier: Apache-2.0 */
/* The registry service's config and process environment. */
#ifndef DS_REGISTRY_H
#define DS_REGISTRY_H

#include "svc.h"

/* Filled once from the config file; read-only afterwards. */
struct registry_config {
	const char *policy_file;    /* policy_file: auth-simple-shaped JSON policy; NULL = none */
};

/* The service's private state, env->priv; owned by registry_init / registry_fini. */
struct registry_env {
	struct svc_env *svc;                   /* borrowed: the process env */
	const struct registry_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def registry_def;   /* dstack.registry.v1.Registry; ctx = this */
};

extern const struct conf_key registry_config_keys[];
extern const size_t registry_config_nkeys;

/* svc_def hooks (registry_rpc.c). */
err_t registry_init(struct svc_env *env, const char **detail) MUST_CHECK;
void registry_fini(struct svc_env *env);

#endif
