/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the CCEL-to-event-log path of the tdx backend: CCEL -> TdxEvent JSON -> the verifier's parser, same registers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "tee_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (64u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

/*
 * Whatever CCEL the firmware hands us, tee_boot_json either refuses it or
 * produces JSON that attest_eventlog_parse_json accepts with the same events
 * (IMR, type, digest, name) and the same RTMR replay, with boot payloads
 * dropped except RTMR0's "ACPI DATA" markers.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a, b;
	struct attest_eventlog ccel, back;
	struct buf_writer w, text;
	const char *detail = NULL;
	err_t rc;

	arena_init(&a, ARENA_BUDGET, 0);
	arena_init(&b, ARENA_BUDGET, 0);
	buf_writer_init(&w, ATTEST_EVENTLOG_MAX_TEXT);
	buf_writer_init(&text, ATTEST_EVENTLOG_MAX_TEXT + 2);
	if (attest_ccel_parse(data, size, &a, &ccel, NULL) != ERR_OK)
		goto out;
	rc = tee_boot_json(&ccel, &w, &detail);
	check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_PROTO_TOO_LARGE || rc == ERR_BUDGET);
	if (rc != ERR_OK) {
		check(detail != NULL || rc == ERR_BUDGET);
		goto out;
	}
	buf_put_u8(&text, '[');
	buf_put(&text, w.p, w.len);
	buf_put_u8(&text, ']');
	check(buf_writer_status(&text) == ERR_OK);
	check(attest_eventlog_parse_json((const char *)text.p, text.len, &b, &back, NULL) == ERR_OK);
	check(back.n == ccel.n);
	check(memcmp(back.rtmr, ccel.rtmr, sizeof(back.rtmr)) == 0);
	for (size_t i = 0; i < ccel.n; i++) {
		const struct attest_event *x = &ccel.events[i], *y = &back.events[i];

		check(x->imr <= 2 && y->imr == x->imr && y->event_type == x->event_type);
		check(memcmp(x->digest, y->digest, ATTEST_RTMR_LEN) == 0 && y->extended == x->extended);
		check(y->name_len == x->name_len && (x->name_len == 0 || memcmp(x->name, y->name, x->name_len) == 0));
		if (y->payload_len) {
			check(x->imr == 0 && x->event_type == 10 && y->payload_len == 9);
			check(memcmp(y->payload, "ACPI DATA", 9) == 0);
		}
	}
out:
	buf_writer_free(&w);
	buf_writer_free(&text);
	arena_fini(&a);
	arena_fini(&b);
	return 0;
}
