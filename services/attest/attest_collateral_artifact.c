/* SPDX-License-Identifier: Apache-2.0 */
/* Pure collateral helpers: key names, artefact shape checks and validity windows, dcap-qvl JSON in and out. */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "attest_collateral.h"
#include "crypto.h"
#include "dcap.h"
#include "enc.h"
#include "json.h"

#define MAX_ARTEFACT ((size_t)4 << 20)
#define MAX_CHAIN ((size_t)64 << 10)
#define MAX_CHAIN_CERTS ATTEST_COLL_CHAIN_MAX
#define CERTS_MEMO 16

static const char *const kind_names[ATTEST_COLL_KIND_COUNT] = {
	[ATTEST_COLL_TDX_TCB] = "tdx_tcb",
	[ATTEST_COLL_SGX_TCB] = "sgx_tcb",
	[ATTEST_COLL_TDX_QE_IDENTITY] = "tdx_qe_identity",
	[ATTEST_COLL_SGX_QE_IDENTITY] = "sgx_qe_identity",
	[ATTEST_COLL_PCK_CRL_PROCESSOR] = "pck_crl_processor",
	[ATTEST_COLL_PCK_CRL_PLATFORM] = "pck_crl_platform",
	[ATTEST_COLL_ROOT_CA_CRL] = "root_ca_crl",
	[ATTEST_COLL_AMD_CERT_CHAIN] = "amd_cert_chain",
	[ATTEST_COLL_AMD_VCEK] = "amd_vcek",
	[ATTEST_COLL_AMD_CRL] = "amd_crl",
};

static const char *const amd_products[] = { "Milan", "Genoa", "Turin" };

const char *attest_coll_kind_name(enum attest_coll_kind k)
{
	return (unsigned)k < ATTEST_COLL_KIND_COUNT ? kind_names[k] : NULL;
}

static int is_tcb_kind(enum attest_coll_kind k)
{
	return k == ATTEST_COLL_TDX_TCB || k == ATTEST_COLL_SGX_TCB;
}

static int is_amd_kind(enum attest_coll_kind k)
{
	return k == ATTEST_COLL_AMD_CERT_CHAIN || k == ATTEST_COLL_AMD_VCEK || k == ATTEST_COLL_AMD_CRL;
}

/* Kinds whose upstream answer carries an issuer-chain header. */
static int has_chain(enum attest_coll_kind k)
{
	return k <= ATTEST_COLL_PCK_CRL_PLATFORM;
}

static int product_valid(const char *p)
{
	for (size_t i = 0; i < ARRAY_LEN(amd_products); i++)
		if (strcmp(p, amd_products[i]) == 0)
			return 1;
	return 0;
}

int attest_coll_key_valid(const struct attest_coll_key *k)
{
	if (!k || (unsigned)k->kind >= ATTEST_COLL_KIND_COUNT)
		return 0;
	if (!is_amd_kind(k->kind))
		return 1;
	if (memchr(k->product, 0, sizeof(k->product)) == NULL || !product_valid(k->product))
		return 0;
	if (k->kind == ATTEST_COLL_AMD_VCEK)
		return k->hwid_len == (strcmp(k->product, "Turin") == 0 ? 8u : 64u);
	return 1;
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	uint8_t *o = buf_reserve(w, 2 * n);

	if (!o)
		return;
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = (uint8_t)digits[p[i] >> 4];
		o[2 * i + 1] = (uint8_t)digits[p[i] & 15];
	}
	buf_commit(w, 2 * n);
}

err_t attest_coll_key_format(const struct attest_coll_key *k, char *out, size_t cap)
{
	struct buf_writer w;

	if (!attest_coll_key_valid(k))
		return ERR_INVALID_ARG;
	buf_writer_init_fixed(&w, out, cap);
	buf_put_str(&w, kind_names[k->kind]);
	if (is_tcb_kind(k->kind)) {
		buf_put_u8(&w, '/');
		put_hex(&w, k->fmspc, sizeof(k->fmspc), 1);
	} else if (is_amd_kind(k->kind)) {
		buf_put_u8(&w, '/');
		buf_put_str(&w, k->product);
		if (k->kind == ATTEST_COLL_AMD_VCEK) {
			buf_put_u8(&w, '/');
			put_hex(&w, k->hwid, k->hwid_len, 0);
			buf_printf(&w, "/%016llx", (unsigned long long)k->reported_tcb);
		}
	}
	return buf_cstr(&w) ? ERR_OK : ERR_PROTO_TOO_LARGE;
}

/* Strict hex of exactly 2*n digits; lowercase only when `lower_only`. */
static int hex_exact(const char *s, size_t len, uint8_t *out, size_t n, int lower_only)
{
	size_t got = 0;

	if (len != 2 * n)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (lower_only && s[i] >= 'A' && s[i] <= 'F')
			return 0;
	return hex_decode(out, n, &got, s, len, 0) == ERR_OK && got == n;
}

err_t attest_coll_key_parse(const char *s, size_t len, struct attest_coll_key *k)
{
	const char *slash = memchr(s, '/', len);
	size_t head = slash ? (size_t)(slash - s) : len;
	const char *rest = slash ? slash + 1 : NULL;
	size_t rest_len = slash ? len - head - 1 : 0;

	memset(k, 0, sizeof(*k));
	k->kind = ATTEST_COLL_KIND_COUNT;
	for (unsigned i = 0; i < ATTEST_COLL_KIND_COUNT; i++)
		if (strlen(kind_names[i]) == head && memcmp(s, kind_names[i], head) == 0)
			k->kind = (enum attest_coll_kind)i;
	if (k->kind == ATTEST_COLL_KIND_COUNT)
		return ERR_PROTO_MALFORMED;
	if (is_tcb_kind(k->kind))
		return rest && hex_exact(rest, rest_len, k->fmspc, sizeof(k->fmspc), 0) ? ERR_OK : ERR_PROTO_MALFORMED;
	if (!is_amd_kind(k->kind))
		return rest ? ERR_PROTO_MALFORMED : ERR_OK;
	if (!rest)
		return ERR_PROTO_MALFORMED;
	{
		const char *s2 = memchr(rest, '/', rest_len);
		size_t plen = s2 ? (size_t)(s2 - rest) : rest_len;
		/* A NUL would end the name early for product_valid and leave bytes after it in the key. */
		if (plen == 0 || plen >= sizeof(k->product) || memchr(rest, 0, plen) != NULL)
			return ERR_PROTO_MALFORMED;
		memcpy(k->product, rest, plen);
		if (!product_valid(k->product))
			return ERR_PROTO_MALFORMED;
		if (k->kind != ATTEST_COLL_AMD_VCEK)
			return s2 ? ERR_PROTO_MALFORMED : ERR_OK;
		if (!s2)
			return ERR_PROTO_MALFORMED;
		rest_len -= plen + 1;
		rest = s2 + 1;
	}
	{
		const char *s3 = memchr(rest, '/', rest_len);
		size_t hlen = s3 ? (size_t)(s3 - rest) : 0;
		uint8_t tcb[8];
		size_t want = strcmp(k->product, "Turin") == 0 ? 8u : 64u;
		if (!s3 || !hex_exact(rest, hlen, k->hwid, want, 1))
			return ERR_PROTO_MALFORMED;
		k->hwid_len = want;
		if (!hex_exact(s3 + 1, rest_len - hlen - 1, tcb, sizeof(tcb), 1))
			return ERR_PROTO_MALFORMED;
		for (size_t i = 0; i < 8; i++)
			k->reported_tcb = k->reported_tcb << 8 | tcb[i];
	}
	return ERR_OK;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int civil_to_unix(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, uint64_t *out)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t days;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59)
		return 0;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return 0;
	days = days_from_civil(y, mo, d);
	*out = (uint64_t)days * 86400u + h * 3600u + mi * 60u + s;
	return 1;
}

static int digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 1;
}

err_t attest_coll_parse_rfc3339(const char *s, size_t len, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	size_t i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return ERR_PROTO_MALFORMED;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return ERR_PROTO_MALFORMED;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return ERR_PROTO_MALFORMED;
	}
	/* Intel writes UTC with 'Z'; an explicit zero offset means the same. Other offsets are not expected. */
	if (!((len - i == 1 && (s[i] == 'Z' || s[i] == 'z')) ||
	      (len - i == 6 && (memcmp(s + i, "+00:00", 6) == 0 || memcmp(s + i, "-00:00", 6) == 0))))
		return ERR_PROTO_MALFORMED;
	return civil_to_unix(y, mo, d, h, mi, sec, out) ? ERR_OK : ERR_PROTO_MALFORMED;
}

static int asn1_time_unix(const ASN1_TIME *t, uint64_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year < 70)
		return 0;
	return civil_to_unix((unsigned)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday,
			     (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec, out);
}

/* ---- URL encoding ---- */

err_t attest_coll_url_decode(const char *s, size_t len, struct buf_writer *out)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (len - i < 3 || (hi = hex_digit_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_digit_value((unsigned char)s[i + 2])) < 0)
				return ERR_PROTO_ENCODING;
			buf_put_u8(out, (uint8_t)(hi << 4 | lo));
			i += 2;
		} else {
			buf_put_u8(out, (uint8_t)s[i]);
		}
	}
	return buf_writer_status(out);
}

void attest_coll_url_encode(const char *s, size_t len, struct buf_writer *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (ch != 0 && strchr("-_.!~*'()", ch) != NULL)) {
			buf_put_u8(out, ch);
			continue;
		}
		buf_put_u8(out, '%');
		buf_put_u8(out, (uint8_t)hex[ch >> 4]);
		buf_put_u8(out, (uint8_t)hex[ch & 15]);
	}
}

/* ---- X.509 helpers ---- */

static X509_CRL *crl_parse_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl;

	if (len == 0 || len > MAX_ARTEFACT)
		return NULL;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	/* Trailing bytes after the DER are not a CRL we understand. */
	if (crl && p != der + len) {
		X509_CRL_free(crl);
		crl = NULL;
	}
	return crl;
}

static int looks_like_pem(const uint8_t *p, size_t n, const char *label)
{
	size_t ll = strlen(label);

	for (size_t i = 0; i + 11 + ll <= n; i++)
		if (memcmp(p + i, "-----BEGIN ", 11) == 0)
			return memcmp(p + i + 11, label, ll) == 0;
	return 0;
}

/* attest_coll_crl_to_der, also handing over the parsed CRL in *crl_out when not NULL (caller frees). */
static err_t crl_from_body(const uint8_t *body, size_t len, X509_CRL **crl_out, uint8_t **der, size_t *der_len)
{
	X509_CRL *crl = NULL;
	uint8_t *tmp = NULL, *o = NULL;
	int n;
	err_t e = ERR_ATTEST_CRL_INVALID;

	*der = NULL;
	*der_len = 0;
	if (len == 0 || len > MAX_ARTEFACT)
		return ERR_ATTEST_CRL_INVALID;
	/* DER starts with 0x30, but so does hex text ("30..."): try DER first, then the text forms. */
	if (body[0] == 0x30)
		crl = crl_parse_der(body, len);
	if (crl) {
		/* DER it is. */
	} else if (looks_like_pem(body, len, "X509 CRL")) {
		BIO *bio = BIO_new_mem_buf(body, (int)len);
		if (!bio) {
			e = ERR_NOMEM;
			goto out;
		}
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		/* A PCCS sends the Root CA CRL as hex text; surrounding blanks or a newline are tolerated. */
		size_t a = 0, b = len, got = 0;
		while (a < b && strchr(" \t\r\n", body[a]))
			a++;
		while (b > a && strchr(" \t\r\n", body[b - 1]))
			b--;
		tmp = malloc((b - a) / 2 + 1);
		if (!tmp) {
			e = ERR_NOMEM;
			goto out;
		}
		if (hex_decode(tmp, (b - a) / 2 + 1, &got, (const char *)body + a, b - a, 0) != ERR_OK)
			goto out;
		crl = crl_parse_der(tmp, got);
	}
	if (!crl)
		goto out;
	n = i2d_X509_CRL(crl, &o);
	if (n <= 0)
		goto out;
	*der = malloc((size_t)n);
	if (!*der) {
		e = ERR_NOMEM;
		goto out;
	}
	memcpy(*der, o, (size_t)n);
	*der_len = (size_t)n;
	if (crl_out) {
		*crl_out = crl;
		crl = NULL;
	}
	e = ERR_OK;
out:
	OPENSSL_free(o);
	free(tmp);
	X509_CRL_free(crl);
	ERR_clear_error();
	return e;
}

err_t attest_coll_crl_to_der(const uint8_t *body, size_t len, uint8_t **der, size_t *der_len)
{
	return crl_from_body(body, len, NULL, der, der_len);
}

/*
 * The window of a CRL crl_from_body parsed. Its DER is that CRL's encoding,
 * which parses back to the same thisUpdate/nextUpdate, so this is what a
 * second parse of the DER would say, without the second parse.
 */
static err_t crl_validity(const X509_CRL *crl, uint64_t *issued, uint64_t *next, const char **detail)
{
	if (!asn1_time_unix(X509_CRL_get0_lastUpdate(crl), issued) ||
	    !asn1_time_unix(X509_CRL_get0_nextUpdate(crl), next)) {
		*detail = "CRL without a usable thisUpdate/nextUpdate";
		return ERR_ATTEST_CRL_INVALID;
	}
	return ERR_OK;
}

/*
 * PEM is ASCII. Refusing anything else keeps a chain byte-exact through the
 * JSON it is written into (cache files, dcap-qvl JSON), where other bytes
 * would not survive (invalid UTF-8 becomes U+FFFD), and keeps NULs out of
 * a text that is also used as a C string.
 */
static int is_pem_text(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (!(ch == '\t' || ch == '\n' || ch == '\r' || (ch >= 0x20 && ch < 0x7f)))
			return 0;
	}
	return 1;
}

static size_t count_pem_blocks(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i + 11 <= n; i++)
		if (memcmp(p + i, "-----BEGIN ", 11) == 0)
			c++;
	return c;
}

/* ---- parsed certificates by DER ---- */

struct certs_entry {
	uint8_t *der;
	size_t len;
	X509 *x;
	uint64_t used;
};

struct attest_coll_certs {
	struct certs_entry e[CERTS_MEMO];
	uint64_t tick;
};

struct attest_coll_certs *attest_coll_certs_new(void)
{
	return calloc(1, sizeof(struct attest_coll_certs));
}

void attest_coll_certs_free(struct attest_coll_certs *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < CERTS_MEMO; i++) {
		free(m->e[i].der);
		X509_free(m->e[i].x);
	}
	free(m);
}

X509 *attest_coll_certs_find(struct attest_coll_certs *m, const uint8_t *der, size_t len)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < CERTS_MEMO; i++) {
		struct certs_entry *e = &m->e[i];
		if (e->x && e->len == len && memcmp(e->der, der, len) == 0 && X509_up_ref(e->x) == 1) {
			e->used = ++m->tick;
			return e->x;
		}
	}
	return NULL;
}

/* Remember `x` under `der` (copied; a reference taken) in a free or the least recently used slot; best effort. */
static void certs_put(struct attest_coll_certs *m, const uint8_t *der, size_t len, X509 *x)
{
	struct certs_entry *slot = NULL;
	uint8_t *copy;

	if (!m || len == 0 || len > MAX_CHAIN)
		return;
	for (size_t i = 0; i < CERTS_MEMO; i++)
		if (!slot || !m->e[i].x || (slot->x && m->e[i].used < slot->used))
			slot = &m->e[i];
	copy = malloc(len);
	if (!copy || X509_up_ref(x) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	free(slot->der);
	X509_free(slot->x);
	slot->der = copy;
	slot->len = len;
	slot->x = x;
	slot->used = ++m->tick;
}

err_t attest_coll_certs_add(struct attest_coll_certs *m, X509 *x)
{
	unsigned char *der = NULL;
	X509 *have;
	int n;

	if (!m || !x)
		return ERR_INVALID_ARG;
	n = i2d_X509(x, &der);
	if (n <= 0)
		return ERR_NOMEM;
	have = attest_coll_certs_find(m, der, (size_t)n);
	if (have)
		X509_free(have);   /* known already: drop the reference the lookup took */
	else
		certs_put(m, der, (size_t)n, x);
	OPENSSL_free(der);
	return ERR_OK;
}

err_t attest_coll_certs_add_intel(struct attest_coll_certs *m)
{
	size_t n = 0;
	const struct attest_der *d = attest_intel_intermediates(&n);

	if (!m)
		return ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++) {
		X509 *x = x509_from_bytes(d[i].der, d[i].len);

		if (!x)
			return ERR_NOMEM;   /* embedded bytes that parsed in every test: only memory can fail here */
		certs_put(m, d[i].der, d[i].len, x);
		X509_free(x);
	}
	return ERR_OK;
}

/*
 * PEM certificates, all of which must parse, at least one and at most
 * MAX_CHAIN_CERTS; the latest notBefore and earliest notAfter among them,
 * and the certificates (references, in order) in certs[]. A block is read as
 * PEM_read_bio_X509 reads it (PEM_bytes_read_bio, then d2i_X509 on the
 * bytes); bytes `memo` knows are not parsed again.
 */
static err_t pem_chain_validity(const char *pem, size_t len, struct attest_coll_certs *memo, uint64_t *not_before,
				uint64_t *not_after, X509 *certs[MAX_CHAIN_CERTS], size_t *count)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	size_t n = 0;
	err_t e = ERR_ATTEST_CERT_CHAIN;

	*not_before = 0;
	*not_after = UINT64_MAX;
	*count = 0;
	if (len == 0 || len > MAX_ARTEFACT)
		return ERR_ATTEST_CERT_CHAIN;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return ERR_NOMEM;
	ERR_clear_error();
	while (PEM_bytes_read_bio(&data, &dlen, NULL, PEM_STRING_X509, bio, NULL, NULL) == 1) {
		uint64_t nb, na;
		if (dlen <= 0)
			goto out;
		x = attest_coll_certs_find(memo, data, (size_t)dlen);
		if (!x) {
			const unsigned char *p = data;
			x = d2i_X509(NULL, &p, dlen);
			if (!x)
				goto out;   /* PEM_read_bio_X509 would have failed here too */
			certs_put(memo, data, (size_t)dlen, x);
		}
		OPENSSL_free(data);
		data = NULL;
		if (n >= MAX_CHAIN_CERTS || !asn1_time_unix(X509_get0_notBefore(x), &nb) ||
		    !asn1_time_unix(X509_get0_notAfter(x), &na))
			goto out;
		*not_before = MAX(*not_before, nb);
		*not_after = MIN(*not_after, na);
		certs[n++] = x;
		x = NULL;
	}
	/* The loop ends at "no more PEM blocks"; anything else is a malformed block. */
	if (n == 0 || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		goto out;
	/* A block OpenSSL skipped (a truncated one, another type) is not part of a chain either. */
	if (count_pem_blocks(pem, len) != n)
		goto out;
	*count = n;
	e = ERR_OK;
out:
	if (e != ERR_OK)
		while (n > 0)
			X509_free(certs[--n]);
	OPENSSL_free(data);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return e;
}

static err_t cert_validity(const uint8_t *body, size_t len, uint8_t **der, size_t *der_len, uint64_t *nb,
			   uint64_t *na)
{
	X509 *x = NULL;
	unsigned char *o = NULL;
	int n;
	err_t e = ERR_ATTEST_CERT_CHAIN;

	if (len == 0 || len > MAX_ARTEFACT)
		return e;
	if (looks_like_pem(body, len, "CERTIFICATE")) {
		BIO *bio = BIO_new_mem_buf(body, (int)len);
		if (!bio)
			return ERR_NOMEM;
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = body;
		x = d2i_X509(NULL, &p, (long)len);
		if (x && p != body + len) {
			X509_free(x);
			x = NULL;
		}
	}
	if (!x || !asn1_time_unix(X509_get0_notBefore(x), nb) || !asn1_time_unix(X509_get0_notAfter(x), na))
		goto out;
	n = i2d_X509(x, &o);
	if (n <= 0)
		goto out;
	*der = malloc((size_t)n);
	if (!*der) {
		e = ERR_NOMEM;
		goto out;
	}
	memcpy(*der, o, (size_t)n);
	*der_len = (size_t)n;
	e = ERR_OK;
out:
	OPENSSL_free(o);
	X509_free(x);
	ERR_clear_error();
	return e;
}

/* ---- Intel JSON artefacts ---- */

static int is_hex_str(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_digit_value((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

/*
 * {"tcbInfo":{...},"signature":"<128 hex>"} or {"enclaveIdentity":...}:
 * find the inner object and the signature, the window, and the identity
 * fields the key pins (FMSPC, id).
 */
static err_t parse_signed_json(struct attest_coll_blob *b, const char **detail)
{
	const int tcb = is_tcb_kind(b->key.kind);
	const err_t fmt = tcb ? ERR_ATTEST_TCB_INFO_FORMAT : ERR_ATTEST_QE_IDENTITY_FORMAT;
	const char *text = (const char *)b->body;
	struct arena a;
	struct json_value *root = NULL;
	const struct json_value *inner, *sig;
	const char *s, *want_id;
	size_t n;
	err_t e;

	arena_init(&a, 8 * b->body_len + ((size_t)64 << 10), 16u << 10);
	e = json_parse(text, b->body_len, NULL, &a, &root, NULL);
	if (e != ERR_OK) {
		*detail = "body is not JSON";
		e = ERR_PROTO_JSON;
		goto out;
	}
	e = fmt;
	inner = json_get(root, tcb ? "tcbInfo" : "enclaveIdentity");
	sig = json_get(root, "signature");
	if (!inner || inner->type != JSON_OBJECT) {
		*detail = tcb ? "no tcbInfo object" : "no enclaveIdentity object";
		goto out;
	}
	if (!sig || sig->type != JSON_STRING || sig->u.str.len != 128 || sig->raw_len != 130 ||
	    !is_hex_str(sig->u.str.s, 128)) {
		*detail = "signature is not 128 hex digits";
		goto out;
	}
	b->inner_off = (size_t)(inner->raw - text);
	b->inner_len = inner->raw_len;
	b->sig_off = (size_t)(sig->raw - text) + 1;
	b->sig_len = 128;
	if (json_get_str(inner, "issueDate", &s, &n) != ERR_OK ||
	    attest_coll_parse_rfc3339(s, n, &b->issued_at) != ERR_OK) {
		*detail = "issueDate missing or malformed";
		goto out;
	}
	if (json_get_str(inner, "nextUpdate", &s, &n) != ERR_OK ||
	    attest_coll_parse_rfc3339(s, n, &b->next_update) != ERR_OK) {
		*detail = "nextUpdate missing or malformed";
		goto out;
	}
	if (tcb) {
		uint8_t fmspc[ATTEST_COLL_FMSPC_LEN];
		if (json_get_str(inner, "fmspc", &s, &n) != ERR_OK || !hex_exact(s, n, fmspc, sizeof(fmspc), 0)) {
			*detail = "fmspc missing or malformed";
			goto out;
		}
		if (memcmp(fmspc, b->key.fmspc, sizeof(fmspc)) != 0) {
			*detail = "TCB info is for another FMSPC";
			goto out;
		}
		want_id = b->key.kind == ATTEST_COLL_TDX_TCB ? "TDX" : "SGX";
	} else {
		want_id = b->key.kind == ATTEST_COLL_TDX_QE_IDENTITY ? "TD_QE" : "QE";
	}
	e = json_get_str(inner, "id", &s, &n);
	if (e == ERR_NOT_FOUND && b->key.kind == ATTEST_COLL_SGX_TCB) {
		/* TCB info v2 (SGX only) has no id. */
	} else if (e != ERR_OK || n != strlen(want_id) || memcmp(s, want_id, n) != 0) {
		*detail = tcb ? "TCB info id does not match the TEE" : "QE identity id does not match the TEE";
		e = fmt;
		goto out;
	}
	e = ERR_OK;
out:
	arena_fini(&a);
	return e;
}

/* ---- blobs ---- */

struct attest_coll_blob *attest_coll_blob_ref(struct attest_coll_blob *b)
{
	if (b)
		b->refs++;
	return b;
}

void attest_coll_blob_unref(struct attest_coll_blob *b)
{
	if (!b || --b->refs > 0)
		return;
	for (size_t i = 0; i < b->ncerts; i++)
		X509_free(b->certs[i]);
	X509_CRL_free(b->crl);
	free(b->body);
	free(b->issuer_chain);
	free(b->der);
	free(b->source);
	free(b);
}

err_t attest_coll_blob_new(const struct attest_coll_key *k, const uint8_t *body, size_t body_len, const char *chain,
			   size_t chain_len, uint64_t fetched_at, const char *source, struct attest_coll_blob **out,
			   const char **detail)
{
	return attest_coll_blob_new_certs(k, body, body_len, chain, chain_len, fetched_at, source, NULL, out, detail);
}

err_t attest_coll_blob_new_certs(const struct attest_coll_key *k, const uint8_t *body, size_t body_len,
				 const char *chain, size_t chain_len, uint64_t fetched_at, const char *source,
				 struct attest_coll_certs *certs, struct attest_coll_blob **out, const char **detail)
{
	struct attest_coll_blob *b = NULL;
	X509_CRL *crl = NULL;
	uint64_t nb = 0, na = 0;
	size_t ncerts = 0;
	err_t e;

	*out = NULL;
	*detail = NULL;
	if (!attest_coll_key_valid(k) || (!body && body_len)) {
		*detail = "invalid key";
		return ERR_INVALID_ARG;
	}
	if (body_len == 0 || body_len > MAX_ARTEFACT) {
		*detail = body_len ? "body too large" : "empty body";
		return ERR_PROTO_MALFORMED;
	}
	e = ERR_NOMEM;
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out;
	b->refs = 1;
	b->key = *k;
	b->fetched_at = fetched_at;
	b->body = malloc(body_len + 1);
	b->source = strdup(source ? source : "");
	if (!b->body || !b->source)
		goto out;
	memcpy(b->body, body, body_len);
	b->body[body_len] = 0;
	b->body_len = body_len;

	if (has_chain(k->kind)) {
		if (!chain || chain_len == 0 || chain_len > MAX_CHAIN) {
			*detail = "issuer chain missing";
			e = ERR_ATTEST_CERT_CHAIN;
			goto out;
		}
		if (!is_pem_text(chain, chain_len)) {
			*detail = "issuer chain is not PEM text";
			e = ERR_ATTEST_CERT_CHAIN;
			goto out;
		}
		e = pem_chain_validity(chain, chain_len, certs, &nb, &na, b->certs, &b->ncerts);
		if (e != ERR_OK) {
			if (e != ERR_NOMEM)
				*detail = "issuer chain is not PEM certificates";
			goto out;
		}
		ncerts = b->ncerts;
		if (ncerts < 2) {
			/* Intel's chains are the signer (TCB Signing or PCK CA) and the Root CA. */
			*detail = "issuer chain is a single certificate";
			e = ERR_ATTEST_CERT_CHAIN;
			goto out;
		}
		e = ERR_NOMEM;
		b->issuer_chain = malloc(chain_len + 1);
		if (!b->issuer_chain)
			goto out;
		memcpy(b->issuer_chain, chain, chain_len);
		b->issuer_chain[chain_len] = 0;
		b->chain_len = chain_len;
	}

	switch (k->kind) {
	case ATTEST_COLL_TDX_TCB:
	case ATTEST_COLL_SGX_TCB:
	case ATTEST_COLL_TDX_QE_IDENTITY:
	case ATTEST_COLL_SGX_QE_IDENTITY:
		e = parse_signed_json(b, detail);
		break;
	case ATTEST_COLL_PCK_CRL_PROCESSOR:
	case ATTEST_COLL_PCK_CRL_PLATFORM:
	case ATTEST_COLL_ROOT_CA_CRL:
	case ATTEST_COLL_AMD_CRL:
		e = crl_from_body(b->body, b->body_len, &crl, &b->der, &b->der_len);
		if (e == ERR_OK)
			e = crl_validity(crl, &b->issued_at, &b->next_update, detail);
		if (e == ERR_OK) {
			b->crl = crl;
			crl = NULL;
		}
		else if (e != ERR_NOMEM)
			*detail = "body is not a CRL (DER, PEM or hex)";
		break;
	case ATTEST_COLL_AMD_CERT_CHAIN:
		e = pem_chain_validity((const char *)b->body, b->body_len, certs, &b->issued_at, &b->next_update, b->certs,
				       &b->ncerts);
		ncerts = b->ncerts;
		if (e == ERR_OK && ncerts != 2) {
			*detail = "AMD chain is not ASK + ARK";
			e = ERR_ATTEST_CERT_CHAIN;
		} else if (e != ERR_OK) {
			*detail = "AMD chain is not PEM certificates";
		}
		break;
	case ATTEST_COLL_AMD_VCEK:
		e = cert_validity(b->body, b->body_len, &b->der, &b->der_len, &b->issued_at, &b->next_update);
		if (e != ERR_OK && e != ERR_NOMEM)
			*detail = "VCEK is not a certificate";
		break;
	default:
		e = ERR_INVALID_ARG;
		break;
	}
	if (e != ERR_OK)
		goto out;
	*out = b;
	b = NULL;
out:
	if (e == ERR_NOMEM && !*detail)
		*detail = "out of memory";
	X509_CRL_free(crl);
	attest_coll_blob_unref(b);
	return e;
}

/* ---- dcap-qvl QuoteCollateralV3 ---- */

static void put_hex_lower(struct buf_writer *w, const uint8_t *p, size_t n)
{
	put_hex(w, p, n, 0);
}

static void put_member_str(struct buf_writer *w, const char *name, const char *s, size_t n, int first)
{
	if (!first)
		buf_put_u8(w, ',');
	json_put_string(w, name, strlen(name));
	buf_put_u8(w, ':');
	json_put_string(w, s, n);
}

static void put_member_hex(struct buf_writer *w, const char *name, const uint8_t *p, size_t n)
{
	buf_put_u8(w, ',');
	json_put_string(w, name, strlen(name));
	buf_put_str(w, ":\"");
	put_hex_lower(w, p, n);
	buf_put_u8(w, '"');
}

/* The signature as lowercase hex (upstream may use either case). */
static void put_member_sig(struct buf_writer *w, const char *name, const struct attest_coll_blob *b)
{
	uint8_t sig[64];
	size_t got = 0;

	if (hex_decode(sig, sizeof(sig), &got, (const char *)b->body + b->sig_off, b->sig_len, 0) != ERR_OK ||
	    got != sizeof(sig)) {
		w->err = ERR_PROTO_MALFORMED;
		return;
	}
	put_member_hex(w, name, sig, sizeof(sig));
}

err_t attest_coll_dcap_json(const struct attest_coll_blob *tcb, const struct attest_coll_blob *qe,
			    const struct attest_coll_blob *pck_crl, const struct attest_coll_blob *root_crl,
			    struct buf_writer *out)
{
	if (!tcb || !qe || !pck_crl || !root_crl || !is_tcb_kind(tcb->key.kind) ||
	    (qe->key.kind != ATTEST_COLL_TDX_QE_IDENTITY && qe->key.kind != ATTEST_COLL_SGX_QE_IDENTITY) ||
	    (pck_crl->key.kind != ATTEST_COLL_PCK_CRL_PROCESSOR && pck_crl->key.kind != ATTEST_COLL_PCK_CRL_PLATFORM) ||
	    root_crl->key.kind != ATTEST_COLL_ROOT_CA_CRL || !pck_crl->der || !root_crl->der)
		return ERR_INVALID_ARG;
	buf_put_u8(out, '{');
	put_member_str(out, "pck_crl_issuer_chain", pck_crl->issuer_chain, pck_crl->chain_len, 1);
	put_member_hex(out, "root_ca_crl", root_crl->der, root_crl->der_len);
	put_member_hex(out, "pck_crl", pck_crl->der, pck_crl->der_len);
	put_member_str(out, "tcb_info_issuer_chain", tcb->issuer_chain, tcb->chain_len, 0);
	put_member_str(out, "tcb_info", (const char *)tcb->body + tcb->inner_off, tcb->inner_len, 0);
	put_member_sig(out, "tcb_info_signature", tcb);
	put_member_str(out, "qe_identity_issuer_chain", qe->issuer_chain, qe->chain_len, 0);
	put_member_str(out, "qe_identity", (const char *)qe->body + qe->inner_off, qe->inner_len, 0);
	put_member_sig(out, "qe_identity_signature", qe);
	buf_put_u8(out, '}');
	return buf_writer_status(out);
}

/* A byte field of a dcap-qvl JSON: hex text, or an array of numbers 0..255 (as its JS port writes). */
static err_t get_bytes(const struct json_value *obj, const char *name, struct buf_writer *out)
{
	const struct json_value *v = json_get(obj, name);

	if (!v)
		return ERR_NOT_FOUND;
	if (v->type == JSON_STRING) {
		uint8_t *o;
		size_t got = 0;
		if (v->u.str.len % 2 || !(o = buf_reserve(out, v->u.str.len / 2 + 1)))
			return ERR_PROTO_FIELD_TYPE;
		if (hex_decode(o, v->u.str.len / 2 + 1, &got, v->u.str.s, v->u.str.len, 0) != ERR_OK)
			return ERR_PROTO_FIELD_TYPE;
		buf_commit(out, got);
		return buf_writer_status(out);
	}
	if (v->type == JSON_ARRAY) {
		for (size_t i = 0; i < v->u.arr.n; i++) {
			uint64_t x;
			if (json_to_u64(&v->u.arr.items[i], &x) != ERR_OK || x > 255)
				return ERR_PROTO_FIELD_TYPE;
			buf_put_u8(out, (uint8_t)x);
		}
		return buf_writer_status(out);
	}
	return ERR_PROTO_FIELD_TYPE;
}

/* Which TEE a signed inner JSON (tcbInfo / enclaveIdentity) belongs to, and the FMSPC of a TCB info. */
static err_t probe_inner(const char *inner, size_t len, int tcb, struct attest_coll_key *k, const char **detail)
{
	struct arena a;
	struct json_value *root = NULL;
	const char *s;
	size_t n;
	err_t e;

	arena_init(&a, 8 * len + ((size_t)64 << 10), 16u << 10);
	memset(k, 0, sizeof(*k));
	e = json_parse(inner, len, NULL, &a, &root, NULL);
	if (e != ERR_OK) {
		*detail = tcb ? "tcb_info is not JSON" : "qe_identity is not JSON";
		goto out;
	}
	e = json_get_str(root, "id", &s, &n);
	if (tcb) {
		if (e == ERR_OK && n == 3 && memcmp(s, "TDX", 3) == 0)
			k->kind = ATTEST_COLL_TDX_TCB;
		else if (e == ERR_NOT_FOUND || (e == ERR_OK && n == 3 && memcmp(s, "SGX", 3) == 0))
			k->kind = ATTEST_COLL_SGX_TCB;
		else {
			*detail = "tcb_info id is neither TDX nor SGX";
			e = ERR_ATTEST_TCB_INFO_FORMAT;
			goto out;
		}
		if (json_get_str(root, "fmspc", &s, &n) != ERR_OK || !hex_exact(s, n, k->fmspc, sizeof(k->fmspc), 0)) {
			*detail = "tcb_info fmspc missing or malformed";
			e = ERR_ATTEST_TCB_INFO_FORMAT;
			goto out;
		}
	} else {
		if (e == ERR_OK && n == 5 && memcmp(s, "TD_QE", 5) == 0)
			k->kind = ATTEST_COLL_TDX_QE_IDENTITY;
		else if (e == ERR_OK && n == 2 && memcmp(s, "QE", 2) == 0)
			k->kind = ATTEST_COLL_SGX_QE_IDENTITY;
		else {
			*detail = "qe_identity id is neither QE nor TD_QE";
			e = ERR_ATTEST_QE_IDENTITY_FORMAT;
			goto out;
		}
	}
	e = ERR_OK;
out:
	arena_fini(&a);
	return e;
}

/* The PCK CRL's CA from its issuer CN. */
static err_t probe_pck_crl(const uint8_t *der, size_t len, enum attest_coll_kind *kind)
{
	X509_CRL *crl = crl_parse_der(der, len);
	char cn[128];
	err_t e = ERR_ATTEST_CRL_INVALID;

	if (!crl)
		goto out;
	if (X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, cn, sizeof(cn)) <= 0)
		goto out;
	if (strcmp(cn, "Intel SGX PCK Processor CA") == 0)
		*kind = ATTEST_COLL_PCK_CRL_PROCESSOR;
	else if (strcmp(cn, "Intel SGX PCK Platform CA") == 0)
		*kind = ATTEST_COLL_PCK_CRL_PLATFORM;
	else
		goto out;
	e = ERR_OK;
out:
	X509_CRL_free(crl);
	ERR_clear_error();
	return e;
}

err_t attest_coll_from_dcap_json(const char *json, size_t len, uint64_t fetched_at, const char *source,
				 struct attest_coll_blob *out[4], size_t *n, const char **detail)
{
	struct arena a;
	struct json_value *root = NULL;
	struct buf_writer body, bytes;
	const char *inner, *chain;
	size_t inner_len, chain_len;
	struct attest_coll_key k;
	err_t e;

	*n = 0;
	*detail = NULL;
	/* Byte fields may be arrays of small numbers: a tree node for every two input bytes. */
	arena_init(&a, 48 * len + ((size_t)1 << 20), 64u << 10);
	buf_writer_init(&body, MAX_ARTEFACT);
	buf_writer_init(&bytes, MAX_ARTEFACT);
	e = json_parse(json, len, NULL, &a, &root, NULL);
	if (e != ERR_OK || root->type != JSON_OBJECT) {
		*detail = e == ERR_BUDGET ? "JSON too large to parse" : "not a JSON object";
		e = e == ERR_OK ? ERR_PROTO_JSON : e;
		goto out;
	}

	/* TCB info and QE identity: rebuilt as the PCS body around the exact signed bytes. */
	for (int tcb = 1; tcb >= 0; tcb--) {
		const char *f_inner = tcb ? "tcb_info" : "qe_identity";
		const char *f_sig = tcb ? "tcb_info_signature" : "qe_identity_signature";
		const char *f_chain = tcb ? "tcb_info_issuer_chain" : "qe_identity_issuer_chain";
		e = ERR_PROTO_FIELD_TYPE;
		if (json_get_str(root, f_inner, &inner, &inner_len) != ERR_OK ||
		    json_get_str(root, f_chain, &chain, &chain_len) != ERR_OK) {
			*detail = tcb ? "tcb_info or its issuer chain missing" : "qe_identity or its issuer chain missing";
			goto out;
		}
		buf_writer_clear(&bytes);
		if (get_bytes(root, f_sig, &bytes) != ERR_OK || bytes.len != 64) {
			*detail = "signature missing or not 64 bytes";
			goto out;
		}
		if ((e = probe_inner(inner, inner_len, tcb, &k, detail)) != ERR_OK)
			goto out;
		buf_writer_clear(&body);
		buf_put_str(&body, tcb ? "{\"tcbInfo\":" : "{\"enclaveIdentity\":");
		buf_put(&body, inner, inner_len);
		buf_put_str(&body, ",\"signature\":\"");
		put_hex_lower(&body, bytes.p, bytes.len);
		buf_put_str(&body, "\"}");
		if ((e = buf_writer_status(&body)) != ERR_OK)
			goto out;
		e = attest_coll_blob_new(&k, body.p, body.len, chain, chain_len, fetched_at, source, &out[*n], detail);
		if (e != ERR_OK)
			goto out;
		(*n)++;
	}

	/* PCK CRL (its CA from the issuer) and Root CA CRL, as DER bodies. */
	buf_writer_clear(&bytes);
	e = ERR_PROTO_FIELD_TYPE;
	if (get_bytes(root, "pck_crl", &bytes) != ERR_OK ||
	    json_get_str(root, "pck_crl_issuer_chain", &chain, &chain_len) != ERR_OK) {
		*detail = "pck_crl or its issuer chain missing";
		goto out;
	}
	memset(&k, 0, sizeof(k));
	if ((e = probe_pck_crl(bytes.p, bytes.len, &k.kind)) != ERR_OK) {
		*detail = "pck_crl is not a CRL of an Intel PCK CA";
		goto out;
	}
	e = attest_coll_blob_new(&k, bytes.p, bytes.len, chain, chain_len, fetched_at, source, &out[*n], detail);
	if (e != ERR_OK)
		goto out;
	(*n)++;
	buf_writer_clear(&bytes);
	if (get_bytes(root, "root_ca_crl", &bytes) != ERR_OK) {
		*detail = "root_ca_crl missing";
		e = ERR_PROTO_FIELD_TYPE;
		goto out;
	}
	memset(&k, 0, sizeof(k));
	k.kind = ATTEST_COLL_ROOT_CA_CRL;
	e = attest_coll_blob_new(&k, bytes.p, bytes.len, NULL, 0, fetched_at, source, &out[*n], detail);
	if (e != ERR_OK)
		goto out;
	(*n)++;
	e = ERR_OK;
out:
	if (e != ERR_OK) {
		while (*n > 0)
			attest_coll_blob_unref(out[--*n]);
	}
	buf_writer_free(&body);
	buf_writer_free(&bytes);
	arena_fini(&a);
	return e;
}
