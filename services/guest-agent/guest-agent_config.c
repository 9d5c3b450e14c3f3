/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the guest agent, on top of the common ones in lib/svc. */
#include <stddef.h>

#include "guest-agent.h"

/*
 * Real hardware is the default: the simulator signs with a development PKI,
 * and an agent that silently fell back to it would hand out worthless quotes.
 */
static const char *const tee_backends[] = { "tdx", "sev-snp", "sim", NULL };

const struct conf_key guest_config_keys[] = {
	{ "tee.backend", CONF_ENUM, offsetof(struct guest_config, tee_backend), "tdx", 0, 0, tee_backends, 0,
	  "where quotes come from: tdx or sev-snp (configfs-tsm), or sim (development PKI, tests only)" },
	{ "tee.sysfs_root", CONF_PATH, offsetof(struct guest_config, tee_sysfs_root), "/sys", 0, 0, NULL, 0,
	  "root of the kernel's TEE interfaces (configfs-tsm, RTMR sysfs); tests point it at an emulated tree" },
};

const size_t guest_config_nkeys = ARRAY_LEN(guest_config_keys);
