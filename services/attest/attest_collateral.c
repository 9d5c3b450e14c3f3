/* SPDX-License-Identifier: Apache-2.0 */
/* The collateral cache: entries by key, singleflight upstream fetches with retries, bounded serve-stale, metrics. */
#include "attest_collateral.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "http_fetch.h"
#include "log.h"

#define BUCKETS 1024u
#define DEFAULT_MAX_ENTRIES 4096u
#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_BACKOFF_MS 200u
#define MAX_BACKOFF_MS 10000u
/* Upstream fetches in flight at once, and requests waiting on one fetch: beyond these, ERR_OVERLOADED. */
#define MAX_INFLIGHT 64u
#define MAX_WAITERS 4096u
#define FETCH_MAX_BODY ((size_t)4 << 20)
#define FETCH_MAX_HEADERS ((size_t)64 << 10)
#define DETAIL_MAX 200u
#define LOG_PFX "collateral"

#define INTEL_PCS_PREFIX "https://api.trustedservices.intel.com"
#define INTEL_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

enum { RES_HIT = 0, RES_MISS, RES_STALE, RES_ERROR, RES_COUNT };
static const char *const res_names[RES_COUNT] = { "hit", "miss", "stale", "error" };
enum { UP_OK = 0, UP_NOT_FOUND, UP_INVALID, UP_ERROR, UP_COUNT };
static const char *const up_names[UP_COUNT] = { "ok", "not_found", "invalid", "error" };
enum { DISK_OK = 0, DISK_ERROR, DISK_DROPPED };
static const char *const disk_names[] = { "ok", "error", "dropped" };

struct coll_waiter {
	struct coll_waiter *next;
	attest_coll_cb cb;
	void *arg;
};

struct coll_fetch;

struct coll_entry {
	struct coll_entry *hnext;
	uint32_t hash;
	struct attest_coll_key key;
	char name[ATTEST_COLL_KEY_MAX];
	struct attest_coll_blob *blob;     /* latest good artefact; NULL until one arrives */
	struct coll_fetch *fetch;          /* the one fetch in flight, or NULL */
	uint64_t not_found_until;          /* upstream said 404; cache clock */
	uint64_t fail_until;               /* holdoff after a failed fetch; cache clock */
	err_t last_err;
	int last_status;
	char last_detail[DETAIL_MAX];
	uint64_t hits;
};

struct coll_fetch {
	struct attest_collateral *c;
	struct coll_entry *e;
	struct coll_waiter *waiters, **wtail;
	size_t nwaiters;
	struct http_fetch *http;           /* the attempt in flight; NULL during backoff */
	struct event *retry_ev;
	unsigned attempt;
	int start_failed;                  /* the last attempt could not start; fail from the loop */
	uint64_t started_ns;
	char *url;
	char detail[DETAIL_MAX];
};

/* A result to deliver on the next loop pass (hits, and failures found without a fetch). */
struct coll_deferred {
	struct coll_deferred *next;
	attest_coll_cb cb;
	void *arg;
	struct attest_coll_result r;       /* r.blob holds a reference */
	char detail[DETAIL_MAX];
};

struct attest_collateral {
	struct event_base *base;
	struct attest_coll_config cfg;     /* strings borrowed from the caller */
	char *pccs_base, *kds_base, *root_crl_url;
	struct http_fetcher *http;
	struct attest_coll_certs *certs;   /* chain certificates parsed so far, and the trust anchors */
	struct coll_entry *buckets[BUCKETS];
	size_t nentries, ninflight, max_entries;
	struct coll_deferred *dq, **dq_tail;
	struct event *dq_ev;
	uint64_t clock_mono_ms;            /* mono_ms() at start, for test_now */
	int closing;
	struct metric *m_req[ATTEST_COLL_KIND_COUNT][RES_COUNT];
	struct metric *m_up[ATTEST_COLL_KIND_COUNT][UP_COUNT];
	struct metric_hist *m_fetch[ATTEST_COLL_KIND_COUNT];
	struct metric *m_entries;
	struct attest_coll_writer *writer; /* cache files, written off the loop; NULL without a usable cache_dir */
	struct metric *m_disk[3];          /* disk writes: ok, error, dropped */
	struct metric *m_disk_pending;
};

static void fetch_start_attempt(struct coll_fetch *f);

/* ---- clock and validity ---- */

uint64_t attest_collateral_now(const struct attest_collateral *c)
{
	if (c->cfg.test_now)
		return c->cfg.test_now + (mono_ms() - c->clock_mono_ms) / 1000u;
	return wall_s();
}

static uint64_t blob_expiry(const struct attest_collateral *c, const struct attest_coll_blob *b)
{
	uint64_t exp = b->next_update;

	if (c->cfg.max_age_s && b->fetched_at + c->cfg.max_age_s < exp)
		exp = b->fetched_at + c->cfg.max_age_s;
	return exp;
}

static int blob_fresh(const struct attest_collateral *c, const struct attest_coll_blob *b, uint64_t now)
{
	return b && now < blob_expiry(c, b);
}

static int blob_stale_ok(const struct attest_collateral *c, const struct attest_coll_blob *b, uint64_t now)
{
	return b && now <= blob_expiry(c, b) + c->cfg.max_stale_s;
}

/* ---- entries ---- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct coll_entry *entry_find(struct attest_collateral *c, const char *name)
{
	uint32_t h = name_hash(name);

	for (struct coll_entry *e = c->buckets[h % BUCKETS]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void entry_unlink(struct attest_collateral *c, struct coll_entry *e)
{
	struct coll_entry **pp = &c->buckets[e->hash % BUCKETS];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	c->nentries--;
	metric_set(c->m_entries, (int64_t)c->nentries);
}

static void entry_free(struct coll_entry *e)
{
	attest_coll_blob_unref(e->blob);
	free(e);
}

/*
 * Room for one more entry: evict the one least worth keeping (no artefact
 * first, then the earliest expiry), never one with a fetch in flight.
 */
static int make_room(struct attest_collateral *c)
{
	struct coll_entry *victim = NULL;

	if (c->nentries < c->max_entries)
		return 1;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct coll_entry *e = c->buckets[b]; e; e = e->hnext) {
			if (e->fetch)
				continue;
			if (!victim || (!e->blob && victim->blob) ||
			    (e->blob && victim->blob && e->blob->next_update < victim->blob->next_update))
				victim = e;
		}
	if (!victim)
		return 0;
	log_debug(LOG_PFX, "evicting %s (cache full)", victim->name);
	entry_unlink(c, victim);
	entry_free(victim);
	return 1;
}

static struct coll_entry *entry_new(struct attest_collateral *c, const struct attest_coll_key *k, const char *name)
{
	struct coll_entry *e;

	if (!make_room(c))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = *k;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->hash = name_hash(name);
	e->hnext = c->buckets[e->hash % BUCKETS];
	c->buckets[e->hash % BUCKETS] = e;
	c->nentries++;
	metric_set(c->m_entries, (int64_t)c->nentries);
	return e;
}

/*
 * Of two artefacts for one key (offline files may overlap), prefer one whose
 * window holds `now`, then the newer issue.
 */
static int blob_better(const struct attest_coll_blob *a, const struct attest_coll_blob *b, uint64_t now)
{
	int va = a->issued_at <= now && now < a->next_update, vb = b->issued_at <= now && now < b->next_update;

	if (va != vb)
		return va;
	return a->issued_at > b->issued_at;
}

/* A blob from disk or the offline directory: keep the best artefact per key. Takes the reference. */
static void on_found(void *arg, struct attest_coll_blob *b)
{
	struct attest_collateral *c = arg;
	char name[ATTEST_COLL_KEY_MAX];
	struct coll_entry *e;

	if (attest_coll_key_format(&b->key, name, sizeof(name)) != ERR_OK) {
		attest_coll_blob_unref(b);
		return;
	}
	e = entry_find(c, name);
	if (!e && c->nentries >= c->max_entries) {
		log_warn(LOG_PFX, "cache full (%zu entries): not loading %s from %s", c->nentries, name, b->source);
		attest_coll_blob_unref(b);
		return;
	}
	if (!e && !(e = entry_new(c, &b->key, name))) {
		attest_coll_blob_unref(b);
		return;
	}
	if (e->blob && !blob_better(b, e->blob, attest_collateral_now(c))) {
		attest_coll_blob_unref(b);
		return;
	}
	attest_coll_blob_unref(e->blob);
	e->blob = b;
}

/* ---- metrics ---- */

static void count(struct attest_collateral *c, enum attest_coll_kind k, int res)
{
	metric_add(c->m_req[k][res], 1);
}

static void metrics_setup(struct attest_collateral *c, struct metrics *m)
{
	char labels[96];

	for (unsigned k = 0; k < ATTEST_COLL_KIND_COUNT; k++) {
		const char *kn = attest_coll_kind_name((enum attest_coll_kind)k);
		for (unsigned r = 0; r < RES_COUNT; r++) {
			snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"", kn, res_names[r]);
			c->m_req[k][r] = metrics_series(m, METRIC_COUNTER, "attest_collateral_requests_total",
							"Collateral requests by kind and outcome (hit, miss = fetched, stale, error).",
							labels);
		}
		for (unsigned r = 0; r < UP_COUNT; r++) {
			snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"", kn, up_names[r]);
			c->m_up[k][r] = metrics_series(m, METRIC_COUNTER, "attest_collateral_upstream_fetches_total",
						       "Upstream collateral fetches (all attempts) by kind and outcome.",
						       labels);
		}
		snprintf(labels, sizeof(labels), "kind=\"%s\"", kn);
		c->m_fetch[k] = metrics_histogram(m, "attest_collateral_fetch_duration_seconds",
						  "Time to fetch collateral from upstream, retries included.", labels);
	}
	c->m_entries = metrics_series(m, METRIC_GAUGE, "attest_collateral_entries", "Collateral cache entries held.", NULL);
	for (unsigned r = 0; r < ARRAY_LEN(disk_names); r++) {
		snprintf(labels, sizeof(labels), "result=\"%s\"", disk_names[r]);
		c->m_disk[r] = metrics_series(m, METRIC_COUNTER, "attest_collateral_disk_writes_total",
					      "Cache files written after a fetch (ok), failed (error), or not queued (dropped).",
					      labels);
	}
	c->m_disk_pending = metrics_series(m, METRIC_GAUGE, "attest_collateral_disk_writes_pending",
					   "Fetched artefacts answered but not yet written to the disk cache.", NULL);
}

/* ---- disk cache ---- */

static void on_written(void *arg, const struct attest_coll_blob *b, err_t err, const char *detail)
{
	struct attest_collateral *c = arg;
	char name[ATTEST_COLL_KEY_MAX];

	metric_add(c->m_disk[err == ERR_OK ? DISK_OK : DISK_ERROR], 1);
	if (err != ERR_OK)
		log_warn(LOG_PFX, "%s: not written to the disk cache: %s",
			 attest_coll_key_format(&b->key, name, sizeof(name)) == ERR_OK ? name : "?",
			 detail ? detail : err_str(err));
	metric_set(c->m_disk_pending, (int64_t)attest_coll_writer_pending(c->writer));
}

/*
 * Persist a fetched artefact. The waiters are answered from memory without
 * waiting for this: the file is written afterwards, off the loop
 * (struct attest_coll_writer); losing it costs a refetch, never a wrong answer.
 */
static void disk_put(struct attest_collateral *c, struct coll_entry *e, struct attest_coll_blob *b)
{
	err_t err;

	if (!c->writer)
		return;
	err = attest_coll_writer_put(c->writer, b);
	if (err != ERR_OK) {
		metric_add(c->m_disk[DISK_DROPPED], 1);
		log_warn(LOG_PFX, "%s: not written to the disk cache: %s", e->name, err_str(err));
		return;
	}
	metric_set(c->m_disk_pending, (int64_t)attest_coll_writer_pending(c->writer));
}

/* ---- deferred completions ---- */

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct attest_collateral *c = arg;
	struct coll_deferred *list = c->dq;

	(void)fd;
	(void)what;
	c->dq = NULL;
	c->dq_tail = &c->dq;
	while (list) {
		struct coll_deferred *d = list;
		list = d->next;
		d->cb(d->arg, &d->r);
		attest_coll_blob_unref(d->r.blob);
		free(d);
	}
}

/* Queue a result for the next loop pass; the detail is copied. ERR_NOMEM leaves nothing queued. */
static err_t defer(struct attest_collateral *c, attest_coll_cb cb, void *arg, const struct attest_coll_result *r)
{
	struct coll_deferred *d = calloc(1, sizeof(*d));

	if (!d)
		return ERR_NOMEM;
	d->cb = cb;
	d->arg = arg;
	d->r = *r;
	snprintf(d->detail, sizeof(d->detail), "%s", r->detail ? r->detail : "");
	d->r.detail = d->detail;
	attest_coll_blob_ref(d->r.blob);
	*c->dq_tail = d;
	c->dq_tail = &d->next;
	event_active(c->dq_ev, EV_TIMEOUT, 1);
	return ERR_OK;
}

/* ---- upstream URLs ---- */

static const char *const keep_tcb[] = { "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain", NULL };
static const char *const keep_qe[] = { "SGX-Enclave-Identity-Issuer-Chain", NULL };
static const char *const keep_crl[] = { "SGX-PCK-CRL-Issuer-Chain", NULL };

static const char *const *keep_for(enum attest_coll_kind k)
{
	switch (k) {
	case ATTEST_COLL_TDX_TCB:
	case ATTEST_COLL_SGX_TCB:
		return keep_tcb;
	case ATTEST_COLL_TDX_QE_IDENTITY:
	case ATTEST_COLL_SGX_QE_IDENTITY:
		return keep_qe;
	case ATTEST_COLL_PCK_CRL_PROCESSOR:
	case ATTEST_COLL_PCK_CRL_PLATFORM:
		return keep_crl;
	default:
		return NULL;
	}
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n, int upper)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(w, upper ? "%02X" : "%02x", p[i]);
}

/* The upstream URL for a key (malloc'd), or NULL. */
static char *key_url(const struct attest_collateral *c, const struct attest_coll_key *k)
{
	struct buf_writer w;
	const char *p = c->pccs_base;

	buf_writer_init(&w, 4096);
	switch (k->kind) {
	case ATTEST_COLL_TDX_TCB:
	case ATTEST_COLL_SGX_TCB:
		buf_printf(&w, "%s/%s/certification/v4/tcb?fmspc=", p, k->kind == ATTEST_COLL_TDX_TCB ? "tdx" : "sgx");
		put_hex(&w, k->fmspc, sizeof(k->fmspc), 1);
		break;
	case ATTEST_COLL_TDX_QE_IDENTITY:
	case ATTEST_COLL_SGX_QE_IDENTITY:
		buf_printf(&w, "%s/%s/certification/v4/qe/identity", p,
			   k->kind == ATTEST_COLL_TDX_QE_IDENTITY ? "tdx" : "sgx");
		break;
	case ATTEST_COLL_PCK_CRL_PROCESSOR:
	case ATTEST_COLL_PCK_CRL_PLATFORM:
		buf_printf(&w, "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", p,
			   k->kind == ATTEST_COLL_PCK_CRL_PROCESSOR ? "processor" : "platform");
		break;
	case ATTEST_COLL_ROOT_CA_CRL:
		buf_put_str(&w, c->root_crl_url);
		break;
	case ATTEST_COLL_AMD_CERT_CHAIN:
		buf_printf(&w, "%s/vcek/v1/%s/cert_chain", c->kds_base, k->product);
		break;
	case ATTEST_COLL_AMD_CRL:
		buf_printf(&w, "%s/vcek/v1/%s/crl", c->kds_base, k->product);
		break;
	case ATTEST_COLL_AMD_VCEK: {
		/* KDS wants the SPLs in decimal; the byte positions differ on Turin (attestation.md B.1). */
		const uint64_t t = k->reported_tcb;
		int turin = strcmp(k->product, "Turin") == 0;
		unsigned bl = (unsigned)(t >> (turin ? 8 : 0)) & 0xff, tee = (unsigned)(t >> (turin ? 16 : 8)) & 0xff;
		unsigned snp = (unsigned)(t >> (turin ? 24 : 48)) & 0xff, ucode = (unsigned)(t >> 56) & 0xff;
		buf_printf(&w, "%s/vcek/v1/%s/", c->kds_base, k->product);
		put_hex(&w, k->hwid, k->hwid_len, 0);
		buf_printf(&w, "?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u", bl, tee, snp, ucode);
		if (turin)
			buf_printf(&w, "&fmcSPL=%u", (unsigned)(t & 0xff));
		break;
	}
	default:
		break;
	}
	if (!buf_cstr(&w)) {
		buf_writer_free(&w);
		return NULL;
	}
	return (char *)buf_take(&w, &(size_t){ 0 });
}

/* ---- fetches ---- */

static void fetch_free(struct coll_fetch *f)
{
	if (!f)
		return;
	if (f->retry_ev)
		event_free(f->retry_ev);
	free(f->url);
	free(f);
}

/*
 * The fetch is over: detach it from the entry and run every waiter with `r`
 * (the blob is kept alive across the callbacks, which may touch the cache).
 */
static void fetch_finish(struct coll_fetch *f, const struct attest_coll_result *r, int res)
{
	struct attest_collateral *c = f->c;
	struct coll_entry *e = f->e;
	struct coll_waiter *w = f->waiters;
	struct attest_coll_blob *hold = attest_coll_blob_ref(r->blob);

	metric_observe_ns(c->m_fetch[e->key.kind], mono_ns() - f->started_ns);
	e->fetch = NULL;
	c->ninflight--;
	f->waiters = NULL;
	while (w) {
		struct coll_waiter *n = w->next;
		count(c, e->key.kind, res);
		w->cb(w->arg, r);
		free(w);
		w = n;
	}
	attest_coll_blob_unref(hold);
	fetch_free(f);
}

/* Upstream failed for good: serve stale within max_stale, else the error. */
static void fetch_failed(struct coll_fetch *f, err_t err, int status)
{
	struct attest_collateral *c = f->c;
	struct coll_entry *e = f->e;
	uint64_t now = attest_collateral_now(c);
	struct attest_coll_result r = { 0 };

	e->last_err = err;
	e->last_status = status;
	snprintf(e->last_detail, sizeof(e->last_detail), "%s", f->detail);
	e->fail_until = now + c->cfg.error_holdoff_s;
	if (!c->closing && blob_stale_ok(c, e->blob, now)) {
		r.blob = e->blob;
		r.stale = now >= blob_expiry(c, e->blob);
		r.from_cache = 1;
		r.detail = f->detail;
		log_warn(LOG_PFX, "%s: %s; serving the cached copy (expires %llu, now %llu)%s", e->name, f->detail,
			 (unsigned long long)blob_expiry(c, e->blob), (unsigned long long)now,
			 r.stale ? ", stale" : "");
		fetch_finish(f, &r, r.stale ? RES_STALE : RES_HIT);
		return;
	}
	if (!c->closing)
		log_warn(LOG_PFX, "%s: %s%s", e->name, f->detail,
			 e->blob ? "; the cached copy is past max_stale" : "");
	r.err = err;
	r.upstream_status = status;
	r.detail = f->detail;
	fetch_finish(f, &r, RES_ERROR);
}

static uint32_t backoff_ms(const struct attest_collateral *c, unsigned retry)
{
	uint64_t d = c->cfg.retry_backoff_ms ? c->cfg.retry_backoff_ms : DEFAULT_BACKOFF_MS;

	for (unsigned i = 1; i < retry && d < MAX_BACKOFF_MS; i++)
		d *= 2;
	d = MIN(d, (uint64_t)MAX_BACKOFF_MS);
	/* Jitter so that caches that failed together do not retry together. */
	return (uint32_t)(d / 2 + (mono_ns() >> 10) % (d / 2 + 1));
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct coll_fetch *f = arg;

	(void)fd;
	(void)what;
	if (f->start_failed)
		fetch_failed(f, ERR_UNAVAILABLE, 0);
	else
		fetch_start_attempt(f);
}

/* Transport errors, 429 and 5xx may be transient; anything else will not change by asking again. */
static int retryable(err_t err, long status)
{
	if (err != ERR_OK)
		return err != ERR_CANCELLED && err != ERR_PROTO_TOO_LARGE && err != ERR_IO_TLS && err != ERR_IO_FILE;
	return status == 429 || status >= 500;
}

static err_t chain_from_headers(const struct http_response *res, enum attest_coll_kind k, struct buf_writer *out)
{
	const char *const *names = keep_for(k);

	if (!names)
		return ERR_OK;
	for (size_t i = 0; names[i]; i++) {
		const char *v = http_response_header(res, names[i]);
		if (v)
			return attest_coll_url_decode(v, strlen(v), out);
	}
	return ERR_NOT_FOUND;
}

static void on_http_done(void *arg, struct http_response *res)
{
	struct coll_fetch *f = arg;
	struct attest_collateral *c = f->c;
	struct coll_entry *e = f->e;
	const char *kn = attest_coll_kind_name(e->key.kind);
	struct attest_coll_blob *b = NULL;
	struct attest_coll_result r = { 0 };
	struct buf_writer chain;
	const char *detail = NULL;
	uint64_t now;
	err_t err;

	f->http = NULL;
	buf_writer_init(&chain, FETCH_MAX_HEADERS);
	if (res->err != ERR_OK || res->status != 200) {
		int not_found = res->err == ERR_OK && res->status == 404;
		metric_add(c->m_up[e->key.kind][not_found ? UP_NOT_FOUND : UP_ERROR], 1);
		if (res->err != ERR_OK)
			snprintf(f->detail, sizeof(f->detail), "%s upstream: %s", kn, res->detail);
		else
			snprintf(f->detail, sizeof(f->detail), "%s upstream: HTTP %ld", kn, res->status);
		if (not_found) {
			/* A definitive answer: remember it, do not serve stale for a key upstream disowns. */
			e->not_found_until = attest_collateral_now(c) + c->cfg.not_found_ttl_s;
			snprintf(f->detail, sizeof(f->detail), "%.160s: not found upstream", e->name);
			r.err = ERR_NOT_FOUND;
			r.upstream_status = 404;
			r.detail = f->detail;
			fetch_finish(f, &r, RES_ERROR);
			goto out;
		}
		if (!c->closing && retryable(res->err, res->status) && f->attempt <= c->cfg.retries) {
			struct timeval tv;
			uint32_t d = backoff_ms(c, f->attempt);
			tv.tv_sec = d / 1000;
			tv.tv_usec = (d % 1000) * 1000;
			log_debug(LOG_PFX, "%s: attempt %u failed (%s); retrying in %u ms", e->name, f->attempt, f->detail, d);
			if (evtimer_add(f->retry_ev, &tv) == 0)
				goto out;
		}
		fetch_failed(f, res->err != ERR_OK ? (res->err == ERR_CANCELLED ? ERR_CANCELLED : ERR_UNAVAILABLE)
						   : ERR_UNAVAILABLE,
			     res->err == ERR_OK ? (int)res->status : 0);
		goto out;
	}
	err = chain_from_headers(res, e->key.kind, &chain);
	if (err != ERR_OK) {
		detail = err == ERR_NOT_FOUND ? "issuer chain header missing" : "issuer chain header malformed";
	} else {
		now = attest_collateral_now(c);
		err = attest_coll_blob_new_certs(&e->key, res->body, res->body_len, (const char *)chain.p, chain.len,
						 now, f->url, c->certs, &b, &detail);
	}
	if (err != ERR_OK) {
		metric_add(c->m_up[e->key.kind][UP_INVALID], 1);
		snprintf(f->detail, sizeof(f->detail), "%s upstream sent an invalid answer: %s", kn,
			 detail ? detail : err_str(err));
		fetch_failed(f, ERR_UNAVAILABLE, 200);
		goto out;
	}
	metric_add(c->m_up[e->key.kind][UP_OK], 1);
	now = attest_collateral_now(c);
	attest_coll_blob_unref(e->blob);
	e->blob = b;
	e->fail_until = 0;
	e->not_found_until = 0;
	e->last_err = ERR_OK;
	log_info(LOG_PFX, "%s: fetched %zu bytes, valid until %llu%s", e->name, b->body_len,
		 (unsigned long long)b->next_update, now >= blob_expiry(c, b) ? " (already expired upstream)" : "");
	disk_put(c, e, b);
	r.blob = b;
	r.stale = now >= blob_expiry(c, b);
	fetch_finish(f, &r, RES_MISS);
out:
	buf_writer_free(&chain);
}

static void fetch_start_attempt(struct coll_fetch *f)
{
	struct attest_collateral *c = f->c;
	const struct http_fetch_opts o = {
		.timeout_ms = c->cfg.timeout_ms ? c->cfg.timeout_ms : DEFAULT_TIMEOUT_MS,
		.max_body = FETCH_MAX_BODY,
		.max_header_bytes = FETCH_MAX_HEADERS,
		.keep_headers = keep_for(f->e->key.kind),
		.ca_file = c->cfg.ca_file,
		.max_redirects = 3,
		.user_agent = "dstack-attest",
	};
	err_t err;

	f->attempt++;
	err = http_fetch_start(c->http, f->url, &o, on_http_done, f, &f->http);
	if (err != ERR_OK) {
		/* Waiters must hear from the loop, never from inside attest_collateral_get: fail on the next pass. */
		snprintf(f->detail, sizeof(f->detail), "%s upstream: cannot start the fetch: %s",
			 attest_coll_kind_name(f->e->key.kind), err_str(err));
		f->start_failed = 1;
		event_active(f->retry_ev, EV_TIMEOUT, 1);
	}
}

/*
 * Start the one fetch for `e`. Returns it with no waiters, or NULL when it
 * could not be set up (the caller then answers from what the entry has).
 */
static struct coll_fetch *fetch_new(struct attest_collateral *c, struct coll_entry *e)
{
	struct coll_fetch *f;

	if (c->ninflight >= MAX_INFLIGHT)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->c = c;
	f->e = e;
	f->wtail = &f->waiters;
	f->url = key_url(c, &e->key);
	f->retry_ev = evtimer_new(c->base, on_retry, f);
	if (!f->url || !f->retry_ev) {
		fetch_free(f);
		return NULL;
	}
	f->started_ns = mono_ns();
	e->fetch = f;
	c->ninflight++;
	return f;
}

/* ---- lookups ---- */

static void maybe_prefetch(struct attest_collateral *c, struct coll_entry *e, uint64_t now)
{
	struct coll_fetch *f;

	uint64_t window;

	if (c->cfg.mode != ATTEST_COLL_MODE_PCCS || !c->cfg.refresh_before_s || e->fetch || now < e->fail_until)
		return;
	window = blob_expiry(c, e->blob) - MIN(c->cfg.refresh_before_s, blob_expiry(c, e->blob));
	/*
	 * Once per artefact: a copy fetched inside the window was the refresh
	 * (upstream had nothing newer), so the next fetch waits for expiry.
	 */
	if (now < window || e->blob->fetched_at >= window)
		return;
	f = fetch_new(c, e);
	if (!f)
		return;
	log_debug(LOG_PFX, "%s: refreshing ahead of expiry", e->name);
	/* No waiters: the result only updates the entry. The attempt may fail at once, which frees f. */
	fetch_start_attempt(f);
}

static void result_from_entry(const struct attest_collateral *c, struct coll_entry *e, uint64_t now,
			      struct attest_coll_result *r)
{
	memset(r, 0, sizeof(*r));
	r->blob = e->blob;
	r->stale = now >= blob_expiry(c, e->blob);
	r->from_cache = 1;
	e->hits++;
}

static err_t key_name(const struct attest_coll_key *k, char *name)
{
	return attest_coll_key_format(k, name, ATTEST_COLL_KEY_MAX);
}

err_t attest_collateral_peek(struct attest_collateral *c, const struct attest_coll_key *k,
			     struct attest_coll_result *out)
{
	char name[ATTEST_COLL_KEY_MAX];
	struct coll_entry *e;
	uint64_t now;

	memset(out, 0, sizeof(*out));
	if (!c || c->closing || key_name(k, name) != ERR_OK)
		return ERR_NOT_FOUND;
	e = entry_find(c, name);
	if (!e || !e->blob)
		return ERR_NOT_FOUND;
	now = attest_collateral_now(c);
	if (c->cfg.mode == ATTEST_COLL_MODE_OFFLINE) {
		result_from_entry(c, e, now, out);
		count(c, k->kind, out->stale ? RES_STALE : RES_HIT);
		return ERR_OK;
	}
	if (!blob_fresh(c, e->blob, now))
		return ERR_NOT_FOUND;
	result_from_entry(c, e, now, out);
	count(c, k->kind, RES_HIT);
	maybe_prefetch(c, e, now);
	return ERR_OK;
}

err_t attest_collateral_get(struct attest_collateral *c, const struct attest_coll_key *k, attest_coll_cb cb,
			    void *arg)
{
	char name[ATTEST_COLL_KEY_MAX];
	struct attest_coll_result r = { 0 };
	struct coll_entry *e;
	struct coll_fetch *f;
	struct coll_waiter *w;
	uint64_t now;
	int res;
	err_t err;

	if (!c || !cb || key_name(k, name) != ERR_OK)
		return ERR_INVALID_ARG;
	if (c->closing)
		return ERR_SHUTTING_DOWN;
	now = attest_collateral_now(c);
	e = entry_find(c, name);

	if (c->cfg.mode == ATTEST_COLL_MODE_OFFLINE) {
		if (e && e->blob) {
			result_from_entry(c, e, now, &r);
			res = r.stale ? RES_STALE : RES_HIT;
		} else {
			r.err = ERR_ATTEST_COLLATERAL_MISSING;
			r.detail = "not in the offline collateral directory";
			res = RES_ERROR;
		}
		goto answer;
	}
	if (e && blob_fresh(c, e->blob, now)) {
		result_from_entry(c, e, now, &r);
		res = RES_HIT;
		maybe_prefetch(c, e, now);
		goto answer;
	}
	if (e && e->fetch) {
		f = e->fetch;
		goto wait;
	}
	if (e && now < e->not_found_until) {
		r.err = ERR_NOT_FOUND;
		r.upstream_status = 404;
		r.detail = "not found upstream";
		res = RES_ERROR;
		goto answer;
	}
	if (e && now < e->fail_until) {
		/* Upstream failed moments ago: answer from what we have instead of hammering it. */
		if (blob_stale_ok(c, e->blob, now)) {
			result_from_entry(c, e, now, &r);
			res = RES_STALE;
		} else {
			r.err = e->last_err ? e->last_err : ERR_UNAVAILABLE;
			r.upstream_status = e->last_status;
			r.detail = e->last_detail;
			res = RES_ERROR;
		}
		goto answer;
	}
	if (!e && !(e = entry_new(c, k, name)))
		return ERR_OVERLOADED;
	f = fetch_new(c, e);
	if (!f)
		return ERR_OVERLOADED;
	w = calloc(1, sizeof(*w));
	if (!w) {
		/* Nobody waits: let the fetch run to refresh the entry anyway. */
		fetch_start_attempt(f);
		return ERR_NOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	*f->wtail = w;
	f->wtail = &w->next;
	f->nwaiters++;
	/* Even a failure to start is answered from the loop (fetch_start_attempt defers it). */
	fetch_start_attempt(f);
	return ERR_OK;
wait:
	if (f->nwaiters >= MAX_WAITERS)
		return ERR_OVERLOADED;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ERR_NOMEM;
	w->cb = cb;
	w->arg = arg;
	*f->wtail = w;
	f->wtail = &w->next;
	f->nwaiters++;
	return ERR_OK;
answer:
	err = defer(c, cb, arg, &r);
	if (err != ERR_OK)
		return err;
	count(c, k->kind, res);
	return ERR_OK;
}

/* ---- lifecycle ---- */

/* "https://host/x/" -> "https://host/x"; also drops a trailing API prefix as dcap-qvl does. */
static char *base_url(const char *u, const char *drop1, const char *drop2)
{
	size_t n = strlen(u), d;
	char *out;

	while (n && u[n - 1] == '/')
		n--;
	d = drop1 ? strlen(drop1) : 0;
	if (d && n >= d && memcmp(u + n - d, drop1, d) == 0)
		n -= d;
	d = drop2 ? strlen(drop2) : 0;
	if (d && n >= d && memcmp(u + n - d, drop2, d) == 0)
		n -= d;
	out = malloc(n + 1);
	if (out) {
		memcpy(out, u, n);
		out[n] = 0;
	}
	return out;
}

static int dir_exists(const char *d)
{
	struct stat st;

	return d && stat(d, &st) == 0 && S_ISDIR(st.st_mode);
}

struct attest_collateral *attest_collateral_new(struct event_base *base, struct metrics *m,
						const struct attest_coll_config *cfg, const char **detail)
{
	struct attest_collateral *c = NULL;
	size_t skipped;

	*detail = "out of memory";
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = base;
	c->cfg = *cfg;
	c->dq_tail = &c->dq;
	c->clock_mono_ms = mono_ms();
	c->max_entries = cfg->max_entries ? cfg->max_entries : DEFAULT_MAX_ENTRIES;
	c->dq_ev = event_new(base, -1, 0, on_deferred, c);
	c->certs = attest_coll_certs_new();
	if (!c->dq_ev || !c->certs || attest_coll_certs_add_intel(c->certs) != ERR_OK)
		goto fail;
	metrics_setup(c, m);

	if (cfg->mode == ATTEST_COLL_MODE_PCCS) {
		if (!cfg->pccs_url || !cfg->amd_kds_url) {
			*detail = "collateral.pccs_url and collateral.amd_kds_url are required in pccs mode";
			goto fail;
		}
		c->pccs_base = base_url(cfg->pccs_url, "/sgx/certification/v4", "/tdx/certification/v4");
		c->kds_base = base_url(cfg->amd_kds_url, "/vcek/v1", NULL);
		if (!c->pccs_base || !c->kds_base)
			goto fail;
		if (cfg->root_ca_crl_url)
			c->root_crl_url = strdup(cfg->root_ca_crl_url);
		else if (strncasecmp(c->pccs_base, INTEL_PCS_PREFIX, strlen(INTEL_PCS_PREFIX)) == 0)
			/* Intel PCS has no rootcacrl route; the CRL lives at the root's distribution point. */
			c->root_crl_url = strdup(INTEL_ROOT_CRL_URL);
		else
			c->root_crl_url = malloc(strlen(c->pccs_base) + 64);
		if (!c->root_crl_url)
			goto fail;
		if (!cfg->root_ca_crl_url && strncasecmp(c->pccs_base, INTEL_PCS_PREFIX, strlen(INTEL_PCS_PREFIX)) != 0)
			snprintf(c->root_crl_url, strlen(c->pccs_base) + 64, "%s/sgx/certification/v4/rootcacrl",
				 c->pccs_base);
		c->http = http_fetcher_new(base);
		if (!c->http) {
			*detail = "cannot set up libcurl";
			goto fail;
		}
		if (cfg->cache_dir) {
			if (!dir_exists(cfg->cache_dir) && mkdir(cfg->cache_dir, 0700) != 0)
				log_warn(LOG_PFX, "cannot create collateral.cache_dir %s (%s): caching in memory only",
					 cfg->cache_dir, strerror(errno));
			if (dir_exists(cfg->cache_dir) &&
			    !(c->writer = attest_coll_writer_new(base, cfg->cache_dir, on_written, c))) {
				*detail = "cannot start the disk cache writer";
				goto fail;
			}
		}
	}
	/* Offline mode reads the cache directory too (read-only), so a warmed cache can go offline. */
	if (cfg->cache_dir && dir_exists(cfg->cache_dir)) {
		skipped = attest_coll_cache_load_dir(cfg->cache_dir, attest_collateral_now(c), on_found, c);
		log_info(LOG_PFX, "disk cache %s: %zu entries loaded, %zu files skipped", cfg->cache_dir, c->nentries,
			 skipped);
	}
	if (cfg->mode == ATTEST_COLL_MODE_OFFLINE) {
		if (cfg->dir) {
			size_t before = c->nentries;
			if (!dir_exists(cfg->dir)) {
				*detail = "collateral.dir is not a directory";
				goto fail;
			}
			skipped = attest_coll_offline_load_dir(cfg->dir, attest_collateral_now(c), on_found, c);
			log_info(LOG_PFX, "offline directory %s: %zu new entries, %zu files skipped", cfg->dir,
				 c->nentries - before, skipped);
		} else if (c->nentries == 0) {
			log_warn(LOG_PFX, "offline mode without collateral.dir and an empty cache: no collateral to serve");
		}
	}
	if (cfg->test_now)
		log_warn(LOG_PFX, "collateral.test_now is set: the collateral clock is fake (tests only)");
	*detail = NULL;
	return c;
fail:
	attest_collateral_free(c);
	return NULL;
}

void attest_collateral_free(struct attest_collateral *c)
{
	if (!c)
		return;
	c->closing = 1;
	/* Cancels fetches in flight: on_http_done runs for each and answers its waiters with ERR_CANCELLED. */
	http_fetcher_free(c->http);
	c->http = NULL;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct coll_entry *e = c->buckets[b]; e; e = e->hnext)
			if (e->fetch) {
				/* Waiting out a retry backoff. */
				snprintf(e->fetch->detail, sizeof(e->fetch->detail), "collateral cache shutting down");
				fetch_failed(e->fetch, ERR_CANCELLED, 0);
			}
	if (c->dq_ev) {
		on_deferred(-1, 0, c);
		event_free(c->dq_ev);
	}
	/* Every fetched artefact still queued is written before this returns. */
	attest_coll_writer_free(c->writer);
	c->writer = NULL;
	for (size_t b = 0; b < BUCKETS; b++)
		while (c->buckets[b]) {
			struct coll_entry *e = c->buckets[b];
			c->buckets[b] = e->hnext;
			entry_free(e);
		}
	attest_coll_certs_free(c->certs);
	free(c->pccs_base);
	free(c->kds_base);
	free(c->root_crl_url);
	free(c);
}

err_t attest_collateral_add_cert(struct attest_collateral *c, struct x509_st *x)
{
	if (!c || !x)
		return ERR_INVALID_ARG;
	return attest_coll_certs_add(c->certs, x);
}

size_t attest_collateral_entries(const struct attest_collateral *c)
{
	return c->nentries;
}

int attest_collateral_mode(const struct attest_collateral *c)
{
	return c->cfg.mode;
}

/* ---- several keys at once ---- */

struct gather {
	struct attest_collateral *c;
	attest_coll_multi_cb cb;
	void *arg;
	size_t n;
	unsigned optional;                 /* bit i: part i may fail */
	struct attest_coll_blob *blobs[ATTEST_COLL_MULTI_MAX];
	unsigned pending;
	struct attest_coll_multi out;
	char detail[DETAIL_MAX];
};

struct gather_part {
	struct gather *g;
	unsigned idx;
};

static void gather_done(struct gather *g)
{
	g->out.detail = g->detail;
	for (size_t i = 0; i < g->n; i++)
		g->out.blobs[i] = g->blobs[i];
	if (g->out.err == ERR_OK) {
		g->out.expires_at = UINT64_MAX;
		g->out.fetched_at = UINT64_MAX;
		for (size_t i = 0; i < g->n; i++) {
			const struct attest_coll_blob *b = g->blobs[i];
			if (!b)
				continue;
			g->out.expires_at = MIN(g->out.expires_at, blob_expiry(g->c, b));
			g->out.fetched_at = MIN(g->out.fetched_at, b->fetched_at);
			if (!g->out.issued_at || b->issued_at < g->out.issued_at)
				g->out.issued_at = b->issued_at;
		}
	}
	g->cb(g->arg, &g->out);
	for (size_t i = 0; i < g->n; i++)
		attest_coll_blob_unref(g->blobs[i]);
	free(g);
}

static void gather_fail(struct gather *g, unsigned idx, err_t err, int status, const char *detail)
{
	if (g->optional & (1u << idx))
		return;
	if (g->out.err == ERR_OK) {
		g->out.err = err;
		g->out.upstream_status = status;
		snprintf(g->detail, sizeof(g->detail), "%s", detail);
	}
}

static void on_gather_part(void *arg, const struct attest_coll_result *r)
{
	struct gather_part *p = arg;
	struct gather *g = p->g;

	if (r->err != ERR_OK) {
		gather_fail(g, p->idx, r->err, r->upstream_status, r->detail && r->detail[0] ? r->detail : err_str(r->err));
	} else {
		g->blobs[p->idx] = attest_coll_blob_ref(r->blob);
		g->out.stale |= r->stale;
		g->out.from_cache &= r->from_cache;
	}
	free(p);
	if (--g->pending == 0)
		gather_done(g);
}

err_t attest_collateral_get_many(struct attest_collateral *c, const struct attest_coll_key *keys, size_t n,
				 unsigned optional, attest_coll_multi_cb cb, void *arg)
{
	struct gather *g;
	unsigned started = 0;
	err_t first = ERR_OK;

	if (!c || !keys || !cb || n == 0 || n > ATTEST_COLL_MULTI_MAX)
		return ERR_INVALID_ARG;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ERR_NOMEM;
	g->c = c;
	g->cb = cb;
	g->arg = arg;
	g->n = n;
	g->optional = optional;
	g->pending = (unsigned)n;
	g->out.from_cache = 1;
	for (unsigned i = 0; i < n; i++) {
		struct gather_part *p = calloc(1, sizeof(*p));
		err_t e = p ? ERR_OK : ERR_NOMEM;
		if (p) {
			p->g = g;
			p->idx = i;
			e = attest_collateral_get(c, &keys[i], on_gather_part, p);
			if (e != ERR_OK)
				free(p);
		}
		if (e == ERR_OK) {
			started++;
			continue;
		}
		/* Parts already started still call back; this one is done, with its error. */
		if (first == ERR_OK)
			first = e;
		gather_fail(g, i, e, 0, err_str(e));
		g->pending--;
	}
	if (started == 0) {
		free(g);
		return first;
	}
	return ERR_OK;
}

/* ---- DCAP bundle ---- */

struct dcap_req {
	attest_coll_dcap_cb cb;
	void *arg;
};

static void on_dcap_parts(void *arg, const struct attest_coll_multi *m)
{
	struct dcap_req *q = arg;
	struct attest_coll_dcap out = { 0 };
	struct buf_writer w;

	buf_writer_init(&w, (size_t)16 << 20);
	out.err = m->err;
	out.detail = m->detail;
	out.stale = m->stale;
	out.expires_at = m->expires_at;
	out.issued_at = m->issued_at;
	for (unsigned i = 0; i < 4; i++)
		out.parts[i] = m->blobs[i];
	if (out.err == ERR_OK) {
		out.err = attest_coll_dcap_json(m->blobs[0], m->blobs[1], m->blobs[2], m->blobs[3], &w);
		if (out.err == ERR_OK && buf_cstr(&w)) {
			out.json = (const char *)w.p;
			out.len = w.len;
		} else {
			out.err = out.err != ERR_OK ? out.err : ERR_NOMEM;
			out.detail = "cannot assemble the collateral JSON";
		}
	}
	q->cb(q->arg, &out);
	buf_writer_free(&w);
	free(q);
}

void attest_coll_dcap_keys(enum attest_coll_tee tee, const uint8_t fmspc[ATTEST_COLL_FMSPC_LEN],
			   enum attest_coll_ca ca, struct attest_coll_key keys[4])
{
	memset(keys, 0, 4 * sizeof(keys[0]));
	keys[0].kind = tee == ATTEST_COLL_TEE_TDX ? ATTEST_COLL_TDX_TCB : ATTEST_COLL_SGX_TCB;
	memcpy(keys[0].fmspc, fmspc, ATTEST_COLL_FMSPC_LEN);
	keys[1].kind = tee == ATTEST_COLL_TEE_TDX ? ATTEST_COLL_TDX_QE_IDENTITY : ATTEST_COLL_SGX_QE_IDENTITY;
	keys[2].kind = ca == ATTEST_COLL_CA_PROCESSOR ? ATTEST_COLL_PCK_CRL_PROCESSOR : ATTEST_COLL_PCK_CRL_PLATFORM;
	keys[3].kind = ATTEST_COLL_ROOT_CA_CRL;
}

err_t attest_collateral_get_dcap(struct attest_collateral *c, enum attest_coll_tee tee,
				 const uint8_t fmspc[ATTEST_COLL_FMSPC_LEN], enum attest_coll_ca ca,
				 attest_coll_dcap_cb cb, void *arg)
{
	struct attest_coll_key keys[4];
	struct dcap_req *q;
	err_t e;

	if (!c || !fmspc || !cb || (tee != ATTEST_COLL_TEE_SGX && tee != ATTEST_COLL_TEE_TDX) ||
	    (ca != ATTEST_COLL_CA_PROCESSOR && ca != ATTEST_COLL_CA_PLATFORM))
		return ERR_INVALID_ARG;
	attest_coll_dcap_keys(tee, fmspc, ca, keys);
	q = calloc(1, sizeof(*q));
	if (!q)
		return ERR_NOMEM;
	q->cb = cb;
	q->arg = arg;
	e = attest_collateral_get_many(c, keys, 4, 0, on_dcap_parts, q);
	if (e != ERR_OK)
		free(q);
	return e;
}
