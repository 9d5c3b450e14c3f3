/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the CCEL (TCG crypto-agile) boot log parser: bounds, replay consistency, prefix behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (16u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_log(const struct attest_eventlog *log, const uint8_t *data, size_t size)
{
	uint8_t mr[4][48];

	memset(mr, 0, sizeof(mr));
	check(log->n <= ATTEST_EVENTLOG_MAX_EVENTS && log->n_trusted == log->n);
	for (size_t i = 0; i < log->n; i++) {
		const struct attest_event *e = &log->events[i];

		check(e->imr <= 3 && e->digest_given && e->version == 0);
		check(e->extended == (e->event_type != ATTEST_EV_NO_ACTION));
		check(e->payload_len <= ATTEST_CCEL_MAX_EVENT);
		/* Payloads are views of the input. */
		check(e->payload >= data && e->payload_len <= size && (size_t)(e->payload - data) <= size - e->payload_len);
		if (e->extended)
			attest_rtmr_extend(mr[e->imr], e->digest);
	}
	check(memcmp(mr, log->rtmr, sizeof(mr)) == 0);
	check(memcmp(log->rtmr3_boot, log->rtmr[3], 48) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct attest_eventlog log, again;
	uint8_t *copy;
	err_t rc;

	arena_init(&a, ARENA_BUDGET, 0);
	rc = attest_ccel_parse(data, size, &a, &log, NULL);
	check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_PROTO_TOO_LARGE || rc == ERR_BUDGET);
	if (rc == ERR_OK && size <= ATTEST_CCEL_MAX_LEN - 4) {
		check_log(&log, data, size);
		/* An end marker appended changes nothing. */
		copy = malloc(size + 4);
		check(copy != NULL);
		memcpy(copy, data, size);
		memset(copy + size, 0xff, 4);
		check(attest_ccel_parse(copy, size + 4, &a, &again, NULL) == ERR_OK);
		check(again.n == log.n && memcmp(again.rtmr, log.rtmr, sizeof(log.rtmr)) == 0);
		free(copy);
	}
	arena_fini(&a);
	return 0;
}
