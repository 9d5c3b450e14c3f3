/* SPDX-License-Identifier: Apache-2.0 */
/* dstack claims from a verified report and its event log: app/compose/instance ids, mr_system, mr_aggregated, BootInfo, report-data binding. */
#ifndef DS_ATTEST_CLAIMS_H
#define DS_ATTEST_CLAIMS_H

#include "attest.h"
#include "buf.h"
#include "eventlog.h"

#define ATTEST_APP_ID_LEN 20
#define ATTEST_INSTANCE_ID_LEN 20
#define ATTEST_HASH32_LEN 32

/* Flags for attest_claims_from_td / _from_verdict. */
enum {
	/* Also require RTMR0-2 of the JSON log's own IMR 0-2 events to match (complete GetQuote logs only;
	 * RA-TLS certificates carry stripped logs without most boot events). */
	ATTEST_CLAIMS_CHECK_BOOT_RTMRS = 1u << 0,
};

/*
 * Everything a relying party may use after verification. Byte fields are
 * raw (not hex). `has_*` says whether a field was established; fields whose
 * flag is 0 are zero. Pointers are in the arena given to the builder.
 */
struct attest_claims {
	enum attest_tee tee;
	int dev;                                  /* chained to a development root (from the verdict) */
	int has_tcb;                              /* tcb_status / advisory_ids come from a verdict */
	enum tcb_status tcb_status;
	const char **advisory_ids;
	size_t n_advisory_ids;

	/* TDX report fields */
	uint8_t mrtd[48], rtmr[4][48], mrconfigid[48], mrowner[48], mrownerconfig[48];
	uint8_t report_data[64];
	int rtmr3_verified;                       /* an event log was replayed and equals RTMR3 */
	int boot_rtmrs_verified;                  /* RTMR0-2 replayed (CCEL or complete log) and equal */
	uint8_t rtmr3_boot[48];                   /* RTMR3 replayed up to and including boot-mr-done */
	int has_rtmr3_boot;

	/* dstack identity, from runtime events before system-ready */
	uint8_t app_id[ATTEST_APP_ID_LEN];
	int has_app_id;
	uint8_t compose_hash[ATTEST_HASH32_LEN];
	int has_compose_hash;
	uint8_t instance_id[ATTEST_INSTANCE_ID_LEN];
	size_t instance_id_len;                   /* 0 when the app runs without an instance id */
	int has_instance_id;
	const uint8_t *key_provider_info;         /* the event's bytes: JSON {"name":..,"id":..} */
	size_t key_provider_info_len;
	int has_key_provider;
	const char *key_provider_name;            /* parsed from key_provider_info; NULL if not that shape */
	const char *key_provider_id;
	uint8_t os_image_hash[ATTEST_HASH32_LEN];
	int has_os_image_hash;

	/* Derived as dstack derives them */
	uint8_t mr_key_provider[ATTEST_HASH32_LEN];     /* sha256(key_provider_info), zeros when absent */
	uint8_t mr_system[ATTEST_HASH32_LEN];           /* sha256(MRTD||RTMR0||RTMR1||RTMR2||mr_key_provider) */
	uint8_t mr_aggregated[ATTEST_HASH32_LEN];       /* TDX: with the full RTMR3; SNP: sha256(measurement||host_data) */
	uint8_t mr_aggregated_boot[ATTEST_HASH32_LEN];  /* TDX: with RTMR3 truncated at boot-mr-done */
	int has_mr_aggregated_boot;
	uint8_t device_id[ATTEST_HASH32_LEN];           /* sha256(PPID) (TDX) or sha256(chip_id) (SNP) */
	int has_device_id;

	/* SEV-SNP report fields */
	uint8_t snp_measurement[48], snp_host_data[32], snp_chip_id[64];
};

/*
 * Claims from a TDX report (already verified by the caller) and its event
 * logs. `log` is dstack's JSON event log (may be NULL: then nothing is read
 * from events and RTMR3 is unverified); `boot_log` a parsed CCEL (may be
 * NULL). Checks, in order: log replay RTMR3 == report RTMR3; boot_log RTMR0-2
 * == report; with ATTEST_CLAIMS_CHECK_BOOT_RTMRS the log's RTMR0-2 == report.
 * A mismatch is ERR_ATTEST_RTMR_MISMATCH (*detail names the register).
 * Identity events must have their fixed sizes (app-id 20, compose-hash 32,
 * instance-id 0 or 20, os-image-hash 32) and appear at most once before
 * system-ready, else ERR_ATTEST_EVENT_LOG. ERR_INVALID_ARG for the flag
 * without any log. Logs and report borrowed; out's pointers into `a`.
 */
err_t attest_claims_from_td(const struct attest_td_report *td, const struct attest_eventlog *log,
			    const struct attest_eventlog *boot_log, unsigned flags, struct arena *a,
			    struct attest_claims *out, const char **detail) MUST_CHECK;

/*
 * Claims from an SNP report: measurement, host_data, chip id, device_id and
 * mr_aggregated. dstack runtime events are not hardware-measured on SNP, so
 * no identity is read from an event log here.
 */
void attest_claims_from_snp(const struct attest_snp_report *snp, struct attest_claims *out);

/*
 * Claims from a successful verdict: the report of its type (TD 1.0/1.5 or
 * SNP) as above, plus tee, dev, TCB status and advisory ids (copied into a),
 * and device_id from the PPID (TDX, when the verdict has it). A verdict whose
 * err is not ERR_OK is refused with that err; an SGX verdict is
 * ERR_ATTEST_TEE_TYPE.
 */
err_t attest_claims_from_verdict(const struct attest_verdict *v, const struct attest_eventlog *log,
				 const struct attest_eventlog *boot_log, unsigned flags, struct arena *a,
				 struct attest_claims *out, const char **detail) MUST_CHECK;

/* device_id = sha256(id) (PPID for TDX, chip_id for SNP). `id` borrowed. */
void attest_claims_set_device_id(struct attest_claims *c, const uint8_t *id, size_t len);

/*
 * dstack's BootInfo (KMS auth webhook / contract AppBootInfo). Byte fields
 * with their lengths; 0 length when the claim is absent (serialised as "").
 * Pointers borrowed from the claims.
 */
struct attest_boot_info {
	const char *tee_variant;                  /* "dstack-tdx" or "dstack-amd-sev-snp" */
	uint8_t mr_aggregated[32], os_image_hash[32], mr_system[32], app_id[20], compose_hash[32];
	uint8_t instance_id[20], device_id[32];
	size_t mr_aggregated_len, os_image_hash_len, mr_system_len, app_id_len, compose_hash_len;
	size_t instance_id_len, device_id_len;
	const uint8_t *key_provider_info;
	size_t key_provider_info_len;
	const char *tcb_status;                   /* Intel's spelling, "" without a verdict */
	const char *const *advisory_ids;
	size_t n_advisory_ids;
};

/*
 * Fill BootInfo from claims. boot_time_mr selects mr_aggregated_boot (what
 * the KMS uses for SignCert) instead of the full-replay mr_aggregated.
 */
void attest_claims_boot_info(const struct attest_claims *c, int boot_time_mr, struct attest_boot_info *out);

/*
 * BootInfo as the webhook JSON body: camelCase keys, bytes as lowercase hex
 * without 0x: teeVariant, mrAggregated, osImageHash, mrSystem, appId,
 * composeHash, instanceId, deviceId, keyProviderInfo, tcbStatus, advisoryIds.
 * Errors from w.
 */
err_t attest_boot_info_json(const struct attest_boot_info *b, struct buf_writer *w) MUST_CHECK;

/* report_data binding of an RA-TLS certificate: SHA-512("ratls-cert:" || SPKI DER). */
void attest_ratls_report_data(const uint8_t *spki_der, size_t len, uint8_t out[64]);
/* The generic tagged form SHA-512(tag || ":" || data) (tags: ratls-cert, app-data, kms-root-ca, zt-cert, ...). */
void attest_report_data_tagged(const char *tag, const void *data, size_t len, uint8_t out[64]);

#endif
