/* SPDX-License-Identifier: Apache-2.0 */
/* PCK leaf certificate: names, CA type, and a strict DER parser for the Intel SGX extension (1.2.840.113741.1.13.1). */
#include "dcap.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "buf.h"

/* DER contents of OID 1.2.840.113741.1.13.1; sub-OIDs append one or two arcs (all < 128). */
static const uint8_t sgx_ext_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
#define SGX_OID_LEN sizeof(sgx_ext_oid)

#define TAG_BOOLEAN 0x01
#define TAG_INTEGER 0x02
#define TAG_OCTET_STRING 0x04
#define TAG_OID 0x06
#define TAG_ENUMERATED 0x0a
#define TAG_SEQUENCE 0x30

/* The extension is ~550 bytes; anything near this is not a PCK certificate. */
#define PCK_EXT_MAX 4096

static err_t fail(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	return e;
}

/*
 * One DER TLV with the expected tag; `val` becomes a view of its contents.
 * Strict DER: single-byte tags only, definite minimal lengths up to 2 bytes.
 */
static err_t der_get(struct buf_reader *r, uint8_t want, struct buf_reader *val)
{
	uint8_t tag, b0, b1, b2;
	size_t len;

	if (buf_get_u8(r, &tag) || tag != want || buf_get_u8(r, &b0))
		return ERR_ATTEST_PCK_EXTENSION;
	if (b0 < 0x80) {
		len = b0;
	} else if (b0 == 0x81) {
		if (buf_get_u8(r, &b1) || b1 < 0x80)
			return ERR_ATTEST_PCK_EXTENSION;
		len = b1;
	} else if (b0 == 0x82) {
		if (buf_get_u8(r, &b1) || buf_get_u8(r, &b2) || b1 == 0)
			return ERR_ATTEST_PCK_EXTENSION;
		len = (size_t)b1 << 8 | b2;
	} else {
		return ERR_ATTEST_PCK_EXTENSION;
	}
	if (buf_get_sub(r, len, val))
		return ERR_ATTEST_PCK_EXTENSION;
	return ERR_OK;
}

/* A non-negative DER INTEGER (minimal encoding) no larger than max. */
static err_t der_uint(struct buf_reader *r, uint8_t tag, uint32_t max, uint32_t *out)
{
	struct buf_reader v;
	uint32_t x = 0;

	if (der_get(r, tag, &v) || v.len == 0 || v.len > 4)
		return ERR_ATTEST_PCK_EXTENSION;
	if (v.p[0] & 0x80)                       /* negative */
		return ERR_ATTEST_PCK_EXTENSION;
	if (v.len > 1 && v.p[0] == 0 && !(v.p[1] & 0x80))  /* not minimal */
		return ERR_ATTEST_PCK_EXTENSION;
	for (size_t i = 0; i < v.len; i++)
		x = x << 8 | v.p[i];
	if (x > max)
		return ERR_ATTEST_PCK_EXTENSION;
	*out = x;
	return ERR_OK;
}

static err_t der_octets(struct buf_reader *r, uint8_t *out, size_t n)
{
	struct buf_reader v;

	if (der_get(r, TAG_OCTET_STRING, &v) || v.len != n)
		return ERR_ATTEST_PCK_EXTENSION;
	memcpy(out, v.p, n);
	return ERR_OK;
}

/*
 * The arc after the SGX extension OID: 1 for ".1", or (2, k) for ".2.k".
 * Returns the number of extra arcs (1 or 2), or 0 for an OID outside the
 * extension's namespace.
 */
static int sub_arcs(const struct buf_reader *oid, uint8_t *a1, uint8_t *a2)
{
	if (oid->len < SGX_OID_LEN + 1 || oid->len > SGX_OID_LEN + 2 ||
	    memcmp(oid->p, sgx_ext_oid, SGX_OID_LEN) != 0)
		return 0;
	for (size_t i = SGX_OID_LEN; i < oid->len; i++)
		if (oid->p[i] & 0x80)            /* multi-byte arc: none of ours */
			return 0;
	*a1 = oid->p[SGX_OID_LEN];
	*a2 = oid->len == SGX_OID_LEN + 2 ? oid->p[SGX_OID_LEN + 1] : 0;
	return (int)(oid->len - SGX_OID_LEN);
}

/* The TCB SEQUENCE: exactly the 18 entries .2.1 .. .2.18, each once, any order. */
static err_t parse_tcb(struct buf_reader *r, struct dcap_pck_info *o, const char **detail)
{
	uint32_t seen = 0;

	while (buf_remaining(r)) {
		struct buf_reader item, oid;
		uint8_t a1, a2;
		uint32_t v;

		if (der_get(r, TAG_SEQUENCE, &item) || der_get(&item, TAG_OID, &oid))
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: malformed TCB entry");
		if (sub_arcs(&oid, &a1, &a2) != 2 || a1 != 2 || a2 < 1 || a2 > 18)
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: unexpected OID in TCB");
		if (seen & (1u << a2))
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: duplicate TCB entry");
		seen |= 1u << a2;
		if (a2 <= 16) {
			if (der_uint(&item, TAG_INTEGER, 255, &v))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad TCB component");
			o->comp[a2 - 1] = (uint8_t)v;
		} else if (a2 == 17) {
			if (der_uint(&item, TAG_INTEGER, 65535, &v))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad PCESVN");
			o->pcesvn = (uint16_t)v;
		} else if (der_octets(&item, o->cpusvn, 16)) {
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad CPUSVN");
		}
		if (buf_expect_end(&item))
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: trailing bytes in TCB entry");
	}
	if (seen != 0x7fffeu)
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: TCB entries missing");
	/*
	 * tcbType 0 (the only one defined) makes the components the CPUSVN
	 * bytes. Intel matches on the components, dcap-qvl on CPUSVN; insisting
	 * they agree means both rules see the same platform.
	 */
	if (memcmp(o->comp, o->cpusvn, 16) != 0)
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: CPUSVN differs from the TCB components");
	return ERR_OK;
}

enum { SEEN_PPID = 1 << 1, SEEN_TCB = 1 << 2, SEEN_PCEID = 1 << 3, SEEN_FMSPC = 1 << 4, SEEN_TYPE = 1 << 5,
       SEEN_PIID = 1 << 6, SEEN_CONFIG = 1 << 7 };

err_t dcap_pck_ext_parse(const uint8_t *der, size_t len, struct dcap_pck_info *o, const char **detail)
{
	struct buf_reader r, seq;
	unsigned seen = 0;
	err_t err;

	memset(o, 0, sizeof(*o));
	if (!der || len > PCK_EXT_MAX)
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: too large");
	buf_reader_init(&r, der, len);
	if (der_get(&r, TAG_SEQUENCE, &seq) || buf_expect_end(&r))
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: not one SEQUENCE");

	while (buf_remaining(&seq)) {
		struct buf_reader item, oid, skip;
		uint8_t a1 = 0, a2 = 0;
		unsigned bit;
		uint32_t v;

		if (der_get(&seq, TAG_SEQUENCE, &item) || der_get(&item, TAG_OID, &oid))
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: malformed entry");
		if (sub_arcs(&oid, &a1, &a2) != 1 || a1 < 1 || a1 > 7) {
			/* Not one of ours: Intel may add entries; skip one well-formed value. */
			uint8_t tag;

			if (buf_remaining(&item) < 2)
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: entry without a value");
			tag = item.p[item.pos];
			if ((tag & 0x1f) == 0x1f || der_get(&item, tag, &skip) || buf_expect_end(&item))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: malformed unknown entry");
			continue;
		}
		bit = 1u << a1;
		if (seen & bit)
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: duplicate entry");
		seen |= bit;
		switch (a1) {
		case 1:
			if (der_octets(&item, o->ppid, 16))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad PPID");
			break;
		case 2:
			if (der_get(&item, TAG_SEQUENCE, &skip))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: TCB is not a SEQUENCE");
			err = parse_tcb(&skip, o, detail);
			if (err)
				return err;
			break;
		case 3:
			if (der_octets(&item, o->pceid, 2))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad PCE-ID");
			break;
		case 4:
			if (der_octets(&item, o->fmspc, 6))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad FMSPC");
			break;
		case 5:
			if (der_uint(&item, TAG_ENUMERATED, 255, &v))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad SGX type");
			if (v > 2)
				return fail(detail, ERR_ATTEST_UNKNOWN_VALUE, "PCK extension: unknown SGX type");
			o->sgx_type = (uint8_t)v;
			break;
		case 6:
			if (der_octets(&item, o->platform_instance_id, 16))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad platform instance ID");
			o->has_platform_instance_id = 1;
			break;
		default: /* 7: configuration flags; informational, but must be well-formed */
			if (der_get(&item, TAG_SEQUENCE, &skip))
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad configuration");
			while (buf_remaining(&skip)) {
				struct buf_reader c, coid, cval;

				if (der_get(&skip, TAG_SEQUENCE, &c) || der_get(&c, TAG_OID, &coid) ||
				    der_get(&c, TAG_BOOLEAN, &cval) || cval.len != 1 || buf_expect_end(&c))
					return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: bad configuration");
			}
			break;
		}
		if (buf_expect_end(&item))
			return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: trailing bytes in an entry");
	}
	if ((seen & (SEEN_PPID | SEEN_TCB | SEEN_PCEID | SEEN_FMSPC | SEEN_TYPE)) !=
	    (SEEN_PPID | SEEN_TCB | SEEN_PCEID | SEEN_FMSPC | SEEN_TYPE))
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK extension: required entry missing");
	return ERR_OK;
}

/* The single CN of a name, exactly equal to `want` (no prefix matches, no embedded NULs). */
static int cn_is(const X509_NAME *name, const char *want)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	size_t n = strlen(want);

	if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return 0;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return s && (size_t)ASN1_STRING_length(s) == n && memcmp(ASN1_STRING_get0_data(s), want, n) == 0;
}

int dcap_pck_ca_type(const X509_NAME *issuer)
{
	if (cn_is(issuer, "Intel SGX PCK Platform CA"))
		return 1;
	if (cn_is(issuer, "Intel SGX PCK Processor CA"))
		return 0;
	return -1;
}

err_t dcap_pck_cert_info(X509 *leaf, struct dcap_pck_info *o, const char **detail)
{
	const X509_EXTENSION *found = NULL;
	const ASN1_OCTET_STRING *val;
	int ca, n;
	err_t err;

	memset(o, 0, sizeof(*o));
	if (!cn_is(X509_get_subject_name(leaf), "Intel SGX PCK Certificate"))
		return fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK leaf subject CN is not \"Intel SGX PCK Certificate\"");
	ca = dcap_pck_ca_type(X509_get_issuer_name(leaf));
	if (ca < 0)
		return fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK leaf issuer is neither PCK Platform CA nor PCK Processor CA");

	n = X509_get_ext_count(leaf);
	for (int i = 0; i < n; i++) {
		const X509_EXTENSION *ext = X509_get_ext(leaf, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object((X509_EXTENSION *)UNCONST(ext));

		if (OBJ_length(obj) == SGX_OID_LEN && memcmp(OBJ_get0_data(obj), sgx_ext_oid, SGX_OID_LEN) == 0) {
			if (found)
				return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK leaf has the SGX extension twice");
			found = ext;
		}
	}
	if (!found)
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK leaf has no SGX extension");
	val = X509_EXTENSION_get_data((X509_EXTENSION *)UNCONST(found));
	if (!val)
		return fail(detail, ERR_ATTEST_PCK_EXTENSION, "PCK leaf SGX extension has no value");
	err = dcap_pck_ext_parse(ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val), o, detail);
	if (err)
		return err;
	o->ca_platform = ca;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* A PCK leaf certificate without OpenSSL (the cached path's first-seen platform).                */

/* AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2, parameters absent), as DER. */
static const uint8_t alg_ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
/* SubjectPublicKeyInfo of a P-256 key up to the point's x||y: id-ecPublicKey, prime256v1, uncompressed. */
static const uint8_t spki_p256_prefix[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
};
static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_basic_constraints[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_key_usage[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_akid[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_skid[] = { 0x55, 0x1d, 0x0e };
static const uint8_t oid_crl_dp[] = { 0x55, 0x1d, 0x1f };

#define TAG_BIT_STRING 0x03
#define TAG_UTF8 0x0c
#define TAG_PRINTABLE 0x13
#define TAG_UTCTIME 0x17
#define TAG_GENTIME 0x18
#define TAG_SET 0x31
#define TAG_CTX0 0xa0
#define TAG_CTX3 0xa3
#define PCK_LEAF_MAX 8192

static int view_is(const struct buf_reader *v, const uint8_t *want, size_t n)
{
	return v->len == n && memcmp(v->p, want, n) == 0;
}

/* DER OBJECT IDENTIFIER contents: non-empty, every arc minimal, the last one terminated. */
static int oid_ok(const struct buf_reader *oid)
{
	if (oid->len == 0 || (oid->p[oid->len - 1] & 0x80))
		return 0;
	for (size_t i = 0; i < oid->len; i++)
		if (oid->p[i] == 0x80 && (i == 0 || !(oid->p[i - 1] & 0x80)))
			return 0;   /* an arc starting with 0x80 is not minimal */
	return 1;
}

/* The next TLV must be exactly these DER bytes. */
static err_t der_expect(struct buf_reader *r, const uint8_t *want, size_t n)
{
	const uint8_t *p;

	if (buf_get_view(r, n, &p) || memcmp(p, want, n) != 0)
		return ERR_ATTEST_CERT_CHAIN;
	return ERR_OK;
}

/* UTCTime YYMMDDHHMMSSZ (RFC 5280: 19YY for YY >= 50) or GeneralizedTime YYYYMMDDHHMMSSZ. */
static err_t der_time(struct buf_reader *r, uint64_t *out)
{
	struct buf_reader v;
	char iso[20];
	const char *d;
	uint8_t tag;

	if (buf_remaining(r) < 1)
		return ERR_ATTEST_CERT_CHAIN;
	tag = r->p[r->pos];
	if (der_get(r, tag, &v) || (tag != TAG_UTCTIME && tag != TAG_GENTIME))
		return ERR_ATTEST_CERT_CHAIN;
	d = (const char *)v.p;
	/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
	if (tag == TAG_GENTIME && v.len == 15 && memcmp(d, "2050", 4) < 0)
		return ERR_ATTEST_CERT_CHAIN;
	if (tag == TAG_UTCTIME) {
		if (v.len != 13 || d[0] < '0' || d[0] > '9')
			return ERR_ATTEST_CERT_CHAIN;
		iso[0] = d[0] >= '5' ? '1' : '2';
		iso[1] = d[0] >= '5' ? '9' : '0';
		memcpy(iso + 2, d, 2);
		d += 2;
	} else {
		if (v.len != 15)
			return ERR_ATTEST_CERT_CHAIN;
		memcpy(iso, d, 4);
		d += 4;
	}
	if (d[10] != 'Z')
		return ERR_ATTEST_CERT_CHAIN;
	/* Reuse the strict RFC 3339 parser: YYYY-MM-DDTHH:MM:SSZ. */
	iso[4] = '-';
	memcpy(iso + 5, d, 2);
	iso[7] = '-';
	memcpy(iso + 8, d + 2, 2);
	iso[10] = 'T';
	memcpy(iso + 11, d + 4, 2);
	iso[13] = ':';
	memcpy(iso + 14, d + 6, 2);
	iso[16] = ':';
	memcpy(iso + 17, d + 8, 2);
	iso[19] = 'Z';
	return dcap_time_parse(iso, sizeof(iso), out) ? ERR_ATTEST_CERT_CHAIN : ERR_OK;
}

/* A DER INTEGER holding an ECDSA scalar: positive, minimal, at most 32 bytes of value; left-padded into out. */
static err_t der_scalar(struct buf_reader *r, uint8_t out[32])
{
	struct buf_reader v;
	const uint8_t *p;
	size_t n;

	if (der_get(r, TAG_INTEGER, &v) || v.len == 0 || (v.p[0] & 0x80))
		return ERR_ATTEST_CERT_CHAIN;
	p = v.p;
	n = v.len;
	if (n > 1 && p[0] == 0) {
		if (!(p[1] & 0x80))
			return ERR_ATTEST_CERT_CHAIN;   /* not minimal */
		p++;
		n--;
	}
	if (n > 32)
		return ERR_ATTEST_CERT_CHAIN;
	memset(out, 0, 32 - n);
	memcpy(out + 32 - n, p, n);
	return ERR_OK;
}

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* PrintableString's alphabet (X.680). */
static int printable_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(" '()+,-./:=?", c)) || c == 0)
			return 0;
	}
	return 1;
}

/*
 * A Name (RDNSequence: SEQUENCE of non-empty SETs of SEQUENCE{OID, value}).
 * Values must be UTF8String (valid UTF-8) or PrintableString, as in Intel's
 * certificates; OpenSSL would refuse the malformed ones anyway.
 * With `want`, it must hold exactly one CN, equal to `want` (UTF8String or
 * PrintableString); without, only the structure is checked.
 */
static err_t name_cn_is(struct buf_reader name, const char *want)
{
	size_t n = want ? strlen(want) : 0;
	int found = 0;

	while (buf_remaining(&name)) {
		struct buf_reader set, atv, oid, val;
		uint8_t tag;

		if (der_get(&name, TAG_SET, &set) || buf_remaining(&set) == 0)
			return ERR_ATTEST_CERT_CHAIN;
		while (buf_remaining(&set)) {
			if (der_get(&set, TAG_SEQUENCE, &atv) || der_get(&atv, TAG_OID, &oid) || !oid_ok(&oid) ||
			    buf_remaining(&atv) < 2)
				return ERR_ATTEST_CERT_CHAIN;
			tag = atv.p[atv.pos];
			if ((tag != TAG_UTF8 && tag != TAG_PRINTABLE) || der_get(&atv, tag, &val) || buf_expect_end(&atv) ||
			    !(tag == TAG_UTF8 ? utf8_ok(val.p, val.len) : printable_ok(val.p, val.len)))
				return ERR_ATTEST_CERT_CHAIN;
			if (!want || !view_is(&oid, oid_cn, sizeof(oid_cn)))
				continue;
			if (found++ || !view_is(&val, (const uint8_t *)want, n))
				return ERR_ATTEST_CERT_CHAIN;
		}
	}
	return !want || found == 1 ? ERR_OK : ERR_ATTEST_CERT_CHAIN;
}

/* Extensions: each OID once; only basicConstraints and keyUsage may be critical; the leaf is not a CA. */
static err_t parse_leaf_exts(struct buf_reader *r, struct dcap_pck_leaf *o)
{
	struct buf_reader exts;
	const uint8_t *seen[16];
	size_t seen_len[16], n_seen = 0;

	if (der_get(r, TAG_SEQUENCE, &exts) || buf_remaining(&exts) == 0)
		return ERR_ATTEST_CERT_CHAIN;
	while (buf_remaining(&exts)) {
		struct buf_reader ext, oid, val, crit;
		int critical = 0;

		if (der_get(&exts, TAG_SEQUENCE, &ext) || der_get(&ext, TAG_OID, &oid) || !oid_ok(&oid))
			return ERR_ATTEST_CERT_CHAIN;
		if (buf_remaining(&ext) && ext.p[ext.pos] == TAG_BOOLEAN) {
			/* DER: critical is present only when TRUE (0xff). */
			if (der_get(&ext, TAG_BOOLEAN, &crit) || crit.len != 1 || crit.p[0] != 0xff)
				return ERR_ATTEST_CERT_CHAIN;
			critical = 1;
		}
		if (der_get(&ext, TAG_OCTET_STRING, &val) || buf_expect_end(&ext))
			return ERR_ATTEST_CERT_CHAIN;
		for (size_t i = 0; i < n_seen; i++)
			if (seen_len[i] == oid.len && memcmp(seen[i], oid.p, oid.len) == 0)
				return ERR_ATTEST_CERT_CHAIN;
		if (n_seen == ARRAY_LEN(seen))
			return ERR_ATTEST_CERT_CHAIN;
		seen[n_seen] = oid.p;
		seen_len[n_seen++] = oid.len;

		if (view_is(&oid, oid_basic_constraints, sizeof(oid_basic_constraints))) {
			struct buf_reader bc;

			if (der_get(&val, TAG_SEQUENCE, &bc) || buf_expect_end(&val))
				return ERR_ATTEST_CERT_CHAIN;
			/*
			 * cA is DEFAULT FALSE, so DER omits it for a leaf: anything in
			 * here (cA TRUE, or a pathLen without cA) is not a PCK leaf.
			 */
			if (buf_expect_end(&bc))
				return ERR_ATTEST_CERT_CHAIN;
		} else if (view_is(&oid, oid_key_usage, sizeof(oid_key_usage))) {
			struct buf_reader ku;

			/* The key signs QE reports: digitalSignature (bit 0) required; keyCertSign (bit 5) is a CA's. */
			if (der_get(&val, TAG_BIT_STRING, &ku) || buf_expect_end(&val) || ku.len < 2 || ku.p[0] > 7 ||
			    !(ku.p[1] & 0x80) || (ku.p[1] & 0x04))
				return ERR_ATTEST_CERT_CHAIN;
		} else if (view_is(&oid, oid_akid, sizeof(oid_akid))) {
			struct buf_reader ak, kid;

			if (critical || der_get(&val, TAG_SEQUENCE, &ak) || buf_expect_end(&val))
				return ERR_ATTEST_CERT_CHAIN;
			/* keyIdentifier only: issuer/serial forms would need checks this path does not make. */
			if (der_get(&ak, 0x80, &kid) || kid.len == 0 || buf_expect_end(&ak))
				return ERR_ATTEST_CERT_CHAIN;
			o->akid = kid.p;
			o->akid_len = kid.len;
		} else if (oid.len == SGX_OID_LEN && memcmp(oid.p, sgx_ext_oid, SGX_OID_LEN) == 0) {
			if (critical)
				return ERR_ATTEST_CERT_CHAIN;
			o->sgx_ext = val.p;
			o->sgx_ext_len = val.len;
		} else if (view_is(&oid, oid_skid, sizeof(oid_skid))) {
			struct buf_reader kid;

			if (critical || der_get(&val, TAG_OCTET_STRING, &kid) || kid.len == 0 || buf_expect_end(&val))
				return ERR_ATTEST_CERT_CHAIN;
		} else if (view_is(&oid, oid_crl_dp, sizeof(oid_crl_dp))) {
			/* Informational here, but it must parse as OpenSSL parses it (an invalid one fails its chain check). */
			const uint8_t *q = val.p;
			CRL_DIST_POINTS *dp = d2i_CRL_DIST_POINTS(NULL, &q, (long)val.len);
			int ok = dp && q == val.p + val.len;

			CRL_DIST_POINTS_free(dp);
			ERR_clear_error();
			if (critical || !ok)
				return ERR_ATTEST_CERT_CHAIN;
		} else {
			/* Anything else is for the OpenSSL path, which knows every extension it accepts. */
			return ERR_ATTEST_CERT_CHAIN;
		}
	}
	/* X509_STRICT wants an AKID on every certificate that is not self-signed. */
	return o->sgx_ext && o->akid ? ERR_OK : ERR_ATTEST_CERT_CHAIN;
}

err_t dcap_pck_leaf_parse(const uint8_t *der, size_t len, struct dcap_pck_leaf *o)
{
	struct buf_reader r, cert, tbs, v, sig, name, validity;
	const uint8_t *mark;
	uint32_t ver;

	memset(o, 0, sizeof(*o));
	if (!der || len > PCK_LEAF_MAX)
		return ERR_ATTEST_CERT_CHAIN;
	buf_reader_init(&r, der, len);
	if (der_get(&r, TAG_SEQUENCE, &cert) || buf_expect_end(&r))
		return ERR_ATTEST_CERT_CHAIN;
	mark = buf_cursor(&cert);
	if (der_get(&cert, TAG_SEQUENCE, &tbs))
		return ERR_ATTEST_CERT_CHAIN;
	o->tbs = mark;
	o->tbs_len = (size_t)(buf_cursor(&cert) - mark);
	if (der_expect(&cert, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256)) || der_get(&cert, TAG_BIT_STRING, &v) ||
	    buf_expect_end(&cert))
		return ERR_ATTEST_CERT_CHAIN;
	/* signatureValue: no unused bits, then ECDSA-Sig-Value { r, s } and nothing else. */
	if (v.len < 1 || v.p[0] != 0)
		return ERR_ATTEST_CERT_CHAIN;
	v.pos = 1;
	if (der_get(&v, TAG_SEQUENCE, &sig) || buf_expect_end(&v) || der_scalar(&sig, o->sig) ||
	    der_scalar(&sig, o->sig + 32) || buf_expect_end(&sig))
		return ERR_ATTEST_CERT_CHAIN;

	/* tbsCertificate: v3, serial, algorithm, issuer, validity, subject, key, extensions; no unique IDs. */
	if (der_get(&tbs, TAG_CTX0, &v) || der_uint(&v, TAG_INTEGER, 2, &ver) || ver != 2 || buf_expect_end(&v))
		return ERR_ATTEST_CERT_CHAIN;
	mark = buf_cursor(&tbs);
	/* At most 20 octets of value (RFC 5280), plus the sign octet Intel's 20-byte serials need. */
	if (der_get(&tbs, TAG_INTEGER, &v) || v.len == 0 || v.len > 21 || (v.p[0] & 0x80) ||
	    (v.len > 1 && v.p[0] == 0 && !(v.p[1] & 0x80)))
		return ERR_ATTEST_CERT_CHAIN;
	o->serial_tlv = mark;
	o->serial_tlv_len = (size_t)(buf_cursor(&tbs) - mark);
	if (der_expect(&tbs, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256)))
		return ERR_ATTEST_CERT_CHAIN;
	mark = buf_cursor(&tbs);
	if (der_get(&tbs, TAG_SEQUENCE, &name) || buf_remaining(&name) == 0 || name_cn_is(name, NULL))
		return ERR_ATTEST_CERT_CHAIN;
	o->issuer = mark;
	o->issuer_len = (size_t)(buf_cursor(&tbs) - mark);
	if (der_get(&tbs, TAG_SEQUENCE, &validity) || der_time(&validity, &o->not_before) ||
	    der_time(&validity, &o->not_after) || buf_expect_end(&validity) || o->not_after < o->not_before)
		return ERR_ATTEST_CERT_CHAIN;
	if (der_get(&tbs, TAG_SEQUENCE, &name) || name_cn_is(name, "Intel SGX PCK Certificate"))
		return ERR_ATTEST_CERT_CHAIN;
	if (der_expect(&tbs, spki_p256_prefix, sizeof(spki_p256_prefix)) || buf_get_copy(&tbs, o->pubkey, 64))
		return ERR_ATTEST_CERT_CHAIN;
	if (der_get(&tbs, TAG_CTX3, &v) || parse_leaf_exts(&v, o) || buf_expect_end(&v) || buf_expect_end(&tbs))
		return ERR_ATTEST_CERT_CHAIN;
	return ERR_OK;
}

int dcap_pck_leaf_ca_type(const struct dcap_pck_leaf *leaf)
{
	struct buf_reader r, name;

	if (!leaf || !leaf->issuer)
		return -1;
	buf_reader_init(&r, leaf->issuer, leaf->issuer_len);
	if (der_get(&r, TAG_SEQUENCE, &name) || buf_expect_end(&r))
		return -1;
	if (name_cn_is(name, "Intel SGX PCK Platform CA") == ERR_OK)
		return 1;
	if (name_cn_is(name, "Intel SGX PCK Processor CA") == ERR_OK)
		return 0;
	return -1;
}
