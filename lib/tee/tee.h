/* SPDX-License-Identifier: Apache-2.0 */
/* One interface to a TEE backend (tdx, sev-snp, sim): quotes, dstack runtime events (RTMR3), the event log, platform info. */
#ifndef DS_TEE_H
#define DS_TEE_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "err.h"

struct sim_params;   /* sim.h */

/*
 * A struct tee is one open backend. Every function below is thread-safe on
 * the same handle except tee_close. Two locks give the guarantees callers
 * rely on:
 *
 *  - the quote lock: one quote (configfs-tsm report or simulated quote) at
 *    a time, each bounded by cfg->quote_timeout_ms;
 *  - the event lock: extending RTMR3 and appending the event to the log
 *    happen under it, together, so no reader ever sees one without the
 *    other; tee_quote_with_log takes it around the quote so the returned
 *    log replays to the quote's RTMR3.
 *
 * One struct tee per state directory: tee_open holds an exclusive flock on
 * <state_dir>/tee.lock until tee_close, so a second handle, in this process
 * or another, is refused.
 *
 * Runtime events are dstack's (reference §4.5): event type 0x08000001 on
 * RTMR3, digest V1 SHA-384(u32le(type) ":" name ":" payload) or, with
 * cfg->event_version = 2, SHA-384 of the JCS preimage. They are kept in
 * cfg->state_dir (file `tee-state.json`, mode 0600, replaced atomically with
 * fsync on every event), so a restarted process continues the same log.
 * For the hardware backends put the state directory on a tmpfs (/run): the
 * registers reset at reboot and the log must too.
 *
 * Backends (docs/lib/tee.md has the kernel ABI and versions):
 *  - "sim":     SIMULATED. Quotes signed by the development PKI of sim.h,
 *               MRTD and RTMR0-2 derived from the seed with synthetic boot
 *               events that replay to them, RTMR3 persisted in state_dir.
 *               Verifiers accept this only with the dev root configured.
 *  - "tdx":     configfs-tsm quotes (provider tdx_guest), RTMR3 extension
 *               through the TDX guest sysfs file (Linux >= 6.16), boot
 *               events from the CCEL ACPI table.
 *  - "sev-snp": configfs-tsm reports (provider sev_guest) and the host's
 *               certificate table. SEV-SNP has no RTMR: runtime events are
 *               logged (and hash-chained in software) but measure nothing.
 */

#define TEE_REPORT_DATA_LEN 64
#define TEE_MR_LEN 48
#define TEE_SIM_SEED_LEN 32   /* = SIM_SEED_LEN */

#define TEE_DEFAULT_TSM_DIR "/sys/kernel/config/tsm"
#define TEE_DEFAULT_TDX_MEASUREMENTS_DIR "/sys/devices/virtual/misc/tdx_guest/measurements"
#define TEE_DEFAULT_CCEL_PATH "/sys/firmware/acpi/tables/data/CCEL"
#define TEE_DEFAULT_QUOTE_TIMEOUT_MS 30000u
#define TEE_MAX_QUOTE_TIMEOUT_MS 600000u

/* Runtime event limits (beyond them: ERR_PROTO_TOO_LARGE). The whole log also stays within ATTEST_EVENTLOG_MAX_TEXT. */
#define TEE_MAX_RUNTIME_EVENTS 1024
#define TEE_MAX_EVENT_NAME 1024          /* bytes, = ATTEST_EVENTLOG_MAX_NAME */
#define TEE_MAX_EVENT_PAYLOAD (64 * 1024) /* bytes, = ATTEST_EVENTLOG_MAX_PAYLOAD */

/*
 * Configuration, borrowed by tee_open (strings and bytes are copied). Zero
 * the struct, then set at least `backend` and `state_dir`; NULL / 0 fields
 * take the defaults named here.
 */
struct tee_config {
	const char *backend;              /* "tdx", "sev-snp" or "sim"; required: there is no default */
	const char *state_dir;            /* runtime event log (+ sim registers); required, must exist */
	unsigned event_version;           /* digest of new runtime events: 1 (default, 0 means 1) or 2 */
	unsigned quote_timeout_ms;        /* bound on one quote, waiting for the lock included; 0 = 30 s */

	/* tdx and sev-snp */
	const char *tsm_dir;              /* configfs-tsm root; reports in <tsm_dir>/report/; default TEE_DEFAULT_TSM_DIR */

	/* tdx */
	const char *tdx_measurements_dir; /* mrtd:sha384, rtmr0..3:sha384 (read); default TEE_DEFAULT_TDX_MEASUREMENTS_DIR */
	const char *tdx_rtmr3_path;       /* written with 48-byte digests to extend RTMR3; default <measurements_dir>/rtmr3:sha384 */
	const char *ccel_path;            /* the CCEL boot log; default TEE_DEFAULT_CCEL_PATH; must exist */

	/* sim */
	const uint8_t *sim_seed;          /* TEE_SIM_SEED_LEN bytes; NULL = 00 01 02 .. 1f (ds_sim_gen's default) */
	const struct sim_params *sim_params; /* NULL = sim_params_default */
};

enum tee_platform { TEE_PLATFORM_TDX = 1, TEE_PLATFORM_SEV_SNP = 2 };

struct tee;

/*
 * Open a backend. Loads (or creates) the state in cfg->state_dir and checks
 * it: the stored log must replay to the stored registers, and (tdx, when
 * RTMR3 is readable) to the hardware RTMR3. A tdx state whose log is not
 * empty while the hardware RTMR3 is zero is from an earlier boot and is
 * discarded (logged). *out is the caller's (tee_close).
 * Errors: ERR_CONFIG (empty or unknown backend, missing state_dir, bad
 * values), ERR_UNAVAILABLE (state_dir in use by another handle or process),
 * ERR_IO_FILE / ERR_NOT_FOUND (state dir, CCEL), ERR_CONFIG_PERMS
 * (state file readable by others), ERR_PROTO_MALFORMED (state file),
 * ERR_ATTEST_EVENT_LOG (CCEL), ERR_ATTEST_RTMR_MISMATCH (state vs registers,
 * e.g. a sim state written with another seed), ERR_CRYPTO, ERR_NOMEM.
 * `detail` (may be NULL) gets static text.
 */
err_t tee_open(const struct tee_config *cfg, struct tee **out, const char **detail) MUST_CHECK;

/*
 * Close. NULL is a no-op. A configfs-tsm request still stuck in the kernel
 * after its timeout is waited for up to one more timeout, then left to
 * finish on its own (it holds no reference to `t`).
 */
void tee_close(struct tee *t);

/* ---- evidence ------------------------------------------------------------------------------- */

#define TEE_SNP_MAX_CERTS 16
#define TEE_SNP_MAX_CERT_LEN (64 * 1024)
#define TEE_SNP_MAX_TABLE_LEN (1024 * 1024)

enum tee_snp_cert_kind {
	TEE_SNP_CERT_OTHER = 0,   /* a GUID we do not know; kept, not interpreted */
	TEE_SNP_CERT_VCEK,        /* 63da758d-e664-4564-adc5-f4b93be8accd */
	TEE_SNP_CERT_VLEK,        /* a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
	TEE_SNP_CERT_ASK,         /* 4ab7b379-bbac-4fe4-a02f-05aef327c782 */
	TEE_SNP_CERT_ARK,         /* c0b406a4-a803-4952-9743-3fb6014cd0ae */
	TEE_SNP_CERT_CRL,         /* 92f81bc3-5811-4d3d-97ff-d19f88dc67ea */
};

struct tee_snp_cert {
	enum tee_snp_cert_kind kind;
	uint8_t guid[16];         /* as in the table: the GUID's text order (what uuid_parse gives) */
	const uint8_t *der;       /* view into the parsed table */
	size_t len;
};

struct tee_snp_certs {
	struct tee_snp_cert cert[TEE_SNP_MAX_CERTS];
	size_t n;                 /* in table order */
};

/*
 * Parse the SEV-SNP certificate table (GHCB spec 2.03 §4.1.8.1, the
 * configfs-tsm `auxblob` of provider sev_guest): entries of
 * {guid[16], u32le offset, u32le length} ended by an all-zero entry, then
 * the certificates, offsets from the start of the table. Strict:
 * the terminator must be there and be all zero; every entry non-empty
 * (length > 0, <= TEE_SNP_MAX_CERT_LEN), inside the blob, after the table
 * and not overlapping another; no GUID twice; at most TEE_SNP_MAX_CERTS;
 * known certificate GUIDs must hold exactly one DER SEQUENCE filling the
 * entry; every byte outside the table and the entries must be zero (the
 * host's padding). An empty blob is a table with no certificates.
 * Errors: ERR_PROTO_TRUNCATED, ERR_PROTO_TOO_LARGE, ERR_PROTO_MALFORMED,
 * with static *detail. `p` borrowed: out's views point into it.
 */
err_t tee_snp_certs_parse(const uint8_t *p, size_t len, struct tee_snp_certs *out,
			  const char **detail) MUST_CHECK;
/* The first certificate of a kind, or NULL (borrowed from c). */
const struct tee_snp_cert *tee_snp_certs_find(const struct tee_snp_certs *c, enum tee_snp_cert_kind kind);

/*
 * What a quote call returns. Everything is owned by the struct
 * (tee_evidence_free); zero it before the first use.
 */
struct tee_evidence {
	enum tee_platform platform;
	int simulated;                       /* signed by the development PKI: not hardware evidence */
	uint8_t report_data[TEE_REPORT_DATA_LEN];
	uint8_t *quote;                      /* TDX: quote v4 as the QE produced it; SNP: the 1184-byte report */
	size_t quote_len;
	uint8_t *aux;                        /* SNP: the certificate table as the kernel returned it, or NULL */
	size_t aux_len;
	struct tee_snp_certs certs;          /* SNP: parsed from aux (views into it) */
	char *event_log;                     /* tee_quote_with_log: the event log JSON, NUL-terminated */
	size_t event_log_len;
};

/* Free and zero. NULL or a zeroed struct is a no-op. */
void tee_evidence_free(struct tee_evidence *ev);

/*
 * A quote (TDX) or report (SNP) over `report_data`, exactly the 64 bytes
 * given (pad shorter data with zeros, as dstack does, before calling).
 * Serialised with every other quote on `t` and bounded by the configured
 * timeout (the wait for the lock included). configfs-tsm requests use a
 * fresh report entry and follow the kernel's generation rule: generation is
 * read before inblob is written and after outblob is read, and a count other
 * than one write means another writer raced us: the request is retried on a
 * new entry (at most 4 attempts). The outblob must parse as the provider's
 * format and carry our report data. *out is filled only on success (free it
 * with tee_evidence_free).
 * Errors: ERR_IO_TIMEOUT, ERR_UNAVAILABLE (no configfs-tsm, or generation
 * kept changing), ERR_FAILED_PRECONDITION (provider is not the backend's:
 * "tdx_guest" / "sev_guest"), ERR_IO_FILE, the dcap_quote_parse /
 * snp_report_parse errors (ERR_ATTEST_QUOTE_FORMAT, ERR_ATTEST_SNP_FORMAT,
 * ...) when the outblob is not a TD quote v4/v5 or an SNP report,
 * ERR_PROTO_* (SNP certificate table), ERR_CRYPTO / ERR_NOMEM (sim).
 */
err_t tee_quote(struct tee *t, const uint8_t report_data[TEE_REPORT_DATA_LEN], struct tee_evidence *out,
		const char **detail) MUST_CHECK;

/*
 * tee_quote plus out->event_log, the full event log (as tee_event_log_json),
 * both taken under the event lock so no runtime event can land in between.
 * On TDX and sim the quote's RTMR3 is then checked against the log's replay;
 * a difference (RTMR3 extended outside this handle) is
 * ERR_ATTEST_RTMR_MISMATCH and nothing is returned. This is what dstack's
 * GetQuote returns (quote + event_log).
 */
err_t tee_quote_with_log(struct tee *t, const uint8_t report_data[TEE_REPORT_DATA_LEN], struct tee_evidence *out,
			 const char **detail) MUST_CHECK;

/* ---- runtime events ------------------------------------------------------------------------- */

/*
 * dstack's runtime event: digest (V1, or V2 when cfg->event_version is 2)
 * of event type 0x08000001, `name` and `payload`; extend RTMR3 with it (tdx:
 * write the 48 bytes to the RTMR3 file; sim: the persisted register; SNP:
 * nothing to extend), append it to the log and persist the state, all under
 * the event lock. On tdx the pending event is written to the state file
 * before the extension and committed after it, so a crash in between is
 * resolved at the next tee_open by comparing the hardware RTMR3.
 * `name`: non-empty UTF-8 of at most TEE_MAX_EVENT_NAME bytes; with V1
 * digests it may not contain ':' (name "a:b" + payload "c" and name "a" +
 * payload "b:c" would have the same digest). `payload` (may be NULL when
 * len is 0) at most TEE_MAX_EVENT_PAYLOAD bytes. Both borrowed.
 * Errors: ERR_INVALID_ARG (name), ERR_PROTO_TOO_LARGE (payload, or the log is
 * full), ERR_IO_FILE (state or RTMR file: nothing was extended or logged,
 * except as said above for tdx), ERR_UNAVAILABLE (tdx without the RTMR3
 * file), ERR_NOMEM.
 */
err_t tee_extend_runtime_event(struct tee *t, const char *name, const uint8_t *payload, size_t len,
			       const char **detail) MUST_CHECK;

/*
 * The event log as dstack's GetQuote returns it: a JSON array of TdxEvent
 * objects {"imr","event_type","digest","event","event_payload"} (+
 * "version":2,"preimage" for V2 runtime events) — boot events first (tdx:
 * the CCEL's RTMR0-2 events, payloads dropped except RTMR0's "ACPI DATA"
 * markers; sim: the synthetic ones; SNP: none), then the runtime events with
 * digest and payload. attest_eventlog_parse_json accepts it and its replay
 * equals the registers. *out is the caller's (free()), NUL-terminated; *len
 * excludes the NUL. Errors: ERR_NOMEM.
 */
err_t tee_event_log_json(struct tee *t, char **out, size_t *len, const char **detail) MUST_CHECK;

/* ---- platform information ------------------------------------------------------------------- */

enum {
	TEE_MR_MRTD = 1u << 0,
	TEE_MR_RTMR0 = 1u << 1, /* RTMR i is bit (1 + i) */
};

struct tee_info {
	const char *backend;              /* "tdx", "sev-snp" or "sim" (static) */
	enum tee_platform platform;
	int simulated;                    /* sim: nothing here comes from hardware */
	unsigned event_version;           /* for new runtime events */
	unsigned mr_mask;                 /* TEE_MR_* bits of mrtd/rtmr that were read from the platform (sim: its state) */
	uint8_t mrtd[TEE_MR_LEN];
	uint8_t rtmr[4][TEE_MR_LEN];
	uint8_t log_rtmr[4][TEE_MR_LEN];  /* replay of the event log (boot + runtime); SNP: only [3], software */
	size_t n_boot_events;
	size_t n_runtime_events;
};

/*
 * Platform information, a snapshot taken under the event lock. tdx reads
 * the measurement files (Linux >= 6.16); an unreadable one leaves its bit
 * out of mr_mask (not an error). sim reports its MRTD and registers with
 * simulated = 1. SEV-SNP has no MRTD/RTMRs: mr_mask is 0.
 */
err_t tee_info(struct tee *t, struct tee_info *out, const char **detail) MUST_CHECK;

/* ---- sim only: what a verifier needs to accept the simulated quotes ---------------------------- */

/*
 * dcap-qvl QuoteCollateralV3 JSON for the sim PKI (sim_collateral_json with
 * sim_tcb_params_default(now): UpToDate, issued a day before `now`).
 * *out is the caller's (free()). ERR_FAILED_PRECONDITION on another backend.
 */
err_t tee_sim_collateral_json(struct tee *t, uint64_t now, char **out, size_t *len) MUST_CHECK;
/* The development root to configure as attest_trust.intel_dev_root (DER, borrowed from t). */
err_t tee_sim_dev_root_der(struct tee *t, const uint8_t **der, size_t *len) MUST_CHECK;

#endif
