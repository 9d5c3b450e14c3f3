/* SPDX-License-Identifier: Apache-2.0 */
/* Types shared by the verifiers: TCB statuses, policy, trust anchors, the verdict and dstack claims. Pure: no I/O. */
#ifndef DS_ATTEST_H
#define DS_ATTEST_H

#include <openssl/x509.h>
#include "arena.h"
#include "base.h"
#include "err.h"

enum attest_tee { ATTEST_TEE_UNKNOWN = 0, ATTEST_TEE_SGX, ATTEST_TEE_TDX, ATTEST_TEE_SEV_SNP };

/*
 * TCB statuses in dcap-qvl's severity order (the merge takes the worst).
 * The two TD-relaunch statuses only come out of the Intel TCB mode.
 */
enum tcb_status {
	TCB_UP_TO_DATE = 0,
	TCB_SW_HARDENING_NEEDED,
	TCB_CONFIGURATION_NEEDED,
	TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	TCB_OUT_OF_DATE,
	TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	TCB_REVOKED,
	TCB_TD_RELAUNCH_ADVISED,
	TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
	TCB_STATUS_COUNT
};

/* Intel's spelling ("UpToDate", "OutOfDateConfigurationNeeded", "TDRelaunchAdvised"). */
const char *tcb_status_name(enum tcb_status s);
/* -1 for anything not in the list: unknown statuses are rejected, never guessed. */
int tcb_status_parse(const char *s, size_t len);

/* How the TDX TCB level is matched (see docs/attestation.md). */
enum attest_tcb_mode {
	ATTEST_TCB_DCAP_QVL = 0,  /* dcap-qvl HEAD: all 16 TDX components, worst-severity merge */
	ATTEST_TCB_INTEL,         /* Intel QVL: components 2..15 when TEE_TCB_SVN[1] > 0, status convergence */
};

#define ATTEST_MAX_ADVISORIES 64
#define ATTEST_MAX_EXPECTED 8

/* One expected measurement: which register (by name) and its value. */
enum attest_measure {
	ATTEST_M_MRTD = 1, ATTEST_M_RTMR0, ATTEST_M_RTMR1, ATTEST_M_RTMR2, ATTEST_M_RTMR3,
	ATTEST_M_MRCONFIGID, ATTEST_M_SNP_MEASUREMENT, ATTEST_M_SNP_HOST_DATA, ATTEST_M_MRENCLAVE,
	ATTEST_M_MRSIGNER,
};

struct attest_expected {
	enum attest_measure which;
	uint8_t value[48];
	size_t len;
};

/*
 * The relying party's policy. A zeroed struct is the strict default:
 * UpToDate only, no advisories allowed, no debug, no collateral age limit,
 * no expectations, dcap-qvl TCB mode.
 */
struct attest_policy {
	uint32_t accepted_statuses;               /* bit (1u << tcb_status); 0 = UpToDate only */
	const char *const *allowed_advisories;    /* borrowed */
	size_t n_allowed_advisories;
	int allow_any_advisory;                   /* skip the advisory check (the status check still applies) */
	uint32_t min_tcb_eval_number;             /* 0 = any */
	uint64_t max_collateral_age_s;            /* now - issueDate of TCB info / QE identity; 0 = no limit */
	int allow_debug;
	int allow_service_td;                     /* TD 1.5 with a non-zero MRSERVICETD */
	const uint8_t *expected_report_data;      /* 64 bytes, or NULL */
	struct attest_expected expected[ATTEST_MAX_EXPECTED];
	size_t n_expected;
	enum attest_tcb_mode tcb_mode;
	/* SEV-SNP */
	int snp_allow_migration_agent;
	int snp_max_vmpl;                         /* accept VMPL <= this; -1 = any; 0 = default strict */
	int snp_product;                          /* enum attest_snp_product for v2 reports (no CPUID); 0 = from the VCEK */
};

/*
 * Trust anchors. The verifier accepts a chain only if it ends in one of
 * these (by DER equality); dev roots make every verdict they touch `dev`.
 * All borrowed.
 */
struct attest_trust {
	X509 *intel_root;            /* Intel SGX Root CA */
	X509 *intel_dev_root;        /* the simulator's development root, or NULL (the default) */
	X509 *amd_ark[4];            /* ARK per product: [0] Milan, [1] Genoa, [2] Turin, [3] unused */
	X509 *amd_dev_ark;           /* the simulator's development ARK, or NULL */
};

/*
 * The pinned Intel SGX Root CA and AMD ARKs (Milan, Genoa, Turin), plus the
 * simulator's development roots only when a path is given (DER or PEM, at
 * most 64 KiB; ERR_CONFIG with a static *detail). Read once at start (the
 * only file access in lib/attest). Free with attest_trust_free.
 */
err_t attest_trust_load(struct attest_trust *t, const char *dev_root_path, const char *dev_ark_path,
			const char **detail) MUST_CHECK;
void attest_trust_free(struct attest_trust *t);

enum attest_snp_product { SNP_PRODUCT_UNKNOWN = 0, SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA, SNP_PRODUCT_TURIN };

/* One status with its advisory IDs (strings in the verdict's arena). */
struct attest_tcb_level {
	enum tcb_status status;
	const char **advisory_ids;
	size_t n_advisory_ids;
};

enum attest_report_type { ATTEST_REPORT_NONE = 0, ATTEST_REPORT_SGX, ATTEST_REPORT_TD10, ATTEST_REPORT_TD15,
			  ATTEST_REPORT_SNP };

/* The hardware report's fields (a copy, not a view). */
struct attest_td_report {
	uint8_t tee_tcb_svn[16], mrseam[48], mrsignerseam[48], seam_attributes[8], td_attributes[8], xfam[8];
	uint8_t mrtd[48], mrconfigid[48], mrowner[48], mrownerconfig[48], rtmr[4][48], report_data[64];
	uint8_t tee_tcb_svn2[16], mrservicetd[48]; /* TD 1.5 only */
};

struct attest_sgx_report {
	uint8_t cpusvn[16], attributes[16], mrenclave[32], mrsigner[32], report_data[64];
	uint32_t miscselect;
	uint16_t isvprodid, isvsvn;
};

struct attest_snp_report {
	uint32_t version, guest_svn, vmpl, signature_algo;
	uint64_t policy, current_tcb, reported_tcb, committed_tcb, launch_tcb, platform_info;
	uint8_t family_id[16], image_id[16], report_data[64], measurement[48], host_data[32];
	uint8_t id_key_digest[48], author_key_digest[48], report_id[32], report_id_ma[32], chip_id[64];
	uint8_t signing_key;                      /* 0 VCEK, 1 VLEK */
	enum attest_snp_product product;
	uint32_t signer_info;                     /* raw 0x48: AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY */
	uint8_t author_key_en, mask_chip_key;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;  /* v3+; zero in v2 */
	uint8_t current_build, current_minor, current_major, committed_build, committed_minor, committed_major;
	uint64_t launch_mit_vector, current_mit_vector;  /* v5; zero before */
};

/*
 * The result of a verification. `err` is ERR_OK when the evidence was
 * accepted by the checks and the policy, or the code of the first check that
 * failed with `detail` saying more (static or arena text, never evidence
 * bytes). Fields are filled as far as verification got.
 */
struct attest_verdict {
	err_t err;
	const char *detail;
	enum attest_tee tee;
	int dev;                                  /* chained to a development root */
	struct attest_tcb_level tcb;              /* merged */
	struct attest_tcb_level platform, qe, module;
	uint32_t tcb_eval_number;
	uint64_t collateral_expires_at;           /* earliest nextUpdate / notAfter involved, unix s */
	uint64_t collateral_issued_at;            /* oldest issueDate involved, unix s */
	uint8_t fmspc[6], pceid[2], ppid[16];
	int has_ppid;
	int pck_ca_platform;                      /* 1 = Platform CA, 0 = Processor CA */
	enum attest_report_type report_type;
	struct attest_td_report td;
	struct attest_sgx_report sgx;
	struct attest_snp_report snp;
};

/* Human-readable verdict summary helpers. */
const char *attest_tee_name(enum attest_tee t);
const char *attest_report_type_name(enum attest_report_type t);

#endif
