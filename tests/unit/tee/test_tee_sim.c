/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for struct tee with the sim backend: verifiable quotes, RTMR3 replay, persistence, concurrency, config and name rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "claims.h"
#include "crypto.h"
#include "dcap.h"
#include "eventlog.h"
#include "file.h"
#include "tee.h"

/* ---- fixtures ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmpdir(char out[256])
{
	const char *base = getenv("TMPDIR");

	snprintf(out, 256, "%s/tee-sim-XXXXXX", base && base[0] ? base : "/tmp");
	assert_non_null(mkdtemp(out));
}

static struct tee *open_sim(const char *dir, unsigned version, const uint8_t *seed)
{
	struct tee_config c;
	struct tee *t = NULL;
	const char *detail = NULL;
	err_t rc;

	memset(&c, 0, sizeof(c));
	c.backend = "sim";
	c.state_dir = dir;
	c.event_version = version;
	c.sim_seed = seed;
	rc = tee_open(&c, &t, &detail);
	if (rc != ERR_OK)
		fprintf(stderr, "tee_open: %s (%s)\n", err_name(rc), detail ? detail : "");
	assert_int_equal(rc, ERR_OK);
	assert_non_null(t);
	return t;
}

static void extend_ok(struct tee *t, const char *name, const void *payload, size_t len)
{
	const char *detail = NULL;
	err_t rc = tee_extend_runtime_event(t, name, payload, len, &detail);

	if (rc != ERR_OK)
		fprintf(stderr, "extend %s: %s (%s)\n", name, err_name(rc), detail ? detail : "");
	assert_int_equal(rc, ERR_OK);
}

static void report_data_of(uint8_t rd[64], uint8_t b)
{
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(b + i);
}

/* RTMR i of a TDX quote (no verification). */
static void quote_rtmr(const uint8_t *q, size_t n, int i, uint8_t out[48])
{
	struct dcap_quote dq;
	struct attest_td_report td;

	assert_int_equal(dcap_quote_parse(q, n, &dq, NULL), ERR_OK);
	dcap_td_report_decode(dq.body, dq.body_len, &td);
	memcpy(out, td.rtmr[i], 48);
}

/*
 * Verify a sim quote the way a relying party configured with the dev root
 * would, then its event log: claims with the boot RTMRs checked too.
 */
static void verify_evidence(struct tee *t, const struct tee_evidence *ev, size_t want_runtime)
{
	const uint8_t *der = NULL;
	size_t der_len = 0, coll_len = 0;
	char *coll = NULL;
	uint64_t now = wall_s();
	struct dcap_collateral dc;
	struct attest_trust trust;
	struct attest_policy pol;
	struct attest_verdict v;
	struct attest_eventlog log;
	struct attest_claims cl;
	const char *detail = NULL;
	struct arena a;
	X509 *root;
	size_t n_rt = 0;

	assert_int_equal(tee_sim_dev_root_der(t, &der, &der_len), ERR_OK);
	root = x509_from_bytes(der, der_len);
	assert_non_null(root);
	assert_int_equal(tee_sim_collateral_json(t, now, &coll, &coll_len), ERR_OK);
	arena_init(&a, 32u << 20, 64u << 10);
	assert_int_equal(dcap_collateral_parse_json(coll, coll_len, &a, &dc, &detail), ERR_OK);
	memset(&trust, 0, sizeof(trust));
	memset(&pol, 0, sizeof(pol));
	trust.intel_dev_root = root;
	pol.expected_report_data = ev->report_data;
	assert_int_equal(dcap_verify(ev->quote, ev->quote_len, &dc, &trust, &pol, now, &a, &v), ERR_OK);
	assert_int_equal(v.dev, 1);
	assert_memory_equal(v.td.report_data, ev->report_data, 64);

	/* Without the dev root nothing verifies. */
	{
		struct attest_verdict v2;
		err_t rc;

		trust.intel_dev_root = NULL;
		rc = dcap_verify(ev->quote, ev->quote_len, &dc, &trust, &pol, now, &a, &v2);
		assert_true(rc == ERR_ATTEST_ROOT_UNTRUSTED || rc == ERR_ATTEST_DEV_ROOT);
	}

	assert_non_null(ev->event_log);
	assert_int_equal(strlen(ev->event_log), ev->event_log_len);
	assert_int_equal(attest_eventlog_parse_json(ev->event_log, ev->event_log_len, &a, &log, &detail), ERR_OK);
	assert_memory_equal(log.rtmr[3], v.td.rtmr[3], 48);
	for (size_t i = 0; i < log.n; i++)
		n_rt += log.events[i].imr == 3;
	assert_int_equal(n_rt, want_runtime);
	assert_int_equal(attest_claims_from_td(&v.td, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &a, &cl, &detail),
			 ERR_OK);
	assert_int_equal(cl.rtmr3_verified, 1);
	assert_int_equal(cl.boot_rtmrs_verified, 1);

	arena_fini(&a);
	free(coll);
	X509_free(root);
}

/* ---- quotes ---- */

static void test_sim_quote_verifies_and_replays(void **state)
{
	static const uint8_t app_id[20] = { 0xa1, 0xa2, 0xa3 };
	uint8_t compose[32], rd[64], q3[48];
	struct tee_evidence ev;
	struct tee_info info;
	struct attest_eventlog log;
	struct attest_claims cl;
	struct attest_verdict dummy;
	char dir[256];
	struct tee *t;
	struct arena a;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	memset(compose, 0xc0, sizeof(compose));

	/* No runtime events yet: RTMR3 is zero and the log has only boot events. */
	report_data_of(rd, 1);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	assert_int_equal(ev.platform, TEE_PLATFORM_TDX);
	assert_int_equal(ev.simulated, 1);
	verify_evidence(t, &ev, 0);
	quote_rtmr(ev.quote, ev.quote_len, 3, q3);
	assert_true(memcmp(q3, (uint8_t[48]){ 0 }, 48) == 0);
	tee_evidence_free(&ev);

	/* dstack's boot sequence, then an app event. */
	extend_ok(t, "system-preparing", NULL, 0);
	extend_ok(t, "app-id", app_id, sizeof(app_id));
	extend_ok(t, "compose-hash", compose, sizeof(compose));
	extend_ok(t, "instance-id", NULL, 0);
	extend_ok(t, "boot-mr-done", NULL, 0);
	extend_ok(t, "key-provider", "{\"name\":\"none\",\"id\":\"\"}", strlen("{\"name\":\"none\",\"id\":\"\"}"));
	extend_ok(t, "system-ready", NULL, 0);
	extend_ok(t, "app-event", "hello", 5);

	report_data_of(rd, 2);
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	verify_evidence(t, &ev, 8);

	/* The claims read the identity events from the log. */
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(ev.event_log, ev.event_log_len, &a, &log, NULL), ERR_OK);
	memset(&dummy, 0, sizeof(dummy));
	{
		struct dcap_quote dq;

		assert_int_equal(dcap_quote_parse(ev.quote, ev.quote_len, &dq, NULL), ERR_OK);
		dcap_td_report_decode(dq.body, dq.body_len, &dummy.td);
	}
	assert_int_equal(attest_claims_from_td(&dummy.td, &log, NULL, 0, &a, &cl, NULL), ERR_OK);
	assert_int_equal(cl.has_app_id, 1);
	assert_memory_equal(cl.app_id, app_id, 20);
	assert_int_equal(cl.has_compose_hash, 1);
	assert_memory_equal(cl.compose_hash, compose, 32);
	assert_int_equal(log.has_system_ready, 1);
	assert_int_equal(log.has_boot_mr_done, 1);
	arena_fini(&a);

	/* tee_quote alone gives the same registers. */
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	tee_evidence_free(&ev);
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_OK);
	assert_null(ev.event_log);
	quote_rtmr(ev.quote, ev.quote_len, 3, q3);
	assert_memory_equal(q3, info.rtmr[3], 48);
	assert_memory_equal(q3, info.log_rtmr[3], 48);
	tee_evidence_free(&ev);

	tee_close(t);
	rm_rf(dir);
}

/* The V1 digest is dstack's: SHA-384(u32le(0x08000001) ":" name ":" payload), and RTMR3 = extend from zero. */
static void test_sim_digest_is_dstacks(void **state)
{
	uint8_t pre[4 + 1 + 6 + 1 + 5] = { 0x01, 0x00, 0x00, 0x08, ':', 'a', 'p', 'p', '-', 'i', 'd', ':',
					   'h', 'e', 'l', 'l', 'o' };
	uint8_t d[48], mr[48] = { 0 }, cat[96];
	struct tee_info info;
	char dir[256];
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 1, NULL);
	extend_ok(t, "app-id", "hello", 5);
	sha384(pre, sizeof(pre), d);
	memcpy(cat, mr, 48);
	memcpy(cat + 48, d, 48);
	sha384(cat, 96, mr);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_memory_equal(info.rtmr[3], mr, 48);
	tee_close(t);
	rm_rf(dir);
}

static void test_sim_v2_events(void **state)
{
	uint8_t rd[64], q3[48];
	struct tee_evidence ev;
	struct attest_eventlog log;
	struct tee_info info;
	struct arena a;
	char dir[256];
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 2, NULL);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.event_version, 2);
	extend_ok(t, "system-preparing", NULL, 0);
	/* V2 digests have no ':' ambiguity, so the name may carry one; and JCS escapes. */
	extend_ok(t, "app:event \"q\"\n\xc3\xa9", "\x00\x01\x02", 3);
	report_data_of(rd, 3);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	assert_non_null(strstr(ev.event_log, "\"preimage\":"));
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(ev.event_log, ev.event_log_len, &a, &log, NULL), ERR_OK);
	assert_int_equal(log.events[log.n - 1].version, 2);
	assert_int_equal(log.events[log.n - 1].has_preimage, 1);
	quote_rtmr(ev.quote, ev.quote_len, 3, q3);
	assert_memory_equal(log.rtmr[3], q3, 48);
	arena_fini(&a);
	verify_evidence(t, &ev, 2);
	tee_evidence_free(&ev);
	tee_close(t);
	rm_rf(dir);
}

/* The JSON form: boot payloads dropped except the ACPI markers, runtime events with digest and payload. */
static void test_sim_event_log_shape(void **state)
{
	struct attest_eventlog log;
	struct tee_info info;
	struct arena a;
	char dir[256], *json = NULL;
	size_t len = 0, acpi = 0;
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	extend_ok(t, "app-event", "payload", 7);
	assert_int_equal(tee_event_log_json(t, &json, &len, NULL), ERR_OK);
	assert_int_equal(strlen(json), len);
	assert_int_equal(json[0], '[');
	assert_int_equal(json[len - 1], ']');
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(json, len, &a, &log, NULL), ERR_OK);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(log.n, info.n_boot_events + 1);
	assert_int_equal(info.n_boot_events, 13);
	for (size_t i = 0; i < log.n; i++) {
		const struct attest_event *e = &log.events[i];

		assert_int_equal(e->digest_given, 1);
		if (e->imr < 3 && e->payload_len) {
			assert_int_equal(e->event_type, 10);
			assert_memory_equal(e->payload, "ACPI DATA", 9);
			acpi++;
		}
	}
	assert_int_equal(acpi, 3);
	assert_int_equal(log.events[log.n - 1].payload_len, 7);
	assert_memory_equal(log.rtmr, info.log_rtmr, sizeof(log.rtmr));
	assert_memory_equal(info.rtmr, info.log_rtmr, sizeof(info.rtmr));
	assert_non_null(strstr(json, "\"event\":\"acpi-loader\""));
	free(json);
	arena_fini(&a);
	tee_close(t);
	rm_rf(dir);
}

static void test_sim_info(void **state)
{
	uint8_t seed[32];
	struct tee_info a, b;
	char d1[256], d2[256];
	struct tee *t1, *t2;

	(void)state;
	tmpdir(d1);
	tmpdir(d2);
	memset(seed, 0x42, sizeof(seed));
	t1 = open_sim(d1, 0, NULL);
	t2 = open_sim(d2, 0, seed);
	assert_int_equal(tee_info(t1, &a, NULL), ERR_OK);
	assert_int_equal(tee_info(t2, &b, NULL), ERR_OK);
	assert_string_equal(a.backend, "sim");
	assert_int_equal(a.simulated, 1);
	assert_int_equal(a.platform, TEE_PLATFORM_TDX);
	assert_int_equal(a.mr_mask, TEE_MR_MRTD | (0xfu << 1));
	assert_int_equal(a.n_runtime_events, 0);
	/* The seed is the platform: other seed, other MRTD and RTMR0-2. */
	assert_memory_not_equal(a.mrtd, b.mrtd, 48);
	assert_memory_not_equal(a.rtmr[0], b.rtmr[0], 48);
	assert_memory_not_equal(a.rtmr[2], b.rtmr[2], 48);
	tee_close(t1);
	tee_close(t2);
	/* ... and the same seed, the same ones. */
	rm_rf(d1);
	tmpdir(d1);
	t1 = open_sim(d1, 0, seed);
	assert_int_equal(tee_info(t1, &a, NULL), ERR_OK);
	assert_memory_equal(a.mrtd, b.mrtd, 48);
	assert_memory_equal(a.rtmr, b.rtmr, sizeof(a.rtmr));
	tee_close(t1);
	rm_rf(d1);
	rm_rf(d2);
}

/* ---- persistence ---- */

static void read_state(const char *dir, char **text, size_t *len)
{
	char path[512];
	struct buf_writer w;

	snprintf(path, sizeof(path), "%s/tee-state.json", dir);
	buf_writer_init(&w, 16u << 20);
	assert_int_equal(file_read_all(path, 16u << 20, 1, &w), ERR_OK);
	assert_non_null(buf_cstr(&w));
	*text = (char *)buf_take(&w, len);
}

static void write_state(const char *dir, const char *text, size_t len, mode_t mode)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/tee-state.json", dir);
	assert_int_equal(file_write_atomic(path, text, len, mode), ERR_OK);
}

static void test_sim_persistence(void **state)
{
	struct tee_info before, after;
	uint8_t other_seed[32], rd[64];
	struct tee_evidence ev;
	char dir[256], path[512], *log1 = NULL, *log2 = NULL;
	size_t l1 = 0, l2 = 0;
	struct tee_config c;
	const char *detail = NULL;
	struct stat st;
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	snprintf(path, sizeof(path), "%s/tee-state.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	extend_ok(t, "system-preparing", NULL, 0);
	extend_ok(t, "app-id", "01234567890123456789", 20);
	extend_ok(t, "boot-mr-done", NULL, 0);
	assert_int_equal(tee_info(t, &before, NULL), ERR_OK);
	assert_int_equal(tee_event_log_json(t, &log1, &l1, NULL), ERR_OK);
	tee_close(t);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A restarted process continues where the last one left off. */
	t = open_sim(dir, 0, NULL);
	assert_int_equal(tee_info(t, &after, NULL), ERR_OK);
	assert_int_equal(after.n_runtime_events, 3);
	assert_memory_equal(after.rtmr, before.rtmr, sizeof(after.rtmr));
	assert_int_equal(tee_event_log_json(t, &log2, &l2, NULL), ERR_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(log1, log2, l1);
	extend_ok(t, "system-ready", NULL, 0);
	report_data_of(rd, 9);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	verify_evidence(t, &ev, 4);
	tee_evidence_free(&ev);
	tee_close(t);

	/* One handle per state directory. */
	t = open_sim(dir, 0, NULL);
	{
		struct tee *t2 = NULL;

		memset(&c, 0, sizeof(c));
		c.backend = "sim";
		c.state_dir = dir;
		assert_int_equal(tee_open(&c, &t2, NULL), ERR_UNAVAILABLE);
		assert_null(t2);
	}
	tee_close(t);

	/* The state belongs to its seed. */
	memset(other_seed, 7, sizeof(other_seed));
	memset(&c, 0, sizeof(c));
	c.backend = "sim";
	c.state_dir = dir;
	c.sim_seed = other_seed;
	t = NULL;
	assert_int_equal(tee_open(&c, &t, &detail), ERR_ATTEST_RTMR_MISMATCH);
	assert_null(t);
	assert_non_null(detail);
	/* ... and to its backend. */
	c.backend = "sev-snp";
	c.sim_seed = NULL;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	free(log1);
	free(log2);
	rm_rf(dir);
}

static void test_sim_state_tampering(void **state)
{
	char dir[256], *text = NULL, *p;
	size_t len = 0;
	struct tee_config c;
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	extend_ok(t, "app-id", "01234567890123456789", 20);
	extend_ok(t, "compose-hash", "0123456789abcdef0123456789abcdef", 32);
	tee_close(t);
	read_state(dir, &text, &len);
	memset(&c, 0, sizeof(c));
	c.backend = "sim";
	c.state_dir = dir;

	/* Readable by others: refused. */
	write_state(dir, text, len, 0644);
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG_PERMS);

	/* A payload changed: its digest no longer matches. */
	p = strstr(text, "\"event_payload\":\"3031");
	assert_non_null(p);
	p[strlen("\"event_payload\":\"")] = '4';
	write_state(dir, text, len, 0600);
	assert_int_equal(tee_open(&c, &t, NULL), ERR_PROTO_MALFORMED);
	p[strlen("\"event_payload\":\"")] = '3';

	/* The recorded RTMR3 changed: the log does not replay to it. */
	p = strstr(text, "\"rtmr\":[");
	assert_non_null(p);
	p = strstr(p, "],\"events\"");
	assert_non_null(p);
	p[-2] = p[-2] == '0' ? '1' : '0';
	write_state(dir, text, len, 0600);
	assert_int_equal(tee_open(&c, &t, NULL), ERR_ATTEST_RTMR_MISMATCH);

	/* Not JSON at all. */
	write_state(dir, "{", 1, 0600);
	assert_int_equal(tee_open(&c, &t, NULL), ERR_PROTO_MALFORMED);
	/* An unknown member. */
	write_state(dir, "{\"x\":1}", 7, 0600);
	assert_int_equal(tee_open(&c, &t, NULL), ERR_PROTO_MALFORMED);
	free(text);
	rm_rf(dir);
}

/* ---- concurrency ---- */

#define N_WRITERS 4
#define N_EACH 20
#define N_QUOTES 8

struct conc {
	struct tee *t;
	int id;
	int failures;
};

static void *writer(void *arg)
{
	struct conc *c = arg;

	for (int i = 0; i < N_EACH; i++) {
		char name[32], payload[16];

		snprintf(name, sizeof(name), "w%d-e%d", c->id, i);
		snprintf(payload, sizeof(payload), "%d/%d", c->id, i);
		if (tee_extend_runtime_event(c->t, name, (const uint8_t *)payload, strlen(payload), NULL) != ERR_OK)
			c->failures++;
	}
	return NULL;
}

/* Every quote taken while writers run carries a log that replays to its RTMR3. */
static void *quoter(void *arg)
{
	struct conc *c = arg;
	struct arena a;

	arena_init(&a, 32u << 20, 0);
	for (int i = 0; i < N_QUOTES; i++) {
		struct tee_evidence ev;
		struct attest_eventlog log;
		uint8_t rd[64], q3[48];

		memset(&ev, 0, sizeof(ev));
		report_data_of(rd, (uint8_t)i);
		if (tee_quote_with_log(c->t, rd, &ev, NULL) != ERR_OK) {
			c->failures++;
			continue;
		}
		arena_reset(&a);
		quote_rtmr(ev.quote, ev.quote_len, 3, q3);
		if (attest_eventlog_parse_json(ev.event_log, ev.event_log_len, &a, &log, NULL) != ERR_OK ||
		    memcmp(log.rtmr[3], q3, 48) != 0)
			c->failures++;
		tee_evidence_free(&ev);
	}
	arena_fini(&a);
	return NULL;
}

static void test_sim_concurrent_extension(void **state)
{
	struct conc cs[N_WRITERS + 1];
	pthread_t th[N_WRITERS + 1];
	struct tee_info info, again;
	struct tee_evidence ev;
	struct attest_eventlog log;
	struct arena a;
	uint8_t rd[64], q3[48];
	char dir[256];
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	for (int i = 0; i <= N_WRITERS; i++) {
		cs[i].t = t;
		cs[i].id = i;
		cs[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, i < N_WRITERS ? writer : quoter, &cs[i]), 0);
	}
	for (int i = 0; i <= N_WRITERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(cs[i].failures, 0);
	}
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, N_WRITERS * N_EACH);
	report_data_of(rd, 0x77);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	arena_init(&a, 32u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(ev.event_log, ev.event_log_len, &a, &log, NULL), ERR_OK);
	quote_rtmr(ev.quote, ev.quote_len, 3, q3);
	assert_memory_equal(log.rtmr[3], q3, 48);
	assert_memory_equal(info.rtmr[3], q3, 48);
	/* Each writer's events are in its own order. */
	for (int w = 0; w < N_WRITERS; w++) {
		int next = 0;

		for (size_t i = 0; i < log.n; i++) {
			char want[32];

			snprintf(want, sizeof(want), "w%d-e%d", w, next);
			if (log.events[i].name_len == strlen(want) && memcmp(log.events[i].name, want, strlen(want)) == 0)
				next++;
		}
		assert_int_equal(next, N_EACH);
	}
	arena_fini(&a);
	tee_evidence_free(&ev);
	tee_close(t);
	/* What was persisted is the same log. */
	t = open_sim(dir, 0, NULL);
	assert_int_equal(tee_info(t, &again, NULL), ERR_OK);
	assert_int_equal(again.n_runtime_events, N_WRITERS * N_EACH);
	assert_memory_equal(again.rtmr[3], info.rtmr[3], 48);
	tee_close(t);
	rm_rf(dir);
}

/* ---- configuration and event rules ---- */

static void test_config_errors(void **state)
{
	struct tee_config c;
	struct tee *t = NULL;
	const char *detail = NULL;
	char dir[256], missing[300];

	(void)state;
	tmpdir(dir);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	/* There is no default backend. */
	assert_int_equal(tee_open(&c, &t, &detail), ERR_CONFIG);
	assert_non_null(detail);
	c.backend = "";
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	c.backend = "tpm";
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	c.backend = "SIM";
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	c.backend = "sim";
	c.state_dir = NULL;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	c.state_dir = "";
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	c.state_dir = missing;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_NOT_FOUND);
	c.state_dir = dir;
	c.event_version = 3;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	c.event_version = 2;
	c.quote_timeout_ms = TEE_MAX_QUOTE_TIMEOUT_MS + 1;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_CONFIG);
	assert_null(t);
	c.quote_timeout_ms = TEE_MAX_QUOTE_TIMEOUT_MS;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_OK);
	tee_close(t);
	tee_close(NULL);
	rm_rf(dir);
}

static void test_event_rules(void **state)
{
	static uint8_t big[TEE_MAX_EVENT_PAYLOAD + 1];
	char name[TEE_MAX_EVENT_NAME + 2];
	struct tee_info info;
	const char *detail = NULL;
	char dir[256];
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 1, NULL);
	assert_int_equal(tee_extend_runtime_event(t, "", NULL, 0, &detail), ERR_INVALID_ARG);
	assert_int_equal(tee_extend_runtime_event(t, NULL, NULL, 0, NULL), ERR_INVALID_ARG);
	assert_int_equal(tee_extend_runtime_event(t, "x", NULL, 3, NULL), ERR_INVALID_ARG);
	detail = NULL;
	assert_int_equal(tee_extend_runtime_event(t, "a:b", (const uint8_t *)"c", 1, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "':'"));
	assert_int_equal(tee_extend_runtime_event(t, "bad\xff", NULL, 0, NULL), ERR_INVALID_ARG);
	assert_int_equal(tee_extend_runtime_event(t, "surrogate\xed\xa0\x80", NULL, 0, NULL), ERR_INVALID_ARG);
	memset(name, 'n', sizeof(name));
	name[TEE_MAX_EVENT_NAME + 1] = '\0';
	assert_int_equal(tee_extend_runtime_event(t, name, NULL, 0, NULL), ERR_INVALID_ARG);
	name[TEE_MAX_EVENT_NAME] = '\0';
	extend_ok(t, name, NULL, 0);
	assert_int_equal(tee_extend_runtime_event(t, "big", big, sizeof(big), NULL), ERR_PROTO_TOO_LARGE);
	extend_ok(t, "big", big, sizeof(big) - 1);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 2);
	tee_close(t);
	rm_rf(dir);
}

static void test_log_full(void **state)
{
	struct tee_info info;
	char dir[256], name[32];
	struct tee *t;

	(void)state;
	tmpdir(dir);
	t = open_sim(dir, 0, NULL);
	for (int i = 0; i < TEE_MAX_RUNTIME_EVENTS; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		extend_ok(t, name, NULL, 0);
	}
	assert_int_equal(tee_extend_runtime_event(t, "one-more", NULL, 0, NULL), ERR_PROTO_TOO_LARGE);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, TEE_MAX_RUNTIME_EVENTS);
	tee_close(t);
	/* The full log reloads. */
	t = open_sim(dir, 0, NULL);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, TEE_MAX_RUNTIME_EVENTS);
	tee_close(t);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_quote_verifies_and_replays),
		cmocka_unit_test(test_sim_digest_is_dstacks),
		cmocka_unit_test(test_sim_v2_events),
		cmocka_unit_test(test_sim_event_log_shape),
		cmocka_unit_test(test_sim_info),
		cmocka_unit_test(test_sim_persistence),
		cmocka_unit_test(test_sim_state_tampering),
		cmocka_unit_test(test_sim_concurrent_extension),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_event_rules),
		cmocka_unit_test(test_log_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
