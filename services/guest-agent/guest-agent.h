/* SPDX-License-Identifier: Apache-2.0 */
/* The guest agent's config and process environment. */
#ifndef DS_GUEST_AGENT_H
#define DS_GUEST_AGENT_H

#include "guest_boot.h"
#include "svc.h"
#include "tee.h"

struct guest_worker;
struct guest_job;
struct rpc_client;

/* Index into the `tee.backend` choices. */
enum guest_tee_backend { GUEST_TEE_TDX = 0, GUEST_TEE_SEV_SNP = 1, GUEST_TEE_SIM = 2 };

/* Filled once from the config file; read-only afterwards. */
struct guest_config {
	int tee_backend;                /* tee.backend: enum guest_tee_backend */
	const char *tee_sysfs_root;     /* tee.sysfs_root: where configfs-tsm, RTMR sysfs, CCEL and DMI live */
	const char *tee_state_dir;      /* tee.state_dir: runtime event log (+ sim registers); a tmpfs on hardware */
	const char *tee_sim_seed;       /* tee.sim_seed: 64 hex digits, or NULL for the default seed (sim only) */
	uint32_t tee_quote_timeout_ms;  /* tee.quote_timeout */

	const char *host_shared_dir;    /* boot.host_shared_dir: app-compose.json, .sys-config.json, ... */
	const char *local_seed_file;    /* boot.local_seed_file: key provider none: 32-byte seed (secret file) */
	const char *kms_url;            /* boot.kms_url: overrides sys-config kms_urls */
	const char *kms_root_ca;        /* boot.kms_root_ca: PEM of the KMS root CA to pin, or NULL */
	uint32_t kms_timeout_ms;        /* boot.kms_timeout: one GetAppKey attempt */
	uint32_t kms_attempts;          /* boot.kms_attempts: attempts per URL before the boot fails */
	uint32_t kms_backoff_ms;        /* boot.kms_backoff: first wait, doubled per attempt */
	uint32_t kms_backoff_max_ms;    /* boot.kms_backoff_max */
	const char *data_disk;          /* boot.data_disk: block device for the LUKS data disk, or NULL */
	const char *data_disk_name;     /* boot.data_disk_name: device-mapper name */
	const char *cryptsetup;         /* boot.cryptsetup: the cryptsetup binary */
	int write_instance_info;        /* boot.write_instance_info: persist a new instance_id_seed */

	uint32_t workers;               /* workers: threads for quotes and RTMR extensions */
	uint32_t max_queue;             /* max_queue: queued TEE jobs before RESOURCE_EXHAUSTED */

	int app_run;                    /* app.run: launch the compose's workload (runner "bash") */
	const char *app_dir;            /* app.dir: working directory of the workload */
	const char *app_socket;         /* app.socket: DSTACK_SIMULATOR_ENDPOINT given to the workload */
};

/* What Info reports about the registers and the log: a snapshot, replaced as events land. */
struct guest_snapshot {
	struct tee_info info;
	char *event_log;                /* tee_event_log_json (malloc) */
	size_t event_log_len;
};

struct guest_workload;
struct tls_state;
struct guest_keymemo;

/* The service's private state, env->priv; owned by guest_init / guest_fini. */
struct guest_env {
	struct svc_env *svc;                /* borrowed: the process env */
	const struct guest_config *cfg;     /* borrowed: env->config */
	struct rpc_service_def guest_def;   /* dstack.guest.v1.DstackGuest; ctx = this */
	struct rpc_service_def tappd_def;   /* dstack.guest.v1.Tappd; ctx = this */
	struct rpc_service_def worker_def;  /* dstack.guest.v1.Worker; ctx = this */
	struct tee *tee;                    /* owned */
	struct guest_boot boot;             /* owned: identity, keys, env (secrets wiped in guest_fini) */
	struct guest_worker *worker;        /* owned: blocking TEE work off the loop */
	struct rpc_client *kms;             /* owned: SignCert client (KMS mode), lazily created */
	struct tls_state *tls;              /* owned: SignCert calls in flight, the KMS root store */
	struct guest_snapshot snap;         /* owned; loop thread only */
	struct guest_workload *workload;    /* owned: item 4 (app.run) */
	struct guest_keymemo *keymemo;      /* owned: GetKey answers (NULL: none); loop thread only */
	uint64_t tls_issued;                /* counters for logs */
};

extern const struct conf_key guest_config_keys[];
extern const size_t guest_config_nkeys;

/* svc_def hooks (guest-agent_rpc.c). */
err_t guest_init(struct svc_env *env, const char **detail) MUST_CHECK;
void guest_fini(struct svc_env *env);
/* Cross-key checks: listeners loopback or unix only (every route is served on every listener). */
err_t guest_config_validate(const struct svc_config *cfg, const char **detail) MUST_CHECK;

/*
 * Open the configured TEE backend with runtime event digests of
 * `event_version` (1 or 2; the compose's event_log_version) (guest_tee.c).
 * *out is the caller's (tee_close).
 */
err_t guest_tee_open(const struct guest_config *cfg, unsigned event_version, struct tee **out,
		     const char **detail) MUST_CHECK;

/* `dstack-guest-agent boot`: the measured boot alone, then exit (guest_boot_cmd.c). */
int guest_cmd_boot(int argc, char **argv, const struct svc_def *def);
/* `dstack-guest-agent sim-platform --out DIR`: the sim's dev root and collateral (SIMULATION ONLY). */
int guest_cmd_sim_platform(int argc, char **argv, const struct svc_def *def);

/* Replace env->snap with a fresh one if `s` is at least as new; takes s's buffer either way. Loop thread. */
void guest_snapshot_offer(struct guest_env *g, struct guest_snapshot *s);
/* Take a snapshot (any thread; blocks on the TEE's event lock). */
err_t guest_snapshot_take(struct tee *t, struct guest_snapshot *out, const char **detail) MUST_CHECK;
void guest_snapshot_free(struct guest_snapshot *s);

#endif
