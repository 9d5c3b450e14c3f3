/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the registry's policy-file loader (auth-simple JSON -> builder -> snapshot) and decide boots on what it accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_file.h"
#include "registry_policy.h"

/*
 * Input: the policy file's bytes. A file that parses is frozen into a
 * snapshot, whose invariants are checked (every array sorted and unique, app
 * slices inside the shared arrays), and then decided on:
 *  - for every app with a compose hash, a BootInfo built from the policy
 *    itself (its first hash and device, the first OS image and TCB status,
 *    no advisories) must be allowed;
 *  - the same with a compose hash the app does not list must be denied
 *    with "compose hash not allowed";
 *  - a KMS BootInfo from the first aggregated MR and KMS device likewise.
 * The parser's detail string must be NUL-terminated within its buffer.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok)                                                                          \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #ok); \
			abort();                                                           \
		}                                                                          \
	} while (0)

static void check_sorted(const struct registry_key32 *a, size_t n)
{
	for (size_t i = 1; i < n; i++)
		check(memcmp(a[i - 1].b, a[i].b, 32) < 0);
}

static void check_snapshot(const struct registry_snapshot *s)
{
	check(s->source == REGISTRY_SOURCE_FILE && s->gateway_app_id);
	check_sorted(s->os_images, s->n_os_images);
	check_sorted(s->kms_mrs, s->n_kms_mrs);
	check_sorted(s->kms_devices, s->n_kms_devices);
	for (size_t i = 1; i < s->n_advisory_ids; i++)
		check(strcmp(s->advisory_ids[i - 1], s->advisory_ids[i]) < 0);
	for (size_t i = 0; i < s->napps; i++) {
		const struct registry_app *a = &s->apps[i];

		check(i == 0 || memcmp(s->apps[i - 1].id, a->id, 20) < 0);
		check(a->flags & REGISTRY_APP_REGISTERED);
		check((size_t)a->hash_off + a->hash_n <= s->nhashes);
		check((size_t)a->dev_off + a->dev_n <= s->ndevices);
		for (uint32_t k = 1; k < a->hash_n; k++)
			check(memcmp(s->hashes[a->hash_off + k - 1].hash, s->hashes[a->hash_off + k].hash, 32) < 0);
		check_sorted(s->devices + a->dev_off, a->dev_n);
		check(registry_snapshot_app(s, a->id) == a);
	}
}

static void decide_own_rules(const struct registry_snapshot *s)
{
	struct registry_boot_info b;
	struct registry_decision d;
	static const uint8_t zero_dev[32];
	uint8_t other[32];

	if (!s->n_os_images || !s->n_tcb_statuses)
		return;
	for (size_t i = 0; i < s->napps; i++) {
		const struct registry_app *a = &s->apps[i];

		if (!a->hash_n)
			continue;
		memset(&b, 0, sizeof(b));
		b.app_id = (struct registry_bytes){ a->id, 20 };
		b.compose_hash = (struct registry_bytes){ s->hashes[a->hash_off].hash, 32 };
		b.device_id = (struct registry_bytes){ a->dev_n ? s->devices[a->dev_off].b : zero_dev, 32 };
		b.os_image_hash = (struct registry_bytes){ s->os_images[0].b, 32 };
		b.tcb_status = s->tcb_statuses[0];
		check(registry_check(s, &b, REGISTRY_KIND_APP, 1, &d) == ERR_OK);
		check(d.allowed && !d.undecidable && d.reason[0] == 0);
		/* A hash one above the app's largest cannot be listed. */
		memcpy(other, s->hashes[a->hash_off + a->hash_n - 1].hash, 32);
		for (int k = 31; k >= 0 && ++other[k] == 0; k--)
			;
		if (memcmp(other, s->hashes[a->hash_off + a->hash_n - 1].hash, 32) > 0) {
			b.compose_hash = (struct registry_bytes){ other, 32 };
			check(registry_check(s, &b, REGISTRY_KIND_APP, 1, &d) == ERR_OK);
			check(!d.allowed && strcmp(d.reason, REGISTRY_RF_COMPOSE_HASH) == 0);
		}
	}
	if (s->n_kms_mrs) {
		memset(&b, 0, sizeof(b));
		b.mr_aggregated = (struct registry_bytes){ s->kms_mrs[0].b, 32 };
		b.device_id = (struct registry_bytes){ s->n_kms_devices ? s->kms_devices[0].b : zero_dev, 32 };
		b.os_image_hash = (struct registry_bytes){ s->os_images[0].b, 32 };
		b.tcb_status = s->tcb_statuses[0];
		check(registry_check(s, &b, REGISTRY_KIND_KMS, 1, &d) == ERR_OK);
		check(d.allowed);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_state *st = NULL;
	struct registry_snapshot *s = NULL;
	char detail[REGISTRY_FILE_DETAIL];
	char *text = malloc(size ? size : 1);   /* exact size, so ASan sees any over-read */
	err_t err;

	check(text != NULL);
	if (size)
		memcpy(text, data, size);
	memset(detail, 'x', sizeof(detail));
	err = registry_file_parse(text, size, &st, detail, sizeof(detail));
	check(memchr(detail, 0, sizeof(detail)) != NULL);
	if (err != ERR_OK) {
		check(st == NULL && detail[0] != 0);
		free(text);
		return 0;
	}
	check(st != NULL);
	check(registry_state_freeze(st, NULL, &s) == ERR_OK);
	registry_state_free(st);
	check_snapshot(s);
	decide_own_rules(s);
	registry_snapshot_unref(s);
	free(text);
	return 0;
}
