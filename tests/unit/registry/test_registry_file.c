/* SPDX-License-Identifier: Apache-2.0 */
/* registry_file: the auth-simple shape, strict errors with their JSON path, and reloads that keep the last good policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "crypto.h"
#include "registry_file.h"

#define H32(c) "0x" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define A20(c) c c c c c c c c c c c c c c c c c c c c

/* auth-config.example.json's shape, with every key. */
static const char FULL[] =
	"{\n"
	"  \"gatewayAppId\": \"0xgateway\",\n"
	"  \"kmsContractAddr\": \"0x" A20("11") "\",\n"
	"  \"chainId\": 8453,\n"
	"  \"appImplementation\": \"" A20("22") "\",\n"
	"  \"osImages\": [\"" H32("0a") "\", \"" H32("0B") "\"],\n"
	"  \"allowedTcbStatuses\": [\"UpToDate\", \"SWHardeningNeeded\"],\n"
	"  \"allowedAdvisoryIds\": [\"INTEL-SA-00837\"],\n"
	"  \"kms\": {\"mrAggregated\": [\"" H32("3c") "\"], \"devices\": [], \"allowAnyDevice\": true},\n"
	"  \"apps\": {\n"
	"    \"0x" A20("AA") "\": {\"composeHashes\": [\"" H32("c1") "\", \"" H32("c2") "\"], \"devices\": [\"" H32("d1")
	"\"], \"allowAnyDevice\": false},\n"
	"    \"" A20("bb") "\": {\"composeHashes\": [\"" H32("c3") "\"]}\n"
	"  }\n"
	"}\n";

static struct registry_snapshot *parse_ok(const char *text)
{
	struct registry_state *st = NULL;
	struct registry_snapshot *s = NULL;
	char detail[256];
	err_t err = registry_file_parse(text, strlen(text), &st, detail, sizeof(detail));

	if (err != ERR_OK)
		fail_msg("parse failed: %s: %s", err_name(err), detail);
	assert_int_equal(registry_state_freeze(st, NULL, &s), ERR_OK);
	registry_state_free(st);
	return s;
}

static void fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

static void test_full_shape(void **state)
{
	struct registry_snapshot *s = parse_ok(FULL);
	uint8_t k[32], id[20];
	const struct registry_app *a;
	struct registry_boot_info b;
	struct registry_decision d;

	(void)state;
	assert_int_equal(s->source, REGISTRY_SOURCE_FILE);
	assert_string_equal(s->gateway_app_id, "0xgateway");
	assert_int_equal(s->chain_id, 8453);
	fill(id, 20, 0x11);
	assert_memory_equal(s->kms_contract, id, 20);
	fill(id, 20, 0x22);
	assert_memory_equal(s->app_implementation, id, 20);
	assert_int_equal(s->n_os_images, 2);
	fill(k, 32, 0x0b);
	assert_true(registry_key32_find(s->os_images, s->n_os_images, k));
	assert_int_equal(s->n_tcb_statuses, 2);
	assert_string_equal(s->tcb_statuses[1], "SWHardeningNeeded");
	assert_int_equal(s->n_advisory_ids, 1);
	assert_int_equal(s->n_kms_mrs, 1);
	assert_int_equal(s->n_kms_devices, 0);
	assert_int_equal(s->kms_allow_any_device, 1);
	assert_int_equal(s->napps, 2);
	assert_int_equal(s->nhashes, 3);
	fill(id, 20, 0xaa);
	a = registry_snapshot_app(s, id);
	assert_non_null(a);
	assert_int_equal(a->flags, REGISTRY_APP_REGISTERED);
	assert_int_equal(a->hash_n, 2);
	assert_int_equal(a->dev_n, 1);
	fill(id, 20, 0xbb);
	a = registry_snapshot_app(s, id);
	assert_non_null(a);
	assert_int_equal(a->dev_n, 0);

	/* One decision end to end: app 0xaa.. with compose c2 on device d1. */
	memset(&b, 0, sizeof(b));
	{
		static uint8_t app[20], ch[32], dev[32], os[32];

		fill(app, 20, 0xaa);
		fill(ch, 32, 0xc2);
		fill(dev, 32, 0xd1);
		fill(os, 32, 0x0a);
		b.app_id = (struct registry_bytes){ app, 20 };
		b.compose_hash = (struct registry_bytes){ ch, 32 };
		b.device_id = (struct registry_bytes){ dev, 32 };
		b.os_image_hash = (struct registry_bytes){ os, 32 };
		b.tcb_status = "UpToDate";
		assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 1, &d), ERR_OK);
		assert_true(d.allowed);
		dev[0] ^= 1;
		assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 1, &d), ERR_OK);
		assert_string_equal(d.reason, REGISTRY_RF_DEVICE);
	}
	registry_snapshot_unref(s);
}

static void test_defaults(void **state)
{
	struct registry_snapshot *s = parse_ok("  {}  ");

	(void)state;
	assert_string_equal(s->gateway_app_id, "");
	assert_int_equal(s->n_tcb_statuses, 1);
	assert_string_equal(s->tcb_statuses[0], "UpToDate");
	assert_int_equal(s->n_advisory_ids, 0);
	assert_int_equal(s->napps, 0);
	assert_int_equal(s->kms_allow_any_device, 0);
	registry_snapshot_unref(s);
	/* An explicit empty list means "nothing allowed", not the default. */
	s = parse_ok("{\"allowedTcbStatuses\": [], \"kms\": {}, \"apps\": {}}");
	assert_int_equal(s->n_tcb_statuses, 0);
	registry_snapshot_unref(s);
}

struct bad_case {
	const char *text;
	err_t err;
	const char *detail;   /* substring expected in the detail */
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "{\"osImage\": []}", ERR_PROTO_UNKNOWN_FIELD, "osImage: unknown key" },
		{ "{\"kms\": {\"devices\": [], \"mr\": []}}", ERR_PROTO_UNKNOWN_FIELD, "kms.mr: unknown key" },
		{ "{\"apps\": {\"" A20("aa") "\": {\"composeHash\": []}}}", ERR_PROTO_UNKNOWN_FIELD,
		  "apps." A20("aa") ": composeHash: unknown key" },
		{ "{\"osImages\": [\"" H32("0a") "\", \"0xzz\"]}", ERR_PROTO_FIELD_TYPE, "osImages[1]: not 32-byte hex" },
		{ "{\"osImages\": [\"0x0a0a\"]}", ERR_PROTO_FIELD_TYPE, "osImages[0]: not 32-byte hex" },
		{ "{\"osImages\": [\"" H32("0a") "0\"]}", ERR_PROTO_FIELD_TYPE, "osImages[0]: not 32-byte hex" },
		{ "{\"osImages\": [1]}", ERR_PROTO_FIELD_TYPE, "osImages[0]: not 32-byte hex" },
		{ "{\"osImages\": \"" H32("0a") "\"}", ERR_PROTO_FIELD_TYPE, "osImages: want an array, got string" },
		{ "{\"kms\": {\"mrAggregated\": [\"" H32("0g") "\"]}}", ERR_PROTO_FIELD_TYPE,
		  "kms.mrAggregated[0]: not 32-byte hex" },
		{ "{\"kms\": {\"allowAnyDevice\": \"yes\"}}", ERR_PROTO_FIELD_TYPE, "kms.allowAnyDevice: want a boolean" },
		{ "{\"kms\": []}", ERR_PROTO_FIELD_TYPE, "kms: want an object, got array" },
		{ "{\"apps\": {\"0x1234\": {}}}", ERR_PROTO_FIELD_TYPE, "apps.0x1234: app id is not 20-byte hex" },
		{ "{\"apps\": {\"" A20("aa") "\": []}}", ERR_PROTO_FIELD_TYPE, "want an object, got array" },
		{ "{\"apps\": {\"0x" A20("AA") "\": {}, \"" A20("aa") "\": {}}}", ERR_EXISTS, "listed twice" },
		{ "{\"apps\": {\"" A20("aa") "\": {\"devices\": [\"" H32("d1") "\", null]}}}", ERR_PROTO_FIELD_TYPE,
		  "devices[1]: not 32-byte hex" },
		{ "{\"gatewayAppId\": null}", ERR_PROTO_FIELD_TYPE, "gatewayAppId: want a string, got null" },
		{ "{\"chainId\": \"1\"}", ERR_PROTO_FIELD_TYPE, "chainId" },
		{ "{\"chainId\": -1}", ERR_PROTO_FIELD_TYPE, "chainId" },
		{ "{\"chainId\": 1.5}", ERR_PROTO_FIELD_TYPE, "chainId" },
		{ "{\"kmsContractAddr\": \"0x1234\"}", ERR_PROTO_FIELD_TYPE, "kmsContractAddr: not 20-byte hex" },
		{ "{\"allowedTcbStatuses\": [\"UpToDate\", 3]}", ERR_PROTO_FIELD_TYPE,
		  "allowedTcbStatuses[1]: want a string, got number" },
		{ "{\"allowedAdvisoryIds\": [\"a\\u0000b\"]}", ERR_PROTO_FIELD_TYPE, "allowedAdvisoryIds[0]: contains NUL" },
		{ "[]", ERR_PROTO_FIELD_TYPE, "top level: want an object, got array" },
		{ "{\"osImages\": [],}", ERR_PROTO_JSON, "not valid JSON at byte" },
		{ "{\"osImages\": [], \"osImages\": []}", ERR_PROTO_JSON, "not valid JSON" },
		{ "", ERR_PROTO_JSON, "not valid JSON" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct registry_state *st = (struct registry_state *)1;
		char detail[256];
		err_t err = registry_file_parse(cases[i].text, strlen(cases[i].text), &st, detail, sizeof(detail));

		if (err != cases[i].err || !strstr(detail, cases[i].detail))
			fail_msg("case %zu %s: got %s \"%s\", want %s \"%s\"", i, cases[i].text, err_name(err), detail,
				 err_name(cases[i].err), cases[i].detail);
		assert_null(st);
	}
}

/* --- reloads --- */

struct reload_fx {
	char dir[64];
	char path[96];
	struct event_base *base;
	struct registry_snapshot *cur;
	int loads;
};

static void on_load(void *arg, struct registry_snapshot *snap)
{
	struct reload_fx *r = arg;

	registry_snapshot_unref(r->cur);
	r->cur = snap;
	r->loads++;
}

static void write_file(const char *path, const char *text)
{
	char tmp[128];
	FILE *f;

	/* Rewrite in place half the time and by rename the other half: both must be noticed. */
	static int n;

	if (n++ % 2) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		f = fopen(tmp, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		assert_int_equal(rename(tmp, path), 0);
	} else {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	}
}

static void test_reload_keeps_last_good(void **state)
{
	struct reload_fx r;
	struct registry_file *f;
	const struct registry_file_status *st;
	char detail[256];
	uint8_t sha[32];

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.dir, sizeof(r.dir), "/tmp/ds-regfile-XXXXXX");
	assert_non_null(mkdtemp(r.dir));
	snprintf(r.path, sizeof(r.path), "%s/policy.json", r.dir);
	r.base = event_base_new();

	/* A missing file at start is an error: the service refuses to start. */
	f = registry_file_new(r.base, NULL, r.path, 1000, on_load, &r);
	assert_int_equal(registry_file_start(f, detail, sizeof(detail)), ERR_IO_FILE);
	assert_non_null(strstr(detail, "cannot read"));
	registry_file_free(f);

	write_file(r.path, "{\"gatewayAppId\": \"v1\"}");
	f = registry_file_new(r.base, NULL, r.path, 1000, on_load, &r);
	assert_int_equal(registry_file_start(f, detail, sizeof(detail)), ERR_OK);
	assert_int_equal(r.loads, 1);
	assert_string_equal(r.cur->gateway_app_id, "v1");
	sha256("{\"gatewayAppId\": \"v1\"}", 22, sha);
	assert_memory_equal(r.cur->meta.policy_sha256, sha, 32);
	st = registry_file_status(f);
	assert_memory_equal(st->sha256, sha, 32);
	assert_true(st->loaded_at > 0);

	/* Unchanged: no reload. Same size, new content: reloaded. */
	assert_int_equal(registry_file_poll(f), ERR_OK);
	assert_int_equal(r.loads, 1);
	write_file(r.path, "{\"gatewayAppId\": \"v2\"}");
	assert_int_equal(registry_file_poll(f), ERR_OK);
	assert_int_equal(r.loads, 2);
	assert_string_equal(r.cur->gateway_app_id, "v2");

	/* A bad version is reported once and the previous policy stays. */
	write_file(r.path, "{\"gatewayAppId\": \"v3\", \"bogus\": 1}");
	assert_int_equal(registry_file_poll(f), ERR_PROTO_UNKNOWN_FIELD);
	assert_int_equal(registry_file_poll(f), ERR_PROTO_UNKNOWN_FIELD);
	assert_int_equal(r.loads, 2);
	assert_string_equal(r.cur->gateway_app_id, "v2");
	assert_int_equal(st->errors, 1);
	assert_int_equal(st->last_error, ERR_PROTO_UNKNOWN_FIELD);
	assert_non_null(strstr(st->last_error_detail, "bogus: unknown key"));
	write_file(r.path, "{\"gatewayAppId\": \"v3\", \"osImages\": [\"zz\"]}");
	assert_int_equal(registry_file_poll(f), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(st->errors, 2);
	assert_string_equal(r.cur->gateway_app_id, "v2");

	/* Fixed: loaded. */
	write_file(r.path, "{\"gatewayAppId\": \"v4\"}");
	assert_int_equal(registry_file_poll(f), ERR_OK);
	assert_int_equal(r.loads, 3);
	assert_string_equal(r.cur->gateway_app_id, "v4");
	assert_int_equal(st->last_error, ERR_OK);
	assert_int_equal(st->loads, 3);

	/* Gone: the policy in force stays. */
	assert_int_equal(unlink(r.path), 0);
	assert_int_equal(registry_file_poll(f), ERR_IO_FILE);
	assert_string_equal(r.cur->gateway_app_id, "v4");
	write_file(r.path, "{\"gatewayAppId\": \"v5\"}");
	assert_int_equal(registry_file_poll(f), ERR_OK);
	assert_string_equal(r.cur->gateway_app_id, "v5");

	registry_file_free(f);
	registry_snapshot_unref(r.cur);
	event_base_free(r.base);
	unlink(r.path);
	rmdir(r.dir);
}

static void test_load_errors(void **state)
{
	struct registry_snapshot *s = (struct registry_snapshot *)1;
	char detail[256];

	(void)state;
	assert_int_equal(registry_file_load("/nonexistent/policy.json", 1, &s, detail, sizeof(detail)), ERR_IO_FILE);
	assert_null(s);
	assert_non_null(strstr(detail, "/nonexistent/policy.json: cannot read"));
	assert_int_equal(registry_file_load("/tmp", 1, &s, detail, sizeof(detail)), ERR_IO_FILE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_shape),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_reload_keeps_last_good),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
