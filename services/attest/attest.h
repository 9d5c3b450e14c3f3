/* SPDX-License-Identifier: Apache-2.0 */
/* The attest service's config and process environment. */
#ifndef DS_ATTEST_SVC_H
#define DS_ATTEST_SVC_H

#include "svc.h"

struct attest_collateral;
struct attest_verify_state;

/* Where collateral comes from (index into the `collateral.mode` choices). */
enum attest_collateral_mode { ATTEST_COLLATERAL_OFFLINE = 0, ATTEST_COLLATERAL_PCCS = 1 };

/* Filled once from the config file; read-only afterwards. Durations in ms, as CONF_MS keys are. */
struct attest_config {
	const char *cache_dir;      /* collateral.cache_dir */
	int collateral_mode;        /* collateral.mode: enum attest_collateral_mode */
	const char *pccs_url;       /* collateral.pccs_url */
	const char *amd_kds_url;    /* collateral.amd_kds_url */
	const char *root_ca_crl_url;/* collateral.root_ca_crl_url; NULL = derived from pccs_url */
	const char *collateral_dir; /* collateral.dir (offline mode) */
	const char *ca_file;        /* collateral.ca_file; NULL = system trust store */
	uint32_t timeout_ms;        /* collateral.timeout */
	uint32_t retries;           /* collateral.retries */
	uint32_t max_stale_ms;      /* collateral.max_stale */
	uint32_t max_age_ms;        /* collateral.max_age; 0 = artefact validity only */
	uint32_t refresh_before_ms; /* collateral.refresh_before; 0 = off */
	uint32_t error_holdoff_ms;  /* collateral.error_holdoff */
	uint32_t not_found_ttl_ms;  /* collateral.not_found_ttl */
	uint32_t max_entries;       /* collateral.max_entries */
	uint64_t test_now;          /* collateral.test_now (tests only) */
	const char *dev_root;       /* trust.dev_root: the simulator's Intel root (DEVELOPMENT ONLY); NULL = none */
	const char *dev_ark;        /* trust.dev_ark: the simulator's AMD ARK (DEVELOPMENT ONLY); NULL = none */
	uint32_t verdict_cache;     /* verify.verdict_cache_entries; 0 = off */
	int tcb_mode;               /* verify.tcb_mode: enum attest_tcb_mode (0 dcap-qvl, 1 intel) */
};

/* The service's private state, env->priv; owned by attest_init / attest_fini. */
struct attest_env {
	struct svc_env *svc;                 /* borrowed: the process env */
	const struct attest_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def attest_def;   /* dstack.attest.v1.Attest; ctx = this */
	struct attest_collateral *collateral;/* owned */
	int closing;                         /* attest_fini started: the server (and its calls) are gone */
	struct attest_verify_state *verify;  /* owned: trust roots and the verifier (attest_rpc.c) */
};

extern const struct conf_key attest_config_keys[];
extern const size_t attest_config_nkeys;

/* svc_def hooks (attest_config.c, attest_rpc.c). */
err_t attest_config_validate(const struct svc_config *cfg, const char **detail) MUST_CHECK;
err_t attest_init(struct svc_env *env, const char **detail) MUST_CHECK;
void attest_fini(struct svc_env *env);

/* GetCollateral (attest_collateral_rpc.c): collateral by key, async on a cache miss. */
int attest_on_get_collateral(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/*
 * Verify, VerifyBatch, Inspect and the trust part of GetInfo
 * (attest_verify_rpc.c). attest_verify_init needs a->collateral; at
 * shutdown call attest_verify_close before freeing the collateral cache and
 * attest_verify_fini after.
 */
struct Dstack__Attest__V1__GetInfoResponse;
int attest_on_verify(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int attest_on_verify_batch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int attest_on_inspect(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t attest_verify_init(struct attest_env *a, const char **detail) MUST_CHECK;
void attest_verify_close(struct attest_env *a);
void attest_verify_fini(struct attest_env *a);
err_t attest_verify_info(const struct attest_env *a, struct arena *mem,
			 struct Dstack__Attest__V1__GetInfoResponse *out) MUST_CHECK;

/* The PCCS v4 GET routes (attest_pccs.c). */
err_t attest_pccs_register(struct attest_env *a, const char **detail) MUST_CHECK;

#endif
