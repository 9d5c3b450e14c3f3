/* SPDX-License-Identifier: Apache-2.0 */
/* Glue from proto Evidence, VerificationPolicy and collateral to lib/attest's verifiers, event log and claims. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest_verify.h"
#include "claims.h"
#include "crypto.h"
#include "enc.h"
#include "eventlog.h"
#include "json.h"
#include "pbcodec.h"

typedef Dstack__Common__V1__Evidence pb_evidence;
typedef Dstack__Common__V1__Verdict pb_verdict;
typedef Dstack__Common__V1__Claims pb_claims;
typedef Dstack__Common__V1__VerificationPolicy pb_policy;
typedef Dstack__Common__V1__EventLogEntry pb_event;

#define K(x) DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_##x
#define S(x) DSTACK__COMMON__V1__TCB_STATUS__TCB_STATUS_##x
#define T(x) DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_##x

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

static err_t bad(const char **detail, const char *why)
{
	SET_DETAIL(detail, why);
	return ERR_INVALID_ARG;
}

/* ---------------------------------------------------------------------------------------------- */
/* Small proto helpers                                                                             */

/* A copy of n bytes in the arena as a bytes field; 0 on allocation failure. */
static int setb(struct arena *a, ProtobufCBinaryData *d, const void *p, size_t n)
{
	d->len = 0;
	d->data = NULL;
	if (!n)
		return 1;
	d->data = arena_memdup(a, p, n);
	if (!d->data)
		return 0;
	d->len = n;
	return 1;
}

/* A string field: a copy of s[0..n) cut at the first NUL (proto strings cannot hold one) and at `max`. */
static char *sdup(struct arena *a, const char *s, size_t n, size_t max)
{
	size_t k = 0;

	while (k < n && k < max && s[k])
		k++;
	/* Never cut inside a UTF-8 sequence. */
	while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return arena_memdup(a, s, k);
}

/* ---------------------------------------------------------------------------------------------- */
/* Enums                                                                                           */

Dstack__Common__V1__TcbStatus av_status_to_proto(enum tcb_status s)
{
	switch (s) {
	case TCB_UP_TO_DATE: return S(UP_TO_DATE);
	case TCB_SW_HARDENING_NEEDED: return S(SW_HARDENING_NEEDED);
	case TCB_CONFIGURATION_NEEDED: return S(CONFIGURATION_NEEDED);
	case TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED: return S(CONFIGURATION_AND_SW_HARDENING_NEEDED);
	case TCB_OUT_OF_DATE: return S(OUT_OF_DATE);
	case TCB_OUT_OF_DATE_CONFIGURATION_NEEDED: return S(OUT_OF_DATE_CONFIGURATION_NEEDED);
	case TCB_REVOKED: return S(REVOKED);
	case TCB_TD_RELAUNCH_ADVISED: return S(TD_RELAUNCH_ADVISED);
	case TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED: return S(TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED);
	default: return S(UNSPECIFIED);
	}
}

/* -1 for UNSPECIFIED and values we do not know. */
static int status_from_proto(Dstack__Common__V1__TcbStatus s)
{
	for (int i = 0; i < TCB_STATUS_COUNT; i++)
		if (av_status_to_proto((enum tcb_status)i) == s)
			return i;
	return -1;
}

const char *av_status_name(Dstack__Common__V1__TcbStatus s)
{
	int i = status_from_proto(s);

	return i < 0 ? NULL : tcb_status_name((enum tcb_status)i);
}

Dstack__Common__V1__TeeType av_tee_to_proto(enum attest_tee t)
{
	switch (t) {
	case ATTEST_TEE_TDX: return T(TDX);
	case ATTEST_TEE_SGX: return T(SGX);
	case ATTEST_TEE_SEV_SNP: return T(SEV_SNP);
	default: return T(UNSPECIFIED);
	}
}

static int tee_from_proto(Dstack__Common__V1__TeeType t)
{
	switch (t) {
	case T(TDX): return ATTEST_TEE_TDX;
	case T(SGX): return ATTEST_TEE_SGX;
	case T(SEV_SNP): return ATTEST_TEE_SEV_SNP;
	default: return -1;
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* Hashing a message's wire encoding without materialising it                                     */

struct sha_sink {
	ProtobufCBuffer base;
	EVP_MD_CTX *ctx;
};

static void sha_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct sha_sink *s = (struct sha_sink *)b;

	if (s->ctx && len)
		EVP_DigestUpdate(s->ctx, data, len);
}

void av_message_sha256(const ProtobufCMessage *m, uint8_t out[32])
{
	struct sha_sink s = { { sha_append }, EVP_MD_CTX_new() };
	unsigned int n = 32;

	if (!s.ctx || !EVP_DigestInit_ex(s.ctx, EVP_sha256(), NULL)) {
		/* Without a digest there is no key: a value no real input hashes to keeps caches from matching. */
		memset(out, 0xff, 32);
		EVP_MD_CTX_free(s.ctx);
		return;
	}
	if (m)
		protobuf_c_message_pack_to_buffer(m, &s.base);
	EVP_DigestFinal_ex(s.ctx, out, &n);
	EVP_MD_CTX_free(s.ctx);
}

void av_evidence_sha256(const pb_evidence *e, uint8_t out[32])
{
	av_message_sha256(&e->base, out);
}

/* ---------------------------------------------------------------------------------------------- */
/* Evidence                                                                                        */

/* Field presence bits, to say which fields a kind allows. */
enum {
	F_QUOTE = 1u << 0, F_EVLOG = 1u << 1, F_RDATA = 1u << 2, F_VMCFG = 1u << 3, F_ATT = 1u << 4,
	F_SNP = 1u << 5, F_CERTS = 1u << 6, F_CCEL = 1u << 7, F_EVENTS = 1u << 8, F_CERT = 1u << 9,
	F_MRCFG = 1u << 10,
};

static unsigned present(const pb_evidence *e)
{
	unsigned f = 0;

	f |= e->quote.len ? F_QUOTE : 0;
	f |= e->event_log && e->event_log[0] ? F_EVLOG : 0;
	f |= e->report_data.len ? F_RDATA : 0;
	f |= e->vm_config && e->vm_config[0] ? F_VMCFG : 0;
	f |= e->attestation.len ? F_ATT : 0;
	f |= e->snp_report.len ? F_SNP : 0;
	f |= e->n_cert_chain ? F_CERTS : 0;
	f |= e->ccel.len ? F_CCEL : 0;
	f |= e->n_events ? F_EVENTS : 0;
	f |= e->certificate.len ? F_CERT : 0;
	f |= e->mr_config && e->mr_config[0] ? F_MRCFG : 0;
	return f;
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t *o = buf_reserve(w, 2 * n);

	if (!o)
		return;
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = (uint8_t)hx[p[i] >> 4];
		o[2 * i + 1] = (uint8_t)hx[p[i] & 15];
	}
	buf_commit(w, 2 * n);
}

/* Structured events as dstack's TdxEvent JSON, so one parser (lib/attest) checks both forms. */
static err_t events_to_json(const pb_evidence *e, struct arena *a, const char **out, size_t *len,
			    const char **detail)
{
	struct buf_writer w;
	char *text;
	err_t err;

	buf_writer_init(&w, (size_t)ATTEST_EVENTLOG_MAX_TEXT);
	buf_put_str(&w, "[");
	for (size_t i = 0; i < e->n_events; i++) {
		const pb_event *ev = e->events[i];

		if (!ev)
			continue;
		if (ev->digest.len > 64 || ev->event_payload.len > ATTEST_EVENTLOG_MAX_PAYLOAD ||
		    ev->preimage.len > 2 * ATTEST_EVENTLOG_MAX_PAYLOAD || strlen(ev->event) > 256) {
			buf_writer_free(&w);
			return bad(detail, "an event is over the size limits (digest 48, name 256, payload 64 KiB)");
		}
		buf_printf(&w, "%s{\"imr\":%u,\"event_type\":%u,\"digest\":\"", i ? "," : "", ev->imr, ev->event_type);
		put_hex(&w, ev->digest.data, ev->digest.len);
		buf_put_str(&w, "\",\"event\":");
		json_put_string(&w, ev->event, strlen(ev->event));
		buf_put_str(&w, ",\"event_payload\":\"");
		put_hex(&w, ev->event_payload.data, ev->event_payload.len);
		buf_put_str(&w, "\"");
		if (ev->version)
			buf_printf(&w, ",\"version\":%u", ev->version);
		if (ev->preimage.len) {
			buf_put_str(&w, ",\"preimage\":\"");
			put_hex(&w, ev->preimage.data, ev->preimage.len);
			buf_put_str(&w, "\"");
		}
		buf_put_str(&w, "}");
	}
	buf_put_str(&w, "]");
	if ((err = buf_writer_status(&w)) != ERR_OK) {
		buf_writer_free(&w);
		SET_DETAIL(detail, "structured events are over the event log size limit");
		return err == ERR_NOMEM ? err : ERR_PROTO_TOO_LARGE;
	}
	text = arena_memdup(a, w.p, w.len);
	*len = w.len;
	buf_writer_free(&w);
	if (!text)
		return arena_err(a);
	*out = text;
	return ERR_OK;
}

err_t av_evidence_from_proto(const pb_evidence *e, struct arena *a, struct av_evidence *out, const char **detail)
{
	unsigned f, need, allow;

	memset(out, 0, sizeof(*out));
	if (!e)
		return bad(detail, "evidence is required");
	f = present(e);
	switch (e->kind) {
	case K(TDX_QUOTE):
		need = F_QUOTE;
		allow = F_QUOTE | F_EVLOG | F_EVENTS | F_CCEL | F_RDATA | F_VMCFG | F_CERTS;
		break;
	case K(SGX_QUOTE):
		need = F_QUOTE;
		allow = F_QUOTE | F_RDATA | F_CERTS;
		break;
	case K(SEV_SNP_REPORT):
		need = F_SNP;
		allow = F_SNP | F_CERTS | F_EVLOG | F_EVENTS | F_MRCFG | F_RDATA | F_VMCFG;
		break;
	case K(DSTACK_QUOTE):
		need = F_QUOTE;
		allow = F_QUOTE | F_EVLOG | F_EVENTS | F_RDATA | F_VMCFG | F_CCEL | F_CERTS;
		if (!(f & (F_EVLOG | F_EVENTS)))
			return bad(detail, "DSTACK_QUOTE evidence needs event_log or events");
		break;
	case K(DSTACK_ATTESTATION):
	case K(RATLS_CERT):
		SET_DETAIL(detail, "this evidence kind is not supported by this build (see GetInfo.evidence_kinds)");
		return ERR_UNIMPLEMENTED;
	default:
		return bad(detail, "evidence.kind is required and must be a known EvidenceKind");
	}
	if ((f & need) != need)
		return bad(detail, e->kind == K(SEV_SNP_REPORT) ? "evidence.snp_report is required for this kind"
							       : "evidence.quote is required for this kind");
	if (f & ~allow)
		return bad(detail, "evidence carries a field its kind does not use");
	if ((f & F_EVLOG) && (f & F_EVENTS))
		return bad(detail, "evidence.event_log and evidence.events are mutually exclusive");
	if (e->quote.len > AV_MAX_QUOTE)
		return bad(detail, "evidence.quote is over 64 KiB");
	if (e->snp_report.len > 4 * AV_SNP_REPORT_LEN)
		return bad(detail, "evidence.snp_report is far over 1184 bytes");
	if ((f & F_EVLOG) && strlen(e->event_log) > AV_MAX_EVENT_LOG)
		return bad(detail, "evidence.event_log is over 1 MiB");
	if ((f & F_VMCFG) && strlen(e->vm_config) > AV_MAX_VM_CONFIG)
		return bad(detail, "evidence.vm_config is over 64 KiB");
	if ((f & F_MRCFG) && strlen(e->mr_config) > AV_MAX_MR_CONFIG)
		return bad(detail, "evidence.mr_config is over 64 KiB");
	if (e->ccel.len > AV_MAX_CCEL)
		return bad(detail, "evidence.ccel is over 1 MiB");
	if (e->report_data.len > 64)
		return bad(detail, "evidence.report_data is over 64 bytes");
	if (e->n_cert_chain > AV_MAX_CERTS)
		return bad(detail, "evidence.cert_chain has more than 8 certificates");
	for (size_t i = 0; i < e->n_cert_chain; i++)
		if (!e->cert_chain[i].len || e->cert_chain[i].len > AV_MAX_CERT)
			return bad(detail, "an evidence.cert_chain entry is empty or over 16 KiB");
	if (e->n_events > AV_MAX_EVENTS)
		return bad(detail, "evidence.events has more than 4096 entries");

	out->kind = e->kind;
	out->msg = e;
	out->quote = e->quote.data;
	out->quote_len = e->quote.len;
	out->snp = e->snp_report.data;
	out->snp_len = e->snp_report.len;
	out->ccel = e->ccel.len ? e->ccel.data : NULL;
	out->ccel_len = e->ccel.len;
	out->report_data = e->report_data.len ? e->report_data.data : NULL;
	out->report_data_len = e->report_data.len;
	out->certs = e->cert_chain;
	out->n_certs = e->n_cert_chain;
	if (f & F_EVLOG) {
		out->event_log = e->event_log;
		out->event_log_len = strlen(e->event_log);
	} else if (f & F_EVENTS) {
		return events_to_json(e, a, &out->event_log, &out->event_log_len, detail);
	}
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Locating the collateral                                                                         */

/* The PCK leaf: the quote's type-5 chain, else the evidence's cert_chain[0]. Caller frees. */
static X509 *pck_leaf(const struct av_evidence *ev, const struct dcap_quote *q)
{
	X509 *leaf = NULL;

	if (q->cert_type == DCAP_CERT_PCK_CHAIN) {
		STACK_OF(X509) *sk = pem_certs_parse((const char *)q->cert_data, q->cert_data_len);

		if (sk && sk_X509_num(sk) > 0) {
			leaf = sk_X509_value(sk, 0);
			X509_up_ref(leaf);
		}
		sk_X509_pop_free(sk, X509_free);
		return leaf;
	}
	if (ev->n_certs)
		return x509_from_bytes(ev->certs[0].data, ev->certs[0].len);
	return NULL;
}

void av_locate(const struct av_evidence *ev, struct av_locator *out)
{
	memset(out, 0, sizeof(*out));
	if (ev->kind == K(SEV_SNP_REPORT)) {
		out->err = snp_report_parse(ev->snp, ev->snp_len, &out->snp);
		if (out->err) {
			out->detail = "the SEV-SNP report does not parse";
			return;
		}
		out->tee = ATTEST_TEE_SEV_SNP;
		out->product = out->snp.product;
		return;
	}
	{
		struct dcap_quote q;
		struct dcap_pck_info info;
		X509 *leaf;
		int want_tdx = ev->kind != K(SGX_QUOTE);

		out->err = dcap_quote_parse(ev->quote, ev->quote_len, &q, &out->detail);
		if (out->err)
			return;
		out->tee = q.tee_type == DCAP_TEE_TDX ? ATTEST_TEE_TDX : ATTEST_TEE_SGX;
		if (want_tdx != (out->tee == ATTEST_TEE_TDX)) {
			out->err = ERR_ATTEST_TEE_TYPE;
			out->detail = "the quote's TEE type does not match the evidence kind";
			return;
		}
		/*
		 * The leaf read without OpenSSL's X509 first (its d2i decodes the
		 * key, which costs more than a signature check in OpenSSL 3.0, and
		 * this only names the collateral): the verification parses and
		 * checks the whole chain itself. Any other shape takes the OpenSSL
		 * path below, which also names the error.
		 */
		if (q.cert_type == DCAP_CERT_PCK_CHAIN && dcap_quote_pck_locate(&q, &info) == ERR_OK) {
			memcpy(out->fmspc, info.fmspc, 6);
			out->ca_platform = info.ca_platform;
			out->has_fmspc = 1;
			return;
		}
		leaf = pck_leaf(ev, &q);
		if (!leaf) {
			out->pck_err = q.cert_type == DCAP_CERT_PCK_CHAIN ? ERR_ATTEST_CERT_CHAIN : ERR_ATTEST_CERT_DATA;
			out->pck_detail = q.cert_type == DCAP_CERT_PCK_CHAIN
						  ? "the quote's PCK certificate chain does not parse"
						  : "the quote carries no PCK certificate: give it in evidence.cert_chain";
		} else if ((out->pck_err = dcap_pck_cert_info(leaf, &info, &out->pck_detail)) == ERR_OK) {
			memcpy(out->fmspc, info.fmspc, 6);
			out->ca_platform = info.ca_platform;
			out->has_fmspc = 1;
		}
		X509_free(leaf);
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* Policy                                                                                          */

struct list_rule {
	size_t off_n, off_v;       /* offsets of n_expected_x and expected_x in the message */
	size_t len;
	const char *name;
};

#define LIST(f, l) { offsetof(pb_policy, n_expected_##f), offsetof(pb_policy, expected_##f), l, #f }

static const struct list_rule list_rules[] = {
	LIST(mrtd, 48), LIST(rtmr0, 48), LIST(rtmr1, 48), LIST(rtmr2, 48), LIST(rtmr3, 48),
	LIST(mr_config_id, 48), LIST(app_id, 20), LIST(compose_hash, 32), LIST(os_image_hash, 32),
	LIST(mr_aggregated, 32), LIST(mr_system, 32), LIST(device_id, 32), LIST(mr_enclave, 32),
	LIST(mr_signer, 32), LIST(snp_measurement, 48), LIST(snp_host_data, 32),
};

static void list_get(const pb_policy *p, const struct list_rule *r, size_t *n, const ProtobufCBinaryData **v)
{
	*n = *(const size_t *)((const char *)p + r->off_n);
	*v = *(ProtobufCBinaryData *const *)((const char *)p + r->off_v);
}

err_t av_policy_from_proto(const pb_policy *p, enum attest_tcb_mode default_mode, struct arena *a,
			   struct av_policy *out, const char **detail)
{
	memset(out, 0, sizeof(*out));
	out->lib.tcb_mode = default_mode;
	if (!p)
		return ERR_OK;
	out->msg = p;
	for (size_t i = 0; i < p->n_accepted_tcb_statuses; i++) {
		int s = status_from_proto(p->accepted_tcb_statuses[i]);

		if (s < 0)
			return bad(detail, "policy.accepted_tcb_statuses holds an unknown status");
		if (s == TCB_REVOKED)
			return bad(detail, "policy.accepted_tcb_statuses: REVOKED can never be accepted");
		out->lib.accepted_statuses |= 1u << s;
	}
	if (p->n_allowed_advisory_ids > AV_MAX_ADVISORIES)
		return bad(detail, "policy.allowed_advisory_ids has more than 256 entries");
	if (p->n_allowed_advisory_ids) {
		const char **ids = arena_alloc(a, p->n_allowed_advisory_ids * sizeof(*ids));

		if (!ids)
			return arena_err(a);
		for (size_t i = 0; i < p->n_allowed_advisory_ids; i++) {
			if (!p->allowed_advisory_ids[i][0] || strlen(p->allowed_advisory_ids[i]) > 64)
				return bad(detail, "policy.allowed_advisory_ids: empty or over 64 bytes");
			ids[i] = p->allowed_advisory_ids[i];
		}
		out->lib.allowed_advisories = ids;
		out->lib.n_allowed_advisories = p->n_allowed_advisory_ids;
	}
	out->lib.allow_any_advisory = p->allow_any_advisory;
	out->lib.min_tcb_eval_number = p->min_tcb_evaluation_data_number;
	out->lib.max_collateral_age_s = p->max_collateral_age_seconds;
	out->lib.allow_debug = p->allow_debug;
	out->lib.allow_service_td = p->allow_service_td;
	out->allow_dev_root = p->allow_dev_root;
	for (size_t i = 0; i < p->n_accepted_tee_types; i++) {
		int t = tee_from_proto(p->accepted_tee_types[i]);

		if (t < 0)
			return bad(detail, "policy.accepted_tee_types holds an unknown TEE type");
		out->tee_mask |= 1u << t;
	}
	switch (p->tcb_evaluation_mode) {
	case DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_UNSPECIFIED:
		break;
	case DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_DCAP_QVL:
		out->lib.tcb_mode = ATTEST_TCB_DCAP_QVL;
		break;
	case DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_INTEL:
		out->lib.tcb_mode = ATTEST_TCB_INTEL;
		break;
	default:
		return bad(detail, "policy.tcb_evaluation_mode is unknown");
	}
	if (p->expected_report_data.len > 64)
		return bad(detail, "policy.expected_report_data is over 64 bytes");
	if (p->expected_report_data.len) {
		memcpy(out->report_data, p->expected_report_data.data, p->expected_report_data.len);
		out->lib.expected_report_data = out->report_data;
	}
	out->require_dstack_claims = p->require_dstack_claims;
	for (size_t i = 0; i < ARRAY_LEN(list_rules); i++) {
		const ProtobufCBinaryData *v;
		size_t n;

		list_get(p, &list_rules[i], &n, &v);
		if (n > AV_MAX_LIST)
			return bad(detail, "a policy.expected_* list has more than 64 entries");
		for (size_t k = 0; k < n; k++)
			if (v[k].len != list_rules[i].len)
				return bad(detail, "a policy.expected_* entry has the wrong length for its claim");
	}
	if (p->expected_snp_vmpl) {
		if (p->expected_snp_vmpl->value > 3)
			return bad(detail, "policy.expected_snp_vmpl must be 0..3");
		out->has_snp_vmpl = 1;
		out->snp_vmpl = p->expected_snp_vmpl->value;
		out->lib.snp_max_vmpl = (int)p->expected_snp_vmpl->value;
	}
	out->min_snp_tcb = p->min_snp_tcb;
	out->lib.snp_allow_migration_agent = p->allow_snp_migration_agent;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Collateral conversions                                                                          */

static err_t blob_sig(const struct attest_coll_blob *b, uint8_t sig[64])
{
	size_t got = 0;

	if (b->sig_len != 128 || b->sig_off > b->body_len || b->body_len - b->sig_off < b->sig_len ||
	    hex_decode(sig, 64, &got, (const char *)b->body + b->sig_off, b->sig_len, 0) != ERR_OK || got != 64)
		return ERR_INVALID_ARG;
	return ERR_OK;
}

err_t av_intel_collateral_from_blobs(const struct attest_coll_blob *const blobs[4], struct dcap_collateral *out,
				     uint8_t id[32])
{
	static const char tag[] = "dstack-attest cached collateral v1";
	const struct attest_coll_blob *tcb = blobs[0], *qe = blobs[1], *pck = blobs[2], *root = blobs[3];
	const void *parts[1 + 2 * 9];
	size_t lens[1 + 2 * 9], n = 0;
	uint8_t be[9][8];

	memset(out, 0, sizeof(*out));
	if (!tcb || !qe || !pck || !root ||
	    (tcb->key.kind != ATTEST_COLL_TDX_TCB && tcb->key.kind != ATTEST_COLL_SGX_TCB) ||
	    (qe->key.kind != ATTEST_COLL_TDX_QE_IDENTITY && qe->key.kind != ATTEST_COLL_SGX_QE_IDENTITY) ||
	    (pck->key.kind != ATTEST_COLL_PCK_CRL_PROCESSOR && pck->key.kind != ATTEST_COLL_PCK_CRL_PLATFORM) ||
	    root->key.kind != ATTEST_COLL_ROOT_CA_CRL || !pck->der || !root->der || !tcb->issuer_chain ||
	    !qe->issuer_chain || !pck->issuer_chain || tcb->inner_off > tcb->body_len ||
	    tcb->body_len - tcb->inner_off < tcb->inner_len || qe->inner_off > qe->body_len ||
	    qe->body_len - qe->inner_off < qe->inner_len)
		return ERR_INVALID_ARG;
	if (blob_sig(tcb, out->tcb_info_signature) != ERR_OK || blob_sig(qe, out->qe_identity_signature) != ERR_OK)
		return ERR_INVALID_ARG;
	out->pck_crl_issuer_chain = pck->issuer_chain;
	out->pck_crl_issuer_chain_len = pck->chain_len;
	out->root_ca_crl = root->der;
	out->root_ca_crl_len = root->der_len;
	out->pck_crl = pck->der;
	out->pck_crl_len = pck->der_len;
	out->tcb_info_issuer_chain = tcb->issuer_chain;
	out->tcb_info_issuer_chain_len = tcb->chain_len;
	out->tcb_info = (const char *)tcb->body + tcb->inner_off;
	out->tcb_info_len = tcb->inner_len;
	out->qe_identity_issuer_chain = qe->issuer_chain;
	out->qe_identity_issuer_chain_len = qe->chain_len;
	out->qe_identity = (const char *)qe->body + qe->inner_off;
	out->qe_identity_len = qe->inner_len;

	/* Every field, each after its length (big-endian u64), so no two collaterals hash alike by shifting bytes. */
	{
		const void *f[9] = { out->pck_crl_issuer_chain, out->root_ca_crl, out->pck_crl,
				     out->tcb_info_issuer_chain, out->tcb_info, out->tcb_info_signature,
				     out->qe_identity_issuer_chain, out->qe_identity, out->qe_identity_signature };
		const size_t fl[9] = { out->pck_crl_issuer_chain_len, out->root_ca_crl_len, out->pck_crl_len,
				       out->tcb_info_issuer_chain_len, out->tcb_info_len, 64,
				       out->qe_identity_issuer_chain_len, out->qe_identity_len, 64 };

		parts[n] = tag;
		lens[n++] = sizeof(tag);
		for (size_t i = 0; i < 9; i++) {
			for (int k = 0; k < 8; k++)
				be[i][k] = (uint8_t)((uint64_t)fl[i] >> (56 - 8 * k));
			parts[n] = be[i];
			lens[n++] = 8;
			parts[n] = f[i];
			lens[n++] = fl[i];
		}
	}
	sha256_parts(parts, lens, n, id);
	return ERR_OK;
}

err_t av_intel_collateral_from_proto(const Dstack__Attest__V1__IntelCollateral *c, struct dcap_collateral *out,
				     const char **detail)
{
	memset(out, 0, sizeof(*out));
	if (c->tcb_info_signature.len != 64 || c->qe_identity_signature.len != 64)
		return bad(detail, "collateral: tcb_info_signature and qe_identity_signature must be 64 bytes (r||s)");
	if (strlen(c->tcb_info) > 256u * 1024 || strlen(c->qe_identity) > 64u * 1024)
		return bad(detail, "collateral: tcb_info over 256 KiB or qe_identity over 64 KiB");
	if (c->root_ca_crl.len > 1024u * 1024 || c->pck_crl.len > 4u * 1024 * 1024)
		return bad(detail, "collateral: a CRL is too large");
	out->pck_crl_issuer_chain = c->pck_crl_issuer_chain;
	out->pck_crl_issuer_chain_len = strlen(c->pck_crl_issuer_chain);
	out->root_ca_crl = c->root_ca_crl.data;
	out->root_ca_crl_len = c->root_ca_crl.len;
	out->pck_crl = c->pck_crl.data;
	out->pck_crl_len = c->pck_crl.len;
	out->tcb_info_issuer_chain = c->tcb_info_issuer_chain;
	out->tcb_info_issuer_chain_len = strlen(c->tcb_info_issuer_chain);
	out->tcb_info = c->tcb_info;
	out->tcb_info_len = strlen(c->tcb_info);
	memcpy(out->tcb_info_signature, c->tcb_info_signature.data, 64);
	out->qe_identity_issuer_chain = c->qe_identity_issuer_chain;
	out->qe_identity_issuer_chain_len = strlen(c->qe_identity_issuer_chain);
	out->qe_identity = c->qe_identity;
	out->qe_identity_len = strlen(c->qe_identity);
	memcpy(out->qe_identity_signature, c->qe_identity_signature.data, 64);
	if (c->pck_certificate_chain && c->pck_certificate_chain[0]) {
		out->pck_certificate_chain = c->pck_certificate_chain;
		out->pck_certificate_chain_len = strlen(c->pck_certificate_chain);
	}
	return ERR_OK;
}

err_t av_intel_collateral_to_proto(const struct dcap_collateral *c, struct arena *a,
				   Dstack__Attest__V1__IntelCollateral **out, const char **detail)
{
	Dstack__Attest__V1__IntelCollateral *m;

	(void)detail;
	m = (void *)pb_new(&dstack__attest__v1__intel_collateral__descriptor, a);
	if (!m)
		return arena_err(a);
	m->pck_crl_issuer_chain = arena_memdup(a, c->pck_crl_issuer_chain, c->pck_crl_issuer_chain_len);
	m->tcb_info_issuer_chain = arena_memdup(a, c->tcb_info_issuer_chain, c->tcb_info_issuer_chain_len);
	m->tcb_info = arena_memdup(a, c->tcb_info, c->tcb_info_len);
	m->qe_identity_issuer_chain = arena_memdup(a, c->qe_identity_issuer_chain, c->qe_identity_issuer_chain_len);
	m->qe_identity = arena_memdup(a, c->qe_identity, c->qe_identity_len);
	if (c->pck_certificate_chain)
		m->pck_certificate_chain = arena_memdup(a, c->pck_certificate_chain, c->pck_certificate_chain_len);
	if (!m->pck_crl_issuer_chain || !m->tcb_info_issuer_chain || !m->tcb_info || !m->qe_identity_issuer_chain ||
	    !m->qe_identity || (c->pck_certificate_chain && !m->pck_certificate_chain) ||
	    !setb(a, &m->root_ca_crl, c->root_ca_crl, c->root_ca_crl_len) ||
	    !setb(a, &m->pck_crl, c->pck_crl, c->pck_crl_len) ||
	    !setb(a, &m->tcb_info_signature, c->tcb_info_signature, 64) ||
	    !setb(a, &m->qe_identity_signature, c->qe_identity_signature, 64))
		return arena_err(a);
	*out = m;
	return ERR_OK;
}

/* DER certificates as one PEM text in the arena. */
static err_t certs_to_pem(const ProtobufCBinaryData *der, size_t n, struct arena *a, const char **pem, size_t *len,
			  const char **detail)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long got;
	err_t err = ERR_OK;

	if (!b)
		return ERR_NOMEM;
	for (size_t i = 0; i < n && err == ERR_OK; i++) {
		X509 *x = x509_from_bytes(der[i].data, der[i].len);

		if (!x)
			err = bad(detail, "an SEV-SNP certificate does not parse");
		else if (!PEM_write_bio_X509(b, x))
			err = ERR_NOMEM;
		X509_free(x);
	}
	if (err == ERR_OK) {
		got = BIO_get_mem_data(b, &data);
		*pem = got > 0 ? arena_memdup(a, data, (size_t)got) : NULL;
		*len = got > 0 ? (size_t)got : 0;
		if (!*pem)
			err = got > 0 ? arena_err(a) : bad(detail, "no SEV-SNP issuer certificates");
	}
	BIO_free(b);
	return err;
}

err_t av_amd_from_certs(const ProtobufCBinaryData *certs, size_t n, struct arena *a, struct av_amd *out,
			const char **detail)
{
	memset(out, 0, sizeof(*out));
	if (n < 2 || n > 3)
		return bad(detail, "SEV-SNP cert_chain must be VCEK (or VLEK), ASK (or ASVK) and optionally ARK");
	out->vcek = certs[0].data;
	out->vcek_len = certs[0].len;
	return certs_to_pem(certs + 1, n - 1, a, &out->chain_pem, &out->chain_len, detail);
}

err_t av_amd_from_proto(const Dstack__Attest__V1__AmdCollateral *c, struct arena *a, struct av_amd *out,
			const char **detail)
{
	ProtobufCBinaryData chain[2];
	size_t n = 0;
	err_t err;

	memset(out, 0, sizeof(*out));
	if (!c->vcek.len || !c->ask.len)
		return bad(detail, "collateral.amd needs vcek and ask");
	if (c->vcek.len > AV_MAX_CERT || c->ask.len > AV_MAX_CERT || c->ark.len > AV_MAX_CERT ||
	    c->crl.len > 1024u * 1024)
		return bad(detail, "collateral.amd: a certificate over 16 KiB or a CRL over 1 MiB");
	chain[n++] = c->ask;
	if (c->ark.len)
		chain[n++] = c->ark;
	if ((err = certs_to_pem(chain, n, a, &out->chain_pem, &out->chain_len, detail)) != ERR_OK)
		return err;
	out->vcek = c->vcek.data;
	out->vcek_len = c->vcek.len;
	out->crl = c->crl.len ? c->crl.data : NULL;
	out->crl_len = c->crl.len;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Claims into the proto                                                                           */

static Dstack__Common__V1__TcbComponentStatus *component(struct arena *a, const struct attest_tcb_level *l)
{
	Dstack__Common__V1__TcbComponentStatus *c =
		(void *)pb_new(&dstack__common__v1__tcb_component_status__descriptor, a);

	if (!c)
		return NULL;
	c->status = av_status_to_proto(l->status);
	if (l->n_advisory_ids) {
		c->advisory_ids = arena_alloc(a, l->n_advisory_ids * sizeof(char *));
		if (!c->advisory_ids)
			return NULL;
		for (size_t i = 0; i < l->n_advisory_ids; i++)
			if (!(c->advisory_ids[i] = arena_strdup(a, l->advisory_ids[i])))
				return NULL;
		c->n_advisory_ids = l->n_advisory_ids;
	}
	return c;
}

static int fill_td(struct arena *a, pb_claims *c, const struct attest_td_report *td, int td15)
{
	return setb(a, &c->tee_tcb_svn, td->tee_tcb_svn, 16) && setb(a, &c->mr_seam, td->mrseam, 48) &&
	       setb(a, &c->mr_signer_seam, td->mrsignerseam, 48) &&
	       setb(a, &c->seam_attributes, td->seam_attributes, 8) &&
	       setb(a, &c->td_attributes, td->td_attributes, 8) && setb(a, &c->xfam, td->xfam, 8) &&
	       setb(a, &c->mrtd, td->mrtd, 48) && setb(a, &c->mr_config_id, td->mrconfigid, 48) &&
	       setb(a, &c->mr_owner, td->mrowner, 48) && setb(a, &c->mr_owner_config, td->mrownerconfig, 48) &&
	       setb(a, &c->rtmr0, td->rtmr[0], 48) && setb(a, &c->rtmr1, td->rtmr[1], 48) &&
	       setb(a, &c->rtmr2, td->rtmr[2], 48) && setb(a, &c->rtmr3, td->rtmr[3], 48) &&
	       setb(a, &c->report_data, td->report_data, 64) &&
	       (!td15 || (setb(a, &c->tee_tcb_svn2, td->tee_tcb_svn2, 16) &&
			  setb(a, &c->mr_service_td, td->mrservicetd, 48)));
}

static int fill_sgx(struct arena *a, pb_claims *c, const struct attest_sgx_report *r)
{
	c->isv_prod_id = r->isvprodid;
	c->isv_svn = r->isvsvn;
	c->misc_select = r->miscselect;
	c->debug = (r->attributes[0] & 0x02) != 0;
	return setb(a, &c->mr_enclave, r->mrenclave, 32) && setb(a, &c->mr_signer, r->mrsigner, 32) &&
	       setb(a, &c->cpu_svn, r->cpusvn, 16) && setb(a, &c->sgx_attributes, r->attributes, 16) &&
	       setb(a, &c->report_data, r->report_data, 64);
}

static int fill_snp(struct arena *a, pb_claims *c, const struct attest_snp_report *r)
{
	uint8_t dev[32];

	c->tee_type = T(SEV_SNP);
	c->report_body_type = DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_SEV_SNP;
	c->evidence_version = r->version;
	c->debug = (r->policy & SNP_POLICY_DEBUG) != 0;
	c->snp_policy = r->policy;
	c->snp_vmpl = r->vmpl;
	c->snp_guest_svn = r->guest_svn;
	c->snp_current_tcb = r->current_tcb;
	c->snp_reported_tcb = r->reported_tcb;
	c->snp_committed_tcb = r->committed_tcb;
	c->snp_launch_tcb = r->launch_tcb;
	c->snp_platform_info = r->platform_info;
	c->snp_signing_key = r->signing_key == SNP_SIGNING_KEY_VLEK
				     ? DSTACK__COMMON__V1__SEV_SIGNING_KEY__SEV_SIGNING_KEY_VLEK
				     : DSTACK__COMMON__V1__SEV_SIGNING_KEY__SEV_SIGNING_KEY_VCEK;
	if (r->product != SNP_PRODUCT_UNKNOWN)
		c->snp_product = (char *)(uintptr_t)snp_product_name(r->product);
	c->tee_variant = (char *)(uintptr_t)"dstack-amd-sev-snp";
	sha256(r->chip_id, sizeof(r->chip_id), dev);
	return setb(a, &c->snp_measurement, r->measurement, 48) && setb(a, &c->snp_host_data, r->host_data, 32) &&
	       setb(a, &c->snp_chip_id, r->chip_id, 64) && setb(a, &c->snp_family_id, r->family_id, 16) &&
	       setb(a, &c->snp_image_id, r->image_id, 16) && setb(a, &c->snp_id_key_digest, r->id_key_digest, 48) &&
	       setb(a, &c->snp_author_key_digest, r->author_key_digest, 48) &&
	       setb(a, &c->snp_report_id, r->report_id, 32) && setb(a, &c->snp_report_id_ma, r->report_id_ma, 32) &&
	       setb(a, &c->report_data, r->report_data, 64) && setb(a, &c->device_id, dev, 32);
}

/* Report fields of a parsed quote (before or without verification). */
static int fill_quote(struct arena *a, pb_claims *c, const struct dcap_quote *q)
{
	c->evidence_version = q->version;
	if (q->tee_type == DCAP_TEE_TDX) {
		struct attest_td_report td;
		uint64_t attr0 = 0;

		dcap_td_report_decode(q->body, q->body_len, &td);
		c->tee_type = T(TDX);
		c->report_body_type = q->body_type == DCAP_BODY_TD15
					      ? DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD15
					      : DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD10;
		attr0 = td.td_attributes[0] & 1u;
		c->debug = attr0 != 0;
		c->tee_variant = (char *)(uintptr_t)"dstack-tdx";
		return fill_td(a, c, &td, q->body_type == DCAP_BODY_TD15);
	} else {
		struct attest_sgx_report sgx;

		dcap_sgx_report_decode(q->body, &sgx);
		c->tee_type = T(SGX);
		c->report_body_type = DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_SGX_ENCLAVE;
		return fill_sgx(a, c, &sgx);
	}
}

static int fill_pck(struct arena *a, pb_claims *c, const uint8_t fmspc[6], const uint8_t ppid[16], int ca_platform)
{
	uint8_t dev[32];

	sha256(ppid, 16, dev);
	c->pck_ca = ca_platform ? DSTACK__COMMON__V1__PCK_CA__PCK_CA_PLATFORM : DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR;
	return setb(a, &c->fmspc, fmspc, 6) && setb(a, &c->ppid, ppid, 16) && setb(a, &c->device_id, dev, 32);
}

static pb_event *event_to_proto(struct arena *a, const struct attest_event *e)
{
	pb_event *m = (void *)pb_new(&dstack__common__v1__event_log_entry__descriptor, a);

	if (!m)
		return NULL;
	m->imr = e->imr;
	m->event_type = e->event_type;
	m->version = e->version > 0 ? (uint32_t)e->version : 0;
	m->event = sdup(a, e->name, e->name_len, 256);
	if (!m->event || !utf8_valid(m->event, strlen(m->event)))
		m->event = (char *)(uintptr_t)"";
	if ((e->extended && !setb(a, &m->digest, e->digest, 48)) ||
	    !setb(a, &m->event_payload, e->payload, e->payload_len))
		return NULL;
	return m;
}

/* Identity claims (and derived values) from lib/attest's claims. */
static err_t fill_identity(struct arena *a, pb_claims *c, const struct attest_claims *cl,
			   const struct attest_eventlog *log)
{
	size_t n = 0;

	if ((cl->has_app_id && !setb(a, &c->app_id, cl->app_id, ATTEST_APP_ID_LEN)) ||
	    (cl->has_compose_hash && !setb(a, &c->compose_hash, cl->compose_hash, 32)) ||
	    (cl->has_instance_id && !setb(a, &c->instance_id, cl->instance_id, cl->instance_id_len)) ||
	    (cl->has_key_provider &&
	     !setb(a, &c->key_provider_info, cl->key_provider_info, MIN(cl->key_provider_info_len, 4096))) ||
	    (cl->has_os_image_hash && !setb(a, &c->os_image_hash, cl->os_image_hash, 32)))
		return arena_err(a);
	if (cl->key_provider_name && strlen(cl->key_provider_name) <= 32 &&
	    utf8_valid(cl->key_provider_name, strlen(cl->key_provider_name)))
		c->key_provider_name = (char *)(uintptr_t)cl->key_provider_name;
	if (cl->key_provider_id) {
		size_t len = strlen(cl->key_provider_id), got = 0;
		uint8_t *id = arena_alloc(a, len / 2 + 1);

		if (!id)
			return arena_err(a);
		if (hex_decode(id, len / 2 + 1, &got, cl->key_provider_id, len, 1) == ERR_OK && got) {
			c->key_provider_id.data = id;
			c->key_provider_id.len = got;
		}
	}
	if (cl->tee != ATTEST_TEE_SEV_SNP && !setb(a, &c->mr_system, cl->mr_system, 32))
		return arena_err(a);
	if (!setb(a, &c->mr_aggregated, cl->mr_aggregated, 32) ||
	    (cl->has_mr_aggregated_boot && !setb(a, &c->mr_aggregated_boot, cl->mr_aggregated_boot, 32)))
		return arena_err(a);
	if (!log)
		return ERR_OK;
	for (size_t i = 0; i < log->n_trusted; i++) {
		const struct attest_event *e = &log->events[i];

		if (e->imr == 3 && e->name_len == 16 && memcmp(e->name, "init-script-hash", 16) == 0 &&
		    e->payload_len == 32)
			n++;
	}
	if (n) {
		c->init_script_hashes = arena_zalloc(a, n * sizeof(*c->init_script_hashes));
		if (!c->init_script_hashes)
			return arena_err(a);
		for (size_t i = 0; i < log->n_trusted; i++) {
			const struct attest_event *e = &log->events[i];

			if (e->imr == 3 && e->name_len == 16 && memcmp(e->name, "init-script-hash", 16) == 0 &&
			    e->payload_len == 32 && !setb(a, &c->init_script_hashes[c->n_init_script_hashes++], e->payload, 32))
				return arena_err(a);
		}
	}
	return ERR_OK;
}

static err_t fill_runtime_events(struct arena *a, pb_claims *c, const struct attest_eventlog *log)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += log->events[i].imr == 3;
	if (!n)
		return ERR_OK;
	c->runtime_events = arena_alloc(a, n * sizeof(*c->runtime_events));
	if (!c->runtime_events)
		return arena_err(a);
	for (size_t i = 0; i < log->n; i++) {
		if (log->events[i].imr != 3)
			continue;
		if (!(c->runtime_events[c->n_runtime_events++] = event_to_proto(a, &log->events[i])))
			return arena_err(a);
	}
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Verification                                                                                    */

struct av_run {
	struct arena *a;
	const struct av_evidence *ev;
	const struct av_locator *loc;
	const struct av_policy *p;
	const struct av_inputs *in;
	struct attest_verdict lv;
	int lib_ran;                 /* lv is the lib's answer */
	int tcb_evaluated;
	err_t err;
	const char *detail;
	struct attest_claims cl;
	int has_cl;
	uint8_t device_id[32];       /* SHA-256 of the PPID / CHIP_ID, whatever else was derived */
	int has_device_id;
	struct attest_eventlog log, boot;
	int has_log, has_boot;
	const char *warn[AV_MAX_WARNINGS];
	size_t n_warn;
};

static void warn(struct av_run *r, const char *w)
{
	if (w && r->n_warn < AV_MAX_WARNINGS)
		r->warn[r->n_warn++] = w;
}

static err_t reject(struct av_run *r, err_t e, const char *why)
{
	r->err = e;
	r->detail = why;
	return e;
}

/* Errors the lib returns only after the TCB levels were matched: the verdict carries the status. */
static int tcb_was_evaluated(const struct attest_verdict *v)
{
	switch (v->err) {
	case ERR_OK:
	case ERR_ATTEST_TCB_REVOKED:
	case ERR_ATTEST_DEBUG:
	case ERR_ATTEST_TD_ATTRIBUTES:
	case ERR_ATTEST_SERVICE_TD:
	case ERR_ATTEST_TCB_STATUS:
	case ERR_ATTEST_ADVISORY:
	case ERR_ATTEST_TCB_EVAL_NUMBER:
	case ERR_ATTEST_COLLATERAL_STALE:
	case ERR_ATTEST_REPORT_DATA:
	case ERR_ATTEST_MEASUREMENT:
		return v->tee != ATTEST_TEE_SEV_SNP;
	default:
		return 0;
	}
}

static const uint8_t *report_data_of(const struct attest_verdict *v)
{
	switch (v->tee) {
	case ATTEST_TEE_TDX: return v->td.report_data;
	case ATTEST_TEE_SGX: return v->sgx.report_data;
	case ATTEST_TEE_SEV_SNP: return v->snp.report_data;
	default: return NULL;
	}
}

/* The claim an expected_* list constrains, or NULL when this evidence does not have it. */
static const uint8_t *claim_for(const struct av_run *r, size_t rule)
{
	const struct attest_verdict *v = &r->lv;
	int td = v->tee == ATTEST_TEE_TDX, sgx = v->tee == ATTEST_TEE_SGX, snp = v->tee == ATTEST_TEE_SEV_SNP;
	const struct attest_claims *c = r->has_cl ? &r->cl : NULL;

	switch (rule) {
	case 0: return td ? v->td.mrtd : NULL;
	case 1: case 2: case 3: case 4: return td ? v->td.rtmr[rule - 1] : NULL;
	case 5: return td ? v->td.mrconfigid : NULL;
	case 6: return c && c->has_app_id ? c->app_id : NULL;
	case 7: return c && c->has_compose_hash ? c->compose_hash : NULL;
	case 8: return c && c->has_os_image_hash ? c->os_image_hash : NULL;
	case 9: return c ? c->mr_aggregated : NULL;
	case 10: return c && td ? c->mr_system : NULL;
	case 11: return r->has_device_id ? r->device_id : NULL;
	case 12: return sgx ? v->sgx.mrenclave : NULL;
	case 13: return sgx ? v->sgx.mrsigner : NULL;
	case 14: return snp ? v->snp.measurement : NULL;
	case 15: return snp ? v->snp.host_data : NULL;
	default: return NULL;
	}
}

static const char *const list_detail[] = {
	"MRTD is not one of the expected values", "RTMR0 is not one of the expected values",
	"RTMR1 is not one of the expected values", "RTMR2 is not one of the expected values",
	"RTMR3 is not one of the expected values", "MRCONFIGID is not one of the expected values",
	"app id is not one of the expected values (or absent)",
	"compose hash is not one of the expected values (or absent)",
	"OS image hash is not one of the expected values (or absent)",
	"mr_aggregated is not one of the expected values", "mr_system is not one of the expected values",
	"device id is not one of the expected values", "MRENCLAVE is not one of the expected values",
	"MRSIGNER is not one of the expected values", "SEV-SNP MEASUREMENT is not one of the expected values",
	"SEV-SNP HOST_DATA is not one of the expected values",
};

static err_t check_lists(struct av_run *r)
{
	if (!r->p->msg)
		return ERR_OK;
	for (size_t i = 0; i < ARRAY_LEN(list_rules); i++) {
		const ProtobufCBinaryData *v;
		const uint8_t *have;
		size_t n;
		int ok = 0;

		list_get(r->p->msg, &list_rules[i], &n, &v);
		if (!n)
			continue;
		have = claim_for(r, i);
		for (size_t k = 0; k < n && have && !ok; k++)
			ok = v[k].len == list_rules[i].len && memcmp(v[k].data, have, v[k].len) == 0;
		if (!ok)
			return reject(r, ERR_ATTEST_MEASUREMENT, list_detail[i]);
	}
	return ERR_OK;
}

static int tcb_ge(const struct snp_tcb_parts *a, const struct snp_tcb_parts *b)
{
	return a->fmc >= b->fmc && a->bl >= b->bl && a->tee >= b->tee && a->snp >= b->snp && a->ucode >= b->ucode &&
	       a->spl4 >= b->spl4 && a->spl5 >= b->spl5 && a->spl6 >= b->spl6 && a->spl7 >= b->spl7;
}

static err_t check_snp_extra(struct av_run *r)
{
	const struct attest_snp_report *s = &r->lv.snp;

	if (r->p->has_snp_vmpl && s->vmpl != r->p->snp_vmpl)
		return reject(r, ERR_ATTEST_SNP_VMPL, "VMPL is not the one the policy expects");
	if (r->p->min_snp_tcb) {
		struct snp_tcb_parts min, rep, cur;

		snp_tcb_decompose(r->p->min_snp_tcb, s->product, &min);
		snp_tcb_decompose(s->reported_tcb, s->product, &rep);
		snp_tcb_decompose(s->current_tcb, s->product, &cur);
		if (!tcb_ge(&rep, &min) || !tcb_ge(&cur, &min))
			return reject(r, ERR_ATTEST_SNP_TCB, "REPORTED_TCB or CURRENT_TCB is below the policy minimum");
	}
	return ERR_OK;
}

/* Event log, CCEL and the dstack claims of an accepted TDX quote; SNP claims from the report. */
static err_t claims_and_logs(struct av_run *r)
{
	const char *d = NULL;
	err_t e;

	if (r->lv.tee == ATTEST_TEE_SEV_SNP) {
		attest_claims_from_snp(&r->lv.snp, &r->cl);
		r->cl.dev = r->lv.dev;
		r->has_cl = 1;
		if (r->ev->event_log)
			warn(r, "SEV-SNP: the runtime event log is not hardware-measured and was not verified");
		return ERR_OK;
	}
	if (r->lv.tee != ATTEST_TEE_TDX)
		return ERR_OK;
	if (r->ev->event_log) {
		e = attest_eventlog_parse_json(r->ev->event_log, r->ev->event_log_len, r->a, &r->log, &d);
		if (e == ERR_BUDGET || e == ERR_NOMEM)
			return e;
		if (e != ERR_OK)
			return reject(r, ERR_ATTEST_EVENT_LOG, d ? d : "the event log does not parse");
		r->has_log = 1;
	}
	if (r->ev->ccel) {
		e = attest_ccel_parse(r->ev->ccel, r->ev->ccel_len, r->a, &r->boot, &d);
		if (e == ERR_BUDGET || e == ERR_NOMEM)
			return e;
		if (e != ERR_OK)
			return reject(r, ERR_ATTEST_EVENT_LOG, d ? d : "the CCEL boot log does not parse");
		r->has_boot = 1;
	}
	e = attest_claims_from_verdict(&r->lv, r->has_log ? &r->log : NULL, r->has_boot ? &r->boot : NULL, 0, r->a,
				       &r->cl, &d);
	if (e == ERR_BUDGET || e == ERR_NOMEM)
		return e;
	if (e != ERR_OK)
		return reject(r, e, d ? d : "the event log does not match the quote");
	r->has_cl = 1;
	return ERR_OK;
}

static err_t require_dstack(struct av_run *r)
{
	if (r->ev->kind != K(DSTACK_QUOTE) && !r->p->require_dstack_claims)
		return ERR_OK;
	if (r->lv.tee != ATTEST_TEE_TDX)
		return reject(r, ERR_ATTEST_EVENT_LOG, "dstack claims are required but only TDX evidence carries them");
	if (!r->has_log || !r->cl.rtmr3_verified)
		return reject(r, ERR_ATTEST_EVENT_LOG, "dstack claims are required but there is no event log");
	if (!r->cl.has_app_id)
		return reject(r, ERR_ATTEST_EVENT_LOG, "dstack claims are required but the log has no app-id event");
	if (!r->cl.has_compose_hash)
		return reject(r, ERR_ATTEST_EVENT_LOG, "dstack claims are required but the log has no compose-hash event");
	if (!r->cl.has_instance_id)
		return reject(r, ERR_ATTEST_EVENT_LOG, "dstack claims are required but the log has no instance-id event");
	return ERR_OK;
}

/* Everything after the lib accepted; the first failing check names the verdict. */
static err_t post_checks(struct av_run *r)
{
	err_t e;

	if (r->ev->report_data) {
		uint8_t want[64] = { 0 };
		const uint8_t *have = report_data_of(&r->lv);

		memcpy(want, r->ev->report_data, r->ev->report_data_len);
		if (!have || memcmp(want, have, 64) != 0)
			return reject(r, ERR_ATTEST_REPORT_DATA, "evidence.report_data differs from the report data in the quote");
	}
	if ((e = claims_and_logs(r)) != ERR_OK || r->err)
		return e;
	/* SGX has no dstack claims, but every TEE has a device id. */
	if (r->lv.tee == ATTEST_TEE_SEV_SNP) {
		sha256(r->lv.snp.chip_id, sizeof(r->lv.snp.chip_id), r->device_id);
		r->has_device_id = 1;
	} else if (r->lv.has_ppid) {
		sha256(r->lv.ppid, sizeof(r->lv.ppid), r->device_id);
		r->has_device_id = 1;
	}
	if ((e = require_dstack(r)) != ERR_OK)
		return e;
	if ((e = check_lists(r)) != ERR_OK)
		return e;
	if (r->lv.tee == ATTEST_TEE_SEV_SNP && (e = check_snp_extra(r)) != ERR_OK)
		return e;
	return ERR_OK;
}

static void run_lib(struct av_run *r)
{
	const struct av_inputs *in = r->in;

	if (r->loc->tee == ATTEST_TEE_SEV_SNP) {
		const struct av_amd *amd = in->amd;

		if (!amd) {
			reject(r, in->coll_err ? in->coll_err : ERR_ATTEST_COLLATERAL_MISSING,
			       in->coll_detail ? in->coll_detail : "no VCEK / AMD certificate chain for this report");
			return;
		}
		/* The answer is in r->lv (err and detail); the return value repeats lv.err. */
		if (snp_verify(r->ev->snp, r->ev->snp_len, amd->vcek, amd->vcek_len, amd->chain_pem, amd->chain_len,
				 amd->crl, amd->crl_len, in->trust, &r->p->lib, in->now, r->a, &r->lv) != r->lv.err)
			r->lv.err = ERR_INTERNAL;
		r->lib_ran = 1;
		r->err = r->lv.err;
		r->detail = r->lv.detail;
		return;
	}
	if (!in->vc) {
		reject(r, in->coll_err ? in->coll_err : ERR_ATTEST_COLLATERAL_MISSING,
		       in->coll_detail ? in->coll_detail : "no collateral for this platform");
		return;
	}
	if (dcap_verify_quote(in->vc, r->ev->quote, r->ev->quote_len, &r->p->lib, in->now, in->cache, r->a, &r->lv) !=
	    r->lv.err)
		r->lv.err = ERR_INTERNAL;
	r->lib_ran = 1;
	r->err = r->lv.err;
	r->detail = r->lv.detail;
	r->tcb_evaluated = tcb_was_evaluated(&r->lv);
}

static err_t fill_verdict(struct av_run *r, pb_verdict *v)
{
	struct arena *a = r->a;
	pb_claims *c = v->claims;
	const struct attest_verdict *lv = &r->lv;
	size_t nw = r->in->n_warnings + r->n_warn;

	v->ok = r->err == ERR_OK;
	v->evaluated_at_unix = r->in->now;
	if (r->err != ERR_OK) {
		Dstack__Common__V1__ErrorDetail *ed = (void *)pb_new(&dstack__common__v1__error_detail__descriptor, a);

		if (!ed)
			return arena_err(a);
		ed->code = r->err;
		ed->name = (char *)(uintptr_t)err_name(r->err);
		/* Copied: the text may live in a cache entry that a later request recycles. */
		{
			const char *d = r->detail ? r->detail : err_str(r->err);

			if (!(ed->detail = sdup(a, d, strlen(d), 1024)))
				return arena_err(a);
		}
		v->error = ed;
	}

	/* Report fields: from the lib's verdict when it ran that far, else from our own parse. */
	if (r->lib_ran && lv->report_type != ATTEST_REPORT_NONE) {
		c->tee_type = av_tee_to_proto(lv->tee);
		c->dev = lv->dev;
		v->collateral_expires_at_unix = lv->collateral_expires_at;
		v->collateral_issued_at_unix = lv->collateral_issued_at;
		switch (lv->report_type) {
		case ATTEST_REPORT_TD10:
		case ATTEST_REPORT_TD15:
			c->report_body_type = lv->report_type == ATTEST_REPORT_TD15
						      ? DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD15
						      : DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD10;
			c->debug = (lv->td.td_attributes[0] & 1u) != 0;
			c->tee_variant = (char *)(uintptr_t)"dstack-tdx";
			if (!fill_td(a, c, &lv->td, lv->report_type == ATTEST_REPORT_TD15))
				return arena_err(a);
			break;
		case ATTEST_REPORT_SGX:
			c->report_body_type = DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_SGX_ENCLAVE;
			if (!fill_sgx(a, c, &lv->sgx))
				return arena_err(a);
			break;
		case ATTEST_REPORT_SNP:
			if (!fill_snp(a, c, &lv->snp))
				return arena_err(a);
			c->dev = lv->dev;
			break;
		default:
			break;
		}
		if (lv->tee != ATTEST_TEE_SEV_SNP) {
			struct dcap_quote q;

			if (dcap_quote_parse(r->ev->quote, r->ev->quote_len, &q, NULL) == ERR_OK)
				c->evidence_version = q.version;
			if (lv->has_ppid && !fill_pck(a, c, lv->fmspc, lv->ppid, lv->pck_ca_platform))
				return arena_err(a);
		}
	} else if (r->loc->tee == ATTEST_TEE_SEV_SNP) {
		if (!fill_snp(a, c, &r->loc->snp))
			return arena_err(a);
	} else if (r->loc->tee != ATTEST_TEE_UNKNOWN) {
		struct dcap_quote q;

		if (dcap_quote_parse(r->ev->quote, r->ev->quote_len, &q, NULL) == ERR_OK && !fill_quote(a, c, &q))
			return arena_err(a);
	}

	/* The kind names the TEE of a report too malformed to say so itself. */
	if (c->tee_type == T(UNSPECIFIED) && r->ev->kind == K(SEV_SNP_REPORT))
		c->tee_type = T(SEV_SNP);

	if (r->tcb_evaluated) {
		c->tcb_status = av_status_to_proto(lv->tcb.status);
		if (lv->tcb.n_advisory_ids) {
			c->advisory_ids = arena_alloc(a, lv->tcb.n_advisory_ids * sizeof(char *));
			if (!c->advisory_ids)
				return arena_err(a);
			for (size_t i = 0; i < lv->tcb.n_advisory_ids; i++)
				if (!(c->advisory_ids[i] = arena_strdup(a, lv->tcb.advisory_ids[i])))
					return arena_err(a);
			c->n_advisory_ids = lv->tcb.n_advisory_ids;
		}
		if (!(c->platform_tcb = component(a, &lv->platform)) || !(c->qe_tcb = component(a, &lv->qe)))
			return arena_err(a);
		if (lv->tee == ATTEST_TEE_TDX && !(c->tdx_module_tcb = component(a, &lv->module)))
			return arena_err(a);
		c->tcb_evaluation_data_number = lv->tcb_eval_number;
	} else if (r->lib_ran && lv->tee == ATTEST_TEE_SEV_SNP && lv->err == ERR_OK) {
		/* SEV-SNP has no TCB status; an accepted report is reported as UpToDate (lib/attest's convention). */
		c->tcb_status = S(UP_TO_DATE);
	}

	if (r->has_cl) {
		err_t e = fill_identity(a, c, &r->cl, r->has_log ? &r->log : NULL);

		if (e != ERR_OK)
			return e;
		c->event_log_verified = r->cl.rtmr3_verified;
		c->boot_log_verified = r->cl.boot_rtmrs_verified;
		if (r->cl.has_device_id && !c->device_id.len && !setb(a, &c->device_id, r->cl.device_id, 32))
			return arena_err(a);
	}
	if (r->has_log && r->in->include_runtime_events) {
		err_t e = fill_runtime_events(a, c, &r->log);

		if (e != ERR_OK)
			return e;
	}

	if (nw) {
		v->warnings = arena_alloc(a, nw * sizeof(char *));
		if (!v->warnings)
			return arena_err(a);
		for (size_t i = 0; i < r->in->n_warnings && v->n_warnings < AV_MAX_WARNINGS; i++)
			v->warnings[v->n_warnings++] = (char *)(uintptr_t)r->in->warnings[i];
		for (size_t i = 0; i < r->n_warn && v->n_warnings < AV_MAX_WARNINGS; i++)
			v->warnings[v->n_warnings++] = (char *)(uintptr_t)r->warn[i];
	}
	return ERR_OK;
}

err_t av_verify(const struct av_evidence *ev, const struct av_locator *loc, const struct av_policy *p,
		const struct av_inputs *in, struct arena *a, pb_verdict **out)
{
	struct av_run *r = arena_zalloc(a, sizeof(*r));
	pb_verdict *v;
	err_t e;

	if (!r)
		return arena_err(a);
	v = (void *)pb_new(&dstack__common__v1__verdict__descriptor, a);
	if (!v || !(v->claims = (void *)pb_new(&dstack__common__v1__claims__descriptor, a)))
		return arena_err(a);
	r->a = a;
	r->ev = ev;
	r->loc = loc;
	r->p = p;
	r->in = in;

	if (loc->err != ERR_OK) {
		reject(r, loc->err, loc->detail);
	} else if (p->tee_mask && !(p->tee_mask & (1u << loc->tee))) {
		reject(r, ERR_ATTEST_TEE_TYPE, "the policy does not accept this TEE type");
	} else {
		run_lib(r);
		/* A chain to the development root is refused unless the policy opts in, whatever else failed. */
		if (r->lib_ran && r->lv.dev) {
			if (!p->allow_dev_root)
				reject(r, ERR_ATTEST_DEV_ROOT,
				       "evidence chains to the development (simulator) root and the policy does not allow it");
			else
				warn(r, "verified against the development (simulator) root: not a real TEE");
		}
		if (r->err == ERR_OK && (e = post_checks(r)) != ERR_OK && e != r->err)
			return e;   /* allocation failure, not a verdict */
	}
	if ((e = fill_verdict(r, v)) != ERR_OK)
		return e;
	*out = v;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Inspection                                                                                      */

static err_t inspect_quote(const struct av_evidence *ev, struct arena *a, Dstack__Attest__V1__InspectResponse *out,
			   const char **detail, const char **warnings, size_t *nw)
{
	pb_claims *c = out->claims;
	Dstack__Attest__V1__CollateralKey *key;
	struct dcap_quote q;
	struct dcap_pck_info info;
	X509 *leaf;
	err_t e;

	e = dcap_quote_parse(ev->quote, ev->quote_len, &q, detail);
	if (e != ERR_OK)
		return ERR_INVALID_ARG;
	if ((ev->kind == K(SGX_QUOTE)) != (q.tee_type == DCAP_TEE_SGX))
		return bad(detail, "the quote's TEE type does not match the evidence kind");
	if (!fill_quote(a, c, &q))
		return arena_err(a);
	key = (void *)pb_new(&dstack__attest__v1__collateral_key__descriptor, a);
	if (!key)
		return arena_err(a);
	key->tee_type = c->tee_type;
	out->collateral_key = key;
	if (q.cert_type != DCAP_CERT_PCK_CHAIN && *nw < AV_MAX_WARNINGS)
		warnings[(*nw)++] = ev->n_certs ? "certification data carries no PCK chain: PCK leaf taken from cert_chain"
						: "certification data carries no PCK chain: it must come from collateral";
	leaf = pck_leaf(ev, &q);
	if (leaf && dcap_pck_cert_info(leaf, &info, NULL) == ERR_OK) {
		if (!fill_pck(a, c, info.fmspc, info.ppid, info.ca_platform) || !setb(a, &key->fmspc, info.fmspc, 6))
			e = arena_err(a);
		key->pck_ca = c->pck_ca;
	} else if (*nw < AV_MAX_WARNINGS) {
		warnings[(*nw)++] = "no parsable PCK certificate: FMSPC, PPID and device id unknown";
	}
	X509_free(leaf);
	return e;
}

static err_t inspect_snp(const struct av_evidence *ev, struct arena *a, Dstack__Attest__V1__InspectResponse *out,
			 const char **detail)
{
	struct attest_snp_report r;
	struct attest_claims cl;
	Dstack__Attest__V1__CollateralKey *key;

	if (snp_report_parse(ev->snp, ev->snp_len, &r) != ERR_OK)
		return bad(detail, "the SEV-SNP report does not parse");
	if (!fill_snp(a, out->claims, &r))
		return arena_err(a);
	attest_claims_from_snp(&r, &cl);
	if (!setb(a, &out->claims->mr_aggregated, cl.mr_aggregated, 32))
		return arena_err(a);
	key = (void *)pb_new(&dstack__attest__v1__collateral_key__descriptor, a);
	if (!key)
		return arena_err(a);
	key->tee_type = T(SEV_SNP);
	key->snp_product = out->claims->snp_product;
	key->snp_reported_tcb = r.reported_tcb;
	key->snp_signing_key = out->claims->snp_signing_key;
	if (r.signing_key == SNP_SIGNING_KEY_VCEK &&
	    !setb(a, &key->snp_hw_id, r.chip_id, r.product == SNP_PRODUCT_TURIN ? SNP_TURIN_HWID_SIZE : 64))
		return arena_err(a);
	out->collateral_key = key;
	return ERR_OK;
}

static err_t inspect_log(const struct av_evidence *ev, struct arena *a, Dstack__Attest__V1__InspectResponse *out,
			 const char **detail, const char **warnings, size_t *nw)
{
	pb_claims *c = out->claims;
	struct attest_eventlog log;
	struct attest_td_report td;
	struct attest_claims cl;
	const char *d = NULL;
	size_t n_replays = 0;
	struct dcap_quote q;
	err_t e;

	e = attest_eventlog_parse_json(ev->event_log, ev->event_log_len, a, &log, &d);
	if (e == ERR_BUDGET || e == ERR_NOMEM)
		return e;
	if (e != ERR_OK)
		return bad(detail, d ? d : "the event log does not parse");
	if (log.n) {
		out->events = arena_alloc(a, log.n * sizeof(*out->events));
		if (!out->events)
			return arena_err(a);
		for (size_t i = 0; i < log.n; i++)
			if (!(out->events[out->n_events++] = event_to_proto(a, &log.events[i])))
				return arena_err(a);
	}
	if (ev->kind == K(SEV_SNP_REPORT)) {
		if (*nw < AV_MAX_WARNINGS)
			warnings[(*nw)++] = "SEV-SNP: runtime events are not hardware-measured; no RTMR to replay into";
		return ERR_OK;
	}
	if (dcap_quote_parse(ev->quote, ev->quote_len, &q, NULL) != ERR_OK || q.tee_type != DCAP_TEE_TDX)
		return ERR_OK;
	dcap_td_report_decode(q.body, q.body_len, &td);
	out->replays = arena_alloc(a, 4 * sizeof(*out->replays));
	if (!out->replays)
		return arena_err(a);
	for (uint32_t i = 0; i < 4; i++) {
		Dstack__Attest__V1__RtmrReplay *rp;
		uint32_t count = 0;

		if (!(log.imr_mask & (1u << i)))
			continue;
		for (size_t k = 0; k < log.n; k++)
			count += log.events[k].imr == i && log.events[k].extended;
		rp = (void *)pb_new(&dstack__attest__v1__rtmr_replay__descriptor, a);
		if (!rp || !setb(a, &rp->replayed, log.rtmr[i], 48) || !setb(a, &rp->reported, td.rtmr[i], 48))
			return arena_err(a);
		rp->index = i;
		rp->event_count = count;
		rp->matches = memcmp(log.rtmr[i], td.rtmr[i], 48) == 0;
		out->replays[n_replays++] = rp;
		if (i == 3 && !rp->matches && *nw < AV_MAX_WARNINGS)
			warnings[(*nw)++] = "RTMR3 replay does not match the quote: claims below use the replayed value";
	}
	out->n_replays = n_replays;
	/* Identity claims over the replayed RTMR3, so they are there to look at even when it differs. */
	memcpy(td.rtmr[3], log.rtmr[3], 48);
	e = attest_claims_from_td(&td, &log, NULL, 0, a, &cl, &d);
	if (e == ERR_BUDGET || e == ERR_NOMEM)
		return e;
	if (e != ERR_OK) {
		if (*nw < AV_MAX_WARNINGS)
			warnings[(*nw)++] = d ? d : "dstack claims could not be derived from the event log";
		return ERR_OK;
	}
	c->event_log_verified = memcmp(c->rtmr3.data, log.rtmr[3], 48) == 0;
	return fill_identity(a, c, &cl, &log);
}

err_t av_inspect(const struct av_evidence *ev, struct arena *a, Dstack__Attest__V1__InspectResponse **out,
		 const char **detail)
{
	Dstack__Attest__V1__InspectResponse *r;
	const char *warnings[AV_MAX_WARNINGS];
	size_t nw = 0;
	err_t e;

	r = (void *)pb_new(&dstack__attest__v1__inspect_response__descriptor, a);
	if (!r || !(r->claims = (void *)pb_new(&dstack__common__v1__claims__descriptor, a)))
		return arena_err(a);
	if (ev->kind == K(SEV_SNP_REPORT))
		e = inspect_snp(ev, a, r, detail);
	else
		e = inspect_quote(ev, a, r, detail, warnings, &nw);
	if (e == ERR_OK && ev->event_log)
		e = inspect_log(ev, a, r, detail, warnings, &nw);
	if (e != ERR_OK)
		return e;
	if (ev->report_data && r->claims->report_data.len == 64) {
		uint8_t want[64] = { 0 };

		memcpy(want, ev->report_data, ev->report_data_len);
		if (memcmp(want, r->claims->report_data.data, 64) != 0 && nw < AV_MAX_WARNINGS)
			warnings[nw++] = "evidence.report_data differs from the report data in the quote";
	}
	if (nw) {
		r->warnings = arena_alloc(a, nw * sizeof(char *));
		if (!r->warnings)
			return arena_err(a);
		for (size_t i = 0; i < nw; i++)
			r->warnings[r->n_warnings++] = (char *)(uintptr_t)warnings[i];
	}
	*out = r;
	return ERR_OK;
}
