/* SPDX-License-Identifier: Apache-2.0 */
/* dstack's .encrypted-env: decrypt with the app's env key and keep only the names app-compose allows. */
#ifndef DS_GUEST_ENV_H
#define DS_GUEST_ENV_H

#include "arena.h"
#include "base.h"
#include "err.h"
#include "guest_compose.h"

#define GUEST_ENV_FILE_MAX (1u << 20)     /* .encrypted-env bytes */
#define GUEST_ENV_MAX_VARS 256
#define GUEST_ENV_VALUE_MAX (64u << 10)

/* One variable. Both strings are NUL-terminated copies in the (wiping) arena given to the decoder. */
struct guest_env_var {
	const char *name;
	const char *value;
	size_t value_len;
};

struct guest_envvars {
	struct guest_env_var *vars;   /* the allowed ones, in file order */
	size_t n;
	size_t n_dropped;             /* names the compose does not allow (skipped, as dstack does) */
};

/*
 * The plaintext: {"env":[{"key":NAME,"value":TEXT},...]} (SDK
 * encryptEnvVars). Strict: an object with an "env" array (other members
 * ignored, as dstack's serde does) of objects with string "key" and "value";
 * names [A-Za-z_][A-Za-z0-9_]* of at most GUEST_ENV_NAME_MAX bytes (they
 * end up in a process environment), values without NUL of at most
 * GUEST_ENV_VALUE_MAX bytes, at most GUEST_ENV_MAX_VARS entries, no name
 * twice. Names `compose` does not allow are dropped and counted.
 * `a` should have wipe set: the values are secrets.
 * Errors: ERR_PROTO_JSON / ERR_PROTO_ENCODING / ERR_PROTO_DEPTH (syntax),
 * ERR_PROTO_MALFORMED (shape, bad name, duplicate), ERR_PROTO_TOO_LARGE,
 * ERR_BUDGET; *detail is static text and never quotes a value.
 */
err_t guest_env_parse(const char *plain, size_t len, const struct guest_compose *compose, struct arena *a,
		      struct guest_envvars *out, const char **detail) MUST_CHECK;

/*
 * Decrypt an .encrypted-env blob (eph_pub || iv || ciphertext || tag) with
 * the 32-byte env_crypt_key, then guest_env_parse. The plaintext lives only
 * in the wiping arena. Errors: ERR_PROTO_TOO_LARGE (over GUEST_ENV_FILE_MAX),
 * ERR_PROTO_TRUNCATED (shorter than the overhead), ERR_PROTO_DECRYPT (wrong
 * key or any altered byte), ERR_CRYPTO, then guest_env_parse's.
 */
err_t guest_env_decrypt(const uint8_t env_key[32], const uint8_t *blob, size_t len,
			const struct guest_compose *compose, struct arena *a, struct guest_envvars *out,
			const char **detail) MUST_CHECK;

#endif
