/* SPDX-License-Identifier: Apache-2.0 */
/* rpc_client over gRPC (h2c, unix socket, TLS with client certificates) against our own server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "dstack/test/v1/test.pb-c.h"
#include "rpc_client.h"
#include "fixture_server.h"

#define ECHO "/dstack.test.v1.Bench/Echo"
#define FAIL "/dstack.test.v1.Bench/Fail"

struct fixture {
	char dir[64];
	struct spawned plain;   /* tcp h2c + unix */
	struct spawned tls;     /* TLS with required client certificates */
	struct spawned guard;   /* TLS, optional client certificates, a test verifier hook and an admin token */
	char unix_url[300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *bin = getenv("DS_TEST_SERVER");
	char sock[200], cert[200], key[200], ca[200];

	if (!f || !bin)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ds-grpcc-XXXXXX");
	if (!mkdtemp(f->dir) || make_test_pki(f->dir))
		return -1;
	snprintf(sock, sizeof(sock), "unix://%s/s.sock", f->dir);
	char *pargs[] = { UNCONST(bin), UNCONST("--listen"), UNCONST("tcp://127.0.0.1:0"), UNCONST("--listen"), sock, NULL };
	char pdir[128], tdir[128];
	snprintf(pdir, sizeof(pdir), "%s/p", f->dir);
	snprintf(tdir, sizeof(tdir), "%s/t", f->dir);
	if (mkdir(pdir, 0700) || mkdir(tdir, 0700) || spawn_server(&f->plain, pdir, pargs))
		return -1;
	snprintf(f->unix_url, sizeof(f->unix_url), "%s", f->plain.lines[1]);
	snprintf(cert, sizeof(cert), "%s/server.pem", f->dir);
	snprintf(key, sizeof(key), "%s/server.key", f->dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	char *targs[] = { UNCONST(bin), UNCONST("--listen"), UNCONST("tcp://127.0.0.1:0"), UNCONST("--tls-cert"), cert,
			  UNCONST("--tls-key"), key, UNCONST("--client-ca"), ca, UNCONST("--require-client-cert"), NULL };
	if (spawn_server(&f->tls, tdir, targs))
		return -1;
	char gdir[128];
	snprintf(gdir, sizeof(gdir), "%s/g", f->dir);
	char *gargs[] = { UNCONST(bin), UNCONST("--listen"), UNCONST("tcp://127.0.0.1:0"), UNCONST("--tls-cert"), cert,
			  UNCONST("--tls-key"), key, UNCONST("--client-ca"), ca, UNCONST("--attested-cn"), UNCONST("client"),
			  UNCONST("--admin-token"), UNCONST("s3cret-admin-token"), NULL };
	if (mkdir(gdir, 0700) || spawn_server(&f->guard, gdir, gargs))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	assert_int_equal(spawn_stop(&f->plain), 0);
	assert_int_equal(spawn_stop(&f->tls), 0);
	assert_int_equal(spawn_stop(&f->guard), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static err_t echo(const struct rpc_client_opts *o, const char *text, uint32_t sleep_ms, const struct rpc_call_opts *co,
		  struct arena *a, struct rpc_result *res)
{
	Dstack__Test__V1__EchoRequest req;

	dstack__test__v1__echo_request__init(&req);
	req.text = UNCONST(text);
	req.sleep_ms = sleep_ms;
	return rpc_call_sync(o, ECHO, &req.base, &dstack__test__v1__echo_response__descriptor, co, a, res);
}

static void test_grpc_echo_h2c_and_unix(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { .base_url = f->plain.lines[0], .wire = RPC_WIRE_GRPC };
	struct rpc_result res;
	struct arena a;

	arena_init(&a, 1u << 20, 4096);
	assert_int_equal(echo(&o, "over h2c", 0, NULL, &a, &res), ERR_OK);
	assert_int_equal(res.code, RPC_OK);
	assert_string_equal(((Dstack__Test__V1__EchoResponse *)res.resp)->text, "over h2c");
	o.base_url = f->unix_url;
	assert_int_equal(echo(&o, "over unix", 0, NULL, &a, &res), ERR_OK);
	assert_string_equal(((Dstack__Test__V1__EchoResponse *)res.resp)->text, "over unix");
	/* The same server speaks Connect on the same port. */
	o.base_url = f->plain.lines[0];
	o.wire = RPC_WIRE_CONNECT_JSON;
	assert_int_equal(echo(&o, "over connect", 0, NULL, &a, &res), ERR_OK);
	assert_string_equal(((Dstack__Test__V1__EchoResponse *)res.resp)->text, "over connect");
	arena_fini(&a);
}

static void test_grpc_status_codes(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { .base_url = f->plain.lines[0], .wire = RPC_WIRE_GRPC };
	static const int codes[] = { RPC_NOT_FOUND, RPC_PERMISSION_DENIED, RPC_UNAVAILABLE, RPC_INVALID_ARGUMENT };
	Dstack__Test__V1__FailRequest req;
	struct rpc_result res;
	struct arena a;

	arena_init(&a, 1u << 20, 4096);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		dstack__test__v1__fail_request__init(&req);
		req.code = codes[i];
		req.message = UNCONST("refused: 100% sure");
		assert_int_not_equal(rpc_call_sync(&o, FAIL, &req.base, &dstack__test__v1__echo_response__descriptor, NULL,
						   &a, &res), ERR_OK);
		assert_int_equal(res.code, codes[i]);
		/* grpc-message is percent-encoded on the wire and decoded by the client. */
		assert_string_equal(res.message, "refused: 100% sure");
	}
	/* A method the server does not have. */
	dstack__test__v1__fail_request__init(&req);
	assert_int_not_equal(rpc_call_sync(&o, "/dstack.test.v1.Bench/Nope", &req.base,
					   &dstack__test__v1__echo_response__descriptor, NULL, &a, &res), ERR_OK);
	assert_int_equal(res.code, RPC_UNIMPLEMENTED);
	arena_fini(&a);
}

static void test_grpc_deadline(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { .base_url = f->plain.lines[0], .wire = RPC_WIRE_GRPC };
	struct rpc_call_opts co = { .timeout_ms = 200 };
	struct rpc_result res;
	struct arena a;

	arena_init(&a, 1u << 20, 4096);
	assert_int_equal(echo(&o, "slow", 3000, &co, &a, &res), ERR_DEADLINE);
	assert_int_equal(res.code, RPC_DEADLINE_EXCEEDED);
	/* The server answered the deadline itself and keeps serving. */
	assert_int_equal(echo(&o, "after", 0, NULL, &a, &res), ERR_OK);
	arena_fini(&a);
}

static void test_grpc_tls_client_certs(void **state)
{
	struct fixture *f = *state;
	char ca[128], cert[128], key[128], other[128], okey[128];
	struct rpc_client_opts o = { .base_url = f->tls.lines[0], .wire = RPC_WIRE_GRPC };
	struct rpc_result res;
	struct arena a;

	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", f->dir);
	snprintf(key, sizeof(key), "%s/client.key", f->dir);
	snprintf(other, sizeof(other), "%s/other.pem", f->dir);
	snprintf(okey, sizeof(okey), "%s/other.key", f->dir);
	assert_true(strncmp(f->tls.lines[0], "https://", 8) == 0);
	arena_init(&a, 1u << 20, 4096);
	o.tls.ca_file = ca;
	o.tls.cert_file = cert;
	o.tls.key_file = key;
	assert_int_equal(echo(&o, "mutual", 0, NULL, &a, &res), ERR_OK);
	assert_string_equal(((Dstack__Test__V1__EchoResponse *)res.resp)->text, "mutual");
	/* Connect over HTTP/1.1 through the same TLS listener (ALPN http/1.1). */
	o.wire = RPC_WIRE_CONNECT_PROTO;
	assert_int_equal(echo(&o, "mutual h1", 0, NULL, &a, &res), ERR_OK);
	o.wire = RPC_WIRE_GRPC;
	/* No client certificate: the handshake is refused. */
	o.tls.cert_file = o.tls.key_file = NULL;
	assert_int_not_equal(echo(&o, "anonymous", 0, NULL, &a, &res), ERR_OK);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
	/* A certificate from another CA: refused too. */
	o.tls.cert_file = other;
	o.tls.key_file = okey;
	assert_int_not_equal(echo(&o, "stranger", 0, NULL, &a, &res), ERR_OK);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
	/* The client refuses a server its CA did not sign. */
	o.tls.cert_file = cert;
	o.tls.key_file = key;
	snprintf(ca, sizeof(ca), "%s/other-ca.pem", f->dir);
	assert_int_not_equal(echo(&o, "wrong ca", 0, NULL, &a, &res), ERR_OK);
	arena_fini(&a);
}

static enum rpc_code guarded(const struct rpc_client_opts *o, const char *method)
{
	char path[96];
	Dstack__Test__V1__EchoRequest req;
	struct rpc_result res;
	struct arena a;
	enum rpc_code code;

	snprintf(path, sizeof(path), "/dstack.test.v1.Guarded/%s", method);
	dstack__test__v1__echo_request__init(&req);
	req.text = UNCONST("guarded");
	arena_init(&a, 1u << 20, 4096);
	err_t err = rpc_call_sync(o, path, &req.base, &dstack__test__v1__echo_response__descriptor, NULL, &a, &res);
	code = res.code;
	assert_true((err == ERR_OK) == (code == RPC_OK));
	if (code == RPC_OK)
		assert_string_equal(((Dstack__Test__V1__EchoResponse *)res.resp)->text, "guarded");
	arena_fini(&a);
	return code;
}

static void test_access_flags(void **state)
{
	struct fixture *f = *state;
	char ca[128], cert[128], key[128], p2[128], p2key[128], other[128], okey[128];
	struct rpc_client_opts o = { .base_url = f->guard.lines[0], .wire = RPC_WIRE_GRPC };

	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", f->dir);
	snprintf(key, sizeof(key), "%s/client.key", f->dir);
	snprintf(p2, sizeof(p2), "%s/peer2.pem", f->dir);
	snprintf(p2key, sizeof(p2key), "%s/peer2.key", f->dir);
	snprintf(other, sizeof(other), "%s/other.pem", f->dir);
	snprintf(okey, sizeof(okey), "%s/other.key", f->dir);
	o.tls.ca_file = ca;

	/* No client certificate: the TLS connection works, the guarded methods do not. */
	assert_int_equal(guarded(&o, "PeerEcho"), RPC_UNAUTHENTICATED);
	assert_int_equal(guarded(&o, "AttestedEcho"), RPC_UNAUTHENTICATED);
	assert_int_equal(guarded(&o, "AdminEcho"), RPC_UNAUTHENTICATED);
	o.bearer_token = "wrong-token-wrong-token";
	assert_int_equal(guarded(&o, "AdminEcho"), RPC_PERMISSION_DENIED);
	o.bearer_token = "s3cret-admin-token";
	assert_int_equal(guarded(&o, "AdminEcho"), RPC_OK);
	/* The token is for admin methods only; it does not make a peer. */
	assert_int_equal(guarded(&o, "PeerEcho"), RPC_UNAUTHENTICATED);
	o.bearer_token = NULL;

	/* CN=client: chains to the CA and the hook marks it attested. */
	o.tls.cert_file = cert;
	o.tls.key_file = key;
	assert_int_equal(guarded(&o, "PeerEcho"), RPC_OK);
	assert_int_equal(guarded(&o, "AttestedEcho"), RPC_OK);
	assert_int_equal(guarded(&o, "AdminEcho"), RPC_UNAUTHENTICATED);

	/* CN=peer2: a valid peer, but the hook does not vouch for it. */
	o.tls.cert_file = p2;
	o.tls.key_file = p2key;
	assert_int_equal(guarded(&o, "PeerEcho"), RPC_OK);
	assert_int_equal(guarded(&o, "AttestedEcho"), RPC_PERMISSION_DENIED);

	/* Another CA: the hook refuses the handshake itself. */
	o.tls.cert_file = other;
	o.tls.key_file = okey;
	assert_int_equal(guarded(&o, "PeerEcho"), RPC_UNAVAILABLE);

	/* Cleartext: no peer over TCP; a unix-socket peer with our uid is an admin. */
	struct rpc_client_opts u = { .base_url = f->plain.lines[0], .wire = RPC_WIRE_GRPC };
	assert_int_equal(guarded(&u, "AdminEcho"), RPC_UNAUTHENTICATED);
	assert_int_equal(guarded(&u, "PeerEcho"), RPC_UNAUTHENTICATED);
	u.base_url = f->unix_url;
	assert_int_equal(guarded(&u, "AdminEcho"), RPC_OK);
	assert_int_equal(guarded(&u, "AttestedEcho"), RPC_UNAUTHENTICATED);
}

struct many {
	int done, ok;
	struct event_base *base;
};

static void on_done(void *arg, const struct rpc_result *res)
{
	struct many *m = arg;

	m->done++;
	if (res->err == ERR_OK && strcmp(((Dstack__Test__V1__EchoResponse *)res->resp)->text, "n") == 0)
		m->ok++;
	if (m->done == 100)
		event_base_loopexit(m->base, NULL);
}

static void test_grpc_async_many(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { .base_url = f->plain.lines[0], .wire = RPC_WIRE_GRPC };
	struct many m = { 0 };
	struct rpc_client *c;
	Dstack__Test__V1__EchoRequest req;

	m.base = event_base_new();
	c = rpc_client_new(m.base, &o);
	assert_non_null(c);
	dstack__test__v1__echo_request__init(&req);
	req.text = UNCONST("n");
	for (int i = 0; i < 100; i++)
		assert_int_equal(rpc_client_call(c, ECHO, &req.base, &dstack__test__v1__echo_response__descriptor, NULL,
						 on_done, &m), ERR_OK);
	event_base_dispatch(m.base);
	assert_int_equal(m.done, 100);
	assert_int_equal(m.ok, 100);
	rpc_client_free(c);
	event_base_free(m.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grpc_echo_h2c_and_unix),
		cmocka_unit_test(test_grpc_status_codes),
		cmocka_unit_test(test_grpc_deadline),
		cmocka_unit_test(test_grpc_tls_client_certs),
		cmocka_unit_test(test_grpc_async_many),
		cmocka_unit_test(test_access_flags),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
