/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for dstack event logs: V1/V2 digest known answers, replay of real logs against their quotes, tampering, limits, CCEL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "eventlog.h"
#include "getquote.h"

/*
 * Expected values come from tests/data/eventlog/expected.json, written by
 * gen.py with Python's hashlib/json only; the RTMRs of the two real logs are
 * the RTMR fields of the real quotes that came with them.
 */
#define TDX_LITE_RTMR0 "f8438db36b96f85d8752ff7f24a89ec05c79ec9eda2ba732c897fb970ca429365b7471b1c054cb84f17b1c2b23ba6640"
#define TDX_LITE_RTMR1 "2023546e7f3b9d1228e274f70c44d481162540f8452544520a796a52f06879709b81a824a26792a7822327504b0d2aee"
#define TDX_LITE_RTMR2 "4c1b739ed451a637b0f82642e48a5ea83925d23633c72e7385c8e9aca4175e133ed1625b7d92eb39edf509c27ff392dc"
#define TDX_LITE_RTMR3 "6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e3a66824b5b56869137e"
#define TDX_LITE_BOOT "f3358e2e735973e425869f2985a5f469e59a116352fa1156ad34c8a10a93b27e614b2cf2d8319fb25405e553a8b05626"

#define TAPPD_RTMR0 "274c2344116db7c663470693b5ba62b8621eac28cb41d2f816ddf188f9f423f900a1c44d32386fd3c993dc814e62af9d"
#define TAPPD_RTMR1 "038b1f762ca65a338236047af820392dfc65bd8a1057e4d3e2acac583da6088c5dba3b1d35acdf0c3682a3abc2cb055a"
#define TAPPD_RTMR2 "1a25c0dd721d17b31b58d71a172aab4a01bf5c1d43f930dde24a70ef5997beeb15fe650b374de03d7b57d61d4e9c6f1a"
#define TAPPD_RTMR3 "45c2309ffdc521edbed3f5e651c250dac0e50306d2f93b639f74d60f910b498ca8c489cedae7719c4b052f3e4eadf3a4"
#define TAPPD_BOOT "7c238c0d5d2127c6dc0f692712cbee6d822fd681ff463e2377cd5f56c18c633721dbf1088c306421aea6158455a0970f"

#define V2_RTMR0 "333abdb0e64a464db12392e8727b6999054a0504f8626861a24bc80160bae10823a5b1b21de50195ac20e0860f01de6f"
#define V2_RTMR1 "ee4763bee81a29b0f290c834c8fc5a13720ee3f2f7be395ec3dfec6c3094485553877ce6482b2a45697053bb6005c128"
#define V2_RTMR2 "2383e07225edc6ef8b20a948bded803ae274d50c3dc77096b41b7d5a62b73f5065dac8ecdb050e882b63a35f3c1396b0"
#define V2_RTMR3 "51db2d5e870aeb3befc354b86ecaa49d9fb1399c21cba6187c0b8fe0ec364cad3ac223ed4788cfd3435714eabea6597a"
#define V2_BOOT "14fb58f09ab1eb84ec7092671cf97e1eff36e2f586424886e0e64706dc77a2127258e9b5c898158f6e157c625e22fa4a"

static const char *const V2_DIGESTS[14] = {
	"eec3812bdc14bfa78c9dc0cc9fdd2270ebbb1abe5e976feddaf28f9bab6d700261c3a2fae17bdedaed2c524c3389528d",
	"918e390aef67de4520d37d7e046dd222038e0a8385825072383ab194543ffa3046a9a48fdabbc16e6ba9ff24249ba88f",
	"bb43786a6f88e78439aee1e77cdeec9e94f140664ead02efffa89645c4acd18b5601cc73cd97a94d7c6f09a1c42f2210",
	"5f85b82f79f0b78867b286427203b23e3806f7123f0f265f4cc5aa97f40ffeb7f12e02f1d999bc14db0a3570b423ee81",
	"c08504dc9594409367a232dc8a53321574015cfd2c125971e28f2ef64b45b82ea7a6b30f06304113f12e8f6bc453dbd2",
	"973f8e435cf4a8e795d4f5e4aa80bf6ca95da696d22fa074a9cadf626f3bc2b40ef7e233525dea2c873347dfcaa2ee06",
	"aeadedb6d47c136395e76aaa640667ed1635429ee9a3795e0c97ad11f809b9805b39ba43d07f2e68cf51facd318d350d",
	"155500e07f742b6afda795ecc56457258d20b90d053c3aa9f92753dbc99cbb89bb379207e709dac2e804ee6204fcf86d",
	"c3b00331ab3104f329c1c9e9c6e8a31ad9361bf0b8a72162e0362644db8ef488469487eba126f29592595b771adee34a",
	"48c5c73ff8919395f8f5b0b8da28f58f345fd33f3fe455f79122a0d5b562ae26c5252f07d847fc1fc9ad72bb194c749e",
	"707bfce1a5a7d8dcc14e1644d93051719cdfb9f90929b7e1529b422f615c6711a4e7a0280aaa41a16d2e0f6760656caf",
	"8c748e7cf5aa7ef37f036bd15cb78308279511a408bcd2aab352802cccd79cf07d7d5e4d174c5b311f2d98f35f53ccd6",
	"7fd38ef52bd1f90aede8fe3f2905c34635951535081ae25c10401f2731dd6e5a1cc7a2327990edf361be563e718c5a7c",
	"04b900b8c4a017ab1a65da436ba2e4a2a495e5464e8821f2cce5bf27386ae4f0aa81dae08f121f73c3c43bd9dca3fdf5",
};

#define RT "134217729"

struct ctx {
	struct arena a;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	arena_init(&c->a, 256u << 20, 64u << 10);
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
	uint8_t want[64];
	size_t n = strlen(hex) / 2;

	unhex(hex, want, n);
	assert_memory_equal(got, want, n);
}

/* A malloc'd copy of s with the first `old` replaced by `new_`; fails the test if absent. */
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

static err_t parse_str(struct ctx *c, const char *s, struct attest_eventlog *log, const char **detail)
{
	return attest_eventlog_parse_json(s, strlen(s), &c->a, log, detail);
}

/* The event_log text of a GetQuote/TdxQuote fixture (arena memory). */
static const char *fixture_log(struct ctx *c, const char *file)
{
	struct attest_getquote g;
	size_t len = 0;
	char *text = read_data(file, &len);

	assert_int_equal(attest_getquote_parse(text, len, &c->a, &g, NULL), ERR_OK);
	free(text);
	assert_non_null(g.event_log);
	assert_int_equal(strlen(g.event_log), g.event_log_len);
	return g.event_log;
}

static void test_kat_v1(void **state)
{
	uint8_t d[48], p[4] = { 0xde, 0xad, 0xbe, 0xef };

	(void)state;
	attest_event_digest_v1("app-id", 6, p, 4, d);
	assert_hex(d, "67b4be4efed0893cfa2bb1d35dca209ad8348b4c97f980807bcde8b9a0f26398dd0923d6eccb5aa2096d98046da8740f");
	attest_event_digest_v1("", 0, NULL, 0, d);
	assert_hex(d, "ff43e849def880489a769ce417c0d0f1a6453a39f2058090d2037cc38648dd9f7e9fd61b554110201dd2d1bd069399fc");
}

static void check_preimage(const char *name, size_t name_len, const uint8_t *p, size_t n, const char *want)
{
	struct buf_writer w;

	buf_writer_init(&w, 1 << 16);
	assert_int_equal(attest_event_preimage_v2(name, name_len, p, n, &w), ERR_OK);
	assert_int_equal(w.len, strlen(want));
	assert_memory_equal(w.p, want, w.len);
	buf_writer_free(&w);
}

static void test_kat_v2(void **state)
{
	static const uint8_t abcd[2] = { 0xab, 0xcd }, ff[1] = { 0xff };
	uint8_t d[48];

	(void)state;
	/* The two literal strings are dstack's own unit-test expectations (runtime_events.rs). */
	check_preimage("compose-hash", 12, abcd, 2, "{\"name\":\"compose-hash\",\"payload\":\"abcd\",\"type\":134217729}");
	check_preimage("event\"with\\special\nchars", 24, ff, 1,
		       "{\"name\":\"event\\\"with\\\\special\\nchars\",\"payload\":\"ff\",\"type\":134217729}");
	check_preimage("\b\f\n\r\t\x01", 6, NULL, 0,
		       "{\"name\":\"\\b\\f\\n\\r\\t\\u0001\",\"payload\":\"\",\"type\":134217729}");
	check_preimage("", 0, NULL, 0, "{\"name\":\"\",\"payload\":\"\",\"type\":134217729}");
	/* DEL, non-ASCII and an embedded NUL: verbatim, verbatim, \u0000. */
	check_preimage("\x7f\xc3\xa9\x00", 4, NULL, 0,
		       "{\"name\":\"\x7f\xc3\xa9\\u0000\",\"payload\":\"\",\"type\":134217729}");
	assert_int_equal(attest_event_digest_v2("compose-hash", 12, abcd, 2, d), ERR_OK);
	assert_hex(d, "9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56de189491feb33842a050ad7b");
}

static void test_extend(void **state)
{
	uint8_t mr[48] = { 0 }, z[48] = { 0 };

	(void)state;
	attest_rtmr_extend(mr, z);
	assert_hex(mr, "f57bb7ed82c6ae4a29e6c9879338c592c7d42a39135583e8ccbe3940f2344b0eb6eb8503db0ffd6a39ddd00cd07d8317");
}

static void test_real_head_log(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	const struct attest_event *e;
	const char *detail = NULL;
	const char *text = fixture_log(c, "tdx-lite-getquote.json");

	assert_int_equal(parse_str(c, text, &log, &detail), ERR_OK);
	assert_int_equal(log.n, 29);
	assert_hex(log.rtmr[0], TDX_LITE_RTMR0);
	assert_hex(log.rtmr[1], TDX_LITE_RTMR1);
	assert_hex(log.rtmr[2], TDX_LITE_RTMR2);
	assert_hex(log.rtmr[3], TDX_LITE_RTMR3);
	assert_hex(log.rtmr3_boot, TDX_LITE_BOOT);
	assert_true(log.has_boot_mr_done);
	assert_true(log.has_system_ready);
	assert_int_equal(log.n_trusted, 28);
	assert_int_equal(log.imr_mask, 0xf);
	e = attest_eventlog_find(&log, "app-id");
	assert_non_null(e);
	assert_int_equal(e->payload_len, 20);
	assert_hex(e->payload, "86b0e55f2fa8e4fb69d890f14f54d5612707646e");
	assert_false(e->digest_given);
	assert_int_equal(e->version, 1);
	e = attest_eventlog_find(&log, "acpi-tables");
	assert_null(e); /* IMR 0 events are not runtime events */
	assert_string_equal(log.events[10].name, "acpi-tables");
	assert_null(attest_eventlog_find(&log, "system-ready"));
	assert_int_equal(attest_eventlog_count(&log, "compose-hash"), 1);
}

static void test_real_v1_log(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	const char *text = fixture_log(c, "tappd-v1-report.json");

	assert_int_equal(parse_str(c, text, &log, NULL), ERR_OK);
	assert_int_equal(log.n, 28);
	assert_hex(log.rtmr[0], TAPPD_RTMR0);
	assert_hex(log.rtmr[1], TAPPD_RTMR1);
	assert_hex(log.rtmr[2], TAPPD_RTMR2);
	assert_hex(log.rtmr[3], TAPPD_RTMR3);
	assert_hex(log.rtmr3_boot, TAPPD_BOOT);
	assert_int_equal(log.n_trusted, 27);
	for (size_t i = 0; i < log.n; i++)
		assert_true(log.events[i].digest_given);
	assert_non_null(attest_eventlog_find(&log, "rootfs-hash"));
}

static void test_v2_log(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	const struct attest_event *e;
	size_t len = 0;
	char *text = read_data("v2-eventlog.json", &len);

	assert_int_equal(attest_eventlog_parse_json(text, len, &c->a, &log, NULL), ERR_OK);
	free(text);
	assert_int_equal(log.n, 14);
	for (size_t i = 0; i < log.n; i++)
		assert_hex(log.events[i].digest, V2_DIGESTS[i]);
	assert_hex(log.rtmr[0], V2_RTMR0);
	assert_hex(log.rtmr[1], V2_RTMR1);
	assert_hex(log.rtmr[2], V2_RTMR2);
	assert_hex(log.rtmr[3], V2_RTMR3);
	assert_hex(log.rtmr3_boot, V2_BOOT);
	assert_int_equal(log.n_trusted, 11);
	assert_int_equal(log.events[1].version, 2);
	assert_true(log.events[1].has_preimage);
	assert_int_equal(log.events[5].version, 1);   /* instance-id: an explicit V1 event */
	assert_int_equal(log.events[13].version, 1);  /* no version, no preimage */
	assert_string_equal(log.events[10].name, "weird \"q\" \\ \n\t\x01\x1f\x7f \xc3\xa9 \xe6\xb5\x8b\xe8\xaf\x95");
	/* The app-id emitted after system-ready extends RTMR3 but is never the claim. */
	e = attest_eventlog_find(&log, "app-id");
	assert_ptr_equal(e, &log.events[3]);
	assert_int_equal(attest_eventlog_count(&log, "app-id"), 1);
	assert_null(attest_eventlog_find(&log, "late-v1"));
}

static void test_v2_preimage_inferred(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	/* preimage hex of {"name":"x","payload":"01","type":134217729}; no "version" member */
	const char *v2 = "[{\"imr\":3,\"event_type\":" RT ",\"event\":\"x\",\"event_payload\":\"01\",\"preimage\":"
			 "\"7b226e616d65223a2278222c227061796c6f6164223a223031222c2274797065223a3133343231373732397d\"}]";
	/* V1 preimage 01000008 ":x:" 01 */
	const char *v1 = "[{\"imr\":3,\"event_type\":" RT ",\"event\":\"x\",\"event_payload\":\"01\",\"preimage\":"
			 "\"010000083a783a01\"}]";
	const char *v1_as_v2 = "[{\"imr\":3,\"event_type\":" RT ",\"event\":\"x\",\"event_payload\":\"01\",\"version\":2,"
			       "\"preimage\":\"010000083a783a01\"}]";
	uint8_t d[48];

	assert_int_equal(parse_str(c, v2, &log, NULL), ERR_OK);
	assert_int_equal(log.events[0].version, 2);
	assert_int_equal(attest_event_digest_v2("x", 1, (const uint8_t *)"\x01", 1, d), ERR_OK);
	assert_memory_equal(log.events[0].digest, d, 48);
	assert_int_equal(parse_str(c, v1, &log, NULL), ERR_OK);
	assert_int_equal(log.events[0].version, 1);
	attest_event_digest_v1("x", 1, (const uint8_t *)"\x01", 1, d);
	assert_memory_equal(log.events[0].digest, d, 48);
	assert_int_equal(parse_str(c, v1_as_v2, &log, NULL), ERR_ATTEST_EVENT_LOG);
}

static void test_tamper(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	const char *head = fixture_log(c, "tdx-lite-getquote.json");
	const char *v1 = fixture_log(c, "tappd-v1-report.json");
	uint8_t want[48];
	char *t;

	unhex(TDX_LITE_RTMR3, want, 48);
	/* Payload change with no digest: parses, replays to another RTMR3. */
	t = replace_once(head, "86b0e55f2fa8e4fb69d890f14f54d5612707646e\"", "86b0e55f2fa8e4fb69d890f14f54d5612707646f\"");
	assert_int_equal(parse_str(c, t, &log, NULL), ERR_OK);
	assert_memory_not_equal(log.rtmr[3], want, 48);
	free(t);
	/* Event name change: same. */
	t = replace_once(head, "storage-fs", "storage-fx");
	assert_int_equal(parse_str(c, t, &log, NULL), ERR_OK);
	assert_memory_not_equal(log.rtmr[3], want, 48);
	free(t);
	/* Order: swap the payloads of app-id and instance-id (both 20 bytes). */
	t = replace_once(head, "\"app-id\",\"event_payload\":\"86b0e55f2fa8e4fb69d890f14f54d5612707646e\"",
			 "\"app-id\",\"event_payload\":\"050bf89570575fe8fab4cb8f0a62a9e64efe8ead\"");
	{
		char *t2 = replace_once(t, "\"instance-id\",\"event_payload\":\"050bf89570575fe8fab4cb8f0a62a9e64efe8ead\"",
					"\"instance-id\",\"event_payload\":\"86b0e55f2fa8e4fb69d890f14f54d5612707646e\"");

		assert_int_equal(parse_str(c, t2, &log, NULL), ERR_OK);
		assert_memory_not_equal(log.rtmr[3], want, 48);
		free(t2);
	}
	free(t);
	/* A runtime digest that does not match its event: refused outright. */
	t = replace_once(v1, "68c649acf8b2a364", "68c649acf8b2a365");
	assert_int_equal(parse_str(c, t, &log, NULL), ERR_ATTEST_EVENT_LOG);
	free(t);
	/* A payload change under a given digest: refused outright. */
	t = replace_once(v1, "06768e6df639ce3be65e9e5321f8b2d82dbffb01\"", "06768e6df639ce3be65e9e5321f8b2d82dbffb02\"");
	assert_int_equal(parse_str(c, t, &log, NULL), ERR_ATTEST_EVENT_LOG);
	free(t);
	/* A boot digest change: parses, RTMR0 moves. */
	unhex(TAPPD_RTMR0, want, 48);
	t = replace_once(v1, "344bc51c980ba621", "344bc51c980ba622");
	assert_int_equal(parse_str(c, t, &log, NULL), ERR_OK);
	assert_memory_not_equal(log.rtmr[0], want, 48);
	free(t);
}

#define EV3(name, payload) "{\"imr\":3,\"event_type\":" RT ",\"event\":\"" name "\",\"event_payload\":\"" payload "\"}"
#define D48 "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"[",
		"{}",
		"[1]",
		"[[]]",
		"[{\"imr\":0,\"event_type\":1,\"digest\":\"" D48 "\",\"event\":\"\",\"event_payload\":\"\"},]",
		"[{\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":3,\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":4,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":-1,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":\"3\",\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":3.0,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":3,\"event_type\":4294967296,\"event\":\"a\",\"event_payload\":\"\"}]",
		/* runtime type off IMR 3; IMR 3 with another type */
		"[{\"imr\":2,\"event_type\":" RT ",\"digest\":\"" D48 "\",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":3,\"event_type\":6,\"digest\":\"" D48 "\",\"event\":\"a\",\"event_payload\":\"\"}]",
		/* hex */
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"0\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"zz\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"0x00\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"00\",\"digest\":\"00\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"00\",\"digest\":\"" D48 "00\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"00\",\"digest\":null}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":00}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":1,\"event_payload\":\"\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event_payload\":\"\"}]",
		/* boot events need a digest and take no preimage */
		"[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]",
		"[{\"imr\":1,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]",
		"[{\"imr\":0,\"event_type\":1,\"digest\":\"" D48 "\",\"event\":\"\",\"event_payload\":\"\",\"preimage\":\"00\"}]",
		/* versions and preimages */
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"version\":3}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"version\":0}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"version\":\"2\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"preimage\":\"00\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"preimage\":7}]",
		/* a V2 preimage whose name differs from the event's */
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"y\",\"event_payload\":\"01\",\"version\":2,\"preimage\":"
		"\"7b226e616d65223a2278222c227061796c6f6164223a223031222c2274797065223a3133343231373732397d\"}]",
		/* a runtime digest that is not the event's */
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\",\"digest\":\"" D48 "\"}]",
		/* duplicate keys, invalid UTF-8 */
		"[{\"imr\":3,\"imr\":3,\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
		"[{\"imr\":3,\"event_type\":" RT ",\"event\":\"\xff\",\"event_payload\":\"\"}]",
	};
	struct ctx *c = *state;
	struct attest_eventlog log;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *detail = NULL;
		err_t rc = parse_str(c, bad[i], &log, &detail);

		if (rc != ERR_ATTEST_EVENT_LOG)
			fail_msg("case %zu: got %d, want ERR_ATTEST_EVENT_LOG: %s", i, rc, bad[i]);
		if (!detail)
			fail_msg("case %zu: no detail", i);
	}
	/* Unknown members are ignored; an empty array is an empty log. */
	assert_int_equal(parse_str(c, "[" EV3("a", "") "]", &log, NULL), ERR_OK);
	assert_int_equal(parse_str(c, "[{\"imr\":3,\"x\":[1,{}],\"event_type\":" RT ",\"event\":\"a\",\"event_payload\":\"\"}]",
				   &log, NULL), ERR_OK);
	assert_int_equal(parse_str(c, " [ ] ", &log, NULL), ERR_OK);
	assert_int_equal(log.n, 0);
	{
		uint8_t z[48] = { 0 };

		assert_memory_equal(log.rtmr[3], z, 48);
		assert_memory_equal(log.rtmr3_boot, z, 48);
	}
	/* Upper-case hex is accepted, like the hex crate. */
	assert_int_equal(parse_str(c, "[" EV3("a", "ABcd") "]", &log, NULL), ERR_OK);
	assert_int_equal(log.events[0].payload[0], 0xab);
}

/* n minimal runtime events, as JSON text (caller frees). */
static char *many_events(size_t n, size_t *len)
{
	static const char one[] = EV3("e", "");
	size_t cap = n * sizeof(one) + 3, pos = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	s[pos++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			s[pos++] = ',';
		memcpy(s + pos, one, sizeof(one) - 1);
		pos += sizeof(one) - 1;
	}
	s[pos++] = ']';
	s[pos] = 0;
	*len = pos;
	return s;
}

/* One runtime event whose payload has n bytes (n*2 hex chars) or whose name has n bytes. */
static char *big_event(size_t n, int in_name, size_t *len)
{
	size_t cap = 2 * n + 128;
	char *s = malloc(cap), *p;

	assert_non_null(s);
	p = s;
	p += snprintf(p, cap, "[{\"imr\":3,\"event_type\":" RT ",\"event\":\"");
	if (in_name) {
		memset(p, 'n', n);
		p += n;
		p += snprintf(p, cap - (size_t)(p - s), "\",\"event_payload\":\"\"}]");
	} else {
		p += snprintf(p, cap - (size_t)(p - s), "\",\"event_payload\":\"");
		memset(p, 'a', 2 * n);
		p += 2 * n;
		p += snprintf(p, cap - (size_t)(p - s), "\"}]");
	}
	*len = (size_t)(p - s);
	return s;
}

static void test_limits(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	size_t len = 0;
	char *s;

	s = many_events(ATTEST_EVENTLOG_MAX_EVENTS, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_OK);
	assert_int_equal(log.n, ATTEST_EVENTLOG_MAX_EVENTS);
	free(s);
	arena_reset(&c->a);
	s = many_events(ATTEST_EVENTLOG_MAX_EVENTS + 1, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_PROTO_TOO_LARGE);
	free(s);
	arena_reset(&c->a);

	s = big_event(ATTEST_EVENTLOG_MAX_PAYLOAD, 0, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_OK);
	assert_int_equal(log.events[0].payload_len, ATTEST_EVENTLOG_MAX_PAYLOAD);
	free(s);
	s = big_event(ATTEST_EVENTLOG_MAX_PAYLOAD + 1, 0, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_PROTO_TOO_LARGE);
	free(s);
	s = big_event(ATTEST_EVENTLOG_MAX_NAME, 1, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_OK);
	free(s);
	s = big_event(ATTEST_EVENTLOG_MAX_NAME + 1, 1, &len);
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_PROTO_TOO_LARGE);
	free(s);
	arena_reset(&c->a);

	/* Text over the cap is refused before parsing. */
	len = ATTEST_EVENTLOG_MAX_TEXT + 1;
	s = malloc(len);
	assert_non_null(s);
	memset(s, ' ', len);
	s[0] = '[';
	s[len - 1] = ']';
	assert_int_equal(attest_eventlog_parse_json(s, len, &c->a, &log, NULL), ERR_PROTO_TOO_LARGE);
	free(s);

	/* A tight arena budget is reported as such. */
	{
		struct arena small;

		arena_init(&small, 4096, 1024);
		s = many_events(200, &len);
		assert_int_equal(attest_eventlog_parse_json(s, len, &small, &log, NULL), ERR_BUDGET);
		free(s);
		arena_fini(&small);
	}
}

static void replay_manual(const char *const *names, size_t n, uint8_t mr[48])
{
	uint8_t d[48];

	memset(mr, 0, 48);
	for (size_t i = 0; i < n; i++) {
		attest_event_digest_v1(names[i], strlen(names[i]), NULL, 0, d);
		attest_rtmr_extend(mr, d);
	}
}

static void test_boot_mr_done(void **state)
{
	static const char *const all[] = { "a", "boot-mr-done", "b", "system-ready", "c" };
	struct ctx *c = *state;
	struct attest_eventlog log;
	uint8_t want[48];

	assert_int_equal(parse_str(c, "[" EV3("a", "") "," EV3("boot-mr-done", "") "," EV3("b", "") ","
				   EV3("system-ready", "") "," EV3("c", "") "]", &log, NULL), ERR_OK);
	assert_true(log.has_boot_mr_done);
	replay_manual(all, 2, want);
	assert_memory_equal(log.rtmr3_boot, want, 48);
	replay_manual(all, 5, want);
	assert_memory_equal(log.rtmr[3], want, 48);
	assert_int_equal(log.n_trusted, 3);
	assert_non_null(attest_eventlog_find(&log, "b"));
	assert_null(attest_eventlog_find(&log, "c"));

	/* Without boot-mr-done, or with it only after system-ready, the boot value is the full replay. */
	assert_int_equal(parse_str(c, "[" EV3("a", "") "," EV3("system-ready", "") "," EV3("boot-mr-done", "") "]", &log,
				   NULL), ERR_OK);
	assert_false(log.has_boot_mr_done);
	assert_memory_equal(log.rtmr3_boot, log.rtmr[3], 48);
	assert_int_equal(parse_str(c, "[" EV3("a", "") "]", &log, NULL), ERR_OK);
	assert_false(log.has_boot_mr_done);
	assert_false(log.has_system_ready);
	assert_int_equal(log.n_trusted, 1);
	assert_memory_equal(log.rtmr3_boot, log.rtmr[3], 48);

	/* Only the first boot-mr-done and the first system-ready count. */
	assert_int_equal(parse_str(c, "[" EV3("boot-mr-done", "") "," EV3("boot-mr-done", "") "," EV3("system-ready", "")
				   "," EV3("system-ready", "") "," EV3("x", "") "]", &log, NULL), ERR_OK);
	replay_manual(all + 1, 1, want);
	assert_memory_equal(log.rtmr3_boot, want, 48);
	assert_int_equal(log.n_trusted, 2);
}

static void test_no_action(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	uint8_t z[48] = { 0 };

	assert_int_equal(parse_str(c, "[{\"imr\":1,\"event_type\":3,\"digest\":\"" D48 "\",\"event\":\"\",\"event_payload\":\"\"}]",
				   &log, NULL), ERR_OK);
	assert_false(log.events[0].extended);
	assert_memory_equal(log.rtmr[1], z, 48);
	assert_int_equal(log.imr_mask, 0);
}

/* Events decoded elsewhere (SCALE / msgpack) go through the same rules and replay. */
static void test_from_events(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log, again;
	struct attest_event *ev, one;
	const char *detail = NULL;
	const char *text = fixture_log(c, "tdx-lite-getquote.json");
	uint8_t d[48];

	assert_int_equal(parse_str(c, text, &log, NULL), ERR_OK);
	ev = calloc(log.n, sizeof(*ev));
	assert_non_null(ev);
	for (size_t i = 0; i < log.n; i++) {
		ev[i] = log.events[i];
		ev[i].version = 0;
		if (ev[i].imr == 3) {
			ev[i].digest_given = 0;
			memset(ev[i].digest, 0xee, 48);
		}
	}
	assert_int_equal(attest_eventlog_from_events(ev, log.n, &again, &detail), ERR_OK);
	assert_memory_equal(again.rtmr, log.rtmr, sizeof(log.rtmr));
	assert_memory_equal(again.rtmr3_boot, log.rtmr3_boot, 48);
	assert_int_equal(again.n_trusted, log.n_trusted);
	/* A given runtime digest must match (the call above recomputed them in place); a boot event needs
	 * one; IMR range. */
	ev[25].digest_given = 1;
	assert_int_equal(attest_eventlog_from_events(ev, log.n, &again, &detail), ERR_OK);
	ev[25].digest[0] ^= 1;
	assert_int_equal(attest_eventlog_from_events(ev, log.n, &again, &detail), ERR_ATTEST_EVENT_LOG);
	ev[25].digest_given = 0;
	ev[0].digest_given = 0;
	assert_int_equal(attest_eventlog_from_events(ev, log.n, &again, &detail), ERR_ATTEST_EVENT_LOG);
	ev[0].digest_given = 1;
	ev[1].imr = 4;
	assert_int_equal(attest_eventlog_from_events(ev, log.n, &again, &detail), ERR_ATTEST_EVENT_LOG);
	free(ev);

	memset(&one, 0, sizeof(one));
	one.imr = 3;
	one.event_type = ATTEST_RUNTIME_EVENT_TYPE;
	one.name = "compose-hash";
	one.name_len = 12;
	one.payload = (const uint8_t *)"\xab\xcd";
	one.payload_len = 2;
	one.version = 2;
	assert_int_equal(attest_eventlog_from_events(&one, 1, &again, NULL), ERR_OK);
	assert_hex(one.digest, "9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56de189491feb33842a050ad7b");
	memset(d, 0, 48);
	attest_rtmr_extend(d, one.digest);
	assert_memory_equal(again.rtmr[3], d, 48);
	one.version = 3;
	assert_int_equal(attest_eventlog_from_events(&one, 1, &again, NULL), ERR_ATTEST_EVENT_LOG);
	one.version = 1;
	one.payload = NULL;
	assert_int_equal(attest_eventlog_from_events(&one, 1, &again, NULL), ERR_INVALID_ARG);
	assert_int_equal(attest_eventlog_from_events(NULL, 0, &again, NULL), ERR_OK);
}

/* ---- CCEL ---- */

static void check_ccel_tappd(const struct attest_eventlog *log)
{
	uint8_t z[48] = { 0 };

	assert_int_equal(log->n, 20);
	assert_hex(log->rtmr[0], TAPPD_RTMR0);
	assert_hex(log->rtmr[1], TAPPD_RTMR1);
	assert_hex(log->rtmr[2], TAPPD_RTMR2);
	assert_memory_equal(log->rtmr[3], z, 48);
	assert_int_equal(log->imr_mask, 0x7);
	assert_string_equal(log->events[8].name, "acpi-loader");
	assert_string_equal(log->events[9].name, "acpi-rsdp");
	assert_string_equal(log->events[10].name, "acpi-tables");
	assert_int_equal(log->events[0].event_type, 0x8000000b);
	assert_int_equal(log->events[0].payload_len, 42);
}

static void test_ccel_real(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	const char *detail = NULL;
	size_t len = 0, len2 = 0;
	char *bin = read_data("ccel-tappd.bin", &len);
	char *bin2 = read_data("ccel-tappd-2alg.bin", &len2);

	assert_int_equal(attest_ccel_parse((const uint8_t *)bin, len, &c->a, &log, &detail), ERR_OK);
	check_ccel_tappd(&log);
	/* Without the 0xFF padding the log ends at the end of input. */
	assert_int_equal(attest_ccel_parse((const uint8_t *)bin, len - 64, &c->a, &log, NULL), ERR_OK);
	check_ccel_tappd(&log);
	assert_int_equal(attest_ccel_parse((const uint8_t *)bin2, len2, &c->a, &log, NULL), ERR_OK);
	check_ccel_tappd(&log);
	free(bin);
	free(bin2);
}

/* Every prefix either parses (exactly at the 21 record boundaries) or is refused as malformed. */
static void test_ccel_prefixes(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	size_t len = 0, ok = 0;
	char *bin = read_data("ccel-tappd.bin", &len);
	uint8_t *copy;

	len -= 64;
	for (size_t i = 0; i <= len; i++) {
		err_t rc;

		copy = malloc(i ? i : 1);
		assert_non_null(copy);
		memcpy(copy, bin, i);
		rc = attest_ccel_parse(copy, i, &c->a, &log, NULL);
		free(copy);
		if (rc == ERR_OK)
			ok++;
		else if (rc != ERR_ATTEST_EVENT_LOG)
			fail_msg("prefix %zu: %d", i, rc);
		arena_reset(&c->a);
	}
	assert_int_equal(ok, 21);
	free(bin);
}

/* A tiny CCEL built here: header with the given algorithm list, then records. */
struct ccel_b {
	uint8_t b[4096];
	size_t n;
};

static void cb_u8(struct ccel_b *c, uint8_t v)
{
	c->b[c->n++] = v;
}

static void cb_u16(struct ccel_b *c, uint16_t v)
{
	cb_u8(c, (uint8_t)v);
	cb_u8(c, (uint8_t)(v >> 8));
}

static void cb_u32(struct ccel_b *c, uint32_t v)
{
	cb_u16(c, (uint16_t)v);
	cb_u16(c, (uint16_t)(v >> 16));
}

static void cb_header(struct ccel_b *c, const uint16_t *algs, const uint16_t *sizes, uint32_t n)
{
	cb_u32(c, 0);
	cb_u32(c, 3);
	for (int i = 0; i < 20; i++)
		cb_u8(c, 0);
	cb_u32(c, 16 + 4 + 4 + 4 + 4 * n + 1);
	memcpy(c->b + c->n, "Spec ID Event03", 16);
	c->n += 16;
	cb_u32(c, 0);
	cb_u8(c, 0);
	cb_u8(c, 2);
	cb_u8(c, 0);
	cb_u8(c, 2);
	cb_u32(c, n);
	for (uint32_t i = 0; i < n; i++) {
		cb_u16(c, algs[i]);
		cb_u16(c, sizes[i]);
	}
	cb_u8(c, 0);
}

static void cb_record(struct ccel_b *c, uint32_t pcr, uint32_t type, uint8_t fill, const char *data)
{
	cb_u32(c, pcr);
	cb_u32(c, type);
	cb_u32(c, 1);
	cb_u16(c, 0x000c);
	memset(c->b + c->n, fill, 48);
	c->n += 48;
	cb_u32(c, (uint32_t)strlen(data));
	memcpy(c->b + c->n, data, strlen(data));
	c->n += strlen(data);
}

static const uint16_t SHA384_ONLY[1] = { 0x000c }, SIZE48[1] = { 48 };

static void test_ccel_synthetic(void **state)
{
	struct ctx *c = *state;
	struct attest_eventlog log;
	struct ccel_b b;
	uint8_t mr[48] = { 0 }, d[48];

	memset(&b, 0, sizeof(b));
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 0, 1, 0x11, "mrtd");        /* index 0: skipped like dstack */
	cb_record(&b, 1, 3, 0x22, "no action");   /* logged, not extended */
	cb_record(&b, 1, 4, 0x33, "sep");
	cb_record(&b, 4, 5, 0x44, "rtmr3");
	cb_u32(&b, 0xffffffff);
	cb_u32(&b, 0x12345678);                    /* anything after the end marker is ignored */
	assert_int_equal(attest_ccel_parse(b.b, b.n, &c->a, &log, NULL), ERR_OK);
	assert_int_equal(log.n, 3);
	assert_false(log.events[0].extended);
	memset(d, 0x33, 48);
	attest_rtmr_extend(mr, d);
	assert_memory_equal(log.rtmr[0], mr, 48);
	assert_int_equal(log.events[2].imr, 3);
	assert_int_equal(log.imr_mask, 0x9);
}

static void expect_ccel_bad(struct ctx *c, const struct ccel_b *b, err_t want)
{
	struct attest_eventlog log;
	const char *detail = NULL;

	assert_int_equal(attest_ccel_parse(b->b, b->n, &c->a, &log, &detail), want);
	assert_non_null(detail);
}

static void test_ccel_bad(void **state)
{
	static const uint16_t sha256_only[1] = { 0x000b }, size32[1] = { 32 };
	static const uint16_t dup[2] = { 0x000c, 0x000c }, dup_sizes[2] = { 48, 48 };
	static const uint16_t wrong48[1] = { 48 + 1 };
	static const uint16_t zero[1] = { 0 };
	struct ctx *c = *state;
	struct ccel_b b;

	memset(&b, 0, sizeof(b)); /* header not EV_NO_ACTION / not index 0 */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	b.b[4] = 4;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	b.b[4] = 3;
	b.b[0] = 1;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* bad signature */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	b.b[32] = 'X';
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* no SHA-384 bank; SHA-384 of the wrong size; duplicate; size 0 */
	cb_header(&b, sha256_only, size32, 1);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	memset(&b, 0, sizeof(b));
	cb_header(&b, SHA384_ONLY, wrong48, 1);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	memset(&b, 0, sizeof(b));
	cb_header(&b, dup, dup_sizes, 2);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	memset(&b, 0, sizeof(b));
	cb_header(&b, SHA384_ONLY, zero, 1);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	memset(&b, 0, sizeof(b));
	cb_header(&b, SHA384_ONLY, SIZE48, 0);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* trailing byte inside the Spec ID event */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	b.b[28]++;
	cb_u8(&b, 0);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* record index 5 */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 5, 1, 0, "");
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* record with an undeclared algorithm */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 1, 1, 0, "");
	b.b[b.n - 4 - 48 - 2] = 0x0b;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* record with zero digests, and with more than declared */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 1, 1, 0, "");
	b.b[b.n - 4 - 48 - 2 - 4] = 0;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	b.b[b.n - 4 - 48 - 2 - 4] = 2;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);

	memset(&b, 0, sizeof(b)); /* event size past the end, and past the cap */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 1, 1, 0, "abc");
	b.b[b.n - 3 - 4] = 4;
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
	b.b[b.n - 3 - 4 + 3] = 0x10;
	expect_ccel_bad(c, &b, ERR_PROTO_TOO_LARGE);

	memset(&b, 0, sizeof(b)); /* a partial index after the last record */
	cb_header(&b, SHA384_ONLY, SIZE48, 1);
	cb_record(&b, 1, 1, 0, "");
	cb_u8(&b, 0xff);
	cb_u8(&b, 0xff);
	expect_ccel_bad(c, &b, ERR_ATTEST_EVENT_LOG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_v1),
		cmocka_unit_test(test_kat_v2),
		cmocka_unit_test(test_extend),
		cmocka_unit_test_setup_teardown(test_real_head_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_v1_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_preimage_inferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_mr_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccel_real, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccel_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccel_synthetic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccel_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
