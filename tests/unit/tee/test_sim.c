/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the sim backend: determinism, structure re-parsed with OpenSSL, every signature, and end-to-end verification by lib/attest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "crypto.h"
#include "dcap.h"
#include "enc.h"
#include "sim.h"
#include "sim_internal.h"
#include "snp.h"

#define NOW 1760000000ull /* 2025-10-09T08:53:20Z */
#define DAY 86400ull

static void seed_of(uint8_t seed[SIM_SEED_LEN], uint8_t b)
{
	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		seed[i] = (uint8_t)(b + i);
}

static struct sim_pki *pki_new(uint8_t b, const struct sim_params *p)
{
	uint8_t seed[SIM_SEED_LEN];
	struct sim_pki *pki = NULL;

	seed_of(seed, b);
	assert_int_equal(sim_pki_new(seed, p, &pki), ERR_OK);
	assert_non_null(pki);
	return pki;
}

static X509 *cert_of(struct sim_pki *pki, enum sim_cert which)
{
	const uint8_t *der = NULL;
	size_t len = 0;
	X509 *x;

	assert_int_equal(sim_cert_der(pki, which, &der, &len), ERR_OK);
	assert_non_null(der);
	x = x509_from_bytes(der, len);
	assert_non_null(x);
	return x;
}

static X509_CRL *crl_of(const struct sim_pki *pki, enum sim_crl which)
{
	const uint8_t *der = NULL;
	size_t len = 0;
	X509_CRL *c;

	sim_crl_der(pki, which, &der, &len);
	c = x509_crl_from_bytes(der, len);
	assert_non_null(c);
	return c;
}

static void hex_to(const char *hex, uint8_t *out, size_t want)
{
	size_t n = 0;

	assert_int_equal(hex_decode(out, want, &n, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(n, want);
}

/* CN of a name, into buf. */
static const char *cn_of(const X509_NAME *name, char *buf, int cap)
{
	assert_true(X509_NAME_get_text_by_NID(UNCONST(name), NID_commonName, buf, cap) > 0);
	return buf;
}

static uint64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (uint64_t)timegm(&tm);
}

/* ---- RFC 6979 known answers (A.2.5 P-256/SHA-256 and A.2.6 P-384/SHA-384, message "sample") ---- */

static void test_rfc6979_vectors(void **state)
{
	struct sim_eckey k;
	uint8_t sig[96], want[96];

	(void)state;
	memset(&k, 0, sizeof(k));
	k.nid = NID_X9_62_prime256v1;
	k.len = 32;
	hex_to("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721", k.d, 32);
	hex_to("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
	       "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
	       want, 64);
	assert_int_equal(sim_ecdsa_sign(&k, "sample", 6, sig), ERR_OK);
	assert_memory_equal(sig, want, 64);

	memset(&k, 0, sizeof(k));
	k.nid = NID_secp384r1;
	k.len = 48;
	hex_to("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5", k.d,
	       48);
	hex_to("94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46"
	       "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8",
	       want, 96);
	assert_int_equal(sim_ecdsa_sign(&k, "sample", 6, sig), ERR_OK);
	assert_memory_equal(sig, want, 96);
}

/* ---- determinism ---- */

struct outputs {
	uint8_t *quote;
	size_t quote_len;
	char *coll;
	size_t coll_len;
	uint8_t snp[SIM_SNP_REPORT_LEN];
	char *amd_chain;
	size_t amd_chain_len;
};

static void outputs_make(struct sim_pki *pki, struct outputs *o)
{
	struct attest_td_report td;
	struct attest_snp_report r;
	struct sim_tcb_params t;

	sim_td_report_default(pki, &td);
	memset(td.report_data, 0x5a, 64);
	memset(td.rtmr[3], 0x33, 48);
	assert_int_equal(sim_tdx_quote(pki, &td, &o->quote, &o->quote_len), ERR_OK);
	sim_tcb_params_default(&t, NOW);
	assert_int_equal(sim_collateral_json(pki, &t, &o->coll, &o->coll_len), ERR_OK);
	sim_snp_report_default(pki, &r);
	memset(r.report_data, 0x77, 64);
	assert_int_equal(sim_snp_report(pki, &r, o->snp), ERR_OK);
	assert_int_equal(sim_amd_chain(pki, &o->amd_chain, &o->amd_chain_len), ERR_OK);
}

static void outputs_free(struct outputs *o)
{
	free(o->quote);
	free(o->coll);
	free(o->amd_chain);
}

static void test_determinism(void **state)
{
	struct sim_pki *a = pki_new(1, NULL), *b = pki_new(1, NULL), *c = pki_new(2, NULL);
	struct outputs oa, ob, oc;

	(void)state;
	outputs_make(a, &oa);
	outputs_make(b, &ob);
	outputs_make(c, &oc);
	for (int i = 0; i < SIM_CERT_COUNT; i++) {
		const uint8_t *da, *db, *dc;
		size_t la, lb, lc;

		assert_int_equal(sim_cert_der(a, (enum sim_cert)i, &da, &la), ERR_OK);
		assert_int_equal(sim_cert_der(b, (enum sim_cert)i, &db, &lb), ERR_OK);
		assert_int_equal(sim_cert_der(c, (enum sim_cert)i, &dc, &lc), ERR_OK);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
		assert_true(la != lc || memcmp(da, dc, la) != 0);
	}
	for (int i = 0; i < 2; i++) {
		const uint8_t *da, *db;
		size_t la, lb;

		sim_crl_der(a, (enum sim_crl)i, &da, &la);
		sim_crl_der(b, (enum sim_crl)i, &db, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
	}
	assert_int_equal(oa.quote_len, ob.quote_len);
	assert_memory_equal(oa.quote, ob.quote, oa.quote_len);
	assert_int_equal(oa.coll_len, ob.coll_len);
	assert_memory_equal(oa.coll, ob.coll, oa.coll_len);
	assert_memory_equal(oa.snp, ob.snp, SIM_SNP_REPORT_LEN);
	assert_string_equal(oa.amd_chain, ob.amd_chain);
	/* another seed: other keys, other signatures, other bytes */
	assert_true(oa.quote_len != oc.quote_len || memcmp(oa.quote, oc.quote, oa.quote_len) != 0);
	assert_memory_not_equal(oa.quote + 48 + 584 + 4, oc.quote + 48 + 584 + 4, 128);
	assert_true(oa.coll_len != oc.coll_len || memcmp(oa.coll, oc.coll, oa.coll_len) != 0);
	assert_memory_not_equal(oa.snp + 0x2A0, oc.snp + 0x2A0, 144);
	outputs_free(&oa);
	outputs_free(&ob);
	outputs_free(&oc);
	sim_pki_free(a);
	sim_pki_free(b);
	sim_pki_free(c);
}

static void test_params_rejected(void **state)
{
	uint8_t seed[SIM_SEED_LEN] = { 0 };
	struct sim_params p;
	struct sim_pki *pki = (struct sim_pki *)1;

	(void)state;
	sim_params_default(&p);
	p.not_after = p.not_before;
	assert_int_equal(sim_pki_new(seed, &p, &pki), ERR_INVALID_ARG);
	assert_null(pki);
	sim_params_default(&p);
	p.crl_next_update = p.crl_this_update - 1;
	assert_int_equal(sim_pki_new(seed, &p, &pki), ERR_INVALID_ARG);
}

static void test_keygen_time(void **state)
{
	uint64_t t0, t1, t2;
	struct sim_pki *pki;
	const uint8_t *der;
	size_t len;

	(void)state;
	t0 = mono_ms();
	pki = pki_new(9, NULL);
	t1 = mono_ms();
	assert_int_equal(sim_cert_der(pki, SIM_CERT_ARK, &der, &len), ERR_OK);
	t2 = mono_ms();
	print_message("sim PKI: Intel side %llu ms, AMD side (2x RSA-4096) %llu ms\n", (unsigned long long)(t1 - t0),
		      (unsigned long long)(t2 - t1));
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(t1 - t0 < 1000);
	assert_true(t2 - t1 < 1000);
#endif
	sim_pki_free(pki);
}

/* ---- certificates and CRLs ---- */

static void assert_signed_by(X509 *x, X509 *issuer)
{
	assert_int_equal(X509_verify(x, X509_get0_pubkey(issuer)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(issuer)), 0);
	assert_int_equal(X509_check_issued(issuer, x), X509_V_OK);
}

static void assert_validity(X509 *x, const struct sim_params *p)
{
	assert_int_equal(asn1_unix(X509_get0_notBefore(x)), p->not_before);
	assert_int_equal(asn1_unix(X509_get0_notAfter(x)), p->not_after);
}

/* Find {OID, value} in a SEQUENCE OF SEQUENCE by the OID text; the value is the caller's (ASN1_TYPE_free). */
static ASN1_TYPE *seq_find(STACK_OF(ASN1_TYPE) *seq, const char *oid)
{
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
		const ASN1_TYPE *e = sk_ASN1_TYPE_value(seq, i);
		const unsigned char *p;
		STACK_OF(ASN1_TYPE) *pair;
		char buf[64];
		ASN1_TYPE *v;

		assert_int_equal(e->type, V_ASN1_SEQUENCE);
		p = e->value.sequence->data;
		pair = d2i_ASN1_SEQUENCE_ANY(NULL, &p, e->value.sequence->length);
		assert_non_null(pair);
		assert_int_equal(sk_ASN1_TYPE_num(pair), 2);
		assert_int_equal(sk_ASN1_TYPE_value(pair, 0)->type, V_ASN1_OBJECT);
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_TYPE_value(pair, 0)->value.object, 1);
		if (!strcmp(buf, oid)) {
			v = sk_ASN1_TYPE_delete(pair, 1);
			sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
			return v;
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
	}
	return NULL;
}

static void test_intel_certs(void **state)
{
	struct sim_params p;
	struct sim_pki *pki;
	X509 *root, *ca, *leaf, *tcb;
	char buf[128];
	int idx;

	(void)state;
	sim_params_default(&p);
	p.not_before = NOW - 100 * DAY;
	p.not_after = NOW + 1000 * DAY;
	pki = pki_new(3, &p);
	root = cert_of(pki, SIM_CERT_ROOT);
	ca = cert_of(pki, SIM_CERT_PCK_CA);
	leaf = cert_of(pki, SIM_CERT_PCK_LEAF);
	tcb = cert_of(pki, SIM_CERT_TCB_SIGNING);

	assert_string_equal(cn_of(X509_get_subject_name(root), buf, sizeof(buf)), "Development SGX Root CA");
	assert_string_equal(cn_of(X509_get_subject_name(ca), buf, sizeof(buf)), "Intel SGX PCK Platform CA");
	assert_string_equal(cn_of(X509_get_subject_name(leaf), buf, sizeof(buf)), "Intel SGX PCK Certificate");
	assert_string_equal(cn_of(X509_get_subject_name(tcb), buf, sizeof(buf)), "Intel SGX TCB Signing");
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_organizationName, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "DEVELOPMENT"));

	assert_signed_by(root, root);
	assert_signed_by(ca, root);
	assert_signed_by(leaf, ca);
	assert_signed_by(tcb, root);
	assert_validity(root, &p);
	assert_validity(leaf, &p);
	assert_int_equal(X509_check_ca(root), 1);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(X509_check_ca(leaf), 0);
	assert_int_equal(X509_check_ca(tcb), 0);
	assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
	assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(leaf)), 20);
	assert_non_null(X509_get0_subject_key_id(leaf));
	assert_non_null(X509_get0_authority_key_id(leaf));

	/* The SGX extension, read with OpenSSL's generic ASN.1 and with the verifier's parser. */
	{
		ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
		const X509_EXTENSION *ext;
		const ASN1_OCTET_STRING *val;
		const unsigned char *q;
		STACK_OF(ASN1_TYPE) *top, *tcbseq;
		ASN1_TYPE *t;
		struct dcap_pck_info info;
		const char *detail = NULL;

		idx = X509_get_ext_by_OBJ(leaf, oid, -1);
		assert_true(idx >= 0);
		ext = X509_get_ext(leaf, idx);
		assert_int_equal(X509_EXTENSION_get_critical(ext), 0);
		val = X509_EXTENSION_get_data(UNCONST(ext));
		q = ASN1_STRING_get0_data(val);
		top = d2i_ASN1_SEQUENCE_ANY(NULL, &q, ASN1_STRING_length(val));
		assert_non_null(top);
		assert_int_equal(sk_ASN1_TYPE_num(top), 7); /* PPID, TCB, PCE-ID, FMSPC, SGX type, instance id, config */
		t = seq_find(top, "1.2.840.113741.1.13.1.4");
		assert_non_null(t);
		assert_int_equal(t->type, V_ASN1_OCTET_STRING);
		assert_int_equal(t->value.octet_string->length, 6);
		assert_memory_equal(t->value.octet_string->data, p.fmspc, 6);
		ASN1_TYPE_free(t);
		t = seq_find(top, "1.2.840.113741.1.13.1.5");
		assert_non_null(t);
		assert_int_equal(t->type, V_ASN1_ENUMERATED);
		ASN1_TYPE_free(t);
		t = seq_find(top, "1.2.840.113741.1.13.1.2");
		assert_non_null(t);
		assert_int_equal(t->type, V_ASN1_SEQUENCE);
		q = t->value.sequence->data;
		tcbseq = d2i_ASN1_SEQUENCE_ANY(NULL, &q, t->value.sequence->length);
		assert_int_equal(sk_ASN1_TYPE_num(tcbseq), 18);
		{
			ASN1_TYPE *pce = seq_find(tcbseq, "1.2.840.113741.1.13.1.2.17");

			assert_non_null(pce);
			assert_int_equal(pce->type, V_ASN1_INTEGER);
			assert_int_equal(ASN1_INTEGER_get(pce->value.integer), p.pcesvn);
			ASN1_TYPE_free(pce);
		}
		sk_ASN1_TYPE_pop_free(tcbseq, ASN1_TYPE_free);
		ASN1_TYPE_free(t);
		sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
		ASN1_OBJECT_free(oid);

		assert_int_equal(dcap_pck_cert_info(leaf, &info, &detail), ERR_OK);
		assert_memory_equal(info.fmspc, p.fmspc, 6);
		assert_memory_equal(info.pceid, p.pceid, 2);
		assert_memory_equal(info.comp, p.cpusvn, 16);
		assert_memory_equal(info.cpusvn, p.cpusvn, 16);
		assert_int_equal(info.pcesvn, p.pcesvn);
		assert_int_equal(info.sgx_type, 1);
		assert_int_equal(info.ca_platform, 1);
		assert_true(info.has_platform_instance_id);
	}
	X509_free(root);
	X509_free(ca);
	X509_free(leaf);
	X509_free(tcb);
	sim_pki_free(pki);
}

static void test_processor_ca_and_wide_svn(void **state)
{
	struct sim_params p;
	struct sim_pki *pki;
	X509 *ca, *leaf;
	struct dcap_pck_info info;
	const char *detail = NULL;
	char buf[128];

	(void)state;
	sim_params_default(&p);
	p.pck_ca_processor = 1;
	p.cpusvn[0] = 255; /* INTEGER 02 02 00 FF */
	p.pcesvn = 300;
	pki = pki_new(4, &p);
	ca = cert_of(pki, SIM_CERT_PCK_CA);
	leaf = cert_of(pki, SIM_CERT_PCK_LEAF);
	assert_string_equal(cn_of(X509_get_subject_name(ca), buf, sizeof(buf)), "Intel SGX PCK Processor CA");
	assert_int_equal(dcap_pck_cert_info(leaf, &info, &detail), ERR_OK);
	assert_int_equal(info.ca_platform, 0);
	assert_int_equal(info.sgx_type, 0);
	assert_false(info.has_platform_instance_id);
	assert_int_equal(info.comp[0], 255);
	assert_int_equal(info.pcesvn, 300);
	X509_free(ca);
	X509_free(leaf);
	sim_pki_free(pki);
}

static void test_crls(void **state)
{
	struct sim_params p;
	struct sim_pki *pki, *rev;
	X509 *root, *ca, *leaf;
	X509_CRL *rcrl, *pcrl;
	X509_REVOKED *r = NULL;

	(void)state;
	sim_params_default(&p);
	p.crl_this_update = NOW - DAY;
	p.crl_next_update = NOW + 30 * DAY;
	pki = pki_new(5, &p);
	root = cert_of(pki, SIM_CERT_ROOT);
	ca = cert_of(pki, SIM_CERT_PCK_CA);
	leaf = cert_of(pki, SIM_CERT_PCK_LEAF);
	rcrl = crl_of(pki, SIM_CRL_ROOT);
	pcrl = crl_of(pki, SIM_CRL_PCK);
	assert_int_equal(X509_CRL_verify(rcrl, X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_CRL_verify(pcrl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(X509_CRL_verify(pcrl, X509_get0_pubkey(root)), 0);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(rcrl), X509_get_subject_name(root)), 0);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(pcrl), X509_get_subject_name(ca)), 0);
	assert_int_equal(X509_CRL_get_version(pcrl), 1);
	assert_int_equal(asn1_unix(X509_CRL_get0_lastUpdate(pcrl)), p.crl_this_update);
	assert_int_equal(asn1_unix(X509_CRL_get0_nextUpdate(pcrl)), p.crl_next_update);
	assert_int_equal(X509_CRL_get0_by_cert(pcrl, &r, leaf), 0);
	X509_CRL_free(pcrl);

	/* revoke_pck_leaf lists the leaf */
	p.revoke_pck_leaf = 1;
	rev = pki_new(5, &p);
	pcrl = crl_of(rev, SIM_CRL_PCK);
	assert_int_equal(X509_CRL_verify(pcrl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(X509_CRL_get0_by_cert(pcrl, &r, leaf), 1);

	/* OpenSSL's own chain check with both CRLs at NOW */
	{
		X509_STORE *st = X509_STORE_new();
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		STACK_OF(X509) *untrusted = sk_X509_new_null();
		STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
		X509_CRL *good = crl_of(pki, SIM_CRL_PCK);

		assert_int_equal(X509_STORE_add_cert(st, root), 1);
		assert_true(sk_X509_push(untrusted, ca) > 0);
		assert_true(sk_X509_CRL_push(crls, rcrl) > 0);
		assert_true(sk_X509_CRL_push(crls, good) > 0);
		assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)NOW);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT);
		assert_int_equal(X509_verify_cert(ctx), 1);

		X509_STORE_CTX_cleanup(ctx);
		(void)sk_X509_CRL_pop(crls);
		assert_true(sk_X509_CRL_push(crls, pcrl) > 0);
		assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)NOW);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
		assert_int_equal(X509_verify_cert(ctx), 0);
		assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_ERR_CERT_REVOKED);

		X509_STORE_CTX_free(ctx);
		X509_STORE_free(st);
		sk_X509_free(untrusted);
		sk_X509_CRL_free(crls);
		X509_CRL_free(good);
	}
	X509_CRL_free(rcrl);
	X509_CRL_free(pcrl);
	X509_free(root);
	X509_free(ca);
	X509_free(leaf);
	sim_pki_free(pki);
	sim_pki_free(rev);
}

/* ---- the quote ---- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void test_quote_structure(void **state)
{
	static const uint8_t vendor[16] = { 0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
					    0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07 };
	struct sim_pki *pki = pki_new(6, NULL);
	struct attest_td_report td;
	uint8_t *q = NULL, ak[64], h[SHA256_LEN];
	size_t n = 0, off;
	const char *pem;
	size_t pem_len;
	EVP_PKEY *key;
	X509 *leaf = cert_of(pki, SIM_CERT_PCK_LEAF);
	struct dcap_quote dq;
	const char *detail = NULL;

	(void)state;
	sim_td_report_default(pki, &td);
	for (int i = 0; i < 64; i++)
		td.report_data[i] = (uint8_t)i;
	memset(td.mrtd, 0x11, 48);
	for (int i = 0; i < 4; i++)
		memset(td.rtmr[i], 0x20 + i, 48);
	assert_int_equal(sim_tdx_quote(pki, &td, &q, &n), ERR_OK);

	/* header */
	assert_int_equal(rd16(q), 4);
	assert_int_equal(rd16(q + 2), 2);
	assert_int_equal(rd32(q + 4), 0x81);
	assert_memory_equal(q + 12, vendor, 16);
	/* TD report 1.0 body at 48 */
	assert_memory_equal(q + 48, td.tee_tcb_svn, 16);
	assert_int_equal(q[48 + 0x78 + 3], 0x10); /* SEPT_VE_DISABLE */
	assert_int_equal(q[48 + 0x78], 0);        /* no DEBUG */
	assert_memory_equal(q + 48 + 0x88, td.mrtd, 48);
	assert_memory_equal(q + 48 + 0x148, td.rtmr[0], 48);
	assert_memory_equal(q + 48 + 0x1D8, td.rtmr[3], 48);
	assert_memory_equal(q + 48 + 0x208, td.report_data, 64);
	/* signature data: exactly consumed */
	off = 632;
	assert_int_equal((size_t)rd32(q + off) + off + 4, n);
	sim_qe_attestation_key(pki, ak);
	assert_memory_equal(q + off + 4 + 64, ak, 64);
	key = ec_p256_pubkey_from_xy(ak);
	assert_non_null(key);
	assert_int_equal(ecdsa_verify_p256_sha256(key, q + off + 4, q, 632), ERR_OK);
	EVP_PKEY_free(key);
	off += 4 + 128;
	assert_int_equal(rd16(q + off), 6);
	assert_int_equal((size_t)rd32(q + off + 2) + off + 6, n);
	off += 6;
	/* QE report: identity values, report data binding, PCK signature */
	assert_memory_equal(q + off + 0x080, sim_tdqe_mrsigner, 32);
	assert_int_equal(rd16(q + off + 0x100), 2);
	assert_int_equal(rd16(q + off + 0x102), sim_pki_params(pki)->qe_isvsvn);
	{
		const void *parts[2] = { ak, q + off + 384 + 64 + 2 };
		size_t lens[2] = { 64, rd16(q + off + 384 + 64) };

		assert_int_equal(lens[1], 32);
		sha256_parts(parts, lens, 2, h);
		assert_memory_equal(q + off + 0x140, h, 32);
	}
	assert_int_equal(ecdsa_verify_p256_sha256(X509_get0_pubkey(leaf), q + off + 384, q + off, 384), ERR_OK);
	off += 384 + 64 + 2 + 32;
	assert_int_equal(rd16(q + off), 5);
	sim_pck_chain_pem(pki, &pem, &pem_len);
	assert_int_equal(rd32(q + off + 2), pem_len);
	assert_memory_equal(q + off + 6, pem, pem_len);
	assert_int_equal(q[n - 1], 0);
	{
		STACK_OF(X509) *chain = pem_certs_parse(pem, pem_len);

		assert_non_null(chain);
		assert_int_equal(sk_X509_num(chain), 3);
		sk_X509_pop_free(chain, X509_free);
	}
	/* and the verifier's parser agrees */
	assert_int_equal(dcap_quote_parse(q, n, &dq, &detail), ERR_OK);
	assert_int_equal(dq.body_type, DCAP_BODY_TD10);
	assert_int_equal(dq.outer_cert_type, 6);
	assert_int_equal(dq.cert_type, 5);
	assert_int_equal(dq.trailing, 0);
	{
		struct attest_td_report back;

		dcap_td_report_decode(dq.body, dq.body_len, &back);
		assert_memory_equal(&back, &td, offsetof(struct attest_td_report, tee_tcb_svn2));
	}
	free(q);
	X509_free(leaf);
	sim_pki_free(pki);
}

/* ---- collateral ---- */

static void test_collateral(void **state)
{
	struct sim_pki *pki = pki_new(7, NULL);
	struct sim_tcb_params t;
	struct sim_collateral c;
	X509 *tcb = cert_of(pki, SIM_CERT_TCB_SIGNING);
	uint8_t sig[64];
	char *json = NULL;
	size_t len = 0;
	static const char *const adv[] = { "INTEL-SA-00837", "INTEL-SA-00960" };

	(void)state;
	sim_tcb_params_default(&t, NOW);
	t.platform_status = TCB_OUT_OF_DATE;
	t.advisory_ids = adv;
	t.n_advisory_ids = 2;
	assert_int_equal(sim_collateral_build(pki, &t, &c), ERR_OK);
	hex_to(c.tcb_info_signature, sig, 64);
	assert_int_equal(ecdsa_verify_p256_sha256(X509_get0_pubkey(tcb), sig, c.tcb_info, c.tcb_info_len), ERR_OK);
	hex_to(c.qe_identity_signature, sig, 64);
	assert_int_equal(ecdsa_verify_p256_sha256(X509_get0_pubkey(tcb), sig, c.qe_identity, c.qe_identity_len),
			 ERR_OK);
	assert_non_null(strstr(c.tcb_info, "\"tcbStatus\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00837\",\"INTEL-SA-00960\"]"));
	assert_non_null(strstr(c.tcb_info, "\"id\":\"TDX\",\"version\":3"));
	assert_non_null(strstr(c.qe_identity, "\"id\":\"TD_QE\",\"version\":2"));
	assert_non_null(strstr(c.tcb_info_response, c.tcb_info));
	assert_int_equal(strncmp(c.tcb_info_response, "{\"tcbInfo\":{", 12), 0);
	assert_int_equal(strncmp(c.qe_identity_response, "{\"enclaveIdentity\":{", 20), 0);

	/* The verifier's parsers read what we wrote: TCB info, QE identity, PCS responses, the collateral JSON. */
	{
		struct arena a;
		struct dcap_tcb_info ti;
		struct dcap_qe_identity qi;
		struct dcap_collateral dc;
		const char *detail = NULL, *signed_json = NULL;
		size_t signed_len = 0;
		uint8_t psig[64];

		arena_init(&a, 8u << 20, 64u << 10);
		assert_int_equal(dcap_tcb_info_parse(c.tcb_info, c.tcb_info_len, &a, &ti, &detail), ERR_OK);
		assert_int_equal(ti.version, 3);
		assert_int_equal(ti.id, DCAP_TCB_ID_TDX);
		assert_int_equal(ti.issue_date, NOW - DAY);
		assert_int_equal(ti.next_update, NOW + 30 * DAY);
		assert_int_equal(ti.n_levels, 2);
		assert_int_equal(ti.levels[0].status, TCB_UP_TO_DATE);
		assert_int_equal(ti.levels[1].status, TCB_OUT_OF_DATE);
		assert_int_equal(ti.levels[1].adv.n, 2);
		assert_string_equal(ti.levels[1].adv.ids[1], "INTEL-SA-00960");
		assert_int_equal(dcap_qe_identity_parse(c.qe_identity, c.qe_identity_len, &a, &qi, &detail), ERR_OK);
		assert_int_equal(qi.id, DCAP_QE_ID_TD_QE);
		assert_int_equal(qi.isvprodid, 2);
		assert_int_equal(dcap_pcs_tcb_info_parse(c.tcb_info_response, strlen(c.tcb_info_response), &a,
							 &signed_json, &signed_len, psig, &detail),
				 ERR_OK);
		assert_int_equal(signed_len, c.tcb_info_len);
		assert_memory_equal(signed_json, c.tcb_info, signed_len);
		hex_to(c.tcb_info_signature, sig, 64);
		assert_memory_equal(psig, sig, 64);

		assert_int_equal(sim_collateral_json(pki, &t, &json, &len), ERR_OK);
		assert_int_equal(strlen(json), len);
		assert_int_equal(dcap_collateral_parse_json(json, len, &a, &dc, &detail), ERR_OK);
		assert_int_equal(dc.tcb_info_len, c.tcb_info_len);
		assert_memory_equal(dc.tcb_info, c.tcb_info, c.tcb_info_len);
		assert_memory_equal(dc.qe_identity, c.qe_identity, c.qe_identity_len);
		assert_int_equal(dc.pck_crl_len, c.pck_crl_len);
		assert_memory_equal(dc.pck_crl, c.pck_crl, c.pck_crl_len);
		assert_null(dc.pck_certificate_chain);
		arena_fini(&a);
	}
	{
		STACK_OF(X509) *chain = pem_certs_parse(c.tcb_info_issuer_chain, strlen(c.tcb_info_issuer_chain));

		assert_non_null(chain);
		assert_int_equal(sk_X509_num(chain), 2);
		assert_int_equal(X509_cmp(sk_X509_value(chain, 0), tcb), 0);
		sk_X509_pop_free(chain, X509_free);
	}
	free(json);
	sim_collateral_free(&c);
	X509_free(tcb);
	sim_pki_free(pki);
}

static void test_collateral_bad_params(void **state)
{
	struct sim_pki *pki = pki_new(7, NULL);
	struct sim_tcb_params t;
	struct sim_collateral c;

	(void)state;
	sim_tcb_params_default(&t, NOW);
	t.platform_status = TCB_TD_RELAUNCH_ADVISED; /* a verdict status, never in TCB info */
	assert_int_equal(sim_collateral_build(pki, &t, &c), ERR_INVALID_ARG);
	assert_null(c.tcb_info);
	sim_pki_free(pki);
}

/* ---- SEV-SNP structure ---- */

static void le_to_be(const uint8_t *le, uint8_t *be, size_t n)
{
	for (size_t i = 0; i < n; i++)
		be[i] = le[n - 1 - i];
}

static void check_snp(enum sim_snp_product prod, const char *ark_cn)
{
	struct sim_params p;
	struct sim_pki *pki;
	struct attest_snp_report r, back;
	uint8_t rep[SIM_SNP_REPORT_LEN], sig[96];
	X509 *ark, *ask, *vcek;
	struct snp_cert_ext ext;
	uint64_t tcb;
	uint8_t hwid[64];
	size_t hwid_len = 0;
	char buf[64];
	enum attest_snp_product ap = prod == SIM_SNP_MILAN ? SNP_PRODUCT_MILAN
				     : prod == SIM_SNP_GENOA ? SNP_PRODUCT_GENOA
							     : SNP_PRODUCT_TURIN;

	sim_params_default(&p);
	p.snp_product = prod;
	p.snp_fmc_spl = prod == SIM_SNP_TURIN ? 2 : 0;
	pki = pki_new(8, &p);
	ark = cert_of(pki, SIM_CERT_ARK);
	ask = cert_of(pki, SIM_CERT_ASK);
	vcek = cert_of(pki, SIM_CERT_VCEK);
	assert_string_equal(cn_of(X509_get_subject_name(ark), buf, sizeof(buf)), ark_cn);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(vcek)), 6);
	assert_int_equal(X509_get_signature_nid(ark), NID_rsassaPss);
	assert_int_equal(X509_get_signature_nid(vcek), NID_rsassaPss);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(ark)), 4096);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(ask)), 4096);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(vcek)), 384);
	assert_signed_by(ark, ark);
	assert_signed_by(ask, ark);
	assert_int_equal(X509_verify(vcek, X509_get0_pubkey(ask)), 1);
	assert_int_equal(X509_verify(vcek, X509_get0_pubkey(ark)), 0);

	assert_int_equal(snp_cert_ext_from_x509(vcek, &ext), ERR_OK);
	assert_int_equal(snp_cert_ext_finish(&ext, ap, 0, &tcb, hwid, &hwid_len), ERR_OK);
	assert_int_equal(tcb, sim_snp_vcek_tcb(pki));
	assert_int_equal(hwid_len, prod == SIM_SNP_TURIN ? 8 : 64);

	sim_snp_report_default(pki, &r);
	memset(r.report_data, 0xab, 64);
	memset(r.measurement, 0xcd, 48);
	assert_int_equal(sim_snp_report(pki, &r, rep), ERR_OK);
	assert_memory_equal(rep + 0x1A0, hwid, hwid_len);
	assert_int_equal(snp_report_parse(rep, sizeof(rep), &back), ERR_OK);
	assert_int_equal(back.version, 5);
	assert_int_equal(back.product, ap);
	assert_int_equal(back.reported_tcb, tcb);
	assert_memory_equal(back.report_data, r.report_data, 64);
	assert_memory_equal(back.measurement, r.measurement, 48);
	assert_memory_equal(back.chip_id, r.chip_id, 64);
	le_to_be(rep + 0x2A0, sig, 48);
	le_to_be(rep + 0x2E8, sig + 48, 48);
	assert_int_equal(ecdsa_verify_p384_sha384(X509_get0_pubkey(vcek), sig, rep, 0x2A0), ERR_OK);
	for (size_t i = 0x2A0 + 48; i < 0x2E8; i++)
		assert_int_equal(rep[i], 0);
	for (size_t i = 0x330; i < SIM_SNP_REPORT_LEN; i++)
		assert_int_equal(rep[i], 0);

	r.version = 6;
	assert_int_equal(sim_snp_report(pki, &r, rep), ERR_INVALID_ARG);
	X509_free(ark);
	X509_free(ask);
	X509_free(vcek);
	sim_pki_free(pki);
}

static void test_snp_structure(void **state)
{
	(void)state;
	check_snp(SIM_SNP_MILAN, "ARK-Milan");
	check_snp(SIM_SNP_GENOA, "ARK-Genoa");
	check_snp(SIM_SNP_TURIN, "ARK-Turin");
}

/* ---- end to end through lib/attest ---- */

struct e2e {
	struct sim_pki *pki;
	X509 *dev_root, *intel_root;
	struct attest_trust trust;
	struct arena a;
	struct attest_verdict v;
	uint8_t *quote;
	size_t quote_len;
	struct attest_td_report td;
};

static void e2e_init(struct e2e *e, const struct sim_params *p)
{
	const uint8_t *der;
	size_t len;

	memset(e, 0, sizeof(*e));
	e->pki = pki_new(10, p);
	sim_dev_root_der(e->pki, &der, &len);
	e->dev_root = x509_from_bytes(der, len);
	e->intel_root = attest_intel_root();
	assert_non_null(e->dev_root);
	assert_non_null(e->intel_root);
	e->trust.intel_root = e->intel_root;
	e->trust.intel_dev_root = e->dev_root;
	arena_init(&e->a, 8u << 20, 64u << 10);
	sim_td_report_default(e->pki, &e->td);
	memset(e->td.report_data, 0xee, 64);
	memset(e->td.mrtd, 0x42, 48);
	assert_int_equal(sim_tdx_quote(e->pki, &e->td, &e->quote, &e->quote_len), ERR_OK);
}

static void e2e_fini(struct e2e *e)
{
	free(e->quote);
	arena_fini(&e->a);
	X509_free(e->dev_root);
	X509_free(e->intel_root);
	sim_pki_free(e->pki);
}

/* Verify e->quote (or `quote` if given) against collateral made from t, at `now`. */
static err_t e2e_verify(struct e2e *e, const struct sim_tcb_params *t, const struct attest_policy *pol, uint64_t now,
			const uint8_t *quote, size_t qlen)
{
	struct dcap_collateral dc;
	struct attest_policy strict;
	const char *detail = NULL;
	char *json = NULL;
	size_t len = 0;
	err_t rc;

	memset(&strict, 0, sizeof(strict));
	arena_reset(&e->a);
	assert_int_equal(sim_collateral_json(e->pki, t, &json, &len), ERR_OK);
	assert_int_equal(dcap_collateral_parse_json(json, len, &e->a, &dc, &detail), ERR_OK);
	rc = dcap_verify(quote ? quote : e->quote, quote ? qlen : e->quote_len, &dc, &e->trust, pol ? pol : &strict, now,
			 &e->a, &e->v);
	free(json);
	return rc;
}

static void test_e2e_dcap_uptodate(void **state)
{
	struct e2e e;
	struct sim_tcb_params t;

	(void)state;
	e2e_init(&e, NULL);
	sim_tcb_params_default(&t, NOW);
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.err, ERR_OK);
	assert_int_equal(e.v.dev, 1);
	assert_int_equal(e.v.tee, ATTEST_TEE_TDX);
	assert_int_equal(e.v.report_type, ATTEST_REPORT_TD10);
	assert_int_equal(e.v.tcb.status, TCB_UP_TO_DATE);
	assert_int_equal(e.v.tcb.n_advisory_ids, 0);
	assert_int_equal(e.v.pck_ca_platform, 1);
	assert_memory_equal(e.v.fmspc, sim_pki_params(e.pki)->fmspc, 6);
	assert_memory_equal(e.v.td.report_data, e.td.report_data, 64);
	assert_memory_equal(e.v.td.mrtd, e.td.mrtd, 48);
	/* the boundaries of the collateral window: nextUpdate itself is still valid */
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW + 30 * DAY, NULL, 0), ERR_OK);
	e2e_fini(&e);
}

static void test_e2e_dcap_without_dev_root(void **state)
{
	struct e2e e;
	struct sim_tcb_params t;
	err_t rc;

	(void)state;
	e2e_init(&e, NULL);
	e.trust.intel_dev_root = NULL;
	sim_tcb_params_default(&t, NOW);
	rc = e2e_verify(&e, &t, NULL, NOW, NULL, 0);
	assert_true(rc == ERR_ATTEST_ROOT_UNTRUSTED || rc == ERR_ATTEST_DEV_ROOT);
	assert_int_equal(e.v.dev, 0);
	/* nor with the dev root of another seed */
	{
		struct sim_pki *other = pki_new(11, NULL);
		const uint8_t *der;
		size_t len;
		X509 *x;

		sim_dev_root_der(other, &der, &len);
		x = x509_from_bytes(der, len);
		e.trust.intel_dev_root = x;
		rc = e2e_verify(&e, &t, NULL, NOW, NULL, 0);
		assert_true(rc == ERR_ATTEST_ROOT_UNTRUSTED || rc == ERR_ATTEST_DEV_ROOT);
		X509_free(x);
		sim_pki_free(other);
	}
	e2e_fini(&e);
}

static void test_e2e_dcap_out_of_date(void **state)
{
	static const char *const adv[] = { "INTEL-SA-00837", "INTEL-SA-00960", "INTEL-SA-00982" };
	struct e2e e;
	struct sim_tcb_params t;
	struct attest_policy pol;

	(void)state;
	e2e_init(&e, NULL);
	sim_tcb_params_default(&t, NOW);
	t.platform_status = TCB_OUT_OF_DATE;
	t.advisory_ids = adv;
	t.n_advisory_ids = 3;
	/* the strict default refuses it, but still reports the status */
	assert_int_not_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.tcb.status, TCB_OUT_OF_DATE);
	/* a policy that accepts OutOfDate with these advisories */
	memset(&pol, 0, sizeof(pol));
	pol.accepted_statuses = (1u << TCB_UP_TO_DATE) | (1u << TCB_OUT_OF_DATE);
	pol.allowed_advisories = adv;
	pol.n_allowed_advisories = 3;
	assert_int_equal(e2e_verify(&e, &t, &pol, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.dev, 1);
	assert_int_equal(e.v.tcb.status, TCB_OUT_OF_DATE);
	assert_int_equal(e.v.tcb.n_advisory_ids, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(e.v.tcb.advisory_ids[i], adv[i]);
	/* QE identity and TDX module levels merge in (worst severity) */
	sim_tcb_params_default(&t, NOW);
	t.qe_status = TCB_OUT_OF_DATE;
	assert_int_equal(e2e_verify(&e, &t, &pol, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.tcb.status, TCB_OUT_OF_DATE);
	assert_int_equal(e.v.qe.status, TCB_OUT_OF_DATE);
	sim_tcb_params_default(&t, NOW);
	t.module_status = TCB_OUT_OF_DATE;
	assert_int_equal(e2e_verify(&e, &t, &pol, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.tcb.status, TCB_OUT_OF_DATE);
	e2e_fini(&e);
}

static void test_e2e_dcap_collateral_dates(void **state)
{
	struct e2e e;
	struct sim_tcb_params t;

	(void)state;
	e2e_init(&e, NULL);
	sim_tcb_params_default(&t, NOW);
	t.tcb_issue_date = NOW - 60 * DAY;
	t.tcb_next_update = NOW - 30 * DAY;
	t.qe_issue_date = NOW - DAY;
	t.qe_next_update = NOW + 30 * DAY;
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_TCB_INFO_EXPIRED);
	sim_tcb_params_default(&t, NOW);
	t.tcb_issue_date = NOW + DAY;
	t.tcb_next_update = NOW + 30 * DAY;
	t.qe_issue_date = NOW - DAY;
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_TCB_INFO_FUTURE);
	sim_tcb_params_default(&t, NOW);
	t.qe_issue_date = NOW - 60 * DAY;
	t.qe_next_update = NOW - 30 * DAY;
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_QE_IDENTITY_EXPIRED);
	e2e_fini(&e);
}

static void test_e2e_dcap_negative(void **state)
{
	struct e2e e;
	struct sim_tcb_params t;
	struct sim_params p;

	(void)state;
	e2e_init(&e, NULL);
	sim_tcb_params_default(&t, NOW);
	t.no_matching_level = 1;
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_TCB_NOT_SUPPORTED);
	/* one flipped byte in the signed report data */
	sim_tcb_params_default(&t, NOW);
	e.quote[48 + 0x208] ^= 1;
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_QUOTE_SIGNATURE);
	e2e_fini(&e);

	/* a revoked PCK leaf */
	sim_params_default(&p);
	p.revoke_pck_leaf = 1;
	e2e_init(&e, &p);
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_ATTEST_CERT_REVOKED);
	e2e_fini(&e);

	/* the Processor CA variant verifies too */
	sim_params_default(&p);
	p.pck_ca_processor = 1;
	e2e_init(&e, &p);
	assert_int_equal(e2e_verify(&e, &t, NULL, NOW, NULL, 0), ERR_OK);
	assert_int_equal(e.v.pck_ca_platform, 0);
	e2e_fini(&e);
}

static void test_e2e_snp(void **state)
{
	struct sim_params p;
	struct sim_pki *pki;
	struct attest_snp_report r;
	struct attest_policy pol;
	struct attest_trust trust;
	struct attest_verdict v;
	uint8_t rep[SIM_SNP_REPORT_LEN];
	const uint8_t *vcek, *arkd;
	size_t vcek_len, ark_len, chain_len;
	char *chain = NULL;
	X509 *ark;

	(void)state;
	for (int prod = SIM_SNP_MILAN; prod <= SIM_SNP_TURIN; prod++) {
		sim_params_default(&p);
		p.snp_product = (enum sim_snp_product)prod;
		pki = pki_new(12, &p);
		assert_int_equal(sim_cert_der(pki, SIM_CERT_VCEK, &vcek, &vcek_len), ERR_OK);
		assert_int_equal(sim_cert_der(pki, SIM_CERT_ARK, &arkd, &ark_len), ERR_OK);
		assert_int_equal(sim_amd_chain(pki, &chain, &chain_len), ERR_OK);
		ark = x509_from_bytes(arkd, ark_len);
		assert_non_null(ark);
		memset(&trust, 0, sizeof(trust));
		for (int i = 0; i < 3; i++)
			trust.amd_ark[i] = attest_amd_ark((enum attest_snp_product)(i + 1));
		trust.amd_dev_ark = ark;
		memset(&pol, 0, sizeof(pol));

		sim_snp_report_default(pki, &r);
		memset(r.report_data, 0x5e, 64);
		pol.expected_report_data = r.report_data;
		assert_int_equal(sim_snp_report(pki, &r, rep), ERR_OK);
		assert_int_equal(snp_verify(rep, sizeof(rep), vcek, vcek_len, chain, chain_len, NULL, 0, &trust, &pol, NOW,
					    NULL, &v),
				 ERR_OK);
		assert_int_equal(v.dev, 1);
		assert_int_equal(v.snp.product, (enum attest_snp_product)(prod + 1));
		assert_memory_equal(v.snp.report_data, r.report_data, 64);

		/* version 2 (no CPUID): the product comes from the VCEK */
		r.version = 2;
		assert_int_equal(sim_snp_report(pki, &r, rep), ERR_OK);
		assert_int_equal(snp_verify(rep, sizeof(rep), vcek, vcek_len, chain, chain_len, NULL, 0, &trust, &pol, NOW,
					    NULL, &v),
				 ERR_OK);
		r.version = 5;

		/* a reported TCB the VCEK was not issued for */
		r.reported_tcb ^= 1ull << 56;
		assert_int_equal(sim_snp_report(pki, &r, rep), ERR_OK);
		assert_int_equal(snp_verify(rep, sizeof(rep), vcek, vcek_len, chain, chain_len, NULL, 0, &trust, &pol, NOW,
					    NULL, &v),
				 ERR_ATTEST_SNP_TCB);
		r.reported_tcb ^= 1ull << 56;

		/* flipped signed byte */
		assert_int_equal(sim_snp_report(pki, &r, rep), ERR_OK);
		rep[0x90] ^= 1;
		assert_int_equal(snp_verify(rep, sizeof(rep), vcek, vcek_len, chain, chain_len, NULL, 0, &trust, &pol, NOW,
					    NULL, &v),
				 ERR_ATTEST_SNP_SIGNATURE);

		/* without the dev ARK */
		trust.amd_dev_ark = NULL;
		rep[0x90] ^= 1;
		assert_int_equal(snp_verify(rep, sizeof(rep), vcek, vcek_len, chain, chain_len, NULL, 0, &trust, &pol, NOW,
					    NULL, &v),
				 ERR_ATTEST_ROOT_UNTRUSTED);
		assert_int_equal(v.dev, 0);

		for (int i = 0; i < 3; i++)
			X509_free(trust.amd_ark[i]);
		X509_free(ark);
		free(chain);
		chain = NULL;
		sim_pki_free(pki);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6979_vectors),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_params_rejected),
		cmocka_unit_test(test_keygen_time),
		cmocka_unit_test(test_intel_certs),
		cmocka_unit_test(test_processor_ca_and_wide_svn),
		cmocka_unit_test(test_crls),
		cmocka_unit_test(test_quote_structure),
		cmocka_unit_test(test_collateral),
		cmocka_unit_test(test_collateral_bad_params),
		cmocka_unit_test(test_snp_structure),
		cmocka_unit_test(test_e2e_dcap_uptodate),
		cmocka_unit_test(test_e2e_dcap_without_dev_root),
		cmocka_unit_test(test_e2e_dcap_out_of_date),
		cmocka_unit_test(test_e2e_dcap_collateral_dates),
		cmocka_unit_test(test_e2e_dcap_negative),
		cmocka_unit_test(test_e2e_snp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
