/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds-checked reader for untrusted bytes, and a growable writer with a hard cap. */
#ifndef DS_BUF_H
#define DS_BUF_H

#include <stdarg.h>
#include "base.h"
#include "err.h"

/*
 * A reader is a view: it never owns the bytes. Every get checks what
 * remains; a failed get leaves the position unchanged and returns
 * ERR_PROTO_TRUNCATED (or ERR_PROTO_TOO_LARGE when a length passes its hard
 * maximum). Sub-readers are views of the parent's bytes.
 */
struct buf_reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static inline void buf_reader_init(struct buf_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

static inline size_t buf_remaining(const struct buf_reader *r)
{
	return r->len - r->pos;
}

/* Pointer to the unread bytes (borrowed from the underlying buffer). */
static inline const uint8_t *buf_cursor(const struct buf_reader *r)
{
	return r->p + r->pos;
}

err_t buf_get_u8(struct buf_reader *r, uint8_t *v) MUST_CHECK;
err_t buf_get_u16le(struct buf_reader *r, uint16_t *v) MUST_CHECK;
err_t buf_get_u16be(struct buf_reader *r, uint16_t *v) MUST_CHECK;
err_t buf_get_u32le(struct buf_reader *r, uint32_t *v) MUST_CHECK;
err_t buf_get_u32be(struct buf_reader *r, uint32_t *v) MUST_CHECK;
err_t buf_get_u64le(struct buf_reader *r, uint64_t *v) MUST_CHECK;
err_t buf_get_u64be(struct buf_reader *r, uint64_t *v) MUST_CHECK;
/* Copy exactly n bytes into out. */
err_t buf_get_copy(struct buf_reader *r, void *out, size_t n) MUST_CHECK;
/* Borrow n bytes in place: *out points into the reader's buffer. */
err_t buf_get_view(struct buf_reader *r, size_t n, const uint8_t **out) MUST_CHECK;
/* Same, but refuse n > max with ERR_PROTO_TOO_LARGE before looking at what remains. */
err_t buf_get_view_max(struct buf_reader *r, size_t n, size_t max, const uint8_t **out) MUST_CHECK;
err_t buf_skip(struct buf_reader *r, size_t n) MUST_CHECK;
/* A sub-reader over the next n bytes; the parent advances past them. */
err_t buf_get_sub(struct buf_reader *r, size_t n, struct buf_reader *sub) MUST_CHECK;
/* ERR_PROTO_TRAILING unless everything was read. */
err_t buf_expect_end(const struct buf_reader *r) MUST_CHECK;

/*
 * A writer appends to memory it owns (malloc) or to a fixed buffer the
 * caller lends. Growth stops at `max`. Errors are sticky: after the first
 * failure every put is a no-op and buf_writer_status reports the error, so a
 * sequence of puts needs one check at the end.
 */
struct buf_writer {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
	err_t err;
	int fixed;   /* p is borrowed; never realloc or free it */
	int wipe;    /* wipe on grow and free (the buffer holds secrets) */
};

void buf_writer_init(struct buf_writer *w, size_t max);
void buf_writer_init_fixed(struct buf_writer *w, void *mem, size_t cap);
/* Frees owned memory (wiping it if w->wipe). */
void buf_writer_free(struct buf_writer *w);
/* Forget the contents, keep the memory. */
static inline void buf_writer_clear(struct buf_writer *w)
{
	w->len = 0;
	w->err = ERR_OK;
}
err_t buf_writer_status(const struct buf_writer *w) MUST_CHECK;

void buf_put(struct buf_writer *w, const void *p, size_t n);
void buf_put_u8(struct buf_writer *w, uint8_t v);
void buf_put_u16le(struct buf_writer *w, uint16_t v);
void buf_put_u16be(struct buf_writer *w, uint16_t v);
void buf_put_u32le(struct buf_writer *w, uint32_t v);
void buf_put_u32be(struct buf_writer *w, uint32_t v);
void buf_put_u64le(struct buf_writer *w, uint64_t v);
void buf_put_u64be(struct buf_writer *w, uint64_t v);
void buf_put_str(struct buf_writer *w, const char *s);
void buf_printf(struct buf_writer *w, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(struct buf_writer *w, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Room for n more bytes; returns where to write them (then call buf_commit), or NULL. */
uint8_t *buf_reserve(struct buf_writer *w, size_t n);
void buf_commit(struct buf_writer *w, size_t n);
/* NUL-terminate without counting the NUL in len; NULL on error. Borrowed. */
const char *buf_cstr(struct buf_writer *w);
/* Hand the owned buffer to the caller (caller frees); the writer is reset. Not for fixed writers. */
uint8_t *buf_take(struct buf_writer *w, size_t *len);

#endif
