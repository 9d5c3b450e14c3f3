/* SPDX-License-Identifier: Apache-2.0 */
/* A server for transport tests and benchmarks: dstack.test.v1.Bench on lib/rpc, no service logic. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "dstack/test/v1/test.pb-c.h"
#include "log.h"
#include "pbcodec.h"
#include "rpc.h"
#include "rpc_status.h"

struct pending {
	struct rpc_call *call;
	ProtobufCMessage *resp;
	struct event *ev;
};

static void on_sleep_done(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	event_free(p->ev);
	rpc_call_complete(p->call, ERR_OK, p->resp);
	free(p);
}

static int bench_echo(struct rpc_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp_)
{
	const Dstack__Test__V1__EchoRequest *req = (const Dstack__Test__V1__EchoRequest *)req_;
	Dstack__Test__V1__EchoResponse *resp = (void *)pb_new(&dstack__test__v1__echo_response__descriptor,
								rpc_call_arena(call));
	struct event_base *base = rpc_call_ctx(call);

	if (!resp)
		return arena_err(rpc_call_arena(call));
	resp->text = req->text;
	resp->data = req->data;
	if (req->sleep_ms) {
		struct pending *p = calloc(1, sizeof(*p));
		struct timeval tv = { req->sleep_ms / 1000, (req->sleep_ms % 1000) * 1000 };
		if (!p)
			return ERR_NOMEM;
		p->call = call;
		p->resp = &resp->base;
		p->ev = evtimer_new(base, on_sleep_done, p);
		if (!p->ev || evtimer_add(p->ev, &tv)) {
			free(p);
			return ERR_NOMEM;
		}
		return RPC_ASYNC;
	}
	*resp_ = &resp->base;
	return ERR_OK;
}

static int bench_fail(struct rpc_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
	const Dstack__Test__V1__FailRequest *req = (const Dstack__Test__V1__FailRequest *)req_;

	(void)resp;
	if (req->message && *req->message)
		rpc_call_set_detail(call, "%s", req->message);
	if (req->code <= 0 || req->code >= RPC_CODE_COUNT)
		return ERR_INVALID_ARG;
	return rpc_err_from_code((enum rpc_code)req->code);
}

static const struct rpc_method bench_methods[] = {
	{ "Echo", bench_echo, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "Fail", bench_fail, RPC_F_PUBLIC, NULL },
};

static const struct rpc_method guarded_methods[] = {
	{ "PeerEcho", bench_echo, RPC_F_PEER, NULL },
	{ "AttestedEcho", bench_echo, RPC_F_ATTESTED, NULL },
	{ "AdminEcho", bench_echo, RPC_F_ADMIN, NULL },
};

/*
 * A stand-in for RA-TLS in tests: the hook accepts any certificate that
 * chains to the CA and marks it "attested" when its subject contains the
 * configured CN. It exercises the hook and RPC_F_ATTESTED, nothing more.
 */
static err_t test_verify(void *arg, X509 *leaf, STACK_OF(X509) *chain, struct tls_peer *peer)
{
	const char *cn = arg;
	char want[300];

	(void)leaf;
	(void)chain;
	if (!peer->chain_ok)
		return ERR_AUTH_PEER_REJECTED;
	snprintf(want, sizeof(want), "CN=%s", cn);
	peer->attested = strstr(peer->subject, want) != NULL;
	return ERR_OK;
}

static struct rpc_server *g_srv;

static void on_drained(void *arg)
{
	event_base_loopexit(arg, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	rpc_server_shutdown(g_srv, on_drained, arg);
}

static int on_healthz(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
		      struct rpc_http_response *r)
{
	(void)arg;
	(void)call;
	(void)req;
	buf_put_str(&r->body, "ok\n");
	return 0;
}

struct pending_http {
	struct rpc_call *call;
	struct rpc_http_response *resp;
	struct event *ev;
};

static void on_http_later(evutil_socket_t fd, short what, void *arg)
{
	struct pending_http *p = arg;

	(void)fd;
	(void)what;
	buf_put_str(&p->resp->body, " (later)");
	event_free(p->ev);
	rpc_http_complete(p->call);
	free(p);
}

/* GET /echo-query?x: the query back as the body, a header, and "?later" answers asynchronously. */
static int on_echo_query(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
			 struct rpc_http_response *r)
{
	struct timeval tv = { 0, 50000 };
	struct pending_http *p;

	buf_put_str(&r->body, req->query);
	rpc_http_add_header(call, r, "X-Echo-Path", req->path);
	rpc_http_add_header(call, r, "X-Bad", "no\r\nInjected: yes");
	if (strcmp(req->query, "later") != 0)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return 0;
	p->call = call;
	p->resp = r;
	p->ev = evtimer_new(arg, on_http_later, p);
	if (!p->ev || evtimer_add(p->ev, &tv)) {
		free(p);
		return 0;
	}
	return RPC_ASYNC;
}

static int on_metrics(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
		      struct rpc_http_response *r)
{
	(void)call;
	(void)req;
	r->content_type = "text/plain; version=0.0.4";
	metrics_render(arg, &r->body);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },     { "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },    { "client-ca", required_argument, NULL, 'a' },
		{ "require-client-cert", no_argument, NULL, 'r' }, { "ready-file", required_argument, NULL, 'f' },
		{ "max-message-size", required_argument, NULL, 'm' }, { "log-level", required_argument, NULL, 'v' },
		{ "body-timeout-ms", required_argument, NULL, 'b' },
		{ "attested-cn", required_argument, NULL, 'A' }, { "admin-token", required_argument, NULL, 'T' },
		{ "handshake-timeout-ms", required_argument, NULL, 'H' }, { "idle-timeout-ms", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listens[8];
	size_t nlisten = 0;
	struct tls_opts tls = { 0 };
	struct tls_verifier verifier = { 0 };
	const char *ready = NULL, *detail = NULL;
	struct rpc_server_opts so = { .name = "test" };
	struct event_base *base;
	struct metrics *m;
	SSL_CTX *ctx = NULL;
	struct event *sigterm, *sigint;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': if (nlisten < ARRAY_LEN(listens)) listens[nlisten++] = optarg; break;
		case 'c': tls.cert_file = optarg; break;
		case 'k': tls.key_file = optarg; break;
		case 'a': tls.ca_file = optarg; break;
		case 'r': tls.require_peer_cert = 1; break;
		case 'f': ready = optarg; break;
		case 'm': so.max_message_size = strtoul(optarg, NULL, 10); break;
		case 'b': so.body_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'A': verifier.verify = test_verify; verifier.arg = optarg; tls.verifier = &verifier; break;
		case 'T': so.admin_token = optarg; break;
		case 'H': so.handshake_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'I': so.idle_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'v': log_setup("test", (enum log_level)log_level_parse(optarg)); break;
		default: return 2;
		}
	}
	if (!nlisten) {
		fprintf(stderr, "usage: ds_test_server --listen tcp://127.0.0.1:0 [--tls-cert F --tls-key F [--client-ca F] [--require-client-cert]] [--ready-file F]\n");
		return 2;
	}
	/* Connection-count tests open over a thousand sockets: take the whole hard limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	base = event_base_new();
	m = metrics_new();
	so.metrics = m;
	g_srv = rpc_server_new(base, &so);
	if (!base || !m || !g_srv)
		return 1;
	struct rpc_service_def def = { &dstack__test__v1__bench__descriptor, bench_methods, ARRAY_LEN(bench_methods), base };
	struct rpc_service_def gdef = { &dstack__test__v1__guarded__descriptor, guarded_methods,
					ARRAY_LEN(guarded_methods), base };
	if (rpc_server_add_service(g_srv, &def, &detail) || rpc_server_add_service(g_srv, &gdef, &detail) || rpc_server_add_http(g_srv, "/healthz", on_healthz, NULL) ||
	    rpc_server_add_http(g_srv, "/metrics", on_metrics, m) ||
	    rpc_server_add_http(g_srv, "/echo-query", on_echo_query, base)) {
		fprintf(stderr, "register: %s\n", detail ? detail : "?");
		return 1;
	}
	if (tls.cert_file) {
		ctx = tls_server_ctx_new(&tls, &detail);
		if (!ctx) {
			fprintf(stderr, "tls: %s\n", detail);
			return 1;
		}
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready ? ready : "");
	FILE *rf = ready ? fopen(tmp, "w") : NULL;
	for (size_t i = 0; i < nlisten; i++) {
		int tcp = strncmp(listens[i], "tcp://", 6) == 0;
		if (rpc_server_listen(g_srv, listens[i], tcp ? ctx : NULL, 0666, &detail)) {
			fprintf(stderr, "listen %s: %s\n", listens[i], detail ? detail : "?");
			return 1;
		}
		if (rf) {
			if (tcp) {
				char host[64];
				const char *colon = strrchr(listens[i] + 6, ':');
				size_t hl = colon ? (size_t)(colon - (listens[i] + 6)) : 0;
				if (hl >= sizeof(host))
					hl = sizeof(host) - 1;
				memcpy(host, listens[i] + 6, hl);
				host[hl] = 0;
				fprintf(rf, "%s://%s:%d\n", ctx ? "https" : "http", host, rpc_server_bound_port(g_srv, i));
			} else {
				fprintf(rf, "%s\n", listens[i]);
			}
		}
	}
	/* Written whole, then renamed: a reader never sees a partial list. */
	if (rf && (fclose(rf) || rename(tmp, ready)))
		return 1;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	rpc_server_free(g_srv);
	metrics_free(m);
	SSL_CTX_free(ctx);
	event_base_free(base);
	return 0;
}
