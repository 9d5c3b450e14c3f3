/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-attest's extra subcommands: verify, inspect (attest_cli.c) and the dev-only sim-quote (attest_cli_sim.c). */
#ifndef DS_ATTEST_CLI_H
#define DS_ATTEST_CLI_H

#include "svc.h"

/* Exit codes of `verify` (inspect and sim-quote use 0 and 2 only). Documented in `verify --help`. */
#define CLI_ACCEPTED 0      /* every check passed and the policy accepted the evidence */
#define CLI_REJECTED 1      /* verification or policy rejected it (the verdict JSON says which check) */
#define CLI_INVALID 2       /* invalid input or usage: unreadable files, not evidence, bad options */
#define CLI_NO_VERDICT 3    /* no verdict could be reached (collateral upstream unavailable, out of memory) */

/* svc_command handlers; argv[0] is the command name. Return the exit code. */
int attest_cmd_verify(int argc, char **argv, const struct svc_def *def);
int attest_cmd_inspect(int argc, char **argv, const struct svc_def *def);
/* DEVELOPMENT ONLY: a TDX quote, collateral and dev root from the simulator's deterministic PKI. */
int attest_cmd_sim_quote(int argc, char **argv, const struct svc_def *def);

#endif
