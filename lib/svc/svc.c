/* SPDX-License-Identifier: Apache-2.0 */
/* The command table every service binary shares, and `serve`: config, server, listeners, signals, clean exit. */
#include "svc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/thread.h>

#include "dstack/common/v1/common.pb-c.h"
#include "log.h"

#ifndef DS_VERSION
#define DS_VERSION "0.0.0"
#endif
#ifndef DS_GIT_REV
#define DS_GIT_REV "unknown"
#endif

#define ADMIN_TOKEN_MAX 4096
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

const char *svc_version(void)
{
	return DS_VERSION;
}

const char *svc_git_rev(void)
{
	return DS_GIT_REV;
}

void svc_service_info(const struct svc_env *env, Dstack__Common__V1__ServiceInfo *out)
{
	out->name = svc_pb_str(env->def->binary);
	out->version = svc_pb_str(svc_version());
	out->git_rev = svc_pb_str(svc_git_rev());
	out->started_at_unix = env->started_at_unix;
	out->node_name = svc_pb_str(env->common->node_name ? env->common->node_name : "");
}

err_t svc_add_service(struct svc_env *env, const struct rpc_service_def *def, const char **detail)
{
	struct svc_state *st = env->state;
	err_t err;

	if (st->nservices >= SVC_MAX_SERVICES) {
		*detail = "too many rpc services";
		return ERR_INTERNAL;
	}
	if ((err = rpc_server_add_service(env->server, def, detail)) != ERR_OK)
		return err;
	st->services[st->nservices++] = def->desc->name;
	return ERR_OK;
}

err_t svc_add_ready_check(struct svc_env *env, const char *name, svc_ready_fn fn, void *arg)
{
	struct svc_state *st = env->state;

	if (!name || !fn || st->nchecks >= SVC_MAX_READY_CHECKS)
		return ERR_INVALID_ARG;
	st->checks[st->nchecks++] = (struct svc_ready_check){ name, fn, arg };
	return ERR_OK;
}

int svc_draining(const struct svc_env *env)
{
	return env->state->draining;
}

/* --- commands --- */

struct cmd_opts {
	const char *config;
	const char *ready_file;
	int check;
};

static void usage(const struct svc_def *def, FILE *out)
{
	fprintf(out,
		"usage: %s <command> [options]\n"
		"\n"
		"commands:\n"
		"  serve [-c FILE] [--check] [--ready-file PATH]\n"
		"                      run the daemon; --check validates and prints the normalised config;\n"
		"                      --ready-file gets the bound addresses once every listener is up\n"
		"  check-config [-c FILE]\n"
		"                      same as serve --check\n"
		"  help-config         every config key with its type, default and meaning\n"
		"  version             print the version\n"
		"  help                this text\n",
		def->binary);
	for (size_t i = 0; i < def->ncommands; i++)
		fprintf(out, "  %-19s %s\n", def->commands[i].name, def->commands[i].help ? def->commands[i].help : "");
	fprintf(out, "\nThe config file defaults to %s.\n", def->default_config);
}

/* Options after the command name. `serve_flags` allows --check and --ready-file. */
static int parse_opts(int argc, char **argv, const struct svc_def *def, int serve_flags, struct cmd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->config = def->default_config;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			o->config = argv[++i];
		} else if (serve_flags && strcmp(a, "--check") == 0) {
			o->check = 1;
		} else if (serve_flags && strcmp(a, "--ready-file") == 0 && i + 1 < argc) {
			o->ready_file = argv[++i];
		} else {
			fprintf(stderr, "%s %s: unexpected argument '%s'\n", def->binary, argv[0], a);
			usage(def, stderr);
			return -1;
		}
	}
	return 0;
}

static int check_config(const struct svc_def *def, const char *path)
{
	struct svc_config cfg;
	struct conf_error e;

	if (svc_config_load(&cfg, def, path, &e) != ERR_OK) {
		fprintf(stderr, "%s: %s\n", def->binary, e.text);
		return EXIT_USAGE;
	}
	svc_config_print(&cfg, def, stdout);
	svc_config_free(&cfg);
	return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* A file descriptor per connection: take all the kernel allows us before max_connections counts on it. */
static void raise_nofile(const struct svc_common_config *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		else
			log_warn(NULL, "cannot raise the open file limit to %llu: %s", (unsigned long long)rl.rlim_max,
				 strerror(errno));
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)c->max_connections + 64)
		log_warn(NULL, "open file limit %llu is below limits.max_connections %u plus headroom",
			 (unsigned long long)rl.rlim_cur, c->max_connections);
}

/* The address as clients should dial it: the real port when the config said 0. */
static void format_bound(const struct svc_addr *a, const char *item, int port, char *out, size_t cap)
{
	if (a->is_unix)
		snprintf(out, cap, "%s", item);
	else if (strchr(a->host, ':'))
		snprintf(out, cap, "tcp://[%s]:%d", a->host, port);
	else
		snprintf(out, cap, "tcp://%s:%d", a->host, port);
}

/* Write-then-rename, so a watcher never reads a half-written file. errno is kept for the caller's message. */
static err_t write_ready_file(const char *path, const struct svc_state *st)
{
	struct buf_writer body, tmp;
	const char *tmp_path = NULL;
	size_t off = 0;
	int fd = -1, created = 0, saved_errno = 0;
	err_t err;

	buf_writer_init(&body, 64u << 10);
	buf_writer_init(&tmp, 8192);
	for (size_t i = 0; i < st->nbound; i++)
		buf_printf(&body, "%s\n", st->bound[i]);
	buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if ((err = buf_writer_status(&body)) != ERR_OK)
		goto out;
	if (!(tmp_path = buf_cstr(&tmp))) {
		err = buf_writer_status(&tmp);
		goto out;
	}
	err = ERR_IO_FILE;
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		goto out;
	created = 1;
	while (off < body.len) {
		ssize_t n = write(fd, body.p + off, body.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp_path, path) != 0)
		goto out;
	created = 0;
	err = ERR_OK;
out:
	saved_errno = errno;
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp_path);
	buf_writer_free(&body);
	buf_writer_free(&tmp);
	errno = saved_errno;
	return err;
}

static void on_drained(void *arg)
{
	struct svc_env *env = arg;

	log_info(NULL, "drained");
	event_base_loopexit(env->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct svc_env *env = arg;
	struct svc_state *st = env->state;

	(void)what;
	if (st->draining) {
		log_warn(NULL, "%s again: exiting without waiting for calls in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
		event_base_loopexit(env->base, NULL);
		return;
	}
	st->draining = 1;
	log_info(NULL, "%s: shutting down (draining up to %u ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
		 env->common->drain_timeout_ms);
	rpc_server_shutdown(env->server, on_drained, env);
}

static err_t add_signal(struct svc_env *env, int sig, struct event **ev)
{
	*ev = evsignal_new(env->base, sig, on_signal, env);
	if (!*ev || event_add(*ev, NULL) != 0)
		return ERR_INTERNAL;
	return ERR_OK;
}

static err_t load_admin_token(struct svc_state *st)
{
	const char *path = st->cfg.common.admin_token_file;
	err_t err;

	if (!path)
		return ERR_OK;
	err = conf_read_secret(path, ADMIN_TOKEN_MAX, &st->admin_token, &st->admin_token_len);
	if (err != ERR_OK) {
		log_error(NULL, "admin_token_file '%s': %s", path, err_str(err));
		return err;
	}
	/* A short token is guessable; refuse it rather than guard admin methods with it. */
	if (st->admin_token_len < 16 || strlen(st->admin_token) != st->admin_token_len) {
		log_error(NULL, "admin_token_file '%s': token must be at least 16 bytes of text", path);
		return ERR_CONFIG;
	}
	return ERR_OK;
}

static err_t open_listeners(struct svc_env *env)
{
	struct svc_state *st = env->state;
	const struct conf_list *l = &env->common->listen;
	const char *detail = NULL;
	err_t err;

	for (size_t i = 0; i < l->n && i < SVC_MAX_LISTENERS; i++) {
		struct svc_addr a;
		SSL_CTX *tls;

		/* Validated at load; parsed again only to learn the host and kind. */
		if ((err = svc_addr_parse(l->items[i], &a)) != ERR_OK)
			return err;
		/* Unix sockets stay cleartext: the kernel tells us the peer's uid, and TLS would add nothing. */
		tls = a.is_unix ? NULL : st->tls;
		if ((err = rpc_server_listen(env->server, l->items[i], tls, env->common->unix_mode_bits, &detail)) !=
		    ERR_OK) {
			log_error(NULL, "cannot listen on %s: %s", l->items[i], detail ? detail : err_str(err));
			return err;
		}
		format_bound(&a, l->items[i], rpc_server_bound_port(env->server, i), st->bound[i], SVC_ADDR_TEXT);
		st->nbound = i + 1;
		log_info(NULL, "listening on %s (%s)", st->bound[i], tls ? "TLS" : a.is_unix ? "unix" : "cleartext");
	}
	return ERR_OK;
}

static struct rpc_server_opts server_opts(const struct svc_env *env)
{
	const struct svc_common_config *c = env->common;
	struct rpc_server_opts o;

	memset(&o, 0, sizeof(o));
	o.max_message_size = c->max_message_size;
	o.max_header_bytes = c->max_header_size;
	o.max_concurrent_streams = c->max_concurrent_streams;
	o.max_connections = c->max_connections;
	o.handshake_timeout_ms = c->handshake_timeout_ms;
	o.body_timeout_ms = c->body_timeout_ms;
	o.idle_timeout_ms = c->idle_timeout_ms;
	o.drain_timeout_ms = c->drain_timeout_ms;
	o.admin_token = env->state->admin_token;
	o.metrics = env->metrics;
	o.name = env->def->name;
	return o;
}

void svc_set_tls_ctx(struct svc_env *env, SSL_CTX *ctx)
{
	if (env->state->tls)
		SSL_CTX_free(env->state->tls);
	env->state->tls = ctx;
}

static err_t setup_tls(struct svc_state *st)
{
	const struct svc_common_config *c = &st->cfg.common;
	struct tls_opts to;
	const char *detail = NULL;

	if (!c->tls_cert)
		return ERR_OK;
	memset(&to, 0, sizeof(to));
	to.cert_file = c->tls_cert;
	to.key_file = c->tls_key;
	to.ca_file = c->tls_client_ca;
	to.require_peer_cert = c->tls_require_client_cert;
	st->tls = tls_server_ctx_new(&to, &detail);
	if (!st->tls) {
		log_error(NULL, "TLS setup failed: %s", detail ? detail : "unknown error");
		return ERR_IO_TLS;
	}
	return ERR_OK;
}

static int serve(const struct svc_def *def, const struct cmd_opts *o)
{
	struct svc_state *st = NULL;
	struct svc_env env;
	struct conf_error e;
	struct rpc_server_opts so;
	const char *detail = NULL;
	int rc = EXIT_RUNTIME, loaded = 0, init_called = 0, ready_written = 0;
	err_t err;

	memset(&env, 0, sizeof(env));
	/* On the heap: the state holds every listener's address text and would crowd the stack. */
	st = calloc(1, sizeof(*st));
	if (!st) {
		fprintf(stderr, "%s: %s\n", def->binary, err_str(ERR_NOMEM));
		return EXIT_RUNTIME;
	}
	if (svc_config_load(&st->cfg, def, o->config, &e) != ERR_OK) {
		fprintf(stderr, "%s: %s\n", def->binary, e.text);
		rc = EXIT_USAGE;
		goto out;
	}
	loaded = 1;
	env.def = def;
	env.state = st;
	env.common = &st->cfg.common;
	env.config = st->cfg.service;
	env.config_path = o->config;
	env.started_at_unix = wall_s();
	log_setup(def->binary, (enum log_level)env.common->log_level);
	log_info(NULL, "version %s (rev %s) starting, config %s", svc_version(), svc_git_rev(), o->config);

	raise_nofile(env.common);
	/* A peer closing mid-write must be an error return on that connection, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	/* libcurl and worker threads added later touch the base; locking costs nothing until they do. */
	if (evthread_use_pthreads() != 0) {
		log_error(NULL, "libevent threading setup failed");
		goto out;
	}
	if (!(env.base = event_base_new()) || !(env.metrics = metrics_new())) {
		log_error(NULL, "%s", err_str(ERR_NOMEM));
		goto out;
	}
	if (load_admin_token(st) != ERR_OK || setup_tls(st) != ERR_OK)
		goto out;
	so = server_opts(&env);
	if (!(env.server = rpc_server_new(env.base, &so))) {
		log_error(NULL, "cannot create the rpc server: %s", err_str(ERR_NOMEM));
		goto out;
	}
	if ((err = svc_health_register(&env, &detail)) != ERR_OK) {
		log_error(NULL, "health service: %s", detail ? detail : err_str(err));
		goto out;
	}
	init_called = 1;
	if (def->init && (err = def->init(&env, &detail)) != ERR_OK) {
		log_error(NULL, "%s init failed: %s", def->name, detail ? detail : err_str(err));
		goto out;
	}
	if (add_signal(&env, SIGTERM, &st->sig_term) != ERR_OK || add_signal(&env, SIGINT, &st->sig_int) != ERR_OK) {
		log_error(NULL, "cannot install signal handlers");
		goto out;
	}
	if (open_listeners(&env) != ERR_OK)
		goto out;
	if (o->ready_file) {
		if ((err = write_ready_file(o->ready_file, st)) != ERR_OK) {
			log_error(NULL, "cannot write ready file '%s': %s (%s)", o->ready_file, err_str(err),
				  strerror(errno));
			goto out;
		}
		ready_written = 1;
	}
	log_info(NULL, "serving");
	if (event_base_dispatch(env.base) < 0) {
		log_error(NULL, "event loop failed");
		goto out;
	}
	rc = 0;
out:
	/* A ready file that outlives the process would tell a launcher a dead service is up. */
	if (ready_written)
		unlink(o->ready_file);
	if (st->sig_term)
		event_free(st->sig_term);
	if (st->sig_int)
		event_free(st->sig_int);
	if (env.server)
		rpc_server_free(env.server);
	if (init_called && def->fini)
		def->fini(&env);
	if (st->tls)
		SSL_CTX_free(st->tls);
	metrics_free(env.metrics);
	if (env.base)
		event_base_free(env.base);
	if (st->admin_token) {
		secure_wipe(st->admin_token, st->admin_token_len);
		free(st->admin_token);
	}
	if (loaded) {
		svc_config_free(&st->cfg);
		log_info(NULL, "stopped (exit %d)", rc);
	}
	free(st);
	libevent_global_shutdown();
	return rc;
}

static int cmd_serve(int argc, char **argv, const struct svc_def *def)
{
	struct cmd_opts o;

	if (parse_opts(argc, argv, def, 1, &o) != 0)
		return EXIT_USAGE;
	return o.check ? check_config(def, o.config) : serve(def, &o);
}

static int cmd_check_config(int argc, char **argv, const struct svc_def *def)
{
	struct cmd_opts o;

	if (parse_opts(argc, argv, def, 0, &o) != 0)
		return EXIT_USAGE;
	return check_config(def, o.config);
}

static int cmd_help_config(int argc, char **argv, const struct svc_def *def)
{
	(void)argv;
	if (argc > 1) {
		usage(def, stderr);
		return EXIT_USAGE;
	}
	svc_config_print_help(def, stdout);
	return 0;
}

static int cmd_version(int argc, char **argv, const struct svc_def *def)
{
	(void)argc;
	(void)argv;
	printf("%s %s (rev %s)\n", def->binary, svc_version(), svc_git_rev());
	return 0;
}

static int cmd_help(int argc, char **argv, const struct svc_def *def)
{
	(void)argc;
	(void)argv;
	usage(def, stdout);
	return 0;
}

static const struct svc_command builtin[] = {
	{ "serve", cmd_serve, NULL },
	{ "check-config", cmd_check_config, NULL },
	{ "help-config", cmd_help_config, NULL },
	{ "version", cmd_version, NULL },
	{ "--version", cmd_version, NULL },
	{ "help", cmd_help, NULL },
	{ "--help", cmd_help, NULL },
	{ "-h", cmd_help, NULL },
};

int svc_main(int argc, char **argv, const struct svc_def *def)
{
	const char *name;

	if (argc < 2) {
		usage(def, stderr);
		return EXIT_USAGE;
	}
	name = argv[1];
	for (size_t i = 0; i < ARRAY_LEN(builtin); i++)
		if (strcmp(name, builtin[i].name) == 0)
			return builtin[i].fn(argc - 1, argv + 1, def);
	for (size_t i = 0; i < def->ncommands; i++)
		if (strcmp(name, def->commands[i].name) == 0)
			return def->commands[i].fn(argc - 1, argv + 1, def);
	fprintf(stderr, "%s: unknown command '%s'\n", def->binary, name);
	usage(def, stderr);
	return EXIT_USAGE;
}
