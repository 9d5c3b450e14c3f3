/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the chain watcher's checkpoint-file parser: parse, write back, parse again, compare. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "registry_checkpoint.h"

/*
 * Input: the checkpoint file's bytes. A checkpoint that parses satisfies
 * the documented invariants (recent ascending, at most the cap, none above
 * the block), and writing it back and parsing that gives the same struct
 * (and the same bytes when written again). A failure leaves the struct zeroed
 * and a NUL-terminated detail.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok)                                                                          \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #ok); \
			abort();                                                           \
		}                                                                          \
	} while (0)

static struct registry_checkpoint cp, again, zero;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf_writer w1, w2;
	char detail[128];
	char *text = malloc(size ? size : 1);   /* exact size, so ASan sees any over-read */
	err_t err;

	check(text != NULL);
	if (size)
		memcpy(text, data, size);
	memset(detail, 'x', sizeof(detail));
	err = registry_checkpoint_parse(text, size, &cp, detail, sizeof(detail));
	free(text);
	if (err != ERR_OK) {
		check(memchr(detail, 0, sizeof(detail)) != NULL && detail[0] != 0);
		check(memcmp(&cp, &zero, sizeof(cp)) == 0);
		return 0;
	}
	check(cp.nrecent <= REGISTRY_CHECKPOINT_MAX_RECENT);
	for (size_t i = 0; i < cp.nrecent; i++)
		check(cp.recent[i].number <= cp.block && (i == 0 || cp.recent[i - 1].number < cp.recent[i].number));
	buf_writer_init(&w1, REGISTRY_CHECKPOINT_MAX_SIZE);
	buf_writer_init(&w2, REGISTRY_CHECKPOINT_MAX_SIZE);
	registry_checkpoint_write(&cp, &w1);
	check(buf_writer_status(&w1) == ERR_OK);
	check(registry_checkpoint_parse((const char *)w1.p, w1.len, &again, detail, sizeof(detail)) == ERR_OK);
	check(memcmp(&cp, &again, sizeof(cp)) == 0);
	registry_checkpoint_write(&again, &w2);
	check(buf_writer_status(&w2) == ERR_OK);
	check(w1.len == w2.len && (w1.len == 0 || memcmp(w1.p, w2.p, w1.len) == 0));
	buf_writer_free(&w1);
	buf_writer_free(&w2);
	return 0;
}
