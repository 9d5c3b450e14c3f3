/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the ABI decoder over several type descriptions (AppBootInfo, string[], nested) and event log decoding; decode-encode-decode must be stable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"

/*
 * Input: byte 0 picks a type from the table below (or, past its end, an
 * event: then the next 32 * k bytes are k topics, k from byte 1), the rest
 * is the encoding. Byte 0 == 0x7f instead takes a type string from the
 * input, up to a NUL, so the type parser and odd shapes get exercised too.
 * Whatever decodes must re-encode, and the canonical re-encoding must
 * decode and re-encode to the same bytes.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
	"(" ABI_APP_BOOT_INFO ")",
	"(string[])",
	ABI_IS_ALLOWED_RETURNS,
	"(uint256,uint32[],bytes10,bytes)",
	"(uint8,int16,bytes4,address,bool,string[],bytes[2],(uint256,string)[],int64,uint256[2])",
	"(bytes32,address,uint64)",
	"((uint8,string)[2][],int24)",
	"(bytes[][],string[3])",
	"(uint256[][2][])",
	"(" ABI_APP_BOOT_INFO "[])",
};

static const char *const events[] = {
	"Transfer(address indexed from,address indexed to,uint256 value)",
	"Named(string indexed name,uint64 indexed n,bytes data,string note)",
	"ComposeHashAdded(bytes32 composeHash)",
	"Anon(bytes32 indexed a,string b) anonymous",
};

#define ARENA_BUDGET ((size_t)16 << 20)

/* An invariant: abort with the failed expression so a crash report says which one. */
#define check(ok)                                                                          \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #ok); \
			abort();                                                           \
		}                                                                          \
	} while (0)

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	check(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

static void roundtrip(const struct abi_type *t, const struct abi_value *v, struct arena *a,
		      const struct abi_limits *lim)
{
	struct buf_writer w1, w2;
	struct abi_value *v2 = NULL;
	err_t e;

	buf_writer_init(&w1, (size_t)64 << 20);
	buf_writer_init(&w2, (size_t)64 << 20);
	e = abi_encode(t, v, &w1);
	/* Aliased tails can expand past the writer cap; anything else must encode. */
	check(e == ERR_OK || e == ERR_PROTO_TOO_LARGE);
	if (e == ERR_OK) {
		e = abi_decode(t, w1.p, w1.len, lim, a, &v2);
		check(e == ERR_OK || e == ERR_BUDGET || e == ERR_PROTO_TOO_LARGE);
		if (e == ERR_OK) {
			check(abi_encode(t, v2, &w2) == ERR_OK);
			check(w1.len == w2.len && (w1.len == 0 || memcmp(w1.p, w2.p, w1.len) == 0));
		}
	}
	buf_writer_free(&w1);
	buf_writer_free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abi_limits lim = { .max_items = 4096 };
	struct arena a;
	struct abi_value *v = NULL;
	uint8_t *copy = NULL;
	size_t sel;
	err_t e;

	if (size < 1)
		return 0;
	arena_init(&a, ARENA_BUDGET, 0);
	sel = data[0];
	if (sel == 0x7f) {
		const struct abi_type *t = NULL;
		const uint8_t *nul = memchr(data + 1, 0, size - 1);
		size_t tl = nul ? (size_t)(nul - (data + 1)) : 0;
		if (nul && abi_type_parse(&a, (const char *)data + 1, tl, &t) == ERR_OK && t->kind == ABI_TUPLE) {
			size_t off = 1 + tl + 1;
			struct buf_writer cw;
			/* The canonical form of a parsed type parses to the same canonical form ("uint" grows to
			 * "uint256", so it may pass the length cap and then is not compared). */
			buf_writer_init(&cw, 1 << 16);
			abi_type_canonical(t, &cw);
			check(buf_writer_status(&cw) == ERR_OK);
			if (cw.len <= ABI_MAX_TYPE_STRING) {
				const struct abi_type *t2 = NULL;
				struct buf_writer cw2;
				check(abi_type_parse(&a, (const char *)cw.p, cw.len, &t2) == ERR_OK);
				buf_writer_init(&cw2, 1 << 16);
				abi_type_canonical(t2, &cw2);
				check(cw2.len == cw.len && memcmp(cw.p, cw2.p, cw.len) == 0);
				buf_writer_free(&cw2);
			}
			buf_writer_free(&cw);
			copy = dup_exact(data + off, size - off);
			e = abi_decode(t, copy, size - off, &lim, &a, &v);
			check((e == ERR_OK) == (v != NULL));
			if (e == ERR_OK)
				roundtrip(t, v, &a, &lim);
		}
	} else if (sel % 32 < ARRAY_LEN(types)) {
		const struct abi_type *t = NULL;
		const char *ts = types[sel % 32];
		check(abi_type_parse(&a, ts, strlen(ts), &t) == ERR_OK);
		lim.allow_trailing = (sel & 0x80) != 0;
		copy = dup_exact(data + 1, size - 1);
		e = abi_decode(t, copy, size - 1, &lim, &a, &v);
		check((e == ERR_OK) == (v != NULL));
		if (e == ERR_OK)
			roundtrip(t, v, &a, &lim);
	} else {
		struct abi_event ev;
		const char *es = events[sel % ARRAY_LEN(events)];
		size_t k = size > 1 ? data[1] % 5 : 0;
		const uint8_t *rest = data + (size > 1 ? 2 : 1);
		size_t rest_len = size - (size > 1 ? 2 : 1);
		check(abi_event_parse(&a, es, &ev) == ERR_OK);
		if (rest_len < 32 * k)
			k = rest_len / 32;
		copy = dup_exact(rest, rest_len);
		e = abi_log_decode(&ev, (const uint8_t(*)[32])copy, k, copy + 32 * k, rest_len - 32 * k, &lim, &a, &v);
		if (e == ERR_OK) {
			check(v->u.list.n == ev.nparams);
			for (size_t i = 0; i < ev.nparams; i++)
				check(!v->u.list.items[i].hashed || ev.params[i].indexed);
		}
	}
	free(copy);
	arena_fini(&a);
	return 0;
}
