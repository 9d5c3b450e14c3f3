/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-registry: boot authorisation from on-chain governance or a policy file, and its audit trail. */
#include "registry.h"
#include "registry_cli.h"

static const struct svc_command commands[] = {
	{ "deploy", registry_cmd_tx, "deploy the KmsRegistry contract (prints chain.kms_contract and chain.start_block)" },
	{ "register-app", registry_cmd_tx, "register an App, or deploy one through the registry (--deploy)" },
	{ "add-compose-hash", registry_cmd_tx, "allow a compose hash for an App (subject to its upgrade delay)" },
	{ "remove-compose-hash", registry_cmd_tx, "remove an App's compose hash (immediate)" },
	{ "add-device", registry_cmd_tx, "allow a device id for an App" },
	{ "remove-device", registry_cmd_tx, "remove a device id of an App" },
	{ "set-allow-any-device", registry_cmd_tx, "let an App run on any device (--value true|false)" },
	{ "set-require-tcb", registry_cmd_tx, "require TCB status UpToDate for an App (--value true|false)" },
	{ "set-upgrade-delay", registry_cmd_tx, "seconds a new compose hash waits before it is effective" },
	{ "add-os-image", registry_cmd_tx, "allow an OS image hash" },
	{ "remove-os-image", registry_cmd_tx, "remove an OS image hash" },
	{ "add-kms-mr", registry_cmd_tx, "allow a KMS aggregated measurement" },
	{ "remove-kms-mr", registry_cmd_tx, "remove a KMS aggregated measurement" },
	{ "add-kms-device", registry_cmd_tx, "allow a KMS device id" },
	{ "remove-kms-device", registry_cmd_tx, "remove a KMS device id" },
	{ "set-gateway-app-id", registry_cmd_tx, "set the gateway app id" },
	{ "set-kms-info", registry_cmd_tx, "publish the KMS root public keys and bootstrap attestation" },
	{ "events", registry_cmd_events, "the governance audit trail, from a running registry or from the chain" },
};

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
		.commands = commands,
		.ncommands = ARRAY_LEN(commands),
	};

	return svc_main(argc, argv, &def);
}
