/* SPDX-License-Identifier: Apache-2.0 */
/* Stateless single-pass HTTP/1.x request-head parser and incremental chunked body decoder. */
#include "http1.h"

#include <limits.h>
#include <string.h>

/*
 * Character classes (RFC 9110 §5.6.2, §5.5). One table lookup per byte keeps
 * the hot loops branch-light; every byte the parser accepts passes through it.
 */
#define C_TCHAR 1   /* token character: method and field names */
#define C_VCHAR 2   /* visible ASCII 0x21-0x7e: request target */
#define C_FIELD 4   /* field-value octet: HT, SP, VCHAR, obs-text; no CTLs, no DEL */

static const uint8_t char_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,  /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
	4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,  /* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,  /* 0x30 */
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 0x40 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,  /* 0x50 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,  /* 0x70 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0x80 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0x90 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xa0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xb0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xc0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xd0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xe0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xf0 */
};

/* Largest Content-Length we accept: what a double (and JSON peers) can count exactly. */
#define HTTP1_MAX_CONTENT_LENGTH (UINT64_C(1) << 53)
#define CHUNK_MAX_HEX_DIGITS 16
#define CHUNK_MAX_LINE 1024
#define CHUNK_MAX_TRAILERS 8192

static inline int is_ows(uint8_t b)
{
	return b == ' ' || b == '\t';
}

static inline uint8_t ascii_lower(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b;
}

static inline int ieq_n(struct http1_str s, const char *lit, size_t n)
{
	if (s.len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((uint8_t)s.p[i]) != ascii_lower((uint8_t)lit[i]))
			return 0;
	return 1;
}

/* For string literals: the length is a constant, so the per-header checks cost no strlen. */
#define IEQ(s, lit) ieq_n((s), (lit), sizeof(lit) - 1)

int http1_str_eq(struct http1_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

int http1_str_ieq(struct http1_str s, const char *lit)
{
	return ieq_n(s, lit, strlen(lit));
}

const struct http1_str *http1_header_get(const struct http1_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (http1_str_ieq(req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

/*
 * The head parser is a pure function of the bytes it may look at, so a caller
 * that re-calls with a longer buffer sees the same verdict for the same
 * prefix. Internally a step either finishes (STEP_DONE), runs out of bytes
 * (STEP_MORE) or fails with a negative err_t; only the top level turns
 * STEP_MORE into "0" or "too large".
 */
enum { STEP_DONE = 0, STEP_MORE = 1 };

struct cursor {
	const uint8_t *p;
	size_t pos;
	size_t end;   /* min(len, max_head): bytes past it are never read */
};

/* Header-derived facts that only matter until the head is complete. */
struct framing {
	int seen_cl;
	int seen_te;
	int conn_close;
	int conn_keep_alive;
};

/* CRLF or bare LF; a CR followed by anything else is a stray control character. */
static int parse_eol(struct cursor *c)
{
	if (c->pos == c->end)
		return STEP_MORE;
	if (c->p[c->pos] == '\n') {
		c->pos++;
		return STEP_DONE;
	}
	if (c->p[c->pos] != '\r')
		return ERR_PROTO_HTTP;
	if (c->end - c->pos < 2)
		return STEP_MORE;
	if (c->p[c->pos + 1] != '\n')
		return ERR_PROTO_HTTP;
	c->pos += 2;
	return STEP_DONE;
}

static enum http1_method method_from(const uint8_t *m, size_t n)
{
	/* Methods are case-sensitive (RFC 9110 §9.1): "get" is some other method. */
	switch (n) {
	case 3:
		if (memcmp(m, "GET", 3) == 0)
			return HTTP1_GET;
		if (memcmp(m, "PUT", 3) == 0)
			return HTTP1_PUT;
		break;
	case 4:
		if (memcmp(m, "HEAD", 4) == 0)
			return HTTP1_HEAD;
		if (memcmp(m, "POST", 4) == 0)
			return HTTP1_POST;
		break;
	case 6:
		if (memcmp(m, "DELETE", 6) == 0)
			return HTTP1_DELETE;
		break;
	case 7:
		if (memcmp(m, "OPTIONS", 7) == 0)
			return HTTP1_OPTIONS;
		break;
	default:
		break;
	}
	return HTTP1_OTHER;
}

/* request-line = method SP origin-form SP "HTTP/1." ("0" / "1") CRLF */
static int parse_request_line(struct cursor *c, struct http1_request *req)
{
	static const char version[] = "HTTP/1.";
	const uint8_t *p = c->p;
	size_t start = c->pos, qmark = 0;
	uint8_t b;

	while (c->pos < c->end && (char_class[p[c->pos]] & C_TCHAR))
		c->pos++;
	if (c->pos == c->end)
		return STEP_MORE;
	if (c->pos == start || p[c->pos] != ' ')
		return ERR_PROTO_HTTP;
	req->method_str.p = (const char *)p + start;
	req->method_str.len = c->pos - start;
	req->method = method_from(p + start, c->pos - start);
	c->pos++;

	if (c->pos == c->end)
		return STEP_MORE;
	b = p[c->pos];
	if (b != '/')
		/* "*", "http://host/..." and "host:port" are well-formed but not served here. */
		return (char_class[b] & C_VCHAR) ? ERR_PROTO_HEADER : ERR_PROTO_HTTP;
	start = c->pos;
	while (c->pos < c->end && (char_class[b = p[c->pos]] & C_VCHAR)) {
		if (b == '?' && !qmark)
			qmark = c->pos;
		c->pos++;
	}
	if (c->pos == c->end)
		return STEP_MORE;
	if (p[c->pos] != ' ')
		return ERR_PROTO_HTTP;
	req->target.p = (const char *)p + start;
	req->target.len = c->pos - start;
	if (qmark) {
		req->path.p = req->target.p;
		req->path.len = qmark - start;
		req->query.p = (const char *)p + qmark + 1;
		req->query.len = c->pos - qmark - 1;
	} else {
		req->path = req->target;
		req->query.p = (const char *)p + c->pos;
		req->query.len = 0;
	}
	c->pos++;

	for (size_t i = 0; i < sizeof(version) - 1; i++, c->pos++) {
		if (c->pos == c->end)
			return STEP_MORE;
		if (p[c->pos] != (uint8_t)version[i])
			return ERR_PROTO_HTTP;
	}
	if (c->pos == c->end)
		return STEP_MORE;
	b = p[c->pos];
	if (b != '0' && b != '1')
		return ERR_PROTO_HTTP;
	req->minor_version = b - '0';
	c->pos++;
	return parse_eol(c);
}

/*
 * End of the run of field-value octets starting at pos. Values (tokens,
 * cookies, user agents) are most of a head's bytes, so whole 8-byte words
 * free of CTLs and DEL are skipped at once; a word holding one (the line end,
 * or HT, which is allowed) is finished byte by byte with the table.
 */
static size_t scan_field_value(const uint8_t *p, size_t pos, size_t end)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);

	for (;;) {
		size_t stop;

		while (end - pos >= 8) {
			uint64_t w, del;

			memcpy(&w, p + pos, 8);
			del = w ^ (ones * 0x7f);
			/* Exact "some byte < 0x20" and "some byte == 0x7f" tests; bytes >= 0x80 never trip them. */
			if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs)
				break;
			pos += 8;
		}
		stop = MIN(pos + 8, end);
		while (pos < stop && (char_class[p[pos]] & C_FIELD))
			pos++;
		if (pos < stop || pos == end)
			return pos;
	}
}

/* field-line = field-name ":" OWS field-value OWS CRLF; the caller has ruled out an empty line and obs-fold. */
static int parse_header_line(struct cursor *c, struct http1_header *h)
{
	const uint8_t *p = c->p;
	size_t start = c->pos, vend;

	while (c->pos < c->end && (char_class[p[c->pos]] & C_TCHAR))
		c->pos++;
	if (c->pos == c->end)
		return STEP_MORE;
	/* Whitespace before ':' is a smuggling vector (RFC 9112 §5.1): reject, never trim. */
	if (c->pos == start || p[c->pos] != ':')
		return ERR_PROTO_HTTP;
	h->name.p = (const char *)p + start;
	h->name.len = c->pos - start;
	c->pos++;

	while (c->pos < c->end && is_ows(p[c->pos]))
		c->pos++;
	start = c->pos;
	c->pos = scan_field_value(p, c->pos, c->end);
	if (c->pos == c->end)
		return STEP_MORE;
	vend = c->pos;
	while (vend > start && is_ows(p[vend - 1]))
		vend--;
	h->value.p = (const char *)p + start;
	h->value.len = vend - start;
	/* Anything but CR/LF here is a control character (NUL included). */
	return parse_eol(c);
}

/* 1*DIGIT up to 2^53; anything else (sign, hex, spaces inside, lists) is refused. */
static int parse_content_length(struct http1_str v, int64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0)
		return ERR_PROTO_HEADER;
	for (size_t i = 0; i < v.len; i++) {
		uint8_t d = (uint8_t)v.p[i];

		if (d < '0' || d > '9')
			return ERR_PROTO_HEADER;
		if (n > (HTTP1_MAX_CONTENT_LENGTH - (d - '0')) / 10)
			return ERR_PROTO_HEADER;
		n = n * 10 + (d - '0');
	}
	*out = (int64_t)n;
	return ERR_OK;
}

/* Connection = #connection-option; unknown options (e.g. "upgrade") are ignored. */
static void parse_connection(struct http1_str v, struct framing *f)
{
	size_t i = 0;

	while (i < v.len) {
		struct http1_str tok;
		size_t s, e;

		while (i < v.len && (v.p[i] == ',' || is_ows((uint8_t)v.p[i])))
			i++;
		s = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows((uint8_t)v.p[e - 1]))
			e--;
		tok.p = v.p + s;
		tok.len = e - s;
		if (IEQ(tok, "close"))
			f->conn_close = 1;
		else if (IEQ(tok, "keep-alive"))
			f->conn_keep_alive = 1;
	}
}

/* Interpret the headers that decide framing and connection reuse, as each one is parsed. */
static int interpret_header(struct http1_request *req, const struct http1_header *h, struct framing *f)
{
	int64_t cl = 0;
	int rc;

	switch (h->name.len) {
	case 4:
		if (IEQ(h->name, "host") && !req->host.p)
			req->host = h->value;
		break;
	case 6:
		/* An HTTP/1.0 client cannot know 100 Continue (RFC 9110 §10.1.1). */
		if (IEQ(h->name, "expect") && req->minor_version == 1 &&
		    IEQ(h->value, "100-continue"))
			req->expect_continue = 1;
		break;
	case 10:
		if (IEQ(h->name, "connection"))
			parse_connection(h->value, f);
		break;
	case 12:
		if (IEQ(h->name, "content-type") && !req->content_type.p)
			req->content_type = h->value;
		break;
	case 14:
		if (!IEQ(h->name, "content-length"))
			break;
		if ((rc = parse_content_length(h->value, &cl)) != ERR_OK)
			return rc;
		/* Repeats are tolerated only when identical (RFC 9110 §8.6). */
		if (f->seen_cl && cl != req->content_length)
			return ERR_PROTO_HEADER;
		f->seen_cl = 1;
		req->content_length = cl;
		break;
	case 17:
		if (!IEQ(h->name, "transfer-encoding"))
			break;
		/*
		 * A second field would stack codings ("chunked, chunked"); HTTP/1.0
		 * has no chunked framing, so a proxy in front may frame it differently
		 * (RFC 9112 §6.1). Both are refused rather than guessed at.
		 */
		if (f->seen_te || req->minor_version == 0 || !IEQ(h->value, "chunked"))
			return ERR_PROTO_HEADER;
		f->seen_te = 1;
		req->chunked = 1;
		break;
	default:
		break;
	}
	return ERR_OK;
}

static void request_reset(struct http1_request *req)
{
	/* Not memset: the header array is 2 KiB and re-parsed on every call. */
	req->method = HTTP1_OTHER;
	req->method_str.p = req->target.p = req->path.p = req->query.p = NULL;
	req->method_str.len = req->target.len = req->path.len = req->query.len = 0;
	req->minor_version = 0;
	req->nheaders = 0;
	req->content_length = -1;
	req->chunked = 0;
	req->keep_alive = 0;
	req->expect_continue = 0;
	req->content_type.p = req->host.p = NULL;
	req->content_type.len = req->host.len = 0;
}

int http1_parse_head(const char *buf, size_t len, size_t max_head, struct http1_request *req)
{
	struct framing f = { 0, 0, 0, 0 };
	struct cursor c;
	int rc;

	/* The result is an int byte count. */
	if (max_head > INT_MAX)
		max_head = INT_MAX;
	c.p = (const uint8_t *)buf;
	c.pos = 0;
	c.end = MIN(len, max_head);
	request_reset(req);

	/* Ignore empty lines before the request line: clients may send CRLF after a body (RFC 9112 §2.2). */
	while (c.pos < c.end) {
		if (c.p[c.pos] == '\n') {
			c.pos++;
		} else if (c.p[c.pos] == '\r') {
			if (c.end - c.pos < 2)
				goto more;
			if (c.p[c.pos + 1] != '\n')
				return ERR_PROTO_HTTP;
			c.pos += 2;
		} else {
			break;
		}
	}

	rc = parse_request_line(&c, req);
	if (rc == STEP_MORE)
		goto more;
	if (rc < 0)
		return rc;

	for (;;) {
		struct http1_header *h;
		uint8_t b;

		if (c.pos == c.end)
			goto more;
		b = c.p[c.pos];
		if (b == '\r' || b == '\n') {
			rc = parse_eol(&c);
			if (rc == STEP_MORE)
				goto more;
			if (rc < 0)
				return rc;
			break;
		}
		/* obs-fold, or whitespace between the request line and the first field. */
		if (is_ows(b))
			return ERR_PROTO_HTTP;
		if (req->nheaders == HTTP1_MAX_HEADERS)
			return ERR_PROTO_TOO_LARGE;
		h = &req->headers[req->nheaders];
		rc = parse_header_line(&c, h);
		if (rc == STEP_MORE)
			goto more;
		if (rc < 0)
			return rc;
		req->nheaders++;
		if ((rc = interpret_header(req, h, &f)) != ERR_OK)
			return rc;
	}

	/* Both framings at once is the classic request-smuggling setup (RFC 9112 §6.3). */
	if (req->chunked && f.seen_cl)
		return ERR_PROTO_HEADER;
	if (req->minor_version == 1)
		req->keep_alive = !f.conn_close;
	else
		req->keep_alive = f.conn_keep_alive && !f.conn_close;
	return (int)c.pos;

more:
	/* Whatever comes next can only make the head longer than max_head. */
	return len >= max_head ? ERR_PROTO_TOO_LARGE : 0;
}

/* Chunked decoder states; the zero value is the start of a chunk-size line. */
enum {
	CH_SIZE = 0,    /* hex digits of chunk-size */
	CH_SIZE_WS,     /* whitespace after chunk-size: only ';' or the line end may follow */
	CH_EXT,         /* chunk extensions up to the end of the line */
	CH_SIZE_LF,     /* CR seen after the size line */
	CH_DATA,        /* chunk data, `remaining` bytes left */
	CH_DATA_CR,     /* CRLF that must follow the data */
	CH_DATA_LF,
	CH_TRAILER,     /* start of a trailer line, or the final empty line */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_END_LF,      /* CR of the final empty line seen */
	CH_DONE,
	CH_FAILED,
};

static int hex_value(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = ascii_lower(b);
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

/* The size line is complete: decide between data and trailers, and refuse a chunk the writer could never hold. */
static int chunk_size_done(struct http1_chunked *c, const struct buf_writer *out)
{
	c->line_len = 0;
	if (c->remaining == 0) {
		c->state = CH_TRAILER;
		return ERR_OK;
	}
	if (out->err)
		return out->err;
	if (c->remaining > out->max - out->len)
		return ERR_PROTO_TOO_LARGE;
	c->state = CH_DATA;
	return ERR_OK;
}

/* One byte of a size line, data delimiter or trailer; data itself is copied in bulk by the caller. */
static int chunk_step(struct http1_chunked *c, uint8_t b, const struct buf_writer *out)
{
	int v;

	switch (c->state) {
	case CH_SIZE:
		if ((v = hex_value(b)) >= 0) {
			if (c->line_len == CHUNK_MAX_HEX_DIGITS)
				return ERR_PROTO_HTTP;
			c->remaining = (c->remaining << 4) | (uint64_t)v;
			c->line_len++;
			return ERR_OK;
		}
		if (c->line_len == 0)
			return ERR_PROTO_HTTP;
		if (b == ';') {
			c->state = CH_EXT;
			c->line_len++;
			return ERR_OK;
		}
		if (is_ows(b)) {
			c->state = CH_SIZE_WS;
			c->line_len++;
			return ERR_OK;
		}
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return ERR_OK;
		}
		if (b == '\n')
			return chunk_size_done(c, out);
		return ERR_PROTO_HTTP;
	case CH_SIZE_WS:
		/* BWS is allowed before ';' (RFC 9112 §7.1.1), but "5 x" is not a size. */
		if (++c->line_len > CHUNK_MAX_LINE)
			return ERR_PROTO_HTTP;
		if (is_ows(b))
			return ERR_OK;
		if (b == ';') {
			c->state = CH_EXT;
			return ERR_OK;
		}
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return ERR_OK;
		}
		if (b == '\n')
			return chunk_size_done(c, out);
		return ERR_PROTO_HTTP;
	case CH_EXT:
		/* Extensions are ignored but bounded, and may not smuggle control characters. */
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return ERR_OK;
		}
		if (b == '\n')
			return chunk_size_done(c, out);
		if (!(char_class[b] & C_FIELD) || ++c->line_len > CHUNK_MAX_LINE)
			return ERR_PROTO_HTTP;
		return ERR_OK;
	case CH_SIZE_LF:
		if (b != '\n')
			return ERR_PROTO_HTTP;
		return chunk_size_done(c, out);
	case CH_DATA_CR:
		if (b == '\r') {
			c->state = CH_DATA_LF;
			return ERR_OK;
		}
		if (b != '\n')
			return ERR_PROTO_HTTP;
		c->state = CH_SIZE;
		return ERR_OK;
	case CH_DATA_LF:
		if (b != '\n')
			return ERR_PROTO_HTTP;
		c->state = CH_SIZE;
		return ERR_OK;
	case CH_TRAILER:
		if (b == '\r') {
			c->state = CH_END_LF;
			return ERR_OK;
		}
		if (b == '\n') {
			c->state = CH_DONE;
			return ERR_OK;
		}
		if (!(char_class[b] & C_TCHAR))
			return ERR_PROTO_HTTP;
		c->state = CH_TR_NAME;
		break;
	case CH_TR_NAME:
		if (b == ':') {
			c->state = CH_TR_VALUE;
			break;
		}
		if (!(char_class[b] & C_TCHAR))
			return ERR_PROTO_HTTP;
		break;
	case CH_TR_VALUE:
		if (b == '\r') {
			c->state = CH_TR_LF;
			break;
		}
		if (b == '\n') {
			c->state = CH_TRAILER;
			break;
		}
		if (!(char_class[b] & C_FIELD))
			return ERR_PROTO_HTTP;
		break;
	case CH_TR_LF:
		if (b != '\n')
			return ERR_PROTO_HTTP;
		c->state = CH_TRAILER;
		break;
	case CH_END_LF:
		if (b != '\n')
			return ERR_PROTO_HTTP;
		c->state = CH_DONE;
		return ERR_OK;
	default:
		return ERR_PROTO_HTTP;
	}
	/* Only trailer field bytes get here; the final empty line is not counted. */
	if (++c->trailer_bytes > CHUNK_MAX_TRAILERS)
		return ERR_PROTO_HTTP;
	return ERR_OK;
}

int http1_chunked_feed(struct http1_chunked *c, const uint8_t *in, size_t len, struct buf_writer *out,
		       size_t *consumed)
{
	size_t i = 0;
	int rc = ERR_OK;

	*consumed = 0;
	if (c->state == CH_DONE)
		return 1;
	if (c->state == CH_FAILED)
		return ERR_PROTO_HTTP;
	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = len - i;

			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			buf_put(out, in + i, n);
			if ((rc = buf_writer_status(out)) != ERR_OK)
				goto fail;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if ((rc = chunk_step(c, in[i], out)) != ERR_OK)
			goto fail;
		i++;
		if (c->state == CH_DONE) {
			*consumed = i;
			return 1;
		}
	}
	*consumed = i;
	return 0;

fail:
	c->state = CH_FAILED;
	*consumed = i;
	return rc;
}

const char *http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
