/* SPDX-License-Identifier: Apache-2.0 */
/* Intel DCAP (SGX quote v3, TDX quote v4/v5): quote parser, collateral, PCK extension, verifier and caches. Pure. */
#ifndef DS_ATTEST_DCAP_H
#define DS_ATTEST_DCAP_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "attest.h"

/*
 * Everything here is pure: bytes, collateral and `now` (unix seconds) in,
 * verdict out. No I/O, no clock, no globals. Formats and the algorithm are
 * shared/reference/attestation.md part A; docs/attestation.md ("DCAP")
 * lists where we differ from dcap-qvl and why.
 *
 * Two phases, so callers can cache the expensive one:
 *   1. dcap_vcoll_new: parse and verify the collateral (TCB info, QE
 *      identity, CRLs and every issuer chain) once; the result is
 *      immutable and independent of `now` (validity windows are recorded
 *      and checked per quote).
 *   2. dcap_verify_quote: per-quote work against a verified collateral,
 *      optionally with a dcap_cache that remembers platforms whose
 *      certification data (PCK chain, QE report and its signature) already
 *      verified, so a known platform costs one P-256 verification.
 * dcap_verify does both for one-shot callers.
 */

#define DCAP_QUOTE_MAX (256u * 1024)     /* hard cap on a quote buffer, trailing bytes included */
#define DCAP_HEADER_LEN 48
#define DCAP_SGX_REPORT_LEN 384
#define DCAP_TD10_REPORT_LEN 584
#define DCAP_TD15_REPORT_LEN 648
#define DCAP_TEE_SGX 0x00000000u
#define DCAP_TEE_TDX 0x00000081u
#define DCAP_KEY_TYPE_P256 2

/* Certification data types (Intel "QE Certification Data"). */
enum dcap_cert_type {
	DCAP_CERT_PPID_PLAIN = 1,
	DCAP_CERT_PPID_RSA2048 = 2,
	DCAP_CERT_PPID_RSA3072 = 3,
	DCAP_CERT_PCK_LEAF = 4,
	DCAP_CERT_PCK_CHAIN = 5,
	DCAP_CERT_QE_REPORT = 6,
	DCAP_CERT_PLATFORM_MANIFEST = 7,
};

enum dcap_body_type { DCAP_BODY_SGX = 1, DCAP_BODY_TD10 = 2, DCAP_BODY_TD15 = 3 };

/*
 * A parsed quote: every pointer is a view into the caller's buffer (borrowed;
 * valid while it is). Lengths of fixed fields are the DCAP_* constants or
 * 16/20/64/384 as documented in the reference.
 */
struct dcap_quote {
	uint16_t version;
	uint16_t key_type;
	uint32_t tee_type;
	uint16_t qe_svn, pce_svn;           /* v3 only; reserved in v4+ */
	const uint8_t *qe_vendor_id;        /* 16 */
	const uint8_t *user_data;           /* 20 */
	enum dcap_body_type body_type;
	const uint8_t *body;
	size_t body_len;
	size_t signed_len;                  /* the quote signature covers [0, signed_len) */
	const uint8_t *sig_data;            /* sig_data_len bytes after the u32 length */
	uint32_t sig_data_len;
	const uint8_t *signature;           /* 64: r||s over the signed region */
	const uint8_t *att_key;             /* 64: x||y */
	uint16_t outer_cert_type;           /* v4/v5: 6; v3: 0 (no wrapper) */
	const uint8_t *qe_report;           /* 384 */
	const uint8_t *qe_report_sig;       /* 64 */
	const uint8_t *qe_auth;
	uint16_t qe_auth_len;
	uint16_t cert_type;                 /* 1..5 (the innermost certification data) */
	const uint8_t *cert_data;
	uint32_t cert_data_len;
	const uint8_t *platform_data;       /* attestation key .. end of signature data: what a */
	size_t platform_data_len;           /* platform cache entry vouches for */
	size_t trailing;                    /* ignored bytes after the signature data */
};

/*
 * Parse a quote. Strict: the header fields must be a combination we know
 * (v3 SGX; v4 SGX or TDX; v5 with body type 1/2/3 whose size matches), the
 * key type P-256, the QE vendor Intel, and the signature data and every
 * structure inside it must consume exactly its declared length. Bytes after
 * the signature data are allowed (real quotes carry padding) and counted in
 * `trailing`. Errors: ERR_ATTEST_QUOTE_FORMAT (truncated, lengths),
 * ERR_ATTEST_QUOTE_VERSION, ERR_ATTEST_TEE_TYPE, ERR_ATTEST_KEY_TYPE,
 * ERR_ATTEST_QE_VENDOR, ERR_ATTEST_CERT_DATA (certification data types);
 * *detail (may be NULL) gets static text.
 */
err_t dcap_quote_parse(const uint8_t *q, size_t n, struct dcap_quote *out, const char **detail) MUST_CHECK;
/* Decode report bodies (copies). `td` accepts 584 or 648 bytes; `sgx` exactly 384 (also the QE report). */
void dcap_td_report_decode(const uint8_t *body, size_t len, struct attest_td_report *out);
void dcap_sgx_report_decode(const uint8_t body[DCAP_SGX_REPORT_LEN], struct attest_sgx_report *out);

/* ---------------------------------------------------------------------------------------------- */
/* Collateral in dcap-qvl's QuoteCollateralV3 shape (raw text and bytes; nothing verified yet).    */

struct dcap_collateral {
	const char *pck_crl_issuer_chain;   /* PEM */
	size_t pck_crl_issuer_chain_len;
	const uint8_t *root_ca_crl;         /* DER */
	size_t root_ca_crl_len;
	const uint8_t *pck_crl;             /* DER */
	size_t pck_crl_len;
	const char *tcb_info_issuer_chain;  /* PEM */
	size_t tcb_info_issuer_chain_len;
	const char *tcb_info;               /* the exact bytes Intel signed */
	size_t tcb_info_len;
	uint8_t tcb_info_signature[64];     /* r||s */
	const char *qe_identity_issuer_chain;
	size_t qe_identity_issuer_chain_len;
	const char *qe_identity;
	size_t qe_identity_len;
	uint8_t qe_identity_signature[64];
	const char *pck_certificate_chain;  /* optional PEM; used instead of the quote's chain; NULL if absent */
	size_t pck_certificate_chain_len;
};

#define DCAP_COLLATERAL_JSON_MAX (1u << 20)

/*
 * Parse dcap-qvl collateral JSON (keys pck_crl_issuer_chain, root_ca_crl
 * (hex DER), pck_crl (hex DER), tcb_info_issuer_chain, tcb_info (string),
 * tcb_info_signature (hex, 64 bytes), qe_identity_issuer_chain, qe_identity,
 * qe_identity_signature, optional pck_certificate_chain). Unknown keys are
 * ignored (newer dcap-qvl versions add some); a missing or mistyped key is
 * ERR_ATTEST_COLLATERAL_MISSING / ERR_PROTO_FIELD_TYPE / ERR_PROTO_ENCODING;
 * syntax errors, trailing bytes, duplicate keys are ERR_PROTO_JSON. All
 * strings and bytes of *out live in `a`.
 */
err_t dcap_collateral_parse_json(const char *json, size_t len, struct arena *a, struct dcap_collateral *out,
				 const char **detail) MUST_CHECK;

/*
 * Intel PCS / PCCS response bodies: {"tcbInfo":{...},"signature":"<hex>"}
 * and {"enclaveIdentity":{...},"signature":"<hex>"}. *signed_out points into
 * `body` at the exact raw bytes of the inner object (what the signature
 * covers, never re-serialised); the signature is decoded into sig.
 */
err_t dcap_pcs_tcb_info_parse(const char *body, size_t len, struct arena *a, const char **signed_out,
			      size_t *signed_len, uint8_t sig[64], const char **detail) MUST_CHECK;
err_t dcap_pcs_qe_identity_parse(const char *body, size_t len, struct arena *a, const char **signed_out,
				 size_t *signed_len, uint8_t sig[64], const char **detail) MUST_CHECK;

/* Strict RFC 3339 UTC timestamp "YYYY-MM-DDTHH:MM:SSZ" (no fraction, no offset) to unix seconds. */
err_t dcap_time_parse(const char *s, size_t len, uint64_t *out) MUST_CHECK;
/* Unix seconds of a certificate / CRL time; 0 on failure (the caller treats it as invalid). */
int dcap_asn1_time_unix(const ASN1_TIME *t, uint64_t *out) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* TCB info (v3 SGX/TDX, v2 SGX).                                                                  */

#define DCAP_MAX_TCB_LEVELS 256
#define DCAP_MAX_ADVISORIES_PER_LEVEL 128
#define DCAP_MAX_MODULE_IDENTITIES 32

enum dcap_tcb_id { DCAP_TCB_ID_NONE = 0 /* v2 */, DCAP_TCB_ID_SGX, DCAP_TCB_ID_TDX };

struct dcap_advisories {
	const char **ids;       /* arena strings */
	size_t n;
};

struct dcap_tcb_level {
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];        /* zero for SGX TCB info */
	uint64_t tcb_date;
	enum tcb_status status;
	struct dcap_advisories adv;
};

struct dcap_module_level {
	uint8_t isvsvn;
	uint64_t tcb_date;
	enum tcb_status status;  /* UpToDate, OutOfDate or Revoked */
	struct dcap_advisories adv;
};

struct dcap_tdx_module {
	const char *id;         /* "TDX_01"...; "" for tdxModule */
	uint8_t mrsigner[48];
	uint8_t attributes[8], attributes_mask[8];
	struct dcap_module_level *levels;    /* highest isvsvn first */
	size_t n_levels;
};

struct dcap_tcb_info {
	unsigned version;        /* 2 or 3 */
	enum dcap_tcb_id id;
	uint64_t issue_date, next_update;
	uint8_t fmspc[6], pceid[2];
	uint32_t tcb_type;       /* 0 (the only type defined) */
	uint32_t eval_number;
	int has_tdx_module;
	struct dcap_tdx_module tdx_module;
	struct dcap_tdx_module *module_ids;  /* tdxModuleIdentities */
	size_t n_module_ids;
	struct dcap_tcb_level *levels;       /* sorted: highest first (Intel's order) */
	size_t n_levels;
};

/*
 * Parse the tcbInfo object text (the signed bytes). Errors:
 * ERR_ATTEST_TCB_INFO_FORMAT (syntax, missing or mistyped fields, counts,
 * ranges, versions other than 2/3, v2 for TDX), ERR_ATTEST_UNKNOWN_VALUE
 * (tcbStatus, id or tcbType we do not know). Unknown keys are ignored.
 * Everything lives in `a`.
 */
err_t dcap_tcb_info_parse(const char *json, size_t len, struct arena *a, struct dcap_tcb_info *out,
			  const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* QE identity (v2).                                                                               */

enum dcap_qe_id { DCAP_QE_ID_QE = 1, DCAP_QE_ID_QVE, DCAP_QE_ID_TD_QE };

struct dcap_qe_level {
	uint16_t isvsvn;
	uint64_t tcb_date;
	enum tcb_status status;  /* UpToDate, OutOfDate or Revoked */
	struct dcap_advisories adv;
};

struct dcap_qe_identity {
	enum dcap_qe_id id;
	unsigned version;
	uint64_t issue_date, next_update;
	uint32_t eval_number;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct dcap_qe_level *levels;        /* highest isvsvn first */
	size_t n_levels;
};

/* Parse the enclaveIdentity object text. ERR_ATTEST_QE_IDENTITY_FORMAT / ERR_ATTEST_UNKNOWN_VALUE as above. */
err_t dcap_qe_identity_parse(const char *json, size_t len, struct arena *a, struct dcap_qe_identity *out,
			     const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* PCK certificate: the Intel SGX extension (OID 1.2.840.113741.1.13.1).                          */

struct dcap_pck_info {
	uint8_t ppid[16];
	uint8_t comp[16];        /* SGX TCB components 01..16 */
	uint16_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t pceid[2];
	uint8_t fmspc[6];
	uint8_t sgx_type;        /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
	int has_platform_instance_id;
	uint8_t platform_instance_id[16];
	int ca_platform;         /* issuer: 1 PCK Platform CA, 0 PCK Processor CA */
};

/*
 * Parse the extension's value (DER: SEQUENCE of SEQUENCE{OID, value}).
 * Strict DER; PPID, TCB (exactly the 18 entries), PCE-ID, FMSPC and SGX type
 * are required, each at most once; CPUSVN must equal the 16 components.
 * Unknown OIDs are skipped. ERR_ATTEST_PCK_EXTENSION, or
 * ERR_ATTEST_UNKNOWN_VALUE for an SGX type we do not know.
 */
err_t dcap_pck_ext_parse(const uint8_t *der, size_t len, struct dcap_pck_info *out, const char **detail) MUST_CHECK;
/*
 * The leaf's subject CN must be "Intel SGX PCK Certificate" and its issuer
 * CN one of the two PCK CAs (ERR_ATTEST_CERT_CHAIN otherwise); then the
 * extension as above. `leaf` is borrowed.
 */
err_t dcap_pck_cert_info(X509 *leaf, struct dcap_pck_info *out, const char **detail) MUST_CHECK;
/* 1 when the issuer CN is "Intel SGX PCK Platform CA", 0 for "... Processor CA", -1 otherwise. */
int dcap_pck_ca_type(const X509_NAME *issuer);

/*
 * A PCK leaf certificate read without OpenSSL's X509 (whose d2i costs more
 * than a signature check in OpenSSL 3.0), for the cached path's first-seen
 * platforms. Deliberately narrow: exactly one DER Certificate; v3; a
 * positive serial of at most 20 value octets; ecdsa-with-SHA256 in both places;
 * subject with exactly one CN "Intel SGX PCK Certificate"; a P-256 key;
 * extensions each once and only these: the SGX extension (not critical),
 * AKID (keyIdentifier only, required), SKID, CRL distribution points,
 * keyUsage (digitalSignature, not keyCertSign), basicConstraints (empty: not
 * a CA); names of UTF8String / PrintableString values; no unique IDs. Anything else
 * is ERR_ATTEST_CERT_CHAIN, and the caller then takes the OpenSSL path,
 * which decides. Views point into `der` (borrowed). This checks the shape
 * only; the signature, issuer and validity are the caller's.
 */
struct dcap_pck_leaf {
	const uint8_t *tbs;          /* the signed TBSCertificate TLV */
	size_t tbs_len;
	uint8_t sig[64];             /* r||s */
	const uint8_t *serial_tlv;   /* INTEGER TLV, for the CRL lookup */
	size_t serial_tlv_len;
	const uint8_t *issuer;       /* issuer Name TLV (compare as bytes with the CA's subject) */
	size_t issuer_len;
	uint64_t not_before, not_after;
	uint8_t pubkey[64];          /* x||y */
	const uint8_t *sgx_ext;      /* the SGX extension's value */
	size_t sgx_ext_len;
	const uint8_t *akid;         /* authorityKeyIdentifier keyIdentifier, or NULL */
	size_t akid_len;
};
err_t dcap_pck_leaf_parse(const uint8_t *der, size_t len, struct dcap_pck_leaf *out) MUST_CHECK;
/* dcap_pck_ca_type on a dcap_pck_leaf_parse result's issuer: 1 Platform CA, 0 Processor CA, -1 otherwise (exactly one CN). */
int dcap_pck_leaf_ca_type(const struct dcap_pck_leaf *leaf);

/*
 * Where a quote's collateral is, without OpenSSL's X509 (whose d2i costs
 * more than a signature check in OpenSSL 3.0): the FMSPC and the issuing
 * CA of the first certificate of a type-5 PCK chain, read as
 * pck_leaf_fast reads it (canonical PEM, dcap_pck_leaf_parse's shape, the
 * SGX extension as dcap_pck_ext_parse parses it, exactly one issuer CN
 * naming a PCK CA). Nothing is verified and the rest of the chain is not
 * looked at: this only names the collateral to fetch; the verification
 * parses and checks the whole chain itself. ERR_ATTEST_CERT_CHAIN when any
 * of that does not hold (a caller then reads the leaf with OpenSSL).
 */
err_t dcap_quote_pck_locate(const struct dcap_quote *q, struct dcap_pck_info *out) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* TCB evaluation (reference A.6 steps 7, 12, 13), pure over parsed inputs.                       */

struct dcap_tcb_eval {
	enum tcb_status platform;      /* the matched TCB level (TDX level for TDX quotes) */
	enum tcb_status module;        /* TDX module identity level; meaningful when has_module */
	enum tcb_status qe;            /* the QE identity level */
	enum tcb_status merged;        /* the verdict's status */
	const struct dcap_advisories *platform_adv, *module_adv, *qe_adv;  /* borrowed from ti / qe */
	int has_module;                /* TDX with a versioned module (TEE_TCB_SVN[1] > 0) */
};

/*
 * TDX (td != NULL): the module identity for TEE_TCB_SVN[1] (tdxModule for
 * 0, else tdxModuleIdentities "TDX_%02X"; ERR_ATTEST_TDX_MODULE when absent
 * or when MRSIGNERSEAM / SEAMATTRIBUTES do not match) and its TCB level.
 * Then the first TCB level (ti->levels is sorted) the PCK's SGX components
 * and PCESVN reach, and for TDX also the TEE_TCB_SVN components: all 16 in
 * ATTEST_TCB_DCAP_QVL, 2..15 for a versioned module in ATTEST_TCB_INTEL;
 * none is ERR_ATTEST_TCB_NOT_SUPPORTED. merged = worst of platform, module
 * and QE (dcap-qvl), or Intel's convergence with the module status, the TD
 * relaunch check for TD 1.5 bodies, and the QE status. Everything borrowed.
 */
err_t dcap_tcb_evaluate(const struct dcap_tcb_info *ti, const struct dcap_qe_level *qe, const struct dcap_pck_info *pck,
			const struct attest_td_report *td, enum dcap_body_type body, enum attest_tcb_mode mode,
			struct dcap_tcb_eval *out, const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* Verified collateral, the platform cache, and verification.                                     */

/* One validity window that a quote's `now` must fall in; the list is checked in order. */
struct dcap_window {
	uint64_t from, to;       /* inclusive */
	err_t err_before, err_after;
	const char *what;        /* static: names the item in the verdict detail */
};

#define DCAP_MAX_WINDOWS 16

/*
 * Collateral that passed every check that does not depend on `now`:
 * TCB info and QE identity parsed and their signatures verified with
 * signing certificates that chain to the pinned root; both CRLs verified by
 * their issuers; the root not revoked. Immutable after dcap_vcoll_new, so it
 * may be shared read-only between threads. Callers read the fields below;
 * only dcap_vcoll_free releases it.
 */
struct dcap_vcoll {
	struct arena arena;                   /* owns tcb, qeid and their strings */
	struct dcap_tcb_info tcb;
	struct dcap_qe_identity qeid;
	X509 *anchor;                         /* the pinned root the chains end in (ref held) */
	int dev;                              /* anchor is the development root */
	X509 *pck_ca;                         /* issuer of the PCK CRL, verified to the anchor */
	X509_CRL *pck_crl, *root_crl;
	int root_crl_plain;                   /* root_crl decides by serial alone (root_crl_plain in dcap_verify.c) */
	int pck_ca_platform;                  /* PCK CRL is the Platform CA's (1) or Processor CA's (0) */
	X509_STORE *store;                    /* anchor + both CRLs: full PCK chain checks */
	X509_STORE *store_pck_ca;             /* pck_ca as a (partial-chain) anchor: the fast path */
	STACK_OF(X509) *pck_chain_override;   /* collateral pck_certificate_chain, or NULL */
	/*
	 * For the PCK leaf fast path (arena): the canonical PEM blocks of pck_ca
	 * and the anchor (what a quote's chain must carry, byte for byte), the
	 * DER of pck_ca's subject and pck_ca's SKID.
	 */
	const char *pck_ca_pem, *anchor_pem;
	size_t pck_ca_pem_len, anchor_pem_len;
	const uint8_t *pck_ca_subject, *pck_ca_skid;
	size_t pck_ca_subject_len, pck_ca_skid_len;
	struct dcap_window win[DCAP_MAX_WINDOWS];
	size_t n_win;
	uint64_t expires_at;                  /* earliest end of any window */
	uint64_t issued_at;                   /* older of the TCB info / QE identity issue dates */
	uint8_t id[32];                       /* SHA-256 over the collateral and the anchor: names it in caches */
};

/*
 * Parse and verify collateral against the trust anchors (see struct
 * dcap_vcoll). Every issuer chain must end in a certificate DER-equal to
 * t->intel_root or, only when configured, t->intel_dev_root (then ->dev);
 * all chains must end in the same one. Chains are verified by OpenSSL's
 * X509_STORE with CRL_CHECK | CRL_CHECK_ALL; times are not checked here but
 * recorded as windows for dcap_verify_quote. On success *out is the
 * caller's (free with dcap_vcoll_free). `c` and `t` are borrowed and may go
 * away afterwards.
 */
err_t dcap_vcoll_new(const struct dcap_collateral *c, const struct attest_trust *t, struct dcap_vcoll **out,
		     const char **detail) MUST_CHECK;
/*
 * What a caller already parsed from the collateral (all borrowed; NULLs and
 * zeros for none). In OpenSSL 3.0 parsing a certificate costs more than
 * checking a signature, and a caller that has parsed the chains and CRLs
 * (the collateral cache does, to check them) need not pay for it twice.
 */
#define DCAP_KNOWN_MAX 8
struct dcap_preparsed {
	X509 *const *certs;        /* a chain block whose DER is byte-for-byte one of these uses it, as the */
	size_t n_certs;            /* trust anchors are used (NULL entries skipped; at most DCAP_KNOWN_MAX) */
	X509_CRL *root_ca_crl;     /* used when its DER is byte-for-byte c->root_ca_crl */
	X509_CRL *pck_crl;         /* used when its DER is byte-for-byte c->pck_crl */
};

/* dcap_vcoll_new with `pre` (may be NULL): the same result, without parsing what `pre` holds again. */
err_t dcap_vcoll_new_pre(const struct dcap_collateral *c, const struct attest_trust *t,
			 const struct dcap_preparsed *pre, struct dcap_vcoll **out, const char **detail) MUST_CHECK;
void dcap_vcoll_free(struct dcap_vcoll *vc);

/*
 * Per-platform cache: certification data (everything in the signature data
 * except the quote signature: attestation key, QE report and signature, QE
 * auth data, PCK chain) that verified against a given verified collateral,
 * with the parsed PCK extension, the QE TCB level and the parsed attestation
 * key. Keyed by SHA-256 of the collateral id, the TCB mode and those bytes;
 * an entry is used only while `now` is inside the PCK chain's validity.
 * Direct-mapped with `slots` entries; not thread-safe (one per thread, or
 * lock around dcap_verify_quote).
 */
struct dcap_cache;
struct dcap_cache_stats {
	uint64_t hits, misses, inserts, evictions;
	uint64_t leaf_fast;      /* first-seen leaves read by dcap_pck_leaf_parse */
	uint64_t leaf_openssl;   /* first-seen leaves that took the OpenSSL path */
};
struct dcap_cache *dcap_cache_new(size_t slots);
void dcap_cache_free(struct dcap_cache *c);
void dcap_cache_clear(struct dcap_cache *c);
void dcap_cache_stats(const struct dcap_cache *c, struct dcap_cache_stats *out);

/*
 * Verify a quote against verified collateral at `now`, then apply the
 * policy (NULL = the strict default). Steps and their order follow
 * dcap-qvl Rust HEAD (reference A.6): collateral windows, QE identity kind,
 * PCK chain + revocation, QE report signature, QE report data, QE identity
 * match and QE TCB level, quote signature, FMSPC/PCE-ID/TCB info kind, TDX
 * module identity, TCB level and status merge (p->tcb_mode), Revoked,
 * TD/enclave attribute policy (debug, reserved bits, SEPT_VE_DISABLE,
 * MRSERVICETD), then the relying party's policy (statuses, advisories,
 * evaluation number, collateral age, report data, measurements).
 *
 * Returns v->err: ERR_OK or the ERR_ATTEST_* code of the first failing
 * check, with v->detail naming it. *v is filled as far as verification got
 * (status, levels, report fields, PCK fields, expiry). Advisory strings live
 * in `a`. `cache` may be NULL. vc, quote, p are borrowed.
 */
err_t dcap_verify_quote(const struct dcap_vcoll *vc, const uint8_t *quote, size_t n, const struct attest_policy *p,
			uint64_t now, struct dcap_cache *cache, struct arena *a, struct attest_verdict *v) MUST_CHECK;

/* One shot: parse the quote, build the verified collateral, verify, free. Same result as the two calls. */
err_t dcap_verify(const uint8_t *quote, size_t n, const struct dcap_collateral *c, const struct attest_trust *t,
		  const struct attest_policy *p, uint64_t now, struct arena *a, struct attest_verdict *v) MUST_CHECK;

/* The Intel SGX Root CA (the pinned production root), parsed from the embedded DER. Caller frees. */
X509 *attest_intel_root(void);
/* Its DER bytes (static). */
const uint8_t *attest_intel_root_der(size_t *len);

/* A certificate's DER (static bytes). */
struct attest_der {
	const uint8_t *der;
	size_t len;
};
/*
 * Intel's intermediate certificates as current collateral carries them (TCB
 * Signing, PCK Platform CA, PCK Processor CA), for a cache of parsed
 * certificates to start with: known, not trusted (see intel_intermediates.c).
 */
const struct attest_der *attest_intel_intermediates(size_t *n);

/* ---------------------------------------------------------------------------------------------- */
/* Internal: JSON field readers shared by the TCB info and QE identity parsers (dcap_tcbinfo.c).   */
/* They return ERR_PROTO_MALFORMED (missing, mistyped, out of range) or ERR_ATTEST_UNKNOWN_VALUE.  */

struct json_value;
/* Exactly 2n hex digits (either case, no 0x) into n bytes. */
err_t dcap_json_hex(const struct json_value *obj, const char *key, uint8_t *out, size_t n) MUST_CHECK;
err_t dcap_json_uint(const struct json_value *obj, const char *key, uint64_t max, uint64_t *out) MUST_CHECK;
err_t dcap_json_time(const struct json_value *obj, const char *key, uint64_t *out) MUST_CHECK;
/* "tcbStatus" of a level; `allowed` is a bit set of enum tcb_status. */
err_t dcap_json_status(const struct json_value *obj, uint32_t allowed, enum tcb_status *out) MUST_CHECK;
/* Optional "advisoryIDs": strings stay in the JSON tree's arena; the array is allocated from `a`. */
err_t dcap_json_advisories(const struct json_value *obj, struct arena *a, struct dcap_advisories *out) MUST_CHECK;

#endif
