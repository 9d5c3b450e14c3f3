/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the KMS audit-log reader (length-prefixed OnboardingRecord protobufs, torn tail). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kms_audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t records = 0, torn = 0;
	err_t err = kms_audit_parse(data, size, &records, &torn);

	/* A torn tail is never longer than the input, and whole records plus the tail never overrun it. */
	if (torn > size || (err == ERR_OK && records > size / 4 + 1)) {
		fprintf(stderr, "invariant: records %zu torn %zu size %zu\n", records, torn, size);
		abort();
	}
	return 0;
}
