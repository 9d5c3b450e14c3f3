/* SPDX-License-Identifier: Apache-2.0 */
/* Threshold backup and recovery of the root state: ExportShares, GetRecoveryKey, RecoverFromShares. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "kms.h"
#include "kms_audit.h"
#include "kms_authz.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"
#include "tee.h"

err_t kms_validate_export_shares(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__ExportSharesRequest *q = (const void *)msg;

	if (q->total != q->n_custodians || q->n_custodians < 2 || q->n_custodians > 255 || q->threshold < 2 ||
	    q->threshold > q->total) {
		*detail = "need 2 <= threshold <= total = number of custodians <= 255";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < q->n_custodians; i++)
		if (q->custodians[i]->public_key.len != 32) {
			*detail = "custodians[].public_key: a 32-byte X25519 public key";
			return ERR_INVALID_ARG;
		}
	if (q->reason && strlen(q->reason) > 256) {
		*detail = "reason: at most 256 bytes";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

static void audit(struct kms_env *k, struct arena *mem, Dstack__Kms__V1__OnboardingKind kind,
		  Dstack__Kms__V1__OnboardingDirection dir, uint32_t *epochs, size_t n, err_t err, const char *detail)
{
	Dstack__Kms__V1__OnboardingRecord *r = (void *)pb_new(&dstack__kms__v1__onboarding_record__descriptor, mem);

	if (!r)
		return;
	r->kind = kind;
	r->direction = dir;
	r->started_at_unix = r->finished_at_unix = wall_s();
	r->epochs = epochs;
	r->n_epochs = n;
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
		log_error("kms", "cannot append to the audit log");
}

int kms_on_export_shares(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Kms__V1__ExportSharesRequest *q = (const void *)req;
	Dstack__Kms__Internal__V1__KhExportSharesRequest ereq;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = "";
	err_t err;

	dstack__kms__internal__v1__kh_export_shares_request__init(&ereq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	ereq.threshold = q->threshold;
	ereq.custodians = q->custodians;
	ereq.n_custodians = q->n_custodians;
	ereq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_EXPORT_SHARES;
	kreq.export_shares = &ereq;
	err = kms_kh_call(k->kh, &kreq, mem, &kresp, &detail);
	audit(k, mem, DSTACK__KMS__V1__ONBOARDING_KIND__ONBOARDING_KIND_SHARE_EXPORT,
	      DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_OUTBOUND,
	      err == ERR_OK ? kresp->export_shares->epochs : NULL, err == ERR_OK ? kresp->export_shares->n_epochs : 0,
	      err, detail);
	if (err != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	log_info("kms", "exported root state as %u-of-%u shares (%s)", q->threshold, q->total,
		 q->reason ? q->reason : "");
	*resp = &kresp->export_shares->base;
	return ERR_OK;
}

int kms_on_get_recovery_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Kms__Internal__V1__KhRecoveryKeyRequest rreq;
	Dstack__Kms__V1__GetRecoveryKeyResponse *out;
	kh_request kreq;
	kh_response *kresp;
	const char *detail = "";
	err_t err;

	(void)req;
	dstack__kms__internal__v1__kh_recovery_key_request__init(&rreq);
	dstack__kms__internal__v1__kh_request__init(&kreq);
	rreq.now_unix = wall_s();
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RECOVERY_KEY;
	kreq.recovery_key = &rreq;
	if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, &detail)) != ERR_OK) {
		rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	out = kresp->recovery_key;
	/* Custodians check that the key they re-encrypt to was made in an attested KMS. */
	if (k->tee) {
		static const char TAG[] = "kms-recovery-key:";
		const void *parts[] = { TAG, out->public_key.data };
		const size_t lens[] = { sizeof(TAG) - 1, out->public_key.len };
		uint8_t rd[64];
		struct ratls_quote q;
		struct buf_writer w;

		sha512_parts(parts, lens, 2, rd);
		if ((err = ratls_tee_quote(k->tee, rd, &q)) != ERR_OK) {
			rpc_call_set_detail(call, "the TEE gave no quote for the recovery key");
			return err;
		}
		buf_writer_init(&w, 16u << 20);
		err = ratls_attestation_from_quote(&q, rd, &w, &detail);
		ratls_quote_clear(&q);
		if (err == ERR_OK && !(out->attestation.data = arena_memdup(mem, w.p, w.len)))
			err = ERR_NOMEM;
		out->attestation.len = w.len;
		buf_writer_free(&w);
		if (err != ERR_OK)
			return err;
	}
	*resp = &out->base;
	return ERR_OK;
}

err_t kms_validate_recover(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Kms__V1__RecoverFromSharesRequest *q = (const void *)msg;

	if (q->share_set_id.len != 16 || q->secret_commitment.len != 32 || !q->n_shares || q->n_shares > 255) {
		*detail = "share_set_id (16 bytes), secret_commitment (32 bytes) and 1..255 shares are required";
		return ERR_INVALID_ARG;
	}
	return q->domain && *q->domain ? kms_check_domain(q->domain, detail) : ERR_OK;
}

struct recover_job {
	struct kms_env *k;
	struct rpc_call *call;
	const struct ratls_verdict *self;
	const Dstack__Kms__V1__RecoverFromSharesRequest *q;   /* in the call's arena */
};

static void on_self_decision(void *arg, err_t err, const char *detail, const struct kms_decision *d)
{
	struct recover_job *j = arg;
	struct kms_env *k = j->k;
	struct arena *mem = rpc_call_arena(j->call);
	const Dstack__Kms__V1__RecoverFromSharesRequest *q = j->q;
	Dstack__Kms__Internal__V1__KhRecoverRequest rreq;
	Dstack__Kms__V1__RecoverFromSharesResponse *out = NULL;
	kh_request kreq;
	kh_response *kresp;
	const char *why = detail;

	if (err == ERR_OK && !d->allowed) {
		err = ERR_POLICY_DENIED;
		why = arena_printf(mem, "the registry does not allow this KMS: %s", d->reason);
	}
	if (err == ERR_OK) {
		mem->wipe = 1;
		dstack__kms__internal__v1__kh_recover_request__init(&rreq);
		dstack__kms__internal__v1__kh_request__init(&kreq);
		rreq.share_set_id = q->share_set_id;
		rreq.secret_commitment = q->secret_commitment;
		rreq.shares = q->shares;
		rreq.n_shares = q->n_shares;
		rreq.domain = q->domain;
		rreq.now_unix = wall_s();
		kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_RECOVER;
		kreq.recover = &rreq;
		if ((err = kms_kh_call(k->kh, &kreq, mem, &kresp, &why)) == ERR_OK &&
		    (err = kms_pub_refresh(k, &why)) == ERR_OK)
			err = kms_tls_refresh(k, &why);
	}
	if (err == ERR_OK && (out = (void *)pb_new(&dstack__kms__v1__recover_from_shares_response__descriptor, mem))) {
		out->current_epoch = k->pub->st->current_epoch;
		out->ca_pubkey = k->pub->current->ca_pubkey;
		out->k256_pubkey = k->pub->current->k256_pubkey;
		if (kms_epoch_infos(k, mem, &out->epochs, &out->n_epochs) != ERR_OK)
			err = ERR_NOMEM;
	} else if (err == ERR_OK) {
		err = ERR_NOMEM;
	}
	audit(k, mem, DSTACK__KMS__V1__ONBOARDING_KIND__ONBOARDING_KIND_RECOVERY,
	      DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_INBOUND, NULL, 0, err, why);
	if (err != ERR_OK) {
		log_warn("kms", "recovery from shares failed: %s", why ? why : err_str(err));
		rpc_call_set_detail(j->call, "%s", why ? why : err_str(err));
	} else {
		log_info("kms", "recovered root state from %zu shares: current epoch %u", q->n_shares, out->current_epoch);
	}
	rpc_call_complete(j->call, err, out ? &out->base : NULL);
	ratls_verdict_unref(j->self);
	free(j);
}

int kms_on_recover_from_shares(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct kms_env *k = rpc_call_ctx(call);
	struct attest_boot_info bi;
	struct recover_job *j;
	const char *detail = "";
	err_t err;

	(void)resp;
	if (k->pub->current) {
		rpc_call_set_detail(call, "this KMS already holds root keys");
		return ERR_FAILED_PRECONDITION;
	}
	if (!(j = calloc(1, sizeof(*j))))
		return ERR_NOMEM;
	j->k = k;
	j->call = call;
	j->q = (const void *)req;
	/* Only a KMS the registry admits may hold the root: check ourselves as a replica would be checked. */
	if ((err = kms_self_verdict(k, &j->self, &detail)) != ERR_OK) {
		free(j);
		rpc_call_set_detail(call, "cannot attest this KMS for the registry: %s", detail);
		return err;
	}
	attest_claims_boot_info(&j->self->claims, 0, &bi);
	if ((err = kms_authz_check(k->authz, &bi, 1, on_self_decision, j)) != ERR_OK) {
		ratls_verdict_unref(j->self);
		free(j);
		rpc_call_set_detail(call, "cannot ask the registry");
		return err;
	}
	return RPC_ASYNC;
}
