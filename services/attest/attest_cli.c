/* SPDX-License-Identifier: Apache-2.0 */
/* `dstack-attest verify` and `dstack-attest inspect`: one piece of evidence from a file, through the service's own verifier, as JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/x509.h>

#include "attest.h"
#include "attest_cli.h"
#include "attest_verify.h"
#include "crypto.h"
#include "enc.h"
#include "getquote.h"
#include "json.h"
#include "log.h"
#include "pbcodec.h"

/*
 * The CLI builds the VerifyRequest a remote client would send (evidence,
 * policy, collateral) and runs it through struct attest_verifier, so the
 * verdict is the one `dstack-attest serve` gives. The clock is read here
 * (--now defaults to it); lib/attest never reads it.
 */

typedef Dstack__Common__V1__Evidence pb_evidence;
typedef Dstack__Common__V1__Verdict pb_verdict;
typedef Dstack__Common__V1__Claims pb_claims;

#define MAX_FILE ((size_t)16 << 20)
#define MAX_STATUSES 16
#define MAX_ADVISORIES 256
#define DEFAULT_KDS "https://kdsintf.amd.com"

/* ---------------------------------------------------------------------------------------------- */
/* Files and evidence                                                                              */

/* The whole file, NUL-terminated, in the arena; NULL with *why set. */
static uint8_t *read_all(const char *path, size_t max, struct arena *a, size_t *len, const char **why)
{
	FILE *f = fopen(path, "rb");
	struct buf_writer w;
	uint8_t *out = NULL, tmp[65536];
	size_t n;

	*len = 0;
	if (!f) {
		*why = strerror(errno);
		return NULL;
	}
	buf_writer_init(&w, max);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_put(&w, tmp, n);
	if (ferror(f))
		*why = "read error";
	else if (buf_writer_status(&w) != ERR_OK)
		*why = "file too large";
	else if (!(out = arena_memdup(a, w.p ? (const void *)w.p : "", w.len)))
		*why = "out of memory";
	else
		*len = w.len;
	fclose(f);
	buf_writer_free(&w);
	return out;
}

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Hex text (whitespace around and inside allowed, optional 0x) decoded in place; 0 when it is not hex. */
static int maybe_hex(uint8_t *p, size_t *len)
{
	size_t k = 0, i = 0, n = *len, out = 0;
	char *h;

	while (i < n && is_ws(p[i]))
		i++;
	if (i + 1 < n && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X'))
		i += 2;
	h = (char *)p;
	for (; i < n; i++) {
		if (is_ws(p[i]))
			continue;
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F')))
			return 0;
		h[k++] = (char)p[i];
	}
	if (k == 0 || (k & 1))
		return 0;
	if (hex_decode(p, n, &out, h, k, 0) != ERR_OK)
		return 0;
	*len = out;
	return 1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A DCAP quote by its header: version 3..5 (the parser decides the rest). */
static int looks_like_quote(const uint8_t *p, size_t n)
{
	uint16_t v = n >= 8 ? (uint16_t)(p[0] | p[1] << 8) : 0;

	return v >= 3 && v <= 5 && p[2] <= 0x10 && p[3] == 0;
}

static int looks_like_snp(const uint8_t *p, size_t n)
{
	return n == AV_SNP_REPORT_LEN && le32(p) >= 2 && le32(p) <= 16;
}

static void kind_for_quote(pb_evidence *e)
{
	uint32_t tee = e->quote.len >= 8 ? le32(e->quote.data + 4) : 0;

	e->kind = tee == 0 ? DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SGX_QUOTE
			   : DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_TDX_QUOTE;
}

/*
 * EVIDENCE: dstack GetQuote JSON, a raw or hex DCAP quote, or a raw or hex
 * 1184-byte SEV-SNP report (`snp` forces the report reading). 0, or -1
 * with *why (the input is not evidence we can read).
 */
static int load_evidence(const char *path, int snp, struct arena *a, pb_evidence **out, const char **why)
{
	pb_evidence *e = (void *)pb_new(&dstack__common__v1__evidence__descriptor, a);
	size_t n = 0, i = 0;
	uint8_t *p;

	if (!e || !(p = read_all(path, MAX_FILE, a, &n, why)))
		return e ? -1 : (*why = "out of memory", -1);
	while (i < n && is_ws(p[i]))
		i++;
	if (i < n && p[i] == '{') {
		struct attest_getquote gq;
		const char *d = NULL;

		if (attest_getquote_parse((const char *)p, n, a, &gq, &d) != ERR_OK) {
			*why = d ? d : "not valid GetQuote JSON";
			return -1;
		}
		if (!gq.quote) {
			*why = "GetQuote JSON without \"quote\" (non-TDX \"attestation\" is not supported by this command)";
			return -1;
		}
		e->quote.data = (uint8_t *)(uintptr_t)gq.quote;
		e->quote.len = gq.quote_len;
		kind_for_quote(e);
		if (gq.event_log && gq.event_log_len) {
			e->event_log = (char *)(uintptr_t)gq.event_log;
			e->kind = DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_DSTACK_QUOTE;
		}
		if (gq.report_data_len) {
			e->report_data.data = arena_memdup(a, gq.report_data, gq.report_data_len);
			e->report_data.len = e->report_data.data ? gq.report_data_len : 0;
		}
		if (gq.vm_config && gq.vm_config_len && e->kind != DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SGX_QUOTE)
			e->vm_config = (char *)(uintptr_t)gq.vm_config;
		*out = e;
		return 0;
	}
	(void)maybe_hex(p, &n);
	if (snp || looks_like_snp(p, n)) {
		e->snp_report.data = p;
		e->snp_report.len = n;
		e->kind = DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SEV_SNP_REPORT;
	} else if (looks_like_quote(p, n)) {
		e->quote.data = p;
		e->quote.len = n;
		kind_for_quote(e);
	} else {
		*why = "not GetQuote JSON, a DCAP quote (v3..v5) or an SEV-SNP report (1184 bytes), raw or hex";
		return -1;
	}
	*out = e;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON output                                                                                     */

struct out {
	struct buf_writer w;
	int first;
};

static void key(struct out *o, const char *k)
{
	if (!o->first)
		buf_put_str(&o->w, ",");
	o->first = 0;
	json_put_string(&o->w, k, strlen(k));
	buf_put_str(&o->w, ":");
}

static void open_obj(struct out *o, const char *k)
{
	if (k)
		key(o, k);
	buf_put_str(&o->w, "{");
	o->first = 1;
}

static void close_obj(struct out *o)
{
	buf_put_str(&o->w, "}");
	o->first = 0;
}

static void put_str(struct out *o, const char *k, const char *v)
{
	key(o, k);
	if (v && v[0])
		json_put_string(&o->w, v, strlen(v));
	else
		buf_put_str(&o->w, "null");
}

static void put_bool(struct out *o, const char *k, int v)
{
	key(o, k);
	buf_put_str(&o->w, v ? "true" : "false");
}

static void put_u64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	buf_printf(&o->w, "%llu", (unsigned long long)v);
}

/* 0 as null: for times and numbers that mean "not evaluated" when zero. */
static void put_u64_opt(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	if (v)
		buf_printf(&o->w, "%llu", (unsigned long long)v);
	else
		buf_put_str(&o->w, "null");
}

static void put_x64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	buf_printf(&o->w, "\"0x%016llx\"", (unsigned long long)v);
}

static void hex_value(struct out *o, const ProtobufCBinaryData *b)
{
	char *h;

	if (!b->len) {
		buf_put_str(&o->w, "null");
		return;
	}
	h = malloc(2 * b->len + 1);
	if (!h) {
		o->w.err = ERR_NOMEM;
		return;
	}
	hex_encode(h, b->data, b->len);
	buf_put_str(&o->w, "\"");
	buf_put_str(&o->w, h);
	buf_put_str(&o->w, "\"");
	free(h);
}

static void put_hex(struct out *o, const char *k, const ProtobufCBinaryData *b)
{
	key(o, k);
	hex_value(o, b);
}

static void put_strs(struct out *o, const char *k, char *const *v, size_t n)
{
	key(o, k);
	buf_put_str(&o->w, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(&o->w, ",");
		json_put_string(&o->w, v[i], strlen(v[i]));
	}
	buf_put_str(&o->w, "]");
}

static const char *tee_name(Dstack__Common__V1__TeeType t)
{
	switch (t) {
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX: return "TDX";
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SGX: return "SGX";
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP: return "SEV-SNP";
	default: return NULL;
	}
}

static void put_status(struct out *o, const char *k, const Dstack__Common__V1__TcbComponentStatus *s)
{
	put_str(o, k, s ? av_status_name(s->status) : NULL);
}

static void put_report(struct out *o, const pb_claims *c)
{
	open_obj(o, "report");
	switch (c->report_body_type) {
	case DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD10:
	case DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD15: {
		int td15 = c->report_body_type == DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_TD15;

		put_str(o, "type", td15 ? "TD15" : "TD10");
		put_u64(o, "version", c->evidence_version);
		put_hex(o, "tee_tcb_svn", &c->tee_tcb_svn);
		put_hex(o, "mr_seam", &c->mr_seam);
		put_hex(o, "mr_signer_seam", &c->mr_signer_seam);
		put_hex(o, "seam_attributes", &c->seam_attributes);
		put_hex(o, "td_attributes", &c->td_attributes);
		put_hex(o, "xfam", &c->xfam);
		put_hex(o, "mrtd", &c->mrtd);
		put_hex(o, "mr_config_id", &c->mr_config_id);
		put_hex(o, "mr_owner", &c->mr_owner);
		put_hex(o, "mr_owner_config", &c->mr_owner_config);
		put_hex(o, "rtmr0", &c->rtmr0);
		put_hex(o, "rtmr1", &c->rtmr1);
		put_hex(o, "rtmr2", &c->rtmr2);
		put_hex(o, "rtmr3", &c->rtmr3);
		if (td15) {
			put_hex(o, "tee_tcb_svn2", &c->tee_tcb_svn2);
			put_hex(o, "mr_service_td", &c->mr_service_td);
		}
		break;
	}
	case DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_SGX_ENCLAVE:
		put_str(o, "type", "SGX");
		put_u64(o, "version", c->evidence_version);
		put_hex(o, "mr_enclave", &c->mr_enclave);
		put_hex(o, "mr_signer", &c->mr_signer);
		put_u64(o, "isv_prod_id", c->isv_prod_id);
		put_u64(o, "isv_svn", c->isv_svn);
		put_hex(o, "cpu_svn", &c->cpu_svn);
		put_u64(o, "misc_select", c->misc_select);
		put_hex(o, "attributes", &c->sgx_attributes);
		break;
	case DSTACK__COMMON__V1__REPORT_BODY_TYPE__REPORT_BODY_TYPE_SEV_SNP:
		put_str(o, "type", "SEV-SNP");
		put_u64(o, "version", c->evidence_version);
		put_str(o, "product", c->snp_product);
		put_hex(o, "measurement", &c->snp_measurement);
		put_hex(o, "host_data", &c->snp_host_data);
		put_hex(o, "chip_id", &c->snp_chip_id);
		put_x64(o, "policy", c->snp_policy);
		put_u64(o, "vmpl", c->snp_vmpl);
		put_u64(o, "guest_svn", c->snp_guest_svn);
		put_hex(o, "family_id", &c->snp_family_id);
		put_hex(o, "image_id", &c->snp_image_id);
		put_hex(o, "id_key_digest", &c->snp_id_key_digest);
		put_hex(o, "author_key_digest", &c->snp_author_key_digest);
		put_hex(o, "report_id", &c->snp_report_id);
		put_hex(o, "report_id_ma", &c->snp_report_id_ma);
		put_x64(o, "current_tcb", c->snp_current_tcb);
		put_x64(o, "reported_tcb", c->snp_reported_tcb);
		put_x64(o, "committed_tcb", c->snp_committed_tcb);
		put_x64(o, "launch_tcb", c->snp_launch_tcb);
		put_x64(o, "platform_info", c->snp_platform_info);
		put_str(o, "signing_key",
			c->snp_signing_key == DSTACK__COMMON__V1__SEV_SIGNING_KEY__SEV_SIGNING_KEY_VLEK ? "VLEK" : "VCEK");
		break;
	default:
		put_str(o, "type", NULL);
		break;
	}
	put_hex(o, "report_data", &c->report_data);
	put_bool(o, "debug", c->debug);
	close_obj(o);
}

static void put_pck(struct out *o, const pb_claims *c)
{
	put_hex(o, "fmspc", &c->fmspc);
	put_str(o, "pck_ca", c->pck_ca == DSTACK__COMMON__V1__PCK_CA__PCK_CA_PLATFORM    ? "platform"
			     : c->pck_ca == DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR ? "processor"
											   : NULL);
	put_hex(o, "ppid", &c->ppid);
	put_hex(o, "device_id", &c->device_id);
}

/* The dstack identity claims (a JSON object value, after its key). */
static void claims_value(struct out *o, const pb_claims *c, int rtmr3_ok)
{
	open_obj(o, NULL);
	put_hex(o, "app_id", &c->app_id);
	put_hex(o, "compose_hash", &c->compose_hash);
	put_hex(o, "instance_id", &c->instance_id);
	key(o, "key_provider");
	if (c->key_provider_info.len) {
		open_obj(o, NULL);
		key(o, "info");
		pbjson_put_string(&o->w, (const char *)c->key_provider_info.data, c->key_provider_info.len);
		put_str(o, "name", c->key_provider_name);
		put_hex(o, "id", &c->key_provider_id);
		close_obj(o);
	} else {
		buf_put_str(&o->w, "null");
	}
	put_hex(o, "os_image_hash", &c->os_image_hash);
	put_hex(o, "mr_system", &c->mr_system);
	put_hex(o, "mr_aggregated", &c->mr_aggregated);
	put_hex(o, "mr_aggregated_boot", &c->mr_aggregated_boot);
	put_hex(o, "device_id", &c->device_id);
	key(o, "init_script_hashes");
	buf_put_str(&o->w, "[");
	for (size_t i = 0; i < c->n_init_script_hashes; i++) {
		if (i)
			buf_put_str(&o->w, ",");
		hex_value(o, &c->init_script_hashes[i]);
	}
	buf_put_str(&o->w, "]");
	put_str(o, "tee_variant", c->tee_variant);
	put_bool(o, "rtmr3_replay_ok", rtmr3_ok);
	put_bool(o, "event_log_verified", c->event_log_verified);
	close_obj(o);
}

static int out_flush(struct out *o)
{
	buf_put_str(&o->w, "\n");
	if (buf_writer_status(&o->w) != ERR_OK) {
		fprintf(stderr, "dstack-attest: output too large\n");
		buf_writer_free(&o->w);
		return -1;
	}
	fwrite(o->w.p, 1, o->w.len, stdout);
	fflush(stdout);
	buf_writer_free(&o->w);
	return 0;
}

static int print_verdict(const pb_verdict *v, int has_log)
{
	const pb_claims *c = v->claims;
	pb_claims empty;
	struct out o;

	if (!c) {
		dstack__common__v1__claims__init(&empty);
		c = &empty;
	}
	buf_writer_init(&o.w, (size_t)64 << 20);
	o.first = 1;
	open_obj(&o, NULL);
	put_bool(&o, "ok", v->ok);
	key(&o, "error");
	if (v->error) {
		open_obj(&o, NULL);
		key(&o, "code");
		buf_printf(&o.w, "%d", v->error->code);
		put_str(&o, "name", v->error->name);
		put_str(&o, "detail", v->error->detail);
		close_obj(&o);
	} else {
		buf_put_str(&o.w, "null");
	}
	put_str(&o, "tee", tee_name(c->tee_type));
	put_bool(&o, "dev", c->dev);
	put_str(&o, "status", av_status_name(c->tcb_status));
	put_strs(&o, "advisory_ids", c->advisory_ids, c->n_advisory_ids);
	put_status(&o, "platform_status", c->platform_tcb);
	put_status(&o, "qe_status", c->qe_tcb);
	put_status(&o, "module_status", c->tdx_module_tcb);
	put_u64_opt(&o, "tcb_eval_number", c->tcb_evaluation_data_number);
	put_u64(&o, "evaluated_at", v->evaluated_at_unix);
	put_u64_opt(&o, "collateral_expires_at", v->collateral_expires_at_unix);
	put_u64_opt(&o, "collateral_issued_at", v->collateral_issued_at_unix);
	put_pck(&o, c);
	put_report(&o, c);
	key(&o, "claims");
	if (has_log && (c->app_id.len || c->compose_hash.len || c->event_log_verified || c->mr_aggregated.len))
		claims_value(&o, c, c->event_log_verified);
	else
		buf_put_str(&o.w, "null");
	put_hex(&o, "evidence_sha256", &v->evidence_sha256);
	put_strs(&o, "warnings", v->warnings, v->n_warnings);
	close_obj(&o);
	return out_flush(&o);
}

static int print_inspect(const Dstack__Attest__V1__InspectResponse *r)
{
	const pb_claims *c = r->claims;
	const Dstack__Attest__V1__RtmrReplay *r3 = NULL;
	struct out o;

	buf_writer_init(&o.w, (size_t)64 << 20);
	o.first = 1;
	open_obj(&o, NULL);
	put_str(&o, "tee", tee_name(c->tee_type));
	put_u64(&o, "evidence_version", c->evidence_version);
	put_pck(&o, c);
	put_report(&o, c);
	key(&o, "collateral_key");
	if (r->collateral_key) {
		const Dstack__Attest__V1__CollateralKey *k = r->collateral_key;

		open_obj(&o, NULL);
		put_str(&o, "tee", tee_name(k->tee_type));
		put_hex(&o, "fmspc", &k->fmspc);
		put_str(&o, "pck_ca", k->pck_ca == DSTACK__COMMON__V1__PCK_CA__PCK_CA_PLATFORM    ? "platform"
				      : k->pck_ca == DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR ? "processor"
												    : NULL);
		put_str(&o, "snp_product", k->snp_product);
		put_hex(&o, "snp_hw_id", &k->snp_hw_id);
		put_x64(&o, "snp_reported_tcb", k->snp_reported_tcb);
		close_obj(&o);
	} else {
		buf_put_str(&o.w, "null");
	}
	key(&o, "replays");
	buf_put_str(&o.w, "[");
	for (size_t i = 0; i < r->n_replays; i++) {
		const Dstack__Attest__V1__RtmrReplay *rp = r->replays[i];

		if (rp->index == 3)
			r3 = rp;
		if (i)
			buf_put_str(&o.w, ",");
		open_obj(&o, NULL);
		put_u64(&o, "index", rp->index);
		put_hex(&o, "replayed", &rp->replayed);
		put_hex(&o, "reported", &rp->reported);
		put_bool(&o, "matches", rp->matches);
		put_u64(&o, "event_count", rp->event_count);
		close_obj(&o);
	}
	buf_put_str(&o.w, "]");
	o.first = 0;
	key(&o, "rtmr3_replay_ok");
	buf_put_str(&o.w, r3 ? (r3->matches ? "true" : "false") : "null");
	key(&o, "claims");
	if (r->n_events && c->tee_type != DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP)
		claims_value(&o, c, r3 && r3->matches);
	else if (c->tee_type == DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP) {
		open_obj(&o, NULL);
		put_hex(&o, "mr_aggregated", &c->mr_aggregated);
		put_hex(&o, "device_id", &c->device_id);
		put_str(&o, "tee_variant", c->tee_variant);
		close_obj(&o);
	} else
		buf_put_str(&o.w, "null");
	key(&o, "events");
	buf_put_str(&o.w, "[");
	for (size_t i = 0; i < r->n_events; i++) {
		const Dstack__Common__V1__EventLogEntry *e = r->events[i];

		if (i)
			buf_put_str(&o.w, ",");
		open_obj(&o, NULL);
		put_u64(&o, "imr", e->imr);
		put_u64(&o, "event_type", e->event_type);
		put_str(&o, "event", e->event);
		put_hex(&o, "digest", &e->digest);
		put_hex(&o, "payload", &e->event_payload);
		if (e->version)
			put_u64(&o, "version", e->version);
		close_obj(&o);
	}
	buf_put_str(&o.w, "]");
	o.first = 0;
	put_strs(&o, "warnings", r->warnings, r->n_warnings);
	close_obj(&o);
	return out_flush(&o);
}

/* ---------------------------------------------------------------------------------------------- */
/* verify                                                                                          */

static void verify_usage(FILE *f)
{
	fprintf(f,
		"usage: dstack-attest verify [options] EVIDENCE\n"
		"\n"
		"Verify one piece of evidence and print the verdict as JSON on stdout.\n"
		"EVIDENCE is a raw or hex DCAP quote (TDX v4/v5, SGX v3), a raw or hex SEV-SNP\n"
		"report (1184 bytes), or the JSON dstack's GetQuote returns ({\"quote\",\"event_log\",\n"
		"\"report_data\",\"vm_config\"}); with an event log the RTMR3 replay and the dstack\n"
		"claims (app id, compose hash, instance id, ...) are checked and printed.\n"
		"\n"
		"collateral (Intel):\n"
		"  --collateral FILE        dcap-qvl QuoteCollateralV3 JSON\n"
		"  --pccs URL               fetch from a PCCS / Intel PCS (or a dstack-attest) base URL\n"
		"collateral (SEV-SNP):\n"
		"  --vcek FILE --amd-chain FILE [--amd-crl FILE]\n"
		"                           VCEK (DER/PEM), ASK+ARK PEM chain, optional KDS CRL\n"
		"  --kds URL                AMD KDS base URL for --pccs mode (default " DEFAULT_KDS ")\n"
		"trust:\n"
		"  --dev-root FILE          also trust the simulator's Intel root (verdicts are marked dev)\n"
		"  --dev-ark FILE           also trust the simulator's AMD ARK\n"
		"policy (default: UpToDate only, no advisories, no debug):\n"
		"  --now UNIX               evaluation time (default: the current time)\n"
		"  --accept-status S        also accept TCB status S (Intel spelling, e.g. OutOfDate); repeatable\n"
		"  --allow-advisory ID      tolerate advisory ID (e.g. INTEL-SA-00837); repeatable\n"
		"  --allow-any-advisory     tolerate every advisory (statuses still apply)\n"
		"  --min-tcb-eval N         minimum tcbEvaluationDataNumber\n"
		"  --max-collateral-age S   maximum collateral age in seconds\n"
		"  --allow-debug            accept debug TDs / enclaves / SNP guests\n"
		"  --allow-service-td       accept a non-zero MRSERVICETD (TD 1.5)\n"
		"  --expect-report-data HEX expected report data (1..64 bytes, right-padded with zeros)\n"
		"  --tcb-mode M             dcap-qvl (default) or intel\n"
		"  --snp-vmpl N             require SEV-SNP VMPL N (default: VMPL 0 only)\n"
		"  --snp                    read EVIDENCE as an SEV-SNP report\n"
		"\n"
		"exit status: 0 accepted; 1 rejected (verification or policy: see error.name);\n"
		"             2 invalid input or usage; 3 no verdict (collateral upstream unavailable)\n");
}

struct verify_opts {
	const char *collateral, *pccs, *kds, *dev_root, *dev_ark, *vcek, *amd_chain, *amd_crl, *evidence;
	uint64_t now;
	int snp;
};

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !end || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A usage problem: message (and the offending argument), exit 2. */
static int usage_error(const char *msg, const char *arg)
{
	if (arg)
		fprintf(stderr, "dstack-attest: %s: '%s' (see --help)\n", msg, arg);
	else
		fprintf(stderr, "dstack-attest: %s (see --help)\n", msg);
	return CLI_INVALID;
}

/* Fill the request's policy from one option; 0, or an exit code. */
static int policy_opt(int opt, const char *arg, Dstack__Common__V1__VerificationPolicy *p, struct arena *a)
{
	uint64_t u = 0;

	switch (opt) {
	case 'S': {
		int s = tcb_status_parse(arg, strlen(arg));

		if (s < 0 || s == TCB_REVOKED)
			return usage_error("--accept-status: unknown (or never acceptable) status", arg);
		if (p->n_accepted_tcb_statuses >= MAX_STATUSES)
			return usage_error("too many --accept-status", NULL);
		p->accepted_tcb_statuses[p->n_accepted_tcb_statuses++] = av_status_to_proto((enum tcb_status)s);
		return 0;
	}
	case 'A':
		if (p->n_allowed_advisory_ids >= MAX_ADVISORIES)
			return usage_error("too many --allow-advisory", NULL);
		p->allowed_advisory_ids[p->n_allowed_advisory_ids++] = (char *)(uintptr_t)arg;
		return 0;
	case 'Y':
		p->allow_any_advisory = 1;
		return 0;
	case 'E':
		if (parse_u64(arg, UINT32_MAX, &u))
			return usage_error("--min-tcb-eval: not a number", arg);
		p->min_tcb_evaluation_data_number = (uint32_t)u;
		return 0;
	case 'G':
		if (parse_u64(arg, UINT32_MAX, &u))
			return usage_error("--max-collateral-age: not a number of seconds", arg);
		p->max_collateral_age_seconds = (uint32_t)u;
		return 0;
	case 'D':
		p->allow_debug = 1;
		return 0;
	case 'T':
		p->allow_service_td = 1;
		return 0;
	case 'R': {
		size_t n = 0;
		uint8_t *rd = arena_alloc(a, 64);

		if (!rd || hex_decode(rd, 64, &n, arg, strlen(arg), 1) != ERR_OK || n == 0)
			return usage_error("--expect-report-data: want 1..64 bytes of hex", arg);
		p->expected_report_data.data = rd;
		p->expected_report_data.len = n;
		return 0;
	}
	case 'M':
		if (strcmp(arg, "dcap-qvl") == 0)
			p->tcb_evaluation_mode = DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_DCAP_QVL;
		else if (strcmp(arg, "intel") == 0)
			p->tcb_evaluation_mode = DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_INTEL;
		else
			return usage_error("--tcb-mode: dcap-qvl or intel", arg);
		return 0;
	case 'V': {
		Google__Protobuf__UInt32Value *w = (void *)pb_new(&google__protobuf__uint32_value__descriptor, a);

		if (!w || parse_u64(arg, 3, &u))
			return usage_error("--snp-vmpl: 0..3", arg);
		w->value = (uint32_t)u;
		p->expected_snp_vmpl = w;
		return 0;
	}
	default:
		return CLI_INVALID;
	}
}

/* A certificate file (DER or PEM) as DER in the arena. */
static int cert_der(const char *path, struct arena *a, ProtobufCBinaryData *out, const char **why)
{
	size_t n;
	uint8_t *p = read_all(path, 64u << 10, a, &n, why);
	X509 *x;
	unsigned char *der = NULL;
	int len;

	if (!p)
		return -1;
	if (!(x = x509_from_bytes(p, n))) {
		*why = "not a DER or PEM certificate";
		return -1;
	}
	len = i2d_X509(x, &der);
	X509_free(x);
	if (len <= 0 || !(out->data = arena_memdup(a, der, (size_t)len))) {
		OPENSSL_free(der);
		*why = "out of memory";
		return -1;
	}
	out->len = (size_t)len;
	OPENSSL_free(der);
	return 0;
}

/* --vcek / --amd-chain / --amd-crl as AmdCollateral. */
static int load_amd(const struct verify_opts *vo, struct arena *a, Dstack__Attest__V1__AmdCollateral **out,
		    const char **why, const char **which)
{
	Dstack__Attest__V1__AmdCollateral *m = (void *)pb_new(&dstack__attest__v1__amd_collateral__descriptor, a);
	STACK_OF(X509) *sk = NULL;
	uint8_t *p;
	size_t n;
	int rc = -1;

	if (!m)
		return -1;
	*which = vo->vcek;
	if (cert_der(vo->vcek, a, &m->vcek, why))
		return -1;
	*which = vo->amd_chain;
	if (!(p = read_all(vo->amd_chain, 256u << 10, a, &n, why)))
		return -1;
	sk = pem_certs_parse((const char *)p, n);
	if (!sk || sk_X509_num(sk) < 1 || sk_X509_num(sk) > 2) {
		*why = "want a PEM chain of the ASK (or ASVK) and optionally the ARK";
		goto out;
	}
	for (int i = 0; i < sk_X509_num(sk); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);
		ProtobufCBinaryData *dst = i == 0 ? &m->ask : &m->ark;

		if (len <= 0 || !(dst->data = arena_memdup(a, der, (size_t)len))) {
			OPENSSL_free(der);
			*why = "out of memory";
			goto out;
		}
		dst->len = (size_t)len;
		OPENSSL_free(der);
	}
	if (vo->amd_crl) {
		*which = vo->amd_crl;
		if (!(p = read_all(vo->amd_crl, 1u << 20, a, &n, why)))
			goto out;
		m->crl.data = p;
		m->crl.len = n;
	}
	*out = m;
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

struct cli_answer {
	int done;
	err_t err;
	char detail[256];
	pb_verdict *v;
	struct event_base *base;
};

static void on_answer(void *arg, err_t err, const char *detail, pb_verdict *v)
{
	struct cli_answer *ans = arg;

	ans->done = 1;
	ans->err = err;
	ans->v = v;
	snprintf(ans->detail, sizeof(ans->detail), "%s", detail ? detail : "");
	if (ans->base)
		event_base_loopbreak(ans->base);
}

static int run_verify(const struct verify_opts *vo, Dstack__Attest__V1__VerifyRequest *req, struct arena *a)
{
	struct attest_trust trust;
	struct attest_verifier_config vc;
	struct attest_verifier *vf = NULL;
	struct attest_collateral *coll = NULL;
	struct metrics *m = NULL;
	struct cli_answer ans;
	const char *detail = NULL;
	pb_verdict *v = NULL;
	int rc, exit_code = CLI_NO_VERDICT;

	memset(&ans, 0, sizeof(ans));
	if (attest_trust_load(&trust, vo->dev_root, vo->dev_ark, &detail) != ERR_OK) {
		fprintf(stderr, "dstack-attest: %s: %s\n", vo->dev_root ? vo->dev_root : vo->dev_ark, detail);
		return CLI_INVALID;
	}
	memset(&vc, 0, sizeof(vc));
	vc.trust = &trust;
	if (vo->pccs) {
		struct attest_coll_config cc;

		ans.base = event_base_new();
		m = metrics_new();
		memset(&cc, 0, sizeof(cc));
		cc.mode = ATTEST_COLL_MODE_PCCS;
		cc.pccs_url = vo->pccs;
		cc.amd_kds_url = vo->kds ? vo->kds : DEFAULT_KDS;
		cc.timeout_ms = 15000;
		cc.retries = 1;
		if (!ans.base || !m || !(coll = attest_collateral_new(ans.base, m, &cc, &detail))) {
			fprintf(stderr, "dstack-attest: --pccs: %s\n", detail ? detail : "cannot set up the fetcher");
			exit_code = CLI_INVALID;
			goto out;
		}
		vc.coll = coll;
		vc.metrics = m;
	}
	if (!(vf = attest_verifier_new(&vc))) {
		fprintf(stderr, "dstack-attest: out of memory\n");
		goto out;
	}
	rc = attest_verifier_verify(vf, req, vo->now, a, on_answer, &ans, &v, &detail);
	if (rc == AV_PENDING) {
		while (!ans.done && event_base_dispatch(ans.base) == 0)
			;
		rc = ans.done ? ans.err : ERR_INTERNAL;
		v = ans.v;
		detail = ans.detail;
	}
	if (rc != ERR_OK) {
		fprintf(stderr, "dstack-attest: %s: %s\n", err_name(rc), detail && *detail ? detail : err_str(rc));
		exit_code = err_group(rc) == ERR_USAGE || err_group(rc) == ERR_PROTO || rc == ERR_UNIMPLEMENTED
				    ? CLI_INVALID
				    : CLI_NO_VERDICT;
		goto out;
	}
	if (print_verdict(v, req->evidence->event_log[0] != 0 || req->evidence->n_events))
		goto out;
	exit_code = v->ok ? CLI_ACCEPTED : CLI_REJECTED;
out:
	attest_verifier_close(vf);
	attest_collateral_free(coll);
	attest_verifier_free(vf);
	if (ans.base)
		event_base_free(ans.base);
	metrics_free(m);
	attest_trust_free(&trust);
	return exit_code;
}

int attest_cmd_verify(int argc, char **argv, const struct svc_def *def)
{
	static const struct option longopts[] = {
		{ "collateral", required_argument, NULL, 'c' },   { "pccs", required_argument, NULL, 'p' },
		{ "kds", required_argument, NULL, 'k' },          { "now", required_argument, NULL, 'n' },
		{ "dev-root", required_argument, NULL, 'r' },     { "dev-ark", required_argument, NULL, 'a' },
		{ "accept-status", required_argument, NULL, 'S' },{ "allow-advisory", required_argument, NULL, 'A' },
		{ "allow-any-advisory", no_argument, NULL, 'Y' }, { "min-tcb-eval", required_argument, NULL, 'E' },
		{ "max-collateral-age", required_argument, NULL, 'G' }, { "allow-debug", no_argument, NULL, 'D' },
		{ "allow-service-td", no_argument, NULL, 'T' },   { "expect-report-data", required_argument, NULL, 'R' },
		{ "tcb-mode", required_argument, NULL, 'M' },     { "vcek", required_argument, NULL, 'v' },
		{ "amd-chain", required_argument, NULL, 'C' },    { "amd-crl", required_argument, NULL, 'L' },
		{ "snp-vmpl", required_argument, NULL, 'V' },     { "snp", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },               { NULL, 0, NULL, 0 },
	};
	Dstack__Attest__V1__VerifyRequest *req;
	Dstack__Common__V1__VerificationPolicy *pol;
	struct verify_opts vo;
	struct arena a;
	const char *why = NULL;
	int opt, rc = CLI_INVALID, have_now = 0, snp;

	(void)def;
	log_setup("dstack-attest", LOG_WARN);
	memset(&vo, 0, sizeof(vo));
	arena_init(&a, (size_t)256 << 20, 64u << 10);
	req = (void *)pb_new(&dstack__attest__v1__verify_request__descriptor, &a);
	pol = (void *)pb_new(&dstack__common__v1__verification_policy__descriptor, &a);
	if (!req || !pol || !(pol->accepted_tcb_statuses = arena_alloc(&a, MAX_STATUSES * sizeof(int))) ||
	    !(pol->allowed_advisory_ids = arena_alloc(&a, MAX_ADVISORIES * sizeof(char *)))) {
		arena_fini(&a);
		return CLI_NO_VERDICT;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': vo.collateral = optarg; break;
		case 'p': vo.pccs = optarg; break;
		case 'k': vo.kds = optarg; break;
		case 'r': vo.dev_root = optarg; break;
		case 'a': vo.dev_ark = optarg; break;
		case 'v': vo.vcek = optarg; break;
		case 'C': vo.amd_chain = optarg; break;
		case 'L': vo.amd_crl = optarg; break;
		case 's': vo.snp = 1; break;
		case 'n':
			if (parse_u64(optarg, 253402300799ull, &vo.now) || !vo.now) {
				rc = usage_error("--now: unix seconds", optarg);
				goto out;
			}
			have_now = 1;
			break;
		case 'h':
			verify_usage(stdout);
			rc = CLI_ACCEPTED;
			goto out;
		case '?':
			rc = usage_error("bad option", NULL);
			goto out;
		default:
			if ((rc = policy_opt(opt, optarg, pol, &a)) != 0)
				goto out;
			rc = CLI_INVALID;
			break;
		}
	}
	if (optind != argc - 1) {
		rc = usage_error("want exactly one EVIDENCE file", NULL);
		goto out;
	}
	vo.evidence = argv[optind];
	if (!have_now)
		vo.now = wall_s();
	if (vo.collateral && vo.pccs) {
		rc = usage_error("--collateral and --pccs exclude each other", NULL);
		goto out;
	}
	if ((vo.vcek != NULL) != (vo.amd_chain != NULL)) {
		rc = usage_error("--vcek and --amd-chain go together", NULL);
		goto out;
	}
	snp = vo.snp || vo.vcek;
	if (load_evidence(vo.evidence, snp, &a, &req->evidence, &why)) {
		fprintf(stderr, "dstack-attest: %s: %s\n", vo.evidence, why);
		goto out;
	}
	snp = req->evidence->kind == DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SEV_SNP_REPORT;
	if (snp && !vo.vcek && !vo.pccs) {
		rc = usage_error("SEV-SNP evidence needs --vcek and --amd-chain (or --pccs with --kds)", NULL);
		goto out;
	}
	if (!snp && !vo.collateral && !vo.pccs) {
		rc = usage_error("Intel evidence needs --collateral FILE or --pccs URL", NULL);
		goto out;
	}
	if (!snp && vo.vcek) {
		rc = usage_error("--vcek/--amd-chain are for SEV-SNP reports", NULL);
		goto out;
	}
	req->collateral = (void *)pb_new(&dstack__attest__v1__collateral__descriptor, &a);
	if (!req->collateral)
		goto out;
	if (vo.collateral) {
		struct dcap_collateral c;
		size_t n;
		char *text = (char *)read_all(vo.collateral, DCAP_COLLATERAL_JSON_MAX, &a, &n, &why);
		const char *d = NULL;

		if (!text) {
			fprintf(stderr, "dstack-attest: %s: %s\n", vo.collateral, why);
			goto out;
		}
		if (dcap_collateral_parse_json(text, n, &a, &c, &d) != ERR_OK ||
		    av_intel_collateral_to_proto(&c, &a, &req->collateral->intel, &d) != ERR_OK) {
			fprintf(stderr, "dstack-attest: %s: not dcap-qvl collateral JSON: %s\n", vo.collateral,
				d ? d : "?");
			goto out;
		}
	} else if (vo.vcek) {
		const char *which = NULL;

		if (load_amd(&vo, &a, &req->collateral->amd, &why, &which)) {
			fprintf(stderr, "dstack-attest: %s: %s\n", which ? which : "--vcek", why ? why : "unreadable");
			goto out;
		}
	}
	if (!req->collateral->intel && !req->collateral->amd)
		req->collateral = NULL;
	pol->allow_dev_root = vo.dev_root || vo.dev_ark;
	req->policy = pol;
	/* --now is the caller's evaluation time: part of the request, as for the RPC. */
	req->evaluate_at_unix = vo.now;
	rc = run_verify(&vo, req, &a);
out:
	arena_fini(&a);
	return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* inspect                                                                                         */

static void inspect_usage(FILE *f)
{
	fprintf(f,
		"usage: dstack-attest inspect [--snp] EVIDENCE\n"
		"\n"
		"Parse evidence without collateral and print, as JSON, the report fields, the PCK\n"
		"certificate's FMSPC / PPID / device id, the collateral it needs, every event, the\n"
		"RTMR replays and whether RTMR3 matches, and the dstack claims (app id, compose hash,\n"
		"instance id, key provider, mr_system, mr_aggregated). Nothing is verified against a\n"
		"trust root: do not use the output for authorisation.\n"
		"EVIDENCE: as for `dstack-attest verify`.\n"
		"\n"
		"exit status: 0 parsed; 2 invalid input or usage\n");
}

int attest_cmd_inspect(int argc, char **argv, const struct svc_def *def)
{
	static const struct option longopts[] = {
		{ "snp", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Dstack__Attest__V1__InspectResponse *r = NULL;
	pb_evidence *e = NULL;
	struct av_evidence ev;
	struct arena a;
	const char *why = NULL;
	int opt, snp = 0, rc = CLI_INVALID;
	err_t err;

	(void)def;
	log_setup("dstack-attest", LOG_WARN);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 's') {
			snp = 1;
		} else if (opt == 'h') {
			inspect_usage(stdout);
			return 0;
		} else {
			inspect_usage(stderr);
			return CLI_INVALID;
		}
	}
	if (optind != argc - 1) {
		inspect_usage(stderr);
		return CLI_INVALID;
	}
	arena_init(&a, (size_t)256 << 20, 64u << 10);
	if (load_evidence(argv[optind], snp, &a, &e, &why)) {
		fprintf(stderr, "dstack-attest: %s: %s\n", argv[optind], why);
		goto out;
	}
	err = av_evidence_from_proto(e, &a, &ev, &why);
	if (err == ERR_OK)
		err = av_inspect(&ev, &a, &r, &why);
	if (err != ERR_OK) {
		fprintf(stderr, "dstack-attest: %s: %s: %s\n", argv[optind], err_name(err), why ? why : err_str(err));
		goto out;
	}
	rc = print_inspect(r) ? CLI_NO_VERDICT : 0;
out:
	arena_fini(&a);
	return rc;
}
