/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ratls internals shared by its files (not part of the API; never included outside lib/ratls). */
#ifndef DS_RATLS_INT_H
#define DS_RATLS_INT_H

#include "buf.h"
#include "err.h"

/*
 * Skip one msgpack value of any type at r's position, nested at most 16
 * deep counting from `depth`, every length checked against what remains.
 * Errors: ERR_PROTO_TRUNCATED, ERR_PROTO_DEPTH, ERR_PROTO_MALFORMED (0xc1);
 * *detail (may be NULL) gets static text. On error r's position is
 * unspecified.
 */
err_t ratls_msgpack_skip(struct buf_reader *r, unsigned depth, const char **detail) MUST_CHECK;

/* A msgpack bin (bin8/16/32 by length), as serde_bytes-style fields are written. */
void ratls_msgpack_put_bin(struct buf_writer *w, const uint8_t *p, size_t n);

#endif
