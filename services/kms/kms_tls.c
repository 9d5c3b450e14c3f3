/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's TLS: an in-memory RPC certificate issued by its root CA (usage kms:rpc), client certificates from the temp CA verified as RA-TLS. */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "file.h"
#include "kms.h"
#include "log.h"
#include "ratls.h"

struct kms_tls {
	SSL_CTX *ctx;                      /* owned by lib/svc once handed over */
	EVP_PKEY *key;                     /* the RPC key: made in this process, never stored */
	struct attest_trust trust;
	struct ratls_coll_store *coll;
	struct kms_coll *fetcher;          /* fills coll from the attest service on a miss */
	struct ratls_verifier *verifier;
	struct tls_verifier hook;
};

#define RPC_CERT_DAYS 365

/*
 * The RPC certificate: before root keys exist a self-signed placeholder that
 * no client can mistake for the KMS (no kms:rpc usage, not under any root);
 * after, CN = SAN = domain, usage kms:rpc, signed by the current root CA
 * (dstack reissues it at every start, as here).
 */
static err_t issue_rpc_cert(struct kms_env *k, X509 **cert, STACK_OF(X509) **chain, const char **detail)
{
	Dstack__Kms__Internal__V1__KhIssueCertRequest ireq;
	Dstack__Kms__Internal__V1__KhCertParams cp;
	struct buf_writer spki;
	struct arena mem;
	kh_request kreq;
	kh_response *kresp;
	const char *domain;
	char *names[1];
	err_t err;

	*cert = NULL;
	*chain = sk_X509_new_null();
	if (!*chain)
		return ERR_NOMEM;
	if (!k->pub->current) {
		struct ratls_cert_params p = {
			.cn = "dstack-kms (uninitialised)", .not_after = wall_s() + 86400ull * RPC_CERT_DAYS,
			.server_auth = 1,
		};

		return ratls_cert_build(&p, k->tls->key, NULL, k->tls->key, cert);
	}
	domain = k->pub->st->domain;
	names[0] = UNCONST(domain);
	arena_init(&mem, 1u << 20, 0);
	buf_writer_init(&spki, 4096);
	if ((err = ratls_spki_der(k->tls->key, &spki)) != ERR_OK)
		goto out;
	dstack__kms__internal__v1__kh_cert_params__init(&cp);
	cp.cn = UNCONST(domain);
	cp.n_alt_names = 1;
	cp.alt_names = names;
	cp.not_after = wall_s() + 86400ull * RPC_CERT_DAYS;
	cp.server_auth = 1;
	cp.usage = UNCONST(RATLS_USAGE_KMS_RPC);
	dstack__kms__internal__v1__kh_issue_cert_request__init(&ireq);
	ireq.signer = DSTACK__KMS__INTERNAL__V1__KH_SIGNER__KH_SIGNER_ROOT_CA;
	ireq.subject_spki = (ProtobufCBinaryData){ spki.len, spki.p };
	ireq.params = &cp;
	dstack__kms__internal__v1__kh_request__init(&kreq);
	kreq.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ISSUE_CERT;
	kreq.issue_cert = &ireq;
	if ((err = kms_kh_call(k->kh, &kreq, &mem, &kresp, detail)) != ERR_OK)
		goto out;
	err = ERR_CRYPTO;
	*detail = "the key holder issued an unreadable certificate";
	if (!(*cert = kms_cert_from_der(&kresp->issue_cert->cert)))
		goto out;
	for (size_t i = 0; i < kresp->issue_cert->n_chain; i++) {
		X509 *c = kms_cert_from_der(&kresp->issue_cert->chain[i]);

		if (!c || !sk_X509_push(*chain, c)) {
			X509_free(c);
			goto out;
		}
	}
	err = ERR_OK;
out:
	buf_writer_free(&spki);
	arena_fini(&mem);
	return err;
}

/* Client certificates must chain to the temp CA (as dstack's rpc.tls.mutual.ca_certs). */
static X509_STORE *client_ca_store(struct kms_env *k)
{
	X509_STORE *st = X509_STORE_new();
	X509 *tmp;

	if (!st)
		return NULL;
	if (k->pub->current && (tmp = kms_cert_from_der(&k->pub->st->tmp_ca_cert))) {
		int ok = X509_STORE_add_cert(st, tmp);

		X509_free(tmp);
		if (ok != 1) {
			X509_STORE_free(st);
			return NULL;
		}
	}
	return st;
}

err_t kms_tls_refresh(struct kms_env *k, const char **detail)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = NULL;
	X509 *cert = NULL;
	err_t err;

	if ((err = issue_rpc_cert(k, &cert, &chain, detail)) != ERR_OK)
		goto out;
	err = ERR_CRYPTO;
	*detail = "cannot install the RPC certificate";
	if (!(store = client_ca_store(k)))
		goto out;
	if (SSL_CTX_use_certificate(k->tls->ctx, cert) != 1 || SSL_CTX_use_PrivateKey(k->tls->ctx, k->tls->key) != 1 ||
	    SSL_CTX_clear_chain_certs(k->tls->ctx) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (SSL_CTX_add1_chain_cert(k->tls->ctx, sk_X509_value(chain, i)) != 1)
			goto out;
	SSL_CTX_set_cert_store(k->tls->ctx, store);   /* takes the store */
	store = NULL;
	err = ERR_OK;
out:
	X509_STORE_free(store);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return err;
}

static err_t load_collateral(struct kms_tls *t, const char *path, const char **detail)
{
	struct buf_writer w;
	err_t err;

	buf_writer_init(&w, 4u << 20);
	if ((err = file_read_all(path, 4u << 20, 0, &w)) != ERR_OK)
		*detail = "cannot read collateral.file";
	else
		err = ratls_coll_store_put(t->coll, (const char *)w.p, w.len, &t->trust, detail);
	buf_writer_free(&w);
	return err;
}

err_t kms_tls_init(struct kms_env *k, const char **detail)
{
	struct kms_tls *t = calloc(1, sizeof(*t));
	struct ratls_verifier_config vc;
	X509 *placeholder = NULL;
	struct tls_opts to;
	err_t err;

	if (!t)
		return ERR_NOMEM;
	k->tls = t;
	if ((err = attest_trust_load(&t->trust, k->cfg->dev_root, k->cfg->dev_ark, detail)) != ERR_OK)
		return err;
	if (!(t->coll = ratls_coll_store_new()) || !(t->key = ratls_key_new()))
		return ERR_NOMEM;
	if (k->cfg->collateral_file && (err = load_collateral(t, k->cfg->collateral_file, detail)) != ERR_OK)
		return err;
	if (!(t->fetcher = kms_coll_new(k->svc->base, k->cfg->attest_url, t->coll, &t->trust))) {
		*detail = "cannot create the attest-service client";
		return ERR_NOMEM;
	}
	memset(&vc, 0, sizeof(vc));
	vc.trust = t->trust;
	vc.get_collateral = kms_coll_get;
	vc.collateral_arg = t->fetcher;
	vc.mode = RATLS_OPTIONAL;     /* public methods take clients without certificates */
	vc.require_chain = 1;
	if (!(t->verifier = ratls_verifier_new(&vc))) {
		*detail = "cannot create the RA-TLS verifier";
		return ERR_NOMEM;
	}
	ratls_tls_verifier(t->verifier, &t->hook);
	/* A context needs a certificate to exist; the real one is installed right after. */
	{
		struct ratls_cert_params p = { .cn = "dstack-kms", .not_after = wall_s() + 3600 };

		if ((err = ratls_cert_build(&p, t->key, NULL, t->key, &placeholder)) != ERR_OK)
			return err;
	}
	memset(&to, 0, sizeof(to));
	to.cert = placeholder;
	to.key = t->key;
	to.verifier = &t->hook;
	t->ctx = tls_server_ctx_new(&to, detail);
	X509_free(placeholder);
	if (!t->ctx)
		return ERR_IO_TLS;
	if ((err = kms_tls_refresh(k, detail)) != ERR_OK)
		return err;
	svc_set_tls_ctx(k->svc, t->ctx);   /* lib/svc owns the context from here on */
	return ERR_OK;
}

err_t kms_self_verdict(struct kms_env *k, const struct ratls_verdict **out, const char **detail)
{
	struct ratls_cert_params p = { .cn = "dstack-kms self-check", .not_after = wall_s() + 300 };
	struct ratls_failure why;
	EVP_PKEY *key;
	X509 *x = NULL;
	err_t err;

	if (!k->tee) {
		*detail = "no TEE backend configured (tee.backend)";
		return ERR_FAILED_PRECONDITION;
	}
	if (!(key = ratls_key_new()))
		return ERR_NOMEM;
	if ((err = ratls_cert_new_attested(&p, key, ratls_tee_quote, k->tee, NULL, key, &x, detail)) == ERR_OK &&
	    (err = ratls_verify_cert(k->tls->verifier, x, wall_s(), out, &why)) != ERR_OK)
		*detail = "this node's own evidence does not verify here (collateral? trust roots?)";
	X509_free(x);
	EVP_PKEY_free(key);
	return err;
}

void kms_tls_stats(const struct kms_env *k, struct ratls_stats *out)
{
	ratls_verifier_stats(k->tls->verifier, out);
}

struct ratls_verifier *kms_tls_verifier(const struct kms_env *k)
{
	return k->tls->verifier;
}

void kms_tls_free(struct kms_tls *t)
{
	if (!t)
		return;
	ratls_verifier_free(t->verifier);
	kms_coll_free(t->fetcher);
	ratls_coll_store_free(t->coll);
	attest_trust_free(&t->trust);
	EVP_PKEY_free(t->key);
	free(t);
}
