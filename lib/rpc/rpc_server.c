/* SPDX-License-Identifier: Apache-2.0 */
/* Listeners, connections, the route table, timeouts and graceful shutdown. */
#include "rpc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "log.h"

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static uint32_t path_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

struct rpc_route *rpc_route_find(const struct rpc_server *s, const char *path, size_t len)
{
	uint32_t h = path_hash(path, len);

	for (struct rpc_route *r = s->routes[h % ROUTE_BUCKETS]; r; r = r->hnext)
		if (r->hash == h && r->path_len == len && memcmp(r->path, path, len) == 0)
			return r;
	return NULL;
}

static struct rpc_route *route_add(struct rpc_server *s, const char *path, const char **detail)
{
	size_t len = strlen(path);
	struct rpc_route *r;

	if (len == 0 || path[0] != '/') {
		*detail = "route path must start with '/'";
		return NULL;
	}
	if (rpc_route_find(s, path, len)) {
		*detail = "route path registered twice";
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		*detail = "out of memory";
		return NULL;
	}
	r->path_len = len;
	r->hash = path_hash(path, len);
	r->hnext = s->routes[r->hash % ROUTE_BUCKETS];
	s->routes[r->hash % ROUTE_BUCKETS] = r;
	return r;
}

/* Per-method counters are rendered at scrape time, only for codes seen. */
static void render_method_stats(void *arg, struct buf_writer *w)
{
	struct rpc_server *s = arg;
	int header = 0;

	for (size_t b = 0; b < ROUTE_BUCKETS; b++) {
		for (struct rpc_route *r = s->routes[b]; r; r = r->hnext) {
			if (r->type != ROUTE_METHOD || r->is_alias)
				continue;
			for (int code = 0; code < RPC_CODE_COUNT; code++) {
				if (!r->stats->codes[code])
					continue;
				if (!header) {
					buf_put_str(w, "# HELP rpc_server_requests_total Finished RPCs by method and status.\n"
						       "# TYPE rpc_server_requests_total counter\n");
					header = 1;
				}
				buf_printf(w, "rpc_server_requests_total{method=\"%s\",code=\"%s\"} %llu\n", r->path,
					   rpc_code_name((enum rpc_code)code), (unsigned long long)r->stats->codes[code]);
			}
		}
	}
}

static void on_sweep(evutil_socket_t fd, short what, void *arg);

struct rpc_server *rpc_server_new(struct event_base *base, const struct rpc_server_opts *o)
{
	struct rpc_server *s = calloc(1, sizeof(*s));
	struct timeval one_s = { 1, 0 };

	if (!s)
		return NULL;
	s->base = base;
	s->o = *o;
	if (!s->o.max_message_size)
		s->o.max_message_size = 4u << 20;
	if (!s->o.max_header_bytes)
		s->o.max_header_bytes = 16u << 10;
	if (!s->o.max_concurrent_streams)
		s->o.max_concurrent_streams = 256;
	if (!s->o.max_connections)
		s->o.max_connections = 4096;
	if (!s->o.handshake_timeout_ms)
		s->o.handshake_timeout_ms = 10000;
	if (!s->o.body_timeout_ms)
		s->o.body_timeout_ms = 30000;
	if (!s->o.idle_timeout_ms)
		s->o.idle_timeout_ms = 120000;
	if (!s->o.drain_timeout_ms)
		s->o.drain_timeout_ms = 10000;
	if (!s->o.arena_budget)
		s->o.arena_budget = 4 * s->o.max_message_size + (1u << 20);
	if (!s->o.name)
		s->o.name = "rpc";
	s->uid = geteuid();
	if (rpc_h2_callbacks_new(&s->h2cbs) != ERR_OK || nghttp2_option_new(&s->h2opt) != 0)
		goto fail;
	nghttp2_option_set_max_send_header_block_length(s->h2opt, 64u << 10);
	/* Bound what a peer can make us keep: reserved streams and deflate table are capped by nghttp2 options. */
	nghttp2_option_set_max_deflate_dynamic_table_size(s->h2opt, 4096);
	s->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, s);
	if (!s->sweep_ev || event_add(s->sweep_ev, &one_s))
		goto fail;
	if (o->metrics) {
		struct metrics *m = o->metrics;
		s->m_conns_total = metrics_series(m, METRIC_COUNTER, "rpc_server_connections_total",
						  "Connections accepted.", NULL);
		s->m_conns_open = metrics_series(m, METRIC_GAUGE, "rpc_server_connections", "Connections open.", NULL);
		s->m_conns_refused = metrics_series(m, METRIC_COUNTER, "rpc_server_connections_refused_total",
						    "Connections closed at once because of max_connections.", NULL);
		s->m_proto_errors = metrics_series(m, METRIC_COUNTER, "rpc_server_protocol_errors_total",
						   "Connections closed for protocol violations.", NULL);
		s->m_timeouts = metrics_series(m, METRIC_COUNTER, "rpc_server_timeouts_total",
					       "Connections or requests closed by a timeout.", NULL);
		metrics_add_collector(m, render_method_stats, s);
	}
	return s;
fail:
	rpc_server_free(s);
	return NULL;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	while (s->conns)
		rpc_conn_free(s->conns);
	for (struct rpc_listener *l = s->listeners, *n; l; l = n) {
		n = l->next;
		if (l->lev)
			evconnlistener_free(l->lev);
		if (l->unix_path) {
			unlink(l->unix_path);
			free(l->unix_path);
		}
		free(l);
	}
	for (size_t b = 0; b < ROUTE_BUCKETS; b++) {
		for (struct rpc_route *r = s->routes[b], *n; r; r = n) {
			n = r->hnext;
			if (r->type == ROUTE_METHOD && !r->is_alias)
				free(r->stats);
			free(r->path);
			free(r);
		}
	}
	if (s->sweep_ev)
		event_free(s->sweep_ev);
	if (s->drain_ev)
		event_free(s->drain_ev);
	if (s->h2cbs)
		nghttp2_session_callbacks_del(s->h2cbs);
	if (s->h2opt)
		nghttp2_option_del(s->h2opt);
	free(s);
}

err_t rpc_server_add_service(struct rpc_server *s, const struct rpc_service_def *def, const char **detail)
{
	const ProtobufCServiceDescriptor *d = def->desc;

	*detail = NULL;
	/* Every listed implementation must name a method of the descriptor and say who may call it. */
	for (size_t i = 0; i < def->nmethods; i++) {
		const struct rpc_method *m = &def->methods[i];
		if (!protobuf_c_service_descriptor_get_method_by_name(d, m->name)) {
			*detail = "method table names a method the service descriptor does not have";
			return ERR_INTERNAL;
		}
		if (!(m->flags & (RPC_F_PUBLIC | RPC_F_PEER | RPC_F_ATTESTED | RPC_F_ADMIN))) {
			*detail = "method has no access flag (RPC_F_PUBLIC/PEER/ATTESTED/ADMIN)";
			return ERR_INTERNAL;
		}
	}
	for (unsigned i = 0; i < d->n_methods; i++) {
		const ProtobufCMethodDescriptor *md = &d->methods[i];
		char path[256];
		struct rpc_route *r;
		int n = snprintf(path, sizeof(path), "/%s/%s", d->name, md->name);

		if (n < 0 || (size_t)n >= sizeof(path)) {
			*detail = "method path too long";
			return ERR_INTERNAL;
		}
		r = route_add(s, path, detail);
		if (!r)
			return ERR_INTERNAL;
		r->type = ROUTE_METHOD;
		r->svc = def;
		r->mdesc = md;
		r->flavour = PBJSON_PROTO3;
		for (size_t k = 0; k < def->nmethods; k++)
			if (strcmp(def->methods[k].name, md->name) == 0)
				r->impl = &def->methods[k];
		r->stats = calloc(1, sizeof(*r->stats));
		if (!r->stats) {
			*detail = "out of memory";
			return ERR_NOMEM;
		}
		if (s->o.metrics) {
			char labels[300];
			snprintf(labels, sizeof(labels), "method=\"%s\"", path);
			r->stats->latency = metrics_histogram(s->o.metrics, "rpc_server_request_duration_seconds",
							      "Time from a complete request to its reply.", labels);
		}
	}
	return ERR_OK;
}

err_t rpc_server_add_alias(struct rpc_server *s, const char *path, const char *method_path,
			   enum pbjson_flavour flavour, const char **detail)
{
	struct rpc_route *target = rpc_route_find(s, method_path, strlen(method_path)), *r;

	*detail = NULL;
	if (!target || target->type != ROUTE_METHOD) {
		*detail = "alias target is not a registered method";
		return ERR_INTERNAL;
	}
	r = route_add(s, path, detail);
	if (!r)
		return ERR_INTERNAL;
	r->type = ROUTE_METHOD;
	r->svc = target->svc;
	r->mdesc = target->mdesc;
	r->impl = target->impl;
	r->stats = target->stats;
	r->flavour = flavour;
	r->is_alias = 1;
	return ERR_OK;
}

err_t rpc_server_add_http(struct rpc_server *s, const char *path, rpc_http_fn fn, void *arg)
{
	const char *detail;
	struct rpc_route *r = route_add(s, path, &detail);

	if (!r)
		return ERR_INTERNAL;
	r->type = ROUTE_HTTP;
	r->http_fn = fn;
	r->http_arg = arg;
	return ERR_OK;
}

/* --- connections --- */

static void conn_update_gauge(struct rpc_server *s)
{
	metric_set(s->m_conns_open, (int64_t)s->nconns);
}

void rpc_conn_free(struct rpc_conn *c)
{
	struct rpc_server *s = c->srv;

	while (c->calls) {
		struct rpc_call *call = c->calls;
		rpc_call_detach(call);
	}
	if (c->h2)
		nghttp2_session_del(c->h2);
	c->h2 = NULL;
	if (c->ssl)
		tls_peer_release(c->ssl);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	conn_update_gauge(s);
	free(c);
	rpc_server_check_drained(s);
}

/* Close once everything queued is written. */
void rpc_conn_close(struct rpc_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		rpc_conn_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *c = arg;

	(void)bev;
	if (c->closing) {
		rpc_conn_free(c);
		return;
	}
	if (c->proto == CONN_H2 && c->h2 && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		rpc_conn_free(c);
}

static void conn_dispatch_read(struct rpc_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->proto == CONN_SNIFF) {
		size_t n = evbuffer_get_length(in);
		size_t k = MIN(n, sizeof(h2_preface) - 1);
		unsigned char *p = evbuffer_pullup(in, (ssize_t)k);

		if (!p)
			return;
		if (memcmp(p, h2_preface, k) == 0) {
			if (k < sizeof(h2_preface) - 1)
				return; /* could still be either */
			c->proto = CONN_H2;
			if (rpc_h2_start(c) != ERR_OK) {
				rpc_conn_free(c);
				return;
			}
		} else {
			c->proto = CONN_H1;
			rpc_h1_start(c);
		}
	}
	if (c->proto == CONN_H2)
		rpc_h2_on_read(c);
	else
		rpc_h1_on_read(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *c = arg;

	(void)bev;
	c->last_active_ms = mono_ms();
	conn_dispatch_read(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done: the peer is known from here on. */
		c->tls_done = 1;
		if (c->proto == CONN_SNIFF)
			c->deadline_ms = mono_ms() + c->srv->o.handshake_timeout_ms;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (c->ssl && !c->tls_done && (what & BEV_EVENT_ERROR)) {
			char pfx[32];
			snprintf(pfx, sizeof(pfx), "c%llu", (unsigned long long)c->id);
			log_debug(pfx, "TLS handshake failed");
		}
		rpc_conn_free(c);
	}
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct rpc_listener *l = arg;
	struct rpc_server *s = l->srv;
	struct rpc_conn *c = NULL;
	SSL *ssl = NULL;

	(void)lev;
	(void)sa;
	(void)salen;
	if (s->draining || s->nconns >= s->o.max_connections) {
		metric_add(s->m_conns_refused, 1);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = s;
	c->id = ++s->next_conn_id;
	c->is_unix = l->is_unix;
	c->last_active_ms = mono_ms();
	c->deadline_ms = c->last_active_ms + s->o.handshake_timeout_ms;
	if (l->is_unix) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			c->peer_uid = cred.uid;
			c->has_peer_uid = 1;
		}
	} else {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (l->tls) {
		ssl = SSL_new(l->tls);
		if (!ssl || tls_peer_attach(ssl) != ERR_OK) {
			SSL_free(ssl);
			evutil_closesocket(fd);
			free(c);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (c->bev) {
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
			c->ssl = ssl;
		} else {
			tls_peer_release(ssl);
			SSL_free(ssl);
		}
	} else {
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->tls_done = 1;
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	metric_add(s->m_conns_total, 1);
	conn_update_gauge(s);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* "127.0.0.1:7001" or "[::1]:7001", numeric hosts only; port 0 means "any free port". */
static int parse_tcp_addr(const char *s, struct sockaddr_storage *ss, int *sslen)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hl;
	unsigned long port = 0;

	if (!colon || colon[1] == 0)
		return -1;
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*sslen = (int)sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*sslen = (int)sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

err_t rpc_server_listen(struct rpc_server *s, const char *addr, SSL_CTX *tls, unsigned unix_mode,
			const char **detail)
{
	struct rpc_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	int sslen = (int)sizeof(ss);
	err_t err = ERR_CONFIG;
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	*detail = NULL;
	if (!l)
		return ERR_NOMEM;
	l->srv = s;
	l->tls = tls;
	memset(&ss, 0, sizeof(ss));
	if (strncmp(addr, "unix://", 7) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		const char *path = addr + 7;
		struct stat st;

		if (!*path || strlen(path) >= sizeof(un->sun_path)) {
			*detail = "unix socket path empty or too long";
			goto fail;
		}
		/* Replace a stale socket from an earlier run, but never another kind of file. */
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				*detail = "unix socket path exists and is not a socket";
				goto fail;
			}
			unlink(path);
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		sslen = (int)sizeof(*un);
		l->is_unix = 1;
		l->unix_path = strdup(path);
		if (!l->unix_path) {
			err = ERR_NOMEM;
			goto fail;
		}
	} else if (strncmp(addr, "tcp://", 6) == 0) {
		if (parse_tcp_addr(addr + 6, &ss, &sslen) != 0) {
			*detail = "cannot parse listen address (want tcp://HOST:PORT with a numeric host)";
			goto fail;
		}
		if (!tls && !is_loopback((struct sockaddr *)&ss)) {
			*detail = "a cleartext listener must be on loopback or a unix socket";
			goto fail;
		}
	} else {
		*detail = "listen address must start with tcp:// or unix://";
		goto fail;
	}
	l->lev = evconnlistener_new_bind(s->base, on_accept, l, flags, 1024, (struct sockaddr *)&ss, sslen);
	if (!l->lev) {
		*detail = strerror(errno);
		err = ERR_IO;
		goto fail;
	}
	if (l->is_unix && chmod(l->unix_path, unix_mode ? unix_mode : 0660) != 0) {
		*detail = "cannot chmod unix socket";
		err = ERR_IO_FILE;
		goto fail;
	}
	if (!l->is_unix) {
		struct sockaddr_storage bound;
		socklen_t blen = sizeof(bound);
		if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&bound, &blen) == 0)
			l->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
								   : ((struct sockaddr_in6 *)&bound)->sin6_port);
	}
	/* Keep listeners in the order given so bound_port(i) matches the config. */
	struct rpc_listener **tail = &s->listeners;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l;
	return ERR_OK;
fail:
	if (l->lev)
		evconnlistener_free(l->lev);
	free(l->unix_path);
	free(l);
	return err;
}

int rpc_server_bound_port(const struct rpc_server *s, size_t i)
{
	const struct rpc_listener *l = s->listeners;

	while (l && i--)
		l = l->next;
	return l ? l->port : -1;
}

size_t rpc_server_active_calls(const struct rpc_server *s)
{
	return s->ncalls;
}

size_t rpc_server_connections(const struct rpc_server *s)
{
	return s->nconns;
}

/* --- calls --- */

struct rpc_call *rpc_call_new(struct rpc_conn *conn, int32_t stream_id)
{
	struct rpc_server *s = conn->srv;
	struct rpc_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	c->conn = conn;
	c->stream_id = stream_id;
	c->start_ns = mono_ns();
	c->recv_deadline_ms = c->start_ns / 1000000u + s->o.body_timeout_ms;
	arena_init(&c->arena, s->o.arena_budget, 4096);
	/* gRPC adds a 5-byte prefix to the message. */
	buf_writer_init(&c->body, s->o.max_message_size + 5);
	buf_writer_init(&c->out, s->o.max_message_size + 5 + 1024);
	c->conn_id = conn->id;
	c->next = conn->calls;
	if (conn->calls)
		conn->calls->prev = c;
	conn->calls = c;
	s->ncalls++;
	return c;
}

static void call_unlink(struct rpc_call *c)
{
	struct rpc_conn *conn = c->conn;

	if (!conn)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		conn->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->conn = NULL;
}

void rpc_call_free(struct rpc_call *c)
{
	struct rpc_server *s = c->srv;

	call_unlink(c);
	if (c->deadline_ev)
		event_free(c->deadline_ev);
	buf_writer_free(&c->body);
	buf_writer_free(&c->out);
	buf_writer_free(&c->http.body);
	arena_fini(&c->arena);
	s->ncalls--;
	free(c);
	rpc_server_check_drained(s);
}

/* The transport is gone. A running async handler keeps the call until it completes. */
void rpc_call_detach(struct rpc_call *c)
{
	if (c->async && !c->done) {
		call_unlink(c);
		c->cancelled = 1;
		return;
	}
	rpc_call_free(c);
}

/* --- timeouts and shutdown --- */

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server *s = arg;
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	for (struct rpc_conn *c = s->conns, *n; c; c = n) {
		n = c->next;
		if (c->proto == CONN_H2) {
			rpc_h2_sweep(c, now);
			continue;
		}
		if (c->deadline_ms && now > c->deadline_ms) {
			metric_add(s->m_timeouts, 1);
			rpc_conn_free(c);
		}
	}
}

void rpc_server_check_drained(struct rpc_server *s)
{
	if (s->draining && s->nconns == 0 && s->ncalls == 0 && s->on_drained) {
		void (*cb)(void *) = s->on_drained;
		s->on_drained = NULL;
		cb(s->drained_arg);
	}
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server *s = arg;

	(void)fd;
	(void)what;
	log_warn(NULL, "drain timeout: closing %zu connection(s) with %zu call(s) in flight", s->nconns, s->ncalls);
	while (s->conns)
		rpc_conn_free(s->conns);
	if (s->on_drained) {
		void (*cb)(void *) = s->on_drained;
		s->on_drained = NULL;
		cb(s->drained_arg);
	}
}

void rpc_server_shutdown(struct rpc_server *s, void (*on_done)(void *arg), void *arg)
{
	struct timeval tv = { s->o.drain_timeout_ms / 1000, (s->o.drain_timeout_ms % 1000) * 1000 };

	if (s->draining)
		return;
	s->draining = 1;
	s->on_drained = on_done;
	s->drained_arg = arg;
	for (struct rpc_listener *l = s->listeners; l; l = l->next)
		if (l->lev)
			evconnlistener_disable(l->lev);
	for (struct rpc_conn *c = s->conns, *n; c; c = n) {
		n = c->next;
		if (c->proto == CONN_H2)
			rpc_h2_shutdown(c);
		else
			rpc_h1_shutdown(c);
	}
	s->drain_ev = evtimer_new(s->base, on_drain_timeout, s);
	if (s->drain_ev)
		evtimer_add(s->drain_ev, &tv);
	rpc_server_check_drained(s);
}
