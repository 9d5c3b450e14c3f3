/* SPDX-License-Identifier: Apache-2.0 */
/* Byte-exact evidence from the dev PKI: TDX quote v4 (TD report 1.0) and SEV-SNP attestation reports. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sim_internal.h"

#define QUOTE_HEADER_LEN 48
#define TD10_BODY_LEN 584
#define QE_REPORT_LEN 384
#define QUOTE_MAX (64u << 10)

static const uint8_t INTEL_QE_VENDOR_ID[16] = {
	0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
};

/* The QE authentication data real QEs emit: the bytes 0..31. */
static void qe_auth_data(uint8_t out[32])
{
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)i;
}

void sim_td_report_default(const struct sim_pki *pki, struct attest_td_report *td)
{
	memset(td, 0, sizeof(*td));
	memcpy(td->tee_tcb_svn, pki->prm.tee_tcb_svn, 16);
	memcpy(td->mrseam, pki->mrseam, 48);
	td->td_attributes[3] = 0x10; /* bit 28 SEPT_VE_DISABLE */
	td->xfam[0] = 0xe7;          /* 0x602e7, as on real TDX hosts */
	td->xfam[1] = 0x02;
	td->xfam[2] = 0x06;
}

static void put_td10_body(struct buf_writer *w, const struct attest_td_report *td)
{
	buf_put(w, td->tee_tcb_svn, 16);
	buf_put(w, td->mrseam, 48);
	buf_put(w, td->mrsignerseam, 48);
	buf_put(w, td->seam_attributes, 8);
	buf_put(w, td->td_attributes, 8);
	buf_put(w, td->xfam, 8);
	buf_put(w, td->mrtd, 48);
	buf_put(w, td->mrconfigid, 48);
	buf_put(w, td->mrowner, 48);
	buf_put(w, td->mrownerconfig, 48);
	for (int i = 0; i < 4; i++)
		buf_put(w, td->rtmr[i], 48);
	buf_put(w, td->report_data, 64);
}

/* The QE's SGX report (attestation.md A.2 layout); REPORTDATA binds the attestation key and auth data. */
static void qe_report(const struct sim_pki *pki, uint8_t out[QE_REPORT_LEN])
{
	uint8_t auth[32], xy[64];
	const void *parts[2] = { xy, auth };
	size_t lens[2] = { 64, 32 };

	memset(out, 0, QE_REPORT_LEN);
	memcpy(out + 0x000, pki->prm.cpusvn, 16);
	/* MISCSELECT 0 */
	memcpy(out + 0x030, sim_tdqe_attributes, 16);
	memcpy(out + 0x040, sim_tdqe_mrenclave, 32);
	memcpy(out + 0x080, sim_tdqe_mrsigner, 32);
	out[0x100] = (uint8_t)SIM_TDQE_ISVPRODID;
	out[0x101] = (uint8_t)(SIM_TDQE_ISVPRODID >> 8);
	out[0x102] = (uint8_t)pki->prm.qe_isvsvn;
	out[0x103] = (uint8_t)(pki->prm.qe_isvsvn >> 8);
	memcpy(xy, pki->qe_att.xy, 64);
	qe_auth_data(auth);
	sha256_parts(parts, lens, 2, out + 0x140);
}

err_t sim_tdx_quote(const struct sim_pki *pki, const struct attest_td_report *td, uint8_t **out, size_t *len)
{
	struct buf_writer w;
	uint8_t sig[64], qr[QE_REPORT_LEN], qr_sig[64], auth[32];
	size_t pem_len = pki->pck_chain_pem.len;
	size_t cert6_len = QE_REPORT_LEN + 64 + 2 + 32 + 2 + 4 + pem_len;
	size_t sig_data_len = 64 + 64 + 2 + 4 + cert6_len;
	err_t rc;

	*out = NULL;
	*len = 0;
	buf_writer_init(&w, QUOTE_MAX);
	/* header */
	buf_put_u16le(&w, 4);
	buf_put_u16le(&w, 2);          /* ECDSA-256 with P-256 */
	buf_put_u32le(&w, 0x81);       /* TDX */
	buf_put_u16le(&w, 0);
	buf_put_u16le(&w, 0);
	buf_put(&w, INTEL_QE_VENDOR_ID, 16);
	buf_put(&w, pki->qe_id, 16);   /* user data: QE ID, then 4 zero bytes */
	buf_put_u32le(&w, 0);
	put_td10_body(&w, td);
	if ((rc = buf_writer_status(&w)))
		goto out;
	if (w.len != QUOTE_HEADER_LEN + TD10_BODY_LEN) {
		rc = ERR_INTERNAL;
		goto out;
	}
	if ((rc = sim_ecdsa_sign(&pki->qe_att, w.p, w.len, sig)))
		goto out;
	qe_report(pki, qr);
	if ((rc = sim_ecdsa_sign(&pki->pck_leaf, qr, sizeof(qr), qr_sig)))
		goto out;
	qe_auth_data(auth);

	buf_put_u32le(&w, (uint32_t)sig_data_len);
	buf_put(&w, sig, 64);
	buf_put(&w, pki->qe_att.xy, 64);
	buf_put_u16le(&w, 6);          /* QE report certification data */
	buf_put_u32le(&w, (uint32_t)cert6_len);
	buf_put(&w, qr, sizeof(qr));
	buf_put(&w, qr_sig, 64);
	buf_put_u16le(&w, 32);
	buf_put(&w, auth, 32);
	buf_put_u16le(&w, 5);          /* PCK certificate chain, PEM */
	buf_put_u32le(&w, (uint32_t)pem_len);
	buf_put(&w, pki->pck_chain_pem.p, pem_len);
	if ((rc = buf_writer_status(&w)))
		goto out;
	if (w.len != QUOTE_HEADER_LEN + TD10_BODY_LEN + 4 + sig_data_len) {
		rc = ERR_INTERNAL;
		goto out;
	}
	*out = buf_take(&w, len);
	rc = *out ? ERR_OK : ERR_NOMEM;
out:
	buf_writer_free(&w);
	return rc;
}

/* ---- SEV-SNP ---------------------------------------------------------------------------------- */

#define SNP_SIGNED_LEN 0x2A0

static void cpuid_of(enum sim_snp_product p, uint8_t *fam, uint8_t *mod, uint8_t *step)
{
	switch (p) {
	case SIM_SNP_GENOA:
		*fam = 0x19, *mod = 0x11, *step = 0x01;
		break;
	case SIM_SNP_TURIN:
		*fam = 0x1A, *mod = 0x02, *step = 0x01;
		break;
	case SIM_SNP_MILAN:
	default:
		*fam = 0x19, *mod = 0x01, *step = 0x00;
		break;
	}
}

static void derive_report_id(const struct sim_pki *pki, uint8_t out[32])
{
	static const char label[] = "dstack-c-sim-snp-report-id-v1";
	const void *parts[2] = { label, pki->seed };
	size_t lens[2] = { sizeof(label) - 1, SIM_SEED_LEN };

	sha256_parts(parts, lens, 2, out);
}

void sim_snp_report_default(const struct sim_pki *pki, struct attest_snp_report *r)
{
	uint64_t tcb = sim_snp_vcek_tcb(pki);

	memset(r, 0, sizeof(*r));
	r->version = 5;
	r->policy = 0x30000;
	r->signature_algo = 1;
	r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb = tcb;
	r->platform_info = 0x25;
	memcpy(r->chip_id, pki->chip_id, 64);
	derive_report_id(pki, r->report_id);
	memset(r->report_id_ma, 0xff, 32);
	r->current_build = r->committed_build = 35;
	r->current_minor = r->committed_minor = 55;
	r->current_major = r->committed_major = 1;
	cpuid_of(pki->prm.snp_product, &r->cpuid_fam_id, &r->cpuid_mod_id, &r->cpuid_step);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

err_t sim_snp_report(const struct sim_pki *pki, const struct attest_snp_report *r, uint8_t out[SIM_SNP_REPORT_LEN])
{
	uint8_t sig[96];
	err_t rc;

	memset(out, 0, SIM_SNP_REPORT_LEN);
	if (r->version < 2 || r->version > 5)
		return ERR_INVALID_ARG;
	le32(out + 0x000, r->version);
	le32(out + 0x004, r->guest_svn);
	le64(out + 0x008, r->policy);
	memcpy(out + 0x010, r->family_id, 16);
	memcpy(out + 0x020, r->image_id, 16);
	le32(out + 0x030, r->vmpl);
	le32(out + 0x034, r->signature_algo);
	le64(out + 0x038, r->current_tcb);
	le64(out + 0x040, r->platform_info);
	le32(out + 0x048, (uint32_t)(r->author_key_en ? 1 : 0) | (uint32_t)(r->mask_chip_key ? 2 : 0) |
				  (uint32_t)(r->signing_key & 7) << 2);
	memcpy(out + 0x050, r->report_data, 64);
	memcpy(out + 0x090, r->measurement, 48);
	memcpy(out + 0x0C0, r->host_data, 32);
	memcpy(out + 0x0E0, r->id_key_digest, 48);
	memcpy(out + 0x110, r->author_key_digest, 48);
	memcpy(out + 0x140, r->report_id, 32);
	memcpy(out + 0x160, r->report_id_ma, 32);
	le64(out + 0x180, r->reported_tcb);
	if (r->version >= 3) {
		out[0x188] = r->cpuid_fam_id;
		out[0x189] = r->cpuid_mod_id;
		out[0x18A] = r->cpuid_step;
	}
	if (!r->mask_chip_key)
		memcpy(out + 0x1A0, r->chip_id, 64);
	le64(out + 0x1E0, r->committed_tcb);
	out[0x1E8] = r->current_build;
	out[0x1E9] = r->current_minor;
	out[0x1EA] = r->current_major;
	out[0x1EC] = r->committed_build;
	out[0x1ED] = r->committed_minor;
	out[0x1EE] = r->committed_major;
	le64(out + 0x1F0, r->launch_tcb);
	if (r->version >= 5) {
		le64(out + 0x1F8, r->launch_mit_vector);
		le64(out + 0x200, r->current_mit_vector);
	}
	rc = sim_ecdsa_sign(&pki->vcek, out, SNP_SIGNED_LEN, sig);
	if (rc)
		return rc;
	/* R and S little-endian in 72-byte fields */
	for (int i = 0; i < 48; i++) {
		out[0x2A0 + i] = sig[47 - i];
		out[0x2E8 + i] = sig[95 - i];
	}
	return ERR_OK;
}
