/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for dstack claims (RTMR checks, identity events, mr_system / mr_aggregated, BootInfo), report-data binding and GetQuote parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "enc.h"
#include "eventlog.h"
#include "getquote.h"

/* From tests/data/eventlog/expected.json (gen.py: Python hashlib over the real quotes and logs). */
#define LITE_MR_SYSTEM "118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70"
#define LITE_MR_AGG "c758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee"
#define LITE_MR_AGG_BOOT "f4e6117e0fdea4b23b5f32a2a59e7b7b99b64df237a9536fb2cb5ca2a270145e"
#define LITE_MR_KP "4facf64384bf715c05d4dbf0251d72ebe32be4ec4c84ddc01548d70e21d3a512"
#define LITE_APP_ID "86b0e55f2fa8e4fb69d890f14f54d5612707646e"
#define LITE_COMPOSE "86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9"
#define LITE_INSTANCE "050bf89570575fe8fab4cb8f0a62a9e64efe8ead"
#define LITE_OS_IMAGE "07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d"
#define LITE_KP_ID \
	"3059301306072a8648ce3d020106082a8648ce3d030107034200042f71e234d7339a1ceaca09c3c391eb816c533f980adaab34f16ead093ff0ac100d9c03253a3056f6d27735125433180b3e61c54a78f3fd13337869e0051dee06"
#define LITE_RTMR3_BOOT "f3358e2e735973e425869f2985a5f469e59a116352fa1156ad34c8a10a93b27e614b2cf2d8319fb25405e553a8b05626"

#define TAPPD_MR_SYSTEM "1544901edf4014300be5da32d6664c5c59c25e0d7d098ff307c71e93eb318588"
#define TAPPD_MR_AGG "538189ebbef154bffebf0e0570fb65dcfd0674cd8f26e5520901e5f6cd57f21b"
#define TAPPD_MR_AGG_BOOT "cd2c7f9e5cdb43474a753e758303477ca59dec0c19caa867aba97a44c649010c"
#define TAPPD_MR_KP "29689b965b7797705d40da6b8c73bf8f084ac90791259d0104af74e268c1622d"
#define TAPPD_APP_ID "06768e6df639ce3be65e9e5321f8b2d82dbffb01"
#define TAPPD_COMPOSE "06768e6df639ce3be65e9e5321f8b2d82dbffb01c74323462d34c2feb9653aff"
#define TAPPD_INSTANCE "9ba3255b85b26ec04b5ce853056f7651144ff3b5"

#define V2_RTMR0 "333abdb0e64a464db12392e8727b6999054a0504f8626861a24bc80160bae10823a5b1b21de50195ac20e0860f01de6f"
#define V2_RTMR1 "ee4763bee81a29b0f290c834c8fc5a13720ee3f2f7be395ec3dfec6c3094485553877ce6482b2a45697053bb6005c128"
#define V2_RTMR2 "2383e07225edc6ef8b20a948bded803ae274d50c3dc77096b41b7d5a62b73f5065dac8ecdb050e882b63a35f3c1396b0"
#define V2_RTMR3 "51db2d5e870aeb3befc354b86ecaa49d9fb1399c21cba6187c0b8fe0ec364cad3ac223ed4788cfd3435714eabea6597a"
#define V2_MR_SYSTEM "5fb832ae02baf9efaf76f48fd5876a572d250a58aaf013ac9114cf62f995ab62"
#define V2_MR_AGG "237fe6a20bccc66eefdfab9dd8cfa6f04de29535126bcbad703062b43fb24236"
#define V2_MR_AGG_BOOT "a411a104606a1ae47b45458abeedf65bdc4508c74557897d6dfb9c6ddf93ff2f"
#define V2_MR_AGG_CFG "dfcfa5e7e0de75b415551a76f01862eb5d1b1df2d30adb6407439a1d7b85530c"
#define V2_COMPOSE "f9ab3d1c0b1dd61872e937d6a4f77475c7e64d764fc1fc6c308180f0367a4ca5"

#define RT "134217729"
#define EV3(name, payload) "{\"imr\":3,\"event_type\":" RT ",\"event\":\"" name "\",\"event_payload\":\"" payload "\"}"

struct ctx {
	struct arena a;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	arena_init(&c->a, 64u << 20, 64u << 10);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	arena_fini(&c->a);
	free(c);
	return 0;
}

static char *read_data(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", DS_EVENTLOG_DATA, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static void unhex(const char *hex, uint8_t *out, size_t want)
{
	size_t n = 0;

	assert_int_equal(hex_decode(out, want, &n, hex, strlen(hex), 0), ERR_OK);
	assert_int_equal(n, want);
}

static void assert_hex(const uint8_t *got, const char *hex)
{
	uint8_t want[128];
	size_t n = strlen(hex) / 2;

	unhex(hex, want, n);
	assert_memory_equal(got, want, n);
}

/* TD 1.0 body fields of a v4 quote at the offsets of the reference (body at 48). */
static void td_from_quote(const uint8_t *q, size_t len, struct attest_td_report *td)
{
	const uint8_t *b = q + 48;

	assert_true(len >= 48 + 584);
	memset(td, 0, sizeof(*td));
	memcpy(td->mrtd, b + 136, 48);
	memcpy(td->mrconfigid, b + 184, 48);
	memcpy(td->mrowner, b + 232, 48);
	memcpy(td->mrownerconfig, b + 280, 48);
	for (int i = 0; i < 4; i++)
		memcpy(td->rtmr[i], b + 328 + 48 * i, 48);
	memcpy(td->report_data, b + 520, 64);
}

/* Parse a fixture into its report and event log. */
static void load_fixture(struct ctx *c, const char *file, struct attest_td_report *td, struct attest_eventlog *log)
{
	struct attest_getquote g;
	size_t len = 0;
	char *text = read_data(file, &len);

	assert_int_equal(attest_getquote_parse(text, len, &c->a, &g, NULL), ERR_OK);
	free(text);
	td_from_quote(g.quote, g.quote_len, td);
	assert_int_equal(attest_eventlog_parse_json(g.event_log, g.event_log_len, &c->a, log, NULL), ERR_OK);
}

static void test_real_head(void **state)
{
	struct ctx *c = *state;
	struct attest_td_report td;
	struct attest_eventlog log;
	struct attest_claims cl;
	const char *detail = NULL;

	load_fixture(c, "tdx-lite-getquote.json", &td, &log);
	assert_int_equal(attest_claims_from_td(&td, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &c->a, &cl, &detail),
			 ERR_OK);
	assert_int_equal(cl.tee, ATTEST_TEE_TDX);
	assert_true(cl.rtmr3_verified);
	assert_true(cl.boot_rtmrs_verified);
	assert_false(cl.has_tcb);
	assert_true(cl.has_app_id);
	assert_hex(cl.app_id, LITE_APP_ID);
	assert_true(cl.has_compose_hash);
	assert_hex(cl.compose_hash, LITE_COMPOSE);
	assert_true(cl.has_instance_id);
	assert_int_equal(cl.instance_id_len, 20);
	assert_hex(cl.instance_id, LITE_INSTANCE);
	assert_true(cl.has_os_image_hash);
	assert_hex(cl.os_image_hash, LITE_OS_IMAGE);
	assert_true(cl.has_key_provider);
	assert_string_equal(cl.key_provider_name, "kms");
	assert_string_equal(cl.key_provider_id, LITE_KP_ID);
	assert_hex(cl.mr_key_provider, LITE_MR_KP);
	assert_hex(cl.mr_system, LITE_MR_SYSTEM);
	assert_hex(cl.mr_aggregated, LITE_MR_AGG);
	assert_true(cl.has_mr_aggregated_boot);
	assert_hex(cl.mr_aggregated_boot, LITE_MR_AGG_BOOT);
	assert_true(cl.has_rtmr3_boot);
	assert_hex(cl.rtmr3_boot, LITE_RTMR3_BOOT);
	assert_false(cl.has_device_id);
	/* MRCONFIGID v1 binds the compose hash, as the VMM writes it. */
	assert_int_equal(cl.mrconfigid[0], 1);
	assert_memory_equal(cl.mrconfigid + 1, cl.compose_hash, 32);
	assert_memory_equal(cl.report_data, "dip1::secp256k1c-pk:", 20);
}

static void test_real_v1(void **state)
{
	struct ctx *c = *state;
	struct attest_td_report td;
	struct attest_eventlog log;
	struct attest_claims cl;

	load_fixture(c, "tappd-v1-report.json", &td, &log);
	assert_int_equal(attest_claims_from_td(&td, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &c->a, &cl, NULL),
			 ERR_OK);
	assert_hex(cl.app_id, TAPPD_APP_ID);
	assert_hex(cl.compose_hash, TAPPD_COMPOSE);
	assert_hex(cl.instance_id, TAPPD_INSTANCE);
	assert_false(cl.has_os_image_hash);
	assert_string_equal(cl.key_provider_name, "kms");
	assert_hex(cl.mr_key_provider, TAPPD_MR_KP);
	assert_hex(cl.mr_system, TAPPD_MR_SYSTEM);
	assert_hex(cl.mr_aggregated, TAPPD_MR_AGG);
	assert_hex(cl.mr_aggregated_boot, TAPPD_MR_AGG_BOOT);
}

static void test_rtmr_mismatch(void **state)
{
	struct ctx *c = *state;
	struct attest_td_report td, bad;
	struct attest_eventlog log;
	struct attest_claims cl;
	const char *detail = NULL;

	load_fixture(c, "tdx-lite-getquote.json", &td, &log);
	for (int i = 0; i < 4; i++) {
		bad = td;
		bad.rtmr[i][47] ^= 1;
		detail = NULL;
		assert_int_equal(attest_claims_from_td(&bad, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &c->a, &cl,
						       &detail), ERR_ATTEST_RTMR_MISMATCH);
		assert_non_null(detail);
		assert_true(strstr(detail, i == 3 ? "RTMR3" : "RTMR") != NULL);
		/* Without the boot flag only RTMR3 is compared. */
		assert_int_equal(attest_claims_from_td(&bad, &log, NULL, 0, &c->a, &cl, NULL),
				 i == 3 ? ERR_ATTEST_RTMR_MISMATCH : ERR_OK);
	}
	/* The boot flag needs a log; no log at all means no RTMR3 claim and no identity. */
	assert_int_equal(attest_claims_from_td(&td, NULL, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &c->a, &cl, NULL),
			 ERR_INVALID_ARG);
	assert_int_equal(attest_claims_from_td(&td, NULL, NULL, 0, &c->a, &cl, NULL), ERR_OK);
	assert_false(cl.rtmr3_verified);
	assert_false(cl.has_app_id);
	assert_false(cl.has_mr_aggregated_boot);
	assert_hex(cl.mr_aggregated, LITE_MR_AGG);
}

/* A copy of s with the first `old` replaced by `new_` (caller frees). */
static char *replace_once(const char *s, const char *old, const char *new_)
{
	const char *at = strstr(s, old);
	size_t ls = strlen(s), lo = strlen(old), ln = strlen(new_);
	char *r;

	if (!at)
		fail_msg("'%s' not in text", old);
	r = malloc(ls - lo + ln + 1);
	assert_non_null(r);
	memcpy(r, s, (size_t)(at - s));
	memcpy(r + (at - s), new_, ln);
	memcpy(r + (at - s) + ln, at + lo, ls - (size_t)(at - s) - lo + 1);
	return r;
}

/* A log tampered in payload, name or order still parses (no digests to check) but no longer matches the quote. */
static void test_tampered_log(void **state)
{
	static const char *const edits[][2] = {
		{ "2573d54e0d2ddaaade77caa9\"", "2573d54e0d2ddaaade77caa8\"" },
		{ "\"storage-fs\"", "\"storage-fx\"" },
		{ "\"event\":\"system-preparing\",\"event_payload\":\"\"", "\"event\":\"system-preparing\",\"event_payload\":\"00\"" },
		/* order: boot-mr-done and os-image-hash swap names and payloads */
		{ "\"boot-mr-done\",\"event_payload\":\"\"},{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"os-image-hash\",\"event_payload\":\"" LITE_OS_IMAGE "\"",
		  "\"os-image-hash\",\"event_payload\":\"" LITE_OS_IMAGE "\"},{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"boot-mr-done\",\"event_payload\":\"\"" },
	};
	struct ctx *c = *state;
	struct attest_getquote g;
	struct attest_td_report td;
	struct attest_eventlog log;
	struct attest_claims cl;
	size_t len = 0;
	char *text = read_data("tdx-lite-getquote.json", &len);

	assert_int_equal(attest_getquote_parse(text, len, &c->a, &g, NULL), ERR_OK);
	free(text);
	td_from_quote(g.quote, g.quote_len, &td);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *t = replace_once(g.event_log, edits[i][0], edits[i][1]);
		const char *detail = NULL;

		assert_int_equal(attest_eventlog_parse_json(t, strlen(t), &c->a, &log, NULL), ERR_OK);
		assert_int_equal(attest_claims_from_td(&td, &log, NULL, 0, &c->a, &cl, &detail), ERR_ATTEST_RTMR_MISMATCH);
		assert_string_equal(detail, "RTMR3 does not match the event log replay");
		free(t);
	}
}

static void test_ccel_boot_log(void **state)
{
	struct ctx *c = *state;
	struct attest_td_report td;
	struct attest_eventlog log, ccel;
	struct attest_claims cl;
	const char *detail = NULL;
	size_t len = 0;
	char *bin = read_data("ccel-tappd.bin", &len);

	load_fixture(c, "tappd-v1-report.json", &td, &log);
	assert_int_equal(attest_ccel_parse((const uint8_t *)bin, len, &c->a, &ccel, NULL), ERR_OK);
	assert_int_equal(attest_claims_from_td(&td, &log, &ccel, 0, &c->a, &cl, NULL), ERR_OK);
	assert_true(cl.boot_rtmrs_verified);
	/* A changed digest in the CCEL: RTMR0 mismatch. Offset: header (0x41 bytes) + first record's digest. */
	bin[0x41 + 14] ^= 1;
	assert_int_equal(attest_ccel_parse((const uint8_t *)bin, len, &c->a, &ccel, NULL), ERR_OK);
	assert_int_equal(attest_claims_from_td(&td, &log, &ccel, 0, &c->a, &cl, &detail), ERR_ATTEST_RTMR_MISMATCH);
	assert_string_equal(detail, "RTMR0 does not match the boot log replay");
	free(bin);
}

static void v2_report(struct attest_td_report *td)
{
	memset(td, 0, sizeof(*td));
	for (int i = 0; i < 48; i++)
		td->mrtd[i] = (uint8_t)i;
	unhex(V2_RTMR0, td->rtmr[0], 48);
	unhex(V2_RTMR1, td->rtmr[1], 48);
	unhex(V2_RTMR2, td->rtmr[2], 48);
	unhex(V2_RTMR3, td->rtmr[3], 48);
}

static void test_formulas(void **state)
{
	struct ctx *c = *state;
	struct attest_td_report td;
	struct attest_eventlog log;
	struct attest_claims cl;
	size_t len = 0;
	char *text = read_data("v2-eventlog.json", &len);

	assert_int_equal(attest_eventlog_parse_json(text, len, &c->a, &log, NULL), ERR_OK);
	free(text);
	v2_report(&td);
	assert_int_equal(attest_claims_from_td(&td, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &c->a, &cl, NULL),
			 ERR_OK);
	assert_hex(cl.mr_system, V2_MR_SYSTEM);
	assert_hex(cl.mr_aggregated, V2_MR_AGG);
	assert_hex(cl.mr_aggregated_boot, V2_MR_AGG_BOOT);
	assert_hex(cl.app_id, "0102030405060708090a0b0c0d0e0f1011121314");
	/* A non-zero MRCONFIGID is appended with MROWNER and MROWNERCONFIG. */
	td.mrconfigid[0] = 1;
	unhex(V2_COMPOSE, td.mrconfigid + 1, 32);
	assert_int_equal(attest_claims_from_td(&td, &log, NULL, 0, &c->a, &cl, NULL), ERR_OK);
	assert_hex(cl.mr_aggregated, V2_MR_AGG_CFG);
	assert_hex(cl.mr_system, V2_MR_SYSTEM);
}

/* Claims from a small synthetic log whose RTMR3 the report carries. */
static err_t claims_for(struct ctx *c, const char *json, struct attest_claims *cl)
{
	struct attest_eventlog log;
	struct attest_td_report td;

	assert_int_equal(attest_eventlog_parse_json(json, strlen(json), &c->a, &log, NULL), ERR_OK);
	memset(&td, 0, sizeof(td));
	memcpy(td.rtmr[3], log.rtmr[3], 48);
	return attest_claims_from_td(&td, &log, NULL, 0, &c->a, cl, NULL);
}

#define H20 "0000000000000000000000000000000000000000"
#define H32 "0000000000000000000000000000000000000000000000000000000000000000"

static void test_identity_events(void **state)
{
	struct ctx *c = *state;
	struct attest_claims cl;
	uint8_t z[32] = { 0 };

	/* Wrong sizes. */
	assert_int_equal(claims_for(c, "[" EV3("app-id", "00") "]", &cl), ERR_ATTEST_EVENT_LOG);
	assert_int_equal(claims_for(c, "[" EV3("compose-hash", H20) "]", &cl), ERR_ATTEST_EVENT_LOG);
	assert_int_equal(claims_for(c, "[" EV3("instance-id", "00") "]", &cl), ERR_ATTEST_EVENT_LOG);
	assert_int_equal(claims_for(c, "[" EV3("os-image-hash", "") "]", &cl), ERR_ATTEST_EVENT_LOG);
	/* Duplicates before system-ready; after it they are ignored. */
	assert_int_equal(claims_for(c, "[" EV3("app-id", H20) "," EV3("app-id", H20) "]", &cl), ERR_ATTEST_EVENT_LOG);
	assert_int_equal(claims_for(c, "[" EV3("key-provider", "7b7d") "," EV3("key-provider", "7b7d") "]", &cl),
			 ERR_ATTEST_EVENT_LOG);
	assert_int_equal(claims_for(c, "[" EV3("app-id", H20) "," EV3("system-ready", "") "," EV3("app-id", "11" H20 "")
				    "]", &cl), ERR_OK);
	/* An app-id only after system-ready is no claim. */
	assert_int_equal(claims_for(c, "[" EV3("system-ready", "") "," EV3("app-id", H20) "]", &cl), ERR_OK);
	assert_false(cl.has_app_id);
	/* Empty instance id (no_instance_id); no key provider: zero mr_key_provider. */
	assert_int_equal(claims_for(c, "[" EV3("instance-id", "") "]", &cl), ERR_OK);
	assert_true(cl.has_instance_id);
	assert_int_equal(cl.instance_id_len, 0);
	assert_false(cl.has_key_provider);
	assert_memory_equal(cl.mr_key_provider, z, 32);
	/* Old images: upgraded-app-id is the compose hash. */
	assert_int_equal(claims_for(c, "[" EV3("upgraded-app-id", "11" "00000000000000000000000000000000000000000000000000000000000000") "]", &cl),
			 ERR_OK);
	assert_true(cl.has_compose_hash);
	assert_int_equal(cl.compose_hash[0], 0x11);
	/* Key provider info that is not {"name","id"}: bytes kept, fields NULL. 7b7d = "{}", 5b5d = "[]". */
	assert_int_equal(claims_for(c, "[" EV3("key-provider", "7b7d") "]", &cl), ERR_OK);
	assert_true(cl.has_key_provider);
	assert_int_equal(cl.key_provider_info_len, 2);
	assert_null(cl.key_provider_name);
	assert_int_equal(claims_for(c, "[" EV3("key-provider", "ff") "]", &cl), ERR_OK);
	assert_null(cl.key_provider_name);
	/* {"name":"none","id":""} */
	assert_int_equal(claims_for(c, "[" EV3("key-provider", "7b226e616d65223a226e6f6e65222c226964223a22227d") "]", &cl),
			 ERR_OK);
	assert_string_equal(cl.key_provider_name, "none");
	assert_string_equal(cl.key_provider_id, "");
}

static void test_snp(void **state)
{
	struct attest_snp_report snp;
	struct attest_claims cl;

	(void)state;
	memset(&snp, 0, sizeof(snp));
	memset(snp.measurement, 1, 48);
	memset(snp.host_data, 2, 32);
	memset(snp.chip_id, 3, 64);
	attest_claims_from_snp(&snp, &cl);
	assert_int_equal(cl.tee, ATTEST_TEE_SEV_SNP);
	assert_hex(cl.mr_aggregated, "757124737830a70ef899ad3ebff1130ea530a871e7a9c83c217c5207c392c6e0");
	assert_true(cl.has_device_id);
	assert_hex(cl.device_id, "6aa56c4bcd208911792ad24c7681fefb93bed51903afc54860c9bd37e41e5a31");
	assert_memory_equal(cl.snp_host_data, snp.host_data, 32);
}

static void test_verdict_and_boot_info(void **state)
{
	static const char *adv[2] = { "INTEL-SA-00837", "INTEL-SA-00960" };
	struct ctx *c = *state;
	struct attest_verdict *v = calloc(1, sizeof(*v));
	struct attest_eventlog log;
	struct attest_claims cl;
	struct attest_boot_info bi;
	struct buf_writer w;
	char want[4096];

	assert_non_null(v);
	load_fixture(c, "tdx-lite-getquote.json", &v->td, &log);
	v->err = ERR_OK;
	v->tee = ATTEST_TEE_TDX;
	v->report_type = ATTEST_REPORT_TD10;
	v->dev = 1;
	v->has_ppid = 1;
	for (int i = 0; i < 16; i++)
		v->ppid[i] = (uint8_t)i;
	v->tcb.status = TCB_OUT_OF_DATE;
	v->tcb.advisory_ids = adv;
	v->tcb.n_advisory_ids = 2;
	assert_int_equal(attest_claims_from_verdict(v, &log, NULL, 0, &c->a, &cl, NULL), ERR_OK);
	assert_true(cl.dev);
	assert_true(cl.has_tcb);
	assert_int_equal(cl.tcb_status, TCB_OUT_OF_DATE);
	assert_int_equal(cl.n_advisory_ids, 2);
	assert_string_equal(cl.advisory_ids[1], "INTEL-SA-00960");
	assert_ptr_not_equal(cl.advisory_ids[1], adv[1]);
	assert_true(cl.has_device_id);
	assert_hex(cl.device_id, "be45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a8991");

	attest_claims_boot_info(&cl, 0, &bi);
	buf_writer_init(&w, 1 << 16);
	assert_int_equal(attest_boot_info_json(&bi, &w), ERR_OK);
	snprintf(want, sizeof(want),
		 "{\"teeVariant\":\"dstack-tdx\",\"mrAggregated\":\"%s\",\"osImageHash\":\"%s\",\"mrSystem\":\"%s\","
		 "\"appId\":\"%s\",\"composeHash\":\"%s\",\"instanceId\":\"%s\",\"deviceId\":\"%s\","
		 "\"keyProviderInfo\":\"%s\",\"tcbStatus\":\"OutOfDate\",\"advisoryIds\":[\"INTEL-SA-00837\","
		 "\"INTEL-SA-00960\"]}",
		 LITE_MR_AGG, LITE_OS_IMAGE, LITE_MR_SYSTEM, LITE_APP_ID, LITE_COMPOSE, LITE_INSTANCE,
		 "be45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a8991",
		 "7b226e616d65223a226b6d73222c226964223a22"
		 "33303539333031333036303732613836343863653364303230313036303832613836343863653364303330313037303334"
		 "32303030343266373165323334643733333961316365616361303963336333393165623831366335333366393830616461"
		 "616233346631366561643039336666306163313030643963303332353361333035366636643237373335313235343333"
		 "313830623365363163353461373866336664313333333738363965303035316465653036227d");
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(w.p, want, w.len);
	/* The boot-time variant carries the truncated replay. */
	attest_claims_boot_info(&cl, 1, &bi);
	assert_hex(bi.mr_aggregated, LITE_MR_AGG_BOOT);
	buf_writer_free(&w);

	/* Refusals. */
	v->err = ERR_ATTEST_TCB_STATUS;
	assert_int_equal(attest_claims_from_verdict(v, &log, NULL, 0, &c->a, &cl, NULL), ERR_ATTEST_TCB_STATUS);
	v->err = ERR_OK;
	v->report_type = ATTEST_REPORT_SGX;
	assert_int_equal(attest_claims_from_verdict(v, &log, NULL, 0, &c->a, &cl, NULL), ERR_ATTEST_TEE_TYPE);
	v->report_type = ATTEST_REPORT_TD15;
	v->td.rtmr[3][0] ^= 1;
	assert_int_equal(attest_claims_from_verdict(v, &log, NULL, 0, &c->a, &cl, NULL), ERR_ATTEST_RTMR_MISMATCH);

	/* SNP: variant name, no mr_system. */
	memset(v, 0, sizeof(*v));
	v->tee = ATTEST_TEE_SEV_SNP;
	v->report_type = ATTEST_REPORT_SNP;
	v->tcb.status = TCB_UP_TO_DATE;
	assert_int_equal(attest_claims_from_verdict(v, NULL, NULL, 0, &c->a, &cl, NULL), ERR_OK);
	attest_claims_boot_info(&cl, 1, &bi);
	assert_string_equal(bi.tee_variant, "dstack-amd-sev-snp");
	assert_int_equal(bi.mr_system_len, 0);
	assert_int_equal(bi.mr_aggregated_len, 32);
	assert_string_equal(bi.tcb_status, "UpToDate");
	free(v);
}

static void test_report_data(void **state)
{
	static const uint8_t spki[2] = { 1, 2 };
	uint8_t out[64];

	(void)state;
	attest_ratls_report_data(spki, 2, out);
	assert_hex(out, "c39a56ed249af2cb373cb23756a8e6a064912f0686e55a10fb61aa563c53f88b"
			"5599c037982e8c21adae55a07d6896110d7fb3c373528d93d92227aabbd1e21f");
	attest_report_data_tagged("app-data", "hello", 5, out);
	assert_hex(out, "e39fd3dbee991d65e65cc38c6e9d664324929816279a19b495bcd3f77a62d819"
			"49ba61282d8a732916d39bb9f6a6a16d11211c0d800b6ffc56ecf74419a7c835");
}

static void test_getquote(void **state)
{
	struct ctx *c = *state;
	struct attest_getquote g;
	const char *detail = NULL;
	size_t len = 0;
	char *text = read_data("tdx-lite-getquote.json", &len);

	assert_int_equal(attest_getquote_parse(text, len, &c->a, &g, &detail), ERR_OK);
	free(text);
	assert_int_equal(g.quote_len, 5006);
	assert_int_equal(g.quote[0], 4);
	assert_int_equal(g.report_data_len, 64);
	assert_memory_equal(g.report_data, "dip1::secp256k1c-pk:", 20);
	assert_memory_equal(g.report_data, g.quote + 568, 64);
	assert_int_equal(g.event_log[0], '[');
	assert_non_null(g.vm_config);
	assert_true(g.has_vm_os_image_hash);
	assert_hex(g.vm_os_image_hash, "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db");
	assert_null(g.hash_algorithm);

	text = read_data("tappd-v1-report.json", &len);
	assert_int_equal(attest_getquote_parse(text, len, &c->a, &g, NULL), ERR_OK);
	free(text);
	assert_string_equal(g.hash_algorithm, "raw");
	assert_string_equal(g.prefix, "");
	assert_null(g.vm_config);
	assert_false(g.has_vm_os_image_hash);

	/* Inline JSON instead of JSON text; 0x prefix; short report data. */
	{
		static const char inl[] = "{\"quote\":\"0x0400\",\"event_log\":[ {\"a\":1} ],\"vm_config\":{\"os_image_hash\":"
					  "\"" H32 "\"},\"report_data\":\"01\"}";

		assert_int_equal(attest_getquote_parse(inl, strlen(inl), &c->a, &g, NULL), ERR_OK);
		assert_int_equal(g.quote_len, 2);
		assert_string_equal(g.event_log, "[ {\"a\":1} ]");
		assert_true(g.has_vm_os_image_hash);
		assert_int_equal(g.report_data_len, 1);
	}
	{
		static const struct {
			const char *in;
			err_t want;
		} bad[] = {
			{ "", ERR_PROTO_JSON },
			{ "{\"quote\":\"00\"", ERR_PROTO_JSON },
			{ "[]", ERR_PROTO_MALFORMED },
			{ "{}", ERR_PROTO_MALFORMED },
			{ "{\"quote\":\"\"}", ERR_PROTO_MALFORMED },
			{ "{\"event_log\":\"[]\"}", ERR_PROTO_MALFORMED },
			{ "{\"quote\":\"0g\"}", ERR_PROTO_ENCODING },
			{ "{\"quote\":\"000\"}", ERR_PROTO_ENCODING },
			{ "{\"quote\":4}", ERR_PROTO_FIELD_TYPE },
			{ "{\"quote\":\"00\",\"event_log\":4}", ERR_PROTO_FIELD_TYPE },
			{ "{\"quote\":\"00\",\"prefix\":4}", ERR_PROTO_FIELD_TYPE },
			{ "{\"quote\":\"00\",\"report_data\":\"" H32 H32 "00\"}", ERR_PROTO_TOO_LARGE },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			err_t rc = attest_getquote_parse(bad[i].in, strlen(bad[i].in), &c->a, &g, NULL);

			if (rc != bad[i].want)
				fail_msg("case %zu: got %d want %d: %s", i, rc, bad[i].want, bad[i].in);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtmr_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccel_boot_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formulas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_events, setup, teardown),
		cmocka_unit_test(test_snp),
		cmocka_unit_test_setup_teardown(test_verdict_and_boot_info, setup, teardown),
		cmocka_unit_test(test_report_data),
		cmocka_unit_test_setup_teardown(test_getquote, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
