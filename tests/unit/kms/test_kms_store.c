/* SPDX-License-Identifier: Apache-2.0 */
/* kms_store: sealing round trip, tamper and permission errors, and crashes mid-write that lose nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "kms_store.h"

static char g_dir[] = "/tmp/ds-kms-store-XXXXXX";

static void path_of(const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", g_dir, name);

	assert_true(n > 0 && (size_t)n < cap);
}

/* A state whose every field follows from `gen`, so a reader can tell a torn one. */
static void fill_state(kms_sealed_state *st, kms_root_epoch *ep, kms_root_epoch **eps, uint8_t keys[2][32],
		       char *domain, size_t dcap, uint64_t gen)
{
	dstack__kms__internal__v1__sealed_state__init(st);
	dstack__kms__internal__v1__root_epoch__init(ep);
	sha256(&gen, sizeof(gen), keys[0]);
	sha256(keys[0], 32, keys[1]);
	ep->epoch = 0;
	ep->state = 1;
	ep->ca_key = (ProtobufCBinaryData){ 32, keys[0] };
	ep->k256_key = (ProtobufCBinaryData){ 32, keys[1] };
	ep->created_at_unix = gen;
	eps[0] = ep;
	assert_true(snprintf(domain, dcap, "gen-%llu", (unsigned long long)gen) > 0);
	st->version = 1;
	st->generation = gen;
	st->domain = domain;
	st->n_epochs = 1;
	st->epochs = eps;
}

static void check_state(const kms_sealed_state *st)
{
	uint8_t k0[32], k1[32];
	char domain[64];
	uint64_t gen = st->generation;

	sha256(&gen, sizeof(gen), k0);
	sha256(k0, 32, k1);
	assert_true(snprintf(domain, sizeof(domain), "gen-%llu", (unsigned long long)gen) > 0);
	assert_string_equal(st->domain, domain);
	assert_int_equal(st->n_epochs, 1);
	assert_int_equal(st->epochs[0]->ca_key.len, 32);
	assert_memory_equal(st->epochs[0]->ca_key.data, k0, 32);
	assert_memory_equal(st->epochs[0]->k256_key.data, k1, 32);
	assert_int_equal(st->epochs[0]->created_at_unix, gen);
}

static err_t save_gen(const struct kms_sealer *s, uint64_t gen)
{
	kms_sealed_state st;
	kms_root_epoch ep, *eps[1];
	uint8_t keys[2][32];
	char domain[64];
	const char *detail = NULL;

	fill_state(&st, &ep, eps, keys, domain, sizeof(domain), gen);
	return kms_store_save(g_dir, s, &st, &detail);
}

static err_t load(const struct kms_sealer *s, struct arena *mem, kms_sealed_state **st)
{
	const char *detail = NULL;
	err_t err = kms_store_load(g_dir, s, mem, st, &detail);

	assert_non_null(detail);
	return err;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(g_dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	assert_true(snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir) > 0);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_provider_required(void **state)
{
	struct kms_sealer s;
	const char *detail = NULL;

	(void)state;
	assert_int_equal(kms_sealer_open("", g_dir, &s, &detail), ERR_CONFIG);
	assert_non_null(strstr(detail, "unsealed"));
	assert_int_equal(kms_sealer_open("tpm", g_dir, &s, &detail), ERR_CONFIG);
	assert_non_null(strstr(detail, "unknown"));
}

static void test_round_trip_and_tamper(void **state)
{
	struct kms_sealer s, other;
	struct arena mem;
	kms_sealed_state *st;
	const char *detail = NULL;
	char path[512], keypath[512];
	uint8_t buf[4096];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(kms_sealer_open("sim", g_dir, &s, &detail), ERR_OK);
	assert_true(s.simulated);
	arena_init(&mem, 1u << 20, 0);
	mem.wipe = 1;
	assert_int_equal(load(&s, &mem, &st), ERR_NOT_FOUND);
	assert_int_equal(save_gen(&s, 7), ERR_OK);
	assert_int_equal(load(&s, &mem, &st), ERR_OK);
	assert_int_equal(st->generation, 7);
	check_state(st);

	/* The same provider reopened finds the same key; a different key does not authenticate. */
	assert_int_equal(kms_sealer_open("sim", g_dir, &other, &detail), ERR_OK);
	assert_memory_equal(other.key, s.key, KMS_SEAL_KEY_LEN);
	other.key[0] ^= 1;
	assert_int_equal(load(&other, &mem, &st), ERR_CRYPTO);
	kms_sealer_close(&other);

	/* Every single-bit flip of the file is caught. */
	path_of(KMS_STORE_FILE, path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	assert_true(n > 40 && n < (ssize_t)sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		buf[i] ^= 0x10;
		assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
		assert_int_not_equal(load(&s, &mem, &st), ERR_OK);
		buf[i] ^= 0x10;
	}
	/* Truncation is caught. */
	assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	assert_int_equal(ftruncate(fd, n - 1), 0);
	assert_int_equal(load(&s, &mem, &st), ERR_CRYPTO);
	assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);
	assert_int_equal(load(&s, &mem, &st), ERR_OK);

	/* A readable state file or key file is refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(load(&s, &mem, &st), ERR_CONFIG_PERMS);
	assert_int_equal(chmod(path, 0600), 0);
	path_of(KMS_SIM_SEAL_KEY_FILE, keypath, sizeof(keypath));
	assert_int_equal(chmod(keypath, 0640), 0);
	assert_int_equal(kms_sealer_open("sim", g_dir, &other, &detail), ERR_CONFIG_PERMS);
	assert_int_equal(chmod(keypath, 0600), 0);
	arena_fini(&mem);
	kms_sealer_close(&s);
}

/*
 * A child rewrites the state as fast as it can (generation 1, 2, 3 ...) and
 * is killed with SIGKILL at a random moment. What is on disk must then be a
 * complete state of some generation the child reached, never a torn or lost
 * one, and the next writer must not trip over the leftover temporary file.
 */
static void test_crash_mid_write(void **state)
{
	struct kms_sealer s;
	const char *detail = NULL;
	uint64_t last = 0;
	struct arena mem;
	char path[512], tmppath[520];
	int torn = 0;

	(void)state;
	path_of(KMS_STORE_FILE, path, sizeof(path));
	(void)unlink(path);
	assert_true(snprintf(tmppath, sizeof(tmppath), "%s.tmp", path) > 0);
	assert_int_equal(kms_sealer_open("sim", g_dir, &s, &detail), ERR_OK);
	srand((unsigned)time(NULL));
	arena_init(&mem, 1u << 20, 0);
	mem.wipe = 1;
	for (int round = 0; round < 60; round++) {
		kms_sealed_state *st = NULL;
		struct timespec ts = { 0, (long)(rand() % 4000) * 1000 };
		pid_t pid = fork();
		int status;
		err_t err;

		assert_true(pid >= 0);
		if (pid == 0) {
			for (uint64_t g = last + 1;; g++)
				if (save_gen(&s, g) != ERR_OK)
					_exit(3);
		}
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		if (access(tmppath, F_OK) == 0)
			torn++;
		err = load(&s, &mem, &st);
		if (err == ERR_NOT_FOUND) {
			assert_int_equal(last, 0); /* killed before the very first rename */
			continue;
		}
		assert_int_equal(err, ERR_OK);
		assert_true(st->generation >= last);
		check_state(st);
		last = st->generation;
		arena_reset(&mem);
	}
	assert_true(last > 0);
	/* The kills did land inside writes (a temporary file was left behind). */
	assert_true(torn > 0);
	arena_fini(&mem);
	kms_sealer_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_required),
		cmocka_unit_test(test_round_trip_and_tamper),
		cmocka_unit_test(test_crash_mid_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
