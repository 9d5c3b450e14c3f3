/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-kms: root keys, per-app key derivation and the RA-TLS certificate authority. */
#include "kms.h"

int main(int argc, char **argv)
{
	static const struct svc_command commands[] = {
		{ "keyholder", kms_cmd_keyholder, "the key-holder process (started by serve; not for direct use)" },
		{ "status", kms_cli_main, "state, epochs and counters of a running KMS (admin)" },
		{ "bootstrap", kms_cli_main, "generate root keys in this TEE: bootstrap --domain NAME" },
		{ "onboard", kms_cli_main, "become a replica: onboard --source https://HOST:PORT" },
		{ "rotate", kms_cli_main, "start a new key epoch: rotate [--reason TEXT]" },
		{ "retire", kms_cli_main, "erase an old epoch's root keys: retire --epoch N" },
		{ "epochs", kms_cli_main, "list key epochs" },
		{ "audit", kms_cli_main, "the log of root-material movements" },
		{ "export-shares", kms_cli_main, "t-of-n shares for custodians: export-shares --threshold T --custodian N=PUB ..." },
		{ "recovery-key", kms_cli_main, "a fresh KMS's recovery key for custodians to re-encrypt to" },
		{ "recover", kms_cli_main, "rebuild root keys from shares: recover --set DIR --share F ..." },
		{ "custodian", kms_cli_main, "custodian tools: custodian keygen | reencrypt" },
	};
	const struct svc_def def = {
		.name = "kms",
		.binary = "dstack-kms",
		.default_config = "/etc/dstack/kms.conf",
		.keys = kms_config_keys,
		.nkeys = kms_config_nkeys,
		.config_size = sizeof(struct kms_config),
		.init = kms_init,
		.fini = kms_fini,
		.commands = commands,
		.ncommands = ARRAY_LEN(commands),
	};

	return svc_main(argc, argv, &def);
}
