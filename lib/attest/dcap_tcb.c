/* SPDX-License-Identifier: Apache-2.0 */
/* TCB evaluation: TDX module identity, TCB level matching, and the status merge (dcap-qvl worst-of, or Intel's convergence). */
#include "dcap.h"

#include <string.h>
#include <strings.h>

static err_t fail(const char **detail, err_t e, const char *why)
{
	if (detail)
		*detail = why;
	return e;
}

/* "TDX_%02X" compared case-insensitively, as Intel's findTdxModuleIdentity does. */
static const struct dcap_tdx_module *find_module(const struct dcap_tcb_info *ti, uint8_t ver)
{
	static const char hexd[] = "0123456789ABCDEF";
	char want[7] = { 'T', 'D', 'X', '_', hexd[ver >> 4], hexd[ver & 15], 0 };

	for (size_t i = 0; i < ti->n_module_ids; i++)
		if (strcasecmp(ti->module_ids[i].id, want) == 0)
			return &ti->module_ids[i];
	return NULL;
}

static int sgx_match(const struct dcap_tcb_level *l, const struct dcap_pck_info *pck)
{
	if (pck->pcesvn < l->pcesvn)
		return 0;
	for (int i = 0; i < 16; i++)
		if (pck->cpusvn[i] < l->sgx[i])
			return 0;
	return 1;
}

static int tdx_match(const struct dcap_tcb_level *l, const uint8_t tee[16], int from)
{
	for (int i = from; i < 16; i++)
		if (tee[i] < l->tdx[i])
			return 0;
	return 1;
}

/* Intel's convergence of a TCB level status with a module or QE status of OutOfDate / Revoked. */
static enum tcb_status converge(enum tcb_status st, enum tcb_status other)
{
	if (other == TCB_OUT_OF_DATE) {
		if (st == TCB_UP_TO_DATE || st == TCB_SW_HARDENING_NEEDED)
			return TCB_OUT_OF_DATE;
		if (st == TCB_CONFIGURATION_NEEDED || st == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	if (other == TCB_REVOKED)
		return TCB_REVOKED;
	return st;
}

static int config_needed(enum tcb_status s)
{
	return s == TCB_CONFIGURATION_NEEDED || s == TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
	       s == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED || s == TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/*
 * Intel's TD relaunch check (TD 1.5 only): a platform whose TDX TCB is out
 * of date only because the running TD was launched on an older module, while
 * TEE_TCB_SVN2 shows the current module already reaches the latest level.
 */
static err_t td_relaunch(const struct dcap_tcb_info *ti, const uint8_t tee2[16], enum tcb_status sgx_st,
			 enum tcb_status tdx_st, enum tcb_status module_st, enum tcb_status qe_st,
			 enum tcb_status *out, const char **detail)
{
	const struct dcap_tcb_level *latest = &ti->levels[0];
	int reaches;

	*out = tdx_st;
	if (qe_st == TCB_OUT_OF_DATE || qe_st == TCB_REVOKED)
		return ERR_OK;
	if (sgx_st != TCB_UP_TO_DATE && sgx_st != TCB_SW_HARDENING_NEEDED && sgx_st != TCB_CONFIGURATION_NEEDED &&
	    sgx_st != TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
		return ERR_OK;
	if (tdx_st != TCB_OUT_OF_DATE && tdx_st != TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)
		return ERR_OK;
	if (module_st != TCB_OUT_OF_DATE)
		return ERR_OK;
	if (tee2[1] == 0) {
		reaches = tee2[0] >= latest->tdx[0] && tee2[2] >= latest->tdx[2];
	} else {
		const struct dcap_tdx_module *m2 = find_module(ti, tee2[1]);

		if (!m2)
			return fail(detail, ERR_ATTEST_TDX_MODULE, "no TDX module identity for TEE_TCB_SVN2's module version");
		if (m2->n_levels == 0)
			return fail(detail, ERR_ATTEST_TCB_NOT_SUPPORTED, "TDX module identity has no TCB levels");
		reaches = tee2[0] >= m2->levels[0].isvsvn && tee2[2] >= latest->tdx[2];
	}
	if (reaches)
		*out = config_needed(sgx_st) || config_needed(tdx_st) ? TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
								     : TCB_TD_RELAUNCH_ADVISED;
	return ERR_OK;
}

err_t dcap_tcb_evaluate(const struct dcap_tcb_info *ti, const struct dcap_qe_level *ql, const struct dcap_pck_info *pck,
			const struct attest_td_report *td, enum dcap_body_type body, enum attest_tcb_mode mode,
			struct dcap_tcb_eval *r, const char **detail)
{
	const struct dcap_module_level *ml = NULL;
	int is_tdx = td != NULL;
	size_t i, sgx_i = SIZE_MAX, tdx_i = SIZE_MAX;

	memset(r, 0, sizeof(*r));
	/* A TDX quote against SGX TCB info would match on zero TDX components; never let that through. */
	if ((ti->id == DCAP_TCB_ID_TDX) != is_tdx)
		return fail(detail, ERR_ATTEST_TCB_INFO_MISMATCH, "TCB info id does not match the quote's TEE type");
	if (ti->n_levels == 0)
		return fail(detail, ERR_ATTEST_TCB_NOT_SUPPORTED, "TCB info has no TCB levels");
	r->qe = ql->status;
	r->qe_adv = &ql->adv;

	if (is_tdx) {
		uint8_t ver = td->tee_tcb_svn[1], isvsvn = td->tee_tcb_svn[0];
		const struct dcap_tdx_module *m;
		int attr_ok = 1;

		m = ver == 0 ? &ti->tdx_module : find_module(ti, ver);
		if (!m)
			return fail(detail, ERR_ATTEST_TDX_MODULE, "no tdxModuleIdentities entry for the TDX module version");
		if (memcmp(td->mrsignerseam, m->mrsigner, 48) != 0)
			return fail(detail, ERR_ATTEST_TDX_MODULE, "MRSIGNERSEAM does not match the TDX module identity");
		for (int k = 0; k < 8; k++) {
			uint8_t a = td->seam_attributes[k], mask = m->attributes_mask[k], exp = m->attributes[k];

			if (mode == ATTEST_TCB_INTEL) {
				/* Intel: SEAMATTRIBUTES must be zero and match. */
				if (a != 0 || (a & mask) != (exp & mask))
					attr_ok = 0;
			} else if ((a & mask) != (exp & mask) || (a & (uint8_t)~mask) != 0) {
				attr_ok = 0;
			}
		}
		if (!attr_ok)
			return fail(detail, ERR_ATTEST_TDX_MODULE, "SEAMATTRIBUTES do not match the TDX module identity");
		if (ver > 0) {
			for (i = 0; i < m->n_levels; i++)
				if (m->levels[i].isvsvn <= isvsvn)
					break;
			if (i == m->n_levels)
				return fail(detail, ERR_ATTEST_TCB_NOT_SUPPORTED,
					    "TDX module ISVSVN is below every module TCB level");
			ml = &m->levels[i];
			r->has_module = 1;
			r->module = ml->status;
			r->module_adv = &ml->adv;
		}
	}

	/* Step 12: levels are sorted highest first; take the first the platform reaches. */
	for (i = 0; i < ti->n_levels; i++) {
		const struct dcap_tcb_level *l = &ti->levels[i];

		if (!sgx_match(l, pck))
			continue;
		if (sgx_i == SIZE_MAX)
			sgx_i = i;
		if (!is_tdx)
			break;
		/* dcap-qvl compares all 16 TDX components; Intel skips the first two for a versioned module. */
		if (tdx_match(l, td->tee_tcb_svn, mode == ATTEST_TCB_INTEL && td->tee_tcb_svn[1] > 0 ? 2 : 0)) {
			tdx_i = i;
			break;
		}
	}
	if (sgx_i == SIZE_MAX || (is_tdx && tdx_i == SIZE_MAX))
		return fail(detail, ERR_ATTEST_TCB_NOT_SUPPORTED, "no TCB level matches the platform");
	{
		const struct dcap_tcb_level *pl_level = &ti->levels[is_tdx ? tdx_i : sgx_i];

		r->platform = pl_level->status;
		r->platform_adv = &pl_level->adv;
	}

	if (mode != ATTEST_TCB_INTEL) {
		/* dcap-qvl: the worst of the three by severity. */
		r->merged = r->platform;
		if (r->has_module && r->module > r->merged)
			r->merged = r->module;
		if (r->qe > r->merged)
			r->merged = r->qe;
		return ERR_OK;
	}

	/* Intel: converge the module status into the TDX status, maybe advise a relaunch, then converge the QE. */
	{
		enum tcb_status st = r->platform;

		if (is_tdx) {
			enum tcb_status module_st = r->has_module ? r->module : TCB_UP_TO_DATE;

			st = converge(st, module_st);
			if (st != TCB_REVOKED && body == DCAP_BODY_TD15) {
				err_t err = td_relaunch(ti, td->tee_tcb_svn2, ti->levels[sgx_i].status, st, module_st, r->qe,
							&st, detail);
				if (err)
					return err;
			}
		}
		r->merged = st == TCB_REVOKED ? st : converge(st, r->qe);
	}
	return ERR_OK;
}

