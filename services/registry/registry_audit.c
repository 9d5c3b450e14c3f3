/* SPDX-License-Identifier: Apache-2.0 */
/* Audit trail storage: one allocation per event, ordered by (block, logIndex), mirrored to a JSON-lines file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "enc.h"
#include "json.h"
#include "registry_audit.h"

struct entry {
	struct registry_event ev;
	off_t end;              /* file offset just past this event's line */
	char data[];            /* the event's strings */
};

struct registry_audit {
	struct entry **v;
	size_t n, cap, max;
	int fd;                 /* -1 without a file */
	const char *path;
};

const struct registry_event_field *registry_event_field(const struct registry_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->nfields; i++)
		if (strcmp(ev->fields[i].name, name) == 0)
			return &ev->fields[i];
	return NULL;
}

struct registry_audit *registry_audit_new(size_t max_events)
{
	struct registry_audit *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->max = max_events;
	a->fd = -1;
	return a;
}

void registry_audit_free(struct registry_audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

size_t registry_audit_count(const struct registry_audit *a)
{
	return a->n;
}

const struct registry_event *registry_audit_at(const struct registry_audit *a, size_t i)
{
	return i < a->n ? &a->v[i]->ev : NULL;
}

static int key_cmp(uint64_t b1, uint32_t l1, uint64_t b2, uint32_t l2)
{
	if (b1 != b2)
		return b1 < b2 ? -1 : 1;
	if (l1 != l2)
		return l1 < l2 ? -1 : 1;
	return 0;
}

size_t registry_audit_lower_bound(const struct registry_audit *a, uint64_t block, uint32_t log_index)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(a->v[mid]->ev.block, a->v[mid]->ev.log_index, block, log_index) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t str_size(const char *s, size_t len)
{
	return s ? len + 1 : 1;
}

/* Copy ev into one allocation; strings are checked against their caps. */
static err_t entry_new(const struct registry_event *ev, struct entry **out)
{
	size_t need = str_size(ev->name, ev->name ? strlen(ev->name) : 0), nlen;
	struct entry *e;
	char *p;

	*out = NULL;
	if (!ev->name || (nlen = strlen(ev->name)) == 0 || nlen > REGISTRY_EVENT_MAX_NAME ||
	    ev->nfields > REGISTRY_EVENT_MAX_FIELDS || ev->kind < REGISTRY_EV_OTHER || ev->kind > REGISTRY_EV_KIND_MAX)
		return ERR_INVALID_ARG;
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct registry_event_field *f = &ev->fields[i];

		if (!f->name || !f->type || !f->value || strlen(f->name) > REGISTRY_EVENT_MAX_NAME ||
		    strlen(f->type) > REGISTRY_EVENT_MAX_TYPE || f->value_len > REGISTRY_EVENT_MAX_VALUE)
			return ERR_INVALID_ARG;
		need += strlen(f->name) + 1 + strlen(f->type) + 1 + f->value_len + 1;
	}
	if (!(e = malloc(sizeof(*e) + need)))
		return ERR_NOMEM;
	e->ev = *ev;
	e->end = 0;
	p = e->data;
	memcpy(p, ev->name, nlen + 1);
	e->ev.name = p;
	p += nlen + 1;
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct registry_event_field *f = &ev->fields[i];
		size_t l1 = strlen(f->name), l2 = strlen(f->type);

		memcpy(p, f->name, l1 + 1);
		e->ev.fields[i].name = p;
		p += l1 + 1;
		memcpy(p, f->type, l2 + 1);
		e->ev.fields[i].type = p;
		p += l2 + 1;
		memcpy(p, f->value, f->value_len);
		p[f->value_len] = 0;
		e->ev.fields[i].value = p;
		p += f->value_len + 1;
	}
	*out = e;
	return ERR_OK;
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n)
{
	char hex[2 * REGISTRY_HASH_LEN + 1];

	hex_encode(hex, p, n);
	buf_printf(w, "\"0x%s\"", hex);
}

void registry_event_to_json(const struct registry_event *ev, struct buf_writer *w)
{
	buf_printf(w, "{\"kind\":%d,\"name\":", ev->kind);
	json_put_string(w, ev->name, strlen(ev->name));
	buf_printf(w, ",\"source\":%d", (int)ev->source);
	if (ev->has_contract) {
		buf_put_str(w, ",\"contract\":");
		put_hex(w, ev->contract, REGISTRY_ADDR_LEN);
	}
	if (ev->has_app) {
		buf_put_str(w, ",\"app\":");
		put_hex(w, ev->app_id, REGISTRY_ADDR_LEN);
	}
	buf_printf(w, ",\"block\":%llu,\"blockHash\":", (unsigned long long)ev->block);
	put_hex(w, ev->block_hash, REGISTRY_HASH_LEN);
	buf_put_str(w, ",\"tx\":");
	put_hex(w, ev->tx_hash, REGISTRY_HASH_LEN);
	buf_printf(w, ",\"logIndex\":%u,\"time\":%llu,\"fields\":[", ev->log_index, (unsigned long long)ev->time);
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct registry_event_field *f = &ev->fields[i];

		buf_put_str(w, i ? ",{\"name\":" : "{\"name\":");
		json_put_string(w, f->name, strlen(f->name));
		buf_put_str(w, ",\"type\":");
		json_put_string(w, f->type, strlen(f->type));
		buf_put_str(w, ",\"value\":");
		json_put_string(w, f->value, f->value_len);
		buf_printf(w, ",\"indexed\":%s}", f->indexed ? "true" : "false");
	}
	buf_put_str(w, "]}");
}

static err_t write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ERR_IO_FILE;
		p += r;
		n -= (size_t)r;
	}
	return ERR_OK;
}

static err_t push(struct registry_audit *a, struct entry *e)
{
	if (a->max && a->n == a->max) {
		free(a->v[0]);
		memmove(a->v, a->v + 1, (a->n - 1) * sizeof(*a->v));
		a->n--;
	}
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		struct entry **nv = realloc(a->v, ncap * sizeof(*nv));

		if (!nv)
			return ERR_NOMEM;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = e;
	return ERR_OK;
}

err_t registry_audit_append(struct registry_audit *a, const struct registry_event *ev)
{
	struct entry *e = NULL;
	struct buf_writer w;
	err_t err;

	if (a->n && key_cmp(ev->block, ev->log_index, a->v[a->n - 1]->ev.block, a->v[a->n - 1]->ev.log_index) <= 0)
		return ERR_INVALID_ARG;
	if ((err = entry_new(ev, &e)) != ERR_OK)
		return err;
	if (a->fd >= 0) {
		off_t end;

		buf_writer_init(&w, 4 * REGISTRY_EVENT_MAX_VALUE + (1u << 20));
		registry_event_to_json(&e->ev, &w);
		buf_put_u8(&w, '\n');
		end = a->n ? a->v[a->n - 1]->end : 0;
		if ((err = buf_writer_status(&w)) == ERR_OK && lseek(a->fd, end, SEEK_SET) != end)
			err = ERR_IO_FILE;
		if (err == ERR_OK)
			err = write_all(a->fd, w.p, w.len);
		e->end = end + (off_t)w.len;
		buf_writer_free(&w);
		if (err != ERR_OK) {
			/* Cut anything partial so the file stays a prefix of the log. */
			if (ftruncate(a->fd, end) != 0) {
				/* a torn line is cut again at the next open */
			}
			free(e);
			return err;
		}
	}
	if ((err = push(a, e)) != ERR_OK) {
		free(e);
		return err;
	}
	return ERR_OK;
}

/* Write every event to a new file next to the old one and rename it over; recompute the offsets. */
static err_t rewrite_file(struct registry_audit *a, struct entry **v, size_t n, off_t *ends)
{
	char tmp[4096];
	struct buf_writer w;
	off_t off = 0;
	int fd;
	err_t err = ERR_OK;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", a->path) >= sizeof(tmp))
		return ERR_IO_FILE;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_IO_FILE;
	buf_writer_init(&w, 4 * REGISTRY_EVENT_MAX_VALUE + (1u << 20));
	for (size_t i = 0; i < n && err == ERR_OK; i++) {
		buf_writer_clear(&w);
		registry_event_to_json(&v[i]->ev, &w);
		buf_put_u8(&w, '\n');
		if ((err = buf_writer_status(&w)) == ERR_OK && (err = write_all(fd, w.p, w.len)) == ERR_OK) {
			off += (off_t)w.len;
			ends[i] = off;
		}
	}
	buf_writer_free(&w);
	if (err == ERR_OK && fsync(fd) != 0)
		err = ERR_IO_FILE;
	if (err == ERR_OK && rename(tmp, a->path) != 0)
		err = ERR_IO_FILE;
	if (err != ERR_OK) {
		close(fd);
		unlink(tmp);
		return err;
	}
	close(a->fd);
	/* The renamed file is the log now; reopen it read-write for later appends. */
	close(fd);
	a->fd = open(a->path, O_RDWR | O_CLOEXEC);
	return a->fd >= 0 ? ERR_OK : ERR_IO_FILE;
}

err_t registry_audit_merge(struct registry_audit *a, const struct registry_event *evs, size_t n)
{
	struct entry **nv = NULL, **add = NULL;
	size_t i = 0, j = 0, k = 0, added = 0;
	err_t err = ERR_OK;

	if (n == 0)
		return ERR_OK;
	for (size_t x = 1; x < n; x++)
		if (key_cmp(evs[x - 1].block, evs[x - 1].log_index, evs[x].block, evs[x].log_index) >= 0)
			return ERR_INVALID_ARG;
	if (!a->n || key_cmp(evs[0].block, evs[0].log_index, a->v[a->n - 1]->ev.block, a->v[a->n - 1]->ev.log_index) > 0) {
		for (size_t x = 0; x < n; x++) {
			if ((err = registry_audit_append(a, &evs[x])) != ERR_OK) {
				err_t e2 = registry_audit_truncate(a, a->n - x);

				return e2 != ERR_OK ? e2 : err;
			}
		}
		return ERR_OK;
	}
	if (a->max)
		return ERR_INVALID_ARG;  /* a bounded (memory-only) log takes appends only */
	nv = malloc((a->n + n) * sizeof(*nv));
	add = calloc(n, sizeof(*add));
	if (!nv || !add) {
		err = ERR_NOMEM;
		goto out;
	}
	for (added = 0; added < n; added++)
		if ((err = entry_new(&evs[added], &add[added])) != ERR_OK)
			goto out;
	while (i < a->n || j < n) {
		int c = i == a->n ? 1 : j == n ? -1 : key_cmp(a->v[i]->ev.block, a->v[i]->ev.log_index, add[j]->ev.block,
							     add[j]->ev.log_index);

		if (c == 0) {
			err = ERR_EXISTS;
			goto out;
		}
		nv[k++] = c < 0 ? a->v[i++] : add[j++];
	}
	if (a->fd >= 0) {
		off_t *ends = malloc(k * sizeof(*ends));

		if (!ends) {
			err = ERR_NOMEM;
			goto out;
		}
		if ((err = rewrite_file(a, nv, k, ends)) != ERR_OK) {
			free(ends);
			goto out;
		}
		for (size_t x = 0; x < k; x++)
			nv[x]->end = ends[x];
		free(ends);
	}
	free(a->v);
	a->v = nv;
	a->n = a->cap = k;
	nv = NULL;
	added = 0;  /* owned by the log now */
out:
	for (size_t x = 0; x < added; x++)
		free(add[x]);
	free(add);
	free(nv);
	return err;
}

err_t registry_audit_sync(struct registry_audit *a)
{
	if (a->fd < 0)
		return ERR_OK;
	return fdatasync(a->fd) == 0 ? ERR_OK : ERR_IO_FILE;
}

err_t registry_audit_truncate(struct registry_audit *a, size_t n)
{
	if (n >= a->n)
		return ERR_OK;
	if (a->fd >= 0 && ftruncate(a->fd, n ? a->v[n - 1]->end : 0) != 0)
		return ERR_IO_FILE;
	for (size_t i = n; i < a->n; i++)
		free(a->v[i]);
	a->n = n;
	return ERR_OK;
}

/* --- loading the file --- */

static err_t get_hex_opt(const struct json_value *o, const char *key, uint8_t *out, size_t len, int *has)
{
	err_t err = json_get_hex(o, key, out, len, len, NULL);

	*has = err == ERR_OK;
	return err == ERR_NOT_FOUND ? ERR_OK : err;
}

static err_t parse_line(const char *line, size_t len, struct entry **out)
{
	struct json_limits lim = { 8, 2 * REGISTRY_EVENT_MAX_VALUE * REGISTRY_EVENT_MAX_FIELDS };
	struct registry_event ev;
	struct json_value *root = NULL;
	const struct json_value *fields;
	uint64_t u;
	struct arena mem;
	int has;
	err_t err;

	memset(&ev, 0, sizeof(ev));
	arena_init(&mem, 16 * len + (1u << 16), 1u << 16);
	if ((err = json_parse(line, len, &lim, &mem, &root, NULL)) != ERR_OK)
		goto out;
	err = ERR_PROTO_FIELD_TYPE;
	if (json_get_u64(root, "kind", &u) != ERR_OK || u > REGISTRY_EV_KIND_MAX)
		goto out;
	ev.kind = (int)u;
	if (json_get_str(root, "name", &ev.name, NULL) != ERR_OK)
		goto out;
	if (json_get_u64(root, "source", &u) != ERR_OK || (u != REGISTRY_SOURCE_CHAIN && u != REGISTRY_SOURCE_FILE))
		goto out;
	ev.source = (enum registry_source)u;
	if (get_hex_opt(root, "contract", ev.contract, REGISTRY_ADDR_LEN, &has) != ERR_OK)
		goto out;
	ev.has_contract = has;
	if (get_hex_opt(root, "app", ev.app_id, REGISTRY_ADDR_LEN, &has) != ERR_OK)
		goto out;
	ev.has_app = has;
	if (json_get_u64(root, "block", &ev.block) != ERR_OK || json_get_u64(root, "time", &ev.time) != ERR_OK ||
	    json_get_hex(root, "blockHash", ev.block_hash, 32, 32, NULL) != ERR_OK ||
	    json_get_hex(root, "tx", ev.tx_hash, 32, 32, NULL) != ERR_OK ||
	    json_get_u64(root, "logIndex", &u) != ERR_OK || u > UINT32_MAX)
		goto out;
	ev.log_index = (uint32_t)u;
	fields = json_get(root, "fields");
	if (!fields || fields->type != JSON_ARRAY || fields->u.arr.n > REGISTRY_EVENT_MAX_FIELDS)
		goto out;
	ev.nfields = fields->u.arr.n;
	for (size_t i = 0; i < ev.nfields; i++) {
		const struct json_value *f = &fields->u.arr.items[i];
		int idx;

		if (json_get_str(f, "name", &ev.fields[i].name, NULL) != ERR_OK ||
		    json_get_str(f, "type", &ev.fields[i].type, NULL) != ERR_OK ||
		    json_get_str(f, "value", &ev.fields[i].value, &ev.fields[i].value_len) != ERR_OK ||
		    json_get_bool(f, "indexed", &idx) != ERR_OK)
			goto out;
		ev.fields[i].indexed = idx;
	}
	err = entry_new(&ev, out);
out:
	arena_fini(&mem);
	return err;
}

err_t registry_audit_load(struct registry_audit *a, const char *name, const char *text, size_t len, size_t *used,
			  char *detail, size_t cap)
{
	size_t off = 0, lineno = 0;
	err_t err = ERR_OK;

	*used = 0;
	if (a->n)
		return ERR_INVALID_ARG;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n;
		struct entry *e = NULL;

		if (!nl)
			break;  /* torn last line: not loaded, the caller cuts it */
		n = (size_t)(nl - (text + off));
		lineno++;
		if ((err = parse_line(text + off, n, &e)) != ERR_OK) {
			snprintf(detail, cap, "%s:%zu: not an audit record (%s)", name, lineno, err_str(err));
			break;
		}
		if (a->n && key_cmp(e->ev.block, e->ev.log_index, a->v[a->n - 1]->ev.block,
				    a->v[a->n - 1]->ev.log_index) <= 0) {
			free(e);
			err = ERR_PROTO_MALFORMED;
			snprintf(detail, cap, "%s:%zu: event out of (block, logIndex) order", name, lineno);
			break;
		}
		off += n + 1;
		e->end = (off_t)off;
		if ((err = push(a, e)) != ERR_OK) {
			free(e);
			snprintf(detail, cap, "%s: out of memory", name);
			break;
		}
	}
	if (err != ERR_OK) {
		for (size_t i = 0; i < a->n; i++)
			free(a->v[i]);
		a->n = 0;
		return err;
	}
	*used = off;
	return ERR_OK;
}

err_t registry_audit_open(struct registry_audit *a, const char *path, char *detail, size_t cap)
{
	struct stat st;
	void *map = MAP_FAILED;
	size_t used = 0;
	int fd;
	err_t err = ERR_OK;

	if (a->n || a->fd >= 0)
		return ERR_INVALID_ARG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(detail, cap, "%s: %s", path, strerror(errno));
		return ERR_IO_FILE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > SIZE_MAX) {
		snprintf(detail, cap, "%s: not a regular file", path);
		close(fd);
		return ERR_IO_FILE;
	}
	/* Only this process writes the file, so it cannot shrink under the mapping. */
	if (st.st_size > 0 &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		snprintf(detail, cap, "%s: %s", path, strerror(errno));
		close(fd);
		return ERR_IO_FILE;
	}
	err = registry_audit_load(a, path, map == MAP_FAILED ? "" : map, (size_t)st.st_size, &used, detail, cap);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (err == ERR_OK && used != (size_t)st.st_size && ftruncate(fd, (off_t)used) != 0) {
		snprintf(detail, cap, "%s: cannot cut a torn last line: %s", path, strerror(errno));
		err = ERR_IO_FILE;
	}
	if (err != ERR_OK) {
		close(fd);
		for (size_t i = 0; i < a->n; i++)
			free(a->v[i]);
		a->n = 0;
		return err;
	}
	a->fd = fd;
	a->path = path;
	return ERR_OK;
}
