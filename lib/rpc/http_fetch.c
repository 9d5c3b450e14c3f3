/* SPDX-License-Identifier: Apache-2.0 */
/* Plain HTTP(S) GET and POST on the loop through curl_loop: capped body and headers, selected headers kept. */
#include "http_fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "curl_loop.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_BODY ((size_t)16 << 20)
#define DEFAULT_MAX_HEADER_BYTES ((size_t)64 << 10)
#define MAX_URL 8192u

struct http_fetch {
	struct http_fetcher *f;
	struct http_fetch *prev, *next;    /* f->pending */
	CURL *easy;
	struct curl_slist *req_headers;    /* POST only */
	struct curl_loop_xfer xfer;
	char *url;                         /* owned */
	http_fetch_cb cb;
	void *arg;
	struct buf_writer body;
	size_t max_body;
	size_t header_bytes, max_header_bytes;
	const char *keep[HTTP_FETCH_MAX_KEEP];
	size_t nkeep;
	int too_large, nomem;
	uint64_t started_ns;
	struct http_response res;
};

struct http_fetcher {
	struct event_base *base;           /* borrowed */
	struct curl_loop *loop;
	struct http_fetch *pending;
	unsigned busy;                     /* depth of callbacks that may run user code */
	int closing;
};

/* ---- responses ---- */

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

uint8_t *http_response_take_body(struct http_response *r, size_t *len)
{
	uint8_t *b = r->body;

	*len = r->body_len;
	r->body = NULL;
	r->body_len = 0;
	return b;
}

static void response_clear_headers(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i].value);
	r->nheaders = 0;
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	response_clear_headers(r);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ---- libcurl callbacks ---- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * CURLOPT_HEADERFUNCTION: one line at a time. Every byte counts against the
 * header cap (libcurl itself only caps single lines); a status line starts
 * a new response (redirects, 1xx), so kept values of the previous one go.
 */
static size_t on_header(char *p, size_t size, size_t nitems, void *arg)
{
	struct http_fetch *h = arg;
	size_t total = size * nitems, n = total, colon;
	const char *v;
	size_t vn;

	if (total > h->max_header_bytes - MIN(h->header_bytes, h->max_header_bytes)) {
		h->too_large = 1;
		return 0;
	}
	h->header_bytes += total;
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		response_clear_headers(&h->res);
		return total;
	}
	for (colon = 0; colon < n && p[colon] != ':'; colon++)
		;
	if (colon == n || colon == 0)
		return total;
	v = p + colon + 1;
	vn = n - colon - 1;
	while (vn && is_blank(*v)) {
		v++;
		vn--;
	}
	while (vn && is_blank(v[vn - 1]))
		vn--;
	for (size_t i = 0; i < h->nkeep; i++) {
		char *copy;
		if (strlen(h->keep[i]) != colon || strncasecmp(p, h->keep[i], colon) != 0)
			continue;
		if (http_response_header(&h->res, h->keep[i]))
			break;   /* the first occurrence wins */
		copy = malloc(vn + 1);
		if (!copy) {
			h->nomem = 1;
			return 0;
		}
		memcpy(copy, v, vn);
		copy[vn] = 0;
		h->res.headers[h->res.nheaders].name = h->keep[i];
		h->res.headers[h->res.nheaders].value = copy;
		h->res.nheaders++;
		break;
	}
	return total;
}

/* CURLOPT_WRITEFUNCTION: buffer under the hard cap; returning short aborts the transfer. */
static size_t on_body(char *p, size_t size, size_t nitems, void *arg)
{
	struct http_fetch *h = arg;
	size_t n = size * nitems;

	if (n > h->max_body - h->body.len) {
		h->too_large = 1;
		return 0;
	}
	buf_put(&h->body, p, n);
	if (buf_writer_status(&h->body) != ERR_OK) {
		h->nomem = 1;
		return 0;
	}
	return n;
}

static err_t err_from_curl(const struct http_fetch *h, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return ERR_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return ERR_IO_TIMEOUT;
	case CURLE_WRITE_ERROR:
		if (h->too_large)
			return ERR_PROTO_TOO_LARGE;
		return h->nomem ? ERR_NOMEM : ERR_IO;
	case CURLE_FILESIZE_EXCEEDED:
		return ERR_PROTO_TOO_LARGE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
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
	case CURLE_TOO_MANY_REDIRECTS:
		return ERR_PROTO_HTTP;
	case CURLE_OUT_OF_MEMORY:
		return ERR_NOMEM;
	default:
		/* A header callback that refused more bytes ends as a write error on some versions, others differ. */
		if (h->too_large)
			return ERR_PROTO_TOO_LARGE;
		return h->nomem ? ERR_NOMEM : ERR_IO;
	}
}

/* ---- fetch lifecycle ---- */

static void fetch_unlink(struct http_fetch *h)
{
	struct http_fetcher *f = h->f;

	if (h->prev)
		h->prev->next = h->next;
	else if (f->pending == h)
		f->pending = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

static void fetch_free(struct http_fetch *h)
{
	if (!h)
		return;
	if (h->xfer.active)
		curl_loop_remove(h->f->loop, &h->xfer);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->req_headers);
	free(h->url);
	buf_writer_free(&h->body);
	http_response_free(&h->res);
	free(h);
}

/* Run the callback once and free the fetch (and whatever the callback did not take). */
static void fetch_finish(struct http_fetch *h)
{
	fetch_unlink(h);
	h->res.elapsed_ns = mono_ns() - h->started_ns;
	if (!h->res.detail)
		h->res.detail = h->res.err == ERR_OK ? "" : err_str(h->res.err);
	h->cb(h->arg, &h->res);
	fetch_free(h);
}

static void fetcher_destroy(struct http_fetcher *f)
{
	curl_loop_free(f->loop);
	free(f);
}

static void fetcher_leave(struct http_fetcher *f)
{
	if (--f->busy == 0 && f->closing)
		fetcher_destroy(f);
}

static void on_xfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct http_fetch *h = arg;
	struct http_fetcher *f = h->f;
	long st = 0;

	f->busy++;
	h->res.err = err_from_curl(h, rc);
	if (h->res.err == ERR_OK && h->nomem)
		h->res.err = ERR_NOMEM;
	if (h->res.err == ERR_OK) {
		size_t len = 0;
		if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK || st < 100 || st > 999) {
			h->res.err = ERR_PROTO_HTTP;
			h->res.detail = "no HTTP status";
		} else {
			h->res.status = st;
			/* An empty body still gets a buffer, so callers can always treat body as a C string. */
			buf_put_u8(&h->body, 0);
			if (buf_writer_status(&h->body) != ERR_OK) {
				h->res.err = ERR_NOMEM;
			} else {
				h->res.body = buf_take(&h->body, &len);
				h->res.body_len = len - 1;
			}
		}
	} else {
		if (h->res.err == ERR_PROTO_TOO_LARGE)
			h->res.detail = "response over the size limit";
		else if (h->res.errbuf[0])
			h->res.detail = h->res.errbuf;
		response_clear_headers(&h->res);
	}
	fetch_finish(h);
	fetcher_leave(f);
}

static int url_valid(const char *url)
{
	size_t n = strlen(url);

	if (n > MAX_URL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return 0;
	return (strncasecmp(url, "http://", 7) == 0 && n > 7) || (strncasecmp(url, "https://", 8) == 0 && n > 8);
}

struct http_fetcher *http_fetcher_new(struct event_base *base)
{
	struct http_fetcher *f;
	err_t e;

	if (!base)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base = base;
	f->loop = curl_loop_new(base, &e);
	if (!f->loop) {
		free(f);
		return NULL;
	}
	return f;
}

void http_fetcher_free(struct http_fetcher *f)
{
	if (!f || f->closing)
		return;
	f->closing = 1;
	f->busy++;
	while (f->pending)
		http_fetch_cancel(f->pending);
	fetcher_leave(f);
}

void http_fetch_cancel(struct http_fetch *h)
{
	struct http_fetcher *f;

	if (!h)
		return;
	f = h->f;
	f->busy++;
	curl_loop_remove(f->loop, &h->xfer);
	response_clear_headers(&h->res);
	h->res.err = ERR_CANCELLED;
	h->res.detail = "fetch cancelled";
	h->res.status = 0;
	fetch_finish(h);
	fetcher_leave(f);
}

/* A request body to POST; NULL for GET. */
struct post_body {
	const char *content_type;
	const void *body;
	size_t len;
};

static int content_type_valid(const char *ct)
{
	size_t n = strlen(ct);

	if (n == 0 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] >= 0x7f)
			return 0;
	return 1;
}

/* Headers for a POST: its content type, and no "Expect: 100-continue" round trip. */
static int post_setup(struct http_fetch *h, const struct post_body *pb)
{
	char line[300];
	struct curl_slist *l;
	int n = snprintf(line, sizeof(line), "Content-Type: %s", pb->content_type);

	if (n < 0 || (size_t)n >= sizeof(line))
		return 0;
	if (!(l = curl_slist_append(h->req_headers, line)))
		return 0;
	h->req_headers = l;
	if (!(l = curl_slist_append(h->req_headers, "Expect:")))
		return 0;
	h->req_headers = l;
	/* The size must be set before COPYPOSTFIELDS, which then copies exactly that many bytes. */
	return curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)pb->len) == CURLE_OK &&
	       curl_easy_setopt(h->easy, CURLOPT_COPYPOSTFIELDS, pb->len ? pb->body : "") == CURLE_OK &&
	       curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->req_headers) == CURLE_OK;
}

static err_t fetch_start(struct http_fetcher *f, const char *url, const struct http_fetch_opts *o,
			 const struct post_body *pb, http_fetch_cb cb, void *arg, struct http_fetch **handle)
{
	static const struct http_fetch_opts defaults;
	struct http_fetch *h = NULL;
	uint32_t timeout, connect_timeout;
	int https, ok;
	err_t e;

	if (handle)
		*handle = NULL;
	if (!f || !url || !cb)
		return ERR_INVALID_ARG;
	if (f->closing)
		return ERR_SHUTTING_DOWN;
	if (!url_valid(url))
		return ERR_INVALID_ARG;
	if (pb && (!pb->content_type || !content_type_valid(pb->content_type) || (pb->len && !pb->body) ||
		   pb->len > HTTP_POST_MAX_BODY))
		return ERR_INVALID_ARG;
	if (!o)
		o = &defaults;
	h = calloc(1, sizeof(*h));
	if (!h)
		return ERR_NOMEM;
	h->f = f;
	h->cb = cb;
	h->arg = arg;
	h->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	h->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : DEFAULT_MAX_HEADER_BYTES;
	/* +1 for the NUL appended at the end. */
	buf_writer_init(&h->body, h->max_body + 1);
	e = ERR_INVALID_ARG;
	for (size_t i = 0; o->keep_headers && o->keep_headers[i]; i++) {
		if (h->nkeep == HTTP_FETCH_MAX_KEEP)
			goto out;
		h->keep[h->nkeep++] = o->keep_headers[i];
	}
	e = ERR_NOMEM;
	h->url = strdup(url);
	h->easy = curl_easy_init();
	if (!h->url || !h->easy)
		goto out;
	https = strncasecmp(url, "https://", 8) == 0;
	timeout = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	connect_timeout = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	ok = curl_easy_setopt(h->easy, CURLOPT_URL, h->url) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     (pb || curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L) == CURLE_OK) &&
	     curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_PROXY, o->proxy ? o->proxy : "") == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "dstack-c") == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)timeout) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(timeout, connect_timeout)) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, (void *)h) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, (void *)h) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->res.errbuf) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	     curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	if (ok && o->ca_file)
		ok = curl_easy_setopt(h->easy, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
	if (ok && pb)
		ok = post_setup(h, pb);
	if (ok && o->max_redirects && !pb)
		ok = curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
		     curl_easy_setopt(h->easy, CURLOPT_MAXREDIRS, (long)o->max_redirects) == CURLE_OK &&
		     /* Never downgrade: an https fetch only follows https redirects. */
		     curl_easy_setopt(h->easy, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https") == CURLE_OK;
	if (!ok) {
		e = ERR_INTERNAL;
		goto out;
	}
	h->xfer.easy = h->easy;
	h->xfer.done = on_xfer_done;
	h->xfer.arg = h;
	h->started_ns = mono_ns();
	e = curl_loop_add(f->loop, &h->xfer);
	if (e != ERR_OK)
		goto out;
	h->next = f->pending;
	if (f->pending)
		f->pending->prev = h;
	f->pending = h;
	if (handle)
		*handle = h;
	h = NULL;
	e = ERR_OK;
out:
	fetch_free(h);
	return e;
}

err_t http_fetch_start(struct http_fetcher *f, const char *url, const struct http_fetch_opts *o, http_fetch_cb cb,
		       void *arg, struct http_fetch **handle)
{
	return fetch_start(f, url, o, NULL, cb, arg, handle);
}

err_t http_post_start(struct http_fetcher *f, const char *url, const struct http_fetch_opts *o,
		      const char *content_type, const void *body, size_t len, http_fetch_cb cb, void *arg,
		      struct http_fetch **handle)
{
	struct post_body pb = { .content_type = content_type, .body = body, .len = len };

	return fetch_start(f, url, o, &pb, cb, arg, handle);
}

/* ---- blocking form ---- */

struct sync_wait {
	struct http_response *out;
	int done;
};

static void on_sync_done(void *arg, struct http_response *res)
{
	struct sync_wait *w = arg;

	/* Move everything the response owns; the fetcher then frees an empty shell. */
	*w->out = *res;
	if (res->detail == res->errbuf)
		w->out->detail = w->out->errbuf;
	res->body = NULL;
	res->body_len = 0;
	res->nheaders = 0;
	w->done = 1;
}

static err_t fetch_sync(const char *url, const struct http_fetch_opts *o, const struct post_body *pb,
			struct http_response *res)
{
	struct event_base *base = NULL;
	struct http_fetcher *f = NULL;
	struct sync_wait w = { .out = res, .done = 0 };
	err_t e;

	memset(res, 0, sizeof(*res));
	base = event_base_new();
	if (!base) {
		e = ERR_NOMEM;
		goto fail;
	}
	f = http_fetcher_new(base);
	if (!f) {
		e = ERR_NOMEM;
		goto fail;
	}
	e = fetch_start(f, url, o, pb, on_sync_done, &w, NULL);
	if (e != ERR_OK)
		goto fail;
	while (!w.done)
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;   /* nothing pending: cannot happen while the fetch holds a timer */
	http_fetcher_free(f);   /* cancels the fetch if the loop gave up, which fills res */
	event_base_free(base);
	return res->err;
fail:
	http_fetcher_free(f);
	if (base)
		event_base_free(base);
	res->err = e;
	res->detail = err_str(e);
	return e;
}

err_t http_get_sync(const char *url, const struct http_fetch_opts *o, struct http_response *res)
{
	return fetch_sync(url, o, NULL, res);
}

err_t http_post_sync(const char *url, const struct http_fetch_opts *o, const char *content_type, const void *body,
		     size_t len, struct http_response *res)
{
	struct post_body pb = { .content_type = content_type, .body = body, .len = len };

	return fetch_sync(url, o, &pb, res);
}
