/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator for request-scoped memory, with a hard byte budget. */
#ifndef DS_ARENA_H
#define DS_ARENA_H

#include "base.h"
#include "err.h"

struct arena_chunk;

/*
 * Everything allocated from an arena is freed at once by arena_reset or
 * arena_fini. `budget` caps the bytes taken from the system (chunk headers
 * included); an allocation that would pass it fails and sets `exhausted`, so
 * a caller that only sees NULL can still tell "too big" from "no memory".
 */
struct arena {
	struct arena_chunk *head;   /* current chunk; older chunks follow */
	size_t budget;              /* hard cap on bytes taken from malloc */
	size_t used;                /* bytes taken from malloc so far */
	size_t chunk_size;          /* default chunk size */
	int exhausted;              /* set when an allocation hit the budget */
	int wipe;                   /* wipe chunks before returning them (secrets) */
};

void arena_init(struct arena *a, size_t budget, size_t chunk_size);
/* Free all but the first chunk and make the whole arena available again. */
void arena_reset(struct arena *a);
/* Free every chunk. The struct itself is the caller's. */
void arena_fini(struct arena *a);

/* 16-byte aligned, uninitialised. NULL when the budget or malloc fails. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
/* Copies; the result is owned by the arena. memdup of n bytes adds a NUL after them. */
void *arena_memdup(struct arena *a, const void *p, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ERR_BUDGET when the budget was hit, else ERR_NOMEM; for callers that got NULL. */
err_t arena_err(const struct arena *a) MUST_CHECK;

#endif
