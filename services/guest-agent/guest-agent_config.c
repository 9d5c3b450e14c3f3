/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the guest agent, on top of the common ones in lib/svc, and the checks across them. */
#include <stddef.h>
#include <string.h>

#include "guest-agent.h"

/*
 * Real hardware is the default: the simulator signs with a development PKI,
 * and an agent that silently fell back to it would hand out worthless quotes.
 */
static const char *const tee_backends[] = { "tdx", "sev-snp", "sim", NULL };

#define K(name, type, field, def, min, max, help) \
	{ name, type, offsetof(struct guest_config, field), def, min, max, NULL, 0, help }

const struct conf_key guest_config_keys[] = {
	{ "tee.backend", CONF_ENUM, offsetof(struct guest_config, tee_backend), "tdx", 0, 0, tee_backends, 0,
	  "where quotes come from: tdx or sev-snp (configfs-tsm), or sim (SIMULATED: development PKI, tests only)" },
	K("tee.sysfs_root", CONF_PATH, tee_sysfs_root, "/sys", 0, 0,
	  "root of the kernel's TEE interfaces (configfs-tsm, RTMR sysfs, CCEL, DMI); tests point it at an emulated tree"),
	K("tee.state_dir", CONF_PATH, tee_state_dir, "/run/dstack-c/tee", 0, 0,
	  "runtime event log (and the sim's registers), mode 0700; a tmpfs on hardware so it resets with RTMR3"),
	K("tee.sim_seed", CONF_STR, tee_sim_seed, NULL, 0, 0,
	  "sim only: 64 hex digits selecting the simulated platform and its development PKI (default 00..1f)"),
	K("tee.quote_timeout", CONF_MS, tee_quote_timeout_ms, "30s", 100, 600000, "bound on one quote"),
	K("boot.host_shared_dir", CONF_PATH, host_shared_dir, "/dstack/.host-shared", 0, 0,
	  "the host-shared files: app-compose.json, .sys-config.json, .instance_info, .encrypted-env"),
	{ "boot.local_seed_file", CONF_SECRET, offsetof(struct guest_config, local_seed_file), NULL, 0, 0, NULL, 0,
	  "key provider none: 64 hex digits the app keys derive from (mode 0600); unset = random keys per boot" },
	K("boot.kms_url", CONF_STR, kms_url, NULL, 0, 0, "KMS to ask for app keys, before sys-config's kms_urls"),
	K("boot.kms_root_ca", CONF_PATH, kms_root_ca, NULL, 0, 0,
	  "PEM of the KMS root CA to pin; unset = take it from the KMS's GetTempCaCert (dstack's behaviour)"),
	K("boot.kms_timeout", CONF_MS, kms_timeout_ms, "30s", 100, 600000, "one GetAppKey attempt"),
	K("boot.kms_attempts", CONF_U32, kms_attempts, "6", 1, 1000, "rounds over the KMS URLs before the boot fails"),
	K("boot.kms_backoff", CONF_MS, kms_backoff_ms, "1s", 10, 600000, "wait after the first failed round; doubles"),
	K("boot.kms_backoff_max", CONF_MS, kms_backoff_max_ms, "30s", 10, 3600000, "longest wait between rounds"),
	K("boot.data_disk", CONF_PATH, data_disk, NULL, 0, 0,
	  "block device of the encrypted data disk (LUKS2, key from the KMS); unset = no data disk"),
	K("boot.data_disk_name", CONF_STR, data_disk_name, "dstack_data_disk", 0, 0, "device-mapper name of the open disk"),
	K("boot.cryptsetup", CONF_PATH, cryptsetup, "/sbin/cryptsetup", 0, 0, "the cryptsetup binary"),
	K("boot.write_instance_info", CONF_BOOL, write_instance_info, "true", 0, 0,
	  "keep a newly generated instance_id_seed in .instance_info (not secret)"),
	K("workers", CONF_U32, workers, "2", 1, 16, "threads doing quotes and RTMR3 extensions"),
	K("max_queue", CONF_U32, max_queue, "1024", 1, 65536, "queued TEE requests before RESOURCE_EXHAUSTED"),
	K("app.run", CONF_BOOL, app_run, "false", 0, 0,
	  "launch the compose's workload (runner bash: bash_script) after boot, for the local demo"),
	K("app.dir", CONF_PATH, app_dir, NULL, 0, 0, "working directory of the workload"),
	K("app.socket", CONF_STR, app_socket, NULL, 0, 0,
	  "what the workload gets as DSTACK_SIMULATOR_ENDPOINT (this agent's unix socket path or http URL)"),
};

const size_t guest_config_nkeys = ARRAY_LEN(guest_config_keys);

err_t guest_config_validate(const struct svc_config *cfg, const char **detail)
{
	const struct guest_config *g = cfg->service;

	for (size_t i = 0; i < cfg->common.listen.n; i++) {
		struct svc_addr a;

		if (svc_addr_parse(cfg->common.listen.items[i], &a) != ERR_OK || !a.loopback) {
			*detail = "listen: the guest agent serves keys on every listener: unix sockets and loopback only";
			return ERR_CONFIG;
		}
	}
	if (g->kms_backoff_max_ms < g->kms_backoff_ms) {
		*detail = "boot.kms_backoff_max is below boot.kms_backoff";
		return ERR_CONFIG;
	}
	if (g->tee_sim_seed && g->tee_backend != GUEST_TEE_SIM) {
		*detail = "tee.sim_seed is for tee.backend = sim only";
		return ERR_CONFIG;
	}
	return ERR_OK;
}
