/* SPDX-License-Identifier: Apache-2.0 */
/* The collateral cache's pure parts: key names, validity from artefacts, CRL forms, dcap-qvl JSON, cache files, offline layout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/x509.h>

#include "arena.h"
#include "attest_collateral.h"
#include "attest_verify.h"
#include "dcap.h"
#include "json.h"

#define MAX_TEST_FILE (1u << 20)

static const char *data_dir(void)
{
	const char *d = getenv("DS_ATTEST_TESTDATA");

	return d ? d : "../shared/testdata/attestation";
}

/* Read a test data file (relative to the data dir) into a NUL-terminated malloc'd buffer. */
static uint8_t *slurp(const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	uint8_t *p = malloc(MAX_TEST_FILE + 1);

	snprintf(path, sizeof(path), "%s/%s", data_dir(), rel);
	f = fopen(path, "rb");
	if (!f || !p) {
		fail_msg("cannot open %s (set DS_ATTEST_TESTDATA)", path);
		return NULL;
	}
	*len = fread(p, 1, MAX_TEST_FILE, f);
	fclose(f);
	p[*len] = 0;
	return p;
}

/* A string member of a JSON document, copied (caller frees). */
static char *json_field(const uint8_t *doc, size_t len, const char *name, size_t *out_len)
{
	struct arena a;
	struct json_value *root = NULL;
	const char *s;
	size_t n;
	char *copy = NULL;

	arena_init(&a, 1u << 22, 1u << 16);
	assert_int_equal(json_parse((const char *)doc, len, NULL, &a, &root, NULL), ERR_OK);
	if (json_get_str(root, name, &s, &n) == ERR_OK) {
		copy = malloc(n + 1);
		memcpy(copy, s, n);
		copy[n] = 0;
		*out_len = n;
	}
	arena_fini(&a);
	return copy;
}

/* The PCS body a dcap-qvl JSON file was cut from, for tcb (1) or qe (0). */
static char *pcs_body(const uint8_t *doc, size_t len, int tcb, size_t *out_len)
{
	size_t n1, n2;
	char *inner = json_field(doc, len, tcb ? "tcb_info" : "qe_identity", &n1);
	char *sig = json_field(doc, len, tcb ? "tcb_info_signature" : "qe_identity_signature", &n2);
	char *body = malloc(n1 + n2 + 64);

	*out_len = (size_t)snprintf(body, n1 + n2 + 64, "{\"%s\":%s,\"signature\":\"%s\"}",
				    tcb ? "tcbInfo" : "enclaveIdentity", inner, sig);
	free(inner);
	free(sig);
	return body;
}

static int nibble(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* ---- keys ---- */

static void roundtrip_key(const char *text, const char *canonical)
{
	struct attest_coll_key k, k2;
	char out[ATTEST_COLL_KEY_MAX];

	assert_int_equal(attest_coll_key_parse(text, strlen(text), &k), ERR_OK);
	assert_int_equal(attest_coll_key_format(&k, out, sizeof(out)), ERR_OK);
	assert_string_equal(out, canonical);
	assert_int_equal(attest_coll_key_parse(out, strlen(out), &k2), ERR_OK);
	assert_memory_equal(&k, &k2, sizeof(k));
}

static void test_key_names(void **state)
{
	char hw[129], vcek[ATTEST_COLL_KEY_MAX];
	struct attest_coll_key k;
	char out[ATTEST_COLL_KEY_MAX], small[8];

	(void)state;
	roundtrip_key("tdx_tcb/B0C06F000000", "tdx_tcb/B0C06F000000");
	roundtrip_key("sgx_tcb/00a067110000", "sgx_tcb/00A067110000");
	roundtrip_key("tdx_qe_identity", "tdx_qe_identity");
	roundtrip_key("sgx_qe_identity", "sgx_qe_identity");
	roundtrip_key("pck_crl_processor", "pck_crl_processor");
	roundtrip_key("pck_crl_platform", "pck_crl_platform");
	roundtrip_key("root_ca_crl", "root_ca_crl");
	roundtrip_key("amd_cert_chain/Milan", "amd_cert_chain/Milan");
	roundtrip_key("amd_crl/Genoa", "amd_crl/Genoa");
	for (int i = 0; i < 128; i++)
		hw[i] = "0123456789abcdef"[i % 16];
	hw[128] = 0;
	snprintf(vcek, sizeof(vcek), "amd_vcek/Milan/%s/03000000000008115", hw);
	assert_int_equal(attest_coll_key_parse(vcek, strlen(vcek), &k), ERR_PROTO_MALFORMED);   /* 17 digits */
	snprintf(vcek, sizeof(vcek), "amd_vcek/Milan/%s/0300000000000811", hw);
	roundtrip_key(vcek, vcek);
	assert_int_equal(attest_coll_key_parse(vcek, strlen(vcek), &k), ERR_OK);
	assert_int_equal(k.hwid_len, 64);
	assert_true(k.reported_tcb == 0x0300000000000811ull);
	roundtrip_key("amd_vcek/Turin/0011223344556677/0000000000000001", "amd_vcek/Turin/0011223344556677/0000000000000001");

	/* Rejected: unknown kind, wrong FMSPC length or digits, extra segments, bad product, hwid sizes, uppercase hwid. */
	static const char *const bad[] = {
		"", "tdx", "tdx_tcb", "tdx_tcb/", "tdx_tcb/B0C06F00000", "tdx_tcb/B0C06F0000000", "tdx_tcb/B0C06F00000G",
		"tdx_qe_identity/x", "root_ca_crl/", "amd_crl", "amd_crl/milan", "amd_crl/Milan/x", "amd_cert_chain/Naples",
		"amd_vcek/Milan/0011223344556677/0000000000000001", "amd_vcek/Turin/00112233445566/0000000000000001",
		"amd_vcek/Turin/00112233445566AA/0000000000000001", "amd_vcek/Turin/0011223344556677",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(attest_coll_key_parse(bad[i], strlen(bad[i]), &k), ERR_PROTO_MALFORMED);

	memset(&k, 0, sizeof(k));
	k.kind = ATTEST_COLL_AMD_CRL;
	assert_int_equal(attest_coll_key_format(&k, out, sizeof(out)), ERR_INVALID_ARG);   /* no product */
	k.kind = ATTEST_COLL_ROOT_CA_CRL;
	assert_int_equal(attest_coll_key_format(&k, small, sizeof(small)), ERR_PROTO_TOO_LARGE);
	assert_int_equal(attest_coll_cache_file_name(&k, out, sizeof(out)), ERR_OK);
	assert_string_equal(out, "root_ca_crl.json");
	assert_int_equal(attest_coll_key_parse("tdx_tcb/B0C06F000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_cache_file_name(&k, out, sizeof(out)), ERR_OK);
	assert_string_equal(out, "tdx_tcb.B0C06F000000.json");
}

/* ---- time ---- */

static void test_rfc3339(void **state)
{
	uint64_t t = 0;

	(void)state;
	assert_int_equal(attest_coll_parse_rfc3339("2025-07-19T10:16:03Z", 20, &t), ERR_OK);
	assert_true(t == 1752920163u);
	assert_int_equal(attest_coll_parse_rfc3339("2025-07-19T10:16:03.123Z", 24, &t), ERR_OK);
	assert_true(t == 1752920163u);
	assert_int_equal(attest_coll_parse_rfc3339("2025-07-19T10:16:03+00:00", 25, &t), ERR_OK);
	assert_true(t == 1752920163u);
	assert_int_equal(attest_coll_parse_rfc3339("1970-01-01T00:00:00Z", 20, &t), ERR_OK);
	assert_true(t == 0);
	assert_int_equal(attest_coll_parse_rfc3339("2024-02-29T00:00:00Z", 20, &t), ERR_OK);
	assert_true(t == 1709164800u);
	static const char *const bad[] = {
		"2025-07-19T10:16:03",  "2025-07-19 10:16:03Z", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-07-19T24:00:00Z", "2025-07-19T10:60:00Z", "2025-07-19T10:16:03.Z", "2025-07-19T10:16:03+01:00",
		"1969-12-31T23:59:59Z", "2025-07-19T10:16:03ZZ", "2025-7-19T10:16:03Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(attest_coll_parse_rfc3339(bad[i], strlen(bad[i]), &t), ERR_PROTO_MALFORMED);
}

/* ---- URL encoding ---- */

static void test_url_encoding(void **state)
{
	const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIC+/a=\n-----END CERTIFICATE-----\n";
	struct buf_writer w, d;

	(void)state;
	buf_writer_init(&w, 4096);
	buf_writer_init(&d, 4096);
	attest_coll_url_encode(pem, strlen(pem), &w);
	assert_non_null(buf_cstr(&w));
	assert_string_equal((const char *)w.p,
			    "-----BEGIN%20CERTIFICATE-----%0AMIIC%2B%2Fa%3D%0A-----END%20CERTIFICATE-----%0A");
	assert_int_equal(attest_coll_url_decode((const char *)w.p, w.len, &d), ERR_OK);
	assert_int_equal(d.len, strlen(pem));
	assert_memory_equal(d.p, pem, d.len);
	buf_writer_clear(&d);
	assert_int_equal(attest_coll_url_decode("a+b", 3, &d), ERR_OK);   /* '+' is not a space here */
	assert_memory_equal(d.p, "a+b", 3);
	assert_int_equal(attest_coll_url_decode("%0", 2, &d), ERR_PROTO_ENCODING);
	assert_int_equal(attest_coll_url_decode("%zz", 3, &d), ERR_PROTO_ENCODING);
	buf_writer_free(&w);
	buf_writer_free(&d);
}

/* ---- artefacts ---- */

static void test_tcb_and_qe_validity(void **state)
{
	size_t len, blen, clen;
	uint8_t *doc = slurp("dcap-qvl/tdx_quote_collateral.json", &len);
	char *body = pcs_body(doc, len, 1, &blen), *chain = json_field(doc, len, "tcb_info_issuer_chain", &clen);
	struct attest_coll_key k;
	struct attest_coll_blob *b = NULL;
	const char *detail = NULL;

	(void)state;
	assert_int_equal(attest_coll_key_parse("tdx_tcb/b0c06f000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen, 7, "test", &b, &detail),
			 ERR_OK);
	assert_true(b->next_update == 1752920163u);    /* 2025-07-19T10:16:03Z */
	assert_true(b->issued_at == 1752920163u - 30u * 86400u);
	assert_true(b->fetched_at == 7);
	assert_int_equal(b->sig_len, 128);
	assert_memory_equal(b->body + b->inner_off, "{\"id\":\"TDX\"", 11);
	assert_int_equal(b->body[b->inner_off + b->inner_len - 1], '}');
	assert_string_equal(b->source, "test");
	attest_coll_blob_unref(b);

	/* Another FMSPC, another TEE, no chain, a broken chain, not JSON: refused with the reason. */
	assert_int_equal(attest_coll_key_parse("tdx_tcb/00806F050000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen, 0, "t", &b, &detail),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_string_equal(detail, "TCB info is for another FMSPC");
	assert_null(b);
	assert_int_equal(attest_coll_key_parse("sgx_tcb/B0C06F000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen, 0, "t", &b, &detail),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(attest_coll_key_parse("tdx_tcb/B0C06F000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, NULL, 0, 0, "t", &b, &detail),
			 ERR_ATTEST_CERT_CHAIN);
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen / 2, 0, "t", &b, &detail),
			 ERR_ATTEST_CERT_CHAIN);   /* one certificate */
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen / 2 + 100, 0, "t", &b,
					      &detail),
			 ERR_ATTEST_CERT_CHAIN);   /* the second one cut short */
	assert_string_equal(detail, "issuer chain is not PEM certificates");
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen - 1, chain, clen, 0, "t", &b, &detail),
			 ERR_PROTO_JSON);
	free(body);
	free(chain);

	body = pcs_body(doc, len, 0, &blen);
	chain = json_field(doc, len, "qe_identity_issuer_chain", &clen);
	memset(&k, 0, sizeof(k));
	k.kind = ATTEST_COLL_TDX_QE_IDENTITY;
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen, 0, "t", &b, &detail),
			 ERR_OK);
	assert_true(b->next_update == 1752921147u);    /* 2025-07-19T10:32:27Z */
	attest_coll_blob_unref(b);
	k.kind = ATTEST_COLL_SGX_QE_IDENTITY;
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)body, blen, chain, clen, 0, "t", &b, &detail),
			 ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_string_equal(detail, "QE identity id does not match the TEE");
	free(body);
	free(chain);
	free(doc);
}

static void test_tcb_info_v2(void **state)
{
	size_t len, clen;
	uint8_t *body = slurp("automata/raw/0625_tcbinfo.json", &len);
	uint8_t *doc;
	size_t dlen;
	char *chain;
	struct attest_coll_key k;
	struct attest_coll_blob *b = NULL;
	const char *detail = NULL;

	(void)state;
	doc = slurp("automata/collateral_sgx_00606a000000_2506_tcbinfo_v2.json", &dlen);
	chain = json_field(doc, dlen, "tcb_info_issuer_chain", &clen);
	/* v2 has no id: accepted as SGX, never as TDX. */
	assert_int_equal(attest_coll_key_parse("sgx_tcb/00606A000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, body, len, chain, clen, 0, "t", &b, &detail), ERR_OK);
	attest_coll_blob_unref(b);
	assert_int_equal(attest_coll_key_parse("tdx_tcb/00606A000000", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, body, len, chain, clen, 0, "t", &b, &detail),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	free(chain);
	free(doc);
	free(body);
}

static void test_crl_forms(void **state)
{
	size_t len, n, clen;
	uint8_t *der = slurp("automata/raw/setup_rootCrlDer.der", &len);
	uint8_t *out = NULL, *doc;
	char *hex = malloc(2 * len + 4), *pem, *chain;
	struct attest_coll_key k = { .kind = ATTEST_COLL_ROOT_CA_CRL };
	struct attest_coll_blob *b = NULL;
	const char *detail = NULL;
	FILE *p;

	(void)state;
	assert_int_equal(attest_coll_crl_to_der(der, len, &out, &n), ERR_OK);
	assert_int_equal(n, len);
	assert_memory_equal(out, der, len);
	free(out);
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", der[i]);
	memcpy(hex + 2 * len, "\n", 2);
	assert_int_equal(attest_coll_crl_to_der((const uint8_t *)hex, strlen(hex), &out, &n), ERR_OK);
	assert_memory_equal(out, der, len);
	free(out);

	/* PEM via the openssl CLI. */
	{
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "openssl crl -inform DER -in '%s/automata/raw/setup_rootCrlDer.der'", data_dir());
		p = popen(cmd, "r");
		assert_non_null(p);
		pem = calloc(1, 8192);
		n = fread(pem, 1, 8191, p);
		assert_int_equal(pclose(p), 0);
		assert_true(n > 100);
		assert_int_equal(attest_coll_crl_to_der((const uint8_t *)pem, n, &out, &n), ERR_OK);
		assert_memory_equal(out, der, len);
		free(out);
		free(pem);
	}

	assert_int_equal(attest_coll_crl_to_der((const uint8_t *)"30zz", 4, &out, &n), ERR_ATTEST_CRL_INVALID);
	assert_int_equal(attest_coll_crl_to_der(der, len - 1, &out, &n), ERR_ATTEST_CRL_INVALID);
	assert_null(out);

	/* The Root CA CRL: 2025-03-20T11:21:57Z .. 2026-04-03T11:21:57Z. */
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)hex, strlen(hex), NULL, 0, 0, "t", &b, &detail),
			 ERR_OK);
	assert_true(b->issued_at == 1742469717u);
	assert_true(b->next_update == 1775215317u);
	assert_int_equal(b->der_len, len);
	attest_coll_blob_unref(b);

	/* A PCK CRL needs its issuer chain. */
	doc = slurp("automata/collateral_tdx_00806f050000_2510.json", &n);
	chain = json_field(doc, n, "pck_crl_issuer_chain", &clen);
	k.kind = ATTEST_COLL_PCK_CRL_PLATFORM;
	assert_int_equal(attest_coll_blob_new(&k, der, len, NULL, 0, 0, "t", &b, &detail), ERR_ATTEST_CERT_CHAIN);
	assert_int_equal(attest_coll_blob_new(&k, der, len, chain, clen, 0, "t", &b, &detail), ERR_OK);
	attest_coll_blob_unref(b);
	k.kind = ATTEST_COLL_PCK_CRL_PROCESSOR;
	assert_int_equal(attest_coll_blob_new(&k, (const uint8_t *)"{}", 2, chain, clen, 0, "t", &b, &detail),
			 ERR_ATTEST_CRL_INVALID);
	free(chain);
	free(doc);
	free(hex);
	free(der);
}

static void test_amd_artefacts(void **state)
{
	size_t len;
	uint8_t *chain = slurp("go-sev-guest/ask_ark_milan.pem", &len);
	uint8_t *vcek;
	struct attest_coll_key k;
	struct attest_coll_blob *b = NULL;
	const char *detail = NULL;

	(void)state;
	assert_int_equal(attest_coll_key_parse("amd_cert_chain/Milan", 20, &k), ERR_OK);
	assert_int_equal(attest_coll_blob_new(&k, chain, len, NULL, 0, 0, "t", &b, &detail), ERR_OK);
	assert_true(b->next_update == 2392305785u);    /* 2045-10-22T17:23:05Z: the ARK expires first */
	attest_coll_blob_unref(b);
	/* One certificate is not a chain. */
	assert_int_equal(attest_coll_blob_new(&k, chain, len / 2 + 40, NULL, 0, 0, "t", &b, &detail),
			 ERR_ATTEST_CERT_CHAIN);
	free(chain);

	vcek = slurp("go-sev-guest/vcek.testcer", &len);
	memset(&k, 0, sizeof(k));
	k.kind = ATTEST_COLL_AMD_VCEK;
	memcpy(k.product, "Milan", 6);
	k.hwid_len = 64;
	assert_int_equal(attest_coll_blob_new(&k, vcek, len, NULL, 0, 0, "t", &b, &detail), ERR_OK);
	assert_true(b->next_update == 1884905728u);    /* 2029-09-24T00:55:28Z */
	assert_int_equal(b->der_len, len);
	attest_coll_blob_unref(b);
	assert_int_equal(attest_coll_blob_new(&k, vcek, len - 3, NULL, 0, 0, "t", &b, &detail), ERR_ATTEST_CERT_CHAIN);
	free(vcek);
}

/* ---- dcap-qvl JSON in and out ---- */

static void check_dcap_roundtrip(const char *rel, enum attest_coll_kind tcb_kind, enum attest_coll_kind crl_kind)
{
	size_t len, n = 0;
	uint8_t *doc = slurp(rel, &len);
	struct attest_coll_blob *blobs[4] = { 0 }, *by_kind[ATTEST_COLL_KIND_COUNT] = { 0 };
	const char *detail = NULL;
	struct buf_writer w;
	static const char *const fields[] = { "pck_crl_issuer_chain", "root_ca_crl", "pck_crl",
					      "tcb_info_issuer_chain", "tcb_info", "tcb_info_signature",
					      "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature" };

	assert_int_equal(attest_coll_from_dcap_json((const char *)doc, len, 5, "offline:x", blobs, &n, &detail), ERR_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		by_kind[blobs[i]->key.kind] = blobs[i];
	assert_non_null(by_kind[tcb_kind]);
	assert_non_null(by_kind[crl_kind]);
	assert_non_null(by_kind[ATTEST_COLL_ROOT_CA_CRL]);
	assert_non_null(by_kind[tcb_kind == ATTEST_COLL_TDX_TCB ? ATTEST_COLL_TDX_QE_IDENTITY : ATTEST_COLL_SGX_QE_IDENTITY]);

	buf_writer_init(&w, 1u << 22);
	assert_int_equal(attest_coll_dcap_json(by_kind[tcb_kind],
					       by_kind[tcb_kind == ATTEST_COLL_TDX_TCB ? ATTEST_COLL_TDX_QE_IDENTITY
										: ATTEST_COLL_SGX_QE_IDENTITY],
					       by_kind[crl_kind], by_kind[ATTEST_COLL_ROOT_CA_CRL], &w),
			 ERR_OK);
	/* Every field as in the original file (hex compared case-insensitively). */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t a_len = 0, b_len = 0;
		char *a = json_field(doc, len, fields[i], &a_len), *b = json_field(w.p, w.len, fields[i], &b_len);
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(a_len, b_len);
		assert_int_equal(strncasecmp(a, b, a_len), 0);
		free(a);
		free(b);
	}
	/* The wrong kinds are refused. */
	assert_int_equal(attest_coll_dcap_json(by_kind[crl_kind], by_kind[tcb_kind], by_kind[crl_kind],
					       by_kind[ATTEST_COLL_ROOT_CA_CRL], &w),
			 ERR_INVALID_ARG);
	buf_writer_free(&w);
	for (size_t i = 0; i < n; i++)
		attest_coll_blob_unref(blobs[i]);
	free(doc);
}

static void test_dcap_json(void **state)
{
	struct attest_coll_blob *blobs[4];
	size_t n = 0;
	const char *detail = NULL;

	(void)state;
	check_dcap_roundtrip("dcap-qvl/tdx_quote_collateral.json", ATTEST_COLL_TDX_TCB, ATTEST_COLL_PCK_CRL_PLATFORM);
	check_dcap_roundtrip("dcap-qvl/sgx_quote_collateral.json", ATTEST_COLL_SGX_TCB, ATTEST_COLL_PCK_CRL_PROCESSOR);
	check_dcap_roundtrip("automata/collateral_tdx_00806f050000_2510.json", ATTEST_COLL_TDX_TCB,
			     ATTEST_COLL_PCK_CRL_PLATFORM);
	/* Byte fields as arrays of numbers (as @phala/dcap-qvl's getCollateral returns them) are accepted. */
	{
		static const char *const str_fields[] = { "pck_crl_issuer_chain", "tcb_info_issuer_chain", "tcb_info",
							  "qe_identity_issuer_chain", "qe_identity" };
		static const char *const hex_fields[] = { "root_ca_crl", "pck_crl", "tcb_info_signature",
							  "qe_identity_signature" };
		size_t len, fl;
		uint8_t *doc = slurp("dcap-qvl/tdx_quote_collateral.json", &len);
		struct buf_writer w;
		buf_writer_init(&w, 1u << 22);
		buf_put_u8(&w, '{');
		for (size_t i = 0; i < 5; i++) {
			char *v = json_field(doc, len, str_fields[i], &fl);
			buf_printf(&w, "%s\"%s\":", i ? "," : "", str_fields[i]);
			json_put_string(&w, v, fl);
			free(v);
		}
		for (size_t i = 0; i < 4; i++) {
			char *v = json_field(doc, len, hex_fields[i], &fl);
			buf_printf(&w, ",\"%s\":[", hex_fields[i]);
			for (size_t j = 0; j < fl; j += 2) {
				unsigned x = (unsigned)(nibble(v[j]) << 4 | nibble(v[j + 1]));
				buf_printf(&w, "%s%u", j ? "," : "", x);
			}
			buf_put_u8(&w, ']');
			free(v);
		}
		buf_put_u8(&w, '}');
		assert_int_equal(attest_coll_from_dcap_json((const char *)w.p, w.len, 0, "x", blobs, &n, &detail), ERR_OK);
		assert_int_equal(n, 4);
		while (n)
			attest_coll_blob_unref(blobs[--n]);
		buf_writer_free(&w);
		free(doc);
	}
	assert_int_equal(attest_coll_from_dcap_json("{\"tcb_info\":1}", 14, 0, "x", blobs, &n, &detail),
			 ERR_PROTO_FIELD_TYPE);
	assert_int_equal(n, 0);
	assert_int_equal(attest_coll_from_dcap_json("[]", 2, 0, "x", blobs, &n, &detail), ERR_PROTO_JSON);
}

/* ---- cache files ---- */

static void test_cache_file_roundtrip(void **state)
{
	size_t len, n = 0;
	uint8_t *doc = slurp("dcap-qvl/sgx_quote_collateral.json", &len);
	struct attest_coll_blob *blobs[4], *b = NULL;
	const char *detail = NULL;
	char name[ATTEST_COLL_KEY_MAX + 8];
	struct buf_writer w;

	(void)state;
	assert_int_equal(attest_coll_from_dcap_json((const char *)doc, len, 1234, "http://up/x", blobs, &n, &detail),
			 ERR_OK);
	buf_writer_init(&w, 1u << 22);
	for (size_t i = 0; i < n; i++) {
		buf_writer_clear(&w);
		assert_int_equal(attest_coll_cache_encode(blobs[i], &w), ERR_OK);
		assert_int_equal(attest_coll_cache_file_name(&blobs[i]->key, name, sizeof(name)), ERR_OK);
		assert_int_equal(attest_coll_cache_decode(w.p, w.len, name, "cache:x", &b, &detail), ERR_OK);
		assert_memory_equal(&b->key, &blobs[i]->key, sizeof(b->key));
		assert_int_equal(b->body_len, blobs[i]->body_len);
		assert_memory_equal(b->body, blobs[i]->body, b->body_len);
		assert_int_equal(b->chain_len, blobs[i]->chain_len);
		assert_true(b->fetched_at == 1234);
		assert_true(b->next_update == blobs[i]->next_update);
		assert_string_equal(b->source, "http://up/x");
		attest_coll_blob_unref(b);
		b = NULL;
		/* Under another name, or cut short: refused. */
		assert_int_equal(attest_coll_cache_decode(w.p, w.len, "root_ca_crl.json.bak", "c", &b, &detail),
				 ERR_PROTO_MALFORMED);
		assert_string_equal(detail, "key does not match the file name");
		assert_int_not_equal(attest_coll_cache_decode(w.p, w.len - 10, name, "c", &b, &detail), ERR_OK);
		assert_null(b);
	}
	buf_writer_free(&w);
	for (size_t i = 0; i < n; i++)
		attest_coll_blob_unref(blobs[i]);
	free(doc);
}

/* ---- directories ---- */

struct found {
	char keys[16][ATTEST_COLL_KEY_MAX];
	size_t n;
};

static void on_found(void *arg, struct attest_coll_blob *b)
{
	struct found *f = arg;

	assert_true(f->n < 16);
	assert_int_equal(attest_coll_key_format(&b->key, f->keys[f->n++], ATTEST_COLL_KEY_MAX), ERR_OK);
	attest_coll_blob_unref(b);
}

static int has_key(const struct found *f, const char *k)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], k) == 0)
			return 1;
	return 0;
}

static void write_file(const char *dir, const char *rel, const void *p, size_t n)
{
	char path[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_dirs(void **state)
{
	char dir[] = "/tmp/ds-coll-unit-XXXXXX", sub[1200], cmd[1300];
	size_t len, n = 0, clen;
	uint8_t *doc = slurp("dcap-qvl/tdx_quote_collateral.json", &len), *tcb;
	struct attest_coll_blob *blobs[4];
	const char *detail = NULL;
	struct found f = { 0 };
	struct stat st;
	char *chain;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* The cache directory: written atomically with mode 0600, read back; a corrupt file is skipped. */
	assert_int_equal(attest_coll_from_dcap_json((const char *)doc, len, 1, "u", blobs, &n, &detail), ERR_OK);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(attest_coll_cache_write(dir, blobs[i], &detail), ERR_OK);
		attest_coll_blob_unref(blobs[i]);
	}
	snprintf(sub, sizeof(sub), "%s/root_ca_crl.json", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	write_file(dir, "sgx_qe_identity.json", "{\"format\"", 9);
	write_file(dir, ".tdx_tcb.x.json.tmp.1", "junk", 4);
	assert_int_equal(attest_coll_cache_load_dir(dir, 0, on_found, &f), 1);
	assert_int_equal(f.n, 4);
	assert_true(has_key(&f, "tdx_tcb/B0C06F000000"));
	assert_true(has_key(&f, "tdx_qe_identity"));
	assert_true(has_key(&f, "pck_crl_platform"));
	assert_true(has_key(&f, "root_ca_crl"));

	/* The offline layout, plus a dcap-qvl file at the top. */
	snprintf(sub, sizeof(sub), "%s/off/sgx/tcb", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s/off/sgx/pckcrl' '%s/off/amd/Milan'", sub, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(sub, sizeof(sub), "%s/off", dir);
	tcb = slurp("automata/raw/0825_sgx_tcbinfov3_00606a000000.json", &clen);
	write_file(sub, "sgx/tcb/00606A000000.json", tcb, clen);
	free(tcb);
	{
		size_t dl;
		uint8_t *d2 = slurp("automata/collateral_sgx_00606a000000_2508.json", &dl);
		chain = json_field(d2, dl, "tcb_info_issuer_chain", &clen);
		write_file(sub, "sgx/tcb/00606A000000.issuer-chain.pem", chain, clen);
		free(chain);
		free(d2);
	}
	write_file(sub, "sgx/tcb/nothex000000.json", "{}", 2);
	tcb = slurp("go-sev-guest/ask_ark_milan.pem", &clen);
	write_file(sub, "amd/Milan/cert_chain.pem", tcb, clen);
	free(tcb);
	write_file(sub, "sgx/rootcacrl.crl", "not a crl", 9);
	write_file(sub, "collateral.json", doc, len);
	memset(&f, 0, sizeof(f));
	assert_int_equal(attest_coll_offline_load_dir(sub, 0, on_found, &f), 2);   /* bad name, bad CRL */
	assert_int_equal(f.n, 6);
	assert_true(has_key(&f, "sgx_tcb/00606A000000"));
	assert_true(has_key(&f, "amd_cert_chain/Milan"));
	assert_true(has_key(&f, "tdx_tcb/B0C06F000000"));
	assert_true(has_key(&f, "root_ca_crl"));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(doc);
}

/* ---- certificates parsed once ---- */

/* The tdx collateral's blobs in dcap order: TCB info, QE identity, PCK CRL, Root CA CRL. */
static void dcap_blobs(const char *rel, struct attest_coll_blob *out[4])
{
	size_t len, n = 0;
	uint8_t *doc = slurp(rel, &len);
	struct attest_coll_blob *b[4];
	const char *detail = NULL;

	assert_int_equal(attest_coll_from_dcap_json((const char *)doc, len, 1, "u", b, &n, &detail), ERR_OK);
	assert_int_equal(n, 4);
	memset(out, 0, 4 * sizeof(out[0]));
	for (size_t i = 0; i < n; i++) {
		switch (b[i]->key.kind) {
		case ATTEST_COLL_TDX_TCB:
		case ATTEST_COLL_SGX_TCB:
			out[0] = b[i];
			break;
		case ATTEST_COLL_TDX_QE_IDENTITY:
		case ATTEST_COLL_SGX_QE_IDENTITY:
			out[1] = b[i];
			break;
		case ATTEST_COLL_ROOT_CA_CRL:
			out[3] = b[i];
			break;
		default:
			out[2] = b[i];
			break;
		}
	}
	for (int i = 0; i < 4; i++)
		assert_non_null(out[i]);
	free(doc);
}

static struct attest_coll_blob *remake(const struct attest_coll_blob *b, struct attest_coll_certs *m)
{
	struct attest_coll_blob *x = NULL;
	const char *detail = NULL;

	assert_int_equal(attest_coll_blob_new_certs(&b->key, b->body, b->body_len, b->issuer_chain, b->chain_len,
						    b->fetched_at, b->source, m, &x, &detail),
			 ERR_OK);
	return x;
}

/*
 * Intel's intermediates are in the table from the start, so real
 * collateral's issuer chains are made of certificates it already holds:
 * the first fetch parses none.
 */
static void test_certs_intel(void **state)
{
	struct attest_coll_blob *ref[4], *b[4];
	struct attest_coll_certs *m = attest_coll_certs_new();
	X509 *root = attest_intel_root(), *held[3];
	size_t n = 0;
	const struct attest_der *d = attest_intel_intermediates(&n);

	(void)state;
	assert_non_null(m);
	assert_non_null(root);
	assert_int_equal(n, 3);
	assert_int_equal(attest_coll_certs_add_intel(m), ERR_OK);
	assert_int_equal(attest_coll_certs_add(m, root), ERR_OK);
	for (size_t i = 0; i < n; i++) {
		unsigned char *der = NULL;
		int len;

		held[i] = attest_coll_certs_find(m, d[i].der, d[i].len);
		assert_non_null(held[i]);
		len = i2d_X509(held[i], &der);
		assert_int_equal((size_t)len, d[i].len);
		assert_memory_equal(der, d[i].der, d[i].len);
		OPENSSL_free(der);
	}
	assert_null(attest_coll_certs_find(m, d[0].der, d[0].len - 1));
	dcap_blobs("dcap-qvl/tdx_quote_collateral.json", ref);
	for (int i = 0; i < 4; i++)
		b[i] = remake(ref[i], m);
	/* TCB info and QE identity: TCB Signing, root; PCK CRL (a Platform CA quote): Platform CA, root. */
	assert_ptr_equal(b[0]->certs[0], held[0]);
	assert_ptr_equal(b[1]->certs[0], held[0]);
	assert_ptr_equal(b[2]->certs[0], held[1]);
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(b[i]->certs[1], root);
	for (int i = 0; i < 4; i++) {
		attest_coll_blob_unref(b[i]);
		attest_coll_blob_unref(ref[i]);
	}
	for (size_t i = 0; i < n; i++)
		X509_free(held[i]);
	attest_coll_certs_free(m);
	X509_free(root);
	assert_int_equal(attest_coll_certs_add_intel(NULL), ERR_INVALID_ARG);
}

/*
 * Blobs made through the memo are the blobs made without it, and share the
 * certificates: a trust anchor added up front, and whatever an earlier chain held.
 */
static void test_certs_memo(void **state)
{
	struct attest_coll_blob *ref[4], *b[4];
	struct attest_coll_certs *m = attest_coll_certs_new();
	X509 *root = attest_intel_root();
	const char *detail = NULL;
	struct attest_coll_blob *x = NULL;
	char *bad;

	(void)state;
	assert_non_null(m);
	assert_non_null(root);
	dcap_blobs("dcap-qvl/tdx_quote_collateral.json", ref);
	assert_int_equal(attest_coll_certs_add(m, root), ERR_OK);
	assert_int_equal(attest_coll_certs_add(m, root), ERR_OK);   /* twice: kept once */
	for (int i = 0; i < 4; i++) {
		b[i] = remake(ref[i], m);
		assert_int_equal(b[i]->ncerts, ref[i]->ncerts);
		for (size_t k = 0; k < b[i]->ncerts; k++)
			assert_int_equal(X509_cmp(b[i]->certs[k], ref[i]->certs[k]), 0);
		assert_true(b[i]->issued_at == ref[i]->issued_at);
		assert_true(b[i]->next_update == ref[i]->next_update);
		assert_int_equal(b[i]->inner_off, ref[i]->inner_off);
		assert_int_equal(b[i]->inner_len, ref[i]->inner_len);
		assert_int_equal(b[i]->der_len, ref[i]->der_len);
		if (b[i]->der)
			assert_memory_equal(b[i]->der, ref[i]->der, b[i]->der_len);
	}
	/* Every chain ends in the anchor added up front; the QE identity chain reuses the TCB info's signer. */
	assert_ptr_equal(b[0]->certs[1], root);
	assert_ptr_equal(b[1]->certs[1], root);
	assert_ptr_equal(b[2]->certs[1], root);
	assert_ptr_equal(b[1]->certs[0], b[0]->certs[0]);
	assert_ptr_not_equal(b[0]->certs[0], ref[0]->certs[0]);
	/* The CRL kinds keep the parsed CRL, whose DER is the blob's. */
	for (int i = 2; i < 4; i++) {
		unsigned char *der = NULL;
		int n = i2d_X509_CRL(b[i]->crl, &der);

		assert_non_null(b[i]->crl);
		assert_int_equal(n, b[i]->der_len);
		assert_memory_equal(der, b[i]->der, (size_t)n);
		OPENSSL_free(der);
	}
	assert_null(b[0]->crl);

	/* A known first block does not excuse a broken second one. */
	bad = strdup(ref[0]->issuer_chain);
	bad[ref[0]->chain_len - 60] = '*';   /* not base64: the root block no longer decodes */
	assert_int_equal(attest_coll_blob_new_certs(&ref[0]->key, ref[0]->body, ref[0]->body_len, bad, ref[0]->chain_len,
						    1, "u", m, &x, &detail),
			 ERR_ATTEST_CERT_CHAIN);
	assert_null(x);
	free(bad);

	for (int i = 0; i < 4; i++) {
		attest_coll_blob_unref(b[i]);
		attest_coll_blob_unref(ref[i]);
	}
	/* The memo holds its own references: the certificates outlive the blobs. */
	assert_int_equal(X509_cmp(root, root), 0);
	attest_coll_certs_free(m);
	X509_free(root);
	assert_int_equal(attest_coll_certs_add(NULL, NULL), ERR_INVALID_ARG);
}

/* av_intel_collateral_from_blobs: exactly what the dcap-qvl JSON round trip gives, without the text. */
static void test_collateral_from_blobs(void **state)
{
	const char *files[] = { "dcap-qvl/tdx_quote_collateral.json", "dcap-qvl/sgx_quote_collateral.json" };

	(void)state;
	for (size_t f = 0; f < ARRAY_LEN(files); f++) {
		struct attest_coll_blob *b[4], *again[4], *swapped[4];
		struct dcap_collateral c, j;
		struct buf_writer w;
		struct arena a;
		uint8_t id[32], id2[32];
		const char *detail = NULL;

		dcap_blobs(files[f], b);
		buf_writer_init(&w, 1u << 22);
		arena_init(&a, 1u << 24, 1u << 16);
		assert_int_equal(attest_coll_dcap_json(b[0], b[1], b[2], b[3], &w), ERR_OK);
		assert_int_equal(dcap_collateral_parse_json((const char *)w.p, w.len, &a, &j, &detail), ERR_OK);
		assert_int_equal(av_intel_collateral_from_blobs((const struct attest_coll_blob *const *)b, &c, id), ERR_OK);
#define SAME(f)                                                         \
	do {                                                            \
		assert_int_equal(c.f##_len, j.f##_len);                 \
		assert_memory_equal(c.f, j.f, j.f##_len);               \
	} while (0)
		SAME(pck_crl_issuer_chain);
		SAME(root_ca_crl);
		SAME(pck_crl);
		SAME(tcb_info_issuer_chain);
		SAME(tcb_info);
		SAME(qe_identity_issuer_chain);
		SAME(qe_identity);
#undef SAME
		assert_memory_equal(c.tcb_info_signature, j.tcb_info_signature, 64);
		assert_memory_equal(c.qe_identity_signature, j.qe_identity_signature, 64);
		assert_null(c.pck_certificate_chain);

		/* The id names the content: other blobs with the same bytes, the same id. */
		for (int i = 0; i < 4; i++)
			again[i] = remake(b[i], NULL);
		assert_int_equal(av_intel_collateral_from_blobs((const struct attest_coll_blob *const *)again, &c, id2),
				 ERR_OK);
		assert_memory_equal(id, id2, 32);
		/* Parts in the wrong places: refused. */
		memcpy(swapped, b, sizeof(swapped));
		swapped[0] = b[1];
		swapped[1] = b[0];
		assert_int_equal(av_intel_collateral_from_blobs((const struct attest_coll_blob *const *)swapped, &c, id2),
				 ERR_INVALID_ARG);
		swapped[0] = NULL;
		assert_int_equal(av_intel_collateral_from_blobs((const struct attest_coll_blob *const *)swapped, &c, id2),
				 ERR_INVALID_ARG);
		for (int i = 0; i < 4; i++) {
			attest_coll_blob_unref(b[i]);
			attest_coll_blob_unref(again[i]);
		}
		arena_fini(&a);
		buf_writer_free(&w);
	}
}

/* ---- cache files written off the loop ---- */

struct written {
	size_t n, failed;
	err_t last;
};

static void on_written(void *arg, const struct attest_coll_blob *b, err_t err, const char *detail)
{
	struct written *wr = arg;

	(void)b;
	(void)detail;
	wr->n++;
	wr->last = err;
	if (err != ERR_OK)
		wr->failed++;
}

static void run_until(struct event_base *base, const struct written *wr, size_t n)
{
	for (int i = 0; i < 5000 && wr->n < n; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (wr->n < n)
			usleep(1000);
	}
	assert_int_equal(wr->n, n);
}

static size_t count_files(const char *dir)
{
	struct found f = { 0 };

	(void)attest_coll_cache_load_dir(dir, 0, on_found, &f);
	return f.n;
}

/*
 * The answer does not wait for the file, but the file comes: written by the
 * writer, in full, atomically; and everything queued when the writer is freed
 * (a clean stop) is on disk when free returns, so a restart loads it.
 */
static void test_writer(void **state)
{
	char dir[] = "/tmp/ds-coll-writer-XXXXXX", cmd[1200], missing[1200];
	struct attest_coll_blob *b[4];
	struct attest_coll_writer *w;
	struct written wr = { 0 };
	struct event_base *base;
	struct found f = { 0 };

	(void)state;
	assert_int_equal(evthread_use_pthreads(), 0);
	base = event_base_new();
	assert_non_null(base);
	assert_non_null(mkdtemp(dir));
	dcap_blobs("dcap-qvl/tdx_quote_collateral.json", b);

	w = attest_coll_writer_new(base, dir, on_written, &wr);
	assert_non_null(w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(attest_coll_writer_put(w, b[i]), ERR_OK);
	assert_true(attest_coll_writer_pending(w) <= 4);
	/* The callbacks come from the loop, one per blob, after each file is in place. */
	run_until(base, &wr, 4);
	assert_int_equal(wr.failed, 0);
	assert_int_equal(attest_coll_writer_pending(w), 0);
	assert_int_equal(attest_coll_cache_load_dir(dir, 0, on_found, &f), 0);
	assert_int_equal(f.n, 4);
	assert_true(has_key(&f, "tdx_tcb/B0C06F000000"));
	assert_true(has_key(&f, "root_ca_crl"));

	/* A clean stop: queued, never run from the loop, written by free (which runs the callbacks). */
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.json", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_files(dir), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(attest_coll_writer_put(w, b[i]), ERR_OK);
	attest_coll_writer_free(w);
	assert_int_equal(wr.n, 8);
	assert_int_equal(wr.failed, 0);
	assert_int_equal(count_files(dir), 4);

	/* A directory that cannot be written: reported through the callback, nothing else. */
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	w = attest_coll_writer_new(base, missing, on_written, &wr);
	assert_non_null(w);
	assert_int_equal(attest_coll_writer_put(w, b[0]), ERR_OK);
	run_until(base, &wr, 9);
	assert_int_equal(wr.failed, 1);
	assert_int_equal(wr.last, ERR_IO_FILE);
	attest_coll_writer_free(w);
	assert_int_equal(attest_coll_writer_put(NULL, b[0]), ERR_INVALID_ARG);

	for (int i = 0; i < 4; i++)
		attest_coll_blob_unref(b[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_url_encoding),
		cmocka_unit_test(test_tcb_and_qe_validity),
		cmocka_unit_test(test_tcb_info_v2),
		cmocka_unit_test(test_crl_forms),
		cmocka_unit_test(test_amd_artefacts),
		cmocka_unit_test(test_dcap_json),
		cmocka_unit_test(test_cache_file_roundtrip),
		cmocka_unit_test(test_dirs),
		cmocka_unit_test(test_certs_memo),
		cmocka_unit_test(test_certs_intel),
		cmocka_unit_test(test_collateral_from_blobs),
		cmocka_unit_test(test_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
