/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the guest agent's host-input parsers: app-compose.json, .sys-config.json, .instance_info. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest_compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int is_parse_error(err_t e)
{
	return e == ERR_PROTO_JSON || e == ERR_PROTO_ENCODING || e == ERR_PROTO_DEPTH || e == ERR_PROTO_MALFORMED ||
	       e == ERR_PROTO_FIELD_TYPE || e == ERR_PROTO_TOO_LARGE || e == ERR_BUDGET;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *detail = NULL;
	struct guest_compose c;
	struct guest_sys_config s;
	struct guest_instance_info ii;
	struct guest_identity id;
	struct arena a;
	uint8_t seed[GUEST_ID_LEN] = { 1 };
	err_t e;

	arena_init(&a, 64u << 20, 0);
	e = guest_compose_parse(text, size, &a, &c, &detail);
	check(e == ERR_OK || is_parse_error(e));
	check(detail != NULL || e == ERR_OK);
	if (e == ERR_OK) {
		check(c.name && c.runner && c.manifest_version);
		check(c.key_provider >= GUEST_KP_NONE && c.key_provider <= GUEST_KP_TPM);
		check(c.event_log_version == 1 || c.event_log_version == 2);
		check(c.n_allowed_envs <= GUEST_MAX_ALLOWED_ENVS && c.key_provider_id_len <= GUEST_KP_ID_MAX);
		for (size_t i = 0; i < c.n_allowed_envs; i++) {
			size_t n = strlen(c.allowed_envs[i]);

			check(n > 0 && n <= GUEST_ENV_NAME_MAX && !strchr(c.allowed_envs[i], '='));
			check(guest_compose_env_allowed(&c, c.allowed_envs[i], n));
		}
		guest_identity_compute(text, size, &c, NULL, seed, &id);
		check(memcmp(id.app_id, id.compose_hash, GUEST_ID_LEN) == 0);
		check(id.instance_id_len == (c.no_instance_id ? 0 : GUEST_ID_LEN));
	}
	arena_reset(&a);
	detail = NULL;
	e = guest_sys_config_parse(text, size, &a, &s, &detail);
	check(e == ERR_OK || is_parse_error(e));
	if (e == ERR_OK) {
		check(s.n_kms_urls <= GUEST_MAX_KMS_URLS && s.vm_config != NULL);
		for (size_t i = 0; i < s.n_kms_urls; i++)
			check(strncmp(s.kms_urls[i], "http", 4) == 0 && strlen(s.kms_urls[i]) <= GUEST_URL_MAX);
	}
	arena_reset(&a);
	e = guest_instance_info_parse(text, size, &a, &ii, &detail);
	check(e == ERR_OK || is_parse_error(e));
	arena_fini(&a);
	return 0;
}
