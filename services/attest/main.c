/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-attest: evidence verification and the cluster's collateral cache. */
#include "attest.h"
#include "attest_cli.h"

static const struct svc_command commands[] = {
	{ "verify", attest_cmd_verify, "verify one quote / SEV-SNP report / GetQuote JSON file; verdict as JSON" },
	{ "inspect", attest_cmd_inspect, "parse evidence without collateral: report, event log replay, dstack claims" },
	{ "sim-quote", attest_cmd_sim_quote, "SIMULATION (development only): write a dev-PKI TDX quote and collateral" },
};

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
		.commands = commands,
		.ncommands = ARRAY_LEN(commands),
	};

	return svc_main(argc, argv, &def);
}
