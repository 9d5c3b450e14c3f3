/* SPDX-License-Identifier: Apache-2.0 */
/* P-256/P-384 public keys from raw coordinates and ECDSA with raw r||s signatures, over OpenSSL 3 EVP. */
#include "crypto.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

/* What distinguishes the two curves everywhere below. */
struct curve {
	const char *group;        /* OpenSSL group name */
	int nid;
	size_t coord;             /* bytes per coordinate and per r, s */
	const uint8_t *order;     /* n, big-endian, coord bytes */
	const EVP_MD *(*md)(void);
};

static const uint8_t p256_order[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static const uint8_t p384_order[48] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
	0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
};

static const struct curve curve_p256 = { "P-256", NID_X9_62_prime256v1, 32, p256_order, EVP_sha256 };
static const struct curve curve_p384 = { "P-384", NID_secp384r1, 48, p384_order, EVP_sha384 };

#define EC_MAX_COORD 48

/* The curve of an EC key, or NULL for any other key type or curve. */
static const struct curve *key_curve(EVP_PKEY *key)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return NULL;
	if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
		return NULL;
	nid = OBJ_txt2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid == curve_p256.nid)
		return &curve_p256;
	if (nid == curve_p384.nid)
		return &curve_p384;
	return NULL;
}

/* 1 when 0 < v < n, for big-endian v of c->coord bytes. */
static int scalar_in_range(const struct curve *c, const uint8_t *v)
{
	int nonzero = 0;

	for (size_t i = 0; i < c->coord; i++)
		nonzero |= v[i];
	return nonzero && memcmp(v, c->order, c->coord) < 0;
}

static EVP_PKEY *pubkey_from_xy(const struct curve *c, const uint8_t *xy)
{
	uint8_t point[1 + 2 * EC_MAX_COORD];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *key = NULL, *ret = NULL;

	point[0] = 0x04;   /* uncompressed SEC1 point */
	memcpy(point + 1, xy, 2 * c->coord);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->coord) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!params)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/*
	 * On the curve, not infinity, coordinates in range. The full check would
	 * also compute n*P, which adds nothing on P-256/P-384 (cofactor 1) and
	 * costs a scalar multiplication per key.
	 */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!chk || EVP_PKEY_public_check_quick(chk) != 1)
		goto out;
	ret = key;
	key = NULL;
out:
	if (!ret)
		ERR_clear_error();
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return ret;
}

EVP_PKEY *ec_p256_pubkey_from_xy(const uint8_t xy[64])
{
	return pubkey_from_xy(&curve_p256, xy);
}

EVP_PKEY *ec_p384_pubkey_from_xy(const uint8_t xy[96])
{
	return pubkey_from_xy(&curve_p384, xy);
}

/* r||s to a DER ECDSA-Sig-Value; caller frees *der with OPENSSL_free. */
static err_t MUST_CHECK raw_to_der(const struct curve *c, const uint8_t *sig, uint8_t **der, int *der_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	err_t err = ERR_CRYPTO;

	*der = NULL;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)c->coord, NULL);
	s = BN_bin2bn(sig + c->coord, (int)c->coord, NULL);
	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;   /* owned by es now */
	*der_len = i2d_ECDSA_SIG(es, der);
	if (*der_len <= 0) {
		*der = NULL;
		goto out;
	}
	err = ERR_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return err;
}

static err_t MUST_CHECK ecdsa_verify(const struct curve *c, EVP_PKEY *key, const uint8_t *sig, const void *msg,
				     size_t len)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *der = NULL;
	int der_len = 0;
	err_t err = ERR_CRYPTO;

	/* Range checks are ours so the outcome does not depend on what the library tolerates. */
	if (key_curve(key) != c || !scalar_in_range(c, sig) || !scalar_in_range(c, sig + c->coord))
		goto out;
	if (raw_to_der(c, sig, &der, &der_len) != ERR_OK)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, c->md(), NULL, key) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, der, (size_t)der_len, msg, len) != 1)
		goto out;
	err = ERR_OK;
out:
	if (err)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return err;
}

err_t ecdsa_verify_p256_sha256(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len)
{
	return ecdsa_verify(&curve_p256, key, sig, msg, len);
}

err_t ecdsa_verify_p384_sha384(EVP_PKEY *key, const uint8_t sig[96], const void *msg, size_t len)
{
	return ecdsa_verify(&curve_p384, key, sig, msg, len);
}

static err_t MUST_CHECK ecdsa_sign(const struct curve *c, EVP_PKEY *key, const void *msg, size_t len,
				   uint8_t *sig)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *der = NULL;
	const uint8_t *dp;
	size_t der_len = 0;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	err_t err = ERR_CRYPTO;

	if (key_curve(key) != c)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, c->md(), NULL, key) != 1)
		goto out;
	if (EVP_DigestSign(ctx, NULL, &der_len, msg, len) != 1)
		goto out;
	der = OPENSSL_malloc(der_len);
	if (!der || EVP_DigestSign(ctx, der, &der_len, msg, len) != 1)
		goto out;
	dp = der;
	es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
	if (!es)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, (int)c->coord) != (int)c->coord ||
	    BN_bn2binpad(s, sig + c->coord, (int)c->coord) != (int)c->coord)
		goto out;
	err = ERR_OK;
out:
	if (err) {
		ERR_clear_error();
		memset(sig, 0, 2 * c->coord);
	}
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return err;
}

err_t ecdsa_sign_p256_sha256(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[64])
{
	return ecdsa_sign(&curve_p256, key, msg, len, sig);
}

err_t ecdsa_sign_p384_sha384(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[96])
{
	return ecdsa_sign(&curve_p384, key, msg, len, sig);
}

err_t ec_pubkey_xy(EVP_PKEY *key, uint8_t *out, size_t cap, size_t *len)
{
	const struct curve *c = key_curve(key);
	BIGNUM *x = NULL, *y = NULL;
	err_t err = ERR_CRYPTO;

	if (!c)
		goto out;
	if (cap < 2 * c->coord) {
		err = ERR_INVALID_ARG;
		goto out;
	}
	/* Affine coordinates rather than the encoded point, whose form (compressed or not) is the key's choice. */
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
		goto out;
	if (BN_bn2binpad(x, out, (int)c->coord) != (int)c->coord ||
	    BN_bn2binpad(y, out + c->coord, (int)c->coord) != (int)c->coord)
		goto out;
	*len = 2 * c->coord;
	err = ERR_OK;
out:
	if (err)
		ERR_clear_error();
	BN_free(x);
	BN_free(y);
	return err;
}

/*
 * ec_p256_pubkey_from_xy, with the group copied from `like` instead of
 * rebuilt: EVP_PKEY_fromdata with a group name constructs a new EC_GROUP
 * every time (field and order Montgomery contexts, generator), which in
 * OpenSSL 3.0 costs about as much as the rest of the key. Copying the
 * parameters of a key we already hold shares the curve's precomputation.
 * The point is decoded by the provider's EC_KEY_oct2key (must be on the
 * curve) and then passes the same quick public-key check as above, so the
 * keys accepted are exactly those of ec_p256_pubkey_from_xy.
 */
EVP_PKEY *ec_p256_pubkey_from_xy_like(const EVP_PKEY *like, const uint8_t xy[64])
{
	uint8_t point[1 + 64];
	EVP_PKEY *key = NULL, *ret = NULL;
	EVP_PKEY_CTX *chk = NULL;

	if (!like || key_curve(UNCONST(like)) != &curve_p256)
		return ec_p256_pubkey_from_xy(xy);
	point[0] = 0x04;   /* uncompressed SEC1 point */
	memcpy(point + 1, xy, 64);
	key = EVP_PKEY_new();
	if (!key || EVP_PKEY_copy_parameters(key, like) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(key, point, sizeof(point)) != 1)
		goto out;
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!chk || EVP_PKEY_public_check_quick(chk) != 1)
		goto out;
	ret = key;
	key = NULL;
out:
	if (!ret)
		ERR_clear_error();
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(key);
	return ret;
}
