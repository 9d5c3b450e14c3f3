/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the APP_INFO decoder (named map and positional forms): decode, check the limits and views, re-encode and decode again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* A view of the input (or empty), within the field limit. */
static void check_blob(struct ratls_blob b, const uint8_t *data, size_t size)
{
	check(b.len <= RATLS_APP_INFO_FIELD_MAX);
	if (b.len)
		check(b.p >= data && b.p + b.len <= data + size);
}

static void check_same_blob(struct ratls_blob a, struct ratls_blob b)
{
	check(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
}

static void check_same(const struct ratls_app_info *a, const struct ratls_app_info *b)
{
	check_same_blob(a->app_id, b->app_id);
	check_same_blob(a->compose_hash, b->compose_hash);
	check_same_blob(a->instance_id, b->instance_id);
	check_same_blob(a->device_id, b->device_id);
	check(memcmp(a->mr_system, b->mr_system, 32) == 0);
	check(memcmp(a->mr_aggregated, b->mr_aggregated, 32) == 0);
	check_same_blob(a->os_image_hash, b->os_image_hash);
	check_same_blob(a->key_provider_info, b->key_provider_info);
	check(a->has_init_script_hashes == b->has_init_script_hashes);
	check(a->n_init_script_hashes == b->n_init_script_hashes);
	check(memcmp(a->init_script_hashes, b->init_script_hashes, 32 * a->n_init_script_hashes) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ratls_app_info ai, back;
	struct buf_writer w, w2;
	const char *detail = NULL;

	if (ratls_app_info_decode(data, size, &ai, &detail) != ERR_OK) {
		check(detail != NULL);
		check(ai.app_id.len == 0 && ai.n_init_script_hashes == 0);
		return 0;
	}
	check(size >= 1 && size <= RATLS_APP_INFO_MAX);
	check_blob(ai.app_id, data, size);
	check_blob(ai.compose_hash, data, size);
	check_blob(ai.instance_id, data, size);
	check_blob(ai.device_id, data, size);
	check_blob(ai.os_image_hash, data, size);
	check_blob(ai.key_provider_info, data, size);
	check(ai.n_init_script_hashes <= RATLS_APP_INFO_MAX_INIT_SCRIPTS);
	check(ai.has_init_script_hashes || ai.n_init_script_hashes == 0);
	/* Whatever decoded encodes (named form) and decodes to the same fields; the named form is canonical. */
	buf_writer_init(&w, RATLS_APP_INFO_MAX);
	buf_writer_init(&w2, RATLS_APP_INFO_MAX);
	check(ratls_app_info_encode(&ai, &w) == ERR_OK);
	check(w.len >= 1 && w.p[0] == 0x89);
	check(ratls_app_info_decode(w.p, w.len, &back, NULL) == ERR_OK);
	check_same(&ai, &back);
	check(ratls_app_info_encode(&back, &w2) == ERR_OK);
	check(w2.len == w.len && memcmp(w2.p, w.p, w.len) == 0);
	buf_writer_free(&w);
	buf_writer_free(&w2);
	return 0;
}
