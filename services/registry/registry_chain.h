/* SPDX-License-Identifier: Apache-2.0 */
/* The registry contracts' vocabulary (EVENTS.md): logs decoded into audit events, and the fold of events into a policy. */
#ifndef DS_REGISTRY_CHAIN_H
#define DS_REGISTRY_CHAIN_H

#include "arena.h"
#include "ethrpc.h"
#include "registry_audit.h"
#include "registry_policy.h"

/*
 * The snapshot is a pure function of the ordered event list: every policy
 * change is one event carrying its new value (EVENTS.md), and the only
 * outside fact the fold needs, whether a registered address holds the
 * registry's App code, travels inside the AppRegistered audit event as an
 * extra field "codeHash" (keccak256 of eth_getCode at the registration
 * block, "0x" for no code) that the watcher adds; it is not a log argument.
 */

/* Which contract emitted a log: the vocabularies differ. */
enum registry_emitter { REGISTRY_EMITTER_KMS = 1, REGISTRY_EMITTER_APP = 2 };

/* Parsed event signatures and the two decision functions, shared read-only. */
struct registry_chain_abi;

err_t registry_chain_abi_new(struct registry_chain_abi **out) MUST_CHECK;
void registry_chain_abi_free(struct registry_chain_abi *abi);

/* topic0 of AppRegistered (the watcher looks for it before decoding). */
const uint8_t *registry_chain_topic_app_registered(const struct registry_chain_abi *abi);

/*
 * Decode one log of a watched contract into *out (strings in `a`). The
 * block time is the timestamp of the log's block. ERR_NOT_FOUND when topic0
 * is not in the emitter's vocabulary (the caller ignores and counts it);
 * the ABI decoder's errors (ERR_PROTO_*) when the log does not decode: from
 * the registry's own code that means a lying endpoint, not a log to skip.
 * An AppRegistered event gets no codeHash here (registry_chain_set_code).
 */
err_t registry_chain_decode(const struct registry_chain_abi *abi, const struct eth_log *log, enum registry_emitter who,
			    uint64_t block_time, struct arena *a, struct registry_event *out) MUST_CHECK;

/* Add the codeHash field to a decoded AppRegistered event (code: the address's code, n == 0 for none). */
err_t registry_chain_set_code(struct registry_event *ev, const uint8_t *code, size_t n, struct arena *a) MUST_CHECK;

/* keccak256(code) equals the App runtime code hash from contracts_bytecode.h. */
int registry_chain_is_app_code(const uint8_t *code, size_t n);
/* The App runtime code hash. */
void registry_chain_app_codehash(uint8_t out[32]);

/*
 * Apply one event to the builder. `kms` is the registry contract's address
 * (events from it are KMS-wide; events from any other address are that
 * app's). ERR_PROTO_MALFORMED for an event whose fields do not have the
 * shape its kind needs (a corrupted audit file); ERR_NOMEM / ERR_BUDGET from
 * the builder. Unknown kinds (OTHER) change nothing.
 */
err_t registry_chain_apply(struct registry_state *st, const struct registry_event *ev,
			   const uint8_t kms[REGISTRY_ADDR_LEN]) MUST_CHECK;

/*
 * The calldata of KmsRegistry.isAppAllowed / isKmsAllowed for `b` (short
 * values left-padded to the ABI width, as dstack's auth-eth does), appended
 * to w. ERR_INVALID_ARG for a field longer than its width.
 */
err_t registry_chain_encode_check(const struct registry_chain_abi *abi, enum registry_kind kind,
				  const struct registry_boot_info *b, struct buf_writer *w) MUST_CHECK;
/* Decode the (bool, string) answer. The reason lives in `a`. */
err_t registry_chain_decode_answer(const struct registry_chain_abi *abi, const uint8_t *p, size_t n, struct arena *a,
				   int *allowed, const char **reason) MUST_CHECK;

#endif
