/* SPDX-License-Identifier: Apache-2.0 */
/* Server internals shared by the listener, the HTTP/1.1 and HTTP/2 connection code and the dispatcher. */
#ifndef DS_RPC_INTERNAL_H
#define DS_RPC_INTERNAL_H

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include "rpc.h"
#include "http1.h"
#include "rpc_status.h"

/* How the request body is framed and encoded; decided from content-type. */
enum rpc_kind {
	RPC_KIND_NONE = 0,
	RPC_KIND_GRPC,           /* application/grpc[+proto] over HTTP/2 */
	RPC_KIND_GRPC_JSON,      /* application/grpc+json over HTTP/2 */
	RPC_KIND_CONNECT_PROTO,  /* application/proto */
	RPC_KIND_CONNECT_JSON,   /* application/json */
	RPC_KIND_HTTP,           /* a plain HTTP route (GET /healthz) */
};

struct rpc_method_stats {
	struct metric_hist *latency;
	uint64_t codes[RPC_CODE_COUNT];
};

enum route_type { ROUTE_METHOD, ROUTE_HTTP };

struct rpc_route {
	struct rpc_route *hnext;
	char *path;
	size_t path_len;
	uint32_t hash;
	enum route_type type;
	/* ROUTE_METHOD */
	const struct rpc_service_def *svc;
	const ProtobufCMethodDescriptor *mdesc;
	const struct rpc_method *impl;       /* NULL: UNIMPLEMENTED */
	enum pbjson_flavour flavour;
	struct rpc_method_stats *stats;      /* shared by a method and its aliases */
	int is_alias;
	/* ROUTE_HTTP */
	rpc_http_fn http_fn;
	void *http_arg;
};

#define ROUTE_BUCKETS 256

struct rpc_listener {
	struct rpc_listener *next;
	struct evconnlistener *lev;
	struct rpc_server *srv;
	SSL_CTX *tls;
	int is_unix;
	int port;
	char *unix_path;
};

struct rpc_conn;

struct rpc_server {
	struct event_base *base;
	struct rpc_server_opts o;
	struct rpc_route *routes[ROUTE_BUCKETS];
	struct rpc_listener *listeners;
	struct rpc_conn *conns;        /* doubly linked */
	size_t nconns;
	size_t ncalls;
	uint64_t next_conn_id;
	struct event *sweep_ev;        /* 1 s timer: timeouts for handshakes, heads, bodies, idle */
	struct event *drain_ev;
	int draining;
	void (*on_drained)(void *arg);
	void *drained_arg;
	uid_t uid;
	nghttp2_session_callbacks *h2cbs;
	nghttp2_option *h2opt;
	/* metrics */
	struct metric *m_conns_total, *m_conns_open, *m_conns_refused, *m_proto_errors, *m_timeouts;
};

enum conn_proto { CONN_SNIFF = 0, CONN_H1, CONN_H2 };

struct rpc_conn {
	struct rpc_conn *next, *prev;
	struct rpc_server *srv;
	struct bufferevent *bev;
	SSL *ssl;                      /* owned by bev; NULL for cleartext */
	enum conn_proto proto;
	uint64_t id;
	int is_unix;
	uid_t peer_uid;                /* unix sockets only */
	int has_peer_uid;
	uint64_t deadline_ms;          /* sweep closes the connection past this (0 = none) */
	int closing;                   /* flush output, then free */
	int tls_done;
	struct rpc_call *calls;        /* calls of this connection, doubly linked */
	/* HTTP/2 */
	nghttp2_session *h2;
	int h2_in_recv;                /* inside nghttp2_session_mem_recv: defer sends */
	/* HTTP/1.1 */
	struct rpc_call *h1_call;      /* the request being read or served */
	int h1_state;
	size_t h1_body_need;
	struct http1_chunked h1_chunked;
	int h1_keep_alive;
	int h1_minor;
	int h1_in_read;                /* inside rpc_h1_on_read: replies must not re-enter it */
	int h1_head_started;
	size_t h1_scanned;             /* head bytes already looked at for a line end */
	uint64_t last_active_ms;
};

struct rpc_call {
	struct rpc_call *next, *prev;  /* in conn->calls */
	struct rpc_server *srv;
	struct rpc_conn *conn;         /* NULL once the connection is gone */
	int32_t stream_id;             /* HTTP/2 stream; 0 on HTTP/1.1 */
	const struct rpc_route *route;
	enum rpc_kind kind;
	struct arena arena;
	struct buf_writer body;        /* request body as received (capped) */
	uint64_t start_ns;
	uint64_t recv_deadline_ms;     /* the whole request must arrive by then */
	uint64_t deadline_ms;          /* the client's deadline (grpc-timeout / connect-timeout-ms), 0 = none */
	struct event *deadline_ev;     /* armed only for async calls with a deadline */
	int is_head_method_post;       /* :method / request method was POST */
	int is_get;
	int is_head;                   /* HEAD: reply with headers only */
	int rst_after_reply;           /* HTTP/2: reset the stream once the reply is out (client still sending) */
	size_t header_bytes;           /* HTTP/2: header list size so far (RFC 9113 counting) */
	int async, cancelled, done, replied;
	int early_error;               /* an error decided before the body arrived */
	char *authorization;           /* request header copy (arena), for RPC_F_ADMIN */
	char *query;                   /* query string (arena), "" when none */
	struct rpc_http_response http; /* plain HTTP routes */
	char *detail;                  /* arena */
	uint64_t conn_id;              /* for the log prefix */
	char prefix[112];              /* log prefix, formatted on first use (rpc_call_log_prefix) */
	/* the reply, filled by the dispatcher and sent by the transport */
	int http_status;
	int http_override;             /* an HTTP status more precise than the code's (405, 413) */
	const char *content_type;
	struct buf_writer out;
	size_t out_pos;                /* HTTP/2: bytes of out already handed to nghttp2 */
	enum rpc_code code;
	const char *message;           /* error text as sent (percent-encoded for gRPC) */
	const char *log_message;       /* the same, readable, for the log line */
	int grpc_reply;                /* send gRPC framing: trailers carry the status */
};

/* rpc_server.c */
struct rpc_route *rpc_route_find(const struct rpc_server *s, const char *path, size_t len);
void rpc_conn_close(struct rpc_conn *c);
void rpc_conn_free(struct rpc_conn *c);
struct rpc_call *rpc_call_new(struct rpc_conn *conn, int32_t stream_id);
void rpc_call_free(struct rpc_call *c);
void rpc_call_detach(struct rpc_call *c);   /* the transport side is gone */
void rpc_server_check_drained(struct rpc_server *s);

/* rpc_dispatch.c */
/* The request head arrived: pick the kind, look up the route. Returns 0 or an error decided early. */
void rpc_call_begin(struct rpc_call *c, const char *path, size_t path_len, const char *ctype, size_t ctype_len);
void rpc_call_set_timeout_grpc(struct rpc_call *c, const char *v, size_t len);
void rpc_call_set_timeout_connect(struct rpc_call *c, const char *v, size_t len);
/* The whole request arrived: decode, validate, authorise, call, encode, reply. */
void rpc_dispatch(struct rpc_call *c);
/* Reply with an error status now (body too large, timeout ...). */
void rpc_call_fail(struct rpc_call *c, int err, const char *detail);

/* rpc_conn_h1.c / rpc_conn_h2.c */
void rpc_h1_start(struct rpc_conn *c);
void rpc_h1_on_read(struct rpc_conn *c);
void rpc_h1_send_reply(struct rpc_call *call);
void rpc_h1_shutdown(struct rpc_conn *c);
err_t rpc_h2_start(struct rpc_conn *c) MUST_CHECK;
void rpc_h2_on_read(struct rpc_conn *c);
void rpc_h2_send_reply(struct rpc_call *call);
void rpc_h2_shutdown(struct rpc_conn *c);
void rpc_h2_sweep(struct rpc_conn *c, uint64_t now_ms);
err_t rpc_h2_callbacks_new(nghttp2_session_callbacks **cbs) MUST_CHECK;
err_t rpc_h2_flush(struct rpc_conn *c) MUST_CHECK;

#endif
