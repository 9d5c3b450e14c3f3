/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon runtime every service shares: command table, common config, serve loop, health and readiness. */
#ifndef DS_SVC_H
#define DS_SVC_H

#include <stdio.h>
#include <event2/event.h>
#include "arena.h"
#include "base.h"
#include "conf.h"
#include "err.h"
#include "metrics.h"
#include "rpc.h"

struct svc_def;
struct svc_env;
struct svc_state;
struct Dstack__Common__V1__ServiceInfo;

/*
 * The keys every service accepts (svc_config.c). Filled once by
 * svc_config_load and read-only afterwards; strings live in the config's
 * arena.
 */
struct svc_common_config {
	struct conf_list listen;        /* "tcp://host:port" or "unix:///path", at least one */
	const char *unix_mode;          /* octal text as written ("0660"); see unix_mode_bits */
	const char *tls_cert;           /* PEM chain; NULL = cleartext */
	const char *tls_key;            /* secret file path (perm-checked) */
	const char *tls_client_ca;      /* trust anchors for client certificates; NULL = none */
	int tls_require_client_cert;
	const char *admin_token_file;   /* secret file path; NULL = admin only over the unix socket */
	const char *node_name;          /* operator's name for this instance ("" = unset) */
	int log_level;                  /* enum log_level */
	size_t max_message_size;
	size_t max_header_size;
	uint32_t max_connections;
	uint32_t max_concurrent_streams;
	uint32_t handshake_timeout_ms;
	uint32_t body_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t drain_timeout_ms;

	/* Derived by svc_config_load after parsing, not keys. */
	unsigned unix_mode_bits;        /* unix_mode parsed */
};

/* The common config plus the service's own struct, and the arena holding their strings. */
struct svc_config {
	struct svc_common_config common;
	void *service;                  /* def->config_size bytes (calloc), laid out by def->keys; owned */
	struct arena mem;
};

/* A service-specific subcommand ("dstack-kms backup ..."). argv[0] is the command name. */
struct svc_command {
	const char *name;
	int (*fn)(int argc, char **argv, const struct svc_def *def);  /* returns the exit code */
	const char *help;               /* one line, shown by `help` */
};

/* What a service tells the runtime about itself. Static data in the service's main.c. */
struct svc_def {
	const char *name;               /* "attest": metrics and log labels */
	const char *binary;             /* "dstack-attest": log name, usage */
	const char *default_config;     /* used when -c is not given */
	const struct conf_key *keys;    /* the service's own keys; offsets into its config struct */
	size_t nkeys;
	size_t config_size;             /* sizeof(the service's config struct); the runtime allocates it */
	/*
	 * Optional: checks across the service's keys after parsing (cfg->service
	 * is filled). Return an error and a static *detail; it is reported as
	 * "<file>: <detail>".
	 */
	err_t (*validate)(const struct svc_config *cfg, const char **detail);
	/*
	 * Called once the server exists and before any listener opens: register
	 * services (svc_add_service) and readiness checks, set env->priv. On
	 * failure return an error and a static *detail; fini still runs.
	 */
	err_t (*init)(struct svc_env *env, const char **detail);
	/* Optional: release env->priv. Runs after the loop stopped and the server is freed. */
	void (*fini)(struct svc_env *env);
	const struct svc_command *commands;  /* extra subcommands; may be NULL */
	size_t ncommands;
};

/*
 * A readiness check: ERR_OK when the service can do its job right now; else
 * an error and optionally a static *detail (shown on /readyz, never secret).
 * Runs on the event loop, so it must be cheap and must not block.
 */
typedef err_t (*svc_ready_fn)(void *arg, const char **detail);

/*
 * The one process-wide environment, created by svc_main on its stack and
 * passed to every hook. Everything but priv is owned by the runtime.
 */
struct svc_env {
	const struct svc_def *def;
	struct event_base *base;
	struct rpc_server *server;
	struct metrics *metrics;
	const struct svc_common_config *common;
	const void *config;             /* the service's config struct (def->config_size bytes) */
	const char *config_path;
	uint64_t started_at_unix;
	void *priv;                     /* the service's own state: set by init, freed by fini */
	struct svc_state *state;        /* runtime internals */
};

/*
 * Run the command named by argv[1]: serve, check-config, help-config,
 * version, help, or one of def->commands. Returns the process exit code:
 * 0 success, 1 runtime failure, 2 usage or config error.
 */
int svc_main(int argc, char **argv, const struct svc_def *def);

/*
 * Register an rpc service (borrowed; must outlive the server) and record its
 * full name so grpc.health.v1.Health/Check knows it. Use this instead of
 * rpc_server_add_service. def->ctx is usually the env.
 */
err_t svc_add_service(struct svc_env *env, const struct rpc_service_def *def, const char **detail) MUST_CHECK;

/* Add a readiness check consulted by /readyz. `name` (static) and `arg` are borrowed. At most 16. */
err_t svc_add_ready_check(struct svc_env *env, const char *name, svc_ready_fn fn, void *arg) MUST_CHECK;

/*
 * Serve TCP listeners with `ctx` instead of the context built from tls.*
 * (for services whose certificate lives in memory, e.g. RA-TLS). Call from
 * init; takes ownership. The service may keep a pointer and change the
 * certificate later (new connections pick it up).
 */
void svc_set_tls_ctx(struct svc_env *env, SSL_CTX *ctx);

/* 1 while the process drains after SIGTERM/SIGINT. */
int svc_draining(const struct svc_env *env);

/*
 * protobuf-c declares string fields `char *` even in messages we only
 * encode; responses borrow static or config strings through this, and
 * nothing writes through the pointer.
 */
static inline char *svc_pb_str(const char *s)
{
	return (char *)(uintptr_t)s;
}

/* Release version and source revision the binary was built from. Static strings. */
const char *svc_version(void);
const char *svc_git_rev(void);

/*
 * Fill a dstack.common.v1.ServiceInfo (already initialised) with this
 * process's identity. Strings are borrowed from the env and the binary.
 */
void svc_service_info(const struct svc_env *env, struct Dstack__Common__V1__ServiceInfo *out);

/* --- config (svc_config.c); exposed for tests and --check --- */

/* The common key table (static). */
const struct conf_key *svc_common_keys(size_t *n);

/*
 * Load `path` (or `text`, for tests) with the common and the service's keys,
 * then check what the keyword table cannot: listen syntax, cleartext only on
 * loopback or unix sockets, TLS keys in pairs, unix_mode. On failure `e`
 * holds "file[:line]: text" and cfg is freed. On success free with
 * svc_config_free.
 */
err_t svc_config_load(struct svc_config *cfg, const struct svc_def *def, const char *path,
		      struct conf_error *e) MUST_CHECK;
err_t svc_config_load_text(struct svc_config *cfg, const struct svc_def *def, const char *name, const char *text,
			   size_t len, struct conf_error *e) MUST_CHECK;
void svc_config_free(struct svc_config *cfg);
/* The normalised config: every key with its effective value (secrets as paths, never contents). */
void svc_config_print(const struct svc_config *cfg, const struct svc_def *def, FILE *out);
/* Every key with type, default and help. */
void svc_config_print_help(const struct svc_def *def, FILE *out);

/*
 * A parsed listen address. host is the text between "tcp://" and the last
 * ':' without IPv6 brackets; path is the unix socket path.
 */
struct svc_addr {
	int is_unix;
	char host[256];
	unsigned port;
	char path[108];
	int loopback;                  /* 127.0.0.0/8, ::1, "localhost", or a unix socket */
};
err_t svc_addr_parse(const char *s, struct svc_addr *a) MUST_CHECK;

#endif
