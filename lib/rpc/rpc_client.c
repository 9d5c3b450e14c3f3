/* SPDX-License-Identifier: Apache-2.0 */
/* Unary RPC client: libcurl's multi interface driven by a libevent loop, with gRPC and Connect framing. */
#include "rpc_client.h"

#include <curl/curl.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "buf.h"
#include "curl_loop.h"
#include "log.h"
#include "pbcodec.h"
#include "pbjson.h"
#include "rpc_client_parse.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define DEFAULT_BACKOFF_MS 100u
#define DEFAULT_MAX_RESPONSE ((size_t)4 << 20)
#define MAX_BACKOFF_MS 10000u
/* Requests are ours, so this only stops a runaway caller; servers enforce their own, smaller limit. */
#define MAX_REQUEST ((size_t)64 << 20)
/* A Connect error body is parsed for code and message only; the rest is drained, not stored. */
#define ERROR_BODY_MAX ((size_t)64 << 10)
#define SCRATCH_BUDGET (ERROR_BODY_MAX * 4 + ((size_t)64 << 10))
#define GRPC_MESSAGE_MAX 4096u
#define GRPC_PREFIX RPC_RESP_GRPC_PREFIX
#define ARENA_CHUNK 8192u

enum call_state { CALL_RUNNING, CALL_BACKOFF };

struct rpc_call {
	struct rpc_client *c;
	struct rpc_call *prev, *next;      /* c->calls: pending calls, cancelled by rpc_client_free */
	CURL *easy;
	struct curl_loop_xfer xfer;        /* easy on the client's loop; xfer.active while a transfer runs */
	struct curl_slist *headers;        /* rebuilt per attempt (grpc-timeout shrinks); may hold the token */
	struct event timer;                /* retry backoff */
	enum call_state state;
	char *url;                         /* owned */
	const char *path;                  /* inside url; the log prefix */
	struct buf_writer req;             /* encoded request, kept for retries */
	const ProtobufCMessageDescriptor *resp_desc;
	rpc_client_cb cb;
	void *arg;
	struct arena own;                  /* response memory of an async call */
	struct arena *a;                   /* &own, or the caller's arena (rpc_call_sync) */
	struct arena scratch;              /* error-body decoding; reset per attempt */
	uint64_t deadline;                 /* mono_ms() */
	unsigned attempts;
	int idempotent;

	/* Per-attempt response state, filled by the header and body callbacks. */
	struct rpc_resp_head head;         /* status line, grpc-status/-message, content-type/-encoding */
	struct buf_writer body;
	size_t body_cap;                   /* success body limit */
	int too_large, nomem, err_truncated;
	char errbuf[CURL_ERROR_SIZE];

	/* The outcome; msg/msg_len is borrowed from per-attempt state until call_finish copies it. */
	struct rpc_result res;
	const char *msg;
	size_t msg_len;
};

struct rpc_client {
	struct event_base *base;           /* borrowed */
	struct curl_loop *loop;            /* libcurl multi on `base` */
	enum rpc_wire wire;
	int https;
	int h2c_no_reuse;                  /* libcurl < 8.0 breaks reused prior-knowledge HTTP/2 connections */
	char *url_prefix;                  /* "scheme://authority[/prefix]" without a trailing '/' */
	char *unix_path;                   /* unix:// sockets; NULL otherwise */
	char *cert_file, *key_file, *ca_file;
	struct tls_opts tls;               /* points at the copies above and holds references on the in-memory
					      cert, key, chain and CA store; verifier borrowed */
	char *auth_header;                 /* "authorization: Bearer ..."; secret, wiped on free */
	uint32_t timeout_ms, connect_timeout_ms, backoff_ms;
	unsigned max_retries;
	size_t max_response;
	size_t arena_budget;
	uint64_t rng;                      /* backoff jitter only; not security relevant */
	struct rpc_call *calls;
	unsigned busy;                     /* depth of loop callbacks that may run user callbacks */
	int closing;                       /* rpc_client_free was called; destroy when busy drops to 0 */
};

static void client_leave(struct rpc_client *c);
static void on_xfer_done(void *arg, CURL *easy, CURLcode rc);

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s);
	p = malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

static void free_secret(char *s)
{
	if (s) {
		secure_wipe(s, strlen(s));
		free(s);
	}
}

/* Header lists may carry the bearer token: wipe every line before libcurl frees it. */
static void slist_free_wipe(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		if (i->data)
			secure_wipe(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static uint64_t rng_next(struct rpc_client *c)
{
	/* xorshift64*: jitter only has to de-synchronise clients that failed together. */
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Paths go into the request line: visible ASCII only, so nothing can split or extend it. */
static int path_valid(const char *p)
{
	if (p[0] != '/')
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

/* The outcome of a decode, as the call's result; the message stays borrowed until call_finish copies it. */
static void set_outcome(struct rpc_call *call, const struct rpc_resp_outcome *o)
{
	call->res.err = o->err;
	call->res.code = o->code;
	call->res.resp = o->resp;
	call->msg = o->msg;
	call->msg_len = o->msg_len;
}

/* Record a locally detected failure; `msg` must be static or live until call_finish. */
static void set_local(struct rpc_call *call, err_t e, const char *msg)
{
	struct rpc_resp_outcome o;

	rpc_resp_set_local(&o, e, msg);
	set_outcome(call, &o);
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *arg)
{
	const struct tls_opts *o = arg;

	(void)e;
	return tls_client_ctx_apply(ssl_ctx, o) == ERR_OK ? CURLE_OK : CURLE_SSL_CONNECT_ERROR;
}

/* ---- response parsing (callbacks; the parsing itself is in rpc_client_parse.c) ---- */

/*
 * CURLOPT_HEADERFUNCTION: one line at a time, for the response head and,
 * over HTTP/2, for the trailers too (where grpc-status normally is). A
 * trailers-only gRPC response carries grpc-status in the head, which lands
 * in the same fields. Header lines are untrusted: every copy is bounded.
 */
static size_t on_header(char *p, size_t size, size_t nitems, void *arg)
{
	struct rpc_call *call = arg;
	size_t total = size * nitems;

	rpc_resp_header_line(&call->head, p, total);
	return total;
}

/* CURLOPT_WRITEFUNCTION: buffer the body under a hard cap; returning short aborts the transfer. */
static size_t on_body(char *p, size_t size, size_t nitems, void *arg)
{
	struct rpc_call *call = arg;
	size_t n = size * nitems;

	if (call->c->wire != RPC_WIRE_GRPC && call->head.status != 200) {
		/* Keep the start of an error body and drain the rest, so the connection stays reusable. */
		size_t room = ERROR_BODY_MAX - MIN(call->body.len, ERROR_BODY_MAX);
		if (n > room)
			call->err_truncated = 1;
		buf_put(&call->body, p, MIN(n, room));
		if (buf_writer_status(&call->body) != ERR_OK) {
			call->nomem = 1;
			return 0;
		}
		return n;
	}
	if (n > call->body_cap - call->body.len) {
		call->too_large = 1;
		return 0;
	}
	buf_put(&call->body, p, n);
	if (buf_writer_status(&call->body) != ERR_OK) {
		call->nomem = 1;
		return 0;
	}
	if (call->c->wire == RPC_WIRE_GRPC && call->body.len >= GRPC_PREFIX && call->body.len - n < GRPC_PREFIX) {
		/* The length prefix just completed: refuse an oversized message before receiving it. */
		if (rpc_grpc_prefix_len(call->body.p) > call->c->max_response) {
			call->too_large = 1;
			return 0;
		}
	}
	return n;
}

/* ---- outcome of one attempt ---- */

static err_t err_from_curl(const struct rpc_call *call, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return ERR_OK;
	case CURLE_OPERATION_TIMEDOUT:
		/* The connect timeout can fire before the call's deadline; only the latter is ERR_DEADLINE. */
		return mono_ms() + 2 >= call->deadline ? ERR_DEADLINE : ERR_IO_TIMEOUT;
	case CURLE_WRITE_ERROR:
		if (call->too_large)
			return ERR_PROTO_TOO_LARGE;
		return call->nomem ? ERR_NOMEM : ERR_IO;
	case CURLE_COULDNT_RESOLVE_HOST:
		return ERR_IO_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return ERR_IO_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return ERR_IO_TLS;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		return ERR_IO_FILE;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return ERR_IO_CLOSED;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return ERR_PROTO_HTTP;
	case CURLE_OUT_OF_MEMORY:
		return ERR_NOMEM;
	default:
		return ERR_IO;
	}
}

static void decode_response(struct rpc_call *call)
{
	struct rpc_client *c = call->c;
	struct rpc_resp_outcome o;

	if (c->wire == RPC_WIRE_GRPC)
		rpc_resp_decode_grpc(&call->head, call->body.p, call->body.len, call->resp_desc, c->max_response,
				     call->a, &call->scratch, &o);
	else
		rpc_resp_decode_connect(&call->head, c->wire == RPC_WIRE_CONNECT_JSON, call->body.p, call->body.len,
					call->err_truncated, call->resp_desc, c->max_response, call->a,
					&call->scratch, &o);
	set_outcome(call, &o);
}

static void attempt_outcome(struct rpc_call *call, CURLcode rc)
{
	err_t e = err_from_curl(call, rc);
	long st = 0;

	if (e != ERR_OK) {
		/* libcurl's text names the host and the failing step; it never holds bodies or headers. */
		set_local(call, e, (err_group(e) == ERR_IO && call->errbuf[0]) ? call->errbuf : NULL);
		return;
	}
	if (call->nomem) {
		set_local(call, ERR_NOMEM, NULL);
		return;
	}
	if (curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st > 0)
		call->head.status = st;
	decode_response(call);
}

/* ---- call lifecycle ---- */

static void call_unlink(struct rpc_call *call)
{
	struct rpc_client *c = call->c;

	if (call->prev)
		call->prev->next = call->next;
	else if (c->calls == call)
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static void call_free(struct rpc_call *call)
{
	if (!call)
		return;
	if (call->xfer.active)
		curl_loop_remove(call->c->loop, &call->xfer);
	if (call->easy)
		curl_easy_cleanup(call->easy);
	slist_free_wipe(call->headers);
	evtimer_del(&call->timer);
	free(call->url);
	buf_writer_free(&call->req);
	buf_writer_free(&call->body);
	buf_writer_free(&call->head.grpc_msg);
	arena_fini(&call->scratch);
	arena_fini(&call->own);
	free(call);
}

/* Copy the message into the result's arena, run the callback once, free the call (and its own arena). */
static void call_finish(struct rpc_call *call)
{
	call_unlink(call);
	call->res.attempts = call->attempts;
	call->res.message = "";
	if (call->msg && call->msg_len) {
		char *m = arena_memdup(call->a, call->msg, call->msg_len);
		if (m)
			call->res.message = m;
	}
	if (call->res.err != ERR_OK)
		log_debug(call->path, "failed after %u attempt(s): %s, %s", call->attempts, err_name(call->res.err),
			  rpc_code_name(call->res.code));
	call->cb(call->arg, &call->res);
	call_free(call);
}

static struct curl_slist *build_headers(const struct rpc_call *call, uint32_t remaining)
{
	const struct rpc_client *c = call->c;
	struct curl_slist *l = NULL, *t;
	char line[64];
	int ok = 1;

#define ADD(s)                                                 \
	do {                                                   \
		if (ok && (t = curl_slist_append(l, (s))) != NULL) \
			l = t;                                 \
		else                                           \
			ok = 0;                                \
	} while (0)

	if (c->wire == RPC_WIRE_GRPC) {
		ADD("content-type: application/grpc");
		ADD("te: trailers");
		/* TimeoutValue is at most 8 digits: switch to seconds (rounded up) past that. */
		if (remaining <= 99999999u)
			snprintf(line, sizeof(line), "grpc-timeout: %um", remaining);
		else
			snprintf(line, sizeof(line), "grpc-timeout: %uS", remaining / 1000u + 1u);
		ADD(line);
	} else {
		ADD(c->wire == RPC_WIRE_CONNECT_JSON ? "content-type: application/json"
						     : "content-type: application/proto");
		ADD("connect-protocol-version: 1");
		snprintf(line, sizeof(line), "connect-timeout-ms: %u", remaining);
		ADD(line);
	}
	/* Empty values remove libcurl's defaults: no 100-continue round trip, no Accept noise. */
	ADD("Expect:");
	ADD("Accept:");
	if (c->auth_header)
		ADD(c->auth_header);
#undef ADD
	if (!ok) {
		slist_free_wipe(l);
		return NULL;
	}
	return l;
}

/* Configure the easy handle for the next attempt and hand it to the multi handle. */
static err_t attempt_start(struct rpc_call *call)
{
	struct rpc_client *c = call->c;
	CURL *e = call->easy;
	uint64_t now = mono_ms();
	uint32_t remaining;
	long httpver;
	const void *body = call->req.len ? (const void *)call->req.p : (const void *)"";
	int ok;

	if (now >= call->deadline)
		return ERR_DEADLINE;
	remaining = (uint32_t)(call->deadline - now);

	buf_writer_clear(&call->body);
	call->head.status = 0;
	call->too_large = call->nomem = call->err_truncated = 0;
	rpc_resp_head_reset(&call->head);
	arena_reset(&call->scratch);
	memset(&call->res, 0, sizeof(call->res));
	call->msg = NULL;
	call->msg_len = 0;
	call->errbuf[0] = 0;

	slist_free_wipe(call->headers);
	call->headers = build_headers(call, remaining);
	if (!call->headers)
		return ERR_NOMEM;

	if (c->wire == RPC_WIRE_GRPC)
		httpver = c->https ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	else
		httpver = CURL_HTTP_VERSION_1_1;

	curl_easy_reset(e);
	ok = curl_easy_setopt(e, CURLOPT_URL, call->url) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	     /* Service-to-service calls never go through an environment proxy: it would see tokens. */
	     curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HTTP_VERSION, httpver) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->req.len) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)remaining) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(remaining, c->connect_timeout_ms)) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)call) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)call) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf) == CURLE_OK;
	if (ok && c->h2c_no_reuse)
		ok = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK &&
		     curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
	else if (ok && c->wire == RPC_WIRE_GRPC)
		/* Wait for an existing HTTP/2 connection to multiplex on rather than opening another. */
		ok = curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L) == CURLE_OK;
	if (ok && c->unix_path)
		ok = curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->unix_path) == CURLE_OK;
	if (ok && c->https) {
		long verify = c->tls.insecure_skip_verify ? 0L : 1L;
		ok = (!c->cert_file || curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file) == CURLE_OK) &&
		     (!c->key_file || curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file) == CURLE_OK) &&
		     (!c->ca_file || curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) == CURLE_OK) &&
		     /*
		      * An in-memory CA store replaces libcurl's in on_ssl_ctx: do not let libcurl parse
		      * its default bundle first (~140 PEM certificates, tens of ms, on every connection).
		      */
		     (!c->tls.ca_store || c->ca_file ||
		      (curl_easy_setopt(e, CURLOPT_CAINFO, NULL) == CURLE_OK &&
		       curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK)) &&
		     curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify) == CURLE_OK &&
		     curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L) == CURLE_OK &&
		     /* Resumed sessions skip certificate verification, and with it the attestation hook. */
		     curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) == CURLE_OK &&
		     curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) == CURLE_OK &&
		     curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, (void *)&c->tls) == CURLE_OK;
	}
	if (!ok)
		return ERR_INTERNAL;
	call->xfer.easy = e;
	call->xfer.done = on_xfer_done;
	call->xfer.arg = call;
	if (curl_loop_add(c->loop, &call->xfer) != ERR_OK)
		return ERR_INTERNAL;
	call->state = CALL_RUNNING;
	call->attempts++;
	return ERR_OK;
}

static int is_retryable(const struct rpc_call *call)
{
	err_t e = call->res.err;

	if (call->res.code == RPC_UNAVAILABLE && err_group(e) != ERR_IO)
		return 1;   /* the server said so */
	/* Transport failures, except those a retry cannot fix (bad TLS peer, missing files). */
	return err_group(e) == ERR_IO && e != ERR_IO_TLS && e != ERR_IO_FILE;
}

static uint32_t backoff_for(struct rpc_client *c, unsigned retry)
{
	uint64_t d = c->backoff_ms;

	for (unsigned i = 1; i < retry && d < MAX_BACKOFF_MS; i++)
		d *= 2;
	d = MIN(d, (uint64_t)MAX_BACKOFF_MS);
	/* Equal jitter: half fixed so retries stay spaced, half random so clients that failed together spread out. */
	return (uint32_t)(d / 2 + rng_next(c) % (d / 2 + 1));
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_call *call = arg;
	struct rpc_client *c = call->c;
	err_t e;

	(void)fd;
	(void)what;
	c->busy++;
	e = attempt_start(call);
	if (e != ERR_OK) {
		set_local(call, e, NULL);
		call_finish(call);
	}
	client_leave(c);
}

/* One transfer ended: decide between finishing and retrying after a backoff. */
static void attempt_done(struct rpc_call *call, CURLcode rc)
{
	struct rpc_client *c = call->c;

	attempt_outcome(call, rc);
	if (call->res.err != ERR_OK && call->idempotent && call->attempts <= c->max_retries && is_retryable(call)) {
		uint32_t delay = backoff_for(c, call->attempts);
		uint64_t now = mono_ms();
		struct timeval tv;
		/* Never sleep past the deadline: the last real error is more useful than a late ERR_DEADLINE. */
		if (now + delay < call->deadline) {
			log_debug(call->path, "attempt %u: %s, %s; retrying in %u ms", call->attempts,
				  err_name(call->res.err), rpc_code_name(call->res.code), delay);
			tv.tv_sec = delay / 1000;
			tv.tv_usec = (delay % 1000) * 1000;
			if (evtimer_add(&call->timer, &tv) == 0) {
				call->state = CALL_BACKOFF;
				return;
			}
		}
	}
	call_finish(call);
}

/* The loop finished a transfer of ours (the easy handle is already out of the multi handle). */
static void on_xfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct rpc_call *call = arg;
	struct rpc_client *c = call->c;

	(void)easy;
	/* A callback may free the client: it then goes once this returns. */
	c->busy++;
	attempt_done(call, rc);
	client_leave(c);
}

/*
 * Start a call whose response and message come from `a` (borrowed) or, when
 * NULL, from the call's own arena, freed after the callback returns.
 */
static err_t call_start(struct rpc_client *c, const char *path, const ProtobufCMessage *req,
			const ProtobufCMessageDescriptor *resp_desc, const struct rpc_call_opts *co, struct arena *a,
			rpc_client_cb cb, void *arg)
{
	struct rpc_call *call = NULL;
	struct buf_writer url;
	uint32_t timeout;
	err_t e;

	if (!c || !path || !req || !resp_desc || !cb)
		return ERR_INVALID_ARG;
	if (c->closing)
		return ERR_SHUTTING_DOWN;
	if (!path_valid(path))
		return ERR_INVALID_ARG;

	call = calloc(1, sizeof(*call));
	if (!call)
		return ERR_NOMEM;
	call->c = c;
	call->resp_desc = resp_desc;
	call->cb = cb;
	call->arg = arg;
	call->idempotent = co ? co->idempotent : 0;
	call->head.grpc_status = RPC_RESP_GRPC_STATUS_NONE;
	arena_init(&call->own, c->arena_budget, ARENA_CHUNK);
	arena_init(&call->scratch, SCRATCH_BUDGET, ARENA_CHUNK);
	call->a = a ? a : &call->own;
	buf_writer_init(&call->req, MAX_REQUEST);
	/* Room for a success body (+ the gRPC prefix) and for the start of an error body. */
	call->body_cap = c->max_response + (c->wire == RPC_WIRE_GRPC ? GRPC_PREFIX : 0);
	buf_writer_init(&call->body, MAX(call->body_cap, ERROR_BODY_MAX));
	buf_writer_init(&call->head.grpc_msg, GRPC_MESSAGE_MAX);
	evtimer_assign(&call->timer, c->base, on_retry, call);

	buf_writer_init(&url, strlen(c->url_prefix) + strlen(path) + 1);
	buf_put_str(&url, c->url_prefix);
	buf_put_str(&url, path);
	if (!buf_cstr(&url)) {
		buf_writer_free(&url);
		e = ERR_NOMEM;
		goto out;
	}
	call->url = (char *)url.p;   /* ownership moves to the call */
	call->path = call->url + strlen(c->url_prefix);

	switch (c->wire) {
	case RPC_WIRE_GRPC: {
		/* 1 byte "not compressed", 4 bytes big-endian length, then the message. */
		size_t n = protobuf_c_message_get_packed_size(req);
		if (n > UINT32_MAX) {
			e = ERR_PROTO_TOO_LARGE;
			goto out;
		}
		buf_put_u8(&call->req, 0);
		buf_put_u32be(&call->req, (uint32_t)n);
		e = buf_writer_status(&call->req);
		if (e == ERR_OK)
			e = pb_encode(req, &call->req);
		if (e == ERR_OK && call->req.len != n + GRPC_PREFIX)
			e = ERR_INTERNAL;
		break;
	}
	case RPC_WIRE_CONNECT_PROTO:
		e = pb_encode(req, &call->req);
		break;
	case RPC_WIRE_CONNECT_JSON: {
		const struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
		e = pbjson_encode(req, &jo, &call->req);
		break;
	}
	default:
		e = ERR_INVALID_ARG;
		break;
	}
	if (e != ERR_OK)
		goto out;

	timeout = co && co->timeout_ms ? co->timeout_ms : c->timeout_ms;
	call->deadline = mono_ms() + timeout;
	call->easy = curl_easy_init();
	if (!call->easy) {
		e = ERR_NOMEM;
		goto out;
	}
	/* Nothing below can complete the call synchronously: libcurl only arms a timer in add_handle. */
	e = attempt_start(call);
	if (e != ERR_OK)
		goto out;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	call = NULL;
out:
	call_free(call);
	return e;
}

/* ---- client ---- */

static void client_destroy(struct rpc_client *c)
{
	curl_loop_free(c->loop);   /* deferred when called from inside one of its callbacks */
	free(c->url_prefix);
	free(c->unix_path);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_file);
	X509_free(c->tls.cert);
	EVP_PKEY_free(c->tls.key);
	sk_X509_pop_free(c->tls.chain, X509_free);
	X509_STORE_free(c->tls.ca_store);
	free_secret(c->auth_header);
	free(c);
}

static void client_leave(struct rpc_client *c)
{
	if (--c->busy == 0 && c->closing)
		client_destroy(c);
}

static err_t parse_base_url(struct rpc_client *c, const char *url)
{
	size_t n;

	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return ERR_INVALID_ARG;
	if (strncmp(url, "unix://", 7) == 0) {
		const char *path = url + 7;
		/* The socket path must fit sockaddr_un.sun_path with its NUL. */
		if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return ERR_INVALID_ARG;
		c->unix_path = xstrdup(path);
		c->url_prefix = xstrdup("http://localhost");
		return c->unix_path && c->url_prefix ? ERR_OK : ERR_NOMEM;
	}
	if (strncmp(url, "https://", 8) == 0)
		c->https = 1;
	else if (strncmp(url, "http://", 7) != 0)
		return ERR_INVALID_ARG;
	n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	if (n <= (size_t)(c->https ? 8 : 7))
		return ERR_INVALID_ARG;   /* no host */
	c->url_prefix = malloc(n + 1);
	if (!c->url_prefix)
		return ERR_NOMEM;
	memcpy(c->url_prefix, url, n);
	c->url_prefix[n] = 0;
	return ERR_OK;
}

/* Like rpc_client_new, with the reason for a failure. Strings in `o` are copied; o->tls.verifier is borrowed. */
static struct rpc_client *client_new(struct event_base *base, const struct rpc_client_opts *o, err_t *err)
{
	struct rpc_client *c = NULL;
	err_t e;

	*err = ERR_INVALID_ARG;
	if (!base || !o || !o->base_url || (unsigned)o->wire > RPC_WIRE_CONNECT_JSON)
		return NULL;
	if (curl_loop_global_init() != ERR_OK) {
		*err = ERR_INTERNAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		*err = ERR_NOMEM;
		return NULL;
	}
	c->base = base;
	c->wire = o->wire;
	e = parse_base_url(c, o->base_url);
	if (e != ERR_OK)
		goto fail;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->backoff_ms = o->retry_backoff_ms ? o->retry_backoff_ms : DEFAULT_BACKOFF_MS;
	c->max_retries = o->max_retries;
	c->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
	if (c->max_response > UINT32_MAX) {
		e = ERR_INVALID_ARG;   /* a gRPC length prefix cannot say more */
		goto fail;
	}
	c->arena_budget = c->max_response * 4 + ((size_t)64 << 10);
	/*
	 * libcurl before 8.0.0 fails every request on a reused or multiplexed
	 * prior-knowledge HTTP/2 connection with CURLE_HTTP2 (curl issue 10634,
	 * fixed by curl PR 10643). There, h2c calls each get a connection of
	 * their own; https (ALPN) is not affected.
	 */
	if (c->wire == RPC_WIRE_GRPC && !c->https && curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
		c->h2c_no_reuse = 1;
	c->rng = mono_ns() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ull;
	if (!c->rng)
		c->rng = 1;

	e = ERR_NOMEM;
	c->tls = o->tls;
	/* In-memory credentials: our own references, so the caller may free theirs after this returns. */
	c->tls.cert = NULL;
	c->tls.key = NULL;
	c->tls.chain = NULL;
	c->tls.ca_store = NULL;
	if ((o->tls.cert != NULL) != (o->tls.key != NULL)) {
		e = ERR_INVALID_ARG;
		goto fail;
	}
	if (o->tls.cert && X509_up_ref(o->tls.cert))
		c->tls.cert = o->tls.cert;
	if (o->tls.key && EVP_PKEY_up_ref(o->tls.key))
		c->tls.key = o->tls.key;
	if (o->tls.chain)
		c->tls.chain = X509_chain_up_ref(o->tls.chain);
	if (o->tls.ca_store && X509_STORE_up_ref(o->tls.ca_store))
		c->tls.ca_store = o->tls.ca_store;
	if ((o->tls.cert && !c->tls.cert) || (o->tls.key && !c->tls.key) || (o->tls.chain && !c->tls.chain) ||
	    (o->tls.ca_store && !c->tls.ca_store))
		goto fail;
	if ((o->tls.cert_file && !(c->cert_file = xstrdup(o->tls.cert_file))) ||
	    (o->tls.key_file && !(c->key_file = xstrdup(o->tls.key_file))) ||
	    (o->tls.ca_file && !(c->ca_file = xstrdup(o->tls.ca_file))))
		goto fail;
	c->tls.cert_file = c->cert_file;
	c->tls.key_file = c->key_file;
	c->tls.ca_file = c->ca_file;
	if (o->bearer_token) {
		struct buf_writer w;
		/* The token becomes one header line; a CR or LF in it would inject headers. */
		for (const char *p = o->bearer_token; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
				e = ERR_INVALID_ARG;
				goto fail;
			}
		buf_writer_init(&w, strlen(o->bearer_token) + 64);
		w.wipe = 1;
		buf_put_str(&w, "authorization: Bearer ");
		buf_put_str(&w, o->bearer_token);
		if (!buf_cstr(&w)) {
			buf_writer_free(&w);
			goto fail;
		}
		c->auth_header = (char *)w.p;   /* ownership moves to the client */
	}

	c->loop = curl_loop_new(base, &e);
	if (!c->loop)
		goto fail;
	if (c->https && c->tls.insecure_skip_verify)
		log_warn("rpc-client", "TLS verification disabled for %s: any server is accepted (tests only)",
			 c->url_prefix);
	*err = ERR_OK;
	return c;
fail:
	*err = e;
	client_destroy(c);
	return NULL;
}

struct rpc_client *rpc_client_new(struct event_base *base, const struct rpc_client_opts *o)
{
	err_t e;

	return client_new(base, o, &e);
}

/*
 * Pending calls are cancelled here: their callbacks run synchronously inside
 * this function with ERR_CANCELLED. Calling it from a callback of the same
 * client is allowed; the memory goes once the outermost loop callback returns.
 */
void rpc_client_free(struct rpc_client *c)
{
	if (!c || c->closing)
		return;
	c->closing = 1;
	c->busy++;
	while (c->calls) {
		struct rpc_call *call = c->calls;
		curl_loop_remove(c->loop, &call->xfer);
		evtimer_del(&call->timer);
		set_local(call, ERR_CANCELLED, "client closed");
		call_finish(call);
	}
	client_leave(c);
}

err_t rpc_client_call(struct rpc_client *c, const char *path, const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *resp_desc, const struct rpc_call_opts *co, rpc_client_cb cb,
		      void *arg)
{
	return call_start(c, path, req, resp_desc, co, NULL, cb, arg);
}

/* ---- blocking form ---- */

struct sync_wait {
	struct rpc_result *res;
	int done;
};

static void on_sync_done(void *arg, const struct rpc_result *res)
{
	struct sync_wait *w = arg;

	/* resp and message already live in the caller's arena (or are static): a shallow copy suffices. */
	*w->res = *res;
	w->done = 1;
}

err_t rpc_call_sync(const struct rpc_client_opts *o, const char *path, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *resp_desc, const struct rpc_call_opts *co, struct arena *a,
		    struct rpc_result *res)
{
	struct event_base *base = NULL;
	struct rpc_client *c = NULL;
	struct sync_wait w = { .res = res, .done = 0 };
	err_t e;

	memset(res, 0, sizeof(*res));
	res->message = "";
	if (!a) {
		e = ERR_INVALID_ARG;
		goto fail;
	}
	base = event_base_new();
	if (!base) {
		e = ERR_NOMEM;
		goto fail;
	}
	c = client_new(base, o, &e);
	if (!c)
		goto fail;
	e = call_start(c, path, req, resp_desc, co, a, on_sync_done, &w);
	if (e != ERR_OK)
		goto fail;
	while (!w.done)
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;   /* nothing pending: cannot happen while the call holds a timer */
	rpc_client_free(c);   /* cancels the call if the loop gave up, which fills res */
	event_base_free(base);
	return res->err;
fail:
	rpc_client_free(c);
	if (base)
		event_base_free(base);
	res->err = e;
	res->code = rpc_resp_local_code(e);
	res->message = err_str(e);
	return e;
}
