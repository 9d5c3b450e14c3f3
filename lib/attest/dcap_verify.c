/* SPDX-License-Identifier: Apache-2.0 */
/* DCAP verification: collateral chains and signatures (once), then per quote the PCK chain, QE, signature, TCB and policy. */
#include "dcap.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "enc.h"

/* Every TCB info / QE identity / CRL / PEM chain we have seen fits in far less; the arena stops pathological JSON. */
#define VCOLL_ARENA_BUDGET (8u << 20)

static const struct attest_policy default_policy;

static err_t fail(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	return e;
}

/* ---------------------------------------------------------------------------------------------- */
/* X.509 helpers                                                                                  */

/* Byte-for-byte DER equality: how a chain's last certificate is matched to the pinned root. */
static int der_equal(X509 *a, X509 *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la, lb, eq;

	if (!a || !b)
		return 0;
	la = i2d_X509(a, &da);
	lb = i2d_X509(b, &db);
	eq = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return eq;
}

static err_t map_x509_error(int e, int depth, const char **detail, const char *what_chain)
{
	switch (e) {
	case X509_V_ERR_CERT_REVOKED:
		return fail(detail, ERR_ATTEST_CERT_REVOKED, what_chain);
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
		return fail(detail, ERR_ATTEST_CRL_INVALID, what_chain);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		/* The leaf names an issuer the chain does not hold: a broken link, not a foreign root. */
		if (depth == 0)
			return fail(detail, ERR_ATTEST_CERT_CHAIN, what_chain);
		return fail(detail, ERR_ATTEST_ROOT_UNTRUSTED, what_chain);
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
		return fail(detail, ERR_ATTEST_ROOT_UNTRUSTED, what_chain);
	default:
		return fail(detail, ERR_ATTEST_CERT_CHAIN, what_chain);
	}
}

/* Which certificates of a chain X509_verify_cert checks against the store's CRLs. */
enum crl_scope { CRL_STORE = 0, CRL_LEAF, CRL_NONE };

/*
 * Verify `leaf` (+ `untrusted`) against `store` without looking at the
 * clock: validity periods are windows the caller checks against `now`, so a
 * result can be reused for any `now` inside them. `crls` narrows the store's
 * revocation flags. On success *chain_out (if not NULL) gets the verified
 * chain, leaf first (caller frees).
 */
static err_t chain_verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted, enum crl_scope crls,
			  STACK_OF(X509) **chain_out, const char **detail, const char *what)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	err_t err = ERR_OK;
	int xerr;

	if (chain_out)
		*chain_out = NULL;
	if (!ctx || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		err = fail(detail, ERR_NOMEM, what);
		goto out;
	}
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_NO_CHECK_TIME);
	if (crls != CRL_STORE)
		X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(ctx),
					      crls == CRL_LEAF ? X509_V_FLAG_CRL_CHECK_ALL
							       : X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	if (X509_verify_cert(ctx) != 1) {
		xerr = X509_STORE_CTX_get_error(ctx);
		err = map_x509_error(xerr, X509_STORE_CTX_get_error_depth(ctx), detail, what);
		goto out;
	}
	if (chain_out) {
		*chain_out = X509_STORE_CTX_get1_chain(ctx);
		if (!*chain_out)
			err = fail(detail, ERR_NOMEM, what);
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/* The intersection of the validity periods of every certificate in a chain (inclusive, RFC 5280). */
static err_t chain_window(STACK_OF(X509) *chain, uint64_t *from, uint64_t *to, const char **detail, const char *what)
{
	uint64_t f = 0, t = UINT64_MAX, nb, na;

	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!dcap_asn1_time_unix(X509_get0_notBefore(x), &nb) || !dcap_asn1_time_unix(X509_get0_notAfter(x), &na))
			return fail(detail, ERR_ATTEST_CERT_CHAIN, what);
		f = MAX(f, nb);
		t = MIN(t, na);
	}
	*from = f;
	*to = t;
	return ERR_OK;
}

/*
 * A signer that must not be a CA: X509_check_ca says 0 (which it also says
 * for basicConstraints cA TRUE without keyCertSign in keyUsage) and
 * basicConstraints does not say cA at all, as webpki (dcap-qvl) requires of
 * an end entity.
 */
static int is_end_entity(X509 *x)
{
	return X509_check_ca(x) == 0 && !(X509_get_extension_flags(x) & EXFLAG_CA);
}

/* The single CN equals `want` exactly. */
static int cn_equals(const X509_NAME *name, const char *want)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	size_t n = strlen(want);

	if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return 0;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return s && (size_t)ASN1_STRING_length(s) == n && memcmp(ASN1_STRING_get0_data(s), want, n) == 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Verified collateral                                                                            */

static void add_window(struct dcap_vcoll *vc, uint64_t from, uint64_t to, err_t before, err_t after,
		       const char *what)
{
	struct dcap_window *w;

	if (vc->n_win >= DCAP_MAX_WINDOWS)   /* fixed set of calls below; cannot happen */
		abort();
	w = &vc->win[vc->n_win++];
	w->from = from;
	w->to = to;
	w->err_before = before;
	w->err_after = after;
	w->what = what;
	vc->expires_at = MIN(vc->expires_at, to);
}

/* A CRL's window: thisUpdate <= now < nextUpdate (webpki's rule, which dcap-qvl uses). */
static err_t crl_window(struct dcap_vcoll *vc, X509_CRL *crl, const char **detail, const char *what)
{
	uint64_t tu, nu;

	if (!dcap_asn1_time_unix(X509_CRL_get0_lastUpdate(crl), &tu) || !X509_CRL_get0_nextUpdate(crl) ||
	    !dcap_asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &nu) || nu <= tu)
		return fail(detail, ERR_ATTEST_CRL_INVALID, what);
	add_window(vc, tu, nu - 1, ERR_ATTEST_CRL_EXPIRED, ERR_ATTEST_CRL_EXPIRED, what);
	return ERR_OK;
}

static err_t chain_window_add(struct dcap_vcoll *vc, STACK_OF(X509) *chain, const char **detail, const char *what)
{
	uint64_t f, t;
	err_t err = chain_window(chain, &f, &t, detail, what);

	if (err)
		return err;
	add_window(vc, f, t, ERR_ATTEST_CERT_EXPIRED, ERR_ATTEST_CERT_EXPIRED, what);
	return ERR_OK;
}

/*
 * Whether `crl`, whose name and signature were checked against `anchor`
 * (crl_check_issuer), decides a certificate the anchor issued by its serial
 * alone: whether X509_verify_cert's CRL_CHECK of such a certificate would
 * then only repeat that signature check and look the certificate up with
 * X509_CRL_get0_by_cert. It does when the CRL has no critical extension (so
 * none OpenSSL leaves unhandled) in itself or in an entry, no issuing
 * distribution point (full scope) and no delta indicator, names the anchor
 * in its AKID if it has one, and the anchor's keyUsage, if any, allows CRL
 * signing. Intel's root CA CRL is of this form; a root CRL that is not
 * leaves every chain to OpenSSL's own CRL check.
 */
static int root_crl_plain(X509_CRL *crl, X509 *anchor)
{
	const STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
	AUTHORITY_KEYID *akid;
	int crit = -1, ok;

	if (X509_CRL_get_ext_by_critical(crl, 1, -1) >= 0 ||
	    X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1) >= 0 ||
	    X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0)
		return 0;
	for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++)
		if (X509_REVOKED_get_ext_by_critical(sk_X509_REVOKED_value(revoked, i), 1, -1) >= 0)
			return 0;
	if ((X509_get_extension_flags(anchor) & EXFLAG_KUSAGE) && !(X509_get_key_usage(anchor) & KU_CRL_SIGN))
		return 0;
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
	ok = akid ? X509_check_akid(anchor, akid) == X509_V_OK : crit == -1;   /* -1: absent; else present but bad */
	AUTHORITY_KEYID_free(akid);
	ERR_clear_error();
	return ok;
}

/* A CRL signed by `issuer` (name and signature), as X509_STORE would check it, done by hand for the PCK CRL. */
static err_t crl_check_issuer(X509_CRL *crl, X509 *issuer, const char **detail, const char *what)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 || !k ||
	    X509_CRL_verify(crl, k) != 1) {
		ERR_clear_error();
		return fail(detail, ERR_ATTEST_CRL_INVALID, what);
	}
	return ERR_OK;
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"
#define PEM_BEGIN_LEN (sizeof(PEM_BEGIN) - 1)
#define PEM_END_LEN (sizeof(PEM_END) - 1)

/*
 * The canonical PEM block of a certificate, as OpenSSL writes it and Intel
 * serves it: PEM_BEGIN, "\n", the standard padded base64 of the DER in lines
 * of 64 characters each ending in "\n", then PEM_END (no newline after it:
 * the block as pem_certs_parse frames it). Returns its length, or 0 when it
 * does not fit in cap bytes (cap counts a NUL written after it).
 */
static size_t pem_canonical(const uint8_t *der, size_t n, char *out, size_t cap)
{
	size_t b64 = base64_encoded_len(n, 0), lines = (b64 + 63) / 64, total, pos;

	if (n == 0 || n > ((size_t)16 << 20))
		return 0;
	total = PEM_BEGIN_LEN + 1 + b64 + lines + PEM_END_LEN;
	if (cap <= total)
		return 0;
	memcpy(out, PEM_BEGIN "\n", PEM_BEGIN_LEN + 1);
	pos = PEM_BEGIN_LEN + 1;
	for (size_t i = 0; i < n; i += 48) {
		/* 48 bytes are 64 characters without padding, so the lines concatenate to the whole encoding. */
		pos += base64_encode(out + pos, der + i, MIN((size_t)48, n - i), 0);
		out[pos++] = '\n';
	}
	memcpy(out + pos, PEM_END, PEM_END_LEN + 1);
	return pos + PEM_END_LEN;
}

/*
 * The DER inside one PEM block (PEM_BEGIN up to the end of PEM_END) when
 * the block is exactly the canonical text of that DER (pem_canonical): the
 * form OpenSSL's PEM reader decodes to the same bytes. Malloc'd (caller
 * frees); NULL for any other spelling or when out of memory.
 */
static uint8_t *block_der_canonical(const char *block, size_t block_len, size_t *der_len)
{
	const char *end = block + block_len - PEM_END_LEN;
	char *text = NULL, *canon = NULL;
	uint8_t *der = NULL;
	size_t tl = 0, dl = 0;
	int ok = 0;

	*der_len = 0;
	if (block_len < PEM_BEGIN_LEN + PEM_END_LEN)
		return NULL;
	text = malloc(block_len + 1);
	canon = malloc(block_len + 1);
	der = malloc(block_len + 1);
	if (text && canon && der) {
		for (const char *c = block + PEM_BEGIN_LEN; c < end; c++)
			if (*c != '\n')
				text[tl++] = *c;
		ok = base64_decode(der, block_len, &dl, text, tl) == ERR_OK && dl > 0 &&
		     pem_canonical(der, dl, canon, block_len + 1) == block_len && memcmp(canon, block, block_len) == 0;
	}
	free(text);
	free(canon);
	if (!ok) {
		free(der);
		return NULL;
	}
	*der_len = dl;
	return der;
}

/*
 * The next certificate block of a PEM chain from *pos, framed as
 * pem_certs_parse frames it: whitespace (space, tab, CR, LF) skipped, then
 * PEM_BEGIN up to the end of the next PEM_END. 1 with *block, *block_len and
 * *pos past the block; 0 at the end of the text; -1 when what follows is
 * not a block. Every reader of chains here frames them this way.
 */
static int pem_next_block(const char *pem, size_t len, size_t *pos, const char **block, size_t *block_len)
{
	const char *end;
	size_t p = *pos;

	while (p < len && (pem[p] == ' ' || pem[p] == '\t' || pem[p] == '\r' || pem[p] == '\n'))
		p++;
	if (p == len)
		return 0;
	if (len - p < PEM_BEGIN_LEN || memcmp(pem + p, PEM_BEGIN, PEM_BEGIN_LEN) != 0)
		return -1;
	end = memmem(pem + p, len - p, PEM_END, PEM_END_LEN);
	if (!end)
		return -1;
	*block = pem + p;
	*block_len = (size_t)(end - (pem + p)) + PEM_END_LEN;
	*pos = (size_t)(end - pem) + PEM_END_LEN;
	return 1;
}

/* A PCK chain quote's chain text, less the NUL quotes end it with; 0 for any other quote. */
static size_t quote_chain_text(const struct dcap_quote *q, const char **pem)
{
	size_t len;

	if (q->cert_type != DCAP_CERT_PCK_CHAIN || !q->cert_data || q->cert_data_len == 0 ||
	    q->cert_data_len > DCAP_QUOTE_MAX)
		return 0;
	*pem = (const char *)q->cert_data;
	len = q->cert_data_len;
	if ((*pem)[len - 1] == 0)
		len--;
	return len;
}

/*
 * pem_certs_parse (lib/crypto), except that a block whose DER is
 * byte-for-byte that of a certificate in `known` yields a reference to that
 * certificate instead of a fresh parse. Why: in OpenSSL 3.0 parsing one
 * certificate costs about 1.5 P-256 verifications (its public key goes
 * through the OSSL_DECODER machinery), and the CA and root that end every
 * chain are the same few certificates we already hold. Same framing as
 * pem_certs_parse; a block that is not a known certificate goes through
 * pem_certs_parse itself, and a known one is accepted only when it decodes
 * exactly as pem_certs_parse would decode it (type CERTIFICATE, no headers)
 * to the known DER, which pem_certs_parse parses to an equal certificate.
 * So the result and the failures are pem_certs_parse's. NULL entries in
 * `known` are skipped. Caller frees the stack.
 */
static STACK_OF(X509) *chain_parse(const char *pem, size_t len, X509 *const *known, size_t n_known)
{
	STACK_OF(X509) *sk = NULL, *one = NULL, *ret = NULL;
	unsigned char *kder[2 + DCAP_KNOWN_MAX] = { NULL };
	int klen[2 + DCAP_KNOWN_MAX] = { 0 };
	size_t pos = 0;

	if (!pem || len > ((size_t)16 << 20) || n_known > ARRAY_LEN(kder))   /* pem_certs_parse's input cap */
		return NULL;
	for (size_t i = 0; i < n_known; i++)
		if (known[i] && (klen[i] = i2d_X509(known[i], &kder[i])) <= 0)
			goto out;
	if (len > 0 && pem[len - 1] == 0)   /* quotes carry the chain as a C string */
		len--;
	sk = sk_X509_new_null();
	if (!sk)
		goto out;
	for (;;) {
		const char *block;
		size_t block_len;
		X509 *x = NULL;
		BIO *bio = NULL;
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		int r = pem_next_block(pem, len, &pos, &block, &block_len);

		if (r == 0)
			break;
		if (r < 0)
			goto out;
		/* Decode as pem_certs_parse does (the block, then a newline) and look for a known DER. */
		bio = BIO_new(BIO_s_mem());
		if (bio && block_len <= INT_MAX - 1 && BIO_write(bio, block, (int)block_len) == (int)block_len &&
		    BIO_write(bio, "\n", 1) == 1 && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1 &&
		    strcmp(name, "CERTIFICATE") == 0 && header[0] == 0 && dlen > 0) {
			for (size_t i = 0; i < n_known && !x; i++)
				if (known[i] && klen[i] == dlen && memcmp(kder[i], data, (size_t)dlen) == 0 &&
				    X509_up_ref(known[i]) == 1)
					x = known[i];
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		BIO_free(bio);
		if (!x) {
			one = pem_certs_parse(block, block_len);
			if (!one || sk_X509_num(one) != 1)
				goto out;
			x = sk_X509_shift(one);
			sk_X509_free(one);
			one = NULL;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (sk_X509_num(sk) == 0)
		goto out;
	ret = sk;
	sk = NULL;
out:
	if (!ret)
		ERR_clear_error();
	for (size_t i = 0; i < ARRAY_LEN(kder); i++)
		OPENSSL_free(kder[i]);
	sk_X509_pop_free(one, X509_free);
	sk_X509_pop_free(sk, X509_free);
	return ret;
}

/*
 * An issuer chain from the collateral (PEM): its last certificate must be
 * the anchor (DER), it must verify to it with the root CRL, and its first
 * certificate must have the expected CN and not be a CA where a signer is
 * expected. `parsed` is that PEM already parsed (ownership transferred), or
 * NULL to parse it here. Returns the parsed chain in *out (caller frees).
 */
static err_t collateral_chain(struct dcap_vcoll *vc, STACK_OF(X509) *parsed, const char *pem, size_t len,
			      const char *want_cn, int want_ca, STACK_OF(X509) **out, const char **detail,
			      const char *what)
{
	STACK_OF(X509) *sk = parsed, *untrusted = NULL, *verified = NULL;
	X509_REVOKED *rev = NULL;
	X509 *leaf;
	int n, plain;
	err_t err;

	*out = NULL;
	if (!sk)
		sk = chain_parse(pem, len, &vc->anchor, 1);
	if (!sk) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, what);
		goto out;
	}
	n = sk_X509_num(sk);
	if (n < 2 || !der_equal(sk_X509_value(sk, n - 1), vc->anchor)) {
		err = fail(detail, ERR_ATTEST_ROOT_UNTRUSTED, what);
		goto out;
	}
	leaf = sk_X509_value(sk, 0);
	untrusted = sk_X509_dup(sk);
	if (!untrusted) {
		err = ERR_NOMEM;
		goto out;
	}
	(void)sk_X509_shift(untrusted);
	/*
	 * A two-certificate chain is the leaf and the anchor, and the anchor's
	 * standing in the root CRL (listed or not, the CRL's signature and
	 * window) was checked explicitly before any chain: revocation checking
	 * at every level would only verify the root CRL's signature once more.
	 * When the root CRL is plain (root_crl_plain), OpenSSL's check of the
	 * leaf would too, so the leaf is looked up by hand, as OpenSSL looks it
	 * up. Longer chains keep CRL_CHECK_ALL.
	 */
	plain = n == 2 && vc->root_crl_plain;
	err = chain_verify(vc->store, leaf, untrusted, n != 2 ? CRL_STORE : plain ? CRL_NONE : CRL_LEAF, &verified, detail,
			   what);
	if (err)
		goto out;
	if (plain && X509_CRL_get0_by_cert(vc->root_crl, &rev, leaf) == 1) {
		err = fail(detail, ERR_ATTEST_CERT_REVOKED, what);
		goto out;
	}
	if (!cn_equals(X509_get_subject_name(leaf), want_cn) ||
	    (want_ca ? X509_check_ca(leaf) == 0 : !is_end_entity(leaf))) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, what);
		goto out;
	}
	err = chain_window_add(vc, verified, detail, what);
	if (err)
		goto out;
	*out = sk;
	sk = NULL;
out:
	sk_X509_free(untrusted);
	sk_X509_pop_free(verified, X509_free);
	sk_X509_pop_free(sk, X509_free);
	return err;
}

void dcap_vcoll_free(struct dcap_vcoll *vc)
{
	if (!vc)
		return;
	X509_STORE_free(vc->store);
	X509_STORE_free(vc->store_pck_ca);
	X509_free(vc->anchor);
	X509_free(vc->pck_ca);
	X509_CRL_free(vc->pck_crl);
	X509_CRL_free(vc->root_crl);
	sk_X509_pop_free(vc->pck_chain_override, X509_free);
	arena_fini(&vc->arena);
	free(vc);
}

/* SHA-256 over the anchor and every collateral field, each length-prefixed: the collateral's name in caches. */
static void vcoll_id(struct dcap_vcoll *vc, const struct dcap_collateral *c)
{
	unsigned char *der = NULL;
	int dlen = i2d_X509(vc->anchor, &der);
	const void *field[11] = {
		der, c->pck_crl_issuer_chain, c->root_ca_crl, c->pck_crl, c->tcb_info_issuer_chain, c->tcb_info,
		c->tcb_info_signature, c->qe_identity_issuer_chain, c->qe_identity, c->qe_identity_signature,
		c->pck_certificate_chain ? c->pck_certificate_chain : "",
	};
	size_t flen[11] = {
		dlen > 0 ? (size_t)dlen : 0, c->pck_crl_issuer_chain_len, c->root_ca_crl_len, c->pck_crl_len,
		c->tcb_info_issuer_chain_len, c->tcb_info_len, 64, c->qe_identity_issuer_chain_len, c->qe_identity_len,
		64, c->pck_certificate_chain ? c->pck_certificate_chain_len : 0,
	};
	uint64_t lens[11];
	const void *parts[22];
	size_t plens[22];

	for (size_t i = 0; i < 11; i++) {
		lens[i] = flen[i];
		parts[2 * i] = &lens[i];
		plens[2 * i] = sizeof(lens[i]);
		parts[2 * i + 1] = field[i];
		plens[2 * i + 1] = flen[i];
	}
	sha256_parts(parts, plens, 22, vc->id);
	OPENSSL_free(der);
}

/* DER copies the fast path compares quote bytes against (in the vcoll's arena). */
static err_t keep_der(struct arena *a, int len, unsigned char *der, const uint8_t **out, size_t *out_len)
{
	err_t err = ERR_OK;

	if (len <= 0 || !der) {
		err = ERR_NOMEM;
	} else if (!(*out = arena_memdup(a, der, (size_t)len))) {
		err = arena_err(a);
	} else {
		*out_len = (size_t)len;
	}
	OPENSSL_free(der);
	return err;
}

/* The canonical PEM block of a certificate (pem_canonical), in the vcoll's arena. */
static err_t keep_pem(struct arena *a, X509 *x, const char **out, size_t *out_len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	size_t cap;
	char *pem;
	err_t err = ERR_OK;

	if (n <= 0 || !der) {
		err = ERR_NOMEM;
		goto out;
	}
	cap = base64_encoded_len((size_t)n, 0);
	cap = PEM_BEGIN_LEN + 1 + cap + (cap + 63) / 64 + PEM_END_LEN + 1;   /* pem_canonical's length and a NUL */
	pem = arena_alloc(a, cap);
	if (!pem) {
		err = arena_err(a);
		goto out;
	}
	*out_len = pem_canonical(der, (size_t)n, pem, cap);
	*out = pem;
	if (*out_len == 0)
		err = ERR_INTERNAL;
out:
	OPENSSL_free(der);
	return err;
}

static err_t keep_ders(struct dcap_vcoll *vc)
{
	unsigned char *d = NULL;
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(vc->pck_ca);
	int n;
	err_t err;

	if ((err = keep_pem(&vc->arena, vc->pck_ca, &vc->pck_ca_pem, &vc->pck_ca_pem_len)) ||
	    (err = keep_pem(&vc->arena, vc->anchor, &vc->anchor_pem, &vc->anchor_pem_len)))
		return err;
	n = i2d_X509_NAME(X509_get_subject_name(vc->pck_ca), &d);
	if ((err = keep_der(&vc->arena, n, d, &vc->pck_ca_subject, &vc->pck_ca_subject_len)))
		return err;
	if (skid && ASN1_STRING_length(skid) > 0) {
		vc->pck_ca_skid = arena_memdup(&vc->arena, ASN1_STRING_get0_data(skid), (size_t)ASN1_STRING_length(skid));
		if (!vc->pck_ca_skid)
			return arena_err(&vc->arena);
		vc->pck_ca_skid_len = (size_t)ASN1_STRING_length(skid);
	}
	return ERR_OK;
}

err_t dcap_vcoll_new(const struct dcap_collateral *c, const struct attest_trust *t, struct dcap_vcoll **out,
		     const char **detail)
{
	return dcap_vcoll_new_pre(c, t, NULL, out, detail);
}

/*
 * x509_crl_from_bytes, except that `known` (may be NULL) is used instead of
 * a fresh parse when the bytes are exactly its DER: what the parse would
 * have made of them. A new reference either way; NULL when they are not a CRL.
 */
static X509_CRL *crl_known_or_parse(X509_CRL *known, const uint8_t *der, size_t len)
{
	unsigned char *kder = NULL;
	int klen;
	int same;

	if (known && der && len > 0 && len <= INT_MAX) {
		klen = i2d_X509_CRL(known, &kder);
		same = klen > 0 && (size_t)klen == len && memcmp(kder, der, len) == 0;
		OPENSSL_free(kder);
		if (same && X509_CRL_up_ref(known) == 1)
			return known;
		ERR_clear_error();
	}
	return x509_crl_from_bytes(der, len);
}

err_t dcap_vcoll_new_pre(const struct dcap_collateral *c, const struct attest_trust *t,
			 const struct dcap_preparsed *pre, struct dcap_vcoll **out, const char **detail)
{
	static const struct dcap_preparsed none;
	X509 *const *known;
	size_t n_known;
	struct dcap_vcoll *vc = NULL;
	STACK_OF(X509) *tcb_chain = NULL, *qe_chain = NULL, *crl_chain = NULL, *parsed = NULL;
	X509_REVOKED *rev = NULL;
	/* Known certificates: [0], [1] the two roots (then [1] the chosen anchor alone), [2..] the caller's. */
	X509 *kn[2 + DCAP_KNOWN_MAX] = { NULL };
	X509 *last;
	size_t tcb_chain_win;
	int n;
	err_t err;

	*out = NULL;
	if (!c || !t)
		return fail(detail, ERR_INVALID_ARG, "dcap: no collateral or trust anchors");
	if (!pre)
		pre = &none;
	known = pre->certs;
	n_known = pre->n_certs;
	if (n_known > DCAP_KNOWN_MAX || (n_known && !known))
		return fail(detail, ERR_INVALID_ARG, "dcap: too many known certificates");
	for (size_t i = 0; i < n_known; i++)
		kn[2 + i] = known[i];
	if (!c->tcb_info || !c->qe_identity || !c->root_ca_crl || !c->pck_crl || !c->tcb_info_issuer_chain ||
	    !c->qe_identity_issuer_chain || !c->pck_crl_issuer_chain)
		return fail(detail, ERR_ATTEST_COLLATERAL_MISSING, "collateral: a required item is missing");
	vc = calloc(1, sizeof(*vc));
	if (!vc)
		return ERR_NOMEM;
	arena_init(&vc->arena, VCOLL_ARENA_BUDGET, 16384);
	vc->expires_at = UINT64_MAX;

	/*
	 * The anchor: the production root, or the development root only when
	 * the caller configured one and the TCB info chain ends in it. Every
	 * other chain must then end in the same certificate.
	 */
	kn[0] = t->intel_root;
	kn[1] = t->intel_dev_root;
	tcb_chain = chain_parse(c->tcb_info_issuer_chain, c->tcb_info_issuer_chain_len, kn, 2 + n_known);
	/* From here on only the chosen anchor is known as a root. */
	kn[0] = NULL;
	kn[1] = NULL;
	if (!tcb_chain) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "TCB info issuer chain is not valid PEM");
		goto out;
	}
	last = sk_X509_value(tcb_chain, sk_X509_num(tcb_chain) - 1);
	if (t->intel_root && der_equal(last, t->intel_root)) {
		vc->anchor = t->intel_root;
	} else if (t->intel_dev_root && der_equal(last, t->intel_dev_root)) {
		vc->anchor = t->intel_dev_root;
		vc->dev = 1;
	} else {
		err = fail(detail, ERR_ATTEST_ROOT_UNTRUSTED, "TCB info issuer chain does not end at a pinned root");
		goto out;
	}
	X509_up_ref(vc->anchor);
	kn[1] = vc->anchor;

	/* Root CRL first (dcap-qvl order): signed by the anchor, and the anchor itself not revoked. */
	vc->root_crl = crl_known_or_parse(pre->root_ca_crl, c->root_ca_crl, c->root_ca_crl_len);
	if (!vc->root_crl) {
		err = fail(detail, ERR_ATTEST_CRL_INVALID, "root CA CRL is not a DER CRL");
		goto out;
	}
	err = crl_check_issuer(vc->root_crl, vc->anchor, detail, "root CA CRL is not signed by the pinned root");
	if (err)
		goto out;
	if (X509_CRL_get0_by_cert(vc->root_crl, &rev, vc->anchor) == 1) {
		err = fail(detail, ERR_ATTEST_CERT_REVOKED, "the pinned root is listed in the root CA CRL");
		goto out;
	}
	err = crl_window(vc, vc->root_crl, detail, "root CA CRL");
	if (err)
		goto out;
	vc->root_crl_plain = root_crl_plain(vc->root_crl, vc->anchor);
	vc->pck_crl = crl_known_or_parse(pre->pck_crl, c->pck_crl, c->pck_crl_len);
	if (!vc->pck_crl) {
		err = fail(detail, ERR_ATTEST_CRL_INVALID, "PCK CRL is not a DER CRL");
		goto out;
	}

	/*
	 * One store for every full chain check: the anchor as the only trusted
	 * certificate, both CRLs, and revocation checked at every level.
	 */
	vc->store = X509_STORE_new();
	if (!vc->store || X509_STORE_add_cert(vc->store, vc->anchor) != 1 ||
	    X509_STORE_add_crl(vc->store, vc->root_crl) != 1 || X509_STORE_add_crl(vc->store, vc->pck_crl) != 1 ||
	    X509_STORE_set_flags(vc->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
						      X509_V_FLAG_X509_STRICT) != 1) {
		err = ERR_NOMEM;
		goto out;
	}

	/* TCB info: parse, chain (TCB Signing -> root), signature over the exact bytes. */
	err = dcap_tcb_info_parse(c->tcb_info, c->tcb_info_len, &vc->arena, &vc->tcb, detail);
	if (err)
		goto out;
	add_window(vc, vc->tcb.issue_date, vc->tcb.next_update, ERR_ATTEST_TCB_INFO_FUTURE, ERR_ATTEST_TCB_INFO_EXPIRED,
		   "TCB info");
	parsed = tcb_chain;   /* parsed above to find the anchor; collateral_chain takes it */
	tcb_chain = NULL;
	err = collateral_chain(vc, parsed, c->tcb_info_issuer_chain, c->tcb_info_issuer_chain_len,
			       "Intel SGX TCB Signing", 0, &tcb_chain, detail, "TCB info issuer chain");
	if (err)
		goto out;
	tcb_chain_win = vc->n_win - 1;   /* collateral_chain's last act is recording the chain's window */
	if (ecdsa_verify_p256_sha256(X509_get0_pubkey(sk_X509_value(tcb_chain, 0)), c->tcb_info_signature,
				     c->tcb_info, c->tcb_info_len)) {
		err = fail(detail, ERR_ATTEST_TCB_INFO_SIGNATURE, "TCB info signature does not verify");
		goto out;
	}

	/* QE identity: the same three steps. */
	err = dcap_qe_identity_parse(c->qe_identity, c->qe_identity_len, &vc->arena, &vc->qeid, detail);
	if (err)
		goto out;
	add_window(vc, vc->qeid.issue_date, vc->qeid.next_update, ERR_ATTEST_QE_IDENTITY_FUTURE,
		   ERR_ATTEST_QE_IDENTITY_EXPIRED, "QE identity");
	if (c->qe_identity_issuer_chain_len == c->tcb_info_issuer_chain_len &&
	    memcmp(c->qe_identity_issuer_chain, c->tcb_info_issuer_chain, c->tcb_info_issuer_chain_len) == 0) {
		/*
		 * Byte-for-byte the TCB info's issuer chain (Intel signs both with
		 * the same TCB Signing certificate and serves the same PEM): the
		 * parse, the X509_STORE check and the name checks would repeat, with
		 * the same store, the same result. Only its window is recorded again,
		 * under this item's name.
		 */
		const struct dcap_window *w = &vc->win[tcb_chain_win];

		add_window(vc, w->from, w->to, w->err_before, w->err_after, "QE identity issuer chain");
		qe_chain = sk_X509_dup(tcb_chain);
		if (!qe_chain) {
			err = ERR_NOMEM;
			goto out;
		}
		for (int i = 0; i < sk_X509_num(qe_chain); i++)
			X509_up_ref(sk_X509_value(qe_chain, i));
	} else {
		/* collateral_chain takes the parse (NULL: it parses with the anchor alone and fails there). */
		parsed = chain_parse(c->qe_identity_issuer_chain, c->qe_identity_issuer_chain_len, kn + 1, 1 + n_known);
		err = collateral_chain(vc, parsed, c->qe_identity_issuer_chain, c->qe_identity_issuer_chain_len,
				       "Intel SGX TCB Signing", 0, &qe_chain, detail, "QE identity issuer chain");
		parsed = NULL;
		if (err)
			goto out;
	}
	if (ecdsa_verify_p256_sha256(X509_get0_pubkey(sk_X509_value(qe_chain, 0)), c->qe_identity_signature,
				     c->qe_identity, c->qe_identity_len)) {
		err = fail(detail, ERR_ATTEST_QE_IDENTITY_SIGNATURE, "QE identity signature does not verify");
		goto out;
	}

	/*
	 * PCK CRL: its issuer chain (PCK CA -> root, PCK CA not revoked by the
	 * root CRL), then the CRL's name and signature against that CA. The CA
	 * becomes the anchor of the fast path for PCK leaves it issued.
	 */
	crl_chain = chain_parse(c->pck_crl_issuer_chain, c->pck_crl_issuer_chain_len, kn + 1, 1 + n_known);
	n = crl_chain ? sk_X509_num(crl_chain) : 0;
	if (n < 2) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK CRL issuer chain is not valid PEM");
		goto out;
	}
	vc->pck_ca_platform = dcap_pck_ca_type(X509_get_subject_name(sk_X509_value(crl_chain, 0)));
	if (vc->pck_ca_platform < 0) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK CRL issuer is not a PCK Platform/Processor CA");
		goto out;
	}
	parsed = crl_chain;
	crl_chain = NULL;
	err = collateral_chain(vc, parsed, c->pck_crl_issuer_chain, c->pck_crl_issuer_chain_len,
			       vc->pck_ca_platform ? "Intel SGX PCK Platform CA" : "Intel SGX PCK Processor CA", 1,
			       &crl_chain, detail, "PCK CRL issuer chain");
	if (err)
		goto out;
	vc->pck_ca = sk_X509_value(crl_chain, 0);
	X509_up_ref(vc->pck_ca);
	err = keep_ders(vc);
	if (err)
		goto out;
	err = crl_check_issuer(vc->pck_crl, vc->pck_ca, detail, "PCK CRL is not signed by its issuer chain's CA");
	if (err)
		goto out;
	err = crl_window(vc, vc->pck_crl, detail, "PCK CRL");
	if (err)
		goto out;

	/* Fast path store: leaves issued by this (already verified, not revoked) CA; revocation checked by hand. */
	vc->store_pck_ca = X509_STORE_new();
	if (!vc->store_pck_ca || X509_STORE_add_cert(vc->store_pck_ca, vc->pck_ca) != 1 ||
	    X509_STORE_set_flags(vc->store_pck_ca, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT) != 1) {
		err = ERR_NOMEM;
		goto out;
	}

	if (c->pck_certificate_chain) {
		vc->pck_chain_override = pem_certs_parse(c->pck_certificate_chain, c->pck_certificate_chain_len);
		if (!vc->pck_chain_override) {
			err = fail(detail, ERR_ATTEST_CERT_CHAIN, "collateral pck_certificate_chain is not valid PEM");
			goto out;
		}
	}
	vc->issued_at = MIN(vc->tcb.issue_date, vc->qeid.issue_date);
	vcoll_id(vc, c);
	*out = vc;
	vc = NULL;
	err = ERR_OK;
out:
	sk_X509_pop_free(tcb_chain, X509_free);
	sk_X509_pop_free(qe_chain, X509_free);
	sk_X509_pop_free(crl_chain, X509_free);
	dcap_vcoll_free(vc);
	ERR_clear_error();
	return err;
}

/* ---------------------------------------------------------------------------------------------- */
/* The platform cache                                                                             */

struct dcap_platform {
	uint64_t from, to;              /* PCK chain validity (inclusive) */
	struct dcap_pck_info pck;
	size_t qe_level;                /* index into vc->qeid.levels */
	EVP_PKEY *att_key;
};

struct dcap_cache_entry {
	uint8_t key[32];
	int used;
	struct dcap_platform p;
};

struct dcap_cache {
	size_t n;
	struct dcap_cache_entry *e;
	struct dcap_cache_stats st;
};

struct dcap_cache *dcap_cache_new(size_t slots)
{
	struct dcap_cache *c;

	if (slots == 0 || slots > (1u << 24))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(slots, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->n = slots;
	return c;
}

void dcap_cache_clear(struct dcap_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		EVP_PKEY_free(c->e[i].p.att_key);
		memset(&c->e[i], 0, sizeof(c->e[i]));
	}
}

void dcap_cache_free(struct dcap_cache *c)
{
	if (!c)
		return;
	dcap_cache_clear(c);
	free(c->e);
	free(c);
}

void dcap_cache_stats(const struct dcap_cache *c, struct dcap_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (c)
		*out = c->st;
}

static struct dcap_cache_entry *cache_slot(struct dcap_cache *c, const uint8_t key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &c->e[h % c->n];
}

/* ---------------------------------------------------------------------------------------------- */
/* Per-quote verification                                                                         */

static err_t vfail(struct attest_verdict *v, err_t e, const char *why)
{
	v->err = e;
	v->detail = why;
	return e;
}

/*
 * The cached path's first-seen platform without OpenSSL's certificate
 * parser (in OpenSSL 3.0 a d2i_X509 costs more than a signature check): the
 * quote's chain must be the leaf, then exactly the DER of the PCK CA that
 * signed the verified PCK CRL [, then exactly the anchor's DER]; the leaf
 * (dcap_pck_leaf_parse) must name that CA (issuer bytes and AKID), verify
 * with its key, and not be on its CRL. The CA and the anchor were verified
 * with the collateral, so this is the chain check of the OpenSSL path for
 * this one shape. NULL means "not this way", for any reason, and the
 * OpenSSL path then decides (and names the error, if any). On success
 * returns the leaf's key (caller frees) with pl's PCK fields and window set.
 */
static EVP_PKEY *pck_leaf_fast(const struct dcap_vcoll *vc, const struct dcap_quote *q, struct dcap_platform *pl)
{
	const char *pem = NULL;
	size_t len = quote_chain_text(q, &pem), pos = 0, nblk = 0, dl = 0;
	struct dcap_pck_leaf leaf;
	ASN1_INTEGER *serial = NULL;
	X509_REVOKED *rev = NULL;
	EVP_PKEY *key = NULL;
	uint8_t *der = NULL;
	const uint8_t *sp;

	if (!vc->pck_ca_pem || !vc->anchor_pem || len == 0)
		return NULL;
	/*
	 * Framing as pem_certs_parse (blocks from BEGIN to END marker, whitespace
	 * between them), but every block must be the canonical PEM text of its
	 * DER (pem_canonical): a form OpenSSL's PEM reader takes and decodes to
	 * exactly that DER. Any other spelling (CRLF, other line lengths, the
	 * URL-safe alphabet, missing padding, a BEGIN line without its newline)
	 * is left to the OpenSSL path, which accepts or refuses it itself.
	 */
	for (;;) {
		const char *block;
		size_t block_len;
		int r = pem_next_block(pem, len, &pos, &block, &block_len);

		if (r == 0)
			break;
		if (r < 0 || nblk == 3)
			goto out;
		if (nblk == 0) {
			/* The leaf: decode the lines between the markers, then require the canonical text of that DER. */
			der = block_der_canonical(block, block_len, &dl);
			if (!der)
				goto out;
		} else if (nblk == 1) {
			/* The PCK CA that signed the verified PCK CRL, byte for byte. */
			if (block_len != vc->pck_ca_pem_len || memcmp(block, vc->pck_ca_pem, block_len) != 0)
				goto out;
		} else if (block_len != vc->anchor_pem_len || memcmp(block, vc->anchor_pem, block_len) != 0) {
			goto out;   /* an optional third block must be the anchor */
		}
		nblk++;
	}
	if (nblk < 2)
		goto out;
	if (dcap_pck_leaf_parse(der, dl, &leaf))
		goto out;
	if (leaf.issuer_len != vc->pck_ca_subject_len || memcmp(leaf.issuer, vc->pck_ca_subject, leaf.issuer_len) != 0)
		goto out;
	if (vc->pck_ca_skid && (leaf.akid_len != vc->pck_ca_skid_len || memcmp(leaf.akid, vc->pck_ca_skid, leaf.akid_len)))
		goto out;
	if (ecdsa_verify_p256_sha256(X509_get0_pubkey(vc->pck_ca), leaf.sig, leaf.tbs, leaf.tbs_len))
		goto out;
	sp = leaf.serial_tlv;
	serial = d2i_ASN1_INTEGER(NULL, &sp, (long)leaf.serial_tlv_len);
	if (!serial || sp != leaf.serial_tlv + leaf.serial_tlv_len || X509_CRL_get0_by_serial(vc->pck_crl, &rev, serial) == 1)
		goto out;
	if (dcap_pck_ext_parse(leaf.sgx_ext, leaf.sgx_ext_len, &pl->pck, NULL))
		goto out;
	pl->pck.ca_platform = vc->pck_ca_platform;
	pl->from = leaf.not_before;
	pl->to = leaf.not_after;
	/* The CA's key is P-256 (it just verified the leaf): its group is reused instead of rebuilt. */
	key = ec_p256_pubkey_from_xy_like(X509_get0_pubkey(vc->pck_ca), leaf.pubkey);
out:
	if (!key)
		memset(pl, 0, sizeof(*pl));
	ASN1_INTEGER_free(serial);
	free(der);
	ERR_clear_error();
	return key;
}

err_t dcap_quote_pck_locate(const struct dcap_quote *q, struct dcap_pck_info *out)
{
	const char *pem = NULL, *block;
	size_t len, pos = 0, block_len, dl = 0;
	struct dcap_pck_leaf leaf;
	uint8_t *der = NULL;
	int ca;
	err_t err = ERR_ATTEST_CERT_CHAIN;

	memset(out, 0, sizeof(*out));
	/* The first block, framed as pck_leaf_fast frames it. */
	if (!q || !(len = quote_chain_text(q, &pem)) || pem_next_block(pem, len, &pos, &block, &block_len) != 1)
		return ERR_ATTEST_CERT_CHAIN;
	der = block_der_canonical(block, block_len, &dl);
	if (!der || dcap_pck_leaf_parse(der, dl, &leaf) != ERR_OK || (ca = dcap_pck_leaf_ca_type(&leaf)) < 0 ||
	    dcap_pck_ext_parse(leaf.sgx_ext, leaf.sgx_ext_len, out, NULL) != ERR_OK)
		goto out;
	out->ca_platform = ca;
	err = ERR_OK;
out:
	if (err != ERR_OK)
		memset(out, 0, sizeof(*out));
	free(der);
	return err;
}

/*
 * Steps 5 and 8-10 of the reference (PCK chain, QE report signature, QE
 * report data, QE identity): everything a platform's certification data
 * proves, independent of the quote signature. Fills *pl (att_key is the
 * caller's on success). With allow_fast (the cached path and the one-shot
 * dcap_verify) the PCK leaf is first tried through pck_leaf_fast; *used_fast
 * says whether that worked.
 */
static err_t verify_platform(const struct dcap_vcoll *vc, const struct dcap_quote *q, enum attest_tcb_mode mode,
			     int allow_fast, int *used_fast, struct dcap_platform *pl, const char **detail)
{
	STACK_OF(X509) *parsed = NULL, *untrusted = NULL, *verified = NULL;
	STACK_OF(X509) *chain;
	X509_REVOKED *rev = NULL;
	struct attest_sgx_report qe;
	const struct dcap_qe_identity *id = &vc->qeid;
	uint8_t h[SHA256_LEN];
	X509 *leaf, *ca;
	EVP_PKEY *leaf_key = NULL;
	int n, fast;
	err_t err;

	memset(pl, 0, sizeof(*pl));
	if (allow_fast && !vc->pck_chain_override && q->cert_type == DCAP_CERT_PCK_CHAIN) {
		leaf_key = pck_leaf_fast(vc, q, pl);
		*used_fast = leaf_key != NULL;
		if (leaf_key)
			goto qe_report;
	}
	if (vc->pck_chain_override) {
		chain = vc->pck_chain_override;
	} else {
		if (q->cert_type != DCAP_CERT_PCK_CHAIN)
			return fail(detail, ERR_ATTEST_CERT_DATA,
				    "quote: certification data is not a PCK chain and the collateral has none");
		X509 *const known[2] = { vc->pck_ca, vc->anchor };

		parsed = chain_parse((const char *)q->cert_data, q->cert_data_len, known, 2);
		if (!parsed)
			return fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK certificate chain in the quote is not valid PEM");
		chain = parsed;
	}
	n = sk_X509_num(chain);
	/* leaf, PCK CA [, root]: Intel's chains have exactly this shape. */
	if (n < 2 || n > 3) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK certificate chain is not leaf, CA [, root]");
		goto out;
	}
	if (n == 3 && X509_cmp(sk_X509_value(chain, 2), vc->anchor) != 0) {
		err = fail(detail, ERR_ATTEST_ROOT_UNTRUSTED, "PCK certificate chain does not end at the pinned root");
		goto out;
	}
	leaf = sk_X509_value(chain, 0);
	ca = sk_X509_value(chain, 1);

	/*
	 * The CA that signed the PCK CRL was verified with the collateral, so
	 * when the quote carries that same CA only the leaf's signature is new:
	 * the fast path (allow_fast) checks just that, plus the leaf against
	 * the already-verified PCK CRL. Otherwise (no cache, or another CA) the
	 * whole chain goes through X509_STORE with CRL_CHECK_ALL, whose CRL
	 * lookup must then find a CRL for the quote's CA. The vector tests run
	 * both and require the same verdicts.
	 */
	fast = allow_fast && X509_cmp(ca, vc->pck_ca) == 0;
	if (fast) {
		err = chain_verify(vc->store_pck_ca, leaf, NULL, CRL_STORE, &verified, detail, "PCK certificate chain");
		if (err)
			goto out;
		if (X509_CRL_get0_by_cert(vc->pck_crl, &rev, leaf) == 1) {
			err = fail(detail, ERR_ATTEST_CERT_REVOKED, "PCK certificate is revoked");
			goto out;
		}
	} else {
		untrusted = sk_X509_new_null();
		if (!untrusted || !sk_X509_push(untrusted, ca)) {
			err = ERR_NOMEM;
			goto out;
		}
		err = chain_verify(vc->store, leaf, untrusted, CRL_STORE, &verified, detail, "PCK certificate chain");
		if (err)
			goto out;
	}
	err = chain_window(verified, &pl->from, &pl->to, detail, "PCK certificate chain");
	if (err)
		goto out;
	if (!is_end_entity(leaf)) {
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK leaf is a CA certificate");
		goto out;
	}
	err = dcap_pck_cert_info(leaf, &pl->pck, detail);
	if (err)
		goto out;

	leaf_key = X509_get0_pubkey(leaf);
	if (!leaf_key || EVP_PKEY_up_ref(leaf_key) != 1) {
		leaf_key = NULL;
		err = fail(detail, ERR_ATTEST_CERT_CHAIN, "PCK leaf has no usable public key");
		goto out;
	}

qe_report:
	/* Step 8: the QE report is signed by the PCK key. */
	if (ecdsa_verify_p256_sha256(leaf_key, q->qe_report_sig, q->qe_report, DCAP_SGX_REPORT_LEN)) {
		err = fail(detail, ERR_ATTEST_QE_REPORT_SIGNATURE, "QE report signature does not verify with the PCK key");
		goto out;
	}
	/* Step 9: the QE report binds the attestation key (and QE auth data). */
	{
		const void *parts[2] = { q->att_key, q->qe_auth };
		size_t lens[2] = { 64, q->qe_auth_len };

		sha256_parts(parts, lens, 2, h);
		if (memcmp(h, q->qe_report + 0x140, SHA256_LEN) != 0) {
			err = fail(detail, ERR_ATTEST_QE_REPORT_DATA, "QE report data is not SHA-256(attestation key || QE auth data)");
			goto out;
		}
	}
	/* Step 10: the QE is the one Intel's identity describes, at a TCB level it lists. */
	dcap_sgx_report_decode(q->qe_report, &qe);
	{
		uint32_t want_misc = mode == ATTEST_TCB_INTEL ? id->miscselect : (id->miscselect & id->miscselect_mask);
		int attr_ok = 1;

		if ((qe.miscselect & id->miscselect_mask) != want_misc) {
			err = fail(detail, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE MISCSELECT does not match the QE identity");
			goto out;
		}
		for (int i = 0; i < 16; i++) {
			uint8_t want = mode == ATTEST_TCB_INTEL ? id->attributes[i]
								: (uint8_t)(id->attributes[i] & id->attributes_mask[i]);
			if ((qe.attributes[i] & id->attributes_mask[i]) != want)
				attr_ok = 0;
		}
		if (!attr_ok) {
			err = fail(detail, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE ATTRIBUTES do not match the QE identity");
			goto out;
		}
	}
	if (memcmp(qe.mrsigner, id->mrsigner, 32) != 0) {
		err = fail(detail, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE MRSIGNER does not match the QE identity");
		goto out;
	}
	if (qe.isvprodid != id->isvprodid) {
		err = fail(detail, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE ISVPRODID does not match the QE identity");
		goto out;
	}
	if (qe.attributes[0] & 0x02) {
		err = fail(detail, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE is a debug enclave");
		goto out;
	}
	for (pl->qe_level = 0; pl->qe_level < id->n_levels; pl->qe_level++)
		if (qe.isvsvn >= id->levels[pl->qe_level].isvsvn)
			break;
	if (pl->qe_level == id->n_levels) {
		err = fail(detail, ERR_ATTEST_TCB_NOT_SUPPORTED, "QE ISVSVN is below every QE identity TCB level");
		goto out;
	}
	pl->att_key = ec_p256_pubkey_from_xy_like(leaf_key, q->att_key);   /* leaf_key is P-256: it verified the QE report */
	if (!pl->att_key) {
		err = fail(detail, ERR_ATTEST_QUOTE_SIGNATURE, "attestation key is not a P-256 point");
		goto out;
	}
	err = ERR_OK;
out:
	EVP_PKEY_free(leaf_key);
	sk_X509_free(untrusted);
	sk_X509_pop_free(verified, X509_free);
	sk_X509_pop_free(parsed, X509_free);
	ERR_clear_error();
	return err;
}

/* Append `src` to `dst` without duplicates, keeping first-seen order (dcap-qvl's merge). Strings copied into `a`. */
static err_t adv_merge(struct arena *a, const char ***ids, size_t *n, size_t *cap, const struct dcap_advisories *src)
{
	for (size_t i = 0; i < src->n; i++) {
		int dup = 0;

		for (size_t k = 0; k < *n && !dup; k++)
			dup = strcmp((*ids)[k], src->ids[i]) == 0;
		if (dup)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 8;
			const char **grown = arena_alloc(a, ncap * sizeof(*grown));

			if (!grown)
				return arena_err(a);
			if (*n)
				memcpy(grown, *ids, *n * sizeof(*grown));
			*ids = grown;
			*cap = ncap;
		}
		(*ids)[*n] = arena_strdup(a, src->ids[i]);
		if (!(*ids)[*n])
			return arena_err(a);
		(*n)++;
	}
	return ERR_OK;
}

static err_t level_set(struct arena *a, struct attest_tcb_level *out, enum tcb_status st,
		       const struct dcap_advisories *adv)
{
	size_t cap = 0;

	out->status = st;
	out->advisory_ids = NULL;
	out->n_advisory_ids = 0;
	return adv ? adv_merge(a, &out->advisory_ids, &out->n_advisory_ids, &cap, adv) : ERR_OK;
}

static const uint8_t *measure_ref(const struct attest_verdict *v, enum attest_measure m, size_t *len)
{
	int td = v->tee == ATTEST_TEE_TDX, sgx = v->tee == ATTEST_TEE_SGX;

	*len = 48;
	switch (m) {
	case ATTEST_M_MRTD:
		return td ? v->td.mrtd : NULL;
	case ATTEST_M_RTMR0:
	case ATTEST_M_RTMR1:
	case ATTEST_M_RTMR2:
	case ATTEST_M_RTMR3:
		return td ? v->td.rtmr[m - ATTEST_M_RTMR0] : NULL;
	case ATTEST_M_MRCONFIGID:
		return td ? v->td.mrconfigid : NULL;
	case ATTEST_M_MRENCLAVE:
		*len = 32;
		return sgx ? v->sgx.mrenclave : NULL;
	case ATTEST_M_MRSIGNER:
		*len = 32;
		return sgx ? v->sgx.mrsigner : NULL;
	default:
		return NULL;   /* SEV-SNP registers never match a DCAP quote */
	}
}

/* Step 14 and the relying party's policy. */
static err_t apply_policy(const struct dcap_vcoll *vc, const struct dcap_quote *q, const struct attest_policy *p,
			  uint64_t now, struct attest_verdict *v)
{
	uint32_t accepted = p->accepted_statuses ? p->accepted_statuses : 1u << TCB_UP_TO_DATE;

	if (v->tcb.status == TCB_REVOKED)
		return vfail(v, ERR_ATTEST_TCB_REVOKED, "TCB status is Revoked");

	if (v->tee == ATTEST_TEE_SGX) {
		if ((v->sgx.attributes[0] & 0x02) && !p->allow_debug)
			return vfail(v, ERR_ATTEST_DEBUG, "enclave DEBUG attribute is set");
	} else {
		uint64_t attr = 0;
		/*
		 * Bits that may be set: 0 DEBUG (own check), 28 SEPT_VE_DISABLE,
		 * 30 PKS, 31 KL, 63 PERFMON. Everything else is reserved. (dcap-qvl
		 * Rust HEAD builds this mask from the wrong byte and rejects
		 * PERFMON; the JS port and the TDX ABI agree with this one.)
		 */
		const uint64_t allowed = 1ull << 0 | 1ull << 28 | 1ull << 30 | 1ull << 31 | 1ull << 63;

		for (int i = 7; i >= 0; i--)
			attr = attr << 8 | v->td.td_attributes[i];
		if ((attr & 1) && !p->allow_debug)
			return vfail(v, ERR_ATTEST_DEBUG, "TD DEBUG attribute is set");
		if (attr & ~allowed)
			return vfail(v, ERR_ATTEST_TD_ATTRIBUTES, "reserved TD attribute bits are set");
		if (!(attr & (1ull << 28)))
			return vfail(v, ERR_ATTEST_TD_ATTRIBUTES, "SEPT_VE_DISABLE is not set");
		if (q->body_type == DCAP_BODY_TD15 && !p->allow_service_td) {
			static const uint8_t zero[48];

			if (memcmp(v->td.mrservicetd, zero, 48) != 0)
				return vfail(v, ERR_ATTEST_SERVICE_TD, "MRSERVICETD is not zero");
		}
	}

	if (!(accepted & (1u << v->tcb.status)))
		return vfail(v, ERR_ATTEST_TCB_STATUS, "TCB status is not accepted by the policy");
	if (!p->allow_any_advisory) {
		for (size_t i = 0; i < v->tcb.n_advisory_ids; i++) {
			int ok = 0;

			for (size_t k = 0; k < p->n_allowed_advisories && !ok; k++)
				ok = p->allowed_advisories[k] && strcmp(p->allowed_advisories[k], v->tcb.advisory_ids[i]) == 0;
			if (!ok)
				return vfail(v, ERR_ATTEST_ADVISORY, "an advisory ID is not allowed by the policy");
		}
	}
	if (p->min_tcb_eval_number &&
	    (vc->tcb.eval_number < p->min_tcb_eval_number || vc->qeid.eval_number < p->min_tcb_eval_number))
		return vfail(v, ERR_ATTEST_TCB_EVAL_NUMBER, "tcbEvaluationDataNumber is below the policy minimum");
	if (p->max_collateral_age_s && now - v->collateral_issued_at > p->max_collateral_age_s)
		return vfail(v, ERR_ATTEST_COLLATERAL_STALE, "collateral issue date is older than the policy allows");
	if (p->expected_report_data) {
		const uint8_t *rd = v->tee == ATTEST_TEE_TDX ? v->td.report_data : v->sgx.report_data;

		if (memcmp(rd, p->expected_report_data, 64) != 0)
			return vfail(v, ERR_ATTEST_REPORT_DATA, "report data does not match the expected value");
	}
	for (size_t i = 0; i < p->n_expected && i < ATTEST_MAX_EXPECTED; i++) {
		size_t len;
		const uint8_t *have = measure_ref(v, p->expected[i].which, &len);

		if (!have || p->expected[i].len != len || memcmp(have, p->expected[i].value, len) != 0)
			return vfail(v, ERR_ATTEST_MEASUREMENT, "a measurement does not match the expected value");
	}
	return ERR_OK;
}

static void fill_report(const struct dcap_quote *q, struct attest_verdict *v)
{
	if (q->tee_type == DCAP_TEE_TDX) {
		v->tee = ATTEST_TEE_TDX;
		v->report_type = q->body_type == DCAP_BODY_TD15 ? ATTEST_REPORT_TD15 : ATTEST_REPORT_TD10;
		dcap_td_report_decode(q->body, q->body_len, &v->td);
	} else {
		v->tee = ATTEST_TEE_SGX;
		v->report_type = ATTEST_REPORT_SGX;
		dcap_sgx_report_decode(q->body, &v->sgx);
	}
}

/*
 * dcap_verify_quote, with the choice of PCK chain check made by the caller:
 * allow_fast takes pck_leaf_fast (then the partial chain to the verified PCK
 * CA) before the full X509_STORE chain; see verify_platform. Both give the
 * same verdicts (tests run both on every vector).
 */
static err_t verify_quote(const struct dcap_vcoll *vc, const uint8_t *quote, size_t n, const struct attest_policy *p,
			  uint64_t now, struct dcap_cache *cache, int allow_fast, struct arena *a,
			  struct attest_verdict *v)
{
	struct dcap_quote q;
	struct dcap_platform plat, *pl = &plat;
	struct dcap_cache_entry *slot = NULL;
	struct dcap_tcb_eval tr;
	uint8_t key[32];
	size_t cap = 0;
	err_t err;

	memset(v, 0, sizeof(*v));
	memset(&plat, 0, sizeof(plat));
	if (!p)
		p = &default_policy;
	if (!vc || !quote || !a)
		return vfail(v, ERR_INVALID_ARG, "dcap: missing collateral, quote or arena");

	/* Step 1: parse and header rules. */
	err = dcap_quote_parse(quote, n, &q, &v->detail);
	if (err)
		return v->err = err;
	fill_report(&q, v);
	v->dev = vc->dev;
	v->tcb_eval_number = vc->tcb.eval_number;
	v->collateral_issued_at = vc->issued_at;
	v->collateral_expires_at = vc->expires_at;
	/* dcap-qvl: "SGX TEE quote must have version 3"; Intel also takes SGX in v4/v5. */
	if (q.tee_type == DCAP_TEE_SGX && q.version != 3 && p->tcb_mode != ATTEST_TCB_INTEL)
		return vfail(v, ERR_ATTEST_QUOTE_VERSION, "SGX quote is not version 3");

	/* Steps 2-4, time part: every collateral item must be valid at `now`, in dcap-qvl's order. */
	for (size_t i = 0; i < vc->n_win; i++) {
		const struct dcap_window *w = &vc->win[i];

		if (now < w->from)
			return vfail(v, w->err_before, w->what);
		if (now > w->to)
			return vfail(v, w->err_after, w->what);
	}
	/* Step 4: the QE identity is for the QE that signs this kind of quote. */
	if (vc->qeid.id != (q.tee_type == DCAP_TEE_TDX ? DCAP_QE_ID_TD_QE : DCAP_QE_ID_QE))
		return vfail(v, ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE identity is not for this quote's QE (QE / TD_QE)");

	/* Steps 5, 8, 9, 10: from the cache when this platform's certification data already verified. */
	if (cache) {
		uint8_t mode = (uint8_t)p->tcb_mode;
		const void *parts[3] = { vc->id, &mode, q.platform_data };
		size_t lens[3] = { sizeof(vc->id), 1, q.platform_data_len };

		sha256_parts(parts, lens, 3, key);
		slot = cache_slot(cache, key);
		if (slot->used && memcmp(slot->key, key, 32) == 0 && now >= slot->p.from && now <= slot->p.to) {
			cache->st.hits++;
			pl = &slot->p;
		} else {
			cache->st.misses++;
		}
	}
	if (pl == &plat) {
		int used_fast = 0;

		err = verify_platform(vc, &q, p->tcb_mode, allow_fast, &used_fast, &plat, &v->detail);
		if (cache) {
			if (used_fast)
				cache->st.leaf_fast++;
			else
				cache->st.leaf_openssl++;
		}
		if (err) {
			EVP_PKEY_free(plat.att_key);
			return v->err = err;
		}
		if (now < plat.from || now > plat.to) {
			EVP_PKEY_free(plat.att_key);
			return vfail(v, ERR_ATTEST_CERT_EXPIRED, "PCK certificate chain is not valid at this time");
		}
		if (slot) {
			if (slot->used) {
				cache->st.evictions++;
				EVP_PKEY_free(slot->p.att_key);
			}
			memcpy(slot->key, key, 32);
			slot->p = plat;
			slot->used = 1;
			cache->st.inserts++;
			pl = &slot->p;
			plat.att_key = NULL;   /* owned by the cache now */
		}
	}
	memcpy(v->fmspc, pl->pck.fmspc, 6);
	memcpy(v->pceid, pl->pck.pceid, 2);
	memcpy(v->ppid, pl->pck.ppid, 16);
	v->has_ppid = 1;
	v->pck_ca_platform = pl->pck.ca_platform;
	v->collateral_expires_at = MIN(v->collateral_expires_at, pl->to);

	/* Step 11: the quote signature over header and body. */
	if (ecdsa_verify_p256_sha256(pl->att_key, q.signature, quote, q.signed_len)) {
		err = vfail(v, ERR_ATTEST_QUOTE_SIGNATURE, "quote signature does not verify with the attestation key");
		goto out;
	}

	/* Step 6 (dcap-qvl runs it here): the TCB info is for this platform and this kind of TEE. */
	if (memcmp(pl->pck.fmspc, vc->tcb.fmspc, 6) != 0) {
		err = vfail(v, ERR_ATTEST_TCB_INFO_MISMATCH, "FMSPC of the PCK certificate differs from the TCB info's");
		goto out;
	}
	if (memcmp(pl->pck.pceid, vc->tcb.pceid, 2) != 0) {
		err = vfail(v, ERR_ATTEST_TCB_INFO_MISMATCH, "PCE-ID of the PCK certificate differs from the TCB info's");
		goto out;
	}
	if (q.tee_type == DCAP_TEE_TDX ? vc->tcb.id != DCAP_TCB_ID_TDX : vc->tcb.id == DCAP_TCB_ID_TDX) {
		err = vfail(v, ERR_ATTEST_TCB_INFO_MISMATCH, "TCB info id does not match the quote's TEE type");
		goto out;
	}
	if (vc->tcb.version == 2 && p->tcb_mode != ATTEST_TCB_INTEL) {
		/* dcap-qvl cannot decode v2; Intel QVL accepts it for SGX. See docs/attestation.md. */
		err = vfail(v, ERR_ATTEST_TCB_INFO_FORMAT, "TCB info v2 is accepted only in the Intel TCB mode");
		goto out;
	}

	/* Steps 7, 12, 13. */
	err = dcap_tcb_evaluate(&vc->tcb, &vc->qeid.levels[pl->qe_level], &pl->pck,
				q.tee_type == DCAP_TEE_TDX ? &v->td : NULL, q.body_type, p->tcb_mode, &tr, &v->detail);
	if (err) {
		v->err = err;
		goto out;
	}
	if ((err = level_set(a, &v->platform, tr.platform, tr.platform_adv)) ||
	    (err = level_set(a, &v->qe, tr.qe, tr.qe_adv)) ||
	    (err = level_set(a, &v->module, tr.has_module ? tr.module : TCB_UP_TO_DATE, tr.module_adv))) {
		vfail(v, err, "dcap: out of memory for advisory IDs");
		goto out;
	}
	v->tcb.status = tr.merged;
	if ((err = adv_merge(a, &v->tcb.advisory_ids, &v->tcb.n_advisory_ids, &cap, tr.platform_adv)) ||
	    (tr.has_module && (err = adv_merge(a, &v->tcb.advisory_ids, &v->tcb.n_advisory_ids, &cap, tr.module_adv))) ||
	    (err = adv_merge(a, &v->tcb.advisory_ids, &v->tcb.n_advisory_ids, &cap, tr.qe_adv))) {
		vfail(v, err, "dcap: out of memory for advisory IDs");
		goto out;
	}

	/* Step 14 and the relying party's policy. */
	err = apply_policy(vc, &q, p, now, v);
	if (!err)
		v->err = ERR_OK;
out:
	EVP_PKEY_free(plat.att_key);
	return err;
}

err_t dcap_verify_quote(const struct dcap_vcoll *vc, const uint8_t *quote, size_t n, const struct attest_policy *p,
			uint64_t now, struct dcap_cache *cache, struct arena *a, struct attest_verdict *v)
{
	/* Without a cache, the full X509_STORE chain: the reference the fast path is tested against. */
	return verify_quote(vc, quote, n, p, now, cache, cache != NULL, a, v);
}

err_t dcap_verify(const uint8_t *quote, size_t n, const struct dcap_collateral *c, const struct attest_trust *t,
		  const struct attest_policy *p, uint64_t now, struct arena *a, struct attest_verdict *v)
{
	struct dcap_quote q;
	struct dcap_vcoll *vc = NULL;
	err_t err;

	memset(v, 0, sizeof(*v));
	/* dcap-qvl decodes the quote before looking at the collateral; so do we, so errors come out in its order. */
	err = dcap_quote_parse(quote, n, &q, &v->detail);
	if (err)
		return v->err = err;
	err = dcap_vcoll_new(c, t, &vc, &v->detail);
	if (err) {
		fill_report(&q, v);
		return v->err = err;
	}
	/*
	 * The PCK CA was just verified with the collateral, so the leaf needs only
	 * its own checks (pck_leaf_fast, falling back to OpenSSL): the same
	 * verdict as the full chain at a fraction of the cost.
	 */
	err = verify_quote(vc, quote, n, p, now, NULL, 1, a, v);
	dcap_vcoll_free(vc);
	return err;
}
