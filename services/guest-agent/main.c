/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-guest-agent: the in-VM agent serving apps dstack's guest API and running the boot flow. */
#include "guest-agent.h"

static const struct svc_command commands[] = {
	{ "boot", guest_cmd_boot, "run the measured boot only (RTMR3 events, keys, env, disk) and print the outcome" },
	{ "sim-platform", guest_cmd_sim_platform,
	  "SIMULATION: write the sim's dev root and collateral: sim-platform -c FILE --out DIR" },
};

int main(int argc, char **argv)
{
	const struct svc_def def = {
		.name = "guest-agent",
		.binary = "dstack-guest-agent",
		.default_config = "/etc/dstack/guest-agent.conf",
		.keys = guest_config_keys,
		.nkeys = guest_config_nkeys,
		.config_size = sizeof(struct guest_config),
		.validate = guest_config_validate,
		.init = guest_init,
		.fini = guest_fini,
		.commands = commands,
		.ncommands = ARRAY_LEN(commands),
	};

	return svc_main(argc, argv, &def);
}
