/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the SEV-SNP report parser and the VCEK/VLEK KDS extension parser (records and DER certificates). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "buf.h"
#include "snp.h"

/*
 * Input: the first SNP_REPORT_SIZE bytes are a report (shorter inputs go to
 * the parser whole, which must refuse them). Whatever follows is read twice:
 * as extension records [u8 oid_len][oid][u16le val_len][val]... fed to
 * snp_cert_ext_add, and as a DER certificate whose extensions go through
 * snp_cert_ext_from_x509. Both extension sets are then finished for every
 * product and signer kind.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *c = calloc(1, n ? n : 1);   /* exact size, so ASan sees any over-read */

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static void check_report(const uint8_t *p, size_t n)
{
	struct attest_snp_report r;
	struct snp_tcb_parts t;
	err_t err = snp_report_parse(p, n, &r);

	if (n != SNP_REPORT_SIZE) {
		if (err != ERR_ATTEST_SNP_FORMAT)
			abort();
		return;
	}
	if (err != ERR_OK) {
		if (err != ERR_ATTEST_SNP_FORMAT)
			abort();
		return;
	}
	/* What the parser accepts satisfies the documented invariants. */
	if (r.version < 2 || r.version > 5 || r.signature_algo != 1 || r.vmpl > 3 ||
	    !(r.policy & SNP_POLICY_RESERVED_ONE) || (r.policy & SNP_POLICY_MBZ) || r.signing_key > 1 ||
	    (r.signer_info >> 5) != 0)
		abort();
	if (r.version < 3 && (r.cpuid_fam_id || r.cpuid_mod_id || r.cpuid_step || r.product != SNP_PRODUCT_UNKNOWN))
		abort();
	if (r.version < 5 && (r.launch_mit_vector || r.current_mit_vector))
		abort();
	if (memcmp(r.report_data, p + 0x50, 64) != 0 || memcmp(r.chip_id, p + 0x1a0, 64) != 0)
		abort();
	/* Every TCB byte has a place in both layouts. */
	for (int prod = SNP_PRODUCT_MILAN; prod <= SNP_PRODUCT_TURIN; prod++) {
		snp_tcb_decompose(r.reported_tcb, (enum attest_snp_product)prod, &t);
		if (snp_tcb_compose(&t, (enum attest_snp_product)prod) != r.reported_tcb)
			abort();
	}
}

static void finish_all(const struct snp_cert_ext *e)
{
	uint8_t hwid[SNP_CHIP_ID_SIZE];
	size_t hl;
	uint64_t tcb;
	struct snp_tcb_parts t;

	if (strlen(e->product_name) > SNP_PRODUCT_NAME_MAX || strlen(e->csp_id) > SNP_CSP_ID_MAX ||
	    e->hwid_raw_len > sizeof(e->hwid_raw))
		abort();
	(void)snp_product_from_name(e->product_name, strlen(e->product_name));
	for (int prod = SNP_PRODUCT_UNKNOWN; prod <= SNP_PRODUCT_TURIN; prod++)
		for (int vlek = 0; vlek <= 1; vlek++) {
			err_t err = snp_cert_ext_finish(e, (enum attest_snp_product)prod, vlek, &tcb, hwid, &hl);

			if (err == ERR_OK) {
				if (vlek ? hl != 0 : hl != (prod == SNP_PRODUCT_TURIN ? 8u : 64u))
					abort();
				snp_tcb_decompose(tcb, (enum attest_snp_product)prod, &t);
				if (t.bl != e->tcb.bl || t.tee != e->tcb.tee || t.snp != e->tcb.snp ||
				    t.ucode != e->tcb.ucode)
					abort();
			} else if (err != ERR_ATTEST_CERT_DATA && err != ERR_ATTEST_PRODUCT) {
				abort();
			}
		}
}

static void check_records(const uint8_t *p, size_t n)
{
	struct buf_reader r;
	struct snp_cert_ext e;

	memset(&e, 0, sizeof(e));
	buf_reader_init(&r, p, n);
	while (buf_remaining(&r) > 0) {
		const uint8_t *oid, *val;
		uint8_t ol;
		uint16_t vl;
		uint8_t *oc, *vc;
		err_t err;

		if (buf_get_u8(&r, &ol) || buf_get_view(&r, ol, &oid) || buf_get_u16le(&r, &vl) ||
		    buf_get_view(&r, vl, &val))
			break;
		oc = dup_exact(oid, ol);
		vc = dup_exact(val, vl);
		err = snp_cert_ext_add(&e, oc, ol, vc, vl);
		free(oc);
		free(vc);
		if (err != ERR_OK) {
			if (err != ERR_ATTEST_CERT_DATA)
				abort();
			return;
		}
	}
	finish_all(&e);
}

static void check_cert(const uint8_t *p, size_t n)
{
	const uint8_t *q = p;
	X509 *x = d2i_X509(NULL, &q, (long)n);
	struct snp_cert_ext e;

	if (x) {
		err_t err = snp_cert_ext_from_x509(x, &e);

		if (err == ERR_OK)
			finish_all(&e);
		else if (err != ERR_ATTEST_CERT_DATA)
			abort();
		X509_free(x);
	}
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t rn = size < SNP_REPORT_SIZE ? size : SNP_REPORT_SIZE;
	uint8_t *rep = dup_exact(data, rn), *rest;

	check_report(rep, rn);
	free(rep);
	if (size > rn) {
		rest = dup_exact(data + rn, size - rn);
		check_records(rest, size - rn);
		check_cert(rest, size - rn);
		free(rest);
	}
	return 0;
}
