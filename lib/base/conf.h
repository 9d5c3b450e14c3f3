/* SPDX-License-Identifier: Apache-2.0 */
/* Config files parsed through keyword tables into immutable structs. */
#ifndef DS_CONF_H
#define DS_CONF_H

#include <stdio.h>
#include "arena.h"
#include "base.h"
#include "err.h"

/*
 * File format, one setting per line:
 *
 *     # comment
 *     listen = tcp://127.0.0.1:7001
 *     log.level = debug
 *     limits.max_message_size = 4MiB
 *     tls.key = "/etc/dstack/key.pem"     # quotes allow '#' and spaces
 *
 * Keys come from tables; an unknown key, a duplicate key (unless the key is
 * a list) and a value out of range are errors reported as "file:line: text".
 * Keys not set take their default; a required key with no value is an error.
 */
enum conf_type {
	CONF_STR,        /* char *, NULL when unset with no default */
	CONF_PATH,       /* char *, a file path */
	CONF_SECRET,     /* char *, path of a secret file: refused if group/world accessible */
	CONF_U64,        /* uint64_t, within [min, max] */
	CONF_U32,        /* uint32_t, within [min, max] */
	CONF_SIZE,       /* size_t; suffixes B, K/KiB, M/MiB, G/GiB (powers of 1024); [min, max] */
	CONF_MS,         /* uint32_t milliseconds; suffixes ms, s, m, h (bare number = ms); [min, max] */
	CONF_BOOL,       /* int 0/1; true/false, yes/no, on/off, 1/0 */
	CONF_ENUM,       /* int index into `choices` */
	CONF_LIST,       /* struct conf_list; the key may repeat, up to `max` items */
};

struct conf_list {
	const char **items;
	size_t n;
};

struct conf_key {
	const char *name;           /* "limits.max_message_size" */
	enum conf_type type;
	size_t offset;              /* offsetof(the config struct, field) */
	const char *def;            /* default, in file syntax; NULL = none */
	uint64_t min, max;          /* numeric range; max of a CONF_LIST = item cap (0 = 64) */
	const char *const *choices; /* CONF_ENUM: NULL-terminated names */
	int required;
	const char *help;           /* one line, shown by --help-config */
};

/* One table of keys writing into one struct. Services pass the common table and their own. */
struct conf_table {
	const struct conf_key *keys;
	size_t nkeys;
	void *base;
};

/* Where a load failed: "path:line: message". */
struct conf_error {
	char text[512];
};

/*
 * Parse `path` (or `text` of `len` bytes named `name`, for tests). Strings are
 * copied into `mem`, which must outlive the config. On failure nothing in the
 * structs is meaningful and `e` says where and why.
 */
err_t conf_load_file(const struct conf_table *tables, size_t ntables, struct arena *mem, const char *path,
		     struct conf_error *e) MUST_CHECK;
err_t conf_load_text(const struct conf_table *tables, size_t ntables, struct arena *mem, const char *name,
		     const char *text, size_t len, struct conf_error *e) MUST_CHECK;

/* Print every key with its effective value in file syntax (the normalised config, for --check). */
void conf_print(const struct conf_table *tables, size_t ntables, FILE *out);
/* Print every key with type, default and help (for --help-config and docs). */
void conf_print_help(const struct conf_table *tables, size_t ntables, FILE *out);

/* Read a whole secret file (perm-checked like CONF_SECRET) into a malloc'd NUL-terminated buffer; caller wipes and frees. */
err_t conf_read_secret(const char *path, size_t max, char **out, size_t *len) MUST_CHECK;

#endif
