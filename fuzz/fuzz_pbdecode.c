/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the server's protobuf decode path: size limit, arena budget, UTF-8 check, then re-encode both ways. */
#include <stdlib.h>
#include <string.h>

#include "dstack/test/v1/test.pb-c.h"
#include "pbcodec.h"
#include "pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	ProtobufCMessage *m = NULL, *m2 = NULL;
	struct buf_writer w, w2, j;

	arena_init(&a, 256u << 10, 4096);
	buf_writer_init(&w, 1u << 20);
	buf_writer_init(&w2, 1u << 20);
	buf_writer_init(&j, 4u << 20);
	if (pb_decode(&dstack__test__v1__all_types__descriptor, data, size, 64u << 10, &a, &m) != ERR_OK)
		goto out;
	/* What we accepted must encode, and decoding that must give the same encoding. */
	if (pb_encode(m, &w) != ERR_OK)
		abort();
	if (pb_decode(&dstack__test__v1__all_types__descriptor, w.p, w.len, 1u << 20, &a, &m2) == ERR_OK) {
		if (pb_encode(m2, &w2) != ERR_OK || w.len != w2.len || memcmp(w.p, w2.p, w.len) != 0)
			abort();
	} else if (!a.exhausted) {
		abort();
	}
	/* And it must render as JSON in both flavours (a size-capped writer may refuse, never crash). */
	struct pbjson_opts o3 = { .flavour = PBJSON_PROTO3 }, od = { .flavour = PBJSON_DSTACK };
	if (pbjson_encode(m, &o3, &j) != ERR_OK && buf_writer_status(&j) == ERR_OK)
		abort();
	buf_writer_clear(&j);
	if (pbjson_encode(m, &od, &j) != ERR_OK && buf_writer_status(&j) == ERR_OK)
		abort();
out:
	buf_writer_free(&w);
	buf_writer_free(&w2);
	buf_writer_free(&j);
	arena_fini(&a);
	return 0;
}
