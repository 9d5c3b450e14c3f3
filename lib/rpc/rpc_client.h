/* SPDX-License-Identifier: Apache-2.0 */
/* Unary RPC client over libcurl: gRPC over HTTP/2 or Connect over HTTP/1.1, async on a libevent loop or blocking. */
#ifndef DS_RPC_CLIENT_H
#define DS_RPC_CLIENT_H

#include <event2/event.h>
#include <protobuf-c/protobuf-c.h>
#include "arena.h"
#include "err.h"
#include "rpc_status.h"
#include "tls.h"

enum rpc_wire {
	RPC_WIRE_GRPC = 0,        /* gRPC over HTTP/2 (h2c prior knowledge for http://, ALPN for https://) */
	RPC_WIRE_CONNECT_PROTO,   /* Connect unary over HTTP/1.1, application/proto */
	RPC_WIRE_CONNECT_JSON,    /* Connect unary over HTTP/1.1, application/json (proto3 JSON) */
};

struct rpc_client_opts {
	const char *base_url;       /* "http://127.0.0.1:7001", "https://kms.example:8000", or "unix:///run/x.sock" */
	enum rpc_wire wire;
	struct tls_opts tls;        /* client certificate, CA, verifier hook (https only) */
	uint32_t timeout_ms;        /* default per-call deadline; 0 = 30 s */
	uint32_t connect_timeout_ms;/* 0 = 5 s */
	unsigned max_retries;       /* extra attempts for idempotent calls on UNAVAILABLE/transport errors; 0 = none */
	uint32_t retry_backoff_ms;  /* first backoff, doubled each attempt with jitter; 0 = 100 ms */
	size_t max_response;        /* response message cap; 0 = 4 MiB */
	const char *bearer_token;   /* sent as "authorization: Bearer ..." when set (admin calls); borrowed */
};

/* Per-call overrides. */
struct rpc_call_opts {
	uint32_t timeout_ms;        /* 0 = the client's default */
	int idempotent;             /* allows retries */
};

/*
 * The outcome of a call. `err` is ERR_OK with `resp` set, or the failure:
 * a transport error (ERR_IO_*), ERR_DEADLINE, a malformed response
 * (ERR_PROTO_*), or a status from the server (`code` != RPC_OK, with
 * `message` from grpc-message / the Connect error JSON). `resp` and `message`
 * live in the result's arena and are valid only during the callback (async)
 * or until the caller resets the arena it passed (blocking).
 */
struct rpc_result {
	err_t err;
	enum rpc_code code;
	const char *message;
	ProtobufCMessage *resp;
	unsigned attempts;
};

typedef void (*rpc_client_cb)(void *arg, const struct rpc_result *res);

struct rpc_client;

/* A client bound to `base` (borrowed; the loop must outlive the client). NULL on failure. */
struct rpc_client *rpc_client_new(struct event_base *base, const struct rpc_client_opts *o);
/*
 * Cancels pending calls and frees. The cancelled calls' callbacks run with
 * ERR_CANCELLED synchronously, inside this function. It may be called from a
 * callback of the same client; NULL is a no-op.
 */
void rpc_client_free(struct rpc_client *c);

/*
 * Start a call to `path` ("/dstack.kms.v1.Kms/GetMeta"). `req` is serialised
 * before this returns (the caller keeps ownership). The callback runs exactly
 * once, from the event loop, never from inside this function. Returns an
 * error only when the call could not be started (then no callback).
 */
err_t rpc_client_call(struct rpc_client *c, const char *path, const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *resp_desc, const struct rpc_call_opts *co,
		      rpc_client_cb cb, void *arg) MUST_CHECK;

/*
 * Blocking form for CLI tools: one call on a private loop. The response (and
 * message) are allocated from `a`. Returns res->err.
 */
err_t rpc_call_sync(const struct rpc_client_opts *o, const char *path, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *resp_desc, const struct rpc_call_opts *co, struct arena *a,
		    struct rpc_result *res) MUST_CHECK;

#endif
