/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the JSON-RPC response parser (single and batch matching) and the Ethereum result parsers behind it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ethrpc.h"
#include "jsonrpc.h"

/*
 * Input: byte 0 is the request shape (bit 0: sent as a batch; bits 1-3:
 * n - 1 ids for a batch; the ids sent are 1..n, or for bit 4 the ids
 * 2^64-n..2^64-1); the rest is the HTTP body. Every result of a valid
 * response also goes through each Ethereum result parser, whose outputs are
 * checked for their invariants: a quantity re-encodes to the same text, log
 * topic counts stay within 4, data lives in the arena.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET ((size_t)8 << 20)

/* An invariant: abort with the failed expression so a crash report says which one. */
#define check(ok)                                                                          \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #ok); \
			abort();                                                           \
		}                                                                          \
	} while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
	char *c = malloc(n ? n : 1);   /* exact size, so ASan sees any over-read */

	check(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

static void check_quantity(const struct json_value *v)
{
	uint64_t q;
	struct buf_writer w;

	if (eth_parse_quantity_result(v, &q) != ERR_OK)
		return;
	/* A strict quantity re-encodes to itself (digits compared without case). */
	buf_writer_init(&w, 64);
	eth_put_quantity(&w, q);
	check(buf_writer_status(&w) == ERR_OK);
	check(w.len == v->u.str.len + 2 && strncasecmp((const char *)w.p + 1, v->u.str.s, v->u.str.len) == 0);
	buf_writer_free(&w);
}

static void check_log(const struct eth_log *l)
{
	check(l->ntopics <= ETH_MAX_LOG_TOPICS);
	check(l->data != NULL);
	if (l->data_len)
		check(l->data[l->data_len] == 0);   /* the arena copy has its NUL */
}

static void check_result(const struct json_value *res, struct arena *a)
{
	struct eth_block_header h;
	struct eth_receipt rc;
	struct eth_log *logs = NULL;
	const uint8_t *p = NULL;
	uint8_t hash[32], u256[32];
	size_t n = 0;
	err_t e;

	check_quantity(res);
	if (res->type == JSON_STRING) {
		e = eth_quantity_parse_u256(res->u.str.s, res->u.str.len, u256);
		check(e == ERR_OK || e == ERR_PROTO_ENCODING || e == ERR_PROTO_TOO_LARGE);
	}
	if (eth_parse_data_result(res, a, &p, &n) == ERR_OK)
		check(p != NULL && 2 + 2 * n == res->u.str.len);
	e = eth_parse_hash_result(res, hash);
	check(e == ERR_OK || e == ERR_PROTO_ENCODING || e == ERR_PROTO_TOO_LARGE || e == ERR_PROTO_FIELD_TYPE);
	e = eth_parse_block_header(res, &h);
	check(e != ERR_NOT_FOUND || res->type == JSON_NULL);
	if (eth_parse_logs(res, 64, a, &logs, &n) == ERR_OK) {
		check(n <= 64 && n == res->u.arr.n);
		for (size_t i = 0; i < n; i++)
			check_log(&logs[i]);
	}
	if (eth_parse_receipt(res, a, &rc) == ERR_OK) {
		check(rc.status == 0 || rc.status == 1);
		for (size_t i = 0; i < rc.nlogs; i++)
			check_log(&rc.logs[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_reply replies[8];
	uint64_t ids[8];
	struct arena a;
	const char *detail = NULL;
	char *body;
	size_t n;
	int batch;
	err_t e;

	if (size < 1)
		return 0;
	batch = data[0] & 1;
	n = batch ? (size_t)((data[0] >> 1) & 7) + 1 : 1;
	for (size_t i = 0; i < n; i++)
		ids[i] = (data[0] & 0x10) ? UINT64_MAX - n + i : i + 1;
	body = dup_exact(data + 1, size - 1);
	arena_init(&a, ARENA_BUDGET, 0);
	e = jsonrpc_parse_response(body, size - 1, ids, n, batch, &a, replies, &detail);
	check(detail != NULL);
	if (e == ERR_OK) {
		for (size_t i = 0; i < n; i++) {
			const struct jsonrpc_reply *r = &replies[i];
			check(r->err == ERR_OK || r->err == JSONRPC_ERR_REMOTE);
			check((r->err == ERR_OK) == (r->result != NULL));
			check((r->err == JSONRPC_ERR_REMOTE) == (r->message != NULL));
			if (r->result)
				check_result(r->result, &a);
		}
	} else {
		check(e == ERR_PROTO_MALFORMED || e == ERR_PROTO_JSON || e == ERR_PROTO_ENCODING ||
		      e == ERR_PROTO_DEPTH || e == ERR_PROTO_TOO_LARGE || e == ERR_BUDGET);
	}
	arena_fini(&a);
	free(body);
	return 0;
}
