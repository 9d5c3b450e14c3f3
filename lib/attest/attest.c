/* SPDX-License-Identifier: Apache-2.0 */
/* Names for the shared attestation enums (TCB statuses, TEE and report types) and the strict status parser. */
#include "attest.h"

#include <string.h>

/* Indexed by enum tcb_status; the spelling is Intel's, as it appears in TCB info JSON. */
static const char *const tcb_status_names[TCB_STATUS_COUNT] = {
	[TCB_UP_TO_DATE] = "UpToDate",
	[TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
	[TCB_OUT_OF_DATE] = "OutOfDate",
	[TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
	[TCB_REVOKED] = "Revoked",
	[TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
	[TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] = "TDRelaunchAdvisedConfigurationNeeded",
};

const char *tcb_status_name(enum tcb_status s)
{
	if ((unsigned)s >= TCB_STATUS_COUNT)
		return "Unknown";
	return tcb_status_names[s];
}

int tcb_status_parse(const char *s, size_t len)
{
	if (!s)
		return -1;
	for (int i = 0; i < TCB_STATUS_COUNT; i++) {
		size_t n = strlen(tcb_status_names[i]);
		/* Exact, case-sensitive: Intel's parser does the same, and a near miss is an unknown value. */
		if (n == len && memcmp(tcb_status_names[i], s, n) == 0)
			return i;
	}
	return -1;
}

const char *attest_tee_name(enum attest_tee t)
{
	switch (t) {
	case ATTEST_TEE_SGX:
		return "sgx";
	case ATTEST_TEE_TDX:
		return "tdx";
	case ATTEST_TEE_SEV_SNP:
		return "sev-snp";
	case ATTEST_TEE_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *attest_report_type_name(enum attest_report_type t)
{
	/* dcap-qvl's report type names, so verdict JSON compares mechanically. */
	switch (t) {
	case ATTEST_REPORT_SGX:
		return "sgx";
	case ATTEST_REPORT_TD10:
		return "td10";
	case ATTEST_REPORT_TD15:
		return "td15";
	case ATTEST_REPORT_SNP:
		return "snp";
	case ATTEST_REPORT_NONE:
		break;
	}
	return "none";
}
