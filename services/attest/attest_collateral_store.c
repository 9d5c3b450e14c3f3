/* SPDX-License-Identifier: Apache-2.0 */
/* Collateral on disk: the cache directory (one JSON file per key, written atomically) and the offline directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "attest_collateral.h"
#include "enc.h"
#include "json.h"
#include "log.h"

#define CACHE_FORMAT "dstack-attest-collateral/1"
#define MAX_FILE ((size_t)8 << 20)
#define MAX_ARTEFACT ((size_t)4 << 20)
#define MAX_CHAIN ((size_t)64 << 10)
#define MAX_DIR_FILES 65536u
#define LOG_PFX "collateral"

/* ---- small file helpers ---- */

/* Read a regular file (not following a final symlink) of at most `max` bytes; *out is malloc'd, NUL-terminated. */
static err_t read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t off = 0;
	int fd;
	err_t e = ERR_IO_FILE;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO_FILE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((uint64_t)st.st_size > max) {
		e = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		e = ERR_NOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, p + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	p[off] = 0;
	*out = p;
	*len = off;
	p = NULL;
	e = ERR_OK;
out:
	free(p);
	close(fd);
	return e;
}

static char *path_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p = malloc(na + nb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, na);
	p[na] = '/';
	memcpy(p + na + 1, b, nb + 1);
	return p;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- cache files ---- */

err_t attest_coll_cache_file_name(const struct attest_coll_key *k, char *out, size_t cap)
{
	char key[ATTEST_COLL_KEY_MAX];
	err_t e = attest_coll_key_format(k, key, sizeof(key));

	if (e != ERR_OK)
		return e;
	for (char *p = key; *p; p++)
		if (*p == '/')
			*p = '.';
	if ((size_t)snprintf(out, cap, "%s.json", key) >= cap)
		return ERR_PROTO_TOO_LARGE;
	return ERR_OK;
}

err_t attest_coll_cache_encode(const struct attest_coll_blob *b, struct buf_writer *out)
{
	char key[ATTEST_COLL_KEY_MAX];
	size_t n;
	char *b64;
	err_t e = attest_coll_key_format(&b->key, key, sizeof(key));

	if (e != ERR_OK)
		return e;
	buf_put_str(out, "{\"format\":\"" CACHE_FORMAT "\",\"key\":");
	json_put_string(out, key, strlen(key));
	buf_printf(out, ",\"fetched_at\":%llu,\"source\":", (unsigned long long)b->fetched_at);
	json_put_string(out, b->source, strlen(b->source));
	if (b->issuer_chain) {
		buf_put_str(out, ",\"issuer_chain\":");
		json_put_string(out, b->issuer_chain, b->chain_len);
	}
	buf_put_str(out, ",\"body_base64\":\"");
	n = base64_encoded_len(b->body_len, 0);
	b64 = (char *)buf_reserve(out, n + 1);
	if (b64) {
		base64_encode(b64, b->body, b->body_len, 0);
		buf_commit(out, n);
	}
	buf_put_str(out, "\"}\n");
	return buf_writer_status(out);
}

err_t attest_coll_cache_decode(const uint8_t *text, size_t len, const char *expect_name, const char *source,
			       struct attest_coll_blob **out, const char **detail)
{
	struct arena a;
	struct json_value *root = NULL;
	struct attest_coll_key k;
	const char *s, *chain = NULL, *src = source;
	size_t n, chain_len = 0, body_len = 0;
	uint64_t fetched_at = 0;
	uint8_t *body = NULL;
	char name[ATTEST_COLL_KEY_MAX + 8];
	err_t e;

	*out = NULL;
	*detail = NULL;
	arena_init(&a, 4 * len + ((size_t)64 << 10), 64u << 10);
	e = json_parse((const char *)text, len, NULL, &a, &root, NULL);
	if (e != ERR_OK) {
		*detail = "not JSON";
		goto out;
	}
	e = ERR_PROTO_MALFORMED;
	if (json_get_str(root, "format", &s, &n) != ERR_OK || n != strlen(CACHE_FORMAT) ||
	    memcmp(s, CACHE_FORMAT, n) != 0) {
		*detail = "unknown format";
		goto out;
	}
	if (json_get_str(root, "key", &s, &n) != ERR_OK || attest_coll_key_parse(s, n, &k) != ERR_OK) {
		*detail = "bad key";
		goto out;
	}
	if (expect_name && (attest_coll_cache_file_name(&k, name, sizeof(name)) != ERR_OK ||
			    strcmp(name, expect_name) != 0)) {
		*detail = "key does not match the file name";
		goto out;
	}
	if (json_get_u64(root, "fetched_at", &fetched_at) != ERR_OK) {
		*detail = "bad fetched_at";
		goto out;
	}
	if (json_get_str(root, "source", &s, &n) == ERR_OK && n > 0)
		src = s;
	switch (json_get_str(root, "issuer_chain", &chain, &chain_len)) {
	case ERR_OK:
	case ERR_NOT_FOUND:
		break;
	default:
		*detail = "bad issuer_chain";
		goto out;
	}
	if (json_get_str(root, "body_base64", &s, &n) != ERR_OK || n > 2 * MAX_ARTEFACT) {
		*detail = "bad body_base64";
		goto out;
	}
	body = malloc(base64_decoded_max(n) + 1);
	if (!body) {
		e = ERR_NOMEM;
		goto out;
	}
	if (base64_decode(body, base64_decoded_max(n), &body_len, s, n) != ERR_OK) {
		*detail = "body_base64 is not base64";
		goto out;
	}
	e = attest_coll_blob_new(&k, body, body_len, chain, chain_len, fetched_at, src, out, detail);
out:
	free(body);
	arena_fini(&a);
	return e;
}

err_t attest_coll_cache_write(const char *dir, const struct attest_coll_blob *b, const char **detail)
{
	char name[ATTEST_COLL_KEY_MAX + 8], tmpname[ATTEST_COLL_KEY_MAX + 40];
	char *path = NULL, *tmp = NULL;
	struct buf_writer w;
	size_t off = 0;
	int fd = -1, dfd = -1, created = 0;
	err_t e;

	*detail = NULL;
	buf_writer_init(&w, MAX_FILE);
	e = attest_coll_cache_file_name(&b->key, name, sizeof(name));
	if (e != ERR_OK)
		goto out;
	snprintf(tmpname, sizeof(tmpname), ".%s.tmp.%ld", name, (long)getpid());
	e = ERR_NOMEM;
	path = path_join(dir, name);
	tmp = path_join(dir, tmpname);
	if (!path || !tmp)
		goto out;
	if ((e = attest_coll_cache_encode(b, &w)) != ERR_OK) {
		*detail = "cannot encode";
		goto out;
	}
	e = ERR_IO_FILE;
	/* A leftover from a crash of an earlier process with our pid would block O_EXCL. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*detail = "cannot create the temporary file";
		goto out;
	}
	created = 1;
	if (fchmod(fd, 0600) != 0) {
		*detail = "cannot set the file mode";
		goto out;
	}
	while (off < w.len) {
		ssize_t n = write(fd, w.p + off, w.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*detail = "write failed";
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		*detail = "fsync failed";
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		*detail = "rename failed";
		goto out;
	}
	created = 0;
	/* The rename is durable only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	e = ERR_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(path);
	free(tmp);
	buf_writer_free(&w);
	return e;
}

/* ---- writing off the loop ---- */

#define WRITER_MAX_QUEUE 1024u

struct writer_job {
	struct writer_job *next;
	struct attest_coll_blob *blob;     /* a reference, taken and dropped on the loop */
	err_t err;
	const char *detail;                /* static */
};

struct attest_coll_writer {
	struct event_base *base;
	char *dir;
	attest_coll_written_fn on_written;
	void *arg;
	struct event *done_ev;             /* the thread activates it; runs on the loop */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct writer_job *head, **tail;   /* queued (mu) */
	struct writer_job *done, **done_tail; /* written, for the loop (mu) */
	size_t queued;                     /* queued + being written (mu) */
	int stopping;                      /* (mu) */
};

static void *writer_main(void *arg)
{
	struct attest_coll_writer *w = arg;

#ifdef SCHED_IDLE
	/*
	 * Only when the CPU has nothing else to do: a request never waits for
	 * a cache file. attest_coll_writer_free restores the normal class to
	 * drain the queue at shutdown.
	 */
	{
		struct sched_param sp = { 0 };
		(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	}
#endif
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct writer_job *j;

		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;   /* stopping, and everything queued is written */
		j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->mu);
		/* The blob is immutable and the loop holds our reference: reading it here is safe. */
		j->err = attest_coll_cache_write(w->dir, j->blob, &j->detail);
		pthread_mutex_lock(&w->mu);
		j->next = NULL;
		*w->done_tail = j;
		w->done_tail = &j->next;
		/* Thread-safe with evthread: the loop runs on_written on its next iteration. */
		event_active(w->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* On the loop: report and release what the thread has written. */
static void writer_reap(struct attest_coll_writer *w)
{
	struct writer_job *list;

	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	while (list) {
		struct writer_job *j = list;
		list = j->next;
		pthread_mutex_lock(&w->mu);
		w->queued--;
		pthread_mutex_unlock(&w->mu);
		if (w->on_written)
			w->on_written(w->arg, j->blob, j->err, j->detail);
		attest_coll_blob_unref(j->blob);
		free(j);
	}
}

static void on_writer_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	writer_reap(arg);
}

struct attest_coll_writer *attest_coll_writer_new(struct event_base *base, const char *dir,
						  attest_coll_written_fn on_written, void *arg)
{
	struct attest_coll_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->base = base;
	w->on_written = on_written;
	w->arg = arg;
	w->tail = &w->head;
	w->done_tail = &w->done;
	w->dir = strdup(dir);
	w->done_ev = event_new(base, -1, 0, on_writer_done, w);
	if (!w->dir || !w->done_ev || pthread_mutex_init(&w->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	w->started = 1;
	return w;
fail:
	if (w->done_ev)
		event_free(w->done_ev);
	free(w->dir);
	free(w);
	return NULL;
}

err_t attest_coll_writer_put(struct attest_coll_writer *w, struct attest_coll_blob *b)
{
	struct writer_job *j;

	if (!w || !b)
		return ERR_INVALID_ARG;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ERR_NOMEM;
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->queued >= WRITER_MAX_QUEUE) {
		int stopping = w->stopping;
		pthread_mutex_unlock(&w->mu);
		free(j);
		return stopping ? ERR_SHUTTING_DOWN : ERR_OVERLOADED;
	}
	j->blob = attest_coll_blob_ref(b);
	*w->tail = j;
	w->tail = &j->next;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return ERR_OK;
}

size_t attest_coll_writer_pending(struct attest_coll_writer *w)
{
	size_t n;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	n = w->queued;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void attest_coll_writer_free(struct attest_coll_writer *w)
{
	if (!w)
		return;
	if (w->started) {
#ifdef SCHED_IDLE
		/* Draining is now the one thing left to do: at the normal class, so it is not starved. */
		struct sched_param sp = { 0 };
		(void)pthread_setschedparam(w->thread, SCHED_OTHER, &sp);
#endif
		pthread_mutex_lock(&w->mu);
		w->stopping = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
		writer_reap(w);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
	}
	event_free(w->done_ev);
	free(w->dir);
	free(w);
}

size_t attest_coll_cache_load_dir(const char *dir, uint64_t now, attest_coll_found_fn fn, void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t skipped = 0, seen = 0;

	(void)now;
	if (!d) {
		log_warn(LOG_PFX, "cannot read the cache directory %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL && seen++ < MAX_DIR_FILES) {
		struct attest_coll_blob *b = NULL;
		const char *detail = NULL;
		uint8_t *text = NULL;
		size_t len = 0;
		char *path;
		err_t e;

		/* Temporary files start with '.', and so do "." and "..". */
		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
			continue;
		path = path_join(dir, de->d_name);
		if (!path)
			break;
		e = read_file(path, MAX_FILE, &text, &len);
		if (e == ERR_OK) {
			char src[64 + 4096];
			snprintf(src, sizeof(src), "cache:%s", path);
			e = attest_coll_cache_decode(text, len, de->d_name, src, &b, &detail);
		}
		if (e != ERR_OK) {
			log_warn(LOG_PFX, "ignoring corrupt cache file %s: %s", path, detail ? detail : err_str(e));
			skipped++;
		} else {
			fn(arg, b);
		}
		free(text);
		free(path);
	}
	closedir(d);
	return skipped;
}

/* ---- offline directory ---- */

struct offline_ctx {
	const char *dir;
	uint64_t now;
	attest_coll_found_fn fn;
	void *arg;
	size_t skipped;
};

/*
 * One artefact of the layout: `rel` (relative to the offline dir) holds the
 * body; for kinds with an issuer chain, the chain is in the same path with
 * the extension replaced by ".issuer-chain.pem". A missing body is silent.
 */
static void load_layout_file(struct offline_ctx *o, const struct attest_coll_key *k, const char *rel,
			     int needs_chain)
{
	char *path = path_join(o->dir, rel), *chain_path = NULL;
	uint8_t *body = NULL, *chain = NULL;
	size_t body_len = 0, chain_len = 0;
	struct attest_coll_blob *b = NULL;
	const char *detail = NULL;
	err_t e;

	if (!path)
		return;
	e = read_file(path, MAX_ARTEFACT, &body, &body_len);
	if (e == ERR_NOT_FOUND)
		goto out;
	if (e == ERR_OK && needs_chain) {
		const char *dot = strrchr(path, '.');
		size_t stem = dot ? (size_t)(dot - path) : strlen(path);
		chain_path = malloc(stem + 32);
		if (!chain_path) {
			e = ERR_NOMEM;
			goto out;
		}
		memcpy(chain_path, path, stem);
		memcpy(chain_path + stem, ".issuer-chain.pem", sizeof(".issuer-chain.pem"));
		e = read_file(chain_path, MAX_CHAIN, &chain, &chain_len);
		if (e == ERR_NOT_FOUND) {
			detail = "its .issuer-chain.pem is missing";
			e = ERR_ATTEST_CERT_CHAIN;
		}
	}
	if (e == ERR_OK) {
		char src[4096 + 16];
		snprintf(src, sizeof(src), "offline:%s", path);
		e = attest_coll_blob_new(k, body, body_len, (const char *)chain, chain_len, o->now, src, &b, &detail);
	}
out:
	if (e == ERR_OK) {
		o->fn(o->arg, b);
	} else if (e != ERR_NOT_FOUND) {
		log_warn(LOG_PFX, "ignoring offline file %s: %s", path, detail ? detail : err_str(e));
		o->skipped++;
	}
	free(body);
	free(chain);
	free(path);
	free(chain_path);
}

/* <tee>/tcb/<FMSPC>.json for every FMSPC present. */
static void load_tcb_dir(struct offline_ctx *o, const char *tee, enum attest_coll_kind kind)
{
	char rel[64];
	char *dpath;
	DIR *d;
	struct dirent *de;
	size_t seen = 0;

	snprintf(rel, sizeof(rel), "%s/tcb", tee);
	dpath = path_join(o->dir, rel);
	if (!dpath)
		return;
	d = opendir(dpath);
	while (d && (de = readdir(d)) != NULL && seen++ < MAX_DIR_FILES) {
		struct attest_coll_key k = { .kind = kind };
		char keytext[ATTEST_COLL_KEY_MAX], frel[128];
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n != 12 + 5 || !ends_with(de->d_name, ".json"))
			continue;
		snprintf(keytext, sizeof(keytext), "%s/%.12s", attest_coll_kind_name(kind), de->d_name);
		if (attest_coll_key_parse(keytext, strlen(keytext), &k) != ERR_OK) {
			log_warn(LOG_PFX, "ignoring offline file %s/%s: the name is not <FMSPC>.json", dpath, de->d_name);
			o->skipped++;
			continue;
		}
		snprintf(frel, sizeof(frel), "%s/%s", rel, de->d_name);
		load_layout_file(o, &k, frel, 1);
	}
	if (d)
		closedir(d);
	free(dpath);
}

/* amd/<product>/vcek/<hwid>/<reported tcb>.der */
static void load_vcek_dir(struct offline_ctx *o, const char *product)
{
	char rel[64];
	char *dpath;
	DIR *d;
	struct dirent *de;
	size_t seen = 0;

	snprintf(rel, sizeof(rel), "amd/%s/vcek", product);
	dpath = path_join(o->dir, rel);
	if (!dpath)
		return;
	d = opendir(dpath);
	while (d && (de = readdir(d)) != NULL && seen++ < MAX_DIR_FILES) {
		char *sub;
		DIR *d2;
		struct dirent *de2;
		size_t seen2 = 0;
		if (de->d_name[0] == '.' || strlen(de->d_name) > 128)
			continue;
		sub = path_join(dpath, de->d_name);
		d2 = sub ? opendir(sub) : NULL;
		while (d2 && (de2 = readdir(d2)) != NULL && seen2++ < MAX_DIR_FILES) {
			struct attest_coll_key k;
			char keytext[ATTEST_COLL_KEY_MAX + 64], frel[512];
			if (de2->d_name[0] == '.' || strlen(de2->d_name) != 16 + 4 || !ends_with(de2->d_name, ".der"))
				continue;
			snprintf(keytext, sizeof(keytext), "amd_vcek/%s/%s/%.16s", product, de->d_name, de2->d_name);
			if (attest_coll_key_parse(keytext, strlen(keytext), &k) != ERR_OK) {
				log_warn(LOG_PFX, "ignoring offline file %s/%s: not <hwid hex>/<tcb hex>.der", sub,
					 de2->d_name);
				o->skipped++;
				continue;
			}
			snprintf(frel, sizeof(frel), "%s/%s/%s", rel, de->d_name, de2->d_name);
			load_layout_file(o, &k, frel, 0);
		}
		if (d2)
			closedir(d2);
		free(sub);
	}
	if (d)
		closedir(d);
	free(dpath);
}

/* Every *.json directly in the directory is a dcap-qvl QuoteCollateralV3 file. */
static void load_dcap_files(struct offline_ctx *o)
{
	DIR *d = opendir(o->dir);
	struct dirent *de;
	size_t seen = 0;

	while (d && (de = readdir(d)) != NULL && seen++ < MAX_DIR_FILES) {
		struct attest_coll_blob *blobs[4];
		const char *detail = NULL;
		uint8_t *text = NULL;
		size_t len = 0, n = 0;
		char *path;
		err_t e;

		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
			continue;
		path = path_join(o->dir, de->d_name);
		if (!path)
			break;
		e = read_file(path, MAX_FILE, &text, &len);
		if (e == ERR_OK) {
			char src[4096 + 16];
			snprintf(src, sizeof(src), "offline:%s", path);
			e = attest_coll_from_dcap_json((const char *)text, len, o->now, src, blobs, &n, &detail);
		}
		if (e != ERR_OK) {
			log_warn(LOG_PFX, "ignoring offline file %s: %s", path, detail ? detail : err_str(e));
			o->skipped++;
		} else {
			for (size_t i = 0; i < n; i++)
				o->fn(o->arg, blobs[i]);
		}
		free(text);
		free(path);
	}
	if (d)
		closedir(d);
}

size_t attest_coll_offline_load_dir(const char *dir, uint64_t now, attest_coll_found_fn fn, void *arg)
{
	static const char *const products[] = { "Milan", "Genoa", "Turin" };
	struct offline_ctx o = { dir, now, fn, arg, 0 };
	struct attest_coll_key k;

	load_tcb_dir(&o, "tdx", ATTEST_COLL_TDX_TCB);
	load_tcb_dir(&o, "sgx", ATTEST_COLL_SGX_TCB);
	memset(&k, 0, sizeof(k));
	k.kind = ATTEST_COLL_TDX_QE_IDENTITY;
	load_layout_file(&o, &k, "tdx/qe_identity.json", 1);
	k.kind = ATTEST_COLL_SGX_QE_IDENTITY;
	load_layout_file(&o, &k, "sgx/qe_identity.json", 1);
	k.kind = ATTEST_COLL_PCK_CRL_PROCESSOR;
	load_layout_file(&o, &k, "sgx/pckcrl/processor.crl", 1);
	k.kind = ATTEST_COLL_PCK_CRL_PLATFORM;
	load_layout_file(&o, &k, "sgx/pckcrl/platform.crl", 1);
	k.kind = ATTEST_COLL_ROOT_CA_CRL;
	load_layout_file(&o, &k, "sgx/rootcacrl.crl", 0);
	for (size_t i = 0; i < ARRAY_LEN(products); i++) {
		char rel[64];
		memset(&k, 0, sizeof(k));
		snprintf(k.product, sizeof(k.product), "%s", products[i]);
		k.kind = ATTEST_COLL_AMD_CERT_CHAIN;
		snprintf(rel, sizeof(rel), "amd/%s/cert_chain.pem", products[i]);
		load_layout_file(&o, &k, rel, 0);
		k.kind = ATTEST_COLL_AMD_CRL;
		snprintf(rel, sizeof(rel), "amd/%s/crl.crl", products[i]);
		load_layout_file(&o, &k, rel, 0);
		load_vcek_dir(&o, products[i]);
	}
	load_dcap_files(&o);
	return o.skipped;
}
