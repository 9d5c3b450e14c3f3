/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.attest.v1.Attest/GetCollateral: a platform's collateral by key, from the cache (async on a miss). */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "arena.h"
#include "attest.h"
#include "attest_collateral.h"
#include "dstack/attest/v1/attest.pb-c.h"
#include "enc.h"
#include "json.h"
#include "pbcodec.h"

typedef Dstack__Attest__V1__GetCollateralRequest get_req;
typedef Dstack__Attest__V1__GetCollateralResponse get_resp;
typedef Dstack__Attest__V1__CollateralKey coll_key;

#define UPSTREAM_MAX 512u

/* A call waiting for the cache; lives in the call arena. */
struct coll_call {
	struct attest_env *a;
	struct rpc_call *call;
	const coll_key *key;          /* the request's (call arena) */
	int amd;
	int allow_stale;
};

static int fail(struct rpc_call *call, err_t err, const char *detail)
{
	rpc_call_set_detail(call, "%s", detail);
	return err;
}

static ProtobufCBinaryData bytes_dup(struct arena *mem, const void *p, size_t n)
{
	ProtobufCBinaryData b = { 0, NULL };

	if (p && n && (b.data = arena_memdup(mem, p, n)) != NULL)
		b.len = n;
	return b;
}

static char *str_dup(struct arena *mem, const char *s, size_t n)
{
	return s ? arena_memdup(mem, s, n) : NULL;
}

/* tcbEvaluationDataNumber of a TCB info blob (0 if absent). */
static uint32_t tcb_eval_number(const struct attest_coll_blob *tcb)
{
	struct arena a;
	struct json_value *root = NULL;
	uint64_t v = 0;

	arena_init(&a, 8 * tcb->inner_len + (64u << 10), 16u << 10);
	if (json_parse((const char *)tcb->body + tcb->inner_off, tcb->inner_len, NULL, &a, &root, NULL) != ERR_OK ||
	    json_get_u64(root, "tcbEvaluationDataNumber", &v) != ERR_OK || v > UINT32_MAX)
		v = 0;
	arena_fini(&a);
	return (uint32_t)v;
}

static err_t fill_intel(struct arena *mem, const struct attest_coll_multi *m, Dstack__Attest__V1__Collateral *col)
{
	const struct attest_coll_blob *tcb = m->blobs[0], *qe = m->blobs[1], *pck = m->blobs[2], *root = m->blobs[3];
	Dstack__Attest__V1__IntelCollateral *ic;
	uint8_t sig[64];
	size_t got = 0;

	ic = (void *)pb_new(&dstack__attest__v1__intel_collateral__descriptor, mem);
	if (!ic)
		return arena_err(mem);
	ic->pck_crl_issuer_chain = str_dup(mem, pck->issuer_chain, pck->chain_len);
	ic->root_ca_crl = bytes_dup(mem, root->der, root->der_len);
	ic->pck_crl = bytes_dup(mem, pck->der, pck->der_len);
	ic->tcb_info_issuer_chain = str_dup(mem, tcb->issuer_chain, tcb->chain_len);
	ic->tcb_info = str_dup(mem, (const char *)tcb->body + tcb->inner_off, tcb->inner_len);
	if (hex_decode(sig, sizeof(sig), &got, (const char *)tcb->body + tcb->sig_off, tcb->sig_len, 0) != ERR_OK)
		return ERR_INTERNAL;
	ic->tcb_info_signature = bytes_dup(mem, sig, got);
	ic->qe_identity_issuer_chain = str_dup(mem, qe->issuer_chain, qe->chain_len);
	ic->qe_identity = str_dup(mem, (const char *)qe->body + qe->inner_off, qe->inner_len);
	if (hex_decode(sig, sizeof(sig), &got, (const char *)qe->body + qe->sig_off, qe->sig_len, 0) != ERR_OK)
		return ERR_INTERNAL;
	ic->qe_identity_signature = bytes_dup(mem, sig, got);
	ic->tcb_info_issue_date_unix = tcb->issued_at;
	ic->tcb_info_next_update_unix = tcb->next_update;
	ic->qe_identity_issue_date_unix = qe->issued_at;
	ic->qe_identity_next_update_unix = qe->next_update;
	ic->pck_crl_this_update_unix = pck->issued_at;
	ic->pck_crl_next_update_unix = pck->next_update;
	ic->root_ca_crl_this_update_unix = root->issued_at;
	ic->root_ca_crl_next_update_unix = root->next_update;
	ic->tcb_evaluation_data_number = tcb_eval_number(tcb);
	if (!ic->pck_crl_issuer_chain || !ic->tcb_info || !ic->qe_identity || !ic->tcb_info_issuer_chain ||
	    !ic->qe_identity_issuer_chain || !ic->pck_crl.data || !ic->root_ca_crl.data)
		return arena_err(mem);
	col->intel = ic;
	return ERR_OK;
}

/* The ASK and ARK of a KDS cert_chain (PEM, ASK first) as DER. */
static err_t split_chain(struct arena *mem, const struct attest_coll_blob *chain, ProtobufCBinaryData out[2])
{
	BIO *bio = BIO_new_mem_buf(chain->body, (int)chain->body_len);
	err_t e = ERR_INTERNAL;

	if (!bio)
		return ERR_NOMEM;
	for (int i = 0; i < 2; i++) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		unsigned char *der = NULL;
		int n = x ? i2d_X509(x, &der) : -1;
		if (n > 0)
			out[i] = bytes_dup(mem, der, (size_t)n);
		OPENSSL_free(der);
		X509_free(x);
		if (n <= 0 || !out[i].data)
			goto out;
	}
	e = ERR_OK;
out:
	BIO_free(bio);
	ERR_clear_error();
	return e;
}

static err_t fill_amd(struct arena *mem, const char *product, const struct attest_coll_multi *m,
		      Dstack__Attest__V1__Collateral *col)
{
	const struct attest_coll_blob *chain = m->blobs[0], *vcek = m->blobs[1], *crl = m->blobs[2];
	Dstack__Attest__V1__AmdCollateral *ac;
	ProtobufCBinaryData ask_ark[2];
	err_t e;

	ac = (void *)pb_new(&dstack__attest__v1__amd_collateral__descriptor, mem);
	if (!ac)
		return arena_err(mem);
	ac->product = arena_strdup(mem, product);
	if ((e = split_chain(mem, chain, ask_ark)) != ERR_OK)
		return e;
	ac->ask = ask_ark[0];
	ac->ark = ask_ark[1];
	ac->vcek = bytes_dup(mem, vcek->der, vcek->der_len);
	ac->signing_key = DSTACK__COMMON__V1__SEV_SIGNING_KEY__SEV_SIGNING_KEY_VCEK;
	ac->vcek_not_before_unix = vcek->issued_at;
	ac->vcek_not_after_unix = vcek->next_update;
	if (crl) {
		ac->crl = bytes_dup(mem, crl->der, crl->der_len);
		ac->crl_this_update_unix = crl->issued_at;
		ac->crl_next_update_unix = crl->next_update;
	}
	if (!ac->product || !ac->vcek.data)
		return arena_err(mem);
	col->amd = ac;
	return ERR_OK;
}

static void on_parts(void *arg, const struct attest_coll_multi *m)
{
	struct coll_call *q = arg;
	struct rpc_call *call = q->call;
	struct arena *mem;
	get_resp *out;
	Dstack__Attest__V1__Collateral *col;
	const char *src;
	err_t e;

	/* At shutdown the server is gone before the cache: its calls must not be touched. */
	if (q->a->closing)
		return;
	mem = rpc_call_arena(call);
	if (m->err != ERR_OK) {
		rpc_call_set_detail(call, "%s", m->detail);
		rpc_call_complete(call, m->err == ERR_NOT_FOUND || m->err == ERR_ATTEST_COLLATERAL_MISSING ? ERR_NOT_FOUND
													       : ERR_UNAVAILABLE,
				  NULL);
		return;
	}
	if (m->stale && !q->allow_stale) {
		rpc_call_set_detail(call, "collateral is past its nextUpdate and upstream has nothing newer; "
					  "set allow_stale to accept it");
		rpc_call_complete(call, ERR_UNAVAILABLE, NULL);
		return;
	}
	out = (get_resp *)pb_new(&dstack__attest__v1__get_collateral_response__descriptor, mem);
	col = (void *)pb_new(&dstack__attest__v1__collateral__descriptor, mem);
	if (!out || !col) {
		rpc_call_complete(call, arena_err(mem), NULL);
		return;
	}
	e = q->amd ? fill_amd(mem, q->key->snp_product, m, col) : fill_intel(mem, m, col);
	if (e != ERR_OK) {
		rpc_call_set_detail(call, "cannot assemble the collateral");
		rpc_call_complete(call, e, NULL);
		return;
	}
	col->issued_at_unix = m->issued_at;
	col->expires_at_unix = m->expires_at;
	out->collateral = col;
	out->key = (coll_key *)(uintptr_t)q->key;
	out->from_cache = m->from_cache;
	out->stale = m->stale;
	out->fetched_at_unix = m->fetched_at;
	src = m->blobs[q->amd ? 1 : 0]->source;
	out->upstream = arena_memdup(mem, src, MIN(strlen(src), (size_t)UPSTREAM_MAX));
	rpc_call_complete(call, ERR_OK, &out->base);
}

int attest_on_get_collateral(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const get_req *r = (const get_req *)req;
	struct attest_env *a = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	struct attest_coll_key keys[ATTEST_COLL_MULTI_MAX];
	const coll_key *k = r->key;
	struct coll_call *q;
	size_t n;
	unsigned optional = 0;
	err_t e;

	(void)resp;
	if (r->evidence)
		return fail(call, ERR_UNIMPLEMENTED, "collateral by evidence is not implemented yet: pass key");
	if (!k)
		return fail(call, ERR_INVALID_ARG, "key is required");
	memset(keys, 0, sizeof(keys));
	q = arena_zalloc(mem, sizeof(*q));
	if (!q)
		return arena_err(mem);
	switch (k->tee_type) {
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX:
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SGX:
		if (k->fmspc.len != ATTEST_COLL_FMSPC_LEN)
			return fail(call, ERR_INVALID_ARG, "key.fmspc must be 6 bytes");
		if (k->pck_ca != DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR &&
		    k->pck_ca != DSTACK__COMMON__V1__PCK_CA__PCK_CA_PLATFORM)
			return fail(call, ERR_INVALID_ARG, "key.pck_ca must be PROCESSOR or PLATFORM");
		attest_coll_dcap_keys(k->tee_type == DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX ? ATTEST_COLL_TEE_TDX
											       : ATTEST_COLL_TEE_SGX,
				      k->fmspc.data,
				      k->pck_ca == DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR ? ATTEST_COLL_CA_PROCESSOR
												 : ATTEST_COLL_CA_PLATFORM,
				      keys);
		n = 4;
		break;
	case DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_SEV_SNP:
		if (k->snp_signing_key == DSTACK__COMMON__V1__SEV_SIGNING_KEY__SEV_SIGNING_KEY_VLEK)
			return fail(call, ERR_INVALID_ARG, "VLEK certificates are not on KDS: they come with the evidence");
		if (!k->snp_product || strlen(k->snp_product) >= sizeof(keys[0].product))
			return fail(call, ERR_INVALID_ARG, "key.snp_product must be Milan, Genoa or Turin");
		keys[0].kind = ATTEST_COLL_AMD_CERT_CHAIN;
		keys[1].kind = ATTEST_COLL_AMD_VCEK;
		keys[2].kind = ATTEST_COLL_AMD_CRL;
		for (unsigned i = 0; i < 3; i++)
			memcpy(keys[i].product, k->snp_product, strlen(k->snp_product) + 1);
		if (k->snp_hw_id.len > sizeof(keys[1].hwid))
			return fail(call, ERR_INVALID_ARG, "key.snp_hw_id must be 64 bytes (8 on Turin)");
		memcpy(keys[1].hwid, k->snp_hw_id.data, k->snp_hw_id.len);
		keys[1].hwid_len = k->snp_hw_id.len;
		keys[1].reported_tcb = k->snp_reported_tcb;
		if (!attest_coll_key_valid(&keys[0]))
			return fail(call, ERR_INVALID_ARG, "key.snp_product must be Milan, Genoa or Turin");
		if (!attest_coll_key_valid(&keys[1]))
			return fail(call, ERR_INVALID_ARG, "key.snp_hw_id must be 64 bytes (8 on Turin)");
		optional = 1u << 2;   /* the KDS CRL is best effort */
		q->amd = 1;
		n = 3;
		break;
	default:
		return fail(call, ERR_INVALID_ARG, "key.tee_type must be TDX, SGX or SEV_SNP");
	}
	q->a = a;
	q->call = call;
	q->key = k;
	q->allow_stale = r->allow_stale;
	e = attest_collateral_get_many(a->collateral, keys, n, optional, on_parts, q);
	if (e != ERR_OK)
		return fail(call, e == ERR_OVERLOADED ? ERR_OVERLOADED : ERR_UNAVAILABLE, "collateral lookup not started");
	return RPC_ASYNC;
}
