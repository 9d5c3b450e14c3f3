/* SPDX-License-Identifier: Apache-2.0 */
/* rpc_client over Connect/HTTP/1.1 against a tiny scripted in-test server on loopback (TCP and unix socket). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "dstack/test/v1/test.pb-c.h"
#include "arena.h"
#include "pbcodec.h"
#include "pbjson.h"
#include "rpc_client.h"

#define ECHO_PATH "/dstack.test.v1.Bench/Echo"
#define REQ_MAX (1u << 20)

/* ---- the scripted server ---- */

/* One canned answer; when the script is used up the server echoes. */
struct canned {
	int status;
	const char *ctype;   /* NULL: no content-type header */
	const char *body;    /* NULL with fill > 0: fill bytes of 'x' */
	size_t fill;
};

struct srv {
	int lfd;
	int stop[2];
	pthread_t th;
	int port;
	char unix_path[108];
	char url[160];

	pthread_mutex_t mu;
	struct canned script[8];
	size_t nscript, pos;
	int sticky;             /* keep answering with the last entry */
	unsigned requests;
	char last_head[4096];
	pthread_t conn_th[64];  /* one thread per connection, so a sleeping request blocks no other */
	size_t nconn;
};

struct conn {
	struct srv *s;
	int fd;
};

/* Wait for fd to be readable; 0 on timeout or once the stop pipe was written (it is never drained). */
static int srv_wait(struct srv *s, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };

	if (poll(p, 2, ms) <= 0 || (p[1].revents & POLLIN))
		return 0;
	return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

static void srv_sleep(struct srv *s, int ms)
{
	struct pollfd p = { .fd = s->stop[0], .events = POLLIN };

	(void)poll(&p, 1, ms);
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;   /* the client gave up (deadline, size cap): fine */
		b += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *ctype, const void *body, size_t len)
{
	char head[256];
	int n;

	if (ctype)
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			     status, ctype, len);
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			     status, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static size_t header_content_length(const char *head, size_t n)
{
	static const char key[] = "\r\ncontent-length:";

	for (size_t i = 0; i + sizeof(key) - 1 < n; i++)
		if (strncasecmp(head + i, key, sizeof(key) - 1) == 0)
			return strtoul(head + i + sizeof(key) - 1, NULL, 10);
	return 0;
}

static void echo(struct srv *s, int fd, const char *head, const uint8_t *body, size_t len)
{
	int json = strcasestr(head, "content-type: application/json") != NULL;
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	struct arena a;
	ProtobufCMessage *m = NULL;
	Dstack__Test__V1__EchoRequest *rq;
	Dstack__Test__V1__EchoResponse rs;
	struct buf_writer w;
	err_t e;

	dstack__test__v1__echo_response__init(&rs);
	arena_init(&a, 8u << 20, 0);
	buf_writer_init(&w, 8u << 20);
	if (json)
		e = pbjson_decode(&dstack__test__v1__echo_request__descriptor, (const char *)body, len, &jo, &a, &m,
				  NULL);
	else
		e = pb_decode(&dstack__test__v1__echo_request__descriptor, body, len, REQ_MAX, &a, &m);
	if (e != ERR_OK) {
		static const char bad[] = "{\"code\":\"invalid_argument\",\"message\":\"test server: bad request\"}";
		respond(fd, 400, "application/json", bad, sizeof(bad) - 1);
		goto out;
	}
	rq = (Dstack__Test__V1__EchoRequest *)m;
	if (rq->sleep_ms)
		srv_sleep(s, (int)rq->sleep_ms);
	rs.text = rq->text;
	rs.data = rq->data;
	e = json ? pbjson_encode(&rs.base, &jo, &w) : pb_encode(&rs.base, &w);
	if (e == ERR_OK)
		respond(fd, 200, json ? "application/json" : "application/proto", w.p ? w.p : (const uint8_t *)"",
			w.len);
out:
	buf_writer_free(&w);
	arena_fini(&a);
}

static void serve_one(struct srv *s, int fd)
{
	char *buf = malloc(REQ_MAX);
	size_t len = 0, head_end = 0, need = 0;
	struct canned cn = { 0 };
	int scripted = 0;

	if (!buf)
		return;
	for (;;) {
		ssize_t r;
		if (!srv_wait(s, fd, 5000))
			goto out;
		r = recv(fd, buf + len, REQ_MAX - 1 - len, 0);
		if (r <= 0)
			goto out;
		len += (size_t)r;
		buf[len] = 0;
		if (!head_end) {
			char *e = strstr(buf, "\r\n\r\n");
			if (!e)
				continue;
			head_end = (size_t)(e - buf) + 4;
			need = head_end + header_content_length(buf, head_end);
		}
		if (len >= need)
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->requests++;
	memcpy(s->last_head, buf, MIN(head_end, sizeof(s->last_head) - 1));
	s->last_head[MIN(head_end, sizeof(s->last_head) - 1)] = 0;
	if (s->pos < s->nscript) {
		cn = s->script[s->pos];
		scripted = 1;
		if (s->pos + 1 < s->nscript || !s->sticky)
			s->pos++;
	}
	pthread_mutex_unlock(&s->mu);

	if (!scripted) {
		buf[head_end - 1] = 0;   /* the head as a C string, for header lookups */
		echo(s, fd, buf, (const uint8_t *)buf + head_end, need - head_end);
	} else if (cn.body) {
		respond(fd, cn.status, cn.ctype, cn.body, strlen(cn.body));
	} else {
		char *fill = malloc(cn.fill);
		if (fill) {
			memset(fill, 'x', cn.fill);
			respond(fd, cn.status, cn.ctype, fill, cn.fill);
			free(fill);
		}
	}
out:
	free(buf);
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;

	serve_one(cn->s, cn->fd);
	close(cn->fd);
	free(cn);
	return NULL;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (srv_wait(s, s->lfd, -1)) {
		struct conn *cn;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		cn = malloc(sizeof(*cn));
		if (!cn || s->nconn == ARRAY_LEN(s->conn_th)) {
			free(cn);
			close(fd);
			continue;
		}
		cn->s = s;
		cn->fd = fd;
		if (pthread_create(&s->conn_th[s->nconn], NULL, conn_main, cn) != 0) {
			free(cn);
			close(fd);
			continue;
		}
		s->nconn++;
	}
	return NULL;
}

static struct srv *srv_start(int unix_sock)
{
	struct srv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(pipe(s->stop), 0);
	pthread_mutex_init(&s->mu, NULL);
	if (unix_sock) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(s->unix_path, sizeof(s->unix_path), "/tmp/ds_test_rpc_client.%d.sock", (int)getpid());
		unlink(s->unix_path);
		memcpy(sa.sun_path, s->unix_path, strlen(s->unix_path) + 1);
		s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(s->lfd >= 0);
		assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		snprintf(s->url, sizeof(s->url), "unix://%s", s->unix_path);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		s->lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(s->lfd >= 0);
		assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
		s->port = ntohs(sa.sin_port);
		/* A trailing slash must not produce "//" in the request path. */
		snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/", s->port);
	}
	assert_int_equal(listen(s->lfd, 64), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return s;
}

static void srv_stop(struct srv *s)
{
	ssize_t w = write(s->stop[1], "x", 1);

	(void)w;
	pthread_join(s->th, NULL);
	for (size_t i = 0; i < s->nconn; i++)
		pthread_join(s->conn_th[i], NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	if (s->unix_path[0])
		unlink(s->unix_path);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void srv_script(struct srv *s, const struct canned *c, size_t n, int sticky)
{
	pthread_mutex_lock(&s->mu);
	memcpy(s->script, c, n * sizeof(*c));
	s->nscript = n;
	s->pos = 0;
	s->sticky = sticky;
	pthread_mutex_unlock(&s->mu);
}

static unsigned srv_requests(struct srv *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- helpers ---- */

struct fx {
	struct srv *s;
	struct arena a;
	struct rpc_client_opts o;
};

static int setup_tcp(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->s = srv_start(0);
	arena_init(&f->a, 16u << 20, 0);
	f->o.base_url = f->s->url;
	f->o.wire = RPC_WIRE_CONNECT_PROTO;
	f->o.timeout_ms = 5000;
	f->o.retry_backoff_ms = 5;
	*state = f;
	return 0;
}

static int setup_unix(void **state)
{
	struct fx *f;

	setup_tcp(state);
	f = *state;
	srv_stop(f->s);
	f->s = srv_start(1);
	f->o.base_url = f->s->url;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	srv_stop(f->s);
	arena_fini(&f->a);
	free(f);
	return 0;
}

static err_t echo_sync(struct fx *f, const char *text, const void *data, size_t n, uint32_t sleep_ms,
		       const struct rpc_call_opts *co, struct rpc_result *res)
{
	Dstack__Test__V1__EchoRequest rq;

	dstack__test__v1__echo_request__init(&rq);
	rq.text = (char *)(uintptr_t)text;
	rq.data.data = (uint8_t *)(uintptr_t)data;
	rq.data.len = n;
	rq.sleep_ms = sleep_ms;
	return rpc_call_sync(&f->o, ECHO_PATH, &rq.base, &dstack__test__v1__echo_response__descriptor, co, &f->a,
			     res);
}

static const char *last_head(struct fx *f)
{
	return f->s->last_head;   /* the server thread is idle between calls */
}

/* ---- success ---- */

static void test_proto_echo(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const Dstack__Test__V1__EchoResponse *rs;

	f->o.bearer_token = "tok-123";
	assert_int_equal(echo_sync(f, "héllo", "\x00\x01\x02", 3, 0, NULL, &res), ERR_OK);
	assert_int_equal(res.code, RPC_OK);
	assert_int_equal(res.attempts, 1);
	rs = (const Dstack__Test__V1__EchoResponse *)res.resp;
	assert_non_null(rs);
	assert_string_equal(rs->text, "héllo");
	assert_int_equal(rs->data.len, 3);
	assert_memory_equal(rs->data.data, "\x00\x01\x02", 3);
	/* The response lives in the caller's arena. */
	assert_true(f->a.used > 0);

	assert_non_null(strstr(last_head(f), "POST " ECHO_PATH " HTTP/1.1\r\n"));
	assert_non_null(strcasestr(last_head(f), "\r\ncontent-type: application/proto\r\n"));
	assert_non_null(strcasestr(last_head(f), "\r\nconnect-protocol-version: 1\r\n"));
	assert_non_null(strcasestr(last_head(f), "\r\nconnect-timeout-ms: "));
	assert_non_null(strcasestr(last_head(f), "\r\nauthorization: Bearer tok-123\r\n"));
	assert_null(strcasestr(last_head(f), "\r\nexpect:"));
}

static void test_json_echo(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const Dstack__Test__V1__EchoResponse *rs;

	f->o.wire = RPC_WIRE_CONNECT_JSON;
	assert_int_equal(echo_sync(f, "json \"quoted\"", "\xff\xfe", 2, 0, NULL, &res), ERR_OK);
	rs = (const Dstack__Test__V1__EchoResponse *)res.resp;
	assert_non_null(rs);
	assert_string_equal(rs->text, "json \"quoted\"");
	assert_int_equal(rs->data.len, 2);
	assert_memory_equal(rs->data.data, "\xff\xfe", 2);
	assert_non_null(strcasestr(last_head(f), "\r\ncontent-type: application/json\r\n"));
}

static void test_unix_socket(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;

	assert_int_equal(echo_sync(f, "over unix", NULL, 0, 0, NULL, &res), ERR_OK);
	assert_string_equal(((const Dstack__Test__V1__EchoResponse *)res.resp)->text, "over unix");
	assert_non_null(strstr(last_head(f), "POST " ECHO_PATH " HTTP/1.1\r\n"));
}

/* ---- Connect errors ---- */

static void test_error_json(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const struct canned c[] = {
		{ 404, "application/json",
		  "{\"code\":\"not_found\",\"message\":\"no such app\",\"details\":[{\"type\":\"x\",\"value\":\"AA\"}]}", 0 },
	};

	srv_script(f->s, c, 1, 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_NOT_FOUND);
	assert_int_equal(res.code, RPC_NOT_FOUND);
	assert_string_equal(res.message, "no such app");
	assert_null(res.resp);
}

static void test_error_code_beats_status(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	/* Connect clients trust the code in the body over the HTTP status. */
	const struct canned c[] = {
		{ 500, "application/json", "{\"code\":\"permission_denied\",\"message\":\"nope\"}", 0 },
	};

	srv_script(f->s, c, 1, 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_POLICY_DENIED);
	assert_int_equal(res.code, RPC_PERMISSION_DENIED);
	assert_string_equal(res.message, "nope");
}

static void test_error_malformed_json(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const struct canned c[] = {
		{ 500, "application/json", "{\"code\": not json", 0 },
		{ 401, "text/html", "<html>login</html>", 0 },
		{ 404, "application/json", "{\"code\":\"bogus\",\"message\":\"kept\"}", 0 },
		{ 429, NULL, "", 0 },
		{ 503, "application/json", "{\"code\":\"ok\"}", 0 },
	};

	srv_script(f->s, c, ARRAY_LEN(c), 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_INTERNAL);
	assert_int_equal(res.code, RPC_UNKNOWN);
	assert_string_equal(res.message, "HTTP status 500");

	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_AUTH_UNAUTHENTICATED);
	assert_int_equal(res.code, RPC_UNAUTHENTICATED);

	/* An unknown code name falls back to the status; the message is still useful. */
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_UNIMPLEMENTED);
	assert_int_equal(res.code, RPC_UNIMPLEMENTED);
	assert_string_equal(res.message, "kept");

	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.code, RPC_UNAVAILABLE);

	/* "ok" is never an error code. */
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
}

static void test_error_body_oversized(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	/* A huge error page (a proxy's) is drained, not a size failure: the status still counts. */
	const struct canned c[] = { { 503, "text/html", NULL, 300u << 10 } };

	srv_script(f->s, c, 1, 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
}

/* ---- malformed success responses ---- */

static void test_bad_success_bodies(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const struct canned c[] = {
		{ 200, "text/plain", "hi", 0 },
		{ 200, "application/proto", "\xff\xff\xff", 0 },
		{ 200, NULL, "", 0 },
	};

	srv_script(f->s, c, ARRAY_LEN(c), 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_PROTO_CONTENT_TYPE);
	assert_int_equal(res.code, RPC_INTERNAL);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_PROTO_PROTOBUF);
	assert_int_equal(res.code, RPC_INTERNAL);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_PROTO_CONTENT_TYPE);
}

static void test_json_bad_success_body(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	const struct canned c[] = {
		{ 200, "application/json", "{\"text\": 5}", 0 },
		{ 200, "application/json; charset=utf-8", "{\"text\":\"ok\",\"unknownField\":1}", 0 },
	};

	f->o.wire = RPC_WIRE_CONNECT_JSON;
	srv_script(f->s, c, ARRAY_LEN(c), 0);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(res.code, RPC_INTERNAL);
	/* Unknown fields from a newer server are ignored; media type parameters are fine. */
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_OK);
	assert_string_equal(((const Dstack__Test__V1__EchoResponse *)res.resp)->text, "ok");
}

/* ---- limits ---- */

static void test_response_size_limit(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	uint8_t data[1100];
	const struct canned big[] = { { 200, "application/proto", NULL, 300u << 10 } };

	memset(data, 0xab, sizeof(data));
	f->o.max_response = 1024;
	/* EchoResponse{data: 1021 bytes} is 1 + 2 + 1021 = 1024 bytes: exactly at the cap. */
	assert_int_equal(echo_sync(f, NULL, data, 1021, 0, NULL, &res), ERR_OK);
	assert_int_equal(((const Dstack__Test__V1__EchoResponse *)res.resp)->data.len, 1021);
	/* One byte more is refused. */
	assert_int_equal(echo_sync(f, NULL, data, 1022, 0, NULL, &res), ERR_PROTO_TOO_LARGE);
	assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
	assert_null(res.resp);
	assert_int_equal(echo_sync(f, NULL, data, sizeof(data), 0, NULL, &res), ERR_PROTO_TOO_LARGE);
	/* A body far past the cap is cut off while it arrives, not buffered first. */
	srv_script(f->s, big, 1, 0);
	assert_int_equal(echo_sync(f, NULL, NULL, 0, 0, NULL, &res), ERR_PROTO_TOO_LARGE);
}

static void test_deadline(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .timeout_ms = 200, .idempotent = 1 };
	uint64_t t0 = mono_ms(), dt;

	f->o.max_retries = 3;
	assert_int_equal(echo_sync(f, "slow", NULL, 0, 3000, &co, &res), ERR_DEADLINE);
	dt = mono_ms() - t0;
	assert_int_equal(res.code, RPC_DEADLINE_EXCEEDED);
	/* A deadline is final: not retried. */
	assert_int_equal(res.attempts, 1);
	assert_true(dt >= 190 && dt < 1500);
}

/* ---- retries ---- */

static const struct canned busy = { 503, "application/json", "{\"code\":\"unavailable\",\"message\":\"busy\"}", 0 };

static void test_retry_idempotent(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .idempotent = 1 };
	const struct canned c[] = { busy, busy };

	f->o.max_retries = 3;
	srv_script(f->s, c, 2, 0);
	assert_int_equal(echo_sync(f, "again", NULL, 0, 0, &co, &res), ERR_OK);
	assert_int_equal(res.attempts, 3);
	assert_int_equal(srv_requests(f->s), 3);
	assert_string_equal(((const Dstack__Test__V1__EchoResponse *)res.resp)->text, "again");
}

static void test_retry_exhausted(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .idempotent = 1 };

	f->o.max_retries = 2;
	srv_script(f->s, &busy, 1, 1);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, &co, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
	assert_string_equal(res.message, "busy");
	assert_int_equal(res.attempts, 3);
	assert_int_equal(srv_requests(f->s), 3);
}

static void test_no_retry_when_not_idempotent(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;

	f->o.max_retries = 3;
	srv_script(f->s, &busy, 1, 1);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(srv_requests(f->s), 1);
}

static void test_no_retry_on_other_codes(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .idempotent = 1 };
	const struct canned c[] = { { 400, "application/json", "{\"code\":\"invalid_argument\"}", 0 } };

	f->o.max_retries = 3;
	srv_script(f->s, c, 1, 1);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, &co, &res), ERR_INVALID_ARG);
	assert_int_equal(res.attempts, 1);
}

static void test_retry_stops_at_deadline(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .idempotent = 1, .timeout_ms = 300 };
	uint64_t t0 = mono_ms();

	/* The first backoff (at least 500 ms with jitter) would end past the deadline: give up at once. */
	f->o.max_retries = 5;
	f->o.retry_backoff_ms = 1000;
	srv_script(f->s, &busy, 1, 1);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, &co, &res), ERR_UNAVAILABLE);
	assert_int_equal(res.attempts, 1);
	assert_true(mono_ms() - t0 < 250);
}

static void test_connect_refused(void **state)
{
	struct fx *f = *state;
	struct rpc_result res;
	struct rpc_call_opts co = { .idempotent = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was just free and has no listener. */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	f->o.base_url = url;
	f->o.max_retries = 2;
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, &co, &res), ERR_IO_CONNECT);
	assert_int_equal(res.code, RPC_UNAVAILABLE);
	assert_int_equal(res.attempts, 3);
	assert_non_null(res.message);
	assert_int_equal(echo_sync(f, "x", NULL, 0, 0, NULL, &res), ERR_IO_CONNECT);
	assert_int_equal(res.attempts, 1);
}

/* ---- argument checks ---- */

static void test_bad_args(void **state)
{
	struct fx *f = *state;
	struct event_base *base = event_base_new();
	struct rpc_client_opts o = f->o;
	struct rpc_result res;
	Dstack__Test__V1__EchoRequest rq;
	const char *bad_urls[] = { "ftp://127.0.0.1", "http://", "https:///", "unix://relative.sock",
				   "http://127.0.0.1:1/a b", "127.0.0.1:80" };

	dstack__test__v1__echo_request__init(&rq);
	assert_non_null(base);
	for (size_t i = 0; i < ARRAY_LEN(bad_urls); i++) {
		o.base_url = bad_urls[i];
		assert_null(rpc_client_new(base, &o));
	}
	o = f->o;
	o.bearer_token = "tok\r\nx-injected: 1";
	assert_null(rpc_client_new(base, &o));
	o = f->o;
	o.wire = (enum rpc_wire)7;
	assert_null(rpc_client_new(base, &o));

	assert_int_equal(rpc_call_sync(&f->o, "no-slash", &rq.base, &dstack__test__v1__echo_response__descriptor,
				       NULL, &f->a, &res),
			 ERR_INVALID_ARG);
	assert_int_equal(rpc_call_sync(&f->o, "/a\r\nX: y", &rq.base, &dstack__test__v1__echo_response__descriptor,
				       NULL, &f->a, &res),
			 ERR_INVALID_ARG);
	assert_int_equal(res.attempts, 0);
	assert_int_equal(srv_requests(f->s), 0);
	rpc_client_free(NULL);
	event_base_free(base);
}

/* ---- the async interface ---- */

struct async_ctx {
	struct event_base *base;
	struct rpc_client *c;
	int in_call;         /* set while rpc_client_call runs: callbacks must never see it */
	int done, want;
	int cancelled, ok, reentered;
	int free_in_cb;      /* free the client from the first successful callback */
};

static void on_async(void *arg, const struct rpc_result *res)
{
	struct async_ctx *x = arg;

	if (x->in_call)
		x->reentered++;
	x->done++;
	if (res->err == ERR_OK) {
		x->ok++;
		assert_string_equal(((const Dstack__Test__V1__EchoResponse *)res->resp)->text, "async");
		if (x->free_in_cb && x->c) {
			struct rpc_client *c = x->c;
			x->c = NULL;
			rpc_client_free(c);
		}
	} else if (res->err == ERR_CANCELLED) {
		x->cancelled++;
		assert_int_equal(res->code, RPC_CANCELLED);
	}
	if (x->done == x->want)
		event_base_loopbreak(x->base);
}

static void start_echo(struct async_ctx *x, uint32_t sleep_ms)
{
	Dstack__Test__V1__EchoRequest rq;

	dstack__test__v1__echo_request__init(&rq);
	rq.text = (char *)(uintptr_t)"async";
	rq.sleep_ms = sleep_ms;
	x->in_call = 1;
	assert_int_equal(rpc_client_call(x->c, ECHO_PATH, &rq.base, &dstack__test__v1__echo_response__descriptor,
					 NULL, on_async, x),
			 ERR_OK);
	x->in_call = 0;
}

static void test_async_concurrent(void **state)
{
	struct fx *f = *state;
	struct async_ctx x = { 0 };

	x.base = event_base_new();
	x.c = rpc_client_new(x.base, &f->o);
	assert_non_null(x.c);
	x.want = 6;
	for (int i = 0; i < x.want; i++)
		start_echo(&x, 0);
	assert_int_equal(x.done, 0);
	assert_int_equal(event_base_dispatch(x.base), 0);
	assert_int_equal(x.done, 6);
	assert_int_equal(x.ok, 6);
	assert_int_equal(x.reentered, 0);
	rpc_client_free(x.c);
	event_base_free(x.base);
}

static void on_free_timer(evutil_socket_t fd, short what, void *arg)
{
	struct async_ctx *x = arg;
	struct rpc_client *c = x->c;

	(void)fd;
	(void)what;
	x->c = NULL;
	rpc_client_free(c);
}

static void test_free_cancels(void **state)
{
	struct fx *f = *state;
	struct async_ctx x = { 0 };
	struct timeval tv = { 0, 100 * 1000 };
	struct event *ev;

	x.base = event_base_new();
	x.c = rpc_client_new(x.base, &f->o);
	assert_non_null(x.c);
	x.want = 2;
	start_echo(&x, 5000);
	start_echo(&x, 5000);
	ev = evtimer_new(x.base, on_free_timer, &x);
	evtimer_add(ev, &tv);
	event_base_dispatch(x.base);
	assert_int_equal(x.done, 2);
	assert_int_equal(x.cancelled, 2);
	event_free(ev);
	event_base_free(x.base);
}

static void test_free_from_callback(void **state)
{
	struct fx *f = *state;
	struct async_ctx x = { 0 };

	x.base = event_base_new();
	x.c = rpc_client_new(x.base, &f->o);
	assert_non_null(x.c);
	x.want = 2;
	x.free_in_cb = 1;
	start_echo(&x, 0);
	start_echo(&x, 5000);
	event_base_dispatch(x.base);
	assert_int_equal(x.done, 2);
	assert_int_equal(x.ok, 1);
	assert_int_equal(x.cancelled, 1);
	assert_null(x.c);
	event_base_free(x.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proto_echo, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_json_echo, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket, setup_unix, teardown),
		cmocka_unit_test_setup_teardown(test_error_json, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_error_code_beats_status, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_error_malformed_json, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_error_body_oversized, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_bad_success_bodies, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_json_bad_success_body, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_response_size_limit, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_retry_idempotent, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_retry_exhausted, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_no_retry_when_not_idempotent, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_no_retry_on_other_codes, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_retry_stops_at_deadline, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_async_concurrent, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_free_cancels, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup_tcp, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
