/* SPDX-License-Identifier: Apache-2.0 */
/* kms_shares: the share envelope binds set, index and threshold; only the recipient opens it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_shares.h"
#include "pbcodec.h"
#include "pbjson.h"
#include "x25519.h"

static uint8_t SK[32], PUB[32], SET[KMS_SHARE_SET_ID_LEN];
static const uint8_t SHARE[] = { 3, 'r', 'o', 'o', 't', ' ', 's', 't', 'a', 't', 'e' };

static int setup(void **state)
{
	(void)state;
	memset(SK, 0x42, sizeof(SK));
	memset(SET, 0x5e, sizeof(SET));
	return x25519_public_key(SK, PUB) == ERR_OK ? 0 : -1;
}

static err_t open_share(const kms_share *s, struct buf_writer *out)
{
	buf_writer_clear(out);
	return kms_share_open(SK, s, out);
}

static void test_round_trip_and_binding(void **state)
{
	struct arena mem;
	struct buf_writer out;
	kms_share s;
	uint8_t other_sk[32];

	(void)state;
	arena_init(&mem, 1u << 20, 0);
	buf_writer_init(&out, 1u << 16);
	assert_int_equal(kms_share_seal(PUB, SET, 3, 2, 5, SHARE, sizeof(SHARE), &mem, &s), ERR_OK);
	assert_int_equal(open_share(&s, &out), ERR_OK);
	assert_int_equal(out.len, sizeof(SHARE));
	assert_memory_equal(out.p, SHARE, sizeof(SHARE));

	/* Index, threshold and total are authenticated: moving a share fails. */
	s.index = 4;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_DECRYPT);
	s.index = 3;
	s.threshold = 1;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_DECRYPT);
	s.threshold = 2;
	s.share_set_id.data[0] ^= 1;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_DECRYPT);
	s.share_set_id.data[0] ^= 1;
	s.ciphertext.data[0] ^= 1;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_DECRYPT);
	s.ciphertext.data[0] ^= 1;
	assert_int_equal(open_share(&s, &out), ERR_OK);

	/* Someone else's key: refused before any decryption. */
	memset(other_sk, 0x17, sizeof(other_sk));
	buf_writer_clear(&out);
	assert_int_equal(kms_share_open(other_sk, &s, &out), ERR_INVALID_ARG);
	/* Malformed envelopes. */
	s.encryption = DSTACK__KMS__V1__SHARE_ENCRYPTION__SHARE_ENCRYPTION_UNSPECIFIED;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_MALFORMED);
	s.encryption = DSTACK__KMS__V1__SHARE_ENCRYPTION__SHARE_ENCRYPTION_X25519_AES256GCM;
	s.nonce.len = 11;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_MALFORMED);
	s.nonce.len = 12;
	s.index = 0;
	assert_int_equal(open_share(&s, &out), ERR_PROTO_MALFORMED);
	buf_writer_free(&out);
	arena_fini(&mem);
}

static void test_commitment(void **state)
{
	uint8_t a[32], b[32], set2[KMS_SHARE_SET_ID_LEN];

	(void)state;
	kms_share_commitment(SET, SHARE, sizeof(SHARE), a);
	kms_share_commitment(SET, SHARE, sizeof(SHARE), b);
	assert_memory_equal(a, b, 32);
	memcpy(set2, SET, sizeof(set2));
	set2[15] ^= 1;
	kms_share_commitment(set2, SHARE, sizeof(SHARE), b);
	assert_memory_not_equal(a, b, 32);
	kms_share_commitment(SET, SHARE, sizeof(SHARE) - 1, b);
	assert_memory_not_equal(a, b, 32);
}

/* DS_KMS_WRITE_CORPUS=<fuzz/corpus> writes seeds for fuzz_kms_share (JSON and protobuf forms). */
static void test_write_corpus(void **state)
{
	const char *dir = getenv("DS_KMS_WRITE_CORPUS");
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	struct buf_writer w;
	struct arena mem;
	kms_share s;
	char path[512];
	FILE *f;

	(void)state;
	if (!dir)
		skip();
	arena_init(&mem, 1u << 20, 0);
	assert_int_equal(kms_share_seal(PUB, SET, 3, 2, 5, SHARE, sizeof(SHARE), &mem, &s), ERR_OK);
	for (int form = 0; form < 2; form++) {
		buf_writer_init(&w, 1u << 20);
		buf_put_u8(&w, (uint8_t)form);
		assert_int_equal(form ? pb_encode(&s.base, &w) : pbjson_encode(&s.base, &jo, &w), ERR_OK);
		snprintf(path, sizeof(path), "%s/kms_share/share_%s.bin", dir, form ? "pb" : "json");
		assert_non_null(f = fopen(path, "wb"));
		assert_int_equal(fwrite(w.p, 1, w.len, f), w.len);
		fclose(f);
		buf_writer_free(&w);
	}
	arena_fini(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_binding),
		cmocka_unit_test(test_commitment),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
