// SPDX-License-Identifier: Apache-2.0
// Load generator of bench/guest-agent: GetKey requests over HTTP/1.1 on a unix socket, exactly as
// @phala/dstack-sdk's unix-socket transport writes them ("POST /GetKey HTTP/1.1", Host: localhost,
// Content-Type: application/json, Content-Length, JSON body {"path","purpose","algorithm"}), but on
// kept-alive connections (the SDK opens one per call). --conc connections, one request in flight
// on each (no pipelining). --paths 0 (the default): a different path on every request; --paths N:
// the requests cycle through N paths (an app asking again for the keys it uses). Every answer must be 200 with a
// "key" field in its JSON body, or it counts as an error. One thread, epoll.
// Prints one line: key=value pairs (rate, p50/p99/max latency, CPU time of the --watch processes
// from /proc/PID/stat over the measured window, and of this client).
//   ds_bench_ga --sock PATH [--conc N] [--paths N] [--seconds S] [--warmup S] [--watch NAME=PID]...
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP 65536
#define MAX_WATCH 4

struct conn {
	int fd;
	size_t out_len, out_off, in_len;
	uint64_t t_sent;
	char out[512];
	char in[IN_CAP];
};

static struct sockaddr_un g_sa;
static unsigned long long g_seq, g_paths;
static int g_ep;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double proc_cpu_s(long pid)
{
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	if (!s)
		return -1;
	/* after ") ": field 3 (state) ... utime is field 14, stime 15 */
	s += 2;
	int field = 3;
	double ut = 0, st = 0;
	while (*s && field <= 15) {
		char *e;
		if (field == 14 || field == 15) {
			unsigned long long v = strtoull(s, &e, 10);
			if (field == 14)
				ut = (double)v;
			else
				st = (double)v;
		}
		e = strchr(s, ' ');
		if (!e)
			break;
		s = e + 1;
		field++;
	}
	return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void build_request(struct conn *c)
{
	char body[256];
	int bl = snprintf(body, sizeof(body), "{\"path\":\"bench/wallet/%llu\",\"purpose\":\"signing\",\"algorithm\":\"secp256k1\"}",
			  g_paths ? g_seq++ % g_paths : g_seq++);
	int n = snprintf(c->out, sizeof(c->out),
			 "POST /GetKey HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			 bl, body);
	c->out_len = (size_t)n;
	c->out_off = 0;
}

static int conn_open(struct conn *c)
{
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&g_sa, sizeof(g_sa)) < 0) {
		perror("connect");
		return -1;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
	epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &e);
	c->in_len = 0;
	return 0;
}

static void conn_reopen(struct conn *c)
{
	epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (conn_open(c) < 0)
		exit(1);
}

/* Blocking write of the request (a few hundred bytes into an idle unix socket). */
static int send_req(struct conn *c)
{
	build_request(c);
	c->t_sent = now_ns();
	while (c->out_off < c->out_len) {
		ssize_t r = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->out_off += (size_t)r;
	}
	return 0;
}

/* 1: a full response is buffered (*ok set), 0: need more, -1: malformed. */
static int parse_resp(struct conn *c, int *ok, size_t *used)
{
	char *he = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!he)
		return c->in_len == IN_CAP ? -1 : 0;
	size_t hlen = (size_t)(he - c->in) + 4;
	long cl = -1;
	const char *p = c->in, *end = c->in + hlen;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
			char *e;
			errno = 0;
			cl = strtol(p + 15, &e, 10);
			if (errno || cl < 0)
				return -1;
		}
		p = eol + 1;
	}
	if (cl < 0 || hlen + (size_t)cl > IN_CAP)
		return -1;
	if (c->in_len < hlen + (size_t)cl)
		return 0;
	*ok = c->in_len >= 12 && memcmp(c->in, "HTTP/1.1 200", 12) == 0 &&
	      memmem(he + 4, (size_t)cl, "\"key\"", 5) != NULL;
	*used = hlen + (size_t)cl;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: ds_bench_ga --sock PATH [--conc N] [--paths N] [--seconds S] [--warmup S] [--watch NAME=PID]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	long conc = 1;
	double seconds = 5, warmup = 1;
	const char *wname[MAX_WATCH];
	long wpid[MAX_WATCH];
	int nwatch = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		char *e;
		if (strcmp(a, "--sock") == 0)
			sock = v;
		else if (strcmp(a, "--conc") == 0) {
			conc = strtol(v, &e, 10);
			if (*e || conc < 1 || conc > 4096)
				usage();
		} else if (strcmp(a, "--paths") == 0) {
			g_paths = strtoull(v, &e, 10);
			if (*e || g_paths > 1000000000ull)
				usage();
		} else if (strcmp(a, "--seconds") == 0) {
			seconds = strtod(v, &e);
			if (*e || seconds <= 0)
				usage();
		} else if (strcmp(a, "--warmup") == 0) {
			warmup = strtod(v, &e);
			if (*e || warmup < 0)
				usage();
		} else if (strcmp(a, "--watch") == 0) {
			const char *eq = strchr(v, '=');
			if (!eq || nwatch == MAX_WATCH)
				usage();
			wpid[nwatch] = strtol(eq + 1, &e, 10);
			if (*e || wpid[nwatch] <= 0)
				usage();
			argv[i][eq - v] = 0; /* NAME=PID -> NAME */
			wname[nwatch++] = argv[i];
		} else
			usage();
	}
	if (!sock || strlen(sock) >= sizeof(g_sa.sun_path))
		usage();
	g_sa.sun_family = AF_UNIX;
	memcpy(g_sa.sun_path, sock, strlen(sock) + 1);
	signal(SIGPIPE, SIG_IGN);
	g_ep = epoll_create1(EPOLL_CLOEXEC);

	struct conn *cs = calloc((size_t)conc, sizeof(*cs));
	size_t lat_cap = 1u << 20, nlat = 0;
	uint64_t *lat = malloc(lat_cap * sizeof(*lat));
	if (!cs || !lat)
		return 1;
	for (long i = 0; i < conc; i++)
		if (conn_open(&cs[i]) < 0)
			return 1;

	uint64_t t0 = now_ns();
	uint64_t t_meas = t0 + (uint64_t)(warmup * 1e9), t_end = t_meas + (uint64_t)(seconds * 1e9);
	int measuring = 0;
	double wc0[MAX_WATCH] = {0}, wc1[MAX_WATCH] = {0}, cc0 = 0, cc1 = 0;
	unsigned long long ok_n = 0, err_n = 0, reconn = 0;
	uint64_t t_m0 = t_meas;

	for (long i = 0; i < conc; i++)
		if (send_req(&cs[i]) < 0)
			return 1;
	if (warmup == 0) {
		measuring = 1;
		for (int w = 0; w < nwatch; w++)
			wc0[w] = proc_cpu_s(wpid[w]);
		cc0 = self_cpu_s();
		t_m0 = now_ns();
		t_end = t_m0 + (uint64_t)(seconds * 1e9);
	}
	struct epoll_event evs[256];
	for (;;) {
		uint64_t t = now_ns();
		if (!measuring && t >= t_meas) {
			measuring = 1;
			for (int w = 0; w < nwatch; w++)
				wc0[w] = proc_cpu_s(wpid[w]);
			cc0 = self_cpu_s();
			t_m0 = t;
			t_end = t + (uint64_t)(seconds * 1e9);
		}
		if (measuring && t >= t_end)
			break;
		int n = epoll_wait(g_ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) { /* closed by the server with the request in flight */
				err_n++;
				reconn++;
				conn_reopen(c);
				if (send_req(c) < 0)
					return 1;
				continue;
			}
			c->in_len += (size_t)r;
			int ok = 0;
			size_t used = 0;
			int pr = parse_resp(c, &ok, &used);
			if (pr == 0)
				continue;
			uint64_t done = now_ns();
			if (pr < 0) {
				err_n++;
				reconn++;
				conn_reopen(c);
			} else {
				if (measuring && done <= t_end) {
					if (ok) {
						ok_n++;
						if (nlat == lat_cap) {
							lat_cap *= 2;
							uint64_t *nl = realloc(lat, lat_cap * sizeof(*lat));
							if (!nl)
								return 1;
							lat = nl;
						}
						lat[nlat++] = done - c->t_sent;
					} else
						err_n++;
				} else if (!ok)
					err_n++;
				if (!ok && err_n <= 3)
					fprintf(stderr, "ds_bench_ga: bad answer: %.*s\n", (int)(used < 300 ? used : 300), c->in);
				memmove(c->in, c->in + used, c->in_len - used);
				c->in_len -= used;
			}
			if (send_req(c) < 0) {
				err_n++;
				conn_reopen(c);
				if (send_req(c) < 0)
					return 1;
			}
		}
	}
	uint64_t t_m1 = now_ns();
	for (int w = 0; w < nwatch; w++)
		wc1[w] = proc_cpu_s(wpid[w]);
	cc1 = self_cpu_s();
	double secs = (double)(t_m1 - t_m0) / 1e9;
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	double p50 = nlat ? (double)lat[nlat / 2] / 1e3 : 0, p99 = nlat ? (double)lat[(nlat * 99) / 100] / 1e3 : 0,
	       mx = nlat ? (double)lat[nlat - 1] / 1e3 : 0;
	printf("conc=%ld ok=%llu errors=%llu reconnects=%llu seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f "
	       "client_cpu_s=%.2f",
	       conc, ok_n, err_n, reconn, secs, (double)ok_n / secs, p50, p99, mx, cc1 - cc0);
	for (int w = 0; w < nwatch; w++) {
		double d = wc1[w] - wc0[w];
		printf(" cpu_%s_s=%.2f per_cpu_s_%s=%.1f", wname[w], d, wname[w], d > 0 ? (double)ok_n / d : 0.0);
	}
	printf("\n");
	return err_n ? 2 : 0;
}
