/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for evidence extraction from certificates: a whole DER certificate, or one dstack extension value on a template certificate. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned ARCS[] = { 1, 2, 3, 4, 8, 9 };

static void check(int ok)
{
	if (!ok)
		abort();
}

/* One template certificate for the process (mode 1 adds the input as an extension to a copy of it). */
static X509 *template_cert(void)
{
	static X509 *t;
	struct ratls_cert_params p;
	EVP_PKEY *k;

	if (t)
		return t;
	k = ratls_key_new();
	memset(&p, 0, sizeof(p));
	p.cn = "fuzz";
	p.not_after = 2000000000ull;
	check(k && ratls_cert_build(&p, k, NULL, k, &t) == ERR_OK);
	EVP_PKEY_free(k);
	return t;
}

static void extract(X509 *x)
{
	struct ratls_cert_ext ext;
	struct ratls_attestation att;
	struct arena a;
	err_t rc;

	arena_init(&a, 64u << 20, 64u << 10);
	rc = ratls_cert_ext_read(x, &ext, NULL);
	if (rc == ERR_OK) {
		check(!ext.app_id.p || ext.app_id.len == RATLS_APP_ID_LEN);
		check(!ext.usage.p || (ext.usage.len > 0 && ext.usage.len <= RATLS_USAGE_MAX));
		check(ext.attestation.len <= RATLS_EXT_MAX);
	}
	rc = ratls_cert_evidence(x, &a, &att, NULL);
	if (rc == ERR_OK)
		check(att.platform != RATLS_PLATFORM_NONE && att.n_runtime_events <= RATLS_MAX_EVENTS);
	arena_fini(&a);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		const unsigned char *p = data + 1;
		X509 *x = d2i_X509(NULL, &p, (long)(size - 1));

		if (x)
			extract(x);
		X509_free(x);
		ERR_clear_error();
		return 0;
	}
	/* data[0] >> 1 picks the arc; the rest is the extnValue octets as a certificate would carry them. */
	{
		X509 *x = X509_dup(template_cert());
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *o;
		X509_EXTENSION *e = NULL;
		char oid[32];

		snprintf(oid, sizeof(oid), "1.3.6.1.4.1.62397.1.%u", ARCS[(data[0] >> 1) % 6]);
		o = OBJ_txt2obj(oid, 1);
		check(x && os && o && ASN1_OCTET_STRING_set(os, data + 1, (int)(size - 1)) == 1);
		e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
		check(e && X509_add_ext(x, e, -1) == 1);
		extract(x);
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(o);
		ASN1_OCTET_STRING_free(os);
		X509_free(x);
	}
	return 0;
}
