/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds-checked reader and capped writer. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static err_t need(const struct buf_reader *r, size_t n)
{
	return buf_remaining(r) >= n ? ERR_OK : ERR_PROTO_TRUNCATED;
}

err_t buf_get_u8(struct buf_reader *r, uint8_t *v)
{
	if (need(r, 1))
		return ERR_PROTO_TRUNCATED;
	*v = r->p[r->pos++];
	return ERR_OK;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

#define GETTER(name, type, n, load)                             \
	err_t name(struct buf_reader *r, type *v)               \
	{                                                       \
		if (need(r, n))                                 \
			return ERR_PROTO_TRUNCATED;             \
		*v = (type)load(r->p + r->pos, n);              \
		r->pos += n;                                    \
		return ERR_OK;                                  \
	}
GETTER(buf_get_u16le, uint16_t, 2, load_le)
GETTER(buf_get_u16be, uint16_t, 2, load_be)
GETTER(buf_get_u32le, uint32_t, 4, load_le)
GETTER(buf_get_u32be, uint32_t, 4, load_be)
GETTER(buf_get_u64le, uint64_t, 8, load_le)
GETTER(buf_get_u64be, uint64_t, 8, load_be)
#undef GETTER

err_t buf_get_copy(struct buf_reader *r, void *out, size_t n)
{
	if (need(r, n))
		return ERR_PROTO_TRUNCATED;
	if (n)
		memcpy(out, r->p + r->pos, n);
	r->pos += n;
	return ERR_OK;
}

err_t buf_get_view(struct buf_reader *r, size_t n, const uint8_t **out)
{
	if (need(r, n))
		return ERR_PROTO_TRUNCATED;
	*out = r->p + r->pos;
	r->pos += n;
	return ERR_OK;
}

err_t buf_get_view_max(struct buf_reader *r, size_t n, size_t max, const uint8_t **out)
{
	if (n > max)
		return ERR_PROTO_TOO_LARGE;
	return buf_get_view(r, n, out);
}

err_t buf_skip(struct buf_reader *r, size_t n)
{
	if (need(r, n))
		return ERR_PROTO_TRUNCATED;
	r->pos += n;
	return ERR_OK;
}

err_t buf_get_sub(struct buf_reader *r, size_t n, struct buf_reader *sub)
{
	if (need(r, n))
		return ERR_PROTO_TRUNCATED;
	buf_reader_init(sub, r->p + r->pos, n);
	r->pos += n;
	return ERR_OK;
}

err_t buf_expect_end(const struct buf_reader *r)
{
	return buf_remaining(r) ? ERR_PROTO_TRAILING : ERR_OK;
}

void buf_writer_init(struct buf_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void buf_writer_init_fixed(struct buf_writer *w, void *mem, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->p = mem;
	w->cap = cap;
	w->max = cap;
	w->fixed = 1;
}

void buf_writer_free(struct buf_writer *w)
{
	if (!w->fixed) {
		if (w->wipe)
			secure_wipe(w->p, w->cap);
		free(w->p);
	}
	w->p = NULL;
	w->len = w->cap = 0;
}

err_t buf_writer_status(const struct buf_writer *w)
{
	return w->err;
}

/* Make room for n more bytes (+1 for an optional NUL) within max. */
static int grow(struct buf_writer *w, size_t n)
{
	size_t want, ncap;
	uint8_t *np;

	if (w->err)
		return 0;
	/* len + n + 1 below must not wrap, even for a writer created with max = SIZE_MAX. */
	if (n > w->max || w->len > w->max - n || w->len + n == SIZE_MAX) {
		w->err = ERR_PROTO_TOO_LARGE;
		return 0;
	}
	want = w->len + n + 1;
	if (want <= w->cap)
		return 1;
	if (w->fixed) {
		if (w->len + n <= w->cap)
			return 1;
		w->err = ERR_PROTO_TOO_LARGE;
		return 0;
	}
	ncap = w->cap ? w->cap : 256;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	if (w->max < SIZE_MAX && ncap > w->max + 1)
		ncap = w->max + 1;
	if (w->wipe) {
		np = malloc(ncap);
		if (np && w->p) {
			memcpy(np, w->p, w->len);
			secure_wipe(w->p, w->cap);
			free(w->p);
		}
	} else {
		np = realloc(w->p, ncap);
	}
	if (!np) {
		w->err = ERR_NOMEM;
		return 0;
	}
	w->p = np;
	w->cap = ncap;
	return 1;
}

void buf_put(struct buf_writer *w, const void *p, size_t n)
{
	if (!grow(w, n))
		return;
	if (n)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

void buf_put_u8(struct buf_writer *w, uint8_t v)
{
	buf_put(w, &v, 1);
}

static void put_le(struct buf_writer *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	buf_put(w, b, n);
}

static void put_be(struct buf_writer *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[n - 1 - i] = (uint8_t)(v >> (8 * i));
	buf_put(w, b, n);
}

void buf_put_u16le(struct buf_writer *w, uint16_t v) { put_le(w, v, 2); }
void buf_put_u16be(struct buf_writer *w, uint16_t v) { put_be(w, v, 2); }
void buf_put_u32le(struct buf_writer *w, uint32_t v) { put_le(w, v, 4); }
void buf_put_u32be(struct buf_writer *w, uint32_t v) { put_be(w, v, 4); }
void buf_put_u64le(struct buf_writer *w, uint64_t v) { put_le(w, v, 8); }
void buf_put_u64be(struct buf_writer *w, uint64_t v) { put_be(w, v, 8); }

void buf_put_str(struct buf_writer *w, const char *s)
{
	buf_put(w, s, strlen(s));
}

void buf_vprintf(struct buf_writer *w, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (w->err)
		return;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		w->err = ERR_INTERNAL;
		return;
	}
	if (!grow(w, (size_t)n))
		return;
	if (w->cap - w->len > (size_t)n) {
		vsnprintf((char *)w->p + w->len, w->cap - w->len, fmt, ap);
	} else {
		/* A fixed writer filled to its last byte has no room for vsnprintf's NUL: format aside. */
		char *tmp = malloc((size_t)n + 1);
		if (!tmp) {
			w->err = ERR_NOMEM;
			return;
		}
		vsnprintf(tmp, (size_t)n + 1, fmt, ap);
		memcpy(w->p + w->len, tmp, (size_t)n);
		if (w->wipe)
			secure_wipe(tmp, (size_t)n + 1);
		free(tmp);
	}
	w->len += (size_t)n;
}

void buf_printf(struct buf_writer *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(w, fmt, ap);
	va_end(ap);
}

uint8_t *buf_reserve(struct buf_writer *w, size_t n)
{
	if (!grow(w, n))
		return NULL;
	return w->p + w->len;
}

void buf_commit(struct buf_writer *w, size_t n)
{
	if (!w->err && n <= w->cap - w->len && n <= w->max - w->len)
		w->len += n;
}

const char *buf_cstr(struct buf_writer *w)
{
	if (!grow(w, 0))
		return NULL;
	if (w->len >= w->cap) {
		w->err = ERR_PROTO_TOO_LARGE;
		return NULL;
	}
	w->p[w->len] = 0;
	return (const char *)w->p;
}

uint8_t *buf_take(struct buf_writer *w, size_t *len)
{
	uint8_t *p = w->p;

	if (w->fixed || w->err)
		return NULL;
	*len = w->len;
	w->p = NULL;
	w->len = w->cap = 0;
	return p;
}
