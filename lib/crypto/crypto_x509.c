/* SPDX-License-Identifier: Apache-2.0 */
/* Certificates and CRLs from untrusted bytes: strict PEM chain framing, DER with no trailing bytes. */
#include "crypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

/* No certificate material we handle comes near this; it keeps lengths inside OpenSSL's int/long. */
#define X509_MAX_INPUT ((size_t)16 << 20)

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* DER that must use every byte (a certificate followed by junk is not a certificate). */
static X509 *x509_from_der(const uint8_t *p, size_t n)
{
	const uint8_t *q = p;
	X509 *x = d2i_X509(NULL, &q, (long)n);

	if (x && (size_t)(q - p) != n) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/*
 * One BEGIN..END block, exactly as framed by the caller: PEM type
 * CERTIFICATE, no headers, and DER that decodes with nothing left over.
 */
static X509 *pem_block_parse(const char *p, size_t n)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	X509 *x = NULL;

	bio = BIO_new(BIO_s_mem());
	if (!bio || BIO_write(bio, p, (int)n) != (int)n || BIO_write(bio, "\n", 1) != 1)
		goto out;
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1)
		goto out;
	if (strcmp(name, "CERTIFICATE") != 0 || header[0] != 0 || dlen <= 0)
		goto out;
	x = x509_from_der(data, (size_t)dlen);
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return x;
}

STACK_OF(X509) *pem_certs_parse(const char *pem, size_t len)
{
	STACK_OF(X509) *sk = NULL, *ret = NULL;
	X509 *x = NULL;
	size_t pos = 0, blen = sizeof(pem_begin) - 1, elen = sizeof(pem_end) - 1;

	if (!pem || len > X509_MAX_INPUT)
		goto out;
	/* Quotes carry the chain as a C string; one trailing NUL is part of the format there. */
	if (len > 0 && pem[len - 1] == 0)
		len--;
	sk = sk_X509_new_null();
	if (!sk)
		goto out;
	for (;;) {
		const char *end;

		while (pos < len && is_space(pem[pos]))
			pos++;
		if (pos == len)
			break;
		if (len - pos < blen || memcmp(pem + pos, pem_begin, blen) != 0)
			goto out;
		end = memmem(pem + pos, len - pos, pem_end, elen);
		if (!end)
			goto out;
		x = pem_block_parse(pem + pos, (size_t)(end - (pem + pos)) + elen);
		if (!x)
			goto out;
		if (!sk_X509_push(sk, x))
			goto out;
		x = NULL;
		pos = (size_t)(end - pem) + elen;
	}
	if (sk_X509_num(sk) == 0)
		goto out;
	ret = sk;
	sk = NULL;
out:
	if (!ret)
		ERR_clear_error();
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	return ret;
}

X509 *x509_from_bytes(const void *p, size_t n)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;

	if (!p || n == 0 || n > X509_MAX_INPUT)
		return NULL;
	x = x509_from_der(p, n);
	if (x)
		return x;
	ERR_clear_error();
	/* PEM goes through the strict chain parser and must hold exactly one certificate. */
	sk = pem_certs_parse(p, n);
	if (sk && sk_X509_num(sk) == 1)
		x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return x;
}

X509_CRL *x509_crl_from_bytes(const void *p, size_t n)
{
	const uint8_t *q = p;
	BIO *bio = NULL;
	X509_CRL *crl = NULL;
	size_t used = n;

	if (!p || n == 0 || n > X509_MAX_INPUT)
		return NULL;
	crl = d2i_X509_CRL(NULL, &q, (long)n);
	if (crl && (size_t)(q - (const uint8_t *)p) == n)
		return crl;
	X509_CRL_free(crl);
	crl = NULL;
	ERR_clear_error();
	if (((const char *)p)[n - 1] == 0)
		used--;
	bio = BIO_new_mem_buf(p, (int)used);
	if (bio)
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	if (!crl)
		ERR_clear_error();
	BIO_free(bio);
	return crl;
}
