/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the attest service, on top of the common ones in lib/svc. */
#include <stddef.h>

#include "attest.h"

/* Offline first: fetching collateral from Intel/AMD must be asked for, never a surprise. */
static const char *const collateral_modes[] = { "offline", "online", NULL };

const struct conf_key attest_config_keys[] = {
	{ "collateral.cache_dir", CONF_PATH, offsetof(struct attest_config, cache_dir), "/var/cache/dstack/attest", 0, 0,
	  NULL, 0, "directory of cached collateral (and, in offline mode, the only source of it)" },
	{ "collateral.mode", CONF_ENUM, offsetof(struct attest_config, collateral_mode), "offline", 0, 0,
	  collateral_modes, 0, "offline: read collateral only from cache_dir; online: also fetch from PCCS / AMD KDS" },
};

const size_t attest_config_nkeys = ARRAY_LEN(attest_config_keys);
