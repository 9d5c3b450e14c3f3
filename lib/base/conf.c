/* SPDX-License-Identifier: Apache-2.0 */
/* Config loader: keyword tables, strict value syntax, and every error reported as "file:line: text". */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define CONF_MAX_LINE 4096
#define CONF_MAX_FILE ((size_t)1 << 20)
#define CONF_LIST_CAP 64
#define CONF_READ_CHUNK ((size_t)1 << 16)

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

/* A parsed value before it is stored; `s` points into the arena (or is NULL when only validating). */
union conf_val {
	uint64_t u;
	char *s;
};

struct conf_unit {
	const char *suffix;
	uint64_t mul;
};

/* Accepted suffixes. Printing picks the largest unit that divides the value exactly. */
static const struct conf_unit size_units[] = {
	{ "", 1 }, { "B", 1 }, { "K", KIB }, { "KiB", KIB }, { "M", MIB }, { "MiB", MIB }, { "G", GIB }, { "GiB", GIB },
};
static const struct conf_unit ms_units[] = {
	{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

static const struct {
	const char *name;
	int value;
} bool_words[] = {
	{ "true", 1 }, { "false", 0 }, { "yes", 1 }, { "no", 0 }, { "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 },
};

/* State of one load. `line` is 0 for errors not tied to a line (defaults, missing keys). */
struct conf_ctx {
	const struct conf_table *tables;
	size_t ntables;
	struct arena *mem;
	const char *name;
	size_t line;
	struct conf_error *e;
	unsigned char *seen; /* one flag per key, tables flattened in order */
};

static void conf_verr(struct conf_error *e, const char *name, size_t line, const char *fmt, va_list ap)
	PRINTF_LIKE(4, 0);
static void conf_verr(struct conf_error *e, const char *name, size_t line, const char *fmt, va_list ap)
{
	int n;

	if (!e)
		return;
	if (!name)
		name = "config";
	if (line)
		n = snprintf(e->text, sizeof(e->text), "%s:%zu: ", name, line);
	else
		n = snprintf(e->text, sizeof(e->text), "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(e->text))
		return;
	vsnprintf(e->text + n, sizeof(e->text) - (size_t)n, fmt, ap);
}

static void conf_err(struct conf_error *e, const char *name, size_t line, const char *fmt, ...) PRINTF_LIKE(4, 5);
static void conf_err(struct conf_error *e, const char *name, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(e, name, line, fmt, ap);
	va_end(ap);
}

/* Record the message for the current position and return `code`, so call sites stay one line. */
static err_t ctx_fail(struct conf_ctx *c, err_t code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static err_t ctx_fail(struct conf_ctx *c, err_t code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(c->e, c->name, c->line, fmt, ap);
	va_end(ap);
	return code;
}

static int is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
	       ch == '_' || ch == '-';
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static unsigned char *field(const struct conf_table *t, const struct conf_key *k)
{
	return (unsigned char *)t->base + k->offset;
}

static int is_numeric(enum conf_type type)
{
	return type == CONF_U64 || type == CONF_U32 || type == CONF_SIZE || type == CONF_MS;
}

static uint64_t type_max(enum conf_type type)
{
	switch (type) {
	case CONF_U32:
	case CONF_MS:
		return UINT32_MAX;
	case CONF_SIZE:
		return SIZE_MAX;
	default:
		return UINT64_MAX;
	}
}

/* A numeric max of 0 means "no bound beyond the field's type": [0, 0] would be a useless key. */
static uint64_t key_max(const struct conf_key *k)
{
	return k->max ? k->max : type_max(k->type);
}

static size_t list_cap(const struct conf_key *k)
{
	return k->max ? (size_t)MIN(k->max, (uint64_t)SIZE_MAX / 4) : CONF_LIST_CAP;
}

static const char *type_name(enum conf_type type)
{
	static const char *const names[] = { "string", "path", "secret", "u64", "u32",
					     "size",   "ms",   "bool",   "enum", "list" };

	return (size_t)type < ARRAY_LEN(names) ? names[type] : "?";
}

/*
 * Leading decimal digits of s: 1 when some were read (value in *v), 0 when
 * none, -1 on overflow. *pos moves past every digit either way, so the
 * caller can still tell a bad suffix from a value that is merely too big.
 */
static int scan_dec(const char *s, size_t *pos, uint64_t *v)
{
	size_t i = *pos;
	uint64_t acc = 0;
	int overflow = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			acc = acc * 10 + d;
		i++;
	}
	if (i == *pos)
		return 0;
	*pos = i;
	*v = acc;
	return overflow ? -1 : 1;
}

static err_t parse_number(struct conf_ctx *c, const struct conf_key *k, const char *s, uint64_t *out)
{
	const struct conf_unit *units = NULL;
	size_t nunits = 0, pos = 0;
	uint64_t v = 0, mul = 0;
	const char *what = "a decimal number";
	int r;

	if (k->type == CONF_SIZE) {
		units = size_units;
		nunits = ARRAY_LEN(size_units);
		what = "a size (a number with B, K, KiB, M, MiB, G or GiB)";
	} else if (k->type == CONF_MS) {
		units = ms_units;
		nunits = ARRAY_LEN(ms_units);
		what = "a duration (a number with ms, s, m or h)";
	}
	r = scan_dec(s, &pos, &v);
	if (r == 0)
		return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is not %s", k->name, s, what);
	if (units) {
		for (size_t i = 0; i < nunits; i++)
			if (strcmp(s + pos, units[i].suffix) == 0)
				mul = units[i].mul;
		if (!mul)
			return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is not %s", k->name, s, what);
	} else {
		if (s[pos])
			return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is not %s", k->name, s, what);
		mul = 1;
	}
	/* Overflow in the digits or the unit is just a value above the range. */
	if (r < 0 || v > UINT64_MAX / mul || v * mul < k->min || v * mul > key_max(k))
		return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is out of range [%llu, %llu]", k->name, s,
				(unsigned long long)k->min, (unsigned long long)key_max(k));
	*out = v * mul;
	return ERR_OK;
}

static err_t parse_enum(struct conf_ctx *c, const struct conf_key *k, const char *s, uint64_t *out)
{
	char list[256];
	struct buf_writer w;

	for (size_t i = 0; k->choices[i]; i++) {
		if (strcmp(s, k->choices[i]) == 0) {
			*out = i;
			return ERR_OK;
		}
	}
	buf_writer_init_fixed(&w, list, sizeof(list));
	for (size_t i = 0; k->choices[i]; i++)
		buf_printf(&w, "%s%s", i ? ", " : "", k->choices[i]);
	/* A long choice list is cut rather than lost; the message still names the key and value. */
	if (!buf_cstr(&w))
		list[sizeof(list) - 1] = 0;
	return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is not one of: %s", k->name, s, list);
}

/*
 * Turn the text of one value into a conf_val. `s` is NUL-terminated and `n`
 * long (it cannot contain NUL). Strings are copied into c->mem, or not at all
 * when c->mem is NULL (validating defaults).
 */
static err_t parse_value(struct conf_ctx *c, const struct conf_key *k, const char *s, size_t n, union conf_val *v)
{
	memset(v, 0, sizeof(*v));
	if (n == 0 && k->type != CONF_STR)
		return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' must not be empty", k->name);
	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
	case CONF_SECRET:
	case CONF_LIST:
		if (!c->mem)
			return ERR_OK;
		v->s = arena_memdup(c->mem, s, n);
		if (!v->s) {
			err_t err = arena_err(c->mem);
			return ctx_fail(c, err, "%s", err_str(err));
		}
		return ERR_OK;
	case CONF_U64:
	case CONF_U32:
	case CONF_SIZE:
	case CONF_MS:
		return parse_number(c, k, s, &v->u);
	case CONF_BOOL:
		for (size_t i = 0; i < ARRAY_LEN(bool_words); i++) {
			if (strcmp(s, bool_words[i].name) == 0) {
				v->u = (uint64_t)bool_words[i].value;
				return ERR_OK;
			}
		}
		return ctx_fail(c, ERR_CONFIG_RANGE, "'%s' = %s is not a boolean (true/false, yes/no, on/off, 1/0)",
				k->name, s);
	case CONF_ENUM:
		return parse_enum(c, k, s, &v->u);
	}
	return ctx_fail(c, ERR_INTERNAL, "internal error: key '%s' has an unknown type", k->name);
}

/* Refuse a secret that others could read before the service ever opens it. */
static err_t check_secret(struct conf_ctx *c, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return ctx_fail(c, ERR_IO_FILE, "cannot access secret file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ctx_fail(c, ERR_IO_FILE, "secret file '%s' is not a regular file", path);
	if (st.st_mode & 077)
		return ctx_fail(c, ERR_CONFIG_PERMS, "secret file '%s' is accessible by group or others (mode %04o)",
				path, (unsigned)(st.st_mode & 07777));
	return ERR_OK;
}

static err_t list_append(struct conf_ctx *c, const struct conf_table *t, const struct conf_key *k, char *item)
{
	struct conf_list l;
	size_t cap = list_cap(k);

	memcpy(&l, field(t, k), sizeof(l));
	if (l.n >= cap)
		return ctx_fail(c, ERR_CONFIG_RANGE, "too many values for '%s' (at most %zu)", k->name, cap);
	/* The arena cannot realloc: arrays are 8, 16, 32, ... long, so a full one has a power-of-two length. */
	if (l.n == 0 || (l.n >= 8 && (l.n & (l.n - 1)) == 0)) {
		size_t ncap = l.n ? l.n * 2 : 8;
		const char **items = arena_alloc(c->mem, ncap * sizeof(*items));
		if (!items) {
			err_t err = arena_err(c->mem);
			return ctx_fail(c, err, "%s", err_str(err));
		}
		if (l.n)
			memcpy(items, l.items, l.n * sizeof(*items));
		l.items = items;
	}
	l.items[l.n++] = item;
	memcpy(field(t, k), &l, sizeof(l));
	return ERR_OK;
}

static void store_int(const struct conf_table *t, const struct conf_key *k, uint64_t u)
{
	unsigned char *f = field(t, k);

	switch (k->type) {
	case CONF_U64: {
		uint64_t x = u;
		memcpy(f, &x, sizeof(x));
		break;
	}
	case CONF_U32:
	case CONF_MS: {
		uint32_t x = (uint32_t)u;
		memcpy(f, &x, sizeof(x));
		break;
	}
	case CONF_SIZE: {
		size_t x = (size_t)u;
		memcpy(f, &x, sizeof(x));
		break;
	}
	case CONF_BOOL:
	case CONF_ENUM: {
		int x = (int)u;
		memcpy(f, &x, sizeof(x));
		break;
	}
	default:
		break;
	}
}

static void store_zero(const struct conf_table *t, const struct conf_key *k)
{
	char *s = NULL;
	struct conf_list l = { NULL, 0 };

	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
	case CONF_SECRET:
		memcpy(field(t, k), &s, sizeof(s));
		break;
	case CONF_LIST:
		memcpy(field(t, k), &l, sizeof(l));
		break;
	default:
		store_int(t, k, 0);
		break;
	}
}

static err_t apply(struct conf_ctx *c, const struct conf_table *t, const struct conf_key *k, union conf_val *v)
{
	err_t err;

	switch (k->type) {
	case CONF_LIST:
		return list_append(c, t, k, v->s);
	case CONF_SECRET:
		if ((err = check_secret(c, v->s)) != ERR_OK)
			return err;
		memcpy(field(t, k), &v->s, sizeof(v->s));
		return ERR_OK;
	case CONF_STR:
	case CONF_PATH:
		memcpy(field(t, k), &v->s, sizeof(v->s));
		return ERR_OK;
	default:
		store_int(t, k, v->u);
		return ERR_OK;
	}
}

static const struct conf_key *find_key(const struct conf_ctx *c, const char *name, size_t n,
				       const struct conf_table **tp, size_t *idx)
{
	size_t flat = 0;

	for (size_t ti = 0; ti < c->ntables; ti++) {
		const struct conf_table *t = &c->tables[ti];
		for (size_t i = 0; i < t->nkeys; i++, flat++) {
			const struct conf_key *k = &t->keys[i];
			if (strlen(k->name) == n && memcmp(k->name, name, n) == 0) {
				*tp = t;
				*idx = flat;
				return k;
			}
		}
	}
	return NULL;
}

/* Programmer errors in the tables are caught on every load, not only when a file happens to trip them. */
static err_t validate_tables(struct conf_ctx *c, size_t *total)
{
	size_t n = 0;

	for (size_t ti = 0; ti < c->ntables; ti++) {
		const struct conf_table *t = &c->tables[ti];
		if (t->nkeys && (!t->keys || !t->base))
			return ctx_fail(c, ERR_INTERNAL, "internal error: table %zu has no keys or no struct", ti);
		for (size_t i = 0; i < t->nkeys; i++) {
			const struct conf_key *k = &t->keys[i];
			union conf_val v;
			const char *p;

			if (!k->name || !*k->name)
				return ctx_fail(c, ERR_INTERNAL, "internal error: key %zu of table %zu has no name", i, ti);
			for (p = k->name; *p; p++)
				if (!is_key_char(*p))
					return ctx_fail(c, ERR_INTERNAL, "internal error: bad key name '%s'", k->name);
			if ((int)k->type < (int)CONF_STR || (int)k->type > (int)CONF_LIST)
				return ctx_fail(c, ERR_INTERNAL, "internal error: key '%s' has an unknown type", k->name);
			if (k->type == CONF_ENUM && (!k->choices || !k->choices[0]))
				return ctx_fail(c, ERR_INTERNAL, "internal error: enum '%s' has no choices", k->name);
			if (is_numeric(k->type) && (k->max > type_max(k->type) || k->min > key_max(k)))
				return ctx_fail(c, ERR_INTERNAL, "internal error: key '%s' has a bad range", k->name);
			for (size_t tj = ti; tj < c->ntables; tj++) {
				const struct conf_table *u = &c->tables[tj];
				for (size_t j = tj == ti ? i + 1 : 0; j < u->nkeys; j++)
					if (u->keys[j].name && strcmp(u->keys[j].name, k->name) == 0)
						return ctx_fail(c, ERR_INTERNAL,
								"internal error: key '%s' is defined twice", k->name);
			}
			if (k->def && parse_value(c, k, k->def, strlen(k->def), &v) != ERR_OK)
				return ctx_fail(c, ERR_INTERNAL, "internal error: bad default '%s' for key '%s'", k->def,
						k->name);
			n++;
		}
	}
	*total = n;
	return ERR_OK;
}

/*
 * One line, without its newline. Grammar:
 *     line  = ws* [ key ws* '=' ws* value ] ws* [ '#' comment ]
 *     value = '"' (char | '\"' | '\\')* '"' | unquoted text up to '#', trailing ws trimmed
 */
static err_t parse_line(struct conf_ctx *c, const char *ln, size_t n)
{
	char val[CONF_MAX_LINE + 1];
	const struct conf_table *t = NULL;
	const struct conf_key *k;
	union conf_val v;
	size_t i = 0, ks, kn, vn = 0, idx = 0;
	err_t err;

	/* Control bytes (NUL, CR, ESC, ...) have no place in a config and would corrupt --check output. */
	for (size_t j = 0; j < n; j++) {
		unsigned char ch = (unsigned char)ln[j];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return ctx_fail(c, ERR_CONFIG, "control character 0x%02x in line", ch);
	}
	while (i < n && is_space(ln[i]))
		i++;
	if (i == n || ln[i] == '#')
		return ERR_OK;
	ks = i;
	while (i < n && is_key_char(ln[i]))
		i++;
	kn = i - ks;
	while (i < n && is_space(ln[i]))
		i++;
	if (kn == 0)
		return ctx_fail(c, ERR_CONFIG, "expected 'key = value'");
	if (i == n || ln[i] != '=')
		return ctx_fail(c, ERR_CONFIG, "expected '=' after '%.*s'", (int)kn, ln + ks);
	i++;
	while (i < n && is_space(ln[i]))
		i++;

	if (i < n && ln[i] == '"') {
		i++;
		for (;;) {
			char ch;
			if (i == n)
				return ctx_fail(c, ERR_CONFIG, "unterminated quoted value");
			ch = ln[i++];
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (i == n)
					return ctx_fail(c, ERR_CONFIG, "unterminated quoted value");
				ch = ln[i++];
				if (ch != '"' && ch != '\\')
					return ctx_fail(c, ERR_CONFIG, "invalid escape '\\%c' (only \\\" and \\\\)", ch);
			}
			val[vn++] = ch;
		}
		while (i < n && is_space(ln[i]))
			i++;
		if (i < n && ln[i] != '#')
			return ctx_fail(c, ERR_CONFIG, "unexpected text after the closing quote");
	} else {
		size_t vs = i, ve;
		while (i < n && ln[i] != '#') {
			if (ln[i] == '"')
				return ctx_fail(c, ERR_CONFIG, "unexpected '\"' in an unquoted value");
			i++;
		}
		ve = i;
		while (ve > vs && is_space(ln[ve - 1]))
			ve--;
		vn = ve - vs;
		memcpy(val, ln + vs, vn);
	}
	val[vn] = 0;

	k = find_key(c, ln + ks, kn, &t, &idx);
	if (!k)
		return ctx_fail(c, ERR_CONFIG_UNKNOWN_KEY, "unknown key '%.*s'", (int)kn, ln + ks);
	if (c->seen[idx] && k->type != CONF_LIST)
		return ctx_fail(c, ERR_CONFIG_DUPLICATE, "duplicate key '%s'", k->name);
	c->seen[idx] = 1;
	if ((err = parse_value(c, k, val, vn, &v)) != ERR_OK)
		return err;
	return apply(c, t, k, &v);
}

static err_t parse_text(struct conf_ctx *c, const char *text, size_t len)
{
	size_t pos = 0;
	err_t err;

	while (pos < len) {
		const char *ln = text + pos;
		const char *nl = memchr(ln, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - ln) : len - pos;

		pos += n + (nl ? 1 : 0);
		c->line++;
		if (n > CONF_MAX_LINE)
			return ctx_fail(c, ERR_CONFIG, "line is longer than %d bytes", CONF_MAX_LINE);
		if (n && ln[n - 1] == '\r')
			n--;
		if ((err = parse_line(c, ln, n)) != ERR_OK)
			return err;
	}
	return ERR_OK;
}

static err_t apply_defaults(struct conf_ctx *c)
{
	size_t flat = 0;
	err_t err;

	c->line = 0;
	for (size_t ti = 0; ti < c->ntables; ti++) {
		const struct conf_table *t = &c->tables[ti];
		for (size_t i = 0; i < t->nkeys; i++, flat++) {
			const struct conf_key *k = &t->keys[i];
			union conf_val v;

			if (c->seen[flat])
				continue;
			if (!k->def) {
				if (k->required)
					return ctx_fail(c, ERR_CONFIG, "missing required key '%s'", k->name);
				continue;
			}
			/* Defaults were validated already; only memory or a secret's file can fail here. */
			if ((err = parse_value(c, k, k->def, strlen(k->def), &v)) != ERR_OK)
				return err;
			if ((err = apply(c, t, k, &v)) != ERR_OK)
				return err;
		}
	}
	return ERR_OK;
}

err_t conf_load_text(const struct conf_table *tables, size_t ntables, struct arena *mem, const char *name,
		     const char *text, size_t len, struct conf_error *e)
{
	struct conf_ctx c = { tables, ntables, NULL, name, 0, e, NULL };
	size_t total = 0;
	err_t err;

	if (e)
		e->text[0] = 0;
	if (len > CONF_MAX_FILE) {
		err = ctx_fail(&c, ERR_CONFIG, "file is larger than 1MiB");
		goto out;
	}
	/* Validation parses defaults without storing them: c.mem stays NULL until it is done. */
	if ((err = validate_tables(&c, &total)) != ERR_OK)
		goto out;
	c.mem = mem;
	c.seen = calloc(total ? total : 1, 1);
	if (!c.seen) {
		err = ctx_fail(&c, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
		goto out;
	}
	for (size_t ti = 0; ti < ntables; ti++)
		for (size_t i = 0; i < tables[ti].nkeys; i++)
			store_zero(&tables[ti], &tables[ti].keys[i]);
	if ((err = parse_text(&c, text, len)) != ERR_OK)
		goto out;
	err = apply_defaults(&c);
out:
	free(c.seen);
	return err;
}

/* Read fd to the end into w, at most max bytes: ERR_PROTO_TOO_LARGE if there are more, ERR_IO_FILE on errors. */
static err_t read_all(int fd, struct buf_writer *w, size_t max)
{
	for (;;) {
		size_t room = max - w->len;
		uint8_t *p, probe;
		ssize_t r;

		if (room == 0) {
			/* Full: one more byte tells "exactly max" from "too large". */
			r = read(fd, &probe, 1);
			secure_wipe(&probe, sizeof(probe));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return ERR_IO_FILE;
			return r == 0 ? ERR_OK : ERR_PROTO_TOO_LARGE;
		}
		room = MIN(room, CONF_READ_CHUNK);
		p = buf_reserve(w, room);
		if (!p)
			return buf_writer_status(w);
		r = read(fd, p, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ERR_IO_FILE;
		if (r == 0)
			return ERR_OK;
		buf_commit(w, (size_t)r);
	}
}

err_t conf_load_file(const struct conf_table *tables, size_t ntables, struct arena *mem, const char *path,
		     struct conf_error *e)
{
	struct buf_writer w;
	int fd = -1;
	err_t err;

	buf_writer_init(&w, CONF_MAX_FILE);
	if (e)
		e->text[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		conf_err(e, path, 0, "cannot open: %s", strerror(errno));
		err = ERR_IO_FILE;
		goto out;
	}
	err = read_all(fd, &w, CONF_MAX_FILE);
	if (err == ERR_PROTO_TOO_LARGE) {
		conf_err(e, path, 0, "file is larger than 1MiB");
		err = ERR_CONFIG;
		goto out;
	}
	if (err == ERR_IO_FILE) {
		conf_err(e, path, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (err != ERR_OK) {
		conf_err(e, path, 0, "%s", err_str(err));
		goto out;
	}
	err = conf_load_text(tables, ntables, mem, path, (const char *)w.p, w.len, e);
out:
	if (fd >= 0)
		close(fd);
	buf_writer_free(&w);
	return err;
}

err_t conf_read_secret(const char *path, size_t max, char **out, size_t *len)
{
	struct buf_writer w;
	struct stat st;
	uint8_t *p = NULL;
	size_t n = 0;
	int fd = -1;
	err_t err;

	*out = NULL;
	*len = 0;
	buf_writer_init(&w, max);
	w.wipe = 1;
	/* O_NONBLOCK so a FIFO planted at the path cannot hang us before the S_ISREG check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = ERR_IO_FILE;
		goto out;
	}
	/* fstat, not stat: check the file we actually read. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = ERR_IO_FILE;
		goto out;
	}
	if (st.st_mode & 077) {
		err = ERR_CONFIG_PERMS;
		goto out;
	}
	if ((err = read_all(fd, &w, max)) != ERR_OK)
		goto out;
	if (w.len && w.p[w.len - 1] == '\n')
		w.len--;
	if (!buf_cstr(&w)) {
		err = buf_writer_status(&w);
		goto out;
	}
	p = buf_take(&w, &n);
	if (!p) {
		err = ERR_NOMEM;
		goto out;
	}
	*out = (char *)p;
	*len = n;
	p = NULL;
out:
	if (fd >= 0)
		close(fd);
	buf_writer_free(&w);
	return err;
}

/* Quoting is needed when the plain text would not read back as the same value. */
static int needs_quote(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if (is_space(*s) || *s == '#' || *s == '"' || *s == '\\')
			return 1;
	return 0;
}

static void print_str(FILE *out, const char *s)
{
	if (!needs_quote(s)) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* Largest unit that divides v exactly; units are listed smallest first and index 0 is the bare form. */
static void fmt_units(char *buf, size_t cap, uint64_t v, const struct conf_unit *units, size_t n, const char *bare)
{
	for (size_t i = n; i-- > 1;) {
		if (v && units[i].mul > 1 && v % units[i].mul == 0) {
			snprintf(buf, cap, "%llu%s", (unsigned long long)(v / units[i].mul), units[i].suffix);
			return;
		}
	}
	snprintf(buf, cap, "%llu%s", (unsigned long long)v, bare);
}

static void fmt_number(char *buf, size_t cap, enum conf_type type, uint64_t v)
{
	if (type == CONF_SIZE)
		fmt_units(buf, cap, v, size_units, ARRAY_LEN(size_units), "");
	else if (type == CONF_MS)
		fmt_units(buf, cap, v, ms_units, ARRAY_LEN(ms_units), "ms");
	else
		snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static uint64_t load_int(const struct conf_table *t, const struct conf_key *k)
{
	const unsigned char *f = field(t, k);

	switch (k->type) {
	case CONF_U64: {
		uint64_t x;
		memcpy(&x, f, sizeof(x));
		return x;
	}
	case CONF_U32:
	case CONF_MS: {
		uint32_t x;
		memcpy(&x, f, sizeof(x));
		return x;
	}
	case CONF_SIZE: {
		size_t x;
		memcpy(&x, f, sizeof(x));
		return x;
	}
	case CONF_BOOL:
	case CONF_ENUM: {
		int x;
		memcpy(&x, f, sizeof(x));
		return (uint64_t)(int64_t)x;
	}
	default:
		return 0;
	}
}

static size_t enum_count(const struct conf_key *k)
{
	size_t n = 0;

	while (k->choices && k->choices[n])
		n++;
	return n;
}

static void print_key(FILE *out, const struct conf_table *t, const struct conf_key *k)
{
	char num[64];
	uint64_t u;

	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
	case CONF_SECRET: {
		const char *s;
		memcpy(&s, field(t, k), sizeof(s));
		if (!s) {
			fprintf(out, "# %s is unset\n", k->name);
			return;
		}
		fprintf(out, "%s = ", k->name);
		print_str(out, s);
		fputc('\n', out);
		return;
	}
	case CONF_LIST: {
		struct conf_list l;
		memcpy(&l, field(t, k), sizeof(l));
		if (!l.n)
			fprintf(out, "# %s is unset\n", k->name);
		for (size_t i = 0; i < l.n; i++) {
			fprintf(out, "%s = ", k->name);
			print_str(out, l.items[i]);
			fputc('\n', out);
		}
		return;
	}
	case CONF_BOOL:
		fprintf(out, "%s = %s\n", k->name, load_int(t, k) ? "true" : "false");
		return;
	case CONF_ENUM:
		u = load_int(t, k);
		if (u < enum_count(k))
			fprintf(out, "%s = %s\n", k->name, k->choices[u]);
		else
			fprintf(out, "# %s has no valid value\n", k->name);
		return;
	default:
		fmt_number(num, sizeof(num), k->type, load_int(t, k));
		fprintf(out, "%s = %s\n", k->name, num);
		return;
	}
}

void conf_print(const struct conf_table *tables, size_t ntables, FILE *out)
{
	for (size_t ti = 0; ti < ntables; ti++)
		for (size_t i = 0; i < tables[ti].nkeys; i++)
			print_key(out, &tables[ti], &tables[ti].keys[i]);
}

void conf_print_help(const struct conf_table *tables, size_t ntables, FILE *out)
{
	for (size_t ti = 0; ti < ntables; ti++) {
		for (size_t i = 0; i < tables[ti].nkeys; i++) {
			const struct conf_key *k = &tables[ti].keys[i];

			fprintf(out, "%s  (%s", k->name, type_name(k->type));
			if (k->type == CONF_ENUM)
				for (size_t j = 0; k->choices && k->choices[j]; j++)
					fprintf(out, "%s%s", j ? "|" : " ", k->choices[j]);
			if (k->def) {
				fputs(", default ", out);
				print_str(out, k->def);
			} else {
				fputs(k->required ? ", required" : ", no default", out);
			}
			if (is_numeric(k->type) && (k->min || k->max)) {
				char lo[64], hi[64];
				fmt_number(lo, sizeof(lo), k->type, k->min);
				fmt_number(hi, sizeof(hi), k->type, key_max(k));
				fprintf(out, ", range [%s, %s]", lo, hi);
			}
			if (k->type == CONF_LIST)
				fprintf(out, ", at most %zu", list_cap(k));
			fprintf(out, ")%s%s\n", k->help ? "  " : "", k->help ? k->help : "");
		}
	}
}
