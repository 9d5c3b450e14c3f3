/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the common service config: valid files, fail-closed listeners, secret permissions, exact error texts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc.h"

/* A stand-in for a service's own table, with a cross-key check like gateway's. */
struct test_config {
	const char *state_dir;
	uint32_t port;
};

static const struct conf_key test_keys[] = {
	{ "state_dir", CONF_PATH, offsetof(struct test_config, state_dir), "/var/lib/test", 0, 0, NULL, 0, "state" },
	{ "port", CONF_U32, offsetof(struct test_config, port), "443", 1, 65535, NULL, 0, "a port" },
};

static err_t test_validate(const struct svc_config *cfg, const char **detail)
{
	const struct test_config *t = cfg->service;

	if (t->port == 666) {
		*detail = "port 666 is reserved";
		return ERR_CONFIG_RANGE;
	}
	return ERR_OK;
}

static const struct svc_def test_def = {
	.name = "test",
	.binary = "dstack-test",
	.default_config = "/etc/dstack/test.conf",
	.keys = test_keys,
	.nkeys = ARRAY_LEN(test_keys),
	.config_size = sizeof(struct test_config),
	.validate = test_validate,
};

static err_t load(struct svc_config *cfg, const char *text, struct conf_error *e)
{
	return svc_config_load_text(cfg, &test_def, "test.conf", text, strlen(text), e);
}

/* Load text that must fail with `code` and exactly `want` as the message. */
static void expect_error(const char *text, err_t code, const char *want)
{
	struct svc_config cfg;
	struct conf_error e;

	assert_int_equal(load(&cfg, text, &e), code);
	assert_string_equal(e.text, want);
}

/* A file with `mode` holding `content`; the caller unlinks it. */
static void make_file(char *path, size_t cap, mode_t mode, const char *content)
{
	int fd;

	snprintf(path, cap, "%s/svc-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_valid(void **state)
{
	struct svc_config cfg;
	struct conf_error e;
	const struct test_config *t;
	char *printed = NULL;
	size_t printed_len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load(&cfg,
			      "# two listeners, defaults elsewhere\n"
			      "listen = tcp://127.0.0.1:0\n"
			      "listen = unix:///run/dstack/test.sock\n"
			      "log.level = debug\n"
			      "limits.max_message_size = 1MiB\n"
			      "timeouts.drain = 2s\n"
			      "unix_mode = 0600\n"
			      "port = 8443\n",
			      &e),
			 ERR_OK);
	assert_int_equal(cfg.common.listen.n, 2);
	assert_string_equal(cfg.common.listen.items[0], "tcp://127.0.0.1:0");
	assert_string_equal(cfg.common.listen.items[1], "unix:///run/dstack/test.sock");
	assert_int_equal(cfg.common.log_level, 3);
	assert_int_equal(cfg.common.max_message_size, 1u << 20);
	assert_int_equal(cfg.common.max_header_size, 16u << 10);
	assert_int_equal(cfg.common.max_connections, 4096);
	assert_int_equal(cfg.common.drain_timeout_ms, 2000);
	assert_int_equal(cfg.common.idle_timeout_ms, 120000);
	assert_int_equal(cfg.common.unix_mode_bits, 0600);
	assert_null(cfg.common.tls_cert);
	assert_null(cfg.common.admin_token_file);
	assert_int_equal(cfg.common.tls_require_client_cert, 0);
	t = cfg.service;
	assert_string_equal(t->state_dir, "/var/lib/test");
	assert_int_equal(t->port, 8443);

	/* --check output: normalised, both tables, reloadable. */
	f = open_memstream(&printed, &printed_len);
	assert_non_null(f);
	svc_config_print(&cfg, &test_def, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(printed, "listen = tcp://127.0.0.1:0\nlisten = unix:///run/dstack/test.sock\n"));
	assert_non_null(strstr(printed, "limits.max_message_size = 1MiB\n"));
	assert_non_null(strstr(printed, "timeouts.drain = 2s\n"));
	assert_non_null(strstr(printed, "port = 8443\n"));
	assert_non_null(strstr(printed, "# tls.cert is unset\n"));
	svc_config_free(&cfg);
	assert_int_equal(load(&cfg, printed, &e), ERR_OK);
	assert_int_equal(cfg.common.max_message_size, 1u << 20);
	svc_config_free(&cfg);
	free(printed);
}

static void test_non_loopback_needs_tls(void **state)
{
	(void)state;
	expect_error("listen = tcp://0.0.0.0:1\n", ERR_CONFIG,
		     "test.conf: listen 'tcp://0.0.0.0:1' needs TLS (tls.cert/tls.key) because it is not loopback");
	expect_error("listen = tcp://127.0.0.1:1\nlisten = tcp://[::]:7000\n", ERR_CONFIG,
		     "test.conf: listen 'tcp://[::]:7000' needs TLS (tls.cert/tls.key) because it is not loopback");
	expect_error("listen = tcp://10.1.2.3:443\n", ERR_CONFIG,
		     "test.conf: listen 'tcp://10.1.2.3:443' needs TLS (tls.cert/tls.key) because it is not loopback");
}

static void test_loopback_and_unix_cleartext(void **state)
{
	struct svc_config cfg;
	struct conf_error e;

	(void)state;
	assert_int_equal(load(&cfg, "listen = tcp://127.0.0.2:7101\nlisten = tcp://[::1]:7101\n", &e), ERR_OK);
	svc_config_free(&cfg);
	assert_int_equal(load(&cfg, "listen = unix:///tmp/x.sock\n", &e), ERR_OK);
	svc_config_free(&cfg);
}

static void test_non_loopback_with_tls(void **state)
{
	struct svc_config cfg;
	struct conf_error e;
	char key[256], text[1024];

	(void)state;
	make_file(key, sizeof(key), 0600, "not really a key\n");
	snprintf(text, sizeof(text), "listen = tcp://0.0.0.0:8443\ntls.cert = /etc/cert.pem\ntls.key = %s\n", key);
	assert_int_equal(load(&cfg, text, &e), ERR_OK);
	assert_string_equal(cfg.common.tls_key, key);
	svc_config_free(&cfg);
	unlink(key);
}

static void test_secret_perms(void **state)
{
	struct svc_config cfg;
	struct conf_error e;
	char tok[256], text[1024], want[600];

	(void)state;
	make_file(tok, sizeof(tok), 0644, "0123456789abcdef0123456789abcdef\n");
	snprintf(text, sizeof(text), "listen = tcp://127.0.0.1:0\nadmin_token_file = %s\n", tok);
	assert_int_equal(load(&cfg, text, &e), ERR_CONFIG_PERMS);
	snprintf(want, sizeof(want), "test.conf:2: secret file '%s' is accessible by group or others (mode 0644)", tok);
	assert_string_equal(e.text, want);

	/* The same file locked down is accepted; only its path is kept, never its content. */
	assert_int_equal(chmod(tok, 0600), 0);
	assert_int_equal(load(&cfg, text, &e), ERR_OK);
	assert_string_equal(cfg.common.admin_token_file, tok);
	svc_config_free(&cfg);
	unlink(tok);
}

static void test_unknown_key_and_duplicates(void **state)
{
	(void)state;
	expect_error("listen = tcp://127.0.0.1:0\n\n# comment\nlisten.port = 7\n", ERR_CONFIG_UNKNOWN_KEY,
		     "test.conf:4: unknown key 'listen.port'");
	expect_error("listen = tcp://127.0.0.1:0\nlog.level = info\nlog.level = debug\n", ERR_CONFIG_DUPLICATE,
		     "test.conf:3: duplicate key 'log.level'");
	expect_error("listen = tcp://127.0.0.1:0\nlisten = tcp://127.0.0.1:0\n", ERR_CONFIG_DUPLICATE,
		     "test.conf: listen 'tcp://127.0.0.1:0' is given twice");
}

static void test_ranges(void **state)
{
	(void)state;
	expect_error("listen = tcp://127.0.0.1:0\nlimits.max_message_size = 1023B\n", ERR_CONFIG_RANGE,
		     "test.conf:2: 'limits.max_message_size' = 1023B is out of range [1024, 67108864]");
	expect_error("listen = tcp://127.0.0.1:0\nlimits.max_message_size = 65MiB\n", ERR_CONFIG_RANGE,
		     "test.conf:2: 'limits.max_message_size' = 65MiB is out of range [1024, 67108864]");
	expect_error("listen = tcp://127.0.0.1:0\nlog.level = trace\n", ERR_CONFIG_RANGE,
		     "test.conf:2: 'log.level' = trace is not one of: error, warn, info, debug");
	expect_error("listen = tcp://127.0.0.1:0\nunix_mode = 660\n", ERR_CONFIG_RANGE,
		     "test.conf: 'unix_mode' = 660 is not an octal mode from 0600 to 0777");
	expect_error("listen = tcp://127.0.0.1:0\nunix_mode = 0468\n", ERR_CONFIG_RANGE,
		     "test.conf: 'unix_mode' = 0468 is not an octal mode from 0600 to 0777");
	expect_error("listen = tcp://127.0.0.1:0\nunix_mode = 0066\n", ERR_CONFIG_RANGE,
		     "test.conf: 'unix_mode' = 0066 is not an octal mode from 0600 to 0777");
	expect_error("listen = tcp://127.0.0.1:0\nport = 666\n", ERR_CONFIG_RANGE, "test.conf: port 666 is reserved");
}

static void test_required_and_pairs(void **state)
{
	(void)state;
	expect_error("log.level = info\n", ERR_CONFIG, "test.conf: missing required key 'listen'");
	expect_error("listen = tcp://127.0.0.1:0\ntls.cert = /etc/cert.pem\n", ERR_CONFIG,
		     "test.conf: tls.cert and tls.key must be set together");
	expect_error("listen = tcp://127.0.0.1:0\ntls.client_ca = /etc/ca.pem\n", ERR_CONFIG,
		     "test.conf: tls.client_ca needs tls.cert and tls.key");
	expect_error("listen = tcp://127.0.0.1:0\ntls.require_client_cert = yes\n", ERR_CONFIG,
		     "test.conf: tls.require_client_cert needs tls.client_ca to verify against");
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"tcp://localhost:7101", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:65536",
		"tcp://127.0.0.1:123456", "tcp://127.0.0.1:7x", "tcp://::1:7101", "tcp://[127.0.0.1]:1",
		"tcp://[::1]7101", "http://127.0.0.1:80", "unix://relative.sock", "unix://", "127.0.0.1:7101",
	};
	char text[256], want[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), "listen = %s\n", bad[i]);
		snprintf(want, sizeof(want),
			 "test.conf: listen '%s' is not tcp://IP:PORT, tcp://[IPv6]:PORT or unix:///absolute/path", bad[i]);
		expect_error(text, ERR_CONFIG, want);
	}
}

static void test_addr_parse(void **state)
{
	struct svc_addr a;
	char longpath[200];

	(void)state;
	assert_int_equal(svc_addr_parse("tcp://127.0.0.1:65535", &a), ERR_OK);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 65535);
	assert_int_equal(a.loopback, 1);
	assert_int_equal(a.is_unix, 0);
	assert_int_equal(svc_addr_parse("tcp://127.255.255.254:0", &a), ERR_OK);
	assert_int_equal(a.loopback, 1);
	assert_int_equal(svc_addr_parse("tcp://128.0.0.1:1", &a), ERR_OK);
	assert_int_equal(a.loopback, 0);
	assert_int_equal(svc_addr_parse("tcp://[::1]:80", &a), ERR_OK);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.loopback, 1);
	assert_int_equal(svc_addr_parse("tcp://[::2]:80", &a), ERR_OK);
	assert_int_equal(a.loopback, 0);
	assert_int_equal(svc_addr_parse("unix:///run/a.sock", &a), ERR_OK);
	assert_int_equal(a.is_unix, 1);
	assert_string_equal(a.path, "/run/a.sock");
	/* sun_path holds 107 bytes and a NUL. */
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:///", 8);
	longpath[7 + 107] = 0;
	assert_int_equal(svc_addr_parse(longpath, &a), ERR_OK);
	longpath[7 + 107] = 'a';
	longpath[7 + 108] = 0;
	assert_int_equal(svc_addr_parse(longpath, &a), ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_non_loopback_needs_tls),
		cmocka_unit_test(test_loopback_and_unix_cleartext),
		cmocka_unit_test(test_non_loopback_with_tls),
		cmocka_unit_test(test_secret_perms),
		cmocka_unit_test(test_unknown_key_and_duplicates),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_required_and_pairs),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_addr_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
