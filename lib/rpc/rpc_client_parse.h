/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC client's reading of a response, pure: header lines, gRPC framing and status, Connect error bodies. */
#ifndef DS_RPC_CLIENT_PARSE_H
#define DS_RPC_CLIENT_PARSE_H

#include <protobuf-c/protobuf-c.h>
#include "arena.h"
#include "buf.h"
#include "err.h"
#include "rpc_status.h"

/*
 * rpc_client.c feeds libcurl's header lines and the buffered body through
 * these; the fuzz target fuzz/fuzz_rpc_client_response.c feeds them bytes.
 * Nothing here allocates except into the buffers and arenas given.
 */

#define RPC_RESP_GRPC_PREFIX 5u          /* u8 flag, u32be length */
#define RPC_RESP_GRPC_STATUS_NONE (-1)   /* no grpc-status seen */
#define RPC_RESP_GRPC_STATUS_BAD (-2)    /* a grpc-status that is not 1..3 decimal digits */
#define RPC_RESP_CTYPE_MAX 96

/* What one response head (and, over HTTP/2, its trailers) said. */
struct rpc_resp_head {
	long status;                       /* from the last status line; 0 when none or malformed */
	int grpc_status;                   /* RPC_RESP_GRPC_STATUS_NONE / _BAD, or 0..999 */
	struct buf_writer grpc_msg;        /* percent-decoded grpc-message; the owner inits it (its cap) and frees it */
	char ctype[RPC_RESP_CTYPE_MAX];    /* content-type, truncated, NUL-terminated */
	int encoded;                       /* a content-encoding other than identity */
};

/* Forget what a previous head said (not `status`): a new head after a 1xx, or a new attempt. */
void rpc_resp_head_reset(struct rpc_resp_head *h);

/*
 * One header line as libcurl passes it, trailing CR/LF optional: a status
 * line ("HTTP/1.1 200 OK", "HTTP/2 200") resets the head and sets `status`;
 * grpc-status, grpc-message, content-type and content-encoding (names in
 * any case, values trimmed of blanks) are recorded; anything else is
 * ignored. Every copy is bounded. `line` borrowed.
 */
void rpc_resp_header_line(struct rpc_resp_head *h, const char *line, size_t n);

/* gRPC's percent-decoding of grpc-message: an invalid escape is kept as it is. Appends to `w`. */
void rpc_percent_decode(struct buf_writer *w, const char *s, size_t n);
/* 1..3 decimal digits as their value; RPC_RESP_GRPC_STATUS_BAD otherwise. */
int rpc_grpc_status_parse(const char *v, size_t n);
/* "application/json; charset=utf-8" is "application/json" (case-insensitive). `ctype` NUL-terminated. */
int rpc_media_type_is(const char *ctype, const char *want);
/* The message length a gRPC prefix declares. */
uint32_t rpc_grpc_prefix_len(const uint8_t prefix[RPC_RESP_GRPC_PREFIX]);

/*
 * A unary gRPC response body: exactly one uncompressed length-prefixed
 * message of at most `max` bytes. *msg points into `body`. Errors, with a
 * static *detail: ERR_PROTO_MALFORMED (no complete prefix, a flag other
 * than 0/1, a length past the body, trailing bytes), ERR_PROTO_COMPRESSED,
 * ERR_PROTO_TOO_LARGE (*detail NULL).
 */
err_t rpc_grpc_unframe(const uint8_t *body, size_t len, size_t max, const uint8_t **msg, size_t *msg_len,
		       const char **detail) MUST_CHECK;

/*
 * The outcome of a response: err ERR_OK with `resp`, or the failure with
 * the gRPC code a client reports and a message (not NUL-terminated; static,
 * or borrowed from the head, the body or `scratch`: copy it before any of
 * them changes).
 */
struct rpc_resp_outcome {
	err_t err;
	enum rpc_code code;
	ProtobufCMessage *resp;
	const char *msg;
	size_t msg_len;
};

/*
 * The code a gRPC client reports for a failure it detected itself: the
 * peer's response is at fault, so PROTO errors are INTERNAL
 * (RESOURCE_EXHAUSTED for one over our limit); others as rpc_code_from_err.
 */
enum rpc_code rpc_resp_local_code(err_t e);
/* A locally detected failure; `msg` (static, or NULL for err_str(e)) must outlive the outcome's use. */
void rpc_resp_set_local(struct rpc_resp_outcome *o, err_t e, const char *msg);

/*
 * A gRPC response: a grpc-status in the head or trailers wins; without one
 * a non-200 maps like gRPC clients do ("HTTP status N" in `scratch`);
 * grpc-status 0 needs an application/grpc content-type and one message,
 * decoded as `desc` into `a` (at most `max_response` bytes). `h` and
 * `body` borrowed.
 */
void rpc_resp_decode_grpc(const struct rpc_resp_head *h, const uint8_t *body, size_t len,
			  const ProtobufCMessageDescriptor *desc, size_t max_response, struct arena *a,
			  struct arena *scratch, struct rpc_resp_outcome *out);

/*
 * A Connect unary response: 200 with application/json (`json`) or
 * application/proto and no content-encoding is the message (into `a`);
 * anything else is an error whose JSON body ({"code","message"}, decoded
 * into `scratch`) gives the code, or the HTTP status does when the body is
 * empty, `truncated`, not that JSON, or has no known code.
 */
void rpc_resp_decode_connect(const struct rpc_resp_head *h, int json, const uint8_t *body, size_t len, int truncated,
			     const ProtobufCMessageDescriptor *desc, size_t max_response, struct arena *a,
			     struct arena *scratch, struct rpc_resp_outcome *out);

#endif
