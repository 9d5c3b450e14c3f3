/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-gateway: public TLS ingress routing to registered app instances. */
#include "gateway.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
		.name = "gateway",
		.binary = "dstack-gateway",
		.default_config = "/etc/dstack/gateway.conf",
		.keys = gateway_config_keys,
		.nkeys = gateway_config_nkeys,
		.config_size = sizeof(struct gateway_config),
		.validate = gateway_config_validate,
		.init = gateway_init,
		.fini = gateway_fini,
	};

	return svc_main(argc, argv, &def);
}
