/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the HTTP/1.x head parser and chunked decoder: bounds, incremental consistency, limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define FUZZ_MAX_HEAD 8192
#define FUZZ_MAX_BODY (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Exact-size heap copy, so ASan reports any read past the bytes handed over. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static void check_view(struct http1_str v, const uint8_t *base, size_t len)
{
	const char *b = (const char *)base;

	if (v.len == 0)
		return;
	if (!v.p || v.p < b || v.len > len || (size_t)(v.p - b) > len - v.len)
		abort();
}

static void check_head(const struct http1_request *req, const uint8_t *buf, size_t head_len)
{
	const struct http1_str *v;

	check_view(req->method_str, buf, head_len);
	check_view(req->target, buf, head_len);
	check_view(req->path, buf, head_len);
	check_view(req->query, buf, head_len);
	check_view(req->content_type, buf, head_len);
	check_view(req->host, buf, head_len);
	if (req->nheaders > HTTP1_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		check_view(h->name, buf, head_len);
		check_view(h->value, buf, head_len);
		if (h->name.len == 0)
			abort();
		/* Values are trimmed. */
		if (h->value.len && (h->value.p[0] == ' ' || h->value.p[0] == '\t' ||
				     h->value.p[h->value.len - 1] == ' ' || h->value.p[h->value.len - 1] == '\t'))
			abort();
	}
	if (req->method_str.len == 0 || req->target.len == 0 || req->target.p[0] != '/')
		abort();
	if (req->path.p != req->target.p || req->path.len > req->target.len)
		abort();
	if (req->minor_version != 0 && req->minor_version != 1)
		abort();
	if (req->content_length < -1 || req->content_length > (INT64_C(1) << 53))
		abort();
	if (req->chunked && req->content_length != -1)
		abort();
	if ((v = http1_header_get(req, "content-type")) != NULL) {
		check_view(*v, buf, head_len);
		if (v->p != req->content_type.p || v->len != req->content_type.len)
			abort();
	}
}

static int is_head_err(int rc)
{
	return rc == ERR_PROTO_TOO_LARGE || rc == ERR_PROTO_HTTP || rc == ERR_PROTO_HEADER;
}

/* Feed `body` as one piece or split in two; the outcome must not depend on the split. */
static int feed_body(const uint8_t *body, size_t n, size_t split, struct buf_writer *w, size_t *total)
{
	struct http1_chunked c;
	size_t pieces[2], off = 0, used;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	pieces[0] = split;
	pieces[1] = n - split;
	*total = 0;
	for (int i = 0; i < 2; i++) {
		uint8_t *p = dup_exact(body + off, pieces[i]);

		used = (size_t)-1;
		rc = http1_chunked_feed(&c, p, pieces[i], w, &used);
		free(p);
		if (used > pieces[i])
			abort();
		if (rc == 0 && used != pieces[i])
			abort();
		*total += used;
		off += pieces[i];
		if (rc != 0)
			break;
	}
	if (rc != 0 && rc != 1 && rc != ERR_PROTO_HTTP && rc != ERR_PROTO_TOO_LARGE)
		abort();
	if (w->len > FUZZ_MAX_BODY)
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_request req, req2;
	struct buf_writer w1, w2;
	size_t split = 0, body_off, body_len, t1 = 0, t2 = 0;
	uint8_t *buf;
	int rc, rc2, f1, f2;

	if (size >= 2)
		split = (((size_t)data[size - 1] << 8) | data[size - 2]) % (size + 1);

	buf = dup_exact(data, size);
	rc = http1_parse_head((const char *)buf, size, FUZZ_MAX_HEAD, &req);
	if (rc > 0) {
		if ((size_t)rc > size || rc > FUZZ_MAX_HEAD)
			abort();
		check_head(&req, buf, (size_t)rc);
	} else if (rc == 0) {
		/* "Need more" is only allowed while the limit has not been reached. */
		if (size >= FUZZ_MAX_HEAD)
			abort();
	} else if (!is_head_err(rc)) {
		abort();
	}

	/* A prefix either needs more or already has the final verdict. */
	{
		uint8_t *pre = dup_exact(data, split);

		rc2 = http1_parse_head((const char *)pre, split, FUZZ_MAX_HEAD, &req2);
		free(pre);
		if (rc2 != 0 && rc2 != rc)
			abort();
		if (rc2 > 0 && (req2.nheaders != req.nheaders || req2.content_length != req.content_length ||
				 req2.chunked != req.chunked || req2.keep_alive != req.keep_alive))
			abort();
	}

	/* A smaller limit: a complete head either fits it or is refused as too large. */
	if (rc > 0) {
		rc2 = http1_parse_head((const char *)buf, size, split, &req2);
		if ((size_t)rc <= split ? rc2 != rc : rc2 != ERR_PROTO_TOO_LARGE)
			abort();
	}

	/* The bytes after the head (or all of them) as a chunked body, one-shot and split. */
	body_off = rc > 0 ? (size_t)rc : 0;
	body_len = size - body_off;
	buf_writer_init(&w1, FUZZ_MAX_BODY);
	buf_writer_init(&w2, FUZZ_MAX_BODY);
	f1 = feed_body(buf + body_off, body_len, body_len, &w1, &t1);
	f2 = feed_body(buf + body_off, body_len, split <= body_len ? split : body_len / 2, &w2, &t2);
	if (f1 != f2)
		abort();
	if (f1 >= 0 && t1 != t2)
		abort();
	if (w1.len != w2.len || (w1.len && memcmp(w1.p, w2.p, w1.len) != 0))
		abort();
	buf_writer_free(&w1);
	buf_writer_free(&w2);
	free(buf);
	return 0;
}
