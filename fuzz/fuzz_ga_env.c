/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the encrypted-env decoder. The first byte picks the mode:
 * 0: the plaintext parser alone; 1: the blob as an .encrypted-env for a fixed
 * key (lengths, tag checks); otherwise: the rest encrypted to that key, then
 * decrypted and parsed, which must agree with parsing the plaintext directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest_env.h"
#include "x25519.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static const char compose_text[] = "{\"allowed_envs\":[\"FOO\",\"BAR\",\"A\",\"B_1\"]}";

static void check_vars(const struct guest_envvars *e, const struct guest_compose *c)
{
	check(e->n <= GUEST_ENV_MAX_VARS);
	for (size_t i = 0; i < e->n; i++) {
		check(guest_compose_env_allowed(c, e->vars[i].name, strlen(e->vars[i].name)));
		check(strlen(e->vars[i].value) == e->vars[i].value_len && e->vars[i].value_len <= GUEST_ENV_VALUE_MAX);
		for (size_t j = 0; j < i; j++)
			check(strcmp(e->vars[i].name, e->vars[j].name) != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sk[32], pub[32];
	struct guest_compose c;
	struct guest_envvars e1, e2;
	struct arena a;
	const char *detail = NULL;
	err_t r1, r2;

	if (size < 1)
		return 0;
	for (int i = 0; i < 32; i++)
		sk[i] = (uint8_t)(0x11 * (i + 1));
	check(x25519_public_key(sk, pub) == ERR_OK);
	arena_init(&a, 64u << 20, 0);
	a.wipe = 1;
	check(guest_compose_parse(compose_text, strlen(compose_text), &a, &c, &detail) == ERR_OK);
	if (data[0] == 0) {
		r1 = guest_env_parse((const char *)data + 1, size - 1, &c, &a, &e1, &detail);
		if (r1 == ERR_OK)
			check_vars(&e1, &c);
	} else if (data[0] == 1) {
		r1 = guest_env_decrypt(sk, data + 1, size - 1, &c, &a, &e1, &detail);
		check(r1 != ERR_OK || e1.n <= GUEST_ENV_MAX_VARS);
		check(r1 == ERR_OK || r1 == ERR_PROTO_DECRYPT || r1 == ERR_PROTO_TRUNCATED || r1 == ERR_CRYPTO ||
		      r1 == ERR_PROTO_TOO_LARGE || r1 == ERR_PROTO_JSON || r1 == ERR_PROTO_MALFORMED ||
		      r1 == ERR_PROTO_ENCODING || r1 == ERR_PROTO_DEPTH);
	} else {
		size_t cap = size - 1 + DSTACK_ENV_OVERHEAD, len = 0;
		uint8_t *blob = malloc(cap);

		check(blob != NULL);
		check(dstack_env_encrypt(pub, data + 1, size - 1, blob, cap, &len) == ERR_OK && len == cap);
		r1 = guest_env_parse((const char *)data + 1, size - 1, &c, &a, &e1, &detail);
		r2 = guest_env_decrypt(sk, blob, len, &c, &a, &e2, &detail);
		if (size - 1 > GUEST_ENV_FILE_MAX - DSTACK_ENV_OVERHEAD)
			check(r2 == ERR_PROTO_TOO_LARGE || r2 == r1);
		else
			check(r1 == r2);
		if (r1 == ERR_OK && r2 == ERR_OK) {
			check(e1.n == e2.n && e1.n_dropped == e2.n_dropped);
			for (size_t i = 0; i < e1.n; i++)
				check(strcmp(e1.vars[i].name, e2.vars[i].name) == 0 &&
				      e1.vars[i].value_len == e2.vars[i].value_len &&
				      memcmp(e1.vars[i].value, e2.vars[i].value, e1.vars[i].value_len) == 0);
			check_vars(&e2, &c);
		}
		/* Any one flipped bit is caught. */
		blob[(size_t)data[0] % len] ^= 0x20;
		check(guest_env_decrypt(sk, blob, len, &c, &a, &e2, &detail) == ERR_PROTO_DECRYPT);
		free(blob);
	}
	arena_fini(&a);
	return 0;
}
