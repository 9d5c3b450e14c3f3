/* SPDX-License-Identifier: Apache-2.0 */
/* Policy builder (keyed open-addressing sets), immutable sorted snapshots, and the boot decision. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "registry_policy.h"

/* ---------------------------------------------------------------------------------------------- */
/* A set of fixed-size entries keyed by their first key_len bytes: linear probing, backward-shift */
/* deletion (no tombstones), load <= 3/4, keyed hash (keys are chosen by governance, and anyone   */
/* may register an app address: a seed the attacker does not know keeps probes short).           */

struct kset {
	uint8_t *slots;     /* cap * esize */
	uint8_t *used;      /* cap flags */
	size_t cap;         /* 0 or a power of two */
	size_t n;
	uint16_t esize, key_len;
};

#define KSET_MIN_CAP 8u

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static uint64_t key_hash(uint64_t seed, const uint8_t *k, size_t len)
{
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, k, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
		k += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;

		memcpy(&w, k, len);
		h = mix64(h ^ w);
	}
	return mix64(h);
}

static void kset_init(struct kset *s, size_t esize, size_t key_len)
{
	memset(s, 0, sizeof(*s));
	s->esize = (uint16_t)esize;
	s->key_len = (uint16_t)key_len;
}

static void kset_fini(struct kset *s)
{
	free(s->slots);
	free(s->used);
	s->slots = s->used = NULL;
	s->cap = s->n = 0;
}

static size_t kset_mem(const struct kset *s)
{
	return s->cap * ((size_t)s->esize + 1);
}

static uint8_t *kset_slot(const struct kset *s, size_t i)
{
	return s->slots + i * s->esize;
}

/* Index of the entry with key k, or SIZE_MAX. */
static size_t kset_find(const struct kset *s, uint64_t seed, const uint8_t *k)
{
	size_t mask, i;

	if (!s->cap)
		return SIZE_MAX;
	mask = s->cap - 1;
	for (i = key_hash(seed, k, s->key_len) & mask; s->used[i]; i = (i + 1) & mask)
		if (memcmp(kset_slot(s, i), k, s->key_len) == 0)
			return i;
	return SIZE_MAX;
}

static err_t kset_grow(struct kset *s, uint64_t seed)
{
	struct kset old = *s;
	size_t ncap = s->cap ? s->cap * 2 : KSET_MIN_CAP;

	s->slots = malloc(ncap * s->esize);
	s->used = calloc(ncap, 1);
	if (!s->slots || !s->used) {
		free(s->slots);
		free(s->used);
		*s = old;
		return ERR_NOMEM;
	}
	s->cap = ncap;
	s->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		size_t j;

		if (!old.used[i])
			continue;
		for (j = key_hash(seed, kset_slot(&old, i), s->key_len) & (ncap - 1); s->used[j]; j = (j + 1) & (ncap - 1))
			;
		memcpy(kset_slot(s, j), kset_slot(&old, i), s->esize);
		s->used[j] = 1;
		s->n++;
	}
	kset_fini(&old);
	return ERR_OK;
}

/*
 * The entry for key k: existing (*created = 0) or a new one whose key is set
 * and the rest zeroed (*created = 1). The pointer is valid until the next
 * insert or remove.
 */
static err_t kset_upsert(struct kset *s, uint64_t seed, const uint8_t *k, uint8_t **out, int *created)
{
	size_t i, mask;

	if ((i = kset_find(s, seed, k)) != SIZE_MAX) {
		*out = kset_slot(s, i);
		*created = 0;
		return ERR_OK;
	}
	if ((s->n + 1) * 4 > s->cap * 3) {
		err_t err = kset_grow(s, seed);

		if (err != ERR_OK)
			return err;
	}
	mask = s->cap - 1;
	for (i = key_hash(seed, k, s->key_len) & mask; s->used[i]; i = (i + 1) & mask)
		;
	memset(kset_slot(s, i), 0, s->esize);
	memcpy(kset_slot(s, i), k, s->key_len);
	s->used[i] = 1;
	s->n++;
	*out = kset_slot(s, i);
	*created = 1;
	return ERR_OK;
}

/* Remove key k; 1 when it was present. Later entries of the probe run shift back into the hole. */
static int kset_remove(struct kset *s, uint64_t seed, const uint8_t *k)
{
	size_t i = kset_find(s, seed, k), j, mask;

	if (i == SIZE_MAX)
		return 0;
	mask = s->cap - 1;
	s->used[i] = 0;
	s->n--;
	for (j = (i + 1) & mask; s->used[j]; j = (j + 1) & mask) {
		size_t home = key_hash(seed, kset_slot(s, j), s->key_len) & mask;

		/* Move j into the hole i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			memcpy(kset_slot(s, i), kset_slot(s, j), s->esize);
			s->used[i] = 1;
			s->used[j] = 0;
			i = j;
		}
	}
	return 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* The builder                                                                                    */

struct registry_app_state {
	struct registry_state *st;
	uint8_t id[REGISTRY_ADDR_LEN];
	uint8_t owner[REGISTRY_ADDR_LEN];
	uint32_t flags, version;
	uint64_t upgrade_delay, upgrade_delay_effective_at;
	uint64_t registered_block, updated_block;
	struct kset hashes;   /* struct registry_hash_entry */
	struct kset devices;  /* struct registry_key32 */
};

struct str_list {
	char **items;
	size_t n, cap;
};

struct registry_state {
	enum registry_source source;
	uint64_t seed;
	struct kset apps;      /* 20-byte id + pointer to registry_app_state */
	struct kset sets[REGISTRY_SET_COUNT];
	size_t entries, max_entries;
	char *gateway_app_id;
	uint64_t chain_id;
	uint8_t kms_contract[REGISTRY_ADDR_LEN];
	uint8_t app_implementation[REGISTRY_ADDR_LEN];
	int kms_allow_any_device;
	struct str_list tcb_statuses, advisory_ids;
	struct registry_bytes kms_info[4];
};

#define APP_ENTRY_SIZE (REGISTRY_ADDR_LEN + 4 + sizeof(void *))
#define APP_PTR_OFF (REGISTRY_ADDR_LEN + 4)

static struct registry_app_state *app_at(const uint8_t *slot)
{
	struct registry_app_state *a;

	memcpy(&a, slot + APP_PTR_OFF, sizeof(a));
	return a;
}

struct registry_state *registry_state_new(enum registry_source source)
{
	struct registry_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->source = source;
	if (getrandom(&st->seed, sizeof(st->seed), 0) != (ssize_t)sizeof(st->seed))
		st->seed = mono_ns() ^ (uint64_t)(uintptr_t)st;
	kset_init(&st->apps, APP_ENTRY_SIZE, REGISTRY_ADDR_LEN);
	for (size_t i = 0; i < REGISTRY_SET_COUNT; i++)
		kset_init(&st->sets[i], REGISTRY_HASH_LEN, REGISTRY_HASH_LEN);
	st->max_entries = 16u << 20;
	return st;
}

static void str_list_free(struct str_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void registry_state_free(struct registry_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->apps.cap; i++) {
		struct registry_app_state *a;

		if (!st->apps.used[i])
			continue;
		a = app_at(kset_slot(&st->apps, i));
		kset_fini(&a->hashes);
		kset_fini(&a->devices);
		free(a);
	}
	kset_fini(&st->apps);
	for (size_t i = 0; i < REGISTRY_SET_COUNT; i++)
		kset_fini(&st->sets[i]);
	free(st->gateway_app_id);
	str_list_free(&st->tcb_statuses);
	str_list_free(&st->advisory_ids);
	for (size_t i = 0; i < 4; i++)
		free((void *)(uintptr_t)st->kms_info[i].p);
	free(st);
}

size_t registry_state_mem_bytes(const struct registry_state *st)
{
	size_t m = sizeof(*st) + kset_mem(&st->apps);

	for (size_t i = 0; i < st->apps.cap; i++) {
		const struct registry_app_state *a;

		if (!st->apps.used[i])
			continue;
		a = app_at(kset_slot(&st->apps, i));
		m += sizeof(*a) + kset_mem(&a->hashes) + kset_mem(&a->devices);
	}
	for (size_t i = 0; i < REGISTRY_SET_COUNT; i++)
		m += kset_mem(&st->sets[i]);
	return m;
}

void registry_state_set_limit(struct registry_state *st, size_t max_entries)
{
	st->max_entries = max_entries ? max_entries : 16u << 20;
}

struct registry_app_state *registry_state_app_find(const struct registry_state *st, const uint8_t id[REGISTRY_ADDR_LEN])
{
	size_t i = kset_find(&st->apps, st->seed, id);

	return i == SIZE_MAX ? NULL : app_at(kset_slot(&st->apps, i));
}

err_t registry_state_app(struct registry_state *st, const uint8_t id[REGISTRY_ADDR_LEN], struct registry_app_state **out)
{
	struct registry_app_state *a;
	uint8_t *slot;
	int created;
	err_t err;

	if ((a = registry_state_app_find(st, id)) != NULL) {
		*out = a;
		return ERR_OK;
	}
	if (st->entries >= st->max_entries)
		return ERR_BUDGET;
	if (!(a = calloc(1, sizeof(*a))))
		return ERR_NOMEM;
	if ((err = kset_upsert(&st->apps, st->seed, id, &slot, &created)) != ERR_OK) {
		free(a);
		return err;
	}
	a->st = st;
	memcpy(a->id, id, REGISTRY_ADDR_LEN);
	kset_init(&a->hashes, sizeof(struct registry_hash_entry), REGISTRY_HASH_LEN);
	kset_init(&a->devices, REGISTRY_HASH_LEN, REGISTRY_HASH_LEN);
	memcpy(slot + APP_PTR_OFF, &a, sizeof(a));
	st->entries++;
	*out = a;
	return ERR_OK;
}

uint32_t registry_app_state_flags(const struct registry_app_state *a)
{
	return a->flags;
}

void registry_state_foreach_app(const struct registry_state *st,
				void (*fn)(void *arg, const uint8_t id[REGISTRY_ADDR_LEN], uint32_t flags), void *arg)
{
	for (size_t i = 0; i < st->apps.cap; i++) {
		const struct registry_app_state *a;

		if (!st->apps.used[i])
			continue;
		a = app_at(kset_slot(&st->apps, i));
		fn(arg, a->id, a->flags);
	}
}

static void touch(struct registry_app_state *a, uint64_t block)
{
	if (block > a->updated_block)
		a->updated_block = block;
}

void registry_app_set_flags(struct registry_app_state *a, uint32_t set, uint32_t clear, uint64_t block)
{
	a->flags = (a->flags & ~clear) | set;
	touch(a, block);
}

void registry_app_set_registered(struct registry_app_state *a, uint64_t block)
{
	if (!(a->flags & REGISTRY_APP_REGISTERED)) {
		a->flags |= REGISTRY_APP_REGISTERED;
		a->registered_block = block;
	}
	touch(a, block);
}

void registry_app_set_owner(struct registry_app_state *a, const uint8_t owner[REGISTRY_ADDR_LEN], uint64_t block)
{
	memcpy(a->owner, owner, REGISTRY_ADDR_LEN);
	touch(a, block);
}

void registry_app_set_version(struct registry_app_state *a, uint32_t version)
{
	a->version = version;
}

void registry_app_set_upgrade_delay(struct registry_app_state *a, uint64_t delay, uint64_t effective_at, uint64_t block)
{
	a->upgrade_delay = delay;
	a->upgrade_delay_effective_at = effective_at;
	touch(a, block);
}

err_t registry_app_add_compose_hash(struct registry_app_state *a, const uint8_t hash[REGISTRY_HASH_LEN],
				    uint64_t effective_at, uint64_t block)
{
	struct registry_hash_entry e;
	uint8_t *slot;
	int created;
	err_t err;

	if (a->st->entries >= a->st->max_entries && kset_find(&a->hashes, a->st->seed, hash) == SIZE_MAX)
		return ERR_BUDGET;
	if ((err = kset_upsert(&a->hashes, a->st->seed, hash, &slot, &created)) != ERR_OK)
		return err;
	memcpy(e.hash, hash, REGISTRY_HASH_LEN);
	e.effective_at = effective_at;
	e.added_block = block;
	memcpy(slot, &e, sizeof(e));
	a->st->entries += (size_t)created;
	touch(a, block);
	return ERR_OK;
}

int registry_app_remove_compose_hash(struct registry_app_state *a, const uint8_t hash[REGISTRY_HASH_LEN], uint64_t block)
{
	int had = kset_remove(&a->hashes, a->st->seed, hash);

	a->st->entries -= (size_t)had;
	touch(a, block);
	return had;
}

static err_t key_add(struct registry_state *st, struct kset *s, const uint8_t *key)
{
	uint8_t *slot;
	int created;
	err_t err;

	if (st->entries >= st->max_entries && kset_find(s, st->seed, key) == SIZE_MAX)
		return ERR_BUDGET;
	if ((err = kset_upsert(s, st->seed, key, &slot, &created)) != ERR_OK)
		return err;
	st->entries += (size_t)created;
	return ERR_OK;
}

static int key_remove(struct registry_state *st, struct kset *s, const uint8_t *key)
{
	int had = kset_remove(s, st->seed, key);

	st->entries -= (size_t)had;
	return had;
}

err_t registry_app_add_device(struct registry_app_state *a, const uint8_t dev[REGISTRY_HASH_LEN], uint64_t block)
{
	touch(a, block);
	return key_add(a->st, &a->devices, dev);
}

int registry_app_remove_device(struct registry_app_state *a, const uint8_t dev[REGISTRY_HASH_LEN], uint64_t block)
{
	touch(a, block);
	return key_remove(a->st, &a->devices, dev);
}

err_t registry_state_set_add(struct registry_state *st, enum registry_set which, const uint8_t key[REGISTRY_HASH_LEN])
{
	if ((unsigned)which >= REGISTRY_SET_COUNT)
		return ERR_INVALID_ARG;
	return key_add(st, &st->sets[which], key);
}

int registry_state_set_remove(struct registry_state *st, enum registry_set which, const uint8_t key[REGISTRY_HASH_LEN])
{
	if ((unsigned)which >= REGISTRY_SET_COUNT)
		return 0;
	return key_remove(st, &st->sets[which], key);
}

static char *strndup_cap(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

err_t registry_state_set_gateway_app_id(struct registry_state *st, const char *s, size_t len)
{
	char *p;

	if (len > REGISTRY_MAX_STR)
		return ERR_PROTO_TOO_LARGE;
	if (!(p = strndup_cap(s, len)))
		return ERR_NOMEM;
	free(st->gateway_app_id);
	st->gateway_app_id = p;
	return ERR_OK;
}

err_t registry_state_set_kms_info(struct registry_state *st, const struct registry_bytes *k256,
				  const struct registry_bytes *ca, const struct registry_bytes *quote,
				  const struct registry_bytes *eventlog)
{
	const struct registry_bytes *in[4] = { k256, ca, quote, eventlog };
	struct registry_bytes copy[4];

	memset(copy, 0, sizeof(copy));
	for (size_t i = 0; i < 4; i++) {
		if (in[i]->len > REGISTRY_MAX_BLOB)
			goto too_large;
		if (in[i]->len) {
			uint8_t *p = malloc(in[i]->len);

			if (!p)
				goto nomem;
			memcpy(p, in[i]->p, in[i]->len);
			copy[i].p = p;
			copy[i].len = in[i]->len;
		}
	}
	for (size_t i = 0; i < 4; i++) {
		free((void *)(uintptr_t)st->kms_info[i].p);
		st->kms_info[i] = copy[i];
	}
	return ERR_OK;
too_large:
	for (size_t i = 0; i < 4; i++)
		free((void *)(uintptr_t)copy[i].p);
	return ERR_PROTO_TOO_LARGE;
nomem:
	for (size_t i = 0; i < 4; i++)
		free((void *)(uintptr_t)copy[i].p);
	return ERR_NOMEM;
}

void registry_state_set_chain(struct registry_state *st, uint64_t chain_id, const uint8_t kms[REGISTRY_ADDR_LEN],
			      const uint8_t app_impl[REGISTRY_ADDR_LEN])
{
	st->chain_id = chain_id;
	if (kms)
		memcpy(st->kms_contract, kms, REGISTRY_ADDR_LEN);
	if (app_impl)
		memcpy(st->app_implementation, app_impl, REGISTRY_ADDR_LEN);
}

void registry_state_set_kms_allow_any_device(struct registry_state *st, int on)
{
	st->kms_allow_any_device = !!on;
}

static err_t str_list_add(struct str_list *l, const char *s, size_t len)
{
	char *p;

	if (len > REGISTRY_MAX_STR)
		return ERR_PROTO_TOO_LARGE;
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->items[i]) == len && memcmp(l->items[i], s, len) == 0)
			return ERR_OK;
	if (l->n >= 65536)
		return ERR_BUDGET;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		char **n = realloc(l->items, ncap * sizeof(*n));

		if (!n)
			return ERR_NOMEM;
		l->items = n;
		l->cap = ncap;
	}
	if (!(p = strndup_cap(s, len)))
		return ERR_NOMEM;
	l->items[l->n++] = p;
	return ERR_OK;
}

err_t registry_state_add_tcb_status(struct registry_state *st, const char *s, size_t len)
{
	return str_list_add(&st->tcb_statuses, s, len);
}

err_t registry_state_add_advisory(struct registry_state *st, const char *s, size_t len)
{
	return str_list_add(&st->advisory_ids, s, len);
}

/* ---------------------------------------------------------------------------------------------- */
/* Freezing                                                                                       */

static int cmp_key32(const void *a, const void *b)
{
	return memcmp(a, b, REGISTRY_HASH_LEN);
}

static int cmp_app(const void *a, const void *b)
{
	return memcmp(((const struct registry_app *)a)->id, ((const struct registry_app *)b)->id, REGISTRY_ADDR_LEN);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Copy a set's entries to dst (n * esize bytes) in slot order; returns the count. */
static size_t kset_copy(const struct kset *s, void *dst)
{
	uint8_t *d = dst;
	size_t k = 0;

	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i])
			memcpy(d + (k++) * s->esize, kset_slot(s, i), s->esize);
	return k;
}

static void *xalloc(size_t n, size_t size, size_t *mem)
{
	/* malloc(0) may return NULL: always ask for at least one byte so NULL means failure. */
	size_t bytes = n * size;
	void *p = malloc(bytes > 0 ? bytes : 1);

	if (p)
		*mem += bytes;
	return p;
}

static err_t copy_key_set(const struct kset *s, struct registry_key32 **out, size_t *n, size_t *mem)
{
	if (!(*out = xalloc(s->n, sizeof(**out), mem)))
		return ERR_NOMEM;
	*n = kset_copy(s, *out);
	qsort(*out, *n, sizeof(**out), cmp_key32);
	return ERR_OK;
}

static err_t copy_str_list(const struct str_list *l, char ***out, size_t *n, int sort, size_t *mem)
{
	if (!(*out = xalloc(l->n, sizeof(char *), mem)))
		return ERR_NOMEM;
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->items[i]);

		if (!((*out)[i] = strndup_cap(l->items[i], len)))
			return ERR_NOMEM;  /* the n copied so far are freed with the snapshot */
		*n = i + 1;
		*mem += len + 1;
	}
	if (sort)
		qsort(*out, *n, sizeof(char *), cmp_str);
	return ERR_OK;
}

static void snapshot_free(struct registry_snapshot *s)
{
	free(s->gateway_app_id);
	free(s->apps);
	free(s->hashes);
	free(s->devices);
	free(s->os_images);
	free(s->kms_mrs);
	free(s->kms_devices);
	for (size_t i = 0; i < s->n_tcb_statuses; i++)
		free(s->tcb_statuses[i]);
	free(s->tcb_statuses);
	for (size_t i = 0; i < s->n_advisory_ids; i++)
		free(s->advisory_ids[i]);
	free(s->advisory_ids);
	free((void *)(uintptr_t)s->kms_k256_pubkey.p);
	free((void *)(uintptr_t)s->kms_ca_pubkey.p);
	free((void *)(uintptr_t)s->kms_quote.p);
	free((void *)(uintptr_t)s->kms_eventlog.p);
	free(s);
}

static err_t copy_blob(const struct registry_bytes *in, struct registry_bytes *out, size_t *mem)
{
	uint8_t *p;

	out->p = NULL;
	out->len = 0;
	if (!in->len)
		return ERR_OK;
	if (!(p = xalloc(in->len, 1, mem)))
		return ERR_NOMEM;
	memcpy(p, in->p, in->len);
	out->p = p;
	out->len = in->len;
	return ERR_OK;
}

static err_t freeze_apps(const struct registry_state *st, struct registry_snapshot *s)
{
	size_t nh = 0, nd = 0, k = 0, ho = 0, dof = 0;

	for (size_t i = 0; i < st->apps.cap; i++) {
		const struct registry_app_state *a;

		if (!st->apps.used[i])
			continue;
		a = app_at(kset_slot(&st->apps, i));
		nh += a->hashes.n;
		nd += a->devices.n;
	}
	if (nh > UINT32_MAX || nd > UINT32_MAX)
		return ERR_BUDGET;
	s->apps = xalloc(st->apps.n, sizeof(*s->apps), &s->mem_bytes);
	s->hashes = xalloc(nh, sizeof(*s->hashes), &s->mem_bytes);
	s->devices = xalloc(nd, sizeof(*s->devices), &s->mem_bytes);
	if (!s->apps || !s->hashes || !s->devices)
		return ERR_NOMEM;
	for (size_t i = 0; i < st->apps.cap; i++) {
		const struct registry_app_state *a;
		struct registry_app *o;

		if (!st->apps.used[i])
			continue;
		a = app_at(kset_slot(&st->apps, i));
		o = &s->apps[k++];
		memset(o, 0, sizeof(*o));
		memcpy(o->id, a->id, REGISTRY_ADDR_LEN);
		memcpy(o->owner, a->owner, REGISTRY_ADDR_LEN);
		o->flags = a->flags;
		o->version = a->version;
		o->upgrade_delay = a->upgrade_delay;
		o->upgrade_delay_effective_at = a->upgrade_delay_effective_at;
		o->registered_block = a->registered_block;
		o->updated_block = a->updated_block;
		o->hash_off = (uint32_t)ho;
		o->hash_n = (uint32_t)kset_copy(&a->hashes, s->hashes + ho);
		qsort(s->hashes + ho, o->hash_n, sizeof(*s->hashes), cmp_key32);
		ho += o->hash_n;
		o->dev_off = (uint32_t)dof;
		o->dev_n = (uint32_t)kset_copy(&a->devices, s->devices + dof);
		qsort(s->devices + dof, o->dev_n, sizeof(*s->devices), cmp_key32);
		dof += o->dev_n;
	}
	s->napps = k;
	s->nhashes = ho;
	s->ndevices = dof;
	qsort(s->apps, s->napps, sizeof(*s->apps), cmp_app);
	return ERR_OK;
}

err_t registry_state_freeze(const struct registry_state *st, const struct registry_snapshot_meta *meta,
			    struct registry_snapshot **out)
{
	struct registry_snapshot *s = calloc(1, sizeof(*s));
	err_t err = ERR_NOMEM;

	*out = NULL;
	if (!s)
		return ERR_NOMEM;
	s->refs = 1;
	s->mem_bytes = sizeof(*s);
	s->source = st->source;
	if (meta)
		s->meta = *meta;
	s->chain_id = st->chain_id;
	memcpy(s->kms_contract, st->kms_contract, REGISTRY_ADDR_LEN);
	memcpy(s->app_implementation, st->app_implementation, REGISTRY_ADDR_LEN);
	s->kms_allow_any_device = st->kms_allow_any_device;
	s->gateway_app_id = strndup_cap(st->gateway_app_id ? st->gateway_app_id : "",
					st->gateway_app_id ? strlen(st->gateway_app_id) : 0);
	if (!s->gateway_app_id)
		goto out;
	s->mem_bytes += strlen(s->gateway_app_id) + 1;
	if ((err = freeze_apps(st, s)) != ERR_OK)
		goto out;
	if ((err = copy_key_set(&st->sets[REGISTRY_SET_OS_IMAGES], &s->os_images, &s->n_os_images, &s->mem_bytes)) ||
	    (err = copy_key_set(&st->sets[REGISTRY_SET_KMS_MRS], &s->kms_mrs, &s->n_kms_mrs, &s->mem_bytes)) ||
	    (err = copy_key_set(&st->sets[REGISTRY_SET_KMS_DEVICES], &s->kms_devices, &s->n_kms_devices,
				&s->mem_bytes)))
		goto out;
	if ((err = copy_str_list(&st->tcb_statuses, &s->tcb_statuses, &s->n_tcb_statuses, 0, &s->mem_bytes)) ||
	    (err = copy_str_list(&st->advisory_ids, &s->advisory_ids, &s->n_advisory_ids, 1, &s->mem_bytes)))
		goto out;
	if ((err = copy_blob(&st->kms_info[0], &s->kms_k256_pubkey, &s->mem_bytes)) ||
	    (err = copy_blob(&st->kms_info[1], &s->kms_ca_pubkey, &s->mem_bytes)) ||
	    (err = copy_blob(&st->kms_info[2], &s->kms_quote, &s->mem_bytes)) ||
	    (err = copy_blob(&st->kms_info[3], &s->kms_eventlog, &s->mem_bytes)))
		goto out;
	*out = s;
	s = NULL;
	err = ERR_OK;
out:
	if (s)
		snapshot_free(s);
	return err;
}

struct registry_snapshot *registry_snapshot_ref(struct registry_snapshot *s)
{
	if (s)
		s->refs++;
	return s;
}

void registry_snapshot_unref(struct registry_snapshot *s)
{
	if (s && --s->refs == 0)
		snapshot_free(s);
}

size_t registry_snapshot_registered_apps(const struct registry_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->napps; i++)
		n += (s->apps[i].flags & REGISTRY_APP_REGISTERED) != 0;
	return n;
}

/* ---------------------------------------------------------------------------------------------- */
/* Lookups and the decision                                                                       */

const struct registry_app *registry_snapshot_app(const struct registry_snapshot *s, const uint8_t id[REGISTRY_ADDR_LEN])
{
	size_t lo = 0, hi = s->napps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->apps[mid].id, id, REGISTRY_ADDR_LEN);

		if (c == 0)
			return &s->apps[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct registry_hash_entry *registry_app_hash(const struct registry_snapshot *s, const struct registry_app *app,
						    const uint8_t hash[REGISTRY_HASH_LEN])
{
	const struct registry_hash_entry *h = s->hashes + app->hash_off;
	size_t lo = 0, hi = app->hash_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(h[mid].hash, hash, REGISTRY_HASH_LEN);

		if (c == 0)
			return &h[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int registry_key32_find(const struct registry_key32 *a, size_t n, const uint8_t key[REGISTRY_HASH_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(a[mid].b, key, REGISTRY_HASH_LEN);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int str_in_sorted(char *const *a, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a[mid], s);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The ABI word as the contract sees it: left-padded to `width` (auth-eth pads hex the same way). */
static void abi_pad(const struct registry_bytes *b, size_t width, uint8_t *out)
{
	memset(out, 0, width);
	if (b->len)
		memcpy(out + width - b->len, b->p, b->len);
}

static const char *tcb_of(const struct registry_boot_info *b)
{
	return b->tcb_status ? b->tcb_status : "";
}

static void decide(struct registry_decision *out, const char *reason)
{
	out->allowed = reason == NULL;
	out->reason = reason ? reason : "";
	out->undecidable = 0;
}

/* EVENTS.md "Decisions": KmsRegistry.isAppAllowed, then App.isAppAllowed. */
static const char *chain_app(const struct registry_snapshot *s, const struct registry_boot_info *b, uint64_t now,
			     int *undecidable)
{
	uint8_t id[REGISTRY_ADDR_LEN], os[REGISTRY_HASH_LEN], ch[REGISTRY_HASH_LEN], dev[REGISTRY_HASH_LEN];
	const struct registry_app *app;
	const struct registry_hash_entry *h;

	abi_pad(&b->app_id, sizeof(id), id);
	abi_pad(&b->os_image_hash, sizeof(os), os);
	abi_pad(&b->compose_hash, sizeof(ch), ch);
	abi_pad(&b->device_id, sizeof(dev), dev);
	app = registry_snapshot_app(s, id);
	if (!app || !(app->flags & REGISTRY_APP_REGISTERED))
		return REGISTRY_R_APP_NOT_REGISTERED;
	if (!registry_key32_find(s->os_images, s->n_os_images, os))
		return REGISTRY_R_OS_IMAGE;
	if (app->flags & REGISTRY_APP_FOREIGN_CODE) {
		*undecidable = 1;
		return REGISTRY_R_APP_FOREIGN;
	}
	if (!(app->flags & REGISTRY_APP_HAS_CODE))
		return REGISTRY_R_APP_NO_CODE;
	if ((app->flags & REGISTRY_APP_REQUIRE_TCB) && strcmp(tcb_of(b), "UpToDate") != 0)
		return REGISTRY_R_TCB;
	h = registry_app_hash(s, app, ch);
	if (!h || h->effective_at == 0 || now < h->effective_at)
		return REGISTRY_R_COMPOSE_HASH;
	if (!(app->flags & REGISTRY_APP_ANY_DEVICE) &&
	    !registry_key32_find(s->devices + app->dev_off, app->dev_n, dev))
		return REGISTRY_R_DEVICE;
	return NULL;
}

/* EVENTS.md "Decisions": KmsRegistry.isKmsAllowed. */
static const char *chain_kms(const struct registry_snapshot *s, const struct registry_boot_info *b)
{
	uint8_t os[REGISTRY_HASH_LEN], mr[REGISTRY_HASH_LEN], dev[REGISTRY_HASH_LEN];

	abi_pad(&b->os_image_hash, sizeof(os), os);
	abi_pad(&b->mr_aggregated, sizeof(mr), mr);
	abi_pad(&b->device_id, sizeof(dev), dev);
	if (strcmp(tcb_of(b), "UpToDate") != 0)
		return REGISTRY_R_TCB;
	if (!registry_key32_find(s->os_images, s->n_os_images, os))
		return REGISTRY_R_OS_IMAGE;
	if (!registry_key32_find(s->kms_mrs, s->n_kms_mrs, mr))
		return REGISTRY_R_KMS_MR;
	if (!registry_key32_find(s->kms_devices, s->n_kms_devices, dev))
		return REGISTRY_R_KMS_DEVICE;
	return NULL;
}

/* auth-simple compares "0x" + lowercase hex: equal iff same length and bytes; a short value never matches. */
static int file_key_in(const struct registry_key32 *a, size_t n, const struct registry_bytes *b)
{
	return b->len == REGISTRY_HASH_LEN && registry_key32_find(a, n, b->p);
}

/* auth-simple's device rule: allowAnyDevice, or an empty list, or listed. */
static int file_device_ok(int any, const struct registry_key32 *a, size_t n, const struct registry_bytes *dev)
{
	return any || n == 0 || file_key_in(a, n, dev);
}

/* kms/auth-simple/index.ts checkBoot: TCB, advisories, OS image, then the KMS or app rules. */
static const char *file_check(const struct registry_snapshot *s, const struct registry_boot_info *b,
			      enum registry_kind kind, uint64_t now)
{
	const char *tcb = tcb_of(b);
	int tcb_ok = 0;

	for (size_t i = 0; i < s->n_tcb_statuses && !tcb_ok; i++)
		tcb_ok = strcmp(s->tcb_statuses[i], tcb) == 0;
	if (!tcb_ok)
		return REGISTRY_RF_TCB;
	for (size_t i = 0; i < b->n_advisory_ids; i++)
		if (!str_in_sorted(s->advisory_ids, s->n_advisory_ids, b->advisory_ids[i]))
			return REGISTRY_RF_ADVISORY;
	if (!file_key_in(s->os_images, s->n_os_images, &b->os_image_hash))
		return REGISTRY_RF_OS_IMAGE;
	if (kind == REGISTRY_KIND_KMS) {
		if (!file_key_in(s->kms_mrs, s->n_kms_mrs, &b->mr_aggregated))
			return REGISTRY_RF_KMS_MR;
		if (!file_device_ok(s->kms_allow_any_device, s->kms_devices, s->n_kms_devices, &b->device_id))
			return REGISTRY_RF_KMS_DEVICE;
		return NULL;
	} else {
		const struct registry_app *app = b->app_id.len == REGISTRY_ADDR_LEN ? registry_snapshot_app(s, b->app_id.p)
										     : NULL;
		const struct registry_hash_entry *h;

		if (!app || !(app->flags & REGISTRY_APP_REGISTERED))
			return REGISTRY_RF_APP_NOT_REGISTERED;
		h = b->compose_hash.len == REGISTRY_HASH_LEN ? registry_app_hash(s, app, b->compose_hash.p) : NULL;
		/* auth-simple has no delay; a file entry is effective_at 0 unless a future extension sets one. */
		if (!h || now < h->effective_at)
			return REGISTRY_RF_COMPOSE_HASH;
		if (!file_device_ok(!!(app->flags & REGISTRY_APP_ANY_DEVICE), s->devices + app->dev_off, app->dev_n,
				    &b->device_id))
			return REGISTRY_RF_DEVICE;
		return NULL;
	}
}

static int too_long(const struct registry_bytes *b, size_t width)
{
	return b->len > width || (b->len && !b->p);
}

err_t registry_check(const struct registry_snapshot *s, const struct registry_boot_info *b, enum registry_kind kind,
		     uint64_t now, struct registry_decision *out)
{
	int undecidable = 0;
	const char *reason;

	out->allowed = 0;
	out->reason = "";
	out->undecidable = 0;
	if (kind != REGISTRY_KIND_APP && kind != REGISTRY_KIND_KMS)
		return ERR_INVALID_ARG;
	if (too_long(&b->app_id, REGISTRY_ADDR_LEN) || too_long(&b->instance_id, REGISTRY_ADDR_LEN) ||
	    too_long(&b->compose_hash, REGISTRY_HASH_LEN) || too_long(&b->device_id, REGISTRY_HASH_LEN) ||
	    too_long(&b->mr_aggregated, REGISTRY_HASH_LEN) || too_long(&b->mr_system, REGISTRY_HASH_LEN) ||
	    too_long(&b->os_image_hash, REGISTRY_HASH_LEN) || b->n_advisory_ids > REGISTRY_MAX_ADVISORIES ||
	    (b->n_advisory_ids && !b->advisory_ids))
		return ERR_INVALID_ARG;
	if (s->source == REGISTRY_SOURCE_FILE)
		reason = file_check(s, b, kind, now);
	else if (kind == REGISTRY_KIND_KMS)
		reason = chain_kms(s, b);
	else
		reason = chain_app(s, b, now, &undecidable);
	decide(out, reason);
	out->undecidable = undecidable;
	return ERR_OK;
}
