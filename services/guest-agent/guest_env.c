/* SPDX-License-Identifier: Apache-2.0 */
/* The encrypted environment: X25519 + AES-256-GCM blob -> JSON -> allowed variables. */
#include <string.h>

#include "guest_env.h"
#include "json.h"
#include "x25519.h"

static int name_ok(const char *s, size_t len)
{
	if (len == 0 || len > GUEST_ENV_NAME_MAX || strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static int seen_before(const struct guest_env_var *vars, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return 1;
	return 0;
}

err_t guest_env_parse(const char *plain, size_t len, const struct guest_compose *compose, struct arena *a,
		      struct guest_envvars *out, const char **detail)
{
	struct json_limits lim = { .max_depth = 4, .max_len = GUEST_ENV_FILE_MAX };
	struct json_value *root = NULL;
	const struct json_value *env;
	const char **names = NULL;
	size_t nnames = 0;
	err_t err;

	memset(out, 0, sizeof(*out));
	if (len > GUEST_ENV_FILE_MAX) {
		*detail = "environment is larger than 1 MiB";
		return ERR_PROTO_TOO_LARGE;
	}
	if ((err = json_parse(plain, len, &lim, a, &root, NULL)) != ERR_OK) {
		*detail = "decrypted environment is not valid JSON";
		return err;
	}
	if (root->type != JSON_OBJECT || !(env = json_get(root, "env")) || env->type != JSON_ARRAY) {
		*detail = "decrypted environment is not {\"env\":[...]}";
		return ERR_PROTO_MALFORMED;
	}
	if (env->u.arr.n > GUEST_ENV_MAX_VARS) {
		*detail = "more than 256 environment variables";
		return ERR_PROTO_TOO_LARGE;
	}
	if (env->u.arr.n) {
		out->vars = arena_zalloc(a, env->u.arr.n * sizeof(*out->vars));
		names = arena_zalloc(a, env->u.arr.n * sizeof(*names));
		if (!out->vars || !names)
			return arena_err(a);
	}
	for (size_t i = 0; i < env->u.arr.n; i++) {
		const struct json_value *e = &env->u.arr.items[i], *k, *v;

		if (e->type != JSON_OBJECT || !(k = json_get(e, "key")) || !(v = json_get(e, "value")) ||
		    k->type != JSON_STRING || v->type != JSON_STRING) {
			*detail = "an env entry is not {\"key\":string,\"value\":string}";
			return ERR_PROTO_MALFORMED;
		}
		if (!name_ok(k->u.str.s, k->u.str.len)) {
			*detail = "an env name is not [A-Za-z_][A-Za-z0-9_]* of at most 256 bytes";
			return ERR_PROTO_MALFORMED;
		}
		if (v->u.str.len > GUEST_ENV_VALUE_MAX || strlen(v->u.str.s) != v->u.str.len) {
			*detail = "an env value is over 64 KiB or contains NUL";
			return ERR_PROTO_MALFORMED;
		}
		for (size_t j = 0; j < nnames; j++)
			if (strcmp(names[j], k->u.str.s) == 0) {
				*detail = "an env name appears twice";
				return ERR_PROTO_MALFORMED;
			}
		names[nnames++] = k->u.str.s;
		if (!guest_compose_env_allowed(compose, k->u.str.s, k->u.str.len)) {
			out->n_dropped++;
			continue;
		}
		if (seen_before(out->vars, out->n, k->u.str.s))
			continue;
		out->vars[out->n].name = k->u.str.s;
		out->vars[out->n].value = v->u.str.s;
		out->vars[out->n].value_len = v->u.str.len;
		out->n++;
	}
	return ERR_OK;
}

err_t guest_env_decrypt(const uint8_t env_key[32], const uint8_t *blob, size_t len,
			const struct guest_compose *compose, struct arena *a, struct guest_envvars *out,
			const char **detail)
{
	uint8_t *plain;
	size_t plain_len = 0;
	err_t err;

	memset(out, 0, sizeof(*out));
	if (len > GUEST_ENV_FILE_MAX) {
		*detail = ".encrypted-env is larger than 1 MiB";
		return ERR_PROTO_TOO_LARGE;
	}
	if (len < DSTACK_ENV_OVERHEAD) {
		*detail = ".encrypted-env is shorter than key, IV and tag";
		return ERR_PROTO_TRUNCATED;
	}
	if (!(plain = arena_alloc(a, len - DSTACK_ENV_OVERHEAD + 1)))
		return arena_err(a);
	err = dstack_env_decrypt(env_key, blob, len, plain, len - DSTACK_ENV_OVERHEAD + 1, &plain_len);
	if (err != ERR_OK) {
		*detail = err == ERR_PROTO_DECRYPT ? ".encrypted-env does not decrypt with this app's key (tampered, "
						      "or encrypted for another app)"
						    : ".encrypted-env cannot be decrypted";
		return err;
	}
	return guest_env_parse((const char *)plain, plain_len, compose, a, out, detail);
}
