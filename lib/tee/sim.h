/* SPDX-License-Identifier: Apache-2.0 */
/* The `sim` TEE backend: a deterministic development PKI that signs byte-exact TDX quotes, SEV-SNP reports and their collateral. */
#ifndef DS_TEE_SIM_H
#define DS_TEE_SIM_H

#include "attest.h"
#include "base.h"
#include "err.h"

/*
 * Everything here is development material. The private keys follow from a
 * 32-byte seed that is not secret in practice (tests and dev images print
 * it), so a verifier must accept this PKI only when it is explicitly
 * configured with the dev roots (struct attest_trust.intel_dev_root /
 * amd_dev_ark), and must then mark its verdicts `dev`.
 *
 * Determinism: the same seed and parameters give the same bytes, on every
 * machine and OpenSSL version. Keys are derived as in dstack's
 * mock-attestation crate:
 *   P-256 scalar = SHA-256("dstack-mock-p256-v1" || seed || label || u32be counter)
 *   P-384 scalar = SHA-384("dstack-mock-p384-v1" || seed || label || u32be counter)
 * (the first counter giving a scalar in [1, n-1]); ECDSA nonces are RFC 6979;
 * certificates and CRLs are DER we write ourselves. The AMD ARK/ASK are
 * RSA-4096 keys with four 1024-bit primes (RFC 8017 multi-prime) found by a
 * deterministic search from the seed, and sign with RSASSA-PSS SHA-384 /
 * MGF1-SHA-384 / salt 48 (salt derived from the message); see sim_pki.c.
 *
 * Names: every subject carries O = "DEVELOPMENT ONLY - dstack-c simulator"
 * and the Intel root is CN "Development SGX Root CA". The CNs that
 * verifiers interpret (Intel SGX PCK Certificate / PCK Platform CA / PCK
 * Processor CA / TCB Signing) keep Intel's spelling. AMD certificates keep
 * AMD's exact six-attribute names (verifiers compare CN/O/OU/L/ST/C and
 * nothing else may be there) and carry the DEVELOPMENT marker in a
 * non-critical Netscape-comment extension (2.16.840.1.113730.1.13) instead.
 *
 * A struct sim_pki is not thread-safe: the AMD keys are generated on first use.
 */

#define SIM_SEED_LEN 32
#define SIM_SNP_REPORT_LEN 0x4A0

enum sim_snp_product { SIM_SNP_MILAN = 0, SIM_SNP_GENOA, SIM_SNP_TURIN };

/* Parameters of the PKI and of the simulated platform. Start from sim_params_default. */
struct sim_params {
	uint64_t not_before;        /* validity of every certificate, unix seconds */
	uint64_t not_after;
	uint64_t crl_this_update;   /* both Intel CRLs */
	uint64_t crl_next_update;
	uint8_t fmspc[6];
	uint8_t pceid[2];
	uint8_t cpusvn[16];         /* PCK TCB components 1..16 (the extension's CPUSVN and the QE report's) */
	uint16_t pcesvn;
	uint8_t tee_tcb_svn[16];    /* the platform's TDX TCB: quote default and TCB info levels */
	uint16_t qe_isvsvn;
	int pck_ca_processor;       /* issue the PCK leaf from "Intel SGX PCK Processor CA" (else Platform CA) */
	int revoke_pck_leaf;        /* list the PCK leaf's serial in the PCK CRL */
	int revoke_tcb_signing;     /* list the TCB Signing certificate's serial in the root CA CRL */
	int revoke_pck_ca;          /* list the PCK CA's serial in the root CA CRL */
	int root_crl_critical;      /* mark the root CA CRL's CRL Number critical (an extension OpenSSL does not handle) */
	/* SEV-SNP platform: the VCEK is issued for this TCB. */
	enum sim_snp_product snp_product;
	uint8_t snp_bl_spl, snp_tee_spl, snp_snp_spl, snp_ucode_spl, snp_fmc_spl; /* fmc: Turin only */
};

/*
 * Defaults: certificates and CRLs valid 2025-01-01T00:00:00Z ..
 * 2049-12-31T23:59:59Z, FMSPC B0C06F000000, PCE-ID 0000, CPUSVN
 * 03 03 02 02 04 01 00 05 00.., PCESVN 11, TEE_TCB_SVN 06 01 03 00..,
 * QE ISVSVN 6, Platform CA, Milan with bl 3 / tee 0 / snp 8 / ucode 115.
 */
void sim_params_default(struct sim_params *p);

struct sim_pki;

/*
 * Build the Intel side of the PKI (keys, certificates, CRLs, PCK chain);
 * the AMD side is built on first use. `p` NULL means defaults; it is copied.
 * *out is the caller's (sim_pki_free). ERR_INVALID_ARG for inconsistent
 * parameters (e.g. not_after <= not_before), ERR_CRYPTO or ERR_NOMEM.
 */
err_t sim_pki_new(const uint8_t seed[SIM_SEED_LEN], const struct sim_params *p, struct sim_pki **out) MUST_CHECK;
/* Wipes the private keys. NULL is a no-op. */
void sim_pki_free(struct sim_pki *pki);
/* The parameters in use (borrowed). */
const struct sim_params *sim_pki_params(const struct sim_pki *pki);

enum sim_cert {
	SIM_CERT_ROOT = 0,      /* Development SGX Root CA (self-signed, P-256) */
	SIM_CERT_PCK_CA,        /* Intel SGX PCK Platform CA / Processor CA */
	SIM_CERT_PCK_LEAF,      /* Intel SGX PCK Certificate, with the SGX extension */
	SIM_CERT_TCB_SIGNING,   /* Intel SGX TCB Signing */
	SIM_CERT_ARK,           /* ARK-<product> (RSA-4096, self-signed, PSS) */
	SIM_CERT_ASK,           /* SEV-<product> */
	SIM_CERT_VCEK,          /* SEV-VCEK (P-384) with the AMD TCB extensions */
	SIM_CERT_COUNT
};

/*
 * DER of one certificate, borrowed from the PKI (valid until sim_pki_free).
 * The AMD ones are generated on first call (~0.2 s), hence the non-const pki.
 */
err_t sim_cert_der(struct sim_pki *pki, enum sim_cert which, const uint8_t **der, size_t *len) MUST_CHECK;
/* The development Intel root, the anchor to configure as attest_trust.intel_dev_root (borrowed). */
void sim_dev_root_der(const struct sim_pki *pki, const uint8_t **der, size_t *len);

enum sim_crl { SIM_CRL_ROOT = 0, SIM_CRL_PCK };
/* DER of the root CA CRL (signed by the root) or the PCK CRL (signed by the PCK CA); borrowed. */
void sim_crl_der(const struct sim_pki *pki, enum sim_crl which, const uint8_t **der, size_t *len);

/* The PEM chain as it sits in a quote's certification data type 5: PCK leaf, PCK CA, root, then a NUL (borrowed; len counts the NUL). */
void sim_pck_chain_pem(const struct sim_pki *pki, const char **pem, size_t *len);

/* ---- TDX quotes ---------------------------------------------------------------- */

/*
 * A TD report with the PKI's platform values: TEE_TCB_SVN from the params,
 * an MRSEAM derived from the seed, MRSIGNERSEAM and SEAMATTRIBUTES zero,
 * TDATTRIBUTES with only SEPT_VE_DISABLE (bit 28), XFAM 0x602e7, every
 * measurement and the report data zero. Callers then set what they need.
 */
void sim_td_report_default(const struct sim_pki *pki, struct attest_td_report *td);

/*
 * A TDX quote v4 (TD report 1.0 body) over `td`: Intel QE vendor id, TEE
 * type 0x81, ECDSA P-256 attestation key, QE report certified by the PCK
 * leaf, certification data 6 -> 5 with sim_pck_chain_pem. No trailing
 * padding. *out is the caller's (free()).
 */
err_t sim_tdx_quote(const struct sim_pki *pki, const struct attest_td_report *td, uint8_t **out, size_t *len) MUST_CHECK;

/* The attestation key of the simulated QE, x||y (for tests). */
void sim_qe_attestation_key(const struct sim_pki *pki, uint8_t xy[64]);

/* ---- Intel collateral ------------------------------------------------------------ */

/*
 * What the signed TCB Info (TDX, v3) and QE Identity (TD_QE, v2) say. The
 * PKI's platform (PCK components, PCESVN, TEE_TCB_SVN, QE ISVSVN) lands on
 * a level whose status is given here; when that status is not UpToDate a
 * higher UpToDate level is listed above it, as after a TCB recovery.
 */
struct sim_tcb_params {
	uint64_t tcb_issue_date;             /* TCB info issueDate / nextUpdate, unix seconds */
	uint64_t tcb_next_update;
	uint64_t qe_issue_date;              /* QE identity; 0 = same as the TCB info */
	uint64_t qe_next_update;
	uint32_t tcb_eval_number;
	enum tcb_status platform_status;     /* status of the level the platform matches */
	const char *const *advisory_ids;     /* on that level (borrowed), e.g. "INTEL-SA-00837" */
	size_t n_advisory_ids;
	enum tcb_status module_status;       /* TDX module identity level (UpToDate / OutOfDate / Revoked) */
	enum tcb_status qe_status;           /* QE identity level */
	int no_matching_level;               /* list only levels above the platform */
};

/* UpToDate everywhere, issued at now - 1 day, next update now + 30 days, evaluation number 17. */
void sim_tcb_params_default(struct sim_tcb_params *t, uint64_t now);

/* Collateral in its parts, all owned by the struct (sim_collateral_free). */
struct sim_collateral {
	char *tcb_info;                      /* the exact signed JSON object */
	size_t tcb_info_len;
	char tcb_info_signature[129];        /* 64-byte r||s, lowercase hex */
	char *qe_identity;
	size_t qe_identity_len;
	char qe_identity_signature[129];
	char *tcb_info_issuer_chain;         /* PEM: TCB Signing, root (also the QE identity's issuer chain) */
	char *pck_crl_issuer_chain;          /* PEM: PCK CA, root */
	uint8_t *root_ca_crl;                /* DER */
	size_t root_ca_crl_len;
	uint8_t *pck_crl;                    /* DER */
	size_t pck_crl_len;
	/* PCS v4 response bodies: {"tcbInfo":<tcb_info>,"signature":"..."} and {"enclaveIdentity":...,"signature":"..."}. */
	char *tcb_info_response;
	char *qe_identity_response;
};

err_t sim_collateral_build(const struct sim_pki *pki, const struct sim_tcb_params *t, struct sim_collateral *out) MUST_CHECK;
void sim_collateral_free(struct sim_collateral *c);

/*
 * dcap-qvl's QuoteCollateralV3 JSON (pck_crl_issuer_chain, root_ca_crl and
 * pck_crl as hex DER, tcb_info_issuer_chain, tcb_info, tcb_info_signature,
 * qe_identity_issuer_chain, qe_identity, qe_identity_signature), the format
 * of shared/testdata/attestation/dcap-qvl/tdx_quote_collateral.json. *out is the
 * caller's (free()), NUL-terminated; *len excludes the NUL.
 */
err_t sim_collateral_json(const struct sim_pki *pki, const struct sim_tcb_params *t, char **out, size_t *len) MUST_CHECK;

/* ---- SEV-SNP ------------------------------------------------------------------------ */

/*
 * Defaults: version 5, policy 0x30000 (SMT allowed + reserved bit 17), VMPL 0,
 * signature algorithm 1, every TCB equal to the VCEK's, platform info 0x25,
 * CHIP_ID derived from the seed (Turin: 8-byte HWID, rest zero), REPORT_ID
 * derived, REPORT_ID_MA all 0xff, firmware 1.55 build 35 (current and
 * committed), the product's CPUID, everything else zero.
 */
void sim_snp_report_default(const struct sim_pki *pki, struct attest_snp_report *r);

/*
 * A SEV-SNP report (version 2..5) in out (1184 bytes), signed by the VCEK.
 * Written from r: every field of the layout, with the signer-info word built
 * from author_key_en, mask_chip_key and signing_key (signer_info and product
 * are ignored); CPUID only for v3+, mitigation vectors only for v5; CHIP_ID
 * zero when mask_chip_key is set. ERR_INVALID_ARG for another version.
 */
err_t sim_snp_report(const struct sim_pki *pki, const struct attest_snp_report *r, uint8_t out[SIM_SNP_REPORT_LEN]) MUST_CHECK;
/* PEM of ASK then ARK, as AMD KDS serves /vcek/v1/<product>/cert_chain. *pem is the caller's (free()), NUL-terminated. */
err_t sim_amd_chain(struct sim_pki *pki, char **pem, size_t *len) MUST_CHECK;

/* The TCB_VERSION of the VCEK in the product's byte layout (for tests and report defaults). */
uint64_t sim_snp_vcek_tcb(const struct sim_pki *pki);

#endif
