/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the error table: every code has text and a unique name, and groups are derived correctly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "err.h"

static const int groups[] = { ERR_IO, ERR_PROTO, ERR_ATTEST, ERR_POLICY, ERR_AUTH, ERR_INTERNAL, ERR_USAGE };

static void test_every_code_has_text_and_name(void **state)
{
	size_t n = err_count();

	(void)state;
	assert_true(n > 40);
	for (size_t i = 0; i < n; i++) {
		int code = err_at(i);
		const char *text = err_str(code), *name = err_name(code);

		assert_non_null(text);
		assert_true(strlen(text) > 0);
		assert_string_not_equal(text, "unknown error");
		assert_non_null(name);
		assert_true(strncmp(name, "ERR_", 4) == 0);
		assert_string_not_equal(name, "ERR_UNKNOWN");
		for (size_t j = i + 1; j < n; j++) {
			if (err_at(j) == code)
				fail_msg("code %d appears twice", code);
			if (strcmp(err_name(err_at(j)), name) == 0)
				fail_msg("name %s appears twice", name);
			if (strcmp(err_str(err_at(j)), text) == 0)
				fail_msg("text '%s' appears twice", text);
		}
	}
}

static void test_names_match_enum(void **state)
{
	(void)state;
	assert_string_equal(err_name(ERR_OK), "ERR_OK");
	assert_string_equal(err_name(ERR_PROTO_JSON), "ERR_PROTO_JSON");
	assert_string_equal(err_name(ERR_CONFIG_PERMS), "ERR_CONFIG_PERMS");
	assert_string_equal(err_name(ERR_FAILED_PRECONDITION), "ERR_FAILED_PRECONDITION");
	assert_string_equal(err_str(ERR_OK), "ok");
	assert_string_equal(err_str(ERR_BUDGET), "memory budget exceeded");
	assert_string_equal(err_str(ERR_PROTO_TRUNCATED), "input truncated");
}

static void test_groups(void **state)
{
	(void)state;
	/* Every code is 0 or negative and belongs to a group whose base is itself in the table. */
	for (size_t i = 0; i < err_count(); i++) {
		int code = err_at(i), g = err_group(code);
		int found = 0;

		if (code == ERR_OK) {
			assert_int_equal(g, ERR_OK);
			continue;
		}
		assert_true(code < 0);
		for (size_t j = 0; j < sizeof(groups) / sizeof(groups[0]); j++)
			found |= groups[j] == g;
		if (!found)
			fail_msg("%s is in no group (%d)", err_name(code), g);
		assert_true(code <= g && code > g - 100);
		assert_string_not_equal(err_str(g), "unknown error");
	}
	assert_int_equal(err_group(ERR_PROTO_JSON), ERR_PROTO);
	assert_int_equal(err_group(ERR_PROTO), ERR_PROTO);
	assert_int_equal(err_group(ERR_IO_FILE), ERR_IO);
	assert_int_equal(err_group(ERR_ATTEST), ERR_ATTEST);
	assert_int_equal(err_group(ERR_POLICY_STALE), ERR_POLICY);
	assert_int_equal(err_group(ERR_AUTH_PEER_REJECTED), ERR_AUTH);
	assert_int_equal(err_group(ERR_BUDGET), ERR_INTERNAL);
	assert_int_equal(err_group(ERR_CONFIG_RANGE), ERR_USAGE);
	assert_int_equal(err_group(ERR_OK), ERR_OK);
	assert_int_equal(err_group(7), ERR_OK);
	assert_int_equal(err_group(INT_MAX), ERR_OK);
	/* Codes outside the table still get a group, and the most negative int does not overflow. */
	assert_int_equal(err_group(-299), ERR_PROTO);
	assert_int_equal(err_group(-99), ERR_OK);
	assert_int_equal(err_group(INT_MIN), -2147483600);
}

static void test_unknown_codes(void **state)
{
	static const int unknown[] = { 1, -1, -99, -150, -299, -399, -800, -100000, INT_MIN, INT_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(err_str(unknown[i]), "unknown error");
		assert_string_equal(err_name(unknown[i]), "ERR_UNKNOWN");
	}
	assert_int_equal(err_at(err_count()), ERR_OK);
	assert_int_equal(err_at((size_t)-1), ERR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_text_and_name),
		cmocka_unit_test(test_names_match_enum),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_unknown_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
