/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the SEV-SNP certificate table parser (the configfs-tsm auxblob of sev_guest): bounds, overlaps, zero padding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tee.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tee_snp_certs c;
	const char *detail = NULL;
	uint8_t *copy;
	size_t table_end;
	err_t rc;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	check(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	rc = tee_snp_certs_parse(copy, size, &c, &detail);
	check(rc == ERR_OK || rc == ERR_PROTO_TRUNCATED || rc == ERR_PROTO_MALFORMED || rc == ERR_PROTO_TOO_LARGE);
	check((rc == ERR_OK) == (detail == NULL));
	if (rc != ERR_OK) {
		check(c.n == 0);
		free(copy);
		return 0;
	}
	check(c.n <= TEE_SNP_MAX_CERTS);
	table_end = size ? (c.n + 1) * 24 : 0;
	for (size_t i = 0; i < c.n; i++) {
		const struct tee_snp_cert *e = &c.cert[i];

		/* Inside the blob, after the table, non-empty, capped, not overlapping another one. */
		check(e->len > 0 && e->len <= TEE_SNP_MAX_CERT_LEN);
		check(e->der >= copy + table_end && e->der + e->len <= copy + size);
		check(tee_snp_certs_find(&c, e->kind) != NULL);
		if (e->kind != TEE_SNP_CERT_OTHER)
			check(e->der[0] == 0x30);
		for (size_t j = 0; j < i; j++) {
			check(memcmp(c.cert[j].guid, e->guid, 16) != 0);
			check(c.cert[j].der + c.cert[j].len <= e->der || e->der + e->len <= c.cert[j].der);
		}
	}
	/* Adding zero padding changes nothing; a non-zero byte after it is refused. */
	{
		uint8_t *padded = calloc(1, size + 16);
		struct tee_snp_certs again;

		check(padded != NULL);
		if (size)
			memcpy(padded, copy, size);
		if (size && size + 16 <= TEE_SNP_MAX_TABLE_LEN) {
			check(tee_snp_certs_parse(padded, size + 16, &again, NULL) == ERR_OK);
			check(again.n == c.n);
			padded[size + 15] = 1;
			check(tee_snp_certs_parse(padded, size + 16, &again, NULL) == ERR_PROTO_MALFORMED);
		}
		free(padded);
	}
	free(copy);
	return 0;
}
