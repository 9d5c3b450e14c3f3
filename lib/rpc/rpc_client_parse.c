/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC client's reading of a response: header lines, gRPC framing and status, Connect error bodies. */
#include "rpc_client_parse.h"

#include <string.h>
#include <strings.h>

#include "pbcodec.h"
#include "pbjson.h"
#include "rpc_wire.pb-c.h"
#include "enc.h"

static int is_ascii_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* ---- header lines ---- */

void rpc_percent_decode(struct buf_writer *w, const char *s, size_t n)
{
	/* gRPC: an invalid escape is kept as is rather than dropping the message. */
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && n - i >= 3 && (hi = hex_digit_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_digit_value((unsigned char)s[i + 2])) >= 0) {
			buf_put_u8(w, (uint8_t)(hi << 4 | lo));
			i += 2;
		} else {
			buf_put_u8(w, (uint8_t)s[i]);
		}
	}
}

int rpc_grpc_status_parse(const char *v, size_t n)
{
	unsigned x = 0;

	if (n == 0 || n > 3)
		return RPC_RESP_GRPC_STATUS_BAD;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return RPC_RESP_GRPC_STATUS_BAD;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	return (int)x;
}

void rpc_resp_head_reset(struct rpc_resp_head *h)
{
	h->grpc_status = RPC_RESP_GRPC_STATUS_NONE;
	buf_writer_clear(&h->grpc_msg);
	h->ctype[0] = 0;
	h->encoded = 0;
}

void rpc_resp_header_line(struct rpc_resp_head *h, const char *p, size_t n)
{
	size_t colon;
	const char *v;
	size_t vn;

	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* "HTTP/1.1 200 OK" or "HTTP/2 200": three digits after the first space. */
		const char *sp = memchr(p, ' ', n);
		long st = 0;
		rpc_resp_head_reset(h);
		if (sp && (size_t)(p + n - sp) >= 4) {
			for (int i = 1; i <= 3; i++)
				st = (sp[i] >= '0' && sp[i] <= '9') ? st * 10 + (sp[i] - '0') : -1000;
		}
		h->status = st > 0 ? st : 0;
		return;
	}
	for (colon = 0; colon < n && p[colon] != ':'; colon++)
		;
	if (colon == n)
		return;
	v = p + colon + 1;
	vn = n - colon - 1;
	while (vn && is_ascii_space(*v)) {
		v++;
		vn--;
	}
	while (vn && is_ascii_space(v[vn - 1]))
		vn--;

	if (name_is(p, colon, "grpc-status")) {
		h->grpc_status = rpc_grpc_status_parse(v, vn);
	} else if (name_is(p, colon, "grpc-message")) {
		buf_writer_clear(&h->grpc_msg);
		rpc_percent_decode(&h->grpc_msg, v, vn);
	} else if (name_is(p, colon, "content-type")) {
		size_t k = MIN(vn, sizeof(h->ctype) - 1);
		memcpy(h->ctype, v, k);
		h->ctype[k] = 0;
	} else if (name_is(p, colon, "content-encoding")) {
		h->encoded = !(vn == 8 && strncasecmp(v, "identity", 8) == 0);
	}
}

int rpc_media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	if (strncasecmp(ctype, want, n) != 0)
		return 0;
	return ctype[n] == 0 || ctype[n] == ';' || is_ascii_space(ctype[n]);
}

/* ---- outcomes ---- */

enum rpc_code rpc_resp_local_code(err_t e)
{
	if (e == ERR_PROTO_TOO_LARGE)
		return RPC_RESOURCE_EXHAUSTED;
	if (err_group(e) == ERR_PROTO)
		return RPC_INTERNAL;
	return rpc_code_from_err(e);
}

void rpc_resp_set_local(struct rpc_resp_outcome *o, err_t e, const char *msg)
{
	o->err = e;
	o->code = rpc_resp_local_code(e);
	o->resp = NULL;
	o->msg = msg ? msg : err_str(e);
	o->msg_len = strlen(o->msg);
}

/* A status the server sent; `msg` (not NUL-terminated, may be NULL) is borrowed. */
static void set_remote(struct rpc_resp_outcome *o, enum rpc_code code, const char *msg, size_t len)
{
	if (code == RPC_OK || (unsigned)code >= RPC_CODE_COUNT)
		code = RPC_UNKNOWN;
	o->err = rpc_err_from_code(code);
	o->code = code;
	o->resp = NULL;
	o->msg = msg;
	o->msg_len = msg ? len : 0;
}

/* "HTTP status 503" in the scratch arena, for statuses that came without a usable message. */
static void set_http_status(struct rpc_resp_outcome *o, long status, struct arena *scratch)
{
	const char *m = arena_printf(scratch, "HTTP status %ld", status);

	set_remote(o, rpc_code_from_http_status((int)status), m, m ? strlen(m) : 0);
}

static void set_ok(struct rpc_resp_outcome *o, ProtobufCMessage *m)
{
	o->err = ERR_OK;
	o->code = RPC_OK;
	o->resp = m;
	o->msg = NULL;
	o->msg_len = 0;
}

/* ---- gRPC ---- */

uint32_t rpc_grpc_prefix_len(const uint8_t b[RPC_RESP_GRPC_PREFIX])
{
	return (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
}

err_t rpc_grpc_unframe(const uint8_t *body, size_t len, size_t max, const uint8_t **msg, size_t *msg_len,
		       const char **detail)
{
	struct buf_reader r;
	uint8_t flag;
	uint32_t n;
	err_t e;

	*msg = NULL;
	*msg_len = 0;
	*detail = NULL;
	buf_reader_init(&r, body, len);
	if (buf_get_u8(&r, &flag) != ERR_OK || buf_get_u32be(&r, &n) != ERR_OK) {
		*detail = "no response message";
		return ERR_PROTO_MALFORMED;
	}
	if (flag == 1) {
		*detail = "compressed response message";
		return ERR_PROTO_COMPRESSED;
	}
	if (flag != 0) {
		*detail = "bad message flag";
		return ERR_PROTO_MALFORMED;
	}
	e = buf_get_view_max(&r, n, max, msg);
	if (e == ERR_PROTO_TOO_LARGE)
		return e;
	if (e != ERR_OK || buf_expect_end(&r) != ERR_OK) {
		*msg = NULL;
		*detail = "bad response framing";
		return ERR_PROTO_MALFORMED;
	}
	*msg_len = n;
	return ERR_OK;
}

void rpc_resp_decode_grpc(const struct rpc_resp_head *h, const uint8_t *body, size_t len,
			  const ProtobufCMessageDescriptor *desc, size_t max_response, struct arena *a,
			  struct arena *scratch, struct rpc_resp_outcome *out)
{
	const uint8_t *msg;
	size_t msg_len;
	const char *detail;
	ProtobufCMessage *m = NULL;
	err_t e;

	/* A status in the head or trailers wins; without one, a non-200 is mapped like gRPC clients do. */
	if (h->grpc_status == RPC_RESP_GRPC_STATUS_BAD) {
		rpc_resp_set_local(out, ERR_PROTO_HEADER, "malformed grpc-status");
		return;
	}
	if (h->status != 200 && h->grpc_status <= 0) {
		set_http_status(out, h->status, scratch);
		return;
	}
	if (h->grpc_status == RPC_RESP_GRPC_STATUS_NONE) {
		/* gRPC's spec: a response without grpc-status is INTERNAL. */
		rpc_resp_set_local(out, ERR_PROTO_HTTP, "response without grpc-status");
		return;
	}
	if (h->grpc_status != 0) {
		set_remote(out, (enum rpc_code)(h->grpc_status < RPC_CODE_COUNT ? h->grpc_status : RPC_UNKNOWN),
			   (const char *)h->grpc_msg.p, h->grpc_msg.len);
		return;
	}
	if (strncasecmp(h->ctype, "application/grpc", 16) != 0 ||
	    (h->ctype[16] != 0 && h->ctype[16] != '+' && h->ctype[16] != ';')) {
		rpc_resp_set_local(out, ERR_PROTO_CONTENT_TYPE, "response content-type is not application/grpc");
		return;
	}
	e = rpc_grpc_unframe(body, len, max_response, &msg, &msg_len, &detail);
	if (e != ERR_OK) {
		rpc_resp_set_local(out, e, detail);
		return;
	}
	e = pb_decode(desc, msg, msg_len, max_response, a, &m);
	if (e != ERR_OK) {
		rpc_resp_set_local(out, e, NULL);
		return;
	}
	set_ok(out, m);
}

/* ---- Connect ---- */

static void decode_connect_error(const struct rpc_resp_head *h, const uint8_t *body, size_t len, int truncated,
				 struct arena *scratch, struct rpc_resp_outcome *out)
{
	const struct pbjson_opts jo = { .flavour = PBJSON_PROTO3, .ignore_unknown = 1 };
	ProtobufCMessage *m = NULL;
	const Dstack__Rpc__V1__ConnectError *ce;
	int code;

	if (truncated || len == 0 ||
	    pbjson_decode(&dstack__rpc__v1__connect_error__descriptor, (const char *)body, len, &jo, scratch, &m,
			  NULL) != ERR_OK) {
		set_http_status(out, h->status, scratch);
		return;
	}
	ce = (const Dstack__Rpc__V1__ConnectError *)m;
	/* Connect clients fall back to the HTTP status for a missing or unknown code (and "ok" is no error). */
	code = ce->code ? rpc_code_from_connect_name(ce->code, strlen(ce->code)) : -1;
	if (code <= 0) {
		set_http_status(out, h->status, scratch);
		if (ce->message && ce->message[0]) {
			out->msg = ce->message;
			out->msg_len = strlen(ce->message);
		}
		return;
	}
	set_remote(out, (enum rpc_code)code, ce->message, ce->message ? strlen(ce->message) : 0);
}

void rpc_resp_decode_connect(const struct rpc_resp_head *h, int json, const uint8_t *body, size_t len, int truncated,
			     const ProtobufCMessageDescriptor *desc, size_t max_response, struct arena *a,
			     struct arena *scratch, struct rpc_resp_outcome *out)
{
	ProtobufCMessage *m = NULL;
	err_t e;

	if (h->status != 200) {
		decode_connect_error(h, body, len, truncated, scratch, out);
		return;
	}
	if (!rpc_media_type_is(h->ctype, json ? "application/json" : "application/proto")) {
		rpc_resp_set_local(out, ERR_PROTO_CONTENT_TYPE, "unexpected response content-type");
		return;
	}
	if (h->encoded) {
		rpc_resp_set_local(out, ERR_PROTO_COMPRESSED, "compressed response");
		return;
	}
	if (json) {
		const struct pbjson_opts jo = { .flavour = PBJSON_PROTO3, .ignore_unknown = 1 };
		e = pbjson_decode(desc, (const char *)body, len, &jo, a, &m, NULL);
	} else {
		e = pb_decode(desc, body, len, max_response, a, &m);
	}
	if (e != ERR_OK) {
		rpc_resp_set_local(out, e, NULL);
		return;
	}
	set_ok(out, m);
}
