/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the VersionedAttestation decoder (V0 SCALE, V1 msgpack): decode, check the limits, re-encode and decode again. */
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

static void check_events(const struct ratls_event *ev, size_t n)
{
	check(n <= RATLS_MAX_EVENTS);
	for (size_t i = 0; i < n; i++) {
		check(ev[i].name && ev[i].name[ev[i].name_len] == 0);
		check(ev[i].name_len <= ATTEST_EVENTLOG_MAX_NAME && ev[i].payload_len <= ATTEST_EVENTLOG_MAX_PAYLOAD);
		check(ev[i].version == 1 || ev[i].version == 2);
		check(ev[i].digest_len <= 64);
	}
}

static int same_events(const struct ratls_event *a, const struct ratls_event *b, size_t n, int with_digest)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].imr != b[i].imr || a[i].event_type != b[i].event_type || a[i].name_len != b[i].name_len ||
		    memcmp(a[i].name, b[i].name, a[i].name_len) != 0 || a[i].payload_len != b[i].payload_len ||
		    (a[i].payload_len && memcmp(a[i].payload, b[i].payload, a[i].payload_len) != 0) ||
		    (with_digest && (a[i].digest_len != b[i].digest_len ||
				     (a[i].digest_len && memcmp(a[i].digest, b[i].digest, a[i].digest_len) != 0))))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ratls_attestation a, b;
	struct buf_writer w;
	struct arena ar;
	err_t rc;

	arena_init(&ar, 64u << 20, 64u << 10);
	rc = ratls_attestation_decode(data, size, &ar, &a, NULL);
	if (rc != ERR_OK || (a.platform != RATLS_PLATFORM_TDX && a.platform != RATLS_PLATFORM_SEV_SNP)) {
		arena_fini(&ar);
		return 0;
	}
	check(a.version == 0 || a.version == 1);
	check(a.quote_len <= RATLS_QUOTE_MAX && a.n_cert_chain <= RATLS_MAX_CERTS);
	check(a.config && a.config[a.config_len] == 0);
	check_events(a.event_log, a.n_event_log);
	check_events(a.runtime_events, a.n_runtime_events);
	/* Re-encode in the same version: V0 is canonical, so its bytes must come back exactly. */
	buf_writer_init(&w, RATLS_ATTESTATION_MAX + 1);
	rc = ratls_attestation_encode(&a, &w);
	if (a.version == 0) {
		check(rc == ERR_OK);
		check(w.len == size && memcmp(w.p, data, size) == 0);
	} else if (rc == ERR_OK && !a.is_pod) {
		check(ratls_attestation_decode(w.p, w.len, &ar, &b, NULL) == ERR_OK);
		check(b.platform == a.platform && b.quote_len == a.quote_len &&
		      (!a.quote_len || memcmp(b.quote, a.quote, a.quote_len) == 0));
		check(memcmp(b.report_data, a.report_data, 64) == 0);
		check(b.config_len == a.config_len && memcmp(b.config, a.config, a.config_len) == 0);
		check(b.n_event_log == a.n_event_log && same_events(a.event_log, b.event_log, a.n_event_log, 1));
		check(b.n_runtime_events == a.n_runtime_events &&
		      same_events(a.runtime_events, b.runtime_events, a.n_runtime_events, 0));
	}
	buf_writer_free(&w);
	arena_fini(&ar);
	return 0;
}
