/* SPDX-License-Identifier: Apache-2.0 */
/* RLP, Ethereum transaction signing (legacy EIP-155 and EIP-1559) with libsecp256k1, and addresses from keys. */
#ifndef DS_ETH_TX_H
#define DS_ETH_TX_H

#include "base.h"
#include "buf.h"
#include "err.h"

#define ETH_ADDRESS_LEN 20
#define ETH_HASH_LEN 32
#define ETH_KEY_LEN 32

/* ---- RLP (yellow paper appendix B) ---- */

/* A byte string item. Writer errors are sticky (check buf_writer_status). */
void rlp_put_bytes(struct buf_writer *w, const void *p, size_t n);
/* A scalar: big-endian without leading zeros; 0 is the empty string (0x80). */
void rlp_put_uint(struct buf_writer *w, uint64_t x);
/* A 256-bit big-endian scalar, leading zeros stripped. */
void rlp_put_uint256(struct buf_writer *w, const uint8_t be[32]);
/* A list whose items are already encoded back to back in payload[0..n). */
void rlp_put_list(struct buf_writer *w, const void *payload, size_t n);

/*
 * One item from untrusted bytes. *is_list says which kind; (*p, *n) is the
 * payload (a view into r's buffer: a list's payload is the encoded items,
 * to read with a sub-reader). Canonical form only: a single byte below
 * 0x80 must encode itself, the long forms only for 56+ bytes, and lengths
 * have no leading zeros (ERR_PROTO_MALFORMED otherwise); ERR_PROTO_TRUNCATED
 * when the item runs past the end; ERR_PROTO_TOO_LARGE above `max` bytes.
 */
err_t rlp_get_item(struct buf_reader *r, size_t max, int *is_list, const uint8_t **p, size_t *n) MUST_CHECK;
/* A scalar item (canonical: no leading zero byte) that fits u64; ERR_PROTO_MALFORMED otherwise, ERR_PROTO_TOO_LARGE above 8 bytes. */
err_t rlp_get_uint(struct buf_reader *r, uint64_t *x) MUST_CHECK;

/* ---- keys and addresses ---- */

/*
 * A private key from hex (64 digits, optional 0x); ERR_PROTO_ENCODING for
 * bad hex or length, ERR_CRYPTO for zero or a value not below the curve
 * order. `key` is wiped on failure.
 */
err_t eth_key_from_hex(const char *s, size_t len, uint8_t key[ETH_KEY_LEN]) MUST_CHECK;
/* keccak256(uncompressed public key without its 0x04)[12..32). ERR_CRYPTO for an invalid key. */
err_t eth_address_from_key(const uint8_t key[ETH_KEY_LEN], uint8_t addr[ETH_ADDRESS_LEN]) MUST_CHECK;
/* The address of a contract that `sender` creates with `nonce`: keccak256(rlp([sender, nonce]))[12..32). */
void eth_contract_address(const uint8_t sender[ETH_ADDRESS_LEN], uint64_t nonce, uint8_t out[ETH_ADDRESS_LEN]);
/* "0x" + 40 hex digits, EIP-55 mixed case when `checksum` is set, into out (43 bytes with the NUL). */
void eth_address_to_hex(const uint8_t addr[ETH_ADDRESS_LEN], int checksum, char out[43]);
/* 32-byte big-endian from u64. */
void eth_u256_from_u64(uint8_t out[32], uint64_t x);

/* ---- transactions ---- */

enum eth_tx_type {
	ETH_TX_LEGACY = 0,    /* EIP-155 replay-protected: v = chainId * 2 + 35 + recid */
	ETH_TX_EIP1559 = 2,   /* 0x02 || rlp([chainId, nonce, tip, maxFee, gas, to, value, data, [], yParity, r, s]) */
};

struct eth_tx {
	enum eth_tx_type type;
	uint64_t chain_id;                   /* nonzero; legacy needs chain_id * 2 + 36 to fit u64 */
	uint64_t nonce;
	uint64_t gas_price;                  /* legacy */
	uint64_t max_priority_fee;           /* EIP-1559 */
	uint64_t max_fee;                    /* EIP-1559 */
	uint64_t gas;
	int has_to;                          /* 0: contract creation (empty `to`) */
	uint8_t to[ETH_ADDRESS_LEN];
	uint8_t value[32];                   /* wei, big-endian */
	const uint8_t *data;                 /* borrowed */
	size_t data_len;
};

/*
 * Sign tx with `key` (borrowed; this function keeps no copy and wipes its
 * own temporaries) and append the raw signed transaction to `raw`, ready for
 * eth_sendRawTransaction. tx_hash (optional) gets keccak256 of the raw bytes.
 * Signatures are RFC 6979 deterministic with low s (EIP-2). ERR_INVALID_ARG
 * for a bad tx (type, chain id), ERR_CRYPTO for an invalid key, the
 * writer's error when it runs out.
 */
err_t eth_tx_sign(const struct eth_tx *tx, const uint8_t key[ETH_KEY_LEN], struct buf_writer *raw,
		  uint8_t tx_hash[ETH_HASH_LEN]) MUST_CHECK;

/* The digest eth_tx_sign signs (for tests and external signers). */
err_t eth_tx_signing_hash(const struct eth_tx *tx, uint8_t hash[ETH_HASH_LEN]) MUST_CHECK;

#endif
