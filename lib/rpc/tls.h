/* SPDX-License-Identifier: Apache-2.0 */
/* TLS contexts for servers and clients, with a pluggable peer-verification hook (RA-TLS plugs in here). */
#ifndef DS_TLS_H
#define DS_TLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "base.h"
#include "err.h"

/* What a handshake established about the peer. Lives as long as the connection. */
struct tls_peer {
	int present;              /* the peer sent a certificate */
	int chain_ok;             /* it chains to the configured CA (OpenSSL's verdict) */
	int attested;             /* the hook verified attestation evidence bound to the key */
	char subject[256];        /* RFC 2253 subject of the leaf, for logs */
	uint8_t cert_sha256[32];  /* SHA-256 of the leaf's DER */
	void *data;               /* hook-owned; released with the hook's free_data */
};

/*
 * The hook sees the peer's leaf and chain after OpenSSL checked the chain
 * against the configured CA (peer->chain_ok says how that went; with no CA
 * configured it is 0). It returns ERR_OK to accept the peer, or an error to
 * abort the handshake; it may set peer->attested and peer->data. It runs
 * inside the handshake, on the event loop: it must not block (RA-TLS caches
 * verdicts by certificate hash for this reason).
 */
struct tls_verifier {
	err_t (*verify)(void *arg, X509 *leaf, STACK_OF(X509) *chain, struct tls_peer *peer);
	void (*free_data)(void *arg, void *data);
	void *arg;
};

struct tls_opts {
	const char *cert_file;          /* PEM chain, leaf first; required for servers */
	const char *key_file;           /* PEM private key; must not be group/world readable */
	const char *ca_file;            /* trust anchors for the peer; NULL = none */
	int require_peer_cert;          /* server: refuse clients without a certificate */
	int insecure_skip_verify;       /* client: accept any server (tests only; logged loudly) */
	const struct tls_verifier *verifier;  /* optional; borrowed, must outlive the context */
	/*
	 * In-memory credentials, alternatives to the files above (RA-TLS keys
	 * never touch the disk). cert + key replace cert_file + key_file; chain
	 * (intermediates sent after the leaf) may be NULL; ca_store replaces
	 * ca_file (giving both is an error). All borrowed: a context takes its
	 * own references, and rpc_client up-references them for its lifetime.
	 */
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	X509_STORE *ca_store;
};

/*
 * A TLS 1.3 server context advertising ALPN h2 and http/1.1 (h2 preferred).
 * Returns NULL and sets *detail (static text) on failure. Caller frees with SSL_CTX_free.
 */
SSL_CTX *tls_server_ctx_new(const struct tls_opts *o, const char **detail);

/*
 * Apply client settings to a context someone else created (libcurl's, from
 * CURLOPT_SSL_CTX_FUNCTION): TLS 1.3 minimum, the in-memory client
 * certificate, key and chain and the in-memory CA store when given, and the
 * verifier hook. File-based CA, certificate and key are set through
 * libcurl's own options.
 */
err_t tls_client_ctx_apply(SSL_CTX *ctx, const struct tls_opts *o) MUST_CHECK;

/* The peer record of an established connection (borrowed), or NULL before the handshake. */
struct tls_peer *tls_peer_get(SSL *ssl);
/* Attach a fresh zeroed peer record to a new SSL (servers call this per connection). Caller must call tls_peer_release. */
err_t tls_peer_attach(SSL *ssl) MUST_CHECK;
void tls_peer_release(SSL *ssl);

#endif
