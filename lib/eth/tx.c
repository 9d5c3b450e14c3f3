/* SPDX-License-Identifier: Apache-2.0 */
/* RLP encoding and canonical decoding, addresses, and legacy/EIP-1559 transaction signing with libsecp256k1. */
#include "tx.h"

#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "k256.h"

#define TX_MAX_ENCODED ((size_t)16 << 20)

/* ---- RLP ---- */

/* The prefix for a payload of n bytes: short form below 56, else offset+len-of-len then the length. */
static void rlp_put_header(struct buf_writer *w, uint8_t short_base, size_t n)
{
	uint8_t len[8];
	size_t k = 0;

	if (n < 56) {
		buf_put_u8(w, (uint8_t)(short_base + n));
		return;
	}
	for (uint64_t x = (uint64_t)n; x; x >>= 8)
		len[k++] = (uint8_t)x;
	buf_put_u8(w, (uint8_t)(short_base + 55 + k));
	while (k)
		buf_put_u8(w, len[--k]);
}

void rlp_put_bytes(struct buf_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (n == 1 && b[0] < 0x80) {
		buf_put_u8(w, b[0]);
		return;
	}
	rlp_put_header(w, 0x80, n);
	if (n)
		buf_put(w, p, n);
}

void rlp_put_uint(struct buf_writer *w, uint64_t x)
{
	uint8_t be[8];
	size_t k = 0;

	for (int i = 7; i >= 0; i--) {
		uint8_t b = (uint8_t)(x >> (8 * i));
		if (b || k)
			be[k++] = b;
	}
	rlp_put_bytes(w, be, k);
}

void rlp_put_uint256(struct buf_writer *w, const uint8_t be[32])
{
	size_t i = 0;

	while (i < 32 && be[i] == 0)
		i++;
	rlp_put_bytes(w, be + i, 32 - i);
}

void rlp_put_list(struct buf_writer *w, const void *payload, size_t n)
{
	rlp_put_header(w, 0xc0, n);
	if (n)
		buf_put(w, payload, n);
}

err_t rlp_get_item(struct buf_reader *r, size_t max, int *is_list, const uint8_t **p, size_t *n)
{
	struct buf_reader save = *r;
	uint8_t b, lb;
	size_t len = 0, nlen;
	const uint8_t *lp;
	err_t e;

	if ((e = buf_get_u8(r, &b)) != ERR_OK)
		return e;
	*is_list = b >= 0xc0;
	if (b < 0x80) {
		*p = buf_cursor(r) - 1;
		*n = 1;
		return ERR_OK;
	}
	if (b < 0xb8 || (b >= 0xc0 && b < 0xf8)) {
		len = (size_t)(b - (b < 0xc0 ? 0x80 : 0xc0));
	} else {
		nlen = (size_t)(b - (b < 0xc0 ? 0xb7 : 0xf7));
		if (nlen > sizeof(size_t) || nlen > 8) {
			e = ERR_PROTO_TOO_LARGE;
			goto fail;
		}
		if ((e = buf_get_view(r, nlen, &lp)) != ERR_OK)
			goto fail;
		e = ERR_PROTO_MALFORMED;
		if (lp[0] == 0)
			goto fail;
		for (size_t i = 0; i < nlen; i++) {
			lb = lp[i];
			if (len > (SIZE_MAX >> 8)) {
				e = ERR_PROTO_TOO_LARGE;
				goto fail;
			}
			len = (len << 8) | lb;
		}
		if (len < 56)
			goto fail;
	}
	if ((e = buf_get_view_max(r, len, max, p)) != ERR_OK)
		goto fail;
	/* A single byte below 0x80 must be encoded as itself. */
	if (!*is_list && len == 1 && (*p)[0] < 0x80) {
		e = ERR_PROTO_MALFORMED;
		goto fail;
	}
	*n = len;
	return ERR_OK;
fail:
	*r = save;
	return e;
}

err_t rlp_get_uint(struct buf_reader *r, uint64_t *x)
{
	struct buf_reader save = *r;
	const uint8_t *p;
	size_t n;
	int is_list;
	uint64_t v = 0;
	err_t e;

	if ((e = rlp_get_item(r, 8, &is_list, &p, &n)) != ERR_OK)
		return e;
	e = ERR_PROTO_MALFORMED;
	if (is_list || (n > 0 && p[0] == 0))
		goto fail;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	*x = v;
	return ERR_OK;
fail:
	*r = save;
	return e;
}

/* ---- keys and addresses ---- */

void eth_u256_from_u64(uint8_t out[32], uint64_t x)
{
	memset(out, 0, 32);
	for (int i = 0; i < 8; i++)
		out[31 - i] = (uint8_t)(x >> (8 * i));
}

err_t eth_key_from_hex(const char *s, size_t len, uint8_t key[ETH_KEY_LEN])
{
	size_t n = 0;
	err_t e;

	if ((e = hex_decode(key, ETH_KEY_LEN, &n, s, len, 1)) != ERR_OK || n != ETH_KEY_LEN) {
		secure_wipe(key, ETH_KEY_LEN);
		return e == ERR_OK || e == ERR_PROTO_TOO_LARGE ? ERR_PROTO_ENCODING : e;
	}
	if (!k256_secret_is_valid(key)) {
		secure_wipe(key, ETH_KEY_LEN);
		return ERR_CRYPTO;
	}
	return ERR_OK;
}

err_t eth_address_from_key(const uint8_t key[ETH_KEY_LEN], uint8_t addr[ETH_ADDRESS_LEN])
{
	return k256_address_of_secret(key, addr) == ERR_OK ? ERR_OK : ERR_CRYPTO;
}

void eth_contract_address(const uint8_t sender[ETH_ADDRESS_LEN], uint64_t nonce, uint8_t out[ETH_ADDRESS_LEN])
{
	uint8_t items[64], enc[64], h[32];
	struct buf_writer wi, we;

	/* 21 + at most 9 bytes of items, 1 byte of list header: fixed buffers always suffice. */
	buf_writer_init_fixed(&wi, items, sizeof(items));
	rlp_put_bytes(&wi, sender, ETH_ADDRESS_LEN);
	rlp_put_uint(&wi, nonce);
	buf_writer_init_fixed(&we, enc, sizeof(enc));
	rlp_put_list(&we, wi.p, wi.len);
	keccak256(we.p, we.len, h);
	memcpy(out, h + 12, ETH_ADDRESS_LEN);
}

void eth_address_to_hex(const uint8_t addr[ETH_ADDRESS_LEN], int checksum, char out[43])
{
	uint8_t h[32];

	out[0] = '0';
	out[1] = 'x';
	hex_encode(out + 2, addr, ETH_ADDRESS_LEN);
	if (!checksum)
		return;
	/* EIP-55: uppercase a letter when the matching nibble of keccak(lowercase hex) is >= 8. */
	keccak256(out + 2, 40, h);
	for (size_t i = 0; i < 40; i++) {
		uint8_t nib = (uint8_t)(i % 2 ? h[i / 2] & 0x0f : h[i / 2] >> 4);
		char *c = &out[2 + i];
		if (*c >= 'a' && *c <= 'f' && nib >= 8)
			*c = (char)(*c - 'a' + 'A');
	}
}

/* ---- transactions ---- */

/* The fields every form shares, from nonce (legacy) or from chainId (type 2) through data. */
static void put_body(struct buf_writer *w, const struct eth_tx *tx)
{
	if (tx->type == ETH_TX_EIP1559) {
		rlp_put_uint(w, tx->chain_id);
		rlp_put_uint(w, tx->nonce);
		rlp_put_uint(w, tx->max_priority_fee);
		rlp_put_uint(w, tx->max_fee);
	} else {
		rlp_put_uint(w, tx->nonce);
		rlp_put_uint(w, tx->gas_price);
	}
	rlp_put_uint(w, tx->gas);
	rlp_put_bytes(w, tx->to, tx->has_to ? ETH_ADDRESS_LEN : 0);
	rlp_put_uint256(w, tx->value);
	rlp_put_bytes(w, tx->data, tx->data_len);
	if (tx->type == ETH_TX_EIP1559)
		rlp_put_list(w, NULL, 0);   /* empty access list */
}

static err_t tx_check(const struct eth_tx *tx)
{
	if (!tx || tx->chain_id == 0 || (tx->data_len && !tx->data))
		return ERR_INVALID_ARG;
	if (tx->type == ETH_TX_LEGACY)
		return tx->chain_id <= (UINT64_MAX - 36) / 2 ? ERR_OK : ERR_INVALID_ARG;
	return tx->type == ETH_TX_EIP1559 ? ERR_OK : ERR_INVALID_ARG;
}

/* Wrap the items in `items` as a list into `out`, with the type byte first for typed transactions. */
static err_t wrap(const struct eth_tx *tx, const struct buf_writer *items, struct buf_writer *out)
{
	err_t e;

	if ((e = buf_writer_status(items)) != ERR_OK)
		return e;
	if (tx->type == ETH_TX_EIP1559)
		buf_put_u8(out, (uint8_t)ETH_TX_EIP1559);
	rlp_put_list(out, items->p, items->len);
	return buf_writer_status(out);
}

err_t eth_tx_signing_hash(const struct eth_tx *tx, uint8_t hash[ETH_HASH_LEN])
{
	struct buf_writer items, msg;
	err_t e;

	if ((e = tx_check(tx)) != ERR_OK)
		return e;
	buf_writer_init(&items, TX_MAX_ENCODED);
	buf_writer_init(&msg, TX_MAX_ENCODED);
	put_body(&items, tx);
	if (tx->type == ETH_TX_LEGACY) {
		/* EIP-155: chainId, 0, 0 in place of v, r, s. */
		rlp_put_uint(&items, tx->chain_id);
		rlp_put_uint(&items, 0);
		rlp_put_uint(&items, 0);
	}
	if ((e = wrap(tx, &items, &msg)) == ERR_OK)
		keccak256(msg.p, msg.len, hash);
	buf_writer_free(&items);
	buf_writer_free(&msg);
	return e;
}

err_t eth_tx_sign(const struct eth_tx *tx, const uint8_t key[ETH_KEY_LEN], struct buf_writer *raw,
		  uint8_t tx_hash[ETH_HASH_LEN])
{
	struct buf_writer items;
	uint8_t hash[32], sig[K256_SIG_LEN];
	size_t start = raw->len;
	err_t e;

	buf_writer_init(&items, TX_MAX_ENCODED);
	if ((e = eth_tx_signing_hash(tx, hash)) != ERR_OK)
		goto out;
	/* RFC 6979 with low s (EIP-2); sig[64] is the recovery id 0/1. */
	if (k256_sign(key, hash, sig) != ERR_OK) {
		e = ERR_CRYPTO;
		goto out;
	}
	put_body(&items, tx);
	if (tx->type == ETH_TX_LEGACY)
		rlp_put_uint(&items, tx->chain_id * 2 + 35 + (uint64_t)sig[64]);
	else
		rlp_put_uint(&items, (uint64_t)sig[64]);
	rlp_put_uint256(&items, sig);
	rlp_put_uint256(&items, sig + 32);
	if ((e = wrap(tx, &items, raw)) != ERR_OK)
		goto out;
	if (tx_hash)
		keccak256(raw->p + start, raw->len - start, tx_hash);
out:
	secure_wipe(sig, sizeof(sig));
	secure_wipe(hash, sizeof(hash));
	buf_writer_free(&items);
	return e;
}
