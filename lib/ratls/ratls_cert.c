/* SPDX-License-Identifier: Apache-2.0 */
/* RA-TLS certificates: the one builder (OpenSSL X509 API), PEM/DER helpers, and strict reading of dstack's extensions. */
#include "ratls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "pbcodec.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/* DER content of 1.3.6.1.4.1.62397.1 (62397 = 0x83 0xE7 0x3D in base 128); the arc number follows. */
static const uint8_t OID_PREFIX[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe7, 0x3d, 0x01 };

EVP_PKEY *ratls_key_new(void)
{
	return EVP_EC_gen("P-256");
}

static int is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;

	return k && EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

/* DNS names for SAN: visible ASCII only (IA5String), nothing that could read as another entry. */
static int dns_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
			return 0;
	return 1;
}

static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (!e)
		return 0;
	ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok;
}

static int add_san(X509 *x, const char *const *names, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ok = gens != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_OCTET_STRING *ip;

		if (!g) {
			ok = 0;
			break;
		}
		ip = a2i_IPADDRESS(names[i]);
		if (ip) {
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		} else {
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();

			if (!s || !dns_name_ok(names[i]) || !ASN1_STRING_set(s, names[i], (int)strlen(names[i]))) {
				ASN1_IA5STRING_free(s);
				GENERAL_NAME_free(g);
				ok = 0;
				break;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			ok = 0;
		}
	}
	if (ok)
		ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
	GENERAL_NAMES_free(gens);
	return ok;
}

/* One dstack extension: OID 1.3.6.1.4.1.62397.1.<arc>, value = DER OCTET STRING of the raw bytes. */
static int add_dstack_ext(X509 *x, unsigned arc, const void *raw, size_t len)
{
	char oid[32];
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *inner = NULL, *outer = NULL;
	X509_EXTENSION *e = NULL;
	unsigned char *der = NULL;
	int der_len, ok = 0;

	if (len > RATLS_EXT_MAX || arc > 127)
		return 0;
	snprintf(oid, sizeof(oid), "1.3.6.1.4.1.62397.1.%u", arc);
	obj = OBJ_txt2obj(oid, 1);
	inner = ASN1_OCTET_STRING_new();
	outer = ASN1_OCTET_STRING_new();
	if (!obj || !inner || !outer || !ASN1_OCTET_STRING_set(inner, raw, (int)len))
		goto out;
	der_len = i2d_ASN1_OCTET_STRING(inner, &der);
	if (der_len <= 0 || !ASN1_OCTET_STRING_set(outer, der, der_len))
		goto out;
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
	ok = e && X509_add_ext(x, e, -1) == 1;
out:
	X509_EXTENSION_free(e);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(outer);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* Random positive 16-byte serial (top bit clear, never zero). */
static int set_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn = NULL;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	b[0] &= 0x7f;
	b[0] |= 0x40;   /* a fixed length keeps the DER size predictable */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int set_names(X509 *x, const struct ratls_cert_params *p, X509 *issuer)
{
	X509_NAME *n = X509_NAME_new();
	int ok = n != NULL;

	if (ok && p->org)
		ok = X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)p->org, -1, -1, 0) == 1;
	if (ok)
		ok = X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)p->cn, -1, -1, 0) == 1;
	if (ok)
		ok = X509_set_subject_name(x, n) == 1 &&
		     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n) == 1;
	X509_NAME_free(n);
	return ok;
}

static int params_ok(const struct ratls_cert_params *p, uint64_t nb)
{
	if (!p->cn || !p->cn[0] || p->not_after <= nb || (p->n_alt_names && !p->alt_names))
		return 0;
	if ((p->attestation_len && !p->attestation) || (p->tdx_quote_len && !p->tdx_quote) ||
	    (p->event_log_len && !p->event_log) || (p->app_info_len && !p->app_info))
		return 0;
	if (p->usage && (!p->usage[0] || strlen(p->usage) > RATLS_USAGE_MAX || !utf8_valid(p->usage, strlen(p->usage))))
		return 0;
	return 1;
}

err_t ratls_cert_build(const struct ratls_cert_params *p, EVP_PKEY *subject, X509 *issuer, EVP_PKEY *issuer_key,
		       X509 **out)
{
	uint64_t nb = p && p->not_before ? p->not_before : RATLS_DEFAULT_NOT_BEFORE;
	X509 *x = NULL;
	X509V3_CTX ctx;
	char bc[48];
	err_t rc = ERR_CRYPTO;

	*out = NULL;
	if (!p || !subject || !is_p256(issuer_key) || !params_ok(p, nb))
		return ERR_INVALID_ARG;
	if (!issuer && EVP_PKEY_eq(subject, issuer_key) != 1)
		return ERR_INVALID_ARG;   /* self-signed: the subject signs itself */
	if (issuer && X509_check_private_key(issuer, issuer_key) != 1) {
		ERR_clear_error();
		return ERR_INVALID_ARG;
	}
	x = X509_new();
	if (!x || X509_set_version(x, 2) != 1 || !set_serial(x) || !set_names(x, p, issuer) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)p->not_after) || X509_set_pubkey(x, subject) != 1)
		goto out;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (p->is_ca) {
		if (p->path_len >= 0)
			snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", p->path_len);
		else
			snprintf(bc, sizeof(bc), "critical,CA:TRUE");
		if (!add_conf_ext(x, &ctx, NID_basic_constraints, bc))
			goto out;
	}
	if (!add_conf_ext(x, &ctx, NID_key_usage,
			  p->is_ca ? "critical,digitalSignature,keyCertSign,cRLSign" : "critical,digitalSignature"))
		goto out;
	if ((p->server_auth || p->client_auth) &&
	    !add_conf_ext(x, &ctx, NID_ext_key_usage,
			  p->server_auth && p->client_auth ? "serverAuth,clientAuth"
			  : p->server_auth		   ? "serverAuth"
							   : "clientAuth"))
		goto out;
	if (p->n_alt_names && !add_san(x, p->alt_names, p->n_alt_names)) {
		rc = ERR_INVALID_ARG;   /* almost always a name that is neither a DNS name nor an IP literal */
		goto out;
	}
	if (!add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    (issuer && !add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid")))
		goto out;
	if ((p->app_id && !add_dstack_ext(x, 3, p->app_id, RATLS_APP_ID_LEN)) ||
	    (p->usage && !add_dstack_ext(x, 4, p->usage, strlen(p->usage))) ||
	    (p->attestation && !add_dstack_ext(x, 8, p->attestation, p->attestation_len)) ||
	    (p->tdx_quote && !add_dstack_ext(x, 1, p->tdx_quote, p->tdx_quote_len)) ||
	    (p->event_log && !add_dstack_ext(x, 2, p->event_log, p->event_log_len)) ||
	    (p->app_info && !add_dstack_ext(x, 9, p->app_info, p->app_info_len)))
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	rc = ERR_OK;
out:
	if (rc != ERR_OK)
		ERR_clear_error();
	X509_free(x);
	return rc;
}

/* ---- encodings ---- */

static err_t bio_to_writer(BIO *b, struct buf_writer *w)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0)
		return ERR_CRYPTO;
	buf_put(w, data, (size_t)n);
	return buf_writer_status(w);
}

err_t ratls_cert_der(X509 *x, struct buf_writer *w)
{
	int n = x ? i2d_X509(x, NULL) : -1;
	uint8_t *p;

	if (n <= 0)
		return ERR_CRYPTO;
	p = buf_reserve(w, (size_t)n);
	if (!p)
		return buf_writer_status(w);
	if (i2d_X509(x, &p) != n)
		return ERR_CRYPTO;
	buf_commit(w, (size_t)n);
	return ERR_OK;
}

err_t ratls_cert_pem(X509 *x, struct buf_writer *w)
{
	BIO *b = BIO_new(BIO_s_mem());
	err_t rc = ERR_CRYPTO;

	if (b && x && PEM_write_bio_X509(b, x) == 1)
		rc = bio_to_writer(b, w);
	BIO_free(b);
	return rc;
}

err_t ratls_key_pem(EVP_PKEY *key, struct buf_writer *w)
{
	BIO *b = BIO_new(BIO_s_secmem());
	err_t rc = ERR_CRYPTO;

	w->wipe = 1;
	if (!b)
		b = BIO_new(BIO_s_mem());
	if (b && key && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1)
		rc = bio_to_writer(b, w);
	BIO_free(b);   /* memory BIOs wipe nothing themselves; the secure-heap one does */
	return rc;
}

err_t ratls_spki_der(EVP_PKEY *key, struct buf_writer *w)
{
	int n = key ? i2d_PUBKEY(key, NULL) : -1;
	uint8_t *p;

	if (n <= 0)
		return ERR_CRYPTO;
	p = buf_reserve(w, (size_t)n);
	if (!p)
		return buf_writer_status(w);
	if (i2d_PUBKEY(key, &p) != n)
		return ERR_CRYPTO;
	buf_commit(w, (size_t)n);
	return ERR_OK;
}

err_t ratls_report_data(EVP_PKEY *key, uint8_t out[RATLS_REPORT_DATA_LEN])
{
	struct buf_writer w;
	err_t rc;

	buf_writer_init(&w, 4096);
	rc = ratls_spki_der(key, &w);
	if (rc == ERR_OK)
		attest_ratls_report_data(w.p, w.len, out);
	buf_writer_free(&w);
	return rc;
}

/* ---- reading the extensions ---- */

/* The content of a DER OCTET STRING that spans exactly [p, p+n): definite, minimal length. */
static err_t der_octet_string(const uint8_t *p, size_t n, struct ratls_blob *out)
{
	struct buf_reader r;
	uint8_t tag = 0, l0 = 0;
	size_t len = 0;

	buf_reader_init(&r, p, n);
	if (buf_get_u8(&r, &tag) || tag != 0x04 || buf_get_u8(&r, &l0))
		return ERR_RATLS_EVIDENCE_FORMAT;
	if (l0 < 0x80) {
		len = l0;
	} else {
		unsigned nbytes = l0 & 0x7f;

		if (nbytes == 0 || nbytes > 4)
			return ERR_RATLS_EVIDENCE_FORMAT;   /* indefinite (BER) or absurd */
		for (unsigned i = 0; i < nbytes; i++) {
			uint8_t b = 0;

			if (buf_get_u8(&r, &b))
				return ERR_RATLS_EVIDENCE_FORMAT;
			if (i == 0 && b == 0)
				return ERR_RATLS_EVIDENCE_FORMAT;   /* leading zero: not minimal */
			len = (len << 8) | b;
		}
		if (len < 0x80)
			return ERR_RATLS_EVIDENCE_FORMAT;   /* long form for a short length */
	}
	if (len > RATLS_EXT_MAX)
		return ERR_PROTO_TOO_LARGE;
	if (buf_get_view(&r, len, &out->p) || buf_expect_end(&r))
		return ERR_RATLS_EVIDENCE_FORMAT;
	out->len = len;
	return ERR_OK;
}

err_t ratls_cert_ext_read(X509 *x, struct ratls_cert_ext *out, const char **detail)
{
	int n = X509_get_ext_count(x);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
		const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(e);
		const uint8_t *oid = OBJ_get0_data(obj);
		size_t oid_len = OBJ_length(obj);
		struct ratls_blob *slot, got;
		err_t rc;

		if (!oid || oid_len != sizeof(OID_PREFIX) + 1 || memcmp(oid, OID_PREFIX, sizeof(OID_PREFIX)) != 0)
			continue;
		switch (oid[sizeof(OID_PREFIX)]) {
		case 1: slot = &out->tdx_quote; break;
		case 2: slot = &out->event_log; break;
		case 3: slot = &out->app_id; break;
		case 4: slot = &out->usage; break;
		case 8: slot = &out->attestation; break;
		case 9: slot = &out->app_info; break;
		default: continue;   /* other dstack arcs (e.g. .5-.7) carry nothing we read */
		}
		if (slot->p) {
			SET_DETAIL(detail, "a dstack certificate extension appears twice");
			return ERR_RATLS_EVIDENCE_FORMAT;
		}
		if (!val || val->length < 0) {
			SET_DETAIL(detail, "a dstack certificate extension has no value");
			return ERR_RATLS_EVIDENCE_FORMAT;
		}
		rc = der_octet_string(val->data, (size_t)val->length, &got);
		if (rc != ERR_OK) {
			SET_DETAIL(detail, "a dstack certificate extension is not one DER OCTET STRING");
			return rc == ERR_PROTO_TOO_LARGE ? rc : ERR_RATLS_EVIDENCE_FORMAT;
		}
		/* An empty value still counts as present (and is then rejected by its reader). */
		*slot = got;
		if (!slot->p)
			slot->p = val->data;
	}
	if (out->app_id.p && out->app_id.len != RATLS_APP_ID_LEN) {
		SET_DETAIL(detail, "the APP_ID extension is not 20 bytes");
		return ERR_RATLS_EVIDENCE_FORMAT;
	}
	if (out->usage.p && (out->usage.len == 0 || out->usage.len > RATLS_USAGE_MAX ||
			     !utf8_valid((const char *)out->usage.p, out->usage.len) ||
			     memchr(out->usage.p, 0, out->usage.len))) {
		SET_DETAIL(detail, "the CERT_USAGE extension is not short UTF-8 text");
		return ERR_RATLS_EVIDENCE_FORMAT;
	}
	return ERR_OK;
}
