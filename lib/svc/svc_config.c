/* SPDX-License-Identifier: Apache-2.0 */
/* The config keys every service shares, and the checks across keys that a keyword table cannot express. */
#include "svc.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SVC_MAX_LISTEN 16
/* Strings of a config are small; the cap only stops a runaway list. */
#define SVC_CONFIG_BUDGET ((size_t)4 << 20)

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

#define C(field) offsetof(struct svc_common_config, field)

static const struct conf_key common_keys[] = {
	{ "listen", CONF_LIST, C(listen), NULL, 0, SVC_MAX_LISTEN, NULL, 1,
	  "address to serve on, repeatable: tcp://IP:PORT (port 0 = any free port) or unix:///path" },
	{ "unix_mode", CONF_STR, C(unix_mode), "0660", 0, 0, NULL, 0,
	  "file mode of unix sockets, octal (0600 .. 0777)" },
	{ "tls.cert", CONF_PATH, C(tls_cert), NULL, 0, 0, NULL, 0,
	  "PEM certificate chain, leaf first; required for non-loopback TCP listeners" },
	{ "tls.key", CONF_SECRET, C(tls_key), NULL, 0, 0, NULL, 0,
	  "PEM private key for tls.cert; must not be group/world accessible" },
	{ "tls.client_ca", CONF_PATH, C(tls_client_ca), NULL, 0, 0, NULL, 0,
	  "PEM trust anchors for client certificates" },
	{ "tls.require_client_cert", CONF_BOOL, C(tls_require_client_cert), "false", 0, 0, NULL, 0,
	  "refuse TLS clients without a certificate chaining to tls.client_ca" },
	{ "admin_token_file", CONF_SECRET, C(admin_token_file), NULL, 0, 0, NULL, 0,
	  "file holding the admin bearer token; unset = admin methods only over a unix socket" },
	{ "node_name", CONF_STR, C(node_name), "", 0, 0, NULL, 0, "operator's name for this instance, for logs and GetInfo" },
	{ "log.level", CONF_ENUM, C(log_level), "info", 0, 0, log_levels, 0, "least severe level logged" },
	{ "limits.max_message_size", CONF_SIZE, C(max_message_size), "4MiB", 1024, 64u << 20, NULL, 0,
	  "largest request or response message" },
	{ "limits.max_header_size", CONF_SIZE, C(max_header_size), "16KiB", 1024, 1u << 20, NULL, 0,
	  "largest HTTP/1.1 request head or HTTP/2 header list" },
	{ "limits.max_connections", CONF_U32, C(max_connections), "4096", 1, 1000000, NULL, 0,
	  "open connections; more are closed at once" },
	{ "limits.max_concurrent_streams", CONF_U32, C(max_concurrent_streams), "256", 1, 65536, NULL, 0,
	  "concurrent HTTP/2 streams per connection" },
	{ "timeouts.handshake", CONF_MS, C(handshake_timeout_ms), "10s", 100, 300000, NULL, 0,
	  "TLS handshake and first request head must finish within this" },
	{ "timeouts.body", CONF_MS, C(body_timeout_ms), "30s", 100, 600000, NULL, 0,
	  "a request must arrive whole within this" },
	{ "timeouts.idle", CONF_MS, C(idle_timeout_ms), "2m", 1000, 3600000, NULL, 0,
	  "idle keep-alive connections are closed after this" },
	{ "timeouts.drain", CONF_MS, C(drain_timeout_ms), "10s", 100, 300000, NULL, 0,
	  "on SIGTERM, wait this long for calls in flight before exiting" },
};

#undef C

const struct conf_key *svc_common_keys(size_t *n)
{
	*n = ARRAY_LEN(common_keys);
	return common_keys;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* "tcp://IP:PORT" or "tcp://[IPv6]:PORT" with a numeric host, as the listener parses it; or "unix:///abs/path". */
err_t svc_addr_parse(const char *s, struct svc_addr *a)
{
	const char *host, *colon, *port;
	size_t hlen;
	unsigned long p = 0;
	unsigned char bin[16];

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix://", 7) == 0) {
		const char *path = s + 7;
		size_t n = strlen(path);
		/* A relative socket path would depend on the daemon's working directory. */
		if (path[0] != '/' || n >= sizeof(a->path))
			return ERR_INVALID_ARG;
		a->is_unix = 1;
		a->loopback = 1;
		memcpy(a->path, path, n + 1);
		return ERR_OK;
	}
	if (strncmp(s, "tcp://", 6) != 0)
		return ERR_INVALID_ARG;
	host = s + 6;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		if (!end || end[1] != ':')
			return ERR_INVALID_ARG;
		host++;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		colon = strrchr(host, ':');
		if (!colon)
			return ERR_INVALID_ARG;
		hlen = (size_t)(colon - host);
	}
	if (hlen == 0 || hlen >= sizeof(a->host))
		return ERR_INVALID_ARG;
	memcpy(a->host, host, hlen);
	a->host[hlen] = 0;
	port = colon + 1;
	if (!*port || strlen(port) > 5)
		return ERR_INVALID_ARG;
	for (const char *q = port; *q; q++) {
		if (!is_digit(*q))
			return ERR_INVALID_ARG;
		p = p * 10 + (unsigned long)(*q - '0');
	}
	if (p > 65535)
		return ERR_INVALID_ARG;
	a->port = (unsigned)p;
	if (inet_pton(AF_INET, a->host, bin) == 1) {
		if (host[-1] == '[')
			return ERR_INVALID_ARG;
		a->loopback = bin[0] == 127;
	} else if (host[-1] == '[' && inet_pton(AF_INET6, a->host, bin) == 1) {
		static const unsigned char v6_loopback[16] = { [15] = 1 };
		a->loopback = memcmp(bin, v6_loopback, sizeof(bin)) == 0;
	} else {
		/* Names are not resolved for binding: which address a name maps to is not the config's to guess. */
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/* "0660" style: a leading 0, then up to three octal digits. */
static err_t parse_mode(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n < 2 || n > 4 || s[0] != '0')
		return ERR_CONFIG_RANGE;
	for (size_t i = 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return ERR_CONFIG_RANGE;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	/* The owner must be able to use its own socket. */
	if ((v & 0600) != 0600)
		return ERR_CONFIG_RANGE;
	*out = v;
	return ERR_OK;
}

static err_t fail(struct conf_error *e, err_t code, const char *name, const char *fmt, ...) PRINTF_LIKE(4, 5);
static err_t fail(struct conf_error *e, err_t code, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e)
		return code;
	n = snprintf(e->text, sizeof(e->text), "%s: ", name);
	if (n > 0 && (size_t)n < sizeof(e->text)) {
		va_start(ap, fmt);
		vsnprintf(e->text + n, sizeof(e->text) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Checks across keys, after the table did types, ranges and secret permissions. */
static err_t validate(struct svc_config *cfg, const struct svc_def *def, const char *name, struct conf_error *e)
{
	struct svc_common_config *c = &cfg->common;
	int has_tls = c->tls_cert != NULL;
	const char *detail = NULL;
	err_t err;

	if (parse_mode(c->unix_mode, &c->unix_mode_bits) != ERR_OK)
		return fail(e, ERR_CONFIG_RANGE, name, "'unix_mode' = %s is not an octal mode from 0600 to 0777",
			    c->unix_mode);
	if ((c->tls_cert != NULL) != (c->tls_key != NULL))
		return fail(e, ERR_CONFIG, name, "tls.cert and tls.key must be set together");
	if (!has_tls && c->tls_client_ca)
		return fail(e, ERR_CONFIG, name, "tls.client_ca needs tls.cert and tls.key");
	if (c->tls_require_client_cert && !c->tls_client_ca)
		return fail(e, ERR_CONFIG, name, "tls.require_client_cert needs tls.client_ca to verify against");
	for (size_t i = 0; i < c->listen.n; i++) {
		const char *item = c->listen.items[i];
		struct svc_addr a;

		if (svc_addr_parse(item, &a) != ERR_OK)
			return fail(e, ERR_CONFIG, name,
				    "listen '%s' is not tcp://IP:PORT, tcp://[IPv6]:PORT or unix:///absolute/path", item);
		/* Fail closed: cleartext leaves this machine only by explicit TLS configuration. */
		if (!a.loopback && !has_tls)
			return fail(e, ERR_CONFIG, name,
				    "listen '%s' needs TLS (tls.cert/tls.key) because it is not loopback", item);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->listen.items[j], item) == 0)
				return fail(e, ERR_CONFIG_DUPLICATE, name, "listen '%s' is given twice", item);
	}
	if (def->validate && (err = def->validate(cfg, &detail)) != ERR_OK)
		return fail(e, err, name, "%s", detail ? detail : err_str(err));
	return ERR_OK;
}

static err_t load(struct svc_config *cfg, const struct svc_def *def, const char *name, const char *path,
		  const char *text, size_t len, struct conf_error *e)
{
	struct conf_table tables[2];
	err_t err;

	memset(cfg, 0, sizeof(*cfg));
	arena_init(&cfg->mem, SVC_CONFIG_BUDGET, 4096);
	cfg->service = calloc(1, def->config_size ? def->config_size : 1);
	if (!cfg->service) {
		err = fail(e, ERR_NOMEM, name, "%s", err_str(ERR_NOMEM));
		goto out;
	}
	tables[0] = (struct conf_table){ common_keys, ARRAY_LEN(common_keys), &cfg->common };
	tables[1] = (struct conf_table){ def->keys, def->nkeys, cfg->service };
	if (path)
		err = conf_load_file(tables, 2, &cfg->mem, path, e);
	else
		err = conf_load_text(tables, 2, &cfg->mem, name, text, len, e);
	if (err != ERR_OK)
		goto out;
	err = validate(cfg, def, name, e);
out:
	if (err != ERR_OK)
		svc_config_free(cfg);
	return err;
}

err_t svc_config_load(struct svc_config *cfg, const struct svc_def *def, const char *path, struct conf_error *e)
{
	return load(cfg, def, path, path, NULL, 0, e);
}

err_t svc_config_load_text(struct svc_config *cfg, const struct svc_def *def, const char *name, const char *text,
			   size_t len, struct conf_error *e)
{
	return load(cfg, def, name, NULL, text, len, e);
}

void svc_config_free(struct svc_config *cfg)
{
	free(cfg->service);
	cfg->service = NULL;
	arena_fini(&cfg->mem);
	memset(&cfg->common, 0, sizeof(cfg->common));
}

void svc_config_print(const struct svc_config *cfg, const struct svc_def *def, FILE *out)
{
	/* conf_print only reads through base; the casts drop const for the table type, not for writing. */
	struct conf_table tables[2] = {
		{ common_keys, ARRAY_LEN(common_keys), (void *)(uintptr_t)&cfg->common },
		{ def->keys, def->nkeys, cfg->service },
	};

	conf_print(tables, def->nkeys ? 2 : 1, out);
}

void svc_config_print_help(const struct svc_def *def, FILE *out)
{
	struct conf_table tables[2] = {
		{ common_keys, ARRAY_LEN(common_keys), NULL },
		{ def->keys, def->nkeys, NULL },
	};

	conf_print_help(tables, def->nkeys ? 2 : 1, out);
}
