/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The measured boot on the sim TEE: dstack's event order and payloads, keys
 * from a local seed, resuming in the same boot, refusing another boot, KMS
 * unreachable (retries, backoff, nothing kept), the data disk through a fake
 * cryptsetup, and the refusals (missing compose, unsupported key providers,
 * encrypted env without an env key).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "dstack_keys.h"
#include "enc.h"
#include "eventlog.h"
#include "file.h"
#include "guest-agent.h"

static char dir[] = "/tmp/ds-guest-boot-XXXXXX";

struct tcfg {
	struct guest_config c;
	char state[512], shared[512], seed[512], disk_script[512], disk_log[512];
};

static void path_in(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s%s%s", dir, a, b ? "/" : "", b ? b : "");

	assert_true(n > 0 && (size_t)n < cap);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(file_write_atomic(path, text, strlen(text), mode), ERR_OK);
}

/* A fresh CVM: its own TEE state and host-shared directory. */
static void cfg_init(struct tcfg *t, const char *name, const char *compose)
{
	char sub[128], p[600];

	memset(t, 0, sizeof(*t));
	snprintf(sub, sizeof(sub), "%s-tee", name);
	path_in(t->state, sizeof(t->state), sub, NULL);
	assert_int_equal(mkdir(t->state, 0700), 0);
	snprintf(sub, sizeof(sub), "%s-shared", name);
	path_in(t->shared, sizeof(t->shared), sub, NULL);
	assert_int_equal(mkdir(t->shared, 0755), 0);
	path_in(t->seed, sizeof(t->seed), "seed", NULL);
	t->c.tee_backend = GUEST_TEE_SIM;
	t->c.tee_sysfs_root = "/sys";
	t->c.tee_state_dir = t->state;
	t->c.tee_quote_timeout_ms = 30000;
	t->c.host_shared_dir = t->shared;
	t->c.local_seed_file = t->seed;
	t->c.kms_timeout_ms = 2000;
	t->c.kms_attempts = 3;
	t->c.kms_backoff_ms = 50;
	t->c.kms_backoff_max_ms = 1000;
	t->c.data_disk_name = "dstack_data_disk";
	t->c.cryptsetup = "/nonexistent/cryptsetup";
	t->c.write_instance_info = 1;
	t->c.workers = 1;
	t->c.max_queue = 16;
	if (compose) {
		snprintf(p, sizeof(p), "%s/app-compose.json", t->shared);
		write_file(p, compose, 0644);
	}
}

static int setup(void **state)
{
	char seed[600];

	(void)state;
	assert_non_null(mkdtemp(dir));
	path_in(seed, sizeof(seed), "seed", NULL);
	write_file(seed, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	if (getenv("DS_KEEP_TMP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The runtime events of a TEE state, parsed (arena-backed). */
static void runtime_events(struct tee *tee, struct arena *a, struct attest_eventlog *log)
{
	const char *detail = NULL;
	char *json = NULL;
	size_t len = 0;

	assert_int_equal(tee_event_log_json(tee, &json, &len, &detail), ERR_OK);
	assert_int_equal(attest_eventlog_parse_json(json, len, a, log, &detail), ERR_OK);
	free(json);
}

static void event_names(const struct attest_eventlog *log, char *out, size_t cap)
{
	size_t k = 0;

	out[0] = 0;
	for (size_t i = 0; i < log->n; i++)
		if (log->events[i].imr == 3)
			k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "," : "", log->events[i].name);
}

static const char compose_none[] = "{\"manifest_version\":2,\"name\":\"boot-test\",\"runner\":\"bash\","
				   "\"bash_script\":\"true\",\"key_provider\":\"none\"}";

static void test_boot_none_order_and_keys(void **state)
{
	struct tcfg t;
	struct guest_boot b;
	struct tee *tee = NULL;
	struct tee_info ti;
	struct attest_eventlog log;
	struct arena a;
	struct dstack_seed_keys sk;
	uint8_t seed[32], h[32];
	char names[1024];
	const char *detail = NULL;

	(void)state;
	cfg_init(&t, "none", compose_none);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_OK);
	assert_non_null(tee);
	assert_false(b.resumed);
	arena_init(&a, 16u << 20, 0);
	runtime_events(tee, &a, &log);
	event_names(&log, names, sizeof(names));
	assert_string_equal(names, "system-preparing,app-id,compose-hash,instance-id,boot-mr-done,key-provider,system-ready");
	/* Payloads: app id = compose hash prefix, compose hash = sha256 of the exact bytes. */
	sha256(compose_none, strlen(compose_none), h);
	assert_memory_equal(attest_eventlog_find(&log, "compose-hash")->payload, h, 32);
	assert_memory_equal(attest_eventlog_find(&log, "app-id")->payload, h, 20);
	assert_int_equal(attest_eventlog_find(&log, "instance-id")->payload_len, 20);
	assert_memory_equal(attest_eventlog_find(&log, "instance-id")->payload, b.id.instance_id, 20);
	assert_int_equal(attest_eventlog_find(&log, "key-provider")->payload_len, strlen("{\"name\":\"none\",\"id\":\"\"}"));
	assert_memory_equal(attest_eventlog_find(&log, "key-provider")->payload, "{\"name\":\"none\",\"id\":\"\"}", 22);
	/* The log replays to the register. */
	assert_int_equal(tee_info(tee, &ti, &detail), ERR_OK);
	assert_memory_equal(log.rtmr[3], ti.rtmr[3], 48);
	/* Keys from the local seed, as dstack-util's gen_app_keys_from_seed. */
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	assert_int_equal(dstack_seed_keys_derive(seed, 32, &sk), ERR_OK);
	assert_memory_equal(b.keys.k256_key, sk.k256_key, 32);
	assert_memory_equal(b.keys.disk_crypt_key, sk.disk_crypt_key, 32);
	assert_int_equal(b.keys.k256_signature_len, 0);
	assert_false(b.keys.has_env_key);
	assert_non_null(b.keys.app_ca_cert);
	assert_non_null(strstr(b.keys.app_ca_pem, "BEGIN CERTIFICATE"));
	assert_true(b.has_td);
	assert_true(b.has_device_id);
	arena_fini(&a);
	guest_boot_free(&b);
	tee_close(tee);
}

/* An agent restarted in the same boot checks what RTMR3 holds and measures nothing twice. */
static void test_boot_resume_and_refuse_another(void **state)
{
	struct tcfg t;
	struct guest_boot b;
	struct tee *tee = NULL;
	struct tee_info before, after;
	char p[600];
	const char *detail = NULL;

	(void)state;
	cfg_init(&t, "resume", compose_none);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_OK);
	assert_int_equal(tee_info(tee, &before, &detail), ERR_OK);
	guest_boot_free(&b);
	tee_close(tee);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_OK);
	assert_true(b.resumed);
	assert_int_equal(tee_info(tee, &after, &detail), ERR_OK);
	assert_int_equal(after.n_runtime_events, before.n_runtime_events);
	assert_memory_equal(after.rtmr[3], before.rtmr[3], 48);
	guest_boot_free(&b);
	tee_close(tee);
	/* Another compose in the same "VM": refused, RTMR3 untouched, nothing kept. */
	snprintf(p, sizeof(p), "%s/app-compose.json", t.shared);
	write_file(p, "{\"name\":\"another\",\"key_provider\":\"none\"}", 0644);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_FAILED_PRECONDITION);
	assert_null(tee);
	assert_non_null(strstr(b.why, "RTMR3 already holds another boot"));
	assert_non_null(strstr(b.why, "compose-hash"));
	{
		uint8_t zero[32] = { 0 };

		assert_memory_equal(b.keys.k256_key, zero, 32);
	}
	guest_boot_free(&b);
}

/* KMS unreachable: every attempt fails on the transport, backoff between rounds, then a clear stop with no keys. */
static void test_boot_kms_unreachable(void **state)
{
	struct tcfg t;
	struct guest_boot b;
	struct tee *tee = NULL;
	struct tee_config tc = { .backend = "sim" };
	struct attest_eventlog log;
	struct arena a;
	char names[1024];
	const char *detail = NULL;
	uint64_t t0, ms;
	uint8_t zero[32] = { 0 };

	(void)state;
	cfg_init(&t, "unreachable", "{\"name\":\"k\",\"kms_enabled\":true}");
	t.c.kms_url = "https://127.0.0.1:1";
	t0 = mono_ms();
	assert_int_equal(err_group(guest_boot_run(&t.c, &b, &tee)), ERR_IO);
	ms = mono_ms() - t0;
	assert_null(tee);
	assert_non_null(strstr(b.why, "no KMS answered after 3 attempts"));
	assert_non_null(strstr(b.why, "https://127.0.0.1:1"));
	assert_true(ms >= 50 + 100);   /* backoff 50 ms, then 100 ms */
	assert_memory_equal(b.keys.k256_key, zero, 32);
	assert_memory_equal(b.keys.disk_crypt_key, zero, 32);
	guest_boot_free(&b);
	/* RTMR3 stops at boot-mr-done: no key-provider, no system-ready. */
	tc.state_dir = t.state;
	assert_int_equal(tee_open(&tc, &tee, &detail), ERR_OK);
	arena_init(&a, 16u << 20, 0);
	runtime_events(tee, &a, &log);
	event_names(&log, names, sizeof(names));
	assert_string_equal(names, "system-preparing,app-id,compose-hash,instance-id,boot-mr-done");
	arena_fini(&a);
	tee_close(tee);
	/* The seed it made is kept (not secret) so a retry measures the same instance id. */
	{
		char p[600];
		struct buf_writer w;

		snprintf(p, sizeof(p), "%s/.instance_info", t.shared);
		buf_writer_init(&w, 4096);
		assert_int_equal(file_read_all(p, 4096, 0, &w), ERR_OK);
		assert_non_null(strstr(buf_cstr(&w), "instance_id_seed"));
		buf_writer_free(&w);
	}
	/* Retried in the same boot: resumes, fails the same way. */
	assert_int_equal(err_group(guest_boot_run(&t.c, &b, &tee)), ERR_IO);
	assert_true(strstr(b.why, "no KMS answered") != NULL);
	guest_boot_free(&b);
}

static void test_boot_refusals(void **state)
{
	struct tcfg t;
	struct guest_boot b;
	struct tee *tee = NULL;
	char p[600];

	(void)state;
	cfg_init(&t, "nocompose", NULL);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_NOT_FOUND);
	assert_non_null(strstr(b.why, "app-compose.json"));
	guest_boot_free(&b);

	cfg_init(&t, "tpm", "{\"key_provider\":\"tpm\"}");
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_UNIMPLEMENTED);
	assert_non_null(strstr(b.why, "tpm"));
	guest_boot_free(&b);

	cfg_init(&t, "nokmsurl", "{\"kms_enabled\":true}");
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_CONFIG);
	assert_non_null(strstr(b.why, "no KMS URL"));
	guest_boot_free(&b);

	cfg_init(&t, "badcompose", "{\"name\":7}");
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_PROTO_FIELD_TYPE);
	assert_non_null(strstr(b.why, "name"));
	guest_boot_free(&b);

	/* An encrypted env needs the KMS's env key: key provider none has none. */
	cfg_init(&t, "envnone", compose_none);
	snprintf(p, sizeof(p), "%s/.encrypted-env", t.shared);
	write_file(p, "0123456789012345678901234567890123456789012345678901234567890123456789", 0644);
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_FAILED_PRECONDITION);
	assert_non_null(strstr(b.why, "env key"));
	assert_null(tee);
	guest_boot_free(&b);

	/* A local seed file readable by others is refused. */
	cfg_init(&t, "seedperm", compose_none);
	snprintf(p, sizeof(p), "%s/seed-open", dir);
	write_file(p, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0644);
	t.c.local_seed_file = p;
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_CONFIG_PERMS);
	guest_boot_free(&b);
}

/* The data disk: cryptsetup gets the passphrase hex(disk key) on stdin only; isLuks, format, open. */
static void test_boot_data_disk(void **state)
{
	struct tcfg t;
	struct guest_boot b;
	struct tee *tee = NULL;
	struct buf_writer w;
	char script[2500], want[1024], pass[65];
	const char *log_text;

	(void)state;
	cfg_init(&t, "disk", compose_none);
	path_in(t.disk_script, sizeof(t.disk_script), "fake-cryptsetup", NULL);
	path_in(t.disk_log, sizeof(t.disk_log), "cryptsetup.log", NULL);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "case \"$1\" in\n"
		 "  status) echo \"status $2\" >> '%s'; exit 4 ;;\n"
		 "  isLuks) echo \"isLuks $2\" >> '%s'; exit 1 ;;\n"
		 "  *) key=$(cat); echo \"$* key=$key\" >> '%s'; exit 0 ;;\n"
		 "esac\n",
		 t.disk_log, t.disk_log, t.disk_log);
	write_file(t.disk_script, script, 0755);
	t.c.cryptsetup = t.disk_script;
	t.c.data_disk = "/dev/fake-disk";
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_OK);
	assert_true(b.disk_opened);
	hex_encode(pass, b.keys.disk_crypt_key, 32);
	buf_writer_init(&w, 65536);
	assert_int_equal(file_read_all(t.disk_log, 65536, 0, &w), ERR_OK);
	log_text = buf_cstr(&w);
	assert_non_null(strstr(log_text, "status dstack_data_disk\nisLuks /dev/fake-disk\n"));
	snprintf(want, sizeof(want), "luksFormat --type luks2 --batch-mode --key-file=- /dev/fake-disk key=%s\n", pass);
	assert_non_null(strstr(log_text, want));
	snprintf(want, sizeof(want), "luksOpen --key-file=- /dev/fake-disk dstack_data_disk key=%s\n", pass);
	assert_non_null(strstr(log_text, want));
	buf_writer_free(&w);
	guest_boot_free(&b);
	tee_close(tee);

	/* cryptsetup failing: the boot stops before system-ready. */
	cfg_init(&t, "diskfail", compose_none);
	path_in(t.disk_script, sizeof(t.disk_script), "failing-cryptsetup", NULL);
	write_file(t.disk_script, "#!/bin/sh\ncat >/dev/null; exit 2\n", 0755);
	t.c.cryptsetup = t.disk_script;
	t.c.data_disk = "/dev/fake-disk";
	assert_int_equal(guest_boot_run(&t.c, &b, &tee), ERR_IO_FILE);
	assert_non_null(strstr(b.why, "cryptsetup"));
	guest_boot_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_none_order_and_keys),
		cmocka_unit_test(test_boot_resume_and_refuse_another),
		cmocka_unit_test(test_boot_kms_unreachable),
		cmocka_unit_test(test_boot_refusals),
		cmocka_unit_test(test_boot_data_disk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
