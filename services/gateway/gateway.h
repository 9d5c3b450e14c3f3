/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway service's config and process environment. */
#ifndef DS_GATEWAY_H
#define DS_GATEWAY_H

#include "svc.h"

/* Filled once from the config file; read-only afterwards. */
struct gateway_config {
	const char *base_domain;            /* base_domain: apps are <id>[-<port>[s|g]].<base_domain> */
	uint32_t external_port;             /* external_port: public TLS port of the base domain */
	const char *app_address_ns_prefix;  /* app_address_ns_prefix: DNS TXT prefix for custom domains */
};

/* The service's private state, env->priv; owned by gateway_init / gateway_fini. */
struct gateway_env {
	struct svc_env *svc;                  /* borrowed: the process env */
	const struct gateway_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def gateway_def;   /* dstack.gateway.v1.Gateway; ctx = this */
	struct rpc_service_def admin_def;     /* dstack.gateway.v1.GatewayAdmin; ctx = this */
};

extern const struct conf_key gateway_config_keys[];
extern const size_t gateway_config_nkeys;

/* svc_def hooks. */
err_t gateway_config_validate(const struct svc_config *cfg, const char **detail) MUST_CHECK;  /* gateway_config.c */
err_t gateway_init(struct svc_env *env, const char **detail) MUST_CHECK;                     /* gateway_rpc.c */
void gateway_fini(struct svc_env *env);

#endif
