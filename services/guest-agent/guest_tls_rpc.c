/* SPDX-License-Identifier: Apache-2.0 */
/* GetTlsKey and Tappd.DeriveKey: a P-256 key and its certificate chain, issued by the KMS (SignCert) or the local app CA. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "dkdf.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "guest_rpc.h"
#include "guest_worker.h"
#include "log.h"
#include "pbcodec.h"
#include "ratls.h"
#include "rpc_client.h"

#define KMS_SIGNCERT_TIMEOUT_MS 30000
#define PEM_MAX (64u << 10)

struct tls_job {
	struct guest_job job;
	struct rpc_call *call;
	struct guest_env *g;
	struct tls_job *next_inflight;          /* SignCert in flight (g's list) */
	/* request, copied */
	char subject[4 * GUEST_MAX_SUBJECT + 1];
	char *alt_names[GUEST_MAX_ALT_NAMES];
	size_t n_alt_names;
	int server_auth, client_auth, ra_tls;
	int app_info;                           /* with_app_info: the APP_INFO extension (GetTlsKey only) */
	uint64_t not_before, not_after;         /* 0 = unset */
	int has_scalar;                         /* DeriveKey: deterministic key */
	uint8_t scalar[P256_SCALAR_LEN];
	/* results */
	err_t err;
	const char *detail;
	struct buf_writer key_pem;              /* wipes */
	struct buf_writer leaf_pem;             /* none mode */
	struct buf_writer csr, sig;             /* KMS mode */
};

/* SignCert jobs in flight, so shutdown can drop them before the client cancels them. */
struct tls_state {
	struct tls_job *inflight;
	int stopping;
	X509_STORE *kms_roots;
};

/* g->tls, allocated on first use. */
static struct tls_state *tls_state(struct guest_env *g, int create)
{
	if (!g->tls && create)
		g->tls = calloc(1, sizeof(*g->tls));
	return g->tls;
}

static int name_ok(const char *s, size_t max_chars)
{
	size_t chars = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return 0;
		chars += (c & 0xc0) != 0x80;
	}
	return chars <= max_chars;
}

static int alt_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GUEST_MAX_ALT_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
			return 0;
	return 1;
}

static err_t check_names(const char *subject, char *const *alt, size_t n, const char **detail)
{
	if (subject && !name_ok(subject, GUEST_MAX_SUBJECT)) {
		*detail = "subject: at most 64 characters, no control characters";
		return ERR_INVALID_ARG;
	}
	if (n > GUEST_MAX_ALT_NAMES) {
		*detail = "alt_names: at most 32";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < n; i++)
		if (!alt_name_ok(alt[i])) {
			*detail = "alt_names: DNS names or IP addresses of visible ASCII, at most 253 bytes, no commas";
			return ERR_INVALID_ARG;
		}
	return ERR_OK;
}

err_t guest_validate_get_tls_key(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__GetTlsKeyArgs *q = (const void *)req;
	uint64_t now = wall_s();
	err_t err;

	if ((err = check_names(q->subject, q->alt_names, q->n_alt_names, detail)) != ERR_OK)
		return err;
	if (q->not_after && (q->not_after <= now || q->not_after > now + GUEST_TLS_MAX_VALIDITY_S)) {
		*detail = "not_after: in the future and at most one year from now";
		return ERR_INVALID_ARG;
	}
	if (q->not_before && q->not_before >= (q->not_after ? q->not_after : now + GUEST_TLS_MAX_VALIDITY_S)) {
		*detail = "not_before: before not_after";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

err_t guest_validate_derive_key(const ProtobufCMessage *req, const char **detail)
{
	const Dstack__Guest__V1__DeriveKeyArgs *q = (const void *)req;

	if (q->path && strlen(q->path) > GUEST_MAX_PATH) {
		*detail = "path: at most 4096 bytes";
		return ERR_INVALID_ARG;
	}
	return check_names(q->subject, q->alt_names, q->n_alt_names, detail);
}

static void tls_job_free(struct tls_job *tj)
{
	for (size_t i = 0; i < tj->n_alt_names; i++)
		free(tj->alt_names[i]);
	buf_writer_free(&tj->key_pem);
	buf_writer_free(&tj->leaf_pem);
	buf_writer_free(&tj->csr);
	buf_writer_free(&tj->sig);
	secure_wipe(tj->scalar, sizeof(tj->scalar));
	free(tj);
}

/* ---- on the worker -------------------------------------------------------------------------- */

static err_t build_csr(struct tls_job *tj, EVP_PKEY *key)
{
	struct guest_env *g = tj->g;
	struct ratls_csr csr;
	struct buf_writer spki, att;
	uint8_t rd[RATLS_REPORT_DATA_LEN];
	struct ratls_quote q;
	err_t err;

	memset(&csr, 0, sizeof(csr));
	memset(&q, 0, sizeof(q));
	buf_writer_init(&spki, 4096);
	buf_writer_init(&att, RATLS_ATTESTATION_MAX);
	/* dstack's issue_cert: the CSR always carries evidence for its key; the KMS embeds it only for RA-TLS. */
	if ((err = ratls_spki_der(key, &spki)) != ERR_OK || (err = ratls_report_data(key, rd)) != ERR_OK ||
	    (err = ratls_tee_quote(g->tee, rd, &q)) != ERR_OK ||
	    (err = ratls_attestation_from_quote(&q, rd, &att, &tj->detail)) != ERR_OK) {
		if (!tj->detail)
			tj->detail = "cannot obtain evidence for the certificate key";
		goto out;
	}
	csr.version = 2;
	csr.pubkey = spki.p;
	csr.pubkey_len = spki.len;
	csr.config.subject = tj->subject;
	csr.config.alt_names = (const char **)UNCONST(tj->alt_names);
	csr.config.n_alt_names = tj->n_alt_names;
	csr.config.usage_server_auth = tj->server_auth;
	csr.config.usage_client_auth = tj->client_auth;
	csr.config.ext_quote = tj->ra_tls;
	csr.config.ext_app_info = tj->app_info;   /* the KMS computes it from this CSR's evidence */
	csr.config.has_not_before = tj->not_before != 0;
	csr.config.not_before = tj->not_before;
	csr.config.has_not_after = tj->not_after != 0;
	csr.config.not_after = tj->not_after;
	csr.attestation = att.p;
	csr.attestation_len = att.len;
	buf_writer_init(&tj->csr, RATLS_CSR_MAX);
	buf_writer_init(&tj->sig, 256);
	if ((err = ratls_csr_encode(&csr, &tj->csr)) != ERR_OK ||
	    (err = ratls_csr_sign(tj->csr.p, tj->csr.len, key, &tj->sig)) != ERR_OK)
		tj->detail = "cannot encode or sign the certificate request";
out:
	ratls_quote_clear(&q);
	buf_writer_free(&spki);
	buf_writer_free(&att);
	return err;
}

/*
 * APP_INFO for a certificate the local app CA issues: what dstack's local
 * cert client (CaCert::sign_csr, as the KMS) computes from the CSR's
 * evidence, here from evidence obtained for this key; device_id is the one
 * Info reports (sha256("") when there is none, as dstack). With RA-TLS the
 * same evidence goes into the ATTESTATION extension (`att`).
 */
static err_t local_app_info(struct tls_job *tj, EVP_PKEY *key, struct buf_writer *att, struct buf_writer *info)
{
	const struct guest_boot *b = &tj->g->boot;
	err_t err;

	err = ratls_app_info_for_key(key, ratls_tee_quote, tj->g->tee, b->has_device_id ? b->device_id : NULL,
				     tj->ra_tls ? att : NULL, info, &tj->detail);
	if (err != ERR_OK && !tj->detail)
		tj->detail = "cannot compute APP_INFO from this CVM's evidence";
	return err;
}

static err_t build_local(struct tls_job *tj, EVP_PKEY *key)
{
	const struct guest_keys *k = &tj->g->boot.keys;
	struct ratls_cert_params p = {
		.cn = tj->subject, .alt_names = (const char *const *)tj->alt_names, .n_alt_names = tj->n_alt_names,
		.not_before = tj->not_before, .server_auth = tj->server_auth, .client_auth = tj->client_auth,
		.app_id = tj->g->boot.id.app_id, .usage = RATLS_USAGE_APP_CUSTOM,
	};
	struct buf_writer att, info;
	X509 *leaf = NULL;
	err_t err;

	buf_writer_init(&att, RATLS_ATTESTATION_MAX);
	buf_writer_init(&info, RATLS_APP_INFO_MAX);
	p.not_after = tj->not_after ? tj->not_after : wall_s() + GUEST_TLS_MAX_VALIDITY_S;
	if (tj->app_info) {
		if ((err = local_app_info(tj, key, &att, &info)) == ERR_OK) {
			p.attestation = tj->ra_tls ? att.p : NULL;
			p.attestation_len = tj->ra_tls ? att.len : 0;
			p.app_info = info.p;
			p.app_info_len = info.len;
			err = ratls_cert_build(&p, key, k->app_ca_cert, k->app_ca_key, &leaf);
		}
	} else if (tj->ra_tls) {
		err = ratls_cert_new_attested(&p, key, ratls_tee_quote, tj->g->tee, k->app_ca_cert, k->app_ca_key, &leaf,
					      &tj->detail);
	} else {
		err = ratls_cert_build(&p, key, k->app_ca_cert, k->app_ca_key, &leaf);
	}
	buf_writer_free(&att);
	buf_writer_free(&info);
	if (err == ERR_OK) {
		buf_writer_init(&tj->leaf_pem, PEM_MAX);
		err = ratls_cert_pem(leaf, &tj->leaf_pem);
	} else if (!tj->detail) {
		tj->detail = err == ERR_INVALID_ARG ? "the certificate parameters were refused (alt_names?)"
						    : "cannot issue the certificate";
	}
	X509_free(leaf);
	return err;
}

static void tls_run(struct guest_job *j)
{
	struct tls_job *tj = (struct tls_job *)j;
	EVP_PKEY *key = tj->has_scalar ? p256_pkey_from_scalar(tj->scalar) : ratls_key_new();

	if (!key) {
		tj->err = ERR_CRYPTO;
		tj->detail = "cannot create the key";
		return;
	}
	buf_writer_init(&tj->key_pem, PEM_MAX);
	tj->key_pem.wipe = 1;
	if ((tj->err = ratls_key_pem(key, &tj->key_pem)) == ERR_OK)
		tj->err = tj->g->boot.keys.provider == GUEST_KP_KMS ? build_csr(tj, key) : build_local(tj, key);
	EVP_PKEY_free(key);
}

/* ---- on the loop ---------------------------------------------------------------------------- */

static ProtobufCMessage *tls_response(struct tls_job *tj, char *const *chain, size_t n_chain)
{
	struct rpc_call *call = tj->call;
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__GetTlsKeyResponse *r = (void *)pb_new(&dstack__guest__v1__get_tls_key_response__descriptor,
								 mem);

	if (!r || !(r->key = arena_memdup(mem, tj->key_pem.p, tj->key_pem.len)) ||
	    !(r->certificate_chain = arena_zalloc(mem, (n_chain ? n_chain : 1) * sizeof(char *))))
		return NULL;
	for (size_t i = 0; i < n_chain; i++)
		if (!(r->certificate_chain[i] = arena_strdup(mem, chain[i])))
			return NULL;
	r->n_certificate_chain = n_chain;
	return &r->base;
}

static void complete(struct tls_job *tj, err_t err, ProtobufCMessage *resp)
{
	if (err != ERR_OK && tj->detail)
		rpc_call_set_detail(tj->call, "%s", tj->detail);
	rpc_call_complete(tj->call, err, resp);
	tj->g->tls_issued += err == ERR_OK;
	tls_job_free(tj);
}

static void inflight_remove(struct tls_state *st, struct tls_job *tj)
{
	for (struct tls_job **p = &st->inflight; *p; p = &(*p)->next_inflight)
		if (*p == tj) {
			*p = tj->next_inflight;
			return;
		}
}

static void on_sign_cert(void *arg, const struct rpc_result *res)
{
	struct tls_job *tj = arg;
	struct tls_state *st = tls_state(tj->g, 0);
	const Dstack__Kms__V1__SignCertResponse *r;
	ProtobufCMessage *resp;
	char msg[400];

	inflight_remove(st, tj);
	if (st->stopping) {
		tls_job_free(tj);
		return;
	}
	if (res->err != ERR_OK) {
		snprintf(msg, sizeof(msg), "the KMS did not issue the certificate: %s", res->message ? res->message
												  : err_str(res->err));
		rpc_call_set_detail(tj->call, "%s", msg);
		tj->detail = NULL;
		complete(tj, res->err == ERR_POLICY_DENIED ? ERR_POLICY_DENIED : ERR_UNAVAILABLE, NULL);
		return;
	}
	r = (const void *)res->resp;
	if (r->n_certificate_chain == 0) {
		tj->detail = "the KMS returned an empty certificate chain";
		complete(tj, ERR_PROTO_MALFORMED, NULL);
		return;
	}
	resp = tls_response(tj, r->certificate_chain, r->n_certificate_chain);
	complete(tj, resp ? ERR_OK : arena_err(rpc_call_arena(tj->call)), resp);
}

/* The KMS's server certificate must chain to its root and say kms:rpc (as for GetAppKey). */
static err_t verify_kms_server(void *arg, X509 *leaf, STACK_OF(X509) *chain, struct tls_peer *peer)
{
	struct ratls_cert_ext ext;
	const char *detail = NULL;

	(void)arg;
	(void)chain;
	if (!peer->chain_ok || !leaf || ratls_cert_ext_read(leaf, &ext, &detail) != ERR_OK ||
	    ext.usage.len != strlen(RATLS_USAGE_KMS_RPC) || memcmp(ext.usage.p, RATLS_USAGE_KMS_RPC, ext.usage.len) != 0)
		return ERR_AUTH_PEER_REJECTED;
	return ERR_OK;
}

static const struct tls_verifier kms_verifier = { verify_kms_server, NULL, NULL };

static err_t kms_client(struct guest_env *g, struct tls_state *st)
{
	const struct guest_keys *k = &g->boot.keys;
	struct rpc_client_opts o;
	STACK_OF(X509) *roots;

	if (g->kms)
		return ERR_OK;
	roots = pem_certs_parse(k->kms_root_ca_pem, strlen(k->kms_root_ca_pem));
	if (!roots || !(st->kms_roots = X509_STORE_new()) || X509_STORE_add_cert(st->kms_roots, sk_X509_value(roots, 0)) != 1) {
		sk_X509_pop_free(roots, X509_free);
		return ERR_CRYPTO;
	}
	sk_X509_pop_free(roots, X509_free);
	memset(&o, 0, sizeof(o));
	o.base_url = k->kms_url;
	o.wire = RPC_WIRE_GRPC;
	o.timeout_ms = KMS_SIGNCERT_TIMEOUT_MS;
	o.tls.ca_store = st->kms_roots;
	o.tls.verifier = &kms_verifier;
	g->kms = rpc_client_new(g->svc->base, &o);
	return g->kms ? ERR_OK : ERR_NOMEM;
}

static void tls_done(struct guest_job *j)
{
	struct tls_job *tj = (struct tls_job *)j;
	struct guest_env *g = tj->g;
	struct tls_state *st;
	Dstack__Kms__V1__SignCertRequest q;
	ProtobufCMessage *resp;
	err_t err;

	if (!j->run) {
		tls_job_free(tj);
		return;
	}
	if (tj->err != ERR_OK) {
		complete(tj, tj->err, NULL);
		return;
	}
	if (g->boot.keys.provider != GUEST_KP_KMS) {
		char *chain[2] = { UNCONST(buf_cstr(&tj->leaf_pem)), g->boot.keys.app_ca_pem };

		resp = chain[0] ? tls_response(tj, chain, 2) : NULL;
		complete(tj, resp ? ERR_OK : ERR_NOMEM, resp);
		return;
	}
	if (!(st = tls_state(g, 1)) || (err = kms_client(g, st)) != ERR_OK) {
		tj->detail = "cannot set up the KMS client";
		complete(tj, st ? err : ERR_NOMEM, NULL);
		return;
	}
	dstack__kms__v1__sign_cert_request__init(&q);
	q.api_version = 2;
	q.csr = (ProtobufCBinaryData){ tj->csr.len, tj->csr.p };
	q.signature = (ProtobufCBinaryData){ tj->sig.len, tj->sig.p };
	q.vm_config = svc_pb_str(*g->boot.sys.vm_config ? g->boot.sys.vm_config : "{}");
	err = rpc_client_call(g->kms, "/dstack.kms.v1.Kms/SignCert", &q.base,
			      &dstack__kms__v1__sign_cert_response__descriptor, NULL, on_sign_cert, tj);
	if (err != ERR_OK) {
		tj->detail = "cannot reach the KMS for SignCert";
		complete(tj, err, NULL);
		return;
	}
	tj->next_inflight = st->inflight;
	st->inflight = tj;
}

static int submit(struct rpc_call *call, struct tls_job *tj)
{
	struct guest_env *g = guest_of(call);
	err_t err;

	tj->job.run = tls_run;
	tj->job.done = tls_done;
	tj->call = call;
	tj->g = g;
	if ((err = guest_worker_submit(g->worker, &tj->job)) != ERR_OK) {
		tls_job_free(tj);
		if (err == ERR_OVERLOADED)
			rpc_call_set_detail(call, "too many TEE requests queued; retry later");
		return err;
	}
	return RPC_ASYNC;
}

static err_t copy_names(struct tls_job *tj, const struct guest_env *g, const char *subject, char *const *alt, size_t n)
{
	if (subject && *subject) {
		snprintf(tj->subject, sizeof(tj->subject), "%s", subject);
	} else {
		/* dstack takes an empty subject; X.509 names here need a CN: the app id stands in. */
		hex_encode(tj->subject, g->boot.id.app_id, GUEST_ID_LEN);
	}
	for (size_t i = 0; i < n; i++) {
		if (!(tj->alt_names[i] = strdup(alt[i])))
			return ERR_NOMEM;
		tj->n_alt_names++;
	}
	return ERR_OK;
}

int guest_on_get_tls_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__GetTlsKeyArgs *q = (const void *)req;
	struct tls_job *tj = calloc(1, sizeof(*tj));

	(void)resp;
	if (!tj)
		return ERR_NOMEM;
	rpc_call_set_secret(call);
	if (copy_names(tj, guest_of(call), q->subject, q->alt_names, q->n_alt_names) != ERR_OK) {
		tls_job_free(tj);
		return ERR_NOMEM;
	}
	tj->server_auth = q->usage_server_auth;
	tj->client_auth = q->usage_client_auth;
	tj->ra_tls = q->usage_ra_tls;
	tj->app_info = q->with_app_info;
	tj->not_before = q->not_before;
	tj->not_after = q->not_after;
	return submit(call, tj);
}

int guest_on_derive_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Dstack__Guest__V1__DeriveKeyArgs *q = (const void *)req;
	const struct guest_env *g = guest_of(call);
	struct tls_job *tj = calloc(1, sizeof(*tj));
	const char *path = q->path ? q->path : "";
	const struct dkdf_part part = { path, strlen(path) };
	uint8_t seed[32];
	err_t err;

	(void)resp;
	if (!tj)
		return ERR_NOMEM;
	rpc_call_set_secret(call);
	if (copy_names(tj, g, q->subject, q->alt_names, q->n_alt_names) != ERR_OK) {
		tls_job_free(tj);
		return ERR_NOMEM;
	}
	tj->server_auth = q->usage_server_auth;
	tj->client_auth = q->usage_client_auth;
	tj->ra_tls = q->usage_ra_tls;
	/* dstack: derive_p256_key_pair_from_bytes(app k256 key, [path]), or from a random seed. */
	if (q->random_seed && RAND_priv_bytes(seed, sizeof(seed)) != 1)
		err = ERR_CRYPTO;
	else
		err = dkdf_derive_p256(q->random_seed ? seed : g->boot.keys.k256_key, 32, &part, 1, tj->scalar);
	secure_wipe(seed, sizeof(seed));
	if (err != ERR_OK) {
		tls_job_free(tj);
		if (err == ERR_KEY_RANGE)
			rpc_call_set_detail(call, "the key derived at this path is out of range; use another path");
		return err;
	}
	tj->has_scalar = 1;
	return submit(call, tj);
}

void guest_tls_fini(struct guest_env *g)
{
	struct tls_state *st = tls_state(g, 0);

	if (st)
		st->stopping = 1;
	/* Cancels in-flight SignCerts; their callbacks see `stopping` and only free. */
	rpc_client_free(g->kms);
	g->kms = NULL;
	if (!st)
		return;
	X509_STORE_free(st->kms_roots);
	free(st);
	g->tls = NULL;
}
