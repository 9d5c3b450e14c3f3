/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's SCALE certificate signing requests (V1 and V2): a strict decoder over lib/base's reader, the encoder, and the CSR signature. */
#include "ratls.h"

#include <limits.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "pbcodec.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/* A decode in progress: the arena and the first error's text. */
struct dec {
	struct arena *a;
	const char *detail;
};

static err_t fail(struct dec *d, err_t e, const char *why)
{
	if (!d->detail)
		d->detail = why;
	return e;
}

/*
 * SCALE compact integer, canonical form only (parity-scale-codec refuses
 * the longer encodings too). Every length here is far below 2^30, so the
 * big-integer mode is always too large.
 */
static err_t get_compact(struct dec *d, struct buf_reader *r, uint64_t *v)
{
	uint8_t b[4] = { 0 };

	if (buf_get_u8(r, &b[0]))
		return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
	switch (b[0] & 3) {
	case 0:
		*v = b[0] >> 2;
		return ERR_OK;
	case 1:
		if (buf_get_u8(r, &b[1]))
			return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
		*v = ((uint64_t)b[0] | (uint64_t)b[1] << 8) >> 2;
		return *v < 64 ? fail(d, ERR_PROTO_MALFORMED, "non-canonical SCALE compact length") : ERR_OK;
	case 2:
		if (buf_get_copy(r, &b[1], 3))
			return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
		*v = ((uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24) >> 2;
		return *v < (1u << 14) ? fail(d, ERR_PROTO_MALFORMED, "non-canonical SCALE compact length") : ERR_OK;
	default:
		return fail(d, ERR_PROTO_TOO_LARGE, "SCALE length over 2^30");
	}
}

/* Vec<u8>: a compact length (refused above max before looking at what remains), then the bytes, as a view. */
static err_t get_bytes(struct dec *d, struct buf_reader *r, size_t max, const char *what, const uint8_t **p,
		       size_t *len)
{
	uint64_t n = 0;
	err_t rc;

	if ((rc = get_compact(d, r, &n)))
		return rc;
	if (n > max)
		return fail(d, ERR_PROTO_TOO_LARGE, what);
	if (buf_get_view(r, (size_t)n, p))
		return fail(d, ERR_PROTO_TRUNCATED, "a SCALE byte string is longer than its input");
	*len = (size_t)n;
	return ERR_OK;
}

/* String: UTF-8 without NUL (a NUL in a certificate name reads as a shorter name elsewhere), copied. */
static err_t get_string(struct dec *d, struct buf_reader *r, size_t max, const char *what, const char **out)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	char *s;
	err_t rc;

	if ((rc = get_bytes(d, r, max, what, &p, &n)))
		return rc;
	if (!utf8_valid((const char *)p, n))
		return fail(d, ERR_PROTO_ENCODING, "a CSR string is not valid UTF-8");
	if (n && memchr(p, 0, n))
		return fail(d, ERR_PROTO_ENCODING, "a CSR string contains NUL");
	s = arena_memdup(d->a, n ? (const void *)p : "", n);
	if (!s)
		return arena_err(d->a);
	*out = s;
	return ERR_OK;
}

static err_t get_bool(struct dec *d, struct buf_reader *r, int *out)
{
	uint8_t b = 0;

	if (buf_get_u8(r, &b))
		return fail(d, ERR_PROTO_TRUNCATED, "CSR bool truncated");
	if (b > 1)
		return fail(d, ERR_PROTO_MALFORMED, "a CSR bool is neither 0 nor 1");
	*out = b;
	return ERR_OK;
}

/* Option<T>: tag 0 = None, 1 = Some. */
static err_t get_option(struct dec *d, struct buf_reader *r, int *some)
{
	uint8_t b = 0;

	if (buf_get_u8(r, &b))
		return fail(d, ERR_PROTO_TRUNCATED, "CSR option tag truncated");
	if (b > 1)
		return fail(d, ERR_PROTO_MALFORMED, "a CSR option tag is neither 0 nor 1");
	*some = b;
	return ERR_OK;
}

static err_t get_opt_u64(struct dec *d, struct buf_reader *r, int *has, uint64_t *v)
{
	err_t rc;

	if ((rc = get_option(d, r, has)))
		return rc;
	if (*has && buf_get_u64le(r, v))
		return fail(d, ERR_PROTO_TRUNCATED, "CSR u64 truncated");
	return ERR_OK;
}

static err_t get_names(struct dec *d, struct buf_reader *r, struct ratls_csr_config *c)
{
	uint64_t n = 0;
	err_t rc;

	if ((rc = get_compact(d, r, &n)))
		return rc;
	if (n > RATLS_CSR_MAX_NAMES)
		return fail(d, ERR_PROTO_TOO_LARGE, "more than 64 subject_alt_names");
	if (n > buf_remaining(r))   /* each name takes at least its length byte */
		return fail(d, ERR_PROTO_TRUNCATED, "subject_alt_names is longer than its input");
	if (!n)
		return ERR_OK;
	if (!(c->alt_names = arena_zalloc(d->a, (size_t)n * sizeof(*c->alt_names))))
		return arena_err(d->a);
	for (size_t i = 0; i < n; i++)
		if ((rc = get_string(d, r, RATLS_CSR_STR_MAX, "a subject_alt_name is over 1 KiB", &c->alt_names[i])))
			return rc;
	c->n_alt_names = (size_t)n;
	return ERR_OK;
}

static err_t get_config(struct dec *d, struct buf_reader *r, int version, struct ratls_csr_config *c)
{
	int some = 0;
	err_t rc;

	if ((rc = get_option(d, r, &some)))
		return rc;
	if (some && (rc = get_string(d, r, RATLS_CSR_STR_MAX, "org_name is over 1 KiB", &c->org_name)))
		return rc;
	if ((rc = get_string(d, r, RATLS_CSR_STR_MAX, "subject is over 1 KiB", &c->subject)) ||
	    (rc = get_names(d, r, c)) || (rc = get_bool(d, r, &c->usage_server_auth)) ||
	    (rc = get_bool(d, r, &c->usage_client_auth)) || (rc = get_bool(d, r, &c->ext_quote)))
		return rc;
	if (version == 1)
		return ERR_OK;
	if ((rc = get_bool(d, r, &c->ext_app_info)) || (rc = get_opt_u64(d, r, &c->has_not_before, &c->not_before)) ||
	    (rc = get_opt_u64(d, r, &c->has_not_after, &c->not_after)))
		return rc;
	return ERR_OK;
}

static err_t decode(struct dec *d, struct buf_reader *r, int version, struct ratls_csr *out)
{
	err_t rc;

	out->version = version;
	if ((rc = get_string(d, r, RATLS_CSR_CONFIRM_MAX, "the confirm word is over 64 bytes", &out->confirm)))
		return rc;
	if (strcmp(out->confirm, RATLS_CSR_CONFIRM) != 0)
		return fail(d, ERR_PROTO_MALFORMED, "the confirm word is not \"" RATLS_CSR_CONFIRM "\"");
	if ((rc = get_bytes(d, r, RATLS_CSR_PUBKEY_MAX, "pubkey is over 1 KiB", &out->pubkey, &out->pubkey_len)) ||
	    (rc = get_config(d, r, version, &out->config)))
		return rc;
	if (version == 2) {
		/* The VersionedAttestation is the rest of the input; its own decoder rejects trailing bytes. */
		out->attestation_len = buf_remaining(r);
		if (!out->attestation_len)
			return fail(d, ERR_PROTO_TRUNCATED, "the CSR has no attestation");
		if (buf_get_view(r, out->attestation_len, &out->attestation))
			return fail(d, ERR_PROTO_TRUNCATED, "the CSR has no attestation");
		return ERR_OK;
	}
	if ((rc = get_bytes(d, r, RATLS_QUOTE_MAX, "quote is over the quote limit", &out->quote, &out->quote_len)) ||
	    (rc = get_bytes(d, r, RATLS_CSR_MAX, "event_log is over the CSR limit", &out->event_log,
			    &out->event_log_len)))
		return rc;
	if (buf_expect_end(r))
		return fail(d, ERR_PROTO_TRAILING, "bytes after the CSR's event log");
	return ERR_OK;
}

err_t ratls_csr_decode(int version, const uint8_t *p, size_t len, struct arena *a, struct ratls_csr *out,
		       const char **detail)
{
	struct dec d = { .a = a, .detail = NULL };
	struct buf_reader r;
	err_t rc;

	memset(out, 0, sizeof(*out));
	if (version != 1 && version != 2) {
		SET_DETAIL(detail, "CSR version must be 1 or 2");
		return ERR_INVALID_ARG;
	}
	if (!p || !len) {
		SET_DETAIL(detail, "empty CSR");
		return ERR_PROTO_TRUNCATED;
	}
	if (len > RATLS_CSR_MAX) {
		SET_DETAIL(detail, "CSR over 1 MiB");
		return ERR_PROTO_TOO_LARGE;
	}
	buf_reader_init(&r, p, len);
	rc = decode(&d, &r, version, out);
	SET_DETAIL(detail, d.detail);
	if (rc != ERR_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- encoder ---- */

static void put_compact(struct buf_writer *w, uint64_t v)
{
	if (v < 64)
		buf_put_u8(w, (uint8_t)(v << 2));
	else if (v < (1u << 14))
		buf_put_u16le(w, (uint16_t)(v << 2 | 1));
	else if (v < (1u << 30))
		buf_put_u32le(w, (uint32_t)(v << 2 | 2));
	else if (!w->err)
		w->err = ERR_PROTO_TOO_LARGE;   /* unreachable: the caps are far lower */
}

static void put_bytes(struct buf_writer *w, const void *p, size_t n)
{
	put_compact(w, n);
	if (n)
		buf_put(w, p, n);
}

static int str_ok(const char *s, size_t max)
{
	return s && strlen(s) <= max && utf8_valid(s, strlen(s));
}

static int config_ok(const struct ratls_csr *c)
{
	const struct ratls_csr_config *k = &c->config;

	if ((k->org_name && !str_ok(k->org_name, RATLS_CSR_STR_MAX)) || !str_ok(k->subject, RATLS_CSR_STR_MAX) ||
	    k->n_alt_names > RATLS_CSR_MAX_NAMES || (k->n_alt_names && !k->alt_names))
		return 0;
	for (size_t i = 0; i < k->n_alt_names; i++)
		if (!str_ok(k->alt_names[i], RATLS_CSR_STR_MAX))
			return 0;
	if (c->version == 1 && (k->ext_app_info || k->has_not_before || k->has_not_after))
		return 0;
	return 1;
}

err_t ratls_csr_encode(const struct ratls_csr *c, struct buf_writer *w)
{
	const struct ratls_csr_config *k;
	const char *confirm;

	if (!c || !w || (c->version != 1 && c->version != 2) || !config_ok(c))
		return ERR_INVALID_ARG;
	k = &c->config;
	confirm = c->confirm ? c->confirm : RATLS_CSR_CONFIRM;
	if (!str_ok(confirm, RATLS_CSR_CONFIRM_MAX) || c->pubkey_len > RATLS_CSR_PUBKEY_MAX ||
	    (c->pubkey_len && !c->pubkey))
		return ERR_INVALID_ARG;
	if (c->version == 2 && (!c->attestation || !c->attestation_len))
		return ERR_INVALID_ARG;
	if (c->version == 1 && (c->quote_len > RATLS_QUOTE_MAX || (c->quote_len && !c->quote) ||
				c->event_log_len > RATLS_CSR_MAX || (c->event_log_len && !c->event_log)))
		return ERR_INVALID_ARG;
	put_bytes(w, confirm, strlen(confirm));
	put_bytes(w, c->pubkey, c->pubkey_len);
	buf_put_u8(w, k->org_name ? 1 : 0);
	if (k->org_name)
		put_bytes(w, k->org_name, strlen(k->org_name));
	put_bytes(w, k->subject, strlen(k->subject));
	put_compact(w, k->n_alt_names);
	for (size_t i = 0; i < k->n_alt_names; i++)
		put_bytes(w, k->alt_names[i], strlen(k->alt_names[i]));
	buf_put_u8(w, k->usage_server_auth ? 1 : 0);
	buf_put_u8(w, k->usage_client_auth ? 1 : 0);
	buf_put_u8(w, k->ext_quote ? 1 : 0);
	if (c->version == 2) {
		buf_put_u8(w, k->ext_app_info ? 1 : 0);
		buf_put_u8(w, k->has_not_before ? 1 : 0);
		if (k->has_not_before)
			buf_put_u64le(w, k->not_before);
		buf_put_u8(w, k->has_not_after ? 1 : 0);
		if (k->has_not_after)
			buf_put_u64le(w, k->not_after);
		buf_put(w, c->attestation, c->attestation_len);
	} else {
		put_bytes(w, c->quote, c->quote_len);
		put_bytes(w, c->event_log, c->event_log_len);
	}
	return buf_writer_status(w);
}

/* ---- the signature ---- */

err_t ratls_csr_sign(const uint8_t *csr, size_t len, EVP_PKEY *key, struct buf_writer *w)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *sig = NULL;
	size_t n = 0;
	err_t err = ERR_CRYPTO;

	if (!csr || !key || !w)
		return ERR_INVALID_ARG;
	if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, csr, len) != 1)
		goto out;
	if (!(sig = buf_reserve(w, n))) {
		err = buf_writer_status(w) != ERR_OK ? buf_writer_status(w) : ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &n, csr, len) != 1)
		goto out;
	buf_commit(w, n);
	err = buf_writer_status(w);
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

static int is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;

	return k && EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

/* The CSR key: one P-256 SubjectPublicKeyInfo, canonical DER (it re-encodes to the same bytes), nothing after it. */
static EVP_PKEY *csr_pubkey(const uint8_t *spki, size_t len)
{
	const unsigned char *p = spki;
	unsigned char *der = NULL;
	EVP_PKEY *k;
	int n;

	if (!spki || !len || len > RATLS_CSR_PUBKEY_MAX)
		return NULL;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (!k || p != spki + len || !is_p256(k)) {
		EVP_PKEY_free(k);
		return NULL;
	}
	n = i2d_PUBKEY(k, &der);
	if (n <= 0 || (size_t)n != len || memcmp(der, spki, len) != 0) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	OPENSSL_free(der);
	return k;
}

/* r||s from a strict DER ECDSA signature (it re-encodes to the same bytes); 0 if it is not one. */
static int sig_raw(const uint8_t *sig, size_t len, uint8_t raw[64])
{
	const unsigned char *p = sig;
	unsigned char *der = NULL;
	const BIGNUM *r, *s;
	ECDSA_SIG *es;
	int n, ok = 0;

	if (!sig || !len || len > RATLS_CSR_SIG_MAX)
		return 0;
	if (!(es = d2i_ECDSA_SIG(NULL, &p, (long)len)) || p != sig + len)
		goto out;
	n = i2d_ECDSA_SIG(es, &der);
	if (n <= 0 || (size_t)n != len || memcmp(der, sig, len) != 0)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_num_bytes(r) <= 32 && BN_num_bytes(s) <= 32 && BN_bn2binpad(r, raw, 32) == 32 &&
	     BN_bn2binpad(s, raw + 32, 32) == 32;
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

err_t ratls_csr_verify_signature(const struct ratls_csr *csr, const uint8_t *bytes, size_t len, const uint8_t *sig,
				 size_t sig_len, EVP_PKEY **key_out, const char **detail)
{
	EVP_PKEY *key = NULL;
	uint8_t raw[64];
	err_t err;

	if (key_out)
		*key_out = NULL;
	if (!csr || !bytes) {
		SET_DETAIL(detail, "no CSR");
		return ERR_INVALID_ARG;
	}
	if (!(key = csr_pubkey(csr->pubkey, csr->pubkey_len))) {
		ERR_clear_error();
		SET_DETAIL(detail, "the CSR pubkey is not a P-256 SubjectPublicKeyInfo in canonical DER");
		return ERR_INVALID_ARG;
	}
	if (!sig_raw(sig, sig_len, raw) || ecdsa_verify_p256_sha256(key, raw, bytes, len) != ERR_OK) {
		ERR_clear_error();
		EVP_PKEY_free(key);
		SET_DETAIL(detail, "the CSR signature does not verify with the CSR's public key");
		return ERR_PROTO_SIGNATURE;
	}
	err = ERR_OK;
	if (key_out)
		*key_out = key;
	else
		EVP_PKEY_free(key);
	return err;
}
