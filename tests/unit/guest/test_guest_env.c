/* SPDX-License-Identifier: Apache-2.0 */
/* .encrypted-env: decryption with the app's env key, the plaintext's shape, allowed_envs, tampering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "guest_env.h"
#include "x25519.h"

static struct arena mem;
static struct guest_compose compose;
static uint8_t env_sk[32], env_pub[32];

static int setup(void **state)
{
	static const char text[] = "{\"allowed_envs\":[\"FOO\",\"BAR_2\",\"EMPTY\"]}";
	const char *detail = NULL;

	(void)state;
	arena_init(&mem, 64u << 20, 0);
	mem.wipe = 1;
	for (int i = 0; i < 32; i++)
		env_sk[i] = (uint8_t)(0x40 + i);
	assert_int_equal(x25519_public_key(env_sk, env_pub), ERR_OK);
	assert_int_equal(guest_compose_parse(text, strlen(text), &mem, &compose, &detail), ERR_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_fini(&mem);
	return 0;
}

/* Encrypt as the SDK's encryptEnvVars does (X25519 + AES-256-GCM); caller frees. */
static uint8_t *seal(const char *plain, size_t *len)
{
	size_t n = strlen(plain), cap = n + DSTACK_ENV_OVERHEAD;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(dstack_env_encrypt(env_pub, plain, n, out, cap, len), ERR_OK);
	return out;
}

static err_t open_env(const uint8_t *blob, size_t len, struct guest_envvars *e, const char **detail)
{
	*detail = NULL;
	return guest_env_decrypt(env_sk, blob, len, &compose, &mem, e, detail);
}

static void test_decrypt_and_filter(void **state)
{
	size_t len;
	uint8_t *blob = seal("{\"env\":[{\"key\":\"FOO\",\"value\":\"s3cr3t = x\\n\\u00e9\"},{\"key\":\"NOT_ALLOWED\","
			     "\"value\":\"v\"},{\"key\":\"BAR_2\",\"value\":\"\"}],\"other\":1}",
			     &len);
	struct guest_envvars e;
	const char *detail;

	(void)state;
	assert_int_equal(open_env(blob, len, &e, &detail), ERR_OK);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.n_dropped, 1);
	assert_string_equal(e.vars[0].name, "FOO");
	assert_string_equal(e.vars[0].value, "s3cr3t = x\n\xc3\xa9");
	assert_string_equal(e.vars[1].name, "BAR_2");
	assert_string_equal(e.vars[1].value, "");
	free(blob);
	/* An empty list is fine. */
	blob = seal("{\"env\":[]}", &len);
	assert_int_equal(open_env(blob, len, &e, &detail), ERR_OK);
	assert_int_equal(e.n, 0);
	free(blob);
}

/* Every byte of the blob is covered: key, IV, ciphertext and tag. */
static void test_tampered(void **state)
{
	size_t len;
	uint8_t *blob = seal("{\"env\":[{\"key\":\"FOO\",\"value\":\"bar\"}]}", &len);
	struct guest_envvars e;
	const char *detail;

	(void)state;
	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x01;
		if (open_env(blob, len, &e, &detail) != ERR_PROTO_DECRYPT)
			fail_msg("flipping byte %zu of %zu was not ERR_PROTO_DECRYPT", i, len);
		assert_non_null(strstr(detail, "tampered"));
		assert_int_equal(e.n, 0);
		blob[i] ^= 0x01;
	}
	assert_int_equal(open_env(blob, len, &e, &detail), ERR_OK);
	/* Cut short, or with a byte appended. */
	assert_int_equal(open_env(blob, DSTACK_ENV_OVERHEAD - 1, &e, &detail), ERR_PROTO_TRUNCATED);
	assert_int_equal(open_env(blob, len - 1, &e, &detail), ERR_PROTO_DECRYPT);
	{
		uint8_t *longer = malloc(len + 1);

		assert_non_null(longer);
		memcpy(longer, blob, len);
		longer[len] = 0;
		assert_int_equal(open_env(longer, len + 1, &e, &detail), ERR_PROTO_DECRYPT);
		free(longer);
	}
	/* Another app's key. */
	{
		uint8_t other[32];

		memcpy(other, env_sk, 32);
		other[5] ^= 0x80;
		assert_int_equal(guest_env_decrypt(other, blob, len, &compose, &mem, &e, &detail), ERR_PROTO_DECRYPT);
	}
	free(blob);
}

static void test_plaintext_shape(void **state)
{
	static const struct {
		const char *plain;
		err_t err;
	} cases[] = {
		{ "not json", ERR_PROTO_JSON },
		{ "[]", ERR_PROTO_MALFORMED },
		{ "{}", ERR_PROTO_MALFORMED },
		{ "{\"env\":{}}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[1]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"FOO\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"FOO\",\"value\":1}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"1FOO\",\"value\":\"x\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"FO-O\",\"value\":\"x\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"\",\"value\":\"x\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"FOO\",\"value\":\"a\\u0000b\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"FOO\",\"value\":\"a\"},{\"key\":\"FOO\",\"value\":\"b\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[{\"key\":\"X\",\"value\":\"a\"},{\"key\":\"X\",\"value\":\"b\"}]}", ERR_PROTO_MALFORMED },
		{ "{\"env\":[[[[[[]]]]]]}", ERR_PROTO_DEPTH },
	};
	struct guest_envvars e;
	const char *detail;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len;
		uint8_t *blob = seal(cases[i].plain, &len);
		err_t err = open_env(blob, len, &e, &detail);

		if (err != cases[i].err)
			fail_msg("case %zu (%s): %s, want %s", i, cases[i].plain, err_name(err), err_name(cases[i].err));
		assert_non_null(detail);
		free(blob);
	}
}

static void test_limits(void **state)
{
	struct buf_writer w;
	struct guest_envvars e;
	const char *detail;
	size_t len;
	uint8_t *blob;

	(void)state;
	/* 257 variables. */
	buf_writer_init(&w, 1u << 20);
	buf_put_str(&w, "{\"env\":[");
	for (int i = 0; i < 257; i++)
		buf_printf(&w, "%s{\"key\":\"V%d\",\"value\":\"x\"}", i ? "," : "", i);
	buf_put_str(&w, "]}");
	assert_non_null(buf_cstr(&w));
	blob = seal(buf_cstr(&w), &len);
	assert_int_equal(open_env(blob, len, &e, &detail), ERR_PROTO_TOO_LARGE);
	free(blob);
	buf_writer_free(&w);
	/* A value over 64 KiB. */
	buf_writer_init(&w, 1u << 20);
	buf_put_str(&w, "{\"env\":[{\"key\":\"FOO\",\"value\":\"");
	for (int i = 0; i < 65537; i++)
		buf_put_u8(&w, 'a');
	buf_put_str(&w, "\"}]}");
	blob = seal(buf_cstr(&w), &len);
	assert_int_equal(open_env(blob, len, &e, &detail), ERR_PROTO_MALFORMED);
	free(blob);
	buf_writer_free(&w);
	/* A file over 1 MiB is refused before any work. */
	blob = calloc(1, GUEST_ENV_FILE_MAX + 1);
	assert_non_null(blob);
	assert_int_equal(open_env(blob, GUEST_ENV_FILE_MAX + 1, &e, &detail), ERR_PROTO_TOO_LARGE);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decrypt_and_filter),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_plaintext_shape),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
