/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the attest service's collateral cache readers: cache files, dcap-qvl files, upstream bodies and keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "arena.h"
#include "attest_collateral.h"
#include "buf.h"
#include "dcap.h"

/*
 * Every input is read two ways.
 *
 * As a whole: a disk cache file (attest_coll_cache_decode) and an offline
 * dcap-qvl QuoteCollateralV3 file (attest_coll_from_dcap_json).
 *
 * As an upstream answer: [u8 n][n bytes key text][u16le m][m bytes issuer
 * chain header value, percent-encoded][body]. The key goes through
 * attest_coll_key_parse, the chain through attest_coll_url_decode, and
 * the body and chain through attest_coll_blob_new (artefact shape, FMSPC/id,
 * CRL and certificate parsing, validity windows).
 *
 * Every blob that is made is written as a cache file and read back, which
 * must give the same blob; a complete dcap-qvl set is rebuilt as dcap-qvl
 * JSON, which lib/attest's parser and attest_coll_from_dcap_json must both
 * accept with the same parts.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOURCE "fuzz"
#define MAX_ARTEFACT ((size_t)4 << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static int is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int is_json_kind(enum attest_coll_kind k)
{
	return k <= ATTEST_COLL_SGX_QE_IDENTITY;
}

static int has_der(enum attest_coll_kind k)
{
	return (k >= ATTEST_COLL_PCK_CRL_PROCESSOR && k <= ATTEST_COLL_ROOT_CA_CRL) || k == ATTEST_COLL_AMD_VCEK ||
	       k == ATTEST_COLL_AMD_CRL;
}

static int same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* What attest_coll_blob_new promises about a blob it made. */
static void check_blob(const struct attest_coll_blob *b)
{
	char name[ATTEST_COLL_KEY_MAX + 8];

	check(b && b->refs == 1 && attest_coll_key_valid(&b->key));
	check(attest_coll_cache_file_name(&b->key, name, sizeof(name)) == ERR_OK);
	check(b->body && b->body_len > 0 && b->body_len <= MAX_ARTEFACT && b->body[b->body_len] == 0);
	check(b->source != NULL);
	if (b->key.kind <= ATTEST_COLL_PCK_CRL_PLATFORM)
		check(b->issuer_chain && b->chain_len > 0 && b->issuer_chain[b->chain_len] == 0);
	else
		check(!b->issuer_chain && b->chain_len == 0);
	check(has_der(b->key.kind) ? b->der && b->der_len > 0 : !b->der && b->der_len == 0);
	if (is_json_kind(b->key.kind)) {
		check(b->inner_len >= 2 && b->inner_off + b->inner_len <= b->body_len);
		check(b->body[b->inner_off] == '{' && b->body[b->inner_off + b->inner_len - 1] == '}');
		check(b->sig_len == 128 && b->sig_off + b->sig_len <= b->body_len);
		for (size_t i = 0; i < 128; i++)
			check(is_hex((char)b->body[b->sig_off + i]));
	}
	if (has_der(b->key.kind) && b->key.kind != ATTEST_COLL_AMD_VCEK) {
		/* The DER form is a fixed point. */
		uint8_t *der = NULL;
		size_t der_len = 0;

		check(attest_coll_crl_to_der(b->der, b->der_len, &der, &der_len) == ERR_OK);
		check(same_bytes(der, der_len, b->der, b->der_len));
		free(der);
	}
}

/* A blob survives the disk cache unchanged. */
static void check_cache_roundtrip(const struct attest_coll_blob *b)
{
	struct attest_coll_blob *back = NULL;
	struct buf_writer w;
	char name[ATTEST_COLL_KEY_MAX + 8];
	const char *detail = NULL;
	err_t e;

	buf_writer_init(&w, (size_t)16 << 20);
	check(attest_coll_cache_file_name(&b->key, name, sizeof(name)) == ERR_OK);
	check(attest_coll_cache_encode(b, &w) == ERR_OK);
	e = attest_coll_cache_decode(w.p, w.len, name, SOURCE, &back, &detail);
	check(e == ERR_OK);
	check(memcmp(&back->key, &b->key, sizeof(b->key)) == 0);
	check(same_bytes(back->body, back->body_len, b->body, b->body_len));
	check((back->issuer_chain == NULL) == (b->issuer_chain == NULL));
	check(same_bytes(back->issuer_chain, back->chain_len, b->issuer_chain, b->chain_len));
	check(same_bytes(back->der, back->der_len, b->der, b->der_len));
	check(back->inner_off == b->inner_off && back->inner_len == b->inner_len && back->sig_off == b->sig_off);
	check(back->issued_at == b->issued_at && back->next_update == b->next_update);
	check(back->fetched_at == b->fetched_at);
	check(strcmp(back->source, b->source[0] ? b->source : SOURCE) == 0);
	attest_coll_blob_unref(back);
	buf_writer_free(&w);
}

/* The four dcap-qvl parts rebuilt as dcap-qvl JSON: both parsers take it, and it gives the same parts. */
static void check_dcap_roundtrip(struct attest_coll_blob *p[4])
{
	struct attest_coll_blob *again[4];
	struct dcap_collateral c;
	struct buf_writer w;
	struct arena a;
	const char *detail = NULL;
	size_t n = 0;

	buf_writer_init(&w, (size_t)16 << 20);
	arena_init(&a, (size_t)64 << 20, 0);
	check(attest_coll_dcap_json(p[0], p[1], p[2], p[3], &w) == ERR_OK);
	/* lib/attest caps the document at 1 MiB (hex doubles the CRLs); below that it must agree. */
	if (w.len <= DCAP_COLLATERAL_JSON_MAX) {
		check(dcap_collateral_parse_json((const char *)w.p, w.len, &a, &c, &detail) == ERR_OK);
		check(same_bytes(c.tcb_info, c.tcb_info_len, p[0]->body + p[0]->inner_off, p[0]->inner_len));
		check(same_bytes(c.qe_identity, c.qe_identity_len, p[1]->body + p[1]->inner_off, p[1]->inner_len));
		check(same_bytes(c.pck_crl, c.pck_crl_len, p[2]->der, p[2]->der_len));
		check(same_bytes(c.root_ca_crl, c.root_ca_crl_len, p[3]->der, p[3]->der_len));
		check(same_bytes(c.tcb_info_issuer_chain, c.tcb_info_issuer_chain_len, p[0]->issuer_chain,
				 p[0]->chain_len));
	}
	check(attest_coll_from_dcap_json((const char *)w.p, w.len, 0, SOURCE, again, &n, &detail) == ERR_OK);
	check(n == 4);
	for (size_t i = 0; i < 4; i++) {
		check(memcmp(&again[i]->key, &p[i]->key, sizeof(p[i]->key)) == 0);
		check(again[i]->issued_at == p[i]->issued_at && again[i]->next_update == p[i]->next_update);
		check(same_bytes(again[i]->der, again[i]->der_len, p[i]->der, p[i]->der_len));
		if (is_json_kind(p[i]->key.kind))
			check(same_bytes(again[i]->body + again[i]->inner_off, again[i]->inner_len,
					 p[i]->body + p[i]->inner_off, p[i]->inner_len));
		attest_coll_blob_unref(again[i]);
	}
	arena_fini(&a);
	buf_writer_free(&w);
}

static void whole(const uint8_t *data, size_t size)
{
	struct attest_coll_blob *b = NULL, *parts[4];
	const char *detail = NULL;
	size_t n = 0;
	err_t e;

	e = attest_coll_cache_decode(data, size, NULL, SOURCE, &b, &detail);
	if (e == ERR_OK) {
		check_blob(b);
		check_cache_roundtrip(b);
		attest_coll_blob_unref(b);
	} else {
		check(b == NULL && (detail != NULL || e == ERR_NOMEM));
	}

	e = attest_coll_from_dcap_json((const char *)data, size, 1, SOURCE, parts, &n, &detail);
	if (e == ERR_OK) {
		check(n == 4);
		check(parts[0]->key.kind == ATTEST_COLL_TDX_TCB || parts[0]->key.kind == ATTEST_COLL_SGX_TCB);
		check(parts[1]->key.kind == ATTEST_COLL_TDX_QE_IDENTITY ||
		      parts[1]->key.kind == ATTEST_COLL_SGX_QE_IDENTITY);
		check(parts[2]->key.kind == ATTEST_COLL_PCK_CRL_PROCESSOR ||
		      parts[2]->key.kind == ATTEST_COLL_PCK_CRL_PLATFORM);
		check(parts[3]->key.kind == ATTEST_COLL_ROOT_CA_CRL);
		for (size_t i = 0; i < 4; i++) {
			check_blob(parts[i]);
			check(parts[i]->fetched_at == 1);
		}
		check_cache_roundtrip(parts[0]);
		check_cache_roundtrip(parts[2]);
		check_dcap_roundtrip(parts);
		for (size_t i = 0; i < 4; i++)
			attest_coll_blob_unref(parts[i]);
	} else {
		check(n == 0 && (detail != NULL || e == ERR_NOMEM));
	}
}

static void key_roundtrip(const char *s, size_t n, const struct attest_coll_key *k)
{
	struct attest_coll_key again;
	char text[ATTEST_COLL_KEY_MAX];

	check(attest_coll_key_valid(k));
	check(attest_coll_key_format(k, text, sizeof(text)) == ERR_OK);
	/* FMSPC may come in either case; everything else is exact. */
	check(strlen(text) == n && strncasecmp(text, s, n) == 0);
	check(attest_coll_key_parse(text, strlen(text), &again) == ERR_OK);
	check(memcmp(&again, k, sizeof(again)) == 0);
}

static void url_roundtrip(const char *s, size_t n)
{
	struct buf_writer enc, dec;

	buf_writer_init(&enc, 3 * n + 16);
	buf_writer_init(&dec, n + 16);
	attest_coll_url_encode(s, n, &enc);
	check(buf_writer_status(&enc) == ERR_OK);
	check(attest_coll_url_decode((const char *)enc.p, enc.len, &dec) == ERR_OK);
	check(same_bytes(dec.p, dec.len, s, n));
	buf_writer_free(&enc);
	buf_writer_free(&dec);
}

static void upstream(const uint8_t *data, size_t size)
{
	struct buf_reader r;
	struct attest_coll_key k;
	struct attest_coll_blob *b = NULL;
	struct buf_writer chain;
	const uint8_t *key_text, *chain_enc;
	uint8_t kl;
	uint16_t cl;
	const char *detail = NULL;
	err_t e;

	buf_reader_init(&r, data, size);
	if (buf_get_u8(&r, &kl) || buf_get_view(&r, kl, &key_text) || buf_get_u16le(&r, &cl) ||
	    buf_get_view(&r, cl, &chain_enc))
		return;
	if (attest_coll_key_parse((const char *)key_text, kl, &k) != ERR_OK)
		return;
	key_roundtrip((const char *)key_text, kl, &k);

	buf_writer_init(&chain, (size_t)64 << 10);
	e = attest_coll_url_decode((const char *)chain_enc, cl, &chain);
	if (e != ERR_OK) {
		check(e == ERR_PROTO_ENCODING);
		goto out;
	}
	url_roundtrip((const char *)chain.p, chain.len);
	e = attest_coll_blob_new(&k, buf_remaining(&r) ? buf_cursor(&r) : NULL, buf_remaining(&r),
				 chain.len ? (const char *)chain.p : NULL, chain.len, 7, SOURCE, &b, &detail);
	if (e == ERR_OK) {
		check_blob(b);
		check(b->fetched_at == 7 && memcmp(&b->key, &k, sizeof(k)) == 0);
		check(same_bytes(b->body, b->body_len, buf_cursor(&r), buf_remaining(&r)));
		check_cache_roundtrip(b);
		attest_coll_blob_unref(b);
	} else {
		check(b == NULL && detail != NULL);
	}
out:
	buf_writer_free(&chain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	whole(data, size);
	upstream(data, size);
	ERR_clear_error();
	return 0;
}
