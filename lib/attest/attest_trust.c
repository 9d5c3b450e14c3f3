/* SPDX-License-Identifier: Apache-2.0 */
/* Trust anchors for verifiers: the pinned Intel and AMD roots, plus the simulator's development roots when configured. */
#include <string.h>

#include "attest.h"
#include "crypto.h"
#include "dcap.h"
#include "file.h"
#include "snp.h"

/*
 * The one place lib/attest reads a file: the development roots named in a
 * service's config, read once at start (verification itself stays pure).
 */
static X509 *load_cert(const char *path, const char **detail)
{
	struct buf_writer w;
	X509 *x = NULL;
	err_t err;

	buf_writer_init(&w, 64 * 1024);
	err = file_read_all(path, 64 * 1024, 0, &w);
	if (err == ERR_OK && !(x = x509_from_bytes(w.p, w.len)))
		*detail = "the development root file is not a DER or PEM certificate";
	else if (err == ERR_PROTO_TOO_LARGE)
		*detail = "the development root file is over 64 KiB";
	else if (err != ERR_OK)
		*detail = "cannot read the development root file";
	buf_writer_free(&w);
	return x;
}

err_t attest_trust_load(struct attest_trust *t, const char *dev_root_path, const char *dev_ark_path,
			const char **detail)
{
	static const enum attest_snp_product prods[3] = { SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA, SNP_PRODUCT_TURIN };

	memset(t, 0, sizeof(*t));
	t->intel_root = attest_intel_root();
	for (int i = 0; i < 3; i++)
		t->amd_ark[i] = attest_amd_ark(prods[i]);
	if (!t->intel_root || !t->amd_ark[0] || !t->amd_ark[1] || !t->amd_ark[2]) {
		*detail = "cannot parse the embedded Intel / AMD roots";
		attest_trust_free(t);
		return ERR_INTERNAL;
	}
	if (dev_root_path && !(t->intel_dev_root = load_cert(dev_root_path, detail))) {
		attest_trust_free(t);
		return ERR_CONFIG;
	}
	if (dev_ark_path && !(t->amd_dev_ark = load_cert(dev_ark_path, detail))) {
		attest_trust_free(t);
		return ERR_CONFIG;
	}
	return ERR_OK;
}

void attest_trust_free(struct attest_trust *t)
{
	X509_free(t->intel_root);
	X509_free(t->intel_dev_root);
	for (int i = 0; i < 4; i++)
		X509_free(t->amd_ark[i]);
	X509_free(t->amd_dev_ark);
	memset(t, 0, sizeof(*t));
}
