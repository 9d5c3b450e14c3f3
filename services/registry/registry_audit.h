/* SPDX-License-Identifier: Apache-2.0 */
/* The governance audit trail: decoded events in (block, logIndex) order, in memory and as a JSON-lines file. */
#ifndef DS_REGISTRY_AUDIT_H
#define DS_REGISTRY_AUDIT_H

#include "buf.h"
#include "registry_policy.h"

#define REGISTRY_EVENT_MAX_FIELDS 16
#define REGISTRY_EVENT_MAX_NAME 64
#define REGISTRY_EVENT_MAX_TYPE 32
/* One field value as stored (kmsInfo quotes are long); ListEvents shows at most 4 KiB of it. */
#define REGISTRY_EVENT_MAX_VALUE (2u * REGISTRY_MAX_BLOB + 2)
#define REGISTRY_EVENT_SHOW_VALUE 4096

/* The proto's GovernanceEventKind numbers used by the C side. */
enum registry_event_kind {
	REGISTRY_EV_OTHER = 1,
	REGISTRY_EV_APP_REGISTERED = 2,
	REGISTRY_EV_APP_DEPLOYED_VIA_FACTORY = 3,
	REGISTRY_EV_KMS_INFO_SET = 4,
	REGISTRY_EV_KMS_MR_ADDED = 5,
	REGISTRY_EV_KMS_MR_REMOVED = 6,
	REGISTRY_EV_KMS_DEVICE_ADDED = 7,
	REGISTRY_EV_KMS_DEVICE_REMOVED = 8,
	REGISTRY_EV_OS_IMAGE_ADDED = 9,
	REGISTRY_EV_OS_IMAGE_REMOVED = 10,
	REGISTRY_EV_GATEWAY_APP_ID_SET = 11,
	REGISTRY_EV_APP_IMPLEMENTATION_SET = 12,
	REGISTRY_EV_POLICY_CHANGED = 13,
	REGISTRY_EV_COMPOSE_HASH_ADDED = 14,
	REGISTRY_EV_COMPOSE_HASH_REMOVED = 15,
	REGISTRY_EV_DEVICE_ADDED = 16,
	REGISTRY_EV_DEVICE_REMOVED = 17,
	REGISTRY_EV_ALLOW_ANY_DEVICE_SET = 18,
	REGISTRY_EV_TCB_REQUIREMENT_SET = 19,
	REGISTRY_EV_UPGRADE_DELAY_SET = 20,
	REGISTRY_EV_UPGRADES_DISABLED = 21,
	REGISTRY_EV_OWNERSHIP_TRANSFERRED = 22,
	REGISTRY_EV_CONTRACT_UPGRADED = 23,
	REGISTRY_EV_POLICY_FILE_LOADED = 24,
	REGISTRY_EV_KIND_MAX = 24,
};

/*
 * One decoded argument. Values are rendered as the proto's EventField says:
 * 0x-prefixed lowercase hex for bytes and addresses, decimal for integers,
 * "true"/"false", or the text.
 */
struct registry_event_field {
	const char *name;
	const char *type;
	const char *value;
	size_t value_len;
	int indexed;
};

/*
 * One governance event. In the log, every string is owned by the entry; a
 * caller building one to append lends its strings (they are copied).
 */
struct registry_event {
	int kind;                     /* enum registry_event_kind */
	const char *name;             /* Solidity event name, <= 64 bytes */
	enum registry_source source;
	int has_contract, has_app;
	uint8_t contract[REGISTRY_ADDR_LEN];   /* emitting contract */
	uint8_t app_id[REGISTRY_ADDR_LEN];     /* the app it concerns */
	uint64_t block, time;
	uint8_t block_hash[REGISTRY_HASH_LEN], tx_hash[REGISTRY_HASH_LEN];
	uint32_t log_index;
	size_t nfields;
	struct registry_event_field fields[REGISTRY_EVENT_MAX_FIELDS];
};

/* The field named `name`, or NULL. */
const struct registry_event_field *registry_event_field(const struct registry_event *ev, const char *name);

/* Events ordered by (block, log_index); optionally mirrored in an append-only JSON-lines file. */
struct registry_audit;

/* `max_events` > 0 drops the oldest beyond it (memory only; for the policy file's load history). */
struct registry_audit *registry_audit_new(size_t max_events);
void registry_audit_free(struct registry_audit *a);

/*
 * Mirror the log in `path` (borrowed): existing lines are loaded first (the
 * file is created if absent). A line that does not parse, or is out of
 * order, is ERR_PROTO_* with *detail naming the line; a torn last line
 * (no newline: a crash mid-append) is cut off. Call on an empty log.
 */
err_t registry_audit_open(struct registry_audit *a, const char *path, char *detail, size_t cap) MUST_CHECK;

/*
 * The reader behind registry_audit_open, from bytes: load the complete lines
 * of `text` (len bytes, borrowed; a file's contents) into the empty log `a`,
 * memory only. A last line without a newline is not loaded; *used gets the
 * bytes of the lines loaded (where the file is cut). Errors as
 * registry_audit_open, with `name` (borrowed) and the line number in detail;
 * on error the log is left empty.
 */
err_t registry_audit_load(struct registry_audit *a, const char *name, const char *text, size_t len, size_t *used,
			  char *detail, size_t cap) MUST_CHECK;

/*
 * Append a deep copy of ev. Its (block, log_index) must be greater than the
 * last event's (ERR_INVALID_ARG otherwise; exactly-once application depends
 * on it). With a file, the line is written (not synced: see sync).
 */
err_t registry_audit_append(struct registry_audit *a, const struct registry_event *ev) MUST_CHECK;
/*
 * Insert n events sorted by (block, log_index) whose keys are all new (a
 * key already in the log is ERR_EXISTS: nothing is applied twice). Events
 * after the last one are appended; events among the existing ones (an app
 * whose history predates its registration) make the file be rewritten
 * (temporary file, fsync, rename). All or nothing.
 */
err_t registry_audit_merge(struct registry_audit *a, const struct registry_event *evs, size_t n) MUST_CHECK;
/* fdatasync the file (no-op without one). */
err_t registry_audit_sync(struct registry_audit *a) MUST_CHECK;
/* Keep the first n events (memory and file). */
err_t registry_audit_truncate(struct registry_audit *a, size_t n) MUST_CHECK;

size_t registry_audit_count(const struct registry_audit *a);
/* Borrowed until the next append, truncate or free. */
const struct registry_event *registry_audit_at(const struct registry_audit *a, size_t i);
/* Index of the first event with (block, log_index) >= the given; count when none. */
size_t registry_audit_lower_bound(const struct registry_audit *a, uint64_t block, uint32_t log_index);

/* One event as a JSON object (no newline). */
void registry_event_to_json(const struct registry_event *ev, struct buf_writer *w);

#endif
