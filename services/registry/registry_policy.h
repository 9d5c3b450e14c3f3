/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's policy: a mutable builder folded from events or a file, frozen into immutable snapshots that decide boots. */
#ifndef DS_REGISTRY_POLICY_H
#define DS_REGISTRY_POLICY_H

#include "base.h"
#include "err.h"

#define REGISTRY_ADDR_LEN 20
#define REGISTRY_HASH_LEN 32
/* Caps that keep one snapshot bounded whatever governance does. */
#define REGISTRY_MAX_STR 4096            /* gateway app id, one TCB status or advisory id */
#define REGISTRY_MAX_BLOB (256u * 1024)  /* one kmsInfo field */
#define REGISTRY_MAX_ADVISORIES 256      /* advisory ids in one BootInfo (common.proto) */

/*
 * Where a snapshot's rules come from. The values equal the proto's
 * PolicySource. The decision rules differ: CHAIN follows the contracts
 * (services/registry/contracts/EVENTS.md "Decisions"), FILE follows dstack's
 * auth-simple (kms/auth-simple/index.ts), reason strings included.
 */
enum registry_source { REGISTRY_SOURCE_CHAIN = 1, REGISTRY_SOURCE_FILE = 2 };

/* Which rule set decides (the proto's BootKind). */
enum registry_kind { REGISTRY_KIND_APP = 1, REGISTRY_KIND_KMS = 2 };

/* The contracts' reason strings (EVENTS.md; dstack's DstackKms / DstackApp). */
#define REGISTRY_R_APP_NOT_REGISTERED "App not registered"
#define REGISTRY_R_OS_IMAGE "OS image is not allowed"
#define REGISTRY_R_APP_NO_CODE "App not deployed or invalid address"
#define REGISTRY_R_TCB "TCB status is not up to date"
#define REGISTRY_R_COMPOSE_HASH "Compose hash not allowed"
#define REGISTRY_R_DEVICE "Device not allowed"
#define REGISTRY_R_KMS_MR "Aggregated MR not allowed"
#define REGISTRY_R_KMS_DEVICE "KMS is not allowed to boot on this device"
/* A registered address whose code is not the registry's App: only eth_call can decide (cross-check). */
#define REGISTRY_R_APP_FOREIGN "App contract is not a registry App: decide with cross_check"
/* auth-simple's reason strings, verbatim (its casing differs from the contracts'). */
#define REGISTRY_RF_TCB "TCB status is not allowed"
#define REGISTRY_RF_ADVISORY "advisory ID is not allowed"
#define REGISTRY_RF_OS_IMAGE "OS image is not allowed"
#define REGISTRY_RF_KMS_MR "aggregated MR not allowed"
#define REGISTRY_RF_KMS_DEVICE "KMS is not allowed to boot on this device"
#define REGISTRY_RF_APP_NOT_REGISTERED "app not registered"
#define REGISTRY_RF_COMPOSE_HASH "compose hash not allowed"
#define REGISTRY_RF_DEVICE "app is not allowed to boot on this device"

/* A byte string as the request carries it; borrowed. */
struct registry_bytes {
	const uint8_t *p;
	size_t len;
};

/*
 * The boot facts (common.proto BootInfo), all borrowed from the request.
 * Lengths are as received: the chain rules left-pad short values to the ABI
 * width as dstack's auth-eth does; the file rules compare "0x"+lowercase hex
 * as auth-simple does, so a value of the wrong length never matches. Longer
 * than the ABI width (20 for addresses, 32 for hashes) is ERR_INVALID_ARG.
 */
struct registry_boot_info {
	struct registry_bytes app_id, compose_hash, instance_id, device_id, mr_aggregated, mr_system, os_image_hash;
	const char *tcb_status;           /* NUL-terminated; NULL = "" */
	const char *const *advisory_ids;  /* NUL-terminated strings */
	size_t n_advisory_ids;
};

/* App flags (struct registry_app.flags). */
#define REGISTRY_APP_REGISTERED 0x01u      /* chain: AppRegistered seen; file: listed under "apps" */
#define REGISTRY_APP_HAS_CODE 0x02u        /* chain: the address holds the registry's App code */
#define REGISTRY_APP_FOREIGN_CODE 0x04u    /* chain: the address holds other code (snapshot cannot decide) */
#define REGISTRY_APP_ANY_DEVICE 0x08u      /* allowAnyDevice */
#define REGISTRY_APP_REQUIRE_TCB 0x10u     /* requireTcbUpToDate */
#define REGISTRY_APP_UPGRADES_DISABLED 0x20u

/* One allowed compose hash: 48 bytes in a snapshot. */
struct registry_hash_entry {
	uint8_t hash[REGISTRY_HASH_LEN];
	uint64_t effective_at;     /* unix seconds; chain: 0 never matches (as the contract); file: 0 = at once */
	uint64_t added_block;      /* block of the event that added it; 0 for the file */
};

struct registry_key32 {
	uint8_t b[REGISTRY_HASH_LEN];
};

/* One app in a snapshot. Its hashes and devices are slices of the snapshot's shared arrays, sorted. */
struct registry_app {
	uint8_t id[REGISTRY_ADDR_LEN];
	uint8_t owner[REGISTRY_ADDR_LEN];   /* zero for the file */
	uint32_t flags;                     /* REGISTRY_APP_* */
	uint32_t version;                   /* App.version(); 0 for the file */
	uint64_t upgrade_delay;             /* seconds, the delay most recently set */
	uint64_t upgrade_delay_effective_at;/* when that delay applies (UpgradeDelaySet's second word) */
	uint64_t registered_block;
	uint64_t updated_block;             /* block of the latest event that touched the app */
	uint32_t hash_off, hash_n;          /* into snapshot->hashes */
	uint32_t dev_off, dev_n;            /* into snapshot->devices */
};

/* Facts about the snapshot that the policy does not derive itself. */
struct registry_snapshot_meta {
	uint64_t block_number;              /* chain: the block the snapshot reflects; file: 0 */
	uint8_t block_hash[REGISTRY_HASH_LEN];
	uint64_t block_time;                /* chain: that block's timestamp */
	uint8_t policy_sha256[32];          /* file: SHA-256 of the bytes in force */
	uint64_t loaded_at;                 /* when the snapshot was made, unix seconds */
	uint64_t events_applied;            /* chain: events folded so far */
};

/*
 * An immutable snapshot. Every array is sorted by key (apps by id; each
 * app's hash and device slice; the KMS-wide sets; advisories by strcmp)
 * so lookups are binary searches. Read-only once made by
 * registry_state_freeze; shared by reference count (a reader that keeps it
 * across an event-loop turn takes a reference).
 */
struct registry_snapshot {
	unsigned refs;
	enum registry_source source;
	struct registry_snapshot_meta meta;
	uint64_t chain_id;
	uint8_t kms_contract[REGISTRY_ADDR_LEN];
	uint8_t app_implementation[REGISTRY_ADDR_LEN];
	char *gateway_app_id;               /* never NULL ("" when unset) */
	struct registry_app *apps;
	size_t napps;
	struct registry_hash_entry *hashes;
	size_t nhashes;
	struct registry_key32 *devices;
	size_t ndevices;
	struct registry_key32 *os_images, *kms_mrs, *kms_devices;
	size_t n_os_images, n_kms_mrs, n_kms_devices;
	int kms_allow_any_device;           /* file only */
	char **tcb_statuses;                /* file: allowedTcbStatuses in file order; chain: none */
	size_t n_tcb_statuses;
	char **advisory_ids;                /* file: allowedAdvisoryIds, sorted */
	size_t n_advisory_ids;
	struct registry_bytes kms_k256_pubkey, kms_ca_pubkey, kms_quote, kms_eventlog;  /* owned copies */
	size_t mem_bytes;                   /* heap bytes held, for the memory target */
};

/* The decision: a policy answer, or (undecidable) a denial the snapshot cannot stand behind. */
struct registry_decision {
	int allowed;
	const char *reason;    /* static; "" when allowed */
	int undecidable;       /* set with REGISTRY_R_APP_FOREIGN: the caller reports an error, not a policy answer */
};

/*
 * Decide a boot against `s` (borrowed) at time `now` (unix seconds: the
 * snapshot block's timestamp for the chain, so the answer equals the
 * contract's at that block; the wall clock for the file). ERR_INVALID_ARG
 * for an unknown kind or a byte field longer than its ABI width. O(log n).
 */
err_t registry_check(const struct registry_snapshot *s, const struct registry_boot_info *b, enum registry_kind kind,
		     uint64_t now, struct registry_decision *out) MUST_CHECK;

/* Take / drop a reference. unref(NULL) is a no-op; the last unref frees. */
struct registry_snapshot *registry_snapshot_ref(struct registry_snapshot *s);
void registry_snapshot_unref(struct registry_snapshot *s);

/* The app with this id, or NULL. Borrowed from s. */
const struct registry_app *registry_snapshot_app(const struct registry_snapshot *s, const uint8_t id[REGISTRY_ADDR_LEN]);
/* A compose hash entry of `app`, or NULL. */
const struct registry_hash_entry *registry_app_hash(const struct registry_snapshot *s, const struct registry_app *app,
						    const uint8_t hash[REGISTRY_HASH_LEN]);
/* 1 when `key` is in the sorted array. */
int registry_key32_find(const struct registry_key32 *a, size_t n, const uint8_t key[REGISTRY_HASH_LEN]);

/* --- the builder --- */

struct registry_state;
struct registry_app_state;

/* An empty policy for `source`. NULL on allocation failure. Free with registry_state_free. */
struct registry_state *registry_state_new(enum registry_source source);
void registry_state_free(struct registry_state *st);
/* Heap bytes held by the builder (hash tables included). */
size_t registry_state_mem_bytes(const struct registry_state *st);

/*
 * The app with this id, created empty (no flags) on first use. *out is
 * borrowed from st. ERR_NOMEM on allocation failure.
 */
err_t registry_state_app(struct registry_state *st, const uint8_t id[REGISTRY_ADDR_LEN],
			 struct registry_app_state **out) MUST_CHECK;
/* The app, or NULL when st has never seen it. */
struct registry_app_state *registry_state_app_find(const struct registry_state *st,
						   const uint8_t id[REGISTRY_ADDR_LEN]);
/* Read the flags of an app (for the watcher: registered? our code?). */
uint32_t registry_app_state_flags(const struct registry_app_state *a);
/* Call fn for every app of st (any order); fn must not add apps. */
void registry_state_foreach_app(const struct registry_state *st,
				void (*fn)(void *arg, const uint8_t id[REGISTRY_ADDR_LEN], uint32_t flags), void *arg);

/* Every change takes the block of the event (0 for the file) and records it as the app's updated_block. */
void registry_app_set_flags(struct registry_app_state *a, uint32_t set, uint32_t clear, uint64_t block);
void registry_app_set_registered(struct registry_app_state *a, uint64_t block);
void registry_app_set_owner(struct registry_app_state *a, const uint8_t owner[REGISTRY_ADDR_LEN], uint64_t block);
void registry_app_set_version(struct registry_app_state *a, uint32_t version);
void registry_app_set_upgrade_delay(struct registry_app_state *a, uint64_t delay, uint64_t effective_at,
				    uint64_t block);
/* Add or reschedule (latest wins). ERR_NOMEM, or ERR_BUDGET past the per-state cap. */
err_t registry_app_add_compose_hash(struct registry_app_state *a, const uint8_t hash[REGISTRY_HASH_LEN],
				    uint64_t effective_at, uint64_t block) MUST_CHECK;
/* Returns 1 when it was present. */
int registry_app_remove_compose_hash(struct registry_app_state *a, const uint8_t hash[REGISTRY_HASH_LEN],
				     uint64_t block);
err_t registry_app_add_device(struct registry_app_state *a, const uint8_t dev[REGISTRY_HASH_LEN],
			      uint64_t block) MUST_CHECK;
int registry_app_remove_device(struct registry_app_state *a, const uint8_t dev[REGISTRY_HASH_LEN], uint64_t block);

/* The KMS-wide sets of 32-byte values. */
enum registry_set { REGISTRY_SET_OS_IMAGES = 0, REGISTRY_SET_KMS_MRS, REGISTRY_SET_KMS_DEVICES, REGISTRY_SET_COUNT };
err_t registry_state_set_add(struct registry_state *st, enum registry_set which,
			     const uint8_t key[REGISTRY_HASH_LEN]) MUST_CHECK;
int registry_state_set_remove(struct registry_state *st, enum registry_set which, const uint8_t key[REGISTRY_HASH_LEN]);

/* Scalars and strings (copied; longer than REGISTRY_MAX_STR / _BLOB is ERR_PROTO_TOO_LARGE). */
err_t registry_state_set_gateway_app_id(struct registry_state *st, const char *s, size_t len) MUST_CHECK;
err_t registry_state_set_kms_info(struct registry_state *st, const struct registry_bytes *k256,
				  const struct registry_bytes *ca, const struct registry_bytes *quote,
				  const struct registry_bytes *eventlog) MUST_CHECK;
void registry_state_set_chain(struct registry_state *st, uint64_t chain_id, const uint8_t kms[REGISTRY_ADDR_LEN],
			      const uint8_t app_impl[REGISTRY_ADDR_LEN]);
void registry_state_set_kms_allow_any_device(struct registry_state *st, int on);
/* File only: allowedTcbStatuses / allowedAdvisoryIds entries, appended (duplicates collapse). */
err_t registry_state_add_tcb_status(struct registry_state *st, const char *s, size_t len) MUST_CHECK;
err_t registry_state_add_advisory(struct registry_state *st, const char *s, size_t len) MUST_CHECK;

/* Cap on compose hashes + devices + set entries in one state (0 = 16 million). */
void registry_state_set_limit(struct registry_state *st, size_t max_entries);

/*
 * Make an immutable snapshot of st (st is unchanged and stays usable).
 * *out has one reference (caller unrefs). ERR_NOMEM.
 */
err_t registry_state_freeze(const struct registry_state *st, const struct registry_snapshot_meta *meta,
			    struct registry_snapshot **out) MUST_CHECK;

/* The number of apps flagged REGISTERED in s, and allowed compose hashes over them. */
size_t registry_snapshot_registered_apps(const struct registry_snapshot *s);

#endif
