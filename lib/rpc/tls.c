/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL contexts: TLS 1.3, ALPN h2/http1.1, and the peer-verification hook run once per handshake. */
#include "tls.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "log.h"

/* ex_data slots; created once per process (OpenSSL's own global registry). */
static int peer_idx = -1;
static int verifier_idx = -1;

static void init_indexes(void)
{
	peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	verifier_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static int key_file_private(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & 077) == 0;
}

struct tls_peer *tls_peer_get(SSL *ssl)
{
	pthread_once(&idx_once, init_indexes);
	return SSL_get_ex_data(ssl, peer_idx);
}

err_t tls_peer_attach(SSL *ssl)
{
	struct tls_peer *p;

	pthread_once(&idx_once, init_indexes);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ERR_NOMEM;
	if (!SSL_set_ex_data(ssl, peer_idx, p)) {
		free(p);
		return ERR_NOMEM;
	}
	return ERR_OK;
}

void tls_peer_release(SSL *ssl)
{
	struct tls_peer *p = tls_peer_get(ssl);
	const struct tls_verifier *v;

	if (!p)
		return;
	v = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), verifier_idx);
	if (p->data && v && v->free_data)
		v->free_data(v->arg, p->data);
	SSL_set_ex_data(ssl, peer_idx, NULL);
	free(p);
}

/*
 * Replaces OpenSSL's chain verification: run it ourselves (when a CA is
 * configured), record the result, then let the hook decide. Without a hook,
 * OpenSSL's verdict stands.
 */
static int on_cert_verify(X509_STORE_CTX *sctx, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct tls_verifier *v = arg;
	struct tls_peer *p = ssl ? tls_peer_get(ssl) : NULL;
	struct tls_peer scratch;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	int ok;

	if (!p) {
		memset(&scratch, 0, sizeof(scratch));
		p = &scratch;
	}
	ok = X509_verify_cert(sctx) == 1;
	p->present = leaf != NULL;
	p->chain_ok = ok;
	if (leaf) {
		unsigned int mdlen = 0;
		X509_NAME_oneline(X509_get_subject_name(leaf), p->subject, (int)sizeof(p->subject));
		X509_digest(leaf, EVP_sha256(), p->cert_sha256, &mdlen);
	}
	if (!v || !v->verify)
		return ok;
	if (v->verify(v->arg, leaf, X509_STORE_CTX_get0_untrusted(sctx), p) != ERR_OK)
		ok = -1;
	/* No peer record to keep it (libcurl's connections): what the hook attached goes now. */
	if (p == &scratch && p->data && v->free_data)
		v->free_data(v->arg, p->data);
	if (ok < 0) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(sctx, X509_V_OK);
	return 1;
}

/* In-memory certificate, key and chain (tls_opts.cert/key/chain) into ctx; the context takes references. */
static int use_memory_creds(SSL_CTX *ctx, const struct tls_opts *o)
{
	if (SSL_CTX_use_certificate(ctx, o->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, o->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return 0;
	for (int i = 0; o->chain && i < sk_X509_num(o->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(o->chain, i)) != 1)
			return 0;
	return 1;
}

static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			  unsigned int inlen, void *arg)
{
	static const unsigned char prefs[] = "\x02h2\x08http/1.1";
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(UNCONST(out), outlen, prefs, sizeof(prefs) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *tls_server_ctx_new(const struct tls_opts *o, const char **detail)
{
	SSL_CTX *ctx = NULL;

	pthread_once(&idx_once, init_indexes);
	*detail = NULL;
	if (o->cert || o->key) {
		if (!o->cert || !o->key || o->cert_file || o->key_file) {
			*detail = "in-memory TLS credentials need both cert and key, and no files";
			goto fail;
		}
	} else if (!o->cert_file || !o->key_file) {
		*detail = "a TLS listener needs tls.cert and tls.key";
		goto fail;
	}
	if (o->ca_file && o->ca_store) {
		*detail = "give the client CA as a file or as a store, not both";
		goto fail;
	}
	if (o->key_file && !key_file_private(o->key_file)) {
		*detail = "tls.key is missing or readable by group/others";
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		*detail = "SSL_CTX_new failed";
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (o->cert) {
		if (!use_memory_creds(ctx, o)) {
			*detail = "the in-memory TLS key does not match the certificate";
			goto fail;
		}
	} else {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
			*detail = "cannot load tls.cert";
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			*detail = "cannot load tls.key or it does not match tls.cert";
			goto fail;
		}
	}
	if (o->ca_file && SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
		*detail = "cannot load tls.client_ca";
		goto fail;
	}
	if (o->ca_store)
		SSL_CTX_set1_cert_store(ctx, o->ca_store);
	if (o->ca_file || o->ca_store || o->verifier || o->require_peer_cert) {
		int mode = SSL_VERIFY_PEER | (o->require_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
		SSL_CTX_set_verify(ctx, mode, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, on_cert_verify, UNCONST(o->verifier));
		if (o->verifier)
			SSL_CTX_set_ex_data(ctx, verifier_idx, UNCONST(o->verifier));
	}
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
	/* No session tickets: resumption would skip the verifier hook for a returning peer. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

err_t tls_client_ctx_apply(SSL_CTX *ctx, const struct tls_opts *o)
{
	pthread_once(&idx_once, init_indexes);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		return ERR_IO_TLS;
	if ((o->cert != NULL) != (o->key != NULL))
		return ERR_INVALID_ARG;
	if (o->cert && !use_memory_creds(ctx, o)) {
		ERR_clear_error();
		return ERR_IO_TLS;
	}
	if (o->insecure_skip_verify)
		return ERR_OK;
	/* After libcurl loaded its CA file: the caller's store replaces it (a reference, never a copy). */
	if (o->ca_store)
		SSL_CTX_set1_cert_store(ctx, o->ca_store);
	if (o->verifier) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, on_cert_verify, UNCONST(o->verifier));
		SSL_CTX_set_ex_data(ctx, verifier_idx, UNCONST(o->verifier));
	}
	return ERR_OK;
}
