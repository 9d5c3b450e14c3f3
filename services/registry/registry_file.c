/* SPDX-License-Identifier: Apache-2.0 */
/* auth-simple JSON policy: strict parse into a policy builder, load with SHA-256, mtime/size/inode polling reloader. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "crypto.h"
#include "enc.h"
#include "json.h"
#include "log.h"
#include "registry_file.h"

/* ---------------------------------------------------------------------------------------------- */
/* Parsing                                                                                        */

struct pctx {
	struct registry_state *st;
	char *detail;
	size_t cap;
};

static err_t PRINTF_LIKE(3, 4) fail(struct pctx *c, err_t e, const char *fmt, ...)
{
	va_list ap;

	if (c->detail && c->cap) {
		va_start(ap, fmt);
		vsnprintf(c->detail, c->cap, fmt, ap);
		va_end(ap);
	}
	return e;
}

/* A hex string of exactly `want` bytes (0x optional, either case). */
static int hex_exact(const struct json_value *v, uint8_t *out, size_t want)
{
	size_t n = 0;

	if (v->type != JSON_STRING)
		return 0;
	return hex_decode(out, want, &n, v->u.str.s, v->u.str.len, 1) == ERR_OK && n == want;
}

static const char *type_name(const struct json_value *v)
{
	static const char *const names[] = { "null", "false", "true", "number", "string", "array", "object" };

	return names[v->type];
}

typedef err_t (*hex_add_fn)(struct pctx *c, void *target, const uint8_t *key);

/* `key` in object `obj` must be an array of 32-byte hex strings; each is handed to add(). Absent = empty. */
static err_t hex32_list(struct pctx *c, const char *path, const struct json_value *obj, const char *key,
			hex_add_fn add, void *target)
{
	const struct json_value *v = json_get(obj, key);
	uint8_t h[REGISTRY_HASH_LEN];
	err_t err;

	if (!v)
		return ERR_OK;
	if (v->type != JSON_ARRAY)
		return fail(c, ERR_PROTO_FIELD_TYPE, "%s%s: want an array, got %s", path, key, type_name(v));
	for (size_t i = 0; i < v->u.arr.n; i++) {
		if (!hex_exact(&v->u.arr.items[i], h, sizeof(h)))
			return fail(c, ERR_PROTO_FIELD_TYPE, "%s%s[%zu]: not 32-byte hex", path, key, i);
		if ((err = add(c, target, h)) != ERR_OK)
			return fail(c, err, "%s%s[%zu]: %s", path, key, i, err_str(err));
	}
	return ERR_OK;
}

typedef err_t (*str_add_fn)(struct registry_state *st, const char *s, size_t len);

static err_t str_list(struct pctx *c, const struct json_value *root, const char *key, str_add_fn add,
		      const char *dflt)
{
	const struct json_value *v = json_get(root, key);
	err_t err;

	if (!v)
		return dflt ? add(c->st, dflt, strlen(dflt)) : ERR_OK;
	if (v->type != JSON_ARRAY)
		return fail(c, ERR_PROTO_FIELD_TYPE, "%s: want an array, got %s", key, type_name(v));
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct json_value *it = &v->u.arr.items[i];

		if (it->type != JSON_STRING)
			return fail(c, ERR_PROTO_FIELD_TYPE, "%s[%zu]: want a string, got %s", key, i, type_name(it));
		if (memchr(it->u.str.s, 0, it->u.str.len))
			return fail(c, ERR_PROTO_FIELD_TYPE, "%s[%zu]: contains NUL", key, i);
		if ((err = add(c->st, it->u.str.s, it->u.str.len)) != ERR_OK)
			return fail(c, err, "%s[%zu]: %s", key, i, err_str(err));
	}
	return ERR_OK;
}

/* Keys of `obj` must all be in `allowed` (NULL-terminated). */
static err_t only_keys(struct pctx *c, const char *path, const struct json_value *obj, const char *const *allowed)
{
	for (size_t i = 0; i < obj->u.obj.n; i++) {
		const char *k = obj->u.obj.members[i].key;
		size_t j;

		for (j = 0; allowed[j] && strcmp(allowed[j], k) != 0; j++)
			;
		if (!allowed[j] || strlen(k) != obj->u.obj.members[i].key_len)
			return fail(c, ERR_PROTO_UNKNOWN_FIELD, "%s%.64s: unknown key", path, k);
	}
	return ERR_OK;
}

static err_t get_bool(struct pctx *c, const char *path, const struct json_value *obj, const char *key, int *out)
{
	const struct json_value *v = json_get(obj, key);

	*out = 0;
	if (!v)
		return ERR_OK;
	if (v->type != JSON_TRUE && v->type != JSON_FALSE)
		return fail(c, ERR_PROTO_FIELD_TYPE, "%s%s: want a boolean, got %s", path, key, type_name(v));
	*out = v->type == JSON_TRUE;
	return ERR_OK;
}

static err_t add_set(struct pctx *c, void *target, const uint8_t *key)
{
	return registry_state_set_add(c->st, (enum registry_set)(uintptr_t)target, key);
}

static err_t add_app_hash(struct pctx *c, void *target, const uint8_t *key)
{
	(void)c;
	return registry_app_add_compose_hash(target, key, 0, 0);
}

static err_t add_app_device(struct pctx *c, void *target, const uint8_t *key)
{
	(void)c;
	return registry_app_add_device(target, key, 0);
}

static err_t parse_kms(struct pctx *c, const struct json_value *kms)
{
	static const char *const keys[] = { "mrAggregated", "devices", "allowAnyDevice", NULL };
	int any;
	err_t err;

	if (kms->type != JSON_OBJECT)
		return fail(c, ERR_PROTO_FIELD_TYPE, "kms: want an object, got %s", type_name(kms));
	if ((err = only_keys(c, "kms.", kms, keys)) != ERR_OK ||
	    (err = hex32_list(c, "kms.", kms, "mrAggregated", add_set, (void *)(uintptr_t)REGISTRY_SET_KMS_MRS)) ||
	    (err = hex32_list(c, "kms.", kms, "devices", add_set, (void *)(uintptr_t)REGISTRY_SET_KMS_DEVICES)) ||
	    (err = get_bool(c, "kms.", kms, "allowAnyDevice", &any)))
		return err;
	registry_state_set_kms_allow_any_device(c->st, any);
	return ERR_OK;
}

static err_t parse_apps(struct pctx *c, const struct json_value *apps)
{
	static const char *const keys[] = { "composeHashes", "devices", "allowAnyDevice", NULL };
	err_t err;

	if (apps->type != JSON_OBJECT)
		return fail(c, ERR_PROTO_FIELD_TYPE, "apps: want an object, got %s", type_name(apps));
	for (size_t i = 0; i < apps->u.obj.n; i++) {
		const struct json_member *m = &apps->u.obj.members[i];
		uint8_t id[REGISTRY_ADDR_LEN];
		char path[96];
		size_t n = 0;
		struct registry_app_state *a;
		int any;

		snprintf(path, sizeof(path), "apps.%.48s: ", m->key);
		if (hex_decode(id, sizeof(id), &n, m->key, m->key_len, 1) != ERR_OK || n != sizeof(id))
			return fail(c, ERR_PROTO_FIELD_TYPE, "%sapp id is not 20-byte hex", path);
		if (m->value.type != JSON_OBJECT)
			return fail(c, ERR_PROTO_FIELD_TYPE, "%swant an object, got %s", path, type_name(&m->value));
		if (registry_state_app_find(c->st, id))
			return fail(c, ERR_EXISTS, "%sapp id listed twice (ids compare as lowercase hex)", path);
		if ((err = registry_state_app(c->st, id, &a)) != ERR_OK)
			return fail(c, err, "%s%s", path, err_str(err));
		registry_app_set_registered(a, 0);
		if ((err = only_keys(c, path, &m->value, keys)) != ERR_OK ||
		    (err = hex32_list(c, path, &m->value, "composeHashes", add_app_hash, a)) != ERR_OK ||
		    (err = hex32_list(c, path, &m->value, "devices", add_app_device, a)) != ERR_OK ||
		    (err = get_bool(c, path, &m->value, "allowAnyDevice", &any)) != ERR_OK)
			return err;
		if (any)
			registry_app_set_flags(a, REGISTRY_APP_ANY_DEVICE, 0, 0);
	}
	return ERR_OK;
}

static err_t parse_root(struct pctx *c, const struct json_value *root)
{
	static const char *const keys[] = { "gatewayAppId", "kmsContractAddr", "chainId", "appImplementation",
					    "osImages", "allowedTcbStatuses", "allowedAdvisoryIds", "kms", "apps", NULL };
	uint8_t kms[REGISTRY_ADDR_LEN], impl[REGISTRY_ADDR_LEN];
	const struct json_value *v;
	uint64_t chain_id = 0;
	err_t err;

	memset(kms, 0, sizeof(kms));
	memset(impl, 0, sizeof(impl));
	if (root->type != JSON_OBJECT)
		return fail(c, ERR_PROTO_FIELD_TYPE, "top level: want an object, got %s", type_name(root));
	if ((err = only_keys(c, "", root, keys)) != ERR_OK)
		return err;
	if ((v = json_get(root, "gatewayAppId")) != NULL) {
		if (v->type != JSON_STRING)
			return fail(c, ERR_PROTO_FIELD_TYPE, "gatewayAppId: want a string, got %s", type_name(v));
		if ((err = registry_state_set_gateway_app_id(c->st, v->u.str.s, v->u.str.len)) != ERR_OK)
			return fail(c, err, "gatewayAppId: %s", err_str(err));
	}
	if ((v = json_get(root, "kmsContractAddr")) != NULL && !hex_exact(v, kms, sizeof(kms)))
		return fail(c, ERR_PROTO_FIELD_TYPE, "kmsContractAddr: not 20-byte hex");
	if ((v = json_get(root, "appImplementation")) != NULL && !hex_exact(v, impl, sizeof(impl)))
		return fail(c, ERR_PROTO_FIELD_TYPE, "appImplementation: not 20-byte hex");
	if ((v = json_get(root, "chainId")) != NULL && json_to_u64(v, &chain_id) != ERR_OK)
		return fail(c, ERR_PROTO_FIELD_TYPE, "chainId: want a non-negative integer");
	registry_state_set_chain(c->st, chain_id, kms, impl);
	if ((err = hex32_list(c, "", root, "osImages", add_set, (void *)(uintptr_t)REGISTRY_SET_OS_IMAGES)) != ERR_OK)
		return err;
	if ((err = str_list(c, root, "allowedTcbStatuses", registry_state_add_tcb_status, "UpToDate")) != ERR_OK ||
	    (err = str_list(c, root, "allowedAdvisoryIds", registry_state_add_advisory, NULL)) != ERR_OK)
		return err;
	if ((v = json_get(root, "kms")) != NULL && (err = parse_kms(c, v)) != ERR_OK)
		return err;
	if ((v = json_get(root, "apps")) != NULL && (err = parse_apps(c, v)) != ERR_OK)
		return err;
	return ERR_OK;
}

err_t registry_file_parse(const char *text, size_t len, struct registry_state **out, char *detail, size_t cap)
{
	struct pctx c = { NULL, detail, cap };
	struct json_limits lim = { 16, REGISTRY_FILE_MAX_SIZE };
	struct json_value *root = NULL;
	struct arena a;
	size_t off = 0;
	err_t err;

	*out = NULL;
	if (detail && cap)
		detail[0] = 0;
	if (len > REGISTRY_FILE_MAX_SIZE)
		return fail(&c, ERR_PROTO_TOO_LARGE, "file larger than %u bytes", REGISTRY_FILE_MAX_SIZE);
	/* The tree costs a small multiple of the text; the cap keeps a hostile file from taking more. */
	arena_init(&a, 32 * len + (1u << 20), 1u << 16);
	if ((err = json_parse(text, len, &lim, &a, &root, &off)) != ERR_OK) {
		err = fail(&c, err, "not valid JSON at byte %zu (%s)", off, err_str(err));
		goto out;
	}
	if (!(c.st = registry_state_new(REGISTRY_SOURCE_FILE))) {
		err = fail(&c, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((err = parse_root(&c, root)) != ERR_OK)
		goto out;
	*out = c.st;
	c.st = NULL;
out:
	registry_state_free(c.st);
	arena_fini(&a);
	return err;
}

/* Read a whole regular file (at most max bytes) into a malloc'd buffer. */
static err_t slurp(const char *path, size_t max, char **out, size_t *len, struct stat *st_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	err_t err = ERR_IO_FILE;

	*out = NULL;
	if (fd < 0)
		return ERR_IO_FILE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((uint64_t)st.st_size > max) {
		err = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		err = ERR_NOMEM;
		goto out;
	}
	/* Read to EOF (the file may be growing); more than max is too large. */
	for (;;) {
		ssize_t r;

		if (n == (size_t)st.st_size + 1 || n > max) {
			err = ERR_PROTO_TOO_LARGE;
			goto out;
		}
		r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (st_out)
		*st_out = st;
	*out = buf;
	*len = n;
	buf = NULL;
	err = ERR_OK;
out:
	{
		int saved = errno;

		free(buf);
		close(fd);
		errno = saved;
	}
	return err;
}

/* Parse text whose SHA-256 is `sha` into a snapshot stamped with it and `now`. */
static err_t load_text(const char *text, size_t len, const uint8_t sha[32], uint64_t now,
		       struct registry_snapshot **out, char *detail, size_t cap)
{
	struct registry_snapshot_meta meta;
	struct registry_state *st = NULL;
	err_t err;

	memset(&meta, 0, sizeof(meta));
	memcpy(meta.policy_sha256, sha, 32);
	meta.loaded_at = now;
	if ((err = registry_file_parse(text, len, &st, detail, cap)) != ERR_OK)
		return err;
	if ((err = registry_state_freeze(st, &meta, out)) != ERR_OK && detail && cap)
		snprintf(detail, cap, "out of memory");
	registry_state_free(st);
	return err;
}

static err_t read_file(const char *path, char **text, size_t *len, char *detail, size_t cap)
{
	err_t err;

	errno = 0;
	if ((err = slurp(path, REGISTRY_FILE_MAX_SIZE, text, len, NULL)) != ERR_OK && detail && cap)
		snprintf(detail, cap, "%s: cannot read: %s%s%s", path, err_str(err), errno ? ": " : "",
			 errno ? strerror(errno) : "");
	return err;
}

err_t registry_file_load(const char *path, uint64_t now, struct registry_snapshot **out, char *detail, size_t cap)
{
	uint8_t sha[32];
	char *text = NULL;
	size_t len = 0;
	err_t err;

	*out = NULL;
	if ((err = read_file(path, &text, &len, detail, cap)) != ERR_OK)
		return err;
	sha256(text, len, sha);
	err = load_text(text, len, sha, now, out, detail, cap);
	free(text);
	return err;
}

/* ---------------------------------------------------------------------------------------------- */
/* The reloader                                                                                   */

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int ok;        /* stat succeeded */
};

struct registry_file {
	struct event_base *base;
	const char *path;
	uint32_t poll_ms;
	registry_file_cb on_load;
	void *arg;
	struct event *timer;
	struct file_id seen;            /* the last version tried (good or bad): not retried until it changes */
	uint8_t failed_sha[32];         /* content of the last rejected version */
	int has_failed_sha;
	int have_seen;                  /* `seen` is settled: an equal stat means nothing to do */
	struct registry_file_status status;
	struct metric *m_ok, *m_err, *m_loaded_at;
};

static void file_stat(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) != 0)
		return;
	id->ok = 1;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

static int same_id(const struct file_id *a, const struct file_id *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct registry_file *registry_file_new(struct event_base *base, struct metrics *m, const char *path,
					uint32_t poll_ms, registry_file_cb on_load, void *arg)
{
	struct registry_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->base = base;
	f->path = path;
	f->poll_ms = poll_ms ? poll_ms : 1000;
	f->on_load = on_load;
	f->arg = arg;
	if (m) {
		f->m_ok = metrics_series(m, METRIC_COUNTER, "registry_policy_reloads_total",
					 "Policy file loads by result", "result=\"ok\"");
		f->m_err = metrics_series(m, METRIC_COUNTER, "registry_policy_reloads_total",
					  "Policy file loads by result", "result=\"error\"");
		f->m_loaded_at = metrics_series(m, METRIC_GAUGE, "registry_policy_loaded_at_seconds",
						"Unix time the policy file in force was loaded", NULL);
	}
	return f;
}

/* Remember what was tried: a version is not retried until its stat changes (see the racy note). */
static void mark_seen(struct registry_file *f, const struct file_id *id, uint64_t now)
{
	struct file_id after;

	/*
	 * Mark this version seen unless a writer may still be busy: the stat
	 * changed while we read, or the mtime is so recent that a same-size
	 * rewrite within the file system's timestamp granularity would look
	 * unchanged (git's "racy" case). Such versions are read again next
	 * poll; content already tried (same SHA-256) is neither republished
	 * nor reported twice.
	 */
	file_stat(f->path, &after);
	f->seen = *id;
	f->have_seen = same_id(id, &after) && (uint64_t)id->mtime.tv_sec + 2 < now;
}

static err_t load_failed(struct registry_file *f, err_t err, const char *detail, uint64_t now)
{
	f->status.errors++;
	f->status.last_error = err;
	f->status.last_error_at = now;
	snprintf(f->status.last_error_detail, sizeof(f->status.last_error_detail), "%s", detail);
	metric_add(f->m_err, 1);
	log_error(NULL, "policy file %s rejected (%s): %s; keeping the previous policy", f->path, err_name(err), detail);
	return err;
}

/* Try to load the current version of the file; `id` is its stat before reading. */
static err_t try_load(struct registry_file *f, const struct file_id *id)
{
	struct registry_snapshot *snap = NULL;
	char detail[REGISTRY_FILE_DETAIL];
	uint64_t now = wall_s();
	uint8_t sha[32];
	char *text = NULL;
	size_t len = 0;
	err_t err;

	err = read_file(f->path, &text, &len, detail, sizeof(detail));
	mark_seen(f, id, now);
	if (err != ERR_OK) {
		f->has_failed_sha = 0;
		return load_failed(f, err, detail, now);
	}
	sha256(text, len, sha);
	if (f->status.loaded_at && memcmp(f->status.sha256, sha, 32) == 0) {
		free(text);  /* touched or rewritten with the same bytes */
		f->status.last_error = ERR_OK;
		return ERR_OK;
	}
	if (f->has_failed_sha && memcmp(f->failed_sha, sha, 32) == 0) {
		free(text);  /* the bad version already reported */
		return f->status.last_error;
	}
	err = load_text(text, len, sha, now, &snap, detail, sizeof(detail));
	free(text);
	if (err != ERR_OK) {
		memcpy(f->failed_sha, sha, 32);
		f->has_failed_sha = 1;
		return load_failed(f, err, detail, now);
	}
	f->has_failed_sha = 0;
	f->status.last_error = ERR_OK;
	f->status.loads++;
	f->status.loaded_at = now;
	memcpy(f->status.sha256, sha, 32);
	metric_add(f->m_ok, 1);
	metric_set(f->m_loaded_at, (int64_t)now);
	log_info(NULL, "policy file %s loaded: %zu apps, %zu compose hashes, %zu OS images", f->path, snap->napps,
		 snap->nhashes, snap->n_os_images);
	f->on_load(f->arg, snap);
	return ERR_OK;
}

err_t registry_file_poll(struct registry_file *f)
{
	struct file_id id;

	file_stat(f->path, &id);
	if (!id.ok) {
		/* Gone (or being replaced): keep the policy in force, say so once. */
		if (f->seen.ok)
			log_error(NULL, "policy file %s: cannot stat: %s; keeping the previous policy", f->path,
				  strerror(errno));
		f->seen = id;
		f->have_seen = 0;
		return ERR_IO_FILE;
	}
	if (f->have_seen && same_id(&id, &f->seen))
		return ERR_OK;
	return try_load(f, &id);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct registry_file *f = arg;
	struct timeval tv = { (time_t)(f->poll_ms / 1000), (suseconds_t)((f->poll_ms % 1000) * 1000) };

	(void)fd;
	(void)what;
	if (registry_file_poll(f) != ERR_OK) {
		/* Logged, counted and kept in status by the poll; the previous policy stays in force. */
	}
	evtimer_add(f->timer, &tv);
}

err_t registry_file_start(struct registry_file *f, char *detail, size_t cap)
{
	struct timeval tv = { (time_t)(f->poll_ms / 1000), (suseconds_t)((f->poll_ms % 1000) * 1000) };
	struct file_id id;
	err_t err;

	file_stat(f->path, &id);
	if ((err = try_load(f, &id)) != ERR_OK) {
		snprintf(detail, cap, "%s", f->status.last_error_detail);
		return err;
	}
	if (!(f->timer = evtimer_new(f->base, on_tick, f)) || evtimer_add(f->timer, &tv) != 0) {
		snprintf(detail, cap, "cannot start the policy file timer");
		return ERR_NOMEM;
	}
	return ERR_OK;
}

const struct registry_file_status *registry_file_status(const struct registry_file *f)
{
	return &f->status;
}

void registry_file_free(struct registry_file *f)
{
	if (!f)
		return;
	if (f->timer)
		event_free(f->timer);
	free(f);
}
