/* SPDX-License-Identifier: Apache-2.0 */
/* Splitting dstack's GetQuote response JSON into its parts. */
#include "getquote.h"

#include <string.h>

#include "enc.h"
#include "json.h"

#define SET_DETAIL(d, s)              \
	do {                          \
		if (d)                \
			*(d) = (s);   \
	} while (0)

/* Optional hex string member decoded into the arena (a leading 0x is tolerated). */
static err_t hex_member(const struct json_value *root, const char *key, size_t max, struct arena *a,
			const uint8_t **out, size_t *out_len, const char **detail)
{
	const struct json_value *v = json_get(root, key);
	uint8_t *buf;
	size_t n = 0;

	*out = NULL;
	*out_len = 0;
	if (!v)
		return ERR_OK;
	if (v->type != JSON_STRING) {
		SET_DETAIL(detail, "GetQuote member is not a hex string");
		return ERR_PROTO_FIELD_TYPE;
	}
	if (v->u.str.len / 2 > max + 1) {
		SET_DETAIL(detail, "GetQuote member too large");
		return ERR_PROTO_TOO_LARGE;
	}
	buf = arena_alloc(a, v->u.str.len / 2 + 1);
	if (!buf)
		return arena_err(a);
	switch (hex_decode(buf, MIN(max, v->u.str.len / 2), &n, v->u.str.s, v->u.str.len, 1)) {
	case ERR_OK:
		break;
	case ERR_PROTO_TOO_LARGE:
		SET_DETAIL(detail, "GetQuote member too large");
		return ERR_PROTO_TOO_LARGE;
	default:
		SET_DETAIL(detail, "GetQuote member is not valid hex");
		return ERR_PROTO_ENCODING;
	}
	*out = buf;
	*out_len = n;
	return ERR_OK;
}

/* A member holding JSON either as text (a string) or inline (any other value): its text. */
static err_t json_text_member(const struct json_value *root, const char *key, struct arena *a, const char **out,
			      size_t *out_len, const char **detail)
{
	const struct json_value *v = json_get(root, key);

	*out = NULL;
	*out_len = 0;
	if (!v || v->type == JSON_NULL)
		return ERR_OK;
	if (v->type == JSON_STRING) {
		*out = v->u.str.s;
		*out_len = v->u.str.len;
		return ERR_OK;
	}
	if (v->type != JSON_ARRAY && v->type != JSON_OBJECT) {
		SET_DETAIL(detail, "GetQuote event_log / vm_config is neither JSON text nor JSON");
		return ERR_PROTO_FIELD_TYPE;
	}
	*out = arena_memdup(a, v->raw, v->raw_len);
	if (!*out)
		return arena_err(a);
	*out_len = v->raw_len;
	return ERR_OK;
}

static err_t str_member(const struct json_value *root, const char *key, const char **out, const char **detail)
{
	size_t n = 0;
	err_t rc = json_get_str(root, key, out, &n);

	if (rc == ERR_NOT_FOUND) {
		*out = NULL;
		return ERR_OK;
	}
	if (rc != ERR_OK)
		SET_DETAIL(detail, "GetQuote member is not a string");
	return rc;
}

/* vm_config.os_image_hash, when vm_config is a JSON object with 32 bytes of hex there; otherwise nothing. */
static err_t vm_os_image_hash(struct attest_getquote *g, struct arena *a)
{
	struct json_limits lim = { .max_depth = 16, .max_len = ATTEST_GETQUOTE_MAX_TEXT };
	struct json_value *vm = NULL;
	const char *s = NULL;
	size_t n = 0, got = 0;
	err_t rc;

	if (!g->vm_config)
		return ERR_OK;
	rc = json_parse(g->vm_config, g->vm_config_len, &lim, a, &vm, NULL);
	if (rc == ERR_BUDGET || rc == ERR_NOMEM)
		return rc;
	if (rc != ERR_OK || json_get_str(vm, "os_image_hash", &s, &n) != ERR_OK)
		return ERR_OK;
	if (n == 64 && hex_decode(g->vm_os_image_hash, 32, &got, s, n, 0) == ERR_OK && got == 32)
		g->has_vm_os_image_hash = 1;
	else
		memset(g->vm_os_image_hash, 0, 32);
	return ERR_OK;
}

err_t attest_getquote_parse(const char *text, size_t len, struct arena *a, struct attest_getquote *out,
			    const char **detail)
{
	struct json_limits lim = { .max_depth = 16, .max_len = ATTEST_GETQUOTE_MAX_TEXT };
	struct json_value *root = NULL;
	const uint8_t *rd = NULL;
	size_t rd_len = 0;
	err_t rc;

	memset(out, 0, sizeof(*out));
	rc = json_parse(text, len, &lim, a, &root, NULL);
	if (rc != ERR_OK) {
		SET_DETAIL(detail, "GetQuote response is not valid JSON");
		return rc == ERR_PROTO_ENCODING || rc == ERR_PROTO_DEPTH ? ERR_PROTO_JSON : rc;
	}
	if (root->type != JSON_OBJECT) {
		SET_DETAIL(detail, "GetQuote response is not a JSON object");
		return ERR_PROTO_MALFORMED;
	}
	if ((rc = hex_member(root, "quote", ATTEST_GETQUOTE_MAX_QUOTE, a, &out->quote, &out->quote_len, detail)) ||
	    (rc = hex_member(root, "attestation", ATTEST_GETQUOTE_MAX_QUOTE, a, &out->attestation,
			     &out->attestation_len, detail)) ||
	    (rc = hex_member(root, "report_data", 64, a, &rd, &rd_len, detail)) ||
	    (rc = json_text_member(root, "event_log", a, &out->event_log, &out->event_log_len, detail)) ||
	    (rc = json_text_member(root, "vm_config", a, &out->vm_config, &out->vm_config_len, detail)) ||
	    (rc = str_member(root, "hash_algorithm", &out->hash_algorithm, detail)) ||
	    (rc = str_member(root, "prefix", &out->prefix, detail)))
		return rc;
	if (!out->quote_len && !out->attestation_len) {
		SET_DETAIL(detail, "GetQuote response has neither quote nor attestation");
		return ERR_PROTO_MALFORMED;
	}
	if (rd_len)
		memcpy(out->report_data, rd, rd_len);
	out->report_data_len = rd_len;
	return vm_os_image_hash(out, a);
}
