/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 connections: Connect unary and plain routes, keep-alive, pipelining in order, timeouts. */
#include "rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "log.h"

enum { H1_HEAD = 0, H1_BODY, H1_CHUNKED, H1_BUSY };

void rpc_h1_start(struct rpc_conn *c)
{
	c->h1_state = H1_HEAD;
	c->h1_keep_alive = 1;
}

/* A response to a request we could not even parse; the connection closes after it. */
static void reply_raw_error(struct rpc_conn *c, int status, const char *code, const char *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"code\":\"%s\",\"message\":\"%s\"}", code, msg);

	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
			    "Connection: close\r\n\r\n%s",
			    status, http1_reason(status), n, body);
	metric_add(c->srv->m_proto_errors, 1);
	rpc_conn_close(c);
}

static void copy_header(struct rpc_call *call, const struct http1_request *req, const char *name, char **dst)
{
	const struct http1_str *v = http1_header_get(req, name);

	if (v)
		*dst = arena_memdup(&call->arena, v->p, v->len);
}

static void h1_begin_call(struct rpc_conn *c, const struct http1_request *req)
{
	struct rpc_call *call = rpc_call_new(c, 0);
	const struct http1_str *v;

	if (!call) {
		reply_raw_error(c, 503, "unavailable", "out of memory");
		return;
	}
	c->h1_call = call;
	call->is_head_method_post = req->method == HTTP1_POST;
	call->is_head = req->method == HTTP1_HEAD;
	call->is_get = req->method == HTTP1_GET || req->method == HTTP1_HEAD;
	rpc_call_begin(call, req->target.p, req->target.len, req->content_type.p, req->content_type.len);
	/* gRPC needs HTTP/2 trailers; over HTTP/1.1 only Connect and plain routes are served. */
	if (call->kind == RPC_KIND_GRPC || call->kind == RPC_KIND_GRPC_JSON)
		call->kind = RPC_KIND_NONE;
	copy_header(call, req, "authorization", &call->authorization);
	if ((v = http1_header_get(req, "connect-timeout-ms")))
		rpc_call_set_timeout_connect(call, v->p, v->len);
}

static void h1_dispatch(struct rpc_conn *c)
{
	struct rpc_call *call = c->h1_call;

	c->h1_state = H1_BUSY;
	c->deadline_ms = 0;
	rpc_dispatch(call);
}

/* Returns 1 to keep processing input, 0 to stop (waiting for bytes, busy, or closed). */
static int h1_step(struct rpc_conn *c)
{
	struct rpc_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail = evbuffer_get_length(in);

	switch (c->h1_state) {
	case H1_HEAD: {
		struct http1_request req;
		size_t take = MIN(avail, s->o.max_header_bytes);
		const char *p;
		int rc;

		if (avail == 0)
			return 0;
		if (!c->h1_head_started) {
			c->h1_head_started = 1;
			c->deadline_ms = mono_ms() + s->o.handshake_timeout_ms;
		}
		p = (const char *)evbuffer_pullup(in, (ssize_t)take);
		if (!p)
			return 0;
		/*
		 * The parser is stateless, so re-parsing on every byte of a slow
		 * client would be quadratic: re-parse only when a line ended.
		 */
		if (take < s->o.max_header_bytes && c->h1_scanned < take &&
		    !memchr(p + c->h1_scanned, '\n', take - c->h1_scanned)) {
			c->h1_scanned = take;
			return 0;
		}
		c->h1_scanned = take;
		rc = http1_parse_head(p, take, s->o.max_header_bytes, &req);
		if (rc == 0 && avail >= s->o.max_header_bytes)
			rc = ERR_PROTO_TOO_LARGE;
		if (rc == 0)
			return 0;
		if (rc < 0) {
			if (rc == ERR_PROTO_TOO_LARGE)
				reply_raw_error(c, 431, "resource_exhausted", "request head too large");
			else
				reply_raw_error(c, 400, "invalid_argument", "malformed HTTP/1.1 request");
			return 0;
		}
		c->h1_head_started = 0;
		c->h1_scanned = 0;
		c->h1_minor = req.minor_version;
		c->h1_keep_alive = req.keep_alive && !s->draining;
		h1_begin_call(c, &req);
		if (!c->h1_call)
			return 0;
		c->deadline_ms = c->h1_call->recv_deadline_ms;
		if (req.chunked) {
			memset(&c->h1_chunked, 0, sizeof(c->h1_chunked));
			c->h1_state = H1_CHUNKED;
		} else if (req.content_length > 0) {
			if ((uint64_t)req.content_length > c->h1_call->body.max) {
				/* We will not read the body, so the connection cannot continue. */
				c->h1_keep_alive = 0;
				c->h1_call->http_override = 413;
				evbuffer_drain(in, (size_t)rc);
				c->h1_state = H1_BUSY;
				rpc_call_fail(c->h1_call, ERR_PROTO_TOO_LARGE, "request body exceeds the size limit");
				return 0;
			}
			c->h1_body_need = (size_t)req.content_length;
			c->h1_state = H1_BODY;
		} else {
			c->h1_body_need = 0;
			c->h1_state = H1_BODY;
		}
		if (req.expect_continue && (c->h1_state == H1_CHUNKED || c->h1_body_need))
			evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
		evbuffer_drain(in, (size_t)rc);
		return 1;
	}
	case H1_BODY: {
		size_t n = MIN(avail, c->h1_body_need);
		if (n) {
			uint8_t *dst = buf_reserve(&c->h1_call->body, n);
			if (!dst || evbuffer_remove(in, dst, n) != (int)n) {
				reply_raw_error(c, 500, "internal", "cannot buffer request body");
				return 0;
			}
			buf_commit(&c->h1_call->body, n);
			c->h1_body_need -= n;
		}
		if (c->h1_body_need)
			return 0;
		h1_dispatch(c);
		return 1;
	}
	case H1_CHUNKED: {
		size_t used = 0;
		const uint8_t *p;
		int rc;

		if (avail == 0)
			return 0;
		p = evbuffer_pullup(in, (ssize_t)avail);
		if (!p)
			return 0;
		rc = http1_chunked_feed(&c->h1_chunked, p, avail, &c->h1_call->body, &used);
		evbuffer_drain(in, used);
		if (rc < 0) {
			c->h1_keep_alive = 0;
			c->h1_state = H1_BUSY;
			if (rc == ERR_PROTO_TOO_LARGE)
				c->h1_call->http_override = 413;
			rpc_call_fail(c->h1_call, rc, rc == ERR_PROTO_TOO_LARGE ? "request body exceeds the size limit"
										  : "malformed chunked body");
			return 0;
		}
		if (rc == 0)
			return 0;
		h1_dispatch(c);
		return 1;
	}
	default:
		return 0; /* busy: later requests wait in the buffer, answered in order */
	}
}

void rpc_h1_on_read(struct rpc_conn *c)
{
	c->h1_in_read = 1;
	while (!c->closing && h1_step(c))
		;
	/* h1_step may have freed the connection only through rpc_conn_close, which defers while output is pending. */
	c->h1_in_read = 0;
}

/* Appends text to a head being built; returns the new length, or cap + 1 once it does not fit. */
static size_t head_put(char *h, size_t len, size_t cap, const char *p, size_t n)
{
	if (len > cap || n > cap - len)
		return cap + 1;
	memcpy(h + len, p, n);
	return len + n;
}

static size_t head_str(char *h, size_t len, size_t cap, const char *s)
{
	return head_put(h, len, cap, s, strlen(s));
}

static size_t head_u64(char *h, size_t len, size_t cap, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i);
	return head_put(h, len, cap, d + i, sizeof(d) - i);
}

/*
 * The status line and headers, formatted by hand (this runs once per
 * request). Returns the length, or 0 when they do not fit in cap bytes.
 */
static size_t format_head(const struct rpc_call *call, int minor, int keep, char *h, size_t cap)
{
	size_t n = 0;

	n = head_str(h, n, cap, minor ? "HTTP/1.1 " : "HTTP/1.0 ");
	n = head_u64(h, n, cap, (uint64_t)call->http_status);
	n = head_str(h, n, cap, " ");
	n = head_str(h, n, cap, http1_reason(call->http_status));
	n = head_str(h, n, cap, "\r\nContent-Type: ");
	n = head_str(h, n, cap, call->content_type ? call->content_type : "application/octet-stream");
	n = head_str(h, n, cap, "\r\nContent-Length: ");
	n = head_u64(h, n, cap, call->out.len);
	n = head_str(h, n, cap, "\r\n");
	if (!keep)
		n = head_str(h, n, cap, "Connection: close\r\n");
	else if (minor == 0)
		n = head_str(h, n, cap, "Connection: keep-alive\r\n");
	for (size_t i = 0; i < call->http.nheaders; i++) {
		n = head_str(h, n, cap, call->http.headers[i].name);
		n = head_str(h, n, cap, ": ");
		n = head_str(h, n, cap, call->http.headers[i].value);
		n = head_str(h, n, cap, "\r\n");
	}
	n = head_str(h, n, cap, "\r\n");
	return n > cap ? 0 : n;
}

/*
 * Queue iov on the connection. Cleartext connections with nothing queued
 * write straight to the socket first (the common case: the whole reply
 * fits in the socket buffer), which spares the event loop a write-event
 * registration and removal per request; whatever the socket does not take
 * goes to the bufferevent, which sends it in order and reports errors.
 */
static void h1_send(struct rpc_conn *c, struct iovec *iov, int n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ssize_t w = 0;

	if (!c->ssl && evbuffer_get_length(out) == 0) {
		do
			w = writev(bufferevent_getfd(c->bev), iov, n);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			w = 0; /* EAGAIN, or an error the bufferevent will meet and report */
	}
	for (int i = 0; i < n; i++) {
		size_t skip = MIN((size_t)w, iov[i].iov_len);

		w -= (ssize_t)skip;
		if (iov[i].iov_len > skip)
			evbuffer_add(out, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
	}
}

void rpc_h1_send_reply(struct rpc_call *call)
{
	struct rpc_conn *c = call->conn;
	char head[4096];
	int keep = c->h1_keep_alive && !c->srv->draining;
	struct iovec iov[2];
	size_t n = format_head(call, c->h1_minor, keep, head, sizeof(head));

	if (!n) {
		/* Only handler-set headers can be this long: a server bug, answered as one. */
		log_error(NULL, "response head over %zu bytes; answering 500", sizeof(head));
		call->http_status = 500;
		call->http.nheaders = 0;
		call->out.len = 0;
		n = format_head(call, c->h1_minor, keep, head, sizeof(head));
	}
	iov[0] = (struct iovec){ head, n };
	/* HEAD gets the Content-Length of the body it would have had, and no body. */
	iov[1] = (struct iovec){ call->out.p, call->is_head ? 0 : call->out.len };
	h1_send(c, iov, iov[1].iov_len ? 2 : 1);
	c->h1_call = NULL;
	/* An async handler still running (its deadline answered for it) keeps the call until it completes. */
	rpc_call_detach(call);
	if (!keep) {
		rpc_conn_close(c);
		return;
	}
	c->h1_state = H1_HEAD;
	c->deadline_ms = mono_ms() + c->srv->o.idle_timeout_ms;
	/* An async reply: pipelined requests may be waiting in the buffer. */
	if (!c->h1_in_read)
		rpc_h1_on_read(c);
}

void rpc_h1_shutdown(struct rpc_conn *c)
{
	c->h1_keep_alive = 0;
	/* Idle or mid-head connections go now; one being served closes after its reply. */
	if (c->proto == CONN_SNIFF || c->h1_state == H1_HEAD)
		rpc_conn_free(c);
}
