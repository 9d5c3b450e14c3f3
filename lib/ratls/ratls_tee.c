/* SPDX-License-Identifier: Apache-2.0 */
/* The quote function of lib/ratls over a lib/tee backend: evidence for RA-TLS certificates from this TEE. */
#include <stdlib.h>
#include <string.h>

#include "ratls.h"
#include "tee.h"

err_t ratls_tee_quote(void *arg, const uint8_t report_data[RATLS_REPORT_DATA_LEN], struct ratls_quote *out)
{
	struct tee *t = arg;
	struct tee_evidence ev;
	const char *detail = NULL;
	err_t err;

	memset(out, 0, sizeof(*out));
	memset(&ev, 0, sizeof(ev));
	if ((err = tee_quote_with_log(t, report_data, &ev, &detail)) != ERR_OK)
		return err;
	if (ev.platform != TEE_PLATFORM_TDX) {
		/* SEV-SNP certificates carry the report and its chain: not wired into RA-TLS yet. */
		tee_evidence_free(&ev);
		return ERR_UNIMPLEMENTED;
	}
	/* Hand the buffers over: both sides allocate with malloc. */
	out->quote = ev.quote;
	out->quote_len = ev.quote_len;
	out->event_log = ev.event_log;
	out->event_log_len = ev.event_log_len;
	ev.quote = NULL;
	ev.event_log = NULL;
	tee_evidence_free(&ev);
	return ERR_OK;
}
