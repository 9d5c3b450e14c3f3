/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for dstack's SCALE CSR decoder (V1 and V2): decode, check the limits, re-encode byte-exact, check the signature path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_str(const char *s, size_t max)
{
	check(s != NULL && strlen(s) <= max);
}

/* Input: one byte whose low bit picks the version (0 -> V1, 1 -> V2), then the CSR bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
	struct ratls_csr c;
	struct buf_writer w;
	struct arena ar;
	int version;
	err_t rc;

	if (size < 1)
		return 0;
	version = (data[0] & 1) + 1;
	data++;
	size--;
	arena_init(&ar, 16u << 20, 64u << 10);
	rc = ratls_csr_decode(version, data, size, &ar, &c, NULL);
	if (rc != ERR_OK) {
		arena_fini(&ar);
		return 0;
	}
	check(c.version == version);
	check(strcmp(c.confirm, RATLS_CSR_CONFIRM) == 0);
	check(c.pubkey_len <= RATLS_CSR_PUBKEY_MAX);
	if (c.config.org_name)
		check_str(c.config.org_name, RATLS_CSR_STR_MAX);
	check_str(c.config.subject, RATLS_CSR_STR_MAX);
	check(c.config.n_alt_names <= RATLS_CSR_MAX_NAMES);
	for (size_t i = 0; i < c.config.n_alt_names; i++)
		check_str(c.config.alt_names[i], RATLS_CSR_STR_MAX);
	if (version == 2) {
		check(c.attestation_len >= 1 && c.attestation + c.attestation_len == data + size);
	} else {
		check(c.quote_len <= RATLS_QUOTE_MAX && !c.attestation);
		check(!c.config.ext_app_info && !c.config.has_not_before && !c.config.has_not_after);
	}
	/* The encoding is canonical: what decoded re-encodes to the same bytes. */
	buf_writer_init(&w, RATLS_CSR_MAX + 1);
	check(ratls_csr_encode(&c, &w) == ERR_OK);
	check(w.len == size && memcmp(w.p, data, size) == 0);
	buf_writer_free(&w);
	/* The pubkey and signature parsers on whatever came in; r = s = 1 never verifies. */
	check(ratls_csr_verify_signature(&c, data, size, sig, sizeof(sig), NULL, NULL) != ERR_OK);
	arena_fini(&ar);
	return 0;
}
