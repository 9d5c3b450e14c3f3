/* SPDX-License-Identifier: Apache-2.0 */
/* DCAP quote parser (v3, v4, v5; SGX, TD 1.0 and TD 1.5 bodies; auth data v3 and v4) over the bounds-checked reader. */
#include "dcap.h"

#include <string.h>

#include "buf.h"

/* Intel's QE vendor ID 939A7233-F79C-4CA9-940A-0DB3957F0607. */
static const uint8_t intel_qe_vendor[16] = {
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
};

static err_t fail(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	return e;
}

/*
 * QE report, its signature, QE auth data and the innermost certification
 * data: the common tail of auth data v3 and of the v4 "QE report
 * certification data" (type 6). `r` must be consumed exactly.
 */
static err_t parse_qe_part(struct buf_reader *r, struct dcap_quote *q, const char **detail)
{
	uint16_t type;
	uint32_t size;

	if (buf_get_view(r, DCAP_SGX_REPORT_LEN, &q->qe_report) || buf_get_view(r, 64, &q->qe_report_sig) ||
	    buf_get_u16le(r, &q->qe_auth_len) || buf_get_view(r, q->qe_auth_len, &q->qe_auth))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: QE report or QE auth data truncated");
	if (buf_get_u16le(r, &type) || buf_get_u32le(r, &size))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: certification data header truncated");
	/* Types 1..5 are the only ones that may sit here (Intel verifyCertificationData). */
	if (type < DCAP_CERT_PPID_PLAIN || type > DCAP_CERT_PCK_CHAIN)
		return fail(detail, ERR_ATTEST_CERT_DATA, "quote: certification data type not 1..5");
	if (buf_get_view(r, size, &q->cert_data))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: certification data longer than its container");
	q->cert_type = type;
	q->cert_data_len = size;
	if (buf_expect_end(r))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: bytes after the certification data");
	return ERR_OK;
}

static err_t parse_body_kind(struct buf_reader *r, struct dcap_quote *q, const char **detail)
{
	size_t want;

	if (q->version == 5) {
		uint16_t type;
		uint32_t size;

		if (buf_get_u16le(r, &type) || buf_get_u32le(r, &size))
			return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: v5 body descriptor truncated");
		switch (type) {
		case DCAP_BODY_SGX:
			want = DCAP_SGX_REPORT_LEN;
			break;
		case DCAP_BODY_TD10:
			want = DCAP_TD10_REPORT_LEN;
			break;
		case DCAP_BODY_TD15:
			want = DCAP_TD15_REPORT_LEN;
			break;
		default:
			return fail(detail, ERR_ATTEST_QUOTE_VERSION, "quote: unknown v5 body type");
		}
		/* dcap-qvl ignores the size; Intel rejects a mismatch, and so do we. */
		if (size != want)
			return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: v5 body size does not match its type");
		if ((type == DCAP_BODY_SGX) != (q->tee_type == DCAP_TEE_SGX))
			return fail(detail, ERR_ATTEST_TEE_TYPE, "quote: v5 body type does not match the TEE type");
		q->body_type = (enum dcap_body_type)type;
	} else if (q->tee_type == DCAP_TEE_SGX) {
		q->body_type = DCAP_BODY_SGX;
		want = DCAP_SGX_REPORT_LEN;
	} else {
		q->body_type = DCAP_BODY_TD10;
		want = DCAP_TD10_REPORT_LEN;
	}
	if (buf_get_view(r, want, &q->body))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: report body truncated");
	q->body_len = want;
	return ERR_OK;
}

err_t dcap_quote_parse(const uint8_t *p, size_t n, struct dcap_quote *q, const char **detail)
{
	struct buf_reader r, sig;
	err_t err;

	memset(q, 0, sizeof(*q));
	if (!p || n > DCAP_QUOTE_MAX)
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: larger than the hard cap");
	buf_reader_init(&r, p, n);
	if (buf_get_u16le(&r, &q->version) || buf_get_u16le(&r, &q->key_type) || buf_get_u32le(&r, &q->tee_type) ||
	    buf_get_u16le(&r, &q->qe_svn) || buf_get_u16le(&r, &q->pce_svn) || buf_get_view(&r, 16, &q->qe_vendor_id) ||
	    buf_get_view(&r, 20, &q->user_data))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: header truncated");

	if (q->version < 3 || q->version > 5)
		return fail(detail, ERR_ATTEST_QUOTE_VERSION, "quote: version not 3, 4 or 5");
	if (q->key_type != DCAP_KEY_TYPE_P256)
		return fail(detail, ERR_ATTEST_KEY_TYPE, "quote: attestation key type is not ECDSA P-256");
	if (q->tee_type != DCAP_TEE_SGX && q->tee_type != DCAP_TEE_TDX)
		return fail(detail, ERR_ATTEST_TEE_TYPE, "quote: unknown TEE type");
	/* v3 predates TDX: the field is reserved there and must be 0 (SGX). */
	if (q->version == 3 && q->tee_type != DCAP_TEE_SGX)
		return fail(detail, ERR_ATTEST_TEE_TYPE, "quote: TEE type is not SGX in a v3 quote");
	if (memcmp(q->qe_vendor_id, intel_qe_vendor, sizeof(intel_qe_vendor)) != 0)
		return fail(detail, ERR_ATTEST_QE_VENDOR, "quote: QE vendor ID is not Intel's");

	err = parse_body_kind(&r, q, detail);
	if (err)
		return err;
	q->signed_len = r.pos;

	if (buf_get_u32le(&r, &q->sig_data_len))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: signature data length truncated");
	if (buf_get_sub(&r, q->sig_data_len, &sig))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: signature data longer than the quote");
	q->sig_data = sig.p;
	/* Intel QVL, dcap-qvl and go-tdx-guest all ignore what follows the declared signature data. */
	q->trailing = buf_remaining(&r);

	if (buf_get_view(&sig, 64, &q->signature) || buf_get_view(&sig, 64, &q->att_key))
		return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: signature or attestation key truncated");
	q->platform_data = q->att_key;
	q->platform_data_len = q->sig_data_len - 64;

	if (q->version == 3)
		return parse_qe_part(&sig, q, detail);

	{
		struct buf_reader qe;
		uint32_t size;

		if (buf_get_u16le(&sig, &q->outer_cert_type) || buf_get_u32le(&sig, &size))
			return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: certification data header truncated");
		/* Intel requires the QE report wrapper (type 6) in v4/v5; dcap-qvl does not check it. */
		if (q->outer_cert_type != DCAP_CERT_QE_REPORT)
			return fail(detail, ERR_ATTEST_CERT_DATA, "quote: v4/v5 certification data type is not 6");
		if (buf_get_sub(&sig, size, &qe))
			return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: QE report certification data truncated");
		err = parse_qe_part(&qe, q, detail);
		if (err)
			return err;
		if (buf_expect_end(&sig))
			return fail(detail, ERR_ATTEST_QUOTE_FORMAT, "quote: bytes after the certification data");
	}
	return ERR_OK;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void dcap_sgx_report_decode(const uint8_t b[DCAP_SGX_REPORT_LEN], struct attest_sgx_report *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->cpusvn, b + 0x000, 16);
	o->miscselect = le32(b + 0x010);
	memcpy(o->attributes, b + 0x030, 16);
	memcpy(o->mrenclave, b + 0x040, 32);
	memcpy(o->mrsigner, b + 0x080, 32);
	o->isvprodid = le16(b + 0x100);
	o->isvsvn = le16(b + 0x102);
	memcpy(o->report_data, b + 0x140, 64);
}

void dcap_td_report_decode(const uint8_t *b, size_t len, struct attest_td_report *o)
{
	memset(o, 0, sizeof(*o));
	if (len < DCAP_TD10_REPORT_LEN)
		return;
	memcpy(o->tee_tcb_svn, b + 0x000, 16);
	memcpy(o->mrseam, b + 0x010, 48);
	memcpy(o->mrsignerseam, b + 0x040, 48);
	memcpy(o->seam_attributes, b + 0x070, 8);
	memcpy(o->td_attributes, b + 0x078, 8);
	memcpy(o->xfam, b + 0x080, 8);
	memcpy(o->mrtd, b + 0x088, 48);
	memcpy(o->mrconfigid, b + 0x0b8, 48);
	memcpy(o->mrowner, b + 0x0e8, 48);
	memcpy(o->mrownerconfig, b + 0x118, 48);
	for (int i = 0; i < 4; i++)
		memcpy(o->rtmr[i], b + 0x148 + 48 * i, 48);
	memcpy(o->report_data, b + 0x208, 64);
	if (len >= DCAP_TD15_REPORT_LEN) {
		memcpy(o->tee_tcb_svn2, b + 0x248, 16);
		memcpy(o->mrservicetd, b + 0x258, 48);
	}
}
