/* SPDX-License-Identifier: Apache-2.0 */
/* Plain HTTP(S) GET (and POST of a small body, for JSON-RPC) over libcurl on a libevent loop, with hard caps on body and header bytes; blocking form for CLIs. */
#ifndef DS_HTTP_FETCH_H
#define DS_HTTP_FETCH_H

#include <event2/event.h>
#include "base.h"
#include "err.h"

/*
 * For fetching public artefacts (Intel PCS/PCCS collateral, AMD KDS
 * certificates): no request body, no cookies, no authentication. Only http
 * and https URLs; redirects are not followed unless asked for, and then only
 * to https (or to http when the first URL was http). Every response is held
 * in memory under the caps below, so a hostile server can cost us at most
 * max_body + max_header_bytes per fetch.
 */

#define HTTP_FETCH_MAX_KEEP 8      /* response headers a fetch can ask to keep */

struct http_fetch_opts {
	uint32_t timeout_ms;            /* whole transfer; 0 = 30 s */
	uint32_t connect_timeout_ms;    /* 0 = 10 s (capped by timeout_ms) */
	size_t max_body;                /* a longer body fails with ERR_PROTO_TOO_LARGE; 0 = 16 MiB */
	size_t max_header_bytes;        /* all response header lines together; more fails with ERR_PROTO_TOO_LARGE; 0 = 64 KiB */
	const char *const *keep_headers;/* NULL-terminated names (any case) whose values to keep; at most HTTP_FETCH_MAX_KEEP; borrowed */
	const char *ca_file;            /* PEM trust anchors for https; NULL = the system store; borrowed */
	const char *proxy;              /* "http://proxy:3128"; NULL = no proxy, environment variables ignored; borrowed */
	unsigned max_redirects;         /* 0 = do not follow redirects */
	const char *user_agent;         /* NULL = "dstack-c"; borrowed */
};

/*
 * The outcome of one fetch. `err` is ERR_OK when an HTTP response arrived
 * whole (whatever its status), else the transport failure: ERR_IO_CONNECT,
 * ERR_IO_RESOLVE, ERR_IO_TLS, ERR_IO_TIMEOUT (the whole-transfer timeout),
 * ERR_IO_CLOSED, ERR_PROTO_TOO_LARGE (a cap above), ERR_PROTO_HTTP,
 * ERR_CANCELLED, ERR_NOMEM, ERR_IO. `detail` is libcurl's or our text for
 * logs (never contains bodies); static or owned by the response.
 */
struct http_response {
	err_t err;
	const char *detail;
	long status;                    /* HTTP status; 0 without a response */
	uint8_t *body;                  /* owned by the response; NUL-terminated (not counted in body_len) */
	size_t body_len;
	uint64_t elapsed_ns;            /* from start to completion */
	/* Kept headers: names as asked for, values as sent with surrounding blanks trimmed. */
	struct {
		const char *name;       /* one of keep_headers (borrowed) */
		char *value;            /* owned */
	} headers[HTTP_FETCH_MAX_KEEP];
	size_t nheaders;
	char errbuf[256];
};

/* The value of a kept header, by case-insensitive name; the first occurrence; NULL when absent. Borrowed from r. */
const char *http_response_header(const struct http_response *r, const char *name);

/* Take the body (caller frees); r->body becomes NULL. */
uint8_t *http_response_take_body(struct http_response *r, size_t *len);

/* Release what the response owns (body, header values). The struct itself is the caller's. */
void http_response_free(struct http_response *r);

/*
 * The callback gets the response, which belongs to the fetcher and is
 * freed after the callback returns (take the body to keep it).
 */
typedef void (*http_fetch_cb)(void *arg, struct http_response *res);

struct http_fetcher;
struct http_fetch;

/* A fetcher on `base` (borrowed; must outlive it). NULL on failure. */
struct http_fetcher *http_fetcher_new(struct event_base *base);

/*
 * Cancel pending fetches (their callbacks run with ERR_CANCELLED,
 * synchronously, inside this function) and free. May be called from a
 * callback of the same fetcher. NULL is a no-op.
 */
void http_fetcher_free(struct http_fetcher *f);

/*
 * Start GET `url` (copied). The callback runs exactly once, from the event
 * loop, never from inside this function. Returns an error only when nothing
 * was started (then no callback): ERR_INVALID_ARG for a URL that is not
 * http(s) or contains control characters or spaces, ERR_SHUTTING_DOWN,
 * ERR_NOMEM, ERR_INTERNAL. *handle (optional) can cancel the fetch until the
 * callback runs.
 */
err_t http_fetch_start(struct http_fetcher *f, const char *url, const struct http_fetch_opts *o, http_fetch_cb cb,
		       void *arg, struct http_fetch **handle) MUST_CHECK;

/*
 * Start POST `url` with `body` (len bytes, copied; at most HTTP_POST_MAX_BODY)
 * sent as `content_type` (e.g. "application/json"; no CR/LF; copied). Same
 * contract as http_fetch_start otherwise: callback once from the loop, an
 * error return only when nothing was started. Redirects are never followed
 * for a POST, whatever o->max_redirects says.
 */
#define HTTP_POST_MAX_BODY ((size_t)16 << 20)
err_t http_post_start(struct http_fetcher *f, const char *url, const struct http_fetch_opts *o,
		      const char *content_type, const void *body, size_t len, http_fetch_cb cb, void *arg,
		      struct http_fetch **handle) MUST_CHECK;

/* Cancel a pending fetch: its callback runs now, synchronously, with ERR_CANCELLED. */
void http_fetch_cancel(struct http_fetch *h);

/*
 * Blocking form for CLI tools: one GET on a private loop. `res` is filled
 * (free it with http_response_free) and its err returned.
 */
err_t http_get_sync(const char *url, const struct http_fetch_opts *o, struct http_response *res) MUST_CHECK;
/* Blocking POST, as http_post_start on a private loop. */
err_t http_post_sync(const char *url, const struct http_fetch_opts *o, const char *content_type, const void *body,
		     size_t len, struct http_response *res) MUST_CHECK;

#endif
