/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz threshold-share input: EncryptedShare as JSON (custodian files) or protobuf (RecoverFromShares), then opening it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_shares.h"
#include "pbcodec.h"
#include "pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The recipient key of the seed corpus: 32 bytes of 0x42 (its shares were sealed to the matching public key). */
static const uint8_t SK[32] = { 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
				0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
				0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	ProtobufCMessage *m = NULL;
	struct buf_writer out;
	struct arena mem;
	const char *detail = NULL;
	err_t err;

	if (size < 1)
		return 0;
	arena_init(&mem, 4u << 20, 0);
	if (data[0] & 1)
		err = pb_decode(&dstack__kms__v1__encrypted_share__descriptor, data + 1, size - 1, 1u << 20, &mem, &m);
	else
		err = pbjson_decode(&dstack__kms__v1__encrypted_share__descriptor, (const char *)data + 1, size - 1, &jo,
				    &mem, &m, &detail);
	if (err == ERR_OK) {
		const kms_share *s = (const kms_share *)m;

		buf_writer_init(&out, KMS_SHARE_MAX_CIPHERTEXT);
		out.wipe = 1;
		err = kms_share_open(SK, s, &out);
		if (err == ERR_OK && out.len + 16 != s->ciphertext.len) {
			fprintf(stderr, "invariant: plaintext %zu for ciphertext %zu\n", out.len, s->ciphertext.len);
			abort();
		}
		buf_writer_free(&out);
	}
	arena_fini(&mem);
	return 0;
}
