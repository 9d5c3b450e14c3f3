/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the RPC client's response reading: header lines, grpc-status/-message, gRPC framing, Connect error JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dstack/test/v1/test.pb-c.h"
#include "rpc_client_parse.h"

/*
 * Input: [u8 flags][header lines, each ending in "\n"][an empty line][body].
 * flags bits 0-1 pick the wire (0 and 3 gRPC, 1 Connect proto, 2 Connect
 * JSON), bit 2 marks a Connect error body as truncated, bits 3-4 the
 * response limit. Lines go through rpc_resp_header_line as libcurl hands
 * them over (head and HTTP/2 trailers alike), then the body through the
 * decoder of the wire, into dstack.test.v1.AllTypes, as rpc_client.c does.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GRPC_MESSAGE_MAX 4096u

static void check(int ok)
{
	if (!ok)
		abort();
}

static const size_t max_responses[4] = { 0, 64, 4096, (size_t)4 << 20 };

static void check_head(const struct rpc_resp_head *h)
{
	check(h->status >= 0 && h->status <= 999);
	check(h->grpc_status == RPC_RESP_GRPC_STATUS_NONE || h->grpc_status == RPC_RESP_GRPC_STATUS_BAD ||
	      (h->grpc_status >= 0 && h->grpc_status <= 999));
	check(memchr(h->ctype, 0, sizeof(h->ctype)) != NULL);
	check(h->grpc_msg.len <= GRPC_MESSAGE_MAX);
}

static void check_outcome(const struct rpc_resp_outcome *o)
{
	volatile uint8_t sum = 0;

	check((o->err == ERR_OK) == (o->code == RPC_OK));
	check((o->err == ERR_OK) == (o->resp != NULL));
	check((unsigned)o->code < RPC_CODE_COUNT);
	check(o->msg != NULL || o->msg_len == 0);
	/* The message is read later (copied by call_finish): every byte must be there. */
	for (size_t i = 0; i < o->msg_len; i++)
		sum ^= (uint8_t)o->msg[i];
	(void)sum;
}

/* Pure pieces, checked against what they promise. */
static void check_pieces(const uint8_t *body, size_t len, size_t max)
{
	const uint8_t *msg = NULL;
	size_t msg_len = 0;
	const char *detail = NULL;
	err_t e = rpc_grpc_unframe(body, len, max, &msg, &msg_len, &detail);

	if (e == ERR_OK) {
		check(len >= RPC_RESP_GRPC_PREFIX && body[0] == 0 && msg == body + RPC_RESP_GRPC_PREFIX);
		check(msg_len == len - RPC_RESP_GRPC_PREFIX && msg_len <= max && rpc_grpc_prefix_len(body) == msg_len);
	} else {
		check(e == ERR_PROTO_MALFORMED || e == ERR_PROTO_COMPRESSED || e == ERR_PROTO_TOO_LARGE);
		check(msg == NULL && msg_len == 0 && (detail != NULL || e == ERR_PROTO_TOO_LARGE));
		if (len >= RPC_RESP_GRPC_PREFIX && body[0] == 0 && rpc_grpc_prefix_len(body) > max)
			check(e == ERR_PROTO_TOO_LARGE);
	}
}

/* Percent-decoding never grows the text, and undoes a full encoding of its output. */
static void check_percent(const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf_writer d, enc, d2;

	buf_writer_init(&d, n + 1);
	buf_writer_init(&enc, 3 * n + 1);
	buf_writer_init(&d2, n + 1);
	rpc_percent_decode(&d, v, n);
	check(buf_writer_status(&d) == ERR_OK && d.len <= n);
	for (size_t i = 0; i < d.len; i++) {
		buf_put_u8(&enc, '%');
		buf_put_u8(&enc, (uint8_t)hex[d.p[i] >> 4]);
		buf_put_u8(&enc, (uint8_t)hex[d.p[i] & 15]);
	}
	rpc_percent_decode(&d2, (const char *)enc.p, enc.len);
	check(buf_writer_status(&d2) == ERR_OK && d2.len == d.len && (d.len == 0 || !memcmp(d.p, d2.p, d.len)));
	buf_writer_free(&d);
	buf_writer_free(&enc);
	buf_writer_free(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_resp_head h;
	struct rpc_resp_outcome o;
	struct arena a, scratch;
	const uint8_t *p = data + 1, *end = data + size, *body;
	uint8_t flags;
	int wire;
	size_t max;

	if (size < 1)
		return 0;
	flags = data[0];
	wire = flags & 3;
	max = max_responses[(flags >> 3) & 3];
	if (max == 0)
		max = (size_t)1 << 20;

	memset(&h, 0, sizeof(h));
	buf_writer_init(&h.grpc_msg, GRPC_MESSAGE_MAX);
	rpc_resp_head_reset(&h);
	/* Header lines up to an empty one (libcurl passes the terminating "\r\n" too). */
	for (;;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *line = malloc(n ? n : 1);   /* exact size: an over-read is ASan's to see */

		check(line != NULL);
		memcpy(line, p, n);
		rpc_resp_header_line(&h, line, n);
		{
			/* A grpc-message value, alone, through the decoder. */
			const char *colon = memchr(line, ':', n);
			if (colon)
				check_percent(colon + 1, n - (size_t)(colon + 1 - line));
		}
		free(line);
		check_head(&h);
		p += n;
		if (!nl || n == 1 || (n == 2 && nl[-1] == '\r'))
			break;
	}
	body = p;

	arena_init(&a, (size_t)8 << 20, 0);
	arena_init(&scratch, (size_t)1 << 20, 0);
	if (wire == 1 || wire == 2)
		rpc_resp_decode_connect(&h, wire == 2, body, (size_t)(end - body), (flags >> 2) & 1,
					&dstack__test__v1__all_types__descriptor, max, &a, &scratch, &o);
	else
		rpc_resp_decode_grpc(&h, body, (size_t)(end - body), &dstack__test__v1__all_types__descriptor, max, &a,
				     &scratch, &o);
	check_outcome(&o);
	if (wire == 0 || wire == 3) {
		/* gRPC success needs grpc-status 0 and one frame. */
		if (o.err == ERR_OK)
			check(h.grpc_status == 0);
		if (h.grpc_status == RPC_RESP_GRPC_STATUS_BAD)
			check(o.err == ERR_PROTO_HEADER);
	} else if (o.err == ERR_OK) {
		check(h.status == 200 && !h.encoded);
	}
	check_pieces(body, (size_t)(end - body), max);
	arena_fini(&a);
	arena_fini(&scratch);
	buf_writer_free(&h.grpc_msg);
	return 0;
}
