/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-guest-agent: the in-VM agent serving apps dstack's guest API and running the boot flow. */
#include "guest-agent.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
		.name = "guest-agent",
		.binary = "dstack-guest-agent",
		.default_config = "/etc/dstack/guest-agent.conf",
		.keys = guest_config_keys,
		.nkeys = guest_config_nkeys,
		.config_size = sizeof(struct guest_config),
		.init = guest_init,
		.fini = guest_fini,
	};

	return svc_main(argc, argv, &def);
}
