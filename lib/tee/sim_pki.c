/* SPDX-License-Identifier: Apache-2.0 */
/* The sim backend's development PKI: seed-derived keys, RFC 6979 ECDSA, multi-prime RSA-PSS, and DER certificates and CRLs. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "enc.h"
#include "sim_internal.h"

/*
 * Why everything is written by hand: OpenSSL's X509_sign and ECDSA use
 * random nonces (RFC 6979 arrives only in 3.2) and RSA-PSS random salts,
 * and its encoders change between versions. A dev PKI whose bytes depend
 * only on the seed needs its own signer, so we emit the DER ourselves and
 * use OpenSSL for big-number and curve arithmetic and hashes only.
 */

#define SIM_DER_MAX (1u << 20)

static const char DEV_ORG[] = "DEVELOPMENT ONLY - dstack-c simulator";

/* ---- DER writer ------------------------------------------------------------------- */

size_t der_begin(struct buf_writer *w, uint8_t tag)
{
	buf_put_u8(w, tag);
	buf_put_u8(w, 0);
	return w->len - 1;
}

void der_end(struct buf_writer *w, size_t mark)
{
	size_t clen, extra = 0, t;
	uint8_t *p;

	if (w->err || mark >= w->len)
		return;
	clen = w->len - mark - 1;
	if (clen < 0x80) {
		w->p[mark] = (uint8_t)clen;
		return;
	}
	for (t = clen; t; t >>= 8)
		extra++;
	if (!buf_reserve(w, extra))
		return;
	buf_commit(w, extra);
	p = w->p + mark;
	memmove(p + 1 + extra, p + 1, clen);
	p[0] = (uint8_t)(0x80 | extra);
	for (size_t i = 0; i < extra; i++)
		p[extra - i] = (uint8_t)(clen >> (8 * i));
}

void der_tlv(struct buf_writer *w, uint8_t tag, const void *p, size_t n)
{
	size_t m = der_begin(w, tag);

	buf_put(w, p, n);
	der_end(w, m);
}

void der_uint_bytes(struct buf_writer *w, const uint8_t *be, size_t n)
{
	size_t m;

	while (n > 1 && be[0] == 0) {
		be++;
		n--;
	}
	m = der_begin(w, DER_INTEGER);
	if (n == 0 || (be[0] & 0x80))
		buf_put_u8(w, 0);
	buf_put(w, be, n);
	der_end(w, m);
}

void der_uint(struct buf_writer *w, uint64_t v)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(v >> (56 - 8 * i));
	der_uint_bytes(w, be, sizeof(be));
}

void der_time(struct buf_writer *w, uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t m;
	int year;

	if (!gmtime_r(&tt, &tm)) {
		w->err = ERR_INVALID_ARG;
		return;
	}
	year = tm.tm_year + 1900;
	if (year >= 1950 && year < 2050) {
		m = der_begin(w, 0x17);
		buf_printf(w, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			   tm.tm_min, tm.tm_sec);
	} else {
		m = der_begin(w, 0x18);
		buf_printf(w, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			   tm.tm_sec);
	}
	der_end(w, m);
}

static void der_oid(struct buf_writer *w, const uint8_t *oid, size_t n)
{
	der_tlv(w, DER_OID, oid, n);
}

/* ---- encoders ------------------------------------------------------------------------ */

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n, const char *digits)
{
	uint8_t *o = buf_reserve(w, 2 * n);

	if (!o)
		return;
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = (uint8_t)digits[p[i] >> 4];
		o[2 * i + 1] = (uint8_t)digits[p[i] & 15];
	}
	buf_commit(w, 2 * n);
}

void sim_put_hex_upper(struct buf_writer *w, const uint8_t *p, size_t n)
{
	put_hex(w, p, n, "0123456789ABCDEF");
}

void sim_put_hex_lower(struct buf_writer *w, const uint8_t *p, size_t n)
{
	put_hex(w, p, n, "0123456789abcdef");
}

void sim_put_rfc3339(struct buf_writer *w, uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		w->err = ERR_INVALID_ARG;
		return;
	}
	buf_printf(w, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

void sim_put_pem_cert(struct buf_writer *w, const uint8_t *der, size_t len)
{
	size_t blen = base64_encoded_len(len, 0);
	char *b64 = malloc(blen + 1);

	if (!b64) {
		w->err = ERR_NOMEM;
		return;
	}
	base64_encode(b64, der, len, 0);
	buf_put_str(w, "-----BEGIN CERTIFICATE-----\n");
	for (size_t off = 0; off < blen; off += 64) {
		buf_put(w, b64 + off, MIN((size_t)64, blen - off));
		buf_put_u8(w, '\n');
	}
	buf_put_str(w, "-----END CERTIFICATE-----\n");
	free(b64);
}

/* ---- EC keys ------------------------------------------------------------------------------ */

static void be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/* Public point of scalar d into k->xy. */
static err_t ec_public(const EC_GROUP *g, const BIGNUM *d, struct sim_eckey *k, BN_CTX *ctx)
{
	EC_POINT *pt = EC_POINT_new(g);
	BIGNUM *x = BN_new(), *y = BN_new();
	err_t rc = ERR_CRYPTO;

	if (!pt || !x || !y)
		goto out;
	if (!EC_POINT_mul(g, pt, d, NULL, NULL, ctx) || !EC_POINT_get_affine_coordinates(g, pt, x, y, ctx))
		goto out;
	if (BN_bn2binpad(x, k->xy, (int)k->len) < 0 || BN_bn2binpad(y, k->xy + k->len, (int)k->len) < 0)
		goto out;
	rc = ERR_OK;
out:
	EC_POINT_free(pt);
	BN_free(x);
	BN_free(y);
	return rc;
}

/* dstack mock-attestation derivation (see sim.h). */
static err_t derive_eckey(const uint8_t seed[SIM_SEED_LEN], const char *label, int nid, struct sim_eckey *k)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *d = BN_secure_new();
	const char *prefix = nid == NID_secp384r1 ? "dstack-mock-p384-v1" : "dstack-mock-p256-v1";
	err_t rc = ERR_CRYPTO;

	memset(k, 0, sizeof(*k));
	k->nid = nid;
	k->len = nid == NID_secp384r1 ? 48 : 32;
	if (!g || !ctx || !d)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	for (uint32_t counter = 0; counter < 1000; counter++) {
		uint8_t ctr[4], h[48];
		const void *parts[4] = { prefix, seed, label, ctr };
		size_t lens[4] = { strlen(prefix), SIM_SEED_LEN, strlen(label), 4 };

		be32(ctr, counter);
		if (k->len == 48)
			sha384_parts(parts, lens, 4, h);
		else
			sha256_parts(parts, lens, 4, h);
		if (!BN_bin2bn(h, (int)k->len, d))
			goto out;
		secure_wipe(h, sizeof(h));
		if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
			continue;
		if (BN_bn2binpad(d, k->d, (int)k->len) < 0)
			goto out;
		rc = ec_public(g, d, k, ctx);
		goto out;
	}
out:
	BN_clear_free(d);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return rc;
}

static int hmac(const EVP_MD *md, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen, uint8_t *out)
{
	unsigned int olen = 0;

	return HMAC(md, key, (int)klen, data, dlen, out, &olen) != NULL;
}

/*
 * RFC 6979 section 3.2 for our two curves, where the hash length equals the
 * order length (SHA-256/P-256, SHA-384/P-384), so bits2int is the identity.
 */
err_t sim_ecdsa_sign(const struct sim_eckey *key, const void *msg, size_t len, uint8_t *sig)
{
	const EVP_MD *md = key->len == 48 ? EVP_sha384() : EVP_sha256();
	const size_t q = key->len;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(key->nid);
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *d = BN_secure_new(), *e = BN_new(), *k = BN_secure_new(), *r = BN_new(), *s = BN_new();
	BIGNUM *kinv = BN_secure_new(), *t = BN_new(), *x = BN_new();
	EC_POINT *pt = NULL;
	const BIGNUM *n;
	uint8_t h[48], h1[48], V[48], K[48], buf[48 + 1 + 48 + 48];
	err_t rc = ERR_CRYPTO;

	if (!g || !ctx || !d || !e || !k || !r || !s || !kinv || !t || !x || !(pt = EC_POINT_new(g)))
		goto out;
	n = EC_GROUP_get0_order(g);
	if (q == 48)
		sha384(msg, len, h);
	else
		sha256(msg, len, h);
	if (!BN_bin2bn(key->d, (int)q, d) || !BN_bin2bn(h, (int)q, e))
		goto out;
	/* bits2octets(h1) = int(h) mod n, as q bytes */
	if (!BN_nnmod(t, e, n, ctx) || BN_bn2binpad(t, h1, (int)q) < 0)
		goto out;
	memset(V, 0x01, q);
	memset(K, 0x00, q);
	for (int step = 0; step < 2; step++) {
		memcpy(buf, V, q);
		buf[q] = (uint8_t)step;
		memcpy(buf + q + 1, key->d, q);
		memcpy(buf + 2 * q + 1, h1, q);
		if (!hmac(md, K, q, buf, 3 * q + 1, K) || !hmac(md, K, q, V, q, V))
			goto out;
	}
	for (int tries = 0; tries < 64; tries++) {
		if (!hmac(md, K, q, V, q, V) || !BN_bin2bn(V, (int)q, k))
			goto out;
		if (!BN_is_zero(k) && BN_cmp(k, n) < 0) {
			if (!EC_POINT_mul(g, pt, k, NULL, NULL, ctx) ||
			    !EC_POINT_get_affine_coordinates(g, pt, x, NULL, ctx) || !BN_nnmod(r, x, n, ctx))
				goto out;
			if (!BN_mod_inverse(kinv, k, n, ctx) || !BN_mod_mul(t, r, d, n, ctx) ||
			    !BN_mod_add(t, t, e, n, ctx) || !BN_mod_mul(s, kinv, t, n, ctx))
				goto out;
			if (!BN_is_zero(r) && !BN_is_zero(s)) {
				if (BN_bn2binpad(r, sig, (int)q) < 0 || BN_bn2binpad(s, sig + q, (int)q) < 0)
					goto out;
				rc = ERR_OK;
				goto out;
			}
		}
		memcpy(buf, V, q);
		buf[q] = 0;
		if (!hmac(md, K, q, buf, q + 1, K) || !hmac(md, K, q, V, q, V))
			goto out;
	}
out:
	secure_wipe(V, sizeof(V));
	secure_wipe(K, sizeof(K));
	secure_wipe(buf, sizeof(buf));
	EC_POINT_free(pt);
	BN_clear_free(d);
	BN_free(e);
	BN_clear_free(k);
	BN_free(r);
	BN_free(s);
	BN_clear_free(kinv);
	BN_free(t);
	BN_free(x);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return rc;
}

/* ---- multi-prime RSA ------------------------------------------------------------------------ */

/*
 * RSA-4096 from four 1024-bit primes. A two-prime RSA-4096 search costs
 * about a second per key on a small machine (each Miller-Rabin round is a
 * 2048-bit exponentiation); four 1024-bit primes cost ~1/8 of that, and the
 * public key, certificates and PSS signatures look exactly like AMD's.
 * Candidates come from SHA-256 of the seed; a sieve over small primes,
 * then base-2 Miller-Rabin, then eight more fixed bases. Fixed bases are
 * not an adversarial primality proof, which a development key whose seed
 * we pick does not need.
 */
#define SIEVE_LIMIT 32768
#define SIEVE_WINDOW 4096
#define PRIME_BYTES (SIM_RSA_BITS / 8 / SIM_RSA_PRIMES)

struct small_primes {
	uint32_t *p;
	size_t n;
};

static err_t small_primes_init(struct small_primes *sp)
{
	uint8_t *comp = calloc(SIEVE_LIMIT, 1);

	sp->n = 0;
	sp->p = malloc(sizeof(uint32_t) * (SIEVE_LIMIT / 2));
	if (!comp || !sp->p) {
		free(comp);
		free(sp->p);
		sp->p = NULL;
		return ERR_NOMEM;
	}
	for (uint32_t i = 3; i < SIEVE_LIMIT; i += 2) {
		if (comp[i])
			continue;
		sp->p[sp->n++] = i;
		for (uint32_t j = i * i; j < SIEVE_LIMIT; j += 2 * i)
			comp[j] = 1;
	}
	free(comp);
	return ERR_OK;
}

/* One Miller-Rabin round; 1 = probably prime. */
static int mr_round(const BIGNUM *w, const BIGNUM *wm1, const BIGNUM *m, int a, BN_ULONG base, BN_MONT_CTX *mont,
		    BN_CTX *ctx, BIGNUM *z)
{
	if (!BN_mod_exp_mont_word(z, base, m, w, ctx, mont))
		return -1;
	if (BN_is_one(z) || BN_cmp(z, wm1) == 0)
		return 1;
	for (int j = 1; j < a; j++) {
		if (!BN_mod_mul(z, z, z, w, ctx))
			return -1;
		if (BN_cmp(z, wm1) == 0)
			return 1;
		if (BN_is_one(z))
			return 0;
	}
	return 0;
}

/* 1 = accept x as a prime, 0 = composite, -1 = error. */
static int is_probable_prime(const BIGNUM *x, BN_CTX *ctx)
{
	static const BN_ULONG bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23 };
	BN_MONT_CTX *mont = BN_MONT_CTX_new();
	BIGNUM *wm1 = BN_new(), *m = BN_new(), *z = BN_new();
	int a = 0, res = -1;

	if (!mont || !wm1 || !m || !z || !BN_MONT_CTX_set(mont, x, ctx) || !BN_copy(wm1, x) || !BN_sub_word(wm1, 1))
		goto out;
	while (!BN_is_bit_set(wm1, a))
		a++;
	if (!BN_rshift(m, wm1, a))
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(bases); i++) {
		res = mr_round(x, wm1, m, a, bases[i], mont, ctx, z);
		if (res != 1)
			goto out;
	}
out:
	BN_MONT_CTX_free(mont);
	BN_free(wm1);
	BN_free(m);
	BN_free(z);
	return res;
}

static err_t rsa_prime(const uint8_t seed[SIM_SEED_LEN], const char *label, unsigned idx,
		       const struct small_primes *sp, BN_CTX *ctx, BIGNUM *out)
{
	static const char prefix[] = "dstack-c-sim-rsa-v1";
	uint8_t bytes[PRIME_BYTES], *sieve = malloc(SIEVE_WINDOW);
	uint8_t ix = (uint8_t)idx;
	BIGNUM *c = BN_new();
	err_t rc = ERR_CRYPTO;

	if (!sieve || !c) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (uint32_t blk = 0; blk < PRIME_BYTES / 32; blk++) {
		uint8_t ctr[4];
		const void *parts[5] = { prefix, seed, label, &ix, ctr };
		size_t lens[5] = { sizeof(prefix) - 1, SIM_SEED_LEN, strlen(label), 1, 4 };

		be32(ctr, blk);
		sha256_parts(parts, lens, 5, bytes + 32 * blk);
	}
	/* top bits 11011 so that four primes multiply to exactly 4096 bits; odd */
	bytes[0] |= 0xD8;
	bytes[PRIME_BYTES - 1] |= 1;
	if (!BN_bin2bn(bytes, PRIME_BYTES, c))
		goto out;
	for (int win = 0; win < 256; win++) {
		memset(sieve, 0, SIEVE_WINDOW);
		for (size_t i = 0; i < sp->n; i++) {
			BN_ULONG p = sp->p[i], r = BN_mod_word(c, p);
			/* c + 2j = 0 (mod p)  <=>  j = (p - r) * 2^-1 (mod p) */
			BN_ULONG j = ((p - r) % p) * ((p + 1) / 2) % p;

			if (r == (BN_ULONG)-1)
				goto out;
			for (; j < SIEVE_WINDOW; j += p)
				sieve[j] = 1;
		}
		for (BN_ULONG j = 0; j < SIEVE_WINDOW; j++) {
			int pr;

			if (sieve[j])
				continue;
			if (!BN_copy(out, c) || !BN_add_word(out, 2 * j))
				goto out;
			if (BN_num_bits(out) != PRIME_BYTES * 8)
				goto out;
			if (BN_mod_word(out, 65537) == 1) /* e must be invertible mod p-1 */
				continue;
			pr = is_probable_prime(out, ctx);
			if (pr < 0)
				goto out;
			if (pr == 1) {
				rc = ERR_OK;
				goto out;
			}
		}
		if (!BN_add_word(c, 2 * SIEVE_WINDOW))
			goto out;
	}
out:
	secure_wipe(bytes, sizeof(bytes));
	free(sieve);
	BN_free(c);
	return rc;
}

static void rsakey_free(struct sim_rsakey *k)
{
	BN_free(k->n);
	BN_free(k->e);
	for (int i = 0; i < SIM_RSA_PRIMES; i++) {
		BN_clear_free(k->p[i]);
		BN_clear_free(k->dp[i]);
	}
	memset(k, 0, sizeof(*k));
}

static err_t rsakey_derive(const uint8_t seed[SIM_SEED_LEN], const char *label, const struct small_primes *sp,
			   struct sim_rsakey *k)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *pm1 = BN_new();
	err_t rc = ERR_NOMEM;

	memset(k, 0, sizeof(*k));
	if (!ctx || !pm1 || !(k->n = BN_new()) || !(k->e = BN_new()))
		goto out;
	if (!BN_set_word(k->e, 65537) || !BN_one(k->n))
		goto out;
	for (unsigned i = 0, idx = 0; i < SIM_RSA_PRIMES; idx++) {
		int dup = 0;

		if (idx > 4 * SIM_RSA_PRIMES) {
			rc = ERR_CRYPTO;
			goto out;
		}
		if (!(k->p[i] = BN_secure_new()) || !(k->dp[i] = BN_secure_new()))
			goto out;
		rc = rsa_prime(seed, label, idx, sp, ctx, k->p[i]);
		if (rc)
			goto out;
		rc = ERR_CRYPTO;
		for (unsigned j = 0; j < i; j++)
			dup |= BN_cmp(k->p[i], k->p[j]) == 0;
		if (dup) {
			BN_clear_free(k->p[i]);
			BN_clear_free(k->dp[i]);
			k->p[i] = k->dp[i] = NULL;
			continue;
		}
		if (!BN_copy(pm1, k->p[i]) || !BN_sub_word(pm1, 1) || !BN_mod_inverse(k->dp[i], k->e, pm1, ctx) ||
		    !BN_mul(k->n, k->n, k->p[i], ctx))
			goto out;
		i++;
	}
	rc = BN_num_bits(k->n) == SIM_RSA_BITS ? ERR_OK : ERR_CRYPTO;
out:
	BN_free(pm1);
	BN_CTX_free(ctx);
	if (rc)
		rsakey_free(k);
	return rc;
}

/* s = m^d mod n by CRT over the primes (Garner), then checked with s^e = m. */
static err_t rsa_private(const struct sim_rsakey *k, const BIGNUM *m, BIGNUM *s)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *si = BN_new(), *t = BN_new(), *mod = BN_new(), *inv = BN_new(), *chk = BN_new();
	err_t rc = ERR_CRYPTO;

	if (!ctx || !si || !t || !mod || !inv || !chk)
		goto out;
	for (int i = 0; i < SIM_RSA_PRIMES; i++) {
		if (!BN_mod(t, m, k->p[i], ctx) || !BN_mod_exp(si, t, k->dp[i], k->p[i], ctx))
			goto out;
		if (i == 0) {
			if (!BN_copy(s, si) || !BN_copy(mod, k->p[0]))
				goto out;
			continue;
		}
		/* s += mod * ((si - s) * mod^-1 mod p_i) */
		if (!BN_mod_inverse(inv, mod, k->p[i], ctx) || !BN_mod_sub(t, si, s, k->p[i], ctx) ||
		    !BN_mod_mul(t, t, inv, k->p[i], ctx) || !BN_mul(t, t, mod, ctx) || !BN_add(s, s, t) ||
		    !BN_mul(mod, mod, k->p[i], ctx))
			goto out;
	}
	if (!BN_mod_exp(chk, s, k->e, k->n, ctx) || BN_cmp(chk, m) != 0)
		goto out;
	rc = ERR_OK;
out:
	BN_clear_free(si);
	BN_clear_free(t);
	BN_free(mod);
	BN_free(inv);
	BN_free(chk);
	BN_CTX_free(ctx);
	return rc;
}

/* MGF1 with SHA-384 (RFC 8017 B.2.1), XORed into out. */
static void mgf1_sha384_xor(const uint8_t *seed, size_t slen, uint8_t *out, size_t olen)
{
	uint8_t h[SHA384_LEN], ctr[4];

	for (uint32_t c = 0, off = 0; off < olen; c++) {
		const void *parts[2] = { seed, ctr };
		size_t lens[2] = { slen, 4 };

		be32(ctr, c);
		sha384_parts(parts, lens, 2, h);
		for (size_t i = 0; i < SHA384_LEN && off < olen; i++, off++)
			out[off] ^= h[i];
	}
}

/*
 * RSASSA-PSS (RFC 8017 8.1) with SHA-384, MGF1-SHA-384, 48-byte salt, the
 * parameters of AMD's certificates. The salt is SHA-384 of a label and the
 * message hash, so signatures are reproducible.
 */
static err_t rsa_pss_sign(const struct sim_rsakey *k, const uint8_t *msg, size_t len, uint8_t sig[SIM_RSA_BITS / 8])
{
	enum { EMLEN = SIM_RSA_BITS / 8, HLEN = SHA384_LEN, SLEN = 48, DBLEN = EMLEN - HLEN - 1 };
	static const char salt_label[] = "dstack-c-sim-pss-salt-v1";
	uint8_t em[EMLEN], mhash[HLEN], salt[SLEN], H[HLEN], zeros[8] = { 0 };
	BIGNUM *m = BN_new(), *s = BN_new();
	err_t rc = ERR_CRYPTO;

	if (!m || !s)
		goto out;
	sha384(msg, len, mhash);
	{
		const void *parts[2] = { salt_label, mhash };
		size_t lens[2] = { sizeof(salt_label) - 1, HLEN };

		sha384_parts(parts, lens, 2, salt);
	}
	{
		const void *parts[3] = { zeros, mhash, salt };
		size_t lens[3] = { 8, HLEN, SLEN };

		sha384_parts(parts, lens, 3, H);
	}
	memset(em, 0, sizeof(em));
	em[DBLEN - SLEN - 1] = 0x01;
	memcpy(em + DBLEN - SLEN, salt, SLEN);
	mgf1_sha384_xor(H, HLEN, em, DBLEN);
	em[0] &= 0x7f; /* emBits = modBits - 1 = 4095 */
	memcpy(em + DBLEN, H, HLEN);
	em[EMLEN - 1] = 0xbc;
	if (!BN_bin2bn(em, EMLEN, m))
		goto out;
	rc = rsa_private(k, m, s);
	if (rc)
		goto out;
	rc = BN_bn2binpad(s, sig, EMLEN) == EMLEN ? ERR_OK : ERR_CRYPTO;
out:
	BN_free(m);
	BN_clear_free(s);
	return rc;
}

/* ---- names, keys and extensions ----------------------------------------------------------- */

static const uint8_t OID_CN[] = { 0x55, 0x04, 0x03 };
static const uint8_t OID_C[] = { 0x55, 0x04, 0x06 };
static const uint8_t OID_L[] = { 0x55, 0x04, 0x07 };
static const uint8_t OID_ST[] = { 0x55, 0x04, 0x08 };
static const uint8_t OID_O[] = { 0x55, 0x04, 0x0a };
static const uint8_t OID_OU[] = { 0x55, 0x04, 0x0b };
static const uint8_t OID_ECDSA_SHA256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t OID_EC_PUBLIC_KEY[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t OID_P256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t OID_P384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t OID_RSA[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t OID_SKI[] = { 0x55, 0x1d, 0x0e };
static const uint8_t OID_KU[] = { 0x55, 0x1d, 0x0f };
static const uint8_t OID_BC[] = { 0x55, 0x1d, 0x13 };
static const uint8_t OID_CRL_NUMBER[] = { 0x55, 0x1d, 0x14 };
static const uint8_t OID_CRL_REASON[] = { 0x55, 0x1d, 0x15 };
static const uint8_t OID_CRLDP[] = { 0x55, 0x1d, 0x1f };
static const uint8_t OID_AKI[] = { 0x55, 0x1d, 0x23 };
/* 1.2.840.113741.1.13.1 */
static const uint8_t OID_SGX_EXT[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
/* 2.16.840.1.113730.1.13 (Netscape comment): carries the DEVELOPMENT marker on AMD certificates */
static const uint8_t OID_NS_COMMENT[] = { 0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x01, 0x0d };
/* 1.3.6.1.4.1.3704.1 */
static const uint8_t OID_AMD[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01 };

/* AlgorithmIdentifier of AMD's certificates: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1 (as AMD encodes it). */
static const uint8_t ALG_PSS_SHA384[] = {
	0x30, 0x46, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x39, 0xa0, 0x0f, 0x30,
	0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a,
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
	0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01,
};

struct rdn {
	const uint8_t *oid;
	size_t oid_len;
	uint8_t type;
	const char *value;
};

#define RDN(o, t, v) { o, sizeof(o), t, v }

static void der_name(struct buf_writer *w, const struct rdn *rdns, size_t n)
{
	size_t seq = der_begin(w, DER_SEQ);

	for (size_t i = 0; i < n; i++) {
		size_t set = der_begin(w, DER_SET), atv = der_begin(w, DER_SEQ);

		der_oid(w, rdns[i].oid, rdns[i].oid_len);
		der_tlv(w, rdns[i].type, rdns[i].value, strlen(rdns[i].value));
		der_end(w, atv);
		der_end(w, set);
	}
	der_end(w, seq);
}

/* Intel-style name: CN, O, L, ST, C. */
static void intel_name(struct buf_writer *w, const char *cn)
{
	const struct rdn rdns[] = {
		RDN(OID_CN, DER_UTF8, cn),           RDN(OID_O, DER_UTF8, DEV_ORG),
		RDN(OID_L, DER_UTF8, "Santa Clara"), RDN(OID_ST, DER_UTF8, "CA"),
		RDN(OID_C, DER_PRINTABLE, "US"),
	};

	der_name(w, rdns, ARRAY_LEN(rdns));
}

/* AMD-style name: OU, C, L, ST, O, CN, exactly (verifiers require these six and nothing else). */
static void amd_name(struct buf_writer *w, const char *cn)
{
	const struct rdn rdns[] = {
		RDN(OID_OU, DER_UTF8, "Engineering"),
		RDN(OID_C, DER_PRINTABLE, "US"),
		RDN(OID_L, DER_UTF8, "Santa Clara"),
		RDN(OID_ST, DER_UTF8, "CA"),
		RDN(OID_O, DER_UTF8, "Advanced Micro Devices"),
		RDN(OID_CN, DER_UTF8, cn),
	};

	der_name(w, rdns, ARRAY_LEN(rdns));
}

/* The subjectPublicKey BIT STRING contents (without the unused-bits byte) for an EC key: 04 || x || y. */
static void ec_point(uint8_t *out, const struct sim_eckey *k)
{
	out[0] = 0x04;
	memcpy(out + 1, k->xy, 2 * k->len);
}

static void der_spki_ec(struct buf_writer *w, const struct sim_eckey *k)
{
	uint8_t pt[97];
	size_t seq = der_begin(w, DER_SEQ), alg = der_begin(w, DER_SEQ), bs;

	der_oid(w, OID_EC_PUBLIC_KEY, sizeof(OID_EC_PUBLIC_KEY));
	if (k->len == 48)
		der_oid(w, OID_P384, sizeof(OID_P384));
	else
		der_oid(w, OID_P256, sizeof(OID_P256));
	der_end(w, alg);
	ec_point(pt, k);
	bs = der_begin(w, DER_BIT_STRING);
	buf_put_u8(w, 0);
	buf_put(w, pt, 1 + 2 * k->len);
	der_end(w, bs);
	der_end(w, seq);
}

static void der_bn(struct buf_writer *w, const BIGNUM *bn)
{
	uint8_t tmp[SIM_RSA_BITS / 8];
	int n = BN_num_bytes(bn);

	if (n <= 0 || (size_t)n > sizeof(tmp) || BN_bn2bin(bn, tmp) != n) {
		w->err = ERR_CRYPTO;
		return;
	}
	der_uint_bytes(w, tmp, (size_t)n);
}

/* RSAPublicKey DER (the subjectPublicKey of an RSA SPKI). */
static void der_rsa_public(struct buf_writer *w, const struct sim_rsakey *k)
{
	size_t seq = der_begin(w, DER_SEQ);

	der_bn(w, k->n);
	der_bn(w, k->e);
	der_end(w, seq);
}

static void der_spki_rsa(struct buf_writer *w, const struct sim_rsakey *k)
{
	size_t seq = der_begin(w, DER_SEQ), alg = der_begin(w, DER_SEQ), bs;

	der_oid(w, OID_RSA, sizeof(OID_RSA));
	buf_put_u8(w, DER_NULL);
	buf_put_u8(w, 0);
	der_end(w, alg);
	bs = der_begin(w, DER_BIT_STRING);
	buf_put_u8(w, 0);
	der_rsa_public(w, k);
	der_end(w, bs);
	der_end(w, seq);
}

/* RFC 5280 key identifier method 1: SHA-1 of the subjectPublicKey bits. */
static err_t key_id(const uint8_t *pub, size_t len, uint8_t out[20])
{
	unsigned int n = 0;

	if (!EVP_Digest(pub, len, out, &n, EVP_sha1(), NULL) || n != 20)
		return ERR_CRYPTO;
	return ERR_OK;
}

static err_t ec_key_id(const struct sim_eckey *k, uint8_t out[20])
{
	uint8_t pt[97];

	ec_point(pt, k);
	return key_id(pt, 1 + 2 * k->len, out);
}

static err_t rsa_key_id(const struct sim_rsakey *k, uint8_t out[20])
{
	struct buf_writer w;
	err_t rc;

	buf_writer_init(&w, SIM_DER_MAX);
	der_rsa_public(&w, k);
	rc = buf_writer_status(&w);
	if (!rc)
		rc = key_id(w.p, w.len, out);
	buf_writer_free(&w);
	return rc;
}

/* Extension { extnID, critical?, extnValue }; the value is what the caller writes between begin and end. */
static size_t ext_begin(struct buf_writer *w, const uint8_t *oid, size_t oid_len, int critical)
{
	size_t seq = der_begin(w, DER_SEQ);

	der_oid(w, oid, oid_len);
	if (critical) {
		static const uint8_t t[] = { 0xff };

		der_tlv(w, DER_BOOLEAN, t, 1);
	}
	return seq;
}

static void ext_value(struct buf_writer *w, size_t seq, const uint8_t *val, size_t n)
{
	der_tlv(w, DER_OCTET_STRING, val, n);
	der_end(w, seq);
}

static void ext_ski(struct buf_writer *w, const uint8_t ski[20])
{
	size_t e = ext_begin(w, OID_SKI, sizeof(OID_SKI), 0), os = der_begin(w, DER_OCTET_STRING);

	der_tlv(w, DER_OCTET_STRING, ski, 20);
	der_end(w, os);
	der_end(w, e);
}

static void ext_aki(struct buf_writer *w, const uint8_t aki[20])
{
	size_t e = ext_begin(w, OID_AKI, sizeof(OID_AKI), 0), os = der_begin(w, DER_OCTET_STRING);
	size_t seq = der_begin(w, DER_SEQ);

	der_tlv(w, 0x80, aki, 20);
	der_end(w, seq);
	der_end(w, os);
	der_end(w, e);
}

/* keyUsage, critical: bits given as the one content byte and its unused-bit count. */
static void ext_ku(struct buf_writer *w, uint8_t unused, uint8_t bits)
{
	const uint8_t v[] = { DER_BIT_STRING, 2, unused, bits };
	size_t e = ext_begin(w, OID_KU, sizeof(OID_KU), 1);

	ext_value(w, e, v, sizeof(v));
}

/* basicConstraints, critical; pathlen < 0 = absent. */
static void ext_bc(struct buf_writer *w, int ca, int pathlen)
{
	size_t e = ext_begin(w, OID_BC, sizeof(OID_BC), 1), os = der_begin(w, DER_OCTET_STRING);
	size_t seq = der_begin(w, DER_SEQ);

	if (ca) {
		static const uint8_t t[] = { 0xff };

		der_tlv(w, DER_BOOLEAN, t, 1);
		if (pathlen >= 0)
			der_uint(w, (uint64_t)pathlen);
	}
	der_end(w, seq);
	der_end(w, os);
	der_end(w, e);
}

static void ext_crldp(struct buf_writer *w, const char *uri)
{
	size_t e = ext_begin(w, OID_CRLDP, sizeof(OID_CRLDP), 0), os = der_begin(w, DER_OCTET_STRING);
	size_t s1 = der_begin(w, DER_SEQ), s2 = der_begin(w, DER_SEQ), dp = der_begin(w, 0xa0),
	       full = der_begin(w, 0xa0);

	der_tlv(w, 0x86, uri, strlen(uri));
	der_end(w, full);
	der_end(w, dp);
	der_end(w, s2);
	der_end(w, s1);
	der_end(w, os);
	der_end(w, e);
}

static void ext_dev_comment(struct buf_writer *w)
{
	size_t e = ext_begin(w, OID_NS_COMMENT, sizeof(OID_NS_COMMENT), 0), os = der_begin(w, DER_OCTET_STRING);

	der_tlv(w, DER_IA5, DEV_ORG, sizeof(DEV_ORG) - 1);
	der_end(w, os);
	der_end(w, e);
}

/* ---- signing wrappers ------------------------------------------------------------------------ */

struct signer {
	const struct sim_eckey *ec;   /* ECDSA-SHA256 (P-256) */
	const struct sim_rsakey *rsa; /* RSASSA-PSS SHA-384 */
};

static void der_sig_alg(struct buf_writer *w, const struct signer *s)
{
	if (s->rsa) {
		buf_put(w, ALG_PSS_SHA384, sizeof(ALG_PSS_SHA384));
	} else {
		size_t seq = der_begin(w, DER_SEQ);

		der_oid(w, OID_ECDSA_SHA256, sizeof(OID_ECDSA_SHA256));
		der_end(w, seq);
	}
}

/* Wrap tbs into SEQUENCE { tbs, alg, BIT STRING signature } (certificate and CRL alike). */
static err_t sign_wrap(const struct signer *s, struct buf_writer *tbs, struct sim_blob *out)
{
	struct buf_writer w;
	size_t seq, bs;
	err_t rc;

	rc = buf_writer_status(tbs);
	if (rc)
		return rc;
	buf_writer_init(&w, SIM_DER_MAX);
	seq = der_begin(&w, DER_SEQ);
	buf_put(&w, tbs->p, tbs->len);
	der_sig_alg(&w, s);
	bs = der_begin(&w, DER_BIT_STRING);
	buf_put_u8(&w, 0);
	if (s->rsa) {
		uint8_t sig[SIM_RSA_BITS / 8];

		rc = rsa_pss_sign(s->rsa, tbs->p, tbs->len, sig);
		buf_put(&w, sig, sizeof(sig));
	} else {
		uint8_t sig[96];
		size_t q = s->ec->len, ss;

		rc = sim_ecdsa_sign(s->ec, tbs->p, tbs->len, sig);
		ss = der_begin(&w, DER_SEQ);
		der_uint_bytes(&w, sig, q);
		der_uint_bytes(&w, sig + q, q);
		der_end(&w, ss);
	}
	der_end(&w, bs);
	der_end(&w, seq);
	if (!rc)
		rc = buf_writer_status(&w);
	if (!rc)
		out->p = buf_take(&w, &out->len);
	buf_writer_free(&w);
	if (!rc && !out->p)
		rc = ERR_NOMEM;
	return rc;
}

/* Serial: 20 bytes, positive, from the seed and a label (Intel's certificates carry 20-byte serials). */
static void serial_from(const uint8_t seed[SIM_SEED_LEN], const char *label, uint8_t out[20])
{
	static const char prefix[] = "dstack-c-sim-serial-v1";
	const void *parts[3] = { prefix, seed, label };
	size_t lens[3] = { sizeof(prefix) - 1, SIM_SEED_LEN, strlen(label) };
	uint8_t h[SHA256_LEN];

	sha256_parts(parts, lens, 3, h);
	memcpy(out, h, 20);
	out[0] = (uint8_t)((out[0] & 0x7f) | 0x40);
}

/* Everything a certificate needs; the caller writes the SPKI and extensions through callbacks' output buffers. */
struct cert_spec {
	const uint8_t *serial;
	size_t serial_len;
	void (*issuer)(struct buf_writer *, const char *);
	const char *issuer_cn;
	void (*subject)(struct buf_writer *, const char *);
	const char *subject_cn;
	uint64_t not_before, not_after;
	const struct buf_writer *spki;  /* SubjectPublicKeyInfo DER */
	const struct buf_writer *exts;  /* concatenated Extension DERs */
	struct signer signer;
};

static err_t cert_build(const struct cert_spec *c, struct sim_blob *out)
{
	struct buf_writer tbs;
	size_t seq, v, x, xs;
	err_t rc;

	rc = buf_writer_status(c->spki);
	if (!rc)
		rc = buf_writer_status(c->exts);
	if (rc)
		return rc;
	buf_writer_init(&tbs, SIM_DER_MAX);
	seq = der_begin(&tbs, DER_SEQ);
	v = der_begin(&tbs, 0xa0);
	der_uint(&tbs, 2);
	der_end(&tbs, v);
	der_uint_bytes(&tbs, c->serial, c->serial_len);
	der_sig_alg(&tbs, &c->signer);
	c->issuer(&tbs, c->issuer_cn);
	v = der_begin(&tbs, DER_SEQ);
	der_time(&tbs, c->not_before);
	der_time(&tbs, c->not_after);
	der_end(&tbs, v);
	c->subject(&tbs, c->subject_cn);
	buf_put(&tbs, c->spki->p, c->spki->len);
	x = der_begin(&tbs, 0xa3);
	xs = der_begin(&tbs, DER_SEQ);
	buf_put(&tbs, c->exts->p, c->exts->len);
	der_end(&tbs, xs);
	der_end(&tbs, x);
	der_end(&tbs, seq);
	rc = sign_wrap(&c->signer, &tbs, out);
	buf_writer_free(&tbs);
	return rc;
}

/* ---- the Intel side ---------------------------------------------------------------------------- */

#define URL_ROOT_CRL "https://certificates.sim.dstack.invalid/DevelopmentSGXRootCA.der"
#define URL_PCK_CRL_PLATFORM "https://api.sim.dstack.invalid/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
#define URL_PCK_CRL_PROCESSOR "https://api.sim.dstack.invalid/sgx/certification/v4/pckcrl?ca=processor&encoding=der"

static const char CN_ROOT[] = "Development SGX Root CA";
static const char CN_PLATFORM_CA[] = "Intel SGX PCK Platform CA";
static const char CN_PROCESSOR_CA[] = "Intel SGX PCK Processor CA";
static const char CN_PCK[] = "Intel SGX PCK Certificate";
static const char CN_TCB[] = "Intel SGX TCB Signing";

/* One {OID(prefix.suffix...), value} entry of the SGX extension; the value is written by the caller. */
static size_t sgx_entry_begin(struct buf_writer *w, const uint8_t *suffix, size_t n)
{
	size_t seq = der_begin(w, DER_SEQ), o = der_begin(w, DER_OID);

	buf_put(w, OID_SGX_EXT, sizeof(OID_SGX_EXT));
	buf_put(w, suffix, n);
	der_end(w, o);
	return seq;
}

/* The Intel SGX extension (attestation.md A.4), in the order and encoding of Intel's PCK certificates. */
static void ext_sgx(struct buf_writer *w, const struct sim_pki *pki)
{
	const struct sim_params *p = &pki->prm;
	size_t e = ext_begin(w, OID_SGX_EXT, sizeof(OID_SGX_EXT), 0), os = der_begin(w, DER_OCTET_STRING);
	size_t top = der_begin(w, DER_SEQ), ent, tcb;

	ent = sgx_entry_begin(w, (const uint8_t[]){ 0x01 }, 1);
	der_tlv(w, DER_OCTET_STRING, pki->ppid, 16);
	der_end(w, ent);

	ent = sgx_entry_begin(w, (const uint8_t[]){ 0x02 }, 1);
	tcb = der_begin(w, DER_SEQ);
	for (uint8_t i = 1; i <= 16; i++) {
		size_t c = sgx_entry_begin(w, (const uint8_t[]){ 0x02, i }, 2);

		der_uint(w, p->cpusvn[i - 1]);
		der_end(w, c);
	}
	{
		size_t c = sgx_entry_begin(w, (const uint8_t[]){ 0x02, 17 }, 2);

		der_uint(w, p->pcesvn);
		der_end(w, c);
		c = sgx_entry_begin(w, (const uint8_t[]){ 0x02, 18 }, 2);
		der_tlv(w, DER_OCTET_STRING, p->cpusvn, 16);
		der_end(w, c);
	}
	der_end(w, tcb);
	der_end(w, ent);

	ent = sgx_entry_begin(w, (const uint8_t[]){ 0x03 }, 1);
	der_tlv(w, DER_OCTET_STRING, p->pceid, 2);
	der_end(w, ent);

	ent = sgx_entry_begin(w, (const uint8_t[]){ 0x04 }, 1);
	der_tlv(w, DER_OCTET_STRING, p->fmspc, 6);
	der_end(w, ent);

	ent = sgx_entry_begin(w, (const uint8_t[]){ 0x05 }, 1);
	der_tlv(w, DER_ENUMERATED, (const uint8_t[]){ p->pck_ca_processor ? 0 : 1 }, 1);
	der_end(w, ent);

	if (!p->pck_ca_processor) {
		size_t cfg;

		ent = sgx_entry_begin(w, (const uint8_t[]){ 0x06 }, 1);
		der_tlv(w, DER_OCTET_STRING, pki->platform_instance_id, 16);
		der_end(w, ent);

		ent = sgx_entry_begin(w, (const uint8_t[]){ 0x07 }, 1);
		cfg = der_begin(w, DER_SEQ);
		for (uint8_t i = 1; i <= 3; i++) {
			size_t c = sgx_entry_begin(w, (const uint8_t[]){ 0x07, i }, 2);

			der_tlv(w, DER_BOOLEAN, (const uint8_t[]){ 0xff }, 1);
			der_end(w, c);
		}
		der_end(w, cfg);
		der_end(w, ent);
	}
	der_end(w, top);
	der_end(w, os);
	der_end(w, e);
}

/* CRL (RFC 5280 5.1) in the shape of Intel's: v2, CRL number 1, AKI; revoked entries with reason keyCompromise. */
static err_t crl_build(const struct sim_pki *pki, const char *issuer_cn, const struct sim_eckey *issuer_key,
		       const uint8_t *const *revoked, size_t n_revoked, int critical_number, struct sim_blob *out)
{
	struct signer s = { .ec = issuer_key };
	struct buf_writer tbs;
	uint8_t aki[20];
	size_t seq, m, m2;
	err_t rc;

	rc = ec_key_id(issuer_key, aki);
	if (rc)
		return rc;
	buf_writer_init(&tbs, SIM_DER_MAX);
	seq = der_begin(&tbs, DER_SEQ);
	der_uint(&tbs, 1);
	der_sig_alg(&tbs, &s);
	intel_name(&tbs, issuer_cn);
	der_time(&tbs, pki->prm.crl_this_update);
	der_time(&tbs, pki->prm.crl_next_update);
	if (n_revoked) {
		m = der_begin(&tbs, DER_SEQ);
		for (size_t i = 0; i < n_revoked; i++) {
			size_t ent = der_begin(&tbs, DER_SEQ), exts, ext;

			der_uint_bytes(&tbs, revoked[i], 20);
			der_time(&tbs, pki->prm.crl_this_update);
			exts = der_begin(&tbs, DER_SEQ);
			ext = ext_begin(&tbs, OID_CRL_REASON, sizeof(OID_CRL_REASON), 0);
			ext_value(&tbs, ext, (const uint8_t[]){ DER_ENUMERATED, 1, 1 }, 3);
			der_end(&tbs, exts);
			der_end(&tbs, ent);
		}
		der_end(&tbs, m);
	}
	m = der_begin(&tbs, 0xa0);
	m2 = der_begin(&tbs, DER_SEQ);
	{
		size_t ext = ext_begin(&tbs, OID_CRL_NUMBER, sizeof(OID_CRL_NUMBER), critical_number);

		ext_value(&tbs, ext, (const uint8_t[]){ DER_INTEGER, 1, 1 }, 3);
	}
	ext_aki(&tbs, aki);
	der_end(&tbs, m2);
	der_end(&tbs, m);
	der_end(&tbs, seq);
	rc = sign_wrap(&s, &tbs, out);
	buf_writer_free(&tbs);
	return rc;
}

static void derive_bytes(const uint8_t seed[SIM_SEED_LEN], const char *label, uint8_t *out, size_t n)
{
	static const char prefix[] = "dstack-c-sim-bytes-v1";
	uint8_t h[SHA512_LEN];

	for (size_t off = 0, blk = 0; off < n; blk++) {
		uint8_t ctr[4];
		const void *parts[4] = { prefix, seed, label, ctr };
		size_t lens[4] = { sizeof(prefix) - 1, SIM_SEED_LEN, strlen(label), 4 };

		be32(ctr, (uint32_t)blk);
		sha256_parts(parts, lens, 4, h);
		memcpy(out + off, h, MIN((size_t)SHA256_LEN, n - off));
		off += MIN((size_t)SHA256_LEN, n - off);
	}
}

static err_t intel_build(struct sim_pki *pki)
{
	const struct sim_params *p = &pki->prm;
	const char *ca_cn = p->pck_ca_processor ? CN_PROCESSOR_CA : CN_PLATFORM_CA;
	struct buf_writer spki, exts, pem;
	uint8_t ski_root[20], ski_ca[20], ski_leaf[20], ski_tcb[20];
	uint8_t s_root[20], s_ca[20], s_leaf[20], s_tcb[20];
	err_t rc;

	buf_writer_init(&spki, SIM_DER_MAX);
	buf_writer_init(&exts, SIM_DER_MAX);
	buf_writer_init(&pem, SIM_DER_MAX);
	if ((rc = ec_key_id(&pki->root, ski_root)) || (rc = ec_key_id(&pki->pck_ca, ski_ca)) ||
	    (rc = ec_key_id(&pki->pck_leaf, ski_leaf)) || (rc = ec_key_id(&pki->tcb_signing, ski_tcb)))
		goto out;
	serial_from(pki->seed, "sgx-root", s_root);
	serial_from(pki->seed, p->pck_ca_processor ? "pck-processor-ca" : "pck-platform-ca", s_ca);
	serial_from(pki->seed, "pck-leaf", s_leaf);
	serial_from(pki->seed, "tcb-signing", s_tcb);

	/* Root: self-signed, pathlen 1. */
	der_spki_ec(&spki, &pki->root);
	ext_aki(&exts, ski_root);
	ext_crldp(&exts, URL_ROOT_CRL);
	ext_ski(&exts, ski_root);
	ext_ku(&exts, 1, 0x06);
	ext_bc(&exts, 1, 1);
	{
		struct cert_spec c = { s_root, 20, intel_name, CN_ROOT, intel_name, CN_ROOT, p->not_before,
				       p->not_after, &spki, &exts, { .ec = &pki->root } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_ROOT])))
			goto out;
	}

	/* PCK Platform/Processor CA. */
	buf_writer_clear(&spki);
	buf_writer_clear(&exts);
	der_spki_ec(&spki, &pki->pck_ca);
	ext_aki(&exts, ski_root);
	ext_crldp(&exts, URL_ROOT_CRL);
	ext_ski(&exts, ski_ca);
	ext_ku(&exts, 1, 0x06);
	ext_bc(&exts, 1, 0);
	{
		struct cert_spec c = { s_ca, 20, intel_name, CN_ROOT, intel_name, ca_cn, p->not_before,
				       p->not_after, &spki, &exts, { .ec = &pki->root } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_PCK_CA])))
			goto out;
	}

	/* PCK leaf with the SGX extension. */
	buf_writer_clear(&spki);
	buf_writer_clear(&exts);
	der_spki_ec(&spki, &pki->pck_leaf);
	ext_aki(&exts, ski_ca);
	ext_crldp(&exts, p->pck_ca_processor ? URL_PCK_CRL_PROCESSOR : URL_PCK_CRL_PLATFORM);
	ext_ski(&exts, ski_leaf);
	ext_ku(&exts, 6, 0xc0);
	ext_bc(&exts, 0, -1);
	ext_sgx(&exts, pki);
	{
		struct cert_spec c = { s_leaf, 20, intel_name, ca_cn, intel_name, CN_PCK, p->not_before,
				       p->not_after, &spki, &exts, { .ec = &pki->pck_ca } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_PCK_LEAF])))
			goto out;
	}

	/* TCB Signing. */
	buf_writer_clear(&spki);
	buf_writer_clear(&exts);
	der_spki_ec(&spki, &pki->tcb_signing);
	ext_aki(&exts, ski_root);
	ext_crldp(&exts, URL_ROOT_CRL);
	ext_ski(&exts, ski_tcb);
	ext_ku(&exts, 6, 0xc0);
	ext_bc(&exts, 0, -1);
	{
		struct cert_spec c = { s_tcb, 20, intel_name, CN_ROOT, intel_name, CN_TCB, p->not_before,
				       p->not_after, &spki, &exts, { .ec = &pki->root } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_TCB_SIGNING])))
			goto out;
	}

	/* CRLs: the root's lists the TCB Signing certificate and the PCK CA on request (else nothing); the PCK CA's the leaf. */
	{
		const uint8_t *rev[2];
		size_t n = 0;

		if (p->revoke_tcb_signing)
			rev[n++] = s_tcb;
		if (p->revoke_pck_ca)
			rev[n++] = s_ca;
		if ((rc = crl_build(pki, CN_ROOT, &pki->root, n ? rev : NULL, n, p->root_crl_critical, &pki->root_crl)))
			goto out;
	}
	{
		const uint8_t *rev[1] = { s_leaf };

		if ((rc = crl_build(pki, ca_cn, &pki->pck_ca, rev, p->revoke_pck_leaf ? 1 : 0, 0, &pki->pck_crl)))
			goto out;
	}

	/* The quote's type-5 chain: leaf, CA, root, NUL. */
	sim_put_pem_cert(&pem, pki->certs[SIM_CERT_PCK_LEAF].p, pki->certs[SIM_CERT_PCK_LEAF].len);
	sim_put_pem_cert(&pem, pki->certs[SIM_CERT_PCK_CA].p, pki->certs[SIM_CERT_PCK_CA].len);
	sim_put_pem_cert(&pem, pki->certs[SIM_CERT_ROOT].p, pki->certs[SIM_CERT_ROOT].len);
	buf_put_u8(&pem, 0);
	if ((rc = buf_writer_status(&pem)))
		goto out;
	pki->pck_chain_pem.p = buf_take(&pem, &pki->pck_chain_pem.len);
	rc = pki->pck_chain_pem.p ? ERR_OK : ERR_NOMEM;
out:
	buf_writer_free(&spki);
	buf_writer_free(&exts);
	buf_writer_free(&pem);
	return rc;
}

/* ---- the AMD side ---------------------------------------------------------------------------- */

static const char *product_name(enum sim_snp_product p)
{
	switch (p) {
	case SIM_SNP_GENOA:
		return "Genoa";
	case SIM_SNP_TURIN:
		return "Turin";
	case SIM_SNP_MILAN:
	default:
		return "Milan";
	}
}

/* The VCEK productName extension (KDS spelling). */
static const char *product_ext_name(enum sim_snp_product p)
{
	switch (p) {
	case SIM_SNP_GENOA:
		return "Genoa-B1";
	case SIM_SNP_TURIN:
		return "Turin";
	case SIM_SNP_MILAN:
	default:
		return "Milan-B0";
	}
}

uint64_t sim_snp_vcek_tcb(const struct sim_pki *pki)
{
	const struct sim_params *p = &pki->prm;

	if (p->snp_product == SIM_SNP_TURIN)
		return (uint64_t)p->snp_fmc_spl | (uint64_t)p->snp_bl_spl << 8 | (uint64_t)p->snp_tee_spl << 16 |
		       (uint64_t)p->snp_snp_spl << 24 | (uint64_t)p->snp_ucode_spl << 56;
	return (uint64_t)p->snp_bl_spl | (uint64_t)p->snp_tee_spl << 8 | (uint64_t)p->snp_snp_spl << 48 |
	       (uint64_t)p->snp_ucode_spl << 56;
}

/* One AMD extension 1.3.6.1.4.1.3704.1.<a>[.<b>] whose value is a DER INTEGER. */
static void ext_amd_int(struct buf_writer *w, uint8_t a, uint8_t b, uint64_t v)
{
	size_t e = der_begin(w, DER_SEQ), o = der_begin(w, DER_OID), os;

	buf_put(w, OID_AMD, sizeof(OID_AMD));
	buf_put_u8(w, a);
	if (b)
		buf_put_u8(w, b);
	der_end(w, o);
	os = der_begin(w, DER_OCTET_STRING);
	der_uint(w, v);
	der_end(w, os);
	der_end(w, e);
}

static void ext_amd_raw(struct buf_writer *w, uint8_t a, const void *val, size_t n, int ia5)
{
	size_t e = der_begin(w, DER_SEQ), o = der_begin(w, DER_OID), os;

	buf_put(w, OID_AMD, sizeof(OID_AMD));
	buf_put_u8(w, a);
	der_end(w, o);
	os = der_begin(w, DER_OCTET_STRING);
	if (ia5)
		der_tlv(w, DER_IA5, val, n);
	else
		buf_put(w, val, n); /* hwID is the raw bytes, not DER-wrapped */
	der_end(w, os);
	der_end(w, e);
}

/* VCEK extensions in the order AMD KDS emits them (go-sev-guest / virtee samples). */
static void vcek_exts(struct buf_writer *w, const struct sim_pki *pki)
{
	const struct sim_params *p = &pki->prm;
	const char *pn = product_ext_name(p->snp_product);

	ext_amd_int(w, 1, 0, 0);
	ext_amd_raw(w, 2, pn, strlen(pn), 1);
	if (p->snp_product == SIM_SNP_TURIN) {
		ext_amd_int(w, 3, 9, p->snp_fmc_spl);
		ext_amd_int(w, 3, 1, p->snp_bl_spl);
		ext_amd_int(w, 3, 2, p->snp_tee_spl);
		ext_amd_int(w, 3, 3, p->snp_snp_spl);
		ext_amd_int(w, 3, 5, 0);
		ext_amd_int(w, 3, 6, 0);
		ext_amd_int(w, 3, 7, 0);
		ext_amd_int(w, 3, 8, p->snp_ucode_spl);
		ext_amd_raw(w, 4, pki->chip_id, 8, 0);
	} else {
		ext_amd_int(w, 3, 1, p->snp_bl_spl);
		ext_amd_int(w, 3, 2, p->snp_tee_spl);
		ext_amd_int(w, 3, 4, 0);
		ext_amd_int(w, 3, 5, 0);
		ext_amd_int(w, 3, 6, 0);
		ext_amd_int(w, 3, 7, 0);
		ext_amd_int(w, 3, 3, p->snp_snp_spl);
		ext_amd_int(w, 3, 8, p->snp_ucode_spl);
		ext_amd_raw(w, 4, pki->chip_id, 64, 0);
	}
}

err_t sim_pki_amd_ensure(struct sim_pki *pki)
{
	const struct sim_params *p = &pki->prm;
	const char *prod = product_name(p->snp_product);
	struct small_primes sp = { 0 };
	struct buf_writer spki, exts;
	char ark_cn[32], ask_cn[32], label[96];
	uint8_t ski_ark[20], ski_ask[20];
	static const uint8_t s_ark[] = { 0x01, 0x00, 0x00 }, s_ask[] = { 0x01, 0x00, 0x01 }, s_vcek[] = { 0x00 };
	err_t rc;

	if (pki->amd_ready)
		return ERR_OK;
	buf_writer_init(&spki, SIM_DER_MAX);
	buf_writer_init(&exts, SIM_DER_MAX);
	snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", prod);
	snprintf(ask_cn, sizeof(ask_cn), "SEV-%s", prod);
	if ((rc = small_primes_init(&sp)))
		goto out;
	snprintf(label, sizeof(label), "amd-ark-%s", prod);
	if ((rc = rsakey_derive(pki->seed, label, &sp, &pki->ark)))
		goto out;
	snprintf(label, sizeof(label), "amd-ask-%s", prod);
	if ((rc = rsakey_derive(pki->seed, label, &sp, &pki->ask)))
		goto out;
	if ((rc = rsa_key_id(&pki->ark, ski_ark)) || (rc = rsa_key_id(&pki->ask, ski_ask)))
		goto out;

	/* ARK: self-signed; extensions as on AMD's ARKs. */
	der_spki_rsa(&spki, &pki->ark);
	ext_ku(&exts, 1, 0x06);
	ext_ski(&exts, ski_ark);
	ext_bc(&exts, 1, -1);
	snprintf(label, sizeof(label), "https://kdsintf.sim.dstack.invalid/vcek/v1/%s/crl", prod);
	ext_crldp(&exts, label);
	ext_dev_comment(&exts);
	{
		struct cert_spec c = { s_ark, sizeof(s_ark), amd_name, ark_cn, amd_name, ark_cn, p->not_before,
				       p->not_after, &spki, &exts, { .rsa = &pki->ark } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_ARK])))
			goto out;
	}

	/* ASK, pathlen 0. */
	buf_writer_clear(&spki);
	buf_writer_clear(&exts);
	der_spki_rsa(&spki, &pki->ask);
	ext_ski(&exts, ski_ask);
	ext_aki(&exts, ski_ark);
	ext_bc(&exts, 1, 0);
	ext_ku(&exts, 2, 0x04);
	ext_crldp(&exts, label);
	ext_dev_comment(&exts);
	{
		struct cert_spec c = { s_ask, sizeof(s_ask), amd_name, ark_cn, amd_name, ask_cn, p->not_before,
				       p->not_after, &spki, &exts, { .rsa = &pki->ark } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_ASK])))
			goto out;
	}

	/* VCEK: P-384 key, TCB extensions only (AMD's VCEKs carry no key usage or basic constraints). */
	buf_writer_clear(&spki);
	buf_writer_clear(&exts);
	der_spki_ec(&spki, &pki->vcek);
	vcek_exts(&exts, pki);
	ext_dev_comment(&exts);
	{
		struct cert_spec c = { s_vcek, sizeof(s_vcek), amd_name, ask_cn, amd_name, "SEV-VCEK", p->not_before,
				       p->not_after, &spki, &exts, { .rsa = &pki->ask } };

		if ((rc = cert_build(&c, &pki->certs[SIM_CERT_VCEK])))
			goto out;
	}
	pki->amd_ready = 1;
out:
	free(sp.p);
	buf_writer_free(&spki);
	buf_writer_free(&exts);
	if (rc) {
		for (int i = SIM_CERT_ARK; i <= SIM_CERT_VCEK; i++) {
			free(pki->certs[i].p);
			pki->certs[i].p = NULL;
			pki->certs[i].len = 0;
		}
		rsakey_free(&pki->ark);
		rsakey_free(&pki->ask);
	}
	return rc;
}

/* ---- public ----------------------------------------------------------------------------------- */

/* 2025-01-01T00:00:00Z and 2049-12-31T23:59:59Z */
#define SIM_DEFAULT_NOT_BEFORE 1735689600ull
#define SIM_DEFAULT_NOT_AFTER 2524607999ull

void sim_params_default(struct sim_params *p)
{
	static const uint8_t fmspc[6] = { 0xB0, 0xC0, 0x6F, 0x00, 0x00, 0x00 };
	static const uint8_t cpusvn[16] = { 3, 3, 2, 2, 4, 1, 0, 5 };
	static const uint8_t tee_tcb_svn[16] = { 6, 1, 3 };

	memset(p, 0, sizeof(*p));
	p->not_before = SIM_DEFAULT_NOT_BEFORE;
	p->not_after = SIM_DEFAULT_NOT_AFTER;
	p->crl_this_update = SIM_DEFAULT_NOT_BEFORE;
	p->crl_next_update = SIM_DEFAULT_NOT_AFTER;
	memcpy(p->fmspc, fmspc, sizeof(fmspc));
	memcpy(p->cpusvn, cpusvn, sizeof(cpusvn));
	p->pcesvn = 11;
	memcpy(p->tee_tcb_svn, tee_tcb_svn, sizeof(tee_tcb_svn));
	p->qe_isvsvn = 6;
	p->snp_product = SIM_SNP_MILAN;
	p->snp_bl_spl = 3;
	p->snp_tee_spl = 0;
	p->snp_snp_spl = 8;
	p->snp_ucode_spl = 115;
	p->snp_fmc_spl = 0;
}

err_t sim_pki_new(const uint8_t seed[SIM_SEED_LEN], const struct sim_params *p, struct sim_pki **out)
{
	struct sim_pki *pki;
	err_t rc;

	*out = NULL;
	pki = calloc(1, sizeof(*pki));
	if (!pki)
		return ERR_NOMEM;
	memcpy(pki->seed, seed, SIM_SEED_LEN);
	if (p)
		pki->prm = *p;
	else
		sim_params_default(&pki->prm);
	p = &pki->prm;
	if (p->not_after <= p->not_before || p->crl_next_update <= p->crl_this_update ||
	    (unsigned)p->snp_product > SIM_SNP_TURIN) {
		rc = ERR_INVALID_ARG;
		goto out;
	}
	if ((rc = derive_eckey(seed, "sgx-root-ca", NID_X9_62_prime256v1, &pki->root)) ||
	    (rc = derive_eckey(seed, p->pck_ca_processor ? "sgx-pck-processor-ca" : "sgx-pck-platform-ca",
			       NID_X9_62_prime256v1, &pki->pck_ca)) ||
	    (rc = derive_eckey(seed, "sgx-pck-leaf", NID_X9_62_prime256v1, &pki->pck_leaf)) ||
	    (rc = derive_eckey(seed, "sgx-tcb-signing", NID_X9_62_prime256v1, &pki->tcb_signing)) ||
	    (rc = derive_eckey(seed, "tdx-qe-attestation-key", NID_X9_62_prime256v1, &pki->qe_att)) ||
	    (rc = derive_eckey(seed, "sev-vcek", NID_secp384r1, &pki->vcek)))
		goto out;
	derive_bytes(seed, "qe-id", pki->qe_id, sizeof(pki->qe_id));
	derive_bytes(seed, "ppid", pki->ppid, sizeof(pki->ppid));
	derive_bytes(seed, "platform-instance-id", pki->platform_instance_id, sizeof(pki->platform_instance_id));
	derive_bytes(seed, "mrseam", pki->mrseam, sizeof(pki->mrseam));
	derive_bytes(seed, "sev-chip-id", pki->chip_id, sizeof(pki->chip_id));
	if (p->snp_product == SIM_SNP_TURIN)
		memset(pki->chip_id + 8, 0, sizeof(pki->chip_id) - 8);
	rc = intel_build(pki);
out:
	if (rc) {
		sim_pki_free(pki);
		return rc;
	}
	*out = pki;
	return ERR_OK;
}

void sim_pki_free(struct sim_pki *pki)
{
	if (!pki)
		return;
	for (int i = 0; i < SIM_CERT_COUNT; i++)
		free(pki->certs[i].p);
	free(pki->root_crl.p);
	free(pki->pck_crl.p);
	free(pki->pck_chain_pem.p);
	rsakey_free(&pki->ark);
	rsakey_free(&pki->ask);
	secure_wipe(pki, sizeof(*pki));
	free(pki);
}

const struct sim_params *sim_pki_params(const struct sim_pki *pki)
{
	return &pki->prm;
}

err_t sim_cert_der(struct sim_pki *pki, enum sim_cert which, const uint8_t **der, size_t *len)
{
	err_t rc;

	*der = NULL;
	*len = 0;
	if ((unsigned)which >= SIM_CERT_COUNT)
		return ERR_INVALID_ARG;
	if (which >= SIM_CERT_ARK && (rc = sim_pki_amd_ensure(pki)))
		return rc;
	*der = pki->certs[which].p;
	*len = pki->certs[which].len;
	return ERR_OK;
}

void sim_dev_root_der(const struct sim_pki *pki, const uint8_t **der, size_t *len)
{
	*der = pki->certs[SIM_CERT_ROOT].p;
	*len = pki->certs[SIM_CERT_ROOT].len;
}

void sim_crl_der(const struct sim_pki *pki, enum sim_crl which, const uint8_t **der, size_t *len)
{
	const struct sim_blob *b = which == SIM_CRL_PCK ? &pki->pck_crl : &pki->root_crl;

	*der = b->p;
	*len = b->len;
}

void sim_pck_chain_pem(const struct sim_pki *pki, const char **pem, size_t *len)
{
	*pem = (const char *)pki->pck_chain_pem.p;
	*len = pki->pck_chain_pem.len;
}

void sim_qe_attestation_key(const struct sim_pki *pki, uint8_t xy[64])
{
	memcpy(xy, pki->qe_att.xy, 64);
}

err_t sim_amd_chain(struct sim_pki *pki, char **pem, size_t *len)
{
	struct buf_writer w;
	err_t rc;

	*pem = NULL;
	*len = 0;
	if ((rc = sim_pki_amd_ensure(pki)))
		return rc;
	buf_writer_init(&w, SIM_DER_MAX);
	sim_put_pem_cert(&w, pki->certs[SIM_CERT_ASK].p, pki->certs[SIM_CERT_ASK].len);
	sim_put_pem_cert(&w, pki->certs[SIM_CERT_ARK].p, pki->certs[SIM_CERT_ARK].len);
	if (!buf_cstr(&w) || (rc = buf_writer_status(&w))) {
		rc = buf_writer_status(&w);
		buf_writer_free(&w);
		return rc ? rc : ERR_NOMEM;
	}
	*pem = (char *)buf_take(&w, len);
	return *pem ? ERR_OK : ERR_NOMEM;
}
