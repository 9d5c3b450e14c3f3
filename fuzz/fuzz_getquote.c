/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz dstack GetQuote / Tappd TdxQuote response JSON, then its event log, quote and claims as a verifier reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "dcap.h"
#include "enc.h"
#include "eventlog.h"
#include "getquote.h"
#include "json.h"

/*
 * attest_getquote_parse splits the response; what it accepts must come back
 * the same when written out again as text members. Its event log goes to
 * attest_eventlog_parse_json, its quote to dcap_quote_parse, and a TDX
 * report with the log to attest_claims_from_td (what `dstack-attest`
 * does with a GetQuote file).
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (64u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void put_hex_member(struct buf_writer *w, const char *key, const uint8_t *p, size_t n)
{
	char *dst;

	buf_printf(w, ",\"%s\":\"", key);
	dst = (char *)buf_reserve(w, 2 * n + 1);
	if (dst) {
		hex_encode(dst, p, n);
		buf_commit(w, 2 * n);
	}
	buf_put_u8(w, '"');
}

static void put_str_member(struct buf_writer *w, const char *key, const char *s, size_t n)
{
	buf_printf(w, ",\"%s\":", key);
	json_put_string(w, s, n);
}

static void check_parsed(const struct attest_getquote *g)
{
	check(g->quote_len || g->attestation_len);
	check(g->quote_len <= ATTEST_GETQUOTE_MAX_QUOTE && g->attestation_len <= ATTEST_GETQUOTE_MAX_QUOTE);
	check(!g->quote_len || g->quote);
	check(!g->attestation_len || g->attestation);
	check(g->report_data_len <= 64);
	check(g->event_log ? g->event_log[g->event_log_len] == 0 : g->event_log_len == 0);
	check(g->vm_config ? g->vm_config[g->vm_config_len] == 0 : g->vm_config_len == 0);
	check(!g->has_vm_os_image_hash || g->vm_config);
	if (!g->has_vm_os_image_hash)
		for (int i = 0; i < 32; i++)
			check(g->vm_os_image_hash[i] == 0);
}

/* Everything as text members (event_log / vm_config as strings) parses back to the same parts. */
static void roundtrip(const struct attest_getquote *g)
{
	struct attest_getquote again;
	struct buf_writer w;
	struct arena a;
	err_t rc;

	arena_init(&a, ARENA_BUDGET, 0);
	buf_writer_init(&w, 16u << 20);
	buf_put_str(&w, "{\"x\":null");
	if (g->quote_len)
		put_hex_member(&w, "quote", g->quote, g->quote_len);
	if (g->attestation_len)
		put_hex_member(&w, "attestation", g->attestation, g->attestation_len);
	if (g->report_data_len)
		put_hex_member(&w, "report_data", g->report_data, g->report_data_len);
	if (g->event_log)
		put_str_member(&w, "event_log", g->event_log, g->event_log_len);
	if (g->vm_config)
		put_str_member(&w, "vm_config", g->vm_config, g->vm_config_len);
	if (g->hash_algorithm)
		put_str_member(&w, "hash_algorithm", g->hash_algorithm, strlen(g->hash_algorithm));
	if (g->prefix)
		put_str_member(&w, "prefix", g->prefix, strlen(g->prefix));
	buf_put_u8(&w, '}');
	check(buf_writer_status(&w) == ERR_OK);
	rc = attest_getquote_parse((const char *)w.p, w.len, &a, &again, NULL);
	/* Re-escaping may grow a near-limit document past the text cap; nothing else may fail. */
	check(rc == ERR_OK || (w.len > ATTEST_GETQUOTE_MAX_TEXT && rc == ERR_PROTO_TOO_LARGE));
	if (rc == ERR_OK) {
		check(same_bytes(again.quote, again.quote_len, g->quote, g->quote_len));
		check(same_bytes(again.attestation, again.attestation_len, g->attestation, g->attestation_len));
		check(same_bytes(again.report_data, again.report_data_len, g->report_data, g->report_data_len));
		check(!g->event_log == !again.event_log &&
		      same_bytes(again.event_log, again.event_log_len, g->event_log, g->event_log_len));
		check(!g->vm_config == !again.vm_config &&
		      same_bytes(again.vm_config, again.vm_config_len, g->vm_config, g->vm_config_len));
		check(again.has_vm_os_image_hash == g->has_vm_os_image_hash &&
		      !memcmp(again.vm_os_image_hash, g->vm_os_image_hash, 32));
		check(!g->hash_algorithm || (again.hash_algorithm && !strcmp(again.hash_algorithm, g->hash_algorithm)));
		check(!g->prefix || (again.prefix && !strcmp(again.prefix, g->prefix)));
	}
	buf_writer_free(&w);
	arena_fini(&a);
}

/* The quote and the event log, as a verifier takes them apart (signatures are not checked here). */
static void evidence(const struct attest_getquote *g, struct arena *a)
{
	struct attest_eventlog log;
	struct dcap_quote q;
	struct attest_td_report td;
	struct attest_claims cl;
	const char *detail = NULL;
	int have_log = 0;
	err_t rc;

	if (g->event_log) {
		rc = attest_eventlog_parse_json(g->event_log, g->event_log_len, a, &log, &detail);
		check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_PROTO_TOO_LARGE || rc == ERR_BUDGET);
		have_log = rc == ERR_OK;
		if (have_log)
			check(log.n <= ATTEST_EVENTLOG_MAX_EVENTS && log.n_trusted <= log.n);
	}
	if (!g->quote_len)
		return;
	rc = dcap_quote_parse(g->quote, g->quote_len, &q, &detail);
	if (rc != ERR_OK) {
		check(err_group(rc) == ERR_ATTEST);
		return;
	}
	check(q.body && q.body + q.body_len <= g->quote + g->quote_len && q.signed_len <= g->quote_len);
	if (q.body_type != DCAP_BODY_TD10 && q.body_type != DCAP_BODY_TD15)
		return;
	dcap_td_report_decode(q.body, q.body_len, &td);
	rc = attest_claims_from_td(&td, have_log ? &log : NULL, NULL, 0, a, &cl, &detail);
	check(rc == ERR_OK || rc == ERR_ATTEST_RTMR_MISMATCH || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_BUDGET ||
	      rc == ERR_NOMEM);
	if (rc == ERR_OK) {
		check(cl.tee == ATTEST_TEE_TDX && cl.rtmr3_verified == have_log);
		check(!memcmp(cl.report_data, td.report_data, 64));
	}
	if (have_log) {
		/* The report's RTMR3 set to the replayed value must verify whatever the quote said. */
		memcpy(td.rtmr[3], log.rtmr[3], 48);
		rc = attest_claims_from_td(&td, &log, NULL, 0, a, &cl, &detail);
		check(rc == ERR_OK || rc == ERR_ATTEST_EVENT_LOG || rc == ERR_BUDGET || rc == ERR_NOMEM);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct attest_getquote g;
	const char *detail = NULL;
	err_t rc;

	arena_init(&a, ARENA_BUDGET, 0);
	rc = attest_getquote_parse((const char *)data, size, &a, &g, &detail);
	if (rc == ERR_OK) {
		check_parsed(&g);
		roundtrip(&g);
		evidence(&g, &a);
	} else {
		check(rc == ERR_PROTO_JSON || rc == ERR_PROTO_MALFORMED || rc == ERR_PROTO_FIELD_TYPE ||
		      rc == ERR_PROTO_ENCODING || rc == ERR_PROTO_TOO_LARGE || rc == ERR_BUDGET || rc == ERR_NOMEM);
		check(detail != NULL || rc == ERR_BUDGET || rc == ERR_NOMEM);
	}
	arena_fini(&a);
	return 0;
}
