/* SPDX-License-Identifier: Apache-2.0 */
/* The network side's view of the root state (public parts only) and the handlers that read it: GetMeta, GetTempCaCert, Bootstrap. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "dkdf.h"
#include "dstack_keys.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "kms.h"
#include "kms_store.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"

void kms_pub_free(struct kms_pub *p)
{
	if (!p)
		return;
	arena_fini(&p->mem);
	free(p);
}

err_t kms_pub_refresh(struct kms_env *k, const char **detail)
{
	struct kms_pub *p = calloc(1, sizeof(*p));
	Dstack__Kms__Internal__V1__KhStatusRequest sreq;
	kh_request req;
	kh_response *resp;
	err_t err;

	if (!p)
		return ERR_NOMEM;
	arena_init(&p->mem, 8u << 20, 0);
	p->mem.wipe = 1;
	dstack__kms__internal__v1__kh_status_request__init(&sreq);
	dstack__kms__internal__v1__kh_request__init(&req);
	req.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_STATUS;
	req.status = &sreq;
	if ((err = kms_kh_call(k->kh, &req, &p->mem, &resp, detail)) != ERR_OK)
		goto fail;
	p->st = resp->status;
	if (resp->result_case != DSTACK__KMS__INTERNAL__V1__KH_RESPONSE__RESULT_STATUS || !p->st) {
		*detail = "key holder answered out of turn";
		err = ERR_INTERNAL;
		goto fail;
	}
	if (p->st->initialized) {
		uint8_t tmp[P256_SCALAR_LEN];
		char pem[P256_PKCS8_PEM_MAX];
		size_t len;

		for (size_t i = 0; i < p->st->n_epochs; i++)
			if (p->st->epochs[i]->epoch == p->st->current_epoch)
				p->current = p->st->epochs[i];
		err = ERR_INTERNAL;
		*detail = "root state is inconsistent";
		if (!p->current || p->st->tmp_ca_key.len != sizeof(tmp))
			goto fail;
		memcpy(tmp, p->st->tmp_ca_key.data, sizeof(tmp));
		err = p256_pkcs8_pem(tmp, pem, sizeof(pem), &len);
		secure_wipe(tmp, sizeof(tmp));
		if (err == ERR_OK)
			p->tmp_ca_key_pem = arena_strdup(&p->mem, pem);
		secure_wipe(pem, sizeof(pem));
		p->ca_cert_pem = kms_cert_pem(&p->mem, &p->current->ca_cert);
		p->tmp_ca_cert_pem = kms_cert_pem(&p->mem, &p->st->tmp_ca_cert);
		if (err != ERR_OK || !p->tmp_ca_key_pem || !p->ca_cert_pem || !p->tmp_ca_cert_pem) {
			*detail = "cannot encode the CA certificates";
			err = ERR_INTERNAL;
			goto fail;
		}
	}
	kms_pub_free(k->pub);
	k->pub = p;
	return ERR_OK;
fail:
	kms_pub_free(p);
	return err;
}

static int require_keys(struct rpc_call *call, const struct kms_env *k)
{
	if (!k->pub || !k->pub->current) {
		rpc_call_set_detail(call, "this KMS holds no root keys yet (Bootstrap, Onboard or RecoverFromShares)");
		return ERR_FAILED_PRECONDITION;
	}
	return ERR_OK;
}

static Dstack__Kms__V1__EpochInfo *epoch_info(const kms_root_epoch *e, struct arena *mem)
{
	Dstack__Kms__V1__EpochInfo *o = (void *)pb_new(&dstack__kms__v1__epoch_info__descriptor, mem);

	if (!o)
		return NULL;
	o->epoch = e->epoch;
	o->state = (Dstack__Kms__V1__EpochState)e->state;
	o->ca_pubkey = e->ca_pubkey;
	o->k256_pubkey = e->k256_pubkey;
	o->created_at_unix = e->created_at_unix;
	o->retired_at_unix = e->retired_at_unix;
	o->reason = e->reason;
	o->attestation = e->attestation;
	return o;
}

err_t kms_epoch_infos(const struct kms_env *k, struct arena *mem, Dstack__Kms__V1__EpochInfo ***out, size_t *n)
{
	const Dstack__Kms__Internal__V1__KhStatusResponse *st = k->pub ? k->pub->st : NULL;

	*out = NULL;
	*n = 0;
	if (!st || !st->n_epochs)
		return ERR_OK;
	if (!(*out = arena_alloc(mem, st->n_epochs * sizeof(**out))))
		return ERR_NOMEM;
	for (size_t i = 0; i < st->n_epochs; i++) {
		if (!((*out)[i] = epoch_info(st->epochs[i], mem)))
			return ERR_NOMEM;
		if (st->epochs[i]->epoch == st->current_epoch)
			(*out)[i]->ca_cert = k->pub->ca_cert_pem;
	}
	*n = st->n_epochs;
	return ERR_OK;
}

/* Epoch 0's public keys and attestation, as dstack's bootstrap-info.json. */
static Dstack__Kms__V1__BootstrapResponse *bootstrap_info(const struct kms_env *k, struct arena *mem)
{
	Dstack__Kms__V1__BootstrapResponse *b = (void *)pb_new(&dstack__kms__v1__bootstrap_response__descriptor, mem);

	if (!b)
		return NULL;
	for (size_t i = 0; i < k->pub->st->n_epochs; i++) {
		const kms_root_epoch *e = k->pub->st->epochs[i];

		if (e->epoch == 0) {
			b->ca_pubkey = e->ca_pubkey;
			b->k256_pubkey = e->k256_pubkey;
			b->attestation = e->attestation;
		}
	}
	return b;
}

int kms_on_get_meta(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__V1__GetMetaResponse *out;
	int err;

	(void)req;
	if ((err = require_keys(call, k)) != ERR_OK)
		return err;
	if (!(out = (void *)pb_new(&dstack__kms__v1__get_meta_response__descriptor, mem)))
		return arena_err(mem);
	out->ca_cert = k->pub->ca_cert_pem;
	out->k256_pubkey = k->pub->current->k256_pubkey;
	out->is_dev = kms_is_dev(k);
	out->current_epoch = k->pub->st->current_epoch;
	if (!(out->bootstrap_info = bootstrap_info(k, mem)) ||
	    kms_epoch_infos(k, mem, &out->epochs, &out->n_epochs) != ERR_OK)
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}

int kms_on_get_temp_ca_cert(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__V1__GetTempCaCertResponse *out;
	int err;

	(void)req;
	if ((err = require_keys(call, k)) != ERR_OK)
		return err;
	if (!(out = (void *)pb_new(&dstack__kms__v1__get_temp_ca_cert_response__descriptor, mem)))
		return arena_err(mem);
	out->temp_ca_cert = k->pub->tmp_ca_cert_pem;
	out->temp_ca_key = k->pub->tmp_ca_key_pem;
	out->ca_cert = k->pub->ca_cert_pem;
	*resp = &out->base;
	return ERR_OK;
}

err_t kms_check_domain(const char *domain, const char **detail)
{
	size_t n = domain ? strlen(domain) : 0;

	if (n == 0 || n > 253) {
		*detail = "domain: the DNS name (or IP address) of this KMS's RPC endpoint, 1-253 characters";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < n; i++) {
		char c = domain[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
			*detail = "domain: letters, digits, '-' and '.' only";
			return ERR_INVALID_ARG;
		}
	}
	return ERR_OK;
}

err_t kms_validate_bootstrap(const ProtobufCMessage *msg, const char **detail)
{
	return kms_check_domain(((const Dstack__Kms__V1__BootstrapRequest *)msg)->domain, detail);
}

/* Quote over dstack's bootstrap report data and record it with epoch 0. */
static err_t attest_bootstrap(struct kms_env *k, struct arena *mem, const char **detail)
{
	const kms_root_epoch *e = k->pub->current;
	Dstack__Kms__Internal__V1__KhSetAttestationRequest areq;
	uint8_t rd[DSTACK_REPORT_DATA_LEN];
	struct ratls_quote q;
	struct buf_writer w;
	kh_request kreq;
	kh_response *kresp;
	err_t err;

	if ((err = dstack_bootstrap_report_data(e->ca_pubkey.data, e->ca_pubkey.len, e->k256_pubkey.data, rd)) != ERR_OK) {
		*detail = "cannot compute the bootstrap report data";
		return err;
	}
	if ((err = ratls_tee_quote(k->tee, rd, &q)) != ERR_OK) {
		*detail = "the TEE gave no quote";
		return err;
	}
	buf_writer_init(&w, 16u << 20);
	err = ratls_attestation_from_quote(&q, rd, &w, detail);
	ratls_quote_clear(&q);
	if (err == ERR_OK) {
		dstack__kms__internal__v1__kh_set_attestation_request__init(&areq);
		dstack__kms__internal__v1__kh_request__init(&kreq);
		areq.epoch = e->epoch;
		areq.attestation = (ProtobufCBinaryData){ w.len, w.p };
		kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_SET_ATTESTATION;
		kreq.set_attestation = &areq;
		if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, detail)) == ERR_OK)
			err = kms_pub_refresh(k, detail);
	}
	buf_writer_free(&w);
	return err;
}

/*
 * Bootstrap: generate epoch 0 inside the key holder and return its public
 * keys (dstack's BootstrapResponse). The attestation binding them is taken
 * by the caller of this function once a TEE backend is configured.
 */
int kms_on_bootstrap(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__BootstrapRequest *q = (const void *)req;
	Dstack__Kms__Internal__V1__KhBootstrapRequest breq;
	Dstack__Kms__V1__BootstrapResponse *out;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = NULL;
	err_t err;

	dstack__kms__internal__v1__kh_bootstrap_request__init(&breq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	breq.domain = q->domain;
	breq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_BOOTSTRAP;
	kreq.bootstrap = &breq;
	if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail ? detail : "bootstrap failed");
		return err;
	}
	if ((err = kms_pub_refresh(k, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	/* dstack's bootstrap attestation: report data binds the root CA SPKI and the root k256 key. */
	if (k->tee && (err = attest_bootstrap(k, mem, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "root keys generated, but the bootstrap attestation failed: %s", detail);
		return err;
	}
	if ((err = kms_tls_refresh(k, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	log_info("kms", "bootstrapped: epoch 0 root keys generated and sealed (%s), domain %s",
		 k->cfg->seal_provider, q->domain);
	if (!(out = bootstrap_info(k, mem)))
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}
