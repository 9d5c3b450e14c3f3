/* SPDX-License-Identifier: Apache-2.0 */
/* The TEE backend from the agent's config (paths under tee.sysfs_root), and Info's register snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "guest-agent.h"
#include "log.h"

static const char *const backend_names[] = { "tdx", "sev-snp", "sim" };

err_t guest_tee_open(const struct guest_config *cfg, unsigned event_version, struct tee **out,
		     const char **detail)
{
	char tsm[4096], meas[4096], ccel[4096];
	uint8_t seed[TEE_SIM_SEED_LEN];
	struct tee_config tc;
	size_t n = 0;

	memset(&tc, 0, sizeof(tc));
	*out = NULL;
	if (cfg->tee_backend < 0 || (size_t)cfg->tee_backend >= ARRAY_LEN(backend_names)) {
		*detail = "tee.backend: tdx, sev-snp or sim";
		return ERR_CONFIG;
	}
	tc.backend = backend_names[cfg->tee_backend];
	tc.state_dir = cfg->tee_state_dir;
	tc.event_version = event_version;
	tc.quote_timeout_ms = cfg->tee_quote_timeout_ms;
	if (snprintf(tsm, sizeof(tsm), "%s/kernel/config/tsm", cfg->tee_sysfs_root) >= (int)sizeof(tsm) ||
	    snprintf(meas, sizeof(meas), "%s/devices/virtual/misc/tdx_guest/measurements", cfg->tee_sysfs_root) >=
		    (int)sizeof(meas) ||
	    snprintf(ccel, sizeof(ccel), "%s/firmware/acpi/tables/data/CCEL", cfg->tee_sysfs_root) >= (int)sizeof(ccel)) {
		*detail = "tee.sysfs_root is too long";
		return ERR_CONFIG;
	}
	tc.tsm_dir = tsm;
	tc.tdx_measurements_dir = meas;
	tc.ccel_path = ccel;
	if (cfg->tee_sim_seed) {
		if (cfg->tee_backend != GUEST_TEE_SIM) {
			*detail = "tee.sim_seed is for tee.backend = sim only";
			return ERR_CONFIG;
		}
		if (hex_decode(seed, sizeof(seed), &n, cfg->tee_sim_seed, strlen(cfg->tee_sim_seed), 1) != ERR_OK ||
		    n != sizeof(seed)) {
			*detail = "tee.sim_seed: 32 bytes of hex";
			return ERR_CONFIG;
		}
		tc.sim_seed = seed;
	}
	if (cfg->tee_backend == GUEST_TEE_SIM)
		log_warn(NULL, "tee.backend = sim: SIMULATED TEE; quotes are signed by a development PKI and prove nothing");
	return tee_open(&tc, out, detail);
}

void guest_snapshot_free(struct guest_snapshot *s)
{
	free(s->event_log);
	memset(s, 0, sizeof(*s));
}

err_t guest_snapshot_take(struct tee *t, struct guest_snapshot *out, const char **detail)
{
	struct tee_info after;
	err_t err;

	/*
	 * Registers, log, registers: events only ever append, so equal counts
	 * before and after mean the log in between matches the registers.
	 */
	for (int attempt = 0; attempt < 8; attempt++) {
		memset(out, 0, sizeof(*out));
		if ((err = tee_info(t, &out->info, detail)) != ERR_OK ||
		    (err = tee_event_log_json(t, &out->event_log, &out->event_log_len, detail)) != ERR_OK ||
		    (err = tee_info(t, &after, detail)) != ERR_OK) {
			guest_snapshot_free(out);
			return err;
		}
		if (after.n_runtime_events == out->info.n_runtime_events)
			return ERR_OK;
		guest_snapshot_free(out);
	}
	*detail = "runtime events kept arriving while the log was read";
	return ERR_UNAVAILABLE;
}

void guest_snapshot_offer(struct guest_env *g, struct guest_snapshot *s)
{
	if (!g->snap.event_log || s->info.n_runtime_events >= g->snap.info.n_runtime_events) {
		guest_snapshot_free(&g->snap);
		g->snap = *s;
		memset(s, 0, sizeof(*s));
		return;
	}
	guest_snapshot_free(s);
}
