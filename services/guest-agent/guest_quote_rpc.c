/* SPDX-License-Identifier: Apache-2.0 */
/* GetQuote, Attest, Tappd.TdxQuote/RawQuote, Worker.GetAttestationForAppKey and EmitEvent: TEE work on the worker threads. */
#include <stdlib.h>
#include <string.h>

#include <nettle/sha3.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "dstack_keys.h"
#include "enc.h"
#include "guest_rpc.h"
#include "guest_worker.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"

enum quote_kind { Q_GET_QUOTE, Q_ATTEST, Q_TDX_QUOTE };

/* One quote on a worker thread. Everything the thread touches is in here; results go to the call on the loop. */
struct quote_job {
	struct guest_job job;
	struct rpc_call *call;
	struct tee *tee;
	enum quote_kind kind;
	uint8_t report_data[TEE_REPORT_DATA_LEN];
	char hash_algorithm[16];
	char prefix[GUEST_MAX_EVENT_NAME + 1];
	/* results */
	err_t err;
	const char *detail;                    /* static */
	struct tee_evidence ev;
	struct buf_writer attestation;         /* Q_ATTEST */
};

struct event_job {
	struct guest_job job;
	struct rpc_call *call;
	struct guest_env *g;
	char *name;
	uint8_t *payload;
	size_t len;
	err_t err;
	const char *detail;
	struct guest_snapshot snap;            /* taken right after the event, for Info */
	int has_snap;
};

/* ---- report data ---------------------------------------------------------------------------- */

/* Original Keccak (pad 0x01) with `outlen` bytes of output over nettle's permutation. */
static void keccak(const uint8_t *in, size_t n, uint8_t *out, size_t outlen)
{
	const size_t rate = 200 - 2 * outlen;
	struct sha3_state st;
	uint8_t block[200];

	memset(&st, 0, sizeof(st));
	for (;;) {
		size_t take = n < rate ? n : rate;
		int last = n < rate;

		memset(block, 0, sizeof(block));
		if (take)
			memcpy(block, in, take);
		if (last) {
			block[take] ^= 0x01;
			block[rate - 1] ^= 0x80;
		}
		for (size_t i = 0; i < rate / 8; i++) {
			uint64_t lane = 0;
			for (size_t k = 0; k < 8; k++)
				lane |= (uint64_t)block[8 * i + k] << (8 * k);
			st.a[i] ^= lane;
		}
		sha3_permute(&st);
		if (last)
			break;
		in += take;
		n -= take;
	}
	for (size_t i = 0; i < outlen; i++)
		out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
}

static int evp_hash(const EVP_MD *md, const uint8_t *in, size_t n, uint8_t *out)
{
	unsigned int len = 0;

	return md && EVP_Digest(in, n, out, &len, md, NULL) == 1;
}

err_t guest_tdx_report_data(const char *alg, const char *prefix, const uint8_t *data, size_t len,
			    uint8_t out[64], const char **detail)
{
	const char *tag = prefix && *prefix ? prefix : "app-data";
	size_t tlen = strlen(tag), n = tlen + 1 + len;
	uint8_t *msg;
	int ok = 1;

	memset(out, 0, 64);
	alg = alg && *alg ? alg : "sha512";
	if (strcmp(alg, "raw") == 0) {
		if (len != 64) {
			*detail = "hash_algorithm raw: report_data must be exactly 64 bytes";
			return ERR_INVALID_ARG;
		}
		memcpy(out, data, 64);
		return ERR_OK;
	}
	if (!(msg = malloc(n)))
		return ERR_NOMEM;
	memcpy(msg, tag, tlen);
	msg[tlen] = ':';
	if (len)
		memcpy(msg + tlen + 1, data, len);
	if (strcmp(alg, "sha256") == 0)
		sha256(msg, n, out);
	else if (strcmp(alg, "sha384") == 0)
		sha384(msg, n, out);
	else if (strcmp(alg, "sha512") == 0)
		sha512(msg, n, out);
	else if (strcmp(alg, "sha3-256") == 0)
		ok = evp_hash(EVP_sha3_256(), msg, n, out);
	else if (strcmp(alg, "sha3-384") == 0)
		ok = evp_hash(EVP_sha3_384(), msg, n, out);
	else if (strcmp(alg, "sha3-512") == 0)
		ok = evp_hash(EVP_sha3_512(), msg, n, out);
	else if (strcmp(alg, "keccak256") == 0)
		keccak(msg, n, out, 32);
	else if (strcmp(alg, "keccak384") == 0)
		keccak(msg, n, out, 48);
	else if (strcmp(alg, "keccak512") == 0)
		keccak(msg, n, out, 64);
	else
		ok = -1;
	free(msg);
	if (ok < 0) {
		*detail = "hash_algorithm: sha256, sha384, sha512, sha3-256, sha3-384, sha3-512, keccak256, keccak384, "
			  "keccak512 or raw";
		return ERR_INVALID_ARG;
	}
	return ok ? ERR_OK : ERR_CRYPTO;
}

/* ---- validation ----------------------------------------------------------------------------- */

err_t guest_validate_raw_quote(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__RawQuoteArgs *q = (const void *)req;

	if (q->report_data.len > TEE_REPORT_DATA_LEN) {
		*detail = "Report data is too long: at most 64 bytes";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

err_t guest_validate_tdx_quote(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__TdxQuoteArgs *q = (const void *)req;
	uint8_t rd[64];

	if (q->report_data.len > GUEST_MAX_TDX_QUOTE_DATA) {
		*detail = "report_data: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	if (q->prefix && strlen(q->prefix) > GUEST_MAX_EVENT_NAME) {
		*detail = "prefix: at most 128 bytes";
		return ERR_INVALID_ARG;
	}
	/* Checks the algorithm name and the raw length; the hash itself is cheap enough to do twice. */
	return guest_tdx_report_data(q->hash_algorithm, q->prefix, q->report_data.data, q->report_data.len, rd, detail);
}

/* The names the boot measures: an app may not forge them after system-ready either. */
static const char *const reserved_events[] = {
	"system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done", "os-image-hash", "key-provider",
	"system-ready", "storage-fs", "init-script-hash", "gpu-policy-hash", "gpu-attestation", "mr-kms",
	"upgraded-app-id",
};

err_t guest_validate_emit_event(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__EmitEventArgs *q = (const void *)req;
	size_t n = q->event ? strlen(q->event) : 0;

	if (n == 0 || n > GUEST_MAX_EVENT_NAME) {
		*detail = "event: 1 to 128 bytes";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < n; i++)
		if (q->event[i] < 0x21 || q->event[i] > 0x7e || q->event[i] == ':') {
			*detail = "event: printable ASCII without spaces or ':'";
			return ERR_INVALID_ARG;
		}
	for (size_t i = 0; i < ARRAY_LEN(reserved_events); i++)
		if (strcmp(q->event, reserved_events[i]) == 0) {
			*detail = "event: this name is measured by the boot and reserved";
			return ERR_INVALID_ARG;
		}
	if (q->payload.len > GUEST_MAX_EVENT_PAYLOAD) {
		*detail = "payload: at most 64 KiB";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/* ---- quotes on the worker ------------------------------------------------------------------- */

static void quote_run(struct guest_job *j)
{
	struct quote_job *qj = (struct quote_job *)j;

	qj->err = tee_quote_with_log(qj->tee, qj->report_data, &qj->ev, &qj->detail);
	if (qj->err != ERR_OK || qj->kind != Q_ATTEST)
		return;
	if (qj->ev.platform != TEE_PLATFORM_TDX) {
		qj->err = ERR_UNIMPLEMENTED;
		qj->detail = "Attest: SEV-SNP attestations are not implemented yet";
		return;
	}
	{
		struct ratls_quote rq = { qj->ev.quote, qj->ev.quote_len, qj->ev.event_log, qj->ev.event_log_len, NULL, 0 };

		buf_writer_init(&qj->attestation, RATLS_ATTESTATION_MAX);
		qj->err = ratls_attestation_from_quote(&rq, qj->report_data, &qj->attestation, &qj->detail);
	}
}

static void quote_job_free(struct quote_job *qj)
{
	tee_evidence_free(&qj->ev);
	buf_writer_free(&qj->attestation);
	free(qj);
}

void guest_job_drop(struct guest_job *j)
{
	/* run = NULL tells `done` the call is gone with the server: free the job only. */
	j->run = NULL;
	j->done(j);
}

static ProtobufCMessage *quote_response(struct quote_job *qj)
{
	struct rpc_call *call = qj->call;
	struct guest_env *g = guest_of(call);
	struct arena *mem = rpc_call_arena(call);
	char *log = arena_memdup(mem, qj->ev.event_log ? qj->ev.event_log : "", qj->ev.event_log_len);

	if (!log)
		return NULL;
	if (qj->kind == Q_ATTEST) {
		Dstack__Guest__V1__AttestResponse *a = (void *)pb_new(&dstack__guest__v1__attest_response__descriptor, mem);

		if (!a)
			return NULL;
		a->attestation = guest_pb_bytes(call, qj->attestation.p, qj->attestation.len);
		return a->attestation.data ? &a->base : NULL;
	}
	if (qj->kind == Q_TDX_QUOTE) {
		Dstack__Guest__V1__TdxQuoteResponse *t = (void *)pb_new(&dstack__guest__v1__tdx_quote_response__descriptor,
									 mem);
		int raw = strcmp(qj->hash_algorithm, "raw") == 0;

		if (!t)
			return NULL;
		t->quote = guest_pb_bytes(call, qj->ev.quote, qj->ev.quote_len);
		t->event_log = log;
		t->hash_algorithm = arena_strdup(mem, qj->hash_algorithm);
		t->prefix = arena_strdup(mem, raw ? "" : qj->prefix[0] ? qj->prefix : "app-data");
		return t->quote.data && t->hash_algorithm && t->prefix ? &t->base : NULL;
	}
	{
		Dstack__Guest__V1__GetQuoteResponse *r = (void *)pb_new(&dstack__guest__v1__get_quote_response__descriptor,
									 mem);

		if (!r)
			return NULL;
		r->quote = guest_pb_bytes(call, qj->ev.quote, qj->ev.quote_len);
		r->event_log = log;
		r->report_data = guest_pb_bytes(call, qj->report_data, TEE_REPORT_DATA_LEN);
		r->vm_config = svc_pb_str(g->boot.sys.vm_config ? g->boot.sys.vm_config : "");
		return r->quote.data && r->report_data.data ? &r->base : NULL;
	}
}

static void quote_done(struct guest_job *j)
{
	struct quote_job *qj = (struct quote_job *)j;
	ProtobufCMessage *resp = NULL;
	err_t err = qj->err;

	if (!j->run) {
		/* Dropped at shutdown: the call belongs to a server that is gone. */
		quote_job_free(qj);
		return;
	}
	if (err == ERR_OK && !(resp = quote_response(qj)))
		err = arena_err(rpc_call_arena(qj->call));
	if (err != ERR_OK && qj->detail)
		rpc_call_set_detail(qj->call, "%s", qj->detail);
	rpc_call_complete(qj->call, err, resp);
	quote_job_free(qj);
}

static int submit_quote(struct rpc_call *call, enum quote_kind kind, const uint8_t rd[64], const char *alg,
			const char *prefix)
{
	struct guest_env *g = guest_of(call);
	struct quote_job *qj = calloc(1, sizeof(*qj));
	err_t err;

	if (!qj)
		return ERR_NOMEM;
	qj->job.run = quote_run;
	qj->job.done = quote_done;
	qj->call = call;
	qj->tee = g->tee;
	qj->kind = kind;
	memcpy(qj->report_data, rd, TEE_REPORT_DATA_LEN);
	snprintf(qj->hash_algorithm, sizeof(qj->hash_algorithm), "%s", alg ? alg : "");
	snprintf(qj->prefix, sizeof(qj->prefix), "%s", prefix ? prefix : "");
	if ((err = guest_worker_submit(g->worker, &qj->job)) != ERR_OK) {
		free(qj);
		if (err == ERR_OVERLOADED)
			rpc_call_set_detail(call, "too many TEE requests queued; retry later");
		return err;
	}
	return RPC_ASYNC;
}

/* dstack's pad64: data at offset 0, zeros after. */
static void pad64(const ProtobufCBinaryData *b, uint8_t out[64])
{
	memset(out, 0, 64);
	if (b->len)
		memcpy(out, b->data, b->len);
}

int guest_on_get_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__RawQuoteArgs *q = (const void *)req;
	uint8_t rd[64];

	(void)resp;
	pad64(&q->report_data, rd);
	return submit_quote(call, Q_GET_QUOTE, rd, NULL, NULL);
}

int guest_on_attest(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__RawQuoteArgs *q = (const void *)req;
	uint8_t rd[64];

	(void)resp;
	pad64(&q->report_data, rd);
	return submit_quote(call, Q_ATTEST, rd, NULL, NULL);
}

int guest_on_tdx_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__TdxQuoteArgs *q = (const void *)req;
	const char *detail = NULL, *alg = q->hash_algorithm && *q->hash_algorithm ? q->hash_algorithm : "sha512";
	uint8_t rd[64];
	err_t err;

	(void)resp;
	if ((err = guest_tdx_report_data(alg, q->prefix, q->report_data.data, q->report_data.len, rd, &detail)) !=
	    ERR_OK) {
		if (detail)
			rpc_call_set_detail(call, "%s", detail);
		return err;
	}
	return submit_quote(call, Q_TDX_QUOTE, rd, alg, q->prefix);
}

int guest_on_raw_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__RawQuoteArgs *q = (const void *)req;
	uint8_t rd[64];

	(void)resp;
	/* dstack: TdxQuote with "raw", which takes exactly 64 bytes. */
	if (q->report_data.len != 64) {
		rpc_call_set_detail(call, "RawQuote: report_data must be exactly 64 bytes");
		return ERR_INVALID_ARG;
	}
	pad64(&q->report_data, rd);
	return submit_quote(call, Q_TDX_QUOTE, rd, "raw", NULL);
}

int guest_on_app_key_attestation(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__GetAttestationForAppKeyRequest *q = (const void *)req;
	const struct guest_env *g = guest_of(call);
	const char *alg = q->algorithm ? q->algorithm : "";
	int ed = strcmp(alg, "ed25519") == 0;
	struct dstack_derived_key dk;
	char b64[64], text[96];
	uint8_t rd[64];
	int n;

	(void)resp;
	if (!ed && strcmp(alg, "secp256k1") != 0 && strcmp(alg, "k256") != 0 && strcmp(alg, "secp256k1_prehashed") != 0) {
		rpc_call_set_detail(call, "Unsupported algorithm");
		return ERR_INVALID_ARG;
	}
	if (dstack_getkey(g->boot.keys.k256_key, ed ? DSTACK_KEY_ED25519 : DSTACK_KEY_SECP256K1, "vms", 3, "signing", 7,
			  &dk) != ERR_OK) {
		secure_wipe(&dk, sizeof(dk));
		return ERR_CRYPTO;
	}
	base64_encode(b64, dk.pub, dk.pub_len, 1);
	n = snprintf(text, sizeof(text), "dip1::%s-pk:%s", ed ? "ed25519" : "secp256k1c", b64);
	secure_wipe(&dk, sizeof(dk));
	memset(rd, 0, sizeof(rd));
	memcpy(rd, text, (size_t)n < sizeof(rd) ? (size_t)n : sizeof(rd));
	return submit_quote(call, Q_GET_QUOTE, rd, NULL, NULL);
}

/* ---- EmitEvent ------------------------------------------------------------------------------ */

static void event_run(struct guest_job *j)
{
	struct event_job *ej = (struct event_job *)j;

	ej->err = tee_extend_runtime_event(ej->g->tee, ej->name, ej->payload, ej->len, &ej->detail);
	if (ej->err == ERR_OK)
		ej->has_snap = guest_snapshot_take(ej->g->tee, &ej->snap, &ej->detail) == ERR_OK;
}

static void event_job_free(struct event_job *ej)
{
	guest_snapshot_free(&ej->snap);
	free(ej->name);
	free(ej->payload);
	free(ej);
}

static void event_done(struct guest_job *j)
{
	struct event_job *ej = (struct event_job *)j;
	ProtobufCMessage *resp;

	if (!j->run) {
		event_job_free(ej);
		return;
	}
	if (ej->has_snap)
		guest_snapshot_offer(ej->g, &ej->snap);
	if (ej->err == ERR_OK)
		log_info(rpc_call_log_prefix(ej->call), "app event '%s' (%zu bytes) measured into RTMR3", ej->name, ej->len);
	else if (ej->detail)
		rpc_call_set_detail(ej->call, "%s", ej->detail);
	resp = ej->err == ERR_OK ? pb_new(&google__protobuf__empty__descriptor, rpc_call_arena(ej->call)) : NULL;
	rpc_call_complete(ej->call, ej->err == ERR_OK && !resp ? ERR_NOMEM : ej->err, resp);
	event_job_free(ej);
}

int guest_on_emit_event(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__EmitEventArgs *q = (const void *)req;
	struct guest_env *g = guest_of(call);
	struct event_job *ej = calloc(1, sizeof(*ej));
	err_t err;

	(void)resp;
	if (!ej)
		return ERR_NOMEM;
	ej->job.run = event_run;
	ej->job.done = event_done;
	ej->call = call;
	ej->g = g;
	ej->len = q->payload.len;
	ej->name = strdup(q->event);
	ej->payload = malloc(q->payload.len ? q->payload.len : 1);
	if (!ej->name || !ej->payload) {
		event_job_free(ej);
		return ERR_NOMEM;
	}
	if (q->payload.len)
		memcpy(ej->payload, q->payload.data, q->payload.len);
	if ((err = guest_worker_submit(g->worker, &ej->job)) != ERR_OK) {
		event_job_free(ej);
		if (err == ERR_OVERLOADED)
			rpc_call_set_detail(call, "too many TEE requests queued; retry later");
		return err;
	}
	return RPC_ASYNC;
}
