/* SPDX-License-Identifier: Apache-2.0 */
/* The guest agent's config and process environment. */
#ifndef DS_GUEST_AGENT_H
#define DS_GUEST_AGENT_H

#include "svc.h"

/* Index into the `tee.backend` choices. */
enum guest_tee_backend { GUEST_TEE_TDX = 0, GUEST_TEE_SEV_SNP = 1, GUEST_TEE_SIM = 2 };

/* Filled once from the config file; read-only afterwards. */
struct guest_config {
	int tee_backend;            /* tee.backend: enum guest_tee_backend */
	const char *tee_sysfs_root; /* tee.sysfs_root: where configfs-tsm and RTMR sysfs live */
};

/* The service's private state, env->priv; owned by guest_init / guest_fini. */
struct guest_env {
	struct svc_env *svc;                /* borrowed: the process env */
	const struct guest_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def guest_def;   /* dstack.guest.v1.DstackGuest; ctx = this */
	struct rpc_service_def tappd_def;   /* dstack.guest.v1.Tappd; ctx = this */
	struct rpc_service_def worker_def;  /* dstack.guest.v1.Worker; ctx = this */
};

extern const struct conf_key guest_config_keys[];
extern const size_t guest_config_nkeys;

/* svc_def hooks (guest-agent_rpc.c). */
err_t guest_init(struct svc_env *env, const char **detail) MUST_CHECK;
void guest_fini(struct svc_env *env);

#endif
