/* SPDX-License-Identifier: Apache-2.0 */
/* The chain backend: follows the registry contracts over JSON-RPC with confirmations, reorg rewind and a checkpoint. */
#ifndef DS_REGISTRY_WATCH_H
#define DS_REGISTRY_WATCH_H

#include <event2/event.h>

#include "metrics.h"
#include "registry_audit.h"
#include "registry_policy.h"

/*
 * The loop, one step at a time on the event loop:
 *
 *   poll     batch [eth_chainId, eth_getBlockByNumber(latest), eth_getBlockByNumber(checkpoint)]:
 *            a wrong chain id is an error (no progress, the view goes stale); a new head refreshes
 *            the staleness clock; a checkpoint block whose hash changed is a reorg.
 *   logs     eth_getLogs over (checkpoint, min(head - confirmations, checkpoint + log_range)] for the
 *            registry and every registered App; logs from any other address are ignored (counted).
 *   code     for each AppRegistered: eth_getCode (App code? keccak vs contracts_bytecode.h) and
 *            createdAtBlock(); an App's history is then backfilled from its creation block.
 *   headers  the blocks of every log plus the range ends: timestamps, log.blockHash == header.hash,
 *            header(from).parentHash == checkpoint hash (else a reorg).
 *   commit   fold the events (sorted by block, logIndex) into the policy, append them to the
 *            audit log (fdatasync), write the checkpoint (tmp + fsync + rename), publish a snapshot.
 *
 * A reorg rewinds to the newest block whose stored hash the node still has
 * (the last confirmations + 64 blocks are kept), drops the events above it
 * and refolds the policy from the remaining events: the snapshot is a pure
 * function of the ordered event list, so nothing is applied twice.
 */

struct registry_watch_config {
	const char *const *urls;        /* borrowed; 1..8 */
	size_t nurls;
	uint64_t chain_id;
	uint8_t kms[REGISTRY_ADDR_LEN];
	uint32_t confirmations;
	uint32_t poll_ms;
	uint32_t log_range;             /* blocks per eth_getLogs */
	uint64_t start_block;           /* first block to scan (the registry's deployment block) */
	const char *checkpoint_file;    /* borrowed; NULL = no persistence (full resync at start) */
	uint32_t max_staleness_ms;
	uint32_t rpc_timeout_ms;
};

/* Called with each new snapshot (one reference handed over). */
typedef void (*registry_watch_publish_fn)(void *arg, struct registry_snapshot *snap);

struct registry_watch;

/*
 * Load the checkpoint (if any) and the event log next to it
 * ("<checkpoint_file>.events", opened into `audit`, borrowed), refold and
 * publish the checkpoint's snapshot, and make the JSON-RPC client. Nothing
 * is sent until registry_watch_start. A checkpoint for another chain id,
 * registry address or start block is an error (detail filled): remove it to
 * resync. NULL on failure.
 */
struct registry_watch *registry_watch_new(struct event_base *base, struct metrics *m,
					  const struct registry_watch_config *c, struct registry_audit *audit,
					  registry_watch_publish_fn publish, void *arg, char *detail, size_t cap);
void registry_watch_start(struct registry_watch *w);
/* Cancels everything in flight (cross-check callbacks run with ERR_CANCELLED first). NULL is a no-op. */
void registry_watch_free(struct registry_watch *w);

/*
 * Stale: the newest head that the snapshot has caught up with (applied to
 * head - confirmations) was first seen more than max_staleness ago, or the
 * watcher has not caught up with any head since start. So a node that stops
 * producing blocks, an endpoint that is down, and one that answers heads but
 * fails eth_getLogs all end in the same fail-closed state. *age: seconds.
 */
int registry_watch_stale(const struct registry_watch *w, uint64_t now, uint64_t *age);
/* Not ready for another reason: the endpoint reports a wrong chain id (ERR_FAILED_PRECONDITION, static detail). */
err_t registry_watch_ready(const struct registry_watch *w, const char **detail) MUST_CHECK;

struct registry_watch_status {
	uint64_t chain_id;
	uint64_t head, head_time, last_head_seen;
	uint8_t head_hash[32];
	int have_checkpoint;
	uint64_t checkpoint, checkpoint_time;
	uint8_t checkpoint_hash[32];
	uint64_t events_applied, reorgs, last_reorg_block, ignored_logs;
	err_t last_error;                  /* ERR_OK when the last step succeeded */
	char last_error_detail[256];
	uint64_t last_error_at;
};
void registry_watch_get_status(const struct registry_watch *w, struct registry_watch_status *out);

struct registry_watch_endpoint {
	const char *url;                   /* borrowed from the config */
	int healthy, active;
	uint64_t last_ok, last_error_at, head;
	err_t last_error;
	const char *last_error_detail;     /* borrowed; "" if none */
	unsigned consecutive_failures;
	uint32_t latency_ms;
};
size_t registry_watch_endpoint_count(const struct registry_watch *w);
void registry_watch_get_endpoint(const struct registry_watch *w, size_t i, struct registry_watch_endpoint *out);

/*
 * Cross-check: eth_call KmsRegistry.isAppAllowed / isKmsAllowed for `b`
 * (copied) at the block with `block_hash` (EIP-1898). cb runs exactly once
 * from the loop: err ERR_OK with the contract's answer (reason borrowed for
 * the callback), or an error and a detail. ERR_* only if nothing started.
 */
typedef void (*registry_watch_check_cb)(void *arg, err_t err, const char *detail, int allowed, const char *reason);
err_t registry_watch_cross_check(struct registry_watch *w, enum registry_kind kind, const struct registry_boot_info *b,
				 const uint8_t block_hash[32], registry_watch_check_cb cb, void *arg) MUST_CHECK;

#endif
