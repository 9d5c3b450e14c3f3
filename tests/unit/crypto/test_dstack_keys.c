/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/crypto/dstack_keys: golden values for every KMS / guest-agent derivation, chain verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dstack_keys.h"
#include "enc.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(got, n);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[256];

	assert_true(n <= sizeof(w));
	unhex(w, n, want);
	assert_memory_equal(got, w, n);
}

/*
 * The fixed case of tests/node/kms_keys.test.mjs. Every expected value below
 * was recomputed there by an independent implementation (node:crypto HKDF and
 * PKCS#8/SPKI encoders, @noble/curves, ethers' RFC 6979 signer, whose
 * signatures must equal ours byte for byte) and is pinned here so a
 * regression shows up without Node.
 */
static const char root_ca_hex[] = "f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1";
static const char root_k256_hex[] = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
static const char app_id_hex[] = "00112233445566778899aabbccddeeff00112233";
static const char instance_hex[] = "ffeeddccbbaa99887766554433221100ffeeddcc";
#define TS 1700000000u

struct fixture {
	struct dstack_root_keys root;
	uint8_t app_id[20], instance_id[20];
};

static void load(struct fixture *f)
{
	unhex(f->root.ca, 32, root_ca_hex);
	unhex(f->root.k256, 32, root_k256_hex);
	unhex(f->app_id, 20, app_id_hex);
	unhex(f->instance_id, 20, instance_hex);
}

static void test_app_keys_golden(void **state)
{
	struct fixture f;
	struct dstack_app_keys k;
	uint8_t pub[33], addr[20], b[32], p256pub[65];

	(void)state;
	load(&f);
	assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 20, f.instance_id, 20, &k), ERR_OK);
	assert_hex(k.disk_crypt_key, 32, "3518dbdeb7335005422c5abc0408f5db82245050994403870c37ebbbef3bb9c2");
	assert_hex(k.env_crypt_key, 32, "ca592449c2faad77011e56797bdcfe29412aff7703045ed4455d6c42ff89c37e");
	assert_hex(k.k256_key, 32, "e58f0d84c0a599fdcc71542314bbfd375e610391e094c67f7719bb8c08deedb9");
	assert_hex(k.k256_signature, 65,
		   "3b3ad579033b6616c75e029525b317a91829898fec16943aa4119d78a5fd9fb1"
		   "317373c8a342888cc86682dc1a181cdfc38344f7cf8d05db436e77664a5164db00");
	assert_hex(k.app_ca, 32, "ab8afd944a92e600d4d3905d7e27fbbb2a6ce4b94c815dd5aacbb984a626823c");
	assert_int_equal(k256_pubkey(k.k256_key, pub), ERR_OK);
	assert_hex(pub, 33, "03154ee155d4adaa644445bba0916940a3685ac76913b56264f4952d4c2f30abc0");
	assert_int_equal(k256_address_of_secret(k.k256_key, addr), ERR_OK);
	assert_hex(addr, 20, "ee3d372e32f9cabe8b2e15f839d091be3b273681");
	assert_int_equal(p256_pubkey(k.app_ca, p256pub), ERR_OK);
	assert_hex(p256pub, 65,
		   "04132d16b6f34b7ad79e2f3ec91159a07d17980c5fa68f0b40c559997d25abc4ed"
		   "91a6bb944a826938c6b653414c49c1c267ed1641c25554e1ee391bc0da3ba5d0");

	/* The single-purpose functions give the same values. */
	assert_int_equal(dstack_disk_crypt_key(f.root.ca, f.app_id, 20, f.instance_id, 20, b), ERR_OK);
	assert_memory_equal(b, k.disk_crypt_key, 32);
	assert_int_equal(dstack_env_crypt_key(f.root.ca, f.app_id, 20, b), ERR_OK);
	assert_memory_equal(b, k.env_crypt_key, 32);
	assert_int_equal(dstack_app_k256_key(f.root.k256, f.app_id, 20, b), ERR_OK);
	assert_memory_equal(b, k.k256_key, 32);
	assert_int_equal(dstack_app_ca_key(f.root.ca, f.app_id, 20, b), ERR_OK);
	assert_memory_equal(b, k.app_ca, 32);

	/* The k256_signature recovers the root key over the dstack-kms-issued digest. */
	{
		uint8_t h[32], root_pub[33], rec[33];

		assert_int_equal(dstack_kms_issued_hash(f.app_id, 20, pub, h), ERR_OK);
		assert_int_equal(k256_recover(h, k.k256_signature, rec), ERR_OK);
		assert_int_equal(k256_pubkey(f.root.k256, root_pub), ERR_OK);
		assert_hex(root_pub, 33, "0284bf7562262bbd6940085748f3be6afa52ae317155181ece31b66351ccffa4b0");
		assert_memory_equal(rec, root_pub, 33);
	}

	/* Another instance of the same app: another disk key, everything else the same. */
	{
		struct dstack_app_keys k2;

		f.instance_id[0] ^= 1;
		assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 20, f.instance_id, 20, &k2), ERR_OK);
		assert_memory_not_equal(k2.disk_crypt_key, k.disk_crypt_key, 32);
		assert_memory_equal(k2.env_crypt_key, k.env_crypt_key, 32);
		assert_memory_equal(k2.k256_key, k.k256_key, 32);
		assert_memory_equal(k2.k256_signature, k.k256_signature, 65);
		assert_memory_equal(k2.app_ca, k.app_ca, 32);
		dstack_app_keys_wipe(&k2);
	}
	dstack_app_keys_wipe(&k);
	for (size_t i = 0; i < sizeof(k); i++)
		assert_int_equal(((uint8_t *)&k)[i], 0);
}

static void test_env_pubkey_golden(void **state)
{
	struct fixture f;
	uint8_t pub[32], sig[65], h[32], rec[33], root_pub[33];

	(void)state;
	load(&f);
	assert_int_equal(dstack_env_pubkey(f.root.ca, f.app_id, 20, pub), ERR_OK);
	assert_hex(pub, 32, "aba4b02d581f59068fe8204b8fdafbca1ace72d362b2ef5256358722ac286253");
	assert_int_equal(dstack_env_pubkey_sign(f.root.k256, f.app_id, 20, pub, sig), ERR_OK);
	assert_hex(sig, 65,
		   "8e6181907061804879ce2c9ece3c0a75421f2259381179b955d07713941034d3"
		   "75e2abb8c94a4698373e0cf99d9b5b1eb2d3cc057efb64c7ed473a961086f6f401");
	assert_int_equal(dstack_env_pubkey_sign_v1(f.root.k256, f.app_id, 20, TS, pub, sig), ERR_OK);
	assert_hex(sig, 65,
		   "21e768475b337b021389a39a53ecb6bd1f16b42e43f4d827c0cdb09c78fc9906"
		   "721abfae0493017c786ce73f8e541dc59b78dbba2709fbff78add2942a44c2d901");
	assert_int_equal(k256_pubkey(f.root.k256, root_pub), ERR_OK);
	assert_int_equal(dstack_env_pubkey_hash_v1(f.app_id, 20, TS, pub, h), ERR_OK);
	assert_int_equal(k256_recover(h, sig, rec), ERR_OK);
	assert_memory_equal(rec, root_pub, 33);
	/* The timestamp is bound: another second recovers another key. */
	assert_int_equal(dstack_env_pubkey_hash_v1(f.app_id, 20, TS + 1, pub, h), ERR_OK);
	assert_int_equal(k256_recover(h, sig, rec), ERR_OK);
	assert_memory_not_equal(rec, root_pub, 33);
	/* The message layout: prefix ':' app_id u64be(ts) pub, hashed with Keccak-256. */
	{
		uint8_t msg[26 + 20 + 8 + 32], want[32];

		memcpy(msg, "dstack-env-encrypt-pubkey:", 26);
		memcpy(msg + 26, f.app_id, 20);
		for (int i = 0; i < 8; i++)
			msg[46 + i] = (uint8_t)((uint64_t)TS >> (56 - 8 * i));
		memcpy(msg + 54, pub, 32);
		keccak256(msg, sizeof(msg), want);
		assert_int_equal(dstack_env_pubkey_hash_v1(f.app_id, 20, TS, pub, h), ERR_OK);
		assert_memory_equal(h, want, 32);
	}
}

static void test_bootstrap_golden(void **state)
{
	struct fixture f;
	uint8_t rd[64], spki[P256_SPKI_LEN], kpub[33];

	(void)state;
	load(&f);
	assert_int_equal(dstack_bootstrap_report_data_of(&f.root, rd), ERR_OK);
	assert_hex(rd, 64,
		   "bc674b99156b8d1df404b46560e8a4cd671d06e13296a477248686ec51b96487"
		   "0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(p256_spki_der(f.root.ca, spki), ERR_OK);
	assert_int_equal(k256_pubkey(f.root.k256, kpub), ERR_OK);
	memset(rd, 0xee, 64);
	assert_int_equal(dstack_bootstrap_report_data(spki, sizeof(spki), kpub, rd), ERR_OK);
	assert_hex(rd, 32, "bc674b99156b8d1df404b46560e8a4cd671d06e13296a477248686ec51b96487");
	/* keccak256 of the text itself (lowercase hex, dstack's spelling). */
	{
		char text[29 + 182 + 1 + 66 + 1 + 1];
		uint8_t want[32];

		memcpy(text, "dstack-kms-genereted-keys-v1:", 29);
		hex_encode(text + 29, spki, sizeof(spki));
		text[29 + 182] = ';';
		hex_encode(text + 29 + 183, kpub, 33);
		text[29 + 183 + 66] = ';';
		keccak256(text, 29 + 183 + 67, want);
		assert_memory_equal(rd, want, 32);
	}
	assert_int_equal(dstack_bootstrap_report_data(spki, 0, kpub, rd), ERR_INVALID_ARG);
	assert_int_equal(dstack_bootstrap_report_data(spki, DSTACK_MAX_SPKI + 1, kpub, rd), ERR_INVALID_ARG);
}

static void test_getkey_golden(void **state)
{
	struct fixture f;
	struct dstack_app_keys k;
	struct dstack_derived_key dk;
	static const char path[] = "/wallet/eth", purpose[] = "signing";

	(void)state;
	load(&f);
	assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 20, f.instance_id, 20, &k), ERR_OK);
	assert_int_equal(dstack_getkey(k.k256_key, DSTACK_KEY_SECP256K1, path, 11, purpose, 7, &dk), ERR_OK);
	assert_hex(dk.key, 32, "5dfd56ee3d702ac0939ecd2e830bd139dec245b7c41b409b4bfcf7540eae8804");
	assert_int_equal(dk.pub_len, 33);
	assert_hex(dk.pub, 33, "030f45959a7520192e9a8de5b6fe7ee4019e53e4fdd5daff27789af05aba24861a");
	assert_hex(dk.sig, 65,
		   "7c453a2f9d0f93afa7d323e162b3010353427ad276a67c54e415c5f7f3428ff6"
		   "76bee41bb46ac298d1b57cd606d1b5d447429eb9ab7a8d405a92f9f8a75cc3ac01");
	assert_int_equal(dstack_getkey(k.k256_key, DSTACK_KEY_ED25519, path, 11, purpose, 7, &dk), ERR_OK);
	/* Same bytes as the secp256k1 key: the algorithm is not domain-separated in dstack. */
	assert_hex(dk.key, 32, "5dfd56ee3d702ac0939ecd2e830bd139dec245b7c41b409b4bfcf7540eae8804");
	assert_int_equal(dk.pub_len, 32);
	assert_hex(dk.pub, 32, "ad13b5eb1bd17b9d004e3db2f0b14ad5c7a813020fa81dc86724e11aa6f40aed");
	assert_hex(dk.sig, 65,
		   "ce7e7a7010fcab5033bfdfad72497156af247a7c83323e1472cdc81f80249225"
		   "5bc70517310f28fd9915ee0fc07a502848bd1379f64da3b9797f2041a0345fde00");
	/* Empty path and purpose are legal. */
	assert_int_equal(dstack_getkey(k.k256_key, DSTACK_KEY_SECP256K1, "", 0, "", 0, &dk), ERR_OK);
	assert_int_equal(dstack_getkey(k.k256_key, (enum dstack_key_alg)7, path, 11, purpose, 7, &dk), ERR_INVALID_ARG);
	assert_int_equal(dstack_getkey(k.k256_key, DSTACK_KEY_SECP256K1, NULL, 3, purpose, 7, &dk), ERR_INVALID_ARG);
	dstack_app_keys_wipe(&k);
}

/* RFC 8032 section 7.1, test 1. */
static void test_ed25519(void **state)
{
	uint8_t seed[32], pub[32];

	(void)state;
	unhex(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
	assert_int_equal(ed25519_public_key(seed, pub), ERR_OK);
	assert_hex(pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
}

static void test_verify_chain(void **state)
{
	struct fixture f;
	struct dstack_app_keys k;
	struct dstack_derived_key dk;
	uint8_t root_pub[33], app_pub[33], app_expect[33], bad[65], other_id[20];
	static const char purpose[] = "signing";

	(void)state;
	load(&f);
	assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 20, f.instance_id, 20, &k), ERR_OK);
	assert_int_equal(k256_pubkey(f.root.k256, root_pub), ERR_OK);
	assert_int_equal(k256_pubkey(k.k256_key, app_expect), ERR_OK);
	for (int alg = 0; alg < 2; alg++) {
		assert_int_equal(dstack_getkey(k.k256_key, (enum dstack_key_alg)alg, "p", 1, purpose, 7, &dk), ERR_OK);
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, dk.sig,
							 k.k256_signature, root_pub, app_pub),
				 ERR_OK);
		assert_memory_equal(app_pub, app_expect, 33);
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, dk.sig,
							 k.k256_signature, root_pub, NULL),
				 ERR_OK);
		/* Another purpose, another key, another app, another root: all end somewhere else. */
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, "signinG", 7, f.app_id, 20, dk.sig,
							 k.k256_signature, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		dk.pub[5] ^= 1;
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, dk.sig,
							 k.k256_signature, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		dk.pub[5] ^= 1;
		memcpy(other_id, f.app_id, 20);
		other_id[19] ^= 1;
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, other_id, 20, dk.sig,
							 k.k256_signature, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		root_pub[1] ^= 1;
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, dk.sig,
							 k.k256_signature, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		root_pub[1] ^= 1;
		/* Malformed signatures: Ethereum-style v, zero r. */
		memcpy(bad, dk.sig, 65);
		bad[64] += 27;
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, bad,
							 k.k256_signature, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		memcpy(bad, k.k256_signature, 65);
		memset(bad, 0, 32);
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, dk.sig, bad,
							 root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
		/* The chain's two links swapped. */
		assert_int_equal(dstack_verify_key_chain(dk.pub, dk.pub_len, purpose, 7, f.app_id, 20, k.k256_signature,
							 dk.sig, root_pub, NULL),
				 ERR_PROTO_SIGNATURE);
	}
	assert_int_equal(dstack_verify_key_chain(dk.pub, 31, purpose, 7, f.app_id, 20, dk.sig, k.k256_signature,
						 root_pub, NULL),
			 ERR_INVALID_ARG);
	assert_int_equal(dstack_verify_key_chain(dk.pub, 32, purpose, 7, f.app_id, 0, dk.sig, k.k256_signature,
						 root_pub, NULL),
			 ERR_INVALID_ARG);
	dstack_app_keys_wipe(&k);
}

/* dstack-util's seed mode; values cross-checked in kms_keys.test.mjs. */
static void test_seed_keys(void **state)
{
	struct dstack_seed_keys k;
	uint8_t seed[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	assert_int_equal(dstack_seed_keys_derive(seed, 32, &k), ERR_OK);
	assert_hex(k.app_ca, 32, "0a6ae75425993b828ace490021809dcda469d5b531b018a27fdd28cd6d81115e");
	assert_hex(k.disk_crypt_key, 32, "16271dff935a2b916181f4c8a0a6666de98224ba51437c329171a11dd481a09a");
	assert_hex(k.k256_key, 32, "091c9c36eb873f1aacde93e91631256e1610ce9940166b45f437d635d76ba95e");
	assert_int_equal(dstack_seed_keys_derive(seed, 0, &k), ERR_INVALID_ARG);
}

static void test_bad_ids(void **state)
{
	struct fixture f;
	struct dstack_app_keys k;
	uint8_t b[32], big[DSTACK_MAX_ID_LEN + 1];

	(void)state;
	load(&f);
	memset(big, 7, sizeof(big));
	assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 0, f.instance_id, 20, &k), ERR_INVALID_ARG);
	assert_int_equal(dstack_app_keys_derive(&f.root, f.app_id, 20, NULL, 20, &k), ERR_INVALID_ARG);
	assert_int_equal(dstack_app_keys_derive(NULL, f.app_id, 20, f.instance_id, 20, &k), ERR_INVALID_ARG);
	assert_int_equal(dstack_env_crypt_key(f.root.ca, big, sizeof(big), b), ERR_INVALID_ARG);
	assert_int_equal(dstack_env_crypt_key(f.root.ca, big, DSTACK_MAX_ID_LEN, b), ERR_OK);
	/* Ids need not be 20 bytes: dstack signs the env key for whatever app_id it is asked about. */
	assert_int_equal(dstack_env_pubkey(f.root.ca, (const uint8_t *)"x", 1, b), ERR_OK);
	/* An out-of-range root k256 key cannot sign. */
	{
		uint8_t zero[32] = { 0 }, pub[32] = { 0 }, sig[65];

		assert_int_equal(dstack_env_pubkey_sign(zero, f.app_id, 20, pub, sig), ERR_KEY_RANGE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_keys_golden),
		cmocka_unit_test(test_env_pubkey_golden),
		cmocka_unit_test(test_bootstrap_golden),
		cmocka_unit_test(test_getkey_golden),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_verify_chain),
		cmocka_unit_test(test_seed_keys),
		cmocka_unit_test(test_bad_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
