/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint file codec: strict parse of the watcher's checkpoint JSON and its writer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "enc.h"
#include "json.h"
#include "registry_checkpoint.h"

static err_t PRINTF_LIKE(4, 5) bad(err_t err, char *detail, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (detail && cap) {
		va_start(ap, fmt);
		vsnprintf(detail, cap, fmt, ap);
		va_end(ap);
	}
	return err;
}

err_t registry_checkpoint_parse(const char *text, size_t len, struct registry_checkpoint *out, char *detail,
				size_t cap)
{
	struct json_limits lim = { 4, REGISTRY_CHECKPOINT_MAX_SIZE };
	struct json_value *root = NULL;
	const struct json_value *recent;
	struct arena a;
	uint64_t version = 1;
	err_t err;

	memset(out, 0, sizeof(*out));
	if (detail && cap)
		detail[0] = 0;
	if (len > REGISTRY_CHECKPOINT_MAX_SIZE)
		return bad(ERR_PROTO_TOO_LARGE, detail, cap, "larger than %u bytes", REGISTRY_CHECKPOINT_MAX_SIZE);
	/* The tree costs a small multiple of the text (1 MiB at most). */
	arena_init(&a, 16 * len + (1u << 16), 1u << 16);
	if ((err = json_parse(text, len, &lim, &a, &root, NULL)) != ERR_OK) {
		err = bad(err, detail, cap, "not JSON (%s)", err_str(err));
		goto out;
	}
	err = ERR_PROTO_FIELD_TYPE;
	if (root->type != JSON_OBJECT) {
		bad(err, detail, cap, "not an object");
		goto out;
	}
	/* Written since the first version; a later format must be refused, not half read. */
	if (json_get(root, "version") && (json_get_u64(root, "version", &version) != ERR_OK || version != 1)) {
		bad(err, detail, cap, "unknown version");
		goto out;
	}
	if (json_get_u64(root, "chainId", &out->chain_id) != ERR_OK ||
	    json_get_hex(root, "kmsContract", out->kms, REGISTRY_ADDR_LEN, REGISTRY_ADDR_LEN, NULL) != ERR_OK ||
	    json_get_u64(root, "startBlock", &out->start_block) != ERR_OK ||
	    json_get_u64(root, "block", &out->block) != ERR_OK ||
	    json_get_hex(root, "hash", out->hash, REGISTRY_HASH_LEN, REGISTRY_HASH_LEN, NULL) != ERR_OK ||
	    json_get_u64(root, "time", &out->time) != ERR_OK || json_get_u64(root, "events", &out->events) != ERR_OK ||
	    json_get_u64(root, "reorgs", &out->reorgs) != ERR_OK ||
	    json_get_u64(root, "lastReorgBlock", &out->last_reorg_block) != ERR_OK) {
		bad(err, detail, cap, "a required key is missing or malformed");
		goto out;
	}
	if (!(recent = json_get(root, "recent")) || recent->type != JSON_ARRAY ||
	    recent->u.arr.n > REGISTRY_CHECKPOINT_MAX_RECENT) {
		bad(err, detail, cap, "recent: want an array of at most %u blocks", REGISTRY_CHECKPOINT_MAX_RECENT);
		goto out;
	}
	for (size_t i = 0; i < recent->u.arr.n; i++) {
		const struct json_value *r = &recent->u.arr.items[i];
		struct registry_checkpoint_block *b = &out->recent[i];

		if (json_get_u64(r, "n", &b->number) != ERR_OK || json_get_u64(r, "t", &b->time) != ERR_OK ||
		    json_get_hex(r, "h", b->hash, REGISTRY_HASH_LEN, REGISTRY_HASH_LEN, NULL) != ERR_OK) {
			bad(err, detail, cap, "bad recent[%zu]", i);
			goto out;
		}
		/* The reorg search walks them newest first and rewinds to the match: order matters. */
		if ((i && b->number <= out->recent[i - 1].number) || b->number > out->block) {
			bad(err, detail, cap, "recent[%zu]: not ascending or above the checkpoint block", i);
			goto out;
		}
	}
	out->nrecent = recent->u.arr.n;
	err = ERR_OK;
out:
	arena_fini(&a);
	if (err != ERR_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

static void put_hex(struct buf_writer *w, const uint8_t *p, size_t n)
{
	char h[2 * REGISTRY_HASH_LEN + 1];

	hex_encode(h, p, n);
	buf_printf(w, "\"0x%s\"", h);
}

void registry_checkpoint_write(const struct registry_checkpoint *cp, struct buf_writer *w)
{
	buf_printf(w, "{\"version\":1,\"chainId\":%llu,\"kmsContract\":", (unsigned long long)cp->chain_id);
	put_hex(w, cp->kms, REGISTRY_ADDR_LEN);
	buf_printf(w, ",\"startBlock\":%llu,\"block\":%llu,\"hash\":", (unsigned long long)cp->start_block,
		   (unsigned long long)cp->block);
	put_hex(w, cp->hash, REGISTRY_HASH_LEN);
	buf_printf(w, ",\"time\":%llu,\"events\":%llu,\"reorgs\":%llu,\"lastReorgBlock\":%llu,\"recent\":[",
		   (unsigned long long)cp->time, (unsigned long long)cp->events, (unsigned long long)cp->reorgs,
		   (unsigned long long)cp->last_reorg_block);
	for (size_t i = 0; i < cp->nrecent && i < REGISTRY_CHECKPOINT_MAX_RECENT; i++) {
		buf_printf(w, "%s{\"n\":%llu,\"t\":%llu,\"h\":", i ? "," : "", (unsigned long long)cp->recent[i].number,
			   (unsigned long long)cp->recent[i].time);
		put_hex(w, cp->recent[i].hash, REGISTRY_HASH_LEN);
		buf_put_u8(w, '}');
	}
	buf_put_str(w, "]}\n");
}
