/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS end to end on loopback with the simulated TEE: a registry with a
 * policy file, a KMS bootstrapped over its admin socket, and simulated CVMs
 * (lib/tee sim) that get keys over mutual RA-TLS with kms_client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "dstack_keys.h"
#include "enc.h"
#include "fixture_server.h"
#include "kms_harness.h"
#include "kms_client.h"
#include "ratls.h"
#include "rpc_client.h"
#include "tee.h"

static struct spawned g_registry;
static struct kh_kms g_kms;
static char g_registry_url[300];

#define APP_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define APP_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define COMPOSE_OK "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define COMPOSE_BAD "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
#define OS_IMAGE "0505050505050505050505050505050505050505050505050505050505050505"

/* The CVMs here all boot OS_IMAGE. */
static void cvm_open(struct kh_cvm *c, const char *name, const char *app_id, const char *compose, const char *instance)
{
	kh_cvm_open(c, name, app_id, compose, instance, OS_IMAGE);
}

static err_t get_keys(struct kh_cvm *c, struct arena *mem, struct kms_client_result *res)
{
	return kh_get_keys(&g_kms, c, mem, res);
}

static err_t admin_call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
			struct arena *mem, ProtobufCMessage **resp)
{
	return kh_admin(&g_kms, method, req, rd, mem, resp);
}

static void start_kms_with(const char *registry_url, int dev_root, int collateral)
{
	const struct kh_kms_opts o = {
		.name = "kms", .registry_url = registry_url, .dev_root = dev_root, .collateral = collateral,
	};

	kh_kms_start(&g_kms, &o);
}

static void start_kms(const char *registry_url, int dev_root)
{
	start_kms_with(registry_url, dev_root, 1);
}

static int setup(void **state)
{
	static const char policy[] =
		"{\"gatewayAppId\":\"0xgateway\",\"osImages\":[\"0x" OS_IMAGE "\"],"
		"\"kms\":{\"mrAggregated\":[],\"devices\":[],\"allowAnyDevice\":true},"
		"\"apps\":{\"0x" APP_A "\":{\"composeHashes\":[\"0x" COMPOSE_OK "\"],\"allowAnyDevice\":true}}}";

	(void)state;
	kh_setup_dir();
	kh_sim_platform();
	/* Governance: app A may boot compose hash COMPOSE_OK on OS_IMAGE, anywhere. */
	kh_write("policy.json", policy, sizeof(policy) - 1);
	kh_registry_start(&g_registry, g_registry_url, sizeof(g_registry_url));
	start_kms(g_registry_url, 1);
	kh_bootstrap(&g_kms);
	/* The RPC certificate is reissued for the domain at bootstrap; restart to be sure it also is at start. */
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	start_kms(g_registry_url, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kh_kms_stop(&g_kms);
	spawn_stop(&g_registry);
	kh_remove_dir();
	return 0;
}

static void check_chain(const Dstack__Kms__V1__AppKeyResponse *k, const uint8_t app_id[20])
{
	uint8_t pub[K256_PUB_LEN], hash[K256_HASH_LEN], signer[K256_PUB_LEN];

	assert_int_equal(k->k256_key.len, 32);
	assert_int_equal(k->k256_signature.len, K256_SIG_LEN);
	assert_int_equal(k->k256_root_pubkey.len, K256_PUB_LEN);
	assert_int_equal(k256_pubkey(k->k256_key.data, pub), ERR_OK);
	assert_int_equal(dstack_kms_issued_hash(app_id, 20, pub, hash), ERR_OK);
	assert_int_equal(k256_recover(hash, k->k256_signature.data, signer), ERR_OK);
	assert_memory_equal(signer, k->k256_root_pubkey.data, K256_PUB_LEN);
}

static void test_keys_released_and_stable(void **state)
{
	struct kh_cvm a1, a2;
	struct kms_client_result r1, r2, r3;
	struct arena mem;
	uint8_t app[20];

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	mem.wipe = 1;
	cvm_open(&a1, "cvm-a1", APP_A, COMPOSE_OK, "1111111111111111111111111111111111111111");
	cvm_open(&a2, "cvm-a2", APP_A, COMPOSE_OK, "2222222222222222222222222222222222222222");
	assert_int_equal(get_keys(&a1, &mem, &r1), ERR_OK);
	assert_int_equal(get_keys(&a2, &mem, &r2), ERR_OK);
	kh_unhex(APP_A, app, sizeof(app));
	check_chain(r1.app_keys, app);
	check_chain(r2.app_keys, app);
	assert_string_equal(r1.app_keys->gateway_app_id, "0xgateway");
	assert_int_equal(r1.app_keys->disk_crypt_key.len, 32);
	assert_int_equal(r1.app_keys->os_image_hash.len, 32);
	/* Same app on another instance: same app keys, a different disk key. */
	assert_memory_equal(r1.app_keys->k256_key.data, r2.app_keys->k256_key.data, 32);
	assert_memory_equal(r1.app_keys->env_crypt_key.data, r2.app_keys->env_crypt_key.data, 32);
	assert_memory_not_equal(r1.app_keys->disk_crypt_key.data, r2.app_keys->disk_crypt_key.data, 32);

	/* A KMS restart reloads the sealed root: the same keys again. */
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	start_kms(g_registry_url, 1);
	assert_int_equal(get_keys(&a1, &mem, &r3), ERR_OK);
	assert_memory_equal(r1.app_keys->disk_crypt_key.data, r3.app_keys->disk_crypt_key.data, 32);
	assert_memory_equal(r1.app_keys->k256_key.data, r3.app_keys->k256_key.data, 32);
	assert_memory_equal(r1.app_keys->env_crypt_key.data, r3.app_keys->env_crypt_key.data, 32);
	kh_cvm_close(&a1);
	kh_cvm_close(&a2);
	arena_fini(&mem);
}

static void test_denied_compose_hash(void **state)
{
	struct kh_cvm b, c;
	struct kms_client_result r;
	struct arena mem;

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	cvm_open(&c, "cvm-a-bad", APP_A, COMPOSE_BAD, "3333333333333333333333333333333333333333");
	assert_int_equal(get_keys(&c, &mem, &r), ERR_POLICY_DENIED);
	assert_int_equal(r.code, RPC_PERMISSION_DENIED);
	assert_non_null(strstr(r.message, "compose hash not allowed"));
	assert_null(r.app_keys);
	cvm_open(&b, "cvm-b", APP_B, COMPOSE_OK, "4444444444444444444444444444444444444444");
	assert_int_equal(get_keys(&b, &mem, &r), ERR_POLICY_DENIED);
	assert_non_null(strstr(r.message, "app not registered"));
	kh_cvm_close(&b);
	kh_cvm_close(&c);
	arena_fini(&mem);
}


/* ---- negative cases: each refused, with the specific reason ---- */

/* The temp CA (certificate + key) from GetTempCaCert. */
static void temp_ca(X509 **cert, EVP_PKEY **key)
{
	struct rpc_client_opts o = { .base_url = g_kms.url, .wire = RPC_WIRE_GRPC };
	Dstack__Kms__V1__GetTempCaCertResponse *r;
	struct rpc_result res;
	ProtobufCMessage empty;
	struct arena mem;
	STACK_OF(X509) *st;
	BIO *b;

	o.tls.insecure_skip_verify = 1;
	arena_init(&mem, 1u << 20, 0);
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(rpc_call_sync(&o, "/dstack.kms.v1.Kms/GetTempCaCert", &empty,
				       &dstack__kms__v1__get_temp_ca_cert_response__descriptor, NULL, &mem, &res),
			 ERR_OK);
	r = (Dstack__Kms__V1__GetTempCaCertResponse *)res.resp;
	st = pem_certs_parse(r->temp_ca_cert, strlen(r->temp_ca_cert));
	assert_non_null(st);
	*cert = sk_X509_shift(st);
	sk_X509_pop_free(st, X509_free);
	b = BIO_new_mem_buf(r->temp_ca_key, -1);
	*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(*key);
	arena_fini(&mem);
}

/* GetAppKey with exactly this client certificate (or none); the server is not checked here. */
static err_t raw_get_app_key(X509 *cert, EVP_PKEY *key, uint32_t api_version, struct rpc_result *res,
			     struct arena *mem)
{
	struct rpc_client_opts o = { .base_url = g_kms.url, .wire = RPC_WIRE_GRPC };
	Dstack__Kms__V1__GetAppKeyRequest q;

	o.tls.insecure_skip_verify = 1;
	o.tls.cert = cert;
	o.tls.key = key;
	dstack__kms__v1__get_app_key_request__init(&q);
	q.api_version = api_version;
	return rpc_call_sync(&o, "/dstack.kms.v1.Kms/GetAppKey", &q.base, &dstack__kms__v1__app_key_response__descriptor,
			     NULL, mem, res);
}

/* The KMS's count of refused client certificates and the last reason. */
static uint64_t rejections(char *last, size_t cap)
{
	Dstack__Kms__V1__StatusResponse *st;
	ProtobufCMessage empty, *resp;
	struct arena mem;
	uint64_t n;

	arena_init(&mem, 1u << 20, 0);
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(admin_call("Status", &empty, &dstack__kms__v1__status_response__descriptor, &mem, &resp),
			 ERR_OK);
	st = (Dstack__Kms__V1__StatusResponse *)resp;
	n = st->peers_rejected;
	snprintf(last, cap, "%s", st->last_peer_rejection ? st->last_peer_rejection : "");
	arena_fini(&mem);
	return n;
}

/* A certificate for `key` from the temp CA; evidence from `cvm` bound to `bind_key` (NULL: no evidence). */
static X509 *client_cert(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, struct kh_cvm *cvm, EVP_PKEY *bind_key,
			 uint64_t not_after)
{
	struct ratls_cert_params p = { .cn = "RA-TLS TEMP Cert", .not_after = not_after, .client_auth = 1 };
	struct buf_writer att;
	X509 *x = NULL;

	buf_writer_init(&att, 1u << 22);
	if (cvm) {
		uint8_t rd[64];
		struct ratls_quote q;
		const char *detail = NULL;

		assert_int_equal(ratls_report_data(bind_key, rd), ERR_OK);
		assert_int_equal(ratls_tee_quote(cvm->tee, rd, &q), ERR_OK);
		assert_int_equal(ratls_attestation_from_quote(&q, rd, &att, &detail), ERR_OK);
		ratls_quote_clear(&q);
		p.attestation = att.p;
		p.attestation_len = att.len;
	}
	assert_int_equal(ratls_cert_build(&p, key, ca, ca_key, &x), ERR_OK);
	buf_writer_free(&att);
	return x;
}

static void test_refusals(void **state)
{
	struct kh_cvm a;
	X509 *ca, *x;
	EVP_PKEY *ca_key, *key = ratls_key_new(), *other = ratls_key_new();
	struct rpc_result res;
	struct arena mem;
	char last[256];
	uint64_t n0, n1;
	err_t err;

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	mem.wipe = 1;
	temp_ca(&ca, &ca_key);
	cvm_open(&a, "cvm-neg", APP_A, COMPOSE_OK, "5555555555555555555555555555555555555555");
	n0 = rejections(last, sizeof(last));

	/* No client certificate: the handshake passes (public methods), GetAppKey does not. */
	assert_int_not_equal(raw_get_app_key(NULL, NULL, 1, &res, &mem), ERR_OK);
	assert_int_equal(res.code, RPC_UNAUTHENTICATED);

	/* A temp-CA certificate without evidence: not attested. */
	x = client_cert(ca, ca_key, key, NULL, NULL, wall_s() + 3600);
	assert_int_not_equal(raw_get_app_key(x, key, 1, &res, &mem), ERR_OK);
	assert_int_equal(res.code, RPC_PERMISSION_DENIED);
	assert_non_null(strstr(res.message, "attest"));
	X509_free(x);

	/* Evidence that binds another key (e.g. replayed from another app's certificate): refused in the handshake. */
	x = client_cert(ca, ca_key, key, &a, other, wall_s() + 3600);
	err = raw_get_app_key(x, key, 1, &res, &mem);
	/* TLS 1.3: the client finishes its side before the server's alert arrives. */
	assert_true(err == ERR_IO_TLS || err == ERR_IO_CLOSED);
	n1 = rejections(last, sizeof(last));
	assert_true(n1 > n0);
	assert_string_equal(last, "binding: ERR_RATLS_BINDING");
	X509_free(x);

	/* An expired certificate, evidence and all. */
	x = client_cert(ca, ca_key, key, &a, key, wall_s() - 60);
	err = raw_get_app_key(x, key, 1, &res, &mem);
	assert_true(err == ERR_IO_TLS || err == ERR_IO_CLOSED);
	assert_int_equal(rejections(last, sizeof(last)), n1 + 1);
	assert_string_equal(last, "certificate: ERR_RATLS_CERT_EXPIRED");
	X509_free(x);

	/* A good certificate with a malformed request. */
	x = client_cert(ca, ca_key, key, &a, key, wall_s() + 3600);
	assert_int_not_equal(raw_get_app_key(x, key, 2, &res, &mem), ERR_OK);
	assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(res.message, "api_version"));
	/* ... and the same certificate with a good one gets keys. */
	assert_int_equal(raw_get_app_key(x, key, 1, &res, &mem), ERR_OK);
	X509_free(x);

	kh_cvm_close(&a);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	arena_fini(&mem);
}

/* ---- SignCert: RA-TLS certificates from the per-app CA ---- */

/* SignCert over TLS, without a client certificate (the CSR carries the evidence). */
static err_t sign_cert_call(uint32_t api_version, const struct buf_writer *csr, const struct buf_writer *sig,
			    struct rpc_result *res, struct arena *mem)
{
	struct rpc_client_opts o = { .base_url = g_kms.url, .wire = RPC_WIRE_GRPC };
	Dstack__Kms__V1__SignCertRequest q;

	o.tls.insecure_skip_verify = 1;   /* the answer is checked against the root from GetMeta */
	dstack__kms__v1__sign_cert_request__init(&q);
	q.api_version = api_version;
	q.csr = (ProtobufCBinaryData){ csr->len, csr->p };
	q.signature = (ProtobufCBinaryData){ sig->len, sig->p };
	q.vm_config = UNCONST("{}");
	return rpc_call_sync(&o, "/dstack.kms.v1.Kms/SignCert", &q.base, &dstack__kms__v1__sign_cert_response__descriptor,
			     NULL, mem, res);
}

struct csr_opts {
	int version;                      /* 1 or 2 */
	EVP_PKEY *bind_key;               /* the key the evidence binds (NULL = the CSR key) */
	EVP_PKEY *sign_key;               /* the key that signs the CSR (NULL = the CSR key) */
	const char *confirm;              /* NULL = the right word */
	struct ratls_csr_config cfg;
};

/* A CSR for `key` with `cvm`'s evidence, and its signature. */
static void make_csr(struct kh_cvm *cvm, EVP_PKEY *key, const struct csr_opts *o, struct buf_writer *csr,
		     struct buf_writer *sig)
{
	struct ratls_csr c;
	struct ratls_quote q;
	struct buf_writer spki, att;
	uint8_t rd[64];
	const char *detail = NULL;

	buf_writer_init(&spki, 4096);
	buf_writer_init(&att, 1u << 22);
	assert_int_equal(ratls_spki_der(key, &spki), ERR_OK);
	assert_int_equal(ratls_report_data(o->bind_key ? o->bind_key : key, rd), ERR_OK);
	assert_int_equal(ratls_tee_quote(cvm->tee, rd, &q), ERR_OK);
	memset(&c, 0, sizeof(c));
	c.version = o->version;
	c.confirm = o->confirm;
	c.pubkey = spki.p;
	c.pubkey_len = spki.len;
	c.config = o->cfg;
	if (o->version == 2) {
		assert_int_equal(ratls_attestation_from_quote(&q, rd, &att, &detail), ERR_OK);
		c.attestation = att.p;
		c.attestation_len = att.len;
	} else {
		c.quote = q.quote;
		c.quote_len = q.quote_len;
		c.event_log = (const uint8_t *)q.event_log;
		c.event_log_len = q.event_log_len;
	}
	buf_writer_init(csr, RATLS_CSR_MAX);
	buf_writer_init(sig, 256);
	assert_int_equal(ratls_csr_encode(&c, csr), ERR_OK);
	assert_int_equal(ratls_csr_sign(csr->p, csr->len, o->sign_key ? o->sign_key : key, sig), ERR_OK);
	ratls_quote_clear(&q);
	buf_writer_free(&att);
	buf_writer_free(&spki);
}

static err_t sign_cert(struct kh_cvm *cvm, EVP_PKEY *key, const struct csr_opts *o, uint32_t api_version,
		       struct rpc_result *res, struct arena *mem)
{
	struct buf_writer csr, sig;
	err_t err;

	make_csr(cvm, key, o, &csr, &sig);
	err = sign_cert_call(api_version, &csr, &sig, res, mem);
	buf_writer_free(&csr);
	buf_writer_free(&sig);
	return err;
}

static struct csr_opts default_csr(int version)
{
	static const char *const names[] = { "app.example", "127.0.0.1" };
	struct csr_opts o;

	memset(&o, 0, sizeof(o));
	o.version = version;
	o.cfg.org_name = "Acme";
	o.cfg.subject = "app.example";
	o.cfg.alt_names = (const char **)UNCONST(names);
	o.cfg.n_alt_names = 2;
	o.cfg.usage_server_auth = 1;
	o.cfg.usage_client_auth = 1;
	return o;
}

/* The KMS root CA as GetMeta publishes it. */
static X509 *kms_root(void)
{
	struct rpc_client_opts o = { .base_url = g_kms.url, .wire = RPC_WIRE_GRPC };
	Dstack__Kms__V1__GetMetaResponse *r;
	struct rpc_result res;
	ProtobufCMessage empty;
	struct arena mem;
	X509 *x;

	o.tls.insecure_skip_verify = 1;
	arena_init(&mem, 1u << 20, 0);
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(rpc_call_sync(&o, "/dstack.kms.v1.Kms/GetMeta", &empty,
				       &dstack__kms__v1__get_meta_response__descriptor, NULL, &mem, &res),
			 ERR_OK);
	r = (Dstack__Kms__V1__GetMetaResponse *)res.resp;
	x = x509_from_bytes(r->ca_cert, strlen(r->ca_cert));
	assert_non_null(x);
	arena_fini(&mem);
	return x;
}

static X509 *pem_one(const char *pem)
{
	X509 *x = x509_from_bytes(pem, strlen(pem));

	assert_non_null(x);
	return x;
}

/*
 * The chain verifies with OpenSSL up to the KMS root (and only through the
 * app CA); the leaf certifies `key` with the CVM's app id and usage
 * app:custom, the app CA has usage app:ca and the same app id. Returns the
 * leaf and the app CA (caller frees).
 */
static void check_issued(const Dstack__Kms__V1__SignCertResponse *r, EVP_PKEY *key, const uint8_t app_id[20],
			 X509 **leaf_out, X509 **ca_out)
{
	X509 *root = kms_root(), *leaf, *app_ca, *top;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	struct ratls_cert_ext ext;

	assert_int_equal(r->n_certificate_chain, 3);
	leaf = pem_one(r->certificate_chain[0]);
	app_ca = pem_one(r->certificate_chain[1]);
	top = pem_one(r->certificate_chain[2]);
	assert_int_equal(X509_cmp(top, root), 0);
	assert_non_null(st);
	assert_non_null(ctx);
	assert_non_null(untrusted);
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	assert_int_equal(sk_X509_push(untrusted, app_ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
	assert_int_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(sk_X509_num(X509_STORE_CTX_get0_chain(ctx)), 3);
	/* without the app CA it does not verify: the root never signs leaves directly */
	X509_STORE_CTX_cleanup(ctx);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	assert_int_not_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), key), 1);
	assert_int_equal(X509_check_ca(leaf), 0);
	assert_int_equal(ratls_cert_ext_read(leaf, &ext, NULL), ERR_OK);
	assert_int_equal(ext.app_id.len, 20);
	assert_memory_equal(ext.app_id.p, app_id, 20);
	assert_int_equal(ext.usage.len, strlen(RATLS_USAGE_APP_CUSTOM));
	assert_memory_equal(ext.usage.p, RATLS_USAGE_APP_CUSTOM, ext.usage.len);
	assert_int_equal(ratls_cert_ext_read(app_ca, &ext, NULL), ERR_OK);
	assert_memory_equal(ext.app_id.p, app_id, 20);
	assert_memory_equal(ext.usage.p, RATLS_USAGE_APP_CA, ext.usage.len);
	assert_int_equal(r->key_epoch, 0);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_free(untrusted);
	X509_free(top);
	X509_free(root);
	*leaf_out = leaf;
	*ca_out = app_ca;
}

static void test_sign_cert_issued(void **state)
{
	struct kh_cvm a;
	EVP_PKEY *key = ratls_key_new(), *key1 = ratls_key_new();
	struct csr_opts o = default_csr(2);
	struct rpc_result res;
	struct ratls_cert_ext ext;
	struct arena mem;
	X509 *leaf, *ca, *leaf1, *ca1;
	X509_NAME *subj;
	uint8_t app[20];
	char cn[128];
	uint64_t na = wall_s() + 30 * 86400ull, got_na = 0;

	(void)state;
	assert_non_null(key);
	assert_non_null(key1);
	arena_init(&mem, 8u << 20, 0);
	kh_unhex(APP_A, app, sizeof(app));
	cvm_open(&a, "cvm-sc", APP_A, COMPOSE_OK, "7777777777777777777777777777777777777777");

	/* V2: attestation inside, asked to be copied into the certificate, 30 days */
	o.cfg.ext_quote = 1;
	o.cfg.has_not_after = 1;
	o.cfg.not_after = na;
	assert_int_equal(sign_cert(&a, key, &o, 2, &res, &mem), ERR_OK);
	check_issued((const Dstack__Kms__V1__SignCertResponse *)res.resp, key, app, &leaf, &ca);
	subj = X509_get_subject_name(leaf);
	assert_true(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "app.example");
	assert_true(X509_NAME_get_text_by_NID(subj, NID_organizationName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "Acme");
	assert_int_equal(X509_check_host(leaf, "app.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_true(X509_get_extended_key_usage(leaf) & (XKU_SSL_SERVER | XKU_SSL_CLIENT));
	assert_true(dcap_asn1_time_unix(X509_get0_notAfter(leaf), &got_na));
	assert_true(got_na == na);
	assert_int_equal(ratls_cert_ext_read(leaf, &ext, NULL), ERR_OK);
	assert_non_null(ext.attestation.p);   /* ext_quote: the CSR's evidence, which binds this very key */

	/* V1 (quote + event log), no ext_quote: same app CA key, no evidence in the leaf */
	o = default_csr(1);
	assert_int_equal(sign_cert(&a, key1, &o, 1, &res, &mem), ERR_OK);
	check_issued((const Dstack__Kms__V1__SignCertResponse *)res.resp, key1, app, &leaf1, &ca1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(ca), X509_get0_pubkey(ca1)), 1);
	assert_int_equal(ratls_cert_ext_read(leaf1, &ext, NULL), ERR_OK);
	assert_null(ext.attestation.p);
	assert_null(ext.tdx_quote.p);
	/* dstack's default validity is ten years; this KMS caps it at one */
	assert_true(dcap_asn1_time_unix(X509_get0_notAfter(leaf1), &got_na));
	assert_true(got_na <= wall_s() + 365 * 86400ull && got_na > wall_s() + 364 * 86400ull);
	X509_free(leaf1);
	X509_free(ca1);

	/* V1 with ext_quote: the legacy quote + log go into the certificate as a VersionedAttestation */
	o.cfg.ext_quote = 1;
	assert_int_equal(sign_cert(&a, key1, &o, 1, &res, &mem), ERR_OK);
	check_issued((const Dstack__Kms__V1__SignCertResponse *)res.resp, key1, app, &leaf1, &ca1);
	assert_int_equal(ratls_cert_ext_read(leaf1, &ext, NULL), ERR_OK);
	assert_non_null(ext.attestation.p);
	{
		struct ratls_attestation att;
		uint8_t rd[64];

		assert_int_equal(ratls_attestation_decode(ext.attestation.p, ext.attestation.len, &mem, &att, NULL),
				 ERR_OK);
		assert_int_equal(att.platform, RATLS_PLATFORM_TDX);
		assert_int_equal(ratls_report_data(key1, rd), ERR_OK);
		assert_memory_equal(att.report_data, rd, 64);
		assert_true(att.n_runtime_events > 0);
	}

	X509_free(leaf);
	X509_free(ca);
	X509_free(leaf1);
	X509_free(ca1);
	kh_cvm_close(&a);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key1);
	arena_fini(&mem);
}

/* sha256(PPID) of the PCK leaf in a quote's certification data (what the KMS verified). */
static void quote_device_id(const struct dcap_quote *q, uint8_t out[32])
{
	STACK_OF(X509) *chain;
	struct dcap_pck_info pck;

	assert_int_equal(q->cert_type, DCAP_CERT_PCK_CHAIN);
	chain = pem_certs_parse((const char *)q->cert_data, q->cert_data_len);
	assert_non_null(chain);
	assert_int_equal(dcap_pck_cert_info(sk_X509_value(chain, 0), &pck, NULL), ERR_OK);
	sha256(pck.ppid, sizeof(pck.ppid), out);
	sk_X509_pop_free(chain, X509_free);
}

/*
 * ext_app_info: the leaf carries APP_INFO computed from the CSR's verified
 * evidence as dstack's sign_csr does (decode_app_info(boottime_mr = false)):
 * the CVM's identity, mr_system with its key provider, mr_aggregated over the
 * full RTMR3, the measured os-image-hash, the verified device id.
 */
static void test_sign_cert_app_info(void **state)
{
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"\"}";
	struct kh_cvm a;
	EVP_PKEY *key = ratls_key_new();
	struct csr_opts o = default_csr(2);
	struct rpc_result res;
	struct ratls_cert_ext ext;
	struct ratls_attestation att;
	struct ratls_app_info ai;
	struct attest_td_report td;
	struct dcap_quote q;
	struct arena mem;
	X509 *leaf, *ca;
	uint8_t app[20], compose[32], inst[20], os[32], mr_kp[32], want[32];
	const char *detail = NULL;

	(void)state;
	assert_non_null(key);
	arena_init(&mem, 8u << 20, 0);
	kh_unhex(APP_A, app, sizeof(app));
	kh_unhex(COMPOSE_OK, compose, sizeof(compose));
	kh_unhex("5555555555555555555555555555555555555555", inst, sizeof(inst));
	kh_unhex(OS_IMAGE, os, sizeof(os));
	cvm_open(&a, "cvm-sc-ai", APP_A, COMPOSE_OK, "5555555555555555555555555555555555555555");

	/* ext_quote too, so the test can read the evidence the APP_INFO was computed from */
	o.cfg.ext_app_info = 1;
	o.cfg.ext_quote = 1;
	assert_int_equal(sign_cert(&a, key, &o, 2, &res, &mem), ERR_OK);
	check_issued((const Dstack__Kms__V1__SignCertResponse *)res.resp, key, app, &leaf, &ca);
	assert_int_equal(ratls_cert_ext_read(leaf, &ext, NULL), ERR_OK);
	assert_non_null(ext.app_info.p);
	assert_int_equal(ext.app_info.p[0], 0x89);   /* the named form: a map of 9 */
	if (ratls_app_info_decode(ext.app_info.p, ext.app_info.len, &ai, &detail) != ERR_OK)
		fail_msg("APP_INFO: %s", detail ? detail : "?");
	assert_int_equal(ai.app_id.len, 20);
	assert_memory_equal(ai.app_id.p, app, 20);
	assert_int_equal(ai.compose_hash.len, 32);
	assert_memory_equal(ai.compose_hash.p, compose, 32);
	assert_int_equal(ai.instance_id.len, 20);
	assert_memory_equal(ai.instance_id.p, inst, 20);
	assert_int_equal(ai.os_image_hash.len, 32);
	assert_memory_equal(ai.os_image_hash.p, os, 32);
	assert_int_equal(ai.key_provider_info.len, sizeof(kp) - 1);
	assert_memory_equal(ai.key_provider_info.p, kp, sizeof(kp) - 1);
	assert_int_equal(ai.has_init_script_hashes, 1);   /* Some([]): the CVM measured no init script */
	assert_int_equal(ai.n_init_script_hashes, 0);
	/* mr_aggregated as every verifier computes it (full RTMR3), not the boot-time value SignCert authorised */
	kh_cvm_mr_aggregated(&a, want);
	assert_memory_equal(ai.mr_aggregated, want, 32);
	/* mr_system and device_id from the quote in the certificate's own evidence */
	assert_int_equal(ratls_attestation_decode(ext.attestation.p, ext.attestation.len, &mem, &att, NULL), ERR_OK);
	assert_int_equal(dcap_quote_parse(att.quote, att.quote_len, &q, NULL), ERR_OK);
	dcap_td_report_decode(q.body, q.body_len, &td);
	sha256(kp, sizeof(kp) - 1, mr_kp);
	{
		const void *parts[5] = { td.mrtd, td.rtmr[0], td.rtmr[1], td.rtmr[2], mr_kp };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, want);
	}
	assert_memory_equal(ai.mr_system, want, 32);
	quote_device_id(&q, want);
	assert_int_equal(ai.device_id.len, 32);
	assert_memory_equal(ai.device_id.p, want, 32);
	X509_free(leaf);
	X509_free(ca);

	/* Without ext_app_info, no APP_INFO; a V1 CSR cannot ask for it (CertConfig has no such field). */
	o.cfg.ext_app_info = 0;
	assert_int_equal(sign_cert(&a, key, &o, 2, &res, &mem), ERR_OK);
	check_issued((const Dstack__Kms__V1__SignCertResponse *)res.resp, key, app, &leaf, &ca);
	assert_int_equal(ratls_cert_ext_read(leaf, &ext, NULL), ERR_OK);
	assert_null(ext.app_info.p);
	X509_free(leaf);
	X509_free(ca);
	kh_cvm_close(&a);
	EVP_PKEY_free(key);
	arena_fini(&mem);
}

static void expect_refused(struct kh_cvm *cvm, EVP_PKEY *key, const struct csr_opts *o, uint32_t api_version,
			   enum rpc_code code, const char *text)
{
	struct rpc_result res;
	struct arena mem;

	arena_init(&mem, 8u << 20, 0);
	assert_int_not_equal(sign_cert(cvm, key, o, api_version, &res, &mem), ERR_OK);
	if (res.code != code || !res.message || !strstr(res.message, text))
		fail_msg("SignCert: want %d \"%s\", got %d \"%s\"", (int)code, text, (int)res.code,
			 res.message ? res.message : "");
	assert_null(res.resp);
	arena_fini(&mem);
}

static void test_sign_cert_refusals(void **state)
{
	struct kh_cvm a, bad;
	EVP_PKEY *key = ratls_key_new(), *other = ratls_key_new();
	struct csr_opts o;

	(void)state;
	assert_non_null(key);
	assert_non_null(other);
	cvm_open(&a, "cvm-sc-neg", APP_A, COMPOSE_OK, "8888888888888888888888888888888888888888");

	/* signed by another key than the CSR's */
	o = default_csr(2);
	o.sign_key = other;
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "signature");
	/* evidence bound to another key (e.g. lifted from another CVM's CSR), properly signed */
	o = default_csr(2);
	o.bind_key = other;
	expect_refused(&a, key, &o, 2, RPC_PERMISSION_DENIED, "binding step: ERR_RATLS_BINDING");
	o.version = 1;
	expect_refused(&a, key, &o, 1, RPC_PERMISSION_DENIED, "binding step: ERR_RATLS_BINDING");
	/* names the certificate cannot carry honestly */
	o = default_csr(2);
	o.cfg.subject = "app\nINFO forged log line";
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "subject");
	o = default_csr(2);
	o.cfg.subject = "a-subject-that-is-longer-than-the-sixty-four-characters-x509-allows";
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "subject");
	/* the confirm word */
	o = default_csr(2);
	o.confirm = "please sign this:";
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "confirm word");
	/* more than a year, already expired */
	o.confirm = NULL;
	o.cfg.has_not_after = 1;
	o.cfg.not_after = wall_s() + 2 * 365 * 86400ull;
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "not_after");
	o.cfg.not_after = wall_s() - 1;
	expect_refused(&a, key, &o, 2, RPC_INVALID_ARGUMENT, "not_after");
	/* a V2 CSR sent as V1, an unknown version */
	o = default_csr(2);
	expect_refused(&a, key, &o, 1, RPC_INVALID_ARGUMENT, "csr:");
	expect_refused(&a, key, &o, 3, RPC_INVALID_ARGUMENT, "api_version");

	/* APP_INFO dstack's readers would refuse (6 init script hashes) is not issued; the same CSR without it is */
	{
		struct kh_cvm many;
		struct rpc_result res;
		struct arena mem;
		uint8_t h[32];
		const char *detail = NULL;

		cvm_open(&many, "cvm-sc-init", APP_A, COMPOSE_OK, "8888888888888888888888888888888888888888");
		for (int i = 0; i < 6; i++) {
			memset(h, 0xf1 + i, sizeof(h));
			assert_int_equal(tee_extend_runtime_event(many.tee, "init-script-hash", h, sizeof(h), &detail),
					 ERR_OK);
		}
		o = default_csr(2);
		o.cfg.ext_app_info = 1;
		expect_refused(&many, key, &o, 2, RPC_PERMISSION_DENIED,
			       "cannot compute APP_INFO from the CSR's evidence: more than 5 init-script-hash events");
		o.cfg.ext_app_info = 0;
		arena_init(&mem, 8u << 20, 0);
		assert_int_equal(sign_cert(&many, key, &o, 2, &res, &mem), ERR_OK);
		arena_fini(&mem);
		kh_cvm_close(&many);
	}

	/* a compose hash the registry denies: the boot-time measurement is authorised like GetAppKey's */
	cvm_open(&bad, "cvm-sc-bad", APP_A, COMPOSE_BAD, "9999999999999999999999999999999999999999");
	o = default_csr(2);
	expect_refused(&bad, key, &o, 2, RPC_PERMISSION_DENIED, "compose hash not allowed");

	kh_cvm_close(&bad);
	kh_cvm_close(&a);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* A KMS that trusts only Intel's root refuses simulated evidence; one whose registry is down fails closed. */
/* Without collateral.file, the KMS takes collateral from the attest service on the first miss; the client retries. */
static void test_collateral_from_attest_service(void **state)
{
	const struct kh_kms_opts o = { .name = "kms", .dev_root = 1, .collateral = 0 };
	struct kh_kms_opts oo = o;
	struct spawned attest;
	struct kh_cvm a;
	struct kms_client_result r;
	struct arena mem;
	char attest_url[300];
	err_t err = ERR_UNAVAILABLE;
	int tries = 0;

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	kh_attest_start(&attest, attest_url, sizeof(attest_url));
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	oo.registry_url = g_registry_url;
	oo.attest_url = attest_url;
	kh_kms_start(&g_kms, &oo);
	cvm_open(&a, "cvm-coll", APP_A, COMPOSE_OK, "8888888888888888888888888888888888888888");
	/* The first handshake meets no collateral and is refused; it is fetched meanwhile. */
	while (tries++ < 50 && (err = get_keys(&a, &mem, &r)) != ERR_OK)
		usleep(100 * 1000);
	assert_int_equal(err, ERR_OK);
	assert_true(tries > 1);
	assert_int_equal(r.app_keys->disk_crypt_key.len, 32);
	kh_cvm_close(&a);
	assert_int_equal(spawn_stop(&attest), 0);
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	start_kms(g_registry_url, 1);
	arena_fini(&mem);
}

static void test_production_roots_and_registry_down(void **state)
{
	struct kh_cvm a;
	struct kms_client_result r;
	struct arena mem;
	char last[256];

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	cvm_open(&a, "cvm-prod", APP_A, COMPOSE_OK, "6666666666666666666666666666666666666666");
	/* Production configuration: Intel's root only (the simulator's collateral does not even load there). */
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	start_kms_with(g_registry_url, 0, 0);
	assert_int_not_equal(get_keys(&a, &mem, &r), ERR_OK);
	assert_null(r.app_keys);
	assert_int_equal(rejections(last, sizeof(last)), 1);
	assert_string_equal(last, "platform: ERR_ATTEST_ROOT_UNTRUSTED");

	/* Registry unreachable: a port nothing listens on (the registry's, after stopping it). */
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	assert_int_equal(spawn_stop(&g_registry), 0);
	start_kms(g_registry_url, 1);
	assert_int_equal(get_keys(&a, &mem, &r), ERR_UNAVAILABLE);
	assert_int_equal(r.code, RPC_UNAVAILABLE);
	assert_non_null(strstr(r.message, "registry"));
	assert_null(r.app_keys);
	kh_cvm_close(&a);
	arena_fini(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_released_and_stable),
		cmocka_unit_test(test_denied_compose_hash),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_sign_cert_issued),
		cmocka_unit_test(test_sign_cert_app_info),
		cmocka_unit_test(test_sign_cert_refusals),
		cmocka_unit_test(test_collateral_from_attest_service),
		/* Last: it stops the registry. */
		cmocka_unit_test(test_production_roots_and_registry_down),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
