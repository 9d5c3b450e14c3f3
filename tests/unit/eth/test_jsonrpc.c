/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC response validation and batch matching, Ethereum result parsers, and transport behaviour against loopback fake nodes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ethrpc.h"
#include "jsonrpc.h"

/* ---- pure response parsing ---- */

static err_t parse1(struct arena *a, const char *body, uint64_t id, struct jsonrpc_reply *r)
{
	return jsonrpc_parse_response(body, strlen(body), &id, 1, 0, a, r, NULL);
}

static void test_parse_single(void **state)
{
	struct arena a;
	struct jsonrpc_reply r;
	const char *why = NULL;
	uint64_t id = 7;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	assert_int_equal(parse1(&a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}", 7, &r), ERR_OK);
	assert_int_equal(r.err, ERR_OK);
	assert_int_equal(r.result->type, JSON_STRING);
	assert_string_equal(r.result->u.str.s, "0x1");
	/* Member order and unknown members do not matter; a null result is a result. */
	assert_int_equal(parse1(&a, " {\"result\":null,\"x\":[1],\"id\":7,\"jsonrpc\":\"2.0\"} ", 7, &r), ERR_OK);
	assert_int_equal(r.result->type, JSON_NULL);
	/* An error object is an answer. */
	assert_int_equal(parse1(&a,
				"{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32000,\"message\":\"execution reverted\","
				"\"data\":\"0x08c379a0\"}}",
				7, &r),
			 ERR_OK);
	assert_int_equal(r.err, JSONRPC_ERR_REMOTE);
	assert_int_equal(r.code, -32000);
	assert_string_equal(r.message, "execution reverted");
	assert_non_null(r.data);
	assert_null(r.result);
	/* A parse error from the server has a null id. */
	assert_int_equal(parse1(&a, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}",
				7, &r),
			 ERR_OK);
	assert_int_equal(r.err, JSONRPC_ERR_REMOTE);
	assert_int_equal(r.code, -32700);
	assert_null(r.data);
	assert_int_equal(jsonrpc_parse_response("{\"jsonrpc\":\"1.0\",\"id\":7,\"result\":1}", 35, &id, 1, 0, &a, &r,
						&why),
			 ERR_PROTO_MALFORMED);
	assert_string_equal(why, "jsonrpc is not \"2.0\"");
	arena_fini(&a);
}

static void test_parse_single_rejects(void **state)
{
	static const struct {
		const char *body;
		err_t want;
	} cases[] = {
		{ "{\"jsonrpc\":\"1.0\",\"id\":7,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":2.0,\"id\":7,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0 \",\"id\":7,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"id\":7,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7.0,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7e0,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":-7,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":[7],\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1,\"error\":{\"code\":1,\"message\":\"\"}}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":\"boom\"}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"message\":\"x\"}}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":\"-1\",\"message\":\"x\"}}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1.5,\"message\":\"x\"}}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":99999999999999999999,\"message\":\"x\"}}",
		  ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1}}", ERR_PROTO_MALFORMED },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1,\"message\":null}}", ERR_PROTO_MALFORMED },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1}]", ERR_PROTO_MALFORMED },
		{ "\"0x1\"", ERR_PROTO_MALFORMED },
		{ "null", ERR_PROTO_MALFORMED },
		/* Not JSON at all, truncated, duplicate keys, bad UTF-8, trailing garbage. */
		{ "", ERR_PROTO_JSON },
		{ "<html>502 Bad Gateway</html>", ERR_PROTO_JSON },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x", ERR_PROTO_JSON },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"id\":7,\"result\":1}", ERR_PROTO_JSON },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"\xff\"}", ERR_PROTO_ENCODING },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1}x", ERR_PROTO_JSON },
	};
	struct arena a;
	struct jsonrpc_reply r;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		err_t e = parse1(&a, cases[i].body, 7, &r);
		if (e != cases[i].want)
			fail_msg("case %zu (%s): got %s, want %s", i, cases[i].body, err_name(e), err_name(cases[i].want));
	}
	arena_fini(&a);
}

static void test_parse_depth_and_budget(void **state)
{
	struct arena a, tiny;
	struct jsonrpc_reply r;
	char *deep = malloc(4096);
	size_t n = 0;
	uint64_t id = 1;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	assert_non_null(deep);
	n += (size_t)snprintf(deep, 4096, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	assert_int_equal(jsonrpc_parse_response(deep, n, &id, 1, 0, &a, &r, NULL), ERR_PROTO_DEPTH);
	arena_init(&tiny, 512, 0);
	n = (size_t)snprintf(deep, 4096, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(deep + n, 4096 - n, "%s1", i ? "," : "");
	n += (size_t)snprintf(deep + n, 4096 - n, "]}");
	assert_int_equal(jsonrpc_parse_response(deep, n, &id, 1, 0, &tiny, &r, NULL), ERR_BUDGET);
	arena_fini(&tiny);
	free(deep);
	arena_fini(&a);
}

static void test_parse_batch(void **state)
{
	static const uint64_t ids[3] = { 10, 11, 12 };
	static const char *bad[] = {
		/* one missing */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3}]",
		/* one extra */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":11,\"result\":2},"
		"{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3},{\"jsonrpc\":\"2.0\",\"id\":13,\"result\":4}]",
		/* a repeated id in place of another */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":2},"
		"{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3}]",
		/* an id we never sent */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":2},"
		"{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3}]",
		/* a null id inside a batch */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,"
		"\"message\":\"m\"}},{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3}]",
		/* one bad member poisons the batch */
		"[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},{\"jsonrpc\":\"2.0\",\"id\":11},"
		"{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":3}]",
		"[]",
		"[1,2,3]",
		/* a single object with a result for a batch */
		"{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1}",
		/* a single error object with a real id for a batch */
		"{\"jsonrpc\":\"2.0\",\"id\":10,\"error\":{\"code\":1,\"message\":\"m\"}}",
	};
	const char *ok =
		"[{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":\"c\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":\"a\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":11,\"error\":{\"code\":-32601,\"message\":\"method not found\"}}]";
	const char *whole = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32005,\"message\":\"batch too large\"}}";
	struct arena a;
	struct jsonrpc_reply r[3];

	(void)state;
	arena_init(&a, 1 << 20, 0);
	/* Out of order: matched by id back into request order. */
	assert_int_equal(jsonrpc_parse_response(ok, strlen(ok), ids, 3, 1, &a, r, NULL), ERR_OK);
	assert_int_equal(r[0].err, ERR_OK);
	assert_string_equal(r[0].result->u.str.s, "a");
	assert_int_equal(r[1].err, JSONRPC_ERR_REMOTE);
	assert_int_equal(r[1].code, -32601);
	assert_int_equal(r[2].err, ERR_OK);
	assert_string_equal(r[2].result->u.str.s, "c");
	/* The whole batch refused with one error object. */
	assert_int_equal(jsonrpc_parse_response(whole, strlen(whole), ids, 3, 1, &a, r, NULL), ERR_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].err, JSONRPC_ERR_REMOTE);
		assert_int_equal(r[i].code, -32005);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_t e = jsonrpc_parse_response(bad[i], strlen(bad[i]), ids, 3, 1, &a, r, NULL);
		if (e != ERR_PROTO_MALFORMED)
			fail_msg("batch case %zu: got %s", i, err_name(e));
	}
	/* Argument checks. */
	assert_int_equal(jsonrpc_parse_response(ok, strlen(ok), ids, 0, 1, &a, r, NULL), ERR_INVALID_ARG);
	assert_int_equal(jsonrpc_parse_response(ok, strlen(ok), ids, 3, 0, &a, r, NULL), ERR_INVALID_ARG);
	arena_fini(&a);
}

/* ---- Ethereum values ---- */

static void test_quantities(void **state)
{
	static const struct {
		const char *s;
		err_t want;
		uint64_t v;
	} cases[] = {
		{ "0x0", ERR_OK, 0 },
		{ "0x1", ERR_OK, 1 },
		{ "0x1a", ERR_OK, 26 },
		{ "0xABCdef", ERR_OK, 0xabcdef },
		{ "0xffffffffffffffff", ERR_OK, UINT64_MAX },
		{ "0x10000000000000000", ERR_PROTO_TOO_LARGE, 0 },
		{ "0x1000000000000000000000000000000000", ERR_PROTO_TOO_LARGE, 0 },
		{ "0x", ERR_PROTO_ENCODING, 0 },
		{ "0x00", ERR_PROTO_ENCODING, 0 },
		{ "0x01", ERR_PROTO_ENCODING, 0 },
		{ "0X1", ERR_PROTO_ENCODING, 0 },
		{ "1", ERR_PROTO_ENCODING, 0 },
		{ "10", ERR_PROTO_ENCODING, 0 },
		{ "0xg", ERR_PROTO_ENCODING, 0 },
		{ "0x1 ", ERR_PROTO_ENCODING, 0 },
		{ " 0x1", ERR_PROTO_ENCODING, 0 },
		{ "-0x1", ERR_PROTO_ENCODING, 0 },
		{ "", ERR_PROTO_ENCODING, 0 },
	};
	uint8_t u[32], want[32];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		v = 12345;
		err_t e = eth_quantity_parse(cases[i].s, strlen(cases[i].s), &v);
		if (e != cases[i].want)
			fail_msg("%s: got %s", cases[i].s, err_name(e));
		if (e == ERR_OK)
			assert_true(v == cases[i].v);
	}
	/* Embedded NUL: the length decides. */
	assert_int_equal(eth_quantity_parse("0x1\0", 4, &v), ERR_PROTO_ENCODING);

	memset(want, 0xff, 32);
	assert_int_equal(eth_quantity_parse_u256("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 66, u),
			 ERR_OK);
	assert_memory_equal(u, want, 32);
	assert_int_equal(eth_quantity_parse_u256("0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 67, u),
			 ERR_PROTO_TOO_LARGE);
	assert_int_equal(eth_quantity_parse_u256("0xde0b6b3a7640000", 17, u), ERR_OK);
	memset(want, 0, 32);
	memcpy(want + 24, "\x0d\xe0\xb6\xb3\xa7\x64\x00\x00", 8);
	assert_memory_equal(u, want, 32);
	assert_int_equal(eth_quantity_parse_u256("0x00", 4, u), ERR_PROTO_ENCODING);
}

static void test_data(void **state)
{
	struct arena a;
	const uint8_t *p;
	size_t n;
	uint8_t h[32];

	(void)state;
	arena_init(&a, 1 << 20, 0);
	assert_int_equal(eth_data_parse("0x", 2, 100, &a, &p, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(eth_data_parse("0x00FFab", 8, 100, &a, &p, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "\x00\xff\xab", 3);
	assert_int_equal(eth_data_parse("0x0", 3, 100, &a, &p, &n), ERR_PROTO_ENCODING);
	assert_int_equal(eth_data_parse("00", 2, 100, &a, &p, &n), ERR_PROTO_ENCODING);
	assert_int_equal(eth_data_parse("0xzz", 4, 100, &a, &p, &n), ERR_PROTO_ENCODING);
	assert_int_equal(eth_data_parse("0x0000", 6, 1, &a, &p, &n), ERR_PROTO_TOO_LARGE);
	assert_int_equal(eth_data_parse_fixed("0x0102", 6, h, 2), ERR_OK);
	assert_int_equal(eth_data_parse_fixed("0x0102", 6, h, 32), ERR_PROTO_TOO_LARGE);
	assert_int_equal(eth_data_parse_fixed("0x01020", 7, h, 2), ERR_PROTO_ENCODING);
	assert_int_equal(eth_data_parse_fixed("0x01g2", 6, h, 2), ERR_PROTO_ENCODING);
	arena_fini(&a);
}

static struct json_value *J(struct arena *a, const char *s)
{
	struct json_value *v = NULL;

	assert_int_equal(json_parse(s, strlen(s), NULL, a, &v, NULL), ERR_OK);
	return v;
}

#define H32A "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H32B "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ADDR "0x5fbdb2315678afecb367f032d93f642f64180aa3"

static const char LOGS_JSON[] =
	"[{\"address\":\"" ADDR "\",\"topics\":[\"" H32A "\",\"" H32B "\"],\"data\":\"0x0102\","
	"\"blockNumber\":\"0x1b4\",\"blockHash\":\"" H32A "\",\"transactionHash\":\"" H32B "\","
	"\"transactionIndex\":\"0x0\",\"logIndex\":\"0x3\",\"removed\":false},"
	"{\"address\":\"" ADDR "\",\"topics\":[],\"data\":\"0x\",\"blockNumber\":\"0x1b5\",\"blockHash\":\"" H32B "\","
	"\"transactionHash\":\"" H32A "\",\"transactionIndex\":\"0x1\",\"logIndex\":\"0x0\",\"removed\":true,"
	"\"blockTimestamp\":\"0x5\"}]";

/* A log object with `key` set to `value` (JSON text), or left out when value is NULL. */
static void log_doc(char *out, size_t cap, const char *key, const char *value)
{
	static const char *const keys[] = { "address", "topics", "data", "blockNumber", "blockHash",
					    "transactionHash", "transactionIndex", "logIndex", "removed" };
	static const char *const vals[] = { "\"" ADDR "\"", "[\"" H32A "\"]", "\"0x0102\"", "\"0x1\"", "\"" H32A "\"",
					    "\"" H32B "\"", "\"0x0\"", "\"0x0\"", "false" };
	size_t n = 0;

	n += (size_t)snprintf(out + n, cap - n, "{");
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const char *v = vals[i];
		if (key && strcmp(key, keys[i]) == 0) {
			if (!value)
				continue;
			v = value;
		}
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%s", n > 1 ? "," : "", keys[i], v);
	}
	snprintf(out + n, cap - n, "}");
}

static void test_result_parsers(void **state)
{
	struct arena a;
	struct eth_block_header h;
	struct eth_log *logs = NULL;
	struct eth_receipt rc;
	char doc_ok[2048];
	size_t n = 0;
	uint64_t v;

	(void)state;
	arena_init(&a, 1 << 22, 0);
	assert_int_equal(eth_parse_quantity_result(J(&a, "\"0x7a69\""), &v), ERR_OK);
	assert_int_equal(v, 31337);
	assert_int_equal(eth_parse_quantity_result(J(&a, "31337"), &v), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(eth_parse_quantity_result(NULL, &v), ERR_PROTO_MALFORMED);

	assert_int_equal(eth_parse_block_header(J(&a, "{\"number\":\"0x1b4\",\"hash\":\"" H32A "\",\"parentHash\":\"" H32B
						     "\",\"timestamp\":\"0x6543\",\"miner\":\"x\"}"),
					 &h),
			 ERR_OK);
	assert_int_equal(h.number, 0x1b4);
	assert_int_equal(h.timestamp, 0x6543);
	assert_int_equal(h.hash[0], 0xaa);
	assert_int_equal(h.parent_hash[31], 0xbb);
	assert_int_equal(eth_parse_block_header(J(&a, "null"), &h), ERR_NOT_FOUND);
	assert_int_equal(eth_parse_block_header(J(&a, "[]"), &h), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(eth_parse_block_header(J(&a, "{\"number\":\"0x1b4\",\"hash\":\"" H32A "\",\"timestamp\":\"0x1\"}"),
					 &h),
			 ERR_PROTO_MALFORMED);
	assert_int_equal(eth_parse_block_header(J(&a, "{\"number\":\"0x01b4\",\"hash\":\"" H32A "\",\"parentHash\":\"" H32B
						     "\",\"timestamp\":\"0x1\"}"),
					 &h),
			 ERR_PROTO_ENCODING);
	assert_int_equal(eth_parse_block_header(J(&a, "{\"number\":\"0x1\",\"hash\":\"0xaaaa\",\"parentHash\":\"" H32B
						     "\",\"timestamp\":\"0x1\"}"),
					 &h),
			 ERR_PROTO_TOO_LARGE);
	assert_int_equal(eth_parse_block_header(J(&a, "{\"number\":\"0x1\",\"hash\":\"" H32A "\",\"parentHash\":\"" H32B
						     "\",\"timestamp\":\"0x100000000000000000\"}"),
					 &h),
			 ERR_PROTO_TOO_LARGE);

	assert_int_equal(eth_parse_logs(J(&a, LOGS_JSON), 0, &a, &logs, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(logs[0].address[0], 0x5f);
	assert_int_equal(logs[0].ntopics, 2);
	assert_int_equal(logs[0].topics[1][0], 0xbb);
	assert_int_equal(logs[0].data_len, 2);
	assert_int_equal(logs[0].block_number, 0x1b4);
	assert_int_equal(logs[0].log_index, 3);
	assert_int_equal(logs[0].removed, 0);
	assert_int_equal(logs[1].ntopics, 0);
	assert_int_equal(logs[1].data_len, 0);
	assert_int_equal(logs[1].removed, 1);
	assert_int_equal(logs[1].tx_index, 1);
	assert_int_equal(eth_parse_logs(J(&a, LOGS_JSON), 1, &a, &logs, &n), ERR_BUDGET);
	assert_int_equal(eth_parse_logs(J(&a, "{}"), 0, &a, &logs, &n), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(eth_parse_logs(J(&a, "[]"), 0, &a, &logs, &n), ERR_OK);
	assert_int_equal(n, 0);
	{
		static const struct {
			const char *key, *value;
			err_t want;
		} bad[] = {
			{ "topics", "[\"" H32A "\",\"" H32A "\",\"" H32A "\",\"" H32A "\",\"" H32A "\"]", ERR_PROTO_MALFORMED },
			{ "topics", "\"" H32A "\"", ERR_PROTO_FIELD_TYPE },
			{ "topics", "[\"0xaa\"]", ERR_PROTO_TOO_LARGE },
			{ "topics", NULL, ERR_PROTO_MALFORMED },
			{ "removed", "\"no\"", ERR_PROTO_FIELD_TYPE },
			{ "data", "\"0x1\"", ERR_PROTO_ENCODING },
			{ "data", "\"0xzz\"", ERR_PROTO_ENCODING },
			{ "logIndex", "null", ERR_PROTO_FIELD_TYPE },
			{ "logIndex", "\"0x00\"", ERR_PROTO_ENCODING },
			{ "blockNumber", NULL, ERR_PROTO_MALFORMED },
			{ "address", "\"0x5fbd\"", ERR_PROTO_TOO_LARGE },
			{ "transactionHash", "7", ERR_PROTO_FIELD_TYPE },
		};
		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			char doc[2048];
			struct eth_log l;
			log_doc(doc, sizeof(doc), bad[i].key, bad[i].value);
			err_t e = eth_parse_log(J(&a, doc), &a, &l);
			if (e != bad[i].want)
				fail_msg("log case %zu (%s): got %s", i, doc, err_name(e));
		}
		log_doc(doc_ok, sizeof(doc_ok), NULL, NULL);
		{
			struct eth_log l;
			assert_int_equal(eth_parse_log(J(&a, doc_ok), &a, &l), ERR_OK);
			/* "removed" may be absent. */
			log_doc(doc_ok, sizeof(doc_ok), "removed", NULL);
			assert_int_equal(eth_parse_log(J(&a, doc_ok), &a, &l), ERR_OK);
			assert_int_equal(l.removed, 0);
		}
	}

	assert_int_equal(eth_parse_receipt(J(&a, "{\"transactionHash\":\"" H32A "\",\"blockHash\":\"" H32B "\","
						"\"blockNumber\":\"0x2\",\"transactionIndex\":\"0x0\",\"from\":\"" ADDR "\","
						"\"to\":null,\"contractAddress\":\"" ADDR "\",\"gasUsed\":\"0x5208\","
						"\"status\":\"0x1\",\"logs\":[]}"),
					   &a, &rc),
			 ERR_OK);
	assert_int_equal(rc.status, 1);
	assert_int_equal(rc.has_to, 0);
	assert_int_equal(rc.has_contract_address, 1);
	assert_int_equal(rc.contract_address[0], 0x5f);
	assert_int_equal(rc.gas_used, 21000);
	assert_int_equal(eth_parse_receipt(J(&a, "null"), &a, &rc), ERR_NOT_FOUND);
	assert_int_equal(eth_parse_receipt(J(&a, "{\"transactionHash\":\"" H32A "\",\"blockHash\":\"" H32B "\","
						"\"blockNumber\":\"0x2\",\"transactionIndex\":\"0x0\",\"from\":\"" ADDR "\","
						"\"to\":null,\"contractAddress\":null,\"gasUsed\":\"0x5208\","
						"\"status\":\"0x2\",\"logs\":[]}"),
					   &a, &rc),
			 ERR_PROTO_MALFORMED);
	arena_fini(&a);
}

static void test_params(void **state)
{
	struct buf_writer w;
	struct eth_log_filter f;
	struct eth_tx_req req;
	struct eth_block_ref b;
	uint8_t addrs[2][20], topic[2][32], v[32];

	(void)state;
	buf_writer_init(&w, 1 << 16);
	memset(&f, 0, sizeof(f));
	memset(addrs[0], 0x11, 20);
	memset(addrs[1], 0x22, 20);
	memset(topic[0], 0xaa, 32);
	memset(topic[1], 0xbb, 32);
	f.addresses = (const uint8_t(*)[20])addrs;
	f.naddresses = 2;
	f.topics[0].any = (const uint8_t(*)[32])topic;
	f.topics[0].n = 2;
	f.topics[2].any = (const uint8_t(*)[32])topic + 1;
	f.topics[2].n = 1;
	f.ntopics = 4;
	f.from = eth_block_at(0x10);
	f.to = eth_block_at(0x20);
	eth_params_get_logs(&w, &f);
	assert_string_equal(buf_cstr(&w),
			    "[{\"fromBlock\":\"0x10\",\"toBlock\":\"0x20\",\"address\":["
			    "\"0x1111111111111111111111111111111111111111\",\"0x2222222222222222222222222222222222222222\"],"
			    "\"topics\":[[\"" H32A "\",\"" H32B "\"],null,[\"" H32B "\"]]}]");
	buf_writer_clear(&w);
	memset(&req, 0, sizeof(req));
	req.has_to = 1;
	memset(req.to, 0x33, 20);
	req.data = (const uint8_t *)"\x1e\x07\x91\x98";
	req.data_len = 4;
	req.has_value = 1;
	memset(v, 0, 32);
	req.has_gas = 1;
	req.gas = 21000;
	memcpy(req.value, v, 32);
	memset(&b, 0, sizeof(b));
	b.tag = ETH_BLOCK_HASH;
	memset(b.hash, 0xaa, 32);
	eth_params_call(&w, &req, &b);
	assert_string_equal(buf_cstr(&w), "[{\"to\":\"0x3333333333333333333333333333333333333333\",\"gas\":\"0x5208\","
					  "\"value\":\"0x0\",\"data\":\"0x1e079198\"},{\"blockHash\":\"" H32A
					  "\",\"requireCanonical\":true}]");
	buf_writer_clear(&w);
	b = eth_block_latest();
	eth_params_get_block(&w, &b, 0);
	b.tag = ETH_BLOCK_FINALIZED;
	eth_params_get_block(&w, &b, 1);
	memset(v, 0, 32);
	v[31] = 1;
	v[0] = 0x10;
	eth_put_quantity_u256(&w, v);
	assert_string_equal(buf_cstr(&w), "[\"latest\",false][\"finalized\",true]"
					  "\"0x1000000000000000000000000000000000000000000000000000000000000001\"");
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	buf_writer_free(&w);
}

/* ---- fake nodes on loopback ---- */

struct fake {
	int lfd;
	int port;
	int tag;
	pthread_t th;
	atomic_int stop;
	atomic_int requests;
	/* Behaviour, set before requests arrive. */
	int fail_first;          /* answer the first N requests with HTTP 503 */
	int delay_ms;            /* sleep before answering (the client may give up first) */
	int garbage;             /* 200 with a body that is not JSON */
	int reverse_batch;       /* answer batch members last to first */
	int drop_batch_member;   /* leave out the last batch answer */
	size_t big_body;         /* answer with this many bytes of padding inside the result */
};

static int read_request(int fd, char *buf, size_t cap, const char **body, size_t *blen)
{
	size_t n = 0;

	for (;;) {
		char *end;
		ssize_t k;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0)
			return -1;
		k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		buf[n] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			const char *cl = strcasestr(buf, "content-length:");
			size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
			size_t head = (size_t)(end + 4 - buf);
			while (n < head + want) {
				if (poll(&p, 1, 2000) <= 0)
					return -1;
				k = recv(fd, buf + n, cap - 1 - n, 0);
				if (k <= 0)
					return -1;
				n += (size_t)k;
			}
			buf[n] = 0;
			*body = buf + head;
			*blen = want;
			return 0;
		}
		if (n + 1 >= cap)
			return -1;
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void send_response(int fd, int status, const char *body, size_t n)
{
	char head[256];
	int hn = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, n);
	send_all(fd, head, (size_t)hn);
	send_all(fd, body, n);
}

/* One answer object for request object r. */
static void answer(struct fake *f, const struct json_value *r, struct buf_writer *w)
{
	const struct json_value *id = json_get(r, "id"), *m = json_get(r, "method"), *p = json_get(r, "params");

	buf_printf(w, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,", (int)id->raw_len, id->raw);
	if (strcmp(m->u.str.s, "eth_fail") == 0) {
		buf_put_str(w, "\"error\":{\"code\":-32000,\"message\":\"execution reverted\"}}");
		return;
	}
	if (strcmp(m->u.str.s, "eth_chainId") == 0) {
		buf_put_str(w, "\"result\":\"0x7a69\"}");
		return;
	}
	if (strcmp(m->u.str.s, "eth_getBlockByNumber") == 0) {
		buf_printf(w, "\"result\":{\"number\":\"0x%x\",\"hash\":\"" H32A "\",\"parentHash\":\"" H32B
			      "\",\"timestamp\":\"0x10\"}}",
			   f->tag);
		return;
	}
	if (strcmp(m->u.str.s, "eth_getLogs") == 0) {
		buf_printf(w, "\"result\":%s}", LOGS_JSON);
		return;
	}
	buf_printf(w, "\"result\":{\"server\":%d,\"method\":\"%s\",\"params\":%.*s,\"pad\":\"", f->tag, m->u.str.s,
		   (int)p->raw_len, p->raw);
	for (size_t i = 0; i < f->big_body; i++)
		buf_put_u8(w, 'x');
	buf_put_str(w, "\"}}");
}

static void serve_one(struct fake *f, int fd)
{
	static const int slice = 20;
	char *buf = malloc(1 << 20);
	const char *body = NULL;
	size_t blen = 0;
	struct arena a;
	struct json_value *req = NULL;
	struct buf_writer w;
	int nth;

	arena_init(&a, 1 << 22, 0);
	buf_writer_init(&w, 64 << 20);
	if (read_request(fd, buf, 1 << 20, &body, &blen) != 0)
		goto out;
	nth = atomic_fetch_add(&f->requests, 1);
	for (int waited = 0; waited < f->delay_ms && !atomic_load(&f->stop); waited += slice) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		/* Stop early when the client hangs up. */
		if (poll(&p, 1, slice) > 0)
			goto out;
	}
	if (nth < f->fail_first) {
		send_response(fd, 503, "busy", 4);
		goto out;
	}
	if (f->garbage) {
		send_response(fd, 200, "{\"jsonrpc\":\"2.0\",\"id\":", 22);
		goto out;
	}
	if (json_parse(body, blen, NULL, &a, &req, NULL) != ERR_OK) {
		send_response(fd, 400, "bad", 3);
		goto out;
	}
	if (req->type == JSON_ARRAY) {
		size_t n = req->u.arr.n - (f->drop_batch_member ? 1 : 0);
		buf_put_u8(&w, '[');
		for (size_t i = 0; i < n; i++) {
			size_t k = f->reverse_batch ? req->u.arr.n - 1 - i : i;
			if (i)
				buf_put_u8(&w, ',');
			answer(f, &req->u.arr.items[k], &w);
		}
		buf_put_u8(&w, ']');
	} else {
		answer(f, req, &w);
	}
	send_response(fd, 200, (const char *)w.p, w.len);
out:
	buf_writer_free(&w);
	arena_fini(&a);
	free(buf);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };
		int fd;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve_one(f, fd);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, int tag)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->tag = tag;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 16), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* A port nobody listens on: bind, read the port, close. */
static int dead_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

struct env {
	struct event_base *base;
	struct jsonrpc_client *c;
	char urls[4][64];
	const char *u[4];
	struct arena a;
};

static void env_open(struct env *e, const int *ports, size_t n, struct jsonrpc_opts *o)
{
	err_t err;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		snprintf(e->urls[i], sizeof(e->urls[i]), "http://127.0.0.1:%d/", ports[i]);
		e->u[i] = e->urls[i];
	}
	o->urls = e->u;
	o->nurls = n;
	if (!o->backoff_ms)
		o->backoff_ms = 10;
	e->base = event_base_new();
	assert_non_null(e->base);
	e->c = jsonrpc_client_new(e->base, o, &err);
	assert_non_null(e->c);
	assert_int_equal(err, ERR_OK);
	arena_init(&e->a, 64 << 20, 0);
}

static void env_close(struct env *e)
{
	jsonrpc_client_free(e->c);
	event_base_free(e->base);
	arena_fini(&e->a);
}

static int result_server(const struct jsonrpc_reply *r)
{
	int64_t v = -1;

	assert_int_equal(r->err, ERR_OK);
	assert_int_equal(json_get_i64(r->result, "server", &v), ERR_OK);
	return (int)v;
}

static void test_transport_single_and_batch(void **state)
{
	struct fake f;
	struct env e;
	struct jsonrpc_opts o = { 0 };
	struct jsonrpc_reply r[3];
	struct jsonrpc_info info;
	struct jsonrpc_req reqs[3] = { { "m_one", "[1]" }, { "eth_fail", NULL }, { "m_three", "{\"k\":3}" } };
	int port;

	(void)state;
	fake_start(&f, 1);
	f.reverse_batch = 1;
	port = f.port;
	env_open(&e, &port, 1, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m_single", "[\"0x1\",false]", &e.a, &r[0], &info), ERR_OK);
	assert_int_equal(result_server(&r[0]), 1);
	assert_int_equal(info.endpoint, 0);
	assert_int_equal(info.attempts, 1);
	assert_int_equal(info.http_status, 200);
	{
		const struct json_value *p = json_get(r[0].result, "params");
		assert_int_equal(p->raw_len, 13);
		assert_memory_equal(p->raw, "[\"0x1\",false]", 13);
	}

	/* A batch answered last to first comes back in request order. */
	assert_int_equal(jsonrpc_batch_sync(e.c, reqs, 3, &e.a, r, &info), ERR_OK);
	assert_int_equal(info.attempts, 1);
	assert_string_equal(json_get(r[0].result, "method")->u.str.s, "m_one");
	assert_int_equal(r[1].err, JSONRPC_ERR_REMOTE);
	assert_string_equal(r[1].message, "execution reverted");
	assert_string_equal(json_get(r[2].result, "method")->u.str.s, "m_three");

	/* A remote error is an answer: no retry, the text in detail. */
	assert_int_equal(jsonrpc_call_sync(e.c, "eth_fail", NULL, &e.a, &r[0], &info), JSONRPC_ERR_REMOTE);
	assert_int_equal(info.attempts, 1);
	assert_string_equal(info.detail, "code -32000: execution reverted");
	assert_int_equal(atomic_load(&f.requests), 3);

	/* Bad arguments start nothing. */
	assert_int_equal(jsonrpc_call_sync(e.c, "bad method", NULL, &e.a, &r[0], &info), ERR_INVALID_ARG);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", "1", &e.a, &r[0], &info), ERR_INVALID_ARG);
	assert_int_equal(jsonrpc_batch_sync(e.c, reqs, 0, &e.a, r, &info), ERR_INVALID_ARG);
	env_close(&e);
	fake_stop(&f);
}

static void test_transport_batch_missing_member(void **state)
{
	struct fake f;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 2 };
	struct jsonrpc_reply r[2];
	struct jsonrpc_info info;
	struct jsonrpc_req reqs[2] = { { "a", NULL }, { "b", NULL } };

	(void)state;
	fake_start(&f, 1);
	f.drop_batch_member = 1;
	env_open(&e, &f.port, 1, &o);
	assert_int_equal(jsonrpc_batch_sync(e.c, reqs, 2, &e.a, r, &info), ERR_PROTO_MALFORMED);
	assert_int_equal(info.attempts, 2);
	assert_int_equal(r[0].err, ERR_PROTO_MALFORMED);
	assert_int_equal(r[1].err, ERR_PROTO_MALFORMED);
	env_close(&e);
	fake_stop(&f);
}

static void test_transport_retry_5xx(void **state)
{
	struct fake f;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 3, .down_after = 10 };
	struct jsonrpc_reply r;
	struct jsonrpc_info info;
	struct jsonrpc_endpoint_info ei;

	(void)state;
	fake_start(&f, 1);
	f.fail_first = 2;
	env_open(&e, &f.port, 1, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.attempts, 3);
	jsonrpc_endpoint_get(e.c, 0, &ei);
	assert_int_equal(ei.ok, 1);
	assert_int_equal(ei.failed, 2);
	assert_int_equal(ei.consecutive_failures, 0);
	/* All attempts fail: the last failure is reported. */
	f.fail_first = 100;
	atomic_store(&f.requests, 0);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_PROTO_HTTP);
	assert_int_equal(info.attempts, 3);
	assert_int_equal(info.http_status, 503);
	assert_int_equal(r.err, ERR_PROTO_HTTP);
	assert_int_equal(atomic_load(&f.requests), 3);
	env_close(&e);
	fake_stop(&f);
}

static void test_transport_failover(void **state)
{
	struct fake b;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 3, .down_after = 1, .cooldown_ms = 60000 };
	struct jsonrpc_reply r;
	struct jsonrpc_info info;
	struct jsonrpc_endpoint_info ei;
	int ports[2];

	(void)state;
	fake_start(&b, 2);
	ports[0] = dead_port();
	ports[1] = b.port;
	env_open(&e, ports, 2, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(result_server(&r), 2);
	assert_int_equal(info.endpoint, 1);
	assert_int_equal(info.attempts, 2);
	jsonrpc_endpoint_get(e.c, 0, &ei);
	assert_int_equal(ei.down, 1);
	assert_int_equal(ei.last_err, ERR_IO_CONNECT);
	/* The dead endpoint is cooling down: the next call goes straight to the second. */
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 1);
	assert_int_equal(info.attempts, 1);
	assert_int_equal(atomic_load(&b.requests), 2);
	env_close(&e);
	fake_stop(&b);
}

static void test_transport_cooldown_expires(void **state)
{
	struct fake a, b;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 2, .down_after = 1, .cooldown_ms = 200 };
	struct jsonrpc_reply r;
	struct jsonrpc_info info;
	int ports[2];

	(void)state;
	fake_start(&a, 1);
	fake_start(&b, 2);
	a.fail_first = 1;
	ports[0] = a.port;
	ports[1] = b.port;
	env_open(&e, ports, 2, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 1);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 1);
	usleep(300 * 1000);
	/* Back in favour after the cooldown, and first in the list again. */
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 0);
	assert_int_equal(result_server(&r), 1);
	env_close(&e);
	fake_stop(&a);
	fake_stop(&b);
}

static void test_transport_timeout(void **state)
{
	struct fake slow, good;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 2, .timeout_ms = 200, .down_after = 5 };
	struct jsonrpc_reply r;
	struct jsonrpc_info info;
	uint64_t t0;
	int ports[2];

	(void)state;
	fake_start(&slow, 1);
	slow.delay_ms = 3000;
	env_open(&e, &slow.port, 1, &o);
	t0 = mono_ms();
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_IO_TIMEOUT);
	assert_int_equal(info.attempts, 2);
	assert_true(mono_ms() - t0 >= 400);
	assert_true(mono_ms() - t0 < 2500);
	env_close(&e);

	/* A slow first endpoint fails over to the second. */
	fake_start(&good, 2);
	ports[0] = slow.port;
	ports[1] = good.port;
	env_open(&e, ports, 2, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 1);
	assert_int_equal(result_server(&r), 2);
	env_close(&e);
	fake_stop(&slow);
	fake_stop(&good);
}

static void test_transport_garbage_and_size(void **state)
{
	struct fake bad, good, big;
	struct env e;
	struct jsonrpc_opts o = { .max_attempts = 2 };
	struct jsonrpc_reply r;
	struct jsonrpc_info info;
	int ports[2];

	(void)state;
	fake_start(&bad, 1);
	bad.garbage = 1;
	env_open(&e, &bad.port, 1, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_PROTO_JSON);
	assert_int_equal(info.attempts, 2);
	env_close(&e);

	fake_start(&good, 2);
	ports[0] = bad.port;
	ports[1] = good.port;
	env_open(&e, ports, 2, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_OK);
	assert_int_equal(info.endpoint, 1);
	env_close(&e);

	/* Over the response cap: not retried (it would be as large anywhere). */
	fake_start(&big, 3);
	big.big_body = 200000;
	o.max_response = 100000;
	env_open(&e, &big.port, 1, &o);
	assert_int_equal(jsonrpc_call_sync(e.c, "m", NULL, &e.a, &r, &info), ERR_PROTO_TOO_LARGE);
	assert_int_equal(info.attempts, 1);
	env_close(&e);
	fake_stop(&bad);
	fake_stop(&good);
	fake_stop(&big);
}

struct cb_rec {
	int calls;
	err_t err;
	size_t n;
};

static void on_rec(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *replies, size_t n)
{
	struct cb_rec *c = arg;

	c->calls++;
	c->err = info->err;
	c->n = n;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(replies[i].err, info->err == ERR_OK ? replies[i].err : info->err);
}

static void test_transport_cancel_and_free(void **state)
{
	struct fake slow;
	struct env e;
	struct jsonrpc_opts o = { 0 };
	struct jsonrpc_call *h = NULL;
	struct cb_rec r1 = { 0 }, r2 = { 0 };
	struct jsonrpc_req reqs[2] = { { "a", NULL }, { "b", NULL } };

	(void)state;
	fake_start(&slow, 1);
	slow.delay_ms = 2000;
	env_open(&e, &slow.port, 1, &o);
	assert_int_equal(jsonrpc_call(e.c, "m", NULL, NULL, on_rec, &r1, &h), ERR_OK);
	assert_int_equal(r1.calls, 0);   /* never from inside jsonrpc_call */
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	jsonrpc_cancel(h);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.err, ERR_CANCELLED);
	/* Freeing the client cancels what is pending. */
	assert_int_equal(jsonrpc_batch(e.c, reqs, 2, NULL, on_rec, &r2, NULL), ERR_OK);
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	jsonrpc_client_free(e.c);
	e.c = NULL;
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.err, ERR_CANCELLED);
	assert_int_equal(r2.n, 2);
	env_close(&e);
	fake_stop(&slow);
}

/* A callback that frees the client it was called from. */
struct free_in_cb {
	struct jsonrpc_client *c;
	int calls;
};

static void on_free_client(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *replies, size_t n)
{
	struct free_in_cb *f = arg;

	(void)info;
	(void)replies;
	(void)n;
	f->calls++;
	jsonrpc_client_free(f->c);
}

static void test_transport_free_from_callback(void **state)
{
	struct fake f;
	struct env e;
	struct jsonrpc_opts o = { 0 };
	struct free_in_cb fc = { 0 };

	(void)state;
	fake_start(&f, 1);
	env_open(&e, &f.port, 1, &o);
	fc.c = e.c;
	assert_int_equal(jsonrpc_call(e.c, "m", NULL, NULL, on_free_client, &fc, NULL), ERR_OK);
	while (fc.calls == 0)
		event_base_loop(e.base, EVLOOP_ONCE);
	e.c = NULL;   /* freed by the callback; ASan checks nothing touched it afterwards */
	env_close(&e);
	fake_stop(&f);
}

static void test_eth_helpers_on_fake(void **state)
{
	struct fake f;
	struct env e;
	struct jsonrpc_opts o = { 0 };
	struct eth_block_header h;
	struct eth_log_filter filt;
	struct eth_log *logs = NULL;
	struct eth_block_ref b = eth_block_latest();
	struct jsonrpc_info info;
	size_t n = 0;
	uint64_t id = 0;

	(void)state;
	fake_start(&f, 7);
	env_open(&e, &f.port, 1, &o);
	assert_int_equal(eth_chain_id(e.c, &id, &info), ERR_OK);
	assert_int_equal(id, 31337);
	assert_int_equal(eth_get_block_header(e.c, &b, &h, NULL), ERR_OK);
	assert_int_equal(h.number, 7);
	assert_int_equal(h.timestamp, 16);
	memset(&filt, 0, sizeof(filt));
	filt.from = eth_block_at(1);
	filt.to = eth_block_at(2);
	assert_int_equal(eth_get_logs(e.c, &filt, &e.a, &logs, &n, NULL), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(logs[1].removed, 1);
	/* The fake echoes unknown methods with an object: not a quantity. */
	assert_int_equal(eth_block_number(e.c, &id, NULL), ERR_PROTO_FIELD_TYPE);
	b.tag = ETH_BLOCK_HASH;
	assert_int_equal(eth_get_block_header(e.c, &b, &h, NULL), ERR_INVALID_ARG);
	env_close(&e);
	fake_stop(&f);
}

static void test_client_args(void **state)
{
	struct event_base *base = event_base_new();
	const char *bad1[] = { "ftp://x" }, *ok[] = { "http://127.0.0.1:1/" };
	const char *nine[9];
	struct jsonrpc_opts o = { 0 };
	err_t err;

	(void)state;
	assert_null(jsonrpc_client_new(base, &o, &err));
	assert_int_equal(err, ERR_INVALID_ARG);
	o.urls = bad1;
	o.nurls = 1;
	assert_null(jsonrpc_client_new(base, &o, &err));
	assert_int_equal(err, ERR_INVALID_ARG);
	for (int i = 0; i < 9; i++)
		nine[i] = ok[0];
	o.urls = nine;
	o.nurls = 9;
	assert_null(jsonrpc_client_new(base, &o, &err));
	assert_int_equal(err, ERR_INVALID_ARG);
	o.nurls = 8;
	{
		struct jsonrpc_client *c = jsonrpc_client_new(base, &o, &err);
		assert_non_null(c);
		assert_int_equal(jsonrpc_endpoint_count(c), 8);
		jsonrpc_client_free(c);
	}
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_single),
		cmocka_unit_test(test_parse_single_rejects),
		cmocka_unit_test(test_parse_depth_and_budget),
		cmocka_unit_test(test_parse_batch),
		cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_result_parsers),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_client_args),
		cmocka_unit_test(test_transport_single_and_batch),
		cmocka_unit_test(test_transport_batch_missing_member),
		cmocka_unit_test(test_transport_retry_5xx),
		cmocka_unit_test(test_transport_failover),
		cmocka_unit_test(test_transport_cooldown_expires),
		cmocka_unit_test(test_transport_timeout),
		cmocka_unit_test(test_transport_garbage_and_size),
		cmocka_unit_test(test_transport_cancel_and_free),
		cmocka_unit_test(test_transport_free_from_callback),
		cmocka_unit_test(test_eth_helpers_on_fake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
