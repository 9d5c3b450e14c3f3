/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-attest: evidence verification and the cluster's collateral cache. */
#include "attest.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
		.name = "attest",
		.binary = "dstack-attest",
		.default_config = "/etc/dstack/attest.conf",
		.keys = attest_config_keys,
		.nkeys = attest_config_nkeys,
		.config_size = sizeof(struct attest_config),
		.init = attest_init,
		.validate = attest_config_validate,
		.fini = attest_fini,
	};

	return svc_main(argc, argv, &def);
}
