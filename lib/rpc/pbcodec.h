/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf-c decode/encode with hard size limits and request-arena memory. */
#ifndef DS_PBCODEC_H
#define DS_PBCODEC_H

#include <protobuf-c/protobuf-c.h>
#include "arena.h"
#include "buf.h"
#include "enc.h"
#include "err.h"

/* Point `alloc` at `a`: allocations come from the arena, frees are no-ops. `a` is borrowed. */
void pb_arena_allocator(ProtobufCAllocator *alloc, struct arena *a);

/*
 * Decode `n` bytes as a `d` message into arena memory. Refuses n > max
 * (ERR_PROTO_TOO_LARGE) before parsing; malformed wire data is
 * ERR_PROTO_PROTOBUF; string fields must be valid UTF-8 (ERR_PROTO_ENCODING,
 * as proto3 requires); nesting deeper than 32 messages is ERR_PROTO_DEPTH;
 * running out of arena budget is ERR_BUDGET.
 */
err_t pb_decode(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, size_t max, struct arena *a,
		ProtobufCMessage **out) MUST_CHECK;

/* Append the wire encoding of `m` to `w`; the writer's cap bounds it. */
err_t pb_encode(const ProtobufCMessage *m, struct buf_writer *w) MUST_CHECK;

/* A zero-initialised message of type `d` from the arena, or NULL. */
ProtobufCMessage *pb_new(const ProtobufCMessageDescriptor *d, struct arena *a);

/* 1 when every string field (recursively) is valid UTF-8. */
int pb_strings_valid(const ProtobufCMessage *m);

#endif
