/* SPDX-License-Identifier: Apache-2.0 */
/* The registry service's config and process environment. */
#ifndef DS_REGISTRY_H
#define DS_REGISTRY_H

#include "registry_policy.h"
#include "svc.h"

struct registry_audit;
struct registry_file;
struct registry_watch;

/* Filled once from the config file; read-only afterwards. Durations in ms, as CONF_MS keys are. */
struct registry_config {
	const char *policy_file;    /* policy_file: auth-simple-shaped JSON policy; NULL = none */
	uint32_t policy_poll_ms;    /* policy_poll_interval */
	const char *audit_log;      /* audit_log: policy-file load history on disk; NULL = memory only */
	uint32_t audit_max_events;  /* audit_max_events: policy-file loads kept in memory */
	struct conf_list rpc_urls;  /* chain.rpc_urls: JSON-RPC endpoints in failover order; none = no chain */
	uint64_t chain_id;          /* chain.id: must equal eth_chainId */
	const char *kms_contract;   /* chain.kms_contract: the KmsRegistry address (0x + 40 hex) */
	uint32_t confirmations;     /* chain.confirmations */
	uint32_t chain_poll_ms;     /* chain.poll_interval */
	uint32_t log_range;         /* chain.log_range: blocks per eth_getLogs */
	uint64_t start_block;       /* chain.start_block: the registry's deployment block */
	const char *checkpoint_file;/* chain.checkpoint_file; NULL = resync from start_block at every start */
	uint32_t max_staleness_ms;  /* chain.max_staleness */
	uint32_t rpc_timeout_ms;    /* chain.rpc_timeout */
	int cross_check;            /* chain.cross_check: cross-check every CheckBoot with eth_call */
};

/* The service's private state, env->priv; owned by registry_init / registry_fini. */
struct registry_env {
	struct svc_env *svc;                   /* borrowed: the process env */
	const struct registry_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def registry_def;   /* dstack.registry.v1.Registry; ctx = this */
	enum registry_source backend;          /* 0 = none configured: every boot is denied */
	struct registry_snapshot *snap;        /* owned reference: the snapshot in force; NULL = none yet */
	struct registry_file *file;            /* owned: the policy-file backend */
	struct registry_audit *audit;          /* owned: the audit trail */
	struct registry_watch *watch;          /* owned: the chain backend */
	uint8_t kms[REGISTRY_ADDR_LEN];        /* chain.kms_contract parsed */
	int closing;                           /* registry_fini started: the server (and its calls) are gone */
	uint32_t file_seq;                     /* log index of the next policy-file audit event */
	struct metric *m_allow, *m_deny, *m_error, *m_events;
	struct metric *m_xc_agree, *m_xc_disagree, *m_xc_error;
};

extern const struct conf_key registry_config_keys[];
extern const size_t registry_config_nkeys;

/* svc_def hooks (registry_config.c, registry_rpc.c). */
err_t registry_config_validate(const struct svc_config *cfg, const char **detail) MUST_CHECK;
err_t registry_init(struct svc_env *env, const char **detail) MUST_CHECK;
void registry_fini(struct svc_env *env);

/* Make `snap` (one reference, handed over) the snapshot in force; the previous one is released. */
void registry_publish(struct registry_env *r, struct registry_snapshot *snap);

/*
 * 1 when the backend's view is too old to decide on (CheckBoot denies,
 * /readyz fails); *age gets the seconds since the last new head. The policy
 * file is never stale.
 */
int registry_is_stale(const struct registry_env *r, uint64_t now, uint64_t *age);

#endif
