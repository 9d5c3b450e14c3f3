/* SPDX-License-Identifier: Apache-2.0 */
/* secp256k1 secrets, public keys, recoverable signatures and addresses over libsecp256k1. */
#include "k256.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "crypto.h"

/*
 * The one signing context. libsecp256k1 functions that take a const context
 * are thread-safe, so after pthread_once has made and randomised it nobody
 * writes to it again; it lives until exit. Verification-only work (parse,
 * recover, serialize) uses secp256k1_context_static and needs none.
 */
static secp256k1_context *sign_ctx;
static pthread_once_t sign_ctx_once = PTHREAD_ONCE_INIT;

static void sign_ctx_init(void)
{
	secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	uint8_t seed[32];

	if (!ctx)
		return;
	/* Blinding of the generator multiplication against side channels. */
	if (RAND_priv_bytes(seed, sizeof(seed)) != 1 || !secp256k1_context_randomize(ctx, seed)) {
		secp256k1_context_destroy(ctx);
		ctx = NULL;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	sign_ctx = ctx;
}

static const secp256k1_context *get_sign_ctx(void)
{
	if (pthread_once(&sign_ctx_once, sign_ctx_init) != 0)
		return NULL;
	return sign_ctx;
}

int k256_secret_is_valid(const uint8_t sk[K256_SECRET_LEN])
{
	return sk && secp256k1_ec_seckey_verify(secp256k1_context_static, sk) == 1;
}

err_t k256_secret_random(uint8_t sk[K256_SECRET_LEN])
{
	/* A random 256-bit value is invalid with probability ~2^-128; the loop is for form's sake. */
	for (int i = 0; i < 64; i++) {
		if (RAND_priv_bytes(sk, K256_SECRET_LEN) != 1)
			break;
		if (k256_secret_is_valid(sk))
			return ERR_OK;
	}
	OPENSSL_cleanse(sk, K256_SECRET_LEN);
	return ERR_CRYPTO;
}

static err_t MUST_CHECK pubkey_of(const uint8_t *sk, secp256k1_pubkey *pub)
{
	const secp256k1_context *ctx;

	if (!k256_secret_is_valid(sk))
		return ERR_KEY_RANGE;
	if (!(ctx = get_sign_ctx()))
		return ERR_CRYPTO;
	return secp256k1_ec_pubkey_create(ctx, pub, sk) == 1 ? ERR_OK : ERR_CRYPTO;
}

static void serialize(const secp256k1_pubkey *pub, uint8_t *out, int compressed)
{
	size_t n = compressed ? K256_PUB_LEN : K256_PUB_FULL_LEN;

	/* Cannot fail for a parsed or created key and a buffer of the right size. */
	secp256k1_ec_pubkey_serialize(secp256k1_context_static, out, &n, pub,
				      compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
}

err_t k256_pubkey(const uint8_t sk[K256_SECRET_LEN], uint8_t pub[K256_PUB_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_of(sk, &p)) != ERR_OK)
		return e;
	serialize(&p, pub, 1);
	return ERR_OK;
}

err_t k256_pubkey_full(const uint8_t sk[K256_SECRET_LEN], uint8_t pub[K256_PUB_FULL_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_of(sk, &p)) != ERR_OK)
		return e;
	serialize(&p, pub, 0);
	return ERR_OK;
}

/* Strict SEC1: 02/03 + x, or 04 + x + y; libsecp256k1 would also take the hybrid 06/07 forms. */
static err_t MUST_CHECK pubkey_parse(const uint8_t *in, size_t len, secp256k1_pubkey *pub)
{
	if (!in)
		return ERR_PROTO_MALFORMED;
	if (!((len == K256_PUB_LEN && (in[0] == 0x02 || in[0] == 0x03)) ||
	      (len == K256_PUB_FULL_LEN && in[0] == 0x04)))
		return ERR_PROTO_MALFORMED;
	return secp256k1_ec_pubkey_parse(secp256k1_context_static, pub, in, len) == 1 ? ERR_OK
										     : ERR_PROTO_MALFORMED;
}

err_t k256_pubkey_compress(const uint8_t *pub, size_t len, uint8_t out[K256_PUB_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_parse(pub, len, &p)) != ERR_OK)
		return e;
	serialize(&p, out, 1);
	return ERR_OK;
}

err_t k256_pubkey_decompress(const uint8_t *pub, size_t len, uint8_t out[K256_PUB_FULL_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_parse(pub, len, &p)) != ERR_OK)
		return e;
	serialize(&p, out, 0);
	return ERR_OK;
}

err_t k256_sign(const uint8_t sk[K256_SECRET_LEN], const uint8_t hash[K256_HASH_LEN], uint8_t sig[K256_SIG_LEN])
{
	const secp256k1_context *ctx;
	secp256k1_ecdsa_recoverable_signature rs;
	int recid = -1;
	err_t e = ERR_KEY_RANGE;

	if (!k256_secret_is_valid(sk))
		goto out;
	e = ERR_CRYPTO;
	if (!(ctx = get_sign_ctx()))
		goto out;
	/* NULL nonce function = RFC 6979; libsecp256k1 always emits low s. */
	if (secp256k1_ecdsa_sign_recoverable(ctx, &rs, hash, sk, NULL, NULL) != 1 ||
	    secp256k1_ecdsa_recoverable_signature_serialize_compact(secp256k1_context_static, sig, &recid, &rs) != 1 ||
	    recid < 0 || recid > 1)
		goto out;
	/* recid 2/3 (x >= n) has probability ~2^-127 and Ethereum's v cannot carry it; treated as failure. */
	sig[64] = (uint8_t)recid;
	e = ERR_OK;
out:
	OPENSSL_cleanse(&rs, sizeof(rs));
	if (e != ERR_OK)
		memset(sig, 0, K256_SIG_LEN);
	return e;
}

err_t k256_recover(const uint8_t hash[K256_HASH_LEN], const uint8_t sig[K256_SIG_LEN], uint8_t pub[K256_PUB_LEN])
{
	const secp256k1_context *c = secp256k1_context_static;
	secp256k1_ecdsa_recoverable_signature rs;
	secp256k1_ecdsa_signature plain, norm;
	secp256k1_pubkey p;
	static const uint8_t zero[32];

	if (sig[64] > 1)
		return ERR_PROTO_SIGNATURE;
	/* parse_compact refuses r or s >= n; zero is ours to refuse (recover would, too). */
	if (memcmp(sig, zero, 32) == 0 || memcmp(sig + 32, zero, 32) == 0 ||
	    secp256k1_ecdsa_recoverable_signature_parse_compact(c, &rs, sig, sig[64]) != 1)
		return ERR_PROTO_SIGNATURE;
	/* normalize returns 1 when s was high. */
	if (secp256k1_ecdsa_recoverable_signature_convert(c, &plain, &rs) != 1 ||
	    secp256k1_ecdsa_signature_normalize(c, &norm, &plain) != 0)
		return ERR_PROTO_SIGNATURE;
	if (secp256k1_ecdsa_recover(c, &p, &rs, hash) != 1)
		return ERR_PROTO_SIGNATURE;
	serialize(&p, pub, 1);
	return ERR_OK;
}

static void address_of(const secp256k1_pubkey *p, uint8_t addr[K256_ADDRESS_LEN])
{
	uint8_t full[K256_PUB_FULL_LEN], h[KECCAK256_LEN];

	serialize(p, full, 0);
	keccak256(full + 1, 64, h);
	memcpy(addr, h + 12, K256_ADDRESS_LEN);
}

err_t k256_address(const uint8_t *pub, size_t len, uint8_t addr[K256_ADDRESS_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_parse(pub, len, &p)) != ERR_OK)
		return e;
	address_of(&p, addr);
	return ERR_OK;
}

err_t k256_address_of_secret(const uint8_t sk[K256_SECRET_LEN], uint8_t addr[K256_ADDRESS_LEN])
{
	secp256k1_pubkey p;
	err_t e;

	if ((e = pubkey_of(sk, &p)) != ERR_OK)
		return e;
	address_of(&p, addr);
	return ERR_OK;
}
