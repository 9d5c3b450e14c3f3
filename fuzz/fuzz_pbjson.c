/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for lib/rpc/pbjson: decode arbitrary JSON into the all-types test message, and check that encoding is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dstack/test/v1/test.pb-c.h"
#include "pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (1u << 20)
/* The re-decode reads our own output, which may be longer than the input (base64 vs hex, quoted 64-bit ints). */
#define ARENA_BUDGET_AGAIN (8u << 20)
#define OUT_MAX (64u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

/*
 * decode(input) = m1 must be a valid protobuf-c message; then
 * encode(m1) = e1, decode(e1) = m2 must succeed, and encode(m2) must equal e1.
 */
static void roundtrip(const uint8_t *data, size_t size, const struct pbjson_opts *o)
{
	const ProtobufCMessageDescriptor *d = &dstack__test__v1__all_types__descriptor;
	struct arena a1, a2;
	struct buf_writer w1, w2;
	ProtobufCMessage *m1 = NULL, *m2 = NULL;
	const char *detail = NULL;
	err_t err;

	arena_init(&a1, ARENA_BUDGET, 0);
	arena_init(&a2, ARENA_BUDGET_AGAIN, 0);
	buf_writer_init(&w1, OUT_MAX);
	buf_writer_init(&w2, OUT_MAX);

	err = pbjson_decode(d, (const char *)data, size, o, &a1, &m1, &detail);
	if (err) {
		check(m1 == NULL);
		check(detail != NULL);
		goto out;
	}
	check(m1 != NULL && protobuf_c_message_check(m1));
	{
		size_t n = protobuf_c_message_get_packed_size(m1);
		uint8_t *p = arena_alloc(&a2, n ? n : 1);
		check(p != NULL && protobuf_c_message_pack(m1, p) == n);
	}
	check(pbjson_encode(m1, o, &w1) == ERR_OK);
	err = pbjson_decode(d, (const char *)w1.p, w1.len, o, &a2, &m2, &detail);
	check(err == ERR_OK);
	check(pbjson_encode(m2, o, &w2) == ERR_OK);
	check(w1.len == w2.len && memcmp(w1.p, w2.p, w1.len) == 0);
out:
	buf_writer_free(&w1);
	buf_writer_free(&w2);
	arena_fini(&a1);
	arena_fini(&a2);
}

/* pbjson_put_string of any bytes is a JSON string the decoder accepts; valid UTF-8 comes back unchanged. */
static void string_escape(const uint8_t *data, size_t size)
{
	static const struct pbjson_opts o = { .flavour = PBJSON_PROTO3 };
	struct arena a;
	struct buf_writer w;
	ProtobufCMessage *m = NULL;
	const Dstack__Test__V1__AllTypes *t;
	int has_nul = memchr(data, 0, size) != NULL;
	err_t err;

	arena_init(&a, ARENA_BUDGET_AGAIN, 0);
	buf_writer_init(&w, OUT_MAX);
	buf_put_str(&w, "{\"fString\":");
	pbjson_put_string(&w, (const char *)data, size);
	buf_put_u8(&w, '}');
	check(buf_writer_status(&w) == ERR_OK);
	err = pbjson_decode(&dstack__test__v1__all_types__descriptor, (const char *)w.p, w.len, &o, &a, &m, NULL);
	if (has_nul) {
		check(err == ERR_PROTO_ENCODING);
		goto out;
	}
	check(err == ERR_OK);
	t = (const Dstack__Test__V1__AllTypes *)m;
	/* Equal length means no byte was replaced by U+FFFD (which is three bytes for one). */
	if (strlen(t->f_string) == size)
		check(memcmp(t->f_string, data, size) == 0);
out:
	buf_writer_free(&w);
	arena_fini(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pbjson_opts flavours[] = {
		{ .flavour = PBJSON_PROTO3 },
		{ .flavour = PBJSON_DSTACK },
		{ .flavour = PBJSON_PROTO3, .ignore_unknown = 1, .emit_defaults = 1, .max_depth = 8 },
	};

	for (size_t i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++)
		roundtrip(data, size, &flavours[i]);
	if (size <= 4096)
		string_escape(data, size);
	return 0;
}
