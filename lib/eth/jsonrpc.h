/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC 2.0 over HTTP POST on the event loop: single calls and batches, timeouts, retries with backoff, endpoint failover. */
#ifndef DS_ETH_JSONRPC_H
#define DS_ETH_JSONRPC_H

#include <event2/event.h>
#include "arena.h"
#include "base.h"
#include "err.h"
#include "json.h"

/*
 * A client holds a list of endpoints in priority order. Each call (one
 * request or a batch) is tried on the best endpoint at the time: one not yet
 * tried by this call, not marked down, earliest in the list. An attempt
 * fails on a transport error (connect, reset, timeout), an HTTP status
 * without a valid JSON-RPC body (5xx, 429, 404...), or a body that is not a
 * valid JSON-RPC response for the ids we sent (bad JSON, truncated, wrong
 * "jsonrpc", missing or unknown ids, result and error both or neither).
 * Failed attempts are retried up to max_attempts: at once on an endpoint
 * this call has not tried yet, after an exponential backoff otherwise. An
 * endpoint that failed `down_after` times in a row is marked down for
 * `cooldown_ms`; after that it is tried again, and one success clears it.
 * If every endpoint is down the one due back first is tried anyway, so a
 * call never fails without at least one attempt.
 *
 * A JSON-RPC error object is an answer, not a failure: it is not retried
 * and it reaches the caller as a reply with err == JSONRPC_ERR_REMOTE and the
 * server's code and message.
 */

#define JSONRPC_MAX_ENDPOINTS 8
#define JSONRPC_MAX_BATCH 512
#define JSONRPC_MAX_URL 2048

/* The err of a reply carrying the server's JSON-RPC error object (code/message). */
#define JSONRPC_ERR_REMOTE ERR_FAILED_PRECONDITION

struct jsonrpc_opts {
	const char *const *urls;     /* http(s) endpoints, priority order; copied; 1..JSONRPC_MAX_ENDPOINTS */
	size_t nurls;
	uint32_t timeout_ms;         /* one attempt, whole HTTP exchange; 0 = 10 s */
	uint32_t connect_timeout_ms; /* 0 = min(timeout_ms, 5 s) */
	unsigned max_attempts;       /* per call, the first included; 0 = 3 */
	uint32_t backoff_ms;         /* first retry delay on an endpoint already tried, doubling; 0 = 100 ms */
	uint32_t backoff_max_ms;     /* 0 = 2 s */
	unsigned down_after;         /* consecutive failures that mark an endpoint down; 0 = 3 */
	uint32_t cooldown_ms;        /* time an endpoint stays down; 0 = 10 s */
	size_t max_response;         /* response body cap (ERR_PROTO_TOO_LARGE above); 0 = 32 MiB */
	size_t arena_budget;         /* parse arena of a call without its own arena; 0 = 4 * max_response */
	const char *ca_file;         /* https trust anchors; NULL = system store; copied */
};

/* One answer, in request order. */
struct jsonrpc_reply {
	err_t err;                          /* ERR_OK (result set), JSONRPC_ERR_REMOTE (code/message set), or the call's failure */
	const struct json_value *result;    /* any JSON value, JSON null included; NULL unless ERR_OK */
	int64_t code;                       /* error object */
	const char *message;                /* error object, NUL-terminated; NULL unless JSONRPC_ERR_REMOTE */
	const struct json_value *data;      /* error object's optional "data"; NULL when absent */
};

/* How a call went, as a whole. */
struct jsonrpc_info {
	err_t err;            /* ERR_OK when a valid JSON-RPC response arrived; else the last attempt's failure,
	                         ERR_CANCELLED, or ERR_NOMEM */
	int endpoint;         /* index of the endpoint that gave the response (or the last one tried); -1 if none */
	const char *url;      /* its URL, borrowed from the client; NULL if none */
	unsigned attempts;
	long http_status;     /* of the last attempt; 0 without one */
	char detail[160];     /* for logs: what failed last (never contains response bodies) */
};

/*
 * replies[0..n) are valid only during the callback unless the call had its
 * own arena (jsonrpc_call_opts.arena), where the JSON values then live.
 * When info->err != ERR_OK every reply carries that error.
 */
typedef void (*jsonrpc_cb)(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *replies, size_t n);

struct jsonrpc_call_opts {
	uint32_t timeout_ms;    /* per attempt; 0 = the client's */
	unsigned max_attempts;  /* 0 = the client's */
	struct arena *arena;    /* parse results here (borrowed; must outlive the callback); NULL = a private one.
	                           Attempts that failed may leave their partial parse in it too. */
};

/* One request of a batch. `params` is JSON array or object text (our own, not validated beyond its first byte); NULL = []. */
struct jsonrpc_req {
	const char *method;
	const char *params;
};

struct jsonrpc_client;
struct jsonrpc_call;

/*
 * A client on `base` (borrowed; must outlive the client). NULL on failure
 * with *err: ERR_INVALID_ARG (no URLs, too many, a URL that is not http(s)
 * or too long), ERR_NOMEM, ERR_INTERNAL.
 */
struct jsonrpc_client *jsonrpc_client_new(struct event_base *base, const struct jsonrpc_opts *o, err_t *err);

/* Cancel pending calls (their callbacks run with ERR_CANCELLED, inside this function) and free. Safe from a callback; NULL is a no-op. */
void jsonrpc_client_free(struct jsonrpc_client *c);

/*
 * Start one call. `method` is [A-Za-z0-9_]+; method and params are copied.
 * The callback runs exactly once, from the loop, never from inside this
 * function, with n == 1. Returns an error only when nothing was started:
 * ERR_INVALID_ARG, ERR_PROTO_TOO_LARGE (request over 16 MiB),
 * ERR_SHUTTING_DOWN, ERR_NOMEM.
 */
err_t jsonrpc_call(struct jsonrpc_client *c, const char *method, const char *params, const struct jsonrpc_call_opts *o,
		   jsonrpc_cb cb, void *arg, struct jsonrpc_call **handle) MUST_CHECK;

/* A batch of 1..JSONRPC_MAX_BATCH requests sent as one JSON array; replies in request order whatever order the server used. */
err_t jsonrpc_batch(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, const struct jsonrpc_call_opts *o,
		    jsonrpc_cb cb, void *arg, struct jsonrpc_call **handle) MUST_CHECK;

/* Cancel a pending call: its callback runs now, synchronously, with ERR_CANCELLED. */
void jsonrpc_cancel(struct jsonrpc_call *h);

/*
 * Blocking forms for CLIs and tests: run the client's base until the call
 * ends. Only for a base nobody else is running. Results live in `a`
 * (borrowed). The return value is info->err, or for a single call with a
 * valid response, the reply's err. `info` is optional.
 */
err_t jsonrpc_call_sync(struct jsonrpc_client *c, const char *method, const char *params, struct arena *a,
			struct jsonrpc_reply *reply, struct jsonrpc_info *info) MUST_CHECK;
err_t jsonrpc_batch_sync(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, struct arena *a,
			 struct jsonrpc_reply *replies, struct jsonrpc_info *info) MUST_CHECK;

/* Health of one endpoint, for status pages and tests. */
struct jsonrpc_endpoint_info {
	const char *url;          /* borrowed from the client */
	int down;                 /* marked down and still cooling down */
	unsigned consecutive_failures;
	uint64_t ok, failed;      /* attempts since the client was made */
	err_t last_err;
};
size_t jsonrpc_endpoint_count(const struct jsonrpc_client *c);
void jsonrpc_endpoint_get(const struct jsonrpc_client *c, size_t i, struct jsonrpc_endpoint_info *out);

/*
 * The pure response parser the client uses (exposed for tests and fuzzing).
 * `body` is the HTTP body of a call that sent ids[0..n); `batch` says
 * whether it was sent as an array. On ERR_OK every out[i] is ERR_OK with a
 * result or JSONRPC_ERR_REMOTE with code/message, and the values live in
 * `a`. Rules: "jsonrpc" must be the string "2.0"; ids are non-negative
 * integers (a null id only on an error object that answers a whole single
 * call or a whole batch); exactly one of "result" and "error"; an error is
 * an object with an integer "code" and a string "message"; a batch answer
 * is an array with exactly one response per id sent, in any order, or one
 * error object with a null id for the whole batch. Unknown members are
 * ignored. Errors: json_parse's (ERR_PROTO_JSON, ERR_PROTO_ENCODING,
 * ERR_PROTO_DEPTH, ERR_PROTO_TOO_LARGE, ERR_BUDGET) and ERR_PROTO_MALFORMED
 * for everything above; *detail (optional) gets a static reason.
 */
err_t jsonrpc_parse_response(const char *body, size_t len, const uint64_t *ids, size_t n, int batch, struct arena *a,
			     struct jsonrpc_reply *out, const char **detail) MUST_CHECK;

#endif
