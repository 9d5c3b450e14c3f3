/* SPDX-License-Identifier: Apache-2.0 */
/* A client of the KMS for CVMs and KMS replicas: temp CA, an RA-TLS client certificate, then GetAppKey / GetKmsKey over mutual TLS. */
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "kms_client.h"
#include "rpc_client.h"

/* The KMS's server certificate must chain to its root and say kms:rpc (dstack's guest checks the same). */
static err_t verify_kms_server(void *arg, X509 *leaf, STACK_OF(X509) *chain, struct tls_peer *peer)
{
	struct ratls_cert_ext ext;
	const char *detail = NULL;

	(void)arg;
	(void)chain;
	if (!peer->chain_ok || !leaf)
		return ERR_AUTH_PEER_REJECTED;
	if (ratls_cert_ext_read(leaf, &ext, &detail) != ERR_OK || ext.usage.len != strlen(RATLS_USAGE_KMS_RPC) ||
	    memcmp(ext.usage.p, RATLS_USAGE_KMS_RPC, ext.usage.len) != 0)
		return ERR_AUTH_PEER_REJECTED;
	return ERR_OK;
}

const struct tls_verifier kms_server_verifier = { verify_kms_server, NULL, NULL };

static void result_status(const struct rpc_result *res, struct kms_client_result *out)
{
	out->code = res->code;
	out->message = res->message ? res->message : "";
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

/* The same one certificate in two PEM texts (compared as DER: line endings and whitespace may differ). */
static int same_certificate(const char *a, const char *b)
{
	STACK_OF(X509) *x = pem_certs_parse(a, strlen(a)), *y = pem_certs_parse(b, strlen(b));
	int same = x && y && sk_X509_num(x) == 1 && sk_X509_num(y) == 1 &&
		   X509_cmp(sk_X509_value(x, 0), sk_X509_value(y, 0)) == 0;

	sk_X509_pop_free(x, X509_free);
	sk_X509_pop_free(y, X509_free);
	return same;
}

/* GetTempCaCert: the temp CA (certificate and key) and the root CA. */
static err_t temp_ca(const struct kms_client_opts *o, struct arena *mem, struct kms_client_result *out,
		     Dstack__Kms__V1__GetTempCaCertResponse **tca, const char **detail)
{
	struct rpc_client_opts co = { .base_url = o->url, .wire = RPC_WIRE_GRPC, .timeout_ms = o->timeout_ms };
	Dstack__Kms__V1__GetTempCaCertResponse *r;
	struct rpc_result res;
	ProtobufCMessage empty;
	X509_STORE *store = NULL;
	err_t err;

	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	if (o->root_ca_pem) {
		STACK_OF(X509) *roots = pem_certs_parse(o->root_ca_pem, strlen(o->root_ca_pem));

		store = X509_STORE_new();
		if (!roots || !store || sk_X509_num(roots) != 1 || X509_STORE_add_cert(store, sk_X509_value(roots, 0)) != 1) {
			sk_X509_pop_free(roots, X509_free);
			X509_STORE_free(store);
			*detail = "root_ca_pem is not one PEM certificate";
			return ERR_INVALID_ARG;
		}
		sk_X509_pop_free(roots, X509_free);
		co.tls.ca_store = store;
		co.tls.verifier = &kms_server_verifier;
	} else {
		co.tls.insecure_skip_verify = 1;
	}
	err = rpc_call_sync(&co, "/dstack.kms.v1.Kms/GetTempCaCert", &empty,
			    &dstack__kms__v1__get_temp_ca_cert_response__descriptor, NULL, mem, &res);
	X509_STORE_free(store);
	result_status(&res, out);
	if (err != ERR_OK) {
		*detail = "GetTempCaCert failed";
		return err;
	}
	r = (Dstack__Kms__V1__GetTempCaCertResponse *)res.resp;
	if (!r->temp_ca_cert || !*r->temp_ca_cert || !r->temp_ca_key || !*r->temp_ca_key || !r->ca_cert ||
	    !*r->ca_cert) {
		*detail = "GetTempCaCert returned no CA";
		return ERR_PROTO_MALFORMED;
	}
	if (o->root_ca_pem && !same_certificate(o->root_ca_pem, r->ca_cert)) {
		*detail = "the KMS's root CA differs from the pinned one";
		return ERR_AUTH_PEER_REJECTED;
	}
	out->root_ca_pem = o->root_ca_pem ? o->root_ca_pem : r->ca_cert;
	*tca = r;
	return ERR_OK;
}

static err_t keys_call(const struct kms_client_opts *o, const char *path, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *rd, struct arena *mem, struct kms_client_result *out,
		       ProtobufCMessage **resp, const char **detail)
{
	Dstack__Kms__V1__GetTempCaCertResponse *tca;
	struct ratls_cert_params p = {
		.cn = "RA-TLS TEMP Cert", .not_after = wall_s() + 3600, .client_auth = 1,
	};
	struct rpc_client_opts co = { .base_url = o->url, .wire = RPC_WIRE_GRPC, .timeout_ms = o->timeout_ms };
	STACK_OF(X509) *tmp = NULL, *roots = NULL;
	EVP_PKEY *key = NULL, *tmp_key = NULL;
	X509_STORE *store = NULL;
	X509 *cert = NULL;
	struct rpc_result res;
	err_t err;

	if ((err = temp_ca(o, mem, out, &tca, detail)) != ERR_OK)
		return err;
	err = ERR_CRYPTO;
	*detail = "cannot read the temp CA or the root CA";
	tmp = pem_certs_parse(tca->temp_ca_cert, strlen(tca->temp_ca_cert));
	roots = pem_certs_parse(out->root_ca_pem, strlen(out->root_ca_pem));
	if (!tmp || !roots || !(tmp_key = key_from_pem(tca->temp_ca_key)) || !(store = X509_STORE_new()) ||
	    X509_STORE_add_cert(store, sk_X509_value(roots, 0)) != 1)
		goto out;
	*detail = "cannot create the RA-TLS client certificate";
	if (!(key = ratls_key_new()))
		goto out;
	if ((err = ratls_cert_new_attested(&p, key, o->quote, o->quote_arg, sk_X509_value(tmp, 0), tmp_key, &cert,
					   detail)) != ERR_OK)
		goto out;
	co.tls.cert = cert;
	co.tls.key = key;
	co.tls.ca_store = store;
	co.tls.verifier = &kms_server_verifier;
	err = rpc_call_sync(&co, path, req, rd, NULL, mem, &res);
	result_status(&res, out);
	if (err != ERR_OK) {
		*detail = res.code == RPC_PERMISSION_DENIED ? "the KMS denied the keys" : "the key request failed";
		goto out;
	}
	*resp = res.resp;
out:
	sk_X509_pop_free(tmp, X509_free);
	sk_X509_pop_free(roots, X509_free);
	EVP_PKEY_free(tmp_key);
	EVP_PKEY_free(key);
	X509_STORE_free(store);
	X509_free(cert);
	return err;
}

err_t kms_client_get_app_key(const struct kms_client_opts *o, const char *vm_config, struct arena *mem,
			     struct kms_client_result *out, const char **detail)
{
	Dstack__Kms__V1__GetAppKeyRequest q;
	ProtobufCMessage *resp = NULL;
	err_t err;

	memset(out, 0, sizeof(*out));
	dstack__kms__v1__get_app_key_request__init(&q);
	q.api_version = 1;
	q.vm_config = UNCONST(vm_config ? vm_config : "");
	err = keys_call(o, "/dstack.kms.v1.Kms/GetAppKey", &q.base, &dstack__kms__v1__app_key_response__descriptor, mem,
			out, &resp, detail);
	if (err == ERR_OK)
		out->app_keys = (Dstack__Kms__V1__AppKeyResponse *)resp;
	return err;
}

err_t kms_client_get_kms_key(const struct kms_client_opts *o, const char *vm_config, struct arena *mem,
			     struct kms_client_result *out, const char **detail)
{
	Dstack__Kms__V1__GetKmsKeyRequest q;
	ProtobufCMessage *resp = NULL;
	err_t err;

	memset(out, 0, sizeof(*out));
	dstack__kms__v1__get_kms_key_request__init(&q);
	q.vm_config = UNCONST(vm_config ? vm_config : "");
	err = keys_call(o, "/dstack.kms.v1.Kms/GetKmsKey", &q.base, &dstack__kms__v1__kms_key_response__descriptor, mem,
			out, &resp, detail);
	if (err == ERR_OK)
		out->kms_keys = (Dstack__Kms__V1__KmsKeyResponse *)resp;
	return err;
}
