/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for QE identity JSON (bare or PCS response) and the dcap-qvl collateral JSON that carries it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (4u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_parsed(const struct dcap_qe_identity *q)
{
	check(q->version == 2 && q->id >= DCAP_QE_ID_QE && q->id <= DCAP_QE_ID_TD_QE);
	check(q->n_levels >= 1 && q->issue_date <= q->next_update);
	for (size_t i = 0; i < q->n_levels; i++) {
		check(q->levels[i].status == TCB_UP_TO_DATE || q->levels[i].status == TCB_OUT_OF_DATE ||
		      q->levels[i].status == TCB_REVOKED);
		if (i)
			check(q->levels[i - 1].isvsvn >= q->levels[i].isvsvn);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct dcap_qe_identity q;
	struct dcap_collateral c;
	const char *detail = NULL, *inner = NULL;
	size_t inner_len = 0;
	uint8_t sig[64];

	arena_init(&a, ARENA_BUDGET, 0);
	if (dcap_qe_identity_parse((const char *)data, size, &a, &q, &detail) == ERR_OK)
		check_parsed(&q);
	else
		check(detail != NULL);
	arena_reset(&a);
	if (dcap_pcs_qe_identity_parse((const char *)data, size, &a, &inner, &inner_len, sig, &detail) == ERR_OK) {
		check(inner >= (const char *)data && inner + inner_len <= (const char *)data + size);
		if (dcap_qe_identity_parse(inner, inner_len, &a, &q, &detail) == ERR_OK)
			check_parsed(&q);
	}
	arena_reset(&a);
	if (dcap_collateral_parse_json((const char *)data, size, &a, &c, &detail) == ERR_OK) {
		check(c.tcb_info && c.qe_identity && c.root_ca_crl && c.pck_crl);
		if (dcap_qe_identity_parse(c.qe_identity, c.qe_identity_len, &a, &q, &detail) == ERR_OK)
			check_parsed(&q);
	}
	arena_fini(&a);
	return 0;
}
