/* SPDX-License-Identifier: Apache-2.0 */
/* Threshold backup of the root state: Shamir shares encrypted to custodians (X25519 + HKDF + AES-256-GCM). */
#include <string.h>

#include <openssl/rand.h>

#include "crypto.h"
#include "kms_shares.h"
#include "x25519.h"

static const char INFO[] = "dstack-kms-share-v1";
static const char COMMIT[] = "dstack-kms-shares-v1:";

static err_t envelope_key(const uint8_t shared[32], const uint8_t set_id[KMS_SHARE_SET_ID_LEN],
			  const uint8_t eph_pub[32], const uint8_t recipient_pub[32], uint8_t key[32])
{
	uint8_t info[sizeof(INFO) - 1 + 64];

	memcpy(info, INFO, sizeof(INFO) - 1);
	memcpy(info + sizeof(INFO) - 1, eph_pub, 32);
	memcpy(info + sizeof(INFO) - 1 + 32, recipient_pub, 32);
	return hkdf_sha256(set_id, KMS_SHARE_SET_ID_LEN, shared, 32, info, sizeof(info), key, 32);
}

static void share_aad(const uint8_t set_id[KMS_SHARE_SET_ID_LEN], uint32_t index, uint32_t t, uint32_t n,
		      uint8_t aad[KMS_SHARE_SET_ID_LEN + 12])
{
	struct buf_writer w;

	buf_writer_init_fixed(&w, aad, KMS_SHARE_SET_ID_LEN + 12);
	buf_put(&w, set_id, KMS_SHARE_SET_ID_LEN);
	buf_put_u32be(&w, index);
	buf_put_u32be(&w, t);
	buf_put_u32be(&w, n);
}

err_t kms_share_seal(const uint8_t recipient_pub[32], const uint8_t set_id[KMS_SHARE_SET_ID_LEN], uint32_t index,
		     uint32_t threshold, uint32_t total, const uint8_t *share, size_t len, struct arena *mem,
		     kms_share *out)
{
	uint8_t eph[32], eph_pub[32], shared[32], key[32], nonce[AES256GCM_IV_LEN], aad[KMS_SHARE_SET_ID_LEN + 12];
	uint8_t *ct;
	err_t err;

	if (len + AES256GCM_TAG_LEN > KMS_SHARE_MAX_CIPHERTEXT)
		return ERR_PROTO_TOO_LARGE;
	if (!(ct = arena_alloc(mem, len + AES256GCM_TAG_LEN)))
		return ERR_NOMEM;
	if (RAND_priv_bytes(eph, sizeof(eph)) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1)
		return ERR_CRYPTO;
	share_aad(set_id, index, threshold, total, aad);
	if ((err = x25519_public_key(eph, eph_pub)) == ERR_OK &&
	    (err = x25519_shared_secret(eph, recipient_pub, shared)) == ERR_OK &&
	    (err = envelope_key(shared, set_id, eph_pub, recipient_pub, key)) == ERR_OK)
		err = aes256gcm_seal(key, nonce, aad, sizeof(aad), share, len, ct);
	secure_wipe(eph, sizeof(eph));
	secure_wipe(shared, sizeof(shared));
	secure_wipe(key, sizeof(key));
	if (err != ERR_OK)
		return err;
	dstack__kms__v1__encrypted_share__init(out);
	out->share_set_id = (ProtobufCBinaryData){ KMS_SHARE_SET_ID_LEN, arena_memdup(mem, set_id, KMS_SHARE_SET_ID_LEN) };
	out->index = index;
	out->threshold = threshold;
	out->total = total;
	out->recipient_public_key = (ProtobufCBinaryData){ 32, arena_memdup(mem, recipient_pub, 32) };
	out->encryption = DSTACK__KMS__V1__SHARE_ENCRYPTION__SHARE_ENCRYPTION_X25519_AES256GCM;
	out->ephemeral_public_key = (ProtobufCBinaryData){ 32, arena_memdup(mem, eph_pub, 32) };
	out->nonce = (ProtobufCBinaryData){ sizeof(nonce), arena_memdup(mem, nonce, sizeof(nonce)) };
	out->ciphertext = (ProtobufCBinaryData){ len + AES256GCM_TAG_LEN, ct };
	if (!out->share_set_id.data || !out->recipient_public_key.data || !out->ephemeral_public_key.data ||
	    !out->nonce.data)
		return ERR_NOMEM;
	return ERR_OK;
}

err_t kms_share_open(const uint8_t recipient_sk[32], const kms_share *in, struct buf_writer *out)
{
	uint8_t pub[32], shared[32], key[32], aad[KMS_SHARE_SET_ID_LEN + 12], *dst;
	size_t len;
	err_t err;

	if (in->encryption != DSTACK__KMS__V1__SHARE_ENCRYPTION__SHARE_ENCRYPTION_X25519_AES256GCM ||
	    in->share_set_id.len != KMS_SHARE_SET_ID_LEN || in->ephemeral_public_key.len != 32 ||
	    in->nonce.len != AES256GCM_IV_LEN || in->ciphertext.len <= AES256GCM_TAG_LEN ||
	    in->ciphertext.len > KMS_SHARE_MAX_CIPHERTEXT || in->index < 1 || in->index > 255)
		return ERR_PROTO_MALFORMED;
	if ((err = x25519_public_key(recipient_sk, pub)) != ERR_OK)
		return err;
	if (in->recipient_public_key.len != 32 || memcmp(in->recipient_public_key.data, pub, 32) != 0)
		return ERR_INVALID_ARG;   /* encrypted to someone else */
	len = in->ciphertext.len - AES256GCM_TAG_LEN;
	if (!(dst = buf_reserve(out, len)))
		return buf_writer_status(out);
	share_aad(in->share_set_id.data, in->index, in->threshold, in->total, aad);
	if ((err = x25519_shared_secret(recipient_sk, in->ephemeral_public_key.data, shared)) == ERR_OK &&
	    (err = envelope_key(shared, in->share_set_id.data, in->ephemeral_public_key.data, pub, key)) == ERR_OK)
		err = aes256gcm_open(key, in->nonce.data, aad, sizeof(aad), in->ciphertext.data, in->ciphertext.len, dst);
	secure_wipe(shared, sizeof(shared));
	secure_wipe(key, sizeof(key));
	if (err == ERR_OK)
		buf_commit(out, len);
	return err;
}

void kms_share_commitment(const uint8_t set_id[KMS_SHARE_SET_ID_LEN], const uint8_t *secret, size_t len,
			  uint8_t out[32])
{
	const void *parts[] = { COMMIT, set_id, secret };
	const size_t lens[] = { sizeof(COMMIT) - 1, KMS_SHARE_SET_ID_LEN, len };

	sha256_parts(parts, lens, 3, out);
}
