/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the registry, on top of the common ones in lib/svc. */
#include <stddef.h>

#include "registry.h"

const struct conf_key registry_config_keys[] = {
	{ "policy_file", CONF_PATH, offsetof(struct registry_config, policy_file), NULL, 0, 0, NULL, 0,
	  "local JSON policy (auth-simple shape) used instead of a chain; unset = no policy, every boot denied" },
};

const size_t registry_config_nkeys = ARRAY_LEN(registry_config_keys);
