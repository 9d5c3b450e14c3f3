/* SPDX-License-Identifier: Apache-2.0 */
/* Arena allocator: chunks from malloc, bump allocation inside, budget on the total. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;   /* usable bytes in data[] */
	size_t pos;
	size_t total;  /* bytes taken from malloc, header included */
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

void arena_init(struct arena *a, size_t budget, size_t chunk_size)
{
	memset(a, 0, sizeof(*a));
	a->budget = budget;
	a->chunk_size = chunk_size ? chunk_size : 4096;
}

static void chunk_free(struct arena *a, struct arena_chunk *c)
{
	if (a->wipe)
		secure_wipe(c->data, c->size);
	a->used -= c->total;
	free(c);
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c, *keep = NULL;

	/*
	 * Keep the oldest default-size chunk: it is the one most reused. One-off
	 * large chunks sit behind the head, so the end of the list may be one of
	 * them; keeping it would pin a single big request's memory for good.
	 */
	for (c = a->head; c; c = c->next)
		if (c->size == a->chunk_size)
			keep = c;
	c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		if (c != keep)
			chunk_free(a, c);
		c = next;
	}
	if (keep) {
		if (a->wipe)
			secure_wipe(keep->data, keep->pos);
		keep->pos = 0;
		keep->next = NULL;
	}
	a->head = keep;
	a->exhausted = 0;
}

void arena_fini(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;
		chunk_free(a, c);
		c = next;
	}
	a->head = NULL;
	a->exhausted = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < n) {
		a->exhausted = 1;
		return NULL;
	}
	if (c && c->size - c->pos >= need) {
		void *p = c->data + c->pos;
		c->pos += need;
		return p;
	}
	size_t size = need > a->chunk_size ? need : a->chunk_size;
	size_t total = sizeof(*c) + size;
	if (total < size || a->used + total > a->budget || a->used + total < a->used) {
		a->exhausted = 1;
		return NULL;
	}
	c = malloc(total);
	if (!c)
		return NULL;
	c->size = size;
	c->pos = need;
	c->total = total;
	a->used += total;
	/* A one-off large chunk goes behind the current one so the current keeps serving small requests. */
	if (a->head && size > a->chunk_size && a->head->size - a->head->pos > 64) {
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	if (p)
		memset(p, 0, n);
	return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
	unsigned char *q;

	if (n == SIZE_MAX)
		return NULL;
	q = arena_alloc(a, n + 1);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	return q;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = arena_alloc(a, (size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

err_t arena_err(const struct arena *a)
{
	return a->exhausted ? ERR_BUDGET : ERR_NOMEM;
}
