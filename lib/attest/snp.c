/* SPDX-License-Identifier: Apache-2.0 */
/* SEV-SNP attestation report: strict parser, report signature, TCB and chip binding, guest policy, full verify. */
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "snp.h"

const char *snp_product_name(enum attest_snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	case SNP_PRODUCT_UNKNOWN:
		break;
	}
	return "unknown";
}

enum attest_snp_product snp_product_from_cpuid(uint8_t family, uint8_t model)
{
	if (family == 0x19 && model <= 0x0f)
		return SNP_PRODUCT_MILAN;
	if (family == 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)))
		return SNP_PRODUCT_GENOA;
	if (family == 0x1a && model <= 0x11)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

void snp_tcb_decompose(uint64_t tcb, enum attest_snp_product p, struct snp_tcb_parts *out)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(tcb >> (8 * i));
	memset(out, 0, sizeof(*out));
	if (p == SNP_PRODUCT_TURIN) {
		out->fmc = b[0];
		out->bl = b[1];
		out->tee = b[2];
		out->snp = b[3];
		out->spl5 = b[4];
		out->spl6 = b[5];
		out->spl7 = b[6];
	} else {
		out->bl = b[0];
		out->tee = b[1];
		out->spl4 = b[2];
		out->spl5 = b[3];
		out->spl6 = b[4];
		out->spl7 = b[5];
		out->snp = b[6];
	}
	out->ucode = b[7];
}

uint64_t snp_tcb_compose(const struct snp_tcb_parts *t, enum attest_snp_product p)
{
	uint8_t b[8];
	uint64_t v = 0;

	if (p == SNP_PRODUCT_TURIN) {
		b[0] = t->fmc;
		b[1] = t->bl;
		b[2] = t->tee;
		b[3] = t->snp;
		b[4] = t->spl5;
		b[5] = t->spl6;
		b[6] = t->spl7;
	} else {
		b[0] = t->bl;
		b[1] = t->tee;
		b[2] = t->spl4;
		b[3] = t->spl5;
		b[4] = t->spl6;
		b[5] = t->spl7;
		b[6] = t->snp;
	}
	b[7] = t->ucode;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Skip n reserved bytes that must be zero. */
static err_t get_mbz(struct buf_reader *r, size_t n)
{
	const uint8_t *p;
	uint8_t acc = 0;

	if (buf_get_view(r, n, &p))
		return ERR_ATTEST_SNP_FORMAT;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc ? ERR_ATTEST_SNP_FORMAT : ERR_OK;
}

#define GET(call)                                   \
	do {                                        \
		if ((call) != ERR_OK)               \
			return ERR_ATTEST_SNP_FORMAT; \
	} while (0)

err_t snp_report_parse(const uint8_t *p, size_t n, struct attest_snp_report *out)
{
	struct buf_reader r;
	uint32_t reserved;

	memset(out, 0, sizeof(*out));
	if (!p || n != SNP_REPORT_SIZE)
		return ERR_ATTEST_SNP_FORMAT;
	buf_reader_init(&r, p, n);

	GET(buf_get_u32le(&r, &out->version));                    /* 0x000 */
	if (out->version < 2 || out->version > 5)
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_u32le(&r, &out->guest_svn));                  /* 0x004 */
	GET(buf_get_u64le(&r, &out->policy));                     /* 0x008 */
	if (!(out->policy & SNP_POLICY_RESERVED_ONE) || (out->policy & SNP_POLICY_MBZ))
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_copy(&r, out->family_id, sizeof(out->family_id)));   /* 0x010 */
	GET(buf_get_copy(&r, out->image_id, sizeof(out->image_id)));     /* 0x020 */
	GET(buf_get_u32le(&r, &out->vmpl));                       /* 0x030 */
	if (out->vmpl > 3)
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_u32le(&r, &out->signature_algo));             /* 0x034 */
	if (out->signature_algo != 1)
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_u64le(&r, &out->current_tcb));                /* 0x038 */
	GET(buf_get_u64le(&r, &out->platform_info));              /* 0x040 */
	GET(buf_get_u32le(&r, &out->signer_info));                /* 0x048 */
	out->author_key_en = out->signer_info & 1;
	out->mask_chip_key = (out->signer_info >> 1) & 1;
	out->signing_key = (out->signer_info >> 2) & 7;
	if ((out->signer_info >> 5) != 0 ||
	    (out->signing_key != SNP_SIGNING_KEY_VCEK && out->signing_key != SNP_SIGNING_KEY_VLEK))
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_u32le(&r, &reserved));                        /* 0x04C */
	if (reserved)
		return ERR_ATTEST_SNP_FORMAT;
	GET(buf_get_copy(&r, out->report_data, sizeof(out->report_data)));           /* 0x050 */
	GET(buf_get_copy(&r, out->measurement, sizeof(out->measurement)));           /* 0x090 */
	GET(buf_get_copy(&r, out->host_data, sizeof(out->host_data)));               /* 0x0C0 */
	GET(buf_get_copy(&r, out->id_key_digest, sizeof(out->id_key_digest)));       /* 0x0E0 */
	GET(buf_get_copy(&r, out->author_key_digest, sizeof(out->author_key_digest))); /* 0x110 */
	GET(buf_get_copy(&r, out->report_id, sizeof(out->report_id)));               /* 0x140 */
	GET(buf_get_copy(&r, out->report_id_ma, sizeof(out->report_id_ma)));         /* 0x160 */
	GET(buf_get_u64le(&r, &out->reported_tcb));               /* 0x180 */
	if (out->version >= 3) {                                  /* 0x188 */
		GET(buf_get_u8(&r, &out->cpuid_fam_id));
		GET(buf_get_u8(&r, &out->cpuid_mod_id));
		GET(buf_get_u8(&r, &out->cpuid_step));
		GET(get_mbz(&r, 0x1a0 - 0x18b));
		if (out->cpuid_fam_id || out->cpuid_mod_id || out->cpuid_step)
			out->product = snp_product_from_cpuid(out->cpuid_fam_id, out->cpuid_mod_id);
	} else {
		GET(get_mbz(&r, 0x1a0 - 0x188));
	}
	GET(buf_get_copy(&r, out->chip_id, sizeof(out->chip_id)));   /* 0x1A0 */
	GET(buf_get_u64le(&r, &out->committed_tcb));              /* 0x1E0 */
	GET(buf_get_u8(&r, &out->current_build));                 /* 0x1E8 */
	GET(buf_get_u8(&r, &out->current_minor));
	GET(buf_get_u8(&r, &out->current_major));
	GET(get_mbz(&r, 1));
	GET(buf_get_u8(&r, &out->committed_build));               /* 0x1EC */
	GET(buf_get_u8(&r, &out->committed_minor));
	GET(buf_get_u8(&r, &out->committed_major));
	GET(get_mbz(&r, 1));
	GET(buf_get_u64le(&r, &out->launch_tcb));                 /* 0x1F0 */
	if (out->version >= 5) {                                  /* 0x1F8 */
		GET(buf_get_u64le(&r, &out->launch_mit_vector));
		GET(buf_get_u64le(&r, &out->current_mit_vector));
	} else {
		GET(get_mbz(&r, 16));
	}
	GET(get_mbz(&r, SNP_SIGNED_SIZE - 0x208));                /* 0x208 */
	GET(buf_skip(&r, 2 * SNP_SIG_COMPONENT_SIZE));            /* 0x2A0 R, S */
	GET(get_mbz(&r, SNP_REPORT_SIZE - 0x330));                /* 0x330 */
	GET(buf_expect_end(&r));
	return ERR_OK;
}

#undef GET

/* One 72-byte little-endian, zero-padded component -> 48-byte big-endian; 0 if short or the padding is not zero. */
static int sig_component(struct buf_reader *r, uint8_t be[48])
{
	const uint8_t *le;
	uint8_t pad = 0;

	if (buf_get_view(r, SNP_SIG_COMPONENT_SIZE, &le))
		return 0;
	for (size_t i = 48; i < SNP_SIG_COMPONENT_SIZE; i++)
		pad |= le[i];
	for (size_t i = 0; i < 48; i++)
		be[i] = le[47 - i];
	return pad == 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static err_t check_chip_id(const struct attest_snp_report *r, const struct snp_endorsement *e)
{
	if (e->vlek)
		return ERR_OK;   /* a VLEK names the cloud provider, not the chip */
	if (r->mask_chip_key && is_zero(r->chip_id, sizeof(r->chip_id)))
		return ERR_OK;   /* the guest asked the firmware not to reveal the chip id */
	if (e->hwid_len == 0 || e->hwid_len > sizeof(r->chip_id) || memcmp(r->chip_id, e->hwid, e->hwid_len) != 0 ||
	    !is_zero(r->chip_id + e->hwid_len, sizeof(r->chip_id) - e->hwid_len))
		return ERR_ATTEST_SNP_CHIP_ID;
	return ERR_OK;
}

static err_t check_expected(const struct attest_snp_report *r, const struct attest_policy *p, const char **detail)
{
	if (p->expected_report_data && memcmp(p->expected_report_data, r->report_data, sizeof(r->report_data)) != 0) {
		*detail = "REPORT_DATA differs from the expected value";
		return ERR_ATTEST_REPORT_DATA;
	}
	if (p->n_expected > ATTEST_MAX_EXPECTED) {
		*detail = "too many expectations";
		return ERR_ATTEST_MEASUREMENT;
	}
	for (size_t i = 0; i < p->n_expected; i++) {
		const struct attest_expected *x = &p->expected[i];
		const uint8_t *have;
		size_t len;

		switch (x->which) {
		case ATTEST_M_SNP_MEASUREMENT:
			have = r->measurement;
			len = sizeof(r->measurement);
			*detail = "MEASUREMENT differs from the expected value";
			break;
		case ATTEST_M_SNP_HOST_DATA:
			have = r->host_data;
			len = sizeof(r->host_data);
			*detail = "HOST_DATA differs from the expected value";
			break;
		default:
			/* An expectation we cannot evaluate must not pass silently. */
			*detail = "expected measurement does not apply to SEV-SNP";
			return ERR_ATTEST_MEASUREMENT;
		}
		if (x->len != len || memcmp(x->value, have, len) != 0)
			return ERR_ATTEST_MEASUREMENT;
	}
	*detail = NULL;
	return ERR_OK;
}

err_t snp_report_check(const uint8_t *report, size_t n, const struct attest_snp_report *r,
		       const struct snp_endorsement *e, const struct attest_policy *p, const char **detail)
{
	struct buf_reader sr;
	uint8_t sig[96];
	const char *dummy;
	err_t err;

	if (!detail)
		detail = &dummy;
	*detail = NULL;
	if (!report || n != SNP_REPORT_SIZE || !e || !e->key || !p)
		return ERR_INVALID_ARG;
	if ((r->signing_key == SNP_SIGNING_KEY_VLEK) != (e->vlek != 0)) {
		*detail = "report signer kind differs from the certificate kind";
		return ERR_ATTEST_CERT_CHAIN;
	}
	buf_reader_init(&sr, report, n);
	if (buf_skip(&sr, SNP_SIGNED_SIZE) || !sig_component(&sr, sig) || !sig_component(&sr, sig + 48)) {
		*detail = "signature R or S has non-zero padding";
		return ERR_ATTEST_SNP_SIGNATURE;
	}
	if (ecdsa_verify_p384_sha384(e->key, sig, report, SNP_SIGNED_SIZE) != ERR_OK) {
		*detail = "ECDSA P-384 signature over the report does not verify with the VCEK/VLEK key";
		return ERR_ATTEST_SNP_SIGNATURE;
	}
	if (r->reported_tcb != e->tcb) {
		*detail = "REPORTED_TCB differs from the certificate's TCB extensions";
		return ERR_ATTEST_SNP_TCB;
	}
	err = check_chip_id(r, e);
	if (err) {
		*detail = "CHIP_ID differs from the VCEK hwID";
		return err;
	}
	if ((r->policy & SNP_POLICY_DEBUG) && !p->allow_debug) {
		*detail = "guest policy allows debugging";
		return ERR_ATTEST_DEBUG;
	}
	if ((r->policy & SNP_POLICY_MIGRATE_MA) && !p->snp_allow_migration_agent) {
		*detail = "guest policy allows a migration agent";
		return ERR_ATTEST_SNP_POLICY;
	}
	if (p->snp_max_vmpl >= 0 && r->vmpl > (uint32_t)p->snp_max_vmpl) {
		*detail = "VMPL above the policy maximum";
		return ERR_ATTEST_SNP_VMPL;
	}
	return check_expected(r, p, detail);
}

err_t snp_verify(const uint8_t *report, size_t n, const uint8_t *vcek, size_t vcek_len, const char *chain_pem,
		 size_t chain_len, const uint8_t *crl, size_t crl_len, const struct attest_trust *t,
		 const struct attest_policy *p, uint64_t now, struct arena *a, struct attest_verdict *v)
{
	struct snp_endorsement e;
	enum attest_snp_product product;
	const char *detail = NULL;
	err_t err;

	(void)a;
	memset(&e, 0, sizeof(e));
	memset(v, 0, sizeof(*v));
	v->tee = ATTEST_TEE_SEV_SNP;
	v->report_type = ATTEST_REPORT_SNP;
	if (!t || !p) {
		err = ERR_INVALID_ARG;
		goto out;
	}
	err = snp_report_parse(report, n, &v->snp);
	if (err) {
		detail = "report malformed (length, version, signature algorithm, policy or reserved bytes)";
		goto out;
	}

	/* Product line: CPUID (v3+), else the caller's hint, else the VCEK's productName. */
	product = v->snp.product;
	if (product == SNP_PRODUCT_UNKNOWN &&
	    (v->snp.cpuid_fam_id || v->snp.cpuid_mod_id || v->snp.cpuid_step)) {
		err = ERR_ATTEST_PRODUCT;
		detail = "CPUID names no known SEV-SNP product line";
		goto out;
	}
	if (p->snp_product < SNP_PRODUCT_UNKNOWN || p->snp_product > SNP_PRODUCT_TURIN) {
		err = ERR_INVALID_ARG;
		detail = "policy snp_product out of range";
		goto out;
	}
	if (p->snp_product != SNP_PRODUCT_UNKNOWN) {
		if (product != SNP_PRODUCT_UNKNOWN && product != (enum attest_snp_product)p->snp_product) {
			err = ERR_ATTEST_PRODUCT;
			detail = "CPUID product line differs from the configured one";
			goto out;
		}
		product = (enum attest_snp_product)p->snp_product;
	}

	err = snp_endorsement_verify(vcek, vcek_len, chain_pem, chain_len, crl, crl_len, product,
				     v->snp.signing_key == SNP_SIGNING_KEY_VLEK, t, now, &e, &detail);
	if (err)
		goto out;
	v->snp.product = e.product;
	v->dev = e.dev;
	v->collateral_expires_at = e.not_after;
	v->collateral_issued_at = e.crl_last_update;

	err = snp_report_check(report, n, &v->snp, &e, p, &detail);
out:
	snp_endorsement_free(&e);
	v->err = err;
	v->detail = err ? (detail ? detail : err_str(err)) : NULL;
	return err;
}
