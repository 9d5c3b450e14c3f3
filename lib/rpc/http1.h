/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental HTTP/1.1 request-head parser and chunked body decoder for untrusted input. */
#ifndef DS_HTTP1_H
#define DS_HTTP1_H

#include "base.h"
#include "buf.h"
#include "err.h"

#define HTTP1_MAX_HEADERS 64

enum http1_method { HTTP1_OTHER = 0, HTTP1_GET, HTTP1_HEAD, HTTP1_POST, HTTP1_PUT, HTTP1_DELETE, HTTP1_OPTIONS };

/* Views into the caller's buffer: valid while that buffer is unchanged. Not NUL-terminated. */
struct http1_str {
	const char *p;
	size_t len;
};

struct http1_header {
	struct http1_str name;
	struct http1_str value;   /* leading/trailing spaces and tabs removed */
};

struct http1_request {
	enum http1_method method;
	struct http1_str method_str;
	struct http1_str target;     /* origin-form: "/path?query" */
	struct http1_str path;       /* target up to '?' */
	struct http1_str query;      /* after '?', empty if none */
	int minor_version;           /* 0 or 1 */
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t nheaders;
	/* Interpreted from the headers: */
	int64_t content_length;      /* -1 when absent */
	int chunked;                 /* Transfer-Encoding: chunked */
	int keep_alive;              /* HTTP/1.1 default on, "Connection: close" off; HTTP/1.0 needs keep-alive */
	int expect_continue;         /* Expect: 100-continue */
	struct http1_str content_type;  /* empty when absent */
	struct http1_str host;
};

/*
 * Parse a request head (request line + headers + blank line) from buf[0..len).
 * Returns the number of bytes the head took (> 0) when complete, 0 when more
 * bytes are needed, or a negative err_t:
 *   ERR_PROTO_TOO_LARGE  the head would exceed max_head bytes, or more than HTTP1_MAX_HEADERS headers
 *   ERR_PROTO_HTTP       bad request line, bad version (only HTTP/1.0 and 1.1), bad header syntax
 *                        (obs-fold, space before colon, control characters, non-token names)
 *   ERR_PROTO_HEADER     invalid framing: both Content-Length and Transfer-Encoding, several differing
 *                        Content-Length values, a non-numeric or huge Content-Length, a transfer coding
 *                        other than a single "chunked", a target that is not origin-form
 * Bare LF line endings are accepted; NUL bytes never are. With 0 returned the
 * caller calls again with the same buffer plus more bytes (the parser keeps no state).
 */
int http1_parse_head(const char *buf, size_t len, size_t max_head, struct http1_request *req) MUST_CHECK;

/* Case-insensitive lookup; NULL when absent. Returns the first match. */
const struct http1_str *http1_header_get(const struct http1_request *req, const char *name);

/* Case-insensitive compare of a view with a C string. */
int http1_str_eq(struct http1_str s, const char *lit);
int http1_str_ieq(struct http1_str s, const char *lit);

/* State of a chunked body decoder; zero-initialise before use. */
struct http1_chunked {
	int state;
	uint64_t remaining;    /* bytes left in the current chunk */
	size_t line_len;       /* bytes of the current size/trailer line seen so far */
	size_t trailer_bytes;
};

/*
 * Feed `len` bytes of a chunked body. Decoded data is appended to `out`
 * (whose max caps the body: exceeding it is ERR_PROTO_TOO_LARGE). *consumed
 * gets how many input bytes were used. Returns 1 when the final chunk and
 * trailers are complete (bytes after that belong to the next request and are
 * not consumed), 0 when more input is needed, or ERR_PROTO_HTTP for bad
 * syntax (non-hex sizes, chunk extensions longer than 1 KiB, missing CRLF
 * after data, trailers over 8 KiB).
 */
int http1_chunked_feed(struct http1_chunked *c, const uint8_t *in, size_t len, struct buf_writer *out,
		       size_t *consumed) MUST_CHECK;

/* Standard reason phrase for a status code ("OK", "Not Found"); "Unknown" otherwise. */
const char *http1_reason(int status);

#endif
