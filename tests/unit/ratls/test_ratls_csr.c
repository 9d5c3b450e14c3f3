/* SPDX-License-Identifier: Apache-2.0 */
/* ratls_csr: dstack's SCALE CSR V1/V2 (golden bytes, round trip, every truncation, strictness, limits) and the CSR signature. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/x509.h>

#include "ratls.h"
#include "ratls_testutil.h"

static const char *const NAMES[] = { "app.example.com", "10.0.0.1" };
static const uint8_t ATT[] = { 0x00, 0x00, 0x04, 0xaa, 0xbb };

/* A V2 CSR with every field set; pubkey is whatever the caller passes. */
static struct ratls_csr sample_v2(const uint8_t *pub, size_t pub_len)
{
	struct ratls_csr c;

	memset(&c, 0, sizeof(c));
	c.version = 2;
	c.pubkey = pub;
	c.pubkey_len = pub_len;
	c.config.org_name = "Org";
	c.config.subject = "app";
	c.config.alt_names = (const char **)UNCONST(NAMES);
	c.config.n_alt_names = 2;
	c.config.usage_server_auth = 1;
	c.config.usage_client_auth = 0;
	c.config.ext_quote = 1;
	c.config.ext_app_info = 0;
	c.config.has_not_after = 1;
	c.config.not_after = 0x0102030405060708ull;
	c.attestation = ATT;
	c.attestation_len = sizeof(ATT);
	return c;
}

static void encode(const struct ratls_csr *c, struct buf_writer *w)
{
	buf_writer_init(w, RATLS_CSR_MAX);
	assert_int_equal(ratls_csr_encode(c, w), ERR_OK);
}

/* The bytes parity-scale-codec writes for sample_v2 with pubkey 01 02 03, field by field. */
static const uint8_t GOLDEN_V2[] = {
	0x44, 'p', 'l', 'e', 'a', 's', 'e', ' ', 's', 'i', 'g', 'n', ' ', 'c', 'e', 'r', 't', ':', /* confirm */
	0x0c, 0x01, 0x02, 0x03,                                  /* pubkey Vec<u8> */
	0x01, 0x0c, 'O', 'r', 'g',                               /* org_name Some("Org") */
	0x0c, 'a', 'p', 'p',                                     /* subject */
	0x08, 0x3c, 'a', 'p', 'p', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
	0x20, '1', '0', '.', '0', '.', '0', '.', '1',            /* subject_alt_names */
	0x01, 0x00, 0x01, 0x00,                                  /* server, client, ext_quote, ext_app_info */
	0x00,                                                    /* not_before None */
	0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,    /* not_after Some(u64 le) */
	0x00, 0x00, 0x04, 0xaa, 0xbb,                            /* attestation: the rest */
};

static void test_v2_golden_and_round_trip(void **state)
{
	static const uint8_t pub[] = { 1, 2, 3 };
	struct ratls_csr c = sample_v2(pub, sizeof(pub)), d;
	struct buf_writer w, w2;
	struct arena a;
	const char *detail = NULL;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	encode(&c, &w);
	assert_int_equal(w.len, sizeof(GOLDEN_V2));
	assert_memory_equal(w.p, GOLDEN_V2, sizeof(GOLDEN_V2));
	assert_int_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, &detail), ERR_OK);
	assert_int_equal(d.version, 2);
	assert_string_equal(d.confirm, RATLS_CSR_CONFIRM);
	assert_int_equal(d.pubkey_len, 3);
	assert_memory_equal(d.pubkey, pub, 3);
	assert_string_equal(d.config.org_name, "Org");
	assert_string_equal(d.config.subject, "app");
	assert_int_equal(d.config.n_alt_names, 2);
	assert_string_equal(d.config.alt_names[0], "app.example.com");
	assert_string_equal(d.config.alt_names[1], "10.0.0.1");
	assert_int_equal(d.config.usage_server_auth, 1);
	assert_int_equal(d.config.usage_client_auth, 0);
	assert_int_equal(d.config.ext_quote, 1);
	assert_int_equal(d.config.ext_app_info, 0);
	assert_int_equal(d.config.has_not_before, 0);
	assert_int_equal(d.config.has_not_after, 1);
	assert_true(d.config.not_after == 0x0102030405060708ull);
	assert_int_equal(d.attestation_len, sizeof(ATT));
	assert_memory_equal(d.attestation, ATT, sizeof(ATT));
	/* the attestation is a view into the input, not a copy */
	assert_ptr_equal(d.attestation, w.p + w.len - sizeof(ATT));
	/* decode -> encode gives the same bytes */
	encode(&d, &w2);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.p, w.p, w.len);
	buf_writer_free(&w2);
	buf_writer_free(&w);
	/* None / empty everywhere */
	c.config.org_name = NULL;
	c.config.n_alt_names = 0;
	c.config.alt_names = NULL;
	c.config.has_not_after = 0;
	c.config.has_not_before = 1;
	c.config.not_before = 7;
	c.pubkey_len = 0;
	encode(&c, &w);
	assert_int_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, NULL), ERR_OK);
	assert_null(d.config.org_name);
	assert_int_equal(d.config.n_alt_names, 0);
	assert_int_equal(d.config.has_not_before, 1);
	assert_true(d.config.not_before == 7);
	assert_int_equal(d.pubkey_len, 0);
	buf_writer_free(&w);
	arena_fini(&a);
}

static void test_v1_round_trip(void **state)
{
	static const uint8_t pub[] = { 9, 9 };
	static const uint8_t quote[] = { 0x51, 0x52 };
	static const char log[] = "[]";
	struct ratls_csr c = sample_v2(pub, sizeof(pub)), d;
	struct buf_writer w, w2;
	struct arena a;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	c.version = 1;
	c.config.has_not_after = 0;
	c.attestation = NULL;
	c.attestation_len = 0;
	c.quote = quote;
	c.quote_len = sizeof(quote);
	c.event_log = (const uint8_t *)log;
	c.event_log_len = 2;
	encode(&c, &w);
	/* V1 = the first six config fields, then quote and event_log as Vec<u8> */
	assert_memory_equal(w.p + w.len - 6, "\x08\x51\x52\x08[]", 6);
	assert_int_equal(ratls_csr_decode(1, w.p, w.len, &a, &d, NULL), ERR_OK);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.quote_len, 2);
	assert_memory_equal(d.quote, quote, 2);
	assert_int_equal(d.event_log_len, 2);
	assert_memory_equal(d.event_log, "[]", 2);
	assert_null(d.attestation);
	assert_int_equal(d.config.ext_quote, 1);
	encode(&d, &w2);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.p, w.p, w.len);
	buf_writer_free(&w2);
	/* The same bytes are not a V2 CSR: V2 reads two more config fields and then takes the rest. */
	assert_int_not_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, NULL), ERR_OK);
	/* Trailing data after a V1 CSR's event log */
	buf_put_u8(&w, 0);
	assert_int_equal(ratls_csr_decode(1, w.p, w.len, &a, &d, NULL), ERR_PROTO_TRAILING);
	buf_writer_free(&w);
	/* V1 cannot carry V2-only fields */
	c.config.ext_app_info = 1;
	buf_writer_init(&w, RATLS_CSR_MAX);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
	arena_fini(&a);
}

/* Every strict prefix of a CSR is refused as truncated (V2: up to its first attestation byte). */
static void test_every_truncation(void **state)
{
	static const uint8_t pub[] = { 1, 2, 3 };
	struct ratls_csr c = sample_v2(pub, sizeof(pub)), d;
	struct buf_writer w;
	struct arena a;
	size_t head;

	(void)state;
	arena_init(&a, 1 << 20, 0);
	encode(&c, &w);
	head = w.len - sizeof(ATT);
	for (size_t n = 0; n <= head; n++)
		assert_int_equal(ratls_csr_decode(2, w.p, n, &a, &d, NULL), ERR_PROTO_TRUNCATED);
	/* a shorter tail is a shorter attestation: the attestation decoder refuses it */
	for (size_t n = head + 1; n < w.len; n++) {
		assert_int_equal(ratls_csr_decode(2, w.p, n, &a, &d, NULL), ERR_OK);
		assert_int_equal(d.attestation_len, n - head);
	}
	buf_writer_free(&w);

	c.version = 1;
	c.config.has_not_after = 0;
	c.quote = pub;
	c.quote_len = 3;
	c.event_log = (const uint8_t *)"[]";
	c.event_log_len = 2;
	encode(&c, &w);
	for (size_t n = 0; n < w.len; n++)
		assert_int_equal(ratls_csr_decode(1, w.p, n, &a, &d, NULL), ERR_PROTO_TRUNCATED);
	assert_int_equal(ratls_csr_decode(1, w.p, w.len, &a, &d, NULL), ERR_OK);
	buf_writer_free(&w);
	arena_fini(&a);
}

/* Offsets into GOLDEN_V2. */
#define OFF_PUBKEY 18
#define OFF_ORG 22
#define OFF_BOOLS 57
#define OFF_NOT_BEFORE 61

static err_t decode_patched(size_t off, uint8_t v, const char **detail)
{
	uint8_t b[sizeof(GOLDEN_V2)];
	struct ratls_csr d;
	struct arena a;
	err_t rc;

	memcpy(b, GOLDEN_V2, sizeof(b));
	b[off] = v;
	arena_init(&a, 1 << 20, 0);
	rc = ratls_csr_decode(2, b, sizeof(b), &a, &d, detail);
	arena_fini(&a);
	return rc;
}

static void test_strictness(void **state)
{
	struct ratls_csr d;
	struct arena a;
	const char *detail = NULL;

	(void)state;
	assert_int_equal(decode_patched(0, 0x44, NULL), ERR_OK);
	/* the confirm word */
	assert_int_equal(decode_patched(1, 'P', &detail), ERR_PROTO_MALFORMED);
	assert_non_null(strstr(detail, "confirm"));
	/* bools: 0 or 1 only, each of the four */
	for (size_t i = 0; i < 4; i++) {
		detail = NULL;
		assert_int_equal(decode_patched(OFF_BOOLS + i, 2, &detail), ERR_PROTO_MALFORMED);
		assert_non_null(strstr(detail, "bool"));
	}
	/* Option tags: 0 or 1 only */
	detail = NULL;
	assert_int_equal(decode_patched(OFF_ORG, 2, &detail), ERR_PROTO_MALFORMED);
	assert_non_null(strstr(detail, "option"));
	assert_int_equal(decode_patched(OFF_NOT_BEFORE, 0xff, NULL), ERR_PROTO_MALFORMED);
	/* a non-canonical compact: pubkey length 3 in the two-byte form */
	{
		static const uint8_t head[] = { 0x44, 'p', 'l', 'e', 'a', 's', 'e', ' ', 's', 'i', 'g', 'n',
						' ', 'c', 'e', 'r', 't', ':', 0x0d, 0x00, 1, 2, 3 };

		arena_init(&a, 1 << 20, 0);
		assert_int_equal(ratls_csr_decode(2, head, sizeof(head), &a, &d, NULL), ERR_PROTO_MALFORMED);
		arena_fini(&a);
	}
	/* big-integer compact mode: over every limit */
	assert_int_equal(decode_patched(OFF_PUBKEY, 0x03, NULL), ERR_PROTO_TOO_LARGE);
	/* UTF-8 and NUL in strings: subject "app" -> "a\xffp" / "a\0p" */
	assert_int_equal(decode_patched(29, 0xff, NULL), ERR_PROTO_ENCODING);
	assert_int_equal(decode_patched(29, 0x00, NULL), ERR_PROTO_ENCODING);
	/* the version is the caller's */
	arena_init(&a, 1 << 20, 0);
	assert_int_equal(ratls_csr_decode(3, GOLDEN_V2, sizeof(GOLDEN_V2), &a, &d, NULL), ERR_INVALID_ARG);
	assert_int_equal(ratls_csr_decode(2, GOLDEN_V2, 0, &a, &d, NULL), ERR_PROTO_TRUNCATED);
	arena_fini(&a);
}

static void test_limits(void **state)
{
	static char big[RATLS_CSR_STR_MAX + 2];
	static const char *names[RATLS_CSR_MAX_NAMES + 1];
	struct ratls_csr c = sample_v2(NULL, 0), d;
	struct buf_writer w;
	struct arena a;
	uint8_t *raw;

	(void)state;
	arena_init(&a, 4 << 20, 0);
	memset(big, 'x', RATLS_CSR_STR_MAX);
	/* at the limits: fine */
	for (size_t i = 0; i < RATLS_CSR_MAX_NAMES; i++)
		names[i] = "n";
	c.config.subject = big;
	c.config.alt_names = names;
	c.config.n_alt_names = RATLS_CSR_MAX_NAMES;
	encode(&c, &w);
	assert_int_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, NULL), ERR_OK);
	assert_int_equal(strlen(d.config.subject), RATLS_CSR_STR_MAX);
	buf_writer_free(&w);
	/* one over: the encoder refuses, and the decoder refuses hand-made bytes */
	big[RATLS_CSR_STR_MAX] = 'x';
	buf_writer_init(&w, RATLS_CSR_MAX);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
	big[RATLS_CSR_STR_MAX] = 0;
	c.config.n_alt_names = RATLS_CSR_MAX_NAMES + 1;
	names[RATLS_CSR_MAX_NAMES] = "n";
	buf_writer_init(&w, RATLS_CSR_MAX);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
	c.config.n_alt_names = RATLS_CSR_MAX_NAMES;
	c.config.subject = "s";
	encode(&c, &w);
	/* subject "s" then names count 64 = 0x01 0x01 in two-byte form; make it 65 */
	raw = w.p;
	{
		int found = 0;

		for (size_t i = 0; i + 3 < w.len && !found; i++)
			if (raw[i] == 0x04 && raw[i + 1] == 's' && raw[i + 2] == 0x01 && raw[i + 3] == 0x01) {
				raw[i + 2] = (uint8_t)(65 << 2 | 1);
				found = 1;
			}
		assert_true(found);
	}
	assert_int_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, NULL), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&w);
	/* the whole CSR */
	raw = calloc(1, RATLS_CSR_MAX + 1);
	assert_non_null(raw);
	assert_int_equal(ratls_csr_decode(2, raw, RATLS_CSR_MAX + 1, &a, &d, NULL), ERR_PROTO_TOO_LARGE);
	free(raw);
	/* a V2 CSR without attestation cannot be encoded */
	c = sample_v2(NULL, 0);
	c.attestation_len = 0;
	buf_writer_init(&w, RATLS_CSR_MAX);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
	arena_fini(&a);
}

static void spki(EVP_PKEY *k, struct buf_writer *w)
{
	buf_writer_init(w, 4096);
	assert_int_equal(ratls_spki_der(k, w), ERR_OK);
}

static void test_signature(void **state)
{
	EVP_PKEY *key = ratls_key_new(), *other = ratls_key_new(), *got = NULL;
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	struct buf_writer pub, w, sig, sig2, bad;
	struct ratls_csr c, d;
	struct arena a;
	const char *detail = NULL;

	(void)state;
	assert_non_null(key);
	assert_non_null(other);
	assert_non_null(rsa);
	arena_init(&a, 1 << 20, 0);
	spki(key, &pub);
	c = sample_v2(pub.p, pub.len);
	encode(&c, &w);
	assert_int_equal(ratls_csr_decode(2, w.p, w.len, &a, &d, NULL), ERR_OK);
	buf_writer_init(&sig, 256);
	assert_int_equal(ratls_csr_sign(w.p, w.len, key, &sig), ERR_OK);
	assert_true(sig.len <= RATLS_CSR_SIG_MAX);
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, &got, &detail), ERR_OK);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	EVP_PKEY_free(got);
	/* one flipped bit of the CSR, of the signature; another key's signature */
	w.p[w.len - 1] ^= 1;
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, NULL, &detail), ERR_PROTO_SIGNATURE);
	w.p[w.len - 1] ^= 1;
	sig.p[sig.len - 1] ^= 1;
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, NULL, NULL), ERR_PROTO_SIGNATURE);
	sig.p[sig.len - 1] ^= 1;
	buf_writer_init(&sig2, 256);
	assert_int_equal(ratls_csr_sign(w.p, w.len, other, &sig2), ERR_OK);
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig2.p, sig2.len, NULL, NULL), ERR_PROTO_SIGNATURE);
	/* not strict DER: trailing byte, long-form length; empty; raw r||s */
	buf_writer_init(&bad, 256);
	buf_put(&bad, sig.p, sig.len);
	buf_put_u8(&bad, 0);
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, bad.p, bad.len, NULL, NULL), ERR_PROTO_SIGNATURE);
	buf_writer_clear(&bad);
	buf_put_u8(&bad, 0x30);
	buf_put_u8(&bad, 0x81);
	buf_put_u8(&bad, sig.p[1]);
	buf_put(&bad, sig.p + 2, sig.len - 2);
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, bad.p, bad.len, NULL, NULL), ERR_PROTO_SIGNATURE);
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, 0, NULL, NULL), ERR_PROTO_SIGNATURE);
	buf_writer_free(&bad);
	/* the pubkey: not an SPKI, trailing bytes, not P-256 */
	d.pubkey_len--;
	assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, NULL, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "P-256"));
	d.pubkey_len++;
	{
		struct buf_writer p2;

		buf_writer_init(&p2, 4096);
		buf_put(&p2, pub.p, pub.len);
		buf_put_u8(&p2, 0);
		d.pubkey = p2.p;
		d.pubkey_len = p2.len;
		assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, NULL, NULL), ERR_INVALID_ARG);
		buf_writer_free(&p2);
		spki(rsa, &p2);
		d.pubkey = p2.p;
		d.pubkey_len = p2.len;
		assert_int_equal(ratls_csr_verify_signature(&d, w.p, w.len, sig.p, sig.len, NULL, NULL), ERR_INVALID_ARG);
		buf_writer_free(&p2);
	}
	buf_writer_free(&sig2);
	buf_writer_free(&sig);
	buf_writer_free(&w);
	buf_writer_free(&pub);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
	arena_fini(&a);
}

/* DS_RATLS_WRITE_CORPUS=<fuzz/corpus> writes seeds for fuzz_ratls_csr: a byte whose low bit is the version (0: V1, 1: V2), then the CSR. */
static void test_write_corpus(void **state)
{
	static const uint8_t pub[] = { 1, 2, 3 };
	const char *dir = getenv("DS_RATLS_WRITE_CORPUS");
	struct ratls_csr c = sample_v2(pub, sizeof(pub));
	struct buf_writer w;
	char sub[400];

	(void)state;
	if (!dir)
		skip();
	snprintf(sub, sizeof(sub), "%s/ratls_csr", dir);
	buf_writer_init(&w, RATLS_CSR_MAX);
	buf_put_u8(&w, 1);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_OK);
	assert_int_equal(rt_write_seed(sub, "v2_full.bin", w.p, w.len), ERR_OK);
	buf_writer_clear(&w);
	c.config.org_name = NULL;
	c.config.n_alt_names = 0;
	c.config.has_not_after = 0;
	c.config.has_not_before = 1;
	buf_put_u8(&w, 1);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_OK);
	assert_int_equal(rt_write_seed(sub, "v2_min.bin", w.p, w.len), ERR_OK);
	buf_writer_clear(&w);
	c.version = 1;
	c.config.has_not_before = 0;
	c.quote = pub;
	c.quote_len = 3;
	c.event_log = (const uint8_t *)"[]";
	c.event_log_len = 2;
	buf_put_u8(&w, 0);
	assert_int_equal(ratls_csr_encode(&c, &w), ERR_OK);
	assert_int_equal(rt_write_seed(sub, "v1.bin", w.p, w.len), ERR_OK);
	/* with real sim evidence, when the attestation corpus has it */
	{
		char path[512];
		uint8_t *att = malloc(1 << 20);
		size_t n = 0;
		FILE *f;

		assert_non_null(att);
		snprintf(path, sizeof(path), "%s/ratls_attestation/sim_tdx_v0.bin", dir);
		if ((f = fopen(path, "rb")) != NULL) {
			n = fread(att, 1, 1 << 20, f);
			fclose(f);
		}
		if (n) {
			/* a real P-256 SPKI, so the signature path gets past the key */
			EVP_PKEY *k = ratls_key_new();
			struct buf_writer spk;

			assert_non_null(k);
			spki(k, &spk);
			c = sample_v2(spk.p, spk.len);
			c.attestation = att;
			c.attestation_len = n;
			buf_writer_clear(&w);
			buf_put_u8(&w, 1);
			assert_int_equal(ratls_csr_encode(&c, &w), ERR_OK);
			assert_int_equal(rt_write_seed(sub, "v2_sim_tdx.bin", w.p, w.len), ERR_OK);
			buf_writer_free(&spk);
			EVP_PKEY_free(k);
		}
		free(att);
	}
	buf_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_golden_and_round_trip),
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_strictness),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
