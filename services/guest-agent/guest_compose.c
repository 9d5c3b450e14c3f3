/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for app-compose.json, .sys-config.json and .instance_info, and dstack's identity rules. */
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "guest_compose.h"
#include "json.h"

#define FIELD(d, text) (*(d) = (text), ERR_PROTO_FIELD_TYPE)
#define MAX_INIT_SCRIPTS 5

const char *guest_key_provider_name(enum guest_key_provider kp)
{
	switch (kp) {
	case GUEST_KP_KMS: return "kms";
	case GUEST_KP_LOCAL: return "local";
	case GUEST_KP_TPM: return "tpm";
	default: return "none";
	}
}

/* A member that is absent or null reads as "not given". */
static const struct json_value *member(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type != JSON_NULL ? v : NULL;
}

/* Optional string member into the arena; *out = def when absent. NUL inside is refused (C strings). */
static err_t opt_str(const struct json_value *obj, const char *key, const char *def, const char **out)
{
	const struct json_value *v = member(obj, key);

	if (!v) {
		*out = def;
		return ERR_OK;
	}
	if (v->type != JSON_STRING || strlen(v->u.str.s) != v->u.str.len)
		return ERR_PROTO_FIELD_TYPE;
	*out = v->u.str.s;
	return ERR_OK;
}

static err_t opt_bool(const struct json_value *obj, const char *key, int def, int *out)
{
	const struct json_value *v = member(obj, key);

	if (!v) {
		*out = def;
		return ERR_OK;
	}
	if (v->type != JSON_TRUE && v->type != JSON_FALSE)
		return ERR_PROTO_FIELD_TYPE;
	*out = v->type == JSON_TRUE;
	return ERR_OK;
}

static err_t opt_hex(const struct json_value *obj, const char *key, uint8_t *buf, size_t cap, size_t want,
		     size_t *len, int *has)
{
	const struct json_value *v = member(obj, key);
	size_t n = 0;

	*has = 0;
	if (len)
		*len = 0;
	if (!v)
		return ERR_OK;
	if (v->type != JSON_STRING || hex_decode(buf, cap, &n, v->u.str.s, v->u.str.len, 1) != ERR_OK)
		return ERR_PROTO_FIELD_TYPE;
	if (want && n != want)
		return ERR_PROTO_FIELD_TYPE;
	*has = n > 0 || !want;
	if (len)
		*len = n;
	return ERR_OK;
}

static err_t parse_root(const char *text, size_t len, size_t max, struct arena *a, struct json_value **root,
			const char **detail)
{
	struct json_limits lim = { .max_depth = GUEST_JSON_DEPTH, .max_len = max };
	err_t err;

	if (len > max) {
		*detail = "file is larger than allowed";
		return ERR_PROTO_TOO_LARGE;
	}
	if ((err = json_parse(text, len, &lim, a, root, NULL)) != ERR_OK) {
		*detail = err == ERR_BUDGET ? "out of memory" : "not valid JSON";
		return err;
	}
	if ((*root)->type != JSON_OBJECT) {
		*detail = "not a JSON object";
		return ERR_PROTO_MALFORMED;
	}
	return ERR_OK;
}

/* manifest_version: "3", or the legacy numbers 1 and 2; kept as text. */
static err_t manifest_version(const struct json_value *root, struct arena *a, const char **out)
{
	const struct json_value *v = member(root, "manifest_version");
	uint64_t n;

	if (!v) {
		*out = "";
		return ERR_OK;
	}
	if (v->type == JSON_STRING && strlen(v->u.str.s) == v->u.str.len && v->u.str.len <= 16) {
		*out = v->u.str.s;
		return ERR_OK;
	}
	if (v->type != JSON_NUMBER || json_to_u64(v, &n) != ERR_OK || n > 1000000)
		return ERR_PROTO_FIELD_TYPE;
	*out = arena_printf(a, "%llu", (unsigned long long)n);
	return *out ? ERR_OK : arena_err(a);
}

/* init_script: a string or an array of at most 5 strings (only checked: the sim boot runs no scripts). */
static err_t init_script(const struct json_value *root)
{
	const struct json_value *v = member(root, "init_script");

	if (!v || v->type == JSON_STRING)
		return ERR_OK;
	if (v->type != JSON_ARRAY || v->u.arr.n > MAX_INIT_SCRIPTS)
		return ERR_PROTO_FIELD_TYPE;
	for (size_t i = 0; i < v->u.arr.n; i++)
		if (v->u.arr.items[i].type != JSON_STRING)
			return ERR_PROTO_FIELD_TYPE;
	return ERR_OK;
}

static int env_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > GUEST_ENV_NAME_MAX || strlen(s) != len)
		return 0;
	return memchr(s, '=', len) == NULL;
}

static err_t allowed_envs(const struct json_value *root, struct arena *a, struct guest_compose *out,
			  const char **detail)
{
	const struct json_value *v = member(root, "allowed_envs");

	out->allowed_envs = NULL;
	out->n_allowed_envs = 0;
	if (!v)
		return ERR_OK;
	if (v->type != JSON_ARRAY)
		return FIELD(detail, "allowed_envs: must be an array of names");
	if (v->u.arr.n > GUEST_MAX_ALLOWED_ENVS)
		return FIELD(detail, "allowed_envs: at most 256 names");
	if (v->u.arr.n && !(out->allowed_envs = arena_zalloc(a, v->u.arr.n * sizeof(char *))))
		return arena_err(a);
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct json_value *e = &v->u.arr.items[i];

		if (e->type != JSON_STRING || !env_name_ok(e->u.str.s, e->u.str.len))
			return FIELD(detail, "allowed_envs: names are 1..256 bytes without '=' or NUL");
		out->allowed_envs[out->n_allowed_envs++] = e->u.str.s;
	}
	return ERR_OK;
}

static err_t key_provider(const struct json_value *root, struct guest_compose *out, const char **detail)
{
	const char *kp = NULL;
	int has = 0;

	if (opt_str(root, "key_provider", NULL, &kp) != ERR_OK)
		return FIELD(detail, "key_provider: must be a string");
	if (!kp) {
		/* dstack: key_provider absent -> kms_enabled, then local_key_provider_enabled, else none. */
		out->key_provider = out->kms_enabled ? GUEST_KP_KMS
				    : out->local_key_provider_enabled ? GUEST_KP_LOCAL : GUEST_KP_NONE;
	} else if (strcmp(kp, "none") == 0) {
		out->key_provider = GUEST_KP_NONE;
	} else if (strcmp(kp, "kms") == 0) {
		out->key_provider = GUEST_KP_KMS;
	} else if (strcmp(kp, "local") == 0) {
		out->key_provider = GUEST_KP_LOCAL;
	} else if (strcmp(kp, "tpm") == 0) {
		out->key_provider = GUEST_KP_TPM;
	} else {
		return FIELD(detail, "key_provider: none, kms, local or tpm");
	}
	if (opt_hex(root, "key_provider_id", out->key_provider_id, sizeof(out->key_provider_id), 0,
		    &out->key_provider_id_len, &has) != ERR_OK)
		return FIELD(detail, "key_provider_id: hex of at most 1024 bytes");
	return ERR_OK;
}

err_t guest_compose_parse(const char *text, size_t len, struct arena *a, struct guest_compose *out,
			  const char **detail)
{
	struct json_value *root;
	const struct json_value *v;
	uint64_t elv = 1;
	err_t err;

	memset(out, 0, sizeof(*out));
	if ((err = parse_root(text, len, GUEST_COMPOSE_MAX, a, &root, detail)) != ERR_OK)
		return err;
	if ((err = manifest_version(root, a, &out->manifest_version)) != ERR_OK)
		return err == ERR_PROTO_FIELD_TYPE ? FIELD(detail, "manifest_version: a string or a small integer") : err;
	if (opt_str(root, "name", "", &out->name) != ERR_OK)
		return FIELD(detail, "name: must be a string");
	if (opt_str(root, "runner", "", &out->runner) != ERR_OK)
		return FIELD(detail, "runner: must be a string");
	if (opt_str(root, "docker_compose_file", NULL, &out->docker_compose_file) != ERR_OK)
		return FIELD(detail, "docker_compose_file: must be a string");
	if (opt_str(root, "bash_script", NULL, &out->bash_script) != ERR_OK)
		return FIELD(detail, "bash_script: must be a string");
	if (opt_str(root, "pre_launch_script", NULL, &out->pre_launch_script) != ERR_OK)
		return FIELD(detail, "pre_launch_script: must be a string");
	if (init_script(root) != ERR_OK)
		return FIELD(detail, "init_script: a string or an array of at most 5 strings");
	if (opt_bool(root, "kms_enabled", 0, &out->kms_enabled) != ERR_OK)
		return FIELD(detail, "kms_enabled: must be true or false");
	if (opt_bool(root, "gateway_enabled", 0, &out->gateway_enabled) != ERR_OK)
		return FIELD(detail, "gateway_enabled: must be true or false");
	if (!out->gateway_enabled && opt_bool(root, "tproxy_enabled", 0, &out->gateway_enabled) != ERR_OK)
		return FIELD(detail, "tproxy_enabled: must be true or false");
	if (opt_bool(root, "local_key_provider_enabled", 0, &out->local_key_provider_enabled) != ERR_OK)
		return FIELD(detail, "local_key_provider_enabled: must be true or false");
	if (opt_bool(root, "no_instance_id", 0, &out->no_instance_id) != ERR_OK)
		return FIELD(detail, "no_instance_id: must be true or false");
	if (opt_bool(root, "public_logs", 0, &out->public_logs) != ERR_OK)
		return FIELD(detail, "public_logs: must be true or false");
	if (opt_bool(root, "public_sysinfo", 0, &out->public_sysinfo) != ERR_OK)
		return FIELD(detail, "public_sysinfo: must be true or false");
	if (opt_bool(root, "public_tcbinfo", 1, &out->public_tcbinfo) != ERR_OK)
		return FIELD(detail, "public_tcbinfo: must be true or false");
	if (opt_bool(root, "secure_time", 1, &out->secure_time) != ERR_OK)
		return FIELD(detail, "secure_time: must be true or false");
	if ((v = member(root, "event_log_version")) && (v->type != JSON_NUMBER || json_to_u64(v, &elv) != ERR_OK ||
							(elv != 1 && elv != 2)))
		return FIELD(detail, "event_log_version: 1 or 2");
	out->event_log_version = (unsigned)elv;
	if ((err = key_provider(root, out, detail)) != ERR_OK)
		return err;
	return allowed_envs(root, a, out, detail);
}

int guest_compose_env_allowed(const struct guest_compose *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n_allowed_envs; i++)
		if (strlen(c->allowed_envs[i]) == len && memcmp(c->allowed_envs[i], name, len) == 0)
			return 1;
	return 0;
}

static int url_ok(const char *s, size_t len)
{
	if (len == 0 || len > GUEST_URL_MAX || strlen(s) != len)
		return 0;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

err_t guest_sys_config_parse(const char *text, size_t len, struct arena *a, struct guest_sys_config *out,
			     const char **detail)
{
	struct json_value *root, *vm = NULL;
	const struct json_value *v;
	struct json_limits lim = { .max_depth = GUEST_JSON_DEPTH, .max_len = GUEST_SYS_CONFIG_MAX };
	err_t err;

	memset(out, 0, sizeof(*out));
	out->vm_config = "";
	if ((err = parse_root(text, len, GUEST_SYS_CONFIG_MAX, a, &root, detail)) != ERR_OK)
		return err;
	if ((v = member(root, "kms_urls"))) {
		if (v->type != JSON_ARRAY || v->u.arr.n > GUEST_MAX_KMS_URLS)
			return FIELD(detail, "kms_urls: an array of at most 8 URLs");
		if (v->u.arr.n && !(out->kms_urls = arena_zalloc(a, v->u.arr.n * sizeof(char *))))
			return arena_err(a);
		for (size_t i = 0; i < v->u.arr.n; i++) {
			const struct json_value *u = &v->u.arr.items[i];

			if (u->type != JSON_STRING || !url_ok(u->u.str.s, u->u.str.len))
				return FIELD(detail, "kms_urls: http(s) URLs of at most 2048 printable bytes");
			out->kms_urls[out->n_kms_urls++] = u->u.str.s;
		}
	}
	if (opt_str(root, "vm_config", "", &out->vm_config) != ERR_OK)
		return FIELD(detail, "vm_config: must be a string (JSON text)");
	if (!*out->vm_config)
		return ERR_OK;
	/* vm_config is JSON inside a string: parse it too, for os_image_hash. */
	if (json_parse(out->vm_config, strlen(out->vm_config), &lim, a, &vm, NULL) != ERR_OK ||
	    vm->type != JSON_OBJECT)
		return FIELD(detail, "vm_config: must hold a JSON object");
	if (opt_hex(vm, "os_image_hash", out->os_image_hash, sizeof(out->os_image_hash), 32, NULL,
		    &out->has_os_image_hash) != ERR_OK)
		return FIELD(detail, "vm_config.os_image_hash: 32 bytes of hex");
	return ERR_OK;
}

err_t guest_instance_info_parse(const char *text, size_t len, struct arena *a, struct guest_instance_info *out,
				const char **detail)
{
	struct json_value *root;
	err_t err;

	memset(out, 0, sizeof(*out));
	if ((err = parse_root(text, len, GUEST_INSTANCE_INFO_MAX, a, &root, detail)) != ERR_OK)
		return err;
	if (opt_hex(root, "instance_id_seed", out->instance_id_seed, GUEST_ID_LEN, GUEST_ID_LEN, NULL,
		    &out->has_seed) != ERR_OK)
		return FIELD(detail, "instance_id_seed: 20 bytes of hex");
	if (opt_hex(root, "app_id", out->app_id, GUEST_ID_LEN, GUEST_ID_LEN, NULL, &out->has_app_id) != ERR_OK)
		return FIELD(detail, "app_id: 20 bytes of hex");
	return ERR_OK;
}

void guest_identity_compute(const char *compose_text, size_t compose_len, const struct guest_compose *c,
			    const struct guest_instance_info *ii, const uint8_t seed[GUEST_ID_LEN],
			    struct guest_identity *out)
{
	uint8_t h[SHA256_LEN];

	memset(out, 0, sizeof(*out));
	sha256(compose_text, compose_len, out->compose_hash);
	if (ii && ii->has_app_id)
		memcpy(out->app_id, ii->app_id, GUEST_ID_LEN);
	else
		memcpy(out->app_id, out->compose_hash, GUEST_ID_LEN);
	if (c->no_instance_id || !seed)
		return;
	{
		const void *parts[] = { seed, out->app_id };
		const size_t lens[] = { GUEST_ID_LEN, GUEST_ID_LEN };

		sha256_parts(parts, lens, 2, h);
	}
	memcpy(out->instance_id, h, GUEST_ID_LEN);
	out->instance_id_len = GUEST_ID_LEN;
}
