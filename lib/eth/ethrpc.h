/* SPDX-License-Identifier: Apache-2.0 */
/* Ethereum JSON-RPC vocabulary: strict hex quantities and data, request params, result parsers, and blocking helpers. */
#ifndef DS_ETH_ETHRPC_H
#define DS_ETH_ETHRPC_H

#include "arena.h"
#include "base.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "jsonrpc.h"

/*
 * Three layers, usable separately: params builders append a JSON params
 * array for jsonrpc_call; result parsers check a `result` value from a
 * reply (untrusted) and fill plain structs; the blocking helpers glue both
 * around jsonrpc_call_sync for CLIs and tests. Asynchronous users (the chain
 * watcher) use the first two from their callbacks.
 *
 * Result parser errors: ERR_PROTO_FIELD_TYPE (a member with the wrong JSON
 * type), ERR_PROTO_MALFORMED (a required member missing, or wrong shape),
 * ERR_PROTO_ENCODING (bad hex: no "0x", odd digits, a non-hex digit, a
 * quantity with a leading zero or empty), ERR_PROTO_TOO_LARGE (a quantity
 * above 2^64-1 or fixed data of the wrong length), ERR_BUDGET (arena or
 * item cap), ERR_NOT_FOUND (a JSON null where an object may be absent:
 * unknown block, pending receipt).
 */

#define ETH_MAX_LOG_TOPICS 4
#define ETH_MAX_LOGS 100000        /* logs in one eth_getLogs result (callers may ask for fewer) */
#define ETH_MAX_DATA ((size_t)16 << 20)

/* ---- hex ---- */

/* A QUANTITY: "0x" then 1..16 hex digits, no leading zero except "0x0". */
err_t eth_quantity_parse(const char *s, size_t len, uint64_t *out) MUST_CHECK;
/* The same up to 2^256-1 (64 digits), into 32 big-endian bytes. */
err_t eth_quantity_parse_u256(const char *s, size_t len, uint8_t out[32]) MUST_CHECK;
/* DATA: "0x" then an even number of hex digits (either case); the bytes go to the arena (NUL after them). */
err_t eth_data_parse(const char *s, size_t len, size_t max, struct arena *a, const uint8_t **out, size_t *n) MUST_CHECK;
/* DATA of exactly n bytes (addresses 20, hashes 32); ERR_PROTO_TOO_LARGE for another length. */
err_t eth_data_parse_fixed(const char *s, size_t len, uint8_t *out, size_t n) MUST_CHECK;

/* The same from JSON values (which must be strings: ERR_PROTO_FIELD_TYPE otherwise). */
err_t eth_json_quantity(const struct json_value *v, uint64_t *out) MUST_CHECK;
err_t eth_json_fixed(const struct json_value *v, uint8_t *out, size_t n) MUST_CHECK;

/* JSON string literals: "0x1a" (minimal digits), "0x" + hex (lowercase). */
void eth_put_quantity(struct buf_writer *w, uint64_t x);
void eth_put_quantity_u256(struct buf_writer *w, const uint8_t be[32]);
void eth_put_data(struct buf_writer *w, const void *p, size_t n);

/* ---- requests ---- */

enum eth_block_tag {
	ETH_BLOCK_NUMBER = 0,
	ETH_BLOCK_LATEST,
	ETH_BLOCK_EARLIEST,
	ETH_BLOCK_PENDING,
	ETH_BLOCK_SAFE,
	ETH_BLOCK_FINALIZED,
	ETH_BLOCK_HASH,          /* EIP-1898 {"blockHash": ...} (eth_call, eth_getTransactionCount; not eth_getBlockByNumber) */
};

struct eth_block_ref {
	enum eth_block_tag tag;
	uint64_t number;         /* ETH_BLOCK_NUMBER */
	uint8_t hash[32];        /* ETH_BLOCK_HASH */
};

static inline struct eth_block_ref eth_block_latest(void)
{
	struct eth_block_ref b = { .tag = ETH_BLOCK_LATEST };
	return b;
}

static inline struct eth_block_ref eth_block_at(uint64_t n)
{
	struct eth_block_ref b = { .tag = ETH_BLOCK_NUMBER, .number = n };
	return b;
}

/* A block parameter: "0x10", "latest", ... or {"blockHash":"0x..","requireCanonical":true}. */
void eth_put_block(struct buf_writer *w, const struct eth_block_ref *b);

struct eth_log_filter {
	const uint8_t (*addresses)[20];          /* borrowed; naddresses == 0: any address */
	size_t naddresses;
	struct {
		const uint8_t (*any)[32];        /* borrowed; n == 0: wildcard (null) */
		size_t n;
	} topics[ETH_MAX_LOG_TOPICS];            /* positional; entries past ntopics are wildcards */
	size_t ntopics;
	int by_hash;                             /* one block by hash instead of a range */
	uint8_t block_hash[32];
	struct eth_block_ref from, to;           /* ETH_BLOCK_HASH is not allowed here */
};

/*
 * A transaction-shaped object for eth_call, eth_estimateGas and
 * eth_sendTransaction: members are sent only when their has_ flag is set
 * (data when data_len > 0 or has_data).
 */
struct eth_tx_req {
	int has_from, has_to, has_gas, has_gas_price, has_value, has_nonce, has_data;
	uint8_t from[20];
	uint8_t to[20];
	uint64_t gas;
	uint64_t gas_price;
	uint8_t value[32];
	uint64_t nonce;
	const uint8_t *data;                     /* borrowed */
	size_t data_len;
};

/* Params arrays, appended to w (check buf_writer_status once at the end). */
void eth_params_get_block(struct buf_writer *w, const struct eth_block_ref *b, int full_txs);
void eth_params_get_logs(struct buf_writer *w, const struct eth_log_filter *f);
void eth_params_call(struct buf_writer *w, const struct eth_tx_req *req, const struct eth_block_ref *b);
void eth_params_tx(struct buf_writer *w, const struct eth_tx_req *req);      /* eth_sendTransaction, eth_estimateGas */
void eth_params_send_raw(struct buf_writer *w, const void *raw, size_t n);
void eth_params_address_block(struct buf_writer *w, const uint8_t addr[20], const struct eth_block_ref *b);
void eth_params_hash(struct buf_writer *w, const uint8_t hash[32]);          /* eth_getTransactionReceipt */

/* ---- results ---- */

struct eth_block_header {
	uint64_t number;
	uint64_t timestamp;
	uint8_t hash[32];
	uint8_t parent_hash[32];
};

struct eth_log {
	uint8_t address[20];
	uint8_t topics[ETH_MAX_LOG_TOPICS][32];
	size_t ntopics;
	const uint8_t *data;                     /* arena */
	size_t data_len;
	uint64_t block_number;
	uint8_t block_hash[32];
	uint8_t tx_hash[32];
	uint64_t tx_index;
	uint64_t log_index;
	int removed;                             /* "removed" (absent = 0) */
};

struct eth_receipt {
	uint8_t tx_hash[32];
	uint8_t block_hash[32];
	uint64_t block_number;
	uint64_t tx_index;
	uint8_t from[20];
	int has_to;
	uint8_t to[20];
	int has_contract_address;
	uint8_t contract_address[20];
	int status;                              /* 1 success, 0 reverted */
	uint64_t gas_used;
	struct eth_log *logs;                    /* arena */
	size_t nlogs;
};

/* A QUANTITY result (eth_chainId, eth_blockNumber, eth_gasPrice, eth_estimateGas, ...). */
err_t eth_parse_quantity_result(const struct json_value *result, uint64_t *out) MUST_CHECK;
/* A DATA result (eth_call) into the arena. */
err_t eth_parse_data_result(const struct json_value *result, struct arena *a, const uint8_t **p, size_t *n) MUST_CHECK;
/* A 32-byte DATA result (eth_sendRawTransaction, eth_sendTransaction). */
err_t eth_parse_hash_result(const struct json_value *result, uint8_t out[32]) MUST_CHECK;
/* eth_getBlockByNumber: number, hash, parentHash, timestamp; ERR_NOT_FOUND for null. */
err_t eth_parse_block_header(const struct json_value *result, struct eth_block_header *out) MUST_CHECK;
/* One log object. */
err_t eth_parse_log(const struct json_value *v, struct arena *a, struct eth_log *out) MUST_CHECK;
/* eth_getLogs: an array of at most max_logs (0 = ETH_MAX_LOGS) logs (ERR_BUDGET above) into the arena. */
err_t eth_parse_logs(const struct json_value *result, size_t max_logs, struct arena *a, struct eth_log **logs,
		     size_t *n) MUST_CHECK;
/* eth_getTransactionReceipt; ERR_NOT_FOUND for null (not mined yet). */
err_t eth_parse_receipt(const struct json_value *result, struct arena *a, struct eth_receipt *out) MUST_CHECK;

/* ---- blocking helpers (jsonrpc_call_sync; `info` optional, its detail has the server's error text) ---- */

err_t eth_chain_id(struct jsonrpc_client *c, uint64_t *id, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_block_number(struct jsonrpc_client *c, uint64_t *n, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_gas_price(struct jsonrpc_client *c, uint64_t *wei, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_max_priority_fee(struct jsonrpc_client *c, uint64_t *wei, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_get_block_header(struct jsonrpc_client *c, const struct eth_block_ref *b, struct eth_block_header *h,
			   struct jsonrpc_info *info) MUST_CHECK;
err_t eth_get_logs(struct jsonrpc_client *c, const struct eth_log_filter *f, struct arena *a, struct eth_log **logs,
		   size_t *n, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_call(struct jsonrpc_client *c, const struct eth_tx_req *req, const struct eth_block_ref *b, struct arena *a,
	       const uint8_t **out, size_t *n, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_send_raw_transaction(struct jsonrpc_client *c, const void *raw, size_t n, uint8_t hash[32],
			       struct jsonrpc_info *info) MUST_CHECK;
err_t eth_send_transaction(struct jsonrpc_client *c, const struct eth_tx_req *tx, uint8_t hash[32],
			   struct jsonrpc_info *info) MUST_CHECK;
err_t eth_get_transaction_receipt(struct jsonrpc_client *c, const uint8_t hash[32], struct arena *a,
				  struct eth_receipt *r, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_get_transaction_count(struct jsonrpc_client *c, const uint8_t addr[20], const struct eth_block_ref *b,
				uint64_t *n, struct jsonrpc_info *info) MUST_CHECK;
err_t eth_estimate_gas(struct jsonrpc_client *c, const struct eth_tx_req *tx, uint64_t *gas,
		       struct jsonrpc_info *info) MUST_CHECK;

#endif
