/* SPDX-License-Identifier: Apache-2.0 */
/* RLP known answers (Ethereum wiki), canonical RLP decoding, EIP-155 / EIP-1559 signing and addresses (EIP-155 text, ethers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "tx.h"

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char *got = malloc(2 * n + 1);

	hex_encode(got, p, n);
	assert_string_equal(got, want);
	free(got);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, h, strlen(h), 1), ERR_OK);
	assert_int_equal(got, n);
}

/* ---- RLP ---- */

static void test_rlp_known_answers(void **state)
{
	static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
	struct buf_writer w, in, in2;

	(void)state;
	buf_writer_init(&w, 4096);
	buf_writer_init(&in, 4096);
	buf_writer_init(&in2, 4096);

	rlp_put_bytes(&w, "dog", 3);
	assert_hex(w.p, w.len, "83646f67");
	buf_writer_clear(&w);

	rlp_put_bytes(&in, "cat", 3);
	rlp_put_bytes(&in, "dog", 3);
	rlp_put_list(&w, in.p, in.len);
	assert_hex(w.p, w.len, "c88363617483646f67");
	buf_writer_clear(&w);

	rlp_put_bytes(&w, "", 0);
	assert_hex(w.p, w.len, "80");
	buf_writer_clear(&w);
	rlp_put_list(&w, NULL, 0);
	assert_hex(w.p, w.len, "c0");
	buf_writer_clear(&w);

	rlp_put_uint(&w, 0);
	rlp_put_uint(&w, 15);
	rlp_put_uint(&w, 1024);
	rlp_put_uint(&w, 0x80);
	rlp_put_uint(&w, UINT64_MAX);
	assert_hex(w.p, w.len, "800f820400818088ffffffffffffffff");
	buf_writer_clear(&w);

	rlp_put_bytes(&w, "\x00", 1);
	rlp_put_bytes(&w, "\x7f", 1);
	rlp_put_bytes(&w, "\x80", 1);
	assert_hex(w.p, w.len, "007f8180");
	buf_writer_clear(&w);

	/* The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ]. */
	buf_writer_clear(&in);
	rlp_put_list(&in, NULL, 0);                 /* [] */
	rlp_put_list(&in, "\xc0", 1);               /* [[]] */
	buf_writer_clear(&in2);
	rlp_put_list(&in2, NULL, 0);
	rlp_put_list(&in2, "\xc0", 1);
	rlp_put_list(&in, in2.p, in2.len);          /* [ [], [[]] ] */
	rlp_put_list(&w, in.p, in.len);
	assert_hex(w.p, w.len, "c7c0c1c0c3c0c1c0");
	buf_writer_clear(&w);

	/* 56 bytes: the first length that needs the long form. */
	rlp_put_bytes(&w, lorem, strlen(lorem));
	assert_int_equal(w.len, 58);
	assert_int_equal(w.p[0], 0xb8);
	assert_int_equal(w.p[1], 0x38);
	assert_memory_equal(w.p + 2, lorem, 56);
	buf_writer_clear(&w);

	{
		uint8_t big[1024];
		memset(big, 'a', sizeof(big));
		rlp_put_bytes(&w, big, sizeof(big));
		assert_hex(w.p, 3, "b90400");
	}
	{
		uint8_t one[32] = { 0 };
		one[31] = 1;
		buf_writer_clear(&w);
		rlp_put_uint256(&w, one);
		assert_hex(w.p, w.len, "01");
	}
	assert_int_equal(buf_writer_status(&w), ERR_OK);
	buf_writer_free(&w);
	buf_writer_free(&in);
	buf_writer_free(&in2);
}

static void test_rlp_decode(void **state)
{
	static const struct {
		const char *hex;
		err_t want;
	} cases[] = {
		{ "83646f67", ERR_OK },
		{ "c88363617483646f67", ERR_OK },
		{ "00", ERR_OK },
		{ "8100", ERR_PROTO_MALFORMED },      /* a byte below 0x80 must encode itself */
		{ "817f", ERR_PROTO_MALFORMED },
		{ "b80568656c6c6f", ERR_PROTO_MALFORMED },   /* long form for 5 bytes */
		{ "b9000568656c6c6f", ERR_PROTO_MALFORMED }, /* length with a leading zero */
		{ "83646f", ERR_PROTO_TRUNCATED },
		{ "b8", ERR_PROTO_TRUNCATED },
		{ "f8", ERR_PROTO_TRUNCATED },
		{ "", ERR_PROTO_TRUNCATED },
		{ "bfffffffffffffffff", ERR_PROTO_TOO_LARGE }, /* 8-byte length far above the cap */
	};
	struct buf_reader r, sub;
	const uint8_t *p;
	size_t n;
	int is_list = -1;
	uint64_t x;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint8_t buf[64];
		size_t len = 0;
		assert_int_equal(hex_decode(buf, sizeof(buf), &len, cases[i].hex, strlen(cases[i].hex), 0), ERR_OK);
		buf_reader_init(&r, buf, len);
		assert_int_equal(rlp_get_item(&r, 1 << 20, &is_list, &p, &n), cases[i].want);
		if (cases[i].want == ERR_OK)
			assert_int_equal(buf_remaining(&r), 0);
		else
			assert_int_equal(r.pos, 0);
	}
	/* Walk a list. */
	{
		static const uint8_t l[] = { 0xc8, 0x83, 'c', 'a', 't', 0x83, 'd', 'o', 'g' };
		buf_reader_init(&r, l, sizeof(l));
		assert_int_equal(rlp_get_item(&r, 100, &is_list, &p, &n), ERR_OK);
		assert_true(is_list);
		buf_reader_init(&sub, p, n);
		assert_int_equal(rlp_get_item(&sub, 100, &is_list, &p, &n), ERR_OK);
		assert_false(is_list);
		assert_memory_equal(p, "cat", 3);
		assert_int_equal(rlp_get_item(&sub, 100, &is_list, &p, &n), ERR_OK);
		assert_memory_equal(p, "dog", 3);
		assert_int_equal(buf_expect_end(&sub), ERR_OK);
	}
	/* Scalars. */
	{
		static const uint8_t ok[] = { 0x82, 0x04, 0x00 }, zero[] = { 0x80 }, lead[] = { 0x82, 0x00, 0x04 },
				     nine[] = { 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, list[] = { 0xc0 };
		buf_reader_init(&r, ok, sizeof(ok));
		assert_int_equal(rlp_get_uint(&r, &x), ERR_OK);
		assert_int_equal(x, 1024);
		buf_reader_init(&r, zero, sizeof(zero));
		assert_int_equal(rlp_get_uint(&r, &x), ERR_OK);
		assert_int_equal(x, 0);
		buf_reader_init(&r, lead, sizeof(lead));
		assert_int_equal(rlp_get_uint(&r, &x), ERR_PROTO_MALFORMED);
		buf_reader_init(&r, nine, sizeof(nine));
		assert_int_equal(rlp_get_uint(&r, &x), ERR_PROTO_TOO_LARGE);
		buf_reader_init(&r, list, sizeof(list));
		assert_int_equal(rlp_get_uint(&r, &x), ERR_PROTO_MALFORMED);
	}
}

/* ---- keys, addresses, signing ---- */

static void test_addresses(void **state)
{
	uint8_t key[32], addr[20], created[20];
	char hex[43];

	(void)state;
	memset(key, 0x46, 32);
	assert_int_equal(eth_address_from_key(key, addr), ERR_OK);
	eth_address_to_hex(addr, 1, hex);
	assert_string_equal(hex, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
	eth_address_to_hex(addr, 0, hex);
	assert_string_equal(hex, "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");

	eth_contract_address(addr, 0, created);
	eth_address_to_hex(created, 1, hex);
	assert_string_equal(hex, "0x72665d3e94Cb4f374b7728F1ab21A3115C4D50Eb");
	eth_contract_address(addr, 300, created);
	eth_address_to_hex(created, 1, hex);
	assert_string_equal(hex, "0xa65e5EBF708124261D0b62a954fEBCfD85b69a40");

	/* anvil's first dev account. */
	assert_int_equal(eth_key_from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", 66, key),
			 ERR_OK);
	assert_int_equal(eth_address_from_key(key, addr), ERR_OK);
	eth_address_to_hex(addr, 1, hex);
	assert_string_equal(hex, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

	/* EIP-55's own example. */
	unhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", addr, 20);
	eth_address_to_hex(addr, 1, hex);
	assert_string_equal(hex, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

static void test_key_rejects(void **state)
{
	static const char zero[] = "0000000000000000000000000000000000000000000000000000000000000000";
	static const char order[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
	static const char below[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
	uint8_t key[32], addr[20];

	(void)state;
	assert_int_equal(eth_key_from_hex(zero, 64, key), ERR_CRYPTO);
	assert_int_equal(eth_key_from_hex(order, 64, key), ERR_CRYPTO);
	assert_int_equal(eth_key_from_hex(below, 64, key), ERR_OK);
	assert_int_equal(eth_key_from_hex(below, 62, key), ERR_PROTO_ENCODING);
	assert_int_equal(eth_key_from_hex(below, 63, key), ERR_PROTO_ENCODING);
	assert_int_equal(eth_key_from_hex("0x", 2, key), ERR_PROTO_ENCODING);
	assert_int_equal(eth_key_from_hex("zz", 2, key), ERR_PROTO_ENCODING);
	{
		char longer[80];
		memcpy(longer, below, 64);
		memcpy(longer + 64, "00", 2);
		assert_int_equal(eth_key_from_hex(longer, 66, key), ERR_PROTO_ENCODING);
	}
	memset(key, 0, 32);
	assert_int_equal(eth_address_from_key(key, addr), ERR_CRYPTO);
}

static void test_eip155_example(void **state)
{
	struct eth_tx tx;
	uint8_t key[32], hash[32];
	struct buf_writer raw;

	(void)state;
	/* The example in EIP-155's text. */
	memset(&tx, 0, sizeof(tx));
	tx.type = ETH_TX_LEGACY;
	tx.chain_id = 1;
	tx.nonce = 9;
	tx.gas_price = 20000000000ULL;
	tx.gas = 21000;
	tx.has_to = 1;
	memset(tx.to, 0x35, 20);
	eth_u256_from_u64(tx.value, 1000000000000000000ULL);
	memset(key, 0x46, 32);
	assert_int_equal(eth_tx_signing_hash(&tx, hash), ERR_OK);
	assert_hex(hash, 32, "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
	buf_writer_init(&raw, 4096);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_OK);
	assert_hex(raw.p, raw.len,
		   "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
		   "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f"
		   "761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
	/* The key is the caller's and untouched. */
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], 0x46);
	buf_writer_free(&raw);
}

static void test_eip1559_and_create(void **state)
{
	static const uint8_t data[] = { 1, 2, 3, 4 }, init[] = { 0x60, 0x00 };
	struct eth_tx tx;
	uint8_t key[32], hash[32];
	struct buf_writer raw;

	(void)state;
	memset(key, 0x46, 32);
	memset(&tx, 0, sizeof(tx));
	tx.type = ETH_TX_EIP1559;
	tx.chain_id = 31337;
	tx.nonce = 5;
	tx.max_priority_fee = 1000000000ULL;
	tx.max_fee = 30000000000ULL;
	tx.gas = 100000;
	tx.has_to = 1;
	memset(tx.to, 0x35, 20);
	eth_u256_from_u64(tx.value, 12345);
	tx.data = data;
	tx.data_len = sizeof(data);
	buf_writer_init(&raw, 4096);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_OK);
	assert_hex(raw.p, raw.len,
		   "02f874827a6905843b9aca008506fc23ac00830186a0943535353535353535353535353535353535353535"
		   "8230398401020304c001a0dc18f16b0dc581be4a1344ede69c02e9daddbb04549084fafb0a8d078663ae35"
		   "a065b9cd3f1a0a27858351fcf851403b1b97a2dcc16aa80bf0b6cb9ae1edcef451");
	assert_hex(hash, 32, "2e12205771d62b3b4bae2672220b0055dfbf92431dafc4b9e042e623080d3d0f");

	/* Contract creation: an empty `to`. */
	memset(&tx, 0, sizeof(tx));
	tx.type = ETH_TX_LEGACY;
	tx.chain_id = 31337;
	tx.gas_price = 1;
	tx.gas = 100000;
	tx.data = init;
	tx.data_len = sizeof(init);
	buf_writer_clear(&raw);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, NULL), ERR_OK);
	assert_hex(raw.p, raw.len,
		   "f8508001830186a0808082600082f4f5a0119e9234567604402ba6967465a83f840ffaa48f4cc33800b7de"
		   "75e4bbdb77f3a04b646f56336683be047b3caa01059ebc5a87980952edc7290979a356889f0609");
	buf_writer_free(&raw);
}

static void test_sign_rejects(void **state)
{
	struct eth_tx tx;
	uint8_t key[32], hash[32];
	struct buf_writer raw;

	(void)state;
	memset(&tx, 0, sizeof(tx));
	memset(key, 0x46, 32);
	buf_writer_init(&raw, 4096);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_INVALID_ARG);   /* chain id 0 */
	tx.chain_id = UINT64_MAX / 2;
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_INVALID_ARG);   /* v would overflow */
	tx.chain_id = 1;
	tx.type = (enum eth_tx_type)1;
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_INVALID_ARG);
	tx.type = ETH_TX_LEGACY;
	tx.data_len = 4;
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_INVALID_ARG);   /* data NULL */
	tx.data_len = 0;
	memset(key, 0, 32);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_CRYPTO);
	assert_int_equal(raw.len, 0);
	/* A writer too small for the result. */
	buf_writer_free(&raw);
	buf_writer_init(&raw, 20);
	memset(key, 0x46, 32);
	assert_int_equal(eth_tx_sign(&tx, key, &raw, hash), ERR_PROTO_TOO_LARGE);
	buf_writer_free(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rlp_known_answers),
		cmocka_unit_test(test_rlp_decode),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_key_rejects),
		cmocka_unit_test(test_eip155_example),
		cmocka_unit_test(test_eip1559_and_create),
		cmocka_unit_test(test_sign_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
