/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/2 connections with nghttp2: gRPC (and Connect) unary streams, trailers, flow control, GOAWAY. */
#include "rpc_internal.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"

#define H2_STREAM_WINDOW (1u << 20)
#define H2_CONN_WINDOW (8u << 20)

static struct rpc_call *stream_call(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct rpc_conn *c = arg;
	struct rpc_call *call;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = rpc_call_new(c, f->hd.stream_id);
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, call);
	return 0;
}

/* Header values we need later are copied into the call's arena, keyed by the few names we read. */
struct h2_req_headers {
	char *path, *ctype;
};

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
	struct rpc_call *call;

	(void)flags;
	(void)arg;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = stream_call(s, f->hd.stream_id);
	if (!call)
		return 0;
	/* nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on receipt. */
	call->header_bytes += namelen + valuelen + 32;
	if (call->header_bytes > call->srv->o.max_header_bytes)
		return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
	if (IS(":path")) {
		call->message = arena_memdup(&call->arena, value, valuelen); /* path until begin; reset there */
	} else if (IS(":method")) {
		call->is_head_method_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
		call->is_head = valuelen == 4 && memcmp(value, "HEAD", 4) == 0;
		call->is_get = call->is_head || (valuelen == 3 && memcmp(value, "GET", 3) == 0);
	} else if (IS("content-type")) {
		call->content_type = arena_memdup(&call->arena, value, valuelen);
	} else if (IS("grpc-timeout")) {
		rpc_call_set_timeout_grpc(call, (const char *)value, valuelen);
	} else if (IS("connect-timeout-ms")) {
		rpc_call_set_timeout_connect(call, (const char *)value, valuelen);
	} else if (IS("authorization")) {
		call->authorization = arena_memdup(&call->arena, value, valuelen);
	}
#undef IS
	return 0;
}

static void h2_begin(struct rpc_call *call)
{
	const char *path = call->message ? call->message : "";
	const char *ct = call->content_type ? call->content_type : "";

	rpc_call_begin(call, path, strlen(path), ct, strlen(ct));
	call->message = NULL;
	call->content_type = NULL;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct rpc_call *call;

	(void)arg;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	call = stream_call(s, f->hd.stream_id);
	if (!call)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		h2_begin(call);
		if (call->header_bytes > call->srv->o.max_header_bytes) {
			call->http_override = 431;
			call->rst_after_reply = !(f->hd.flags & NGHTTP2_FLAG_END_STREAM);
			rpc_call_fail(call, ERR_PROTO_TOO_LARGE, "request headers exceed the size limit");
			return 0;
		}
	}
	if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !call->replied)
		rpc_dispatch(call);
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *arg)
{
	struct rpc_call *call = stream_call(s, id);

	(void)flags;
	(void)arg;
	if (!call || call->replied)
		return 0;
	buf_put(&call->body, data, len);
	if (buf_writer_status(&call->body) != ERR_OK) {
		call->http_override = 413;
		call->rst_after_reply = 1;
		rpc_call_fail(call, ERR_PROTO_TOO_LARGE, "request message exceeds the size limit");
		return 0;
	}
	/* Refuse an oversized gRPC message as soon as its length prefix arrives. */
	if ((call->kind == RPC_KIND_GRPC || call->kind == RPC_KIND_GRPC_JSON) && call->body.len >= 5 &&
	    call->body.len - len < 5) {
		const uint8_t *p = call->body.p;
		uint32_t mlen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (mlen > call->srv->o.max_message_size) {
			call->rst_after_reply = 1;
			rpc_call_fail(call, ERR_PROTO_TOO_LARGE, "request message exceeds the size limit");
		}
	}
	return 0;
}

/*
 * A reply sent before the request ended (too large, timed out): once its last
 * frame is out, RST_STREAM(NO_ERROR) tells the client to stop sending
 * (RFC 9113 §8.1). Resetting earlier would discard the queued reply.
 */
static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct rpc_call *call;

	(void)arg;
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = stream_call(s, f->hd.stream_id);
	if (call && call->rst_after_reply) {
		call->rst_after_reply = 0;
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct rpc_call *call = stream_call(s, id);

	(void)code;
	(void)arg;
	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	rpc_call_detach(call);
	return 0;
}

err_t rpc_h2_callbacks_new(nghttp2_session_callbacks **out)
{
	nghttp2_session_callbacks *cbs;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return ERR_NOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	*out = cbs;
	return ERR_OK;
}

err_t rpc_h2_start(struct rpc_conn *c)
{
	struct rpc_server *s = c->srv;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->o.max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)s->o.max_header_bytes },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};

	if (nghttp2_session_server_new2(&c->h2, s->h2cbs, c, s->h2opt) != 0)
		return ERR_NOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, ARRAY_LEN(iv)) != 0 ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
		return ERR_NOMEM;
	c->deadline_ms = 0;
	return ERR_OK;
}

err_t rpc_h2_flush(struct rpc_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0)
			return ERR_PROTO;
		if (n == 0)
			break;
		if (evbuffer_add(out, data, (size_t)n) != 0)
			return ERR_NOMEM;
	}
	return ERR_OK;
}

/* After reading or writing: drop the connection when nghttp2 wants neither. */
static void h2_after_io(struct rpc_conn *c)
{
	if (rpc_h2_flush(c) != ERR_OK) {
		rpc_conn_free(c);
		return;
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		rpc_conn_close(c);
}

void rpc_h2_on_read(struct rpc_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	c->h2_in_recv = 1;
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[8];
		int n = evbuffer_peek(in, -1, NULL, v, ARRAY_LEN(v));
		size_t used = 0;

		for (int i = 0; i < n && i < (int)ARRAY_LEN(v); i++) {
			ssize_t r = nghttp2_session_mem_recv(c->h2, v[i].iov_base, v[i].iov_len);
			if (r < 0) {
				char pfx[32];
				snprintf(pfx, sizeof(pfx), "c%llu", (unsigned long long)c->id);
				log_debug(pfx, "HTTP/2 error: %s", nghttp2_strerror((int)r));
				metric_add(c->srv->m_proto_errors, 1);
				c->h2_in_recv = 0;
				/* nghttp2 queued a GOAWAY for protocol errors; send it, then close. */
				evbuffer_drain(in, evbuffer_get_length(in));
				if (rpc_h2_flush(c) == ERR_OK)
					rpc_conn_close(c);
				else
					rpc_conn_free(c);
				return;
			}
			used += (size_t)r;
		}
		evbuffer_drain(in, used);
	}
	c->h2_in_recv = 0;
	h2_after_io(c);
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *arg)
{
	struct rpc_call *call = src->ptr;
	size_t left = call->out.len - call->out_pos;
	size_t n = MIN(left, len);

	(void)arg;
	if (n)
		memcpy(buf, call->out.p + call->out_pos, n);
	call->out_pos += n;
	if (call->out_pos == call->out.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (call->grpc_reply) {
			static const nghttp2_nv ok[] = {
				{ UNCONST("grpc-status"), UNCONST("0"), 11, 1, NGHTTP2_NV_FLAG_NONE },
			};
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (nghttp2_submit_trailer(s, id, ok, ARRAY_LEN(ok)) != 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
	}
	return (ssize_t)n;
}

#define NV(n, v, vl) { UNCONST(n), UNCONST(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE }

void rpc_h2_send_reply(struct rpc_call *call)
{
	struct rpc_conn *c = call->conn;
	nghttp2_nv nva[6 + RPC_HTTP_MAX_HEADERS];
	size_t n = 0;
	char status[4], clen[24], gstatus[4];
	nghttp2_data_provider dp = { .source.ptr = call, .read_callback = read_body };
	int trailers_only = call->grpc_reply && call->code != RPC_OK;
	int rv;

	snprintf(status, sizeof(status), "%d", call->http_status);
	nva[n++] = (nghttp2_nv)NV(":status", status, strlen(status));
	nva[n++] = (nghttp2_nv)NV("content-type", call->content_type, strlen(call->content_type));
	if (call->grpc_reply) {
		nva[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity", 8);
		if (trailers_only) {
			snprintf(gstatus, sizeof(gstatus), "%d", (int)call->code);
			nva[n++] = (nghttp2_nv)NV("grpc-status", gstatus, strlen(gstatus));
			nva[n++] = (nghttp2_nv)NV("grpc-message", call->message, strlen(call->message));
		}
	} else {
		snprintf(clen, sizeof(clen), "%zu", call->out.len);
		nva[n++] = (nghttp2_nv)NV("content-length", clen, strlen(clen));
	}
	for (size_t i = 0; i < call->http.nheaders; i++) {
		/* HTTP/2 header names are lower case; ours are ASCII tokens, lowered in the arena. */
		char *name = arena_strdup(&call->arena, call->http.headers[i].name);
		const char *value = call->http.headers[i].value;
		if (!name)
			continue;
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		nva[n++] = (nghttp2_nv){ (uint8_t *)name, UNCONST(value), strlen(name), strlen(value),
					 NGHTTP2_NV_FLAG_NONE };
	}
	/* nghttp2 copies names and values during submit, so the stack buffers above are fine. */
	rv = nghttp2_submit_response(c->h2, call->stream_id, nva, n,
				     trailers_only || call->is_head || (!call->grpc_reply && call->out.len == 0) ? NULL
														 : &dp);
	if (rv != 0) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_INTERNAL_ERROR);
	}
	if (!c->h2_in_recv)
		h2_after_io(c);
}

void rpc_h2_shutdown(struct rpc_conn *c)
{
	/* Streams up to the last one we processed may finish; the peer opens no new ones. */
	nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
			      NGHTTP2_NO_ERROR, NULL, 0);
	h2_after_io(c);
}

void rpc_h2_sweep(struct rpc_conn *c, uint64_t now)
{
	struct rpc_server *s = c->srv;
	int any = 0;

	c->h2_in_recv = 1; /* replies below must not close the connection under this loop */
	for (struct rpc_call *call = c->calls, *n; call; call = n) {
		n = call->next;
		any = 1;
		if (!call->replied && !call->async && now > call->recv_deadline_ms) {
			metric_add(s->m_timeouts, 1);
			call->rst_after_reply = 1;
			call->http_override = 408;
			rpc_call_fail(call, ERR_IO_TIMEOUT, "request not received in time");
		}
	}
	c->h2_in_recv = 0;
	if (!any && now > c->last_active_ms + s->o.idle_timeout_ms) {
		metric_add(s->m_timeouts, 1);
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
		if (rpc_h2_flush(c) == ERR_OK)
			rpc_conn_close(c);
		else
			rpc_conn_free(c);
		return;
	}
	h2_after_io(c);
}
