/* SPDX-License-Identifier: Apache-2.0 */
/* registry_policy: the contract and auth-simple decision tables, upgrade-delay edges, the builder's sets, snapshot memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_policy.h"

/* Deterministic 32-byte values: fill with a tag byte and a counter. */
static void val32(uint8_t out[32], uint8_t tag, uint32_t n)
{
	memset(out, tag, 32);
	out[28] = (uint8_t)(n >> 24);
	out[29] = (uint8_t)(n >> 16);
	out[30] = (uint8_t)(n >> 8);
	out[31] = (uint8_t)n;
}

static void addr20(uint8_t out[20], uint8_t tag, uint32_t n)
{
	memset(out, tag, 20);
	out[16] = (uint8_t)(n >> 24);
	out[17] = (uint8_t)(n >> 16);
	out[18] = (uint8_t)(n >> 8);
	out[19] = (uint8_t)n;
}

struct fixture {
	uint8_t app[20], other_app[20], compose[32], late_compose[32], device[32], os[32], mr[32], kms_dev[32];
	uint8_t zero[32];
	struct registry_snapshot *chain;
	struct registry_snapshot *file;
};

#define T0 1700000000ull
#define DELAY 3600ull

static struct registry_snapshot *freeze(struct registry_state *st, uint64_t block)
{
	struct registry_snapshot_meta meta;
	struct registry_snapshot *s = NULL;

	memset(&meta, 0, sizeof(meta));
	meta.block_number = block;
	meta.block_time = T0;
	assert_int_equal(registry_state_freeze(st, &meta, &s), ERR_OK);
	assert_non_null(s);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct registry_state *st;
	struct registry_app_state *a;

	addr20(f->app, 0xa1, 1);
	addr20(f->other_app, 0xa2, 2);
	val32(f->compose, 0xc1, 1);
	val32(f->late_compose, 0xc2, 2);
	val32(f->device, 0xd1, 1);
	val32(f->os, 0x05, 1);
	val32(f->mr, 0x3a, 1);
	val32(f->kms_dev, 0xd9, 1);

	/* Chain: app registered with our code, TCB required, one device; other_app registered without code. */
	st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	assert_non_null(st);
	assert_int_equal(registry_state_app(st, f->app, &a), ERR_OK);
	registry_app_set_registered(a, 10);
	registry_app_set_flags(a, REGISTRY_APP_HAS_CODE | REGISTRY_APP_REQUIRE_TCB, 0, 10);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, T0 - 100, 10), ERR_OK);
	assert_int_equal(registry_app_add_compose_hash(a, f->late_compose, T0 + DELAY, 11), ERR_OK);
	assert_int_equal(registry_app_add_device(a, f->device, 10), ERR_OK);
	assert_int_equal(registry_state_app(st, f->other_app, &a), ERR_OK);
	registry_app_set_registered(a, 12);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_MRS, f->mr), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_DEVICES, f->kms_dev), ERR_OK);
	assert_int_equal(registry_state_set_gateway_app_id(st, "gw", 2), ERR_OK);
	f->chain = freeze(st, 42);
	registry_state_free(st);

	/* File: the same lists in auth-simple terms. */
	st = registry_state_new(REGISTRY_SOURCE_FILE);
	assert_int_equal(registry_state_app(st, f->app, &a), ERR_OK);
	registry_app_set_registered(a, 0);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, 0, 0), ERR_OK);
	assert_int_equal(registry_app_add_device(a, f->device, 0), ERR_OK);
	assert_int_equal(registry_state_app(st, f->other_app, &a), ERR_OK);
	registry_app_set_registered(a, 0);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, 0, 0), ERR_OK);  /* no devices: any device */
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_MRS, f->mr), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_DEVICES, f->kms_dev), ERR_OK);
	assert_int_equal(registry_state_add_tcb_status(st, "UpToDate", 8), ERR_OK);
	assert_int_equal(registry_state_add_tcb_status(st, "SWHardeningNeeded", 17), ERR_OK);
	assert_int_equal(registry_state_add_advisory(st, "INTEL-SA-00837", 14), ERR_OK);
	assert_int_equal(registry_state_add_advisory(st, "INTEL-SA-00615", 14), ERR_OK);
	f->file = freeze(st, 0);
	registry_state_free(st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	registry_snapshot_unref(f->chain);
	registry_snapshot_unref(f->file);
	free(f);
	return 0;
}

#define B(x) ((struct registry_bytes){ (x), sizeof(x) })

/* A BootInfo that every rule of the fixture allows (app kind). */
static struct registry_boot_info good(const struct fixture *f)
{
	struct registry_boot_info b;

	memset(&b, 0, sizeof(b));
	b.app_id = B(f->app);
	b.compose_hash = B(f->compose);
	b.device_id = B(f->device);
	b.os_image_hash = B(f->os);
	b.mr_aggregated = B(f->mr);
	b.mr_system = B(f->zero);
	b.tcb_status = "UpToDate";
	return b;
}

static void expect(const struct registry_snapshot *s, const struct registry_boot_info *b, enum registry_kind kind,
		   uint64_t now, const char *reason)
{
	struct registry_decision d;

	assert_int_equal(registry_check(s, b, kind, now, &d), ERR_OK);
	assert_string_equal(d.reason, reason ? reason : "");
	assert_int_equal(d.allowed, reason == NULL);
}

static void test_chain_app_table(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	uint8_t other[32], unknown_app[20];

	val32(other, 0xee, 7);
	addr20(unknown_app, 0xee, 7);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, NULL);
	assert_string_equal(f->chain->gateway_app_id, "gw");

	/* Each failing check, in the contract's order: the first failure wins. */
	b.app_id = B(unknown_app);
	b.os_image_hash = B(other);  /* also bad, but registration is checked first */
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_APP_NOT_REGISTERED);
	b = good(f);
	b.os_image_hash = B(other);
	b.tcb_status = "OutOfDate";
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_OS_IMAGE);
	b = good(f);
	b.app_id = B(f->other_app);   /* registered, no code */
	b.compose_hash = B(other);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_APP_NO_CODE);
	b = good(f);
	b.tcb_status = "OutOfDate";
	b.compose_hash = B(other);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_TCB);
	b.tcb_status = NULL;
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_TCB);
	b.tcb_status = "uptodate";  /* exact bytes, as keccak256 compares */
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_TCB);
	b = good(f);
	b.compose_hash = B(other);
	b.device_id = B(other);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_COMPOSE_HASH);
	b = good(f);
	b.device_id = B(other);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_DEVICE);

	/* mr_system, instance_id and advisories are carried, not checked. */
	b = good(f);
	b.mr_system = B(other);
	{
		const char *adv[] = { "INTEL-SA-99999" };

		b.advisory_ids = adv;
		b.n_advisory_ids = 1;
		expect(f->chain, &b, REGISTRY_KIND_APP, T0, NULL);
	}
}

static void test_chain_padding_and_lengths(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	struct registry_decision d;
	uint8_t long33[33], zero_app[20];
	struct registry_snapshot *s;
	struct registry_state *st;
	struct registry_app_state *a;

	/* auth-eth left-pads: a short app id equals the padded address. */
	memset(zero_app, 0, sizeof(zero_app));
	zero_app[19] = 0x42;
	st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	assert_int_equal(registry_state_app(st, zero_app, &a), ERR_OK);
	registry_app_set_registered(a, 1);
	registry_app_set_flags(a, REGISTRY_APP_HAS_CODE | REGISTRY_APP_ANY_DEVICE, 0, 1);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, 1, 1), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	s = freeze(st, 1);
	registry_state_free(st);
	b.app_id = (struct registry_bytes){ &zero_app[19], 1 };
	b.device_id = (struct registry_bytes){ NULL, 0 };  /* allowAnyDevice */
	expect(s, &b, REGISTRY_KIND_APP, T0, NULL);
	registry_snapshot_unref(s);

	/* Longer than the ABI width is an invalid request, not a denial. */
	memset(long33, 1, sizeof(long33));
	b = good(f);
	b.compose_hash = B(long33);
	assert_int_equal(registry_check(f->chain, &b, REGISTRY_KIND_APP, T0, &d), ERR_INVALID_ARG);
	assert_int_equal(d.allowed, 0);
	b = good(f);
	b.app_id = (struct registry_bytes){ long33, 21 };
	assert_int_equal(registry_check(f->chain, &b, REGISTRY_KIND_APP, T0, &d), ERR_INVALID_ARG);
	b = good(f);
	b.instance_id = (struct registry_bytes){ long33, 21 };
	assert_int_equal(registry_check(f->chain, &b, REGISTRY_KIND_KMS, T0, &d), ERR_INVALID_ARG);
	b = good(f);
	assert_int_equal(registry_check(f->chain, &b, (enum registry_kind)0, T0, &d), ERR_INVALID_ARG);
	assert_int_equal(registry_check(f->chain, &b, (enum registry_kind)3, T0, &d), ERR_INVALID_ARG);
	b.n_advisory_ids = REGISTRY_MAX_ADVISORIES + 1;
	assert_int_equal(registry_check(f->chain, &b, REGISTRY_KIND_APP, T0, &d), ERR_INVALID_ARG);
}

static void test_chain_kms_table(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	uint8_t other[32];

	val32(other, 0xee, 9);
	b.device_id = B(f->kms_dev);
	b.app_id = (struct registry_bytes){ NULL, 0 };  /* not used for KMS */
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, NULL);
	b.tcb_status = "SWHardeningNeeded";
	b.os_image_hash = B(other);
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, REGISTRY_R_TCB);
	b.tcb_status = "UpToDate";
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, REGISTRY_R_OS_IMAGE);
	b.os_image_hash = B(f->os);
	b.mr_aggregated = B(other);
	b.device_id = B(other);
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, REGISTRY_R_KMS_MR);
	b.mr_aggregated = B(f->mr);
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, REGISTRY_R_KMS_DEVICE);
	/* The chain has no KMS allowAnyDevice: an app device is not a KMS device. */
	b.device_id = B(f->device);
	expect(f->chain, &b, REGISTRY_KIND_KMS, T0, REGISTRY_R_KMS_DEVICE);
}

static void test_upgrade_delay_edges(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	struct registry_state *st;
	struct registry_app_state *a;
	struct registry_snapshot *s;
	const struct registry_app *app;
	const struct registry_hash_entry *h;

	b.compose_hash = B(f->late_compose);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_COMPOSE_HASH);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0 + DELAY - 1, REGISTRY_R_COMPOSE_HASH);
	expect(f->chain, &b, REGISTRY_KIND_APP, T0 + DELAY, NULL);   /* block.timestamp >= effectiveAt */
	expect(f->chain, &b, REGISTRY_KIND_APP, T0 + DELAY + 1, NULL);
	app = registry_snapshot_app(f->chain, f->app);
	assert_non_null(app);
	h = registry_app_hash(f->chain, app, f->late_compose);
	assert_non_null(h);
	assert_int_equal(h->effective_at, T0 + DELAY);
	assert_int_equal(h->added_block, 11);

	/* Re-adding reschedules (latest event wins); effectiveAt 0 never matches on the chain; removal is immediate. */
	st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	assert_int_equal(registry_state_app(st, f->app, &a), ERR_OK);
	registry_app_set_registered(a, 1);
	registry_app_set_flags(a, REGISTRY_APP_HAS_CODE | REGISTRY_APP_ANY_DEVICE, 0, 1);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, T0 - 5, 2), ERR_OK);
	assert_int_equal(registry_app_add_compose_hash(a, f->compose, T0 + 5, 3), ERR_OK);
	assert_int_equal(registry_app_add_compose_hash(a, f->late_compose, 0, 3), ERR_OK);
	s = freeze(st, 3);
	b = good(f);
	expect(s, &b, REGISTRY_KIND_APP, T0, REGISTRY_R_COMPOSE_HASH);
	expect(s, &b, REGISTRY_KIND_APP, T0 + 5, NULL);
	b.compose_hash = B(f->late_compose);
	expect(s, &b, REGISTRY_KIND_APP, UINT64_MAX, REGISTRY_R_COMPOSE_HASH);
	registry_snapshot_unref(s);
	assert_int_equal(registry_app_remove_compose_hash(a, f->compose, 4), 1);
	assert_int_equal(registry_app_remove_compose_hash(a, f->compose, 4), 0);
	s = freeze(st, 4);
	b = good(f);
	expect(s, &b, REGISTRY_KIND_APP, T0 + 5, REGISTRY_R_COMPOSE_HASH);
	assert_int_equal(registry_snapshot_app(s, f->app)->updated_block, 4);
	registry_snapshot_unref(s);
	registry_state_free(st);
}

static void test_foreign_code_is_undecidable(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	struct registry_app_state *a;
	struct registry_snapshot *s;
	struct registry_decision d;
	uint8_t bad_os[32];

	assert_int_equal(registry_state_app(st, f->app, &a), ERR_OK);
	registry_app_set_registered(a, 1);
	registry_app_set_flags(a, REGISTRY_APP_FOREIGN_CODE, 0, 1);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	s = freeze(st, 1);
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, T0, &d), ERR_OK);
	assert_int_equal(d.allowed, 0);
	assert_int_equal(d.undecidable, 1);
	assert_string_equal(d.reason, REGISTRY_R_APP_FOREIGN);
	/* The registry's own checks still come first and are real answers. */
	val32(bad_os, 0x66, 1);
	b.os_image_hash = B(bad_os);
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, T0, &d), ERR_OK);
	assert_int_equal(d.undecidable, 0);
	assert_string_equal(d.reason, REGISTRY_R_OS_IMAGE);
	registry_snapshot_unref(s);
	registry_state_free(st);
}

static void test_file_app_table(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	uint8_t other[32], unknown_app[20];
	const char *adv_ok[] = { "INTEL-SA-00615", "INTEL-SA-00837" };
	const char *adv_bad[] = { "INTEL-SA-00615", "INTEL-SA-00001" };

	val32(other, 0xee, 3);
	addr20(unknown_app, 0xee, 3);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, NULL);
	b.tcb_status = "SWHardeningNeeded";
	b.advisory_ids = adv_ok;
	b.n_advisory_ids = 2;
	expect(f->file, &b, REGISTRY_KIND_APP, T0, NULL);

	/* auth-simple order: TCB, advisories, OS image, app, compose hash, device. */
	b.tcb_status = "OutOfDate";
	b.advisory_ids = adv_bad;
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_TCB);
	b.tcb_status = NULL;  /* auth-simple defaults a missing status to "" */
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_TCB);
	b.tcb_status = "UpToDate";
	b.os_image_hash = B(other);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_ADVISORY);
	b.n_advisory_ids = 0;
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_OS_IMAGE);
	b = good(f);
	b.app_id = B(unknown_app);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_APP_NOT_REGISTERED);
	b = good(f);
	b.compose_hash = B(other);
	b.device_id = B(other);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_COMPOSE_HASH);
	b = good(f);
	b.device_id = B(other);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_DEVICE);
	/* An app with an empty device list runs anywhere (auth-simple: devices.length > 0 gates the check). */
	b.app_id = B(f->other_app);
	expect(f->file, &b, REGISTRY_KIND_APP, T0, NULL);

	/* "0x"+hex comparison: a short value is a different string, it is not padded. */
	b = good(f);
	b.app_id = (struct registry_bytes){ f->app + 1, 19 };
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_APP_NOT_REGISTERED);
	b = good(f);
	b.os_image_hash = (struct registry_bytes){ NULL, 0 };
	expect(f->file, &b, REGISTRY_KIND_APP, T0, REGISTRY_RF_OS_IMAGE);
}

static void test_file_kms_table(void **state)
{
	const struct fixture *f = *state;
	struct registry_boot_info b = good(f);
	struct registry_state *st;
	struct registry_snapshot *s;
	uint8_t other[32];

	val32(other, 0xee, 4);
	b.device_id = B(f->kms_dev);
	expect(f->file, &b, REGISTRY_KIND_KMS, T0, NULL);
	b.tcb_status = "Revoked";
	expect(f->file, &b, REGISTRY_KIND_KMS, T0, REGISTRY_RF_TCB);
	b.tcb_status = "SWHardeningNeeded";  /* allowed by the file for KMS too */
	b.mr_aggregated = B(other);
	expect(f->file, &b, REGISTRY_KIND_KMS, T0, REGISTRY_RF_KMS_MR);
	b.mr_aggregated = B(f->mr);
	b.device_id = B(other);
	expect(f->file, &b, REGISTRY_KIND_KMS, T0, REGISTRY_RF_KMS_DEVICE);

	/* allowAnyDevice, and an empty device list, both let any device through. */
	st = registry_state_new(REGISTRY_SOURCE_FILE);
	assert_int_equal(registry_state_add_tcb_status(st, "UpToDate", 8), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, f->os), ERR_OK);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_MRS, f->mr), ERR_OK);
	s = freeze(st, 0);
	b = good(f);
	b.device_id = B(other);
	expect(s, &b, REGISTRY_KIND_KMS, T0, NULL);
	registry_snapshot_unref(s);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_DEVICES, f->kms_dev), ERR_OK);
	s = freeze(st, 0);
	expect(s, &b, REGISTRY_KIND_KMS, T0, REGISTRY_RF_KMS_DEVICE);
	registry_snapshot_unref(s);
	registry_state_set_kms_allow_any_device(st, 1);
	s = freeze(st, 0);
	expect(s, &b, REGISTRY_KIND_KMS, T0, NULL);
	assert_int_equal(s->kms_allow_any_device, 1);
	registry_snapshot_unref(s);
	registry_state_free(st);
}

/* Random adds and removes against a plain bitmap: the open-addressing set (deletion by backward shift) agrees. */
static void test_set_against_reference(void **state)
{
	enum { KEYS = 3000, OPS = 60000 };
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	struct registry_app_state *a;
	struct registry_snapshot *s;
	const struct registry_app *app;
	uint8_t *ref = calloc(KEYS, 1), id[20], key[32];
	uint64_t x = 88172645463325252ull;
	size_t want = 0;

	(void)state;
	addr20(id, 0x77, 1);
	assert_int_equal(registry_state_app(st, id, &a), ERR_OK);
	for (int i = 0; i < OPS; i++) {
		uint32_t k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (uint32_t)(x % KEYS);
		val32(key, 0x11, k);
		if ((x >> 40) & 1) {
			assert_int_equal(registry_app_add_compose_hash(a, key, k + 1, (uint64_t)i), ERR_OK);
			ref[k] = 1;
		} else {
			assert_int_equal(registry_app_remove_compose_hash(a, key, (uint64_t)i), ref[k]);
			ref[k] = 0;
		}
	}
	for (uint32_t k = 0; k < KEYS; k++)
		want += ref[k];
	s = freeze(st, 1);
	app = registry_snapshot_app(s, id);
	assert_non_null(app);
	assert_int_equal(app->hash_n, want);
	for (uint32_t k = 0; k < KEYS; k++) {
		const struct registry_hash_entry *h;

		val32(key, 0x11, k);
		h = registry_app_hash(s, app, key);
		assert_int_equal(h != NULL, ref[k]);
		if (h)
			assert_int_equal(h->effective_at, k + 1);
	}
	for (uint32_t i = 1; i < app->hash_n; i++)
		assert_true(memcmp(s->hashes[app->hash_off + i - 1].hash, s->hashes[app->hash_off + i].hash, 32) < 0);
	registry_snapshot_unref(s);
	registry_state_free(st);
	free(ref);
}

static void test_limit_and_refcount(void **state)
{
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	struct registry_app_state *a;
	struct registry_snapshot *s, *s2;
	uint8_t id[20], key[32];

	(void)state;
	registry_state_set_limit(st, 3);
	addr20(id, 0x12, 1);
	assert_int_equal(registry_state_app(st, id, &a), ERR_OK);  /* 1 */
	val32(key, 1, 1);
	assert_int_equal(registry_app_add_compose_hash(a, key, 1, 1), ERR_OK);  /* 2 */
	assert_int_equal(registry_app_add_compose_hash(a, key, 2, 2), ERR_OK);  /* same key: still 2 */
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, key), ERR_OK);  /* 3 */
	val32(key, 1, 2);
	assert_int_equal(registry_app_add_device(a, key, 3), ERR_BUDGET);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_KMS_MRS, key), ERR_BUDGET);
	assert_int_equal(registry_state_set_gateway_app_id(st, "x", REGISTRY_MAX_STR + 1), ERR_PROTO_TOO_LARGE);

	s = freeze(st, 5);
	s2 = registry_snapshot_ref(s);
	assert_ptr_equal(s, s2);
	registry_snapshot_unref(s);
	assert_int_equal(s2->meta.block_number, 5);
	assert_string_equal(s2->gateway_app_id, "");
	assert_int_equal(registry_snapshot_registered_apps(s2), 0);
	registry_snapshot_unref(s2);
	registry_snapshot_unref(NULL);
	registry_state_free(st);
}

/* Snapshot memory per allowed hash (issue target: < 200 bytes), and decisions on a big snapshot. */
static void test_memory_per_hash(void **state)
{
	enum { APPS = 1000, PER_APP = 200 };
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	struct registry_snapshot *s;
	struct registry_boot_info b;
	uint8_t id[20], key[32], os[32];
	size_t n = (size_t)APPS * PER_APP;
	double per_snap, per_state;

	(void)state;
	val32(os, 0x05, 1);
	assert_int_equal(registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, os), ERR_OK);
	for (uint32_t i = 0; i < APPS; i++) {
		struct registry_app_state *a;

		addr20(id, 0x30, i);
		assert_int_equal(registry_state_app(st, id, &a), ERR_OK);
		registry_app_set_registered(a, 1);
		registry_app_set_flags(a, REGISTRY_APP_HAS_CODE | REGISTRY_APP_ANY_DEVICE, 0, 1);
		for (uint32_t j = 0; j < PER_APP; j++) {
			val32(key, (uint8_t)j, i);
			assert_int_equal(registry_app_add_compose_hash(a, key, 1, 1), ERR_OK);
		}
	}
	s = freeze(st, 9);
	assert_int_equal(s->nhashes, n);
	per_snap = (double)s->mem_bytes / (double)n;
	per_state = (double)registry_state_mem_bytes(st) / (double)n;
	print_message("snapshot: %zu bytes for %zu hashes = %.1f B/hash; builder %.1f B/hash\n", s->mem_bytes, n,
		      per_snap, per_state);
	assert_true(per_snap < 200.0);
	assert_true(per_snap + per_state < 200.0);  /* the chain backend holds both */

	memset(&b, 0, sizeof(b));
	b.os_image_hash = B(os);
	b.tcb_status = "UpToDate";
	for (uint32_t i = 0; i < APPS; i += 97) {
		addr20(id, 0x30, i);
		val32(key, (uint8_t)(i % PER_APP), i);
		b.app_id = B(id);
		b.compose_hash = B(key);
		expect(s, &b, REGISTRY_KIND_APP, 2, NULL);
		key[0] ^= 0xff;
		expect(s, &b, REGISTRY_KIND_APP, 2, REGISTRY_R_COMPOSE_HASH);
	}
	registry_snapshot_unref(s);
	registry_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_app_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_padding_and_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_kms_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_delay_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_code_is_undecidable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_app_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_kms_table, setup, teardown),
		cmocka_unit_test(test_set_against_reference),
		cmocka_unit_test(test_limit_and_refcount),
		cmocka_unit_test(test_memory_per_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
