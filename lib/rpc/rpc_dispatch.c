/* SPDX-License-Identifier: Apache-2.0 */
/* The one request path: route, decode, validate, authorise, call, encode, map errors, reply. */
#include "rpc_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "enc.h"
#include "log.h"
#include "pbcodec.h"

static int ctype_is(const char *ct, size_t len, const char *want)
{
	size_t n = strlen(want);

	/* Exact match, or the media type followed by parameters ("; charset=utf-8"). */
	return len >= n && strncasecmp(ct, want, n) == 0 && (len == n || ct[n] == ';' || ct[n] == ' ');
}

static enum rpc_kind kind_from_ctype(const char *ct, size_t len)
{
	if (ctype_is(ct, len, "application/grpc") || ctype_is(ct, len, "application/grpc+proto"))
		return RPC_KIND_GRPC;
	if (ctype_is(ct, len, "application/grpc+json"))
		return RPC_KIND_GRPC_JSON;
	if (ctype_is(ct, len, "application/proto"))
		return RPC_KIND_CONNECT_PROTO;
	if (ctype_is(ct, len, "application/json"))
		return RPC_KIND_CONNECT_JSON;
	return RPC_KIND_NONE;
}

static int kind_is_grpc(enum rpc_kind k)
{
	return k == RPC_KIND_GRPC || k == RPC_KIND_GRPC_JSON;
}

static int kind_is_json(enum rpc_kind k)
{
	return k == RPC_KIND_GRPC_JSON || k == RPC_KIND_CONNECT_JSON;
}

void rpc_call_begin(struct rpc_call *c, const char *path, size_t path_len, const char *ctype, size_t ctype_len)
{
	/* Query strings do not select routes. */
	const char *q = memchr(path, '?', path_len);

	c->query = q ? arena_memdup(&c->arena, q + 1, path_len - (size_t)(q - path) - 1) : NULL;
	if (q)
		path_len = (size_t)(q - path);
	c->route = rpc_route_find(c->srv, path, path_len);
	if (c->route && c->route->type == ROUTE_HTTP) {
		c->kind = RPC_KIND_HTTP;
	} else {
		c->kind = kind_from_ctype(ctype, ctype_len);
		/* dstack's routes take JSON with or without a content type (SDKs and curl differ). */
		if (c->kind == RPC_KIND_NONE && c->route && c->route->flavour == PBJSON_DSTACK)
			c->kind = RPC_KIND_CONNECT_JSON;
	}
}

/* grpc-timeout: 1-8 digits and a unit (H M S m u n). Bad values are ignored, as gRPC servers do. */
void rpc_call_set_timeout_grpc(struct rpc_call *c, const char *v, size_t len)
{
	uint64_t n = 0, ms;

	if (len < 2 || len > 9)
		return;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	switch (v[len - 1]) {
	case 'H': ms = n * 3600000u; break;
	case 'M': ms = n * 60000u; break;
	case 'S': ms = n * 1000u; break;
	case 'm': ms = n; break;
	case 'u': ms = (n + 999) / 1000; break;
	case 'n': ms = (n + 999999) / 1000000; break;
	default: return;
	}
	c->deadline_ms = c->start_ns / 1000000u + ms;
}

void rpc_call_set_timeout_connect(struct rpc_call *c, const char *v, size_t len)
{
	uint64_t n = 0;

	if (len < 1 || len > 10)
		return;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	c->deadline_ms = c->start_ns / 1000000u + n;
}

/* grpc-message is percent-encoded: everything outside printable ASCII, and '%' itself. */
static const char *grpc_percent_encode(struct arena *a, const char *s)
{
	size_t n = strlen(s), k = 0;
	char *o = arena_alloc(a, 3 * n + 1);
	static const char hex[] = "0123456789ABCDEF";

	if (!o)
		return "";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
			o[k++] = (char)ch;
		} else {
			o[k++] = '%';
			o[k++] = hex[ch >> 4];
			o[k++] = hex[ch & 15];
		}
	}
	o[k] = 0;
	return o;
}

static void send_reply(struct rpc_call *c)
{
	struct rpc_conn *conn = c->conn;

	c->replied = 1;
	if (!conn) {
		rpc_call_free(c);
		return;
	}
	if (conn->proto == CONN_H2)
		rpc_h2_send_reply(c);
	else
		rpc_h1_send_reply(c);
}

static void account(struct rpc_call *c)
{
	uint64_t ns = mono_ns() - c->start_ns;

	if (c->route && c->route->type == ROUTE_METHOD) {
		c->route->stats->codes[c->code]++;
		metric_observe_ns(c->route->stats->latency, ns);
	}
	if (c->code != RPC_OK)
		log_info(rpc_call_log_prefix(c), "%s: %s (%.3f ms)", rpc_code_name(c->code), c->log_message ? c->log_message : "",
			 (double)ns / 1e6);
	else
		log_debug(rpc_call_log_prefix(c), "OK (%.3f ms)", (double)ns / 1e6);
}

/* Build the error reply for whichever protocol the call speaks. The single place errors become statuses. */
static void reply_error(struct rpc_call *c, int err, const char *detail)
{
	enum rpc_code code = rpc_code_from_err(err);
	const char *msg = detail ? detail : (c->detail ? c->detail : err_str(err));

	c->code = code;
	c->message = msg;
	c->log_message = msg;
	buf_writer_clear(&c->out);
	if (kind_is_grpc(c->kind)) {
		c->grpc_reply = 1;
		c->http_status = 200;
		c->content_type = c->kind == RPC_KIND_GRPC_JSON ? "application/grpc+json" : "application/grpc";
		c->message = grpc_percent_encode(&c->arena, msg);
	} else if (c->kind == RPC_KIND_CONNECT_JSON && c->route && c->route->flavour == PBJSON_DSTACK) {
		/* dstack's pRPC: HTTP 400 and {"error": "..."} (the SDKs look for the "error" key). */
		c->http_status = c->http_override ? c->http_override : 400;
		c->content_type = "application/json";
		buf_put_str(&c->out, "{\"error\":");
		pbjson_put_string(&c->out, msg, strlen(msg));
		buf_put_str(&c->out, "}");
	} else if (err == ERR_PROTO_CONTENT_TYPE) {
		c->http_status = 415;
		c->content_type = "application/json";
		buf_put_str(&c->out, "{\"code\":\"unknown\",\"message\":");
		pbjson_put_string(&c->out, msg, strlen(msg));
		buf_put_str(&c->out, "}");
	} else {
		/* Connect error JSON; the plain-HTTP routes use it too. */
		c->http_status = c->http_override ? c->http_override : rpc_code_http_status(code);
		c->content_type = "application/json";
		buf_printf(&c->out, "{\"code\":\"%s\",\"message\":", rpc_code_connect_name(code));
		pbjson_put_string(&c->out, msg, strlen(msg));
		buf_put_str(&c->out, "}");
	}
	account(c);
	send_reply(c);
}

void rpc_call_fail(struct rpc_call *c, int err, const char *detail)
{
	if (c->replied)
		return;
	c->done = 1;
	reply_error(c, err, detail);
}

static err_t decode_request(struct rpc_call *c, ProtobufCMessage **req, const char **detail)
{
	const ProtobufCMessageDescriptor *d = c->route->mdesc->input;
	const uint8_t *p = c->body.p;
	size_t n = c->body.len;
	size_t max = c->srv->o.max_message_size;

	if (kind_is_grpc(c->kind)) {
		struct buf_reader r;
		uint8_t flag;
		uint32_t len;

		buf_reader_init(&r, p, n);
		if (buf_get_u8(&r, &flag) || buf_get_u32be(&r, &len)) {
			*detail = "request has no complete gRPC message";
			return ERR_PROTO_TRUNCATED;
		}
		if (flag & 1) {
			*detail = "compressed messages are not supported (grpc-accept-encoding: identity)";
			return ERR_PROTO_COMPRESSED;
		}
		if (flag != 0) {
			*detail = "invalid gRPC message flags";
			return ERR_PROTO_MALFORMED;
		}
		if (len > max) {
			*detail = "request message exceeds the size limit";
			return ERR_PROTO_TOO_LARGE;
		}
		if (buf_get_view(&r, len, &p)) {
			*detail = "request message is shorter than its length prefix";
			return ERR_PROTO_TRUNCATED;
		}
		if (buf_expect_end(&r)) {
			*detail = "more than one message in a unary request";
			return ERR_PROTO_TRAILING;
		}
		n = len;
	}
	if (kind_is_json(c->kind)) {
		struct pbjson_opts o = { .flavour = c->route->flavour };
		/* An empty body is the empty message: curl -d '' and some SDKs send nothing for Empty. */
		if (n == 0)
			return (*req = pb_new(d, &c->arena)) ? ERR_OK : arena_err(&c->arena);
		return pbjson_decode(d, (const char *)p, n, &o, &c->arena, req, detail);
	}
	err_t err = pb_decode(d, p, n, max, &c->arena, req);
	if (err == ERR_PROTO_PROTOBUF)
		*detail = "request is not a valid protobuf message";
	else if (err == ERR_PROTO_ENCODING)
		*detail = "a string field is not valid UTF-8";
	return err;
}

/* Percent-decode s[0..n) ('+' is a space) into the arena, NUL-terminated; NULL on a bad escape. */
static char *query_decode(struct arena *a, const char *s, size_t n, size_t *len)
{
	char *o = arena_alloc(a, n + 1);
	size_t k = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			o[k++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hex_digit_value(s[i + 1])) < 0 || (lo = hex_digit_value(s[i + 2])) < 0)
				return NULL;
			o[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = 0;
	*len = k;
	return o;
}

/* A scalar query value as JSON for field f: strings and bytes quoted (bytes stay hex), bools and numbers bare. */
static int query_value_json(struct buf_writer *w, const ProtobufCFieldDescriptor *f, const char *v, size_t n)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
		pbjson_put_string(w, v, n);
		return 1;
	case PROTOBUF_C_TYPE_BOOL:
		if (n == 4 && memcmp(v, "true", 4) == 0)
			buf_put_str(w, "true");
		else if (n == 5 && memcmp(v, "false", 5) == 0)
			buf_put_str(w, "false");
		else if (n == 1 && (v[0] == '1' || v[0] == '0'))
			buf_put_str(w, v[0] == '1' ? "true" : "false");
		else
			return 0;
		return 1;
	case PROTOBUF_C_TYPE_MESSAGE:
		return 0;
	default:
		if (n == 0 || n > 24)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!((v[i] >= '0' && v[i] <= '9') || (i == 0 && v[i] == '-')))
				return 0;
		buf_put(w, v, n);
		return 1;
	}
}

/*
 * The query string of a GET on a dstack route as the JSON body it stands
 * for (serde_qs in dstack): k=v pairs by the message's field names,
 * percent-decoded; a repeated field takes every occurrence ("k" or "k[]");
 * unknown names are ignored as in the JSON body.
 */
static err_t dstack_query_body(struct rpc_call *c, const char **detail)
{
	const ProtobufCMessageDescriptor *d = c->route->mdesc->input;
	const char *q = c->query ? c->query : "";
	size_t qlen = strlen(q);
	struct buf_writer w;
	int first = 1;

	buf_writer_init(&w, c->srv->o.max_message_size);
	buf_put_u8(&w, '{');
	for (unsigned fi = 0; fi < d->n_fields; fi++) {
		const ProtobufCFieldDescriptor *f = &d->fields[fi];
		int repeated = f->label == PROTOBUF_C_LABEL_REPEATED, found = 0;
		size_t pos = 0;

		while (pos < qlen) {
			const char *amp = memchr(q + pos, '&', qlen - pos), *eq;
			size_t end = amp ? (size_t)(amp - q) : qlen, klen, vlen, kn = 0;
			char *key, *val;

			eq = memchr(q + pos, '=', end - pos);
			klen = eq ? (size_t)(eq - (q + pos)) : end - pos;
			key = query_decode(&c->arena, q + pos, klen, &kn);
			vlen = 0;
			val = eq ? query_decode(&c->arena, eq + 1, end - (size_t)(eq + 1 - q), &vlen)
				 : query_decode(&c->arena, "", 0, &vlen);
			pos = end + 1;
			if (!key || !val) {
				buf_writer_free(&w);
				*detail = "malformed percent-encoding in the query string";
				return ERR_PROTO_ENCODING;
			}
			if (kn >= 2 && key[kn - 2] == '[' && key[kn - 1] == ']')
				key[kn -= 2] = 0;
			if (strlen(key) != kn || strcmp(key, f->name) != 0)
				continue;
			if (found && !repeated) {
				buf_writer_free(&w);
				*detail = "a query parameter appears twice";
				return ERR_PROTO_JSON;
			}
			if (!found) {
				if (!first)
					buf_put_u8(&w, ',');
				pbjson_put_string(&w, f->name, strlen(f->name));
				buf_put_str(&w, repeated ? ":[" : ":");
				first = 0;
			} else {
				buf_put_u8(&w, ',');
			}
			found = 1;
			if (!query_value_json(&w, f, val, vlen)) {
				buf_writer_free(&w);
				*detail = "a query parameter has the wrong type for its field";
				return ERR_PROTO_FIELD_TYPE;
			}
		}
		if (found && repeated)
			buf_put_u8(&w, ']');
	}
	buf_put_u8(&w, '}');
	if (buf_writer_status(&w) != ERR_OK) {
		buf_writer_free(&w);
		*detail = "query string too large";
		return ERR_PROTO_TOO_LARGE;
	}
	buf_writer_clear(&c->body);
	buf_put(&c->body, w.p, w.len);
	buf_writer_free(&w);
	return buf_writer_status(&c->body);
}

static err_t authorise(struct rpc_call *c, unsigned flags, const char **detail)
{
	const struct tls_peer *peer = c->conn && c->conn->ssl ? tls_peer_get(c->conn->ssl) : NULL;

	if (flags & RPC_F_PUBLIC)
		return ERR_OK;
	if ((flags & RPC_F_ATTESTED) && peer && peer->present && peer->attested)
		return ERR_OK;
	if ((flags & RPC_F_PEER) && peer && peer->present && (peer->chain_ok || peer->attested))
		return ERR_OK;
	if (flags & RPC_F_ADMIN) {
		const char *tok = c->srv->o.admin_token;
		const char *h = c->authorization;
		if (c->conn && c->conn->is_unix && c->conn->has_peer_uid &&
		    (c->conn->peer_uid == 0 || c->conn->peer_uid == c->srv->uid))
			return ERR_OK;
		if (tok && h && strncasecmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == strlen(tok) &&
		    ct_equal(h + 7, tok, strlen(tok)))
			return ERR_OK;
		*detail = "this method needs the admin token";
		return h ? ERR_AUTH_PEER_REJECTED : ERR_AUTH_ADMIN_REQUIRED;
	}
	if (!peer || !peer->present) {
		*detail = "this method needs a client certificate";
		return ERR_AUTH_PEER_REQUIRED;
	}
	*detail = (flags & RPC_F_ATTESTED) ? "this method needs an attested (RA-TLS) peer" : "client certificate not accepted";
	return (flags & RPC_F_ATTESTED) ? ERR_AUTH_NOT_ATTESTED : ERR_AUTH_PEER_REJECTED;
}

static void finish(struct rpc_call *c, int err, ProtobufCMessage *resp)
{
	c->done = 1;
	if (c->deadline_ev)
		evtimer_del(c->deadline_ev);
	if (c->replied) {
		/* Already answered (deadline); the late result is dropped. */
		if (!c->conn)
			rpc_call_free(c);
		return;
	}
	if (!c->conn) {
		rpc_call_free(c);
		return;
	}
	if (err == ERR_OK && !resp)
		err = ERR_INTERNAL, c->detail = UNCONST("handler returned no response");
	if (err == ERR_OK && resp->descriptor != c->route->mdesc->output)
		err = ERR_INTERNAL, c->detail = UNCONST("handler returned the wrong message type");
	if (err != ERR_OK) {
		reply_error(c, err, NULL);
		return;
	}
	buf_writer_clear(&c->out);
	if (kind_is_grpc(c->kind)) {
		uint8_t *hdr = buf_reserve(&c->out, 5);
		if (hdr)
			buf_commit(&c->out, 5);
	}
	if (kind_is_json(c->kind)) {
		struct pbjson_opts o = { .flavour = c->route->flavour };
		err = pbjson_encode(resp, &o, &c->out);
	} else {
		err = pb_encode(resp, &c->out);
	}
	if (err == ERR_OK && kind_is_grpc(c->kind)) {
		size_t len = c->out.len - 5;
		if (len > c->srv->o.max_message_size) {
			err = ERR_PROTO_TOO_LARGE;
		} else {
			c->out.p[0] = 0;
			c->out.p[1] = (uint8_t)(len >> 24);
			c->out.p[2] = (uint8_t)(len >> 16);
			c->out.p[3] = (uint8_t)(len >> 8);
			c->out.p[4] = (uint8_t)len;
		}
	}
	if (err != ERR_OK) {
		reply_error(c, err == ERR_PROTO_TOO_LARGE ? ERR_PROTO_TOO_LARGE : ERR_INTERNAL,
			    "response could not be encoded within the size limit");
		return;
	}
	c->code = RPC_OK;
	c->http_status = 200;
	switch (c->kind) {
	case RPC_KIND_GRPC: c->content_type = "application/grpc"; c->grpc_reply = 1; break;
	case RPC_KIND_GRPC_JSON: c->content_type = "application/grpc+json"; c->grpc_reply = 1; break;
	case RPC_KIND_CONNECT_PROTO: c->content_type = "application/proto"; break;
	default: c->content_type = "application/json"; break;
	}
	account(c);
	send_reply(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_call *c = arg;

	(void)fd;
	(void)what;
	c->cancelled = 1;
	if (!c->replied && c->conn)
		reply_error(c, ERR_DEADLINE, "deadline exceeded");
}

static void finish_http(struct rpc_call *c)
{
	struct rpc_http_response *r = &c->http;

	if (buf_writer_status(&r->body) != ERR_OK) {
		buf_writer_free(&r->body);
		reply_error(c, ERR_INTERNAL, "response too large");
		return;
	}
	buf_writer_free(&c->out);
	c->out = r->body;
	memset(&r->body, 0, sizeof(r->body));
	c->http_status = r->status;
	c->content_type = r->content_type;
	c->code = r->status < 400 ? RPC_OK : rpc_code_from_http_status(r->status);
	c->done = 1;
	send_reply(c);
}

static void dispatch_http(struct rpc_call *c)
{
	struct rpc_http_request req = { c->route->path, c->query ? c->query : "", c->is_head };
	int rc;

	if (!c->is_get) {
		c->http_override = 405;
		rpc_call_fail(c, ERR_UNIMPLEMENTED, "only GET is allowed on this path");
		return;
	}
	c->http.status = 200;
	c->http.content_type = "text/plain; charset=utf-8";
	buf_writer_init(&c->http.body, 16u << 20);
	rc = c->route->http_fn(c->route->http_arg, c, &req, &c->http);
	if (rc == RPC_ASYNC) {
		c->async = 1;
		return;
	}
	finish_http(c);
}

void rpc_http_complete(struct rpc_call *c)
{
	if (c->done)
		return;
	if (!c->conn) {
		/* The client went away while we worked. */
		buf_writer_free(&c->http.body);
		c->done = 1;
		rpc_call_free(c);
		return;
	}
	finish_http(c);
}

void rpc_http_add_header(struct rpc_call *c, struct rpc_http_response *r, const char *name, const char *value)
{
	if (r->nheaders >= RPC_HTTP_MAX_HEADERS || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	r->headers[r->nheaders].name = arena_strdup(&c->arena, name);
	r->headers[r->nheaders].value = arena_strdup(&c->arena, value);
	if (r->headers[r->nheaders].name && r->headers[r->nheaders].value)
		r->nheaders++;
}

void rpc_dispatch(struct rpc_call *c)
{
	const char *detail = NULL;
	ProtobufCMessage *req = NULL, *resp = NULL;
	const struct rpc_method *impl;
	err_t err;
	int rc;

	if (c->replied)
		return;
	if (!c->route) {
		if (c->kind == RPC_KIND_NONE)
			c->kind = RPC_KIND_CONNECT_JSON;
		/* Connect and plain HTTP clients expect 404 for a path nobody serves. */
		c->http_override = 404;
		rpc_call_fail(c, ERR_UNKNOWN_METHOD, "unknown method or path");
		return;
	}
	if (c->route->type == ROUTE_HTTP) {
		dispatch_http(c);
		return;
	}
	if (!c->is_head_method_post && c->is_get && !c->is_head && c->route->flavour == PBJSON_DSTACK) {
		/* dstack serves its JSON routes to GET too, with the request in the query string. */
		err = dstack_query_body(c, &detail);
		if (err != ERR_OK) {
			c->kind = RPC_KIND_CONNECT_JSON;
			rpc_call_fail(c, err, detail);
			return;
		}
		c->kind = RPC_KIND_CONNECT_JSON;
		c->is_head_method_post = 1;
	}
	if (!c->is_head_method_post) {
		c->http_override = 405;
		if (c->kind == RPC_KIND_NONE)
			c->kind = RPC_KIND_CONNECT_JSON;
		rpc_call_fail(c, ERR_UNIMPLEMENTED, "RPC methods take POST");
		return;
	}
	if (c->kind == RPC_KIND_NONE) {
		rpc_call_fail(c, ERR_PROTO_CONTENT_TYPE,
			      "content-type must be application/grpc, application/json or application/proto");
		return;
	}
	if (c->srv->draining && !c->conn) {
		rpc_call_fail(c, ERR_SHUTTING_DOWN, NULL);
		return;
	}
	impl = c->route->impl;
	if (!impl || !impl->handler) {
		rpc_call_fail(c, ERR_UNIMPLEMENTED, "method not implemented yet");
		return;
	}
	err = authorise(c, impl->flags, &detail);
	if (err != ERR_OK) {
		rpc_call_fail(c, err, detail);
		return;
	}
	err = decode_request(c, &req, &detail);
	if (err == ERR_OK && impl->validate)
		err = impl->validate(req, &detail);
	if (err != ERR_OK) {
		rpc_call_fail(c, err, detail);
		return;
	}
	if (c->deadline_ms && mono_ms() >= c->deadline_ms) {
		rpc_call_fail(c, ERR_DEADLINE, "deadline passed before the call started");
		return;
	}
	rc = impl->handler(c, req, &resp);
	if (rc == RPC_ASYNC) {
		c->async = 1;
		if (c->deadline_ms && !c->done) {
			uint64_t now = mono_ms(), left = c->deadline_ms > now ? c->deadline_ms - now : 0;
			struct timeval tv = { (time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000) };
			c->deadline_ev = evtimer_new(c->srv->base, on_deadline, c);
			if (c->deadline_ev)
				evtimer_add(c->deadline_ev, &tv);
		}
		return;
	}
	finish(c, rc, resp);
}

/* --- handler API --- */

struct arena *rpc_call_arena(struct rpc_call *c)
{
	return &c->arena;
}

void *rpc_call_ctx(const struct rpc_call *c)
{
	return c->route && c->route->svc ? c->route->svc->ctx : NULL;
}

const struct tls_peer *rpc_call_peer(const struct rpc_call *c)
{
	return c->conn && c->conn->ssl ? tls_peer_get(c->conn->ssl) : NULL;
}

/* Formatted on first use: most calls never log. */
const char *rpc_call_log_prefix(struct rpc_call *c)
{
	if (!c->prefix[0])
		snprintf(c->prefix, sizeof(c->prefix), "c%llu s%d%s%s", (unsigned long long)c->conn_id, (int)c->stream_id,
			 c->route && c->route->type == ROUTE_METHOD ? " " : "",
			 c->route && c->route->type == ROUTE_METHOD ? c->route->path : "");
	return c->prefix;
}

uint64_t rpc_call_deadline_ms(const struct rpc_call *c)
{
	return c->deadline_ms;
}

void rpc_call_set_detail(struct rpc_call *c, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	c->detail = arena_strdup(&c->arena, tmp);
}

void rpc_call_complete(struct rpc_call *c, int err, ProtobufCMessage *resp)
{
	if (c->done)
		return;
	finish(c, err, resp);
}

void rpc_call_set_secret(struct rpc_call *c)
{
	c->arena.wipe = 1;
	c->out.wipe = 1;
	c->body.wipe = 1;
}

int rpc_call_cancelled(const struct rpc_call *c)
{
	return c->cancelled || !c->conn;
}
