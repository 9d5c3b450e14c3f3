/* SPDX-License-Identifier: Apache-2.0 */
/* PCK leaf certificate: names, CA type, and a strict DER parser for the Intel SGX extension (1.2.840.113741.1.13.1). */
#include "dcap.h"

#include <string.h>

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
