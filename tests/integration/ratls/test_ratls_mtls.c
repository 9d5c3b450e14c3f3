/* SPDX-License-Identifier: Apache-2.0 */
/* Mutual RA-TLS on loopback: lib/rpc server + rpc_client with in-memory sim-attested certificates and the ratls handshake hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dstack/test/v1/test.pb-c.h"
#include "enc.h"
#include "pbcodec.h"
#include "ratls_testutil.h"
#include "rpc.h"
#include "rpc_client.h"

#define ATTESTED "/dstack.test.v1.Guarded/AttestedEcho"
#define PEER "/dstack.test.v1.Guarded/PeerEcho"
#define FAR (RT_NOW + 3650 * RT_DAY)   /* OpenSSL checks chains against the real clock */

static uint64_t fixed_clock(void *arg)
{
	(void)arg;
	return RT_NOW;   /* the sim collateral's window; the verifier never reads the wall clock in these tests */
}

/* AttestedEcho: the caller's attested app id, straight from the handshake's verdict. */
static int h_attested(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp_)
{
	const struct ratls_verdict *vd = ratls_peer_verdict(rpc_call_peer(call));
	Dstack__Test__V1__EchoResponse *resp = (void *)pb_new(&dstack__test__v1__echo_response__descriptor,
								rpc_call_arena(call));
	char *hex;

	(void)req;
	if (!resp || !(hex = arena_alloc(rpc_call_arena(call), 41)))
		return ERR_NOMEM;
	if (!vd || !vd->claims.has_app_id)
		return ERR_AUTH_NOT_ATTESTED;
	hex_encode(hex, vd->claims.app_id, 20);
	resp->text = hex;
	*resp_ = &resp->base;
	return ERR_OK;
}

static int h_peer(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp_)
{
	Dstack__Test__V1__EchoResponse *resp = (void *)pb_new(&dstack__test__v1__echo_response__descriptor,
								rpc_call_arena(call));

	(void)req;
	if (!resp)
		return ERR_NOMEM;
	resp->text = UNCONST("peer");
	*resp_ = &resp->base;
	return ERR_OK;
}

static int h_admin(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp_)
{
	return h_peer(call, req, resp_);
}

static const struct rpc_method methods[] = {
	{ "PeerEcho", h_peer, RPC_F_PEER, NULL },
	{ "AttestedEcho", h_attested, RPC_F_ATTESTED, NULL },
	{ "AdminEcho", h_admin, RPC_F_ADMIN, NULL },
};

struct server {
	struct ratls_verifier *v;
	struct tls_verifier hook;
	SSL_CTX *ctx;
	struct rpc_server *srv;
	char url[64];
};

struct fx {
	struct rt_sim s;
	struct event_base *base;
	struct metrics *m;
	EVP_PKEY *root_key, *server_key, *client_key, *other_key;
	X509 *root, *server_cert, *client_cert, *plain_cert, *unbound_cert;
	X509_STORE *trust;          /* the root, for both sides' chain checks */
	struct server req;          /* RATLS_REQUIRED + require_chain */
	struct server opt;          /* RATLS_OPTIONAL */
};

static void start_server(struct fx *f, struct server *s, enum ratls_mode mode)
{
	struct ratls_verifier_config cfg;
	struct rpc_server_opts so = { .name = "ratls-test" };
	struct rpc_service_def def = { &dstack__test__v1__guarded__descriptor, methods, ARRAY_LEN(methods), NULL };
	struct tls_opts t;
	const char *detail = NULL;

	rt_verifier_config(&f->s, &cfg);
	cfg.mode = mode;
	cfg.require_chain = 1;
	cfg.clock = fixed_clock;
	s->v = ratls_verifier_new(&cfg);
	assert_non_null(s->v);
	ratls_tls_verifier(s->v, &s->hook);
	memset(&t, 0, sizeof(t));
	t.cert = f->server_cert;
	t.key = f->server_key;
	t.ca_store = f->trust;
	t.require_peer_cert = 1;
	t.verifier = &s->hook;
	s->ctx = tls_server_ctx_new(&t, &detail);
	if (!s->ctx)
		fail_msg("tls_server_ctx_new: %s", detail);
	so.metrics = f->m;
	s->srv = rpc_server_new(f->base, &so);
	assert_non_null(s->srv);
	assert_int_equal(rpc_server_add_service(s->srv, &def, &detail), ERR_OK);
	assert_int_equal(rpc_server_listen(s->srv, "tcp://127.0.0.1:0", s->ctx, 0, &detail), ERR_OK);
	snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", rpc_server_bound_port(s->srv, 0));
}

static void stop_server(struct server *s)
{
	rpc_server_free(s->srv);
	SSL_CTX_free(s->ctx);
	ratls_verifier_free(s->v);
}

static X509 *issue_plain(struct fx *f, EVP_PKEY *key, const char *cn)
{
	struct ratls_cert_params p;
	X509 *x = NULL;

	memset(&p, 0, sizeof(p));
	p.cn = cn;
	p.not_after = FAR;
	p.client_auth = 1;
	assert_int_equal(ratls_cert_build(&p, key, f->root, f->root_key, &x), ERR_OK);
	return x;
}

static int setup(void **state)
{
	static const char *const san[] = { "127.0.0.1", "localhost" };
	struct fx *f = calloc(1, sizeof(*f));
	struct ratls_cert_params p;
	struct ratls_quote q;
	struct buf_writer w;
	uint8_t rd[64];

	if (!f || rt_sim_init(&f->s, 0x5c) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	f->base = event_base_new();
	f->m = metrics_new();
	f->root_key = ratls_key_new();
	f->server_key = ratls_key_new();
	f->client_key = ratls_key_new();
	f->other_key = ratls_key_new();
	f->trust = X509_STORE_new();
	if (!f->base || !f->m || !f->root_key || !f->server_key || !f->client_key || !f->other_key || !f->trust)
		return -1;
	/* KMS-like PKI: a root CA issues the server's kms:rpc certificate and the clients' certificates */
	memset(&p, 0, sizeof(p));
	p.org = "Dstack";
	p.cn = "Dstack KMS CA";
	p.not_after = FAR;
	p.is_ca = 1;
	p.path_len = 1;
	if (ratls_cert_build(&p, f->root_key, NULL, f->root_key, &f->root) != ERR_OK ||
	    X509_STORE_add_cert(f->trust, f->root) != 1)
		return -1;
	memset(&p, 0, sizeof(p));
	p.cn = "kms.local";
	p.alt_names = san;
	p.n_alt_names = 2;
	p.not_after = FAR;
	p.server_auth = 1;
	p.usage = RATLS_USAGE_KMS_RPC;
	if (ratls_cert_new_attested(&p, f->server_key, rt_sim_quote, &f->s, f->root, f->root_key, &f->server_cert, NULL))
		return -1;
	f->client_cert = rt_attested_cert(&f->s, f->client_key, 0, FAR, NULL, f->root, f->root_key);
	f->plain_cert = issue_plain(f, f->client_key, "plain client");
	/* evidence made for client_key inside a certificate for other_key */
	if (!f->client_cert || ratls_report_data(f->client_key, rd) != ERR_OK || rt_sim_quote(&f->s, rd, &q) != ERR_OK)
		return -1;
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	if (ratls_attestation_from_quote(&q, rd, &w, NULL) != ERR_OK)
		return -1;
	memset(&p, 0, sizeof(p));
	p.cn = "RA-TLS TEMP Cert";
	p.not_after = FAR;
	p.client_auth = 1;
	p.attestation = w.p;
	p.attestation_len = w.len;
	if (ratls_cert_build(&p, f->other_key, f->root, f->root_key, &f->unbound_cert) != ERR_OK)
		return -1;
	buf_writer_free(&w);
	ratls_quote_clear(&q);
	start_server(f, &f->req, RATLS_REQUIRED);
	start_server(f, &f->opt, RATLS_OPTIONAL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stop_server(&f->req);
	stop_server(&f->opt);
	X509_free(f->root);
	X509_free(f->server_cert);
	X509_free(f->client_cert);
	X509_free(f->plain_cert);
	X509_free(f->unbound_cert);
	X509_STORE_free(f->trust);
	EVP_PKEY_free(f->root_key);
	EVP_PKEY_free(f->server_key);
	EVP_PKEY_free(f->client_key);
	EVP_PKEY_free(f->other_key);
	metrics_free(f->m);
	event_base_free(f->base);
	rt_sim_fini(&f->s);
	free(f);
	return 0;
}

struct outcome {
	struct event_base *base;
	err_t err;
	enum rpc_code code;
	char text[64];
	char message[256];
};

static void on_result(void *arg, const struct rpc_result *res)
{
	struct outcome *o = arg;

	o->err = res->err;
	o->code = res->code;
	snprintf(o->message, sizeof(o->message), "%s", res->message ? res->message : "");
	if (res->err == ERR_OK)
		snprintf(o->text, sizeof(o->text), "%s", ((Dstack__Test__V1__EchoResponse *)res->resp)->text);
	event_base_loopexit(o->base, NULL);
}

/*
 * One call from a client presenting `cert` (in memory), trusting the root
 * (in memory) and checking the server's attestation with its own verifier.
 */
static struct outcome call(struct fx *f, const struct server *s, const char *path, X509 *cert, EVP_PKEY *key,
			   struct ratls_verifier *client_v)
{
	struct outcome o = { .base = f->base, .err = ERR_INTERNAL };
	struct rpc_client_opts co = { .base_url = s->url, .wire = RPC_WIRE_GRPC, .timeout_ms = 10000 };
	struct tls_verifier hook;
	Dstack__Test__V1__EchoRequest req;
	struct rpc_client *c;

	co.tls.cert = cert;
	co.tls.key = key;
	co.tls.ca_store = f->trust;
	if (client_v) {
		ratls_tls_verifier(client_v, &hook);
		co.tls.verifier = &hook;
	}
	c = rpc_client_new(f->base, &co);
	assert_non_null(c);
	dstack__test__v1__echo_request__init(&req);
	req.text = UNCONST("hi");
	assert_int_equal(rpc_client_call(c, path, &req.base, &dstack__test__v1__echo_response__descriptor, NULL,
					 on_result, &o),
			 ERR_OK);
	event_base_dispatch(f->base);
	rpc_client_free(c);
	return o;
}

/*
 * In TLS 1.3 the client finishes its handshake before the server has judged
 * the client certificate: the server's alert then ends the connection, which
 * the client sees as a TLS failure or a closed connection. Either way no
 * request got through.
 */
static int server_refused(const struct outcome *o)
{
	return (o->err == ERR_IO_TLS || o->err == ERR_IO_CLOSED) && o->code == RPC_UNAVAILABLE;
}

static struct ratls_verifier *client_verifier(struct fx *f, const uint8_t (*app)[20])
{
	static const char *const usages[] = { RATLS_USAGE_KMS_RPC };
	struct ratls_verifier_config cfg;

	rt_verifier_config(&f->s, &cfg);
	cfg.clock = fixed_clock;
	cfg.require_chain = 1;
	cfg.policy.usages = usages;   /* the guest's rule: the server must be the KMS RPC endpoint */
	cfg.policy.n_usages = 1;
	if (app) {
		cfg.policy.app_ids = app;
		cfg.policy.n_app_ids = 1;
	}
	return ratls_verifier_new(&cfg);
}

static void test_mutual_ratls_accepted(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *cv = client_verifier(f, NULL);
	struct ratls_stats st;
	struct outcome o;
	char want[41];

	hex_encode(want, f->s.app_id, 20);
	o = call(f, &f->req, ATTESTED, f->client_cert, f->client_key, cv);
	if (o.err != ERR_OK)
		fail_msg("call: %s %s", err_name(o.err), o.message);
	assert_string_equal(o.text, want);   /* RPC_F_ATTESTED passed and the handler read the claims */
	/* the client checked the server's evidence in its handshake */
	ratls_verifier_stats(cv, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.platform_checks, 1);
	/* a second connection with the same certificate: a cache hit on both sides */
	o = call(f, &f->req, ATTESTED, f->client_cert, f->client_key, cv);
	assert_int_equal(o.err, ERR_OK);
	ratls_verifier_stats(f->req.v, &st);
	assert_true(st.cache_hits >= 1);
	assert_int_equal(st.platform_checks, 1);
	ratls_verifier_stats(cv, &st);
	assert_int_equal(st.cache_hits, 1);
	/* PEER methods accept an attested peer too */
	o = call(f, &f->req, PEER, f->client_cert, f->client_key, cv);
	assert_int_equal(o.err, ERR_OK);
	assert_string_equal(o.text, "peer");
	ratls_verifier_free(cv);
}

static void test_required_rejects_plain_and_unbound(void **state)
{
	struct fx *f = *state;
	struct ratls_stats st;
	struct outcome o;

	/* a plain client certificate from the same CA: the handshake fails, and the server says why */
	o = call(f, &f->req, PEER, f->plain_cert, f->client_key, NULL);
	assert_true(server_refused(&o));
	ratls_verifier_stats(f->req.v, &st);
	assert_int_equal(st.last_err, ERR_RATLS_NO_EVIDENCE);
	assert_int_equal(st.last_step, RATLS_STEP_EVIDENCE);
	/* evidence that binds another key */
	o = call(f, &f->req, ATTESTED, f->unbound_cert, f->other_key, NULL);
	assert_true(server_refused(&o));
	ratls_verifier_stats(f->req.v, &st);
	assert_int_equal(st.last_err, ERR_RATLS_BINDING);
	/* no client certificate at all */
	o = call(f, &f->req, PEER, NULL, NULL, NULL);
	assert_int_not_equal(o.err, ERR_OK);
}

static void test_optional_mode(void **state)
{
	struct fx *f = *state;
	struct outcome o;
	char want[41];

	/* a plain certificate is a PEER but not ATTESTED */
	o = call(f, &f->opt, PEER, f->plain_cert, f->client_key, NULL);
	assert_int_equal(o.err, ERR_OK);
	assert_string_equal(o.text, "peer");
	o = call(f, &f->opt, ATTESTED, f->plain_cert, f->client_key, NULL);
	assert_int_equal(o.code, RPC_PERMISSION_DENIED);
	assert_non_null(strstr(o.message, "attested"));
	/* evidence that is there must verify, even when optional */
	o = call(f, &f->opt, PEER, f->unbound_cert, f->other_key, NULL);
	assert_true(server_refused(&o));
	/* and an attested client is ATTESTED */
	hex_encode(want, f->s.app_id, 20);
	o = call(f, &f->opt, ATTESTED, f->client_cert, f->client_key, NULL);
	assert_int_equal(o.err, ERR_OK);
	assert_string_equal(o.text, want);
}

static void test_client_rejects_server(void **state)
{
	static const uint8_t other[1][20] = { { 1, 2, 3 } };
	struct fx *f = *state;
	struct ratls_verifier *cv = client_verifier(f, other);
	struct ratls_stats st;
	struct outcome o;

	/* the guest only talks to a KMS whose attested app id it expects */
	o = call(f, &f->req, ATTESTED, f->client_cert, f->client_key, cv);
	assert_int_equal(o.err, ERR_IO_TLS);
	ratls_verifier_stats(cv, &st);
	assert_int_equal(st.last_err, ERR_RATLS_POLICY);
	ratls_verifier_free(cv);
}

/* lib/rpc's in-memory credentials refuse half or conflicting settings. */
static void test_tls_opts_memory(void **state)
{
	struct fx *f = *state;
	struct tls_opts t;
	struct rpc_client_opts co = { .base_url = f->req.url, .wire = RPC_WIRE_GRPC };
	const char *detail = NULL;

	memset(&t, 0, sizeof(t));
	t.cert = f->server_cert;
	t.key = f->client_key;   /* not the certificate's key */
	assert_null(tls_server_ctx_new(&t, &detail));
	assert_non_null(strstr(detail, "does not match"));
	t.key = NULL;
	assert_null(tls_server_ctx_new(&t, &detail));
	t.key = f->server_key;
	t.ca_store = f->trust;
	t.ca_file = "/nonexistent";
	assert_null(tls_server_ctx_new(&t, &detail));
	assert_non_null(strstr(detail, "not both"));
	co.tls.cert = f->client_cert;   /* a certificate without its key */
	assert_null(rpc_client_new(f->base, &co));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_ratls_accepted),
		cmocka_unit_test(test_required_rejects_plain_and_unbound),
		cmocka_unit_test(test_optional_mode),
		cmocka_unit_test(test_client_rejects_server),
		cmocka_unit_test(test_tls_opts_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
