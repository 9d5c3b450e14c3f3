/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS service's config and process environment. */
#ifndef DS_KMS_H
#define DS_KMS_H

#include "dstack/kms/v1/kms.pb-c.h"
#include "kms_keyholder.h"
#include "kms_store.h"
#include "svc.h"

/* Filled once from the config file; read-only afterwards. */
struct kms_config {
	const char *state_dir;      /* state_dir: sealed root keys, epochs, audit records */
	const char *registry_url;   /* registry.url: where boots are authorised ("" = unset) */
	const char *attest_url;     /* attest.url: where collateral comes from ("" = unset) */
	const char *seal_provider;  /* seal.provider: how root keys are sealed at rest ("sim" or "" = none) */
	const char *dev_root;       /* trust.dev_root: the simulator's Intel root (DEVELOPMENT ONLY), or NULL */
	const char *dev_ark;        /* trust.dev_ark: the simulator's AMD ARK (DEVELOPMENT ONLY), or NULL */
	const char *collateral_file;/* collateral.file: DCAP collateral (dcap-qvl JSON) loaded at start, or NULL */
	const char *tee_backend;    /* tee.backend: this node's own TEE (sim, tdx, sev-snp; "" = none) */
	const char *tee_state_dir;  /* tee.state_dir: the backend's runtime event log (and sim registers) */
	const char *replica_source_url;   /* replica.source_url: pull epochs from this KMS ("" = not a replica) */
	uint32_t replica_sync_interval_ms;/* replica.sync_interval */
};

/* The public parts of the root state, as the key holder last reported them (kms_pub_refresh). */
struct kms_pub {
	struct arena mem;
	Dstack__Kms__Internal__V1__KhStatusResponse *st;  /* the key holder's status (no secrets) */
	const kms_root_epoch *current;                     /* NULL while uninitialised */
	char *ca_cert_pem;                                 /* current epoch's root CA */
	char *tmp_ca_cert_pem, *tmp_ca_key_pem;            /* the temp client CA: handed out, not a root secret */
};

/* The service's private state, env->priv; owned by kms_init / kms_fini. */
struct kms_env {
	struct svc_env *svc;               /* borrowed: the process env */
	const struct kms_config *cfg;      /* borrowed: env->config */
	struct rpc_service_def kms_def;    /* dstack.kms.v1.Kms; ctx = this */
	struct rpc_service_def admin_def;  /* dstack.kms.v1.KmsAdmin; ctx = this */
	struct kms_kh *kh;                 /* the key-holder process */
	struct kms_pub *pub;               /* public parts of the root state, refreshed after every change */
	struct kms_tls *tls;               /* RPC certificate and the RA-TLS verifier of client certificates */
	struct kms_authz *authz;           /* the registry client */
	struct tee *tee;                   /* this node's TEE, or NULL */
	struct kms_audit *audit;           /* root-material movements */
	struct event *sync_timer;          /* replica epoch sync, or NULL */
	uint64_t keys_released, keys_denied, certs_issued;
};

/* --- kms_tls.c --- */
/* Trust anchors, collateral, verifier, RPC key and TLS context (handed to lib/svc). */
err_t kms_tls_init(struct kms_env *k, const char **detail) MUST_CHECK;
/* Reissue the RPC certificate and the client CA after the root state changed. */
err_t kms_tls_refresh(struct kms_env *k, const char **detail) MUST_CHECK;
void kms_tls_free(struct kms_tls *t);
struct ratls_stats;
/* --- kms_collateral.c: collateral for client evidence --- */
struct kms_coll;
struct ratls_coll_store;
struct dcap_vcoll;
struct attest_trust;
struct kms_coll *kms_coll_new(struct event_base *base, const char *attest_url, struct ratls_coll_store *store,
			      const struct attest_trust *trust);
void kms_coll_free(struct kms_coll *c);
/* A ratls_collateral_fn: the store, and on a miss a background fetch from the attest service. */
err_t kms_coll_get(void *arg, const uint8_t fmspc[6], int ca_platform, const struct dcap_vcoll **out);

struct ratls_verdict;
/* This node's own attested claims (a throwaway RA-TLS certificate verified by our own verifier). */
err_t kms_self_verdict(struct kms_env *k, const struct ratls_verdict **out, const char **detail) MUST_CHECK;
/* Counters of the client-certificate verifier. */
void kms_tls_stats(const struct kms_env *k, struct ratls_stats *out);
struct ratls_verifier;
/* The RA-TLS verifier (trust, collateral, caches) for evidence outside the handshake, e.g. SignCert CSRs. Borrowed. */
struct ratls_verifier *kms_tls_verifier(const struct kms_env *k);

/* --- kms_public.c: the network side's view of the root state --- */

/* Re-read the public state from the key holder (after start and after every change). */
err_t kms_pub_refresh(struct kms_env *k, const char **detail) MUST_CHECK;
void kms_pub_free(struct kms_pub *p);
/* EpochInfo of every epoch (public parts), in mem. */
err_t kms_epoch_infos(const struct kms_env *k, struct arena *mem, Dstack__Kms__V1__EpochInfo ***out,
		      size_t *n) MUST_CHECK;
/* Dev mode: some part of this node is simulated (the seal provider). */
int kms_is_dev(const struct kms_env *k);
int kms_on_get_meta(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_get_temp_ca_cert(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_bootstrap(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t kms_validate_bootstrap(const ProtobufCMessage *msg, const char **detail);
/* A DNS name or IP literal for the RPC certificate. */
err_t kms_check_domain(const char *domain, const char **detail) MUST_CHECK;

/* --- kms_replica.c: replicas, epochs, audit --- */
int kms_on_get_kms_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t kms_validate_onboard(const ProtobufCMessage *msg, const char **detail);
int kms_on_onboard(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_rotate_epoch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_retire_epoch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_list_epochs(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_list_onboardings(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
/* --- kms_backup.c: threshold backup and recovery --- */
err_t kms_validate_export_shares(const ProtobufCMessage *msg, const char **detail);
int kms_on_export_shares(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_get_recovery_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t kms_validate_recover(const ProtobufCMessage *msg, const char **detail);
int kms_on_recover_from_shares(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
/* Start the epoch-sync timer when replica.source_url is set. */
err_t kms_replica_start(struct kms_env *k, const char **detail) MUST_CHECK;

/* --- kms_keys_rpc.c: key release --- */
struct ratls_verdict;
/* For handlers of attested peers: ERR_OK when the peer's certificate verified (v) and this KMS holds root keys. */
err_t kms_serving_attested_peer(struct rpc_call *call, const struct kms_env *k, const struct ratls_verdict *v)
	MUST_CHECK;
err_t kms_validate_app_id(const ProtobufCMessage *msg, const char **detail);
err_t kms_validate_get_app_key(const ProtobufCMessage *msg, const char **detail);
int kms_on_get_app_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int kms_on_get_app_env_encrypt_pub_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/* --- kms_signcert.c: SignCert (public: the CSR carries its own attestation) --- */
err_t kms_validate_sign_cert(const ProtobufCMessage *msg, const char **detail);
int kms_on_sign_cert(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
struct attest_claims;
struct attest_boot_info;
/*
 * The BootInfo SignCert authorises, as dstack's boot-time measurement: the
 * boot-time mr_aggregated, no key_provider_info, mr_system with a zero
 * mr_key_provider. Pointers in *bi are borrowed from c.
 */
void kms_signcert_boot_info(const struct attest_claims *c, struct attest_boot_info *bi);

extern const struct conf_key kms_config_keys[];
extern const size_t kms_config_nkeys;

/* svc_def hooks (kms_rpc.c). */
err_t kms_init(struct svc_env *env, const char **detail) MUST_CHECK;
void kms_fini(struct svc_env *env);

/* `dstack-kms keyholder`: the key-holder process (kms_keyholder_main.c), started by serve. */
int kms_cmd_keyholder(int argc, char **argv, const struct svc_def *def);
/* The operator commands (kms_cli.c); argv[0] is the command. */
int kms_cli_main(int argc, char **argv, const struct svc_def *def);

#endif
