/* SPDX-License-Identifier: Apache-2.0 */
/* SEV-SNP endorsement: VCEK/VLEK KDS extensions, the VCEK -> ASK -> ARK chain at a fixed time, and the ARK's CRL. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "buf.h"
#include "crypto.h"
#include "snp.h"

/* DER content of 1.3.6.1.4.1.3704.1 (AMD KDS arc). */
static const uint8_t amd_kds_arc[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01 };

enum attest_snp_product snp_product_from_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum attest_snp_product p;
	} lines[] = {
		{ "Milan", SNP_PRODUCT_MILAN },
		{ "Genoa", SNP_PRODUCT_GENOA },
		{ "Turin", SNP_PRODUCT_TURIN },
	};
	size_t len = 0;

	if (!s)
		return SNP_PRODUCT_UNKNOWN;
	while (len < n && s[len] != '-')
		len++;
	for (size_t i = 0; i < ARRAY_LEN(lines); i++)
		if (strlen(lines[i].name) == len && memcmp(lines[i].name, s, len) == 0)
			return lines[i].p;
	return SNP_PRODUCT_UNKNOWN;
}

/* DER tag + definite length with minimal encoding (lengths up to 0xFFFF); the content becomes a sub-reader. */
static err_t der_get(struct buf_reader *r, uint8_t want_tag, struct buf_reader *content)
{
	uint8_t tag, l0, l1;
	uint16_t l2;
	size_t len;

	if (buf_get_u8(r, &tag) || tag != want_tag || buf_get_u8(r, &l0))
		return ERR_ATTEST_CERT_DATA;
	if (l0 < 0x80) {
		len = l0;
	} else if (l0 == 0x81) {
		if (buf_get_u8(r, &l1) || l1 < 0x80)
			return ERR_ATTEST_CERT_DATA;
		len = l1;
	} else if (l0 == 0x82) {
		if (buf_get_u16be(r, &l2) || l2 < 0x100)
			return ERR_ATTEST_CERT_DATA;
		len = l2;
	} else {
		return ERR_ATTEST_CERT_DATA;
	}
	if (buf_get_sub(r, len, content))
		return ERR_ATTEST_CERT_DATA;
	return ERR_OK;
}

/* A whole extnValue that is one DER INTEGER in 0..255, minimally encoded. */
static err_t der_u8(const uint8_t *val, size_t len, uint8_t *out)
{
	struct buf_reader r, c;
	uint8_t b0, b1;

	buf_reader_init(&r, val, len);
	if (der_get(&r, 0x02, &c) || buf_expect_end(&r))
		return ERR_ATTEST_CERT_DATA;
	if (buf_remaining(&c) == 1) {
		if (buf_get_u8(&c, &b0) || b0 & 0x80)
			return ERR_ATTEST_CERT_DATA;   /* negative */
		*out = b0;
		return ERR_OK;
	}
	/* Two bytes only for 128..255: 00 8x..ff. */
	if (buf_remaining(&c) != 2 || buf_get_u8(&c, &b0) || buf_get_u8(&c, &b1) || b0 != 0 || !(b1 & 0x80))
		return ERR_ATTEST_CERT_DATA;
	*out = b1;
	return ERR_OK;
}

/* A whole extnValue that is one IA5String of printable ASCII, 1..max bytes, copied NUL-terminated. */
static err_t der_ia5(const uint8_t *val, size_t len, char *out, size_t max)
{
	struct buf_reader r, c;
	const uint8_t *s;
	size_t n;

	buf_reader_init(&r, val, len);
	if (der_get(&r, 0x16, &c) || buf_expect_end(&r))
		return ERR_ATTEST_CERT_DATA;
	n = buf_remaining(&c);
	if (n == 0 || buf_get_view_max(&c, n, max, &s))
		return ERR_ATTEST_CERT_DATA;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return ERR_ATTEST_CERT_DATA;
	memcpy(out, s, n);
	out[n] = '\0';
	return ERR_OK;
}

static uint8_t *spl_slot(struct snp_tcb_parts *t, uint8_t which)
{
	switch (which) {
	case 1: return &t->bl;
	case 2: return &t->tee;
	case 3: return &t->snp;
	case 4: return &t->spl4;
	case 5: return &t->spl5;
	case 6: return &t->spl6;
	case 7: return &t->spl7;
	case 8: return &t->ucode;
	case 9: return &t->fmc;
	default: return NULL;
	}
}

static const uint32_t spl_bit[10] = { 0, SNP_EXT_BL, SNP_EXT_TEE, SNP_EXT_SNP, SNP_EXT_SPL4, SNP_EXT_SPL5,
				      SNP_EXT_SPL6, SNP_EXT_SPL7, SNP_EXT_UCODE, SNP_EXT_FMC };

err_t snp_cert_ext_add(struct snp_cert_ext *e, const uint8_t *oid, size_t oid_len, const uint8_t *val,
		       size_t val_len)
{
	struct buf_reader r;
	const uint8_t *arc;
	uint8_t major, minor;
	uint32_t bit;

	buf_reader_init(&r, oid, oid_len);
	if (buf_get_view(&r, sizeof(amd_kds_arc), &arc) || memcmp(arc, amd_kds_arc, sizeof(amd_kds_arc)) != 0)
		return ERR_OK;   /* not ours: OpenSSL already refused unknown critical extensions */
	if (buf_get_u8(&r, &major))
		return ERR_OK;   /* the arc itself is no extension we know */
	switch (major) {
	case 1:
		bit = SNP_EXT_STRUCT_VERSION;
		break;
	case 2:
		bit = SNP_EXT_PRODUCT_NAME;
		break;
	case 3:
		if (buf_get_u8(&r, &minor) || minor < 1 || minor > 9)
			return ERR_OK;
		bit = spl_bit[minor];
		break;
	case 4:
		bit = SNP_EXT_HWID;
		break;
	case 5:
		bit = SNP_EXT_CSP_ID;
		break;
	default:
		return ERR_OK;
	}
	if (buf_expect_end(&r))
		return ERR_OK;   /* a deeper arc (e.g. .1.3.1.x): not a KDS field */
	if (e->seen & bit)
		return ERR_ATTEST_CERT_DATA;   /* duplicate */
	e->seen |= bit;
	switch (major) {
	case 1:
		return der_u8(val, val_len, &e->struct_version);
	case 2:
		return der_ia5(val, val_len, e->product_name, SNP_PRODUCT_NAME_MAX);
	case 3:
		return der_u8(val, val_len, spl_slot(&e->tcb, minor));
	case 4:
		/* Raw for now: raw or DER-wrapped is decided once the product (and so the size) is known. */
		if (val_len == 0 || val_len > sizeof(e->hwid_raw))
			return ERR_ATTEST_CERT_DATA;
		memcpy(e->hwid_raw, val, val_len);
		e->hwid_raw_len = val_len;
		return ERR_OK;
	default:
		return der_ia5(val, val_len, e->csp_id, SNP_CSP_ID_MAX);
	}
}

err_t snp_cert_ext_from_x509(X509 *x, struct snp_cert_ext *e)
{
	int n = X509_get_ext_count(x);
	err_t err;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		ASN1_OBJECT *obj = ext ? X509_EXTENSION_get_object(ext) : NULL;
		ASN1_OCTET_STRING *val = ext ? X509_EXTENSION_get_data(ext) : NULL;
		const unsigned char *od;
		size_t ol;

		if (!obj || !val)
			return ERR_ATTEST_CERT_DATA;
		od = OBJ_get0_data(obj);
		ol = OBJ_length(obj);
		if (!od || ol == 0)
			continue;
		err = snp_cert_ext_add(e, od, ol, ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val));
		if (err)
			return err;
	}
	return ERR_OK;
}

/* hwID is raw (KDS today) or, should AMD ever wrap it, a DER OCTET STRING of the same size. */
static err_t hwid_value(const struct snp_cert_ext *e, size_t want, uint8_t *out)
{
	struct buf_reader r, c;

	if (e->hwid_raw_len == want) {
		memcpy(out, e->hwid_raw, want);
		return ERR_OK;
	}
	buf_reader_init(&r, e->hwid_raw, e->hwid_raw_len);
	if (der_get(&r, 0x04, &c) || buf_expect_end(&r) || buf_remaining(&c) != want || buf_get_copy(&c, out, want))
		return ERR_ATTEST_CERT_DATA;
	return ERR_OK;
}

err_t snp_cert_ext_finish(const struct snp_cert_ext *e, enum attest_snp_product p, int vlek, uint64_t *tcb,
			  uint8_t hwid[SNP_CHIP_ID_SIZE], size_t *hwid_len)
{
	uint32_t need = SNP_EXT_PRODUCT_NAME | SNP_EXT_BL | SNP_EXT_TEE | SNP_EXT_SNP | SNP_EXT_UCODE;
	size_t hw_size;

	*hwid_len = 0;
	if (p == SNP_PRODUCT_UNKNOWN)
		return ERR_ATTEST_PRODUCT;
	if (p == SNP_PRODUCT_TURIN)
		need |= SNP_EXT_FMC;
	need |= vlek ? SNP_EXT_CSP_ID : SNP_EXT_HWID;
	if ((e->seen & need) != need)
		return ERR_ATTEST_CERT_DATA;
	/* A VCEK names a chip, a VLEK a cloud provider; never both. */
	if (e->seen & (vlek ? SNP_EXT_HWID : SNP_EXT_CSP_ID))
		return ERR_ATTEST_CERT_DATA;
	/* An SPL the product's TCB layout has no byte for cannot be matched against the report. */
	if (p == SNP_PRODUCT_TURIN ? e->tcb.spl4 != 0 : e->tcb.fmc != 0)
		return ERR_ATTEST_CERT_DATA;
	*tcb = snp_tcb_compose(&e->tcb, p);
	if (!vlek) {
		hw_size = p == SNP_PRODUCT_TURIN ? SNP_TURIN_HWID_SIZE : SNP_CHIP_ID_SIZE;
		if (hwid_value(e, hw_size, hwid))
			return ERR_ATTEST_CERT_DATA;
		*hwid_len = hw_size;
	}
	return ERR_OK;
}

/* --- names -------------------------------------------------------------------------------------- */

/* Exactly one entry of `nid` in `name`, equal to `want`. */
static int name_has(X509_NAME *name, int nid, const char *want)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	X509_NAME_ENTRY *ne;
	ASN1_STRING *s;
	size_t wl = strlen(want);

	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return 0;
	ne = X509_NAME_get_entry(name, i);
	s = ne ? X509_NAME_ENTRY_get_data(ne) : NULL;
	return s && (size_t)ASN1_STRING_length(s) == wl && memcmp(ASN1_STRING_get0_data(s), want, wl) == 0;
}

/* AMD's fixed O/OU/L/ST/C and the given CN; nothing else. */
static int amd_name(X509_NAME *name, const char *cn)
{
	return name && X509_NAME_entry_count(name) == 6 && name_has(name, NID_commonName, cn) &&
	       name_has(name, NID_organizationName, "Advanced Micro Devices") &&
	       name_has(name, NID_organizationalUnitName, "Engineering") &&
	       name_has(name, NID_localityName, "Santa Clara") && name_has(name, NID_stateOrProvinceName, "CA") &&
	       name_has(name, NID_countryName, "US");
}

/* --- time ----------------------------------------------------------------------------------------- */

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int asn1_time_unix(const ASN1_TIME *t, uint64_t *out)
{
	struct tm tm;
	int64_t s;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	s = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) * 86400 +
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	if (s < 0)
		return 0;
	*out = (uint64_t)s;
	return 1;
}

/* --- chain ---------------------------------------------------------------------------------------- */

static int der_equal(X509 *a, X509 *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la, lb, eq;

	la = i2d_X509(a, &da);
	lb = i2d_X509(b, &db);
	eq = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return eq;
}

static int is_p384(EVP_PKEY *k)
{
	char group[32];
	size_t gl = 0;

	return k && EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &gl) == 1 &&
	       strcmp(group, "secp384r1") == 0;
}

static err_t map_verify_error(int e, const char **detail)
{
	*detail = X509_verify_cert_error_string(e);
	switch (e) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return ERR_ATTEST_CERT_EXPIRED;
	default:
		return ERR_ATTEST_CERT_CHAIN;
	}
}

/* The CRL: issued and signed by the ARK, current at `now`, and not listing the ASK. */
static err_t check_crl(const uint8_t *p, size_t n, X509 *ark, X509 *ask, uint64_t now, struct snp_endorsement *out,
		       const char **detail)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	EVP_PKEY *ark_key;
	uint64_t last, next;
	err_t err = ERR_ATTEST_CRL_INVALID;

	crl = x509_crl_from_bytes(p, n);
	if (!crl) {
		*detail = "CRL does not parse";
		goto out;
	}
	ark_key = X509_get0_pubkey(ark);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) != 0 || !ark_key ||
	    X509_CRL_verify(crl, ark_key) != 1) {
		*detail = "CRL not issued or not signed by the ARK";
		goto out;
	}
	if (!asn1_time_unix(X509_CRL_get0_lastUpdate(crl), &last) ||
	    !asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &next)) {
		*detail = "CRL without lastUpdate/nextUpdate";
		goto out;
	}
	if (now < last || now > next) {
		err = ERR_ATTEST_CRL_EXPIRED;
		*detail = now < last ? "CRL lastUpdate is in the future" : "CRL nextUpdate has passed";
		goto out;
	}
	if (X509_CRL_get0_by_cert(crl, &rev, ask) == 1) {
		err = ERR_ATTEST_CERT_REVOKED;
		*detail = "ASK/ASVK is listed in the ARK's CRL";
		goto out;
	}
	out->crl_last_update = last;
	if (next < out->not_after)
		out->not_after = next;
	err = ERR_OK;
out:
	X509_CRL_free(crl);
	return err;
}

void snp_endorsement_free(struct snp_endorsement *e)
{
	if (!e)
		return;
	EVP_PKEY_free(e->key);
	e->key = NULL;
}

err_t snp_endorsement_verify(const uint8_t *cert, size_t cert_len, const char *chain_pem, size_t chain_len,
			     const uint8_t *crl, size_t crl_len, enum attest_snp_product product, int vlek,
			     const struct attest_trust *t, uint64_t now, struct snp_endorsement *out,
			     const char **detail)
{
	X509 *leaf = NULL, *ask, *ark_in, *anchor = NULL;
	STACK_OF(X509) *chain = NULL, *untrusted = NULL, *built;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	enum attest_snp_product named;
	const char *pname;
	char ask_cn[32], ark_cn[32];
	uint64_t na;
	int dev = 0, n;
	err_t err = ERR_ATTEST_CERT_DATA;
	const char *dummy;

	if (!detail)
		detail = &dummy;
	*detail = NULL;
	memset(out, 0, sizeof(*out));
	if (!t || !cert || !chain_pem) {
		err = ERR_ATTEST_COLLATERAL_MISSING;
		*detail = "VCEK/VLEK certificate or ASK chain missing";
		goto out;
	}
	leaf = x509_from_bytes(cert, cert_len);
	if (!leaf) {
		*detail = "VCEK/VLEK certificate does not parse";
		goto out;
	}
	chain = pem_certs_parse(chain_pem, chain_len);
	n = chain ? sk_X509_num(chain) : 0;
	if (n < 1 || n > 2) {
		*detail = "ASK chain must hold the ASK (or ASVK) and optionally the ARK";
		goto out;
	}
	ask = sk_X509_value(chain, 0);
	ark_in = n == 2 ? sk_X509_value(chain, 1) : NULL;

	err = snp_cert_ext_from_x509(leaf, &out->ext);
	if (err) {
		*detail = "VCEK/VLEK AMD extension malformed or duplicated";
		goto out;
	}
	named = snp_product_from_name(out->ext.product_name, strlen(out->ext.product_name));
	if (product == SNP_PRODUCT_UNKNOWN)
		product = named;
	if (product == SNP_PRODUCT_UNKNOWN || named != product) {
		err = ERR_ATTEST_PRODUCT;
		*detail = product == SNP_PRODUCT_UNKNOWN ? "product line unknown (no CPUID, hint or productName)"
							 : "VCEK productName is another product line";
		goto out;
	}
	out->product = product;
	out->vlek = vlek;

	/* The anchor: the pinned ARK of the product, or the dev ARK only when configured and presented. */
	anchor = t->amd_ark[product - 1];
	if (ark_in && !(anchor && der_equal(ark_in, anchor))) {
		anchor = NULL;
		if (t->amd_dev_ark && der_equal(ark_in, t->amd_dev_ark)) {
			anchor = t->amd_dev_ark;
			dev = 1;
		}
	}
	if (!anchor) {
		err = ERR_ATTEST_ROOT_UNTRUSTED;
		*detail = "chain does not end at the pinned ARK of the product";
		goto out;
	}

	/* Names as AMD issues them (B.2). The CN strings are short and fixed. */
	pname = snp_product_name(product);
	(void)snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", pname);
	(void)snprintf(ask_cn, sizeof(ask_cn), vlek ? "SEV-VLEK-%s" : "SEV-%s", pname);
	err = ERR_ATTEST_CERT_CHAIN;
	if (!amd_name(X509_get_subject_name(anchor), ark_cn) || !amd_name(X509_get_issuer_name(anchor), ark_cn) ||
	    !amd_name(X509_get_subject_name(ask), ask_cn) || !amd_name(X509_get_issuer_name(ask), ark_cn) ||
	    !amd_name(X509_get_subject_name(leaf), vlek ? "SEV-VLEK" : "SEV-VCEK") ||
	    !amd_name(X509_get_issuer_name(leaf), ask_cn)) {
		*detail = vlek ? "names are not VLEK -> SEV-VLEK-<product> -> ARK-<product>"
			       : "names are not VCEK -> SEV-<product> -> ARK-<product>";
		goto out;
	}
	if (X509_get_signature_nid(leaf) != NID_rsassaPss || X509_get_signature_nid(ask) != NID_rsassaPss ||
	    X509_get_signature_nid(anchor) != NID_rsassaPss) {
		*detail = "AMD certificates must be signed with RSASSA-PSS";
		goto out;
	}
	if (!is_p384(X509_get0_pubkey(leaf))) {
		*detail = "VCEK/VLEK key is not EC P-384";
		goto out;
	}

	err = ERR_NOMEM;
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	untrusted = sk_X509_new_null();
	if (!store || !ctx || !untrusted || X509_STORE_add_cert(store, anchor) != 1 || !sk_X509_push(untrusted, ask))
		goto out;
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto out;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	/* The ARK is pinned by DER, but a self-signature that does not verify is still a broken root. */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CHECK_SS_SIGNATURE);
	if (X509_verify_cert(ctx) != 1) {
		err = map_verify_error(X509_STORE_CTX_get_error(ctx), detail);
		goto out;
	}
	/* Exactly leaf -> the ASK we were given -> the anchor. */
	built = X509_STORE_CTX_get0_chain(ctx);
	if (!built || sk_X509_num(built) != 3 || X509_cmp(sk_X509_value(built, 1), ask) != 0 ||
	    X509_cmp(sk_X509_value(built, 2), anchor) != 0) {
		err = ERR_ATTEST_CERT_CHAIN;
		*detail = "chain is not VCEK -> ASK -> ARK";
		goto out;
	}

	out->not_after = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		if (!asn1_time_unix(X509_get0_notAfter(sk_X509_value(built, i)), &na)) {
			err = ERR_ATTEST_CERT_CHAIN;
			*detail = "certificate notAfter unreadable";
			goto out;
		}
		if (na < out->not_after)
			out->not_after = na;
	}
	if (crl && crl_len) {
		err = check_crl(crl, crl_len, anchor, ask, now, out, detail);
		if (err)
			goto out;
	}

	err = snp_cert_ext_finish(&out->ext, product, vlek, &out->tcb, out->hwid, &out->hwid_len);
	if (err) {
		*detail = vlek ? "VLEK lacks a required AMD extension (SPLs, productName, cspId)"
			       : "VCEK lacks a required AMD extension (SPLs, productName, hwID)";
		goto out;
	}
	out->key = X509_get_pubkey(leaf);
	if (!out->key) {
		err = ERR_NOMEM;
		goto out;
	}
	out->dev = dev;
	err = ERR_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	if (err)
		snp_endorsement_free(out);
	return err;
}
