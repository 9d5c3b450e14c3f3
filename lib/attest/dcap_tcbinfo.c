/* SPDX-License-Identifier: Apache-2.0 */
/* TCB info JSON (v3 SGX/TDX with TDX module identities, v2 SGX), the strict RFC 3339 parser, and JSON field helpers. */
#include "dcap.h"

#include <string.h>
#include <time.h>

#include "enc.h"
#include "json.h"

/* ---------------------------------------------------------------------------------------------- */
/* Time                                                                                           */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

err_t dcap_time_parse(const char *s, size_t len, uint64_t *out)
{
	unsigned y, mo, d, h, mi, se;
	int64_t days;

	/* Intel writes exactly "2025-06-19T10:16:03Z"; anything else is not a timestamp we were promised. */
	if (!s || len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return ERR_PROTO_MALFORMED;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
	    digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return ERR_PROTO_MALFORMED;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
		return ERR_PROTO_MALFORMED;
	days = days_from_civil(y, mo, d);
	*out = (uint64_t)days * 86400u + h * 3600u + mi * 60u + se;
	return ERR_OK;
}

int dcap_asn1_time_unix(const ASN1_TIME *t, uint64_t *out)
{
	struct tm tm;
	int64_t days;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	days = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
	*out = (uint64_t)days * 86400u + (uint64_t)tm.tm_hour * 3600u + (uint64_t)tm.tm_min * 60u +
	       (uint64_t)tm.tm_sec;
	return 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON field helpers shared with the QE identity parser (declared at the end of dcap.h).         */

err_t dcap_json_hex(const struct json_value *obj, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	size_t len, got = 0;

	if (json_get_str(obj, key, &s, &len) || len != 2 * n)
		return ERR_PROTO_MALFORMED;
	/* No "0x": Intel never writes it, so it would be a sign of something else. */
	if (hex_decode(out, n, &got, s, len, 0) || got != n)
		return ERR_PROTO_MALFORMED;
	return ERR_OK;
}

err_t dcap_json_uint(const struct json_value *obj, const char *key, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (json_get_u64(obj, key, &v) || v > max)
		return ERR_PROTO_MALFORMED;
	*out = v;
	return ERR_OK;
}

err_t dcap_json_time(const struct json_value *obj, const char *key, uint64_t *out)
{
	const char *s;
	size_t len;

	if (json_get_str(obj, key, &s, &len))
		return ERR_PROTO_MALFORMED;
	return dcap_time_parse(s, len, out);
}

err_t dcap_json_status(const struct json_value *obj, uint32_t allowed, enum tcb_status *out)
{
	const char *s;
	size_t len;
	int st;

	if (json_get_str(obj, "tcbStatus", &s, &len))
		return ERR_PROTO_MALFORMED;
	st = tcb_status_parse(s, len);
	/* A status we do not know, or one that cannot appear here, is never guessed at. */
	if (st < 0 || !(allowed & (1u << st)))
		return ERR_ATTEST_UNKNOWN_VALUE;
	*out = (enum tcb_status)st;
	return ERR_OK;
}

err_t dcap_json_advisories(const struct json_value *obj, struct arena *a, struct dcap_advisories *out)
{
	const struct json_value *arr = json_get(obj, "advisoryIDs");

	out->ids = NULL;
	out->n = 0;
	if (!arr)
		return ERR_OK;
	if (arr->type != JSON_ARRAY || arr->u.arr.n > DCAP_MAX_ADVISORIES_PER_LEVEL)
		return ERR_PROTO_MALFORMED;
	if (arr->u.arr.n == 0)
		return ERR_OK;
	out->ids = arena_alloc(a, arr->u.arr.n * sizeof(*out->ids));
	if (!out->ids)
		return arena_err(a);
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct json_value *s = &arr->u.arr.items[i];

		/* Advisory IDs end up in verdicts and logs: printable ASCII, short, no NULs. */
		if (s->type != JSON_STRING || s->u.str.len == 0 || s->u.str.len > 64)
			return ERR_PROTO_MALFORMED;
		for (size_t k = 0; k < s->u.str.len; k++)
			if (s->u.str.s[k] < 0x21 || s->u.str.s[k] > 0x7e)
				return ERR_PROTO_MALFORMED;
		out->ids[i] = s->u.str.s;
	}
	out->n = arr->u.arr.n;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* TCB info                                                                                       */

#define TCB_LEVEL_STATUSES                                                                              \
	((1u << TCB_UP_TO_DATE) | (1u << TCB_SW_HARDENING_NEEDED) | (1u << TCB_CONFIGURATION_NEEDED) |  \
	 (1u << TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED) | (1u << TCB_OUT_OF_DATE) |                   \
	 (1u << TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) | (1u << TCB_REVOKED))

struct tcb_ctx {
	struct arena *a;
	const char **detail;
};

static err_t bad(struct tcb_ctx *c, err_t e, const char *why)
{
	if (c->detail)
		*c->detail = why;
	/* Helpers speak in generic terms; the caller's check is "TCB info format" unless the value is unknown. */
	if (e == ERR_ATTEST_UNKNOWN_VALUE || e == ERR_BUDGET || e == ERR_NOMEM)
		return e;
	return ERR_ATTEST_TCB_INFO_FORMAT;
}

/* 16 components {"svn": n, ...} (category/type are descriptive and ignored). */
static err_t parse_components(const struct json_value *arr, uint8_t out[16])
{
	uint64_t v;

	if (!arr || arr->type != JSON_ARRAY || arr->u.arr.n != 16)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < 16; i++) {
		const struct json_value *c = &arr->u.arr.items[i];

		if (c->type != JSON_OBJECT || dcap_json_uint(c, "svn", 255, &v))
			return ERR_PROTO_MALFORMED;
		out[i] = (uint8_t)v;
	}
	return ERR_OK;
}

static err_t parse_level_tcb(struct tcb_ctx *c, const struct dcap_tcb_info *ti, const struct json_value *tcb,
			     struct dcap_tcb_level *l)
{
	uint64_t v;

	if (!tcb || tcb->type != JSON_OBJECT)
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: tcbLevels[].tcb missing");
	if (ti->version == 2) {
		/* v2: flat sgxtcbcomp01svn .. sgxtcbcomp16svn. */
		for (int i = 0; i < 16; i++) {
			char key[20] = "sgxtcbcompNNsvn";

			key[10] = (char)('0' + (i + 1) / 10);
			key[11] = (char)('0' + (i + 1) % 10);
			if (dcap_json_uint(tcb, key, 255, &v))
				return bad(c, ERR_PROTO_MALFORMED, "TCB info: v2 sgxtcbcompNNsvn missing or out of range");
			l->sgx[i] = (uint8_t)v;
		}
	} else {
		if (parse_components(json_get(tcb, "sgxtcbcomponents"), l->sgx))
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: sgxtcbcomponents is not 16 SVNs");
		if (ti->id == DCAP_TCB_ID_TDX && parse_components(json_get(tcb, "tdxtcbcomponents"), l->tdx))
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: tdxtcbcomponents is not 16 SVNs");
	}
	if (dcap_json_uint(tcb, "pcesvn", 65535, &v))
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: pcesvn missing or out of range");
	l->pcesvn = (uint16_t)v;
	return ERR_OK;
}

/* Intel's order: SGX components, then PCESVN, then TDX components, compared lexicographically. */
static int level_cmp(const struct dcap_tcb_level *x, const struct dcap_tcb_level *y)
{
	int d = memcmp(x->sgx, y->sgx, 16);

	if (d)
		return d;
	if (x->pcesvn != y->pcesvn)
		return x->pcesvn < y->pcesvn ? -1 : 1;
	return memcmp(x->tdx, y->tdx, 16);
}

static err_t parse_levels(struct tcb_ctx *c, struct dcap_tcb_info *ti, const struct json_value *arr)
{
	err_t err;

	if (!arr || arr->type != JSON_ARRAY || arr->u.arr.n == 0 || arr->u.arr.n > DCAP_MAX_TCB_LEVELS)
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: tcbLevels missing, empty or too long");
	ti->levels = arena_zalloc(c->a, arr->u.arr.n * sizeof(*ti->levels));
	if (!ti->levels)
		return arena_err(c->a);
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct json_value *lv = &arr->u.arr.items[i];
		struct dcap_tcb_level *l = &ti->levels[i];

		if (lv->type != JSON_OBJECT)
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: tcbLevels[] is not an object");
		err = parse_level_tcb(c, ti, json_get(lv, "tcb"), l);
		if (err)
			return err;
		if (dcap_json_time(lv, "tcbDate", &l->tcb_date))
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: tcbDate missing or malformed");
		err = dcap_json_status(lv, TCB_LEVEL_STATUSES, &l->status);
		if (err)
			return bad(c, err, "TCB info: tcbStatus missing or unknown");
		err = dcap_json_advisories(lv, c->a, &l->adv);
		if (err)
			return bad(c, err, "TCB info: advisoryIDs malformed");
		ti->n_levels = i + 1;
	}
	/* Stable insertion sort, highest first; equal levels keep document order. n is capped above. */
	for (size_t i = 1; i < ti->n_levels; i++) {
		struct dcap_tcb_level tmp = ti->levels[i];
		size_t j = i;

		while (j > 0 && level_cmp(&ti->levels[j - 1], &tmp) < 0) {
			ti->levels[j] = ti->levels[j - 1];
			j--;
		}
		ti->levels[j] = tmp;
	}
	return ERR_OK;
}

/* mrsigner / attributes / attributesMask, shared by tdxModule and tdxModuleIdentities[]. */
static err_t parse_module_common(struct tcb_ctx *c, const struct json_value *o, struct dcap_tdx_module *m)
{
	if (dcap_json_hex(o, "mrsigner", m->mrsigner, 48) || dcap_json_hex(o, "attributes", m->attributes, 8) ||
	    dcap_json_hex(o, "attributesMask", m->attributes_mask, 8))
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: TDX module mrsigner/attributes/attributesMask malformed");
	return ERR_OK;
}

#define MODULE_STATUSES ((1u << TCB_UP_TO_DATE) | (1u << TCB_OUT_OF_DATE) | (1u << TCB_REVOKED))

static err_t parse_module_identity(struct tcb_ctx *c, const struct json_value *o, struct dcap_tdx_module *m)
{
	const struct json_value *arr;
	const char *id;
	size_t idlen;
	err_t err;

	if (o->type != JSON_OBJECT)
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: tdxModuleIdentities[] is not an object");
	if (json_get_str(o, "id", &id, &idlen) || idlen == 0 || idlen > 32 || strlen(id) != idlen)
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: tdxModuleIdentities[].id malformed");
	m->id = id;
	err = parse_module_common(c, o, m);
	if (err)
		return err;
	arr = json_get(o, "tcbLevels");
	if (!arr || arr->type != JSON_ARRAY || arr->u.arr.n == 0 || arr->u.arr.n > DCAP_MAX_TCB_LEVELS)
		return bad(c, ERR_PROTO_MALFORMED, "TCB info: TDX module tcbLevels missing or empty");
	m->levels = arena_zalloc(c->a, arr->u.arr.n * sizeof(*m->levels));
	if (!m->levels)
		return arena_err(c->a);
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct json_value *lv = &arr->u.arr.items[i];
		struct dcap_module_level *l = &m->levels[i];
		const struct json_value *tcb = json_get(lv, "tcb");
		uint64_t v;

		if (lv->type != JSON_OBJECT || !tcb || tcb->type != JSON_OBJECT || dcap_json_uint(tcb, "isvsvn", 255, &v))
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: TDX module tcb.isvsvn missing or out of range");
		l->isvsvn = (uint8_t)v;
		if (dcap_json_time(lv, "tcbDate", &l->tcb_date))
			return bad(c, ERR_PROTO_MALFORMED, "TCB info: TDX module tcbDate malformed");
		err = dcap_json_status(lv, MODULE_STATUSES, &l->status);
		if (err)
			return bad(c, err, "TCB info: TDX module tcbStatus missing or unknown");
		err = dcap_json_advisories(lv, c->a, &l->adv);
		if (err)
			return bad(c, err, "TCB info: TDX module advisoryIDs malformed");
		m->n_levels = i + 1;
	}
	/* Highest isvsvn first, stable: "first level with isvsvn <= the module's" is then the right one. */
	for (size_t i = 1; i < m->n_levels; i++) {
		struct dcap_module_level tmp = m->levels[i];
		size_t j = i;

		while (j > 0 && m->levels[j - 1].isvsvn < tmp.isvsvn) {
			m->levels[j] = m->levels[j - 1];
			j--;
		}
		m->levels[j] = tmp;
	}
	return ERR_OK;
}

err_t dcap_tcb_info_parse(const char *json, size_t len, struct arena *a, struct dcap_tcb_info *ti,
			  const char **detail)
{
	struct tcb_ctx c = { .a = a, .detail = detail };
	struct json_value *root = NULL;
	const struct json_value *v;
	const char *s;
	size_t slen;
	uint64_t u;
	err_t err;

	memset(ti, 0, sizeof(*ti));
	err = json_parse(json, len, NULL, a, &root, NULL);
	if (err)
		return bad(&c, err, "TCB info: not valid JSON");
	if (root->type != JSON_OBJECT)
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: not an object");

	if (dcap_json_uint(root, "version", 255, &u))
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: version missing");
	if (u != 2 && u != 3)
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: version is neither 2 nor 3");
	ti->version = (unsigned)u;

	v = json_get(root, "id");
	if (ti->version == 3) {
		if (json_get_str(root, "id", &s, &slen))
			return bad(&c, ERR_PROTO_MALFORMED, "TCB info: v3 without id");
		if (slen == 3 && memcmp(s, "SGX", 3) == 0)
			ti->id = DCAP_TCB_ID_SGX;
		else if (slen == 3 && memcmp(s, "TDX", 3) == 0)
			ti->id = DCAP_TCB_ID_TDX;
		else
			return bad(&c, ERR_ATTEST_UNKNOWN_VALUE, "TCB info: unknown id");
	} else if (v) {
		/* v2 predates the id field and TDX; an id here means the document is not what it claims. */
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: v2 with an id");
	}

	if (dcap_json_time(root, "issueDate", &ti->issue_date) || dcap_json_time(root, "nextUpdate", &ti->next_update))
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: issueDate/nextUpdate missing or malformed");
	if (ti->next_update < ti->issue_date)
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: nextUpdate before issueDate");
	if (dcap_json_hex(root, "fmspc", ti->fmspc, 6) || dcap_json_hex(root, "pceId", ti->pceid, 2))
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: fmspc/pceId missing or malformed");
	if (dcap_json_uint(root, "tcbType", UINT32_MAX, &u))
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: tcbType missing");
	/* Type 0 (components = CPUSVN bytes) is the only mapping defined; another would change the matching. */
	if (u != 0)
		return bad(&c, ERR_ATTEST_UNKNOWN_VALUE, "TCB info: unknown tcbType");
	ti->tcb_type = (uint32_t)u;
	if (dcap_json_uint(root, "tcbEvaluationDataNumber", UINT32_MAX, &u))
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: tcbEvaluationDataNumber missing");
	ti->eval_number = (uint32_t)u;

	if (ti->id == DCAP_TCB_ID_TDX) {
		v = json_get(root, "tdxModule");
		if (!v || v->type != JSON_OBJECT)
			return bad(&c, ERR_PROTO_MALFORMED, "TCB info: TDX without tdxModule");
		ti->tdx_module.id = "";
		err = parse_module_common(&c, v, &ti->tdx_module);
		if (err)
			return err;
		ti->has_tdx_module = 1;
		v = json_get(root, "tdxModuleIdentities");
		if (v) {
			if (v->type != JSON_ARRAY || v->u.arr.n > DCAP_MAX_MODULE_IDENTITIES)
				return bad(&c, ERR_PROTO_MALFORMED, "TCB info: tdxModuleIdentities malformed");
			if (v->u.arr.n) {
				ti->module_ids = arena_zalloc(a, v->u.arr.n * sizeof(*ti->module_ids));
				if (!ti->module_ids)
					return arena_err(a);
			}
			for (size_t i = 0; i < v->u.arr.n; i++) {
				err = parse_module_identity(&c, &v->u.arr.items[i], &ti->module_ids[i]);
				if (err)
					return err;
				ti->n_module_ids = i + 1;
			}
		}
	} else if (json_get(root, "tdxModule") || json_get(root, "tdxModuleIdentities")) {
		return bad(&c, ERR_PROTO_MALFORMED, "TCB info: TDX module fields in SGX TCB info");
	}

	return parse_levels(&c, ti, json_get(root, "tcbLevels"));
}
