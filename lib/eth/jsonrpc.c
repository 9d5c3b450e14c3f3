/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC 2.0 client on http_fetch: request encoding, strict response matching, retries, backoff and endpoint failover. */
#include "jsonrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http_fetch.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_BACKOFF_MS 100u
#define DEFAULT_BACKOFF_MAX_MS 2000u
#define DEFAULT_DOWN_AFTER 3u
#define DEFAULT_COOLDOWN_MS 10000u
#define DEFAULT_MAX_RESPONSE ((size_t)32 << 20)
#define MAX_ATTEMPTS 32u
#define MAX_METHOD 128u
#define JSON_DEPTH 64u

struct endpoint {
	char *url;
	unsigned fails;               /* consecutive */
	int down;
	uint64_t down_until_ms;
	uint64_t ok, failed;
	err_t last_err;
};

struct jsonrpc_client {
	struct event_base *base;      /* borrowed */
	struct http_fetcher *fetcher;
	struct endpoint eps[JSONRPC_MAX_ENDPOINTS];
	size_t neps;
	uint32_t timeout_ms, connect_timeout_ms, backoff_ms, backoff_max_ms, cooldown_ms;
	unsigned max_attempts, down_after;
	size_t max_response, arena_budget;
	char *ca_file;
	uint64_t next_id;
	struct jsonrpc_call *calls;
	unsigned busy;                /* depth of our callbacks that may run user code */
	int closing;
};

struct jsonrpc_call {
	struct jsonrpc_client *c;
	struct jsonrpc_call *prev, *next;
	uint8_t *body;                /* the serialized request */
	size_t body_len;
	uint64_t *ids;
	size_t n;
	int batch;
	jsonrpc_cb cb;
	void *arg;
	struct arena own;             /* used when the caller gave no arena */
	struct arena *a;
	struct jsonrpc_reply *replies;
	unsigned max_attempts;
	uint32_t timeout_ms;
	unsigned tried[JSONRPC_MAX_ENDPOINTS];
	int ep;                       /* endpoint of the attempt in flight or next */
	struct http_fetch *fetch;     /* in flight */
	struct event *timer;          /* backoff */
	int cancelling;
	struct jsonrpc_info info;
};

/* ---- response parsing ---- */

#define FAIL(why)                   \
	do {                        \
		if (detail)         \
			*detail = why; \
		return ERR_PROTO_MALFORMED; \
	} while (0)

/* One response object: its id (or *id_null) and the answer in *r. */
static err_t parse_one(const struct json_value *v, uint64_t *id, int *id_null, struct jsonrpc_reply *r,
		       const char **detail)
{
	const struct json_value *ver, *jid, *res, *error, *code, *msg;
	int64_t c64;

	memset(r, 0, sizeof(*r));
	if (!v || v->type != JSON_OBJECT)
		FAIL("response is not an object");
	ver = json_get(v, "jsonrpc");
	if (!ver || ver->type != JSON_STRING || ver->u.str.len != 3 || memcmp(ver->u.str.s, "2.0", 3) != 0)
		FAIL("jsonrpc is not \"2.0\"");
	jid = json_get(v, "id");
	if (!jid)
		FAIL("response without an id");
	*id_null = jid->type == JSON_NULL;
	if (!*id_null && json_to_u64(jid, id) != ERR_OK)
		FAIL("id is not a non-negative integer");
	res = json_get(v, "result");
	error = json_get(v, "error");
	if (!!res == !!error)
		FAIL(res ? "both result and error" : "neither result nor error");
	if (res) {
		if (*id_null)
			FAIL("result with a null id");
		r->err = ERR_OK;
		r->result = res;
		return ERR_OK;
	}
	if (error->type != JSON_OBJECT)
		FAIL("error is not an object");
	code = json_get(error, "code");
	msg = json_get(error, "message");
	if (!code || json_get_i64(error, "code", &c64) != ERR_OK)
		FAIL("error code is not an integer");
	if (!msg || msg->type != JSON_STRING)
		FAIL("error message is not a string");
	r->err = JSONRPC_ERR_REMOTE;
	r->code = c64;
	r->message = msg->u.str.s;
	r->data = json_get(error, "data");
	return ERR_OK;
}

err_t jsonrpc_parse_response(const char *body, size_t len, const uint64_t *ids, size_t n, int batch, struct arena *a,
			     struct jsonrpc_reply *out, const char **detail)
{
	struct json_limits lim = { .max_depth = JSON_DEPTH, .max_len = len + 1 };
	struct json_value *root = NULL;
	struct jsonrpc_reply r;
	unsigned char seen[JSONRPC_MAX_BATCH];
	uint64_t id = 0;
	int id_null = 0;
	err_t e;

	if (detail)
		*detail = "";
	if (!ids || n == 0 || n > JSONRPC_MAX_BATCH || (!batch && n != 1))
		return ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if ((e = json_parse(body, len, &lim, a, &root, NULL)) != ERR_OK) {
		if (detail)
			*detail = "response is not valid JSON";
		return e;
	}
	if (root->type == JSON_OBJECT) {
		/* A single call's answer, or a whole batch refused with one error object (null id). */
		if ((e = parse_one(root, &id, &id_null, &r, detail)) != ERR_OK)
			return e;
		if (batch && !(id_null && r.err == JSONRPC_ERR_REMOTE))
			FAIL("batch answered with one object");
		if (!batch && !id_null && id != ids[0])
			FAIL("response id does not match the request");
		for (size_t i = 0; i < n; i++)
			out[i] = r;
		return ERR_OK;
	}
	if (root->type != JSON_ARRAY || !batch)
		FAIL(batch ? "batch response is not an array" : "single call answered with an array");
	if (root->u.arr.n != n)
		FAIL("batch response has a different number of answers");
	memset(seen, 0, n);
	for (size_t i = 0; i < n; i++) {
		size_t k;
		if ((e = parse_one(&root->u.arr.items[i], &id, &id_null, &r, detail)) != ERR_OK)
			return e;
		if (id_null)
			FAIL("batch answer with a null id");
		for (k = 0; k < n && ids[k] != id; k++)
			;
		if (k == n)
			FAIL("batch answer with an id we did not send");
		if (seen[k])
			FAIL("batch answer id repeated");
		seen[k] = 1;
		out[k] = r;
	}
	/* n answers, each a distinct id we sent: every id is covered. */
	return ERR_OK;
}

#undef FAIL

/* ---- endpoints ---- */

static int ep_is_down(const struct endpoint *ep, uint64_t now)
{
	return ep->down && now < ep->down_until_ms;
}

/* Fewest tries by this call first, then up before down, then list order; all down: the one due back first. */
static int pick_endpoint(const struct jsonrpc_call *call)
{
	const struct jsonrpc_client *c = call->c;
	uint64_t now = mono_ms();
	int best = 0;

	for (size_t i = 1; i < c->neps; i++) {
		const struct endpoint *a = &c->eps[i], *b = &c->eps[best];
		int ad = ep_is_down(a, now), bd = ep_is_down(b, now);
		if (call->tried[i] != call->tried[best]) {
			if (call->tried[i] < call->tried[best])
				best = (int)i;
			continue;
		}
		if (ad != bd) {
			if (!ad)
				best = (int)i;
			continue;
		}
		if (ad && a->down_until_ms < b->down_until_ms)
			best = (int)i;
	}
	return best;
}

static void ep_failed(struct jsonrpc_client *c, int i, err_t e)
{
	struct endpoint *ep = &c->eps[i];

	ep->failed++;
	ep->last_err = e;
	if (ep->fails < UINT32_MAX)
		ep->fails++;
	if (ep->fails >= c->down_after) {
		ep->down = 1;
		ep->down_until_ms = mono_ms() + c->cooldown_ms;
	}
}

static void ep_ok(struct jsonrpc_client *c, int i)
{
	struct endpoint *ep = &c->eps[i];

	ep->ok++;
	ep->fails = 0;
	ep->down = 0;
	ep->last_err = ERR_OK;
}

size_t jsonrpc_endpoint_count(const struct jsonrpc_client *c)
{
	return c->neps;
}

void jsonrpc_endpoint_get(const struct jsonrpc_client *c, size_t i, struct jsonrpc_endpoint_info *out)
{
	const struct endpoint *ep = &c->eps[i];

	out->url = ep->url;
	out->down = ep_is_down(ep, mono_ms());
	out->consecutive_failures = ep->fails;
	out->ok = ep->ok;
	out->failed = ep->failed;
	out->last_err = ep->last_err;
}

/* ---- calls ---- */

static void call_unlink(struct jsonrpc_call *call)
{
	struct jsonrpc_client *c = call->c;

	if (call->prev)
		call->prev->next = call->next;
	else if (c->calls == call)
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static void call_free(struct jsonrpc_call *call)
{
	if (!call)
		return;
	if (call->timer)
		event_free(call->timer);
	free(call->body);
	free(call->ids);
	free(call->replies);
	arena_fini(&call->own);
	free(call);
}

static void client_destroy(struct jsonrpc_client *c)
{
	http_fetcher_free(c->fetcher);
	for (size_t i = 0; i < c->neps; i++)
		free(c->eps[i].url);
	free(c->ca_file);
	free(c);
}

static void client_leave(struct jsonrpc_client *c)
{
	if (--c->busy == 0 && c->closing)
		client_destroy(c);
}

/* Report and free. On failure every reply carries info.err. */
static void call_finish(struct jsonrpc_call *call)
{
	call_unlink(call);
	if (call->info.err != ERR_OK)
		for (size_t i = 0; i < call->n; i++) {
			memset(&call->replies[i], 0, sizeof(call->replies[i]));
			call->replies[i].err = call->info.err;
		}
	if (call->info.detail[0] == 0 && call->info.err != ERR_OK)
		snprintf(call->info.detail, sizeof(call->info.detail), "%s", err_str(call->info.err));
	call->cb(call->arg, &call->info, call->replies, call->n);
	call_free(call);
}

static void on_http_done(void *arg, struct http_response *res);

static err_t attempt_start(struct jsonrpc_call *call)
{
	struct jsonrpc_client *c = call->c;
	struct http_fetch_opts fo;
	err_t e;

	memset(&fo, 0, sizeof(fo));
	fo.timeout_ms = call->timeout_ms;
	fo.connect_timeout_ms = MIN(c->connect_timeout_ms, call->timeout_ms);
	fo.max_body = c->max_response;
	fo.ca_file = c->ca_file;
	fo.user_agent = "dstack-c jsonrpc";
	call->ep = pick_endpoint(call);
	call->tried[call->ep]++;
	call->info.attempts++;
	call->info.endpoint = call->ep;
	call->info.url = c->eps[call->ep].url;
	call->info.http_status = 0;
	e = http_post_start(c->fetcher, c->eps[call->ep].url, &fo, "application/json", call->body, call->body_len,
			    on_http_done, call, &call->fetch);
	if (e != ERR_OK)
		call->fetch = NULL;
	return e;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct jsonrpc_call *call = arg;
	struct jsonrpc_client *c = call->c;
	err_t e;

	(void)fd;
	(void)what;
	c->busy++;
	if ((e = attempt_start(call)) != ERR_OK) {
		call->info.err = e;
		call->info.detail[0] = 0;
		call_finish(call);
	}
	client_leave(c);
}

/* Retry after a failed attempt, or give up with the failure in call->info. */
static void retry_or_finish(struct jsonrpc_call *call, int retryable)
{
	struct jsonrpc_client *c = call->c;
	struct timeval tv = { 0, 0 };
	uint64_t delay = 0;
	int next;

	if (!retryable || call->info.attempts >= call->max_attempts || c->closing) {
		call_finish(call);
		return;
	}
	next = pick_endpoint(call);
	if (call->tried[next]) {
		/* Every endpoint had its turn in this call: back off before asking one again. */
		unsigned shift = MIN(call->info.attempts - 1, 20u);
		delay = MIN((uint64_t)c->backoff_ms << shift, (uint64_t)c->backoff_max_ms);
	}
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	/* Even a zero delay goes through the loop, so a retry never recurses into libcurl's callback. */
	if (evtimer_add(call->timer, &tv) != 0) {
		call->info.err = ERR_INTERNAL;
		call_finish(call);
	}
}

static void on_http_done(void *arg, struct http_response *res)
{
	struct jsonrpc_call *call = arg;
	struct jsonrpc_client *c = call->c;
	const char *why = NULL;
	int retryable = 1;
	err_t e;

	call->fetch = NULL;
	if (call->cancelling)
		return;   /* jsonrpc_cancel reports the call itself */
	c->busy++;
	call->info.http_status = res->status;
	if (res->err != ERR_OK) {
		e = res->err;
		/* The same call would be as large anywhere, and a cancelled fetch means we are closing. */
		retryable = e != ERR_PROTO_TOO_LARGE && e != ERR_CANCELLED && e != ERR_NOMEM;
		snprintf(call->info.detail, sizeof(call->info.detail), "%s", res->detail ? res->detail : err_str(e));
	} else {
		if (call->a == &call->own)
			arena_reset(&call->own);
		e = jsonrpc_parse_response((const char *)res->body, res->body_len, call->ids, call->n, call->batch,
					   call->a, call->replies, &why);
		if (e == ERR_OK) {
			/* A valid JSON-RPC answer, even under a non-2xx status, is the answer. */
			ep_ok(c, call->ep);
			call->info.err = ERR_OK;
			call->info.detail[0] = 0;
			call_finish(call);
			client_leave(c);
			return;
		}
		if (res->status < 200 || res->status > 299) {
			e = ERR_PROTO_HTTP;
			snprintf(call->info.detail, sizeof(call->info.detail), "HTTP status %ld", res->status);
		} else {
			snprintf(call->info.detail, sizeof(call->info.detail), "%s%s%s", err_str(e),
				 why && *why ? ": " : "", why ? why : "");
		}
		if (e == ERR_NOMEM)
			retryable = 0;
	}
	call->info.err = e;
	if (e != ERR_CANCELLED && e != ERR_NOMEM)
		ep_failed(c, call->ep, e);
	retry_or_finish(call, retryable);
	client_leave(c);
}

void jsonrpc_cancel(struct jsonrpc_call *h)
{
	struct jsonrpc_client *c;

	if (!h)
		return;
	c = h->c;
	c->busy++;
	if (h->fetch) {
		h->cancelling = 1;
		http_fetch_cancel(h->fetch);   /* runs on_http_done synchronously, which ignores it */
		h->fetch = NULL;
	}
	evtimer_del(h->timer);
	h->info.err = ERR_CANCELLED;
	snprintf(h->info.detail, sizeof(h->info.detail), "call cancelled");
	call_finish(h);
	client_leave(c);
}

static int method_valid(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > MAX_METHOD)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = m[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
	}
	return 1;
}

static void put_request(struct buf_writer *w, uint64_t id, const struct jsonrpc_req *r)
{
	buf_printf(w, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"%s\",\"params\":", (unsigned long long)id, r->method);
	buf_put_str(w, r->params ? r->params : "[]");
	buf_put_u8(w, '}');
}

static err_t start(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, int batch,
		   const struct jsonrpc_call_opts *o, jsonrpc_cb cb, void *arg, struct jsonrpc_call **handle)
{
	struct jsonrpc_call *call = NULL;
	struct buf_writer w;
	size_t len;
	err_t e;

	if (handle)
		*handle = NULL;
	buf_writer_init(&w, HTTP_POST_MAX_BODY);
	if (!c || !reqs || !cb || n == 0 || n > JSONRPC_MAX_BATCH || (!batch && n != 1))
		return ERR_INVALID_ARG;
	if (c->closing)
		return ERR_SHUTTING_DOWN;
	for (size_t i = 0; i < n; i++) {
		const char *p = reqs[i].params;
		if (!reqs[i].method || !method_valid(reqs[i].method) || (p && p[0] != '[' && p[0] != '{'))
			return ERR_INVALID_ARG;
	}
	e = ERR_NOMEM;
	if (!(call = calloc(1, sizeof(*call))))
		goto out;
	call->c = c;
	call->n = n;
	call->batch = batch;
	call->cb = cb;
	call->arg = arg;
	call->ep = -1;
	call->info.endpoint = -1;
	call->max_attempts = MIN(o && o->max_attempts ? o->max_attempts : c->max_attempts, MAX_ATTEMPTS);
	call->timeout_ms = o && o->timeout_ms ? o->timeout_ms : c->timeout_ms;
	arena_init(&call->own, c->arena_budget, 0);
	call->a = o && o->arena ? o->arena : &call->own;
	call->ids = calloc(n, sizeof(*call->ids));
	call->replies = calloc(n, sizeof(*call->replies));
	call->timer = evtimer_new(c->base, on_timer, call);
	if (!call->ids || !call->replies || !call->timer)
		goto out;
	if (batch)
		buf_put_u8(&w, '[');
	for (size_t i = 0; i < n; i++) {
		call->ids[i] = ++c->next_id;
		if (i)
			buf_put_u8(&w, ',');
		put_request(&w, call->ids[i], &reqs[i]);
	}
	if (batch)
		buf_put_u8(&w, ']');
	if ((e = buf_writer_status(&w)) != ERR_OK)
		goto out;
	call->body = buf_take(&w, &len);
	call->body_len = len;
	if ((e = attempt_start(call)) != ERR_OK)
		goto out;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	if (handle)
		*handle = call;
	call = NULL;
	e = ERR_OK;
out:
	buf_writer_free(&w);
	call_free(call);
	return e;
}

err_t jsonrpc_call(struct jsonrpc_client *c, const char *method, const char *params, const struct jsonrpc_call_opts *o,
		   jsonrpc_cb cb, void *arg, struct jsonrpc_call **handle)
{
	struct jsonrpc_req r = { .method = method, .params = params };

	return start(c, &r, 1, 0, o, cb, arg, handle);
}

err_t jsonrpc_batch(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, const struct jsonrpc_call_opts *o,
		    jsonrpc_cb cb, void *arg, struct jsonrpc_call **handle)
{
	return start(c, reqs, n, 1, o, cb, arg, handle);
}

/* ---- client ---- */

static int url_ok(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > JSONRPC_MAX_URL)
		return 0;
	return (strncasecmp(u, "http://", 7) == 0 && n > 7) || (strncasecmp(u, "https://", 8) == 0 && n > 8);
}

struct jsonrpc_client *jsonrpc_client_new(struct event_base *base, const struct jsonrpc_opts *o, err_t *err)
{
	struct jsonrpc_client *c = NULL;

	*err = ERR_INVALID_ARG;
	if (!base || !o || !o->urls || o->nurls == 0 || o->nurls > JSONRPC_MAX_ENDPOINTS)
		return NULL;
	for (size_t i = 0; i < o->nurls; i++)
		if (!o->urls[i] || !url_ok(o->urls[i]))
			return NULL;
	*err = ERR_NOMEM;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->base = base;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_attempts = MIN(o->max_attempts ? o->max_attempts : DEFAULT_ATTEMPTS, MAX_ATTEMPTS);
	c->backoff_ms = o->backoff_ms ? o->backoff_ms : DEFAULT_BACKOFF_MS;
	c->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	c->down_after = o->down_after ? o->down_after : DEFAULT_DOWN_AFTER;
	c->cooldown_ms = o->cooldown_ms ? o->cooldown_ms : DEFAULT_COOLDOWN_MS;
	c->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
	c->arena_budget = o->arena_budget ? o->arena_budget
			  : (c->max_response > SIZE_MAX / 4 ? SIZE_MAX : 4 * c->max_response);
	for (size_t i = 0; i < o->nurls; i++) {
		if (!(c->eps[i].url = strdup(o->urls[i])))
			goto fail;
		c->neps++;
	}
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		goto fail;
	if (!(c->fetcher = http_fetcher_new(base))) {
		*err = ERR_INTERNAL;
		goto fail;
	}
	*err = ERR_OK;
	return c;
fail:
	client_destroy(c);
	return NULL;
}

void jsonrpc_client_free(struct jsonrpc_client *c)
{
	if (!c || c->closing)
		return;
	c->closing = 1;
	c->busy++;
	while (c->calls)
		jsonrpc_cancel(c->calls);
	client_leave(c);
}

/* ---- blocking forms ---- */

struct sync_wait {
	struct jsonrpc_reply *out;
	size_t n;
	struct jsonrpc_info *info;
	int done;
};

static void on_sync(void *arg, const struct jsonrpc_info *info, const struct jsonrpc_reply *replies, size_t n)
{
	struct sync_wait *w = arg;

	*w->info = *info;
	for (size_t i = 0; i < n && i < w->n; i++)
		w->out[i] = replies[i];
	w->done = 1;
}

static err_t run_sync(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, int batch, struct arena *a,
		      struct jsonrpc_reply *out, struct jsonrpc_info *info)
{
	struct jsonrpc_info local;
	struct jsonrpc_call_opts o = { .arena = a };
	struct sync_wait w = { .out = out, .n = n, .info = info ? info : &local, .done = 0 };
	struct jsonrpc_call *h = NULL;
	err_t e;

	memset(w.info, 0, sizeof(*w.info));
	w.info->endpoint = -1;
	if (!a)
		return w.info->err = ERR_INVALID_ARG;
	if ((e = start(c, reqs, n, batch, &o, on_sync, &w, &h)) != ERR_OK) {
		w.info->err = e;
		snprintf(w.info->detail, sizeof(w.info->detail), "%s", err_str(e));
		return e;
	}
	while (!w.done)
		if (event_base_loop(c->base, EVLOOP_ONCE) != 0)
			break;
	if (!w.done)
		jsonrpc_cancel(h);   /* the loop had nothing left to run: cannot happen while a transfer or timer is armed */
	if (w.info->err != ERR_OK)
		return w.info->err;
	if (!batch && out[0].err == JSONRPC_ERR_REMOTE) {
		/* The server's own words, for the operator ("code -32000: execution reverted"), without control characters. */
		snprintf(w.info->detail, sizeof(w.info->detail), "code %lld: %s", (long long)out[0].code, out[0].message);
		for (char *p = w.info->detail; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return batch ? ERR_OK : out[0].err;
}

err_t jsonrpc_call_sync(struct jsonrpc_client *c, const char *method, const char *params, struct arena *a,
			struct jsonrpc_reply *reply, struct jsonrpc_info *info)
{
	struct jsonrpc_req r = { .method = method, .params = params };

	return run_sync(c, &r, 1, 0, a, reply, info);
}

err_t jsonrpc_batch_sync(struct jsonrpc_client *c, const struct jsonrpc_req *reqs, size_t n, struct arena *a,
			 struct jsonrpc_reply *replies, struct jsonrpc_info *info)
{
	return run_sync(c, reqs, n, 1, a, replies, info);
}
