/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the KMS, on top of the common ones in lib/svc. */
#include <stddef.h>

#include "kms.h"

const struct conf_key kms_config_keys[] = {
	{ "state_dir", CONF_PATH, offsetof(struct kms_config, state_dir), "/var/lib/dstack/kms", 0, 0, NULL, 0,
	  "directory of sealed root keys, key epochs and onboarding audit records" },
	{ "registry.url", CONF_STR, offsetof(struct kms_config, registry_url), "", 0, 0, NULL, 0,
	  "base URL of the registry service that authorises boots (\"\" = none: every key request is denied)" },
	{ "attest.url", CONF_STR, offsetof(struct kms_config, attest_url), "", 0, 0, NULL, 0,
	  "base URL of the attest service for collateral (\"\" = none)" },
};

const size_t kms_config_nkeys = ARRAY_LEN(kms_config_keys);
