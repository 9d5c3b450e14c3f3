/* SPDX-License-Identifier: Apache-2.0 */
/* ds_bench_kms: GetAppKey over mutual RA-TLS (kept-alive or a new connection per request) and the plain mutual-TLS handshake floor. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "dstack_keys.h"
#include "enc.h"
#include "k256.h"
#include "kms_client.h"
#include "log.h"
#include "ratls.h"
#include "rpc_client.h"
#include "tee.h"

/*
 * One case per run; bench/kms/run.sh starts the registry, the KMS and the
 * floor server, pins everything and passes their PIDs with --watch so that
 * their CPU time (utime + stime from /proc/PID/stat, the process and its
 * child processes: the KMS's key holder is one) is read exactly at the
 * start and the end of the measured window. Cases:
 *
 *   platform   write collateral.json and dev-root.der of the simulated
 *              platform into --out-dir (what the KMS is configured with).
 *   bootstrap  KmsAdmin/Bootstrap with domain 127.0.0.1 over the admin unix
 *              socket --admin-sock (root keys generated in the key holder).
 *   keepalive  a simulated CVM (lib/tee sim in --tee-dir: dstack's boot
 *              events for the app, compose hash, instance, OS image) gets
 *              the temp CA (GetTempCaCert), builds its RA-TLS client
 *              certificate in memory and calls GetAppKey on ONE rpc_client:
 *              one mutual RA-TLS connection, --conc calls in flight on it
 *              (HTTP/2 streams), each issued as soon as one finishes.
 *   newconn    the same certificate, but each GetAppKey on a fresh
 *              rpc_client, hence a fresh TCP + TLS 1.3 connection (freed,
 *              and the connection closed, when the call finishes); --conc
 *              such connections at a time.
 *   tls        the floor: full mutual TLS 1.3 handshakes (client
 *              certificate, server verified against --ca) against --connect
 *              HOST:PORT, each followed by "GET /PATH HTTP/1.0" and the
 *              answer read to EOF (so the server has finished its side,
 *              client certificate included); --conc blocking threads.
 *
 * Every key response is checked: the first one's k256 signature chain
 * (dstack-kms-issued, recovered to k256_root_pubkey), every later one
 * byte-equal to the first. A call that fails in transport (not an answer
 * of the KMS) is re-issued once, its latency counted from the first try,
 * and counted as retried: libcurl 7.88 sends RST_STREAM after every
 * finished stream, and nghttp2's rapid-reset limit (1000 + 33/s) then ends
 * a kept-alive connection with GOAWAY (bench/kms/run.sh, docs/benchmarks.md).
 * Prints one line of key=value fields.
 */

#define APP_ID "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define COMPOSE "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define INSTANCE "1111111111111111111111111111111111111111"
#define OS_IMAGE "0505050505050505050505050505050505050505050505050505050505050505"
#define MAX_WATCH 4
#define MAX_CONC 256
#define GET_APP_KEY "/dstack.kms.v1.Kms/GetAppKey"

struct opts {
	const char *cas;
	const char *url, *tee_dir, *out_dir, *admin_sock;
	const char *connect, *cert, *key, *ca, *path;
	double seconds, warmup;
	unsigned conc;
	const char *watch_name[MAX_WATCH];
	pid_t watch_pid[MAX_WATCH];
	int nwatch;
	const char *lat_file;
	int rev;
};

/* ---- time and CPU ---- */

static double cpu_self_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fields 4 (ppid), 14 (utime) and 15 (stime) of /proc/PID/stat; 0 when the process is gone. */
static int proc_stat(pid_t pid, pid_t *ppid, unsigned long long *ticks)
{
	char path[64], text[1024], *p, *end;
	FILE *f;
	size_t n;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	/* The command name may hold spaces and parentheses: fields restart after the last ')'. */
	if (!(p = strrchr(text, ')')))
		return 0;
	p++;
	*ticks = 0;
	while (*p && field < 15) {
		while (*p == ' ')
			p++;
		field++;
		if (field == 4 && ppid)
			*ppid = (pid_t)strtol(p, NULL, 10);
		if (field == 14 || field == 15)
			*ticks += strtoull(p, &end, 10);
		while (*p && *p != ' ')
			p++;
	}
	return field == 15;
}

/* CPU seconds of `pid` plus those of its live child processes (the KMS's key holder). */
static double proc_cpu_s(pid_t pid)
{
	static long hz;
	unsigned long long t = 0, total = 0;
	DIR *d;
	struct dirent *e;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	if (!proc_stat(pid, NULL, &t))
		return -1;
	total = t;
	if ((d = opendir("/proc"))) {
		while ((e = readdir(d))) {
			char *end;
			long v = strtol(e->d_name, &end, 10);
			pid_t pp = 0;

			if (*end || v <= 0 || (pid_t)v == pid)
				continue;
			if (proc_stat((pid_t)v, &pp, &t) && pp == pid)
				total += t;
		}
		closedir(d);
	}
	return (double)total / (double)hz;
}

static void watch_snap(const struct opts *o, double *out)
{
	for (int i = 0; i < o->nwatch; i++)
		out[i] = proc_cpu_s(o->watch_pid[i]);
}

/* ---- latencies ---- */

struct lat {
	uint64_t *v;   /* nanoseconds */
	size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;   /* out of memory: the sample is dropped, the count is not */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds. */
static double lat_pct(const struct lat *l, double p)
{
	size_t i;

	if (!l->n)
		return 0;
	i = (size_t)(p * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return (double)l->v[i - 1] / 1000.0;
}

static double lat_mean(const struct lat *l)
{
	double s = 0;

	for (size_t i = 0; i < l->n; i++)
		s += (double)l->v[i];
	return l->n ? s / (double)l->n / 1000.0 : 0;
}

/* The result line: case, counts, rates, latencies, and the watched processes' CPU over the window. */
static void report(const struct opts *o, uint64_t ok, uint64_t bad, uint64_t retried, double wall, double self_cpu,
		   const double *w0, const double *w1, struct lat *l)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
	printf("case=%s conc=%u ok=%llu errors=%llu retried=%llu seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f "
	       "mean_us=%.1f max_us=%.1f client_cpu_s=%.3f",
	       o->cas, o->conc, (unsigned long long)ok, (unsigned long long)bad, (unsigned long long)retried, wall,
	       wall > 0 ? (double)ok / wall : 0,
	       lat_pct(l, 0.50), lat_pct(l, 0.99), lat_mean(l), l->n ? (double)l->v[l->n - 1] / 1000.0 : 0, self_cpu);
	for (int i = 0; i < o->nwatch; i++) {
		double c = w0[i] >= 0 && w1[i] >= 0 ? w1[i] - w0[i] : -1;

		printf(" cpu_%s_s=%.2f per_cpu_s_%s=%.1f", o->watch_name[i], c, o->watch_name[i],
		       c > 0 ? (double)ok / c : 0);
	}
	printf("\n");
	if (o->lat_file) {
		FILE *f = fopen(o->lat_file, "w");

		for (size_t i = 0; f && i < l->n; i++)
			fprintf(f, "%.1f\n", (double)l->v[i] / 1000.0);
		if (f)
			fclose(f);
	}
}

/* ---- the simulated platform and CVM ---- */

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")))
		return -1;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int case_platform(const struct opts *o)
{
	struct tee_config cfg = { .backend = "sim" };
	char dir[1024];
	struct tee *t = NULL;
	const char *detail = NULL;
	const uint8_t *der;
	char *coll = NULL;
	size_t len;
	int rc = 1;

	snprintf(dir, sizeof(dir), "%s/platform", o->out_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return 1;
	cfg.state_dir = dir;
	if (tee_open(&cfg, &t, &detail) != ERR_OK || tee_sim_collateral_json(t, wall_s(), &coll, &len) != ERR_OK ||
	    write_file(o->out_dir, "collateral.json", coll, len) != 0 || tee_sim_dev_root_der(t, &der, &len) != ERR_OK ||
	    write_file(o->out_dir, "dev-root.der", der, len) != 0) {
		fprintf(stderr, "ds_bench_kms: cannot write the sim platform's collateral and root: %s\n",
			detail ? detail : "");
		goto out;
	}
	rc = 0;
out:
	free(coll);
	tee_close(t);
	return rc;
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
	if (strlen(h) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hex_digit_value(h[2 * i]), b = hex_digit_value(h[2 * i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

/* A simulated CVM with dstack's boot-time runtime events (as tests/integration/kms/test_kms_e2e.c). */
static struct tee *cvm_open(const char *dir)
{
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"\"}";
	struct tee_config cfg = { .backend = "sim" };
	uint8_t app[20], ch[32], inst[20], os[32];
	const char *detail = NULL;
	struct tee *t = NULL;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NULL;
	cfg.state_dir = dir;
	if (unhex(APP_ID, app, sizeof(app)) || unhex(COMPOSE, ch, sizeof(ch)) || unhex(INSTANCE, inst, sizeof(inst)) ||
	    unhex(OS_IMAGE, os, sizeof(os)) || tee_open(&cfg, &t, &detail) != ERR_OK)
		goto fail;
	if (tee_extend_runtime_event(t, "system-preparing", NULL, 0, &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "app-id", app, sizeof(app), &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "compose-hash", ch, sizeof(ch), &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "instance-id", inst, sizeof(inst), &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "boot-mr-done", NULL, 0, &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "os-image-hash", os, sizeof(os), &detail) != ERR_OK ||
	    tee_extend_runtime_event(t, "key-provider", (const uint8_t *)kp, sizeof(kp) - 1, &detail) != ERR_OK)
		goto fail;
	return t;
fail:
	fprintf(stderr, "ds_bench_kms: simulated CVM in %s: %s\n", dir, detail ? detail : "bad constants");
	tee_close(t);
	return NULL;
}

/* Bootstrap over the admin socket: the KMS generates its root keys and serves under domain 127.0.0.1. */
static int case_bootstrap(const struct opts *o)
{
	char url[1100];
	struct rpc_client_opts co = { .wire = RPC_WIRE_GRPC };
	Dstack__Kms__V1__BootstrapRequest q;
	struct rpc_result res;
	struct arena mem;
	err_t err;

	snprintf(url, sizeof(url), "unix://%s", o->admin_sock);
	co.base_url = url;
	arena_init(&mem, 1u << 20, 0);
	dstack__kms__v1__bootstrap_request__init(&q);
	q.domain = UNCONST("127.0.0.1");
	err = rpc_call_sync(&co, "/dstack.kms.v1.KmsAdmin/Bootstrap", &q.base,
			    &dstack__kms__v1__bootstrap_response__descriptor, NULL, &mem, &res);
	if (err != ERR_OK)
		fprintf(stderr, "ds_bench_kms: Bootstrap: %s %s\n", err_name(err), res.message ? res.message : "");
	arena_fini(&mem);
	return err == ERR_OK ? 0 : 1;
}

/* ---- the RA-TLS client ---- */

/* What a CVM holds before asking for keys: its RA-TLS certificate (from the temp CA) and the KMS root. */
struct creds {
	X509 *cert;
	EVP_PKEY *key;
	X509_STORE *roots;
};

static void creds_free(struct creds *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	X509_STORE_free(c->roots);
	memset(c, 0, sizeof(*c));
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

/* GetTempCaCert (the server unverified, as dstack's guest does), then the certificate with evidence from `tee`. */
static int creds_make(const char *url, struct tee *tee, struct creds *out)
{
	struct rpc_client_opts co = { .base_url = url, .wire = RPC_WIRE_GRPC };
	struct ratls_cert_params p = { .cn = "RA-TLS TEMP Cert", .not_after = wall_s() + 3600, .client_auth = 1 };
	Dstack__Kms__V1__GetTempCaCertResponse *r;
	STACK_OF(X509) *tmp = NULL, *roots = NULL;
	EVP_PKEY *tmp_key = NULL;
	ProtobufCMessage empty;
	struct rpc_result res;
	struct arena mem;
	const char *detail = "GetTempCaCert failed";
	int rc = -1;

	memset(out, 0, sizeof(*out));
	arena_init(&mem, 1u << 20, 0);
	co.tls.insecure_skip_verify = 1;
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	if (rpc_call_sync(&co, "/dstack.kms.v1.Kms/GetTempCaCert", &empty,
			  &dstack__kms__v1__get_temp_ca_cert_response__descriptor, NULL, &mem, &res) != ERR_OK)
		goto out;
	r = (Dstack__Kms__V1__GetTempCaCertResponse *)res.resp;
	detail = "cannot read the temp CA or the root CA";
	if (!r->temp_ca_cert || !r->temp_ca_key || !r->ca_cert ||
	    !(tmp = pem_certs_parse(r->temp_ca_cert, strlen(r->temp_ca_cert))) ||
	    !(roots = pem_certs_parse(r->ca_cert, strlen(r->ca_cert))) || !(tmp_key = key_from_pem(r->temp_ca_key)) ||
	    !(out->roots = X509_STORE_new()) || X509_STORE_add_cert(out->roots, sk_X509_value(roots, 0)) != 1)
		goto out;
	detail = "cannot create the RA-TLS client certificate";
	if (!(out->key = ratls_key_new()) ||
	    ratls_cert_new_attested(&p, out->key, ratls_tee_quote, tee, sk_X509_value(tmp, 0), tmp_key, &out->cert,
				    &detail) != ERR_OK)
		goto out;
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "ds_bench_kms: %s (%s)\n", detail, res.message ? res.message : err_name(res.err));
	sk_X509_pop_free(tmp, X509_free);
	sk_X509_pop_free(roots, X509_free);
	EVP_PKEY_free(tmp_key);
	arena_fini(&mem);
	if (rc)
		creds_free(out);
	return rc;
}

/* ---- GetAppKey load on one event loop ---- */

enum phase { PH_WARMUP, PH_MEASURE, PH_STOP };

struct app_bench;

struct slot {
	struct app_bench *b;
	struct rpc_client *c;   /* newconn: this call's own client */
	uint64_t t0;
	int retrying;           /* this call failed once in transport and is being re-issued */
};

struct app_bench {
	const struct opts *o;
	struct event_base *base;
	struct rpc_client_opts co;
	int newconn;
	struct rpc_client *shared;   /* keepalive */
	Dstack__Kms__V1__GetAppKeyRequest req;
	enum phase phase;
	unsigned inflight;
	uint64_t ok, bad, total_ok, retried;
	struct lat lat;
	uint8_t first[32 + 32 + 32];   /* disk, env, k256 keys of the first answer */
	int have_first;
	const char *first_error;
	double t_start, t_end, self0, self1, w0[MAX_WATCH], w1[MAX_WATCH];
};

static double now_s(void)
{
	return (double)mono_ns() / 1e9;
}

/* The first answer's signature chain; every answer's keys equal to the first's. */
static int check_keys(struct app_bench *b, const Dstack__Kms__V1__AppKeyResponse *k)
{
	uint8_t got[sizeof(b->first)], app[20], pub[K256_PUB_LEN], hash[K256_HASH_LEN], signer[K256_PUB_LEN];

	if (!k || k->disk_crypt_key.len != 32 || k->env_crypt_key.len != 32 || k->k256_key.len != 32 ||
	    k->k256_signature.len != K256_SIG_LEN || k->k256_root_pubkey.len != K256_PUB_LEN)
		return 0;
	memcpy(got, k->disk_crypt_key.data, 32);
	memcpy(got + 32, k->env_crypt_key.data, 32);
	memcpy(got + 64, k->k256_key.data, 32);
	if (b->have_first)
		return memcmp(got, b->first, sizeof(got)) == 0;
	if (unhex(APP_ID, app, sizeof(app)) || k256_pubkey(k->k256_key.data, pub) != ERR_OK ||
	    dstack_kms_issued_hash(app, sizeof(app), pub, hash) != ERR_OK ||
	    k256_recover(hash, k->k256_signature.data, signer) != ERR_OK || memcmp(signer, k->k256_root_pubkey.data, 33))
		return 0;
	memcpy(b->first, got, sizeof(got));
	b->have_first = 1;
	return 1;
}

static void on_reply(void *arg, const struct rpc_result *res);

static int slot_start(struct slot *s)
{
	struct app_bench *b = s->b;
	struct rpc_client *c = b->shared;

	if (b->newconn && !(c = s->c = rpc_client_new(b->base, &b->co)))
		return -1;
	if (!s->retrying)
		s->t0 = mono_ns();   /* a re-issued call keeps its start: its latency includes the failed try */
	if (rpc_client_call(c, GET_APP_KEY, &b->req.base, &dstack__kms__v1__app_key_response__descriptor, NULL, on_reply,
			    s) != ERR_OK) {
		if (b->newconn) {
			rpc_client_free(s->c);
			s->c = NULL;
		}
		return -1;
	}
	b->inflight++;
	return 0;
}

static void on_reply(void *arg, const struct rpc_result *res)
{
	struct slot *s = arg;
	struct app_bench *b = s->b;
	uint64_t t1 = mono_ns();
	int good = res->err == ERR_OK && check_keys(b, (const Dstack__Kms__V1__AppKeyResponse *)res->resp);

	b->inflight--;
	if (b->newconn) {
		rpc_client_free(s->c);   /* allowed from its own callback; closes the connection */
		s->c = NULL;
	}
	/*
	 * A transport failure (not an answer from the KMS) is re-issued once on the
	 * same client, as a client of an idempotent call would: with libcurl 7.88 a
	 * kept-alive connection gets a GOAWAY now and then (see run.sh). Counted.
	 */
	if (!good && !s->retrying && b->phase != PH_STOP &&
	    (err_group(res->err) == ERR_IO || res->err == ERR_PROTO_HTTP)) {
		if (b->phase == PH_MEASURE)
			b->retried++;
		s->retrying = 1;
		if (slot_start(s) == 0)
			return;
	}
	s->retrying = 0;
	if (!good && !b->first_error) {
		b->first_error = "a GetAppKey answer did not check";
		fprintf(stderr, "ds_bench_kms: GetAppKey: %s (code %d: %s)\n", err_name(res->err), (int)res->code,
			res->message ? res->message : "");
	}
	if (good)
		b->total_ok++;
	if (b->phase == PH_MEASURE) {
		if (good) {
			b->ok++;
			lat_add(&b->lat, t1 - s->t0);
		} else {
			b->bad++;
		}
	}
	if (b->phase != PH_STOP && slot_start(s) == 0)
		return;
	if (b->inflight == 0)
		event_base_loopbreak(b->base);
}

static void on_phase(evutil_socket_t fd, short what, void *arg)
{
	struct app_bench *b = arg;

	(void)fd;
	(void)what;
	if (b->phase == PH_WARMUP) {
		watch_snap(b->o, b->w0);
		b->self0 = cpu_self_s();
		b->t_start = now_s();
		b->phase = PH_MEASURE;
	} else if (b->phase == PH_MEASURE) {
		b->t_end = now_s();
		b->self1 = cpu_self_s();
		watch_snap(b->o, b->w1);
		b->phase = PH_STOP;
		if (b->inflight == 0)
			event_base_loopbreak(b->base);
	}
}

static int case_app(const struct opts *o, int newconn)
{
	struct app_bench b;
	struct creds cr;
	struct slot *slots = NULL;
	struct tee *tee = NULL;
	struct event *t_warm = NULL, *t_end = NULL;
	struct timeval tw, te;
	int rc = 1;

	memset(&b, 0, sizeof(b));
	memset(&cr, 0, sizeof(cr));
	b.o = o;
	b.newconn = newconn;
	if (!(tee = cvm_open(o->tee_dir)) || creds_make(o->url, tee, &cr) != 0)
		goto out;
	if (!(b.base = event_base_new()) || !(slots = calloc(o->conc, sizeof(*slots))))
		goto out;
	b.co = (struct rpc_client_opts){ .base_url = o->url, .wire = RPC_WIRE_GRPC, .timeout_ms = 30000 };
	b.co.tls.cert = cr.cert;
	b.co.tls.key = cr.key;
	b.co.tls.ca_store = cr.roots;
	b.co.tls.verifier = &kms_server_verifier;
	dstack__kms__v1__get_app_key_request__init(&b.req);
	b.req.api_version = 1;
	b.req.vm_config = UNCONST("{}");
	if (!newconn && !(b.shared = rpc_client_new(b.base, &b.co)))
		goto out;
	/* One call first: the connection (keepalive) and the KMS's verdict for this certificate exist before the load. */
	b.phase = PH_STOP;   /* nothing is re-issued; the loop ends when the call does */
	slots[0].b = &b;
	if (slot_start(&slots[0]) != 0)
		goto out;
	event_base_dispatch(b.base);
	if (!b.total_ok)
		goto out;
	tw = (struct timeval){ (time_t)o->warmup, (suseconds_t)((o->warmup - (double)(time_t)o->warmup) * 1e6) };
	te = (struct timeval){ (time_t)(o->warmup + o->seconds),
			       (suseconds_t)((o->warmup + o->seconds - (double)(time_t)(o->warmup + o->seconds)) * 1e6) };
	if (!(t_warm = evtimer_new(b.base, on_phase, &b)) || !(t_end = evtimer_new(b.base, on_phase, &b)) ||
	    evtimer_add(t_warm, &tw) != 0 || evtimer_add(t_end, &te) != 0)
		goto out;
	b.phase = PH_WARMUP;
	for (unsigned i = 0; i < o->conc; i++) {
		slots[i].b = &b;
		if (slot_start(&slots[i]) != 0)
			goto out;
	}
	event_base_dispatch(b.base);
	report(o, b.ok, b.bad, b.retried, b.t_end - b.t_start, b.self1 - b.self0, b.w0, b.w1, &b.lat);
	rc = b.bad ? 2 : 0;
out:
	if (rc == 1)
		fprintf(stderr, "ds_bench_kms: %s failed%s%s\n", o->cas, b.first_error ? ": " : "",
			b.first_error ? b.first_error : "");
	if (t_warm)
		event_free(t_warm);
	if (t_end)
		event_free(t_end);
	rpc_client_free(b.shared);
	for (unsigned i = 0; slots && i < o->conc; i++)
		rpc_client_free(slots[i].c);
	free(slots);
	if (b.base)
		event_base_free(b.base);
	free(b.lat.v);
	creds_free(&cr);
	tee_close(tee);
	return rc;
}

/* ---- the floor: plain mutual-TLS handshakes, blocking threads ---- */

struct tls_bench {
	const struct opts *o;
	SSL_CTX *ctx;
	struct sockaddr_in addr;
	char request[512];
	int rev;                 /* s_server -rev instead of -WWW */
	_Atomic int phase;
};

struct tls_worker {
	struct tls_bench *tb;
	pthread_t th;
	uint64_t ok, bad;
	struct lat lat;
	char err[160];
};

/*
 * One connection: TCP, full handshake, one request, its answer. "www"
 * (s_server -WWW, or any HTTP server): "GET /PATH HTTP/1.0", a 200 answer
 * read to EOF; "rev"
 * (s_server -rev): one line, read back reversed, then we close. 0 when it
 * all worked.
 */
static int tls_once(struct tls_worker *w)
{
	struct tls_bench *tb = w->tb;
	char buf[4096];
	size_t got = 0;
	int fd, one = 1, rc = -1, n;
	SSL *ssl = NULL;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&tb->addr, sizeof(tb->addr)) != 0) {
		snprintf(w->err, sizeof(w->err), "connect: %s", strerror(errno));
		goto out;
	}
	if (!(ssl = SSL_new(tb->ctx)) || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		snprintf(w->err, sizeof(w->err), "handshake: %s", ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	if (SSL_write(ssl, tb->request, (int)strlen(tb->request)) <= 0) {
		snprintf(w->err, sizeof(w->err), "write failed");
		goto out;
	}
	while (got < sizeof(buf) - 1 && (n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got))) > 0) {
		got += (size_t)n;
		if (tb->rev && memchr(buf, '\n', got))
			break;
	}
	buf[got] = 0;
	if (tb->rev ? strcmp(buf, "gnip\n") != 0 : (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0)) {
		snprintf(w->err, sizeof(w->err), "unexpected answer (%zu bytes)", got);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	return rc;
}

static void *tls_worker_main(void *arg)
{
	struct tls_worker *w = arg;
	struct tls_bench *tb = w->tb;
	int ph;

	while ((ph = atomic_load(&tb->phase)) != PH_STOP) {
		uint64_t t0 = mono_ns();
		int r = tls_once(w);
		uint64_t t1 = mono_ns();

		if (atomic_load(&tb->phase) != PH_MEASURE)
			continue;
		if (r == 0) {
			w->ok++;
			lat_add(&w->lat, t1 - t0);
		} else {
			w->bad++;
		}
	}
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int case_tls(const struct opts *o)
{
	struct tls_bench tb;
	struct tls_worker *w = NULL;
	struct lat all = { 0 };
	char host[64];
	const char *colon;
	uint64_t ok = 0, bad = 0;
	double t0 = 0, t1 = 0, s0 = 0, s1 = 0, w0[MAX_WATCH] = { 0 }, w1[MAX_WATCH] = { 0 };
	unsigned started = 0;
	int rc = 1;

	memset(&tb, 0, sizeof(tb));
	tb.o = o;
	if (!(colon = strrchr(o->connect, ':')) || (size_t)(colon - o->connect) >= sizeof(host)) {
		fprintf(stderr, "ds_bench_kms: --connect: IPV4:PORT\n");
		goto out;
	}
	memcpy(host, o->connect, (size_t)(colon - o->connect));
	host[colon - o->connect] = 0;
	tb.addr.sin_family = AF_INET;
	tb.addr.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &tb.addr.sin_addr) != 1) {
		fprintf(stderr, "ds_bench_kms: --connect: IPV4:PORT\n");
		goto out;
	}
	tb.rev = o->rev;
	if (tb.rev)
		snprintf(tb.request, sizeof(tb.request), "ping\n");
	else
		snprintf(tb.request, sizeof(tb.request), "GET /%s HTTP/1.0\r\n\r\n", o->path);
	/* As a CVM's client: TLS 1.3, a client certificate, the server verified against the CA and its IP; no resumption. */
	if (!(tb.ctx = SSL_CTX_new(TLS_client_method())) || SSL_CTX_set_min_proto_version(tb.ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(tb.ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tb.ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(tb.ctx, o->ca, NULL) != 1 ||
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(tb.ctx), host) != 1) {
		fprintf(stderr, "ds_bench_kms: tls: cannot set up the client context\n");
		goto out;
	}
	SSL_CTX_set_verify(tb.ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(tb.ctx, SSL_SESS_CACHE_OFF);
	/* One handshake first: the server is there and answers. */
	{
		struct tls_worker probe = { .tb = &tb };

		if (tls_once(&probe) != 0) {
			fprintf(stderr, "ds_bench_kms: tls: first handshake failed: %s\n", probe.err);
			goto out;
		}
	}
	if (!(w = calloc(o->conc, sizeof(*w))))
		goto out;
	atomic_store(&tb.phase, PH_WARMUP);
	for (; started < o->conc; started++) {
		w[started].tb = &tb;
		if (pthread_create(&w[started].th, NULL, tls_worker_main, &w[started]) != 0)
			break;
	}
	if (started == o->conc) {
		sleep_s(o->warmup);
		watch_snap(o, w0);
		s0 = cpu_self_s();
		t0 = now_s();
		atomic_store(&tb.phase, PH_MEASURE);
		sleep_s(o->seconds);
		atomic_store(&tb.phase, PH_STOP);
		t1 = now_s();
		s1 = cpu_self_s();
		watch_snap(o, w1);
	} else {
		atomic_store(&tb.phase, PH_STOP);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	if (started != o->conc)
		goto out;
	for (unsigned i = 0; i < o->conc; i++) {
		ok += w[i].ok;
		bad += w[i].bad;
		if (w[i].bad)
			fprintf(stderr, "ds_bench_kms: tls: %llu failed, last: %s\n", (unsigned long long)w[i].bad, w[i].err);
		for (size_t j = 0; j < w[i].lat.n; j++)
			lat_add(&all, w[i].lat.v[j]);
	}
	report(o, ok, bad, 0, t1 - t0, s1 - s0, w0, w1, &all);
	rc = bad ? 2 : 0;
out:
	for (unsigned i = 0; w && i < o->conc; i++)
		free(w[i].lat.v);
	free(w);
	free(all.v);
	SSL_CTX_free(tb.ctx);
	return rc;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ds_bench_kms --case platform --out-dir DIR\n"
		"       ds_bench_kms --case bootstrap --admin-sock PATH\n"
		"       ds_bench_kms --case keepalive|newconn --url https://127.0.0.1:PORT --tee-dir DIR [common]\n"
		"       ds_bench_kms --case tls --connect 127.0.0.1:PORT --cert PEM --key PEM --ca PEM [--path P | --rev] [common]\n"
		"common: --seconds S (5) --warmup S (1) --conc N (1) --watch NAME=PID (up to %d) --lat-file F\n",
		MAX_WATCH);
}

static int parse_double(const char *s, double *out)
{
	char *end = NULL;

	*out = strtod(s, &end);
	return *s && !*end && *out >= 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, 'C' },   { "url", required_argument, NULL, 'u' },
		{ "tee-dir", required_argument, NULL, 't' }, { "out-dir", required_argument, NULL, 'o' },
		{ "connect", required_argument, NULL, 'c' }, { "cert", required_argument, NULL, 'e' },
		{ "key", required_argument, NULL, 'k' },    { "ca", required_argument, NULL, 'a' },
		{ "path", required_argument, NULL, 'p' },   { "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' }, { "conc", required_argument, NULL, 'n' },
		{ "watch", required_argument, NULL, 'W' },  { "lat-file", required_argument, NULL, 'L' },
		{ "admin-sock", required_argument, NULL, 'A' }, { "rev", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .seconds = 5, .warmup = 1, .conc = 1, .path = "f" };
	int c;

	log_setup("ds_bench_kms", LOG_WARN);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end = NULL;
		unsigned long v;

		switch (c) {
		case 'C': o.cas = optarg; break;
		case 'u': o.url = optarg; break;
		case 't': o.tee_dir = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'A': o.admin_sock = optarg; break;
		case 'R': o.rev = 1; break;
		case 'c': o.connect = optarg; break;
		case 'e': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'p': o.path = optarg; break;
		case 'L': o.lat_file = optarg; break;
		case 's':
		case 'w':
			if (!parse_double(optarg, c == 's' ? &o.seconds : &o.warmup)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'n':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > MAX_CONC) {
				fprintf(stderr, "ds_bench_kms: --conc: 1 to %d\n", MAX_CONC);
				return 2;
			}
			o.conc = (unsigned)v;
			break;
		case 'W': {
			const char *eq = strchr(optarg, '=');
			long pid = eq ? strtol(eq + 1, &end, 10) : 0;

			if (!eq || eq == optarg || !eq[1] || *end || pid <= 0 || o.nwatch == MAX_WATCH) {
				usage(stderr);
				return 2;
			}
			optarg[eq - optarg] = 0;   /* NAME=PID -> NAME */
			o.watch_name[o.nwatch] = optarg;
			o.watch_pid[o.nwatch++] = (pid_t)pid;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !o.cas) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(o.cas, "platform") && o.out_dir)
		return case_platform(&o);
	if (!strcmp(o.cas, "bootstrap") && o.admin_sock)
		return case_bootstrap(&o);
	if ((!strcmp(o.cas, "keepalive") || !strcmp(o.cas, "newconn")) && o.url && o.tee_dir)
		return case_app(&o, !strcmp(o.cas, "newconn"));
	if (!strcmp(o.cas, "tls") && o.connect && o.cert && o.key && o.ca)
		return case_tls(&o);
	usage(stderr);
	return 2;
}
