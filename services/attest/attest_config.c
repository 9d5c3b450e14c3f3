/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the attest service, on top of the common ones in lib/svc. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "attest.h"

/* Offline first: fetching collateral from Intel/AMD must be asked for, never a surprise. */
static const char *const collateral_modes[] = { "offline", "pccs", NULL };
/* Index = enum attest_tcb_mode. */
static const char *const tcb_modes[] = { "dcap-qvl", "intel", NULL };

#define H (3600u * 1000u)

const struct conf_key attest_config_keys[] = {
	{ "collateral.cache_dir", CONF_PATH, offsetof(struct attest_config, cache_dir), "/var/cache/dstack/attest", 0, 0,
	  NULL, 0, "on-disk collateral cache (created in pccs mode; read-only in offline mode)" },
	{ "collateral.mode", CONF_ENUM, offsetof(struct attest_config, collateral_mode), "offline", 0, 0,
	  collateral_modes, 0,
	  "offline: only collateral.dir and the disk cache; pccs: also fetch from collateral.pccs_url / amd_kds_url" },
	{ "collateral.pccs_url", CONF_STR, offsetof(struct attest_config, pccs_url),
	  "https://api.trustedservices.intel.com", 0, 0, NULL, 0, "Intel PCS or PCCS base URL (API v4)" },
	{ "collateral.amd_kds_url", CONF_STR, offsetof(struct attest_config, amd_kds_url), "https://kdsintf.amd.com", 0,
	  0, NULL, 0, "AMD KDS base URL" },
	{ "collateral.root_ca_crl_url", CONF_STR, offsetof(struct attest_config, root_ca_crl_url), NULL, 0, 0, NULL, 0,
	  "Root CA CRL URL; default: <pccs_url>/sgx/certification/v4/rootcacrl, or Intel's CRL point for Intel PCS" },
	{ "collateral.dir", CONF_PATH, offsetof(struct attest_config, collateral_dir), NULL, 0, 0, NULL, 0,
	  "offline collateral directory (layout in docs/attest-collateral.md)" },
	{ "collateral.ca_file", CONF_PATH, offsetof(struct attest_config, ca_file), NULL, 0, 0, NULL, 0,
	  "PEM trust anchors for https upstreams; default: the system store" },
	{ "collateral.timeout", CONF_MS, offsetof(struct attest_config, timeout_ms), "10s", 100, 300000, NULL, 0,
	  "per upstream attempt" },
	{ "collateral.retries", CONF_U32, offsetof(struct attest_config, retries), "2", 0, 10, NULL, 0,
	  "extra attempts on transport errors, 429 and 5xx (exponential backoff)" },
	{ "collateral.max_stale", CONF_MS, offsetof(struct attest_config, max_stale_ms), "24h", 0, 720u * H, NULL, 0,
	  "serve an expired entry for this long past its expiry while upstream fails" },
	{ "collateral.max_age", CONF_MS, offsetof(struct attest_config, max_age_ms), "0", 0, 1000u * H, NULL, 0,
	  "refetch entries this long after fetching even if the artefact is still valid; 0 = off" },
	{ "collateral.refresh_before", CONF_MS, offsetof(struct attest_config, refresh_before_ms), "0", 0, 720u * H,
	  NULL, 0, "refetch in the background when a used entry is this close to expiry; 0 = off" },
	{ "collateral.error_holdoff", CONF_MS, offsetof(struct attest_config, error_holdoff_ms), "10s", 0, 1u * H, NULL,
	  0, "after a failed fetch, answer from the cache (or fail) without asking upstream for this long" },
	{ "collateral.not_found_ttl", CONF_MS, offsetof(struct attest_config, not_found_ttl_ms), "1m", 0, 24u * H, NULL,
	  0, "remember an upstream 404 (unknown FMSPC) for this long" },
	{ "collateral.max_entries", CONF_U32, offsetof(struct attest_config, max_entries), "4096", 16, 1000000, NULL, 0,
	  "cache entries held in memory" },
	{ "collateral.test_now", CONF_U64, offsetof(struct attest_config, test_now), "0", 0, 253402300799ull, NULL, 0,
	  "TESTS ONLY: the collateral clock starts at this unix time and advances normally; 0 = real clock" },
	{ "trust.dev_root", CONF_PATH, offsetof(struct attest_config, dev_root), NULL, 0, 0, NULL, 0,
	  "DEVELOPMENT ONLY: the simulator's Intel root CA (DER or PEM); sim quotes then verify, marked dev, for "
	  "policies with allow_dev_root" },
	{ "trust.dev_ark", CONF_PATH, offsetof(struct attest_config, dev_ark), NULL, 0, 0, NULL, 0,
	  "DEVELOPMENT ONLY: the simulator's AMD ARK (DER or PEM); as trust.dev_root for SEV-SNP" },
	{ "verify.verdict_cache_entries", CONF_U32, offsetof(struct attest_config, verdict_cache), "4096", 0, 1000000,
	  NULL, 0, "verdicts kept (until their collateral expires); 0 = no verdict cache" },
	{ "verify.tcb_mode", CONF_ENUM, offsetof(struct attest_config, tcb_mode), "dcap-qvl", 0, 0, tcb_modes, 0,
	  "TCB matching when a policy does not choose: dcap-qvl or intel (see docs/attestation.md)" },
};

const size_t attest_config_nkeys = ARRAY_LEN(attest_config_keys);

static int url_ok(const char *u)
{
	if (!u)
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return (strncasecmp(u, "https://", 8) == 0 && u[8]) || (strncasecmp(u, "http://", 7) == 0 && u[7]);
}

err_t attest_config_validate(const struct svc_config *cfg, const char **detail)
{
	const struct attest_config *a = cfg->service;

	if (!url_ok(a->pccs_url)) {
		*detail = "collateral.pccs_url must be an http(s) URL";
		return ERR_CONFIG_RANGE;
	}
	if (!url_ok(a->amd_kds_url)) {
		*detail = "collateral.amd_kds_url must be an http(s) URL";
		return ERR_CONFIG_RANGE;
	}
	if (a->root_ca_crl_url && !url_ok(a->root_ca_crl_url)) {
		*detail = "collateral.root_ca_crl_url must be an http(s) URL";
		return ERR_CONFIG_RANGE;
	}
	return ERR_OK;
}
