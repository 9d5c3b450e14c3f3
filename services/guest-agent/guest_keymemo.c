/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GetKey memo. A booted agent's GetKey is a pure function of
 * (algorithm, path, purpose): the app key is fixed for the life of the
 * process, the derivation is HKDF, and the signature is RFC 6979
 * deterministic (libsecp256k1's default nonce). So the answer to a repeated
 * request is byte-for-byte the one computed the first time, and apps do ask
 * again: for their wallet key on every transaction, for a per-user key on
 * every request. The two secp256k1 scalar multiplications of a miss cost
 * ~100 µs; a hit costs a hash and a compare.
 *
 * Bounded: MEMO_SETS x MEMO_WAYS entries, set-associative with LRU inside a
 * set; requests whose path + purpose exceed MEMO_TEXT_MAX bytes are not
 * memoised. The entries are derived secret keys, which the agent can derive
 * again from the app key it holds anyway, so the memo adds no secret the
 * process did not have; they live in one mapping excluded from core dumps,
 * locked in memory when the limit allows, and wiped when the agent stops.
 * Loop thread only (GetKey runs on the event loop).
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/rand.h>

#include "guest_keymemo.h"

#define MEMO_SETS 64
#define MEMO_WAYS 4
#define MEMO_TEXT_MAX 240

struct memo_entry {
	uint64_t hash;                   /* 0: empty */
	uint64_t used;                   /* the memo clock at the last hit */
	uint16_t path_len, purpose_len;
	uint8_t alg;
	struct dstack_derived_key dk;
	char text[MEMO_TEXT_MAX];        /* path then purpose */
};

struct guest_keymemo {
	uint64_t seed;
	uint64_t clock;
	struct guest_keymemo_stats stats;
	struct memo_entry e[MEMO_SETS * MEMO_WAYS];
};

struct guest_keymemo *guest_keymemo_new(void)
{
	struct guest_keymemo *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, sizeof(*m), MADV_DONTDUMP);
	(void)mlock(m, sizeof(*m)); /* best effort: RLIMIT_MEMLOCK may be small */
	if (RAND_bytes((unsigned char *)&m->seed, sizeof(m->seed)) != 1) {
		munmap(m, sizeof(*m));
		return NULL;
	}
	m->seed |= 1;
	return m;
}

void guest_keymemo_free(struct guest_keymemo *m)
{
	if (!m)
		return;
	secure_wipe(m, sizeof(*m));
	(void)munlock(m, sizeof(*m));
	munmap(m, sizeof(*m));
}

/*
 * FNV-1a over (alg, lengths, text) from a per-process random start. It only
 * spreads entries over the sets; lookups compare the text exactly.
 */
static uint64_t memo_hash(const struct guest_keymemo *m, unsigned alg, const char *path, size_t plen,
			  const char *purpose, size_t qlen)
{
	uint64_t h = m->seed;
	const uint8_t head[5] = { (uint8_t)alg, (uint8_t)plen, (uint8_t)(plen >> 8), (uint8_t)qlen, (uint8_t)(qlen >> 8) };

	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < plen; i++)
		h = (h ^ (uint8_t)path[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < qlen; i++)
		h = (h ^ (uint8_t)purpose[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

static int memo_fits(size_t plen, size_t qlen)
{
	return plen <= MEMO_TEXT_MAX && qlen <= MEMO_TEXT_MAX - plen;
}

static struct memo_entry *memo_set(struct guest_keymemo *m, uint64_t h)
{
	return &m->e[((h >> 32) % MEMO_SETS) * MEMO_WAYS];
}

int guest_keymemo_get(struct guest_keymemo *m, unsigned alg, const char *path, size_t plen, const char *purpose,
		      size_t qlen, struct dstack_derived_key *out)
{
	struct memo_entry *set;
	uint64_t h;

	if (!m || !memo_fits(plen, qlen))
		return 0;
	h = memo_hash(m, alg, path, plen, purpose, qlen);
	set = memo_set(m, h);
	for (int w = 0; w < MEMO_WAYS; w++) {
		struct memo_entry *e = &set[w];

		if (e->hash == h && e->alg == alg && e->path_len == plen && e->purpose_len == qlen &&
		    memcmp(e->text, path, plen) == 0 && memcmp(e->text + plen, purpose, qlen) == 0) {
			e->used = ++m->clock;
			*out = e->dk;
			m->stats.hits++;
			return 1;
		}
	}
	m->stats.misses++;
	return 0;
}

void guest_keymemo_put(struct guest_keymemo *m, unsigned alg, const char *path, size_t plen, const char *purpose,
		       size_t qlen, const struct dstack_derived_key *dk)
{
	struct memo_entry *set, *victim;
	uint64_t h;

	if (!m || !memo_fits(plen, qlen))
		return;
	h = memo_hash(m, alg, path, plen, purpose, qlen);
	set = memo_set(m, h);
	victim = &set[0];
	for (int w = 0; w < MEMO_WAYS; w++) {
		if (!set[w].hash) {
			victim = &set[w];
			break;
		}
		if (set[w].used < victim->used)
			victim = &set[w];
	}
	if (victim->hash)
		m->stats.evictions++;
	secure_wipe(victim, sizeof(*victim));
	victim->hash = h;
	victim->used = ++m->clock;
	victim->alg = (uint8_t)alg;
	victim->path_len = (uint16_t)plen;
	victim->purpose_len = (uint16_t)qlen;
	victim->dk = *dk;
	if (plen)
		memcpy(victim->text, path, plen);
	if (qlen)
		memcpy(victim->text + plen, purpose, qlen);
}

struct guest_keymemo_stats guest_keymemo_stats(const struct guest_keymemo *m)
{
	struct guest_keymemo_stats none = { 0 };

	return m ? m->stats : none;
}
