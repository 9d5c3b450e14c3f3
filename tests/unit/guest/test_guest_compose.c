/* SPDX-License-Identifier: Apache-2.0 */
/* The guest agent's host-input parsers (app-compose, sys-config, instance info), identity rules and TdxQuote report data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "guest_compose.h"
#include "guest_rpc.h"

static struct arena mem;

static int setup(void **state)
{
	(void)state;
	arena_init(&mem, 16u << 20, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_fini(&mem);
	return 0;
}

static err_t compose(const char *text, struct guest_compose *c, const char **detail)
{
	arena_reset(&mem);
	*detail = NULL;
	return guest_compose_parse(text, strlen(text), &mem, c, detail);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, h, strlen(h), 0), ERR_OK);
	assert_int_equal(got, n);
}

/* dstack's simulator sample, trimmed: manifest 2, docker-compose runner, kms, pre_launch_script, extras ignored. */
static void test_compose_dstack_sample(void **state)
{
	static const char text[] =
		"{\"manifest_version\":2,\"name\":\"kvin-nb\",\"runner\":\"docker-compose\","
		"\"docker_compose_file\":\"services:\\n  app:\\n    image: nginx\\n\",\"docker_config\":{},"
		"\"kms_enabled\":true,\"gateway_enabled\":true,\"public_logs\":true,\"public_sysinfo\":true,"
		"\"public_tcbinfo\":false,\"local_key_provider_enabled\":false,\"key_provider_id\":\"\","
		"\"allowed_envs\":[\"API_KEY\",\"DB_URL\"],\"no_instance_id\":false,\"secure_time\":false,"
		"\"pre_launch_script\":\"echo hi\",\"features\":[\"kms\",\"tproxy-net\"],\"unknown_member\":{\"x\":[1,2]}}";
	struct guest_compose c;
	const char *detail;

	(void)state;
	assert_int_equal(compose(text, &c, &detail), ERR_OK);
	assert_string_equal(c.name, "kvin-nb");
	assert_string_equal(c.runner, "docker-compose");
	assert_string_equal(c.manifest_version, "2");
	assert_int_equal(c.key_provider, GUEST_KP_KMS);
	assert_int_equal(c.key_provider_id_len, 0);
	assert_int_equal(c.n_allowed_envs, 2);
	assert_string_equal(c.allowed_envs[1], "DB_URL");
	assert_true(guest_compose_env_allowed(&c, "API_KEY", 7));
	assert_false(guest_compose_env_allowed(&c, "API_KE", 6));
	assert_false(guest_compose_env_allowed(&c, "OTHER", 5));
	assert_true(c.gateway_enabled);
	assert_false(c.public_tcbinfo);
	assert_false(c.secure_time);
	assert_int_equal(c.event_log_version, 1);
	assert_string_equal(c.pre_launch_script, "echo hi");
	assert_non_null(c.docker_compose_file);
}

static void test_compose_defaults_and_key_provider(void **state)
{
	struct guest_compose c;
	const char *detail;

	(void)state;
	assert_int_equal(compose("{}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider, GUEST_KP_NONE);
	assert_string_equal(c.name, "");
	assert_true(c.public_tcbinfo);
	assert_true(c.secure_time);
	assert_int_equal(c.event_log_version, 1);
	assert_null(c.bash_script);
	/* Absent key_provider: kms_enabled, then local_key_provider_enabled. */
	assert_int_equal(compose("{\"local_key_provider_enabled\":true}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider, GUEST_KP_LOCAL);
	assert_int_equal(compose("{\"kms_enabled\":true,\"local_key_provider_enabled\":true}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider, GUEST_KP_KMS);
	/* An explicit key_provider wins over the flags. */
	assert_int_equal(compose("{\"kms_enabled\":true,\"key_provider\":\"none\"}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider, GUEST_KP_NONE);
	assert_int_equal(compose("{\"key_provider\":\"tpm\"}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider, GUEST_KP_TPM);
	/* null is "not given" (dstack PR #222: a null key_provider_id bricked boots). */
	assert_int_equal(compose("{\"key_provider_id\":null,\"name\":null,\"allowed_envs\":null}", &c, &detail), ERR_OK);
	assert_int_equal(c.key_provider_id_len, 0);
	assert_int_equal(compose("{\"key_provider_id\":\"0x3059\",\"manifest_version\":\"3\",\"event_log_version\":2}",
				 &c, &detail),
			 ERR_OK);
	assert_int_equal(c.key_provider_id_len, 2);
	assert_int_equal(c.key_provider_id[0], 0x30);
	assert_string_equal(c.manifest_version, "3");
	assert_int_equal(c.event_log_version, 2);
	/* Legacy tproxy_enabled. */
	assert_int_equal(compose("{\"tproxy_enabled\":true}", &c, &detail), ERR_OK);
	assert_true(c.gateway_enabled);
	assert_int_equal(compose("{\"init_script\":[\"a\",\"b\"],\"runner\":\"bash\",\"bash_script\":\"x\"}", &c, &detail),
			 ERR_OK);
	assert_string_equal(c.bash_script, "x");
}

static void test_compose_refusals(void **state)
{
	static const struct {
		const char *text;
		err_t err;
		const char *detail;   /* substring, or NULL */
	} cases[] = {
		{ "", ERR_PROTO_JSON, NULL },
		{ "{", ERR_PROTO_JSON, NULL },
		{ "{} x", ERR_PROTO_JSON, NULL },
		{ "[]", ERR_PROTO_MALFORMED, "object" },
		{ "\"x\"", ERR_PROTO_MALFORMED, NULL },
		{ "{\"a\":1,\"a\":2}", ERR_PROTO_JSON, NULL },
		{ "{\"name\":5}", ERR_PROTO_FIELD_TYPE, "name" },
		{ "{\"name\":\"a\\u0000b\"}", ERR_PROTO_FIELD_TYPE, "name" },
		{ "{\"kms_enabled\":\"yes\"}", ERR_PROTO_FIELD_TYPE, "kms_enabled" },
		{ "{\"key_provider\":\"sgx\"}", ERR_PROTO_FIELD_TYPE, "key_provider" },
		{ "{\"key_provider\":1}", ERR_PROTO_FIELD_TYPE, "key_provider" },
		{ "{\"key_provider_id\":\"xyz\"}", ERR_PROTO_FIELD_TYPE, "key_provider_id" },
		{ "{\"key_provider_id\":\"abc\"}", ERR_PROTO_FIELD_TYPE, "key_provider_id" },
		{ "{\"allowed_envs\":\"FOO\"}", ERR_PROTO_FIELD_TYPE, "allowed_envs" },
		{ "{\"allowed_envs\":[\"A=B\"]}", ERR_PROTO_FIELD_TYPE, "allowed_envs" },
		{ "{\"allowed_envs\":[\"\"]}", ERR_PROTO_FIELD_TYPE, "allowed_envs" },
		{ "{\"allowed_envs\":[1]}", ERR_PROTO_FIELD_TYPE, "allowed_envs" },
		{ "{\"event_log_version\":3}", ERR_PROTO_FIELD_TYPE, "event_log_version" },
		{ "{\"event_log_version\":1.5}", ERR_PROTO_FIELD_TYPE, "event_log_version" },
		{ "{\"manifest_version\":-1}", ERR_PROTO_FIELD_TYPE, "manifest_version" },
		{ "{\"manifest_version\":true}", ERR_PROTO_FIELD_TYPE, "manifest_version" },
		{ "{\"init_script\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]}", ERR_PROTO_FIELD_TYPE, "init_script" },
		{ "{\"init_script\":7}", ERR_PROTO_FIELD_TYPE, "init_script" },
		{ "{\"bash_script\":[]}", ERR_PROTO_FIELD_TYPE, "bash_script" },
		{ "{\"name\":\"\xff\"}", ERR_PROTO_ENCODING, NULL },
	};
	struct guest_compose c;
	const char *detail;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		err_t err = compose(cases[i].text, &c, &detail);

		if (err != cases[i].err)
			fail_msg("case %zu (%s): %s, want %s", i, cases[i].text, err_name(err), err_name(cases[i].err));
		assert_non_null(detail);
		if (cases[i].detail && !strstr(detail, cases[i].detail))
			fail_msg("case %zu: detail '%s' does not name '%s'", i, detail, cases[i].detail);
	}
}

static void test_compose_limits(void **state)
{
	size_t n = GUEST_COMPOSE_MAX + 1;
	char *big = malloc(n + 1);
	struct guest_compose c;
	struct buf_writer w;
	const char *detail;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = 0;
	arena_reset(&mem);
	assert_int_equal(guest_compose_parse(big, n, &mem, &c, &detail), ERR_PROTO_TOO_LARGE);
	free(big);
	/* 256 allowed names are fine, 257 are not. */
	for (int count = 256; count <= 257; count++) {
		buf_writer_init(&w, 1u << 20);
		buf_put_str(&w, "{\"allowed_envs\":[");
		for (int i = 0; i < count; i++)
			buf_printf(&w, "%s\"E%d\"", i ? "," : "", i);
		buf_put_str(&w, "]}");
		arena_reset(&mem);
		assert_int_equal(guest_compose_parse((const char *)w.p, w.len, &mem, &c, &detail),
				 count == 256 ? ERR_OK : ERR_PROTO_FIELD_TYPE);
		buf_writer_free(&w);
	}
	/* Nesting beyond the cap (in an ignored member) is still refused: the parser bounds it. */
	buf_writer_init(&w, 1u << 20);
	buf_put_str(&w, "{\"x\":");
	for (int i = 0; i < 100; i++)
		buf_put_u8(&w, '[');
	for (int i = 0; i < 100; i++)
		buf_put_u8(&w, ']');
	buf_put_u8(&w, '}');
	arena_reset(&mem);
	assert_int_equal(guest_compose_parse((const char *)w.p, w.len, &mem, &c, &detail), ERR_PROTO_DEPTH);
	buf_writer_free(&w);
}

static void test_sys_config(void **state)
{
	static const char ok[] =
		"{\"kms_urls\":[\"https://kms.example:8000\",\"http://127.0.0.1:1\"],\"gateway_urls\":[],"
		"\"pccs_url\":\"\",\"docker_registry\":null,\"host_api_url\":\"vsock://2:12000/api\","
		"\"vm_config\":\"{\\\"os_image_hash\\\":\\\"0505050505050505050505050505050505050505050505050505050505050505\\\",\\\"cpu_count\\\":2}\"}";
	struct guest_sys_config s;
	const char *detail;

	(void)state;
	arena_reset(&mem);
	assert_int_equal(guest_sys_config_parse(ok, strlen(ok), &mem, &s, &detail), ERR_OK);
	assert_int_equal(s.n_kms_urls, 2);
	assert_string_equal(s.kms_urls[0], "https://kms.example:8000");
	assert_true(s.has_os_image_hash);
	assert_int_equal(s.os_image_hash[31], 5);
	assert_non_null(strstr(s.vm_config, "cpu_count"));
	assert_int_equal(guest_sys_config_parse("{}", 2, &mem, &s, &detail), ERR_OK);
	assert_string_equal(s.vm_config, "");
	assert_false(s.has_os_image_hash);
	{
		static const char *const bad[] = {
			"{\"kms_urls\":\"https://x\"}",
			"{\"kms_urls\":[\"ftp://x\"]}",
			"{\"kms_urls\":[\"https://a b\"]}",
			"{\"kms_urls\":[1]}",
			"{\"vm_config\":{}}",
			"{\"vm_config\":\"not json\"}",
			"{\"vm_config\":\"[]\"}",
			"{\"vm_config\":\"{\\\"os_image_hash\\\":\\\"05\\\"}\"}",
			"{\"kms_urls\":[\"http://1\",\"http://2\",\"http://3\",\"http://4\",\"http://5\",\"http://6\",\"http://7\","
			"\"http://8\",\"http://9\"]}",
		};
		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			arena_reset(&mem);
			if (guest_sys_config_parse(bad[i], strlen(bad[i]), &mem, &s, &detail) != ERR_PROTO_FIELD_TYPE)
				fail_msg("sys-config case %zu accepted: %s", i, bad[i]);
		}
	}
}

static void test_instance_info_and_identity(void **state)
{
	static const char compose_text[] = "{\"manifest_version\":2,\"name\":\"x\"}";
	struct guest_instance_info ii;
	struct guest_compose c;
	struct guest_identity id;
	uint8_t seed[20], h[32], want[20];
	const char *detail;

	(void)state;
	arena_reset(&mem);
	assert_int_equal(guest_instance_info_parse("{\"instance_id_seed\":\"0102030405060708090a0b0c0d0e0f1011121314\","
						   "\"instance_id\":\"ignored\"}",
						   strlen("{\"instance_id_seed\":\"0102030405060708090a0b0c0d0e0f1011121314\","
							  "\"instance_id\":\"ignored\"}"),
						   &mem, &ii, &detail),
			 ERR_OK);
	assert_true(ii.has_seed);
	assert_false(ii.has_app_id);
	assert_int_equal(guest_instance_info_parse("{\"app_id\":\"0x01\"}", 17, &mem, &ii, &detail), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(guest_instance_info_parse("{\"instance_id_seed\":5}", 22, &mem, &ii, &detail), ERR_PROTO_FIELD_TYPE);

	/* Without an app id from the host: app_id = compose_hash[0..20); instance_id = sha256(seed || app_id)[0..20). */
	assert_int_equal(compose(compose_text, &c, &detail), ERR_OK);
	memset(&ii, 0, sizeof(ii));
	for (int i = 0; i < 20; i++)
		seed[i] = (uint8_t)(i + 1);
	guest_identity_compute(compose_text, strlen(compose_text), &c, &ii, seed, &id);
	sha256(compose_text, strlen(compose_text), h);
	assert_memory_equal(id.compose_hash, h, 32);
	assert_memory_equal(id.app_id, h, 20);
	{
		uint8_t cat[40];

		memcpy(cat, seed, 20);
		memcpy(cat + 20, h, 20);
		sha256(cat, sizeof(cat), h);
	}
	assert_int_equal(id.instance_id_len, 20);
	assert_memory_equal(id.instance_id, h, 20);
	/* The host's app id (an on-chain app) wins; the instance id follows it. */
	ii.has_app_id = 1;
	unhex("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", ii.app_id, 20);
	guest_identity_compute(compose_text, strlen(compose_text), &c, &ii, seed, &id);
	assert_memory_equal(id.app_id, ii.app_id, 20);
	{
		uint8_t cat[40];

		memcpy(cat, seed, 20);
		memcpy(cat + 20, ii.app_id, 20);
		sha256(cat, sizeof(cat), h);
		memcpy(want, h, 20);
	}
	assert_memory_equal(id.instance_id, want, 20);
	/* no_instance_id: empty. */
	assert_int_equal(compose("{\"no_instance_id\":true}", &c, &detail), ERR_OK);
	guest_identity_compute("{\"no_instance_id\":true}", 23, &c, NULL, NULL, &id);
	assert_int_equal(id.instance_id_len, 0);
}

/* Tappd.TdxQuote report data, against vectors from @noble/hashes (keccak) and our own hashes. */
static void test_tdx_report_data(void **state)
{
	static const struct {
		const char *alg, *hex;
	} vec[] = {
		{ "keccak256", "4c9d1053ae3b058e7e844c10a6aa545b253b4331ebc6a8f580a42331c2b601f3" },
		{ "keccak384", "fde0df00917942a5949e7ce2116cc0cc20cf463440593f0a299f100ba585e298d977ec77e8a12007d2800d0ef77f680e" },
		{ "keccak512", "5be53c1af72ae8ff2c1bee25e041b2b8a557ef89aade6219f0fe2e530cfefa42bf184fe357428f4ce6ee415575581b51"
			       "1cad3fc98cf3a0fc8fb22b0040b1d599" },
		{ "sha3-256", "70ecbb17b7589d4fcd2f7c4dfefc2f71e994fab599f03093062a6ea7e7b4966b" },
	};
	uint8_t out[64], want[64], data[300], big[309];
	const char *detail = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vec); i++) {
		memset(want, 0, sizeof(want));
		unhex(vec[i].hex, want, strlen(vec[i].hex) / 2);
		assert_int_equal(guest_tdx_report_data(vec[i].alg, "", (const uint8_t *)"abc", 3, out, &detail), ERR_OK);
		assert_memory_equal(out, want, 64);
	}
	/* Longer than one keccak block (rate 104 / 72 bytes). */
	memset(data, 7, sizeof(data));
	memset(want, 0, sizeof(want));
	unhex("13cf67486e7d324a426b735c941bd933a570481286f8caae0db5355da28baa8672e87a05a999704c08ba1c3f3830bfb9", want, 48);
	assert_int_equal(guest_tdx_report_data("keccak384", NULL, data, sizeof(data), out, &detail), ERR_OK);
	assert_memory_equal(out, want, 64);
	unhex("6ae73368fc042c8125abefdfd609d9623464f2984a6916b0ba7dbf0dfe1cb7383d79d1ba0d238e9aac8061fbf8248869896a9757ed5"
	      "8e45ac238c93684cddecf",
	      want, 64);
	assert_int_equal(guest_tdx_report_data("keccak512", NULL, data, sizeof(data), out, &detail), ERR_OK);
	assert_memory_equal(out, want, 64);
	/* sha512 is the default; a custom prefix replaces "app-data". */
	memcpy(big, "app-data:", 9);
	memcpy(big + 9, data, sizeof(data));
	sha512(big, sizeof(big), want);
	assert_int_equal(guest_tdx_report_data("", NULL, data, sizeof(data), out, &detail), ERR_OK);
	assert_memory_equal(out, want, 64);
	memset(want, 0, sizeof(want));
	sha256("mine:abc", 8, want);
	assert_int_equal(guest_tdx_report_data("sha256", "mine", (const uint8_t *)"abc", 3, out, &detail), ERR_OK);
	assert_memory_equal(out, want, 64);
	/* raw: exactly 64 bytes, verbatim. */
	assert_int_equal(guest_tdx_report_data("raw", NULL, data, 64, out, &detail), ERR_OK);
	assert_memory_equal(out, data, 64);
	assert_int_equal(guest_tdx_report_data("raw", NULL, data, 63, out, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "64"));
	assert_int_equal(guest_tdx_report_data("md5", NULL, data, 3, out, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "hash_algorithm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_dstack_sample),
		cmocka_unit_test(test_compose_defaults_and_key_provider),
		cmocka_unit_test(test_compose_refusals),
		cmocka_unit_test(test_compose_limits),
		cmocka_unit_test(test_sys_config),
		cmocka_unit_test(test_instance_info_and_identity),
		cmocka_unit_test(test_tdx_report_data),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
