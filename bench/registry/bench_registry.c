/* SPDX-License-Identifier: Apache-2.0 */
/* ds_bench_registry: chain-watcher sync rate, CheckBoot decisions per second, and snapshot bytes per allowed hash. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto.h"
#include "enc.h"
#include "log.h"
#include "registry_audit.h"
#include "registry_policy.h"
#include "registry_watch.h"

/*
 * One process, one thread, one case per run (bench/registry/run.sh starts
 * anvil, generates the events and pins this to a CPU). Cases:
 *
 *   sync     the real chain watcher (registry_watch_new + start, the same
 *            code `dstack-registry serve` runs) on a fresh checkpoint, from
 *            --start-block to --head: eth_getLogs in log_range windows,
 *            headers, code/backfill for the registered app, fold, audit log
 *            (fdatasync), checkpoint (fsync + rename) and a snapshot per step.
 *            Timed from registry_watch_start to the publication of the
 *            snapshot at --head. The snapshot is then checked: events
 *            applied == --expect-events and compose hashes == --expect-hashes.
 *            --checkpoint must not exist yet (a resumed watcher is not a sync).
 *            Prints "sync events=N blocks=B seconds=S cpu_seconds=C
 *            events_per_s=X steps=K heap_bytes=H heap_per_event=E".
 *   check    registry_check on a snapshot of --apps apps x --hashes hashes
 *            (chain or file rules), over a fixed table of BootInfos, half
 *            allowed and half denied for each of the rules' reasons. Every
 *            decision is compared with the expected one; a mismatch exits 1.
 *            Prints "check source=.. ops=N seconds=S cpu_seconds=C
 *            ops_per_cpu_s=X ops_per_s=Y allowed=A denied=D".
 *   mem      builds --hashes allowed hashes over --apps apps, freezes, and
 *            measures the heap with mallinfo2 (uordblks + hblkhd, so mmap'd
 *            arrays count) before and after each step. Prints "mem
 *            hashes=N apps=A snapshot_bytes=.. snapshot_per_hash=..
 *            snapshot_counter_bytes=.. builder_bytes=.. builder_per_hash=..".
 */

#define SYNC_TIMEOUT_S 600
#define CHECK_TABLE 4096u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return 0;
	*out = v;
	return 1;
}

static void die(const char *what)
{
	fprintf(stderr, "ds_bench_registry: %s\n", what);
	exit(1);
}

/* Deterministic 32-byte keys: SHA-256 of (tag, i, j). */
static void key32(uint8_t out[32], const char *tag, uint64_t i, uint64_t j)
{
	char in[96];
	int n = snprintf(in, sizeof(in), "%s/%llu/%llu", tag, (unsigned long long)i, (unsigned long long)j);

	sha256(in, (size_t)n, out);
}

static void addr20(uint8_t out[20], uint64_t i)
{
	uint8_t h[32];

	key32(h, "app", i, 0);
	memcpy(out, h, 20);
}

/* ---------------------------------------------------------------------------------------------- */
/* sync                                                                                           */

struct sync_ctx {
	struct event_base *base;
	uint64_t head;
	double t_start, t_end;
	unsigned steps;
	int done;
	struct registry_snapshot *last;
};

static void on_publish(void *arg, struct registry_snapshot *snap)
{
	struct sync_ctx *c = arg;

	c->steps++;
	registry_snapshot_unref(c->last);
	c->last = snap;
	if (!c->done && snap->meta.block_number >= c->head) {
		c->t_end = now_s();
		c->done = 1;
		event_base_loopbreak(c->base);
	}
}

static void on_sync_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct sync_ctx *)arg)->base);
}

static int run_sync(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rpc", required_argument, NULL, 'r' },          { "registry", required_argument, NULL, 'R' },
		{ "chain-id", required_argument, NULL, 'c' },     { "start-block", required_argument, NULL, 's' },
		{ "head", required_argument, NULL, 'H' },         { "log-range", required_argument, NULL, 'l' },
		{ "confirmations", required_argument, NULL, 'C' }, { "checkpoint", required_argument, NULL, 'k' },
		{ "expect-events", required_argument, NULL, 'e' }, { "expect-hashes", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *urls[1] = { NULL };
	struct registry_watch_config wc;
	struct registry_watch *w = NULL;
	struct registry_audit *audit = NULL;
	struct sync_ctx c;
	struct event *timeout = NULL;
	struct timeval tv = { SYNC_TIMEOUT_S, 0 };
	uint64_t u, expect_events = 0, expect_hashes = 0;
	size_t heap0, heap1, n = 0;
	char detail[512];
	double cpu0, cpu1;
	int opt, have_reg = 0;

	memset(&wc, 0, sizeof(wc));
	memset(&c, 0, sizeof(c));
	wc.chain_id = 31337;
	wc.log_range = 2000;
	wc.poll_ms = 50;
	wc.max_staleness_ms = 3600000;
	wc.rpc_timeout_ms = 30000;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': urls[0] = optarg; break;
		case 'R':
			if (hex_decode(wc.kms, 20, &n, optarg, strlen(optarg), 1) != ERR_OK || n != 20)
				die("--registry: 0x + 40 hex digits");
			have_reg = 1;
			break;
		case 'c': if (!parse_u64(optarg, &wc.chain_id)) die("--chain-id"); break;
		case 's': if (!parse_u64(optarg, &wc.start_block)) die("--start-block"); break;
		case 'H': if (!parse_u64(optarg, &c.head)) die("--head"); break;
		case 'l': if (!parse_u64(optarg, &u) || !u || u > 1000000) die("--log-range"); wc.log_range = (uint32_t)u; break;
		case 'C': if (!parse_u64(optarg, &u) || u > 1000) die("--confirmations"); wc.confirmations = (uint32_t)u; break;
		case 'k': wc.checkpoint_file = optarg; break;
		case 'e': if (!parse_u64(optarg, &expect_events)) die("--expect-events"); break;
		case 'x': if (!parse_u64(optarg, &expect_hashes)) die("--expect-hashes"); break;
		default: die("sync: bad option");
		}
	}
	if (!urls[0] || !have_reg || !c.head)
		die("sync needs --rpc, --registry and --head");
	if (wc.checkpoint_file && access(wc.checkpoint_file, F_OK) == 0)
		die("--checkpoint exists: the sync is timed from --start-block, give a fresh path");
	wc.urls = urls;
	wc.nurls = 1;
	if (!(c.base = event_base_new()) || !(audit = registry_audit_new(0)))
		die("out of memory");
	heap0 = heap_bytes();
	if (!(w = registry_watch_new(c.base, NULL, &wc, audit, on_publish, &c, detail, sizeof(detail)))) {
		fprintf(stderr, "ds_bench_registry: %s\n", detail);
		return 1;
	}
	if (!(timeout = evtimer_new(c.base, on_sync_timeout, &c)) || evtimer_add(timeout, &tv) != 0)
		die("out of memory");
	cpu0 = cpu_s();
	c.t_start = now_s();
	c.steps = 0;
	registry_watch_start(w);
	event_base_dispatch(c.base);
	cpu1 = cpu_s();
	if (!c.done) {
		struct registry_watch_status st;

		registry_watch_get_status(w, &st);
		fprintf(stderr, "ds_bench_registry: not synced after %d s: checkpoint %llu, last error %s\n", SYNC_TIMEOUT_S,
			(unsigned long long)st.checkpoint, st.last_error_detail);
		return 1;
	}
	heap1 = heap_bytes();
	if (expect_events && c.last->meta.events_applied != expect_events) {
		fprintf(stderr, "ds_bench_registry: %llu events applied, want %llu\n",
			(unsigned long long)c.last->meta.events_applied, (unsigned long long)expect_events);
		return 1;
	}
	if (expect_hashes && c.last->nhashes != expect_hashes) {
		fprintf(stderr, "ds_bench_registry: %zu compose hashes in the snapshot, want %llu\n", c.last->nhashes,
			(unsigned long long)expect_hashes);
		return 1;
	}
	{
		double secs = c.t_end - c.t_start;
		uint64_t ev = c.last->meta.events_applied;

		printf("sync events=%llu blocks=%llu seconds=%.3f cpu_seconds=%.3f events_per_s=%.1f steps=%u "
		       "heap_bytes=%zu heap_per_event=%.0f\n",
		       (unsigned long long)ev, (unsigned long long)(c.head - wc.start_block + 1), secs, cpu1 - cpu0,
		       secs > 0 ? (double)ev / secs : 0.0, c.steps, heap1 - heap0,
		       ev ? (double)(heap1 - heap0) / (double)ev : 0.0);
	}
	event_free(timeout);
	registry_watch_free(w);
	registry_snapshot_unref(c.last);
	registry_audit_free(audit);
	event_base_free(c.base);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The synthetic policy for check and mem                                                         */

#define OS_IMAGES 4
#define APP_DEVICES 2

static void build_state(struct registry_state *st, enum registry_source src, uint64_t apps, uint64_t hashes)
{
	uint8_t k[32], id[20];
	uint64_t per = hashes / apps, extra = hashes % apps;

	for (uint64_t i = 0; i < OS_IMAGES; i++) {
		key32(k, "os", i, 0);
		if (registry_state_set_add(st, REGISTRY_SET_OS_IMAGES, k) != ERR_OK)
			die("set_add");
	}
	if (src == REGISTRY_SOURCE_FILE && registry_state_add_tcb_status(st, "UpToDate", 8) != ERR_OK)
		die("tcb");
	for (uint64_t a = 0; a < apps; a++) {
		struct registry_app_state *as;
		uint64_t nh = per + (a < extra);

		addr20(id, a);
		if (registry_state_app(st, id, &as) != ERR_OK)
			die("app");
		registry_app_set_registered(as, 1);
		if (src == REGISTRY_SOURCE_CHAIN)
			registry_app_set_flags(as, REGISTRY_APP_HAS_CODE, 0, 1);
		for (uint64_t d = 0; d < APP_DEVICES; d++) {
			key32(k, "dev", a, d);
			if (registry_app_add_device(as, k, 1) != ERR_OK)
				die("device");
		}
		for (uint64_t h = 0; h < nh; h++) {
			key32(k, "compose", a, h);
			if (registry_app_add_compose_hash(as, k, 1, 1) != ERR_OK)
				die("hash");
		}
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* check                                                                                          */

struct probe {
	uint8_t app[20], compose[32], device[32], os[32];
	struct registry_boot_info b;
	const char *want;      /* NULL = allowed */
};

static const char *const chain_reasons[] = { REGISTRY_R_APP_NOT_REGISTERED, REGISTRY_R_OS_IMAGE,
					     REGISTRY_R_COMPOSE_HASH, REGISTRY_R_DEVICE };
static const char *const file_reasons[] = { REGISTRY_RF_APP_NOT_REGISTERED, REGISTRY_RF_OS_IMAGE,
					    REGISTRY_RF_COMPOSE_HASH, REGISTRY_RF_DEVICE };

static void make_probes(struct probe *p, size_t n, enum registry_source src, uint64_t apps, uint64_t hashes)
{
	uint64_t per = hashes / apps;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const char *const *reasons = src == REGISTRY_SOURCE_CHAIN ? chain_reasons : file_reasons;

	for (size_t i = 0; i < n; i++) {
		uint64_t a, h;
		int kind;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a = x % apps;
		h = per ? (x >> 20) % per : 0;
		/* Half allowed; the other half spread over the four denials. */
		kind = (i & 1) ? 0 : 1 + (int)((i >> 1) % 4);
		addr20(p[i].app, a);
		key32(p[i].compose, "compose", a, h);
		key32(p[i].device, "dev", a, (x >> 40) % APP_DEVICES);
		key32(p[i].os, "os", (x >> 50) % OS_IMAGES, 0);
		p[i].want = kind ? reasons[kind - 1] : NULL;
		switch (kind) {
		case 1: addr20(p[i].app, apps + a); break;
		case 2: key32(p[i].os, "os", OS_IMAGES + 1, 0); break;
		case 3: key32(p[i].compose, "compose", a, per + 7); break;
		case 4: key32(p[i].device, "dev", a, APP_DEVICES + 1); break;
		default: break;
		}
		memset(&p[i].b, 0, sizeof(p[i].b));
		p[i].b.app_id = (struct registry_bytes){ p[i].app, 20 };
		p[i].b.compose_hash = (struct registry_bytes){ p[i].compose, 32 };
		p[i].b.device_id = (struct registry_bytes){ p[i].device, 32 };
		p[i].b.os_image_hash = (struct registry_bytes){ p[i].os, 32 };
		p[i].b.tcb_status = "UpToDate";
	}
}

static int run_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "apps", required_argument, NULL, 'a' },    { "hashes", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' }, { "source", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	enum registry_source src = REGISTRY_SOURCE_CHAIN;
	uint64_t apps = 1000, hashes = 100000, allowed = 0, denied = 0, ops = 0;
	double seconds = 3, t0, c0, t1, c1;
	struct registry_state *st;
	struct registry_snapshot *s = NULL;
	struct probe *p;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': if (!parse_u64(optarg, &apps) || !apps) die("--apps"); break;
		case 'n': if (!parse_u64(optarg, &hashes) || hashes < apps) die("--hashes (>= --apps)"); break;
		case 's': seconds = strtod(optarg, NULL); if (!(seconds > 0)) die("--seconds"); break;
		case 'S':
			if (strcmp(optarg, "chain") == 0)
				src = REGISTRY_SOURCE_CHAIN;
			else if (strcmp(optarg, "file") == 0)
				src = REGISTRY_SOURCE_FILE;
			else
				die("--source chain|file");
			break;
		default: die("check: bad option");
		}
	}
	if (!(st = registry_state_new(src)))
		die("out of memory");
	build_state(st, src, apps, hashes);
	if (registry_state_freeze(st, NULL, &s) != ERR_OK)
		die("freeze");
	registry_state_free(st);
	if (!(p = calloc(CHECK_TABLE, sizeof(*p))))
		die("out of memory");
	make_probes(p, CHECK_TABLE, src, apps, hashes);
	/* Every probe once, checked: a number is never of a wrong answer. */
	for (size_t i = 0; i < CHECK_TABLE; i++) {
		struct registry_decision d;

		if (registry_check(s, &p[i].b, REGISTRY_KIND_APP, 100, &d) != ERR_OK)
			die("registry_check failed");
		if (d.allowed != !p[i].want || (p[i].want && strcmp(d.reason, p[i].want) != 0)) {
			fprintf(stderr, "ds_bench_registry: probe %zu: got %s \"%s\", want %s\n", i,
				d.allowed ? "allowed" : "denied", d.reason, p[i].want ? p[i].want : "allowed");
			return 1;
		}
	}
	t0 = now_s();
	c0 = cpu_s();
	do {
		for (size_t i = 0; i < CHECK_TABLE; i++) {
			struct registry_decision d;

			if (registry_check(s, &p[i].b, REGISTRY_KIND_APP, 100, &d) != ERR_OK)
				die("registry_check failed");
			allowed += (uint64_t)d.allowed;
			denied += (uint64_t)!d.allowed;
		}
		ops += CHECK_TABLE;
	} while ((t1 = now_s()) - t0 < seconds);
	c1 = cpu_s();
	if (allowed != ops / 2 || denied != ops / 2)
		die("allowed/denied split is not the expected half and half");
	printf("check source=%s apps=%llu hashes=%llu ops=%llu seconds=%.3f cpu_seconds=%.3f ops_per_cpu_s=%.0f "
	       "ops_per_s=%.0f ns_per_op=%.1f allowed=%llu denied=%llu\n",
	       src == REGISTRY_SOURCE_CHAIN ? "chain" : "file", (unsigned long long)apps, (unsigned long long)hashes,
	       (unsigned long long)ops, t1 - t0, c1 - c0, (double)ops / (c1 - c0), (double)ops / (t1 - t0),
	       (c1 - c0) * 1e9 / (double)ops, (unsigned long long)allowed, (unsigned long long)denied);
	free(p);
	registry_snapshot_unref(s);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* mem                                                                                            */

static int run_mem(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "apps", required_argument, NULL, 'a' }, { "hashes", required_argument, NULL, 'n' },
		{ "source", required_argument, NULL, 'S' }, { NULL, 0, NULL, 0 },
	};
	enum registry_source src = REGISTRY_SOURCE_CHAIN;
	uint64_t apps = 1000, hashes = 100000;
	struct registry_state *st;
	struct registry_snapshot *s = NULL;
	size_t h0, h1, h2;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': if (!parse_u64(optarg, &apps) || !apps) die("--apps"); break;
		case 'n': if (!parse_u64(optarg, &hashes) || hashes < apps) die("--hashes (>= --apps)"); break;
		case 'S': src = strcmp(optarg, "file") == 0 ? REGISTRY_SOURCE_FILE : REGISTRY_SOURCE_CHAIN; break;
		default: die("mem: bad option");
		}
	}
	h0 = heap_bytes();
	if (!(st = registry_state_new(src)))
		die("out of memory");
	build_state(st, src, apps, hashes);
	h1 = heap_bytes();
	if (registry_state_freeze(st, NULL, &s) != ERR_OK)
		die("freeze");
	h2 = heap_bytes();
	if (s->nhashes != hashes)
		die("snapshot hash count");
	printf("mem source=%s hashes=%llu apps=%llu snapshot_bytes=%zu snapshot_per_hash=%.1f snapshot_counter_bytes=%zu "
	       "builder_bytes=%zu builder_per_hash=%.1f builder_counter_bytes=%zu\n",
	       src == REGISTRY_SOURCE_CHAIN ? "chain" : "file", (unsigned long long)hashes, (unsigned long long)apps,
	       h2 - h1, (double)(h2 - h1) / (double)hashes, s->mem_bytes, h1 - h0, (double)(h1 - h0) / (double)hashes,
	       registry_state_mem_bytes(st));
	registry_snapshot_unref(s);
	registry_state_free(st);
	return 0;
}

int main(int argc, char **argv)
{
	log_setup("ds_bench_registry", LOG_WARN);
	if (argc < 2) {
		fprintf(stderr, "usage: ds_bench_registry sync|check|mem [options] (see the comment at the top of bench_registry.c)\n");
		return 2;
	}
	if (strcmp(argv[1], "sync") == 0)
		return run_sync(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return run_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "mem") == 0)
		return run_mem(argc - 1, argv + 1);
	fprintf(stderr, "ds_bench_registry: unknown case %s\n", argv[1]);
	return 2;
}
