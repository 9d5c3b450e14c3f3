/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the KMS, on top of the common ones in lib/svc. */
#include <stddef.h>

#include "kms.h"

const struct conf_key kms_config_keys[] = {
	{ "state_dir", CONF_PATH, offsetof(struct kms_config, state_dir), "/var/lib/dstack/kms", 0, 0, NULL, 0,
	  "directory of sealed root keys, key epochs and onboarding audit records" },
	{ "registry.url", CONF_STR, offsetof(struct kms_config, registry_url), "", 0, 0, NULL, 0,
	  "base URL of the registry service that authorises boots (\"\" = none: every key request is denied)" },
	{ "attest.url", CONF_STR, offsetof(struct kms_config, attest_url), "", 0, 0, NULL, 0,
	  "base URL of the attest service: collateral for client platforms not in collateral.file is fetched "
	  "from its GetCollateral (\"\" = none)" },
	{ "seal.provider", CONF_STR, offsetof(struct kms_config, seal_provider), "", 0, 0, NULL, 0,
	  "how root keys are sealed at rest: sim (SIMULATED: a key file in state_dir, development only); "
	  "\"\" = none, and then the KMS refuses to start" },
	{ "trust.dev_root", CONF_PATH, offsetof(struct kms_config, dev_root), NULL, 0, 0, NULL, 0,
	  "DEVELOPMENT ONLY: the simulator's Intel root CA (DER or PEM); simulated quotes then verify, marked dev" },
	{ "trust.dev_ark", CONF_PATH, offsetof(struct kms_config, dev_ark), NULL, 0, 0, NULL, 0,
	  "DEVELOPMENT ONLY: the simulator's AMD ARK (DER or PEM)" },
	{ "collateral.file", CONF_PATH, offsetof(struct kms_config, collateral_file), NULL, 0, 0, NULL, 0,
	  "DCAP collateral (dcap-qvl JSON, e.g. from dstack-attest's cache) verified and loaded at start" },
	{ "tee.backend", CONF_STR, offsetof(struct kms_config, tee_backend), "", 0, 0, NULL, 0,
	  "this node's TEE for its own evidence (bootstrap attestation, onboarding): tdx, sev-snp or sim "
	  "(SIMULATED); \"\" = none" },
	{ "tee.state_dir", CONF_PATH, offsetof(struct kms_config, tee_state_dir), NULL, 0, 0, NULL, 0,
	  "the TEE backend's state directory (runtime event log; sim registers), written by the guest agent" },
	{ "replica.source_url", CONF_STR, offsetof(struct kms_config, replica_source_url), "", 0, 0, NULL, 0,
	  "https URL of the KMS this replica onboarded from; epochs created or retired there are pulled" },
	{ "replica.sync_interval", CONF_MS, offsetof(struct kms_config, replica_sync_interval_ms), "1m", 1000,
	  24u * 3600 * 1000, NULL, 0, "how often a replica pulls epochs from replica.source_url" },
};

const size_t kms_config_nkeys = ARRAY_LEN(kms_config_keys);
