/* SPDX-License-Identifier: Apache-2.0 */
/* The GetKey memo: hits give back exactly what was derived, keys never mix, and it stays bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guest_keymemo.h"

static const uint8_t app_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static void derive(const char *path, const char *purpose, struct dstack_derived_key *dk)
{
	assert_int_equal(dstack_getkey(app_key, DSTACK_KEY_SECP256K1, path, strlen(path), purpose, strlen(purpose), dk),
			 ERR_OK);
}

static int get(struct guest_keymemo *m, unsigned alg, const char *path, const char *purpose,
	       struct dstack_derived_key *out)
{
	return guest_keymemo_get(m, alg, path, strlen(path), purpose, strlen(purpose), out);
}

static void put(struct guest_keymemo *m, unsigned alg, const char *path, const char *purpose,
		const struct dstack_derived_key *dk)
{
	guest_keymemo_put(m, alg, path, strlen(path), purpose, strlen(purpose), dk);
}

static void test_hit_is_the_derived_answer(void **state)
{
	struct guest_keymemo *m = guest_keymemo_new();
	struct dstack_derived_key dk, got;

	(void)state;
	assert_non_null(m);
	derive("wallet/eth", "signing", &dk);
	assert_int_equal(get(m, 0, "wallet/eth", "signing", &got), 0);
	put(m, 0, "wallet/eth", "signing", &dk);
	memset(&got, 0, sizeof(got));
	assert_int_equal(get(m, 0, "wallet/eth", "signing", &got), 1);
	assert_memory_equal(&got, &dk, sizeof(dk));
	/* The same text split differently between path and purpose, another algorithm, another path: all misses. */
	assert_int_equal(get(m, 0, "wallet/ethsigning", "", &got), 0);
	assert_int_equal(get(m, 0, "wallet/eth", "signin", &got), 0);
	assert_int_equal(get(m, 1, "wallet/eth", "signing", &got), 0);
	assert_int_equal(get(m, 0, "wallet/btc", "signing", &got), 0);
	assert_int_equal(guest_keymemo_stats(m).hits, 1);
	assert_int_equal(guest_keymemo_stats(m).misses, 5);
	guest_keymemo_free(m);
}

static void test_long_requests_are_not_memoised(void **state)
{
	struct guest_keymemo *m = guest_keymemo_new();
	struct dstack_derived_key dk, got;
	char path[300];

	(void)state;
	assert_non_null(m);
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	derive(path, "x", &dk);
	put(m, 0, path, "x", &dk);
	assert_int_equal(get(m, 0, path, "x", &got), 0);
	guest_keymemo_free(m);
}

/* Many more keys than slots: bounded, and every hit is still the answer for its own key. */
static void test_bounded_and_exact_under_eviction(void **state)
{
	enum { N = 2000 };
	struct guest_keymemo *m = guest_keymemo_new();
	struct dstack_derived_key dk, got;
	size_t hits = 0;

	(void)state;
	assert_non_null(m);
	for (int i = 0; i < N; i++) {
		char path[32];

		snprintf(path, sizeof(path), "k/%d", i);
		memset(&dk, 0, sizeof(dk));
		dk.key[0] = (uint8_t)i;
		dk.key[1] = (uint8_t)(i >> 8);
		put(m, 0, path, "p", &dk);
	}
	assert_true(guest_keymemo_stats(m).evictions >= N - 256);
	for (int i = 0; i < N; i++) {
		char path[32];

		snprintf(path, sizeof(path), "k/%d", i);
		if (get(m, 0, path, "p", &got)) {
			hits++;
			assert_int_equal(got.key[0] | got.key[1] << 8, i);
		}
	}
	assert_true(hits > 0 && hits <= 256);
	guest_keymemo_free(m);
	guest_keymemo_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_is_the_derived_answer),
		cmocka_unit_test(test_long_requests_are_not_memoised),
		cmocka_unit_test(test_bounded_and_exact_under_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
