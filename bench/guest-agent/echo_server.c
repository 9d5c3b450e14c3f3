// SPDX-License-Identifier: Apache-2.0
// The transport floor of bench/guest-agent: a minimal HTTP/1.1 server on a unix socket. One thread,
// epoll, non-blocking sockets, keep-alive: it reads a request (headers up to the blank line, then
// Content-Length bytes of body) and answers a fixed small JSON body with Content-Length.
//   ds_bench_ga_echo --listen PATH
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_CAP 65536

static const char REPLY[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n"
			    "{\"key\":\"echo\",\"signature_chain\":[]}";

struct conn {
	int fd;
	size_t len;
	char buf[BUF_CAP];
};

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Content-Length of the header block [p, p+n), 0 when absent; -1 when malformed. */
static long content_length(const char *p, size_t n)
{
	const char *end = p + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
			char *e;
			const char *v = p + 15;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			errno = 0;
			long l = strtol(v, &e, 10);
			if (errno || e == v || l < 0)
				return -1;
			return l;
		}
		p = eol + 1;
	}
	return 0;
}

/* Handles whatever complete requests are buffered; returns -1 to close the connection. */
static int serve(struct conn *c)
{
	size_t off = 0;
	for (;;) {
		char *hdr_end = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
		if (!hdr_end)
			break;
		size_t hlen = (size_t)(hdr_end - (c->buf + off)) + 4;
		long cl = content_length(c->buf + off, hlen);
		if (cl < 0 || (size_t)cl > BUF_CAP / 2)
			return -1;
		if (c->len - off < hlen + (size_t)cl)
			break;
		off += hlen + (size_t)cl;
		size_t w = 0;
		while (w < sizeof(REPLY) - 1) {
			ssize_t r = write(c->fd, REPLY + w, sizeof(REPLY) - 1 - w);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1; /* tiny replies to a client waiting for them: the buffer never fills */
			w += (size_t)r;
		}
	}
	if (off) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (c->len == BUF_CAP)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			path = argv[++i];
		else {
			fprintf(stderr, "usage: ds_bench_ga_echo --listen PATH\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: ds_bench_ga_echo --listen PATH\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "socket path too long\n");
		return 1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction act = {.sa_handler = on_sig};
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 512) < 0) {
		perror("listen");
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[64];
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, 500);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct conn *nc = malloc(sizeof(*nc));
					if (!nc) {
						close(fd);
						continue;
					}
					nc->fd = fd;
					nc->len = 0;
					struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
				if (r > 0) {
					c->len += (size_t)r;
					if (serve(c) < 0) {
						conn_close(ep, c);
						break;
					}
					continue;
				}
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				conn_close(ep, c);
				break;
			}
		}
	}
	unlink(path);
	return 0;
}
