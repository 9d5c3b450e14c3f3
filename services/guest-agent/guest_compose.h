/* SPDX-License-Identifier: Apache-2.0 */
/* The host-shared inputs of a CVM boot: app-compose.json, .sys-config.json, .instance_info, and the identities dstack derives from them. */
#ifndef DS_GUEST_COMPOSE_H
#define DS_GUEST_COMPOSE_H

#include "arena.h"
#include "base.h"
#include "err.h"

/*
 * Everything here is pure: bytes in, structs out, no I/O. The inputs come
 * from the host, which is untrusted: every field is type-checked, every
 * size is capped, and what dstack's serde parser ignores (unknown members)
 * is ignored here too, so a compose written for dstack boots unchanged.
 * Where dstack accepts `null` for an optional member (PR #222: a null
 * key_provider_id bricked boots), so do we. Strings and arrays in the
 * results live in the arena given to the parser; nothing borrows the input.
 */

#define GUEST_COMPOSE_MAX (1u << 20)       /* app-compose.json bytes */
#define GUEST_SYS_CONFIG_MAX (1u << 20)    /* .sys-config.json bytes */
#define GUEST_INSTANCE_INFO_MAX (64u << 10)
#define GUEST_JSON_DEPTH 32
#define GUEST_MAX_ALLOWED_ENVS 256
#define GUEST_ENV_NAME_MAX 256
#define GUEST_MAX_KMS_URLS 8
#define GUEST_URL_MAX 2048
#define GUEST_KP_ID_MAX 1024               /* key_provider_id bytes (a P-256 SPKI is 91) */
#define GUEST_ID_LEN 20                    /* app id, instance id, instance id seed */

enum guest_key_provider {
	GUEST_KP_NONE = 0,   /* keys from a local seed (dstack: random each boot) */
	GUEST_KP_KMS,        /* keys from the KMS over mutual RA-TLS */
	GUEST_KP_LOCAL,      /* dstack's SGX local key provider: not supported here */
	GUEST_KP_TPM,        /* dstack's TPM-sealed seed: not supported here */
};

/* "none", "kms", "local", "tpm". */
const char *guest_key_provider_name(enum guest_key_provider kp);

/* app-compose.json (reference section 4.1), the members the guest acts on. */
struct guest_compose {
	const char *name;                      /* "" when absent */
	const char *runner;                    /* "docker-compose", "bash", ...; "" when absent */
	const char *manifest_version;          /* as text ("2" for the number 2); "" when absent */
	const char *docker_compose_file;       /* YAML text, or NULL */
	const char *bash_script;               /* runner "bash": the script, or NULL */
	const char *pre_launch_script;         /* or NULL */
	enum guest_key_provider key_provider;  /* key_provider, else from kms_enabled / local_key_provider_enabled */
	uint8_t key_provider_id[GUEST_KP_ID_MAX];
	size_t key_provider_id_len;            /* 0 = no pin */
	const char **allowed_envs;             /* names an encrypted env may set */
	size_t n_allowed_envs;
	int kms_enabled, gateway_enabled, local_key_provider_enabled;
	int no_instance_id;
	int public_logs, public_sysinfo, public_tcbinfo;  /* public_tcbinfo defaults to 1 */
	int secure_time;                       /* default 1; not acted on here (no chrony in the sim) */
	unsigned event_log_version;            /* 1 (default) or 2 */
};

/*
 * Parse app-compose.json. The root must be an object; known members must
 * have dstack's types (manifest_version a string or a non-negative integer,
 * init_script a string or an array of at most 5 strings, key_provider one of
 * none/kms/local/tpm, key_provider_id hex (0x allowed), allowed_envs an
 * array of at most GUEST_MAX_ALLOWED_ENVS names of 1..256 bytes without
 * '=' or NUL, event_log_version 1 or 2, booleans true/false).
 * Errors: ERR_PROTO_TOO_LARGE (over GUEST_COMPOSE_MAX), ERR_PROTO_JSON,
 * ERR_PROTO_ENCODING, ERR_PROTO_DEPTH, ERR_PROTO_MALFORMED (root not an
 * object), ERR_PROTO_FIELD_TYPE (a member of the wrong type or value;
 * *detail names it), ERR_BUDGET. *detail is static text.
 */
err_t guest_compose_parse(const char *text, size_t len, struct arena *a, struct guest_compose *out,
			  const char **detail) MUST_CHECK;

/* 1 when `name` is in the compose's allowed_envs. */
int guest_compose_env_allowed(const struct guest_compose *c, const char *name, size_t len);

/* .sys-config.json (reference section 4.6), the members the guest acts on. */
struct guest_sys_config {
	const char **kms_urls;                 /* https://host:port */
	size_t n_kms_urls;
	const char *vm_config;                 /* the vm_config JSON text as given; "" when absent */
	uint8_t os_image_hash[32];             /* vm_config.os_image_hash */
	int has_os_image_hash;
};

/*
 * Parse .sys-config.json: kms_urls (array of http(s) URLs, at most
 * GUEST_MAX_KMS_URLS), vm_config (a string holding JSON; its os_image_hash,
 * when present, must be 32 bytes of hex). Unknown members are ignored.
 * Errors as guest_compose_parse.
 */
err_t guest_sys_config_parse(const char *text, size_t len, struct arena *a, struct guest_sys_config *out,
			     const char **detail) MUST_CHECK;

/* .instance_info: {"instance_id_seed": hex20, "app_id": hex20}, both optional. */
struct guest_instance_info {
	uint8_t instance_id_seed[GUEST_ID_LEN];
	int has_seed;
	uint8_t app_id[GUEST_ID_LEN];
	int has_app_id;
};

/* Parse .instance_info. Unknown members (instance_id, ...) are ignored. Errors as guest_compose_parse. */
err_t guest_instance_info_parse(const char *text, size_t len, struct arena *a, struct guest_instance_info *out,
				const char **detail) MUST_CHECK;

/* The identities dstack measures into RTMR3 (reference section 4.2). */
struct guest_identity {
	uint8_t compose_hash[32];              /* sha256 of the exact app-compose.json bytes */
	uint8_t app_id[GUEST_ID_LEN];          /* .instance_info app_id, else compose_hash[0..20) */
	uint8_t instance_id[GUEST_ID_LEN];     /* sha256(seed || app_id)[0..20) */
	size_t instance_id_len;                /* 0 with no_instance_id */
};

/*
 * compose_hash, app_id and instance_id by dstack's rules. `seed` (20 bytes)
 * is required unless the compose says no_instance_id. Pure.
 */
void guest_identity_compute(const char *compose_text, size_t compose_len, const struct guest_compose *c,
			    const struct guest_instance_info *ii, const uint8_t seed[GUEST_ID_LEN],
			    struct guest_identity *out);

#endif
