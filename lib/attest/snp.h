/* SPDX-License-Identifier: Apache-2.0 */
/* AMD SEV-SNP attestation reports: parser, VCEK/VLEK chain to the pinned ARK, signature, TCB and guest-policy checks. */
#ifndef DS_ATTEST_SNP_H
#define DS_ATTEST_SNP_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "attest.h"

/*
 * Everything here is pure: bytes in, verdict out. No I/O and no clock; the
 * evaluation time is a parameter. Layout and checks follow
 * shared/reference/attestation.md part B; docs/attestation.md ("SEV-SNP")
 * lists the decisions (VMPL default, product line, what is not covered).
 */

#define SNP_REPORT_SIZE 0x4A0
#define SNP_SIGNED_SIZE 0x2A0          /* the signature covers [0, 0x2A0) */
#define SNP_SIG_COMPONENT_SIZE 72      /* R and S, little-endian, zero-padded */
#define SNP_CHIP_ID_SIZE 64
#define SNP_TURIN_HWID_SIZE 8          /* Turin: the first 8 bytes of CHIP_ID */

/* Guest POLICY bits (report offset 0x008). */
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_RESERVED_ONE (1ull << 17)   /* must be 1 */
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SNP_POLICY_MBZ (~0ull << 26)           /* bits 63:26 */

#define SNP_SIGNING_KEY_VCEK 0
#define SNP_SIGNING_KEY_VLEK 1

/*
 * Parse a report of exactly SNP_REPORT_SIZE bytes into *out (a copy).
 * Rejects with ERR_ATTEST_SNP_FORMAT: another length, VERSION outside 2..5,
 * SIGNATURE_ALGO != 1, POLICY bit 17 clear or bits 63:26 set, VMPL > 3,
 * signer-info reserved bits or a SIGNING_KEY other than VCEK/VLEK, and any
 * non-zero reserved byte (including 0x330..0x49F after the signature). For
 * v3+ reports out->product comes from the CPUID fields (UNKNOWN when they are
 * zero or name no known product line); v2 reports leave it UNKNOWN. The
 * signature itself is not checked here. `p` is borrowed.
 */
err_t snp_report_parse(const uint8_t *p, size_t n, struct attest_snp_report *out) MUST_CHECK;

/* Product line from CPUID family/model (virtee Generation::identify_cpu); UNKNOWN if neither matches. */
enum attest_snp_product snp_product_from_cpuid(uint8_t family, uint8_t model);
/* "Milan", "Genoa", "Turin", or "unknown"; static. */
const char *snp_product_name(enum attest_snp_product p);
/* The product line of a VCEK productName ("Milan-B0", "Genoa-B1", "Turin"): the part before '-'. */
enum attest_snp_product snp_product_from_name(const char *s, size_t n);

/*
 * TCB_VERSION parts. Milan/Genoa bytes: [0] BL, [1] TEE, [2..5] spl4..spl7,
 * [6] SNP, [7] UCODE. Turin: [0] FMC, [1] BL, [2] TEE, [3] SNP, [4..6]
 * spl5..spl7, [7] UCODE (no spl4). Fields a layout lacks are zero.
 */
struct snp_tcb_parts {
	uint8_t fmc, bl, tee, snp, spl4, spl5, spl6, spl7, ucode;
};
void snp_tcb_decompose(uint64_t tcb, enum attest_snp_product p, struct snp_tcb_parts *out);
uint64_t snp_tcb_compose(const struct snp_tcb_parts *t, enum attest_snp_product p);

/* The AMD KDS extensions of a VCEK/VLEK certificate (OID 1.3.6.1.4.1.3704.1.*). */
enum snp_ext_bit {
	SNP_EXT_STRUCT_VERSION = 1u << 0,
	SNP_EXT_PRODUCT_NAME = 1u << 1,
	SNP_EXT_BL = 1u << 2,
	SNP_EXT_TEE = 1u << 3,
	SNP_EXT_SNP = 1u << 4,
	SNP_EXT_SPL4 = 1u << 5,
	SNP_EXT_SPL5 = 1u << 6,
	SNP_EXT_SPL6 = 1u << 7,
	SNP_EXT_SPL7 = 1u << 8,
	SNP_EXT_UCODE = 1u << 9,
	SNP_EXT_FMC = 1u << 10,
	SNP_EXT_HWID = 1u << 11,
	SNP_EXT_CSP_ID = 1u << 12,
};

#define SNP_PRODUCT_NAME_MAX 32
#define SNP_CSP_ID_MAX 128
#define SNP_HWID_RAW_MAX (SNP_CHIP_ID_SIZE + 2)

struct snp_cert_ext {
	uint32_t seen;                              /* enum snp_ext_bit */
	uint8_t struct_version;
	char product_name[SNP_PRODUCT_NAME_MAX + 1];   /* NUL-terminated, printable ASCII */
	struct snp_tcb_parts tcb;
	uint8_t hwid_raw[SNP_HWID_RAW_MAX];         /* extnValue as found: raw, or a DER OCTET STRING */
	size_t hwid_raw_len;
	char csp_id[SNP_CSP_ID_MAX + 1];
};

/*
 * Feed one certificate extension: `oid` is the DER content of the OBJECT
 * IDENTIFIER (no tag/length), `val` the extnValue octets. Extensions outside
 * the AMD arc are ignored. A malformed value or a duplicate AMD extension is
 * ERR_ATTEST_CERT_DATA. Inputs are borrowed; *e must start zeroed.
 */
err_t snp_cert_ext_add(struct snp_cert_ext *e, const uint8_t *oid, size_t oid_len, const uint8_t *val,
		       size_t val_len) MUST_CHECK;
/* Zero *e and feed it every extension of `x` (borrowed). */
err_t snp_cert_ext_from_x509(X509 *x, struct snp_cert_ext *e) MUST_CHECK;
/*
 * Check that the extensions a VCEK (vlek = 0) or VLEK (vlek = 1) of product
 * `p` needs are there (BL, TEE, SNP, UCODE, productName; FMC on Turin; hwID
 * of 64 bytes, 8 on Turin, for a VCEK; cspId and no hwID for a VLEK) and
 * that no SPL is set that the product's layout cannot hold. On success *tcb
 * is the certificate's TCB_VERSION and, for a VCEK, hwid[0..*hwid_len) its
 * hardware id. ERR_ATTEST_CERT_DATA otherwise.
 */
err_t snp_cert_ext_finish(const struct snp_cert_ext *e, enum attest_snp_product p, int vlek, uint64_t *tcb,
			  uint8_t hwid[SNP_CHIP_ID_SIZE], size_t *hwid_len) MUST_CHECK;

/* A VCEK/VLEK that chains to a trusted ARK at the evaluation time. */
struct snp_endorsement {
	EVP_PKEY *key;                  /* the leaf's P-384 public key; owned (snp_endorsement_free) */
	enum attest_snp_product product;
	int vlek;                       /* VLEK via ASVK instead of VCEK via ASK */
	int dev;                        /* the chain ends at trust->amd_dev_ark */
	uint64_t tcb;                   /* the certificate's TCB_VERSION in the product's layout */
	uint8_t hwid[SNP_CHIP_ID_SIZE]; /* VCEK only */
	size_t hwid_len;
	uint64_t not_after;             /* earliest notAfter of leaf, ASK/ASVK, ARK, and CRL nextUpdate */
	uint64_t crl_last_update;       /* 0 without a CRL */
	struct snp_cert_ext ext;
};

/*
 * Verify a VCEK (vlek = 0) or VLEK (vlek = 1) certificate (DER or PEM) up
 * to an ARK at time `now`:
 *  - chain_pem holds the ASK (ASVK for a VLEK) and optionally the ARK, in
 *    that order (KDS cert_chain). The ARK used is the pinned one of the
 *    product in `t` (DER-equal to the one in the chain, if present) or, only
 *    when `t->amd_dev_ark` is set and the chain's ARK equals it, the
 *    development ARK (out->dev = 1). Anything else: ERR_ATTEST_ROOT_UNTRUSTED.
 *  - signatures RSASSA-PSS, chain VCEK -> ASK -> ARK built and checked by
 *    OpenSSL at `now` (ERR_ATTEST_CERT_EXPIRED for validity, otherwise
 *    ERR_ATTEST_CERT_CHAIN), subject/issuer CN, O, OU, L, ST, C as AMD
 *    issues them, leaf key EC P-384.
 *  - optional CRL (DER or PEM) issued and signed by the ARK, valid at `now`,
 *    must not list the ASK (ERR_ATTEST_CRL_INVALID / _CRL_EXPIRED /
 *    _CERT_REVOKED).
 *  - product: `product` if known (from the report's CPUID or the caller),
 *    else the VCEK's productName; a productName of another line is
 *    ERR_ATTEST_PRODUCT.
 * All inputs borrowed; on success the caller frees *out with
 * snp_endorsement_free (also safe after a failure).
 */
err_t snp_endorsement_verify(const uint8_t *cert, size_t cert_len, const char *chain_pem, size_t chain_len,
			     const uint8_t *crl, size_t crl_len, enum attest_snp_product product, int vlek,
			     const struct attest_trust *t, uint64_t now, struct snp_endorsement *out,
			     const char **detail) MUST_CHECK;
void snp_endorsement_free(struct snp_endorsement *e);

/*
 * The report checks once the endorsement is verified: the ECDSA P-384 /
 * SHA-384 signature over report[0, 0x2A0) with R, S converted from 72-byte
 * little-endian (non-zero padding is a bad signature), REPORTED_TCB == the
 * certificate TCB, CHIP_ID == hwID for a VCEK (unless CHIP_ID is zero and
 * MASK_CHIP_KEY is set; Turin compares 8 bytes and requires the rest zero),
 * then the policy: DEBUG (ERR_ATTEST_DEBUG unless allow_debug), MIGRATE_MA
 * (ERR_ATTEST_SNP_POLICY unless snp_allow_migration_agent), VMPL
 * (ERR_ATTEST_SNP_VMPL: snp_max_vmpl 0 = VMPL 0 only, 1..3 = up to it,
 * negative = any), expected report data (ERR_ATTEST_REPORT_DATA) and
 * expected ATTEST_M_SNP_MEASUREMENT / ATTEST_M_SNP_HOST_DATA values
 * (ERR_ATTEST_MEASUREMENT; any other expectation kind fails closed too).
 * `report` is the n raw bytes `r` was parsed from. All borrowed.
 */
err_t snp_report_check(const uint8_t *report, size_t n, const struct attest_snp_report *r,
		       const struct snp_endorsement *e, const struct attest_policy *p, const char **detail) MUST_CHECK;

/*
 * Full verification: parse, resolve the product (CPUID for v3+, else
 * p->snp_product, else the VCEK's productName; CPUID and a conflicting hint
 * is ERR_ATTEST_PRODUCT), snp_endorsement_verify for the signer the report
 * names, snp_report_check. Fills *v (zeroed first): err, detail (static
 * text), tee = SEV_SNP, report_type = SNP, snp (with the resolved product),
 * dev, collateral_expires_at (earliest notAfter / CRL nextUpdate) and
 * collateral_issued_at (CRL lastUpdate, else 0). SEV-SNP has no TCB status:
 * v->tcb stays UpToDate with no advisories. Returns v->err.
 * `vcek` is DER or PEM; `chain_pem` the ASK/ASVK then optionally the ARK;
 * `crl` optional (NULL/0). `a` is unused today and may be NULL. All borrowed.
 */
err_t snp_verify(const uint8_t *report, size_t n, const uint8_t *vcek, size_t vcek_len, const char *chain_pem,
		 size_t chain_len, const uint8_t *crl, size_t crl_len, const struct attest_trust *t,
		 const struct attest_policy *p, uint64_t now, struct arena *a, struct attest_verdict *v) MUST_CHECK;

/*
 * The embedded production ARKs (amd_roots.c). attest_amd_ark_der returns a
 * static DER array (NULL for UNKNOWN); attest_amd_ark a new X509 the caller
 * frees with X509_free.
 */
const uint8_t *attest_amd_ark_der(enum attest_snp_product p, size_t *len);
X509 *attest_amd_ark(enum attest_snp_product p);

#endif
