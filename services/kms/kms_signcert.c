/* SPDX-License-Identifier: Apache-2.0 */
/* SignCert: an RA-TLS certificate from the caller's per-app CA for a CSR whose embedded attestation binds the CSR key, authorised with the boot-time measurement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "kms.h"
#include "kms_authz.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"

/*
 * The flow, as dstack's KMS sign_cert (shared/reference/dstack.md 5.6):
 *
 *   decode the SCALE CSR (V1 or V2 by api_version) -> confirm word ->
 *   CSR signature by the CSR key -> certificate parameters -> the CSR's
 *   evidence, verified with the KMS's RA-TLS verifier and bound to the CSR
 *   key (report_data = SHA-512("ratls-cert:" || CSR pubkey)) -> APP_INFO
 *   when asked (ext_app_info) -> BootInfo with the boot-time measurement ->
 *   registry CheckBoot (kind app) -> the key holder signs with the app CA ->
 *   [leaf, app CA, root CA].
 *
 * The method is public: the caller need not present a certificate, the
 * CSR carries its own evidence.
 */

#define VM_CONFIG_MAX (64 * 1024)
/* Issued certificates live at most a year (dstack's default is ten; the CSR can ask for less). */
#define MAX_VALIDITY_S (365ull * 86400)
/* X.509 upper bounds of CN and O (ub-common-name, ub-organization-name): characters. */
#define NAME_MAX_CHARS 64

err_t kms_validate_sign_cert(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__SignCertRequest *q = (const void *)msg;

	if (q->api_version != 1 && q->api_version != 2) {
		*detail = "api_version: 1 (quote + event log) or 2 (versioned attestation)";
		return ERR_INVALID_ARG;
	}
	if (q->csr.len == 0 || q->csr.len > RATLS_CSR_MAX) {
		*detail = "csr: 1 byte to 1 MiB";
		return ERR_INVALID_ARG;
	}
	if (q->signature.len == 0 || q->signature.len > RATLS_CSR_SIG_MAX) {
		*detail = "signature: a DER ECDSA P-256 signature (at most 72 bytes)";
		return ERR_INVALID_ARG;
	}
	if (q->vm_config && strlen(q->vm_config) > VM_CONFIG_MAX) {
		*detail = "vm_config: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/*
 * A name for the subject DN: 1 to 64 code points of UTF-8 (already
 * validated by the decoder) without control characters, which would only
 * serve to mislead whoever reads the certificate or a log of it.
 */
static int dn_value_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return 0;
		n += (c & 0xc0) != 0x80;
	}
	return n >= 1 && n <= NAME_MAX_CHARS;
}

/* A SAN entry lib/ratls will accept: an IP literal, or a DNS name of visible ASCII without commas. */
static int alt_name_ok(const char *s)
{
	size_t n = strlen(s);
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);

	if (ip) {
		ASN1_OCTET_STRING_free(ip);
		return 1;
	}
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
			return 0;
	return 1;
}

/*
 * The certificate the CSR asks for, checked before any evidence work:
 * names the X.509 builder accepts and a validity window inside [now, now + 1
 * year].
 */
static err_t check_config(const struct ratls_csr_config *c, uint64_t now, uint64_t *nb, uint64_t *na,
			  const char **detail)
{
	if (!dn_value_ok(c->subject)) {
		*detail = "subject: 1 to 64 characters, no control characters";
		return ERR_INVALID_ARG;
	}
	if (c->org_name && !dn_value_ok(c->org_name)) {
		*detail = "org_name: 1 to 64 characters, no control characters, when present";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < c->n_alt_names; i++)
		if (!alt_name_ok(c->alt_names[i])) {
			*detail = "subject_alt_names: DNS names (visible ASCII, no commas, at most 253) or IP addresses";
			return ERR_INVALID_ARG;
		}
	/* not_before 0 (absent or Some(0)) means the builder's default, 1975-01-01 as rcgen's. */
	*nb = c->has_not_before ? c->not_before : 0;
	*na = c->has_not_after ? c->not_after : now + MAX_VALIDITY_S;
	if (*na <= now || *na > now + MAX_VALIDITY_S) {
		*detail = "not_after: in the future and at most one year from now";
		return ERR_INVALID_ARG;
	}
	if (*nb >= *na) {
		*detail = "not_before: before not_after";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/*
 * The BootInfo SignCert authorises, as dstack builds it for boot-time
 * measurement (dstack-attest decode_app_info_ex with boottime_mr = true):
 * mr_aggregated over RTMR3 replayed only up to boot-mr-done, and the
 * key-provider event ignored — it is emitted after boot-mr-done — so
 * key_provider_info is empty and mr_system uses a zero mr_key_provider:
 * sha256(MRTD || RTMR0 || RTMR1 || RTMR2 || 0^32). A registry policy pinning
 * mr_system for SignCert must therefore pin that value, not GetAppKey's.
 */
void kms_signcert_boot_info(const struct attest_claims *c, struct attest_boot_info *bi)
{
	static const uint8_t zero_kp[ATTEST_HASH32_LEN];
	const void *parts[5] = { c->mrtd, c->rtmr[0], c->rtmr[1], c->rtmr[2], zero_kp };
	const size_t lens[5] = { 48, 48, 48, 48, ATTEST_HASH32_LEN };

	attest_claims_boot_info(c, 1, bi);
	bi->key_provider_info = NULL;
	bi->key_provider_info_len = 0;
	if (bi->mr_system_len)
		sha256_parts(parts, lens, 5, bi->mr_system);
}

struct signcert_job {
	struct kms_env *k;
	struct rpc_call *call;
	const struct ratls_verdict *v;   /* a reference: claims outlive the registry round trip */
	const struct ratls_csr *csr;     /* in the call arena */
	uint64_t not_before, not_after;
	const uint8_t *attestation;      /* the ATTESTATION extension when ext_quote (call arena), else NULL */
	size_t attestation_len;
	const uint8_t *app_info;         /* the APP_INFO extension when ext_app_info (call arena), else NULL */
	size_t app_info_len;
};

static void job_done(struct signcert_job *j, int err, ProtobufCMessage *resp)
{
	if (err == ERR_OK)
		j->k->certs_issued++;
	rpc_call_complete(j->call, err, resp);
	ratls_verdict_unref(j->v);
	free(j);
}

/* The registry said yes: the key holder signs with the app CA; answer with the chain. */
static int issue(struct signcert_job *j, ProtobufCMessage **resp)
{
	struct arena *mem = rpc_call_arena(j->call);
	const struct ratls_csr_config *c = &j->csr->config;
	const struct attest_claims *cl = &j->v->claims;
	Dstack__Kms__Internal__V1__KhIssueCertRequest ireq;
	Dstack__Kms__Internal__V1__KhCertParams cp;
	const Dstack__Kms__Internal__V1__KhIssueCertResponse *ic;
	Dstack__Kms__V1__SignCertResponse *out;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = NULL;
	err_t err;

	dstack__kms__internal__v1__kh_cert_params__init(&cp);
	cp.org = UNCONST(c->org_name ? c->org_name : "");
	cp.cn = UNCONST(c->subject);
	cp.n_alt_names = c->n_alt_names;
	cp.alt_names = (char **)UNCONST(c->alt_names);
	cp.not_before = j->not_before;
	cp.not_after = j->not_after;
	cp.server_auth = c->usage_server_auth;
	cp.client_auth = c->usage_client_auth;
	cp.app_id = (ProtobufCBinaryData){ RATLS_APP_ID_LEN, UNCONST(cl->app_id) };
	cp.usage = UNCONST(RATLS_USAGE_APP_CUSTOM);
	if (j->attestation)
		cp.attestation = (ProtobufCBinaryData){ j->attestation_len, UNCONST(j->attestation) };
	if (j->app_info)
		cp.app_info = (ProtobufCBinaryData){ j->app_info_len, UNCONST(j->app_info) };
	dstack__kms__internal__v1__kh_issue_cert_request__init(&ireq);
	ireq.signer = DSTACK__KMS__INTERNAL__V1__KH_SIGNER__KH_SIGNER_APP_CA;
	ireq.app_id = cp.app_id;
	ireq.subject_spki = (ProtobufCBinaryData){ j->csr->pubkey_len, UNCONST(j->csr->pubkey) };
	ireq.params = &cp;
	dstack__kms__internal__v1__kh_request__init(&kreq);
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ISSUE_CERT;
	kreq.issue_cert = &ireq;
	if ((err = kms_kh_call(j->k->kh, &kreq, mem, &kresp, &detail)) != ERR_OK) {
		rpc_call_set_detail(j->call, "%s", detail ? detail : "key holder failed");
		return err;
	}
	ic = kresp->issue_cert;
	if (!ic || ic->n_chain != 2) {
		rpc_call_set_detail(j->call, "key holder returned no app CA chain");
		return ERR_INTERNAL;
	}
	if (!(out = (void *)pb_new(&dstack__kms__v1__sign_cert_response__descriptor, mem)) ||
	    !(out->certificate_chain = arena_alloc(mem, 3 * sizeof(*out->certificate_chain))))
		return arena_err(mem);
	out->n_certificate_chain = 3;
	out->certificate_chain[0] = kms_cert_pem(mem, &ic->cert);
	out->certificate_chain[1] = kms_cert_pem(mem, &ic->chain[0]);
	out->certificate_chain[2] = kms_cert_pem(mem, &ic->chain[1]);
	for (size_t i = 0; i < 3; i++)
		if (!out->certificate_chain[i]) {
			rpc_call_set_detail(j->call, "key holder returned an unreadable certificate");
			return ERR_INTERNAL;
		}
	out->key_epoch = ic->epoch;
	*resp = &out->base;
	return ERR_OK;
}

static void on_decision(void *arg, err_t err, const char *detail, const struct kms_decision *d)
{
	struct signcert_job *j = arg;
	ProtobufCMessage *resp = NULL;
	char app_hex[2 * ATTEST_APP_ID_LEN + 1];

	hex_encode(app_hex, j->v->claims.app_id, ATTEST_APP_ID_LEN);
	if (err != ERR_OK) {
		/* Fail closed: no decision, no certificate. */
		log_warn("kms", "SignCert app %s: no registry decision: %s", app_hex, detail);
		rpc_call_set_detail(j->call, "registry: %s", detail);
		job_done(j, err, NULL);
		return;
	}
	if (!d->allowed) {
		log_info("kms", "SignCert app %s denied by the registry: %s", app_hex, d->reason);
		rpc_call_set_detail(j->call, "%s", d->reason);
		job_done(j, ERR_POLICY_DENIED, NULL);
		return;
	}
	err = issue(j, &resp);
	if (err == ERR_OK)
		log_info("kms", "SignCert app %s: certificate issued (block %llu%s)", app_hex, (unsigned long long)d->block,
			 j->v->claims.dev ? ", SIMULATED evidence" : "");
	job_done(j, err, resp);
}

/*
 * A V1 CSR's legacy quote + event log, re-encoded as a VersionedAttestation
 * for the certificate's ATTESTATION extension (V0, or V1 when an event is
 * V2, which V0 cannot say). dstack writes the legacy TDX_QUOTE/EVENT_LOG
 * pair instead; readers take either.
 */
static err_t legacy_ext(const struct ratls_attestation *legacy, struct arena *mem, const uint8_t **out, size_t *len)
{
	struct ratls_attestation a = *legacy;
	struct buf_writer w;
	err_t err;

	a.version = 0;
	for (size_t i = 0; i < a.n_event_log; i++)
		if (a.event_log[i].version == 2)
			a.version = 1;
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	if ((err = ratls_attestation_encode(&a, &w)) == ERR_OK && !(*out = arena_memdup(mem, w.p, w.len)))
		err = arena_err(mem);
	*len = w.len;
	buf_writer_free(&w);
	return err;
}

/* The CSR's evidence, verified and bound to the CSR key. On success *vd is a new reference. */
static err_t verify_csr_evidence(struct kms_env *k, struct rpc_call *call, const struct ratls_csr *csr,
				 struct signcert_job *j, const struct ratls_verdict **vd)
{
	struct arena *mem = rpc_call_arena(call);
	struct ratls_verifier *verifier = kms_tls_verifier(k);
	struct ratls_attestation legacy;
	struct ratls_failure why;
	const char *detail = NULL;
	err_t err;

	memset(&why, 0, sizeof(why));
	if (csr->version == 2) {
		err = ratls_verify_attestation(verifier, csr->attestation, csr->attestation_len, csr->pubkey,
					       csr->pubkey_len, wall_s(), vd, &why);
		if (err == ERR_OK && csr->config.ext_quote) {
			j->attestation = csr->attestation;
			j->attestation_len = csr->attestation_len;
		}
	} else {
		err = ratls_attestation_legacy(csr->quote, csr->quote_len, csr->event_log, csr->event_log_len, mem,
					       &legacy, &detail);
		if (err != ERR_OK) {
			why.err = err;
			why.step = RATLS_STEP_EVIDENCE;
			snprintf(why.detail, sizeof(why.detail), "%s", detail ? detail : err_str(err));
		} else {
			err = ratls_verify_evidence(verifier, &legacy, csr->pubkey, csr->pubkey_len, wall_s(), vd, &why);
		}
		if (err == ERR_OK && csr->config.ext_quote &&
		    (err = legacy_ext(&legacy, mem, &j->attestation, &j->attestation_len)) != ERR_OK) {
			ratls_verdict_unref(*vd);
			*vd = NULL;
			rpc_call_set_detail(call, "cannot re-encode the V1 CSR's evidence for the certificate");
			return err;
		}
	}
	if (err != ERR_OK) {
		log_warn("kms", "%s: CSR evidence refused at the %s step: %s (%s)", rpc_call_log_prefix(call),
			 ratls_step_name(why.step), err_name(err), why.detail);
		rpc_call_set_detail(call, "attestation refused at the %s step: %s: %s", ratls_step_name(why.step),
				    err_name(err), why.detail);
	}
	return err;
}

/*
 * The APP_INFO extension for ext_app_info, as dstack computes it: the KMS's
 * sign_cert (kms/src/main_service.rs) authorises with the boot-time
 * measurement (ensure_app_attestation_allowed(.., use_boottime_mr = true))
 * but then signs through CaCert::sign_csr (ra-tls/src/cert.rs), which embeds
 * csr.attestation.into_v1().decode_app_info(boottime_mr = false): RTMR3 in
 * full and the key-provider event in mr_system and key_provider_info. So the
 * certificate's mr_aggregated / mr_system are GetAppKey's, not the BootInfo
 * the registry was asked about. ratls_app_info_from_attestation has the
 * details; its device_id here is the verified sha256(PPID) (dstack's is
 * sha256(""): it decodes the CSR's evidence without its verified report).
 * The evidence was verified already (same bytes). Only V2 CSRs can ask:
 * CertConfig (V1) has no ext_app_info.
 */
static err_t app_info_ext(struct rpc_call *call, const struct ratls_csr *csr, const struct ratls_verdict *vd,
			  struct signcert_job *j)
{
	struct arena *mem = rpc_call_arena(call);
	struct ratls_attestation att;
	struct ratls_app_info ai;
	struct buf_writer w;
	const char *detail = NULL;
	err_t err;

	if (csr->version != 2)
		return ERR_OK;
	buf_writer_init(&w, RATLS_APP_INFO_MAX);
	if ((err = ratls_attestation_decode(csr->attestation, csr->attestation_len, mem, &att, &detail)) == ERR_OK &&
	    (err = ratls_app_info_from_attestation(&att, vd->claims.has_device_id ? vd->claims.device_id : NULL, mem,
						   &ai, &detail)) == ERR_OK &&
	    (err = ratls_app_info_encode(&ai, &w)) == ERR_OK) {
		if ((j->app_info = arena_memdup(mem, w.p, w.len)) != NULL)
			j->app_info_len = w.len;
		else
			err = arena_err(mem);
	}
	buf_writer_free(&w);
	if (err != ERR_OK && err != ERR_NOMEM && err != ERR_BUDGET)
		rpc_call_set_detail(call, "cannot compute APP_INFO from the CSR's evidence: %s",
				    detail ? detail : err_str(err));
	return err;
}

int kms_on_sign_cert(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__SignCertRequest *q = (const void *)req;
	const struct ratls_verdict *vd = NULL;
	struct attest_boot_info bi;
	struct signcert_job *j = NULL;
	struct ratls_csr *csr;
	const char *detail = NULL;
	err_t err;

	(void)resp;
	if (!k->pub->current) {
		rpc_call_set_detail(call, "this KMS holds no root keys yet");
		return ERR_FAILED_PRECONDITION;
	}
	if (!(csr = arena_zalloc(mem, sizeof(*csr))) || !(j = calloc(1, sizeof(*j)))) {
		free(j);
		return csr ? ERR_NOMEM : arena_err(mem);
	}
	j->k = k;
	j->call = call;
	j->csr = csr;
	/* The CSR is decoded into the call arena; its byte fields are views into the request, which lives there too. */
	if ((err = ratls_csr_decode((int)q->api_version, q->csr.data, q->csr.len, mem, csr, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "csr: %s", detail ? detail : err_str(err));
		goto fail;
	}
	if ((err = ratls_csr_verify_signature(csr, q->csr.data, q->csr.len, q->signature.data, q->signature.len, NULL,
					      &detail)) != ERR_OK ||
	    (err = check_config(&csr->config, wall_s(), &j->not_before, &j->not_after, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		goto fail;
	}
	if ((err = verify_csr_evidence(k, call, csr, j, &vd)) != ERR_OK)
		goto fail;
	j->v = vd;
	if (!vd->claims.has_app_id) {
		rpc_call_set_detail(call, "the attested event log names no app id");
		err = ERR_AUTH_PEER_REJECTED;
		goto fail;
	}
	if (!vd->claims.has_mr_aggregated_boot) {
		rpc_call_set_detail(call, "no boot-time measurement (TDX with an RTMR3 event log only)");
		err = ERR_AUTH_PEER_REJECTED;
		goto fail;
	}
	if (csr->config.ext_app_info && (err = app_info_ext(call, csr, vd, j)) != ERR_OK)
		goto fail;
	kms_signcert_boot_info(&vd->claims, &bi);
	if ((err = kms_authz_check(k->authz, &bi, 0, on_decision, j)) != ERR_OK) {
		rpc_call_set_detail(call, "cannot ask the registry");
		goto fail;
	}
	return RPC_ASYNC;
fail:
	ratls_verdict_unref(j->v);
	free(j);
	return err;
}
