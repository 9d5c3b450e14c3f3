/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the registry's `.events` audit-log reader and the fold of the events it loads into a policy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "registry_audit.h"
#include "registry_chain.h"
#include "registry_policy.h"

/*
 * Input: the file's bytes (JSON lines). registry_audit_load is what
 * registry_audit_open runs on the file. On success:
 *  - the bytes used end at a newline and cover every loaded line; the events
 *    are in strictly ascending (block, logIndex) order;
 *  - writing the events back (registry_event_to_json + "\n", as the log
 *    appends them) and loading that text gives the same events, and writing
 *    those again gives the same bytes (a fixed point after one round);
 *  - the events fold into a chain policy (registry_chain_apply, what the
 *    watcher does at start) without crashing; the first event that does not
 *    apply stops the fold, as refold() does; what was folded freezes.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok)                                                                          \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #ok); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* The KMS address the fold treats as the registry (the seed corpus uses it). */
static const uint8_t KMS[20] = { 0x5f, 0xbd, 0xb2, 0x31, 0x56, 0x78, 0xaf, 0xec, 0xb3, 0x67,
				 0xf0, 0x32, 0xd9, 0x3f, 0x64, 0x2f, 0x64, 0x18, 0x0a, 0xa3 };

static void dump(const struct registry_audit *a, struct buf_writer *w)
{
	for (size_t i = 0; i < registry_audit_count(a); i++) {
		registry_event_to_json(registry_audit_at(a, i), w);
		buf_put_u8(w, '\n');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_audit *a = registry_audit_new(0), *b = NULL;
	struct registry_state *st = NULL;
	struct registry_snapshot *s = NULL;
	struct buf_writer w1, w2;
	char detail[256];
	char *text = malloc(size ? size : 1);   /* exact size, so ASan sees any over-read */
	size_t used = 0, used2 = 0;
	err_t err;

	check(a != NULL && text != NULL);
	if (size)
		memcpy(text, data, size);
	memset(detail, 'x', sizeof(detail));
	err = registry_audit_load(a, "fuzz", text, size, &used, detail, sizeof(detail));
	if (err != ERR_OK) {
		check(memchr(detail, 0, sizeof(detail)) != NULL);
		check(registry_audit_count(a) == 0);
		goto out;
	}
	check(used <= size && (used == 0 || text[used - 1] == '\n'));
	check(memchr(text + used, '\n', size - used) == NULL);   /* only a torn last line is left out */
	for (size_t i = 1; i < registry_audit_count(a); i++) {
		const struct registry_event *x = registry_audit_at(a, i - 1), *y = registry_audit_at(a, i);

		check(x->block < y->block || (x->block == y->block && x->log_index < y->log_index));
	}

	/* Write back, reload, write again. */
	buf_writer_init(&w1, (size_t)64 << 20);
	buf_writer_init(&w2, (size_t)64 << 20);
	dump(a, &w1);
	check(buf_writer_status(&w1) == ERR_OK);
	b = registry_audit_new(0);
	check(b != NULL);
	err = registry_audit_load(b, "again", (const char *)w1.p, w1.len, &used2, detail, sizeof(detail));
	if (err != ERR_OK)
		fprintf(stderr, "reload: %s\n", detail);
	check(err == ERR_OK && used2 == w1.len);
	check(registry_audit_count(b) == registry_audit_count(a));
	dump(b, &w2);
	check(buf_writer_status(&w2) == ERR_OK);
	check(w1.len == w2.len && (w1.len == 0 || memcmp(w1.p, w2.p, w1.len) == 0));
	buf_writer_free(&w1);
	buf_writer_free(&w2);

	/* The fold the watcher runs over the log at start. */
	st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	check(st != NULL);
	registry_state_set_limit(st, 4096);
	registry_state_set_chain(st, 31337, KMS, NULL);
	for (size_t i = 0; i < registry_audit_count(a); i++)
		if (registry_chain_apply(st, registry_audit_at(a, i), KMS) != ERR_OK)
			break;
	check(registry_state_freeze(st, NULL, &s) == ERR_OK);
	check(s->nhashes <= 4096);
	registry_snapshot_unref(s);
	registry_state_free(st);
out:
	registry_audit_free(b);
	registry_audit_free(a);
	free(text);
	return 0;
}
