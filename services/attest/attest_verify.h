/* SPDX-License-Identifier: Apache-2.0 */
/* Glue from proto Evidence + VerificationPolicy + collateral to lib/attest, and the caching verifier the RPCs and the CLI share. */
#ifndef DS_ATTEST_VERIFY_H
#define DS_ATTEST_VERIFY_H

#include "arena.h"
#include "attest_collateral.h"
#include "dcap.h"            /* lib/attest (and its attest.h: policy, trust, verdict) */
#include "snp.h"
#include "dstack/attest/v1/attest.pb-c.h"
#include "err.h"
#include "metrics.h"

/*
 * Two layers:
 *
 *  - av_* (attest_verify.c): pure glue. Turns a proto Evidence into views
 *    of its bytes, a proto VerificationPolicy into a struct attest_policy
 *    plus the expectations lib/attest does not know (lists of accepted
 *    values, dev root, TEE types, SEV-SNP VMPL/TCB), runs the lib verifier
 *    against collateral the caller resolved, replays the event log, derives
 *    the dstack claims and writes the proto Verdict / InspectResponse. No
 *    I/O and no clock: `now` is a parameter.
 *
 *  - attest_verifier (attest_verifier.c): the stateful part for one event
 *    loop: resolves collateral (request, else the collateral cache,
 *    asynchronously when it has to be fetched), keeps verified DCAP
 *    collateral (struct dcap_vcoll) keyed by its content hash until it
 *    expires, the per-platform dcap_cache, a bounded verdict cache and the
 *    metrics. The RPC handlers and the CLI both go through it, so
 *    `dstack-attest verify` gives the verdict the service would.
 *
 * A rejection is a Verdict with ok = false and a typed error; only requests
 * that are malformed (ERR_INVALID_ARG and the ERR_PROTO_* codes) or whose
 * collateral cannot be obtained right now (ERR_UNAVAILABLE) fail as calls.
 * Raw evidence and keys are never logged.
 */

#define AV_MAX_BATCH 64u
#define AV_MAX_WARNINGS 16u
#define AV_WARNING_MAX 256u
#define AV_MAX_LIST 64u                 /* entries of each expected_* list */
#define AV_MAX_ADVISORIES 256u          /* allowed_advisory_ids */
#define AV_MAX_QUOTE (64u * 1024)       /* Evidence limits, as common.proto documents them */
#define AV_MAX_EVENT_LOG (1024u * 1024)
#define AV_MAX_VM_CONFIG (64u * 1024)
#define AV_MAX_CERTS 8u
#define AV_MAX_CERT (16u * 1024)
#define AV_MAX_CCEL (1024u * 1024)
#define AV_MAX_EVENTS 4096u
#define AV_MAX_MR_CONFIG (64u * 1024)
#define AV_SNP_REPORT_LEN 1184u

/* ---------------------------------------------------------------------------------------------- */
/* Evidence                                                                                        */

/*
 * Views of a validated Evidence message (borrowed from it; valid while it
 * is). event_log is JSON text: the message's own, or rebuilt in the arena
 * from structured `events`.
 */
struct av_evidence {
	Dstack__Common__V1__EvidenceKind kind;
	const Dstack__Common__V1__Evidence *msg;
	const uint8_t *quote;
	size_t quote_len;
	const uint8_t *snp;
	size_t snp_len;
	const char *event_log;           /* NULL when the evidence carries none */
	size_t event_log_len;
	const uint8_t *ccel;
	size_t ccel_len;
	const uint8_t *report_data;      /* echoed report data (GetQuote), or NULL */
	size_t report_data_len;
	const ProtobufCBinaryData *certs;/* DER, leaf first */
	size_t n_certs;
};

/*
 * Check a request's Evidence: a known kind, the fields the kind uses and no
 * others, the documented size limits; `events` become JSON text in `a`.
 * ERR_INVALID_ARG (with a static *detail) for anything malformed,
 * ERR_UNIMPLEMENTED for kinds this build cannot verify (DSTACK_ATTESTATION,
 * RATLS_CERT), ERR_BUDGET / ERR_NOMEM. `e` borrowed; out views into it.
 */
err_t av_evidence_from_proto(const Dstack__Common__V1__Evidence *e, struct arena *a, struct av_evidence *out,
			     const char **detail) MUST_CHECK;

/* SHA-256 of the Evidence message's canonical (protobuf) encoding. */
void av_evidence_sha256(const Dstack__Common__V1__Evidence *e, uint8_t out[32]);
/* SHA-256 of any message's protobuf encoding (policy, collateral); NULL hashes as the empty message of no type. */
void av_message_sha256(const ProtobufCMessage *m, uint8_t out[32]);

/* Where the collateral for a piece of evidence comes from, found without collateral. */
struct av_locator {
	enum attest_tee tee;             /* UNKNOWN when the evidence does not parse */
	err_t err;                       /* parse failure: becomes the verdict */
	const char *detail;
	/* Intel */
	int has_fmspc;                   /* else pck_err says why the PCK certificate could not be read */
	err_t pck_err;
	const char *pck_detail;
	uint8_t fmspc[6];
	int ca_platform;                 /* PCK issued by the Platform CA (else Processor CA) */
	/* SEV-SNP */
	struct attest_snp_report snp;    /* parsed report (tee == SEV_SNP) */
	enum attest_snp_product product; /* UNKNOWN for v2 reports (no CPUID) */
};

/*
 * Parse just enough of the evidence to name its collateral: the quote
 * header and the PCK certificate (FMSPC, CA) from the certification data
 * or from Evidence.cert_chain; or the SNP report. Never fails: a parse
 * error is recorded in out->err and becomes the verdict later.
 */
void av_locate(const struct av_evidence *ev, struct av_locator *out);

/* ---------------------------------------------------------------------------------------------- */
/* Policy                                                                                          */

/* A policy: what lib/attest applies, plus what the glue checks on the claims. */
struct av_policy {
	struct attest_policy lib;        /* expected_report_data / allowed_advisories point into the arena */
	uint8_t report_data[64];
	int allow_dev_root;
	uint32_t tee_mask;               /* bit (1u << enum attest_tee); 0 = any */
	int require_dstack_claims;
	int has_snp_vmpl;
	uint32_t snp_vmpl;
	uint64_t min_snp_tcb;
	const Dstack__Common__V1__VerificationPolicy *msg;  /* the expected_* lists (borrowed); NULL = none */
};

/*
 * The strict default (UpToDate only, no advisories, no debug, no dev root,
 * no service TD) when `p` is NULL; otherwise `p` checked and mapped:
 * statuses and enums must be known (REVOKED can never be accepted),
 * expected_report_data 1..64 bytes (right-padded), every expected_* entry
 * of its claim's length, lists within AV_MAX_LIST / AV_MAX_ADVISORIES.
 * ERR_INVALID_ARG with a static *detail otherwise. `default_mode` is the
 * service's TCB mode for TCB_EVALUATION_MODE_UNSPECIFIED. Strings live in
 * `a` or in `p` (borrowed).
 */
err_t av_policy_from_proto(const Dstack__Common__V1__VerificationPolicy *p, enum attest_tcb_mode default_mode,
			   struct arena *a, struct av_policy *out, const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* Collateral                                                                                      */

/*
 * The four cache blobs (TCB info, QE identity, PCK CRL, Root CA CRL, in
 * that order) as lib/attest's raw collateral: views into the blobs (which
 * must outlive `out`), the signatures decoded. Exactly what
 * dcap_collateral_parse_json makes of attest_coll_dcap_json's text for
 * them (the JSON round trip is the identity on these fields: chains are
 * ASCII, the signed objects valid UTF-8), without the text. `id` gets a
 * SHA-256 over every field, naming the collateral in the verifier's caches.
 * ERR_INVALID_ARG when a blob is missing, of the wrong kind, or without
 * its DER / signature.
 */
struct attest_coll_blob;
err_t av_intel_collateral_from_blobs(const struct attest_coll_blob *const blobs[4], struct dcap_collateral *out,
				     uint8_t id[32]) MUST_CHECK;

/* IntelCollateral (proto) as lib/attest's raw collateral: views into `c`. ERR_INVALID_ARG on bad sizes. */
err_t av_intel_collateral_from_proto(const Dstack__Attest__V1__IntelCollateral *c, struct dcap_collateral *out,
				     const char **detail) MUST_CHECK;
/*
 * The other direction (the CLI turns a dcap-qvl collateral file into a
 * request this way). Strings and bytes are copied into `a`; the
 * informational validity fields stay 0 (the verifier re-reads the
 * artefacts). ERR_BUDGET / ERR_NOMEM.
 */
err_t av_intel_collateral_to_proto(const struct dcap_collateral *c, struct arena *a,
				   Dstack__Attest__V1__IntelCollateral **out, const char **detail) MUST_CHECK;

/* SEV-SNP endorsement material for snp_verify (views / arena copies). */
struct av_amd {
	const uint8_t *vcek;             /* DER or PEM */
	size_t vcek_len;
	const char *chain_pem;           /* ASK (or ASVK), then optionally the ARK */
	size_t chain_len;
	const uint8_t *crl;              /* optional */
	size_t crl_len;
};

/* AmdCollateral, or DER certificates leaf first (VCEK, ASK[, ARK]), as struct av_amd; PEM built in `a`. */
err_t av_amd_from_proto(const Dstack__Attest__V1__AmdCollateral *c, struct arena *a, struct av_amd *out,
			const char **detail) MUST_CHECK;
err_t av_amd_from_certs(const ProtobufCBinaryData *certs, size_t n, struct arena *a, struct av_amd *out,
			const char **detail) MUST_CHECK;

/* ---------------------------------------------------------------------------------------------- */
/* Verification and inspection                                                                     */

/* What av_verify is given besides evidence and policy. Everything borrowed. */
struct av_inputs {
	const struct attest_trust *trust;
	uint64_t now;
	/* Intel: verified collateral, or why there is none (err/detail become the verdict). */
	const struct dcap_vcoll *vc;
	err_t coll_err;
	const char *coll_detail;
	struct dcap_cache *cache;        /* may be NULL */
	/* SEV-SNP */
	const struct av_amd *amd;
	int include_runtime_events;
	const char *warnings[AV_MAX_WARNINGS];  /* static or arena text to pass on */
	size_t n_warnings;
};

/*
 * Verify and build the proto Verdict in `a` (ok, typed error, claims as far
 * as verification got, times, dev). Order: evidence parse, TEE type against
 * kind and policy, collateral, lib/attest (chain, signatures, TCB, its
 * policy part), the dev root (ERR_ATTEST_DEV_ROOT unless the policy allows
 * it), echoed report data, event log replay and dstack claims
 * (ERR_ATTEST_EVENT_LOG / ERR_ATTEST_RTMR_MISMATCH), the expected_* lists
 * (ERR_ATTEST_MEASUREMENT), SEV-SNP VMPL / minimum TCB. Returns ERR_OK with
 * *out set (whatever the verdict), or ERR_BUDGET / ERR_NOMEM.
 */
err_t av_verify(const struct av_evidence *ev, const struct av_locator *loc, const struct av_policy *p,
		const struct av_inputs *in, struct arena *a, Dstack__Common__V1__Verdict **out) MUST_CHECK;

/*
 * Everything computable without collateral: report fields, PCK fields and
 * device id, the collateral key, every event, the RTMR replays and the
 * dstack claims (computed over the replayed RTMR3, with a warning when it
 * differs from the quote's). ERR_INVALID_ARG with *detail when the evidence
 * or its event log does not parse.
 */
err_t av_inspect(const struct av_evidence *ev, struct arena *a, Dstack__Attest__V1__InspectResponse **out,
		 const char **detail) MUST_CHECK;

/* Enum names: lib status <-> proto, Intel's spelling of a proto status, TEE name. */
Dstack__Common__V1__TcbStatus av_status_to_proto(enum tcb_status s);
const char *av_status_name(Dstack__Common__V1__TcbStatus s);
Dstack__Common__V1__TeeType av_tee_to_proto(enum attest_tee t);

/* ---------------------------------------------------------------------------------------------- */
/* The caching verifier                                                                            */

struct attest_verifier;

struct attest_verifier_config {
	const struct attest_trust *trust;      /* borrowed; must outlive the verifier */
	struct attest_collateral *coll;        /* borrowed; NULL = only request-supplied collateral */
	struct metrics *metrics;               /* borrowed; NULL = no metrics */
	enum attest_tcb_mode default_tcb_mode;
	size_t verdict_cache_entries;          /* 0 = no verdict cache */
	size_t vcoll_cache_entries;            /* 0 = 32 */
	size_t platform_cache_slots;           /* 0 = 1024 */
};

/* NULL on allocation failure. */
struct attest_verifier *attest_verifier_new(const struct attest_verifier_config *cfg);
/*
 * Shutting down: from now on every pending verification is answered with
 * ERR_CANCELLED without touching its request or arena (they may be gone).
 * Call it before freeing the collateral cache, whose free runs the pending
 * callbacks; free the verifier after that.
 */
void attest_verifier_close(struct attest_verifier *vf);
void attest_verifier_free(struct attest_verifier *vf);

/*
 * The answer of one verification: err is ERR_OK with *verdict set, or the
 * call's error (ERR_INVALID_ARG, ERR_UNAVAILABLE, ERR_CANCELLED ...) with a
 * detail valid during the callback.
 */
typedef void (*attest_verify_cb)(void *arg, err_t err, const char *detail, Dstack__Common__V1__Verdict *verdict);

#define AV_PENDING 1

/*
 * Verify one request at req->evaluate_at_unix, or at `now` when that is 0.
 * Returns ERR_OK with *out set (answered now), AV_PENDING when collateral is
 * being fetched (cb runs once, later, from the loop; never from inside this
 * call), or an error with *detail (no callback). The request and the arena
 * must stay valid until the answer; the verdict lives in `a`.
 */
int attest_verifier_verify(struct attest_verifier *vf, const Dstack__Attest__V1__VerifyRequest *req, uint64_t now,
			   struct arena *a, attest_verify_cb cb, void *arg, Dstack__Common__V1__Verdict **out,
			   const char **detail) MUST_CHECK;

/* The service's verification state (attest_rpc.c). */
struct attest_verify_state {
	struct attest_trust trust;           /* owned references */
	struct attest_verifier *verifier;    /* owned */
};

/* Verdict-cache and collateral counters, for GetInfo and tests. */
struct attest_verifier_stats {
	uint64_t verdict_hits, verdict_misses;
	size_t verdict_entries, verdict_capacity;
	size_t vcoll_entries;
};
void attest_verifier_stats(const struct attest_verifier *vf, struct attest_verifier_stats *out);

#endif
