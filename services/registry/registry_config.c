/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the registry, on top of the common ones in lib/svc. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "enc.h"

#include "registry.h"

#define H (3600u * 1000u)

const struct conf_key registry_config_keys[] = {
	{ "policy_file", CONF_PATH, offsetof(struct registry_config, policy_file), NULL, 0, 0, NULL, 0,
	  "local JSON policy (auth-simple shape) used instead of a chain; unset = no policy, every boot denied" },
	{ "policy_poll_interval", CONF_MS, offsetof(struct registry_config, policy_poll_ms), "1s", 100, 1u * H, NULL, 0,
	  "how often the policy file is checked for changes (mtime, size, inode)" },
	{ "audit_log", CONF_PATH, offsetof(struct registry_config, audit_log), NULL, 0, 0, NULL, 0,
	  "policy-file backend: JSON-lines file keeping the load history across restarts; unset = memory only" },
	{ "audit_max_events", CONF_U32, offsetof(struct registry_config, audit_max_events), "10000", 1, 10000000, NULL,
	  0, "policy-file backend: load events kept in memory (oldest dropped)" },
	{ "chain.rpc_urls", CONF_LIST, offsetof(struct registry_config, rpc_urls), NULL, 0, 8, NULL, 0,
	  "EVM JSON-RPC endpoint (http or https); repeat the key for failover, in priority order" },
	{ "chain.id", CONF_U64, offsetof(struct registry_config, chain_id), "0", 0, UINT64_MAX, NULL, 0,
	  "chain id the endpoints must report (eth_chainId); required with chain.rpc_urls" },
	{ "chain.kms_contract", CONF_STR, offsetof(struct registry_config, kms_contract), NULL, 0, 0, NULL, 0,
	  "KmsRegistry contract address, 0x + 40 hex digits; required with chain.rpc_urls" },
	{ "chain.confirmations", CONF_U32, offsetof(struct registry_config, confirmations), "6", 0, 1000, NULL, 0,
	  "a block's events are applied once this many blocks are on top of it" },
	{ "chain.poll_interval", CONF_MS, offsetof(struct registry_config, chain_poll_ms), "2s", 50, 600000, NULL, 0,
	  "how often the head is polled" },
	{ "chain.log_range", CONF_U32, offsetof(struct registry_config, log_range), "2000", 1, 1000000, NULL, 0,
	  "blocks per eth_getLogs request" },
	{ "chain.start_block", CONF_U64, offsetof(struct registry_config, start_block), "0", 0, UINT64_MAX, NULL, 0,
	  "first block to scan: the block the registry was deployed in" },
	{ "chain.checkpoint_file", CONF_PATH, offsetof(struct registry_config, checkpoint_file), NULL, 0, 0, NULL, 0,
	  "where the watcher keeps its checkpoint (and <file>.events, the audit log); unset = full resync at start" },
	{ "chain.max_staleness", CONF_MS, offsetof(struct registry_config, max_staleness_ms), "2m", 1000, 86400000, NULL,
	  0, "with no new head for this long, CheckBoot denies (fail closed) and /readyz is not ready" },
	{ "chain.rpc_timeout", CONF_MS, offsetof(struct registry_config, rpc_timeout_ms), "10s", 100, 300000, NULL, 0,
	  "one JSON-RPC attempt" },
	{ "chain.cross_check", CONF_BOOL, offsetof(struct registry_config, cross_check), "false", 0, 0, NULL, 0,
	  "also ask the contract (eth_call at the snapshot block) for every CheckBoot, not only when asked" },
};

const size_t registry_config_nkeys = ARRAY_LEN(registry_config_keys);

static int url_ok(const char *u)
{
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return (strncasecmp(u, "https://", 8) == 0 && u[8]) || (strncasecmp(u, "http://", 7) == 0 && u[7]);
}

err_t registry_config_validate(const struct svc_config *cfg, const char **detail)
{
	const struct registry_config *c = cfg->service;
	uint8_t addr[REGISTRY_ADDR_LEN];
	size_t n = 0;

	if (!c->rpc_urls.n)
		return ERR_OK;
	if (c->policy_file) {
		*detail = "policy_file and chain.rpc_urls are two backends: set one";
		return ERR_CONFIG;
	}
	for (size_t i = 0; i < c->rpc_urls.n; i++)
		if (!url_ok(c->rpc_urls.items[i])) {
			*detail = "chain.rpc_urls: each must be an http(s) URL";
			return ERR_CONFIG_RANGE;
		}
	if (!c->chain_id) {
		*detail = "chain.id is required with chain.rpc_urls";
		return ERR_CONFIG;
	}
	if (!c->kms_contract || strlen(c->kms_contract) != 42 ||
	    hex_decode(addr, sizeof(addr), &n, c->kms_contract, strlen(c->kms_contract), 1) != ERR_OK || n != sizeof(addr)) {
		*detail = "chain.kms_contract must be 0x followed by 40 hex digits";
		return ERR_CONFIG;
	}
	if (c->max_staleness_ms <= c->chain_poll_ms) {
		*detail = "chain.max_staleness must be longer than chain.poll_interval";
		return ERR_CONFIG_RANGE;
	}
	return ERR_OK;
}
