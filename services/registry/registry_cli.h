/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-registry's operator subcommands: deploy the contracts, govern apps and the KMS, show the audit trail. */
#ifndef DS_REGISTRY_CLI_H
#define DS_REGISTRY_CLI_H

#include "svc.h"

/* Exit codes: 0 done, 1 the chain or the registry refused or failed, 2 usage. */
#define REGISTRY_CLI_OK 0
#define REGISTRY_CLI_FAILED 1
#define REGISTRY_CLI_USAGE 2

/*
 * One handler serves every transaction command (argv[0] says which; see the
 * table in registry_cli.c); `events` reads the trail from a running registry
 * (ListEvents) or straight from the chain. Output is JSON on stdout.
 */
int registry_cmd_tx(int argc, char **argv, const struct svc_def *def);
int registry_cmd_events(int argc, char **argv, const struct svc_def *def);

#endif
