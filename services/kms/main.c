/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-kms: root keys, per-app key derivation and the RA-TLS certificate authority. */
#include "kms.h"

int main(int argc, char **argv)
{
	static const struct svc_command commands[] = {
		{ "keyholder", kms_cmd_keyholder, "the key-holder process (started by serve; not for direct use)" },
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
