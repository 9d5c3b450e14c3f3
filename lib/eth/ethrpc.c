/* SPDX-License-Identifier: Apache-2.0 */
/* Ethereum JSON-RPC params, strict result parsers and blocking helpers over jsonrpc_call_sync. */
#include "ethrpc.h"

#include <string.h>

#include "enc.h"

#define SMALL_ARENA ((size_t)1 << 20)
#define PARAMS_MAX ((size_t)40 << 20)

/* ---- hex ---- */

/* "0x" + digits with no leading zero (except "0x0"); (*digits, *nd) the digits. */
static err_t quantity_digits(const char *s, size_t len, const char **digits, size_t *nd)
{
	if (len < 3 || s[0] != '0' || s[1] != 'x')
		return ERR_PROTO_ENCODING;
	*digits = s + 2;
	*nd = len - 2;
	if (*nd > 1 && (*digits)[0] == '0')
		return ERR_PROTO_ENCODING;
	for (size_t i = 0; i < *nd; i++)
		if (hex_digit_value((unsigned char)(*digits)[i]) < 0)
			return ERR_PROTO_ENCODING;
	return ERR_OK;
}

err_t eth_quantity_parse(const char *s, size_t len, uint64_t *out)
{
	const char *d;
	size_t nd;
	uint64_t v = 0;
	err_t e;

	if ((e = quantity_digits(s, len, &d, &nd)) != ERR_OK)
		return e;
	if (nd > 16)
		return ERR_PROTO_TOO_LARGE;
	for (size_t i = 0; i < nd; i++)
		v = (v << 4) | (uint64_t)hex_digit_value((unsigned char)d[i]);
	*out = v;
	return ERR_OK;
}

err_t eth_quantity_parse_u256(const char *s, size_t len, uint8_t out[32])
{
	const char *d;
	size_t nd;
	err_t e;

	if ((e = quantity_digits(s, len, &d, &nd)) != ERR_OK)
		return e;
	if (nd > 64)
		return ERR_PROTO_TOO_LARGE;
	memset(out, 0, 32);
	/* Fill from the last digit backwards: digit i from the end is nibble i of the number. */
	for (size_t i = 0; i < nd; i++) {
		uint8_t v = (uint8_t)hex_digit_value((unsigned char)d[nd - 1 - i]);
		out[31 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
	}
	return ERR_OK;
}

err_t eth_data_parse(const char *s, size_t len, size_t max, struct arena *a, const uint8_t **out, size_t *n)
{
	uint8_t *p;
	size_t got = 0, want;
	err_t e;

	if (len < 2 || s[0] != '0' || s[1] != 'x' || (len - 2) % 2 != 0)
		return ERR_PROTO_ENCODING;
	want = (len - 2) / 2;
	if (want > max)
		return ERR_PROTO_TOO_LARGE;
	if (!(p = arena_alloc(a, want + 1)))
		return arena_err(a);
	if ((e = hex_decode(p, want, &got, s + 2, len - 2, 0)) != ERR_OK)
		return e == ERR_PROTO_TOO_LARGE ? ERR_PROTO_ENCODING : e;
	p[got] = 0;
	*out = p;
	*n = got;
	return ERR_OK;
}

err_t eth_data_parse_fixed(const char *s, size_t len, uint8_t *out, size_t n)
{
	size_t got = 0;
	err_t e;

	if (len < 2 || s[0] != '0' || s[1] != 'x' || (len - 2) % 2 != 0)
		return ERR_PROTO_ENCODING;
	if ((len - 2) / 2 != n)
		return ERR_PROTO_TOO_LARGE;
	if ((e = hex_decode(out, n, &got, s + 2, len - 2, 0)) != ERR_OK)
		return e;
	return got == n ? ERR_OK : ERR_PROTO_ENCODING;
}

err_t eth_json_quantity(const struct json_value *v, uint64_t *out)
{
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type != JSON_STRING)
		return ERR_PROTO_FIELD_TYPE;
	return eth_quantity_parse(v->u.str.s, v->u.str.len, out);
}

err_t eth_json_fixed(const struct json_value *v, uint8_t *out, size_t n)
{
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type != JSON_STRING)
		return ERR_PROTO_FIELD_TYPE;
	return eth_data_parse_fixed(v->u.str.s, v->u.str.len, out, n);
}

static err_t json_data(const struct json_value *v, size_t max, struct arena *a, const uint8_t **p, size_t *n)
{
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type != JSON_STRING)
		return ERR_PROTO_FIELD_TYPE;
	return eth_data_parse(v->u.str.s, v->u.str.len, max, a, p, n);
}

void eth_put_quantity(struct buf_writer *w, uint64_t x)
{
	buf_printf(w, "\"0x%llx\"", (unsigned long long)x);
}

void eth_put_quantity_u256(struct buf_writer *w, const uint8_t be[32])
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	int started = 0;

	buf_put_str(w, "\"0x");
	for (i = 0; i < 64; i++) {
		uint8_t nib = (uint8_t)(i % 2 ? be[i / 2] & 0x0f : be[i / 2] >> 4);
		if (!nib && !started && i != 63)
			continue;
		started = 1;
		buf_put_u8(w, (uint8_t)hex[nib]);
	}
	buf_put_u8(w, '"');
}

void eth_put_data(struct buf_writer *w, const void *p, size_t n)
{
	char *dst;

	buf_put_str(w, "\"0x");
	if (n) {
		/* An impossible size still goes through buf_reserve, which fails the writer. */
		dst = (char *)buf_reserve(w, n > (SIZE_MAX - 1) / 2 ? SIZE_MAX : 2 * n + 1);
		if (!dst)
			return;
		hex_encode(dst, p, n);
		buf_commit(w, 2 * n);
	}
	buf_put_u8(w, '"');
}

/* ---- requests ---- */

void eth_put_block(struct buf_writer *w, const struct eth_block_ref *b)
{
	switch (b->tag) {
	case ETH_BLOCK_NUMBER:
		eth_put_quantity(w, b->number);
		break;
	case ETH_BLOCK_LATEST:
		buf_put_str(w, "\"latest\"");
		break;
	case ETH_BLOCK_EARLIEST:
		buf_put_str(w, "\"earliest\"");
		break;
	case ETH_BLOCK_PENDING:
		buf_put_str(w, "\"pending\"");
		break;
	case ETH_BLOCK_SAFE:
		buf_put_str(w, "\"safe\"");
		break;
	case ETH_BLOCK_FINALIZED:
		buf_put_str(w, "\"finalized\"");
		break;
	case ETH_BLOCK_HASH:
		buf_put_str(w, "{\"blockHash\":");
		eth_put_data(w, b->hash, 32);
		buf_put_str(w, ",\"requireCanonical\":true}");
		break;
	}
}

void eth_params_get_block(struct buf_writer *w, const struct eth_block_ref *b, int full_txs)
{
	buf_put_u8(w, '[');
	eth_put_block(w, b);
	buf_put_str(w, full_txs ? ",true]" : ",false]");
}

void eth_params_get_logs(struct buf_writer *w, const struct eth_log_filter *f)
{
	size_t nt = MIN(f->ntopics, (size_t)ETH_MAX_LOG_TOPICS);

	buf_put_str(w, "[{");
	if (f->by_hash) {
		buf_put_str(w, "\"blockHash\":");
		eth_put_data(w, f->block_hash, 32);
	} else {
		buf_put_str(w, "\"fromBlock\":");
		eth_put_block(w, &f->from);
		buf_put_str(w, ",\"toBlock\":");
		eth_put_block(w, &f->to);
	}
	if (f->naddresses) {
		buf_put_str(w, ",\"address\":[");
		for (size_t i = 0; i < f->naddresses; i++) {
			if (i)
				buf_put_u8(w, ',');
			eth_put_data(w, f->addresses[i], 20);
		}
		buf_put_u8(w, ']');
	}
	/* Trailing wildcards are dropped: [] and [A, null] select the same logs as [A]. */
	while (nt && f->topics[nt - 1].n == 0)
		nt--;
	if (nt) {
		buf_put_str(w, ",\"topics\":[");
		for (size_t i = 0; i < nt; i++) {
			if (i)
				buf_put_u8(w, ',');
			if (f->topics[i].n == 0) {
				buf_put_str(w, "null");
				continue;
			}
			buf_put_u8(w, '[');
			for (size_t k = 0; k < f->topics[i].n; k++) {
				if (k)
					buf_put_u8(w, ',');
				eth_put_data(w, f->topics[i].any[k], 32);
			}
			buf_put_u8(w, ']');
		}
		buf_put_u8(w, ']');
	}
	buf_put_str(w, "}]");
}

static void put_tx_object(struct buf_writer *w, const struct eth_tx_req *r)
{
	const char *sep = "";

#define MEMBER(name)                                   \
	do {                                           \
		buf_printf(w, "%s\"%s\":", sep, name); \
		sep = ",";                             \
	} while (0)
	buf_put_u8(w, '{');
	if (r->has_from) {
		MEMBER("from");
		eth_put_data(w, r->from, 20);
	}
	if (r->has_to) {
		MEMBER("to");
		eth_put_data(w, r->to, 20);
	}
	if (r->has_gas) {
		MEMBER("gas");
		eth_put_quantity(w, r->gas);
	}
	if (r->has_gas_price) {
		MEMBER("gasPrice");
		eth_put_quantity(w, r->gas_price);
	}
	if (r->has_value) {
		MEMBER("value");
		eth_put_quantity_u256(w, r->value);
	}
	if (r->has_nonce) {
		MEMBER("nonce");
		eth_put_quantity(w, r->nonce);
	}
	if (r->has_data || r->data_len) {
		MEMBER("data");
		eth_put_data(w, r->data, r->data_len);
	}
	buf_put_u8(w, '}');
#undef MEMBER
}

void eth_params_call(struct buf_writer *w, const struct eth_tx_req *req, const struct eth_block_ref *b)
{
	buf_put_u8(w, '[');
	put_tx_object(w, req);
	buf_put_u8(w, ',');
	eth_put_block(w, b);
	buf_put_u8(w, ']');
}

void eth_params_tx(struct buf_writer *w, const struct eth_tx_req *req)
{
	buf_put_u8(w, '[');
	put_tx_object(w, req);
	buf_put_u8(w, ']');
}

void eth_params_send_raw(struct buf_writer *w, const void *raw, size_t n)
{
	buf_put_u8(w, '[');
	eth_put_data(w, raw, n);
	buf_put_u8(w, ']');
}

void eth_params_address_block(struct buf_writer *w, const uint8_t addr[20], const struct eth_block_ref *b)
{
	buf_put_u8(w, '[');
	eth_put_data(w, addr, 20);
	buf_put_u8(w, ',');
	eth_put_block(w, b);
	buf_put_u8(w, ']');
}

void eth_params_hash(struct buf_writer *w, const uint8_t hash[32])
{
	buf_put_u8(w, '[');
	eth_put_data(w, hash, 32);
	buf_put_u8(w, ']');
}

/* ---- results ---- */

err_t eth_parse_quantity_result(const struct json_value *result, uint64_t *out)
{
	return eth_json_quantity(result, out);
}

err_t eth_parse_data_result(const struct json_value *result, struct arena *a, const uint8_t **p, size_t *n)
{
	return json_data(result, ETH_MAX_DATA, a, p, n);
}

err_t eth_parse_hash_result(const struct json_value *result, uint8_t out[32])
{
	return eth_json_fixed(result, out, 32);
}

static err_t need_object(const struct json_value *v)
{
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type == JSON_NULL)
		return ERR_NOT_FOUND;
	return v->type == JSON_OBJECT ? ERR_OK : ERR_PROTO_FIELD_TYPE;
}

err_t eth_parse_block_header(const struct json_value *result, struct eth_block_header *out)
{
	err_t e;

	memset(out, 0, sizeof(*out));
	if ((e = need_object(result)) != ERR_OK)
		return e;
	if ((e = eth_json_quantity(json_get(result, "number"), &out->number)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(result, "timestamp"), &out->timestamp)) != ERR_OK ||
	    (e = eth_json_fixed(json_get(result, "hash"), out->hash, 32)) != ERR_OK ||
	    (e = eth_json_fixed(json_get(result, "parentHash"), out->parent_hash, 32)) != ERR_OK)
		return e;
	return ERR_OK;
}

err_t eth_parse_log(const struct json_value *v, struct arena *a, struct eth_log *out)
{
	const struct json_value *topics, *removed;
	err_t e;

	memset(out, 0, sizeof(*out));
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type != JSON_OBJECT)
		return ERR_PROTO_FIELD_TYPE;
	if ((e = eth_json_fixed(json_get(v, "address"), out->address, 20)) != ERR_OK ||
	    (e = json_data(json_get(v, "data"), ETH_MAX_DATA, a, &out->data, &out->data_len)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(v, "blockNumber"), &out->block_number)) != ERR_OK ||
	    (e = eth_json_fixed(json_get(v, "blockHash"), out->block_hash, 32)) != ERR_OK ||
	    (e = eth_json_fixed(json_get(v, "transactionHash"), out->tx_hash, 32)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(v, "transactionIndex"), &out->tx_index)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(v, "logIndex"), &out->log_index)) != ERR_OK)
		return e;
	topics = json_get(v, "topics");
	if (!topics)
		return ERR_PROTO_MALFORMED;
	if (topics->type != JSON_ARRAY)
		return ERR_PROTO_FIELD_TYPE;
	if (topics->u.arr.n > ETH_MAX_LOG_TOPICS)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < topics->u.arr.n; i++)
		if ((e = eth_json_fixed(&topics->u.arr.items[i], out->topics[i], 32)) != ERR_OK)
			return e;
	out->ntopics = topics->u.arr.n;
	removed = json_get(v, "removed");
	if (removed) {
		if (removed->type != JSON_TRUE && removed->type != JSON_FALSE)
			return ERR_PROTO_FIELD_TYPE;
		out->removed = removed->type == JSON_TRUE;
	}
	return ERR_OK;
}

static err_t parse_log_array(const struct json_value *v, size_t max, struct arena *a, struct eth_log **logs,
			     size_t *n)
{
	struct eth_log *l = NULL;
	err_t e;

	*logs = NULL;
	*n = 0;
	if (!v)
		return ERR_PROTO_MALFORMED;
	if (v->type != JSON_ARRAY)
		return ERR_PROTO_FIELD_TYPE;
	if (v->u.arr.n > max)
		return ERR_BUDGET;
	if (v->u.arr.n && !(l = arena_alloc(a, sizeof(*l) * v->u.arr.n)))
		return arena_err(a);
	for (size_t i = 0; i < v->u.arr.n; i++)
		if ((e = eth_parse_log(&v->u.arr.items[i], a, &l[i])) != ERR_OK)
			return e;
	*logs = l;
	*n = v->u.arr.n;
	return ERR_OK;
}

err_t eth_parse_logs(const struct json_value *result, size_t max_logs, struct arena *a, struct eth_log **logs,
		     size_t *n)
{
	return parse_log_array(result, max_logs ? MIN(max_logs, (size_t)ETH_MAX_LOGS) : ETH_MAX_LOGS, a, logs, n);
}

/* An address member that may be absent or null; *has says which. */
static err_t optional_address(const struct json_value *obj, const char *key, int *has, uint8_t out[20])
{
	const struct json_value *v = json_get(obj, key);

	*has = 0;
	if (!v || v->type == JSON_NULL)
		return ERR_OK;
	*has = 1;
	return eth_json_fixed(v, out, 20);
}

err_t eth_parse_receipt(const struct json_value *result, struct arena *a, struct eth_receipt *out)
{
	uint64_t status = 0;
	int has_from = 0;
	err_t e;

	memset(out, 0, sizeof(*out));
	if ((e = need_object(result)) != ERR_OK)
		return e;
	if ((e = eth_json_fixed(json_get(result, "transactionHash"), out->tx_hash, 32)) != ERR_OK ||
	    (e = eth_json_fixed(json_get(result, "blockHash"), out->block_hash, 32)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(result, "blockNumber"), &out->block_number)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(result, "transactionIndex"), &out->tx_index)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(result, "gasUsed"), &out->gas_used)) != ERR_OK ||
	    (e = eth_json_quantity(json_get(result, "status"), &status)) != ERR_OK ||
	    (e = optional_address(result, "from", &has_from, out->from)) != ERR_OK ||
	    (e = optional_address(result, "to", &out->has_to, out->to)) != ERR_OK ||
	    (e = optional_address(result, "contractAddress", &out->has_contract_address, out->contract_address)) !=
		    ERR_OK)
		return e;
	if (status > 1 || !has_from)
		return ERR_PROTO_MALFORMED;
	out->status = (int)status;
	return parse_log_array(json_get(result, "logs"), ETH_MAX_LOGS, a, &out->logs, &out->nlogs);
}

/* ---- blocking helpers ---- */

/* One call with params from w; *result in `a`. */
static err_t sync_call(struct jsonrpc_client *c, const char *method, struct buf_writer *w, struct arena *a,
		       const struct json_value **result, struct jsonrpc_info *info)
{
	struct jsonrpc_reply r;
	const char *params;
	err_t e;

	*result = NULL;
	if ((e = buf_writer_status(w)) != ERR_OK)
		return e;
	if (!(params = buf_cstr(w)))
		return ERR_NOMEM;
	if ((e = jsonrpc_call_sync(c, method, params, a, &r, info)) != ERR_OK)
		return e;
	*result = r.result;
	return ERR_OK;
}

static err_t quantity_call(struct jsonrpc_client *c, const char *method, struct buf_writer *w, uint64_t *out,
			   struct jsonrpc_info *info)
{
	struct arena a;
	const struct json_value *res;
	err_t e;

	arena_init(&a, SMALL_ARENA, 0);
	if ((e = sync_call(c, method, w, &a, &res, info)) == ERR_OK)
		e = eth_parse_quantity_result(res, out);
	arena_fini(&a);
	return e;
}

static err_t no_params_quantity(struct jsonrpc_client *c, const char *method, uint64_t *out,
				struct jsonrpc_info *info)
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, 16);
	buf_put_str(&w, "[]");
	e = quantity_call(c, method, &w, out, info);
	buf_writer_free(&w);
	return e;
}

err_t eth_chain_id(struct jsonrpc_client *c, uint64_t *id, struct jsonrpc_info *info)
{
	return no_params_quantity(c, "eth_chainId", id, info);
}

err_t eth_block_number(struct jsonrpc_client *c, uint64_t *n, struct jsonrpc_info *info)
{
	return no_params_quantity(c, "eth_blockNumber", n, info);
}

err_t eth_gas_price(struct jsonrpc_client *c, uint64_t *wei, struct jsonrpc_info *info)
{
	return no_params_quantity(c, "eth_gasPrice", wei, info);
}

err_t eth_max_priority_fee(struct jsonrpc_client *c, uint64_t *wei, struct jsonrpc_info *info)
{
	return no_params_quantity(c, "eth_maxPriorityFeePerGas", wei, info);
}

err_t eth_get_block_header(struct jsonrpc_client *c, const struct eth_block_ref *b, struct eth_block_header *h,
			   struct jsonrpc_info *info)
{
	struct buf_writer w;
	struct arena a;
	const struct json_value *res;
	err_t e;

	if (b->tag == ETH_BLOCK_HASH)
		return ERR_INVALID_ARG;
	buf_writer_init(&w, 256);
	arena_init(&a, (size_t)16 << 20, 0);
	eth_params_get_block(&w, b, 0);
	if ((e = sync_call(c, "eth_getBlockByNumber", &w, &a, &res, info)) == ERR_OK)
		e = eth_parse_block_header(res, h);
	arena_fini(&a);
	buf_writer_free(&w);
	return e;
}

err_t eth_get_logs(struct jsonrpc_client *c, const struct eth_log_filter *f, struct arena *a, struct eth_log **logs,
		   size_t *n, struct jsonrpc_info *info)
{
	struct buf_writer w;
	const struct json_value *res;
	err_t e;

	*logs = NULL;
	*n = 0;
	if (!f->by_hash && (f->from.tag == ETH_BLOCK_HASH || f->to.tag == ETH_BLOCK_HASH))
		return ERR_INVALID_ARG;
	buf_writer_init(&w, PARAMS_MAX);
	eth_params_get_logs(&w, f);
	if ((e = sync_call(c, "eth_getLogs", &w, a, &res, info)) == ERR_OK)
		e = eth_parse_logs(res, 0, a, logs, n);
	buf_writer_free(&w);
	return e;
}

err_t eth_call(struct jsonrpc_client *c, const struct eth_tx_req *req, const struct eth_block_ref *b, struct arena *a,
	       const uint8_t **out, size_t *n, struct jsonrpc_info *info)
{
	struct buf_writer w;
	const struct json_value *res;
	err_t e;

	*out = NULL;
	*n = 0;
	buf_writer_init(&w, PARAMS_MAX);
	eth_params_call(&w, req, b);
	if ((e = sync_call(c, "eth_call", &w, a, &res, info)) == ERR_OK)
		e = eth_parse_data_result(res, a, out, n);
	buf_writer_free(&w);
	return e;
}

static err_t hash_call(struct jsonrpc_client *c, const char *method, struct buf_writer *w, uint8_t hash[32],
		       struct jsonrpc_info *info)
{
	struct arena a;
	const struct json_value *res;
	err_t e;

	arena_init(&a, SMALL_ARENA, 0);
	if ((e = sync_call(c, method, w, &a, &res, info)) == ERR_OK)
		e = eth_parse_hash_result(res, hash);
	arena_fini(&a);
	return e;
}

err_t eth_send_raw_transaction(struct jsonrpc_client *c, const void *raw, size_t n, uint8_t hash[32],
			       struct jsonrpc_info *info)
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, PARAMS_MAX);
	eth_params_send_raw(&w, raw, n);
	e = hash_call(c, "eth_sendRawTransaction", &w, hash, info);
	buf_writer_free(&w);
	return e;
}

err_t eth_send_transaction(struct jsonrpc_client *c, const struct eth_tx_req *tx, uint8_t hash[32],
			   struct jsonrpc_info *info)
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, PARAMS_MAX);
	eth_params_tx(&w, tx);
	e = hash_call(c, "eth_sendTransaction", &w, hash, info);
	buf_writer_free(&w);
	return e;
}

err_t eth_get_transaction_receipt(struct jsonrpc_client *c, const uint8_t hash[32], struct arena *a,
				  struct eth_receipt *r, struct jsonrpc_info *info)
{
	struct buf_writer w;
	const struct json_value *res;
	err_t e;

	memset(r, 0, sizeof(*r));
	buf_writer_init(&w, 256);
	eth_params_hash(&w, hash);
	if ((e = sync_call(c, "eth_getTransactionReceipt", &w, a, &res, info)) == ERR_OK)
		e = eth_parse_receipt(res, a, r);
	buf_writer_free(&w);
	return e;
}

err_t eth_get_transaction_count(struct jsonrpc_client *c, const uint8_t addr[20], const struct eth_block_ref *b,
				uint64_t *n, struct jsonrpc_info *info)
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, 512);
	eth_params_address_block(&w, addr, b);
	e = quantity_call(c, "eth_getTransactionCount", &w, n, info);
	buf_writer_free(&w);
	return e;
}

err_t eth_estimate_gas(struct jsonrpc_client *c, const struct eth_tx_req *tx, uint64_t *gas, struct jsonrpc_info *info)
{
	struct buf_writer w;
	err_t e;

	buf_writer_init(&w, PARAMS_MAX);
	eth_params_tx(&w, tx);
	e = quantity_call(c, "eth_estimateGas", &w, gas, info);
	buf_writer_free(&w);
	return e;
}
