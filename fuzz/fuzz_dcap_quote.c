/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the DCAP quote parser: any bytes either fail cleanly or give views that stay inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* A view [p, p+n) lies inside [data, data+size). */
static int inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
	return p >= data && n <= size && (size_t)(p - data) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_quote q;
	struct attest_td_report td;
	struct attest_sgx_report sgx;
	const char *detail = NULL;
	err_t err;

	err = dcap_quote_parse(data, size, &q, &detail);
	if (err) {
		check(detail != NULL);
		check(err_group(err) == ERR_ATTEST);
		return 0;
	}
	check(q.version >= 3 && q.version <= 5);
	check(q.key_type == DCAP_KEY_TYPE_P256);
	check(q.signed_len <= size && inside(data, size, q.body, q.body_len));
	check(q.body + q.body_len == data + q.signed_len);
	check(inside(data, size, q.sig_data, q.sig_data_len));
	check(q.sig_data + q.sig_data_len + q.trailing == data + size);
	check(inside(data, size, q.signature, 64) && inside(data, size, q.att_key, 64));
	check(inside(data, size, q.qe_report, DCAP_SGX_REPORT_LEN) && inside(data, size, q.qe_report_sig, 64));
	check(inside(data, size, q.qe_auth, q.qe_auth_len));
	check(inside(data, size, q.cert_data, q.cert_data_len));
	check(inside(data, size, q.platform_data, q.platform_data_len));
	check(q.cert_type >= DCAP_CERT_PPID_PLAIN && q.cert_type <= DCAP_CERT_PCK_CHAIN);
	check(q.version == 3 ? q.outer_cert_type == 0 : q.outer_cert_type == DCAP_CERT_QE_REPORT);
	if (q.tee_type == DCAP_TEE_TDX) {
		check(q.body_type == DCAP_BODY_TD10 || q.body_type == DCAP_BODY_TD15);
		dcap_td_report_decode(q.body, q.body_len, &td);
	} else {
		check(q.body_type == DCAP_BODY_SGX && q.body_len == DCAP_SGX_REPORT_LEN);
		dcap_sgx_report_decode(q.body, &sgx);
	}
	dcap_sgx_report_decode(q.qe_report, &sgx);
	return 0;
}
