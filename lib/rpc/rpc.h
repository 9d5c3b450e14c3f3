/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC server: gRPC over HTTP/2 and Connect over HTTP/1.1 (and HTTP/2) on one listener, one method table. */
#ifndef DS_RPC_H
#define DS_RPC_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <protobuf-c/protobuf-c.h>
#include "arena.h"
#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "pbjson.h"
#include "tls.h"

/*
 * Who may call a method. Every implemented method states at least one;
 * the dispatcher checks them before the handler runs (fail closed).
 */
#define RPC_F_PUBLIC     0x01u  /* anyone who can reach the listener */
#define RPC_F_PEER       0x02u  /* a client certificate accepted by TLS verification */
#define RPC_F_ATTESTED   0x04u  /* a peer whose certificate carried verified attestation (RA-TLS) */
#define RPC_F_ADMIN      0x08u  /* the admin bearer token, or a unix-socket peer with our uid or root */
#define RPC_F_IDEMPOTENT 0x10u  /* safe to retry; clients may use it, the server only documents it */

/* A handler's "I will answer later with rpc_call_complete". */
#define RPC_ASYNC 1

struct rpc_call;

/*
 * A handler turns a decoded, validated, authorised request into a response.
 * `req` and everything it points to live in the call's arena. Return ERR_OK
 * with *resp set (allocated from rpc_call_arena, e.g. with pb_new), an error
 * (optionally after rpc_call_set_detail), or RPC_ASYNC and call
 * rpc_call_complete exactly once later from the event loop.
 */
typedef int (*rpc_handler_fn)(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/* Semantic checks beyond the wire format; return an error and a static detail text. */
typedef err_t (*rpc_validate_fn)(const ProtobufCMessage *req, const char **detail);

struct rpc_method {
	const char *name;           /* method name as in the .proto ("GetMeta") */
	rpc_handler_fn handler;
	unsigned flags;             /* RPC_F_* */
	rpc_validate_fn validate;   /* optional */
};

/*
 * A service: its protobuf-c descriptor and the implemented methods. Methods
 * of the descriptor not listed answer UNIMPLEMENTED; a listed name the
 * descriptor does not have is a registration error.
 */
struct rpc_service_def {
	const ProtobufCServiceDescriptor *desc;
	const struct rpc_method *methods;
	size_t nmethods;
	void *ctx;                  /* handed to handlers through rpc_call_ctx; borrowed */
};

/* Plain HTTP GET routes (/healthz, /metrics, the PCCS API). */
struct rpc_http_request {
	const char *path;           /* the route's path */
	const char *query;          /* raw query string after '?', "" when none; NUL-terminated (call arena) */
	int is_head;
};

#define RPC_HTTP_MAX_HEADERS 8

struct rpc_http_response {
	int status;                 /* 200 by default */
	const char *content_type;   /* static or call-arena string */
	struct buf_writer body;
	struct {
		const char *name, *value;  /* static or call-arena strings; values with CR/LF are dropped */
	} headers[RPC_HTTP_MAX_HEADERS];
	size_t nheaders;
};

/*
 * Fill `resp` and return 0, or return RPC_ASYNC and call rpc_http_complete
 * later (resp stays valid until then; it belongs to the call). Memory for
 * strings can come from rpc_call_arena(call).
 */
typedef int (*rpc_http_fn)(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
			   struct rpc_http_response *resp);

/* Send the response of an HTTP route that returned RPC_ASYNC. */
void rpc_http_complete(struct rpc_call *call);
/* Add a response header (copied into the call arena). */
void rpc_http_add_header(struct rpc_call *call, struct rpc_http_response *resp, const char *name, const char *value);

struct rpc_server_opts {
	size_t max_message_size;       /* request and response messages; 0 = 4 MiB */
	size_t max_header_bytes;       /* HTTP/1.1 head and HTTP/2 header list; 0 = 16 KiB */
	uint32_t max_concurrent_streams;/* per HTTP/2 connection; 0 = 256 */
	uint32_t max_connections;      /* over this, new connections are closed at once; 0 = 4096 */
	uint32_t handshake_timeout_ms; /* TLS handshake and first request head; 0 = 10 s */
	uint32_t body_timeout_ms;      /* a request must arrive whole within this; 0 = 30 s */
	uint32_t idle_timeout_ms;      /* idle keep-alive connections are closed; 0 = 120 s */
	uint32_t drain_timeout_ms;     /* graceful shutdown waits this long for calls; 0 = 10 s */
	size_t arena_budget;           /* per-call memory cap; 0 = 4 * max_message_size + 1 MiB */
	const char *admin_token;       /* RPC_F_ADMIN bearer token; NULL = only unix-socket peers; borrowed */
	struct metrics *metrics;       /* where per-method counters go; borrowed, required */
	const char *name;              /* service name for logs; borrowed */
};

struct rpc_server;

/* `base` and every pointer in `o` are borrowed and must outlive the server. NULL on allocation failure. */
struct rpc_server *rpc_server_new(struct event_base *base, const struct rpc_server_opts *o);
/* Stops listening, closes every connection at once, frees. In-flight async calls are orphaned. */
void rpc_server_free(struct rpc_server *s);

/* Register a service's methods at /<package>.<Service>/<Method>. `def` is borrowed. */
err_t rpc_server_add_service(struct rpc_server *s, const struct rpc_service_def *def, const char **detail) MUST_CHECK;
/* Serve an existing method at another path with a JSON flavour (dstack's bare "/GetKey" routes). */
err_t rpc_server_add_alias(struct rpc_server *s, const char *path, const char *method_path,
			   enum pbjson_flavour flavour, const char **detail) MUST_CHECK;
/* A plain HTTP GET route. `arg` is borrowed. */
err_t rpc_server_add_http(struct rpc_server *s, const char *path, rpc_http_fn fn, void *arg) MUST_CHECK;

/*
 * Listen on "tcp://host:port" or "unix:///path" (mode applies to unix
 * sockets). With `tls` (borrowed, must outlive the server) connections are
 * TLS 1.3 with ALPN; without it the address must be loopback or a unix
 * socket. Port 0 picks a free port: rpc_server_bound_port tells which.
 */
err_t rpc_server_listen(struct rpc_server *s, const char *addr, SSL_CTX *tls, unsigned unix_mode,
			const char **detail) MUST_CHECK;
int rpc_server_bound_port(const struct rpc_server *s, size_t listener_index);

/*
 * Graceful shutdown: stop accepting, send GOAWAY on HTTP/2 and close idle
 * HTTP/1.1 connections, let in-flight calls finish, then call on_done (from
 * the loop) when the last connection is gone or drain_timeout passes.
 */
void rpc_server_shutdown(struct rpc_server *s, void (*on_done)(void *arg), void *arg);

/* Calls in flight and connections open, for /readyz and tests. */
size_t rpc_server_active_calls(const struct rpc_server *s);
size_t rpc_server_connections(const struct rpc_server *s);

/* --- inside a handler --- */

/* The call's arena: request, response and anything else request-scoped. Borrowed. */
struct arena *rpc_call_arena(struct rpc_call *c);
/* The ctx of the service the method belongs to. */
void *rpc_call_ctx(const struct rpc_call *c);
/* The TLS peer, or NULL for cleartext and unix sockets. Borrowed, valid during the call. */
const struct tls_peer *rpc_call_peer(const struct rpc_call *c);
/* "c12 s3 /dstack.kms.v1.Kms/GetMeta", for log lines. Borrowed. */
const char *rpc_call_log_prefix(struct rpc_call *c);
/* Monotonic deadline in ms (mono_ms clock), 0 = none. */
uint64_t rpc_call_deadline_ms(const struct rpc_call *c);
/* Text sent with an error status (grpc-message / Connect message). Never put secrets in it. */
void rpc_call_set_detail(struct rpc_call *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Finish a call that returned RPC_ASYNC. Safe after the client went away (the result is dropped). */
void rpc_call_complete(struct rpc_call *c, int err, ProtobufCMessage *resp);
/*
 * The call carries secrets (a derived key in the response): its arena,
 * request body and encoded response are wiped when freed. Call it before
 * putting the secret in the response.
 */
void rpc_call_set_secret(struct rpc_call *c);
/* 1 when the client cancelled or the deadline passed; an async handler may stop early. */
int rpc_call_cancelled(const struct rpc_call *c);

#endif
