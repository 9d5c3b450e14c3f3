/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for PCK certificates: the SGX extension parser, our PCK leaf reader against OpenSSL, and the certificate path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
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

	/*
	 * Our own PCK leaf reader: whatever it accepts, OpenSSL must parse as one
	 * certificate with the same serial, issuer, validity and key (it checks
	 * less than OpenSSL, never something else).
	 */
	{
		struct dcap_pck_leaf lf;

		if (dcap_pck_leaf_parse(data, size, &lf) == ERR_OK) {
			const uint8_t *q = data, *sp = lf.serial_tlv;
			X509 *o = d2i_X509(NULL, &q, (long)size);
			ASN1_INTEGER *serial = d2i_ASN1_INTEGER(NULL, &sp, (long)lf.serial_tlv_len);
			unsigned char *name = NULL;
			int nl;
			uint8_t xy[64];
			size_t xyl = 0;
			uint64_t t;

			check(o != NULL && q == data + size && serial != NULL);
			check(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(o)) == 0);
			nl = i2d_X509_NAME(X509_get_issuer_name(o), &name);
			check(nl > 0 && (size_t)nl == lf.issuer_len && memcmp(name, lf.issuer, lf.issuer_len) == 0);
			check(dcap_asn1_time_unix(X509_get0_notBefore(o), &t) && t == lf.not_before);
			check(dcap_asn1_time_unix(X509_get0_notAfter(o), &t) && t == lf.not_after);
			/* The reader takes x||y as bytes; the point is checked when the key is built, as OpenSSL does. */
			{
				EVP_PKEY *mine = ec_p256_pubkey_from_xy(lf.pubkey), *theirs = X509_get0_pubkey(o);

				check((mine != NULL) == (theirs != NULL));
				if (theirs)
					check(ec_pubkey_xy(theirs, xy, sizeof(xy), &xyl) == ERR_OK && xyl == 64 &&
					      memcmp(xy, lf.pubkey, 64) == 0);
				EVP_PKEY_free(mine);
			}
			check(X509_check_ca(o) == 0);
			check(!(X509_get_extension_flags(o) & EXFLAG_INVALID));
			OPENSSL_free(name);
			ASN1_INTEGER_free(serial);
			X509_free(o);
		}
	}

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
