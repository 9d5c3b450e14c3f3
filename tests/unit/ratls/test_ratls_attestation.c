/* SPDX-License-Identifier: Apache-2.0 */
/* VersionedAttestation codec: golden V0 bytes, V1 msgpack forms (bin / integer arrays / key order), limits and malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "ratls.h"

static struct arena A;

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 64u << 20, 64u << 10);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_fini(&A);
	return 0;
}

static uint8_t *unhex(const char *h, size_t *n)
{
	size_t len = strlen(h);
	uint8_t *p = malloc(len / 2 + 1);

	assert_non_null(p);
	assert_int_equal(hex_decode(p, len / 2 + 1, n, h, len, 0), ERR_OK);
	return p;
}

static const uint8_t PAYLOAD[2] = { 0xaa, 0xbb };

static void small_att(struct ratls_attestation *a, struct ratls_event *tdx, struct ratls_event *rt)
{
	memset(a, 0, sizeof(*a));
	memset(tdx, 0, sizeof(*tdx));
	memset(rt, 0, sizeof(*rt));
	tdx->imr = 3;
	tdx->event_type = ATTEST_RUNTIME_EVENT_TYPE;
	tdx->name = "app-id";
	tdx->name_len = 6;
	tdx->payload = PAYLOAD;
	tdx->payload_len = 2;
	tdx->version = 1;
	*rt = *tdx;
	a->platform = RATLS_PLATFORM_TDX;
	a->quote = (const uint8_t *)"abc";
	a->quote_len = 3;
	a->event_log = tdx;
	a->n_event_log = 1;
	a->runtime_events = rt;
	a->n_runtime_events = 1;
	memset(a->report_data, 0x11, 64);
	a->config = "{}";
	a->config_len = 2;
}

/* The SCALE encoding written out by hand from dstack-attest's types. */
static const char V0_GOLDEN[] =
	"00"                                   /* VersionedAttestation::V0 */
	"00"                                   /* AttestationQuote::DstackTdx */
	"0c616263"                             /* quote: Vec<u8> "abc" */
	"04"                                   /* event_log: 1 TdxEvent */
	"03000000" "01000008" "00"             /* imr 3, type 0x08000001, digest empty */
	"18" "6170702d6964" "08aabb"           /* "app-id", payload aabb */
	"04" "18" "6170702d6964" "08aabb"      /* runtime_events: 1 RuntimeEvent */
	"11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
	"087b7d";                              /* config "{}" */

static void test_v0_golden_roundtrip(void **state)
{
	struct ratls_attestation a, d;
	struct ratls_event tdx, rt;
	struct buf_writer w;
	size_t n = 0;
	uint8_t *golden = unhex(V0_GOLDEN, &n);
	const char *detail = NULL;

	(void)state;
	small_att(&a, &tdx, &rt);
	buf_writer_init(&w, 1 << 20);
	assert_int_equal(ratls_attestation_encode(&a, &w), ERR_OK);
	assert_int_equal(w.len, n);
	assert_memory_equal(w.p, golden, n);
	assert_int_equal(ratls_attestation_decode(golden, n, &A, &d, &detail), ERR_OK);
	assert_int_equal(d.version, 0);
	assert_int_equal(d.platform, RATLS_PLATFORM_TDX);
	assert_int_equal(d.quote_len, 3);
	assert_memory_equal(d.quote, "abc", 3);
	assert_int_equal(d.n_event_log, 1);
	assert_int_equal(d.event_log[0].imr, 3);
	assert_int_equal(d.event_log[0].event_type, ATTEST_RUNTIME_EVENT_TYPE);
	assert_int_equal(d.event_log[0].digest_len, 0);
	assert_string_equal(d.event_log[0].name, "app-id");
	assert_int_equal(d.n_runtime_events, 1);
	assert_string_equal(d.runtime_events[0].name, "app-id");
	assert_int_equal(d.runtime_events[0].version, 1);
	assert_memory_equal(d.runtime_events[0].payload, PAYLOAD, 2);
	assert_memory_equal(d.report_data, a.report_data, 64);
	assert_string_equal(d.config, "{}");
	/* every strict prefix fails, never reads past its end (ASan), and says why */
	for (size_t i = 0; i < n; i++) {
		detail = NULL;
		assert_int_not_equal(ratls_attestation_decode(golden, i, &A, &d, &detail), ERR_OK);
		assert_non_null(detail);
	}
	/* trailing byte */
	{
		uint8_t *more = malloc(n + 1);

		memcpy(more, golden, n);
		more[n] = 0;
		assert_int_equal(ratls_attestation_decode(more, n + 1, &A, &d, NULL), ERR_PROTO_TRAILING);
		free(more);
	}
	/* V0 cannot carry a V2 event */
	rt.version = 2;
	buf_writer_clear(&w);
	assert_int_equal(ratls_attestation_encode(&a, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
	free(golden);
}

static void test_v0_malformed(void **state)
{
	static const struct {
		const char *hex;
		err_t want;
	} cases[] = {
		{ "0001", ERR_RATLS_UNSUPPORTED },                      /* GCP TDX variant */
		{ "0009", ERR_RATLS_UNSUPPORTED },                      /* unknown variant */
		{ "01", ERR_RATLS_UNSUPPORTED },                        /* neither 0x00 nor a map */
		{ "0000" "0100", ERR_PROTO_MALFORMED },                 /* compact 0 in two-byte form */
		{ "0000" "02000000", ERR_PROTO_MALFORMED },             /* compact 0 in four-byte form */
		{ "0000" "03ffffffff", ERR_PROTO_TOO_LARGE },           /* big-integer mode */
		{ "0000" "06001000", ERR_PROTO_TOO_LARGE },             /* quote length 2^18 + 1: over the quote cap */
		{ "0000" "00" "fd7f0000", ERR_PROTO_TOO_LARGE },        /* 8191 events... */
		{ "0000" "00" "0101", ERR_PROTO_TRUNCATED },            /* 64 events in 0 bytes */
		{ "0000" "00" "04" "03000000" "01000008" "00" "04ff" "00", ERR_PROTO_ENCODING }, /* name not UTF-8 */
	};
	struct ratls_attestation d;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = 0;
		uint8_t *p = unhex(cases[i].hex, &n);
		err_t rc = ratls_attestation_decode(p, n, &A, &d, NULL);

		if (rc != cases[i].want)
			fail_msg("case %zu: %s, want %s", i, err_name(rc), err_name(cases[i].want));
		free(p);
	}
	assert_int_equal(ratls_attestation_decode(NULL, 0, &A, &d, NULL), ERR_PROTO_TRUNCATED);
	{
		uint8_t *big = calloc(1, RATLS_ATTESTATION_MAX + 1);

		assert_int_equal(ratls_attestation_decode(big, RATLS_ATTESTATION_MAX + 1, &A, &d, NULL), ERR_PROTO_TOO_LARGE);
		free(big);
	}
}

static void test_v1_roundtrip(void **state)
{
	struct ratls_attestation a, d;
	struct ratls_event tdx, rt;
	struct buf_writer w;

	(void)state;
	small_att(&a, &tdx, &rt);
	a.version = 1;
	rt.version = 2;
	tdx.version = 2;
	tdx.digest = (const uint8_t *)"0123456789012345678901234567890123456789012345678";
	tdx.digest_len = 48;
	buf_writer_init(&w, 1 << 20);
	assert_int_equal(ratls_attestation_encode(&a, &w), ERR_OK);
	assert_int_equal(w.p[0], 0x83);   /* a fixmap of version, platform, stack */
	assert_int_equal(ratls_attestation_decode(w.p, w.len, &A, &d, NULL), ERR_OK);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.platform, RATLS_PLATFORM_TDX);
	assert_memory_equal(d.quote, "abc", 3);
	assert_int_equal(d.event_log[0].version, 2);
	assert_int_equal(d.event_log[0].digest_len, 48);
	assert_int_equal(d.runtime_events[0].version, 2);
	assert_memory_equal(d.report_data, a.report_data, 64);
	assert_string_equal(d.config, "{}");
	assert_int_equal(d.is_pod, 0);
	for (size_t i = 0; i < w.len; i++)
		assert_int_not_equal(ratls_attestation_decode(w.p, i, &A, &d, NULL), ERR_OK);
	buf_writer_free(&w);
}

/*
 * Hand-written msgpack: "data" before "kind", the quote as bin, report_data
 * as an array of integers (rmp_serde's Vec<u8>), an unknown key, a
 * dstack-pod stack.
 */
static const char V1_HAND[] =
	"83"
	"a7" "76657273696f6e" "01"                                      /* version: 1 */
	"a8" "706c6174666f726d" "82"                                    /* platform: { */
	  "a4" "64617461" "82"                                          /*   data: { */
	    "a5" "71756f7465" "c403" "010203"                           /*     quote: bin 010203 */
	    "a9" "6576656e745f6c6f67" "90"                              /*     event_log: [] } */
	  "a4" "6b696e64" "a3" "746478"                                 /*   kind: "tdx" } */
	"a5" "737461636b" "82"                                          /* stack: { */
	  "a4" "6b696e64" "aa" "64737461636b2d706f64"                   /*   kind: "dstack-pod" */
	  "a4" "64617461" "85"                                          /*   data: { */
	    "ab" "7265706f72745f64617461" "dc0040"                      /*     report_data: [64 x 0xcc 0xff] */
	    "ccffccffccffccffccffccffccffccffccffccffccffccffccffccffccffccff"
	    "ccffccffccffccffccffccffccffccffccffccffccffccffccffccffccffccff"
	    "ccffccffccffccffccffccffccffccffccffccffccffccffccffccffccffccff"
	    "ccffccffccffccffccffccffccffccffccffccffccffccffccffccffccffccff"
	    "ae" "72756e74696d655f6576656e7473" "91"                    /*     runtime_events: [ */
	      "82" "a5" "6576656e74" "a1" "78" "a7" "7061796c6f6164" "9101" /* {event:"x", payload:[1]} ] */
	    "a6" "636f6e666967" "a0"                                    /*     config: "" */
	    "a6" "65787472610a" "c0"                                    /*     "extra\n": nil (ignored) */
	    "b3" "7265706f72745f646174615f7061796c6f6164" "a2" "6869";  /*     report_data_payload: "hi" } } */

static void test_v1_forms(void **state)
{
	struct ratls_attestation d;
	const char *detail = NULL;
	size_t n = 0;
	uint8_t *p = unhex(V1_HAND, &n);
	uint8_t ff[64];

	(void)state;
	assert_int_equal(ratls_attestation_decode(p, n, &A, &d, &detail), ERR_OK);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.quote_len, 3);
	assert_memory_equal(d.quote, "\x01\x02\x03", 3);
	assert_int_equal(d.n_event_log, 0);
	memset(ff, 0xff, 64);
	assert_memory_equal(d.report_data, ff, 64);
	assert_int_equal(d.n_runtime_events, 1);
	assert_string_equal(d.runtime_events[0].name, "x");
	assert_int_equal(d.runtime_events[0].payload_len, 1);
	assert_int_equal(d.runtime_events[0].payload[0], 1);
	assert_int_equal(d.runtime_events[0].version, 1);
	assert_int_equal(d.is_pod, 1);
	assert_string_equal(d.report_data_payload, "hi");
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(ratls_attestation_decode(p, i, &A, &d, NULL), ERR_OK);
	free(p);
}

static void test_v1_malformed(void **state)
{
	static const struct {
		const char *hex;
		err_t want;
	} cases[] = {
		{ "81" "a7" "76657273696f6e" "02", ERR_RATLS_UNSUPPORTED },            /* version 2 */
		{ "82" "a7" "76657273696f6e" "01" "a7" "76657273696f6e" "01", ERR_PROTO_MALFORMED }, /* duplicate key */
		{ "81" "a7" "76657273696f6e" "01", ERR_PROTO_MALFORMED },               /* no platform */
		{ "81" "a7" "76657273696f6e" "c1", ERR_PROTO_MALFORMED },               /* reserved byte */
		{ "81" "a7" "76657273696f6e" "d3ffffffffffffffff", ERR_PROTO_MALFORMED }, /* negative */
		{ "81" "a1" "78" "dd7fffffff", ERR_PROTO_TRUNCATED },                   /* huge array under an unknown key */
		{ "81" "a7" "76657273696f6e" "01" "00", ERR_PROTO_TRAILING },
		{ "df00010000", ERR_PROTO_TOO_LARGE },                                  /* 65536 keys */
	};
	struct ratls_attestation d;
	struct buf_writer w;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = 0;
		uint8_t *p = unhex(cases[i].hex, &n);
		err_t rc = ratls_attestation_decode(p, n, &A, &d, NULL);

		if (rc != cases[i].want)
			fail_msg("case %zu: %s, want %s", i, err_name(rc), err_name(cases[i].want));
		free(p);
	}
	/* nesting: an unknown key holding 40 nested arrays */
	buf_writer_init(&w, 4096);
	buf_put(&w, "\x81\xa1x", 3);
	for (int i = 0; i < 40; i++)
		buf_put_u8(&w, 0x91);
	buf_put_u8(&w, 0xc0);
	assert_int_equal(ratls_attestation_decode(w.p, w.len, &A, &d, NULL), ERR_PROTO_DEPTH);
	buf_writer_free(&w);
}

/* DS_RATLS_WRITE_CORPUS=<fuzz/corpus> writes the encodings above as fuzz seeds. */
static void test_write_corpus(void **state)
{
	const char *dir = getenv("DS_RATLS_WRITE_CORPUS");
	struct ratls_attestation a;
	struct ratls_event tdx, rt;
	struct buf_writer w;
	char path[512];
	size_t n = 0;
	uint8_t *hand;
	FILE *f;

	(void)state;
	if (!dir)
		skip();
	small_att(&a, &tdx, &rt);
	buf_writer_init(&w, 1 << 20);
	assert_int_equal(ratls_attestation_encode(&a, &w), ERR_OK);
	snprintf(path, sizeof(path), "%s/ratls_attestation/v0_small.bin", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(w.p, 1, w.len, f), w.len);
	fclose(f);
	a.version = 1;
	buf_writer_clear(&w);
	assert_int_equal(ratls_attestation_encode(&a, &w), ERR_OK);
	snprintf(path, sizeof(path), "%s/ratls_attestation/v1_small.bin", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(w.p, 1, w.len, f), w.len);
	fclose(f);
	hand = unhex(V1_HAND, &n);
	snprintf(path, sizeof(path), "%s/ratls_attestation/v1_pod_hand.bin", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(hand, 1, n, f), n);
	fclose(f);
	free(hand);
	buf_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v0_golden_roundtrip),
		cmocka_unit_test(test_v0_malformed),
		cmocka_unit_test(test_v1_roundtrip),
		cmocka_unit_test(test_v1_forms),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
