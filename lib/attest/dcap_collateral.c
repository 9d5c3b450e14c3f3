/* SPDX-License-Identifier: Apache-2.0 */
/* Collateral documents: dcap-qvl's QuoteCollateralV3 JSON and Intel PCS {"tcbInfo"|"enclaveIdentity", "signature"} bodies. */
#include "dcap.h"

#include <string.h>

#include "enc.h"
#include "json.h"

/* Chains are ~2 KB, the PCK CRL grows with revocations (~5 KB today); this leaves a wide margin. */
#define COLLATERAL_FIELD_MAX (512u * 1024)

static err_t fail(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	return e;
}

/* A required string member, copied into the arena (NUL-terminated) so *out outlives the JSON tree's users. */
static err_t get_text(const struct json_value *root, const char *key, const char **out, size_t *len)
{
	const struct json_value *v = json_get(root, key);

	if (!v)
		return ERR_ATTEST_COLLATERAL_MISSING;
	if (v->type != JSON_STRING || v->u.str.len > COLLATERAL_FIELD_MAX)
		return ERR_PROTO_FIELD_TYPE;
	/* json strings are already NUL-terminated arena copies. */
	*out = v->u.str.s;
	*len = v->u.str.len;
	return ERR_OK;
}

static err_t get_hex_bytes(const struct json_value *root, const char *key, struct arena *a, const uint8_t **out,
			   size_t *len)
{
	const char *s;
	size_t n, got = 0;
	uint8_t *buf;
	err_t err = get_text(root, key, &s, &n);

	if (err)
		return err;
	if (n == 0 || n % 2)
		return ERR_PROTO_ENCODING;
	buf = arena_alloc(a, n / 2);
	if (!buf)
		return arena_err(a);
	if (hex_decode(buf, n / 2, &got, s, n, 0) || got != n / 2)
		return ERR_PROTO_ENCODING;
	*out = buf;
	*len = got;
	return ERR_OK;
}

static err_t get_sig(const struct json_value *root, const char *key, uint8_t sig[64])
{
	const char *s;
	size_t n, got = 0;
	err_t err = get_text(root, key, &s, &n);

	if (err)
		return err;
	if (n != 128 || hex_decode(sig, 64, &got, s, n, 0) || got != 64)
		return ERR_PROTO_ENCODING;
	return ERR_OK;
}

err_t dcap_collateral_parse_json(const char *json, size_t len, struct arena *a, struct dcap_collateral *c,
				 const char **detail)
{
	struct json_limits lim = { .max_depth = 8, .max_len = DCAP_COLLATERAL_JSON_MAX };
	struct json_value *root = NULL;
	const struct json_value *v;
	err_t err;

	memset(c, 0, sizeof(*c));
	err = json_parse(json, len, &lim, a, &root, NULL);
	if (err)
		return fail(detail, err, "collateral: not valid JSON");
	if (root->type != JSON_OBJECT)
		return fail(detail, ERR_PROTO_JSON, "collateral: not a JSON object");

#define TEXT(k)                                                                  \
	do {                                                                     \
		err = get_text(root, #k, &c->k, &c->k##_len);                    \
		if (err)                                                         \
			return fail(detail, err, "collateral: " #k " missing or not a string"); \
	} while (0)
#define HEX(k)                                                                   \
	do {                                                                     \
		err = get_hex_bytes(root, #k, a, &c->k, &c->k##_len);            \
		if (err)                                                         \
			return fail(detail, err, "collateral: " #k " missing or not hex"); \
	} while (0)
#define SIG(k)                                                                   \
	do {                                                                     \
		err = get_sig(root, #k, c->k);                                   \
		if (err)                                                         \
			return fail(detail, err, "collateral: " #k " missing or not 64 bytes of hex"); \
	} while (0)

	TEXT(pck_crl_issuer_chain);
	HEX(root_ca_crl);
	HEX(pck_crl);
	TEXT(tcb_info_issuer_chain);
	TEXT(tcb_info);
	SIG(tcb_info_signature);
	TEXT(qe_identity_issuer_chain);
	TEXT(qe_identity);
	SIG(qe_identity_signature);
#undef TEXT
#undef HEX
#undef SIG

	/* Optional (Rust Option<String>): absent or null mean "use the chain in the quote". */
	v = json_get(root, "pck_certificate_chain");
	if (v && v->type != JSON_NULL) {
		err = get_text(root, "pck_certificate_chain", &c->pck_certificate_chain, &c->pck_certificate_chain_len);
		if (err)
			return fail(detail, err, "collateral: pck_certificate_chain not a string");
	}
	return ERR_OK;
}

/* {"<inner>":{...},"signature":"<hex>"}: the raw span of the inner object and the decoded signature. */
static err_t pcs_parse(const char *body, size_t len, struct arena *a, const char *inner, const char **signed_out,
		       size_t *signed_len, uint8_t sig[64], const char **detail)
{
	struct json_limits lim = { .max_depth = 16, .max_len = DCAP_COLLATERAL_JSON_MAX };
	struct json_value *root = NULL;
	const struct json_value *v;
	err_t err;

	err = json_parse(body, len, &lim, a, &root, NULL);
	if (err)
		return fail(detail, err, "PCS response: not valid JSON");
	if (root->type != JSON_OBJECT || root->u.obj.n != 2)
		return fail(detail, ERR_PROTO_JSON, "PCS response: not an object with exactly two members");
	v = json_get(root, inner);
	if (!v || v->type != JSON_OBJECT)
		return fail(detail, ERR_ATTEST_COLLATERAL_MISSING, "PCS response: signed object missing");
	err = get_sig(root, "signature", sig);
	if (err)
		return fail(detail, err, "PCS response: signature missing or not 64 bytes of hex");
	/* The signature covers these exact bytes as served; never re-serialise. */
	*signed_out = v->raw;
	*signed_len = v->raw_len;
	return ERR_OK;
}

err_t dcap_pcs_tcb_info_parse(const char *body, size_t len, struct arena *a, const char **signed_out,
			      size_t *signed_len, uint8_t sig[64], const char **detail)
{
	return pcs_parse(body, len, a, "tcbInfo", signed_out, signed_len, sig, detail);
}

err_t dcap_pcs_qe_identity_parse(const char *body, size_t len, struct arena *a, const char **signed_out,
				 size_t *signed_len, uint8_t sig[64], const char **detail)
{
	return pcs_parse(body, len, a, "enclaveIdentity", signed_out, signed_len, sig, detail);
}
