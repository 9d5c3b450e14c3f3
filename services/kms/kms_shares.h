/* SPDX-License-Identifier: Apache-2.0 */
/* Threshold backup of the root state: Shamir shares encrypted to custodians (X25519 + HKDF + AES-256-GCM). */
#ifndef DS_KMS_SHARES_H
#define DS_KMS_SHARES_H

#include "arena.h"
#include "buf.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "err.h"

#define KMS_SHARE_SET_ID_LEN 16
#define KMS_SHARE_MAX_CIPHERTEXT (64 * 1024)

typedef Dstack__Kms__V1__EncryptedShare kms_share;

/*
 * The envelope of one share (docs/kms.md "Threshold backup"):
 *   eph = fresh X25519 key; shared = X25519(eph, recipient)
 *   key = HKDF-SHA256(ikm = shared, salt = share_set_id,
 *                     info = "dstack-kms-share-v1" || eph_pub || recipient_pub)
 *   ciphertext = AES-256-GCM(key, nonce, share bytes,
 *                aad = share_set_id || u32be index || u32be threshold || u32be total)
 * so a share cannot be moved to another set, index or threshold.
 */
err_t kms_share_seal(const uint8_t recipient_pub[32], const uint8_t set_id[KMS_SHARE_SET_ID_LEN], uint32_t index,
		     uint32_t threshold, uint32_t total, const uint8_t *share, size_t len, struct arena *mem,
		     kms_share *out) MUST_CHECK;
/* Open a share with the recipient's X25519 secret; the plaintext is appended to `out` (a wiping writer). */
err_t kms_share_open(const uint8_t recipient_sk[32], const kms_share *in, struct buf_writer *out) MUST_CHECK;

/* SHA-256("dstack-kms-shares-v1:" || set_id || secret): published at export, checked at recovery. */
void kms_share_commitment(const uint8_t set_id[KMS_SHARE_SET_ID_LEN], const uint8_t *secret, size_t len,
			  uint8_t out[32]);

#endif
