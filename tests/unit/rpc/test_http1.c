/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the HTTP/1.x head parser and chunked decoder: accepted forms, exact errors, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

#define MAX_HEAD 8192

/* Parse from an exact-size heap copy so ASan flags any read past `len`. */
static int parse_n(const char *s, size_t len, size_t max_head, struct http1_request *req)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, s, len);
	rc = http1_parse_head(copy, len, max_head, req);
	free(copy);
	return rc;
}

static int parse(const char *s, struct http1_request *req)
{
	return http1_parse_head(s, strlen(s), MAX_HEAD, req);
}

static void assert_view(struct http1_str v, const char *lit)
{
	size_t n = strlen(lit);

	if (v.len != n)
		fail_msg("view \"%.*s\" (%zu bytes) != \"%s\"", (int)v.len, v.p ? v.p : "", v.len, lit);
	if (n)
		assert_memory_equal(v.p, lit, n);
}

static void assert_head_err(const char *s, int err)
{
	struct http1_request req;
	int rc = parse(s, &req);

	if (rc != err)
		fail_msg("\"%s\": got %d, want %d", s, rc, err);
}

static void assert_head_ok(const char *s)
{
	struct http1_request req;
	int rc = parse(s, &req);

	if (rc != (int)strlen(s))
		fail_msg("\"%s\": got %d, want %zu", s, rc, strlen(s));
}

/* ---- positive ---- */

static void test_get_with_query(void **state)
{
	static const char r[] = "GET /v1/Info?x=1&y=%20b HTTP/1.1\r\nHost: kms.local:8000\r\nUser-Agent: t\r\n\r\n";
	struct http1_request req;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.method, HTTP1_GET);
	assert_view(req.method_str, "GET");
	assert_view(req.target, "/v1/Info?x=1&y=%20b");
	assert_view(req.path, "/v1/Info");
	assert_view(req.query, "x=1&y=%20b");
	assert_int_equal(req.minor_version, 1);
	assert_int_equal(req.nheaders, 2);
	assert_view(req.headers[0].name, "Host");
	assert_view(req.headers[0].value, "kms.local:8000");
	assert_view(req.host, "kms.local:8000");
	assert_int_equal(req.content_length, -1);
	assert_int_equal(req.chunked, 0);
	assert_int_equal(req.keep_alive, 1);
	assert_int_equal(req.expect_continue, 0);
	assert_int_equal(req.content_type.len, 0);
}

static void test_path_without_query(void **state)
{
	struct http1_request req;

	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &req), 18);
	assert_view(req.target, "/");
	assert_view(req.path, "/");
	assert_int_equal(req.query.len, 0);
	assert_int_equal(req.nheaders, 0);
	assert_int_equal(req.host.len, 0);

	/* Only the first '?' splits; an empty query after '?' is still empty. */
	assert_int_equal(parse("GET /a?b?c HTTP/1.1\r\n\r\n", &req) > 0, 1);
	assert_view(req.path, "/a");
	assert_view(req.query, "b?c");
	assert_int_equal(parse("GET /a? HTTP/1.1\r\n\r\n", &req) > 0, 1);
	assert_view(req.path, "/a");
	assert_int_equal(req.query.len, 0);
}

static void test_post_with_content_length(void **state)
{
	static const char head[] = "POST /prpc/KMS.GetKey HTTP/1.1\r\nContent-Type: application/json\r\n"
				   "Content-Length: 13\r\n\r\n";
	static const char r[] = "POST /prpc/KMS.GetKey HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 13\r\n\r\n{\"id\":\"abc\"}\n";
	struct http1_request req;

	/* The body is not part of the head. */
	assert_int_equal(parse(r, &req), (int)strlen(head));
	assert_int_equal(req.method, HTTP1_POST);
	assert_int_equal(req.content_length, 13);
	assert_view(req.content_type, "application/json");
	assert_int_equal(req.chunked, 0);

	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.content_length, 0);
	/* Identical repeats are allowed; leading zeros are digits. */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 007\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.content_length, 7);
	/* 2^53 is the largest accepted length. */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 9007199254740992\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.content_length, INT64_C(9007199254740992));
}

static void test_chunked_header(void **state)
{
	struct http1_request req;

	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.chunked, 1);
	assert_int_equal(req.content_length, -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\ntransfer-encoding:  CHUNKED \r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.chunked, 1);
}

static void test_keep_alive(void **state)
{
	static const struct {
		const char *req;
		int keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive , TE\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: TE\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: ,,\r\n\r\n", 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct http1_request req;

		assert_int_equal(parse(cases[i].req, &req), (int)strlen(cases[i].req));
		if (req.keep_alive != cases[i].keep_alive)
			fail_msg("case %zu: keep_alive %d", i, req.keep_alive);
	}
}

static void test_header_lookup_case_insensitive(void **state)
{
	static const char r[] = "PUT /x HTTP/1.1\r\ncontent-TYPE: application/json\r\nX-Dup: first\r\n"
				"x-dup: second\r\n\r\n";
	struct http1_request req;
	const struct http1_str *v;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.method, HTTP1_PUT);
	v = http1_header_get(&req, "Content-Type");
	assert_non_null(v);
	assert_view(*v, "application/json");
	assert_ptr_equal(http1_header_get(&req, "CONTENT-TYPE"), v);
	v = http1_header_get(&req, "X-DUP");
	assert_non_null(v);
	assert_view(*v, "first");
	assert_null(http1_header_get(&req, "Host"));
	assert_null(http1_header_get(&req, "content-typ"));
	/* The names keep their original case. */
	assert_view(req.headers[0].name, "content-TYPE");
}

static void test_whitespace_trimming(void **state)
{
	static const char r[] = "GET / HTTP/1.1\r\nX-A: \t value with  inner\tspace \t \r\nX-B:\r\nX-C:   \t\r\n"
				"X-D:tight\r\nX-E: \xc3\xa9t\xc3\xa9\r\n\r\n";
	struct http1_request req;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.nheaders, 5);
	assert_view(req.headers[0].value, "value with  inner\tspace");
	assert_view(req.headers[1].value, "");
	assert_view(req.headers[2].value, "");
	assert_view(req.headers[3].value, "tight");
	/* obs-text is passed through untouched. */
	assert_view(req.headers[4].value, "\xc3\xa9t\xc3\xa9");
}

static void test_lf_only(void **state)
{
	static const char r[] = "GET /lf HTTP/1.1\nHost: a\nX: b\n\nbody";
	static const char mixed[] = "GET /m HTTP/1.0\r\nHost: a\nX: b\r\n\n";
	struct http1_request req;

	assert_int_equal(parse(r, &req), (int)strlen(r) - 4);
	assert_int_equal(req.nheaders, 2);
	assert_view(req.headers[1].value, "b");
	assert_int_equal(parse(mixed, &req), (int)strlen(mixed));
	assert_int_equal(req.minor_version, 0);
}

static void test_methods(void **state)
{
	static const struct {
		const char *req;
		enum http1_method m;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", HTTP1_GET },
		{ "HEAD / HTTP/1.1\r\n\r\n", HTTP1_HEAD },
		{ "POST / HTTP/1.1\r\n\r\n", HTTP1_POST },
		{ "PUT / HTTP/1.1\r\n\r\n", HTTP1_PUT },
		{ "DELETE / HTTP/1.1\r\n\r\n", HTTP1_DELETE },
		{ "OPTIONS / HTTP/1.1\r\n\r\n", HTTP1_OPTIONS },
		{ "PATCH / HTTP/1.1\r\n\r\n", HTTP1_OTHER },
		{ "get / HTTP/1.1\r\n\r\n", HTTP1_OTHER },
		{ "GETS / HTTP/1.1\r\n\r\n", HTTP1_OTHER },
		{ "M-SEARCH! / HTTP/1.1\r\n\r\n", HTTP1_OTHER },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct http1_request req;

		assert_int_equal(parse(cases[i].req, &req), (int)strlen(cases[i].req));
		if (req.method != cases[i].m)
			fail_msg("case %zu: method %d", i, req.method);
	}
}

static void test_expect_continue(void **state)
{
	struct http1_request req;

	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.expect_continue, 1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nexpect: 100-Continue \r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.expect_continue, 1);
	/* HTTP/1.0 clients do not know 100 Continue; other expectations are not this flag. */
	assert_int_equal(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.expect_continue, 0);
	assert_int_equal(parse("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", &req) > 0, 1);
	assert_int_equal(req.expect_continue, 0);
}

static void test_first_host_and_content_type_win(void **state)
{
	struct http1_request req;

	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\nContent-Type: x\r\ncontent-type: y\r\n\r\n",
			       &req) > 0, 1);
	assert_view(req.host, "a");
	assert_view(req.content_type, "x");
}

static void test_leading_empty_lines(void **state)
{
	static const char r[] = "\r\n\nGET / HTTP/1.1\r\n\r\n";
	struct http1_request req;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.method, HTTP1_GET);
	/* Only empty lines are skipped, and they still count towards max_head. */
	assert_int_equal(parse("\r\n", &req), 0);
	assert_int_equal(parse("\r", &req), 0);
	assert_head_err("\rGET / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_int_equal(http1_parse_head(r, strlen(r), strlen(r) - 1, &req), ERR_PROTO_TOO_LARGE);
}

static void test_pipelined(void **state)
{
	static const char r[] = "GET /one HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\nGET /thr";
	struct http1_request req;
	int n1, n2;

	n1 = parse(r, &req);
	assert_int_equal(n1, 21);
	assert_view(req.path, "/one");
	n2 = http1_parse_head(r + n1, strlen(r) - (size_t)n1, MAX_HEAD, &req);
	assert_int_equal(n2, 30);
	assert_view(req.path, "/two");
	assert_int_equal(http1_parse_head(r + n1 + n2, strlen(r) - (size_t)(n1 + n2), MAX_HEAD, &req), 0);
}

static void test_boundary_header_count(void **state)
{
	char buf[4096];
	struct http1_request req;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: %d\r\n", i, i);
	memcpy(buf + n, "\r\n", 3);
	assert_int_equal(parse_n(buf, n + 2, MAX_HEAD, &req), (int)n + 2);
	assert_int_equal(req.nheaders, HTTP1_MAX_HEADERS);
	assert_view(req.headers[HTTP1_MAX_HEADERS - 1].value, "63");

	/* One more is refused as soon as it starts, complete head or not. */
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: 1\r\n");
	assert_int_equal(parse_n(buf, n, MAX_HEAD, &req), ERR_PROTO_TOO_LARGE);
	memcpy(buf + n, "\r\n", 3);
	assert_int_equal(parse_n(buf, n + 2, MAX_HEAD, &req), ERR_PROTO_TOO_LARGE);
}

/* ---- incremental ---- */

static void check_byte_at_a_time(const char *r, size_t total, size_t head_len)
{
	struct http1_request req;

	for (size_t i = 0; i < total; i++) {
		int rc = parse_n(r, i, MAX_HEAD, &req);

		if (i < head_len && rc != 0)
			fail_msg("prefix %zu of \"%s\": got %d, want 0", i, r, rc);
		if (i >= head_len && rc != (int)head_len)
			fail_msg("prefix %zu of \"%s\": got %d, want %zu", i, r, rc, head_len);
	}
	assert_int_equal(parse_n(r, total, MAX_HEAD, &req), (int)head_len);
}

static void test_incremental_byte_at_a_time(void **state)
{
	static const char *reqs[] = {
		"GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"POST /p HTTP/1.0\nContent-Length: 3\nX:  v \n\n",
		"\r\nPUT /q HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	};

	for (size_t i = 0; i < ARRAY_LEN(reqs); i++)
		check_byte_at_a_time(reqs[i], strlen(reqs[i]), strlen(reqs[i]));

	/* Trailing body bytes never change the head's length. */
	check_byte_at_a_time("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 42, 38);
}

static void test_incremental_errors_are_early_and_stable(void **state)
{
	struct http1_request req;

	/* The verdict comes as soon as the bad byte is seen, long before the end of the head. */
	assert_int_equal(parse("GET / HTTP/2", &req), ERR_PROTO_HTTP);
	assert_int_equal(parse("GET / HTTP/1.1\r\nBad Name", &req), ERR_PROTO_HTTP);
	assert_int_equal(parse("GET / HTTP/1.1\r\n ", &req), ERR_PROTO_HTTP);
	/* A CR at the very end may still be followed by LF. */
	assert_int_equal(parse("GET / HTTP/1.1\r", &req), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX: y\r", &req), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r", &req), 0);
	assert_int_equal(parse("", &req), 0);
}

/* ---- negative: request line ---- */

static void test_bad_method(void **state)
{
	assert_head_err("GE(T / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("G@T / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET\t/ HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err(" GET / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("\xc3\xa9 / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET\r\n\r\n", ERR_PROTO_HTTP);
}

static void test_bad_target(void **state)
{
	/* Well-formed targets that are not origin-form. */
	assert_head_err("GET http://example.com/ HTTP/1.1\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("OPTIONS * HTTP/1.1\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("CONNECT example.com:443 HTTP/1.1\r\n\r\n", ERR_PROTO_HEADER);
	/* Malformed request lines. */
	assert_head_err("GET  / HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET /a b HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET /a\tb HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET /a\x7f HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET /\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / \r\n\r\n", ERR_PROTO_HTTP);
}

static void test_bad_version(void **state)
{
	assert_head_err("GET / HTTP/2.0\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.2\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/0.9\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.10\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1 \r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / http/1.1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\rX\n\r\n", ERR_PROTO_HTTP);
}

/* ---- negative: header syntax ---- */

static void test_bad_header_syntax(void **state)
{
	assert_head_err("GET / HTTP/1.1\r\nHost : a\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\n: a\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nNoColon\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX-\xc3\xa9: a\r\n\r\n", ERR_PROTO_HTTP);
	/* Control characters other than HT in values; DEL too. */
	assert_head_err("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", ERR_PROTO_HTTP);
	/* A bare CR inside a value is not a line end. */
	assert_head_err("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX: a\r\n\rZ", ERR_PROTO_HTTP);
	assert_head_ok("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n");
}

/* Long values take a word-at-a-time path: every byte class must be judged right at every offset. */
static void check_value_byte(size_t k, uint8_t b, int want_ok)
{
	static const char pre[] = "GET / HTTP/1.1\r\nX: ";
	char buf[128];
	struct http1_request req;
	size_t n = sizeof(pre) - 1, vlen;
	int rc;

	memcpy(buf, pre, n);
	memset(buf + n, 'v', 40);
	buf[n + k] = (char)b;
	memcpy(buf + n + 40, "Z\r\n\r\n", 5);
	rc = parse_n(buf, n + 45, MAX_HEAD, &req);
	if (!want_ok) {
		if (rc != ERR_PROTO_HTTP)
			fail_msg("byte 0x%02x at %zu: got %d", b, k, rc);
		return;
	}
	/* Leading whitespace is trimmed, so it shortens the value. */
	vlen = (k == 0 && (b == ' ' || b == '\t')) ? 40 : 41;
	if (rc != (int)(n + 45) || req.headers[0].value.len != vlen)
		fail_msg("byte 0x%02x at %zu: got %d, value %zu bytes", b, k, rc, req.headers[0].value.len);
}

static void test_long_value_every_offset(void **state)
{
	static const uint8_t bad[] = { 0x00, 0x01, 0x08, 0x0b, 0x1f, 0x7f };
	static const uint8_t good[] = { '\t', ' ', '~', 0x80, 0xff };

	for (size_t k = 0; k < 40; k++) {
		for (size_t j = 0; j < ARRAY_LEN(bad); j++)
			check_value_byte(k, bad[j], 0);
		for (size_t j = 0; j < ARRAY_LEN(good); j++)
			check_value_byte(k, good[j], 1);
	}
}

static void test_obs_fold(void **state)
{
	assert_head_err("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", ERR_PROTO_HTTP);
	assert_head_err("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", ERR_PROTO_HTTP);
	/* Whitespace before the first field line is the same hazard. */
	assert_head_err("GET / HTTP/1.1\r\n Host: a\r\n\r\n", ERR_PROTO_HTTP);
}

static void test_nul_byte(void **state)
{
	static const char in_value[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	static const char in_name[] = "GET / HTTP/1.1\r\nX\0: a\r\n\r\n";
	static const char in_target[] = "GET /\0 HTTP/1.1\r\n\r\n";
	static const char in_method[] = "G\0T / HTTP/1.1\r\n\r\n";
	static const char at_start[] = "\0GET / HTTP/1.1\r\n\r\n";
	static const char at_line_start[] = "GET / HTTP/1.1\r\n\0\r\n\r\n";
	static const char in_version[] = "GET / HTTP/1.\0\r\n\r\n";
	const struct {
		const char *s;
		size_t n;
	} cases[] = {
		{ in_value, sizeof(in_value) - 1 },   { in_name, sizeof(in_name) - 1 },
		{ in_target, sizeof(in_target) - 1 }, { in_method, sizeof(in_method) - 1 },
		{ at_start, sizeof(at_start) - 1 },   { at_line_start, sizeof(at_line_start) - 1 },
		{ in_version, sizeof(in_version) - 1 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct http1_request req;
		int rc = parse_n(cases[i].s, cases[i].n, MAX_HEAD, &req);

		if (rc != ERR_PROTO_HTTP)
			fail_msg("case %zu: got %d", i, rc);
	}
}

/* ---- negative: framing ---- */

static void test_cl_and_te(void **state)
{
	assert_head_err("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
			ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
			ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
			ERR_PROTO_HEADER);
}

static void test_differing_content_lengths(void **state)
{
	assert_head_err("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nContent-Length: 5\r\nX: y\r\ncontent-length: 50\r\n\r\n",
			ERR_PROTO_HEADER);
}

static void test_bad_content_length(void **state)
{
	static const char *values[] = {
		"+5", "-1", "0x10", "1e3", "5 5", "5,5", "5, 5", "", "a", "\xd9\xa3",
		"9007199254740993",             /* 2^53 + 1 */
		"18446744073709551616",         /* 2^64 */
		"99999999999999999999999999999",
	};

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		char buf[256];
		struct http1_request req;
		int n = snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", values[i]);
		int rc = parse_n(buf, (size_t)n, MAX_HEAD, &req);

		if (rc != ERR_PROTO_HEADER)
			fail_msg("Content-Length \"%s\": got %d", values[i], rc);
	}
}

static void test_bad_transfer_encoding(void **state)
{
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
			ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", ERR_PROTO_HEADER);
	assert_head_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", ERR_PROTO_HEADER);
	/* HTTP/1.0 has no chunked framing to agree on. */
	assert_head_err("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ERR_PROTO_HEADER);
}

/* ---- negative: size limits ---- */

static void test_head_over_max(void **state)
{
	static const char r[] = "GET /0123456789 HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t n = strlen(r);
	char big[300];
	struct http1_request req;

	/* With the terminator: the limit is inclusive. */
	assert_int_equal(parse_n(r, n, n, &req), (int)n);
	assert_int_equal(parse_n(r, n, n - 1, &req), ERR_PROTO_TOO_LARGE);
	assert_int_equal(parse_n(r, n, 10, &req), ERR_PROTO_TOO_LARGE);
	assert_int_equal(parse_n(r, n, 0, &req), ERR_PROTO_TOO_LARGE);

	/* Without the terminator: 0 while under the limit, refused once it is reached. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	assert_int_equal(parse_n(big, 99, 100, &req), 0);
	assert_int_equal(parse_n(big, 100, 100, &req), ERR_PROTO_TOO_LARGE);
	assert_int_equal(parse_n(big, sizeof(big), 100, &req), ERR_PROTO_TOO_LARGE);
	/* A long header value (slow-drip) hits the same wall. */
	memset(big, 'b', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(parse_n(big, sizeof(big), 256, &req), ERR_PROTO_TOO_LARGE);
	assert_int_equal(parse_n(big, 255, 256, &req), 0);
}

/* ---- chunked ---- */

struct feed_result {
	int rc;
	size_t consumed;
};

/* Feed a whole buffer (exact-size heap copy) into a fresh decoder. */
static struct feed_result feed(const char *s, size_t n, struct buf_writer *w)
{
	struct http1_chunked c = { 0 };
	struct feed_result r;
	uint8_t *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	if (n)
		memcpy(copy, s, n);
	r.rc = http1_chunked_feed(&c, copy, n, w, &r.consumed);
	free(copy);
	return r;
}

static void assert_chunked_err(const char *s, size_t max, int err)
{
	struct buf_writer w;
	struct feed_result r;

	buf_writer_init(&w, max);
	r = feed(s, strlen(s), &w);
	if (r.rc != err)
		fail_msg("\"%s\": got %d, want %d", s, r.rc, err);
	buf_writer_free(&w);
}

static void assert_chunked_ok(const char *s, const char *body)
{
	struct buf_writer w;
	struct feed_result r;

	buf_writer_init(&w, 1 << 16);
	r = feed(s, strlen(s), &w);
	if (r.rc != 1 || r.consumed != strlen(s))
		fail_msg("\"%s\": got %d consumed %zu", s, r.rc, r.consumed);
	assert_int_equal(w.len, strlen(body));
	if (w.len)
		assert_memory_equal(w.p, body, w.len);
	buf_writer_free(&w);
}

static void test_chunked_multiple(void **state)
{
	assert_chunked_ok("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
			  "Wikipedia in\r\n\r\nchunks.");
	assert_chunked_ok("0\r\n\r\n", "");
	assert_chunked_ok("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
	assert_chunked_ok("0000000000000003\r\nabc\r\n0\r\n\r\n", "abc");
	/* Bare LF everywhere. */
	assert_chunked_ok("3\nabc\n2\nde\n0\n\n", "abcde");
	/* Data is opaque: CR, LF and size-like bytes inside it mean nothing. */
	assert_chunked_ok("3\r\n\r\n0\r\n0\r\n\r\n", "\r\n0");
}

static void test_chunked_binary_data(void **state)
{
	static const char in[] = "4\r\n\0\r\n\xff\r\n0\r\n\r\n";
	struct buf_writer w;
	struct feed_result r;

	buf_writer_init(&w, 100);
	r = feed(in, sizeof(in) - 1, &w);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.consumed, sizeof(in) - 1);
	assert_int_equal(w.len, 4);
	assert_memory_equal(w.p, "\0\r\n\xff", 4);
	buf_writer_free(&w);
}

static void test_chunked_extensions(void **state)
{
	char line[1100];

	assert_chunked_ok("4;name=value\r\nWiki\r\n0;last\r\n\r\n", "Wiki");
	assert_chunked_ok("4 ; a=\"q s\"\r\nWiki\r\n0\t;x\r\n\r\n", "Wiki");
	assert_chunked_ok("4  \r\nWiki\r\n0\r\n\r\n", "Wiki");
	/* The 1 KiB bound counts the whole size line: 1 digit + ';' + 1022 bytes is the most. */
	memset(line, 'e', sizeof(line));
	memcpy(line, "1;", 2);
	memcpy(line + 1024, "\r\nX\r\n0\r\n\r\n", 11);
	assert_chunked_ok(line, "X");
	memset(line, 'e', sizeof(line));
	memcpy(line, "1;", 2);
	memcpy(line + 1025, "\r\nX\r\n0\r\n\r\n", 11);
	assert_chunked_err(line, 1 << 16, ERR_PROTO_HTTP);
	/* Whitespace after the size counts too. */
	memset(line, ' ', sizeof(line));
	line[0] = '1';
	memcpy(line + 1025, "\r\nX\r\n0\r\n\r\n", 11);
	assert_chunked_err(line, 1 << 16, ERR_PROTO_HTTP);
}

static void test_chunked_trailers(void **state)
{
	static const char t[] = "0\r\n";
	char buf[8300];
	size_t n;

	assert_chunked_ok("3\r\nabc\r\n0\r\nX-Checksum: 123\r\nY:\tz \r\n\r\n", "abc");
	assert_chunked_ok("0\nX: y\n\n", "");
	/* 8 KiB of trailer fields (line ends included) is the most. */
	memcpy(buf, t, 3);
	n = 3;
	memcpy(buf + n, "X: ", 3);
	memset(buf + n + 3, 'v', 8192 - 5);
	n += 8192 - 2;
	memcpy(buf + n, "\r\n\r\n", 5);
	assert_chunked_ok(buf, "");
	buf[n] = 'v';
	memcpy(buf + n + 1, "\r\n\r\n", 5);
	assert_chunked_err(buf, 1 << 16, ERR_PROTO_HTTP);
}

static void test_chunked_byte_at_a_time(void **state)
{
	static const char body[] = "4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n";
	struct http1_chunked c = { 0 };
	struct buf_writer w;
	size_t n = strlen(body);

	buf_writer_init(&w, 1 << 16);
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)body[i];
		size_t used = 99;
		int rc = http1_chunked_feed(&c, &b, 1, &w, &used);

		assert_int_equal(used, 1);
		if (rc != (i + 1 == n ? 1 : 0))
			fail_msg("byte %zu: got %d", i, rc);
	}
	assert_int_equal(w.len, 9);
	assert_memory_equal(w.p, "Wikipedia", 9);
	buf_writer_free(&w);
}

static void test_chunked_stops_at_end(void **state)
{
	static const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	struct http1_chunked c = { 0 };
	struct buf_writer w;
	size_t used = 0;

	buf_writer_init(&w, 1 << 16);
	/* Split inside the data, then give it the rest together with the next request. */
	assert_int_equal(http1_chunked_feed(&c, (const uint8_t *)in, 5, &w, &used), 0);
	assert_int_equal(used, 5);
	assert_int_equal(http1_chunked_feed(&c, (const uint8_t *)in + 5, sizeof(in) - 1 - 5, &w, &used), 1);
	assert_int_equal(used, 13 - 5);
	assert_memory_equal(in + 13, "GET ", 4);
	assert_int_equal(w.len, 3);
	assert_memory_equal(w.p, "abc", 3);
	/* Once done, it stays done and takes nothing. */
	assert_int_equal(http1_chunked_feed(&c, (const uint8_t *)in + 13, 4, &w, &used), 1);
	assert_int_equal(used, 0);
	buf_writer_free(&w);
}

static void test_chunked_bad_hex(void **state)
{
	assert_chunked_err("g\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("-1\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("+1\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0x1\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err(" 1\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err(";x\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("1 x\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("1\rx", 100, ERR_PROTO_HTTP);
	assert_chunked_err("1;a\x01\r\n", 100, ERR_PROTO_HTTP);
}

static void test_chunked_overflow(void **state)
{
	/* 17 digits, even if the value would fit. */
	assert_chunked_err("10000000000000000\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("00000000000000001\r\n", 100, ERR_PROTO_HTTP);
	/* 16 digits parse; the writer cap refuses the size before any data arrives. */
	assert_chunked_err("ffffffffffffffff\r\n", 100, ERR_PROTO_TOO_LARGE);
}

static void test_chunked_missing_crlf_after_data(void **state)
{
	assert_chunked_err("4\r\nWikiX\r\n0\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("4\r\nWiki\rX\n0\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("4\r\nWiki0\r\n\r\n", 100, ERR_PROTO_HTTP);
}

static void test_chunked_body_over_max(void **state)
{
	struct buf_writer w;
	struct feed_result r;

	/* One chunk bigger than the cap is refused at its size line. */
	assert_chunked_err("9\r\n", 8, ERR_PROTO_TOO_LARGE);
	/* The sum of chunks is what counts. */
	assert_chunked_err("5\r\nabcde\r\n4\r\n", 8, ERR_PROTO_TOO_LARGE);
	buf_writer_init(&w, 8);
	r = feed("5\r\nabcde\r\n3\r\nfgh\r\n0\r\n\r\n", 23, &w);
	assert_int_equal(r.rc, 1);
	assert_int_equal(w.len, 8);
	buf_writer_free(&w);
}

static void test_chunked_bad_trailers(void **state)
{
	assert_chunked_err("0\r\nNoColon\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\nX : y\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\n: y\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\nX: y\r\n z\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\nX: y\x01\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\nX: y\rz\r\n\r\n", 100, ERR_PROTO_HTTP);
	assert_chunked_err("0\r\n\rX", 100, ERR_PROTO_HTTP);
}

static void test_chunked_error_is_sticky(void **state)
{
	struct http1_chunked c = { 0 };
	struct buf_writer w;
	size_t used = 0;

	buf_writer_init(&w, 100);
	assert_int_equal(http1_chunked_feed(&c, (const uint8_t *)"z", 1, &w, &used), ERR_PROTO_HTTP);
	assert_int_equal(http1_chunked_feed(&c, (const uint8_t *)"0\r\n\r\n", 5, &w, &used), ERR_PROTO_HTTP);
	assert_int_equal(used, 0);
	buf_writer_free(&w);
}

/* ---- misc ---- */

static void test_reason(void **state)
{
	static const int codes[] = { 100, 200, 204, 400, 401, 403, 404, 405, 408, 411,
				     413, 415, 429, 431, 499, 500, 501, 502, 503, 504, 505 };

	assert_string_equal(http1_reason(200), "OK");
	assert_string_equal(http1_reason(404), "Not Found");
	assert_string_equal(http1_reason(499), "Client Closed Request");
	assert_string_equal(http1_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http1_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http1_reason(0), "Unknown");
	assert_string_equal(http1_reason(999), "Unknown");
	assert_string_equal(http1_reason(-200), "Unknown");
	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (strcmp(http1_reason(codes[i]), "Unknown") == 0)
			fail_msg("no reason for %d", codes[i]);
}

static void test_str_eq(void **state)
{
	struct http1_str s = { "Keep-Alive", 10 };
	struct http1_str empty = { NULL, 0 };

	assert_true(http1_str_eq(s, "Keep-Alive"));
	assert_false(http1_str_eq(s, "keep-alive"));
	assert_true(http1_str_ieq(s, "keep-alive"));
	assert_true(http1_str_ieq(s, "KEEP-ALIVE"));
	assert_false(http1_str_ieq(s, "keep-aliv"));
	assert_false(http1_str_ieq(s, "keep-alivee"));
	assert_true(http1_str_eq(empty, ""));
	assert_true(http1_str_ieq(empty, ""));
	assert_false(http1_str_ieq(empty, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_with_query),
		cmocka_unit_test(test_path_without_query),
		cmocka_unit_test(test_post_with_content_length),
		cmocka_unit_test(test_chunked_header),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_header_lookup_case_insensitive),
		cmocka_unit_test(test_whitespace_trimming),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_first_host_and_content_type_win),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_boundary_header_count),
		cmocka_unit_test(test_incremental_byte_at_a_time),
		cmocka_unit_test(test_incremental_errors_are_early_and_stable),
		cmocka_unit_test(test_bad_method),
		cmocka_unit_test(test_bad_target),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_header_syntax),
		cmocka_unit_test(test_long_value_every_offset),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_cl_and_te),
		cmocka_unit_test(test_differing_content_lengths),
		cmocka_unit_test(test_bad_content_length),
		cmocka_unit_test(test_bad_transfer_encoding),
		cmocka_unit_test(test_head_over_max),
		cmocka_unit_test(test_chunked_multiple),
		cmocka_unit_test(test_chunked_binary_data),
		cmocka_unit_test(test_chunked_extensions),
		cmocka_unit_test(test_chunked_trailers),
		cmocka_unit_test(test_chunked_byte_at_a_time),
		cmocka_unit_test(test_chunked_stops_at_end),
		cmocka_unit_test(test_chunked_bad_hex),
		cmocka_unit_test(test_chunked_overflow),
		cmocka_unit_test(test_chunked_missing_crlf_after_data),
		cmocka_unit_test(test_chunked_body_over_max),
		cmocka_unit_test(test_chunked_bad_trailers),
		cmocka_unit_test(test_chunked_error_is_sticky),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_str_eq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
