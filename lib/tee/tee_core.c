/* SPDX-License-Identifier: Apache-2.0 */
/* The backend-independent half of lib/tee: open/close, runtime events under one lock, the event log, quotes, info. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcap.h"
#include "log.h"
#include "tee_internal.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

_Static_assert(TEE_MAX_EVENT_NAME == ATTEST_EVENTLOG_MAX_NAME, "runtime event name caps disagree");
_Static_assert(TEE_MAX_EVENT_PAYLOAD == ATTEST_EVENTLOG_MAX_PAYLOAD, "runtime event payload caps disagree");
_Static_assert(TEE_MR_LEN == ATTEST_RTMR_LEN, "register sizes disagree");

#define BOOT_ARENA_BUDGET (64u << 20)
#define CHECK_ARENA_BUDGET (64u << 20)

static const struct tee_backend *const backends[] = { &tee_backend_tdx, &tee_backend_snp, &tee_backend_sim };

/* ---- small helpers ---- */

uint64_t tee_deadline(const struct tee *t)
{
	return mono_ms() + t->quote_timeout_ms;
}

err_t tee_lock_until(pthread_mutex_t *mu, uint64_t deadline_ms)
{
	struct timespec ts;
	uint64_t now = mono_ms(), left = deadline_ms > now ? deadline_ms - now : 0;
	int rc;

	/*
	 * pthread_mutex_timedlock wants CLOCK_REALTIME: turn what is left of the
	 * monotonic deadline into an absolute wall time now (a clock step during
	 * the wait moves the bound; pthread_mutex_clocklock would avoid that but
	 * sanitizers do not know it).
	 */
	if ((rc = pthread_mutex_trylock(mu)) == 0)
		return ERR_OK;
	if (rc != EBUSY)
		return ERR_INTERNAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	rc = pthread_mutex_timedlock(mu, &ts);
	if (rc == ETIMEDOUT)
		return ERR_IO_TIMEOUT;
	return rc == 0 ? ERR_OK : ERR_INTERNAL;
}

err_t tee_path_join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, TEE_PATH_MAX, "%s/%s", dir, name);

	return n > 0 && n < TEE_PATH_MAX ? ERR_OK : ERR_CONFIG;
}

/* ---- runtime events in memory ---- */

/* The rules for a runtime event name; `version` is the event's digest version. */
static err_t check_event_name(const char *name, size_t len, int version, const char **detail)
{
	if (len == 0) {
		SET_DETAIL(detail, "runtime event name is empty");
		return ERR_INVALID_ARG;
	}
	if (len > TEE_MAX_EVENT_NAME) {
		SET_DETAIL(detail, "runtime event name is longer than 1024 bytes");
		return ERR_INVALID_ARG;
	}
	if (memchr(name, '\0', len)) {
		SET_DETAIL(detail, "runtime event name contains NUL");
		return ERR_INVALID_ARG;
	}
	/* V1 hashes name ":" payload: a ':' in the name would make two different events one digest. */
	if (version == 1 && memchr(name, ':', len)) {
		SET_DETAIL(detail, "runtime event name contains ':' (ambiguous with V1 digests)");
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

static err_t event_digest(const char *name, size_t name_len, const uint8_t *payload, size_t len, int version,
			  uint8_t out[TEE_MR_LEN])
{
	if (version == 2)
		return attest_event_digest_v2(name, name_len, payload, len, out);
	attest_event_digest_v1(name, name_len, payload, len, out);
	return ERR_OK;
}

/* The TdxEvent JSON of one runtime event. */
static err_t render_event(const char *name, size_t name_len, const uint8_t *payload, size_t len, int version,
			  const uint8_t digest[TEE_MR_LEN], struct buf_writer *w, const char **detail)
{
	struct attest_event e;
	err_t rc;

	memset(&e, 0, sizeof(e));
	e.imr = 3;
	e.event_type = ATTEST_RUNTIME_EVENT_TYPE;
	e.name = name;
	e.name_len = name_len;
	e.payload = payload;
	e.payload_len = len;
	e.version = version;
	e.extended = 1;
	memcpy(e.digest, digest, TEE_MR_LEN);
	rc = attest_event_put_json(&e, 0, w);
	if (rc == ERR_INVALID_ARG)
		SET_DETAIL(detail, "runtime event name is not valid UTF-8");
	return rc;
}

/*
 * Everything that can fail before an event is committed: room in the array
 * and in rt_json, copies of name and payload, and the limits on the log as a
 * whole. On success *ev owns the copies; rt_commit then cannot fail.
 */
static err_t rt_prepare(struct tee *t, const char *name, size_t name_len, const uint8_t *payload, size_t len,
			int version, const uint8_t digest[TEE_MR_LEN], size_t entry_len, struct tee_rtevent *ev,
			const char **detail)
{
	memset(ev, 0, sizeof(*ev));
	if (t->n_rt >= TEE_MAX_RUNTIME_EVENTS || t->boot.n + t->n_rt + 1 > ATTEST_EVENTLOG_MAX_EVENTS) {
		SET_DETAIL(detail, "runtime event log is full");
		return ERR_PROTO_TOO_LARGE;
	}
	/* "[" boot "," runtime "," entry "]" must stay parseable by verifiers. */
	if (t->boot_json.len + t->rt_json.len + entry_len + 3 > ATTEST_EVENTLOG_MAX_TEXT) {
		SET_DETAIL(detail, "runtime event log is full (size)");
		return ERR_PROTO_TOO_LARGE;
	}
	if (t->n_rt == t->cap_rt) {
		size_t cap = t->cap_rt ? 2 * t->cap_rt : 16;
		struct tee_rtevent *p;

		cap = MIN(cap, (size_t)TEE_MAX_RUNTIME_EVENTS);
		p = realloc(t->rt, cap * sizeof(*p));
		if (!p)
			return ERR_NOMEM;
		t->rt = p;
		t->cap_rt = cap;
	}
	if (!buf_reserve(&t->rt_json, entry_len + 1))
		return buf_writer_status(&t->rt_json);
	ev->name = malloc(name_len + 1);
	ev->payload = len ? malloc(len) : NULL;
	if (!ev->name || (len && !ev->payload)) {
		free(ev->name);
		free(ev->payload);
		memset(ev, 0, sizeof(*ev));
		return ERR_NOMEM;
	}
	memcpy(ev->name, name, name_len);
	ev->name[name_len] = '\0';
	ev->name_len = name_len;
	if (len)
		memcpy(ev->payload, payload, len);
	ev->payload_len = len;
	ev->version = version;
	memcpy(ev->digest, digest, TEE_MR_LEN);
	return ERR_OK;
}

/* Append a prepared event (ownership moves to t); rt_prepare made room for all of it. */
static void rt_commit(struct tee *t, struct tee_rtevent *ev, const char *entry, size_t entry_len)
{
	t->rt[t->n_rt++] = *ev;
	memset(ev, 0, sizeof(*ev));
	if (t->rt_json.len)
		buf_put_u8(&t->rt_json, ',');
	buf_put(&t->rt_json, entry, entry_len);
	attest_rtmr_extend(t->rtmr3, t->rt[t->n_rt - 1].digest);
}

static void rtevent_free(struct tee_rtevent *ev)
{
	free(ev->name);
	free(ev->payload);
	memset(ev, 0, sizeof(*ev));
}

static void rt_clear(struct tee *t)
{
	for (size_t i = 0; i < t->n_rt; i++)
		rtevent_free(&t->rt[i]);
	t->n_rt = 0;
	buf_writer_clear(&t->rt_json);
	memset(t->rtmr3, 0, sizeof(t->rtmr3));
}

/* Validate, render and append an event that is already measured (loaded from the state file). */
static err_t rt_add_loaded(struct tee *t, const char *name, size_t name_len, const uint8_t *payload, size_t len,
			   int version, const uint8_t digest[TEE_MR_LEN], const char **detail)
{
	struct buf_writer entry;
	struct tee_rtevent ev;
	err_t rc;

	if ((rc = check_event_name(name, name_len, version, detail)) != ERR_OK)
		return ERR_PROTO_MALFORMED;
	if (len > TEE_MAX_EVENT_PAYLOAD) {
		SET_DETAIL(detail, "state file: runtime event payload too large");
		return ERR_PROTO_MALFORMED;
	}
	buf_writer_init(&entry, ATTEST_EVENTLOG_MAX_TEXT);
	rc = render_event(name, name_len, payload, len, version, digest, &entry, detail);
	if (rc == ERR_OK)
		rc = rt_prepare(t, name, name_len, payload, len, version, digest, entry.len, &ev, detail);
	if (rc == ERR_OK)
		rt_commit(t, &ev, (const char *)entry.p, entry.len);
	buf_writer_free(&entry);
	return rc;
}

/* ---- boot events as JSON ---- */

err_t tee_boot_json(const struct attest_eventlog *boot, struct buf_writer *w, const char **detail)
{
	struct buf_writer text;
	struct attest_eventlog back;
	struct arena a;
	size_t start = w->len;
	const char *pd = NULL;
	err_t rc;

	for (size_t i = 0; i < boot->n; i++) {
		if (boot->events[i].imr > 2) {
			SET_DETAIL(detail, "the boot log extends RTMR3, which dstack's event log reserves for runtime events");
			return ERR_ATTEST_EVENT_LOG;
		}
		if (i)
			buf_put_u8(w, ',');
		if ((rc = attest_event_put_json(&boot->events[i], 0, w)) != ERR_OK) {
			if (rc == ERR_INVALID_ARG) {
				SET_DETAIL(detail, "boot event name is not valid UTF-8");
				rc = ERR_ATTEST_EVENT_LOG;
			}
			return rc;
		}
	}
	if ((rc = buf_writer_status(w)) != ERR_OK)
		return rc;

	/* What we hand out must be what verifiers accept, replaying to the same registers. */
	buf_writer_init(&text, ATTEST_EVENTLOG_MAX_TEXT);
	arena_init(&a, CHECK_ARENA_BUDGET, 64u << 10);
	buf_put_u8(&text, '[');
	buf_put(&text, w->p + start, w->len - start);
	buf_put_u8(&text, ']');
	rc = buf_writer_status(&text);
	if (rc == ERR_PROTO_TOO_LARGE)
		SET_DETAIL(detail, "the boot log is too large for dstack's event log JSON");
	if (rc == ERR_OK) {
		rc = attest_eventlog_parse_json((const char *)text.p, text.len, &a, &back, &pd);
		if (rc != ERR_OK) {
			SET_DETAIL(detail, pd ? pd : "the boot log does not survive the JSON form");
			if (rc != ERR_NOMEM && rc != ERR_BUDGET)
				rc = ERR_ATTEST_EVENT_LOG;
		} else if (back.n != boot->n || memcmp(back.rtmr, boot->rtmr, sizeof(back.rtmr)) != 0) {
			SET_DETAIL(detail, "the boot log's JSON form replays to other registers");
			rc = ERR_ATTEST_EVENT_LOG;
		}
	}
	arena_fini(&a);
	buf_writer_free(&text);
	return rc;
}

/* ---- open / close ---- */

static const struct tee_backend *find_backend(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(backends); i++) {
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	}
	return NULL;
}

static err_t check_config(const struct tee_config *cfg, const struct tee_backend **be, const char **detail)
{
	struct stat st;

	if (!cfg || !cfg->backend || !cfg->backend[0]) {
		SET_DETAIL(detail, "tee backend not set: choose tdx, sev-snp or sim");
		return ERR_CONFIG;
	}
	if (!(*be = find_backend(cfg->backend))) {
		SET_DETAIL(detail, "unknown tee backend: choose tdx, sev-snp or sim");
		return ERR_CONFIG;
	}
	if (!cfg->state_dir || !cfg->state_dir[0]) {
		SET_DETAIL(detail, "tee state_dir is required");
		return ERR_CONFIG;
	}
	if (cfg->event_version > 2) {
		SET_DETAIL(detail, "tee event_version must be 1 or 2");
		return ERR_CONFIG;
	}
	if (cfg->quote_timeout_ms > TEE_MAX_QUOTE_TIMEOUT_MS) {
		SET_DETAIL(detail, "tee quote_timeout_ms is above 600000");
		return ERR_CONFIG;
	}
	if (stat(cfg->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		SET_DETAIL(detail, "tee state_dir does not exist or is not a directory");
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO_FILE;
	}
	return ERR_OK;
}

static void tee_free(struct tee *t)
{
	if (!t)
		return;
	if (t->be && t->be->close)
		t->be->close(t);
	rt_clear(t);
	free(t->rt);
	buf_writer_free(&t->rt_json);
	buf_writer_free(&t->boot_json);
	arena_fini(&t->boot_arena);
	free(t->state_path);
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	pthread_mutex_destroy(&t->ev_lock);
	pthread_mutex_destroy(&t->quote_lock);
	free(t);
}

/*
 * One handle per state directory, across processes too: two writers would
 * each extend and log their own events and the log would stop matching
 * RTMR3. The flock goes away with the process.
 */
static err_t lock_state_dir(struct tee *t, const char *dir, const char **detail)
{
	char path[TEE_PATH_MAX];

	if (tee_path_join(path, dir, TEE_LOCK_FILE) != ERR_OK) {
		SET_DETAIL(detail, "tee state_dir path too long");
		return ERR_CONFIG;
	}
	t->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->lock_fd < 0) {
		SET_DETAIL(detail, "cannot create the tee lock file in state_dir");
		return ERR_IO_FILE;
	}
	if (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		SET_DETAIL(detail, errno == EWOULDBLOCK ? "tee state_dir is in use by another handle or process"
							 : "cannot lock the tee state_dir");
		return errno == EWOULDBLOCK ? ERR_UNAVAILABLE : ERR_IO_FILE;
	}
	return ERR_OK;
}

/* Take the loaded events into t (they were checked to replay to the recorded RTMR3). */
static err_t take_loaded(struct tee *t, const struct tee_loaded *l, const char **detail)
{
	err_t rc;

	for (size_t i = 0; i < l->events.n; i++) {
		const struct attest_event *e = &l->events.events[i];

		rc = rt_add_loaded(t, e->name, e->name_len, e->payload, e->payload_len, e->version, e->digest, detail);
		if (rc != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

err_t tee_open(const struct tee_config *cfg, struct tee **out, const char **detail)
{
	const struct tee_backend *be = NULL;
	struct tee_loaded l;
	struct tee_rtevent pending;
	const struct attest_event *pe = NULL;
	enum tee_reconcile what = TEE_KEEP;
	struct tee *t = NULL;
	char path[TEE_PATH_MAX];
	err_t rc;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	memset(&pending, 0, sizeof(pending));
	if ((rc = check_config(cfg, &be, detail)) != ERR_OK)
		return rc;
	if (tee_path_join(path, cfg->state_dir, TEE_STATE_FILE) != ERR_OK) {
		SET_DETAIL(detail, "tee state_dir path too long");
		return ERR_CONFIG;
	}
	if (!(t = calloc(1, sizeof(*t))))
		return ERR_NOMEM;
	t->lock_fd = -1;
	pthread_mutex_init(&t->ev_lock, NULL);
	pthread_mutex_init(&t->quote_lock, NULL);
	arena_init(&t->boot_arena, BOOT_ARENA_BUDGET, 64u << 10);
	buf_writer_init(&t->boot_json, ATTEST_EVENTLOG_MAX_TEXT);
	buf_writer_init(&t->rt_json, ATTEST_EVENTLOG_MAX_TEXT);
	t->event_version = cfg->event_version ? cfg->event_version : 1;
	t->quote_timeout_ms = cfg->quote_timeout_ms ? cfg->quote_timeout_ms : TEE_DEFAULT_QUOTE_TIMEOUT_MS;
	if (!(t->state_path = strdup(path))) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = lock_state_dir(t, cfg->state_dir, detail)) != ERR_OK)
		goto out;
	t->be = be;
	if ((rc = be->open(t, cfg, detail)) != ERR_OK)
		goto out;
	if ((rc = tee_state_load(t->state_path, be->name, &l, detail)) != ERR_OK)
		goto out;
	if ((rc = take_loaded(t, &l, detail)) != ERR_OK)
		goto out;
	if (l.pending.n == 1) {
		pe = &l.pending.events[0];
		pending.name = UNCONST(pe->name);
		pending.name_len = pe->name_len;
		pending.payload = UNCONST(pe->payload);
		pending.payload_len = pe->payload_len;
		pending.version = pe->version;
		memcpy(pending.digest, pe->digest, TEE_MR_LEN);
	}
	if ((rc = be->reconcile(t, &l, pe ? &pending : NULL, &what, detail)) != ERR_OK)
		goto out;
	if (what == TEE_DROP_LOG) {
		log_warn("tee", "%s: RTMR3 is zero but %s holds %zu events: a new boot, starting an empty log",
			 be->name, t->state_path, t->n_rt);
		rt_clear(t);
	} else if (what == TEE_COMMIT_PENDING) {
		if (!pe) {
			rc = ERR_INTERNAL;
			goto out;
		}
		rc = rt_add_loaded(t, pe->name, pe->name_len, pe->payload, pe->payload_len, pe->version, pe->digest,
				   detail);
		if (rc != ERR_OK)
			goto out;
		log_info("tee", "%s: the pending runtime event was extended before a restart; committed", be->name);
	} else if (pe) {
		log_info("tee", "%s: the pending runtime event was not extended before a restart; dropped", be->name);
	}
	if (!l.exists || pe || what != TEE_KEEP) {
		if ((rc = tee_state_save(t, t->rtmr3, NULL, 0, 0, detail)) != ERR_OK)
			goto out;
	}
	if (be->extended)
		be->extended(t, t->rtmr3);
	*out = t;
	t = NULL;
	rc = ERR_OK;
out:
	tee_loaded_fini(&l);
	tee_free(t);
	return rc;
}

void tee_close(struct tee *t)
{
	tee_free(t);
}

/* ---- runtime events ---- */

err_t tee_extend_runtime_event(struct tee *t, const char *name, const uint8_t *payload, size_t len,
			       const char **detail)
{
	struct buf_writer entry;
	struct tee_rtevent ev;
	uint8_t digest[TEE_MR_LEN], next[TEE_MR_LEN];
	int version = (int)t->event_version;
	size_t name_len;
	err_t rc;

	if (!name || (len && !payload)) {
		SET_DETAIL(detail, "runtime event name or payload missing");
		return ERR_INVALID_ARG;
	}
	name_len = strnlen(name, TEE_MAX_EVENT_NAME + 1);
	if ((rc = check_event_name(name, name_len, version, detail)) != ERR_OK)
		return rc;
	if (len > TEE_MAX_EVENT_PAYLOAD) {
		SET_DETAIL(detail, "runtime event payload is larger than 64 KiB");
		return ERR_PROTO_TOO_LARGE;
	}
	if ((rc = event_digest(name, name_len, payload, len, version, digest)) != ERR_OK)
		return rc;
	memset(&ev, 0, sizeof(ev));
	buf_writer_init(&entry, ATTEST_EVENTLOG_MAX_TEXT);
	if ((rc = render_event(name, name_len, payload, len, version, digest, &entry, detail)) != ERR_OK)
		goto free_entry;

	pthread_mutex_lock(&t->ev_lock);
	if ((rc = rt_prepare(t, name, name_len, payload, len, version, digest, entry.len, &ev, detail)) != ERR_OK)
		goto unlock;
	memcpy(next, t->rtmr3, TEE_MR_LEN);
	attest_rtmr_extend(next, digest);
	if (!t->be->extend) {
		/* The state file is the register: the event counts once it is durably there. */
		rc = tee_state_save(t, next, (const char *)entry.p, entry.len, 0, detail);
		if (rc != ERR_OK)
			goto unlock;
	} else {
		/* Pending first, so a crash between extension and commit is resolved at the next open. */
		rc = tee_state_save(t, t->rtmr3, (const char *)entry.p, entry.len, 1, detail);
		if (rc != ERR_OK)
			goto unlock;
		if ((rc = t->be->extend(t, digest, detail)) != ERR_OK) {
			if (tee_state_save(t, t->rtmr3, NULL, 0, 0, NULL) != ERR_OK)
				log_warn("tee", "%s: could not clear the pending event after a failed extension; "
					 "it is resolved at the next open", t->be->name);
			goto unlock;
		}
	}
	rt_commit(t, &ev, (const char *)entry.p, entry.len);
	if (t->be->extend && tee_state_save(t, t->rtmr3, NULL, 0, 0, NULL) != ERR_OK)
		log_warn("tee", "%s: RTMR3 extended but the state file still lists the event as pending; "
			 "it is committed at the next open", t->be->name);
	if (t->be->extended)
		t->be->extended(t, t->rtmr3);
	rc = ERR_OK;
unlock:
	pthread_mutex_unlock(&t->ev_lock);
	rtevent_free(&ev);
free_entry:
	buf_writer_free(&entry);
	return rc;
}

/* "[" boot "," runtime "]" into a fresh buffer; caller holds ev_lock. */
static err_t log_json_locked(struct tee *t, char **out, size_t *len)
{
	size_t n = 2 + t->boot_json.len + t->rt_json.len + 1;
	char *p = malloc(n + 1), *q;

	if (!p)
		return ERR_NOMEM;
	q = p;
	*q++ = '[';
	if (t->boot_json.len) {
		memcpy(q, t->boot_json.p, t->boot_json.len);
		q += t->boot_json.len;
	}
	if (t->boot_json.len && t->rt_json.len)
		*q++ = ',';
	if (t->rt_json.len) {
		memcpy(q, t->rt_json.p, t->rt_json.len);
		q += t->rt_json.len;
	}
	*q++ = ']';
	*q = '\0';
	*out = p;
	*len = (size_t)(q - p);
	return ERR_OK;
}

err_t tee_event_log_json(struct tee *t, char **out, size_t *len, const char **detail)
{
	err_t rc;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&t->ev_lock);
	rc = log_json_locked(t, out, len);
	pthread_mutex_unlock(&t->ev_lock);
	return rc;
}

/* ---- quotes ---- */

void tee_evidence_free(struct tee_evidence *ev)
{
	if (!ev)
		return;
	free(ev->quote);
	free(ev->aux);
	free(ev->event_log);
	memset(ev, 0, sizeof(*ev));
}

static err_t quote_common(struct tee *t, const uint8_t rd[TEE_REPORT_DATA_LEN], uint64_t deadline,
			  struct tee_evidence *ev, const char **detail)
{
	err_t rc;

	memset(ev, 0, sizeof(*ev));
	rc = t->be->quote(t, rd, deadline, ev, detail);
	if (rc != ERR_OK) {
		tee_evidence_free(ev);
		return rc;
	}
	ev->platform = t->be->platform;
	ev->simulated = t->be->simulated;
	memcpy(ev->report_data, rd, TEE_REPORT_DATA_LEN);
	return ERR_OK;
}

err_t tee_quote(struct tee *t, const uint8_t report_data[TEE_REPORT_DATA_LEN], struct tee_evidence *out,
		const char **detail)
{
	struct tee_evidence ev;
	err_t rc;

	if ((rc = quote_common(t, report_data, tee_deadline(t), &ev, detail)) != ERR_OK)
		return rc;
	*out = ev;
	return ERR_OK;
}

/* RTMR3 of a TDX quote. */
static err_t quote_rtmr3(const uint8_t *q, size_t n, uint8_t rtmr3[TEE_MR_LEN], const char **detail)
{
	struct dcap_quote dq;
	struct attest_td_report td;
	err_t rc;

	if ((rc = dcap_quote_parse(q, n, &dq, detail)) != ERR_OK)
		return rc;
	if (dq.body_type != DCAP_BODY_TD10 && dq.body_type != DCAP_BODY_TD15) {
		SET_DETAIL(detail, "the quote is not a TD quote");
		return ERR_ATTEST_TEE_TYPE;
	}
	dcap_td_report_decode(dq.body, dq.body_len, &td);
	memcpy(rtmr3, td.rtmr[3], TEE_MR_LEN);
	return ERR_OK;
}

err_t tee_quote_with_log(struct tee *t, const uint8_t report_data[TEE_REPORT_DATA_LEN], struct tee_evidence *out,
			 const char **detail)
{
	struct tee_evidence ev;
	uint64_t deadline = tee_deadline(t);
	uint8_t q3[TEE_MR_LEN];
	err_t rc;

	memset(&ev, 0, sizeof(ev));
	if ((rc = tee_lock_until(&t->ev_lock, deadline)) != ERR_OK) {
		SET_DETAIL(detail, "timed out waiting for the event log lock");
		return rc;
	}
	if ((rc = quote_common(t, report_data, deadline, &ev, detail)) != ERR_OK)
		goto unlock;
	if (ev.platform == TEE_PLATFORM_TDX) {
		if ((rc = quote_rtmr3(ev.quote, ev.quote_len, q3, detail)) != ERR_OK)
			goto unlock;
		if (memcmp(q3, t->rtmr3, TEE_MR_LEN) != 0) {
			SET_DETAIL(detail, "the quote's RTMR3 differs from the runtime event log (extended outside this process?)");
			rc = ERR_ATTEST_RTMR_MISMATCH;
			goto unlock;
		}
	}
	rc = log_json_locked(t, &ev.event_log, &ev.event_log_len);
unlock:
	pthread_mutex_unlock(&t->ev_lock);
	if (rc != ERR_OK) {
		tee_evidence_free(&ev);
		return rc;
	}
	*out = ev;
	return ERR_OK;
}

/* ---- info ---- */

err_t tee_info(struct tee *t, struct tee_info *out, const char **detail)
{
	memset(out, 0, sizeof(*out));
	out->backend = t->be->name;
	out->platform = t->be->platform;
	out->simulated = t->be->simulated;
	out->event_version = t->event_version;
	pthread_mutex_lock(&t->ev_lock);
	memcpy(out->log_rtmr, t->boot.rtmr, sizeof(out->log_rtmr));
	memcpy(out->log_rtmr[3], t->rtmr3, TEE_MR_LEN);
	out->n_boot_events = t->boot.n;
	out->n_runtime_events = t->n_rt;
	if (t->be->read_mrs)
		t->be->read_mrs(t, out);
	pthread_mutex_unlock(&t->ev_lock);
	return ERR_OK;
}
