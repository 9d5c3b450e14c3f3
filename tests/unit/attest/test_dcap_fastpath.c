/* SPDX-License-Identifier: Apache-2.0 */
/* The PCK-leaf fast path against the full OpenSSL chain check: same verdict on re-signed, tampered, re-framed chains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "crypto.h"
#include "dcap.h"
#include "sim.h"
#include "sim_internal.h"

/*
 * Every quote here goes through three verifications that must agree on the
 * error code (and, when accepted, the status):
 *   full     dcap_verify_quote without a cache: the whole PCK chain through
 *            X509_STORE with both CRLs (the reference);
 *   cached   dcap_verify_quote with an empty platform cache: pck_leaf_fast,
 *            falling back to OpenSSL for anything it does not take;
 *   oneshot  dcap_verify: collateral verified from scratch, then the quote
 *            with the fast path allowed.
 * The platform cache statistics say whether the fast reader took the leaf,
 * so the tests also pin down which path decided.
 */

#define NOW 1760000000ull /* 2025-10-09T08:53:20Z */
#define DAY 86400ull

enum path_want { FAST, OPENSSL };

struct fx {
	struct sim_pki *pki;
	X509 *dev_root, *intel_root;
	struct attest_trust trust;
	struct arena coll_arena, a;
	char *json;
	size_t json_len;
	struct dcap_collateral coll;
	struct dcap_vcoll *vc;
	struct dcap_cache *cache;
	uint8_t *quote;
	size_t quote_len;
	EVP_PKEY *ca_key;     /* the PCK CA's private key, to re-sign leaves */
	X509 *leaf;           /* the sim's PCK leaf */
};

static EVP_PKEY *p256_private(const struct sim_eckey *k)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *d = BN_bin2bn(k->d, 32, NULL);
	uint8_t pub[65];

	pub[0] = 0x04;
	memcpy(pub + 1, k->xy, 64);
	assert_non_null(bld);
	assert_non_null(ctx);
	assert_non_null(d);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_clear_free(d);
	return key;
}

static void fx_init(struct fx *f, uint8_t seed_byte, const struct sim_params *prm)
{
	uint8_t seed[SIM_SEED_LEN];
	struct sim_tcb_params t;
	struct attest_td_report td;
	const uint8_t *der;
	size_t len;
	const char *detail = NULL;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		seed[i] = (uint8_t)(seed_byte + i);
	assert_int_equal(sim_pki_new(seed, prm, &f->pki), ERR_OK);
	sim_dev_root_der(f->pki, &der, &len);
	f->dev_root = x509_from_bytes(der, len);
	f->intel_root = attest_intel_root();
	assert_non_null(f->dev_root);
	assert_non_null(f->intel_root);
	f->trust.intel_root = f->intel_root;
	f->trust.intel_dev_root = f->dev_root;
	arena_init(&f->coll_arena, 8u << 20, 0);
	arena_init(&f->a, 8u << 20, 0);
	sim_tcb_params_default(&t, NOW);
	t.tcb_next_update = NOW + 365 * DAY;
	t.qe_next_update = NOW + 365 * DAY;
	assert_int_equal(sim_collateral_json(f->pki, &t, &f->json, &f->json_len), ERR_OK);
	assert_int_equal(dcap_collateral_parse_json(f->json, f->json_len, &f->coll_arena, &f->coll, &detail), ERR_OK);
	assert_int_equal(dcap_vcoll_new(&f->coll, &f->trust, &f->vc, &detail), ERR_OK);
	f->cache = dcap_cache_new(4);
	assert_non_null(f->cache);
	sim_td_report_default(f->pki, &td);
	assert_int_equal(sim_tdx_quote(f->pki, &td, &f->quote, &f->quote_len), ERR_OK);
	f->ca_key = p256_private(&f->pki->pck_ca);
	assert_int_equal(sim_cert_der(f->pki, SIM_CERT_PCK_LEAF, &der, &len), ERR_OK);
	f->leaf = x509_from_bytes(der, len);
	assert_non_null(f->leaf);
}

static void fx_fini(struct fx *f)
{
	X509_free(f->leaf);
	EVP_PKEY_free(f->ca_key);
	free(f->quote);
	dcap_cache_free(f->cache);
	dcap_vcoll_free(f->vc);
	free(f->json);
	arena_fini(&f->a);
	arena_fini(&f->coll_arena);
	X509_free(f->dev_root);
	X509_free(f->intel_root);
	sim_pki_free(f->pki);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The quote with its certification data (type 5) replaced by `chain` (chain_len bytes, a NUL included if wanted). */
static uint8_t *quote_with_chain(const struct fx *f, const char *chain, size_t chain_len, size_t *out_len)
{
	struct dcap_quote q;
	size_t head, tail_off, n;
	uint32_t delta;
	uint8_t *out, *p;

	assert_int_equal(dcap_quote_parse(f->quote, f->quote_len, &q, NULL), ERR_OK);
	head = (size_t)(q.cert_data - f->quote);
	tail_off = head + q.cert_data_len;
	n = head + chain_len + (f->quote_len - tail_off);
	out = malloc(n);
	assert_non_null(out);
	memcpy(out, f->quote, head);
	memcpy(out + head, chain, chain_len);
	memcpy(out + head + chain_len, f->quote + tail_off, f->quote_len - tail_off);
	delta = (uint32_t)chain_len - q.cert_data_len;   /* modular: the sums below wrap back */
	put_le32(out + head - 4, (uint32_t)chain_len);                        /* inner certification data size */
	p = out + (q.qe_report - f->quote) - 4;                                 /* outer (type 6) size */
	put_le32(p, get_le32(p) + delta);
	p = out + (q.sig_data - f->quote) - 4;                                  /* signature data length */
	put_le32(p, get_le32(p) + delta);
	*out_len = n;
	return out;
}

/* PEM of a certificate as OpenSSL writes it (the canonical form), NUL-terminated, caller frees. */
static char *pem_of_der(const uint8_t *der, size_t len)
{
	X509 *x = x509_from_bytes(der, len);
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;

	assert_non_null(x);
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)n);
	out[n] = 0;
	BIO_free(b);
	X509_free(x);
	return out;
}

static char *pem_of_cert(struct fx *f, enum sim_cert which)
{
	const uint8_t *der;
	size_t len;

	assert_int_equal(sim_cert_der(f->pki, which, &der, &len), ERR_OK);
	return pem_of_der(der, len);
}

/* Concatenate up to four strings into a new NUL-terminated chain; *len includes the NUL (as in quotes). */
static char *cat(const char *a, const char *b, const char *c, const char *d, size_t *len)
{
	const char *parts[4] = { a, b, c, d };
	size_t n = 0, pos = 0;
	char *out;

	for (size_t i = 0; i < 4; i++)
		n += parts[i] ? strlen(parts[i]) : 0;
	out = malloc(n + 1);
	assert_non_null(out);
	for (size_t i = 0; i < 4; i++) {
		size_t k;

		if (!parts[i])
			continue;
		k = strlen(parts[i]);
		memcpy(out + pos, parts[i], k);
		pos += k;
	}
	out[pos] = 0;
	*len = pos + 1;
	return out;
}

/* The three verifications; each must give `want`; the cached one must (not) have taken the fast reader. */
static void check_three(struct fx *f, const char *what, const uint8_t *quote, size_t qlen, uint64_t now, err_t want,
			enum path_want path)
{
	struct attest_policy p;
	struct attest_verdict v1, v2, v3;
	struct dcap_cache_stats s0, s1;
	err_t e1, e2, e3;

	memset(&p, 0, sizeof(p));
	arena_reset(&f->a);
	dcap_cache_clear(f->cache);
	dcap_cache_stats(f->cache, &s0);
	e1 = dcap_verify_quote(f->vc, quote, qlen, &p, now, NULL, &f->a, &v1);
	e2 = dcap_verify_quote(f->vc, quote, qlen, &p, now, f->cache, &f->a, &v2);
	e3 = dcap_verify(quote, qlen, &f->coll, &f->trust, &p, now, &f->a, &v3);
	dcap_cache_stats(f->cache, &s1);
	if (e1 != want || e2 != want || e3 != want)
		fail_msg("%s: full %s (%s), cached %s (%s), oneshot %s (%s); want %s", what, err_name(e1),
			 v1.detail ? v1.detail : "-", err_name(e2), v2.detail ? v2.detail : "-", err_name(e3),
			 v3.detail ? v3.detail : "-", err_name(want));
	if (want == ERR_OK) {
		assert_int_equal(v1.tcb.status, v2.tcb.status);
		assert_int_equal(v1.tcb.status, v3.tcb.status);
		assert_int_equal(v1.collateral_expires_at, v2.collateral_expires_at);
		assert_int_equal(v1.collateral_expires_at, v3.collateral_expires_at);
		assert_memory_equal(v1.ppid, v2.ppid, 16);
		assert_memory_equal(v1.fmspc, v3.fmspc, 6);
	} else {
		/*
		 * The fast reader never names an error of its own: when it declines,
		 * both fast-path callers run the same OpenSSL check. (The full path's
		 * detail may differ: its one X509_STORE reports e.g. revocation as a
		 * chain error, with the same code.)
		 */
		assert_string_equal(v2.detail, v3.detail);
	}
	if (s1.leaf_fast - s0.leaf_fast != (path == FAST ? 1u : 0u))
		fail_msg("%s: the fast reader %s the leaf", what, path == FAST ? "did not take" : "took");
}

/* The quote with its PCK leaf replaced (DER), the sim's CA and root after it, canonical PEM. */
static void check_leaf(struct fx *f, const char *what, const uint8_t *der, size_t len, uint64_t now, err_t want,
		       enum path_want path)
{
	char *leaf = pem_of_der(der, len), *ca = pem_of_cert(f, SIM_CERT_PCK_CA), *root = pem_of_cert(f, SIM_CERT_ROOT);
	size_t clen, qlen;
	char *chain = cat(leaf, ca, root, NULL, &clen);
	uint8_t *q = quote_with_chain(f, chain, clen, &qlen);

	check_three(f, what, q, qlen, now, want, path);
	free(q);
	free(chain);
	free(leaf);
	free(ca);
	free(root);
}

typedef void (*leaf_edit)(struct fx *f, X509 *x);

/* The sim's leaf, edited, re-signed by the PCK CA with `md`; DER in *out (caller frees). */
static size_t resigned(struct fx *f, leaf_edit edit, const EVP_MD *md, uint8_t **out)
{
	X509 *x = X509_dup(f->leaf);
	unsigned char *der = NULL;
	int n;

	assert_non_null(x);
	if (edit)
		edit(f, x);
	assert_true(X509_sign(x, f->ca_key, md) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	X509_free(x);
	*out = malloc((size_t)n);
	assert_non_null(*out);
	memcpy(*out, der, (size_t)n);
	OPENSSL_free(der);
	return (size_t)n;
}

static void check_resigned(struct fx *f, const char *what, leaf_edit edit, const EVP_MD *md, uint64_t now, err_t want,
			   enum path_want path)
{
	uint8_t *der = NULL;
	size_t len = resigned(f, edit, md, &der);

	check_leaf(f, what, der, len, now, want, path);
	free(der);
}

/* ---- leaf edits ---- */

static void set_issuer_cn(X509 *x, const char *cn, int type)
{
	X509_NAME *n = X509_NAME_dup(X509_get_issuer_name(x));
	int idx;

	assert_non_null(n);
	idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	assert_true(idx >= 0);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, idx));
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, type, (const unsigned char *)cn, -1, idx, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	X509_NAME_free(n);
}

static void edit_issuer_processor(struct fx *f, X509 *x)
{
	(void)f;
	set_issuer_cn(x, "Intel SGX PCK Processor CA", MBSTRING_UTF8);
}

static void edit_issuer_lowercase(struct fx *f, X509 *x)
{
	/* OpenSSL's name comparison is case-insensitive: its chain builder still finds the CA. */
	(void)f;
	set_issuer_cn(x, "intel sgx pck platform ca", MBSTRING_UTF8);
}

static void edit_issuer_printable(struct fx *f, X509 *x)
{
	/* The same name in another string type: equal for OpenSSL, different bytes for the fast reader. */
	const ASN1_STRING *cn;
	X509_NAME *n = X509_get_issuer_name(x);
	char buf[64];
	int len;

	(void)f;
	cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, X509_NAME_get_index_by_NID(n, NID_commonName, -1)));
	len = ASN1_STRING_length(cn);
	assert_true(len > 0 && (size_t)len < sizeof(buf));
	memcpy(buf, ASN1_STRING_get0_data(cn), (size_t)len);
	buf[len] = 0;
	set_issuer_cn(x, buf, V_ASN1_PRINTABLESTRING);
}

static void edit_subject_cn(struct fx *f, X509 *x)
{
	X509_NAME *n = X509_NAME_new();

	(void)f;
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"Intel SGX PCK Cert", -1,
						    -1, 0),
			 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	X509_NAME_free(n);
}

static void set_not_after(X509 *x, uint64_t t)
{
	ASN1_TIME *a = ASN1_TIME_set(NULL, (time_t)t);

	assert_non_null(a);
	assert_int_equal(X509_set1_notAfter(x, a), 1);
	ASN1_TIME_free(a);
}

static void edit_expires_soon(struct fx *f, X509 *x)
{
	(void)f;
	set_not_after(x, NOW + 3600);
}

static void edit_not_yet_valid(struct fx *f, X509 *x)
{
	ASN1_TIME *a = ASN1_TIME_set(NULL, (time_t)(NOW + DAY));

	(void)f;
	assert_non_null(a);
	assert_int_equal(X509_set1_notBefore(x, a), 1);
	ASN1_TIME_free(a);
}

static void edit_serial(struct fx *f, X509 *x)
{
	ASN1_INTEGER *s = ASN1_INTEGER_new();

	(void)f;
	assert_non_null(s);
	assert_int_equal(ASN1_INTEGER_set_uint64(s, 0x1234567890abcdefull), 1);
	assert_int_equal(X509_set_serialNumber(x, s), 1);
	ASN1_INTEGER_free(s);
}

static void add_ext(X509 *x, const char *oid, int critical)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	static const unsigned char null_der[] = { 0x05, 0x00 };
	X509_EXTENSION *ext;

	assert_non_null(obj);
	assert_non_null(val);
	assert_int_equal(ASN1_OCTET_STRING_set(val, null_der, sizeof(null_der)), 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, val);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(val);
	ASN1_OBJECT_free(obj);
}

static void edit_unknown_critical(struct fx *f, X509 *x)
{
	(void)f;
	add_ext(x, "1.3.6.1.4.1.99999.1", 1);
}

static void edit_unknown_noncritical(struct fx *f, X509 *x)
{
	(void)f;
	add_ext(x, "1.3.6.1.4.1.99999.1", 0);
}

/* Replace the extension with NID `nid` by the config-style value (critical if the value says so); NULL deletes it. */
static void replace_ext(X509 *x, int nid, const char *value)
{
	int idx = X509_get_ext_by_NID(x, nid, -1);

	if (idx >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, idx));
	if (value) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, idx), 1);
		X509_EXTENSION_free(ext);
	}
}

static void edit_ca_true(struct fx *f, X509 *x)
{
	(void)f;
	replace_ext(x, NID_basic_constraints, "critical,CA:TRUE");
}

static void edit_key_cert_sign(struct fx *f, X509 *x)
{
	(void)f;
	replace_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign");
}

static void edit_no_akid(struct fx *f, X509 *x)
{
	(void)f;
	replace_ext(x, NID_authority_key_identifier, NULL);
}

static void edit_sgx_ext_critical(struct fx *f, X509 *x)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int idx;

	(void)f;
	assert_non_null(obj);
	idx = X509_get_ext_by_OBJ(x, obj, -1);
	assert_true(idx >= 0);
	assert_int_equal(X509_EXTENSION_set_critical(X509_get_ext(x, idx), 1), 1);
	ASN1_OBJECT_free(obj);
}

/* ---- tests ---- */

static void test_resigned_leaves(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 30, NULL);
	/* The quote as the sim made it, and the leaf re-signed as it is. */
	check_three(&f, "sim quote", f.quote, f.quote_len, NOW, ERR_OK, FAST);
	check_resigned(&f, "re-signed leaf", NULL, EVP_sha256(), NOW, ERR_OK, FAST);
	/* Accepted by OpenSSL, not by the narrow reader: the fallback decides. */
	check_resigned(&f, "ecdsa-with-SHA384", NULL, EVP_sha384(), NOW, ERR_OK, OPENSSL);
	check_resigned(&f, "issuer CN as PrintableString", edit_issuer_printable, EVP_sha256(), NOW, ERR_OK, OPENSSL);
	check_resigned(&f, "unknown non-critical extension", edit_unknown_noncritical, EVP_sha256(), NOW, ERR_OK,
		       OPENSSL);
	/* Rejected, and with the error of the full path. */
	check_resigned(&f, "wrong issuer", edit_issuer_processor, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	check_resigned(&f, "issuer CN in lower case", edit_issuer_lowercase, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN,
		       OPENSSL);
	check_resigned(&f, "subject CN", edit_subject_cn, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	check_resigned(&f, "unknown critical extension", edit_unknown_critical, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN,
		       OPENSSL);
	check_resigned(&f, "SGX extension critical", edit_sgx_ext_critical, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN,
		       OPENSSL);
	check_resigned(&f, "CA leaf", edit_ca_true, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	check_resigned(&f, "keyCertSign", edit_key_cert_sign, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	check_resigned(&f, "no AKID", edit_no_akid, EVP_sha256(), NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	/* Validity: the leaf's own window, to the second. */
	check_resigned(&f, "leaf notAfter, at it", edit_expires_soon, EVP_sha256(), NOW + 3600, ERR_OK, FAST);
	check_resigned(&f, "leaf notAfter, a second later", edit_expires_soon, EVP_sha256(), NOW + 3601,
		       ERR_ATTEST_CERT_EXPIRED, FAST);
	check_resigned(&f, "leaf not yet valid", edit_not_yet_valid, EVP_sha256(), NOW, ERR_ATTEST_CERT_EXPIRED, FAST);
	check_resigned(&f, "leaf not yet valid, at notBefore", edit_not_yet_valid, EVP_sha256(), NOW + DAY, ERR_OK,
		       FAST);
	fx_fini(&f);
}

static void test_revoked_leaf(void **state)
{
	struct sim_params prm;
	struct fx f;

	(void)state;
	sim_params_default(&prm);
	prm.revoke_pck_leaf = 1;
	fx_init(&f, 31, &prm);
	check_three(&f, "revoked leaf", f.quote, f.quote_len, NOW, ERR_ATTEST_CERT_REVOKED, OPENSSL);
	check_resigned(&f, "revoked leaf, re-signed", NULL, EVP_sha256(), NOW, ERR_ATTEST_CERT_REVOKED, OPENSSL);
	/* The same leaf with a serial the CRL does not list. */
	check_resigned(&f, "another serial", edit_serial, EVP_sha256(), NOW, ERR_OK, FAST);
	fx_fini(&f);
}

/*
 * A collateral signer revoked by the root CA CRL: the TCB Signing
 * certificate (leaf of the two-certificate TCB info and QE identity chains)
 * or the PCK CA (leaf of the PCK CRL's chain). The collateral is refused
 * as a whole, whatever quote comes with it. The sim's root CRL is plain
 * (root_crl_plain: the leaves are looked up by hand); with its CRL Number
 * marked critical it is not, and OpenSSL's own CRL check refuses it.
 */
static void test_revoked_collateral_signer(void **state)
{
	static const struct {
		int tcb, ca, crit;
		err_t want;
		const char *what;
	} cases[] = {
		{ 1, 0, 0, ERR_ATTEST_CERT_REVOKED, "TCB info issuer chain" },
		{ 0, 1, 0, ERR_ATTEST_CERT_REVOKED, "PCK CRL issuer chain" },
		{ 1, 1, 0, ERR_ATTEST_CERT_REVOKED, "TCB info issuer chain" },
		{ 0, 0, 0, ERR_OK, NULL },
		{ 0, 0, 1, ERR_ATTEST_CRL_INVALID, "TCB info issuer chain" },
		{ 0, 1, 1, ERR_ATTEST_CRL_INVALID, "TCB info issuer chain" },
	};
	uint8_t seed[SIM_SEED_LEN];

	(void)state;
	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		seed[i] = (uint8_t)(33 + i);
	for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
		struct sim_params prm;
		struct sim_tcb_params t;
		struct sim_pki *pki = NULL;
		struct attest_trust trust = { 0 };
		struct dcap_collateral coll;
		struct dcap_vcoll *vc = NULL;
		struct arena a;
		char *json = NULL;
		size_t json_len = 0, len;
		const uint8_t *der;
		const char *detail = NULL;

		sim_params_default(&prm);
		prm.revoke_tcb_signing = cases[k].tcb;
		prm.revoke_pck_ca = cases[k].ca;
		prm.root_crl_critical = cases[k].crit;
		assert_int_equal(sim_pki_new(seed, &prm, &pki), ERR_OK);
		sim_dev_root_der(pki, &der, &len);
		trust.intel_dev_root = x509_from_bytes(der, len);
		assert_non_null(trust.intel_dev_root);
		arena_init(&a, 8u << 20, 0);
		sim_tcb_params_default(&t, NOW);
		assert_int_equal(sim_collateral_json(pki, &t, &json, &json_len), ERR_OK);
		assert_int_equal(dcap_collateral_parse_json(json, json_len, &a, &coll, &detail), ERR_OK);
		assert_int_equal(dcap_vcoll_new(&coll, &trust, &vc, &detail), cases[k].want);
		if (cases[k].want == ERR_OK) {
			assert_non_null(vc);
			assert_int_equal(vc->root_crl_plain, 1);
			dcap_vcoll_free(vc);
		} else {
			assert_null(vc);
			assert_non_null(detail);
			assert_non_null(strstr(detail, cases[k].what));
		}
		arena_fini(&a);
		free(json);
		X509_free(trust.intel_dev_root);
		sim_pki_free(pki);
	}
}

static void test_tampered_leaf(void **state)
{
	struct fx f;
	const uint8_t *der;
	uint8_t *m;
	size_t len;
	struct dcap_pck_leaf lf;

	(void)state;
	fx_init(&f, 32, NULL);
	assert_int_equal(sim_cert_der(f.pki, SIM_CERT_PCK_LEAF, &der, &len), ERR_OK);
	assert_int_equal(dcap_pck_leaf_parse(der, len, &lf), ERR_OK);
	m = malloc(len);
	assert_non_null(m);
	/* The last byte of the signature (s), a byte of the validity, a byte of the key, a byte of the PPID region. */
	{
		const size_t offs[] = { len - 1, (size_t)(lf.tbs - der) + lf.tbs_len / 3,
					(size_t)(lf.tbs - der) + lf.tbs_len / 2, (size_t)(lf.sgx_ext - der) + 20 };

		for (size_t i = 0; i < ARRAY_LEN(offs); i++) {
			memcpy(m, der, len);
			m[offs[i]] ^= 0x01;
			check_leaf(&f, "tampered leaf byte", m, len, NOW, ERR_ATTEST_CERT_CHAIN, OPENSSL);
		}
	}
	free(m);
	fx_fini(&f);
}

/* Replace every "\n" with "\r\n". */
static char *crlf(const char *s)
{
	size_t n = strlen(s), k = 0;
	char *out = malloc(2 * n + 1);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			out[k++] = '\r';
		out[k++] = s[i];
	}
	out[k] = 0;
	return out;
}

/* The PEM block re-wrapped: base64 in lines of `width` characters (0 = one line), optional padding removal. */
static char *rewrap(const char *pem, size_t width, int strip_pad)
{
	const char *b = strchr(pem, '\n') + 1, *e = strstr(pem, "-----END");
	size_t n = strlen(pem), k = 0, col = 0;
	char *out = malloc(2 * n + 2);

	assert_non_null(out);
	memcpy(out, pem, (size_t)(b - pem));
	k = (size_t)(b - pem);
	for (const char *c = b; c < e; c++) {
		if (*c == '\n' || (strip_pad && *c == '='))
			continue;
		out[k++] = *c;
		if (width && ++col == width) {
			out[k++] = '\n';
			col = 0;
		}
	}
	if (!width || col)
		out[k++] = '\n';
	memcpy(out + k, e, strlen(e) + 1);
	return out;
}

static void test_chain_framing(void **state)
{
	struct fx f;
	char *leaf, *ca, *root, *chain, *v;
	uint8_t *q;
	size_t clen, qlen;

	(void)state;
	fx_init(&f, 33, NULL);
	leaf = pem_of_cert(&f, SIM_CERT_PCK_LEAF);
	ca = pem_of_cert(&f, SIM_CERT_PCK_CA);
	root = pem_of_cert(&f, SIM_CERT_ROOT);

#define CHAIN(what, a, b, c, d, want, path)                                 \
	do {                                                                \
		chain = cat(a, b, c, d, &clen);                             \
		q = quote_with_chain(&f, chain, clen, &qlen);               \
		check_three(&f, what, q, qlen, NOW, want, path);            \
		free(q);                                                    \
		free(chain);                                                \
	} while (0)

	CHAIN("leaf, CA, root", leaf, ca, root, NULL, ERR_OK, FAST);
	CHAIN("leaf, CA", leaf, ca, NULL, NULL, ERR_OK, FAST);
	CHAIN("whitespace between blocks", "\n\t ", leaf, "\r\n\n", ca, ERR_OK, FAST);
	CHAIN("leaf only", leaf, NULL, NULL, NULL, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	CHAIN("leaf, CA, root, root", leaf, ca, root, root, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	CHAIN("leaf, root, CA", leaf, root, ca, NULL, ERR_ATTEST_ROOT_UNTRUSTED, OPENSSL);
	CHAIN("CA, leaf", ca, leaf, NULL, NULL, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	CHAIN("leaf, CA, CA", leaf, ca, ca, NULL, ERR_ATTEST_ROOT_UNTRUSTED, OPENSSL);

	/* Other spellings of the same DER: the fast reader leaves them all to OpenSSL, which decides. */
	v = crlf(leaf);
	CHAIN("leaf in CRLF", v, ca, root, NULL, ERR_OK, OPENSSL);
	free(v);
	v = crlf(ca);
	CHAIN("CA in CRLF", leaf, v, root, NULL, ERR_OK, OPENSSL);
	free(v);
	v = crlf(root);
	CHAIN("root in CRLF", leaf, ca, v, NULL, ERR_OK, OPENSSL);
	free(v);
	v = rewrap(leaf, 76, 0);
	CHAIN("leaf in 76-character lines", v, ca, root, NULL, ERR_OK, OPENSSL);
	free(v);
	v = rewrap(leaf, 0, 0);
	CHAIN("leaf on one line", v, ca, root, NULL, ERR_OK, OPENSSL);
	free(v);
	v = rewrap(leaf, 64, 1);
	if (strcmp(v, leaf) != 0)   /* only when the leaf's base64 has padding to strip */
		CHAIN("leaf without padding", v, ca, root, NULL, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	free(v);
	/* The URL-safe alphabet and a BEGIN line without its newline: base64_decode would take them, OpenSSL does not. */
	v = strdup(leaf);
	assert_non_null(v);
	{
		char *c = v + strlen("-----BEGIN CERTIFICATE-----\n");
		int changed = 0;

		for (; *c != '-' && !changed; c++) {
			if (*c == '+' || *c == '/') {
				*c = *c == '+' ? '-' : '_';
				changed = 1;
			}
		}
		assert_true(changed);
	}
	CHAIN("URL-safe base64", v, ca, root, NULL, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	memcpy(v, leaf, strlen(leaf) + 1);
	memmove(v + 27, v + 28, strlen(v + 28) + 1);   /* drop the newline after the BEGIN marker */
	CHAIN("BEGIN without newline", v, ca, root, NULL, ERR_ATTEST_CERT_CHAIN, OPENSSL);
	free(v);
#undef CHAIN
	free(leaf);
	free(ca);
	free(root);
	fx_fini(&f);
}

/* The QE identity issuer chain is reused only when byte-for-byte the TCB info's; other text is verified on its own. */
static void test_qe_identity_chain(void **state)
{
	struct fx f;
	struct dcap_collateral c;
	struct dcap_vcoll *vc = NULL;
	struct attest_policy p;
	struct attest_verdict v;
	const char *detail = NULL;
	char *alt;

	(void)state;
	memset(&p, 0, sizeof(p));
	fx_init(&f, 34, NULL);
	assert_int_equal(f.coll.qe_identity_issuer_chain_len, f.coll.tcb_info_issuer_chain_len);
	assert_memory_equal(f.coll.qe_identity_issuer_chain, f.coll.tcb_info_issuer_chain,
			    f.coll.tcb_info_issuer_chain_len);
	/* Same windows as the TCB info chain, under the QE identity chain's name. */
	{
		const struct dcap_window *tw = NULL, *qw = NULL;

		for (size_t i = 0; i < f.vc->n_win; i++) {
			if (strcmp(f.vc->win[i].what, "TCB info issuer chain") == 0)
				tw = &f.vc->win[i];
			if (strcmp(f.vc->win[i].what, "QE identity issuer chain") == 0)
				qw = &f.vc->win[i];
		}
		assert_non_null(tw);
		assert_non_null(qw);
		assert_true(qw > tw);
		assert_int_equal(qw->from, tw->from);
		assert_int_equal(qw->to, tw->to);
		assert_int_equal(qw->err_after, ERR_ATTEST_CERT_EXPIRED);
	}

	/* The same certificates in CRLF: parsed and verified on their own, same verdict. */
	alt = crlf(f.coll.tcb_info_issuer_chain);
	c = f.coll;
	c.qe_identity_issuer_chain = alt;
	c.qe_identity_issuer_chain_len = strlen(alt);
	assert_int_equal(dcap_vcoll_new(&c, &f.trust, &vc, &detail), ERR_OK);
	assert_int_equal(vc->n_win, f.vc->n_win);
	for (size_t i = 0; i < vc->n_win; i++) {
		assert_int_equal(vc->win[i].from, f.vc->win[i].from);
		assert_int_equal(vc->win[i].to, f.vc->win[i].to);
		assert_string_equal(vc->win[i].what, f.vc->win[i].what);
	}
	assert_int_equal(dcap_verify_quote(vc, f.quote, f.quote_len, &p, NOW, NULL, &f.a, &v), ERR_OK);
	dcap_vcoll_free(vc);
	vc = NULL;
	free(alt);

	/* The PCK CRL's issuer chain in its place: a chain to the root, but not the TCB Signing certificate. */
	c = f.coll;
	c.qe_identity_issuer_chain = f.coll.pck_crl_issuer_chain;
	c.qe_identity_issuer_chain_len = f.coll.pck_crl_issuer_chain_len;
	assert_int_equal(dcap_vcoll_new(&c, &f.trust, &vc, &detail), ERR_ATTEST_CERT_CHAIN);
	assert_string_equal(detail, "QE identity issuer chain");
	assert_null(vc);
	/* The TCB info chain broken: its own error first, whether or not the QE chain is the same text. */
	alt = strdup(f.coll.tcb_info_issuer_chain);
	assert_non_null(alt);
	alt[100] = alt[100] == 'A' ? 'B' : 'A';
	c = f.coll;
	c.tcb_info_issuer_chain = alt;
	c.qe_identity_issuer_chain = alt;
	assert_int_not_equal(dcap_vcoll_new(&c, &f.trust, &vc, &detail), ERR_OK);
	assert_null(vc);
	free(alt);
	fx_fini(&f);
}

/* ec_p256_pubkey_from_xy_like accepts exactly the points ec_p256_pubkey_from_xy accepts, as the same key. */
static void test_pubkey_like(void **state)
{
	static const uint8_t p256_p[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	struct fx f;
	uint8_t pts[8][64], good[64];
	EVP_PKEY *p384 = NULL, *likes[3];
	size_t n = 0;

	(void)state;
	fx_init(&f, 35, NULL);
	sim_qe_attestation_key(f.pki, good);
	memcpy(pts[n++], good, 64);
	memcpy(pts[n], good, 64);
	pts[n++][63] ^= 1;                           /* off the curve */
	memset(pts[n++], 0, 64);                     /* (0, 0) */
	memset(pts[n++], 0xff, 64);                  /* coordinates >= p */
	memcpy(pts[n], p256_p, 32);                  /* x = p */
	memcpy(pts[n++] + 32, good + 32, 32);
	memcpy(pts[n], good, 64);                    /* (x, p - y): the negated point, valid */
	{
		BIGNUM *pp = BN_bin2bn(p256_p, 32, NULL), *y = BN_bin2bn(good + 32, 32, NULL);

		assert_non_null(pp);
		assert_non_null(y);
		assert_int_equal(BN_sub(y, pp, y), 1);
		assert_int_equal(BN_bn2binpad(y, pts[n++] + 32, 32), 32);
		BN_free(pp);
		BN_free(y);
	}
	memcpy(pts[n++], f.pki->pck_leaf.xy, 64);
	memcpy(pts[n], f.pki->pck_leaf.xy, 64);
	pts[n++][0] ^= 0x80;
	{
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

		assert_non_null(kc);
		assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
		assert_int_equal(EVP_PKEY_CTX_set_group_name(kc, "P-384"), 1);
		assert_int_equal(EVP_PKEY_keygen(kc, &p384), 1);
		EVP_PKEY_CTX_free(kc);
	}
	likes[0] = X509_get0_pubkey(f.leaf);   /* a key from a certificate */
	likes[1] = p384;                       /* another curve: falls back */
	likes[2] = NULL;
	for (size_t i = 0; i < n; i++) {
		EVP_PKEY *ref = ec_p256_pubkey_from_xy(pts[i]);

		for (size_t k = 0; k < ARRAY_LEN(likes); k++) {
			EVP_PKEY *got = ec_p256_pubkey_from_xy_like(likes[k], pts[i]);
			uint8_t xy[64];
			size_t len = 0;

			if (!ref != !got)
				fail_msg("point %zu, template %zu: from_xy %s, like %s", i, k, ref ? "accepts" : "refuses",
					 got ? "accepts" : "refuses");
			if (got) {
				assert_int_equal(EVP_PKEY_eq(ref, got), 1);
				assert_int_equal(ec_pubkey_xy(got, xy, sizeof(xy), &len), ERR_OK);
				assert_int_equal(len, 64);
				assert_memory_equal(xy, pts[i], 64);
			}
			EVP_PKEY_free(got);
		}
		if (i == 0 || i == 5 || i == 6)
			assert_non_null(ref);
		if (i == 1 || i == 2 || i == 3 || i == 4)
			assert_null(ref);
		EVP_PKEY_free(ref);
	}
	EVP_PKEY_free(p384);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resigned_leaves),
		cmocka_unit_test(test_revoked_leaf),
		cmocka_unit_test(test_revoked_collateral_signer),
		cmocka_unit_test(test_tampered_leaf),
		cmocka_unit_test(test_chain_framing),
		cmocka_unit_test(test_qe_identity_chain),
		cmocka_unit_test(test_pubkey_like),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
