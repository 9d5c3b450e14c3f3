/* SPDX-License-Identifier: Apache-2.0 */
/* RA-TLS: dstack's attested certificates (building, evidence binding, VersionedAttestation codec) and their verification in the TLS handshake. */
#ifndef DS_RATLS_H
#define DS_RATLS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arena.h"
#include "attest.h"
#include "base.h"
#include "buf.h"
#include "claims.h"
#include "dcap.h"
#include "err.h"
#include "tls.h"

/*
 * Formats follow shared/reference/dstack.md section 6 (dstack ra-tls and
 * dstack-attest); docs/lib/ratls.md has the certificate profile, the wire
 * formats, the verification steps and the cache. Three parts:
 *
 *   1. certificates: one builder for every certificate (self-signed or
 *      issuer-signed, CA or leaf, with dstack's extensions);
 *   2. evidence: report_data = SHA-512("ratls-cert:" || SPKI DER), the
 *      VersionedAttestation codec (V0 SCALE, V1 msgpack) and extraction of
 *      evidence from a certificate;
 *   3. APP_INFO: dstack-attest's AppInfo (msgpack) for the APP_INFO
 *      extension, computed from evidence as dstack's issuers do;
 *   4. verification: evidence -> platform (lib/attest) -> RTMR3 replay ->
 *      binding -> claims -> peer policy, cached by certificate hash, and a
 *      struct tls_verifier adapter that runs it inside the handshake;
 *   5. dstack's SCALE certificate signing requests (the KMS's SignCert).
 */

/* ---------------------------------------------------------------------------------------------- */
/* OIDs (Phala PEN 62397). Each extension value is a DER OCTET STRING wrapping the raw bytes.      */

#define RATLS_OID_TDX_QUOTE "1.3.6.1.4.1.62397.1.1"   /* legacy: raw TDX quote */
#define RATLS_OID_EVENT_LOG "1.3.6.1.4.1.62397.1.2"   /* legacy: JSON TdxEvent array */
#define RATLS_OID_APP_ID "1.3.6.1.4.1.62397.1.3"      /* 20 raw bytes (issuer claim) */
#define RATLS_OID_CERT_USAGE "1.3.6.1.4.1.62397.1.4"  /* UTF-8: kms:rpc, app:ca, app:custom (issuer claim) */
#define RATLS_OID_ATTESTATION "1.3.6.1.4.1.62397.1.8" /* VersionedAttestation bytes */
#define RATLS_OID_APP_INFO "1.3.6.1.4.1.62397.1.9"    /* msgpack AppInfo (section 3; issuer claim) */

#define RATLS_USAGE_KMS_RPC "kms:rpc"
#define RATLS_USAGE_APP_CA "app:ca"
#define RATLS_USAGE_APP_CUSTOM "app:custom"

#define RATLS_APP_ID_LEN 20
#define RATLS_REPORT_DATA_LEN 64
/* dstack (rcgen) default notBefore: 1975-01-01T00:00:00Z. */
#define RATLS_DEFAULT_NOT_BEFORE 157766400ull

/* Hard limits on untrusted input. */
#define RATLS_ATTESTATION_MAX (10u * 1024 * 1024)     /* VersionedAttestation bytes, as dstack */
#define RATLS_EXT_MAX RATLS_ATTESTATION_MAX           /* any one extension value */
#define RATLS_QUOTE_MAX DCAP_QUOTE_MAX                /* TDX quote / platform report bytes */
#define RATLS_MAX_EVENTS ATTEST_EVENTLOG_MAX_EVENTS   /* events per list */
#define RATLS_MAX_CERTS 8                             /* SEV-SNP cert_chain entries */
#define RATLS_CERT_MAX (16u * 1024)                   /* one SEV-SNP chain certificate */
#define RATLS_CONFIG_MAX (1024u * 1024)               /* config / mr_config strings */
#define RATLS_USAGE_MAX 64                            /* CERT_USAGE text */

/* ---------------------------------------------------------------------------------------------- */
/* 1. Certificates                                                                                 */

/* A new P-256 key. Caller frees with EVP_PKEY_free. NULL on failure. */
EVP_PKEY *ratls_key_new(void);

/*
 * What to put in a certificate. Zero the struct and fill what you need.
 * Every pointer is borrowed for the duration of ratls_cert_build.
 */
struct ratls_cert_params {
	const char *org;                  /* O, or NULL: DN = [O] + CN */
	const char *cn;                   /* CN, required */
	const char *const *alt_names;     /* SAN: DNS names; IPv4/IPv6 literals become iPAddress entries */
	size_t n_alt_names;
	uint64_t not_before;              /* unix seconds; 0 = RATLS_DEFAULT_NOT_BEFORE */
	uint64_t not_after;               /* unix seconds; required, after not_before */
	int is_ca;                        /* BasicConstraints CA (critical) + keyCertSign, cRLSign */
	int path_len;                     /* CA path length; < 0 = unlimited */
	int server_auth, client_auth;     /* extendedKeyUsage entries; none = no EKU extension */
	const uint8_t *app_id;            /* 20 bytes -> APP_ID, or NULL */
	const char *usage;                /* CERT_USAGE text, or NULL */
	const uint8_t *attestation;       /* VersionedAttestation bytes -> ATTESTATION, or NULL */
	size_t attestation_len;
	const uint8_t *tdx_quote;         /* legacy TDX_QUOTE, or NULL */
	size_t tdx_quote_len;
	const uint8_t *event_log;         /* legacy EVENT_LOG (JSON text), or NULL */
	size_t event_log_len;
	const uint8_t *app_info;          /* APP_INFO bytes (ratls_app_info_encode), or NULL */
	size_t app_info_len;
};

/*
 * Build and sign a certificate: v3, random positive 16-byte serial,
 * ECDSA-SHA256, KeyUsage digitalSignature (critical; + keyCertSign, cRLSign
 * for CAs), BasicConstraints for CAs, EKU, SAN, SKI, AKI (from the issuer's
 * SKI), then the dstack extensions (not critical). `subject` is the
 * certificate's public key (a private key is fine). Self-signed when
 * `issuer` is NULL: then `issuer_key` must be the subject's private key.
 * `issuer_key` must be P-256. *out is the caller's (X509_free).
 * ERR_INVALID_ARG for missing or inconsistent parameters, ERR_CRYPTO when
 * OpenSSL fails.
 */
err_t ratls_cert_build(const struct ratls_cert_params *p, EVP_PKEY *subject, X509 *issuer, EVP_PKEY *issuer_key,
		       X509 **out) MUST_CHECK;

/* Append DER / PEM of a certificate to w. Errors from w, or ERR_CRYPTO. */
err_t ratls_cert_der(X509 *x, struct buf_writer *w) MUST_CHECK;
err_t ratls_cert_pem(X509 *x, struct buf_writer *w) MUST_CHECK;
/* PKCS#8 PEM of a private key; sets w->wipe (the buffer holds a secret). */
err_t ratls_key_pem(EVP_PKEY *key, struct buf_writer *w) MUST_CHECK;
/* SubjectPublicKeyInfo DER of a key appended to w. */
err_t ratls_spki_der(EVP_PKEY *key, struct buf_writer *w) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* 2. Evidence                                                                                     */

/* report_data binding a key: SHA-512("ratls-cert:" || SPKI DER). ERR_CRYPTO if the key has no SPKI. */
err_t ratls_report_data(EVP_PKEY *key, uint8_t out[RATLS_REPORT_DATA_LEN]) MUST_CHECK;

enum ratls_platform {
	RATLS_PLATFORM_NONE = 0,
	RATLS_PLATFORM_TDX,               /* V0 variant 0, V1 "tdx" */
	RATLS_PLATFORM_GCP_TDX,           /* V0 variant 1, V1 "gcp-tdx" (decoded from V1 only) */
	RATLS_PLATFORM_NITRO_ENCLAVE,     /* V0 variant 2, V1 "nitro-enclave" */
	RATLS_PLATFORM_SEV_SNP,           /* V0 variant 3, V1 "sev-snp" */
	RATLS_PLATFORM_AWS_NITRO_TPM,     /* V0 variant 4, V1 "aws-nitro-tpm" */
};

/* One event: a TdxEvent (imr, type, digest, name, payload) or a RuntimeEvent (name, payload, version). */
struct ratls_event {
	uint32_t imr;
	uint32_t event_type;
	const uint8_t *digest;            /* may be empty (stripped runtime events) */
	size_t digest_len;
	const char *name;                 /* NUL-terminated copy; name_len bytes (valid UTF-8) */
	size_t name_len;
	const uint8_t *payload;
	size_t payload_len;
	int version;                      /* 1 or 2 (V0 always 1: SCALE does not carry it) */
};

struct ratls_blob {
	const uint8_t *p;
	size_t len;
};

/*
 * A VersionedAttestation. The decoder fills it with pointers into its
 * input or into the arena it is given; the encoder reads it.
 */
struct ratls_attestation {
	int version;                      /* 0: SCALE (first byte 0x00); 1: msgpack (first byte a map) */
	enum ratls_platform platform;
	const uint8_t *quote;             /* TDX quote, SEV-SNP report, NSM document, Nitro TPM document */
	size_t quote_len;
	struct ratls_event *event_log;    /* TDX / GCP: the (stripped) TdxEvent list */
	size_t n_event_log;
	struct ratls_blob *cert_chain;    /* SEV-SNP: DER certificates */
	size_t n_cert_chain;
	const char *mr_config;            /* SEV-SNP: the MrConfigV3 document; NUL-terminated */
	size_t mr_config_len;
	struct ratls_event *runtime_events; /* the stack's events: what RTMR3 replays */
	size_t n_runtime_events;
	uint8_t report_data[RATLS_REPORT_DATA_LEN];
	const char *config;               /* vm_config JSON text (may be empty); NUL-terminated */
	size_t config_len;
	int is_pod;                       /* V1 stack kind "dstack-pod" */
	const char *report_data_payload;  /* dstack-pod only; NUL-terminated */
	size_t report_data_payload_len;
};

/*
 * Decode a VersionedAttestation: V0 SCALE (variants TDX, Nitro enclave,
 * SEV-SNP, AWS Nitro TPM; GCP TDX is ERR_RATLS_UNSUPPORTED) or V1 msgpack
 * (named maps; byte fields as bin or as arrays of integers, as rmp_serde
 * writes Vec<u8>; unknown keys skipped). Hard limits: RATLS_ATTESTATION_MAX
 * input, the RATLS_* caps above, msgpack nesting 16. Trailing bytes are
 * rejected. Errors: ERR_PROTO_TRUNCATED / ERR_PROTO_TRAILING /
 * ERR_PROTO_TOO_LARGE / ERR_PROTO_MALFORMED / ERR_PROTO_ENCODING (UTF-8),
 * ERR_RATLS_UNSUPPORTED, ERR_BUDGET / ERR_NOMEM. `p` is borrowed and must
 * outlive *out; copies live in `a`. `detail` (may be NULL) gets static text.
 */
err_t ratls_attestation_decode(const uint8_t *p, size_t len, struct arena *a, struct ratls_attestation *out,
			       const char **detail) MUST_CHECK;

/*
 * Encode `att` as att->version 0 (SCALE; every event must be version 1,
 * V0 cannot say otherwise) or 1 (msgpack, named, as dstack-attest's
 * to_msgpack writes it). Platforms: TDX and SEV-SNP. Appends to w.
 */
err_t ratls_attestation_encode(const struct ratls_attestation *att, struct buf_writer *w) MUST_CHECK;

/*
 * What a TEE backend returns for a report_data: a TDX quote and dstack's
 * JSON event log (the guest agent's GetQuote shape), and optionally the
 * vm_config text. Buffers are malloc'd by the backend and released with
 * ratls_quote_clear.
 */
struct ratls_quote {
	uint8_t *quote;
	size_t quote_len;
	char *event_log;                  /* JSON TdxEvent array, or NULL */
	size_t event_log_len;
	char *config;                     /* vm_config JSON, or NULL */
	size_t config_len;
};
void ratls_quote_clear(struct ratls_quote *q);

/* The backend's quote function (defined by the guest agent's TEE interface; lib/tee sim in tests). */
typedef err_t (*ratls_quote_fn)(void *arg, const uint8_t report_data[RATLS_REPORT_DATA_LEN], struct ratls_quote *out);

/*
 * The stripped VersionedAttestation for a certificate, from a backend's
 * quote: the event log is parsed and checked (lib/attest), only its RTMR3
 * events are kept (digests dropped, as dstack strips them), the runtime
 * events are those same events, report_data is the one given. V0 unless an
 * event is V2 (then V1, as the guest does). Appends to w.
 */
err_t ratls_attestation_from_quote(const struct ratls_quote *q, const uint8_t report_data[RATLS_REPORT_DATA_LEN],
				   struct buf_writer *w, const char **detail) MUST_CHECK;

/*
 * Obtain evidence for `key` (report_data = ratls_report_data(key)) from the
 * backend and build its certificate: p plus the ATTESTATION extension.
 * Other arguments as ratls_cert_build. p->attestation must be NULL.
 */
err_t ratls_cert_new_attested(const struct ratls_cert_params *p, EVP_PKEY *key, ratls_quote_fn quote, void *arg,
			      X509 *issuer, EVP_PKEY *issuer_key, X509 **out, const char **detail) MUST_CHECK;

/*
 * The dstack extensions of a certificate, as views into its extension
 * values (borrowed: valid while `x` lives). Each present extension must be
 * a DER OCTET STRING with nothing after it, appear once, and stay under
 * RATLS_EXT_MAX; APP_ID must be 20 bytes and CERT_USAGE short UTF-8.
 * ERR_RATLS_EVIDENCE_FORMAT otherwise (with *detail).
 */
struct ratls_cert_ext {
	struct ratls_blob attestation;    /* .8 */
	struct ratls_blob tdx_quote;      /* .1 */
	struct ratls_blob event_log;      /* .2 */
	struct ratls_blob app_id;         /* .3 */
	struct ratls_blob usage;          /* .4 (not NUL-terminated) */
	struct ratls_blob app_info;       /* .9 */
};
err_t ratls_cert_ext_read(X509 *x, struct ratls_cert_ext *out, const char **detail) MUST_CHECK;

/*
 * The evidence of a certificate as one attestation: the ATTESTATION
 * extension when present, else the legacy TDX_QUOTE (+ EVENT_LOG JSON,
 * whose runtime events become the runtime events and whose report_data is
 * the quote's). ERR_RATLS_NO_EVIDENCE when neither is there; decode errors
 * as above; a legacy event log compressed with the "ELGZv1" magic is
 * ERR_RATLS_UNSUPPORTED. Memory in `a`; views into `x`.
 */
err_t ratls_cert_evidence(X509 *x, struct arena *a, struct ratls_attestation *out, const char **detail) MUST_CHECK;

/*
 * Legacy evidence given as a raw TDX quote and dstack's JSON event log (a
 * V1 CSR, the TDX_QUOTE/EVENT_LOG extension pair) as one attestation, as
 * ratls_cert_evidence reads the legacy extensions: version -1, report_data
 * from the quote, runtime events = the log's RTMR3 events. `event_log` may
 * be empty. Errors: ERR_PROTO_TOO_LARGE (quote over RATLS_QUOTE_MAX),
 * ERR_RATLS_EVIDENCE_FORMAT (quote or log does not parse),
 * ERR_RATLS_UNSUPPORTED (ELGZv1 log), ERR_BUDGET / ERR_NOMEM. Inputs are
 * borrowed and must outlive *out; copies live in `a`.
 */
err_t ratls_attestation_legacy(const uint8_t *quote, size_t quote_len, const uint8_t *event_log, size_t event_log_len,
			       struct arena *a, struct ratls_attestation *out, const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* 3. APP_INFO (dstack-attest AppInfo; dstack ra-tls cert.rs puts it in OID .9)                   */

#define RATLS_APP_INFO_MAX (64u * 1024)       /* encoded bytes */
#define RATLS_APP_INFO_FIELD_MAX 4096         /* one byte field (dstack's are 0 to ~200 bytes) */
#define RATLS_APP_INFO_MAX_INIT_SCRIPTS 5     /* dstack-types MAX_INIT_SCRIPTS */
#define RATLS_APP_INFO_MAX_KEYS 32            /* map entries, unknown keys included */

/*
 * dstack's AppInfo, field for field (dstack-attest attestation.rs): byte
 * fields are serde_human_bytes, i.e. msgpack bin; mr_system / mr_aggregated
 * are exactly 32 bytes; init_script_hashes is Option<Vec<[u8;32]>> (newest
 * releases only), at most 5 entries. Blobs are views (see each function for
 * whose memory).
 */
struct ratls_app_info {
	struct ratls_blob app_id;
	struct ratls_blob compose_hash;
	struct ratls_blob instance_id;
	struct ratls_blob device_id;
	uint8_t mr_system[32];
	uint8_t mr_aggregated[32];
	struct ratls_blob os_image_hash;
	struct ratls_blob key_provider_info;
	int has_init_script_hashes;           /* Some(..) (possibly empty); 0 = None */
	size_t n_init_script_hashes;
	uint8_t init_script_hashes[RATLS_APP_INFO_MAX_INIT_SCRIPTS][32];
};

/*
 * Encode as dstack's newest issuers do (rmp_serde::to_vec_named): a map of 9
 * entries keyed by the field names (msgpack str) in struct order, byte
 * fields as bin, init_script_hashes nil (None) or an array of bin. Readers
 * of every dstack release decode this form (rmp_serde reads a struct from a
 * map and skips keys it does not know). Appends to w. ERR_INVALID_ARG when
 * a field is over RATLS_APP_INFO_FIELD_MAX (or NULL with a length) or there
 * are more than 5 init script hashes; errors from w.
 */
err_t ratls_app_info_encode(const struct ratls_app_info *ai, struct buf_writer *w) MUST_CHECK;

/*
 * Decode either form rmp_serde::from_slice accepts from dstack: the named
 * map (keys must be msgpack str; any order; a missing init_script_hashes is
 * None; unknown keys are skipped when they are well-formed msgpack, nested
 * at most 16 deep, at most RATLS_APP_INFO_MAX_KEYS entries in all) or the
 * positional array v0.5.6 - v0.5.11 wrote (8 fields; 9 with
 * init_script_hashes). Strict: byte fields only as bin, nothing after the
 * value. Errors: ERR_PROTO_TRUNCATED; ERR_PROTO_TRAILING; ERR_PROTO_TOO_LARGE
 * (input over RATLS_APP_INFO_MAX, a field over RATLS_APP_INFO_FIELD_MAX, more
 * than 5 init script hashes, too many map entries); ERR_PROTO_FIELD_TYPE
 * (neither map nor array, a key that is not a string, a field of the wrong
 * msgpack type); ERR_PROTO_MALFORMED (an array of other than 8 or 9
 * entries, a missing or repeated field, an mr_* or init script hash that is
 * not 32 bytes, the reserved type 0xc1); ERR_PROTO_DEPTH. Blobs are views
 * into `p` (borrowed: it must outlive *out). `detail` (may be NULL) gets
 * static text.
 */
err_t ratls_app_info_decode(const uint8_t *p, size_t len, struct ratls_app_info *out, const char **detail) MUST_CHECK;

/*
 * The runtime events of an attestation as a lib/attest event log (the
 * stack's runtime events, else the TDX event log's), replayed: what
 * verification checks against RTMR3 and reads identity from. Events and
 * their views live in `a` and in att's memory. Errors: ERR_ATTEST_EVENT_LOG
 * (with *detail), ERR_BUDGET / ERR_NOMEM.
 */
err_t ratls_attestation_event_log(const struct ratls_attestation *att, struct arena *a, struct attest_eventlog *out,
				  const char **detail) MUST_CHECK;

/*
 * dstack's AppInfo from TDX evidence, as dstack's certificate issuers
 * compute it: ra-tls cert.rs CaCert::sign_csr (used by the KMS's SignCert,
 * kms/src/main_service.rs sign_cert, and by the guest agent's local CA,
 * cert-client CertRequestClient::sign_csr) calls
 * AttestationV1::decode_app_info(boottime_mr = false) on the CSR's
 * attestation. So: app_id, compose_hash, instance_id, key_provider_info =
 * payloads of those runtime events before system-ready (empty when absent);
 * mr_system = sha256(MRTD || RTMR0 || RTMR1 || RTMR2 || mr_key_provider) with
 * mr_key_provider = sha256(key_provider_info), or 32 zero bytes when that is
 * empty; mr_aggregated over the full RTMR3 (+ MRCONFIGID || MROWNER ||
 * MROWNERCONFIG when any is non-zero); init_script_hashes = Some(payloads of
 * the init-script-hash events before system-ready), each 32 bytes, at most 5.
 * Two differences, both documented in docs/lib/ratls.md: device_id is the
 * 32-byte `device_id` given (sha256(PPID) of a verified quote, or the guest
 * agent's own, as its Info reports it) rather than dstack's sha256("") for
 * evidence without a verified report (pass NULL to get exactly that);
 * os_image_hash is the measured
 * os-image-hash event (dstack reads vm_config's, which nothing measures),
 * empty when there is none. The quote is parsed, not verified: callers use
 * evidence they verified (KMS) or produced themselves (guest agent). The
 * replayed runtime events must equal the quote's RTMR3.
 * Errors: ERR_RATLS_UNSUPPORTED (not TDX), the quote parser's, ERR_ATTEST_*
 * from the event log and claims (RTMR3 mismatch, identity events twice,
 * wrong sizes; ERR_ATTEST_EVENT_LOG for more than 5 init script hashes or
 * one not 32 bytes), ERR_BUDGET / ERR_NOMEM. Blobs point into `a`.
 */
err_t ratls_app_info_from_attestation(const struct ratls_attestation *att, const uint8_t *device_id,
				      struct arena *a, struct ratls_app_info *out, const char **detail) MUST_CHECK;

/*
 * For a certificate its subject issues to itself (the guest agent's local
 * app CA): evidence for `key` from the backend (as ratls_cert_new_attested),
 * the stripped attestation appended to `att_out` when it is not NULL (for
 * the ATTESTATION extension), and the APP_INFO bytes of that same evidence
 * (ratls_app_info_from_attestation, then ratls_app_info_encode) appended to
 * `info_out`. Errors as those functions.
 */
err_t ratls_app_info_for_key(EVP_PKEY *key, ratls_quote_fn quote, void *arg, const uint8_t *device_id,
			     struct buf_writer *att_out, struct buf_writer *info_out, const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* 4. Verification                                                                                 */

/*
 * Collateral for a platform, already fetched and verified (dcap_vcoll_new):
 * return ERR_OK with *out borrowed until the next call, or
 * ERR_UNAVAILABLE when there is none. It runs inside TLS handshakes on the
 * event loop, so it must be a cache lookup and never block: callers prefetch
 * collateral (e.g. from dstack-attest or PCCS) for the platforms they expect
 * and refresh it before it expires.
 */
typedef err_t (*ratls_collateral_fn)(void *arg, const uint8_t fmspc[6], int ca_platform,
				     const struct dcap_vcoll **out);

/*
 * Who may connect, on top of attestation. Empty lists allow anything.
 * app_ids and mr_aggregated match the attested claims (runtime events,
 * replayed against RTMR3); usages match the CERT_USAGE extension, which is
 * an issuer claim: rely on it only together with require_chain (the
 * certificate chains to the CA that issues those usages).
 */
struct ratls_policy {
	const uint8_t (*app_ids)[RATLS_APP_ID_LEN];
	size_t n_app_ids;
	const uint8_t (*mr_aggregated)[32];
	size_t n_mr_aggregated;
	const char *const *usages;
	size_t n_usages;
};

enum ratls_mode {
	RATLS_REQUIRED = 0,   /* every peer certificate must carry evidence that verifies */
	RATLS_OPTIONAL,       /* a certificate without evidence passes on OpenSSL's chain verdict alone
				 (not attested); one with evidence must still verify */
};

struct ratls_verifier_config {
	struct attest_trust trust;          /* DCAP / AMD anchors; intel_dev_root admits the simulator (dev verdicts) */
	struct attest_policy attest;        /* TCB policy (zero = strict UpToDate); expected_report_data is ignored */
	ratls_collateral_fn get_collateral; /* TDX; required for TDX evidence */
	void *collateral_arg;
	struct ratls_policy policy;
	enum ratls_mode mode;               /* TLS adapter */
	int require_chain;                  /* TLS adapter: also require OpenSSL's chain verdict (peer->chain_ok) */
	size_t cache_entries;               /* verdict cache capacity; 0 = 1024 */
	uint64_t cache_max_ttl_s;           /* cap on a cached verdict's life; 0 = 300 s */
	uint64_t (*clock)(void *arg);       /* TLS adapter's clock (unix s); NULL = wall_s */
	void *clock_arg;
};

/* Which step of ratls_verify_* failed. */
enum ratls_step {
	RATLS_STEP_NONE = 0,
	RATLS_STEP_CERT,                    /* validity window, DER */
	RATLS_STEP_EVIDENCE,                /* no extension, malformed, unsupported platform */
	RATLS_STEP_BINDING,                 /* report_data vs SPKI, stack vs quote */
	RATLS_STEP_COLLATERAL,              /* nothing prefetched for the platform */
	RATLS_STEP_PLATFORM,                /* lib/attest rejected the quote/report: err is its ERR_ATTEST_* */
	RATLS_STEP_EVENTLOG,                /* runtime events malformed or RTMR3 replay mismatch */
	RATLS_STEP_POLICY,                  /* app id / mr_aggregated / usage not allowed */
};
const char *ratls_step_name(enum ratls_step s);

/* Why a verification failed: the step, its error, and text for logs (never evidence bytes). */
struct ratls_failure {
	err_t err;
	enum ratls_step step;
	char detail[192];
};

/*
 * An accepted certificate: claims and extension values. Immutable and
 * reference-counted (the cache and every connection share it): take a
 * reference with ratls_verdict_ref, drop it with ratls_verdict_unref.
 * Not thread-safe, like the verifier.
 */
struct ratls_verdict {
	struct attest_claims claims;        /* tee, dev, tcb, app/compose/instance/device ids, mr_system,
					       mr_aggregated, mr_aggregated_boot (SignCert), os_image_hash,
					       key provider; pointers into the verdict */
	enum ratls_platform platform;
	int attestation_version;            /* 0 or 1; -1 for legacy .1/.2 evidence */
	uint8_t cert_sha256[32];
	uint64_t not_after;                 /* the certificate's */
	uint64_t expires_at;                /* cached until: min(not_after, collateral expiry, now + max TTL) */
	int has_usage;                      /* CERT_USAGE extension (issuer claim) */
	char usage[RATLS_USAGE_MAX + 1];
	int has_cert_app_id;                /* APP_ID extension (issuer claim) */
	uint8_t cert_app_id[RATLS_APP_ID_LEN];
	const char *config;                 /* the stack's vm_config text ("" when none) */
	size_t config_len;
	/*
	 * APP_INFO extension, decoded (ratls_app_info_decode; a certificate whose
	 * APP_INFO does not decode is refused at the evidence step). An issuer
	 * claim like APP_ID and CERT_USAGE: verification checks the evidence, not
	 * this, so trust it only when the certificate chains to the CA that
	 * computed it (require_chain, or a chain check of your own). Views into
	 * the verdict.
	 */
	int has_app_info;
	struct ratls_app_info app_info;
	/* private */
	unsigned refs;
	uint32_t magic;
	struct arena arena;
};
void ratls_verdict_ref(const struct ratls_verdict *v);
void ratls_verdict_unref(const struct ratls_verdict *v);

struct ratls_verifier;

/*
 * A verifier. The config is copied; what it points to (trust anchors,
 * policy lists, advisory strings, collateral provider) is borrowed and must
 * outlive the verifier. Not thread-safe: one per event loop. NULL on
 * allocation failure or an invalid config.
 */
struct ratls_verifier *ratls_verifier_new(const struct ratls_verifier_config *cfg);
void ratls_verifier_free(struct ratls_verifier *v);

/*
 * Verify a certificate at `now` (unix s): validity window; verdict cache
 * (SHA-256 of the DER); evidence (ratls_cert_evidence); binding of the
 * stack report_data and the quote's to SHA-512("ratls-cert:" || SPKI);
 * platform evidence (TDX: the collateral provider, then dcap_verify_quote
 * with cfg.attest and a check that the collateral's anchor is one of
 * cfg.trust; SEV-SNP: snp_verify with the evidence's certificate chain);
 * RTMR3 replay of the runtime events; claims; cfg.policy.
 * On success *out is a new reference (ratls_verdict_unref). On failure it
 * returns the failing step's error: ERR_RATLS_* or, for the platform step,
 * lib/attest's ERR_ATTEST_* code; `why` (may be NULL) says which step.
 * Successful verdicts are cached until their expires_at; failures are not.
 * The certificate is borrowed; it is not checked against any CA here (the
 * TLS adapter has OpenSSL's chain verdict for that).
 */
err_t ratls_verify_cert(struct ratls_verifier *v, X509 *leaf, uint64_t now, const struct ratls_verdict **out,
			struct ratls_failure *why) MUST_CHECK;
err_t ratls_verify_der(struct ratls_verifier *v, const uint8_t *der, size_t len, uint64_t now,
		       const struct ratls_verdict **out, struct ratls_failure *why) MUST_CHECK;

/*
 * Verify evidence that is not in a certificate (a SignCert CSR's) and must
 * bind the key whose SubjectPublicKeyInfo DER is `spki` (hashed exactly as
 * given, as dstack's verify_with_ra_pubkey does): the steps of
 * ratls_verify_cert from the binding on — binding to SHA-512("ratls-cert:"
 * || spki), platform, RTMR3 replay, claims, cfg.policy. There is no
 * certificate, so no validity window, no verdict cache (nothing is looked
 * up or stored), cert_sha256 is zero, not_after 0, and no CERT_USAGE /
 * APP_ID extension: a policy that lists usages refuses. `att` and `spki`
 * are borrowed for the call; the verdict copies what it keeps. Results,
 * errors, `why` and the counters as ratls_verify_cert.
 */
err_t ratls_verify_evidence(struct ratls_verifier *v, const struct ratls_attestation *att, const uint8_t *spki,
			    size_t spki_len, uint64_t now, const struct ratls_verdict **out,
			    struct ratls_failure *why) MUST_CHECK;
/*
 * The same for VersionedAttestation bytes: decoded first (malformed bytes are
 * ERR_RATLS_EVIDENCE_FORMAT, an undecodable platform ERR_RATLS_UNSUPPORTED,
 * at the evidence step), then ratls_verify_evidence.
 */
err_t ratls_verify_attestation(struct ratls_verifier *v, const uint8_t *att, size_t att_len, const uint8_t *spki,
			       size_t spki_len, uint64_t now, const struct ratls_verdict **out,
			       struct ratls_failure *why) MUST_CHECK;

struct ratls_stats {
	uint64_t verifications;             /* ratls_verify_* calls */
	uint64_t cache_hits, cache_misses, cache_evictions;
	uint64_t platform_checks;           /* quote/report verifications run (the ECDSA work) */
	uint64_t accepted, rejected;
	err_t last_err;                     /* of the last rejection */
	enum ratls_step last_step;
};
void ratls_verifier_stats(const struct ratls_verifier *v, struct ratls_stats *out);
/* Drop every cached verdict (e.g. after a collateral refresh that lowered a TCB status). */
void ratls_verifier_flush(struct ratls_verifier *v);

/*
 * A struct tls_verifier for lib/rpc contexts (servers via tls_opts.verifier,
 * rpc_client the same way). In the handshake it verifies the peer's leaf
 * with cfg.clock: accepted -> peer->attested = 1 and peer->data = a verdict
 * reference (released by free_data; read it with ratls_peer_verdict). A
 * certificate with evidence that does not verify fails the handshake in
 * both modes; one without evidence fails it in RATLS_REQUIRED and passes on
 * peer->chain_ok in RATLS_OPTIONAL. require_chain additionally demands
 * peer->chain_ok. Rejections are logged (subject, step, error) and counted.
 * `v` is borrowed and must outlive every context using *out.
 */
void ratls_tls_verifier(struct ratls_verifier *v, struct tls_verifier *out);
/* The verdict attached to a connection's peer by that adapter (borrowed), or NULL. */
const struct ratls_verdict *ratls_peer_verdict(const struct tls_peer *peer);

/*
 * A small collateral provider: verified collateral per (FMSPC, PCK CA
 * type), filled by the caller ahead of time. ratls_coll_store_put parses
 * dcap-qvl collateral JSON, verifies it against `t` (dcap_vcoll_new) and
 * keeps it under the FMSPC of its TCB info (replacing an older one).
 * ratls_coll_store_get is a ratls_collateral_fn. Not thread-safe.
 */
struct ratls_coll_store;
struct ratls_coll_store *ratls_coll_store_new(void);
void ratls_coll_store_free(struct ratls_coll_store *s);
err_t ratls_coll_store_put(struct ratls_coll_store *s, const char *json, size_t len, const struct attest_trust *t,
			   const char **detail) MUST_CHECK;
err_t ratls_coll_store_get(void *store, const uint8_t fmspc[6], int ca_platform, const struct dcap_vcoll **out);
/* The same from collateral already in parts (e.g. from the attest service's GetCollateral). */
err_t ratls_coll_store_put_parsed(struct ratls_coll_store *s, const struct dcap_collateral *dc,
				  const struct attest_trust *t, const char **detail) MUST_CHECK;

/*
 * A ratls_quote_fn over a lib/tee backend (`arg` is the struct tee *): the
 * quote and its event log taken together (tee_quote_with_log). TDX and the
 * sim backend; SEV-SNP evidence is ERR_UNIMPLEMENTED here for now.
 */
err_t ratls_tee_quote(void *arg, const uint8_t report_data[RATLS_REPORT_DATA_LEN], struct ratls_quote *out);

/* ---------------------------------------------------------------------------------------------- */
/* 5. Certificate signing requests (dstack ra-tls cert.rs; the KMS's SignCert)                    */

#define RATLS_CSR_CONFIRM "please sign cert:"  /* the confirm word every CSR carries */
/* Hard limits on a CSR's bytes and fields (SignCertRequest.csr is at most 1 MiB too). */
#define RATLS_CSR_MAX (1u << 20)
#define RATLS_CSR_CONFIRM_MAX 64
#define RATLS_CSR_PUBKEY_MAX 1024                     /* SubjectPublicKeyInfo DER */
#define RATLS_CSR_STR_MAX 1024                        /* org_name, subject, each alt name */
#define RATLS_CSR_MAX_NAMES 64                        /* subject_alt_names entries */
#define RATLS_CSR_SIG_MAX 72                          /* DER ECDSA P-256 signature */

/*
 * dstack's CertConfigV2 (SCALE field order): org_name Option<String>,
 * subject String, subject_alt_names Vec<String>, usage_server_auth bool,
 * usage_client_auth bool, ext_quote bool, ext_app_info bool, not_before
 * Option<u64>, not_after Option<u64>. CertConfig (V1 CSRs) is the first six
 * fields. Strings are NUL-terminated copies (valid UTF-8 without NUL).
 */
struct ratls_csr_config {
	const char *org_name;             /* NULL = None */
	const char *subject;
	const char **alt_names;
	size_t n_alt_names;
	int usage_server_auth, usage_client_auth;
	int ext_quote;                    /* put the CSR's attestation into the certificate */
	int ext_app_info;                 /* put APP_INFO into the certificate (V2 only; section 3) */
	int has_not_before, has_not_after;/* V2 only */
	uint64_t not_before, not_after;   /* unix seconds */
};

/*
 * A CSR. version 2: CertSigningRequestV2 { confirm String, pubkey Vec<u8>,
 * config CertConfigV2, attestation VersionedAttestation } where the
 * attestation is the rest of the input (kept raw, decoded by the verifier).
 * version 1: CertSigningRequestV1 { confirm, pubkey, config CertConfig,
 * quote Vec<u8>, event_log Vec<u8> (JSON) }. The version is the SignCert
 * api_version, not in the bytes.
 */
struct ratls_csr {
	int version;                      /* 1 or 2 */
	const char *confirm;              /* must be RATLS_CSR_CONFIRM */
	const uint8_t *pubkey;            /* SPKI DER as sent (what the evidence binds) */
	size_t pubkey_len;
	struct ratls_csr_config config;
	const uint8_t *attestation;       /* V2: VersionedAttestation bytes, at least one */
	size_t attestation_len;
	const uint8_t *quote;             /* V1: raw TDX quote */
	size_t quote_len;
	const uint8_t *event_log;         /* V1: dstack's JSON event log */
	size_t event_log_len;
};

/*
 * Decode a SCALE CSR of `version` (1 or 2, else ERR_INVALID_ARG). Strict:
 * canonical compact lengths, Option tags and bools 0 or 1, UTF-8 strings
 * without NUL, the RATLS_CSR_* limits, the confirm word, nothing after a V1
 * CSR's event log (ERR_PROTO_TRAILING). Errors: ERR_PROTO_TRUNCATED,
 * ERR_PROTO_TRAILING, ERR_PROTO_TOO_LARGE, ERR_PROTO_MALFORMED (bad tag,
 * bool, confirm word), ERR_PROTO_ENCODING (UTF-8, NUL), ERR_BUDGET /
 * ERR_NOMEM. Byte fields are views into `p` (borrowed: it must outlive
 * *out); strings are copies in `a`. `detail` (may be NULL) gets static text.
 */
err_t ratls_csr_decode(int version, const uint8_t *p, size_t len, struct arena *a, struct ratls_csr *out,
		       const char **detail) MUST_CHECK;

/*
 * Encode csr->version's format; appends to w. Decoding the result gives csr
 * back (the encoding is canonical). ERR_INVALID_ARG when a field breaks the
 * limits, a V1 CSR sets V2-only fields, or a V2 CSR has no attestation.
 * The confirm word is written as given (NULL = RATLS_CSR_CONFIRM).
 */
err_t ratls_csr_encode(const struct ratls_csr *csr, struct buf_writer *w) MUST_CHECK;

/* Sign CSR bytes with `key` (P-256): ECDSA-SHA256, ASN.1 DER, appended to w. ERR_CRYPTO on failure. */
err_t ratls_csr_sign(const uint8_t *csr, size_t len, EVP_PKEY *key, struct buf_writer *w) MUST_CHECK;

/*
 * Check a CSR's signature: csr->pubkey must be a P-256 SubjectPublicKeyInfo
 * in canonical DER (ERR_INVALID_ARG otherwise) and `sig` a strict DER
 * ECDSA-SHA256 signature by it over `bytes`, the exact CSR bytes that were
 * decoded (ERR_PROTO_SIGNATURE otherwise). *key_out (may be NULL) gets the
 * public key on success; caller frees.
 */
err_t ratls_csr_verify_signature(const struct ratls_csr *csr, const uint8_t *bytes, size_t len, const uint8_t *sig,
				 size_t sig_len, EVP_PKEY **key_out, const char **detail) MUST_CHECK;

#endif
