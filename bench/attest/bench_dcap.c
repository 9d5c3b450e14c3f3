/* SPDX-License-Identifier: Apache-2.0 */
/* ds_bench_dcap: DCAP quote verifications per second (known platform, first-seen platform) and cold-collateral latency of lib/attest. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "dcap.h"
#include "enc.h"

/*
 * One process, one thread, one case per run (bench/attest/run.sh pins it to
 * a CPU and alternates it with the JS peer). Cases:
 *
 *   known    verified collateral (dcap_vcoll) + a warm dcap_cache: the
 *            platform's certification data (PCK chain, QE report and its
 *            signature) already verified, so a quote costs one P-256
 *            verification (the quote signature) plus parsing, SHA-256 of the
 *            signed region and the cache key, TCB matching and the policy.
 *   first    verified collateral, but the platform cache is cleared before
 *            every quote: PCK leaf signature, QE report signature and quote
 *            signature (three P-256 verifications) plus PEM/X.509 parsing.
 *   nocache  verified collateral, no platform cache at all: the PCK chain
 *            goes through X509_STORE with CRL checks (informational).
 *   sig      ecdsa_verify_p256_sha256 of the quote signature alone with a
 *            preloaded key: our wrapper's cost next to `openssl speed`.
 *   cold     N full verifications from scratch (dcap_verify): parse the
 *            collateral JSON, verify every collateral signature and chain,
 *            then the quote, no cache (the PCK leaf against the CA just
 *            verified, by lib/attest's leaf reader or OpenSSL's fallback).
 *            Per-run latency: median, p99, mean, min, max.
 *
 * Every verification's result is checked (ERR_OK with the expected status);
 * a failure stops the run with exit 1, so a number is never of a failing path.
 *
 * Rates are per CPU-second of this process (user + system, as `openssl
 * speed` divides by CPU time, so a busy machine does not skew the ratio to
 * the floor) and per wall-second. Output (stdout, one line): rate cases print
 *   "<case> ops=N seconds=S cpu_seconds=C ops_per_cpu_s=X ops_per_s=Y us_per_op_cpu=U hits=H misses=M"
 * and `cold` prints wall-clock latency and CPU time per run:
 *   "cold runs=N median_us=.. p99_us=.. mean_us=.. min_us=.. max_us=.. cpu_median_us=.. cpu_p99_us=..".
 */

#define FILE_MAX (4u << 20)
#define COLD_MAX_RUNS 1000000u

enum bench_case { CASE_KNOWN = 1, CASE_FIRST, CASE_NOCACHE, CASE_SIG, CASE_COLD };

struct opts {
	const char *quote, *collateral, *dev_root, *expect_status;
	uint64_t now;
	double seconds;
	unsigned cold_runs;
	enum bench_case which;
};

struct bench {
	uint8_t *quote;
	size_t quote_len;
	char *json;
	size_t json_len;
	struct attest_trust trust;
	struct arena coll_arena;   /* the parsed collateral of the warm cases */
	struct arena arena;        /* per verification, reset every time */
	struct dcap_collateral coll;
	struct dcap_vcoll *vc;
	struct dcap_cache *cache;
	int expect_status;         /* enum tcb_status */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ds_bench_dcap --case known|first|nocache|sig|cold --quote FILE --collateral FILE --now UNIX\n"
		   "                     [--seconds S] [--runs N] [--dev-root DER] [--expect-status NAME]\n"
		   "  --seconds S   duration of a rate case (default 3)\n"
		   "  --runs N      verifications of the cold case (default 2000)\n"
		   "  --dev-root    also trust this development root (sim quotes)\n"
		   "  --expect-status  TCB status every verification must give (default UpToDate)\n"
		   "The quote is raw bytes, or hex text when FILE ends in .hex. Policy: the strict default\n"
		   "(UpToDate only) unless --expect-status names another status, which is then accepted.\n");
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f) {
		fprintf(stderr, "ds_bench_dcap: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && (size_t)n <= FILE_MAX && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = 0;
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	if (!buf)
		fprintf(stderr, "ds_bench_dcap: cannot read %s\n", path);
	return buf;
}

static uint8_t *read_quote(const char *path, size_t *len)
{
	size_t n = 0, k = 0, out_len = 0, pl = strlen(path);
	uint8_t *raw = read_file(path, &n), *out;

	if (!raw || pl < 4 || strcmp(path + pl - 4, ".hex") != 0) {
		*len = n;
		return raw;
	}
	for (size_t i = 0; i < n; i++)
		if (raw[i] != ' ' && raw[i] != '\n' && raw[i] != '\r' && raw[i] != '\t')
			raw[k++] = raw[i];
	out = malloc(k / 2 + 1);
	if (out && hex_decode(out, k / 2 + 1, &out_len, (const char *)raw, k, 1) != ERR_OK) {
		free(out);
		out = NULL;
	}
	free(raw);
	*len = out_len;
	return out;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || !end || *end || end == s ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "case", required_argument, NULL, 'k' },     { "quote", required_argument, NULL, 'q' },
		{ "collateral", required_argument, NULL, 'c' }, { "now", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },  { "runs", required_argument, NULL, 'r' },
		{ "dev-root", required_argument, NULL, 'd' }, { "expect-status", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		enum bench_case c;
	} cases[] = {
		{ "known", CASE_KNOWN }, { "first", CASE_FIRST }, { "nocache", CASE_NOCACHE },
		{ "sig", CASE_SIG },     { "cold", CASE_COLD },
	};
	uint64_t v;
	int opt, have_now = 0;

	o->seconds = 3;
	o->cold_runs = 2000;
	o->expect_status = "UpToDate";
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			for (size_t i = 0; i < ARRAY_LEN(cases); i++)
				if (strcmp(optarg, cases[i].name) == 0)
					o->which = cases[i].c;
			if (!o->which)
				return fprintf(stderr, "ds_bench_dcap: unknown --case %s\n", optarg), -1;
			break;
		case 'q':
			o->quote = optarg;
			break;
		case 'c':
			o->collateral = optarg;
			break;
		case 'd':
			o->dev_root = optarg;
			break;
		case 'e':
			o->expect_status = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &o->now))
				return fprintf(stderr, "ds_bench_dcap: bad --now\n"), -1;
			have_now = 1;
			break;
		case 's': {
			char *end = NULL;

			o->seconds = strtod(optarg, &end);
			if (!end || *end || !(o->seconds > 0 && o->seconds <= 3600))
				return fprintf(stderr, "ds_bench_dcap: bad --seconds\n"), -1;
			break;
		}
		case 'r':
			if (parse_u64(optarg, &v) || v == 0 || v > COLD_MAX_RUNS)
				return fprintf(stderr, "ds_bench_dcap: bad --runs\n"), -1;
			o->cold_runs = (unsigned)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !o->which || !o->quote || !o->collateral || !have_now) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The policy: strict default, plus the expected status if it is not UpToDate. */
static void bench_policy(const struct bench *b, struct attest_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->accepted_statuses = 1u << b->expect_status;
	p->allow_any_advisory = 1;
}

/* One verification's result must be the expected acceptance; anything else ends the benchmark. */
static void check(const char *what, err_t err, const struct attest_verdict *v, const struct bench *b)
{
	if (err != ERR_OK || (int)v->tcb.status != b->expect_status) {
		fprintf(stderr, "ds_bench_dcap: %s: %s (%s), status %s; expected %s\n", what, err_name(err),
			v->detail ? v->detail : "-", tcb_status_name(v->tcb.status), tcb_status_name(b->expect_status));
		exit(1);
	}
}

static X509 *read_cert(const char *path)
{
	size_t n = 0;
	uint8_t *der = read_file(path, &n);
	X509 *x = der ? x509_from_bytes(der, n) : NULL;

	free(der);
	return x;
}

static int bench_init(struct bench *b, const struct opts *o)
{
	const char *detail = NULL;
	err_t err;

	memset(b, 0, sizeof(*b));
	arena_init(&b->coll_arena, 64u << 20, 0);
	arena_init(&b->arena, 16u << 20, 0);
	b->expect_status = tcb_status_parse(o->expect_status, strlen(o->expect_status));
	if (b->expect_status < 0)
		return fprintf(stderr, "ds_bench_dcap: unknown status %s\n", o->expect_status), -1;
	b->trust.intel_root = attest_intel_root();
	if (!b->trust.intel_root || (o->dev_root && !(b->trust.intel_dev_root = read_cert(o->dev_root))))
		return fprintf(stderr, "ds_bench_dcap: cannot load the trust anchors\n"), -1;
	b->quote = read_quote(o->quote, &b->quote_len);
	b->json = (char *)read_file(o->collateral, &b->json_len);
	if (!b->quote || !b->json)
		return -1;
	err = dcap_collateral_parse_json(b->json, b->json_len, &b->coll_arena, &b->coll, &detail);
	if (err == ERR_OK)
		err = dcap_vcoll_new(&b->coll, &b->trust, &b->vc, &detail);
	if (err) {
		fprintf(stderr, "ds_bench_dcap: collateral: %s (%s)\n", err_name(err), detail ? detail : "-");
		return -1;
	}
	b->cache = dcap_cache_new(64);
	return b->cache ? 0 : -1;
}

static void bench_fini(struct bench *b)
{
	dcap_cache_free(b->cache);
	dcap_vcoll_free(b->vc);
	arena_fini(&b->arena);
	arena_fini(&b->coll_arena);
	X509_free(b->trust.intel_root);
	X509_free(b->trust.intel_dev_root);
	free(b->quote);
	free(b->json);
}

/* CPU time of this process (user + system), ns: what `openssl speed` divides by (user time) and robust to a busy machine. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One unit of work of a rate case; the result is checked every time. */
static void rate_once(struct bench *b, enum bench_case which, const struct attest_policy *pol, uint64_t now,
		      EVP_PKEY *key, const struct dcap_quote *q)
{
	struct attest_verdict v;
	err_t err;

	arena_reset(&b->arena);
	switch (which) {
	case CASE_SIG:
		if (ecdsa_verify_p256_sha256(key, q->signature, b->quote, q->signed_len) != ERR_OK) {
			fprintf(stderr, "ds_bench_dcap: quote signature does not verify\n");
			exit(1);
		}
		return;
	case CASE_FIRST:
		dcap_cache_clear(b->cache);
		err = dcap_verify_quote(b->vc, b->quote, b->quote_len, pol, now, b->cache, &b->arena, &v);
		break;
	case CASE_KNOWN:
		err = dcap_verify_quote(b->vc, b->quote, b->quote_len, pol, now, b->cache, &b->arena, &v);
		break;
	default:
		err = dcap_verify_quote(b->vc, b->quote, b->quote_len, pol, now, NULL, &b->arena, &v);
		break;
	}
	check("verification", err, &v, b);
}

/* A rate case: a short warm-up, then batches until `seconds` have passed. */
static void run_rate(struct bench *b, const struct opts *o)
{
	static const char *const names[] = { "", "known", "first", "nocache", "sig", "cold" };
	struct attest_policy pol;
	struct dcap_quote q;
	struct dcap_cache_stats st0, st1;
	EVP_PKEY *key = NULL;
	uint64_t n = 0, t0, t1, c0, c1, deadline;
	const char *detail = NULL;
	double secs, cpu;

	memset(&q, 0, sizeof(q));
	bench_policy(b, &pol);
	if (dcap_quote_parse(b->quote, b->quote_len, &q, &detail) || !(key = ec_p256_pubkey_from_xy(q.att_key))) {
		fprintf(stderr, "ds_bench_dcap: quote does not parse: %s\n", detail ? detail : "-");
		exit(1);
	}
	/* Warm-up (fills the platform cache for `known`; faults in code and data). */
	for (int i = 0; i < 200; i++)
		rate_once(b, o->which, &pol, o->now, key, &q);
	dcap_cache_stats(b->cache, &st0);
	c0 = cpu_ns();
	t0 = mono_ns();
	deadline = t0 + (uint64_t)(o->seconds * 1e9);
	do {
		for (int i = 0; i < 16; i++)
			rate_once(b, o->which, &pol, o->now, key, &q);
		n += 16;
		t1 = mono_ns();
	} while (t1 < deadline);
	c1 = cpu_ns();
	dcap_cache_stats(b->cache, &st1);
	EVP_PKEY_free(key);
	secs = (double)(t1 - t0) / 1e9;
	cpu = (double)(c1 - c0) / 1e9;
	printf("%s ops=%llu seconds=%.3f cpu_seconds=%.3f ops_per_cpu_s=%.1f ops_per_s=%.1f us_per_op_cpu=%.3f "
	       "hits=%llu misses=%llu\n",
	       names[o->which], (unsigned long long)n, secs, cpu, (double)n / cpu, (double)n / secs,
	       cpu * 1e6 / (double)n, (unsigned long long)(st1.hits - st0.hits),
	       (unsigned long long)(st1.misses - st0.misses));
}

/* Index of the p-quantile in a sorted array of n (nearest rank). */
static size_t pct_index(size_t n, double p)
{
	size_t k = (size_t)((double)n * p + 0.999999);

	return k ? k - 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Cold: everything from the collateral text, nothing cached: JSON parse,
 * TCB info / QE identity parse and signatures, every issuer chain and both
 * CRLs, then the quote (PCK leaf against the PCK CA verified with the
 * collateral, QE report, quote signature, TCB). The trust anchors are
 * configuration, loaded once.
 */
static void run_cold(struct bench *b, const struct opts *o)
{
	struct attest_policy pol;
	struct attest_verdict v;
	struct dcap_collateral coll;
	struct arena ca;
	unsigned n = o->cold_runs;
	uint64_t *ns = calloc(n, sizeof(*ns)), *cpu = calloc(n, sizeof(*cpu)), sum = 0;
	const char *detail = NULL;
	err_t err;

	if (!ns || !cpu)
		exit(1);
	bench_policy(b, &pol);
	arena_init(&ca, 64u << 20, 0);
	for (unsigned i = 0; i < n + 20; i++) {
		uint64_t c0 = cpu_ns(), t0 = mono_ns(), t1;

		arena_reset(&ca);
		arena_reset(&b->arena);
		err = dcap_collateral_parse_json(b->json, b->json_len, &ca, &coll, &detail);
		if (err) {
			fprintf(stderr, "ds_bench_dcap: collateral: %s (%s)\n", err_name(err), detail ? detail : "-");
			exit(1);
		}
		err = dcap_verify(b->quote, b->quote_len, &coll, &b->trust, &pol, o->now, &b->arena, &v);
		t1 = mono_ns();
		check("cold verification", err, &v, b);
		if (i >= 20) {   /* the first 20 warm up caches and the allocator */
			ns[i - 20] = t1 - t0;
			cpu[i - 20] = cpu_ns() - c0;
		}
	}
	arena_fini(&ca);
	for (unsigned i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, n, sizeof(*ns), cmp_u64);
	qsort(cpu, n, sizeof(*cpu), cmp_u64);
	printf("cold runs=%u median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f cpu_median_us=%.1f "
	       "cpu_p99_us=%.1f\n",
	       n, (double)ns[(n - 1) / 2] / 1e3, (double)ns[pct_index(n, 0.99)] / 1e3, (double)sum / n / 1e3,
	       (double)ns[0] / 1e3, (double)ns[n - 1] / 1e3, (double)cpu[(n - 1) / 2] / 1e3,
	       (double)cpu[pct_index(n, 0.99)] / 1e3);
	free(ns);
	free(cpu);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct bench b;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	memset(&b, 0, sizeof(b));
	if (parse_args(argc, argv, &o))
		return 2;
	if (bench_init(&b, &o))
		goto out;
	if (o.which == CASE_COLD)
		run_cold(&b, &o);
	else
		run_rate(&b, &o);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	bench_fini(&b);
	return rc;
}
