/* SPDX-License-Identifier: Apache-2.0 */
/* What the tee_*.c files share: struct tee, the backend table, the state file and the configfs-tsm worker. Not a public API. */
#ifndef DS_TEE_INTERNAL_H
#define DS_TEE_INTERNAL_H

#include <pthread.h>

#include "arena.h"
#include "buf.h"
#include "eventlog.h"
#include "tee.h"

#define TEE_STATE_FILE "tee-state.json"
#define TEE_LOCK_FILE "tee.lock"
#define TEE_STATE_FORMAT "dstack-c/tee-state"
#define TEE_STATE_MAX_TEXT (ATTEST_EVENTLOG_MAX_TEXT + 64 * 1024)
#define TEE_PATH_MAX 4096

/* One runtime event as kept in memory (owned by struct tee). */
struct tee_rtevent {
	char *name;                       /* NUL-terminated, name_len bytes */
	size_t name_len;
	uint8_t *payload;                 /* may be NULL when payload_len is 0 */
	size_t payload_len;
	int version;                      /* 1 or 2 */
	uint8_t digest[TEE_MR_LEN];
};

struct tee;

struct tee_loaded;

/* What reconcile decides about the loaded state. */
enum tee_reconcile {
	TEE_KEEP = 0,           /* the loaded log is right (a pending event, if any, was not extended: drop it) */
	TEE_COMMIT_PENDING,     /* the pending event was extended: append it */
	TEE_DROP_LOG,           /* the registers were reset (new boot): start an empty log */
};

/*
 * A backend.
 *  open:      set the boot log (t->boot, t->boot_json) and t->be_state.
 *  close:     free t->be_state (may be called after a failed open).
 *  reconcile: given the loaded state (t->rt and t->rtmr3 already hold its
 *             events and their replay; `pending` is the pending event or
 *             NULL), decide what to keep. Called once, from tee_open.
 *  quote:     evidence over rd by deadline_ms (caller holds no quote lock).
 *  extend:    extend the hardware RTMR3 (tdx). NULL: there is no hardware
 *             register to extend and the state file alone is the truth.
 *  extended:  after an event was committed (under ev_lock): the new RTMR3.
 *             May be NULL.
 *  read_mrs:  fill mrtd, rtmr and mr_mask of an info (under ev_lock).
 */
struct tee_backend {
	const char *name;
	enum tee_platform platform;
	int simulated;
	err_t (*open)(struct tee *t, const struct tee_config *cfg, const char **detail);
	void (*close)(struct tee *t);
	err_t (*reconcile)(struct tee *t, const struct tee_loaded *l, const struct tee_rtevent *pending,
			   enum tee_reconcile *what, const char **detail);
	err_t (*quote)(struct tee *t, const uint8_t rd[TEE_REPORT_DATA_LEN], uint64_t deadline_ms,
		       struct tee_evidence *out, const char **detail);
	err_t (*extend)(struct tee *t, const uint8_t digest[TEE_MR_LEN], const char **detail);
	void (*extended)(struct tee *t, const uint8_t rtmr3[TEE_MR_LEN]);
	void (*read_mrs)(struct tee *t, struct tee_info *out);
};

extern const struct tee_backend tee_backend_sim;
extern const struct tee_backend tee_backend_tdx;
extern const struct tee_backend tee_backend_snp;

struct tee {
	const struct tee_backend *be;
	void *be_state;                   /* the backend's (freed by be->close) */
	unsigned event_version;
	unsigned quote_timeout_ms;
	char *state_path;                 /* <state_dir>/tee-state.json */
	int lock_fd;                      /* <state_dir>/tee.lock, flock'd for the handle's life; -1 */

	pthread_mutex_t ev_lock;          /* runtime events: extension + log + state file */
	pthread_mutex_t quote_lock;       /* in-process quotes (sim); configfs-tsm has its own slot */

	/* Boot events, set by be->open; immutable afterwards. */
	struct arena boot_arena;
	struct attest_eventlog boot;
	struct buf_writer boot_json;      /* rendered entries, comma-separated, no brackets */

	/* Runtime events (under ev_lock). */
	struct tee_rtevent *rt;
	size_t n_rt, cap_rt;
	struct buf_writer rt_json;        /* rendered entries, comma-separated, no brackets */
	uint8_t rtmr3[TEE_MR_LEN];        /* replay of rt */
};

/* ---- core helpers used by the backends ---- */

/* Deadline in mono_ms() terms for the configured quote timeout. */
uint64_t tee_deadline(const struct tee *t);
/* pthread_mutex_timedlock against a mono_ms() deadline; ERR_IO_TIMEOUT when it passes. */
err_t tee_lock_until(pthread_mutex_t *mu, uint64_t deadline_ms) MUST_CHECK;

/* "<dir>/<name>" into out (TEE_PATH_MAX); ERR_CONFIG when it does not fit. */
err_t tee_path_join(char *out, const char *dir, const char *name) MUST_CHECK;

/*
 * Render the boot events of `boot` as TdxEvent entries (comma-separated, no
 * brackets) into w, then check the result: it must parse with
 * attest_eventlog_parse_json and replay to boot->rtmr, with no event on
 * IMR 3. ERR_ATTEST_EVENT_LOG (with *detail) when the log cannot be carried
 * in dstack's JSON form, errors from w otherwise.
 */
err_t tee_boot_json(const struct attest_eventlog *boot, struct buf_writer *w, const char **detail) MUST_CHECK;

/* ---- state file (tee_state.c) ---- */

/*
 * The state file as loaded: runtime events and the pending one (at most
 * one), both as parsed logs in `a`, and the registers it recorded.
 */
struct tee_loaded {
	int exists;
	uint8_t rtmr[4][TEE_MR_LEN];
	struct attest_eventlog events;
	struct attest_eventlog pending;
	struct arena a;
};

/*
 * Read and check `path`: format, backend name, every event a valid runtime
 * event (IMR 3, type 0x08000001, digest recomputed), pending at most one,
 * the events' replay equal to the recorded RTMR3. A missing file is
 * exists = 0. Errors: ERR_CONFIG_PERMS, ERR_IO_FILE, ERR_PROTO_TOO_LARGE,
 * ERR_PROTO_MALFORMED, ERR_CONFIG (another backend's state),
 * ERR_ATTEST_RTMR_MISMATCH. Call tee_loaded_fini in every case.
 */
err_t tee_state_load(const char *path, const char *backend, struct tee_loaded *out, const char **detail) MUST_CHECK;
void tee_loaded_fini(struct tee_loaded *l);

/*
 * Write the state atomically (mode 0600, fsync): the registers (RTMR0-2 of
 * the boot log, `rtmr3`), t's runtime events followed by `entry` (a
 * rendered runtime event, or NULL) unless `entry_pending`, in which case
 * `entry` is recorded as the pending event instead. ERR_IO_FILE, ERR_NOMEM.
 */
err_t tee_state_save(const struct tee *t, const uint8_t rtmr3[TEE_MR_LEN], const char *entry, size_t entry_len,
		     int entry_pending, const char **detail) MUST_CHECK;

/* ---- configfs-tsm reports (tee_tsm.c) ---- */

struct tee_tsm;

/*
 * Validates an outblob: ERR_OK, ERR_ATTEST_REPORT_DATA when it is a report
 * over other report data (treated like a generation race: retried), any
 * other error to fail the request.
 */
typedef err_t (*tee_tsm_check_fn)(const uint8_t *blob, size_t len, const uint8_t rd[TEE_REPORT_DATA_LEN],
				  const char **detail);

/* A report slot for <tsm_dir>/report with the expected provider; refcounted (tee_tsm_release). */
err_t tee_tsm_new(const char *tsm_dir, const char *provider, struct tee_tsm **out) MUST_CHECK;
/* Drop the caller's reference, waiting up to wait_ms for a running request; the last reference frees. */
void tee_tsm_release(struct tee_tsm *s, unsigned wait_ms);

struct tee_tsm_result {
	uint8_t *out;
	size_t out_len;
	uint8_t *aux;
	size_t aux_len;
};

/*
 * One report over rd, run on a worker thread so the caller returns at
 * deadline_ms even if the kernel blocks; one request at a time per slot.
 * On success res holds malloc'd blobs (the caller frees). Errors as
 * tee_quote documents.
 */
err_t tee_tsm_report(struct tee_tsm *s, const uint8_t rd[TEE_REPORT_DATA_LEN], int want_aux, tee_tsm_check_fn check,
		     uint64_t deadline_ms, struct tee_tsm_result *res, const char **detail) MUST_CHECK;

#endif
