/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for TCB info JSON (bare tcbInfo object or a PCS response), then TCB evaluation against fixed platforms. */
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

static void check_parsed(const struct dcap_tcb_info *ti)
{
	check(ti->version == 2 || ti->version == 3);
	check(ti->n_levels >= 1 && ti->n_levels <= DCAP_MAX_TCB_LEVELS);
	check(ti->issue_date <= ti->next_update);
	check(ti->tcb_type == 0);
	for (size_t i = 0; i < ti->n_levels; i++) {
		check((unsigned)ti->levels[i].status <= TCB_REVOKED);
		for (size_t k = 0; k < ti->levels[i].adv.n; k++)
			check(ti->levels[i].adv.ids[k] != NULL);
	}
	for (size_t m = 0; m < ti->n_module_ids; m++) {
		check(ti->module_ids[m].n_levels >= 1);
		for (size_t i = 1; i < ti->module_ids[m].n_levels; i++)
			check(ti->module_ids[m].levels[i - 1].isvsvn >= ti->module_ids[m].levels[i].isvsvn);
	}
}

/* Run the matcher in both modes for a few platforms built from the input's last bytes. */
static void evaluate(const struct dcap_tcb_info *ti, const uint8_t *data, size_t size)
{
	struct dcap_qe_level qe;
	struct dcap_pck_info pck;
	struct attest_td_report td;
	struct dcap_tcb_eval ev;
	uint8_t seed = size ? data[size - 1] : 0;

	memset(&qe, 0, sizeof(qe));
	memset(&pck, 0, sizeof(pck));
	memset(&td, 0, sizeof(td));
	qe.status = (enum tcb_status)(seed % 3 == 0 ? TCB_UP_TO_DATE : seed % 3 == 1 ? TCB_OUT_OF_DATE : TCB_REVOKED);
	for (int i = 0; i < 16; i++) {
		pck.cpusvn[i] = pck.comp[i] = (uint8_t)(seed + i * 7);
		td.tee_tcb_svn[i] = td.tee_tcb_svn2[i] = (uint8_t)(seed * 3 + i);
	}
	pck.pcesvn = (uint16_t)(seed * 5);
	memcpy(td.mrsignerseam, ti->tdx_module.mrsigner, 48);
	for (int mode = ATTEST_TCB_DCAP_QVL; mode <= ATTEST_TCB_INTEL; mode++) {
		for (int body = DCAP_BODY_TD10; body <= DCAP_BODY_TD15; body++) {
			const char *detail = NULL;
			err_t err = dcap_tcb_evaluate(ti, &qe, &pck, ti->id == DCAP_TCB_ID_TDX ? &td : NULL,
						      ti->id == DCAP_TCB_ID_TDX ? (enum dcap_body_type)body : DCAP_BODY_SGX,
						      (enum attest_tcb_mode)mode, &ev, &detail);

			if (err)
				check(detail != NULL && err_group(err) == ERR_ATTEST);
			else
				check((unsigned)ev.merged < TCB_STATUS_COUNT && ev.platform_adv && ev.qe_adv);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct dcap_tcb_info ti;
	const char *detail = NULL, *inner = NULL;
	size_t inner_len = 0;
	uint8_t sig[64];

	arena_init(&a, ARENA_BUDGET, 0);
	if (dcap_tcb_info_parse((const char *)data, size, &a, &ti, &detail) == ERR_OK) {
		check_parsed(&ti);
		evaluate(&ti, data, size);
	} else {
		check(detail != NULL);
	}
	arena_reset(&a);
	if (dcap_pcs_tcb_info_parse((const char *)data, size, &a, &inner, &inner_len, sig, &detail) == ERR_OK) {
		check(inner >= (const char *)data && inner + inner_len <= (const char *)data + size);
		if (dcap_tcb_info_parse(inner, inner_len, &a, &ti, &detail) == ERR_OK) {
			check_parsed(&ti);
			evaluate(&ti, data, size);
		}
	}
	arena_fini(&a);
	return 0;
}
