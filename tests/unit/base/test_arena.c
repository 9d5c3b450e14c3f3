/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the arena: alignment, the byte budget and ERR_BUDGET, reset, large blocks and the string helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"

static void test_alignment(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 1 << 20, 256);
	for (size_t n = 1; n < 600; n += 7) {
		unsigned char *p = arena_alloc(&a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xcd, n);
	}
	assert_int_equal(a.exhausted, 0);
	arena_fini(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
}

static void test_budget(void **state)
{
	struct arena a;
	size_t count = 0;
	void *p;

	(void)state;
	arena_init(&a, 8192, 1024);
	assert_int_equal(arena_err(&a), ERR_NOMEM);
	while ((p = arena_alloc(&a, 100)) != NULL) {
		memset(p, 1, 100);
		count++;
		assert_true(count < 1000);
	}
	assert_true(count >= 40);
	assert_int_equal(a.exhausted, 1);
	assert_true(a.used <= a.budget);
	assert_int_equal(arena_err(&a), ERR_BUDGET);
	assert_null(arena_alloc(&a, 1024));
	assert_null(arena_strdup(&a, "still no room for this string once the chunk is full, surely; it is long enough"));

	/* Reset clears the flag and makes the memory available again. */
	arena_reset(&a);
	assert_int_equal(a.exhausted, 0);
	assert_int_equal(arena_err(&a), ERR_NOMEM);
	assert_true(a.used > 0 && a.used <= 2048);
	for (size_t i = 0; i < count; i++)
		assert_non_null(arena_alloc(&a, 100));
	assert_true(a.used <= a.budget);
	arena_fini(&a);
}

static void test_zero_budget(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 0, 0);
	assert_int_equal(a.chunk_size, 4096);
	assert_null(arena_alloc(&a, 1));
	assert_int_equal(arena_err(&a), ERR_BUDGET);
	arena_fini(&a);
}

static void test_too_big_does_not_consume(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 4096, 512);
	assert_null(arena_alloc(&a, 4096));
	assert_int_equal(a.exhausted, 1);
	assert_int_equal(a.used, 0);
	/* Sizes that would overflow the rounding or the header addition. */
	assert_null(arena_alloc(&a, SIZE_MAX));
	assert_null(arena_alloc(&a, SIZE_MAX - 15));
	assert_null(arena_alloc(&a, SIZE_MAX - 100));
	assert_null(arena_memdup(&a, "x", SIZE_MAX));
	assert_int_equal(arena_err(&a), ERR_BUDGET);
	/* A failed big request leaves room for small ones. */
	assert_non_null(arena_alloc(&a, 100));
	arena_fini(&a);
}

static void test_big_allocations(void **state)
{
	struct arena a;
	unsigned char *small1, *big, *small2, *big2;

	(void)state;
	arena_init(&a, 1 << 20, 1024);
	small1 = arena_alloc(&a, 16);
	assert_non_null(small1);
	big = arena_alloc(&a, 100000);
	assert_non_null(big);
	assert_int_equal((uintptr_t)big % 16, 0);
	memset(big, 0xab, 100000);
	/* The large block got its own chunk; small requests keep using the current one. */
	small2 = arena_alloc(&a, 16);
	assert_ptr_equal(small2, small1 + 16);
	big2 = arena_alloc(&a, 200000);
	assert_non_null(big2);
	memset(big2, 0xcd, 200000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(big[i], 0xab);
	assert_true(a.used >= 300000 + 1024);

	arena_reset(&a);
	assert_true(a.used < 2048);
	for (int i = 0; i < 10; i++)
		assert_non_null(arena_alloc(&a, 50000));
	arena_fini(&a);
	assert_int_equal(a.used, 0);
}

static void test_reset_reuses_memory(void **state)
{
	struct arena a;
	void *p1, *p2;
	size_t used;

	(void)state;
	arena_init(&a, 1 << 20, 4096);
	p1 = arena_alloc(&a, 64);
	assert_non_null(p1);
	used = a.used;
	for (int i = 0; i < 100; i++)
		assert_non_null(arena_alloc(&a, 1000));
	arena_reset(&a);
	assert_int_equal(a.used, used);
	p2 = arena_alloc(&a, 64);
	assert_ptr_equal(p1, p2);
	/* Reset on an empty arena and repeated resets are harmless. */
	arena_reset(&a);
	arena_reset(&a);
	arena_fini(&a);
	arena_reset(&a);
	assert_null(a.head);
	/* An arena can be used again after fini. */
	assert_non_null(arena_alloc(&a, 10));
	arena_fini(&a);
}

static void test_zalloc(void **state)
{
	struct arena a;
	unsigned char *p;

	(void)state;
	arena_init(&a, 1 << 16, 1024);
	p = arena_alloc(&a, 512);
	assert_non_null(p);
	memset(p, 0xff, 512);
	arena_reset(&a);
	p = arena_zalloc(&a, 512);
	assert_non_null(p);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(p[i], 0);
	arena_fini(&a);
}

static void test_memdup_strdup(void **state)
{
	struct arena a;
	static const unsigned char bytes[] = { 1, 2, 0, 3 };
	unsigned char *p;
	char *s;

	(void)state;
	arena_init(&a, 1 << 16, 1024);
	p = arena_memdup(&a, bytes, sizeof(bytes));
	assert_non_null(p);
	assert_memory_equal(p, bytes, sizeof(bytes));
	assert_int_equal(p[sizeof(bytes)], 0);
	p = arena_memdup(&a, NULL, 0);
	assert_non_null(p);
	assert_int_equal(p[0], 0);
	s = arena_memdup(&a, "abcdef", 3);
	assert_string_equal(s, "abc");
	s = arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	s = arena_strdup(&a, "");
	assert_string_equal(s, "");
	arena_fini(&a);
}

static void test_printf(void **state)
{
	struct arena a;
	char *s;
	char big[5000];

	(void)state;
	arena_init(&a, 1 << 16, 256);
	s = arena_printf(&a, "%s-%d-%04x", "key", 42, 0xbeef);
	assert_string_equal(s, "key-42-beef");
	s = arena_printf(&a, "%s", "");
	assert_string_equal(s, "");
	/* Longer than a chunk. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	s = arena_printf(&a, "<%s>", big);
	assert_non_null(s);
	assert_int_equal(strlen(s), sizeof(big) + 1);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[sizeof(big)], '>');
	arena_fini(&a);

	/* Over budget: NULL and the flag. */
	arena_init(&a, 1024, 256);
	assert_null(arena_printf(&a, "%s", big));
	assert_int_equal(arena_err(&a), ERR_BUDGET);
	arena_fini(&a);
}

static void test_wipe_mode(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 1 << 20, 512);
	a.wipe = 1;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++) {
			char *s = arena_printf(&a, "secret-%d-%d", round, i);
			assert_non_null(s);
		}
		assert_non_null(arena_alloc(&a, 10000));
		arena_reset(&a);
	}
	arena_fini(&a);
	assert_int_equal(a.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_zero_budget),
		cmocka_unit_test(test_too_big_does_not_consume),
		cmocka_unit_test(test_big_allocations),
		cmocka_unit_test(test_reset_reuses_memory),
		cmocka_unit_test(test_zalloc),
		cmocka_unit_test(test_memdup_strdup),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_wipe_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
