/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's HKDF-based key derivation and the fixed-layout P-256 PKCS#8/SPKI encodings it depends on. */
#include "dkdf.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "enc.h"

/* Context parts are names and ids; a megabyte of them is a caller bug. */
#define DKDF_MAX_INFO ((size_t)1 << 20)
#define P256_PEM_MAX_INPUT ((size_t)64 << 10)

static const uint8_t salt_ratls[] = { 'R', 'A', 'T', 'L', 'S' };

static const uint8_t p256_order[P256_SCALAR_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/*
 * PKCS#8 v1 up to the private key: SEQ(135) { INTEGER 0, SEQ { ecPublicKey,
 * prime256v1 }, OCTET STRING(109) { SEQ(107) { INTEGER 1, OCTET STRING(32) ...
 */
static const uint8_t pkcs8_head[] = {
	0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01,
	0x04, 0x20,
};
/* ... [1](68) { BIT STRING(66) { 0 unused bits, then the 65-byte point } } } } }. */
static const uint8_t pkcs8_pub_head[] = { 0xa1, 0x44, 0x03, 0x42, 0x00 };
/* SEQ(89) { SEQ { ecPublicKey, prime256v1 }, BIT STRING(66) { 0 unused bits, then the point } }. */
static const uint8_t spki_head[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

_Static_assert(sizeof(pkcs8_head) + P256_SCALAR_LEN + sizeof(pkcs8_pub_head) + P256_PUB_LEN == P256_PKCS8_LEN,
	       "PKCS#8 layout");
_Static_assert(sizeof(spki_head) + P256_PUB_LEN == P256_SPKI_LEN, "SPKI layout");

err_t dkdf_derive_key(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n, uint8_t *out,
		      size_t out_len)
{
	uint8_t *info = NULL;
	size_t total = 0, pos = 0;
	err_t e;

	if (!out || out_len == 0 || out_len > DKDF_MAX_OUT || (ikm_len && !ikm) || (n && !parts))
		return ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++) {
		if ((parts[i].n && !parts[i].p) || parts[i].n > DKDF_MAX_INFO - total)
			return ERR_INVALID_ARG;
		total += parts[i].n;
	}
	if (total) {
		if (!(info = malloc(total)))
			return ERR_NOMEM;
		for (size_t i = 0; i < n; i++) {
			if (parts[i].n)
				memcpy(info + pos, parts[i].p, parts[i].n);
			pos += parts[i].n;
		}
	}
	e = hkdf_sha256(salt_ratls, sizeof(salt_ratls), ikm, ikm_len, info, total, out, out_len);
	free(info);
	return e;
}

/* 1 when a < b as big-endian numbers of n bytes, without data-dependent branches. */
static unsigned int be_less(const uint8_t *a, const uint8_t *b, size_t n)
{
	unsigned int borrow = 0;

	for (size_t i = n; i-- > 0;)
		borrow = (((unsigned int)a[i] - b[i] - borrow) >> 8) & 1;
	return borrow;
}

int p256_scalar_is_valid(const uint8_t scalar[P256_SCALAR_LEN])
{
	unsigned int acc = 0;

	for (size_t i = 0; i < P256_SCALAR_LEN; i++)
		acc |= scalar[i];
	return (int)(((acc + 0xffu) >> 8) & be_less(scalar, p256_order, P256_SCALAR_LEN));
}

err_t p256_scalar_random(uint8_t scalar[P256_SCALAR_LEN])
{
	for (int i = 0; i < 64; i++) {
		if (RAND_priv_bytes(scalar, P256_SCALAR_LEN) != 1)
			break;
		if (p256_scalar_is_valid(scalar))
			return ERR_OK;
	}
	OPENSSL_cleanse(scalar, P256_SCALAR_LEN);
	return ERR_CRYPTO;
}

err_t dkdf_derive_p256(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n,
		       uint8_t scalar[P256_SCALAR_LEN])
{
	err_t e;

	if ((e = dkdf_derive_key(ikm, ikm_len, parts, n, scalar, P256_SCALAR_LEN)) != ERR_OK)
		return e;
	if (!p256_scalar_is_valid(scalar)) {
		OPENSSL_cleanse(scalar, P256_SCALAR_LEN);
		return ERR_KEY_RANGE;
	}
	return ERR_OK;
}

err_t dkdf_derive_dh_secret(const void *ikm, size_t ikm_len, const struct dkdf_part *parts, size_t n,
			    uint8_t out[DKDF_SECRET_LEN])
{
	uint8_t scalar[P256_SCALAR_LEN], der[P256_PKCS8_LEN];
	err_t e;

	if ((e = dkdf_derive_p256(ikm, ikm_len, parts, n, scalar)) != ERR_OK)
		goto out;
	if ((e = p256_pkcs8_der(scalar, der)) != ERR_OK)
		goto out;
	sha256(der, sizeof(der), out);
out:
	OPENSSL_cleanse(scalar, sizeof(scalar));
	OPENSSL_cleanse(der, sizeof(der));
	return e;
}

/* ---- P-256 keys ---- */

/* scalar as a secure, constant-time BIGNUM; NULL on allocation failure. Free with BN_clear_free. */
static BIGNUM *scalar_bn(const uint8_t scalar[P256_SCALAR_LEN])
{
	BIGNUM *k = BN_secure_new();

	if (!k)
		return NULL;
	BN_set_flags(k, BN_FLG_CONSTTIME);
	if (!BN_bin2bn(scalar, P256_SCALAR_LEN, k)) {
		BN_clear_free(k);
		return NULL;
	}
	return k;
}

/*
 * The P-256 group, built once: EC_GROUP_new_by_curve_name costs about as much
 * as the scalar multiplication itself. A group is only read after creation,
 * which OpenSSL allows from several threads.
 */
static EC_GROUP *p256_group_v;
static pthread_once_t p256_group_once = PTHREAD_ONCE_INIT;

static void p256_group_init(void)
{
	p256_group_v = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static const EC_GROUP *p256_group(void)
{
	return pthread_once(&p256_group_once, p256_group_init) == 0 ? p256_group_v : NULL;
}

err_t p256_pubkey(const uint8_t scalar[P256_SCALAR_LEN], uint8_t pub[P256_PUB_LEN])
{
	const EC_GROUP *g;
	EC_POINT *pt = NULL;
	BN_CTX *bctx = NULL;
	BIGNUM *k = NULL;
	err_t e = ERR_KEY_RANGE;

	if (!p256_scalar_is_valid(scalar))
		goto out;
	e = ERR_CRYPTO;
	if (!(g = p256_group()) || !(pt = EC_POINT_new(g)) || !(bctx = BN_CTX_secure_new()) || !(k = scalar_bn(scalar)))
		goto out;
	if (EC_POINT_mul(g, pt, k, NULL, NULL, bctx) != 1 ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, P256_PUB_LEN, bctx) != P256_PUB_LEN)
		goto out;
	e = ERR_OK;
out:
	if (e)
		ERR_clear_error();
	BN_clear_free(k);
	BN_CTX_free(bctx);
	EC_POINT_free(pt);
	return e;
}

err_t p256_pkcs8_der(const uint8_t scalar[P256_SCALAR_LEN], uint8_t out[P256_PKCS8_LEN])
{
	uint8_t *p = out;
	err_t e;

	if ((e = p256_pubkey(scalar, out + P256_PKCS8_LEN - P256_PUB_LEN)) != ERR_OK)
		return e;
	memcpy(p, pkcs8_head, sizeof(pkcs8_head));
	p += sizeof(pkcs8_head);
	memcpy(p, scalar, P256_SCALAR_LEN);
	p += P256_SCALAR_LEN;
	memcpy(p, pkcs8_pub_head, sizeof(pkcs8_pub_head));
	return ERR_OK;
}

err_t p256_pkcs8_pem(const uint8_t scalar[P256_SCALAR_LEN], char *out, size_t cap, size_t *len)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----\n", end[] = "-----END PRIVATE KEY-----\n";
	uint8_t der[P256_PKCS8_LEN];
	char b64[256];
	size_t n, pos = 0;
	err_t e;

	if (!out || cap < P256_PKCS8_PEM_MAX)
		return ERR_INVALID_ARG;
	if ((e = p256_pkcs8_der(scalar, der)) != ERR_OK)
		goto out;
	n = base64_encode(b64, der, sizeof(der), 0);
	memcpy(out, begin, sizeof(begin) - 1);
	pos = sizeof(begin) - 1;
	for (size_t i = 0; i < n; i += 64) {
		size_t k = MIN((size_t)64, n - i);
		memcpy(out + pos, b64 + i, k);
		pos += k;
		out[pos++] = '\n';
	}
	memcpy(out + pos, end, sizeof(end));
	pos += sizeof(end) - 1;
	*len = pos;
out:
	OPENSSL_cleanse(der, sizeof(der));
	OPENSSL_cleanse(b64, sizeof(b64));
	return e;
}

err_t p256_spki_der_from_pub(const uint8_t pub[P256_PUB_LEN], uint8_t out[P256_SPKI_LEN])
{
	EVP_PKEY *k;

	if (pub[0] != 0x04 || !(k = ec_p256_pubkey_from_xy(pub + 1)))
		return ERR_PROTO_MALFORMED;
	EVP_PKEY_free(k);
	memcpy(out, spki_head, sizeof(spki_head));
	memcpy(out + sizeof(spki_head), pub, P256_PUB_LEN);
	return ERR_OK;
}

err_t p256_spki_der(const uint8_t scalar[P256_SCALAR_LEN], uint8_t out[P256_SPKI_LEN])
{
	err_t e;

	if ((e = p256_pubkey(scalar, out + sizeof(spki_head))) != ERR_OK)
		return e;
	memcpy(out, spki_head, sizeof(spki_head));
	return ERR_OK;
}

EVP_PKEY *p256_pkey_from_scalar(const uint8_t scalar[P256_SCALAR_LEN])
{
	uint8_t pub[P256_PUB_LEN];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *k = NULL;

	if (p256_pubkey(scalar, pub) != ERR_OK)
		goto out;
	/* A secure BIGNUM puts the private key into OpenSSL's secure (cleared-on-free) parameter block. */
	if (!(k = scalar_bn(scalar)) || !(bld = OSSL_PARAM_BLD_new()) ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, k) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1 ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	if (!key)
		ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(k);
	return key;
}

/* 1 when key is an EC key on P-256. */
static int is_p256(EVP_PKEY *key)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (!key || !EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
		return 0;
	nid = OBJ_txt2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid == NID_X9_62_prime256v1;
}

err_t p256_scalar_from_pkey(EVP_PKEY *key, uint8_t scalar[P256_SCALAR_LEN])
{
	BIGNUM *d = NULL;
	err_t e = ERR_INVALID_ARG;

	if (!is_p256(key) || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		goto out;
	if (BN_num_bytes(d) > P256_SCALAR_LEN || BN_bn2binpad(d, scalar, P256_SCALAR_LEN) != P256_SCALAR_LEN)
		goto out;
	e = p256_scalar_is_valid(scalar) ? ERR_OK : ERR_KEY_RANGE;
out:
	if (e) {
		ERR_clear_error();
		OPENSSL_cleanse(scalar, P256_SCALAR_LEN);
	}
	BN_clear_free(d);
	return e;
}

err_t p256_scalar_from_pkcs8_der(const uint8_t *der, size_t len, uint8_t scalar[P256_SCALAR_LEN])
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;
	const unsigned char *q = der;
	uint8_t want[P256_PUB_LEN], xy[64];
	size_t xy_len = 0;
	err_t e = ERR_PROTO_MALFORMED;

	if (!der || len == 0 || len > P256_PEM_MAX_INPUT)
		goto out;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)len);
	if (!p8 || (size_t)(q - der) != len || !(key = EVP_PKCS82PKEY(p8)))
		goto out;
	if ((e = p256_scalar_from_pkey(key, scalar)) != ERR_OK) {
		if (e == ERR_INVALID_ARG)
			e = ERR_PROTO_MALFORMED;
		goto out;
	}
	/* OpenSSL recomputes an absent public key, so this also covers keys written without one. */
	e = ERR_PROTO_MALFORMED;
	if (p256_pubkey(scalar, want) != ERR_OK || ec_pubkey_xy(key, xy, sizeof(xy), &xy_len) != ERR_OK ||
	    xy_len != 64 || memcmp(xy, want + 1, 64) != 0)
		goto out;
	e = ERR_OK;
out:
	if (e) {
		ERR_clear_error();
		OPENSSL_cleanse(scalar, P256_SCALAR_LEN);
	}
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return e;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

err_t p256_scalar_from_pem(const char *pem, size_t len, uint8_t scalar[P256_SCALAR_LEN])
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, *rest = NULL;
	unsigned char *data = NULL;
	long dlen = 0, rlen;
	size_t i = 0;
	err_t e = ERR_PROTO_MALFORMED;

	if (!pem || len == 0 || len > P256_PEM_MAX_INPUT)
		goto out;
	/* One block and whitespace: PEM_read_bio alone would skip any text before BEGIN. */
	while (i < len && is_ws(pem[i]))
		i++;
	if (i == len || pem[i] != '-')
		goto out;
	if (!(bio = BIO_new_mem_buf(pem + i, (int)(len - i))))
		goto out;
	/* PEM_FLAG_SECURE: the decoded key lands in secure memory that is cleared when freed. */
	if (PEM_read_bio_ex(bio, &name, &header, &data, &dlen, PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64) != 1)
		goto out;
	if (strcmp(name, "PRIVATE KEY") != 0 || (header && header[0] != 0) || dlen <= 0)
		goto out;
	rlen = BIO_get_mem_data(bio, &rest);
	for (long k = 0; k < rlen; k++)
		if (!is_ws(rest[k]))
			goto out;
	e = p256_scalar_from_pkcs8_der(data, (size_t)dlen, scalar);
out:
	if (e) {
		ERR_clear_error();
		OPENSSL_cleanse(scalar, P256_SCALAR_LEN);
	}
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	if (data)
		OPENSSL_secure_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	return e;
}
