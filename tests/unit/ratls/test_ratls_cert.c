/* SPDX-License-Identifier: Apache-2.0 */
/* ratls_cert: the builder's profile checked with OpenSSL, the extension reader's strictness, and the PEM/DER helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "ratls.h"

#define NOW 1760000000ull

static X509 *make_ca(EVP_PKEY *k)
{
	struct ratls_cert_params p;
	X509 *x = NULL;

	memset(&p, 0, sizeof(p));
	p.org = "Dstack";
	p.cn = "Dstack KMS CA";
	p.not_after = NOW + 3650 * 86400ull;
	p.is_ca = 1;
	p.path_len = 1;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_OK);
	return x;
}

static void test_ca_profile(void **state)
{
	EVP_PKEY *k = ratls_key_new();
	X509 *x = make_ca(k);
	const ASN1_INTEGER *serial;
	BIGNUM *bn;
	BASIC_CONSTRAINTS *bc;
	char buf[256];
	struct tm tm;

	(void)state;
	assert_int_equal(X509_get_version(x), 2);
	assert_int_equal(X509_verify(x, k), 1);   /* self-signed */
	assert_int_equal(X509_check_ca(x), 1);
	assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(x) & KU_CRL_SIGN);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_extension_flags(x) & EXFLAG_SS, EXFLAG_SS);
	assert_non_null(X509_get0_subject_key_id(x));
	X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
	assert_string_equal(buf, "/O=Dstack/CN=Dstack KMS CA");
	/* serial: 16 bytes, positive */
	serial = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	assert_false(BN_is_negative(bn));
	assert_int_equal(BN_num_bytes(bn), 16);
	BN_free(bn);
	/* dstack's default notBefore */
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm), 1);
	assert_int_equal(tm.tm_year + 1900, 1975);
	assert_int_equal(tm.tm_mon, 0);
	assert_int_equal(tm.tm_mday, 1);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_leaf_profile_and_extensions(void **state)
{
	static const char *const names[] = { "kms.example", "127.0.0.1", "::1" };
	uint8_t app_id[20], att[300];
	EVP_PKEY *ck = ratls_key_new(), *lk = ratls_key_new();
	X509 *ca = make_ca(ck), *x = NULL;
	struct ratls_cert_params p;
	struct ratls_cert_ext ext;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	GENERAL_NAMES *san;
	const char *detail = NULL;

	(void)state;
	memset(app_id, 0x5a, sizeof(app_id));
	for (size_t i = 0; i < sizeof(att); i++)
		att[i] = (uint8_t)i;
	memset(&p, 0, sizeof(p));
	p.cn = "kms.example";
	p.alt_names = names;
	p.n_alt_names = 3;
	p.not_before = NOW - 60;
	p.not_after = NOW + 86400;
	p.server_auth = 1;
	p.app_id = app_id;
	p.usage = RATLS_USAGE_KMS_RPC;
	p.attestation = att;
	p.attestation_len = sizeof(att);
	p.app_info = (const uint8_t *)"\x90";
	p.app_info_len = 1;
	assert_int_equal(ratls_cert_build(&p, lk, ca, ck, &x), ERR_OK);
	/* chains to the CA with OpenSSL's own verification */
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(sctx, store, x, NULL), 1);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(sctx), (time_t)NOW);
	assert_int_equal(X509_verify_cert(sctx), 1);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(ca)), 0);
	assert_int_equal(X509_check_host(x, "kms.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(san), 3);
	GENERAL_NAMES_free(san);
	/* dstack extensions read back exactly */
	assert_int_equal(ratls_cert_ext_read(x, &ext, &detail), ERR_OK);
	assert_int_equal(ext.app_id.len, 20);
	assert_memory_equal(ext.app_id.p, app_id, 20);
	assert_int_equal(ext.usage.len, 7);
	assert_memory_equal(ext.usage.p, "kms:rpc", 7);
	assert_int_equal(ext.attestation.len, sizeof(att));
	assert_memory_equal(ext.attestation.p, att, sizeof(att));
	assert_int_equal(ext.app_info.len, 1);
	assert_null(ext.tdx_quote.p);
	/* the raw extension value is a DER OCTET STRING (04 82 01 2c ...) around the bytes */
	{
		ASN1_OBJECT *o = OBJ_txt2obj(RATLS_OID_ATTESTATION, 1);
		int idx = X509_get_ext_by_OBJ(x, o, -1);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, idx));

		assert_true(idx >= 0);
		assert_int_equal(v->length, 4 + (int)sizeof(att));
		assert_memory_equal(v->data, "\x04\x82\x01\x2c", 4);
		assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 0);
		ASN1_OBJECT_free(o);
	}
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(lk);
}

static void test_build_rejects(void **state)
{
	static const char *const bad_name[] = { "two words" };
	EVP_PKEY *k = ratls_key_new(), *k2 = ratls_key_new(), *p384 = EVP_EC_gen("P-384");
	struct ratls_cert_params p;
	char long_usage[80];
	X509 *x = NULL;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.cn = "x";
	p.not_after = NOW;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_OK);
	X509_free(x);
	x = NULL;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k2, &x), ERR_INVALID_ARG);   /* self-signed by someone else */
	assert_int_equal(ratls_cert_build(&p, p384, NULL, p384, &x), ERR_INVALID_ARG);
	p.cn = NULL;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_INVALID_ARG);
	p.cn = "x";
	p.not_after = RATLS_DEFAULT_NOT_BEFORE;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_INVALID_ARG);
	p.not_after = NOW;
	p.alt_names = bad_name;
	p.n_alt_names = 1;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_INVALID_ARG);
	p.n_alt_names = 0;
	memset(long_usage, 'u', sizeof(long_usage) - 1);
	long_usage[sizeof(long_usage) - 1] = 0;
	p.usage = long_usage;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_INVALID_ARG);
	p.usage = NULL;
	p.attestation_len = 5;   /* a length without bytes */
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_INVALID_ARG);
	assert_null(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(p384);
}

/* A certificate with one raw extension at 1.3.6.1.4.1.62397.1.<arc> whose extnValue octets are `val`. */
static X509 *with_raw_ext(EVP_PKEY *k, const char *oid, const void *val, size_t n, int twice)
{
	struct ratls_cert_params p;
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;
	X509 *x = NULL;

	memset(&p, 0, sizeof(p));
	p.cn = "raw";
	p.not_after = NOW;
	assert_int_equal(ratls_cert_build(&p, k, NULL, k, &x), ERR_OK);
	assert_int_equal(ASN1_OCTET_STRING_set(os, val, (int)n), 1);
	e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	if (twice)
		assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
	return x;
}

static void test_ext_reader_strict(void **state)
{
	static const struct {
		const char *oid;
		const char *val;
		size_t n;
		int twice;
		err_t want;
	} cases[] = {
		{ RATLS_OID_ATTESTATION, "\x04\x02\x00\x01", 4, 0, ERR_OK },
		{ RATLS_OID_ATTESTATION, "\x00\x01", 2, 0, ERR_RATLS_EVIDENCE_FORMAT },           /* raw bytes, no OCTET STRING */
		{ RATLS_OID_ATTESTATION, "\x04\x02\x00\x01\x00", 5, 0, ERR_RATLS_EVIDENCE_FORMAT }, /* trailing byte */
		{ RATLS_OID_ATTESTATION, "\x04\x81\x02\x00\x01", 5, 0, ERR_RATLS_EVIDENCE_FORMAT }, /* long form, short length */
		{ RATLS_OID_ATTESTATION, "\x04\x80\x00\x00", 4, 0, ERR_RATLS_EVIDENCE_FORMAT },     /* indefinite (BER) */
		{ RATLS_OID_ATTESTATION, "\x04\x03\x00\x01", 4, 0, ERR_RATLS_EVIDENCE_FORMAT },     /* truncated */
		{ RATLS_OID_ATTESTATION, "\x04\x84\x7f\xff\xff\xff", 6, 0, ERR_PROTO_TOO_LARGE },
		{ RATLS_OID_ATTESTATION, "\x04\x01\x00", 3, 1, ERR_RATLS_EVIDENCE_FORMAT },         /* twice */
		{ RATLS_OID_APP_ID, "\x04\x02\x00\x01", 4, 0, ERR_RATLS_EVIDENCE_FORMAT },          /* not 20 bytes */
		{ RATLS_OID_CERT_USAGE, "\x04\x02\xff\xfe", 4, 0, ERR_RATLS_EVIDENCE_FORMAT },      /* not UTF-8 */
		{ RATLS_OID_CERT_USAGE, "\x04\x00", 2, 0, ERR_RATLS_EVIDENCE_FORMAT },              /* empty */
		{ "1.3.6.1.4.1.62397.1.7", "garbage", 7, 0, ERR_OK },                               /* an arc we do not read */
	};
	EVP_PKEY *k = ratls_key_new();
	struct ratls_cert_ext ext;
	struct arena a;

	(void)state;
	arena_init(&a, 1 << 20, 4096);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		X509 *x = with_raw_ext(k, cases[i].oid, cases[i].val, cases[i].n, cases[i].twice);
		const char *detail = NULL;
		err_t rc = ratls_cert_ext_read(x, &ext, &detail);

		if (rc != cases[i].want)
			fail_msg("case %zu: %s, want %s", i, err_name(rc), err_name(cases[i].want));
		if (rc != ERR_OK)
			assert_non_null(detail);
		X509_free(x);
	}
	/* evidence extraction on top: a truncated V0 attestation; a legacy quote that is not a quote; no evidence */
	{
		struct ratls_attestation att;
		X509 *x = with_raw_ext(k, RATLS_OID_ATTESTATION, "\x04\x02\x00\x00", 4, 0);

		assert_int_equal(ratls_cert_evidence(x, &a, &att, NULL), ERR_RATLS_EVIDENCE_FORMAT);
		X509_free(x);
		x = with_raw_ext(k, RATLS_OID_TDX_QUOTE, "\x04\x02\x04\x00", 4, 0);
		assert_int_equal(ratls_cert_evidence(x, &a, &att, NULL), ERR_RATLS_EVIDENCE_FORMAT);
		X509_free(x);
		x = with_raw_ext(k, RATLS_OID_APP_ID, "\x04\x14xxxxxxxxxxxxxxxxxxxx", 22, 0);
		assert_int_equal(ratls_cert_evidence(x, &a, &att, NULL), ERR_RATLS_NO_EVIDENCE);
		X509_free(x);
	}
	arena_fini(&a);
	EVP_PKEY_free(k);
}

static void test_encodings(void **state)
{
	EVP_PKEY *k = ratls_key_new(), *back;
	X509 *x = make_ca(k), *y;
	struct buf_writer der, pem, key, spki;
	uint8_t rd[64], want[64];
	BIO *b;

	(void)state;
	buf_writer_init(&der, 1 << 20);
	buf_writer_init(&pem, 1 << 20);
	buf_writer_init(&key, 1 << 20);
	buf_writer_init(&spki, 1 << 20);
	assert_int_equal(ratls_cert_der(x, &der), ERR_OK);
	assert_int_equal(ratls_cert_pem(x, &pem), ERR_OK);
	assert_int_equal(ratls_key_pem(k, &key), ERR_OK);
	assert_int_equal(key.wipe, 1);
	assert_int_equal(ratls_spki_der(k, &spki), ERR_OK);
	assert_int_equal(spki.len, 91);   /* P-256 SPKI, as in dstack's key-provider id */
	y = x509_from_bytes(der.p, der.len);
	assert_int_equal(X509_cmp(x, y), 0);
	X509_free(y);
	y = x509_from_bytes(pem.p, pem.len);
	assert_int_equal(X509_cmp(x, y), 0);
	X509_free(y);
	b = BIO_new_mem_buf(key.p, (int)key.len);
	back = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, k), 1);
	EVP_PKEY_free(back);
	/* report data = SHA-512("ratls-cert:" || SPKI) */
	assert_int_equal(ratls_report_data(k, rd), ERR_OK);
	{
		const void *parts[2] = { "ratls-cert:", spki.p };
		const size_t lens[2] = { 11, spki.len };

		sha512_parts(parts, lens, 2, want);
	}
	assert_memory_equal(rd, want, 64);
	buf_writer_free(&der);
	buf_writer_free(&pem);
	buf_writer_free(&key);
	buf_writer_free(&spki);
	X509_free(x);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_profile),
		cmocka_unit_test(test_leaf_profile_and_extensions),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_ext_reader_strict),
		cmocka_unit_test(test_encodings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
