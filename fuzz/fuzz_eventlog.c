/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for dstack's JSON event log: parse + replay as given, and V1/V2 events built from the input round-tripped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "crypto.h"
#include "enc.h"
#include "eventlog.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (64u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static int is_runtime(const struct attest_event *e)
{
	return e->imr == 3 && e->event_type == ATTEST_RUNTIME_EVENT_TYPE;
}

/* Everything a successful parse promises, re-derived independently of the parser's own bookkeeping. */
static void check_log(const struct attest_eventlog *log)
{
	uint8_t mr[4][48], d[48];
	size_t ready = log->n;

	memset(mr, 0, sizeof(mr));
	check(log->n <= ATTEST_EVENTLOG_MAX_EVENTS && log->n_trusted <= log->n);
	for (size_t i = 0; i < log->n; i++) {
		const struct attest_event *e = &log->events[i];

		check(e->imr <= 3);
		check(e->name_len <= ATTEST_EVENTLOG_MAX_NAME && e->payload_len <= ATTEST_EVENTLOG_MAX_PAYLOAD);
		check(e->name[e->name_len] == 0);
		if (is_runtime(e)) {
			check(e->version == 1 || e->version == 2);
			if (e->version == 1)
				attest_event_digest_v1(e->name, e->name_len, e->payload, e->payload_len, d);
			else
				check(attest_event_digest_v2(e->name, e->name_len, e->payload, e->payload_len, d) == ERR_OK);
			check(memcmp(d, e->digest, 48) == 0);
			if (ready == log->n && e->name_len == 12 && memcmp(e->name, "system-ready", 12) == 0)
				ready = i;
		} else {
			check(e->imr < 3 && e->digest_given && e->version == 0);
		}
		if (e->extended)
			attest_rtmr_extend(mr[e->imr], e->digest);
	}
	check(memcmp(mr, log->rtmr, sizeof(mr)) == 0);
	check(ready == log->n_trusted);
	check(log->has_boot_mr_done || memcmp(log->rtmr3_boot, log->rtmr[3], 48) == 0);
	for (size_t i = log->n_trusted; i < log->n; i++)
		check(attest_eventlog_find(log, log->events[i].name) != &log->events[i]);
}

/* Claims over a log whose RTMR3 the report carries never fail the RTMR check. */
static void check_claims(const struct attest_eventlog *log, struct arena *a)
{
	struct attest_td_report td;
	struct attest_claims cl;
	err_t rc;

	memset(&td, 0, sizeof(td));
	memcpy(td.rtmr, log->rtmr, sizeof(td.rtmr));
	rc = attest_claims_from_td(&td, log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, a, &cl, NULL);
	check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_BUDGET || rc == ERR_NOMEM);
	if (rc == ERR_OK) {
		check(cl.rtmr3_verified && cl.has_mr_aggregated_boot);
		check(!cl.has_instance_id || cl.instance_id_len == 0 || cl.instance_id_len == 20);
	}
	td.rtmr[3][0] ^= 1;
	check(attest_claims_from_td(&td, log, NULL, 0, a, &cl, NULL) == ERR_ATTEST_RTMR_MISMATCH);
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n)
{
	uint8_t *dst = buf_reserve(w, 2 * n + 1);

	if (dst) {
		hex_encode((char *)dst, p, n);
		buf_commit(w, 2 * n);
	}
}

/*
 * One runtime event with the given name and payload, as JSON: version 0 (absent), 1 or 2; with the
 * digest and/or the preimage when asked.
 */
static void build_event(struct buf_writer *w, const char *name, size_t name_len, const uint8_t *p, size_t n,
			int version, int with_digest, int with_pre)
{
	struct buf_writer pre;
	uint8_t d[48];

	buf_writer_init(&pre, 1u << 20);
	if (version == 2) {
		check(attest_event_preimage_v2(name, name_len, p, n, &pre) == ERR_OK);
		sha384(pre.p, pre.len, d);
	} else {
		uint8_t t[4] = { 0x01, 0x00, 0x00, 0x08 };

		buf_put(&pre, t, 4);
		buf_put(&pre, ":", 1);
		buf_put(&pre, name, name_len);
		buf_put(&pre, ":", 1);
		buf_put(&pre, p, n);
		check(buf_writer_status(&pre) == ERR_OK);
		attest_event_digest_v1(name, name_len, p, n, d);
	}
	buf_put_str(w, "[{\"imr\":3,\"event_type\":134217729,\"event\":");
	json_put_string(w, name, name_len);
	buf_put_str(w, ",\"event_payload\":\"");
	put_hex(w, p, n);
	buf_put_str(w, "\"");
	if (with_digest) {
		buf_put_str(w, ",\"digest\":\"");
		put_hex(w, d, 48);
		buf_put_str(w, "\"");
	}
	if (with_pre) {
		buf_put_str(w, ",\"preimage\":\"");
		put_hex(w, pre.p, pre.len);
		buf_put_str(w, "\"");
	}
	if (version)
		buf_printf(w, ",\"version\":%d", version);
	buf_put_str(w, "}]");
	buf_writer_free(&pre);
}

/*
 * Name and payload from the input; the name is first made valid UTF-8 by a JSON round trip
 * (json_put_string replaces invalid bytes), then every version/digest/preimage combination
 * must parse to the same digest.
 */
static void roundtrip(const uint8_t *data, size_t size, struct arena *a)
{
	struct buf_writer w;
	struct json_value *v = NULL;
	struct attest_eventlog log;
	size_t k = size ? data[0] : 0;   /* names up to 255 bytes, payloads up to 512: cheap enough per run */
	const char *name;
	size_t name_len;
	const uint8_t *p;
	size_t n;

	if (k > size)
		k = size;
	buf_writer_init(&w, 8u << 20);
	json_put_string(&w, (const char *)data, k);
	check(buf_writer_status(&w) == ERR_OK);
	check(json_parse((const char *)w.p, w.len, NULL, a, &v, NULL) == ERR_OK && v->type == JSON_STRING);
	name = v->u.str.s;
	name_len = v->u.str.len;
	p = data + k;
	n = MIN(size - k, (size_t)512);
	for (int version = 0; version <= 2; version++) {
		for (int mask = 0; mask < 4; mask++) {
			err_t rc;

			buf_writer_clear(&w);
			build_event(&w, name, name_len, p, n, version, mask & 1, mask & 2);
			check(buf_writer_status(&w) == ERR_OK);
			rc = attest_eventlog_parse_json((const char *)w.p, w.len, a, &log, NULL);
			if (name_len > ATTEST_EVENTLOG_MAX_NAME || n > ATTEST_EVENTLOG_MAX_PAYLOAD) {
				check(rc == ERR_PROTO_TOO_LARGE);
				continue;
			}
			check(rc == ERR_OK);
			check(log.n == 1 && log.events[0].version == (version == 2 ? 2 : 1));
			check(log.events[0].name_len == name_len && memcmp(log.events[0].name, name, name_len) == 0);
			check_log(&log);
		}
	}
	buf_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct attest_eventlog log;
	err_t rc;

	arena_init(&a, ARENA_BUDGET, 0);
	rc = attest_eventlog_parse_json((const char *)data, size, &a, &log, NULL);
	check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_PROTO_TOO_LARGE || rc == ERR_BUDGET);
	if (rc == ERR_OK) {
		struct attest_eventlog again;
		struct attest_event *ev = malloc(log.n ? log.n * sizeof(*ev) : 1);

		check_log(&log);
		check_claims(&log, &a);
		/* The same events handed over pre-decoded replay identically. */
		check(ev != NULL);
		if (log.n)
			memcpy(ev, log.events, log.n * sizeof(*ev));
		for (size_t i = 0; i < log.n; i++)
			ev[i].digest_given = ev[i].imr < 3;
		check(attest_eventlog_from_events(ev, log.n, &again, NULL) == ERR_OK);
		check(memcmp(again.rtmr, log.rtmr, sizeof(log.rtmr)) == 0 &&
		      memcmp(again.rtmr3_boot, log.rtmr3_boot, 48) == 0 && again.n_trusted == log.n_trusted);
		free(ev);
	}
	arena_reset(&a);
	roundtrip(data, size, &a);
	arena_fini(&a);
	return 0;
}
