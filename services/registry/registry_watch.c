/* SPDX-License-Identifier: Apache-2.0 */
/* Chain watcher: poll, bounded eth_getLogs, App discovery and backfill, header checks, commit, reorg rewind, checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enc.h"
#include "ethrpc.h"
#include "json.h"
#include "jsonrpc.h"
#include "log.h"
#include "registry_chain.h"
#include "registry_checkpoint.h"
#include "registry_watch.h"

#define RECENT_EXTRA 64u           /* block hashes kept beyond the confirmation depth */
#define RECENT_CAP REGISTRY_CHECKPOINT_MAX_RECENT   /* and never more than one header batch */
#define HEADER_BATCH 400u          /* headers per JSON-RPC batch */
#define STEP_MAX_BLOCKS 2000u      /* distinct blocks with logs in one range (the range is cut to fit) */
#define STEP_MAX_NEW_APPS 128u     /* AppRegistered handled in one step (the range is cut to fit) */
#define STEP_ARENA (512u << 20)    /* JSON and decoded logs of one step */
#define RETRY_MS 200u              /* after a transient failure (the chain moved under a step) */

/* createdAtBlock() */
static const uint8_t sel_created_at[4] = { 0x59, 0xac, 0xb4, 0x2c };

/* A log of the step with its decoded event. */
struct plog {
	struct eth_log log;
	struct registry_event ev;
};

struct new_app {
	uint8_t id[REGISTRY_ADDR_LEN];
	size_t plog;               /* index of its AppRegistered log */
	int ours;
	uint64_t created;
};

struct step {
	struct arena mem;
	uint64_t from, to, target;
	uint64_t head_seen_at;     /* last_head_seen when the target was chosen */
	size_t distinct;           /* blocks with logs in the range (after any cut) */
	int cut;                   /* the range was cut short: more logs came back than one step takes */
	struct plog *logs;         /* malloc'd, grows */
	size_t nlogs, cap;
	struct new_app apps[STEP_MAX_NEW_APPS];
	size_t napps;
	int code_latest;           /* the node has no state at `to`: App code and createdAtBlock read at latest */
	size_t bf_app;             /* backfill: which app, from which block */
	uint64_t bf_next;
	uint64_t *numbers;         /* blocks whose headers are needed, sorted unique */
	struct eth_block_header *headers;
	size_t nnumbers, nfetched;
};

struct ep_stat {
	uint64_t last_ok, last_error_at, head;
	err_t last_error;
	char detail[192];
	uint32_t latency_ms;
	int wrong_chain;
};

struct xcheck {
	struct registry_watch *w;
	registry_watch_check_cb cb;
	void *arg;
	struct arena mem;
	struct xcheck *prev, *next;
};

struct registry_watch {
	struct event_base *base;
	struct registry_watch_config cfg;
	struct jsonrpc_client *rpc;
	struct registry_chain_abi *abi;
	struct registry_audit *audit;
	struct registry_state *state;
	registry_watch_publish_fn publish;
	void *arg;
	struct event *timer;
	uint64_t call_started_ms;
	struct step *step;
	int closing;

	int have_cp;
	uint64_t cp, cp_time;
	uint8_t cp_hash[32];
	int have_head;
	uint64_t head, head_time, started;
	uint64_t last_head_seen;   /* when the newest head was first seen */
	uint64_t fresh_at;         /* last_head_seen of the newest head whose target we fully applied: staleness clock */
	int wrong_chain;           /* the last poll's endpoint reported another chain id */
	uint8_t head_hash[32];
	struct registry_checkpoint_block recent[RECENT_CAP];
	size_t nrecent, recent_max;
	uint8_t (*tracked)[REGISTRY_ADDR_LEN];   /* [0] is the registry; then registered Apps with our code */
	size_t ntracked, tracked_cap;
	uint32_t range;            /* blocks per eth_getLogs now: log_range, less while ranges come back cut */

	uint64_t reorgs, last_reorg_block, ignored;
	err_t last_err;
	char last_err_detail[256];
	uint64_t last_err_at;
	struct ep_stat eps[JSONRPC_MAX_ENDPOINTS];
	int active_ep;
	struct xcheck *xchecks;

	char events_path[4096];
	char tmp_path[4096];

	struct metric *m_head, *m_cp, *m_lag, *m_events, *m_reorgs, *m_errors, *m_ignored;
};

static void poll_start(struct registry_watch *w);
static void step_begin(struct registry_watch *w, uint64_t from, uint64_t target);
static void reorg_start(struct registry_watch *w);

/* ---------------------------------------------------------------------------------------------- */
/* Small helpers                                                                                  */

static void schedule(struct registry_watch *w, uint32_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	if (!w->closing)
		evtimer_add(w->timer, &tv);
}

static void step_free(struct step *s)
{
	if (!s)
		return;
	arena_fini(&s->mem);
	free(s->logs);
	free(s->numbers);
	free(s->headers);
	free(s);
}

static void set_error(struct registry_watch *w, err_t err, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void set_error(struct registry_watch *w, err_t err, const char *fmt, ...)
{
	char d[sizeof(w->last_err_detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	/* Log a failure once, not on every poll while it lasts. */
	if (w->last_err != err || strcmp(d, w->last_err_detail) != 0)
		log_warn(NULL, "chain watcher: %s (%s); keeping the snapshot at block %llu", d, err_name(err),
			 (unsigned long long)w->cp);
	w->last_err = err;
	memcpy(w->last_err_detail, d, sizeof(d));
	w->last_err_at = wall_s();
	metric_add(w->m_errors, 1);
}

/* A step (or poll) failed: keep everything as it was and try again later. */
static void step_fail(struct registry_watch *w, uint32_t retry_ms, err_t err, const char *fmt, ...) PRINTF_LIKE(4, 5);

static void step_fail(struct registry_watch *w, uint32_t retry_ms, err_t err, const char *fmt, ...)
{
	char d[sizeof(w->last_err_detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	set_error(w, err, "%s", d);
	step_free(w->step);
	w->step = NULL;
	schedule(w, retry_ms);
}

static void note_endpoint(struct registry_watch *w, const struct jsonrpc_info *info)
{
	struct ep_stat *e;
	uint64_t now = wall_s();

	if (info->endpoint < 0 || info->endpoint >= JSONRPC_MAX_ENDPOINTS)
		return;
	e = &w->eps[info->endpoint];
	if (info->err == ERR_OK) {
		e->last_ok = now;
		e->latency_ms = (uint32_t)MIN(mono_ms() - w->call_started_ms, UINT32_MAX);
		w->active_ep = info->endpoint;
	} else {
		e->last_error = info->err;
		e->last_error_at = now;
		snprintf(e->detail, sizeof(e->detail), "%s", info->detail);
	}
}

static int tracked_index(const struct registry_watch *w, const uint8_t addr[20])
{
	for (size_t i = 0; i < w->ntracked; i++)
		if (memcmp(w->tracked[i], addr, 20) == 0)
			return (int)i;
	return -1;
}

static err_t tracked_add(struct registry_watch *w, const uint8_t addr[20])
{
	if (tracked_index(w, addr) >= 0)
		return ERR_OK;
	if (w->ntracked == w->tracked_cap) {
		size_t ncap = w->tracked_cap ? w->tracked_cap * 2 : 16;
		uint8_t(*n)[REGISTRY_ADDR_LEN] = realloc(w->tracked, ncap * sizeof(*n));

		if (!n)
			return ERR_NOMEM;
		w->tracked = n;
		w->tracked_cap = ncap;
	}
	memcpy(w->tracked[w->ntracked++], addr, 20);
	return ERR_OK;
}

static void track_app(void *arg, const uint8_t id[REGISTRY_ADDR_LEN], uint32_t flags)
{
	struct registry_watch *w = arg;

	if ((flags & REGISTRY_APP_REGISTERED) && (flags & REGISTRY_APP_HAS_CODE) && tracked_add(w, id) != ERR_OK)
		log_error(NULL, "chain watcher: out of memory tracking apps");
}

/* Rebuild the policy from the audit log (after a reorg, a failed commit, or at start). */
static err_t refold(struct registry_watch *w)
{
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	err_t err = ERR_OK;

	if (!st)
		return ERR_NOMEM;
	registry_state_set_chain(st, w->cfg.chain_id, w->cfg.kms, NULL);
	for (size_t i = 0; i < registry_audit_count(w->audit); i++) {
		const struct registry_event *ev = registry_audit_at(w->audit, i);

		if ((err = registry_chain_apply(st, ev, w->cfg.kms)) != ERR_OK) {
			log_error(NULL, "chain watcher: event %zu (%s, block %llu) does not apply: %s", i, ev->name,
				  (unsigned long long)ev->block, err_str(err));
			registry_state_free(st);
			return err;
		}
	}
	registry_state_free(w->state);
	w->state = st;
	w->ntracked = 0;
	if ((err = tracked_add(w, w->cfg.kms)) != ERR_OK)
		return err;
	registry_state_foreach_app(st, track_app, w);
	return ERR_OK;
}

static void publish_snapshot(struct registry_watch *w)
{
	struct registry_snapshot_meta meta;
	struct registry_snapshot *s = NULL;
	err_t err = ERR_OK;

	memset(&meta, 0, sizeof(meta));
	if (w->have_cp) {
		meta.block_number = w->cp;
		memcpy(meta.block_hash, w->cp_hash, 32);
		meta.block_time = w->cp_time;
	}
	meta.loaded_at = wall_s();
	meta.events_applied = registry_audit_count(w->audit);
	if ((err = registry_state_freeze(w->state, &meta, &s)) != ERR_OK) {
		set_error(w, err, "cannot make a snapshot: %s", err_str(err));
		return;
	}
	metric_set(w->m_cp, (int64_t)w->cp);
	metric_set(w->m_lag, w->have_head && w->head > w->cp ? (int64_t)(w->head - w->cp) : 0);
	w->publish(w->arg, s);
}

/* ---------------------------------------------------------------------------------------------- */
/* Checkpoint file                                                                                */

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

/* Directory of path, for the fsync that makes a rename durable. */
static void fsync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) != 0) {
			/* best effort: the rename itself already happened */
		}
		close(fd);
	}
}

/* The checkpoint (registry_checkpoint.h): where the snapshot is, how many events of the log it covers, recent hashes. */
static err_t write_checkpoint(struct registry_watch *w)
{
	struct registry_checkpoint cp;   /* 19 KiB: the kept block hashes */
	struct buf_writer b;
	int fd = -1;
	err_t err = ERR_OK;

	if (!w->cfg.checkpoint_file)
		return ERR_OK;
	if (!w->have_cp) {
		/* Rewound past every block we know: nothing to resume from. */
		if (unlink(w->cfg.checkpoint_file) != 0 && errno != ENOENT)
			return ERR_IO_FILE;
		return ERR_OK;
	}
	memset(&cp, 0, sizeof(cp));
	cp.chain_id = w->cfg.chain_id;
	memcpy(cp.kms, w->cfg.kms, REGISTRY_ADDR_LEN);
	cp.start_block = w->cfg.start_block;
	cp.block = w->cp;
	memcpy(cp.hash, w->cp_hash, 32);
	cp.time = w->cp_time;
	cp.events = registry_audit_count(w->audit);
	cp.reorgs = w->reorgs;
	cp.last_reorg_block = w->last_reorg_block;
	cp.nrecent = w->nrecent;
	memcpy(cp.recent, w->recent, w->nrecent * sizeof(cp.recent[0]));
	buf_writer_init(&b, REGISTRY_CHECKPOINT_MAX_SIZE);
	registry_checkpoint_write(&cp, &b);
	if ((err = buf_writer_status(&b)) != ERR_OK)
		goto out;
	err = ERR_IO_FILE;
	if ((fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto out;
	if (write_all(fd, b.p, b.len) != ERR_OK || fsync(fd) != 0)
		goto out;
	close(fd);
	fd = -1;
	if (rename(w->tmp_path, w->cfg.checkpoint_file) != 0)
		goto out;
	fsync_dir(w->cfg.checkpoint_file);
	err = ERR_OK;
out:
	if (fd >= 0) {
		close(fd);
		unlink(w->tmp_path);
	}
	buf_writer_free(&b);
	return err;
}

static err_t read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (!f)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO_FILE;
	if (!(buf = malloc(max + 1))) {
		fclose(f);
		return ERR_NOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		return ERR_PROTO_TOO_LARGE;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return ERR_OK;
}

/* Load the checkpoint; the audit log is open. On a mismatch with the config, an error for the operator. */
static err_t load_checkpoint(struct registry_watch *w, char *detail, size_t cap)
{
	struct registry_checkpoint cp;   /* 19 KiB: the kept block hashes */
	char why[128];
	char *text = NULL;
	size_t len = 0;
	err_t err = ERR_OK;

	if ((err = read_small_file(w->cfg.checkpoint_file, REGISTRY_CHECKPOINT_MAX_SIZE, &text, &len)) == ERR_NOT_FOUND) {
		/* No checkpoint: whatever the event log holds was never committed. */
		if (registry_audit_count(w->audit))
			log_warn(NULL, "chain watcher: %s has events but no checkpoint; resyncing", w->events_path);
		return registry_audit_truncate(w->audit, 0);
	}
	if (err != ERR_OK) {
		snprintf(detail, cap, "%s: cannot read (%s)", w->cfg.checkpoint_file, err_str(err));
		return err;
	}
	err = registry_checkpoint_parse(text, len, &cp, why, sizeof(why));
	free(text);
	if (err != ERR_OK) {
		snprintf(detail, cap, "%s: not a registry checkpoint (%s)", w->cfg.checkpoint_file, why);
		return ERR_CONFIG;
	}
	if (cp.chain_id != w->cfg.chain_id || memcmp(cp.kms, w->cfg.kms, 20) != 0 || cp.start_block != w->cfg.start_block) {
		snprintf(detail, cap,
			 "%s is for chain %llu, another registry or start block %llu: not this config (remove it and "
			 "its .events file to resync)",
			 w->cfg.checkpoint_file, (unsigned long long)cp.chain_id, (unsigned long long)cp.start_block);
		return ERR_CONFIG;
	}
	if (registry_audit_count(w->audit) < cp.events) {
		/* The log lost committed events (a truncated copy?): it cannot be trusted, start over. */
		log_warn(NULL, "chain watcher: %s has %zu events, the checkpoint says %llu; resyncing", w->events_path,
			 registry_audit_count(w->audit), (unsigned long long)cp.events);
		return registry_audit_truncate(w->audit, 0);
	}
	/* Events written after the last checkpoint were not committed: drop them (they are fetched again). */
	if ((err = registry_audit_truncate(w->audit, (size_t)cp.events)) != ERR_OK) {
		snprintf(detail, cap, "%s: cannot truncate", w->events_path);
		return err;
	}
	w->cp = cp.block;
	memcpy(w->cp_hash, cp.hash, 32);
	w->cp_time = cp.time;
	w->reorgs = cp.reorgs;
	w->last_reorg_block = cp.last_reorg_block;
	/* Keep the newest recent_max (a checkpoint written with more confirmations may hold more). */
	w->nrecent = MIN(cp.nrecent, w->recent_max);
	memcpy(w->recent, cp.recent + (cp.nrecent - w->nrecent), w->nrecent * sizeof(w->recent[0]));
	w->have_cp = 1;
	log_info(NULL, "chain watcher: resuming from checkpoint block %llu with %llu events",
		 (unsigned long long)w->cp, (unsigned long long)cp.events);
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Poll                                                                                           */

static int same_chain_head(const struct registry_watch *w, const struct eth_block_header *h)
{
	return w->have_head && h->number == w->head && memcmp(h->hash, w->head_hash, 32) == 0;
}

static void on_poll(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	struct eth_block_header head, cp;
	uint64_t chain_id, target, from;
	struct ep_stat *ep;
	err_t err = ERR_OK;

	if (w->closing)
		return;
	note_endpoint(w, info);
	ep = info->endpoint >= 0 && info->endpoint < JSONRPC_MAX_ENDPOINTS ? &w->eps[info->endpoint] : NULL;
	if (info->err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err, "poll failed: %s", info->detail);
		return;
	}
	if (r[0].err != ERR_OK || (err = eth_parse_quantity_result(r[0].result, &chain_id)) != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, r[0].err ? r[0].err : err, "eth_chainId: bad answer from %s",
			  info->url);
		return;
	}
	w->wrong_chain = chain_id != w->cfg.chain_id;
	if (chain_id != w->cfg.chain_id) {
		if (ep)
			ep->wrong_chain = 1;
		step_fail(w, w->cfg.poll_ms, ERR_FAILED_PRECONDITION, "%s is on chain %llu, want %llu", info->url,
			  (unsigned long long)chain_id, (unsigned long long)w->cfg.chain_id);
		return;
	}
	if (ep)
		ep->wrong_chain = 0;
	if (r[1].err != ERR_OK || (err = eth_parse_block_header(r[1].result, &head)) != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, r[1].err ? r[1].err : err, "latest block: bad answer from %s",
			  info->url);
		return;
	}
	if (!same_chain_head(w, &head) && (!w->have_head || head.number >= w->head))
		w->last_head_seen = wall_s();
	w->have_head = 1;
	w->head = head.number;
	w->head_time = head.timestamp;
	memcpy(w->head_hash, head.hash, 32);
	if (ep)
		ep->head = head.number;
	metric_set(w->m_head, (int64_t)head.number);
	if (w->have_cp && n > 2) {
		err = r[2].err != ERR_OK ? r[2].err : eth_parse_block_header(r[2].result, &cp);
		if (err == ERR_NOT_FOUND || (err == ERR_OK && memcmp(cp.hash, w->cp_hash, 32) != 0)) {
			log_warn(NULL, "chain watcher: checkpoint block %llu is no longer canonical: reorg",
				 (unsigned long long)w->cp);
			reorg_start(w);
			return;
		}
		if (err != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "checkpoint block: bad answer from %s", info->url);
			return;
		}
	}
	metric_set(w->m_lag, w->have_cp && w->head > w->cp ? (int64_t)(w->head - w->cp) : 0);
	from = w->have_cp ? w->cp + 1 : w->cfg.start_block;
	if (head.number < w->cfg.confirmations || (target = head.number - w->cfg.confirmations) < from) {
		/* Caught up with this head. */
		w->fresh_at = w->last_head_seen;
		w->last_err = ERR_OK;
		schedule(w, w->cfg.poll_ms);
		return;
	}
	step_begin(w, from, target);
}

static void poll_start(struct registry_watch *w)
{
	struct buf_writer p1, p2;
	struct eth_block_ref latest = eth_block_latest(), at = eth_block_at(w->cp);
	struct jsonrpc_req reqs[3];
	err_t err = ERR_OK;

	buf_writer_init(&p1, 256);
	buf_writer_init(&p2, 256);
	eth_params_get_block(&p1, &latest, 0);
	eth_params_get_block(&p2, &at, 0);
	reqs[0] = (struct jsonrpc_req){ "eth_chainId", "[]" };
	reqs[1] = (struct jsonrpc_req){ "eth_getBlockByNumber", buf_cstr(&p1) };
	reqs[2] = (struct jsonrpc_req){ "eth_getBlockByNumber", buf_cstr(&p2) };
	w->call_started_ms = mono_ms();
	err = jsonrpc_batch(w->rpc, reqs, w->have_cp ? 3 : 2, NULL, on_poll, w, NULL);
	buf_writer_free(&p1);
	buf_writer_free(&p2);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start a poll: %s", err_str(err));
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_start(arg);
}

/* ---------------------------------------------------------------------------------------------- */
/* Logs of one range                                                                              */

static int cmp_plog(const void *a, const void *b)
{
	const struct eth_log *x = &((const struct plog *)a)->log, *y = &((const struct plog *)b)->log;

	if (x->block_number != y->block_number)
		return x->block_number < y->block_number ? -1 : 1;
	if (x->log_index != y->log_index)
		return x->log_index < y->log_index ? -1 : 1;
	return 0;
}

static void sort_logs(struct step *s)
{
	if (s->nlogs > 1)
		qsort(s->logs, s->nlogs, sizeof(*s->logs), cmp_plog);
}

static err_t plog_push(struct step *s, const struct eth_log *log)
{
	if (s->nlogs == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct plog *n;

		if (ncap > ETH_MAX_LOGS * 2)
			return ERR_BUDGET;
		if (!(n = realloc(s->logs, ncap * sizeof(*n))))
			return ERR_NOMEM;
		s->logs = n;
		s->cap = ncap;
	}
	memset(&s->logs[s->nlogs], 0, sizeof(s->logs[0]));
	s->logs[s->nlogs++].log = *log;
	return ERR_OK;
}

static void headers_start(struct registry_watch *w);
static void code_start(struct registry_watch *w);
static void backfill_next(struct registry_watch *w);

/*
 * Keep logs of blocks < cut only (the step's range shrinks to cut - 1).
 * Logs are sorted.
 */
static void cut_range(struct step *s, uint64_t cut)
{
	s->cut = 1;
	while (s->nlogs && s->logs[s->nlogs - 1].log.block_number >= cut)
		s->nlogs--;
	s->to = cut - 1;
}

static void on_logs(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	struct step *s = w->step;
	struct eth_log *logs = NULL;
	size_t nlogs = 0, distinct = 0;
	err_t err = ERR_OK;

	(void)n;
	if (w->closing)
		return;
	note_endpoint(w, info);
	if (info->err != ERR_OK || r[0].err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err ? info->err : r[0].err, "eth_getLogs %llu..%llu: %s",
			  (unsigned long long)s->from, (unsigned long long)s->to,
			  info->err ? info->detail : r[0].message);
		return;
	}
	if ((err = eth_parse_logs(r[0].result, 0, &s->mem, &logs, &nlogs)) != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, err, "eth_getLogs: malformed result from %s", info->url);
		return;
	}
	for (size_t i = 0; i < nlogs; i++) {
		const struct eth_log *l = &logs[i];

		if (l->removed) {
			step_fail(w, RETRY_MS, ERR_UNAVAILABLE, "eth_getLogs returned removed logs: the chain is moving");
			return;
		}
		if (l->block_number < s->from || l->block_number > s->to) {
			step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED,
				  "eth_getLogs: a log of block %llu outside %llu..%llu from %s",
				  (unsigned long long)l->block_number, (unsigned long long)s->from,
				  (unsigned long long)s->to, info->url);
			return;
		}
		if (tracked_index(w, l->address) < 0) {
			/* Not ours: another contract's logs never touch the policy. */
			w->ignored++;
			metric_add(w->m_ignored, 1);
			continue;
		}
		if ((err = plog_push(s, l)) != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "too many logs in one range");
			return;
		}
	}
	sort_logs(s);
	for (size_t i = 0; i < s->nlogs; i++) {
		if (i && cmp_plog(&s->logs[i - 1], &s->logs[i]) == 0) {
			step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "eth_getLogs: duplicate log %llu/%llu",
				  (unsigned long long)s->logs[i].log.block_number,
				  (unsigned long long)s->logs[i].log.log_index);
			return;
		}
		if (i == 0 || s->logs[i].log.block_number != s->logs[i - 1].log.block_number) {
			if (++distinct > STEP_MAX_BLOCKS) {
				cut_range(s, s->logs[i].log.block_number);
				distinct--;
				break;
			}
		}
	}
	s->distinct = distinct;
	/*
	 * Logs past a cut were fetched for nothing (the next step asks for them
	 * again): ask for fewer blocks while the chain is this dense.
	 */
	if (s->cut)
		w->range = (uint32_t)MAX(s->to - s->from + 1, 1);
	/* Decode everything now: a log of our own contracts that does not decode is an endpoint error. */
	for (size_t i = 0; i < s->nlogs; i++) {
		struct plog *p = &s->logs[i];
		enum registry_emitter who = memcmp(p->log.address, w->cfg.kms, 20) == 0 ? REGISTRY_EMITTER_KMS
											: REGISTRY_EMITTER_APP;

		err = registry_chain_decode(w->abi, &p->log, who, 0, &s->mem, &p->ev);
		if (err == ERR_NOT_FOUND) {
			p->ev.kind = 0;  /* unknown topic: skipped at commit */
			w->ignored++;
			metric_add(w->m_ignored, 1);
			continue;
		}
		if (err != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "a log of block %llu does not decode (%s) from %s",
				  (unsigned long long)p->log.block_number, err_str(err), info->url);
			return;
		}
		if (p->ev.kind == REGISTRY_EV_APP_REGISTERED && tracked_index(w, p->ev.app_id) < 0) {
			size_t k;

			for (k = 0; k < s->napps && memcmp(s->apps[k].id, p->ev.app_id, 20) != 0; k++)
				;
			if (k < s->napps)
				continue;
			if (s->napps == STEP_MAX_NEW_APPS) {
				if (p->log.block_number == s->from) {
					step_fail(w, w->cfg.poll_ms, ERR_BUDGET, "more than %u apps registered in block %llu",
						  STEP_MAX_NEW_APPS, (unsigned long long)s->from);
					return;
				}
				cut_range(s, p->log.block_number);
				while (s->napps && s->apps[s->napps - 1].plog >= s->nlogs)
					s->napps--;
				break;
			}
			memcpy(s->apps[s->napps].id, p->ev.app_id, 20);
			s->apps[s->napps++].plog = i;
		}
	}
	if (s->napps)
		code_start(w);
	else
		headers_start(w);
}

static void logs_start(struct registry_watch *w)
{
	struct step *s = w->step;
	struct eth_log_filter f;
	struct jsonrpc_call_opts o = { 0, 0, &s->mem };
	struct buf_writer p;
	err_t err = ERR_OK;

	memset(&f, 0, sizeof(f));
	f.addresses = (const uint8_t(*)[20])w->tracked;
	f.naddresses = w->ntracked;
	f.from = eth_block_at(s->from);
	f.to = eth_block_at(s->to);
	buf_writer_init(&p, 1u << 24);
	eth_params_get_logs(&p, &f);
	w->call_started_ms = mono_ms();
	err = buf_writer_status(&p);
	if (err == ERR_OK)
		err = jsonrpc_call(w->rpc, "eth_getLogs", buf_cstr(&p), &o, on_logs, w, NULL);
	buf_writer_free(&p);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start eth_getLogs: %s", err_str(err));
}

static void step_begin(struct registry_watch *w, uint64_t from, uint64_t target)
{
	struct step *s = calloc(1, sizeof(*s));

	if (!s) {
		step_fail(w, w->cfg.poll_ms, ERR_NOMEM, "out of memory");
		return;
	}
	arena_init(&s->mem, STEP_ARENA, 1u << 20);
	s->from = from;
	s->target = target;
	s->head_seen_at = w->last_head_seen;
	s->to = target - from >= w->range ? from + w->range - 1 : target;
	w->step = s;
	logs_start(w);
}

/* ---------------------------------------------------------------------------------------------- */
/* Newly registered apps: code, creation block, backfill                                          */

static void on_code(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	struct step *s = w->step;
	err_t err = ERR_OK;

	(void)n;
	if (w->closing)
		return;
	note_endpoint(w, info);
	if (info->err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err, "eth_getCode: %s", info->detail);
		return;
	}
	/*
	 * A node that keeps no state that old (a full node keeps ~128 blocks)
	 * answers with an error: read at the latest block instead. That is
	 * sound for the registry's App, which has no SELFDESTRUCT: its code at
	 * latest with createdAtBlock <= the registration block (checked below)
	 * means the same code was there at `to`. Any other code is recorded as
	 * seen at latest (it only decides between two denials).
	 */
	for (size_t i = 0; i < s->napps && !s->code_latest; i++)
		if (r[2 * i].err == JSONRPC_ERR_REMOTE) {
			log_info(NULL, "chain watcher: no state at block %llu (%s); reading App code at the latest block",
				 (unsigned long long)s->to, r[2 * i].message);
			s->code_latest = 1;
			code_start(w);
			return;
		}
	for (size_t i = 0; i < s->napps; i++) {
		struct new_app *a = &s->apps[i];
		const uint8_t *code = NULL, *ret = NULL;
		size_t ncode = 0, nret = 0;

		if (r[2 * i].err != ERR_OK ||
		    (err = eth_parse_data_result(r[2 * i].result, &s->mem, &code, &ncode)) != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, r[2 * i].err ? r[2 * i].err : err, "eth_getCode: bad answer");
			return;
		}
		if ((err = registry_chain_set_code(&s->logs[a->plog].ev, code, ncode, &s->mem)) != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "out of memory");
			return;
		}
		a->ours = registry_chain_is_app_code(code, ncode);
		if (!a->ours)
			continue;
		/* createdAtBlock() returns one uint64 word. */
		if (r[2 * i + 1].err != ERR_OK ||
		    eth_parse_data_result(r[2 * i + 1].result, &s->mem, &ret, &nret) != ERR_OK || nret != 32) {
			step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "createdAtBlock(): bad answer from %s",
				  info->url);
			return;
		}
		for (size_t k = 0; k < 24; k++)
			if (ret[k]) {
				step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "createdAtBlock(): not a uint64");
				return;
			}
		a->created = 0;
		for (size_t k = 24; k < 32; k++)
			a->created = (a->created << 8) | ret[k];
		if (a->created > s->logs[a->plog].log.block_number) {
			step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "an App created after its registration");
			return;
		}
	}
	s->bf_app = 0;
	s->bf_next = s->napps ? s->apps[0].created : 0;
	backfill_next(w);
}

static void code_start(struct registry_watch *w)
{
	struct step *s = w->step;
	struct jsonrpc_req reqs[2 * STEP_MAX_NEW_APPS];
	struct buf_writer p[2 * STEP_MAX_NEW_APPS];
	struct jsonrpc_call_opts o = { 0, 0, &s->mem };
	struct eth_block_ref at = s->code_latest ? eth_block_latest() : eth_block_at(s->to);
	err_t err = ERR_OK;

	for (size_t i = 0; i < s->napps; i++) {
		struct eth_tx_req call;

		memset(&call, 0, sizeof(call));
		call.has_to = 1;
		memcpy(call.to, s->apps[i].id, 20);
		call.data = sel_created_at;
		call.data_len = sizeof(sel_created_at);
		buf_writer_init(&p[2 * i], 256);
		buf_writer_init(&p[2 * i + 1], 512);
		eth_params_address_block(&p[2 * i], s->apps[i].id, &at);
		eth_params_call(&p[2 * i + 1], &call, &at);
		reqs[2 * i] = (struct jsonrpc_req){ "eth_getCode", buf_cstr(&p[2 * i]) };
		reqs[2 * i + 1] = (struct jsonrpc_req){ "eth_call", buf_cstr(&p[2 * i + 1]) };
		if (!reqs[2 * i].params || !reqs[2 * i + 1].params)
			err = ERR_NOMEM;
	}
	w->call_started_ms = mono_ms();
	if (err == ERR_OK)
		err = jsonrpc_batch(w->rpc, reqs, 2 * s->napps, &o, on_code, w, NULL);
	for (size_t i = 0; i < 2 * s->napps; i++)
		buf_writer_free(&p[i]);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start eth_getCode: %s", err_str(err));
}

static void on_backfill(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	struct step *s = w->step;
	struct new_app *a;
	struct eth_log *logs = NULL;
	size_t nlogs = 0, base;
	uint64_t end;
	err_t err = ERR_OK;

	(void)n;
	if (w->closing)
		return;
	a = &s->apps[s->bf_app];
	end = s->to - s->bf_next >= w->cfg.log_range ? s->bf_next + w->cfg.log_range - 1 : s->to;
	note_endpoint(w, info);
	if (info->err != ERR_OK || r[0].err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err ? info->err : r[0].err, "backfill eth_getLogs: %s",
			  info->err ? info->detail : r[0].message);
		return;
	}
	if ((err = eth_parse_logs(r[0].result, 0, &s->mem, &logs, &nlogs)) != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, err, "backfill eth_getLogs: malformed result from %s", info->url);
		return;
	}
	base = s->nlogs;
	for (size_t i = 0; i < nlogs; i++) {
		if (logs[i].removed) {
			step_fail(w, RETRY_MS, ERR_UNAVAILABLE, "backfill: removed logs: the chain is moving");
			return;
		}
		if (memcmp(logs[i].address, a->id, 20) != 0) {
			w->ignored++;
			metric_add(w->m_ignored, 1);
			continue;
		}
		if (logs[i].block_number < s->bf_next || logs[i].block_number > end) {
			step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "backfill: a log outside the range");
			return;
		}
		if ((err = plog_push(s, &logs[i])) != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "too many logs in one step");
			return;
		}
	}
	for (size_t i = base; i < s->nlogs; i++) {
		struct plog *p = &s->logs[i];

		err = registry_chain_decode(w->abi, &p->log, REGISTRY_EMITTER_APP, 0, &s->mem, &p->ev);
		if (err == ERR_NOT_FOUND) {
			p->ev.kind = 0;
			continue;
		}
		if (err != ERR_OK) {
			step_fail(w, w->cfg.poll_ms, err, "backfill: a log does not decode (%s)", err_str(err));
			return;
		}
	}
	s->bf_next = end + 1;
	backfill_next(w);
}

static void backfill_next(struct registry_watch *w)
{
	struct step *s = w->step;
	struct jsonrpc_call_opts o = { 0, 0, &s->mem };
	struct eth_log_filter f;
	struct buf_writer p;
	uint64_t end;
	err_t err = ERR_OK;

	while (s->bf_app < s->napps && (!s->apps[s->bf_app].ours || s->bf_next > s->to)) {
		if (++s->bf_app < s->napps)
			s->bf_next = s->apps[s->bf_app].created;
	}
	if (s->bf_app >= s->napps) {
		sort_logs(s);
		for (size_t i = 1; i < s->nlogs; i++)
			if (cmp_plog(&s->logs[i - 1], &s->logs[i]) == 0) {
				step_fail(w, w->cfg.poll_ms, ERR_PROTO_MALFORMED, "duplicate logs after backfill");
				return;
			}
		headers_start(w);
		return;
	}
	end = s->to - s->bf_next >= w->cfg.log_range ? s->bf_next + w->cfg.log_range - 1 : s->to;
	memset(&f, 0, sizeof(f));
	f.addresses = (const uint8_t(*)[20])s->apps[s->bf_app].id;
	f.naddresses = 1;
	f.from = eth_block_at(s->bf_next);
	f.to = eth_block_at(end);
	buf_writer_init(&p, 4096);
	eth_params_get_logs(&p, &f);
	w->call_started_ms = mono_ms();
	err = buf_writer_status(&p);
	if (err == ERR_OK)
		err = jsonrpc_call(w->rpc, "eth_getLogs", buf_cstr(&p), &o, on_backfill, w, NULL);
	buf_writer_free(&p);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start the backfill: %s", err_str(err));
}

/* ---------------------------------------------------------------------------------------------- */
/* Headers                                                                                        */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const struct eth_block_header *header_of(const struct step *s, uint64_t number)
{
	size_t lo = 0, hi = s->nnumbers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->numbers[mid] == number)
			return &s->headers[mid];
		if (s->numbers[mid] < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void commit(struct registry_watch *w);
static void headers_batch(struct registry_watch *w);

static void on_headers(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	struct step *s = w->step;
	const struct eth_block_header *hf;
	err_t err = ERR_OK;

	if (w->closing)
		return;
	note_endpoint(w, info);
	if (info->err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err, "block headers: %s", info->detail);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct eth_block_header *h = &s->headers[s->nfetched + i];

		err = r[i].err != ERR_OK ? r[i].err : eth_parse_block_header(r[i].result, h);
		if (err == ERR_NOT_FOUND) {
			step_fail(w, RETRY_MS, ERR_UNAVAILABLE, "block %llu is gone: the chain is moving",
				  (unsigned long long)s->numbers[s->nfetched + i]);
			return;
		}
		if (err != ERR_OK || h->number != s->numbers[s->nfetched + i]) {
			step_fail(w, w->cfg.poll_ms, err ? err : ERR_PROTO_MALFORMED,
				  "block header %llu: bad answer from %s",
				  (unsigned long long)s->numbers[s->nfetched + i], info->url);
			return;
		}
	}
	s->nfetched += n;
	if (s->nfetched < s->nnumbers) {
		headers_batch(w);
		return;
	}

	/* Continuity with what we applied, then every log against its block. */
	if (w->have_cp && (hf = header_of(s, s->from)) != NULL && memcmp(hf->parent_hash, w->cp_hash, 32) != 0) {
		log_warn(NULL, "chain watcher: block %llu does not follow our checkpoint %llu: reorg",
			 (unsigned long long)s->from, (unsigned long long)w->cp);
		step_free(w->step);
		w->step = NULL;
		reorg_start(w);
		return;
	}
	for (size_t i = 0; i < s->nlogs; i++) {
		struct plog *p = &s->logs[i];
		const struct eth_block_header *h = header_of(s, p->log.block_number);

		if (!h || memcmp(h->hash, p->log.block_hash, 32) != 0) {
			step_fail(w, RETRY_MS, ERR_UNAVAILABLE,
				  "log of block %llu names another block hash than the header: the chain is moving",
				  (unsigned long long)p->log.block_number);
			return;
		}
		p->ev.time = h->timestamp;
	}
	commit(w);
}

static void headers_batch(struct registry_watch *w)
{
	struct step *s = w->step;
	size_t n = MIN(s->nnumbers - s->nfetched, HEADER_BATCH);
	struct jsonrpc_req *reqs = calloc(n, sizeof(*reqs));
	struct buf_writer *p = calloc(n, sizeof(*p));
	struct jsonrpc_call_opts o = { 0, 0, &s->mem };
	err_t err = ERR_OK;

	if (!reqs || !p) {
		free(reqs);
		free(p);
		step_fail(w, w->cfg.poll_ms, ERR_NOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct eth_block_ref b = eth_block_at(s->numbers[s->nfetched + i]);

		buf_writer_init(&p[i], 128);
		eth_params_get_block(&p[i], &b, 0);
		reqs[i] = (struct jsonrpc_req){ "eth_getBlockByNumber", buf_cstr(&p[i]) };
		if (!reqs[i].params)
			err = ERR_NOMEM;
	}
	w->call_started_ms = mono_ms();
	if (err == ERR_OK)
		err = jsonrpc_batch(w->rpc, reqs, n, &o, on_headers, w, NULL);
	for (size_t i = 0; i < n; i++)
		buf_writer_free(&p[i]);
	free(reqs);
	free(p);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start the header batch: %s", err_str(err));
}

static void headers_start(struct registry_watch *w)
{
	struct step *s = w->step;
	size_t k = 0;

	s->numbers = malloc((s->nlogs + 2) * sizeof(*s->numbers));
	if (!s->numbers) {
		step_fail(w, w->cfg.poll_ms, ERR_NOMEM, "out of memory");
		return;
	}
	s->numbers[k++] = s->from;
	s->numbers[k++] = s->to;
	for (size_t i = 0; i < s->nlogs; i++)
		s->numbers[k++] = s->logs[i].log.block_number;
	qsort(s->numbers, k, sizeof(*s->numbers), cmp_u64);
	s->nnumbers = 0;
	for (size_t i = 0; i < k; i++)
		if (s->nnumbers == 0 || s->numbers[s->nnumbers - 1] != s->numbers[i])
			s->numbers[s->nnumbers++] = s->numbers[i];
	if (!(s->headers = calloc(s->nnumbers, sizeof(*s->headers)))) {
		step_fail(w, w->cfg.poll_ms, ERR_NOMEM, "out of memory");
		return;
	}
	s->nfetched = 0;
	headers_batch(w);
}

/* ---------------------------------------------------------------------------------------------- */
/* Commit                                                                                         */

static void recent_push(struct registry_watch *w, uint64_t number, const uint8_t hash[32], uint64_t time)
{
	if (w->nrecent && w->recent[w->nrecent - 1].number >= number)
		return;
	if (w->nrecent == w->recent_max) {
		memmove(w->recent, w->recent + 1, (w->nrecent - 1) * sizeof(w->recent[0]));
		w->nrecent--;
	}
	w->recent[w->nrecent].number = number;
	w->recent[w->nrecent].time = time;
	memcpy(w->recent[w->nrecent].hash, hash, 32);
	w->nrecent++;
}

static void commit(struct registry_watch *w)
{
	struct step *s = w->step;
	const struct eth_block_header *hto = header_of(s, s->to);
	struct registry_event *evs = NULL;
	uint64_t target;
	size_t nev = 0;
	err_t err = ERR_OK;

	if (!(evs = malloc((s->nlogs ? s->nlogs : 1) * sizeof(*evs)))) {
		step_fail(w, w->cfg.poll_ms, ERR_NOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < s->nlogs; i++)
		if (s->logs[i].ev.kind)
			evs[nev++] = s->logs[i].ev;
	/* Policy first: if an event does not apply, the audit log is untouched and the policy is refolded. */
	for (size_t i = 0; i < nev; i++) {
		if ((err = registry_chain_apply(w->state, &evs[i], w->cfg.kms)) != ERR_OK) {
			uint64_t block = evs[i].block;

			free(evs);
			if (refold(w) != ERR_OK)
				log_error(NULL, "chain watcher: cannot refold the policy");
			step_fail(w, w->cfg.poll_ms, err, "event of block %llu does not apply: %s",
				  (unsigned long long)block, err_str(err));
			return;
		}
	}
	if ((err = registry_audit_merge(w->audit, evs, nev)) != ERR_OK) {
		free(evs);
		if (refold(w) != ERR_OK)
			log_error(NULL, "chain watcher: cannot refold the policy");
		step_fail(w, w->cfg.poll_ms, err, "audit log: %s", err_str(err));
		return;
	}
	free(evs);
	if ((err = registry_audit_sync(w->audit)) != ERR_OK)
		set_error(w, err, "audit log: cannot sync %s", w->events_path);
	for (size_t i = 0; i < s->napps; i++)
		if (s->apps[i].ours && tracked_add(w, s->apps[i].id) != ERR_OK)
			log_error(NULL, "chain watcher: out of memory tracking apps");
	for (size_t i = 0; i < s->nnumbers; i++)
		if (s->numbers[i] > (w->have_cp ? w->cp : 0) || !w->have_cp)
			recent_push(w, s->numbers[i], s->headers[i].hash, s->headers[i].timestamp);
	w->have_cp = 1;
	w->cp = s->to;
	w->cp_time = hto->timestamp;
	memcpy(w->cp_hash, hto->hash, 32);
	metric_add(w->m_events, nev);
	if ((err = write_checkpoint(w)) != ERR_OK)
		set_error(w, err, "cannot write the checkpoint %s", w->cfg.checkpoint_file);
	publish_snapshot(w);
	if (nev)
		log_debug(NULL, "chain watcher: applied %zu events up to block %llu", nev, (unsigned long long)w->cp);
	target = s->target;
	/* A sparse range that was not cut: widen again (doubling) up to log_range. */
	if (!s->cut && s->distinct * 2 <= STEP_MAX_BLOCKS && w->range < w->cfg.log_range)
		w->range = (uint32_t)MIN((uint64_t)w->range * 2, w->cfg.log_range);
	if (w->cp >= target)
		w->fresh_at = s->head_seen_at;
	step_free(s);
	w->step = NULL;
	if (w->cp < target) {
		step_begin(w, w->cp + 1, target);
		return;
	}
	w->last_err = ERR_OK;
	schedule(w, w->cfg.poll_ms);
}

/* ---------------------------------------------------------------------------------------------- */
/* Reorg                                                                                          */

static void on_reorg(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct registry_watch *w = arg;
	size_t keep_recent = 0, keep_events;
	int found = 0;
	err_t err = ERR_OK;

	if (w->closing)
		return;
	note_endpoint(w, info);
	if (info->err != ERR_OK) {
		step_fail(w, w->cfg.poll_ms, info->err, "reorg: block headers: %s", info->detail);
		return;
	}
	/* The newest stored block the node still has is the common ancestor. */
	for (size_t i = n; i-- > 0;) {
		struct eth_block_header h;

		if (r[i].err == ERR_OK && eth_parse_block_header(r[i].result, &h) == ERR_OK &&
		    h.number == w->recent[i].number && memcmp(h.hash, w->recent[i].hash, 32) == 0) {
			keep_recent = i + 1;
			found = 1;
			break;
		}
	}
	w->reorgs++;
	metric_add(w->m_reorgs, 1);
	if (found) {
		const struct registry_checkpoint_block *a = &w->recent[keep_recent - 1];

		w->last_reorg_block = a->number + 1;
		w->cp = a->number;
		w->cp_time = a->time;
		memcpy(w->cp_hash, a->hash, 32);
		w->nrecent = keep_recent;
		keep_events = registry_audit_lower_bound(w->audit, a->number + 1, 0);
	} else {
		/* Deeper than every hash we kept: start over from the start block. */
		w->last_reorg_block = w->cfg.start_block;
		w->have_cp = 0;
		w->cp = w->cp_time = 0;
		memset(w->cp_hash, 0, 32);
		w->nrecent = 0;
		keep_events = 0;
	}
	log_warn(NULL, "chain watcher: reorg: rewinding to block %llu (%zu events dropped)",
		 (unsigned long long)(found ? w->cp : w->cfg.start_block),
		 registry_audit_count(w->audit) - keep_events);
	if ((err = registry_audit_truncate(w->audit, keep_events)) != ERR_OK ||
	    (err = registry_audit_sync(w->audit)) != ERR_OK)
		set_error(w, err, "audit log: cannot truncate %s", w->events_path);
	if ((err = refold(w)) != ERR_OK)
		set_error(w, err, "cannot refold the policy after a reorg");
	if ((err = write_checkpoint(w)) != ERR_OK)
		set_error(w, err, "cannot write the checkpoint %s", w->cfg.checkpoint_file);
	publish_snapshot(w);
	poll_start(w);
}

static void reorg_start(struct registry_watch *w)
{
	struct jsonrpc_req reqs[RECENT_CAP];
	struct buf_writer p[RECENT_CAP];
	err_t err = ERR_OK;

	if (w->nrecent == 0) {
		/* Nothing stored to compare: treat as a rewind to the start. */
		struct jsonrpc_info none;

		memset(&none, 0, sizeof(none));
		none.endpoint = -1;
		on_reorg(w, &none, NULL, 0);
		return;
	}
	for (size_t i = 0; i < w->nrecent; i++) {
		struct eth_block_ref b = eth_block_at(w->recent[i].number);

		buf_writer_init(&p[i], 128);
		eth_params_get_block(&p[i], &b, 0);
		reqs[i] = (struct jsonrpc_req){ "eth_getBlockByNumber", buf_cstr(&p[i]) };
		if (!reqs[i].params)
			err = ERR_NOMEM;
	}
	w->call_started_ms = mono_ms();
	if (err == ERR_OK)
		err = jsonrpc_batch(w->rpc, reqs, w->nrecent, NULL, on_reorg, w, NULL);
	for (size_t i = 0; i < w->nrecent; i++)
		buf_writer_free(&p[i]);
	if (err != ERR_OK)
		step_fail(w, w->cfg.poll_ms, err, "cannot start the reorg search: %s", err_str(err));
}

/* ---------------------------------------------------------------------------------------------- */
/* Cross-check                                                                                    */

static void xcheck_free(struct xcheck *x)
{
	struct registry_watch *w = x->w;

	if (x->prev)
		x->prev->next = x->next;
	else
		w->xchecks = x->next;
	if (x->next)
		x->next->prev = x->prev;
	arena_fini(&x->mem);
	free(x);
}

static void on_xcheck(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *r, size_t n)
{
	struct xcheck *x = arg;
	const uint8_t *p = NULL;
	const char *reason = NULL;
	size_t len = 0;
	int allowed = 0;
	err_t err = ERR_OK;

	(void)n;
	if (!x->w->closing)
		note_endpoint(x->w, info);
	if (info->err != ERR_OK) {
		x->cb(x->arg, info->err, info->detail, 0, NULL);
	} else if (r[0].err != ERR_OK) {
		x->cb(x->arg, r[0].err, r[0].message, 0, NULL);
	} else if ((err = eth_parse_data_result(r[0].result, &x->mem, &p, &len)) != ERR_OK ||
		   (err = registry_chain_decode_answer(x->w->abi, p, len, &x->mem, &allowed, &reason)) != ERR_OK) {
		x->cb(x->arg, err, "the contract's answer does not decode", 0, NULL);
	} else {
		x->cb(x->arg, ERR_OK, NULL, allowed, reason);
	}
	xcheck_free(x);
}

err_t registry_watch_cross_check(struct registry_watch *w, enum registry_kind kind, const struct registry_boot_info *b,
				 const uint8_t block_hash[32], registry_watch_check_cb cb, void *arg)
{
	struct xcheck *x = calloc(1, sizeof(*x));
	struct buf_writer data, params;
	struct eth_tx_req call;
	struct eth_block_ref at;
	struct jsonrpc_call_opts o;
	err_t err = ERR_OK;

	if (!x)
		return ERR_NOMEM;
	x->w = w;
	x->cb = cb;
	x->arg = arg;
	arena_init(&x->mem, 1u << 20, 1u << 12);
	buf_writer_init(&data, 64 * 1024);
	buf_writer_init(&params, 256 * 1024);
	if ((err = registry_chain_encode_check(w->abi, kind, b, &data)) != ERR_OK)
		goto out;
	memset(&call, 0, sizeof(call));
	call.has_to = 1;
	memcpy(call.to, w->cfg.kms, 20);
	call.data = data.p;
	call.data_len = data.len;
	memset(&at, 0, sizeof(at));
	at.tag = ETH_BLOCK_HASH;
	memcpy(at.hash, block_hash, 32);
	eth_params_call(&params, &call, &at);
	if ((err = buf_writer_status(&params)) != ERR_OK)
		goto out;
	memset(&o, 0, sizeof(o));
	o.arena = &x->mem;
	if ((err = jsonrpc_call(w->rpc, "eth_call", buf_cstr(&params), &o, on_xcheck, x, NULL)) != ERR_OK)
		goto out;
	x->next = w->xchecks;
	if (w->xchecks)
		w->xchecks->prev = x;
	w->xchecks = x;
	x = NULL;
out:
	buf_writer_free(&data);
	buf_writer_free(&params);
	if (x) {
		arena_fini(&x->mem);
		free(x);
	}
	return err;
}

/* ---------------------------------------------------------------------------------------------- */
/* Lifecycle and status                                                                           */

struct registry_watch *registry_watch_new(struct event_base *base, struct metrics *m,
					  const struct registry_watch_config *c, struct registry_audit *audit,
					  registry_watch_publish_fn publish, void *arg, char *detail, size_t cap)
{
	struct registry_watch *w = calloc(1, sizeof(*w));
	struct jsonrpc_opts o;
	err_t err = ERR_OK;

	if (!w) {
		snprintf(detail, cap, "out of memory");
		return NULL;
	}
	w->base = base;
	w->cfg = *c;
	w->audit = audit;
	w->publish = publish;
	w->arg = arg;
	w->active_ep = -1;
	w->started = wall_s();
	w->recent_max = MIN((size_t)c->confirmations + RECENT_EXTRA, (size_t)RECENT_CAP);
	w->range = c->log_range ? c->log_range : 1;
	if (c->checkpoint_file) {
		if ((size_t)snprintf(w->events_path, sizeof(w->events_path), "%s.events", c->checkpoint_file) >=
			    sizeof(w->events_path) ||
		    (size_t)snprintf(w->tmp_path, sizeof(w->tmp_path), "%s.tmp", c->checkpoint_file) >= sizeof(w->tmp_path)) {
			snprintf(detail, cap, "chain.checkpoint_file: path too long");
			goto fail;
		}
	}
	if (m) {
		w->m_head = metrics_series(m, METRIC_GAUGE, "registry_chain_head_block", "Latest head seen", NULL);
		w->m_cp = metrics_series(m, METRIC_GAUGE, "registry_chain_checkpoint_block",
					 "Highest block whose events are applied", NULL);
		w->m_lag = metrics_series(m, METRIC_GAUGE, "registry_chain_lag_blocks", "Head minus checkpoint", NULL);
		w->m_events = metrics_series(m, METRIC_COUNTER, "registry_chain_events_applied_total",
					     "Governance events applied", NULL);
		w->m_reorgs = metrics_series(m, METRIC_COUNTER, "registry_chain_reorgs_total", "Reorgs detected", NULL);
		w->m_errors = metrics_series(m, METRIC_COUNTER, "registry_chain_errors_total",
					     "Watcher steps that failed (endpoint down, malformed, wrong chain, ...)", NULL);
		w->m_ignored = metrics_series(m, METRIC_COUNTER, "registry_chain_ignored_logs_total",
					      "Logs ignored: other addresses or unknown topics", NULL);
	}
	if ((err = registry_chain_abi_new(&w->abi)) != ERR_OK) {
		snprintf(detail, cap, "cannot parse the contract ABI: %s", err_str(err));
		goto fail;
	}
	if (c->checkpoint_file) {
		if ((err = registry_audit_open(audit, w->events_path, detail, cap)) != ERR_OK)
			goto fail;
		if ((err = load_checkpoint(w, detail, cap)) != ERR_OK)
			goto fail;
	}
	if ((err = refold(w)) != ERR_OK) {
		snprintf(detail, cap, "the event log does not fold into a policy (%s): remove %s and %s to resync",
			 err_str(err), c->checkpoint_file ? c->checkpoint_file : "-", w->events_path);
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.urls = c->urls;
	o.nurls = c->nurls;
	o.timeout_ms = c->rpc_timeout_ms;
	if (!(w->rpc = jsonrpc_client_new(base, &o, &err))) {
		snprintf(detail, cap, "chain.rpc_urls: %s", err_str(err));
		goto fail;
	}
	if (!(w->timer = evtimer_new(base, on_timer, w))) {
		snprintf(detail, cap, "out of memory");
		goto fail;
	}
	if (w->have_cp)
		publish_snapshot(w);
	return w;
fail:
	registry_watch_free(w);
	return NULL;
}

void registry_watch_start(struct registry_watch *w)
{
	schedule(w, 0);
}

void registry_watch_free(struct registry_watch *w)
{
	if (!w)
		return;
	w->closing = 1;
	if (w->timer)
		event_free(w->timer);
	jsonrpc_client_free(w->rpc);   /* cross-check callbacks run here with ERR_CANCELLED */
	while (w->xchecks)
		xcheck_free(w->xchecks);
	step_free(w->step);
	registry_chain_abi_free(w->abi);
	registry_state_free(w->state);
	free(w->tracked);
	free(w);
}

int registry_watch_stale(const struct registry_watch *w, uint64_t now, uint64_t *age)
{
	uint64_t since = w->fresh_at ? w->fresh_at : w->started;

	*age = now > since ? now - since : 0;
	if (!w->fresh_at)
		return 1;  /* not caught up with any head since start: fail closed */
	return *age * 1000 > w->cfg.max_staleness_ms;
}

err_t registry_watch_ready(const struct registry_watch *w, const char **detail)
{
	if (w->wrong_chain) {
		*detail = "the JSON-RPC endpoint is on another chain (chain.id mismatch)";
		return ERR_FAILED_PRECONDITION;
	}
	return ERR_OK;
}

void registry_watch_get_status(const struct registry_watch *w, struct registry_watch_status *out)
{
	memset(out, 0, sizeof(*out));
	out->chain_id = w->cfg.chain_id;
	out->head = w->head;
	out->head_time = w->head_time;
	out->last_head_seen = w->last_head_seen;
	memcpy(out->head_hash, w->head_hash, 32);
	out->have_checkpoint = w->have_cp;
	out->checkpoint = w->cp;
	out->checkpoint_time = w->cp_time;
	memcpy(out->checkpoint_hash, w->cp_hash, 32);
	out->events_applied = registry_audit_count(w->audit);
	out->reorgs = w->reorgs;
	out->last_reorg_block = w->last_reorg_block;
	out->ignored_logs = w->ignored;
	out->last_error = w->last_err;
	memcpy(out->last_error_detail, w->last_err_detail, sizeof(out->last_error_detail));
	out->last_error_at = w->last_err_at;
}

size_t registry_watch_endpoint_count(const struct registry_watch *w)
{
	return jsonrpc_endpoint_count(w->rpc);
}

void registry_watch_get_endpoint(const struct registry_watch *w, size_t i, struct registry_watch_endpoint *out)
{
	struct jsonrpc_endpoint_info ji;
	const struct ep_stat *e = &w->eps[i];

	jsonrpc_endpoint_get(w->rpc, i, &ji);
	memset(out, 0, sizeof(*out));
	out->url = ji.url;
	out->healthy = !ji.down && ji.consecutive_failures == 0 && !e->wrong_chain && e->last_ok;
	out->active = (int)i == w->active_ep;
	out->last_ok = e->last_ok;
	out->last_error_at = e->last_error_at;
	out->head = e->head;
	out->last_error = e->wrong_chain ? ERR_FAILED_PRECONDITION : e->last_error;
	out->last_error_detail = e->wrong_chain ? "wrong chain id" : e->detail;
	out->consecutive_failures = ji.consecutive_failures;
	out->latency_ms = e->latency_ms;
}
