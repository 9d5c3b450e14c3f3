/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the registry, on top of the common ones in lib/svc. */
#include <stddef.h>

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
};

const size_t registry_config_nkeys = ARRAY_LEN(registry_config_keys);
