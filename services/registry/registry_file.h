/* SPDX-License-Identifier: Apache-2.0 */
/* The policy-file backend: an auth-simple-shaped JSON policy, parsed strictly, polled and reloaded on change. */
#ifndef DS_REGISTRY_FILE_H
#define DS_REGISTRY_FILE_H

#include <event2/event.h>

#include "metrics.h"
#include "registry_policy.h"

#define REGISTRY_FILE_MAX_SIZE (64u << 20)
#define REGISTRY_FILE_DETAIL 256

/*
 * The file format is dstack's auth-simple config (kms/auth-simple/index.ts,
 * reference §7.3):
 *
 *   {"gatewayAppId": str, "kmsContractAddr": hex20, "chainId": u64,
 *    "appImplementation": hex20, "osImages": [hex32],
 *    "allowedTcbStatuses": [str] (default ["UpToDate"]),
 *    "allowedAdvisoryIds": [str] (default []),
 *    "kms": {"mrAggregated": [hex32], "devices": [hex32], "allowAnyDevice": bool},
 *    "apps": {"<hex20>": {"composeHashes": [hex32], "devices": [hex32], "allowAnyDevice": bool}}}
 *
 * Every key is optional with auth-simple's default. Stricter than
 * auth-simple: unknown keys, wrong types, null, malformed hex or a hex value
 * of the wrong length, and an app id listed twice (after normalising case and
 * 0x) are errors. Hex may carry 0x/0X and either case.
 */

/*
 * Parse a policy document into a new builder (*out; caller frees with
 * registry_state_free). On failure *out is NULL and `detail` (cap bytes)
 * holds "<json path>: <what>", e.g. "apps.0xab..: composeHashes[2]: not
 * 32-byte hex". Errors: ERR_PROTO_JSON / ERR_PROTO_ENCODING / ERR_PROTO_DEPTH
 * (not JSON), ERR_PROTO_UNKNOWN_FIELD, ERR_PROTO_FIELD_TYPE, ERR_EXISTS
 * (duplicate app), ERR_PROTO_TOO_LARGE, ERR_NOMEM.
 */
err_t registry_file_parse(const char *text, size_t len, struct registry_state **out, char *detail,
			  size_t cap) MUST_CHECK;

/*
 * Read and parse `path` into a snapshot (*out, one reference) stamped with
 * the file's SHA-256 and `now` as loaded_at. ERR_IO_FILE when it cannot be
 * read, ERR_PROTO_TOO_LARGE past REGISTRY_FILE_MAX_SIZE, else as
 * registry_file_parse.
 */
err_t registry_file_load(const char *path, uint64_t now, struct registry_snapshot **out, char *detail,
			 size_t cap) MUST_CHECK;

/* Called with each newly loaded snapshot: one reference handed over (the callee keeps or unrefs it). */
typedef void (*registry_file_cb)(void *arg, struct registry_snapshot *snap);

/* What Status and the metrics report about the file. */
struct registry_file_status {
	uint64_t loaded_at;              /* unix seconds of the snapshot in force; 0 = none */
	uint8_t sha256[32];              /* of the bytes in force */
	uint64_t loads, errors;          /* successful loads (changes) and failed attempts */
	err_t last_error;                /* ERR_OK when the latest attempt succeeded */
	uint64_t last_error_at;
	char last_error_detail[REGISTRY_FILE_DETAIL];
};

struct registry_file;

/*
 * A watcher of `path` (borrowed, must outlive it) polled every poll_ms
 * (stat: mtime, size, inode, device). All pointers are borrowed. NULL on
 * allocation failure.
 */
struct registry_file *registry_file_new(struct event_base *base, struct metrics *m, const char *path,
					uint32_t poll_ms, registry_file_cb on_load, void *arg);
/*
 * Load once now (on_load runs on success) and start polling. A file that
 * cannot be loaded at start is an error (detail filled): the service must
 * not start with a policy it cannot read.
 */
err_t registry_file_start(struct registry_file *f, char *detail, size_t cap) MUST_CHECK;
/*
 * Check the file now. A changed file that parses replaces the snapshot
 * (on_load); one that does not keeps the previous snapshot, logs an error
 * and counts registry_policy_reloads_total{result="error"}. Returns the
 * load result (ERR_OK also when nothing changed).
 */
err_t registry_file_poll(struct registry_file *f) MUST_CHECK;
const struct registry_file_status *registry_file_status(const struct registry_file *f);
void registry_file_free(struct registry_file *f);

#endif
