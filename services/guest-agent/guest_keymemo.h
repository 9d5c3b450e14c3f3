/* SPDX-License-Identifier: Apache-2.0 */
/* The GetKey memo: bounded, set-associative, answers repeated GetKey requests without redoing the secp256k1 work. */
#ifndef DS_GUEST_KEYMEMO_H
#define DS_GUEST_KEYMEMO_H

#include <stddef.h>
#include <stdint.h>

#include "dstack_keys.h"

struct guest_keymemo;

struct guest_keymemo_stats {
	uint64_t hits, misses, evictions;
};

/* NULL when the mapping cannot be made (the agent then derives every time). */
struct guest_keymemo *guest_keymemo_new(void);
/* Wipes every entry. NULL is a no-op. */
void guest_keymemo_free(struct guest_keymemo *m);
/*
 * 1 and *out = the memoised answer for (alg, path, purpose); 0 on a miss
 * (*out untouched). alg is the caller's algorithm number; lengths are bytes.
 */
int guest_keymemo_get(struct guest_keymemo *m, unsigned alg, const char *path, size_t plen, const char *purpose,
		      size_t qlen, struct dstack_derived_key *out);
/* Remember dk for (alg, path, purpose), evicting the set's least recently used entry when full. */
void guest_keymemo_put(struct guest_keymemo *m, unsigned alg, const char *path, size_t plen, const char *purpose,
		       size_t qlen, const struct dstack_derived_key *dk);
struct guest_keymemo_stats guest_keymemo_stats(const struct guest_keymemo *m);

#endif
