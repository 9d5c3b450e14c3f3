/* SPDX-License-Identifier: Apache-2.0 */
/* QE identity JSON (enclaveIdentity v2: QE, QVE, TD_QE) into a typed struct with its TCB levels sorted. */
#include "dcap.h"

#include <string.h>

#include "json.h"

#define QE_STATUSES ((1u << TCB_UP_TO_DATE) | (1u << TCB_OUT_OF_DATE) | (1u << TCB_REVOKED))

static err_t bad(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	if (e == ERR_ATTEST_UNKNOWN_VALUE || e == ERR_BUDGET || e == ERR_NOMEM)
		return e;
	return ERR_ATTEST_QE_IDENTITY_FORMAT;
}

/* MISCSELECT is written as the hex of the 32-bit number (big-endian digits), compared with the LE report field. */
static err_t hex_u32(const struct json_value *o, const char *key, uint32_t *out)
{
	uint8_t b[4];

	if (dcap_json_hex(o, key, b, 4))
		return ERR_PROTO_MALFORMED;
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return ERR_OK;
}

err_t dcap_qe_identity_parse(const char *json, size_t len, struct arena *a, struct dcap_qe_identity *q,
			     const char **detail)
{
	struct json_value *root = NULL;
	const struct json_value *arr;
	const char *s;
	size_t slen;
	uint64_t u;
	err_t err;

	memset(q, 0, sizeof(*q));
	err = json_parse(json, len, NULL, a, &root, NULL);
	if (err)
		return bad(detail, err, "QE identity: not valid JSON");
	if (root->type != JSON_OBJECT)
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: not an object");

	if (json_get_str(root, "id", &s, &slen))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: id missing");
	if (slen == 2 && memcmp(s, "QE", 2) == 0)
		q->id = DCAP_QE_ID_QE;
	else if (slen == 3 && memcmp(s, "QVE", 3) == 0)
		q->id = DCAP_QE_ID_QVE;
	else if (slen == 5 && memcmp(s, "TD_QE", 5) == 0)
		q->id = DCAP_QE_ID_TD_QE;
	else
		return bad(detail, ERR_ATTEST_UNKNOWN_VALUE, "QE identity: unknown id");

	/* Version 2 is the only enclave identity format defined; another may change field meanings. */
	if (dcap_json_uint(root, "version", 255, &u))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: version missing");
	if (u != 2)
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: version is not 2");
	q->version = (unsigned)u;

	if (dcap_json_time(root, "issueDate", &q->issue_date) || dcap_json_time(root, "nextUpdate", &q->next_update))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: issueDate/nextUpdate missing or malformed");
	if (q->next_update < q->issue_date)
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: nextUpdate before issueDate");
	if (dcap_json_uint(root, "tcbEvaluationDataNumber", UINT32_MAX, &u))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: tcbEvaluationDataNumber missing");
	q->eval_number = (uint32_t)u;
	if (hex_u32(root, "miscselect", &q->miscselect) || hex_u32(root, "miscselectMask", &q->miscselect_mask) ||
	    dcap_json_hex(root, "attributes", q->attributes, 16) ||
	    dcap_json_hex(root, "attributesMask", q->attributes_mask, 16) ||
	    dcap_json_hex(root, "mrsigner", q->mrsigner, 32))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: miscselect/attributes/mrsigner malformed");
	if (dcap_json_uint(root, "isvprodid", 65535, &u))
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: isvprodid missing or out of range");
	q->isvprodid = (uint16_t)u;

	arr = json_get(root, "tcbLevels");
	if (!arr || arr->type != JSON_ARRAY || arr->u.arr.n == 0 || arr->u.arr.n > DCAP_MAX_TCB_LEVELS)
		return bad(detail, ERR_PROTO_MALFORMED, "QE identity: tcbLevels missing, empty or too long");
	q->levels = arena_zalloc(a, arr->u.arr.n * sizeof(*q->levels));
	if (!q->levels)
		return arena_err(a);
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct json_value *lv = &arr->u.arr.items[i];
		const struct json_value *tcb = json_get(lv, "tcb");
		struct dcap_qe_level *l = &q->levels[i];

		if (lv->type != JSON_OBJECT || !tcb || tcb->type != JSON_OBJECT ||
		    dcap_json_uint(tcb, "isvsvn", 65535, &u))
			return bad(detail, ERR_PROTO_MALFORMED, "QE identity: tcb.isvsvn missing or out of range");
		l->isvsvn = (uint16_t)u;
		if (dcap_json_time(lv, "tcbDate", &l->tcb_date))
			return bad(detail, ERR_PROTO_MALFORMED, "QE identity: tcbDate malformed");
		err = dcap_json_status(lv, QE_STATUSES, &l->status);
		if (err)
			return bad(detail, err, "QE identity: tcbStatus missing or unknown");
		err = dcap_json_advisories(lv, a, &l->adv);
		if (err)
			return bad(detail, err, "QE identity: advisoryIDs malformed");
		q->n_levels = i + 1;
	}
	/* Highest isvsvn first (stable), so the first level the QE reaches is its level. */
	for (size_t i = 1; i < q->n_levels; i++) {
		struct dcap_qe_level tmp = q->levels[i];
		size_t j = i;

		while (j > 0 && q->levels[j - 1].isvsvn < tmp.isvsvn) {
			q->levels[j] = q->levels[j - 1];
			j--;
		}
		q->levels[j] = tmp;
	}
	return ERR_OK;
}
