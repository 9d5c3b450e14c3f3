/* SPDX-License-Identifier: Apache-2.0 */
/* Signed TCB Info (TDX v3) and QE Identity (TD_QE v2) for the dev PKI, as dcap-qvl collateral JSON and as PCS responses. */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define SIM_JSON_MAX (4u << 20)
#define DAY 86400ull

/* Intel's TD QE measurement values (TD_QE identity in Intel's collateral); the dev QE reuses them. */
const uint8_t sim_tdqe_mrsigner[32] = {
	0xDC, 0x9E, 0x2A, 0x7C, 0x6F, 0x94, 0x8F, 0x17, 0x47, 0x4E, 0x34, 0xA7, 0xFC, 0x43, 0xED, 0x03,
	0x0F, 0x7C, 0x15, 0x63, 0xF1, 0xBA, 0xBD, 0xDF, 0x63, 0x40, 0xC8, 0x2E, 0x0E, 0x54, 0xA8, 0xC5,
};
const uint8_t sim_tdqe_mrenclave[32] = {
	0xe5, 0xa3, 0xa7, 0xb5, 0xd8, 0x30, 0xc2, 0x95, 0x3b, 0x98, 0x53, 0x4c, 0x6c, 0x59, 0xa3, 0xa3,
	0x4f, 0xdc, 0x34, 0xe9, 0x33, 0xf7, 0xf5, 0x89, 0x8f, 0x0a, 0x85, 0xcf, 0x08, 0x84, 0x6b, 0xca,
};
const uint8_t sim_tdqe_attributes[16] = { 0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0 };
const uint8_t sim_tdqe_id_attributes[16] = { 0x11 };
const uint8_t sim_tdqe_id_attributes_mask[16] = { 0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

const char *sim_tcb_status_name(enum tcb_status s)
{
	switch (s) {
	case TCB_UP_TO_DATE:
		return "UpToDate";
	case TCB_SW_HARDENING_NEEDED:
		return "SWHardeningNeeded";
	case TCB_CONFIGURATION_NEEDED:
		return "ConfigurationNeeded";
	case TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
		return "ConfigurationAndSWHardeningNeeded";
	case TCB_OUT_OF_DATE:
		return "OutOfDate";
	case TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
		return "OutOfDateConfigurationNeeded";
	case TCB_REVOKED:
		return "Revoked";
	case TCB_TD_RELAUNCH_ADVISED:
	case TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED:
	case TCB_STATUS_COUNT:
	default:
		return NULL; /* verdict-only statuses: never in TCB info */
	}
}

void sim_put_json_string(struct buf_writer *w, const char *s, size_t n)
{
	buf_put_u8(w, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf_put_u8(w, '\\');
			buf_put_u8(w, c);
		} else if (c == '\n') {
			buf_put_str(w, "\\n");
		} else if (c < 0x20) {
			buf_printf(w, "\\u%04x", c);
		} else {
			buf_put_u8(w, c);
		}
	}
	buf_put_u8(w, '"');
}

void sim_tcb_params_default(struct sim_tcb_params *t, uint64_t now)
{
	memset(t, 0, sizeof(*t));
	t->tcb_issue_date = now - DAY;
	t->tcb_next_update = now + 30 * DAY;
	t->tcb_eval_number = 17;
	t->platform_status = TCB_UP_TO_DATE;
	t->module_status = TCB_UP_TO_DATE;
	t->qe_status = TCB_UP_TO_DATE;
}

static void put_components(struct buf_writer *w, const char *key, const uint8_t svn[16])
{
	buf_printf(w, "\"%s\":[", key);
	for (int i = 0; i < 16; i++)
		buf_printf(w, "%s{\"svn\":%u}", i ? "," : "", svn[i]);
	buf_put_u8(w, ']');
}

static void put_advisories(struct buf_writer *w, const char *const *ids, size_t n)
{
	if (!n)
		return;
	buf_put_str(w, ",\"advisoryIDs\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_put_u8(w, ',');
		sim_put_json_string(w, ids[i], strlen(ids[i]));
	}
	buf_put_u8(w, ']');
}

static void put_platform_level(struct buf_writer *w, const uint8_t sgx[16], unsigned pcesvn, const uint8_t tdx[16],
			       const char *date, const char *status, const char *const *adv, size_t n_adv)
{
	buf_put_str(w, "{\"tcb\":{");
	put_components(w, "sgxtcbcomponents", sgx);
	buf_printf(w, ",\"pcesvn\":%u,", pcesvn);
	put_components(w, "tdxtcbcomponents", tdx);
	buf_printf(w, "},\"tcbDate\":\"%s\",\"tcbStatus\":\"%s\"", date, status);
	put_advisories(w, adv, n_adv);
	buf_put_u8(w, '}');
}

/* isvsvn-keyed levels (TDX module identity, QE identity): an UpToDate level above `svn` unless `st` is UpToDate. */
static void put_isvsvn_levels(struct buf_writer *w, unsigned svn, const char *st, int uptodate)
{
	buf_put_str(w, "\"tcbLevels\":[");
	if (!uptodate)
		buf_printf(w, "{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2025-05-14T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},",
			   svn + 1);
	buf_printf(w, "{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"}]", svn, st);
}

static const uint8_t zeros48[48];

/* TCB info for TDX, version 3, field order as Intel serves it. */
static err_t tcb_info_json(const struct sim_pki *pki, const struct sim_tcb_params *t, struct buf_writer *w)
{
	const struct sim_params *p = &pki->prm;
	const char *st = sim_tcb_status_name(t->platform_status), *mst = sim_tcb_status_name(t->module_status);
	int upper = t->platform_status != TCB_UP_TO_DATE || t->no_matching_level;

	if (!st || !mst || (upper && p->pcesvn == 0xffff) ||
	    (t->module_status != TCB_UP_TO_DATE && p->tee_tcb_svn[0] == 0xff))
		return ERR_INVALID_ARG;
	buf_put_str(w, "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"");
	sim_put_rfc3339(w, t->tcb_issue_date);
	buf_put_str(w, "\",\"nextUpdate\":\"");
	sim_put_rfc3339(w, t->tcb_next_update);
	buf_put_str(w, "\",\"fmspc\":\"");
	sim_put_hex_upper(w, p->fmspc, 6);
	buf_put_str(w, "\",\"pceId\":\"");
	sim_put_hex_upper(w, p->pceid, 2);
	buf_printf(w, "\",\"tcbType\":0,\"tcbEvaluationDataNumber\":%u,", t->tcb_eval_number);
	/* The module is Intel-signed (MRSIGNERSEAM zero) with no SEAM attributes. */
	buf_put_str(w, "\"tdxModule\":{\"mrsigner\":\"");
	sim_put_hex_upper(w, zeros48, 48);
	buf_put_str(w, "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},");
	buf_printf(w, "\"tdxModuleIdentities\":[{\"id\":\"TDX_%02X\",\"mrsigner\":\"", p->tee_tcb_svn[1]);
	sim_put_hex_upper(w, zeros48, 48);
	buf_put_str(w, "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",");
	put_isvsvn_levels(w, p->tee_tcb_svn[0], mst, t->module_status == TCB_UP_TO_DATE);
	buf_put_str(w, "}],\"tcbLevels\":[");
	if (upper)
		put_platform_level(w, p->cpusvn, p->pcesvn + 1u, p->tee_tcb_svn, "2025-05-14T00:00:00Z", "UpToDate",
				   NULL, 0);
	if (!t->no_matching_level) {
		if (upper)
			buf_put_u8(w, ',');
		put_platform_level(w, p->cpusvn, p->pcesvn, p->tee_tcb_svn, "2024-03-13T00:00:00Z", st,
				   t->advisory_ids, t->n_advisory_ids);
	}
	buf_put_str(w, "]}");
	return buf_writer_status(w);
}

static err_t qe_identity_json(const struct sim_pki *pki, const struct sim_tcb_params *t, struct buf_writer *w)
{
	const char *st = sim_tcb_status_name(t->qe_status);
	uint64_t issue = t->qe_issue_date ? t->qe_issue_date : t->tcb_issue_date;
	uint64_t next = t->qe_next_update ? t->qe_next_update : t->tcb_next_update;

	if (!st || (t->qe_status != TCB_UP_TO_DATE && pki->prm.qe_isvsvn == 0xffff))
		return ERR_INVALID_ARG;
	buf_put_str(w, "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"");
	sim_put_rfc3339(w, issue);
	buf_put_str(w, "\",\"nextUpdate\":\"");
	sim_put_rfc3339(w, next);
	buf_printf(w, "\",\"tcbEvaluationDataNumber\":%u,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
		      "\"attributes\":\"", t->tcb_eval_number);
	sim_put_hex_upper(w, sim_tdqe_id_attributes, 16);
	buf_put_str(w, "\",\"attributesMask\":\"");
	sim_put_hex_upper(w, sim_tdqe_id_attributes_mask, 16);
	buf_put_str(w, "\",\"mrsigner\":\"");
	sim_put_hex_upper(w, sim_tdqe_mrsigner, 32);
	buf_printf(w, "\",\"isvprodid\":%u,", SIM_TDQE_ISVPRODID);
	put_isvsvn_levels(w, pki->prm.qe_isvsvn, st, t->qe_status == TCB_UP_TO_DATE);
	buf_put_u8(w, '}');
	return buf_writer_status(w);
}

static err_t take_str(struct buf_writer *w, char **out, size_t *len)
{
	size_t n = 0;
	err_t rc;

	if (!buf_cstr(w)) {
		rc = buf_writer_status(w);
		return rc ? rc : ERR_NOMEM;
	}
	*out = (char *)buf_take(w, &n);
	if (len)
		*len = n;
	return *out ? ERR_OK : ERR_NOMEM;
}

static err_t pem_pair(const struct sim_pki *pki, enum sim_cert a, char **out)
{
	struct buf_writer w;
	err_t rc;

	buf_writer_init(&w, SIM_JSON_MAX);
	sim_put_pem_cert(&w, pki->certs[a].p, pki->certs[a].len);
	sim_put_pem_cert(&w, pki->certs[SIM_CERT_ROOT].p, pki->certs[SIM_CERT_ROOT].len);
	rc = take_str(&w, out, NULL);
	buf_writer_free(&w);
	return rc;
}

static err_t dup_blob(const struct sim_blob *b, uint8_t **out, size_t *len)
{
	*out = malloc(b->len);
	if (!*out)
		return ERR_NOMEM;
	memcpy(*out, b->p, b->len);
	*len = b->len;
	return ERR_OK;
}

/* Sign the exact JSON bytes with the TCB signing key; lowercase hex r||s. */
static err_t sign_json(const struct sim_pki *pki, const char *json, size_t len, char hex[129])
{
	struct buf_writer w;
	uint8_t sig[64];
	err_t rc;

	rc = sim_ecdsa_sign(&pki->tcb_signing, json, len, sig);
	if (rc)
		return rc;
	buf_writer_init_fixed(&w, hex, 129);
	sim_put_hex_lower(&w, sig, 64);
	return buf_cstr(&w) ? ERR_OK : ERR_INTERNAL;
}

static err_t response(const char *key, const char *json, size_t len, const char *sig, char **out)
{
	struct buf_writer w;
	err_t rc;

	buf_writer_init(&w, SIM_JSON_MAX);
	buf_printf(&w, "{\"%s\":", key);
	buf_put(&w, json, len);
	buf_printf(&w, ",\"signature\":\"%s\"}", sig);
	rc = take_str(&w, out, NULL);
	buf_writer_free(&w);
	return rc;
}

err_t sim_collateral_build(const struct sim_pki *pki, const struct sim_tcb_params *t, struct sim_collateral *c)
{
	struct buf_writer w;
	err_t rc;

	memset(c, 0, sizeof(*c));
	buf_writer_init(&w, SIM_JSON_MAX);
	if ((rc = tcb_info_json(pki, t, &w)) || (rc = take_str(&w, &c->tcb_info, &c->tcb_info_len)))
		goto out;
	buf_writer_free(&w);
	buf_writer_init(&w, SIM_JSON_MAX);
	if ((rc = qe_identity_json(pki, t, &w)) || (rc = take_str(&w, &c->qe_identity, &c->qe_identity_len)))
		goto out;
	if ((rc = sign_json(pki, c->tcb_info, c->tcb_info_len, c->tcb_info_signature)) ||
	    (rc = sign_json(pki, c->qe_identity, c->qe_identity_len, c->qe_identity_signature)))
		goto out;
	if ((rc = pem_pair(pki, SIM_CERT_TCB_SIGNING, &c->tcb_info_issuer_chain)) ||
	    (rc = pem_pair(pki, SIM_CERT_PCK_CA, &c->pck_crl_issuer_chain)))
		goto out;
	if ((rc = dup_blob(&pki->root_crl, &c->root_ca_crl, &c->root_ca_crl_len)) ||
	    (rc = dup_blob(&pki->pck_crl, &c->pck_crl, &c->pck_crl_len)))
		goto out;
	if ((rc = response("tcbInfo", c->tcb_info, c->tcb_info_len, c->tcb_info_signature, &c->tcb_info_response)) ||
	    (rc = response("enclaveIdentity", c->qe_identity, c->qe_identity_len, c->qe_identity_signature,
			   &c->qe_identity_response)))
		goto out;
out:
	buf_writer_free(&w);
	if (rc)
		sim_collateral_free(c);
	return rc;
}

void sim_collateral_free(struct sim_collateral *c)
{
	if (!c)
		return;
	free(c->tcb_info);
	free(c->qe_identity);
	free(c->tcb_info_issuer_chain);
	free(c->pck_crl_issuer_chain);
	free(c->root_ca_crl);
	free(c->pck_crl);
	free(c->tcb_info_response);
	free(c->qe_identity_response);
	memset(c, 0, sizeof(*c));
}

static void put_member_str(struct buf_writer *w, const char *key, const char *s, size_t n, int first)
{
	buf_printf(w, "%s\"%s\":", first ? "" : ",", key);
	sim_put_json_string(w, s, n);
}

static void put_member_hex(struct buf_writer *w, const char *key, const uint8_t *p, size_t n)
{
	buf_printf(w, ",\"%s\":\"", key);
	sim_put_hex_lower(w, p, n);
	buf_put_u8(w, '"');
}

err_t sim_collateral_json(const struct sim_pki *pki, const struct sim_tcb_params *t, char **out, size_t *len)
{
	struct sim_collateral c;
	struct buf_writer w;
	err_t rc;

	*out = NULL;
	*len = 0;
	rc = sim_collateral_build(pki, t, &c);
	if (rc)
		return rc;
	buf_writer_init(&w, SIM_JSON_MAX);
	/* Member order of dcap-qvl's QuoteCollateralV3 as in the shared test data. */
	buf_put_u8(&w, '{');
	put_member_str(&w, "pck_crl_issuer_chain", c.pck_crl_issuer_chain, strlen(c.pck_crl_issuer_chain), 1);
	put_member_hex(&w, "root_ca_crl", c.root_ca_crl, c.root_ca_crl_len);
	put_member_hex(&w, "pck_crl", c.pck_crl, c.pck_crl_len);
	put_member_str(&w, "tcb_info_issuer_chain", c.tcb_info_issuer_chain, strlen(c.tcb_info_issuer_chain), 0);
	put_member_str(&w, "tcb_info", c.tcb_info, c.tcb_info_len, 0);
	put_member_str(&w, "tcb_info_signature", c.tcb_info_signature, 128, 0);
	put_member_str(&w, "qe_identity_issuer_chain", c.tcb_info_issuer_chain, strlen(c.tcb_info_issuer_chain), 0);
	put_member_str(&w, "qe_identity", c.qe_identity, c.qe_identity_len, 0);
	put_member_str(&w, "qe_identity_signature", c.qe_identity_signature, 128, 0);
	buf_put_u8(&w, '}');
	rc = take_str(&w, out, len);
	buf_writer_free(&w);
	sim_collateral_free(&c);
	return rc;
}
