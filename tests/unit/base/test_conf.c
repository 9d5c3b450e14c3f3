/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the config loader: every type, every error code with its exact "file:line:" text, and golden output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"

struct tcfg {
	char *name;
	char *data_path;
	char *tls_key;
	uint64_t big;
	uint32_t small;
	size_t max_msg;
	uint32_t timeout;
	int flag;
	int level;
	struct conf_list peers;
	char *listen;
};

static const char *const levels[] = { "error", "warn", "info", "debug", NULL };

#define OFF(f) offsetof(struct tcfg, f)
static const struct conf_key main_keys[] = {
	{ "name", CONF_STR, OFF(name), NULL, 0, 0, NULL, 0, "service name" },
	{ "data.path", CONF_PATH, OFF(data_path), "/var/lib/dstack", 0, 0, NULL, 0, "state directory" },
	{ "tls.key", CONF_SECRET, OFF(tls_key), NULL, 0, 0, NULL, 0, "TLS private key" },
	{ "limits.big", CONF_U64, OFF(big), "100", 10, 1000, NULL, 0, "a u64" },
	{ "limits.small", CONF_U32, OFF(small), "5", 1, 10, NULL, 0, "a u32" },
	{ "limits.max_message_size", CONF_SIZE, OFF(max_msg), "4MiB", 1024, 67108864, NULL, 0, "largest message" },
	{ "timeout", CONF_MS, OFF(timeout), "10s", 1, 3600000, NULL, 0, "request timeout" },
	{ "flag", CONF_BOOL, OFF(flag), "false", 0, 0, NULL, 0, "a flag" },
	{ "log.level", CONF_ENUM, OFF(level), "info", 0, 0, levels, 0, "log level" },
	{ "peer", CONF_LIST, OFF(peers), NULL, 0, 3, NULL, 0, "peers" },
};
static const struct conf_key svc_keys[] = {
	{ "listen", CONF_STR, OFF(listen), NULL, 0, 0, NULL, 1, "listen address" },
};

/* Keys without ranges, to probe number syntax against the field types' own limits. */
struct wide {
	uint64_t u64;
	uint32_t u32;
	size_t sz;
	uint32_t ms;
	int b;
	struct conf_list many;
	struct conf_list one;
};
#define WOFF(f) offsetof(struct wide, f)
static const struct conf_key wide_keys[] = {
	{ "u64", CONF_U64, WOFF(u64), NULL, 0, 0, NULL, 0, NULL },
	{ "u32", CONF_U32, WOFF(u32), NULL, 0, 0, NULL, 0, NULL },
	{ "sz", CONF_SIZE, WOFF(sz), NULL, 0, 0, NULL, 0, NULL },
	{ "ms", CONF_MS, WOFF(ms), NULL, 0, 0, NULL, 0, NULL },
	{ "b", CONF_BOOL, WOFF(b), NULL, 0, 0, NULL, 0, NULL },
	{ "many", CONF_LIST, WOFF(many), NULL, 0, 0, NULL, 0, NULL },
	{ "one", CONF_LIST, WOFF(one), "fallback", 0, 0, NULL, 0, NULL },
};

struct fx {
	struct arena mem;
	struct tcfg cfg;
	struct wide w;
	struct conf_error e;
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	arena_init(&f->mem, 1 << 20, 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_conf.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int r = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	arena_fini(&f->mem);
	free(f);
	return r;
}

static err_t load(struct fx *f, const char *text)
{
	struct conf_table t[] = {
		{ main_keys, ARRAY_LEN(main_keys), &f->cfg },
		{ svc_keys, ARRAY_LEN(svc_keys), &f->cfg },
	};

	return conf_load_text(t, ARRAY_LEN(t), &f->mem, "x.conf", text, strlen(text), &f->e);
}

static err_t load_wide(struct fx *f, const char *text)
{
	struct conf_table t[] = { { wide_keys, ARRAY_LEN(wide_keys), &f->w } };

	return conf_load_text(t, 1, &f->mem, "w.conf", text, strlen(text), &f->e);
}

/* Write `content` to dir/name with `mode`; returns the path in an arena string. */
static char *make_file(struct fx *f, const char *name, const char *content, mode_t mode)
{
	char *path = arena_printf(&f->mem, "%s/%s", f->dir, name);
	int fd;
	size_t n = strlen(content);

	assert_non_null(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static char *capture(void (*fn)(const struct conf_table *, size_t, FILE *), const struct conf_table *t, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	fn(t, n, fp);
	fclose(fp);
	return out;
}

static void test_defaults(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "listen = tcp://0.0.0.0:1\n"), ERR_OK);
	assert_string_equal(f->e.text, "");
	assert_null(f->cfg.name);
	assert_string_equal(f->cfg.data_path, "/var/lib/dstack");
	assert_null(f->cfg.tls_key);
	assert_int_equal(f->cfg.big, 100);
	assert_int_equal(f->cfg.small, 5);
	assert_int_equal(f->cfg.max_msg, 4 << 20);
	assert_int_equal(f->cfg.timeout, 10000);
	assert_int_equal(f->cfg.flag, 0);
	assert_int_equal(f->cfg.level, 2);
	assert_int_equal(f->cfg.peers.n, 0);
	assert_null(f->cfg.peers.items);
	assert_string_equal(f->cfg.listen, "tcp://0.0.0.0:1");
}

static void test_every_type(void **state)
{
	struct fx *f = *state;
	char *key = make_file(f, "key.pem", "secret\n", 0600);
	char *text = arena_printf(&f->mem,
				  "# full config\n"
				  "name = dstack kms\n"
				  "data.path = /srv/data\n"
				  "tls.key = %s\n"
				  "limits.big = 1000\n"
				  "limits.small = 1\n"
				  "limits.max_message_size = 64MiB\n"
				  "timeout = 1h\n"
				  "flag = yes\n"
				  "log.level = debug\n"
				  "peer = a\n"
				  "peer = b\n"
				  "listen = unix:/run/x.sock\n",
				  key);

	assert_non_null(text);
	assert_int_equal(load(f, text), ERR_OK);
	assert_string_equal(f->cfg.name, "dstack kms");
	assert_string_equal(f->cfg.data_path, "/srv/data");
	assert_string_equal(f->cfg.tls_key, key);
	assert_int_equal(f->cfg.big, 1000);
	assert_int_equal(f->cfg.small, 1);
	assert_int_equal(f->cfg.max_msg, 64 << 20);
	assert_int_equal(f->cfg.timeout, 3600000);
	assert_int_equal(f->cfg.flag, 1);
	assert_int_equal(f->cfg.level, 3);
	assert_int_equal(f->cfg.peers.n, 2);
	assert_string_equal(f->cfg.peers.items[0], "a");
	assert_string_equal(f->cfg.peers.items[1], "b");
	assert_string_equal(f->cfg.listen, "unix:/run/x.sock");
}

static void test_range_boundaries(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "listen=x\nlimits.small = 10\nlimits.big = 10\nlimits.max_message_size = 1K\n"
				 "timeout = 1ms\n"),
			 ERR_OK);
	assert_int_equal(f->cfg.small, 10);
	assert_int_equal(f->cfg.big, 10);
	assert_int_equal(f->cfg.max_msg, 1024);
	assert_int_equal(f->cfg.timeout, 1);

	assert_int_equal(load(f, "listen=x\nlimits.small = 11\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:2: 'limits.small' = 11 is out of range [1, 10]");
	assert_int_equal(load(f, "limits.small = 0\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:1: 'limits.small' = 0 is out of range [1, 10]");
	assert_int_equal(load(f, "limits.big = 9\n"), ERR_CONFIG_RANGE);
	assert_int_equal(load(f, "limits.big = 1001\n"), ERR_CONFIG_RANGE);
	assert_int_equal(load(f, "limits.max_message_size = 1023\n"), ERR_CONFIG_RANGE);
	assert_int_equal(load(f, "\n\n\n\n\n\n\n\nlimits.max_message_size = 9GiB\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:9: 'limits.max_message_size' = 9GiB is out of range [1024, 67108864]");
	assert_int_equal(load(f, "limits.max_message_size = 65537K\n"), ERR_CONFIG_RANGE);
	assert_int_equal(load(f, "timeout = 0\n"), ERR_CONFIG_RANGE);
	assert_int_equal(load(f, "timeout = 61m\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:1: 'timeout' = 61m is out of range [1, 3600000]");
}

struct num_case {
	const char *key;
	const char *value;
	err_t err;
	uint64_t want;
};

static void test_number_syntax(void **state)
{
	static const struct num_case cases[] = {
		{ "u64", "0", ERR_OK, 0 },
		{ "u64", "007", ERR_OK, 7 },
		{ "u64", "18446744073709551615", ERR_OK, UINT64_MAX },
		{ "u64", "18446744073709551616", ERR_CONFIG_RANGE, 0 },
		{ "u64", "99999999999999999999999999", ERR_CONFIG_RANGE, 0 },
		{ "u64", "-1", ERR_CONFIG_RANGE, 0 },
		{ "u64", "+1", ERR_CONFIG_RANGE, 0 },
		{ "u64", "0x10", ERR_CONFIG_RANGE, 0 },
		{ "u64", "1.5", ERR_CONFIG_RANGE, 0 },
		{ "u64", "12abc", ERR_CONFIG_RANGE, 0 },
		{ "u64", "1 2", ERR_CONFIG_RANGE, 0 },
		{ "u64", "\"\"", ERR_CONFIG_RANGE, 0 },
		{ "u64", "", ERR_CONFIG_RANGE, 0 },
		{ "u64", "\"42\"", ERR_OK, 42 },
		{ "u32", "4294967295", ERR_OK, UINT32_MAX },
		{ "u32", "4294967296", ERR_CONFIG_RANGE, 0 },
		{ "sz", "0", ERR_OK, 0 },
		{ "sz", "1", ERR_OK, 1 },
		{ "sz", "1B", ERR_OK, 1 },
		{ "sz", "1K", ERR_OK, 1024 },
		{ "sz", "2KiB", ERR_OK, 2048 },
		{ "sz", "3M", ERR_OK, 3 << 20 },
		{ "sz", "3MiB", ERR_OK, 3 << 20 },
		{ "sz", "5G", ERR_OK, 5ull << 30 },
		{ "sz", "5GiB", ERR_OK, 5ull << 30 },
		{ "sz", "17179869183GiB", ERR_OK, 17179869183ull << 30 },
		{ "sz", "17179869184GiB", ERR_CONFIG_RANGE, 0 },
		{ "sz", "4 MiB", ERR_CONFIG_RANGE, 0 },
		{ "sz", "4mib", ERR_CONFIG_RANGE, 0 },
		{ "sz", "4KB", ERR_CONFIG_RANGE, 0 },
		{ "sz", "4T", ERR_CONFIG_RANGE, 0 },
		{ "sz", "MiB", ERR_CONFIG_RANGE, 0 },
		{ "ms", "250", ERR_OK, 250 },
		{ "ms", "250ms", ERR_OK, 250 },
		{ "ms", "10s", ERR_OK, 10000 },
		{ "ms", "2m", ERR_OK, 120000 },
		{ "ms", "1h", ERR_OK, 3600000 },
		{ "ms", "1193h", ERR_OK, 4294800000u },
		{ "ms", "1194h", ERR_CONFIG_RANGE, 0 },
		{ "ms", "4294967295", ERR_OK, UINT32_MAX },
		{ "ms", "4294967296ms", ERR_CONFIG_RANGE, 0 },
		{ "ms", "1d", ERR_CONFIG_RANGE, 0 },
		{ "ms", "1S", ERR_CONFIG_RANGE, 0 },
		{ "ms", "s", ERR_CONFIG_RANGE, 0 },
		{ "b", "true", ERR_OK, 1 },
		{ "b", "false", ERR_OK, 0 },
		{ "b", "yes", ERR_OK, 1 },
		{ "b", "no", ERR_OK, 0 },
		{ "b", "on", ERR_OK, 1 },
		{ "b", "off", ERR_OK, 0 },
		{ "b", "1", ERR_OK, 1 },
		{ "b", "0", ERR_OK, 0 },
		{ "b", "True", ERR_CONFIG_RANGE, 0 },
		{ "b", "2", ERR_CONFIG_RANGE, 0 },
		{ "b", "", ERR_CONFIG_RANGE, 0 },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct num_case *c = &cases[i];
		char *text = arena_printf(&f->mem, "%s = %s\n", c->key, c->value);
		uint64_t got = 0;
		err_t err;

		assert_non_null(text);
		memset(&f->w, 0xa5, sizeof(f->w));
		err = load_wide(f, text);
		if (err != c->err)
			fail_msg("case %zu '%s': got %s (%s), want %s", i, text, err_name(err), f->e.text,
				 err_name(c->err));
		if (err)
			continue;
		if (!strcmp(c->key, "u64"))
			got = f->w.u64;
		else if (!strcmp(c->key, "u32"))
			got = f->w.u32;
		else if (!strcmp(c->key, "sz"))
			got = f->w.sz;
		else if (!strcmp(c->key, "ms"))
			got = f->w.ms;
		else
			got = (uint64_t)f->w.b;
		if (got != c->want)
			fail_msg("case %zu '%s': got %llu, want %llu", i, text, (unsigned long long)got,
				 (unsigned long long)c->want);
	}
}

static void test_number_messages(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_wide(f, "u64 = 12abc\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'u64' = 12abc is not a decimal number");
	assert_int_equal(load_wide(f, "sz = 4TB\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'sz' = 4TB is not a size (a number with B, K, KiB, M, MiB, G or GiB)");
	assert_int_equal(load_wide(f, "ms = 5d\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'ms' = 5d is not a duration (a number with ms, s, m or h)");
	assert_int_equal(load_wide(f, "b = maybe\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'b' = maybe is not a boolean (true/false, yes/no, on/off, 1/0)");
	assert_int_equal(load_wide(f, "u32 = 4294967296\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'u32' = 4294967296 is out of range [0, 4294967295]");
	assert_int_equal(load_wide(f, "u64 =\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:1: 'u64' must not be empty");
}

static void test_enum(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *text = arena_printf(&f->mem, "listen=x\nlog.level = %s\n", names[i]);
		assert_int_equal(load(f, text), ERR_OK);
		assert_int_equal(f->cfg.level, (int)i);
	}
	assert_int_equal(load(f, "log.level = loud\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:1: 'log.level' = loud is not one of: error, warn, info, debug");
	assert_int_equal(load(f, "log.level = INFO\n"), ERR_CONFIG_RANGE);
}

static void test_unknown_key(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "listen = x\n# comment\n\n\n\n\ntls.crt = /a\n"), ERR_CONFIG_UNKNOWN_KEY);
	assert_string_equal(f->e.text, "x.conf:7: unknown key 'tls.crt'");
	/* Keys are case-sensitive. */
	assert_int_equal(load(f, "Name = x\n"), ERR_CONFIG_UNKNOWN_KEY);
	assert_string_equal(f->e.text, "x.conf:1: unknown key 'Name'");
}

static void test_duplicate(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "listen = x\nlimits.small = 2\nlimits.small = 3\n"), ERR_CONFIG_DUPLICATE);
	assert_string_equal(f->e.text, "x.conf:3: duplicate key 'limits.small'");
	assert_int_equal(load(f, "name = a\nlisten = x\nname = a\n"), ERR_CONFIG_DUPLICATE);
	assert_string_equal(f->e.text, "x.conf:3: duplicate key 'name'");
	/* A duplicate in the second table counts too. */
	assert_int_equal(load(f, "listen = x\nlisten = y\n"), ERR_CONFIG_DUPLICATE);
	assert_string_equal(f->e.text, "x.conf:2: duplicate key 'listen'");
}

static void test_missing_required(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "name = a\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf: missing required key 'listen'");
	assert_int_equal(load(f, ""), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf: missing required key 'listen'");
	/* An empty string is a value. */
	assert_int_equal(load(f, "listen =\n"), ERR_OK);
	assert_string_equal(f->cfg.listen, "");
}

static void test_syntax(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "listen = x\nfoo\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:2: expected '=' after 'foo'");
	assert_int_equal(load(f, "name value = x\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: expected '=' after 'name'");
	assert_int_equal(load(f, "= x\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: expected 'key = value'");
	assert_int_equal(load(f, "na$me = x\n"), ERR_CONFIG);
	assert_int_equal(load(f, "name = \"abc\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: unterminated quoted value");
	assert_int_equal(load(f, "name = \"abc\\\"\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: unterminated quoted value");
	assert_int_equal(load(f, "name = \"a\\nb\"\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: invalid escape '\\n' (only \\\" and \\\\)");
	assert_int_equal(load(f, "name = \"a\" b\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: unexpected text after the closing quote");
	assert_int_equal(load(f, "name = a\"b\"\n"), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: unexpected '\"' in an unquoted value");
	assert_int_equal(conf_load_text(NULL, 0, &f->mem, "x.conf", "a = \x01", 5, &f->e), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:1: control character 0x01 in line");
	assert_int_equal(conf_load_text(NULL, 0, &f->mem, "x.conf", "\n# a\0b\n", 7, &f->e), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:2: control character 0x00 in line");
	assert_int_equal(load(f, "name = a\rb\n"), ERR_CONFIG);
}

static void test_line_and_file_limits(void **state)
{
	struct fx *f = *state;
	size_t big = (1u << 20) + 1;
	char *text = malloc(big + 1);

	assert_non_null(text);
	/* A 4096-byte line is fine; 4097 is not. */
	memset(text, 0, big + 1);
	memcpy(text, "listen=x\nname = ", 16);
	memset(text + 16, 'a', 4096 - 7);
	assert_int_equal(strlen(text + 9), 4096);
	assert_int_equal(load(f, text), ERR_OK);
	assert_int_equal(strlen(f->cfg.name), 4096 - 7);
	text[16 + 4096 - 7] = 'a';
	assert_int_equal(load(f, text), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf:2: line is longer than 4096 bytes");

	/* 1 MiB of comments is accepted; one byte more is not. */
	memset(text, '\n', big);
	memcpy(text, "listen=x", 8);
	assert_int_equal(conf_load_text(NULL, 0, &f->mem, "x.conf", text, big - 1, &f->e), ERR_CONFIG_UNKNOWN_KEY);
	assert_int_equal(conf_load_text(NULL, 0, &f->mem, "x.conf", text, big, &f->e), ERR_CONFIG);
	assert_string_equal(f->e.text, "x.conf: file is larger than 1MiB");
	free(text);
}

static void test_quoting_and_comments(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "  # leading comment\r\n"
				 "\t\n"
				 "listen=x#no space before comment\n"
				 "name = \"a # b \\\"c\\\" \\\\ d\"   # trailing comment\n"
				 "data.path =   /p a t h  # comment\r\n"
				 "  peer\t=\t\"\"  \n"
				 "peer = \"#\"\n"
				 "peer = C:\\dir\\file"),
			 ERR_CONFIG_RANGE);
	/* An empty list item is refused (only plain strings may be empty). */
	assert_string_equal(f->e.text, "x.conf:6: 'peer' must not be empty");

	assert_int_equal(load(f, "  # leading comment\r\n"
				 "\t\n"
				 "listen=x#no space before comment\n"
				 "name = \"a # b \\\"c\\\" \\\\ d\"   # trailing comment\n"
				 "data.path =   /p a t h  # comment\r\n"
				 "peer = \"#\"\n"
				 "peer = C:\\dir\\file"),
			 ERR_OK);
	assert_string_equal(f->cfg.listen, "x");
	assert_string_equal(f->cfg.name, "a # b \"c\" \\ d");
	assert_string_equal(f->cfg.data_path, "/p a t h");
	assert_int_equal(f->cfg.peers.n, 2);
	assert_string_equal(f->cfg.peers.items[0], "#");
	assert_string_equal(f->cfg.peers.items[1], "C:\\dir\\file");

	assert_int_equal(load(f, "listen = \"\"\nname=\"\""), ERR_OK);
	assert_string_equal(f->cfg.listen, "");
	assert_string_equal(f->cfg.name, "");
	assert_int_equal(load(f, "listen = x\ndata.path = \"\"\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:2: 'data.path' must not be empty");
}

static void test_list(void **state)
{
	struct fx *f = *state;
	char *text;

	assert_int_equal(load(f, "listen=x\npeer = a\npeer = b\npeer = c\n"), ERR_OK);
	assert_int_equal(f->cfg.peers.n, 3);
	assert_string_equal(f->cfg.peers.items[2], "c");
	assert_int_equal(load(f, "listen=x\npeer = a\npeer = b\npeer = c\npeer = d\n"), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "x.conf:5: too many values for 'peer' (at most 3)");

	/* Cap 0 means 64; the items survive the array growing past 8, 16, 32. */
	text = arena_strdup(&f->mem, "");
	for (int i = 0; i < 64; i++)
		text = arena_printf(&f->mem, "%smany = item%d\n", text, i);
	assert_non_null(text);
	assert_int_equal(load_wide(f, text), ERR_OK);
	assert_int_equal(f->w.many.n, 64);
	for (int i = 0; i < 64; i++) {
		char want[16];
		snprintf(want, sizeof(want), "item%d", i);
		assert_string_equal(f->w.many.items[i], want);
	}
	/* The list default applies only when the key never appears. */
	assert_int_equal(f->w.one.n, 1);
	assert_string_equal(f->w.one.items[0], "fallback");
	text = arena_printf(&f->mem, "%smany = too-many\n", text);
	assert_int_equal(load_wide(f, text), ERR_CONFIG_RANGE);
	assert_string_equal(f->e.text, "w.conf:65: too many values for 'many' (at most 64)");

	assert_int_equal(load_wide(f, "one = x\none = y\n"), ERR_OK);
	assert_int_equal(f->w.one.n, 2);
	assert_string_equal(f->w.one.items[0], "x");
	assert_string_equal(f->w.one.items[1], "y");
	assert_int_equal(f->w.many.n, 0);
}

static void test_secret_perms(void **state)
{
	struct fx *f = *state;
	char *ok = make_file(f, "ok.pem", "k", 0600);
	char *open_ = make_file(f, "open.pem", "k", 0644);
	char *group = make_file(f, "group.pem", "k", 0640);
	char *text, *want;

	text = arena_printf(&f->mem, "listen=x\ntls.key = %s\n", ok);
	assert_int_equal(load(f, text), ERR_OK);
	assert_string_equal(f->cfg.tls_key, ok);

	text = arena_printf(&f->mem, "listen=x\ntls.key = %s\n", open_);
	assert_int_equal(load(f, text), ERR_CONFIG_PERMS);
	want = arena_printf(&f->mem, "x.conf:2: secret file '%s' is accessible by group or others (mode 0644)", open_);
	assert_string_equal(f->e.text, want);

	text = arena_printf(&f->mem, "tls.key = \"%s\"\nlisten=x\n", group);
	assert_int_equal(load(f, text), ERR_CONFIG_PERMS);
	want = arena_printf(&f->mem, "x.conf:1: secret file '%s' is accessible by group or others (mode 0640)", group);
	assert_string_equal(f->e.text, want);

	text = arena_printf(&f->mem, "listen=x\ntls.key = %s/missing.pem\n", f->dir);
	assert_int_equal(load(f, text), ERR_IO_FILE);
	want = arena_printf(&f->mem, "x.conf:2: cannot access secret file '%s/missing.pem': No such file or directory",
			    f->dir);
	assert_string_equal(f->e.text, want);

	text = arena_printf(&f->mem, "listen=x\ntls.key = %s\n", f->dir);
	assert_int_equal(load(f, text), ERR_IO_FILE);
}

static void test_secret_default_checked(void **state)
{
	struct fx *f = *state;
	char *p = make_file(f, "d.pem", "k", 0604);
	struct conf_key keys[] = { { "key", CONF_SECRET, 0, p, 0, 0, NULL, 0, NULL } };
	char *out = NULL;
	struct conf_table t = { keys, 1, &out };
	char *want;

	assert_int_equal(conf_load_text(&t, 1, &f->mem, "d.conf", "", 0, &f->e), ERR_CONFIG_PERMS);
	want = arena_printf(&f->mem, "d.conf: secret file '%s' is accessible by group or others (mode 0604)", p);
	assert_string_equal(f->e.text, want);
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(conf_load_text(&t, 1, &f->mem, "d.conf", "", 0, &f->e), ERR_OK);
	assert_string_equal(out, p);
}

static void test_read_secret(void **state)
{
	struct fx *f = *state;
	char *p, *out = NULL;
	size_t len = 99;

	p = make_file(f, "s1", "abc\n", 0600);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_OK);
	assert_string_equal(out, "abc");
	assert_int_equal(len, 3);
	free(out);

	/* Only one trailing newline is stripped. */
	p = make_file(f, "s2", "abc\n\n", 0400);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_OK);
	assert_string_equal(out, "abc\n");
	assert_int_equal(len, 4);
	free(out);

	p = make_file(f, "s3", "", 0600);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_OK);
	assert_non_null(out);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);

	/* Exactly max bytes is fine (the newline counts); max + 1 is too large. */
	p = make_file(f, "s4", "0123456789", 0600);
	assert_int_equal(conf_read_secret(p, 10, &out, &len), ERR_OK);
	assert_string_equal(out, "0123456789");
	free(out);
	assert_int_equal(conf_read_secret(p, 9, &out, &len), ERR_PROTO_TOO_LARGE);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(conf_read_secret(p, 0, &out, &len), ERR_PROTO_TOO_LARGE);

	p = make_file(f, "s5", "abc", 0644);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_CONFIG_PERMS);
	assert_null(out);
	p = make_file(f, "s6", "abc", 0606);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_CONFIG_PERMS);

	p = arena_printf(&f->mem, "%s/none", f->dir);
	assert_int_equal(conf_read_secret(p, 64, &out, &len), ERR_IO_FILE);
	assert_null(out);
	assert_int_equal(conf_read_secret(f->dir, 64, &out, &len), ERR_IO_FILE);

	/* A large secret crosses the 64 KiB read chunk. */
	{
		size_t n = 200000;
		char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, 'z', n);
		big[n] = 0;
		p = make_file(f, "s7", big, 0600);
		assert_int_equal(conf_read_secret(p, n, &out, &len), ERR_OK);
		assert_int_equal(len, n);
		assert_memory_equal(out, big, n);
		assert_int_equal(out[n], 0);
		free(out);
		assert_int_equal(conf_read_secret(p, n - 1, &out, &len), ERR_PROTO_TOO_LARGE);
		free(big);
	}
}

static void test_load_file(void **state)
{
	struct fx *f = *state;
	struct conf_table t[] = {
		{ main_keys, ARRAY_LEN(main_keys), &f->cfg },
		{ svc_keys, ARRAY_LEN(svc_keys), &f->cfg },
	};
	char *p = make_file(f, "svc.conf", "listen = tcp://127.0.0.1:7001\ntimeout = 250\n", 0644);
	char *want;

	assert_int_equal(conf_load_file(t, 2, &f->mem, p, &f->e), ERR_OK);
	assert_string_equal(f->cfg.listen, "tcp://127.0.0.1:7001");
	assert_int_equal(f->cfg.timeout, 250);

	p = make_file(f, "bad.conf", "listen = x\n\nlimits.small = 3\nlimits.small = 4\n", 0644);
	assert_int_equal(conf_load_file(t, 2, &f->mem, p, &f->e), ERR_CONFIG_DUPLICATE);
	want = arena_printf(&f->mem, "%s:4: duplicate key 'limits.small'", p);
	assert_string_equal(f->e.text, want);

	p = arena_printf(&f->mem, "%s/nope.conf", f->dir);
	assert_int_equal(conf_load_file(t, 2, &f->mem, p, &f->e), ERR_IO_FILE);
	want = arena_printf(&f->mem, "%s: cannot open: No such file or directory", p);
	assert_string_equal(f->e.text, want);

	assert_int_equal(conf_load_file(t, 2, &f->mem, f->dir, &f->e), ERR_IO_FILE);

	/* Larger than 1 MiB on disk. */
	{
		size_t n = (1u << 20) + 1;
		char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, '\n', n);
		big[n] = 0;
		p = make_file(f, "big.conf", big, 0644);
		free(big);
		assert_int_equal(conf_load_file(t, 2, &f->mem, p, &f->e), ERR_CONFIG);
		want = arena_printf(&f->mem, "%s: file is larger than 1MiB", p);
		assert_string_equal(f->e.text, want);
	}
}

static void test_table_bugs_are_internal(void **state)
{
	struct fx *f = *state;
	uint32_t a = 0, b = 0;
	int en = 0;
	struct conf_key ka[] = { { "same", CONF_U32, 0, NULL, 0, 0, NULL, 0, NULL } };
	struct conf_key kb[] = { { "same", CONF_U32, 0, NULL, 0, 0, NULL, 0, NULL } };
	struct conf_table two[] = { { ka, 1, &a }, { kb, 1, &b } };
	struct conf_key twice[] = {
		{ "k", CONF_U32, 0, NULL, 0, 0, NULL, 0, NULL },
		{ "k", CONF_U32, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	struct conf_table one = { twice, 2, &a };
	struct conf_key bad_def[] = { { "n", CONF_U32, 0, "12x", 0, 0, NULL, 0, NULL } };
	struct conf_table t_bad_def = { bad_def, 1, &a };
	struct conf_key range_def[] = { { "n", CONF_U32, 0, "99", 1, 10, NULL, 0, NULL } };
	struct conf_table t_range_def = { range_def, 1, &a };
	struct conf_key no_choices[] = { { "e", CONF_ENUM, 0, NULL, 0, 0, NULL, 0, NULL } };
	struct conf_table t_no_choices = { no_choices, 1, &en };
	struct conf_key bad_range[] = { { "n", CONF_U32, 0, NULL, 0, (uint64_t)UINT32_MAX + 1, NULL, 0, NULL } };
	struct conf_table t_bad_range = { bad_range, 1, &a };
	struct conf_key min_gt_max[] = { { "n", CONF_U32, 0, NULL, 5, 4, NULL, 0, NULL } };
	struct conf_table t_min_gt_max = { min_gt_max, 1, &a };
	struct conf_key bad_name[] = { { "a b", CONF_U32, 0, NULL, 0, 0, NULL, 0, NULL } };
	struct conf_table t_bad_name = { bad_name, 1, &a };
	struct conf_key empty_list_def[] = { { "l", CONF_LIST, 0, "", 0, 0, NULL, 0, NULL } };
	struct conf_list l;
	struct conf_table t_empty_list_def = { empty_list_def, 1, &l };

	assert_int_equal(conf_load_text(two, 2, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_string_equal(f->e.text, "i.conf: internal error: key 'same' is defined twice");
	assert_int_equal(conf_load_text(&one, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	/* A bad default is caught even when the file sets the key. */
	assert_int_equal(conf_load_text(&t_bad_def, 1, &f->mem, "i.conf", "n = 1", 5, &f->e), ERR_INTERNAL);
	assert_string_equal(f->e.text, "i.conf: internal error: bad default '12x' for key 'n'");
	assert_int_equal(conf_load_text(&t_range_def, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_int_equal(conf_load_text(&t_no_choices, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_int_equal(conf_load_text(&t_bad_range, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_int_equal(conf_load_text(&t_min_gt_max, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_int_equal(conf_load_text(&t_bad_name, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
	assert_int_equal(conf_load_text(&t_empty_list_def, 1, &f->mem, "i.conf", "", 0, &f->e), ERR_INTERNAL);
}

static void test_budget(void **state)
{
	struct fx *f = *state;
	struct arena small;
	struct conf_table t[] = {
		{ main_keys, ARRAY_LEN(main_keys), &f->cfg },
		{ svc_keys, ARRAY_LEN(svc_keys), &f->cfg },
	};
	char text[3000];

	memset(text, 'a', sizeof(text));
	memcpy(text, "name = ", 7);
	arena_init(&small, 1024, 256);
	assert_int_equal(conf_load_text(t, 2, &small, "b.conf", text, sizeof(text), &f->e), ERR_BUDGET);
	assert_string_equal(f->e.text, "b.conf:1: memory budget exceeded");
	arena_fini(&small);
}

static const char *const modes[] = { "fast", "safe", NULL };
struct small {
	char *name;
	char *unset;
	char *quoted;
	size_t size;
	size_t odd;
	uint32_t t1, t2, t3;
	uint64_t n;
	int on;
	int mode;
	struct conf_list items;
	struct conf_list none;
};
#define SOFF(f) offsetof(struct small, f)
static const struct conf_key small_keys[] = {
	{ "name", CONF_STR, SOFF(name), "kms", 0, 0, NULL, 0, "name" },
	{ "unset", CONF_PATH, SOFF(unset), NULL, 0, 0, NULL, 0, NULL },
	{ "quoted", CONF_STR, SOFF(quoted), NULL, 0, 0, NULL, 0, "text" },
	{ "size", CONF_SIZE, SOFF(size), "4096K", 1024, 1 << 30, NULL, 0, "buffer" },
	{ "odd", CONF_SIZE, SOFF(odd), "1025", 0, 0, NULL, 0, NULL },
	{ "t1", CONF_MS, SOFF(t1), "10000", 0, 0, NULL, 0, NULL },
	{ "t2", CONF_MS, SOFF(t2), "250", 1, 60000, NULL, 0, "timeout" },
	{ "t3", CONF_MS, SOFF(t3), "120s", 0, 0, NULL, 0, NULL },
	{ "n", CONF_U64, SOFF(n), NULL, 0, 0, NULL, 1, "count" },
	{ "on", CONF_BOOL, SOFF(on), "off", 0, 0, NULL, 0, NULL },
	{ "mode", CONF_ENUM, SOFF(mode), "safe", 0, 0, modes, 0, "mode" },
	{ "items", CONF_LIST, SOFF(items), NULL, 0, 4, NULL, 0, "items" },
	{ "none", CONF_LIST, SOFF(none), NULL, 0, 0, NULL, 0, NULL },
};

static void test_print_golden(void **state)
{
	struct fx *f = *state;
	struct small s;
	struct conf_table t = { small_keys, ARRAY_LEN(small_keys), &s };
	static const char text[] = "quoted = \"a \\\"b\\\" #c \\\\\"\n"
				   "n = 0\n"
				   "items = one\n"
				   "items = \"two words\"\n";
	static const char golden[] = "name = kms\n"
				     "# unset is unset\n"
				     "quoted = \"a \\\"b\\\" #c \\\\\"\n"
				     "size = 4MiB\n"
				     "odd = 1025\n"
				     "t1 = 10s\n"
				     "t2 = 250ms\n"
				     "t3 = 2m\n"
				     "n = 0\n"
				     "on = false\n"
				     "mode = safe\n"
				     "items = one\n"
				     "items = \"two words\"\n"
				     "# none is unset\n";
	char *out, *out2;
	struct small s2;
	struct conf_table t2 = { small_keys, ARRAY_LEN(small_keys), &s2 };

	assert_int_equal(conf_load_text(&t, 1, &f->mem, "p.conf", text, strlen(text), &f->e), ERR_OK);
	assert_string_equal(s.quoted, "a \"b\" #c \\");
	out = capture(conf_print, &t, 1);
	assert_string_equal(out, golden);

	/* The printed config reads back to the same values. */
	assert_int_equal(conf_load_text(&t2, 1, &f->mem, "p2.conf", out, strlen(out), &f->e), ERR_OK);
	out2 = capture(conf_print, &t2, 1);
	assert_string_equal(out2, golden);
	free(out);
	free(out2);

	assert_int_equal(conf_load_text(&t, 1, &f->mem, "p.conf", "n=1\nsize=1GiB\nt2=1m\non=1\nname=\"\"",
					strlen("n=1\nsize=1GiB\nt2=1m\non=1\nname=\"\""), &f->e),
			 ERR_OK);
	out = capture(conf_print, &t, 1);
	assert_non_null(strstr(out, "name = \"\"\n"));
	assert_non_null(strstr(out, "size = 1GiB\n"));
	assert_non_null(strstr(out, "t2 = 1m\n"));
	assert_non_null(strstr(out, "on = true\n"));
	assert_non_null(strstr(out, "n = 1\n"));
	free(out);
}

static void test_print_help_golden(void **state)
{
	struct small s;
	struct conf_table t = { small_keys, 4, &s };
	static const char golden[] = "name  (string, default kms)  name\n"
				     "unset  (path, no default)\n"
				     "quoted  (string, no default)  text\n"
				     "size  (size, default 4096K, range [1KiB, 1GiB])  buffer\n";
	struct conf_table t2 = { small_keys + 6, 7, &s };
	static const char golden2[] = "t2  (ms, default 250, range [1ms, 1m])  timeout\n"
				      "t3  (ms, default 120s)\n"
				      "n  (u64, required)  count\n"
				      "on  (bool, default off)\n"
				      "mode  (enum fast|safe, default safe)  mode\n"
				      "items  (list, no default, at most 4)  items\n"
				      "none  (list, no default, at most 64)\n";
	char *out;

	(void)state;
	out = capture(conf_print_help, &t, 1);
	assert_string_equal(out, golden);
	free(out);
	out = capture(conf_print_help, &t2, 1);
	assert_string_equal(out, golden2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_and_file_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_perms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_default_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_bugs_are_internal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_golden, setup, teardown),
		cmocka_unit_test(test_print_help_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
