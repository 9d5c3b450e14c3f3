/* SPDX-License-Identifier: Apache-2.0 */
/* The chain watcher's checkpoint file: where the snapshot is, how many audit events it covers, recent block hashes. */
#ifndef DS_REGISTRY_CHECKPOINT_H
#define DS_REGISTRY_CHECKPOINT_H

#include "buf.h"
#include "registry_policy.h"

#define REGISTRY_CHECKPOINT_MAX_SIZE (1u << 20)
/* Block hashes kept for reorg detection: never more than one header batch. */
#define REGISTRY_CHECKPOINT_MAX_RECENT 400u

struct registry_checkpoint_block {
	uint64_t number, time;
	uint8_t hash[REGISTRY_HASH_LEN];
};

/*
 * The file is one JSON object (and a newline):
 *
 *   {"version":1,"chainId":u64,"kmsContract":hex20,"startBlock":u64,"block":u64,"hash":hex32,
 *    "time":u64,"events":u64,"reorgs":u64,"lastReorgBlock":u64,
 *    "recent":[{"n":u64,"t":u64,"h":hex32}, ...]}
 *
 * `recent` is in strictly ascending block order and never above `block`.
 */
struct registry_checkpoint {
	uint64_t chain_id, start_block;
	uint8_t kms[REGISTRY_ADDR_LEN];
	uint64_t block, time;
	uint8_t hash[REGISTRY_HASH_LEN];
	uint64_t events;             /* audit events the snapshot at `block` covers */
	uint64_t reorgs, last_reorg_block;
	size_t nrecent;
	struct registry_checkpoint_block recent[REGISTRY_CHECKPOINT_MAX_RECENT];
};

/*
 * Parse a checkpoint's bytes (text, len: borrowed; need not be
 * NUL-terminated) into *out. ERR_PROTO_TOO_LARGE above
 * REGISTRY_CHECKPOINT_MAX_SIZE; ERR_PROTO_* when it is not JSON;
 * ERR_PROTO_FIELD_TYPE when a key is missing, has the wrong type or range,
 * the version is not 1, or `recent` is out of order. `detail` (cap bytes)
 * says which.
 */
err_t registry_checkpoint_parse(const char *text, size_t len, struct registry_checkpoint *out, char *detail,
				size_t cap) MUST_CHECK;

/* Append cp as the file's bytes (one line) to w; the writer's status says whether it fit. */
void registry_checkpoint_write(const struct registry_checkpoint *cp, struct buf_writer *w);

#endif
