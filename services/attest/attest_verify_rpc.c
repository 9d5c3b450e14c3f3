/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.attest.v1.Attest: Verify, VerifyBatch, Inspect, and the trust-root part of GetInfo. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "attest.h"
#include "attest_verify.h"
#include "crypto.h"
#include "log.h"
#include "pbcodec.h"

typedef Dstack__Attest__V1__VerifyRequest pb_verify_req;
typedef Dstack__Common__V1__Verdict pb_verdict;

/*
 * Async answers come back from the collateral cache on the loop. The state
 * that routes them is malloc'd, not in the call arena, because at shutdown
 * the server (and every call arena) is gone before the cache cancels what
 * is pending; then a->closing is set and nothing of the call is touched.
 */

/* ---------------------------------------------------------------------------------------------- */
/* Verify                                                                                          */

struct verify_pending {
	struct attest_env *a;
	struct rpc_call *call;
};

static ProtobufCMessage *verify_response(struct arena *mem, pb_verdict *v)
{
	Dstack__Attest__V1__VerifyResponse *r = (void *)pb_new(&dstack__attest__v1__verify_response__descriptor, mem);

	if (!r)
		return NULL;
	r->verdict = v;
	return &r->base;
}

static void on_verify_done(void *arg, err_t err, const char *detail, pb_verdict *v)
{
	struct verify_pending *p = arg;
	ProtobufCMessage *resp = NULL;

	if (!p->a->closing) {
		if (err == ERR_OK && !(resp = verify_response(rpc_call_arena(p->call), v)))
			err = arena_err(rpc_call_arena(p->call));
		if (err != ERR_OK && detail)
			rpc_call_set_detail(p->call, "%s", detail);
		rpc_call_complete(p->call, err, resp);
	}
	free(p);
}

static uint64_t service_now(const struct attest_env *a)
{
	return attest_collateral_now(a->collateral);
}

int attest_on_verify(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct attest_env *a = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	struct verify_pending *p = calloc(1, sizeof(*p));
	pb_verdict *v = NULL;
	const char *detail = NULL;
	int rc;

	if (!p)
		return ERR_NOMEM;
	p->a = a;
	p->call = call;
	rc = attest_verifier_verify(a->verify->verifier, (const pb_verify_req *)req, service_now(a), mem, on_verify_done,
				    p, &v, &detail);
	if (rc == AV_PENDING)
		return RPC_ASYNC;
	free(p);
	if (rc != ERR_OK) {
		if (detail)
			rpc_call_set_detail(call, "%s", detail);
		return rc;
	}
	if (!(*resp = verify_response(mem, v)))
		return arena_err(mem);
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* VerifyBatch                                                                                     */

struct batch;

struct batch_item {
	struct batch *b;
	size_t idx;
};

struct batch {
	struct attest_env *a;
	struct rpc_call *call;
	Dstack__Attest__V1__VerifyBatchResponse *resp;  /* call arena */
	size_t pending;
	int started;              /* every item was handed out: the last answer completes the call */
	struct batch_item items[];
};

/* A per-item failure as a rejected verdict: items are independent, one bad item fails only itself. */
static pb_verdict *error_verdict(struct arena *mem, err_t err, const char *detail)
{
	pb_verdict *v = (void *)pb_new(&dstack__common__v1__verdict__descriptor, mem);
	Dstack__Common__V1__ErrorDetail *e = (void *)pb_new(&dstack__common__v1__error_detail__descriptor, mem);

	if (!v || !e)
		return NULL;
	e->code = err;
	e->name = (char *)(uintptr_t)err_name(err);
	e->detail = arena_strdup(mem, detail ? detail : err_str(err));
	if (!e->detail)
		return NULL;
	v->error = e;
	return v;
}

static void batch_finish(struct batch *b)
{
	struct arena *mem = rpc_call_arena(b->call);
	err_t err = ERR_OK;

	for (size_t i = 0; i < b->resp->n_verdicts; i++)
		if (!b->resp->verdicts[i])
			err = arena_err(mem);
	rpc_call_complete(b->call, err, err == ERR_OK ? &b->resp->base : NULL);
}

static void on_batch_item(void *arg, err_t err, const char *detail, pb_verdict *v)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;

	if (!b->a->closing) {
		if (err != ERR_OK)
			v = error_verdict(rpc_call_arena(b->call), err, detail);
		b->resp->verdicts[it->idx] = v;
	}
	if (--b->pending == 0 && b->started) {
		if (!b->a->closing)
			batch_finish(b);
		free(b);
	}
}

int attest_on_verify_batch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Attest__V1__VerifyBatchRequest *r = (const void *)req;
	struct attest_env *a = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	uint64_t deadline = rpc_call_deadline_ms(call), now = service_now(a);
	struct batch *b;
	size_t n = r->n_requests;

	if (n == 0 || n > AV_MAX_BATCH) {
		rpc_call_set_detail(call, "VerifyBatch takes 1..%u requests", AV_MAX_BATCH);
		return ERR_INVALID_ARG;
	}
	b = calloc(1, sizeof(*b) + n * sizeof(b->items[0]));
	if (!b)
		return ERR_NOMEM;
	b->a = a;
	b->call = call;
	b->resp = (void *)pb_new(&dstack__attest__v1__verify_batch_response__descriptor, mem);
	if (!b->resp || !(b->resp->verdicts = arena_zalloc(mem, n * sizeof(pb_verdict *)))) {
		free(b);
		return arena_err(mem);
	}
	b->resp->n_verdicts = n;
	/* One extra count while handing out, so an early async answer cannot complete the call. */
	b->pending = 1;
	for (size_t i = 0; i < n; i++) {
		pb_verdict *v = NULL;
		const char *detail = NULL;
		int rc;

		if (deadline && mono_ms() >= deadline) {
			b->resp->verdicts[i] = error_verdict(mem, ERR_DEADLINE, "deadline passed before this item was verified");
			continue;
		}
		b->items[i].b = b;
		b->items[i].idx = i;
		b->pending++;
		rc = attest_verifier_verify(a->verify->verifier, r->requests[i], now, mem, on_batch_item, &b->items[i], &v,
					    &detail);
		if (rc == AV_PENDING)
			continue;
		b->pending--;
		b->resp->verdicts[i] = rc == ERR_OK ? v : error_verdict(mem, rc, detail);
	}
	b->started = 1;
	if (--b->pending > 0)
		return RPC_ASYNC;
	for (size_t i = 0; i < n; i++)
		if (!b->resp->verdicts[i]) {
			free(b);
			return arena_err(mem);
		}
	*resp = &b->resp->base;
	free(b);
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Inspect                                                                                         */

int attest_on_inspect(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Attest__V1__InspectRequest *r = (const void *)req;
	struct arena *mem = rpc_call_arena(call);
	Dstack__Attest__V1__InspectResponse *out = NULL;
	struct av_evidence ev;
	const char *detail = NULL;
	err_t err;

	err = av_evidence_from_proto(r->evidence, mem, &ev, &detail);
	if (err == ERR_OK)
		err = av_inspect(&ev, mem, &out, &detail);
	if (err != ERR_OK) {
		if (detail)
			rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	*resp = &out->base;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* GetInfo: trust roots, default policy, limits                                                    */

static Dstack__Attest__V1__TrustRoot *trust_root(struct arena *mem, X509 *x, Dstack__Common__V1__TeeType tee, int dev)
{
	Dstack__Attest__V1__TrustRoot *t = (void *)pb_new(&dstack__attest__v1__trust_root__descriptor, mem);
	unsigned char *der = NULL;
	uint8_t h[32];
	char cn[129];
	int len, n;
	uint64_t na = 0;

	if (!t)
		return NULL;
	len = i2d_X509(x, &der);
	if (len <= 0)
		return NULL;
	sha256(der, (size_t)len, h);
	OPENSSL_free(der);
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	t->name = arena_strdup(mem, n > 0 ? cn : "");
	t->sha256.data = arena_memdup(mem, h, 32);
	t->sha256.len = 32;
	t->tee_type = tee;
	t->dev = dev;
	if (dcap_asn1_time_unix(X509_get0_notAfter(x), &na))
		t->not_after_unix = na;
	return t->name && t->sha256.data ? t : NULL;
}

err_t attest_verify_info(const struct attest_env *a, struct arena *mem, struct Dstack__Attest__V1__GetInfoResponse *out)
{
	const struct attest_trust *t = &a->verify->trust;
	struct attest_verifier_stats st;
	Dstack__Common__V1__VerificationPolicy *pol;
	static const Dstack__Common__V1__EvidenceKind kinds[] = {
		DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_TDX_QUOTE,
		DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SGX_QUOTE,
		DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SEV_SNP_REPORT,
		DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_DSTACK_QUOTE,
	};
	struct {
		X509 *x;
		Dstack__Common__V1__TeeType tee;
		int dev;
	} roots[6] = {
		{ t->intel_root, DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX, 0 },
		{ t->amd_ark[0], DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP, 0 },
		{ t->amd_ark[1], DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP, 0 },
		{ t->amd_ark[2], DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP, 0 },
		{ t->intel_dev_root, DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX, 1 },
		{ t->amd_dev_ark, DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP, 1 },
	};

	out->trust_roots = arena_alloc(mem, ARRAY_LEN(roots) * sizeof(*out->trust_roots));
	if (!out->trust_roots)
		return arena_err(mem);
	for (size_t i = 0; i < ARRAY_LEN(roots); i++) {
		if (!roots[i].x)
			continue;
		if (!(out->trust_roots[out->n_trust_roots++] = trust_root(mem, roots[i].x, roots[i].tee, roots[i].dev)))
			return arena_err(mem);
	}
	out->dev_root_enabled = t->intel_dev_root != NULL || t->amd_dev_ark != NULL;
	if (a->cfg->collateral_mode == ATTEST_COLLATERAL_PCCS) {
		out->pccs_url = (char *)(uintptr_t)a->cfg->pccs_url;
		out->amd_kds_url = (char *)(uintptr_t)a->cfg->amd_kds_url;
	}
	pol = (void *)pb_new(&dstack__common__v1__verification_policy__descriptor, mem);
	if (!pol || !(pol->accepted_tcb_statuses = arena_alloc(mem, sizeof(*pol->accepted_tcb_statuses))))
		return arena_err(mem);
	pol->accepted_tcb_statuses[0] = DSTACK__COMMON__V1__TCB_STATUS__TCB_STATUS_UP_TO_DATE;
	pol->n_accepted_tcb_statuses = 1;
	pol->tcb_evaluation_mode = a->cfg->tcb_mode == ATTEST_TCB_INTEL
					   ? DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_INTEL
					   : DSTACK__COMMON__V1__TCB_EVALUATION_MODE__TCB_EVALUATION_MODE_DCAP_QVL;
	out->default_policy = pol;
	out->evidence_kinds = (Dstack__Common__V1__EvidenceKind *)(uintptr_t)kinds;
	out->n_evidence_kinds = ARRAY_LEN(kinds);
	out->max_evidence_bytes = (uint32_t)MIN(a->svc->common->max_message_size, (size_t)UINT32_MAX);
	out->max_batch = AV_MAX_BATCH;
	attest_verifier_stats(a->verify->verifier, &st);
	out->verdict_cache_capacity = (uint32_t)st.verdict_capacity;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                       */

/*
 * The first digest, signature check, key import and certificate-store
 * verification in a process pay OpenSSL's algorithm fetches and table
 * setup (several hundred microseconds in all, measured on the first Verify
 * of a fresh service). Pay them here, before the service reports ready,
 * instead of in the first request. Only the pinned root is touched: no
 * collateral, no evidence, nothing kept, and every result is ignored.
 */
static void warm_up(const struct attest_trust *t)
{
	static const uint8_t sig[64] = { [31] = 1, [63] = 1 };   /* r = s = 1: in range, wrong */
	X509 *root = t->intel_root;
	EVP_PKEY *key = root ? X509_get0_pubkey(root) : NULL, *copy = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	uint8_t h[SHA256_LEN], point[65];
	size_t plen = 0;

	sha256("", 0, h);
	if (!key)
		return;
	(void)X509_verify(root, key);
	(void)!ecdsa_verify_p256_sha256(key, sig, h, sizeof(h));
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen) == 1 &&
	    plen == sizeof(point))
		copy = ec_p256_pubkey_from_xy_like(key, point + 1);
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store && ctx && X509_STORE_add_cert(store, root) == 1 &&
	    X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT) == 1 && X509_STORE_CTX_init(ctx, store, root, NULL) == 1)
		(void)X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	EVP_PKEY_free(copy);
	ERR_clear_error();
}

err_t attest_verify_init(struct attest_env *a, const char **detail)
{
	struct attest_verifier_config vc;
	err_t err;

	a->verify = calloc(1, sizeof(*a->verify));
	if (!a->verify) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	if ((err = attest_trust_load(&a->verify->trust, a->cfg->dev_root, a->cfg->dev_ark, detail)) != ERR_OK)
		return err;
	if (a->verify->trust.intel_dev_root || a->verify->trust.amd_dev_ark)
		log_warn("attest", "trust.dev_root/dev_ark configured: simulator evidence verifies (marked dev) for "
				   "policies with allow_dev_root. DEVELOPMENT ONLY");
	{
		/*
		 * Every Intel issuer chain ends in the root, every AMD chain in an ARK:
		 * parsed once, here (the cache holds Intel's intermediates already).
		 */
		const struct attest_trust *t = &a->verify->trust;
		X509 *const anchors[] = { t->intel_root, t->intel_dev_root, t->amd_ark[0], t->amd_ark[1],
					  t->amd_ark[2], t->amd_ark[3], t->amd_dev_ark };

		for (size_t i = 0; i < ARRAY_LEN(anchors); i++)
			if (anchors[i] && (err = attest_collateral_add_cert(a->collateral, anchors[i])) != ERR_OK) {
				*detail = "out of memory";
				return err;
			}
	}
	warm_up(&a->verify->trust);
	memset(&vc, 0, sizeof(vc));
	vc.trust = &a->verify->trust;
	vc.coll = a->collateral;
	vc.metrics = a->svc->metrics;
	vc.default_tcb_mode = a->cfg->tcb_mode == ATTEST_TCB_INTEL ? ATTEST_TCB_INTEL : ATTEST_TCB_DCAP_QVL;
	vc.verdict_cache_entries = a->cfg->verdict_cache;
	a->verify->verifier = attest_verifier_new(&vc);
	if (!a->verify->verifier) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	return ERR_OK;
}

void attest_verify_close(struct attest_env *a)
{
	if (a->verify)
		attest_verifier_close(a->verify->verifier);
}

void attest_verify_fini(struct attest_env *a)
{
	if (!a->verify)
		return;
	attest_verifier_free(a->verify->verifier);
	attest_trust_free(&a->verify->trust);
	free(a->verify);
	a->verify = NULL;
}
