/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for PCK certificates: the SGX extension parser on raw DER, and the certificate path from DER bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_pck_info info;
	const uint8_t *p = data;
	const char *detail = NULL;
	X509 *x;
	err_t err;

	/* The extension value alone (what the corpus mostly holds after the first few runs). */
	err = dcap_pck_ext_parse(data, size, &info, &detail);
	if (err)
		check(detail != NULL && (err == ERR_ATTEST_PCK_EXTENSION || err == ERR_ATTEST_UNKNOWN_VALUE));
	else
		check(info.sgx_type <= 2 && memcmp(info.comp, info.cpusvn, 16) == 0);

	/* A whole certificate. */
	x = d2i_X509(NULL, &p, (long)size);
	if (x) {
		detail = NULL;
		err = dcap_pck_cert_info(x, &info, &detail);
		if (err)
			check(detail != NULL && err_group(err) == ERR_ATTEST);
		else
			check(info.ca_platform == 0 || info.ca_platform == 1);
		X509_free(x);
	}
	ERR_clear_error();
	return 0;
}
