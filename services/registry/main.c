/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-registry: boot authorisation from on-chain governance or a policy file, and its audit trail. */
#include "registry.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
		.name = "registry",
		.binary = "dstack-registry",
		.default_config = "/etc/dstack/registry.conf",
		.keys = registry_config_keys,
		.nkeys = registry_config_nkeys,
		.config_size = sizeof(struct registry_config),
		.validate = registry_config_validate,
		.init = registry_init,
		.fini = registry_fini,
	};

	return svc_main(argc, argv, &def);
}
