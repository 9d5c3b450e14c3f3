/* SPDX-License-Identifier: Apache-2.0 */
/* Root material between KMS nodes and over time: GetKmsKey / Onboard (replicas), key epochs, the audit log. */
#include <stdlib.h>
#include <string.h>

#include "dkdf.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "kms.h"
#include "kms_audit.h"
#include "kms_authz.h"
#include "kms_client.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"
#include "tee.h"

typedef Dstack__Kms__V1__OnboardingRecord audit_rec;

static audit_rec *record_new(struct arena *mem, Dstack__Kms__V1__OnboardingKind kind,
			     Dstack__Kms__V1__OnboardingDirection dir, const char *peer_url)
{
	audit_rec *r = (void *)pb_new(&dstack__kms__v1__onboarding_record__descriptor, mem);

	if (!r)
		return NULL;
	r->kind = kind;
	r->direction = dir;
	r->peer_url = UNCONST(peer_url ? peer_url : "");
	r->started_at_unix = wall_s();
	return r;
}

/* The peer's identity from its verified certificate. */
static void record_peer(audit_rec *r, const struct ratls_verdict *v, struct arena *mem)
{
	const struct attest_claims *c = &v->claims;

	r->peer_cert_sha256 = (ProtobufCBinaryData){ 32, arena_memdup(mem, v->cert_sha256, 32) };
	if (c->has_app_id)
		r->peer_app_id = (ProtobufCBinaryData){ ATTEST_APP_ID_LEN, arena_memdup(mem, c->app_id, ATTEST_APP_ID_LEN) };
	if (c->has_instance_id)
		r->peer_instance_id = (ProtobufCBinaryData){ c->instance_id_len,
							     arena_memdup(mem, c->instance_id, c->instance_id_len) };
	if (c->has_device_id)
		r->peer_device_id = (ProtobufCBinaryData){ 32, arena_memdup(mem, c->device_id, 32) };
	r->peer_mr_aggregated = (ProtobufCBinaryData){ 32, arena_memdup(mem, c->mr_aggregated, 32) };
	if (c->has_os_image_hash)
		r->peer_os_image_hash = (ProtobufCBinaryData){ 32, arena_memdup(mem, c->os_image_hash, 32) };
	r->peer_tcb_status = UNCONST(c->has_tcb ? tcb_status_name(c->tcb_status) : "");
}

static void record_finish(struct kms_env *k, audit_rec *r, err_t err, const char *detail, struct arena *mem)
{
	r->finished_at_unix = wall_s();
	r->ok = err == ERR_OK;
	if (err != ERR_OK) {
		Dstack__Common__V1__ErrorDetail *e = (void *)pb_new(&dstack__common__v1__error_detail__descriptor, mem);

		if (e) {
			e->code = err;
			e->name = UNCONST(err_name(err));
			e->detail = UNCONST(detail ? detail : "");
			r->error = e;
		}
	}
	if (kms_audit_append(k->audit, r) != ERR_OK)
		log_error("kms", "cannot append to the audit log (%s): the movement happened but is not recorded on disk",
			  err_name(ERR_IO_FILE));
}

/* Epoch numbers of a state, as the record lists them. */
static void record_epochs(audit_rec *r, const Dstack__Kms__Internal__V1__KhStatusResponse *st, struct arena *mem)
{
	if (!st || !st->n_epochs || !(r->epochs = arena_alloc(mem, st->n_epochs * sizeof(*r->epochs))))
		return;
	for (size_t i = 0; i < st->n_epochs; i++)
		if (st->epochs[i]->state != DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED)
			r->epochs[r->n_epochs++] = st->epochs[i]->epoch;
}

/* ---------------------------------------------------------------------------------------------- */
/* GetKmsKey: the source side of onboarding                                                       */

struct kmskey_job {
	struct kms_env *k;
	struct rpc_call *call;
	const struct ratls_verdict *v;
	audit_rec *rec;
};

/* The dstack-compatible fields and our full root state for the replica. */
static err_t kms_key_response(struct kms_env *k, struct arena *mem, Dstack__Kms__V1__KmsKeyResponse **out,
			      const char **detail)
{
	Dstack__Kms__Internal__V1__KhExportRequest ereq;
	Dstack__Kms__V1__KmsKeyResponse *o;
	const kms_sealed_state *st;
	struct buf_writer w;
	kh_request kreq;
	kh_response *kresp;
	err_t err;

	dstack__kms__internal__v1__kh_export_request__init(&ereq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_EXPORT;
	kreq.export = &ereq;
	if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, detail)) != ERR_OK)
		return err;
	st = kresp->export;
	if (!(o = (void *)pb_new(&dstack__kms__v1__kms_key_response__descriptor, mem)) ||
	    !(o->keys = arena_zalloc(mem, (st->n_epochs ? st->n_epochs : 1) * sizeof(*o->keys))) ||
	    !(o->retired_epochs = arena_zalloc(mem, (st->n_epochs ? st->n_epochs : 1) * sizeof(*o->retired_epochs))))
		return ERR_NOMEM;
	{
		char pem[P256_PKCS8_PEM_MAX];
		size_t len;

		if ((err = p256_pkcs8_pem(st->tmp_ca_key.data, pem, sizeof(pem), &len)) != ERR_OK)
			return err;
		o->temp_ca_key = arena_strdup(mem, pem);
		secure_wipe(pem, sizeof(pem));
	}
	for (size_t i = 0; i < st->n_epochs; i++) {
		const kms_root_epoch *e = st->epochs[i];
		Dstack__Kms__V1__KmsKeys *kk;
		char pem[P256_PKCS8_PEM_MAX];
		size_t len;

		if (e->state == DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED) {
			o->retired_epochs[o->n_retired_epochs++] = e->epoch;
			continue;
		}
		if (!(kk = (void *)pb_new(&dstack__kms__v1__kms_keys__descriptor, mem)))
			return ERR_NOMEM;
		if ((err = p256_pkcs8_pem(e->ca_key.data, pem, sizeof(pem), &len)) != ERR_OK)
			return err;
		kk->ca_key = arena_strdup(mem, pem);
		secure_wipe(pem, sizeof(pem));
		kk->k256_key = e->k256_key;
		kk->epoch = e->epoch;
		o->keys[o->n_keys++] = kk;
	}
	o->current_epoch = st->current_epoch;
	buf_writer_init(&w, KMS_STORE_MAX);
	w.wipe = 1;
	if ((err = pb_encode(&st->base, &w)) == ERR_OK &&
	    !(o->root_state.data = arena_memdup(mem, w.p, w.len)))
		err = ERR_NOMEM;
	o->root_state.len = w.len;
	buf_writer_free(&w);
	*out = o;
	return err;
}

static void on_kms_decision(void *arg, err_t err, const char *detail, const struct kms_decision *d)
{
	struct kmskey_job *j = arg;
	struct arena *mem = rpc_call_arena(j->call);
	Dstack__Kms__V1__KmsKeyResponse *out = NULL;
	const char *why = detail;

	if (err == ERR_OK) {
		j->rec->registry_allowed = d->allowed;
		j->rec->registry_reason = arena_strdup(mem, d->reason);
		j->rec->registry_block = d->block;
		if (!d->allowed) {
			err = ERR_POLICY_DENIED;
			why = d->reason;
		} else {
			err = kms_key_response(j->k, mem, &out, &why);
		}
	}
	if (err != ERR_OK)
		rpc_call_set_detail(j->call, "%s", why ? why : err_str(err));
	else
		record_epochs(j->rec, j->k->pub->st, mem);
	record_finish(j->k, j->rec, err, why, mem);
	log_info("kms", "GetKmsKey from %s: %s%s%s", j->rec->peer_url[0] ? j->rec->peer_url : "a replica",
		 err == ERR_OK ? "root keys handed over" : "refused", err == ERR_OK ? "" : ": ", err == ERR_OK ? "" : why);
	rpc_call_complete(j->call, err, out ? &out->base : NULL);
	ratls_verdict_unref(j->v);
	free(j);
}

int kms_on_get_kms_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const struct ratls_verdict *v = ratls_peer_verdict(rpc_call_peer(call));
	struct attest_boot_info bi;
	struct kmskey_job *j;
	err_t err;

	(void)req;
	(void)resp;
	if ((err = kms_serving_attested_peer(call, k, v)) != ERR_OK)
		return err;
	rpc_call_set_secret(call);   /* the answer carries root keys */
	if (!(j = calloc(1, sizeof(*j))))
		return ERR_NOMEM;
	*j = (struct kmskey_job){ k, call, v, NULL };
	if (!(j->rec = record_new(mem, DSTACK__KMS__V1__ONBOARDING_KIND__ONBOARDING_KIND_REPLICA,
				  DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_OUTBOUND, NULL))) {
		free(j);
		return ERR_NOMEM;
	}
	record_peer(j->rec, v, mem);
	ratls_verdict_ref(v);
	attest_claims_boot_info(&v->claims, 0, &bi);
	if ((err = kms_authz_check(k->authz, &bi, 1, on_kms_decision, j)) != ERR_OK) {
		ratls_verdict_unref(v);
		free(j);
		rpc_call_set_detail(call, "cannot ask the registry");
		return err;
	}
	return RPC_ASYNC;
}

/* ---------------------------------------------------------------------------------------------- */
/* Onboard: the replica side                                                                       */

err_t kms_validate_onboard(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__OnboardRequest *q = (const void *)msg;

	if (!q->source_url || strncmp(q->source_url, "https://", 8) != 0 || strlen(q->source_url) > 512) {
		*detail = "source_url: https://host:port of a running KMS";
		return ERR_INVALID_ARG;
	}
	return q->domain && *q->domain ? kms_check_domain(q->domain, detail) : ERR_OK;
}

/*
 * Fetch the source's root state over mutual RA-TLS (our evidence from our
 * TEE) and hand it to the key holder: a new replica adopts it, an existing
 * one merges epochs (EPOCH_SYNC). Blocking: an admin operation of a few
 * hundred milliseconds.
 */
static err_t pull_from(struct kms_env *k, const char *url, const char *domain, struct arena *mem,
		       Dstack__Kms__V1__OnboardingKind kind, audit_rec **rec_out, const char **detail)
{
	struct kms_client_opts o = { .url = url, .quote = ratls_tee_quote, .quote_arg = k->tee };
	Dstack__Kms__Internal__V1__KhImportRequest ireq;
	struct kms_client_result res;
	ProtobufCMessage *m;
	kh_request kreq;
	kh_response *kresp;
	audit_rec *rec;
	err_t err;

	mem->wipe = 1;
	if (!(rec = record_new(mem, kind, DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_INBOUND, url)))
		return ERR_NOMEM;
	*rec_out = rec;
	if (!k->tee) {
		*detail = "no TEE backend configured (tee.backend): this KMS cannot attest to a source";
		err = ERR_FAILED_PRECONDITION;
		goto done;
	}
	if ((err = kms_client_get_kms_key(&o, "", mem, &res, detail)) != ERR_OK) {
		if (res.message && *res.message)
			*detail = arena_printf(mem, "%s: %s", *detail, res.message);
		goto done;
	}
	if (!res.kms_keys->root_state.len) {
		*detail = "the source sent no root_state (a dstack KMS source is not supported for onboarding yet)";
		err = ERR_UNIMPLEMENTED;
		goto done;
	}
	if ((err = pb_decode(&dstack__kms__internal__v1__sealed_state__descriptor, res.kms_keys->root_state.data,
			     res.kms_keys->root_state.len, KMS_STORE_MAX, mem, &m)) != ERR_OK) {
		*detail = "the source's root_state is malformed";
		goto done;
	}
	dstack__kms__internal__v1__kh_import_request__init(&ireq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	ireq.state = (kms_sealed_state *)m;
	ireq.origin = arena_printf(mem, "onboard:%s", url);
	ireq.domain = UNCONST(domain ? domain : "");
	ireq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_IMPORT;
	kreq.import = &ireq;
	if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, detail)) != ERR_OK)
		goto done;
	if ((err = kms_pub_refresh(k, detail)) != ERR_OK || (err = kms_tls_refresh(k, detail)) != ERR_OK)
		goto done;
	record_epochs(rec, k->pub->st, mem);
done:
	record_finish(k, rec, err, *detail, mem);
	return err;
}

int kms_on_onboard(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__OnboardRequest *q = (const void *)req;
	Dstack__Kms__V1__OnboardResponse *out;
	audit_rec *rec = NULL;
	const char *detail = "";
	err_t err;

	if (k->pub->current) {
		rpc_call_set_detail(call, "this KMS already holds root keys (epoch sync: replica.source_url)");
		return ERR_EXISTS;
	}
	if ((err = pull_from(k, q->source_url, q->domain, mem, DSTACK__KMS__V1__ONBOARDING_KIND__ONBOARDING_KIND_REPLICA,
			     &rec, &detail)) != ERR_OK) {
		log_warn("kms", "onboarding from %s failed: %s", q->source_url, detail);
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	log_info("kms", "onboarded from %s: %zu epoch(s), current %u", q->source_url, rec->n_epochs,
		 k->pub->st->current_epoch);
	if (!(out = (void *)pb_new(&dstack__kms__v1__onboard_response__descriptor, mem)))
		return arena_err(mem);
	out->k256_pubkey = k->pub->current->k256_pubkey;
	out->ca_pubkey = k->pub->current->ca_pubkey;
	out->current_epoch = k->pub->st->current_epoch;
	out->epochs = rec->epochs;
	out->n_epochs = rec->n_epochs;
	out->onboarding_id = arena_printf(mem, "%llu-%s", (unsigned long long)rec->started_at_unix, "inbound");
	*resp = &out->base;
	return ERR_OK;
}

/* Epoch sync on a timer: a replica pulls epochs created or retired at its source. */
static void on_sync_timer(evutil_socket_t fd, short what, void *arg)
{
	struct kms_env *k = arg;
	struct arena mem;
	audit_rec *rec = NULL;
	const char *detail = "";
	uint32_t before = k->pub && k->pub->st ? k->pub->st->current_epoch : 0;

	(void)fd;
	(void)what;
	if (!k->pub->current)
		return;
	arena_init(&mem, 16u << 20, 0);
	if (pull_from(k, k->cfg->replica_source_url, NULL, &mem, DSTACK__KMS__V1__ONBOARDING_KIND__ONBOARDING_KIND_EPOCH_SYNC,
		      &rec, &detail) != ERR_OK)
		log_warn("kms", "epoch sync from %s failed: %s", k->cfg->replica_source_url, detail);
	else if (k->pub->st->current_epoch != before)
		log_info("kms", "epoch sync from %s: current epoch %u -> %u", k->cfg->replica_source_url, before,
			 k->pub->st->current_epoch);
	arena_fini(&mem);
}

err_t kms_replica_start(struct kms_env *k, const char **detail)
{
	struct timeval tv;

	if (!k->cfg->replica_source_url || !*k->cfg->replica_source_url)
		return ERR_OK;
	tv.tv_sec = (time_t)(k->cfg->replica_sync_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(k->cfg->replica_sync_interval_ms % 1000) * 1000;
	if (!(k->sync_timer = event_new(k->svc->base, -1, EV_PERSIST, on_sync_timer, k)) ||
	    event_add(k->sync_timer, &tv) != 0) {
		*detail = "cannot start the epoch-sync timer";
		return ERR_NOMEM;
	}
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Epochs                                                                                           */

static err_t kh_change(struct kms_env *k, kh_request *kreq, struct arena *mem, const char **detail)
{
	kh_response *kresp;
	err_t err;

	if ((err = kms_kh_call(k->kh, kreq, mem, &kresp, detail)) != ERR_OK)
		return err;
	if ((err = kms_pub_refresh(k, detail)) != ERR_OK)
		return err;
	return kms_tls_refresh(k, detail);
}

static Dstack__Kms__V1__EpochInfo *epoch_by_number(struct kms_env *k, struct arena *mem, uint32_t epoch)
{
	Dstack__Kms__V1__EpochInfo **v;
	size_t n;

	if (kms_epoch_infos(k, mem, &v, &n) != ERR_OK)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i]->epoch == epoch)
			return v[i];
	return NULL;
}

int kms_on_rotate_epoch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__RotateEpochRequest *q = (const void *)req;
	Dstack__Kms__Internal__V1__KhRotateRequest rreq;
	Dstack__Kms__V1__RotateEpochResponse *out;
	kh_request kreq;
	const char *detail = "";
	err_t err;

	if (k->cfg->replica_source_url && *k->cfg->replica_source_url) {
		rpc_call_set_detail(call, "this node is a replica (replica.source_url): rotate at the source");
		return ERR_FAILED_PRECONDITION;
	}
	dstack__kms__internal__v1__kh_rotate_request__init(&rreq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	rreq.reason = q->reason;
	rreq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ROTATE;
	kreq.rotate = &rreq;
	if ((err = kh_change(k, &kreq, mem, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	log_info("kms", "rotated: epoch %u is current (%s)", k->pub->st->current_epoch, q->reason ? q->reason : "");
	if (!(out = (void *)pb_new(&dstack__kms__v1__rotate_epoch_response__descriptor, mem)) ||
	    !(out->epoch = epoch_by_number(k, mem, k->pub->st->current_epoch)))
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}

int kms_on_retire_epoch(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__RetireEpochRequest *q = (const void *)req;
	Dstack__Kms__Internal__V1__KhRetireRequest rreq;
	Dstack__Kms__V1__RetireEpochResponse *out;
	kh_request kreq;
	const char *detail = "";
	err_t err;

	if (!q->epoch) {
		rpc_call_set_detail(call, "epoch is required");
		return ERR_INVALID_ARG;
	}
	if (k->cfg->replica_source_url && *k->cfg->replica_source_url) {
		rpc_call_set_detail(call, "this node is a replica (replica.source_url): retire at the source");
		return ERR_FAILED_PRECONDITION;
	}
	dstack__kms__internal__v1__kh_retire_request__init(&rreq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	rreq.epoch = q->epoch->value;
	rreq.reason = q->reason;
	rreq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RETIRE;
	kreq.retire = &rreq;
	if ((err = kh_change(k, &kreq, mem, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	log_info("kms", "retired epoch %u: its root keys are erased (%s)", rreq.epoch, q->reason ? q->reason : "");
	if (!(out = (void *)pb_new(&dstack__kms__v1__retire_epoch_response__descriptor, mem)) ||
	    !(out->epoch = epoch_by_number(k, mem, rreq.epoch)))
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}

int kms_on_list_epochs(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__V1__ListEpochsResponse *out;

	(void)req;
	if (!(out = (void *)pb_new(&dstack__kms__v1__list_epochs_response__descriptor, mem)))
		return arena_err(mem);
	if (k->pub->st)
		out->current_epoch = k->pub->st->current_epoch;
	if (kms_epoch_infos(k, mem, &out->epochs, &out->n_epochs) != ERR_OK)
		return arena_err(mem);
	*resp = &out->base;
	return ERR_OK;
}

int kms_on_list_onboardings(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__ListOnboardingsRequest *q = (const void *)req;
	Dstack__Kms__V1__ListOnboardingsResponse *out;
	err_t err;

	if (!(out = (void *)pb_new(&dstack__kms__v1__list_onboardings_response__descriptor, mem)))
		return arena_err(mem);
	if ((err = kms_audit_list(k->audit, q->limit, q->page_token, mem, out)) != ERR_OK) {
		if (err == ERR_INVALID_ARG)
			rpc_call_set_detail(call, "page_token: use the next_page_token of the previous answer");
		return err;
	}
	*resp = &out->base;
	return ERR_OK;
}
