/* SPDX-License-Identifier: Apache-2.0 */
/* http_fetch (and curl_loop under it) against a scripted loopback HTTP server: headers kept, caps, errors, cancel, sync. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base.h"
#include "http_fetch.h"

/* ---- the scripted server: one connection at a time, the answer chosen by the request path ---- */

struct srv {
	int lfd;
	int stop[2];
	pthread_t th;
	int port;
	unsigned requests;
	pthread_mutex_t mu;
};

static void send_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static void answer(struct srv *s, int fd, const char *path)
{
	char head[512];

	if (strcmp(path, "/ok") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Chain: a%20b\r\n"
			     "x-chain: second\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}");
	} else if (strcmp(path, "/empty404") == 0) {
		send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (strcmp(path, "/big") == 0) {
		/* Declared larger than the cap: refused before the body arrives. */
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
	} else if (strcmp(path, "/bigchunked") == 0) {
		char chunk[4096 + 16];
		send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
		snprintf(chunk, sizeof(chunk), "1000\r\n");
		memset(chunk + 6, 'x', 4096);
		memcpy(chunk + 6 + 4096, "\r\n", 2);
		for (int i = 0; i < 25; i++)
			send_all(fd, chunk, 6 + 4096 + 2);
		send_str(fd, "0\r\n\r\n");
	} else if (strcmp(path, "/headers") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < 200; i++) {
			snprintf(head, sizeof(head), "X-Flood-%d: %0200d\r\n", i, i);
			send_str(fd, head);
		}
		send_str(fd, "Content-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (strcmp(path, "/slow") == 0) {
		struct pollfd p = { .fd = s->stop[0], .events = POLLIN };
		(void)poll(&p, 1, 1000);
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (strcmp(path, "/redirect") == 0) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/ok\r\nX-Chain: from-redirect\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n",
			 s->port);
		send_str(fd, head);
	} else {
		send_str(fd, "HTTP/1.1 500 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };
		char buf[4096], path[256] = "";
		size_t len = 0;
		int fd;

		if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN))
			return NULL;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		while (len < sizeof(buf) - 1) {
			ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = 0;
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		buf[len] = 0;
		if (strncmp(buf, "GET /", 5) == 0) {
			size_t n = strcspn(buf + 4, " \r\n");
			memcpy(path, buf + 4, MIN(n, sizeof(path) - 1));
			path[MIN(n, sizeof(path) - 1)] = 0;
			pthread_mutex_lock(&s->mu);
			s->requests++;
			pthread_mutex_unlock(&s->mu);
			answer(s, fd, path);
		}
		close(fd);
	}
}

static int srv_setup(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1;

	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0 || pipe(s->stop) != 0)
		return -1;
	s->port = ntohs(a.sin_port);
	pthread_mutex_init(&s->mu, NULL);
	pthread_create(&s->th, NULL, srv_main, s);
	*state = s;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *s = *state;

	(void)!write(s->stop[1], "x", 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return 0;
}

/* ---- async client helpers ---- */

struct got {
	int calls;
	err_t err;
	long status;
	char body[256];
	size_t body_len;
	char chain[64];
	int inside_start;   /* set while http_fetch_start runs: the callback must never see it */
	int called_inside;
};

static void on_done(void *arg, struct http_response *r)
{
	struct got *g = arg;
	const char *v;

	g->calls++;
	g->called_inside |= g->inside_start;
	g->err = r->err;
	g->status = r->status;
	g->body_len = r->body_len;
	if (r->body)
		snprintf(g->body, sizeof(g->body), "%s", (const char *)r->body);
	v = http_response_header(r, "x-chain");
	snprintf(g->chain, sizeof(g->chain), "%s", v ? v : "(none)");
}

static void url(const struct srv *s, const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "http://127.0.0.1:%d%s", s->port, path);
}

/* One fetch on a fresh loop, run to completion. */
static void fetch_one(const struct srv *s, const char *path, const struct http_fetch_opts *o, struct got *g)
{
	struct event_base *base = event_base_new();
	struct http_fetcher *f = http_fetcher_new(base);
	char u[128];

	memset(g, 0, sizeof(*g));
	url(s, path, u, sizeof(u));
	g->inside_start = 1;
	assert_int_equal(http_fetch_start(f, u, o, on_done, g, NULL), ERR_OK);
	g->inside_start = 0;
	while (g->calls == 0)
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(g->calls, 1);
	assert_false(g->called_inside);
	http_fetcher_free(f);
	event_base_free(base);
}

static const char *const keep_chain[] = { "X-Chain", NULL };

static void test_ok_and_headers(void **state)
{
	const struct http_fetch_opts o = { .keep_headers = keep_chain };
	struct got g;

	fetch_one(*state, "/ok", &o, &g);
	assert_int_equal(g.err, ERR_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, 11);
	assert_string_equal(g.body, "{\"ok\":true}");
	assert_string_equal(g.chain, "a%20b");   /* as sent, first occurrence, any case */

	fetch_one(*state, "/empty404", &o, &g);
	assert_int_equal(g.err, ERR_OK);
	assert_int_equal(g.status, 404);
	assert_int_equal(g.body_len, 0);
	assert_string_equal(g.body, "");
	assert_string_equal(g.chain, "(none)");
}

static void test_caps(void **state)
{
	const struct http_fetch_opts small = { .max_body = 1000 };
	const struct http_fetch_opts hdr = { .max_header_bytes = 8192 };
	struct got g;

	fetch_one(*state, "/big", &small, &g);
	assert_int_equal(g.err, ERR_PROTO_TOO_LARGE);
	assert_int_equal(g.status, 0);
	fetch_one(*state, "/bigchunked", &small, &g);
	assert_int_equal(g.err, ERR_PROTO_TOO_LARGE);
	fetch_one(*state, "/bigchunked", NULL, &g);
	assert_int_equal(g.err, ERR_OK);
	assert_int_equal(g.body_len, 25 * 4096);
	fetch_one(*state, "/headers", &hdr, &g);
	assert_int_equal(g.err, ERR_PROTO_TOO_LARGE);
	fetch_one(*state, "/headers", NULL, &g);
	assert_int_equal(g.err, ERR_OK);
}

static void test_errors(void **state)
{
	const struct http_fetch_opts quick = { .timeout_ms = 300 };
	struct event_base *base = event_base_new();
	struct http_fetcher *f = http_fetcher_new(base);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char u[128];
	struct got g;

	fetch_one(*state, "/slow", &quick, &g);
	assert_int_equal(g.err, ERR_IO_TIMEOUT);

	/* A port with nothing listening. */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	memset(&g, 0, sizeof(g));
	assert_int_equal(http_fetch_start(f, u, NULL, on_done, &g, NULL), ERR_OK);
	while (!g.calls)
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(g.err, ERR_IO_CONNECT);

	/* Refused before anything starts: no callback. */
	assert_int_equal(http_fetch_start(f, "ftp://127.0.0.1/x", NULL, on_done, &g, NULL), ERR_INVALID_ARG);
	assert_int_equal(http_fetch_start(f, "http://127.0.0.1/a b", NULL, on_done, &g, NULL), ERR_INVALID_ARG);
	assert_int_equal(http_fetch_start(f, "http://", NULL, on_done, &g, NULL), ERR_INVALID_ARG);
	assert_int_equal(g.calls, 1);
	http_fetcher_free(f);
	event_base_free(base);
}

static void test_redirects(void **state)
{
	const struct http_fetch_opts no = { .keep_headers = keep_chain };
	const struct http_fetch_opts yes = { .keep_headers = keep_chain, .max_redirects = 2 };
	struct got g;

	fetch_one(*state, "/redirect", &no, &g);
	assert_int_equal(g.status, 302);
	assert_string_equal(g.chain, "from-redirect");
	fetch_one(*state, "/redirect", &yes, &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.chain, "a%20b");   /* the headers of the final response only */
}

/* Freeing the fetcher cancels what is pending, synchronously, once each. */
static void test_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct http_fetcher *f = http_fetcher_new(base);
	struct http_fetch *h = NULL;
	struct got g1, g2;
	char u[128];

	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	url(*state, "/slow", u, sizeof(u));
	assert_int_equal(http_fetch_start(f, u, NULL, on_done, &g1, &h), ERR_OK);
	assert_int_equal(http_fetch_start(f, u, NULL, on_done, &g2, NULL), ERR_OK);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	http_fetch_cancel(h);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g1.err, ERR_CANCELLED);
	http_fetcher_free(f);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g2.err, ERR_CANCELLED);
	event_base_free(base);
}

static void test_sync(void **state)
{
	const struct http_fetch_opts o = { .keep_headers = keep_chain };
	struct http_response r;
	size_t n;
	uint8_t *body;
	char u[128];

	url(*state, "/ok", u, sizeof(u));
	assert_int_equal(http_get_sync(u, &o, &r), ERR_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(http_response_header(&r, "X-CHAIN"), "a%20b");
	body = http_response_take_body(&r, &n);
	assert_int_equal(n, 11);
	assert_memory_equal(body, "{\"ok\":true}", 11);
	free(body);
	assert_null(r.body);
	http_response_free(&r);
	assert_int_equal(http_get_sync("http://127.0.0.1:1/", &(struct http_fetch_opts){ .timeout_ms = 2000 }, &r),
			 ERR_IO_CONNECT);
	assert_non_null(r.detail);
	http_response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_and_headers),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_sync),
	};

	return cmocka_run_group_tests(tests, srv_setup, srv_teardown);
}
